/*
 * ocspd: the OCSP responder (RFC 6960, RFC 5019 profile) for every issuer we
 * run (root and issuing CA), each answered by its own delegated responder.
 *
 * Processes:
 *  - the signers (hsm/signerproc.c), forked first, one per event loop and
 *    one for pre-signing: each alone loads the PKCS#11 module and logs in to
 *    the OCSP token; it signs only OCSP ResponseData with the responder keys
 *    named in ca_key, nothing else.
 *  - this worker: reads the issuers and their responder certificates and the
 *    status of every certificate from PostgreSQL (role pki_ocsp, SELECT
 *    only), answers HTTP GET and POST in ocsp.threads event loops
 *    (hsm/signloop.c) from a pre-signed in-memory cache, signs live, through
 *    the loop's signer and without waiting for it, only what the cache cannot
 *    answer (nonces, several CertIDs, serials never issued, certificates
 *    expired past the policy's grace, looked up in PostgreSQL on a lookup
 *    thread, sync.c, without the loop waiting either) and only within
 *    the signing budget (budget.c: ocsp.live_per_second, per client
 *    ocsp.live_per_client_per_second; over it, a nonce is left out of a
 *    pre-signed answer, or tryLater), and keeps the
 *    cache current from a maintenance thread (ocsp/sync.c: LISTEN
 *    certificate_status, reconciliation, pre-signing). It drops to an
 *    unprivileged user and enters a seccomp sandbox after start; it never
 *    holds a PIN or a private key, and changes no state but its cache.
 *
 * Configuration: pki.conf ([ocsp], [hsm], [pg], urls.ocsp: its path is
 * taken off GET paths) and policy/ocsp.conf.
 * Stops cleanly on SIGTERM or SIGINT. The responder certificates are read
 * at start only: SIGHUP just logs that taking a new one needs a restart.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "hsm/signer.h"
#include "hsm/signloop.h"
#include "lib/config.h"
#include "lib/cpu.h"
#include "lib/daemon.h"
#include "lib/db.h"
#include "lib/http.h"
#include "lib/log.h"
#include "lib/sandbox.h"
#include "lib/timeutil.h"
#include "lib/x509ext.h"
#include "ocsp/extern.h"

#define OCSP_MAX_BODY		(8 * 1024)	/* an OCSPRequest is ~100 bytes */
/* 8 KiB take 1.2 s at 56 kbit/s; nginx sends a body buffered, at once. */
#define OCSP_BODY_DEADLINE_S	5
/*
 * /health turns "degraded" this long before a responder certificate's
 * notAfter: responder certificates live 90 days
 * (policy/profiles/ocsp-responder.cnf), and ocspd loads one at start only,
 * so a new one needs issuing and a restart before then. From
 * validity_seconds (4 days) before it, nextUpdate is cut short to it.
 */
#define OCSP_RESPONDER_WARN_S	(14 * 86400)
/*
 * /health turns "degraded" when the statuses were last read longer ago
 * than this many poll periods plus OCSP_HEALTH_SYNC_SLACK_S (a full pass
 * over a large table takes seconds, and synced_at is when a read
 * started), plus max_standby_lag_seconds on a standby, whose healthy data
 * may be that old: the maintenance thread is stuck, though the last
 * thing it saw was a working database (db_ok).
 */
#define OCSP_HEALTH_SYNC_POLLS	5
#define OCSP_HEALTH_SYNC_SLACK_S	10
/*
 * /health turns "degraded" when this many lookups in a row (serials the
 * cache does not hold, sync.c) came back without the database's answer:
 * each of their requests got tryLater, though the maintenance thread's
 * connection works (database_ok). One may fail on a passing lock; a
 * lookup connection that cannot be made in time fails them all.
 */
#define OCSP_HEALTH_LOOKUP_FAILS	3
/*
 * How long start-up waits for the issuers' query (ocspd_load_issuers,
 * db_exec_bounded): a server that accepts the connection and then stalls
 * makes ocspd stop with a message, not hang before it serves. The
 * connection itself is bounded by libpq's connect_timeout (lib/db.c).
 */
#define OCSP_LOAD_DEADLINE_MS	10000
#define OCSP_CT_REQUEST		"application/ocsp-request"
#define OCSP_CT_RESPONSE	"application/ocsp-response"
#define OCSP_LOOPS_MAX		16	/* ocsp.threads at most */
/*
 * Signatures made on demand (a nonce, several CertIDs, a serial not
 * pre-signed) by default: at most this many a second for all clients
 * together, and for one client address (an IPv6 one's /64). An
 * unauthenticated client otherwise keeps the signers (CPU, HSM) busy at
 * will; the pre-signed cache, which most answers come from, is not
 * bounded. Well below what one SoftHSM2 signer makes (~20,000 a second),
 * well above what relying parties ask with nonces.
 */
#define OCSP_LIVE_PER_SECOND	2000
#define OCSP_LIVE_PER_CLIENT	100

static void
usage(void)
{
	fprintf(stderr, "usage: ocspd [--config FILE]\n");
	exit(2);
}

/*
 * GET /health: JSON for monitoring (ocsp/README.md "What it answers").
 * "degraded" when the database is down or lagging, the statuses were read
 * too long ago (OCSP_HEALTH_SYNC_POLLS), the last OCSP_HEALTH_LOOKUP_FAILS
 * lookups failed, the cache holds stale, expired or
 * unsigned answers, an issuer's own certificate is revoked or on hold
 * ("ca_revoked", as crld's), or a responder certificate expires within
 * OCSP_RESPONDER_WARN_S. HTTP 503 (the same JSON) when the statuses were
 * read too long ago: what this responder answers is no longer known to be
 * current (a revocation since is not in it), so a load balancer or a
 * monitor that reads the status code alone takes it out; the rest of
 * "degraded" (a moment's database failure, failing lookups, a responder
 * certificate to renew) leaves it serving correct answers: 200 (a
 * failing lookup is answered tryLater, and the cache answers the rest).
 * Never kept by a cache (Cache-Control: no-store, ocspd_handle): a
 * stale answer would hide a failure.
 */
