/*
 * The signer's check of the TSTInfo a time-stamp's SignedAttributes cover
 * (hsm/tstinfo.c): what tsad and OpenSSL write passes, with every optional
 * field; each mandatory field missing, out of order or malformed, BER
 * forms (indefinite and non-minimal lengths, ordering FALSE written out),
 * genTime in any other form than YYYYMMDDHHMMSS[.f]Z and trailing bytes
 * are refused; signer_tst_policy refuses a messageDigest that is not the
 * TSTInfo's hash or not of the digest's length, a genTime more than
 * 300 s from its clock, and a signingTime attribute that is not genTime's
 * second (or twice there, or of the wrong type for its year); and no
 * truncation or changed byte of a TSTInfo is accepted that OpenSSL does
 * not decode to the same octets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509.h>

#include "hsm/derwalk.h"
#include "hsm/extern.h"
#include "lib/der.h"

/* 2026-12-06T12:00:00Z */
#define T0	((time_t)1796558400)

/* Which optional parts a sample TSTInfo has (sample()). */
enum {
	S_ACCURACY = 1, S_ORDERING = 2, S_NONCE = 4, S_TSA = 8, S_EXTS = 16,
	S_ALL = 31
};

static const unsigned char policy[] = { 0x06, 0x09, 0x2b, 0x06, 0x01, 0x04,
    0x01, 0x86, 0x8d, 0x1f, 0x01 };
static const unsigned char sha256_null[] = { 0x30, 0x0d, 0x06, 0x09, 0x60,
    0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00 };

static void
imprint(struct der *d)
{
	unsigned char h[32];

	memset(h, 0xab, sizeof(h));
	der_begin(d, DER_SEQUENCE);
	der_raw(d, sha256_null, sizeof(sha256_null));
	der_tlv(d, DER_OCTET_STRING, h, sizeof(h));
	der_end(d);
}

/*
 * A TSTInfo into d with genTime gt (its characters), the parts in opt,
 * serial 0x0102...; drop: 1..5 leaves out version, policy,
 * messageImprint, serialNumber or genTime.
 */
static void
sample(struct der *d, const char *gt, int opt, int drop)
{
	static const unsigned char serial[] = { 0x01, 0x02, 0x03, 0x04, 0x05,
	    0x06, 0x07, 0x08 };
	static const unsigned char nonce[] = { 0x02, 0x08, 0xee, 0xdd, 0xcc,
	    0xbb, 0xaa, 0x99, 0x88, 0x78 };		/* negative */
	static const unsigned char ext_oid[] = { 0x06, 0x03, 0x2a, 0x03, 0x04 };

	der_reset(d);
	der_begin(d, DER_SEQUENCE);
	if (drop != 1)
		der_small_uint(d, DER_INTEGER, 1);
	if (drop != 2)
		der_raw(d, policy, sizeof(policy));
	if (drop != 3)
		imprint(d);
	if (drop != 4)
		der_uint(d, DER_INTEGER, serial, sizeof(serial));
	if (drop != 5)
		der_tlv(d, DER_GENERALIZEDTIME, gt, strlen(gt));
	if (opt & S_ACCURACY) {
		der_begin(d, DER_SEQUENCE);
		der_small_uint(d, DER_INTEGER, 1);
		der_small_uint(d, DER_CONTEXT(0), 500);
		der_small_uint(d, DER_CONTEXT(1), 999);
		der_end(d);
	}
	if (opt & S_ORDERING)
		der_tlv(d, DER_BOOLEAN, "\xff", 1);
	if (opt & S_NONCE)
		der_raw(d, nonce, sizeof(nonce));
	if (opt & S_TSA) {
		der_begin(d, DER_CONTEXT_CONS(0));
		der_tlv(d, DER_CONTEXT(2), "tsa.example", 11);	/* dNSName */
		der_end(d);
	}
	if (opt & S_EXTS) {
		der_begin(d, DER_CONTEXT_CONS(1));
		der_begin(d, DER_SEQUENCE);
		der_raw(d, ext_oid, sizeof(ext_oid));
		der_tlv(d, DER_BOOLEAN, "\xff", 1);
		der_tlv(d, DER_OCTET_STRING, "\x05\x00", 2);
		der_end(d);
		der_end(d);
	}
	der_end(d);
	assert_false(der_failed(d));
}

