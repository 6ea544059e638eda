/*
 * Known answers for the decoders under signd's CSC parsers
 * (hsm/signd/csc_request.c): strict base64 (hashes, HTTP Basic), the
 * 256-bit base64url of SADs and tokens, and the OAuth form value decoder
 * (RFC 6749 Appendix B). The fuzz harness only shows they do not crash;
 * these show they accept exactly the canonical encodings. The sources are
 * included so that the static csc_form_value() can be called (as
 * tests/unit/ocsp/test_responder.c does).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hsm/signd/csc_request.c"
#include "hsm/signd/sam_proto.c"

/* s decodes (standard alphabet, padded) to exactly want (wantlen bytes). */
static void
b64_is(const char *s, const char *want, size_t wantlen)
{
	unsigned char out[64];
	size_t n = 99;

	if (csc_b64_decode(s, strlen(s), out, sizeof(out), &n) != 0)
		fail_msg("\"%s\" refused", s);
	assert_int_equal(n, wantlen);
	assert_memory_equal(out, want, wantlen);
}

static void
b64_refused(const char *s)
{
	unsigned char out[64];
	size_t n = 99;

	if (csc_b64_decode(s, strlen(s), out, sizeof(out), &n) != -1)
		fail_msg("\"%s\" accepted", s);
	assert_int_equal(n, 0);
}

static void
test_b64(void **state)
{
	unsigned char out[8];
	size_t n;

	(void)state;
	/* RFC 4648 §10. */
	b64_is("", "", 0);
	b64_is("Zg==", "f", 1);
	b64_is("Zm8=", "fo", 2);
	b64_is("Zm9v", "foo", 3);
	b64_is("Zm9vYg==", "foob", 4);
	b64_is("Zm9vYmE=", "fooba", 5);
	b64_is("Zm9vYmFy", "foobar", 6);
	/* The standard alphabet's 62 and 63, not base64url's. */
	b64_is("+/8=", "\xfb\xff", 2);
	b64_refused("-_8=");
	/* Padding: required, exact, only at the end (RFC 4648 §3.2). */
	b64_refused("Zg");
	b64_refused("Zg=");
	b64_refused("Zg===");
	b64_refused("Zm8");
	b64_refused("Zm9vY===");
	b64_refused("Z===");
	b64_refused("====");
	b64_refused("Zg==Zg==");
	b64_refused("=Zm9");
	/* Non-canonical: the unused trailing bits must be zero (§3.5). */
	b64_refused("Zh==");
	b64_refused("Zm9=");
	b64_refused("Zm9vYh==");
	/* Nothing outside the alphabet, no white space. */
	b64_refused("Zm9v\n");
	b64_refused("Zm9 ");
	b64_refused("Zm9v\n===");
	assert_int_equal(csc_b64_decode("Zm\0v", 4, out, sizeof(out), &n), -1);
	/* The output cap is a cap, not a truncation. */
	assert_int_equal(csc_b64_decode("Zm9vYmFy", 8, out, 5, &n), -1);
	assert_int_equal(csc_b64_decode("Zm9vYmFy", 8, out, 6, &n), 0);
	assert_int_equal(n, 6);
}

static void
test_b64url32(void **state)
{
	unsigned char in[32], out[32];
	char s[44], bad[64];
	int i;

	(void)state;
	/* 32 zero bytes: 43 'A's; 32 0xff: 42 '_' and '8' (4 bits + 00). */
	memset(s, 'A', 43);
	s[43] = '\0';
	assert_int_equal(csc_b64url32_decode(s, out), 0);
	memset(in, 0, sizeof(in));
	assert_memory_equal(out, in, 32);
	memset(s, '_', 42);
	s[42] = '8';
	assert_int_equal(csc_b64url32_decode(s, out), 0);
	memset(in, 0xff, sizeof(in));
	assert_memory_equal(out, in, 32);
	csc_b64url32_encode(in, bad);
	assert_string_equal(bad, s);
	/* Trailing bits not zero: '9' (111101), '_'. */
	s[42] = '9';
	assert_int_equal(csc_b64url32_decode(s, out), -1);
	s[42] = '_';
	assert_int_equal(csc_b64url32_decode(s, out), -1);
	/* The standard alphabet, padding, a length other than 43. */
	s[42] = '8';
	s[0] = '/';
	assert_int_equal(csc_b64url32_decode(s, out), -1);
	s[0] = '+';
	assert_int_equal(csc_b64url32_decode(s, out), -1);
	s[0] = '_';
	snprintf(bad, sizeof(bad), "%s=", s);
	assert_int_equal(csc_b64url32_decode(bad, out), -1);
	snprintf(bad, sizeof(bad), "%.42s", s);
	assert_int_equal(csc_b64url32_decode(bad, out), -1);
	/* Round trips. */
	for (i = 0; i < 32; i++)
		in[i] = (unsigned char)(i * 37 + 11);
	csc_b64url32_encode(in, s);
	assert_int_equal(strlen(s), 43);
	assert_int_equal(csc_b64url32_decode(s, out), 0);
	assert_memory_equal(out, in, 32);
}

static void
form_is(const char *s, const char *want)
{
	char out[32];

	if (csc_form_value(s, strlen(s), out, sizeof(out)) != 0)
		fail_msg("\"%s\" refused", s);
	assert_string_equal(out, want);
}

static void
form_refused(const char *s)
{
	char out[32];

	if (csc_form_value(s, strlen(s), out, sizeof(out)) != -1)
		fail_msg("\"%s\" accepted", s);
}

static void
test_form_value(void **state)
{
	struct csc_token_req t;
	char out[4], detail[256] = "";
	int unsupported;

	(void)state;
	form_is("", "");
	form_is("client_credentials", "client_credentials");
	form_is("a+b", "a b");
	form_is("%41%62", "Ab");
	form_is("%2f%2F", "//");
	form_is("%25", "%");
	form_is("%2B+", "+ ");
	form_is("%C3%A9", "\xc3\xa9");
	/* A truncated or non-hex escape, a NUL, raw separators or spaces. */
	form_refused("%");
	form_refused("%4");
	form_refused("a%4");
	form_refused("%4g");
	form_refused("%g4");
	form_refused("%00");
	form_refused("a b");
	form_refused("a\tb");
	form_refused("a&b");
	form_refused("a=b");
	/* The cap counts the NUL. */
	assert_int_equal(csc_form_value("abc", 3, out, 4), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(csc_form_value("abcd", 4, out, 4), -1);
	assert_int_equal(csc_form_value("%41%42%43", 9, out, 4), 0);
	assert_string_equal(out, "ABC");
	/* RFC 6749 §2.3.1: id and secret are form-encoded inside Basic too. */
	if (csc_parse_token("grant_type=client_credentials", 29,
	    "Basic aWQlM0F4OnNlYytyZXQ=", &t, &unsupported, detail,
	    sizeof(detail)) != 0)
		fail_msg("Basic id%%3Ax:sec+ret: %s", detail);
	assert_string_equal(t.client_id, "id:x");
	assert_string_equal(t.client_secret, "sec ret");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_b64url32),
		cmocka_unit_test(test_form_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
