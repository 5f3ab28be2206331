# emailng-healthd: the store health monitor (docs/healthd.md), and the
# many-hosts test fabric (scripts/fabric.sh, docs/fabric.md).
# Included by the top Makefile; only appends to its variables.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

HEALTHD_CFLAGS   = -Isrc/healthd
HEALTHD_LIBS     = $(YAML_LIBS)
HEALTHD_ALL_SRC  = $(sort $(wildcard src/healthd/*.c))
HEALTHD_SRC      = $(filter-out src/healthd/main.c,$(HEALTHD_ALL_SRC))
HEALTHD_UNIT_SRC = $(sort $(wildcard tests/unit/healthd/test_*.c))
HEALTHD_UNIT_BIN = $(HEALTHD_UNIT_SRC:tests/unit/healthd/%.c=$(BUILD)/tests/healthd/%)
HEALTHD_ASAN_BIN = $(HEALTHD_UNIT_SRC:tests/unit/healthd/%.c=$(BUILD)/asan/healthd/%)

EXTRA_BINS     += $(BUILD)/emailng-healthd
EXTRA_UNIT_BIN += $(HEALTHD_UNIT_BIN)
EXTRA_ASAN_BIN += $(HEALTHD_ASAN_BIN)
EXTRA_TESTS    += healthd-integration fabric-test
ALL_OBJ        += $(HEALTHD_ALL_SRC:%.c=$(OBJ)/%.o) $(HEALTHD_SRC:%.c=$(ASAN_OBJ)/%.o) \
                  $(HEALTHD_UNIT_SRC:%.c=$(OBJ)/%.o) $(HEALTHD_UNIT_SRC:%.c=$(ASAN_OBJ)/%.o)
FLAGS_healthd    = $(HEALTHD_CFLAGS)
FLAGS_healthd-ld = $(HEALTHD_LIBS) $(HEALTHD_ALL_SRC)

.PHONY: healthd healthd-unit healthd-integration fabric-test

healthd: $(BUILD)/emailng-healthd

# Objects come from the top Makefile's rules (with the library: libemailng.a).
$(OBJ)/src/healthd/%.o $(ASAN_OBJ)/src/healthd/%.o \
$(OBJ)/tests/unit/healthd/%.o $(ASAN_OBJ)/tests/unit/healthd/%.o: OBJ_CPPFLAGS += $(HEALTHD_CFLAGS)
$(HEALTHD_ALL_SRC:%.c=$(OBJ)/%.o) $(HEALTHD_SRC:%.c=$(ASAN_OBJ)/%.o) \
$(HEALTHD_UNIT_SRC:%.c=$(OBJ)/%.o) $(HEALTHD_UNIT_SRC:%.c=$(ASAN_OBJ)/%.o): $(FLAGS)/healthd

$(BUILD)/emailng-healthd: $(HEALTHD_ALL_SRC:%.c=$(OBJ)/%.o) $(LIB) $(FLAGS)/ld $(FLAGS)/healthd-ld
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(HEALTHD_ALL_SRC:%.c=$(OBJ)/%.o) $(LIB) $(HEALTHD_LIBS)

$(BUILD)/tests/healthd/%: $(OBJ)/tests/unit/healthd/%.o $(HEALTHD_SRC:%.c=$(OBJ)/%.o) $(LIB) \
                          $(FLAGS)/ld $(FLAGS)/test $(FLAGS)/healthd-ld
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(HEALTHD_SRC:%.c=$(OBJ)/%.o) $(LIB) $(HEALTHD_LIBS) $(CMOCKA_LIBS)

$(BUILD)/asan/healthd/%: $(ASAN_OBJ)/tests/unit/healthd/%.o $(HEALTHD_SRC:%.c=$(ASAN_OBJ)/%.o) $(ASAN_LIB) \
                         $(FLAGS)/ld $(FLAGS)/test $(FLAGS)/asan $(FLAGS)/healthd-ld
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(ASAN_CFLAGS) $(LDFLAGS) -o $@ $< $(HEALTHD_SRC:%.c=$(ASAN_OBJ)/%.o) $(ASAN_LIB) \
	  $(HEALTHD_LIBS) $(CMOCKA_LIBS)

# Only this daemon's unit tests (plain and ASan/UBSan).
healthd-unit: $(HEALTHD_UNIT_BIN) $(HEALTHD_ASAN_BIN)
	@set -e; for t in $^; do echo "== $$t"; $$t; done

# Real Dovecot stores in namespaces of the test fabric, a real emailng-healthd.
healthd-integration: $(BUILD)/emailng-healthd
	HEALTHD=$(CURDIR)/$(BUILD)/emailng-healthd /usr/bin/python3 -m pytest -v tests/healthd

fabric-test:
	/usr/bin/python3 -m pytest -v tests/fabric

# emailng finds it next to itself (or on PATH): install it with emailng.
.PHONY: install-healthd
install: install-healthd

install-healthd: $(BUILD)/emailng-healthd
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD)/emailng-healthd $(DESTDIR)$(PREFIX)/sbin/emailng-healthd
