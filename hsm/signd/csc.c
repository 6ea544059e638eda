/*
 * signd's worker: the CSC API v2 endpoints (docs/csc.md). It parses HTTP
 * and JSON, authenticates signing services (OAuth 2.0 client credentials,
 * RFC 6749 §4.4; Bearer tokens, RFC 6750), answers credentials/list and
 * credentials/info from the database (pki_sign), and forwards
 * credentials/authorize and signatures/signHash as fixed-format requests to
 * the SAM, which decides them (samproc.c). Errors are CSC's JSON form
 * {"error": ..., "error_description": ...}; a description never quotes a
 * secret.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "hsm/signer_proto.h"
#include "hsm/signd/extern.h"
#include "lib/audit.h"
#include "lib/cadb.h"
#include "lib/db.h"
#include "lib/http.h"
#include "lib/log.h"

#define CSC_PREFIX	"/csc/v2/"
#define CSC_TXN		3

/* What one request runs with: its thread's connection and SAM. */
struct csc_ctx {
	struct signd		*sd;
	struct db		*db;	/* the thread's own pki_sign connection */
	struct signd_sam	*sam;	/* the thread's SAM */
};

/*
 * The token row, made by the database only for the holder of the client
 * secret (schema/063): the service's id, or NULL when the client id is
 * unknown or disabled or the secret's SHA-256 is not the stored one.
 * pki_sign can neither read that digest nor insert a token itself, so a
 * compromised worker cannot make a token for a service that does not
 * call it (hsm/README.md "What the SAM trusts").
 */
static const struct db_stmt stmt_token_issue = {
	"signd_csc_token_issue",
	"SELECT sign_token_issue($1, $2::bytea, $3::bytea, $4::int)",
	4
};
/*
 * A service asks for a token per job or so, and expired rows serve nothing:
 * each new token takes away up to 64 of its service's that expired an hour
 * ago or more (the hour keeps a row for a request in flight at its expiry
 * and for a look at recent history). The database does it (schema/106):
 * pki_sign may not DELETE a token, so a compromised worker cannot log the
 * services out. One row: how many it removed.
 */
/* A service's id (sign_service.id, bigserial) in decimal, with its NUL. */
#define CSC_SERVICE_ID_MAX	24

static const struct db_stmt stmt_token_purge = {
	"signd_csc_token_purge",
	"SELECT sign_token_purge_expired($1::bigint)",
	1
};
static const struct db_stmt stmt_token_check = {
	"signd_csc_token_check",
	"SELECT t.service_id FROM sign_token t JOIN sign_service s ON "
	"s.id = t.service_id WHERE t.token_sha256 = $1::bytea AND "
	"t.expires_at > now() AND s.disabled_at IS NULL",
	1
};
/*
 * A service sees only the credentials of the subscribers who granted it
 * (schema/112, at the RA); another's are as unknown as an id never
 * issued. The SAM checks the grant again itself.
 */
#define CSC_GRANT_JOIN(service) \
	"JOIN sign_grant g ON g.account_id = sc.account_id AND " \
	"g.service_id = " service " "
static const struct db_stmt stmt_cred_list = {
	"signd_csc_credentials_list",
	"SELECT sc.certificate_id FROM sign_credential sc JOIN certificate c "
	"ON c.id = sc.certificate_id " CSC_GRANT_JOIN("$3::bigint")
	"WHERE sc.account_id = $1 "
	"ORDER BY sc.certificate_id LIMIT $2::int",
	3
};
/*
 * Column 7: the chain above the certificate, issuer first, up to the
 * self-signed root (issuer_id NULL, schema/002), as base64 DER separated
 * by commas; at most 8 certificates, so that a loop of
 * issuer_id ends too. Until 2026-12-07 two levels only.
 */
static const struct db_stmt stmt_cred_info = {
	"signd_csc_credentials_info",
	"SELECT sc.account_id, c.der, c.revoked_at IS NOT NULL, "
	"coalesce(c.revocation_reason, -1), now() < c.not_before, "
	"now() > c.not_after, k.key_type, "
	"(WITH RECURSIVE up (issuer_id, der, depth) AS ("
	"SELECT i.issuer_id, i.der, 1 FROM ca_certificate i "
	"WHERE i.id = c.issuer_id UNION ALL "
	"SELECT i.issuer_id, i.der, up.depth + 1 FROM up JOIN ca_certificate i "
	"ON i.id = up.issuer_id WHERE up.depth < 8) "
	"SELECT string_agg(translate(encode(der, 'base64'), E'\\n', ''), ',' "
	"ORDER BY depth) FROM up), "
	"ri.revoked_at IS NOT NULL, coalesce(ri.revocation_reason, -1), "
	"(now() < ri.not_before OR now() > ri.not_after) "
	"FROM sign_credential sc JOIN certificate c ON c.id = sc.certificate_id "
	"JOIN subscriber_key k ON k.certificate_id = c.id "
	"JOIN ca_certificate_status ri ON ri.id = c.issuer_id "
	CSC_GRANT_JOIN("$2::bigint")
	"WHERE sc.certificate_id = $1",
	2
};
static const struct db_stmt stmt_cred_owner = {
	"signd_csc_credential_owner",
	"SELECT sc.account_id, (SELECT key_type FROM subscriber_key k WHERE "
	"k.certificate_id = sc.certificate_id) FROM sign_credential sc "
	CSC_GRANT_JOIN("$2::bigint") "WHERE sc.certificate_id = $1",
	2
};