static int
ocspd_health(struct ocsp_responder *r, struct http_response *resp)
{
	struct ocsp_cache_stats cs;
	time_t now = time(NULL);
	int64_t synced = __atomic_load_n(&r->synced_at, __ATOMIC_ACQUIRE);
	int64_t lag = __atomic_load_n(&r->standby_lag, __ATOMIC_RELAXED);
	int64_t sync_limit, first_expiry = 0;
	uint64_t dropped, later;
	int db_ok = __atomic_load_n(&r->db_ok, __ATOMIC_RELAXED), ok, i;
	int current, lookup_ok, ca_revoked = 0;
	struct ocsp_status ca;
	const char *reason;
	char since[TIME_ISO8601_MAX];
	uint64_t lk_run = __atomic_load_n(&r->lookups_failed_run,
	    __ATOMIC_RELAXED);
	int64_t lk_at = __atomic_load_n(&r->lookup_ok_at, __ATOMIC_RELAXED);
	int standby = __atomic_load_n(&r->db_standby, __ATOMIC_RELAXED);
	int rc = -1;
	json_t *o = NULL, *rna = NULL, *ns, *rv = NULL;

	ocsp_cache_stats(r->cache, synced - r->pol.refresh, now, &cs);
	sync_limit = OCSP_HEALTH_SYNC_POLLS * r->pol.poll_ms / 1000 +
	    OCSP_HEALTH_SYNC_SLACK_S + (standby ? r->pol.max_standby_lag : 0);
	/* Each issuer's responder certificate: its notAfter. */
	if ((rna = json_object()) == NULL)
		goto out;
	for (i = 0; i < r->niss; i++) {
		if (json_object_set_new(rna, r->iss[i].name,
		    json_integer((json_int_t)r->iss[i].rnot_after)) == -1)
			goto out;
		if (first_expiry == 0 || r->iss[i].rnot_after < first_expiry)
			first_expiry = r->iss[i].rnot_after;
	}
	/*
	 * Issuers whose own certificate is revoked or on hold (sync.c):
	 * by name, as crld's "ca_revoked" (status revoked or on-hold, the
	 * reason, since when). Every serial they issued is answered revoked.
	 */
	if ((rv = json_object()) == NULL)
		goto out;
	for (i = 0; i < r->niss; i++) {
		ocsp_cache_ca_status(r->cache, i, &ca);
		if (ca.state != OCSP_STATE_REVOKED)
			continue;
		ca_revoked++;
		if ((reason = x509ext_crl_reason_name(ca.reason)) == NULL)
			reason = "unspecified";
		if (json_object_set_new(rv, r->iss[i].name, json_pack(
		    "{s:s, s:s, s:s}", "status", ca.reason ==
		    OCSP_REVOKED_STATUS_CERTIFICATEHOLD ? "on-hold" : "revoked",
		    "reason", reason, "since", time_iso8601(ca.revoked_at,
		    since, sizeof(since)))) == -1)
			goto out;
	}
	current = now - synced <= sync_limit;
	lookup_ok = lk_run < OCSP_HEALTH_LOOKUP_FAILS;
	ok = db_ok && current && lookup_ok && r->nnot_served == 0 &&
	    ca_revoked == 0 &&
	    cs.stale == 0 &&
	    cs.expired == 0 && cs.unsigned_entries == 0 &&
	    (first_expiry == 0 || first_expiry - now > OCSP_RESPONDER_WARN_S);
	o = json_pack("{s:s, s:b, s:b, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I}, "
	    "s:I, s:I, s:I, s:I, s:O}",
	    "status", ok ? "ok" : "degraded",
	    "database_ok", db_ok,
	    "database_standby", standby,
	    "synced_at", (json_int_t)synced,
	    "synced_seconds_ago", (json_int_t)(now - synced),
	    "cache",
	    "certificates", (json_int_t)cs.entries,
	    "nonissued", (json_int_t)cs.nonissued,
	    "responses", (json_int_t)cs.blobs,
	    "unsigned", (json_int_t)cs.unsigned_entries,
	    "stale", (json_int_t)cs.stale,
	    "expired", (json_int_t)cs.expired,
	    "serving_until", (json_int_t)cs.oldest_next_update,
	    "signed_live", (json_int_t)__atomic_load_n(&r->signed_live,
	    __ATOMIC_RELAXED),
	    "signed_ahead", (json_int_t)__atomic_load_n(&r->signed_ahead,
	    __ATOMIC_RELAXED),
	    "signatures_in_flight", (json_int_t)__atomic_load_n(
	    &r->signatures_in_flight, __ATOMIC_RELAXED),
	    "responder_not_after", rna);
	if (o == NULL || (ns = json_array()) == NULL ||
	    json_object_set_new(o, "not_served", ns) == -1 ||
	    json_object_set(o, "ca_revoked", rv) == -1)
		goto out;
	for (i = 0; i < r->nnot_served; i++)
		if (json_array_append_new(ns, json_string(r->not_served[i])) ==
		    -1)
			goto out;
	/*
	 * How far the standby's data is behind the primary (sync.c): null
	 * on a primary, or when the standby cannot say (then database_ok is
	 * false too).
	 */
	if (json_object_set_new(o, "standby_lag_seconds", standby &&
	    lag >= 0 ? json_integer((json_int_t)lag) : json_null()) == -1)
		goto out;
	/*
	 * The lookups of serials the cache does not hold (sync.c): whether
	 * they work, how many failed (in all, and the last in a row), and
	 * when the last one succeeded (null: none yet).
	 */
	if (json_object_set_new(o, "lookups", json_pack("{s:b, s:I, s:I, s:I, "
	    "s:o}", "ok", lookup_ok,
	    "tried", (json_int_t)__atomic_load_n(&r->lookups_tried,
	    __ATOMIC_RELAXED),
	    "failed", (json_int_t)__atomic_load_n(&r->lookups_failed,
	    __ATOMIC_RELAXED),
	    "failed_in_a_row", (json_int_t)lk_run,
	    "last_ok_at", lk_at > 0 ? json_integer((json_int_t)lk_at) :
	    json_null())) == -1)
		goto out;
	/* Answers the signing budget refused a signature (budget.c). */
	ocsp_budget_counts(r->budget, &dropped, &later);
	if (json_object_set_new(o, "over_budget", json_pack("{s:I, s:I}",
	    "without_nonce", (json_int_t)dropped, "try_later",
	    (json_int_t)later)) == -1)
		goto out;
	rc = http_respond_json(resp, current ? 200 : 503, o);
out:
	json_decref(rna);
	json_decref(rv);
	json_decref(o);
	return rc;
}

/*
 * RFC 5019 §6.2 caching headers for a GET answered from a blob: max-age
 * is the policy's bound (ocsp_blob_max_age), not the time to nextUpdate,
 * and Expires says the same. Last-Modified is thisUpdate, but never
 * later than now (RFC 9110 §8.8.2.1): a revoked answer's thisUpdate is
 * its revocationTime, which a database clock ahead of ours may put up to
 * OCSP_CLOCK_SKEW_S into our future (ocsp_this_update).
 */
static int
ocspd_cache_headers(struct http_response *resp, const struct ocsp_blob *b)
{
	char cc[96], expires[32], lm[32];
	time_t now = time(NULL);
	long age = ocsp_blob_max_age(b, now, expires, sizeof(expires));

	snprintf(cc, sizeof(cc), "max-age=%ld, public, no-transform, "
	    "must-revalidate", age);
	if (b->this_update > (int64_t)now)
		ocsp_http_date((int64_t)now, lm, sizeof(lm));
	else
		snprintf(lm, sizeof(lm), "%s", b->last_modified);
	if (http_add_header(resp, "Cache-Control", cc) == -1 ||
	    http_add_header(resp, "Last-Modified", lm) == -1 ||
	    http_add_header(resp, "Expires", expires) == -1 ||
	    http_add_header(resp, "ETag", b->etag) == -1)
		return -1;
	return 0;
}

/*
 * An answer no cache may keep: an error (malformedRequest, unauthorized,
 * tryLater, an HTTP problem: RFC 5019 §6.2 wants these marked, and a 405
 * is heuristically cacheable, RFC 9110 §15.5.6) or one signed live.
 */
static int
ocspd_no_store(struct http_response *resp)
{
	return http_add_header(resp, "Cache-Control", "no-store");
}

