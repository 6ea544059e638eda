/*
 * crld's issuing thread, one per issuing CA (crl/main.c: the current one
 * and those renewed whose certificates may still be valid), each with its
 * own schedule. One PostgreSQL connection, LISTENing on
 * certificate_status (a revocation, hold or release: issue a complete CRL
 * and a delta once the burst is over) and crl_issued (another instance or
 * the ceremony made a CRL: serve it). On the schedule of policy/crl.conf it
 * issues a base CRL (the complete CRL deltas refer to) and deltas, and
 * earlier when the one served nears its nextUpdate (crl_issuer_due_by); and it
 * reconciles, in case a notification was lost, by issuing when the registry
 * has changes no CRL covers (CRLGEN_IF_CHANGED makes that a cheap no-op
 * otherwise) and by loading any CRL of crl_current newer than the one it
 * serves (crl_issuer_refresh: a lost crl_issued, or a load that failed).
 * LDAP publication is the publishing thread's (crl/publisher.c),
 * which it kicks after each CRL it issued: a directory that never answers
 * holds up that thread, not this one.
 *
 * Several crld instances may run against one database: the crl_state row
 * lock orders them, CRLGEN_IF_CHANGED keeps a revocation from being
 * issued twice, and CRLGEN_IF_DUE the schedule (one base or delta per
 * interval, whoever issues it). The next number is at least one above
 * what this instance served (crl_issuer_floor), whatever crl_state says.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "crl/extern.h"
#include "hsm/signer.h"
#include "lib/db.h"
#include "lib/log.h"

#define CRL_RECONNECT_MAX_S	30
/*
 * How long a command waits for the server at most (db_set_timeout): above
 * pki_crl's statement_timeout (600 s, schema/058), which ends a slow
 * statement with the connection kept; this one is for a server that stops
 * answering, when that cannot fire. Until 2026-12-07 nothing bounded it:
 * a stopped backend held the issuing thread, and every CRL, for ever.
 */
#define CRL_DB_TIMEOUT_MS	630000
/* A thread that issues nothing (key_missing) wakes this often at most. */
#define CRL_IDLE_S		3600

/*
 * Read in binary result format (crl_issuer_current_row): a complete CRL of
 * 1,000,000 entries is ~47 MB, twice that as hex text, and libpq would hold
 * the text as well as the decoded copy. The numbers come as text values.
 */
static const struct db_stmt stmt_current = { "crl_issuer_current",
	"SELECT number::text, floor(extract(epoch FROM this_update))::bigint::text, "
	"floor(extract(epoch FROM next_update))::bigint::text, der FROM "
	"crl_current WHERE issuer_id = $1 AND kind = $2", 2 };
/* The numbers only: the DER stays in the table (TOAST) unless it is newer. */
static const struct db_stmt stmt_numbers = { "crl_issuer_numbers",
	"SELECT issuer_id, kind, number FROM crl_current WHERE issuer_id IN "
	"($1, $2)", 2 };
static const struct db_stmt stmt_last_epoch = { "crl_issuer_last_epoch",
	"SELECT floor(extract(epoch FROM coalesce(max(this_update) FILTER "
	"(WHERE is_base), 'epoch')))::bigint, floor(extract(epoch FROM "
	"coalesce(max(this_update) FILTER (WHERE kind = 'delta'), "
	"'epoch')))::bigint FROM crl WHERE issuer_id = $1", 1 };

/* The complete CRL ([0]) or the delta ([1]) served of the issuing CA. */
struct crl_served {
	long long	 number;	/* 0: none */
	time_t		 next_update;
	double		 renew_by;	/* crlgen_renew_by() */
};

struct crl_issuer {
	struct crl_issuer_conf	 conf;
	struct crl_thread	 t;		/* its mtx guards kick */
	int			 kick;		/* SIGHUP: cleared once applied */
	int			 base_forced;	/* SIGHUP, or no complete CRL held */
	struct db		*db;
	/* schedule, in wall-clock seconds */
	double			 base_due;
	double			 delta_due;
	double			 dirty_first;	/* 0: nothing pending */
	double			 dirty_last;
	double			 reconcile_due;
	struct crl_served	 served[2];
};

static double
crl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
crl_sign(void *arg, const unsigned char *tbs, size_t tbslen,
    unsigned char **sig, size_t *siglen, char *err, size_t errlen)
{
	const struct crl_issuer_conf *conf = arg;

	return signer_sign(conf->signer, SIGNER_KIND_CRL,
	    conf->issuing->key_label, conf->digest, tbs, tbslen, sig, siglen,
	    err, errlen);
}

