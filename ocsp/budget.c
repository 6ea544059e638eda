/*
 * The on-demand signing budget (ocsp/README.md "On-demand signing"):
 * token buckets of live signatures, one for all clients together and one
 * per client address (an IPv6 client's /64), each refilled at its rate a
 * second and holding at most one second's worth. Asked only when an answer
 * needs a signature (a nonce, several CertIDs, a serial not pre-signed),
 * never on the cached path. The per-client buckets live in a bounded table
 * (OCSP_BUDGET_SLOTS, OCSP_BUDGET_PROBES probes): a client not seen
 * recently may lose its bucket to a new one and start again full, which
 * favours it, never another; the bucket of all clients bounds the total
 * whatever the number of addresses. One mutex, taken only on the live
 * path, where a signature costs far more.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clientkey.h"
#include "lib/log.h"
#include "ocsp/extern.h"

#define OCSP_BUDGET_SLOTS	4096	/* client addresses tracked at once */
#define OCSP_BUDGET_PROBES	8
#define OCSP_BUDGET_TOKEN	1000	/* a signature, in thousandths */

/* A token bucket: thousandths of a signature, as of at_ms. */
struct ocsp_bucket {
	int64_t		 tokens;
	long long	 at_ms;
};

struct ocsp_budget_slot {
	char			 key[CLIENT_KEY_MAX];
	struct ocsp_bucket	 b;
};

struct ocsp_budget {
	pthread_mutex_t		 mu;
	long			 per_second;	/* all clients; 0: no bound */
	long			 per_client;	/* each client; 0: no bound */
	struct ocsp_bucket	 all;
	/* Refusals since the last log line, and in all (/health). */
	unsigned long		 nonce_dropped, try_later;
	uint64_t		 total_dropped, total_try_later;
	long long		 logged_ms;	/* -1: never */
	int			 last_all;	/* the last refusal: all clients */
	char			 last_key[CLIENT_KEY_MAX];
	struct ocsp_budget_slot	*slot;		/* per_client > 0 */
};

struct ocsp_budget *
ocsp_budget_new(long per_second, long per_client)
{
	struct ocsp_budget *b;

	if (per_second < 0 || per_client < 0 ||
	    (b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	if (pthread_mutex_init(&b->mu, NULL) != 0) {
		free(b);
		return NULL;
	}
	if (per_client > 0 && (b->slot = calloc(OCSP_BUDGET_SLOTS,
	    sizeof(*b->slot))) == NULL) {
		pthread_mutex_destroy(&b->mu);
		free(b);
		return NULL;
	}
	b->per_second = per_second;
	b->per_client = per_client;
	b->all.tokens = (int64_t)per_second * OCSP_BUDGET_TOKEN;
	b->all.at_ms = -1;
	b->logged_ms = -1;
	return b;
}

void
ocsp_budget_free(struct ocsp_budget *b)
{
	if (b == NULL)
		return;
	pthread_mutex_destroy(&b->mu);
	free(b->slot);
	free(b);
}

/*
 * Refills bucket k of rate (a second) to now, at most one second's worth
 * (at least one signature); 1 when it holds a signature, 0 when not.
 */
static int
ocsp_bucket_has(struct ocsp_bucket *k, long rate, long long now_ms)
{
	int64_t cap = (int64_t)rate * OCSP_BUDGET_TOKEN;

	if (cap < OCSP_BUDGET_TOKEN)
		cap = OCSP_BUDGET_TOKEN;
	/* A clock that went back refills nothing. */
	if (k->at_ms >= 0 && now_ms > k->at_ms) {
		if (now_ms - k->at_ms >= 1000)
			k->tokens = cap;
		else
			k->tokens += (int64_t)(now_ms - k->at_ms) * rate;
	}
	if (k->tokens > cap)
		k->tokens = cap;
	k->at_ms = now_ms;
	return k->tokens >= OCSP_BUDGET_TOKEN;
}

/* client's bucket, made (full) when it has none; under b->mu. */
static struct ocsp_bucket *
ocsp_budget_client_locked(struct ocsp_budget *b, const char *key)
{
	struct ocsp_budget_slot *s, *victim = NULL;
	unsigned int h = client_key_hash(key);
	int i;

	for (i = 0; i < OCSP_BUDGET_PROBES; i++) {
		s = &b->slot[(h + (unsigned int)i) % OCSP_BUDGET_SLOTS];
		if (s->key[0] != '\0' && strcmp(s->key, key) == 0)
			return &s->b;
		/* Else the empty slot, or the one idle longest. */
		if (victim == NULL || (victim->key[0] != '\0' &&
		    (s->key[0] == '\0' || s->b.at_ms < victim->b.at_ms)))
			victim = s;
	}
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	victim->b.tokens = (int64_t)b->per_client * OCSP_BUDGET_TOKEN;
	victim->b.at_ms = -1;
	return &victim->b;
}

int
ocsp_budget_take(struct ocsp_budget *b, const char *client, long long now_ms)
{
	struct ocsp_bucket *c = NULL;
	char key[CLIENT_KEY_MAX];
	int ok = 1;

	if (b == NULL)
		return 1;
	client_key(client, key);
	pthread_mutex_lock(&b->mu);
	if (b->per_client > 0) {
		c = ocsp_budget_client_locked(b, key);
		if (!ocsp_bucket_has(c, b->per_client, now_ms)) {
			ok = 0;
			b->last_all = 0;
		}
	}
	if (ok && b->per_second > 0 &&
	    !ocsp_bucket_has(&b->all, b->per_second, now_ms)) {
		ok = 0;
		b->last_all = 1;
	}
	if (ok) {
		if (c != NULL)
			c->tokens -= OCSP_BUDGET_TOKEN;
		if (b->per_second > 0)
			b->all.tokens -= OCSP_BUDGET_TOKEN;
	} else
		snprintf(b->last_key, sizeof(b->last_key), "%s", key);
	pthread_mutex_unlock(&b->mu);
	return ok;
}

void
ocsp_budget_refused(struct ocsp_budget *b, int nonce_dropped,
    long long now_ms)
{
	if (b == NULL)
		return;
	pthread_mutex_lock(&b->mu);
	if (nonce_dropped) {
		b->nonce_dropped++;
		b->total_dropped++;
	} else {
		b->try_later++;
		b->total_try_later++;
	}
	if (b->logged_ms < 0 || now_ms - b->logged_ms >= OCSP_BUDGET_LOG_MS ||
	    now_ms < b->logged_ms) {
		log_warn("ocsp: on-demand signing over budget "
		    "(ocsp.live_per_second %ld, ocsp.live_per_client_per_second "
		    "%ld): %lu answer(s) without their nonce from the cache, "
		    "%lu tryLater since the last such line; the last refused: "
		    "%s", b->per_second, b->per_client, b->nonce_dropped,
		    b->try_later, b->last_all ? "all clients together" :
		    b->last_key);
		b->nonce_dropped = b->try_later = 0;
		b->logged_ms = now_ms;
	}
	pthread_mutex_unlock(&b->mu);
}

void
ocsp_budget_counts(struct ocsp_budget *b, uint64_t *nonce_dropped,
    uint64_t *try_later)
{
	*nonce_dropped = *try_later = 0;
	if (b == NULL)
		return;
	pthread_mutex_lock(&b->mu);
	*nonce_dropped = b->total_dropped;
	*try_later = b->total_try_later;
	pthread_mutex_unlock(&b->mu);
}
