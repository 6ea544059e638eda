/*
 * The CSC API v2 request parsers of signd's worker (stateless; no database,
 * no I/O; fuzzed by tests/fuzz/fuzz_csc_request.c). Bodies are JSON objects
 * loaded with an explicit length and duplicate keys rejected, unpacked with
 * strict formats (unknown members fail), except the OAuth 2.0 token request,
 * which is application/x-www-form-urlencoded (RFC 6749 §4.4.2). An
 * error_description never quotes a value: it may be a PIN, an OTP, a SAD
 * or a secret.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "hsm/signd/extern.h"
#include "lib/json.h"

#define CSC_OID_SHA256		"2.16.840.1.101.3.4.2.1"
#define CSC_OID_SHA384		"2.16.840.1.101.3.4.2.2"
#define CSC_OID_SHA512		"2.16.840.1.101.3.4.2.3"

void
csc_wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

static void
csc_wipe_json(json_t *s)
{
	if (s != NULL && json_is_string(s))
		csc_wipe((char *)json_string_value(s), json_string_length(s));
}

uint32_t
csc_md_from_oid(const char *oid)
{
	if (strcmp(oid, CSC_OID_SHA256) == 0)
		return SAM_MD_SHA256;
	if (strcmp(oid, CSC_OID_SHA384) == 0)
		return SAM_MD_SHA384;
	if (strcmp(oid, CSC_OID_SHA512) == 0)
		return SAM_MD_SHA512;
	return 0;
}

static int
csc_b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return -1;
}

/* One alphabet: url (-_) or standard (+/). */
static int
csc_b64char(int c, int url)
{
	int v;

	if ((v = csc_b64val(c)) != -1)
		return v;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

/*
 * Decodes strict base64: canonical (unused bits zero), padded unless url.
 * 0; -1 when malformed; -2 when well-formed but longer than outmax (out
 * then holds a part of it).
 */
static int
csc_b64_any(const char *s, size_t slen, int url, unsigned char *out,
    size_t outmax, size_t *outlen)
{
	size_t i, o = 0, pad = 0;
	unsigned long acc = 0;
	int bits = 0, v;

	*outlen = 0;
	if (!url) {
		if (slen % 4 != 0)
			return -1;
		while (pad < 2 && slen > 0 && s[slen - 1] == '=') {
			slen--;
			pad++;
		}
	}
	if (slen % 4 == 1)
		return -1;
	if (!url && pad != (4 - slen % 4) % 4)
		return -1;
	for (i = 0; i < slen; i++) {
		if ((v = csc_b64char((unsigned char)s[i], url)) == -1)
			return -1;
		acc = acc << 6 | (unsigned long)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o < outmax)
				out[o] = (unsigned char)(acc >> bits);
			o++;
			acc &= (1UL << bits) - 1;
		}
	}
	if ((acc & ((1UL << bits) - 1)) != 0)
		return -1;	/* non-canonical trailing bits */
	if (o > outmax)
		return -2;
	*outlen = o;
	return 0;
}

int
csc_b64_decode(const char *s, size_t slen, unsigned char *out, size_t outmax,
    size_t *outlen)
{
	return csc_b64_any(s, slen, 0, out, outmax, outlen) == 0 ? 0 : -1;
}

char *
csc_b64_encode(const unsigned char *in, size_t len)
{
	char *s;

	if ((s = malloc(4 * ((len + 2) / 3) + 1)) == NULL)
		return NULL;
	if (EVP_EncodeBlock((unsigned char *)s, in, (int)len) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

int
csc_b64url32_decode(const char *s, unsigned char out[32])
{
	size_t n = 0;

	if (strlen(s) != 43 || csc_b64_any(s, 43, 1, out, 32, &n) != 0 ||
	    n != 32)
		return -1;
	return 0;
}

void
csc_b64url32_encode(const unsigned char in[32], char out[44])
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i, o = 0;
	unsigned long v;

	for (i = 0; i + 2 < 32; i += 3) {
		v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		out[o++] = a[v & 63];
	}
	v = (unsigned long)in[30] << 16 | (unsigned long)in[31] << 8;
	out[o++] = a[v >> 18 & 63];
	out[o++] = a[v >> 12 & 63];
	out[o++] = a[v >> 6 & 63];
	out[o] = '\0';
}

static json_t *
csc_load(const void *body, size_t len, char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root;

	if ((root = json_load_bounded(body, len, SIGND_MAX_BODY, &err)) ==
	    NULL)
		snprintf(detail, detaillen, "the body is not a JSON object "
		    "(RFC 8259), has a duplicate member or is too large");
	return root;
}

/* A decimal id of 1..18 digits without leading zero, copied to out. */
static int
csc_id(json_t *v, char out[CSC_ID_MAX + 1])
{
	const char *s;
	size_t n, i;

	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n < 1 || n > 18 || s[0] == '0')
		return -1;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	memcpy(out, s, n + 1);
	return 0;
}

