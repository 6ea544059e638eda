/*
 * tsad: the RFC 3161 / RFC 5816 time-stamping authority.
 *
 * Processes:
 *  - the supervisor (main): reads the configuration and the certificates
 *    from PostgreSQL, forks tsa.workers workers sharing the port
 *    (SO_REUSEPORT), restarts one that dies, and stops them on SIGTERM. It
 *    answers no request and holds no key.
 *  - each worker (tsaproc): forks its own signer, answers HTTP POSTs of
 *    application/timestamp-query in one event loop (hsm/signloop.c) that keeps
 *    several signatures in flight, records each token through a batching thread
 *    (tsa/record.c); it binds its port, drops to an unprivileged user and
 *    enters a seccomp sandbox before its loop serves the port (lib/http.h
 *    http_serve). It never holds a PIN or a private key.
 *  - each worker's signer (hsm/signerproc.c): alone loads the PKCS#11 module
 *    and logs in to the TSA token; it signs only time-stamp tokens
 *    (SignedAttributes over a TSTInfo) with the TSA key, nothing else.
 * SoftHSM2 scales with processes, not threads (HSM-NOTES.md): workers are
 * processes.
 *
 * Configuration: pki.conf ([tsa], [hsm], [pg]) and policy/tsa.conf;
 * tsa.spill_file is required (tsa.insecure_no_spill_file: development
 * only). Stops
 * cleanly on SIGTERM or SIGINT: in-flight requests finish, the records not
 * yet in the database go to tsa.spill_file (fdatasync) first, then the
 * database gets tsa.flush_timeout_seconds (at most TSA_FLUSH_TIMEOUT_MAX,
 * so that a worker is done before the service manager's SIGKILL) to take
 * them; what it did not take waits in the file for the next start. A
 * worker that had to leave its recorder thread inside a database call that
 * did not answer ends with _exit() (tsad_exit_abandoned).
 */
#include <sys/wait.h>

#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#include "hsm/signer.h"
#include "hsm/signloop.h"
#include "lib/cadb.h"
#include "lib/config.h"
#include "lib/daemon.h"
#include "lib/db.h"
#include "lib/http.h"
#include "lib/log.h"
#include "lib/sandbox.h"
#include "lib/timeutil.h"
#include "tsa/extern.h"

#define TSA_MAX_QUERY		(16 * 1024)	/* a TimeStampReq is ~100 bytes */
/* 16 KiB take 2.4 s at 56 kbit/s; nginx sends a body buffered, at once. */
#define TSA_BODY_DEADLINE_S	5
#define TSA_RETRY_AFTER_S	"5"		/* a full record queue */
#define TSA_TEXT_QUEUE_FULL	"The token record queue is full; try again later."
#define TSA_TEXT_UNKEPT		"Tokens cannot be recorded now; try again later."

#define TSA_MAX_WORKERS		16
/*
 * /health answers 503 for this long after a signature failed while none
 * was made since (tsad_health): long enough for a load balancer to take
 * the worker out, short enough that it sends queries again, one of which
 * must succeed to say the signer works again (no query, no signature).
 */
#define TSA_SIGN_FAIL_HOLD_S	30

/* What the supervisor loads once and every worker uses. */
struct tsad_conf {
	struct config		*cfg;
	struct config		*policy;
	X509			*cert;
	long long		 cert_id;	/* its ca_certificate.id, recorded */
	char			 cert_name[32];	/* its ca_certificate.name */
	struct tsa_revocation	 revocation;	/* at start (tsa/certwatch.c) */
	STACK_OF(X509)		*extra;
	char			 label[SIGNER_LABEL_MAX + 1];
	char			 instance[64];
	const char		*spill;		/* tsa.spill_file; NULL: none */
	long			 port, max_queue, flush_timeout, workers;
	long			 db_timeout;	/* tsa.db_timeout_seconds */
	int			 allow_unsync;
	sigset_t		 sigs;
};

/*
 * A granted query whose signature is in flight: prepared, its request sent
 * to the signer, its connection deferred; the loop (hsm/signloop.c) takes the signature,
 * writes the token and resumes the connection.
 */
struct tsad_job {
	struct tsad_job		*next;
	struct http_deferred	*deferred;
	unsigned long		 ticket;
	int			 sent;		/* a ticket was taken */
	int			 reserved;	/* a slot of the record queue */
	struct tsa_pending	 pend;
};

/*
 * A worker's state, all in one thread: its event loop (hsm/signloop.c) runs
 * the HTTP server and takes the signer's replies. A granted query is
 * prepared, its signature request sent, and its connection set aside
 * (http_defer); the loop serves other connections meanwhile and answers it
 * when the signature comes. So requests reach the signer in batches, and
 * it answers each batch with one write: the worker and its signer wake
 * once per batch, not once per token.
 */
struct tsad {
	struct tsa_responder	*responder;
	struct tsa_recorder	*recorder;
	struct tsa_certwatch	*certwatch;	/* revoked or on hold */
	struct signer		*signer;
	const char		*label;		/* the TSA key's */
	int			 allow_unsync;
	struct tsa_lograte	 full_log;	/* the record queue full */
	struct tsa_lograte	 sign_log;	/* signatures failing */
	struct tsad_job		*head, *tail;	/* in flight, in ticket order */
	unsigned int		 in_flight;	/* jobs queued: /health */
	/*
	 * The signatures of granted queries (tsad_complete), for /health:
	 * made (a token written around one), failed (not sent, refused or
	 * failed by the signer, or no token could be written around it),
	 * failed since the last one made, and when the last of each came
	 * (0: none yet; sign_failed_ms in daemon_now_ms()).
	 */
	unsigned long long	 signed_ok, sign_failed, sign_failed_run;
	time_t			 sign_ok_at, sign_failed_at;
	long long		 sign_failed_ms;
};

