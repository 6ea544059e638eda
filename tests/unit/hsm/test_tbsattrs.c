/*
 * The signer's streaming SignedAttributes check (hsm/tbsattrs.c) against
 * the decoding it replaced (a STACK_OF X509_ATTRIBUTE from OpenSSL, kept
 * here as the reference): what OpenSSL writes for a time-stamp token and
 * for CMS passes; each required attribute missing, twice, with two values
 * or of the wrong type is refused with the same words as before; the
 * content type must be id-ct-TSTInfo for a time-stamp only; BER forms,
 * trailing bytes and an empty SET are refused; and no truncation or byte
 * changed anywhere is accepted that the reference refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "hsm/extern.h"

/* The check before hsm/tbsattrs.c: 0 when OpenSSL's decoding accepts. */
static int
reference_check(const unsigned char *tbs, size_t len, int tstinfo)
{
	const unsigned char *p = tbs;
	STACK_OF(X509_ATTRIBUTE) *attrs;
	X509_ATTRIBUTE *a;
	ASN1_TYPE *v[2];
	static const int nids[2] = { NID_pkcs9_contentType,
	    NID_pkcs9_messageDigest };
	int i, k, rc = -1;

	attrs = (STACK_OF(X509_ATTRIBUTE) *)ASN1_item_d2i(NULL, &p, (long)len,
	    ASN1_ITEM_rptr(PKCS7_ATTR_SIGN));
	if (attrs == NULL || p != tbs + len)
		goto out;
	for (k = 0; k < 2; k++) {
		if ((i = X509at_get_attr_by_NID(attrs, nids[k], -1)) < 0 ||
		    X509at_get_attr_by_NID(attrs, nids[k], i) >= 0)
			goto out;
		a = X509at_get_attr(attrs, i);
		if (X509_ATTRIBUTE_count(a) != 1 ||
		    (v[k] = X509_ATTRIBUTE_get0_type(a, 0)) == NULL)
			goto out;
	}
	if (v[0]->type != V_ASN1_OBJECT || v[1]->type != V_ASN1_OCTET_STRING)
		goto out;
	if (tstinfo && OBJ_obj2nid(v[0]->value.object) !=
	    NID_id_smime_ct_TSTInfo)
		goto out;
	rc = 0;
out:
	ERR_clear_error();
	sk_X509_ATTRIBUTE_pop_free(attrs, X509_ATTRIBUTE_free);
	return rc;
}

static int
check(const unsigned char *tbs, size_t len, int tstinfo, char *err,
    size_t errlen)
{
	err[0] = '\0';
	return signer_attrs_check(tbs, len, tstinfo, err, errlen);
}

/*
 * SignedAttributes as OpenSSL writes them (DER SET OF, sorted): content
 * type ct (a NID), a 32-octet message digest, signingTime, and with extra
 * an attribute of another type with two values. ct 0: none.
 */
static unsigned char *
make_attrs(int ct, int md, int extra, size_t *len)
{
	STACK_OF(X509_ATTRIBUTE) *sk = NULL;
	X509_ATTRIBUTE *a;
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	ASN1_UTCTIME *t = ASN1_UTCTIME_set(NULL, 1767225600);
	ASN1_INTEGER *one = ASN1_INTEGER_new(), *two = ASN1_INTEGER_new();
	unsigned char dg[32], *der = NULL;
	int n;

	memset(dg, 0x5c, sizeof(dg));
	assert_non_null(os);
	assert_non_null(t);
	assert_int_equal(ASN1_OCTET_STRING_set(os, dg, sizeof(dg)), 1);
	if (ct != 0)
		assert_non_null(X509at_add1_attr_by_NID(&sk,
		    NID_pkcs9_contentType, V_ASN1_OBJECT,
		    (const unsigned char *)OBJ_nid2obj(ct), -1));
	if (md)
		assert_non_null(X509at_add1_attr_by_NID(&sk,
		    NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING,
		    ASN1_STRING_get0_data(os), ASN1_STRING_length(os)));
	assert_non_null(X509at_add1_attr_by_NID(&sk, NID_pkcs9_signingTime,
	    V_ASN1_UTCTIME, (const unsigned char *)t, -1));
	if (extra) {
		ASN1_INTEGER_set(one, 1);
		ASN1_INTEGER_set(two, 2);
		a = X509_ATTRIBUTE_create(NID_pkcs9_challengePassword,
		    V_ASN1_INTEGER, one);
		assert_non_null(a);
		one = NULL;	/* owned by a */
		assert_int_equal(X509_ATTRIBUTE_set1_data(a, V_ASN1_INTEGER,
		    two, -1), 1);
		assert_non_null(X509at_add1_attr(&sk, a));
		X509_ATTRIBUTE_free(a);
	}
	n = ASN1_item_i2d((ASN1_VALUE *)sk, &der,
	    ASN1_ITEM_rptr(PKCS7_ATTR_SIGN));
	assert_true(n > 0);
	*len = (size_t)n;
	sk_X509_ATTRIBUTE_pop_free(sk, X509_ATTRIBUTE_free);
	ASN1_OCTET_STRING_free(os);
	ASN1_UTCTIME_free(t);
	ASN1_INTEGER_free(one);
	ASN1_INTEGER_free(two);
	return der;
}

