/*
 * A subscriber's certificates at the RA (ra/README.md "Certificates"):
 *
 *  GET  /v1/applications/{id}/agreement	the certificate to be issued
 *  POST /v1/applications/{id}/agreement	"I agree" + factor → issuance order
 *  GET  /v1/certificates, /v1/certificates/{id}	status, PEM, history
 *  POST /v1/certificates/{id}/revoke	reason 0 or 9 + factor; final
 *  POST /v1/certificates/{id}/rekey	+ factor → a rekey application
 *
 * Each change runs in one transaction with its audit event; each factor is
 * checked there by ra_factor_check (extern.h contract): state refusals come
 * first and change nothing, then the factor, whose failure record alone
 * commits. The subject of a certificate comes only from the verified KYC
 * row of the application (ra_kyc), never from a request. The notifier
 * (notifier.c) finishes what cad started.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/evp.h>

#include "lib/audit.h"
#include "lib/config.h"
#include "lib/db.h"
#include "lib/hex.h"
#include "lib/http.h"
#include "lib/log.h"
#include "ra/extern.h"

#define RA_DN_MAX	1024

/* The issuing CA of an agreement (ra_cert_issuer). */
struct ra_issuer {
	char	 id[24];		/* ca_certificate.id */
	char	 subject[RA_DN_MAX];
	char	 root[RA_DN_MAX];
	char	 not_after[32];		/* RFC 3339 */
	char	 stopped[16];		/* "on hold", "revoked", "ending" or "" */
	long	 validity_days;		/* the profile's, cut to not_after */
};

struct ra_cert {
	long			 validity_days;	/* of the agreement profile */
	long			 corporate_days;	/* of profile corporate */
	long			 eseal_days;	/* of profile eseal */
	char			 issuer[64];	/* ca_certificate.name (cad.issuer) */
	struct ra_notifier	*notifier;
};

/*
 * The subject, from the KYC row (C=ID, CN, serialNumber NIK:<nik>) and, for
 * an employee's corporate application (or its rekey), O: the company's name
 * that rad put in the application's subject at submission (kyc.c, from the
 * approved company the account is an employee of; the application's subject
 * is immutable). Without it the order lacked the O that the corporate
 * profile requires, and cad's lint failed every corporate order. An
 * e-seal's subject is the application's own, which rad built from the
 * approved company at submission (corporate.c). NULL without a KYC row
 * otherwise (a company application): nothing to agree to here.
 */
#define RA_KYC_SUBJECT \
	"CASE WHEN k.application_id IS NOT NULL THEN " \
	"(jsonb_build_object('C', 'ID', 'CN', k.full_name, 'serialNumber', " \
	"'NIK:' || k.nik) || CASE WHEN a.profile = 'corporate' THEN " \
	"jsonb_build_object('O', a.subject->>'O') ELSE '{}'::jsonb END)::text " \
	"WHEN a.profile = 'eseal' THEN a.subject::text END"

static const struct db_stmt stmt_agree_app = {
	"ra_cert_agreement_application",
	"SELECT a.status, a.kind, a.profile, " RA_KYC_SUBJECT ", "
	"a.previous_certificate_id, a.order_id, o.status, o.last_error, "
	"o.certificate_id, " RA_TS("a.agreed_at") ", o.key_type, "
	"coalesce(o.issuer_id::text, '') "
	"FROM ra_application a LEFT JOIN ra_kyc k ON k.application_id = a.id "
	"LEFT JOIN issuance_order o ON o.id = a.order_id "
	"WHERE a.id = $1 AND a.account_id = $2",
	2
};
static const struct db_stmt stmt_agree_app_lock = {
	"ra_cert_agreement_application_lock",
	"SELECT a.status, a.kind, a.profile, " RA_KYC_SUBJECT ", "
	"a.previous_certificate_id, "
	"coalesce(ra_company_active(ra_application_company(a.id)), true) "
	"FROM ra_application a LEFT JOIN ra_kyc k ON k.application_id = a.id "
	"WHERE a.id = $1 AND a.account_id = $2 FOR UPDATE OF a",
	2
};
/*
 * The certificate a rekey replaces, still standing (RA_REKEY_PREVIOUS_WHY):
 * the rekey checks ran when it was requested, and it may since have been
 * revoked, held or expired. FOR SHARE: a revocation waits for this
 * agreement, and the notifier deals with one that comes after it
 * (ra/notifier.c).
 */
static const struct db_stmt stmt_agree_previous = {
	"ra_cert_agreement_previous",
	"SELECT " RA_REKEY_PREVIOUS_WHY("c") " "
	"FROM certificate c WHERE c.id = $1 FOR SHARE OF c",
	1
};
/*
 * The issuing CA of an agreement: the order's ($2, its ca_certificate id)
 * once agreed, else the one named $1 (cad.issuer), which the order will
 * name. With its root, its notAfter, why cad would not issue under it now
 * ("on hold", "revoked": its own certificate's row, as cad's claim reads
 * it, ca/worker/issue.c CAD_ISSUER_REVOKED; "ending": its notAfter within
 * $3 s, which cad's lint refuses) or "", and the days of validity $4 cut
 * to what is left of the issuer's (RFC 5280 §6.1.3: cad clamps notAfter
 * to the issuer's, ca/profile.c).
 */
static const struct db_stmt stmt_agree_issuer = {
	"ra_cert_agreement_issuer",
	"SELECT i.id, i.subject, coalesce(r.subject, i.subject), "
	RA_TS("i.not_after") ", " RA_ISSUER_STOPPED("$3") ", "
	"greatest(0, least($4::bigint, floor(extract(epoch FROM i.not_after - "
	"now()) / 86400)::bigint)) "
	"FROM ca_certificate i LEFT JOIN ca_certificate r ON r.id = i.issuer_id "
	RA_ISSUER_STOPPED_JOIN
	"WHERE i.role = 'issuing' AND (i.id = nullif($2, '')::bigint OR "
	"($2 = '' AND i.name = $1))",
	4
};
static const struct db_stmt stmt_agree_order = {
	"ra_cert_agreement_order_insert",
	"INSERT INTO issuance_order (kind, profile, subject, key_type, "
	"requested_by, issuer_id) VALUES ($1, $2, $3::jsonb, $4, $5, "
	"$6::bigint) RETURNING id",
	6
};
static const struct db_stmt stmt_agree_update = {
	"ra_cert_agreement_application_agreed",
	"UPDATE ra_application SET status = 'agreed', agreed_at = now(), "
	"order_id = $2 WHERE id = $1 AND status = 'approved'",
	2
};

/*
 * One certificate of the account, as the subscriber sees it. Its status is
 * its own revocation, else its issuing CA's (x: that CA's certificate, when
 * revoked or on hold), under which no relying party accepts it, else its
 * validity. rekey_from: rekey.window_days before not_after, or when its
 * issuing CA's certificate was revoked for good if that came first
 * (ra_rekey_txn).
 */
#define RA_CERT_COLUMNS \
	"c.id, c.serial, c.subject, i.subject, coalesce(r.subject, i.subject), " \
	"c.profile, " RA_TS("c.not_before") ", " RA_TS("c.not_after") ", " \
	"CASE WHEN c.revoked_at IS NOT NULL AND c.revocation_reason = 6 " \
	"THEN 'on-hold' WHEN c.revoked_at IS NOT NULL THEN 'revoked' " \
	"WHEN x.revocation_reason = 6 THEN 'issuer-on-hold' " \
	"WHEN x.id IS NOT NULL THEN 'issuer-revoked' " \
	"WHEN c.not_after <= now() THEN 'expired' ELSE 'valid' END, " \
	RA_TS("c.revoked_at") ", c.revocation_reason, a.id, a.kind, " \
	RA_TS("CASE WHEN x.revocation_reason <> 6 THEN least(x.revoked_at, " \
	"c.not_after - make_interval(days => $2::int)) ELSE c.not_after - " \
	"make_interval(days => $2::int) END") " "
