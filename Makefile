# EmailNG build. `make up` installs and starts the small site; `make test`
# runs every unit and end-to-end test.
#
# Every .c is compiled once per variant, into an object under $(BUILD):
#   $(BUILD)/obj/       CFLAGS; src/lib/*.o archived in $(BUILD)/libemailng.a
#   $(BUILD)/asan-obj/  CFLAGS -O1 ASan/UBSan (the unit-asan tests);
#                       src/lib/*.o archived in $(BUILD)/libemailng-asan.a
#   $(BUILD)/fuzz-obj/  clang, libFuzzer with ASan/UBSan (mk/policyd.mk's
#                       harnesses); $(BUILD)/libemailng-fuzz.a
# Programs and tests link their own objects and the archive, so each takes
# only the library members it uses. Header dependencies come from the
# compiler (-MMD -MP: a .d next to each object). The flags an object or a
# program is built with are kept in $(BUILD)/flags/NAME, rewritten only
# when they change (see FLAGS_* below), and are prerequisites of what they
# affect: `make CC=clang`, `make CFLAGS=-O0` or `make PREFIX=/opt/x`
# rebuilds exactly what that changes.
PREFIX   ?= /usr/local
DATADIR  ?= $(PREFIX)/share/emailng
BUILD    ?= build
CC       ?= cc
AR       ?= ar
CFLAGS   ?= -O2 -g
PKGS      = yaml-0.1 ldap libcrypt libcrypto libssl
SANITIZE  = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_CC  ?= clang
FUZZ_CFLAGS   = -g -O1 -std=c17 -fno-sanitize-recover=all
FUZZ_SANITIZE = address,undefined

# pkg-config runs once, when first needed (not for `make deps`, which may
# be what installs it).
PKG_CFLAGS  = $(eval PKG_CFLAGS := $$(shell pkg-config --cflags $(PKGS)))$(PKG_CFLAGS)
PKG_LIBS    = $(eval PKG_LIBS := $$(shell pkg-config --libs $(PKGS)))$(PKG_LIBS)
YAML_LIBS   = $(eval YAML_LIBS := $$(shell pkg-config --libs yaml-0.1))$(YAML_LIBS)
# Libraries only the CLI links (not the daemons or the unit tests): glibc's
# libresolv for `emailng dns check` (res_nquery, ns_parserr; in libc6-dev).
CLI_LIBS    = -lresolv
CMOCKA_LIBS = $(eval CMOCKA_LIBS := $$(shell pkg-config --libs cmocka))$(CMOCKA_LIBS)

# Our flags are kept apart from CFLAGS/CPPFLAGS/LDLIBS so that setting those
# on the command line adds to them instead of replacing them.
# OBJ_CPPFLAGS is set per object directory (target-specific, mk/*.mk).
ALL_CFLAGS   = -std=c17 -Wall -Wextra -Werror $(CFLAGS)
ALL_CPPFLAGS = -D_GNU_SOURCE -Isrc/lib $(PKG_CFLAGS) $(CPPFLAGS)
ALL_LDLIBS   = $(PKG_LIBS) -llber $(LDLIBS)
ASAN_CFLAGS  = -O1 $(SANITIZE)
DEPFLAGS     = -MMD -MP

OBJ      = $(BUILD)/obj
ASAN_OBJ = $(BUILD)/asan-obj
LIB      = $(BUILD)/libemailng.a
ASAN_LIB = $(BUILD)/libemailng-asan.a
FUZZ_OBJ = $(BUILD)/fuzz-obj
FUZZ_LIB = $(BUILD)/libemailng-fuzz.a
FLAGS    = $(BUILD)/flags

