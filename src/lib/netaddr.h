/* netaddr: a numeric IPv4 or IPv6 address and a port as a socket address.
 * No name lookups: the daemons are configured with literal addresses. */
#ifndef EMAILNG_NETADDR_H
#define EMAILNG_NETADDR_H

#include <sys/socket.h>

/* 0, or -1 if host is not an IPv4/IPv6 literal. */
int netaddr_sockaddr(const char *host, int port, struct sockaddr_storage *sa, socklen_t *len);

#endif
