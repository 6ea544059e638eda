/*
 * crld's publishing thread: LDAP publication of the publish_queue
 * (lib/publish.c publish_run) on a PostgreSQL connection of its own, apart
 * from the issuing thread (crl/issuer.c). A directory that never answers
 * holds a round for libldap's time-outs (lib/ldappub.c: 5 s to connect,
 * 10 s per operation); on this thread that wait delays only publication,
 * never a CRL. Until 2026-12-05 the issuing thread published too, and a
 * silent directory held each revocation off the served CRL for up to
 * ~10 s, every publish_interval_seconds (test_crl.sh, "silent directory").
 *
 * A round: publish_run with a CRL_PUBLISH_BUDGET_S budget, again at once
 * while rows are left due (a backlog), otherwise after publish_interval or
 * when kicked (the issuer, once a CRL it queued is committed; stop).
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "crl/extern.h"
#include "lib/db.h"
#include "lib/log.h"
#include "lib/publish.h"

#define CRL_PUBLISH_RECONNECT_MAX_S	30
/* Seconds of LDAP publication per round (checked before each row). */
#define CRL_PUBLISH_BUDGET_S		1.0

struct crl_publisher {
	const char		*conninfo;
	const char		*actor;
	struct ldappub_conf	 ldap;
	long			 interval;	/* s between rounds */
	struct crl_thread	 t;
	struct db		*db;
};

/*
 * Sleeps up to ms milliseconds, or until kicked or stopped. A kick that
 * came while a round ran is still in the pipe: the next sleep ends at once.
 */
static void
crl_publisher_sleep(struct crl_publisher *cp, long ms)
{
	struct pollfd pfd;

	pfd.fd = cp->t.wake[0];
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (poll(&pfd, 1, ms > 3600000 ? 3600000 : (int)ms) == -1 &&
	    errno != EINTR)
		log_warn("publisher: poll: %s", strerror(errno));
	crl_thread_drain(&cp->t);
}

static void *
crl_publisher_main(void *arg)
{
	struct crl_publisher *cp = arg;
	char err[512];
	double backoff = 1;
	int more;

	while (!crl_thread_stopping(&cp->t)) {
		if (cp->db == NULL ||
		    PQstatus(db_conn(cp->db)) != CONNECTION_OK) {
			db_close(cp->db);
			if ((cp->db = db_connect(cp->conninfo, err,
			    sizeof(err))) == NULL) {
				log_err("publisher: database: %s", err);
				crl_publisher_sleep(cp, (long)(backoff * 1000));
				backoff = backoff * 2 > CRL_PUBLISH_RECONNECT_MAX_S ?
				    CRL_PUBLISH_RECONNECT_MAX_S : backoff * 2;
				continue;
			}
		}
		more = 0;
		/*
		 * Directory failures are logged per row and retried by the
		 * queue's own back-off; -1 is the database's (logged by
		 * lib/db.c): tried again after our back-off, on a new
		 * connection when this one is gone.
		 */
		if (publish_run(cp->db, &cp->ldap, cp->actor,
		    CRL_PUBLISH_BUDGET_S, &more) == -1) {
			log_warn("publisher: LDAP publication round failed "
			    "(database); again in %.0f s", backoff);
			crl_publisher_sleep(cp, (long)(backoff * 1000));
			backoff = backoff * 2 > CRL_PUBLISH_RECONNECT_MAX_S ?
			    CRL_PUBLISH_RECONNECT_MAX_S : backoff * 2;
			continue;
		}
		backoff = 1;
		/* A backlog: the next round at once. */
		if (!more)
			crl_publisher_sleep(cp, cp->interval * 1000);
	}
	db_close(cp->db);
	cp->db = NULL;
	return NULL;
}

struct crl_publisher *
crl_publisher_start(const struct crl_issuer_conf *conf, char *err,
    size_t errlen)
{
	struct crl_publisher *cp;

	if ((cp = calloc(1, sizeof(*cp))) == NULL) {
		snprintf(err, errlen, "calloc: %s", strerror(errno));
		return NULL;
	}
	cp->conninfo = conf->conninfo;
	cp->actor = conf->actor;
	cp->ldap = conf->ldap;
	cp->interval = conf->sched.publish_interval;
	if (crl_thread_start(&cp->t, "publisher", crl_publisher_main, cp, err,
	    errlen) == -1) {
		free(cp);
		return NULL;
	}
	return cp;
}

void
crl_publisher_kick(struct crl_publisher *cp)
{
	if (cp != NULL)
		crl_thread_wake(&cp->t);
}

void
crl_publisher_stop(struct crl_publisher *cp)
{
	if (cp == NULL)
		return;
	crl_thread_stop(&cp->t);
	free(cp);
}
