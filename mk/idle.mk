# bench/idle: the IMAP IDLE load client (issue 14, C4; docs/admin-manual.md
# 4b). Not part of `make test`: `make bench-idle` builds it and runs
# bench/idle/run.sh (root: a small site in its own network namespace).
# Its line splitter and classifier (bench/idle/imap_resp.c) have unit tests,
# which `make unit` / `make unit-asan` run, and a libFuzzer harness
# (`make idle-fuzz`, IDLE_FUZZ_TIME seconds).
# Included by the top Makefile; only appends to its variables.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

IDLE_CFLAGS   = -Ibench/idle
IDLE_LIBS     = -lssl -lcrypto
IDLE_ALL_SRC  = $(sort $(wildcard bench/idle/*.c))
IDLE_SRC      = $(filter-out bench/idle/idle_load.c,$(IDLE_ALL_SRC))
IDLE_UNIT_SRC = $(sort $(wildcard tests/unit/idle/test_*.c))
IDLE_UNIT_BIN = $(IDLE_UNIT_SRC:tests/unit/idle/%.c=$(BUILD)/tests/idle/%)
IDLE_ASAN_BIN = $(IDLE_UNIT_SRC:tests/unit/idle/%.c=$(BUILD)/asan/idle/%)

EXTRA_UNIT_BIN += $(IDLE_UNIT_BIN)
EXTRA_ASAN_BIN += $(IDLE_ASAN_BIN)
ALL_OBJ        += $(IDLE_ALL_SRC:%.c=$(OBJ)/%.o) $(IDLE_SRC:%.c=$(ASAN_OBJ)/%.o) \
                  $(IDLE_UNIT_SRC:%.c=$(OBJ)/%.o) $(IDLE_UNIT_SRC:%.c=$(ASAN_OBJ)/%.o)
FLAGS_idle    = $(IDLE_CFLAGS)
FLAGS_idle-ld = $(IDLE_LIBS) $(IDLE_ALL_SRC)

.PHONY: idle-load bench-idle bench-idle-ha

idle-load: $(BUILD)/idle-load

$(OBJ)/bench/idle/%.o $(ASAN_OBJ)/bench/idle/%.o \
$(OBJ)/tests/unit/idle/%.o $(ASAN_OBJ)/tests/unit/idle/%.o: OBJ_CPPFLAGS += $(IDLE_CFLAGS)
$(IDLE_ALL_SRC:%.c=$(OBJ)/%.o) $(IDLE_SRC:%.c=$(ASAN_OBJ)/%.o) \
$(IDLE_UNIT_SRC:%.c=$(OBJ)/%.o) $(IDLE_UNIT_SRC:%.c=$(ASAN_OBJ)/%.o): $(FLAGS)/idle

$(BUILD)/idle-load: $(IDLE_ALL_SRC:%.c=$(OBJ)/%.o) $(LIB) $(FLAGS)/ld $(FLAGS)/idle-ld
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(IDLE_ALL_SRC:%.c=$(OBJ)/%.o) $(LIB) $(IDLE_LIBS)

$(BUILD)/tests/idle/%: $(OBJ)/tests/unit/idle/%.o $(IDLE_SRC:%.c=$(OBJ)/%.o) $(LIB) \
                        $(FLAGS)/ld $(FLAGS)/test $(FLAGS)/idle-ld
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(IDLE_SRC:%.c=$(OBJ)/%.o) $(LIB) $(IDLE_LIBS) $(CMOCKA_LIBS)

$(BUILD)/asan/idle/%: $(ASAN_OBJ)/tests/unit/idle/%.o $(IDLE_SRC:%.c=$(ASAN_OBJ)/%.o) $(ASAN_LIB) \
                       $(FLAGS)/ld $(FLAGS)/test $(FLAGS)/asan $(FLAGS)/idle-ld
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(ASAN_CFLAGS) $(LDFLAGS) -o $@ $< $(IDLE_SRC:%.c=$(ASAN_OBJ)/%.o) $(ASAN_LIB) \
	  $(IDLE_LIBS) $(CMOCKA_LIBS)

bench-idle: $(BUILD)/emailng $(EXTRA_BINS) $(BUILD)/idle-load
	IDLE_LOAD=$(CURDIR)/$(BUILD)/idle-load EMAILNG=$(CURDIR)/$(BUILD)/emailng EMAILNG_DATADIR=$(CURDIR) \
	  sh bench/idle/run.sh

# The same through the full topology (proxy1 -> store1, in the test fabric).
bench-idle-ha: $(BUILD)/emailng $(EXTRA_BINS) $(BUILD)/idle-load
	IDLE_LOAD=$(CURDIR)/$(BUILD)/idle-load EMAILNG=$(CURDIR)/$(BUILD)/emailng EMAILNG_DATADIR=$(CURDIR) \
	  sh bench/idle/run-ha.sh

# libFuzzer harness of the line splitter and classifier, for a bounded time.
IDLE_FUZZ_TIME ?= 30
$(FUZZ_OBJ)/bench/idle/%.o $(FUZZ_OBJ)/tests/fuzz/idle/%.o: OBJ_CPPFLAGS += $(IDLE_CFLAGS)
$(FUZZ_OBJ)/bench/idle/%.o $(FUZZ_OBJ)/tests/fuzz/idle/%.o: $(FLAGS)/idle
ALL_OBJ += $(IDLE_SRC:%.c=$(FUZZ_OBJ)/%.o) $(FUZZ_OBJ)/tests/fuzz/idle/fuzz_imap_resp.o

$(BUILD)/fuzz/idle/fuzz_imap_resp: $(FUZZ_OBJ)/tests/fuzz/idle/fuzz_imap_resp.o $(IDLE_SRC:%.c=$(FUZZ_OBJ)/%.o) \
                                   $(FUZZ_LIB) $(FLAGS)/fuzz
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SANITIZE) -o $@ $< $(IDLE_SRC:%.c=$(FUZZ_OBJ)/%.o) $(FUZZ_LIB)

.PHONY: idle-fuzz
idle-fuzz: $(BUILD)/fuzz/idle/fuzz_imap_resp
	mkdir -p $(BUILD)/fuzz/idle/corpus
	$(BUILD)/fuzz/idle/fuzz_imap_resp -max_total_time=$(IDLE_FUZZ_TIME) -max_len=4096 -rss_limit_mb=512 \
	  -artifact_prefix=$(BUILD)/fuzz/idle/crash- $(BUILD)/fuzz/idle/corpus
