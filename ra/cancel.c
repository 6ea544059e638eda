/*
 * An application that will not be issued (ra/README.md "Cancellation"):
 *
 *	POST /v1/applications/{id}/cancel		the subscriber
 *	POST /v1/officer/applications/{id}/cancel	an officer, with a reason
 *	POST /v1/officer/applications/{id}/reorder	an officer, with a reason
 *
 * An account has one open application (submitted, approved or agreed;
 * schema/012). Without these, an application whose issuance order failed
 * (cad's lint, or its attempts used up while the HSM was away) held its
 * account's slot for ever, and a subscriber could not withdraw one.
 *
 *	submitted	the subscriber cancels; an officer rejects it instead
 *	approved	the subscriber or an officer cancels (not a company's:
 *			an approved company is active)
 *	agreed		once its order has failed, or while its pending order's
 *			issuing CA is on hold (cad claims none of its orders then;
 *			the order, locked as cad locks it, ends failed with the
 *			application: ra_cancel_held, schema/089); else a pending
 *			order is cad's, which may be signing it now. The
 *			subscriber or an officer cancels; or an officer, the
 *			cause mended, places a new
 *			order for what was agreed to (the failed order's kind,
 *			profile, subject, key type and issuing CA), which cad
 *			then issues; not while that CA is on hold (503), nor
 *			once it is revoked or ending (409: rad's notifier
 *			gives the application back to the subscriber's
 *			agreement, schema/089).
 *
 * Each change is one transaction with its audit event (ra.application.cancel,
 * ra.application.reorder; and order.cancel for an order ended with it,
 * written by ra_order_cancel_held, schema/096). An officer's cancellation mails the subscriber
 * before COMMIT, as a decision does (review.c): no mail, no change.
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

static const char *const ra_cancel_officers[] = { "ra_officer", "ra_admin",
    NULL };

/*
 * The application and its order, locked. $2 is the subscriber's account
 * ("" for an officer, who may act on any). A failed order is final
 * (schema/007 issuance_order_guard), so reading its status without a lock
 * is enough; a pending one may still change, and is refused.
 */
static const struct db_stmt stmt_cancel_lock = {
	"ra_cancel_lock",
	"SELECT a.status, a.kind, a.profile, a.account_id, acc.email, "
	"coalesce(o.status, ''), coalesce(a.order_id::text, ''), "
	"a.previous_certificate_id, coalesce(o.last_error, ''), "
	"ra_officer_in_company(nullif($3, '')::bigint, "
	"ra_application_company(a.id)) "
	"FROM ra_application a JOIN ra_account acc ON acc.id = a.account_id "
	"LEFT JOIN issuance_order o ON o.id = a.order_id "
	"WHERE a.id = $1 AND ($2 = '' OR a.account_id::text = $2) "
	"FOR UPDATE OF a",
	3
};
enum { CL_STATUS, CL_KIND, CL_PROFILE, CL_ACCOUNT, CL_EMAIL, CL_ORDER_STATUS,
    CL_ORDER, CL_PREVIOUS, CL_ORDER_ERROR, CL_OFFICER_IN_COMPANY };

static const struct db_stmt stmt_cancel_update = {
	"ra_cancel_update",
	"UPDATE ra_application SET status = 'cancelled' WHERE id = $1 AND "
	"status = $2",
	2
};
static const struct db_stmt stmt_reorder_insert = {
	"ra_reorder_insert",
	"INSERT INTO issuance_order (kind, profile, subject, key_type, "
	"requested_by, issuer_id) SELECT kind, profile, subject, key_type, $2, "
	"issuer_id FROM issuance_order WHERE id = $1 AND status = 'failed' "
	"RETURNING id",
	2
};
/*
 * The issuing CA failed order $1 names (no row: none) and why cad would
 * not issue under it now, as the agreement judges it (certificate.c
 * stmt_agree_issuer): "on hold", "revoked" (its own certificate's row,
 * as cad's claim reads it) or "ending" (its notAfter within $2 s, which
 * cad's lint refuses), else "".
 */
