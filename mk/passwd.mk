# emailng-passwd: the webmail's password changes (src/passwd/main.c, issue
# 13 C3): Roundcube's password plugin asks it over a unix socket, with the
# user's current password; it alone writes userPassword.
# Included by the top Makefile; only appends to its variables.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

PASSWD_ALL_SRC = $(sort $(wildcard src/passwd/*.c))

EXTRA_BINS += $(BUILD)/emailng-passwd
ALL_OBJ    += $(PASSWD_ALL_SRC:%.c=$(OBJ)/%.o)
FLAGS_passwd-ld = $(PASSWD_ALL_SRC)

.PHONY: passwd

passwd: $(BUILD)/emailng-passwd

$(BUILD)/emailng-passwd: $(PASSWD_ALL_SRC:%.c=$(OBJ)/%.o) $(LIB) $(FLAGS)/ld $(FLAGS)/passwd-ld
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(PASSWD_ALL_SRC:%.c=$(OBJ)/%.o) $(LIB) $(ALL_LDLIBS)

# the webmail's password page needs it
e2e: $(BUILD)/emailng-passwd

.PHONY: install-passwd
install: install-passwd

install-passwd: $(BUILD)/emailng-passwd
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD)/emailng-passwd $(DESTDIR)$(PREFIX)/sbin/emailng-passwd
