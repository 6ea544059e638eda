/*
 * The RA officers' review (ra/README.md "Review"): the queue of
 * applications with filters, search and paging; one application with its
 * evidence and the automatic checks computed now; the decision (approve or
 * reject, with a reason; four-eyes for the kinds policy names); officer
 * revocation of a certificate. Roles: ra_officer and ra_admin decide and
 * revoke; auditor only reads, never the images, and the identity masked.
 * An officer whose linked account belongs to an application's company
 * (schema/028) neither decides nor reads it (detail, images).
 * Every change, every view of an image and the first view of a detail in an
 * hour are audited with the actor "officer:<id>" in the transaction that
 * makes it; a refusal changes nothing. The full NIK appears only in the
 * detail view (officers need it), never in the list, a log line or the
 * audit.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "lib/audit.h"
#include "lib/db.h"
#include "lib/http.h"
#include "lib/log.h"
#include "ra/extern.h"

/* A future invalidity date is refused beyond this clock skew. */
#define RA_REVIEW_SKEW_S	300

static const char *const ra_review_readers[] = { "ra_officer", "ra_admin",
    "auditor", NULL };
/*
 * The e-KTP photo and the selfie: those who review only (schema/012, the
 * auditor reads everything but the two images); an auditor gets 403.
 */
static const char *const ra_review_image_readers[] = { "ra_officer",
    "ra_admin", NULL };
static const char *const ra_review_deciders[] = { "ra_officer", "ra_admin",
    NULL };

/* --- statements --------------------------------------------------------------- */

/*
 * The queue: $1 status, $2 kind, $3 q, $4 profile, $5 the officer for
 * awaiting=mine ('' none), $6 review.four_eyes_kinds (" kind kind ").
 * An application's company is its own (co, profile company) or the one it
 * was made for (ce through ca), as ra_application_company picks it; each
 * join is on a unique key (ra_company.application_id, the primary keys of
 * ra_company_application and ra_company), so at most one company a row,
 * hashed or probed by index. q's substring tests read every row of the
 * queue, as the email's and name's always did (no index serves strpos);
 * the companies are few against the applications. "personal" is any
 * profile but the three others: a person's own is agreement.profile, which
 * the configuration may name and rename (ra/policy.c refuses those three
 * for it).
 * awaiting=mine: submitted, needing two approvals (as recorded at the first
 * decision, else by the policy, as ra_decide_txn), one approval by an
 * officer not disabled, none by $5, whose role decides, and neither the
 * officer's own account's nor a company's the officer belongs to (403 at
 * the decision).
 */
#define RA_QUEUE_APPROVALS \
	"(SELECT count(*) FROM ra_decision d JOIN ra_officer o ON " \
	"o.id = d.officer_id WHERE d.application_id = a.id AND " \
	"d.decision = 'approve' AND o.disabled_at IS NULL)"
#define RA_QUEUE_FROM \
	"FROM ra_application a JOIN ra_account acc ON acc.id = a.account_id " \
	"LEFT JOIN ra_kyc k ON k.application_id = a.id " \
	"LEFT JOIN ra_company co ON co.application_id = a.id " \
	"LEFT JOIN ra_company_application ca ON ca.application_id = a.id " \
	"LEFT JOIN ra_company ce ON ce.id = ca.company_id " \
	"WHERE ($1::text = '' OR a.status = $1::text) AND " \
	"($2::text = '' OR a.kind = $2::text) AND ($4::text = '' OR " \
	"CASE WHEN $4::text = 'personal' THEN a.profile NOT IN ('corporate', " \
	"'eseal', 'company') ELSE a.profile = $4::text END) AND " \
	"($3::text = '' OR " \
	"strpos(acc.email, lower($3::text)) > 0 OR " \
	"strpos(lower(k.full_name), lower($3::text)) > 0 OR " \
	"right(k.nik, 4) = $3::text OR " \
	"strpos(lower(coalesce(co.name, ce.name)), lower($3::text)) > 0 OR " \
	"coalesce(co.nib, ce.nib) = $3::text) AND " \
	"($5::text = '' OR (a.status = 'submitted' AND " \
	"coalesce(a.approvals_required, CASE WHEN strpos($6::text, ' ' || " \
	"a.kind || ' ') > 0 OR strpos($6::text, ' ' || a.profile || ' ') > 0 " \
	"THEN 2 ELSE 1 END) = 2 AND " RA_QUEUE_APPROVALS " = 1 AND " \
	"NOT EXISTS (SELECT 1 FROM ra_decision d WHERE d.application_id = " \
	"a.id AND d.officer_id = nullif($5::text, '')::bigint) AND " \
	"EXISTS (SELECT 1 FROM ra_officer f WHERE f.id = " \
	"nullif($5::text, '')::bigint AND " \
	"f.role IN ('ra_officer', 'ra_admin') AND " \
	"f.account_id IS DISTINCT FROM a.account_id) AND " \
	"NOT coalesce(ra_officer_in_company(nullif($5::text, '')::bigint, " \
	"coalesce(co.id, ce.id)), false))) "
static const struct db_stmt stmt_queue = {
	"ra_review_list_select",
	"SELECT a.id, a.kind, a.status, a.profile, " RA_TS("a.created_at") ", "
	RA_TS("a.updated_at") ", acc.email, k.full_name, right(k.nik, 4), "
	RA_QUEUE_APPROVALS ", coalesce(co.name, ce.name) " RA_QUEUE_FROM
	"ORDER BY a.id DESC LIMIT $7::int OFFSET $8::int",
	8
};
static const struct db_stmt stmt_queue_count = {
	"ra_review_list_count",
	"SELECT count(*) " RA_QUEUE_FROM,
	6
};

static const struct db_stmt stmt_detail = {
	"ra_review_get_select",
	"SELECT a.id, a.kind, a.status, a.profile, a.subject::text, "
	RA_TS("a.created_at") ", " RA_TS("a.updated_at") ", "
	RA_TS("a.decided_at") ", a.decision_reason, a.order_id, "
	"acc.id, acc.email, acc.phone, acc.email_verified, acc.phone_verified, "
	RA_TS("acc.created_at") ", "
	"k.nik, k.full_name, k.birth_place, k.birth_date::text, k.sex, "
	"k.address, k.ktp_mime, length(k.ktp_photo), k.selfie_mime, "
	"length(k.selfie), k.consent_privacy_policy, "
	"k.consent_subscriber_agreement, k.consent_guarantee_policy, "
	RA_TS("k.consented_at") ", k.idv_adapter, k.idv_reference, "
	"k.idv_ocr->>'nik', k.idv_ocr->>'full_name', k.idv_ocr->>'birth_date', "
	"k.idv_liveness, k.min_liveness, k.idv_match, k.min_match, "
	"o.status, o.last_error, " RA_TS("k.evidence_erased_at") " "
	"FROM ra_application a JOIN ra_account acc ON acc.id = a.account_id "
	"LEFT JOIN ra_kyc k ON k.application_id = a.id "
	"LEFT JOIN issuance_order o ON o.id = a.order_id WHERE a.id = $1",
	1
};
enum {
	D_ID, D_KIND, D_STATUS, D_PROFILE, D_SUBJECT, D_CREATED, D_UPDATED,
	D_DECIDED, D_REASON, D_ORDER, D_ACC_ID, D_EMAIL, D_PHONE, D_EMAIL_OK,
	D_PHONE_OK, D_ACC_CREATED, D_NIK, D_NAME, D_PLACE, D_BIRTH, D_SEX,
	D_ADDRESS, D_KTP_MIME, D_KTP_LEN, D_SELFIE_MIME, D_SELFIE_LEN, D_PP,
	D_SA, D_GP, D_CONSENTED, D_ADAPTER, D_REFERENCE, D_OCR_NIK, D_OCR_NAME,
	D_OCR_BIRTH, D_LIVENESS, D_MIN_LIVENESS, D_MATCH, D_MIN_MATCH,
	D_ORDER_STATUS, D_ORDER_ERROR, D_ERASED, D_NCOLS
};
/*
 * The company of an application: the company's own (profile company), or
 * the one an employee's or e-seal application was made for
 * (ra_company_application); who represents it, and whether the officers
 * approved it.
 */
static const struct db_stmt stmt_company = {
	"ra_review_get_company",
	"SELECT c.id, c.name, c.nib, c.npwp, c.deed_number, c.deed_date::text, "
	"c.decree_number, c.sysadmin_email, r.id, r.email, "
	RA_COMPANY_STATUS ", "
	"c.deed_date <= (c.created_at AT TIME ZONE 'UTC' + interval '7 hours')"
	"::date "
	"FROM ra_company c JOIN ra_account r ON r.id = c.representative_id "
	"JOIN ra_application a ON a.id = c.application_id "
	"WHERE c.id = ra_application_company($1)",
	1
};
enum {
	C_ID, C_NAME, C_NIB, C_NPWP, C_DEED, C_DEED_DATE, C_DECREE, C_SYSADMIN,
	C_REP_ID, C_REP_EMAIL, C_STATUS, C_DEED_OK
};
/*
 * The other companies with company $1's NIB (or NPWP), whatever their
 * state, and how many: a pending or active one is refused since schema/065
 * (but for those registered before it), a rejected, cancelled or
 * deactivated one may be the same legal person before, or a false
 * registration of its identifiers (whose e-seals may still be valid).
 * The same: equal values of the expression of c and me (an NPWP by its
 * canonical form, schema/115: the 15-digit and the 16-digit form of one
 * are one NPWP).
 */
#define RA_REVIEW_SAME_COMPANY(c_expr, me_expr) \
	"SELECT c.id, c.name, " RA_COMPANY_STATUS ", count(*) OVER () " \
	"FROM ra_company me JOIN ra_company c ON " c_expr " = " me_expr " " \
	"AND c.id <> me.id JOIN ra_application a ON a.id = " \
	"c.application_id WHERE me.id = $1 ORDER BY c.id LIMIT 10"
static const struct db_stmt stmt_same_nib = {
	"ra_review_get_company_same_nib",
	RA_REVIEW_SAME_COMPANY("c.nib", "me.nib"),
	1
};
static const struct db_stmt stmt_same_npwp = {
	"ra_review_get_company_same_npwp",
	RA_REVIEW_SAME_COMPANY("ra_npwp_canonical(c.npwp)",
	    "ra_npwp_canonical(me.npwp)"),
	1
};
/*
 * The representative's standing now, by the rule of the submission
 * (corporate.c stmt_rep_lock): email and phone verified, a personal
 * identity the RA approved that still stands.
 */
