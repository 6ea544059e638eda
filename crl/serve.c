/*
 * crld's HTTP side: GET (or HEAD) of a set of paths (each CA's:
 * crl_cache_add, at start-up and when crld takes a new issuing CA while
 * it serves), answered from
 * memory with caching headers (RFC 9111) so that a CDN can serve them. The
 * paths are exactly the URLs in our certificates (policy/profiles:
 * CRL distribution points, Freshest CRL, caIssuers). Nothing a client sends
 * is parsed beyond comparing the path and If-None-Match (If-Modified-Since
 * is ignored: see crl_serve).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crl/extern.h"
#include "lib/http.h"
#include "lib/log.h"
#include "lib/timeutil.h"

#define CRL_CERT_MAX_AGE	86400	/* CA certificates change at ceremonies */

#define CRL_PATH_MAX		64

/* A path served (crl_cache_add): once added, never changed. */
struct crl_path {
	char		 path[CRL_PATH_MAX];
	const char	*ctype;		/* a string constant of the caller's */
	int		 optional;	/* not stale while absent (the ARL) */
	int		 removed;	/* crl_cache_remove: 404; under mtx */
};

/* One document; shared by the requests sending it (refs). */
struct crl_blob {
	unsigned char	*der;
	size_t		 len;
	long long	 number;
	time_t		 expires;	/* 0: a certificate, no fixed expiry */
	unsigned char	 sha256[32];
	char		 etag[24];	/* "\"" + 16 hex of SHA-256 + "\"" */
	char		 lastmod[40];	/* IMF-fixdate */
	int		 refs;
};

/*
 * mtx guards ndocs, doc, the paths' removed flags, not_signed, revoked,
 * not_served, ended, db_down and issuance: crld adds a new issuing CA's paths, removes an
 * ended one's, and names the CAs it cannot sign for or serve, or whose
 * certificate is revoked or on hold, while it serves (crl/main.c); its
 * threads say how the database answers them (crl_cache_db).
 */
struct crl_cache {
	pthread_mutex_t	 mtx;
	struct crl_path	 paths[CRL_DOC_MAX];
	struct crl_blob	*doc[CRL_DOC_MAX];
	int		 ndocs;
	long		 max_age;
	/* Issuing CAs whose CRLs are not signed here. */
	char		 not_signed[CRL_MAX_ISSUING][32];
	int		 nnot_signed;
	/* Issuing CAs whose own certificate is revoked or on hold. */
	struct {
		char	 name[32];
		char	 status[16];
		char	 reason[32];
		char	 since[32];
	}		 revoked[CRL_MAX_ISSUING];
	int		 nrevoked;
	/* Issuing CAs crld can never serve (crl_cache_not_served). */
	struct {
		long long	 id;
		char		 name[32];
		char		 why[160];
	}		 not_served[CRL_NOT_SERVED_MAX];
	int		 nnot_served;
	/* Issuing CAs past their grace, dropped while serving. */
	char		 ended[CRL_MAX_ISSUING][32];
	int		 nended;
	/* The threads the database is unavailable to, and since when. */
	struct {
		const void	*who;
		time_t		 since;
	}		 db_down[CRL_DB_USERS];
	int		 ndb_down;
	/* Each issuing CA's issuance attempts (crl_cache_issuance). */
	struct {
		char			 name[32];
		unsigned long long	 made, failed, failed_run;
		time_t			 ok_at, failed_at;	/* 0: none */
		char			 error[CRL_ISSUE_ERROR_MAX];
	}		 issuance[CRL_MAX_ISSUING];
	int		 nissuance;
	/* crl_cache_arl_behind: "" none. */
	char		 arl_since[32];
	long long	 arl_number;
};

/*
 * Atomic: the cache drops its reference under its mutex, a response once
 * MHD has sent it, from whichever thread that is.
 */
