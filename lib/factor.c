/*
 * The second-factor verifier shared by rad and signd's SAM (lib/factor.h).
 * Moved from ra/factor.c (issue 6) so that the signature activation module
 * applies exactly rad's rules to the same rows: OTP codes stored as
 * HMAC-SHA256 bound to row, account, channel and purpose; Argon2id PINs;
 * wrong factors in a row lock the account's factors with back-off.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <argon2.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "lib/audit.h"
#include "lib/config.h"
#include "lib/db.h"
#include "lib/factor.h"
#include "lib/hex.h"
#include "lib/log.h"
#include "lib/secret.h"
#include "lib/totp.h"

#define FACTOR_OTP_MAC_DOMAIN	"pki-ra-otp-v1"

/*
 * The account's lock-out counters, by enum factor_scope: rad's, signd's
 * SAM's (schema/026) and the password reset's (schema/057), so that none
 * can lock another out.
 */
#define FACTOR_ACCOUNT_SQL(failures, until) \
	"SELECT pin_hash, " failures ", " \
	"coalesce(ceil(extract(epoch FROM " until " - now())), 0)::bigint " \
	"FROM ra_account WHERE id = $1 FOR UPDATE"
#define FACTOR_FAILED_SQL(failures, until) \
	"UPDATE ra_account SET " failures " = $2::int, " until " = CASE " \
	"WHEN $3::int > 0 THEN now() + make_interval(secs => $3::int) " \
	"ELSE " until " END WHERE id = $1"
#define FACTOR_RESET_SQL(failures, until) \
	"UPDATE ra_account SET " failures " = 0, " until " = NULL " \
	"WHERE id = $1 AND (" failures " <> 0 OR " until " IS NOT NULL)"
static const struct db_stmt stmt_factor_account[] = {
	[FACTOR_SCOPE_RA] = { "factor_check_account", FACTOR_ACCOUNT_SQL(
	    "factor_failures", "factor_locked_until"), 1 },
	[FACTOR_SCOPE_SIGN] = { "factor_check_account_sign", FACTOR_ACCOUNT_SQL(
	    "sign_factor_failures", "sign_factor_locked_until"), 1 },
	[FACTOR_SCOPE_RESET] = { "factor_check_account_rst", FACTOR_ACCOUNT_SQL(
	    "reset_factor_failures", "reset_factor_locked_until"), 1 },
};
/* The scope's name in ra.factor.lock. */
static const char *const factor_scope_name[] = {
	[FACTOR_SCOPE_RA] = "ra",
	[FACTOR_SCOPE_SIGN] = "sign",
	[FACTOR_SCOPE_RESET] = "password_reset",
};
static const struct db_stmt stmt_factor_otp = {
	"factor_check_otp",
	"SELECT channel, purpose, code_hmac, attempts, max_attempts, "
	"consumed_at IS NOT NULL, expires_at <= now(), binding, "
	"credential_id FROM ra_otp WHERE id = $1 AND account_id = $2 "
	"FOR UPDATE",
	2
};
static const struct db_stmt stmt_factor_otp_consume = {
	"factor_check_otp_consume",
	"UPDATE ra_otp SET consumed_at = now() WHERE id = $1 "
	"AND consumed_at IS NULL",
	1
};
static const struct db_stmt stmt_factor_otp_attempt = {
	"factor_check_otp_attempt",
	"UPDATE ra_otp SET attempts = attempts + 1 WHERE id = $1 "
	"RETURNING attempts, max_attempts",
	1
};
static const struct db_stmt stmt_factor_failed[] = {
	[FACTOR_SCOPE_RA] = { "factor_check_account_failed", FACTOR_FAILED_SQL(
	    "factor_failures", "factor_locked_until"), 3 },
	[FACTOR_SCOPE_SIGN] = { "factor_check_account_failed_sign",
	    FACTOR_FAILED_SQL("sign_factor_failures",
	    "sign_factor_locked_until"), 3 },
	[FACTOR_SCOPE_RESET] = { "factor_check_account_failed_rst",
	    FACTOR_FAILED_SQL("reset_factor_failures",
	    "reset_factor_locked_until"), 3 },
};
static const struct db_stmt stmt_factor_reset[] = {
	[FACTOR_SCOPE_RA] = { "factor_check_account_reset", FACTOR_RESET_SQL(
	    "factor_failures", "factor_locked_until"), 1 },
	[FACTOR_SCOPE_SIGN] = { "factor_check_account_reset_sign",
	    FACTOR_RESET_SQL("sign_factor_failures",
	    "sign_factor_locked_until"), 1 },
	[FACTOR_SCOPE_RESET] = { "factor_check_account_reset_rst",
	    FACTOR_RESET_SQL("reset_factor_failures",
	    "reset_factor_locked_until"), 1 },
};

