/*
 * The issuance notifier: two threads of rad, each with its OWN database
 * connection (libpq connections are not shared between threads; the HTTP
 * thread keeps ra->db).
 *
 * The issuance thread LISTENs issuance_done (schema/007: cad's
 * "<order id>:<status>") and, on every notification and every
 * notifier.interval_seconds (a notification is lost while the connection
 * is down, or when rad was not running), reconciles: each agreed
 * application whose issuance order is done becomes issued, in one
 * transaction with its audit event (ra.application.issued, actor
 * ra:notifier), the subscriber's signing credential at signd
 * (sign_credential, schema/020), the supersession of the certificate a
 * rekey replaces (revocation reason 4, cert.revoke) and the subscriber's
 * email, queued in the outbox. Several rad processes may run one each: the
 * row lock and the status condition make each application issued once. At
 * start and every RA_REMIND_PERIOD_S (or its period, if longer) it also
 * queues expiry reminders (rekey.reminder_days before a certificate's
 * not_after: ra_notifier_remind, schema/032), once per certificate and
 * count, each with its audit event; and tells the subscribers of an
 * issuing CA revoked for good, once each (ra_notifier_issuer_notice,
 * schema/090), that their certificates no longer validate and are to be
 * rekeyed now, each with its record and audit event.
 *
 * The outbox thread LISTENs ra_mail and sends the mail outbox
 * (ra_notifier_outbox, schema/033: mails queued by ra_mail_queue) on each
 * notification and every period, backing off a failure; a password reset
 * mail whose token expired or was used before it went is given up, its
 * body emptied, audited (ra.mail.expired, schema/048); a mail that failed
 * RA_OUTBOX_ATTEMPTS sends is given up, audited (ra.mail.given_up). It is
 * a thread of its own so that a slow mail server (up to 30 s a send)
 * delays only mail: never an issuance, a signing credential or a
 * supersession.
 *
 * A failed order is left as it is: the application stays agreed and
 * GET /v1/applications/{id}/agreement shows the order's status and error
 * (an officer orders it again, or it is cancelled: cancel.c). Except when
 * the issuing CA it names will never issue again (revoked for good, or
 * ending within RA_ISSUER_MIN_REMAINING_S: what cad fails, and what an
 * officer's reorder refuses): on the same round the application goes back
 * to approved (schema/089), in one transaction with its audit event
 * (ra.application.reopen, actor ra:notifier) and the subscriber's mail,
 * queued, asking to agree again under rad's current issuing CA
 * (ra_notifier_reopen). The KYC and its approval stand. A rekey whose old
 * certificate can no longer be rekeyed (revoked, expired) is cancelled
 * instead, and its subscriber told to apply again (ra_reopen_cancel); one
 * whose old certificate is on hold waits for the hold's end. So is, on the
 * same round, a rekey, submitted or approved, whose old certificate was
 * revoked or expired before an officer approved it or its subscriber
 * agreed (ra_notifier_lapse): the approval and the agreement refuse it,
 * and it held the account's one open application.
 *
 * The threads need nothing the SANDBOX_NET_FILES profile lacks: poll,
 * a pipe made before the sandbox, socket and connect to reconnect, and the
 * mail sink's files.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "lib/audit.h"
#include "lib/db.h"
#include "lib/log.h"
#include "ra/extern.h"

#define RA_NOTIFIER_ACTOR	"ra:notifier"
#define RA_NOTIFIER_BATCH_S	"100"	/* rows a round takes (SQL LIMIT) */
#define RA_REMIND_PERIOD_S	600	/* reminders count in days: not oftener */
#define RA_NOTIFIER_RECONNECT_S	2
/*
 * How long a command of the notifier's threads waits for the server at
 * most (db_set_timeout): above pki_ra's lock_timeout and statement_timeout
 * (5 s, 15 s: schema/058), which end a slow statement with the connection
 * kept; this one is for a server that stops answering, when they cannot
 * fire. Until 2026-12-07 a stopped backend held the thread for ever:
 * nothing more was marked issued, and no mail went out.
 */
#define RA_NOTIFIER_DB_TIMEOUT_MS	30000

struct ra_notifier;

/* One thread: its own connection, the channel it LISTENs, its round. */
struct ra_loop {
	struct ra_notifier	*nf;
	const char		*name;		/* for the log */
	const char		*listen;
	int			(*round)(struct ra_loop *);
	struct db		*db;
	pthread_t		 thr;
	int			 started;
	time_t			 last_connect;
};

struct ra_notifier {
	struct ra	*ra;
	char		*conninfo;
	long		 interval_s;
	time_t		 next_remind;	/* the issuance thread's only */
	time_t		 next_notice;	/* the same: ra_notifier_issuer_notice */
	int		 stop[2];	/* write end closed: stop */
	struct ra_loop	 loops[2];	/* issuance, outbox */
};

/*
 * A sweep: one transaction per row of a due query, each on its own, so that
 * a row that fails (warned, retried next round) stops no other; a lost
 * connection ends the round. Each row's state is zeroed, its first ncols
 * columns put in its const char * members at cols (the first is the id the
 * warning names), its transaction run, and finished logs what the row did
 * and says whether it counts.
 */
struct ra_sweep {
	const char	*noun;		/* what the id names */
	const char	*failure;	/* warned after "NOUN ID: " */
	int		(*txn)(struct db *, void *);
	int		(*finished)(const void *);
	size_t		 size;		/* of the state */
	int		 ncols;
	size_t		 cols[2];	/* offsetof */
};

/*
 * Seconds of a clock that no step of the wall clock moves, for the
 * notifier's periods: until 2026-12-07 they ran on time(NULL), and a clock
 * stepped back (NTP, a restored VM) stopped the periodic rounds as long.
 */
static time_t
ra_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Whether db's connection is gone (the loop then connects anew). */
static int
ra_db_lost(struct db *db)
{
	return strcmp(db_last_sqlstate(db), "08006") == 0 ||
	    PQstatus(db_conn(db)) != CONNECTION_OK;
}

/*
 * Runs s over due's rows (then cleared); how many counted, or -1: the
 * connection lost or a statement out of time (the rest left to the next
 * round).
 */
static int
ra_sweep(struct db *db, PGresult *due, const struct ra_sweep *s, void *state)
{
	int i, c, n = 0;

	for (i = 0; i < PQntuples(due); i++) {
		memset(state, 0, s->size);
		for (c = 0; c < s->ncols; c++)
			*(const char **)((char *)state + s->cols[c]) =
			    PQgetvalue(due, i, c);
		if (db_transaction(db, NULL, RA_TXN_ATTEMPTS, s->txn,
		    state) == 0) {
			n += s->finished(state);
			continue;
		}
		log_warn("notifier: %s %s: %s; retried next round", s->noun,
		    PQgetvalue(due, i, 0), s->failure);
		/*
		 * The connection lost, or a statement out of time (the role's
		 * statement_timeout, or no answer at all: RA_NOTIFIER_DB_
		 * TIMEOUT_MS): the rows left would only wait as long each.
		 */
		if (ra_db_lost(db) || strcmp(db_last_sqlstate(db),
		    "57014") == 0) {
			n = -1;
			break;
		}
	}
	PQclear(due);
	return n;
}

static const struct db_stmt stmt_notifier_due = {
	"ra_notifier_due",
	"SELECT a.id FROM ra_application a JOIN issuance_order o "
	"ON o.id = a.order_id WHERE a.status = 'agreed' AND o.status = 'done' "
	"ORDER BY a.id LIMIT " RA_NOTIFIER_BATCH_S,
	0
};
static const struct db_stmt stmt_notifier_lock = {
	"ra_notifier_application_lock",
	"SELECT a.account_id, a.kind, a.previous_certificate_id, o.id, c.id, "
	"c.serial, c.subject, " RA_TS("c.not_after") ", acc.email "
	"FROM ra_application a JOIN issuance_order o ON o.id = a.order_id "
	"JOIN certificate c ON c.id = o.certificate_id "
	"JOIN ra_account acc ON acc.id = a.account_id "
	"WHERE a.id = $1 AND a.status = 'agreed' AND o.status = 'done' "
	"FOR UPDATE OF a",
	1
};
static const struct db_stmt stmt_notifier_issued = {
	"ra_notifier_application_issued",
	"UPDATE ra_application SET status = 'issued' WHERE id = $1 "
	"AND status = 'agreed'",
	1
};
/* The subscriber's key is in the HSM (cad made it): signd may use it. */
static const struct db_stmt stmt_notifier_credential = {
	"ra_notifier_credential",
	"INSERT INTO sign_credential (certificate_id, account_id) "
	"VALUES ($1, $2)",
	2
};
/*
 * The old certificate superseded, valid or on hold; with what it was: a
 * hold (6) and who placed it go over to the new certificate.
 */
static const struct db_stmt stmt_notifier_supersede = {
	"ra_notifier_supersede",
	"WITH prev AS (SELECT id, revocation_reason, revoked_by FROM "
	"certificate WHERE id = $1 FOR UPDATE) "
	"UPDATE certificate c SET revoked_at = now(), revocation_reason = 4, "
	"revoked_by = '" RA_NOTIFIER_ACTOR "' FROM prev WHERE c.id = prev.id "
	"AND (c.revoked_at IS NULL OR c.revocation_reason = 6) "
	"RETURNING c.serial, prev.revocation_reason IS NOT DISTINCT FROM 6, "
	"coalesce(prev.revoked_by, ''), " RA_TS("c.invalidity_date"),
	1
};
/*
 * A company's revocation request pending on the old certificate goes over
 * to the new one (a request made after the rekey was submitted): the
 * officer's decision then applies to the certificate the employee holds.
 */
static const struct db_stmt stmt_notifier_move_request = {
	"ra_notifier_move_request",
	"UPDATE ra_revocation_request SET certificate_id = $2 WHERE "
	"certificate_id = $1 AND status = 'pending' AND NOT EXISTS (SELECT 1 "
	"FROM ra_revocation_request n WHERE n.certificate_id = $2 AND "
	"n.status = 'pending') RETURNING id",
	2
};
/*
 * The old certificate locked, then its pending requests: the order of a
 * revocation and schema/079's trigger (certificate, then request), which
 * an officer's decision takes too, so that none of them deadlocks; and
 * whether it is still valid or on hold (to be superseded).
 */
static const struct db_stmt stmt_notifier_lock_previous = {
	"ra_notifier_lock_previous",
	"SELECT revoked_at IS NULL OR revocation_reason = 6 FROM certificate "
	"WHERE id = $1 FOR UPDATE",
	1
};
static const struct db_stmt stmt_notifier_lock_requests = {
	"ra_notifier_lock_requests",
	"SELECT id FROM ra_revocation_request WHERE certificate_id = $1 AND "
	"status = 'pending' FOR UPDATE",
	1
};
/* The new certificate put on hold as the old one was, by the same holder. */
static const struct db_stmt stmt_notifier_hold = {
	"ra_notifier_hold",
	"UPDATE certificate SET revoked_at = now(), revocation_reason = 6, "
	"revoked_by = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING serial",
	2
};

