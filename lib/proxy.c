/*
 * Trusted reverse proxies and X-Forwarded-For (lib/proxy.h).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/proxy.h"

#define PROXY_MAX		32	/* entries of a set */
#define PROXY_ENTRY_MAX		64	/* characters of one entry */

struct proxy_net {
	int		family;		/* AF_INET, AF_INET6 */
	unsigned char	addr[16];
	unsigned int	prefix;		/* bits */
};

struct proxy_set {
	size_t			n;
	struct proxy_net	nets[PROXY_MAX];
};

/* A numeric IPv4 or IPv6 address (no brackets, no port); 0 or -1. */
static int
proxy_addr_parse(const char *s, int *family, unsigned char addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -1;
}

static int
proxy_net_has(const struct proxy_net *n, int family,
    const unsigned char addr[16])
{
	unsigned int full = n->prefix / 8, rest = n->prefix % 8;
	unsigned char mask;

	if (n->family != family || memcmp(n->addr, addr, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (n->addr[full] & mask) == (addr[full] & mask);
}

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 one. */
static void
proxy_unmap(int *family, unsigned char addr[16])
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0xff, 0xff };

	if (*family == AF_INET6 && memcmp(addr, mapped, 12) == 0) {
		memmove(addr, addr + 12, 4);
		memset(addr + 4, 0, 12);
		*family = AF_INET;
	}
}

static int
proxy_set_has_addr(const struct proxy_set *set, int family,
    unsigned char addr[16])
{
	size_t i;

	proxy_unmap(&family, addr);
	for (i = 0; set != NULL && i < set->n; i++)
		if (proxy_net_has(&set->nets[i], family, addr))
			return 1;
	return 0;
}

struct proxy_set *
proxy_set_parse(const char *list, char *err, size_t errlen)
{
	struct proxy_set *set;
	struct proxy_net *n;
	char word[PROXY_ENTRY_MAX + 1], *slash, *end;
	const char *p = list == NULL ? "" : list;
	unsigned long bits;
	size_t len;

	if ((set = calloc(1, sizeof(*set))) == NULL) {
		snprintf(err, errlen, "calloc: %s", strerror(errno));
		return NULL;
	}
	for (;;) {
		p += strspn(p, " \t,");
		if (*p == '\0')
			break;
		len = strcspn(p, " \t,");
		if (len > PROXY_ENTRY_MAX || set->n == PROXY_MAX) {
			snprintf(err, errlen, "trusted_proxies: at most %d "
			    "entries of %d characters", PROXY_MAX,
			    PROXY_ENTRY_MAX);
			goto fail;
		}
		memcpy(word, p, len);
		word[len] = '\0';
		p += len;
		n = &set->nets[set->n];
		if ((slash = strchr(word, '/')) != NULL)
			*slash = '\0';
		if (proxy_addr_parse(word, &n->family, n->addr) == -1) {
			snprintf(err, errlen, "trusted_proxies: \"%s\" is not "
			    "a numeric IPv4 or IPv6 address", word);
			goto fail;
		}
		n->prefix = n->family == AF_INET ? 32 : 128;
		if (slash != NULL) {
			errno = 0;
			bits = strtoul(slash + 1, &end, 10);
			if (slash[1] < '0' || slash[1] > '9' || *end != '\0' ||
			    errno != 0 || bits > n->prefix) {
				snprintf(err, errlen, "trusted_proxies: bad "
				    "prefix length in \"%s/%s\"", word,
				    slash + 1);
				goto fail;
			}
			n->prefix = (unsigned int)bits;
		}
		/* ::ffff:a.b.c.d[/96+n] is the IPv4 a.b.c.d[/n]: peers are unmapped. */
		if (n->family == AF_INET6 && n->prefix >= 96) {
			unsigned int bits6 = n->prefix;

			proxy_unmap(&n->family, n->addr);
			if (n->family == AF_INET)
				n->prefix = bits6 - 96;
		}
		set->n++;
	}
	return set;
fail:
	free(set);
	return NULL;
}

void
proxy_set_free(struct proxy_set *set)
{
	free(set);
}

size_t
proxy_set_count(const struct proxy_set *set)
{
	return set == NULL ? 0 : set->n;
}

int
proxy_set_has(const struct proxy_set *set, const char *addr)
{
	unsigned char a[16];
	int family;

	if (addr == NULL || proxy_addr_parse(addr, &family, a) == -1)
		return 0;
	return proxy_set_has_addr(set, family, a);
}

void
proxy_client_addr(const struct proxy_set *set, const char *peer,
    const char *xff, int nheaders, char *out, size_t outlen)
{
	char word[INET6_ADDRSTRLEN + 1], text[INET6_ADDRSTRLEN];
	unsigned char a[16];
	const char *end, *start, *seg;
	size_t len;
	int family, trusted;

	/* The peer as the client, unmapped (::ffff:a.b.c.d is a.b.c.d). */
	snprintf(out, outlen, "%s", peer);
	if (strcmp(peer, PROXY_PEER_UNIX) == 0)
		trusted = 1;	/* the socket's permissions chose the peer */
	else {
		if (proxy_addr_parse(peer, &family, a) == -1)
			return;
		proxy_unmap(&family, a);
		if (inet_ntop(family, a, text, sizeof(text)) != NULL)
			snprintf(out, outlen, "%s", text);
		trusted = proxy_set_has_addr(set, family, a);
	}
	if (xff == NULL || nheaders != 1 || !trusted)
		return;
	end = xff + strlen(xff);
	while (end > xff) {
		/* The entry before end: back to the previous comma. */
		for (seg = end; seg > xff && seg[-1] != ','; seg--)
			;
		start = seg;
		while (start < end && (*start == ' ' || *start == '\t'))
			start++;
		len = (size_t)(end - start);
		while (len > 0 && (start[len - 1] == ' ' ||
		    start[len - 1] == '\t'))
			len--;
		if (len == 0 || len >= sizeof(word))
			return;		/* not an address: stop at the last one */
		memcpy(word, start, len);
		word[len] = '\0';
		if (proxy_addr_parse(word, &family, a) == -1)
			return;
		proxy_unmap(&family, a);
		if (inet_ntop(family, a, text, sizeof(text)) == NULL)
			return;
		snprintf(out, outlen, "%s", text);
		if (!proxy_set_has_addr(set, family, a) || seg == xff)
			return;		/* the client, or all trusted: the leftmost */
		end = seg - 1;		/* the comma */
	}
}