void
factor_wipe(void *p, size_t len)
{
	explicit_bzero(p, len);
}

int
factor_key_load(const char *key_file, unsigned char key[FACTOR_OTP_KEY_LEN],
    char *err, size_t errlen)
{
	if (key_file == NULL) {
		snprintf(err, errlen, "no OTP key file (the HMAC key of "
		    "one-time codes)");
		return -1;
	}
	return secret_read_hexkey(key_file, key, FACTOR_OTP_KEY_LEN, err,
	    errlen);
}

int
factor_policy_load(const struct config *c, struct factor_verifier *fv)
{
	fv->lock_threshold = 5;
	fv->lock_base_s = 300;
	fv->lock_max_s = 3600;
	if (c == NULL)
		return 0;
	if (config_get_long(c, "factor_lockout.threshold", 5, 1, 100,
	    &fv->lock_threshold) == -1 ||
	    config_get_long(c, "factor_lockout.base_seconds", 300, 1, 86400,
	    &fv->lock_base_s) == -1 ||
	    config_get_long(c, "factor_lockout.max_seconds", 3600, 1, 7 * 86400,
	    &fv->lock_max_s) == -1)
		return -1;
	return 0;
}

int
factor_otp_mac(const unsigned char key[FACTOR_OTP_KEY_LEN], const char *id, const char *account,
    const char *channel, const char *purpose, const char *code,
    const unsigned char *binding, unsigned char out[32])
{
	char msg[256], hex[2 * FACTOR_BINDING_LEN + 1];
	unsigned int n = 0;
	int len, rc = -1;

	hex[0] = '\0';
	if (binding != NULL)
		hex_encode(binding, FACTOR_BINDING_LEN, hex);
	len = snprintf(msg, sizeof(msg), "%s|%s|%s|%s|%s|%s%s%s",
	    FACTOR_OTP_MAC_DOMAIN, id, account, channel, purpose, code,
	    binding != NULL ? "|" : "", hex);
	if (len < 0 || (size_t)len >= sizeof(msg))
		goto out;
	if (HMAC(EVP_sha256(), key, FACTOR_OTP_KEY_LEN,
	    (const unsigned char *)msg, (size_t)len, out, &n) == NULL ||
	    n != 32) {
		log_openssl(LOGL_ERR, "HMAC(SHA-256)");
		goto out;
	}
	rc = 0;
out:
	factor_wipe(msg, sizeof(msg));
	return rc;
}

/* --- the verifier ------------------------------------------------------------------ */

/*
 * The actor of a wrong factor's events: origin's own (signd's SAM:
 * "sign_service:<id>"), else "<fv->actor>:<account id>", e.g.
 * "subscriber:42", written into out. Returns either.
 */
static const char *
factor_actor(const struct factor_verifier *fv, const struct factor_origin *o,
    const char *account_id, char out[FACTOR_ACTOR_MAX])
{
	if (o != NULL && o->actor != NULL)
		return o->actor;
	snprintf(out, FACTOR_ACTOR_MAX, "%s:%s", fv->actor, account_id);
	return out;
}

/*
 * Adds o's service and credential ids to details (a JSON object, borrowed;
 * NULL is -1, as json_pack's failure) and, when o has an actor of its own
 * that no longer names the subscriber, the account id. o NULL: nothing.
 * 0 or -1.
 */