/*
 * One event loop (a thread of its own, ocsp.threads of them): a
 * libmicrohttpd server in external mode on the shared listening socket
 * (http_listen_shared), and its own signer process. A live answer's
 * ResponseData goes to the signer (signer_sign_begin) and its connection
 * waits aside (http_defer) while the loop reads other requests; the
 * signer's replies come in batches, in the order asked, and each is
 * answered when it comes (http_resume). So the loop and its signer wake
 * once per batch, not twice per response, as tsad's workers do
 * (tsa/README.md "Processes").
 */
struct ocspd_job;
struct ocspd_loop {
	struct ocsp_responder	*r;
	struct http_server	*srv;
	/* NULL: signatures made in the handler (r->sign or software keys). */
	struct signer		*signer;
	int			 cpu;		/* ocsp.pin_cpus; -1: none */
	int			 wake;		/* eventfd: stop */
	pthread_t		 thread;
	int			 running;
	int			 status;	/* 0, or 1: the loop failed */
	struct ocspd_job	*head, *tail;	/* in flight, in ticket order */
	/*
	 * Lookups (serials the cache does not hold) go to sync.c's lookup
	 * thread, their connections deferred; the thread puts each answered
	 * one on lk_done and writes lk_wake (eventfd; -1: none, lookups are
	 * made in the handler: the unit tests). lk_out: asked and not yet
	 * taken back (the loop's thread only).
	 */
	int			 lk_wake;
	int			 lk_mtx_ok;
	pthread_mutex_t		 lk_mtx;
	struct ocspd_job	*lk_done;
	unsigned int		 lk_out;
};

/*
 * A live answer whose signature is in flight, or a request whose lookup is
 * (then lk and loop are set; lk_next links lk_done).
 */
struct ocspd_job {
	struct ocspd_job	*next;
	struct ocspd_job	*lk_next;
	struct ocspd_loop	*loop;
	struct ocsp_lookup	 lk;
	struct http_deferred	*deferred;
	unsigned long		 ticket;
	int			 sent;		/* a ticket was taken */
	int			 get;
	char			*inm;		/* If-None-Match of a GET */
	/* The client's address, for the signing budget (budget.c). */
	char			 client[64];
	int			 budget_taken;	/* before its lookup */
	struct ocsp_pending	 pend;
};

/*
 * The HTTP answer for an OCSP answer (der ... cacheable: ocsp_answer's
 * outputs) to a GET or a POST; inm is a GET's If-None-Match (NULL: none).
 */
static int
ocspd_reply(struct http_response *resp, int get, const char *inm,
    const unsigned char *der, size_t derlen, const struct ocsp_blob *blob,
    int owned, int cacheable)
{
	/*
	 * Conditional GET (RFC 9110 §13), for answers caches may keep only,
	 * by If-None-Match alone: If-Modified-Since is ignored (§13.1.3),
	 * as one-second Last-Modified dates cannot tell a "good" answer from
	 * a "revoked" one dated the same second (ocsp_not_modified). A 304
	 * carries the validators and freshness the 200 would (ETag,
	 * Cache-Control, Expires, Last-Modified: §15.4.5), no body, and the
	 * 200's Content-Length (§8.6).
	 */
	if (get && cacheable && blob != NULL && ocsp_not_modified(blob, inm)) {
		if (http_not_modified(resp, derlen) == -1 ||
		    ocspd_cache_headers(resp, blob) == -1)
			return -1;
		return 0;
	}
	if (http_respond(resp, 200, OCSP_CT_RESPONSE, der, derlen) == -1)
		return -1;
	/*
	 * Cacheable answers carry RFC 5019 §6.2 headers over GET (POST
	 * answers are not cached: RFC 5019 §5). Live ones (owned) say
	 * no-store over GET, errors (static DER) over either method.
	 */
	if (cacheable && blob != NULL) {
		if (get && ocspd_cache_headers(resp, blob) == -1)
			return -1;
	} else if ((get || !owned) && ocspd_no_store(resp) == -1)
		return -1;
	return 0;
}

static void
ocspd_job_free(struct ocspd_job *job)
{
	if (job == NULL)
		return;
	ocsp_pending_clear(&job->pend);
	free(job->inm);
	free(job);
}

/*
 * A job's answer, from its signature: the loop signer's reply (the turn of
 * its ticket), or without a signer of the loop's own one made here. A
 * signature that fails is answered internalError.
 */
static int
ocspd_complete(struct ocspd_loop *l, struct ocspd_job *job,
    struct http_response *resp)
{
	struct ocsp_blob *blob = NULL;
	const unsigned char *der = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0, derlen = 0;
	char err[256];
	int owned = 0, cacheable = 0, rc;

	if (l->signer == NULL) {
		/* Signed here (r->sign or the software keys): logged there. */
		if (ocsp_tbs_sign(l->r, job->pend.issuer, job->pend.tbs.buf,
		    job->pend.tbs.len, &sig, &siglen) == -1) {
			free(sig);
			sig = NULL;
		}
	} else if (job->sent && signer_sign_end(l->signer, job->ticket, &sig,
	    &siglen, err, sizeof(err)) == -1) {
		log_err("ocsp: signing a response for issuer %s: %s",
		    l->r->iss[job->pend.issuer].name, err);
		free(sig);
		sig = NULL;
	}
	rc = ocsp_answer_finish(l->r, &job->pend, sig, siglen, &der, &derlen,
	    &blob, &owned, &cacheable);
	free(sig);
	if (rc == 0)
		rc = ocspd_reply(resp, job->get, job->inm, der, derlen, blob,
		    owned, cacheable);
	if (owned)
		OPENSSL_free((unsigned char *)der);
	ocsp_blob_unref(blob);
	return rc;
}

/* Answers the oldest job in flight (waiting for its signature); 0: none. */
static int
ocspd_take_one(struct ocspd_loop *l)
{
	struct http_response resp;
	struct ocspd_job *job;

	if ((job = l->head) == NULL)
		return 0;
	if ((l->head = job->next) == NULL)
		l->tail = NULL;
	__atomic_sub_fetch(&l->r->signatures_in_flight, 1, __ATOMIC_RELAXED);
	memset(&resp, 0, sizeof(resp));
	if (ocspd_complete(l, job, &resp) == -1)
		resp.status = 0;	/* http_resume answers 500 */
	http_resume(job->deferred, &resp);
	http_response_clear(&resp);
	ocspd_job_free(job);
	return 1;
}

/*
 * The signature of job (its connection deferred) asked of the loop's
 * signer; the job waits in ticket order for the reply. A request the
 * signer did not take is answered internalError in its turn.
 */
static void
ocspd_sign_ask(struct ocspd_loop *l, struct ocspd_job *job)
{
	char err[256];

	job->sent = signer_sign_begin(l->signer, SIGNER_KIND_OCSP,
	    l->r->iss[job->pend.issuer].key_label,
	    l->r->iss[job->pend.issuer].sign_mdname,
	    job->pend.tbs.buf, job->pend.tbs.len, &job->ticket, err,
	    sizeof(err)) == 0;
	if (!job->sent)
		log_err("ocsp: signing a response for issuer %s: %s",
		    l->r->iss[job->pend.issuer].name, err);
	if (l->tail != NULL)
		l->tail->next = job;
	else
		l->head = job;
	l->tail = job;
	__atomic_add_fetch(&l->r->signatures_in_flight, 1, __ATOMIC_RELAXED);
}

