/*
 * rad's routing: one table of (method, path pattern, handler). A pattern
 * segment "{id}" matches a positive decimal id (the handler reads it back
 * with ra_path_id). A known path with another method answers 405 with
 * Allow; anything else 404. Each module adds its own rows here.
 *
 * Bodies: every route allows RA_MAX_BODY (16 KiB) unless ra_large_bodies
 * names it with its own limit. The server (main.c) accepts the largest of
 * them all, so each route's own is enforced by ra_admit on the headers,
 * before a byte of body is stored: a Content-Length above it gets 413, a
 * chunked body 411 where the route's limit is below the server's, and a
 * large-body route a valid session first (401). Unknown paths and methods
 * are held to RA_MAX_BODY. A body larger than its route allows is
 * answered 413 here too, before the handler runs.
 *
 * Caching: every answer under a path of ra_no_store (the whole /v1/ API)
 * gets Cache-Control: no-store here, after the handler ran,
 * whatever its status, unless the handler set a Cache-Control itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "lib/db.h"
#include "lib/http.h"
#include "lib/log.h"
#include "ra/extern.h"

struct ra_route {
	const char	*method;
	const char	*pattern;
	int		(*fn)(struct ra *, const struct http_request *,
			    struct http_response *);
};

/*
 * The mail outbox's backlog (schema/033): what is still to be sent, what of
 * it has failed at least once, since when the oldest waits, and what was
 * given up after RA_OUTBOX_ATTEMPTS failed sends (never sent: each audited
 * ra.mail.given_up); for monitoring a mail server that stopped answering.
 * A mail given up (next_attempt_at infinity, notifier.c: after its last
 * attempt, or a reset mail whose token died) is no longer to be sent: until
 * 2026-12-07 it stayed in unsent and oldest_unsent for ever, and a monitor
 * of the backlog's age alarmed from the first give-up on.
 */
static const struct db_stmt stmt_health_outbox = {
	"ra_health_outbox",
	"SELECT count(*) FILTER (WHERE next_attempt_at <> 'infinity'), "
	"count(*) FILTER (WHERE next_attempt_at <> 'infinity' AND attempts > "
	"0), " RA_TS("min(created_at) FILTER (WHERE next_attempt_at <> "
	"'infinity')") ", count(*) FILTER (WHERE attempts >= "
	RA_OUTBOX_ATTEMPTS ") FROM ra_mail_outbox WHERE sent_at IS NULL",
	0
};

/*
 * 200 {"status":"ok", "mail_outbox":{...}}; 503 degraded (Retry-After:
 * DB_RETRY_AFTER_S, as lib/http's 503 of any other request) while the
 * database does not answer; any other failure is ours: 500.
 */
static int
ra_health(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	PGresult *res;
	json_t *o;
	char retry[16];
	int rc;

	(void)req;
	if ((res = db_exec(ra->db, &stmt_health_outbox, NULL, NULL, NULL)) ==
	    NULL || PQntuples(res) != 1) {
		PQclear(res);
		if (!db_unavailable())
			return -1;
		o = json_pack("{s:s, s:b}", "status", "degraded", "database", 0);
		snprintf(retry, sizeof(retry), "%d", DB_RETRY_AFTER_S);
		rc = o == NULL || http_add_header(resp, "Retry-After", retry) ==
		    -1 ? -1 : http_respond_json(resp, 503, o);
		json_decref(o);
		return rc;
	}
	o = json_pack("{s:s, s:b, s:{s:I, s:I, s:o, s:I}}", "status", "ok",
	    "database", 1, "mail_outbox", "unsent", (json_int_t)strtoll(
	    PQgetvalue(res, 0, 0), NULL, 10), "failing", (json_int_t)strtoll(
	    PQgetvalue(res, 0, 1), NULL, 10), "oldest_unsent",
	    PQgetisnull(res, 0, 2) ? json_null() :
	    json_string(PQgetvalue(res, 0, 2)), "given_up", (json_int_t)strtoll(
	    PQgetvalue(res, 0, 3), NULL, 10));
	PQclear(res);
	rc = o == NULL ? -1 : http_respond_json(resp, 200, o);
	json_decref(o);
	return rc;
}

