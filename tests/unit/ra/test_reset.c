/*
 * ra/change_request.c: the bodies of the password reset, POST
 * /v1/password/forgot and /v1/password/reset. Strictness (unknown and
 * duplicate members, types), the field rules, otp_id and code both or
 * neither (an OTP factor), or a factor object (otp, pin, totp), not both,
 * a zeroed output and a detail without the value on every refusal; the
 * purpose password_reset is a factor purpose but not one POST /v1/otp may
 * ask for, nor one its refusal lists.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ra/extern.h"
#include "tests/unit/ra/ratest.h"

#define PARSE(fn, body, r)	fn(body, strlen(body), r, detail, sizeof(detail))
/* 43 base64url characters of 32 bytes: 0x00 × 31, then 0x01. */
#define TOK	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"

static void
test_forgot_body(void **state)
{
	struct ra_forgot_req r;
	char detail[256];

	(void)state;
	assert_int_equal(PARSE(ra_parse_password_forgot,
	    "{\"email\":\"Lost.Soul@Example.COM\"}", &r), 0);
	assert_string_equal(r.email, "lost.soul@example.com");
	assert_int_equal(PARSE(ra_parse_password_forgot,
	    "{\"email\":\"no-at-sign\"}", &r), -1);
	assert_true(all_zero(&r, sizeof(r)));
	assert_null(strstr(detail, "no-at-sign"));
	assert_int_equal(PARSE(ra_parse_password_forgot,
	    "{\"email\":\"a@example.com\",\"phone\":\"+6281234567890\"}", &r),
	    -1);
	assert_true(all_zero(&r, sizeof(r)));
	assert_int_equal(PARSE(ra_parse_password_forgot,
	    "{\"email\":\"a@example.com\",\"email\":\"b@example.com\"}", &r),
	    -1);
	assert_non_null(strstr(detail, "duplicate"));
	assert_int_equal(PARSE(ra_parse_password_forgot, "{\"email\":7}", &r),
	    -1);
	assert_int_equal(PARSE(ra_parse_password_forgot, "[]", &r), -1);
	assert_int_equal(PARSE(ra_parse_password_forgot, "", &r), -1);
}

