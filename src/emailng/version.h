/* The version `emailng --version` prints (and the man page names). */
#ifndef EMAILNG_VERSION_H
#define EMAILNG_VERSION_H

#define EMAILNG_VERSION "0.9.0"

#endif
