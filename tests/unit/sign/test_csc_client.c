/*
 * The CSC client's answer parsers (sign/csc_client.c): strict base64
 * (padding, alphabet, non-canonical bits), CSC error answers turned into
 * messages that never carry the caller's secrets, tokens, SADs (nor does a
 * broken answer's parse error), signatures (count and size) and
 * credentials/info (chain, key type, status).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "sign/csc_client.h"

#define S(x)	(const unsigned char *)(x), strlen(x)

static void
test_b64(void **state)
{
	unsigned char *out;
	size_t len;

	assert_int_equal(cscc_b64_decode("QUJDRA==", &out, &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(out, "ABCD", 4);
	free(out);
	assert_int_equal(cscc_b64_decode("QUJD", &out, &len), 0);
	assert_int_equal(len, 3);
	free(out);
	assert_int_equal(cscc_b64_decode("QUJDRA=", &out, &len), -1);
	assert_int_equal(cscc_b64_decode("QUJDRB==", &out, &len), -1);
	assert_int_equal(cscc_b64_decode("QU=D", &out, &len), -1);
	assert_int_equal(cscc_b64_decode("QUJ-", &out, &len), -1);
	assert_int_equal(cscc_b64_decode("====", &out, &len), -1);
	assert_int_equal(cscc_b64_decode("", &out, &len), -1);
	assert_null(out);
}

static void
test_error(void **state)
{
	const char *avoid[] = { "402917", NULL };
	char msg[256];

	cscc_parse_error(400, S("{\"error\":\"invalid_pin\","
	    "\"error_description\":\"Invalid PIN\"}"), avoid, msg, sizeof(msg));
	assert_string_equal(msg, "HTTP 400, invalid_pin: Invalid PIN");
	cscc_parse_error(400, S("{\"error\":\"invalid_pin\","
	    "\"error_description\":\"PIN 402917 is wrong\"}"), avoid, msg,
	    sizeof(msg));
	assert_null(strstr(msg, "402917"));
	assert_non_null(strstr(msg, "invalid_pin"));
	cscc_parse_error(502, S("<html>402917</html>"), avoid, msg,
	    sizeof(msg));
	assert_string_equal(msg, "HTTP 502 (not a CSC error answer)");
	cscc_parse_error(400, S("{\"error\":\"x\\u0007y\"}"), NULL, msg,
	    sizeof(msg));
	assert_string_equal(msg, "HTTP 400, x?y");
}

static void
test_token_sad(void **state)
{
	char err[256], *s;

	assert_int_equal(cscc_parse_token(S("{\"access_token\":\"abc_-9\","
	    "\"token_type\":\"Bearer\",\"expires_in\":600}"), &s, err,
	    sizeof(err)), 0);
	assert_string_equal(s, "abc_-9");
	cscc_free_secret(s);
	assert_int_equal(cscc_parse_token(S("{\"access_token\":\"a b\","
	    "\"token_type\":\"Bearer\"}"), &s, err, sizeof(err)), CSCC_ERR);
	assert_int_equal(cscc_parse_token(S("{\"access_token\":\"ab\","
	    "\"token_type\":\"mac\"}"), &s, err, sizeof(err)), CSCC_ERR);
	assert_int_equal(cscc_parse_token(S("{\"access_token\":\"ab\","
	    "\"access_token\":\"cd\",\"token_type\":\"Bearer\"}"), &s, err,
	    sizeof(err)), CSCC_ERR);
	assert_int_equal(cscc_parse_authorize(S("{\"SAD\":\"xyz\","
	    "\"expiresIn\":300}"), &s, err, sizeof(err)), 0);
	assert_string_equal(s, "xyz");
	cscc_free_secret(s);
	assert_int_equal(cscc_parse_authorize(S("{\"SAD\":\"\"}"), &s, err,
	    sizeof(err)), CSCC_ERR);
	assert_null(s);
}

/*
 * A truncated or broken token or authorize answer: jansson's message
 * quotes the text near the error, the secret; ours gives the position.
 */
