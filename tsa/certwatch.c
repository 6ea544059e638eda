/*
 * Whether the TSA certificate tsad signs with, or its issuing CA's own
 * certificate, is revoked or on hold (extern.h, struct tsa_revocation):
 * read once at start (tsad_load_certs), then by each worker's watcher
 * thread every TSA_CERT_POLL_S on a connection of its own, so that a
 * revocation or a hold made while tsad runs stops issuance within a few
 * seconds and a hold released resumes it. tsad does not LISTEN, and until
 * 2026-12-07 it read nothing of the kind at all: it signed on with a
 * revoked certificate, also after a restart. A check that fails (the
 * database down) keeps the last state known: the recorder tolerates an
 * outage, and so does issuance.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/db.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "lib/x509ext.h"
#include "tsa/extern.h"

struct tsa_certwatch {
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;		/* stop, CLOCK_MONOTONIC */
	pthread_t		 thread;
	int			 stop;
	struct db		*db;		/* the thread's */
	char			*conninfo;
	long long		 cert_id;
	long			 timeout_ms;
	struct tsa_revocation	 state;		/* under lock */
	atomic_int		 revoked;	/* state.revoked, lock-free */
	time_t			 checked_at;	/* the last check that worked */
};

/*
 * The TSA certificate's own row first, then its issuing CA's own row
 * (each its ca_certificate's row of ca_certificate_status, schema/103,
 * the view cad, rad and signd read); only those revoked or on hold
 * (revoked_at set: a hold released clears it).
 */
static const struct db_stmt stmt_cert_revocation = { "tsa_cert_revocation",
	"SELECT 0 AS k, t.name, t.serial, t.revocation_reason, "
	"to_char(t.revoked_at AT TIME ZONE 'UTC', "
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
	"FROM ca_certificate_status t "
	"WHERE t.id = $1::bigint AND t.revoked_at IS NOT NULL "
	"UNION ALL "
	"SELECT 1, ri.name, ri.serial, ri.revocation_reason, "
	"to_char(ri.revoked_at AT TIME ZONE 'UTC', "
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
	"FROM ca_certificate t JOIN ca_certificate_status ri ON "
	"ri.id = t.issuer_id "
	"WHERE t.id = $1::bigint AND ri.revoked_at IS NOT NULL "
	"ORDER BY 1 LIMIT 1", 1 };

int
tsa_revocation_read(struct db *db, long long cert_id, long timeout_ms,
    struct tsa_revocation *rv)
{
	char id[24];
	const char *values[1] = { id };
	const char *reason;
	PGresult *res;

	memset(rv, 0, sizeof(*rv));
	snprintf(id, sizeof(id), "%lld", cert_id);
	if ((res = db_exec_bounded(db, &stmt_cert_revocation, values,
	    timeout_ms)) == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		rv->revoked = 1;
		rv->issuer = strcmp(PQgetvalue(res, 0, 0), "1") == 0;
		snprintf(rv->name, sizeof(rv->name), "%s", PQgetvalue(res, 0, 1));
		snprintf(rv->serial, sizeof(rv->serial), "%s",
		    PQgetvalue(res, 0, 2));
		rv->reason = (int)strtol(PQgetvalue(res, 0, 3), NULL, 10);
		reason = x509ext_crl_reason_name(rv->reason);
		snprintf(rv->reason_name, sizeof(rv->reason_name), "%s",
		    reason != NULL ? reason : "unknown");
		snprintf(rv->since, sizeof(rv->since), "%s",
		    PQgetvalue(res, 0, 4));
	}
	PQclear(res);
	return 0;
}

void
tsa_revocation_log(const struct tsa_revocation *rv, const char *when)
{
	if (!rv->revoked)
		return;
	log_err("tsa: %s: %s certificate %s (serial %s) is %s (%s, since "
	    "%s): no token is made; every query gets rejection, failInfo "
	    "systemFailure, and /health answers 503 until %s", when,
	    rv->issuer ? "the issuing CA's" : "the TSA", rv->name, rv->serial,
	    rv->reason == TSA_REASON_HOLD ? "on hold" : "revoked",
	    rv->reason_name, rv->since, rv->reason == TSA_REASON_HOLD ?
	    "the hold is released" : "another TSA certificate is issued and "
	    "tsad restarted");
}

