/*
 * Pre-signed responses in memory: a hash table keyed by issuer + serial,
 * split in OCSP_SHARDS shards with one mutex each, so a lookup (the hot
 * path) takes one uncontended lock for a few hundred nanoseconds and leaves
 * with a reference to an immutable blob. Signing never happens under a lock:
 * the refresher collects work with ocsp_cache_due(), signs, and stores with
 * ocsp_cache_put(), which refuses a blob signed for a status that changed
 * meanwhile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "ocsp/extern.h"

#define OCSP_SHARDS		64
#define OCSP_INIT_BUCKETS	64

struct ocsp_entry {
	struct ocsp_entry	*next;
	int			 issuer;
	struct ocsp_status	 st;
	/*
	 * When each hash was last asked for (Unix time, 0: never): a SHA-2
	 * CertID response is kept and refreshed while it is asked for at
	 * least once a refresh period, then dropped (ocsp_cache_due); a
	 * permanent mark let any client add three signatures per
	 * certificate and refresh for ever. SHA-1 (RFC 5019) is always kept.
	 */
	uint32_t		 asked[OCSP_NHASH];
	struct ocsp_blob	*blob[OCSP_NHASH];
	char			 serial[];
};

struct ocsp_shard {
	pthread_mutex_t		 mtx;
	struct ocsp_entry	**buckets;
	size_t			 nbuckets;
	size_t			 n;
	size_t			 scan;		/* ocsp_cache_due resumes here */
	/*
	 * The status of each issuer's own certificate
	 * (ocsp_cache_set_ca_status), a copy in every shard: read under the
	 * lock that guards the entries it applies to, so that a blob signed
	 * under an older one is refused by ocsp_cache_put.
	 */
	struct ocsp_status	 ca[OCSP_MAX_ISSUERS];
} __attribute__((aligned(64)));

struct ocsp_cache {
	struct ocsp_shard	 shard[OCSP_SHARDS];
	size_t			 nonissued;	/* atomic: never-issued entries */
	size_t			 nonissued_blobs;	/* atomic: their blobs */
	unsigned int		 next_shard;	/* ocsp_cache_due */
	/* ocsp_cache_stats: the last count, and the one thread counting. */
	pthread_mutex_t		 stats_mtx;	/* guards stats, stats_at */
	pthread_mutex_t		 count_mtx;	/* held while counting */
	struct ocsp_cache_stats	 stats;
	time_t			 stats_at;	/* the now of the last count */
	int			 stats_ok;	/* a count was made */
};

void
ocsp_http_date(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

struct ocsp_blob *
ocsp_blob_new(const unsigned char *der, size_t len, int64_t this_update,
    int64_t next_update, long max_age)
{
	struct ocsp_blob *b;
	unsigned char md[32];
	unsigned int mdlen = 0;
	int i;

	if ((b = malloc(sizeof(*b) + len)) == NULL)
		return NULL;
	memset(b, 0, sizeof(*b));
	b->refs = 1;
	b->this_update = this_update;
	b->next_update = next_update;
	b->max_age = max_age;
	b->len = len;
	memcpy(b->der, der, len);
	/* RFC 5019 §6.2: an entity tag from the response bytes. */
	if (EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) != 1) {
		free(b);
		return NULL;
	}
	b->etag[0] = '"';
	for (i = 0; i < 8; i++)
		snprintf(b->etag + 1 + 2 * i, 3, "%02x", md[i]);
	b->etag[17] = '"';
	b->etag[18] = '\0';
	ocsp_http_date(this_update, b->last_modified, sizeof(b->last_modified));
	return b;
}

long
ocsp_blob_max_age(const struct ocsp_blob *b, time_t now, char *expires,
    size_t len)
{
	long age = b->max_age;

	if (b->next_update - now < age)
		age = (long)(b->next_update - now);
	if (age < 0)
		age = 0;
	ocsp_http_date((int64_t)now + age, expires, len);
	return age;
}

void
ocsp_blob_ref(struct ocsp_blob *b)
{
	__atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
}