/* The document this thread serves for (issuer, kind); CRL_DOC_NONE: none. */
static int
crl_doc_of(const struct crl_issuer_conf *conf, long long issuer_id,
    const char *kind)
{
	int delta = strcmp(kind, "delta") == 0;

	if (issuer_id == conf->issuing->id)
		return delta ? conf->issuing->doc_delta : conf->issuing->doc_full;
	if (conf->root != NULL && issuer_id == conf->root->id && !delta)
		return conf->root->doc_full;
	return CRL_DOC_NONE;
}

static double
crl_min(double a, double b)
{
	return a < b ? a : b;
}

/*
 * The issuing CA's CRL (delta or complete) numbered number, valid from
 * this_update to next_update, is served from now on.
 */
static void
crl_issuer_served(struct crl_issuer *ci, int delta, long long number,
    time_t this_update, time_t next_update)
{
	struct crl_served *sv = &ci->served[delta ? 1 : 0];

	sv->number = number;
	sv->next_update = next_update;
	sv->renew_by = next_update == 0 ? 0 : crlgen_renew_by(
	    (double)this_update, (double)next_update);
}

/* due, or the renewal time of the CRL served (delta or not) when earlier. */
static double
crl_issuer_renew(const struct crl_issuer *ci, int delta, double due)
{
	double by = ci->served[delta ? 1 : 0].renew_by;

	return by > 0 && by < due ? by : due;
}

/*
 * The next base (delta: the next delta) is due by the renewal time of the
 * complete CRL (delta) served, when that comes before the schedule's
 * interval: the CRL may be another instance's, whose policy has a shorter
 * nextUpdate, or one of before a policy change. Until 2026-12-06 only
 * the interval counted, and such a CRL was served expired for hours.
 * Called when a CRL is loaded or the schedule is read, not at each turn
 * of the loop: a failed issuance then waits its back-off.
 */
static void
crl_issuer_due_by(struct crl_issuer *ci, int delta)
{
	const struct crl_served *sv = &ci->served[delta ? 1 : 0];
	double *due = delta ? &ci->delta_due : &ci->base_due;
	char nu[32], by[32];
	struct tm tm;
	time_t t;

	if (ci->conf.key_missing || sv->number == 0 ||
	    crl_issuer_renew(ci, delta, *due) == *due)
		return;
	*due = sv->renew_by;
	gmtime_r(&sv->next_update, &tm);
	strftime(nu, sizeof(nu), "%Y-%m-%dT%H:%M:%SZ", &tm);
	t = (time_t)sv->renew_by;
	gmtime_r(&t, &tm);
	strftime(by, sizeof(by), "%Y-%m-%dT%H:%M:%SZ", &tm);
	log_info("%s CRL %lld of %s expires at %s: the next %s is due by %s, "
	    "before crl.%s_interval_seconds", delta ? "delta" : "complete",
	    sv->number, ci->conf.issuing->name, nu, delta ? "delta" : "base",
	    by, delta ? "delta" : "full");
}

/* The row of stmt_current, copied out of libpq's binary result. */
struct crl_current_row {
	int		 found;
	int		 bad;
	long long	 number;
	time_t		 this_update;
	time_t		 next_update;
	unsigned char	*der;		/* malloc'd */
	size_t		 len;
};

/* A text value of a binary result (libpq ends every value with a NUL). */
static long long
crl_issuer_text_ll(const PGresult *row, int col, int *bad)
{
	char *end;
	long long v;

	v = strtoll(PQgetvalue(row, 0, col), &end, 10);
	if (PQgetisnull(row, 0, col) || *end != '\0' ||
	    end == PQgetvalue(row, 0, col))
		*bad = 1;
	return v;
}

/* db_exec_rows callback of stmt_current. */
static int
crl_issuer_current_row(void *arg, const PGresult *row)
{
	struct crl_current_row *cr = arg;
	int len;

	cr->found = 1;
	if (PQnfields(row) != 4 || PQgetisnull(row, 0, 3) ||
	    (len = PQgetlength(row, 0, 3)) <= 0) {
		cr->bad = 1;
		return -1;
	}
	cr->number = crl_issuer_text_ll(row, 0, &cr->bad);
	cr->this_update = (time_t)crl_issuer_text_ll(row, 1, &cr->bad);
	cr->next_update = (time_t)crl_issuer_text_ll(row, 2, &cr->bad);
	if (cr->bad || (cr->der = malloc((size_t)len)) == NULL) {
		cr->bad = 1;
		return -1;
	}
	memcpy(cr->der, PQgetvalue(row, 0, 3), (size_t)len);
	cr->len = (size_t)len;
	return 0;
}