static void
usage(void)
{
	fprintf(stderr, "usage: tsad [--config FILE]\n");
	exit(2);
}

/*
 * "ok" when tokens are issued and recorded: the clock usable (or the
 * override set), the TSA certificate valid now (tsa_cert_window; the
 * override does not cover it), the last signature made (the signer
 * running but refusing, a key gone from the token: until 2026-12-07 /health
 * said ok while every query got systemFailure), the last database write
 * done, none outstanding for
 * TSA_WRITE_STUCK_S or more (the recorder blocked: a lock, a COMMIT waiting
 * for a lost synchronous standby) and the queue at most TSA_QUEUE_HIGH_PCT
 * full: otherwise it would say ok until the queue fills and every query
 * gets systemFailure. HTTP 503 (the same JSON) within TSA_SIGN_FAIL_HOLD_S
 * of a failed signature none made has followed, and while the clock is not
 * usable (without the override), the TSA certificate is not valid now or
 * it or its issuer is revoked or on hold (every query then refused), so
 * that a load balancer or monitor reading the code alone takes the worker
 * out, or the record queue is full (every query refused: until 2026-12-07
 * 200); 200 otherwise.
 */
static int
tsad_health(struct tsad *t, struct http_response *resp)
{
	struct tsa_clock clk;
	struct tsa_cert_state cs;
	struct tsa_recorder_health h;
	struct tsa_revocation rv;
	long long days;
	int db_ok, high, full, sign_ok, clk_ok, hold, rc = -1;
	json_t *o, *revoked;

	tsa_recorder_stats(t->recorder, &h);
	tsa_certwatch_state(t->certwatch, &rv, NULL);
	tsa_responder_clock(t->responder, &clk);
	tsa_responder_cert(t->responder, &cs);
	high = h.queued * 100 > h.max_queue * TSA_QUEUE_HIGH_PCT;
	/* Every query refused (tsad_queue_full): until 2026-12-07 200. */
	full = h.queued + h.reserved >= h.max_queue;
	db_ok = h.db_ok && h.write_pending_ms < TSA_WRITE_STUCK_S * 1000LL;
	/* Whole days left, rounded down: -1 from the first second after. */
	days = cs.seconds_left >= 0 ? cs.seconds_left / 86400 :
	    -((-cs.seconds_left + 86399) / 86400);
	sign_ok = t->sign_failed_run == 0;
	clk_ok = clk.usable || t->allow_unsync;
	/*
	 * 503 too while no query can be granted: every one gets
	 * timeNotAvailable (the clock) or systemFailure (the certificate).
	 * Both are read here, so the 503 ends with them (until 2026-12-07
	 * it was 200, degraded, and balancers kept sending queries).
	 */
	hold = (!sign_ok && daemon_now_ms() - t->sign_failed_ms <
	    TSA_SIGN_FAIL_HOLD_S * 1000LL) || !cs.valid || !clk_ok ||
	    rv.revoked || full || !h.spill_ok;
	o = json_pack("{s:s, s:b, s:I, s:I, s:I, s:b, s:b, s:b, s:I, s:b, s:I, "
	    "s:I, s:b, s:I, s:I}",
	    "status", db_ok && !high && cs.valid && sign_ok && clk_ok &&
	    !rv.revoked && h.spill_ok ? "ok" : "degraded",
	    "clock_synchronized", clk.synchronized,
	    "clock_maxerror_us", (json_int_t)clk.maxerror_us,
	    "clock_accuracy_us", (json_int_t)clk.accuracy_us,
	    "clock_precision_us", (json_int_t)clk.precision_us,
	    "clock_usable", clk.usable, "clock_override", t->allow_unsync,
	    "cert_valid", cs.valid, "cert_days_left", (json_int_t)days,
	    "database_ok", db_ok, "records_queued", (json_int_t)h.queued,
	    "records_queue_max", (json_int_t)h.max_queue,
	    "records_queue_high", high,
	    "write_pending_seconds", (json_int_t)(h.write_pending_ms / 1000),
	    "signatures_in_flight", (json_int_t)t->in_flight);
	if (o == NULL)
		return -1;
	/*
	 * The TSA certificate or its issuer revoked or on hold (every query
	 * then refused, tsad_respond); null when neither is.
	 */
	revoked = rv.revoked ? json_pack("{s:s, s:s, s:s, s:s, s:s}",
	    "certificate", rv.issuer ? "issuer" : "tsa", "name", rv.name,
	    "serial", rv.serial, "reason", rv.reason_name, "since", rv.since) :
	    json_null();
	if (json_object_set_new(o, "cert_revoked", revoked) == -1 ||
	    json_object_set_new(o, "records_queue_full", json_boolean(full)) ==
	    -1 || json_object_set_new(o, "spill_ok",
	    json_boolean(h.spill_ok)) == -1)
		goto out;
	/* The signatures made and failed (tsad_sign_count); null: none yet. */
	if (json_object_set_new(o, "signatures", json_pack("{s:b, s:I, s:I, "
	    "s:I, s:o, s:o}", "ok", sign_ok,
	    "made", (json_int_t)t->signed_ok,
	    "failed", (json_int_t)t->sign_failed,
	    "failed_in_a_row", (json_int_t)t->sign_failed_run,
	    "last_ok_at", t->sign_ok_at > 0 ?
	    json_integer((json_int_t)t->sign_ok_at) : json_null(),
	    "last_failed_at", t->sign_failed_at > 0 ?
	    json_integer((json_int_t)t->sign_failed_at) : json_null())) == -1)
		goto out;
	rc = http_respond_json(resp, hold ? 503 : 200, o);
out:
	json_decref(o);
	return rc;
}

