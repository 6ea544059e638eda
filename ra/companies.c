/*
 * The officers' companies (ra/README.md "Corporate", schema/018, 031):
 *
 *	GET  /v1/officer/companies?status=&q=&page=&per_page=
 *	    every officer role: the companies, newest first, with their status
 *	    (pending, active, rejected, cancelled, deactivated), searched by
 *	    name, NIB or sysadmin email
 *	POST /v1/officer/companies/{id}/deactivate
 *	    {"reason":"...","revoke_certificates":false}
 *
 * An officer deactivates an approved company whose contract ended, that
 * closed, or whose registration proved false. In one transaction, with
 * their audit events:
 *  - the company's row gets deactivated_at/by/reason (final: its guard);
 *  - the open applications made for it (employees', e-seals', their
 *    rekeys: submitted, approved, or agreed with a failed order) are
 *    cancelled; an agreed one whose order is pending or done (cad may be
 *    signing it, or the notifier has yet to mark it issued) makes the
 *    request 409, to be tried again in a moment;
 *  - with revoke_certificates, every valid (or held) certificate made for
 *    it is revoked as cessationOfOperation (refused, 400, when policy
 *    review.revocation_reasons excludes it), and the sysadmin's pending
 *    revocation requests of those certificates are closed as done;
 *  - the representative, the sysadmin, each cancelled application's
 *    applicant and each revoked certificate's subscriber are told by mail,
 *    queued in the same transaction (ra_mail_queue): one bouncing address
 *    does not stop a deactivation.
 * From then on the company is "deactivated": rad refuses whatever would
 * act in its name (corporate.c, kyc.c, certificate.c, review.c).
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


static const char *const ra_deactivate_officers[] = { "ra_officer",
    "ra_admin", NULL };
static const char *const ra_company_readers[] = { "ra_officer", "ra_admin",
    "auditor", NULL };

/* --- GET /v1/officer/companies ---------------------------------------------------- */

#define RA_COMPANIES_FROM \
	"FROM ra_company c JOIN ra_application a ON a.id = c.application_id " \
	"JOIN ra_account r ON r.id = c.representative_id " \
	"WHERE ($1::text = '' OR " RA_COMPANY_STATUS " = $1::text) AND " \
	"($2::text = '' OR strpos(lower(c.name), lower($2::text)) > 0 OR " \
	"c.nib = $2::text OR c.sysadmin_email = lower($2::text)) "
static const struct db_stmt stmt_companies = {
	"ra_companies_list",
	"SELECT c.id, c.name, c.nib, " RA_COMPANY_STATUS ", c.application_id, "
	"r.email, c.sysadmin_email, (SELECT count(*) FROM ra_company_member m "
	"WHERE m.company_id = c.id AND m.removed_at IS NULL), " RA_TS("c.created_at") ", "
	RA_TS("c.deactivated_at") " " RA_COMPANIES_FROM
	"ORDER BY c.id DESC LIMIT $3::int OFFSET $4::int",
	4
};
static const struct db_stmt stmt_companies_count = {
	"ra_companies_count",
	"SELECT count(*) " RA_COMPANIES_FROM,
	2
};

