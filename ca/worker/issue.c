/*
 * One issuance, in one transaction (ca/README.md "cad", exactly once):
 *
 *	BEGIN
 *	(every few seconds: a pending order naming an issuing CA revoked or
 *	    ended, FOR UPDATE SKIP LOCKED             → failed, nothing signed)
 *	SELECT the oldest due pending order of a profile it serves, of its
 *	    issuing CA or none, FOR UPDATE SKIP LOCKED  (the claim)
 *	subject from the verified data, lint          → failed, nothing signed
 *	signer: generate the subscriber key, wrapped  (HSM, hsm/p11wrap.h)
 *	build from the profile, lint                  → failed, nothing signed
 *	the issuing CA's certificate read again under its sign lock, held to
 *	    the end (schema/099): revoked → failed; on hold → rolled back,
 *	    pending, not counted; nothing signed
 *	signer: sign with the issuing CA key          (SIGNER_KIND_CERT)
 *	INSERT certificate (+ audit cert.issue), INSERT subscriber_key,
 *	UPDATE order done (+ audit order.done; NOTIFY issuance_done by trigger)
 *	COMMIT
 *
 * A crash or error before COMMIT rolls everything back: the order is pending
 * again and the next claim redoes it with a new key and serial; the
 * certificate signed in the lost transaction was never stored nor handed
 * out. After COMMIT the order is done and no worker claims it again (the
 * database refuses to change a finished order: schema/007_issuance.sql).
 * An attempt that failed for the infrastructure's sake (the signer, the
 * database, memory) is counted after the rollback and the order backed off
 * (next_attempt_at, schema/047); what is wrong with the order itself fails
 * it at once. One that a crash of this process rolled back is counted at
 * the next start: from the claim until the transaction ends, the in-flight
 * marker names the order (marker.c, cad_recover).
 *
 * A certificate signed (or perhaps signed) and then discarded is traced in
 * the order's audit events: its serial in the order.retry (or order.fail)
 * that counts the attempt, else in a cert.discard event of its own. Until
 * one of them commits the marker keeps naming the serial, and while neither
 * can be written the worker claims nothing (cad_discard_keep).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca/extern.h"
#include "ca/worker/extern.h"
#include "lib/audit.h"
#include "lib/db.h"
#include "lib/log.h"
#include "lib/x509ext.h"

/*
 * The issuing CA's own certificate revoked or on hold: its row in
 * certificate (what its issuer's OCSP and CRL answer), as the view
 * ca_certificate_status (schema/103) finds it, by the ca_certificate id,
 * parameter p. Nothing is issued under it then (cad_issuer_stopped).
 */
#define CAD_ISSUER_REVOKED(p) \
	"SELECT x.revocation_reason, to_char(x.revoked_at AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM ca_certificate_status x " \
	"WHERE x.id = " p "::bigint AND x.revoked_at IS NOT NULL"
/*
 * The orders of this worker's issuing CA ($n): the subscriber agreed to a
 * certificate from the issuer the order names (schema/084; rad sets it),
 * so a worker configured for another leaves the order to one for that
 * issuer. An order naming none (before schema/084, `pkictl order add`
 * without --issuer) any worker takes.
 */
#define CAD_ORDER_ISSUER(n) \
	"(issuer_id IS NULL OR issuer_id = " n "::bigint)"
/*
 * A pending order that is due: no failed attempt, or its back-off over;
 * not one of $2, the orders this worker put aside (cad_skip_add); of this
 * worker's issuing CA ($3) or none; none while that CA is revoked or on
 * hold.
 */
static const struct db_stmt stmt_claim = { "cad_issue_claim",
	"SELECT id, kind, profile, subject::text, key_type, issuer_id IS NOT "
	"NULL FROM issuance_order WHERE status = 'pending' AND profile = ANY (string_to_array($1, ',')) "
	"AND " CAD_ORDER_ISSUER("$3") " "
	"AND (next_attempt_at IS NULL OR next_attempt_at <= now()) "
	"AND NOT (id = ANY ($2::bigint[])) "
	"AND NOT EXISTS (" CAD_ISSUER_REVOKED("$3") ") "
	"ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED", 3 };
static const struct db_stmt stmt_issuer_revoked = { "cad_issue_issuer_revoked",
	CAD_ISSUER_REVOKED("$1"), 1 };
/*
 * Right before the signature, in the order's transaction: the issuing CA's
 * own certificate row read again under its sign lock, shared until the
 * transaction ends (schema/099), so that a revocation or hold waits for
 * this COMMIT and is stamped after it. Its name, revocation reason (NULL:
 * not revoked) and time; no row when it has no certificate row.
 */
static const struct db_stmt stmt_issuer_lock = { "cad_issue_issuer_lock",
	"SELECT name, revocation_reason, revoked_at FROM "
	"ca_issuer_sign_lock($1::bigint)", 1 };
/*
 * A due pending order, of any profile, naming an issuing CA that can no
 * longer issue: its own certificate revoked for good (any reason but
 * certificateHold, 6, which may be released), or its notAfter passed.
 * No cad would ever claim it (the claim passes over a revoked issuer's
 * orders, lint refuses an ended issuer's, and after a renewal no cad may
 * run for the old one), and rad cancels a pending order only while its
 * issuer is on hold (schema/089): any worker fails it (cad_claim_ended).
 * The issuer's name, its revocation reason (NULL: it ended) and when it
 * was revoked or ended. Not one of $1, the orders put aside.
 */
