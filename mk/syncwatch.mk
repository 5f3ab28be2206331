# emailng-syncwatch: ends the dsync runs Dovecot 2.3.19 leaves stuck on a
# store of a replicated pair (src/syncwatch/main.c, docs/architecture.md).
# Included by the top Makefile; only appends to its variables.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

SYNCWATCH_CFLAGS   = -Isrc/syncwatch
SYNCWATCH_LIBS     = -lssl -lcrypto -lcrypt
SYNCWATCH_ALL_SRC  = $(sort $(wildcard src/syncwatch/*.c))
SYNCWATCH_SRC      = $(filter-out src/syncwatch/main.c,$(SYNCWATCH_ALL_SRC))
SYNCWATCH_LIB_SRC  = src/lib/buf.c src/lib/daemon_log.c src/lib/doveadm_client.c src/lib/fsutil.c \
                     src/lib/netaddr.c src/lib/password.c src/lib/process.c
SYNCWATCH_HDR      = $(wildcard src/syncwatch/*.h) $(SYNCWATCH_LIB_SRC:.c=.h)
SYNCWATCH_UNIT_SRC = $(sort $(wildcard tests/unit/syncwatch/test_*.c))
SYNCWATCH_UNIT_BIN = $(SYNCWATCH_UNIT_SRC:tests/unit/syncwatch/%.c=$(BUILD)/tests/syncwatch/%)
SYNCWATCH_ASAN_BIN = $(SYNCWATCH_UNIT_SRC:tests/unit/syncwatch/%.c=$(BUILD)/asan/syncwatch/%)

EXTRA_BINS     += $(BUILD)/emailng-syncwatch
EXTRA_UNIT_BIN += $(SYNCWATCH_UNIT_BIN)
EXTRA_ASAN_BIN += $(SYNCWATCH_ASAN_BIN)

.PHONY: syncwatch

syncwatch: $(BUILD)/emailng-syncwatch

$(BUILD)/syncwatch-obj/%.o: %.c $(SYNCWATCH_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SYNCWATCH_CFLAGS) -c -o $@ $<

$(BUILD)/emailng-syncwatch: $(SYNCWATCH_ALL_SRC:%.c=$(BUILD)/syncwatch-obj/%.o) \
                            $(SYNCWATCH_LIB_SRC:%.c=$(BUILD)/syncwatch-obj/%.o)
	$(CC) $(CFLAGS) -o $@ $^ $(SYNCWATCH_LIBS)

$(BUILD)/tests/syncwatch/%: tests/unit/syncwatch/%.c $(SYNCWATCH_SRC) src/lib/buf.c src/lib/netaddr.c $(SYNCWATCH_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SYNCWATCH_CFLAGS) -o $@ $< $(SYNCWATCH_SRC) src/lib/buf.c src/lib/netaddr.c $(shell pkg-config --libs cmocka)

$(BUILD)/asan/syncwatch/%: tests/unit/syncwatch/%.c $(SYNCWATCH_SRC) src/lib/buf.c src/lib/netaddr.c $(SYNCWATCH_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -O1 $(SANITIZE) $(SYNCWATCH_CFLAGS) -o $@ $< $(SYNCWATCH_SRC) src/lib/buf.c src/lib/netaddr.c \
	  $(shell pkg-config --libs cmocka)

# emailng finds it next to itself (or on PATH): install it with emailng.
.PHONY: install-syncwatch
install: install-syncwatch

install-syncwatch: $(BUILD)/emailng-syncwatch
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD)/emailng-syncwatch $(DESTDIR)$(PREFIX)/sbin/emailng-syncwatch
