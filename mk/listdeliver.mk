# emailng-list-deliver: Postfix's pipe command for mailing lists (U4): adds
# the list's headers and reinjects with the list's bounce address
# (src/listdeliver/main.c).
# Included by the top Makefile; only appends to its variables.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

LISTDELIVER_CFLAGS   = -Isrc/listdeliver
LISTDELIVER_LIBS     =
LISTDELIVER_ALL_SRC  = $(sort $(wildcard src/listdeliver/*.c))
LISTDELIVER_SRC      = $(filter-out src/listdeliver/main.c,$(LISTDELIVER_ALL_SRC))
LISTDELIVER_UNIT_SRC = $(sort $(wildcard tests/unit/listdeliver/test_*.c))
LISTDELIVER_UNIT_BIN = $(LISTDELIVER_UNIT_SRC:tests/unit/listdeliver/%.c=$(BUILD)/tests/listdeliver/%)
LISTDELIVER_ASAN_BIN = $(LISTDELIVER_UNIT_SRC:tests/unit/listdeliver/%.c=$(BUILD)/asan/listdeliver/%)

EXTRA_BINS     += $(BUILD)/emailng-list-deliver
EXTRA_UNIT_BIN += $(LISTDELIVER_UNIT_BIN)
EXTRA_ASAN_BIN += $(LISTDELIVER_ASAN_BIN)
ALL_OBJ        += $(LISTDELIVER_ALL_SRC:%.c=$(OBJ)/%.o) $(LISTDELIVER_SRC:%.c=$(ASAN_OBJ)/%.o) \
                  $(LISTDELIVER_UNIT_SRC:%.c=$(OBJ)/%.o) $(LISTDELIVER_UNIT_SRC:%.c=$(ASAN_OBJ)/%.o)
FLAGS_listdeliver    = $(LISTDELIVER_CFLAGS)
FLAGS_listdeliver-ld = $(LISTDELIVER_LIBS) $(LISTDELIVER_ALL_SRC)

.PHONY: listdeliver

listdeliver: $(BUILD)/emailng-list-deliver

$(OBJ)/src/listdeliver/%.o $(ASAN_OBJ)/src/listdeliver/%.o \
$(OBJ)/tests/unit/listdeliver/%.o $(ASAN_OBJ)/tests/unit/listdeliver/%.o: OBJ_CPPFLAGS += $(LISTDELIVER_CFLAGS)
$(LISTDELIVER_ALL_SRC:%.c=$(OBJ)/%.o) $(LISTDELIVER_SRC:%.c=$(ASAN_OBJ)/%.o) \
$(LISTDELIVER_UNIT_SRC:%.c=$(OBJ)/%.o) $(LISTDELIVER_UNIT_SRC:%.c=$(ASAN_OBJ)/%.o): $(FLAGS)/listdeliver

$(BUILD)/emailng-list-deliver: $(LISTDELIVER_ALL_SRC:%.c=$(OBJ)/%.o) $(LIB) $(FLAGS)/ld $(FLAGS)/listdeliver-ld
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(LISTDELIVER_ALL_SRC:%.c=$(OBJ)/%.o) $(LIB) $(LISTDELIVER_LIBS)

$(BUILD)/tests/listdeliver/%: $(OBJ)/tests/unit/listdeliver/%.o $(LISTDELIVER_SRC:%.c=$(OBJ)/%.o) $(LIB) \
                            $(FLAGS)/ld $(FLAGS)/test $(FLAGS)/listdeliver-ld
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LISTDELIVER_SRC:%.c=$(OBJ)/%.o) $(LIB) $(CMOCKA_LIBS)

$(BUILD)/asan/listdeliver/%: $(ASAN_OBJ)/tests/unit/listdeliver/%.o $(LISTDELIVER_SRC:%.c=$(ASAN_OBJ)/%.o) $(ASAN_LIB) \
                           $(FLAGS)/ld $(FLAGS)/test $(FLAGS)/asan $(FLAGS)/listdeliver-ld
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(ASAN_CFLAGS) $(LDFLAGS) -o $@ $< $(LISTDELIVER_SRC:%.c=$(ASAN_OBJ)/%.o) $(ASAN_LIB) $(CMOCKA_LIBS)

# Postfix defers list mail without it
e2e e2e-ha: $(BUILD)/emailng-list-deliver

.PHONY: install-listdeliver
install: install-listdeliver

install-listdeliver: $(BUILD)/emailng-list-deliver
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD)/emailng-list-deliver $(DESTDIR)$(PREFIX)/sbin/emailng-list-deliver