/*
 * The certificate a rekey replaces was revoked for good after the
 * agreement (which, like the approval, refuses one that already was) and
 * before the new one was issued: an affiliationChanged, privilegeWithdrawn
 * or subscriber's revocation would be undone by the pending rekey, so the
 * new certificate follows it, with the same reason. keyCompromise concerns
 * the old key only: the new certificate, on a new key, stands; and
 * cACompromise the old issuing CA only: a new certificate ($2) of another
 * issuing CA stands (the rekey that follows a compromise is what gives
 * the subscriber one).
 */
static const struct db_stmt stmt_notifier_previous_revoked = {
	"ra_notifier_previous_revoked",
	"SELECT p.revocation_reason FROM certificate p, certificate n "
	"WHERE p.id = $1 AND n.id = $2 AND p.revoked_at IS NOT NULL AND "
	"p.revocation_reason NOT IN (1, 4, 6) AND NOT "
	"(p.revocation_reason = 2 AND p.issuer_id <> n.issuer_id)",
	2
};
static const struct db_stmt stmt_notifier_follow = {
	"ra_notifier_follow_revocation",
	"UPDATE certificate SET revoked_at = now(), revocation_reason = "
	"$2::smallint, revoked_by = '" RA_NOTIFIER_ACTOR "' WHERE id = $1 AND "
	"revoked_at IS NULL RETURNING serial",
	2
};

struct ra_notifier_txn {
	const char	*id;
	int		 done;
	int		 followed;	/* the reason the new one was revoked with, or -1 */
	char		 serial[80];
	char		 superseded[80];
};

/*
 * A rekey's old certificate (previous) was not superseded: if it was
 * revoked for good, revokes the new one (cert) with the same reason and
 * audits it. 0 or -1.
 */