static const struct db_stmt stmt_claim_ended = { "cad_issue_claim_ended",
	"SELECT o.id, o.kind, o.profile, o.key_type, i.name, "
	"x.revocation_reason, to_char(coalesce(x.revoked_at, i.not_after) AT "
	"TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
	"FROM issuance_order o JOIN ca_certificate i ON i.id = o.issuer_id "
	"LEFT JOIN certificate x ON x.issuer_id = i.issuer_id AND "
	"x.serial = i.serial AND x.revoked_at IS NOT NULL AND "
	"x.revocation_reason <> 6 "
	"WHERE o.status = 'pending' AND (x.id IS NOT NULL OR "
	"i.not_after <= now()) "
	"AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= now()) "
	"AND NOT (o.id = ANY ($1::bigint[])) "
	"ORDER BY o.id LIMIT 1 FOR UPDATE OF o SKIP LOCKED", 1 };
/* cad_claim_ended looks again this long after it found none. */
#define CAD_ENDED_EVERY_MS	5000
/*
 * In the claim's transaction when nothing was due: milliseconds until the
 * earliest backed-off order is (NULL when none waits). Orders due already
 * but not claimed are another worker's (locked): not waited for.
 */
static const struct db_stmt stmt_next_due = { "cad_issue_next_due",
	"SELECT ceil(extract(epoch FROM min(next_attempt_at) - "
	"clock_timestamp()) * 1000)::bigint FROM issuance_order WHERE status = "
	"'pending' AND profile = ANY (string_to_array($1, ',')) AND "
	CAD_ORDER_ISSUER("$2") " AND next_attempt_at > now()", 2 };
static const struct db_stmt stmt_key_insert = { "cad_issue_key_insert",
	"INSERT INTO subscriber_key (order_id, certificate_id, key_type, "
	"wrapped, spki, spki_sha256, wrapping_key_label) VALUES ($1, $2, $3, "
	"$4::bytea, $5::bytea, $6, $7) RETURNING id", 7 };
static const struct db_stmt stmt_done = { "cad_issue_done",
	"UPDATE issuance_order SET status = 'done', certificate_id = $2, "
	"claimed_at = now(), claimed_by = $3, done_at = clock_timestamp(), "
	"attempts = attempts + 1, last_error = NULL WHERE id = $1 AND "
	"status = 'pending'", 3 };
static const struct db_stmt stmt_failed = { "cad_issue_failed",
	"UPDATE issuance_order SET status = 'failed', last_error = $2, "
	"claimed_at = now(), claimed_by = $3, done_at = clock_timestamp(), "
	"attempts = attempts + 1 WHERE id = $1 AND status = 'pending'", 3 };
/*
 * After a rolled-back attempt: count it and back the order off ($6 ms
 * doubled per failed attempt, at most $7 s); give up only after $4
 * attempts and $5 hours since the first failure (ca/README.md "Retries"),
 * all against one clock reading (with $5 = 0 two readings could disagree).
 * An order another worker holds already is left to it. Also at start, for
 * an attempt a crash rolled back (cad_recover).
 */
static const struct db_stmt stmt_retry = { "cad_issue_retry",
	"UPDATE issuance_order o SET attempts = o.attempts + 1, last_error = $2, "
	"claimed_by = $3, first_failed_at = d.since, status = CASE WHEN "
	"d.give_up THEN 'failed' ELSE 'pending' END, done_at = CASE WHEN "
	"d.give_up THEN d.t END, next_attempt_at = CASE WHEN "
	"d.give_up THEN o.next_attempt_at ELSE d.t + d.backoff * "
	"interval '1 millisecond' END FROM (SELECT id, n.t, "
	"coalesce(first_failed_at, n.t) AS since, attempts + 1 >= $4::int AND "
	"coalesce(first_failed_at, n.t) <= n.t - $5::int * interval '1 hour' "
	"AS give_up, least($6::bigint * "
	"(2::bigint ^ least(attempts, 30)::bigint)::bigint, $7::bigint * 1000) "
	"AS backoff FROM issuance_order, (SELECT clock_timestamp() AS t) n "
	"WHERE id = $1 AND status = 'pending' "
	"FOR UPDATE OF issuance_order SKIP LOCKED) d WHERE o.id = d.id "
	"RETURNING o.status, o.attempts, d.backoff, o.profile", 7 };
/*
 * cad_recover: why an order a marker named was not counted, and whether
 * its stored certificate is the one of serial $2 (it committed after all);
 * cad_stored: the same after a COMMIT whose answer was lost.
 */
static const struct db_stmt stmt_order_status = { "cad_issue_order_status",
	"SELECT o.status, EXISTS (SELECT 1 FROM certificate c WHERE c.id = "
	"o.certificate_id AND ltrim(upper(c.serial), '0') = "
	"ltrim(upper($2), '0')) FROM issuance_order o WHERE o.id = $1", 2 };

struct cad_order {
	char		 id[24];
	char		 kind[16];
	char		 profile[40];
	char		*subject;	/* JSON text, malloc'd */
	char		 key_type[16];
	int		 names_issuer;	/* issuer_id set (schema/084) */
};

struct profile *
cad_profile(const struct cad *c, const char *name)
{
	int i;

	for (i = 0; i < c->nprofiles; i++)
		if (strcmp(profile_name(c->profiles[i]), name) == 0)
			return c->profiles[i];
	return NULL;
}

/* Audits action on the order with details (a new reference, stolen). */
static int
cad_audit(struct cad *c, const char *action, const char *order_id,
    json_t *details)
{
	return audit_append_new(c->db, c->actor, action, "issuance_order",
	    order_id, details);
}

/* 1 when exactly one row was updated. */
static int
cad_one_row(PGresult *res)
{
	int ok;

	ok = res != NULL && strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	return ok;
}

/*
 * Whether order id is done with the certificate of serial (hex), in
 * whatever transaction state the connection is: 1 it is, 0 not, -1 no
 * answer. A COMMIT whose answer was lost (the connection broke after the
 * server committed) leaves the order issued although db_commit() failed:
 * its certificate was not discarded, and no trace may say it was.
 */
