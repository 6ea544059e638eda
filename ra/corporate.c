/*
 * Corporate accounts (ra/README.md "Corporate", schema/018_ra_corporate.sql):
 *
 *  - a representative (a verified account with an approved personal
 *    application) registers a company whose NIB and NPWP no other pending
 *    or active company holds (schema/065): POST /v1/corporate stores it
 *    with an application of kind corporate, profile company, for the
 *    officers (four eyes: ra/review.c), and mails the sysadmin_email a
 *    claim token;
 *  - the sysadmin is the account of that (verified) address that brought
 *    the token back within corporate.claim_ttl_seconds (schema/044); until
 *    then the representative may have a new token mailed there, which
 *    replaces the old (schema/051); once
 *    the company is approved, the sysadmin invites employees (a mailed
 *    single-use token, stored as its SHA-256, expiring after
 *    corporate.invite_ttl_seconds; a new one voids the live one, and
 *    invitations are capped per company an hour and per address a day,
 *    schema/067), who accept it with their own account
 *    and then submit their own KYC with company_id (kyc.c: kind corporate,
 *    O = the company's name);
 *  - the sysadmin requests the revocation of an employee's certificate with
 *    a second factor; an officer carries it out or rejects it;
 *  - the sysadmin removes an employee (schema/066), with a second factor:
 *    the membership ends (kept as history), the employee's open
 *    applications for the company are cancelled and the revocation of
 *    their certificates of it requested; they apply in its name no more.
 *
 * Each change commits with its audit event; a refusal changes nothing
 * (but a wrong factor, which ra_factor_verify records). Tokens never reach
 * a log, a problem detail or the audit. An expired token is answered as an
 * unknown or used one (404, the same detail), as email verification and
 * password reset tokens are (account.c, reset.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "lib/audit.h"
#include "lib/db.h"
#include "lib/http.h"
#include "lib/log.h"
#include "ra/extern.h"


/* --- statements ------------------------------------------------------------ */

/* Personal KYC (a first application or a re-KYC): approved will do. */
static const struct db_stmt stmt_rep_lock = {
	"ra_corporate_submit_representative",
	"SELECT a.email_verified, a.phone_verified, "
	RA_IDENTITY_STANDS("('personal')", "('personal', 'rekyc')") ", "
	"EXISTS (SELECT 1 FROM "
	"ra_application p WHERE p.account_id = a.id AND p.profile = 'company' "
	"AND p.status = 'submitted') FROM ra_account a WHERE a.id = $1 "
	"FOR UPDATE OF a",
	1
};
/*
 * The sysadmin address of a new company, locked (ra_company_sysadmin_lock,
 * schema/082) before the statement below looks for another holder.
 */
static const struct db_stmt stmt_email_lock = {
	"ra_corporate_submit_email_lock",
	"SELECT ra_company_sysadmin_lock($1)",
	1
};
static const struct db_stmt stmt_email_taken = {
	"ra_corporate_submit_email_taken",
	"SELECT EXISTS (SELECT 1 FROM ra_account WHERE email = $1), "
	"EXISTS (SELECT 1 FROM ra_company c JOIN ra_application a ON "
	"a.id = c.application_id WHERE c.sysadmin_email = $1 AND "
	"a.status NOT IN ('rejected', 'cancelled') AND "
	"c.deactivated_at IS NULL)",
	1
};
/*
 * The locks of the NIB's and the NPWP's holders (schema/065; its insert
 * trigger takes them too), then whether a company other than the new one
 * holds either (RA_COMPANY_HOLDS: pending or active), in a statement begun
 * after the locks: a submission that held them and committed is seen. An
 * NPWP by its canonical form (schema/115: 16 digits, a 15-digit one with a
 * 0 before it, PMK 112/2022), the lock's key too: one company's two forms
 * are one NPWP.
 */
static const struct db_stmt stmt_ident_lock = {
	"ra_corporate_submit_identifiers_lock",
	"SELECT ra_company_identifiers_lock($1, $2)",
	2
};
static const struct db_stmt stmt_ident_taken = {
	"ra_corporate_submit_identifiers_taken",
	"SELECT EXISTS (SELECT 1 FROM ra_company c JOIN ra_application a ON "
	"a.id = c.application_id WHERE c.nib = $1 AND " RA_COMPANY_HOLDS "), "
	"EXISTS (SELECT 1 FROM ra_company c JOIN ra_application a ON "
	"a.id = c.application_id WHERE ra_npwp_canonical(c.npwp) = "
	"ra_npwp_canonical($2) AND " RA_COMPANY_HOLDS ")",
	2
};
static const struct db_stmt stmt_company_application = {
	"ra_corporate_submit_application",
	"INSERT INTO ra_application (account_id, kind, profile, subject) "
	"VALUES ($1, 'corporate', 'company', $2::jsonb) RETURNING id",
	2
};
static const struct db_stmt stmt_company_insert = {
	"ra_corporate_submit_company",
	"INSERT INTO ra_company (application_id, representative_id, name, nib, "
	"npwp, deed_number, deed_date, decree_number, sysadmin_email) VALUES "
	"($1, $2, $3, $4, $5, $6, $7::date, $8, $9) RETURNING id",
	9
};
/*
 * The claim token's life ($3 seconds, corporate.claim_ttl_seconds) counts
 * from created_at, the mailing, by the policy rad runs with: a shorter
 * lifetime set later applies to the tokens already mailed too.
 */
static const struct db_stmt stmt_claim_insert = {
	"ra_corporate_submit_sysadmin_claim",
	"INSERT INTO ra_company_sysadmin_claim (company_id, token_sha256) "
	"VALUES ($1, $2::bytea) RETURNING "
	RA_TS("(created_at + make_interval(secs => $3::int))"),
	3
};
/*
 * The claim of token digest $1 by account $2, the company locked; none
 * once the token is older than $3 seconds.
 */
static const struct db_stmt stmt_claim_find = {
	"ra_corporate_sysadmin_claim_find",
	"SELECT cl.company_id, x.email = c.sysadmin_email AND "
	"x.email_verified, a.status IN ('submitted', 'approved') AND "
	"c.deactivated_at IS NULL FROM ra_company_sysadmin_claim cl JOIN "
	"ra_company c ON c.id = cl.company_id JOIN ra_application a ON a.id = "
	"c.application_id JOIN ra_account x ON x.id = $2 WHERE "
	"cl.token_sha256 = $1::bytea AND cl.created_at + "
	"make_interval(secs => $3::int) > now() FOR UPDATE OF c",
	3
};
/*
 * The token $2 is still company $1's, read in a statement begun after
 * stmt_claim_find locked the company: a new token that replaced it
 * (claim-token, which holds the company's row shared until its COMMIT)
 * while the claim waited for that lock is seen, and the old one claims
 * nothing.
 */
static const struct db_stmt stmt_claim_current = {
	"ra_corporate_sysadmin_claim_current",
	"SELECT 1 FROM ra_company_sysadmin_claim WHERE company_id = $1 AND "
	"token_sha256 = $2::bytea",
	2
};
static const struct db_stmt stmt_claim_sysadmin = {
	"ra_corporate_sysadmin_claim_insert",
	"INSERT INTO ra_company_sysadmin_role (company_id, account_id) VALUES "
	"($1, $2) ON CONFLICT (company_id) DO NOTHING RETURNING company_id",
	2
};
/*
 * A new claim token for company $1, after ra_company_role shared its row:
 * its sysadmin_email; whether it has a sysadmin (RA_COMPANY_SYSADMIN_ID:
 * also one by the rule before schema/044); whether it has a claim row. A
 * statement of its own: a claim committed while the row was awaited is
 * seen.
 */
static const struct db_stmt stmt_resend_state = {
	"ra_corporate_claim_resend_state",
	"SELECT c.sysadmin_email, " RA_COMPANY_SYSADMIN_ID " IS NOT NULL, "
	"EXISTS (SELECT 1 FROM ra_company_sysadmin_claim cl WHERE "
	"cl.company_id = c.id) FROM ra_company c WHERE c.id = $1",
	1
};
/*
 * Company $1's claim row, locked (two requests for one company replace it
 * one after the other; the second sees the first's created_at): the
 * seconds until its token is $2 seconds old, <= 0 once it is.
 */
static const struct db_stmt stmt_resend_lock = {
	"ra_corporate_claim_resend_lock",
	"SELECT ceil(extract(epoch FROM created_at + make_interval(secs => "
	"$2::int) - now()))::bigint FROM ra_company_sysadmin_claim WHERE "
	"company_id = $1 FOR UPDATE",
	2
};
/* The new token $2 replaces the old; until when it is valid ($3 s). */
static const struct db_stmt stmt_resend_update = {
	"ra_corporate_claim_resend_update",
	"UPDATE ra_company_sysadmin_claim SET token_sha256 = $2::bytea, "
	"created_at = now() WHERE company_id = $1 RETURNING "
	RA_TS("(created_at + make_interval(secs => $3::int))"),
	3
};
/*
 * Who account $2 is to company $1. FOR SHARE, here and wherever rad acts
 * in a company's name: a deactivation (companies.c) in progress is waited
 * for and then seen, never missed by a snapshot taken before it committed.
 */
static const struct db_stmt stmt_company_role = {
	"ra_corporate_company_role",
	"SELECT c.name, " RA_COMPANY_STATUS ", c.representative_id = $2, "
	RA_COMPANY_SYSADMIN_IS("$2") ", EXISTS (SELECT 1 FROM ra_company_member m WHERE "
	"m.company_id = c.id AND m.account_id = $2 AND m.removed_at IS NULL) "
	"FROM ra_company c JOIN "
	"ra_application a ON a.id = c.application_id WHERE c.id = $1 "
	"FOR SHARE OF c",
	2
};
static const struct db_stmt stmt_company_get = {
	"ra_corporate_get_company",
	"SELECT c.id, c.name, c.nib, c.npwp, c.deed_number, c.deed_date::text, "
	"c.decree_number, c.sysadmin_email, c.representative_id, "
	"c.application_id, " RA_COMPANY_STATUS ", "
	RA_TS("c.created_at") ", " RA_COMPANY_SYSADMIN_ID ", "
	RA_TS("c.deactivated_at") " FROM ra_company c "
	"JOIN ra_application a ON a.id = c.application_id WHERE c.id = $1",
	1
};
/* Employees ($2: one account, or NULL for all); removed ones are not. */
static const struct db_stmt stmt_company_members = {
	"ra_corporate_get_members",
	"SELECT m.account_id, x.email, " RA_TS("m.created_at") " FROM "
	"ra_company_member m JOIN ra_account x ON x.id = m.account_id WHERE "
	"m.company_id = $1 AND ($2::bigint IS NULL OR m.account_id = $2) AND "
	"m.removed_at IS NULL ORDER BY m.id",
	2
};
/* The memberships the sysadmin ended (schema/066), for the company's view. */
static const struct db_stmt stmt_company_former = {
	"ra_corporate_get_former_members",
	"SELECT m.id, m.account_id, x.email, " RA_TS("m.created_at") ", "
	RA_TS("m.removed_at") ", m.removed_by FROM ra_company_member m JOIN "
	"ra_account x ON x.id = m.account_id WHERE m.company_id = $1 AND "
	"m.removed_at IS NOT NULL ORDER BY m.id",
	1
};
static const struct db_stmt stmt_company_apps = {
	"ra_corporate_get_applications",
	"SELECT ap.id, ap.account_id, ap.status, c.id, c.serial, "
	"c.revoked_at IS NOT NULL FROM ra_company_application ca JOIN "
	"ra_application ap ON ap.id = ca.application_id LEFT JOIN "
	"issuance_order o ON o.id = ap.order_id LEFT JOIN certificate c ON "
	"c.id = o.certificate_id WHERE ca.company_id = $1 AND ($2::bigint IS "
	"NULL OR ap.account_id = $2) ORDER BY ap.id",
	2
};
static const struct db_stmt stmt_company_revreqs = {
	"ra_corporate_get_revocation_requests",
	"SELECT id, certificate_id, reason, status, " RA_TS("created_at")
	" FROM ra_revocation_request WHERE company_id = $1 ORDER BY id",
	1
};
static const struct db_stmt stmt_invite_member = {
	"ra_corporate_invite_member",
	"SELECT EXISTS (SELECT 1 FROM ra_company_member m JOIN ra_account x ON "
	"x.id = m.account_id WHERE m.company_id = $1 AND x.email = $2 AND "
	"m.removed_at IS NULL)",
	2
};
/*
 * The caps of invitations (schema/067): company $1's and address $2's,
 * each under an advisory lock taken before the counts below
 * (ra_company_invite_lock, schema/082: the company's, then the address's,
 * the same order in every invitation), so that concurrent invitations
 * count each other.
 */
static const struct db_stmt stmt_invite_lock = {
	"ra_corporate_invite_lock",
	"SELECT ra_company_invite_lock($1, $2)",
	2
};
/*
 * In a statement begun after the locks: the company's invitations of the
 * last hour and the seconds until the oldest of them leaves it; the
 * address's invitations of the last day, from any company, and the same.
 */
static const struct db_stmt stmt_invite_count = {
	"ra_corporate_invite_count",
	"SELECT count(*) FILTER (WHERE company_id = $1 AND created_at > now() - "
	"interval '1 hour'), coalesce(ceil(extract(epoch FROM min(created_at) "
	"FILTER (WHERE company_id = $1 AND created_at > now() - interval "
	"'1 hour') + interval '1 hour' - now())), 0)::bigint, "
	"count(*) FILTER (WHERE email = $2), coalesce(ceil(extract(epoch FROM "
	"min(created_at) FILTER (WHERE email = $2) + interval '1 day' - "
	"now())), 0)::bigint FROM ra_company_invitation WHERE (company_id = $1 "
	"OR email = $2) AND created_at > now() - interval '1 day'",
	2
};
/* The company's live invitations to the address stop working. */
static const struct db_stmt stmt_invite_void = {
	"ra_corporate_invite_void",
	"UPDATE ra_company_invitation SET voided_at = now() WHERE company_id = "
	"$1 AND email = $2 AND accepted_at IS NULL AND voided_at IS NULL AND "
	"expires_at > now()",
	2
};
static const struct db_stmt stmt_invite_insert = {
	"ra_corporate_invite_insert",
	"INSERT INTO ra_company_invitation (company_id, email, token_sha256, "
	"invited_by, expires_at) VALUES ($1, $2, $3::bytea, $4, now() + "
	"make_interval(secs => $5::int)) RETURNING id, " RA_TS("expires_at"),
	5
};
/*
 * The invitation of token digest $1 for account $2. An invitation mailed
 * before the account's removal from the company (schema/066) enrols
 * nobody: it is as unknown as a used one (the sysadmin invites again).
 */
