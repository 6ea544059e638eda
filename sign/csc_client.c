/*
 * CSC API v2 client: see csc_client.h.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "lib/json.h"
#include "sign/csc_client.h"
#include "sign/net.h"

/* Longest access token and SAD accepted (RFC 6750 §2.1 b64token). */
#define CSCC_TOKEN_MAX	1024

struct cscc {
	char	*base;
	char	*token;
};

struct cscc *
cscc_new(const char *base_url)
{
	struct cscc *c;
	size_t n;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->base = strdup(base_url)) == NULL) {
		free(c);
		return NULL;
	}
	/* No trailing slash: paths are appended with one. */
	n = strlen(c->base);
	while (n > 0 && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	return c;
}

void
cscc_free_secret(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

void
cscc_free(struct cscc *c)
{
	if (c == NULL)
		return;
	free(c->base);
	cscc_free_secret(c->token);
	free(c);
}

void
cscc_cred_clear(struct cscc_cred *cr)
{
	X509_free(cr->cert);
	sk_X509_pop_free(cr->chain, X509_free);
	memset(cr, 0, sizeof(*cr));
}

/* --- base64 --------------------------------------------------------------- */

static int
b64v(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

int
cscc_b64_decode(const char *in, unsigned char **out, size_t *outlen)
{
	size_t n = strlen(in), i, o = 0, pad = 0;
	unsigned char *buf;
	int v[4], k;

	*out = NULL;
	*outlen = 0;
	if (n == 0 || n % 4 != 0)
		return -1;
	if (in[n - 1] == '=')
		pad++;
	if (in[n - 2] == '=')
		pad++;
	if ((buf = malloc(n / 4 * 3)) == NULL)
		return -1;
	for (i = 0; i < n; i += 4) {
		for (k = 0; k < 4; k++) {
			if (i + k >= n - pad)
				v[k] = 0;
			else if ((v[k] = b64v((unsigned char)in[i + k])) < 0) {
				free(buf);
				return -1;
			}
		}
		buf[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		buf[o++] = (unsigned char)((v[1] & 0xf) << 4 | v[2] >> 2);
		buf[o++] = (unsigned char)((v[2] & 0x3) << 6 | v[3]);
	}
	/* Non-zero bits under the padding are not canonical (§3.5). */
	if ((pad == 1 && (v[2] & 0x3) != 0) || (pad == 2 && (v[1] & 0xf) != 0)) {
		free(buf);
		return -1;
	}
	*out = buf;
	*outlen = o - pad;
	return 0;
}

char *
cscc_b64_encode(const unsigned char *p, size_t len)
{
	char *s;

	if ((s = malloc(4 * ((len + 2) / 3) + 1)) == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)s, p, (int)len);
	return s;
}

/* --- answers ----------------------------------------------------------------- */

/* A printable, bounded copy of s into out (controls become '?'). */
static void
printable(const char *s, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < outlen && i < 200; i++)
		out[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	out[i] = '\0';
}

void
cscc_parse_error(long status, const unsigned char *body, size_t len,
    const char *const *avoid, char *msg, size_t msglen)
{
	json_t *root;
	json_error_t jerr;
	const char *e = NULL, *d = NULL;
	char eb[64] = "", db[256] = "";
	size_t i;

	root = json_load_bounded(body, len, CSCC_RESP_MAX, &jerr);
	if (root != NULL)
		json_unpack_ex(root, &jerr, 0, "{s?s, s?s}", "error", &e,
		    "error_description", &d);
	if (e != NULL)
		printable(e, eb, sizeof(eb));
	if (d != NULL)
		printable(d, db, sizeof(db));
	for (i = 0; avoid != NULL && avoid[i] != NULL; i++) {
		if (avoid[i][0] == '\0')
			continue;
		if (strstr(db, avoid[i]) != NULL)
			snprintf(db, sizeof(db), "(description withheld: it "
			    "quotes a secret)");
		if (strstr(eb, avoid[i]) != NULL)
			snprintf(eb, sizeof(eb), "(withheld)");
	}
	if (eb[0] != '\0')
		snprintf(msg, msglen, "HTTP %ld, %s%s%s", status, eb,
		    db[0] != '\0' ? ": " : "", db);
	else
		snprintf(msg, msglen, "HTTP %ld (not a CSC error answer)",
		    status);
	json_decref(root);
}

/* A token or SAD: 1..CSCC_TOKEN_MAX characters of RFC 6750's b64token. */
static int
token_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= CSCC_TOKEN_MAX && strspn(s,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-._~+/=") == n;
}

static json_t *
load(const unsigned char *body, size_t len, const char *what, char *err,
    size_t errlen)
{
	json_error_t jerr;
	json_t *root;

	/*
	 * jansson's messages quote the text near the error: in a truncated
	 * token or SAD answer, part of the secret. The position only.
	 */
	if ((root = json_load_bounded(body, len, CSCC_RESP_MAX, &jerr)) == NULL)
		snprintf(err, errlen, "%s: the answer is not a JSON object "
		    "(RFC 8259; error at byte %d)", what, jerr.position);
	return root;
}

int
cscc_parse_token(const unsigned char *body, size_t len, char **token,
    char *err, size_t errlen)
{
	json_t *root;
	json_error_t jerr;
	const char *t = NULL, *type = NULL;
	int rc = CSCC_ERR;

	*token = NULL;
	if ((root = load(body, len, "oauth2/token", err, errlen)) == NULL)
		return CSCC_ERR;
	if (json_unpack_ex(root, &jerr, 0, "{s:s, s:s}", "access_token", &t,
	    "token_type", &type) != 0) {
		snprintf(err, errlen, "oauth2/token: %s (RFC 6749 §5.1)",
		    jerr.text);
		goto out;
	}
	if (strcasecmp(type, "Bearer") != 0 || !token_ok(t)) {
		snprintf(err, errlen, "oauth2/token: not a Bearer token "
		    "(RFC 6750 §2.1)");
		goto out;
	}
	if ((*token = strdup(t)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
 out:
	json_decref(root);
	return rc;
}

int
cscc_parse_info(const unsigned char *body, size_t len, struct cscc_cred *cr,
    char *err, size_t errlen)
{
	json_t *root, *certs = NULL, *algo = NULL, *v;
	json_error_t jerr;
	const char *status = NULL, *kstatus = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t i, dlen;
	X509 *x = NULL;
	EVP_PKEY *pk;
	int rc = CSCC_ERR;

	memset(cr, 0, sizeof(*cr));
	if ((root = load(body, len, "credentials/info", err, errlen)) == NULL)
		return CSCC_ERR;
	if (json_unpack_ex(root, &jerr, 0, "{s:{s:s, s?o}, s:{s:o, s?s}}",
	    "cert", "status", &status, "certificates", &certs, "key", "algo",
	    &algo, "status", &kstatus) != 0) {
		snprintf(err, errlen, "credentials/info: %s", jerr.text);
		goto out;
	}
	if (!json_is_array(certs) || json_array_size(certs) == 0 ||
	    json_array_size(certs) > 10) {
		snprintf(err, errlen, "credentials/info: cert.certificates is "
		    "not an array of 1 to 10 certificates");
		goto out;
	}
	if ((cr->chain = sk_X509_new_null()) == NULL)
		goto nomem;
	json_array_foreach(certs, i, v) {
		if (!json_is_string(v) ||
		    cscc_b64_decode(json_string_value(v), &der, &dlen) != 0) {
			snprintf(err, errlen, "credentials/info: certificate "
			    "%zu is not base64", i);
			goto out;
		}
		p = der;
		if ((x = d2i_X509(NULL, &p, (long)dlen)) == NULL ||
		    p != der + dlen) {
			ERR_clear_error();
			snprintf(err, errlen, "credentials/info: certificate "
			    "%zu is not a DER certificate", i);
			goto out;
		}
		free(der);
		der = NULL;
		if (sk_X509_push(cr->chain, x) <= 0)
			goto nomem;
		x = NULL;
	}
	cr->cert = sk_X509_value(cr->chain, 0);
	if (X509_up_ref(cr->cert) != 1) {
		cr->cert = NULL;
		goto nomem;
	}
	if ((pk = X509_get0_pubkey(cr->cert)) == NULL) {
		ERR_clear_error();
		snprintf(err, errlen, "credentials/info: the certificate's "
		    "public key cannot be read");
		goto out;
	}
	if (EVP_PKEY_is_a(pk, "EC"))
		cr->ec = 1;
	else if (EVP_PKEY_is_a(pk, "RSA"))
		cr->ec = 0;
	else {
		snprintf(err, errlen, "credentials/info: the certificate's key "
		    "is neither EC nor RSA");
		goto out;
	}
	printable(status, cr->status, sizeof(cr->status));
	if (kstatus != NULL && strcmp(kstatus, "enabled") != 0 &&
	    strcmp(cr->status, "valid") == 0)
		snprintf(cr->status, sizeof(cr->status), "key disabled");
	rc = 0;
	goto out;
 nomem:
	snprintf(err, errlen, "out of memory");
 out:
	free(der);
	X509_free(x);
	json_decref(root);
	if (rc != 0)
		cscc_cred_clear(cr);
	return rc;
}

int
cscc_parse_authorize(const unsigned char *body, size_t len, char **sad,
    char *err, size_t errlen)
{
	json_t *root;
	json_error_t jerr;
	const char *s = NULL;
	int rc = CSCC_ERR;

	*sad = NULL;
	if ((root = load(body, len, "credentials/authorize", err, errlen)) ==
	    NULL)
		return CSCC_ERR;
	if (json_unpack_ex(root, &jerr, 0, "{s:s}", "SAD", &s) != 0 ||
	    !token_ok(s)) {
		snprintf(err, errlen, "credentials/authorize: no SAD in the "
		    "answer");
		goto out;
	}
	if ((*sad = strdup(s)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
 out:
	json_decref(root);
	return rc;
}

int
cscc_parse_signatures(const unsigned char *body, size_t len, size_t n,
    unsigned char **sigs, size_t *siglen, char *err, size_t errlen)
{
	json_t *root, *arr = NULL, *v;
	json_error_t jerr;
	size_t i;
	int rc = CSCC_ERR;

	for (i = 0; i < n; i++) {
		sigs[i] = NULL;
		siglen[i] = 0;
	}
	if ((root = load(body, len, "signatures/signHash", err, errlen)) ==
	    NULL)
		return CSCC_ERR;
	if (json_unpack_ex(root, &jerr, 0, "{s:o}", "signatures", &arr) != 0 ||
	    !json_is_array(arr) || json_array_size(arr) != n) {
		snprintf(err, errlen, "signatures/signHash: not %zu "
		    "signatures in the answer", n);
		goto out;
	}
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v) ||
		    cscc_b64_decode(json_string_value(v), &sigs[i], &siglen[i])
		    != 0 || siglen[i] == 0 || siglen[i] > 2048) {
			snprintf(err, errlen, "signatures/signHash: signature "
			    "%zu is not base64 of 1 to 2048 bytes", i);
			goto out;
		}
	}
	rc = 0;
 out:
	json_decref(root);
	if (rc != 0)
		for (i = 0; i < n; i++) {
			free(sigs[i]);
			sigs[i] = NULL;
			siglen[i] = 0;
		}
	return rc;
}

/* --- calls -------------------------------------------------------------------- */

/*
 * POSTs body to base/path; on 200 leaves the answer in r, else
 * CSCC_UNAUTHORIZED (401), CSCC_REFUSED (another 4xx CSC error) or
 * CSCC_ERR with the message in err.
 */
static int
cscc_call(struct cscc *c, const char *path, const char *ctype,
    const char *body, const char *const *avoid, struct net_resp *r,
    char *err, size_t errlen)
{
	struct net_req q = { 0 };
	char url[1024], msg[400];
	long status;

	if ((size_t)snprintf(url, sizeof(url), "%s/%s", c->base, path) >=
	    sizeof(url)) {
		snprintf(err, errlen, "CSC URL too long");
		return CSCC_ERR;
	}
	q.url = url;
	q.content_type = ctype;
	q.body = body;
	q.bodylen = strlen(body);
	q.bearer = c->token;
	q.max = CSCC_RESP_MAX;
	if (net_send(&q, r, msg, sizeof(msg)) != 0) {
		snprintf(err, errlen, "%s: %s", path, msg);
		return CSCC_ERR;
	}
	if (r->status == 200)
		return 0;
	status = r->status;
	cscc_parse_error(status, r->body, r->len, avoid, msg, sizeof(msg));
	snprintf(err, errlen, "%s refused: %s", path, msg);
	net_resp_clear(r);
	/* 401: our client id, secret or token; other 4xx: the request's. */
	if (status == 401)
		return CSCC_UNAUTHORIZED;
	return status >= 400 && status < 500 ? CSCC_REFUSED : CSCC_ERR;
}

int
cscc_token(struct cscc *c, const char *client_id, const char *secret,
    char *err, size_t errlen)
{
	struct net_resp r = { 0 };
	char *id = NULL, *sec = NULL, *body = NULL;
	const char *avoid[] = { secret, NULL };
	size_t blen;
	int rc = CSCC_ERR;

	cscc_free_secret(c->token);
	c->token = NULL;
	if ((id = curl_easy_escape(NULL, client_id, 0)) == NULL ||
	    (sec = curl_easy_escape(NULL, secret, 0)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	blen = strlen(id) + strlen(sec) + 80;
	if ((body = malloc(blen)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	snprintf(body, blen, "grant_type=client_credentials&client_id=%s&"
	    "client_secret=%s", id, sec);
	if ((rc = cscc_call(c, "oauth2/token",
	    "application/x-www-form-urlencoded", body, avoid, &r, err,
	    errlen)) != 0)
		goto out;
	rc = cscc_parse_token(r.body, r.len, &c->token, err, errlen);
 out:
	if (sec != NULL) {
		OPENSSL_cleanse(sec, strlen(sec));
		curl_free(sec);
	}
	curl_free(id);
	cscc_free_secret(body);
	net_resp_clear(&r);
	return rc;
}

/* json_dumps of o (then freed); NULL on ENOMEM. */
static char *
dump(json_t *o)
{
	char *s = NULL;

	if (o != NULL)
		s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

int
cscc_info(struct cscc *c, const char *credential, const char *user,
    struct cscc_cred *cr, char *err, size_t errlen)
{
	struct net_resp r = { 0 };
	json_t *o;
	char *body = NULL;
	int rc = CSCC_ERR;

	memset(cr, 0, sizeof(*cr));
	o = json_pack("{s:s, s:s, s:b, s:b}", "credentialID", credential,
	    "certificates", "chain", "certInfo", 1, "authInfo", 1);
	if (o != NULL && user != NULL &&
	    json_object_set_new(o, "userID", json_string(user)) != 0) {
		json_decref(o);
		o = NULL;
	}
	if ((body = dump(o)) == NULL) {
		snprintf(err, errlen, "credentials/info: cannot encode the "
		    "request (credential and user must be UTF-8)");
		goto out;
	}
	if ((rc = cscc_call(c, "credentials/info", "application/json", body,
	    NULL, &r, err, errlen)) != 0) {
		/* signd says so of a credential it may not show this service. */
		if (rc == CSCC_REFUSED && strstr(err, "Invalid parameter "
		    "credentialID") != NULL && strlen(err) + 1 < errlen)
			snprintf(err + strlen(err), errlen - strlen(err), " (no "
			    "such credential of this user, or its subscriber has "
			    "not granted this signing service at the RA)");
		goto out;
	}
	if ((rc = cscc_parse_info(r.body, r.len, cr, err, errlen)) != 0)
		goto out;
	if (strcmp(cr->status, "valid") != 0) {
		snprintf(err, errlen, "credentials/info: credential %s is %s",
		    credential, cr->status);
		cscc_cred_clear(cr);
		rc = CSCC_REFUSED;
		goto out;
	}
 out:
	free(body);
	net_resp_clear(&r);
	return rc;
}

static const char *
md_oid(const EVP_MD *md)
{
	if (EVP_MD_is_a(md, "SHA2-256"))
		return "2.16.840.1.101.3.4.2.1";
	if (EVP_MD_is_a(md, "SHA2-384"))
		return "2.16.840.1.101.3.4.2.2";
	if (EVP_MD_is_a(md, "SHA2-512"))
		return "2.16.840.1.101.3.4.2.3";
	return NULL;
}

/* A JSON array of the base64 hashes; NULL on error. */
static json_t *
hash_array(const EVP_MD *md, unsigned char *const *hashes, size_t n)
{
	json_t *a;
	char *s;
	size_t i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if ((s = cscc_b64_encode(hashes[i], EVP_MD_get_size(md))) == NULL ||
		    json_array_append_new(a, json_string(s)) != 0) {
			free(s);
			json_decref(a);
			return NULL;
		}
		free(s);
	}
	return a;
}

int
cscc_authorize(struct cscc *c, const char *credential, const char *user,
    const EVP_MD *md, unsigned char *const *hashes, size_t n,
    enum cscc_factor factor, const char *code, long otp_id, char **sad,
    char *err, size_t errlen)
{
	struct net_resp r = { 0 };
	const char *oid = md_oid(md), *avoid[] = { code, c->token, NULL };
	json_t *o = NULL, *h;
	char *body = NULL;
	int rc = CSCC_ERR;

	*sad = NULL;
	if (oid == NULL || n == 0 || n > CSCC_HASHES_MAX) {
		snprintf(err, errlen, "credentials/authorize: 1 to %d hashes "
		    "of SHA-256/384/512", CSCC_HASHES_MAX);
		return CSCC_ERR;
	}
	if ((h = hash_array(md, hashes, n)) == NULL ||
	    (o = json_pack("{s:s, s:I, s:o, s:s, s:s}", "credentialID",
	    credential, "numSignatures", (json_int_t)n, "hashes", h,
	    "hashAlgorithmOID", oid, factor == CSCC_FACTOR_PIN ? "PIN" : "OTP",
	    code)) == NULL ||
	    (factor == CSCC_FACTOR_OTP && json_object_set_new(o, "otpID",
	    json_integer(otp_id)) != 0) ||
	    (user != NULL && json_object_set_new(o, "userID",
	    json_string(user)) != 0)) {
		json_decref(o);
		snprintf(err, errlen, "credentials/authorize: cannot encode "
		    "the request");
		goto out;
	}
	/* The body holds the factor: wiped after use. */
	if ((body = dump(o)) == NULL) {
		snprintf(err, errlen, "credentials/authorize: cannot encode "
		    "the request");
		goto out;
	}
	if ((rc = cscc_call(c, "credentials/authorize", "application/json",
	    body, avoid, &r, err, errlen)) != 0)
		goto out;
	rc = cscc_parse_authorize(r.body, r.len, sad, err, errlen);
 out:
	cscc_free_secret(body);
	net_resp_clear(&r);
	return rc;
}

int
cscc_sign_hash(struct cscc *c, const char *credential, const char *sad,
    const EVP_MD *md, int ec, unsigned char *const *hashes, size_t n,
    unsigned char **sigs, size_t *siglen, char *err, size_t errlen)
{
	struct net_resp r = { 0 };
	const char *oid = md_oid(md), *avoid[] = { sad, c->token, NULL };
	json_t *o = NULL, *h;
	char *body = NULL;
	int rc = CSCC_ERR;

	if (oid == NULL || n == 0 || n > CSCC_HASHES_MAX) {
		snprintf(err, errlen, "signatures/signHash: 1 to %d hashes "
		    "of SHA-256/384/512", CSCC_HASHES_MAX);
		return CSCC_ERR;
	}
	/* ECDSA / RSA PKCS#1 v1.5 with the DigestInfo of oid (CSC §11.9). */
	if ((h = hash_array(md, hashes, n)) == NULL ||
	    (o = json_pack("{s:s, s:s, s:o, s:s, s:s}", "credentialID",
	    credential, "SAD", sad, "hashes", h, "hashAlgorithmOID", oid,
	    "signAlgo", ec ? "1.2.840.10045.2.1" : "1.2.840.113549.1.1.1")) ==
	    NULL || (body = dump(o)) == NULL) {
		snprintf(err, errlen, "signatures/signHash: cannot encode the "
		    "request");
		goto out;
	}
	if ((rc = cscc_call(c, "signatures/signHash", "application/json",
	    body, avoid, &r, err, errlen)) != 0)
		goto out;
	rc = cscc_parse_signatures(r.body, r.len, n, sigs, siglen, err, errlen);
 out:
	cscc_free_secret(body);
	net_resp_clear(&r);
	return rc;
}
