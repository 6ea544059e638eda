/*
 * The maintenance thread: keeps the status table in memory equal to
 * PostgreSQL's `certificate` rows of our issuers, and keeps every response
 * pre-signed.
 *
 *  - At start, every row is loaded (synchronously, before serving).
 *  - LISTEN certificate_status on the thread's own connection: each
 *    notification (or the poll period passing, in case one is lost) runs an
 *    incremental query. It reads again the rows the notifications named
 *    (their payload, "<issuer_id>:<serial>"), and every row that a
 *    transaction not ended when the previous query read may have written:
 *    each query also returns the xmin of its own snapshot, and the next
 *    one reads each row whose issue_xid (schema/071) or revocation_xid
 *    (schema/024) is at or above it. A transaction below that xmin had
 *    ended before the previous read, which saw what it committed; one at
 *    or above it may have committed since, whenever it took its id or
 *    revocation_seq. So a revocation or an issuance that commits late,
 *    after later ones were read, is found by the next poll even when its
 *    notification is lost (the reasoning crld's deltas follow with
 *    revocation_xid and their base's snapshot, lib/crlgen.c). Until
 *    2026-12-06 the query reached back by id and revocation_seq to the
 *    values of 10 s or 32 polls before: a revocation committed later than
 *    that, after a later one was seen, was answered "good" until the
 *    hourly full pass. Rows above the highest id and revocation_seq seen
 *    are read too (rows written with the triggers off have no xid).
 *    Every OCSP_FULL_SYNC_S a full pass reads everything again, and at
 *    once after the connection was made anew (another server may have a
 *    history of its own after a failover: the xmin of one says nothing
 *    of the other).
 *  - A changed status drops the entry's responses at once (cache.c), so a
 *    revocation is answered live until its new response is signed here, in
 *    batches of OCSP_SIGN_BATCH between checks of the connection.
 *  - On a hot standby (a read replica: target_session_attrs=prefer-standby)
 *    LISTEN is refused; the poll period alone then bounds how late a change
 *    is seen, plus the replication lag. Each poll there also asks whether
 *    the standby was promoted, and LISTENs once it was.
 *  - A standby's data is as current as the WAL it replayed, not as the
 *    time we read it: replication may stop (link down, slot invalidated,
 *    replay paused) while the standby stays readable. Before each poll
 *    there we ask how current it is (ocsp_standby_data_time(), schema/052)
 *    and publish min(the poll's start, that time) as synced_at, so
 *    thisUpdate (RFC 6960 §4.2.2.1) never claims more. Beyond
 *    pol.max_standby_lag the database counts as down: synced_at stays,
 *    db_ok is 0, and the cache is served until it expires.
 *  - Certificates whose notAfter is more than pol.expired_grace before now
 *    are neither loaded nor kept: the full query leaves them out, a row
 *    of the incremental one past it drops its entry, and each full pass
 *    drops the entries that passed it since (ocsp_cache_expire). Without
 *    that the cache held, and re-signed every day, every certificate ever
 *    issued (they are never deleted). A request for one goes to the
 *    database (ocsp_sync_lookup, its own connection, one query at a time,
 *    on the lookup thread: an event loop queues it with
 *    ocsp_sync_lookup_submit and goes on serving while its connection
 *    waits aside) and is answered live with the status recorded there.
 *  - While PostgreSQL is unreachable nothing is re-signed (the status might
 *    be stale): cached responses are served until their nextUpdate; the
 *    connection is retried every OCSP_RECONNECT_S.
 *  - No query waits for ever: both connections carry lock_timeout and
 *    statement_timeout (ocsp_sync_conninfo). A lock queued on
 *    `certificate` (a migration's ALTER TABLE behind a long transaction)
 *    held the lookup's HTTP thread, and every answer queued on that
 *    thread, for as long as it lasted; a lookup now gives up after
 *    OCSP_LOOKUP_TIMEOUT_MS (tryLater), and after OCSP_LOOKUP_DEADLINE_MS
 *    when the server does not answer at all (db_exec_bounded), a poll after
 *    OCSP_SYNC_LOCK_TIMEOUT_MS (the database counts as down until a
 *    poll succeeds: lookups answer tryLater at once, the cache serves).
 *    The maintenance thread's statements are awaited with a deadline
 *    too (db_exec_bounded: OCSP_SYNC_DEADLINE_MS, a full pass
 *    OCSP_SYNC_FULL_DEADLINE_MS), since a server that stops answering
 *    lets no statement_timeout fire: past it the poll counts as timed
 *    out, the next one makes the connection anew (lib/db), and the
 *    thread LISTENs on it again (ocsp_sync_listen). Until 2026-12-06 a
 *    stopped backend held the thread in libpq for ever: nothing was read
 *    or re-signed again, a revocation stayed "good", database_ok true.
 *    The LISTEN itself has the same deadline (db_listen_bounded): until
 *    2026-12-06 it was a plain PQexec, and a server that accepted a new
 *    connection and then stalled at the LISTEN held the thread the same
 *    way.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "lib/db.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "lib/x509ext.h"
#include "ocsp/extern.h"

#define OCSP_FULL_SYNC_S	3600
/*
 * Serials named by notifications, read again by the next poll; more than
 * this between two polls (a bulk revocation) and the poll's xid range,
 * which covers them anyway, is left to find them.
 */
#define OCSP_NOTIFY_MAX		256
#define OCSP_XID8_MAX		24	/* a xid8 in decimal, NUL */
#define OCSP_RECONNECT_S	2
#define OCSP_SIGN_BATCH		256
#define OCSP_SIGN_MAX_FAILS	8	/* in a row: the signer is failing */
#define OCSP_LOOKUP_WAIT_MS	200	/* queued, or for the connection; then tryLater */
/*
 * The whole of a lookup's query, as the lookup thread waits for it
 * (db_exec_bounded): above the server's own bounds, which end the usual
 * slow cases (a lock, a slow plan) with the connection kept; this one is
 * for a server that stops answering, when they cannot fire.
 */
#define OCSP_LOOKUP_DEADLINE_MS	500
#define OCSP_LOOKUP_QUEUE	64	/* lookups queued; more: tryLater */
/*
 * Server-side bounds (ocsp_sync_conninfo). A lookup holds the lookup
 * thread, and the requests queued behind it: a lock or a query past
 * 200 ms is tryLater. The maintenance thread may
 * wait longer for a lock, but not for ever; its statement_timeout is a
 * backstop only, above what a full pass over a large table takes
 * (seconds for a million rows), which must not be cut short.
 */
