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
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "lib/audit.h"
#include "lib/db.h"
#include "lib/ldappub.h"
#include "lib/log.h"
#include "lib/publish.h"

#define PUBLISH_BACKOFF_MAX_S	3600
/* Rows of each queue claimed per transaction. */
#define PUBLISH_BATCH		32
#define PUBLISH_BATCH_SQL	"32"

static const struct db_stmt stmt_queue_insert = { "publish_queue_insert",
	"INSERT INTO publish_queue (dn, attribute, der) VALUES ($1, $2, "
	"$3) RETURNING id", 3 };
static const struct db_stmt stmt_queue_claim = { "publish_queue_claim",
	"SELECT id, dn, attribute, der, attempts FROM publish_queue WHERE "
	"done_at IS NULL AND next_attempt_at <= now() ORDER BY id "
	"LIMIT " PUBLISH_BATCH_SQL " FOR UPDATE SKIP LOCKED", 0 };
/*
 * Each row replaces the entry's attribute: the directory must end with the
 * newest row of a (dn, attribute), never an older one retried after it (a
 * CRL rolled back). Done: this row and every older pending row of its
 * target; a row whose target has a newer row done is skipped. One
 * publisher at a time (stmt_publisher_try, _wait), so that two cannot write one
 * entry in the opposite order of their rows.
 */
static const struct db_stmt stmt_queue_done = { "publish_queue_done",
	"UPDATE publish_queue SET done_at = now(), attempts = attempts + "
	"(id = $1)::int, last_error = NULL WHERE done_at IS NULL AND dn = $2 "
	"AND attribute = $3 AND id <= $1", 3 };
/*
 * crld (a time budget) only tries: a publisher held up by a directory
 * outage must not stall its CRL issuance; the holder drains the queue.
 * pkictl (no budget) waits its turn, then drains what is left.
 */
static const struct db_stmt stmt_publisher_try = { "publish_publisher_try",
	"SELECT pg_try_advisory_xact_lock(hashtextextended("
	"'lib/publish.c publisher', 0))", 0 };
static const struct db_stmt stmt_publisher_wait = { "publish_publisher_wait",
	"SELECT true FROM pg_advisory_xact_lock(hashtextextended("
	"'lib/publish.c publisher', 0))", 0 };
static const struct db_stmt stmt_queue_newer = { "publish_queue_newer",
	"SELECT max(id) FROM publish_queue WHERE dn = $1 AND attribute = $2 "
	"AND id > $3 AND done_at IS NOT NULL", 3 };
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
	"UPDATE publish_certificate SET done_at = now(), attempts = attempts + "
	"(id = $1)::int, last_error = NULL WHERE done_at IS NULL AND "
	"certificate_id = $2 AND id <= $1", 2 };
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

/* RFC 5280 §5.3.1 CRLReason names, by code (7 is unused). */
static const char *
publish_reason_name(int code)
{
	static const char *const names[] = { "unspecified", "keyCompromise",
	    "cACompromise", "affiliationChanged", "superseded",
	    "cessationOfOperation", "certificateHold", NULL, "removeFromCRL",
	    "privilegeWithdrawn", "aACompromise" };

	if (code < 0 || code > 10 || names[code] == NULL)
		return "unknown";
	return names[code];
}

/*
 * Publishes one subscriber certificate's entry, cn=<serial>,ou=subscribers,
 * <base>: userCertificate;binary and a description of its status now.
 * 0 published, 1 failed (retried later), -1.
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
	const char *values[3];
	json_t *details = NULL;
	long attempts = strtol(PQgetvalue(res, i, 3), NULL, 10), delay;
	int ok = 0, rc = -1;

	if (db_bytea_value(PQgetvalue(res, i, 2), &der, &len) == -1)
		goto out;
	if (PQgetisnull(res, i, 4))
		snprintf(status, sizeof(status), "status=valid");
	else
		snprintf(status, sizeof(status), "status=%s; reason=%s; "
		    "revoked_at=%s", atoi(PQgetvalue(res, i, 4)) == 6 ? "on-hold" :
		    "revoked", publish_reason_name(atoi(PQgetvalue(res, i, 4))),
		    PQgetvalue(res, i, 5));
	if (lc == NULL || lc->uri == NULL || lc->base == NULL || *lc->base == '\0')
		snprintf(err, sizeof(err), "ldap.uri or ldap.base not configured");
	else if ((size_t)snprintf(dn, sizeof(dn), "cn=%s,ou=subscribers,%s",
	    serial, lc->base) >= sizeof(dn))
		snprintf(err, sizeof(err), "ldap.base too long");
	else
		ok = ldappub_session_put(ls, dn, "userCertificate;binary", der,
		    len, err, sizeof(err)) == 0 &&
		    ldappub_session_put(ls, dn, "description",
		    (unsigned char *)status, strlen(status), err,
		    sizeof(err)) == 0;
	values[0] = id;
	if (ok) {
		values[1] = PQgetvalue(res, i, 6);
		if (db_exec_ok(db, &stmt_cert_done, values) == -1)
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
	details = json_pack("{s:s, s:s, s:s, s:b, s:s?}", "certificate_id",
	    PQgetvalue(res, i, 6), "serial", serial, "status", status, "ok", ok,
	    "error", ok ? NULL : err);
	if (details == NULL || audit_append(db, actor, "publish.ldap",
	    "publish_certificate", id, details, NULL) == -1)
		goto out;
	rc = ok ? 0 : 1;
out:
	json_decref(details);
	free(der);
	return rc;
}

/*
 * Publishes one claimed row and records the outcome, audited, in the
 * caller's transaction: 0 published, 1 failed (retried later), -1.
 */