#define RA_CERT_FROM \
	"FROM ra_application a JOIN issuance_order o ON o.id = a.order_id " \
	"JOIN certificate c ON c.id = o.certificate_id " \
	"JOIN ca_certificate i ON i.id = c.issuer_id " \
	"LEFT JOIN ca_certificate r ON r.id = i.issuer_id " \
	RA_ISSUER_STOPPED_JOIN
enum {
	CC_ID, CC_SERIAL, CC_SUBJECT, CC_ISSUER, CC_ROOT, CC_PROFILE, CC_NB,
	CC_NA, CC_STATUS, CC_REVOKED_AT, CC_REASON, CC_APP, CC_KIND,
	CC_REKEY_FROM, CC_NCOLS
};
static const struct db_stmt stmt_cert_list = {
	"ra_cert_list",
	"SELECT " RA_CERT_COLUMNS RA_CERT_FROM "WHERE a.account_id = $1 "
	"ORDER BY c.id DESC LIMIT 100",
	2
};
static const struct db_stmt stmt_cert_get = {
	"ra_cert_get",
	"SELECT " RA_CERT_COLUMNS ", c.der " RA_CERT_FROM
	"WHERE a.account_id = $1 AND c.id = $3",
	3
};
static const struct db_stmt stmt_cert_history = {
	"ra_cert_get_history",
	"SELECT " RA_TS("at") ", action, actor_kind FROM "
	"ra_application_history($1) ORDER BY id",
	1
};
/*
 * The previous certificate's application too: a rekey continues it. For a
 * rekey also why it can no longer be rekeyed (RA_REKEY_PREVIOUS_WHY), and
 * when its issuing CA's own certificate was revoked for good ("" if not)
 * and that CA's subject: the rekey window does not apply then.
 */
static const struct db_stmt stmt_cert_lock = {
	"ra_cert_revoke_rekey_lock",
	"SELECT c.serial, c.revoked_at IS NOT NULL AND c.revocation_reason <> 6, "
	"c.not_after <= now(), "
	"now() >= c.not_after - make_interval(days => $3::int), "
	RA_TS("(c.not_after - make_interval(days => $3::int))") ", "
	"a.id, a.profile, a.subject::text, "
	"EXISTS (SELECT 1 FROM ra_application p WHERE p.account_id = a.account_id "
	"AND p.status IN ('submitted', 'approved', 'agreed') AND "
	"p.profile <> 'company'), c.revocation_reason = 6, "
	"EXISTS (SELECT 1 FROM ra_revocation_request r WHERE "
	"r.certificate_id = c.id AND r.status = 'pending'), "
	"coalesce(" RA_REKEY_PREVIOUS_WHY("c") ", ''), "
	"CASE WHEN x.revocation_reason <> 6 THEN " RA_TS("x.revoked_at")
	" ELSE '' END, i.subject, "
	"coalesce((SELECT n.serial FROM ra_application r JOIN issuance_order "
	"ro ON ro.id = r.order_id JOIN certificate n ON n.id = "
	"ro.certificate_id WHERE r.previous_certificate_id = c.id AND "
	"r.status = 'issued' ORDER BY r.id DESC LIMIT 1), '') "
	"FROM ra_application a JOIN issuance_order o ON o.id = a.order_id "
	"JOIN certificate c ON c.id = o.certificate_id "
	"JOIN ca_certificate i ON i.id = c.issuer_id "
	RA_ISSUER_STOPPED_JOIN
	"WHERE a.account_id = $1 AND c.id = $2 FOR UPDATE OF c",
	3
};
enum {
	CL_SERIAL, CL_REVOKED, CL_EXPIRED, CL_IN_WINDOW, CL_REKEY_FROM,
	CL_APP, CL_PROFILE, CL_SUBJECT, CL_OPEN_APP, CL_ON_HOLD,
	CL_COMPANY_REQUEST, CL_REKEY_WHY, CL_ISSUER_REVOKED_AT, CL_ISSUER,
	CL_REKEYED_BY, CL_NCOLS
};
static const struct db_stmt stmt_cert_revoke = {
	"ra_cert_revoke_update",
	"UPDATE certificate SET revoked_at = now(), revocation_reason = $2::int, "
	"revoked_by = $3 WHERE id = $1 AND revoked_at IS NULL RETURNING "
	RA_TS("revoked_at"),
	3
};
static const struct db_stmt stmt_rekey_insert = {
	"ra_cert_rekey_application_insert",
	"INSERT INTO ra_application (account_id, kind, profile, subject, "
	"previous_certificate_id) VALUES ($1, 'rekey', $2, $3::jsonb, $4) "
	"RETURNING id",
	4
};
/*
 * An employee's corporate certificate stays the company's: the rekey
 * application gets the previous one's company link (its sysadmin may ask
 * to revoke the new certificate as it could the old one).
 */
static const struct db_stmt stmt_rekey_company = {
	"ra_cert_rekey_company_link",
	"INSERT INTO ra_company_application (application_id, company_id) "
	"SELECT $1, company_id FROM ra_company_application "
	"WHERE application_id = $2",
	2
};
/* The verified identity goes with the rekey: a copy of the KYC row. */
static const struct db_stmt stmt_rekey_kyc = {
	"ra_cert_rekey_kyc_copy",
	"INSERT INTO ra_kyc (application_id, nik, full_name, birth_place, "
	"birth_date, sex, address, ktp_photo, ktp_mime, selfie, selfie_mime, "
	"consent_privacy_policy, consent_subscriber_agreement, "
	"consent_guarantee_policy, consented_at, idv_adapter, idv_ocr, "
	"idv_liveness, idv_match, idv_reference, min_liveness, min_match) "
	"SELECT $1, nik, full_name, birth_place, birth_date, sex, address, "
	"ktp_photo, ktp_mime, selfie, selfie_mime, consent_privacy_policy, "
	"consent_subscriber_agreement, consent_guarantee_policy, consented_at, "
	"idv_adapter, idv_ocr, idv_liveness, idv_match, idv_reference, "
	"min_liveness, min_match FROM ra_kyc WHERE application_id = $2",
	2
};

enum ra_cert_outcome {
	RA_CO_DONE = 0,
	RA_CO_NOT_FOUND,	/* 404 */
	RA_CO_STATE,		/* 409, detail in the txn */
	RA_CO_FACTOR,		/* ra_factor_respond() */
	RA_CO_UNSUPPORTED,	/* 409: a company application, no key */
	RA_CO_TOO_MANY,		/* 429: kyc.per_day, retry_after */
	RA_CO_ISSUER,		/* 503: no issuance under the issuer now */
};

/* --- start-up ----------------------------------------------------------------- */

/*
 * validity_days of the [ profile ] section of policy_dir/profiles/name.cnf
 * (an OpenSSL config file of our own; cad reads the same key). 0 or -1.
 */
static int
ra_cert_profile_days(const char *policy_dir, const char *name, long *days)
{
	char path[1024], line[512], *p, *e;
	FILE *f = NULL;
	int in = 0, rc = -1;
	long v;

	*days = 0;
	snprintf(path, sizeof(path), "%s/profiles/%s.cnf", policy_dir, name);
	if ((f = fopen(path, "r")) == NULL) {
		log_err("agreement: cannot open profile %s", path);
		goto out;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '[') {
			in = strncmp(p, "[ profile ]", 11) == 0 ||
			    strncmp(p, "[profile]", 9) == 0;
			continue;
		}
		if (!in || strncmp(p, "validity_days", 13) != 0)
			continue;
		for (p += 13; *p == ' ' || *p == '\t' || *p == '='; p++)
			;
		v = strtol(p, &e, 10);
		if (e == p || v < 1 || v > 3660) {
			log_err("agreement: %s: validity_days unreadable", path);
			goto out;
		}
		*days = v;
		rc = 0;
		goto out;
	}
	log_err("agreement: %s: no validity_days in [ profile ]", path);
