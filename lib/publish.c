/*
 * The LDAP publication queue (lib/publish.h, table publish_queue in
 * schema/002_ca.sql).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "lib/audit.h"
#include "lib/db.h"
#include "lib/hex.h"
#include "lib/ldappub.h"
#include "lib/log.h"
#include "lib/publish.h"
#include "lib/x509ext.h"

#define PUBLISH_BACKOFF_MAX_S	3600
/* A row's outcome: published (or superseded), failed, or the directory down. */
#define PUBLISH_ROW_DONE	0
#define PUBLISH_ROW_FAILED	1
#define PUBLISH_ROW_DOWN	2
/* Rows of each queue claimed per transaction. */
#define PUBLISH_BATCH		32
#define PUBLISH_BATCH_SQL	"32"

static const struct db_stmt stmt_queue_insert = { "publish_queue_insert",
	"INSERT INTO publish_queue (dn, attribute, der) VALUES ($1, $2, "
	"$3) RETURNING id", 3 };
/*
 * Ids only, not the DER (a complete CRL can be ~47 MB): the newest pending
 * row of each (dn, attribute), which retires the older ones when it is
 * done, so those are never read. Column 4: a newer row of the target
 * already done (then this one is superseded and skipped).
 */
static const struct db_stmt stmt_queue_claim = { "publish_queue_claim",
	"SELECT q.id, q.dn, q.attribute, q.attempts, (SELECT max(n.id) FROM "
	"publish_queue n WHERE n.dn = q.dn AND n.attribute = q.attribute AND "
	"n.id > q.id AND n.done_at IS NOT NULL) FROM publish_queue q WHERE "
	"q.done_at IS NULL AND q.next_attempt_at <= now() AND NOT EXISTS "
	"(SELECT 1 FROM publish_queue p WHERE p.dn = q.dn AND p.attribute = "
	"q.attribute AND p.id > q.id AND p.done_at IS NULL) ORDER BY q.id "
	"LIMIT " PUBLISH_BATCH_SQL " FOR UPDATE OF q SKIP LOCKED", 0 };
/* The DER of the row being published, in binary result format. */
static const struct db_stmt stmt_queue_der = { "publish_queue_der",
	"SELECT der FROM publish_queue WHERE id = $1", 1 };
/*
 * Each row replaces the entry's attribute: the directory must end with the
 * newest row of a (dn, attribute), never an older one retried after it (a
 * CRL rolled back). Done: this row and every older pending row of its
 * target (named in the audit event's also_done); a row whose target has a
 * newer row done is skipped. One
 * publisher at a time (stmt_publisher_try, _wait), so that two cannot write one
 * entry in the opposite order of their rows. A done CRL row keeps no DER
 * (schema/046): crl_current has the newest, the crl table every hash.
 */
static const struct db_stmt stmt_queue_done = { "publish_queue_done",
	"WITH d AS (UPDATE publish_queue SET done_at = now(), attempts = attempts + "
	"(id = $1)::int, last_error = NULL, der = CASE WHEN attribute IN "
	"('certificateRevocationList;binary', 'authorityRevocationList;binary', "
	"'deltaRevocationList;binary') THEN NULL ELSE der END "
	"WHERE done_at IS NULL AND dn = $2 AND attribute = $3 AND id <= $1 "
	"RETURNING id) SELECT id FROM d ORDER BY id", 3 };
/*
 * crld (a time budget) only tries: a publisher held up by a directory
 * outage must not stall its CRL issuance; the holder drains the queue.
 * pkictl (no budget) waits its turn, then drains what is left.
 */
/*
 * A transaction-level advisory lock on a key of its own, taken through
 * publish_queue_lock (schema/077): pki_crl may take no other.
 */
static const struct db_stmt stmt_publisher_try = { "publish_publisher_try",
	"SELECT publish_queue_lock(false)", 0 };
static const struct db_stmt stmt_publisher_wait = { "publish_publisher_wait",
	"SELECT publish_queue_lock(true)", 0 };
static const struct db_stmt stmt_queue_failed = { "publish_queue_failed",
	"UPDATE publish_queue SET attempts = attempts + 1, last_error = $2, "
	"next_attempt_at = now() + make_interval(secs => $3::int) WHERE id = $1", 3 };
static const struct db_stmt stmt_queue_pending = { "publish_queue_pending",
	"SELECT (SELECT count(*) FROM publish_queue WHERE done_at IS NULL) + "
	"(SELECT count(*) FROM publish_certificate WHERE done_at IS NULL)", 0 };
