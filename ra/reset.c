/*
 * The password reset of a subscriber who forgot the password (issue 3;
 * ra/README.md "Password reset", schema/045, 048):
 *
 *	POST /v1/password/forgot	{email}: 202 whatever the address; for
 *					a verified account a single-use token
 *					(its SHA-256 stored) is mailed
 *	POST /v1/password/reset/otp	{token}: an SMS code of purpose
 *					password_reset to the verified phone
 *	POST /v1/password/reset		{token, new_password, factor?}: the
 *					new password; every session revoked
 *
 * The rule: the mailed token and one second factor the account holds that
 * is not its mailbox: an SMS code to its verified phone, its PIN or a TOTP
 * code (ra_reset_need). An account that holds none of them resets with the
 * token alone, unless it can sign or act for others (an application in
 * progress or certified, a signing credential, a company's sysadmin role):
 * then whoever reads the mailbox alone could take over a key that signs
 * documents, or get one on the owner's identity, and the reset is refused
 * (409: support).
 * The forgot answer is the same for an unknown, an unverified and a
 * verified address, and so is its time as far as the database allows:
 * the mail is queued in the outbox (ra_mail_queue_reset), not sent while
 * the client waits, and a mail server's failure cannot tell which
 * addresses have accounts; the notifier never sends it once its token
 * expired or was used. Nobody but the token's holder acts on the account,
 * so the forgot request and the SMS step are audited as
 * "subscriber:unauthenticated" (account id and client address in the
 * details). Every state change commits with its audit event; the new
 * password is hashed only once the token and the factor passed (as
 * change.c). No token, code or password reaches the log, an audit event
 * or a problem detail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "lib/audit.h"
#include "lib/db.h"
#include "lib/http.h"
#include "lib/log.h"
#include "ra/extern.h"

/* The answer to every well-formed forgot request (no enumeration). */
#define RA_FORGOT_ANSWER	"if a verified account has this email " \
				"address, a password reset link was mailed to it"
/* The actor of what anyone may ask for (as a failed log-in, account.c). */
#define RA_RESET_ACTOR		"subscriber:unauthenticated"

/*
 * forgot: the account of the address, locked so that requests of one
 * account count one at a time; the count in a statement of its own after
 * the lock (READ COMMITTED: it sees the request it waited for): the
 * requests of the last hour and the seconds since the newest.
 */
static const struct db_stmt stmt_forgot_account = {
	"ra_reset_forgot_account",
	"SELECT id, email_verified FROM ra_account WHERE email = $1 FOR UPDATE",
	1
};
static const struct db_stmt stmt_forgot_count = {
	"ra_reset_forgot_count",
	"SELECT count(*), coalesce(floor(extract(epoch FROM now() - "
	"max(created_at))), 3601)::bigint FROM ra_password_reset "
	"WHERE account_id = $1 AND created_at > now() - interval '1 hour'",
	1
};
/* A new request voids no earlier token: each expires on its own. */
static const struct db_stmt stmt_forgot_insert = {
	"ra_reset_forgot_insert",
	"INSERT INTO ra_password_reset (account_id, token_sha256, expires_at) "
	"VALUES ($1, $2::bytea, now() + make_interval(secs => $3::int)) "
	"RETURNING id",
	3
};
/*
 * What the account holds that the reset's rule looks at (ra_reset_need):
 * a verified phone, a PIN, a confirmed TOTP, and whether it can sign or
 * act for others: an application for a certificate neither rejected nor
 * cancelled (agreed or issued: a key in the HSM; submitted or approved:
 * one "I agree", which an email OTP authorizes, from one; a company's
 * application, profile company, certifies no key), a signing credential at
 * signd (schema/014, 020), or the sysadmin role of an active company
 * (enrols employees, asks for their revocation).
 */