#define OCSP_LOOKUP_TIMEOUT_MS		200	/* lock and statement */
#define OCSP_SYNC_LOCK_TIMEOUT_MS	2000
#define OCSP_SYNC_STATEMENT_TIMEOUT_MS	30000
/*
 * How long the maintenance thread waits for the server's answer at most
 * (db_exec_bounded), whatever the server does: a backend that stops
 * answering (stopped, a hung host, a network that drops packets while
 * the kernel keeps the connection) lets no statement_timeout fire, and
 * keepalives see nothing wrong with a peer whose kernel still answers.
 * A full pass may take up to the server's statement_timeout, and gets
 * a little more so that the server's bound fires first; an incremental
 * poll reads the rows written since the last one, and the other
 * statements a row each. Past it, the connection is made anew (the next
 * poll is a full pass on it, and LISTENs again: ocsp_sync_poll).
 */
#define OCSP_SYNC_DEADLINE_MS		10000
#define OCSP_SYNC_FULL_DEADLINE_MS	(OCSP_SYNC_STATEMENT_TIMEOUT_MS + 5000)

/* The highest id and revocation_seq read. */
struct ocsp_mark {
	long long	 id;
	long long	 seq;
};

struct ocsp_sync {
	struct ocsp_responder	*r;
	char			*conninfo;
	struct db		*db;
	pthread_t		 thr;
	int			 started;
	int			 wake[2];	/* stop pipe */
	struct ocsp_mark	 max;
	/*
	 * The xmin of the last successful query's snapshot (decimal xid8,
	 * "" before the first), and the server process that took it.
	 */
	char			 xmin[OCSP_XID8_MAX];
	int			 pid;
	/*
	 * The serials notifications named since the last poll, as a text
	 * array literal ("{1A2B,3C4D}": upper-case hex, no quoting needed),
	 * and how many (OCSP_NOTIFY_MAX at most).
	 */
	char			 renotify[OCSP_NOTIFY_MAX * 41 + 3];
	int			 nrenotify;
	time_t			 last_full;
	time_t			 last_connect;
	int			 busy;		/* a poll timed out (logged) */
	/*
	 * The connection was made anew by db_exec_bounded (a server that
	 * closed it, or one that missed a deadline): LISTEN again.
	 */
	int			 relisten;
	int			 standby;	/* connected to a hot standby */
	int			 lagging;	/* over pol.max_standby_lag (logged) */
	/*
	 * The best data time seen for a replay position: data replayed to
	 * at least lag_lsn is current as of lag_at (primary's clock).
	 */
	long long		 lag_lsn;
	int64_t			 lag_at;
	char			 issuers[256];	/* "{1,2}" */
	/*
	 * ocsp_sync_lookup's connection, for the lookup thread: one query
	 * at a time, so clients asking for serials we do not hold load the
	 * database with one query per ocspd at most.
	 */
	pthread_mutex_t		 lk_mtx;
	int			 lk_mtx_ok;
	struct db		*lk_db;
	char			*lk_conninfo;	/* with the lookup's timeouts */
	/*
	 * The lookup thread and its queue (ocsp_sync_lookup_submit): the
	 * event loops never wait for the database.
	 */
	pthread_t		 lq_thr;
	int			 lq_started;
	pthread_mutex_t		 lq_mtx;
	pthread_cond_t		 lq_cond;
	int			 lq_ok;		/* mutex and cond made */
	struct ocsp_lookup	*lq_head, *lq_tail;
	unsigned int		 lq_len;
	int			 lq_stopping;
	struct ocsp_due		 due[OCSP_SIGN_BATCH];
};

/*
 * The reconciliation query: rows of our issuers ($1) whose notAfter is
 * after $4, and, for an incremental one, with an id above $2, a
 * revocation_seq above $3, an issue_xid or revocation_xid at or above $5
 * (the previous query's snapshot xmin: schema/071, the indexes
 * certificate_issue_xid and certificate_revocation_xid), or a serial of
 * $6 (named by notifications); a full pass gives $2 = $3 = 0 and $5, $6
 * NULL. Columns 0 and 1 are this statement's snapshot xmin and the
 * server process; a one-row result with the certificate's columns NULL
 * when no row matched. At or above the xmin, not "not visible in the
 * snapshot" as crld asks (pg_visible_in_snapshot): a snapshot taken on a
 * hot standby lists no transaction in progress (PostgreSQL keeps them
 * apart there, and pg_current_snapshot() gives only the xmin and xmax
 * right), so a row written by a transaction open at the previous poll
 * would look seen. The rows read for nothing are those written since the
 * oldest transaction still open began: few, unless one is left open.
 */
static const struct db_stmt stmt_poll = { "ocsp_sync_poll",
	"SELECT pg_snapshot_xmin(pg_current_snapshot())::text, pg_backend_pid(), "
	"c.id, c.issuer_id, c.serial, "
	"floor(extract(epoch FROM c.revoked_at))::bigint, c.revocation_reason, "
	"floor(extract(epoch FROM c.invalidity_date))::bigint, "
	"coalesce(c.revocation_seq, 0), "
	"floor(extract(epoch FROM c.not_after))::bigint "
	"FROM (SELECT 1) AS one LEFT JOIN certificate AS c "
	"ON c.issuer_id = ANY($1::bigint[]) AND c.not_after > to_timestamp($4) "
	"AND (c.id > $2 OR c.revocation_seq > $3 OR c.issue_xid >= $5::xid8 OR "
	"c.revocation_xid >= $5::xid8 OR c.serial = ANY($6::text[]))",
	6 };

/*
 * The serials of one request missing from the cache (ocsp_sync_lookup),
 * each in both the forms it may be stored in (with and without
 * BN_bn2hex's leading 0 nibble), and the time the data is current as of
 * (schema/052: on a primary, now). One row per certificate found, or one
 * row with the certificate's columns NULL when none is.
 */
static const struct db_stmt stmt_lookup = { "ocsp_sync_lookup",
	"SELECT c.serial, floor(extract(epoch FROM c.not_after))::bigint, "
	"floor(extract(epoch FROM c.revoked_at))::bigint, c.revocation_reason, "
	"floor(extract(epoch FROM c.invalidity_date))::bigint, "
	"floor(extract(epoch FROM d.data_at))::bigint "
	"FROM ocsp_standby_data_time() AS d LEFT JOIN certificate AS c "
	"ON c.issuer_id = $1::bigint AND c.serial = ANY($2::text[])",
	2 };

static const struct db_stmt stmt_in_recovery = { "ocsp_sync_in_recovery",
	"SELECT pg_is_in_recovery()", 0 };

/* The columns and indexes stmt_poll reads (certificate.issue_xid). */
#define OCSP_SCHEMA_MIN	71

/* schema/052_ocsp_standby_lag.sql; the data time NULL when unknown. */
static const struct db_stmt stmt_data_time = { "ocsp_sync_data_time",
	"SELECT floor(extract(epoch FROM data_at))::bigint, replay_lsn "
	"FROM ocsp_standby_data_time()", 0 };