void
ocsp_blob_unref(struct ocsp_blob *b)
{
	if (b != NULL && __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(b);
}

/* FNV-1a over the issuer index and the serial. */
static uint64_t
ocsp_key_hash(int issuer, const char *serial)
{
	uint64_t h = 1469598103934665603ULL;

	h = (h ^ (uint64_t)(unsigned int)issuer) * 1099511628211ULL;
	for (; *serial != '\0'; serial++)
		h = (h ^ (unsigned char)*serial) * 1099511628211ULL;
	return h;
}

struct ocsp_cache *
ocsp_cache_new(void)
{
	struct ocsp_cache *c;
	int i, k;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	pthread_mutex_init(&c->stats_mtx, NULL);
	pthread_mutex_init(&c->count_mtx, NULL);
	for (i = 0; i < OCSP_SHARDS; i++) {
		pthread_mutex_init(&c->shard[i].mtx, NULL);
		for (k = 0; k < OCSP_MAX_ISSUERS; k++)
			c->shard[i].ca[k].reason = -1;
		c->shard[i].nbuckets = OCSP_INIT_BUCKETS;
		if ((c->shard[i].buckets = calloc(OCSP_INIT_BUCKETS,
		    sizeof(struct ocsp_entry *))) == NULL) {
			ocsp_cache_free(c);
			return NULL;
		}
	}
	return c;
}

static void
ocsp_entry_free(struct ocsp_entry *e)
{
	int h;

	for (h = 0; h < OCSP_NHASH; h++)
		ocsp_blob_unref(e->blob[h]);
	free(e);
}

/* The blobs an entry holds (never-issued ones count against the bound). */
static size_t
ocsp_entry_nblobs(const struct ocsp_entry *e)
{
	size_t n = 0;
	int h;

	for (h = 0; h < OCSP_NHASH; h++)
		if (e->blob[h] != NULL)
			n++;
	return n;
}

void
ocsp_cache_free(struct ocsp_cache *c)
{
	struct ocsp_entry *e, *next;
	size_t b;
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < OCSP_SHARDS; i++) {
		for (b = 0; c->shard[i].buckets != NULL &&
		    b < c->shard[i].nbuckets; b++) {
			for (e = c->shard[i].buckets[b]; e != NULL; e = next) {
				next = e->next;
				ocsp_entry_free(e);
			}
		}
		free(c->shard[i].buckets);
		pthread_mutex_destroy(&c->shard[i].mtx);
	}
	pthread_mutex_destroy(&c->stats_mtx);
	pthread_mutex_destroy(&c->count_mtx);
	free(c);
}

/* The shard of a key, and its bucket: low bits pick the shard. */
static struct ocsp_shard *
ocsp_shard_of(struct ocsp_cache *c, uint64_t h)
{
	return &c->shard[h % OCSP_SHARDS];
}

static struct ocsp_entry **
ocsp_find_locked(struct ocsp_shard *s, uint64_t h, int issuer,
    const char *serial)
{
	struct ocsp_entry **pe;

	for (pe = &s->buckets[(h / OCSP_SHARDS) % s->nbuckets]; *pe != NULL;
	    pe = &(*pe)->next)
		if ((*pe)->issuer == issuer && strcmp((*pe)->serial, serial) == 0)
			return pe;
	return pe;
}

/* Doubles the bucket array when the load passes 1; failure is harmless. */
static void
ocsp_grow_locked(struct ocsp_shard *s)
{
	struct ocsp_entry **nb, *e, *next;
	size_t i, n = s->nbuckets * 2, j;

	if (s->n < s->nbuckets)
		return;
	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		return;
	for (i = 0; i < s->nbuckets; i++) {
		for (e = s->buckets[i]; e != NULL; e = next) {
			next = e->next;
			j = (ocsp_key_hash(e->issuer, e->serial) / OCSP_SHARDS) % n;
			e->next = nb[j];
			nb[j] = e;
		}
	}
	free(s->buckets);
	s->buckets = nb;
	s->nbuckets = n;
	s->scan = 0;
}

static struct ocsp_entry *
ocsp_insert_locked(struct ocsp_shard *s, struct ocsp_entry **pe, int issuer,
    const char *serial, const struct ocsp_status *st)
{
	struct ocsp_entry *e;
	size_t len = strlen(serial);

	if ((e = calloc(1, sizeof(*e) + len + 1)) == NULL)
		return NULL;
	e->issuer = issuer;
	e->st = *st;
	memcpy(e->serial, serial, len + 1);
	*pe = e;
	s->n++;
	ocsp_grow_locked(s);
	return e;
}