static void
test_truncated_secret(void **state)
{
	const char *bodies[] = {
		"{\"access_token\":\"Tok3nPartOne",
		"{\"access_token\":\"Tok3nPartOne\\u",
		"{\"SAD\":\"Tok3nPartOne",
		"{\"SAD\":\"Tok3nPartOne\x01\"}",
		"{\"SAD\":\"Tok3nPartOne\"",
	};
	char err[256], *s;
	size_t i;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		err[0] = '\0';
		if (i < 2)
			assert_int_equal(cscc_parse_token(S(bodies[i]), &s, err,
			    sizeof(err)), CSCC_ERR);
		else
			assert_int_equal(cscc_parse_authorize(S(bodies[i]), &s,
			    err, sizeof(err)), CSCC_ERR);
		assert_null(s);
		if (strstr(err, "Tok3n") != NULL || strstr(err, "PartOne") !=
		    NULL || strstr(err, "error at byte") == NULL)
			fail_msg("body %zu: %s", i, err);
	}
}

static void
test_signatures(void **state)
{
	unsigned char *sigs[2];
	size_t lens[2];
	char err[256];

	assert_int_equal(cscc_parse_signatures(S("{\"signatures\":[\"AAE=\","
	    "\"AAEC\"]}"), 2, sigs, lens, err, sizeof(err)), 0);
	assert_int_equal(lens[0], 2);
	assert_int_equal(lens[1], 3);
	free(sigs[0]);
	free(sigs[1]);
	assert_int_equal(cscc_parse_signatures(S("{\"signatures\":[\"AAE=\"]}"),
	    2, sigs, lens, err, sizeof(err)), CSCC_ERR);
	assert_int_equal(cscc_parse_signatures(S("{\"signatures\":[\"AAE=\","
	    "\"!!!!\"]}"), 2, sigs, lens, err, sizeof(err)), CSCC_ERR);
	assert_null(sigs[0]);
}

static void
test_info(void **state)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	unsigned char *der = NULL;
	char body[8192], b64[2048], err[256];
	struct cscc_cred cr;
	int n;

	assert_non_null(k);
	X509_set_pubkey(x, k);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 60);
	assert_int_not_equal(X509_sign(x, k, EVP_sha256()), 0);
	n = i2d_X509(x, &der);
	assert_true(n > 0);
	EVP_EncodeBlock((unsigned char *)b64, der, n);
	snprintf(body, sizeof(body), "{\"key\":{\"status\":\"enabled\","
	    "\"algo\":[\"1.2.840.10045.2.1\"]},\"cert\":{\"status\":\"valid\","
	    "\"certificates\":[\"%s\",\"%s\"]},\"SCAL\":\"2\"}", b64, b64);
	assert_int_equal(cscc_parse_info(S(body), &cr, err, sizeof(err)), 0);
	assert_int_equal(cr.ec, 1);
	assert_int_equal(sk_X509_num(cr.chain), 2);
	assert_int_equal(X509_cmp(cr.cert, x), 0);
	assert_string_equal(cr.status, "valid");
	cscc_cred_clear(&cr);
	snprintf(body, sizeof(body), "{\"key\":{\"status\":\"disabled\","
	    "\"algo\":[]},\"cert\":{\"status\":\"valid\",\"certificates\":"
	    "[\"%s\"]}}", b64);
	assert_int_equal(cscc_parse_info(S(body), &cr, err, sizeof(err)), 0);
	assert_string_equal(cr.status, "key disabled");
	cscc_cred_clear(&cr);
	assert_int_equal(cscc_parse_info(S("{\"key\":{\"algo\":[]},\"cert\":"
	    "{\"status\":\"valid\",\"certificates\":[\"AAAA\"]}}"), &cr, err,
	    sizeof(err)), CSCC_ERR);
	assert_null(cr.chain);
	assert_int_equal(cscc_parse_info(S("{\"key\":{\"algo\":[]},\"cert\":"
	    "{\"status\":\"valid\",\"certificates\":[]}}"), &cr, err,
	    sizeof(err)), CSCC_ERR);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_error),
		cmocka_unit_test(test_token_sad),
		cmocka_unit_test(test_truncated_secret),
		cmocka_unit_test(test_signatures),
		cmocka_unit_test(test_info),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
