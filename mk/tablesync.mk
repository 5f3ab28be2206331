# emailng-tablesync: the relays' tables between deploys (issue 12): made
# on the proxies from the directory, pulled by the relays over HTTPS
# (src/tablesync/main.c, docs/architecture.md section 5). It checks
# emailng-policyd's table with emailng-policyd's own parser, so it links
# those two objects of src/policyd.
# Included by the top Makefile; only appends to its variables.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

TABLESYNC_CFLAGS   = -Isrc/tablesync -Isrc/policyd
TABLESYNC_LIBS     = -lcurl $(PKG_LIBS) -llber
TABLESYNC_ALL_SRC  = $(sort $(wildcard src/tablesync/*.c))
TABLESYNC_SRC      = $(filter-out src/tablesync/main.c,$(TABLESYNC_ALL_SRC))
TABLESYNC_POLICYD  = src/policyd/table.c src/policyd/strmap.c
TABLESYNC_UNIT_SRC = $(sort $(wildcard tests/unit/tablesync/test_*.c))
TABLESYNC_UNIT_BIN = $(TABLESYNC_UNIT_SRC:tests/unit/tablesync/%.c=$(BUILD)/tests/tablesync/%)
TABLESYNC_ASAN_BIN = $(TABLESYNC_UNIT_SRC:tests/unit/tablesync/%.c=$(BUILD)/asan/tablesync/%)

EXTRA_BINS     += $(BUILD)/emailng-tablesync
EXTRA_UNIT_BIN += $(TABLESYNC_UNIT_BIN)
EXTRA_ASAN_BIN += $(TABLESYNC_ASAN_BIN)
ALL_OBJ        += $(TABLESYNC_ALL_SRC:%.c=$(OBJ)/%.o) $(TABLESYNC_SRC:%.c=$(ASAN_OBJ)/%.o) \
                  $(TABLESYNC_UNIT_SRC:%.c=$(OBJ)/%.o) $(TABLESYNC_UNIT_SRC:%.c=$(ASAN_OBJ)/%.o)
FLAGS_tablesync    = $(TABLESYNC_CFLAGS)
FLAGS_tablesync-ld = $(TABLESYNC_LIBS) $(TABLESYNC_ALL_SRC)

.PHONY: tablesync

tablesync: $(BUILD)/emailng-tablesync

$(OBJ)/src/tablesync/%.o $(ASAN_OBJ)/src/tablesync/%.o \
$(OBJ)/tests/unit/tablesync/%.o $(ASAN_OBJ)/tests/unit/tablesync/%.o: OBJ_CPPFLAGS += $(TABLESYNC_CFLAGS)
$(TABLESYNC_ALL_SRC:%.c=$(OBJ)/%.o) $(TABLESYNC_SRC:%.c=$(ASAN_OBJ)/%.o) \
$(TABLESYNC_UNIT_SRC:%.c=$(OBJ)/%.o) $(TABLESYNC_UNIT_SRC:%.c=$(ASAN_OBJ)/%.o): $(FLAGS)/tablesync

$(BUILD)/emailng-tablesync: $(TABLESYNC_ALL_SRC:%.c=$(OBJ)/%.o) $(TABLESYNC_POLICYD:%.c=$(OBJ)/%.o) $(LIB) \
                            $(FLAGS)/ld $(FLAGS)/tablesync-ld
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(TABLESYNC_ALL_SRC:%.c=$(OBJ)/%.o) $(TABLESYNC_POLICYD:%.c=$(OBJ)/%.o) \
	  $(LIB) $(TABLESYNC_LIBS)

$(BUILD)/tests/tablesync/%: $(OBJ)/tests/unit/tablesync/%.o $(TABLESYNC_SRC:%.c=$(OBJ)/%.o) \
                            $(TABLESYNC_POLICYD:%.c=$(OBJ)/%.o) $(LIB) $(FLAGS)/ld $(FLAGS)/test $(FLAGS)/tablesync-ld
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(TABLESYNC_SRC:%.c=$(OBJ)/%.o) $(TABLESYNC_POLICYD:%.c=$(OBJ)/%.o) \
	  $(LIB) $(TABLESYNC_LIBS) $(CMOCKA_LIBS)

$(BUILD)/asan/tablesync/%: $(ASAN_OBJ)/tests/unit/tablesync/%.o $(TABLESYNC_SRC:%.c=$(ASAN_OBJ)/%.o) \
                           $(TABLESYNC_POLICYD:%.c=$(ASAN_OBJ)/%.o) $(ASAN_LIB) $(FLAGS)/ld $(FLAGS)/test \
                           $(FLAGS)/asan $(FLAGS)/tablesync-ld
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(ASAN_CFLAGS) $(LDFLAGS) -o $@ $< $(TABLESYNC_SRC:%.c=$(ASAN_OBJ)/%.o) \
	  $(TABLESYNC_POLICYD:%.c=$(ASAN_OBJ)/%.o) $(ASAN_LIB) $(TABLESYNC_LIBS) $(CMOCKA_LIBS)

# The deployed relays and proxies run it; the fabric's proxies too.
e2e-ha e2e-deploy: $(BUILD)/emailng-tablesync

.PHONY: install-tablesync
install: install-tablesync

install-tablesync: $(BUILD)/emailng-tablesync
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD)/emailng-tablesync $(DESTDIR)$(PREFIX)/sbin/emailng-tablesync
