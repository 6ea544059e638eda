/*
 * lib/publish.c publish_ca_dn: the directory entry of a CA from its
 * certificate's CN, RFC 4514 escaping, any ASN.1 string type, and the CNs
 * it must refuse (a NUL or control byte, which would cut or bend the DN).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "lib/publish.h"

/* A certificate whose subject is one CN of the given type and bytes. */
static X509 *
cert_cn(int type, const void *bytes, int len)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	assert_non_null(x);
	assert_non_null(n);
	assert_int_equal(X509_NAME_add_entry_by_NID(n, NID_commonName, type,
	    bytes, len, -1, 0), 1);
	assert_int_equal(X509_set_subject_name(x, n), 1);
	X509_NAME_free(n);
	return x;
}

static void
want_dn(int type, const void *cn, int len, const char *want)
{
	X509 *x = cert_cn(type, cn, len);
	char dn[256];

	assert_int_equal(publish_ca_dn("dc=pki,dc=local", x, dn, sizeof(dn)), 0);
	assert_string_equal(dn, want);
	X509_free(x);
}

static void
want_refused(int type, const void *cn, int len)
{
	X509 *x = cert_cn(type, cn, len);
	char dn[256];

	assert_int_equal(publish_ca_dn("dc=pki,dc=local", x, dn, sizeof(dn)),
	    -1);
	X509_free(x);
}

static void
test_escaping(void **state)
{
	(void)state;
	want_dn(MBSTRING_UTF8, "PKI Issuing CA 1", -1,
	    "cn=PKI Issuing CA 1,dc=pki,dc=local");
	want_dn(MBSTRING_UTF8, "A, B+C=D", -1,
	    "cn=A\\, B\\+C\\=D,dc=pki,dc=local");
	want_dn(MBSTRING_UTF8, "#lead and trail ", -1,
	    "cn=\\#lead and trail\\ ,dc=pki,dc=local");
	want_dn(MBSTRING_UTF8, " \"q\" <x>;\\", -1,
	    "cn=\\ \\\"q\\\" \\<x\\>\\;\\\\,dc=pki,dc=local");
}

/* A BMPString (UTF-16) CN is written as UTF-8, not as its raw bytes. */
static void
test_string_types(void **state)
{
	static const unsigned char bmp[] = { 0x00, 'C', 0x00, 'A', 0x00, 0xdc };

	(void)state;
	want_dn(V_ASN1_BMPSTRING, bmp, sizeof(bmp),
	    "cn=CA\xc3\x9c,dc=pki,dc=local");
	want_dn(MBSTRING_UTF8, "Otoritas Sertifikat \xc3\x9c", -1,
	    "cn=Otoritas Sertifikat \xc3\x9c,dc=pki,dc=local");
}

static void
test_refusals(void **state)
{
	X509 *x;
	char dn[256];

	(void)state;
	/* A NUL inside: the DN would end at "cn=Evil". */
	want_refused(V_ASN1_UTF8STRING, "Evil\0,dc=other", 14);
	want_refused(MBSTRING_UTF8, "line\nbreak", -1);
	want_refused(MBSTRING_UTF8, "del\x7f", -1);
	/* No CN, an empty base, a buffer too small. */
	x = X509_new();
	assert_non_null(x);
	assert_int_equal(publish_ca_dn("dc=x", x, dn, sizeof(dn)), -1);
	X509_free(x);
	x = cert_cn(MBSTRING_UTF8, "CA", -1);
	assert_int_equal(publish_ca_dn("", x, dn, sizeof(dn)), -1);
	assert_int_equal(publish_ca_dn("dc=pki,dc=local", x, dn, 12), -1);
	X509_free(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_string_types),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
