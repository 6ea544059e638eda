/*
 * The subscriber's applications: POST /v1/applications (personal KYC),
 * GET /v1/applications and GET /v1/applications/{id}. A submission is
 * checked (account state, body, NIK, age, consent versions), verified by the
 * identity-verification adapter (idv.c; outside any transaction), then
 * stored with its audit event in one transaction. A refusal changes nothing.
 * An account that had a certificate issued applies again as kind "rekyc"
 * (after expiry: ra/README.md "Certificates").
 * Images and full NIKs never reach the log, a problem detail or the audit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "lib/audit.h"
#include "lib/db.h"
#include "lib/http.h"
#include "lib/log.h"
#include "ra/extern.h"

/* A company's application (profile company) takes no slot (schema/018). */
#define RA_OPEN_STATUSES	"('submitted', 'approved', 'agreed') AND " \
				"p.profile <> 'company'"

/*
 * The account against a submission: email and phone verified, an open
 * application, the submissions of the last day and the seconds until the
 * oldest of them leaves it. The daily count exists because with
 * cancellation (cancel.c) the open slot alone no longer bounds how often
 * one account has its identity verified (maybe a paid remote call) and
 * stores images.
 */
static const struct db_stmt stmt_kyc_account = {
	"ra_kyc_submit_account_state",
	"SELECT a.email_verified, a.phone_verified, EXISTS (SELECT 1 FROM "
	"ra_application p WHERE p.account_id = a.id AND p.status IN "
	RA_OPEN_STATUSES "), r.n, r.wait FROM ra_account a, LATERAL ("
	"SELECT count(*) AS n, coalesce(ceil(extract(epoch FROM "
	"min(p.created_at) + interval '1 day' - now())), 0)::bigint AS wait "
	"FROM ra_application p JOIN ra_kyc k ON k.application_id = p.id "
	"WHERE p.account_id = a.id AND p.created_at > now() - "
	"interval '1 day') r WHERE a.id = $1",
	1
};
/*
 * One submission at a time per account: the account's row lock first, then
 * its state in a statement of its own, whose snapshot (READ COMMITTED)
 * sees a submission committed while this one waited for the lock. In the
 * locking statement itself the count would use the snapshot taken before
 * the wait, and a second concurrent submission could pass kyc.per_day.
 */
static const struct db_stmt stmt_kyc_account_lock = {
	"ra_kyc_submit_account_lock",
	"SELECT 1 FROM ra_account WHERE id = $1 FOR UPDATE",
	1
};
/*
 * One account is one person: an application of this account that an
 * officer approved (or that went on to be agreed or issued) under another
 * NIK. Without it an account holding a valid certificate passed KYC again
 * as someone else, kind rekyc, and one account with one set of factors
 * held two people's certificates (the officers' checks compare NIKs
 * across accounts, not within one).
 */
static const struct db_stmt stmt_kyc_other_person = {
	"ra_kyc_submit_other_person",
	"SELECT EXISTS (SELECT 1 FROM ra_application p JOIN ra_kyc k ON "
	"k.application_id = p.id WHERE p.account_id = $1 AND p.status IN "
	"('approved', 'agreed', 'issued') AND k.nik <> $2)",
	2
};
static const struct db_stmt stmt_kyc_application_insert = {
	"ra_kyc_submit_application_insert",
	"INSERT INTO ra_application (account_id, kind, profile, subject) "
	"VALUES ($1, CASE WHEN $4 = 'corporate' THEN 'corporate' WHEN EXISTS ("
	"SELECT 1 FROM ra_application p WHERE p.account_id = $1 AND "
	"p.status = 'issued') THEN 'rekyc' ELSE 'personal' END, $2, $3::jsonb) "
	"RETURNING id, kind",
	4
};
static const struct db_stmt stmt_kyc_insert = {
	"ra_kyc_submit_kyc_insert",
	"INSERT INTO ra_kyc (application_id, nik, full_name, birth_place, "
	"birth_date, sex, address, ktp_photo, ktp_mime, selfie, selfie_mime, "
	"consent_privacy_policy, consent_subscriber_agreement, "
	"consent_guarantee_policy, consented_at, idv_adapter, idv_ocr, "
	"idv_liveness, idv_match, idv_reference, min_liveness, min_match) "
	"VALUES ($1, $2, $3, $4, $5::date, $6, $7, $8::bytea, $9, $10::bytea, "
	"$11, $12, $13, $14, now(), $15, $16::jsonb, $17::int, $18::int, $19, "
	"$20::int, $21::int)",
	21
};

