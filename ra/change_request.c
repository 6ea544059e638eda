/*
 * The request parsers of subscriber TOTP (POST /v1/totp, /v1/totp/confirm),
 * of the sensitive account changes (POST /v1/password, /v1/email,
 * /v1/phone) and of the password reset (POST /v1/password/forgot,
 * /v1/password/reset). Stateless, no I/O: fuzzed by
 * tests/fuzz/fuzz_ra_request.c.
 * Each body is one JSON object (RFC 8259) with exactly the named members
 * and no duplicate; details never quote a value (it may be a secret).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "lib/json.h"
#include "ra/extern.h"

int
ra_parse_totp_enrol(const void *body, size_t len, struct ra_totp_enrol_req *r,
    char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *factor = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:o}", "factor", &factor) == -1) {
		snprintf(detail, detaillen, "request object: %s", err.text);
		goto out;
	}
	if (ra_factor_parse(factor, &r->factor, detail, detaillen) == -1)
		goto out;
	rc = 0;
out:
	json_decref(root);
	if (rc == -1)
		ra_wipe(r, sizeof(*r));
	return rc;
}

int
ra_parse_totp_confirm(const void *body, size_t len,
    struct ra_totp_confirm_req *r, char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *code = NULL;
	size_t i;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:o}", "code", &code) == -1) {
		snprintf(detail, detaillen, "request object: %s", err.text);
		goto out;
	}
	if (!json_is_string(code) || json_string_length(code) != FACTOR_DIGITS)
		goto bad;
	for (i = 0; i < FACTOR_DIGITS; i++)
		if (json_string_value(code)[i] < '0' ||
		    json_string_value(code)[i] > '9')
			goto bad;
	memcpy(r->code, json_string_value(code), FACTOR_DIGITS);
	r->code[FACTOR_DIGITS] = '\0';
	rc = 0;
	goto out;
bad:
	snprintf(detail, detaillen, "code: the %d-digit code the authenticator "
	    "app shows (RFC 6238)", FACTOR_DIGITS);
out:
	ra_json_wipe(code);
	json_decref(root);
	if (rc == -1)
		ra_wipe(r, sizeof(*r));
	return rc;
}

int
ra_parse_password_change(const void *body, size_t len,
    struct ra_password_change_req *r, char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *cur = NULL, *pw = NULL, *factor = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:o, s:o, s:o}",
	    "current_password", &cur, "new_password", &pw, "factor",
	    &factor) == -1) {
		snprintf(detail, detaillen, "request object: %s", err.text);
		goto out;
	}
	if (ra_json_string(cur, "current_password", r->current,
	    RA_PASSWORD_MAX, detail, detaillen) == -1 ||
	    ra_json_string(pw, "new_password", r->password, RA_PASSWORD_MAX,
	    detail, detaillen) == -1)
		goto out;
	if (strcmp(r->current, r->password) == 0) {
		snprintf(detail, detaillen, "new_password: must differ from the "
		    "current password");
		goto out;
	}
	if (ra_factor_parse(factor, &r->factor, detail, detaillen) == -1)
		goto out;
	rc = 0;
out:
	ra_json_wipe(cur);
	ra_json_wipe(pw);
	json_decref(root);
	if (rc == -1)
		ra_wipe(r, sizeof(*r));
	return rc;
}

int
ra_parse_email_change(const void *body, size_t len,
    struct ra_email_change_req *r, char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *email = NULL, *factor = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:o, s:o}", "email", &email,
	    "factor", &factor) == -1) {
		snprintf(detail, detaillen, "request object: %s", err.text);
		goto out;
	}
	if (ra_json_string(email, "email", r->email, RA_EMAIL_MAX, detail,
	    detaillen) == -1 ||
	    ra_email_check(r->email, detail, detaillen) == -1 ||
	    ra_factor_parse(factor, &r->factor, detail, detaillen) == -1)
		goto out;
	rc = 0;
out:
	json_decref(root);
	if (rc == -1)
		ra_wipe(r, sizeof(*r));
	return rc;
}

int
ra_parse_phone_change(const void *body, size_t len,
    struct ra_phone_change_req *r, char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *phone = NULL, *factor = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:o, s:o}", "phone", &phone,
	    "factor", &factor) == -1) {
		snprintf(detail, detaillen, "request object: %s", err.text);
		goto out;
	}
	if (ra_json_string(phone, "phone", r->phone, RA_PHONE_MAX, detail,
	    detaillen) == -1 ||
	    ra_phone_check(r->phone, detail, detaillen) == -1 ||
	    ra_factor_parse(factor, &r->factor, detail, detaillen) == -1)
		goto out;
	rc = 0;
out:
	json_decref(root);
	if (rc == -1)
		ra_wipe(r, sizeof(*r));
	return rc;
}

int
ra_parse_password_forgot(const void *body, size_t len,
    struct ra_forgot_req *r, char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *email = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:o}", "email", &email) == -1) {
		snprintf(detail, detaillen, "request object: %s", err.text);
		goto out;
	}
	if (ra_json_string(email, "email", r->email, RA_EMAIL_MAX, detail,
	    detaillen) == -1 ||
	    ra_email_check(r->email, detail, detaillen) == -1)
		goto out;
	rc = 0;
out:
	json_decref(root);
	if (rc == -1)
		ra_wipe(r, sizeof(*r));
	return rc;
}

/* The largest otp_id a JSON number carries exactly (RFC 8259 §6). */
#define RA_RESET_OTP_ID_MAX	((1LL << 53) - 1)