/*
 * The answer to a query the record queue has no room for: a TimeStampResp
 * as for any refusal (RFC 3161 §3.4: application/timestamp-reply, with
 * HTTP 200 like our other rejections: many clients read no body of
 * another status), rejection with failInfo systemFailure; Retry-After says
 * when to try again.
 */
static int
tsad_queue_full(struct tsad *t, struct http_response *resp)
{
	struct tsa_recorder_health h;
	unsigned char *reply = NULL;
	size_t replylen = 0;
	unsigned long more;
	int rc;

	/* Or records that could be kept nowhere (spill_ok, tsa/record.c). */
	tsa_recorder_stats(t->recorder, &h);
	if (tsa_respond_rejection(TSA_FAIL_SYSTEM_FAILURE, h.spill_ok ?
	    TSA_TEXT_QUEUE_FULL : TSA_TEXT_UNKEPT, &reply, &replylen) == -1)
		return -1;
	if (tsa_log_due(&t->full_log, &more))
		log_warn("tsa: %s: queries get rejection, systemFailure (%lu "
		    "more such log lines suppressed)", h.spill_ok ? "the token "
		    "record queue is full (the database takes no records)" :
		    "the database takes no records and the spill file cannot "
		    "keep them", more);
	http_add_header(resp, "Retry-After", TSA_RETRY_AFTER_S);
	rc = http_respond(resp, 200, "application/timestamp-reply", reply,
	    replylen);
	OPENSSL_free(reply);
	return rc;
}

/*
 * The HTTP answer to a query: reply (taken), unless the token, granted,
 * cannot be recorded (tsad_queue_full). What is not recorded is not
 * issued. reserved: the token has a slot of the queue already
 * (tsa_recorder_reserve), which this gives back.
 */
static int
tsad_answer(struct tsad *t, int granted, int reserved, unsigned char *reply,
    size_t replylen, const struct tsa_record *rec, struct http_response *resp)
{
	int rc;

	if (granted && (reserved ? tsa_recorder_add_reserved(t->recorder,
	    rec) : tsa_recorder_add(t->recorder, rec)) == -1) {
		OPENSSL_free(reply);
		return tsad_queue_full(t, resp);
	}
	if (granted && tsa_log_over(&t->full_log))
		log_info("tsa: the token record queue has room again (and its "
		    "records are kept): tokens are issued");
	rc = http_respond(resp, 200, "application/timestamp-reply", reply, replylen);
	OPENSSL_free(reply);
	return rc;
}

/*
 * Counts a granted query's signature (ok: a token was written around it)
 * for /health, and logs the end of a run of failures (a failure is logged
 * as it comes, at most once every TSA_LOG_INTERVAL_S: tsad_sign_log).
 */
static void
tsad_sign_count(struct tsad *t, int ok)
{
	if (ok) {
		tsa_log_over(&t->sign_log);
		if (t->sign_failed_run > 0)
			log_info("tsa: a signature was made again after %llu "
			    "that failed: tokens are issued", t->sign_failed_run);
		t->signed_ok++;
		t->sign_failed_run = 0;
		t->sign_ok_at = time(NULL);
		return;
	}
	t->sign_failed++;
	t->sign_failed_run++;
	t->sign_failed_at = time(NULL);
	t->sign_failed_ms = daemon_now_ms();
}

/*
 * Logs a signature that failed (err: why), as a lasting condition is
 * (tsa_log_due): the first of a run, then at most once every
 * TSA_LOG_INTERVAL_S with the number left out. A signer refusing every
 * signature logged one line per query, at the query rate.
 */
static void
tsad_sign_log(struct tsad *t, const char *err)
{
	unsigned long more;

	if (tsa_log_due(&t->sign_log, &more))
		log_err("tsa: signer: %s: answering rejection, failInfo "
		    "systemFailure (%lu more such log lines suppressed)", err,
		    more);
}

/*
 * A job's answer: its signature taken from the signer (the turn of its
 * ticket), the token written around it and recorded. A signature that
 * fails gets rejection with failInfo systemFailure, as a query whose
 * TS_RESP_CTX signature fails does (tsa_respond).
 */
static int
tsad_complete(struct tsad *t, struct tsad_job *job, struct http_response *resp)
{
	unsigned char *sig = NULL, *reply = NULL;
	size_t siglen = 0, replylen = 0;
	char err[256];
	int ok = 0;

	if (!job->sent)
		;	/* the request could not be sent: logged then */
	else if (signer_sign_end(t->signer, job->ticket, &sig, &siglen, err,
	    sizeof(err)) == -1)
		tsad_sign_log(t, err);
	else
		ok = tsa_respond_finish(t->responder, &job->pend, sig, siglen,
		    &reply, &replylen) == 0;
	free(sig);
	tsad_sign_count(t, ok);
	/* Its slot: taken by the record, or given back. */
	job->reserved = 0;
	if (!ok) {
		tsa_recorder_unreserve(t->recorder);
		if (tsa_respond_rejection(TSA_FAIL_SYSTEM_FAILURE,
		    TSA_TEXT_SYSTEM_FAILURE, &reply, &replylen) == -1)
			return -1;
	}
	return tsad_answer(t, ok, 1, reply, replylen, &job->pend.rec, resp);
}

static void
tsad_job_free(struct tsad_job *job)
{
	if (job == NULL)
		return;
	tsa_token_tbs_free(&job->pend.tbs);
	free(job);
}

/*
 * Answers the oldest job in flight: waits for its signature if need be.
 * 0 when there was none.
 */
static int
tsad_take_one(struct tsad *t)
{
	struct http_response resp;
	struct tsad_job *job;

	if ((job = t->head) == NULL)
		return 0;
	if ((t->head = job->next) == NULL)
		t->tail = NULL;
	t->in_flight--;
	memset(&resp, 0, sizeof(resp));
	if (tsad_complete(t, job, &resp) == -1)
		resp.status = 0;	/* http_resume answers 500 */
	http_resume(job->deferred, &resp);
	http_response_clear(&resp);
	tsad_job_free(job);
	return 1;
}

