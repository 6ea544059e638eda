/*
 * pkictl purge [--days N]: deletes what ended at least N days ago (default
 * policy/ra.conf retention.ended_days): log-in sessions of subscribers and
 * officers, one-time codes, email-verification and password-reset tokens
 * that expired, and LDAP publications done (ra/README.md "Retention").
 * schema/053's ra_purge_ended() decides what has ended; pki_admin has no
 * DELETE of its own on those tables.
 *
 * One transaction: the deletions and one audit event (retention.purge:
 * the retention period and how many rows of each table went), written
 * only when something went, so a daily timer adds no event to a quiet
 * trail. Prints "<table>\t<count>" per table.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "ca/extern.h"
#include "lib/audit.h"
#include "lib/config.h"
#include "lib/db.h"
#include "lib/log.h"
#include "ra/extern.h"

static const struct db_stmt stmt_purge = {
	"ca_purgecmd_purge",
	"SELECT ra_purge_ended($1::int)",
	1
};

struct purge {
	const char	*actor;
	long		 days;
	json_t		*counts;	/* out: { table: rows } */
};

static int
purge_txn(struct db *db, void *arg)
{
	struct purge *p = arg;
	const char *v[1];
	char days[24];
	PGresult *res;
	json_t *details = NULL;
	json_int_t total = 0;
	const char *table;
	json_t *n;
	int rc = -1;

	json_decref(p->counts);
	p->counts = NULL;
	snprintf(days, sizeof(days), "%ld", p->days);
	v[0] = days;
	if ((res = db_exec(db, &stmt_purge, v, NULL, NULL)) == NULL)
		return -1;
	if (PQntuples(res) != 1 || (p->counts = json_loads(PQgetvalue(res,
	    0, 0), 0, NULL)) == NULL || !json_is_object(p->counts)) {
		log_err("purge: ra_purge_ended() answered no object");
		goto out;
	}
	json_object_foreach(p->counts, table, n)
		total += json_integer_value(n);
	if (total == 0) {
		rc = 0;
		goto out;
	}
	if ((details = json_pack("{s:I, s:O}", "retention_days",
	    (json_int_t)p->days, "deleted", p->counts)) == NULL ||
	    audit_append(db, p->actor, "retention.purge", "retention", NULL,
	    details, NULL) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

int
cmd_purge(const struct config *cfg, const char *actor, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "days", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct ra_policy pol;
	struct purge p;
	struct db *db;
	const char *table;
	json_t *n;
	char *end;
	int ch, rc = PKICTL_EXIT_FAIL;

	memset(&p, 0, sizeof(p));
	p.actor = actor;
	p.days = -1;
	optind = 1;
	while ((ch = pkictl_getopt(argc, argv, opts)) != -1) {
		if (ch != 'd')
			return PKICTL_EXIT_USAGE;
		p.days = strtol(optarg, &end, 10);
		if (*optarg == '\0' || *end != '\0' || p.days < 1 ||
		    p.days > 3650) {
			log_err("purge: --days must be 1 to 3650");
			return PKICTL_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return PKICTL_EXIT_USAGE;
	if (pkictl_ra_policy(cfg, &pol) == -1)
		return PKICTL_EXIT_FAIL;
	if (p.days == -1)
		p.days = pol.purge_days;
	if ((db = pkictl_db(cfg)) == NULL)
		return PKICTL_EXIT_FAIL;
	if (db_transaction(db, NULL, 3, purge_txn, &p) == -1) {
		log_err("purge: nothing deleted");
		goto out;
	}
	json_object_foreach(p.counts, table, n)
		printf("%s\t%" JSON_INTEGER_FORMAT "\n", table,
		    json_integer_value(n));
	log_info("purge: what ended over %ld days ago deleted", p.days);
	rc = PKICTL_EXIT_OK;
out:
	json_decref(p.counts);
	db_close(db);
	return rc;
}