static int
factor_origin_details(json_t *details, const struct factor_origin *o,
    const char *account_id)
{
	if (details == NULL)
		return -1;
	if (o == NULL)
		return 0;
	if (o->service_id != NULL && json_object_set_new(details, "service_id",
	    json_string(o->service_id)) == -1)
		return -1;
	if (o->credential_id != NULL && json_object_set_new(details,
	    "credential_id", json_string(o->credential_id)) == -1)
		return -1;
	if (o->actor != NULL && json_object_get(details, "account_id") ==
	    NULL && json_object_set_new(details, "account_id",
	    json_string(account_id)) == -1)
		return -1;
	return 0;
}

long
lockout_seconds(long threshold, long base_s, long max_s, long failed)
{
	long n = failed - threshold, s = base_s;

	if (n < 0)
		return 0;
	while (n-- > 0 && s < max_s)
		s *= 2;
	return s > max_s ? max_s : s;
}

/*
 * Records one wrong factor on the account: the count, the lock when it
 * reaches the threshold, their audit events. 0 or -1.
 */
static int
factor_failed(const struct factor_verifier *fv, const struct factor_origin *o,
    struct db *db, const char *account_id, long failures, const char *purpose,
    const char *type)
{
	char actor[FACTOR_ACTOR_MAX];
	const char *v[3];
	char failed_s[24], lock_s[24];
	json_t *details = NULL;
	long failed = failures + 1, lock;
	int rc = -1;

	lock = lockout_seconds(fv->lock_threshold, fv->lock_base_s,
	    fv->lock_max_s, failed);
	snprintf(failed_s, sizeof(failed_s), "%ld", failed);
	snprintf(lock_s, sizeof(lock_s), "%ld", lock);
	v[0] = account_id;
	v[1] = failed_s;
	v[2] = lock_s;
	if (db_exec_ok(db, &stmt_factor_failed[fv->scope], v) == -1)
		goto out;
	if (strcmp(type, "otp") != 0) {	/* an OTP's is ra.otp.failed */
		if ((details = json_pack("{s:s, s:s, s:I}", "type", type,
		    "purpose", purpose, "factor_failures",
		    (json_int_t)failed)) == NULL ||
		    factor_origin_details(details, o, account_id) == -1 ||
		    audit_append(db, factor_actor(fv, o, account_id, actor),
		    "ra.factor.failed",
		    "ra_account", account_id, details, NULL) == -1)
			goto out;
		json_decref(details);
		details = NULL;
	}
	if (lock > 0) {
		if ((details = json_pack("{s:I, s:I, s:s}", "factor_failures",
		    (json_int_t)failed, "locked_seconds", (json_int_t)lock,
		    "scope", factor_scope_name[fv->scope])) == NULL ||
		    factor_origin_details(details, o, account_id) == -1 ||
		    audit_append(db, fv->lock_actor, "ra.factor.lock",
		    "ra_account", account_id, details, NULL) == -1)
			goto out;
		log_info("factor: account %s locked for %ld s after %ld wrong "
		    "factors%s%s", account_id, lock, failed,
		    o != NULL && o->service_id != NULL ? ", the last from "
		    "signing service " : "",
		    o != NULL && o->service_id != NULL ? o->service_id : "");
	}
	rc = 0;
out:
	json_decref(details);
	return rc;
}

static void
factor_set(struct factor_outcome *out, enum factor_result r,
    const char *detail)
{
	out->result = r;
	snprintf(out->detail, sizeof(out->detail), "%s", detail);
}

/* The OTP branch of factor_check; the account row is locked. */
static int
factor_check_otp(const struct factor_verifier *fv,
    const struct factor_origin *o, struct db *db, const char *account_id,
    const char *purpose, const struct factor *f, long failures,
    struct factor_outcome *out)
{
	char actor[FACTOR_ACTOR_MAX];
	const char *v[2];
	char id[24];
	unsigned char mac[32], *stored = NULL, *binding = NULL;
	size_t storedlen = 0, bindinglen = 0;
	PGresult *res = NULL, *res2 = NULL;
	json_t *details = NULL;
	long attempts, max;
	int rc = -1;