static const struct ra_route ra_routes[] = {
	/* account.c */
	{ "POST", "/v1/register", ra_register },
	{ "POST", "/v1/verify-email", ra_verify_email },
	{ "POST", "/v1/verify-email/resend", ra_verify_email_resend },
	{ "GET", "/verify-email", ra_verify_email_page },
	{ "POST", "/verify-email", ra_verify_email_form },
	{ "POST", "/v1/login", ra_login },
	{ "POST", "/v1/logout", ra_logout },
	{ "GET", "/v1/me", ra_me },
	/* officer.c */
	{ "POST", "/v1/officer/login", ra_officer_login },
	{ "POST", "/v1/officer/logout", ra_officer_logout },
	{ "GET", "/v1/officer/me", ra_officer_me },
	{ "GET", "/health", ra_health },
	/* console.c */
	{ "GET", "/console", ra_console_get },
	{ "GET", "/console/", ra_console_get },
	{ "GET", "/console/console.js", ra_console_get },
	{ "GET", "/console/console.css", ra_console_get },
	/* factor.c */
	{ "POST", "/v1/otp", ra_otp_send },
	{ "POST", "/v1/phone/verify", ra_phone_verify },
	{ "POST", "/v1/pin", ra_pin_set },
	/* kyc.c */
	{ "POST", "/v1/applications", ra_application_submit },
	{ "GET", "/v1/applications", ra_application_list },
	{ "GET", "/v1/applications/{id}", ra_application_get },
	/* review.c */
	{ "GET", "/v1/officer/applications", ra_review_list },
	{ "GET", "/v1/officer/applications/{id}", ra_review_get },
	{ "GET", "/v1/officer/applications/{id}/evidence/ktp_photo",
	    ra_review_evidence },
	{ "GET", "/v1/officer/applications/{id}/evidence/selfie",
	    ra_review_evidence },
	{ "POST", "/v1/officer/applications/{id}/decision", ra_review_decide },
	/* cancel.c */
	{ "POST", "/v1/applications/{id}/cancel", ra_application_cancel },
	{ "POST", "/v1/officer/applications/{id}/cancel", ra_officer_cancel },
	{ "POST", "/v1/officer/applications/{id}/reorder", ra_officer_reorder },
	{ "GET", "/v1/officer/certificates", ra_review_cert_list },
	{ "POST", "/v1/officer/certificates/{id}/revoke", ra_review_revoke },
	{ "POST", "/v1/officer/certificates/{id}/hold", ra_review_hold },
	{ "POST", "/v1/officer/certificates/{id}/release", ra_review_release },
	/* certificate.c */
	{ "GET", "/v1/applications/{id}/agreement", ra_agreement_get },
	{ "POST", "/v1/applications/{id}/agreement", ra_agreement_post },
	{ "GET", "/v1/certificates", ra_certificate_list },
	{ "GET", "/v1/certificates/{id}", ra_certificate_get },
	{ "POST", "/v1/certificates/{id}/revoke", ra_certificate_revoke },
	{ "POST", "/v1/certificates/{id}/rekey", ra_certificate_rekey },
	/* signgrant.c: a subscriber's grants of the signing services */
	{ "GET", "/v1/sign-services", ra_sign_service_list },
	{ "POST", "/v1/sign-services/{id}/grant", ra_sign_grant },
	{ "POST", "/v1/sign-services/{id}/revoke", ra_sign_grant_revoke },
	/* totp.c, change.c (issue 3) */
	{ "POST", "/v1/totp", ra_totp_enrol },
	{ "POST", "/v1/totp/confirm", ra_totp_confirm },
	{ "POST", "/v1/password", ra_password_change },
	{ "POST", "/v1/email", ra_email_change },
	{ "POST", "/v1/phone", ra_phone_change },
	/* reset.c (issue 3) */
	{ "POST", "/v1/password/forgot", ra_password_forgot },
	{ "POST", "/v1/password/reset/otp", ra_password_reset_otp },
	{ "POST", "/v1/password/reset", ra_password_reset },
	/* corporate.c */
	{ "POST", "/v1/corporate", ra_corporate_submit },
	{ "GET", "/v1/corporate/{id}", ra_corporate_get },
	{ "POST", "/v1/corporate/{id}/employees", ra_corporate_invite },
	{ "POST", "/v1/corporate/{id}/employees/{id}/remove",
	    ra_corporate_remove },
	{ "POST", "/v1/corporate/enrolments/accept", ra_corporate_accept },
	{ "POST", "/v1/corporate/sysadmin/claim", ra_corporate_sysadmin_claim },
	{ "POST", "/v1/corporate/{id}/sysadmin/claim-token",
	    ra_corporate_claim_token },
	{ "POST", "/v1/corporate/{id}/revocation-requests", ra_corporate_revreq },
	{ "POST", "/v1/corporate/{id}/eseals", ra_corporate_eseal },
	{ "GET", "/v1/officer/revocation-requests", ra_officer_revreq_list },
	{ "POST", "/v1/officer/revocation-requests/{id}",
	    ra_officer_revreq_decide },
	/* companies.c */
	{ "GET", "/v1/officer/companies", ra_officer_company_list },
	{ "POST", "/v1/officer/companies/{id}/deactivate",
	    ra_officer_company_deactivate },
};