/* Loads the current CRL of (issuer, kind) from crl_current into the cache. */
static int
crl_issuer_load(struct crl_issuer *ci, long long issuer_id, const char *kind)
{
	int doc = crl_doc_of(&ci->conf, issuer_id, kind);
	const struct crl_ca *ca;
	struct crl_current_row cr;
	char id[24], fname[64], e[256];
	const char *v[2] = { id, kind };
	int rc = -1;

	if (doc == CRL_DOC_NONE)
		return 0;
	memset(&cr, 0, sizeof(cr));
	snprintf(id, sizeof(id), "%lld", issuer_id);
	if (db_exec_rows(ci->db, &stmt_current, v, 1, crl_issuer_current_row,
	    &cr) == -1) {
		if (cr.bad)
			log_err("crl_current row of issuer %s, kind %s: "
			    "unreadable", id, kind);
		goto out;
	}
	if (!cr.found) {
		rc = 0;
		goto out;
	}
	/*
	 * Newer than what we hold: another instance (or pkictl's ceremony)
	 * issued it. Our out_dir gets it too, for the web server reading the
	 * files; our own CRLs were written as they were issued.
	 */
	ca = issuer_id == ci->conf.issuing->id ? ci->conf.issuing :
	    ci->conf.root;
	if (ci->conf.full.out_dir != NULL &&
	    (cr.number > crl_cache_number(ci->conf.cache, doc) ||
	    crl_cache_conflicts(ci->conf.cache, doc, cr.number, cr.der,
	    cr.len))) {
		crlgen_file_name(ca->name, strcmp(kind, "delta") == 0, fname,
		    sizeof(fname));
		if (crlgen_write_file(ci->conf.full.out_dir, fname, cr.der,
		    cr.len, e, sizeof(e)) == -1)
			log_warn("CRL %lld of %s not written: %s", cr.number,
			    ca->name, e);
	}
	if (crl_cache_set(ci->conf.cache, doc, cr.der, cr.len, cr.number,
	    cr.this_update, cr.next_update) == -1) {
		cr.der = NULL;	/* freed by crl_cache_set */
		goto out;
	}
	cr.der = NULL;		/* the cache's now */
	log_info("serving %s CRL %lld of %s", kind, cr.number, ca->name);
	if (issuer_id == ci->conf.issuing->id &&
	    crl_cache_number(ci->conf.cache, doc) == cr.number) {
		crl_issuer_served(ci, strcmp(kind, "delta") == 0, cr.number,
		    cr.this_update, cr.next_update);
		crl_issuer_due_by(ci, strcmp(kind, "delta") == 0);
	}
	rc = 0;
out:
	free(cr.der);
	return rc;
}

/*
 * Loads each CRL of crl_current this instance serves that is newer than the
 * cached one. The crl_issued notification is not enough: its load may have
 * failed, and one that came while db_ready() reconnected inside a statement
 * is lost. No state is kept: what failed to load is still newer at the next
 * call (each reconciliation, and each issuance CRLGEN_IF_CHANGED skipped).
 * 0, or -1 (logged) when a statement or a load failed.
 */
static int
crl_issuer_refresh(struct crl_issuer *ci)
{
	PGresult *res;
	char id[24], root[24];
	const char *v[2] = { id, root };
	long long issuer_id, number;
	int doc, i, rc = 0;

	snprintf(id, sizeof(id), "%lld", ci->conf.issuing->id);
	snprintf(root, sizeof(root), "%lld", ci->conf.root != NULL ?
	    ci->conf.root->id : ci->conf.issuing->id);
	if ((res = db_exec(ci->db, &stmt_numbers, v, NULL, NULL)) == NULL)
		return -1;
	for (i = 0; i < PQntuples(res); i++) {
		issuer_id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		number = strtoll(PQgetvalue(res, i, 2), NULL, 10);
		doc = crl_doc_of(&ci->conf, issuer_id, PQgetvalue(res, i, 1));
		if (doc != CRL_DOC_NONE &&
		    number > crl_cache_number(ci->conf.cache, doc) &&
		    crl_issuer_load(ci, issuer_id, PQgetvalue(res, i, 1)) == -1)
			rc = -1;
	}
	PQclear(res);
	return rc;
}

