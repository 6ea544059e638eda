/*
 * ra/change_request.c: the bodies of POST /v1/totp, /v1/totp/confirm,
 * /v1/password, /v1/email and /v1/phone. Strictness (unknown and duplicate
 * members, types), the field rules, a zeroed output and a detail without
 * the value on every refusal.
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

static void
test_totp_bodies(void **state)
{
	struct ra_totp_enrol_req en;
	struct ra_totp_confirm_req co;
	char detail[256];

	(void)state;
	assert_int_equal(PARSE(ra_parse_totp_enrol,
	    "{\"factor\":{\"type\":\"totp\",\"code\":\"012345\"}}", &en), 0);
	assert_int_equal(en.factor.type, FACTOR_TOTP);
	assert_string_equal(en.factor.secret, "012345");
	assert_int_equal(PARSE(ra_parse_totp_enrol,
	    "{\"factor\":{\"type\":\"pin\",\"pin\":\"402917\"},\"x\":1}", &en), -1);
	assert_true(all_zero(&en, sizeof(en)));
	assert_null(strstr(detail, "402917"));
	assert_int_equal(PARSE(ra_parse_totp_confirm, "{\"code\":\"654321\"}",
	    &co), 0);
	assert_string_equal(co.code, "654321");
	assert_int_equal(PARSE(ra_parse_totp_confirm, "{\"code\":\"65432\"}",
	    &co), -1);
	assert_int_equal(PARSE(ra_parse_totp_confirm, "{\"code\":654321}", &co),
	    -1);
	assert_int_equal(PARSE(ra_parse_totp_confirm,
	    "{\"code\":\"654321\",\"code\":\"654321\"}", &co), -1);
	assert_non_null(strstr(detail, "duplicate"));
	assert_true(all_zero(&co, sizeof(co)));
}

static void
test_password_body(void **state)
{
	struct ra_password_change_req r;
	char detail[256];

	(void)state;
	assert_int_equal(PARSE(ra_parse_password_change,
	    "{\"current_password\":\"Old-Secret1\",\"new_password\":"
	    "\"New-Secret2\",\"factor\":{\"type\":\"pin\",\"pin\":\"402917\"}}",
	    &r), 0);
	assert_string_equal(r.current, "Old-Secret1");
	assert_string_equal(r.password, "New-Secret2");
	assert_int_equal(r.factor.type, FACTOR_PIN);
	/* The same password twice, an embedded NUL, no factor. */
	assert_int_equal(PARSE(ra_parse_password_change,
	    "{\"current_password\":\"Same-Secret1\",\"new_password\":"
	    "\"Same-Secret1\",\"factor\":{\"type\":\"pin\",\"pin\":\"402917\"}}",
	    &r), -1);
	assert_null(strstr(detail, "Same-Secret1"));
	assert_true(all_zero(&r, sizeof(r)));
	assert_int_equal(PARSE(ra_parse_password_change,
	    "{\"current_password\":\"a\\u0000b\",\"new_password\":\"c\","
	    "\"factor\":{\"type\":\"pin\",\"pin\":\"402917\"}}", &r), -1);
	assert_int_equal(PARSE(ra_parse_password_change,
	    "{\"current_password\":\"a\",\"new_password\":\"b\"}", &r), -1);
	assert_int_equal(PARSE(ra_parse_password_change,
	    "{\"current_password\":\"\",\"new_password\":\"b\","
	    "\"factor\":{\"type\":\"pin\",\"pin\":\"402917\"}}", &r), -1);
}

static void
test_email_phone_bodies(void **state)
{
	struct ra_email_change_req e;
	struct ra_phone_change_req p;
	char detail[256];

	(void)state;
	assert_int_equal(PARSE(ra_parse_email_change,
	    "{\"email\":\"New.Name@Example.COM\",\"factor\":{\"type\":\"otp\","
	    "\"otp_id\":9,\"code\":\"123456\"}}", &e), 0);
	assert_string_equal(e.email, "new.name@example.com");
	assert_int_equal(e.factor.otp_id, 9);
	assert_int_equal(PARSE(ra_parse_email_change,
	    "{\"email\":\"no-at-sign\",\"factor\":{\"type\":\"pin\","
	    "\"pin\":\"402917\"}}", &e), -1);
	assert_true(all_zero(&e, sizeof(e)));
	assert_int_equal(PARSE(ra_parse_phone_change,
	    "{\"phone\":\"+6281234567890\",\"factor\":{\"type\":\"pin\","
	    "\"pin\":\"402917\"}}", &p), 0);
	assert_string_equal(p.phone, "+6281234567890");
	assert_int_equal(PARSE(ra_parse_phone_change,
	    "{\"phone\":\"081234567890\",\"factor\":{\"type\":\"pin\","
	    "\"pin\":\"402917\"}}", &p), -1);
	assert_int_equal(PARSE(ra_parse_phone_change,
	    "{\"phone\":\"+6281234567890\",\"factor\":{\"type\":\"sms\"}}", &p),
	    -1);
	assert_true(all_zero(&p, sizeof(p)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_totp_bodies),
		cmocka_unit_test(test_password_body),
		cmocka_unit_test(test_email_phone_bodies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