/*
 * Answers every job in flight: before a synchronous signature
 * (signer_on_sync: TS_RESP_CTX granting what the direct path did not
 * build), which would otherwise wait for ever behind them.
 */
static void
tsad_take_all(void *arg)
{
	struct tsad *t = arg;

	while (tsad_take_one(t))
		;
}

/* Sends job's signature request to the signer (job->sent says whether). */
static void
tsad_send(struct tsad *t, struct tsad_job *job)
{
	char err[256];

	/* The TSTInfo goes along: the signer checks what the digest covers. */
	job->sent = signer_sign_attrs_begin(t->signer, SIGNER_KIND_TIMESTAMP,
	    t->label, tsa_responder_sign_mdname(t->responder),
	    job->pend.tbs.signed_attrs.buf, job->pend.tbs.signed_attrs.len,
	    job->pend.tbs.tst.buf, job->pend.tbs.tst.len, &job->ticket, err,
	    sizeof(err)) == 0;
	if (!job->sent)
		tsad_sign_log(t, err);
}

/*
 * A query the direct path grants is prepared here, its signature requested
 * and its answer deferred (HTTP_DEFERRED) until the loop takes the
 * signature; any other query is answered now.
 */
static int
tsad_respond(struct tsad *t, const struct http_request *req,
    struct http_response *resp)
{
	struct tsad_job *job;
	struct tsa_record rec;
	unsigned char *reply = NULL;
	size_t replylen;
	int granted, r;

	/*
	 * The TSA certificate or its issuer revoked or on hold: nothing is
	 * signed (RFC 3161 §2.4.2 systemFailure; the watcher logged it).
	 */
	if (tsa_certwatch_revoked(t->certwatch)) {
		if (tsa_respond_rejection(TSA_FAIL_SYSTEM_FAILURE,
		    TSA_TEXT_CERT_REVOKED, &reply, &replylen) == -1)
			return -1;
		return tsad_answer(t, 0, 0, reply, replylen, NULL, resp);
	}
	if ((job = calloc(1, sizeof(*job))) == NULL)
		return -1;
	tsa_token_tbs_init(&job->pend.tbs);
	r = tsa_respond_begin(t->responder, req->body, req->body_len, &reply,
	    &replylen, &granted, &rec, &job->pend);
	if (r != 1) {
		/*
		 * TS_RESP_CTX's own signature (the direct path failed): counted
		 * as the direct path's are (until 2026-12-07 it was not, so a
		 * query answered systemFailure here left /health ok).
		 */
		if (r == 0 && job->pend.ctx_signed != 0)
			tsad_sign_count(t, job->pend.ctx_signed > 0);
		if (r == 0)
			r = tsad_answer(t, granted, 0, reply, replylen, &rec,
			    resp);
		tsad_job_free(job);
		return r;
	}
	/*
	 * Its record's slot before its signature: the queue full, nothing is
	 * signed (until 2026-12-07 the HSM signed each such token, which was
	 * then thrown away).
	 */
	if (tsa_recorder_reserve(t->recorder) == -1) {
		tsad_job_free(job);
		return tsad_queue_full(t, resp);
	}
	job->reserved = 1;
	/* NULL only on a server not started deferrable: a bug, so a 500. */
	if ((job->deferred = http_defer(req)) == NULL) {
		log_err("tsa: the HTTP server cannot defer an answer");
		tsa_recorder_unreserve(t->recorder);
		tsad_job_free(job);
		return -1;
	}
	tsad_send(t, job);
	if (t->tail != NULL)
		t->tail->next = job;
	else
		t->head = job;
	t->tail = job;
	t->in_flight++;
	return HTTP_DEFERRED;
}

/*
 * An HTTP refusal (allow: the Allow header of a 405, or NULL). It says
 * no-store, as ocspd's and crld's do: a 404 or 405 is heuristically
 * cacheable (RFC 9110 §15.1).
 */
static int
tsad_refuse(struct http_response *resp, int status, const char *title,
    const char *detail, const char *allow)
{
	if (http_add_header(resp, "Cache-Control", "no-store") == -1 ||
	    (allow != NULL && http_add_header(resp, "Allow", allow) == -1))
		return -1;
	return http_problem(resp, status, NULL, title, detail);
}

/*
 * RFC 3161 §3.4: the query arrives as the body of a POST. /health
 * answers HEAD as GET (RFC 9110 §9.1), and no cache keeps it: a stale
 * health answer would hide a failure.
 */
static int
tsad_handle(void *arg, const struct http_request *req, struct http_response *resp)
{
	struct tsad *t = arg;

	if (strcmp(req->path, "/health") == 0) {
		if (strcmp(req->method, "GET") != 0 &&
		    strcmp(req->method, "HEAD") != 0)
			return tsad_refuse(resp, 405, "Method Not Allowed",
			    "the health answer is read with GET", "GET, HEAD");
		if (http_add_header(resp, "Cache-Control", "no-store") == -1)
			return -1;
		return tsad_health(t, resp);
	}
	if (strcmp(req->path, "/") != 0)
		return tsad_refuse(resp, 404, "Not Found",
		    "time-stamp queries are POSTed to /", NULL);
	if (strcmp(req->method, "POST") != 0)
		return tsad_refuse(resp, 405, "Method Not Allowed",
		    "RFC 3161 §3.4: POST an application/timestamp-query",
		    "POST");
	if (!http_media_type_is(req, "application/timestamp-query"))
		return tsad_refuse(resp, 415, "Unsupported Media Type",
		    "RFC 3161 §3.4: the body must be "
		    "application/timestamp-query", NULL);
	return tsad_respond(t, req, resp);
}

