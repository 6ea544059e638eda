/*
 * The sensitive account changes (issue 3), each authorized by a second
 * factor (ra_factor_check, extern.h) of its own purpose:
 *
 *	POST /v1/password	change_password: the current password too;
 *				Argon2id; every other session revoked,
 *				pending password reset tokens voided
 *	POST /v1/email		change_email: the new address is pending
 *				(the account keeps its own) until the link
 *				mailed to it is opened; at most the
 *				email_verification links an hour and a day
 *	POST /v1/phone		change_phone: the new number is unverified
 *				until POST /v1/phone/verify
 *
 * Each change, its audit event and its notice to the account's address
 * (the old one for an email change, when its link is opened) commit in one
 * transaction; a refused
 * request changes nothing but the failure counters (a wrong factor, a wrong
 * current password) and queues no notice. The notice is queued in the mail
 * outbox (ra_mail_queue, schema/033), not sent while the client waits: the
 * notifier sends it and retries it with back-off, so a mail server or sink
 * that fails at the moment of the change delays the notice, never loses it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <argon2.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "lib/audit.h"
#include "lib/db.h"
#include "lib/http.h"
#include "lib/log.h"
#include "ra/extern.h"

static const struct db_stmt stmt_pw_account = {
	"ra_password_change_account",
	"SELECT password_hash, failed_logins, "
	"coalesce(ceil(extract(epoch FROM locked_until - now())), 0)::bigint, "
	"email FROM ra_account WHERE id = $1 FOR UPDATE",
	1
};
static const struct db_stmt stmt_pw_failed = {
	"ra_password_change_failed",
	"UPDATE ra_account SET failed_logins = $2::int, locked_until = CASE "
	"WHEN $3::int > 0 THEN now() + make_interval(secs => $3::int) "
	"ELSE locked_until END WHERE id = $1",
	3
};
static const struct db_stmt stmt_pw_update = {
	"ra_password_change_update",
	"UPDATE ra_account SET password_hash = $2, failed_logins = 0, "
	"locked_until = NULL WHERE id = $1",
	2
};
static const struct db_stmt stmt_pw_sessions = {
	"ra_password_change_sessions_revoke",
	"UPDATE ra_session SET revoked_at = now() WHERE account_id = $1 "
	"AND id <> $2 AND revoked_at IS NULL AND expires_at > now() "
	"RETURNING id",
	2
};
/*
 * The request: the account locked first (the link quota counts under it,
 * as the resend's), then the factor, then whether an account holds the
 * address (a pending change of another account does not count: it holds
 * nothing).
 */
static const struct db_stmt stmt_email_account = {
	"ra_email_change_account",
	"SELECT email, email_verified FROM ra_account WHERE id = $1 FOR UPDATE",
	1
};
static const struct db_stmt stmt_email_taken = {
	"ra_email_change_taken",
	"SELECT 1 FROM ra_account WHERE email = $1",
	1
};
/* Every live link of the account: a newer request replaces a pending one. */
static const struct db_stmt stmt_email_supersede = {
	"ra_email_change_supersede",
	"UPDATE ra_email_verification SET used_at = now() "
	"WHERE account_id = $1 AND used_at IS NULL AND expires_at > now()",
	1
};
/*
 * The link opened (ra_email_change_complete_locked): the account's row is
 * locked, so no other request of the account runs; whether another account
 * holds the address by now is checked in a statement of its own (READ
 * COMMITTED: a registration that committed during the lock wait is seen).
 */