static int
cad_stored(struct cad *c, const char *id, const char *serial)
{
	const char *values[2] = { id, serial };
	PGresult *res;
	int rc = -1;

	if ((res = db_exec(c->db, &stmt_order_status, values, NULL,
	    NULL)) == NULL)
		return -1;
	rc = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "done") ==
	    0 && strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);
	return rc;
}

/* Milliseconds of CLOCK_MONOTONIC. */
static long long
cad_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A back-off as the database computes it (stmt_retry): cad.retry_backoff_ms
 * doubled n times, at most cad.retry_backoff_max_seconds; in ms.
 */
static long long
cad_backoff_ms(const struct cad *c, int n)
{
	long long backoff = c->retry_backoff_ms;
	int i;

	for (i = 0; i < n && backoff < c->retry_backoff_max_s * 1000; i++)
		backoff *= 2;
	if (backoff > c->retry_backoff_max_s * 1000)
		backoff = c->retry_backoff_max_s * 1000;
	return backoff;
}

/*
 * An attempt on order id ended and nothing of it could be recorded (the
 * database refused both the order's failure and the retry's count): this
 * worker leaves the order aside for a while, backed off as the database
 * would (cad_backoff_ms), so that it claims the next orders meanwhile
 * rather than this one every second. In memory only: another worker, or
 * this one after a restart, tries it again.
 */

static void
cad_skip_add(struct cad *c, const char *id)
{
	struct cad_skip *e = NULL;
	long long now = cad_now_ms(), n = strtoll(id, NULL, 10), backoff;
	int i;

	for (i = 0; i < CAD_SKIP_MAX && e == NULL; i++)
		if (c->skip[i].id == n && c->skip[i].until_ms != 0)
			e = &c->skip[i];
	if (e == NULL) {
		/* A free slot (or one over), else the one over soonest. */
		e = &c->skip[0];
		for (i = 1; i < CAD_SKIP_MAX; i++)
			if (c->skip[i].until_ms < e->until_ms)
				e = &c->skip[i];
		e->id = n;
		e->count = 0;
	}
	backoff = cad_backoff_ms(c, e->count);
	e->count++;
	e->until_ms = now + backoff;
	log_err("order %s: attempt not recorded; this worker leaves it aside "
	    "for %lld ms", id, backoff);
}

/* The ids put aside now, as a PostgreSQL array literal ("{}" for none). */
static void
cad_skip_list(const struct cad *c, char *out, size_t outlen)
{
	long long now = cad_now_ms();
	size_t off;
	int i;

	off = (size_t)snprintf(out, outlen, "{");
	for (i = 0; i < CAD_SKIP_MAX && off < outlen; i++)
		if (c->skip[i].until_ms > now)
			off += (size_t)snprintf(out + off, outlen - off, "%s%lld",
			    off > 1 ? "," : "", c->skip[i].id);
	if (off < outlen)
		snprintf(out + off, outlen - off, "}");
}

/* Milliseconds until the first order put aside is due again, or -1. */
static long
cad_skip_next_ms(const struct cad *c)
{
	long long now = cad_now_ms(), min = -1;
	int i;

	for (i = 0; i < CAD_SKIP_MAX; i++)
		if (c->skip[i].until_ms > now && (min == -1 ||
		    c->skip[i].until_ms - now < min))
			min = c->skip[i].until_ms - now;
	return (long)min;
}

static int cad_retry(struct cad *, const struct cad_order *, const char *,
    const char *);

/*
 * The order cannot be issued as ordered: failed, in the claiming
 * transaction (1). When that cannot be recorded (the UPDATE, its audit or
 * the COMMIT refused), the order is not left to be claimed again at once,
 * for ever, ahead of every newer one: after the rollback the attempt is
 * counted and backed off as a retry (order.retry; given up as any retry
 * is), with why, else with a message of plain ASCII; when even that fails,
 * this worker puts the order aside (cad_skip_add). -1 then.
 */
static int
cad_fail(struct cad *c, const struct cad_order *o, const char *why)
{
	char text[512], state[8], note[160];
	const char *values[3] = { o->id, text, c->actor };

	snprintf(text, sizeof(text), "%s", why);
	cad_text_clean(text);
	log_warn("order %s refused: %s", o->id, text);
	if (cad_one_row(db_exec(c->db, &stmt_failed, values, NULL, NULL)) &&
	    cad_audit(c, "order.fail", o->id, json_pack("{s:s, s:s, s:s}",
	    "profile", o->profile, "kind", o->kind, "error", text)) == 0 &&
	    db_commit(c->db) == 0) {
		cad_marker_clear(&c->marker);
		return 1;
	}
	snprintf(state, sizeof(state), "%s", db_last_sqlstate(c->db));
	(void)db_rollback(c->db);
	cad_marker_clear(&c->marker);
	log_err("order %s: its failure could not be recorded (SQLSTATE %s): "
	    "counted as a retry instead", o->id, state);
	if (cad_retry(c, o, text, NULL) == 0)
		return -1;
	snprintf(note, sizeof(note), "refused, but the refusal could not be "
	    "recorded (SQLSTATE %s)", state);
	cad_text_clean(note);
	if (cad_retry(c, o, note, NULL) == -1)
		cad_skip_add(c, o->id);
	return -1;
}

/*
 * Counts a failed attempt at order id in a transaction of its own and
 * backs the order off, or gives it up (stmt_retry), audited as order.retry
 * or order.fail with the order's profile, why (last_error), the attempts
 * and retry_in_ms (-1 when given up), worker when not NULL (the worker
 * that ended while issuing it) and serial when not NULL (the certificate
 * the attempt signed, or may have, and discarded). 1 when counted (*failed: given up; the
 * attempts and back-off in attempts and backoff, as text), 0 when the
 * order is not pending or another worker holds it (nothing changed), -1
 * when it could not be recorded (rolled back).
 */