static const struct db_stmt stmt_company_rep = {
	"ra_review_get_company_representative",
	"SELECT a.email_verified, a.phone_verified, "
	RA_IDENTITY_STANDS("('personal')", "('personal', 'rekyc')") " "
	"FROM ra_account a WHERE a.id = $1",
	1
};
/*
 * An e-seal applicant's standing now (RA_ESEAL_REPRESENTATIVE_STANDS, the
 * rule of the submission, corporate.c, which the approval reads again).
 */
static const struct db_stmt stmt_eseal_rep = {
	"ra_review_get_eseal_representative",
	"SELECT " RA_ESEAL_REPRESENTATIVE_STANDS " FROM ra_account a "
	"WHERE a.id = $1",
	1
};
static const struct db_stmt stmt_decisions = {
	"ra_review_get_decisions",
	"SELECT d.officer_id, o.username, d.decision, d.reason, "
	RA_TS("d.created_at") ", o.disabled_at IS NOT NULL "
	"FROM ra_decision d JOIN ra_officer o ON "
	"o.id = d.officer_id WHERE d.application_id = $1 ORDER BY d.id",
	1
};
/*
 * Active certificates of other applications with the same NIK: valid or
 * on hold (a hold may be released at any time), not expired. A rekey
 * application's own previous certificate is no duplicate: it is valid by
 * the rekey window's rule and is superseded when the new one is issued
 * (ra/notifier.c), so counting it failed the check on every rekey.
 */
static const struct db_stmt stmt_duplicates = {
	"ra_review_get_duplicates",
	"SELECT a2.id, c.id, c.serial FROM ra_kyc k2 "
	"JOIN ra_application a2 ON a2.id = k2.application_id "
	"JOIN issuance_order io ON io.id = a2.order_id "
	"JOIN certificate c ON c.id = io.certificate_id "
	"WHERE k2.nik = $2 AND a2.id <> $1::bigint AND (c.revoked_at IS NULL "
	"OR c.revocation_reason = 6) "
	"AND c.not_after > now() AND c.id IS DISTINCT FROM (SELECT "
	"previous_certificate_id FROM ra_application WHERE id = $1::bigint) "
	"ORDER BY a2.id LIMIT 10",
	2
};
/*
 * Open applications (submitted, approved, agreed: schema/012) of other
 * accounts with the same NIK, and how many there are: each may become a
 * certificate with the same serialNumber on another account, and two
 * officers approving both do not see it in the certificates above until
 * one is issued. The account's own do not count: it has one open
 * application at a time (ra_application_open), a rekey among them.
 */
static const struct db_stmt stmt_duplicates_open = {
	"ra_review_get_duplicates_open",
	"SELECT a2.id, a2.status, a2.account_id, count(*) OVER () "
	"FROM ra_kyc k2 JOIN ra_application a2 ON a2.id = k2.application_id "
	"WHERE k2.nik = $2 AND a2.id <> $1::bigint AND a2.status IN "
	"('submitted', 'approved', 'agreed') AND a2.account_id <> (SELECT "
	"account_id FROM ra_application WHERE id = $1::bigint) "
	"ORDER BY a2.id LIMIT 10",
	2
};

/*
 * Whether the officer's ($1) linked account belongs to the company
 * application $2 was made for (schema/028, 044: its representative,
 * sysadmin or an employee, a removed one included); false without one.
 */
static const struct db_stmt stmt_in_company = {
	"ra_review_get_in_company",
	"SELECT coalesce(ra_officer_in_company($1::bigint, "
	"ra_application_company($2::bigint)), false)",
	2
};

static const struct db_stmt stmt_evidence = {
	"ra_review_evidence_select",
	"SELECT CASE WHEN $2::text = 'selfie' THEN selfie ELSE ktp_photo END, "
	"CASE WHEN $2::text = 'selfie' THEN selfie_mime ELSE ktp_mime END, "
	RA_TS("evidence_erased_at") " FROM ra_kyc WHERE application_id = $1",
	2
};

/*
 * Two statements, the lock first, for four-eyes to hold when two officers
 * decide at once: the application's row lock makes their decisions wait
 * for each other, and under READ COMMITTED only a statement begun after
 * the wait sees the decision that the transaction it waited for committed.
 * A count in the locking statement itself would use that statement's
 * snapshot, taken before the wait, and miss it: two distinct approvals,
 * the application still submitted, both audited as 1 of 2.
 */
static const struct db_stmt stmt_decide_lock = {
	"ra_review_decide_lock",
	"SELECT a.status, a.kind, a.account_id, acc.email, a.profile, "
	"a.previous_certificate_id, "
	"ra_officer_in_company($2::bigint, ra_application_company(a.id)), "
	"a.profile = 'company' OR coalesce(ra_company_active("
	"ra_application_company(a.id)), true), a.approvals_required "
	"FROM ra_application a JOIN ra_account acc ON acc.id = a.account_id "
	"WHERE a.id = $1 FOR UPDATE OF a",
	2
};
/*
 * The approvals the application needs (1, or 2 for four eyes), recorded at
 * its first decision: the database's guard (schema/105) approves it only
 * with that many approvals of distinct officers in ra_decision, and the
 * value never changes, so that a later change of review.four_eyes_kinds
 * does not lower it.
 */
static const struct db_stmt stmt_decide_required = {
	"ra_review_decide_required",
	"UPDATE ra_application SET approvals_required = $2::smallint "
	"WHERE id = $1 AND approvals_required IS NULL",
	2
};
/*
 * The application's approvals by officers not disabled since, and whether
 * this officer decided it. An officer is disabled when no longer trusted
 * (left, or suspected compromised): their approval no longer makes one of
 * four eyes, and another officer's is needed.
 */
static const struct db_stmt stmt_decide_count = {
	"ra_review_decide_count",
	"SELECT count(*) FILTER (WHERE d.decision = 'approve' AND "
	"o.disabled_at IS NULL), "
	"count(*) FILTER (WHERE d.officer_id = $2::bigint) > 0 "
	"FROM ra_decision d JOIN ra_officer o ON o.id = d.officer_id "
	"WHERE d.application_id = $1",
	2
};
/*
 * The certificate a rekey renews, at its approval: the rekey request
 * checked it (ra/certificate.c), but it may have been revoked, put on hold
 * or expired while the application waited for officers; why it no longer
 * may be rekeyed, or NULL (RA_REKEY_PREVIOUS_WHY: the request's rule, so
 * that one its CA revoked as cACompromise with its issuing CA is approved
 * as it was requested). FOR SHARE holds it as read until COMMIT: a
 * concurrent revocation waits for the approval, or the approval for the
 * revocation, and then reads the row it left.
 */
static const struct db_stmt stmt_decide_previous = {
	"ra_review_decide_previous",
	"SELECT c.serial, " RA_REKEY_PREVIOUS_WHY("c") " "
	"FROM certificate c WHERE c.id = $1 FOR SHARE OF c",
	1
};
static const struct db_stmt stmt_decide_insert = {
	"ra_review_decide_insert",
	"INSERT INTO ra_decision (application_id, officer_id, decision, reason) "
	"VALUES ($1, $2, $3, $4) RETURNING id",
	4
};
static const struct db_stmt stmt_decide_update = {
	"ra_review_decide_update",
	"UPDATE ra_application SET status = $2, decided_at = now(), "
	"decision_reason = $3 WHERE id = $1 AND status = 'submitted' "
	"RETURNING id",
	3
};

/*
 * The certificates whose serial is $1 or whose subject holds $1 (any
 * case); '' all. For a role that reads identities masked ($2 true: the
 * auditor) the subject is searched without the NIK's digits (each
 * "NIK:<digits>", what ra_mask_dn masks), so that no part of a NIK finds a
 * certificate: until 2026-12-07 an auditor's ?q=3174014504 found the one
 * person with it.
 */
#define RA_CERT_FROM \
	"FROM certificate c LEFT JOIN issuance_order io ON " \
	"io.certificate_id = c.id LEFT JOIN ra_application a ON " \
	"a.order_id = io.id WHERE ($1::text = '' OR c.serial = " \
	"upper($1::text) OR strpos(lower(CASE WHEN $2::boolean THEN " \
	"regexp_replace(c.subject, 'NIK:[0-9]+', 'NIK:', 'g') ELSE " \
	"c.subject END), lower($1::text)) > 0) "
static const struct db_stmt stmt_certs = {
	"ra_review_cert_list_select",
	"SELECT c.id, c.serial, c.subject, c.profile, " RA_TS("c.not_before")
	", " RA_TS("c.not_after") ", CASE WHEN c.revocation_reason = 6 THEN "
	"'hold' WHEN c.revoked_at IS NOT NULL THEN 'revoked' WHEN c.not_after "
	"<= now() THEN 'expired' ELSE 'good' END, c.revocation_reason, a.id "
	RA_CERT_FROM "ORDER BY c.id DESC LIMIT $3::int OFFSET $4::int",
	4
};
static const struct db_stmt stmt_certs_count = {
	"ra_review_cert_list_count",
	"SELECT count(*) " RA_CERT_FROM,
	2
};
/*
 * The certificate locked, whether it expired, whether it is of the
 * officer's ($2) own account or of a company that account belongs to
 * (schema/028: no officer acts on those), and who changed its status last.
 */
static const struct db_stmt stmt_revoke_lock = {
	"ra_review_revoke_lock",
	"SELECT c.serial, c.profile, c.revocation_reason, c.subject, "
	"c.not_after <= now(), EXISTS (SELECT 1 FROM issuance_order o "
	"JOIN ra_application a ON a.order_id = o.id "
	"JOIN ra_officer f ON f.id = $2::bigint "
	"WHERE o.certificate_id = c.id AND (a.account_id = f.account_id OR "
	"ra_officer_in_company(f.id, ra_application_company(a.id)))), "
	"coalesce(c.revoked_by, '') "
	"FROM certificate c WHERE c.id = $1 FOR UPDATE OF c",
	2
};
/*
 * A revocation without an invalidity date of a certificate on hold keeps
 * the date the hold recorded (pkictl's hold may carry one; RFC 5280
 * §5.3.2); any other change without one has none.
 */
