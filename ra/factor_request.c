/*
 * Second factors, the stateless part: the request parsers of POST /v1/otp,
 * /v1/phone/verify and /v1/pin, the factor object, the purposes, the
 * uniform 6-digit code and the PIN rule. No database, no I/O: fuzzed by
 * tests/fuzz/fuzz_ra_request.c, unit-tested by tests/unit/ra/test_factor.c.
 * Details never quote a value: it may be a code or a PIN.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "lib/json.h"
#include "lib/log.h"
#include "ra/extern.h"

#define RA_OTP_MODULUS		1000000U
/*
 * 4294 × 10^6, the largest multiple of 10^6 not above 2^32: below it every
 * code has exactly 4294 draws; draws at or above it are redrawn.
 */
#define RA_OTP_LIMIT		4294000000U
#define RA_OTP_ID_MAX		((1LL << 53) - 1)	/* exact in a JSON number */

static const char *const ra_purposes[] = {
	"phone_verify", "agreement", "rekey", "revoke", "change_password",
	"change_email", "change_phone", "set_pin", "sign", "totp_enrol",
	"password_reset",
};

int
ra_purpose_check(const char *purpose)
{
	size_t i;

	for (i = 0; i < sizeof(ra_purposes) / sizeof(ra_purposes[0]); i++)
		if (strcmp(purpose, ra_purposes[i]) == 0)
			return 0;
	return -1;
}

/*
 * "purpose: must be one of ..." from the list itself, so both agree: the
 * purposes POST /v1/otp may ask for, so not password_reset (its code comes
 * from POST /v1/password/reset/otp, with a reset token, to no session).
 */
static void
ra_purpose_list(char *detail, size_t detaillen)
{
	size_t i, off;
	int n = 0;

	off = (size_t)snprintf(detail, detaillen, "purpose: must be one of ");
	for (i = 0; i < sizeof(ra_purposes) / sizeof(ra_purposes[0]) &&
	    off < detaillen; i++) {
		if (strcmp(ra_purposes[i], "password_reset") == 0)
			continue;
		off += (size_t)snprintf(detail + off, detaillen - off, "%s%s",
		    n++ > 0 ? ", " : "", ra_purposes[i]);
	}
}

/* Exactly n ASCII digits copied to out (n + 1 bytes). 0 or -1. */
static int
ra_digits(json_t *s, const char *name, char *out, size_t n, char *detail,
    size_t detaillen)
{
	const char *v;
	size_t i;

	if (!json_is_string(s) || json_string_length(s) != n)
		goto bad;
	v = json_string_value(s);
	for (i = 0; i < n; i++)
		if (v[i] < '0' || v[i] > '9')
			goto bad;
	memcpy(out, v, n);
	out[n] = '\0';
	return 0;
bad:
	snprintf(detail, detaillen, "%s: must be a string of %zu digits 0-9",
	    name, n);
	return -1;
}

static int
ra_otp_id(json_t *o, long long *out, char *detail, size_t detaillen)
{
	if (!json_is_integer(o) || json_integer_value(o) < 1 ||
	    json_integer_value(o) > RA_OTP_ID_MAX) {
		snprintf(detail, detaillen, "otp_id: must be a positive integer");
		return -1;
	}
	*out = (long long)json_integer_value(o);
	return 0;
}

int
ra_factor_parse(json_t *f, struct factor *r, char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *type, *id = NULL, *code = NULL;
	const char *t;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(f) || (type = json_object_get(f, "type")) == NULL ||
	    !json_is_string(type)) {
		snprintf(detail, detaillen, "factor: must be an object with a "
		    "string member type (otp, pin or totp)");
		goto out;
	}
	t = json_string_value(type);
	if (strcmp(t, "otp") == 0) {
		r->type = FACTOR_OTP;
		if (json_unpack_strict(f, &err, "{s:o, s:o, s:o}", "type", &type,
		    "otp_id", &id, "code", &code) == -1)
			goto unpack;
		if (ra_otp_id(id, &r->otp_id, detail, detaillen) == -1 ||
		    ra_digits(code, "factor.code", r->secret, RA_OTP_DIGITS,
		    detail, detaillen) == -1)
			goto out;
	} else if (strcmp(t, "pin") == 0) {
		r->type = FACTOR_PIN;
		if (json_unpack_strict(f, &err, "{s:o, s:o}", "type", &type,
		    "pin", &code) == -1)
			goto unpack;
		if (ra_digits(code, "factor.pin", r->secret, RA_PIN_DIGITS,
		    detail, detaillen) == -1)
			goto out;
	} else if (strcmp(t, "totp") == 0) {
		r->type = FACTOR_TOTP;
		if (json_unpack_strict(f, &err, "{s:o, s:o}", "type", &type,
		    "code", &code) == -1)
			goto unpack;
		if (ra_digits(code, "factor.code", r->secret, RA_OTP_DIGITS,
		    detail, detaillen) == -1)
			goto out;
	} else {
		snprintf(detail, detaillen, "factor.type: must be otp, pin or "
		    "totp");
		goto out;
	}
	rc = 0;
	goto out;
