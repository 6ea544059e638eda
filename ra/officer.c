/*
 * RA officers: log-in with two factors (Argon2id password and an RFC 6238
 * TOTP code), log-out, /v1/officer/me, and ra_officer_session() for the
 * officer endpoints of later slices. Officers are created, listed and
 * disabled by pkictl (ca/officercmd.c); rad only reads them and updates
 * their log-in columns (schema/011_ra_officer.sql).
 *
 * Officer sessions live in ra_officer_session, subscriber sessions in
 * ra_session: a token of one never authenticates against the other.
 * The TOTP secret is sealed (lib/totp.h) under ra.officer_key_file, opened
 * only inside the log-in transaction and wiped at once. A wrong password,
 * a wrong TOTP code and a replayed one (its time step at or before the last
 * accepted one, RFC 6238 §5.2) each count toward the lock-out of
 * policy/ra.conf [lockout]; the client learns only "wrong credentials".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <argon2.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "lib/audit.h"
#include "lib/config.h"
#include "lib/db.h"
#include "lib/http.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/totp.h"
#include "ra/extern.h"

#define RA_OFFICER_BODY_MAX	4096

static const struct db_stmt stmt_officer_login = {
	"ra_officer_login_select",
	"SELECT id, password_hash, totp_secret_enc, role, last_totp_step, "
	"failed_logins, "
	"coalesce(ceil(extract(epoch FROM locked_until - now())), 0)::bigint, "
	"disabled_at IS NOT NULL "
	"FROM ra_officer WHERE username = $1 FOR UPDATE",
	1
};
static const struct db_stmt stmt_officer_login_ok = {
	"ra_officer_login_ok",
	"UPDATE ra_officer SET last_totp_step = $2::bigint, failed_logins = 0, "
	"locked_until = NULL WHERE id = $1",
	2
};
static const struct db_stmt stmt_officer_login_failed = {
	"ra_officer_login_failed",
	"UPDATE ra_officer SET failed_logins = $2::int, locked_until = CASE "
	"WHEN $3::int > 0 THEN now() + make_interval(secs => $3::int) "
	"ELSE locked_until END WHERE id = $1",
	3
};
static const struct db_stmt stmt_officer_session_insert = {
	"ra_officer_login_session_insert",
	"INSERT INTO ra_officer_session (officer_id, token_sha256, client_addr, "
	"expires_at) VALUES ($1, $2::bytea, $3, "
	"now() + make_interval(secs => $4::int)) "
	"RETURNING id, to_char(expires_at AT TIME ZONE 'UTC', "
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
	4
};
static const struct db_stmt stmt_officer_session = {
	"ra_officer_session_select",
	"SELECT o.id, o.username, o.role, coalesce(o.account_id::text, ''), "
	"s.id, to_char(s.expires_at AT TIME ZONE 'UTC', "
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
	"FROM ra_officer_session s JOIN ra_officer o ON o.id = s.officer_id "
	"WHERE s.token_sha256 = $1::bytea AND s.revoked_at IS NULL "
	"AND s.expires_at > now() AND o.disabled_at IS NULL",
	1
};
static const struct db_stmt stmt_officer_session_revoke = {
	"ra_officer_logout_revoke",
	"UPDATE ra_officer_session SET revoked_at = now() "
	"WHERE id = $1 AND revoked_at IS NULL RETURNING id",
	1
};

enum ra_officer_outcome {
	RA_OFFICER_DONE = 0,
	RA_OFFICER_BAD_CREDENTIALS,	/* 401 */
	RA_OFFICER_LOCKED,		/* 401, as bad credentials */
};

/* --- request ----------------------------------------------------------------- */

int
ra_officer_username_check(const char *u)
{
	size_t i, n = strlen(u);

	if (n < 3 || n > RA_OFFICER_USERNAME_MAX || u[0] < 'a' || u[0] > 'z')
		return -1;
	for (i = 1; i < n; i++)
		if (!((u[i] >= 'a' && u[i] <= 'z') ||
		    (u[i] >= '0' && u[i] <= '9') || u[i] == '.' ||
		    u[i] == '_' || u[i] == '-'))
			return -1;
	return 0;
}