static int
cad_count(struct cad *c, const char *id, const char *why, const char *worker,
    const char *serial, int *failed, char *attempts, size_t alen,
    char *backoff, size_t blen)
{
	char maxbuf[24], hoursbuf[24], msbuf[24], capbuf[24], text[512];
	const char *values[7] = { id, text, c->actor, maxbuf, hoursbuf, msbuf,
	    capbuf };
	PGresult *res = NULL;
	json_t *details = NULL;
	int rc = -1;

	*failed = 0;
	snprintf(text, sizeof(text), "%s", why);
	cad_text_clean(text);
	snprintf(maxbuf, sizeof(maxbuf), "%ld", c->max_attempts);
	snprintf(hoursbuf, sizeof(hoursbuf), "%ld", c->retry_hours);
	snprintf(msbuf, sizeof(msbuf), "%ld", c->retry_backoff_ms);
	snprintf(capbuf, sizeof(capbuf), "%ld", c->retry_backoff_max_s);
	if (db_begin(c->db, NULL) == -1)
		return -1;
	if ((res = db_exec(c->db, &stmt_retry, values, NULL, NULL)) == NULL)
		goto fail;
	if (PQntuples(res) != 1) {
		(void)db_rollback(c->db);
		rc = 0;
		goto out;
	}
	*failed = strcmp(PQgetvalue(res, 0, 0), "failed") == 0;
	snprintf(attempts, alen, "%s", PQgetvalue(res, 0, 1));
	snprintf(backoff, blen, "%s", PQgetvalue(res, 0, 2));
	details = json_pack("{s:s, s:s, s:i, s:I}", "profile",
	    PQgetvalue(res, 0, 3), "error", text, "attempts",
	    atoi(PQgetvalue(res, 0, 1)), "retry_in_ms", *failed ?
	    (json_int_t)-1 : (json_int_t)strtoll(PQgetvalue(res, 0, 2), NULL,
	    10));
	if (details != NULL && ((worker != NULL && json_object_set_new(details,
	    "worker", json_string(worker)) == -1) || (serial != NULL &&
	    json_object_set_new(details, "serial", json_string(serial)) == -1))) {
		json_decref(details);
		details = NULL;
	}
	/* audit_append_new takes details, NULL (out of memory) included. */
	if (cad_audit(c, *failed ? "order.fail" : "order.retry", id,
	    details) == -1 || db_commit(c->db) == -1)
		goto fail;
	rc = 1;
	goto out;
fail:
	(void)db_rollback(c->db);
out:
	PQclear(res);
	return rc;
}

/*
 * After a rollback: counts the attempt and backs the order off, in a
 * transaction of its own (audited as order.retry, or order.fail when it is
 * given up, with serial when not NULL: cad_count). 0 when counted; -1 when that failed: nothing is counted, and
 * the caller decides (cad_fail tries once more, then puts the order aside).
 */
static int
cad_retry(struct cad *c, const struct cad_order *o, const char *why,
    const char *serial)
{
	char text[512], attempts[24], backoff[24];
	int failed;

	snprintf(text, sizeof(text), "%s", why);
	cad_text_clean(text);
	if (cad_count(c, o->id, text, NULL, serial, &failed, attempts,
	    sizeof(attempts), backoff, sizeof(backoff)) != 1) {
		log_warn("order %s: attempt failed, rolled back (not counted): "
		    "%s", o->id, text);
		return -1;
	}
	if (failed)
		log_warn("order %s: attempt %s failed, given up: %s", o->id,
		    attempts, text);
	else
		log_warn("order %s: attempt %s failed, rolled back, due again "
		    "in %s ms: %s", o->id, attempts, backoff, text);
	return 0;
}

/*
 * Writes the trace of c->discard in a transaction of its own: audit
 * cert.discard on its order, with the serial, why it was discarded and the
 * worker that had it signed. 0 when committed: c->discard and the
 * in-flight marker, which kept naming it, emptied. -1 when refused (rolled
 * back, logged): tried again from c->discard.retry_ms, backed off as a
 * retry is (cad_discard_wait).
 */
static int
cad_discard_record(struct cad *c)
{
	struct cad_discard *d = &c->discard;
	long long backoff;
	int stored = -1;

	if (db_begin(c->db, NULL) == 0 &&
	    (stored = cad_stored(c, d->order, d->serial)) == 0 &&
	    cad_audit(c, "cert.discard", d->order, json_pack("{s:s, s:s, s:s}",
	    "serial", d->serial, "error", d->error, "worker", d->worker)) == 0 &&
	    db_commit(c->db) == 0) {
		log_warn("order %s: certificate serial %s signed and discarded, "
		    "its attempt not counted: audited cert.discard", d->order,
		    d->serial);
		memset(d, 0, sizeof(*d));
		cad_marker_clear(&c->marker);
		return 0;
	}
	(void)db_rollback(c->db);
	if (stored == 1) {
		/* The COMMIT that stored it had its answer lost. */
		log_warn("order %s: certificate serial %s is the order's, "
		    "stored after all: nothing was discarded", d->order,
		    d->serial);
		memset(d, 0, sizeof(*d));
		cad_marker_clear(&c->marker);
		return 0;
	}
	backoff = cad_backoff_ms(c, d->tries++);
	d->retry_ms = cad_now_ms() + backoff;
	log_err("order %s: certificate serial %s signed and discarded, and no "
	    "trace of it could be recorded (SQLSTATE %s): the in-flight marker "
	    "names it, and this worker claims no order until it is recorded "
	    "(tried again in %lld ms)", d->order, d->serial,
	    db_last_sqlstate(c->db), backoff);
	return -1;
}

