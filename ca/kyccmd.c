/*
 * pkictl kyc erase [--days N] [--issued-days M]: erases the e-KTP photo and
 * the selfie of every application
 * - that certified nothing (rejected or cancelled) and ended at least N
 *   days ago (default policy/ra.conf kyc.unissued_evidence_days), and
 * - that led to a certificate which expired or was revoked (a hold is no
 *   end) at least M days ago (kyc.issued_evidence_days): its registration
 *   evidence, kept for that retention period.
 * ra/README.md "Evidence retention". The typed KYC data, the
 * identity-verification results and the decisions stay. schema/027 and
 * 030's trigger refuses any other change of ra_kyc, and the evidence of a
 * living certificate.
 *
 * pki_admin may not read the images (schema/110): their sizes come from
 * ra_kyc_evidence_bytes(), and setting them to NULL reads nothing.
 *
 * Batches of KYC_ERASE_BATCH applications, each one transaction: the rows
 * locked, both images set to NULL with evidence_erased_at, and one audit
 * event per application (ra.kyc.erase_evidence: its status, how many
 * bytes went, the retention period; for an issued one the certificate and
 * when it ended). Prints how many applications' evidence was erased, of
 * each sort.
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

/* Columns: application, status, bytes, certificate id, its end (or ''). */
static const struct db_stmt stmt_kyc_erasable = {
	"ca_kyccmd_erasable",
	"SELECT k.application_id, a.status, ra_kyc_evidence_bytes("
	"k.application_id), '', '' FROM ra_kyc k JOIN ra_application a ON "
	"a.id = k.application_id WHERE k.evidence_erased_at IS NULL AND "
	"a.status IN ('rejected', 'cancelled') AND a.updated_at < now() - "
	"make_interval(days => $1::int) ORDER BY k.application_id LIMIT "
	"$2::int FOR UPDATE OF k SKIP LOCKED",
	2
};
static const struct db_stmt stmt_kyc_erasable_issued = {
	"ca_kyccmd_erasable_issued",
	"SELECT k.application_id, a.status, ra_kyc_evidence_bytes("
	"k.application_id), c.id, to_char(certificate_ended_at("
	"c.revoked_at, c.revocation_reason, c.not_after) AT TIME ZONE 'UTC', "
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM ra_kyc k "
	"JOIN ra_application a ON a.id = k.application_id "
	"JOIN issuance_order o ON o.id = a.order_id "
	"JOIN certificate c ON c.id = o.certificate_id "
	"WHERE k.evidence_erased_at IS NULL AND a.status = 'issued' AND "
	"certificate_ended_at(c.revoked_at, c.revocation_reason, c.not_after) "
	"< now() - make_interval(days => $1::int) ORDER BY k.application_id "
	"LIMIT $2::int FOR UPDATE OF k SKIP LOCKED",
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
	const char		*actor;
	const struct db_stmt	*erasable;	/* which sort */
	long			 days;
	int			 done;		/* out: erased in this batch */
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
	if ((res = db_exec(db, e->erasable, v, NULL, NULL)) == NULL)
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
		    (*PQgetvalue(res, i, 3) != '\0' && (json_object_set_new(
		    details, "certificate_id", json_string(PQgetvalue(res, i,
		    3))) == -1 || json_object_set_new(details,
		    "certificate_ended_at", json_string(PQgetvalue(res, i,
		    4))) == -1)) ||
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

/* Every application of one sort, a batch to a transaction; -1 on failure. */
static long
kyc_erase_all(struct db *db, struct kyc_erase *e)
{
	long total = 0;

	do {
		if (db_transaction(db, NULL, 3, kyc_erase_txn, e) == -1) {
			log_err("kyc erase: stopped after %ld applications",
			    total);
			return -1;
		}
		total += e->done;
	} while (e->done == KYC_ERASE_BATCH);
	return total;
}

/* A --days or --issued-days value, 1 to max; -1 if malformed. */
static long
kyc_days(const char *arg, long max)
{
	char *end;
	long n;

	n = strtol(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || n < 1 || n > max)
		return -1;
	return n;
}

static int
kyc_erase(const struct config *cfg, const char *actor, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "days", required_argument, NULL, 'd' },
		{ "issued-days", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	struct ra_policy pol;
	struct kyc_erase unissued, issued;
	struct db *db = NULL;
	long n_unissued, n_issued;
	int ch, rc = 1;

	memset(&unissued, 0, sizeof(unissued));
	memset(&issued, 0, sizeof(issued));
	unissued.actor = issued.actor = actor;
	unissued.erasable = &stmt_kyc_erasable;
	issued.erasable = &stmt_kyc_erasable_issued;
	unissued.days = issued.days = -2;
	optind = 1;
	while ((ch = pkictl_getopt(argc, argv, opts)) != -1) {
		if (ch == 'd' && (unissued.days = kyc_days(optarg,
		    3650)) == -1) {
			log_err("kyc erase: --days must be 1 to 3650");
			return PKICTL_EXIT_USAGE;
		}
		if (ch == 'i' && (issued.days = kyc_days(optarg,
		    36500)) == -1) {
			log_err("kyc erase: --issued-days must be 1 to 36500");
			return PKICTL_EXIT_USAGE;
		}
		if (ch != 'd' && ch != 'i')
			return PKICTL_EXIT_USAGE;
	}
	if (optind != argc)
		return PKICTL_EXIT_USAGE;
	if (unissued.days == -2 || issued.days == -2) {
		if (pkictl_ra_policy(cfg, &pol) == -1)
			return 1;
		if (unissued.days == -2)
			unissued.days = pol.kyc_erase_days;
		if (issued.days == -2)
			issued.days = pol.kyc_erase_issued_days;
	}
	if ((db = pkictl_db(cfg)) == NULL)
		return 1;
	if ((n_unissued = kyc_erase_all(db, &unissued)) == -1 ||
	    (n_issued = kyc_erase_all(db, &issued)) == -1)
		goto out;
	printf("erased\t%ld\nerased_issued\t%ld\n", n_unissued, n_issued);
	log_info("kyc erase: the evidence of %ld applications rejected or "
	    "cancelled over %ld days ago erased, and of %ld whose certificate "
	    "ended over %ld days ago", n_unissued, unissued.days, n_issued,
	    issued.days);
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