/*
 * The TSA certificate (with its ca_certificate id and name: each token's
 * record names the certificate that signed it) and key label, and the
 * issuing CA, from the CA tables, into c.
 */
static int
tsad_load_certs(struct tsad_conf *c)
{
	const struct config *cfg = c->cfg;
	const char *uri = config_get(cfg, "pg.tsa_uri", NULL);
	struct cadb_ca tsa, issuing;
	struct db *db = NULL;
	char err[512];
	int r, rc = -1;

	memset(&tsa, 0, sizeof(tsa));
	memset(&issuing, 0, sizeof(issuing));
	c->cert = NULL;
	c->extra = NULL;
	if (uri == NULL) {
		log_err("config: pg.tsa_uri missing");
		goto out;
	}
	if ((db = db_connect(uri, err, sizeof(err))) == NULL) {
		log_err("database: %s", err);
		goto out;
	}
	/*
	 * Bounded as the recorder's commands are (tsa.db_timeout_seconds):
	 * a server that accepts the connection and then stalls made tsad
	 * wait at start-up for ever, before it said anything.
	 */
	(void)db_set_timeout(db, c->db_timeout * 1000);
	/*
	 * The newest valid now of the TSA certificates (`pkictl ca tsa`).
	 * A query that failed is not a ceremony not run: until 2026-12-07
	 * both said "run `pkictl ca init`", also to an operator whose
	 * database refused the query (a grant, a timeout, a restart).
	 */
	if ((r = cadb_load_current(db, "tsa", &tsa)) != 0) {
		if (r == -1)
			log_err("database: the TSA certificate could not be "
			    "read (why: logged above)");
		else
			log_err("no TSA certificate in the database: run "
			    "`pkictl ca init` (or `pkictl ca tsa`)");
		goto out;
	}
	/* Its issuer: `pkictl ca tsa --issuer` may have named another. */
	if ((r = cadb_load_issuer_of(db, &tsa, &issuing)) != 0) {
		if (r == -1)
			log_err("database: the issuer of TSA certificate %s "
			    "could not be read (why: logged above)", tsa.name);
		else
			log_err("TSA certificate %s: its issuer is not in the "
			    "database", tsa.name);
		goto out;
	}
	/*
	 * cadb_load_current preferred one neither revoked nor on hold, with
	 * an issuer neither: when none is, tsad starts as it does when none
	 * is valid now, refusing every query (systemFailure, /health 503),
	 * and issues tokens once a hold is released.
	 */
	if (tsa_revocation_read(db, tsa.id, c->db_timeout * 1000,
	    &c->revocation) == -1) {
		log_err("database: whether TSA certificate %s is revoked could "
		    "not be read (why: logged above)", tsa.name);
		goto out;
	}
	tsa_revocation_log(&c->revocation, "at start");
	if ((c->extra = sk_X509_new_null()) == NULL ||
	    sk_X509_push(c->extra, issuing.cert) == 0)
		goto out;
	issuing.cert = NULL;	/* owned by c->extra now */
	c->cert = tsa.cert;
	tsa.cert = NULL;
	c->cert_id = tsa.id;
	snprintf(c->cert_name, sizeof(c->cert_name), "%s", tsa.name);
	snprintf(c->label, sizeof(c->label), "%s", tsa.key_label);
	rc = 0;
out:
	if (rc == -1) {
		sk_X509_pop_free(c->extra, X509_free);
		c->extra = NULL;
	}
	cadb_clear(&tsa);
	cadb_clear(&issuing);
	db_close(db);
	return rc;
}

/*
 * Ends a worker whose recorder thread was left behind, inside a database
 * call that did not answer (tsa_recorder_stop): the thread may still be in
 * libpq, and over TLS in OpenSSL, so exit() must not run the atexit
 * handlers (OpenSSL's cleanup frees what the thread uses) or libc's
 * teardown under it; _exit() does neither. The log is flushed line by line
 * already (fflush(NULL) for any other stream), and the records are in the
 * spill file.
 */
static void __attribute__((noreturn))
tsad_exit_abandoned(int status)
{
	fflush(NULL);
#ifdef __SANITIZE_ADDRESS__
	/* _exit skips LeakSanitizer's atexit check: run it here. */
	if (__lsan_do_recoverable_leak_check() != 0)
		status = 23;
#endif
	_exit(status);
}

/* hsm/signloop.h's view of the jobs in flight. */
static int
tsad_oldest(void *arg)
{
	struct tsad *t = arg;

	if (t->head == NULL)
		return SIGNLOOP_NONE;
	return t->head->sent ? SIGNLOOP_SENT : SIGNLOOP_UNSENT;
}

static void
tsad_answer_oldest(void *arg)
{
	(void)tsad_take_one(arg);
}

/* SIGTERM or SIGINT: 0; the signer's end (SIGCHLD): 1; else go on. */
static int
tsad_stop(void *arg, int sigfd)
{
	(void)arg;
	return daemon_signal_take(sigfd, NULL, NULL);
}

static const struct signloop_ops tsad_loop_ops = {
	tsad_oldest, tsad_answer_oldest, tsad_stop
};

/*
 * One worker: its own signer, responder, recorder and HTTP server on the
 * shared port. Returns the process exit status, or does not return when
 * its recorder thread was left behind (tsad_exit_abandoned).
 */