/* One application as the subscriber sees it: never an image or a full NIK. */
#define RA_APP_COLUMNS \
	"a.id, a.kind, a.status, a.profile, " RA_TS("a.created_at") ", " \
	RA_TS("a.updated_at") ", " RA_TS("a.decided_at") ", " \
	"a.decision_reason, right(k.nik, 4), k.full_name, k.birth_place, " \
	"k.birth_date::text, k.sex, k.address, k.ktp_mime, k.selfie_mime, " \
	"k.consent_privacy_policy, k.consent_subscriber_agreement, " \
	"k.consent_guarantee_policy, " RA_TS("k.consented_at") ", " \
	"k.idv_adapter, k.idv_reference, k.idv_liveness, k.min_liveness, " \
	"k.idv_match, k.min_match, k.idv_ocr->>'nik' = k.nik, " \
	"upper(k.idv_ocr->>'full_name') = upper(k.full_name), " \
	"k.idv_ocr->>'birth_date' = k.birth_date::text " \
	"FROM ra_application a LEFT JOIN ra_kyc k ON k.application_id = a.id "
enum {
	C_ID, C_KIND, C_STATUS, C_PROFILE, C_CREATED, C_UPDATED, C_DECIDED,
	C_REASON, C_NIK4, C_NAME, C_PLACE, C_BIRTH, C_SEX, C_ADDRESS,
	C_KTP_MIME, C_SELFIE_MIME, C_PP, C_SA, C_GP, C_CONSENTED, C_ADAPTER,
	C_REFERENCE, C_LIVENESS, C_MIN_LIVENESS, C_MATCH, C_MIN_MATCH,
	C_OCR_NIK, C_OCR_NAME, C_OCR_BIRTH, C_NCOLS
};
static const struct db_stmt stmt_application_list = {
	"ra_kyc_application_list",
	"SELECT " RA_APP_COLUMNS "WHERE a.account_id = $1 ORDER BY a.id DESC "
	"LIMIT 100",
	1
};
static const struct db_stmt stmt_application_get = {
	"ra_kyc_application_get",
	"SELECT " RA_APP_COLUMNS "WHERE a.id = $1 AND a.account_id = $2",
	2
};

