/*
 * Subscriber TOTP (RFC 6238, issue 3): enrolment (POST /v1/totp, authorized
 * by a second factor of purpose totp_enrol), its confirmation (POST
 * /v1/totp/confirm, which proves the authenticator app holds the secret),
 * and sets the factor verifier's TOTP hook (lib/factor.c factor_totp_sealed_match).
 *
 * The 20-byte secret (RFC 4226 §4 R6) is drawn from the CSPRNG, returned to
 * the subscriber once (base32 and an otpauth:// URI) and stored only sealed
 * with AES-256-GCM (lib/totp.h) under ra.totp_key_file, rad's own key for
 * subscribers (not the officers' key, which pkictl also reads), with
 * "ra_account_totp:<account id>" as associated data. A new enrolment is
 * pending for RA_TOTP_PENDING_TTL_S and replaces the active secret only
 * when confirmed; the confirmation queues a notice to the account's
 * address. A code is accepted at most once: the last accepted time step is
 * stored and a code at or before it is a replay (RFC 6238 §5.2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "lib/audit.h"
#include "lib/config.h"
#include "lib/db.h"
#include "lib/http.h"
#include "lib/log.h"
#include "lib/totp.h"
#include "ra/extern.h"


#define RA_TOTP_URI_MAX		512

static const struct db_stmt stmt_totp_enrol = {
	"ra_totp_enrol_pending",
	"UPDATE ra_account SET totp_pending_enc = $2::bytea, "
	"totp_pending_at = now() WHERE id = $1 RETURNING email, "
	"totp_secret_enc IS NOT NULL, to_char((now() + make_interval(secs => "
	"$3::int)) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
	3
};
/*
 * The pending secret, whether it is still fresh, whether it replaces an
 * active one; the address and time of the notice (ra_totp_notice).
 */
static const struct db_stmt stmt_totp_confirm_select = {
	"ra_totp_confirm_select",
	"SELECT totp_pending_enc, "
	"totp_pending_at > now() - make_interval(secs => $2::int), "
	"totp_secret_enc IS NOT NULL, email, " RA_TS("now()") " "
	"FROM ra_account WHERE id = $1 FOR UPDATE",
	2
};
static const struct db_stmt stmt_totp_confirm = {
	"ra_totp_confirm_activate",
	"UPDATE ra_account SET totp_secret_enc = totp_pending_enc, "
	"totp_confirmed_at = now(), totp_last_step = $2::bigint, "
	"totp_pending_enc = NULL, totp_pending_at = NULL "
	"WHERE id = $1 AND totp_pending_enc IS NOT NULL",
	2
};

enum ra_totp_outcome {
	RA_TOTP_DONE = 0,
	RA_TOTP_FACTOR,		/* ra_factor_respond() */
	RA_TOTP_NO_PENDING,	/* 409 */
	RA_TOTP_EXPIRED,	/* 409 */
	RA_TOTP_BAD_CODE,	/* 422 */
};

static void
ra_totp_aad(const char *account_id, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%s", FACTOR_TOTP_AAD_PREFIX, account_id);
}

/*
 * Opens a sealed secret (a bytea column value) of account_id into secret.
 * 0, or -1 (logged: a seal that does not open is our failure).
 */
static int
ra_totp_unseal(struct ra *ra, const char *account_id, const char *sealed_hex,
    unsigned char secret[TOTP_SECRET_BYTES])
{
	unsigned char *sealed = NULL;
	char aad[64];
	size_t sealedlen = 0, n = 0;
	int rc = -1;

	ra_totp_aad(account_id, aad, sizeof(aad));
	if (db_bytea_value(sealed_hex, &sealed, &sealedlen) == -1)
		goto out;
	if (totp_open(ra->totp_key, aad, sealed, sealedlen, secret,
	    TOTP_SECRET_BYTES, &n) != TOTP_OK || n != TOTP_SECRET_BYTES) {
		log_err("totp: the TOTP secret of account %s does not open with "
		    "ra.totp_key_file", account_id);
		goto out;
	}
	rc = 0;
out:
	free(sealed);
	if (rc == -1)
		OPENSSL_cleanse(secret, TOTP_SECRET_BYTES);
	return rc;
}


