/*
 * Rate limiting per client address (an IPv6 client's /64): a fixed
 * one-minute window per address, in a bounded table in this process's
 * memory. Several rad processes (or a
 * restart) each count on their own: acceptable for this slice, see
 * ra/README.md. Called from the one HTTP thread; a mutex keeps it safe if
 * more threads are configured.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clientkey.h"
#include "ra/extern.h"

#define RA_RL_SLOTS	4096	/* addresses tracked at once */
#define RA_RL_PROBES	8
#define RA_RL_WINDOW_S	60

struct ra_rl_slot {
	char	addr[CLIENT_KEY_MAX];
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

long
ra_ratelimit_hit(struct ra_ratelimit *rl, const char *client, time_t now)
{
	struct ra_rl_slot *s, *victim = NULL;
	char addr[CLIENT_KEY_MAX];
	unsigned int h;
	long wait = 0;
	int i;

	client_key(client, addr);
	h = client_key_hash(addr);

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

/*
 * The token bucket of password hashing (ra_bucket_take): tokens are kept
 * in thousandths, so that a rate of a few a second refills by the
 * millisecond without floating point.
 */
void
ra_bucket_init(struct ra_bucket *b, long rate, long burst, long long now_ms)
{
	memset(b, 0, sizeof(*b));
	b->rate = rate;
	b->burst = burst;
	b->milli = (long long)burst * 1000;
	b->at_ms = now_ms;
}

long
ra_bucket_take(struct ra_bucket *b, long n, long long now_ms)
{
	long long cap = (long long)b->burst * 1000, need = (long long)n * 1000;
	long long wait_ms;

	if (now_ms > b->at_ms) {
		/* Past a full refill the sum could only overflow: cap it. */
		if ((now_ms - b->at_ms) >= cap / b->rate + 1)
			b->milli = cap;
		else if ((b->milli += (now_ms - b->at_ms) * b->rate) > cap)
			b->milli = cap;
		b->at_ms = now_ms;
	}
	if (b->milli >= need) {
		b->milli -= need;
		return 0;
	}
	if (need > cap)		/* never: more than a full bucket */
		return LONG_MAX;
	/* Whole seconds until need is there, at least 1. */
	wait_ms = (need - b->milli + b->rate - 1) / b->rate;
	return (long)((wait_ms + 999) / 1000);
}