static const struct db_stmt stmt_email_complete_taken = {
	"ra_email_complete_taken",
	"SELECT 1 FROM ra_account WHERE email = $1 AND id <> $2",
	2
};
static const struct db_stmt stmt_email_complete_update = {
	"ra_email_complete_update",
	"UPDATE ra_account a SET email = $2, email_verified = true, "
	"email_verified_at = now() FROM (SELECT id, email, email_verified "
	"FROM ra_account WHERE id = $1) o WHERE a.id = o.id "
	"RETURNING o.email, o.email_verified",
	2
};
static const struct db_stmt stmt_email_complete_links = {
	"ra_email_complete_links",
	"UPDATE ra_email_verification SET used_at = now() "
	"WHERE account_id = $1 AND used_at IS NULL",
	1
};
/* The account's pending address changes (ra_email_pending_void). */
static const struct db_stmt stmt_email_pending_void = {
	"ra_email_pending_void",
	"UPDATE ra_email_verification SET used_at = now() "
	"WHERE account_id = $1 AND new_email IS NOT NULL AND used_at IS NULL "
	"AND expires_at > now()",
	1
};
/* Password reset tokens mailed to the old address (reset.c, schema/045). */
static const struct db_stmt stmt_email_resets_void = {
	"ra_email_change_resets_void",
	"UPDATE ra_password_reset SET used_at = now() "
	"WHERE account_id = $1 AND used_at IS NULL",
	1
};
/*
 * The same after a new password (schema/048): a reset asked for before
 * must not undo it (their mails, if not sent yet, are given up).
 */
static const struct db_stmt stmt_pw_resets_void = {
	"ra_password_change_resets_void",
	"UPDATE ra_password_reset SET used_at = now() "
	"WHERE account_id = $1 AND used_at IS NULL AND expires_at > now()",
	1
};
/*
 * Codes sent to the old address or number must not authorize anything
 * after the change (whoever holds the old phone or mailbox may not be the
 * account's owner any more; a phone_verify code would verify the new
 * number): every live code of the channel is spent (attempts =
 * max_attempts, "dead": 401 if used) in the change's transaction. The send
 * path locks the account row and reads the address under that lock, so
 * no code for the old address commits later. The code that authorized
 * the change is consumed by then and left alone.
 */
static const struct db_stmt stmt_email_otps_void = {
	"ra_email_change_otps_void",
	"UPDATE ra_otp SET attempts = max_attempts WHERE account_id = $1 AND "
	"channel = 'email' AND consumed_at IS NULL AND "
	"attempts < max_attempts AND expires_at > now()",
	1
};
/* The same for SMS codes; returns how many of them were phone_verify's. */
static const struct db_stmt stmt_phone_otps_void = {
	"ra_phone_change_otps_void",
	"WITH voided AS (UPDATE ra_otp SET attempts = max_attempts "
	"WHERE account_id = $1 AND channel = 'sms' AND consumed_at IS NULL "
	"AND attempts < max_attempts AND expires_at > now() RETURNING purpose) "
	"SELECT count(*) FILTER (WHERE purpose = 'phone_verify') FROM voided",
	1
};
static const struct db_stmt stmt_phone_update = {
	"ra_phone_change_update",
	"UPDATE ra_account a SET phone = $2, phone_verified = false, "
	"phone_verified_at = NULL FROM (SELECT id, phone, email FROM ra_account "
	"WHERE id = $1) o WHERE a.id = o.id AND o.phone <> $2 "
	"RETURNING o.phone, o.email",
	2
};

enum ra_change_outcome {
	RA_CHANGE_DONE = 0,
	RA_CHANGE_FACTOR,	/* ra_factor_respond() */
	RA_CHANGE_BAD_PASSWORD,	/* 401 */
	RA_CHANGE_LOCKED,	/* 429 */
	RA_CHANGE_DUPLICATE,	/* 409 */
	RA_CHANGE_SAME,		/* 409 */
	RA_CHANGE_MAIL_FAILED,	/* 503 */
	RA_CHANGE_RATE,		/* 429 with retry_after */
};

struct ra_change_txn {
	struct ra			*ra;
	const struct ra_subject		*who;
	const struct factor		*factor;
	const char			*client;
	const char			*value;	/* new email, phone or password */
	const char			*current;	/* current password */
	enum ra_change_outcome		 outcome;
	struct factor_outcome	 fo;
	long				 retry_after;
	long				 revoked;
	int				 verified;	/* email's */
	char				 email[RA_EMAIL_MAX + 1];	/* old */
	char				 hash[256];	/* of the new password */
};

/* The factor of the change; 1: verified; 0: refused (commit); -1: failure. */
static int
ra_change_factor(struct db *db, struct ra_change_txn *t, const char *purpose)
{
	if (ra_factor_check(t->ra, db, t->who->account_id, purpose, t->factor,
	    &t->fo) == -1)
		return -1;
	if (t->fo.result != FACTOR_OK) {
		t->outcome = RA_CHANGE_FACTOR;
		return 0;
	}
	return 1;
}

