/*
 * ra/factor_request.c: the uniform 6-digit code (rejection sampling, no
 * modulo bias), the trivial-PIN rule, the factor object parser, and the
 * credential and documents of an OTP of purpose sign (POST /v1/otp).
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

/* 4294 × 10^6: the first draw that would bias the codes. */
#define LIMIT	4294000000U

static void
test_code_boundary(void **state)
{
	char c[RA_OTP_DIGITS + 1];

	(void)state;
	assert_int_equal(ra_otp_code_from(0, c), 0);
	assert_string_equal(c, "000000");
	assert_int_equal(ra_otp_code_from(1234567, c), 0);
	assert_string_equal(c, "234567");
	assert_int_equal(ra_otp_code_from(LIMIT - 1, c), 0);
	assert_string_equal(c, "999999");
	/* Every accepted value maps to exactly 4294 draws per code. */
	assert_int_equal(ra_otp_code_from(LIMIT, c), -1);
	assert_string_equal(c, "");
	assert_int_equal(ra_otp_code_from(UINT32_MAX, c), -1);
}

/*
 * 200,000 codes from RAND_bytes: 6 digits each; every decimal position has
 * each digit about 20,000 times (chi-square, 9 degrees of freedom, bound
 * 40: p < 1e-5 for a fair source).
 */
static void
test_code_uniform(void **state)
{
	static long n[RA_OTP_DIGITS][10];
	char c[RA_OTP_DIGITS + 1];
	double chi, e;
	int i, p, d, total = 200000;

	(void)state;
	for (i = 0; i < total; i++) {
		assert_int_equal(ra_otp_code_new(c), 0);
		assert_int_equal(strlen(c), RA_OTP_DIGITS);
		for (p = 0; p < RA_OTP_DIGITS; p++) {
			assert_true(c[p] >= '0' && c[p] <= '9');
			n[p][c[p] - '0']++;
		}
	}
	e = total / 10.0;
	for (p = 0; p < RA_OTP_DIGITS; p++) {
		chi = 0;
		for (d = 0; d < 10; d++)
			chi += (n[p][d] - e) * (n[p][d] - e) / e;
		if (chi >= 40.0)
			fail_msg("position %d: chi-square %.1f", p, chi);
	}
}

static void
test_pin_rule(void **state)
{
	static const char *bad[] = {
		"000000", "999999", "123456", "654321", "890123", "210987",
		"12345", "1234567", "12a456", "", " 40291",
	};
	static const char *good[] = {
		"402917", "580263", "112233", "121212", "013579", "123457",
	};
	char detail[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ra_pin_check(bad[i], detail, sizeof(detail)) != -1)
			fail_msg("PIN %s accepted", bad[i]);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (ra_pin_check(good[i], detail, sizeof(detail)) != 0)
			fail_msg("PIN %s refused: %s", good[i], detail);
}

static void
test_factor_parse(void **state)
{
	struct factor f;
	char detail[256];
	json_t *o;

	(void)state;
	o = json_pack("{s:s, s:i, s:s}", "type", "otp", "otp_id", 7, "code",
	    "012345");
	assert_int_equal(ra_factor_parse(o, &f, detail, sizeof(detail)), 0);
	assert_int_equal(f.type, FACTOR_OTP);
	assert_int_equal(f.otp_id, 7);
	assert_string_equal(f.secret, "012345");
	json_decref(o);
	o = json_pack("{s:s, s:s, s:i}", "type", "pin", "pin", "402917", "x", 1);
	assert_int_equal(ra_factor_parse(o, &f, detail, sizeof(detail)), -1);
	assert_non_null(strstr(detail, "x"));
	assert_null(strstr(detail, "402917"));
	json_decref(o);
	o = json_pack("{s:s, s:i, s:s}", "type", "otp", "otp_id", 0, "code",
	    "012345");
	assert_int_equal(ra_factor_parse(o, &f, detail, sizeof(detail)), -1);
	json_decref(o);
	o = json_pack("{s:s, s:s}", "type", "totp", "code", "12345");
	assert_int_equal(ra_factor_parse(o, &f, detail, sizeof(detail)), -1);
	json_decref(o);
	o = json_pack("{s:s, s:s}", "type", "totp", "code", "123456");
	assert_int_equal(ra_factor_parse(o, &f, detail, sizeof(detail)), 0);
	assert_int_equal(f.type, FACTOR_TOTP);
	json_decref(o);
	assert_int_equal(ra_factor_parse(NULL, &f, detail, sizeof(detail)), -1);
}

/*
 * base64 of SHA-256("a") and ("b"); their binding for credential 5
 * (tests/unit/lib/test_factor.c), and for credential 12:
 * hashlib.sha256(b"pki-sign-binding-v2|12|SHA256|2|" + ...)[:8].
 */
#define H_A	"ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs="
#define H_B	"PiPoFgA5WUoziU9lZOGxNIu9egCI1CxKy3PurtWcAJ0="
#define BINDING_AB_REF	"F411-5BC3-1631-30F1"
#define BINDING_AB12_REF "3F23-17A7-CF93-7F08"
#define SIGN_OTP(cred)	"{\"channel\":\"sms\",\"purpose\":\"sign\"," \
			"\"credential_id\":" cred ","

static int
otp_parse(const char *body, struct ra_otp_req *r, char *detail)
{
	return ra_parse_otp_request(body, strlen(body), r, detail, 256);
}