int
ra_kyc_account_state(struct db *db, const struct ra_policy *p,
    const char *account_id, int flags, enum ra_kyc_outcome *outcome,
    long *retry)
{
	const char *v[1];
	PGresult *res;
	int all;

	*outcome = RA_KYC_DONE;
	*retry = 0;
	v[0] = account_id;
	if ((flags & RA_KYC_LOCK) && db_exec_ok(db, &stmt_kyc_account_lock,
	    v) == -1)
		return -1;
	if ((res = db_exec(db, &stmt_kyc_account, v, NULL, NULL)) == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return -1;
	}
	all = (flags & RA_KYC_COUNT_ONLY) == 0;	/* a rekey: the count only */
	if (all && strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		*outcome = RA_KYC_EMAIL_UNVERIFIED;
	else if (all && strcmp(PQgetvalue(res, 0, 1), "t") != 0)
		*outcome = RA_KYC_PHONE_UNVERIFIED;
	else if (all && strcmp(PQgetvalue(res, 0, 2), "t") == 0)
		*outcome = RA_KYC_OPEN;
	else if (strtol(PQgetvalue(res, 0, 3), NULL, 10) >= p->kyc_per_day) {
		*outcome = RA_KYC_TOO_MANY;
		if ((*retry = strtol(PQgetvalue(res, 0, 4), NULL, 10)) < 1)
			*retry = 1;
	}
	PQclear(res);
	return 0;
}

/* 1 when the account was verified as a NIK other than nik, 0, or -1. */
static int
ra_kyc_other_person(struct db *db, const char *account_id, const char *nik)
{
	const char *v[2];
	PGresult *res;
	int k;

	v[0] = account_id;
	v[1] = nik;
	if ((res = db_exec(db, &stmt_kyc_other_person, v, NULL, NULL)) ==
	    NULL)
		return -1;
	k = PQntuples(res) == 1 ? strcmp(PQgetvalue(res, 0, 0), "t") == 0 :
	    -1;
	PQclear(res);
	return k;
}

/* The refusal of an outcome; 0 or -1. */
static int
ra_kyc_refuse(struct http_response *resp, enum ra_kyc_outcome o, long retry)
{
	switch (o) {
	case RA_KYC_TOO_MANY:
		return ra_too_many(resp, retry, "too many applications from "
		    "this account today (policy kyc.per_day); try again later");
	case RA_KYC_EMAIL_UNVERIFIED:
		return ra_problem(resp, 403, "verify your email address before "
		    "applying (POST /v1/verify-email)");
	case RA_KYC_PHONE_UNVERIFIED:
		return ra_problem(resp, 403, "verify your phone number by OTP "
		    "before applying");
	case RA_KYC_OPEN:
		return ra_problem(resp, 409, "this account has an open "
		    "application; wait for its decision or cancel it first");
	case RA_KYC_OTHER_PERSON:
		return ra_problem(resp, 409, "nik: this account's identity "
		    "was verified under another NIK; one account is one "
		    "person (register an account of your own)");
	case RA_KYC_NO_COMPANY:
		return ra_problem(resp, 404, "company_id: no active company "
		    "that this account is enrolled in as an employee");
	case RA_KYC_REMOVED:
		return ra_problem(resp, 403, "company_id: the company's "
		    "sysadmin removed this account from its employees; it may "
		    "apply in the company's name again only once invited and "
		    "enrolled anew");
	default:
		return -1;
	}
}

struct ra_kyc_txn {
	struct ra			*ra;
	const struct ra_subject		*who;
	const struct ra_kyc_req		*req;
	const struct ra_idv_result	*idv;
	const char			*client;
	enum ra_kyc_outcome		 outcome;
	long				 retry_after;	/* RA_KYC_TOO_MANY */
	char				 id[24];
	char				 kind[16];	/* personal, rekyc */
};

static int
ra_kyc_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX];
	struct ra_kyc_txn *t = arg;
	const struct ra_kyc_req *r = t->req;
	const struct ra_policy *p = t->ra->policy;
	const char *v[21];
	int len[21], fmt[21], i;
	char serial[32], liv[8], mat[8], minl[8], minm[8], *subject_s = NULL,
	    *ocr_s = NULL, company[24], org[RA_COMPANY_NAME_MAX + 1];
	const char *kind = "personal", *profile = p->agreement_profile;
	PGresult *res = NULL;
	json_t *subject = NULL, *ocr = NULL, *details = NULL;
	int rc = -1, ocr_ok, k;

	t->outcome = RA_KYC_DONE;
	if (ra_kyc_account_state(db, p, t->who->account_id, RA_KYC_LOCK,
	    &t->outcome, &t->retry_after) == -1)
		goto out;
	if (t->outcome != RA_KYC_DONE)
		goto out;
	if ((k = ra_kyc_other_person(db, t->who->account_id, r->nik)) != 0) {
		if (k == 1)
			t->outcome = RA_KYC_OTHER_PERSON;
		goto out;
	}
	snprintf(serial, sizeof(serial), "NIK:%s", r->nik);
	if ((subject = json_pack("{s:s, s:s, s:s}", "C", "ID", "CN",
	    r->full_name, "serialNumber", serial)) == NULL)
		goto out;
	/* corporate.c: an employee's application carries O, the company. */
	if (r->company_id != 0) {
		snprintf(company, sizeof(company), "%lld", r->company_id);
		if ((k = ra_corporate_employee_org(db, t->who->account_id,
		    company, org, sizeof(org))) != 1) {
			if (k == 0)
				t->outcome = RA_KYC_NO_COMPANY;
			else if (k == 2)
				t->outcome = RA_KYC_REMOVED;
			goto out;
		}
		if (json_object_set_new(subject, "O", json_string(org)) == -1)
			goto out;
		kind = "corporate";
		profile = "corporate";
	}
	if ((subject_s = json_dumps(subject, JSON_COMPACT)) == NULL)
		goto out;
	v[0] = t->who->account_id;
	v[1] = profile;
	v[2] = subject_s;
	v[3] = kind;
	if ((res = db_exec(db, &stmt_kyc_application_insert, v, NULL,
	    NULL)) == NULL || PQntuples(res) != 1) {
		/* 23505: a concurrent submission took the open slot. */
		if (strcmp(db_last_sqlstate(db), "23505") == 0)
			t->outcome = RA_KYC_OPEN;
		goto out;
	}
	snprintf(t->id, sizeof(t->id), "%s", PQgetvalue(res, 0, 0));
	snprintf(t->kind, sizeof(t->kind), "%s", PQgetvalue(res, 0, 1));
	if (r->company_id != 0 && ra_corporate_application_link(db, t->id,
	    company) == -1)
		goto out;
	if ((ocr = json_pack("{s:s, s:s, s:s}", "nik", t->idv->ocr_nik,
	    "full_name", t->idv->ocr_name, "birth_date",
	    t->idv->ocr_birth_date)) == NULL ||
	    (ocr_s = json_dumps(ocr, JSON_COMPACT)) == NULL)
		goto out;
	snprintf(liv, sizeof(liv), "%d", t->idv->liveness);
	snprintf(mat, sizeof(mat), "%d", t->idv->match);
	snprintf(minl, sizeof(minl), "%ld", p->kyc_min_liveness);
	snprintf(minm, sizeof(minm), "%ld", p->kyc_min_match);
	v[0] = t->id;
	v[1] = r->nik;
	v[2] = r->full_name;
	v[3] = r->birth_place;
	v[4] = r->birth_date;
	v[5] = r->sex == 'F' ? "F" : "M";
	v[6] = r->address;
	v[7] = (const char *)r->ktp.data;
	v[8] = r->ktp.mime;
	v[9] = (const char *)r->selfie.data;
	v[10] = r->selfie.mime;
	v[11] = r->privacy_version;
	v[12] = r->agreement_version;
	v[13] = r->guarantee_version;
	v[14] = ra_idv_name(t->ra->idv);
	v[15] = ocr_s;
	v[16] = liv;
	v[17] = mat;
	v[18] = t->idv->reference;
	v[19] = minl;
	v[20] = minm;
	/* The images go as binary parameters, everything else as text. */
	for (i = 0; i < 21; i++) {
		len[i] = 0;
		fmt[i] = 0;
	}
	len[7] = (int)r->ktp.len;
	fmt[7] = 1;
	len[9] = (int)r->selfie.len;
	fmt[9] = 1;
	PQclear(res);
	if ((res = db_exec(db, &stmt_kyc_insert, v, len, fmt)) == NULL)
		goto out;
	ocr_ok = strcmp(t->idv->ocr_nik, r->nik) == 0 &&
	    strcasecmp(t->idv->ocr_name, r->full_name) == 0 &&
	    strcmp(t->idv->ocr_birth_date, r->birth_date) == 0;
	if ((details = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, "
	    "s:b, s:{s:s, s:s, s:s}, s:s, s:I, s:s, s:I}", "client", t->client,
	    "account_id", t->who->account_id, "kind", t->kind, "nik_last4",
	    r->nik + RA_NIK_LEN - 4, "idv_adapter", ra_idv_name(t->ra->idv),
	    "idv_reference", t->idv->reference, "liveness", t->idv->liveness,
	    "match", t->idv->match, "ocr_consistent", ocr_ok, "consents",
	    "privacy_policy", r->privacy_version, "subscriber_agreement",
	    r->agreement_version, "guarantee_policy", r->guarantee_version,
	    "ktp_mime", r->ktp.mime, "ktp_bytes", (json_int_t)r->ktp.len,
	    "selfie_mime", r->selfie.mime, "selfie_bytes",
	    (json_int_t)r->selfie.len)) == NULL ||
	    audit_append(db, ra_actor(actor, t->who->account_id), "ra.application.submit",
	    "ra_application", t->id, details, NULL) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	json_decref(ocr);
	json_decref(subject);
	free(ocr_s);
	free(subject_s);
	PQclear(res);
	return rc;
}