void
ocsp_status_under_ca(const struct ocsp_status *own,
    const struct ocsp_status *ca, struct ocsp_status *out)
{
	int hold = ca->reason == OCSP_REVOKED_STATUS_CERTIFICATEHOLD;

	*out = *own;
	out->ca_over = OCSP_CA_OWN;
	if (ca->state != OCSP_STATE_REVOKED)
		return;
	/*
	 * Revoked or held itself before the CA was revoked: its own time,
	 * reason and invalidity date, the earlier revocationTime (a
	 * signature made during a leaf's hold must not seem to predate every
	 * revocation, and the CA's CRL lists the hold). A tie: a leaf
	 * revoked for good keeps its own, one on hold gets the CA's, which
	 * no release undoes. Under a CA on hold, any of its own.
	 */
	if (own->state == OCSP_STATE_REVOKED && (hold ||
	    own->revoked_at < ca->revoked_at ||
	    (own->revoked_at == ca->revoked_at &&
	    own->reason != OCSP_REVOKED_STATUS_CERTIFICATEHOLD)))
		return;
	out->state = OCSP_STATE_REVOKED;
	out->reason = hold ? OCSP_REVOKED_STATUS_CERTIFICATEHOLD :
	    OCSP_REVOKED_STATUS_CACOMPROMISE;
	out->revoked_at = ca->revoked_at;
	out->invalidity = 0;
	out->ca_over = own->state == OCSP_STATE_NONISSUED ?
	    OCSP_CA_OVER_NONISSUED : OCSP_CA_OVER_ISSUED;
}

int
ocsp_status_nonissued(const struct ocsp_status *st)
{
	return st->state == OCSP_STATE_NONISSUED ||
	    st->ca_over == OCSP_CA_OVER_NONISSUED;
}

/* What an entry answers: its own status under its issuer's. */
static void
ocsp_entry_status_locked(const struct ocsp_shard *s,
    const struct ocsp_entry *e, struct ocsp_status *st)
{
	if (e->issuer < 0 || e->issuer >= OCSP_MAX_ISSUERS) {
		*st = e->st;
		return;
	}
	ocsp_status_under_ca(&e->st, &s->ca[e->issuer], st);
}

int
ocsp_cache_lookup(struct ocsp_cache *c, int issuer, const char *serial,
    int hash, time_t now, struct ocsp_status *st, struct ocsp_blob **blob)
{
	uint64_t h = ocsp_key_hash(issuer, serial);
	struct ocsp_shard *s = ocsp_shard_of(c, h);
	struct ocsp_entry *e;
	struct ocsp_blob *b;
	int rc = OCSP_CACHE_MISS;

	*blob = NULL;
	pthread_mutex_lock(&s->mtx);
	if ((e = *ocsp_find_locked(s, h, issuer, serial)) == NULL)
		goto out;
	ocsp_entry_status_locked(s, e, st);
	rc = OCSP_CACHE_STATUS;
	if (hash < 0 || hash >= OCSP_NHASH)
		goto out;
	if (e->asked[hash] != (uint32_t)now)
		e->asked[hash] = (uint32_t)now;
	if ((b = e->blob[hash]) != NULL && now < b->next_update) {
		ocsp_blob_ref(b);
		*blob = b;
		rc = OCSP_CACHE_HIT;
	}
out:
	pthread_mutex_unlock(&s->mtx);
	return rc;
}

static int
ocsp_status_eq(const struct ocsp_status *a, const struct ocsp_status *b)
{
	return a->state == b->state && a->reason == b->reason &&
	    a->revoked_at == b->revoked_at && a->invalidity == b->invalidity &&
	    a->ca_over == b->ca_over;
}

int
ocsp_cache_set_status(struct ocsp_cache *c, int issuer, const char *serial,
    const struct ocsp_status *st)
{
	uint64_t h = ocsp_key_hash(issuer, serial);
	struct ocsp_shard *s = ocsp_shard_of(c, h);
	struct ocsp_entry **pe, *e;
	int i, rc = -1;

	pthread_mutex_lock(&s->mtx);
	pe = ocsp_find_locked(s, h, issuer, serial);
	if ((e = *pe) == NULL) {
		if (ocsp_insert_locked(s, pe, issuer, serial, st) == NULL)
			goto out;
		rc = 1;
		goto out;
	}
	if (ocsp_status_eq(&e->st, st)) {
		if (st->not_after != 0)
			e->st.not_after = st->not_after;
		rc = 0;
		goto out;
	}
	if (e->st.state == OCSP_STATE_NONISSUED) {
		__atomic_sub_fetch(&c->nonissued, 1, __ATOMIC_RELAXED);
		__atomic_sub_fetch(&c->nonissued_blobs, ocsp_entry_nblobs(e),
		    __ATOMIC_RELAXED);
	}
	e->st = *st;
	for (i = 0; i < OCSP_NHASH; i++) {
		ocsp_blob_unref(e->blob[i]);
		e->blob[i] = NULL;
	}
	rc = 1;
out:
	pthread_mutex_unlock(&s->mtx);
	return rc;
}