static void
crl_blob_unref(void *arg)
{
	struct crl_blob *b = arg;

	if (b == NULL || __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	free(b->der);
	free(b);
}

struct crl_cache *
crl_cache_new(long max_age)
{
	struct crl_cache *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if (pthread_mutex_init(&c->mtx, NULL) != 0) {
		free(c);
		return NULL;
	}
	c->max_age = max_age;
	return c;
}

void
crl_cache_free(struct crl_cache *c)
{
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < c->ndocs; i++)
		crl_blob_unref(c->doc[i]);
	pthread_mutex_destroy(&c->mtx);
	free(c);
}

int
crl_cache_add(struct crl_cache *c, const char *path, const char *ctype,
    int optional)
{
	struct crl_path *p;
	int doc = -1;

	pthread_mutex_lock(&c->mtx);
	if (c->ndocs < CRL_DOC_MAX && strlen(path) < CRL_PATH_MAX) {
		p = &c->paths[c->ndocs];
		memcpy(p->path, path, strlen(path) + 1);
		p->ctype = ctype;
		p->optional = optional;
		doc = c->ndocs++;
	}
	pthread_mutex_unlock(&c->mtx);
	return doc;
}

/* crl_cache_remove, under c->mtx. */
static void
crl_cache_remove_locked(struct crl_cache *c, int doc)
{
	if (doc < 0 || doc >= c->ndocs)
		return;
	c->paths[doc].removed = 1;
	crl_blob_unref(c->doc[doc]);
	c->doc[doc] = NULL;
}

void
crl_cache_remove(struct crl_cache *c, int doc)
{
	pthread_mutex_lock(&c->mtx);
	crl_cache_remove_locked(c, doc);
	pthread_mutex_unlock(&c->mtx);
}