/* --- POST /v1/totp ---------------------------------------------------------------- */

struct ra_totp_enrol_txn {
	struct ra			*ra;
	const char			*account_id;
	const struct factor		*factor;
	const char			*client;
	enum ra_totp_outcome		 outcome;
	struct factor_outcome	 fo;
	int				 replaces;
	char				 b32[TOTP_SECRET_B32_LEN + 1];
	char				 uri[RA_TOTP_URI_MAX];
	char				 expires[40];
};

static int
ra_totp_enrol_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX];
	struct ra_totp_enrol_txn *t = arg;
	struct totp_params p;
	const char *v[3];
	unsigned char secret[TOTP_SECRET_BYTES], sealed[TOTP_SEALED_BYTES];
	char aad[64], ttl[24], *param = NULL;
	PGresult *res = NULL;
	json_t *details = NULL;
	int rc = -1;

	t->outcome = RA_TOTP_DONE;
	ra_wipe(t->b32, sizeof(t->b32));
	ra_wipe(t->uri, sizeof(t->uri));
	if (ra_factor_check(t->ra, db, t->account_id, "totp_enrol", t->factor,
	    &t->fo) == -1)
		goto out;
	if (t->fo.result != FACTOR_OK) {
		t->outcome = RA_TOTP_FACTOR;
		rc = 0;		/* commit the failure record, nothing else */
		goto out;
	}
	if (RAND_bytes(secret, sizeof(secret)) != 1) {
		log_openssl(LOGL_ERR, "RAND_bytes");
		goto out;
	}
	ra_totp_aad(t->account_id, aad, sizeof(aad));
	if (totp_seal(t->ra->totp_key, aad, secret, sizeof(secret), sealed,
	    sizeof(sealed)) != TOTP_OK) {
		log_err("totp: totp_seal failed");
		goto out;
	}
	if ((param = db_bytea_param(sealed, sizeof(sealed))) == NULL)
		goto out;
	snprintf(ttl, sizeof(ttl), "%d", RA_TOTP_PENDING_TTL_S);
	v[0] = t->account_id;
	v[1] = param;
	v[2] = ttl;
	if ((res = db_exec(db, &stmt_totp_enrol, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	t->replaces = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	snprintf(t->expires, sizeof(t->expires), "%s", PQgetvalue(res, 0, 2));
	totp_params_default(&p);
	if (totp_base32_encode(secret, sizeof(secret), 0, t->b32,
	    sizeof(t->b32)) != TOTP_OK ||
	    totp_uri(&p, RA_TOTP_ISSUER, PQgetvalue(res, 0, 0), secret,
	    sizeof(secret), t->uri, sizeof(t->uri)) != TOTP_OK) {
		log_err("totp: the key URI of account %s does not fit",
		    t->account_id);
		goto out;
	}
	if (t->fo.otp_id > 0)
		details = json_pack("{s:s, s:I, s:b, s:s}", "factor", t->fo.kind,
		    "otp_id", (json_int_t)t->fo.otp_id, "replaces_active",
		    t->replaces, "client", t->client);
	else
		details = json_pack("{s:s, s:b, s:s}", "factor", t->fo.kind,
		    "replaces_active", t->replaces, "client", t->client);
	if (details == NULL || audit_append(db, ra_actor(actor, t->account_id),
	    "ra.totp.enrol", "ra_account", t->account_id, details, NULL) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1 || t->outcome != RA_TOTP_DONE) {
		ra_wipe(t->b32, sizeof(t->b32));
		ra_wipe(t->uri, sizeof(t->uri));
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(sealed, sizeof(sealed));
	json_decref(details);
	free(param);
	PQclear(res);
	return rc;
}

/* Wipes the string members of a reply that carry the secret. */
static void
ra_totp_wipe_reply(json_t *o)
{
	const char *names[] = { "secret", "otpauth_uri" };
	json_t *s;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((s = json_object_get(o, names[i])) != NULL &&
		    json_is_string(s))
			ra_wipe((char *)json_string_value(s),
			    json_string_length(s));
}

int
ra_totp_enrol(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	struct ra_totp_enrol_req r;
	struct ra_totp_enrol_txn t;
	char detail[256];
	json_t *o = NULL;
	int rc = -1, a;

	memset(&r, 0, sizeof(r));
	memset(&t, 0, sizeof(t));
	if ((a = ra_subscriber_json(ra, req, resp, &who)) != 1)
		return a;
	if (ra_parse_totp_enrol(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1) {
		rc = ra_problem(resp, 400, detail);
		goto out;
	}
	t.ra = ra;
	t.account_id = who.account_id;
	t.factor = &r.factor;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_totp_enrol_txn,
	    &t) == -1)
		goto out;
	if (t.outcome == RA_TOTP_FACTOR) {
		rc = ra_factor_respond(resp, &t.fo);
		goto out;
	}
	log_info("totp: account %s enrolled a pending TOTP secret (authorized "
	    "by %s)", who.account_id, t.fo.kind);
	if ((o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:b}",
	    "otpauth_uri", t.uri, "secret", t.b32, "algorithm", "SHA1",
	    "expires_at", t.expires, "digits", TOTP_DIGITS_MIN, "period",
	    TOTP_PERIOD_DEFAULT, "status", "pending", "replaces_active",
	    t.replaces)) == NULL)
		goto out;
	http_add_header(resp, "Cache-Control", "no-store");
	rc = http_respond_json(resp, 201, o);
out:
	if (o != NULL) {
		ra_totp_wipe_reply(o);
		json_decref(o);
	}
	ra_wipe(&t, sizeof(t));
	ra_wipe(&r, sizeof(r));
	return rc;
}