/*
 * Certificate serial of order id was signed, or may have been, and not
 * stored (why), and no count of the attempt names it: audited cert.discard
 * at once (cad_discard_record), else kept in c->discard until it is. 0, or
 * -1 when c->discard holds another already (nothing kept; the caller keeps
 * the trace it has).
 */
static int
cad_discard_keep(struct cad *c, const char *id, const char *serial,
    const char *why, const char *worker)
{
	struct cad_discard *d = &c->discard;

	if (d->order[0] != '\0')
		return -1;
	snprintf(d->order, sizeof(d->order), "%s", id);
	snprintf(d->serial, sizeof(d->serial), "%s", serial);
	snprintf(d->error, sizeof(d->error), "%s", why);
	cad_text_clean(d->error);
	snprintf(d->worker, sizeof(d->worker), "%s", worker);
	cad_text_clean(d->worker);
	d->tries = 0;
	(void)cad_discard_record(c);
	return 0;
}

/*
 * Before a claim: 0 when no discarded certificate waits for its trace (or
 * it is recorded now), else -1 with c->next_due_ms set to its next try.
 */
static int
cad_discard_wait(struct cad *c)
{
	long long left;

	if (c->discard.order[0] == '\0')
		return 0;
	if (cad_now_ms() >= c->discard.retry_ms && cad_discard_record(c) == 0)
		return 0;
	left = c->discard.retry_ms - cad_now_ms();
	c->next_due_ms = left < 0 ? 0 : left > LONG_MAX ? LONG_MAX : (long)left;
	return -1;
}

void
cad_discard_mark(struct cad *c)
{
	if (c->discard.order[0] != '\0')
		cad_marker_signed(&c->marker, c->discard.order,
		    c->discard.serial);
}

/*
 * The transaction of order o ended with a rollback (the caller's): the
 * attempt is counted (cad_retry), or the order put aside when even that
 * fails. serial NULL (nothing signed): the marker is emptied first, so a
 * crash never counts the attempt twice. With the serial of a certificate
 * signed, or perhaps signed, and discarded (named in why): the marker keeps
 * naming it until the count commits, so a crash meanwhile leaves it to the
 * next start (at worst counted twice, never untraced); when the count is
 * refused, the serial is recorded by itself (cad_discard_keep).
 */
static void
cad_rolled_back(struct cad *c, const struct cad_order *o, const char *why,
    const char *serial)
{
	if (serial == NULL)
		cad_marker_clear(&c->marker);
	if (cad_retry(c, o, why, serial) == 0) {
		cad_marker_clear(&c->marker);
		return;
	}
	cad_skip_add(c, o->id);
	/* Nothing is claimed while c->discard is taken: it is free here. */
	if (serial != NULL)
		(void)cad_discard_keep(c, o->id, serial, why, c->actor);
}

/*
 * cad_recover: a pending order another backend holds may be held by the
 * one of the process that ended, until it notices its client is gone:
 * asked again this often, this many times, before it is left to its holder.
 */
#define CAD_RECOVER_WAIT_MS	200
#define CAD_RECOVER_TRIES	10

int
cad_recover(struct cad *c, const struct cad_marker_found *f)
{
	const struct timespec wait = { 0, CAD_RECOVER_WAIT_MS * 1000000L };
	const char *values[2];
	char id[24], why[384], after_signing[128], attempts[24], backoff[24];
	PGresult *res = NULL;
	int failed, r, tries;

	snprintf(id, sizeof(id), "%lld", f->order);
	after_signing[0] = '\0';
	if (f->serial[0] != '\0')
		snprintf(after_signing, sizeof(after_signing), ", certificate "
		    "serial %s signed or being signed, never stored",
		    f->serial);
	snprintf(why, sizeof(why), "the worker %s ended while issuing it "
	    "(crash or kill)%s", f->worker, after_signing);
	values[0] = id;
	values[1] = f->serial;
	for (tries = 1; ; tries++) {
		r = cad_count(c, id, why, f->worker, f->serial[0] != '\0' ?
		    f->serial : NULL, &failed, attempts,
		    sizeof(attempts), backoff, sizeof(backoff));
		if (r != 0)
			break;
		/* Why not (statements at start only). */
		PQclear(res);
		res = db_exec(c->db, &stmt_order_status, values, NULL, NULL);
		if (res == NULL || PQntuples(res) != 1 ||
		    strcmp(PQgetvalue(res, 0, 0), "pending") != 0 ||
		    tries == CAD_RECOVER_TRIES)
			break;
		(void)nanosleep(&wait, NULL);
	}
	if (r == 1) {
		if (failed)
			log_warn("order %s: %s: attempt %s counted, given up",
			    id, why, attempts);
		else
			log_warn("order %s: %s: attempt %s counted, due again "
			    "in %s ms", id, why, attempts, backoff);
	} else if (r == -1) {
		log_err("order %s: %s, and the attempt could not be recorded "
		    "(SQLSTATE %s)", id, why, db_last_sqlstate(c->db));
		cad_skip_add(c, id);
	} else if (res == NULL)
		log_warn("order %s: named by the in-flight marker of %s%s, "
		    "not counted, its status unknown", id, f->worker,
		    after_signing);
	else if (PQntuples(res) == 0)
		log_warn("in-flight marker of %s%s: order %s does not exist: "
		    "ignored", f->worker, after_signing, id);
	else if (strcmp(PQgetvalue(res, 0, 0), "pending") == 0)
		log_warn("order %s: the worker %s ended while issuing it%s; "
		    "another worker has held it for %d ms: left to it, not "
		    "counted", id, f->worker, after_signing,
		    tries * CAD_RECOVER_WAIT_MS);
	else
		log_info("order %s (%s): the worker %s ended after its "
		    "transaction: nothing to count", id, PQgetvalue(res, 0, 0),
		    f->worker);
	/*
	 * A serial no count names: traced by itself unless the order does
	 * not exist or stored that very certificate (committed after all).
	 */
	if (f->serial[0] != '\0' && r != 1 && (res == NULL ||
	    (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 1), "t") != 0)) &&
	    cad_discard_keep(c, id, f->serial, why, f->worker) == -1) {
		log_err("order %s: certificate serial %s signed and discarded, "
		    "not recorded yet: the in-flight marker of %s is left for "
		    "a later start", id, f->serial, f->worker);
		r = -2;
	}
	PQclear(res);
	return r;
}