static const struct db_stmt stmt_revoke_update = {
	"ra_review_revoke_update",
	"UPDATE certificate SET revoked_at = now(), revocation_reason = "
	"$2::smallint, invalidity_date = coalesce($3::timestamptz, "
	"CASE WHEN revocation_reason = 6 THEN invalidity_date END), "
	"revoked_by = $4 WHERE id = $1 RETURNING revocation_seq, "
	RA_TS("invalidity_date"),
	4
};
/* A hold released: valid again (the guard, schema/024, allows only this). */
static const struct db_stmt stmt_release_update = {
	"ra_review_release_update",
	"UPDATE certificate SET revoked_at = NULL, revocation_reason = NULL, "
	"invalidity_date = NULL, revoked_by = $2 WHERE id = $1 AND "
	"revocation_reason = 6 RETURNING revocation_seq",
	2
};

/* --- helpers ----------------------------------------------------------------- */

static json_int_t
ra_review_int(const PGresult *res, int row, int col)
{
	return (json_int_t)strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* A text column, or JSON null when SQL NULL. */
static json_t *
ra_review_str(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return json_null();
	return json_string(PQgetvalue(res, row, col));
}

/* Appends {name, pass, detail} to checks. 0 or -1. */
static int
ra_review_check(json_t *checks, const char *name, int pass,
    const char *detail)
{
	json_t *c;

	if ((c = json_pack("{s:s, s:b, s:s}", "name", name, "pass", pass,
	    "detail", detail)) == NULL)
		return -1;
	return json_array_append_new(checks, c);
}

/*
 * 1 when two distinct officers must approve an application: its kind or its
 * profile is a word of review.four_eyes_kinds. The profile counts because a
 * rekey keeps the kind "rekey" but renews the profile of the certificate it
 * replaces: a corporate or e-seal certificate needs four eyes however it is
 * applied for.
 */
static int
ra_review_four_eyes(const struct ra_policy *p, const char *kind,
    const char *profile)
{
	return ra_word_in(p->review_four_eyes_kinds, kind) ||
	    ra_word_in(p->review_four_eyes_kinds, profile);
}

/* --- GET /v1/officer/applications ---------------------------------------------- */

int
ra_review_list(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_officer_subject who;
	struct ra_list_query lq;
	char lim[16], off[24];
	const char *v[8];
	PGresult *res = NULL, *cnt = NULL;
	json_t *a = NULL, *item;
	int rc = -1, i, k;

	if ((k = ra_officer_session(ra, req, resp, ra_review_readers, &who)) != 1)
		return k == 0 ? 0 : -1;
	if ((k = ra_list_begin(req, resp, RA_LIST_APPLICATIONS, &lq, lim,
	    off)) != 1)
		return k;
	v[0] = lq.status;
	v[1] = lq.kind;
	v[2] = lq.q;
	v[3] = lq.profile;
	v[4] = lq.awaiting_mine ? who.officer_id : "";
	v[5] = ra->policy->review_four_eyes_kinds;
	v[6] = lim;
	v[7] = off;
	if ((cnt = db_exec(ra->db, &stmt_queue_count, v, NULL, NULL)) == NULL ||
	    PQntuples(cnt) != 1 ||
	    (res = db_exec(ra->db, &stmt_queue, v, NULL, NULL)) == NULL)
		goto out;
	if ((a = json_array()) == NULL)
		goto out;
	for (i = 0; i < PQntuples(res); i++) {
		if ((item = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:o, "
		    "s:o, s:I, s:o}", "id", ra_review_int(res, i, 0), "kind",
		    PQgetvalue(res, i, 1), "status", PQgetvalue(res, i, 2),
		    "profile", PQgetvalue(res, i, 3), "created_at",
		    PQgetvalue(res, i, 4), "updated_at", PQgetvalue(res, i, 5),
		    "email", PQgetvalue(res, i, 6), "full_name",
		    ra_review_str(res, i, 7), "nik_last4",
		    ra_review_str(res, i, 8), "approvals",
		    ra_review_int(res, i, 9), "company_name",
		    ra_review_str(res, i, 10))) == NULL ||
		    json_array_append_new(a, item) == -1)
			goto out;
	}
	rc = ra_list_respond(resp, "applications", a, PQgetvalue(cnt, 0, 0),
	    &lq);
out:
	json_decref(a);
	PQclear(res);
	PQclear(cnt);
	return rc;
}

/* --- GET /v1/officer/applications/{id} ----------------------------------------- */

/*
 * 1 when the officer's linked account belongs to the company application
 * id was made for (stmt_in_company): the officer reads neither its detail
 * nor its evidence, as they decide none of it (the employees' identities
 * are not their colleagues' to read); 0 when not (no linked account, no
 * company), -1 on failure.
 */