static void
test_otp_documents(void **state)
{
	struct ra_otp_req r;
	char detail[256], ref[FACTOR_BINDING_REF_SIZE];

	(void)state;
	assert_int_equal(otp_parse(SIGN_OTP("\"5\"") "\"hash_algo\":"
	    "\"sha256\",\"hashes\":[\"" H_B "\",\"" H_A "\"]}", &r, detail),
	    0);
	assert_int_equal(r.documents, 2);
	assert_string_equal(r.credential, "5");
	factor_binding_ref(r.binding, ref);
	assert_string_equal(ref, BINDING_AB_REF);
	/* The same documents for another credential: another binding. */
	assert_int_equal(otp_parse(SIGN_OTP("\"12\"") "\"hash_algo\":"
	    "\"sha256\",\"hashes\":[\"" H_B "\",\"" H_A "\"]}", &r, detail),
	    0);
	assert_string_equal(r.credential, "12");
	factor_binding_ref(r.binding, ref);
	assert_string_equal(ref, BINDING_AB12_REF);
	/* A sign code without its documents, or without its credential. */
	assert_int_equal(otp_parse("{\"channel\":\"sms\",\"purpose\":"
	    "\"sign\"}", &r, detail), -1);
	assert_non_null(strstr(detail, "required"));
	assert_true(all_zero(&r, sizeof(r)));
	assert_int_equal(otp_parse("{\"channel\":\"sms\",\"purpose\":"
	    "\"sign\",\"hashes\":[\"" H_A "\"]}", &r, detail), -1);
	assert_int_equal(otp_parse("{\"channel\":\"sms\",\"purpose\":"
	    "\"sign\",\"hash_algo\":\"sha256\",\"hashes\":[\"" H_A "\"]}",
	    &r, detail), -1);
	assert_non_null(strstr(detail, "credential_id"));
	assert_true(all_zero(&r, sizeof(r)));
	/* A credentialID as signd takes it: a string of 1..18 digits. */
	assert_int_equal(otp_parse(SIGN_OTP("5") "\"hash_algo\":\"sha256\","
	    "\"hashes\":[\"" H_A "\"]}", &r, detail), -1);
	assert_non_null(strstr(detail, "credential_id"));
	assert_int_equal(otp_parse(SIGN_OTP("\"05\"") "\"hash_algo\":"
	    "\"sha256\",\"hashes\":[\"" H_A "\"]}", &r, detail), -1);
	assert_int_equal(otp_parse(SIGN_OTP("\"\"") "\"hash_algo\":"
	    "\"sha256\",\"hashes\":[\"" H_A "\"]}", &r, detail), -1);
	assert_int_equal(otp_parse(SIGN_OTP("\"5 \"") "\"hash_algo\":"
	    "\"sha256\",\"hashes\":[\"" H_A "\"]}", &r, detail), -1);
	assert_int_equal(otp_parse(SIGN_OTP("\"1234567890123456789\"")
	    "\"hash_algo\":\"sha256\",\"hashes\":[\"" H_A "\"]}", &r,
	    detail), -1);
	assert_int_equal(otp_parse(SIGN_OTP("\"123456789012345678\"")
	    "\"hash_algo\":\"sha256\",\"hashes\":[\"" H_A "\"]}", &r,
	    detail), 0);
	/* Documents or a credential for another purpose. */
	assert_int_equal(otp_parse("{\"channel\":\"sms\",\"purpose\":"
	    "\"revoke\",\"hash_algo\":\"sha256\",\"hashes\":[\"" H_A
	    "\"]}", &r, detail), -1);
	assert_non_null(strstr(detail, "only with purpose sign"));
	assert_int_equal(otp_parse("{\"channel\":\"sms\",\"purpose\":"
	    "\"revoke\",\"credential_id\":\"5\"}", &r, detail), -1);
	assert_non_null(strstr(detail, "only with purpose sign"));
	assert_int_equal(otp_parse("{\"channel\":\"sms\",\"purpose\":"
	    "\"revoke\"}", &r, detail), 0);
	assert_int_equal(r.documents, 0);
	/* A hash of the wrong length, a duplicate, an unknown algorithm,
	 * none, not base64, an empty array. */
	assert_int_equal(otp_parse(SIGN_OTP("\"5\"") "\"hash_algo\":\"sha384\","
	    "\"hashes\":[\"" H_A "\"]}", &r, detail), -1);
	assert_non_null(strstr(detail, "48-byte"));
	assert_int_equal(otp_parse(SIGN_OTP("\"5\"")
	    "\"hash_algo\":\"sha256\",\"hashes\":[\"" H_A "\",\""
	    H_A "\"]}", &r, detail), -1);
	assert_non_null(strstr(detail, "equal"));
	assert_int_equal(otp_parse(SIGN_OTP("\"5\"")
	    "\"hash_algo\":\"md5\",\"hashes\":[\"" H_A "\"]}",
	    &r, detail), -1);
	assert_int_equal(otp_parse(SIGN_OTP("\"5\"")
	    "\"hash_algo\":\"sha256\",\"hashes\":[]}", &r,
	    detail), -1);
	assert_int_equal(otp_parse(SIGN_OTP("\"5\"")
	    "\"hash_algo\":\"sha256\",\"hashes\":[\"!!!!\"]}",
	    &r, detail), -1);
	assert_int_equal(otp_parse(SIGN_OTP("\"5\"")
	    "\"hash_algo\":\"sha256\",\"hashes\":\"" H_A "\"}",
	    &r, detail), -1);
	assert_true(all_zero(&r, sizeof(r)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_code_boundary),
		cmocka_unit_test(test_code_uniform),
		cmocka_unit_test(test_pin_rule),
		cmocka_unit_test(test_factor_parse),
		cmocka_unit_test(test_otp_documents),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
