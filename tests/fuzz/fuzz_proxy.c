/*
 * libFuzzer harness for lib/proxy.c: the trusted_proxies list (from the
 * configuration) and X-Forwarded-For (from anyone who reaches a proxy).
 * Input: the list, a NUL byte, the header value. Whatever comes, the client
 * is the peer (an address, or "unix") or a numeric address that inet_pton
 * reads back.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/proxy.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* PROXY_PEER_UNIX: a unix socket's peer, trusted whatever the set. */
	static const char *const peers[] = { "127.0.0.1", "10.1.2.3", "::1",
	    PROXY_PEER_UNIX };
	struct proxy_set *set;
	unsigned char a[16];
	char *buf, *xff, out[64], err[128];
	size_t i;

	if (size > 4096 || (buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	xff = memchr(buf, '\0', size) != NULL && strlen(buf) < size ?
	    buf + strlen(buf) + 1 : NULL;
	/* A list that does not parse: the built-in one, so the walk is fuzzed too. */
	if ((set = proxy_set_parse(buf, err, sizeof(err))) == NULL &&
	    (set = proxy_set_parse("127.0.0.0/8 10.0.0.0/8 ::1", err,
	    sizeof(err))) == NULL)
		__builtin_trap();
	for (i = 0; i < sizeof(peers) / sizeof(peers[0]); i++) {
		proxy_client_addr(set, peers[i], xff != NULL ? xff : buf, 1,
		    out, sizeof(out));
		if (strcmp(out, peers[i]) != 0 &&
		    inet_pton(AF_INET, out, a) != 1 &&
		    inet_pton(AF_INET6, out, a) != 1)
			__builtin_trap();
		/* Several headers: never read. */
		proxy_client_addr(set, peers[i], buf, 2, out, sizeof(out));
		if (strcmp(out, peers[i]) != 0)
			__builtin_trap();
	}
	proxy_set_free(set);
	free(buf);
	return 0;
}
