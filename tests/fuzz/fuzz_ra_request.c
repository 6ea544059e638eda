/*
 * libFuzzer harness for rad's JSON request parsers (ra/request.c): the
 * register, login and token bodies, then the password rules on what parsed.
 * Invariants: a parsed email is lower-case and passes ra_email_check again;
 * a parsed token re-encodes to 43 characters that decode to the same bytes;
 * nothing the parser refuses leaves bytes in its output. Also the factor
 * bodies (ra/factor_request.c: /v1/otp, /v1/phone/verify, /v1/pin and the
 * factor object): what parses has a known channel and purpose, 6-digit
 * codes and PINs, a positive otp_id, and a PIN that passes ra_pin_check.
 * And the TOTP and account-change bodies (ra/change_request.c): a confirm
 * code of 6 digits, two different non-empty passwords, an email that passes
 * ra_email_check again, a phone that passes ra_phone_check, a valid factor.
 * And the password reset bodies (ra/change_request.c): a forgot email that
 * passes ra_email_check again; a reset token that re-encodes to the same
 * bytes, a non-empty new password, and a valid factor (otp_id and a
 * 6-digit code, or a factor object) or none, with nothing left in it;
 * POST /v1/otp never parses purpose password_reset.
 * And the body of a request that takes no member (ra_parse_empty: the
 * signing service grants): accepted exactly when it is absent or a JSON
 * object without a member, as lib/json.c loads it; a refusal says why.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "lib/json.h"
#include "ra/extern.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fuzz_all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i] != 0)
			return 0;
	return 1;
}

static int
fuzz_six_digits(const char *s)
{
	int i;

	for (i = 0; i < 6; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return s[6] == '\0';
}

static void
fuzz_factors(const uint8_t *data, size_t size)
{
	struct ra_otp_req otp;
	struct ra_phone_verify_req pv;
	struct ra_pin_req pin;
	char detail[256];

	if (ra_parse_otp_request(data, size, &otp, detail, sizeof(detail)) == 0) {
		if (ra_purpose_check(otp.purpose) != 0 ||
		    (strcmp(otp.channel, "sms") != 0 &&
		    strcmp(otp.channel, "email") != 0) ||
		    (strcmp(otp.purpose, "phone_verify") == 0 &&
		    strcmp(otp.channel, "sms") != 0) ||
		    strcmp(otp.purpose, "password_reset") == 0 ||
		    /*
		     * A sign code has its credential and documents; no other
		     * has any.
		     */
		    (strcmp(otp.purpose, "sign") == 0) != (otp.documents > 0) ||
		    (otp.documents > 0) != factor_credential_ok(
		    otp.credential) ||
		    strlen(otp.credential) > RA_CREDENTIAL_ID_MAX ||
		    otp.documents > FACTOR_BINDING_HASHES_MAX ||
		    (otp.documents == 0 && !fuzz_all_zero(otp.binding,
		    sizeof(otp.binding))))
			__builtin_trap();
	} else if (!fuzz_all_zero(&otp, sizeof(otp)))
		__builtin_trap();
	if (ra_parse_phone_verify(data, size, &pv, detail, sizeof(detail)) == 0) {
		if (pv.otp_id < 1 || !fuzz_six_digits(pv.code))
			__builtin_trap();
	} else if (!fuzz_all_zero(&pv, sizeof(pv)))
		__builtin_trap();
	if (ra_parse_pin_set(data, size, &pin, detail, sizeof(detail)) == 0) {
		if (!fuzz_six_digits(pin.pin) ||
		    ra_pin_check(pin.pin, detail, sizeof(detail)) != 0 ||
		    !fuzz_six_digits(pin.factor.secret) ||
		    (pin.factor.type == FACTOR_OTP) != (pin.factor.otp_id > 0) ||
		    pin.factor.type < FACTOR_OTP ||
		    pin.factor.type > FACTOR_TOTP)
			__builtin_trap();
		ra_wipe(&pin, sizeof(pin));
	} else if (!fuzz_all_zero(&pin, sizeof(pin)))
		__builtin_trap();
}

static int
fuzz_factor_ok(const struct factor *f)
{
	return fuzz_six_digits(f->secret) && f->type >= FACTOR_OTP &&
	    f->type <= FACTOR_TOTP &&
	    (f->type == FACTOR_OTP) == (f->otp_id > 0);
}

