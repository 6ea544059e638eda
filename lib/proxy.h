/*
 * The client behind a trusted reverse proxy. A daemon behind nginx (TLS,
 * caching; deploy/README.md "Behind a reverse proxy") sees every request
 * come from the proxy: per-address rate limits would then count every
 * subscriber as one, and audit events would name the proxy. When the peer
 * is one of <section>.trusted_proxies, the client is taken from
 * X-Forwarded-For instead, as nginx's realip module does: the rightmost
 * address there that is not itself a trusted proxy (a client may put
 * anything in the header; only what the trusted proxies appended counts).
 */
#ifndef PKI_PROXY_H
#define PKI_PROXY_H

#include <stddef.h>

struct proxy_set;

/*
 * Parses a list of addresses and CIDR prefixes separated by spaces or
 * commas ("127.0.0.1 10.0.0.0/8 ::1"). NULL or "" is the empty set (no
 * proxy trusted). NULL with a message in err on a bad entry.
 */
struct proxy_set	*proxy_set_parse(const char *list, char *err,
			    size_t errlen);
void			 proxy_set_free(struct proxy_set *);
/* How many entries the set holds. */
size_t			 proxy_set_count(const struct proxy_set *);
/* 1 when the numeric address addr is in the set, else 0. */
int			 proxy_set_has(const struct proxy_set *, const char *addr);

/* The peer on a unix socket (lib/http.h): trusted as a proxy is. */
#define PROXY_PEER_UNIX	"unix"

/*
 * The client's address into out (numeric, as inet_ntop writes it): peer
 * itself unless peer is trusted (one of the set, or PROXY_PEER_UNIX) and xff (the one X-Forwarded-For header;
 * NULL when absent) names one. xff is read from the right: trusted
 * proxies are skipped, the first other address is the client; an entry
 * that is not an address ends the walk at the last address read (the
 * proxy that appended it cannot vouch for more). nheaders > 1 (several
 * X-Forwarded-For headers, which no proxy of ours sends) counts as none.
 */
void			 proxy_client_addr(const struct proxy_set *,
			    const char *peer, const char *xff, int nheaders,
			    char *out, size_t outlen);

#endif
