# emailng-syncwatch: ends the dsync runs Dovecot 2.3.19 leaves stuck on a
# store of a replicated pair (src/syncwatch/main.c, docs/architecture.md).
# Included by the top Makefile; only appends to its variables.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

SYNCWATCH_CFLAGS   = -Isrc/syncwatch
SYNCWATCH_LIBS     = -lssl -lcrypto -lcrypt
SYNCWATCH_ALL_SRC  = $(sort $(wildcard src/syncwatch/*.c))
SYNCWATCH_SRC      = $(filter-out src/syncwatch/main.c,$(SYNCWATCH_ALL_SRC))
SYNCWATCH_UNIT_SRC = $(sort $(wildcard tests/unit/syncwatch/test_*.c))
SYNCWATCH_UNIT_BIN = $(SYNCWATCH_UNIT_SRC:tests/unit/syncwatch/%.c=$(BUILD)/tests/syncwatch/%)
SYNCWATCH_ASAN_BIN = $(SYNCWATCH_UNIT_SRC:tests/unit/syncwatch/%.c=$(BUILD)/asan/syncwatch/%)

EXTRA_BINS     += $(BUILD)/emailng-syncwatch
EXTRA_UNIT_BIN += $(SYNCWATCH_UNIT_BIN)
EXTRA_ASAN_BIN += $(SYNCWATCH_ASAN_BIN)
ALL_OBJ        += $(SYNCWATCH_ALL_SRC:%.c=$(OBJ)/%.o) $(SYNCWATCH_SRC:%.c=$(ASAN_OBJ)/%.o) \
                  $(SYNCWATCH_UNIT_SRC:%.c=$(OBJ)/%.o) $(SYNCWATCH_UNIT_SRC:%.c=$(ASAN_OBJ)/%.o)
FLAGS_syncwatch    = $(SYNCWATCH_CFLAGS)
FLAGS_syncwatch-ld = $(SYNCWATCH_LIBS) $(SYNCWATCH_ALL_SRC)

.PHONY: syncwatch

syncwatch: $(BUILD)/emailng-syncwatch

# Objects come from the top Makefile's rules (with the library: libemailng.a).
$(OBJ)/src/syncwatch/%.o $(ASAN_OBJ)/src/syncwatch/%.o \
$(OBJ)/tests/unit/syncwatch/%.o $(ASAN_OBJ)/tests/unit/syncwatch/%.o: OBJ_CPPFLAGS += $(SYNCWATCH_CFLAGS)
$(SYNCWATCH_ALL_SRC:%.c=$(OBJ)/%.o) $(SYNCWATCH_SRC:%.c=$(ASAN_OBJ)/%.o) \
$(SYNCWATCH_UNIT_SRC:%.c=$(OBJ)/%.o) $(SYNCWATCH_UNIT_SRC:%.c=$(ASAN_OBJ)/%.o): $(FLAGS)/syncwatch

$(BUILD)/emailng-syncwatch: $(SYNCWATCH_ALL_SRC:%.c=$(OBJ)/%.o) $(LIB) $(FLAGS)/ld $(FLAGS)/syncwatch-ld
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(SYNCWATCH_ALL_SRC:%.c=$(OBJ)/%.o) $(LIB) $(SYNCWATCH_LIBS)

$(BUILD)/tests/syncwatch/%: $(OBJ)/tests/unit/syncwatch/%.o $(SYNCWATCH_SRC:%.c=$(OBJ)/%.o) $(LIB) \
                            $(FLAGS)/ld $(FLAGS)/test $(FLAGS)/syncwatch-ld
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(SYNCWATCH_SRC:%.c=$(OBJ)/%.o) $(LIB) $(SYNCWATCH_LIBS) $(CMOCKA_LIBS)

$(BUILD)/asan/syncwatch/%: $(ASAN_OBJ)/tests/unit/syncwatch/%.o $(SYNCWATCH_SRC:%.c=$(ASAN_OBJ)/%.o) $(ASAN_LIB) \
                           $(FLAGS)/ld $(FLAGS)/test $(FLAGS)/asan $(FLAGS)/syncwatch-ld
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(ASAN_CFLAGS) $(LDFLAGS) -o $@ $< $(SYNCWATCH_SRC:%.c=$(ASAN_OBJ)/%.o) $(ASAN_LIB) \
	  $(SYNCWATCH_LIBS) $(CMOCKA_LIBS)

# emailng finds it next to itself (or on PATH): install it with emailng.
.PHONY: install-syncwatch
install: install-syncwatch

install-syncwatch: $(BUILD)/emailng-syncwatch
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD)/emailng-syncwatch $(DESTDIR)$(PREFIX)/sbin/emailng-syncwatch