/* The application of row i of res as JSON (new reference), or NULL. */
static json_t *
ra_application_json(const PGresult *res, int i)
{
	json_t *o = NULL, *k = NULL;
	int liv, minl, mat, minm;

	if ((o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "id",
	    (json_int_t)strtoll(PQgetvalue(res, i, C_ID), NULL, 10), "kind",
	    PQgetvalue(res, i, C_KIND), "status", PQgetvalue(res, i, C_STATUS),
	    "profile", PQgetvalue(res, i, C_PROFILE), "created_at",
	    PQgetvalue(res, i, C_CREATED), "updated_at",
	    PQgetvalue(res, i, C_UPDATED))) == NULL)
		goto fail;
	if (!PQgetisnull(res, i, C_DECIDED) && (json_object_set_new(o,
	    "decided_at", json_string(PQgetvalue(res, i, C_DECIDED))) == -1 ||
	    json_object_set_new(o, "decision_reason", PQgetisnull(res, i,
	    C_REASON) ? json_null() : json_string(PQgetvalue(res, i,
	    C_REASON))) == -1))
		goto fail;
	if (PQgetisnull(res, i, C_NIK4))
		return o;	/* an application without personal KYC */
	liv = atoi(PQgetvalue(res, i, C_LIVENESS));
	minl = atoi(PQgetvalue(res, i, C_MIN_LIVENESS));
	mat = atoi(PQgetvalue(res, i, C_MATCH));
	minm = atoi(PQgetvalue(res, i, C_MIN_MATCH));
	if ((k = json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:s}, "
	    "s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s}, "
	    "s:{s:s, s:s, s:{s:b, s:b, s:b}, s:{s:i, s:i, s:b}, "
	    "s:{s:i, s:i, s:b}}}",
	    "applicant", "nik_last4", PQgetvalue(res, i, C_NIK4), "full_name",
	    PQgetvalue(res, i, C_NAME), "birth_place", PQgetvalue(res, i,
	    C_PLACE), "birth_date", PQgetvalue(res, i, C_BIRTH), "sex",
	    PQgetvalue(res, i, C_SEX), "address", PQgetvalue(res, i, C_ADDRESS),
	    "consents", "privacy_policy", PQgetvalue(res, i, C_PP),
	    "subscriber_agreement", PQgetvalue(res, i, C_SA), "guarantee_policy",
	    PQgetvalue(res, i, C_GP), "accepted_at", PQgetvalue(res, i,
	    C_CONSENTED),
	    "images", "ktp_photo", PQgetvalue(res, i, C_KTP_MIME), "selfie",
	    PQgetvalue(res, i, C_SELFIE_MIME),
	    "checks", "adapter", PQgetvalue(res, i, C_ADAPTER), "reference",
	    PQgetvalue(res, i, C_REFERENCE), "ocr", "nik_matches",
	    strcmp(PQgetvalue(res, i, C_OCR_NIK), "t") == 0, "name_matches",
	    strcmp(PQgetvalue(res, i, C_OCR_NAME), "t") == 0,
	    "birth_date_matches", strcmp(PQgetvalue(res, i, C_OCR_BIRTH),
	    "t") == 0, "liveness", "score", liv, "min", minl, "pass",
	    liv >= minl, "match", "score", mat, "min", minm, "pass",
	    mat >= minm)) == NULL ||
	    json_object_update(o, k) == -1)
		goto fail;
	json_decref(k);
	return o;