int
ocsp_cache_put(struct ocsp_cache *c, int issuer, const char *serial, int hash,
    const struct ocsp_status *st, struct ocsp_blob *blob, long max_nonissued)
{
	uint64_t h = ocsp_key_hash(issuer, serial);
	struct ocsp_shard *s = ocsp_shard_of(c, h);
	struct ocsp_entry **pe, *e;
	struct ocsp_status now, own;
	int added, nonissued, rc = 1;

	if (hash < 0 || hash >= OCSP_NHASH || issuer < 0 ||
	    issuer >= OCSP_MAX_ISSUERS)
		return 1;
	nonissued = ocsp_status_nonissued(st);
	pthread_mutex_lock(&s->mtx);
	pe = ocsp_find_locked(s, h, issuer, serial);
	e = *pe;
	/* What the entry answers now (a never-issued one when absent). */
	memset(&own, 0, sizeof(own));
	own.state = OCSP_STATE_NONISSUED;
	own.reason = -1;
	if (e != NULL)
		ocsp_entry_status_locked(s, e, &now);
	else
		ocsp_status_under_ca(&own, &s->ca[issuer], &now);
	if ((e == NULL && !nonissued) || !ocsp_status_eq(&now, st))
		goto out;
	/* Keep the newer of two blobs signed concurrently. */
	if (e != NULL && e->blob[hash] != NULL &&
	    e->blob[hash]->this_update > blob->this_update)
		goto out;
	/*
	 * The bound counts never-issued blobs, not serials: a serial asked
	 * with SHA-1, SHA-256, SHA-384 and SHA-512 CertIDs holds four.
	 */
	added = nonissued && (e == NULL || e->blob[hash] == NULL);
	if (added && __atomic_load_n(&c->nonissued_blobs, __ATOMIC_RELAXED) >=
	    (size_t)max_nonissued)
		goto out;
	if (e == NULL) {
		if ((e = ocsp_insert_locked(s, pe, issuer, serial, &own)) ==
		    NULL) {
			rc = -1;
			goto out;
		}
		__atomic_add_fetch(&c->nonissued, 1, __ATOMIC_RELAXED);
	}
	if (added)
		__atomic_add_fetch(&c->nonissued_blobs, 1, __ATOMIC_RELAXED);
	ocsp_blob_ref(blob);
	ocsp_blob_unref(e->blob[hash]);
	e->blob[hash] = blob;
	rc = 0;
out:
	pthread_mutex_unlock(&s->mtx);
	return rc;
}

/* Unlinks and frees the never-issued entry *pe (shard s locked). */
static void
ocsp_nonissued_drop_locked(struct ocsp_cache *c, struct ocsp_shard *s,
    struct ocsp_entry **pe)
{
	struct ocsp_entry *e = *pe;

	*pe = e->next;
	s->n--;
	__atomic_sub_fetch(&c->nonissued, 1, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&c->nonissued_blobs, ocsp_entry_nblobs(e),
	    __ATOMIC_RELAXED);
	ocsp_entry_free(e);
}

int
ocsp_cache_set_ca_status(struct ocsp_cache *c, int issuer,
    const struct ocsp_status *ca)
{
	struct ocsp_shard *s;
	struct ocsp_entry **pe, *e;
	struct ocsp_status st;
	size_t bk;
	int i, h, rc = 0;

	if (issuer < 0 || issuer >= OCSP_MAX_ISSUERS)
		return 0;
	memset(&st, 0, sizeof(st));
	st.state = ca->state == OCSP_STATE_REVOKED ? OCSP_STATE_REVOKED :
	    OCSP_STATE_GOOD;
	st.reason = st.state == OCSP_STATE_REVOKED ? ca->reason : -1;
	st.revoked_at = st.state == OCSP_STATE_REVOKED ? ca->revoked_at : 0;
	for (i = 0; i < OCSP_SHARDS; i++) {
		s = &c->shard[i];
		pthread_mutex_lock(&s->mtx);
		if (s->ca[issuer].state == st.state &&
		    s->ca[issuer].reason == st.reason &&
		    s->ca[issuer].revoked_at == st.revoked_at) {
			pthread_mutex_unlock(&s->mtx);
			continue;
		}
		s->ca[issuer] = st;
		rc = 1;
		for (bk = 0; bk < s->nbuckets; bk++) {
			pe = &s->buckets[bk];
			while ((e = *pe) != NULL) {
				if (e->issuer != issuer) {
					pe = &e->next;
					continue;
				}
				if (e->st.state == OCSP_STATE_NONISSUED) {
					ocsp_nonissued_drop_locked(c, s, pe);
					continue;
				}
				for (h = 0; h < OCSP_NHASH; h++) {
					ocsp_blob_unref(e->blob[h]);
					e->blob[h] = NULL;
				}
				pe = &e->next;
			}
		}
		pthread_mutex_unlock(&s->mtx);
	}
	return rc;
}