static void
expect(const unsigned char *p, size_t len, const char *want)
{
	char err[512] = "";
	time_t gen;
	int rc = signer_tstinfo_check(p, len, &gen, err, sizeof(err));

	if (want == NULL) {
		if (rc != 0)
			fail_msg("refused: %s", err);
		return;
	}
	if (rc != -1)
		fail_msg("accepted, want a refusal saying \"%s\"", want);
	if (strstr(err, want) == NULL)
		fail_msg("refusal \"%s\" does not say \"%s\"", err, want);
}

static void
expect_der(struct der *d, const char *want)
{
	expect(d->buf, d->len, want);
}

/* What tsad and OpenSSL write passes: every optional part, fractions. */
static void
test_accepts(void **state)
{
	static const char *const good[] = { "20261206120000Z",
	    "20261206120000.5Z", "20261206120000.123456Z", "20240229235959Z" };
	struct der d;
	TS_TST_INFO *ti;
	unsigned char *der = NULL;
	char err[256];
	time_t gen;
	size_t i;
	int opt, n;

	der_init(&d);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		for (opt = 0; opt <= S_ALL; opt++) {
			sample(&d, good[i], opt, 0);
			expect_der(&d, NULL);
		}
	sample(&d, "20261206120000.123Z", S_ALL, 0);
	assert_int_equal(signer_tstinfo_check(d.buf, d.len, &gen, err,
	    sizeof(err)), 0);
	assert_int_equal(gen, T0);
	/* OpenSSL reads it and writes it back the same. */
	{
		const unsigned char *p = d.buf;

		ti = d2i_TS_TST_INFO(NULL, &p, (long)d.len);
		assert_non_null(ti);
		n = i2d_TS_TST_INFO(ti, &der);
		assert_int_equal(n, (int)d.len);
		assert_memory_equal(der, d.buf, d.len);
		OPENSSL_free(der);
		der = NULL;
		TS_TST_INFO_free(ti);
	}
	der_free(&d);
}

/* Each mandatory field missing; fields out of order or unknown. */
static void
test_missing_and_order(void **state)
{
	static const char *const want[] = { NULL, "version is not v1",
	    "no policy OID", "malformed messageImprint",
	    "serialNumber is not", "genTime is not" };
	struct der d;
	int drop;

	der_init(&d);
	for (drop = 1; drop <= 5; drop++) {
		sample(&d, "20261206120000Z", 0, drop);
		expect_der(&d, want[drop]);
	}
	/* The nonce before ordering. */
	der_reset(&d);
	der_begin(&d, DER_SEQUENCE);
	der_small_uint(&d, DER_INTEGER, 1);
	der_raw(&d, policy, sizeof(policy));
	imprint(&d);
	der_small_uint(&d, DER_INTEGER, 7);
	der_tlv(&d, DER_GENERALIZEDTIME, "20261206120000Z", 15);
	der_small_uint(&d, DER_INTEGER, 9);
	der_tlv(&d, DER_BOOLEAN, "\xff", 1);
	der_end(&d);
	expect_der(&d, "a field out of order or unknown after genTime");
	/* Something unknown at the end. */
	der_reset(&d);
	der_begin(&d, DER_SEQUENCE);
	der_small_uint(&d, DER_INTEGER, 1);
	der_raw(&d, policy, sizeof(policy));
	imprint(&d);
	der_small_uint(&d, DER_INTEGER, 7);
	der_tlv(&d, DER_GENERALIZEDTIME, "20261206120000Z", 15);
	der_tlv(&d, DER_OCTET_STRING, "x", 1);
	der_end(&d);
	expect_der(&d, "a field out of order or unknown after genTime");
	expect((const unsigned char *)"", 0, "none sent");
	der_free(&d);
}

/*
 * One field of a minimal TSTInfo replaced: the fields before it as
 * sample() writes them, then the raw TLV (or nothing), then the rest.
 */