/*
 * CSC's error form; a 401's WWW-Authenticate is www, or by default Basic
 * for invalid_client and Bearer with error="invalid_token" else. 0 or -1.
 */
static int
csc_error_www(struct http_response *resp, int status, const char *error,
    const char *desc, const char *www)
{
	json_t *o;
	int rc;

	if ((o = json_pack("{s:s, s:s}", "error", error, "error_description",
	    desc)) == NULL)
		return -1;
	rc = http_respond_json(resp, status, o);
	json_decref(o);
	if (rc == 0 && status == 401)
		rc = http_add_header(resp, "WWW-Authenticate", www != NULL ?
		    www : strcmp(error, "invalid_client") == 0 ?
		    "Basic realm=\"csc\"" :
		    "Bearer realm=\"csc\", error=\"invalid_token\"");
	return rc;
}

static int
csc_error(struct http_response *resp, int status, const char *error,
    const char *desc)
{
	return csc_error_www(resp, status, error, desc, NULL);
}

/*
 * 503 temporarily_unavailable (RFC 6749 §4.1.2.1) with Retry-After: the
 * database is away (a restart or failover), the request may succeed soon.
 */
static int
csc_unavailable(struct http_response *resp, const char *desc)
{
	char ra[16];

	snprintf(ra, sizeof(ra), "%d", DB_RETRY_AFTER_S);
	if (csc_error(resp, 503, "temporarily_unavailable", desc) == -1)
		return -1;
	return http_add_header(resp, "Retry-After", ra);
}

static int
csc_sha256_param(const unsigned char *p, size_t n, char **param)
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	*param = NULL;
	if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1)
		return -1;
	*param = db_bytea_param(md, sizeof(md));
	return *param != NULL ? 0 : -1;
}

/*
 * The signing service of the request's Bearer token: 1 with its id in service,
 * and the token's 256 bits in token when it is not NULL (for the SAM,
 * which finds the service again by itself; the caller wipes them); 0
 * when a 401 is in resp; -1 on our failure. token is cleared on entry.
 */