static int
tsaproc(struct tsad_conf *c, int index)
{
	struct tsad t;
	struct signer_config sc;
	struct signer *signer = NULL;
	struct http_server *srv = NULL;
	struct http_limits lim;
	EVP_PKEY *key = NULL;
	const char *writable = NULL;
	char err[512], instance[80], spilldir[PATH_MAX];
	struct signloop *loop = NULL;
	int abandoned = 0, sigfd = -1, rc = 1;

	memset(&t, 0, sizeof(t));
	t.allow_unsync = c->allow_unsync;
	t.label = c->label;
	/*
	 * Each worker has its own spill file (tsa_recorder_start names it;
	 * worker 0 takes over those another tsa.workers left) and instance name.
	 */
	if (c->workers > 1)
		snprintf(instance, sizeof(instance), "%s-%d", c->instance, index);
	else
		snprintf(instance, sizeof(instance), "%s", c->instance);

	/* The signer: the TSA token, and time-stamp tokens with the TSA key only. */
	memset(&sc, 0, sizeof(sc));
	if (signer_config_add_token(&sc, c->cfg, "tsa") == -1 ||
	    signer_config_grant(&sc, SIGNER_KIND_TIMESTAMP, c->label) == -1)
		goto out;
	sc.sandbox_section = "tsa";
	if ((signer = signer_spawn(&sc, err, sizeof(err))) == NULL) {
		log_err("signer: %s", err);
		goto out;
	}
	t.signer = signer;
	signer_on_sync(signer, tsad_take_all, &t);
	if ((key = signer_pkey(signer, SIGNER_KIND_TIMESTAMP, c->label, err,
	    sizeof(err))) == NULL) {
		log_err("signer key %s: %s", c->label, err);
		goto out;
	}
	if ((t.responder = tsa_responder_new(c->policy, c->cert, c->cert_id,
	    key, c->extra, c->allow_unsync, err, sizeof(err))) == NULL) {
		log_err("responder: %s", err);
		goto out;
	}
	/*
	 * Files only where the spill files are, before the recorder's thread;
	 * the recorder renames and removes there before the seccomp filter.
	 */
	if (c->spill != NULL) {
		snprintf(spilldir, sizeof(spilldir), "%s", c->spill);
		writable = dirname(spilldir);
	}
	if (daemon_limit_files(c->cfg, "tsa", "tsad", &writable, 1, NULL, 0,
	    config_get(c->cfg, "pg.tsa_uri", NULL)) == -1)
		goto out;
	if ((t.recorder = tsa_recorder_start(config_get(c->cfg, "pg.tsa_uri", ""),
	    instance, c->spill, index, (int)c->workers, (size_t)c->max_queue,
	    c->db_timeout * 1000, err, sizeof(err))) == NULL) {
		log_err("recorder: %s", err);
		goto out;
	}
	if ((t.certwatch = tsa_certwatch_start(config_get(c->cfg, "pg.tsa_uri",
	    ""), c->cert_id, c->db_timeout * 1000, &c->revocation, err,
	    sizeof(err))) == NULL) {
		log_err("certificate status: %s", err);
		goto out;
	}
	memset(&lim, 0, sizeof(lim));
	/* Behind a reverse proxy: the client from X-Forwarded-For (lib/proxy.h). */
	lim.trusted_proxies = config_get(c->cfg, "tsa.trusted_proxies", NULL);
	lim.max_body = TSA_MAX_QUERY;
	lim.body_deadline_s = TSA_BODY_DEADLINE_S;
	lim.reuse_port = c->workers > 1;
	lim.deferrable = 1;
	lim.external = 1;	/* signloop_run runs it */
	/* Bound as root, served once demoted and filtered (lib/http.h). */
	if ((srv = http_listen(config_get(c->cfg, "tsa.listen", "127.0.0.1"),
	    (uint16_t)c->port, &lim, tsad_handle, &t, err, sizeof(err))) == NULL) {
		log_err("http: %s", err);
		goto out;
	}
	/* The worker's one thread: HTTP, its signer's replies, signals. */
	if ((sigfd = daemon_signal_fd(&c->sigs)) == -1) {
		log_err("worker: signalfd: %s", strerror(errno));
		goto out;
	}
	if (sandbox_enter(c->cfg, "tsa", SANDBOX_NET_WORKER) == -1)
		goto out;
	if (http_serve(srv, err, sizeof(err)) == -1) {
		log_err("http: %s", err);
		goto out;
	}
	if ((loop = signloop_open(srv, signer, sigfd, err, sizeof(err))) ==
	    NULL) {
		log_err("worker: %s", err);
		goto out;
	}
	log_info("worker %d serving RFC 3161 on %s (instance %s, key %s, "
	    "certificate %s, id %lld)", index, http_where(srv), instance,
	    c->label, c->cert_name, c->cert_id);
	rc = signloop_run(loop, &tsad_loop_ops, &t);
out:
	signloop_close(loop);
	http_stop(srv);
	if (sigfd != -1)
		close(sigfd);
	if (tsa_recorder_stop(t.recorder, (unsigned int)c->flush_timeout,
	    &abandoned) == -1)
		rc = 1;
	/* After the records are kept: its check ends within db_timeout. */
	if (!abandoned)
		tsa_certwatch_stop(t.certwatch);
	tsa_responder_free(t.responder);
	EVP_PKEY_free(key);
	signer_close(signer);
	if (abandoned)
		tsad_exit_abandoned(rc);
	return rc;
}

/* Forks worker index; its pid, or -1. */
static pid_t
tsad_fork_worker(struct tsad_conf *c, int index)
{
	pid_t pid;

	if ((pid = fork()) == -1) {
		log_err("worker %d: fork: %s", index, strerror(errno));
		return -1;
	}
	if (pid == 0)
		exit(tsaproc(c, index));
	return pid;
}

/*
 * The supervisor: starts the workers, restarts one that dies (a bounded
 * number of times), forwards SIGTERM/SIGINT and waits for every worker. A
 * fork that fails leaves its slot empty and is tried again a second later,
 * so a passing shortage of memory or processes does not leave tsad short of
 * a worker for good; the budget counts workers that died, not fork tries.
 */