static const struct db_stmt stmt_accept_claim = {
	"ra_corporate_accept_claim",
	"SELECT i.id, i.company_id, i.email = x.email, x.email_verified, "
	"a.status = 'approved' AND c.deactivated_at IS NULL, "
	"EXISTS (SELECT 1 FROM ra_company_member m WHERE "
	"m.company_id = i.company_id AND m.account_id = x.id AND "
	"m.removed_at IS NULL) FROM "
	"ra_company_invitation i JOIN ra_company c ON c.id = i.company_id JOIN "
	"ra_application a ON a.id = c.application_id JOIN ra_account x ON "
	"x.id = $2 WHERE i.token_sha256 = $1::bytea AND i.accepted_at IS NULL "
	"AND i.voided_at IS NULL AND i.expires_at > now() AND NOT EXISTS (SELECT 1 FROM "
	"ra_company_member r WHERE r.company_id = i.company_id AND "
	"r.account_id = x.id AND r.removed_at >= i.created_at) "
	"FOR UPDATE OF i FOR SHARE OF c",
	2
};
static const struct db_stmt stmt_accept_update = {
	"ra_corporate_accept_update",
	"UPDATE ra_company_invitation SET accepted_at = now(), accepted_by = $2 "
	"WHERE id = $1",
	2
};
static const struct db_stmt stmt_member_insert = {
	"ra_corporate_accept_member",
	"INSERT INTO ra_company_member (company_id, account_id, role, "
	"invitation_id) VALUES ($1, $2, 'employee', $3) RETURNING id",
	3
};
/*
 * The company's name when account $2 is a current employee of active
 * company $1; the membership shared until COMMIT, so that a removal
 * (which locks it) is waited for and then seen, the row no longer
 * matching.
 */
static const struct db_stmt stmt_employee_org = {
	"ra_corporate_employee_org",
	"SELECT c.name FROM ra_company c JOIN ra_application a ON "
	"a.id = c.application_id JOIN ra_company_member m ON m.company_id = c.id "
	"WHERE c.id = $1 AND m.account_id = $2 AND m.removed_at IS NULL AND "
	"a.status = 'approved' AND c.deactivated_at IS NULL FOR SHARE OF c, m",
	2
};
/* Whether account $2 was removed from company $1 and is no employee now. */
static const struct db_stmt stmt_employee_removed = {
	"ra_corporate_employee_removed",
	"SELECT EXISTS (SELECT 1 FROM ra_company_member WHERE company_id = $1 "
	"AND account_id = $2 AND removed_at IS NOT NULL) AND NOT EXISTS "
	"(SELECT 1 FROM ra_company_member WHERE company_id = $1 AND "
	"account_id = $2 AND removed_at IS NULL)",
	2
};
/*
 * The company an employee's certificate was made for, through its
 * application $1 (profile corporate, linked to a company): none for a
 * personal certificate or an e-seal (the representative's).
 */
static const struct db_stmt stmt_employee_cert_company = {
	"ra_corporate_employee_certificate_company",
	"SELECT ca.company_id, ap.account_id FROM ra_application ap JOIN "
	"ra_company_application ca ON ca.application_id = ap.id WHERE "
	"ap.id = $1 AND ap.profile = 'corporate'",
	1
};
/* The current membership of account $2 in company $1, shared. */
static const struct db_stmt stmt_member_share = {
	"ra_corporate_member_share",
	"SELECT id FROM ra_company_member WHERE company_id = $1 AND "
	"account_id = $2 AND removed_at IS NULL FOR SHARE",
	2
};
static const struct db_stmt stmt_application_link = {
	"ra_corporate_application_link",
	"INSERT INTO ra_company_application (application_id, company_id) "
	"VALUES ($1, $2)",
	2
};
static const struct db_stmt stmt_is_company_app = {
	"ra_corporate_is_company_application",
	"SELECT EXISTS (SELECT 1 FROM ra_company WHERE application_id = $1)",
	1
};
/*
 * An employee certificate of company $1 (of an application made for it as
 * an employee, profile corporate, or of its rekey: not the company's
 * e-seal, which is the representative's, nor anything else linked to the
 * company; schema/097 refuses those too): revoked?, pending request?,
 * expired? Locked (shared) until the request is stored: a revocation
 * committed after this read would otherwise not see the request, which
 * stayed pending on a revoked certificate (schema/079 closes those a
 * revocation finds). Until 2026-12-07 any certificate linked to the
 * company would do, the e-seal included, and an expired one.
 */
static const struct db_stmt stmt_revreq_cert = {
	"ra_corporate_revreq_certificate",
	"SELECT c.revoked_at IS NOT NULL AND c.revocation_reason <> 6, "
	"EXISTS (SELECT 1 FROM "
	"ra_revocation_request r WHERE r.certificate_id = c.id AND "
	"r.status = 'pending'), c.not_after <= now() FROM "
	"ra_company_application ca JOIN "
	"ra_application ap ON ap.id = ca.application_id JOIN issuance_order o "
	"ON o.id = ap.order_id JOIN certificate c ON c.id = o.certificate_id "
	"WHERE ca.company_id = $1 AND c.id = $2 AND ap.profile = 'corporate' "
	"FOR SHARE OF c",
	2
};
static const struct db_stmt stmt_revreq_insert = {
	"ra_corporate_revreq_insert",
	"INSERT INTO ra_revocation_request (company_id, certificate_id, "
	"requested_by, reason, comment) VALUES ($1, $2, $3, $4, $5) "
	"RETURNING id",
	5
};
/*
 * The removal of an employee (schema/066): account $2's current membership
 * of company $1, locked, and the account's email.
 */
static const struct db_stmt stmt_remove_member = {
	"ra_corporate_remove_member",
	"SELECT m.id, x.email FROM ra_company_member m JOIN ra_account x ON "
	"x.id = m.account_id WHERE m.company_id = $1 AND m.account_id = $2 "
	"AND m.removed_at IS NULL FOR UPDATE OF m",
	2
};
/*
 * The member's open applications made for the company, locked, with their
 * order's status: their own corporate applications and the rekeys of
 * their employee certificates (profile corporate; an e-seal's is the
 * representative's, made for the company, not as its employee).
 */
static const struct db_stmt stmt_remove_open = {
	"ra_corporate_remove_open_applications",
	"SELECT ap.id, ap.status, coalesce(o.status, ''), ap.kind FROM "
	"ra_company_application ca JOIN ra_application ap ON ap.id = "
	"ca.application_id LEFT JOIN issuance_order o ON o.id = ap.order_id "
	"WHERE ca.company_id = $1 AND ap.account_id = $2 AND ap.profile = "
	"'corporate' AND ap.status IN ('submitted', 'approved', 'agreed') "
	"ORDER BY ap.id FOR UPDATE OF ap",
	2
};
enum { RO_ID, RO_STATUS, RO_ORDER_STATUS, RO_KIND };
static const struct db_stmt stmt_remove_cancel = {
	"ra_corporate_remove_cancel",
	"UPDATE ra_application SET status = 'cancelled' WHERE id = $1 AND "
	"status = $2",
	2
};
/*
 * The member's employee certificates of the company still valid or held,
 * locked (shared) until their requests are stored, as stmt_revreq_cert.
 */
static const struct db_stmt stmt_remove_certs = {
	"ra_corporate_remove_certificates",
	"SELECT c.id, c.serial FROM ra_company_application ca JOIN "
	"ra_application ap ON ap.id = ca.application_id JOIN issuance_order o "
	"ON o.id = ap.order_id JOIN certificate c ON c.id = o.certificate_id "
	"WHERE ca.company_id = $1 AND ap.account_id = $2 AND ap.profile = "
	"'corporate' AND (c.revoked_at IS NULL OR c.revocation_reason = 6) AND "
	"c.not_after > now() ORDER BY c.id FOR SHARE OF c",
	2
};
/* A request for certificate $2, unless one is pending already (none back). */
static const struct db_stmt stmt_remove_revreq = {
	"ra_corporate_remove_revocation_request",
	"INSERT INTO ra_revocation_request (company_id, certificate_id, "
	"requested_by, reason, comment) VALUES ($1, $2, $3, $4, $5) ON "
	"CONFLICT (certificate_id) WHERE status = 'pending' DO NOTHING "
	"RETURNING id",
	5
};
static const struct db_stmt stmt_remove_update = {
	"ra_corporate_remove_update",
	"UPDATE ra_company_member SET removed_at = now(), removed_by = $2 "
	"WHERE id = $1 AND removed_at IS NULL RETURNING " RA_TS("removed_at"),
	2
};
static const struct db_stmt stmt_eseal_company = {
	"ra_corporate_eseal_company",
	"SELECT name, nib FROM ra_company WHERE id = $1",
	1
};
/*
 * The representative's account, locked (one submission at a time, as
 * kyc.c's): its email and phone verified; an issued application with
 * personal KYC (the person who asks for the company's seal holds a
 * certificate of their own: their identity was verified and certified, and
 * not withdrawn since the company was registered, by the rule
 * RA_ESEAL_REPRESENTATIVE_STANDS, which the approval, the agreement and a
 * rekey read again); and
 * whether it has an open application, checked here so that an ordinary 409
 * does not reach the unique index (and the log as an error).
 */
static const struct db_stmt stmt_eseal_account = {
	"ra_corporate_eseal_account",
	"SELECT a.email_verified, a.phone_verified, "
	RA_ESEAL_REPRESENTATIVE_STANDS ", "
	"EXISTS (SELECT 1 FROM "
	"ra_application p WHERE p.account_id = a.id AND p.status IN "
	"('submitted', 'approved', 'agreed') AND p.profile <> 'company') "
	"FROM ra_account a WHERE a.id = $1 FOR UPDATE OF a",
	1
};
/*
 * An e-seal application: kind corporate (made for a company), profile
 * eseal; the representative's account's open application while open.
 */
static const struct db_stmt stmt_eseal_insert = {
	"ra_corporate_eseal_insert",
	"INSERT INTO ra_application (account_id, kind, profile, subject) "
	"VALUES ($1, 'corporate', 'eseal', $2::jsonb) RETURNING id",
	2
};
/*
 * The officers' queue of revocation requests: status $1 ('' any), search
 * $2 ('' none: part of the company's name in any case, its NIB, or the
 * certificate's serial in any case; never the subject, whose NIK an
 * auditor may not search by); pending first, then newest first.
 */
#define RA_REVREQS_FROM \
	"FROM ra_revocation_request r JOIN ra_company co ON co.id = " \
	"r.company_id JOIN certificate c ON c.id = r.certificate_id WHERE " \
	"($1::text = '' OR r.status = $1::text) AND ($2::text = '' OR " \
	"strpos(lower(co.name), lower($2::text)) > 0 OR co.nib = $2::text OR " \
	"upper(c.serial) = upper($2::text)) "
/*
 * Each with its certificate's profile and subject: a request made before
 * 2026-12-07 may name a certificate that is not an employee's (the
 * company's e-seal), which the officers may only reject.
 */
static const struct db_stmt stmt_revreq_list = {
	"ra_officer_revreq_list",
	"SELECT r.id, r.company_id, co.name, r.certificate_id, c.serial, "
	"r.reason, r.comment, r.status, r.requested_by, " RA_TS("r.created_at")
	", " RA_TS("r.decided_at") ", r.decided_by, r.decision_reason, "
	"c.profile, c.subject "
	RA_REVREQS_FROM "ORDER BY r.status <> 'pending', r.id DESC "
	"LIMIT $3::int OFFSET $4::int",
	4
};
static const struct db_stmt stmt_revreq_count = {
	"ra_officer_revreq_count",
	"SELECT count(*) " RA_REVREQS_FROM,
	2
};
/*
 * The certificate request $1 names, locked before the request: a
 * revocation locks the certificate, then schema/079's trigger the
 * requests, and this order keeps the two from deadlocking.
 */
static const struct db_stmt stmt_revreq_lock_cert = {
	"ra_officer_revreq_lock_certificate",
	"SELECT c.id FROM ra_revocation_request r JOIN certificate c ON "
	"c.id = r.certificate_id WHERE r.id = $1 FOR UPDATE OF c",
	1
};
/*
 * The request, locked, with its certificate: revoked?, serial, issuer,
 * the officer in the company?, an employee certificate of the company (as
 * stmt_revreq_cert: a request made before 2026-12-07 may name its e-seal)?,
 * expired?, profile.
 */
static const struct db_stmt stmt_revreq_lock = {
	"ra_officer_revreq_lock",
	"SELECT r.status, r.certificate_id, r.reason, "
	"c.revoked_at IS NOT NULL AND c.revocation_reason <> 6, "
	"c.serial, i.name, ra_officer_in_company($2::bigint, r.company_id), "
	"EXISTS (SELECT 1 FROM ra_company_application ca JOIN ra_application "
	"ap ON ap.id = ca.application_id JOIN issuance_order o ON o.id = "
	"ap.order_id WHERE ca.company_id = r.company_id AND o.certificate_id "
	"= c.id AND ap.profile = 'corporate'), c.not_after <= now(), "
	"c.profile "
	"FROM ra_revocation_request r JOIN certificate c ON "
	"c.id = r.certificate_id JOIN ca_certificate i ON i.id = c.issuer_id "
	"WHERE r.id = $1 FOR UPDATE OF r",
	2
};
/* The times the request may move (notifier.c) between the two locks. */
#define RA_REVREQ_LOCK_TRIES	3
static const struct db_stmt stmt_revreq_revoke = {
	"ra_officer_revreq_revoke",
	"UPDATE certificate SET revoked_at = now(), revocation_reason = "
	"$2::smallint, revoked_by = $3 WHERE id = $1 AND (revoked_at IS NULL "
	"OR revocation_reason = 6) RETURNING id, " RA_TS("invalidity_date"),
	3
};
static const struct db_stmt stmt_revreq_close = {
	"ra_officer_revreq_close",
	"UPDATE ra_revocation_request SET status = $2, decided_by = $3, "
	"decided_at = now(), decision_reason = $4 WHERE id = $1",
	4
};