/* hashes: 1..100 base64 strings of the md's length, all distinct. */
static int
csc_hashes(json_t *arr, uint32_t md, struct sam_hashes *h, char *detail,
    size_t detaillen)
{
	size_t i, j, n, dl = sam_md_len(md), got;
	json_t *e;

	if (!json_is_array(arr) || (n = json_array_size(arr)) < 1 ||
	    n > SIGND_HASHES_MAX) {
		snprintf(detail, detaillen, "Invalid parameter hashes: an array "
		    "of 1 to %d base64 hash values expected", SIGND_HASHES_MAX);
		return -1;
	}
	h->md = md;
	h->n = (uint32_t)n;
	for (i = 0; i < n; i++) {
		e = json_array_get(arr, i);
		if (!json_is_string(e) || csc_b64_decode(json_string_value(e),
		    json_string_length(e), h->h[i], sizeof(h->h[i]), &got) ==
		    -1 || got != dl) {
			snprintf(detail, detaillen, "Invalid parameter hashes: "
			    "element %zu is not the base64 of a %zu-byte hash",
			    i, dl);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (memcmp(h->h[i], h->h[j], dl) == 0) {
				snprintf(detail, detaillen, "Invalid parameter "
				    "hashes: elements %zu and %zu are equal", j,
				    i);
				return -1;
			}
	}
	return 0;
}

static uint32_t
csc_md(json_t *oid, char *detail, size_t detaillen)
{
	uint32_t md;

	if (!json_is_string(oid) ||
	    (md = csc_md_from_oid(json_string_value(oid))) == 0) {
		snprintf(detail, detaillen, "Invalid parameter hashAlgorithmOID "
		    "(SHA-256, SHA-384 or SHA-512: %s, %s, %s)", CSC_OID_SHA256,
		    CSC_OID_SHA384, CSC_OID_SHA512);
		return 0;
	}
	return md;
}

/* --- oauth2/token ------------------------------------------------------------------ */

static int
csc_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes one form value (RFC 6749 App. B) into out: 0; -1 when
 * malformed; -2 when well-formed but longer than outlen - 1 (out wiped).
 */
static int
csc_form_value(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;
	int c, hi, lo;

	for (i = 0; i < n; i++) {
		if (s[i] == '+')
			c = ' ';
		else if (s[i] == '%') {
			if (i + 2 >= n + 0 || (hi = csc_hexval(s[i + 1])) == -1 ||
			    (lo = csc_hexval(s[i + 2])) == -1 ||
			    (hi == 0 && lo == 0))
				return -1;
			c = hi << 4 | lo;
			i += 2;
		} else if ((unsigned char)s[i] < 0x21 || s[i] == '&' ||
		    s[i] == '=')
			return -1;
		else
			c = s[i];
		if (o + 1 < outlen)
			out[o] = (char)c;
		o++;
	}
	if (o + 1 > outlen) {
		csc_wipe(out, outlen);
		return -2;
	}
	out[o] = '\0';
	return 0;
}

int
csc_client_id_ok(const char *id)
{
	return strlen(id) == CSC_CLIENT_ID_LEN && strspn(id,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_-") == CSC_CLIENT_ID_LEN;
}

/*
 * The client credentials in an Authorization header of scheme Basic (RFC
 * 7617; the scheme's name is case-insensitive, RFC 9110 §11.1): 0 with
 * id and secret in r; -1 malformed; -2 well-formed but longer than they
 * can be (no client has such an id or secret).
 */
static int
csc_token_basic(const char *cred, struct csc_token_req *r,
    unsigned char *raw, size_t rawmax)
{
	size_t rawlen = 0;
	char *colon;
	int a, b;

	while (*cred == ' ')
		cred++;
	if ((a = csc_b64_any(cred, strlen(cred), 0, raw, rawmax - 1,
	    &rawlen)) != 0)
		return a;
	raw[rawlen] = '\0';
	if (memchr(raw, '\0', rawlen) != NULL ||
	    (colon = strchr((char *)raw, ':')) == NULL)
		return -1;
	*colon = '\0';
	/* RFC 6749 §2.3.1: both are form-encoded inside Basic too. */
	a = csc_form_value((char *)raw, strlen((char *)raw), r->client_id,
	    sizeof(r->client_id));
	b = csc_form_value(colon + 1, strlen(colon + 1), r->client_secret,
	    sizeof(r->client_secret));
	if (a == -1 || b == -1)
		return -1;
	return a == -2 || b == -2 ? -2 : 0;
}

int
csc_parse_token(const void *body, size_t len, const char *auth,
    struct csc_token_req *r, enum csc_token_refusal *why, char *detail,
    size_t detaillen)
{
	const char *s = body, *end = s + len, *amp, *eq;
	char name[32], grant[64];
	unsigned char raw[160];
	size_t n;
	int have_grant = 0, have_id = 0, have_secret = 0, oversized = 0;
	int rc = -1, v;

	memset(r, 0, sizeof(*r));
	*why = CSC_TOKEN_REQUEST;
	grant[0] = '\0';
	if (len > 4096) {
		snprintf(detail, detaillen, "the request is too large");
		goto out;
	}
	while (s < end) {
		if ((amp = memchr(s, '&', (size_t)(end - s))) == NULL)
			amp = end;
		if ((eq = memchr(s, '=', (size_t)(amp - s))) == NULL ||
		    (size_t)(eq - s) >= sizeof(name)) {
			snprintf(detail, detaillen, "malformed form body "
			    "(RFC 6749 Appendix B)");
			goto out;
		}
		n = (size_t)(eq - s);
		memcpy(name, s, n);
		name[n] = '\0';
		if (strcmp(name, "grant_type") == 0 && !have_grant) {
			have_grant = 1;
			if (csc_form_value(eq + 1, (size_t)(amp - eq - 1), grant,
			    sizeof(grant)) != 0)
				goto bad;
		} else if (strcmp(name, "client_id") == 0 && !have_id) {
			have_id = 1;
			if ((v = csc_form_value(eq + 1, (size_t)(amp - eq - 1),
			    r->client_id, sizeof(r->client_id))) == -1)
				goto bad;
			oversized |= v == -2;
		} else if (strcmp(name, "client_secret") == 0 && !have_secret) {
			have_secret = 1;
			if ((v = csc_form_value(eq + 1, (size_t)(amp - eq - 1),
			    r->client_secret, sizeof(r->client_secret))) == -1)
				goto bad;
			oversized |= v == -2;
		} else if (strcmp(name, "scope") == 0) {
			/* RFC 6749 §4.4.2: optional; we grant one scope. */
		} else {
			snprintf(detail, detaillen, "unknown or repeated "
			    "parameter %s", strcmp(name, "client_secret") == 0 ||
			    strcmp(name, "client_id") == 0 ||
			    strcmp(name, "grant_type") == 0 ? name : "(other)");
			goto out;
		}
		s = amp < end ? amp + 1 : end;
	}
	if (!have_grant) {
		snprintf(detail, detaillen, "grant_type missing");
		goto out;
	}
	if (strcmp(grant, "client_credentials") != 0) {
		*why = CSC_TOKEN_GRANT;
		snprintf(detail, detaillen, "only grant_type "
		    "client_credentials is supported (RFC 6749 §4.4)");
		goto out;
	}
	/*
	 * Client authentication is HTTP Basic or the body's parameters
	 * (RFC 6749 §2.3.1), one of them (§2.3). Another scheme in the
	 * header is a method we do not support: 401 invalid_client (§5.2),
	 * whatever the body holds.
	 */
	if (auth != NULL && (strncasecmp(auth, "Basic", 5) != 0 ||
	    (auth[5] != ' ' && auth[5] != '\0'))) {
		*why = CSC_TOKEN_CLIENT;
		snprintf(detail, detaillen, "unsupported client authentication "
		    "method: HTTP Basic or client_id and client_secret in the "
		    "body (RFC 6749 §2.3.1, §5.2)");
		goto out;
	}
	if (auth != NULL) {
		if (have_id || have_secret) {
			snprintf(detail, detaillen, "client credentials both in "
			    "the Authorization header and the body (RFC 6749 "
			    "§2.3.1)");
			goto out;
		}
		if ((v = csc_token_basic(auth + 5, r, raw, sizeof(raw))) ==
		    -1) {
			snprintf(detail, detaillen, "malformed Basic "
			    "authorization (RFC 7617)");
			goto out;
		}
		oversized |= v == -2;
	} else if (!have_id || !have_secret) {
		snprintf(detail, detaillen, "client_id and client_secret "
		    "required (RFC 6749 §2.3.1)");
		goto out;
	}
	/* Longer than any client's: unknown, as a wrong one (§5.2). */
	if (oversized) {
		*why = CSC_TOKEN_CLIENT;
		snprintf(detail, detaillen, "client authentication failed "
		    "(RFC 6749 §5.2)");
		goto out;
	}
	if (r->client_id[0] == '\0' || r->client_secret[0] == '\0') {
		snprintf(detail, detaillen, "empty client_id or client_secret");
		goto out;
	}
	rc = 0;
	goto out;
bad:
	snprintf(detail, detaillen, "malformed or oversized parameter value");
out:
	csc_wipe(raw, sizeof(raw));
	if (rc == -1)
		csc_wipe(r, sizeof(*r));
	return rc;
}

/* --- info, credentials/list, credentials/info ----------------------------------- */

int
csc_parse_server_info(const void *body, size_t len, char *detail,
    size_t detaillen)
{
	json_error_t err;
	json_t *root, *lang = NULL;
	int rc = -1;

	if (len == 0)
		return 0;
	if ((root = csc_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s?o}", "lang", &lang) == -1) {
		snprintf(detail, detaillen, "unknown member (known: lang)");
		goto out;
	}
	if (lang != NULL && !json_is_string(lang)) {
		snprintf(detail, detaillen, "Invalid parameter lang");
		goto out;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

static int
csc_certs(json_t *v, enum csc_certs *out)
{
	const char *s;

	*out = CSC_CERTS_SINGLE;	/* CSC v2 §11.5: the default */
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	if (strcmp(s, "none") == 0)
		*out = CSC_CERTS_NONE;
	else if (strcmp(s, "single") == 0)
		*out = CSC_CERTS_SINGLE;
	else if (strcmp(s, "chain") == 0)
		*out = CSC_CERTS_CHAIN;
	else
		return -1;
	return 0;
}

int
csc_parse_list(const void *body, size_t len, struct csc_list_req *r,
    char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *uid = NULL, *max = NULL, *ci = NULL, *certs = NULL,
	    *certinfo = NULL, *authinfo = NULL, *valid = NULL, *client = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = csc_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s?o, s?o, s?o, s?o, s?o, s?o, "
	    "s?o, s?o}", "userID", &uid, "maxResults", &max, "credentialInfo",
	    &ci, "certificates", &certs, "certInfo", &certinfo, "authInfo",
	    &authinfo, "onlyValid", &valid, "clientData", &client) == -1) {
		snprintf(detail, detaillen, "unknown member (known: "
		    "userID, maxResults, credentialInfo, certificates, "
		    "certInfo, authInfo, onlyValid, clientData)");
		goto out;
	}
	if (uid == NULL || csc_id(uid, r->user_id) == -1) {
		snprintf(detail, detaillen, "Invalid parameter userID: the "
		    "subscriber's account id as a decimal string is required");
		goto out;
	}
	if (max != NULL && (!json_is_integer(max) ||
	    json_integer_value(max) < 1 || json_integer_value(max) > 1000)) {
		snprintf(detail, detaillen, "Invalid parameter maxResults "
		    "(1..1000)");
		goto out;
	}
	r->max_results = max != NULL ? (long)json_integer_value(max) : 0;
	/* As credentials/info takes them, for each of credentialInfos. */
	if (csc_certs(certs, &r->certs) == -1) {
		snprintf(detail, detaillen, "Invalid parameter certificates "
		    "(none, single, chain)");
		goto out;
	}
	if ((ci != NULL && !json_is_boolean(ci)) ||
	    (certinfo != NULL && !json_is_boolean(certinfo)) ||
	    (authinfo != NULL && !json_is_boolean(authinfo)) ||
	    (valid != NULL && !json_is_boolean(valid)) ||
	    (client != NULL && !json_is_string(client))) {
		snprintf(detail, detaillen, "a member has the wrong type");
		goto out;
	}
	r->credential_info = ci != NULL && json_is_true(ci);
	r->only_valid = valid != NULL && json_is_true(valid);
	r->cert_info = certinfo != NULL && json_is_true(certinfo);
	r->auth_info = authinfo != NULL && json_is_true(authinfo);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int
csc_parse_info(const void *body, size_t len, struct csc_info_req *r,
    char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *cid = NULL, *uid = NULL, *certs = NULL, *certinfo = NULL,
	    *authinfo = NULL, *lang = NULL, *client = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = csc_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s?o, s?o, s?o, s?o, s?o, s?o, "
	    "s?o}", "credentialID", &cid, "userID", &uid, "certificates",
	    &certs, "certInfo", &certinfo, "authInfo", &authinfo, "lang", &lang,
	    "clientData", &client) == -1) {
		snprintf(detail, detaillen, "unknown member (known: "
		    "credentialID, userID, certificates, certInfo, authInfo, "
		    "lang, clientData)");
		goto out;
	}
	if (cid == NULL || csc_id(cid, r->credential) == -1) {
		snprintf(detail, detaillen, "Invalid parameter credentialID");
		goto out;
	}
	if (uid != NULL && csc_id(uid, r->user_id) == -1) {
		snprintf(detail, detaillen, "Invalid parameter userID");
		goto out;
	}
	if (csc_certs(certs, &r->certs) == -1) {
		snprintf(detail, detaillen, "Invalid parameter certificates "
		    "(none, single, chain)");
		goto out;
	}
	if ((certinfo != NULL && !json_is_boolean(certinfo)) ||
	    (authinfo != NULL && !json_is_boolean(authinfo)) ||
	    (lang != NULL && !json_is_string(lang)) ||
	    (client != NULL && !json_is_string(client))) {
		snprintf(detail, detaillen, "a member has the wrong type");
		goto out;
	}
	r->cert_info = certinfo != NULL && json_is_true(certinfo);
	r->auth_info = authinfo != NULL && json_is_true(authinfo);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/* --- credentials/authorize ---------------------------------------------------------- */

/* A 6-digit secret, copied to out. */
static int
csc_digits(json_t *v, char out[7])
{
	const char *s;
	size_t i;

	if (!json_is_string(v) || json_string_length(v) != 6)
		return -1;
	s = json_string_value(v);
	for (i = 0; i < 6; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	memcpy(out, s, 7);
	return 0;
}

/*
 * CSC API v2's authData: [{"id": ID, "value": STRING}, ...], the ids of
 * credentials/info's auth.objects ("PIN", "OTP", "otpID"), each at most
 * once. Sets *pin, *otp and *otpid to the values (borrowed from v); for
 * otpID a new integer the caller frees. 0, or -1 with detail.
 */
static int
csc_auth_data(json_t *v, json_t **pin, json_t **otp, json_t **otpid,
    char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *e, *id, *val, **slot;
	unsigned long long n;
	const char *s;
	char *end;
	size_t i;

	if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > 3) {
		snprintf(detail, detaillen, "Invalid parameter authData: an "
		    "array of 1 to 3 {id, value} objects");
		return -1;
	}
	json_array_foreach(v, i, e) {
		id = val = NULL;
		if (json_unpack_strict(e, &err, "{s:o, s:o}", "id", &id,
		    "value", &val) == -1 || !json_is_string(id) ||
		    !json_is_string(val)) {
			snprintf(detail, detaillen, "Invalid parameter authData: "
			    "each element is {\"id\": string, \"value\": "
			    "string}");
			return -1;
		}
		s = json_string_value(id);
		slot = strcmp(s, "PIN") == 0 ? pin : strcmp(s, "OTP") == 0 ?
		    otp : strcmp(s, "otpID") == 0 ? otpid : NULL;
		if (slot == NULL || *slot != NULL) {
			snprintf(detail, detaillen, "Invalid parameter authData: "
			    "ids are PIN, OTP and otpID (auth.objects of "
			    "credentials/info), each once");
			return -1;
		}
		if (slot != otpid) {
			*slot = val;
			continue;
		}
		/* The OTP's id, as a decimal string: 1..2^53. */
		s = json_string_value(val);
		errno = 0;
		n = strtoull(s, &end, 10);
		if (s[0] < '1' || s[0] > '9' || *end != '\0' || errno != 0 ||
		    n > (1ULL << 53) || (*otpid = json_integer((json_int_t)n)) ==
		    NULL) {
			snprintf(detail, detaillen, "Invalid parameter otpID: "
			    "the id of the OTP (from the RA's POST /v1/otp, "
			    "purpose sign)");
			return -1;
		}
	}
	return 0;
}

int
csc_parse_authorize(const void *body, size_t len, struct csc_authorize_req *r,
    char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *cid = NULL, *uid = NULL, *num = NULL, *hashes = NULL,
	    *oid = NULL, *pin = NULL, *otp = NULL, *otpid = NULL,
	    *desc = NULL, *client = NULL, *authdata = NULL, *otpid_own = NULL;
	uint32_t md;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = csc_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s?o, s?o, s?o, s?o, s?o, s?o, "
	    "s?o, s?o, s?o, s?o, s?o}", "credentialID", &cid, "userID", &uid,
	    "numSignatures", &num, "hashes", &hashes, "hashAlgorithmOID", &oid,
	    "authData", &authdata, "PIN", &pin, "OTP", &otp, "otpID", &otpid,
	    "description", &desc, "clientData", &client) == -1) {
		snprintf(detail, detaillen, "unknown member (known: "
		    "credentialID, userID, numSignatures, hashes, "
		    "hashAlgorithmOID, authData, PIN, OTP, otpID, description, "
		    "clientData)");
		goto out;
	}
	/* v2's authData, or v1's members: one style per request. */
	if (authdata != NULL) {
		if (pin != NULL || otp != NULL || otpid != NULL) {
			snprintf(detail, detaillen, "authData, or PIN, OTP and "
			    "otpID (CSC API v1): not both");
			goto out;
		}
		if (csc_auth_data(authdata, &pin, &otp, &otpid_own, detail,
		    detaillen) == -1)
			goto out;
		otpid = otpid_own;
	}
	if (cid == NULL || csc_id(cid, r->credential) == -1) {
		snprintf(detail, detaillen, "Invalid parameter credentialID");
		goto out;
	}
	if (uid != NULL && csc_id(uid, r->user_id) == -1) {
		snprintf(detail, detaillen, "Invalid parameter userID");
		goto out;
	}
	if (hashes == NULL) {
		snprintf(detail, detaillen, "Missing parameter hashes: this "
		    "service is SCAL2, a SAD covers the exact hashes");
		goto out;
	}
	if ((md = csc_md(oid, detail, detaillen)) == 0 ||
	    csc_hashes(hashes, md, &r->sam.hashes, detail, detaillen) == -1)
		goto out;
	if (num == NULL || !json_is_integer(num) ||
	    json_integer_value(num) != (json_int_t)r->sam.hashes.n) {
		snprintf(detail, detaillen, "Invalid parameter numSignatures: "
		    "must equal the number of hashes");
		goto out;
	}
	if ((pin != NULL) == (otp != NULL)) {
		snprintf(detail, detaillen, "exactly one of PIN and OTP is "
		    "required");
		goto out;
	}
	if (pin != NULL) {
		if (otpid != NULL || csc_digits(pin, r->sam.secret) == -1) {
			snprintf(detail, detaillen, "Invalid parameter PIN "
			    "(6 digits, without otpID)");
			goto out;
		}
		r->sam.factor = SAM_FACTOR_PIN;
	} else {
		if (csc_digits(otp, r->sam.secret) == -1) {
			snprintf(detail, detaillen, "Invalid parameter OTP "
			    "(6 digits)");
			goto out;
		}
		/* Without otpID the OTP is the subscriber's TOTP code. */
		if (otpid == NULL) {
			r->sam.factor = SAM_FACTOR_TOTP;
		} else if (!json_is_integer(otpid) ||
		    json_integer_value(otpid) < 1 ||
		    json_integer_value(otpid) > ((json_int_t)1 << 53)) {
			snprintf(detail, detaillen, "Invalid parameter otpID: "
			    "the id of the OTP (from the RA's POST /v1/otp, "
			    "purpose sign)");
			goto out;
		} else {
			r->sam.factor = SAM_FACTOR_OTP;
			r->sam.otp_id = (uint64_t)json_integer_value(otpid);
		}
	}
	if ((desc != NULL && !json_is_string(desc)) ||
	    (client != NULL && !json_is_string(client))) {
		snprintf(detail, detaillen, "a member has the wrong type");
		goto out;
	}
	rc = 0;
out:
	csc_wipe_json(pin);
	csc_wipe_json(otp);
	/* Every value, whatever its id: a misspelt "pin" holds one too. */
	if (json_is_array(authdata)) {
		size_t i;
		json_t *e;

		json_array_foreach(authdata, i, e)
			csc_wipe_json(json_object_get(e, "value"));
	}
	json_decref(otpid_own);
	json_decref(root);
	if (rc == -1)
		csc_wipe(r, sizeof(*r));
	return rc;
}