/* The routes whose bodies may exceed RA_MAX_BODY, and their limit. */
static const struct {
	const char	*method;
	const char	*pattern;
	size_t		(*max)(const struct ra_policy *);
} ra_large_bodies[] = {
	{ "POST", "/v1/applications", ra_kyc_route_max },	/* kyc.c */
};

static size_t
ra_route_max_body(const struct ra *ra, const struct ra_route *r)
{
	size_t i;

	for (i = 0; i < sizeof(ra_large_bodies) / sizeof(ra_large_bodies[0]);
	    i++)
		if (strcmp(ra_large_bodies[i].method, r->method) == 0 &&
		    strcmp(ra_large_bodies[i].pattern, r->pattern) == 0)
			return ra_large_bodies[i].max(ra->policy);
	return RA_MAX_BODY;
}

size_t
ra_max_body(const struct ra_policy *p)
{
	size_t i, n, max = RA_MAX_BODY;

	for (i = 0; i < sizeof(ra_large_bodies) / sizeof(ra_large_bodies[0]);
	    i++)
		if ((n = ra_large_bodies[i].max(p)) > max)
			max = n;
	return max;
}

/*
 * Paths whose answers no cache may keep (RFC 9111 §5.2.2.5): the officer
 * API shows the full NIK, addresses, phone numbers and the e-KTP images,
 * and both log-ins return a session token. An entry ending in '/' is a
 * prefix; any other must equal the path.
 */
/*
 * The whole API: every answer is someone's (a session, personal or KYC
 * data, an officer's view); a handler that means a public answer to be
 * cached sets its own Cache-Control.
 */
static const char *const ra_no_store[] = {
	"/v1/",
};

/* 1 when path is one of ra_no_store's. */
static int
ra_route_no_store(const char *path)
{
	size_t i, n;

	for (i = 0; i < sizeof(ra_no_store) / sizeof(ra_no_store[0]); i++) {
		n = strlen(ra_no_store[i]);
		if (ra_no_store[i][n - 1] == '/' ?
		    strncmp(path, ra_no_store[i], n) == 0 :
		    strcmp(path, ra_no_store[i]) == 0)
			return 1;
	}
	return 0;
}

/*
 * Adds Cache-Control: no-store and X-Content-Type-Options: nosniff to resp
 * unless it has them already. 0, or -1 when its headers are full.
 */
static int
ra_route_set_no_store(struct http_response *resp)
{
	int i, cache = 0, sniff = 0;

	for (i = 0; i < resp->nheaders && i < HTTP_MAX_HEADERS; i++) {
		if (strcasecmp(resp->header_name[i], "Cache-Control") == 0)
			cache = 1;
		if (strcasecmp(resp->header_name[i],
		    "X-Content-Type-Options") == 0)
			sniff = 1;
	}
	/* Never read as other than its type (a script, say, from markup). */
	if (!sniff && http_add_header(resp, "X-Content-Type-Options",
	    "nosniff") == -1)
		return -1;
	return cache ? 0 : http_add_header(resp, "Cache-Control", "no-store");
}

/* 1 when path matches pattern segment by segment, "{id}" as an id. */
static int
ra_route_match(const char *pattern, const char *path)
{
	size_t n;

	while (*pattern != '\0' && *path != '\0') {
		if (strncmp(pattern, "{id}", 4) == 0) {
			if (*path < '1' || *path > '9')
				return 0;
			for (n = 0; path[n] >= '0' && path[n] <= '9'; n++)
				;
			if (n > 18)
				return 0;
			pattern += 4;
			path += n;
			continue;
		}
		if (*pattern++ != *path++)
			return 0;
	}
	return *pattern == '\0' && *path == '\0';
}

/*
 * GET resources that HEAD may ask too (RFC 9110 §9.3.2): those whose GET
 * changes nothing and records nothing — the health check, the console's
 * files and the email link's page. Not the API's (an evidence view is
 * audited), which answer HEAD 405.
 */
static int
ra_route_head_ok(const char *path)
{
	return strcmp(path, "/health") == 0 ||
	    strcmp(path, "/verify-email") == 0 ||
	    strcmp(path, "/console") == 0 || strncmp(path, "/console/", 9) == 0;
}

/*
 * The route of req, or NULL; then allow holds the methods of its path
 * ("" when the path is unknown). HEAD is looked up as GET where
 * ra_route_head_ok. ra_route_dispatch and ra_admit both find routes here.
 */