int
ra_officer_company_list(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_officer_subject who;
	struct ra_list_query lq;
	char lim[16], off[24];
	const char *v[4];
	PGresult *res = NULL, *cnt = NULL;
	json_t *a = NULL, *item;
	int rc = -1, i, k;

	if ((k = ra_officer_session(ra, req, resp, ra_company_readers,
	    &who)) != 1)
		return k == 0 ? 0 : -1;
	if ((k = ra_list_begin(req, resp, RA_LIST_COMPANIES, &lq, lim,
	    off)) != 1)
		return k;
	v[0] = lq.status;
	v[1] = lq.q;
	v[2] = lim;
	v[3] = off;
	if ((cnt = db_exec(ra->db, &stmt_companies_count, v, NULL, NULL)) ==
	    NULL || PQntuples(cnt) != 1 ||
	    (res = db_exec(ra->db, &stmt_companies, v, NULL, NULL)) == NULL ||
	    (a = json_array()) == NULL)
		goto out;
	for (i = 0; i < PQntuples(res); i++)
		if ((item = json_pack("{s:I, s:s, s:s, s:s, s:I, s:s, s:s, s:I, "
		    "s:s, s:o}", "id", (json_int_t)strtoll(PQgetvalue(res, i, 0),
		    NULL, 10), "name", PQgetvalue(res, i, 1), "nib",
		    PQgetvalue(res, i, 2), "status", PQgetvalue(res, i, 3),
		    "application_id", (json_int_t)strtoll(PQgetvalue(res, i, 4),
		    NULL, 10), "representative_email", PQgetvalue(res, i, 5),
		    "sysadmin_email", PQgetvalue(res, i, 6), "employees",
		    (json_int_t)strtoll(PQgetvalue(res, i, 7), NULL, 10),
		    "created_at", PQgetvalue(res, i, 8), "deactivated_at",
		    PQgetisnull(res, i, 9) ? json_null() :
		    json_string(PQgetvalue(res, i, 9)))) == NULL ||
		    json_array_append_new(a, item) == -1)
			goto out;
	rc = ra_list_respond(resp, "companies", a, PQgetvalue(cnt, 0, 0),
	    &lq);
out:
	json_decref(a);
	PQclear(res);
	PQclear(cnt);
	return rc;
}

/* --- POST /v1/officer/companies/{id}/deactivate ---------------------------------- */

/* The company, locked; its representative's and sysadmin's emails. */
static const struct db_stmt stmt_deact_company = {
	"ra_deactivate_company_lock",
	"SELECT c.name, " RA_COMPANY_STATUS ", "
	"ra_officer_in_company($2::bigint, c.id), r.email, "
	"(SELECT y.email FROM ra_account y WHERE y.id = " RA_COMPANY_SYSADMIN_ID
	" AND y.id <> r.id) FROM ra_company c "
	"JOIN ra_application a ON a.id = c.application_id "
	"JOIN ra_account r ON r.id = c.representative_id "
	"WHERE c.id = $1 FOR UPDATE OF c",
	2
};
enum { DC_NAME, DC_STATUS, DC_IN_COMPANY, DC_REP_EMAIL, DC_SYS_EMAIL };

/* Its open applications, locked, with their order's status. */
static const struct db_stmt stmt_deact_open = {
	"ra_deactivate_open_applications",
	"SELECT ap.id, ap.status, coalesce(o.status, ''), acc.email, "
	"ap.kind, ap.profile FROM ra_company_application ca "
	"JOIN ra_application ap ON ap.id = ca.application_id "
	"JOIN ra_account acc ON acc.id = ap.account_id "
	"LEFT JOIN issuance_order o ON o.id = ap.order_id "
	"WHERE ca.company_id = $1 AND ap.status IN ('submitted', 'approved', "
	"'agreed') ORDER BY ap.id FOR UPDATE OF ap",
	1
};
enum { DO_ID, DO_STATUS, DO_ORDER_STATUS, DO_EMAIL, DO_KIND, DO_PROFILE };

static const struct db_stmt stmt_deact_cancel = {
	"ra_deactivate_cancel",
	"UPDATE ra_application SET status = 'cancelled' WHERE id = $1 AND "
	"status = $2",
	2
};
static const struct db_stmt stmt_deact_update = {
	"ra_deactivate_company",
	"UPDATE ra_company SET deactivated_at = now(), deactivated_by = $2, "
	"deactivation_reason = $3 WHERE id = $1 AND deactivated_at IS NULL",
	3
};
/* The company $1's certificates valid or on hold (c), which it revokes. */
#define RA_DEACT_CERTS \
	"ra_company_application ca " \
	"JOIN ra_application ap ON ap.id = ca.application_id " \
	"JOIN issuance_order o ON o.id = ap.order_id " \
	"JOIN certificate c ON c.id = o.certificate_id " \
	"WHERE ca.company_id = $1 AND " \
	"(c.revoked_at IS NULL OR c.revocation_reason = 6) AND " \
	"c.not_after > now()"