static void
expect(const unsigned char *p, size_t len, int tstinfo, const char *want)
{
	char err[512];
	int rc = check(p, len, tstinfo, err, sizeof(err));

	if (want == NULL) {
		if (rc != 0)
			fail_msg("refused: %s", err);
		assert_int_equal(reference_check(p, len, tstinfo), 0);
		return;
	}
	if (rc != -1)
		fail_msg("accepted, want a refusal saying \"%s\"", want);
	if (strstr(err, want) == NULL)
		fail_msg("refusal \"%s\" does not say \"%s\"", err, want);
}

/* What producers write passes, for the kind that allows it. */
static void
test_accepts_what_openssl_writes(void **state)
{
	unsigned char *der;
	size_t len;

	(void)state;
	der = make_attrs(NID_id_smime_ct_TSTInfo, 1, 0, &len);
	expect(der, len, 1, NULL);
	expect(der, len, 0, NULL);
	OPENSSL_free(der);
	der = make_attrs(NID_pkcs7_data, 1, 1, &len);
	expect(der, len, 0, NULL);
	expect(der, len, 1, "content type is not id-ct-TSTInfo");
	OPENSSL_free(der);
}

/* Each required attribute missing, twice or with the wrong value. */
static void
test_required_attributes(void **state)
{
	unsigned char *der, *bad;
	size_t len, i;

	(void)state;
	der = make_attrs(0, 1, 0, &len);
	expect(der, len, 0, "no content-type attribute");
	OPENSSL_free(der);
	der = make_attrs(NID_pkcs7_data, 0, 0, &len);
	expect(der, len, 0, "no message-digest attribute");
	OPENSSL_free(der);

	/* The message digest's OCTET STRING (04 20) made an INTEGER. */
	der = make_attrs(NID_pkcs7_data, 1, 0, &len);
	bad = OPENSSL_memdup(der, len);
	for (i = 0; i + 1 < len && !(bad[i] == 0x04 && bad[i + 1] == 0x20); i++)
		;
	assert_true(i + 1 < len);
	bad[i] = 0x02;
	expect(bad, len, 0, "malformed message-digest attribute");
	assert_int_equal(reference_check(bad, len, 0), -1);
	OPENSSL_free(bad);
	OPENSSL_free(der);
}

/* Hand-made forms: the OIDs' contents octets as the module writes them. */
#define CT	"06092a864886f70d010903"
#define MD	"06092a864886f70d010904"
#define TST	"060b2a864886f70d0109100104"
#define ST	"06092a864886f70d010905"
#define UTC	"170d" "3236313230363132303030305a"	/* 261206120000Z */
#define DG	"0420" "5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c"

static size_t
unhex(const char *hex, unsigned char *out, size_t cap)
{
	unsigned int v;
	size_t n = 0;

	for (; hex[0] != '\0' && hex[1] != '\0' && n < cap; hex += 2) {
		assert_int_equal(sscanf(hex, "%2x", &v), 1);
		out[n++] = (unsigned char)v;
	}
	return n;
}

static void
expect_hex(const char *hex, int tstinfo, const char *want)
{
	unsigned char b[512];

	expect(b, unhex(hex, b, sizeof(b)), tstinfo, want);
}