/* The request's method and If-None-Match into job; 0 or -1. */
static int
ocspd_job_request(struct ocspd_job *job, const struct http_request *req,
    int get)
{
	const char *inm = get ? http_header(req, "If-None-Match") : NULL;

	job->get = get;
	snprintf(job->client, sizeof(job->client), "%s",
	    req->remote_addr != NULL ? req->remote_addr : "");
	if (inm != NULL && (job->inm = strdup(inm)) == NULL)
		return -1;
	return 0;
}

/*
 * A request whose answer needs a signature the signing budget does not
 * allow now (budget.c; ocsp/README.md "On-demand signing"). A nonce we
 * may ignore (RFC 9654 §2.1, RFC 5019 §4: not marked critical) on a
 * request the cache could answer without it is answered so, from the
 * cache; anything else is tryLater (RFC 6960 §2.3), which no cache keeps.
 * Nothing is signed either way. job is the caller's (its pend reused).
 */
static int
ocspd_over_budget(struct ocspd_loop *l, const struct http_request *req,
    int get, const unsigned char *body, size_t bodylen,
    struct ocspd_job *job, struct http_response *resp)
{
	struct ocsp_responder *r = l->r;
	struct ocsp_pending *p = &job->pend;
	struct ocsp_blob *blob = NULL;
	const unsigned char *der = ocsp_trylater_der;
	size_t derlen = sizeof(ocsp_trylater_der);
	int owned = 0, cacheable = 0, dropped = 0, rc;

	if (p->q.has_nonce && !p->q.critical_nonce && r->pol.echo_nonce &&
	    p->q.nids == 1 && !p->q.ids[0].odd_params) {
		ocsp_pending_clear(p);
		p->no_nonce = 1;
		/* Whatever is missing now is not looked up: tryLater. */
		p->defer_lookup = 1;
		switch (ocsp_answer_begin(r, body, bodylen, &der, &derlen,
		    &blob, &owned, &cacheable, p)) {
		case 0:
			dropped = blob != NULL;
			break;
		case -1:
			return -1;
		default:	/* still a signature, or a lookup, to make */
			der = ocsp_trylater_der;
			derlen = sizeof(ocsp_trylater_der);
			break;
		}
	}
	ocsp_budget_refused(r->budget, dropped, daemon_now_ms());
	rc = ocspd_reply(resp, get, get ? http_header(req,
	    "If-None-Match") : NULL, der, derlen, blob, owned, cacheable);
	if (owned)
		OPENSSL_free((unsigned char *)der);
	ocsp_blob_unref(blob);
	return rc;
}

/*
 * A live answer: its signature asked of the loop's signer and the
 * connection deferred (HTTP_DEFERRED); without a signer of the loop's
 * own, signed here.
 */
static int
ocspd_sign_later(struct ocspd_loop *l, const struct http_request *req,
    int get, struct ocspd_job *job, struct http_response *resp)
{
	int rc;

	if (ocspd_job_request(job, req, get) == -1) {
		ocspd_job_free(job);
		return -1;
	}
	if (l->signer == NULL) {
		rc = ocspd_complete(l, job, resp);
		ocspd_job_free(job);
		return rc;
	}
	/* NULL only on a server not started deferrable: a bug, so a 500. */
	if ((job->deferred = http_defer(req)) == NULL) {
		log_err("ocsp: the HTTP server cannot defer an answer");
		ocspd_job_free(job);
		return -1;
	}
	ocspd_sign_ask(l, job);
	return HTTP_DEFERRED;
}

/*
 * The lookup thread's done callback (extern.h struct ocsp_lookup): the
 * job goes back to its loop, which is woken. On the lookup thread.
 */
static void
ocspd_lookup_done(struct ocsp_lookup *lk, void *arg)
{
	struct ocspd_job *job = arg;
	struct ocspd_loop *l = job->loop;
	uint64_t one = 1;

	pthread_mutex_lock(&l->lk_mtx);
	job->lk_next = l->lk_done;
	l->lk_done = job;
	pthread_mutex_unlock(&l->lk_mtx);
	if (write(l->lk_wake, &one, sizeof(one)) != (ssize_t)sizeof(one) &&
	    errno != EAGAIN)
		log_err("ocsp: waking a loop for a lookup: %s",
		    strerror(errno));
}

/*
 * A request whose serials the cache does not hold: the lookup goes to
 * the lookup thread and the connection waits aside (HTTP_DEFERRED), so
 * that the loop goes on answering from the cache whatever the database
 * does. The queue full: tryLater now.
 */
static int
ocspd_lookup_later(struct ocspd_loop *l, const struct http_request *req,
    int get, struct ocspd_job *job, struct http_response *resp)
{
	struct ocsp_responder *r = l->r;
	struct ocsp_blob *blob = NULL;
	const unsigned char *der = NULL;
	size_t derlen = 0;
	int owned = 0, cacheable = 0, rc = -1;

	if (ocspd_job_request(job, req, get) == -1)
		goto out;
	job->loop = l;
	ocsp_answer_lookup_of(&job->pend, &job->lk);
	job->lk.done = ocspd_lookup_done;
	job->lk.arg = job;
	/*
	 * Queued before the connection is deferred: the answer is taken
	 * on this thread only, after this handler has returned.
	 */
	if (r->lookup_submit(r->lookup_arg, &job->lk) == -1) {
		job->lk.rc = -1;
		if (ocsp_answer_looked_up(r, &job->pend, &job->lk, &der,
		    &derlen, &blob, &owned, &cacheable) == 0)
			rc = ocspd_reply(resp, get, job->inm, der, derlen,
			    blob, owned, cacheable);
		goto out;
	}
	l->lk_out++;
	/*
	 * NULL only on a server not started deferrable: a bug, so a 500 now,
	 * and the job is dropped when its lookup comes back.
	 */
	if ((job->deferred = http_defer(req)) == NULL)
		log_err("ocsp: the HTTP server cannot defer an answer");
	else
		rc = HTTP_DEFERRED;
	job = NULL;	/* the lookup's until it comes back */
out:
	if (owned)
		OPENSSL_free((unsigned char *)der);
	ocsp_blob_unref(blob);
	ocspd_job_free(job);
	return rc;
}

static int
ocspd_handle(void *arg, const struct http_request *req,
    struct http_response *resp)
{
	struct ocspd_loop *l = arg;
	struct ocsp_responder *r = l->r;
	struct ocsp_blob *blob = NULL;
	struct ocspd_job *job = NULL;
	const unsigned char *der = NULL, *body;
	unsigned char *decoded = NULL;
	const char *path;
	size_t derlen, bodylen;
	int get, owned = 0, cacheable = 0, rc = -1;

