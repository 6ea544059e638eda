/*
 * A subscriber's grants of the signing services (ra/README.md "Signing
 * services", schema/112):
 *
 *  GET  /v1/sign-services		the services not disabled, by name, each
 *					with whether this account granted it
 *  POST /v1/sign-services/{id}/grant	grants it (no body, or {})
 *  POST /v1/sign-services/{id}/revoke	takes the grant back (a disabled
 *					service's too)
 *
 * A signing service is an OAuth client of signd (pkictl sigservice add).
 * signd serves a service only the accounts that granted it, and reads the
 * grant in each authorization and signature: a revoke stops the service's
 * new authorizations and signatures at once. The grant is the subscriber's
 * own act, with their session, as any other change of their account; each
 * change runs in one transaction with its audit event (ra.sign_grant.add,
 * ra.sign_grant.revoke), and asking again for what is so already changes
 * and records nothing.
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

#define RA_GRANT_PREFIX		"/v1/sign-services/"
#define RA_GRANT_UNKNOWN	"no such signing service (or it is disabled)"
#define RA_GRANT_NONE		"this account has not granted that signing " \
				"service"

/* Granted or not: granted_at is NULL without a grant. */
static const struct db_stmt stmt_grant_list = {
	"ra_signgrant_list",
	"SELECT v.id, v.name, " RA_TS("g.granted_at") " "
	"FROM sign_service v LEFT JOIN sign_grant g ON g.service_id = v.id "
	"AND g.account_id = $1 WHERE v.disabled_at IS NULL "
	"ORDER BY v.name, v.id",
	1
};
/*
 * The service to grant, not disabled. Not FOR SHARE, which would order the
 * grant and a concurrent disable: PostgreSQL wants UPDATE privilege on
 * sign_service for a row lock, and pki_ra may only read four of its
 * columns (schema/112). A grant that commits just after its service was
 * disabled is harmless: signd refuses a disabled service whatever it was
 * granted, and the subscriber may still revoke it.
 */
static const struct db_stmt stmt_grant_service = {
	"ra_signgrant_service",
	"SELECT name FROM sign_service WHERE id = $1 AND disabled_at IS NULL",
	1
};
/* A row only when it is new: a concurrent grant's row is waited for. */
static const struct db_stmt stmt_grant_insert = {
	"ra_signgrant_insert",
	"INSERT INTO sign_grant (account_id, service_id) VALUES ($1, $2) "
	"ON CONFLICT DO NOTHING RETURNING " RA_TS("granted_at"),
	2
};
static const struct db_stmt stmt_grant_get = {
	"ra_signgrant_get",
	"SELECT " RA_TS("granted_at") " FROM sign_grant "
	"WHERE account_id = $1 AND service_id = $2",
	2
};
static const struct db_stmt stmt_grant_delete = {
	"ra_signgrant_delete",
	"DELETE FROM sign_grant g USING sign_service v "
	"WHERE g.account_id = $1 AND g.service_id = $2 AND v.id = g.service_id "
	"RETURNING v.name",
	2
};

int
ra_sign_service_list(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	const char *v[1];
	PGresult *res = NULL;
	json_t *o = NULL, *a = NULL, *item;
	int rc = -1, i, k, granted;

	if ((k = ra_session_account(ra, req, resp, &who)) != 1)
		return k;
	v[0] = who.account_id;
	if ((res = db_exec(ra->db, &stmt_grant_list, v, NULL, NULL)) == NULL ||
	    PQnfields(res) != 3 || (a = json_array()) == NULL)
		goto out;
	for (i = 0; i < PQntuples(res); i++) {
		granted = !PQgetisnull(res, i, 2);
		if ((item = json_pack("{s:I, s:s, s:b, s:s?}", "id",
		    (json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10),
		    "name", PQgetvalue(res, i, 1), "granted", granted,
		    "granted_at", granted ? PQgetvalue(res, i, 2) : NULL)) ==
		    NULL || json_array_append_new(a, item) == -1)
			goto out;
	}
	if ((o = json_pack("{s:O}", "services", a)) == NULL)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	json_decref(o);
	json_decref(a);
	PQclear(res);
	return rc;
}

/* --- POST /v1/sign-services/{id}/grant and /revoke ------------------------------- */

enum ra_grant_outcome {
	RA_GRANT_DONE = 0,
	RA_GRANT_NOT_FOUND,	/* 404: grant: unknown or disabled; revoke: no
				   grant */
};

struct ra_grant_txn {
	const struct ra_subject	*who;
	const char		*id;		/* sign_service.id */
	int			 revoke;
	enum ra_grant_outcome	 outcome;
	int			 created;	/* grant: the row is new */
	char			 name[80];	/* sign_service.name (64 at most) */
	char			 at[40];	/* grant: granted_at, RFC 3339 */
};