/*
 * One above the highest number of the issuing CA's CRLs this instance has
 * served or written (its files are loaded at start-up: crl/main.c): the
 * least number its next CRL may take (RFC 5280 §5.2.3), whatever
 * crl_state says after a restore or an asynchronous failover.
 */
static long long
crl_issuer_floor(struct crl_issuer *ci)
{
	long long full = crl_cache_number(ci->conf.cache,
	    ci->conf.issuing->doc_full);
	long long delta = crl_cache_number(ci->conf.cache,
	    ci->conf.issuing->doc_delta);

	return (full > delta ? full : delta) + 1;
}

/* Tells /health how an issuance attempt ended (crl_cache_issuance). */
static void
crl_issuer_counted(struct crl_issuer *ci, const char *error)
{
	if (crl_cache_issuance(ci->conf.cache, ci->conf.issuing->name,
	    error) == -1)
		log_warn("crl: /health cannot count one more CA's issuance");
}

/*
 * Issues one CRL and serves it. 0, or -1 (logged). *due_in (may be NULL):
 * > 0 when CRLGEN_IF_DUE skipped it, the seconds until it is due.
 */
static int
crl_issuer_issue(struct crl_issuer *ci, enum crlgen_kind kind, int flags,
    double *due_in)
{
	struct crlgen_result r;
	struct crlgen_policy pol = kind == CRLGEN_DELTA ? ci->conf.delta :
	    ci->conf.full;
	char err[512], base[40];

	if (due_in != NULL)
		*due_in = 0;
	pol.min_number = crl_issuer_floor(ci);
	if (crlgen_issue(ci->db, ci->conf.actor, &ci->conf.gen, &pol, kind,
	    flags, crl_sign, &ci->conf, &r, err, sizeof(err)) == -1) {
		log_err("CRL: %s", err);
		crl_issuer_counted(ci, err);
		return -1;
	}
	if (!r.issued) {
		/*
		 * CRLGEN_IF_CHANGED: the newest CRL covers every change;
		 * CRLGEN_IF_DUE: another instance issued the scheduled one. If
		 * another instance made it, serve it even when its notification
		 * never came; a failure here is retried at the reconciliation.
		 */
		if (due_in != NULL)
			*due_in = r.due_in;
		(void)crl_issuer_refresh(ci);
		return 0;
	}
	if (kind == CRLGEN_DELTA)
		snprintf(base, sizeof(base), ", base %lld", r.base_number);
	else
		base[0] = '\0';
	crl_issuer_counted(ci, NULL);
	log_info("issued %s CRL %lld of %s (%lld entries, %zu bytes%s; build "
	    "%.3f s, sign %.3f s, record %.3f s)", kind == CRLGEN_DELTA ?
	    "delta" : kind == CRLGEN_BASE ? "base" : "complete", r.number,
	    ci->conf.gen.name, r.entries, r.len, base, r.t_build, r.t_sign,
	    r.t_record);
	/* The cache takes a plain malloc'd block: the DER moved to its start. */
	memmove(r.buf, r.der, r.len);
	if (crl_cache_set(ci->conf.cache, kind == CRLGEN_DELTA ?
	    ci->conf.issuing->doc_delta : ci->conf.issuing->doc_full, r.buf,
	    r.len, r.number,
	    r.this_update, r.next_update) == -1)
		log_warn("CRL %lld issued but not cached", r.number);
	else
		crl_issuer_served(ci, kind == CRLGEN_DELTA, r.number,
		    r.this_update, r.next_update);
	r.buf = NULL;
	crlgen_result_clear(&r);
	/* Its LDAP row is committed: publish it now, on the publisher's thread. */
	crl_publisher_kick(ci->conf.publisher);
	return 0;
}

/*
 * One decimal number of a payload at *s: digits only, no sign, no leading
 * zero (PostgreSQL's bigint text), within a long long; *s moves past it.
 * 0, or -1.
 */
static int
crl_notify_ll(const char **s, long long *v)
{
	size_t n = strspn(*s, "0123456789");
	char *end;

	if (n == 0 || n > 19 || (n > 1 && **s == '0'))
		return -1;
	errno = 0;
	*v = strtoll(*s, &end, 10);
	if (errno != 0 || end != *s + n)
		return -1;
	*s = end;
	return 0;
}

int
crl_notify_parse(const char *channel, const char *payload,
    struct crl_notify *out)
{
	struct crl_notify no;
	const char *s = payload;
	size_t n;