	/*
	 * HEAD is GET without the body (RFC 9110 §9.3.2; §9.1: a server
	 * supports both), which libmicrohttpd leaves out: the same status
	 * and headers, so a cache or a monitor may ask it.
	 */
	get = strcmp(req->method, "GET") == 0 ||
	    strcmp(req->method, "HEAD") == 0;
	if (get && strcmp(req->path, "/health") == 0) {
		/* No cache may answer for us (as crld's, tsad's). */
		if (ocspd_no_store(resp) == -1)
			return -1;
		return ocspd_health(r, resp);
	}
	if (get) {
		/*
		 * RFC 6960 Appendix A.1: GET {url}/{url-encoding of base-64 of
		 * DER}, {url} being urls.ocsp, whose path (if any) comes first.
		 */
		path = ocsp_path_unprefix(req->path, r->url_prefix);
		if (strcmp(path, "/") == 0) {
			ocspd_no_store(resp);
			return http_problem(resp, 400, NULL, "Bad Request",
			    "RFC 6960 A.1: GET /{base64 of a DER OCSPRequest} "
			    "or POST an application/ocsp-request to /");
		}
		if (ocsp_path_decode(path, &decoded, &bodylen) == -1) {
			if (http_respond(resp, 200, OCSP_CT_RESPONSE,
			    ocsp_malformed_der,
			    sizeof(ocsp_malformed_der)) == -1 ||
			    ocspd_no_store(resp) == -1)
				goto out;
			rc = 0;
			goto out;
		}
		body = decoded;
	} else if (strcmp(req->method, "POST") == 0) {
		if (!http_media_type_is(req, OCSP_CT_REQUEST)) {
			ocspd_no_store(resp);
			return http_problem(resp, 415, NULL,
			    "Unsupported Media Type",
			    "RFC 6960 A.1: the body must be " OCSP_CT_REQUEST);
		}
		body = req->body;
		bodylen = req->body_len;
	} else {
		http_add_header(resp, "Allow", "GET, HEAD, POST");
		ocspd_no_store(resp);
		return http_problem(resp, 405, NULL, "Method Not Allowed",
		    "RFC 6960 A.1: OCSP over HTTP is GET or POST");
	}
	if ((job = calloc(1, sizeof(*job))) == NULL)
		goto out;
	ocsp_pending_init(&job->pend);
	/* A loop never waits for the database: lookups on sync.c's thread. */
	job->pend.defer_lookup = l->lk_wake != -1 && r->lookup_submit != NULL;
	switch (ocsp_answer_begin(r, body, bodylen, &der, &derlen, &blob,
	    &owned, &cacheable, &job->pend)) {
	case 0:
		rc = ocspd_reply(resp, get, get ? http_header(req,
		    "If-None-Match") : NULL, der, derlen, blob, owned,
		    cacheable);
		break;
	case 1:
		/* Signing on demand is bounded (budget.c); the cache is not. */
		if (!ocsp_budget_take(r->budget, req->remote_addr,
		    daemon_now_ms())) {
			rc = ocspd_over_budget(l, req, get, body, bodylen, job,
			    resp);
			break;
		}
		rc = ocspd_sign_later(l, req, get, job, resp);
		job = NULL;	/* its own now */
		break;
	case 2:
		/*
		 * A serial the cache does not hold: a database lookup, then
		 * most often a signature. Both on the client's budget, taken
		 * now: taken after the lookup, one address sending random
		 * serials cost a query each far past its budget (a review
		 * measured 3,000 a second at a budget of 100).
		 */
		if (!ocsp_budget_take(r->budget, req->remote_addr,
		    daemon_now_ms())) {
			rc = ocspd_over_budget(l, req, get, body, bodylen, job,
			    resp);
			break;
		}
		job->budget_taken = 1;
		rc = ocspd_lookup_later(l, req, get, job, resp);
		job = NULL;	/* its own now */
		break;
	default:
		break;
	}
out:
	ocspd_job_free(job);
	if (owned)
		OPENSSL_free((unsigned char *)der);
	ocsp_blob_unref(blob);
	free(decoded);
	return rc;
}

/*
 * A job whose lookup came back: answered now (tryLater: the database
 * could not say), or its ResponseData's signature asked of the loop's
 * signer like any live answer's. stopped: the loop has ended and signs
 * nothing more: tryLater.
 */
static void
ocspd_looked_up(struct ocspd_loop *l, struct ocspd_job *job, int stopped)
{
	struct http_response resp;
	struct ocsp_blob *blob = NULL;
	const unsigned char *der = NULL;
	size_t derlen = 0;
	int owned = 0, cacheable = 0, rc;

	if (job->deferred == NULL) {	/* answered 500 already */
		ocspd_job_free(job);
		return;
	}
	memset(&resp, 0, sizeof(resp));
	if (stopped)
		job->lk.rc = -1;
	rc = ocsp_answer_looked_up(l->r, &job->pend, &job->lk, &der, &derlen,
	    &blob, &owned, &cacheable);
	/*
	 * Not in the cache, so nothing to answer without a signature when
	 * the budget (budget.c) does not allow one: tryLater. Taken before
	 * the lookup already (ocspd_handle), not twice.
	 */
	if (rc == 1 && !job->budget_taken && !ocsp_budget_take(l->r->budget,
	    job->client, daemon_now_ms())) {
		ocsp_budget_refused(l->r->budget, 0, daemon_now_ms());
		der = ocsp_trylater_der;
		derlen = sizeof(ocsp_trylater_der);
		rc = 0;
	}
	if (rc == 1 && l->signer != NULL) {
		ocspd_sign_ask(l, job);	/* answered in its turn */
		return;
	}
	if (rc == 1)
		rc = ocspd_complete(l, job, &resp);
	else if (rc == 0)
		rc = ocspd_reply(&resp, job->get, job->inm, der, derlen, blob,
		    owned, cacheable);
	if (rc == -1)
		resp.status = 0;	/* http_resume answers 500 */
	http_resume(job->deferred, &resp);
	http_response_clear(&resp);
	if (owned)
		OPENSSL_free((unsigned char *)der);
	ocsp_blob_unref(blob);
	ocspd_job_free(job);
}

/* The jobs whose lookups came back, oldest first (lk_done is LIFO). */
static struct ocspd_job *
ocspd_lookups_take(struct ocspd_loop *l)
{
	struct ocspd_job *job, *list = NULL, *next;
	uint64_t n;

	if (read(l->lk_wake, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_err("ocsp: a loop's lookup wake-up: %s", strerror(errno));
	pthread_mutex_lock(&l->lk_mtx);
	job = l->lk_done;
	l->lk_done = NULL;
	pthread_mutex_unlock(&l->lk_mtx);
	for (; job != NULL; job = next) {
		next = job->lk_next;
		job->lk_next = list;
		list = job;
		l->lk_out--;
	}
	return list;
}

/* signloop_watch's function: lk_wake was written. */
static void
ocspd_lookups_answered(void *arg)
{
	struct ocspd_loop *l = arg;
	struct ocspd_job *job, *next;

	for (job = ocspd_lookups_take(l); job != NULL; job = next) {
		next = job->lk_next;
		ocspd_looked_up(l, job, 0);
	}
}

/*
 * After the loop: every lookup still out is waited for (each ends within
 * the lookup thread's bounds, or at once when ocsp_sync_stop ran first)
 * and answered tryLater, so that every deferred connection is resumed
 * before http_stop.
 */
static void
ocspd_lookups_drain(struct ocspd_loop *l)
{
	struct pollfd pfd;
	struct ocspd_job *job, *next;

	while (l->lk_wake != -1 && l->lk_out > 0) {
		pfd.fd = l->lk_wake;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 100) == -1 && errno != EINTR) {
			log_err("ocsp: poll: %s", strerror(errno));
			break;
		}
		for (job = ocspd_lookups_take(l); job != NULL; job = next) {
			next = job->lk_next;
			ocspd_looked_up(l, job, 1);
		}
	}
}

/* hsm/signloop.h's view of a loop's jobs in flight. */
static int
ocspd_oldest(void *arg)
{
	struct ocspd_loop *l = arg;

	if (l->head == NULL)
		return SIGNLOOP_NONE;
	return l->head->sent ? SIGNLOOP_SENT : SIGNLOOP_UNSENT;
}