static int
ra_notifier_follow(struct ra_notifier_txn *t, struct db *db,
    const char *previous, const char *cert)
{
	const char *v[2];
	PGresult *res = NULL, *res2 = NULL;
	json_t *details = NULL;
	int rc = -1;

	v[0] = previous;
	v[1] = cert;
	if ((res = db_exec(db, &stmt_notifier_previous_revoked, v, NULL,
	    NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		/* Still valid, on hold, keyCompromise, or its old CA's. */
		rc = 0;
		goto out;
	}
	v[0] = cert;
	v[1] = PQgetvalue(res, 0, 0);
	if ((res2 = db_exec(db, &stmt_notifier_follow, v, NULL, NULL)) ==
	    NULL)
		goto out;
	if (PQntuples(res2) == 1) {
		t->followed = atoi(v[1]);
		if ((details = json_pack("{s:s, s:i, s:s, s:s, s:s}", "serial",
		    t->serial, "reason_code", t->followed, "because",
		    "the certificate it was to replace was revoked before it "
		    "was issued", "previous_certificate_id", previous,
		    "application_id", t->id)) == NULL ||
		    audit_append(db, RA_NOTIFIER_ACTOR, "cert.revoke",
		    "certificate", cert, details, NULL) == -1)
			goto out;
		log_warn("notifier: application %s: certificate %s revoked "
		    "(reason %d) as soon as issued: the certificate it "
		    "replaces, %s, was revoked meanwhile", t->id, t->serial,
		    t->followed, previous);
	}
	rc = 0;
out:
	json_decref(details);
	PQclear(res2);
	PQclear(res);
	return rc;
}

/*
 * A rekey's old certificate was on hold (held_by placed it) when the new
 * one was issued: the old one is superseded, and the new one goes on hold
 * in its place, by the same holder, so that the hold is released (or made
 * a revocation) as it would have been. 0 or -1.
 */
static int
ra_notifier_hold(struct ra_notifier_txn *t, struct db *db,
    const char *previous, const char *cert, const char *held_by)
{
	const char *v[2] = { cert, held_by };
	PGresult *res;
	json_t *details = NULL;
	int rc = -1;

	if ((res = db_exec(db, &stmt_notifier_hold, v, NULL, NULL)) == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		rc = 0;
		goto out;
	}
	t->followed = 6;
	if ((details = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s}",
	    "serial", t->serial, "reason", "certificateHold", "reason_code", 6,
	    "because", "the certificate it replaces was on hold when it was "
	    "issued", "held_by", held_by, "previous_certificate_id", previous,
	    "application_id", t->id)) == NULL ||
	    audit_append(db, RA_NOTIFIER_ACTOR, "cert.revoke", "certificate",
	    cert, details, NULL) == -1)
		goto out;
	log_warn("notifier: application %s: certificate %s put on hold as "
	    "issued: the certificate it replaces, %s, was on hold (%s)", t->id,
	    t->serial, previous, held_by);
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

/*
 * Moves the pending revocation request of the certificate about to be
 * superseded (previous), if any, to the new one (cert), audited; not when
 * the company already asked about the new one (one pending request per
 * certificate): the old request then stays with the old certificate, and
 * its supersession closes it as moot (schema/079). 0 or -1.
 */
static int
ra_notifier_move_requests(struct ra_notifier_txn *t, struct db *db,
    const char *previous, const char *cert)
{
	const char *v[2] = { previous, cert };
	PGresult *res;
	json_t *details = NULL;
	int i, rc = -1;

	if ((res = db_exec(db, &stmt_notifier_move_request, v, NULL, NULL)) ==
	    NULL)
		return -1;
	for (i = 0; i < PQntuples(res); i++) {
		json_decref(details);
		if ((details = json_pack("{s:s, s:s, s:s, s:s}",
		    "from_certificate_id", previous, "to_certificate_id", cert,
		    "to_serial", t->serial, "application_id", t->id)) == NULL ||
		    audit_append(db, RA_NOTIFIER_ACTOR,
		    "ra.revocation_request.move", "ra_revocation_request",
		    PQgetvalue(res, i, 0), details, NULL) == -1)
			goto out;
		log_info("notifier: revocation request %s now names certificate "
		    "%s, the rekey of %s", PQgetvalue(res, i, 0), cert, previous);
	}
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

static int
ra_notifier_txn(struct db *db, void *arg)
{
	struct ra_notifier_txn *t = arg;
	const char *v[1], *cred[2];
	char body[2048], followed[200] = "", held_by[256] = "", dn[1024];
	int was_held = 0, supersede;
	PGresult *res = NULL, *res2 = NULL;
	json_t *details = NULL;
	int rc = -1;

	t->done = 0;
	t->followed = -1;
	t->superseded[0] = '\0';
	v[0] = t->id;
	if ((res = db_exec(db, &stmt_notifier_lock, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		rc = 0;		/* another process did it */
		goto out;
	}
	snprintf(t->serial, sizeof(t->serial), "%s", PQgetvalue(res, 0, 5));
	if ((res2 = db_exec(db, &stmt_notifier_issued, v, NULL, NULL)) == NULL ||
	    strcmp(PQcmdTuples(res2), "1") != 0)
		goto out;
	PQclear(res2);
	cred[0] = PQgetvalue(res, 0, 4);
	cred[1] = PQgetvalue(res, 0, 0);
	if ((res2 = db_exec(db, &stmt_notifier_credential, cred, NULL,
	    NULL)) == NULL)
		goto out;
	if ((details = json_pack("{s:s, s:s, s:s, s:s}", "account_id",
	    PQgetvalue(res, 0, 0), "order_id", PQgetvalue(res, 0, 3),
	    "certificate_id", PQgetvalue(res, 0, 4), "serial", t->serial)) ==
	    NULL || audit_append(db, RA_NOTIFIER_ACTOR, "ra.application.issued",
	    "ra_application", t->id, details, NULL) == -1)
		goto out;
	json_decref(details);
	details = NULL;
	/* A rekey: the new certificate supersedes the old (RFC 5280 §5.3.1). */
	if (!PQgetisnull(res, 0, 2)) {
		PQclear(res2);
		v[0] = PQgetvalue(res, 0, 2);
		if ((res2 = db_exec(db, &stmt_notifier_lock_previous, v, NULL,
		    NULL)) == NULL)
			goto out;
		supersede = PQntuples(res2) == 1 &&
		    strcmp(PQgetvalue(res2, 0, 0), "t") == 0;
		PQclear(res2);
		if ((res2 = db_exec(db, &stmt_notifier_lock_requests, v, NULL,
		    NULL)) == NULL)
			goto out;
		/*
		 * Moved before the supersession, which closes as moot
		 * (schema/079) the requests still naming the old certificate:
		 * those the new one's own pending request kept there.
		 */
		if (supersede && ra_notifier_move_requests(t, db, v[0],
		    PQgetvalue(res, 0, 4)) == -1)
			goto out;
		PQclear(res2);
		if ((res2 = db_exec(db, &stmt_notifier_supersede, v, NULL,
		    NULL)) == NULL)
			goto out;
		if (PQntuples(res2) == 1) {
			snprintf(t->superseded, sizeof(t->superseded), "%s",
			    PQgetvalue(res2, 0, 0));
			/* Held: the same holder, or the notifier if none was named. */
			was_held = strcmp(PQgetvalue(res2, 0, 1), "t") == 0;
			snprintf(held_by, sizeof(held_by), "%s",
			    PQgetvalue(res2, 0, 2)[0] != '\0' ?
			    PQgetvalue(res2, 0, 2) : RA_NOTIFIER_ACTOR);
			/* A hold's time is its invalidity date (schema/116). */
			if ((details = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, "
			    "s:s?}", "serial", t->superseded, "reason",
			    "superseded", "reason_code", 4, "by_certificate_id",
			    PQgetvalue(res, 0, 4), "by_serial", t->serial,
			    "application_id", t->id, "invalidity_date",
			    PQgetisnull(res2, 0, 3) ? NULL :
			    PQgetvalue(res2, 0, 3))) == NULL ||
			    audit_append(db, RA_NOTIFIER_ACTOR, "cert.revoke",
			    "certificate", v[0], details, NULL) == -1)
				goto out;
			if (was_held && ra_notifier_hold(t, db,
			    v[0], PQgetvalue(res, 0, 4), held_by) == -1)
				goto out;
		} else if (ra_notifier_follow(t, db, v[0], PQgetvalue(res, 0,
		    4)) == -1)
			goto out;
	}
	if (t->followed == 6)
		snprintf(followed, sizeof(followed), "\r\nIt was put on hold "
		    "at once: the certificate it replaces was on hold when it "
		    "was issued. It can sign once we release it; contact us."
		    "\r\n");
	else if (t->followed >= 0)
		snprintf(followed, sizeof(followed), "\r\nIt was revoked at "
		    "once (reason code %d): the certificate it was to replace "
		    "had been revoked before it was issued. Apply for a new "
		    "certificate if you need one.\r\n", t->followed);
	/* The NIK masked: a mail crosses servers we do not run. */
	ra_mask_dn(PQgetvalue(res, 0, 6), dn, sizeof(dn));
	snprintf(body, sizeof(body), "Your certificate has been issued.\r\n"
	    "\r\n  Subject: %s\r\n  Serial:  %s\r\n  Valid until: %s\r\n%s%s%s%s"
	    "\r\nSee it, with its history, under My certificates "
	    "(GET /v1/certificates/%s).\r\n", dn, t->serial,
	    PQgetvalue(res, 0, 7), t->superseded[0] != '\0' ?
	    "\r\nIt replaces your certificate of serial " : "",
	    t->superseded, t->superseded[0] != '\0' ? ", now revoked as "
	    "superseded.\r\n" : "", followed, PQgetvalue(res, 0, 4));
	/*
	 * Queued in this transaction (schema/033): a mail server that is away
	 * delays the mail, never the issued state, the signing credential or
	 * the supersession of the old certificate.
	 */
	if (ra_mail_addr_ok(PQgetvalue(res, 0, 8)) == -1)
		/* Registration accepts none such; were one stored, the issuance still stands. */
		log_warn("notifier: application %s: the account's address "
		    "cannot be mailed; issued without a mail", t->id);
	else if (ra_mail_queue(db, PQgetvalue(res, 0, 8),
	    "Your certificate has been issued", body) == -1)
		goto out;
	t->done = 1;
	rc = 0;
out:
	json_decref(details);
	PQclear(res2);
	PQclear(res);
	return rc;
}

/* --- an order its issuer will never issue: agree again (schema/089) ------------ */

/*
 * Why the issuing CA i will never issue again: its own certificate revoked
 * for good (as cad's claim reads it: any reason but certificateHold, 6,
 * which may be released), or its notAfter within $1 s (cad's lint refuses
 * a certificate then; cancel.c stmt_reorder_issuer refuses a reorder).
 * x: i's row of ca_certificate_status (schema/103) while its own
 * certificate is revoked for good, else all NULL.
 */
#define RA_REOPEN_ISSUER_STOPPED \
	"(x.id IS NOT NULL OR i.not_after <= now() + make_interval(secs => " \
	"$1::int))"
#define RA_REOPEN_FROM \
	"FROM ra_application a JOIN issuance_order o ON o.id = a.order_id " \
	"JOIN ca_certificate i ON i.id = o.issuer_id " \
	"LEFT JOIN ca_certificate_status x ON x.id = i.id AND " \
	"x.revoked_at IS NOT NULL AND x.revocation_reason <> 6 "
/*
 * A rekey whose old certificate is on hold waits for the hold's end: its
 * agreement would be refused while it lasts (certificate.c), and a hold is
 * released or becomes a revocation (then ra_reopen_txn cancels it).
 */
static const struct db_stmt stmt_reopen_due = {
	"ra_notifier_reopen_due",
	"SELECT a.id " RA_REOPEN_FROM "WHERE a.status = 'agreed' AND "
	"o.status = 'failed' AND " RA_REOPEN_ISSUER_STOPPED " AND NOT EXISTS "
	"(SELECT 1 FROM certificate h WHERE h.id = a.previous_certificate_id "
	"AND h.revoked_at IS NOT NULL AND h.revocation_reason = 6) "
	"ORDER BY a.id LIMIT " RA_NOTIFIER_BATCH_S,
	1
};
/*
 * $2: the application; still agreed, its order failed, its issuer stopped.
 * For a rekey, why the certificate it replaces can no longer be rekeyed
 * ("" while it can: RA_REKEY_PREVIOUS_WHY, as the agreement judges), its
 * serial and notAfter.
 */
static const struct db_stmt stmt_reopen_lock = {
	"ra_notifier_reopen_lock",
	"SELECT a.account_id, a.kind, o.id, coalesce(o.last_error, ''), i.id, "
	"i.subject, CASE WHEN x.id IS NOT NULL THEN 'was revoked at ' || "
	RA_TS("x.revoked_at") " ELSE 'ends at ' || " RA_TS("i.not_after")
	" END, acc.email, a.profile, coalesce(p.id::text, ''), "
	"coalesce(" RA_REKEY_PREVIOUS_WHY("p") ", ''), coalesce(p.serial, ''), "
	"coalesce(" RA_TS("p.not_after") ", '') " RA_REOPEN_FROM
	"JOIN ra_account acc ON acc.id = a.account_id "
	"LEFT JOIN certificate p ON p.id = a.previous_certificate_id "
	"WHERE a.id = $2 AND a.status = 'agreed' AND o.status = 'failed' AND "
	RA_REOPEN_ISSUER_STOPPED " FOR UPDATE OF a",
	2
};
enum {
	RO_ACCOUNT, RO_KIND, RO_ORDER, RO_ORDER_ERROR, RO_ISSUER_ID, RO_ISSUER,
	RO_BECAUSE, RO_EMAIL, RO_PROFILE, RO_PREVIOUS, RO_PREVIOUS_WHY,
	RO_PREVIOUS_SERIAL, RO_PREVIOUS_NOT_AFTER, RO_NCOLS
};
static const struct db_stmt stmt_reopen_update = {
	"ra_notifier_reopen_update",
	"UPDATE ra_application SET status = 'approved', agreed_at = NULL, "
	"order_id = NULL WHERE id = $1 AND status = 'agreed' AND order_id = $2",
	2
};
/* A rekey whose old certificate can no longer be rekeyed: cancelled. */
static const struct db_stmt stmt_reopen_cancel = {
	"ra_notifier_reopen_cancel",
	"UPDATE ra_application SET status = 'cancelled' WHERE id = $1 AND "
	"status = 'agreed' AND order_id = $2",
	2
};

struct ra_reopen_txn {
	const char	*id;
	int		 done;
	int		 cancelled;	/* not reopened: ra_reopen_cancel */
	char		 order[24];	/* the failed one */
};

/*
 * A rekey (res, a stmt_reopen_lock row) back to its agreement could not be
 * agreed to: the certificate it replaces was revoked (not as its CA's
 * compromise) or expired while its order was in flight, and the agreement
 * refuses that (certificate.c). Asking to "agree again" sent the
 * subscriber to a 409 and left the application approved, holding the
 * account's one open application. It is cancelled instead, audited
 * ra.application.cancel (actor ra:notifier) and the subscriber told the
 * next step, a new application with a new KYC. 0 or -1.
 */
static int
ra_reopen_cancel(struct ra_reopen_txn *t, struct db *db, PGresult *res)
{
	const char *v[2] = { t->id, t->order };
	const char *why = PQgetvalue(res, 0, RO_PREVIOUS_WHY);
	char subject[128], body[2048];
	PGresult *res2;
	json_t *details = NULL;
	int rc = -1;

	if ((res2 = db_exec(db, &stmt_reopen_cancel, v, NULL, NULL)) == NULL ||
	    strcmp(PQcmdTuples(res2), "1") != 0)
		goto out;
	if ((details = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
	    "s:s, s:s, s:s, s:s}", "account_id", PQgetvalue(res, 0,
	    RO_ACCOUNT), "from", "agreed", "kind", PQgetvalue(res, 0, RO_KIND),
	    "profile", PQgetvalue(res, 0, RO_PROFILE), "failed_order_id",
	    t->order, "order_error", PQgetvalue(res, 0, RO_ORDER_ERROR),
	    "issuer_id", PQgetvalue(res, 0, RO_ISSUER_ID), "issuer",
	    PQgetvalue(res, 0, RO_ISSUER), "because", PQgetvalue(res, 0,
	    RO_BECAUSE), "previous_certificate_id", PQgetvalue(res, 0,
	    RO_PREVIOUS), "previous_serial", PQgetvalue(res, 0,
	    RO_PREVIOUS_SERIAL), "previous", why)) == NULL ||
	    audit_append(db, RA_NOTIFIER_ACTOR, "ra.application.cancel",
	    "ra_application", t->id, details, NULL) == -1)
		goto out;
	snprintf(subject, sizeof(subject), "Your certificate application %s "
	    "was cancelled", t->id);
	snprintf(body, sizeof(body), "Your new certificate was not issued: the "
	    "issuing CA your agreement named,\r\n\r\n  %s,\r\n\r\n%s and will "
	    "issue no certificate again.\r\n\r\nThe certificate this rekey "
	    "(application %s) was to replace, serial %s, %s meanwhile, so it "
	    "can no longer be rekeyed: the application is cancelled. To get a "
	    "certificate, apply again with a new e-KTP photo and selfie (POST "
	    "/v1/applications).\r\n", PQgetvalue(res, 0, RO_ISSUER),
	    PQgetvalue(res, 0, RO_BECAUSE), t->id, PQgetvalue(res, 0,
	    RO_PREVIOUS_SERIAL), strcmp(why, "expired") == 0 ? "has expired" :
	    "was revoked");
	if (ra_mail_addr_ok(PQgetvalue(res, 0, RO_EMAIL)) == -1)
		log_warn("notifier: application %s: the account's address "
		    "cannot be mailed; cancelled without a mail", t->id);
	else if (ra_mail_queue(db, PQgetvalue(res, 0, RO_EMAIL), subject,
	    body) == -1)
		goto out;
	t->cancelled = 1;
	rc = 0;
out:
	json_decref(details);
	PQclear(res2);
	return rc;
}

static int
ra_reopen_txn(struct db *db, void *arg)
{
	struct ra_reopen_txn *t = arg;
	const char *v[2], *prev_why;
	char min[24], subject[128], body[2048], deadline[256] = "";
	PGresult *res = NULL, *res2 = NULL;
	json_t *details = NULL;
	int rc = -1;

	t->done = t->cancelled = 0;
	snprintf(min, sizeof(min), "%d", RA_ISSUER_MIN_REMAINING_S);
	v[0] = min;
	v[1] = t->id;
	if ((res = db_exec(db, &stmt_reopen_lock, v, NULL, NULL)) == NULL ||
	    PQnfields(res) != RO_NCOLS)
		goto out;
	if (PQntuples(res) != 1) {
		rc = 0;		/* another rad did it, or it changed */
		goto out;
	}
	snprintf(t->order, sizeof(t->order), "%s", PQgetvalue(res, 0, RO_ORDER));
	/* A rekey: agreed to again only while its old certificate stands. */
	prev_why = PQgetvalue(res, 0, RO_PREVIOUS_WHY);
	if (strcmp(prev_why, "on hold") == 0) {
		rc = 0;		/* put on hold since the round's query */
		goto out;
	}
	if (prev_why[0] != '\0') {
		if (ra_reopen_cancel(t, db, res) == -1)
			goto out;
		t->done = 1;
		rc = 0;
		goto out;
	}
	if (PQgetvalue(res, 0, RO_PREVIOUS)[0] != '\0')
		snprintf(deadline, sizeof(deadline), "\r\nAgree before %s, when "
		    "the certificate this rekey replaces (serial %s) expires: "
		    "after that, only a new application with a new e-KTP photo "
		    "and selfie is left.\r\n", PQgetvalue(res, 0,
		    RO_PREVIOUS_NOT_AFTER), PQgetvalue(res, 0,
		    RO_PREVIOUS_SERIAL));
	v[0] = t->id;
	v[1] = t->order;
	if ((res2 = db_exec(db, &stmt_reopen_update, v, NULL, NULL)) == NULL ||
	    strcmp(PQcmdTuples(res2), "1") != 0)
		goto out;
	if ((details = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "account_id",
	    PQgetvalue(res, 0, RO_ACCOUNT), "failed_order_id", t->order,
	    "order_error", PQgetvalue(res, 0, RO_ORDER_ERROR), "issuer_id",
	    PQgetvalue(res, 0, RO_ISSUER_ID), "issuer", PQgetvalue(res, 0,
	    RO_ISSUER), "because", PQgetvalue(res, 0, RO_BECAUSE))) == NULL ||
	    audit_append(db, RA_NOTIFIER_ACTOR, "ra.application.reopen",
	    "ra_application", t->id, details, NULL) == -1)
		goto out;
	snprintf(subject, sizeof(subject), "Your certificate application %s: "
	    "please agree again", t->id);
	snprintf(body, sizeof(body), "Your certificate was not issued: the "
	    "issuing CA your agreement named,\r\n\r\n  %s,\r\n\r\n%s and will "
	    "issue no certificate again.\r\n\r\nYour application (%s) stays "
	    "approved: you need not apply again nor send your e-KTP photo and "
	    "selfie again. Review the certificate to be issued, now under our "
	    "current issuing CA (GET /v1/applications/%s/agreement), and agree "
	    "to it again with your second factor. You may also cancel the "
	    "application.\r\n%s", PQgetvalue(res, 0, RO_ISSUER),
	    PQgetvalue(res, 0, RO_BECAUSE), PQgetvalue(res, 0, RO_KIND), t->id,
	    deadline);
	/* Queued in this transaction (schema/033), as the issued mail. */
	if (ra_mail_addr_ok(PQgetvalue(res, 0, RO_EMAIL)) == -1)
		log_warn("notifier: application %s: the account's address "
		    "cannot be mailed; back to approved without a mail", t->id);
	else if (ra_mail_queue(db, PQgetvalue(res, 0, RO_EMAIL), subject,
	    body) == -1)
		goto out;
	t->done = 1;
	rc = 0;
out:
	json_decref(details);
	PQclear(res2);
	PQclear(res);
	return rc;
}

static int
ra_reopen_finished(const void *arg)
{
	const struct ra_reopen_txn *t = arg;

	if (!t->done)
		return 0;
	if (t->cancelled)
		log_info("notifier: application %s: its order %s failed under "
		    "an issuing CA that will not issue again, and the "
		    "certificate this rekey replaces can no longer be "
		    "rekeyed; cancelled, the subscriber told to apply again",
		    t->id, t->order);
	else
		log_info("notifier: application %s: its order %s failed under "
		    "an issuing CA that will not issue again; approved again, "
		    "the subscriber asked to agree again", t->id, t->order);
	return 1;
}

int
ra_notifier_reopen(struct ra *ra, struct db *db)
{
	static const struct ra_sweep sweep = { "application",
	    "not returned to its subscriber's agreement", ra_reopen_txn,
	    ra_reopen_finished, sizeof(struct ra_reopen_txn), 1,
	    { offsetof(struct ra_reopen_txn, id) } };
	struct ra_reopen_txn t;
	const char *v[1];
	char min[24];
	PGresult *res;

	(void)ra;
	snprintf(min, sizeof(min), "%d", RA_ISSUER_MIN_REMAINING_S);
	v[0] = min;
	if ((res = db_exec(db, &stmt_reopen_due, v, NULL, NULL)) == NULL)
		return -1;
	return ra_sweep(db, res, &sweep, &t);
}

/* --- a submitted or approved rekey whose old certificate fell: cancelled -------- */

/*
 * Rekeys, submitted or approved, whose old certificate can no longer be
 * rekeyed: revoked (not as its CA's compromise under a revoked issuer) or
 * expired since it was requested (RA_REKEY_PREVIOUS_WHY, as the approval
 * and the agreement judge). The approval (review.c) and the agreement
 * refuse them (409) and nothing else ends them: an approved one held its
 * account's one open application for ever, and a submitted one sat in the
 * officers' queue, where no officer could approve it, until one rejected
 * it by hand. One on hold waits: released, it may be approved or agreed
 * to; made a revocation, it is cancelled here. Through ra_application_open
 * (schema/018): only open applications are read.
 */
static const struct db_stmt stmt_lapse_due = {
	"ra_notifier_lapse_due",
	"SELECT a.id FROM ra_application a JOIN certificate p ON p.id = "
	"a.previous_certificate_id WHERE a.status IN ('submitted', "
	"'approved') AND a.profile <> 'company' AND ("
	RA_REKEY_PREVIOUS_WHY("p") ") IN ('revoked', 'expired') ORDER BY a.id "
	"LIMIT " RA_NOTIFIER_BATCH_S,
	0
};
/*
 * $1, still submitted or approved, locked as the decision, the agreement
 * and a cancellation lock it (whichever comes second finds what the first
 * left); why its old certificate can no longer be rekeyed, final (a
 * revocation but a hold's, an expiry), so read without a lock.
 */
static const struct db_stmt stmt_lapse_lock = {
	"ra_notifier_lapse_lock",
	"SELECT a.account_id, a.kind, a.profile, p.id, p.serial, "
	"coalesce(" RA_REKEY_PREVIOUS_WHY("p") ", ''), CASE WHEN "
	"p.revoked_at IS NOT NULL THEN 'was revoked at ' || "
	RA_TS("p.revoked_at") " ELSE 'expired at ' || " RA_TS("p.not_after")
	" END, acc.email, a.status FROM ra_application a JOIN certificate p "
	"ON p.id = a.previous_certificate_id JOIN ra_account acc ON acc.id = "
	"a.account_id WHERE a.id = $1 AND a.status IN ('submitted', "
	"'approved') FOR UPDATE OF a",
	1
};
enum {
	RL_ACCOUNT, RL_KIND, RL_PROFILE, RL_PREVIOUS, RL_PREVIOUS_SERIAL,
	RL_PREVIOUS_WHY, RL_WHEN, RL_EMAIL, RL_STATUS, RL_NCOLS
};
/* $2: the status read under the lock. */
static const struct db_stmt stmt_lapse_cancel = {
	"ra_notifier_lapse_cancel",
	"UPDATE ra_application SET status = 'cancelled' WHERE id = $1 AND "
	"status = $2",
	2
};

struct ra_lapse_txn {
	const char	*id;
	int		 done;
	char		 why[RA_REKEY_WHY_MAX];
	char		 from[16];	/* submitted, approved */
};

static int
ra_lapse_txn(struct db *db, void *arg)
{
	struct ra_lapse_txn *t = arg;
	const char *v[2] = { t->id, NULL };
	const char *why;
	char subject[128], body[2048];
	PGresult *res = NULL, *res2 = NULL;
	json_t *details = NULL;
	int approved, rc = -1;

	t->done = 0;
	t->why[0] = t->from[0] = '\0';
	if ((res = db_exec(db, &stmt_lapse_lock, v, NULL, NULL)) == NULL ||
	    PQnfields(res) != RL_NCOLS)
		goto out;
	why = PQntuples(res) == 1 ? PQgetvalue(res, 0, RL_PREVIOUS_WHY) : "";
	/* Decided, agreed to, cancelled, or (a hold) not final: none of ours. */
	if (strcmp(why, "revoked") != 0 && strcmp(why, "expired") != 0) {
		rc = 0;
		goto out;
	}
	snprintf(t->why, sizeof(t->why), "%s", why);
	snprintf(t->from, sizeof(t->from), "%s", PQgetvalue(res, 0,
	    RL_STATUS));
	approved = strcmp(t->from, "approved") == 0;
	v[1] = t->from;
	if ((res2 = db_exec(db, &stmt_lapse_cancel, v, NULL, NULL)) == NULL ||
	    strcmp(PQcmdTuples(res2), "1") != 0)
		goto out;
	if ((details = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "account_id", PQgetvalue(res, 0, RL_ACCOUNT), "from", t->from,
	    "kind", PQgetvalue(res, 0, RL_KIND), "profile", PQgetvalue(res, 0,
	    RL_PROFILE), "previous_certificate_id", PQgetvalue(res, 0,
	    RL_PREVIOUS), "previous_serial", PQgetvalue(res, 0,
	    RL_PREVIOUS_SERIAL), "previous", why)) == NULL ||
	    audit_append(db, RA_NOTIFIER_ACTOR, "ra.application.cancel",
	    "ra_application", t->id, details, NULL) == -1)
		goto out;
	snprintf(subject, sizeof(subject), "Your certificate application %s "
	    "was cancelled", t->id);
	snprintf(body, sizeof(body), "Your rekey (application %s) was %s, "
	    "but the certificate it was to replace, serial %s, %s before %s, "
	    "so it can no longer be rekeyed: the application is cancelled, "
	    "and your account may apply again. To get a certificate, apply "
	    "again with a new e-KTP photo and selfie (POST "
	    "/v1/applications).\r\n", t->id, approved ? "approved" :
	    "submitted", PQgetvalue(res, 0, RL_PREVIOUS_SERIAL),
	    PQgetvalue(res, 0, RL_WHEN), approved ? "you agreed to the new "
	    "one" : "an officer decided on it");
	/* Queued in this transaction (schema/033), as the issued mail. */
	if (ra_mail_addr_ok(PQgetvalue(res, 0, RL_EMAIL)) == -1)
		log_warn("notifier: application %s: the account's address "
		    "cannot be mailed; cancelled without a mail", t->id);
	else if (ra_mail_queue(db, PQgetvalue(res, 0, RL_EMAIL), subject,
	    body) == -1)
		goto out;
	t->done = 1;
	rc = 0;
out:
	json_decref(details);
	PQclear(res2);
	PQclear(res);
	return rc;
}