int
ra_parse_officer_login(const void *body, size_t len,
    struct ra_officer_login_req *r, char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root = NULL, *user = NULL, *pw = NULL, *totp = NULL;
	size_t i;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	/* jansson's message may quote the text (a secret): not passed on. */
	if ((root = json_load_bounded(body, len, RA_OFFICER_BODY_MAX,
	    &err)) == NULL) {
		snprintf(detail, detaillen, "malformed JSON (RFC 8259), "
		    "duplicate member, or not an object");
		goto out;
	}
	if (json_unpack_strict(root, &err, "{s:o, s:o, s:o}", "username",
	    &user, "password", &pw, "totp", &totp) == -1) {
		snprintf(detail, detaillen, "request object: %s", err.text);
		goto out;
	}
	if (!json_is_string(user) || !json_is_string(pw) ||
	    !json_is_string(totp)) {
		snprintf(detail, detaillen, "username, password and totp must "
		    "be strings");
		goto out;
	}
	if (ra_json_string(user, "username", r->username,
	    RA_OFFICER_USERNAME_MAX, detail, detaillen) == -1 ||
	    ra_json_string(pw, "password", r->password, RA_PASSWORD_MAX,
	    detail, detaillen) == -1 ||
	    ra_json_string(totp, "totp", r->totp, RA_OFFICER_TOTP_MAX, detail,
	    detaillen) == -1)
		goto out;
	if (ra_officer_username_check(r->username) == -1) {
		snprintf(detail, detaillen, "username: 3 to 64 of a-z 0-9 . _ -, "
		    "starting with a letter");
		goto out;
	}
	for (i = 0; r->totp[i] != '\0'; i++)
		if (r->totp[i] < '0' || r->totp[i] > '9')
			break;
	if (r->totp[i] != '\0' || i < TOTP_DIGITS_MIN) {
		snprintf(detail, detaillen, "totp: the 6-digit code of the "
		    "authenticator app (RFC 6238)");
		goto out;
	}
	rc = 0;
out:
	if (pw != NULL && json_is_string(pw))
		ra_wipe((char *)json_string_value(pw), json_string_length(pw));
	if (totp != NULL && json_is_string(totp))
		ra_wipe((char *)json_string_value(totp),
		    json_string_length(totp));
	json_decref(root);
	if (rc == -1)
		ra_wipe(r, sizeof(*r));
	return rc;
}

/* --- sessions ---------------------------------------------------------------- */

void
ra_officer_actor(const struct ra_officer_subject *who, char *out,
    size_t outlen)
{
	snprintf(out, outlen, "officer:%s", who->officer_id);
}

int
ra_officer_masked(const struct ra_officer_subject *who)
{
	return strcmp(who->role, "auditor") == 0;
}

json_t *
ra_officer_dn(const struct ra_officer_subject *who, const char *dn)
{
	char *masked = NULL;
	size_t len;
	json_t *j;

	if (!ra_officer_masked(who))
		return json_string(dn);
	/* ra_mask_dn keeps the length: never truncated, however long. */
	len = strlen(dn) + 1;
	if ((masked = malloc(len)) == NULL)
		return NULL;
	ra_mask_dn(dn, masked, len);
	j = json_string(masked);
	free(masked);
	return j;
}

int
ra_officer_session(struct ra *ra, const struct http_request *req,
    struct http_response *resp, const char *const *roles_allowed,
    struct ra_officer_subject *who)
{
	const char *v[1], *detail;
	char *digest = NULL;
	PGresult *res = NULL;
	size_t i;
	int rc = -1;