/* --- POST /v1/totp/confirm ---------------------------------------------------------- */

struct ra_totp_confirm_txn {
	struct ra			*ra;
	const char			*account_id;
	const char			*code;
	const char			*client;
	enum ra_totp_outcome		 outcome;
	int				 replaced;
};

/*
 * Queues the notice of a TOTP confirmed to the account's address, in the
 * confirmation's transaction (ra_mail_queue): a TOTP authorizes every
 * purpose, remote signatures included, so its owner must learn of one they
 * did not set up. 0 or -1.
 */
static int
ra_totp_notice(struct db *db, const char *to, const char *at, int replaced)
{
	char *body = NULL;
	int rc;

	if (asprintf(&body, "%s on %s (UTC).%s\r\n\r\nIts codes authorize "
	    "every sensitive action of your account (agreements, revocations, "
	    "account changes) and remote signatures.\r\n\r\nIf you did not do "
	    "this, contact us at once.\r\n", replaced ? "The authenticator app "
	    "(TOTP) of your account was replaced" : "An authenticator app (TOTP) "
	    "was set up for your account", at, replaced ? " The codes of the "
	    "previous one no longer work." : "") == -1) {
		log_err("totp: asprintf: out of memory");
		return -1;
	}
	rc = ra_mail_queue(db, to, replaced ? "Your authenticator app was "
	    "replaced" : "An authenticator app was set up for your account",
	    body);
	free(body);
	return rc;
}