static void
test_reset_body(void **state)
{
	struct ra_reset_req r;
	char detail[256];

	(void)state;
	/* Without the SMS code (an account whose phone is not verified). */
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"token\":\"" TOK
	    "\",\"new_password\":\"New-Secret2\"}", &r), 0);
	assert_int_equal(r.token[31], 1);
	assert_int_equal(r.token[0], 0);
	assert_string_equal(r.password, "New-Secret2");
	assert_int_equal(r.has_factor, 0);
	assert_true(all_zero(&r.factor, sizeof(r.factor)));
	/* With it: an OTP factor. */
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"token\":\"" TOK
	    "\",\"new_password\":\"New-Secret2\",\"otp_id\":42,"
	    "\"code\":\"012345\"}", &r), 0);
	assert_int_equal(r.has_factor, 1);
	assert_int_equal(r.factor.type, FACTOR_OTP);
	assert_int_equal(r.factor.otp_id, 42);
	assert_string_equal(r.factor.secret, "012345");
	/* The factor object: the PIN, a TOTP code, an OTP. */
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"token\":\"" TOK
	    "\",\"new_password\":\"New-Secret2\",\"factor\":{\"type\":"
	    "\"pin\",\"pin\":\"402917\"}}", &r), 0);
	assert_int_equal(r.has_factor, 1);
	assert_int_equal(r.factor.type, FACTOR_PIN);
	assert_string_equal(r.factor.secret, "402917");
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"token\":\"" TOK
	    "\",\"new_password\":\"New-Secret2\",\"factor\":{\"type\":"
	    "\"totp\",\"code\":\"123456\"}}", &r), 0);
	assert_int_equal(r.factor.type, FACTOR_TOTP);
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"token\":\"" TOK
	    "\",\"new_password\":\"New-Secret2\",\"factor\":{\"type\":"
	    "\"otp\",\"otp_id\":7,\"code\":\"123456\"}}", &r), 0);
	assert_int_equal(r.factor.type, FACTOR_OTP);
	assert_int_equal(r.factor.otp_id, 7);
	/* Not both; a bad factor object; neither quoted. */
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"token\":\"" TOK
	    "\",\"new_password\":\"New-Secret2\",\"otp_id\":42,"
	    "\"code\":\"012345\",\"factor\":{\"type\":\"pin\","
	    "\"pin\":\"402917\"}}", &r), -1);
	assert_true(all_zero(&r, sizeof(r)));
	assert_null(strstr(detail, "402917"));
	assert_null(strstr(detail, "012345"));
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"token\":\"" TOK
	    "\",\"new_password\":\"New-Secret2\",\"factor\":{\"type\":"
	    "\"pin\",\"pin\":\"40291\"}}", &r), -1);
	assert_true(all_zero(&r, sizeof(r)));
	assert_null(strstr(detail, "40291"));
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"token\":\"" TOK
	    "\",\"new_password\":\"New-Secret2\",\"factor\":{\"type\":"
	    "\"sms\",\"code\":\"123456\"}}", &r), -1);
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"token\":\"" TOK
	    "\",\"new_password\":\"New-Secret2\",\"factor\":\"pin\"}",
	    &r), -1);
	assert_true(all_zero(&r, sizeof(r)));
	/* One without the other. */
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"token\":\"" TOK
	    "\",\"new_password\":\"New-Secret2\",\"otp_id\":42}", &r), -1);
	assert_true(all_zero(&r, sizeof(r)));
	assert_null(strstr(detail, "New-Secret2"));
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"token\":\"" TOK
	    "\",\"new_password\":\"New-Secret2\",\"code\":\"012345\"}", &r), -1);
	assert_null(strstr(detail, "012345"));
	/* Bad codes, ids and tokens. */
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"token\":\"" TOK
	    "\",\"new_password\":\"x\",\"otp_id\":42,\"code\":\"01234\"}", &r),
	    -1);
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"token\":\"" TOK
	    "\",\"new_password\":\"x\",\"otp_id\":42,\"code\":\"01234a\"}", &r),
	    -1);
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"token\":\"" TOK
	    "\",\"new_password\":\"x\",\"otp_id\":42,\"code\":12345}", &r), -1);
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"token\":\"" TOK
	    "\",\"new_password\":\"x\",\"otp_id\":0,\"code\":\"012345\"}", &r),
	    -1);
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"token\":\"" TOK
	    "\",\"new_password\":\"x\",\"otp_id\":\"42\",\"code\":\"012345\"}",
	    &r), -1);
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"token\":\"" TOK
	    "\",\"new_password\":\"x\",\"otp_id\":9007199254740992,"
	    "\"code\":\"012345\"}", &r), -1);
	/* The last 2 bits of 43 characters must be zero (canonical). */
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"token\":\""
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB\",\"new_password\":"
	    "\"x\"}", &r), -1);
	assert_null(strstr(detail, "AAAAAAAA"));
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"token\":\"short\","
	    "\"new_password\":\"x\"}", &r), -1);
	/* Empty or NUL-bearing password, unknown or duplicate member. */
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"token\":\"" TOK
	    "\",\"new_password\":\"\"}", &r), -1);
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"token\":\"" TOK
	    "\",\"new_password\":\"a\\u0000b\"}", &r), -1);
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"token\":\"" TOK
	    "\",\"new_password\":\"x\",\"email\":\"a@example.com\"}", &r), -1);
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"token\":\"" TOK
	    "\",\"new_password\":\"x\",\"new_password\":\"y\"}", &r), -1);
	assert_non_null(strstr(detail, "duplicate"));
	assert_int_equal(PARSE(ra_parse_password_reset, "{\"new_password\":"
	    "\"x\"}", &r), -1);
	assert_true(all_zero(&r, sizeof(r)));
}

static void
test_reset_purpose(void **state)
{
	struct ra_otp_req o;
	char detail[256];

	(void)state;
	assert_int_equal(ra_purpose_check("password_reset"), 0);
	assert_int_equal(PARSE(ra_parse_otp_request,
	    "{\"channel\":\"sms\",\"purpose\":\"password_reset\"}", &o), -1);
	assert_non_null(strstr(detail, "/v1/password/reset/otp"));
	assert_true(all_zero(&o, sizeof(o)));
	/* An unknown purpose lists those POST /v1/otp may ask for. */
	assert_int_equal(PARSE(ra_parse_otp_request,
	    "{\"channel\":\"sms\",\"purpose\":\"nonsense\"}", &o), -1);
	assert_non_null(strstr(detail, "set_pin"));
	assert_non_null(strstr(detail, "totp_enrol"));
	assert_null(strstr(detail, "password_reset"));
	assert_int_equal(PARSE(ra_parse_otp_request,
	    "{\"channel\":\"sms\",\"purpose\":\"set_pin\"}", &o), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forgot_body),
		cmocka_unit_test(test_reset_body),
		cmocka_unit_test(test_reset_purpose),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