	memset(who, 0, sizeof(*who));
	if ((digest = ra_bearer(req, &detail)) == NULL) {
		rc = ra_unauthorized(resp, detail) == -1 ? -1 : 0;
		goto out;
	}
	v[0] = digest;
	if ((res = db_exec(ra->db, &stmt_officer_session, v, NULL,
	    NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		rc = ra_unauthorized(resp, "unknown, expired or revoked officer "
		    "token") == -1 ? -1 : 0;
		goto out;
	}
	snprintf(who->officer_id, sizeof(who->officer_id), "%s",
	    PQgetvalue(res, 0, 0));
	snprintf(who->username, sizeof(who->username), "%s",
	    PQgetvalue(res, 0, 1));
	snprintf(who->role, sizeof(who->role), "%s", PQgetvalue(res, 0, 2));
	snprintf(who->account_id, sizeof(who->account_id), "%s",
	    PQgetvalue(res, 0, 3));
	snprintf(who->session_id, sizeof(who->session_id), "%s",
	    PQgetvalue(res, 0, 4));
	snprintf(who->expires_at, sizeof(who->expires_at), "%s",
	    PQgetvalue(res, 0, 5));
	if (roles_allowed != NULL) {
		for (i = 0; roles_allowed[i] != NULL; i++)
			if (strcmp(roles_allowed[i], who->role) == 0)
				break;
		if (roles_allowed[i] == NULL) {
			rc = ra_problem(resp, 403, "this officer role may not "
			    "use this resource") == -1 ? -1 : 0;
			memset(who, 0, sizeof(*who));
			goto out;
		}
	}
	rc = 1;
out:
	PQclear(res);
	free(digest);
	return rc;
}

int
ra_officer_post(struct ra *ra, const struct http_request *req,
    struct http_response *resp, const char *const *roles,
    struct ra_officer_subject *who, const char *prefix, const char *suffix,
    char id[24], const char *not_found)
{
	int k;

	if ((k = ra_officer_session(ra, req, resp, roles, who)) != 1)
		return k == 0 ? 0 : -1;
	if (ra_path_id(req->path, prefix, suffix, id) == -1)
		return ra_problem(resp, 404, not_found);
	if (!ra_is_json(req))
		return ra_problem(resp, 415, "the body must be application/json");
	return 1;
}

/* --- log-in ------------------------------------------------------------------ */

struct ra_officer_login_txn {
	struct ra				*ra;
	const struct ra_officer_login_req	*req;
	const char				*client;
	time_t					 now;
	enum ra_officer_outcome			 outcome;
	long					 retry_after;
	char					 id[24];
	char					 role[16];
	char					 session_id[24];
	char					 token[RA_TOKEN_B64_LEN + 1];
	char					 expires[40];
};

/*
 * Checks the TOTP code against the sealed secret. TOTP_OK with *step, or
 * TOTP_ERR_MISMATCH / TOTP_ERR_REPLAY; another status is our failure.
 */
static int
ra_officer_totp(struct ra *ra, const char *username, const char *sealed_hex,
    const char *code, time_t now, uint64_t last, uint64_t *step)
{
	struct totp_params p;
	unsigned char *sealed = NULL, secret[TOTP_SECRET_BYTES];
	char aad[RA_OFFICER_USERNAME_MAX + 16];
	size_t sealedlen = 0, n = 0;
	int rc = TOTP_ERR_CRYPTO;

	*step = 0;
	snprintf(aad, sizeof(aad), "ra_officer:%s", username);
	if (db_bytea_value(sealed_hex, &sealed, &sealedlen) == -1)
		goto out;
	if (totp_open(ra->officer_key, aad, sealed, sealedlen, secret,
	    sizeof(secret), &n) != TOTP_OK) {
		log_err("officer login: the TOTP secret of %s does not open "
		    "with ra.officer_key_file", username);
		goto out;
	}
	totp_params_default(&p);
	rc = totp_verify(&p, secret, n, code, now, last, step);
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	free(sealed);
	return rc;
}

static int
ra_officer_login_failed(struct db *db, struct ra_officer_login_txn *t,
    long failed_before, const char *factor)
{
	const struct ra_policy *p = t->ra->policy;
	const char *v[3];
	char failed_s[24], lock_s[24];
	json_t *details = NULL;
	long failed = failed_before + 1, lock;
	int rc = -1;

	lock = lockout_seconds(p->lockout_threshold,
	    p->lockout_base_s, p->lockout_max_s, failed);
	snprintf(failed_s, sizeof(failed_s), "%ld", failed);
	snprintf(lock_s, sizeof(lock_s), "%ld", lock);
	v[0] = t->id;
	v[1] = failed_s;
	v[2] = lock_s;
	if (db_exec_ok(db, &stmt_officer_login_failed, v) == -1)
		goto out;
	if ((details = json_pack("{s:s, s:s, s:I}", "client", t->client,
	    "factor", factor, "failed_logins", (json_int_t)failed)) == NULL ||
	    audit_append(db, "officer:unauthenticated",
	    "ra.officer.login_failed", "ra_officer", t->id, details,
	    NULL) == -1)
		goto out;
	if (lock > 0) {
		json_decref(details);
		if ((details = json_pack("{s:I, s:I}", "failed_logins",
		    (json_int_t)failed, "locked_seconds",
		    (json_int_t)lock)) == NULL ||
		    audit_append(db, "ra:lockout", "ra.officer.lock",
		    "ra_officer", t->id, details, NULL) == -1)
			goto out;
		log_info("officer login: officer %s locked for %ld s after %ld "
		    "failures", t->id, lock, failed);
	}
	t->outcome = RA_OFFICER_BAD_CREDENTIALS;
	rc = 0;
out:
	json_decref(details);
	return rc;
}

static int
ra_officer_login_txn(struct db *db, void *arg)
{
	struct ra_officer_login_txn *t = arg;
	const struct ra_policy *p = t->ra->policy;
	const char *v[4];
	char ttl[24], step_s[24], actor[40], *digest = NULL;
	PGresult *res = NULL, *res2 = NULL;
	json_t *details = NULL;
	uint64_t last, step = 0;
	long failed;
	int rc = -1, pw_ok, r;

	t->outcome = RA_OFFICER_DONE;
	v[0] = t->req->username;
	if ((res = db_exec(db, &stmt_officer_login, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		/* Unknown username: spend the same time, change nothing. */
		(void)argon2id_verify(t->ra->dummy_hash, t->req->password,
		    strlen(t->req->password));
		t->outcome = RA_OFFICER_BAD_CREDENTIALS;
		rc = 0;
		goto out;
	}
	snprintf(t->id, sizeof(t->id), "%s", PQgetvalue(res, 0, 0));
	snprintf(t->role, sizeof(t->role), "%s", PQgetvalue(res, 0, 3));
	last = strtoull(PQgetvalue(res, 0, 4), NULL, 10);
	failed = strtol(PQgetvalue(res, 0, 5), NULL, 10);
	if ((t->retry_after = strtol(PQgetvalue(res, 0, 6), NULL, 10)) > 0) {
		/*
		 * No attempt while locked, answered as an unknown username
		 * is, after the same work: a distinct answer (it was 429
		 * with Retry-After) told anyone who tried five passwords
		 * that the username is an officer's.
		 */
		(void)argon2id_verify(t->ra->dummy_hash, t->req->password,
		    strlen(t->req->password));
		t->outcome = RA_OFFICER_LOCKED;
		rc = 0;
		goto out;
	}
	pw_ok = argon2id_verify(PQgetvalue(res, 0, 1), t->req->password,
	    strlen(t->req->password)) == ARGON2_OK;
	if (strcmp(PQgetvalue(res, 0, 7), "t") == 0) {
		/* Disabled: refused like a wrong password, and audited. */
		if ((details = json_pack("{s:s, s:s}", "client", t->client,
		    "factor", "disabled")) == NULL ||
		    audit_append(db, "officer:unauthenticated",
		    "ra.officer.login_failed", "ra_officer", t->id, details,
		    NULL) == -1)
			goto out;
		t->outcome = RA_OFFICER_BAD_CREDENTIALS;
		rc = 0;
		goto out;
	}
	if (!pw_ok) {
		rc = ra_officer_login_failed(db, t, failed, "password");
		goto out;
	}
	r = ra_officer_totp(t->ra, t->req->username, PQgetvalue(res, 0, 2),
	    t->req->totp, t->now, last, &step);
	if (r == TOTP_ERR_MISMATCH || r == TOTP_ERR_REPLAY) {
		rc = ra_officer_login_failed(db, t, failed,
		    r == TOTP_ERR_REPLAY ? "totp_replay" : "totp");
		goto out;
	}
	if (r != TOTP_OK)
		goto out;
	snprintf(step_s, sizeof(step_s), "%llu", (unsigned long long)step);
	v[0] = t->id;
	v[1] = step_s;
	if (db_exec_ok(db, &stmt_officer_login_ok, v) == -1)
		goto out;
	if (ra_token_new(t->token, &digest) == -1)
		goto out;
	snprintf(ttl, sizeof(ttl), "%ld", p->officer_session_ttl_s);
	v[0] = t->id;
	v[1] = digest;
	v[2] = t->client;
	v[3] = ttl;
	if ((res2 = db_exec(db, &stmt_officer_session_insert, v, NULL,
	    NULL)) == NULL || PQntuples(res2) != 1)
		goto out;
	snprintf(t->session_id, sizeof(t->session_id), "%s",
	    PQgetvalue(res2, 0, 0));
	snprintf(t->expires, sizeof(t->expires), "%s", PQgetvalue(res2, 0, 1));
	if ((details = json_pack("{s:s, s:s, s:s}", "client", t->client,
	    "officer_id", t->id, "role", t->role)) == NULL)
		goto out;
	snprintf(actor, sizeof(actor), "officer:%s", t->id);
	if (audit_append(db, actor, "ra.officer.login", "ra_officer_session",
	    t->session_id, details, NULL) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1)
		ra_wipe(t->token, sizeof(t->token));
	json_decref(details);
	free(digest);
	PQclear(res2);
	PQclear(res);
	return rc;
}

int
ra_officer_login(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_officer_login_req r;
	struct ra_officer_login_txn t;
	char detail[256];
	json_t *o = NULL, *s;
	long wait;
	int rc = -1, h;

	memset(&r, 0, sizeof(r));
	memset(&t, 0, sizeof(t));
	if ((wait = ra_ratelimit_hit(ra->rl_officer, req->remote_addr,
	    time(NULL))) > 0) {
		rc = ra_too_many(resp, wait, "too many officer log-in attempts "
		    "from this address; try again later");
		goto out;
	}
	if (!ra_is_json(req)) {
		rc = ra_problem(resp, 415, "the body must be application/json");
		goto out;
	}
	if (ra_parse_officer_login(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1) {
		rc = ra_problem(resp, 400, detail);
		goto out;
	}
	t.ra = ra;
	t.req = &r;
	t.client = req->remote_addr;
	/* Before the Argon2id run: a 503 when too many run (common.c). */
	if ((h = ra_hash_admit(ra, 1, resp)) != 1) {
		rc = h;
		goto out;
	}
	t.now = time(NULL);
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_officer_login_txn,
	    &t) == -1)
		goto out;
	switch (t.outcome) {
	case RA_OFFICER_LOCKED:
		log_info("officer login: officer %s is locked for %ld s more; "
		    "refused unchecked", t.id, t.retry_after);
		/* FALLTHROUGH */
	case RA_OFFICER_BAD_CREDENTIALS:
		rc = ra_problem(resp, 401, "wrong username, password or TOTP "
		    "code, or the officer is disabled or locked after repeated "
		    "failures (then try again later)");
		goto out;
	default:
		break;
	}
	log_info("officer login: session %s for officer %s", t.session_id,
	    t.id);
	if ((o = json_pack("{s:s, s:s, s:s, s:s}", "token", t.token,
	    "token_type", "Bearer", "expires_at", t.expires, "role",
	    t.role)) == NULL)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	if (o != NULL) {
		if ((s = json_object_get(o, "token")) != NULL)
			ra_wipe((char *)json_string_value(s),
			    json_string_length(s));
		json_decref(o);
	}
	ra_wipe(&t, sizeof(t));
	ra_wipe(&r, sizeof(r));
	return rc;
}

/* --- log-out and /me --------------------------------------------------------- */

struct ra_officer_logout_txn {
	const struct ra_officer_subject	*who;
	const char			*client;
	int				 revoked;
};

static int
ra_officer_logout_txn(struct db *db, void *arg)
{
	struct ra_officer_logout_txn *t = arg;
	const char *v[1];
	char actor[40];
	PGresult *res = NULL;
	json_t *details = NULL;
	int rc = -1;

	t->revoked = 0;
	v[0] = t->who->session_id;
	if ((res = db_exec(db, &stmt_officer_session_revoke, v, NULL,
	    NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		rc = 0;		/* revoked meanwhile */
		goto out;
	}
	ra_officer_actor(t->who, actor, sizeof(actor));
	if ((details = json_pack("{s:s, s:s}", "client", t->client,
	    "officer_id", t->who->officer_id)) == NULL ||
	    audit_append(db, actor, "ra.officer.logout", "ra_officer_session",
	    t->who->session_id, details, NULL) == -1)
		goto out;
	t->revoked = 1;
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

int
ra_officer_logout(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_officer_subject who;
	struct ra_officer_logout_txn t;
	int r;

	if (req->body_len > 0)
		return ra_problem(resp, 400, "log-out takes no body");
	if ((r = ra_officer_session(ra, req, resp, NULL, &who)) != 1)
		return r;
	memset(&t, 0, sizeof(t));
	t.who = &who;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS,
	    ra_officer_logout_txn, &t) == -1)
		return -1;
	if (!t.revoked)
		return ra_unauthorized(resp, "unknown, expired or revoked "
		    "officer token");
	log_info("officer logout: session %s revoked", who.session_id);
	return http_respond(resp, 204, NULL, NULL, 0);
}

int
ra_officer_me(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_officer_subject who;
	json_t *o = NULL;
	int r, rc = -1;

	if ((r = ra_officer_session(ra, req, resp, NULL, &who)) != 1)
		return r;
	/* holds: whether this CA suspends (review.holds), for the console. */
	if ((o = json_pack("{s:I, s:s, s:s, s:o, s:s, s:b}", "id",
	    (json_int_t)strtoll(who.officer_id, NULL, 10), "username",
	    who.username, "role", who.role, "account_id",
	    who.account_id[0] == '\0' ? json_null() :
	    json_integer(strtoll(who.account_id, NULL, 10)),
	    "session_expires_at", who.expires_at, "holds",
	    ra->policy->review_holds)) == NULL)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	json_decref(o);
	return rc;
}

/* --- start-up ------------------------------------------------------------------ */

int
ra_officer_init(struct ra *ra, const struct config *cfg)
{
	const char *path = config_get(cfg, "ra.officer_key_file", NULL);
	char err[512];

	if (path == NULL) {
		log_err("config: ra.officer_key_file missing (the AES-256-GCM "
		    "key of officers' TOTP secrets; deploy/stack.sh makes it)");
		return -1;
	}
	if (totp_key_load(path, ra->officer_key, err, sizeof(err)) != TOTP_OK) {
		log_err("ra.officer_key_file: %s", err);
		return -1;
	}
	if ((ra->rl_officer = ra_ratelimit_new(
	    ra->policy->officer_login_per_min)) == NULL) {
		log_err("ra_ratelimit_new: out of memory");
		return -1;
	}
	return 0;
}

void
ra_officer_free(struct ra *ra)
{
	ra_ratelimit_free(ra->rl_officer);
	ra->rl_officer = NULL;
	OPENSSL_cleanse(ra->officer_key, sizeof(ra->officer_key));
}