	memset(out, 0, sizeof(*out));
	memset(&no, 0, sizeof(no));
	if (strcmp(channel, "certificate_status") == 0) {
		/* schema/055: the serial as upper-case hex, 1 to 40 digits. */
		if (crl_notify_ll(&s, &no.issuer_id) == -1 || *s++ != ':')
			return -1;
		n = strlen(s);
		if (n < 1 || n > 40 || strspn(s, "0123456789ABCDEF") != n)
			return -1;
		*out = no;
		return 0;
	}
	if (strcmp(channel, "crl_issued") != 0)
		return -1;
	no.issued = 1;
	if (crl_notify_ll(&s, &no.issuer_id) == -1 || *s++ != ':')
		return -1;
	if (strncmp(s, "full:", 5) == 0)
		s += 5;
	else if (strncmp(s, "delta:", 6) == 0) {
		no.delta = 1;
		s += 6;
	} else
		return -1;
	if (crl_notify_ll(&s, &no.number) == -1 || *s != '\0')
		return -1;
	*out = no;
	return 0;
}

/*
 * Follows a notification. certificate_status marks a burst; crl_issued
 * only says a load may be due (*load): the caller reads crl_current's
 * numbers once the queue is drained (crl_issuer_drain).
 */
static void
crl_issuer_notify(struct crl_issuer *ci, const PGnotify *n, double now,
    int *load)
{
	struct crl_notify no;
	int doc;

	if (crl_notify_parse(n->relname, n->extra, &no) == -1)
		return;
	if (!no.issued) {
		if (ci->conf.key_missing || no.issuer_id != ci->conf.issuing->id)
			return;
		if (ci->dirty_first == 0)
			ci->dirty_first = now;
		ci->dirty_last = now;
		return;
	}
	doc = crl_doc_of(&ci->conf, no.issuer_id, no.delta ? "delta" : "full");
	if (doc != CRL_DOC_NONE &&
	    no.number > crl_cache_number(ci->conf.cache, doc))
		*load = 1;
}

/*
 * Follows every notification libpq has received so far. Anyone who can
 * connect may NOTIFY crl_issued with any number: the notification is only
 * a hint. Once the queue is drained, crl_issuer_refresh() reads
 * crl_current's numbers (no DER) and loads only a document whose row
 * there is newer than the one served, each once. Until 2026-12-07 each
 * notification naming a number above the cached one read the whole row
 * (tens of MB for a large CRL), and a number no CRL had never became the
 * cached one: the same payload, sent again and again, made crld read the
 * row again and again.
 */
static void
crl_issuer_drain(struct crl_issuer *ci, double now)
{
	PGnotify *n;
	int load = 0;

	while ((n = PQnotifies(db_conn(ci->db))) != NULL) {
		crl_issuer_notify(ci, n, now, &load);
		PQfreemem(n);
	}
	if (load)
		(void)crl_issuer_refresh(ci);	/* logged */
}