static void
with_field(struct der *d, int which, const unsigned char *tlv, size_t len)
{
	static const unsigned char serial[] = { 0x02, 0x01, 0x07 };
	static const unsigned char gt[] = { 0x18, 0x0f, '2', '0', '2', '6',
	    '1', '2', '0', '6', '1', '2', '0', '0', '0', '0', 'Z' };

	der_reset(d);
	der_begin(d, DER_SEQUENCE);
	if (which == 1)
		der_raw(d, tlv, len);
	else
		der_small_uint(d, DER_INTEGER, 1);
	der_raw(d, policy, sizeof(policy));
	if (which == 3)
		der_raw(d, tlv, len);
	else
		imprint(d);
	der_raw(d, which == 4 ? tlv : serial, which == 4 ? len :
	    sizeof(serial));
	der_raw(d, which == 5 ? tlv : gt, which == 5 ? len : sizeof(gt));
	if (which == 6)
		der_raw(d, tlv, len);
	der_end(d);
	assert_false(der_failed(d));
}

/* Fields of the wrong form or value. */
static void
test_malformed_fields(void **state)
{
	static const struct {
		int		 which;
		const char	*tlv;
		size_t		 len;
		const char	*want;
	} cases[] = {
		{ 1, "\x02\x01\x02", 3, "version is not v1" },
		{ 1, "\x02\x02\x00\x01", 4, "version is not v1" },
		{ 3, "\x30\x05\x30\x03\x06\x01\x2a", 7, "malformed messageImprint" },
		/* parameters other than NULL; an empty hash */
		{ 3, "\x30\x0b\x30\x06\x06\x01\x2a\x02\x01\x00\x04\x01\x01", 13,
		    "malformed messageImprint" },
		{ 3, "\x30\x07\x30\x03\x06\x01\x2a\x04\x00", 9,
		    "malformed messageImprint" },
		{ 4, "\x02\x01\x80", 3, "serialNumber is not" },	/* negative */
		{ 4, "\x02\x02\x00\x01", 4, "serialNumber is not" },	/* not minimal */
		{ 4, "\x02\x16\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c"
		    "\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16", 24,
		    "serialNumber is not" },	/* 22 octets */
		{ 5, "\x17\x0d" "261206120000Z", 15, "genTime is not" },
		{ 5, "\x18\x0e" "20261206120000", 16, "genTime is not" },
		{ 5, "\x18\x0d" "202612061200Z", 15, "genTime is not" },
		{ 5, "\x18\x10" "20261206120000.Z", 18, "genTime is not" },
		{ 5, "\x18\x12" "20261206120000.50Z", 20, "genTime is not" },
		{ 5, "\x18\x11" "20261206120000.0Z", 19, "genTime is not" },
		{ 5, "\x18\x17" "20261206120000.1234567Z", 25, "genTime is not" },
		{ 5, "\x18\x11" "20261206120000,5Z", 19, "genTime is not" },
		{ 5, "\x18\x13" "20261206120000+0100", 21, "genTime is not" },
		{ 5, "\x18\x0f" "20260230120000Z", 17, "genTime is not" },
		{ 5, "\x18\x0f" "20261206120060Z", 17, "genTime is not" },
		{ 5, "\x18\x11" "20261206120000.aZ", 19, "genTime is not" },
		/* genTime's length in two octets (BER) */
		{ 5, "\x18\x81\x0f" "20261206120000Z", 18, "genTime is not" },
		{ 6, "\x30\x00", 2, "malformed accuracy" },
		{ 6, "\x30\x03\x80\x01\x00", 5, "malformed accuracy" },
		{ 6, "\x30\x04\x80\x02\x03\xe8", 6, "malformed accuracy" },
		{ 6, "\x30\x06\x81\x01\x01\x80\x01\x01", 8, "malformed accuracy" },
		{ 6, "\x30\x03\x02\x01\xff", 5, "malformed accuracy" },
		{ 6, "\x01\x01\x00", 3, "malformed ordering" },	/* FALSE */
		{ 6, "\x01\x01\x01", 3, "malformed ordering" },
		{ 6, "\x02\x02\x00\x01", 4, "malformed nonce" },
		{ 6, "\xa0\x00", 2, "malformed tsa" },
		{ 6, "\xa0\x06\x82\x01\x61\x82\x01\x62", 8, "malformed tsa" },
		{ 6, "\xa0\x03\x04\x01\x61", 5, "malformed tsa" },
		{ 6, "\xa1\x00", 2, "malformed extensions" },
		{ 6, "\xa1\x0b\x30\x09\x06\x01\x2a\x01\x01\x00\x04\x01\x00", 13,
		    "malformed extensions" },		/* critical FALSE */
		{ 6, "\xa1\x05\x30\x03\x06\x01\x2a", 7, "malformed extensions" },
	};
	unsigned char big[2 + 66];
	struct der d;
	size_t i;

	der_init(&d);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		with_field(&d, cases[i].which,
		    (const unsigned char *)cases[i].tlv, cases[i].len);
		expect_der(&d, cases[i].want);
	}
	/*
	 * tsad accepts a nonce of up to 64 octets of magnitude (TSA_NONCE_MAX);
	 * with its top bit set the DER INTEGER has a 0x00 before it: 65
	 * octets pass then, a magnitude of 65 octets does not.
	 */
	big[0] = 0x02;
	big[1] = 65;
	memset(big + 2, 0x11, 65);
	with_field(&d, 6, big, sizeof(big) - 1);
	expect_der(&d, "malformed nonce (at most 64 octets and a sign octet)");
	big[2] = 0x00;
	memset(big + 3, 0xff, 64);
	with_field(&d, 6, big, sizeof(big) - 1);
	expect_der(&d, NULL);
	big[2] = 0xff;
	big[3] = 0x00;	/* negative, a magnitude of 64 octets */
	memset(big + 4, 0x01, 63);
	with_field(&d, 6, big, sizeof(big) - 1);
	expect_der(&d, NULL);
	big[1] = 66;
	big[2] = 0x00;
	memset(big + 3, 0xff, 65);
	with_field(&d, 6, big, sizeof(big));
	expect_der(&d, "malformed nonce");
	big[1] = 64;
	memset(big + 2, 0x11, 64);
	with_field(&d, 6, big, sizeof(big) - 2);
	expect_der(&d, NULL);
	der_free(&d);
}

