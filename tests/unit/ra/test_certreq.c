/*
 * ra/certreq.c: the subject's RFC 2253 string equals what OpenSSL prints
 * (XN_FLAG_RFC2253, as ca/certstore.c stores certificate.subject) for a
 * name built in cad's order, including values that need escaping; the
 * subscriber's revocation reasons; the request bodies' refusals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/x509.h>

#include "ra/extern.h"

/* OpenSSL's RFC 2253 string of C, serialNumber, CN (cad's order). */
static void
openssl_dn(const char *c, const char *sn, const char *cn, char *out,
    size_t outlen)
{
	X509_NAME *n = X509_NAME_new();
	BIO *b = BIO_new(BIO_s_mem());
	int len;

	assert_non_null(n);
	assert_non_null(b);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "C", MBSTRING_UTF8,
	    (const unsigned char *)c, -1, -1, 0), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "serialNumber",
	    MBSTRING_UTF8, (const unsigned char *)sn, -1, -1, 0), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0), 1);
	assert_true(X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0);
	len = BIO_read(b, out, (int)outlen - 1);
	assert_true(len > 0);
	out[len] = '\0';
	BIO_free(b);
	X509_NAME_free(n);
}

static void
check(const char *cn)
{
	char json[512], mine[512], theirs[512];
	json_t *o;
	char *s;

	o = json_pack("{s:s, s:s, s:s}", "C", "ID", "CN", cn, "serialNumber",
	    "NIK:3174011508900001");
	assert_non_null(o);
	s = json_dumps(o, JSON_COMPACT);
	assert_non_null(s);
	snprintf(json, sizeof(json), "%s", s);
	free(s);
	json_decref(o);
	assert_int_equal(ra_subject_dn(json, strlen(json), mine, sizeof(mine)),
	    0);
	openssl_dn("ID", "NIK:3174011508900001", cn, theirs, sizeof(theirs));
	assert_string_equal(mine, theirs);
}

static void
test_subject_dn(void **state)
{
	char out[64];

	(void)state;
	check("Budi Santoso");
	check("Budi, S.H.");
	check("O'Brien-Siregar");
	check("A \"quoted\" + <name>; \\ x");
	check("#1 leading hash");
	check(" leading and trailing space ");
	check("Siti Nurhaliz\xc3\xa1");
	/* Refusals: not an object, unknown attribute, non-string, too long. */
	assert_int_equal(ra_subject_dn("[]", 2, out, sizeof(out)), -1);
	assert_string_equal(out, "");
	assert_int_equal(ra_subject_dn("{\"X\":\"y\"}", 9, out, sizeof(out)),
	    -1);
	assert_int_equal(ra_subject_dn("{\"CN\":1}", 8, out, sizeof(out)), -1);
	assert_int_equal(ra_subject_dn("{}", 2, out, sizeof(out)), -1);
	assert_int_equal(ra_subject_dn("{\"CN\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", 75, out, sizeof(out)),
	    -1);
	assert_string_equal(out, "");
}

static void
test_reasons(void **state)
{
	struct ra_self_revoke_req r;
	char d[256];
	const char *ok = "{\"reason\":\"privilegeWithdrawn\",\"factor\":"
	    "{\"type\":\"pin\",\"pin\":\"135790\"}}";
	const char *kc = "{\"reason\":\"keyCompromise\",\"factor\":"
	    "{\"type\":\"pin\",\"pin\":\"135790\"}}";

	(void)state;
	assert_int_equal(ra_revocation_reason("unspecified"), 0);
	assert_int_equal(ra_revocation_reason("privilegeWithdrawn"), 9);
	assert_int_equal(ra_revocation_reason("keyCompromise"), -1);
	assert_int_equal(ra_revocation_reason("superseded"), -1);
	assert_int_equal(ra_revocation_reason(""), -1);
	assert_int_equal(ra_parse_self_revoke(ok, strlen(ok), &r, d, sizeof(d)), 0);
	assert_int_equal(r.reason, 9);
	assert_int_equal(r.factor.type, FACTOR_PIN);
	assert_int_equal(ra_parse_self_revoke(kc, strlen(kc), &r, d, sizeof(d)), -1);
	assert_non_null(strstr(d, "RFC 5280"));
	assert_null(strstr(d, "135790"));
}

#define TERMS	"0123456789abcdef0123456789abcdef" \
		"0123456789abcdef0123456789abcdef"

static void
test_agree(void **state)
{
	struct ra_agree_req r;
	char d[256];
	const char *ok = "{\"accept\":true,\"terms\":\"" TERMS "\","
	    "\"factor\":{\"type\":\"otp\",\"otp_id\":7,\"code\":\"246801\"}}";
	const char *no = "{\"accept\":false,\"terms\":\"" TERMS "\","
	    "\"factor\":{\"type\":\"otp\",\"otp_id\":7,\"code\":\"246801\"}}";
	const char *extra = "{\"accept\":true,\"terms\":\"" TERMS "\","
	    "\"factor\":{\"type\":\"otp\",\"otp_id\":7,\"code\":\"246801\"},"
	    "\"subject\":{}}";
	const char *str = "{\"accept\":\"true\",\"terms\":\"" TERMS "\","
	    "\"factor\":{\"type\":\"otp\",\"otp_id\":7,\"code\":\"246801\"}}";
	/* The preview's terms, exactly: none, short, long, capitals. */
	const char *bad_terms[] = {
		"{\"accept\":true,\"factor\":{\"type\":\"otp\",\"otp_id\":7,"
		    "\"code\":\"246801\"}}",
		"{\"accept\":true,\"terms\":\"0123\",\"factor\":{\"type\":"
		    "\"otp\",\"otp_id\":7,\"code\":\"246801\"}}",
		"{\"accept\":true,\"terms\":\"" TERMS "0\",\"factor\":{\"type\":"
		    "\"otp\",\"otp_id\":7,\"code\":\"246801\"}}",
		"{\"accept\":true,\"terms\":\"0123456789ABCDEF0123456789abcdef"
		    "0123456789abcdef0123456789abcdef\",\"factor\":{\"type\":"
		    "\"otp\",\"otp_id\":7,\"code\":\"246801\"}}",
		"{\"accept\":true,\"terms\":7,\"factor\":{\"type\":"
		    "\"otp\",\"otp_id\":7,\"code\":\"246801\"}}",
	};
	size_t i;

	(void)state;
	assert_int_equal(ra_parse_agree(ok, strlen(ok), &r, d, sizeof(d)), 0);
	assert_int_equal(r.factor.otp_id, 7);
	assert_string_equal(r.terms, TERMS);
	assert_int_equal(ra_parse_agree(no, strlen(no), &r, d, sizeof(d)), -1);
	assert_int_equal(ra_parse_agree(extra, strlen(extra), &r, d, sizeof(d)),
	    -1);
	assert_int_equal(ra_parse_agree(str, strlen(str), &r, d, sizeof(d)), -1);
	assert_null(strstr(d, "246801"));
	for (i = 0; i < sizeof(bad_terms) / sizeof(bad_terms[0]); i++) {
		assert_int_equal(ra_parse_agree(bad_terms[i],
		    strlen(bad_terms[i]), &r, d, sizeof(d)), -1);
		/* (jansson names no member for a wrong type) */
		if (i != 4)
			assert_non_null(strstr(d, "terms"));
		assert_null(strstr(d, "246801"));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subject_dn),
		cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_agree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