static int
ra_review_in_company(struct ra *ra, const struct ra_officer_subject *who,
    const char *id)
{
	const char *v[2];
	PGresult *res;
	int rc;

	if (who->account_id[0] == '\0')
		return 0;
	v[0] = who->officer_id;
	v[1] = id;
	if ((res = db_exec(ra->db, &stmt_in_company, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1) {
		PQclear(res);
		return -1;
	}
	rc = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return rc;
}

/*
 * An e-seal application's checks (its company in corp, row 0, or none):
 * the officers approved the company, and the applicant still represents it:
 * is its representative, whose identity stands (stmt_eseal_rep; until
 * 2026-12-07 only the account was compared, and the check passed for a
 * representative whose certificate an officer had revoked). The subject's
 * O and organizationIdentifier came from that company. 0 or -1.
 */
static int
ra_review_eseal_checks(struct ra *ra, json_t *checks, const PGresult *res,
    const PGresult *corp)
{
	const char *v[1];
	PGresult *st = NULL;
	int one = PQntuples(corp) == 1;
	int active = one && strcmp(PQgetvalue(corp, 0, C_STATUS),
	    "active") == 0;
	int rep = one && strcmp(PQgetvalue(corp, 0, C_REP_ID),
	    PQgetvalue(res, 0, D_ACC_ID)) == 0;
	int stands, rc = -1;

	if (ra_review_check(checks, "company_active", active, active ? "the "
	    "RA approved the company" : "the company is not active") == -1)
		goto out;
	v[0] = PQgetvalue(res, 0, D_ACC_ID);
	if ((st = db_exec(ra->db, &stmt_eseal_rep, v, NULL, NULL)) == NULL ||
	    PQntuples(st) != 1)
		goto out;
	stands = strcmp(PQgetvalue(st, 0, 0), "t") == 0;
	rc = ra_review_check(checks, "representative", rep && stands, !rep ?
	    "the applicant does not represent the company" : stands ? "the "
	    "applicant is the company's representative and holds a "
	    "certificate of their own that the RA or CA has not revoked or "
	    "suspended" : RA_ESEAL_REPRESENTATIVE_GONE "; the e-seal is not "
	    "approved, agreed to or rekeyed while so");
out:
	PQclear(st);
	return rc;
}

/*
 * Appends the formatted text to the string in buf (size bytes), cutting
 * what does not fit: a check's detail names at most ten rows of each kind.
 */
static void	ra_review_appendf(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
ra_review_appendf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	size_t len = strlen(buf);

	if (len + 1 >= size)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

/*
 * The check duplicate_nik from stmt_duplicates (active certificates of
 * other applications with the NIK) and stmt_duplicates_open (other
 * accounts' open applications with it): it passes when both are empty,
 * else its detail names them. 0 or -1.
 */
static int
ra_review_duplicate_nik(json_t *checks, const PGresult *dup,
    const PGresult *open)
{
	char detail[1024];
	int i;

	detail[0] = '\0';
	if (PQntuples(open) > 0) {
		ra_review_appendf(detail, sizeof(detail), "%s open "
		    "application(s) of other accounts with this NIK:",
		    PQgetvalue(open, 0, 3));
		for (i = 0; i < PQntuples(open); i++)
			ra_review_appendf(detail, sizeof(detail), "%s "
			    "application %s (%s, account %s)", i > 0 ? "," : "",
			    PQgetvalue(open, i, 0), PQgetvalue(open, i, 1),
			    PQgetvalue(open, i, 2));
	}
	if (PQntuples(dup) > 0) {
		ra_review_appendf(detail, sizeof(detail), "%sactive "
		    "certificate(s) for this NIK:", detail[0] != '\0' ? "; " :
		    "");
		for (i = 0; i < PQntuples(dup); i++)
			ra_review_appendf(detail, sizeof(detail), "%s serial %s "
			    "of application %s", i > 0 ? ";" : "",
			    PQgetvalue(dup, i, 2), PQgetvalue(dup, i, 0));
	}
	if (detail[0] == '\0')
		snprintf(detail, sizeof(detail), "no other account has an open "
		    "application (submitted, approved or agreed) with this NIK, "
		    "and no other application with it holds an active "
		    "certificate");
	return ra_review_check(checks, "duplicate_nik", PQntuples(dup) == 0 &&
	    PQntuples(open) == 0, detail);
}

/*
 * duplicate_nib or duplicate_npwp (name) from stmt_same_nib or
 * stmt_same_npwp (what: "NIB", "NPWP"): passes when no other company has
 * it, else names each with its status. 0 or -1.
 */
static int
ra_review_same_company(json_t *checks, const char *name, const char *what,
    const PGresult *same)
{
	char detail[1024];
	int i;

	detail[0] = '\0';
	if (PQntuples(same) == 0)
		snprintf(detail, sizeof(detail), "no other company registered "
		    "with the RA has this %s", what);
	else {
		ra_review_appendf(detail, sizeof(detail), "%s other "
		    "company(ies) with this %s:", PQgetvalue(same, 0, 3), what);
		for (i = 0; i < PQntuples(same); i++)
			ra_review_appendf(detail, sizeof(detail), "%s company %s "
			    "\"%s\" (%s)", i > 0 ? "," : "",
			    PQgetvalue(same, i, 0), PQgetvalue(same, i, 1),
			    PQgetvalue(same, i, 2));
	}
	return ra_review_check(checks, name, PQntuples(same) == 0, detail);
}

/*
 * company_data: the company's stored data (corp, row 0) passes today's
 * submission rules (ra_parse_corporate, over the stored values), and the
 * deed is dated no later than the submission (UTC+7, as rad checked it
 * then). 0 or -1.
 */
static int
ra_review_company_data(json_t *checks, const PGresult *corp)
{
	struct ra_corporate_req r;
	char detail[256];
	char *body = NULL;
	json_t *o = NULL;
	int rc = -1, ok;

	if ((o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "company_name", PQgetvalue(corp, 0, C_NAME), "nib",
	    PQgetvalue(corp, 0, C_NIB), "npwp", PQgetvalue(corp, 0, C_NPWP),
	    "deed_number", PQgetvalue(corp, 0, C_DEED), "deed_date",
	    PQgetvalue(corp, 0, C_DEED_DATE), "decree_number",
	    PQgetvalue(corp, 0, C_DECREE), "sysadmin_email",
	    PQgetvalue(corp, 0, C_SYSADMIN))) == NULL ||
	    (body = json_dumps(o, JSON_COMPACT)) == NULL)
		goto out;
	ok = ra_parse_corporate(body, strlen(body), &r, detail,
	    sizeof(detail)) == 0;
	if (ok && strcmp(PQgetvalue(corp, 0, C_DEED_OK), "t") != 0) {
		ok = 0;
		snprintf(detail, sizeof(detail), "deed_date: after the day of "
		    "the submission (UTC+7)");
	}
	rc = ra_review_check(checks, "company_data", ok, ok ? "the name, NIB "
	    "(13 digits), NPWP (15 or 16 digits), deed, decree (AHU-) and "
	    "sysadmin email (no government domain) pass the submission's "
	    "rules, and the deed is dated no later than the submission" :
	    detail);
out:
	free(body);
	json_decref(o);
	return rc;
}

/*
 * A company's own application's checks (its company in corp, row 0, or
 * none): company_data, duplicate_nib, duplicate_npwp and
 * representative_identity, the representative's standing now by the
 * submission's rule (their identity may have been withdrawn since: an
 * approved application cancelled, a certificate revoked by the RA). 0 or
 * -1.
 */
static int
ra_review_company_checks(struct ra *ra, json_t *checks, const PGresult *corp)
{
	const char *v[1];
	char detail[512];
	PGresult *same = NULL, *rep = NULL;
	int rc = -1, ok;

	if (PQntuples(corp) != 1)
		return ra_review_check(checks, "company_data", 0, "no company "
		    "is stored with this application");
	if (ra_review_company_data(checks, corp) == -1)
		goto out;
	v[0] = PQgetvalue(corp, 0, C_ID);
	if ((same = db_exec(ra->db, &stmt_same_nib, v, NULL, NULL)) == NULL ||
	    ra_review_same_company(checks, "duplicate_nib", "NIB",
	    same) == -1)
		goto out;
	PQclear(same);
	if ((same = db_exec(ra->db, &stmt_same_npwp, v, NULL, NULL)) == NULL ||
	    ra_review_same_company(checks, "duplicate_npwp", "NPWP, in either "
	    "form (15 digits, or 16: 0 and the 15)", same) == -1)
		goto out;
	v[0] = PQgetvalue(corp, 0, C_REP_ID);
	if ((rep = db_exec(ra->db, &stmt_company_rep, v, NULL, NULL)) == NULL ||
	    PQntuples(rep) != 1)
		goto out;
	ok = strcmp(PQgetvalue(rep, 0, 0), "t") == 0 &&
	    strcmp(PQgetvalue(rep, 0, 1), "t") == 0 &&
	    strcmp(PQgetvalue(rep, 0, 2), "t") == 0;
	snprintf(detail, sizeof(detail), "the representative (account %s)",
	    v[0]);
	if (ok)
		ra_review_appendf(detail, sizeof(detail), " has email and phone "
		    "verified and a personal application the RA approved, its "
		    "certificate, once issued, not revoked or suspended by the "
		    "RA");
	else {
		ra_review_appendf(detail, sizeof(detail), ":%s%s%s",
		    strcmp(PQgetvalue(rep, 0, 0), "t") != 0 ? " email not "
		    "verified;" : "", strcmp(PQgetvalue(rep, 0, 1), "t") != 0 ?
		    " phone not verified;" : "",
		    strcmp(PQgetvalue(rep, 0, 2), "t") != 0 ? " no personal "
		    "application the RA approved whose certificate, once "
		    "issued, the RA or CA has not revoked or suspended" : "");
		if (detail[strlen(detail) - 1] == ';')
			detail[strlen(detail) - 1] = '\0';
	}
	if (ra_review_check(checks, "representative_identity", ok,
	    detail) == -1)
		goto out;
	rc = 0;
out:
	PQclear(rep);
	PQclear(same);
	return rc;
}

/* The automatic checks of row 0 of res (an application with KYC). */
static json_t *
ra_review_checks(struct ra *ra, const PGresult *res)
{
	const char *nik = PQgetvalue(res, 0, D_NIK), *birth_s;
	const char *v[2];
	struct ra_nik n;
	struct ra_date birth, today;
	char detail[256];
	PGresult *dup = NULL, *open = NULL;
	json_t *checks = NULL;
	int ok, age, score, min;

	if ((checks = json_array()) == NULL)
		goto fail;
	ok = ra_nik_parse(nik, &n, detail, sizeof(detail)) == 0;
	if (ra_review_check(checks, "nik_structure", ok, ok ? "16 digits, a "
	    "known province, regency, district, day and month" : detail) == -1)
		goto fail;
	birth_s = PQgetvalue(res, 0, D_BIRTH);
	if (ra_date_parse(birth_s, &birth) == -1)
		goto fail;
	ok = ra_nik_check(nik, &birth, PQgetvalue(res, 0, D_SEX)[0], detail,
	    sizeof(detail)) == RA_NIK_OK;
	if (ra_review_check(checks, "nik_birth_date_sex", ok, ok ? "the NIK's "
	    "date and sex digits agree with the typed birth date and sex" :
	    detail) == -1)
		goto fail;
	if (ra_date_today(&today) == -1)
		goto fail;
	age = ra_age_years(&birth, &today);
	snprintf(detail, sizeof(detail), "%d years old today (UTC+7); policy "
	    "kyc.min_age %ld", age, ra->policy->kyc_min_age);
	if (ra_review_check(checks, "age", age >= ra->policy->kyc_min_age,
	    detail) == -1)
		goto fail;
	v[0] = PQgetvalue(res, 0, D_ID);
	v[1] = nik;
	if ((dup = db_exec(ra->db, &stmt_duplicates, v, NULL, NULL)) == NULL ||
	    (open = db_exec(ra->db, &stmt_duplicates_open, v, NULL,
	    NULL)) == NULL)
		goto fail;
	if (ra_review_duplicate_nik(checks, dup, open) == -1)
		goto fail;
	ok = !PQgetisnull(res, 0, D_OCR_NIK) &&
	    strcmp(PQgetvalue(res, 0, D_OCR_NIK), nik) == 0;
	if (ra_review_check(checks, "ocr_nik", ok, ok ? "the NIK read from "
	    "the e-KTP photo equals the typed NIK" : "the NIK read from the "
	    "e-KTP photo differs from the typed NIK") == -1)
		goto fail;
	ok = !PQgetisnull(res, 0, D_OCR_NAME) &&
	    strcasecmp(PQgetvalue(res, 0, D_OCR_NAME), PQgetvalue(res, 0,
	    D_NAME)) == 0;
	if (ra_review_check(checks, "ocr_name", ok, ok ? "the name read from "
	    "the e-KTP photo equals the typed name (ignoring case)" :
	    "the name read from the e-KTP photo differs from the typed "
	    "name") == -1)
		goto fail;
	ok = !PQgetisnull(res, 0, D_OCR_BIRTH) &&
	    strcmp(PQgetvalue(res, 0, D_OCR_BIRTH), birth_s) == 0;
	if (ra_review_check(checks, "ocr_birth_date", ok, ok ? "the birth "
	    "date read from the e-KTP photo equals the typed one" :
	    "the birth date read from the e-KTP photo differs from the "
	    "typed one") == -1)
		goto fail;
	score = atoi(PQgetvalue(res, 0, D_LIVENESS));
	min = atoi(PQgetvalue(res, 0, D_MIN_LIVENESS));
	snprintf(detail, sizeof(detail), "liveness %d, threshold %d (stored "
	    "at submission)", score, min);
	if (ra_review_check(checks, "liveness", score >= min, detail) == -1)
		goto fail;
	score = atoi(PQgetvalue(res, 0, D_MATCH));
	min = atoi(PQgetvalue(res, 0, D_MIN_MATCH));
	snprintf(detail, sizeof(detail), "face match %d, threshold %d (stored "
	    "at submission)", score, min);
	if (ra_review_check(checks, "match", score >= min, detail) == -1)
		goto fail;
	PQclear(open);
	PQclear(dup);
	return checks;
fail:
	PQclear(open);
	PQclear(dup);
	json_decref(checks);
	return NULL;
}

/*
 * The auditor's view of an application's identity (ra/README.md "Roles"):
 * the NIK's last four digits instead of the NIK; no birth date, birth place
 * or address; the OCR without the NIK and birth date it read. The checks
 * computed from them stay (pass or fail). 0 or -1 (kyc half-masked: the
 * caller serves nothing).
 */
static int
ra_review_kyc_mask(json_t *kyc, const char *nik)
{
	json_t *ocr;
	size_t len = strlen(nik);

	if (json_object_del(kyc, "nik") == -1 ||
	    json_object_del(kyc, "birth_place") == -1 ||
	    json_object_del(kyc, "birth_date") == -1 ||
	    json_object_del(kyc, "address") == -1 ||
	    json_object_set_new(kyc, "nik_last4", json_string(len >= 4 ?
	    nik + len - 4 : "")) == -1)
		return -1;
	if ((ocr = json_object_get(json_object_get(kyc, "idv"), "ocr")) ==
	    NULL || json_object_del(ocr, "nik") == -1 ||
	    json_object_del(ocr, "birth_date") == -1)
		return -1;
	return 0;
}

/*
 * The auditor's view of the subject to be certified: its serialNumber
 * "NIK:<nik>" (certificate.c) with all but the NIK's last four digits
 * masked. 0 or -1.
 */
static int
ra_review_subject_mask(json_t *subject)
{
	const char *sn;
	char v[RA_MASK_MAX + 8];

	sn = json_string_value(json_object_get(subject, "serialNumber"));
	if (sn == NULL || strncmp(sn, "NIK:", 4) != 0)
		return 0;
	ra_mask_dn(sn, v, sizeof(v));
	return json_object_set_new(subject, "serialNumber", json_string(v));
}

/*
 * The officer's last ra.application.view of the application (schema/111),
 * renewed only when it is an hour old or there is none: a row back means
 * the caller audits this view, in the same transaction.
 */
static const struct db_stmt stmt_view_mark = {
	"ra_review_get_view_mark",
	"INSERT INTO ra_application_view (officer_id, application_id) "
	"VALUES ($1::bigint, $2::bigint) ON CONFLICT (officer_id, "
	"application_id) DO UPDATE SET audited_at = now() "
	"WHERE ra_application_view.audited_at <= now() - interval '1 hour' "
	"RETURNING 1",
	2
};

struct ra_view_txn {
	const struct ra_officer_subject	*who;
	const char			*id;
	const char			*client;
	int				 audited;	/* out */
};

/*
 * Audits an officer's opening of the application's detail (the full
 * identity record) as ra.application.view, at most once an hour per
 * officer and application; the details never hold a personal value.
 */
static int
ra_view_txn(struct db *db, void *arg)
{
	struct ra_view_txn *t = arg;
	const char *v[2];
	char actor[40];
	PGresult *res = NULL;
	json_t *details = NULL;
	int rc = -1;

	t->audited = 0;
	v[0] = t->who->officer_id;
	v[1] = t->id;
	if ((res = db_exec(db, &stmt_view_mark, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) == 0) {
		rc = 0;		/* audited within the hour */
		goto out;
	}
	ra_officer_actor(t->who, actor, sizeof(actor));
	if ((details = json_pack("{s:s, s:s}", "role", t->who->role,
	    "client", t->client)) == NULL ||
	    audit_append(db, actor, "ra.application.view", "ra_application",
	    t->id, details, NULL) == -1)
		goto out;
	t->audited = 1;
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

int
ra_review_get(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_officer_subject who;
	struct ra_view_txn vt;
	const char *v[1];
	char id[24];
	PGresult *res = NULL, *dec = NULL, *corp = NULL;
	json_t *o = NULL, *decisions = NULL, *kyc = NULL, *checks = NULL,
	    *subject = NULL, *company = NULL, *item;
	json_error_t jerr;
	int rc = -1, i, k;

	if ((k = ra_officer_session(ra, req, resp, ra_review_readers, &who)) != 1)
		return k == 0 ? 0 : -1;
	if (ra_path_id(req->path, "/v1/officer/applications/", "", id) == -1)
		return ra_problem(resp, 404, "no such application");
	/* Nothing read, nothing audited (until 2026-12-07 served in full). */
	if ((k = ra_review_in_company(ra, &who, id)) == -1)
		return -1;
	if (k == 1)
		return ra_problem(resp, 403, RA_OFFICER_COMPANY_DETAIL);
	v[0] = id;
	if ((res = db_exec(ra->db, &stmt_detail, v, NULL, NULL)) == NULL ||
	    PQnfields(res) != D_NCOLS)
		goto out;
	if (PQntuples(res) != 1) {
		rc = ra_problem(resp, 404, "no such application");
		goto out;
	}
	if ((dec = db_exec(ra->db, &stmt_decisions, v, NULL, NULL)) == NULL ||
	    (decisions = json_array()) == NULL)
		goto out;
	for (i = 0; i < PQntuples(dec); i++)
		if ((item = json_pack("{s:I, s:s, s:s, s:s, s:s, s:b}",
		    "officer_id", ra_review_int(dec, i, 0), "officer",
		    PQgetvalue(dec, i, 1), "decision", PQgetvalue(dec, i, 2),
		    "reason", PQgetvalue(dec, i, 3), "created_at",
		    PQgetvalue(dec, i, 4), "officer_disabled",
		    strcmp(PQgetvalue(dec, i, 5), "t") == 0)) == NULL ||
		    json_array_append_new(decisions, item) == -1)
			goto out;
	if ((subject = json_loads(PQgetvalue(res, 0, D_SUBJECT), 0,
	    &jerr)) == NULL)
		goto out;
	if (strcmp(who.role, "auditor") == 0 &&
	    ra_review_subject_mask(subject) == -1)
		goto out;
	if ((corp = db_exec(ra->db, &stmt_company, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(corp) == 0)
		company = json_null();
	else if ((company = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, "
	    "s:s, s:s, s:{s:I, s:s}}", "id", ra_review_int(corp, 0, C_ID),
	    "status", PQgetvalue(corp, 0, C_STATUS), "name",
	    PQgetvalue(corp, 0, C_NAME), "nib", PQgetvalue(corp, 0, C_NIB),
	    "npwp", PQgetvalue(corp, 0, C_NPWP), "deed_number",
	    PQgetvalue(corp, 0, C_DEED), "deed_date",
	    PQgetvalue(corp, 0, C_DEED_DATE), "decree_number",
	    PQgetvalue(corp, 0, C_DECREE), "sysadmin_email",
	    PQgetvalue(corp, 0, C_SYSADMIN), "representative", "id",
	    ra_review_int(corp, 0, C_REP_ID), "email",
	    PQgetvalue(corp, 0, C_REP_EMAIL))) == NULL)
		goto out;
	if (PQgetisnull(res, 0, D_NIK)) {
		kyc = json_null();
		if ((checks = json_array()) == NULL)
			goto out;
		if (strcmp(PQgetvalue(res, 0, D_PROFILE), "eseal") == 0) {
			if (ra_review_eseal_checks(ra, checks, res, corp) == -1)
				goto out;
		} else if (strcmp(PQgetvalue(res, 0, D_PROFILE),
		    "company") == 0) {
			if (ra_review_company_checks(ra, checks, corp) == -1)
				goto out;
		} else if (ra_review_check(checks, "kyc", 0, "no personal KYC "
		    "data with this application") == -1)
			goto out;
	} else {
		if ((checks = ra_review_checks(ra, res)) == NULL)
			goto out;
		kyc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, "
		    "s:{s:{s:s, s:I}, s:{s:s, s:I}}, "
		    "s:{s:s, s:s, s:s, s:s}, "
		    "s:{s:s, s:s, s:{s:o, s:o, s:o}, s:I, s:I, s:I, s:I}}",
		    "nik", PQgetvalue(res, 0, D_NIK), "full_name",
		    PQgetvalue(res, 0, D_NAME), "birth_place",
		    PQgetvalue(res, 0, D_PLACE), "birth_date",
		    PQgetvalue(res, 0, D_BIRTH), "sex", PQgetvalue(res, 0, D_SEX),
		    "address", PQgetvalue(res, 0, D_ADDRESS),
		    "evidence", "ktp_photo", "content_type",
		    PQgetvalue(res, 0, D_KTP_MIME), "bytes",
		    ra_review_int(res, 0, D_KTP_LEN), "selfie", "content_type",
		    PQgetvalue(res, 0, D_SELFIE_MIME), "bytes",
		    ra_review_int(res, 0, D_SELFIE_LEN),
		    "consents", "privacy_policy", PQgetvalue(res, 0, D_PP),
		    "subscriber_agreement", PQgetvalue(res, 0, D_SA),
		    "guarantee_policy", PQgetvalue(res, 0, D_GP), "accepted_at",
		    PQgetvalue(res, 0, D_CONSENTED),
		    "idv", "adapter", PQgetvalue(res, 0, D_ADAPTER), "reference",
		    PQgetvalue(res, 0, D_REFERENCE), "ocr", "nik",
		    ra_review_str(res, 0, D_OCR_NIK), "full_name",
		    ra_review_str(res, 0, D_OCR_NAME), "birth_date",
		    ra_review_str(res, 0, D_OCR_BIRTH), "liveness",
		    ra_review_int(res, 0, D_LIVENESS), "min_liveness",
		    ra_review_int(res, 0, D_MIN_LIVENESS), "match",
		    ra_review_int(res, 0, D_MATCH), "min_match",
		    ra_review_int(res, 0, D_MIN_MATCH));
		/* Erased by pkictl kyc erase (schema/027): when. */
		if (kyc == NULL || json_object_set_new(json_object_get(kyc,
		    "evidence"), "erased_at", ra_review_str(res, 0,
		    D_ERASED)) == -1)
			goto out;
		if (strcmp(who.role, "auditor") == 0 &&
		    ra_review_kyc_mask(kyc, PQgetvalue(res, 0, D_NIK)) == -1)
			goto out;
	}
	o = json_pack("{s:I, s:s, s:s, s:s, s:O, s:s, s:s, s:o, s:o, s:o, "
	    "s:o, s:o, s:b, s:{s:I, s:s, s:s, s:b, s:b, s:s}, s:O, s:O, s:O, "
	    "s:O}",
	    "id", ra_review_int(res, 0, D_ID), "kind",
	    PQgetvalue(res, 0, D_KIND), "status", PQgetvalue(res, 0, D_STATUS),
	    "profile", PQgetvalue(res, 0, D_PROFILE), "subject", subject,
	    "created_at", PQgetvalue(res, 0, D_CREATED), "updated_at",
	    PQgetvalue(res, 0, D_UPDATED), "decided_at",
	    ra_review_str(res, 0, D_DECIDED), "decision_reason",
	    ra_review_str(res, 0, D_REASON), "order_id",
	    ra_review_str(res, 0, D_ORDER), "order_status",
	    ra_review_str(res, 0, D_ORDER_STATUS), "order_error",
	    ra_review_str(res, 0, D_ORDER_ERROR), "four_eyes",
	    ra_review_four_eyes(ra->policy, PQgetvalue(res, 0, D_KIND),
	    PQgetvalue(res, 0, D_PROFILE)),
	    "account", "id", ra_review_int(res, 0, D_ACC_ID), "email",
	    PQgetvalue(res, 0, D_EMAIL), "phone", PQgetvalue(res, 0, D_PHONE),
	    "email_verified", strcmp(PQgetvalue(res, 0, D_EMAIL_OK), "t") == 0,
	    "phone_verified", strcmp(PQgetvalue(res, 0, D_PHONE_OK), "t") == 0,
	    "created_at", PQgetvalue(res, 0, D_ACC_CREATED),
	    "kyc", kyc, "decisions", decisions, "checks", checks, "company",
	    company);
	if (o == NULL)
		goto out;
	/* No audit, no identity record: a failure here is a 500. */
	vt.who = &who;
	vt.id = id;
	vt.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_view_txn,
	    &vt) == -1)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	json_decref(o);
	json_decref(company);
	PQclear(corp);
	json_decref(subject);
	json_decref(kyc);
	json_decref(checks);
	json_decref(decisions);
	PQclear(dec);
	PQclear(res);
	return rc;
}

/* --- GET /v1/officer/applications/{id}/evidence/{ktp_photo|selfie} -------------- */

struct ra_evidence_txn {
	const struct ra_officer_subject	*who;
	const char			*id;
	const char			*which;
	const char			*client;
	unsigned char			*data;		/* out, malloc'd */
	size_t				 len;
	char				 mime[16];
	int				 found;
	char				 erased_at[24];	/* out: or "" */
};

static int
ra_evidence_txn(struct db *db, void *arg)
{
	struct ra_evidence_txn *t = arg;
	const char *v[2];
	char actor[40];
	PGresult *res = NULL;
	json_t *details = NULL;
	int rc = -1;

	free(t->data);
	t->data = NULL;
	t->found = 0;
	t->erased_at[0] = '\0';
	v[0] = t->id;
	v[1] = t->which;
	if ((res = db_exec(db, &stmt_evidence, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		rc = 0;		/* nothing to audit: COMMIT of nothing */
		goto out;
	}
	if (PQgetisnull(res, 0, 0)) {
		/* Erased (schema/027): nothing shown, nothing to audit. */
		snprintf(t->erased_at, sizeof(t->erased_at), "%s",
		    PQgetvalue(res, 0, 2));
		rc = 0;
		goto out;
	}
	if (db_bytea_value(PQgetvalue(res, 0, 0), &t->data, &t->len) == -1)
		goto out;
	snprintf(t->mime, sizeof(t->mime), "%s", PQgetvalue(res, 0, 1));
	ra_officer_actor(t->who, actor, sizeof(actor));
	if ((details = json_pack("{s:s, s:s, s:s, s:I}", "client", t->client,
	    "evidence", t->which, "content_type", t->mime, "bytes",
	    (json_int_t)t->len)) == NULL ||
	    audit_append(db, actor, "ra.evidence.view", "ra_application", t->id,
	    details, NULL) == -1)
		goto out;
	t->found = 1;
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

int
ra_review_evidence(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_officer_subject who;
	struct ra_evidence_txn t;
	char id[24], detail[160], disp[80];
	const char *which;
	int rc = -1, k;

	if ((k = ra_officer_session(ra, req, resp, ra_review_image_readers,
	    &who)) != 1)
		return k == 0 ? 0 : -1;
	if (ra_path_id(req->path, "/v1/officer/applications/",
	    "/evidence/ktp_photo", id) == 0)
		which = "ktp_photo";
	else if (ra_path_id(req->path, "/v1/officer/applications/",
	    "/evidence/selfie", id) == 0)
		which = "selfie";
	else
		return ra_problem(resp, 404, "no such evidence; "
		    "ktp_photo or selfie");
	/* As the detail: nothing read, nothing audited. */
	if ((k = ra_review_in_company(ra, &who, id)) == -1)
		return -1;
	if (k == 1)
		return ra_problem(resp, 403, RA_OFFICER_COMPANY_DETAIL);
	memset(&t, 0, sizeof(t));
	t.who = &who;
	t.id = id;
	t.which = which;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_evidence_txn,
	    &t) == -1)
		goto out;
	if (t.erased_at[0] != '\0') {
		snprintf(detail, sizeof(detail), "the evidence of this "
		    "application was erased at %s (policy "
		    "kyc.unissued_evidence_days)", t.erased_at);
		rc = ra_problem(resp, 410, detail);
		goto out;
	}
	if (!t.found) {
		rc = ra_problem(resp, 404, "no such application, or it has no "
		    "personal KYC evidence");
		goto out;
	}
	/*
	 * Never cached, never sniffed as anything but its image type, and
	 * named for whose it is when saved.
	 */
	snprintf(disp, sizeof(disp), "inline; filename=\"application-%s-%s.%s\"",
	    id, which, strcmp(t.mime, "image/jpeg") == 0 ? "jpg" :
	    strcmp(t.mime, "image/png") == 0 ? "png" : "bin");
	if (http_add_header(resp, "Cache-Control", "no-store") == -1 ||
	    http_add_header(resp, "X-Content-Type-Options", "nosniff") == -1 ||
	    http_add_header(resp, "Content-Security-Policy", "default-src "
	    "'none'; sandbox") == -1 ||
	    http_add_header(resp, "Content-Disposition", disp) == -1) {
		log_err("review: evidence %s of application %s: "
		    "http_add_header failed", which, id);
		http_response_clear(resp);
		goto out;
	}
	rc = http_respond(resp, 200, t.mime, t.data, t.len);
out:
	if (t.data != NULL) {
		ra_wipe(t.data, t.len);
		free(t.data);
	}
	return rc;
}

/* --- POST /v1/officer/applications/{id}/decision -------------------------------- */

enum ra_decide_outcome {
	RA_DECIDE_DONE = 0,
	RA_DECIDE_NOT_FOUND,	/* 404 */
	RA_DECIDE_OWN,		/* 403 */
	RA_DECIDE_COMPANY,	/* 403: the officer's account is in its company */
	RA_DECIDE_TWICE,	/* 409 */
	RA_DECIDE_NOT_OPEN,	/* 409 */
	RA_DECIDE_PREVIOUS,	/* 409: a rekey's certificate is no longer valid */
	RA_DECIDE_COMPANY_INACTIVE,	/* 409 */
	RA_DECIDE_REPRESENTATIVE,	/* 409: an e-seal's, identity withdrawn */
	RA_DECIDE_MAIL_FAILED,	/* 503 */
};

struct ra_decide_txn {
	struct ra			*ra;
	const struct ra_officer_subject	*who;
	const struct ra_decision_req	*req;
	const char			*id;
	const char			*client;
	enum ra_decide_outcome		 outcome;
	char				 status[16];	/* out: after */
	char				 kind[16];
	char				 profile[40];
	long				 approvals;	/* out: after */
	int				 required;	/* out: 1 or 2 */
	char				 detail[160];	/* RA_DECIDE_PREVIOUS */
};

/* The applicant's email of a status change, written before COMMIT. */
static int
ra_decide_mail(struct ra_decide_txn *t, const char *to)
{
	char subject[128], *body = NULL;
	int rc, n;

	if (t->req->approve) {
		snprintf(subject, sizeof(subject), "Your certificate application "
		    "%s is approved", t->id);
		n = asprintf(&body, "Your application %s (%s) was approved by "
		    "the registration authority.\n\nSign in to read and accept "
		    "the subscriber agreement; your certificate is issued after "
		    "that.\n", t->id, t->kind);
	} else {
		snprintf(subject, sizeof(subject), "Your certificate application "
		    "%s was rejected", t->id);
		n = asprintf(&body, "Your application %s (%s) was rejected by "
		    "the registration authority.\n\nReason:\n%s\n\nYou may "
		    "submit a new application.\n", t->id, t->kind,
		    t->req->reason);
	}
	if (n == -1)
		return -1;
	rc = ra_mail_send(t->ra->mailer, to, subject, body);
	free(body);
	return rc;
}

/*
 * A rekey is approved only while the certificate it renews (id) may be
 * rekeyed: not revoked (but as its revoked issuing CA, cACompromise), not
 * on hold, not expired. 0 when it may; -1 otherwise, with
 * t->outcome RA_DECIDE_PREVIOUS and t->detail when it is not, and
 * RA_DECIDE_DONE on a database failure.
 */
static int
ra_decide_previous(struct db *db, struct ra_decide_txn *t, const char *id)
{
	const char *v[1];
	PGresult *res = NULL;
	int rc = -1;

	v[0] = id;
	if ((res = db_exec(db, &stmt_decide_previous, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	if (!PQgetisnull(res, 0, 1)) {
		t->outcome = RA_DECIDE_PREVIOUS;
		snprintf(t->detail, sizeof(t->detail), "the certificate this "
		    "rekey renews (serial %s) %s; only a valid certificate is "
		    "rekeyed", PQgetvalue(res, 0, 0),
		    strcmp(PQgetvalue(res, 0, 1), "on hold") == 0 ? "is on hold" :
		    strcmp(PQgetvalue(res, 0, 1), "revoked") == 0 ? "is revoked" :
		    "has expired");
		goto out;
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

static int
ra_decide_txn(struct db *db, void *arg)
{
	struct ra_decide_txn *t = arg;
	const char *v[4];
	char actor[40], email[RA_EMAIL_MAX + 1];
	PGresult *res = NULL, *cnt = NULL;
	json_t *details = NULL;
	int rc = -1, four_eyes, record, changed = 0, k;

	t->outcome = RA_DECIDE_DONE;
	v[0] = t->id;
	v[1] = t->who->officer_id;
	if ((res = db_exec(db, &stmt_decide_lock, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		t->outcome = RA_DECIDE_NOT_FOUND;
		goto out;
	}
	snprintf(t->status, sizeof(t->status), "%s", PQgetvalue(res, 0, 0));
	snprintf(t->kind, sizeof(t->kind), "%s", PQgetvalue(res, 0, 1));
	snprintf(email, sizeof(email), "%s", PQgetvalue(res, 0, 3));
	snprintf(t->profile, sizeof(t->profile), "%s", PQgetvalue(res, 0, 4));
	/* Recorded at the first decision (schema/105), else from the policy. */
	record = PQgetisnull(res, 0, 8);
	if (record)
		four_eyes = ra_review_four_eyes(t->ra->policy, t->kind,
		    t->profile);
	else
		four_eyes = strcmp(PQgetvalue(res, 0, 8), "2") == 0;
	t->required = four_eyes ? 2 : 1;
	if (t->who->account_id[0] != '\0' &&
	    strcmp(t->who->account_id, PQgetvalue(res, 0, 2)) == 0) {
		t->outcome = RA_DECIDE_OWN;
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 6), "t") == 0) {
		t->outcome = RA_DECIDE_COMPANY;
		goto out;
	}
	/* After the lock, in a statement of its own: see stmt_decide_lock. */
	if ((cnt = db_exec(db, &stmt_decide_count, v, NULL, NULL)) == NULL ||
	    PQntuples(cnt) != 1)
		goto out;
	t->approvals = strtol(PQgetvalue(cnt, 0, 0), NULL, 10);
	if (strcmp(PQgetvalue(cnt, 0, 1), "t") == 0) {
		t->outcome = RA_DECIDE_TWICE;
		goto out;
	}
	if (strcmp(t->status, "submitted") != 0) {
		t->outcome = RA_DECIDE_NOT_OPEN;
		goto out;
	}
	/* Made for a company: approved only while the company is active. */
	if (t->req->approve && strcmp(PQgetvalue(res, 0, 7), "t") != 0) {
		t->outcome = RA_DECIDE_COMPANY_INACTIVE;
		goto out;
	}
	/*
	 * An e-seal (or its rekey): approved only while its representative's
	 * identity stands, as at submission; their certificates shared until
	 * COMMIT (after the application's lock, as stmt_decide_previous).
	 */
	if (t->req->approve && strcmp(t->profile, "eseal") == 0) {
		if ((k = ra_corporate_representative_stands(db, t->id)) == -1)
			goto out;
		if (k == 0) {
			t->outcome = RA_DECIDE_REPRESENTATIVE;
			goto out;
		}
	}
	if (t->req->approve && strcmp(t->kind, "rekey") == 0 &&
	    ra_decide_previous(db, t, PQgetvalue(res, 0, 5)) == -1)
		goto out;
	PQclear(res);
	res = NULL;
	if (record) {
		v[0] = t->id;
		v[1] = four_eyes ? "2" : "1";
		if ((res = db_exec(db, &stmt_decide_required, v, NULL,
		    NULL)) == NULL)
			goto out;
		PQclear(res);
		res = NULL;
	}
	v[0] = t->id;
	v[1] = t->who->officer_id;
	v[2] = t->req->approve ? "approve" : "reject";
	v[3] = t->req->reason;
	if ((res = db_exec(db, &stmt_decide_insert, v, NULL, NULL)) == NULL) {
		if (strcmp(db_last_sqlstate(db), "23505") == 0)
			t->outcome = RA_DECIDE_TWICE;
		goto out;
	}
	if (t->req->approve)
		t->approvals++;
	if (!t->req->approve || t->approvals >= t->required) {
		PQclear(res);
		v[0] = t->id;
		v[1] = t->req->approve ? "approved" : "rejected";
		v[2] = t->req->reason;
		if ((res = db_exec(db, &stmt_decide_update, v, NULL,
		    NULL)) == NULL || PQntuples(res) != 1)
			goto out;
		snprintf(t->status, sizeof(t->status), "%s", v[1]);
		changed = 1;
	}
	ra_officer_actor(t->who, actor, sizeof(actor));
	if ((details = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:I, "
	    "s:i, s:s}", "client", t->client, "officer", t->who->username,
	    "decision", t->req->approve ? "approve" : "reject", "reason",
	    t->req->reason, "kind", t->kind, "profile", t->profile,
	    "four_eyes", four_eyes,
	    "approvals", (json_int_t)t->approvals, "approvals_required",
	    t->required, "status", t->status)) == NULL ||
	    audit_append(db, actor, "ra.application.decide", "ra_application",
	    t->id, details, NULL) == -1)
		goto out;
	if (changed && audit_append(db, actor, t->req->approve ?
	    "ra.application.approve" : "ra.application.reject",
	    "ra_application", t->id, details, NULL) == -1)
		goto out;
	/* The applicant is told of a status change; no mail, no change. */
	if (changed && ra_decide_mail(t, email) == -1) {
		t->outcome = RA_DECIDE_MAIL_FAILED;
		goto out;
	}
	rc = 0;
out:
	json_decref(details);
	PQclear(cnt);
	PQclear(res);
	return rc;
}

int
ra_review_decide(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_officer_subject who;
	struct ra_decision_req r;
	struct ra_decide_txn t;
	char id[24], detail[192];
	json_t *o = NULL;
	int rc = -1, k;

	if ((k = ra_officer_post(ra, req, resp, ra_review_deciders, &who,
	    "/v1/officer/applications/", "/decision", id, "no such application")) != 1)
		return k;
	if (ra_parse_decision(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1)
		return ra_problem(resp, 400, detail);
	memset(&t, 0, sizeof(t));
	t.ra = ra;
	t.who = &who;
	t.req = &r;
	t.id = id;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_decide_txn,
	    &t) == -1) {
		switch (t.outcome) {
		case RA_DECIDE_NOT_FOUND:
			rc = ra_problem(resp, 404, "no such application");
			break;
		case RA_DECIDE_OWN:
			rc = ra_problem(resp, 403, "this application is of your "
			    "own subscriber account; another officer must "
			    "decide it");
			break;
		case RA_DECIDE_COMPANY:
			rc = ra_problem(resp, 403, RA_OFFICER_COMPANY_DETAIL);
			break;
		case RA_DECIDE_TWICE:
			rc = ra_problem(resp, 409, "you have already decided "
			    "this application; four-eyes needs another "
			    "officer");
			break;
		case RA_DECIDE_NOT_OPEN:
			snprintf(detail, sizeof(detail), "the application is "
			    "%s; only a submitted application is decided",
			    t.status);
			rc = ra_problem(resp, 409, detail);
			break;
		case RA_DECIDE_PREVIOUS:
			rc = ra_problem(resp, 409, t.detail);
			break;
		case RA_DECIDE_COMPANY_INACTIVE:
			rc = ra_problem(resp, 409, RA_COMPANY_INACTIVE);
			break;
		case RA_DECIDE_REPRESENTATIVE:
			rc = ra_problem(resp, 409, RA_ESEAL_REPRESENTATIVE_GONE
			    "; it may still be rejected");
			break;
		case RA_DECIDE_MAIL_FAILED:
			http_add_header(resp, "Retry-After", "60");
			rc = ra_problem(resp, 503, "the applicant could not be "
			    "emailed; nothing was stored");
			break;
		default:
			break;
		}
		goto out;
	}
	log_info("application %s: %s by officer %s (%s); status %s",
	    id, r.approve ? "approve" : "reject", who.officer_id, who.username,
	    t.status);
	if ((o = json_pack("{s:I, s:s, s:s, s:I, s:i}", "id",
	    (json_int_t)strtoll(id, NULL, 10), "decision", r.approve ?
	    "approve" : "reject", "status", t.status, "approvals",
	    (json_int_t)t.approvals, "approvals_required", t.required)) == NULL)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	json_decref(o);
	return rc;
}

/* --- GET /v1/officer/certificates ---------------------------------------------- */

int
ra_review_cert_list(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_officer_subject who;
	struct ra_list_query lq;
	char lim[16], off[24];
	const char *v[4];
	PGresult *res = NULL, *cnt = NULL;
	json_t *a = NULL, *item;
	int rc = -1, i, k;

	if ((k = ra_officer_session(ra, req, resp, ra_review_readers, &who)) != 1)
		return k == 0 ? 0 : -1;
	if ((k = ra_list_begin(req, resp, RA_LIST_CERTIFICATES, &lq, lim,
	    off)) != 1)
		return k;
	v[0] = lq.q;
	v[1] = ra_officer_masked(&who) ? "true" : "false";
	v[2] = lim;
	v[3] = off;
	if ((cnt = db_exec(ra->db, &stmt_certs_count, v, NULL, NULL)) == NULL ||
	    PQntuples(cnt) != 1 ||
	    (res = db_exec(ra->db, &stmt_certs, v, NULL, NULL)) == NULL ||
	    (a = json_array()) == NULL)
		goto out;
	for (i = 0; i < PQntuples(res); i++) {
		/* The auditor's subject with the NIK masked. */
		if ((item = json_pack("{s:I, s:s, s:o, s:s, s:s, s:s, s:s, s:o, "
		    "s:o}", "id", ra_review_int(res, i, 0), "serial",
		    PQgetvalue(res, i, 1), "subject", ra_officer_dn(&who,
		    PQgetvalue(res, i, 2)),
		    "profile", PQgetvalue(res, i, 3), "not_before",
		    PQgetvalue(res, i, 4), "not_after", PQgetvalue(res, i, 5),
		    "status", PQgetvalue(res, i, 6), "revocation_reason",
		    PQgetisnull(res, i, 7) ? json_null() :
		    json_string(ra_revocation_reason_name(atoi(PQgetvalue(res,
		    i, 7)))), "application_id", PQgetisnull(res, i, 8) ?
		    json_null() : json_integer(ra_review_int(res, i, 8)))) ==
		    NULL || json_array_append_new(a, item) == -1)
			goto out;
	}
	rc = ra_list_respond(resp, "certificates", a, PQgetvalue(cnt, 0, 0),
	    &lq);
out:
	json_decref(a);
	PQclear(res);
	PQclear(cnt);
	return rc;
}

/*
 * --- POST /v1/officer/certificates/{id}/revoke, .../hold, .../release ------------
 * One transaction for the three: the certificate locked, the change, its
 * audit event and the subscriber's notice (schema/034).
 */

enum ra_status_change {
	RA_CHANGE_REVOKE = 0,
	RA_CHANGE_HOLD,		/* certificateHold (6): suspended */
	RA_CHANGE_RELEASE,	/* a hold lifted: valid again */
};

enum ra_revoke_outcome {
	RA_REVOKE_DONE = 0,
	RA_REVOKE_NOT_FOUND,	/* 404 */
	RA_REVOKE_NOT_SUBSCRIBER,	/* 403: a CA or service certificate */
	RA_REVOKE_REVOKED,	/* 409: revoked for good */
	RA_REVOKE_ON_HOLD,	/* 409: a hold of a certificate on hold */
	RA_REVOKE_NOT_HELD,	/* 409: a release of one not on hold */
	RA_REVOKE_EXPIRED,	/* 409: a hold or release of an expired one */
	RA_REVOKE_CONFLICT,	/* 403: the officer's own or company's */
	RA_REVOKE_CA_HOLD,	/* 403: a hold pkictl placed, released by pkictl */
};

struct ra_revoke_txn {
	const struct ra_officer_subject	*who;
	enum ra_status_change		 change;
	const struct ra_revoke_req	*req;	/* RA_CHANGE_REVOKE */
	const char			*comment;
	const char			*id;
	const char			*client;
	enum ra_revoke_outcome		 outcome;
	char				 serial[80];
	char				 was[24];	/* "good" or "hold" */
};

/* Whether the locked row (stmt_revoke_lock) allows t->change; 0 or -1. */
static int
ra_revoke_allowed(struct ra_revoke_txn *t, PGresult *res)
{
	const char *profile = PQgetvalue(res, 0, 1);
	int revoked = !PQgetisnull(res, 0, 2);
	int held = revoked && strcmp(PQgetvalue(res, 0, 2), "6") == 0;

	if (strcmp(profile, "root") == 0 || strcmp(profile, "issuing-ca") == 0 ||
	    strcmp(profile, "ocsp-responder") == 0 ||
	    strcmp(profile, "tsa") == 0)
		t->outcome = RA_REVOKE_NOT_SUBSCRIBER;
	else if (strcmp(PQgetvalue(res, 0, 5), "t") == 0)
		t->outcome = RA_REVOKE_CONFLICT;
	else if (revoked && !held)
		t->outcome = RA_REVOKE_REVOKED;	/* final, whatever is asked */
	else if (t->change == RA_CHANGE_HOLD && held)
		t->outcome = RA_REVOKE_ON_HOLD;
	else if (t->change == RA_CHANGE_RELEASE && !held)
		t->outcome = RA_REVOKE_NOT_HELD;
	else if (t->change != RA_CHANGE_REVOKE &&
	    strcmp(PQgetvalue(res, 0, 4), "t") == 0)
		t->outcome = RA_REVOKE_EXPIRED;	/* nothing left to suspend */
	else if (t->change == RA_CHANGE_RELEASE &&
	    strncmp(PQgetvalue(res, 0, 6), "officer:", 8) != 0)
		t->outcome = RA_REVOKE_CA_HOLD;
	snprintf(t->was, sizeof(t->was), "%s", held ? "certificateHold" :
	    "not revoked");
	return t->outcome == RA_REVOKE_DONE ? 0 : -1;
}

static int
ra_revoke_txn(struct db *db, void *arg)
{
	static const char *const notice[] = { "revoked", "suspended",
	    "released" };
	struct ra_revoke_txn *t = arg;
	const char *v[4], *reason, *inval = NULL;
	char actor[40], code[8];
	PGresult *res = NULL;
	json_t *details = NULL;
	int rc = -1, reason_code;

	t->outcome = RA_REVOKE_DONE;
	v[0] = t->id;
	v[1] = t->who->officer_id;
	if ((res = db_exec(db, &stmt_revoke_lock, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		t->outcome = RA_REVOKE_NOT_FOUND;
		goto out;
	}
	snprintf(t->serial, sizeof(t->serial), "%s", PQgetvalue(res, 0, 0));
	if (ra_revoke_allowed(t, res) == -1)
		goto out;
	PQclear(res);
	ra_officer_actor(t->who, actor, sizeof(actor));
	reason = t->change == RA_CHANGE_REVOKE ? t->req->reason_name :
	    t->change == RA_CHANGE_HOLD ? "certificateHold" : NULL;
	reason_code = t->change == RA_CHANGE_REVOKE ? t->req->reason :
	    t->change == RA_CHANGE_HOLD ? 6 : -1;
	snprintf(code, sizeof(code), "%d", reason_code);
	v[0] = t->id;
	if (t->change == RA_CHANGE_RELEASE) {
		v[1] = actor;
		res = db_exec(db, &stmt_release_update, v, NULL, NULL);
	} else {
		if (t->change == RA_CHANGE_REVOKE &&
		    t->req->invalidity_date[0] != '\0')
			inval = t->req->invalidity_date;
		v[1] = code;
		v[2] = inval;
		v[3] = actor;
		res = db_exec(db, &stmt_revoke_update, v, NULL, NULL);
	}
	if (res == NULL || PQntuples(res) != 1)
		goto out;
	/* The date stored, which may be the hold's (stmt_revoke_update). */
	inval = t->change != RA_CHANGE_RELEASE && !PQgetisnull(res, 0, 1) ?
	    PQgetvalue(res, 0, 1) : NULL;
	if ((details = json_pack("{s:s, s:s, s:s, s:s?, s:o, s:s, s:o, s:s}",
	    "client", t->client, "officer", t->who->username, "serial",
	    t->serial, "reason", reason, "reason_code", reason_code >= 0 ?
	    json_integer(reason_code) : json_null(), "comment", t->comment,
	    "invalidity_date", inval != NULL ? json_string(inval) : json_null(),
	    "previous", t->was)) == NULL ||
	    audit_append(db, actor, t->change == RA_CHANGE_RELEASE ?
	    "cert.release" : "cert.revoke", "certificate", t->id, details,
	    NULL) == -1)
		goto out;
	if (ra_status_notice(db, t->id, notice[t->change], reason != NULL ?
	    reason : "", "the registration authority") == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

/* The answer of a refused change; 0 or -1 (none: a database failure). */
static int
ra_revoke_refuse(struct http_response *resp, const struct ra_revoke_txn *t)
{
	switch (t->outcome) {
	case RA_REVOKE_NOT_FOUND:
		return ra_problem(resp, 404, "no such certificate");
	case RA_REVOKE_NOT_SUBSCRIBER:
		return ra_problem(resp, 403, "a CA or service certificate; "
		    "those are revoked with pkictl");
	case RA_REVOKE_REVOKED:
		return ra_problem(resp, 409, "the certificate is already "
		    "revoked; a revocation is final");
	case RA_REVOKE_ON_HOLD:
		return ra_problem(resp, 409, "the certificate is already on "
		    "hold");
	case RA_REVOKE_NOT_HELD:
		return ra_problem(resp, 409, "the certificate is not on hold");
	case RA_REVOKE_EXPIRED:
		return ra_problem(resp, 409, "the certificate has expired: "
		    "there is nothing to suspend or release");
	case RA_REVOKE_CONFLICT:
		return ra_problem(resp, 403, "the certificate is of your own "
		    "account or of a company your account belongs to");
	case RA_REVOKE_CA_HOLD:
		return ra_problem(resp, 403, "the certification authority "
		    "put this certificate on hold; it is released with pkictl");
	case RA_REVOKE_DONE:
		break;
	}
	return -1;
}

/* POST .../hold and .../release: {"reason": why}, recorded and audited. */
static int
ra_review_hold_release(struct ra *ra, const struct http_request *req,
    struct http_response *resp, enum ra_status_change change)
{
	struct ra_officer_subject who;
	struct ra_revoke_txn t;
	char id[24], detail[192], why[RA_REVIEW_REASON_MAX + 1];
	const char *status = change == RA_CHANGE_HOLD ? "hold" : "good";
	json_t *o = NULL;
	int rc = -1, k;

	if ((k = ra_officer_post(ra, req, resp, ra_review_deciders, &who,
	    "/v1/officer/certificates/", change == RA_CHANGE_HOLD ? "/hold" :
	    "/release", id, "no such certificate")) != 1)
		return k;
	if (!ra->policy->review_holds)
		return ra_problem(resp, 403, "this CA does not suspend "
		    "certificates (policy review.holds)");
	if (ra_parse_reason(req->body, req->body_len, why, detail,
	    sizeof(detail)) == -1)
		return ra_problem(resp, 400, detail);
	memset(&t, 0, sizeof(t));
	t.who = &who;
	t.change = change;
	t.comment = why;
	t.id = id;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_revoke_txn,
	    &t) == -1)
		return ra_revoke_refuse(resp, &t);
	log_info("certificate %s (serial %s) %s by officer %s (%s)", id,
	    t.serial, change == RA_CHANGE_HOLD ? "put on hold" : "released",
	    who.officer_id, who.username);
	if ((o = json_pack("{s:I, s:s, s:s}", "id",
	    (json_int_t)strtoll(id, NULL, 10), "serial", t.serial, "status",
	    status)) == NULL)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	json_decref(o);
	return rc;
}

int
ra_review_hold(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	return ra_review_hold_release(ra, req, resp, RA_CHANGE_HOLD);
}

int
ra_review_release(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	return ra_review_hold_release(ra, req, resp, RA_CHANGE_RELEASE);
}

int
ra_review_revoke(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_officer_subject who;
	struct ra_revoke_req r;
	struct ra_revoke_txn t;
	char id[24], detail[192];
	json_t *o = NULL;
	int rc = -1, k;

	if ((k = ra_officer_post(ra, req, resp, ra_review_deciders, &who,
	    "/v1/officer/certificates/", "/revoke", id, "no such certificate")) != 1)
		return k;
	if (ra_parse_revoke(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1)
		return ra_problem(resp, 400, detail);
	if ((ra->policy->review_revocation_reasons & (1U << r.reason)) == 0) {
		snprintf(detail, sizeof(detail), "reason: %s is not allowed "
		    "to officers (policy review.revocation_reasons)",
		    r.reason_name);
		return ra_problem(resp, 400, detail);
	}
	if (r.invalidity_date[0] != '\0' &&
	    r.invalidity > time(NULL) + RA_REVIEW_SKEW_S)
		return ra_problem(resp, 400, "invalidity_date: in the future "
		    "(RFC 5280 §5.3.2: when the key is known or suspected to "
		    "have been compromised)");
	memset(&t, 0, sizeof(t));
	t.who = &who;
	t.change = RA_CHANGE_REVOKE;
	t.req = &r;
	t.comment = r.comment;
	t.id = id;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_revoke_txn,
	    &t) == -1) {
		rc = ra_revoke_refuse(resp, &t);
		goto out;
	}
	log_info("certificate %s (serial %s) revoked by officer %s (%s): %s",
	    id, t.serial, who.officer_id, who.username, r.reason_name);
	if ((o = json_pack("{s:I, s:s, s:s, s:s}", "id",
	    (json_int_t)strtoll(id, NULL, 10), "serial", t.serial, "status",
	    "revoked", "reason", r.reason_name)) == NULL)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	json_decref(o);
	return rc;
}