/* BER lengths and trailing bytes. */
static void
test_ber_and_trailing(void **state)
{
	struct der d;
	unsigned char *b;

	der_init(&d);
	sample(&d, "20261206120000Z", S_NONCE, 0);
	assert_true(d.len < 128 + 2 && d.buf[1] < 0x80);
	b = malloc(d.len + 3);
	assert_non_null(b);
	/* Trailing bytes after the SEQUENCE. */
	memcpy(b, d.buf, d.len);
	b[d.len] = 0;
	expect(b, d.len + 1, "1 trailing bytes");
	/* The SEQUENCE's length in two octets: not minimal. */
	b[0] = 0x30;
	b[1] = 0x81;
	b[2] = d.buf[1];
	memcpy(b + 3, d.buf + 2, d.len - 2);
	expect(b, d.len + 1, "not a DER SEQUENCE");
	/* Indefinite length, closed by end-of-contents. */
	b[1] = 0x80;
	memcpy(b + 2, d.buf + 2, d.len - 2);
	b[d.len] = 0;
	b[d.len + 1] = 0;
	expect(b, d.len + 2, "not a DER SEQUENCE");
	/* Truncated. */
	expect(d.buf, d.len - 1, "not a DER SEQUENCE");
	free(b);
	der_free(&d);
}

/*
 * SignedAttributes (RFC 5652 §5.3) with content type id-ct-TSTInfo and
 * messageDigest dg. OPENSSL_free it.
 */