static int
ra_lapse_finished(const void *arg)
{
	const struct ra_lapse_txn *t = arg;

	if (!t->done)
		return 0;
	log_info("notifier: application %s: a %s rekey whose old certificate "
	    "%s; cancelled, the subscriber told to apply again", t->id,
	    t->from, strcmp(t->why, "expired") == 0 ? "expired" :
	    "was revoked");
	return 1;
}

int
ra_notifier_lapse(struct ra *ra, struct db *db)
{
	static const struct ra_sweep sweep = { "rekey",
	    "its old certificate can no longer be rekeyed; not cancelled",
	    ra_lapse_txn, ra_lapse_finished, sizeof(struct ra_lapse_txn), 1,
	    { offsetof(struct ra_lapse_txn, id) } };
	struct ra_lapse_txn t;
	PGresult *res;

	(void)ra;
	if ((res = db_exec(db, &stmt_lapse_due, NULL, NULL, NULL)) == NULL)
		return -1;
	return ra_sweep(db, res, &sweep, &t);
}

/* --- a company's revocation request on a certificate that expired ---------- */

/*
 * Pending revocation requests (schema/018) whose certificate expired
 * unrevoked: there is nothing left to revoke. Until 2026-12-07 such a
 * request stayed in the officers' queue for ever; an officer could only
 * revoke an expired certificate or reject the request falsely.
 */