/* Appends ra.sign_grant.add or .revoke of t in db's transaction. 0 or -1. */
static int
ra_grant_audit(struct db *db, const struct ra_grant_txn *t)
{
	char actor[RA_ACTOR_MAX];

	return audit_append_new(db, ra_actor(actor, t->who->account_id),
	    t->revoke ? "ra.sign_grant.revoke" : "ra.sign_grant.add",
	    "ra_account", t->who->account_id, json_pack("{s:s, s:s}",
	    "service_id", t->id, "service_name", t->name));
}

/*
 * The grant: a new row (t->created) or the one there was, its granted_at
 * in t->at. 0 (commit) or -1 with t->outcome.
 */
static int
ra_grant_txn(struct db *db, void *arg)
{
	struct ra_grant_txn *t = arg;
	const char *v[2];
	PGresult *res = NULL;
	int rc = -1, attempt;

	t->outcome = RA_GRANT_DONE;
	t->created = 0;
	v[0] = t->id;
	if ((res = db_exec(db, &stmt_grant_service, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		t->outcome = RA_GRANT_NOT_FOUND;
		goto out;
	}
	snprintf(t->name, sizeof(t->name), "%s", PQgetvalue(res, 0, 0));
	v[0] = t->who->account_id;
	v[1] = t->id;
	/*
	 * A row that was there is read back; one that a concurrent revoke
	 * removed between the two statements is inserted again.
	 */
	for (attempt = 0; attempt < 2; attempt++) {
		PQclear(res);
		if ((res = db_exec(db, &stmt_grant_insert, v, NULL, NULL)) ==
		    NULL)
			goto out;
		if (PQntuples(res) == 1) {
			t->created = 1;
			break;
		}
		PQclear(res);
		if ((res = db_exec(db, &stmt_grant_get, v, NULL, NULL)) ==
		    NULL)
			goto out;
		if (PQntuples(res) == 1)
			break;
	}
	if (PQntuples(res) != 1) {
		log_err("sign-services: account %s, service %s: the grant "
		    "came and went twice", t->who->account_id, t->id);
		goto out;
	}
	snprintf(t->at, sizeof(t->at), "%s", PQgetvalue(res, 0, 0));
	if (t->created && ra_grant_audit(db, t) == -1)
		goto out;
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/* The grant deleted: 0 (commit) or -1 with t->outcome. */
static int
ra_grant_revoke_txn(struct db *db, void *arg)
{
	struct ra_grant_txn *t = arg;
	const char *v[2];
	PGresult *res = NULL;
	int rc = -1;

	t->outcome = RA_GRANT_DONE;
	v[0] = t->who->account_id;
	v[1] = t->id;
	if ((res = db_exec(db, &stmt_grant_delete, v, NULL, NULL)) == NULL)
		goto out;
	/* A concurrent revoke of the same grant waited, and found none. */
	if (PQntuples(res) != 1) {
		t->outcome = RA_GRANT_NOT_FOUND;
		goto out;
	}
	snprintf(t->name, sizeof(t->name), "%s", PQgetvalue(res, 0, 0));
	if (ra_grant_audit(db, t) == -1)
		goto out;
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/* Both requests: revoke 0 grants, 1 revokes. The handler's return. */
static int
ra_grant_change(struct ra *ra, const struct http_request *req,
    struct http_response *resp, int revoke)
{
	struct ra_subject who;
	struct ra_grant_txn t;
	char id[24];
	json_t *o = NULL;
	int rc = -1, k;

	if ((k = ra_subscriber_post_bare(ra, req, resp, &who, RA_GRANT_PREFIX,
	    revoke ? "/revoke" : "/grant", id, revoke ? RA_GRANT_NONE :
	    RA_GRANT_UNKNOWN)) != 1)
		return k;
	memset(&t, 0, sizeof(t));
	t.who = &who;
	t.id = id;
	t.revoke = revoke;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, revoke ?
	    ra_grant_revoke_txn : ra_grant_txn, &t) == -1) {
		if (t.outcome == RA_GRANT_NOT_FOUND)
			rc = ra_problem(resp, 404, revoke ? RA_GRANT_NONE :
			    RA_GRANT_UNKNOWN);
		goto out;
	}
	if (revoke)
		log_info("sign-services: account %s revoked its grant of "
		    "service %s (%s)", who.account_id, id, t.name);
	else if (t.created)
		log_info("sign-services: account %s granted service %s (%s)",
		    who.account_id, id, t.name);
	if ((o = json_pack("{s:I, s:s, s:b, s:s?}", "id", (json_int_t)strtoll(
	    id, NULL, 10), "name", t.name, "granted", !revoke, "granted_at",
	    revoke ? NULL : t.at)) == NULL)
		goto out;
	rc = http_respond_json(resp, t.created ? 201 : 200, o);
out:
	json_decref(o);
	return rc;
}

int
ra_sign_grant(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	return ra_grant_change(ra, req, resp, 0);
}

int
ra_sign_grant_revoke(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	return ra_grant_change(ra, req, resp, 1);
}