static const struct ra_route *
ra_route_find(const struct http_request *req, char *allow, size_t allowlen)
{
	const char *method = req->method;
	size_t i, len = 0;
	int head_ok = ra_route_head_ok(req->path);

	if (head_ok && strcmp(method, "HEAD") == 0)
		method = "GET";
	allow[0] = '\0';
	for (i = 0; i < sizeof(ra_routes) / sizeof(ra_routes[0]); i++) {
		if (!ra_route_match(ra_routes[i].pattern, req->path))
			continue;
		if (strcmp(method, ra_routes[i].method) == 0)
			return &ra_routes[i];
		if (len < allowlen)
			len += (size_t)snprintf(allow + len, allowlen - len,
			    "%s%s%s", len > 0 ? ", " : "", ra_routes[i].method,
			    head_ok && strcmp(ra_routes[i].method, "GET") == 0 ?
			    ", HEAD" : "");
	}
	return NULL;
}

/*
 * The route's handler, 413, 405 with Allow, or 404: the handler's return.
 * HEAD is answered as GET where ra_route_head_ok (libmicrohttpd sends the
 * headers only). The 413 here is for a body that came without a
 * Content-Length ra_admit could judge (none reaches here past the limit).
 */
static int
ra_route_dispatch(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	const struct ra_route *r;
	char allow[64];

	if ((r = ra_route_find(req, allow, sizeof(allow))) != NULL) {
		if (req->body_len > ra_route_max_body(ra, r))
			return ra_problem(resp, 413, "request body too large "
			    "for this resource");
		return r->fn(ra, req, resp);
	}
	if (allow[0] != '\0') {
		if (http_add_header(resp, "Allow", allow) == -1)
			return -1;
		return ra_problem(resp, 405, "see docs/openapi.yaml");
	}
	return ra_problem(resp, 404, "no such resource; see docs/openapi.yaml");
}

/*
 * What a route's request may bring, judged on its headers (ra_admit):
 * 0 with resp untouched to let it in, 0 with an answer in resp (413, 411,
 * 401), or -1 for our failure (the session's lookup). lib/http has
 * already refused a body framed two ways, and any Content-Length above
 * the server's limit (the largest route's).
 */
static int
ra_admit_route(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	const struct ra_route *r;
	struct ra_subject who;
	const char *cl, *te;
	char allow[64], *end;
	unsigned long long len;
	size_t max;

	r = ra_route_find(req, allow, sizeof(allow));
	/* An unknown path or method gets its 404 or 405 with a small body. */
	max = r != NULL ? ra_route_max_body(ra, r) : RA_MAX_BODY;
	cl = http_header(req, "Content-Length");
	te = http_header(req, "Transfer-Encoding");
	if (cl != NULL) {
		/* lib/http answered a malformed one with 400 already. */
		len = strtoull(cl, &end, 10);
		if (*end == '\0' && len > max)
			return ra_problem(resp, 413, "request body too large "
			    "for this resource");
	} else if (te != NULL && max < ra_max_body(ra->policy))
		/*
		 * Chunked (the only coding lib/http lets in): its size is
		 * known only once it is in, and lib/http stores up to the
		 * server's limit. None of rad's clients sends one (fetch and
		 * curl send a Content-Length for a body they hold).
		 */
		return ra_problem(resp, 411, "a body must come with a "
		    "Content-Length (RFC 9110 §15.5.12)");
	if (r == NULL || max <= RA_MAX_BODY)
		return 0;
	/*
	 * A large body only from a subscriber with a session: a stranger
	 * cannot make rad take megabytes. The session is looked up again by
	 * the handler, which decides the rest.
	 */
	return ra_session_account(ra, req, resp, &who) == -1 ? -1 : 0;
}

/*
 * rc and resp of an admit or a handler, with Cache-Control: no-store
 * where ra_route_no_store says; a failure to add it becomes the server's
 * own 500, which carries no data of ours.
 */
static int
ra_route_answered(const struct http_request *req, struct http_response *resp,
    int rc)
{
	if (resp->status != 0 && ra_route_no_store(req->path) &&
	    ra_route_set_no_store(resp) == -1) {
		log_err("ra: %s %s: http_add_header Cache-Control failed",
		    req->method, req->path);
		http_response_clear(resp);
		return -1;
	}
	return rc;
}

/*
 * Called before the body (lib/http.h lim.admit), on the one MHD thread
 * that also runs the handlers, so the database connection is never used by
 * two at once.
 */
int
ra_admit(void *arg, const struct http_request *req, struct http_response *resp)
{
	return ra_route_answered(req, resp, ra_admit_route(arg, req, resp));
}

/* A handler that failed without a status gets the server's own 500. */
int
ra_handle(void *arg, const struct http_request *req, struct http_response *resp)
{
	return ra_route_answered(req, resp, ra_route_dispatch(arg, req, resp));
}