	snprintf(id, sizeof(id), "%lld", f->otp_id);
	snprintf(out->kind, sizeof(out->kind), "otp");
	out->otp_id = f->otp_id;
	v[0] = id;
	v[1] = account_id;
	if ((res = db_exec(db, &stmt_factor_otp, v, NULL, NULL)) == NULL)
		goto out;
	/* Another account's OTP answers as an unknown one. */
	if (PQntuples(res) != 1) {
		factor_set(out, FACTOR_REFUSED, "factor: no such OTP for "
		    "this account");
		rc = 0;
		goto out;
	}
	attempts = strtol(PQgetvalue(res, 0, 3), NULL, 10);
	max = strtol(PQgetvalue(res, 0, 4), NULL, 10);
	if (strcmp(PQgetvalue(res, 0, 5), "t") == 0) {
		factor_set(out, FACTOR_REFUSED, "factor: this OTP was "
		    "already used; request a new one");
		rc = 0;
		goto out;
	}
	if (attempts >= max) {
		factor_set(out, FACTOR_REFUSED, "factor: this OTP is no "
		    "longer valid (too many wrong codes, or sent to a phone "
		    "number or email address since replaced); request a new "
		    "one");
		rc = 0;
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 6), "t") == 0) {
		factor_set(out, FACTOR_REFUSED, "factor: this OTP has "
		    "expired; request a new one");
		rc = 0;
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 1), purpose) != 0) {
		snprintf(out->detail, sizeof(out->detail), "factor: this OTP "
		    "was issued for %s, not %s", PQgetvalue(res, 0, 1), purpose);
		out->result = FACTOR_REFUSED;
		rc = 0;
		goto out;
	}
	/*
	 * The key and the documents (schema/060, 061): a sign OTP authorizes
	 * the credential and the hashes it was issued for, and only with
	 * them. A mismatch is not a guess of the code: refused without
	 * counting, the OTP left for the request the subscriber made (a
	 * service swapping the credential or the hashes learns nothing, and
	 * cannot lock the subscriber out this way). The binding carries the
	 * credential too; the column gives the clearer answer.
	 */
	if (strcmp(purpose, "sign") == 0 && (PQgetisnull(res, 0, 8) ||
	    !f->bound || strcmp(PQgetvalue(res, 0, 8), f->credential) != 0)) {
		factor_set(out, FACTOR_REFUSED, PQgetisnull(res, 0, 8) ?
		    "factor: this OTP is not bound to a credential; request "
		    "one with its credential_id" : "factor: this OTP was "
		    "issued for another credential (key)");
		rc = 0;
		goto out;
	}
	if (!PQgetisnull(res, 0, 7)) {
		if (db_bytea_value(PQgetvalue(res, 0, 7), &binding,
		    &bindinglen) == -1)
			goto out;
		if (bindinglen != FACTOR_BINDING_LEN) {
			log_err("factor: OTP %s: a binding of %zu bytes", id,
			    bindinglen);
			goto out;
		}
	}
	if (strcmp(purpose, "sign") == 0 && (binding == NULL || !f->bound ||
	    CRYPTO_memcmp(binding, f->binding, FACTOR_BINDING_LEN) != 0)) {
		factor_set(out, FACTOR_REFUSED, binding == NULL ?
		    "factor: this OTP is not bound to the documents to sign; "
		    "request one with their hashes" : "factor: this OTP was "
		    "issued for other documents (hashes)");
		rc = 0;
		goto out;
	}
	if (factor_otp_mac(fv->otp_key, id, account_id, PQgetvalue(res, 0, 0),
	    PQgetvalue(res, 0, 1), f->secret, binding, mac) == -1 ||
	    db_bytea_value(PQgetvalue(res, 0, 2), &stored, &storedlen) == -1)
		goto out;
	if (storedlen == sizeof(mac) &&
	    CRYPTO_memcmp(mac, stored, sizeof(mac)) == 0) {
		v[0] = id;
		if (db_exec_ok(db, &stmt_factor_otp_consume, v) == -1)
			goto out;
		v[0] = account_id;
		if (db_exec_ok(db, &stmt_factor_reset[fv->scope], v) == -1)
			goto out;
		factor_set(out, FACTOR_OK, "");
		rc = 0;
		goto out;
	}
	/* A wrong code: counted on the OTP and on the account. */
	v[0] = id;
	if ((res2 = db_exec(db, &stmt_factor_otp_attempt, v, NULL,
	    NULL)) == NULL || PQntuples(res2) != 1)
		goto out;
	attempts = strtol(PQgetvalue(res2, 0, 0), NULL, 10);
	if ((details = json_pack("{s:s, s:s, s:I, s:I}", "account_id",
	    account_id, "purpose", purpose, "attempts", (json_int_t)attempts,
	    "factor_failures", (json_int_t)(failures + 1))) == NULL ||
	    factor_origin_details(details, o, account_id) == -1 ||
	    audit_append(db, factor_actor(fv, o, account_id, actor),
	    "ra.otp.failed", "ra_otp", id,
	    details, NULL) == -1)
		goto out;
	if (factor_failed(fv, o, db, account_id, failures, purpose,
	    "otp") == -1)
		goto out;
	out->result = FACTOR_WRONG;
	if (attempts >= max)
		snprintf(out->detail, sizeof(out->detail), "factor: wrong code; "
		    "this OTP is now invalid, request a new one");
	else
		snprintf(out->detail, sizeof(out->detail), "factor: wrong code; "
		    "%ld attempt(s) left for this OTP", max - attempts);
	rc = 0;