/* RFC 9110 §5.6.7 IMF-fixdate. */
static void
crl_httpdate(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outlen, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

int
crl_cache_set(struct crl_cache *c, int doc, unsigned char *der,
    size_t len, long long number, time_t last_modified, time_t expires)
{
	struct crl_blob *b, *old;
	unsigned char md[32];
	int i, rc = -1;

	if (doc < 0 || doc >= CRL_DOC_MAX || (b = calloc(1, sizeof(*b))) ==
	    NULL) {
		free(der);
		return -1;
	}
	b->der = der;
	b->len = len;
	b->number = number;
	b->expires = expires;
	b->refs = 1;
	if (EVP_Digest(der, len, md, NULL, EVP_sha256(), NULL) != 1) {
		crl_blob_unref(b);
		return -1;
	}
	memcpy(b->sha256, md, sizeof(b->sha256));
	b->etag[0] = '"';
	for (i = 0; i < 8; i++)
		snprintf(b->etag + 1 + 2 * i, 3, "%02x", md[i]);
	b->etag[17] = '"';
	b->etag[18] = '\0';
	crl_httpdate(last_modified, b->lastmod, sizeof(b->lastmod));
	pthread_mutex_lock(&c->mtx);
	if (doc >= c->ndocs || c->paths[doc].removed) {
		pthread_mutex_unlock(&c->mtx);
		crl_blob_unref(b);
		return -1;
	}
	old = c->doc[doc];
	if (old != NULL && number != 0 && old->number == number &&
	    (old->len != len || memcmp(old->sha256, md, sizeof(md)) != 0)) {
		/*
		 * Two different CRLs with one number: RFC 5280 §5.2.3 broken,
		 * by a restore or an asynchronous failover that set crl_state
		 * back (crl/issuer.c raises it past what we served). Relying
		 * parties may hold either; serve the one just loaded (the
		 * database's), whose successor will carry a higher number.
		 */
		log_err("ALARM: %s: two different CRLs numbered %lld (RFC 5280 "
		    "§5.2.3; a restore or a failover reused the number): "
		    "serving the newer one (sha256 %.16s...)", c->paths[doc].path,
		    number, b->etag + 1);
		crl_blob_unref(old);
		c->doc[doc] = b;
	} else if (old != NULL && number != 0 && old->number >= number) {
		/* Never go back to an older CRL (another instance raced us). */
		crl_blob_unref(b);
	} else {
		crl_blob_unref(c->doc[doc]);
		c->doc[doc] = b;
	}
	pthread_mutex_unlock(&c->mtx);
	rc = 0;
	return rc;
}

int
crl_cache_conflicts(struct crl_cache *c, int doc, long long number,
    const unsigned char *der, size_t len)
{
	unsigned char md[32];
	int differs = 0;

	if (doc < 0 || doc >= CRL_DOC_MAX || number == 0 || EVP_Digest(der,
	    len, md, NULL, EVP_sha256(), NULL) != 1)
		return 0;
	pthread_mutex_lock(&c->mtx);
	if (doc < c->ndocs && c->doc[doc] != NULL &&
	    c->doc[doc]->number == number)
		differs = c->doc[doc]->len != len ||
		    memcmp(c->doc[doc]->sha256, md, sizeof(md)) != 0;
	pthread_mutex_unlock(&c->mtx);
	return differs;
}

long long
crl_cache_number(struct crl_cache *c, int doc)
{
	long long n = 0;

	if (doc < 0 || doc >= CRL_DOC_MAX)
		return 0;
	pthread_mutex_lock(&c->mtx);
	if (doc < c->ndocs && c->doc[doc] != NULL)
		n = c->doc[doc]->number;
	pthread_mutex_unlock(&c->mtx);
	return n;
}

int
crl_cache_lists(struct crl_cache *c, int doc, const char *serial)
{
	struct crl_blob *b = NULL;
	const unsigned char *p;
	X509_CRL *crl = NULL;
	X509_REVOKED *rev;
	ASN1_INTEGER *sn = NULL;
	BIGNUM *bn = NULL;
	int rc = -1;

	if (doc < 0 || doc >= CRL_DOC_MAX)
		return -1;
	pthread_mutex_lock(&c->mtx);
	if (doc < c->ndocs && (b = c->doc[doc]) != NULL)
		__atomic_add_fetch(&b->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&c->mtx);
	if (b == NULL)
		return -1;
	p = b->der;
	if ((crl = d2i_X509_CRL(NULL, &p, (long)b->len)) == NULL ||
	    BN_hex2bn(&bn, serial) == 0 ||
	    (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL)
		goto out;
	rc = X509_CRL_get0_by_serial(crl, &rev, sn) == 1;
out:
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	X509_CRL_free(crl);
	crl_blob_unref(b);
	return rc;
}

/*
 * Every answer that is not a document (an error, /health): stored by no
 * cache (RFC 9111 §5.2.2.5). A 404 and a 405 are heuristically cacheable
 * (RFC 9110 §15.1): right after `pkictl ca issuing` the new CA's paths
 * answer 404 until crld takes it (crl/main.c, crld_watch), and a CDN
 * could have kept that 404 (until 2026-12-06 these answers had no
 * Cache-Control).
 */
static int
crl_serve_no_store(struct http_response *resp)
{
	return http_add_header(resp, "Cache-Control", "no-store");
}

int
crl_cache_not_signed(struct crl_cache *c, const char *name)
{
	int i, rc = 0;

	pthread_mutex_lock(&c->mtx);
	for (i = 0; i < c->nnot_signed; i++)
		if (strcmp(c->not_signed[i], name) == 0)
			break;
	if (i == c->nnot_signed) {
		if (c->nnot_signed == CRL_MAX_ISSUING)
			rc = -1;
		else
			snprintf(c->not_signed[c->nnot_signed++],
			    sizeof(c->not_signed[0]), "%s", name);
	}
	pthread_mutex_unlock(&c->mtx);
	return rc;
}

void
crl_cache_signed(struct crl_cache *c, const char *name)
{
	int i;

	pthread_mutex_lock(&c->mtx);
	for (i = 0; i < c->nnot_signed; i++)
		if (strcmp(c->not_signed[i], name) == 0) {
			memmove(c->not_signed[i], c->not_signed[i + 1],
			    (size_t)(c->nnot_signed - i - 1) *
			    sizeof(c->not_signed[0]));
			c->nnot_signed--;
			break;
		}
	pthread_mutex_unlock(&c->mtx);
}

int
crl_cache_ca_revoked(struct crl_cache *c, const char *name,
    const char *status, const char *reason, const char *since)
{
	int i, rc = 0;

	pthread_mutex_lock(&c->mtx);
	for (i = 0; i < c->nrevoked; i++)
		if (strcmp(c->revoked[i].name, name) == 0)
			break;
	if (status == NULL) {
		if (i < c->nrevoked) {
			memmove(&c->revoked[i], &c->revoked[i + 1],
			    (size_t)(c->nrevoked - i - 1) *
			    sizeof(c->revoked[0]));
			c->nrevoked--;
		}
	} else if (i == CRL_MAX_ISSUING)
		rc = -1;
	else {
		if (i == c->nrevoked)
			c->nrevoked++;
		snprintf(c->revoked[i].name, sizeof(c->revoked[i].name), "%s",
		    name);
		snprintf(c->revoked[i].status, sizeof(c->revoked[i].status),
		    "%s", status);
		snprintf(c->revoked[i].reason, sizeof(c->revoked[i].reason),
		    "%s", reason);
		snprintf(c->revoked[i].since, sizeof(c->revoked[i].since),
		    "%s", since);
	}
	pthread_mutex_unlock(&c->mtx);
	return rc;
}

void
crl_cache_arl_behind(struct crl_cache *c, const char *since, long long number)
{
	pthread_mutex_lock(&c->mtx);
	snprintf(c->arl_since, sizeof(c->arl_since), "%s", since != NULL ?
	    since : "");
	c->arl_number = number;
	pthread_mutex_unlock(&c->mtx);
}

int
crl_cache_not_served(struct crl_cache *c, long long id, const char *name,
    const char *why)
{
	int i, rc = 0;

	pthread_mutex_lock(&c->mtx);
	for (i = 0; i < c->nnot_served; i++)
		if (c->not_served[i].id == id)
			break;
	if (i == c->nnot_served) {
		if (c->nnot_served == CRL_NOT_SERVED_MAX)
			rc = -1;
		else {
			c->not_served[i].id = id;
			snprintf(c->not_served[i].name,
			    sizeof(c->not_served[i].name), "%s", name);
			snprintf(c->not_served[i].why,
			    sizeof(c->not_served[i].why), "%s", why);
			c->nnot_served++;
		}
	}
	pthread_mutex_unlock(&c->mtx);
	return rc;
}

int
crl_cache_ended(struct crl_cache *c, const char *name, const int *docs,
    int n)
{
	int i, rc = 0;

	pthread_mutex_lock(&c->mtx);
	for (i = 0; i < n; i++)
		crl_cache_remove_locked(c, docs[i]);
	for (i = 0; i < c->nnot_signed; i++)
		if (strcmp(c->not_signed[i], name) == 0) {
			memmove(c->not_signed[i], c->not_signed[i + 1],
			    (size_t)(c->nnot_signed - i - 1) *
			    sizeof(c->not_signed[0]));
			c->nnot_signed--;
			break;
		}
	for (i = 0; i < c->nrevoked; i++)
		if (strcmp(c->revoked[i].name, name) == 0) {
			memmove(&c->revoked[i], &c->revoked[i + 1],
			    (size_t)(c->nrevoked - i - 1) *
			    sizeof(c->revoked[0]));
			c->nrevoked--;
			break;
		}
	for (i = 0; i < c->nissuance; i++)
		if (strcmp(c->issuance[i].name, name) == 0) {
			c->issuance[i] = c->issuance[--c->nissuance];
			break;
		}
	if (c->nended == CRL_MAX_ISSUING)
		rc = -1;
	else
		snprintf(c->ended[c->nended++], sizeof(c->ended[0]), "%s",
		    name);
	pthread_mutex_unlock(&c->mtx);
	return rc;
}

int
crl_cache_db(struct crl_cache *c, const void *who, int unavailable)
{
	int i, rc = 0;

	pthread_mutex_lock(&c->mtx);
	for (i = 0; i < c->ndb_down; i++)
		if (c->db_down[i].who == who)
			break;
	if (!unavailable) {
		if (i < c->ndb_down)
			c->db_down[i] = c->db_down[--c->ndb_down];
	} else if (i == c->ndb_down) {
		if (c->ndb_down == CRL_DB_USERS)
			rc = -1;
		else {
			c->db_down[i].who = who;
			c->db_down[i].since = time(NULL);
			c->ndb_down++;
		}
	}
	pthread_mutex_unlock(&c->mtx);
	return rc;
}

int
crl_cache_issuance(struct crl_cache *c, const char *name, const char *error)
{
	int i, rc = 0;

	pthread_mutex_lock(&c->mtx);
	for (i = 0; i < c->nissuance; i++)
		if (strcmp(c->issuance[i].name, name) == 0)
			break;
	if (i == c->nissuance) {
		if (c->nissuance == CRL_MAX_ISSUING) {
			rc = -1;
			goto out;
		}
		memset(&c->issuance[i], 0, sizeof(c->issuance[i]));
		snprintf(c->issuance[i].name, sizeof(c->issuance[i].name), "%s",
		    name);
		c->nissuance++;
	}
	if (error == NULL) {
		c->issuance[i].made++;
		c->issuance[i].failed_run = 0;
		c->issuance[i].ok_at = time(NULL);
	} else {
		c->issuance[i].failed++;
		c->issuance[i].failed_run++;
		c->issuance[i].failed_at = time(NULL);
		snprintf(c->issuance[i].error, sizeof(c->issuance[i].error),
		    "%s", error);
	}
out:
	pthread_mutex_unlock(&c->mtx);
	return rc;
}

/* Unix seconds, or null for 0 (none yet). */
static json_t *
crl_json_time(time_t t)
{
	return t > 0 ? json_integer((json_int_t)t) : json_null();
}

/*
 * An issuance error as a JSON string (null when none): a message cut at
 * CRL_ISSUE_ERROR_MAX inside a UTF-8 sequence loses that sequence.
 */
static json_t *
crl_json_error(const char *error)
{
	size_t len = strlen(error), cut;
	json_t *e;

	if (len == 0)
		return json_null();
	if ((e = json_stringn(error, len)) != NULL)
		return e;
	/* Back to the lead byte of the last sequence, and drop it. */
	for (cut = len; cut > 0 && ((unsigned char)error[cut - 1] & 0xc0) ==
	    0x80; cut--)
		;
	if (cut > 0 && (unsigned char)error[cut - 1] >= 0xc0)
		cut--;
	if ((e = json_stringn(error, cut)) != NULL)
		return e;
	return json_null();
}

/*
 * "degraded" when a document is stale (absent or past its nextUpdate), an
 * issuing CA's CRLs cannot be signed here ("not_signed": its names), an
 * issuing CA's own certificate is revoked or on hold ("ca_revoked": by
 * name, its status, reason and since when), or an issuing CA of the
 * database cannot be served ("not_served": its id, name and why), or the
 * database is unavailable to one of crld's threads ("database_ok" false,
 * "database_unavailable_since" the earliest time it was: crl_cache_db), or
 * an issuing CA's last issuance attempt failed ("issuance": by name, {ok,
 * made, failed, failed_in_a_row, last_ok_at, last_failed_at, last_error},
 * as tsad's "signatures"; until 2026-12-07 a CRL failing with the
 * database up, at the signer or a refused statement, was seen only once
 * the documents went stale), or the root's CRL served (the ARL, signed
 * at a ceremony) does not list a change of a certificate the root issued
 * ("arl_behind": {since, the oldest such change; arl_number, the ARL
 * served}, else null; the ARL's document "stale" too: crl_cache_arl_behind).
 * "ended": the issuing CAs dropped past their grace while crld ran (not
 * degraded).
 */
static int
crl_serve_health(struct crl_cache *c, struct http_response *resp)
{
	json_t *o, *docs, *ns, *rv, *nv, *en, *is, *e;
	time_t now = time(NULL), down = 0;
	char since[TIME_ISO8601_MAX];
	int i, stale = 0, failing = 0, rc = -1;

	/* Its members, empty; json_pack steals them, even when it fails. */
	if ((o = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}",
	    "documents", json_object(), "not_signed", json_array(),
	    "ca_revoked", json_object(), "not_served", json_array(),
	    "ended", json_array(), "issuance", json_object())) == NULL)
		return -1;
	docs = json_object_get(o, "documents");
	ns = json_object_get(o, "not_signed");
	rv = json_object_get(o, "ca_revoked");
	nv = json_object_get(o, "not_served");
	en = json_object_get(o, "ended");
	is = json_object_get(o, "issuance");
	pthread_mutex_lock(&c->mtx);
	for (i = 0; i < c->nissuance; i++) {
		failing |= c->issuance[i].failed_run > 0;
		e = crl_json_error(c->issuance[i].error);
		json_object_set_new(is, c->issuance[i].name, json_pack("{s:b, "
		    "s:I, s:I, s:I, s:o, s:o, s:o}",
		    "ok", c->issuance[i].failed_run == 0,
		    "made", (json_int_t)c->issuance[i].made,
		    "failed", (json_int_t)c->issuance[i].failed,
		    "failed_in_a_row", (json_int_t)c->issuance[i].failed_run,
		    "last_ok_at", crl_json_time(c->issuance[i].ok_at),
		    "last_failed_at", crl_json_time(c->issuance[i].failed_at),
		    "last_error", e));
	}
	for (i = 0; i < c->nnot_served; i++) {
		/* A name cut inside a UTF-8 sequence: its id and why only. */
		if ((e = json_pack("{s:I, s:s, s:s}", "id",
		    (json_int_t)c->not_served[i].id, "name",
		    c->not_served[i].name, "why", c->not_served[i].why)) ==
		    NULL)
			e = json_pack("{s:I, s:s}", "id",
			    (json_int_t)c->not_served[i].id, "why",
			    c->not_served[i].why);
		json_array_append_new(nv, e);
	}
	for (i = 0; i < c->nended; i++)
		json_array_append_new(en, json_string(c->ended[i]));
	for (i = 0; i < c->nnot_signed; i++)
		json_array_append_new(ns, json_string(c->not_signed[i]));
	for (i = 0; i < c->nrevoked; i++)
		json_object_set_new(rv, c->revoked[i].name, json_pack("{s:s, "
		    "s:s, s:s}", "status", c->revoked[i].status, "reason",
		    c->revoked[i].reason, "since", c->revoked[i].since));
	for (i = 0; i < c->ndocs; i++) {
		const struct crl_blob *b = c->doc[i];
		int s = b == NULL || (b->expires != 0 && b->expires <= now);

		if (c->paths[i].removed)
			continue;
		/* The ARL, with a change it does not list. */
		if (c->paths[i].optional && c->arl_since[0] != '\0') {
			s = 1;
			stale = 1;
		}
		stale |= s && !c->paths[i].optional;
		json_object_set_new(docs, c->paths[i].path, json_pack("{s:b, "
		    "s:I}", "stale", s, "number", (json_int_t)(b != NULL ?
		    b->number : 0)));
	}
	for (i = 0; i < c->ndb_down; i++)
		if (down == 0 || c->db_down[i].since < down)
			down = c->db_down[i].since;
	json_object_set_new(o, "database_ok", json_boolean(c->ndb_down == 0));
	json_object_set_new(o, "database_unavailable_since", c->ndb_down > 0 ?
	    json_string(time_iso8601(down, since, sizeof(since))) :
	    json_null());
	json_object_set_new(o, "arl_behind", c->arl_since[0] != '\0' ?
	    json_pack("{s:s, s:I}", "since", c->arl_since, "arl_number",
	    (json_int_t)c->arl_number) : json_null());
	json_object_set_new(o, "status", json_string(stale ||
	    c->nnot_signed > 0 || c->nrevoked > 0 || c->nnot_served > 0 ||
	    c->ndb_down > 0 || failing ? "degraded" : "ok"));
	pthread_mutex_unlock(&c->mtx);
	if (crl_serve_no_store(resp) == 0)
		rc = http_respond_json(resp, 200, o);
	json_decref(o);
	return rc;
}

