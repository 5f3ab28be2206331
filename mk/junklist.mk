# emailng-junklist: the webmail's Junk buttons teach the user's spam lists (src/junklist/main.c, issue
# 13 C3): Roundcube's markasjunk plugin reports over a unix socket; it checks the
# user has mail from the sender and alone writes emailngSpamAllow/Deny.
# Included by the top Makefile; only appends to its variables.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

JUNKLIST_ALL_SRC = $(sort $(wildcard src/junklist/*.c))

EXTRA_BINS += $(BUILD)/emailng-junklist
ALL_OBJ    += $(JUNKLIST_ALL_SRC:%.c=$(OBJ)/%.o)
FLAGS_junklist-ld = $(JUNKLIST_ALL_SRC)

.PHONY: junklist

junklist: $(BUILD)/emailng-junklist

$(BUILD)/emailng-junklist: $(JUNKLIST_ALL_SRC:%.c=$(OBJ)/%.o) $(LIB) $(FLAGS)/ld $(FLAGS)/junklist-ld
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(JUNKLIST_ALL_SRC:%.c=$(OBJ)/%.o) $(LIB) $(ALL_LDLIBS)

# the webmail's Junk button needs it
e2e: $(BUILD)/emailng-junklist

.PHONY: install-junklist
install: install-junklist

install-junklist: $(BUILD)/emailng-junklist
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD)/emailng-junklist $(DESTDIR)$(PREFIX)/sbin/emailng-junklist