out:
	factor_wipe(mac, sizeof(mac));
	json_decref(details);
	free(binding);
	free(stored);
	PQclear(res2);
	PQclear(res);
	return rc;
}

int
factor_check(const struct factor_verifier *fv, struct db *db, const char *account_id,
    const char *purpose, const struct factor *f,
    struct factor_outcome *out)
{
	return factor_check_from(fv, db, account_id, purpose, f, NULL, out);
}

int
factor_check_from(const struct factor_verifier *fv, struct db *db,
    const char *account_id, const char *purpose, const struct factor *f,
    const struct factor_origin *o, struct factor_outcome *out)
{
	const char *v[1];
	PGresult *res = NULL;
	long failures;
	enum factor_totp_match m;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	out->result = FACTOR_MALFORMED;
	v[0] = account_id;
	if ((res = db_exec(db, &stmt_factor_account[fv->scope], v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		log_err("factor_check: no account %s", account_id);
		goto out;
	}
	failures = strtol(PQgetvalue(res, 0, 1), NULL, 10);
	if ((out->retry_after = strtol(PQgetvalue(res, 0, 2), NULL, 10)) > 0) {
		factor_set(out, FACTOR_LOCKED, "second factors of this "
		    "account are locked after repeated wrong codes or PINs; try "
		    "again later");
		rc = 0;
		goto out;
	}
	out->retry_after = 0;
	switch (f->type) {
	case FACTOR_OTP:
		rc = factor_check_otp(fv, o, db, account_id, purpose, f,
		    failures, out);
		goto out;
	case FACTOR_PIN:
		snprintf(out->kind, sizeof(out->kind), "pin");
		if (PQgetisnull(res, 0, 0)) {
			factor_set(out, FACTOR_NOT_ENROLLED, "factor: no "
			    "PIN is set for this account (POST /v1/pin)");
			rc = 0;
			goto out;
		}
		if (argon2id_verify(PQgetvalue(res, 0, 0), f->secret,
		    strlen(f->secret)) == ARGON2_OK) {
			if (db_exec_ok(db, &stmt_factor_reset[fv->scope], v) == -1)
				goto out;
			factor_set(out, FACTOR_OK, "");
			rc = 0;
			goto out;
		}
		if (factor_failed(fv, o, db, account_id, failures, purpose,
		    "pin") == -1)
			goto out;
		factor_set(out, FACTOR_WRONG, "factor: wrong PIN");
		rc = 0;
		goto out;
	case FACTOR_TOTP:
		snprintf(out->kind, sizeof(out->kind), "totp");
		m = FACTOR_TOTP_NONE;
		if (fv->totp_match != NULL && fv->totp_match(fv->totp_arg, db,
		    account_id, f->secret, &m) == -1)
			goto out;
		switch (m) {
		case FACTOR_TOTP_NONE:
			factor_set(out, FACTOR_NOT_ENROLLED, "factor: TOTP is "
			    "not enrolled for this account (POST /v1/totp, then "
			    "/v1/totp/confirm); use an OTP or the PIN");
			break;
		case FACTOR_TOTP_MATCH:
			if (db_exec_ok(db, &stmt_factor_reset[fv->scope], v) == -1)
				goto out;
			factor_set(out, FACTOR_OK, "");
			break;
		case FACTOR_TOTP_REPLAY:
			/* RFC 6238 §5.2; not a guess, so not counted. */
			factor_set(out, FACTOR_REFUSED, "factor: this TOTP code "
			    "was already used; wait for the next one");
			break;
		case FACTOR_TOTP_WRONG:
			if (factor_failed(fv, o, db, account_id, failures,
			    purpose, "totp") == -1)
				goto out;
			factor_set(out, FACTOR_WRONG, "factor: wrong TOTP code");
			break;
		}
		rc = 0;
		goto out;
	}
	factor_set(out, FACTOR_MALFORMED, "factor: unknown type");
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/* --- TOTP (RFC 6238) against the account's sealed secret (schema/017) ----------- */

static const struct db_stmt stmt_factor_totp = {
	"factor_totp_select",
	"SELECT totp_secret_enc, totp_last_step FROM ra_account WHERE id = $1",
	1
};
static const struct db_stmt stmt_factor_totp_step = {
	"factor_totp_step",
	"UPDATE ra_account SET totp_last_step = $2::bigint WHERE id = $1",
	2
};

/* Opens account_id's sealed secret (bytea text) with key. 0 or -1, logged. */
static int
factor_totp_unseal(const unsigned char *key, const char *account_id,
    const char *sealed_hex, unsigned char secret[TOTP_SECRET_BYTES])
{
	unsigned char *sealed = NULL;
	char aad[64];
	size_t sealedlen = 0, n = 0;
	int rc = -1;

	snprintf(aad, sizeof(aad), "%s%s", FACTOR_TOTP_AAD_PREFIX, account_id);
	if (db_bytea_value(sealed_hex, &sealed, &sealedlen) == -1)
		goto out;
	if (totp_open(key, aad, sealed, sealedlen, secret, TOTP_SECRET_BYTES,
	    &n) != TOTP_OK || n != TOTP_SECRET_BYTES) {
		log_err("totp: the TOTP secret of account %s does not open with "
		    "the TOTP key file", account_id);
		goto out;
	}
	rc = 0;
out:
	free(sealed);
	if (rc == -1)
		OPENSSL_cleanse(secret, TOTP_SECRET_BYTES);
	return rc;
}

int
factor_totp_sealed_match(void *key, struct db *db, const char *account_id,
    const char *code, enum factor_totp_match *m)
{
	struct totp_params p;
	const char *v[2];
	unsigned char secret[TOTP_SECRET_BYTES];
	char step_s[24];
	PGresult *res = NULL;
	uint64_t last, step = 0;
	int rc = -1, r;

	*m = FACTOR_TOTP_NONE;
	memset(secret, 0, sizeof(secret));
	v[0] = account_id;
	if ((res = db_exec(db, &stmt_factor_totp, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	if (PQgetisnull(res, 0, 0)) {
		rc = 0;
		goto out;
	}
	last = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
	if (factor_totp_unseal(key, account_id, PQgetvalue(res, 0, 0), secret) == -1)
		goto out;
	totp_params_default(&p);
	r = totp_verify(&p, secret, sizeof(secret), code, time(NULL), last,
	    &step);
	if (r == TOTP_ERR_MISMATCH) {
		*m = FACTOR_TOTP_WRONG;
		rc = 0;
		goto out;
	}
	if (r == TOTP_ERR_REPLAY) {
		*m = FACTOR_TOTP_REPLAY;
		rc = 0;
		goto out;
	}
	if (r != TOTP_OK) {
		log_err("totp: totp_verify failed (%d)", r);
		goto out;
	}
	snprintf(step_s, sizeof(step_s), "%llu", (unsigned long long)step);
	v[1] = step_s;
	if (db_exec_ok(db, &stmt_factor_totp_step, v) == -1)
		goto out;
	*m = FACTOR_TOTP_MATCH;
	rc = 0;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	PQclear(res);
	return rc;
}