static void
ocspd_answer_oldest(void *arg)
{
	(void)ocspd_take_one(arg);
}

/* The wake descriptor was written: ocspd stops. */
static int
ocspd_stop(void *arg, int fd)
{
	(void)arg;
	(void)fd;
	return 0;
}

static const struct signloop_ops ocspd_loop_ops = {
	ocspd_oldest, ocspd_answer_oldest, ocspd_stop
};

/* A loop's thread, until ocspd stops (ocspd_loop_stop). */
static void *
ocspd_loop_run(void *arg)
{
	struct ocspd_loop *l = arg;
	struct signloop *loop;
	char err[256];

	if (l->cpu != -1 && cpu_pin_thread(l->cpu) == -1)
		log_warn("ocsp: a loop cannot pin itself to CPU %d: %s",
		    l->cpu, strerror(errno));
	if ((loop = signloop_open(l->srv, l->signer, l->wake, err,
	    sizeof(err))) == NULL || (l->lk_wake != -1 &&
	    signloop_watch(loop, l->lk_wake, ocspd_lookups_answered, l, err,
	    sizeof(err)) == -1)) {
		log_err("ocsp: %s", err);
		signloop_close(loop);
		l->status = 1;
		return NULL;
	}
	if (signloop_run(loop, &ocspd_loop_ops, l) != 0)
		l->status = 1;
	ocspd_lookups_drain(l);
	signloop_close(loop);
	return NULL;
}

/*
 * Live CAs (not ended) that no responder certificate names as its issuer:
 * made by `pkictl ca issuing` and left without `ca responder`. Not
 * served, which ocspd says at start and in /health (until 2026-12-07
 * nothing said it: their certificates were unauthorized, /health ok).
 */
static const struct db_stmt stmt_unserved = { "ocsp_main_unserved",
	"SELECT c.name FROM ca_certificate c WHERE c.role IN ('root', "
	"'issuing') AND c.not_after > now() AND NOT EXISTS (SELECT 1 FROM "
	"ca_certificate r WHERE r.role = 'ocsp' AND r.issuer_id = c.id) "
	"ORDER BY c.id", 0 };

static int
ocspd_load_issuers(const struct config *cfg, struct ocsp_responder *r)
{
	static const struct db_stmt stmt = { "ocsp_main_issuers",
		"SELECT i.id, i.name, i.der, r.der, k.key_label, r.name "
		"FROM ca_certificate r JOIN ca_key k ON k.id = r.key_id "
		"JOIN ca_certificate i ON i.id = r.issuer_id "
		"WHERE r.role = 'ocsp' ORDER BY i.id, r.not_before DESC, r.id DESC",
		0 };
	const char *uri = config_get(cfg, "pg.ocsp_uri", NULL);
	struct db *db = NULL;
	PGresult *res = NULL;
	struct ocsp_issuer *iss;
	X509 *x[2] = { NULL, NULL };
	unsigned char *der;
	const unsigned char *p;
	size_t len;
	time_t now = time(NULL);
	int64_t nb, na;
	char err[512], t1[TIME_ISO8601_MAX], t2[TIME_ISO8601_MAX];
	long long id, prev = -1;
	int i, col, found = 1, rc = -1;

	if (uri == NULL) {
		log_err("config: pg.ocsp_uri missing");
		goto out;
	}
	if ((db = db_connect(uri, err, sizeof(err))) == NULL) {
		log_err("database: %s", err);
		goto out;
	}
	if ((res = db_exec_bounded(db, &stmt, NULL, OCSP_LOAD_DEADLINE_MS)) ==
	    NULL) {
		log_err("reading the issuers and their responders failed "
		    "(SQLSTATE %s)", db_last_sqlstate(db));
		goto out;
	}
	if (PQntuples(res) == 0) {
		log_err("no OCSP responder certificate in the database: run "
		    "`pkictl ca init`");
		goto out;
	}
	for (i = 0; i < PQntuples(res); i++) {
		id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		if (id != prev) {
			if (!found)
				break;	/* the previous issuer had none */
			prev = id;
			found = 0;
		}
		if (found)
			continue;	/* an older one of an issuer we have */
		for (col = 0; col < 2; col++) {
			der = PQunescapeBytea((const unsigned char *)
			    PQgetvalue(res, i, 2 + col), &len);
			p = der;
			x[col] = der != NULL ? d2i_X509(NULL, &p, (long)len) :
			    NULL;
			PQfreemem(der);
			if (x[col] == NULL) {
				log_err("certificate %s: not DER",
				    PQgetvalue(res, i, col == 0 ? 1 : 5));
				goto out;
			}
		}
		/*
		 * An issuer that has ended: every certificate it issued has
		 * too (profiles clamp them to it), and no responder of it can
		 * be valid now (nor made). Not answered, rather than keep
		 * ocspd from starting for the others (an issuing CA renewed
		 * and since ended: ca/README.md "Renewing the issuing CA").
		 */
		if (time_from_asn1(X509_get0_notAfter(x[0]), &na) == 0 &&
		    na < (int64_t)now) {
			log_warn("issuer %s ended at %s: not answered for (every "
			    "certificate it issued has ended too)",
			    PQgetvalue(res, i, 1), time_iso8601(na, t1,
			    sizeof(t1)));
			X509_free(x[0]);
			X509_free(x[1]);
			x[0] = x[1] = NULL;
			found = 1;
			continue;
		}
		if (!ocsp_responder_valid(x[1], now)) {
			if (time_from_asn1(X509_get0_notBefore(x[1]), &nb) == -1 ||
			    time_from_asn1(X509_get0_notAfter(x[1]), &na) == -1)
				nb = na = 0;
			log_warn("responder certificate %s of %s is not valid "
			    "now (%s to %s): skipped", PQgetvalue(res, i, 5),
			    PQgetvalue(res, i, 1), time_iso8601(nb, t1,
			    sizeof(t1)), time_iso8601(na, t2, sizeof(t2)));
			X509_free(x[0]);
			X509_free(x[1]);
			x[0] = x[1] = NULL;
			continue;
		}
		/* The root and as many issuing CAs as pkictl ca issuing makes. */
		_Static_assert(OCSP_MAX_ISSUERS >= CADB_MAX_ISSUING + 1,
		    "ocspd serves fewer issuers than may be live");
		if (r->niss == OCSP_MAX_ISSUERS) {
			log_err("more than %d issuers with an OCSP responder",
			    OCSP_MAX_ISSUERS);
			goto out;
		}
		iss = &r->iss[r->niss];
		iss->db_id = id;
		snprintf(iss->name, sizeof(iss->name), "%s", PQgetvalue(res, i, 1));
		snprintf(iss->key_label, sizeof(iss->key_label), "%s",
		    PQgetvalue(res, i, 4));
		r->niss++;
		/* Owned by r now (freed at the end of main). */
		iss->cert = x[0];
		iss->rcert = x[1];
		x[0] = x[1] = NULL;
		found = 1;
		if (ocsp_issuer_prepare(iss, r->pol.sign_mdname) == -1) {
			log_openssl(LOGL_ERR, "hashing issuer %s", iss->name);
			goto out;
		}
		log_info("issuer %s: responder certificate %s, valid until %s",
		    iss->name, PQgetvalue(res, i, 5), time_iso8601(
		    iss->rnot_after, t1, sizeof(t1)));
	}
	if (!found) {
		log_err("issuer %s: no OCSP responder certificate valid now "
		    "(see the lines above): ocspd cannot sign for it; issue a "
		    "new one, then start ocspd", PQgetvalue(res, i - 1, 1));
		goto out;
	}
	if (r->niss == 0) {
		log_err("no issuer to answer for: every one has ended");
		goto out;
	}
	/*
	 * Which of ours issued each one's own certificate: that row's
	 * status is the issuer's (sync.c ocsp_sync_ca_status).
	 */
	if (ocsp_issuers_link(r->iss, r->niss) == -1) {
		log_openssl(LOGL_ERR, "reading the issuers' serials");
		goto out;
	}
	PQclear(res);
	if ((res = db_exec_bounded(db, &stmt_unserved, NULL,
	    OCSP_LOAD_DEADLINE_MS)) == NULL) {
		log_err("reading the CAs without a responder failed (SQLSTATE "
		    "%s)", db_last_sqlstate(db));
		goto out;
	}
	for (i = 0; i < PQntuples(res) && r->nnot_served < OCSP_MAX_ISSUERS;
	    i++) {
		snprintf(r->not_served[r->nnot_served++],
		    sizeof(r->not_served[0]), "%s", PQgetvalue(res, i, 0));
		log_err("issuer %s has no OCSP responder certificate: its "
		    "certificates are answered unauthorized; make one (pkictl "
		    "ca responder --issuer %s), then restart ocspd",
		    PQgetvalue(res, i, 0), PQgetvalue(res, i, 0));
	}
	rc = 0;
out:
	X509_free(x[0]);
	X509_free(x[1]);
	PQclear(res);
	db_close(db);
	return rc;
}