void
ocsp_cache_ca_status(struct ocsp_cache *c, int issuer, struct ocsp_status *ca)
{
	memset(ca, 0, sizeof(*ca));
	ca->reason = -1;
	if (issuer < 0 || issuer >= OCSP_MAX_ISSUERS)
		return;
	pthread_mutex_lock(&c->shard[0].mtx);
	*ca = c->shard[0].ca[issuer];
	pthread_mutex_unlock(&c->shard[0].mtx);
}

int
ocsp_cache_drop(struct ocsp_cache *c, int issuer, const char *serial)
{
	uint64_t h = ocsp_key_hash(issuer, serial);
	struct ocsp_shard *s = ocsp_shard_of(c, h);
	struct ocsp_entry **pe, *e;
	int rc = 0;

	pthread_mutex_lock(&s->mtx);
	pe = ocsp_find_locked(s, h, issuer, serial);
	if ((e = *pe) != NULL && e->st.state != OCSP_STATE_NONISSUED) {
		*pe = e->next;
		s->n--;
		ocsp_entry_free(e);
		rc = 1;
	}
	pthread_mutex_unlock(&s->mtx);
	return rc;
}

size_t
ocsp_cache_expire(struct ocsp_cache *c, int64_t cutoff)
{
	struct ocsp_shard *s;
	struct ocsp_entry **pe, *e;
	size_t bk, n = 0;
	int i;

	for (i = 0; i < OCSP_SHARDS; i++) {
		s = &c->shard[i];
		pthread_mutex_lock(&s->mtx);
		for (bk = 0; bk < s->nbuckets; bk++) {
			pe = &s->buckets[bk];
			while ((e = *pe) != NULL) {
				if (e->st.state == OCSP_STATE_NONISSUED ||
				    e->st.not_after == 0 ||
				    e->st.not_after > cutoff) {
					pe = &e->next;
					continue;
				}
				*pe = e->next;
				s->n--;
				ocsp_entry_free(e);
				n++;
			}
		}
		pthread_mutex_unlock(&s->mtx);
	}
	return n;
}

size_t
ocsp_cache_due(struct ocsp_cache *c, int64_t stale_before,
    int64_t asked_after, time_t now, struct ocsp_due *out, size_t max)
{
	struct ocsp_shard *s;
	struct ocsp_entry **pe, *e;
	struct ocsp_blob *b;
	size_t n = 0, walked = 0, held;
	unsigned int k, i;
	int hh, drop;

	for (k = 0; k < OCSP_SHARDS && n < max; k++) {
		i = (c->next_shard + k) % OCSP_SHARDS;
		s = &c->shard[i];
		pthread_mutex_lock(&s->mtx);
		held = 0;
		for (; s->scan < s->nbuckets && n < max; s->scan++) {
			if (walked == OCSP_DUE_BUDGET)
				break;	/* the next call goes on from here */
			if (held == OCSP_DUE_HOLD) {
				/*
				 * Lookups on this shard wait meanwhile. The
				 * cursor stays; a rehash meanwhile resets it.
				 */
				pthread_mutex_unlock(&s->mtx);
				pthread_mutex_lock(&s->mtx);
				held = 0;
				if (s->scan >= s->nbuckets)
					break;
			}
			held++;
			walked++;
			pe = &s->buckets[s->scan];
			while ((e = *pe) != NULL && n < max) {
				drop = 0;
				if (e->st.state == OCSP_STATE_NONISSUED) {
					/* Never refreshed: dropped once half-way to expiry. */
					for (hh = 0; hh < OCSP_NHASH; hh++) {
						b = e->blob[hh];
						if (b != NULL && b->next_update -
						    (b->next_update - b->this_update) / 2 <= now)
							drop = 1;
					}
					if (drop) {
						ocsp_nonissued_drop_locked(c, s, pe);
						continue;
					}
					pe = &e->next;
					continue;
				}
				for (hh = 0; hh < OCSP_NHASH && n < max; hh++) {
					if (hh != OCSP_HASH_SHA1 &&
					    (int64_t)e->asked[hh] <= asked_after) {
						/* Not asked for lately. */
						ocsp_blob_unref(e->blob[hh]);
						e->blob[hh] = NULL;
						continue;
					}
					b = e->blob[hh];
					if (b != NULL && b->this_update > stale_before)
						continue;
					out[n].issuer = e->issuer;
					out[n].hash = hh;
					ocsp_entry_status_locked(s, e,
					    &out[n].st);
					memcpy(out[n].serial, e->serial,
					    strlen(e->serial) + 1);
					n++;
				}
				pe = &e->next;
			}
			if (n >= max)
				break;
		}
		if (s->scan >= s->nbuckets)
			s->scan = 0;
		else {
			pthread_mutex_unlock(&s->mtx);
			c->next_shard = i;
			return n;
		}
		pthread_mutex_unlock(&s->mtx);
	}
	c->next_shard = 0;
	return n;
}