/* --- signatures/signHash ---------------------------------------------------------- */

#define CSC_OID_RSA		"1.2.840.113549.1.1.1"
#define CSC_OID_RSAPSS		"1.2.840.113549.1.1.10"
#define CSC_OID_EC		"1.2.840.10045.2.1"

static const struct {
	const char	*oid;
	uint32_t	 md;	/* 0: from hashAlgorithmOID */
	int		 kind;	/* 1 RSA, 2 PSS, 3 EC */
} csc_sign_algos[] = {
	{ CSC_OID_RSA, 0, 1 },
	{ CSC_OID_RSAPSS, 0, 2 },
	{ CSC_OID_EC, 0, 3 },
	{ "1.2.840.113549.1.1.11", SAM_MD_SHA256, 1 },
	{ "1.2.840.113549.1.1.12", SAM_MD_SHA384, 1 },
	{ "1.2.840.113549.1.1.13", SAM_MD_SHA512, 1 },
	{ "1.2.840.10045.4.3.2", SAM_MD_SHA256, 3 },
	{ "1.2.840.10045.4.3.3", SAM_MD_SHA384, 3 },
	{ "1.2.840.10045.4.3.4", SAM_MD_SHA512, 3 },
};

const char *
csc_sign_algo_oid(size_t i)
{
	return i < sizeof(csc_sign_algos) / sizeof(csc_sign_algos[0]) ?
	    csc_sign_algos[i].oid : NULL;
}