/*
 * conninfo (a URI or a key=value list) as a key=value list whose options
 * add "-c lock_timeout=lock_ms -c statement_timeout=stmt_ms" to its own.
 * In the conninfo rather than a SET after connecting: db_exec connects
 * again by itself when the server closed the connection (lib/db.c,
 * PQreset with the same parameters), and a SET would be lost then.
 * malloc'd; NULL with err.
 */
static char *
ocsp_sync_conninfo(const char *conninfo, long lock_ms, long stmt_ms,
    char *err, size_t errlen)
{
	PQconninfoOption *opts = NULL, *o;
	char *out = NULL, extra[96];
	const char *v, *c;
	size_t len, off = 0;
	int have_options = 0;

	snprintf(extra, sizeof(extra), "-c lock_timeout=%ld "
	    "-c statement_timeout=%ld", lock_ms, stmt_ms);
	if ((opts = db_conninfo_parse(conninfo, err, errlen)) == NULL)
		goto out;
	/* Each value quoted, ' and \ escaped: at most twice its length. */
	len = sizeof(extra) + sizeof(" options=''");
	for (o = opts; o->keyword != NULL; o++)
		if (o->val != NULL)
			len += strlen(o->keyword) + 2 * strlen(o->val) + 5;
	if ((out = malloc(len)) == NULL) {
		snprintf(err, errlen, "malloc: %s", strerror(errno));
		goto out;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if ((v = o->val) == NULL)
			continue;
		off += (size_t)snprintf(out + off, len - off, "%s%s='",
		    off > 0 ? " " : "", o->keyword);
		for (c = v; *c != '\0'; c++) {
			if (*c == '\'' || *c == '\\')
				out[off++] = '\\';
			out[off++] = *c;
		}
		if (strcmp(o->keyword, "options") == 0) {
			have_options = 1;
			off += (size_t)snprintf(out + off, len - off, " %s", extra);
		}
		out[off++] = '\'';
		out[off] = '\0';
	}
	if (!have_options)
		snprintf(out + off, len - off, "%soptions='%s'", off > 0 ? " " : "",
		    extra);
out:
	PQconninfoFree(opts);
	return out;
}

/*
 * The state of a certificate row whose revoked_at, revocation_reason and
 * invalidity_date (epoch seconds) are columns col, col + 1 and col + 2:
 * good when revoked_at is NULL.
 */
static void
ocsp_row_revocation(const PGresult *res, int row, int col,
    struct ocsp_status *st)
{
	if (PQgetisnull(res, row, col)) {
		st->state = OCSP_STATE_GOOD;
		return;
	}
	st->state = OCSP_STATE_REVOKED;
	st->revoked_at = strtoll(PQgetvalue(res, row, col), NULL, 10);
	st->reason = PQgetisnull(res, row, col + 1) ? -1 :
	    atoi(PQgetvalue(res, row, col + 1));
	if (!PQgetisnull(res, row, col + 2))
		st->invalidity = strtoll(PQgetvalue(res, row, col + 2), NULL,
		    10);
}

/*
 * The row of issuer k's certificate serial was read with status st: when
 * that certificate is one of our issuers' own (ocsp_issuers_link), its
 * status is that issuer's, which stands over every serial it answers for
 * (ocsp_status_under_ca): the cache drops what it signed under the other
 * (ocsp_cache_set_ca_status), at start for a CA already revoked as at
 * any change. Says so in the log. 1 when an issuer's status changed.
 */
static int
ocsp_sync_ca_status(struct ocsp_responder *r, int k, const char *serial,
    const struct ocsp_status *st)
{
	const char *reason;
	char since[TIME_ISO8601_MAX];
	int i, rc = 0;

	for (i = 0; i < r->niss; i++) {
		if (r->iss[i].parent != k || r->iss[i].serial[0] == '\0' ||
		    strcmp(r->iss[i].serial, serial) != 0 ||
		    ocsp_cache_set_ca_status(r->cache, i, st) != 1)
			continue;
		rc = 1;
		if (st->state != OCSP_STATE_REVOKED) {
			log_info("ocsp: issuer %s: its own certificate is no "
			    "longer revoked or on hold: its certificates are "
			    "answered with their own status again",
			    r->iss[i].name);
			continue;
		}
		if ((reason = x509ext_crl_reason_name(st->reason)) == NULL)
			reason = "unspecified";
		time_iso8601(st->revoked_at, since, sizeof(since));
		if (st->reason == OCSP_REVOKED_STATUS_CERTIFICATEHOLD)
			log_err("ocsp: issuer %s: its own certificate was put on "
			    "hold by its issuer at %s: every serial it issued "
			    "is answered revoked (certificateHold, %s) until "
			    "it is released; /health says degraded",
			    r->iss[i].name, since, since);
		else
			log_err("ocsp: issuer %s: its own certificate was "
			    "revoked by its issuer at %s (%s): every serial it "
			    "issued is answered revoked (cACompromise, %s) "
			    "unless revoked before; /health says degraded",
			    r->iss[i].name, since, reason, since);
	}
	return rc;
}

static int
ocsp_issuer_index(const struct ocsp_responder *r, long long db_id)
{
	int i;

	for (i = 0; i < r->niss; i++)
		if (r->iss[i].db_id == db_id)
			return i;
	return -1;
}

/*
 * The xmin and the server process of a reconciliation query's snapshot
 * (row 0, columns 0 and 1) into sy. A process other than the last one's
 * means the connection was made anew (lib/db reconnects by itself),
 * perhaps to another server, whose transaction ids say nothing of what
 * the previous one's snapshot saw: the next poll is a full pass. 0, or
 * -1 when the values are not what PostgreSQL gives.
 */
static int
ocsp_sync_snapshot(struct ocsp_sync *sy, const PGresult *res)
{
	const char *xmin;
	int pid;

	if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0) ||
	    PQgetisnull(res, 0, 1))
		return -1;
	xmin = PQgetvalue(res, 0, 0);
	if (*xmin == '\0' || strlen(xmin) >= sizeof(sy->xmin) ||
	    strspn(xmin, "0123456789") != strlen(xmin))
		return -1;
	pid = atoi(PQgetvalue(res, 0, 1));
	if (sy->pid != 0 && pid != sy->pid) {
		log_info("ocsp: the database connection was made anew: the "
		    "next poll reads every row");
		sy->last_full = 0;
		sy->relisten = 1;
	}
	sy->pid = pid;
	memcpy(sy->xmin, xmin, strlen(xmin) + 1);
	return 0;
}

/*
 * One reconciliation query, full or incremental (stmt_poll), of the rows
 * whose notAfter is after `after` (Unix time: the grace's cutoff for a
 * full pass, 0 for an incremental one, so that a change to a certificate
 * past the grace still drops its entry); applies every row (the caller
 * publishes the time it is correct as of) and keeps the snapshot's xmin
 * for the next one. Rows past cutoff drop their entry. Returns the number
 * of changed statuses, or -1 (database failure).
 */
