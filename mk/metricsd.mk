# emailng-metricsd: EmailNG's own figures for Prometheus where the mail
# daemons leave a gap (src/metricsd/main.c, docs/admin-manual.md "Monitoring").
# Included by the top Makefile; only appends to its variables.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

METRICSD_CFLAGS   = -Isrc/metricsd
METRICSD_LIBS     = -levent -lssl -lcrypto -lcrypt
METRICSD_ALL_SRC  = $(sort $(wildcard src/metricsd/*.c))
METRICSD_SRC      = $(filter-out src/metricsd/main.c,$(METRICSD_ALL_SRC))
METRICSD_UNIT_SRC = $(sort $(wildcard tests/unit/metricsd/test_*.c))
METRICSD_UNIT_BIN = $(METRICSD_UNIT_SRC:tests/unit/metricsd/%.c=$(BUILD)/tests/metricsd/%)
METRICSD_ASAN_BIN = $(METRICSD_UNIT_SRC:tests/unit/metricsd/%.c=$(BUILD)/asan/metricsd/%)

EXTRA_BINS     += $(BUILD)/emailng-metricsd
EXTRA_UNIT_BIN += $(METRICSD_UNIT_BIN)
EXTRA_ASAN_BIN += $(METRICSD_ASAN_BIN)
ALL_OBJ        += $(METRICSD_ALL_SRC:%.c=$(OBJ)/%.o) $(METRICSD_SRC:%.c=$(ASAN_OBJ)/%.o) \
                  $(METRICSD_UNIT_SRC:%.c=$(OBJ)/%.o) $(METRICSD_UNIT_SRC:%.c=$(ASAN_OBJ)/%.o)
FLAGS_metricsd    = $(METRICSD_CFLAGS)
FLAGS_metricsd-ld = $(METRICSD_LIBS) $(METRICSD_ALL_SRC)

.PHONY: metricsd

metricsd: $(BUILD)/emailng-metricsd

# Objects come from the top Makefile's rules (with the library: libemailng.a).
$(OBJ)/src/metricsd/%.o $(ASAN_OBJ)/src/metricsd/%.o \
$(OBJ)/tests/unit/metricsd/%.o $(ASAN_OBJ)/tests/unit/metricsd/%.o: OBJ_CPPFLAGS += $(METRICSD_CFLAGS)
$(METRICSD_ALL_SRC:%.c=$(OBJ)/%.o) $(METRICSD_SRC:%.c=$(ASAN_OBJ)/%.o) \
$(METRICSD_UNIT_SRC:%.c=$(OBJ)/%.o) $(METRICSD_UNIT_SRC:%.c=$(ASAN_OBJ)/%.o): $(FLAGS)/metricsd

$(BUILD)/emailng-metricsd: $(METRICSD_ALL_SRC:%.c=$(OBJ)/%.o) $(LIB) $(FLAGS)/ld $(FLAGS)/metricsd-ld
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(METRICSD_ALL_SRC:%.c=$(OBJ)/%.o) $(LIB) $(METRICSD_LIBS)

$(BUILD)/tests/metricsd/%: $(OBJ)/tests/unit/metricsd/%.o $(METRICSD_SRC:%.c=$(OBJ)/%.o) $(LIB) \
                            $(FLAGS)/ld $(FLAGS)/test $(FLAGS)/metricsd-ld
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(METRICSD_SRC:%.c=$(OBJ)/%.o) $(LIB) $(METRICSD_LIBS) $(CMOCKA_LIBS)

$(BUILD)/asan/metricsd/%: $(ASAN_OBJ)/tests/unit/metricsd/%.o $(METRICSD_SRC:%.c=$(ASAN_OBJ)/%.o) $(ASAN_LIB) \
                           $(FLAGS)/ld $(FLAGS)/test $(FLAGS)/asan $(FLAGS)/metricsd-ld
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(ASAN_CFLAGS) $(LDFLAGS) -o $@ $< $(METRICSD_SRC:%.c=$(ASAN_OBJ)/%.o) $(ASAN_LIB) \
	  $(METRICSD_LIBS) $(CMOCKA_LIBS)

# emailng finds it next to itself (or on PATH): install it with emailng.
.PHONY: install-metricsd
install: install-metricsd

install-metricsd: $(BUILD)/emailng-metricsd
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD)/emailng-metricsd $(DESTDIR)$(PREFIX)/sbin/emailng-metricsd

# `up` starts it on every host (metrics.enabled, the default)
e2e e2e-ha: $(BUILD)/emailng-metricsd