/*
 * SIGHUP: the responder certificates are read at start only. A new one
 * usually comes with a new key, which the signer processes, forked and
 * granted their key labels before the PIN was forgotten, cannot use: a
 * restart is what takes it (ocsp/README.md "Responder certificates").
 */
/*
 * ocsp_responder.sign, for the pre-signing thread (sync.c): through the
 * signer process of its own (arg), one response at a time.
 */
static int
ocspd_sign(void *arg, const struct ocsp_issuer *iss, const char *mdname,
    const unsigned char *tbs, size_t tbslen, unsigned char **sig,
    size_t *siglen)
{
	char err[256];

	if (signer_sign(arg, SIGNER_KIND_OCSP, iss->key_label, mdname, tbs,
	    tbslen, sig, siglen, err, sizeof(err)) == -1) {
		log_err("ocsp: signing a response for issuer %s: %s", iss->name,
		    err);
		return -1;
	}
	return 0;
}

/* Signer s holds each issuer's responder key: its certificate's. */
static int
ocspd_check_keys(struct ocsp_responder *r, struct signer *s)
{
	EVP_PKEY *pub;
	char err[256];
	int i, same;

	for (i = 0; i < r->niss; i++) {
		if (signer_pubkey(s, r->iss[i].key_label, &pub, err,
		    sizeof(err)) == -1) {
			log_err("signer key %s: %s", r->iss[i].key_label, err);
			return -1;
		}
		same = EVP_PKEY_eq(pub, X509_get0_pubkey(r->iss[i].rcert)) == 1;
		EVP_PKEY_free(pub);
		if (!same) {
			log_err("responder certificate of %s does not match "
			    "key %s", r->iss[i].name, r->iss[i].key_label);
			return -1;
		}
	}
	return 0;
}

static void
ocspd_hup(void *arg)
{
	log_warn("SIGHUP: ocspd reads its responder certificates at start "
	    "only; restart it to take a new one");
}

/*
 * Starts loop l's thread (its server and signer set). Threads start before
 * the sandbox, which covers them (TSYNC), as libmicrohttpd's did.
 */