static int
tsad_supervise(struct tsad_conf *c)
{
	pid_t pids[TSA_MAX_WORKERS], pid;
	int counted[TSA_MAX_WORKERS] = { 0 };	/* this slot's death counted */
	const char *writable[3] = { config_get(c->cfg, "hsm.module_write_dir",
	    NULL), config_get(c->cfg, "hsm.lock_dir", NULL), NULL };
	char spilldir[PATH_MAX];
	struct daemon_restarts restarts;
	sigset_t sigs = c->sigs;
	long long retry_at = 0;
	int i, sig, status, running = 0, empty, rc = 0, stopping = 0;

	/* The supervisor also waits for SIGCHLD (workers do not). */
	sigaddset(&sigs, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	/*
	 * Before the first worker, so that each inherits what is left: the
	 * capabilities and system calls a worker and its signer need, and
	 * writes only where they write (the token and lock directories, the
	 * spill files): uid 0 could otherwise write /proc/sys or /etc.
	 */
	if (c->spill != NULL) {
		snprintf(spilldir, sizeof(spilldir), "%s", c->spill);
		writable[2] = dirname(spilldir);
	}
	if (sandbox_limit_writes(c->cfg, "tsa", "tsad's supervisor", writable,
	    3) == -1 ||
	    sandbox_supervisor(c->cfg, "tsa", "tsad's supervisor") == -1)
		return 1;
	memset(&restarts, 0, sizeof(restarts));
	for (i = 0; i < c->workers; i++) {
		if ((pids[i] = tsad_fork_worker(c, i)) == -1) {
			/* At start a failure is fatal: stop the ones started. */
			while (--i >= 0) {
				kill(pids[i], SIGTERM);
				daemon_reap(pids[i]);
			}
			return 1;
		}
		running++;
	}
	for (;;) {
		empty = running < c->workers;
		if (stopping && running == 0)
			break;
		if (empty && !stopping) {
			sig = daemon_sigwait_until(&sigs, retry_at);
		} else if (sigwait(&sigs, &sig) != 0)
			break;
		if (sig == SIGHUP || (sig == -1 && errno == EINTR))
			continue;
		if (sig != SIGCHLD && sig != -1) {
			log_info("signal %d: stopping %d worker(s)", sig, running);
			stopping = 1;
			for (i = 0; i < c->workers; i++) {
				if (pids[i] > 0)
					kill(pids[i], SIGTERM);
			}
			continue;
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (i = 0; i < c->workers && pids[i] != pid; i++)
				;
			if (i == c->workers)
				continue;
			pids[i] = -1;
			running--;
			if (stopping) {
				if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
					rc = 1;
				continue;
			}
			log_err("worker %d (pid %d) %s %d: restarting it", i, (int)pid,
			    WIFSIGNALED(status) ? "was killed by signal" :
			    "exited with status", WIFSIGNALED(status) ?
			    WTERMSIG(status) : WEXITSTATUS(status));
			/* Not at once: a worker that dies at start would spin. */
			if (retry_at < daemon_now_ms() + 1000)
				retry_at = daemon_now_ms() + 1000;
		}
		if (stopping || running == c->workers || daemon_now_ms() < retry_at)
			continue;
		for (i = 0; i < c->workers; i++) {
			if (pids[i] != -1)
				continue;
			if (!counted[i] && !daemon_restart_allowed(&restarts)) {
				log_err("%d restarts within %d s: giving up",
				    DAEMON_RESTARTS_MAX, DAEMON_RESTART_WINDOW_S);
				for (i = 0; i < c->workers; i++)
					if (pids[i] > 0)
						kill(pids[i], SIGTERM);
				stopping = 1;
				rc = 1;
				break;
			}
			counted[i] = 1;
			if ((pids[i] = tsad_fork_worker(c, i)) != -1) {
				running++;
				counted[i] = 0;
			} else
				retry_at = daemon_now_ms() + 1000;
		}
	}
	return rc;
}

/*
 * tsa.workers' default: the online CPUs, within [1, TSA_MAX_WORKERS].
 * config_get_long checks a value set against its range but not the
 * default, and tsad_supervise keeps TSA_MAX_WORKERS pids: 32 CPUs would
 * overflow them. sysconf says -1 when it cannot tell.
 */
static long
tsad_default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > TSA_MAX_WORKERS ? TSA_MAX_WORKERS : n;
}

/*
 * Issue 5: nothing recorded may be lost on a clean shutdown. Without
 * tsa.spill_file the records the database has not taken when tsad stops
 * (PostgreSQL down, or slow) are lost, so it is required unless
 * tsa.insecure_no_spill_file (a development stack) says otherwise. An
 * empty value counts as none. Sets c->spill; 0, or -1 with the reason
 * logged.
 */
static int
tsad_spill_conf(struct tsad_conf *c)
{
	int insecure;

	c->spill = config_get(c->cfg, "tsa.spill_file", NULL);
	if (c->spill != NULL && c->spill[0] == '\0')
		c->spill = NULL;
	if (config_get_bool(c->cfg, "tsa.insecure_no_spill_file", 0,
	    &insecure) == -1)
		return -1;
	if (c->spill != NULL)
		return 0;
	if (!insecure) {
		log_err("config: tsa.spill_file is not set: records of issued "
		    "tokens the database has not taken when tsad stops would "
		    "be lost; set it (a file in a directory of its own), or "
		    "tsa.insecure_no_spill_file = true on a development stack");
		return -1;
	}
	log_warn("tsa.insecure_no_spill_file is set and tsa.spill_file is not: "
	    "records of issued tokens the database has not taken when tsad "
	    "stops are LOST (development only)");
	return 0;
}

/*
 * The TSA certificate's window at start (tsa_cert_window): an error when
 * no token can be made now (each query gets systemFailure and /health says
 * degraded; tsad still starts, as it does with an unusable clock, and
 * serves once the window opens), a warning when it ends within
 * TSA_CERT_WARN_DAYS. -1 when it cannot be read.
 */