static int
ra_totp_confirm_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX];
	struct ra_totp_confirm_txn *t = arg;
	struct totp_params p;
	const char *v[2];
	unsigned char secret[TOTP_SECRET_BYTES];
	char ttl[24], step_s[24];
	PGresult *res = NULL;
	json_t *details = NULL;
	uint64_t step = 0;
	int rc = -1, r;

	memset(secret, 0, sizeof(secret));
	t->outcome = RA_TOTP_DONE;
	snprintf(ttl, sizeof(ttl), "%d", RA_TOTP_PENDING_TTL_S);
	v[0] = t->account_id;
	v[1] = ttl;
	if ((res = db_exec(db, &stmt_totp_confirm_select, v, NULL,
	    NULL)) == NULL || PQntuples(res) != 1)
		goto out;
	if (PQgetisnull(res, 0, 0)) {
		t->outcome = RA_TOTP_NO_PENDING;
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
		t->outcome = RA_TOTP_EXPIRED;
		goto out;
	}
	t->replaced = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	if (ra_totp_unseal(t->ra, t->account_id, PQgetvalue(res, 0, 0),
	    secret) == -1)
		goto out;
	totp_params_default(&p);
	r = totp_verify(&p, secret, sizeof(secret), t->code, time(NULL), 0,
	    &step);
	if (r == TOTP_ERR_MISMATCH || r == TOTP_ERR_REPLAY) {
		t->outcome = RA_TOTP_BAD_CODE;
		goto out;
	}
	if (r != TOTP_OK) {
		log_err("totp: totp_verify failed (%d)", r);
		goto out;
	}
	/* The confirming code's step is the last accepted: it is not reusable. */
	snprintf(step_s, sizeof(step_s), "%llu", (unsigned long long)step);
	v[1] = step_s;
	if (db_exec_ok(db, &stmt_totp_confirm, v) == -1)
		goto out;
	if ((details = json_pack("{s:b, s:s}", "replaced", t->replaced,
	    "client", t->client)) == NULL ||
	    audit_append(db, ra_actor(actor, t->account_id), "ra.totp.confirm",
	    "ra_account", t->account_id, details, NULL) == -1 ||
	    ra_totp_notice(db, PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4),
	    t->replaced) == -1)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	json_decref(details);
	PQclear(res);
	return rc;
}

int
ra_totp_confirm(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	struct ra_totp_confirm_req r;
	struct ra_totp_confirm_txn t;
	char detail[256];
	json_t *o = NULL;
	int rc = -1, a;

	memset(&r, 0, sizeof(r));
	memset(&t, 0, sizeof(t));
	if ((a = ra_subscriber_json(ra, req, resp, &who)) != 1)
		return a;
	if (ra_parse_totp_confirm(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1) {
		rc = ra_problem(resp, 400, detail);
		goto out;
	}
	t.ra = ra;
	t.account_id = who.account_id;
	t.code = r.code;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_totp_confirm_txn,
	    &t) == -1) {
		switch (t.outcome) {
		case RA_TOTP_NO_PENDING:
			rc = ra_problem(resp, 409, "no pending TOTP enrolment "
			    "(POST /v1/totp first)");
			break;
		case RA_TOTP_EXPIRED:
			rc = ra_problem(resp, 409, "the pending TOTP enrolment "
			    "has expired; enrol again (POST /v1/totp)");
			break;
		case RA_TOTP_BAD_CODE:
			rc = ra_problem(resp, 422, "code: does not match the "
			    "pending secret at this time (RFC 6238); check the "
			    "authenticator app and its clock");
			break;
		default:
			break;
		}
		goto out;
	}
	log_info("totp: account %s confirmed its TOTP%s, notice queued",
	    who.account_id, t.replaced ? " (the previous one is replaced)" : "");
	if ((o = json_pack("{s:I, s:b, s:b}", "id", (json_int_t)strtoll(
	    who.account_id, NULL, 10), "totp_enrolled", 1, "replaced",
	    t.replaced)) == NULL)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	ra_wipe(&r, sizeof(r));
	json_decref(o);
	return rc;
}

/* --- start-up ------------------------------------------------------------------------ */

int
ra_totp_init(struct ra *ra, const struct config *cfg)
{
	const char *path = config_get(cfg, "ra.totp_key_file", NULL);
	char err[512];

	if (path == NULL) {
		log_err("config: ra.totp_key_file missing (the AES-256-GCM key "
		    "of subscribers' TOTP secrets; deploy/stack.sh makes it)");
		return -1;
	}
	if (totp_key_load(path, ra->totp_key, err, sizeof(err)) != TOTP_OK) {
		log_err("ra.totp_key_file: %s", err);
		return -1;
	}
	/* The factor verifier (lib/factor.c) checks TOTP codes through us. */
	ra->fv.totp_match = factor_totp_sealed_match;
	ra->fv.totp_arg = ra->totp_key;
	return 0;
}
