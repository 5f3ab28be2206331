# emailng-healthd: the store health monitor (docs/healthd.md), and the
# many-hosts test fabric (scripts/fabric.sh, docs/fabric.md).
# Included by the top Makefile; only appends to its variables.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

HEALTHD_CFLAGS   = -Isrc/healthd
HEALTHD_LIBS     = $(shell pkg-config --libs yaml-0.1)
HEALTHD_ALL_SRC  = $(sort $(wildcard src/healthd/*.c))
HEALTHD_SRC      = $(filter-out src/healthd/main.c,$(HEALTHD_ALL_SRC))
HEALTHD_LIB_SRC  = src/lib/buf.c src/lib/address.c src/lib/fsutil.c src/lib/netaddr.c src/lib/yaml_config.c \
                   src/lib/daemon_log.c
HEALTHD_HDR      = $(wildcard src/healthd/*.h) src/lib/buf.h src/lib/address.h src/lib/fsutil.h \
                   src/lib/yaml_config.h src/lib/daemon_log.h
HEALTHD_UNIT_SRC = $(sort $(wildcard tests/unit/healthd/test_*.c))
HEALTHD_UNIT_BIN = $(HEALTHD_UNIT_SRC:tests/unit/healthd/%.c=$(BUILD)/tests/healthd/%)
HEALTHD_ASAN_BIN = $(HEALTHD_UNIT_SRC:tests/unit/healthd/%.c=$(BUILD)/asan/healthd/%)

EXTRA_BINS     += $(BUILD)/emailng-healthd
EXTRA_UNIT_BIN += $(HEALTHD_UNIT_BIN)
EXTRA_ASAN_BIN += $(HEALTHD_ASAN_BIN)
EXTRA_TESTS    += healthd-integration fabric-test

.PHONY: healthd healthd-unit healthd-integration fabric-test

healthd: $(BUILD)/emailng-healthd

# Own object directory: src/healthd and src/policyd both have config.c, log.c.
$(BUILD)/healthd-obj/%.o: %.c $(HEALTHD_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(HEALTHD_CFLAGS) -c -o $@ $<

$(BUILD)/emailng-healthd: $(HEALTHD_ALL_SRC:%.c=$(BUILD)/healthd-obj/%.o) $(HEALTHD_LIB_SRC:%.c=$(BUILD)/healthd-obj/%.o)
	$(CC) $(CFLAGS) -o $@ $^ $(HEALTHD_LIBS)

$(BUILD)/tests/healthd/%: tests/unit/healthd/%.c $(HEALTHD_SRC) $(HEALTHD_LIB_SRC) $(HEALTHD_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(HEALTHD_CFLAGS) -o $@ $< $(HEALTHD_SRC) $(HEALTHD_LIB_SRC) \
	  $(HEALTHD_LIBS) $(shell pkg-config --libs cmocka)

$(BUILD)/asan/healthd/%: tests/unit/healthd/%.c $(HEALTHD_SRC) $(HEALTHD_LIB_SRC) $(HEALTHD_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -O1 $(SANITIZE) $(HEALTHD_CFLAGS) -o $@ $< $(HEALTHD_SRC) $(HEALTHD_LIB_SRC) \
	  $(HEALTHD_LIBS) $(shell pkg-config --libs cmocka)

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