unpack:
	/* jansson's strict-unpack messages name members, never values. */
	snprintf(detail, detaillen, "factor: %s", err.text);
out:
	ra_json_wipe(code);
	if (rc == -1)
		ra_wipe(r, sizeof(*r));
	return rc;
}

/*
 * The credential of an OTP of purpose sign: credential_id, a CSC
 * credentialID as signd takes it (a string of 1..18 digits, no leading
 * zero), into r->credential. Whose it is, ra_otp_issue checks. 0 or -1.
 */
static int
ra_otp_credential(json_t *id, struct ra_otp_req *r, char *detail,
    size_t detaillen)
{
	if (!json_is_string(id) || json_string_length(id) < 1 ||
	    json_string_length(id) > RA_CREDENTIAL_ID_MAX ||
	    !factor_credential_ok(json_string_value(id))) {
		snprintf(detail, detaillen, "credential_id: must be the "
		    "credentialID the signing service will use, a string of 1 "
		    "to %d digits without a leading zero",
		    RA_CREDENTIAL_ID_MAX);
		return -1;
	}
	memcpy(r->credential, json_string_value(id),
	    json_string_length(id) + 1);
	return 0;
}

/*
 * The documents of an OTP of purpose sign: hash_algo "sha256", "sha384" or
 * "sha512" and 1..100 distinct base64 hashes of its length, as CSC
 * credentials/authorize will carry them; their binding with r->credential
 * (set before) into r. 0 or -1.
 */
static int
ra_otp_documents(json_t *algo, json_t *hashes, struct ra_otp_req *r,
    char *detail, size_t detaillen)
{
	unsigned char h[FACTOR_BINDING_HASHES_MAX][64], *b = NULL;
	const unsigned char *p[FACTOR_BINDING_HASHES_MAX];
	const char *md;
	size_t i, j, n, blen, hlen = 0;
	int too_big;
	json_t *e;

	if ((md = factor_binding_md(json_string_value(algo), &hlen)) == NULL) {
		snprintf(detail, detaillen, "hash_algo: must be sha256, sha384 "
		    "or sha512");
		return -1;
	}
	if (!json_is_array(hashes) || (n = json_array_size(hashes)) < 1 ||
	    n > FACTOR_BINDING_HASHES_MAX) {
		snprintf(detail, detaillen, "hashes: must be an array of 1 to "
		    "%d base64 hash values (the documents to sign)",
		    FACTOR_BINDING_HASHES_MAX);
		return -1;
	}
	for (i = 0; i < n; i++) {
		e = json_array_get(hashes, i);
		if (!json_is_string(e) || ra_base64_decode(json_string_value(e),
		    json_string_length(e), hlen, &b, &blen, &too_big) == -1 ||
		    blen != hlen) {
			free(b);
			snprintf(detail, detaillen, "hashes: element %zu is not "
			    "the base64 of a %zu-byte %s hash", i, hlen,
			    json_string_value(algo));
			return -1;
		}
		memcpy(h[i], b, blen);
		free(b);
		b = NULL;
		p[i] = h[i];
		for (j = 0; j < i; j++)
			if (memcmp(h[i], h[j], blen) == 0) {
				snprintf(detail, detaillen, "hashes: elements "
				    "%zu and %zu are equal", j, i);
				return -1;
			}
	}
	if (factor_sign_binding(r->credential, md, p, n, hlen,
	    r->binding) == -1) {
		snprintf(detail, detaillen, "hashes: cannot be bound");
		return -1;
	}
	r->documents = (unsigned int)n;
	return 0;
}

int
ra_parse_otp_request(const void *body, size_t len, struct ra_otp_req *r,
    char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *ch = NULL, *purpose = NULL, *hashes = NULL, *algo = NULL;
	json_t *cred = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:o, s:o, s?o, s?o, s?o}",
	    "channel", &ch, "purpose", &purpose, "hashes", &hashes,
	    "hash_algo", &algo, "credential_id", &cred) == -1) {
		snprintf(detail, detaillen, "request object: %s", err.text);
		goto out;
	}
	if (!json_is_string(ch) || (strcmp(json_string_value(ch), "email") != 0 &&
	    strcmp(json_string_value(ch), "sms") != 0) ||
	    json_string_length(ch) >= sizeof(r->channel)) {
		snprintf(detail, detaillen, "channel: must be email or sms");
		goto out;
	}
	if (!json_is_string(purpose) || json_string_length(purpose) >
	    RA_PURPOSE_MAX || ra_purpose_check(json_string_value(purpose)) == -1) {
		ra_purpose_list(detail, detaillen);
		goto out;
	}
	snprintf(r->channel, sizeof(r->channel), "%s", json_string_value(ch));
	snprintf(r->purpose, sizeof(r->purpose), "%s",
	    json_string_value(purpose));
	if (strcmp(r->purpose, "phone_verify") == 0 &&
	    strcmp(r->channel, "sms") != 0) {
		snprintf(detail, detaillen, "purpose phone_verify: the code is "
		    "sent by sms, to the phone it verifies");
		goto out;
	}
	/* Its code goes with a reset token, to no session (reset.c). */
	if (strcmp(r->purpose, "password_reset") == 0) {
		snprintf(detail, detaillen, "purpose password_reset: the code "
		    "is sent by POST /v1/password/reset/otp");
		goto out;
	}
	/*
	 * A sign code is for a given key and given documents (schema/060,
	 * 061): without them a service relaying it could sign documents of
	 * its own choosing, or with another of the subscriber's keys (an
	 * e-seal for a personal signature).
	 */
	if (strcmp(r->purpose, "sign") == 0) {
		if (hashes == NULL || algo == NULL || cred == NULL) {
			snprintf(detail, detaillen, "purpose sign: "
			    "credential_id, hashes and hash_algo (the key and "
			    "the documents the code will authorize) are "
			    "required");
			goto out;
		}
		if (ra_otp_credential(cred, r, detail, detaillen) == -1 ||
		    ra_otp_documents(algo, hashes, r, detail, detaillen) == -1)
			goto out;
	} else if (hashes != NULL || algo != NULL || cred != NULL) {
		snprintf(detail, detaillen, "credential_id, hashes, hash_algo: "
		    "only with purpose sign");
		goto out;
	}
	rc = 0;