static unsigned char *
attrs_of(const unsigned char *dg, size_t dglen, int nid, size_t *len)
{
	STACK_OF(X509_ATTRIBUTE) *sk = NULL;
	unsigned char *der = NULL;
	int n;

	assert_non_null(X509at_add1_attr_by_NID(&sk, NID_pkcs9_contentType,
	    V_ASN1_OBJECT, (const unsigned char *)OBJ_nid2obj(nid), -1));
	assert_non_null(X509at_add1_attr_by_NID(&sk, NID_pkcs9_messageDigest,
	    V_ASN1_OCTET_STRING, dg, (int)dglen));
	n = ASN1_item_i2d((ASN1_VALUE *)sk, &der,
	    ASN1_ITEM_rptr(PKCS7_ATTR_SIGN));
	assert_true(n > 0);
	sk_X509_ATTRIBUTE_pop_free(sk, X509_ATTRIBUTE_free);
	*len = (size_t)n;
	return der;
}

/*
 * The same with a signing-time attribute (RFC 5652 §11.3) of ASN.1 type
 * type (V_ASN1_UTCTIME or V_ASN1_GENERALIZEDTIME) and contents st, given
 * n times (n > 0), with a second value when two is set.
 */
static unsigned char *
attrs_timed(const unsigned char *dg, size_t dglen, int type, const char *st,
    int n, int two, size_t *len)
{
	STACK_OF(X509_ATTRIBUTE) *sk = NULL;
	X509_ATTRIBUTE *a;
	unsigned char *der = NULL;
	int i, rc;

	assert_non_null(X509at_add1_attr_by_NID(&sk, NID_pkcs9_contentType,
	    V_ASN1_OBJECT, (const unsigned char *)OBJ_nid2obj(
	    NID_id_smime_ct_TSTInfo), -1));
	assert_non_null(X509at_add1_attr_by_NID(&sk, NID_pkcs9_messageDigest,
	    V_ASN1_OCTET_STRING, dg, (int)dglen));
	for (i = 0; i < n; i++) {
		a = X509_ATTRIBUTE_create_by_NID(NULL, NID_pkcs9_signingTime,
		    type, st, (int)strlen(st));
		assert_non_null(a);
		if (two)
			assert_int_equal(X509_ATTRIBUTE_set1_data(a, type, st,
			    (int)strlen(st)), 1);
		/* X509at_add1_attr refuses a type already there: push. */
		rc = sk_X509_ATTRIBUTE_push(sk, a);
		assert_true(rc > 0);
	}
	n = ASN1_item_i2d((ASN1_VALUE *)sk, &der,
	    ASN1_ITEM_rptr(PKCS7_ATTR_SIGN));
	assert_true(n > 0);
	sk_X509_ATTRIBUTE_pop_free(sk, X509_ATTRIBUTE_free);
	*len = (size_t)n;
	return der;
}

static void
expect_policy(const unsigned char *attrs, size_t alen, const struct der *tst,
    const EVP_MD *md, time_t now, const char *want)
{
	char err[512] = "";
	int rc = signer_tst_policy(attrs, alen, tst->buf, tst->len, md, now,
	    err, sizeof(err));

	if (want == NULL) {
		if (rc != 0)
			fail_msg("refused: %s", err);
		return;
	}
	if (rc != -1)
		fail_msg("accepted, want a refusal saying \"%s\"", want);
	if (strstr(err, want) == NULL)
		fail_msg("refusal \"%s\" does not say \"%s\"", err, want);
}