static int
ocsp_sync_query(struct ocsp_sync *sy, int full, int64_t after,
    int64_t cutoff)
{
	struct ocsp_responder *r = sy->r;
	struct ocsp_status st;
	PGresult *res = NULL;
	char id[32], seq[32], aft[32];
	const char *v[6];
	char serial[OCSP_SERIAL_HEX];
	long long rid, rseq;
	int i, k, changed = 0, rc = -1;

	snprintf(id, sizeof(id), "%lld", full ? 0 : sy->max.id);
	snprintf(seq, sizeof(seq), "%lld", full ? 0 : sy->max.seq);
	snprintf(aft, sizeof(aft), "%lld", (long long)after);
	v[0] = sy->issuers;
	v[1] = id;
	v[2] = seq;
	v[3] = aft;
	v[4] = full || sy->xmin[0] == '\0' ? NULL : sy->xmin;
	v[5] = full || sy->nrenotify == 0 ? NULL : sy->renotify;
	if ((res = db_exec_bounded(sy->db, &stmt_poll, v, full ?
	    OCSP_SYNC_FULL_DEADLINE_MS : OCSP_SYNC_DEADLINE_MS)) == NULL)
		goto out;
	if (ocsp_sync_snapshot(sy, res) == -1) {
		log_err("ocsp: the reconciliation query gave no snapshot xmin");
		goto out;
	}
	for (i = 0; i < PQntuples(res); i++) {
		if (PQgetisnull(res, i, 2))
			continue;	/* no row matched */
		rid = strtoll(PQgetvalue(res, i, 2), NULL, 10);
		rseq = strtoll(PQgetvalue(res, i, 8), NULL, 10);
		if (rid > sy->max.id)
			sy->max.id = rid;
		if (rseq > sy->max.seq)
			sy->max.seq = rseq;
		k = ocsp_issuer_index(r, strtoll(PQgetvalue(res, i, 3), NULL, 10));
		if (k == -1 || strlen(PQgetvalue(res, i, 4)) >= OCSP_SERIAL_HEX)
			continue;
		memcpy(serial, PQgetvalue(res, i, 4),
		    strlen(PQgetvalue(res, i, 4)) + 1);
		ocsp_serial_canon(serial);
		memset(&st, 0, sizeof(st));
		st.reason = -1;
		st.not_after = strtoll(PQgetvalue(res, i, 9), NULL, 10);
		if (st.not_after <= cutoff) {
			/* Expired past the grace: answered from the database. */
			if (ocsp_cache_drop(r->cache, k, serial) == 1)
				changed++;
			continue;
		}
		ocsp_row_revocation(res, i, 5, &st);
		if (ocsp_sync_ca_status(r, k, serial, &st) == 1)
			changed++;
		switch (ocsp_cache_set_status(r->cache, k, serial, &st)) {
		case -1:
			log_err("ocsp: out of memory loading the status table");
			goto out;
		case 1:
			changed++;
			break;
		}
	}
	rc = changed;
out:
	PQclear(res);
	return rc;
}

/*
 * On a standby: *data_at gets the primary's time as of which the data the
 * next query reads is known to be current (asked before that query, so
 * what it reads is at least as new), or OCSP_LAG_UNKNOWN when the standby
 * cannot say. Replay only moves forward, so the best time seen for a
 * replay position stays true for any later one, also on another standby
 * of the same primary; a moment between receiving WAL and replaying it
 * (only the last commit's time is known then) does not count as lag.
 * 0, or -1 when the query failed.
 */
static int
ocsp_sync_data_time(struct ocsp_sync *sy, int64_t *data_at)
{
	PGresult *res;
	long long lsn;
	int64_t at;

	*data_at = OCSP_LAG_UNKNOWN;
	if ((res = db_exec_bounded(sy->db, &stmt_data_time, NULL,
	    OCSP_SYNC_DEADLINE_MS)) == NULL)
		return -1;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 1)) {
		PQclear(res);
		return 0;
	}
	lsn = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	at = PQgetisnull(res, 0, 0) ? OCSP_LAG_UNKNOWN :
	    strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (lsn < sy->lag_lsn) {	/* another node, further behind */
		sy->lag_lsn = 0;
		sy->lag_at = OCSP_LAG_UNKNOWN;
	}
	if (sy->lag_at > at)
		at = sy->lag_at;
	sy->lag_lsn = lsn;
	sy->lag_at = at;
	*data_at = at;
	return 0;
}

/*
 * Publishes what a successful read knows: read at t0 (our clock), on a
 * standby of data current as of data_at. Over pol.max_standby_lag (or
 * with data_at unknown) the database counts as down, as if unreachable:
 * synced_at stays where it was, db_ok is 0; the change is logged once.
 */
static void
ocsp_sync_publish(struct ocsp_sync *sy, time_t t0, int64_t data_at)
{
	struct ocsp_responder *r = sy->r;
	int64_t lag = OCSP_LAG_NONE, synced = (int64_t)t0;

	if (sy->standby) {
		lag = data_at == OCSP_LAG_UNKNOWN ? OCSP_LAG_UNKNOWN :
		    data_at < synced ? synced - data_at : 0;
		if (data_at != OCSP_LAG_UNKNOWN && data_at < synced)
			synced = data_at;
	}
	__atomic_store_n(&r->standby_lag, lag, __ATOMIC_RELAXED);
	if (lag == OCSP_LAG_UNKNOWN || lag > r->pol.max_standby_lag) {
		if (!sy->lagging) {
			if (lag == OCSP_LAG_UNKNOWN)
				log_warn("ocsp: the standby cannot say how "
				    "current its data is: serving from the "
				    "cache, thisUpdate held");
			else
				log_warn("ocsp: the standby's data is %" PRId64
				    " s behind (ocsp.max_standby_lag_seconds "
				    "%ld): serving from the cache, thisUpdate "
				    "held", lag, r->pol.max_standby_lag);
		}
		sy->lagging = 1;
		__atomic_store_n(&r->db_ok, 0, __ATOMIC_RELAXED);
		return;
	}
	if (sy->lagging)
		log_info("ocsp: the standby's data is current again (%" PRId64
		    " s behind)", lag > 0 ? lag : 0);
	sy->lagging = 0;
	/* The status is known to be right as of this time. */
	__atomic_store_n(&r->synced_at, synced, __ATOMIC_RELEASE);
	__atomic_store_n(&r->db_ok, 1, __ATOMIC_RELAXED);
}