static const struct db_stmt stmt_reorder_issuer = {
	"ra_reorder_issuer",
	"SELECT i.id, i.name, i.subject, " RA_TS("i.not_after") ", "
	RA_ISSUER_STOPPED("$2") " "
	"FROM issuance_order o JOIN ca_certificate i ON i.id = o.issuer_id "
	RA_ISSUER_STOPPED_JOIN
	"WHERE o.id = $1",
	2
};
/*
 * schema/089, 096: the pending order of agreed application $2, if its CA is
 * held, failed with last_error $3 and audited order.cancel by the function
 * itself (actor $4, details $5 with error and application_id).
 */
static const struct db_stmt stmt_cancel_held = {
	"ra_cancel_held",
	"SELECT ra_order_cancel_held($1::bigint, $2::bigint, $3, $4, "
	"$5::jsonb)",
	5
};
/* The order's error once ra_order_cancel_held said failed: ours, or cad's. */
static const struct db_stmt stmt_cancel_held_error = {
	"ra_cancel_held_error",
	"SELECT coalesce(last_error, '') FROM issuance_order WHERE id = $1",
	1
};
static const struct db_stmt stmt_reorder_update = {
	"ra_reorder_update",
	"UPDATE ra_application SET order_id = $2 WHERE id = $1 AND "
	"status = 'agreed' AND order_id = $3",
	3
};

enum ra_cancel_outcome {
	RA_CANCEL_DONE = 0,
	RA_CANCEL_NOT_FOUND,	/* 404 */
	RA_CANCEL_OWN,		/* 403: an officer's own account */
	RA_CANCEL_COMPANY,	/* 403: the officer's account is in its company */
	RA_CANCEL_STATE,	/* 409, detail */
	RA_CANCEL_MAIL_FAILED,	/* 503 */
	RA_CANCEL_ISSUER,	/* 503, detail: the issuing CA on hold */
};

struct ra_cancel_txn {
	struct ra				*ra;
	const char				*id;
	const char				*client;
	const struct ra_subject			*subscriber;	/* or */
	const struct ra_officer_subject		*officer;
	const char				*reason;	/* officer */
	int					 reorder;
	enum ra_cancel_outcome			 outcome;
	char					 detail[256];
	char					 from[16];	/* status before */
	char					 order_id[24];	/* reorder: new */
	int					 pending;	/* its order: ra_cancel_held */
	char					 order_error[160];
};

/*
 * Whether the locked application (res) may be cancelled, or reordered; 0,
 * or -1 with t->outcome RA_CANCEL_STATE and t->detail.
 */
static int
ra_cancel_allowed(struct ra_cancel_txn *t, const PGresult *res)
{
	const char *status = PQgetvalue(res, 0, CL_STATUS);
	const char *order = PQgetvalue(res, 0, CL_ORDER_STATUS);
	int company = strcmp(PQgetvalue(res, 0, CL_PROFILE), "company") == 0;

	t->outcome = RA_CANCEL_STATE;
	if (strcmp(status, "agreed") == 0 && strcmp(order, "pending") == 0 &&
	    !t->reorder) {
		/* Only while its issuing CA is on hold: ra_cancel_held. */
		t->pending = 1;
		return 0;
	}
	if (strcmp(status, "agreed") == 0 && strcmp(order, "failed") != 0) {
		/* No order row: it changed meanwhile (a concurrent reorder). */
		if (order[0] == '\0')
			snprintf(t->detail, sizeof(t->detail), "the application "
			    "changed meanwhile; read it again");
		else
			snprintf(t->detail, sizeof(t->detail), "the certificate "
			    "of this application is being issued (order %s is "
			    "%s)", PQgetvalue(res, 0, CL_ORDER), order);
		return -1;
	}
	if (t->reorder) {
		if (strcmp(status, "agreed") == 0)
			return 0;
		snprintf(t->detail, sizeof(t->detail), "the application is %s: "
		    "only an agreed application whose order failed is "
		    "ordered again", status);
		return -1;
	}
	if (strcmp(status, "submitted") == 0 && t->officer != NULL) {
		snprintf(t->detail, sizeof(t->detail), "the application is "
		    "submitted: decide it (reject, with a reason) instead");
		return -1;
	}
	if (strcmp(status, "approved") == 0 && company) {
		snprintf(t->detail, sizeof(t->detail), "an approved company "
		    "application is the company's record and stays");
		return -1;
	}
	if (strcmp(status, "submitted") == 0 || strcmp(status, "approved") ==
	    0 || strcmp(status, "agreed") == 0)
		return 0;
	snprintf(t->detail, sizeof(t->detail), "the application is %s: "
	    "final", status);
	return -1;
}