/* {factor, otp_id (an OTP's), client} plus the caller's members. */
static json_t *
ra_change_details(const struct ra_change_txn *t)
{
	json_t *d;

	if ((d = json_pack("{s:s, s:s}", "factor", t->fo.kind, "client",
	    t->client)) == NULL)
		return NULL;
	if (t->fo.otp_id > 0 && json_object_set_new(d, "otp_id",
	    json_integer((json_int_t)t->fo.otp_id)) == -1) {
		json_decref(d);
		return NULL;
	}
	return d;
}

/*
 * The notices (the text says what changed, never a secret). Each is queued
 * with ra_mail_queue in the change's transaction, to the account's address
 * before the change: it commits or rolls back with the change.
 */
#define RA_NOTICE_PASSWORD_SUBJECT	"Your password was changed"
#define RA_NOTICE_PASSWORD_BODY		"The password of your account was " \
	"changed, and every other session was logged out.\r\n\r\nIf you did " \
	"not do this, contact us at once.\r\n"
#define RA_NOTICE_EMAIL_SUBJECT		"Your email address was changed"
#define RA_NOTICE_PHONE_SUBJECT		"Your phone number was changed"
#define RA_NOTICE_PHONE_BODY		"The phone number of your account " \
	"was changed. It must be verified again by SMS.\r\n\r\nIf you did not " \
	"do this, contact us at once.\r\n"

/*
 * Queues the notice of an email change to the old address, naming the new
 * one, in db's transaction. 0 or -1.
 */
static int
ra_email_notice(struct db *db, const char *old, const char *new)
{
	char *body = NULL;
	int rc;

	if (asprintf(&body, "The email address of your account was changed to "
	    "%s.\r\n\r\nIf you did not do this, contact us at once.\r\n",
	    new) == -1) {
		log_err("email: asprintf: out of memory");
		return -1;
	}
	rc = ra_mail_queue(db, old, RA_NOTICE_EMAIL_SUBJECT, body);
	free(body);
	return rc;
}

/* --- POST /v1/password ----------------------------------------------------------- */

/*
 * The current password is checked first: a wrong one counts toward the
 * log-in lock-out (failed_logins, policy [lockout]) as a failed log-in
 * would, so a stolen session cannot guess it for free; the factor is not
 * tried then (an OTP stays usable). The new password is hashed only after
 * both passed, in the transaction (as ra_pin_txn, factor.c): a locked
 * account, a wrong current password or a refused factor costs no Argon2id
 * of the new one. The hash survives a retry of the transaction. Pending
 * password reset tokens and address changes are voided with the change,
 * and its notice queued.
 */