static int
publish_row(struct db *db, struct ldappub_session *ls, PGresult *res, int i,
    const char *actor)
{
	const struct ldappub_conf *lc = ls->conf;
	unsigned char *der = NULL;
	size_t len;
	char err[256] = "", backoff[32];
	const char *id = PQgetvalue(res, i, 0), *dn = PQgetvalue(res, i, 1);
	const char *attr = PQgetvalue(res, i, 2);
	const char *values[3];
	char *newer = NULL;
	PGresult *nres = NULL;
	json_t *details = NULL;
	long attempts = strtol(PQgetvalue(res, i, 4), NULL, 10);
	long delay;
	int ok, rc = -1;

	values[0] = dn;
	values[1] = attr;
	values[2] = id;
	if ((nres = db_exec(db, &stmt_queue_newer, values, NULL, NULL)) ==
	    NULL)
		goto out;
	if (!PQgetisnull(nres, 0, 0) &&
	    (newer = strdup(PQgetvalue(nres, 0, 0))) == NULL)
		goto out;
	if (db_bytea_value(PQgetvalue(res, i, 3), &der, &len) == -1)
		goto out;
	if (newer != NULL) {
		ok = 1;		/* superseded: nothing to publish */
		log_info("LDAP publication of %s to %s: row %s superseded by "
		    "row %s, already published", attr, dn, id, newer);
	} else if (lc == NULL || lc->uri == NULL) {
		snprintf(err, sizeof(err), "ldap.uri not configured");
		ok = 0;
	} else
		ok = ldappub_session_put(ls, dn, attr, der, len, err,
		    sizeof(err)) == 0;
	values[0] = id;
	if (ok) {
		values[1] = dn;
		values[2] = attr;
		if (db_exec_ok(db, &stmt_queue_done, values) == -1)
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
	details = json_pack("{s:s, s:s, s:b, s:s?, s:s?}", "dn", dn,
	    "attribute", attr, "ok", ok, "error", ok ? NULL : err,
	    "superseded_by", newer);
	if (details == NULL || audit_append(db, actor, "publish.ldap",
	    "publish_queue", id, details, NULL) == -1)
		goto out;
	rc = ok ? 0 : 1;
out:
	json_decref(details);
	PQclear(nres);
	free(newer);
	free(der);
	return rc;
}

struct publish_arg {
	struct ldappub_session	 ls;
	const char		*actor;
	int			 wait;		/* for the publisher lock */
	int			 claimed;	/* rows of this batch */
	int			 failed;	/* of which not published */
};

/* One batch: up to PUBLISH_BATCH rows of each queue, one transaction. */
static int
publish_txn(struct db *db, void *varg)
{
	struct publish_arg *arg = varg;
	PGresult *res;
	int i, r, rc = -1;

	arg->claimed = arg->failed = 0;
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
	for (i = 0; i < PQntuples(res); i++) {
		if ((r = publish_row(db, &arg->ls, res, i, arg->actor)) == -1)
			goto out;
		arg->failed += r;
	}
	arg->claimed += PQntuples(res);
	PQclear(res);
	if ((res = db_exec(db, &stmt_cert_claim, NULL, NULL, NULL)) == NULL)
		return -1;
	for (i = 0; i < PQntuples(res); i++) {
		if ((r = publish_cert_row(db, &arg->ls, res, i,
		    arg->actor)) == -1)
			goto out;
		arg->failed += r;
	}
	arg->claimed += PQntuples(res);
	rc = 0;
out:
	PQclear(res);
	return rc;
}

static double
publish_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
publish_run(struct db *db, const struct ldappub_conf *lc, const char *actor,
    double budget_s, int *more_due)
{
	struct publish_arg arg;
	PGresult *res;
	double until = publish_now() + budget_s;
	int pending, rc;

	memset(&arg, 0, sizeof(arg));
	ldappub_session_init(&arg.ls, lc);
	arg.actor = actor;
	arg.wait = budget_s <= 0;
	/*
	 * Batch after batch while a batch came back full: a queue that grew
	 * during an issuance burst drains at the directory's pace, not at
	 * PUBLISH_BATCH rows per call. A batch with a failure ends it: the
	 * directory is in trouble and each failed row waits for its back-off.
	 */
	do
		rc = db_transaction(db, NULL, 3, publish_txn, &arg);
	while (rc == 0 && arg.claimed >= PUBLISH_BATCH && arg.failed == 0 &&
	    (budget_s <= 0 || publish_now() < until));
	ldappub_session_close(&arg.ls);
	if (more_due != NULL)
		*more_due = rc == 0 && arg.claimed >= PUBLISH_BATCH &&
		    arg.failed == 0;
	if (rc == -1)
		return -1;
	if ((res = db_exec(db, &stmt_queue_pending, NULL, NULL, NULL)) == NULL)
		return -1;
	pending = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return pending;
}
