# emailng-autodiscover: Outlook's autodiscover POST, checked and answered
# (src/autodiscover/, issue 13 C4): a FastCGI responder (Debian's libfcgi)
# behind nginx that parses the body with Debian's libexpat (no DTD, no
# entities) and answers the site's settings or a fixed 4xx.
# Included by the top Makefile; only appends to its variables.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

AUTODISCOVER_CFLAGS   = -Isrc/autodiscover
AUTODISCOVER_LIBS     = -lfcgi -lexpat
AUTODISCOVER_ALL_SRC  = $(sort $(wildcard src/autodiscover/*.c))
AUTODISCOVER_SRC      = $(filter-out src/autodiscover/main.c,$(AUTODISCOVER_ALL_SRC))
AUTODISCOVER_UNIT_SRC = $(sort $(wildcard tests/unit/autodiscover/test_*.c))
AUTODISCOVER_UNIT_BIN = $(AUTODISCOVER_UNIT_SRC:tests/unit/autodiscover/%.c=$(BUILD)/tests/autodiscover/%)
AUTODISCOVER_ASAN_BIN = $(AUTODISCOVER_UNIT_SRC:tests/unit/autodiscover/%.c=$(BUILD)/asan/autodiscover/%)

EXTRA_BINS     += $(BUILD)/emailng-autodiscover
EXTRA_UNIT_BIN += $(AUTODISCOVER_UNIT_BIN)
EXTRA_ASAN_BIN += $(AUTODISCOVER_ASAN_BIN)
ALL_OBJ        += $(AUTODISCOVER_ALL_SRC:%.c=$(OBJ)/%.o) $(AUTODISCOVER_SRC:%.c=$(ASAN_OBJ)/%.o) \
                  $(AUTODISCOVER_UNIT_SRC:%.c=$(OBJ)/%.o) $(AUTODISCOVER_UNIT_SRC:%.c=$(ASAN_OBJ)/%.o)
FLAGS_autodiscover    = $(AUTODISCOVER_CFLAGS)
FLAGS_autodiscover-ld = $(AUTODISCOVER_LIBS) $(AUTODISCOVER_ALL_SRC)

.PHONY: autodiscover

autodiscover: $(BUILD)/emailng-autodiscover

$(OBJ)/src/autodiscover/%.o $(ASAN_OBJ)/src/autodiscover/%.o \
$(OBJ)/tests/unit/autodiscover/%.o $(ASAN_OBJ)/tests/unit/autodiscover/%.o: OBJ_CPPFLAGS += $(AUTODISCOVER_CFLAGS)
$(AUTODISCOVER_ALL_SRC:%.c=$(OBJ)/%.o) $(AUTODISCOVER_SRC:%.c=$(ASAN_OBJ)/%.o) \
$(AUTODISCOVER_UNIT_SRC:%.c=$(OBJ)/%.o) $(AUTODISCOVER_UNIT_SRC:%.c=$(ASAN_OBJ)/%.o): $(FLAGS)/autodiscover

$(BUILD)/emailng-autodiscover: $(AUTODISCOVER_ALL_SRC:%.c=$(OBJ)/%.o) $(LIB) $(FLAGS)/ld $(FLAGS)/autodiscover-ld
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(AUTODISCOVER_ALL_SRC:%.c=$(OBJ)/%.o) $(LIB) $(AUTODISCOVER_LIBS)

$(BUILD)/tests/autodiscover/%: $(OBJ)/tests/unit/autodiscover/%.o $(AUTODISCOVER_SRC:%.c=$(OBJ)/%.o) $(LIB) \
                               $(FLAGS)/ld $(FLAGS)/test $(FLAGS)/autodiscover-ld
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(AUTODISCOVER_SRC:%.c=$(OBJ)/%.o) $(LIB) -lexpat $(CMOCKA_LIBS)

$(BUILD)/asan/autodiscover/%: $(ASAN_OBJ)/tests/unit/autodiscover/%.o $(AUTODISCOVER_SRC:%.c=$(ASAN_OBJ)/%.o) \
                              $(ASAN_LIB) $(FLAGS)/ld $(FLAGS)/test $(FLAGS)/asan $(FLAGS)/autodiscover-ld
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(ASAN_CFLAGS) $(LDFLAGS) -o $@ $< $(AUTODISCOVER_SRC:%.c=$(ASAN_OBJ)/%.o) $(ASAN_LIB) -lexpat \
	  $(CMOCKA_LIBS)

# nginx hands Outlook's autodiscover POST to it
e2e e2e-ha: $(BUILD)/emailng-autodiscover

.PHONY: install-autodiscover
install: install-autodiscover

install-autodiscover: $(BUILD)/emailng-autodiscover
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD)/emailng-autodiscover $(DESTDIR)$(PREFIX)/sbin/emailng-autodiscover

# libFuzzer harness (tests/fuzz/autodiscover/fuzz_request.c), run for a bounded time.
AUTODISCOVER_FUZZ_TIME ?= 30
EXTRA_TESTS += autodiscover-fuzz
ALL_OBJ     += $(AUTODISCOVER_SRC:%.c=$(FUZZ_OBJ)/%.o) $(FUZZ_OBJ)/tests/fuzz/autodiscover/fuzz_request.o
.PHONY: autodiscover-fuzz

$(FUZZ_OBJ)/src/autodiscover/%.o $(FUZZ_OBJ)/tests/fuzz/autodiscover/%.o: OBJ_CPPFLAGS += $(AUTODISCOVER_CFLAGS)
$(AUTODISCOVER_SRC:%.c=$(FUZZ_OBJ)/%.o) $(FUZZ_OBJ)/tests/fuzz/autodiscover/fuzz_request.o: $(FLAGS)/autodiscover

$(BUILD)/fuzz/autodiscover/fuzz_request: $(FUZZ_OBJ)/tests/fuzz/autodiscover/fuzz_request.o \
                                         $(AUTODISCOVER_SRC:%.c=$(FUZZ_OBJ)/%.o) $(FUZZ_LIB) $(FLAGS)/fuzz \
                                         $(FLAGS)/autodiscover-ld
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SANITIZE) -o $@ $< \
	  $(AUTODISCOVER_SRC:%.c=$(FUZZ_OBJ)/%.o) $(FUZZ_LIB) -lexpat

autodiscover-fuzz: $(BUILD)/fuzz/autodiscover/fuzz_request
	@mkdir -p $(BUILD)/fuzz/autodiscover/corpus-request
	@rc=0; $(BUILD)/fuzz/autodiscover/fuzz_request -max_total_time=$(AUTODISCOVER_FUZZ_TIME) -max_len=20000 \
	  -artifact_prefix=$(BUILD)/fuzz/autodiscover/crash-request- \
	  $(BUILD)/fuzz/autodiscover/corpus-request tests/fuzz/autodiscover/seeds-request \
	  > $(BUILD)/fuzz/autodiscover/fuzz_request.log 2>&1 || rc=$$?; \
	if [ $$rc != 0 ]; then tail -n 40 $(BUILD)/fuzz/autodiscover/fuzz_request.log; \
	  echo "fuzz_request FAILED (see $(BUILD)/fuzz/autodiscover/fuzz_request.log)"; exit 1; fi; \
	echo "autodiscover-fuzz: the harness ran clean"