static int
csc_service(struct csc_ctx *c, const struct http_request *req,
    struct http_response *resp, char service[CSC_SERVICE_ID_MAX],
    unsigned char token[SIGND_TOKEN_BYTES])
{
	const char *h = http_header(req, "Authorization"), *tok = http_bearer(req);
	unsigned char raw[SIGND_TOKEN_BYTES];
	char *digest = NULL;
	const char *v[1];
	PGresult *res = NULL;
	int rc = -1;

	service[0] = '\0';
	if (token != NULL)
		memset(token, 0, SIGND_TOKEN_BYTES);
	if (tok == NULL || csc_b64url32_decode(tok, raw) == -1) {
		/* No credentials at all: no error code (RFC 6750 §3.1). */
		rc = csc_error_www(resp, 401, "invalid_token", h == NULL ?
		    "an access token is required (Authorization: Bearer, RFC "
		    "6750 §2.1)" : "malformed access token", h == NULL ?
		    "Bearer realm=\"csc\"" : NULL) == 0 ? 0 : -1;
		goto out;
	}
	if (csc_sha256_param(raw, sizeof(raw), &digest) == -1)
		goto out;
	v[0] = digest;
	if ((res = db_exec(c->db, &stmt_token_check, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		rc = csc_error(resp, 401, "invalid_token", "the access token is "
		    "unknown or expired") == 0 ? 0 : -1;
		goto out;
	}
	snprintf(service, CSC_SERVICE_ID_MAX, "%s", PQgetvalue(res, 0, 0));
	if (token != NULL)
		memcpy(token, raw, SIGND_TOKEN_BYTES);
	rc = 1;
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	free(digest);
	PQclear(res);
	return rc;
}

/*
 * The credentials/ and signatures/ methods take JSON: checked after the
 * token (csc_service), so that a caller without one learns that first
 * (docs/csc.md "Errors"). 1 when it is JSON, 0 with a 400 in resp, -1.
 */
static int
csc_json_body(const struct http_request *req, struct http_response *resp)
{
	if (http_media_type_is(req, "application/json"))
		return 1;
	return csc_error(resp, 400, "invalid_request", "the body must be "
	    "application/json") == 0 ? 0 : -1;
}

/* --- info ---------------------------------------------------------------------- */

static int
csc_info(struct csc_ctx *c, const struct http_request *req,
    struct http_response *resp)
{
	json_t *o = NULL, *algos = NULL;
	const char *a;
	char oauth[512], detail[128];
	size_t i;
	int rc = -1;

	/* A body is optional; one that is there is checked like any other. */
	if (req->body_len > 0 && !http_media_type_is(req, "application/json"))
		return csc_error(resp, 400, "invalid_request", "the body must be "
		    "application/json");
	if (csc_parse_server_info(req->body, req->body_len, detail,
	    sizeof(detail)) == -1)
		return csc_error(resp, 400, "invalid_request", detail);
	snprintf(oauth, sizeof(oauth), "%s/oauth2", c->sd->base_url);
	/* CSC v2 §11.1's signAlgorithms: exactly what signHash takes. */
	if ((algos = json_array()) == NULL)
		goto out;
	for (i = 0; (a = csc_sign_algo_oid(i)) != NULL; i++)
		if (json_array_append_new(algos, json_string(a)) == -1)
			goto out;
	/* "methods" last: test_docs reads the list up to the ");". */
	if ((o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:s, "
	    "s:{s:O}, s:[s,s,s,s,s,s]}", "specs", "2.0.0.0", "name",
	    "PKI remote signing (signd)", "logo", "", "region", "ID", "lang",
	    "en-US", "description", "Remote signing with subscriber keys held "
	    "in the HSM (SCAL2)", "authType", "oauth2client", "oauth2", oauth,
	    "signAlgorithms", "algos", algos,
	    "methods", "oauth2/token", "credentials/list", "credentials/info",
	    "credentials/authorize", "signatures/signHash", "info")) == NULL)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	json_decref(algos);
	json_decref(o);
	return rc;
}

/* --- oauth2/token ---------------------------------------------------------------- */

struct csc_token_txn {
	const char	*v[4];		/* client_id, secret and token digests,
					   ttl: stmt_token_issue's */
	char		 svc[CSC_SERVICE_ID_MAX];	/* the service; "" when refused */
};

/*
 * The token row (if the client authenticates), the service's long-expired
 * rows away, and the audit event of both (sign.token, no secret). 0 with
 * svc "" when the client did not authenticate: nothing written.
 */
static int
csc_token_txn(struct db *db, void *arg)
{
	struct csc_token_txn *t = arg;
	const char *v[1];
	PGresult *res;
	json_t *details;
	long purged;
	int rc = -1;

	t->svc[0] = '\0';
	if ((res = db_exec(db, &stmt_token_issue, t->v, NULL, NULL)) == NULL)
		return -1;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		PQclear(res);
		return 0;
	}
	snprintf(t->svc, sizeof(t->svc), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	v[0] = t->svc;
	if ((res = db_exec(db, &stmt_token_purge, v, NULL, NULL)) == NULL)
		return -1;
	purged = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	if ((details = json_pack("{s:s, s:s, s:i}", "service_id", t->svc,
	    "expires_in", t->v[3], "expired_removed", (int)purged)) == NULL)
		return -1;
	rc = audit_append(db, "signd:token", "sign.token", "sign_service",
	    t->svc, details, NULL);
	json_decref(details);
	return rc;
}

static int
csc_token(struct csc_ctx *c, const struct http_request *req,
    struct http_response *resp)
{
	struct csc_token_req t;
	struct csc_token_txn x;
	unsigned char tok[SIGND_TOKEN_BYTES];
	char detail[256], ttl[16], text[SIGND_TOKEN_B64_LEN + 1];
	char *secret = NULL, *digest = NULL;
	json_t *o = NULL;
	enum csc_token_refusal why;
	int rc = -1;

	memset(&t, 0, sizeof(t));
	memset(&x, 0, sizeof(x));
	if (!http_media_type_is(req, "application/x-www-form-urlencoded")) {
		rc = csc_error(resp, 400, "invalid_request", "the body must be "
		    "application/x-www-form-urlencoded (RFC 6749 §4.4.2)");
		goto out;
	}
	if (csc_parse_token(req->body, req->body_len, http_header(req,
	    "Authorization"), &t, &why, detail, sizeof(detail)) == -1) {
		/*
		 * Another scheme than Basic, or an id or secret longer than
		 * any client's: client authentication failed (RFC 6749
		 * §5.2), 401 with WWW-Authenticate: Basic, as a wrong secret.
		 */
		if (why == CSC_TOKEN_CLIENT) {
			log_warn("token: client authentication failed from %s: "
			    "%s", req->remote_addr, detail);
			rc = csc_error(resp, 401, "invalid_client", detail);
		} else
			rc = csc_error(resp, 400, why == CSC_TOKEN_GRANT ?
			    "unsupported_grant_type" : "invalid_request", detail);
		goto out;
	}
	/*
	 * A client_id of another form is unknown without asking PostgreSQL,
	 * which would refuse bytes that are not UTF-8 (a 500 for anyone).
	 */
	if (csc_client_id_ok(t.client_id)) {
		if (csc_sha256_param((const unsigned char *)t.client_secret,
		    strlen(t.client_secret), &secret) == -1 ||
		    RAND_bytes(tok, sizeof(tok)) != 1 ||
		    csc_sha256_param(tok, sizeof(tok), &digest) == -1)
			goto out;
		snprintf(ttl, sizeof(ttl), "%ld", c->sd->token_ttl_s);
		x.v[0] = t.client_id;
		x.v[1] = secret;
		x.v[2] = digest;
		x.v[3] = ttl;
		if (db_transaction(c->db, NULL, CSC_TXN, csc_token_txn,
		    &x) == -1)
			goto out;
	}
	if (x.svc[0] == '\0') {
		log_warn("token: client authentication failed from %s",
		    req->remote_addr);
		rc = csc_error(resp, 401, "invalid_client", "client "
		    "authentication failed (RFC 6749 §5.2)");
		goto out;
	}
	csc_b64url32_encode(tok, text);
	log_info("token: service %s got an access token (%s s)", x.svc, ttl);
	if ((o = json_pack("{s:s, s:s, s:I}", "access_token", text,
	    "token_type", "Bearer", "expires_in", (json_int_t)c->sd->token_ttl_s))
	    == NULL)
		goto out;
	rc = http_respond_json(resp, 200, o);
	if (rc == 0)
		rc = http_add_header(resp, "Cache-Control", "no-store");
out:
	OPENSSL_cleanse(&t, sizeof(t));
	OPENSSL_cleanse(tok, sizeof(tok));
	OPENSSL_cleanse(text, sizeof(text));
	json_decref(o);
	if (secret != NULL)
		OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
	free(digest);
	return rc;
}

/* --- credentials/list, credentials/info ----------------------------------------- */

static json_t *
csc_b64_json(const char *bytea)
{
	unsigned char *der = NULL;
	size_t len = 0;
	char *b = NULL;
	json_t *s = NULL;

	if (db_bytea_value(bytea, &der, &len) == 0 &&
	    (b = csc_b64_encode(der, len)) != NULL)
		s = json_string(b);
	free(der);
	free(b);
	return s;
}

/* The CSC key algorithm OIDs and length of a key type. */
static json_t *
csc_key_json(const char *kt, int enabled)
{
	if (strncmp(kt, "rsa", 3) == 0)
		return json_pack("{s:s, s:[s,s], s:i}", "status", enabled ?
		    "enabled" : "disabled", "algo", "1.2.840.113549.1.1.1",
		    "1.2.840.113549.1.1.10", "len", atoi(kt + 3));
	return json_pack("{s:s, s:[s], s:i, s:s}", "status", enabled ?
	    "enabled" : "disabled", "algo", "1.2.840.10045.2.1", "len",
	    strcmp(kt, "ec-p384") == 0 ? 384 : 256, "curve",
	    strcmp(kt, "ec-p384") == 0 ? "1.3.132.0.34" :
	    "1.2.840.10045.3.1.7");
}

static void
csc_time(const ASN1_TIME *t, char *out, size_t outlen)
{
	struct tm tm;

	out[0] = '\0';
	if (ASN1_TIME_to_tm(t, &tm) == 1)
		strftime(out, outlen, "%Y%m%d%H%M%SZ", &tm);
}

/*
 * Appends to certs each of chain's comma-separated base64 certificates
 * (stmt_cred_info's column 7). 0 or -1.
 */
static int
csc_chain_json(json_t *certs, const char *chain)
{
	const char *s = chain, *e;

	while (*s != '\0') {
		if ((e = strchr(s, ',')) == NULL)
			e = s + strlen(s);
		if (json_array_append_new(certs, json_stringn(s,
		    (size_t)(e - s))) == -1)
			return -1;
		s = *e == ',' ? e + 1 : e;
	}
	return 0;
}

/*
 * credentials/info's object (CSC v2 §11.5) of credential q->credential,
 * with what q asks (certificates, certInfo, authInfo), for service svc;
 * q->user_id, when not "", must own it. 1 with *out (the caller frees it)
 * and *valid (the certificate valid, the key enabled); 0 when the
 * credential is unknown, another user's, or of a subscriber who did not
 * grant svc; -1 on failure. *out is cleared on entry.
 */
static int
csc_cred_object(struct csc_ctx *c, const char *svc,
    const struct csc_info_req *q, json_t **out, int *valid)
{
	char from[32], to[32], *subj = NULL, *iss = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t derlen = 0;
	const char *v[2], *status;
	PGresult *res = NULL;
	X509 *x = NULL;
	BIGNUM *bn = NULL;
	char *serial = NULL;
	json_t *o = NULL, *cert = NULL, *certs = NULL;
	int rc = -1;

	*out = NULL;
	*valid = 0;
	v[0] = q->credential;
	v[1] = svc;
	if ((res = db_exec(c->db, &stmt_cred_info, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1 || (q->user_id[0] != '\0' &&
	    strcmp(q->user_id, PQgetvalue(res, 0, 0)) != 0)) {
		rc = 0;
		goto out;
	}
	/*
	 * The certificate's own status first, then its issuing CA's own
	 * certificate's (columns 8..10, schema/100), which the SAM refuses
	 * in the same way: a credential under a revoked, held or expired CA
	 * is not valid either.
	 */
	if (strcmp(PQgetvalue(res, 0, 2), "t") == 0)
		status = strcmp(PQgetvalue(res, 0, 3), "6") == 0 ? "suspended" :
		    "revoked";
	else if (strcmp(PQgetvalue(res, 0, 4), "t") == 0 ||
	    strcmp(PQgetvalue(res, 0, 5), "t") == 0)
		status = "expired";
	else if (strcmp(PQgetvalue(res, 0, 8), "t") == 0)
		status = strcmp(PQgetvalue(res, 0, 9), "6") == 0 ? "suspended" :
		    "revoked";
	else if (strcmp(PQgetvalue(res, 0, 10), "t") == 0)
		status = "expired";
	else
		status = "valid";
	*valid = strcmp(status, "valid") == 0;
	if ((cert = json_pack("{s:s}", "status", status)) == NULL ||
	    (certs = json_array()) == NULL)
		goto out;
	if (q->certs != CSC_CERTS_NONE) {
		if (json_array_append_new(certs, csc_b64_json(PQgetvalue(res, 0,
		    1))) == -1)
			goto out;
		if (q->certs == CSC_CERTS_CHAIN && !PQgetisnull(res, 0, 7) &&
		    csc_chain_json(certs, PQgetvalue(res, 0, 7)) == -1)
			goto out;
		if (json_object_set(cert, "certificates", certs) == -1)
			goto out;
	}
	if (q->cert_info) {
		if (db_bytea_value(PQgetvalue(res, 0, 1), &der, &derlen) == -1)
			goto out;
		p = der;
		if ((x = d2i_X509(NULL, &p, (long)derlen)) == NULL ||
		    (subj = cadb_name_text(X509_get_subject_name(x), 1)) ==
		    NULL ||
		    (iss = cadb_name_text(X509_get_issuer_name(x), 1)) == NULL ||
		    (bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) ==
		    NULL || (serial = BN_bn2hex(bn)) == NULL)
			goto out;
		csc_time(X509_get0_notBefore(x), from, sizeof(from));
		csc_time(X509_get0_notAfter(x), to, sizeof(to));
		if (json_object_set_new(cert, "issuerDN", json_string(iss)) ==
		    -1 || json_object_set_new(cert, "subjectDN",
		    json_string(subj)) == -1 || json_object_set_new(cert,
		    "serialNumber", json_string(serial)) == -1 ||
		    json_object_set_new(cert, "validFrom", json_string(from)) ==
		    -1 || json_object_set_new(cert, "validTo", json_string(to)) ==
		    -1)
			goto out;
	}
	if ((o = json_pack("{s:s, s:o, s:O, s:s, s:s, s:i, s:s}",
	    "description", "Subscriber signing key held wrapped in the HSM",
	    "key", csc_key_json(PQgetvalue(res, 0, 6), *valid), "cert", cert,
	    "authMode", "explicit", "SCAL", "2", "multisign", SIGND_HASHES_MAX,
	    "lang", "en-US")) == NULL)
		goto out;
	if (q->auth_info && json_object_set_new(o, "auth", json_pack(
	    "{s:s, s:s, s:[{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}, "
	    "{s:s, s:s, s:s, s:s}]}",
	    "mode", "explicit", "expression", "PIN OR OTP", "objects",
	    "type", "Password", "id", "PIN", "format", "N", "label",
	    "the subscriber's 6-digit PIN", "type", "Password", "id", "OTP",
	    "format", "N", "label", "a 6-digit OTP of purpose sign from the "
	    "RA (POST /v1/otp) for this credential and these hashes, with its "
	    "otpID; without otpID, the subscriber's TOTP code", "type",
	    "Password", "id", "otpID", "format", "N", "label", "the id of that "
	    "RA OTP (not secret)")) == -1)
		goto out;
	*out = o;
	o = NULL;
	rc = 1;
out:
	json_decref(o);
	json_decref(cert);
	json_decref(certs);
	X509_free(x);
	BN_free(bn);
	OPENSSL_free(serial);
	free(subj);
	free(iss);
	free(der);
	PQclear(res);
	return rc;
}

static int
csc_cred_info(struct csc_ctx *c, const struct http_request *req,
    struct http_response *resp)
{
	struct csc_info_req r;
	char svc[CSC_SERVICE_ID_MAX];
	char detail[256];
	json_t *o = NULL;
	int rc, a, valid;

	if ((a = csc_service(c, req, resp, svc, NULL)) != 1 ||
	    (a = csc_json_body(req, resp)) != 1)
		return a;
	if (csc_parse_info(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1)
		return csc_error(resp, 400, "invalid_request", detail);
	if ((a = csc_cred_object(c, svc, &r, &o, &valid)) != 1)
		return a == 0 ? csc_error(resp, 400, "invalid_request",
		    "Invalid parameter credentialID") : -1;
	rc = http_respond_json(resp, 200, o);
	json_decref(o);
	return rc;
}

/*
 * credentials/list (CSC v2 §11.4): the user's credential ids, at most
 * maxResults (default and cap 1000); with onlyValid only those whose
 * certificate is valid and key enabled, and with credentialInfo each one's
 * credentials/info object too (csc_cred_object, with certificates,
 * certInfo and authInfo), its credentialID in it. Either looks at each of
 * the user's first 1000 credentials once: one query each.
 */
static int
csc_list(struct csc_ctx *c, const struct http_request *req,
    struct http_response *resp)
{
	struct csc_list_req r;
	struct csc_info_req q;
	char svc[CSC_SERVICE_ID_MAX], detail[256], max[24];
	const char *v[3];
	PGresult *res = NULL;
	json_t *o = NULL, *ids, *infos = NULL, *info = NULL;
	long want;
	int rc = -1, a, i, valid;

	if ((a = csc_service(c, req, resp, svc, NULL)) != 1 ||
	    (a = csc_json_body(req, resp)) != 1)
		return a;
	if (csc_parse_list(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1)
		return csc_error(resp, 400, "invalid_request", detail);
	want = r.max_results > 0 ? r.max_results : 1000;
	/* onlyValid: maxResults counts the valid ones; look at them all. */
	snprintf(max, sizeof(max), "%ld", r.only_valid ? 1000 : want);
	v[0] = r.user_id;
	v[1] = max;
	v[2] = svc;
	if ((res = db_exec(c->db, &stmt_cred_list, v, NULL, NULL)) == NULL)
		goto out;
	if ((o = json_pack("{s:[]}", "credentialIDs")) == NULL)
		goto out;
	ids = json_object_get(o, "credentialIDs");
	if (r.credential_info && (json_object_set_new(o, "credentialInfos",
	    infos = json_array()) == -1 || infos == NULL))
		goto out;
	memset(&q, 0, sizeof(q));
	snprintf(q.user_id, sizeof(q.user_id), "%s", r.user_id);
	q.certs = r.certs;
	q.cert_info = r.cert_info;
	q.auth_info = r.auth_info;
	for (i = 0; i < PQntuples(res) && (long)json_array_size(ids) < want;
	    i++) {
		if (r.credential_info || r.only_valid) {
			snprintf(q.credential, sizeof(q.credential), "%s",
			    PQgetvalue(res, i, 0));
			/* 0: gone since the list was read. */
			if ((a = csc_cred_object(c, svc, &q, &info, &valid)) == -1)
				goto out;
			if (a == 0 || (r.only_valid && !valid)) {
				json_decref(info);
				info = NULL;
				continue;
			}
		}
		if (json_array_append_new(ids, json_string(PQgetvalue(res, i,
		    0))) == -1)
			goto out;
		if (infos != NULL) {
			if (json_object_set_new(info, "credentialID",
			    json_string(PQgetvalue(res, i, 0))) == -1 ||
			    json_array_append(infos, info) == -1)
				goto out;
		}
		json_decref(info);
		info = NULL;
	}
	/* CSC v2 §11.4: echoed when the request set it. */
	if (r.only_valid && json_object_set_new(o, "onlyValid",
	    json_true()) == -1)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	json_decref(info);
	json_decref(o);
	PQclear(res);
	return rc;
}

/* --- authorize and signHash: through the SAM ---------------------------------------- */

/*
 * Checks that credential exists, that its subscriber granted service svc
 * and, when user_id is given, that it belongs to that user; 1 when so (key
 * type in kt), 0 with a 400 in resp, -1 on failure.
 */
static int
csc_owner(struct csc_ctx *c, const char *svc, const char *credential,
    const char *user_id, char *kt, size_t ktlen, struct http_response *resp)
{
	const char *v[2] = { credential, svc };
	PGresult *res;
	int rc;

	if ((res = db_exec(c->db, &stmt_cred_owner, v, NULL, NULL)) == NULL)
		return -1;
	if (PQntuples(res) != 1 || (user_id[0] != '\0' &&
	    strcmp(user_id, PQgetvalue(res, 0, 0)) != 0)) {
		rc = csc_error(resp, 400, "invalid_request", "Invalid parameter "
		    "credentialID") == 0 ? 0 : -1;
		PQclear(res);
		return rc;
	}
	snprintf(kt, ktlen, "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	return 1;
}

/*
 * Waits, with sam->lock held, until the slot has a live SAM; 0 when it
 * has, -1 after SIGND_SAM_WAIT_S without one.
 */
static int
csc_sam_wait(struct signd_sam *sam)
{
	struct timespec until;

	if (!sam->dead && sam->fd != -1)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += SIGND_SAM_WAIT_S;
	while (sam->dead || sam->fd == -1)
		if (pthread_cond_timedwait(&sam->ready, &sam->lock, &until) ==
		    ETIMEDOUT)
			return sam->dead || sam->fd == -1 ? -1 : 0;
	return 0;
}

/*
 * One round trip to the thread's SAM. 0 with *status and the reply body
 * (malloc'd); -1 when there is no SAM to ask (503). A SAM that does not
 * answer (within sign.sam_timeout_seconds) is marked dead: the request it may or may not have carried out is
 * not sent again (a SAD may have been consumed), and the supervisor starts
 * another. After sign.sam_recycle_after signHash requests the worker
 * closes the SAM's socket between two requests, so the SAM ends cleanly
 * and the supervisor starts a fresh one (SoftHSM2 leaks ~240 bytes per
 * unwrap, HSM-NOTES); the next request waits for it instead of failing.
 */
static int
csc_sam_call(struct csc_ctx *c, uint32_t type, const unsigned char *body,
    size_t len, uint32_t *status, unsigned char **reply, size_t *replylen)
{
	struct signd_sam *sam = c->sam;
	int rc = -1;

	*reply = NULL;
	*replylen = 0;
	if (pthread_mutex_lock(&sam->lock) != 0)
		return -1;
	if (csc_sam_wait(sam) == -1) {
		log_err("no SAM for this thread after %d s", SIGND_SAM_WAIT_S);
		goto out;
	}
	if (signer_proto_send(sam->fd, type, body, len) == -1 ||
	    signer_proto_recv(sam->fd, SIGNER_REPLY_MAX, status, reply,
	    replylen) != 0) {
		log_err("sam process %d: no reply; its share of remote signing "
		    "answers 503 until the supervisor hands over another",
		    (int)sam->pid);
		/*
		 * Closing our end ends the SAM once it is done with what it
		 * holds (EOF on its next read), so the supervisor replaces it
		 * even when only this side failed (a time-out, no memory).
		 */
		close(sam->fd);
		sam->fd = -1;
		sam->dead = 1;
		free(*reply);
		*reply = NULL;
		*replylen = 0;
		goto out;
	}
	rc = 0;
	if (type == SAM_MSG_SIGNHASH && sam->recycle_after > 0 &&
	    ++sam->signhashes >= sam->recycle_after) {
		log_info("sam process %d: recycled after %lu signHash requests",
		    (int)sam->pid, sam->signhashes);
		close(sam->fd);
		sam->fd = -1;
	}
out:
	pthread_mutex_unlock(&sam->lock);
	return rc;
}

/* Answers a SAM refusal or failure in CSC's error form. */
static int
csc_sam_error(struct http_response *resp, uint32_t status,
    const unsigned char *body, size_t len)
{
	uint32_t e = 0, retry = 0;
	char text[256], ra[16];
	int rc;

	if (status != SAM_REFUSED || sam_refusal_decode(body, len, &e, &retry,
	    text, sizeof(text)) == -1)
		return csc_error(resp, 500, "server_error", "the signature "
		    "activation module failed");
	switch (e) {
	case SAM_E_PIN:
		return csc_error(resp, 400, "invalid_pin", text);
	case SAM_E_OTP:
		return csc_error(resp, 400, "invalid_otp", text);
	case SAM_E_LOCKED:
		rc = csc_error(resp, 429, "access_denied", text);
		snprintf(ra, sizeof(ra), "%u", retry > 0 ? retry : 1);
		if (rc == 0)
			rc = http_add_header(resp, "Retry-After", ra);
		return rc;
	case SAM_E_KEY:
		return csc_error(resp, 500, "server_error", text);
	case SAM_E_UNAVAILABLE:
		return csc_unavailable(resp, text);
	case SAM_E_CREDENTIAL:
		return csc_error(resp, 400, "invalid_request",
		    "Invalid parameter credentialID");
	case SAM_E_TOKEN:
		/* Expired or disabled since csc_service() looked. */
		return csc_error(resp, 401, "invalid_token", "the access token "
		    "is unknown or expired");
	default:
		return csc_error(resp, 400, "invalid_request", text);
	}
}

static int
csc_authorize(struct csc_ctx *c, const struct http_request *req,
    struct http_response *resp)
{
	struct csc_authorize_req r;
	char svc[CSC_SERVICE_ID_MAX];
	unsigned char tok[SIGND_TOKEN_BYTES], *body = NULL, *reply = NULL;
	size_t len = 0, replylen = 0;
	uint32_t status, ttl;
	char detail[256], kt[16], sad[SIGND_SAD_B64_LEN + 1];
	json_t *o = NULL;
	int rc = -1, a;

	memset(&r, 0, sizeof(r));
	if ((a = csc_service(c, req, resp, svc, tok)) != 1)
		return a;
	if ((a = csc_json_body(req, resp)) != 1) {
		rc = a;
		goto out;
	}
	if (csc_parse_authorize(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1) {
		rc = csc_error(resp, 400, "invalid_request", detail);
		goto out;
	}
	if ((a = csc_owner(c, svc, r.credential, r.user_id, kt, sizeof(kt),
	    resp)) != 1) {
		rc = a;
		goto out;
	}
	r.sam.credential = strtoull(r.credential, NULL, 10);
	memcpy(r.sam.token, tok, sizeof(tok));
	if (sam_authorize_encode(&r.sam, &body, &len) == -1)
		goto out;
	if (csc_sam_call(c, SAM_MSG_AUTHORIZE, body, len, &status, &reply,
	    &replylen) == -1) {
		/* The supervisor starts another SAM within a second or so. */
		http_add_header(resp, "Retry-After", "1");
		rc = csc_error(resp, 503, "temporarily_unavailable", "the "
		    "signature activation module is unavailable");
		goto out;
	}
	if (status != SAM_OK) {
		rc = csc_sam_error(resp, status, reply, replylen);
		goto out;
	}
	if (replylen != SIGND_SAD_BYTES + 4)
		goto out;
	csc_b64url32_encode(reply, sad);
	ttl = (uint32_t)reply[32] << 24 | (uint32_t)reply[33] << 16 |
	    (uint32_t)reply[34] << 8 | reply[35];
	if ((o = json_pack("{s:s, s:I}", "SAD", sad, "expiresIn",
	    (json_int_t)ttl)) == NULL)
		goto out;
	rc = http_respond_json(resp, 200, o);
	if (rc == 0)
		rc = http_add_header(resp, "Cache-Control", "no-store");
out:
	OPENSSL_cleanse(sad, sizeof(sad));
	OPENSSL_cleanse(tok, sizeof(tok));
	if (reply != NULL)
		OPENSSL_cleanse(reply, replylen);
	if (body != NULL)
		OPENSSL_cleanse(body, len);
	OPENSSL_cleanse(&r, sizeof(r));
	json_decref(o);
	free(reply);
	free(body);
	return rc;
}

static int
csc_signhash(struct csc_ctx *c, const struct http_request *req,
    struct http_response *resp)
{
	struct csc_signhash_req r;
	char svc[CSC_SERVICE_ID_MAX];
	unsigned char tok[SIGND_TOKEN_BYTES], *body = NULL, *reply = NULL;
	unsigned char **sigs = NULL;
	size_t len = 0, replylen = 0, *lens = NULL;
	uint32_t status, n = 0, i;
	char detail[256], kt[16], *b = NULL;
	json_t *o = NULL, *arr;
	int rc = -1, a;

	memset(&r, 0, sizeof(r));
	if ((a = csc_service(c, req, resp, svc, tok)) != 1)
		return a;
	if ((a = csc_json_body(req, resp)) != 1) {
		rc = a;
		goto out;
	}
	if (csc_parse_signhash(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1) {
		rc = csc_error(resp, 400, "invalid_request", detail);
		goto out;
	}
	if ((a = csc_owner(c, svc, r.credential, r.user_id, kt, sizeof(kt),
	    resp)) != 1) {
		rc = a;
		goto out;
	}
	r.sam.credential = strtoull(r.credential, NULL, 10);
	memcpy(r.sam.token, tok, sizeof(tok));
	if (sam_signhash_encode(&r.sam, &body, &len) == -1)
		goto out;
	if (csc_sam_call(c, SAM_MSG_SIGNHASH, body, len, &status, &reply,
	    &replylen) == -1) {
		/* The supervisor starts another SAM within a second or so. */
		http_add_header(resp, "Retry-After", "1");
		rc = csc_error(resp, 503, "temporarily_unavailable", "the "
		    "signature activation module is unavailable");
		goto out;
	}
	if (status != SAM_OK) {
		rc = csc_sam_error(resp, status, reply, replylen);
		goto out;
	}
	if (sam_sigs_decode(reply, replylen, &sigs, &lens, &n) == -1 ||
	    n != r.sam.hashes.n)
		goto out;
	if ((o = json_pack("{s:[]}", "signatures")) == NULL)
		goto out;
	arr = json_object_get(o, "signatures");
	for (i = 0; i < n; i++) {
		if ((b = csc_b64_encode(sigs[i], lens[i])) == NULL ||
		    json_array_append_new(arr, json_string(b)) == -1)
			goto out;
		free(b);
		b = NULL;
	}
	rc = http_respond_json(resp, 200, o);
out:
	if (body != NULL)
		OPENSSL_cleanse(body, len);
	OPENSSL_cleanse(&r, sizeof(r));
	OPENSSL_cleanse(tok, sizeof(tok));
	sam_sigs_free(sigs, lens, n);
	json_decref(o);
	free(b);
	free(reply);
	free(body);
	return rc;
}

/* --- routing ---------------------------------------------------------------------- */

static const struct {
	const char	*path;
	int		(*fn)(struct csc_ctx *, const struct http_request *,
			    struct http_response *);
} csc_routes[] = {
	{ "info", csc_info },
	{ "oauth2/token", csc_token },
	{ "credentials/list", csc_list },
	{ "credentials/info", csc_cred_info },
	{ "credentials/authorize", csc_authorize },
	{ "signatures/signHash", csc_signhash },
};

/*
 * The calling thread's slot, taken on its first request and kept: libmicrohttpd
 * calls the handler from its sign.threads pool threads only. -1 past them.
 */
static int
csc_slot(struct signd *sd)
{
	static __thread int slot = -1;

	if (slot == -1)
		slot = (int)__atomic_fetch_add(&sd->next_slot, 1,
		    __ATOMIC_RELAXED);
	return slot < (int)sd->nthreads ? slot : -1;
}

int
csc_handle(void *arg, const struct http_request *req,
    struct http_response *resp)
{
	struct signd *sd = arg;
	struct csc_ctx c;
	size_t i, n = strlen(CSC_PREFIX);
	int is_info, slot;

	if (strncmp(req->path, CSC_PREFIX, n) != 0)
		return csc_error(resp, 404, "invalid_request", "unknown path "
		    "(the CSC API is under /csc/v2/)");
	for (i = 0; i < sizeof(csc_routes) / sizeof(csc_routes[0]); i++)
		if (strcmp(req->path + n, csc_routes[i].path) == 0)
			break;
	if (i == sizeof(csc_routes) / sizeof(csc_routes[0]))
		return csc_error(resp, 404, "invalid_request", "unknown CSC "
		    "method");
	is_info = strcmp(csc_routes[i].path, "info") == 0;
	if (strcmp(req->method, "POST") != 0 &&
	    !(is_info && strcmp(req->method, "GET") == 0)) {
		if (http_add_header(resp, "Allow", is_info ? "GET, POST" :
		    "POST") == -1)
			return -1;
		return csc_error(resp, 405, "invalid_request", "method not "
		    "allowed");
	}
	if ((slot = csc_slot(sd)) == -1) {
		log_err("csc: a request on a thread beyond sign.threads (%u)",
		    sd->nthreads);
		return -1;
	}
	c.sd = sd;
	c.db = sd->db[slot];
	c.sam = &sd->sams[(unsigned int)slot % sd->nsams];
	if (csc_routes[i].fn(&c, req, resp) == 0)
		return 0;
	if (resp->status != 0)
		return -1;
	/* Failures in CSC's error form too (lib/http would answer problem JSON). */
	if (db_unavailable())
		return csc_unavailable(resp, "the database is unavailable or "
		    "busy for now (a restart, a failover, a lock held too "
		    "long); try again shortly");
	return csc_error(resp, 500, "server_error", "internal error");
}