/* The subscriber's email of an officer's cancellation, before COMMIT. */
static int
ra_cancel_mail(struct ra_cancel_txn *t, const char *to, const char *kind)
{
	char subject[128], *body = NULL;
	int rc;

	snprintf(subject, sizeof(subject), "Your certificate application %s "
	    "was cancelled", t->id);
	if (asprintf(&body, "Your application %s (%s) was cancelled by the "
	    "registration authority.\n\nReason:\n%s\n\nYou may submit a new "
	    "application.\n", t->id, kind, t->reason) == -1)
		return -1;
	rc = ra_mail_send(t->ra->mailer, to, subject, body);
	free(body);
	return rc;
}

/*
 * The pending order of the locked agreed application t->id ends failed
 * with it, in this transaction and audited (order.cancel, actor actor),
 * only while its issuing CA is on hold and no cad holds it
 * (ra_order_cancel_held, schema/089, which locks it as cad's claim does,
 * and writes the event itself since schema/096: no pki_ra session fails an
 * order without one); the order is cad's otherwise. 0, or -1 with
 * t->outcome RA_CANCEL_STATE and t->detail (RA_CANCEL_DONE on a database
 * failure).
 */
static int
ra_cancel_held(struct db *db, struct ra_cancel_txn *t, const char *order,
    const char *actor)
{
	const char *v[5];
	const char *r;
	PGresult *res = NULL;
	json_t *details = NULL;
	char *dtext = NULL;
	int rc = -1;

	snprintf(t->order_error, sizeof(t->order_error), "cancelled with its "
	    "application by %s while its issuing CA was on hold: nothing was "
	    "issued", t->officer != NULL ? "the registration authority" :
	    "the subscriber");
	t->outcome = RA_CANCEL_DONE;
	if ((details = json_pack("{s:s}", "client", t->client)) == NULL ||
	    (dtext = json_dumps(details, JSON_COMPACT)) == NULL)
		goto out;
	v[0] = order;
	v[1] = t->id;
	v[2] = t->order_error;
	v[3] = actor;
	v[4] = dtext;
	if ((res = db_exec(db, &stmt_cancel_held, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	r = PQgetvalue(res, 0, 0);
	if (strcmp(r, "failed") != 0) {
		t->outcome = RA_CANCEL_STATE;
		if (strcmp(r, "busy") == 0 || strcmp(r, "issuing") == 0)
			snprintf(t->detail, sizeof(t->detail), "the certificate "
			    "of this application is being issued (order %s is "
			    "pending)", order);
		else
			snprintf(t->detail, sizeof(t->detail), "the application "
			    "changed meanwhile; read it again");
		goto out;
	}
	/*
	 * "failed" also when cad failed it after this transaction's lock read
	 * it pending (the function finds it failed and leaves it): then the
	 * application's event names cad's error, not a cancellation under a
	 * held CA that did not happen (until 2026-12-07 it did, and cad's
	 * error was lost from it).
	 */
	PQclear(res);
	if ((res = db_exec(db, &stmt_cancel_held_error, v, NULL, NULL)) ==
	    NULL || PQntuples(res) != 1)
		goto out;
	if (strcmp(PQgetvalue(res, 0, 0), t->order_error) != 0)
		snprintf(t->order_error, sizeof(t->order_error), "%s",
		    PQgetvalue(res, 0, 0));
	rc = 0;
out:
	free(dtext);
	json_decref(details);
	PQclear(res);
	return rc;
}

/*
 * A rekey is ordered again only while the certificate it renews is valid,
 * as at its agreement (certificate.c). 0, or -1 with RA_CANCEL_STATE (or
 * RA_CANCEL_DONE on a database failure).
 */
static int
ra_reorder_previous(struct db *db, struct ra_cancel_txn *t,
    const char *certificate_id)
{
	char why[RA_REKEY_WHY_MAX];

	if (ra_rekey_previous_check(db, certificate_id, why) == -1) {
		t->outcome = RA_CANCEL_DONE;
		return -1;
	}
	if (why[0] == '\0')
		return 0;
	t->outcome = RA_CANCEL_STATE;
	snprintf(t->detail, sizeof(t->detail), "the certificate this rekey "
	    "replaces is %s: cancel the application instead", why);
	return -1;
}

/*
 * A reorder names the issuing CA the subscriber agreed to, the failed
 * order's (cad issues an order only under the issuer it names), and only
 * while cad would issue under it, as the agreement requires (certificate.c):
 * on hold, 503 (a hold may be released: the officer tries again then);
 * revoked or ending, 409: it will never issue again, and another issuer
 * needs the subscriber's own agreement, given with a factor: rad's
 * notifier returns the application to approved and mails the subscriber
 * to agree again (notifier.c ra_notifier_reopen, schema/089). The issuer
 * is added to details. 0, or -1 with t->outcome (RA_CANCEL_DONE on a
 * database failure).
 */
static int
ra_reorder_issuer(struct db *db, struct ra_cancel_txn *t,
    const char *failed_order, json_t *details)
{
	const char *v[2];
	const char *name, *stopped;
	char min[24];
	PGresult *res;
	int rc = -1;

	snprintf(min, sizeof(min), "%d", RA_ISSUER_MIN_REMAINING_S);
	v[0] = failed_order;
	v[1] = min;
	t->outcome = RA_CANCEL_DONE;
	if ((res = db_exec(db, &stmt_reorder_issuer, v, NULL, NULL)) == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		/* An order made before schema/084: any cad issues it. */
		rc = 0;
		goto out;
	}
	name = PQgetvalue(res, 0, 1);
	stopped = PQgetvalue(res, 0, 4);
	if (strcmp(stopped, "on hold") == 0) {
		t->outcome = RA_CANCEL_ISSUER;
		snprintf(t->detail, sizeof(t->detail), "the issuing CA this "
		    "application was agreed under (%s) is on hold: nothing is "
		    "issued under it now; order again once it is released",
		    name);
		goto out;
	}
	if (stopped[0] != '\0') {
		t->outcome = RA_CANCEL_STATE;
		snprintf(t->detail, sizeof(t->detail), "the issuing CA this "
		    "application was agreed under (%s) %s%s: it will issue "
		    "nothing again; rad gives the application back to the "
		    "subscriber, mailed to agree again under the current "
		    "issuing CA (or cancel it)", name,
		    strcmp(stopped, "revoked") == 0 ? "is revoked" : "ends at ",
		    strcmp(stopped, "revoked") == 0 ? "" :
		    PQgetvalue(res, 0, 3));
		goto out;
	}
	if (json_object_set_new(details, "issuer_id", json_string(
	    PQgetvalue(res, 0, 0))) == -1 || json_object_set_new(details,
	    "issuer", json_string(PQgetvalue(res, 0, 2))) == -1)
		goto out;
	rc = 0;
out:
	PQclear(res);
	return rc;
}

static int
ra_cancel_txn(struct db *db, void *arg)
{
	struct ra_cancel_txn *t = arg;
	const char *v[3], *failed_order;
	char actor[48], by[48];
	PGresult *res = NULL, *res2 = NULL;
	json_t *details = NULL;
	int rc = -1;

	t->outcome = RA_CANCEL_DONE;
	t->pending = 0;		/* each attempt judges it anew */
	v[0] = t->id;
	v[1] = t->subscriber != NULL ? t->subscriber->account_id : "";
	v[2] = t->officer != NULL ? t->officer->officer_id : "";
	if ((res = db_exec(db, &stmt_cancel_lock, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		t->outcome = RA_CANCEL_NOT_FOUND;
		goto out;
	}
	snprintf(t->from, sizeof(t->from), "%s", PQgetvalue(res, 0,
	    CL_STATUS));
	if (t->officer != NULL && t->officer->account_id[0] != '\0' &&
	    strcmp(t->officer->account_id, PQgetvalue(res, 0, CL_ACCOUNT)) ==
	    0) {
		t->outcome = RA_CANCEL_OWN;
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, CL_OFFICER_IN_COMPANY), "t") == 0) {
		t->outcome = RA_CANCEL_COMPANY;
		goto out;
	}
	if (ra_cancel_allowed(t, res) == -1)
		goto out;
	t->outcome = RA_CANCEL_DONE;
	if (t->officer != NULL)
		ra_officer_actor(t->officer, actor, sizeof(actor));
	else
		ra_actor(actor, t->subscriber->account_id);
	failed_order = PQgetvalue(res, 0, CL_ORDER);
	if (t->pending && ra_cancel_held(db, t, failed_order, actor) == -1)
		goto out;
	if ((details = json_pack("{s:s, s:s, s:s, s:s}", "client", t->client,
	    "from", t->from, "kind", PQgetvalue(res, 0, CL_KIND), "profile",
	    PQgetvalue(res, 0, CL_PROFILE))) == NULL ||
	    (failed_order[0] != '\0' && (json_object_set_new(details,
	    "failed_order_id", json_string(failed_order)) == -1 ||
	    json_object_set_new(details, "order_error", json_string(
	    t->pending ? t->order_error : PQgetvalue(res, 0,
	    CL_ORDER_ERROR))) == -1)) ||
	    (t->officer != NULL && (json_object_set_new(details, "officer",
	    json_string(t->officer->username)) == -1 ||
	    json_object_set_new(details, "reason", json_string(t->reason)) ==
	    -1)))
		goto out;
	if (t->reorder) {
		if ((!PQgetisnull(res, 0, CL_PREVIOUS) &&
		    ra_reorder_previous(db, t, PQgetvalue(res, 0,
		    CL_PREVIOUS)) == -1) || ra_reorder_issuer(db, t,
		    failed_order, details) == -1)
			goto out;
		snprintf(by, sizeof(by), "ra:officer:%s", t->officer->officer_id);
		v[0] = failed_order;
		v[1] = by;
		if ((res2 = db_exec(db, &stmt_reorder_insert, v, NULL,
		    NULL)) == NULL || PQntuples(res2) != 1)
			goto out;
		snprintf(t->order_id, sizeof(t->order_id), "%s",
		    PQgetvalue(res2, 0, 0));
		PQclear(res2);
		v[0] = t->id;
		v[1] = t->order_id;
		v[2] = failed_order;
		if ((res2 = db_exec(db, &stmt_reorder_update, v, NULL,
		    NULL)) == NULL || strcmp(PQcmdTuples(res2), "1") != 0)
			goto out;
		if (json_object_set_new(details, "order_id",
		    json_string(t->order_id)) == -1 || audit_append(db, actor,
		    "ra.application.reorder", "ra_application", t->id, details,
		    NULL) == -1)
			goto out;
		rc = 0;
		goto out;
	}
	v[0] = t->id;
	v[1] = t->from;
	if ((res2 = db_exec(db, &stmt_cancel_update, v, NULL, NULL)) == NULL ||
	    strcmp(PQcmdTuples(res2), "1") != 0 ||
	    audit_append(db, actor, "ra.application.cancel", "ra_application",
	    t->id, details, NULL) == -1)
		goto out;
	if (t->officer != NULL && ra_cancel_mail(t, PQgetvalue(res, 0,
	    CL_EMAIL), PQgetvalue(res, 0, CL_KIND)) == -1) {
		t->outcome = RA_CANCEL_MAIL_FAILED;
		goto out;
	}
	rc = 0;
out:
	json_decref(details);
	PQclear(res2);
	PQclear(res);
	return rc;
}

/* Runs t and answers; the caller has authenticated and parsed. */
static int
ra_cancel_run(struct ra *ra, struct ra_cancel_txn *t,
    struct http_response *resp)
{
	json_t *o;
	int rc;

	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_cancel_txn,
	    t) == -1) {
		switch (t->outcome) {
		case RA_CANCEL_NOT_FOUND:
			return ra_problem(resp, 404, "no such application");
		case RA_CANCEL_OWN:
			return ra_problem(resp, 403, "this application is of "
			    "your own subscriber account; another officer must "
			    "act on it");
		case RA_CANCEL_COMPANY:
			return ra_problem(resp, 403, RA_OFFICER_COMPANY_DETAIL);
		case RA_CANCEL_STATE:
			return ra_problem(resp, 409, t->detail);
		case RA_CANCEL_ISSUER:
			return ra_unavailable(resp, RA_ISSUER_RETRY_AFTER_S,
			    t->detail);
		case RA_CANCEL_MAIL_FAILED:
			http_add_header(resp, "Retry-After", "60");
			return ra_problem(resp, 503, "the applicant could not be "
			    "emailed; nothing was stored");
		default:
			return -1;
		}
	}
	if (t->reorder) {
		log_info("application %s: ordered again by officer %s (%s); "
		    "issuance order %s", t->id, t->officer->officer_id,
		    t->officer->username, t->order_id);
		o = json_pack("{s:I, s:s, s:I}", "id", (json_int_t)strtoll(t->id,
		    NULL, 10), "status", "agreed", "order_id",
		    (json_int_t)strtoll(t->order_id, NULL, 10));
	} else {
		log_info("application %s: cancelled (was %s) by %s %s", t->id,
		    t->from, t->officer != NULL ? "officer" : "account",
		    t->officer != NULL ? t->officer->officer_id :
		    t->subscriber->account_id);
		o = json_pack("{s:I, s:s}", "id", (json_int_t)strtoll(t->id,
		    NULL, 10), "status", "cancelled");
	}
	if (o == NULL)
		return -1;
	rc = http_respond_json(resp, t->reorder ? 202 : 200, o);
	json_decref(o);
	return rc;
}

int
ra_application_cancel(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	struct ra_cancel_txn t;
	char id[24];
	int k;

	if ((k = ra_session_account(ra, req, resp, &who)) != 1)
		return k;
	if (ra_path_id(req->path, "/v1/applications/", "/cancel", id) == -1)
		return ra_problem(resp, 404, "no such application");
	if (req->body_len > 0)
		return ra_problem(resp, 400, "this request takes no body");
	memset(&t, 0, sizeof(t));
	t.ra = ra;
	t.id = id;
	t.client = req->remote_addr;
	t.subscriber = &who;
	return ra_cancel_run(ra, &t, resp);
}

/* The officer's two requests: cancel (reorder 0) and reorder (1). */
static int
ra_officer_end(struct ra *ra, const struct http_request *req,
    struct http_response *resp, int reorder)
{
	struct ra_officer_subject who;
	struct ra_cancel_txn t;
	char id[24], reason[RA_REVIEW_REASON_MAX + 1], detail[192];
	int k;

	if ((k = ra_officer_post(ra, req, resp, ra_cancel_officers, &who,
	    "/v1/officer/applications/", reorder ? "/reorder" : "/cancel", id,
	    "no such application")) != 1)
		return k;
	if (ra_parse_reason(req->body, req->body_len, reason, detail,
	    sizeof(detail)) == -1)
		return ra_problem(resp, 400, detail);
	memset(&t, 0, sizeof(t));
	t.ra = ra;
	t.id = id;
	t.client = req->remote_addr;
	t.officer = &who;
	t.reason = reason;
	t.reorder = reorder;
	return ra_cancel_run(ra, &t, resp);
}

int
ra_officer_cancel(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	return ra_officer_end(ra, req, resp, 0);
}

int
ra_officer_reorder(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	return ra_officer_end(ra, req, resp, 1);
}