static const struct db_stmt stmt_request_expired_due = {
	"ra_notifier_request_expired_due",
	"SELECT q.id FROM ra_revocation_request q JOIN certificate c ON "
	"c.id = q.certificate_id WHERE q.status = 'pending' AND "
	"c.not_after <= now() ORDER BY q.id LIMIT " RA_NOTIFIER_BATCH_S,
	0
};
/*
 * Its certificate locked first: the order of a revocation and schema/079's
 * trigger (certificate, then request), which an officer's decision takes
 * too, so that none of them deadlocks.
 */
static const struct db_stmt stmt_request_expired_lock = {
	"ra_notifier_request_expired_lock",
	"SELECT c.id FROM ra_revocation_request q JOIN certificate c ON "
	"c.id = q.certificate_id WHERE q.id = $1 FOR UPDATE OF c",
	1
};
/*
 * Closed as moot, as schema/079 closes one whose certificate was revoked;
 * by the sweep and by an officer's decision (ra_revreq_expired_close).
 */
static const struct db_stmt stmt_request_expired_moot = {
	"ra_revreq_expired_moot",
	"UPDATE ra_revocation_request q SET status = 'moot', decided_at = now(), "
	"decision_reason = 'the certificate expired (' || " RA_TS("c.not_after")
	" || ') unrevoked while the request waited: nothing is left to "
	"revoke' FROM certificate c WHERE q.id = $1 AND q.status = 'pending' "
	"AND c.id = q.certificate_id AND c.not_after <= now() "
	"RETURNING c.id, c.serial, q.company_id, " RA_TS("c.not_after") ", "
	"q.reason",
	1
};

int
ra_revreq_expired_close(struct db *db, const char *id, const char *actor,
    const char *client, int *done)
{
	const char *v[1] = { id };
	PGresult *res = NULL;
	json_t *details = NULL;
	int rc = -1;

	*done = 0;
	if ((res = db_exec(db, &stmt_request_expired_moot, v, NULL, NULL)) ==
	    NULL || PQnfields(res) != 5)
		goto out;
	if (PQntuples(res) != 1) {
		rc = 0;		/* decided, moved or revoked since */
		goto out;
	}
	if ((details = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}",
	    "certificate_id", PQgetvalue(res, 0, 0), "serial", PQgetvalue(res,
	    0, 1), "company_id", PQgetvalue(res, 0, 2), "reason", "expired",
	    "not_after", PQgetvalue(res, 0, 3), "requested_reason",
	    PQgetvalue(res, 0, 4))) == NULL || (client != NULL &&
	    json_object_set_new(details, "client", json_string(client)) ==
	    -1) || audit_append(db, actor, "ra.revocation_request.moot",
	    "ra_revocation_request", id, details, NULL) == -1)
		goto out;
	*done = 1;
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

struct ra_request_expired_txn {
	const char	*id;
	int		 done;
};

static int
ra_request_expired_txn(struct db *db, void *arg)
{
	struct ra_request_expired_txn *t = arg;
	const char *v[1] = { t->id };
	PGresult *res;

	t->done = 0;
	if ((res = db_exec(db, &stmt_request_expired_lock, v, NULL, NULL)) ==
	    NULL)
		return -1;
	PQclear(res);
	return ra_revreq_expired_close(db, t->id, RA_NOTIFIER_ACTOR, NULL,
	    &t->done);
}

static int
ra_request_expired_finished(const void *arg)
{
	const struct ra_request_expired_txn *t = arg;

	if (t->done)
		log_info("notifier: revocation request %s: its certificate "
		    "expired unrevoked; closed as moot", t->id);
	return t->done;
}

int
ra_notifier_requests_expired(struct ra *ra, struct db *db)
{
	static const struct ra_sweep sweep = { "revocation request",
	    "its certificate expired; not closed", ra_request_expired_txn,
	    ra_request_expired_finished,
	    sizeof(struct ra_request_expired_txn), 1,
	    { offsetof(struct ra_request_expired_txn, id) } };
	struct ra_request_expired_txn t;
	PGresult *res;

	(void)ra;
	if ((res = db_exec(db, &stmt_request_expired_due, NULL, NULL,
	    NULL)) == NULL)
		return -1;
	return ra_sweep(db, res, &sweep, &t);
}

/* --- expiry reminders (schema/032) ------------------------------------------- */

/*
 * Certificate c (of application a) is not being rekeyed nor was (a rekey
 * application in any state but rejected or cancelled), and not of a
 * deactivated company: "rekey it" would be no news, or refused. Checked
 * when a row is listed as due and again in its transaction, with its
 * record: until 2026-12-07 only the listing did, and a rekey submitted in
 * between still got its "rekey before ..." mail.
 */
#define RA_NOTIFY_STILL_DUE(c, a) \
	"NOT EXISTS (SELECT 1 FROM ra_application p WHERE " \
	"p.previous_certificate_id = " c ".id AND p.status IN ('submitted', " \
	"'approved', 'agreed', 'issued')) AND " \
	"coalesce(ra_company_active(ra_application_company(" a ".id)), true)"
/*
 * Reminders only: c's account (a's) has no open application (rekey would
 * be refused) nor a later certificate of the same profile (a
 * re-application issued).
 */
#define RA_REMIND_STILL_DUE(c, a) \
	RA_NOTIFY_STILL_DUE(c, a) " AND " \
	"NOT EXISTS (SELECT 1 FROM ra_application p WHERE " \
	"p.account_id = " a ".account_id AND p.status IN ('submitted', " \
	"'approved', 'agreed') AND p.profile <> 'company') AND " \
	"NOT EXISTS (SELECT 1 FROM ra_application p " \
	"JOIN issuance_order o2 ON o2.id = p.order_id " \
	"JOIN certificate c2 ON c2.id = o2.certificate_id " \
	"WHERE p.account_id = " a ".account_id AND p.profile = " a ".profile " \
	"AND c2.id <> " c ".id AND c2.revoked_at IS NULL AND " \
	"c2.not_after > " c ".not_after)"

/*
 * Issued certificates within one of $1 (rekey.reminder_days) of expiry,
 * valid, not being rekeyed (a rekey application in any state but
 * rejected or cancelled), whose account has no open application (rekey
 * would be refused) nor a later certificate of the same profile (a
 * re-application issued), not of a deactivated company, and not yet
 * reminded at that count or a smaller one; per certificate the smallest
 * count reached, so that one issued late gets only the nearest reminder.
 * The nearest expiry first: a batch that does not hold all of them (the
 * round after a full one takes the rest) leaves the later ones waiting;
 * until 2026-12-07 it was by id, one batch per period, and certificates
 * expiring together beyond the first hundred waited the next period, or
 * expired unreminded.
 */
static const struct db_stmt stmt_remind_due = {
	"ra_notifier_remind_due",
	"SELECT id, days FROM (SELECT DISTINCT ON (c.id) c.id, d.days, "
	"c.not_after FROM ra_application a "
	"JOIN issuance_order o ON o.id = a.order_id "
	"JOIN certificate c ON c.id = o.certificate_id "
	"CROSS JOIN unnest($1::int[]) AS d(days) "
	"WHERE a.status = 'issued' AND (" RA_REKEY_PREVIOUS_WHY("c") ") IS "
	"NULL AND c.not_after > now() AND "
	/* The range certificate_not_after (schema/004) can serve. */
	"c.not_after <= now() + make_interval(days => (SELECT max(x) FROM "
	"unnest($1::int[]) x)) AND "
	"c.not_after <= now() + make_interval(days => d.days) AND "
	"NOT EXISTS (SELECT 1 FROM ra_expiry_reminder r WHERE "
	"r.certificate_id = c.id AND r.days <= d.days) AND "
	RA_REMIND_STILL_DUE("c", "a") " "
	"ORDER BY c.id, d.days) due "
	"ORDER BY not_after, id LIMIT " RA_NOTIFIER_BATCH_S,
	1
};
/* Recorded once, whichever rad gets there first; still valid and due. */
static const struct db_stmt stmt_remind_insert = {
	"ra_notifier_remind_insert",
	"INSERT INTO ra_expiry_reminder (certificate_id, days) SELECT c.id, "
	"$2::int FROM ra_application a "
	"JOIN issuance_order o ON o.id = a.order_id "
	"JOIN certificate c ON c.id = o.certificate_id "
	"WHERE c.id = $1 AND a.status = 'issued' AND ("
	RA_REKEY_PREVIOUS_WHY("c") ") IS NULL AND "
	RA_REMIND_STILL_DUE("c", "a") " ON CONFLICT DO NOTHING "
	"RETURNING certificate_id",
	2
};
/*
 * The certificate reminded of; its issuing CA's subject and revocation
 * ("" but when revoked for good: the reminder says so, and to rekey now).
 */
static const struct db_stmt stmt_remind_certificate = {
	"ra_notifier_remind_certificate",
	"SELECT c.serial, c.subject, " RA_TS("c.not_after") ", acc.email, "
	"ceil(extract(epoch FROM c.not_after - now()) / 86400)::int, "
	"i.subject, coalesce(" RA_TS("x.revoked_at") ", '') "
	"FROM certificate c JOIN ca_certificate i ON i.id = c.issuer_id "
	"LEFT JOIN certificate x ON x.issuer_id = i.issuer_id AND "
	"x.serial = i.serial AND x.revoked_at IS NOT NULL AND "
	"x.revocation_reason <> 6 "
	"JOIN issuance_order o ON o.certificate_id = c.id "
	"JOIN ra_application a ON a.order_id = o.id "
	"JOIN ra_account acc ON acc.id = a.account_id WHERE c.id = $1",
	1
};