static const struct db_stmt stmt_reset_need = {
	"ra_reset_need",
	"SELECT a.phone_verified, a.pin_hash IS NOT NULL, "
	"a.totp_secret_enc IS NOT NULL, EXISTS (SELECT 1 FROM ra_application p "
	"WHERE p.account_id = a.id AND p.status NOT IN ('rejected', "
	"'cancelled') AND p.profile <> 'company') OR EXISTS (SELECT 1 FROM "
	"sign_credential c WHERE c.account_id = a.id) OR EXISTS (SELECT 1 FROM "
	"ra_company_sysadmin_role r WHERE r.account_id = a.id AND "
	"ra_company_active(r.company_id)) "
	"FROM ra_account a WHERE a.id = $1",
	1
};
/*
 * reset: the token's account without a lock, then the account locked
 * (the order of forgot: account, then its tokens), then the token again
 * under that lock, FOR UPDATE: a concurrent reset with the same token
 * waits and then finds it used.
 */
static const struct db_stmt stmt_reset_lookup = {
	"ra_reset_token_account",
	"SELECT account_id FROM ra_password_reset WHERE token_sha256 = $1::bytea "
	"AND used_at IS NULL AND expires_at > now()",
	1
};
static const struct db_stmt stmt_reset_account = {
	"ra_reset_account_lock",
	"SELECT email, email_verified FROM ra_account WHERE id = $1 FOR UPDATE",
	1
};
static const struct db_stmt stmt_reset_claim = {
	"ra_reset_token_claim",
	"SELECT id FROM ra_password_reset WHERE token_sha256 = $1::bytea "
	"AND account_id = $2 AND used_at IS NULL AND expires_at > now() "
	"FOR UPDATE",
	2
};
/* The new password; the log-in lock-out lifted (the owner proved it). */
static const struct db_stmt stmt_reset_password = {
	"ra_reset_password_update",
	"UPDATE ra_account SET password_hash = $2, failed_logins = 0, "
	"locked_until = NULL WHERE id = $1",
	2
};
static const struct db_stmt stmt_reset_sessions = {
	"ra_reset_sessions_revoke",
	"UPDATE ra_session SET revoked_at = now() WHERE account_id = $1 "
	"AND revoked_at IS NULL AND expires_at > now() RETURNING id",
	1
};
/* The token used up, with every other unused one of the account. */
static const struct db_stmt stmt_reset_use = {
	"ra_reset_token_use",
	"UPDATE ra_password_reset SET used_at = now() WHERE account_id = $1 "
	"AND used_at IS NULL",
	1
};

enum ra_reset_outcome {
	RA_RESET_DONE = 0,
	RA_RESET_NOT_FOUND,	/* 404: unknown, used or expired token */
	RA_RESET_FACTOR_REQUIRED, /* 401: the account holds a factor, none given */
	RA_RESET_SUPPORT,	/* 409: it can sign and holds no factor */
	RA_RESET_NO_PHONE,	/* 409: no SMS step for this account */
	RA_RESET_FACTOR,	/* ra_factor_respond() */
	RA_RESET_OTP_REFUSED,	/* ra_otp_refusal_respond() */
};

/* What an account holds, for the reset's rule (stmt_reset_need). */
struct ra_reset_need {
	int	phone;		/* a verified phone: an SMS code */
	int	pin;
	int	totp;
	int	sign;		/* it can sign: some factor is a must */
};
#define RA_RESET_HAS_FACTOR(n)	((n)->phone || (n)->pin || (n)->totp)

/* Fills *n for account_id (in db's transaction). 0 or -1. */
static int
ra_reset_need(struct db *db, const char *account_id, struct ra_reset_need *n)
{
	const char *v[1];
	PGresult *res;

	memset(n, 0, sizeof(*n));
	v[0] = account_id;
	if ((res = db_exec(db, &stmt_reset_need, v, NULL, NULL)) == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return -1;
	}
	n->phone = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	n->pin = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	n->totp = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	n->sign = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
	PQclear(res);
	return 0;
}

/*
 * The second factors an account holds, as a list for a mail or a detail:
 * "an SMS code to its verified phone (POST /v1/password/reset/otp), its
 * PIN or a TOTP code"; "" for none.
 */
