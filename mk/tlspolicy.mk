# emailng-tlspolicy: the relays' outbound TLS policy table, DANE before
# MTA-STS (src/tlspolicy/main.c, issue 11 S2).
# Included by the top Makefile; only appends to its variables.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

TLSPOLICY_CFLAGS   = -Isrc/tlspolicy
TLSPOLICY_LIBS     = -levent -lpthread -lresolv
TLSPOLICY_ALL_SRC  = $(sort $(wildcard src/tlspolicy/*.c))
TLSPOLICY_SRC      = $(filter-out src/tlspolicy/main.c,$(TLSPOLICY_ALL_SRC))
TLSPOLICY_UNIT_SRC = $(sort $(wildcard tests/unit/tlspolicy/test_*.c))
TLSPOLICY_UNIT_BIN = $(TLSPOLICY_UNIT_SRC:tests/unit/tlspolicy/%.c=$(BUILD)/tests/tlspolicy/%)
TLSPOLICY_ASAN_BIN = $(TLSPOLICY_UNIT_SRC:tests/unit/tlspolicy/%.c=$(BUILD)/asan/tlspolicy/%)
TLSPOLICY_FUZZ     = request dnsanswer
TLSPOLICY_FUZZ_TIME ?= 30

EXTRA_BINS     += $(BUILD)/emailng-tlspolicy
EXTRA_UNIT_BIN += $(TLSPOLICY_UNIT_BIN)
EXTRA_ASAN_BIN += $(TLSPOLICY_ASAN_BIN)
EXTRA_TESTS    += tlspolicy-fuzz
ALL_OBJ        += $(TLSPOLICY_ALL_SRC:%.c=$(OBJ)/%.o) $(TLSPOLICY_SRC:%.c=$(ASAN_OBJ)/%.o) \
                  $(TLSPOLICY_UNIT_SRC:%.c=$(OBJ)/%.o) $(TLSPOLICY_UNIT_SRC:%.c=$(ASAN_OBJ)/%.o) \
                  $(TLSPOLICY_SRC:%.c=$(FUZZ_OBJ)/%.o) $(TLSPOLICY_FUZZ:%=$(FUZZ_OBJ)/tests/fuzz/tlspolicy/fuzz_%.o)
FLAGS_tlspolicy    = $(TLSPOLICY_CFLAGS)
FLAGS_tlspolicy-ld = $(TLSPOLICY_LIBS) $(TLSPOLICY_ALL_SRC)

.PHONY: tlspolicy tlspolicy-fuzz

tlspolicy: $(BUILD)/emailng-tlspolicy

$(OBJ)/src/tlspolicy/%.o $(ASAN_OBJ)/src/tlspolicy/%.o $(FUZZ_OBJ)/src/tlspolicy/%.o \
$(OBJ)/tests/unit/tlspolicy/%.o $(ASAN_OBJ)/tests/unit/tlspolicy/%.o \
$(FUZZ_OBJ)/tests/fuzz/tlspolicy/%.o: OBJ_CPPFLAGS += $(TLSPOLICY_CFLAGS)
$(TLSPOLICY_ALL_SRC:%.c=$(OBJ)/%.o) $(TLSPOLICY_SRC:%.c=$(ASAN_OBJ)/%.o) $(TLSPOLICY_SRC:%.c=$(FUZZ_OBJ)/%.o) \
$(TLSPOLICY_UNIT_SRC:%.c=$(OBJ)/%.o) $(TLSPOLICY_UNIT_SRC:%.c=$(ASAN_OBJ)/%.o) \
$(TLSPOLICY_FUZZ:%=$(FUZZ_OBJ)/tests/fuzz/tlspolicy/fuzz_%.o): $(FLAGS)/tlspolicy

$(BUILD)/emailng-tlspolicy: $(TLSPOLICY_ALL_SRC:%.c=$(OBJ)/%.o) $(LIB) $(FLAGS)/ld $(FLAGS)/tlspolicy-ld
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(TLSPOLICY_ALL_SRC:%.c=$(OBJ)/%.o) $(LIB) $(TLSPOLICY_LIBS)

$(BUILD)/tests/tlspolicy/%: $(OBJ)/tests/unit/tlspolicy/%.o $(TLSPOLICY_SRC:%.c=$(OBJ)/%.o) $(LIB) \
                            $(FLAGS)/ld $(FLAGS)/test $(FLAGS)/tlspolicy-ld
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(TLSPOLICY_SRC:%.c=$(OBJ)/%.o) $(LIB) $(TLSPOLICY_LIBS) $(CMOCKA_LIBS)

$(BUILD)/asan/tlspolicy/%: $(ASAN_OBJ)/tests/unit/tlspolicy/%.o $(TLSPOLICY_SRC:%.c=$(ASAN_OBJ)/%.o) $(ASAN_LIB) \
                           $(FLAGS)/ld $(FLAGS)/test $(FLAGS)/asan $(FLAGS)/tlspolicy-ld
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(ASAN_CFLAGS) $(LDFLAGS) -o $@ $< $(TLSPOLICY_SRC:%.c=$(ASAN_OBJ)/%.o) $(ASAN_LIB) $(TLSPOLICY_LIBS) $(CMOCKA_LIBS)

# libFuzzer harnesses (tests/fuzz/tlspolicy/fuzz_*.c), each run for a bounded time.
$(BUILD)/fuzz/tlspolicy/fuzz_%: $(FUZZ_OBJ)/tests/fuzz/tlspolicy/fuzz_%.o $(TLSPOLICY_SRC:%.c=$(FUZZ_OBJ)/%.o) \
                                $(FUZZ_LIB) $(FLAGS)/fuzz $(FLAGS)/tlspolicy-ld
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SANITIZE) -o $@ $< \
	  $(TLSPOLICY_SRC:%.c=$(FUZZ_OBJ)/%.o) $(FUZZ_LIB) $(TLSPOLICY_LIBS)

tlspolicy-fuzz: $(TLSPOLICY_FUZZ:%=$(BUILD)/fuzz/tlspolicy/fuzz_%)
	@set -e; for f in $(TLSPOLICY_FUZZ); do \
	  echo "== fuzz_$$f ($(TLSPOLICY_FUZZ_TIME) s)"; \
	  mkdir -p $(BUILD)/fuzz/tlspolicy/corpus-$$f; \
	  rc=0; $(BUILD)/fuzz/tlspolicy/fuzz_$$f -max_total_time=$(TLSPOLICY_FUZZ_TIME) -max_len=4096 \
	    -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/tlspolicy/crash-$$f- \
	    $(BUILD)/fuzz/tlspolicy/corpus-$$f tests/fuzz/tlspolicy/seeds-$$f \
	    > $(BUILD)/fuzz/tlspolicy/fuzz_$$f.log 2>&1 || rc=$$?; \
	  grep -E '^(stat::number_of_executed_units|stat::new_units_added|==[0-9]+==ERROR|SUMMARY)' \
	    $(BUILD)/fuzz/tlspolicy/fuzz_$$f.log || true; \
	  if [ $$rc != 0 ]; then tail -n 40 $(BUILD)/fuzz/tlspolicy/fuzz_$$f.log; \
	    echo "fuzz_$$f FAILED (see $(BUILD)/fuzz/tlspolicy/fuzz_$$f.log)"; exit 1; fi; \
	done; echo "tlspolicy-fuzz: all harnesses ran clean"

# emailng starts it on relays with outbound.mta_sts and DANE (tlspolicy_service.c)
e2e e2e-ha: $(BUILD)/emailng-tlspolicy

.PHONY: install-tlspolicy
install: install-tlspolicy

install-tlspolicy: $(BUILD)/emailng-tlspolicy
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD)/emailng-tlspolicy $(DESTDIR)$(PREFIX)/sbin/emailng-tlspolicy
