/*
 * The subscriber account API: registration, email verification, log-in,
 * log-out, /v1/me. Each state change and its audit event commit in one
 * transaction; a refused request changes nothing (except a wrong password,
 * which counts toward the account's lock-out, audited too).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <argon2.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "lib/audit.h"
#include "lib/db.h"
#include "lib/http.h"
#include "lib/log.h"
#include "ra/extern.h"

#define RA_TXN_ATTEMPTS		3
#define RA_LOCK_SHIFT_MAX	20

static const struct db_stmt stmt_account_insert = {
	"ra_register_account_insert",
	"INSERT INTO ra_account (email, phone, password_hash) VALUES ($1, $2, $3) "
	"ON CONFLICT (email) DO NOTHING RETURNING id",
	3
};
/*
 * A stale account holding the address (ra/README.md "Stale unverified
 * accounts", schema/045, 048): locked first, then the conditions checked in
 * a statement of their own (READ COMMITTED: a resend or a log-in that
 * committed during the lock wait is seen). Stale: never verified, older
 * than email_verification.unverified_account_days (at least a day,
 * whatever the link's lifetime), no verified phone, no PIN, no TOTP
 * (pending or confirmed), no application, no officer; its address becomes
 * 'replaced:<id>', which no request can name. Log-ins and live links do
 * not keep it: whoever registered another's address could log in or ask
 * for a link now and then and hold the address for ever (a review
 * finding); nor can a never-verified account get a code, hence a phone,
 * PIN or TOTP (factor.c).
 */
static const struct db_stmt stmt_stale_lock = {
	"ra_register_stale_lock",
	"SELECT id FROM ra_account WHERE email = $1 FOR UPDATE",
	1
};
static const struct db_stmt stmt_stale_replace = {
	"ra_register_stale_replace",
	"UPDATE ra_account a SET email = 'replaced:' || a.id, replaced_at = "
	"now() WHERE a.id = $1 AND NOT a.email_verified AND NOT "
	"a.verified_once AND a.replaced_at IS NULL AND a.created_at < now() - "
	"make_interval(days => $2::int) AND NOT a.phone_verified AND "
	"a.pin_hash IS NULL AND a.totp_secret_enc IS NULL AND "
	"a.totp_pending_enc IS NULL AND NOT EXISTS (SELECT 1 FROM "
	"ra_application p WHERE p.account_id = a.id) AND NOT EXISTS (SELECT 1 "
	"FROM ra_officer o WHERE o.account_id = a.id) "
	"RETURNING " RA_TS("a.created_at"),
	2
};
/* What the replaced account still held stops working. */
static const struct db_stmt stmt_stale_links = {
	"ra_register_stale_links",
	"UPDATE ra_email_verification SET used_at = now() WHERE account_id = $1 "
	"AND used_at IS NULL",
	1
};
static const struct db_stmt stmt_stale_sessions = {
	"ra_register_stale_sessions",
	"UPDATE ra_session SET revoked_at = now() WHERE account_id = $1 "
	"AND revoked_at IS NULL AND expires_at > now()",
	1
};
static const struct db_stmt stmt_stale_otps = {
	"ra_register_stale_otps",
	"UPDATE ra_otp SET attempts = max_attempts WHERE account_id = $1 AND "
	"consumed_at IS NULL AND attempts < max_attempts AND expires_at > now()",
	1
};
/* new_email ($4): NULL, or the address of a pending change (schema/062). */
static const struct db_stmt stmt_verification_insert = {
	"ra_register_verification_insert",
	"INSERT INTO ra_email_verification (account_id, token_sha256, expires_at, "
	"new_email) VALUES ($1, $2::bytea, now() + make_interval(secs => "
	"$3::int), $4)",
	4
};
/*
 * Opening a link: its account is found first and locked, then the link is
 * claimed (account row first, then its links, as every other path that
 * touches both: a change request voiding links must not deadlock with it).
 */
static const struct db_stmt stmt_verification_find = {
	"ra_verify_verification_find",
	"SELECT account_id FROM ra_email_verification WHERE token_sha256 = "
	"$1::bytea AND used_at IS NULL AND expires_at > now()",
	1
};
static const struct db_stmt stmt_verification_account = {
	"ra_verify_verification_account",
	"SELECT email FROM ra_account WHERE id = $1 FOR UPDATE",
	1
};
static const struct db_stmt stmt_verification_claim = {
	"ra_verify_verification_claim",
	"UPDATE ra_email_verification SET used_at = now() "
	"WHERE token_sha256 = $1::bytea AND account_id = $2 AND used_at IS NULL "
	"AND expires_at > now() RETURNING id, new_email",
	2
};
static const struct db_stmt stmt_account_verified = {
	"ra_verify_account_verified",
	"UPDATE ra_account SET email_verified = true, "
	"email_verified_at = coalesce(email_verified_at, now()) WHERE id = $1",
	1
};
/* A resend: the account, locked, so that resends count one at a time. */
static const struct db_stmt stmt_resend_account = {
	"ra_verify_resend_account",
	"SELECT email, email_verified FROM ra_account WHERE id = $1 FOR UPDATE",
	1
};
/*
 * The links of the last hour and of the last day, after the lock and in a
 * statement of its own (READ COMMITTED: a new snapshot) so a concurrent
 * resend's or change's row is seen; and the seconds until the oldest of
 * each leaves its window. The daily cap bounds what an unverified account
 * registered with a stranger's address, or an account asking to move to
 * one (POST /v1/email), can have mailed to it.
 */