static void
ra_reset_factor_list(const struct ra_reset_need *n, char *out, size_t outlen)
{
	const char *item[3];
	size_t k = 0, i, off = 0;

	if (n->phone)
		item[k++] = "a code sent by SMS to the verified phone number "
		    "(POST /v1/password/reset/otp)";
	if (n->pin)
		item[k++] = "the PIN";
	if (n->totp)
		item[k++] = "a code of the authenticator app (TOTP)";
	out[0] = '\0';
	for (i = 0; i < k && off < outlen; i++)
		off += (size_t)snprintf(out + off, outlen - off, "%s%s",
		    i == 0 ? "" : i + 1 == k ? " or " : ", ", item[i]);
}

/* The per-address limit shared by the three endpoints. 1: go on; 0: 429. */
static int
ra_reset_rate(struct ra *ra, const struct http_request *req,
    struct http_response *resp, int *rc)
{
	long wait;

	if ((wait = ra_ratelimit_hit(ra->rl_reset, req->remote_addr,
	    time(NULL))) <= 0)
		return 1;
	*rc = ra_too_many(resp, wait, "too many password reset requests from "
	    "this address; try again later");
	return 0;
}

/* --- POST /v1/password/forgot ----------------------------------------------------- */

struct ra_forgot_txn {
	struct ra	*ra;
	const char	*email;
	const char	*client;
	int		 mailed;	/* for the log only, never the answer */
	const char	*dropped;	/* the cap that dropped it, for the log */
	char		 id[24];
};

/*
 * The reset mail, queued in db's transaction and bound to its token's row
 * reset_id (the notifier never sends it once the token died). What the
 * reset will ask for besides the token is said, from n. 0 or -1.
 */
static int
ra_forgot_mail(struct ra *ra, struct db *db, const char *to,
    const char *tok, const char *reset_id, const struct ra_reset_need *n)
{
	char *body = NULL, list[256], need[512];
	long min = ra->policy->reset_ttl_s / 60;
	int rc, link = ra->reset_url != NULL && ra->reset_url[0] != '\0';

	ra_reset_factor_list(n, list, sizeof(list));
	if (RA_RESET_HAS_FACTOR(n))
		snprintf(need, sizeof(need), "You will also be asked for one "
		    "of these: %s.\r\n\r\n", list);
	else if (n->sign)
		snprintf(need, sizeof(need), "Your account can sign documents "
		    "(or has an application for a certificate, or acts for a "
		    "company) but has no verified phone number, PIN or "
		    "authenticator app: its password cannot be reset with "
		    "this mail alone. "
		    "Contact support.\r\n\r\n");
	else
		need[0] = '\0';
	if (asprintf(&body, "Someone, hopefully you, asked to reset the "
	    "password of your account.\r\n\r\nTo choose a new password, %s "
	    "(valid for %ld minutes, usable once):\r\n\r\n%s%s%s\r\n\r\n%s"
	    "If you did not ask for this, ignore this mail: your password "
	    "stays as it is. Links mailed before this one work until they "
	    "expire; using one voids the others.\r\n",
	    link ? "open this link" : "give the app this reset code", min,
	    link ? "" : "    ", link ? ra->reset_url : "", tok, need) == -1) {
		log_err("forgot: asprintf: out of memory");
		return -1;
	}
	rc = ra_mail_queue_reset(db, to, "Reset your password", body,
	    reset_id);
	ra_wipe(body, strlen(body));
	free(body);
	return rc;
}

/*
 * A verified account of the address gets a new token (earlier ones stay
 * valid until they expire) and its mail, queued, unless it had
 * password_reset.per_hour in the last hour or one less than
 * password_reset.min_interval_seconds ago (t->dropped: logged); anything
 * else changes nothing. Every path that does not fail commits and answers
 * alike.
 */