/* Sets c->next_due_ms in the claim's transaction; -1 when none waits. */
static void
cad_next_due(struct cad *c)
{
	char issuer[24];
	const char *values[2] = { c->served, issuer };
	PGresult *res;
	long long ms;

	c->next_due_ms = -1;
	snprintf(issuer, sizeof(issuer), "%lld", c->issuer_id);
	if ((res = db_exec(c->db, &stmt_next_due, values, NULL, NULL)) == NULL)
		return;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
		ms = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		c->next_due_ms = ms < 0 ? 0 : ms > LONG_MAX ? LONG_MAX : (long)ms;
	}
	PQclear(res);
}

/*
 * Nothing claimed: says once when that is because the issuing CA's own
 * certificate is on hold (its orders wait for a release) or revoked (they
 * fail: cad_claim_ended), and once when a hold is released.
 */
static void
cad_issuer_stopped(struct cad *c, const char *issuer)
{
	const char *values[1] = { issuer };
	PGresult *res;
	int stopped;

	if ((res = db_exec(c->db, &stmt_issuer_revoked, values, NULL,
	    NULL)) == NULL)
		return;
	stopped = PQntuples(res) == 1;
	if (stopped && !c->issuer_stopped && strcmp(PQgetvalue(res, 0, 0),
	    "6") == 0)
		log_err("the issuing CA's certificate was put on hold at %s: "
		    "no order is issued under it (its orders wait until it is "
		    "released)", PQgetvalue(res, 0, 1));
	else if (stopped && !c->issuer_stopped)
		log_err("the issuing CA's certificate was revoked at %s: no "
		    "order is issued under it, those naming it fail (the "
		    "subscribers agree again); name a new issuing CA in "
		    "cad.issuer (`pkictl ca issuing`) and restart rad with it",
		    PQgetvalue(res, 0, 1));
	else if (!stopped && c->issuer_stopped)
		log_info("the issuing CA's certificate is no longer on hold: "
		    "issuing again");
	c->issuer_stopped = stopped;
	PQclear(res);
}

/*
 * In the claim's transaction, at most every CAD_ENDED_EVERY_MS while none
 * is found: an order whose issuer can no longer issue (stmt_claim_ended),
 * locked, with why it fails in why. 1 (the caller fails it: cad_fail), 0
 * when none, -1 on a database failure.
 */
static int
cad_claim_ended(struct cad *c, struct cad_order *o, char *why, size_t len)
{
	char skip[CAD_SKIP_MAX * 22 + 4];
	const char *values[1] = { skip };
	char when[96];
	PGresult *res;
	long long now = cad_now_ms();
	int rc = -1;

	if (now < c->ended_next_ms)
		return 0;
	cad_skip_list(c, skip, sizeof(skip));
	if ((res = db_exec(c->db, &stmt_claim_ended, values, NULL,
	    NULL)) == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		c->ended_next_ms = now + CAD_ENDED_EVERY_MS;
		rc = 0;
		goto out;
	}
	snprintf(o->id, sizeof(o->id), "%s", PQgetvalue(res, 0, 0));
	snprintf(o->kind, sizeof(o->kind), "%s", PQgetvalue(res, 0, 1));
	snprintf(o->profile, sizeof(o->profile), "%s", PQgetvalue(res, 0, 2));
	snprintf(o->key_type, sizeof(o->key_type), "%s", PQgetvalue(res, 0, 3));
	if (PQgetisnull(res, 0, 5))
		snprintf(when, sizeof(when), "ended at %s",
		    PQgetvalue(res, 0, 6));
	else
		snprintf(when, sizeof(when), "was revoked at %s (%s)",
		    PQgetvalue(res, 0, 6),
		    x509ext_crl_reason_name(atoi(PQgetvalue(res, 0, 5))) != NULL ?
		    x509ext_crl_reason_name(atoi(PQgetvalue(res, 0, 5))) :
		    "unknown");
	snprintf(why, len, "the issuing CA %s %s: no certificate is issued "
	    "under it; the subscriber must agree again", PQgetvalue(res, 0, 4),
	    when);
	rc = 1;
out:
	PQclear(res);
	return rc;
}

static int
cad_claim(struct cad *c, struct cad_order *o)
{
	char skip[CAD_SKIP_MAX * 22 + 4], issuer[24];
	const char *values[3] = { c->served, skip, issuer };
	PGresult *res;
	int rc = -1;

	cad_skip_list(c, skip, sizeof(skip));
	snprintf(issuer, sizeof(issuer), "%lld", c->issuer_id);
	if ((res = db_exec(c->db, &stmt_claim, values, NULL, NULL)) == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		cad_issuer_stopped(c, issuer);
		rc = 0;
		goto out;
	}
	snprintf(o->id, sizeof(o->id), "%s", PQgetvalue(res, 0, 0));
	snprintf(o->kind, sizeof(o->kind), "%s", PQgetvalue(res, 0, 1));
	snprintf(o->profile, sizeof(o->profile), "%s", PQgetvalue(res, 0, 2));
	snprintf(o->key_type, sizeof(o->key_type), "%s", PQgetvalue(res, 0, 4));
	o->names_issuer = strcmp(PQgetvalue(res, 0, 5), "t") == 0;
	if ((o->subject = strdup(PQgetvalue(res, 0, 3))) == NULL)
		goto out;
	/* Until the transaction ends, a crash is counted at the next start. */
	cad_marker_set(&c->marker, o->id);
	rc = 1;
out:
	PQclear(res);
	return rc;
}