static double
ocsp_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * A notification on certificate_status (db_notifications' callback): its
 * payload, "<issuer_id>:<serial>" (schema/004, 006), names a row the next
 * poll reads again, whatever its id, revocation_seq and xids. Anyone may
 * NOTIFY that channel: a payload that is not an issuer of ours and a
 * serial as the table stores it (ocsp_notify_parse: upper-case hex, 1 to 40
 * digits) is ignored, as is one past OCSP_NOTIFY_MAX (the poll's xid
 * range finds those rows anyway); the notification still runs a poll.
 */
static void
ocsp_sync_notified(void *arg, const char *channel, const char *payload)
{
	struct ocsp_sync *sy = arg;
	char serial[OCSP_NOTIFY_SERIAL_MAX + 1];
	long long issuer;
	size_t off;

	if (ocsp_notify_parse(channel, payload, &issuer, serial) == -1 ||
	    ocsp_issuer_index(sy->r, issuer) == -1)
		return;
	if (sy->nrenotify == OCSP_NOTIFY_MAX)
		return;
	off = sy->nrenotify == 0 ? 0 : strlen(sy->renotify) - 1;
	snprintf(sy->renotify + off, sizeof(sy->renotify) - off, "%s%s}",
	    sy->nrenotify == 0 ? "{" : ",", serial);
	sy->nrenotify++;
}

int
ocsp_notify_parse(const char *channel, const char *payload,
    long long *issuer, char serial[OCSP_NOTIFY_SERIAL_MAX + 1])
{
	const char *colon;
	char *end;
	size_t len;

	*issuer = 0;
	serial[0] = '\0';
	if (strcmp(channel, "certificate_status") != 0 ||
	    (colon = strchr(payload, ':')) == NULL || colon == payload ||
	    strspn(payload, "0123456789") != (size_t)(colon - payload))
		return -1;
	errno = 0;
	*issuer = strtoll(payload, &end, 10);
	if (errno != 0 || end != colon) {
		*issuer = 0;
		return -1;
	}
	len = strlen(colon + 1);
	if (len < 1 || len > OCSP_NOTIFY_SERIAL_MAX ||
	    strspn(colon + 1, "0123456789ABCDEF") != len) {
		*issuer = 0;
		return -1;
	}
	memcpy(serial, colon + 1, len + 1);
	return 0;
}

static int	ocsp_sync_listen(struct ocsp_sync *);

/* Incremental (or, every OCSP_FULL_SYNC_S, full) reconciliation. */
static int
ocsp_sync_poll(struct ocsp_sync *sy)
{
	time_t now = time(NULL);
	int64_t data_at = OCSP_LAG_NONE;
	int64_t cutoff = (int64_t)now - sy->r->pol.expired_grace;
	size_t gone = 0;
	int n, full = now - sy->last_full >= OCSP_FULL_SYNC_S ||
	    sy->xmin[0] == '\0';

	/*
	 * The last poll found its connection made anew (db_exec_bounded):
	 * LISTEN there before this poll (a full pass) reads.
	 */
	if (sy->relisten && ocsp_sync_listen(sy) == -1)
		return -1;
	/* Before the query: what it reads is at least this current. */
	if (sy->standby && ocsp_sync_data_time(sy, &data_at) == -1)
		return -1;
	if ((n = ocsp_sync_query(sy, full, full ? cutoff : 0, cutoff)) == -1)
		return -1;
	/* Read: the serials notifications named are known now. */
	sy->nrenotify = 0;
	/* Entries that passed the grace since the last full pass. */
	if (full && (gone = ocsp_cache_expire(sy->r->cache, cutoff)) > 0)
		log_info("ocsp: %zu certificate(s) expired more than "
		    "ocsp.expired_grace_seconds (%ld) ago dropped from the cache",
		    gone, sy->r->pol.expired_grace);
	/* Applied before published (README "Pre-signed responses"). */
	ocsp_sync_publish(sy, now, data_at);
	if (full)
		sy->last_full = now;
	if (n > 0)
		log_info("ocsp: %d status change(s) from the database", n);
	return n;
}

/*
 * Whether the connection is to a standby, and LISTEN unless it is: on a
 * connection just made (ocsp_sync_connect), or made anew by lib/db
 * (db_exec_bounded connects again without LISTENing, and perhaps to
 * another server: a failover). 0, or -1 (a failure or a timeout, as the
 * SQLSTATE says).
 */
static int
ocsp_sync_listen(struct ocsp_sync *sy)
{
	PGresult *res;
	int standby;

	if ((res = db_exec_bounded(sy->db, &stmt_in_recovery, NULL,
	    OCSP_SYNC_DEADLINE_MS)) == NULL)
		return -1;
	standby = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	sy->standby = standby;
	sy->lag_lsn = 0;
	sy->lag_at = OCSP_LAG_UNKNOWN;
	if (standby)
		log_info("ocsp: reading from a standby, where LISTEN is refused: "
		    "changes are seen by polling every %ld ms",
		    (long)sy->r->pol.poll_ms);
	else if (db_listen_bounded(sy->db, "LISTEN certificate_status",
	    OCSP_SYNC_DEADLINE_MS) == -1)
		return -1;
	__atomic_store_n(&sy->r->db_standby, standby, __ATOMIC_RELAXED);
	sy->relisten = 0;
	return 0;
}

/* Connects and LISTENs (unless on a standby); 0 or -1 (logged). */
static int
ocsp_sync_connect(struct ocsp_sync *sy)
{
	char err[512];

	sy->last_connect = time(NULL);
	if ((sy->db = db_connect(sy->conninfo, err, sizeof(err))) == NULL) {
		log_warn("ocsp: database: %s", err);
		return -1;
	}
	if (ocsp_sync_listen(sy) == -1)
		goto fail;
	/*
	 * Connected again, perhaps to another server (a failover): its
	 * transaction ids say nothing of what the last snapshot saw. The
	 * next poll's server process is another one: nothing to LISTEN
	 * again for that (ocsp_sync_snapshot).
	 */
	if (sy->pid != 0)
		sy->last_full = 0;
	sy->pid = 0;
	return 0;
fail:
	db_close(sy->db);
	sy->db = NULL;
	return -1;
}

/*
 * On a standby: once it has been promoted (a failover), LISTEN there like on
 * any primary. 0, or -1 when the connection failed.
 */
static int
ocsp_sync_check_promoted(struct ocsp_sync *sy)
{
	PGresult *res;
	int promoted;

	if (!sy->standby)
		return 0;
	if ((res = db_exec_bounded(sy->db, &stmt_in_recovery, NULL,
	    OCSP_SYNC_DEADLINE_MS)) == NULL)
		return -1;
	promoted = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "f") == 0;
	PQclear(res);
	if (!promoted)
		return 0;
	if (db_listen_bounded(sy->db, "LISTEN certificate_status",
	    OCSP_SYNC_DEADLINE_MS) == -1)
		return -1;
	sy->standby = 0;
	__atomic_store_n(&sy->r->db_standby, 0, __ATOMIC_RELAXED);
	log_info("ocsp: the standby was promoted: LISTENing for changes again");
	return 0;
}