fail:
	json_decref(k);
	json_decref(o);
	return NULL;
}

int
ra_application_submit(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	const struct ra_policy *p = ra->policy;
	struct ra_subject who;
	struct ra_kyc_req r;
	struct ra_kyc_txn t;
	struct ra_idv_input in;
	struct ra_idv_result idv;
	struct ra_date today;
	enum ra_kyc_outcome outcome;
	char detail[256];
	json_t *o = NULL;
	long retry;
	int rc = -1, status, k;

	memset(&r, 0, sizeof(r));
	if ((k = ra_session_account(ra, req, resp, &who)) != 1) {
		rc = k == 0 ? 0 : -1;
		goto out;
	}
	/* Cheap refusals first, before a body of megabytes is parsed. */
	if (ra_kyc_account_state(ra->db, p, who.account_id, 0, &outcome,
	    &retry) == -1)
		goto out;
	if (outcome != RA_KYC_DONE) {
		rc = ra_kyc_refuse(resp, outcome, retry);
		goto out;
	}
	if (!ra_is_json(req)) {
		rc = ra_problem(resp, 415, "the body must be application/json");
		goto out;
	}
	if (ra_parse_kyc(req->body, req->body_len, &p->kyc_image, &r,
	    &status, detail, sizeof(detail)) == -1) {
		if (status == 500)	/* out of memory: ours, not the client's */
			log_err("application: %s", detail);
		else
			rc = ra_problem(resp, status, detail);
		goto out;
	}
	if (ra_nik_check(r.nik, &r.birth, r.sex, detail, sizeof(detail)) !=
	    RA_NIK_OK) {
		rc = ra_problem(resp, 422, detail);
		goto out;
	}
	/* Again in the transaction; here before the adapter's paid call. */
	if ((k = ra_kyc_other_person(ra->db, who.account_id, r.nik)) != 0) {
		if (k == 1)
			rc = ra_kyc_refuse(resp, RA_KYC_OTHER_PERSON, 0);
		goto out;
	}
	if (ra_date_today(&today) == -1)
		goto out;
	if (ra_age_years(&r.birth, &today) < p->kyc_min_age) {
		snprintf(detail, sizeof(detail), "birth_date: applicants must "
		    "be at least %ld years old (policy kyc.min_age)",
		    p->kyc_min_age);
		rc = ra_problem(resp, 422, detail);
		goto out;
	}
	if (strcmp(r.privacy_version, p->kyc_privacy_version) != 0 ||
	    strcmp(r.agreement_version, p->kyc_agreement_version) != 0 ||
	    strcmp(r.guarantee_version, p->kyc_guarantee_version) != 0) {
		snprintf(detail, sizeof(detail), "consents: the current versions "
		    "are privacy_policy %s, subscriber_agreement %s, "
		    "guarantee_policy %s; read and accept those",
		    p->kyc_privacy_version, p->kyc_agreement_version,
		    p->kyc_guarantee_version);
		rc = ra_problem(resp, 422, detail);
		goto out;
	}
	/* The adapter may be a remote call: never inside the transaction. */
	memset(&in, 0, sizeof(in));
	in.nik = r.nik;
	in.full_name = r.full_name;
	in.birth_date = r.birth_date;
	in.ktp = r.ktp.data;
	in.ktp_len = r.ktp.len;
	in.selfie = r.selfie.data;
	in.selfie_len = r.selfie.len;
	if (ra_idv_verify(ra->idv, &in, &idv) == -1) {
		http_add_header(resp, "Retry-After", "60");
		rc = ra_problem(resp, 503, "identity verification is unavailable; "
		    "nothing was stored");
		goto out;
	}
	memset(&t, 0, sizeof(t));
	t.ra = ra;
	t.who = &who;
	t.req = &r;
	t.idv = &idv;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_kyc_txn,
	    &t) == -1) {
		if (t.outcome != RA_KYC_DONE)
			rc = ra_kyc_refuse(resp, t.outcome, t.retry_after);
		goto out;
	}
	log_info("application %s: %s KYC submitted by account %s "
	    "(idv %s %s: liveness %d, match %d)", t.id, t.kind, who.account_id,
	    ra_idv_name(ra->idv), idv.reference, idv.liveness, idv.match);
	if ((o = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)strtoll(t.id,
	    NULL, 10), "kind", t.kind, "status", "submitted")) == NULL ||
	    (r.company_id != 0 && json_object_set_new(o, "company_id",
	    json_integer((json_int_t)r.company_id)) == -1))
		goto out;
	rc = http_respond_json(resp, 201, o);