/*
 * Locked before the requests naming them are closed: a revocation's order
 * (certificate, then the request schema/079's trigger closes), so that a
 * subscriber's revocation meanwhile cannot deadlock with this.
 */
static const struct db_stmt stmt_deact_lock_certs = {
	"ra_deactivate_lock_certificates",
	"SELECT c.id FROM " RA_DEACT_CERTS " ORDER BY c.id FOR UPDATE OF c",
	1
};
/* cessationOfOperation (RFC 5280 §5.3.1: 5); a hold becomes it too. */
static const struct db_stmt stmt_deact_revoke = {
	"ra_deactivate_revoke",
	"UPDATE certificate SET revoked_at = now(), revocation_reason = 5, "
	"revoked_by = $2 WHERE id IN (SELECT c.id FROM " RA_DEACT_CERTS ") "
	"RETURNING id, serial, " RA_TS("invalidity_date"),
	2
};
/*
 * The pending requests for those certificates, closed as done before they
 * are revoked (the revocation would close them as moot, schema/079: it is
 * the officer's deactivation that carries them out). A request whose
 * certificate was revoked otherwise is no longer pending (079).
 */
static const struct db_stmt stmt_deact_revreqs = {
	"ra_deactivate_revocation_requests",
	"UPDATE ra_revocation_request r SET status = 'done', decided_by = $2, "
	"decided_at = now(), decision_reason = $3 WHERE r.company_id = $1 AND "
	"r.status = 'pending' AND r.certificate_id IN (SELECT c.id FROM "
	RA_DEACT_CERTS ") RETURNING r.id, r.certificate_id",
	3
};

enum ra_deact_outcome {
	RA_DEACT_DONE = 0,
	RA_DEACT_NOT_FOUND,	/* 404 */
	RA_DEACT_IN_COMPANY,	/* 403 */
	RA_DEACT_STATE,		/* 409, detail */
};

struct ra_deact_txn {
	struct ra				*ra;
	const struct ra_officer_subject		*who;
	const struct ra_deactivation_req	*req;
	const char				*id;
	const char				*client;
	enum ra_deact_outcome			 outcome;
	char					 detail[200];
	char					 name[RA_COMPANY_NAME_MAX + 1];
	int					 cancelled;
	int					 revoked;
};

/* Queues the mail that tells one of the company's people; 0 or -1. */
static int
ra_deact_mail(struct db *db, struct ra_deact_txn *t, const char *to,
    const char *what)
{
	char subject[96], *body = NULL;
	int rc;

	/* The name may be UTF-8: in the body only (mail.c headers are ASCII). */
	snprintf(subject, sizeof(subject), "Company %s was deactivated by the "
	    "registration authority", t->id);
	if (asprintf(&body, "The registration authority deactivated the "
	    "company %s.\n\n%s\n\nReason:\n%s\n", t->name, what,
	    t->req->reason) == -1)
		return -1;
	rc = ra_mail_queue(db, to, subject, body);
	free(body);
	return rc;
}

/* Cancels the open applications (res, locked); 0 or -1. */
static int
ra_deact_cancel(struct db *db, struct ra_deact_txn *t, const PGresult *res,
    const char *actor)
{
	const char *v[2];
	int i;

	for (i = 0; i < PQntuples(res); i++) {
		v[0] = PQgetvalue(res, i, DO_ID);
		v[1] = PQgetvalue(res, i, DO_STATUS);
		if (db_exec_ok(db, &stmt_deact_cancel, v) == -1)
			return -1;
		if (audit_append_new(db, actor, "ra.application.cancel",
		    "ra_application", v[0], json_pack("{s:s, s:s, s:s, s:s, "
		    "s:s, s:s, s:s}", "client", t->client, "officer",
		    t->who->username, "from", v[1], "kind", PQgetvalue(res, i,
		    DO_KIND), "profile", PQgetvalue(res, i, DO_PROFILE),
		    "reason", t->req->reason, "company_id", t->id)) == -1)
			return -1;
	}
	t->cancelled = PQntuples(res);
	return 0;
}