/*
 * A poll that failed on a timeout (lock_timeout, 55P03; statement_timeout,
 * 57014) left the connection usable: keep it and poll again at the next
 * period. So does one whose server did not answer within its deadline
 * (OCSP_SYNC_DEADLINE_MS, 57014 too): db_exec_bounded makes that
 * connection anew, without waiting, at the next poll. Meanwhile the database counts as down (db_ok 0: lookups answer
 * tryLater at once instead of queueing on the same lock; /health says
 * so); the next poll that succeeds publishes again. Logged once.
 * 1 when that was the failure, 0 when not.
 */
static int
ocsp_sync_timed_out(struct ocsp_sync *sy)
{
	const char *state;

	if (sy->db == NULL)
		return 0;
	state = db_last_sqlstate(sy->db);
	if (strcmp(state, "55P03") != 0 && strcmp(state, "57014") != 0)
		return 0;
	if (!sy->busy)
		log_warn("ocsp: a poll timed out (SQLSTATE %s: a lock on "
		    "certificate, or a slow server): serving from the cache, "
		    "trying again every poll period", state);
	sy->busy = 1;
	__atomic_store_n(&sy->r->db_ok, 0, __ATOMIC_RELAXED);
	return 1;
}

static void
ocsp_sync_lost(struct ocsp_sync *sy)
{
	if (sy->db == NULL)
		return;
	log_warn("ocsp: lost the database connection; serving from the cache");
	db_close(sy->db);
	sy->db = NULL;
	__atomic_store_n(&sy->r->db_ok, 0, __ATOMIC_RELAXED);
}

/*
 * Signs one batch of due responses. Returns how many were signed; *more
 * says the batch was full and made progress (more may be due: the caller
 * goes on at once rather than wait for the poll period). An entry that
 * fails is skipped, not the rest of the batch after it (each pass would
 * stop at the same entry); OCSP_SIGN_MAX_FAILS failures in a row end the
 * batch, since then the signer itself is failing.
 */
static size_t
ocsp_sync_sign(struct ocsp_sync *sy, int *more)
{
	struct ocsp_responder *r = sy->r;
	struct ocsp_single s;
	struct ocsp_blob *b;
	unsigned char *der;
	size_t n, i, len, done = 0, fails = 0;
	time_t now = time(NULL);
	int64_t synced = __atomic_load_n(&r->synced_at, __ATOMIC_ACQUIRE);
	int64_t this_update, next_update;

	*more = 0;
	n = ocsp_cache_due(r->cache, synced - r->pol.refresh,
	    (int64_t)now - r->pol.refresh, now, sy->due, OCSP_SIGN_BATCH);
	/*
	 * Nothing we know is fresh enough to sign. *more stays 0: with a
	 * full batch due (hashes asked for during a long outage) the loop
	 * would otherwise run again at once, at 100 % CPU until the database
	 * is back.
	 */
	if (synced + r->pol.validity <= now)
		return 0;
	for (i = 0; i < n && fails < OCSP_SIGN_MAX_FAILS; i++) {
		memset(&s, 0, sizeof(s));
		s.hash = sy->due[i].hash;
		s.serial = sy->due[i].serial;
		s.st = sy->due[i].st;
		this_update = ocsp_this_update(synced, &s, 1, now);
		next_update = ocsp_next_update(&r->iss[sy->due[i].issuer],
		    this_update, r->pol.validity);
		/* The responder certificate expired: nothing that verifies. */
		if (next_update <= (int64_t)now)
			continue;
		if (ocsp_sign(r, sy->due[i].issuer, &s, 1, NULL,
		    (time_t)this_update, r->pol.validity, &der, &len) == -1) {
			fails++;
			continue;
		}
		fails = 0;
		b = ocsp_blob_new(der, len, this_update, next_update,
		    ocsp_policy_max_age(&r->pol, &s.st));
		OPENSSL_free(der);
		if (b == NULL)
			break;
		ocsp_cache_put(r->cache, sy->due[i].issuer, sy->due[i].serial,
		    sy->due[i].hash, &sy->due[i].st, b, r->pol.max_nonissued);
		ocsp_blob_unref(b);
		done++;
	}
	__atomic_add_fetch(&r->signed_ahead, done, __ATOMIC_RELAXED);
	if (n == OCSP_SIGN_BATCH && i == n && done > 0)
		*more = 1;
	return done;
}

/* Milliseconds until the next reconnection attempt (at least 100). */
static int
ocsp_sync_reconnect_ms(const struct ocsp_sync *sy)
{
	time_t left = sy->last_connect + OCSP_RECONNECT_S - time(NULL);

	return left > 0 ? (int)left * 1000 : 100;
}

static void *
ocsp_sync_main(void *arg)
{
	struct ocsp_sync *sy = arg;
	struct pollfd pfd[2];
	double now_ms, next_poll_ms = 0;
	int more = 0, notified, timeout, npfd;
	char c;

	for (;;) {
		now_ms = ocsp_mono_ms();
		if (sy->db == NULL && time(NULL) - sy->last_connect >=
		    OCSP_RECONNECT_S && ocsp_sync_connect(sy) == 0) {
			log_info("ocsp: database connection restored");
			next_poll_ms = 0;
		}
		/* Received during the last poll's queries: not on the socket. */
		notified = sy->db != NULL && db_notifications(sy->db,
		    ocsp_sync_notified, sy) > 0;
		timeout = more || notified ? 0 : next_poll_ms > now_ms ?
		    (int)(next_poll_ms - now_ms) + 1 : 0;
		/*
		 * Without a database there is nothing to poll: sleep until the
		 * next reconnection (a past next_poll_ms made this loop spin at
		 * 100 % CPU for as long as PostgreSQL was away).
		 */
		if (sy->db == NULL && !more)
			timeout = ocsp_sync_reconnect_ms(sy);
		pfd[0].fd = sy->wake[0];
		pfd[0].events = POLLIN;
		npfd = 1;
		/*
		 * Not while lib/db is still making the connection anew (a
		 * bounded reconnection goes on at the next statement): the
		 * set-up's bytes are PQresetPoll's, not PQconsumeInput's.
		 */
		if (sy->db != NULL &&
		    PQstatus(db_conn(sy->db)) == CONNECTION_OK) {
			pfd[1].fd = PQsocket(db_conn(sy->db));
			pfd[1].events = POLLIN;
			npfd = 2;
		}
		if (poll(pfd, (nfds_t)npfd, timeout) == -1 && errno != EINTR)
			break;
		if (pfd[0].revents != 0 && read(sy->wake[0], &c, 1) >= 0)
			break;	/* stop */
		if (sy->db != NULL && npfd == 2 && pfd[1].revents != 0) {
			if (PQconsumeInput(db_conn(sy->db)) != 1)
				ocsp_sync_lost(sy);
			else if (db_notifications(sy->db, ocsp_sync_notified,
			    sy) > 0)
				notified = 1;
		}
		now_ms = ocsp_mono_ms();
		if (sy->db != NULL && (notified || now_ms >= next_poll_ms)) {
			if (ocsp_sync_poll(sy) == -1 ||
			    ocsp_sync_check_promoted(sy) == -1) {
				if (!ocsp_sync_timed_out(sy))
					ocsp_sync_lost(sy);
			} else if (sy->busy) {
				log_info("ocsp: polls succeed again");
				sy->busy = 0;
			}
			/* From now: a poll may have waited for a lock. */
			next_poll_ms = ocsp_mono_ms() + (double)sy->r->pol.poll_ms;
		}
		ocsp_sync_sign(sy, &more);
	}
	return NULL;
}