/* The NID of an AlgorithmIdentifier of a hash, parameters absent or NULL. */
static int
csc_hash_nid(const X509_ALGOR *alg)
{
	const ASN1_OBJECT *obj;
	const void *pval;
	int ptype;

	if (alg == NULL)
		return NID_sha1;	/* RFC 8017 A.2.3: the default */
	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	if (ptype != V_ASN1_UNDEF && ptype != V_ASN1_NULL)
		return NID_undef;
	return OBJ_obj2nid(obj);
}

/* The NID of md: sam_md_name's names are OpenSSL's short names. */
static int
csc_md_nid(uint32_t md)
{
	const char *name = sam_md_name(md);

	return name != NULL ? OBJ_sn2nid(name) : NID_undef;
}

/*
 * signAlgoParams of RSASSA-PSS: the base64 of a DER RSASSA-PSS-params
 * (RFC 8017 A.2.3), decoded by OpenSSL, no trailing bytes. 0 when it says
 * what the SAM signs with for md: hashAlgorithm md (SHA-1, the default
 * when absent, is not md), maskGenAlgorithm MGF1 with md, saltLength the
 * length of md, trailerField 1 (trailerFieldBC). -1 otherwise.
 */
static int
csc_pss_params(json_t *v, uint32_t md)
{
	unsigned char der[256];
	const unsigned char *p = der;
	RSA_PSS_PARAMS *pss = NULL;
	X509_ALGOR *mgfhash = NULL;
	const ASN1_OBJECT *obj;
	const void *pval;
	int64_t salt = 0, trailer = 1;
	size_t len = 0;
	int ptype, rc = -1;

	if (!json_is_string(v) || csc_b64_decode(json_string_value(v),
	    json_string_length(v), der, sizeof(der), &len) == -1 || len == 0)
		goto out;
	if ((pss = d2i_RSA_PSS_PARAMS(NULL, &p, (long)len)) == NULL ||
	    p != der + len)
		goto out;
	if (csc_md_nid(md) == NID_undef ||
	    csc_hash_nid(pss->hashAlgorithm) != csc_md_nid(md))
		goto out;
	/* MGF1 (absent: MGF1 with SHA-1) with the same hash. */
	if (pss->maskGenAlgorithm == NULL)
		goto out;
	X509_ALGOR_get0(&obj, &ptype, &pval, pss->maskGenAlgorithm);
	if (OBJ_obj2nid(obj) != NID_mgf1 || ptype != V_ASN1_SEQUENCE ||
	    (mgfhash = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(X509_ALGOR),
	    pss->maskGenAlgorithm->parameter)) == NULL ||
	    csc_hash_nid(mgfhash) != csc_md_nid(md))
		goto out;
	/* saltLength DEFAULT 20, never a hash length of ours. */
	if (pss->saltLength == NULL ||
	    ASN1_INTEGER_get_int64(&salt, pss->saltLength) != 1 ||
	    salt != (int64_t)sam_md_len(md))
		goto out;
	if (pss->trailerField != NULL &&
	    ASN1_INTEGER_get_int64(&trailer, pss->trailerField) != 1)
		goto out;
	if (trailer != 1)
		goto out;
	rc = 0;