out:
	json_decref(root);
	if (rc == -1)
		memset(r, 0, sizeof(*r));
	return rc;
}

int
ra_parse_phone_verify(const void *body, size_t len,
    struct ra_phone_verify_req *r, char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *id = NULL, *code = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:o, s:o}", "otp_id", &id,
	    "code", &code) == -1) {
		snprintf(detail, detaillen, "request object: %s", err.text);
		goto out;
	}
	if (ra_otp_id(id, &r->otp_id, detail, detaillen) == -1 ||
	    ra_digits(code, "code", r->code, RA_OTP_DIGITS, detail,
	    detaillen) == -1)
		goto out;
	rc = 0;
out:
	ra_json_wipe(code);
	json_decref(root);
	if (rc == -1)
		ra_wipe(r, sizeof(*r));
	return rc;
}

int
ra_parse_pin_set(const void *body, size_t len, struct ra_pin_req *r,
    char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *pin = NULL, *factor = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:o, s:o}", "pin", &pin,
	    "factor", &factor) == -1) {
		snprintf(detail, detaillen, "request object: %s", err.text);
		goto out;
	}
	if (ra_digits(pin, "pin", r->pin, RA_PIN_DIGITS, detail,
	    detaillen) == -1 ||
	    ra_pin_check(r->pin, detail, detaillen) == -1 ||
	    ra_factor_parse(factor, &r->factor, detail, detaillen) == -1)
		goto out;
	rc = 0;
out:
	ra_json_wipe(pin);
	json_decref(root);
	if (rc == -1)
		ra_wipe(r, sizeof(*r));
	return rc;
}

int
ra_otp_code_from(uint32_t v, char out[RA_OTP_DIGITS + 1])
{
	out[0] = '\0';
	if (v >= RA_OTP_LIMIT)
		return -1;
	snprintf(out, RA_OTP_DIGITS + 1, "%06u", (unsigned)(v % RA_OTP_MODULUS));
	return 0;
}

int
ra_otp_code_new(char out[RA_OTP_DIGITS + 1])
{
	unsigned char b[4];
	uint32_t v;
	int i, rc = -1;

	/* A draw is redrawn with probability < 2^-22; 64 tries never all fail. */
	for (i = 0; i < 64; i++) {
		if (RAND_bytes(b, sizeof(b)) != 1) {
			log_openssl(LOGL_ERR, "RAND_bytes");
			break;
		}
		v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
		    (uint32_t)b[2] << 8 | b[3];
		if (ra_otp_code_from(v, out) == 0) {
			rc = 0;
			break;
		}
	}
	ra_wipe(b, sizeof(b));
	v = 0;
	return rc;
}

int
ra_pin_check(const char *pin, char *detail, size_t detaillen)
{
	size_t i;
	int same = 1, up = 1, down = 1, d, prev;

	if (strlen(pin) != RA_PIN_DIGITS)
		goto bad;
	for (i = 0; i < RA_PIN_DIGITS; i++)
		if (pin[i] < '0' || pin[i] > '9')
			goto bad;
	for (i = 1; i < RA_PIN_DIGITS; i++) {
		d = pin[i] - '0';
		prev = pin[i - 1] - '0';
		if (d != prev)
			same = 0;
		if (d != (prev + 1) % 10)
			up = 0;
		if (d != (prev + 9) % 10)
			down = 0;
	}
	if (same || up || down) {
		snprintf(detail, detaillen, "pin: too easy to guess (one digit "
		    "repeated, or a run up or down such as 123456)");
		return -1;
	}
	return 0;
bad:
	snprintf(detail, detaillen, "pin: must be %d digits 0-9", RA_PIN_DIGITS);
	return -1;
}