static void
fuzz_changes(const uint8_t *data, size_t size)
{
	struct ra_totp_enrol_req en;
	struct ra_totp_confirm_req co;
	struct ra_password_change_req pw;
	struct ra_email_change_req em;
	struct ra_phone_change_req ph;
	char detail[256], again[RA_EMAIL_MAX + 1];

	if (ra_parse_totp_enrol(data, size, &en, detail, sizeof(detail)) == 0) {
		if (!fuzz_factor_ok(&en.factor))
			__builtin_trap();
		ra_wipe(&en, sizeof(en));
	} else if (!fuzz_all_zero(&en, sizeof(en)))
		__builtin_trap();
	if (ra_parse_totp_confirm(data, size, &co, detail, sizeof(detail)) == 0) {
		if (!fuzz_six_digits(co.code))
			__builtin_trap();
		ra_wipe(&co, sizeof(co));
	} else if (!fuzz_all_zero(&co, sizeof(co)))
		__builtin_trap();
	if (ra_parse_password_change(data, size, &pw, detail,
	    sizeof(detail)) == 0) {
		if (pw.current[0] == '\0' || pw.password[0] == '\0' ||
		    strcmp(pw.current, pw.password) == 0 ||
		    !fuzz_factor_ok(&pw.factor))
			__builtin_trap();
		ra_wipe(&pw, sizeof(pw));
	} else if (!fuzz_all_zero(&pw, sizeof(pw)))
		__builtin_trap();
	if (ra_parse_email_change(data, size, &em, detail, sizeof(detail)) == 0) {
		memcpy(again, em.email, sizeof(again));
		if (ra_email_check(again, detail, sizeof(detail)) != 0 ||
		    strcmp(again, em.email) != 0 || !fuzz_factor_ok(&em.factor))
			__builtin_trap();
		ra_wipe(&em, sizeof(em));
	} else if (!fuzz_all_zero(&em, sizeof(em)))
		__builtin_trap();
	if (ra_parse_phone_change(data, size, &ph, detail, sizeof(detail)) == 0) {
		if (ra_phone_check(ph.phone, detail, sizeof(detail)) != 0 ||
		    !fuzz_factor_ok(&ph.factor))
			__builtin_trap();
		ra_wipe(&ph, sizeof(ph));
	} else if (!fuzz_all_zero(&ph, sizeof(ph)))
		__builtin_trap();
}

static void
fuzz_reset(const uint8_t *data, size_t size)
{
	struct ra_forgot_req fo;
	struct ra_reset_req re;
	unsigned char back[RA_TOKEN_BYTES];
	char detail[256], again[RA_EMAIL_MAX + 1], text[RA_TOKEN_B64_LEN + 1];

	if (ra_parse_password_forgot(data, size, &fo, detail,
	    sizeof(detail)) == 0) {
		memcpy(again, fo.email, sizeof(again));
		if (ra_email_check(again, detail, sizeof(detail)) != 0 ||
		    strcmp(again, fo.email) != 0)
			__builtin_trap();
	} else if (!fuzz_all_zero(&fo, sizeof(fo)))
		__builtin_trap();
	if (ra_parse_password_reset(data, size, &re, detail,
	    sizeof(detail)) == 0) {
		ra_token_encode(re.token, text);
		if (re.password[0] == '\0' ||
		    ra_token_decode(text, back) != 0 ||
		    memcmp(back, re.token, sizeof(back)) != 0 ||
		    (re.has_factor != 0 && re.has_factor != 1) ||
		    (re.has_factor && !fuzz_factor_ok(&re.factor)) ||
		    (!re.has_factor && !fuzz_all_zero(&re.factor,
		    sizeof(re.factor))))
			__builtin_trap();
		ra_wipe(&re, sizeof(re));
	} else if (!fuzz_all_zero(&re, sizeof(re)))
		__builtin_trap();
}

static void
fuzz_empty(const uint8_t *data, size_t size)
{
	json_error_t err;
	json_t *root;
	char detail[256];
	int ok, empty;

	detail[0] = '\0';
	ok = ra_parse_empty(data, size, detail, sizeof(detail)) == 0;
	root = size > 0 ? json_load_bounded(data, size, RA_MAX_BODY, &err) :
	    NULL;
	empty = size == 0 || (root != NULL && json_is_object(root) &&
	    json_object_size(root) == 0);
	json_decref(root);
	if (ok != empty || (!ok && detail[0] == '\0'))
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ra_policy policy;
	static int loaded;
	struct ra_register_req reg;
	struct ra_login_req login;
	struct ra_token_req tok;
	unsigned char back[RA_TOKEN_BYTES];
	char detail[256], text[RA_TOKEN_B64_LEN + 1], again[RA_EMAIL_MAX + 1];
	const char *p;

	if (!loaded) {
		if (ra_policy_load(NULL, &policy) == -1)	/* built-in defaults */
			__builtin_trap();
		loaded = 1;
	}
	if (ra_parse_register(data, size, &reg, detail, sizeof(detail)) == 0) {
		for (p = reg.email; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				__builtin_trap();
		memcpy(again, reg.email, sizeof(again));
		if (ra_email_check(again, detail, sizeof(detail)) != 0 ||
		    strcmp(again, reg.email) != 0)
			__builtin_trap();
		if (ra_phone_check(reg.phone, detail, sizeof(detail)) != 0)
			__builtin_trap();
		(void)ra_password_check(&policy, reg.password, detail,
		    sizeof(detail));
		ra_wipe(&reg, sizeof(reg));
	} else if (!fuzz_all_zero(&reg, sizeof(reg)))
		__builtin_trap();
	if (ra_parse_login(data, size, &login, detail, sizeof(detail)) == 0) {
		if (login.email[0] == '\0' || login.password[0] == '\0')
			__builtin_trap();
		ra_wipe(&login, sizeof(login));
	} else if (!fuzz_all_zero(&login, sizeof(login)))
		__builtin_trap();
	if (ra_parse_token(data, size, &tok, detail, sizeof(detail)) == 0) {
		ra_token_encode(tok.token, text);
		if (strlen(text) != RA_TOKEN_B64_LEN ||
		    ra_token_decode(text, back) != 0 ||
		    memcmp(back, tok.token, sizeof(back)) != 0)
			__builtin_trap();
	} else if (!fuzz_all_zero(&tok, sizeof(tok)))
		__builtin_trap();
	fuzz_factors(data, size);
	fuzz_changes(data, size);
	fuzz_reset(data, size);
	fuzz_empty(data, size);
	return 0;
}