/* The digest and the time against the signer's clock. */
static void
test_policy(void **state)
{
	struct der tst, other;
	unsigned char h[EVP_MAX_MD_SIZE], *attrs;
	unsigned int hlen;
	size_t alen;

	der_init(&tst);
	der_init(&other);
	sample(&tst, "20261206120000.25Z", S_ALL, 0);
	sample(&other, "20261206120000.26Z", S_ALL, 0);
	assert_int_equal(EVP_Digest(tst.buf, tst.len, h, &hlen, EVP_sha256(),
	    NULL), 1);
	attrs = attrs_of(h, hlen, NID_id_smime_ct_TSTInfo, &alen);
	expect_policy(attrs, alen, &tst, EVP_sha256(), T0, NULL);
	/* genTime's second T0: 300 s either way pass, 301 do not. */
	expect_policy(attrs, alen, &tst, EVP_sha256(), T0 + 300, NULL);
	expect_policy(attrs, alen, &tst, EVP_sha256(), T0 - 300, NULL);
	expect_policy(attrs, alen, &tst, EVP_sha256(), T0 + 301,
	    "genTime -301 s from the signer's clock, more than 300 s either "
	    "way");
	expect_policy(attrs, alen, &tst, EVP_sha256(), T0 - 301,
	    "genTime +301 s");
	expect_policy(attrs, alen, &tst, EVP_sha256(), T0 + 86400 * 365,
	    "genTime -31536000 s");
	/* Another TSTInfo than the digest's, even one 10 ms later. */
	expect_policy(attrs, alen, &other, EVP_sha256(), T0,
	    "messageDigest (RFC 5652 §5.4): not the SHA256 of the TSTInfo "
	    "sent");
	/* The request's digest is SHA-384: 32 octets are not its length. */
	expect_policy(attrs, alen, &tst, EVP_sha384(), T0,
	    "messageDigest (RFC 5652 §11.2): 32 octets, SHA384 gives 48");
	/* The first 32 octets of the SHA-384 hash are not a SHA-256 one. */
	assert_int_equal(EVP_Digest(tst.buf, tst.len, h, &hlen, EVP_sha384(),
	    NULL), 1);
	OPENSSL_free(attrs);
	attrs = attrs_of(h, 32, NID_id_smime_ct_TSTInfo, &alen);
	expect_policy(attrs, alen, &tst, EVP_sha256(), T0,
	    "not the SHA256 of the TSTInfo sent");
	OPENSSL_free(attrs);
	attrs = attrs_of(h, hlen, NID_id_smime_ct_TSTInfo, &alen);
	expect_policy(attrs, alen, &tst, EVP_sha384(), T0, NULL);
	/* The attributes must say id-ct-TSTInfo. */
	OPENSSL_free(attrs);
	attrs = attrs_of(h, hlen, NID_pkcs7_data, &alen);
	expect_policy(attrs, alen, &tst, EVP_sha384(), T0,
	    "content type is not id-ct-TSTInfo");
	/* A malformed TSTInfo whose hash the attributes carry. */
	OPENSSL_free(attrs);
	/* version 2: its value after the SEQUENCE's header and its own. */
	tst.buf[(tst.buf[1] & 0x80 ? 2 + (tst.buf[1] & 0x7f) : 2) + 2] = 2;
	assert_int_equal(EVP_Digest(tst.buf, tst.len, h, &hlen, EVP_sha256(),
	    NULL), 1);
	attrs = attrs_of(h, hlen, NID_id_smime_ct_TSTInfo, &alen);
	expect_policy(attrs, alen, &tst, EVP_sha256(), T0, "version is not v1");
	OPENSSL_free(attrs);
	der_free(&tst);
	der_free(&other);
}

/*
 * signingTime against genTime: tsad writes both from one reading of the
 * clock, so a token whose two times differ, even by a second, is not one
 * tsad made. Until 2026-12-07 the signer did not look at signingTime.
 */
