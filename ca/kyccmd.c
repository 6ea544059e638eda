/*
 * pkictl kyc erase [--days N]: erases the e-KTP photo and the selfie of
 * every application that certified nothing (rejected or cancelled) and
 * ended at least N days ago (default policy/ra.conf
 * kyc.unissued_evidence_days; ra/README.md "Evidence retention"). The typed
 * KYC data, the identity-verification results and the decisions stay; the
 * images of an application that led to a certificate are that
 * certificate's registration evidence and are kept. schema/027's trigger
 * refuses any other change of ra_kyc.
 *
 * Batches of KYC_ERASE_BATCH applications, each one transaction: the rows
 * locked, both images set to NULL with evidence_erased_at, and one audit
 * event per application (ra.kyc.erase_evidence: its status and how many
 * bytes went). Prints how many applications' evidence was erased.
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

#define KYC_ERASE_BATCH		200

static const struct db_stmt stmt_kyc_erasable = {
	"ca_kyccmd_erasable",
	"SELECT k.application_id, a.status, octet_length(k.ktp_photo) + "
	"octet_length(k.selfie) FROM ra_kyc k JOIN ra_application a ON "
	"a.id = k.application_id WHERE k.evidence_erased_at IS NULL AND "
	"a.status IN ('rejected', 'cancelled') AND a.updated_at < now() - "
	"make_interval(days => $1::int) ORDER BY k.application_id LIMIT "
	"$2::int FOR UPDATE OF k SKIP LOCKED",
	2
};
static const struct db_stmt stmt_kyc_erase = {
	"ca_kyccmd_erase",
	"UPDATE ra_kyc SET ktp_photo = NULL, selfie = NULL, "
	"evidence_erased_at = now() WHERE application_id = $1 AND "
	"evidence_erased_at IS NULL",
	1
};

struct kyc_erase {
	const char	*actor;
	long		 days;
	int		 done;		/* out: erased in this batch */
};

static int
kyc_erase_txn(struct db *db, void *arg)
{
	struct kyc_erase *e = arg;
	const char *v[2];
	char days[24], batch[24];
	PGresult *res = NULL, *upd = NULL;
	json_t *details = NULL;
	int i, rc = -1;

	e->done = 0;
	snprintf(days, sizeof(days), "%ld", e->days);
	snprintf(batch, sizeof(batch), "%d", KYC_ERASE_BATCH);
	v[0] = days;
	v[1] = batch;
	if ((res = db_exec(db, &stmt_kyc_erasable, v, NULL, NULL)) == NULL)
		goto out;
	for (i = 0; i < PQntuples(res); i++) {
		v[0] = PQgetvalue(res, i, 0);
		if ((upd = db_exec(db, &stmt_kyc_erase, v, NULL, NULL)) ==
		    NULL || strcmp(PQcmdTuples(upd), "1") != 0)
			goto out;
		PQclear(upd);
		upd = NULL;
		if ((details = json_pack("{s:s, s:I, s:I}", "status",
		    PQgetvalue(res, i, 1), "bytes", (json_int_t)strtoll(
		    PQgetvalue(res, i, 2), NULL, 10), "retention_days",
		    (json_int_t)e->days)) == NULL ||
		    audit_append(db, e->actor, "ra.kyc.erase_evidence",
		    "ra_application", v[0], details, NULL) == -1)
			goto out;
		json_decref(details);
		details = NULL;
	}
	e->done = PQntuples(res);
	rc = 0;
out:
	json_decref(details);
	PQclear(upd);
	PQclear(res);
	return rc;
}

static int
kyc_erase(const struct config *cfg, const char *actor, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "days", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct ra_policy pol;
	struct kyc_erase e;
	struct db *db = NULL;
	char *end;
	long total = 0;
	int ch, rc = 1;

	memset(&e, 0, sizeof(e));
	e.actor = actor;
	e.days = -1;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'd')
			return PKICTL_EXIT_USAGE;
		e.days = strtol(optarg, &end, 10);
		if (*optarg == '\0' || *end != '\0' || e.days < 1 ||
		    e.days > 3650) {
			log_err("kyc erase: --days must be 1 to 3650");
			return PKICTL_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return PKICTL_EXIT_USAGE;
	if (e.days == -1) {
		if (pkictl_ra_policy(cfg, &pol) == -1)
			return 1;
		e.days = pol.kyc_erase_days;
	}
	if ((db = pkictl_db(cfg)) == NULL)
		return 1;
	do {
		if (db_transaction(db, NULL, 3, kyc_erase_txn, &e) == -1) {
			log_err("kyc erase: stopped after %ld applications",
			    total);
			goto out;
		}
		total += e.done;
	} while (e.done == KYC_ERASE_BATCH);
	printf("erased\t%ld\n", total);
	log_info("kyc erase: the evidence of %ld applications rejected or "
	    "cancelled over %ld days ago erased", total, e.days);
	rc = 0;
out:
	db_close(db);
	return rc;
}

int
cmd_kyc(const struct config *cfg, const char *actor, int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "erase") == 0)
		return kyc_erase(cfg, actor, argc, argv);
	return PKICTL_EXIT_USAGE;
}