static int
ocspd_loop_start(struct ocspd_loop *l)
{
	int e;

	if ((l->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1 ||
	    (l->lk_wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
		log_err("eventfd: %s", strerror(errno));
		return -1;
	}
	if ((e = pthread_mutex_init(&l->lk_mtx, NULL)) != 0) {
		log_err("pthread_mutex_init: %s", strerror(e));
		return -1;
	}
	l->lk_mtx_ok = 1;
	if ((e = pthread_create(&l->thread, NULL, ocspd_loop_run, l)) != 0) {
		log_err("pthread_create: %s", strerror(e));
		return -1;
	}
	l->running = 1;
	return 0;
}

/* Tells loop l to stop, waits for it, and stops its server. 0, or 1. */
static int
ocspd_loop_stop(struct ocspd_loop *l)
{
	uint64_t one = 1;

	if (l->running) {
		if (write(l->wake, &one, sizeof(one)) != (ssize_t)sizeof(one))
			log_err("ocsp: waking a loop to stop: %s",
			    strerror(errno));
		pthread_join(l->thread, NULL);
		l->running = 0;
	}
	http_stop(l->srv);
	l->srv = NULL;
	if (l->wake > 0)
		close(l->wake);
	l->wake = -1;
	if (l->lk_wake > 0)
		close(l->lk_wake);
	l->lk_wake = -1;
	if (l->lk_mtx_ok)
		pthread_mutex_destroy(&l->lk_mtx);
	l->lk_mtx_ok = 0;
	return l->status;
}

int
main(int argc, char **argv)
{
	struct ocsp_responder r;
	struct config *cfg = NULL, *policy = NULL;
	struct signer_config sc;
	/* Loop j signs through signers[j]; the pre-signing thread, the last. */
	struct signer *signers[OCSP_LOOPS_MAX + 1] = { NULL };
	struct ocspd_loop loops[OCSP_LOOPS_MAX];
	struct ocsp_sync *sync = NULL;
	struct http_limits lim;
	const char *policy_dir;
	char err[512], policy_path[PATH_MAX];
	long port, threads, per_ip, max_conns, live, live_client;
	sigset_t sigs;
	int i, j, cpu, pin_cpus = 0, reuse_port = 0, rc = 1;

	memset(&r, 0, sizeof(r));
	memset(loops, 0, sizeof(loops));
	for (j = 0; j < OCSP_LOOPS_MAX; j++)
		loops[j].wake = loops[j].lk_wake = -1;
	if ((cfg = daemon_load_config(argc, argv, "ocsp", usage)) == NULL)
		return 1;
	policy_dir = config_get(cfg, "pki.policy_dir", "policy");
	snprintf(policy_path, sizeof(policy_path), "%s/ocsp.conf", policy_dir);
	if ((policy = config_load(config_get(cfg, "ocsp.policy_file",
	    policy_path), err, sizeof(err))) == NULL) {
		log_err("%s", err);
		goto out;
	}
	if (ocsp_policy_load(policy, &r.pol, err, sizeof(err)) == -1) {
		log_err("%s", err);
		goto out;
	}
	/* Clients GET {urls.ocsp}/{base64}: its path is taken off. */
	if (ocsp_url_prefix(config_get(cfg, "urls.ocsp", NULL), r.url_prefix,
	    sizeof(r.url_prefix)) == -1) {
		log_err("config: urls.ocsp is not an http:// or https:// URL "
		    "without a query or fragment, with a path of at most %d "
		    "characters", OCSP_MAX_PREFIX - 1);
		goto out;
	}
	if (r.url_prefix[0] != '\0')
		log_info("GET requests under %s/ (the path of urls.ocsp)",
		    r.url_prefix);
	if (config_get_long(cfg, "ocsp.port", 18081, 0, 65535, &port) == -1 ||
	    config_get_long(cfg, "ocsp.threads", 2, 1, OCSP_LOOPS_MAX,
	    &threads) == -1 ||
	    config_get_long(cfg, "ocsp.max_conns", 1024, 1, 65536,
	    &max_conns) == -1 ||
	    config_get_long(cfg, "ocsp.max_conns_per_ip", 256, 1, 65536,
	    &per_ip) == -1 ||
	    config_get_bool(cfg, "ocsp.reuse_port", 0, &reuse_port) == -1 ||
	    config_get_bool(cfg, "ocsp.pin_cpus", 0, &pin_cpus) == -1 ||
	    config_get_long(cfg, "ocsp.live_per_second",
	    OCSP_LIVE_PER_SECOND, 0, 1000000, &live) == -1 ||
	    config_get_long(cfg, "ocsp.live_per_client_per_second",
	    OCSP_LIVE_PER_CLIENT, 0, 1000000, &live_client) == -1)
		goto out;
	/* Signatures on demand, bounded (ocsp/README.md "On-demand signing"). */
	if ((live > 0 || live_client > 0) &&
	    (r.budget = ocsp_budget_new(live, live_client)) == NULL) {
		log_err("out of memory");
		goto out;
	}
	log_info("signing on demand: at most %ld a second%s, %ld per client "
	    "address%s", live, live == 0 ? " (no bound)" : "", live_client,
	    live_client == 0 ? " (no bound)" : "");
	if (config_get(cfg, "ocsp.signers", NULL) != NULL)
		log_warn("ocsp.signers is no longer read: each of the "
		    "ocsp.threads loops has a signer process of its own");
	if (ocspd_load_issuers(cfg, &r) == -1)
		goto out;
	if ((r.cache = ocsp_cache_new()) == NULL) {
		log_err("out of memory");
		goto out;
	}

	/* The signer: the OCSP token, OCSP responses with the responder keys only. */
	memset(&sc, 0, sizeof(sc));
	if (signer_config_add_token(&sc, cfg, "ocsp") == -1)
		goto out;
	for (i = 0; i < r.niss; i++) {
		if (signer_config_grant(&sc, SIGNER_KIND_OCSP,
		    r.iss[i].key_label) == -1)
			goto out;
	}
	/* No response of ours reaches further: nor one the signer signs. */
	sc.ocsp_max_validity_s = (r.pol.validity > r.pol.nonissued_validity ?
	    r.pol.validity : r.pol.nonissued_validity) + 300;
	sc.sandbox_section = "ocsp";
	/* Signals go to sigwait() below: block them before any thread exists. */
	daemon_block_signals(&sigs);
	/*
	 * One signer process per loop and one for the pre-signing thread:
	 * SoftHSM2 scales with processes. A PIN from the environment serves
	 * each of them, then leaves this process (hsm/README.md "PINs from
	 * the environment").
	 */
	sc.keep_pin_env = 1;
	for (j = 0; j <= threads; j++) {
		/* A loop and its signer on one CPU (lib/cpu.h). */
		cpu = pin_cpus && j < threads ? cpu_for_worker(j) : -1;
		sc.pin = cpu != -1;
		sc.cpu = cpu;
		if (j < threads)
			loops[j].cpu = cpu;
		if ((signers[j] = signer_spawn(&sc, err, sizeof(err))) == NULL) {
			log_err("signer %d: %s", j, err);
			signer_config_forget_pins(&sc);
			goto out;
		}
		if (ocspd_check_keys(&r, signers[j]) == -1) {
			signer_config_forget_pins(&sc);
			goto out;
		}
	}
	signer_config_forget_pins(&sc);
	if (loops[0].cpu != -1)
		log_info("%ld loop(s) pinned to CPUs in turn from %d, each with "
		    "its signer process (ocsp.pin_cpus)", threads, loops[0].cpu);
	r.sign = ocspd_sign;
	r.sign_arg = signers[threads];
	/* Before the first thread (the signers, forked, keep theirs). */
	if (daemon_limit_files(cfg, "ocsp", "ocspd", NULL, 0, NULL, 0,
	    config_get(cfg, "pg.ocsp_uri", NULL)) == -1)
		goto out;
	if ((sync = ocsp_sync_start(&r, config_get(cfg, "pg.ocsp_uri", ""),
	    err, sizeof(err))) == NULL) {
		log_err("sync: %s", err);
		goto out;
	}
	memset(&lim, 0, sizeof(lim));
	/* Behind a reverse proxy: the client from X-Forwarded-For (lib/proxy.h). */
	lim.trusted_proxies = config_get(cfg, "ocsp.trusted_proxies", NULL);
	lim.max_body = OCSP_MAX_BODY;
	lim.timeout_s = 10;
	lim.body_deadline_s = OCSP_BODY_DEADLINE_S;
	/*
	 * Each loop's share of the limits, rounded up: a loop at its limit
	 * stops accepting and the others take the new connections.
	 */
	lim.max_conns = (unsigned int)((max_conns + threads - 1) / threads);
	lim.max_conns_per_ip = (unsigned int)((per_ip + threads - 1) / threads);
	/* Several ocspd processes may share the port (each with its signers). */
	lim.reuse_port = reuse_port;
	lim.external = 1;
	lim.deferrable = 1;
	/*
	 * Bound as root; served, and the loops that accept started, only
	 * once demoted and filtered (lib/http.h).
	 */
	for (j = 0; j < threads; j++) {
		loops[j].r = &r;
		loops[j].signer = signers[j];
		loops[j].srv = j == 0 ? http_listen(config_get(cfg, "ocsp.listen",
		    "127.0.0.1"), (uint16_t)port, &lim, ocspd_handle, &loops[j],
		    err, sizeof(err)) : http_listen_shared(loops[0].srv, &lim,
		    ocspd_handle, &loops[j], err, sizeof(err));
		if (loops[j].srv == NULL) {
			log_err("http: %s", err);
			goto out;
		}
	}
	if (sandbox_enter(cfg, "ocsp", SANDBOX_NET_WORKER) == -1)
		goto out;
	for (j = 0; j < threads; j++) {
		if (http_serve(loops[j].srv, err, sizeof(err)) == -1) {
			log_err("http: %s", err);
			goto out;
		}
		if (ocspd_loop_start(&loops[j]) == -1)
			goto out;
	}
	log_info("serving OCSP on %s for %d issuer(s), %ld loop(s)",
	    http_where(loops[0].srv), r.niss, threads);
	rc = daemon_wait(&sigs, ocspd_hup, NULL);
out:
	for (j = 0; j < OCSP_LOOPS_MAX; j++)
		if (ocspd_loop_stop(&loops[j]) != 0 && rc == 0)
			rc = 1;
	ocsp_sync_stop(sync);
	ocsp_budget_free(r.budget);
	ocsp_cache_free(r.cache);
	for (i = 0; i < r.niss; i++)
		ocsp_issuer_clear(&r.iss[i]);
	for (j = 0; j <= OCSP_LOOPS_MAX; j++)
		signer_close(signers[j]);
	config_free(policy);
	config_free(cfg);
	return rc;
}
