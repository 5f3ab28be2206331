# emailng-policyd: the border policy server (docs/policyd.md).
# Included by the top Makefile; only appends to its variables.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

POLICYD_LIBS     = -levent -llmdb -lspf2 $(YAML_LIBS)
POLICYD_CFLAGS   = -Isrc/policyd
POLICYD_ALL_SRC  = $(sort $(wildcard src/policyd/*.c))
POLICYD_SRC      = $(filter-out src/policyd/main.c,$(POLICYD_ALL_SRC))
POLICYD_UNIT_SRC = $(sort $(wildcard tests/unit/policyd/test_*.c))
POLICYD_UNIT_BIN = $(POLICYD_UNIT_SRC:tests/unit/policyd/%.c=$(BUILD)/tests/policyd/%)
POLICYD_ASAN_BIN = $(POLICYD_UNIT_SRC:tests/unit/policyd/%.c=$(BUILD)/asan/policyd/%)
POLICYD_FUZZ     = request spfwire table spf config
POLICYD_FUZZ_TIME ?= 30

EXTRA_BINS     += $(BUILD)/emailng-policyd
EXTRA_UNIT_BIN += $(POLICYD_UNIT_BIN)
EXTRA_ASAN_BIN += $(POLICYD_ASAN_BIN)
EXTRA_TESTS    += policyd-fuzz policyd-protocol
ALL_OBJ        += $(POLICYD_ALL_SRC:%.c=$(OBJ)/%.o) $(POLICYD_SRC:%.c=$(ASAN_OBJ)/%.o) \
                  $(POLICYD_UNIT_SRC:%.c=$(OBJ)/%.o) $(POLICYD_UNIT_SRC:%.c=$(ASAN_OBJ)/%.o) \
                  $(POLICYD_SRC:%.c=$(FUZZ_OBJ)/%.o) $(POLICYD_FUZZ:%=$(FUZZ_OBJ)/tests/fuzz/policyd/fuzz_%.o)
FLAGS_policyd    = $(POLICYD_CFLAGS)
FLAGS_policyd-ld = $(POLICYD_LIBS) $(POLICYD_ALL_SRC)

.PHONY: policyd policyd-fuzz policyd-protocol policyd-bench

policyd: $(BUILD)/emailng-policyd

# Objects come from the top Makefile's rules (with the library: libemailng.a,
# libemailng-asan.a, libemailng-fuzz.a).
$(OBJ)/src/policyd/%.o $(ASAN_OBJ)/src/policyd/%.o $(FUZZ_OBJ)/src/policyd/%.o \
$(OBJ)/tests/unit/policyd/%.o $(ASAN_OBJ)/tests/unit/policyd/%.o \
$(FUZZ_OBJ)/tests/fuzz/policyd/%.o: OBJ_CPPFLAGS += $(POLICYD_CFLAGS)
$(POLICYD_ALL_SRC:%.c=$(OBJ)/%.o) $(POLICYD_SRC:%.c=$(ASAN_OBJ)/%.o) $(POLICYD_SRC:%.c=$(FUZZ_OBJ)/%.o) \
$(POLICYD_UNIT_SRC:%.c=$(OBJ)/%.o) $(POLICYD_UNIT_SRC:%.c=$(ASAN_OBJ)/%.o) \
$(POLICYD_FUZZ:%=$(FUZZ_OBJ)/tests/fuzz/policyd/fuzz_%.o): $(FLAGS)/policyd

$(BUILD)/emailng-policyd: $(POLICYD_ALL_SRC:%.c=$(OBJ)/%.o) $(LIB) $(FLAGS)/ld $(FLAGS)/policyd-ld
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(POLICYD_ALL_SRC:%.c=$(OBJ)/%.o) $(LIB) $(POLICYD_LIBS)

$(BUILD)/tests/policyd/%: $(OBJ)/tests/unit/policyd/%.o $(POLICYD_SRC:%.c=$(OBJ)/%.o) $(LIB) \
                          $(FLAGS)/ld $(FLAGS)/test $(FLAGS)/policyd-ld
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(POLICYD_SRC:%.c=$(OBJ)/%.o) $(LIB) $(POLICYD_LIBS) $(CMOCKA_LIBS)

$(BUILD)/asan/policyd/%: $(ASAN_OBJ)/tests/unit/policyd/%.o $(POLICYD_SRC:%.c=$(ASAN_OBJ)/%.o) $(ASAN_LIB) \
                         $(FLAGS)/ld $(FLAGS)/test $(FLAGS)/asan $(FLAGS)/policyd-ld
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(ASAN_CFLAGS) $(LDFLAGS) -o $@ $< $(POLICYD_SRC:%.c=$(ASAN_OBJ)/%.o) $(ASAN_LIB) \
	  $(POLICYD_LIBS) $(CMOCKA_LIBS)

# libFuzzer harnesses (tests/fuzz/policyd/fuzz_*.c), each run for a bounded time.
$(BUILD)/fuzz/policyd/fuzz_%: $(FUZZ_OBJ)/tests/fuzz/policyd/fuzz_%.o $(POLICYD_SRC:%.c=$(FUZZ_OBJ)/%.o) \
                              $(FUZZ_LIB) $(FLAGS)/fuzz $(FLAGS)/policyd-ld
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SANITIZE) -o $@ $< \
	  $(POLICYD_SRC:%.c=$(FUZZ_OBJ)/%.o) $(FUZZ_LIB) $(POLICYD_LIBS)

policyd-fuzz: $(POLICYD_FUZZ:%=$(BUILD)/fuzz/policyd/fuzz_%)
	@set -e; for f in $(POLICYD_FUZZ); do \
	  echo "== fuzz_$$f ($(POLICYD_FUZZ_TIME) s)"; \
	  mkdir -p $(BUILD)/fuzz/policyd/corpus-$$f; \
	  rc=0; $(BUILD)/fuzz/policyd/fuzz_$$f -max_total_time=$(POLICYD_FUZZ_TIME) -max_len=20000 \
	    -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/policyd/crash-$$f- \
	    $(BUILD)/fuzz/policyd/corpus-$$f tests/fuzz/policyd/seeds-$$f \
	    > $(BUILD)/fuzz/policyd/fuzz_$$f.log 2>&1 || rc=$$?; \
	  grep -E '^(stat::number_of_executed_units|stat::new_units_added|==[0-9]+==ERROR|SUMMARY)' \
	    $(BUILD)/fuzz/policyd/fuzz_$$f.log || true; \
	  if [ $$rc != 0 ]; then tail -n 40 $(BUILD)/fuzz/policyd/fuzz_$$f.log; \
	    echo "fuzz_$$f FAILED (see $(BUILD)/fuzz/policyd/fuzz_$$f.log)"; exit 1; fi; \
	done; echo "policyd-fuzz: all harnesses ran clean"

# Raw policy protocol over TCP against a daemon the tests start themselves.
policyd-protocol: $(BUILD)/emailng-policyd
	POLICYD=$(CURDIR)/$(BUILD)/emailng-policyd /usr/bin/python3 -m pytest -v tests/policyd

policyd-bench: $(BUILD)/emailng-policyd bench/policyd/loadgen.c
	$(CC) -O2 -g -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -o $(BUILD)/policyd-loadgen bench/policyd/loadgen.c
	LOADGEN=$(CURDIR)/$(BUILD)/policyd-loadgen sh bench/policyd/run.sh

# emailng starts emailng-policyd (found next to the emailng binary, then on
# PATH): install it with emailng, and build it before the end-to-end tests.
.PHONY: install-policyd
install: install-policyd
e2e: $(BUILD)/emailng-policyd

install-policyd: $(BUILD)/emailng-policyd
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD)/emailng-policyd $(DESTDIR)$(PREFIX)/sbin/emailng-policyd