out:
	if (f != NULL)
		fclose(f);
	return rc;
}

/* The validity in days of the certificate an application's profile gets. */
static long
ra_cert_validity(const struct ra_cert *c, const char *profile)
{
	if (strcmp(profile, "eseal") == 0)
		return c->eseal_days;
	if (strcmp(profile, "corporate") == 0)
		return c->corporate_days;
	return c->validity_days;
}

/*
 * cad takes only the orders of its cad.profiles (ca/README.md): where this
 * configuration names them, the agreement's profile must be among them, or
 * every personal order would wait for a cad that never takes it. 0 or -1
 * (logged).
 */
static int
ra_cert_profile_served(const struct config *cfg, const char *profile)
{
	const char *served = config_get(cfg, "cad.profiles", NULL);

	if (served == NULL || ra_word_in(served, profile))
		return 0;
	log_err("agreement.profile %s is not among cad.profiles (%s): cad "
	    "would never take its orders", profile, served);
	return -1;
}

int
ra_certificate_init(struct ra *ra, const struct config *cfg)
{
	struct ra_cert *c = NULL;
	const char *uri, *dir;
	char err[512];
	int rc = -1;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_err("calloc: out of memory");
		goto out;
	}
	dir = config_get(cfg, "pki.policy_dir", "policy");
	if (ra_cert_profile_served(cfg, ra->policy->agreement_profile) == -1 ||
	    ra_cert_profile_days(dir, ra->policy->agreement_profile,
	    &c->validity_days) == -1 ||
	    ra_cert_profile_days(dir, "corporate", &c->corporate_days) == -1 ||
	    ra_cert_profile_days(dir, "eseal", &c->eseal_days) == -1)
		goto out;
	snprintf(c->issuer, sizeof(c->issuer), "%s",
	    config_get(cfg, "cad.issuer", "issuing"));
	if ((uri = config_get(cfg, "pg.ra_uri", NULL)) == NULL) {
		log_err("config: pg.ra_uri missing");
		goto out;
	}
	ra->cert = c;
	if ((c->notifier = ra_notifier_start(ra, uri,
	    ra->policy->notifier_interval_s, err, sizeof(err))) == NULL) {
		log_err("notifier: %s", err);
		ra->cert = NULL;
		goto out;
	}
	c = NULL;
	rc = 0;
out:
	free(c);
	return rc;
}

void
ra_certificate_free(struct ra *ra)
{
	if (ra->cert == NULL)
		return;
	ra_notifier_stop(ra->cert->notifier);
	free(ra->cert);
	ra->cert = NULL;
}

/* --- helpers -------------------------------------------------------------------- */

/*
 * The issuing CA of an agreement (stmt_agree_issuer): the order's,
 * order_issuer (its ca_certificate id as text) when not "", else rad's
 * cad.issuer; validity_days is the profile's, cut to the issuer's notAfter
 * (validity_days in *is). 0, or -1 (logged: no such issuing CA).
 */
static int
ra_cert_issuer(struct ra *ra, struct db *db, const char *order_issuer,
    long validity_days, struct ra_issuer *is)
{
	const char *v[4];
	char min[24], days[24];
	PGresult *res;

	memset(is, 0, sizeof(*is));
	snprintf(min, sizeof(min), "%d", RA_ISSUER_MIN_REMAINING_S);
	snprintf(days, sizeof(days), "%ld", validity_days);
	v[0] = ra->cert->issuer;
	v[1] = order_issuer;
	v[2] = min;
	v[3] = days;
	if ((res = db_exec(db, &stmt_agree_issuer, v, NULL, NULL)) == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		if (order_issuer[0] != '\0')
			log_err("agreement: no issuing CA certificate of id %s",
			    order_issuer);
		else
			log_err("agreement: no issuing CA certificate named %s "
			    "(cad.issuer)", v[0]);
		PQclear(res);
		return -1;
	}
	snprintf(is->id, sizeof(is->id), "%s", PQgetvalue(res, 0, 0));
	snprintf(is->subject, sizeof(is->subject), "%s", PQgetvalue(res, 0, 1));
	snprintf(is->root, sizeof(is->root), "%s", PQgetvalue(res, 0, 2));
	snprintf(is->not_after, sizeof(is->not_after), "%s",
	    PQgetvalue(res, 0, 3));
	snprintf(is->stopped, sizeof(is->stopped), "%s", PQgetvalue(res, 0, 4));
	is->validity_days = strtol(PQgetvalue(res, 0, 5), NULL, 10);
	PQclear(res);
	return 0;
}

/*
 * Why no certificate would be issued under the issuing CA *is: a problem
 * detail (503) in why, or "" when cad will issue under it.
 */
static void
ra_cert_issuer_why(const struct ra_issuer *is, char *why, size_t len)
{
	why[0] = '\0';
	if (strcmp(is->stopped, "ending") == 0)
		snprintf(why, len, "the issuing CA's certificate ends at %s: "
		    "no certificate is issued under it now; try again once the "
		    "provider has moved to its new issuing CA", is->not_after);
	else if (is->stopped[0] != '\0')
		snprintf(why, len, "the issuing CA's certificate is %s: no "
		    "certificate is issued under it now; try again later",
		    is->stopped);
}

/* The order's kind from the profile (schema/007 issuance_order.kind). */
static const char *
ra_cert_order_kind(const char *profile)
{
	if (strcmp(profile, "corporate") == 0 || strcmp(profile, "eseal") == 0)
		return profile;
	return "personal";
}

/* DER → PEM (RFC 7468 §2: 64 characters a line); malloc'd, or NULL. */
static char *
ra_cert_pem(const unsigned char *der, size_t len)
{
	static const char head[] = "-----BEGIN CERTIFICATE-----\n";
	static const char tail[] = "-----END CERTIFICATE-----\n";
	char *pem;
	size_t off, n, i;

	if ((pem = malloc(sizeof(head) + (len / 48 + 1) * 66 + sizeof(tail))) ==
	    NULL)
		return NULL;
	memcpy(pem, head, sizeof(head) - 1);
	off = sizeof(head) - 1;
	for (i = 0; i < len; i += 48) {
		n = len - i < 48 ? len - i : 48;
		off += (size_t)EVP_EncodeBlock((unsigned char *)pem + off,
		    der + i, (int)n);
		pem[off++] = '\n';
	}
	memcpy(pem + off, tail, sizeof(tail));
	return pem;
}

/* The factor kind (and OTP id) for audit details. */
static int
ra_cert_factor_details(json_t *d, const struct factor_outcome *fo)
{
	if (json_object_set_new(d, "factor", json_string(fo->kind)) == -1)
		return -1;
	if (fo->otp_id > 0 && json_object_set_new(d, "otp_id",
	    json_integer(fo->otp_id)) == -1)
		return -1;
	return 0;
}

/* --- GET /v1/applications/{id}/agreement ----------------------------------------- */

