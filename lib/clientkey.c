/* Per-client keys (lib/clientkey.h). */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>

#include "lib/clientkey.h"

void
client_key(const char *addr, char key[CLIENT_KEY_MAX])
{
	struct in6_addr a6;
	char text[INET6_ADDRSTRLEN];

	if (addr == NULL)
		addr = "";
	if (inet_pton(AF_INET6, addr, &a6) != 1) {
		snprintf(key, CLIENT_KEY_MAX, "%s", addr);
		return;
	}
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		inet_ntop(AF_INET, &a6.s6_addr[12], text, sizeof(text));
		snprintf(key, CLIENT_KEY_MAX, "%s", text);
		return;
	}
	memset(&a6.s6_addr[8], 0, 8);
	inet_ntop(AF_INET6, &a6, text, sizeof(text));
	snprintf(key, CLIENT_KEY_MAX, "%s/64", text);
}

unsigned int
client_key_hash(const char *key)
{
	unsigned int h = 2166136261u;

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h;
}
