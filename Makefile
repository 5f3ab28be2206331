# EmailNG build. `make up` installs and starts the small site; `make test`
# runs every unit and end-to-end test.
PREFIX   ?= /usr/local
DATADIR  ?= $(PREFIX)/share/emailng
BUILD    ?= build
CC       ?= cc
PKGS      = yaml-0.1 ldap libcrypt libcrypto libssl
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -Isrc/lib \
            $(shell pkg-config --cflags $(PKGS))
LDLIBS   += $(shell pkg-config --libs $(PKGS)) -llber
SANITIZE  = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

LIB_SRC  = $(sort $(wildcard src/lib/*.c))
CLI_SRC  = $(sort $(wildcard src/emailng/*.c))
UNIT_SRC = $(sort $(wildcard tests/unit/test_*.c))

LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
ASAN_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/asan/%)

# Other daemons add their programs and tests in mk/*.mk through
# EXTRA_BINS, EXTRA_UNIT_BIN, EXTRA_ASAN_BIN and EXTRA_TESTS (run by `make test`).
-include mk/*.mk

.PHONY: all deps install up down test unit unit-asan e2e clean

all: $(BUILD)/emailng $(EXTRA_BINS)

$(BUILD)/%.o: %.c $(wildcard src/lib/*.h src/emailng/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DEMAILNG_DATADIR='"$(DATADIR)"' -c -o $@ $<

$(BUILD)/emailng: $(CLI_OBJ) $(LIB_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB_SRC) $(wildcard src/lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DEMAILNG_DATADIR='"$(CURDIR)"' -o $@ $< $(LIB_SRC) $(LDLIBS) $(shell pkg-config --libs cmocka)

$(BUILD)/asan/%: tests/unit/%.c $(LIB_SRC) $(wildcard src/lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -O1 $(SANITIZE) -DEMAILNG_DATADIR='"$(CURDIR)"' -o $@ $< $(LIB_SRC) $(LDLIBS) $(shell pkg-config --libs cmocka)

deps:
	sh scripts/install-deps.sh

install: $(BUILD)/emailng
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(DATADIR) $(DESTDIR)$(PREFIX)/share/man/man8 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0755 $(BUILD)/emailng $(DESTDIR)$(PREFIX)/sbin/emailng
	install -m 0644 docs/man/emailng.8 $(DESTDIR)$(PREFIX)/share/man/man8/emailng.8
	install -m 0644 scripts/emailng.bash-completion $(DESTDIR)$(PREFIX)/share/bash-completion/completions/emailng
	rm -rf $(DESTDIR)$(DATADIR)/templates $(DESTDIR)$(DATADIR)/schema $(DESTDIR)$(DATADIR)/examples \
	  $(DESTDIR)$(DATADIR)/scripts
	cp -R templates schema examples scripts $(DESTDIR)$(DATADIR)/

# The README's first command: everything a fresh Debian 12 machine needs.
up: deps
	$(MAKE) all
	$(MAKE) install
	$(PREFIX)/sbin/emailng up

down:
	$(PREFIX)/sbin/emailng down

unit: $(UNIT_BIN) $(EXTRA_UNIT_BIN)
	@set -e; for t in $(UNIT_BIN) $(EXTRA_UNIT_BIN); do echo "== $$t"; EMAILNG_DATADIR=$(CURDIR) $$t; done

unit-asan: $(ASAN_BIN) $(EXTRA_ASAN_BIN)
	@set -e; for t in $(ASAN_BIN) $(EXTRA_ASAN_BIN); do echo "== $$t (ASan/UBSan)"; EMAILNG_DATADIR=$(CURDIR) $$t; done

e2e: $(BUILD)/emailng
	EMAILNG=$(CURDIR)/$(BUILD)/emailng EMAILNG_DATADIR=$(CURDIR) \
	  /usr/bin/python3 -m pytest -v tests/e2e

# The README's second command.
test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) unit-asan
	$(MAKE) e2e
	$(if $(EXTRA_TESTS),$(MAKE) $(EXTRA_TESTS))

clean:
	rm -rf $(BUILD)