LIB_SRC  = $(sort $(wildcard src/lib/*.c))
CLI_SRC  = $(sort $(wildcard src/emailng/*.c))
UNIT_SRC = $(sort $(wildcard tests/unit/test_*.c))

LIB_OBJ       = $(LIB_SRC:%.c=$(OBJ)/%.o)
ASAN_LIB_OBJ  = $(LIB_SRC:%.c=$(ASAN_OBJ)/%.o)
FUZZ_LIB_OBJ  = $(LIB_SRC:%.c=$(FUZZ_OBJ)/%.o)
CLI_OBJ       = $(CLI_SRC:%.c=$(OBJ)/%.o)
UNIT_OBJ      = $(UNIT_SRC:%.c=$(OBJ)/%.o)
ASAN_UNIT_OBJ = $(UNIT_SRC:%.c=$(ASAN_OBJ)/%.o)
UNIT_BIN      = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
ASAN_BIN      = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/asan/%)

# The data directory is compiled into the CLI objects that use
# EMAILNG_DATADIR (found by grep, so it follows the code when it moves), and
# only into those: a new PREFIX rebuilds them and nothing else. The unit
# tests get the source tree instead. The library is shared by the CLI, the
# daemons and the unit tests, so it must not depend on it.
DATADIR_SRC := $(shell grep -l EMAILNG_DATADIR $(CLI_SRC) $(wildcard src/emailng/*.h) 2>/dev/null)
ifneq ($(filter %.h,$(DATADIR_SRC)),)
DATADIR_SRC := $(CLI_SRC)
endif
DATADIR_OBJ  = $(DATADIR_SRC:%.c=$(OBJ)/%.o)
ifneq ($(shell grep -l EMAILNG_DATADIR $(LIB_SRC) $(wildcard src/lib/*.h) 2>/dev/null),)
$(error src/lib must not use EMAILNG_DATADIR (one libemailng.a serves the CLI, the daemons and the unit tests): pass the directory in)
endif

# What each flags file records; mk/*.mk add theirs. A source list is part
# of what links from it, so a removed file is also dropped from the
# archive and the programs.
FLAGS_cc      = $(CC) $(ALL_CFLAGS) $(ALL_CPPFLAGS)
FLAGS_asan    = $(ASAN_CFLAGS)
FLAGS_fuzz    = $(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SANITIZE) $(ALL_CPPFLAGS)
FLAGS_ld      = $(CC) $(CFLAGS) $(LDFLAGS) $(ALL_LDLIBS)
FLAGS_test    = $(CMOCKA_LIBS)
FLAGS_lib     = $(AR) $(LIB_SRC)
FLAGS_cli     = $(CLI_SRC) $(CLI_LIBS)
FLAGS_datadir = $(DATADIR) $(DATADIR_SRC)
FLAGS_curdir  = $(CURDIR)

# Every object (mk/*.mk add theirs): its .d is read, and none is deleted as
# an intermediate file (the tests' objects are prerequisites of pattern
# rules only).
ALL_OBJ = $(LIB_OBJ) $(ASAN_LIB_OBJ) $(FUZZ_LIB_OBJ) $(CLI_OBJ) $(UNIT_OBJ) $(ASAN_UNIT_OBJ)

# Other daemons add their programs and tests in mk/*.mk through
# EXTRA_BINS, EXTRA_UNIT_BIN, EXTRA_ASAN_BIN and EXTRA_TESTS (run by `make test`).
-include mk/*.mk

.PHONY: all deps install up down test unit unit-asan e2e clean FORCE
.DELETE_ON_ERROR:
.SECONDARY: $(ALL_OBJ)
.PRECIOUS: $(FLAGS)/%

all: $(BUILD)/emailng $(EXTRA_BINS)

# --- flags: $(FLAGS)/NAME holds $(FLAGS_NAME), touched only when it changes.
$(FLAGS)/%: FORCE
	@mkdir -p $(@D)
	@printf '%s\n' '$(subst ','\'',$(FLAGS_$*))' > $@.new; \
	  if cmp -s $@.new $@; then rm -f $@.new; else mv -f $@.new $@; fi
FORCE:

# --- objects
$(OBJ)/%.o: %.c $(FLAGS)/cc
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_CPPFLAGS) $(OBJ_CPPFLAGS) $(DEPFLAGS) -c -o $@ $<

$(ASAN_OBJ)/%.o: %.c $(FLAGS)/cc $(FLAGS)/asan
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ASAN_CFLAGS) $(ALL_CPPFLAGS) $(OBJ_CPPFLAGS) $(DEPFLAGS) -c -o $@ $<

$(FUZZ_OBJ)/%.o: %.c $(FLAGS)/fuzz
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SANITIZE) $(ALL_CPPFLAGS) $(OBJ_CPPFLAGS) \
	  $(DEPFLAGS) -c -o $@ $<

ifneq ($(DATADIR_OBJ),)
$(DATADIR_OBJ): $(FLAGS)/datadir
$(DATADIR_OBJ): OBJ_CPPFLAGS += -DEMAILNG_DATADIR='"$(DATADIR)"'
endif

# The unit tests read templates and examples from the source tree.
$(UNIT_OBJ) $(ASAN_UNIT_OBJ): OBJ_CPPFLAGS += -DEMAILNG_DATADIR='"$(CURDIR)"'
$(UNIT_OBJ) $(ASAN_UNIT_OBJ): $(FLAGS)/curdir

# --- the library, built once per variant
$(LIB): $(LIB_OBJ) $(FLAGS)/lib
	@rm -f $@
	$(AR) rcs $@ $(LIB_OBJ)

$(ASAN_LIB): $(ASAN_LIB_OBJ) $(FLAGS)/lib
	@rm -f $@
	$(AR) rcs $@ $(ASAN_LIB_OBJ)

$(FUZZ_LIB): $(FUZZ_LIB_OBJ) $(FLAGS)/lib
	@rm -f $@
	$(AR) rcs $@ $(FUZZ_LIB_OBJ)

# --- programs
$(BUILD)/emailng: $(CLI_OBJ) $(LIB) $(FLAGS)/ld $(FLAGS)/cli
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(ALL_LDLIBS) $(CLI_LIBS)

$(BUILD)/tests/%: $(OBJ)/tests/unit/%.o $(LIB) $(FLAGS)/ld $(FLAGS)/test
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(ALL_LDLIBS) $(CMOCKA_LIBS)

$(BUILD)/asan/%: $(ASAN_OBJ)/tests/unit/%.o $(ASAN_LIB) $(FLAGS)/ld $(FLAGS)/test $(FLAGS)/asan
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(ASAN_CFLAGS) $(LDFLAGS) -o $@ $< $(ASAN_LIB) $(ALL_LDLIBS) $(CMOCKA_LIBS)

deps:
	sh scripts/install-deps.sh

install: $(BUILD)/emailng
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(DATADIR) $(DESTDIR)$(PREFIX)/share/man/man8 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0755 $(BUILD)/emailng $(DESTDIR)$(PREFIX)/sbin/emailng
	install -m 0644 docs/man/emailng.8 $(DESTDIR)$(PREFIX)/share/man/man8/emailng.8
	install -m 0644 scripts/emailng.bash-completion $(DESTDIR)$(PREFIX)/share/bash-completion/completions/emailng
	rm -rf $(DESTDIR)$(DATADIR)/templates $(DESTDIR)$(DATADIR)/schema $(DESTDIR)$(DATADIR)/examples \
	  $(DESTDIR)$(DATADIR)/scripts $(DESTDIR)$(DATADIR)/ansible
	cp -R templates schema examples scripts ansible $(DESTDIR)$(DATADIR)/

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
	  /usr/bin/python3 -m pytest -v --durations=0 --durations-min=5 tests/e2e

# The README's second command. After the build and the unit tests, the
# end-to-end suites run in two lanes side by side: they spend most of
# their time waiting (retries, timeouts, fault windows), each in network
# namespaces of its own, so two at a time fit on 2 cores and keep
# `make test` inside its time budget. Lane A: the full topology's suites,
# then the small programs' tests and the fuzzers (CPU-bound, time-boxed);
# lane B: the small site's e2e and every other suite of EXTRA_TESTS
# (e2e-deploy alone runs Ansible's apt tasks: never two at once). Each
# lane's output is printed whole when it ends (--output-sync); a failing
# lane lets the other finish, then `make test` fails. TEST_LANES=1 runs
# the same suites one after the other.
TEST_LANE_A = e2e-ha e2e-pairs healthd-integration fabric-test policyd-protocol \
              autodiscover-fuzz policyd-fuzz tlspolicy-fuzz
TEST_LANE_B = e2e $(filter-out $(TEST_LANE_A),$(EXTRA_TESTS))
TEST_LANES ?= 2

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) unit-asan
ifeq ($(TEST_LANES),1)
	$(MAKE) $(TEST_LANE_B) $(TEST_LANE_A)
else
	$(MAKE) -j2 --output-sync=recurse test-lane-a test-lane-b
endif

.PHONY: test-lane-a test-lane-b
# -j1: a lane runs its suites one after the other, in this order (without
# it the lanes' make would share the jobserver and, once a lane ends, run
# two suites of the other lane at once).
test-lane-a:
	@echo "== lane A: $(TEST_LANE_A)"
	$(MAKE) -j1 $(TEST_LANE_A)
	@echo "== lane A passed"
test-lane-b:
	@echo "== lane B: $(TEST_LANE_B)"
	$(MAKE) -j1 $(TEST_LANE_B)
	@echo "== lane B passed"

clean:
	rm -rf $(BUILD)

# Header dependencies of every object built so far.
-include $(ALL_OBJ:.o=.d)