static void
test_policy_signing_time(void **state)
{
	static const struct {
		int		 type;
		const char	*st;
		int		 n, two;
		const char	*want;	/* NULL: signed */
	} c[] = {
		{ V_ASN1_UTCTIME, "261206120000Z", 1, 0, NULL },
		{ V_ASN1_UTCTIME, "261206115959Z", 1, 0,
		    "signingTime (RFC 5652 §11.3): -1 s from genTime's second: "
		    "a token's two times must agree" },
		{ V_ASN1_UTCTIME, "261206120001Z", 1, 0, "+1 s from genTime" },
		{ V_ASN1_UTCTIME, "251206120000Z", 1, 0, "-31536000 s" },
		/* §11.3: GeneralizedTime only outside 1950-2049. */
		{ V_ASN1_GENERALIZEDTIME, "20261206120000Z", 1, 0,
		    "malformed signing-time attribute (RFC 5652 §11.3)" },
		/* RFC 5280's forms: seconds, 'Z', no fraction. */
		{ V_ASN1_UTCTIME, "2612061200Z", 1, 0, "malformed signing-time" },
		{ V_ASN1_UTCTIME, "261206120000+0000", 1, 0,
		    "malformed signing-time" },
		{ V_ASN1_UTCTIME, "261306120000Z", 1, 0, "malformed signing-time" },
		{ V_ASN1_OCTET_STRING, "261206120000Z", 1, 0,
		    "malformed signing-time" },
		/* Once, with one value. */
		{ V_ASN1_UTCTIME, "261206120000Z", 2, 0,
		    "more than one signing-time attribute (RFC 5652 §11.3)" },
		{ V_ASN1_UTCTIME, "261206120000Z", 1, 1, "malformed signing-time" },
	};
	struct der tst;
	unsigned char h[EVP_MAX_MD_SIZE], *attrs;
	unsigned int hlen;
	size_t alen, i;

	der_init(&tst);
	/* genTime T0 and a quarter: its second is T0. */
	sample(&tst, "20261206120000.25Z", S_ALL, 0);
	assert_int_equal(EVP_Digest(tst.buf, tst.len, h, &hlen, EVP_sha256(),
	    NULL), 1);
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		attrs = attrs_timed(h, hlen, c[i].type, c[i].st, c[i].n,
		    c[i].two, &alen);
		expect_policy(attrs, alen, &tst, EVP_sha256(), T0 + 10,
		    c[i].want);
		OPENSSL_free(attrs);
	}
	der_free(&tst);
}

/* 1 when the TSTInfo in p has a tsa field (OpenSSL reads a GeneralName). */
static int
has_tsa(const unsigned char *p, size_t len)
{
	struct dwin in = { p, len };
	struct tlv seq, t;

	if (derwalk_next(&in, &seq) == -1)
		return 0;
	while (seq.val.left > 0)
		if (derwalk_next(&seq.val, &t) == -1 || t.tag == 0xa0)
			return 1;
	return 0;
}

/* What the check accepts, OpenSSL decodes to the same octets. */
static void
reference_agrees(const unsigned char *p, size_t len)
{
	const unsigned char *q = p;
	unsigned char *der = NULL;
	TS_TST_INFO *ti;
	char err[256];
	time_t gen;
	int n;

	if (signer_tstinfo_check(p, len, &gen, err, sizeof(err)) != 0 ||
	    has_tsa(p, len))
		return;
	ti = d2i_TS_TST_INFO(NULL, &q, (long)len);
	if (ti == NULL || q != p + len)
		fail_msg("accepted, OpenSSL does not read it");
	n = i2d_TS_TST_INFO(ti, &der);
	if (n != (int)len || memcmp(der, p, len) != 0)
		fail_msg("accepted, OpenSSL writes it back otherwise");
	OPENSSL_free(der);
	TS_TST_INFO_free(ti);
	ERR_clear_error();
}

static void
test_never_looser_than_openssl(void **state)
{
	static const unsigned char vals[] = { 0x00, 0x01, 0x02, 0x04, 0x05,
	    0x06, 0x18, 0x30, 0x7f, 0x80, 0x81, 0xa0, 0xa1, 0xff };
	struct der d;
	unsigned char *b;
	size_t i, k;

	der_init(&d);
	sample(&d, "20261206120000.25Z", S_ALL & ~S_TSA, 0);
	b = malloc(d.len);
	assert_non_null(b);
	for (i = 0; i <= d.len; i++)
		reference_agrees(d.buf, i);
	for (i = 0; i < d.len; i++)
		for (k = 0; k < sizeof(vals); k++) {
			memcpy(b, d.buf, d.len);
			b[i] = vals[k];
			reference_agrees(b, d.len);
			b[i] = d.buf[i] ^ 0x01;
			reference_agrees(b, d.len);
		}
	free(b);
	der_free(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_missing_and_order),
		cmocka_unit_test(test_malformed_fields),
		cmocka_unit_test(test_ber_and_trailing),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_policy_signing_time),
		cmocka_unit_test(test_never_looser_than_openssl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