out:
	json_decref(o);
	ra_kyc_req_free(&r);
	return rc;
}

int
ra_application_list(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	const char *v[1];
	PGresult *res = NULL;
	json_t *o = NULL, *a = NULL, *item;
	int rc = -1, i, k;

	if ((k = ra_session_account(ra, req, resp, &who)) != 1) {
		rc = k == 0 ? 0 : -1;
		goto out;
	}
	v[0] = who.account_id;
	if ((res = db_exec(ra->db, &stmt_application_list, v, NULL,
	    NULL)) == NULL || PQnfields(res) != C_NCOLS)
		goto out;
	if ((a = json_array()) == NULL)
		goto out;
	for (i = 0; i < PQntuples(res); i++) {
		if ((item = ra_application_json(res, i)) == NULL ||
		    json_array_append_new(a, item) == -1)
			goto out;
	}
	if ((o = json_pack("{s:O}", "applications", a)) == NULL)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	json_decref(o);
	json_decref(a);
	PQclear(res);
	return rc;
}

int
ra_application_get(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	const char *v[2];
	char id[24];
	PGresult *res = NULL;
	json_t *o = NULL;
	int rc = -1, k;

	if ((k = ra_session_account(ra, req, resp, &who)) != 1) {
		rc = k == 0 ? 0 : -1;
		goto out;
	}
	if (ra_path_id(req->path, "/v1/applications/", "", id) == -1) {
		rc = ra_problem(resp, 404, "no such application");
		goto out;
	}
	v[0] = id;
	v[1] = who.account_id;
	if ((res = db_exec(ra->db, &stmt_application_get, v, NULL,
	    NULL)) == NULL || PQnfields(res) != C_NCOLS)
		goto out;
	/* Another account's application is as absent as a missing one. */
	if (PQntuples(res) != 1) {
		rc = ra_problem(resp, 404, "no such application");
		goto out;
	}
	if ((o = ra_application_json(res, 0)) == NULL)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	json_decref(o);
	PQclear(res);
	return rc;
}