/* Counts every entry and blob, taking each shard lock in turn. */
static void
ocsp_cache_count(struct ocsp_cache *c, int64_t stale_before, time_t now,
    struct ocsp_cache_stats *out)
{
	struct ocsp_shard *s;
	struct ocsp_entry *e;
	struct ocsp_blob *b;
	size_t bk;
	int i, hh;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < OCSP_SHARDS; i++) {
		s = &c->shard[i];
		pthread_mutex_lock(&s->mtx);
		for (bk = 0; bk < s->nbuckets; bk++) {
			for (e = s->buckets[bk]; e != NULL; e = e->next) {
				if (e->st.state == OCSP_STATE_NONISSUED)
					out->nonissued++;
				else {
					out->entries++;
					if (e->blob[OCSP_HASH_SHA1] == NULL)
						out->unsigned_entries++;
				}
				for (hh = 0; hh < OCSP_NHASH; hh++) {
					if ((b = e->blob[hh]) == NULL)
						continue;
					out->blobs++;
					if (b->next_update <= now)
						out->expired++;
					else if (e->st.state != OCSP_STATE_NONISSUED &&
					    b->this_update <= stale_before)
						out->stale++;
					/*
					 * serving_until: issued certificates'
					 * SHA-1 answers only (extern.h); a
					 * never-issued one expires within the
					 * hour by design.
					 */
					if (e->st.state == OCSP_STATE_NONISSUED ||
					    hh != OCSP_HASH_SHA1)
						continue;
					if (out->oldest_next_update == 0 ||
					    b->next_update < out->oldest_next_update)
						out->oldest_next_update = b->next_update;
				}
			}
		}
		pthread_mutex_unlock(&s->mtx);
	}
}

/* The last count into *out if it was made in [oldest, now]: 1, else 0. */
static int
ocsp_cache_stats_of(struct ocsp_cache *c, time_t now, time_t oldest,
    struct ocsp_cache_stats *out)
{
	int rc = 0;

	pthread_mutex_lock(&c->stats_mtx);
	if (c->stats_ok && c->stats_at >= oldest && c->stats_at <= now) {
		*out = c->stats;
		rc = 1;
	}
	pthread_mutex_unlock(&c->stats_mtx);
	return rc;
}

void
ocsp_cache_stats(struct ocsp_cache *c, int64_t stale_before, time_t now,
    struct ocsp_cache_stats *out)
{
	if (ocsp_cache_stats_of(c, now, now, out))
		return;
	/*
	 * Another thread is counting: the count of the second before will
	 * do, rather than hold this HTTP thread too until it ends.
	 */
	if (pthread_mutex_trylock(&c->count_mtx) != 0) {
		if (ocsp_cache_stats_of(c, now, now - 1, out))
			return;
		pthread_mutex_lock(&c->count_mtx);
	}
	/* A count of this second may have been made meanwhile. */
	if (!ocsp_cache_stats_of(c, now, now, out)) {
		ocsp_cache_count(c, stale_before, now, out);
		pthread_mutex_lock(&c->stats_mtx);
		c->stats = *out;
		c->stats_at = now;
		c->stats_ok = 1;
		pthread_mutex_unlock(&c->stats_mtx);
	}
	pthread_mutex_unlock(&c->count_mtx);
}