/*
 * Right before order o is signed, in its transaction: whether the issuing
 * CA may still issue, read again under its certificate's sign lock, which
 * stays held until the transaction ends (stmt_issuer_lock): the claim's
 * check is seconds old by then (the key generation came between). 0 it
 * may (not revoked nor on hold, or no certificate row); 1 revoked for good
 * and the order names it: failed as cad_claim_ended fails such an order,
 * why in why (the caller: cad_fail); 2 on hold, or revoked and the order
 * names no issuer (a worker of another issuing CA may take it): the caller
 * rolls back and the order stays pending, not counted (the claim passes
 * over it meanwhile), why in why; -1 the database failed.
 */
static int
cad_issuer_check(struct cad *c, const struct cad_order *o, char *why,
    size_t len)
{
	char issuer[24];
	const char *values[1] = { issuer }, *name;
	PGresult *res;
	int reason, rc = -1;

	snprintf(issuer, sizeof(issuer), "%lld", c->issuer_id);
	if ((res = db_exec(c->db, &stmt_issuer_lock, values, NULL,
	    NULL)) == NULL)
		return -1;
	if (PQntuples(res) == 0 || PQgetisnull(res, 0, 1)) {
		rc = 0;
		goto out;
	}
	name = PQgetvalue(res, 0, 0);
	reason = atoi(PQgetvalue(res, 0, 1));
	if (reason == 6) {
		snprintf(why, len, "the issuing CA %s was put on hold at %s "
		    "while the order was in hand: nothing signed, the order "
		    "waits for its release", name, PQgetvalue(res, 0, 2));
		rc = 2;
		goto out;
	}
	snprintf(why, len, "the issuing CA %s was revoked at %s (%s): no "
	    "certificate is issued under it; the subscriber must agree again",
	    name, PQgetvalue(res, 0, 2), x509ext_crl_reason_name(reason) !=
	    NULL ? x509ext_crl_reason_name(reason) : "unknown");
	if (o->names_issuer) {
		rc = 1;
		goto out;
	}
	snprintf(why, len, "the issuing CA %s was revoked at %s while the "
	    "order was in hand: nothing signed, the order (naming no issuer) "
	    "left pending for a worker of another issuing CA", name,
	    PQgetvalue(res, 0, 2));
	rc = 2;
out:
	PQclear(res);
	return rc;
}

/* Stores certificate, wrapped key and the order's end; audits; no commit. */
static int
cad_store(struct cad *c, const struct cad_order *o, X509 *cert,
    const unsigned char *blob, size_t bloblen)
{
	unsigned char *spki = NULL;
	char *blobhex = NULL, *spkihex = NULL, certid[24], fp[65];
	const char *values[7];
	long long cid;
	PGresult *res = NULL;
	int len, rc = -1;

	if (certstore_add_issued(c->db, c->actor, c->issuer_id, o->profile,
	    cert, &cid) == -1)
		goto out;
	snprintf(certid, sizeof(certid), "%lld", cid);
	/* The certificate's own SubjectPublicKeyInfo bytes (no re-encoding). */
	if ((len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &spki)) <= 0 ||
	    (blobhex = db_bytea_param(blob, bloblen)) == NULL ||
	    (spkihex = db_bytea_param(spki, (size_t)len)) == NULL)
		goto out;
	certstore_sha256_hex(spki, (size_t)len, fp);
	values[0] = o->id;
	values[1] = certid;
	values[2] = o->key_type;
	values[3] = blobhex;
	values[4] = spkihex;
	values[5] = fp;
	values[6] = c->wrap_label;
	res = db_exec(c->db, &stmt_key_insert, values, NULL, NULL);
	if (res == NULL || PQntuples(res) != 1)
		goto out;
	values[2] = c->actor;
	if (!cad_one_row(db_exec(c->db, &stmt_done, values, NULL, NULL)))
		goto out;
	if (cad_audit(c, "order.done", o->id, json_pack("{s:s, s:s, s:s, "
	    "s:s, s:s, s:s}", "certificate_id", certid, "subscriber_key_id",
	    PQgetvalue(res, 0, 0), "profile", o->profile, "key_type",
	    o->key_type, "spki_sha256", fp, "wrapping_key", c->wrap_label)) == -1)
		goto out;
	rc = 0;
out:
	PQclear(res);
	OPENSSL_free(spki);
	free(blobhex);
	free(spkihex);
	return rc;
}