/* Closes the pending requests for its certificates, then revokes them; 0 or -1. */
static int
ra_deact_revoke(struct db *db, struct ra_deact_txn *t, const char *actor)
{
	const char *v[3];
	PGresult *res;
	int i, failed = 0;

	v[0] = t->id;
	if ((res = db_exec(db, &stmt_deact_lock_certs, v, NULL, NULL)) == NULL)
		return -1;
	PQclear(res);
	v[1] = t->who->officer_id;
	v[2] = "the company was deactivated; the certificate is revoked";
	if ((res = db_exec(db, &stmt_deact_revreqs, v, NULL, NULL)) == NULL)
		return -1;
	for (i = 0; i < PQntuples(res) && !failed; i++)
		failed = audit_append_new(db, actor,
		    "ra.revocation_request.decide", "ra_revocation_request",
		    PQgetvalue(res, i, 0), json_pack("{s:s, s:s, s:s, s:s}",
		    "client", t->client, "decision", "revoke", "certificate_id",
		    PQgetvalue(res, i, 1), "company_deactivated", t->id)) == -1;
	PQclear(res);
	if (failed)
		return -1;
	v[1] = actor;
	if ((res = db_exec(db, &stmt_deact_revoke, v, NULL, NULL)) == NULL)
		return -1;
	/*
	 * The same event as an officer's revocation (review.c), with the
	 * invalidity date stored: a hold's time (schema/116).
	 */
	for (i = 0; i < PQntuples(res) && !failed; i++)
		failed = audit_append_new(db, actor, "cert.revoke", "certificate",
		    PQgetvalue(res, i, 0), json_pack("{s:s, s:s, s:s, s:s, s:i, "
		    "s:s, s:s, s:s?}", "client", t->client, "officer",
		    t->who->username, "serial", PQgetvalue(res, i, 1), "reason",
		    "cessationOfOperation", "reason_code", 5, "comment",
		    t->req->reason, "company_id", t->id, "invalidity_date",
		    PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2))) == -1;
	for (i = 0; i < PQntuples(res) && !failed; i++)
		failed = ra_revocation_notice(db, PQgetvalue(res, i, 0),
		    "cessationOfOperation", "the registration authority, as "
		    "your company was deactivated") == -1;
	t->revoked = PQntuples(res);
	PQclear(res);
	return failed ? -1 : 0;
}