/* One check; the state changed is logged once, a failing check once a run. */
static void
cw_check(struct tsa_certwatch *w, int *failing)
{
	struct tsa_revocation rv, old;
	char err[256];

	if (w->db == NULL) {
		if ((w->db = db_connect(w->conninfo, err, sizeof(err))) == NULL) {
			if (!*failing)
				log_warn("tsa: certificate status: database "
				    "unavailable: %s (the last status known "
				    "stands)", err);
			*failing = 1;
			return;
		}
	}
	if (tsa_revocation_read(w->db, w->cert_id, w->timeout_ms, &rv) == -1) {
		if (!*failing)
			log_warn("tsa: certificate status: the check failed "
			    "(why: logged above); the last status known stands");
		*failing = 1;
		return;
	}
	if (*failing)
		log_info("tsa: certificate status: checked again");
	*failing = 0;
	pthread_mutex_lock(&w->lock);
	old = w->state;
	w->state = rv;
	w->checked_at = time(NULL);
	atomic_store(&w->revoked, rv.revoked);
	pthread_mutex_unlock(&w->lock);
	if (rv.revoked && (!old.revoked || old.issuer != rv.issuer ||
	    old.reason != rv.reason))
		tsa_revocation_log(&rv, "certificate status");
	else if (!rv.revoked && old.revoked)
		log_info("tsa: certificate status: %s certificate %s is no "
		    "longer revoked or on hold (the hold was released): "
		    "tokens are issued again", old.issuer ? "the issuing CA's" :
		    "the TSA", old.name);
}

static void *
cw_thread(void *arg)
{
	struct tsa_certwatch *w = arg;
	struct timespec ts;
	int failing = 0;

	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		time_deadline(&ts, CLOCK_MONOTONIC, TSA_CERT_POLL_S * 1000L);
		while (!w->stop && pthread_cond_timedwait(&w->cond, &w->lock,
		    &ts) != ETIMEDOUT)
			;
		if (w->stop)
			break;
		pthread_mutex_unlock(&w->lock);
		cw_check(w, &failing);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

struct tsa_certwatch *
tsa_certwatch_start(const char *conninfo, long long cert_id, long timeout_ms,
    const struct tsa_revocation *initial, char *err, size_t errlen)
{
	struct tsa_certwatch *w;
	struct tsa_revocation rv;
	pthread_condattr_t ca;

	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->conninfo = strdup(conninfo)) == NULL) {
		free(w);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->cert_id = cert_id;
	w->timeout_ms = timeout_ms;
	w->state = *initial;
	w->checked_at = time(NULL);
	/*
	 * Read now, before the worker serves: a worker started again long
	 * after tsad's start would otherwise grant queries on the state of
	 * then until its first poll. The database unavailable: initial
	 * stands, and the thread connects.
	 */
	if ((w->db = db_connect(conninfo, err, errlen)) == NULL)
		log_warn("tsa: certificate status: database unavailable: %s "
		    "(the status read at start stands)", err);
	else if (tsa_revocation_read(w->db, cert_id, timeout_ms, &rv) == 0) {
		if (rv.revoked && !initial->revoked)
			tsa_revocation_log(&rv, "certificate status");
		w->state = rv;
	}
	atomic_init(&w->revoked, w->state.revoked);
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&w->thread, NULL, cw_thread, w) != 0) {
		snprintf(err, errlen, "pthread_create failed");
		db_close(w->db);
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->cond);
		free(w->conninfo);
		free(w);
		return NULL;
	}
	return w;
}

void
tsa_certwatch_state(struct tsa_certwatch *w, struct tsa_revocation *rv,
    time_t *checked_at)
{
	pthread_mutex_lock(&w->lock);
	*rv = w->state;
	if (checked_at != NULL)
		*checked_at = w->checked_at;
	pthread_mutex_unlock(&w->lock);
}

int
tsa_certwatch_revoked(struct tsa_certwatch *w)
{
	/* Asked once per query: a load, not the lock the watcher takes. */
	return atomic_load(&w->revoked);
}

void
tsa_certwatch_stop(struct tsa_certwatch *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	/* A check under way ends within timeout_ms (db_exec_bounded). */
	pthread_join(w->thread, NULL);
	db_close(w->db);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w->conninfo);
	free(w);
}