int
crl_serve(void *arg, const struct http_request *req, struct http_response *resp)
{
	struct crl_cache *c = arg;
	struct crl_blob *b = NULL;
	char buf[64], list[CRL_DOC_MAX * (CRL_PATH_MAX + 2) + 16];
	time_t now = time(NULL);
	const char *sep;
	size_t off;
	long age;
	int i, j, n, rc = -1, head;

	head = strcmp(req->method, "HEAD") == 0;
	if (!head && strcmp(req->method, "GET") != 0) {
		if (http_add_header(resp, "Allow", "GET, HEAD") == -1 ||
		    crl_serve_no_store(resp) == -1)
			return -1;
		return http_problem(resp, 405, NULL, "Method Not Allowed",
		    "CRLs and CA certificates are fetched with GET");
	}
	if (strcmp(req->path, "/health") == 0)
		return crl_serve_health(c, resp);
	pthread_mutex_lock(&c->mtx);
	n = c->ndocs;
	for (i = 0; i < n; i++)
		if (!c->paths[i].removed &&
		    strcmp(req->path, c->paths[i].path) == 0)
			break;
	if (i < n && (b = c->doc[i]) != NULL)
		__atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
	if (i == n) {
		/* A path removed (an issuing CA that ended) is not served. */
		off = (size_t)snprintf(list, sizeof(list), "served:");
		for (j = 0, sep = ""; j < n && off < sizeof(list); j++) {
			if (c->paths[j].removed)
				continue;
			off += (size_t)snprintf(list + off, sizeof(list) - off,
			    "%s %s", sep, c->paths[j].path);
			sep = ",";
		}
	}
	pthread_mutex_unlock(&c->mtx);
	/* Paths once added stay as they are: read without the mutex. */
	if (i == n) {
		if (crl_serve_no_store(resp) == -1)
			return -1;
		return http_problem(resp, 404, NULL, "Not Found", list);
	}
	if (b == NULL) {
		if (http_add_header(resp, "Retry-After", "10") == 0 &&
		    crl_serve_no_store(resp) == 0)
			rc = http_problem(resp, 503, NULL, "Service Unavailable",
			    "not issued yet");
		goto out;
	}
	/* Fresh for max_age, never past nextUpdate. */
	if (b->expires != 0) {
		age = (long)(b->expires - now);
		if (age > c->max_age)
			age = c->max_age;
		if (age < 0)
			age = 0;
	} else
		age = CRL_CERT_MAX_AGE;
	if (http_add_header(resp, "ETag", b->etag) == -1 ||
	    http_add_header(resp, "Last-Modified", b->lastmod) == -1)
		goto out;
	snprintf(buf, sizeof(buf), "public, max-age=%ld, no-transform", age);
	if (http_add_header(resp, "Cache-Control", buf) == -1)
		goto out;
	/*
	 * Expires agrees with max-age (RFC 9111 §5.3): a cache that honours
	 * only Expires would otherwise keep a CRL until its nextUpdate (up to
	 * 24 h), past revocations (until 2026-12-05 it did).
	 */
	crl_httpdate(now + age, buf, sizeof(buf));
	if (http_add_header(resp, "Expires", buf) == -1)
		goto out;
	/*
	 * Conditional GET by If-None-Match alone (RFC 9110 §13.1.2), as ocspd
	 * does: If-Modified-Since is ignored (§13.1.3). Last-Modified is
	 * thisUpdate in whole seconds, and a CRL issued in the same second as
	 * the one a cache holds (a revocation right after a delta, another
	 * instance's CRL) has the same date: a 304 would keep the older CRL.
	 */
	if (http_etag_matches(http_header(req, "If-None-Match"), b->etag)) {
		rc = http_not_modified(resp, b->len);
		goto out;
	}
	/* Not copied: the response holds the reference until it was sent. */
	rc = http_respond_shared(resp, 200, c->paths[i].ctype, b->der, b->len,
	    crl_blob_unref, b);
	b = NULL;
out:
	crl_blob_unref(b);
	return rc;
}