static int
ra_deact_txn(struct db *db, void *arg)
{
	struct ra_deact_txn *t = arg;
	const char *v[3];
	char actor[RA_ACTOR_MAX], what[200];
	PGresult *co = NULL, *open = NULL;
	int i, rc = -1;

	t->outcome = RA_DEACT_DONE;
	t->cancelled = t->revoked = 0;
	ra_officer_actor(t->who, actor, sizeof(actor));
	v[0] = t->id;
	v[1] = t->who->officer_id;
	if ((co = db_exec(db, &stmt_deact_company, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(co) != 1) {
		t->outcome = RA_DEACT_NOT_FOUND;
		goto out;
	}
	snprintf(t->name, sizeof(t->name), "%s", PQgetvalue(co, 0, DC_NAME));
	if (strcmp(PQgetvalue(co, 0, DC_IN_COMPANY), "t") == 0) {
		t->outcome = RA_DEACT_IN_COMPANY;
		goto out;
	}
	if (strcmp(PQgetvalue(co, 0, DC_STATUS), "active") != 0) {
		t->outcome = RA_DEACT_STATE;
		snprintf(t->detail, sizeof(t->detail), "the company is %s: only "
		    "an active company is deactivated",
		    PQgetvalue(co, 0, DC_STATUS));
		goto out;
	}
	if ((open = db_exec(db, &stmt_deact_open, v, NULL, NULL)) == NULL)
		goto out;
	/*
	 * An agreed application is cancelled only once its order failed (as in
	 * cancel.c). Pending, cad may be signing it; done, the notifier has yet
	 * to mark it issued; none, it was agreed to while this waited for the
	 * row (the join was read before the wait).
	 */
	for (i = 0; i < PQntuples(open); i++)
		if (strcmp(PQgetvalue(open, i, DO_STATUS), "agreed") == 0 &&
		    strcmp(PQgetvalue(open, i, DO_ORDER_STATUS), "failed") != 0) {
			t->outcome = RA_DEACT_STATE;
			snprintf(t->detail, sizeof(t->detail), "application %s "
			    "is being issued; try again in a moment",
			    PQgetvalue(open, i, DO_ID));
			goto out;
		}
	v[1] = t->who->officer_id;
	v[2] = t->req->reason;
	if (db_exec_ok(db, &stmt_deact_update, v) == -1 ||
	    ra_deact_cancel(db, t, open, actor) == -1 ||
	    (t->req->revoke_certificates && ra_deact_revoke(db, t,
	    actor) == -1))
		goto out;
	if (audit_append_new(db, actor, "ra.company.deactivate", "ra_company",
	    t->id, json_pack("{s:s, s:s, s:s, s:b, s:i, s:i}", "client",
	    t->client, "officer", t->who->username, "reason", t->req->reason,
	    "revoke_certificates", t->req->revoke_certificates,
	    "cancelled_applications", t->cancelled, "revoked_certificates",
	    t->revoked)) == -1)
		goto out;
	snprintf(what, sizeof(what), "%d open application(s) made for it were "
	    "cancelled; %d of its certificates were revoked.", t->cancelled,
	    t->revoked);
	if (ra_deact_mail(db, t, PQgetvalue(co, 0, DC_REP_EMAIL), what) == -1 ||
	    (!PQgetisnull(co, 0, DC_SYS_EMAIL) && ra_deact_mail(db, t,
	    PQgetvalue(co, 0, DC_SYS_EMAIL), what) == -1))
		goto out;
	for (i = 0; i < PQntuples(open); i++) {
		snprintf(what, sizeof(what), "Your application %s made for it "
		    "was cancelled.", PQgetvalue(open, i, DO_ID));
		if (ra_deact_mail(db, t, PQgetvalue(open, i, DO_EMAIL), what) ==
		    -1)
			goto out;
	}
	rc = 0;
out:
	PQclear(open);
	PQclear(co);
	return rc;
}

int
ra_officer_company_deactivate(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_officer_subject who;
	struct ra_deactivation_req r;
	struct ra_deact_txn t;
	char id[24], detail[192];
	json_t *o = NULL;
	int rc = -1, k;

	if ((k = ra_officer_post(ra, req, resp, ra_deactivate_officers, &who,
	    "/v1/officer/companies/", "/deactivate", id,
	    "no such company")) != 1)
		return k;
	if (ra_parse_deactivation(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1)
		return ra_problem(resp, 400, detail);
	/* Its revocations are the officers': their reasons' rule (review.c). */
	if (r.revoke_certificates && !ra_policy_reason_allowed(ra->policy,
	    "cessationOfOperation"))
		return ra_problem(resp, 400, "revoke_certificates: "
		    "cessationOfOperation " RA_REASON_NOT_ALLOWED "; deactivate "
		    "without it and revoke the certificates for an allowed "
		    "reason");
	memset(&t, 0, sizeof(t));
	t.ra = ra;
	t.who = &who;
	t.req = &r;
	t.id = id;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_deact_txn,
	    &t) == -1) {
		switch (t.outcome) {
		case RA_DEACT_NOT_FOUND:
			return ra_problem(resp, 404, "no such company");
		case RA_DEACT_IN_COMPANY:
			return ra_problem(resp, 403, RA_OFFICER_COMPANY_DETAIL);
		case RA_DEACT_STATE:
			return ra_problem(resp, 409, t.detail);
		default:
			return -1;
		}
	}
	log_info("company %s deactivated by officer %s (%s): %d application(s) "
	    "cancelled, %d certificate(s) revoked", id, who.officer_id,
	    who.username, t.cancelled, t.revoked);
	if ((o = json_pack("{s:I, s:s, s:i, s:i}", "id",
	    (json_int_t)strtoll(id, NULL, 10), "status", "deactivated",
	    "cancelled_applications", t.cancelled, "revoked_certificates",
	    t.revoked)) == NULL)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	json_decref(o);
	return rc;
}