/*
 * ocsp_lookup_fn (extern.h) over the lookup connection: one query for the
 * n serials. A caller waits OCSP_LOOKUP_WAIT_MS at most for the
 * connection, the server OCSP_LOOKUP_TIMEOUT_MS at most for a lock or
 * the query (ocsp_sync_conninfo), and this thread OCSP_LOOKUP_DEADLINE_MS
 * at most for the server's answer (db_exec_bounded: a backend that stops
 * answering lets no statement_timeout fire), then -1 (tryLater). While
 * the maintenance thread finds the database down, lagging or timing out,
 * the answer is -1 at once. ocspd calls it on the lookup thread only
 * (ocsp_sync_lookup_main), never on an event loop. Each one tried
 * counts in r's lookup figures (/health: a lookup connection that keeps
 * failing while the maintenance thread's works is seen there).
 */
static int
ocsp_sync_lookup(void *arg, int issuer, const char *const *serials, int n,
    struct ocsp_status *st, int64_t *data_at)
{
	struct ocsp_sync *sy = arg;
	struct ocsp_responder *r = sy->r;
	struct ocsp_status got;
	struct timespec until;
	PGresult *res = NULL;
	char id[32], serial[OCSP_SERIAL_HEX];
	char forms[OCSP_MAX_CERTIDS * 2 * (OCSP_SERIAL_HEX + 2) + 4];
	const char *v[2], *rs;
	size_t off = 0;
	int i, j, neg, locked = 0, tried = 0, rc = -1;

	for (i = 0; i < n; i++) {
		memset(&st[i], 0, sizeof(st[i]));
		st[i].state = OCSP_STATE_NONISSUED;
		st[i].reason = -1;
	}
	*data_at = 0;
	if (issuer < 0 || issuer >= r->niss || n < 1 || n > OCSP_MAX_CERTIDS ||
	    !__atomic_load_n(&r->db_ok, __ATOMIC_RELAXED))
		goto out;
	snprintf(id, sizeof(id), "%lld", r->iss[issuer].db_id);
	/* Serial hex and '-' need no quoting in an array literal. */
	forms[off++] = '{';
	for (i = 0; i < n; i++) {
		neg = serials[i][0] == '-';
		off += (size_t)snprintf(forms + off, sizeof(forms) - off,
		    "%s%s,%s0%s", i > 0 ? "," : "", serials[i], neg ? "-" : "",
		    serials[i] + neg);
	}
	snprintf(forms + off, sizeof(forms) - off, "}");
	v[0] = id;
	v[1] = forms;
	time_deadline(&until, CLOCK_REALTIME, OCSP_LOOKUP_WAIT_MS);
	if (pthread_mutex_timedlock(&sy->lk_mtx, &until) != 0)
		goto out;
	locked = 1;
	/* From here, a failure is the lookup connection's (/health). */
	tried = 1;
	if (sy->lk_db == NULL)
		goto out;
	/*
	 * Connects again when the server closed the connection, and gives
	 * up after OCSP_LOOKUP_DEADLINE_MS whatever the server does.
	 */
	if ((res = db_exec_bounded(sy->lk_db, &stmt_lookup, v,
	    OCSP_LOOKUP_DEADLINE_MS)) == NULL ||
	    PQntuples(res) < 1 || PQgetisnull(res, 0, 5))
		goto out;
	*data_at = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
	for (j = 0; j < PQntuples(res); j++) {
		if (PQgetisnull(res, j, 0) || PQgetisnull(res, j, 1))
			continue;	/* none found: the NULL row */
		rs = PQgetvalue(res, j, 0);
		if (strlen(rs) >= sizeof(serial))
			continue;
		memcpy(serial, rs, strlen(rs) + 1);
		ocsp_serial_canon(serial);
		memset(&got, 0, sizeof(got));
		got.reason = -1;
		got.not_after = strtoll(PQgetvalue(res, j, 1), NULL, 10);
		ocsp_row_revocation(res, j, 2, &got);
		/* A request may name one serial twice. */
		for (i = 0; i < n; i++)
			if (strcmp(serials[i], serial) == 0)
				st[i] = got;
	}
	rc = 0;
out:
	PQclear(res);
	if (tried)
		__atomic_add_fetch(&r->lookups_tried, 1, __ATOMIC_RELAXED);
	if (tried && rc == 0) {
		__atomic_store_n(&r->lookups_failed_run, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&r->lookup_ok_at, (int64_t)time(NULL),
		    __ATOMIC_RELAXED);
	} else if (tried) {
		__atomic_add_fetch(&r->lookups_failed, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&r->lookups_failed_run, 1, __ATOMIC_RELAXED);
	}
	if (locked)
		pthread_mutex_unlock(&sy->lk_mtx);
	return rc;
}

/*
 * The database has what stmt_poll reads (OCSP_SCHEMA_MIN); 0, or -1 with
 * err. At start, but awaited with a deadline all the same: a server that
 * stalls makes ocspd stop with a message rather than hang.
 */
static int
ocsp_sync_schema(struct ocsp_sync *sy, char *err, size_t errlen)
{
	return db_schema_check_bounded(sy->db, OCSP_SCHEMA_MIN, "ocspd needs",
	    "certificate.issue_xid", OCSP_SYNC_DEADLINE_MS, err, errlen);
}

/*
 * ocsp_lookup_submit_fn (extern.h): queues lk for the lookup thread.
 * Until 2026-12-06 the event loops called ocsp_sync_lookup themselves:
 * a lookup whose backend stopped answering (SIGSTOP, a hung host) held
 * the loop, and every cached answer of its connections, for as long as
 * libpq waited (5.97 s in a review), statement_timeout being of no help.
 */
static int
ocsp_sync_lookup_submit(void *arg, struct ocsp_lookup *lk)
{
	struct ocsp_sync *sy = arg;
	int rc = -1;

	pthread_mutex_lock(&sy->lq_mtx);
	if (!sy->lq_stopping && sy->lq_len < OCSP_LOOKUP_QUEUE) {
		lk->queued_ms = ocsp_mono_ms();
		lk->next = NULL;
		if (sy->lq_tail != NULL)
			sy->lq_tail->next = lk;
		else
			sy->lq_head = lk;
		sy->lq_tail = lk;
		sy->lq_len++;
		pthread_cond_signal(&sy->lq_cond);
		rc = 0;
	}
	pthread_mutex_unlock(&sy->lq_mtx);
	return rc;
}

