/*
 * Rate limiting per client address (an IPv6 client's /64): a fixed
 * one-minute window per address, in a bounded table in this process's
 * memory. Several rad processes (or a
 * restart) each count on their own: acceptable for this slice, see
 * ra/README.md. Called from the one HTTP thread; a mutex keeps it safe if
 * more threads are configured.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ra/extern.h"

#define RA_RL_SLOTS	4096	/* addresses tracked at once */
#define RA_RL_PROBES	8
#define RA_RL_WINDOW_S	60
#define RA_RL_ADDR_MAX	64	/* INET6_ADDRSTRLEN and more */

struct ra_rl_slot {
	char	addr[RA_RL_ADDR_MAX];
	time_t	start;
	long	count;
};

struct ra_ratelimit {
	pthread_mutex_t		 mu;
	long			 per_minute;
	struct ra_rl_slot	 slot[RA_RL_SLOTS];
};

struct ra_ratelimit *
ra_ratelimit_new(long per_minute)
{
	struct ra_ratelimit *rl;

	if ((rl = calloc(1, sizeof(*rl))) == NULL)
		return NULL;
	if (pthread_mutex_init(&rl->mu, NULL) != 0) {
		free(rl);
		return NULL;
	}
	rl->per_minute = per_minute;
	return rl;
}

void
ra_ratelimit_free(struct ra_ratelimit *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->mu);
	free(rl);
}

/* FNV-1a. */
static unsigned int
ra_rl_hash(const char *s)
{
	unsigned int h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/*
 * The key an address counts under: an IPv6 address's /64 (one subscriber
 * line or host usually holds a whole /64, and stepping through it would
 * start a fresh count for every request), an IPv4-mapped one as IPv4,
 * anything else as given.
 */
static void
ra_rl_key(const char *addr, char key[RA_RL_ADDR_MAX])
{
	struct in6_addr a6;
	char text[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET6, addr, &a6) != 1) {
		snprintf(key, RA_RL_ADDR_MAX, "%s", addr);
		return;
	}
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		inet_ntop(AF_INET, &a6.s6_addr[12], text, sizeof(text));
		snprintf(key, RA_RL_ADDR_MAX, "%s", text);
		return;
	}
	memset(&a6.s6_addr[8], 0, 8);
	inet_ntop(AF_INET6, &a6, text, sizeof(text));
	snprintf(key, RA_RL_ADDR_MAX, "%s/64", text);
}

long
ra_ratelimit_hit(struct ra_ratelimit *rl, const char *client, time_t now)
{
	struct ra_rl_slot *s, *victim = NULL;
	char addr[RA_RL_ADDR_MAX];
	unsigned int h;
	long wait = 0;
	int i;

	ra_rl_key(client, addr);
	h = ra_rl_hash(addr);

	pthread_mutex_lock(&rl->mu);
	for (i = 0; i < RA_RL_PROBES; i++) {
		s = &rl->slot[(h + (unsigned int)i) % RA_RL_SLOTS];
		if (strncmp(s->addr, addr, sizeof(s->addr)) == 0 &&
		    s->addr[0] != '\0') {
			victim = s;
			break;
		}
		/* Otherwise reuse the empty or least recently started slot. */
		if (victim == NULL || s->start < victim->start)
			victim = s;
	}
	s = victim;
	if (strncmp(s->addr, addr, sizeof(s->addr)) != 0 ||
	    now - s->start >= RA_RL_WINDOW_S || now < s->start) {
		snprintf(s->addr, sizeof(s->addr), "%s", addr);
		s->start = now;
		s->count = 0;
	}
	if (s->count >= rl->per_minute) {
		wait = s->start + RA_RL_WINDOW_S - now;
		if (wait < 1)
			wait = 1;
	} else
		s->count++;
	pthread_mutex_unlock(&rl->mu);
	return wait;
}
