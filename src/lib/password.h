/* password: hashing, reading and generating user passwords.
 *
 * password_hash() produces "{CRYPT}$y$..." (yescrypt with a fresh salt from
 * libxcrypt's crypt_gensalt_ra()), the form slapd and Dovecot both verify
 * through crypt(3).  It fails closed: a libxcrypt failure token ("*0"...)
 * is never returned as a hash.
 * password_verify() returns 1 if PLAIN matches STORED ("{CRYPT}..." or a
 * bare crypt string), 0 otherwise (including malformed STORED).
 * password_read() reads one password, never from argv: with from_stdin,
 * one line from standard input (newline stripped; empty, NUL-containing or
 * longer than PASSWORD_MAX bytes refused); otherwise from /dev/tty with
 * echo off, asked twice and compared.
 * password_generate() replaces out with PASSWORD_GENERATED_LEN characters
 * drawn uniformly (getrandom(2)) from letters and digits without the
 * look-alikes 0 o O 1 l I; returns -1 only if the kernel gives no randomness.
 * password_wipe() overwrites a buffer that held a password, then frees it.
 *
 * Functions returning int give 0 (or 1 for a match) on success; on failure
 * err is replaced with a one-line reason.  Links with -lcrypt (libxcrypt). */
#ifndef EMAILNG_PASSWORD_H
#define EMAILNG_PASSWORD_H

#include "buf.h"

#define PASSWORD_MAX 1024
#define PASSWORD_GENERATED_LEN 16

int password_hash(const char *plain, buf *out, buf *err);
int password_verify(const char *plain, const char *stored);
int password_read(const char *prompt, int from_stdin, buf *out, buf *err);
int password_generate(buf *out);
/* Makes a site secret once: unless file exists, writes `halves` generated
 * passwords joined (and a newline if asked) to it, 0600, its folder made
 * 0700. The same file then serves every later run and, copied, every host. */
int password_file_ensure(const char *file, int halves, int newline, buf *err);
void password_wipe(buf *b);

#endif