out:
	X509_ALGOR_free(mgfhash);
	RSA_PSS_PARAMS_free(pss);
	return rc;
}

int
csc_parse_signhash(const void *body, size_t len, struct csc_signhash_req *r,
    char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *cid = NULL, *uid = NULL, *sad = NULL, *hashes = NULL,
	    *oid = NULL, *algo = NULL, *params = NULL, *mode = NULL,
	    *client = NULL;
	const char *a;
	uint32_t md = 0;
	size_t i;
	int rc = -1, kind = 0;

	memset(r, 0, sizeof(*r));
	if ((root = csc_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s?o, s?o, s?o, s?o, s?o, s?o, "
	    "s?o, s?o, s?o}", "credentialID", &cid, "userID", &uid, "SAD", &sad,
	    "hashes", &hashes, "hashAlgorithmOID", &oid, "signAlgo", &algo,
	    "signAlgoParams", &params, "operationMode", &mode, "clientData",
	    &client) == -1) {
		snprintf(detail, detaillen, "unknown member (known: "
		    "credentialID, userID, SAD, hashes, hashAlgorithmOID, "
		    "signAlgo, signAlgoParams, operationMode, clientData)");
		goto out;
	}
	if (cid == NULL || csc_id(cid, r->credential) == -1) {
		snprintf(detail, detaillen, "Invalid parameter credentialID");
		goto out;
	}
	if (uid != NULL && csc_id(uid, r->user_id) == -1) {
		snprintf(detail, detaillen, "Invalid parameter userID");
		goto out;
	}
	if (sad == NULL || !json_is_string(sad) ||
	    csc_b64url32_decode(json_string_value(sad), r->sam.sad) == -1) {
		snprintf(detail, detaillen, "Invalid parameter SAD");
		goto out;
	}
	if (algo == NULL || !json_is_string(algo)) {
		snprintf(detail, detaillen, "Missing parameter signAlgo");
		goto out;
	}
	a = json_string_value(algo);
	for (i = 0; i < sizeof(csc_sign_algos) / sizeof(csc_sign_algos[0]); i++)
		if (strcmp(a, csc_sign_algos[i].oid) == 0)
			break;
	if (i == sizeof(csc_sign_algos) / sizeof(csc_sign_algos[0])) {
		snprintf(detail, detaillen, "Invalid parameter signAlgo "
		    "(rsaEncryption, RSASSA-PSS, id-ecPublicKey, or "
		    "sha{256,384,512}WithRSAEncryption, ecdsa-with-SHA{256,384,"
		    "512})");
		goto out;
	}
	snprintf(r->sign_algo, sizeof(r->sign_algo), "%s", a);
	kind = csc_sign_algos[i].kind;
	md = csc_sign_algos[i].md;
	if (oid != NULL || md == 0) {
		uint32_t m2;

		if ((m2 = csc_md(oid, detail, detaillen)) == 0)
			goto out;
		if (md != 0 && m2 != md) {
			snprintf(detail, detaillen, "hashAlgorithmOID does not "
			    "match signAlgo");
			goto out;
		}
		md = m2;
	}
	/*
	 * RSASSA-PSS signs with MGF1 of the same hash and a salt of the
	 * hash's length (what p11wrap_sign makes); signAlgoParams may say
	 * so, and nothing else.
	 */
	if (params != NULL && kind != 2) {
		snprintf(detail, detaillen, "Invalid parameter signAlgoParams: "
		    "only with RSASSA-PSS (%s)", CSC_OID_RSAPSS);
		goto out;
	}
	if (params != NULL && csc_pss_params(params, md) == -1) {
		snprintf(detail, detaillen, "Invalid parameter signAlgoParams: "
		    "the base64 DER of RSASSA-PSS-params (RFC 8017 A.2.3) with "
		    "hashAlgorithmOID's hash, MGF1 with that hash, a salt of "
		    "its length and trailerField 1");
		goto out;
	}
	if (mode != NULL && (!json_is_string(mode) ||
	    strcmp(json_string_value(mode), "S") != 0)) {
		snprintf(detail, detaillen, "Invalid parameter operationMode "
		    "(only S, synchronous)");
		goto out;
	}
	if (client != NULL && !json_is_string(client)) {
		snprintf(detail, detaillen, "a member has the wrong type");
		goto out;
	}
	if (hashes == NULL || csc_hashes(hashes, md, &r->sam.hashes, detail,
	    detaillen) == -1) {
		if (hashes == NULL)
			snprintf(detail, detaillen, "Missing parameter hashes");
		goto out;
	}
	r->pss = kind == 2;
	r->sam.algo = kind == 1 ? SAM_ALGO_RSA_PKCS1 : kind == 2 ?
	    SAM_ALGO_RSA_PSS : SAM_ALGO_ECDSA;
	rc = 0;
out:
	csc_wipe_json(sad);
	json_decref(root);
	if (rc == -1)
		csc_wipe(r, sizeof(*r));
	return rc;
}