static int
tsad_cert_warn(X509 *cert)
{
	char err[256], from[TIME_ISO8601_MAX], until[TIME_ISO8601_MAX];
	time_t nb, na, now = time(NULL);

	if (tsa_cert_window(cert, &nb, &na, err, sizeof(err)) == -1) {
		log_err("%s", err);
		return -1;
	}
	time_iso8601(nb, from, sizeof(from));
	time_iso8601(na, until, sizeof(until));
	if (now < nb || now > na)
		log_err("the TSA certificate (with its privateKeyUsagePeriod) "
		    "is valid from %s to %s, not now: every query gets "
		    "systemFailure and /health says degraded outside that "
		    "window", from, until);
	else if (na - now < TSA_CERT_WARN_DAYS * 86400LL)
		log_warn("the TSA certificate (with its privateKeyUsagePeriod) "
		    "is valid until %s, %lld day(s) from now (warned from %d): "
		    "renew it; after that every query gets systemFailure",
		    until, (long long)(na - now) / 86400, TSA_CERT_WARN_DAYS);
	return 0;
}

int
main(int argc, char **argv)
{
	struct tsad_conf c;
	const char *policy_dir;
	char err[512], policy_path[PATH_MAX], host[48];
	int ordering, rc = 1;

	memset(&c, 0, sizeof(c));
	c.flush_timeout = 10;
	if ((c.cfg = daemon_load_config(argc, argv, "tsa", usage)) == NULL)
		return 1;
	policy_dir = config_get(c.cfg, "pki.policy_dir", "policy");
	snprintf(policy_path, sizeof(policy_path), "%s/tsa.conf", policy_dir);
	if ((c.policy = config_load(config_get(c.cfg, "tsa.policy_file",
	    policy_path), err, sizeof(err))) == NULL) {
		log_err("%s", err);
		goto out;
	}
	if (config_get_long(c.cfg, "tsa.port", 18083, 0, 65535, &c.port) == -1 ||
	    config_get_long(c.cfg, "tsa.workers", tsad_default_workers(),
	    1, TSA_MAX_WORKERS, &c.workers) == -1 ||
	    config_get_long(c.cfg, "tsa.max_queue", 100000, 1, 10000000,
	    &c.max_queue) == -1 ||
	    config_get_long(c.cfg, "tsa.flush_timeout_seconds", 10, 0, 600,
	    &c.flush_timeout) == -1 ||
	    config_get_long(c.cfg, "tsa.db_timeout_seconds", TSA_DB_TIMEOUT_S,
	    1, 3600, &c.db_timeout) == -1 ||
	    config_get_bool(c.cfg, "tsa.allow_unsynchronized_clock", 0,
	    &c.allow_unsync) == -1 ||
	    tsad_spill_conf(&c) == -1)
		goto out;
	/* Stopped before a service manager's SIGKILL, or records are lost. */
	if (c.flush_timeout > TSA_FLUSH_TIMEOUT_MAX) {
		log_err("config: tsa.flush_timeout_seconds: %ld is over %d: tsad "
		    "must stop (flush timeout + %d s) before its service manager "
		    "kills it (deploy/stack.sh after 20 s, systemd "
		    "TimeoutStopSec=30s)", c.flush_timeout, TSA_FLUSH_TIMEOUT_MAX,
		    TSA_STOP_GRACE_S);
		goto out;
	}
	/* A policy tokens could not honour, refused before any worker. */
	if (tsa_policy_check(c.policy, err, sizeof(err)) == -1) {
		log_err("%s", err);
		goto out;
	}
	/*
	 * RFC 3161 §2.4.2: ordering true promises that any two tokens of this
	 * TSA are ordered by genTime alone. Nothing here keeps that promise:
	 * workers (and other instances with this certificate) take genTime
	 * from the clock independently, and even one worker gives two tokens
	 * within one unit of tsa.clock_precision_digits the same genTime (and
	 * a clock stepped back, an earlier one).
	 */
	if (config_get_bool(c.policy, "tsa.ordering", 0, &ordering) == -1)
		goto out;
	if (ordering && c.workers > 1) {
		log_err("policy: tsa.ordering = true with tsa.workers = %ld is "
		    "refused: RFC 3161 §2.4.2 ordering means every token can be "
		    "ordered by genTime alone, and several workers can issue the "
		    "same genTime; set tsa.ordering = false", c.workers);
		goto out;
	}
	if (ordering) {
		log_err("policy: tsa.ordering = true is refused (with tsa.workers "
		    "= 1 too): RFC 3161 §2.4.2 ordering means every token can be "
		    "ordered by genTime alone, and two tokens within one unit of "
		    "tsa.clock_precision_digits get the same genTime; set "
		    "tsa.ordering = false");
		goto out;
	}
	/* Workers each bind the port, unless they share a passed socket. */
	if (c.workers > 1 && c.port == 0 && !http_socket_passed()) {
		log_err("tsa.port 0 (any port) needs tsa.workers = 1");
		goto out;
	}
	if (c.allow_unsync)
		log_warn("tsa.allow_unsynchronized_clock is set: tokens are issued "
		    "even when the clock is not synchronized (local stack only)");
	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	snprintf(c.instance, sizeof(c.instance), "%s",
	    config_get(c.cfg, "tsa.instance", host));
	if (tsad_load_certs(&c) == -1 || tsad_cert_warn(c.cert) == -1)
		goto out;
	/* Signals go to sigwait(): block them before any process or thread exists. */
	daemon_block_signals(&c.sigs);
	if (c.workers == 1)
		rc = tsaproc(&c, 0);
	else
		rc = tsad_supervise(&c);
out:
	X509_free(c.cert);
	sk_X509_pop_free(c.extra, X509_free);
	config_free(c.policy);
	config_free(c.cfg);
	return rc;
}