/* The certificate's state now, not when it was queued (schema/013). */
static const struct db_stmt stmt_cert_claim = { "publish_certificate_claim",
	"SELECT p.id, c.serial, c.der, p.attempts, c.revocation_reason, "
	"to_char(c.revoked_at AT TIME ZONE 'UTC', "
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), c.id FROM publish_certificate p "
	"JOIN certificate c ON c.id = p.certificate_id WHERE p.done_at IS NULL "
	"AND p.next_attempt_at <= now() ORDER BY p.id LIMIT " PUBLISH_BATCH_SQL " "
	"FOR UPDATE OF p SKIP LOCKED", 0 };
/* Done: this row and any older pending row of the same certificate. */
static const struct db_stmt stmt_cert_done = { "publish_certificate_done",
	"WITH d AS (UPDATE publish_certificate SET done_at = now(), attempts = "
	"attempts + (id = $1)::int, last_error = NULL WHERE done_at IS NULL "
	"AND certificate_id = $2 AND id <= $1 RETURNING id) SELECT id FROM d "
	"ORDER BY id", 2 };
static const struct db_stmt stmt_cert_failed = { "publish_certificate_failed",
	"UPDATE publish_certificate SET attempts = attempts + 1, last_error = $2, "
	"next_attempt_at = now() + make_interval(secs => $3::int) WHERE id = $1", 3 };

int
publish_ca_dn(const char *base, X509 *cert, char *dn, size_t dnlen)
{
	X509_NAME *name = X509_get_subject_name(cert);
	unsigned char *cn = NULL;
	size_t off;
	int i, n, rc = -1;

	if (base == NULL || *base == '\0' || dnlen < 8 ||
	    (i = X509_NAME_get_index_by_NID(name, NID_commonName, -1)) < 0)
		return -1;
	/* As UTF-8 whatever its string type (a BMPString is UTF-16). */
	if ((n = ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(
	    X509_NAME_get_entry(name, i)))) <= 0)
		goto out;
	off = (size_t)snprintf(dn, dnlen, "cn=");
	for (i = 0; i < n; i++) {
		/* A NUL would cut the DN short; control bytes name nothing. */
		if (cn[i] < 0x20 || cn[i] == 0x7f || off + 3 >= dnlen)
			goto out;
		if (strchr(",+\"\\<>;=", cn[i]) != NULL ||
		    (i == 0 && (cn[i] == ' ' || cn[i] == '#')) ||
		    (i == n - 1 && cn[i] == ' '))
			dn[off++] = '\\';
		dn[off++] = (char)cn[i];
	}
	if ((size_t)snprintf(dn + off, dnlen - off, ",%s", base) >= dnlen - off)
		goto out;
	rc = 0;
out:
	OPENSSL_free(cn);
	return rc;
}