/*
 * The lookup thread: one lookup at a time, in the order queued, each
 * answered through its done callback. One queued longer than
 * OCSP_LOOKUP_WAIT_MS (lookups piling up behind a slow server) is -1
 * without a query, as is every one left when ocspd stops.
 */
static void *
ocsp_sync_lookup_main(void *arg)
{
	struct ocsp_sync *sy = arg;
	struct ocsp_lookup *lk;
	const char *serials[OCSP_MAX_CERTIDS];
	int i, stopping;

	for (;;) {
		pthread_mutex_lock(&sy->lq_mtx);
		while (sy->lq_head == NULL && !sy->lq_stopping)
			pthread_cond_wait(&sy->lq_cond, &sy->lq_mtx);
		if ((lk = sy->lq_head) != NULL) {
			if ((sy->lq_head = lk->next) == NULL)
				sy->lq_tail = NULL;
			sy->lq_len--;
		}
		stopping = sy->lq_stopping;
		pthread_mutex_unlock(&sy->lq_mtx);
		if (lk == NULL)
			break;
		lk->rc = -1;
		if (!stopping && ocsp_mono_ms() - lk->queued_ms <=
		    OCSP_LOOKUP_WAIT_MS && lk->n >= 1 &&
		    lk->n <= OCSP_MAX_CERTIDS) {
			for (i = 0; i < lk->n; i++)
				serials[i] = lk->serials[i];
			lk->rc = ocsp_sync_lookup(sy, lk->issuer, serials,
			    lk->n, lk->st, &lk->data_at);
		}
		lk->done(lk, lk->arg);
	}
	return NULL;
}

struct ocsp_sync *
ocsp_sync_start(struct ocsp_responder *r, const char *conninfo, char *err,
    size_t errlen)
{
	struct ocsp_sync *sy = NULL;
	size_t off;
	int i, rc = -1;

	if ((sy = calloc(1, sizeof(*sy))) == NULL) {
		snprintf(err, errlen, "calloc: %s", strerror(errno));
		goto out;
	}
	sy->r = r;
	sy->wake[0] = sy->wake[1] = -1;
	__atomic_store_n(&r->standby_lag, OCSP_LAG_NONE, __ATOMIC_RELAXED);
	if ((sy->conninfo = ocsp_sync_conninfo(conninfo,
	    OCSP_SYNC_LOCK_TIMEOUT_MS, OCSP_SYNC_STATEMENT_TIMEOUT_MS, err,
	    errlen)) == NULL || (sy->lk_conninfo = ocsp_sync_conninfo(conninfo,
	    OCSP_LOOKUP_TIMEOUT_MS, OCSP_LOOKUP_TIMEOUT_MS, err, errlen)) ==
	    NULL)
		goto out;
	if (pipe2(sy->wake, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe2: %s", strerror(errno));
		goto out;
	}
	off = (size_t)snprintf(sy->issuers, sizeof(sy->issuers), "{");
	for (i = 0; i < r->niss && off < sizeof(sy->issuers); i++)
		off += (size_t)snprintf(sy->issuers + off,
		    sizeof(sy->issuers) - off, "%s%lld", i > 0 ? "," : "",
		    r->iss[i].db_id);
	if (off + 2 > sizeof(sy->issuers)) {
		snprintf(err, errlen, "too many issuers");
		goto out;
	}
	snprintf(sy->issuers + off, sizeof(sy->issuers) - off, "}");
	if (pthread_mutex_init(&sy->lk_mtx, NULL) != 0) {
		snprintf(err, errlen, "pthread_mutex_init failed");
		goto out;
	}
	sy->lk_mtx_ok = 1;
	if (pthread_mutex_init(&sy->lq_mtx, NULL) != 0) {
		snprintf(err, errlen, "pthread_mutex_init failed");
		goto out;
	}
	if (pthread_cond_init(&sy->lq_cond, NULL) != 0) {
		pthread_mutex_destroy(&sy->lq_mtx);
		snprintf(err, errlen, "pthread_cond_init failed");
		goto out;
	}
	sy->lq_ok = 1;
	if (ocsp_sync_connect(sy) == -1) {
		snprintf(err, errlen, "cannot connect to the database (see log)");
		goto out;
	}
	/* Made now, before the sandbox; db_exec makes it again if lost. */
	if ((sy->lk_db = db_connect(sy->lk_conninfo, err, errlen)) == NULL)
		goto out;
	if (ocsp_sync_schema(sy, err, errlen) == -1)
		goto out;
	/* The full load, before we serve. */
	if (ocsp_sync_poll(sy) == -1) {
		snprintf(err, errlen, "loading the certificate status table failed");
		goto out;
	}
	if (pthread_create(&sy->thr, NULL, ocsp_sync_main, sy) != 0) {
		snprintf(err, errlen, "pthread_create failed");
		goto out;
	}
	sy->started = 1;
	if (pthread_create(&sy->lq_thr, NULL, ocsp_sync_lookup_main, sy) !=
	    0) {
		snprintf(err, errlen, "pthread_create failed");
		goto out;
	}
	sy->lq_started = 1;
	r->lookup = ocsp_sync_lookup;
	r->lookup_submit = ocsp_sync_lookup_submit;
	r->lookup_arg = sy;
	rc = 0;
out:
	if (rc == -1) {
		ocsp_sync_stop(sy);
		sy = NULL;
	}
	return sy;
}

void
ocsp_sync_stop(struct ocsp_sync *sy)
{
	if (sy == NULL)
		return;
	if (sy->r->lookup_arg == sy) {
		sy->r->lookup = NULL;
		sy->r->lookup_submit = NULL;
		sy->r->lookup_arg = NULL;
	}
	/* Every lookup still queued is answered (-1) before the thread ends. */
	if (sy->lq_started) {
		pthread_mutex_lock(&sy->lq_mtx);
		sy->lq_stopping = 1;
		pthread_cond_signal(&sy->lq_cond);
		pthread_mutex_unlock(&sy->lq_mtx);
		pthread_join(sy->lq_thr, NULL);
	}
	if (sy->started) {
		if (write(sy->wake[1], "x", 1) != 1)
			log_err("ocsp: waking the sync thread: %s",
			    strerror(errno));
		pthread_join(sy->thr, NULL);
	}
	if (sy->wake[0] != -1)
		close(sy->wake[0]);
	if (sy->wake[1] != -1)
		close(sy->wake[1]);
	db_close(sy->db);
	db_close(sy->lk_db);
	if (sy->lk_mtx_ok)
		pthread_mutex_destroy(&sy->lk_mtx);
	if (sy->lq_ok) {
		pthread_mutex_destroy(&sy->lq_mtx);
		pthread_cond_destroy(&sy->lq_cond);
	}
	free(sy->conninfo);
	free(sy->lk_conninfo);
	free(sy);
}