static void
test_der_forms(void **state)
{
	(void)state;
	/* SET { SEQ { ct, SET { tst } }, SEQ { md, SET { OCTET STRING } } } */
	expect_hex("314d" "301a" CT "310d" TST "302f" MD "3122" DG, 1, NULL);
	/* The same with a long-form length where the short one fits (BER). */
	expect_hex("31814d" "301a" CT "310d" TST "302f" MD "3122" DG, 1,
	    "do not decode");
	/* Indefinite length (BER). */
	expect_hex("3180" "301a" CT "310d" TST "302f" MD "3122" DG "0000", 1,
	    "do not decode");
	/* Trailing bytes, an empty SET, a SEQUENCE instead of the SET. */
	expect_hex("314d" "301a" CT "310d" TST "302f" MD "3122" DG "00", 1,
	    "1 trailing bytes");
	expect_hex("3100", 1, "do not decode");
	expect_hex("304d" "301a" CT "310d" TST "302f" MD "3122" DG, 1,
	    "do not decode");
	/* The content type twice; with two values; not an OID. */
	expect_hex("3169" "301a" CT "310d" TST "301a" CT "310d" TST
	    "302f" MD "3122" DG, 1, "malformed content-type attribute");
	expect_hex("315a" "3027" CT "311a" TST TST "302f" MD "3122" DG, 1,
	    "malformed content-type attribute");
	expect_hex("314d" "301a" CT "310d" "040b2a864886f70d0109100104"
	    "302f" MD "3122" DG, 1, "malformed content-type attribute");
	/* The message digest twice; with no value. */
	expect_hex("317e" "301a" CT "310d" TST "302f" MD "3122" DG
	    "302f" MD "3122" DG, 1, "malformed message-digest attribute");
	expect_hex("312b" "301a" CT "310d" TST "300d" MD "3100", 1,
	    "malformed message-digest attribute");
	/* An attribute with no values (allowed: not one we need). */
	expect_hex("315c" "301a" CT "310d" TST "302f" MD "3122" DG
	    "300d" "06092a864886f70d010907" "3100", 1, NULL);
	/*
	 * signingTime (RFC 5652 §11.3), for CMS as for a time-stamp: once,
	 * with one value, a UTCTime through 2049 in RFC 5280's form.
	 */
	expect_hex("316b" "301a" CT "310d" TST "302f" MD "3122" DG
	    "301c" ST "310f" UTC, 0, NULL);
	expect_hex("315c" "301a" CT "310d" TST "302f" MD "3122" DG
	    "300d" ST "3100", 1, "malformed signing-time attribute");
	expect_hex("317a" "301a" CT "310d" TST "302f" MD "3122" DG
	    "302b" ST "311e" UTC UTC, 0, "malformed signing-time attribute");
	expect_hex("318189" "301a" CT "310d" TST "302f" MD "3122" DG
	    "301c" ST "310f" UTC "301c" ST "310f" UTC, 0,
	    "more than one signing-time attribute");
	expect_hex("316d" "301a" CT "310d" TST "302f" MD "3122" DG
	    "301e" ST "3111" "180f" "32303236313230363132303030305a", 1,
	    "malformed signing-time attribute");
	expect_hex("316b" "301a" CT "310d" TST "302f" MD "3122" DG
	    "301c" ST "310f" "040d" "3236313230363132303030305a", 0,
	    "malformed signing-time attribute");
	/* 2050 and later: GeneralizedTime. */
	expect_hex("316d" "301a" CT "310d" TST "302f" MD "3122" DG
	    "301e" ST "3111" "180f" "32303530303130313030303030305a", 1, NULL);
	/* Something after the values inside an Attribute. */
	expect_hex("314f" "301c" CT "310d" TST "0500" "302f" MD "3122" DG, 1,
	    "do not decode");
	/* A value with a high tag number (X.690 §8.1.2.4). */
	expect_hex("315f" "301a" CT "310d" TST "302f" MD "3122" DG
	    "3010" "06092a864886f70d010905" "3103" "1f2200", 1,
	    "do not decode");
	/* An OID whose last subidentifier does not end. */
	expect_hex("314d" "301a" "06092a864886f70d010983" "310d" TST
	    "302f" MD "3122" DG, 1, "do not decode");
}

/*
 * Every truncation and every octet changed (three ways) of valid attributes:
 * never accepted where the reference refuses, nothing crashes.
 */
static void
test_never_looser_than_openssl(void **state)
{
	static const unsigned char flips[] = { 0x01, 0x80, 0xff };
	unsigned char *der, *m;
	char err[512];
	size_t len, i, k;
	int tst, accepted = 0;

	(void)state;
	der = make_attrs(NID_id_smime_ct_TSTInfo, 1, 1, &len);
	m = malloc(len);
	assert_non_null(m);
	for (tst = 0; tst < 2; tst++) {
		for (i = 0; i < len; i++)
			if (check(der, i, tst, err, sizeof(err)) == 0)
				fail_msg("a truncation to %zu of %zu octets "
				    "passed", i, len);
		for (i = 0; i < len; i++)
			for (k = 0; k < sizeof(flips); k++) {
				memcpy(m, der, len);
				m[i] ^= flips[k];
				if (check(m, len, tst, err, sizeof(err)) != 0)
					continue;
				accepted++;
				if (reference_check(m, len, tst) != 0)
					fail_msg("octet %zu ^ %#x: accepted, "
					    "OpenSSL's decoding refuses", i,
					    flips[k]);
			}
	}
	/* Changed digest or time octets still pass: the walk looked at them. */
	assert_true(accepted > 0);
	free(m);
	OPENSSL_free(der);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_what_openssl_writes),
		cmocka_unit_test(test_required_attributes),
		cmocka_unit_test(test_der_forms),
		cmocka_unit_test(test_never_looser_than_openssl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