int
publish_queue_add(struct db *db, const char *actor, const char *dn,
    const char *attr, const unsigned char *der, size_t len)
{
	char *end;
	const char *values[3];
	/* The DER as a binary parameter: a CRL can be tens of MB, not doubled as hex. */
	int lengths[3] = { 0, 0, 0 }, formats[3] = { 0, 0, 1 };
	PGresult *res = NULL;
	json_t *details = NULL;
	int rc = -1;

	if (len > INT_MAX)
		goto out;
	values[0] = dn;
	values[1] = attr;
	values[2] = (const char *)der;
	lengths[2] = (int)len;
	if ((res = db_exec(db, &stmt_queue_insert, values, lengths, formats)) ==
	    NULL || PQntuples(res) != 1)
		goto out;
	(void)strtoll(PQgetvalue(res, 0, 0), &end, 10);
	if (*end != '\0')
		goto out;
	if ((details = json_pack("{s:s, s:s, s:I}", "dn", dn, "attribute", attr,
	    "bytes", (json_int_t)len)) == NULL ||
	    audit_append(db, actor, "publish.queue", "publish_queue",
	    PQgetvalue(res, 0, 0), details, NULL) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

/* Seconds until the next attempt after attempts failures: 10, 20, ... 1 h. */
static long
publish_backoff(long attempts)
{
	long delay = attempts < 9 ? 10L << attempts : PUBLISH_BACKOFF_MAX_S;

	return delay > PUBLISH_BACKOFF_MAX_S ? PUBLISH_BACKOFF_MAX_S : delay;
}

/*
 * Marks row id done with the older pending rows of its target (stmt, one of
 * the *_done statements); *retired: their ids, the row's own left out, as
 * a JSON array for the audit event, or NULL when there were none. 0 or -1.
 */
static int
publish_done(struct db *db, const struct db_stmt *stmt, const char **values,
    const char *id, json_t **retired)
{
	PGresult *res;
	int i, rc = -1;

	*retired = NULL;
	if ((res = db_exec(db, stmt, values, NULL, NULL)) == NULL)
		return -1;
	for (i = 0; i < PQntuples(res); i++) {
		if (strcmp(PQgetvalue(res, i, 0), id) == 0)
			continue;
		if ((*retired == NULL && (*retired = json_array()) == NULL) ||
		    json_array_append_new(*retired, json_integer(strtoll(
		    PQgetvalue(res, i, 0), NULL, 10))) == -1)
			goto out;
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/*
 * Publishes one subscriber certificate's entry, cn=<serial>,ou=subscribers,
 * <base>: userCertificate;binary and a description of its status now.
 * PUBLISH_ROW_DONE, _FAILED (retried later), _DOWN (failed, and the
 * directory with it: no other row would fare better now), or -1.
 */
static int
publish_cert_row(struct db *db, struct ldappub_session *ls, PGresult *res,
    int i, const char *actor)
{
	const struct ldappub_conf *lc = ls->conf;
	unsigned char *der = NULL;
	size_t len;
	char err[256] = "", backoff[32], dn[512], status[160];
	const char *id = PQgetvalue(res, i, 0), *serial = PQgetvalue(res, i, 1);
	const char *reason;
	const char *values[3];
	json_t *details = NULL, *retired = NULL;
	long attempts = strtol(PQgetvalue(res, i, 3), NULL, 10), delay;
	int ok = 0, down = 0, rc = -1;

	if (db_bytea_value(PQgetvalue(res, i, 2), &der, &len) == -1)
		goto out;
	if (PQgetisnull(res, i, 4))
		snprintf(status, sizeof(status), "status=valid");
	else {
		if ((reason = x509ext_crl_reason_name(atoi(PQgetvalue(res, i,
		    4)))) == NULL)
			reason = "unknown";
		snprintf(status, sizeof(status), "status=%s; reason=%s; "
		    "revoked_at=%s", atoi(PQgetvalue(res, i, 4)) == 6 ? "on-hold" :
		    "revoked", reason, PQgetvalue(res, i, 5));
	}
	if (lc == NULL || lc->uri == NULL || lc->base == NULL ||
	    *lc->base == '\0') {
		snprintf(err, sizeof(err), "ldap.uri or ldap.base not configured");
		down = 1;
	} else if ((size_t)snprintf(dn, sizeof(dn), "cn=%s,ou=subscribers,%s",
	    serial, lc->base) >= sizeof(dn))
		snprintf(err, sizeof(err), "ldap.base too long");
	else {
		ok = ldappub_session_put(ls, dn, "userCertificate;binary", der,
		    len, err, sizeof(err)) == 0 &&
		    ldappub_session_put(ls, dn, "description",
		    (unsigned char *)status, strlen(status), err,
		    sizeof(err)) == 0;
		down = !ok && ls->down;
	}
	values[0] = id;
	if (ok) {
		values[1] = PQgetvalue(res, i, 6);
		if (publish_done(db, &stmt_cert_done, values, id,
		    &retired) == -1)
			goto out;
	} else {
		delay = publish_backoff(attempts);
		snprintf(backoff, sizeof(backoff), "%ld", delay);
		values[1] = err;
		values[2] = backoff;
		if (db_exec_ok(db, &stmt_cert_failed, values) == -1)
			goto out;
		log_warn("LDAP publication of certificate %s failed (retry in "
		    "%ld s): %s", serial, delay, err);
	}
	/* also_done: older rows of the certificate this one made redundant. */
	details = json_pack("{s:s, s:s, s:s, s:b, s:s?, s:O*}", "certificate_id",
	    PQgetvalue(res, i, 6), "serial", serial, "status", status, "ok", ok,
	    "error", ok ? NULL : err, "also_done", retired);
	if (details == NULL || audit_append(db, actor, "publish.ldap",
	    "publish_certificate", id, details, NULL) == -1)
		goto out;
	rc = ok ? PUBLISH_ROW_DONE : down ? PUBLISH_ROW_DOWN :
	    PUBLISH_ROW_FAILED;
out:
	json_decref(retired);
	json_decref(details);
	free(der);
	return rc;
}

/* One queue row's publication, from inside the binary fetch of its DER. */
struct publish_put {
	struct ldappub_session	*ls;
	const char		*dn;
	const char		*attr;
	char			*err;
	size_t			 errlen;
	int			 fetched;
	int			 ok;
	long long		 bytes;
	char			 sha256[65];	/* hex, of what was published */
};

/*
 * db_exec_rows callback: the DER is the row's bytes as the server sent
 * them (binary format), put to the directory without a copy of its own.
 */
static int
publish_put_row(void *varg, const PGresult *row)
{
	struct publish_put *p = varg;
	const unsigned char *der;
	unsigned char md[32];
	int len;

	p->fetched = 1;
	if (PQnfields(row) != 1 || PQgetisnull(row, 0, 0) ||
	    PQfformat(row, 0) != 1) {
		snprintf(p->err, p->errlen, "publish_queue row without a DER");
		return 0;
	}
	der = (const unsigned char *)PQgetvalue(row, 0, 0);
	len = PQgetlength(row, 0, 0);
	p->bytes = len;
	p->ok = ldappub_session_put(p->ls, p->dn, p->attr, der, (size_t)len,
	    p->err, p->errlen) == 0;
	if (p->ok && EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(),
	    NULL) == 1)
		hex_encode(md, sizeof(md), p->sha256);
	return 0;
}

/*
 * Publishes one claimed row and records the outcome, audited, in the
 * caller's transaction: PUBLISH_ROW_DONE (published, or skipped as
 * superseded without reading its DER), _FAILED (retried later), _DOWN
 * (failed, and the directory with it), or -1.
 */
static int
publish_row(struct db *db, struct ldappub_session *ls, PGresult *res, int i,
    const char *actor)
{
	const struct ldappub_conf *lc = ls->conf;
	struct publish_put put;
	char err[256] = "", backoff[32];
	const char *id = PQgetvalue(res, i, 0), *dn = PQgetvalue(res, i, 1);
	const char *attr = PQgetvalue(res, i, 2);
	const char *newer = PQgetisnull(res, i, 4) ? NULL :
	    PQgetvalue(res, i, 4);
	const char *values[3];
	json_t *details = NULL, *retired = NULL;
	long attempts = strtol(PQgetvalue(res, i, 3), NULL, 10);
	long delay;
	int ok, down = 0, rc = -1;

	memset(&put, 0, sizeof(put));
	if (newer != NULL) {
		ok = 1;		/* superseded: nothing to publish */
		log_info("LDAP publication of %s to %s: row %s superseded by "
		    "row %s, already published", attr, dn, id, newer);
	} else if (lc == NULL || lc->uri == NULL) {
		snprintf(err, sizeof(err), "ldap.uri not configured");
		ok = 0;
		down = 1;
	} else {
		put.ls = ls;
		put.dn = dn;
		put.attr = attr;
		put.err = err;
		put.errlen = sizeof(err);
		values[0] = id;
		if (db_exec_rows(db, &stmt_queue_der, values, 1,
		    publish_put_row, &put) == -1 || !put.fetched)
			goto out;
		ok = put.ok;
		down = !ok && ls->down;
	}
	values[0] = id;
	if (ok) {
		values[1] = dn;
		values[2] = attr;
		if (publish_done(db, &stmt_queue_done, values, id,
		    &retired) == -1)
			goto out;
	} else {
		delay = publish_backoff(attempts);
		snprintf(backoff, sizeof(backoff), "%ld", delay);
		values[1] = err;
		values[2] = backoff;
		if (db_exec_ok(db, &stmt_queue_failed, values) == -1)
			goto out;
		log_warn("LDAP publication of %s to %s failed (retry in %ld s): %s",
		    attr, dn, delay, err);
	}
	/* What was published: a done CRL row keeps no DER (schema/046). */
	details = json_pack("{s:s, s:s, s:b, s:s?, s:s?, s:o*, s:s?, s:O*}",
	    "dn", dn, "attribute", attr, "ok", ok, "error", ok ? NULL : err,
	    "superseded_by", newer, "bytes", ok && newer == NULL ?
	    json_integer(put.bytes) : NULL, "sha256", ok && newer == NULL &&
	    put.sha256[0] != '\0' ? put.sha256 : NULL, "also_done", retired);
	if (details == NULL || audit_append(db, actor, "publish.ldap",
	    "publish_queue", id, details, NULL) == -1)
		goto out;
	rc = ok ? PUBLISH_ROW_DONE : down ? PUBLISH_ROW_DOWN :
	    PUBLISH_ROW_FAILED;
out:
	json_decref(retired);
	json_decref(details);
	return rc;
}

static double
publish_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct publish_arg {
	struct ldappub_session	 ls;
	const char		*actor;
	int			 wait;		/* for the publisher lock */
	double			 until;		/* CLOCK_MONOTONIC; 0: no budget */
	int			 tried;		/* rows of this run, so far */
	/* of the last batch: */
	int			 full;		/* a queue came back full */
	int			 failed;	/* rows not published */
	int			 down;		/* the directory failed */
	int			 out_of_time;	/* rows left untouched */
};

/*
 * Whether the next row may be tried: the budget is checked before each
 * row, not between batches, since one row can take the directory's
 * time-outs; the first row of a run always goes.
 */
static int
publish_may_try(struct publish_arg *arg)
{
	if (arg->tried > 0 && arg->until > 0 && publish_now() >= arg->until) {
		arg->out_of_time = 1;
		return 0;
	}
	return 1;
}

/* Counts a row's outcome; 0 to go on, -1 to end the batch here. */
static int
publish_outcome(struct publish_arg *arg, int r)
{
	arg->tried++;
	if (r != PUBLISH_ROW_DONE)
		arg->failed++;
	if (r == PUBLISH_ROW_DOWN) {
		/*
		 * The rows after it stay as they are, due, for the next round:
		 * trying them now would wait out the same time-outs each.
		 */
		arg->down = 1;
		return -1;
	}
	return 0;
}

/*
 * One batch: up to PUBLISH_BATCH rows of each queue, one transaction, until
 * the directory fails or the budget is spent.
 */
static int
publish_txn(struct db *db, void *varg)
{
	struct publish_arg *arg = varg;
	PGresult *res;
	int i, r, rc = -1;

	arg->full = arg->failed = arg->down = arg->out_of_time = 0;
	if ((res = db_exec(db, arg->wait ? &stmt_publisher_wait :
	    &stmt_publisher_try, NULL, NULL, NULL)) == NULL)
		return -1;
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		PQclear(res);
		return 0;	/* another publisher is at it */
	}
	PQclear(res);
	if ((res = db_exec(db, &stmt_queue_claim, NULL, NULL, NULL)) == NULL)
		return -1;
	arg->full = PQntuples(res) >= PUBLISH_BATCH;
	for (i = 0; i < PQntuples(res) && publish_may_try(arg); i++) {
		if ((r = publish_row(db, &arg->ls, res, i, arg->actor)) == -1)
			goto out;
		if (publish_outcome(arg, r) == -1)
			break;
	}
	PQclear(res);
	res = NULL;
	if (arg->down || arg->out_of_time) {
		rc = 0;
		goto out;
	}
	if ((res = db_exec(db, &stmt_cert_claim, NULL, NULL, NULL)) == NULL)
		return -1;
	arg->full |= PQntuples(res) >= PUBLISH_BATCH;
	for (i = 0; i < PQntuples(res) && publish_may_try(arg); i++) {
		if ((r = publish_cert_row(db, &arg->ls, res, i,
		    arg->actor)) == -1)
			goto out;
		if (publish_outcome(arg, r) == -1)
			break;
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

int
publish_run(struct db *db, const struct ldappub_conf *lc, const char *actor,
    double budget_s, int *more_due)
{
	struct publish_arg arg;
	PGresult *res;
	int pending, rc;

	memset(&arg, 0, sizeof(arg));
	ldappub_session_init(&arg.ls, lc);
	arg.actor = actor;
	arg.wait = budget_s <= 0;
	arg.until = budget_s > 0 ? publish_now() + budget_s : 0;
	/*
	 * Batch after batch while a batch came back full: a queue that grew
	 * during an issuance burst drains at the directory's pace, not at
	 * PUBLISH_BATCH rows per call. A failure ends it: each failed row
	 * waits for its back-off, and a directory that failed as a whole
	 * (no connection, a time-out) ends the batch at that row.
	 */
	do
		rc = db_transaction(db, NULL, 3, publish_txn, &arg);
	while (rc == 0 && arg.full && arg.failed == 0 && !arg.out_of_time);
	ldappub_session_close(&arg.ls);
	if (more_due != NULL)
		*more_due = rc == 0 && arg.failed == 0 &&
		    (arg.full || arg.out_of_time);
	if (rc == -1)
		return -1;
	if ((res = db_exec(db, &stmt_queue_pending, NULL, NULL, NULL)) == NULL)
		return -1;
	pending = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return pending;
}