static int
ra_forgot_txn(struct db *db, void *arg)
{
	char ttl[24], tok[RA_TOKEN_B64_LEN + 1];
	struct ra_forgot_txn *t = arg;
	const struct ra_policy *p = t->ra->policy;
	struct ra_reset_need n;
	const char *v[3];
	char *digest = NULL;
	PGresult *acc = NULL, *res = NULL, *ins = NULL;
	json_t *details = NULL;
	int rc = -1;

	tok[0] = '\0';
	t->mailed = 0;
	t->dropped = NULL;
	v[0] = t->email;
	if ((acc = db_exec(db, &stmt_forgot_account, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(acc) != 1 || strcmp(PQgetvalue(acc, 0, 1), "t") != 0) {
		rc = 0;		/* no such account, or unverified: nothing */
		goto out;
	}
	snprintf(t->id, sizeof(t->id), "%s", PQgetvalue(acc, 0, 0));
	v[0] = t->id;
	if ((res = db_exec(db, &stmt_forgot_count, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	if (strtol(PQgetvalue(res, 0, 0), NULL, 10) >= p->reset_per_hour)
		t->dropped = "password_reset.per_hour";
	else if (strtol(PQgetvalue(res, 0, 1), NULL, 10) < p->reset_gap_s)
		t->dropped = "password_reset.min_interval_seconds";
	if (t->dropped != NULL) {
		rc = 0;		/* nothing changes: the caller logs it */
		goto out;
	}
	if (ra_reset_need(db, t->id, &n) == -1 ||
	    ra_token_new(tok, &digest) == -1)
		goto out;
	snprintf(ttl, sizeof(ttl), "%ld", p->reset_ttl_s);
	v[1] = digest;
	v[2] = ttl;
	if ((ins = db_exec(db, &stmt_forgot_insert, v, NULL, NULL)) == NULL ||
	    PQntuples(ins) != 1)
		goto out;
	if ((details = json_pack("{s:s, s:s, s:I, s:I}", "account_id", t->id,
	    "client", t->client, "reset_id", (json_int_t)strtoll(
	    PQgetvalue(ins, 0, 0), NULL, 10), "expires_in",
	    (json_int_t)p->reset_ttl_s)) == NULL ||
	    audit_append(db, RA_RESET_ACTOR,
	    "ra.account.password_reset_request", "ra_account", t->id, details,
	    NULL) == -1)
		goto out;
	if (ra_forgot_mail(t->ra, db, t->email, tok, PQgetvalue(ins, 0, 0),
	    &n) == -1)
		goto out;
	t->mailed = 1;
	rc = 0;
out:
	ra_wipe(tok, sizeof(tok));
	json_decref(details);
	free(digest);
	PQclear(ins);
	PQclear(res);
	PQclear(acc);
	return rc;
}

int
ra_password_forgot(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_forgot_req r;
	struct ra_forgot_txn t;
	char detail[256];
	json_t *o = NULL;
	int rc = -1;

	memset(&r, 0, sizeof(r));
	memset(&t, 0, sizeof(t));
	if (!ra_reset_rate(ra, req, resp, &rc))
		goto out;
	if (!ra_is_json(req)) {
		rc = ra_problem(resp, 415, "the body must be application/json");
		goto out;
	}
	if (ra_parse_password_forgot(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1) {
		rc = ra_problem(resp, 400, detail);
		goto out;
	}
	t.ra = ra;
	t.email = r.email;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_forgot_txn,
	    &t) == -1)
		goto out;
	if (t.mailed)
		log_info("forgot: account %s: a reset link queued", t.id);
	else if (t.dropped != NULL)
		log_info("forgot: account %s: a reset request from %s dropped "
		    "(%s), nothing sent", t.id, req->remote_addr, t.dropped);
	if ((o = json_pack("{s:s}", "status", RA_FORGOT_ANSWER)) == NULL)
		goto out;
	rc = http_respond_json(resp, 202, o);
out:
	json_decref(o);
	ra_wipe(&r, sizeof(r));
	return rc;
}

/* --- the token, shared by the SMS step and the reset ---------------------------------- */

struct ra_reset_txn {
	struct ra			*ra;
	char				*digest;	/* of the token */
	const struct ra_reset_req	*req;		/* the reset; NULL: SMS step */
	const char			*client;
	enum ra_reset_outcome		 outcome;
	struct ra_reset_need		 need;		/* what the account holds */
	struct ra_otp_issue		 otp;		/* the SMS step */
	struct factor_outcome		 fo;		/* the reset's factor */
	long				 revoked;
	char				 account_id[24];
	char				 email[RA_EMAIL_MAX + 1];
	char				 hash[256];	/* of the new password */
};

/*
 * The token's account, locked, and the token row under that lock: 1 with
 * t->account_id, t->email and t->need; 0 when the token is unknown, used
 * or expired (RA_RESET_NOT_FOUND); -1 on failure.
 */
static int
ra_reset_claim(struct db *db, struct ra_reset_txn *t)
{
	const char *v[2];
	PGresult *res = NULL;
	int rc = -1;

	v[0] = t->digest;
	if ((res = db_exec(db, &stmt_reset_lookup, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1)
		goto none;
	snprintf(t->account_id, sizeof(t->account_id), "%s",
	    PQgetvalue(res, 0, 0));
	PQclear(res);
	v[0] = t->account_id;
	if ((res = db_exec(db, &stmt_reset_account, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	/* Tokens go to verified addresses only; a change voids them. */
	if (strcmp(PQgetvalue(res, 0, 1), "t") != 0)
		goto none;
	snprintf(t->email, sizeof(t->email), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	v[0] = t->digest;
	v[1] = t->account_id;
	if ((res = db_exec(db, &stmt_reset_claim, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1)
		goto none;
	if (ra_reset_need(db, t->account_id, &t->need) == -1)
		goto out;
	rc = 1;
	goto out;
none:
	t->outcome = RA_RESET_NOT_FOUND;
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/* 404 for a token that is unknown, used or expired. */
static int
ra_reset_not_found(struct http_response *resp)
{
	return ra_problem(resp, 404, "no pending password reset for this "
	    "token: unknown, expired, or used (a reset, a password or email "
	    "change voids every pending one)");
}

/* 409: the account can sign and holds no second factor but its mailbox. */
static int
ra_reset_support(struct http_response *resp)
{
	return ra_problem(resp, 409, "this account can sign (it holds or "
	    "applied for a certificate, or acts for a company) but has no "
	    "verified phone number, PIN or "
	    "authenticator app: the mailed link alone cannot reset its "
	    "password; contact support");
}

/* --- POST /v1/password/reset/otp ---------------------------------------------------- */

/* The SMS code of purpose password_reset (ra_otp_issue: its rules). */
static int
ra_reset_otp_txn(struct db *db, void *arg)
{
	struct ra_reset_txn *t = arg;

	t->outcome = RA_RESET_DONE;
	if (ra_reset_claim(db, t) != 1)
		return -1;	/* nothing written: roll back */
	if (!t->need.phone) {
		t->outcome = RA_RESET_NO_PHONE;
		return -1;
	}
	t->otp.account_id = t->account_id;
	t->otp.actor = RA_RESET_ACTOR;
	t->otp.channel = "sms";
	t->otp.purpose = "password_reset";
	t->otp.client = t->client;
	if (ra_otp_issue(t->ra, db, &t->otp) == -1) {
		if (t->otp.refused != RA_OTP_ISSUED)
			t->outcome = RA_RESET_OTP_REFUSED;
		return -1;
	}
	return 0;
}

int
ra_password_reset_otp(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_token_req r;
	struct ra_reset_txn t;
	char detail[256];
	json_t *o = NULL;
	int rc = -1;

	memset(&r, 0, sizeof(r));
	memset(&t, 0, sizeof(t));
	if (!ra_reset_rate(ra, req, resp, &rc))
		goto out;
	if (!ra_is_json(req)) {
		rc = ra_problem(resp, 415, "the body must be application/json");
		goto out;
	}
	if (ra_parse_token(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1) {
		rc = ra_problem(resp, 400, detail);
		goto out;
	}
	if ((t.digest = ra_token_digest(r.token)) == NULL)
		goto out;
	t.ra = ra;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_reset_otp_txn,
	    &t) == -1) {
		switch (t.outcome) {
		case RA_RESET_NOT_FOUND:
			rc = ra_reset_not_found(resp);
			break;
		case RA_RESET_NO_PHONE:
			if (t.need.pin || t.need.totp)
				rc = ra_problem(resp, 409, "the phone number "
				    "of this account is not verified: give "
				    "its PIN or a TOTP code as factor with "
				    "the token (POST /v1/password/reset)");
			else if (t.need.sign)
				rc = ra_reset_support(resp);
			else
				rc = ra_problem(resp, 409, "the phone number "
				    "of this account is not verified: no SMS "
				    "code is needed (POST /v1/password/reset "
				    "with the token and the new password)");
			break;
		case RA_RESET_OTP_REFUSED:
			rc = ra_otp_refusal_respond(resp, &t.otp);
			break;
		default:
			break;
		}
		goto out;
	}
	log_info("reset: password_reset OTP %s for account %s sent (sms)",
	    t.otp.id, t.account_id);
	if ((o = json_pack("{s:I, s:s, s:s, s:s}", "otp_id",
	    (json_int_t)strtoll(t.otp.id, NULL, 10), "expires_at",
	    t.otp.expires, "channel", "sms", "purpose", "password_reset")) ==
	    NULL)
		goto out;
	rc = http_respond_json(resp, 201, o);
out:
	json_decref(o);
	free(t.digest);
	ra_wipe(&r, sizeof(r));
	return rc;
}

/* --- POST /v1/password/reset ----------------------------------------------------------- */

/* The factor that went with the token, for the notice. */
static const char *
ra_reset_factor_text(const char *kind)
{
	if (strcmp(kind, "otp") == 0)
		return " and a code sent by SMS to your phone";
	if (strcmp(kind, "pin") == 0)
		return " and your PIN";
	if (strcmp(kind, "totp") == 0)
		return " and a code of your authenticator app";
	return "";
}

/* The notice of a reset, queued in its transaction. 0 or -1. */
static int
ra_reset_notice(struct db *db, const struct ra_reset_txn *t)
{
	char *body = NULL;
	int rc;

	if (asprintf(&body, "The password of your account was reset with a "
	    "link mailed to this address%s. Every session of the account was "
	    "logged out.\r\n\r\nIf you did not do this, contact us at "
	    "once.\r\n", t->req->has_factor ? ra_reset_factor_text(
	    t->fo.kind) : "") == -1) {
		log_err("reset: asprintf: out of memory");
		return -1;
	}
	rc = ra_mail_queue(db, t->email, "Your password was reset", body);
	free(body);
	return rc;
}

/*
 * The token, then the rule (file comment): a factor given is checked
 * (purpose password_reset; a wrong one commits only its failure record, as
 * every factor); none given is refused when the account holds one (401)
 * or can sign (409). Then the Argon2id hash of the new password, kept
 * across a retried transaction, the password, every session revoked, every
 * token of the account used up, its pending address changes voided
 * (ra_email_pending_void), the audit event and the notice.
 */
static int
ra_reset_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX];
	struct ra_reset_txn *t = arg;
	const char *v[2];
	PGresult *res = NULL;
	json_t *details = NULL;
	long pending;
	int rc = -1;

	t->outcome = RA_RESET_DONE;
	if (ra_reset_claim(db, t) != 1)
		goto out;	/* nothing written: roll back */
	if (t->req->has_factor) {
		if (ra_factor_check(t->ra, db, t->account_id, "password_reset",
		    &t->req->factor, &t->fo) == -1)
			goto out;
		if (t->fo.result != FACTOR_OK) {
			t->outcome = RA_RESET_FACTOR;
			rc = 0;		/* commit the failure record only */
			goto out;
		}
	} else if (RA_RESET_HAS_FACTOR(&t->need)) {
		t->outcome = RA_RESET_FACTOR_REQUIRED;
		goto out;
	} else if (t->need.sign) {
		t->outcome = RA_RESET_SUPPORT;
		goto out;
	}
	if (t->hash[0] == '\0' && ra_password_hash(t->ra->policy,
	    t->req->password, t->hash, sizeof(t->hash)) == -1)
		goto out;
	v[0] = t->account_id;
	v[1] = t->hash;
	if (db_exec_ok(db, &stmt_reset_password, v) == -1)
		goto out;
	if ((res = db_exec(db, &stmt_reset_sessions, v, NULL, NULL)) == NULL)
		goto out;
	t->revoked = PQntuples(res);
	if (db_exec_ok(db, &stmt_reset_use, v) == -1 ||
	    (pending = ra_email_pending_void(db, t->account_id)) == -1)
		goto out;
	if ((details = json_pack("{s:s, s:I, s:I, s:s, s:b}", "client",
	    t->client, "sessions_revoked", (json_int_t)t->revoked,
	    "email_changes_voided", (json_int_t)pending, "factor",
	    t->req->has_factor ? t->fo.kind : "none", "sms_code",
	    t->req->has_factor && strcmp(t->fo.kind, "otp") == 0)) == NULL ||
	    (t->fo.otp_id > 0 && json_object_set_new(details, "otp_id",
	    json_integer((json_int_t)t->fo.otp_id)) == -1) ||
	    audit_append(db, ra_actor(actor, t->account_id),
	    "ra.account.password_reset", "ra_account", t->account_id, details,
	    NULL) == -1 ||
	    ra_reset_notice(db, t) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

int
ra_password_reset(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_reset_req r;
	struct ra_reset_txn t;
	char detail[512], list[256];
	json_t *o = NULL;
	int rc = -1, h;

	memset(&r, 0, sizeof(r));
	memset(&t, 0, sizeof(t));
	if (!ra_reset_rate(ra, req, resp, &rc))
		goto out;
	if (!ra_is_json(req)) {
		rc = ra_problem(resp, 415, "the body must be application/json");
		goto out;
	}
	if (ra_parse_password_reset(req->body, req->body_len, &r, detail,
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
	if ((t.digest = ra_token_digest(r.token)) == NULL)
		goto out;
	t.ra = ra;
	t.req = &r;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_reset_txn,
	    &t) == -1) {
		switch (t.outcome) {
		case RA_RESET_NOT_FOUND:
			rc = ra_reset_not_found(resp);
			break;
		case RA_RESET_FACTOR_REQUIRED:
			ra_reset_factor_list(&t.need, list, sizeof(list));
			snprintf(detail, sizeof(detail), "this account needs a "
			    "second factor besides the mailed token (factor, "
			    "or otp_id and code): %s", list);
			rc = ra_problem(resp, 401, detail);
			break;
		case RA_RESET_SUPPORT:
			log_info("reset: account %s can sign and holds no "
			    "second factor: self-service reset refused",
			    t.account_id);
			rc = ra_reset_support(resp);
			break;
		default:
			break;
		}
		goto out;
	}
	if (t.outcome == RA_RESET_FACTOR) {
		rc = ra_factor_respond(resp, &t.fo);
		goto out;
	}
	log_info("reset: account %s reset its password (mailed token and %s), "
	    "%ld session(s) revoked, notice queued", t.account_id,
	    r.has_factor ? t.fo.kind : "nothing else", t.revoked);
	if ((o = json_pack("{s:I, s:I}", "id", (json_int_t)strtoll(
	    t.account_id, NULL, 10), "sessions_revoked",
	    (json_int_t)t.revoked)) == NULL)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	json_decref(o);
	free(t.digest);
	ra_wipe(t.hash, sizeof(t.hash));
	ra_wipe(&r, sizeof(r));
	return rc;
}