struct ra_remind_txn {
	const char	*certificate_id;
	const char	*days;
	int		 sent;
};

static int
ra_remind_txn(struct db *db, void *arg)
{
	struct ra_remind_txn *t = arg;
	const char *v[2], *issuer_revoked;
	char subject[128], body[4096], revoked[1024] = "", dn[1024];
	PGresult *res = NULL, *ins = NULL;
	json_t *details = NULL;
	int rc = -1;

	t->sent = 0;
	v[0] = t->certificate_id;
	v[1] = t->days;
	if ((res = db_exec(db, &stmt_remind_certificate, v, NULL, NULL)) ==
	    NULL || PQntuples(res) != 1 || PQnfields(res) != 7 ||
	    (ins = db_exec(db, &stmt_remind_insert, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(ins) != 1) {
		rc = 0;		/* another rad did, or it was revoked */
		goto out;
	}
	issuer_revoked = PQgetvalue(res, 0, 6);
	if ((details = json_pack("{s:s, s:s, s:s, s:s}", "serial",
	    PQgetvalue(res, 0, 0), "not_after", PQgetvalue(res, 0, 2),
	    "reminder_days", t->days, "days_left", PQgetvalue(res, 0, 4))) ==
	    NULL || (issuer_revoked[0] != '\0' && json_object_set_new(details,
	    "issuer_revoked_at", json_string(issuer_revoked)) == -1) ||
	    audit_append(db, RA_NOTIFIER_ACTOR,
	    "ra.certificate.expiry_reminder", "certificate", t->certificate_id,
	    details, NULL) == -1)
		goto out;
	/*
	 * Its issuing CA revoked (schema/090's notice told of it): it no
	 * longer validates, and is to be rekeyed now, not "before expiry".
	 */
	if (issuer_revoked[0] != '\0')
		snprintf(revoked, sizeof(revoked), " It no longer validates "
		    "already: the certificate of the CA that issued it,\r\n"
		    "\r\n  %s,\r\n\r\nwas revoked on %s, and no relying party "
		    "accepts a signature made with it.", PQgetvalue(res, 0, 5),
		    issuer_revoked);
	snprintf(subject, sizeof(subject), "Your certificate expires in %s "
	    "day(s)%s", PQgetvalue(res, 0, 4), revoked[0] != '\0' ? "; its "
	    "issuing CA was revoked: rekey it now" : "");
	ra_mask_dn(PQgetvalue(res, 0, 1), dn, sizeof(dn));
	snprintf(body, sizeof(body), "Your certificate\r\n\r\n  Subject: %s\r\n"
	    "  Serial:  %s\r\n\r\nexpires at %s, in %s day(s).%s\r\n\r\n"
	    "Rekey it %s (My certificates, or POST /v1/certificates/%s/rekey, "
	    "authorized by a second factor): %sthe new certificate keeps your "
	    "verified identity. After it expires, only a new application with "
	    "a new e-KTP photo and selfie is left.\r\n", dn,
	    PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 4),
	    revoked, revoked[0] != '\0' ? "now" : "before then",
	    t->certificate_id, revoked[0] != '\0' ? "no new KYC is needed, "
	    "and " : "");
	/*
	 * Queued with its record: the outbox retries a failed send. An address
	 * that cannot be mailed gets none, recorded all the same (as the other
	 * sweeps do): until 2026-12-07 its transaction failed, and the
	 * certificate came back first every period, for ever.
	 */
	if (ra_mail_addr_ok(PQgetvalue(res, 0, 3)) == -1)
		log_warn("notifier: certificate %s: the account's address "
		    "cannot be mailed; its expiry reminder recorded without a "
		    "mail", t->certificate_id);
	else if (ra_mail_queue(db, PQgetvalue(res, 0, 3), subject, body) == -1)
		goto out;
	t->sent = 1;
	rc = 0;
out:
	json_decref(details);
	PQclear(ins);
	PQclear(res);
	return rc;
}

static int
ra_remind_finished(const void *arg)
{
	const struct ra_remind_txn *t = arg;

	if (t->sent)
		log_info("notifier: certificate %s: expiry reminder (%s days) "
		    "sent", t->certificate_id, t->days);
	return t->sent;
}

/*
 * One round of reminders; how many were sent, or -1. *more: a full batch
 * was due.
 */
int
ra_notifier_remind(struct ra *ra, struct db *db, int *more)
{
	static const struct ra_sweep sweep = { "certificate",
	    "no expiry reminder sent", ra_remind_txn, ra_remind_finished,
	    sizeof(struct ra_remind_txn), 2,
	    { offsetof(struct ra_remind_txn, certificate_id),
	    offsetof(struct ra_remind_txn, days) } };
	struct ra_remind_txn t;
	const char *v[1];
	PGresult *res;

	*more = 0;
	if (strcmp(ra->policy->rekey_reminder_days, "{}") == 0)
		return 0;
	v[0] = ra->policy->rekey_reminder_days;
	if ((res = db_exec(db, &stmt_remind_due, v, NULL, NULL)) == NULL)
		return -1;
	*more = PQntuples(res) >= atoi(RA_NOTIFIER_BATCH_S);
	return ra_sweep(db, res, &sweep, &t);
}

/* --- the issuing CA revoked: its subscribers told once (schema/090) --------- */

/*
 * The issuing CA i of certificate c revoked for good: its own certificate x
 * revoked, any reason but certificateHold (as cad's claim and
 * RA_CERT_ISSUER_REVOKED read it). No relying party accepts c then, however
 * far from its notAfter, and c may be rekeyed at once (certificate.c).
 */
#define RA_NOTICE_ISSUER_JOIN \
	"JOIN certificate x ON x.issuer_id = i.issuer_id AND " \
	"x.serial = i.serial AND x.revoked_at IS NOT NULL AND " \
	"x.revocation_reason <> 6 "
/*
 * Certificates of a revoked issuing CA that an application led to and that
 * may be rekeyed now (RA_REKEY_PREVIOUS_WHY: valid, or revoked by the CA as
 * cACompromise; not on hold, expired or revoked otherwise), not yet told,
 * not being nor already rekeyed (a rekey application in any state but
 * rejected or cancelled: "rekey now" would be no news), not of a
 * deactivated company. Driven by the few revoked CAs and the index of
 * their certificates (certificate's UNIQUE (issuer_id, serial)).
 */
static const struct db_stmt stmt_notice_due = {
	"ra_notifier_notice_due",
	"SELECT c.id FROM ca_certificate i " RA_NOTICE_ISSUER_JOIN
	"JOIN certificate c ON c.issuer_id = i.id "
	"JOIN issuance_order o ON o.certificate_id = c.id "
	"JOIN ra_application a ON a.order_id = o.id "
	"WHERE a.status = 'issued' AND (" RA_REKEY_PREVIOUS_WHY("c") ") IS "
	"NULL AND "
	/*
	 * Implied by the line above, but lets the index (issuer_id,
	 * not_after) of schema/092 skip the revoked CA's expired
	 * certificates: until 2026-12-07 each period scanned every
	 * certificate it ever issued, for ever.
	 */
	"c.not_after > now() AND NOT EXISTS (SELECT 1 FROM "
	"ra_issuer_revoked_notice n WHERE n.certificate_id = c.id) AND "
	RA_NOTIFY_STILL_DUE("c", "a") " "
	"ORDER BY c.id LIMIT " RA_NOTIFIER_BATCH_S,
	0
};
/* $1 as the notice tells of it, still to be rekeyed now. */
static const struct db_stmt stmt_notice_certificate = {
	"ra_notifier_notice_certificate",
	"SELECT c.serial, c.subject, " RA_TS("c.not_after") ", acc.email, "
	"i.subject, " RA_TS("x.revoked_at") ", x.revocation_reason, "
	"a.account_id FROM certificate c JOIN ca_certificate i ON i.id = "
	"c.issuer_id " RA_NOTICE_ISSUER_JOIN
	"JOIN issuance_order o ON o.certificate_id = c.id "
	"JOIN ra_application a ON a.order_id = o.id "
	"JOIN ra_account acc ON acc.id = a.account_id "
	"WHERE c.id = $1 AND a.status = 'issued' AND ("
	RA_REKEY_PREVIOUS_WHY("c") ") IS NULL AND "
	RA_NOTIFY_STILL_DUE("c", "a"),
	1
};
enum {
	RN_SERIAL, RN_SUBJECT, RN_NOT_AFTER, RN_EMAIL, RN_ISSUER,
	RN_ISSUER_REVOKED_AT, RN_ISSUER_REASON, RN_ACCOUNT, RN_NCOLS
};
/* Recorded once, whichever rad gets there first (its primary key). */
static const struct db_stmt stmt_notice_insert = {
	"ra_notifier_notice_insert",
	"INSERT INTO ra_issuer_revoked_notice (certificate_id) VALUES ($1) "
	"ON CONFLICT DO NOTHING RETURNING certificate_id",
	1
};

struct ra_notice_txn {
	const char	*certificate_id;
	int		 sent;
};

static int
ra_notice_txn(struct db *db, void *arg)
{
	struct ra_notice_txn *t = arg;
	const char *v[1] = { t->certificate_id };
	const char *reason;
	char body[2048], dn[1024];
	PGresult *res = NULL, *ins = NULL;
	json_t *details = NULL;
	int rc = -1;

	t->sent = 0;
	if ((res = db_exec(db, &stmt_notice_certificate, v, NULL, NULL)) ==
	    NULL || PQnfields(res) != RN_NCOLS)
		goto out;
	if (PQntuples(res) != 1) {
		rc = 0;		/* revoked, held, rekeyed or deactivated since */
		goto out;
	}
	if ((ins = db_exec(db, &stmt_notice_insert, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(ins) != 1) {
		rc = 0;		/* another rad did */
		goto out;
	}
	reason = ra_revocation_reason_name(atoi(PQgetvalue(res, 0,
	    RN_ISSUER_REASON)));
	if ((details = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "serial",
	    PQgetvalue(res, 0, RN_SERIAL), "not_after", PQgetvalue(res, 0,
	    RN_NOT_AFTER), "account_id", PQgetvalue(res, 0, RN_ACCOUNT),
	    "issuer", PQgetvalue(res, 0, RN_ISSUER), "issuer_revoked_at",
	    PQgetvalue(res, 0, RN_ISSUER_REVOKED_AT), "issuer_reason",
	    reason)) == NULL || audit_append(db, RA_NOTIFIER_ACTOR,
	    "ra.certificate.issuer_revoked", "certificate", t->certificate_id,
	    details, NULL) == -1)
		goto out;
	ra_mask_dn(PQgetvalue(res, 0, RN_SUBJECT), dn, sizeof(dn));
	snprintf(body, sizeof(body), "Your certificate\r\n\r\n  Subject: %s\r\n"
	    "  Serial:  %s\r\n  Valid until: %s\r\n\r\nno longer validates: "
	    "the certificate of the CA that issued it,\r\n\r\n  %s,\r\n\r\n"
	    "was revoked on %s (%s). No relying party accepts a signature "
	    "made with your certificate now, although it has not expired.\r\n"
	    "\r\nRekey it now (My certificates, or POST "
	    "/v1/certificates/%s/rekey, authorized by a second factor): no new "
	    "KYC is needed, the new certificate, from our current issuing CA, "
	    "keeps your verified identity and replaces this one. You may rekey "
	    "until %s; after that, only a new application with a new e-KTP "
	    "photo and selfie is left.\r\n", dn,
	    PQgetvalue(res, 0, RN_SERIAL), PQgetvalue(res, 0, RN_NOT_AFTER),
	    PQgetvalue(res, 0, RN_ISSUER), PQgetvalue(res, 0,
	    RN_ISSUER_REVOKED_AT), reason, t->certificate_id, PQgetvalue(res,
	    0, RN_NOT_AFTER));
	/* Queued with its record: the outbox retries a failed send. */
	if (ra_mail_addr_ok(PQgetvalue(res, 0, RN_EMAIL)) == -1)
		log_warn("notifier: certificate %s: the account's address "
		    "cannot be mailed; its issuing CA's revocation recorded "
		    "without a mail", t->certificate_id);
	else if (ra_mail_queue(db, PQgetvalue(res, 0, RN_EMAIL), "Your "
	    "certificate no longer validates: its issuing CA was revoked; "
	    "rekey it now", body) == -1)
		goto out;
	t->sent = 1;
	rc = 0;
out:
	json_decref(details);
	PQclear(ins);
	PQclear(res);
	return rc;
}

static int
ra_notice_finished(const void *arg)
{
	const struct ra_notice_txn *t = arg;

	if (t->sent)
		log_info("notifier: certificate %s: its subscriber told its "
		    "issuing CA was revoked (rekey now)", t->certificate_id);
	return t->sent;
}

int
ra_notifier_issuer_notice(struct ra *ra, struct db *db, int *more)
{
	static const struct ra_sweep sweep = { "certificate",
	    "its subscriber not told of its issuing CA's revocation",
	    ra_notice_txn, ra_notice_finished, sizeof(struct ra_notice_txn),
	    1, { offsetof(struct ra_notice_txn, certificate_id) } };
	struct ra_notice_txn t;
	PGresult *res;

	(void)ra;
	*more = 0;
	if ((res = db_exec(db, &stmt_notice_due, NULL, NULL, NULL)) == NULL)
		return -1;
	*more = PQntuples(res) >= atoi(RA_NOTIFIER_BATCH_S);
	return ra_sweep(db, res, &sweep, &t);
}

/* --- the mail outbox (schema/033) ------------------------------------------------ */

#define RA_OUTBOX_ROUND		100	/* mails a round sends at most */
#define RA_OUTBOX_BACKOFF_S	"30"	/* first retry; doubles, at most an hour */

/*
 * The next due mail; never a reset mail whose token expired or was used
 * (stmt_outbox_expire gives it up).
 */
static const struct db_stmt stmt_outbox_next = {
	"ra_notifier_outbox_next",
	"SELECT m.id, m.recipient, m.subject, m.body FROM ra_mail_outbox m "
	"WHERE m.sent_at IS NULL AND m.next_attempt_at <= now() AND NOT EXISTS "
	"(SELECT 1 FROM ra_password_reset r WHERE r.id = m.password_reset_id "
	"AND (r.used_at IS NOT NULL OR r.expires_at <= now())) "
	"ORDER BY m.next_attempt_at, m.id LIMIT 1 FOR UPDATE OF m SKIP LOCKED",
	0
};
/*
 * Reset mails (schema/048) not sent whose token expired or was used (the
 * reset, a password or email change): given up, their body (the token)
 * emptied, once each, due or not (also those given up after
 * RA_OUTBOX_ATTEMPTS); a mail another thread is sending is left to the
 * next round. Each is audited by the caller.
 */
static const struct db_stmt stmt_outbox_expire = {
	"ra_notifier_outbox_expire",
	"WITH d AS (SELECT m.id, r.id AS reset_id, r.account_id, CASE WHEN "
	"r.used_at IS NOT NULL THEN 'used' ELSE 'expired' END AS why "
	"FROM ra_mail_outbox m JOIN ra_password_reset r ON r.id = "
	"m.password_reset_id WHERE m.password_reset_id IS NOT NULL AND "
	"m.sent_at IS NULL AND m.body <> '' AND (r.used_at IS NOT NULL OR "
	"r.expires_at <= now()) FOR UPDATE OF m SKIP LOCKED) "
	"UPDATE ra_mail_outbox m SET body = '', next_attempt_at = 'infinity', "
	"last_error = 'given up: its password reset token ' || CASE WHEN "
	"d.why = 'used' THEN 'was used or voided' ELSE 'expired' END || "
	"' before it was sent' FROM d WHERE m.id = d.id "
	"RETURNING m.id, d.reset_id, d.account_id, d.why",
	0
};
/*
 * Sent: the text goes (it names the subscriber; the row stays as the record
 * of who was told what, when). clock_timestamp(): the send took time.
 */
static const struct db_stmt stmt_outbox_sent = {
	"ra_notifier_outbox_sent",
	"UPDATE ra_mail_outbox SET sent_at = clock_timestamp(), attempts = "
	"attempts + 1, last_error = NULL, body = '' WHERE id = $1",
	1
};
/*
 * Backed off; after RA_OUTBOX_ATTEMPTS the mail is given up (never due).
 * Whether it was given up now, and for its audit event (ra_outbox_given_up)
 * what it was (its subject: the notice's kind; never its body, which may
 * carry a token), the account that has its address now (NULL: none, as
 * after an email change), the attempts and the reset token's row.
 */
static const struct db_stmt stmt_outbox_failed = {
	"ra_notifier_outbox_failed",
	"UPDATE ra_mail_outbox m SET attempts = attempts + 1, "
	"last_error = CASE WHEN attempts + 1 >= " RA_OUTBOX_ATTEMPTS " THEN "
	"'given up after " RA_OUTBOX_ATTEMPTS " attempts (see rad''s log)' "
	"ELSE 'not sent (see rad''s log)' END, "
	"next_attempt_at = CASE WHEN attempts + 1 >= " RA_OUTBOX_ATTEMPTS
	" THEN 'infinity' ELSE clock_timestamp() + least(interval '1 hour', "
	"make_interval(secs => " RA_OUTBOX_BACKOFF_S " * power(2, "
	"least(attempts, 12)))) END WHERE id = $1 "
	"RETURNING m.attempts >= " RA_OUTBOX_ATTEMPTS ", m.subject, "
	"(SELECT a.id FROM ra_account a WHERE a.email = m.recipient), "
	"m.attempts, m.password_reset_id",
	1
};
enum {
	RF_GIVEN_UP, RF_SUBJECT, RF_ACCOUNT, RF_ATTEMPTS, RF_RESET, RF_NCOLS
};

struct ra_outbox_txn {
	struct ra	*ra;
	int		 found;		/* a mail was due */
	int		 failed;	/* and could not be sent */
};

/*
 * Gives up the reset mails whose token died unsent (stmt_outbox_expire),
 * each audited ra.mail.expired; how many, or -1.
 */
static int
ra_outbox_expire(struct db *db)
{
	PGresult *res;
	json_t *details = NULL;
	int i, n = -1;

	if ((res = db_exec(db, &stmt_outbox_expire, NULL, NULL, NULL)) == NULL)
		return -1;
	for (i = 0; i < PQntuples(res); i++) {
		if ((details = json_pack("{s:I, s:s, s:s}", "password_reset_id",
		    (json_int_t)strtoll(PQgetvalue(res, i, 1), NULL, 10),
		    "account_id", PQgetvalue(res, i, 2), "reason",
		    PQgetvalue(res, i, 3))) == NULL ||
		    audit_append(db, RA_NOTIFIER_ACTOR, "ra.mail.expired",
		    "ra_mail_outbox", PQgetvalue(res, i, 0), details,
		    NULL) == -1)
			goto out;
		json_decref(details);
		details = NULL;
		log_info("notifier: outbox mail %s given up unsent: its "
		    "password reset token %s %s", PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 1), strcmp(PQgetvalue(res, i, 3),
		    "used") == 0 ? "was used or voided" : "expired");
	}
	n = PQntuples(res);
out:
	json_decref(details);
	PQclear(res);
	return n;
}

/*
 * The failed send of mail id recorded (stmt_outbox_failed); when that was
 * its last attempt, it is given up and audited ra.mail.given_up (actor
 * ra:notifier) in this transaction: a revocation notice given up means
 * the subscriber was never told, and last_error alone, which no one is
 * shown, was the only record of it. 0 or -1.
 */
static int
ra_outbox_failed(struct db *db, const char *id)
{
	const char *v[1] = { id };
	PGresult *res;
	json_t *details = NULL;
	int rc = -1;

	if ((res = db_exec(db, &stmt_outbox_failed, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1 || PQnfields(res) != RF_NCOLS)
		goto out;
	if (strcmp(PQgetvalue(res, 0, RF_GIVEN_UP), "t") != 0) {
		log_warn("notifier: outbox mail %s not sent; retried later",
		    id);
		rc = 0;
		goto out;
	}
	if ((details = json_pack("{s:s, s:o, s:I, s:o}", "subject",
	    PQgetvalue(res, 0, RF_SUBJECT), "account_id",
	    PQgetisnull(res, 0, RF_ACCOUNT) ? json_null() :
	    json_integer(strtoll(PQgetvalue(res, 0, RF_ACCOUNT), NULL, 10)),
	    "attempts", (json_int_t)strtoll(PQgetvalue(res, 0, RF_ATTEMPTS),
	    NULL, 10), "password_reset_id", PQgetisnull(res, 0, RF_RESET) ?
	    json_null() : json_integer(strtoll(PQgetvalue(res, 0, RF_RESET),
	    NULL, 10)))) == NULL ||
	    audit_append(db, RA_NOTIFIER_ACTOR, "ra.mail.given_up",
	    "ra_mail_outbox", id, details, NULL) == -1)
		goto out;
	log_warn("notifier: outbox mail %s given up after %s failed "
	    "attempts: never sent", id, PQgetvalue(res, 0, RF_ATTEMPTS));
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

/*
 * Gives up the reset mails whose token died, then sends the oldest due
 * mail, recording the outcome; 0 or -1.
 */
static int
ra_outbox_txn(struct db *db, void *arg)
{
	struct ra_outbox_txn *t = arg;
	const char *v[1];
	PGresult *res;
	int rc;

	t->found = t->failed = 0;
	if (ra_outbox_expire(db) == -1)
		return -1;
	if ((res = db_exec(db, &stmt_outbox_next, NULL, NULL, NULL)) == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return 0;
	}
	t->found = 1;
	v[0] = PQgetvalue(res, 0, 0);
	t->failed = ra_mail_send(t->ra->mailer, PQgetvalue(res, 0, 1),
	    PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3)) == -1;
	rc = t->failed ? ra_outbox_failed(db, v[0]) :
	    db_exec_ok(db, &stmt_outbox_sent, v);
	PQclear(res);
	return rc;
}

/* 1 when fd (the stop pipe) says stop: its write end is closed. */
static int
ra_stopping(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	return fd != -1 && poll(&p, 1, 0) > 0 && p.revents != 0;
}

int
ra_notifier_outbox(struct ra *ra, struct db *db, int stop_fd)
{
	struct ra_outbox_txn t;
	int n = 0;

	memset(&t, 0, sizeof(t));
	t.ra = ra;
	/* Between mails, not only between rounds: each may take 30 s. */
	while (n < RA_OUTBOX_ROUND && !ra_stopping(stop_fd)) {
		if (db_transaction(db, NULL, RA_TXN_ATTEMPTS, ra_outbox_txn,
		    &t) == -1)
			return strcmp(db_last_sqlstate(db), "08006") == 0 ? -1 : n;
		/* Nothing due, or the mail server refuses: the next round. */
		if (!t.found || t.failed)
			break;
		n++;
	}
	return n;
}

static int
ra_notifier_finished(const void *arg)
{
	const struct ra_notifier_txn *t = arg;

	if (!t->done)
		return 0;
	log_info("notifier: application %s issued (serial %s)%s%s", t->id,
	    t->serial, t->superseded[0] != '\0' ? "; superseded serial " : "",
	    t->superseded);
	return 1;
}

int
ra_notifier_reconcile(struct ra *ra, struct db *db)
{
	static const struct ra_sweep sweep = { "application",
	    "not marked issued", ra_notifier_txn, ra_notifier_finished,
	    sizeof(struct ra_notifier_txn), 1,
	    { offsetof(struct ra_notifier_txn, id) } };
	struct ra_notifier_txn t;
	PGresult *res;

	(void)ra;
	if ((res = db_exec(db, &stmt_notifier_due, NULL, NULL, NULL)) == NULL)
		return -1;
	return ra_sweep(db, res, &sweep, &t);
}

/* Connects and LISTENs; 0 or -1 (logged). */
static int
ra_loop_connect(struct ra_loop *l)
{
	char err[512];

	l->last_connect = ra_mono_s();
	if ((l->db = db_connect(l->nf->conninfo, err, sizeof(err))) == NULL) {
		log_warn("%s: database: %s", l->name, err);
		return -1;
	}
	(void)db_set_timeout(l->db, RA_NOTIFIER_DB_TIMEOUT_MS);
	if (db_listen(l->db, l->listen) == -1) {
		db_close(l->db);
		l->db = NULL;
		return -1;
	}
	return 0;
}

static void
ra_loop_lost(struct ra_loop *l)
{
	if (l->db == NULL)
		return;
	log_warn("%s: lost the database connection; reconnecting", l->name);
	db_close(l->db);
	l->db = NULL;
}

/*
 * After a sweep of the issuance round (rc its result): -1 when it failed
 * with the connection lost (the loop connects anew), 0 otherwise. Any
 * other failure (a lock or statement time-out of pki_ra's, schema/058; a
 * statement refused) ends that sweep only, warned: the next ones still
 * run. Until 2026-12-07 it ended the round, the connection was dropped and
 * made anew, and one scan that kept failing (the issuer notices' under a
 * lock, say) stopped every sweep behind it, the reminders, as long as it
 * failed.
 */
static int
ra_round_step(struct db *db, const char *sweep, int rc)
{
	if (rc != -1)
		return 0;
	if (ra_db_lost(db))
		return -1;
	log_warn("notifier: the %s sweep failed (SQLSTATE %s); the next "
	    "ones run, it is tried again later", sweep,
	    db_last_sqlstate(db));
	return 0;
}

/*
 * The issuance round: reconciliation, reopening and lapses on each
 * notification, the issuing CAs' revocation notices and the expiry
 * reminders on their own period (not on each NOTIFY). -1 when the
 * connection is lost.
 */
static int
ra_notifier_round(struct ra_loop *l)
{
	struct ra_notifier *nf = l->nf;
	time_t now = ra_mono_s(), period;
	int more, rc;

	if (ra_round_step(l->db, "reconciliation", ra_notifier_reconcile(nf->ra,
	    l->db)) == -1 || ra_round_step(l->db, "reopening",
	    ra_notifier_reopen(nf->ra, l->db)) == -1 ||
	    ra_round_step(l->db, "lapse", ra_notifier_lapse(nf->ra,
	    l->db)) == -1 || ra_round_step(l->db, "expired request",
	    ra_notifier_requests_expired(nf->ra, l->db)) == -1)
		return -1;
	period = nf->interval_s > RA_REMIND_PERIOD_S ? nf->interval_s :
	    RA_REMIND_PERIOD_S;
	/*
	 * An issuing CA's revocation told to its subscribers, and the expiry
	 * reminders: scans, so on their period; a round after a full batch
	 * (a revoked CA's thousands of subscribers, certificates expiring
	 * together) until none is left. A failed scan waits a period too.
	 */
	if (now >= nf->next_notice) {
		rc = ra_notifier_issuer_notice(nf->ra, l->db, &more);
		if (ra_round_step(l->db, "issuer notice", rc) == -1)
			return -1;
		nf->next_notice = more && rc != -1 ? 0 : now + period;
	}
	if (now >= nf->next_remind) {
		rc = ra_notifier_remind(nf->ra, l->db, &more);
		if (ra_round_step(l->db, "expiry reminder", rc) == -1)
			return -1;
		nf->next_remind = more && rc != -1 ? 0 : now + period;
	}
	return 0;
}

/* The outbox round (its own thread: a slow mail server delays only mail). */
static int
ra_outbox_round(struct ra_loop *l)
{
	return ra_notifier_outbox(l->nf->ra, l->db, l->nf->stop[0]) == -1 ?
	    -1 : 0;
}

/*
 * A thread's loop: a round on every notification of its channel and every
 * interval_s; reconnects (every RA_NOTIFIER_RECONNECT_S) after a loss. Ends
 * when the stop pipe's write end is closed.
 */
static void *
ra_loop_main(void *arg)
{
	struct ra_loop *l = arg;
	struct pollfd pfd[2];
	time_t next = 0, now;
	int npfd, timeout, due;

	for (;;) {
		now = ra_mono_s();
		if (l->db == NULL && now - l->last_connect >=
		    RA_NOTIFIER_RECONNECT_S && ra_loop_connect(l) == 0) {
			log_info("%s: database connection (re)established",
			    l->name);
			next = 0;
		}
		/* Received while the last round ran: not on the socket. */
		due = l->db != NULL && db_notified(l->db) > 0;
		timeout = l->db == NULL ? RA_NOTIFIER_RECONNECT_S * 1000 :
		    due ? 0 : next > now ? (int)(next - now) * 1000 : 0;
		pfd[0].fd = l->nf->stop[0];
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		npfd = 1;
		if (l->db != NULL) {
			pfd[1].fd = PQsocket(db_conn(l->db));
			pfd[1].events = POLLIN;
			pfd[1].revents = 0;
			npfd = 2;
		}
		if (poll(pfd, (nfds_t)npfd, timeout) == -1 && errno != EINTR) {
			log_err("%s: poll: %s; the thread stops", l->name,
			    strerror(errno));
			break;
		}
		if (pfd[0].revents != 0)
			break;	/* stop: the write end was closed */
		if (l->db != NULL && npfd == 2 && pfd[1].revents != 0) {
			if (PQconsumeInput(db_conn(l->db)) != 1)
				ra_loop_lost(l);
			else if (db_notified(l->db) > 0)
				due = 1;
		}
		now = ra_mono_s();
		if (l->db != NULL && (due || now >= next)) {
			if (l->round(l) == -1)
				ra_loop_lost(l);
			if (now >= next)
				next = now + l->nf->interval_s;
		}
	}
	return NULL;
}

struct ra_notifier *
ra_notifier_start(struct ra *ra, const char *conninfo, long interval_s,
    char *err, size_t errlen)
{
	struct ra_notifier *nf = NULL;
	struct ra_loop *l;
	int i, r, rc = -1;

	if ((nf = calloc(1, sizeof(*nf))) == NULL) {
		snprintf(err, errlen, "calloc: %s", strerror(errno));
		goto out;
	}
	nf->ra = ra;
	nf->interval_s = interval_s;
	nf->stop[0] = nf->stop[1] = -1;
	if ((nf->conninfo = strdup(conninfo)) == NULL ||
	    pipe2(nf->stop, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "strdup/pipe2: %s", strerror(errno));
		goto out;
	}
	nf->loops[0] = (struct ra_loop){ .nf = nf, .name = "notifier",
	    .listen = "LISTEN issuance_done", .round = ra_notifier_round };
	nf->loops[1] = (struct ra_loop){ .nf = nf, .name = "outbox",
	    .listen = "LISTEN ra_mail", .round = ra_outbox_round };
	for (i = 0; i < 2; i++) {
		l = &nf->loops[i];
		/* The first connection before the sandbox: a failure is fatal. */
		if (ra_loop_connect(l) == -1) {
			snprintf(err, errlen, "the %s cannot connect its "
			    "database connection", l->name);
			goto out;
		}
		if ((r = pthread_create(&l->thr, NULL, ra_loop_main, l)) != 0) {
			snprintf(err, errlen, "pthread_create: %s", strerror(r));
			goto out;
		}
		l->started = 1;
	}
	rc = 0;
out:
	if (rc == -1) {
		ra_notifier_stop(nf);
		nf = NULL;
	}
	return nf;
}

void
ra_notifier_stop(struct ra_notifier *nf)
{
	int i;

	if (nf == NULL)
		return;
	/* Closing the write end wakes every loop (POLLHUP on the read end). */
	if (nf->stop[1] != -1)
		close(nf->stop[1]);
	for (i = 0; i < 2; i++) {
		if (nf->loops[i].started)
			pthread_join(nf->loops[i].thr, NULL);
		db_close(nf->loops[i].db);
	}
	if (nf->stop[0] != -1)
		close(nf->stop[0]);
	free(nf->conninfo);
	free(nf);
}