/* --- outcomes ---------------------------------------------------------------- */

enum ra_corp_outcome {
	RA_CORP_DONE = 0,
	RA_CORP_EMAIL_UNVERIFIED,	/* 403 */
	RA_CORP_PHONE_UNVERIFIED,	/* 403 */
	RA_CORP_NO_KYC,			/* 403 */
	RA_CORP_EMAIL_TAKEN,		/* 409 */
	RA_CORP_PENDING,		/* 409: a company application waits */
	RA_CORP_NOT_FOUND,		/* 404: no such company, or not a member */
	RA_CORP_NOT_SYSADMIN,		/* 403 */
	RA_CORP_NOT_ACTIVE,		/* 409 */
	RA_CORP_MEMBER,			/* 409: already an employee */
	RA_CORP_TOKEN,			/* 404: unknown, used or expired token */
	RA_CORP_WRONG_EMAIL,		/* 403 */
	RA_CORP_CERT_UNKNOWN,		/* 404 */
	RA_CORP_CERT_REVOKED,		/* 409 */
	RA_CORP_REQUEST_PENDING,	/* 409 */
	RA_CORP_FACTOR,			/* ra_factor_respond */
	RA_CORP_REQUEST_DECIDED,	/* 409 */
	RA_CORP_MAIL_FAILED,		/* 503 */
	RA_CORP_NOT_REPRESENTATIVE,	/* 403 */
	RA_CORP_OPEN,			/* 409: the account's open application */
	RA_CORP_NO_CERT,		/* 403: no issued personal application */
	RA_CORP_OFFICER_IN_COMPANY,	/* 403 */
	RA_CORP_CLAIMED,		/* 409: the sysadmin role is taken */
	RA_CORP_NO_CLAIM,		/* 409: submitted before schema/044 */
	RA_CORP_TOO_SOON,		/* 429: the claim token is too young */
	RA_CORP_NIB_TAKEN,		/* 409: held by another company */
	RA_CORP_NPWP_TAKEN,		/* 409: held by another company */
	RA_CORP_IDENT_TAKEN,		/* 409: schema/065's trigger */
	RA_CORP_NOT_EMPLOYEE,		/* 404: no current membership */
	RA_CORP_BEING_ISSUED,		/* 409: an order cad may be signing */
	RA_CORP_INVITE_COMPANY,		/* 429: the company's hourly cap */
	RA_CORP_INVITE_ADDRESS,		/* 429: the address's daily cap */
	RA_CORP_REASON_POLICY,		/* 409: review.revocation_reasons */
	RA_CORP_CERT_EXPIRED,		/* 409: nothing left to revoke */
	RA_CORP_NOT_EMPLOYEE_CERT,	/* 409: a request made before 097 */
};

static int
ra_corp_refuse(struct http_response *resp, enum ra_corp_outcome o)
{
	switch (o) {
	case RA_CORP_EMAIL_UNVERIFIED:
		return ra_problem(resp, 403, "verify your email address first "
		    "(POST /v1/verify-email)");
	case RA_CORP_PHONE_UNVERIFIED:
		return ra_problem(resp, 403, "verify your phone number by OTP "
		    "first");
	case RA_CORP_NO_KYC:
		return ra_problem(resp, 403, "a company's representative needs a "
		    "personal application the RA has approved, and its "
		    "certificate, once issued, not revoked or suspended by the "
		    "RA");
	case RA_CORP_EMAIL_TAKEN:
		return ra_problem(resp, 409, "sysadmin_email: used by an "
		    "account or by another company");
	case RA_CORP_PENDING:
		return ra_problem(resp, 409, "this account has a company "
		    "application awaiting a decision");
	case RA_CORP_NIB_TAKEN:
		return ra_problem(resp, 409, "nib: another company registered "
		    "with the RA, pending or active, holds this NIB; one company "
		    "per NIB (contact the RA if it is yours)");
	case RA_CORP_NPWP_TAKEN:
		return ra_problem(resp, 409, "npwp: another company registered "
		    "with the RA, pending or active, holds this NPWP; one "
		    "company per NPWP (contact the RA if it is yours)");
	case RA_CORP_IDENT_TAKEN:
		return ra_problem(resp, 409, "nib or npwp: another company "
		    "registered with the RA, pending or active, holds it");
	case RA_CORP_NOT_FOUND:
		return ra_problem(resp, 404, "no such company");
	case RA_CORP_CLAIMED:
		return ra_problem(resp, 409, "the company's sysadmin role is "
		    "claimed already");
	case RA_CORP_NO_CLAIM:
		return ra_problem(resp, 409, "the company was submitted before "
		    "claim tokens: the verified account of its sysadmin_email "
		    "is its sysadmin");
	case RA_CORP_NOT_SYSADMIN:
		return ra_problem(resp, 403, "only the company's sysadmin may do "
		    "this");
	case RA_CORP_NOT_ACTIVE:
		return ra_problem(resp, 409, "the company is not active (not "
		    "approved by the RA, or deactivated)");
	case RA_CORP_MEMBER:
		return ra_problem(resp, 409, "already an employee of this "
		    "company");
	case RA_CORP_TOKEN:
		return ra_problem(resp, 404, "unknown, used or expired "
		    "token");
	case RA_CORP_WRONG_EMAIL:
		return ra_problem(resp, 403, "the token is for another email "
		    "address, or yours is not verified");
	case RA_CORP_CERT_UNKNOWN:
		return ra_problem(resp, 404, "certificate_id: no certificate of "
		    "this company's employees");
	case RA_CORP_CERT_REVOKED:
		return ra_problem(resp, 409, "the certificate is already revoked");
	case RA_CORP_REQUEST_PENDING:
		return ra_problem(resp, 409, "a revocation request for this "
		    "certificate is pending");
	case RA_CORP_CERT_EXPIRED:
		return ra_problem(resp, 409, "the certificate has expired: "
		    "nothing is left to revoke");
	case RA_CORP_OFFICER_IN_COMPANY:
		return ra_problem(resp, 403, RA_OFFICER_COMPANY_DETAIL);
	case RA_CORP_REQUEST_DECIDED:
		return ra_problem(resp, 409, "the request is already decided");
	case RA_CORP_NOT_REPRESENTATIVE:
		return ra_problem(resp, 403, "only the company's representative "
		    "may do this");
	case RA_CORP_NO_CERT:
		return ra_problem(resp, 403, "the representative needs a "
		    "certificate of their own (an issued application with their "
		    "KYC) first, not revoked or suspended by the RA");
	case RA_CORP_OPEN:
		return ra_problem(resp, 409, "this account has an open "
		    "application; wait for it to end (or cancel it) first");
	case RA_CORP_NOT_EMPLOYEE:
		return ra_problem(resp, 404, "no such employee: the account is "
		    "not an employee of this company (never enrolled, or "
		    "removed already)");
	case RA_CORP_BEING_ISSUED:
		http_add_header(resp, "Retry-After", "5");
		return ra_problem(resp, 409, "an application the employee made "
		    "for the company is being issued; try again in a moment");
	case RA_CORP_MAIL_FAILED:
		http_add_header(resp, "Retry-After", "60");
		return ra_problem(resp, 503, "the email could not be sent; "
		    "nothing was stored");
	default:
		return -1;
	}
}

/* --- shared helpers ------------------------------------------------------ */

/*
 * A representative's locked account row (stmt_rep_lock, stmt_eseal_account:
 * email verified, phone verified, the identity the step needs, something
 * in the way) → RA_CORP_DONE or the first refusal.
 */
static enum ra_corp_outcome
ra_corp_rep_refusal(const PGresult *res, enum ra_corp_outcome no_identity,
    enum ra_corp_outcome in_the_way)
{
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		return RA_CORP_EMAIL_UNVERIFIED;
	if (strcmp(PQgetvalue(res, 0, 1), "t") != 0)
		return RA_CORP_PHONE_UNVERIFIED;
	if (strcmp(PQgetvalue(res, 0, 2), "t") != 0)
		return no_identity;
	if (strcmp(PQgetvalue(res, 0, 3), "t") == 0)
		return in_the_way;
	return RA_CORP_DONE;
}

#define RA_ROLE_REP		0x1
#define RA_ROLE_SYSADMIN	0x2
#define RA_ROLE_EMPLOYEE	0x4

struct ra_company_view {
	char	name[RA_COMPANY_NAME_MAX + 1];
	char	status[16];		/* RA_COMPANY_STATUS: active, ... */
	int	roles;			/* RA_ROLE_* */
};

/* Who account_id is to company_id. 0 (roles 0: none or no company), -1. */
static int
ra_company_role(struct db *db, const char *company_id, const char *account_id,
    struct ra_company_view *cv)
{
	const char *v[2];
	PGresult *res;

	memset(cv, 0, sizeof(*cv));
	v[0] = company_id;
	v[1] = account_id;
	if ((res = db_exec(db, &stmt_company_role, v, NULL, NULL)) == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		snprintf(cv->name, sizeof(cv->name), "%s", PQgetvalue(res, 0, 0));
		snprintf(cv->status, sizeof(cv->status), "%s",
		    PQgetvalue(res, 0, 1));
		if (strcmp(PQgetvalue(res, 0, 2), "t") == 0)
			cv->roles |= RA_ROLE_REP;
		if (strcmp(PQgetvalue(res, 0, 3), "t") == 0)
			cv->roles |= RA_ROLE_SYSADMIN;
		if (strcmp(PQgetvalue(res, 0, 4), "t") == 0)
			cv->roles |= RA_ROLE_EMPLOYEE;
	}
	PQclear(res);
	return 0;
}

/*
 * The sysadmin's checks on an approved company: RA_CORP_DONE or a refusal;
 * the company as read in *cv. 0 or -1.
 */
static int
ra_company_sysadmin_view(struct db *db, const char *company_id,
    const char *account_id, struct ra_company_view *cv,
    enum ra_corp_outcome *o)
{
	*o = RA_CORP_DONE;
	if (ra_company_role(db, company_id, account_id, cv) == -1)
		return -1;
	if (cv->roles == 0)
		*o = RA_CORP_NOT_FOUND;
	else if (!(cv->roles & RA_ROLE_SYSADMIN))
		*o = RA_CORP_NOT_SYSADMIN;
	else if (strcmp(cv->status, "active") != 0)
		*o = RA_CORP_NOT_ACTIVE;
	return 0;
}

static int
ra_company_sysadmin(struct db *db, const char *company_id,
    const char *account_id, enum ra_corp_outcome *o)
{
	struct ra_company_view cv;

	return ra_company_sysadmin_view(db, company_id, account_id, &cv, o);
}

/*
 * The gate of a company's sysadmin posting JSON about company id, before
 * the body is read: who may ask comes first, so a stranger learns nothing
 * from the body. 1 to go on; 0 when resp holds the refusal (403 or 404 by
 * ra_corp_refuse, 415); -1 on our failure.
 */
static int
ra_corp_sysadmin_json(struct ra *ra, const struct http_request *req,
    struct http_response *resp, const char *id, const char *account_id)
{
	enum ra_corp_outcome o;

	if (ra_company_sysadmin(ra->db, id, account_id, &o) == -1)
		return -1;
	if (o != RA_CORP_DONE)
		return ra_corp_refuse(resp, o) == -1 ? -1 : 0;
	if (!ra_is_json(req))
		return ra_problem(resp, 415,
		    "the body must be application/json") == -1 ? -1 : 0;
	return 1;
}

/*
 * Runs fn(db, arg), a transaction that checks a second factor and sets
 * *outcome (RA_CORP_FACTOR with *fo on a refused factor), and answers what
 * it refused. outcome and fo point into arg and are read after it ran.
 * 1 when the change was made and the caller answers; 0 when resp holds the
 * refusal; -1 on our failure.
 */
static int
ra_corp_factor_txn(struct ra *ra, struct http_response *resp, db_txn_fn fn,
    void *arg, const enum ra_corp_outcome *outcome,
    const struct factor_outcome *fo)
{
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, fn, arg) == -1) {
		if (*outcome != RA_CORP_DONE && *outcome != RA_CORP_FACTOR)
			return ra_corp_refuse(resp, *outcome) == -1 ? -1 : 0;
		return -1;
	}
	if (*outcome == RA_CORP_FACTOR)
		return ra_factor_respond(resp, fo) == -1 ? -1 : 0;
	return 1;
}