static int
ra_password_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX];
	struct ra_change_txn *t = arg;
	const char *v[3];
	char failed_s[24], lock_s[24];
	PGresult *res = NULL, *res2 = NULL;
	json_t *details = NULL;
	long failed, lock, pending;
	int rc = -1, r;

	t->outcome = RA_CHANGE_DONE;
	v[0] = t->who->account_id;
	if ((res = db_exec(db, &stmt_pw_account, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	snprintf(t->email, sizeof(t->email), "%s", PQgetvalue(res, 0, 3));
	if ((t->retry_after = strtol(PQgetvalue(res, 0, 2), NULL, 10)) > 0) {
		t->outcome = RA_CHANGE_LOCKED;
		goto out;
	}
	if (argon2id_verify(PQgetvalue(res, 0, 0), t->current,
	    strlen(t->current)) != ARGON2_OK) {
		failed = strtol(PQgetvalue(res, 0, 1), NULL, 10) + 1;
		lock = lockout_seconds(t->ra->policy->lockout_threshold,
		    t->ra->policy->lockout_base_s, t->ra->policy->lockout_max_s, failed);
		snprintf(failed_s, sizeof(failed_s), "%ld", failed);
		snprintf(lock_s, sizeof(lock_s), "%ld", lock);
		v[1] = failed_s;
		v[2] = lock_s;
		if (db_exec_ok(db, &stmt_pw_failed, v) == -1)
			goto out;
		if ((details = json_pack("{s:s, s:I}", "client", t->client,
		    "failed_logins", (json_int_t)failed)) == NULL ||
		    audit_append(db, ra_actor(actor, t->who->account_id),
		    "ra.account.password_failed", "ra_account",
		    t->who->account_id, details, NULL) == -1)
			goto out;
		if (lock > 0) {
			json_decref(details);
			if ((details = json_pack("{s:I, s:I}", "failed_logins",
			    (json_int_t)failed, "locked_seconds",
			    (json_int_t)lock)) == NULL ||
			    audit_append(db, "ra:lockout", "ra.account.lock",
			    "ra_account", t->who->account_id, details,
			    NULL) == -1)
				goto out;
		}
		t->outcome = RA_CHANGE_BAD_PASSWORD;
		rc = 0;		/* commit the count, nothing else */
		goto out;
	}
	if ((r = ra_change_factor(db, t, "change_password")) != 1) {
		rc = r;
		goto out;
	}
	if (t->hash[0] == '\0' && ra_password_hash(t->ra->policy, t->value,
	    t->hash, sizeof(t->hash)) == -1)
		goto out;
	v[1] = t->hash;
	if (db_exec_ok(db, &stmt_pw_update, v) == -1)
		goto out;
	v[1] = t->who->session_id;
	if ((res2 = db_exec(db, &stmt_pw_sessions, v, NULL, NULL)) == NULL)
		goto out;
	t->revoked = PQntuples(res2);
	PQclear(res2);
	if ((res2 = db_exec(db, &stmt_pw_resets_void, v, NULL, NULL)) == NULL ||
	    (pending = ra_email_pending_void(db, t->who->account_id)) == -1)
		goto out;
	if ((details = ra_change_details(t)) == NULL ||
	    json_object_set_new(details, "email_changes_voided",
	    json_integer(pending)) == -1 ||
	    json_object_set_new(details, "sessions_revoked",
	    json_integer(t->revoked)) == -1 ||
	    json_object_set_new(details, "resets_voided", json_integer(strtol(
	    PQcmdTuples(res2), NULL, 10))) == -1 ||
	    audit_append(db, ra_actor(actor, t->who->account_id), "ra.account.password_change",
	    "ra_account", t->who->account_id, details, NULL) == -1 ||
	    ra_mail_queue(db, t->email, RA_NOTICE_PASSWORD_SUBJECT,
	    RA_NOTICE_PASSWORD_BODY) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	PQclear(res2);
	PQclear(res);
	return rc;
}

long
ra_email_pending_void(struct db *db, const char *account_id)
{
	const char *v[1] = { account_id };
	PGresult *res;
	long n;

	if ((res = db_exec(db, &stmt_email_pending_void, v, NULL, NULL)) == NULL)
		return -1;
	n = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return n;
}

int
ra_password_change(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	struct ra_password_change_req r;
	struct ra_change_txn t;
	char detail[256];
	json_t *o = NULL;
	int rc = -1, a;

	memset(&r, 0, sizeof(r));
	memset(&t, 0, sizeof(t));
	if ((a = ra_subscriber_json(ra, req, resp, &who)) != 1)
		return a;
	if (ra_parse_password_change(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1 ||
	    ra_password_check(ra->policy, r.password, detail,
	    sizeof(detail)) == -1) {
		rc = ra_problem(resp, 400, detail);
		goto out;
	}
	t.ra = ra;
	t.who = &who;
	t.factor = &r.factor;
	t.client = req->remote_addr;
	/* Before the Argon2id runs, the check and the new hash (common.c). */
	if ((a = ra_hash_admit(ra, RA_HASHES_MAX, resp)) != 1) {
		rc = a;
		goto out;
	}
	t.value = r.password;
	t.current = r.current;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_password_txn,
	    &t) == -1) {
		if (t.outcome == RA_CHANGE_LOCKED)
			rc = ra_too_many(resp, t.retry_after, "this account is "
			    "locked after repeated wrong passwords; try again "
			    "later");
		goto out;
	}
	switch (t.outcome) {
	case RA_CHANGE_FACTOR:
		rc = ra_factor_respond(resp, &t.fo);
		goto out;
	case RA_CHANGE_BAD_PASSWORD:
		rc = ra_problem(resp, 401, "current_password: wrong password");
		goto out;
	default:
		break;
	}
	log_info("password: account %s changed its password (authorized by "
	    "%s), %ld other session(s) revoked, notice queued", who.account_id,
	    t.fo.kind, t.revoked);
	if ((o = json_pack("{s:I, s:I}", "id", (json_int_t)strtoll(
	    who.account_id, NULL, 10), "sessions_revoked",
	    (json_int_t)t.revoked)) == NULL)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	ra_wipe(&t, sizeof(t));
	ra_wipe(&r, sizeof(r));
	json_decref(o);
	return rc;
}

/* --- POST /v1/email ---------------------------------------------------------------- */

/*
 * The request: nothing of the account changes but its links. Under the
 * account's row lock, the link quota first (429: nothing tried, nothing
 * changed, rolled back), then the factor, then the address (409 when an
 * account holds it, this one included). The links mailed before are voided
 * (one pending change at a time: a newer request replaces it), the request
 * audited, and a link carrying the new address mailed to it before COMMIT,
 * last: a failed send leaves nothing changed. The account keeps its
 * address, and with it log-in, password reset tokens and email codes, until
 * the link is opened (ra_email_change_complete_locked).
 */
static int
ra_email_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX], m_old[RA_MASK_MAX], m_new[RA_MASK_MAX];
	struct ra_change_txn *t = arg;
	const char *v[1];
	PGresult *res = NULL;
	json_t *details = NULL;
	long voided;
	int rc = -1, r, k;

	t->outcome = RA_CHANGE_DONE;
	v[0] = t->who->account_id;
	if ((res = db_exec(db, &stmt_email_account, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	snprintf(t->email, sizeof(t->email), "%s", PQgetvalue(res, 0, 0));
	t->verified = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);
	res = NULL;
	if ((k = ra_verify_link_quota_locked(t->ra, db, t->who->account_id,
	    &t->retry_after)) != 1) {
		if (k == 0)
			t->outcome = RA_CHANGE_RATE;	/* roll back */
		goto out;
	}
	if ((r = ra_change_factor(db, t, "change_email")) != 1) {
		rc = r;
		goto out;
	}
	v[0] = t->value;
	if ((res = db_exec(db, &stmt_email_taken, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) > 0) {
		t->outcome = RA_CHANGE_DUPLICATE;	/* roll back: OTP unused */
		goto out;
	}
	PQclear(res);
	v[0] = t->who->account_id;
	if ((res = db_exec(db, &stmt_email_supersede, v, NULL, NULL)) == NULL)
		goto out;
	voided = strtol(PQcmdTuples(res), NULL, 10);
	/* Addresses masked in the trail (ra/README.md "Masked identifiers"). */
	ra_mask_email(t->email, m_old, sizeof(m_old));
	ra_mask_email(t->value, m_new, sizeof(m_new));
	if ((details = ra_change_details(t)) == NULL ||
	    json_object_set_new(details, "email", json_string(m_old)) == -1 ||
	    json_object_set_new(details, "new_email",
	    json_string(m_new)) == -1 ||
	    json_object_set_new(details, "links_voided",
	    json_integer(voided)) == -1 ||
	    audit_append(db, ra_actor(actor, t->who->account_id),
	    "ra.account.email_change_request", "ra_account", t->who->account_id,
	    details, NULL) == -1)
		goto out;
	if ((k = ra_verify_link_send(t->ra, db, t->who->account_id, t->value,
	    1, "Confirm your new email address", "You asked to change the "
	    "email address of your account to this one. It changes when you "
	    "open the link below; until then your account keeps its current "
	    "address. If you did not ask for this, ignore this mail.\r\n\r\n"))
	    != 0) {
		if (k == RA_LINK_MAIL_FAILED)
			t->outcome = RA_CHANGE_MAIL_FAILED;
		goto out;
	}
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

int
ra_email_change(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	struct ra_email_change_req r;
	struct ra_change_txn t;
	char detail[256];
	json_t *o = NULL;
	int rc = -1, a;

	memset(&r, 0, sizeof(r));
	memset(&t, 0, sizeof(t));
	if ((a = ra_subscriber_json(ra, req, resp, &who)) != 1)
		return a;
	if (ra_parse_email_change(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1) {
		rc = ra_problem(resp, 400, detail);
		goto out;
	}
	t.ra = ra;
	t.who = &who;
	t.factor = &r.factor;
	t.client = req->remote_addr;
	t.value = r.email;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_email_txn,
	    &t) == -1) {
		if (t.outcome == RA_CHANGE_DUPLICATE)
			rc = ra_problem(resp, 409, "an account with this email "
			    "address exists");
		else if (t.outcome == RA_CHANGE_RATE)
			rc = ra_too_many(resp, t.retry_after, "too many "
			    "verification links (policy email_verification "
			    "per_hour, per_day); try again later");
		else if (t.outcome == RA_CHANGE_MAIL_FAILED) {
			http_add_header(resp, "Retry-After", "60");
			rc = ra_problem(resp, 503, "the verification email could "
			    "not be sent; nothing was changed");
		}
		goto out;
	}
	if (t.outcome == RA_CHANGE_FACTOR) {
		rc = ra_factor_respond(resp, &t.fo);
		goto out;
	}
	log_info("email: account %s asked to change its email address "
	    "(authorized by %s), link mailed to the new address", who.account_id,
	    t.fo.kind);
	if ((o = json_pack("{s:I, s:s, s:b, s:s, s:I}", "id", (json_int_t)strtoll(
	    who.account_id, NULL, 10), "email", t.email, "email_verified",
	    t.verified, "pending_email", r.email, "expires_in",
	    (json_int_t)ra->policy->verify_ttl_s)) == NULL)
		goto out;
	rc = http_respond_json(resp, 202, o);
out:
	ra_wipe(&r, sizeof(r));
	json_decref(o);
	return rc;
}

int
ra_email_change_complete_locked(struct db *db, const char *account_id,
    const char *verification_id, const char *new_email, const char *client)
{
	char actor[RA_ACTOR_MAX], old[RA_EMAIL_MAX + 1];
	char m_old[RA_MASK_MAX], m_new[RA_MASK_MAX];
	const char *v[2];
	PGresult *res = NULL;
	json_t *details = NULL;
	long resets, otps;
	int rc = -1, was_verified;

	v[0] = new_email;
	v[1] = account_id;
	if ((res = db_exec(db, &stmt_email_complete_taken, v, NULL,
	    NULL)) == NULL)
		goto out;
	if (PQntuples(res) > 0) {
		ra_mask_email(new_email, m_new, sizeof(m_new));
		if ((details = json_pack("{s:s, s:s, s:I, s:s}", "client",
		    client, "new_email", m_new, "verification_id",
		    (json_int_t)strtoll(verification_id, NULL, 10), "reason",
		    "another account holds the address")) == NULL ||
		    audit_append(db, ra_actor(actor, account_id),
		    "ra.account.email_change_failed", "ra_account", account_id,
		    details, NULL) == -1)
			goto out;
		rc = RA_EMAIL_CHANGE_TAKEN;
		goto out;
	}
	PQclear(res);
	v[0] = account_id;
	v[1] = new_email;
	if ((res = db_exec(db, &stmt_email_complete_update, v, NULL,
	    NULL)) == NULL || PQntuples(res) != 1) {
		/*
		 * 23505: an account registered with the address after the
		 * check above, and committed while this update waited on the
		 * unique index. Roll back; the link stays, and meets the check
		 * when it is opened again.
		 */
		if (res == NULL && strcmp(db_last_sqlstate(db), "23505") == 0)
			rc = RA_EMAIL_CHANGE_RACED;
		goto out;
	}
	snprintf(old, sizeof(old), "%s", PQgetvalue(res, 0, 0));
	was_verified = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);
	v[0] = account_id;
	if ((res = db_exec(db, &stmt_email_resets_void, v, NULL, NULL)) == NULL)
		goto out;
	resets = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	if ((res = db_exec(db, &stmt_email_otps_void, v, NULL, NULL)) == NULL)
		goto out;
	otps = strtol(PQcmdTuples(res), NULL, 10);
	if (db_exec_ok(db, &stmt_email_complete_links, v) == -1)
		goto out;
	ra_mask_email(old, m_old, sizeof(m_old));
	ra_mask_email(new_email, m_new, sizeof(m_new));
	if ((details = json_pack("{s:s, s:s, s:s, s:b, s:I, s:b, s:I, s:I}",
	    "client", client, "old_email", m_old, "new_email", m_new,
	    "old_email_verified", was_verified, "verification_id",
	    (json_int_t)strtoll(verification_id, NULL, 10), "email_verified",
	    1, "resets_voided", (json_int_t)resets, "otps_voided",
	    (json_int_t)otps)) == NULL ||
	    audit_append(db, ra_actor(actor, account_id),
	    "ra.account.email_change", "ra_account", account_id, details,
	    NULL) == -1)
		goto out;
	/*
	 * The notice goes to the old address when it was verified: an address
	 * never verified (a registration's typo, someone else's) has no
	 * proven owner to tell, and should not learn the new one.
	 */
	if (was_verified && ra_email_notice(db, old, new_email) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

/* --- POST /v1/phone ----------------------------------------------------------------- */

static int
ra_phone_change_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX], m_old[RA_MASK_MAX], m_new[RA_MASK_MAX];
	struct ra_change_txn *t = arg;
	const char *v[2];
	PGresult *res = NULL, *voided = NULL;
	json_t *details = NULL;
	int rc = -1, r;

	t->outcome = RA_CHANGE_DONE;
	if ((r = ra_change_factor(db, t, "change_phone")) != 1) {
		rc = r;
		goto out;
	}
	v[0] = t->who->account_id;
	v[1] = t->value;
	if ((res = db_exec(db, &stmt_phone_update, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		t->outcome = RA_CHANGE_SAME;	/* roll back: OTP unused */
		goto out;
	}
	snprintf(t->email, sizeof(t->email), "%s", PQgetvalue(res, 0, 1));
	if ((voided = db_exec(db, &stmt_phone_otps_void, v, NULL, NULL)) ==
	    NULL || PQntuples(voided) != 1)
		goto out;
	ra_mask_phone(PQgetvalue(res, 0, 0), m_old, sizeof(m_old));
	ra_mask_phone(t->value, m_new, sizeof(m_new));
	if ((details = ra_change_details(t)) == NULL ||
	    json_object_set_new(details, "phone_verify_codes_voided",
	    json_integer(strtol(PQgetvalue(voided, 0, 0), NULL, 10))) == -1 ||
	    json_object_set_new(details, "old_phone",
	    json_string(m_old)) == -1 ||
	    json_object_set_new(details, "new_phone",
	    json_string(m_new)) == -1 ||
	    json_object_set_new(details, "phone_verified", json_false()) == -1 ||
	    audit_append(db, ra_actor(actor, t->who->account_id), "ra.account.phone_change",
	    "ra_account", t->who->account_id, details, NULL) == -1 ||
	    ra_mail_queue(db, t->email, RA_NOTICE_PHONE_SUBJECT,
	    RA_NOTICE_PHONE_BODY) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	PQclear(voided);
	return rc;
}

int
ra_phone_change(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	struct ra_phone_change_req r;
	struct ra_change_txn t;
	char detail[256];
	json_t *o = NULL;
	int rc = -1, a;

	memset(&r, 0, sizeof(r));
	memset(&t, 0, sizeof(t));
	if ((a = ra_subscriber_json(ra, req, resp, &who)) != 1)
		return a;
	if (ra_parse_phone_change(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1) {
		rc = ra_problem(resp, 400, detail);
		goto out;
	}
	t.ra = ra;
	t.who = &who;
	t.factor = &r.factor;
	t.client = req->remote_addr;
	t.value = r.phone;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_phone_change_txn,
	    &t) == -1) {
		if (t.outcome == RA_CHANGE_SAME)
			rc = ra_problem(resp, 409, "phone: this is already the "
			    "account's phone number");
		goto out;
	}
	if (t.outcome == RA_CHANGE_FACTOR) {
		rc = ra_factor_respond(resp, &t.fo);
		goto out;
	}
	log_info("phone: account %s changed its phone number (authorized by "
	    "%s); unverified until POST /v1/phone/verify; notice queued",
	    who.account_id, t.fo.kind);
	if ((o = json_pack("{s:I, s:s, s:b}", "id", (json_int_t)strtoll(
	    who.account_id, NULL, 10), "phone", r.phone, "phone_verified",
	    0)) == NULL)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	ra_wipe(&r, sizeof(r));
	json_decref(o);
	return rc;
}