/* Connects, LISTENs, loads what is current and when the last CRLs were made. */
static int
crl_issuer_connect(struct crl_issuer *ci)
{
	char err[512], id[24];
	const char *v[1] = { id };
	PGresult *res = NULL;
	double now = crl_now(), last_base, last_delta;
	int rc = -1;

	db_close(ci->db);
	if ((ci->db = db_connect(ci->conf.conninfo, err, sizeof(err))) ==
	    NULL) {
		log_err("database: %s", err);
		goto out;
	}
	(void)db_set_timeout(ci->db, CRL_DB_TIMEOUT_MS);
	/*
	 * crld may have started while the database was down (crl/main.c):
	 * nothing is issued on a schema too old for crlgen.
	 */
	if (crlgen_schema_check(ci->db, err, sizeof(err)) == -1) {
		log_err("database: %s", err);
		goto out;
	}
	if (db_listen(ci->db, "LISTEN certificate_status; LISTEN crl_issued") ==
	    -1)
		goto out;
	/*
	 * The schedule: the interval after the last base and delta, or
	 * earlier when the CRL served expires first (crl_issuer_due_by, as
	 * each CRL is loaded below).
	 */
	snprintf(id, sizeof(id), "%lld", ci->conf.issuing->id);
	if ((res = db_exec(ci->db, &stmt_last_epoch, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	last_base = (double)strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	last_delta = (double)strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	ci->base_due = last_base + (double)ci->conf.sched.full_interval;
	ci->delta_due = last_delta + (double)ci->conf.sched.delta_interval;
	crl_issuer_due_by(ci, 0);
	crl_issuer_due_by(ci, 1);
	if (crl_issuer_load(ci, ci->conf.issuing->id, "full") == -1 ||
	    crl_issuer_load(ci, ci->conf.issuing->id, "delta") == -1 ||
	    (ci->conf.root != NULL && crl_issuer_load(ci, ci->conf.root->id,
	    "full") == -1))
		goto out;
	/*
	 * crl_state may be behind what we served (a restore, an asynchronous
	 * failover that lost commits): raise it now, so that no instance
	 * issues a number twice (also checked before each issuance).
	 */
	if (crlgen_number_floor(ci->db, ci->conf.actor, ci->conf.issuing->id,
	    ci->conf.issuing->name, crl_issuer_floor(ci), err,
	    sizeof(err)) == -1) {
		log_err("database: %s", err);
		goto out;
	}
	if (ci->conf.root != NULL &&
	    crl_cache_number(ci->conf.cache, ci->conf.root->doc_full) == 0)
		log_warn("no CRL of the root yet: run `pkictl crl arl` at a "
		    "ceremony; /crl/root.crl answers 503 until then");
	/*
	 * A complete CRL must exist before its nextUpdate passes: no gap. A
	 * base asked for (SIGHUP) before a lost connection is still owed.
	 */
	if (crl_cache_number(ci->conf.cache, ci->conf.issuing->doc_full) == 0 ||
	    ci->base_forced) {
		ci->base_due = now;
		ci->base_forced = 1;
	}
	/* Anything revoked while no crld ran is picked up by the reconciliation. */
	ci->dirty_first = now;
	ci->dirty_last = now - (double)ci->conf.sched.coalesce_ms / 1000;
	ci->reconcile_due = now + (double)ci->conf.sched.reconcile_interval;
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/*
 * Tells /health how the database answered this thread (crl_cache_db):
 * unavailable after a command that failed for want of a usable server
 * (db_unavailable(), which the loop clears at each pass; a command past
 * CRL_DB_TIMEOUT_MS too, its connection still CONNECTION_OK), available
 * after a pass whose commands all worked. Until 2026-12-07 a field said
 * PQstatus() == CONNECTION_OK, which a timed-out command leaves so, and
 * nothing read it: /health reported the documents only.
 */
static void
crl_issuer_db_state(struct crl_issuer *ci, int unavailable)
{
	if (crl_cache_db(ci->conf.cache, ci, unavailable) == -1)
		log_warn("crl: /health cannot hold one more database state");
}

static void *
crl_issuer_main(void *arg)
{
	struct crl_issuer *ci = arg;
	const struct crl_schedule *s = &ci->conf.sched;
	struct pollfd pfd[2];
	double now, due, dirty_due = 0, backoff = 1, due_in = 0;
	int stop, kick, fail, tried, timeout_ms;

	for (;;) {
		/*
		 * A kick is cleared once applied, below: one that came while
		 * the database was down is served once it is back (until
		 * 2026-12-06 the failed connection dropped it).
		 */
		pthread_mutex_lock(&ci->t.mtx);
		stop = ci->t.stop;
		kick = ci->kick;
		pthread_mutex_unlock(&ci->t.mtx);
		if (stop)
			break;
		now = crl_now();
		db_unavailable_clear();
		tried = 0;
		if (ci->db == NULL || PQstatus(db_conn(ci->db)) != CONNECTION_OK) {
			if (crl_issuer_connect(ci) == -1) {
				/* No connection to work with, whatever the cause. */
				crl_issuer_db_state(ci, 1);
				db_close(ci->db);
				ci->db = NULL;
				pfd[0].fd = ci->t.wake[0];
				pfd[0].events = POLLIN;
				(void)poll(pfd, 1, (int)(backoff * 1000));
				crl_thread_drain(&ci->t);
				backoff = backoff * 2 > CRL_RECONNECT_MAX_S ?
				    CRL_RECONNECT_MAX_S : backoff * 2;
				continue;
			}
			backoff = 1;
			crl_issuer_db_state(ci, 0);
			/*
			 * The schedule connecting set is of its own clock
			 * reading: with this iteration's earlier one, a base
			 * due "now" was not due yet, and a fresh CA's first
			 * delta came before any base (logged as an error).
			 */
			now = crl_now();
		}
		if (kick) {
			pthread_mutex_lock(&ci->t.mtx);
			ci->kick = 0;
			pthread_mutex_unlock(&ci->t.mtx);
			ci->base_due = now;
			ci->base_forced = 1;
		}
		if (ci->conf.key_missing) {
			/*
			 * Nothing to sign with (crl/main.c): serve what others
			 * issue (notifications, reconciliation), issue nothing.
			 */
			ci->base_due = ci->delta_due = now + CRL_IDLE_S;
			ci->base_forced = 0;
			ci->dirty_first = 0;
		}
		fail = 0;
		tried = ci->base_due <= now || ci->delta_due <= now ||
		    ci->reconcile_due <= now || (ci->dirty_first != 0 &&
		    crl_min(ci->dirty_last + (double)s->coalesce_ms / 1000,
		    ci->dirty_first + (double)s->coalesce_max_ms / 1000) <= now);
		if (ci->dirty_first != 0)
			dirty_due = crl_min(ci->dirty_last +
			    (double)s->coalesce_ms / 1000, ci->dirty_first +
			    (double)s->coalesce_max_ms / 1000);
		if (ci->base_due <= now) {
			/*
			 * The schedule: a base CRL and a delta on it. A failed
			 * one is retried as such after the back-off: the dirty
			 * pass would skip it while nothing was revoked, and the
			 * served CRL's nextUpdate would come closer unrenewed.
			 * Unless asked for (SIGHUP, none held), skipped when
			 * another instance issued a base within the interval
			 * (CRLGEN_IF_DUE): due again when its interval ends.
			 */
			if (crl_issuer_issue(ci, CRLGEN_BASE, ci->base_forced ?
			    0 : CRLGEN_IF_DUE, &due_in) == -1) {
				fail = 1;
				ci->base_due = now + backoff;
				ci->delta_due = now + backoff;
				ci->dirty_first = 0;
			} else if (due_in > 0) {
				ci->base_due = now + due_in;
			} else {
				ci->base_forced = 0;
				ci->base_due = crl_issuer_renew(ci, 0, now +
				    (double)s->full_interval);
				/*
				 * A delta on it, unless another instance's
				 * scheduled delta came on it meanwhile.
				 */
				fail = crl_issuer_issue(ci, CRLGEN_DELTA,
				    CRLGEN_IF_DUE, &due_in) == -1;
				ci->delta_due = now + (fail ? backoff :
				    due_in > 0 ? due_in :
				    (double)s->delta_interval);
				if (!fail && due_in == 0)
					ci->delta_due = crl_issuer_renew(ci, 1,
					    ci->delta_due);
				ci->dirty_first = 0;
			}
		} else if (ci->dirty_first != 0 && dirty_due <= now) {
			/* After revocations: only when something is not covered yet. */
			ci->dirty_first = 0;
			fail = crl_issuer_issue(ci, CRLGEN_FULL,
			    CRLGEN_IF_CHANGED, NULL) == -1 ||
			    crl_issuer_issue(ci, CRLGEN_DELTA,
			    CRLGEN_IF_CHANGED, NULL) == -1;
		} else if (ci->delta_due <= now) {
			fail = crl_issuer_issue(ci, CRLGEN_DELTA, CRLGEN_IF_DUE,
			    &due_in) == -1;
			ci->delta_due = now + (fail ? backoff : due_in > 0 ?
			    due_in : (double)s->delta_interval);
			if (!fail && due_in == 0)
				ci->delta_due = crl_issuer_renew(ci, 1,
				    ci->delta_due);
		}
		if (ci->reconcile_due <= now) {
			/* A CRL whose notification was lost or failed to load. */
			(void)crl_issuer_refresh(ci);
			if (ci->dirty_first == 0 && !ci->conf.key_missing)
				ci->dirty_first = ci->dirty_last = now -
				    (double)s->coalesce_ms / 1000;
			ci->reconcile_due = now + (double)s->reconcile_interval;
		}
		if (fail) {
			/* Retried soon; a lost connection is reopened above. */
			if (ci->dirty_first == 0)
				ci->dirty_first = now;
			ci->dirty_last = now + backoff;
			backoff = backoff * 2 > CRL_RECONNECT_MAX_S ?
			    CRL_RECONNECT_MAX_S : backoff * 2;
		} else
			backoff = 1;

		/*
		 * A notification that arrived while the CRLs above were
		 * issued is already in libpq's queue, not on the socket:
		 * follow it now, or poll would sleep past it.
		 */
		crl_issuer_drain(ci, crl_now());
		/*
		 * What the database said this pass: a failure for want of a
		 * server (a CRL that failed otherwise, at the signer or
		 * with a refused statement, had its answers), else, when a
		 * pass asked it anything, its answers.
		 */
		if (db_unavailable())
			crl_issuer_db_state(ci, 1);
		else if (tried)
			crl_issuer_db_state(ci, 0);

		/* Sleep until the next due time, a notification or a kick. */
		due = crl_min(crl_min(ci->base_due, ci->delta_due),
		    ci->reconcile_due);
		if (ci->dirty_first != 0)
			due = crl_min(due, crl_min(ci->dirty_last +
			    (double)s->coalesce_ms / 1000, ci->dirty_first +
			    (double)s->coalesce_max_ms / 1000));
		now = crl_now();
		timeout_ms = due <= now ? 0 : due - now > 3600 ? 3600000 :
		    (int)((due - now) * 1000) + 1;
		pfd[0].fd = ci->t.wake[0];
		pfd[0].events = POLLIN;
		pfd[1].fd = PQsocket(db_conn(ci->db));
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, timeout_ms) == -1 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents & POLLIN)
			crl_thread_drain(&ci->t);
		if (PQconsumeInput(db_conn(ci->db)) != 1) {
			log_warn("database connection lost: %s",
			    PQerrorMessage(db_conn(ci->db)));
			crl_issuer_db_state(ci, 1);
			continue;
		}
		db_unavailable_clear();
		crl_issuer_drain(ci, crl_now());
		if (db_unavailable())
			crl_issuer_db_state(ci, 1);
	}
	/* A thread stopped (crld's end, a CA that ended) no longer counts. */
	crl_issuer_db_state(ci, 0);
	db_close(ci->db);
	ci->db = NULL;
	return NULL;
}

struct crl_issuer *
crl_issuer_start(const struct crl_issuer_conf *conf, char *err, size_t errlen)
{
	struct crl_issuer *ci;

	if ((ci = calloc(1, sizeof(*ci))) == NULL) {
		snprintf(err, errlen, "calloc: %s", strerror(errno));
		return NULL;
	}
	ci->conf = *conf;
	if (crl_thread_start(&ci->t, "crl", crl_issuer_main, ci, err,
	    errlen) == -1) {
		free(ci);
		return NULL;
	}
	return ci;
}

void
crl_issuer_kick(struct crl_issuer *ci)
{
	pthread_mutex_lock(&ci->t.mtx);
	ci->kick = 1;
	pthread_mutex_unlock(&ci->t.mtx);
	crl_thread_wake(&ci->t);
}

void
crl_issuer_stop(struct crl_issuer *ci)
{
	if (ci == NULL)
		return;
	crl_thread_stop(&ci->t);
	free(ci);
}

static long
crl_vmhwm_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

int
crl_issue_once(const struct crl_issuer_conf *conf)
{
	static const enum crlgen_kind kinds[2] = { CRLGEN_BASE, CRLGEN_DELTA };
	struct crlgen_result r;
	struct db *db = NULL;
	char err[512];
	int i, rc = -1;

	if (conf->key_missing) {
		log_err("no CRL of %s: its key is missing (logged above)",
		    conf->issuing->name);
		return -1;
	}
	if ((db = db_connect(conf->conninfo, err, sizeof(err))) == NULL) {
		log_err("database: %s", err);
		goto out;
	}
	for (i = 0; i < 2; i++) {
		if (crlgen_issue(db, conf->actor, &conf->gen, kinds[i] ==
		    CRLGEN_DELTA ? &conf->delta : &conf->full, kinds[i], 0,
		    crl_sign, (void *)conf, &r, err, sizeof(err)) == -1) {
			log_err("CRL: %s", err);
			goto out;
		}
		printf("{\"kind\":\"%s\",\"number\":%lld,\"entries\":%lld,"
		    "\"bytes\":%zu,\"build_s\":%.4f,\"build_cpu_s\":%.4f,"
		    "\"sign_s\":%.4f,\"record_s\":%.4f,"
		    "\"worker_vmhwm_kib\":%ld}\n",
		    kinds[i] == CRLGEN_DELTA ? "delta" : "base", r.number,
		    r.entries, r.len, r.t_build, r.t_build_cpu, r.t_sign,
		    r.t_record, crl_vmhwm_kib());
		fflush(stdout);
		crlgen_result_clear(&r);
	}
	rc = 0;
out:
	db_close(db);
	return rc;
}