static const struct db_stmt stmt_link_count = {
	"ra_verify_link_count",
	"SELECT count(*) FILTER (WHERE created_at > now() - interval '1 hour'), "
	"coalesce(ceil(extract(epoch FROM min(created_at) FILTER (WHERE "
	"created_at > now() - interval '1 hour') + interval '1 hour' - "
	"now())), 0)::bigint, count(*), coalesce(ceil(extract(epoch FROM "
	"min(created_at) + interval '1 day' - now())), 0)::bigint "
	"FROM ra_email_verification "
	"WHERE account_id = $1 AND created_at > now() - interval '1 day'",
	1
};
/* Earlier links stop working: only the newest mail's link verifies. */
static const struct db_stmt stmt_resend_void = {
	"ra_verify_resend_void",
	"UPDATE ra_email_verification SET used_at = now() WHERE account_id = $1 "
	"AND used_at IS NULL AND expires_at > now()",
	1
};
static const struct db_stmt stmt_login_account = {
	"ra_login_account_select",
	"SELECT id, password_hash, failed_logins, "
	"coalesce(ceil(extract(epoch FROM locked_until - now())), 0)::bigint "
	"FROM ra_account WHERE email = $1 FOR UPDATE",
	1
};
static const struct db_stmt stmt_login_ok = {
	"ra_login_account_reset",
	"UPDATE ra_account SET failed_logins = 0, locked_until = NULL "
	"WHERE id = $1 AND (failed_logins <> 0 OR locked_until IS NOT NULL)",
	1
};
static const struct db_stmt stmt_login_failed = {
	"ra_login_account_failed",
	"UPDATE ra_account SET failed_logins = $2::int, locked_until = CASE "
	"WHEN $3::int > 0 THEN now() + make_interval(secs => $3::int) "
	"ELSE locked_until END WHERE id = $1",
	3
};
static const struct db_stmt stmt_session_insert = {
	"ra_login_session_insert",
	"INSERT INTO ra_session (account_id, token_sha256, client_addr, expires_at) "
	"VALUES ($1, $2::bytea, $3, now() + make_interval(secs => $4::int)) "
	"RETURNING id, to_char(expires_at AT TIME ZONE 'UTC', "
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
	4
};
static const struct db_stmt stmt_session_revoke = {
	"ra_logout_session_revoke",
	"UPDATE ra_session SET revoked_at = now() WHERE token_sha256 = $1::bytea "
	"AND revoked_at IS NULL AND expires_at > now() RETURNING id, account_id",
	1
};
static const struct db_stmt stmt_me = {
	"ra_me_session_account",
	"SELECT a.id, a.email, a.phone, a.email_verified, a.phone_verified, "
	"to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	"to_char(s.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	"(SELECT v.new_email FROM ra_email_verification v WHERE v.account_id = "
	"a.id AND v.new_email IS NOT NULL AND v.used_at IS NULL AND "
	"v.expires_at > now() ORDER BY v.id DESC LIMIT 1) "
	"FROM ra_session s JOIN ra_account a ON a.id = s.account_id "
	"WHERE s.token_sha256 = $1::bytea AND s.revoked_at IS NULL "
	"AND s.expires_at > now()",
	1
};

/* What a transaction found, for the handler to answer. */
enum ra_outcome {
	RA_DONE = 0,
	RA_DUPLICATE,		/* 409 */
	RA_NOT_FOUND,		/* 404 */
	RA_BAD_CREDENTIALS,	/* 401 */
	RA_LOCKED,		/* 429 with retry_after */
	RA_MAIL_FAILED,		/* 503 */
	RA_ALREADY,		/* 409 */
};

/* --- verification links --------------------------------------------------- */

/*
 * A link's lifetime of s seconds (email_verification.ttl_seconds, 60 and
 * more) as the mail says it: whole hours, or else minutes, rounded down
 * (a link said to live shorter than it does misleads nobody). In hours
 * alone, a policy of 30 minutes told people the link was valid for "0
 * hours".
 */
static void
ra_verify_ttl_text(long s, char *out, size_t len)
{
	if (s >= 3600 && s % 3600 == 0)
		snprintf(out, len, "%ld hour%s", s / 3600, s == 3600 ? "" : "s");
	else
		snprintf(out, len, "%ld minute%s", s / 60, s / 60 == 1 ? "" :
		    "s");
}

int
ra_verify_link_send(struct ra *ra, struct db *db, const char *account_id,
    const char *to, int change, const char *subject, const char *intro)
{
	const char *v[4];
	char tok[RA_TOKEN_B64_LEN + 1], ttl[24], valid[40], *digest = NULL;
	char *body = NULL;
	int rc = -1;

	tok[0] = '\0';
	if (ra_token_new(tok, &digest) == -1)
		goto out;
	snprintf(ttl, sizeof(ttl), "%ld", ra->policy->verify_ttl_s);
	v[0] = account_id;
	v[1] = digest;
	v[2] = ttl;
	v[3] = change ? to : NULL;
	if (db_exec_ok(db, &stmt_verification_insert, v) == -1)
		goto out;
	ra_verify_ttl_text(ra->policy->verify_ttl_s, valid, sizeof(valid));
	if (asprintf(&body, "%sTo verify your email address, open this link "
	    "(valid for %s, usable once):\r\n\r\n%s%s\r\n", intro, valid,
	    ra->verify_url, tok) == -1) {
		body = NULL;
		goto out;
	}
	rc = ra_mail_send(ra->mailer, to, subject, body) == -1 ?
	    RA_LINK_MAIL_FAILED : 0;
out:
	ra_wipe(tok, sizeof(tok));
	if (body != NULL) {
		ra_wipe(body, strlen(body));
		free(body);
	}
	free(digest);
	return rc;
}

int
ra_verify_link_quota_locked(struct ra *ra, struct db *db,
    const char *account_id, long *retry_after)
{
	const char *v[1];
	PGresult *res = NULL;
	int rc = -1, i;

	*retry_after = 0;
	v[0] = account_id;
	if ((res = db_exec(db, &stmt_link_count, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	/* The day's cap first: its wait is the longer one. */
	if (strtol(PQgetvalue(res, 0, 2), NULL, 10) >=
	    ra->policy->verify_per_day)
		i = 3;
	else if (strtol(PQgetvalue(res, 0, 0), NULL, 10) >=
	    ra->policy->verify_per_hour)
		i = 1;
	else
		i = 0;
	if (i != 0 && (*retry_after = strtol(PQgetvalue(res, 0, i), NULL,
	    10)) < 1)
		*retry_after = 1;
	rc = i == 0;
out:
	PQclear(res);
	return rc;
}

/* --- registration ------------------------------------------------------------ */

struct ra_register_txn {
	struct ra			*ra;
	const struct ra_register_req	*req;
	const char			*hash;
	const char			*client;
	enum ra_outcome			 outcome;
	char				 id[24];
	char				 replaced[24];	/* "" or the stale account */
	char				 replaced_created[40];
	long				 sessions, links, otps;
};

/*
 * Frees the address of a stale account (stmt_stale_replace) in the
 * registration's transaction: t->replaced is its id, or "" when the address
 * is free or held by an account that is not stale (the insert then finds
 * it taken: 409). Its links, sessions and codes stop working. 0 or -1.
 */
static int
ra_register_stale(struct db *db, struct ra_register_txn *t)
{
	const char *v[2];
	char days[24];
	PGresult *res = NULL;
	int rc = -1;

	t->replaced[0] = '\0';
	v[0] = t->req->email;
	if ((res = db_exec(db, &stmt_stale_lock, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		rc = 0;
		goto out;
	}
	snprintf(t->replaced, sizeof(t->replaced), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	snprintf(days, sizeof(days), "%ld", t->ra->policy->unverified_days);
	v[0] = t->replaced;
	v[1] = days;
	if ((res = db_exec(db, &stmt_stale_replace, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		t->replaced[0] = '\0';		/* not stale: it keeps it */
		rc = 0;
		goto out;
	}
	snprintf(t->replaced_created, sizeof(t->replaced_created), "%s",
	    PQgetvalue(res, 0, 0));
	PQclear(res);
	if ((res = db_exec(db, &stmt_stale_links, v, NULL, NULL)) == NULL)
		goto out;
	t->links = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	if ((res = db_exec(db, &stmt_stale_sessions, v, NULL, NULL)) == NULL)
		goto out;
	t->sessions = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	if ((res = db_exec(db, &stmt_stale_otps, v, NULL, NULL)) == NULL)
		goto out;
	t->otps = strtol(PQcmdTuples(res), NULL, 10);
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/*
 * The notice to the address that its earlier, never verified account was
 * replaced, queued (outbox) in the registration's transaction: a distinct
 * mail, so that the owner of the mailbox learns it even when the new
 * registration was not theirs. 0 or -1.
 */
static int
ra_register_replaced_notice(struct db *db, const struct ra_register_txn *t)
{
	char *body = NULL;
	int rc;

	if (asprintf(&body, "An account registered with this email address "
	    "on %s was never verified. Someone has now registered this "
	    "address again, and the new registration replaced that earlier "
	    "account: its sessions and verification links no longer work, "
	    "and it can no longer log in.\r\n\r\nIf the new registration "
	    "is yours, verify it with the link in the other mail. If it is "
	    "not, do not open that link (the new account stays unverified) "
	    "and contact us.\r\n", t->replaced_created) == -1) {
		log_err("register: asprintf: out of memory");
		return -1;
	}
	rc = ra_mail_queue(db, t->req->email, "An earlier unverified account "
	    "at this address was replaced", body);
	free(body);
	return rc;
}

static int
ra_register_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX], masked[RA_MASK_MAX];
	struct ra_register_txn *t = arg;
	const char *v[4];
	PGresult *res = NULL;
	json_t *details = NULL;
	int rc = -1, k;

	t->outcome = RA_DONE;
	if (ra_register_stale(db, t) == -1)
		goto out;
	v[0] = t->req->email;
	v[1] = t->req->phone;
	v[2] = t->hash;
	if ((res = db_exec(db, &stmt_account_insert, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		t->outcome = RA_DUPLICATE;
		goto out;
	}
	snprintf(t->id, sizeof(t->id), "%s", PQgetvalue(res, 0, 0));
	if (t->replaced[0] != '\0') {
		ra_mask_email(t->req->email, masked, sizeof(masked));
		if ((details = json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:I}",
		    "client", t->client, "email", masked,
		    "replaced_by", (json_int_t)strtoll(t->id, NULL, 10),
		    "created_at", t->replaced_created, "sessions_revoked",
		    (json_int_t)t->sessions, "links_voided",
		    (json_int_t)t->links, "otps_voided",
		    (json_int_t)t->otps)) == NULL ||
		    audit_append(db, ra_actor(actor, t->id),
		    "ra.account.unverified_replaced", "ra_account", t->replaced,
		    details, NULL) == -1 ||
		    ra_register_replaced_notice(db, t) == -1)
			goto out;
		json_decref(details);
	}
	if ((details = json_pack("{s:s, s:b}", "client", t->client,
	    "email_verified", 0)) == NULL)
		goto out;
	if (t->replaced[0] != '\0' && json_object_set_new(details,
	    "replaced_account_id", json_integer((json_int_t)strtoll(
	    t->replaced, NULL, 10))) == -1)
		goto out;
	if (audit_append(db, ra_actor(actor, t->id), "ra.account.register",
	    "ra_account", t->id, details, NULL) == -1)
		goto out;
	/* Sent before COMMIT: a failed send leaves no account behind. */
	if ((k = ra_verify_link_send(t->ra, db, t->id, t->req->email, 0,
	    "Verify your email address", "Welcome. ")) != 0) {
		if (k == RA_LINK_MAIL_FAILED)
			t->outcome = RA_MAIL_FAILED;
		goto out;
	}
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

int
ra_register(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_register_req r;
	struct ra_register_txn t;
	char detail[256], hash[256];
	json_t *o = NULL;
	long wait;
	int rc = -1, h;

	memset(&r, 0, sizeof(r));
	if ((wait = ra_ratelimit_hit(ra->rl_register, req->remote_addr,
	    time(NULL))) > 0) {
		rc = ra_too_many(resp, wait, "too many registrations from this "
		    "address; try again later");
		goto out;
	}
	if (!ra_is_json(req)) {
		rc = ra_problem(resp, 415, "the body must be application/json");
		goto out;
	}
	if (ra_parse_register(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1 ||
	    ra_password_check(ra->policy, r.password, detail,
	    sizeof(detail)) == -1) {
		rc = ra_problem(resp, 400, detail);
		goto out;
	}
	/* Before the Argon2id run: a 503 when too many run (common.c). */
	if ((h = ra_hash_admit(ra, 1, resp)) != 1) {
		rc = h;
		goto out;
	}
	if (ra_password_hash(ra->policy, r.password, hash, sizeof(hash)) == -1)
		goto out;
	ra_wipe(r.password, sizeof(r.password));
	memset(&t, 0, sizeof(t));
	t.ra = ra;
	t.req = &r;
	t.hash = hash;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_register_txn,
	    &t) == -1) {
		if (t.outcome == RA_DUPLICATE)
			rc = ra_problem(resp, 409, "an account with this email "
			    "address exists");
		else if (t.outcome == RA_MAIL_FAILED) {
			http_add_header(resp, "Retry-After", "60");
			rc = ra_problem(resp, 503, "the verification email could "
			    "not be sent; nothing was stored");
		}
		goto out;
	}
	if (t.replaced[0] != '\0')
		log_info("register: stale unverified account %s replaced by "
		    "account %s", t.replaced, t.id);
	log_info("register: account %s created, verification link sent", t.id);
	if ((o = json_pack("{s:I, s:s, s:s, s:b}", "id",
	    (json_int_t)strtoll(t.id, NULL, 10), "email", r.email, "phone",
	    r.phone, "email_verified", 0)) == NULL)
		goto out;
	rc = http_respond_json(resp, 201, o);
out:
	json_decref(o);
	ra_wipe(&r, sizeof(r));
	return rc;
}

/* --- email verification ---------------------------------------------------- */

struct ra_verify_txn {
	char		*digest;
	const char	*client;
	enum ra_outcome	 outcome;	/* RA_DONE, RA_NOT_FOUND, RA_DUPLICATE */
	char		 id[24];
	char		 email[RA_EMAIL_MAX + 1];	/* the account's, now */
};

/*
 * Opens a link: the account's own address verified, or its pending change
 * to the link's new_email made (ra_email_change_complete_locked, change.c).
 * A change to an address another account holds by now uses the link up
 * and commits that alone (RA_DUPLICATE, rc 0); one that meets a concurrent
 * registration of the address on the unique index rolls back (RA_DUPLICATE,
 * rc -1: the link stays, and fails the same way when opened again).
 */
static int
ra_verify_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX], vid[24];
	struct ra_verify_txn *t = arg;
	const char *v[2];
	PGresult *res = NULL;
	json_t *details = NULL;
	int rc = -1, k;

	t->outcome = RA_DONE;
	v[0] = t->digest;
	if ((res = db_exec(db, &stmt_verification_find, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		t->outcome = RA_NOT_FOUND;
		goto out;
	}
	snprintf(t->id, sizeof(t->id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	v[0] = t->id;
	if ((res = db_exec(db, &stmt_verification_account, v, NULL,
	    NULL)) == NULL || PQntuples(res) != 1)
		goto out;
	snprintf(t->email, sizeof(t->email), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	v[0] = t->digest;
	v[1] = t->id;
	if ((res = db_exec(db, &stmt_verification_claim, v, NULL,
	    NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		/* Voided or used while this waited for the account's lock. */
		t->outcome = RA_NOT_FOUND;
		goto out;
	}
	snprintf(vid, sizeof(vid), "%s", PQgetvalue(res, 0, 0));
	if (!PQgetisnull(res, 0, 1)) {
		snprintf(t->email, sizeof(t->email), "%s",
		    PQgetvalue(res, 0, 1));
		k = ra_email_change_complete_locked(db, t->id, vid, t->email,
		    t->client);
		if (k == RA_EMAIL_CHANGE_TAKEN || k == RA_EMAIL_CHANGE_RACED)
			t->outcome = RA_DUPLICATE;
		if (k == 0 || k == RA_EMAIL_CHANGE_TAKEN)
			rc = 0;		/* TAKEN: the used link commits */
		goto out;
	}
	v[0] = t->id;
	if (db_exec_ok(db, &stmt_account_verified, v) == -1)
		goto out;
	if ((details = json_pack("{s:s}", "client", t->client)) == NULL)
		goto out;
	if (audit_append(db, ra_actor(actor, t->id), "ra.account.verify_email",
	    "ra_account", t->id, details, NULL) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

/*
 * Uses up the verification token tok: 1 verified (the account's own address,
 * or a pending change made; *id and email set), 0 no pending verification
 * for it (unknown, expired or used), 2 a pending change to an address
 * another account holds by now (nothing changed), -1 an error.
 */
static int
ra_verify_email_token(struct ra *ra, const unsigned char tok[RA_TOKEN_BYTES],
    const char *client, char id[24], char email[RA_EMAIL_MAX + 1])
{
	struct ra_verify_txn t;
	int rc = -1, k;

	memset(&t, 0, sizeof(t));
	if ((t.digest = ra_token_digest(tok)) == NULL)
		return -1;
	t.client = client;
	k = db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_verify_txn, &t);
	/*
	 * RA_DUPLICATE with the transaction failed for the database (the
	 * COMMIT of the used link given up, the server gone): nothing was
	 * recorded, and the client may try again (-1: 503, Retry-After), not
	 * the final 409 of a link used up.
	 */
	if (t.outcome == RA_DUPLICATE && !(k == -1 && db_unavailable())) {
		log_info("verify-email: account %s: the address of its pending "
		    "change is another account's now; not changed", t.id);
		rc = 2;
		goto out;
	}
	if (k == -1) {
		if (t.outcome == RA_NOT_FOUND)
			rc = 0;
		goto out;
	}
	log_info("verify-email: account %s verified", t.id);
	snprintf(id, 24, "%s", t.id);
	snprintf(email, RA_EMAIL_MAX + 1, "%s", t.email);
	rc = 1;
out:
	free(t.digest);
	return rc;
}

int
ra_verify_email(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_token_req r;
	char detail[256], id[24], email[RA_EMAIL_MAX + 1];
	json_t *o = NULL;
	int rc = -1, v;

	if (!ra_is_json(req))
		return ra_problem(resp, 415, "the body must be application/json");
	if (ra_parse_token(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1)
		return ra_problem(resp, 400, detail);
	v = ra_verify_email_token(ra, r.token, req->remote_addr, id, email);
	ra_wipe(&r, sizeof(r));
	if (v == 0)
		return ra_problem(resp, 404, "no pending verification for this "
		    "token: unknown, expired or already used");
	if (v == 2)
		return ra_problem(resp, 409, "another account holds this "
		    "email address now; the address was not changed");
	if (v == 1 && (o = json_pack("{s:I, s:s, s:b}", "id",
	    (json_int_t)strtoll(id, NULL, 10), "email", email,
	    "email_verified", 1)) != NULL)
		rc = http_respond_json(resp, 200, o);
	json_decref(o);
	return rc;
}

/* --- POST /v1/verify-email/resend ------------------------------------------- */

struct ra_resend_txn {
	struct ra		*ra;
	const char		*account_id;
	const char		*client;
	enum ra_outcome		 outcome;
	long			 retry_after;	/* RA_LOCKED */
	char			 email[RA_EMAIL_MAX + 1];
};

/*
 * A new verification link for the session's unverified account, mailed to
 * its address before COMMIT; the links mailed before are voided. At most
 * email_verification.per_hour links an hour and per_day a day (the
 * registration's counts), counted in PostgreSQL so that it holds across rad
 * processes.
 */
static int
ra_resend_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX];
	struct ra_resend_txn *t = arg;
	const char *v[1];
	PGresult *res = NULL;
	json_t *details = NULL;
	int rc = -1, k;

	t->outcome = RA_DONE;
	v[0] = t->account_id;
	if ((res = db_exec(db, &stmt_resend_account, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	snprintf(t->email, sizeof(t->email), "%s", PQgetvalue(res, 0, 0));
	if (strcmp(PQgetvalue(res, 0, 1), "t") == 0) {
		t->outcome = RA_ALREADY;
		goto out;
	}
	if ((k = ra_verify_link_quota_locked(t->ra, db, t->account_id,
	    &t->retry_after)) != 1) {
		if (k == 0)
			t->outcome = RA_LOCKED;
		goto out;
	}
	PQclear(res);
	if ((res = db_exec(db, &stmt_resend_void, v, NULL, NULL)) == NULL)
		goto out;
	if ((details = json_pack("{s:s, s:I}", "client", t->client,
	    "links_voided", (json_int_t)strtoll(PQcmdTuples(res), NULL,
	    10))) == NULL ||
	    audit_append(db, ra_actor(actor, t->account_id),
	    "ra.account.verify_resend", "ra_account", t->account_id, details,
	    NULL) == -1)
		goto out;
	if ((k = ra_verify_link_send(t->ra, db, t->account_id, t->email, 0,
	    "Verify your email address", "A new link, as you asked; links "
	    "mailed before no longer work.\r\n\r\n")) != 0) {
		if (k == RA_LINK_MAIL_FAILED)
			t->outcome = RA_MAIL_FAILED;
		goto out;
	}
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

int
ra_verify_email_resend(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	struct ra_resend_txn t;
	json_t *o = NULL;
	int rc, k;

	if ((k = ra_session_account(ra, req, resp, &who)) != 1)
		return k;
	if (req->body_len > 0)
		return ra_problem(resp, 400, "this request takes no body");
	memset(&t, 0, sizeof(t));
	t.ra = ra;
	t.account_id = who.account_id;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_resend_txn,
	    &t) == -1) {
		switch (t.outcome) {
		case RA_ALREADY:
			return ra_problem(resp, 409, "the email address of this "
			    "account is verified (a new link for a pending "
			    "address change: POST /v1/email again)");
		case RA_LOCKED:
			return ra_too_many(resp, t.retry_after, "too many "
			    "verification links (policy email_verification "
			    "per_hour, per_day); try again later");
		case RA_MAIL_FAILED:
			http_add_header(resp, "Retry-After", "60");
			return ra_problem(resp, 503, "the verification email "
			    "could not be sent; nothing was stored");
		default:
			return -1;
		}
	}
	log_info("verify-email: account %s: a new link sent", who.account_id);
	if ((o = json_pack("{s:s, s:I}", "email", t.email, "expires_in",
	    (json_int_t)ra->policy->verify_ttl_s)) == NULL)
		return -1;
	rc = http_respond_json(resp, 202, o);
	json_decref(o);
	return rc;
}

/*
 * The link in the verification mail (ra.verify_url's default) for people
 * without an app: GET shows a page whose button POSTs the token, so that a
 * mail scanner fetching links does not verify anything; the POST verifies.
 */
static int
ra_html(struct http_response *resp, int status, const char *text,
    const char *token)
{
	char page[1024];
	int n;

	n = snprintf(page, sizeof(page), "<!DOCTYPE html>\n<html lang=\"en\">"
	    "<head><meta charset=\"utf-8\"><title>Email verification</title>"
	    "</head><body><p>%s</p>%s%s%s</body></html>\n", text,
	    token != NULL ? "<form method=\"post\" action=\"/verify-email\">"
	    "<input type=\"hidden\" name=\"token\" value=\"" : "",
	    token != NULL ? token : "", token != NULL ? "\"><button type="
	    "\"submit\">Verify my email address</button></form>" : "");
	if (n < 0 || (size_t)n >= sizeof(page) ||
	    http_add_header(resp, "Cache-Control", "no-store") == -1 ||
	    http_add_header(resp, "Referrer-Policy", "no-referrer") == -1 ||
	    http_add_header(resp, "Content-Security-Policy", "default-src "
	    "'none'; form-action 'self'; frame-ancestors 'none'") == -1)
		return -1;
	return http_respond(resp, status, "text/html; charset=utf-8", page,
	    (size_t)n);
}

int
ra_token_field(const char *s, size_t len, unsigned char tok[RA_TOKEN_BYTES],
    char text[RA_TOKEN_B64_LEN + 1])
{
	if (len != 6 + RA_TOKEN_B64_LEN || strncmp(s, "token=", 6) != 0)
		return -1;
	memcpy(text, s + 6, RA_TOKEN_B64_LEN);
	text[RA_TOKEN_B64_LEN] = '\0';
	return ra_token_decode(text, tok);
}

int
ra_verify_email_page(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	unsigned char tok[RA_TOKEN_BYTES];
	char q[128], text[RA_TOKEN_B64_LEN + 1];
	int rc;

	(void)ra;
	if (http_query(req, q, sizeof(q)) == -1 ||
	    ra_token_field(q, strlen(q), tok, text) == -1)
		return ra_html(resp, 400, "This verification link is not valid: "
		    "copy the whole link from the mail.", NULL);
	rc = ra_html(resp, 200, "Confirm the email address of your account.",
	    text);
	OPENSSL_cleanse(tok, sizeof(tok));
	OPENSSL_cleanse(text, sizeof(text));
	return rc;
}

int
ra_verify_email_form(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	unsigned char tok[RA_TOKEN_BYTES];
	char text[RA_TOKEN_B64_LEN + 1], id[24], email[RA_EMAIL_MAX + 1];
	int v;

	if (!http_media_type_is(req, "application/x-www-form-urlencoded"))
		return ra_problem(resp, 415, "the body must be "
		    "application/x-www-form-urlencoded");
	if (ra_token_field((const char *)req->body, req->body_len, tok,
	    text) == -1)
		return ra_html(resp, 400, "This verification link is not valid: "
		    "copy the whole link from the mail.", NULL);
	v = ra_verify_email_token(ra, tok, req->remote_addr, id, email);
	OPENSSL_cleanse(tok, sizeof(tok));
	OPENSSL_cleanse(text, sizeof(text));
	if (v == -1)
		return -1;
	if (v == 2)
		return ra_html(resp, 409, "Another account uses this email "
		    "address now: the address of your account was not "
		    "changed.", NULL);
	return v == 1 ? ra_html(resp, 200, "Your email address is verified. "
	    "You can go back to the app.", NULL) : ra_html(resp, 404, "This "
	    "link has expired or was already used: ask the app for a new "
	    "one.", NULL);
}

/* --- sessions ---------------------------------------------------------------- */

struct ra_login_txn {
	struct ra		*ra;
	struct ra_login_req	*req;
	const char		*client;
	enum ra_outcome		 outcome;
	long			 retry_after;
	char			 id[24];
	char			 session_id[24];
	char			 token[RA_TOKEN_B64_LEN + 1];
	char			 expires[40];
};

static int
ra_login_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX];
	struct ra_login_txn *t = arg;
	const struct ra_policy *p = t->ra->policy;
	const char *v[4];
	char failed_s[24], lock_s[24], ttl[24], *digest = NULL;
	PGresult *res = NULL, *res2 = NULL;
	json_t *details = NULL;
	long failed, lock;
	int rc = -1, ok;

	t->outcome = RA_DONE;
	v[0] = t->req->email;
	if ((res = db_exec(db, &stmt_login_account, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		/* Unknown email: spend the same time, change nothing. */
		(void)argon2id_verify(t->ra->dummy_hash, t->req->password,
		    strlen(t->req->password));
		t->outcome = RA_BAD_CREDENTIALS;
		rc = 0;
		goto out;
	}
	snprintf(t->id, sizeof(t->id), "%s", PQgetvalue(res, 0, 0));
	if ((t->retry_after = strtol(PQgetvalue(res, 0, 3), NULL, 10)) > 0) {
		t->outcome = RA_LOCKED;	/* no attempt while locked */
		rc = 0;
		goto out;
	}
	ok = argon2id_verify(PQgetvalue(res, 0, 1), t->req->password,
	    strlen(t->req->password)) == ARGON2_OK;
	if (!ok) {
		failed = strtol(PQgetvalue(res, 0, 2), NULL, 10) + 1;
		lock = lockout_seconds(p->lockout_threshold,
		    p->lockout_base_s, p->lockout_max_s, failed);
		snprintf(failed_s, sizeof(failed_s), "%ld", failed);
		snprintf(lock_s, sizeof(lock_s), "%ld", lock);
		v[0] = t->id;
		v[1] = failed_s;
		v[2] = lock_s;
		if (db_exec_ok(db, &stmt_login_failed, v) == -1)
			goto out;
		if ((details = json_pack("{s:s, s:I}", "client", t->client,
		    "failed_logins", (json_int_t)failed)) == NULL ||
		    audit_append(db, "subscriber:unauthenticated",
		    "ra.login.failed", "ra_account", t->id, details, NULL) == -1)
			goto out;
		if (lock > 0) {
			json_decref(details);
			if ((details = json_pack("{s:I, s:I}", "failed_logins",
			    (json_int_t)failed, "locked_seconds",
			    (json_int_t)lock)) == NULL ||
			    audit_append(db, "ra:lockout", "ra.account.lock",
			    "ra_account", t->id, details, NULL) == -1)
				goto out;
			log_info("login: account %s locked for %ld s after %ld "
			    "failures", t->id, lock, failed);
		}
		t->outcome = RA_BAD_CREDENTIALS;
		rc = 0;
		goto out;
	}
	v[0] = t->id;
	if (db_exec_ok(db, &stmt_login_ok, v) == -1)
		goto out;
	if (ra_token_new(t->token, &digest) == -1)
		goto out;
	snprintf(ttl, sizeof(ttl), "%ld", p->session_ttl_s);
	v[0] = t->id;
	v[1] = digest;
	v[2] = t->client;
	v[3] = ttl;
	if ((res2 = db_exec(db, &stmt_session_insert, v, NULL, NULL)) == NULL ||
	    PQntuples(res2) != 1)
		goto out;
	snprintf(t->session_id, sizeof(t->session_id), "%s",
	    PQgetvalue(res2, 0, 0));
	snprintf(t->expires, sizeof(t->expires), "%s", PQgetvalue(res2, 0, 1));
	if ((details = json_pack("{s:s, s:s}", "client", t->client,
	    "account_id", t->id)) == NULL ||
	    audit_append(db, ra_actor(actor, t->id), "ra.session.login", "ra_session",
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

/* Wipes the token member of a reply before it is freed. */
static void
ra_wipe_json_token(json_t *o)
{
	json_t *s = json_object_get(o, "token");

	if (s != NULL && json_is_string(s))
		ra_wipe((char *)json_string_value(s), json_string_length(s));
}

int
ra_login(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_login_req r;
	struct ra_login_txn t;
	char detail[256];
	json_t *o = NULL;
	long wait;
	int rc = -1, h;

	memset(&r, 0, sizeof(r));
	memset(&t, 0, sizeof(t));
	if ((wait = ra_ratelimit_hit(ra->rl_login, req->remote_addr,
	    time(NULL))) > 0) {
		rc = ra_too_many(resp, wait, "too many log-in attempts from this "
		    "address; try again later");
		goto out;
	}
	if (!ra_is_json(req)) {
		rc = ra_problem(resp, 415, "the body must be application/json");
		goto out;
	}
	if (ra_parse_login(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1) {
		rc = ra_problem(resp, 400, detail);
		goto out;
	}
	/* Before the Argon2id run: a 503 when too many run (common.c). */
	if ((h = ra_hash_admit(ra, 1, resp)) != 1) {
		rc = h;
		goto out;
	}
	t.ra = ra;
	t.req = &r;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_login_txn,
	    &t) == -1)
		goto out;
	switch (t.outcome) {
	case RA_BAD_CREDENTIALS:
		rc = ra_problem(resp, 401, "wrong email or password");
		goto out;
	case RA_LOCKED:
		rc = ra_too_many(resp, t.retry_after, "this account is locked "
		    "after repeated failed log-ins; try again later");
		goto out;
	default:
		break;
	}
	log_info("login: session %s for account %s", t.session_id, t.id);
	if ((o = json_pack("{s:s, s:s, s:s}", "token", t.token, "token_type",
	    "Bearer", "expires_at", t.expires)) == NULL)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	if (o != NULL) {
		ra_wipe_json_token(o);
		json_decref(o);
	}
	ra_wipe(&t, sizeof(t));
	ra_wipe(&r, sizeof(r));
	return rc;
}

struct ra_logout_txn {
	char		*digest;
	const char	*client;
	enum ra_outcome	 outcome;
	char		 id[24];
};

static int
ra_logout_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX];
	struct ra_logout_txn *t = arg;
	const char *v[1];
	PGresult *res = NULL;
	json_t *details = NULL;
	int rc = -1;

	t->outcome = RA_DONE;
	v[0] = t->digest;
	if ((res = db_exec(db, &stmt_session_revoke, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		t->outcome = RA_BAD_CREDENTIALS;
		goto out;
	}
	snprintf(t->id, sizeof(t->id), "%s", PQgetvalue(res, 0, 0));
	if ((details = json_pack("{s:s, s:s}", "client", t->client,
	    "account_id", PQgetvalue(res, 0, 1))) == NULL ||
	    audit_append(db, ra_actor(actor, PQgetvalue(res, 0, 1)), "ra.session.logout",
	    "ra_session", t->id, details, NULL) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

int
ra_logout(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_logout_txn t;
	const char *detail;
	int rc = -1;

	memset(&t, 0, sizeof(t));
	if (req->body_len > 0) {
		rc = ra_problem(resp, 400, "log-out takes no body");
		goto out;
	}
	if ((t.digest = ra_bearer(req, &detail)) == NULL) {
		rc = ra_unauthorized(resp, detail);
		goto out;
	}
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_logout_txn,
	    &t) == -1) {
		if (t.outcome == RA_BAD_CREDENTIALS)
			rc = ra_unauthorized(resp, "unknown, expired or revoked "
			    "token");
		goto out;
	}
	log_info("logout: session %s revoked", t.id);
	rc = http_respond(resp, 204, NULL, NULL, 0);
out:
	free(t.digest);
	return rc;
}

int
ra_me(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	const char *v[1], *detail;
	char *digest = NULL;
	PGresult *res = NULL;
	json_t *o = NULL;
	int rc = -1;

	if ((digest = ra_bearer(req, &detail)) == NULL) {
		rc = ra_unauthorized(resp, detail);
		goto out;
	}
	v[0] = digest;
	if ((res = db_exec(ra->db, &stmt_me, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		rc = ra_unauthorized(resp, "unknown, expired or revoked token");
		goto out;
	}
	if ((o = json_pack("{s:I, s:s, s:s, s:b, s:b, s:s, s:s}", "id",
	    (json_int_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10), "email",
	    PQgetvalue(res, 0, 1), "phone", PQgetvalue(res, 0, 2),
	    "email_verified", strcmp(PQgetvalue(res, 0, 3), "t") == 0,
	    "phone_verified", strcmp(PQgetvalue(res, 0, 4), "t") == 0,
	    "created_at", PQgetvalue(res, 0, 5), "session_expires_at",
	    PQgetvalue(res, 0, 6))) == NULL)
		goto out;
	/* The address of a pending change (POST /v1/email), if any. */
	if (json_object_set_new(o, "pending_email", PQgetisnull(res, 0, 7) ?
	    json_null() : json_string(PQgetvalue(res, 0, 7))) == -1)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	json_decref(o);
	PQclear(res);
	free(digest);
	return rc;
}

/* --- start-up ------------------------------------------------------------------ */

int
ra_account_init(struct ra *ra)
{
	static const char dummy[] = "not a password of anybody";

	return ra_password_hash(ra->policy, dummy, ra->dummy_hash,
	    sizeof(ra->dummy_hash));
}