/*
 * The terms an agreement binds, as the preview shows them and the
 * agreement must name them back ("terms"): SHA-256 over the agreement
 * version, the profile, key type, the profile's validity, the issuing CA
 * and its notAfter, and the subject, each ended by a NUL. The validity
 * shown (the profile's, cut to the days left until the issuer's notAfter)
 * follows from those two and the clock, which would change the terms at
 * a day's turn between a subscriber's reading and agreeing. Without it a
 * rad of another configuration (two behind a balancer during a policy
 * roll-out, the restart after a CA renewal) recorded terms and an issuer
 * the subscriber was never shown. out: 64 lowercase hex digits and a NUL.
 * 0 or -1.
 */
static int
ra_agreement_terms(const char *version, const char *profile,
    const char *key_type, long profile_days, const struct ra_issuer *is,
    const char *dn, char out[65])
{
	const char *field[7];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char days[24];
	EVP_MD_CTX *ctx;
	size_t i;
	int ok;

	snprintf(days, sizeof(days), "%ld", profile_days);
	field[0] = version;
	field[1] = profile;
	field[2] = key_type;
	field[3] = days;
	field[4] = is->id;
	field[5] = is->not_after;
	field[6] = dn;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
	for (i = 0; ok && i < 7; i++)
		ok = EVP_DigestUpdate(ctx, field[i], strlen(field[i]) + 1) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	hex_encode(md, mdlen, out);
	return 0;
}