int
cad_issue_one(struct cad *c)
{
	struct cad_order o;
	struct profile *prof;
	X509_NAME *subject = NULL;
	X509 *x = NULL;
	EVP_PKEY *pub = NULL;
	unsigned char *blob = NULL;
	size_t bloblen = 0;
	const char *pkind;
	char err[512], state[8], *serial = NULL;
	size_t n;
	long skip_ms;
	int r, transient, rc = -1;

	memset(&o, 0, sizeof(o));
	c->next_due_ms = -1;
	if (cad_discard_wait(c) == -1)
		return 0;
	if (db_begin(c->db, NULL) == -1)
		return -1;
	/* Before the claim: such an order would otherwise wait for ever. */
	if ((r = cad_claim_ended(c, &o, err, sizeof(err))) != 0) {
		if (r == 1)
			rc = cad_fail(c, &o, err);
		else
			(void)db_rollback(c->db);
		goto out;
	}
	if ((r = cad_claim(c, &o)) != 1) {
		if (r == 0) {
			cad_next_due(c);
			if ((skip_ms = cad_skip_next_ms(c)) >= 0 &&
			    (c->next_due_ms == -1 || skip_ms < c->next_due_ms))
				c->next_due_ms = skip_ms;
		}
		(void)db_rollback(c->db);
		rc = r;
		goto out;
	}
	/*
	 * What is wrong with the order itself fails it before the HSM works.
	 * The claim took a profile this worker serves; the test stays as a
	 * guard.
	 */
	if ((prof = cad_profile(c, o.profile)) == NULL) {
		snprintf(err, sizeof(err), "profile %s is not served by cad "
		    "(cad.profiles)", o.profile);
		rc = cad_fail(c, &o, err);
		goto out;
	}
	pkind = profile_get(prof, "kind");
	if (pkind == NULL || strcmp(pkind, o.kind) != 0) {
		snprintf(err, sizeof(err), "lint: profile %s is for kind %s, "
		    "not %s", o.profile, pkind != NULL ? pkind : "(none)",
		    o.kind);
		rc = cad_fail(c, &o, err);
		goto out;
	}
	if (cad_lint_keytype(prof, o.key_type, err, sizeof(err)) == -1 ||
	    (subject = cad_subject(prof, o.subject, err, sizeof(err))) == NULL) {
		rc = cad_fail(c, &o, err);
		goto out;
	}
	if (signer_keygen_wrapped(c->signer, c->wrap_label, o.key_type, &blob,
	    &bloblen, &pub, err, sizeof(err)) == -1) {
		(void)db_rollback(c->db);
		cad_rolled_back(c, &o, err, NULL);
		goto out;
	}
	/* Out of memory or randomness: again later; the profile's data: never. */
	if ((x = profile_build(prof, subject, pub, NULL, c->issuer, &transient,
	    err, sizeof(err))) == NULL && transient) {
		(void)db_rollback(c->db);
		cad_rolled_back(c, &o, err, NULL);
		goto out;
	}
	if (x == NULL || cad_lint(prof, x, c->issuer, o.key_type,
	    c->max_validity_days, err, sizeof(err)) == -1) {
		rc = cad_fail(c, &o, err);
		goto out;
	}
	/*
	 * The issuing CA revoked or held since the claim: nothing is signed.
	 * The generated key goes with the rollback (the signer keeps no
	 * object of it: hsm/p11wrap.c), as after any attempt not completed.
	 * Past this, a revocation of it waits for this transaction's end.
	 */
	if ((r = cad_issuer_check(c, &o, err, sizeof(err))) == 1) {
		rc = cad_fail(c, &o, err);
		goto out;
	} else if (r == 2) {
		(void)db_rollback(c->db);
		cad_marker_clear(&c->marker);
		log_err("order %s: %s", o.id, err);
		rc = 0;
		goto out;
	} else if (r == -1) {
		snprintf(state, sizeof(state), "%s", db_last_sqlstate(c->db));
		(void)db_rollback(c->db);
		snprintf(err, sizeof(err), "reading the issuing CA's status "
		    "failed (SQLSTATE %s); nothing signed", state);
		cad_rolled_back(c, &o, err, NULL);
		goto out;
	}
	/*
	 * From the signature to the COMMIT, a crash leaves the serial in the
	 * marker and a failure names it, so that no certificate the issuing
	 * key may have signed goes untraced (both end in the order's audit
	 * events: order.retry or order.fail, else cert.discard; until then
	 * the marker names it, cad_rolled_back). Named before the signer is
	 * asked: it may sign and the worker end before the answer.
	 */
	if ((serial = certstore_serial_hex(x)) == NULL) {
		(void)db_rollback(c->db);
		cad_rolled_back(c, &o, "out of memory", NULL);
		goto out;
	}
	cad_marker_signed(&c->marker, o.id, serial);
	if (profile_sign(prof, x, pub, c->issuer, c->ca_key, err,
	    sizeof(err)) == -1) {
		(void)db_rollback(c->db);
		n = strlen(err);
		snprintf(err + n, sizeof(err) - n, " (certificate serial %s)",
		    serial);
		cad_rolled_back(c, &o, err, serial);
		goto out;
	}
	if (cad_store(c, &o, x, blob, bloblen) == -1 ||
	    db_commit(c->db) == -1) {
		(void)db_rollback(c->db);
		snprintf(state, sizeof(state), "%s", db_last_sqlstate(c->db));
		/*
		 * A COMMIT whose answer was lost may have committed: then the
		 * order is done with this very certificate. Until 2026-12-07
		 * it was taken for discarded all the same, and a cert.discard
		 * named the serial of the order's certificate.
		 */
		if (cad_stored(c, o.id, serial) == 1) {
			log_warn("order %s done: %s certificate serial %s for "
			    "key %s (the answer to its COMMIT was lost, SQLSTATE "
			    "%s; the database holds it)", o.id, o.profile,
			    serial, o.key_type, state);
			rc = 1;
			goto out;
		}
		/* Nothing of this attempt is kept: the order is pending again. */
		snprintf(err, sizeof(err), "storing the certificate failed "
		    "(SQLSTATE %s); nothing issued (certificate serial %s "
		    "signed and discarded)", state, serial);
		cad_rolled_back(c, &o, err, serial);
		goto out;
	}
	log_info("order %s done: %s certificate for key %s", o.id, o.profile,
	    o.key_type);
	rc = 1;
out:
	/*
	 * Every way out has ended the transaction (nothing when cleared); a
	 * discarded certificate not yet traced stays named (cad_discard_keep).
	 */
	if (c->discard.order[0] == '\0')
		cad_marker_clear(&c->marker);
	OPENSSL_free(serial);
	free(o.subject);
	X509_NAME_free(subject);
	X509_free(x);
	EVP_PKEY_free(pub);
	free(blob);
	return rc;
}
