/*
 * The key a client address counts under in a per-client limit (rad's rate
 * limits, ra/ratelimit.c; ocspd's on-demand signing budget, ocsp/budget.c),
 * and its hash for a bounded table of such keys.
 */
#ifndef PKI_CLIENTKEY_H
#define PKI_CLIENTKEY_H

#define CLIENT_KEY_MAX	64	/* INET6_ADDRSTRLEN, "/64" and more */

/*
 * An IPv6 address's /64 (one subscriber line or host usually holds a
 * whole /64, and stepping through it would start a fresh count for every
 * request), an IPv4-mapped one as IPv4, anything else as given (NULL as
 * "").
 */
void		client_key(const char *addr, char key[CLIENT_KEY_MAX]);

/* FNV-1a of key: where its probes in a table start. */
unsigned int	client_key_hash(const char *key);

#endif