int
ra_agreement_get(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	const struct ra_policy *p = ra->policy;
	struct ra_subject who;
	const char *v[2], *status;
	struct ra_issuer *is = NULL;
	char id[24], dn[RA_DN_MAX], why[256], terms[65];
	const char *key_type;
	PGresult *res = NULL;
	json_t *o = NULL, *subject = NULL, *order;
	json_error_t jerr;
	int rc = -1, k;

	if ((k = ra_session_account(ra, req, resp, &who)) != 1)
		return k;
	if (ra_path_id(req->path, "/v1/applications/", "/agreement", id) ==
	    -1) {
		rc = ra_problem(resp, 404, "no such application");
		goto out;
	}
	v[0] = id;
	v[1] = who.account_id;
	if ((res = db_exec(ra->db, &stmt_agree_app, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		rc = ra_problem(resp, 404, "no such application");
		goto out;
	}
	status = PQgetvalue(res, 0, 0);
	if (strcmp(status, "rejected") == 0 ||
	    strcmp(status, "cancelled") == 0) {
		rc = ra_problem(resp, 409, status[0] == 'r' ?
		    "the application was rejected: it has no agreement" :
		    "the application was cancelled: it has no agreement");
		goto out;
	}
	if (strcmp(status, "approved") != 0 && strcmp(status, "agreed") != 0 &&
	    strcmp(status, "issued") != 0) {
		rc = ra_problem(resp, 409, "the application is not approved: "
		    "an officer must approve it before its agreement");
		goto out;
	}
	if (PQgetisnull(res, 0, 3)) {
		rc = ra_problem(resp, 409, "a company's application certifies "
		    "no key: nothing to agree to");
		goto out;
	}
	/*
	 * The issuer: the one the order names once agreed, else the one the
	 * agreement would name; before the agreement, one cad would not
	 * issue under is refused rather than shown (ra_agree_txn refuses it
	 * too).
	 */
	if ((is = malloc(sizeof(*is))) == NULL ||
	    ra_subject_dn(PQgetvalue(res, 0, 3), (size_t)PQgetlength(res, 0,
	    3), dn, sizeof(dn)) == -1 ||
	    (subject = json_loads(PQgetvalue(res, 0, 3), 0, &jerr)) == NULL ||
	    ra_cert_issuer(ra, ra->db, PQgetvalue(res, 0, 11),
	    ra_cert_validity(ra->cert, PQgetvalue(res, 0, 2)), is) == -1)
		goto out;
	ra_cert_issuer_why(is, why, sizeof(why));
	if (strcmp(status, "approved") == 0 && why[0] != '\0') {
		rc = ra_unavailable(resp, RA_ISSUER_RETRY_AFTER_S, why);
		goto out;
	}
	key_type = PQgetisnull(res, 0, 10) ? p->agreement_key_type :
	    PQgetvalue(res, 0, 10);
	if (ra_agreement_terms(p->agreement_version, PQgetvalue(res, 0, 2),
	    key_type, ra_cert_validity(ra->cert, PQgetvalue(res, 0, 2)), is,
	    dn, terms) == -1)
		goto out;
	if ((o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:{s:s, s:O, s:s, s:s, "
	    "s:I, s:s, s:s, s:s}}", "application_id", (json_int_t)strtoll(id,
	    NULL, 10), "status", status, "kind", PQgetvalue(res, 0, 1),
	    "agreement_version", p->agreement_version, "terms", terms,
	    "certificate", "subject_dn", dn, "subject", subject, "profile",
	    PQgetvalue(res, 0, 2), "key_type", key_type, "validity_days",
	    (json_int_t)is->validity_days, "issuer", is->subject, "root",
	    is->root, "issuer_not_after", is->not_after)) == NULL)
		goto out;
	if (!PQgetisnull(res, 0, 4) && json_object_set_new(o,
	    "previous_certificate_id", json_integer(strtoll(PQgetvalue(res, 0,
	    4), NULL, 10))) == -1)
		goto out;
	if (!PQgetisnull(res, 0, 5)) {
		/* Agreed: when, and where the order stands (a failure shows). */
		if ((order = json_pack("{s:I, s:s, s:o, s:o}", "id",
		    (json_int_t)strtoll(PQgetvalue(res, 0, 5), NULL, 10),
		    "status", PQgetvalue(res, 0, 6), "last_error",
		    PQgetisnull(res, 0, 7) ? json_null() :
		    json_string(PQgetvalue(res, 0, 7)), "certificate_id",
		    PQgetisnull(res, 0, 8) ? json_null() :
		    json_integer(strtoll(PQgetvalue(res, 0, 8), NULL, 10)))) ==
		    NULL || json_object_set_new(o, "order", order) == -1 ||
		    json_object_set_new(o, "agreed_at", json_string(PQgetvalue(res,
		    0, 9))) == -1)
			goto out;
	}
	rc = http_respond_json(resp, 200, o);
out:
	free(is);
	json_decref(subject);
	json_decref(o);
	PQclear(res);
	return rc;
}

/*
 * An e-seal (profile eseal) is agreed to and rekeyed only while its
 * representative's identity stands (ra_corporate_representative_stands,
 * in the caller's transaction): 1 it stands or this is no e-seal; 0
 * refused, with *outcome and detail set; -1 a database error.
 */
static int
ra_cert_eseal_stands(struct db *db, const char *profile,
    const char *application_id, enum ra_cert_outcome *outcome, char *detail,
    size_t detail_len)
{
	int k;

	if (strcmp(profile, "eseal") != 0)
		return 1;
	if ((k = ra_corporate_representative_stands(db, application_id)) ==
	    -1)
		return -1;
	if (k == 0) {
		*outcome = RA_CO_STATE;
		snprintf(detail, detail_len, "%s",
		    RA_ESEAL_REPRESENTATIVE_GONE);
	}
	return k;
}

/* --- POST /v1/applications/{id}/agreement ---------------------------------------- */

int
ra_rekey_previous_check(struct db *db, const char *certificate_id,
    char why[RA_REKEY_WHY_MAX])
{
	const char *v[1] = { certificate_id };
	PGresult *res;

	why[0] = '\0';
	if ((res = db_exec(db, &stmt_agree_previous, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1) {
		PQclear(res);
		return -1;
	}
	if (!PQgetisnull(res, 0, 0))
		snprintf(why, RA_REKEY_WHY_MAX, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

struct ra_agree_txn {
	struct ra			*ra;
	const struct ra_subject		*who;
	const char			*id;
	const char			*terms;		/* the client's */
	const struct factor		*factor;
	const char			*client;
	enum ra_cert_outcome		 outcome;
	char				 detail[256];
	struct factor_outcome	 fo;
	char				 order_id[24];
	char				 dn[RA_DN_MAX];
	struct ra_issuer		 issuer;	/* the order names it */
};

static int
ra_agree_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX];
	struct ra_agree_txn *t = arg;
	const struct ra_policy *p = t->ra->policy;
	const char *v[6], *status;
	char by[64], why[RA_REKEY_WHY_MAX], terms[65];
	PGresult *res = NULL, *res2 = NULL;
	json_t *details = NULL;
	int rc = -1, k;

	t->outcome = RA_CO_DONE;
	v[0] = t->id;
	v[1] = t->who->account_id;
	if ((res = db_exec(db, &stmt_agree_app_lock, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		t->outcome = RA_CO_NOT_FOUND;
		goto out;
	}
	status = PQgetvalue(res, 0, 0);
	if (strcmp(status, "approved") != 0) {
		t->outcome = RA_CO_STATE;
		snprintf(t->detail, sizeof(t->detail), strcmp(status, "agreed") ==
		    0 || strcmp(status, "issued") == 0 ? "the application is "
		    "already agreed to" : "the application is %s: only an "
		    "approved application can be agreed to", status);
		goto out;
	}
	if (PQgetisnull(res, 0, 3)) {
		t->outcome = RA_CO_UNSUPPORTED;
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 5), "t") != 0) {
		t->outcome = RA_CO_STATE;
		snprintf(t->detail, sizeof(t->detail), RA_COMPANY_INACTIVE);
		goto out;
	}
	/*
	 * An e-seal (or its rekey): its representative's identity may have
	 * been withdrawn since the officers approved it; then cad must not
	 * issue it.
	 */
	if ((k = ra_cert_eseal_stands(db, PQgetvalue(res, 0, 2), t->id,
	    &t->outcome, t->detail, sizeof(t->detail))) != 1)
		goto out;
	if (!PQgetisnull(res, 0, 4)) {
		if (ra_rekey_previous_check(db, PQgetvalue(res, 0, 4), why) ==
		    -1)
			goto out;
		/*
		 * The next step named: a hold may be released; revoked or
		 * expired, the application can only be cancelled (it holds
		 * the account's one open application) and a new one made.
		 */
		if (strcmp(why, "on hold") == 0) {
			t->outcome = RA_CO_STATE;
			snprintf(t->detail, sizeof(t->detail), "the certificate "
			    "this rekey replaces is on hold: agree once the "
			    "registration authority releases it, or cancel the "
			    "application");
			goto out;
		}
		if (why[0] != '\0') {
			t->outcome = RA_CO_STATE;
			snprintf(t->detail, sizeof(t->detail), "the certificate "
			    "this rekey replaces is %s and can no longer be "
			    "rekeyed: cancel this application (POST "
			    "/v1/applications/%s/cancel) and apply for a new "
			    "certificate (POST /v1/applications)", why, t->id);
			goto out;
		}
	}
	if (ra_subject_dn(PQgetvalue(res, 0, 3), (size_t)PQgetlength(res, 0,
	    3), t->dn, sizeof(t->dn)) == -1)
		goto out;
	/*
	 * The issuer the preview showed, which the order names and alone
	 * issues it (cad's claim); none cad would not issue under now.
	 */
	if (ra_cert_issuer(t->ra, db, "", ra_cert_validity(t->ra->cert,
	    PQgetvalue(res, 0, 2)), &t->issuer) == -1)
		goto out;
	ra_cert_issuer_why(&t->issuer, t->detail, sizeof(t->detail));
	if (t->detail[0] != '\0') {
		t->outcome = RA_CO_ISSUER;
		goto out;
	}
	/* What is ordered is what the preview showed, or nothing. */
	if (ra_agreement_terms(p->agreement_version, PQgetvalue(res, 0, 2),
	    p->agreement_key_type, ra_cert_validity(t->ra->cert,
	    PQgetvalue(res, 0, 2)), &t->issuer, t->dn, terms) == -1)
		goto out;
	if (strcmp(terms, t->terms) != 0) {
		t->outcome = RA_CO_STATE;
		snprintf(t->detail, sizeof(t->detail), "terms: the agreement's "
		    "terms are not those read (its version, issuing CA, "
		    "validity or key type changed): read them again (GET "
		    "/v1/applications/%s/agreement) and agree to those", t->id);
		goto out;
	}
	/* The factor, before any change of ours (extern.h). */
	if (ra_factor_check(t->ra, db, t->who->account_id, "agreement",
	    t->factor, &t->fo) == -1)
		goto out;
	if (t->fo.result != FACTOR_OK) {
		t->outcome = RA_CO_FACTOR;
		rc = 0;		/* commit the failure record, nothing else */
		goto out;
	}
	snprintf(by, sizeof(by), "ra:account:%s", t->who->account_id);
	v[0] = ra_cert_order_kind(PQgetvalue(res, 0, 2));
	v[1] = PQgetvalue(res, 0, 2);
	v[2] = PQgetvalue(res, 0, 3);
	v[3] = p->agreement_key_type;
	v[4] = by;
	v[5] = t->issuer.id;
	if ((res2 = db_exec(db, &stmt_agree_order, v, NULL, NULL)) == NULL ||
	    PQntuples(res2) != 1)
		goto out;
	snprintf(t->order_id, sizeof(t->order_id), "%s", PQgetvalue(res2, 0, 0));
	v[0] = t->id;
	v[1] = t->order_id;
	PQclear(res2);
	if ((res2 = db_exec(db, &stmt_agree_update, v, NULL, NULL)) == NULL ||
	    strcmp(PQcmdTuples(res2), "1") != 0)
		goto out;
	if ((details = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
	    "s:s, s:I}", "account_id", t->who->account_id, "order_id",
	    t->order_id, "profile", PQgetvalue(res, 0, 2), "key_type",
	    p->agreement_key_type, "agreement_version", p->agreement_version,
	    "terms", terms, "client", t->client, "issuer_id", t->issuer.id, "issuer",
	    t->issuer.subject, "validity_days",
	    (json_int_t)t->issuer.validity_days)) == NULL || ra_cert_factor_details(details, &t->fo) == -1 ||
	    audit_append(db, ra_actor(actor, t->who->account_id), "ra.application.agree",
	    "ra_application", t->id, details, NULL) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	PQclear(res2);
	PQclear(res);
	return rc;
}

int
ra_agreement_post(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	struct ra_agree_req r;
	struct ra_agree_txn t;
	char id[24], detail[256];
	json_t *o = NULL;
	int rc = -1, k;

	memset(&r, 0, sizeof(r));
	memset(&t, 0, sizeof(t));
	if ((k = ra_subscriber_post(ra, req, resp, &who, "/v1/applications/",
	    "/agreement", id, "no such application")) != 1)
		return k;
	if (ra_parse_agree(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1) {
		rc = ra_problem(resp, 400, detail);
		goto out;
	}
	t.ra = ra;
	t.who = &who;
	t.id = id;
	t.terms = r.terms;
	t.factor = &r.factor;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_agree_txn,
	    &t) == -1) {
		if (t.outcome == RA_CO_NOT_FOUND)
			rc = ra_problem(resp, 404, "no such application");
		else if (t.outcome == RA_CO_STATE)
			rc = ra_problem(resp, 409, t.detail);
		else if (t.outcome == RA_CO_ISSUER)
			rc = ra_unavailable(resp, RA_ISSUER_RETRY_AFTER_S,
			    t.detail);
		else if (t.outcome == RA_CO_UNSUPPORTED)
			rc = ra_problem(resp, 409, "a company's application "
			    "certifies no key: nothing to agree to");
		goto out;
	}
	if (t.outcome == RA_CO_FACTOR) {
		rc = ra_factor_respond(resp, &t.fo);
		goto out;
	}
	log_info("application %s: agreed by account %s (%s); issuance order %s",
	    id, who.account_id, t.fo.kind, t.order_id);
	if ((o = json_pack("{s:I, s:s, s:I, s:s}", "id", (json_int_t)strtoll(id,
	    NULL, 10), "status", "agreed", "order_id", (json_int_t)strtoll(
	    t.order_id, NULL, 10), "subject_dn", t.dn)) == NULL)
		goto out;
	rc = http_respond_json(resp, 202, o);
out:
	ra_wipe(&r, sizeof(r));
	json_decref(o);
	return rc;
}

/* --- GET /v1/certificates[/{id}] ------------------------------------------------- */

/* Row i of a RA_CERT_COLUMNS result as JSON (new reference), or NULL. */
static json_t *
ra_cert_json(const PGresult *res, int i)
{
	json_t *o;
	int reason;

	if ((o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, "
	    "s:s, s:s}", "id", (json_int_t)strtoll(PQgetvalue(res, i, CC_ID),
	    NULL, 10), "status", PQgetvalue(res, i, CC_STATUS), "serial",
	    PQgetvalue(res, i, CC_SERIAL), "subject_dn", PQgetvalue(res, i,
	    CC_SUBJECT), "issuer", PQgetvalue(res, i, CC_ISSUER), "root",
	    PQgetvalue(res, i, CC_ROOT), "profile", PQgetvalue(res, i,
	    CC_PROFILE), "not_before", PQgetvalue(res, i, CC_NB), "not_after",
	    PQgetvalue(res, i, CC_NA), "application_id", (json_int_t)strtoll(
	    PQgetvalue(res, i, CC_APP), NULL, 10), "application_kind",
	    PQgetvalue(res, i, CC_KIND), "rekey_from", PQgetvalue(res, i,
	    CC_REKEY_FROM))) == NULL)
		return NULL;
	if (!PQgetisnull(res, i, CC_REVOKED_AT)) {
		reason = atoi(PQgetvalue(res, i, CC_REASON));
		if (json_object_set_new(o, "revocation", json_pack("{s:s, s:i, "
		    "s:s}", "revoked_at", PQgetvalue(res, i, CC_REVOKED_AT),
		    "reason_code", reason, "reason", ra_revocation_reason_name(reason))) ==
		    -1) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

int
ra_certificate_list(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	const char *v[2];
	char win[24];
	PGresult *res = NULL;
	json_t *o = NULL, *a = NULL, *item;
	int rc = -1, i, k;

	if ((k = ra_session_account(ra, req, resp, &who)) != 1)
		return k;
	snprintf(win, sizeof(win), "%ld", ra->policy->rekey_window_days);
	v[0] = who.account_id;
	v[1] = win;
	if ((res = db_exec(ra->db, &stmt_cert_list, v, NULL, NULL)) == NULL ||
	    PQnfields(res) != CC_NCOLS || (a = json_array()) == NULL)
		goto out;
	for (i = 0; i < PQntuples(res); i++)
		if ((item = ra_cert_json(res, i)) == NULL ||
		    json_array_append_new(a, item) == -1)
			goto out;
	if ((o = json_pack("{s:O}", "certificates", a)) == NULL)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	json_decref(o);
	json_decref(a);
	PQclear(res);
	return rc;
}

int
ra_certificate_get(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	const char *v[3];
	char id[24], win[24], *pem = NULL;
	unsigned char *der = NULL;
	size_t derlen = 0;
	PGresult *res = NULL, *hres = NULL;
	json_t *o = NULL, *h = NULL, *e;
	int rc = -1, i, k;

	if ((k = ra_session_account(ra, req, resp, &who)) != 1)
		return k;
	if (ra_path_id(req->path, "/v1/certificates/", "", id) == -1) {
		rc = ra_problem(resp, 404, "no such certificate");
		goto out;
	}
	snprintf(win, sizeof(win), "%ld", ra->policy->rekey_window_days);
	v[0] = who.account_id;
	v[1] = win;
	v[2] = id;
	if ((res = db_exec(ra->db, &stmt_cert_get, v, NULL, NULL)) == NULL ||
	    PQnfields(res) != CC_NCOLS + 1)
		goto out;
	/* Another account's certificate is as absent as a missing one. */
	if (PQntuples(res) != 1) {
		rc = ra_problem(resp, 404, "no such certificate");
		goto out;
	}
	if (db_bytea_value(PQgetvalue(res, 0, CC_NCOLS), &der, &derlen) == -1 ||
	    (pem = ra_cert_pem(der, derlen)) == NULL ||
	    (o = ra_cert_json(res, 0)) == NULL ||
	    json_object_set_new(o, "pem", json_string(pem)) == -1)
		goto out;
	v[0] = PQgetvalue(res, 0, CC_APP);
	if ((hres = db_exec(ra->db, &stmt_cert_history, v, NULL, NULL)) ==
	    NULL || (h = json_array()) == NULL)
		goto out;
	for (i = 0; i < PQntuples(hres); i++)
		if ((e = json_pack("{s:s, s:s, s:s}", "at", PQgetvalue(hres, i,
		    0), "action", PQgetvalue(hres, i, 1), "actor",
		    PQgetvalue(hres, i, 2))) == NULL ||
		    json_array_append_new(h, e) == -1)
			goto out;
	if (json_object_set(o, "history", h) == -1)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	json_decref(h);
	json_decref(o);
	free(pem);
	free(der);
	PQclear(hres);
	PQclear(res);
	return rc;
}

/* --- POST /v1/certificates/{id}/revoke and /rekey -------------------------------- */

struct ra_cert_txn {
	struct ra			*ra;
	const struct ra_subject		*who;
	const char			*id;
	const struct factor		*factor;
	int				 reason;	/* revoke */
	const char			*client;
	enum ra_cert_outcome		 outcome;
	char				 detail[200];
	long				 retry_after;	/* RA_CO_TOO_MANY */
	struct factor_outcome	 fo;
	char				 serial[80];
	char				 at[40];	/* revoked_at */
	char				 app_id[24];	/* rekey: the new one */
	int				 rekey;
	int				 issuer_revoked; /* rekey: the window waived */
};

/*
 * The certificate of the account, locked; NULL with t->outcome on refusal.
 * A revoked certificate is refused, but for a rekey one whose revocation
 * is its revoked issuing CA's (RA_REKEY_PREVIOUS_WHY).
 */
static PGresult *
ra_cert_lock(struct db *db, struct ra_cert_txn *t)
{
	const char *v[3];
	char win[24];
	PGresult *res;

	snprintf(win, sizeof(win), "%ld", t->ra->policy->rekey_window_days);
	v[0] = t->who->account_id;
	v[1] = t->id;
	v[2] = win;
	if ((res = db_exec(db, &stmt_cert_lock, v, NULL, NULL)) == NULL)
		return NULL;
	if (PQntuples(res) != 1 || PQnfields(res) != CL_NCOLS) {
		t->outcome = PQntuples(res) == 0 ? RA_CO_NOT_FOUND : RA_CO_DONE;
		PQclear(res);
		return NULL;
	}
	snprintf(t->serial, sizeof(t->serial), "%s", PQgetvalue(res, 0,
	    CL_SERIAL));
	if (strcmp(PQgetvalue(res, 0, CL_REVOKED), "t") == 0 && (!t->rekey ||
	    strcmp(PQgetvalue(res, 0, CL_REKEY_WHY), "revoked") == 0)) {
		t->outcome = RA_CO_STATE;
		snprintf(t->detail, sizeof(t->detail), "the certificate is "
		    "revoked; a revocation is final");
		PQclear(res);
		return NULL;
	}
	if (strcmp(PQgetvalue(res, 0, CL_EXPIRED), "t") == 0) {
		t->outcome = RA_CO_STATE;
		snprintf(t->detail, sizeof(t->detail), "the certificate has "
		    "expired; apply again with a new KYC (POST /v1/applications, "
		    "re-KYC)");
		PQclear(res);
		return NULL;
	}
	return res;
}

static int
ra_revoke_txn(struct db *db, void *arg)
{
	struct ra_cert_txn *t = arg;
	const char *v[3];
	char by[64], reason[8];
	PGresult *res = NULL, *res2 = NULL;
	json_t *details = NULL;
	int rc = -1;

	t->outcome = RA_CO_DONE;
	if ((res = ra_cert_lock(db, t)) == NULL)
		goto out;
	/*
	 * A hold is the RA's or the CA's (subscribers revoke with 0 or 9
	 * only): theirs to release or revoke with their reason. Revoked by
	 * its subscriber, a held certificate's identity would count as
	 * standing again (extern.h RA_IDENTITY_STANDS).
	 */
	if (strcmp(PQgetvalue(res, 0, CL_ON_HOLD), "t") == 0) {
		t->outcome = RA_CO_STATE;
		snprintf(t->detail, sizeof(t->detail), "the certificate is on "
		    "hold by the RA, which releases or revokes it");
		goto out;
	}
	if (ra_factor_check(t->ra, db, t->who->account_id, "revoke", t->factor,
	    &t->fo) == -1)
		goto out;
	if (t->fo.result != FACTOR_OK) {
		t->outcome = RA_CO_FACTOR;
		rc = 0;		/* commit the failure record, nothing else */
		goto out;
	}
	snprintf(by, sizeof(by), "subscriber:%s", t->who->account_id);
	snprintf(reason, sizeof(reason), "%d", t->reason);
	v[0] = t->id;
	v[1] = reason;
	v[2] = by;
	if ((res2 = db_exec(db, &stmt_cert_revoke, v, NULL, NULL)) == NULL ||
	    PQntuples(res2) != 1)
		goto out;
	snprintf(t->at, sizeof(t->at), "%s", PQgetvalue(res2, 0, 0));
	if ((details = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "serial",
	    t->serial, "reason", ra_revocation_reason_name(t->reason), "reason_code",
	    t->reason, "account_id", t->who->account_id, "application_id",
	    PQgetvalue(res, 0, CL_APP), "client", t->client)) == NULL ||
	    ra_cert_factor_details(details, &t->fo) == -1 ||
	    audit_append(db, by, "cert.revoke", "certificate", t->id, details,
	    NULL) == -1)
		goto out;
	/* The confirmation, queued: a mail failure never undoes a revocation. */
	if (ra_revocation_notice(db, t->id, ra_revocation_reason_name(t->reason),
	    "you") == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	PQclear(res2);
	PQclear(res);
	return rc;
}

/* --- the subscriber is told of a revocation -------------------------------------- */

/* The mail itself is schema/034's, shared with pkictl (hold, release). */
static const struct db_stmt stmt_notice_queue = {
	"ra_status_notice_queue",
	"SELECT ra_queue_status_notice($1::bigint, $2, $3, $4)",
	4
};

int
ra_status_notice(struct db *db, const char *certificate_id,
    const char *status, const char *reason, const char *by)
{
	const char *v[4];

	v[0] = certificate_id;
	v[1] = status;
	v[2] = reason;
	v[3] = by;
	return db_exec_ok(db, &stmt_notice_queue, v);
}

int
ra_revocation_notice(struct db *db, const char *certificate_id,
    const char *reason, const char *by)
{
	return ra_status_notice(db, certificate_id, "revoked", reason, by);
}

/* The answer of a refused certificate transaction; 0 or -1. */
static int
ra_cert_refuse(struct http_response *resp, const struct ra_cert_txn *t)
{
	switch (t->outcome) {
	case RA_CO_NOT_FOUND:
		return ra_problem(resp, 404, "no such certificate");
	case RA_CO_STATE:
		return ra_problem(resp, 409, t->detail);
	case RA_CO_TOO_MANY:
		return ra_too_many(resp, t->retry_after, "too many applications "
		    "from this account today (policy kyc.per_day); try again "
		    "later");
	default:
		return -1;
	}
}

int
ra_certificate_revoke(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	struct ra_self_revoke_req r;
	struct ra_cert_txn t;
	char id[24], detail[256];
	json_t *o = NULL;
	int rc = -1, k;

	memset(&r, 0, sizeof(r));
	memset(&t, 0, sizeof(t));
	if ((k = ra_subscriber_post(ra, req, resp, &who, "/v1/certificates/",
	    "/revoke", id, "no such certificate")) != 1)
		return k;
	if (ra_parse_self_revoke(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1) {
		rc = ra_problem(resp, 400, detail);
		goto out;
	}
	t.ra = ra;
	t.who = &who;
	t.id = id;
	t.factor = &r.factor;
	t.reason = r.reason;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_revoke_txn,
	    &t) == -1) {
		rc = ra_cert_refuse(resp, &t);
		goto out;
	}
	if (t.outcome == RA_CO_FACTOR) {
		rc = ra_factor_respond(resp, &t.fo);
		goto out;
	}
	log_info("certificate %s (serial %s): revoked by its subscriber, "
	    "account %s (%s)", id, t.serial, who.account_id,
	    ra_revocation_reason_name(r.reason));
	if ((o = json_pack("{s:I, s:s, s:s, s:{s:s, s:i, s:s}}", "id",
	    (json_int_t)strtoll(id, NULL, 10), "serial", t.serial, "status",
	    "revoked", "revocation", "revoked_at", t.at, "reason_code", r.reason,
	    "reason", ra_revocation_reason_name(r.reason))) == NULL)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	ra_wipe(&r, sizeof(r));
	json_decref(o);
	return rc;
}

static int
ra_rekey_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX];
	struct ra_cert_txn *t = arg;
	enum ra_kyc_outcome ko;
	const char *v[4];
	PGresult *res = NULL, *res2 = NULL;
	json_t *details = NULL;
	int k, rc = -1;

	t->outcome = RA_CO_DONE;
	t->rekey = 1;
	if ((res = ra_cert_lock(db, t)) == NULL)
		goto out;
	if (strcmp(PQgetvalue(res, 0, CL_ON_HOLD), "t") == 0) {
		t->outcome = RA_CO_STATE;
		snprintf(t->detail, sizeof(t->detail), "the certificate is on "
		    "hold: only a valid certificate can be rekeyed");
		goto out;
	}
	/*
	 * Once: a rekey's issuance supersedes the certificate it replaces,
	 * and so ends it, but one the CA revoked as cACompromise under a
	 * revoked issuing CA stays so, and may still be rekeyed
	 * (RA_REKEY_PREVIOUS_WHY). Until 2026-12-07 it could be again and
	 * again, each time one more valid certificate for one identity.
	 */
	if (PQgetvalue(res, 0, CL_REKEYED_BY)[0] != '\0') {
		t->outcome = RA_CO_STATE;
		snprintf(t->detail, sizeof(t->detail), "the certificate was "
		    "rekeyed already: certificate serial %s replaces it",
		    PQgetvalue(res, 0, CL_REKEYED_BY));
		goto out;
	}
	/* A rekey would let the certificate outlive the company's request. */
	if (strcmp(PQgetvalue(res, 0, CL_COMPANY_REQUEST), "t") == 0) {
		t->outcome = RA_CO_STATE;
		snprintf(t->detail, sizeof(t->detail), "your company has asked "
		    "for this certificate's revocation: it cannot be rekeyed "
		    "while an officer decides");
		goto out;
	}
	/*
	 * The window, but for a certificate whose issuing CA was revoked for
	 * good (a compromise): worthless to any relying party however far
	 * from expiry, it is rekeyed at once, under the current issuing CA,
	 * with the same checks and review as any rekey.
	 */
	t->issuer_revoked = PQgetvalue(res, 0, CL_ISSUER_REVOKED_AT)[0] !=
	    '\0';
	if (!t->issuer_revoked && strcmp(PQgetvalue(res, 0, CL_IN_WINDOW),
	    "t") != 0) {
		t->outcome = RA_CO_STATE;
		snprintf(t->detail, sizeof(t->detail), "rekey opens %s, %ld "
		    "days before the certificate expires (policy "
		    "rekey.window_days)", PQgetvalue(res, 0, CL_REKEY_FROM),
		    t->ra->policy->rekey_window_days);
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, CL_OPEN_APP), "t") == 0) {
		t->outcome = RA_CO_STATE;
		snprintf(t->detail, sizeof(t->detail), "this account has an "
		    "open application; wait for it to end first");
		goto out;
	}
	if ((k = ra_company_share(db, PQgetvalue(res, 0, CL_APP))) == -1)
		goto out;
	if (k == 0) {
		t->outcome = RA_CO_STATE;
		snprintf(t->detail, sizeof(t->detail), RA_COMPANY_INACTIVE);
		goto out;
	}
	/* An employee's certificate is renewed only for a current employee. */
	if ((k = ra_corporate_member_stands(db, PQgetvalue(res, 0, CL_APP))) ==
	    -1)
		goto out;
	if (k == 0) {
		t->outcome = RA_CO_STATE;
		snprintf(t->detail, sizeof(t->detail), "the company's sysadmin "
		    "removed you from its employees: the certificate made for "
		    "it is not renewed");
		goto out;
	}
	/*
	 * An e-seal is renewed only for a representative whose identity
	 * stands, as at its submission (until 2026-12-07 a rekey was
	 * submitted after an officer had revoked their certificate).
	 */
	if ((k = ra_cert_eseal_stands(db, PQgetvalue(res, 0, CL_PROFILE),
	    PQgetvalue(res, 0, CL_APP), &t->outcome, t->detail,
	    sizeof(t->detail))) != 1)
		goto out;
	/* Rekey and cancel in a loop would copy the images without end. */
	if (ra_kyc_account_state(db, t->ra->policy, t->who->account_id,
	    RA_KYC_LOCK | RA_KYC_COUNT_ONLY, &ko, &t->retry_after) == -1)
		goto out;
	if (ko == RA_KYC_TOO_MANY) {
		t->outcome = RA_CO_TOO_MANY;
		goto out;
	}
	if (ra_factor_check(t->ra, db, t->who->account_id, "rekey", t->factor,
	    &t->fo) == -1)
		goto out;
	if (t->fo.result != FACTOR_OK) {
		t->outcome = RA_CO_FACTOR;
		rc = 0;		/* commit the failure record, nothing else */
		goto out;
	}
	v[0] = t->who->account_id;
	v[1] = PQgetvalue(res, 0, CL_PROFILE);
	v[2] = PQgetvalue(res, 0, CL_SUBJECT);
	v[3] = t->id;
	if ((res2 = db_exec(db, &stmt_rekey_insert, v, NULL, NULL)) == NULL ||
	    PQntuples(res2) != 1) {
		/* 23505: a concurrent application took the open slot. */
		if (strcmp(db_last_sqlstate(db), "23505") == 0) {
			t->outcome = RA_CO_STATE;
			snprintf(t->detail, sizeof(t->detail), "this account has "
			    "an open application");
		}
		goto out;
	}
	snprintf(t->app_id, sizeof(t->app_id), "%s", PQgetvalue(res2, 0, 0));
	PQclear(res2);
	v[0] = t->app_id;
	v[1] = PQgetvalue(res, 0, CL_APP);
	/* An e-seal has no person's KYC: its subject is the company's. */
	if ((res2 = db_exec(db, &stmt_rekey_kyc, v, NULL, NULL)) == NULL ||
	    strcmp(PQcmdTuples(res2), strcmp(PQgetvalue(res, 0, CL_PROFILE),
	    "eseal") == 0 ? "0" : "1") != 0) {
		log_err("rekey: application %s: expected %s KYC row to carry "
		    "over", v[1], strcmp(PQgetvalue(res, 0, CL_PROFILE),
		    "eseal") == 0 ? "no" : "one");
		goto out;
	}
	PQclear(res2);
	if ((res2 = db_exec(db, &stmt_rekey_company, v, NULL, NULL)) == NULL)
		goto out;
	if ((details = json_pack("{s:s, s:s, s:s, s:s, s:s}", "account_id",
	    t->who->account_id, "previous_certificate_id", t->id,
	    "previous_serial", t->serial, "kyc_from_application",
	    PQgetvalue(res, 0, CL_APP), "client", t->client)) == NULL ||
	    ra_cert_factor_details(details, &t->fo) == -1 ||
	    /* Why the window did not apply: the auditor sees it. */
	    (t->issuer_revoked && (json_object_set_new(details,
	    "previous_issuer", json_string(PQgetvalue(res, 0, CL_ISSUER))) ==
	    -1 || json_object_set_new(details, "previous_issuer_revoked_at",
	    json_string(PQgetvalue(res, 0, CL_ISSUER_REVOKED_AT))) == -1 ||
	    json_object_set_new(details, "previous_revoked",
	    json_boolean(strcmp(PQgetvalue(res, 0, CL_REVOKED), "t") == 0)) ==
	    -1)) ||
	    audit_append(db, ra_actor(actor, t->who->account_id), "ra.application.rekey",
	    "ra_application", t->app_id, details, NULL) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	PQclear(res2);
	PQclear(res);
	return rc;
}

