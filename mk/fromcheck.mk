# emailng-fromcheck: the submission services' milter that holds the header
# From:/Sender: to the login (src/fromcheck/main.c, issue 11).
# Included by the top Makefile; only appends to its variables.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

FROMCHECK_CFLAGS   = -Isrc/fromcheck
FROMCHECK_LIBS     = -lmilter -lpthread
FROMCHECK_ALL_SRC  = $(sort $(wildcard src/fromcheck/*.c))
FROMCHECK_SRC      = $(filter-out src/fromcheck/main.c,$(FROMCHECK_ALL_SRC))
FROMCHECK_UNIT_SRC = $(sort $(wildcard tests/unit/fromcheck/test_*.c))
FROMCHECK_UNIT_BIN = $(FROMCHECK_UNIT_SRC:tests/unit/fromcheck/%.c=$(BUILD)/tests/fromcheck/%)
FROMCHECK_ASAN_BIN = $(FROMCHECK_UNIT_SRC:tests/unit/fromcheck/%.c=$(BUILD)/asan/fromcheck/%)

EXTRA_BINS     += $(BUILD)/emailng-fromcheck
EXTRA_UNIT_BIN += $(FROMCHECK_UNIT_BIN)
EXTRA_ASAN_BIN += $(FROMCHECK_ASAN_BIN)
ALL_OBJ        += $(FROMCHECK_ALL_SRC:%.c=$(OBJ)/%.o) $(FROMCHECK_SRC:%.c=$(ASAN_OBJ)/%.o) \
                  $(FROMCHECK_UNIT_SRC:%.c=$(OBJ)/%.o) $(FROMCHECK_UNIT_SRC:%.c=$(ASAN_OBJ)/%.o)
FLAGS_fromcheck    = $(FROMCHECK_CFLAGS)
FLAGS_fromcheck-ld = $(FROMCHECK_LIBS) $(FROMCHECK_ALL_SRC)

.PHONY: fromcheck

fromcheck: $(BUILD)/emailng-fromcheck

$(OBJ)/src/fromcheck/%.o $(ASAN_OBJ)/src/fromcheck/%.o \
$(OBJ)/tests/unit/fromcheck/%.o $(ASAN_OBJ)/tests/unit/fromcheck/%.o: OBJ_CPPFLAGS += $(FROMCHECK_CFLAGS)
$(FROMCHECK_ALL_SRC:%.c=$(OBJ)/%.o) $(FROMCHECK_SRC:%.c=$(ASAN_OBJ)/%.o) \
$(FROMCHECK_UNIT_SRC:%.c=$(OBJ)/%.o) $(FROMCHECK_UNIT_SRC:%.c=$(ASAN_OBJ)/%.o): $(FLAGS)/fromcheck

$(BUILD)/emailng-fromcheck: $(FROMCHECK_ALL_SRC:%.c=$(OBJ)/%.o) $(LIB) $(FLAGS)/ld $(FLAGS)/fromcheck-ld
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(FROMCHECK_ALL_SRC:%.c=$(OBJ)/%.o) $(LIB) $(FROMCHECK_LIBS)

$(BUILD)/tests/fromcheck/%: $(OBJ)/tests/unit/fromcheck/%.o $(FROMCHECK_SRC:%.c=$(OBJ)/%.o) $(LIB) \
                            $(FLAGS)/ld $(FLAGS)/test $(FLAGS)/fromcheck-ld
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(FROMCHECK_SRC:%.c=$(OBJ)/%.o) $(LIB) $(CMOCKA_LIBS)

$(BUILD)/asan/fromcheck/%: $(ASAN_OBJ)/tests/unit/fromcheck/%.o $(FROMCHECK_SRC:%.c=$(ASAN_OBJ)/%.o) $(ASAN_LIB) \
                           $(FLAGS)/ld $(FLAGS)/test $(FLAGS)/asan $(FLAGS)/fromcheck-ld
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(ASAN_CFLAGS) $(LDFLAGS) -o $@ $< $(FROMCHECK_SRC:%.c=$(ASAN_OBJ)/%.o) $(ASAN_LIB) $(CMOCKA_LIBS)

# the submission services refuse mail (451) without it
e2e e2e-ha: $(BUILD)/emailng-fromcheck

.PHONY: install-fromcheck
install: install-fromcheck

install-fromcheck: $(BUILD)/emailng-fromcheck
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD)/emailng-fromcheck $(DESTDIR)$(PREFIX)/sbin/emailng-fromcheck