int
ra_parse_password_reset(const void *body, size_t len,
    struct ra_reset_req *r, char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *tok = NULL, *pw = NULL, *id = NULL, *code = NULL;
	json_t *factor = NULL;
	const char *c;
	size_t i;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:o, s:o, s?o, s?o, s?o}",
	    "token", &tok, "new_password", &pw, "otp_id", &id, "code", &code,
	    "factor", &factor) == -1) {
		snprintf(detail, detaillen, "request object: %s", err.text);
		goto out;
	}
	if (!json_is_string(tok) || json_string_length(tok) !=
	    RA_TOKEN_B64_LEN || ra_token_decode(json_string_value(tok),
	    r->token) == -1) {
		snprintf(detail, detaillen, "token: must be %d base64url "
		    "characters (RFC 4648 §5)", RA_TOKEN_B64_LEN);
		goto out;
	}
	if (ra_json_string(pw, "new_password", r->password, RA_PASSWORD_MAX,
	    detail, detaillen) == -1)
		goto out;
	if ((id == NULL) != (code == NULL)) {
		snprintf(detail, detaillen, "otp_id and code: both or neither "
		    "(the SMS code of POST /v1/password/reset/otp)");
		goto out;
	}
	if (factor != NULL && id != NULL) {
		snprintf(detail, detaillen, "factor, or otp_id and code: one "
		    "second factor, not both");
		goto out;
	}
	if (factor != NULL) {
		if (ra_factor_parse(factor, &r->factor, detail,
		    detaillen) == -1)
			goto out;
		r->has_factor = 1;
		rc = 0;
		goto out;
	}
	if (id == NULL) {
		rc = 0;
		goto out;
	}
	if (!json_is_integer(id) || json_integer_value(id) < 1 ||
	    json_integer_value(id) > RA_RESET_OTP_ID_MAX) {
		snprintf(detail, detaillen, "otp_id: must be a positive integer");
		goto out;
	}
	if (!json_is_string(code) || json_string_length(code) != FACTOR_DIGITS)
		goto badcode;
	c = json_string_value(code);
	for (i = 0; i < FACTOR_DIGITS; i++)
		if (c[i] < '0' || c[i] > '9')
			goto badcode;
	/* The same as {"type":"otp","otp_id":…,"code":…}. */
	r->factor.type = FACTOR_OTP;
	r->factor.otp_id = (long long)json_integer_value(id);
	memcpy(r->factor.secret, c, FACTOR_DIGITS);
	r->factor.secret[FACTOR_DIGITS] = '\0';
	r->has_factor = 1;
	rc = 0;
	goto out;
badcode:
	snprintf(detail, detaillen, "code: must be a string of %d digits 0-9",
	    FACTOR_DIGITS);
out:
	ra_json_wipe(tok);
	ra_json_wipe(pw);
	ra_json_wipe(code);
	json_decref(root);
	if (rc == -1)
		ra_wipe(r, sizeof(*r));
	return rc;
}