int
ra_corporate_employee_org(struct db *db, const char *account_id,
    const char *company_id, char *org, size_t orglen)
{
	const char *v[2];
	PGresult *res;
	int rc;

	org[0] = '\0';
	v[0] = company_id;
	v[1] = account_id;
	if ((res = db_exec(db, &stmt_employee_org, v, NULL, NULL)) == NULL)
		return -1;
	if ((rc = PQntuples(res) == 1) == 1)
		snprintf(org, orglen, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (rc == 1)
		return 1;
	if ((res = db_exec(db, &stmt_employee_removed, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1) {
		PQclear(res);
		return -1;
	}
	rc = strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? 2 : 0;
	PQclear(res);
	return rc;
}

int
ra_corporate_member_stands(struct db *db, const char *application_id)
{
	const char *v[2];
	char company[24], account[24];
	PGresult *res;
	int rc;

	v[0] = application_id;
	if ((res = db_exec(db, &stmt_employee_cert_company, v, NULL,
	    NULL)) == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return 1;	/* no employee's certificate */
	}
	snprintf(company, sizeof(company), "%s", PQgetvalue(res, 0, 0));
	snprintf(account, sizeof(account), "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	v[0] = company;
	v[1] = account;
	if ((res = db_exec(db, &stmt_member_share, v, NULL, NULL)) == NULL)
		return -1;
	rc = PQntuples(res) == 1;
	PQclear(res);
	return rc;
}

/*
 * The certificates of the account that applied for e-seal application $1
 * (or its rekey) which RA_ESEAL_REPRESENTATIVE_STANDS reads, shared until
 * COMMIT in one order: a revocation or hold of one (review.c, pkictl, the
 * CA) locks its row, so it is waited for, or waits for this transaction.
 * Then, in a statement of its own begun after that wait (READ COMMITTED),
 * whether the account's identity stands; no row when $1 is no e-seal's.
 */
static const struct db_stmt stmt_rep_stands_lock = {
	"ra_corporate_representative_stands_lock",
	"SELECT c.id FROM ra_application e JOIN ra_application p ON "
	"p.account_id = e.account_id JOIN ra_kyc k ON k.application_id = p.id "
	"JOIN issuance_order o ON o.id = p.order_id JOIN certificate c ON "
	"c.id = o.certificate_id WHERE e.id = $1 AND e.profile = 'eseal' AND "
	"p.profile IN ('personal', 'corporate') ORDER BY c.id FOR SHARE OF c",
	1
};
static const struct db_stmt stmt_rep_stands = {
	"ra_corporate_representative_stands",
	"SELECT " RA_ESEAL_REPRESENTATIVE_STANDS " FROM ra_application e "
	"JOIN ra_account a ON a.id = e.account_id WHERE e.id = $1 AND "
	"e.profile = 'eseal'",
	1
};

int
ra_corporate_representative_stands(struct db *db,
    const char *application_id)
{
	const char *v[1];
	PGresult *res;
	int rc;

	v[0] = application_id;
	if ((res = db_exec(db, &stmt_rep_stands_lock, v, NULL, NULL)) == NULL)
		return -1;
	PQclear(res);
	if ((res = db_exec(db, &stmt_rep_stands, v, NULL, NULL)) == NULL)
		return -1;
	rc = PQntuples(res) == 0 ||
	    strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return rc;
}

static const struct db_stmt stmt_company_share = {
	"ra_corporate_company_share",
	"SELECT c.deactivated_at IS NULL AND a.status = 'approved' "
	"FROM ra_company c JOIN ra_application a ON a.id = c.application_id "
	"WHERE c.id = ra_application_company($1) FOR SHARE OF c",
	1
};

int
ra_company_share(struct db *db, const char *application_id)
{
	const char *v[1];
	PGresult *res;
	int rc;

	v[0] = application_id;
	if ((res = db_exec(db, &stmt_company_share, v, NULL, NULL)) == NULL)
		return -1;
	rc = PQntuples(res) == 0 ? 2 :
	    strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? 1 : 0;
	PQclear(res);
	return rc;
}

int
ra_corporate_application_link(struct db *db, const char *application_id,
    const char *company_id)
{
	const char *v[2];

	v[0] = application_id;
	v[1] = company_id;
	return db_exec_ok(db, &stmt_application_link, v);
}

int
ra_corporate_is_company_application(struct db *db, const char *application_id)
{
	const char *v[1];
	PGresult *res;
	int rc;

	v[0] = application_id;
	if ((res = db_exec(db, &stmt_is_company_app, v, NULL, NULL)) == NULL)
		return -1;
	rc = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return rc;
}

/* --- POST /v1/corporate ------------------------------------------------------ */

struct ra_corp_submit_txn {
	struct ra			*ra;
	const struct ra_subject		*who;
	const struct ra_corporate_req	*req;
	const char			*client;
	enum ra_corp_outcome		 outcome;
	char				 id[24];
	char				 app_id[24];
};

/*
 * Mails a claim token to the company's sysadmin_email: "<company> has named
 * this address ...<why>.", how to claim, until when, the token, then tail.
 * Before COMMIT, by the caller. 0, 1 when the mail could not be sent, -1.
 */
static int
ra_corp_claim_mail(struct ra *ra, const char *to, const char *subject,
    const char *company, const char *why, const char *until, const char *tok,
    const char *tail)
{
	char *body;
	int rc;

	if (asprintf(&body, "%s has named this address as the system "
	    "administrator of its corporate account with the RA%s.\r\n\r\n"
	    "Register an account with this email address (POST /v1/register) "
	    "and verify it, or log in to yours, and claim the role with POST "
	    "/v1/corporate/sysadmin/claim (valid until %s, usable once; if an "
	    "account of this address exists that you did not register, tell "
	    "the RA):\r\n\r\ntoken=%s\r\n%s", company, why, until, tok,
	    tail) == -1)
		return -1;
	rc = ra_mail_send(ra->mailer, to, subject, body) == -1 ? 1 : 0;
	ra_wipe(body, strlen(body));
	free(body);
	return rc;
}

static int
ra_corp_submit_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX];
	struct ra_corp_submit_txn *t = arg;
	const struct ra_corporate_req *r = t->req;
	const char *v[9];
	char *subject_s = NULL, *tail = NULL, *digest = NULL;
	char tok[RA_TOKEN_B64_LEN + 1], ttl[24], until[40];
	PGresult *res = NULL;
	json_t *subject = NULL, *details = NULL;
	int k, rc = -1;

	t->outcome = RA_CORP_DONE;
	tok[0] = '\0';
	v[0] = t->who->account_id;
	if ((res = db_exec(db, &stmt_rep_lock, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	if ((t->outcome = ra_corp_rep_refusal(res, RA_CORP_NO_KYC,
	    RA_CORP_PENDING)) != RA_CORP_DONE)
		goto out;
	PQclear(res);
	v[0] = r->sysadmin_email;
	if ((res = db_exec(db, &stmt_email_lock, v, NULL, NULL)) == NULL)
		goto out;
	PQclear(res);
	if ((res = db_exec(db, &stmt_email_taken, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0 ||
	    strcmp(PQgetvalue(res, 0, 1), "t") == 0) {
		t->outcome = RA_CORP_EMAIL_TAKEN;
		goto out;
	}
	PQclear(res);
	/*
	 * One pending or active company per NIB and per NPWP (schema/065), an
	 * NPWP in either form (schema/115: the statements compare and lock its
	 * canonical form; r->npwp is stored as typed).
	 */
	v[0] = r->nib;
	v[1] = r->npwp;
	if ((res = db_exec(db, &stmt_ident_lock, v, NULL, NULL)) == NULL)
		goto out;
	PQclear(res);
	if ((res = db_exec(db, &stmt_ident_taken, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		t->outcome = RA_CORP_NIB_TAKEN;
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 1), "t") == 0) {
		t->outcome = RA_CORP_NPWP_TAKEN;
		goto out;
	}
	PQclear(res);
	/* What the officers decide on: the company's data. */
	if ((subject = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "C", "ID", "O", r->company_name, "nib", r->nib, "npwp", r->npwp,
	    "deed_number", r->deed_number, "deed_date", r->deed_date,
	    "decree_number", r->decree_number, "sysadmin_email",
	    r->sysadmin_email)) == NULL ||
	    (subject_s = json_dumps(subject, JSON_COMPACT)) == NULL)
		goto out;
	v[0] = t->who->account_id;
	v[1] = subject_s;
	if ((res = db_exec(db, &stmt_company_application, v, NULL,
	    NULL)) == NULL || PQntuples(res) != 1) {
		if (strcmp(db_last_sqlstate(db), "23505") == 0)
			t->outcome = RA_CORP_PENDING;
		goto out;
	}
	snprintf(t->app_id, sizeof(t->app_id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	v[0] = t->app_id;
	v[1] = t->who->account_id;
	v[2] = r->company_name;
	v[3] = r->nib;
	v[4] = r->npwp;
	v[5] = r->deed_number;
	v[6] = r->deed_date;
	v[7] = r->decree_number;
	v[8] = r->sysadmin_email;
	if ((res = db_exec(db, &stmt_company_insert, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1) {
		/* schema/065's trigger; not reached after the check above. */
		if (strcmp(db_last_sqlstate(db), "23505") == 0)
			t->outcome = RA_CORP_IDENT_TAKEN;
		goto out;
	}
	snprintf(t->id, sizeof(t->id), "%s", PQgetvalue(res, 0, 0));
	if ((details = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "client", t->client, "account_id", t->who->account_id,
	    "application_id", t->app_id, "company_name", r->company_name,
	    "nib", r->nib, "decree_number", r->decree_number,
	    "sysadmin_domain", strchr(r->sysadmin_email, '@') + 1)) == NULL ||
	    audit_append(db, ra_actor(actor, t->who->account_id), "ra.corporate.submit",
	    "ra_company", t->id, details, NULL) == -1)
		goto out;
	/*
	 * The role goes to the account that brings this token back: the
	 * address's owner, logged in to an account of this address (not to
	 * whoever registered the address first and had its owner verify it).
	 */
	if (ra_token_new(tok, &digest) == -1)
		goto out;
	PQclear(res);
	snprintf(ttl, sizeof(ttl), "%ld", t->ra->policy->corporate_claim_ttl_s);
	v[0] = t->id;
	v[1] = digest;
	v[2] = ttl;
	if ((res = db_exec(db, &stmt_claim_insert, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	snprintf(until, sizeof(until), "%s", PQgetvalue(res, 0, 0));
	/* Sent before COMMIT: a failed send leaves no company behind. */
	if (asprintf(&tail, "\r\nOnce the RA approves the company "
	    "(application %s), you may enrol the company's employees.\r\n",
	    t->app_id) == -1) {
		tail = NULL;
		goto out;
	}
	if ((k = ra_corp_claim_mail(t->ra, r->sysadmin_email, "Corporate "
	    "account: you are named its sysadmin", r->company_name, "",
	    until, tok, tail)) != 0) {
		if (k == 1)
			t->outcome = RA_CORP_MAIL_FAILED;
		goto out;
	}
	rc = 0;
out:
	ra_wipe(tok, sizeof(tok));
	free(tail);
	free(digest);
	json_decref(details);
	json_decref(subject);
	free(subject_s);
	PQclear(res);
	return rc;
}

int
ra_corporate_submit(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	struct ra_corporate_req r;
	struct ra_corp_submit_txn t;
	struct ra_date today;
	char detail[256];
	json_t *o = NULL;
	int rc = -1, k;

	memset(&t, 0, sizeof(t));
	if ((k = ra_subscriber_json(ra, req, resp, &who)) != 1)
		return k == 0 ? 0 : -1;
	if (ra_parse_corporate(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1)
		return ra_problem(resp, 400, detail);
	if (ra_date_today(&today) == -1)
		return -1;
	if (r.deed.year * 10000 + r.deed.month * 100 + r.deed.day >
	    today.year * 10000 + today.month * 100 + today.day)
		return ra_problem(resp, 422, "deed_date: in the future");
	t.ra = ra;
	t.who = &who;
	t.req = &r;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_corp_submit_txn,
	    &t) == -1) {
		if (t.outcome != RA_CORP_DONE)
			rc = ra_corp_refuse(resp, t.outcome);
		goto out;
	}
	log_info("company %s: submitted by account %s (application %s)", t.id,
	    who.account_id, t.app_id);
	if ((o = json_pack("{s:I, s:I, s:s}", "id", (json_int_t)strtoll(t.id,
	    NULL, 10), "application_id", (json_int_t)strtoll(t.app_id, NULL,
	    10), "status", "pending")) == NULL)
		goto out;
	rc = http_respond_json(resp, 201, o);
out:
	json_decref(o);
	return rc;
}

/* --- GET /v1/corporate/{id} ----------------------------------------------- */

int
ra_corporate_get(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	struct ra_company_view cv;
	const char *v[2];
	char id[24];
	PGresult *res = NULL;
	json_t *o = NULL, *emp = NULL, *apps = NULL, *rr = NULL, *item;
	int rc = -1, k, i, all;

	if ((k = ra_session_account(ra, req, resp, &who)) != 1)
		return k == 0 ? 0 : -1;
	if (ra_path_id(req->path, "/v1/corporate/", "", id) == -1)
		return ra_problem(resp, 404, "no such company");
	if (ra_company_role(ra->db, id, who.account_id, &cv) == -1)
		return -1;
	/* A company is as absent to a stranger as a missing one. */
	if (cv.roles == 0)
		return ra_corp_refuse(resp, RA_CORP_NOT_FOUND);
	/* An employee sees the company and only their own records. */
	all = (cv.roles & (RA_ROLE_REP | RA_ROLE_SYSADMIN)) != 0;
	v[0] = id;
	v[1] = all ? NULL : who.account_id;
	if ((res = db_exec(ra->db, &stmt_company_get, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	if ((o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, "
	    "s:I, s:s, s:[]}", "id", (json_int_t)strtoll(PQgetvalue(res, 0, 0),
	    NULL, 10), "company_name", PQgetvalue(res, 0, 1), "nib",
	    PQgetvalue(res, 0, 2), "npwp", PQgetvalue(res, 0, 3), "deed_number",
	    PQgetvalue(res, 0, 4), "deed_date", PQgetvalue(res, 0, 5),
	    "decree_number", PQgetvalue(res, 0, 6), "sysadmin_email",
	    PQgetvalue(res, 0, 7), "status", PQgetvalue(res, 0, 10),
	    "representative_id", (json_int_t)strtoll(PQgetvalue(res, 0, 8),
	    NULL, 10), "application_id", (json_int_t)strtoll(PQgetvalue(res, 0,
	    9), NULL, 10), "created_at", PQgetvalue(res, 0, 11),
	    "your_roles")) == NULL)
		goto out;
	if (json_object_set_new(o, "sysadmin_account_id", PQgetisnull(res, 0,
	    12) ? json_null() : json_integer((json_int_t)strtoll(PQgetvalue(res,
	    0, 12), NULL, 10))) == -1 ||
	    json_object_set_new(o, "deactivated_at", PQgetisnull(res, 0, 13) ?
	    json_null() : json_string(PQgetvalue(res, 0, 13))) == -1)
		goto out;
	item = json_object_get(o, "your_roles");
	if (((cv.roles & RA_ROLE_REP) && json_array_append_new(item,
	    json_string("representative")) == -1) ||
	    ((cv.roles & RA_ROLE_SYSADMIN) && json_array_append_new(item,
	    json_string("sysadmin")) == -1) ||
	    ((cv.roles & RA_ROLE_EMPLOYEE) && json_array_append_new(item,
	    json_string("employee")) == -1))
		goto out;
	PQclear(res);
	if ((res = db_exec(ra->db, &stmt_company_members, v, NULL,
	    NULL)) == NULL || (emp = json_array()) == NULL)
		goto out;
	for (i = 0; i < PQntuples(res); i++)
		if ((item = json_pack("{s:I, s:s, s:s}", "account_id",
		    (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10), "email",
		    PQgetvalue(res, i, 1), "enrolled_at", PQgetvalue(res, i,
		    2))) == NULL || json_array_append_new(emp, item) == -1)
			goto out;
	PQclear(res);
	if ((res = db_exec(ra->db, &stmt_company_apps, v, NULL,
	    NULL)) == NULL || (apps = json_array()) == NULL)
		goto out;
	for (i = 0; i < PQntuples(res); i++) {
		if ((item = json_pack("{s:I, s:I, s:s, s:n}", "id",
		    (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10),
		    "account_id", (json_int_t)strtoll(PQgetvalue(res, i, 1), NULL,
		    10), "status", PQgetvalue(res, i, 2), "certificate")) == NULL ||
		    json_array_append_new(apps, item) == -1)
			goto out;
		if (!PQgetisnull(res, i, 3) && json_object_set_new(item,
		    "certificate", json_pack("{s:I, s:s, s:b}", "id",
		    (json_int_t)strtoll(PQgetvalue(res, i, 3), NULL, 10), "serial",
		    PQgetvalue(res, i, 4), "revoked", strcmp(PQgetvalue(res, i, 5),
		    "t") == 0)) == -1)
			goto out;
	}
	if (json_object_set(o, "employees", emp) == -1 ||
	    json_object_set(o, "applications", apps) == -1)
		goto out;
	if (all) {
		PQclear(res);
		json_decref(emp);
		if ((res = db_exec(ra->db, &stmt_company_former, v, NULL,
		    NULL)) == NULL || (emp = json_array()) == NULL)
			goto out;
		for (i = 0; i < PQntuples(res); i++)
			if ((item = json_pack("{s:I, s:I, s:s, s:s, s:s, s:I}",
			    "membership_id", (json_int_t)strtoll(PQgetvalue(res,
			    i, 0), NULL, 10), "account_id", (json_int_t)strtoll(
			    PQgetvalue(res, i, 1), NULL, 10), "email",
			    PQgetvalue(res, i, 2), "enrolled_at", PQgetvalue(res,
			    i, 3), "removed_at", PQgetvalue(res, i, 4),
			    "removed_by", (json_int_t)strtoll(PQgetvalue(res, i,
			    5), NULL, 10))) == NULL ||
			    json_array_append_new(emp, item) == -1)
				goto out;
		if (json_object_set(o, "former_employees", emp) == -1)
			goto out;
		PQclear(res);
		if ((res = db_exec(ra->db, &stmt_company_revreqs, v, NULL,
		    NULL)) == NULL || (rr = json_array()) == NULL)
			goto out;
		for (i = 0; i < PQntuples(res); i++)
			if ((item = json_pack("{s:I, s:I, s:s, s:s, s:s}", "id",
			    (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10),
			    "certificate_id", (json_int_t)strtoll(PQgetvalue(res,
			    i, 1), NULL, 10), "reason", PQgetvalue(res, i, 2),
			    "status", PQgetvalue(res, i, 3), "created_at",
			    PQgetvalue(res, i, 4))) == NULL ||
			    json_array_append_new(rr, item) == -1)
				goto out;
		if (json_object_set(o, "revocation_requests", rr) == -1)
			goto out;
	}
	rc = http_respond_json(resp, 200, o);
out:
	json_decref(rr);
	json_decref(apps);
	json_decref(emp);
	json_decref(o);
	PQclear(res);
	return rc;
}

/* --- POST /v1/corporate/{id}/employees ---------------------------------------- */

struct ra_corp_invite_txn {
	struct ra			*ra;
	const struct ra_subject		*who;
	const char			*company_id;
	const struct ra_enrol_req	*req;
	const char			*client;
	enum ra_corp_outcome		 outcome;
	long				 retry_after;	/* RA_CORP_INVITE_* */
	char				 id[24];
	char				 expires_at[40];
	char				 voided[24];	/* live ones replaced */
};

/*
 * The caps of policy corporate.invite_company_per_hour and
 * invite_address_per_day, under their locks: RA_CORP_DONE, or
 * RA_CORP_INVITE_* with t->retry_after (the address's wait first: the
 * longer one). 0 or -1.
 */
static int
ra_corp_invite_caps(struct db *db, struct ra_corp_invite_txn *t)
{
	const struct ra_policy *p = t->ra->policy;
	const char *v[2];
	PGresult *res;
	int col = 0;

	v[0] = t->company_id;
	v[1] = t->req->email;
	if ((res = db_exec(db, &stmt_invite_lock, v, NULL, NULL)) == NULL)
		return -1;
	PQclear(res);
	if ((res = db_exec(db, &stmt_invite_count, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1) {
		PQclear(res);
		return -1;
	}
	if (strtol(PQgetvalue(res, 0, 2), NULL, 10) >=
	    p->corporate_invite_address_day) {
		t->outcome = RA_CORP_INVITE_ADDRESS;
		col = 3;
	} else if (strtol(PQgetvalue(res, 0, 0), NULL, 10) >=
	    p->corporate_invite_company_hour) {
		t->outcome = RA_CORP_INVITE_COMPANY;
		col = 1;
	}
	if (col != 0 && (t->retry_after = strtol(PQgetvalue(res, 0, col), NULL,
	    10)) < 1)
		t->retry_after = 1;
	PQclear(res);
	return 0;
}

static int
ra_corp_invite_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX];
	struct ra_corp_invite_txn *t = arg;
	const char *v[5];
	char tok[RA_TOKEN_B64_LEN + 1], ttl[24], *digest = NULL, *body = NULL;
	PGresult *res = NULL;
	json_t *details = NULL;
	int rc = -1;

	tok[0] = '\0';
	if (ra_company_sysadmin(db, t->company_id, t->who->account_id,
	    &t->outcome) == -1 || t->outcome != RA_CORP_DONE)
		goto out;
	v[0] = t->company_id;
	v[1] = t->req->email;
	if ((res = db_exec(db, &stmt_invite_member, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		t->outcome = RA_CORP_MEMBER;
		goto out;
	}
	PQclear(res);
	res = NULL;
	/* Beyond a cap: nothing stored, nothing mailed (roll back). */
	if (ra_corp_invite_caps(db, t) == -1 || t->outcome != RA_CORP_DONE)
		goto out;
	if ((res = db_exec(db, &stmt_invite_void, v, NULL, NULL)) == NULL)
		goto out;
	snprintf(t->voided, sizeof(t->voided), "%s", PQcmdTuples(res));
	PQclear(res);
	res = NULL;
	if (ra_token_new(tok, &digest) == -1)
		goto out;
	snprintf(ttl, sizeof(ttl), "%ld", t->ra->policy->corporate_invite_ttl_s);
	v[2] = digest;
	v[3] = t->who->account_id;
	v[4] = ttl;
	if ((res = db_exec(db, &stmt_invite_insert, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	snprintf(t->id, sizeof(t->id), "%s", PQgetvalue(res, 0, 0));
	snprintf(t->expires_at, sizeof(t->expires_at), "%s",
	    PQgetvalue(res, 0, 1));
	if ((details = json_pack("{s:s, s:s, s:s, s:s, s:I}", "client",
	    t->client, "company_id", t->company_id, "invited_by",
	    t->who->account_id, "expires_at", t->expires_at, "voided",
	    (json_int_t)strtoll(t->voided, NULL, 10))) == NULL ||
	    audit_append(db, ra_actor(actor, t->who->account_id), "ra.corporate.invite",
	    "ra_company_invitation", t->id, details, NULL) == -1)
		goto out;
	if (asprintf(&body, "Your company's sysadmin invites you to enrol as "
	    "an employee (company %s) with the RA.\r\n\r\nLog in with an "
	    "account of this email address and accept the invitation with "
	    "POST /v1/corporate/enrolments/accept (valid until %s, usable "
	    "once)%s:\r\n\r\ntoken=%s\r\n", t->company_id, t->expires_at,
	    strcmp(t->voided, "0") != 0 ? "; the invitation mailed before "
	    "no longer works" : "", tok) == -1) {
		body = NULL;
		goto out;
	}
	if (ra_mail_send(t->ra->mailer, t->req->email, "Enrol as an employee",
	    body) == -1) {
		t->outcome = RA_CORP_MAIL_FAILED;
		goto out;
	}
	rc = 0;
out:
	ra_wipe(tok, sizeof(tok));
	if (body != NULL) {
		ra_wipe(body, strlen(body));
		free(body);
	}
	json_decref(details);
	free(digest);
	PQclear(res);
	return rc;
}

int
ra_corporate_invite(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	struct ra_enrol_req r;
	struct ra_corp_invite_txn t;
	char id[24], detail[256];
	json_t *j = NULL;
	int rc = -1, k;

	if ((k = ra_session_account(ra, req, resp, &who)) != 1)
		return k == 0 ? 0 : -1;
	if (ra_path_id(req->path, "/v1/corporate/", "/employees", id) == -1)
		return ra_problem(resp, 404, "no such company");
	if ((k = ra_corp_sysadmin_json(ra, req, resp, id,
	    who.account_id)) != 1)
		return k;
	if (ra_parse_enrol(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1)
		return ra_problem(resp, 400, detail);
	memset(&t, 0, sizeof(t));
	t.ra = ra;
	t.who = &who;
	t.company_id = id;
	t.req = &r;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_corp_invite_txn,
	    &t) == -1) {
		if (t.outcome == RA_CORP_INVITE_ADDRESS)
			rc = ra_too_many(resp, t.retry_after, "too many "
			    "invitations to this address today, from any company "
			    "(policy corporate.invite_address_per_day); nothing "
			    "was mailed");
		else if (t.outcome == RA_CORP_INVITE_COMPANY)
			rc = ra_too_many(resp, t.retry_after, "too many "
			    "invitations from this company in the last hour "
			    "(policy corporate.invite_company_per_hour); nothing "
			    "was mailed");
		else if (t.outcome != RA_CORP_DONE)
			rc = ra_corp_refuse(resp, t.outcome);
		goto out;
	}
	log_info("company %s: invitation %s sent by account %s", id, t.id,
	    who.account_id);
	if ((j = json_pack("{s:I, s:I, s:s}", "invitation_id",
	    (json_int_t)strtoll(t.id, NULL, 10), "company_id",
	    (json_int_t)strtoll(id, NULL, 10), "expires_at",
	    t.expires_at)) == NULL)
		goto out;
	rc = http_respond_json(resp, 201, j);
out:
	json_decref(j);
	return rc;
}

/* --- POST /v1/corporate/{id}/employees/{account_id}/remove ------------------------ */

struct ra_corp_remove_txn {
	struct ra			*ra;
	const struct ra_subject		*who;
	const char			*company_id;
	const char			*account_id;	/* the employee */
	const struct ra_removal_req	*req;
	const char			*client;
	enum ra_corp_outcome		 outcome;
	struct factor_outcome		 fo;
	char				 member_id[24];
	char				 removed_at[40];
	json_t				*cancelled;	/* application ids */
	json_t				*requested;	/* {id, certificate_id, serial} */
	json_t				*pending;	/* certificate ids */
};

/*
 * Requests the revocation of each of the member's certificates of the
 * company (stmt_remove_certs in res) that has no pending request; those
 * that have one are listed in t->pending. 0 or -1.
 */
static int
ra_corp_remove_revreqs(struct db *db, struct ra_corp_remove_txn *t,
    const PGresult *certs, const char *actor)
{
	const char *v[5];
	PGresult *res;
	json_t *item;
	int i;

	for (i = 0; i < PQntuples(certs); i++) {
		v[0] = t->company_id;
		v[1] = PQgetvalue(certs, i, 0);
		v[2] = t->who->account_id;
		v[3] = t->req->revocation_reason;
		v[4] = t->req->comment;
		if ((res = db_exec(db, &stmt_remove_revreq, v, NULL, NULL)) ==
		    NULL)
			return -1;
		if (PQntuples(res) != 1) {
			PQclear(res);
			if (json_array_append_new(t->pending, json_integer(
			    (json_int_t)strtoll(v[1], NULL, 10))) == -1)
				return -1;
			continue;
		}
		item = json_pack("{s:I, s:I, s:s}", "id", (json_int_t)strtoll(
		    PQgetvalue(res, 0, 0), NULL, 10), "certificate_id",
		    (json_int_t)strtoll(v[1], NULL, 10), "serial",
		    PQgetvalue(certs, i, 1));
		/* The event of the sysadmin's own request, and why. */
		if (item == NULL || json_array_append_new(t->requested,
		    item) == -1 || audit_append_new(db, actor,
		    "ra.corporate.revocation_request", "ra_revocation_request",
		    PQgetvalue(res, 0, 0), json_pack("{s:s, s:s, s:s, s:s, "
		    "s:s, s:s, s:s}", "client", t->client, "company_id",
		    t->company_id, "certificate_id", v[1], "reason", v[3],
		    "requested_by", v[2], "factor", t->fo.kind,
		    "member_removed", t->member_id)) == -1) {
			PQclear(res);
			return -1;
		}
		PQclear(res);
	}
	return 0;
}

/*
 * The sysadmin removes an employee: the membership ends (kept, with
 * removed_at and removed_by), the employee's open applications made for
 * the company are cancelled, and the revocation of their certificates of
 * the company is requested (the officers decide, as for any request); the
 * employee is told by mail (outbox). A second factor of purpose revoke,
 * as for a revocation request: the removal asks for revocations.
 */
static int
ra_corp_remove_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX], email[RA_EMAIL_MAX + 1], *body = NULL;
	struct ra_corp_remove_txn *t = arg;
	struct ra_company_view cv;
	const char *v[2];
	PGresult *res = NULL, *open = NULL, *certs = NULL;
	json_t *details = NULL;
	int i, rc = -1;

	t->outcome = RA_CORP_DONE;
	/* A retried transaction starts its lists afresh. */
	if (json_array_clear(t->cancelled) == -1 ||
	    json_array_clear(t->requested) == -1 ||
	    json_array_clear(t->pending) == -1)
		goto out;
	ra_actor(actor, t->who->account_id);
	if (ra_company_sysadmin_view(db, t->company_id, t->who->account_id, &cv,
	    &t->outcome) == -1 || t->outcome != RA_CORP_DONE)
		goto out;
	v[0] = t->company_id;
	v[1] = t->account_id;
	if ((res = db_exec(db, &stmt_remove_member, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		t->outcome = RA_CORP_NOT_EMPLOYEE;
		goto out;
	}
	snprintf(t->member_id, sizeof(t->member_id), "%s",
	    PQgetvalue(res, 0, 0));
	snprintf(email, sizeof(email), "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	res = NULL;
	/*
	 * Read after the membership's lock, in statements of their own: an
	 * application submitted while this waited is seen (kyc.c shares the
	 * membership until its COMMIT).
	 */
	if ((open = db_exec(db, &stmt_remove_open, v, NULL, NULL)) == NULL)
		goto out;
	/* As a deactivation (companies.c): cad may be signing it. */
	for (i = 0; i < PQntuples(open); i++)
		if (strcmp(PQgetvalue(open, i, RO_STATUS), "agreed") == 0 &&
		    strcmp(PQgetvalue(open, i, RO_ORDER_STATUS), "failed") != 0) {
			t->outcome = RA_CORP_BEING_ISSUED;
			goto out;
		}
	if ((certs = db_exec(db, &stmt_remove_certs, v, NULL, NULL)) == NULL)
		goto out;
	/* The verifier, before any change of ours (ra/extern.h). */
	if (ra_factor_check(t->ra, db, t->who->account_id, "revoke",
	    &t->req->factor, &t->fo) == -1)
		goto out;
	if (t->fo.result != FACTOR_OK) {
		t->outcome = RA_CORP_FACTOR;
		rc = 0;		/* COMMIT the failure record only */
		goto out;
	}
	v[0] = t->member_id;
	v[1] = t->who->account_id;
	if ((res = db_exec(db, &stmt_remove_update, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	snprintf(t->removed_at, sizeof(t->removed_at), "%s",
	    PQgetvalue(res, 0, 0));
	for (i = 0; i < PQntuples(open); i++) {
		v[0] = PQgetvalue(open, i, RO_ID);
		v[1] = PQgetvalue(open, i, RO_STATUS);
		if (db_exec_ok(db, &stmt_remove_cancel, v) == -1 ||
		    json_array_append_new(t->cancelled, json_integer(
		    (json_int_t)strtoll(v[0], NULL, 10))) == -1 ||
		    audit_append_new(db, actor, "ra.application.cancel",
		    "ra_application", v[0], json_pack("{s:s, s:s, s:s, s:s, "
		    "s:s, s:s, s:s}", "client", t->client, "from", v[1], "kind",
		    PQgetvalue(open, i, RO_KIND), "profile", "corporate",
		    "company_id", t->company_id, "reason", "the applicant was "
		    "removed from the company's employees", "member_removed",
		    t->member_id)) == -1)
			goto out;
	}
	if (ra_corp_remove_revreqs(db, t, certs, actor) == -1)
		goto out;
	if ((details = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:O}",
	    "client", t->client, "company_id", t->company_id, "account_id",
	    t->account_id, "factor", t->fo.kind, "revocation_reason",
	    t->req->revocation_reason, "cancelled_applications", t->cancelled,
	    "revocation_requests", t->requested, "requests_already_pending",
	    t->pending)) == NULL ||
	    audit_append(db, actor, "ra.corporate.remove", "ra_company_member",
	    t->member_id, details, NULL) == -1)
		goto out;
	/* Queued (outbox): a bouncing address does not undo the removal. */
	if (asprintf(&body, "The system administrator of %s (company %s) "
	    "removed you from its employees at the registration authority "
	    "on %s.\n\n%zu open application(s) you made for the company were "
	    "cancelled. The company has asked the registration authority to "
	    "revoke %zu certificate(s) of yours made for it (%s); an officer "
	    "decides, and you are told when one is revoked.\n\nYou may no "
	    "longer apply in the company's name unless it invites you again."
	    "\n", cv.name, t->company_id, t->removed_at,
	    json_array_size(t->cancelled), json_array_size(t->requested) +
	    json_array_size(t->pending), t->req->revocation_reason) == -1) {
		body = NULL;
		goto out;
	}
	if (ra_mail_queue(db, email, "You were removed from a company's "
	    "employees", body) == -1)
		goto out;
	rc = 0;
out:
	free(body);
	json_decref(details);
	PQclear(certs);
	PQclear(open);
	PQclear(res);
	return rc;
}

int
ra_corp_remove_path(const char *path, char company[24], char account[24])
{
	char head[64];
	const char *p;
	size_t n;

	if ((p = strstr(path, "/employees/")) == NULL ||
	    (n = (size_t)(p - path)) >= sizeof(head))
		return -1;
	memcpy(head, path, n);
	head[n] = '\0';
	if (ra_path_id(head, "/v1/corporate/", "", company) == -1)
		return -1;
	return ra_path_id(p, "/employees/", "/remove", account);
}

int
ra_corporate_remove(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	struct ra_removal_req r;
	struct ra_corp_remove_txn t;
	char id[24], acct[24], detail[256];
	json_t *j = NULL;
	int rc = -1, k;

	memset(&r, 0, sizeof(r));
	memset(&t, 0, sizeof(t));
	if ((k = ra_session_account(ra, req, resp, &who)) != 1)
		return k == 0 ? 0 : -1;
	if (ra_corp_remove_path(req->path, id, acct) == -1)
		return ra_problem(resp, 404, "no such company");
	if ((k = ra_corp_sysadmin_json(ra, req, resp, id,
	    who.account_id)) != 1)
		return k;
	if (ra_parse_removal(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1)
		return ra_problem(resp, 400, detail);
	if (!ra_policy_reason_allowed(ra->policy, r.revocation_reason)) {
		snprintf(detail, sizeof(detail), "revocation_reason: %s "
		    RA_REASON_NOT_ALLOWED "; name another", r.revocation_reason);
		rc = ra_problem(resp, 400, detail);
		goto out;
	}
	t.ra = ra;
	t.who = &who;
	t.company_id = id;
	t.account_id = acct;
	t.req = &r;
	t.client = req->remote_addr;
	if ((t.cancelled = json_array()) == NULL ||
	    (t.requested = json_array()) == NULL ||
	    (t.pending = json_array()) == NULL)
		goto out;
	if ((k = ra_corp_factor_txn(ra, resp, ra_corp_remove_txn, &t,
	    &t.outcome, &t.fo)) != 1) {
		rc = k;
		goto out;
	}
	log_info("company %s: account %s removed from its employees by "
	    "account %s (%zu application(s) cancelled, %zu revocation "
	    "request(s))", id, acct, who.account_id,
	    json_array_size(t.cancelled), json_array_size(t.requested));
	if ((j = json_pack("{s:I, s:I, s:I, s:s, s:O, s:O, s:O}", "company_id",
	    (json_int_t)strtoll(id, NULL, 10), "account_id",
	    (json_int_t)strtoll(acct, NULL, 10), "membership_id",
	    (json_int_t)strtoll(t.member_id, NULL, 10), "removed_at",
	    t.removed_at, "cancelled_applications", t.cancelled,
	    "revocation_requests", t.requested, "requests_already_pending",
	    t.pending)) == NULL)
		goto out;
	rc = http_respond_json(resp, 200, j);
out:
	ra_wipe(&r, sizeof(r));
	json_decref(t.cancelled);
	json_decref(t.requested);
	json_decref(t.pending);
	json_decref(j);
	return rc;
}

/* --- POST /v1/corporate/enrolments/accept ----------------------------------- */

/*
 * A {token} a logged-in account brings back: an enrolment or a claim. Both
 * expire: an invitation at its expires_at (corporate.invite_ttl_seconds
 * after it was mailed), a claim claim_ttl_s after it was mailed.
 */
struct ra_corp_token_txn {
	const struct ra_subject	*who;
	char			*digest;
	long			 claim_ttl_s;	/* corporate.claim_ttl_seconds */
	const char		*client;
	enum ra_corp_outcome	 outcome;
	char			 company_id[24];
	char			 member_id[24];	/* enrolment */
};

static int
ra_corp_accept_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX];
	struct ra_corp_token_txn *t = arg;
	const char *v[3];
	char inv[24];
	PGresult *res = NULL;
	json_t *details = NULL;
	int rc = -1;

	t->outcome = RA_CORP_DONE;
	v[0] = t->digest;
	v[1] = t->who->account_id;
	if ((res = db_exec(db, &stmt_accept_claim, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		t->outcome = RA_CORP_TOKEN;
		goto out;
	}
	snprintf(inv, sizeof(inv), "%s", PQgetvalue(res, 0, 0));
	snprintf(t->company_id, sizeof(t->company_id), "%s",
	    PQgetvalue(res, 0, 1));
	if (strcmp(PQgetvalue(res, 0, 2), "t") != 0 ||
	    strcmp(PQgetvalue(res, 0, 3), "t") != 0)
		t->outcome = RA_CORP_WRONG_EMAIL;
	else if (strcmp(PQgetvalue(res, 0, 4), "t") != 0)
		t->outcome = RA_CORP_NOT_ACTIVE;
	else if (strcmp(PQgetvalue(res, 0, 5), "t") == 0)
		t->outcome = RA_CORP_MEMBER;
	if (t->outcome != RA_CORP_DONE)
		goto out;
	PQclear(res);
	v[0] = inv;
	v[1] = t->who->account_id;
	if ((res = db_exec(db, &stmt_accept_update, v, NULL, NULL)) == NULL)
		goto out;
	PQclear(res);
	v[0] = t->company_id;
	v[1] = t->who->account_id;
	v[2] = inv;
	if ((res = db_exec(db, &stmt_member_insert, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1) {
		/* ra_company_member_current: another invitation enrolled it. */
		if (strcmp(db_last_sqlstate(db), "23505") == 0)
			t->outcome = RA_CORP_MEMBER;
		goto out;
	}
	snprintf(t->member_id, sizeof(t->member_id), "%s",
	    PQgetvalue(res, 0, 0));
	if ((details = json_pack("{s:s, s:s, s:s, s:s, s:s}", "client",
	    t->client, "company_id", t->company_id, "account_id",
	    t->who->account_id, "invitation_id", inv, "role",
	    "employee")) == NULL ||
	    audit_append(db, ra_actor(actor, t->who->account_id), "ra.corporate.enrol",
	    "ra_company_member", t->member_id, details, NULL) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

/*
 * POST {token} by a logged-in account: txn on the token's digest, then
 * {company_id, account_id, role}.
 */
static int
ra_corp_token_post(struct ra *ra, const struct http_request *req,
    struct http_response *resp, int (*txn)(struct db *, void *),
    const char *role)
{
	struct ra_subject who;
	struct ra_token_req r;
	struct ra_corp_token_txn t;
	char detail[256];
	json_t *o = NULL;
	int rc = -1, k;

	memset(&t, 0, sizeof(t));
	memset(&r, 0, sizeof(r));
	if ((k = ra_subscriber_json(ra, req, resp, &who)) != 1)
		return k == 0 ? 0 : -1;
	if (ra_parse_token(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1)
		return ra_problem(resp, 400, detail);
	if ((t.digest = ra_token_digest(r.token)) == NULL)
		goto out;
	t.who = &who;
	t.claim_ttl_s = ra->policy->corporate_claim_ttl_s;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, txn, &t) == -1) {
		if (t.outcome != RA_CORP_DONE)
			rc = ra_corp_refuse(resp, t.outcome);
		goto out;
	}
	log_info("company %s: account %s is its %s now", t.company_id,
	    who.account_id, role);
	if ((o = json_pack("{s:I, s:I, s:s}", "company_id",
	    (json_int_t)strtoll(t.company_id, NULL, 10), "account_id",
	    (json_int_t)strtoll(who.account_id, NULL, 10), "role", role)) ==
	    NULL)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	ra_wipe(&r, sizeof(r));
	json_decref(o);
	free(t.digest);
	return rc;
}

int
ra_corporate_accept(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	return ra_corp_token_post(ra, req, resp, ra_corp_accept_txn,
	    "employee");
}

/* --- POST /v1/corporate/sysadmin/claim ------------------------------------------ */

static int
ra_corp_claim_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX];
	struct ra_corp_token_txn *t = arg;
	const char *v[3];
	char ttl[24];
	PGresult *res = NULL;
	json_t *details = NULL;
	int rc = -1;

	t->outcome = RA_CORP_DONE;
	snprintf(ttl, sizeof(ttl), "%ld", t->claim_ttl_s);
	v[0] = t->digest;
	v[1] = t->who->account_id;
	v[2] = ttl;
	if ((res = db_exec(db, &stmt_claim_find, v, NULL, NULL)) == NULL)
		goto out;
	/* Unknown and expired alike: nothing changes, 404. */
	if (PQntuples(res) != 1) {
		t->outcome = RA_CORP_TOKEN;
		goto out;
	}
	snprintf(t->company_id, sizeof(t->company_id), "%s",
	    PQgetvalue(res, 0, 0));
	if (strcmp(PQgetvalue(res, 0, 1), "t") != 0)
		t->outcome = RA_CORP_WRONG_EMAIL;
	else if (strcmp(PQgetvalue(res, 0, 2), "t") != 0)
		t->outcome = RA_CORP_NOT_ACTIVE;
	PQclear(res);
	/* Replaced by a new token while the company's lock was awaited: 404. */
	v[0] = t->company_id;
	v[1] = t->digest;
	if ((res = db_exec(db, &stmt_claim_current, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1)
		t->outcome = RA_CORP_TOKEN;
	if (t->outcome != RA_CORP_DONE)
		goto out;
	PQclear(res);
	v[1] = t->who->account_id;
	if ((res = db_exec(db, &stmt_claim_sysadmin, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		t->outcome = RA_CORP_CLAIMED;
		goto out;
	}
	if ((details = json_pack("{s:s, s:s, s:s}", "client", t->client,
	    "company_id", t->company_id, "account_id", t->who->account_id)) ==
	    NULL || audit_append(db, ra_actor(actor, t->who->account_id),
	    "ra.corporate.sysadmin_claim", "ra_company", t->company_id, details,
	    NULL) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

int
ra_corporate_sysadmin_claim(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	return ra_corp_token_post(ra, req, resp, ra_corp_claim_txn,
	    "sysadmin");
}

/* --- POST /v1/corporate/{id}/sysadmin/claim-token ------------------------------ */

struct ra_corp_resend_txn {
	struct ra			*ra;
	const struct ra_subject		*who;
	const char			*company_id;
	const char			*client;
	enum ra_corp_outcome		 outcome;
	long				 retry_after;	/* RA_CORP_TOO_SOON */
	char				 email[RA_EMAIL_MAX + 1];
	char				 expires_at[40];
};

/*
 * A new claim token mailed to the sysadmin_email of a company that has no
 * sysadmin yet, at its representative's request; it replaces the old one
 * (which stops working) once that is corporate.claim_resend_interval_seconds
 * old. No second factor, as for the submission: the token goes only to the
 * address the officers saw in the submission, never to the caller, and the
 * representative could not claim with it (the claim wants an account of
 * that address). Mailed before COMMIT, as the submission's: a failed send
 * leaves the old token in place (503).
 */
static int
ra_corp_resend_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX];
	struct ra_corp_resend_txn *t = arg;
	const char *domain;
	struct ra_company_view cv;
	const char *v[3];
	char tok[RA_TOKEN_B64_LEN + 1], ttl[24], *digest = NULL;
	PGresult *res = NULL;
	json_t *details = NULL;
	int k, rc = -1;

	t->outcome = RA_CORP_DONE;
	tok[0] = '\0';
	if (ra_company_role(db, t->company_id, t->who->account_id, &cv) == -1)
		goto out;
	if (cv.roles == 0)
		t->outcome = RA_CORP_NOT_FOUND;
	else if (!(cv.roles & RA_ROLE_REP))
		t->outcome = RA_CORP_NOT_REPRESENTATIVE;
	else if (strcmp(cv.status, "pending") != 0 &&
	    strcmp(cv.status, "active") != 0)
		t->outcome = RA_CORP_NOT_ACTIVE;	/* as the claim's */
	if (t->outcome != RA_CORP_DONE)
		goto out;
	v[0] = t->company_id;
	if ((res = db_exec(db, &stmt_resend_state, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	snprintf(t->email, sizeof(t->email), "%s", PQgetvalue(res, 0, 0));
	if (strcmp(PQgetvalue(res, 0, 1), "t") == 0)
		t->outcome = RA_CORP_CLAIMED;
	else if (strcmp(PQgetvalue(res, 0, 2), "t") != 0)
		t->outcome = RA_CORP_NO_CLAIM;
	if (t->outcome != RA_CORP_DONE)
		goto out;
	PQclear(res);
	snprintf(ttl, sizeof(ttl), "%ld",
	    t->ra->policy->corporate_claim_resend_s);
	v[1] = ttl;
	if ((res = db_exec(db, &stmt_resend_lock, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	if ((t->retry_after = strtol(PQgetvalue(res, 0, 0), NULL, 10)) > 0) {
		t->outcome = RA_CORP_TOO_SOON;
		goto out;
	}
	PQclear(res);
	if (ra_token_new(tok, &digest) == -1)
		goto out;
	snprintf(ttl, sizeof(ttl), "%ld", t->ra->policy->corporate_claim_ttl_s);
	v[1] = digest;
	v[2] = ttl;
	if ((res = db_exec(db, &stmt_resend_update, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	snprintf(t->expires_at, sizeof(t->expires_at), "%s",
	    PQgetvalue(res, 0, 0));
	domain = strchr(t->email, '@');
	if ((details = json_pack("{s:s, s:s, s:s, s:s}", "client", t->client,
	    "account_id", t->who->account_id, "sysadmin_domain",
	    domain != NULL ? domain + 1 : "", "expires_at",
	    t->expires_at)) == NULL ||
	    audit_append(db, ra_actor(actor, t->who->account_id),
	    "ra.corporate.sysadmin_claim_token", "ra_company", t->company_id,
	    details, NULL) == -1)
		goto out;
	if ((k = ra_corp_claim_mail(t->ra, t->email, "Corporate account: a "
	    "new sysadmin claim token", cv.name, ", and its representative "
	    "has asked for a new claim token: a token mailed before no longer "
	    "works", t->expires_at, tok, "")) != 0) {
		if (k == 1)
			t->outcome = RA_CORP_MAIL_FAILED;
		goto out;
	}
	rc = 0;
out:
	ra_wipe(tok, sizeof(tok));
	free(digest);
	json_decref(details);
	PQclear(res);
	return rc;
}

int
ra_corporate_claim_token(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	struct ra_corp_resend_txn t;
	char id[24];
	json_t *o = NULL;
	int rc = -1, k;

	if ((k = ra_session_account(ra, req, resp, &who)) != 1)
		return k == 0 ? 0 : -1;
	if (ra_path_id(req->path, "/v1/corporate/", "/sysadmin/claim-token",
	    id) == -1)
		return ra_problem(resp, 404, "no such company");
	if (req->body_len > 0)
		return ra_problem(resp, 400, "this request takes no body");
	memset(&t, 0, sizeof(t));
	t.ra = ra;
	t.who = &who;
	t.company_id = id;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_corp_resend_txn,
	    &t) == -1) {
		if (t.outcome == RA_CORP_TOO_SOON)
			rc = ra_too_many(resp, t.retry_after, "a claim token "
			    "was mailed to the sysadmin less than policy "
			    "corporate.claim_resend_interval_seconds ago");
		else if (t.outcome != RA_CORP_DONE)
			rc = ra_corp_refuse(resp, t.outcome);
		goto out;
	}
	log_info("company %s: a new sysadmin claim token mailed at account "
	    "%s's request", id, who.account_id);
	if ((o = json_pack("{s:I, s:s, s:s}", "company_id",
	    (json_int_t)strtoll(id, NULL, 10), "sysadmin_email", t.email,
	    "expires_at", t.expires_at)) == NULL)
		goto out;
	rc = http_respond_json(resp, 202, o);
out:
	json_decref(o);
	return rc;
}

/* --- POST /v1/corporate/{id}/revocation-requests ------------------------------ */

struct ra_corp_revreq_txn {
	struct ra			*ra;
	const struct ra_subject		*who;
	const char			*company_id;
	const struct ra_revreq_req	*req;
	const char			*client;
	enum ra_corp_outcome		 outcome;
	struct factor_outcome	 fo;
	char				 id[24];
};

static int
ra_corp_revreq_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX];
	struct ra_corp_revreq_txn *t = arg;
	const char *v[5];
	char cert[24];
	PGresult *res = NULL;
	json_t *details = NULL;
	int rc = -1;

	if (ra_company_sysadmin(db, t->company_id, t->who->account_id,
	    &t->outcome) == -1 || t->outcome != RA_CORP_DONE)
		goto out;
	snprintf(cert, sizeof(cert), "%lld", t->req->certificate_id);
	v[0] = t->company_id;
	v[1] = cert;
	if ((res = db_exec(db, &stmt_revreq_cert, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1)
		t->outcome = RA_CORP_CERT_UNKNOWN;
	else if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		t->outcome = RA_CORP_CERT_REVOKED;
	else if (strcmp(PQgetvalue(res, 0, 2), "t") == 0)
		t->outcome = RA_CORP_CERT_EXPIRED;
	else if (strcmp(PQgetvalue(res, 0, 1), "t") == 0)
		t->outcome = RA_CORP_REQUEST_PENDING;
	if (t->outcome != RA_CORP_DONE)
		goto out;
	/* The verifier, before any change of ours (ra/extern.h). */
	if (ra_factor_check(t->ra, db, t->who->account_id, "revoke",
	    &t->req->factor, &t->fo) == -1)
		goto out;
	if (t->fo.result != FACTOR_OK) {
		t->outcome = RA_CORP_FACTOR;
		rc = 0;		/* COMMIT the failure record only */
		goto out;
	}
	PQclear(res);
	v[2] = t->who->account_id;
	v[3] = t->req->reason;
	v[4] = t->req->comment;
	if ((res = db_exec(db, &stmt_revreq_insert, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1) {
		if (strcmp(db_last_sqlstate(db), "23505") == 0)
			t->outcome = RA_CORP_REQUEST_PENDING;
		goto out;
	}
	snprintf(t->id, sizeof(t->id), "%s", PQgetvalue(res, 0, 0));
	if ((details = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "client",
	    t->client, "company_id", t->company_id, "certificate_id", cert,
	    "reason", t->req->reason, "requested_by", t->who->account_id,
	    "factor", t->fo.kind)) == NULL ||
	    audit_append(db, ra_actor(actor, t->who->account_id), "ra.corporate.revocation_request",
	    "ra_revocation_request", t->id, details, NULL) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

int
ra_corporate_revreq(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	struct ra_revreq_req r;
	struct ra_corp_revreq_txn t;
	char id[24], detail[256];
	json_t *j = NULL;
	int rc = -1, k;

	memset(&r, 0, sizeof(r));
	memset(&t, 0, sizeof(t));
	if ((k = ra_session_account(ra, req, resp, &who)) != 1)
		return k == 0 ? 0 : -1;
	if (ra_path_id(req->path, "/v1/corporate/", "/revocation-requests",
	    id) == -1)
		return ra_problem(resp, 404, "no such company");
	if ((k = ra_corp_sysadmin_json(ra, req, resp, id,
	    who.account_id)) != 1)
		return k;
	if (ra_parse_revreq(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1)
		return ra_problem(resp, 400, detail);
	/* A request the officers could not carry out is refused now. */
	if (!ra_policy_reason_allowed(ra->policy, r.reason)) {
		snprintf(detail, sizeof(detail), "reason: %s "
		    RA_REASON_NOT_ALLOWED, r.reason);
		rc = ra_problem(resp, 400, detail);
		goto out;
	}
	t.ra = ra;
	t.who = &who;
	t.company_id = id;
	t.req = &r;
	t.client = req->remote_addr;
	if ((k = ra_corp_factor_txn(ra, resp, ra_corp_revreq_txn, &t,
	    &t.outcome, &t.fo)) != 1) {
		rc = k;
		goto out;
	}
	log_info("company %s: revocation request %s by account %s", id, t.id,
	    who.account_id);
	if ((j = json_pack("{s:I, s:I, s:I, s:s, s:s}", "id",
	    (json_int_t)strtoll(t.id, NULL, 10), "company_id",
	    (json_int_t)strtoll(id, NULL, 10), "certificate_id",
	    (json_int_t)r.certificate_id, "reason", r.reason, "status",
	    "pending")) == NULL)
		goto out;
	rc = http_respond_json(resp, 201, j);
out:
	ra_wipe(&r, sizeof(r));
	json_decref(j);
	return rc;
}

/* --- POST /v1/corporate/{id}/eseals ------------------------------------------------ */

struct ra_corp_eseal_txn {
	const struct ra_subject		*who;
	const char			*company_id;
	const struct ra_eseal_req	*req;
	const char			*client;
	enum ra_corp_outcome		 outcome;
	char				 id[24];
	json_t				*subject;	/* out */
};

/*
 * The subject comes from the company the officers approved: C=ID, O its
 * name, CN the seal's name, organizationIdentifier NTRID-<NIB> (ETSI EN
 * 319 412-1 §5.1.4: the national trade register of Indonesia).
 */
static int
ra_corp_eseal_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX], orgid[32], *subject = NULL;
	struct ra_corp_eseal_txn *t = arg;
	struct ra_company_view cv;
	const char *v[2];
	PGresult *res = NULL;
	json_t *details = NULL;
	int rc = -1;

	t->outcome = RA_CORP_DONE;
	json_decref(t->subject);
	t->subject = NULL;
	if (ra_company_role(db, t->company_id, t->who->account_id, &cv) == -1)
		goto out;
	if (cv.roles == 0)
		t->outcome = RA_CORP_NOT_FOUND;
	else if (!(cv.roles & RA_ROLE_REP))
		t->outcome = RA_CORP_NOT_REPRESENTATIVE;
	else if (strcmp(cv.status, "active") != 0)
		t->outcome = RA_CORP_NOT_ACTIVE;
	if (t->outcome != RA_CORP_DONE)
		goto out;
	v[0] = t->company_id;
	if ((res = db_exec(db, &stmt_eseal_company, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	snprintf(orgid, sizeof(orgid), "NTRID-%s", PQgetvalue(res, 0, 1));
	if ((t->subject = json_pack("{s:s, s:s, s:s, s:s}", "C", "ID", "O",
	    PQgetvalue(res, 0, 0), "CN", t->req->name,
	    "organizationIdentifier", orgid)) == NULL ||
	    (subject = json_dumps(t->subject, JSON_COMPACT)) == NULL)
		goto out;
	PQclear(res);
	v[0] = t->who->account_id;
	if ((res = db_exec(db, &stmt_eseal_account, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	if ((t->outcome = ra_corp_rep_refusal(res, RA_CORP_NO_CERT,
	    RA_CORP_OPEN)) != RA_CORP_DONE)
		goto out;
	PQclear(res);
	v[1] = subject;
	if ((res = db_exec(db, &stmt_eseal_insert, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1) {
		/* 23505: ra_application_open, the account's one open slot. */
		if (strcmp(db_last_sqlstate(db), "23505") == 0)
			t->outcome = RA_CORP_OPEN;
		goto out;
	}
	snprintf(t->id, sizeof(t->id), "%s", PQgetvalue(res, 0, 0));
	if (ra_corporate_application_link(db, t->id, t->company_id) == -1 ||
	    (details = json_pack("{s:s, s:s, s:s, s:s, s:s}", "client",
	    t->client, "kind", "corporate", "profile", "eseal", "company_id",
	    t->company_id, "name", t->req->name)) == NULL ||
	    audit_append(db, ra_actor(actor, t->who->account_id),
	    "ra.application.submit", "ra_application", t->id, details,
	    NULL) == -1)
		goto out;
	rc = 0;
out:
	free(subject);
	json_decref(details);
	PQclear(res);
	return rc;
}

int
ra_corporate_eseal(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	struct ra_eseal_req r;
	struct ra_corp_eseal_txn t;
	char id[24], detail[256];
	json_t *j = NULL;
	int rc = -1, k;

	memset(&t, 0, sizeof(t));
	if ((k = ra_subscriber_json(ra, req, resp, &who)) != 1)
		return k == 0 ? 0 : -1;
	if (ra_path_id(req->path, "/v1/corporate/", "/eseals", id) == -1)
		return ra_problem(resp, 404, "no such company");
	if (ra_parse_eseal(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1)
		return ra_problem(resp, 400, detail);
	t.who = &who;
	t.company_id = id;
	t.req = &r;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_corp_eseal_txn,
	    &t) == -1) {
		if (t.outcome != RA_CORP_DONE)
			rc = ra_corp_refuse(resp, t.outcome);
		goto out;
	}
	log_info("company %s: e-seal application %s by account %s", id, t.id,
	    who.account_id);
	if ((j = json_pack("{s:I, s:I, s:s, s:s, s:s, s:O}", "id",
	    (json_int_t)strtoll(t.id, NULL, 10), "company_id",
	    (json_int_t)strtoll(id, NULL, 10), "kind", "corporate", "profile",
	    "eseal", "status", "submitted", "subject", t.subject)) == NULL)
		goto out;
	rc = http_respond_json(resp, 201, j);
out:
	json_decref(t.subject);
	json_decref(j);
	return rc;
}

/* --- officers: GET and POST /v1/officer/revocation-requests ----------------------- */

int
ra_officer_revreq_list(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	static const char *const roles[] = { "ra_officer", "ra_admin",
	    "auditor", NULL };
	struct ra_officer_subject who;
	struct ra_list_query lq;
	char lim[16], off[24];
	const char *v[4];
	PGresult *res = NULL, *cnt = NULL;
	json_t *a = NULL, *item;
	int rc = -1, k, i;

	if ((k = ra_officer_session(ra, req, resp, roles, &who)) != 1)
		return k == 0 ? 0 : -1;
	if ((k = ra_list_begin(req, resp, RA_LIST_REVREQS, &lq, lim,
	    off)) != 1)
		return k;
	v[0] = lq.status;
	v[1] = lq.q;
	v[2] = lim;
	v[3] = off;
	if ((cnt = db_exec(ra->db, &stmt_revreq_count, v, NULL, NULL)) ==
	    NULL || PQntuples(cnt) != 1 ||
	    (res = db_exec(ra->db, &stmt_revreq_list, v, NULL, NULL)) == NULL ||
	    (a = json_array()) == NULL)
		goto out;
	for (i = 0; i < PQntuples(res); i++) {
		/* The auditor's subject with the NIK masked. */
		if ((item = json_pack("{s:I, s:I, s:s, s:I, s:s, s:s, s:s, s:s, "
		    "s:I, s:s, s:s, s:o}", "id", (json_int_t)strtoll(PQgetvalue(res, i, 0),
		    NULL, 10), "company_id", (json_int_t)strtoll(PQgetvalue(res,
		    i, 1), NULL, 10), "company_name", PQgetvalue(res, i, 2),
		    "certificate_id", (json_int_t)strtoll(PQgetvalue(res, i, 3),
		    NULL, 10), "serial", PQgetvalue(res, i, 4), "reason",
		    PQgetvalue(res, i, 5), "comment", PQgetvalue(res, i, 6),
		    "status", PQgetvalue(res, i, 7), "requested_by",
		    (json_int_t)strtoll(PQgetvalue(res, i, 8), NULL, 10),
		    "created_at", PQgetvalue(res, i, 9), "profile",
		    PQgetvalue(res, i, 13), "subject", ra_officer_dn(&who,
		    PQgetvalue(res, i, 14)))) == NULL ||
		    json_array_append_new(a, item) == -1)
			goto out;
		/* A moot request (schema/079) was decided by no officer. */
		if (!PQgetisnull(res, i, 10) && (json_object_set_new(item,
		    "decided_at", json_string(PQgetvalue(res, i, 10))) == -1 ||
		    json_object_set_new(item, "decided_by", PQgetisnull(res, i,
		    11) ? json_null() : json_integer((json_int_t)strtoll(
		    PQgetvalue(res, i, 11), NULL, 10))) == -1 ||
		    json_object_set_new(item, "decision_reason", PQgetisnull(res,
		    i, 12) ? json_null() : json_string(PQgetvalue(res, i,
		    12))) == -1))
			goto out;
	}
	rc = ra_list_respond(resp, "revocation_requests", a, PQgetvalue(cnt, 0, 0),
	    &lq);
out:
	json_decref(a);
	PQclear(res);
	PQclear(cnt);
	return rc;
}

struct ra_revdecide_txn {
	const struct ra_policy		*policy;
	const struct ra_officer_subject	*who;
	const char			*id;
	const struct ra_revdecide_req	*req;
	const char			*client;
	enum ra_corp_outcome		 outcome;
	char				 serial[80];
	char				 reason[24];	/* the request's */
	char				 status[16];	/* RA_CORP_REQUEST_DECIDED */
	char				 profile[32];	/* the certificate's */
	int				 moot;		/* closed: expired */
};

static int
ra_revdecide_txn(struct db *db, void *arg)
{
	struct ra_revdecide_txn *t = arg;
	const char *v[4];
	char actor[48], cert[24], issuer[64], reason[24], code[8];
	PGresult *res = NULL;
	json_t *details = NULL;
	int rc = -1, tries;

	t->outcome = RA_CORP_DONE;
	t->moot = 0;
	ra_officer_actor(t->who, actor, sizeof(actor));
	v[0] = t->id;
	v[1] = t->who->officer_id;
	/*
	 * The certificate first, then the request; the notifier may have
	 * moved the request to a rekeyed certificate in between (it too locks
	 * the certificate first): then again with that one.
	 */
	for (tries = 0; ; tries++) {
		if ((res = db_exec(db, &stmt_revreq_lock_cert, v, NULL,
		    NULL)) == NULL)
			goto out;
		if (PQntuples(res) != 1) {
			t->outcome = RA_CORP_NOT_FOUND;
			goto out;
		}
		snprintf(cert, sizeof(cert), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
		if ((res = db_exec(db, &stmt_revreq_lock, v, NULL, NULL)) ==
		    NULL)
			goto out;
		if (PQntuples(res) != 1) {
			t->outcome = RA_CORP_NOT_FOUND;
			goto out;
		}
		if (strcmp(PQgetvalue(res, 0, 1), cert) == 0)
			break;
		if (tries + 1 == RA_REVREQ_LOCK_TRIES) {
			log_err("revocation request %s: its certificate kept "
			    "changing while it was locked", t->id);
			goto out;
		}
		PQclear(res);
		res = NULL;
	}
	if (strcmp(PQgetvalue(res, 0, 6), "t") == 0) {
		t->outcome = RA_CORP_OFFICER_IN_COMPANY;
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "pending") != 0) {
		snprintf(t->status, sizeof(t->status), "%s", PQgetvalue(res, 0,
		    0));
		t->outcome = RA_CORP_REQUEST_DECIDED;
		goto out;
	}
	snprintf(reason, sizeof(reason), "%s", PQgetvalue(res, 0, 2));
	snprintf(t->reason, sizeof(t->reason), "%s", reason);
	snprintf(t->serial, sizeof(t->serial), "%s", PQgetvalue(res, 0, 4));
	snprintf(issuer, sizeof(issuer), "%s", PQgetvalue(res, 0, 5));
	snprintf(t->profile, sizeof(t->profile), "%s", PQgetvalue(res, 0, 9));
	if (t->req->revoke && strcmp(PQgetvalue(res, 0, 3), "t") == 0) {
		t->outcome = RA_CORP_CERT_REVOKED;
		goto out;
	}
	/*
	 * A sysadmin asks for the revocation of an employee's certificate
	 * only; a request made before 2026-12-07 may name the company's
	 * e-seal (the representative's): not carried out, only rejected.
	 */
	if (t->req->revoke && strcmp(PQgetvalue(res, 0, 7), "t") != 0) {
		t->outcome = RA_CORP_NOT_EMPLOYEE_CERT;
		goto out;
	}
	/*
	 * An expired certificate leaves nothing to revoke: the request is
	 * closed as moot, as the notifier's sweep would close it (its
	 * wording and event, the officer as actor), and nothing revoked.
	 */
	if (t->req->revoke && strcmp(PQgetvalue(res, 0, 8), "t") == 0) {
		if (ra_revreq_expired_close(db, t->id, actor, t->client,
		    &t->moot) == -1)
			goto out;
		/* Locked, pending and expired above: cannot happen. */
		if (!t->moot) {
			log_err("revocation request %s: not closed as "
			    "expired", t->id);
			goto out;
		}
		rc = 0;
		goto out;
	}
	/*
	 * The officers revoke for no reason the policy excludes, their own
	 * revocations' rule (review.c): a request made before the policy
	 * changed is rejected, or the certificate revoked for another reason.
	 */
	if (t->req->revoke && !ra_policy_reason_allowed(t->policy, reason)) {
		t->outcome = RA_CORP_REASON_POLICY;
		goto out;
	}
	PQclear(res);
	res = NULL;
	/*
	 * Closed before the revocation below, which would otherwise find it
	 * pending and close it as moot (schema/079).
	 */
	v[0] = t->id;
	v[1] = t->req->revoke ? "done" : "rejected";
	v[2] = t->who->officer_id;
	v[3] = t->req->reason_text[0] != '\0' ? t->req->reason_text : NULL;
	if (db_exec_ok(db, &stmt_revreq_close, v) == -1)
		goto out;
	if ((details = json_pack("{s:s, s:s, s:s, s:s}", "client", t->client,
	    "decision", t->req->revoke ? "revoke" : "reject", "certificate_id",
	    cert, "reason", reason)) == NULL ||
	    audit_append(db, actor, "ra.revocation_request.decide",
	    "ra_revocation_request", t->id, details, NULL) == -1)
		goto out;
	json_decref(details);
	details = NULL;
	if (t->req->revoke) {
		snprintf(code, sizeof(code), "%d", ra_revreq_reason_code(reason));
		v[0] = cert;
		v[1] = code;
		v[2] = actor;
		if ((res = db_exec(db, &stmt_revreq_revoke, v, NULL,
		    NULL)) == NULL)
			goto out;
		/* Locked and found valid or on hold above: cannot happen. */
		if (PQntuples(res) != 1) {
			t->outcome = RA_CORP_CERT_REVOKED;
			goto out;
		}
		/*
		 * The same event as pkictl cert revoke (ca/certcmd.c), with the
		 * invalidity date stored: a hold's time (schema/116).
		 */
		if ((details = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "issuer",
		    issuer, "serial", t->serial, "reason", reason,
		    "revocation_request_id", t->id, "invalidity_date",
		    PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1))) ==
		    NULL ||
		    audit_append(db, actor, "cert.revoke", "certificate", cert,
		    details, NULL) == -1)
			goto out;
		if (ra_revocation_notice(db, cert, reason, "the "
		    "registration authority, at your company's request") ==
		    -1)
			goto out;
	}
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

int
ra_officer_revreq_decide(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	static const char *const roles[] = { "ra_officer", "ra_admin", NULL };
	struct ra_officer_subject who;
	struct ra_revdecide_req r;
	struct ra_revdecide_txn t;
	char id[24], detail[256];
	json_t *o = NULL;
	int rc = -1, k;

	if ((k = ra_officer_post(ra, req, resp, roles, &who,
	    "/v1/officer/revocation-requests/", "", id, "no such revocation request")) != 1)
		return k;
	if (ra_parse_revdecide(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1)
		return ra_problem(resp, 400, detail);
	memset(&t, 0, sizeof(t));
	t.policy = ra->policy;
	t.who = &who;
	t.id = id;
	t.req = &r;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_revdecide_txn,
	    &t) == -1) {
		if (t.outcome == RA_CORP_NOT_FOUND)
			rc = ra_problem(resp, 404, "no such revocation request");
		else if (t.outcome == RA_CORP_REASON_POLICY) {
			snprintf(detail, sizeof(detail), "the request's reason, "
			    "%s, " RA_REASON_NOT_ALLOWED ": reject the request, "
			    "or revoke the certificate for an allowed reason",
			    t.reason);
			rc = ra_problem(resp, 409, detail);
		} else if (t.outcome == RA_CORP_NOT_EMPLOYEE_CERT) {
			snprintf(detail, sizeof(detail), "the certificate is not "
			    "an employee certificate of the company (profile "
			    "%s): a company's sysadmin may ask for the "
			    "revocation of its employees' certificates only; "
			    "reject the request", t.profile);
			rc = ra_problem(resp, 409, detail);
		} else if (t.outcome == RA_CORP_REQUEST_DECIDED &&
		    strcmp(t.status, "moot") == 0)
			rc = ra_problem(resp, 409, "the request is closed: its "
			    "certificate was revoked otherwise meanwhile, or "
			    "expired (status moot; see its decision_reason)");
		else if (t.outcome != RA_CORP_DONE)
			rc = ra_corp_refuse(resp, t.outcome);
		goto out;
	}
	if (t.moot) {
		log_info("revocation request %s: its certificate %s expired; "
		    "closed as moot by officer %s", id, t.serial,
		    who.officer_id);
		if ((o = json_pack("{s:I, s:s, s:s, s:s}", "id",
		    (json_int_t)strtoll(id, NULL, 10), "status", "moot",
		    "serial", t.serial, "detail", "the certificate expired "
		    "unrevoked: nothing is left to revoke; the request is "
		    "closed as moot")) == NULL)
			goto out;
		rc = http_respond_json(resp, 200, o);
		goto out;
	}
	log_info("revocation request %s: %s by officer %s (certificate %s)", id,
	    r.revoke ? "revoked" : "rejected", who.officer_id, t.serial);
	if ((o = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)strtoll(id, NULL,
	    10), "status", r.revoke ? "done" : "rejected", "serial",
	    t.serial)) == NULL)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	json_decref(o);
	return rc;
}