int
ra_certificate_rekey(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	struct factor f;
	struct ra_cert_txn t;
	char id[24], detail[256];
	json_t *o = NULL;
	int rc = -1, k;

	memset(&f, 0, sizeof(f));
	memset(&t, 0, sizeof(t));
	if ((k = ra_subscriber_post(ra, req, resp, &who, "/v1/certificates/",
	    "/rekey", id, "no such certificate")) != 1)
		return k;
	if (ra_parse_rekey(req->body, req->body_len, &f, detail,
	    sizeof(detail)) == -1) {
		rc = ra_problem(resp, 400, detail);
		goto out;
	}
	t.ra = ra;
	t.who = &who;
	t.id = id;
	t.factor = &f;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_rekey_txn,
	    &t) == -1) {
		rc = ra_cert_refuse(resp, &t);
		goto out;
	}
	if (t.outcome == RA_CO_FACTOR) {
		rc = ra_factor_respond(resp, &t.fo);
		goto out;
	}
	log_info("certificate %s: rekey application %s by account %s%s", id,
	    t.app_id, who.account_id, t.issuer_revoked ? " (its issuing CA "
	    "was revoked: no rekey window)" : "");
	if ((o = json_pack("{s:I, s:s, s:s, s:I}", "id", (json_int_t)strtoll(
	    t.app_id, NULL, 10), "kind", "rekey", "status", "submitted",
	    "previous_certificate_id", (json_int_t)strtoll(id, NULL, 10))) ==
	    NULL)
		goto out;
	rc = http_respond_json(resp, 201, o);
out:
	ra_wipe(&f, sizeof(f));
	json_decref(o);
	return rc;
}
