/*
 * The signer's streaming TBSCertList check (hsm/tbscrl.c): what OpenSSL
 * makes passes; truncations, trailing bytes, BER forms, wrong versions, empty
 * lists, explicit FALSE defaults, times that do not exist and other
 * structures are refused; a list of 200,000 entries passes.
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
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "hsm/extern.h"

/* A growing DER buffer for hand-made structures. */
struct buf {
	unsigned char	*d;
	size_t		 len;
};

static void
put(struct buf *b, const void *p, size_t n)
{
	b->d = realloc(b->d, b->len + n + 1);
	assert_non_null(b->d);
	memcpy(b->d + b->len, p, n);
	b->len += n;
}

/* Appends tag, a minimal DER length and the contents of c (then frees c). */
static void
tlv(struct buf *b, unsigned char tag, struct buf *c)
{
	unsigned char h[6];
	size_t n = 0, len = c->len;

	h[n++] = tag;
	if (len < 0x80)
		h[n++] = (unsigned char)len;
	else if (len < 0x100) {
		h[n++] = 0x81;
		h[n++] = (unsigned char)len;
	} else if (len < 0x10000) {
		h[n++] = 0x82;
		h[n++] = (unsigned char)(len >> 8);
		h[n++] = (unsigned char)len;
	} else {
		h[n++] = 0x83;
		h[n++] = (unsigned char)(len >> 16);
		h[n++] = (unsigned char)(len >> 8);
		h[n++] = (unsigned char)len;
	}
	put(b, h, n);
	put(b, c->d, c->len);
	free(c->d);
	c->d = NULL;
	c->len = 0;
}

/* Appends a Time TLV (identifier tag) whose contents are the string s. */
static void
time_tlv(struct buf *b, unsigned char tag, const char *s)
{
	unsigned char h[2];

	h[0] = tag;
	h[1] = (unsigned char)strlen(s);
	put(b, h, 2);
	put(b, s, strlen(s));
}

static void
raw(struct buf *b, const char *hex)
{
	unsigned char byte;
	unsigned int v;

	for (; hex[0] != '\0' && hex[1] != '\0'; hex += 2) {
		assert_int_equal(sscanf(hex, "%2x", &v), 1);
		byte = (unsigned char)v;
		put(b, &byte, 1);
	}
}

static int
check(const unsigned char *p, size_t len, char *err, size_t errlen)
{
	err[0] = '\0';
	return signer_tbscrl_check(p, len, err, errlen);
}

static void
expect_refused(const unsigned char *p, size_t len, const char *want)
{
	char err[512];

	if (check(p, len, err, sizeof(err)) != -1)
		fail_msg("accepted, want a refusal saying \"%s\"", want);
	if (strstr(err, want) == NULL)
		fail_msg("refusal \"%s\" does not say \"%s\"", err, want);
}

/* c wrapped as a TBSCertList into b, refused with want; b emptied. */
static void
refuse_tbs(struct buf *b, struct buf *c, const char *want)
{
	tlv(b, 0x30, c);
	expect_refused(b->d, b->len, want);
	free(b->d);
	b->d = NULL;
	b->len = 0;
}

/* A TBSCertList made by OpenSSL: v2, two entries with extensions, CRL extensions. */
static unsigned char *
openssl_tbs(size_t *len, int entries, int v2)
{
	X509_CRL *crl = X509_CRL_new();
	X509_NAME *name = X509_NAME_new();
	X509_REVOKED *rev;
	ASN1_TIME *t = ASN1_TIME_set(NULL, 1767225600);
	ASN1_INTEGER *serial, *num;
	ASN1_ENUMERATED *reason;
	ASN1_GENERALIZEDTIME *inv;
	EVP_PKEY *key;
	unsigned char *der = NULL;
	int i, n;

	assert_non_null(crl);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"Test CA", -1, -1, 0), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl, name), 1);
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
	if (v2) {
		assert_int_equal(X509_CRL_set_version(crl, 1), 1);
		assert_int_equal(X509_CRL_set1_nextUpdate(crl, t), 1);
	}
	for (i = 0; i < entries; i++) {
		rev = X509_REVOKED_new();
		serial = ASN1_INTEGER_new();
		assert_int_equal(ASN1_INTEGER_set(serial, 0x80 + i), 1);
		assert_int_equal(X509_REVOKED_set_serialNumber(rev, serial), 1);
		assert_int_equal(X509_REVOKED_set_revocationDate(rev, t), 1);
		if (v2) {
			reason = ASN1_ENUMERATED_new();
			assert_int_equal(ASN1_ENUMERATED_set(reason, 1), 1);
			assert_int_equal(X509_REVOKED_add1_ext_i2d(rev,
			    NID_crl_reason, reason, 0, 0), 1);
			inv = ASN1_GENERALIZEDTIME_set(NULL, 1767225000);
			assert_int_equal(X509_REVOKED_add1_ext_i2d(rev,
			    NID_invalidity_date, inv, 0, 0), 1);
			ASN1_ENUMERATED_free(reason);
			ASN1_GENERALIZEDTIME_free(inv);
		}
		assert_int_equal(X509_CRL_add0_revoked(crl, rev), 1);
		ASN1_INTEGER_free(serial);
	}
	if (v2) {
		num = ASN1_INTEGER_new();
		assert_int_equal(ASN1_INTEGER_set(num, 42), 1);
		assert_int_equal(X509_CRL_add1_ext_i2d(crl, NID_crl_number, num,
		    0, 0), 1);
		assert_int_equal(X509_CRL_add1_ext_i2d(crl, NID_delta_crl, num,
		    1, 0), 1);
		ASN1_INTEGER_free(num);
	}
	/* Signed with a software key: sets the signature algorithm, sorts. */
	key = EVP_EC_gen("P-256");
	assert_non_null(key);
	assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
	EVP_PKEY_free(key);
	n = i2d_re_X509_CRL_tbs(crl, &der);
	assert_true(n > 0);
	*len = (size_t)n;
	X509_CRL_free(crl);
	X509_NAME_free(name);
	ASN1_TIME_free(t);
	return der;
}

static void
test_openssl_made(void **state)
{
	unsigned char *der, *longer;
	size_t len, i;
	char err[512];

	(void)state;
	der = openssl_tbs(&len, 3, 1);
	if (check(der, len, err, sizeof(err)) != 0)
		fail_msg("OpenSSL's v2 TBSCertList refused: %s", err);
	/* Every truncation is refused, none reads past the end. */
	for (i = 0; i < len; i++)
		assert_int_equal(check(der, i, err, sizeof(err)), -1);
	longer = malloc(len + 1);
	memcpy(longer, der, len);
	longer[len] = 0;
	expect_refused(longer, len + 1, "1 trailing bytes after a TBSCertList");
	free(longer);
	OPENSSL_free(der);

	/* v1, no entries, no nextUpdate, no extensions. */
	der = openssl_tbs(&len, 0, 0);
	if (check(der, len, err, sizeof(err)) != 0)
		fail_msg("OpenSSL's v1 TBSCertList refused: %s", err);
	OPENSSL_free(der);
	der = openssl_tbs(&len, 2, 0);
	if (check(der, len, err, sizeof(err)) != 0)
		fail_msg("v1 with entries refused: %s", err);
	OPENSSL_free(der);
}

/* The fields before revokedCertificates: v2, ecdsa-with-SHA256, CN=T, thisUpdate. */
static void
head(struct buf *b, const char *version_hex)
{
	raw(b, version_hex);
	raw(b, "300a06082a8648ce3d040302");
	raw(b, "300c310a300806035504030c0154");
	raw(b, "170d3236303130313030303030305a");
}

static void
test_crafted(void **state)
{
	struct buf b = { NULL, 0 }, c = { NULL, 0 }, e = { NULL, 0 };
	struct buf en = { NULL, 0 };

	(void)state;
	/* Indefinite length (BER) for the outer SEQUENCE. */
	raw(&b, "3080");
	head(&b, "020101");
	raw(&b, "0000");
	expect_refused(b.d, b.len, "not a DER SEQUENCE");
	free(b.d);
	b.d = NULL;
	b.len = 0;

	/* A long-form length that fits the short form. */
	head(&c, "020101");
	raw(&b, "3081");
	put(&b, (unsigned char[]){ (unsigned char)c.len }, 1);
	put(&b, c.d, c.len);
	expect_refused(b.d, b.len, "not a DER SEQUENCE");
	free(b.d);
	free(c.d);
	b.d = c.d = NULL;
	b.len = c.len = 0;

	/* Version v3 (2) does not exist for CRLs. */
	head(&c, "020102");
	refuse_tbs(&b, &c, "version must be v2");

	/* A well-formed minimal v2 list passes (the reference for what follows). */
	head(&c, "020101");
	tlv(&b, 0x30, &c);
	assert_int_equal(signer_tbscrl_check(b.d, b.len, (char[64]){ 0 }, 64), 0);
	free(b.d);
	b.d = NULL;
	b.len = 0;

	/* An empty revokedCertificates must be absent instead. */
	head(&c, "020101");
	raw(&c, "3000");
	refuse_tbs(&b, &c, "empty revokedCertificates");

	/* A serial with a needless leading zero. */
	head(&c, "020101");
	raw(&e, "3014020300007f170d3236303130313030303030305a");
	tlv(&c, 0x30, &e);
	refuse_tbs(&b, &c, "revoked entry 1: bad serial");

	/* Entry extensions in a v1 list. */
	head(&c, "");
	raw(&e, "3020020101170d3236303130313030303030305a"
	    "300c300a0603551d1504030a0101");
	tlv(&c, 0x30, &e);
	refuse_tbs(&b, &c, "bad crlEntryExtensions");

	/* The same entry in a v2 list passes. */
	head(&c, "020101");
	raw(&e, "3020020101170d3236303130313030303030305a"
	    "300c300a0603551d1504030a0101");
	tlv(&c, 0x30, &e);
	tlv(&b, 0x30, &c);
	assert_int_equal(signer_tbscrl_check(b.d, b.len, (char[64]){ 0 }, 64), 0);
	free(b.d);
	b.d = NULL;
	b.len = 0;

	/* critical = FALSE spelled out (DER leaves the default out). */
	head(&c, "020101");
	raw(&c, "a0123010300e0603551d140101000404020201ff");
	refuse_tbs(&b, &c, "bad crlExtensions");

	/* A bad time: UTCTime without the Z. */
	raw(&c, "020101300a06082a8648ce3d040302300c310a300806035504030c0154"
	    "170d32363031303130303030303030");
	refuse_tbs(&b, &c, "bad thisUpdate");

	/*
	 * Times of the right shape that do not exist, in each place a Time
	 * goes (lib/der.c der_get_time; until 2026-12-05 only the shape was
	 * checked here, and the policy read month 00 as the December before,
	 * 30 February as 2 March, second 60 as the next minute).
	 */
	raw(&c, "020101300a06082a8648ce3d040302300c310a300806035504030c0154");
	time_tlv(&c, 0x17, "260001000000Z");
	refuse_tbs(&b, &c, "bad thisUpdate");

	head(&c, "020101");
	time_tlv(&c, 0x17, "261231235960Z");
	refuse_tbs(&b, &c, "bad nextUpdate");

	head(&c, "020101");
	raw(&en, "020101");
	time_tlv(&en, 0x17, "260230000000Z");
	tlv(&e, 0x30, &en);
	tlv(&c, 0x30, &e);
	tlv(&b, 0x30, &c);
	expect_refused(b.d, b.len, "revoked entry 1: bad serial or "
	    "revocationDate");
	free(b.d);
	b.d = NULL;
	b.len = 0;

	/* The same entry dated 28 February passes. */
	head(&c, "020101");
	raw(&en, "020101");
	time_tlv(&en, 0x17, "260228000000Z");
	tlv(&e, 0x30, &en);
	tlv(&c, 0x30, &e);
	tlv(&b, 0x30, &c);
	assert_int_equal(signer_tbscrl_check(b.d, b.len, (char[64]){ 0 }, 64), 0);
	free(b.d);
	b.d = NULL;
	b.len = 0;

	/* Something after crlExtensions. */
	head(&c, "020101");
	raw(&c, "a00f300d300b0603551d140404020201ff");
	raw(&c, "0500");
	tlv(&b, 0x30, &c);
	expect_refused(b.d, b.len, "after crlExtensions");
	free(b.d);
}

/* 200,000 entries: accepted, in one pass. */
static void
test_large(void **state)
{
	struct buf b = { NULL, 0 }, c = { NULL, 0 }, l = { NULL, 0 };
	unsigned char *entries;
	size_t i, n = 200000, elen = 2 + 2 + 16 + 15 + 14;
	char err[256];

	(void)state;
	/* Each: SEQUENCE { INTEGER (16 octets), UTCTime, Extensions{reason} }. */
	entries = malloc(n * elen);
	assert_non_null(entries);
	for (i = 0; i < n; i++) {
		unsigned char *p = entries + i * elen;

		p[0] = 0x30;
		p[1] = (unsigned char)(elen - 2);
		p[2] = 0x02;
		p[3] = 16;
		memset(p + 4, 0x11, 16);
		memcpy(p + 8, &i, sizeof(uint32_t));
		p[4] = 0x41;
		memcpy(p + 20, "\x17\x0d" "260101000000Z", 15);
		memcpy(p + 35, "\x30\x0c\x30\x0a\x06\x03\x55\x1d\x15\x04\x03"
		    "\x0a\x01\x01", 14);
	}
	l.d = entries;
	l.len = n * elen;
	head(&c, "020101");
	tlv(&c, 0x30, &l);
	tlv(&b, 0x30, &c);
	if (check(b.d, b.len, err, sizeof(err)) != 0)
		fail_msg("200,000 entries refused: %s", err);
	/* One bad entry deep inside is found and named. */
	b.d[b.len - 100 * elen + 3] = 0x40;
	expect_refused(b.d, b.len, "revoked entry");
	free(b.d);
}

/* Another structure than a TBSCertList. */
static void
test_other_structures(void **state)
{
	static const unsigned char algid[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a,
	    0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
	static const unsigned char junk[32] = { 0 };

	(void)state;
	expect_refused(algid, sizeof(algid), "do not decode as a TBSCertList");
	expect_refused(junk, sizeof(junk), "do not decode as a TBSCertList");
	expect_refused(junk, 0, "do not decode as a TBSCertList");
}

/* A v2 TBSCertList with these times (next 0: none) and a CRL Number or not. */
static unsigned char *
policy_tbs(time_t this_update, time_t next_update, int numbered, size_t *len)
{
	X509_CRL *crl = X509_CRL_new();
	X509_NAME *name = X509_NAME_new();
	ASN1_TIME *t;
	ASN1_INTEGER *num;
	EVP_PKEY *key;
	unsigned char *der = NULL;
	int n;

	assert_non_null(crl);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"Test CA", -1, -1, 0), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl, name), 1);
	assert_int_equal(X509_CRL_set_version(crl, 1), 1);
	t = ASN1_TIME_set(NULL, this_update);
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
	ASN1_TIME_free(t);
	if (next_update != 0) {
		t = ASN1_TIME_set(NULL, next_update);
		assert_int_equal(X509_CRL_set1_nextUpdate(crl, t), 1);
		ASN1_TIME_free(t);
	}
	if (numbered) {
		num = ASN1_INTEGER_new();
		assert_int_equal(ASN1_INTEGER_set(num, 42), 1);
		assert_int_equal(X509_CRL_add1_ext_i2d(crl, NID_crl_number, num,
		    0, 0), 1);
		ASN1_INTEGER_free(num);
	}
	key = EVP_EC_gen("P-256");
	assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
	EVP_PKEY_free(key);
	n = i2d_re_X509_CRL_tbs(crl, &der);
	assert_true(n > 0);
	*len = (size_t)n;
	X509_CRL_free(crl);
	X509_NAME_free(name);
	return der;
}

/* policy(this, next, numbered, max): signer_tbscrl_policy's answer; err. */
static int
policy(time_t now, time_t this_update, time_t next_update, int numbered,
    long max, char *err, size_t errlen)
{
	unsigned char *der;
	size_t len;
	int rc;

	der = policy_tbs(this_update, next_update, numbered, &len);
	assert_int_equal(check(der, len, err, errlen), 0);
	err[0] = '\0';
	rc = signer_tbscrl_policy(der, len, now, max, err, errlen);
	OPENSSL_free(der);
	return rc;
}

/*
 * What the signer signs as a CRL: dated now, a nextUpdate within the
 * bound, a CRL Number; a worker taken over gets no CRL valid for years.
 */
static void
test_policy(void **state)
{
	time_t now = time(NULL);
	long week = 7 * 86400;
	char err[512];

	(void)state;
	assert_int_equal(policy(now, now, now + 86400, 1, week, err,
	    sizeof(err)), 0);
	/* A minute old, valid the whole bound: still fine. */
	assert_int_equal(policy(now, now - 60, now - 60 + week, 1, week, err,
	    sizeof(err)), 0);
	/* GeneralizedTime from 2050 on is read as well. */
	assert_int_equal(policy(now, now, 2556143999, 1, 100L * 365 * 86400,
	    err, sizeof(err)), 0);
	assert_int_equal(policy(now, now, 0, 1, week, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no nextUpdate"));
	assert_int_equal(policy(now, now, now + 86400, 0, week, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "no CRL Number"));
	assert_int_equal(policy(now, now + 1000, now + 86400, 1, week, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "ahead of the signer's clock"));
	assert_int_equal(policy(now, now - 7200, now + 86400, 1, week, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "in the past"));
	assert_int_equal(policy(now, now, now, 1, week, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nextUpdate not after thisUpdate"));
	assert_int_equal(policy(now, now, now + week + 1, 1, week, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "more than the signer allows"));
	assert_int_equal(policy(now, now, 253402300799, 1, week, err,
	    sizeof(err)), -1);
}

/*
 * The policy reads times through der_get_time too, even when called without
 * signer_tbscrl_check: 30 February 2026 is no date (until 2026-12-05 it was
 * read as 2 March and the CRL passed).
 */
static void
test_policy_no_such_date(void **state)
{
	struct buf b = { NULL, 0 }, c = { NULL, 0 };
	char err[512];

	(void)state;
	raw(&c, "020101300a06082a8648ce3d040302300c310a300806035504030c0154");
	time_tlv(&c, 0x17, "260230000000Z");
	time_tlv(&c, 0x17, "260303000000Z");
	raw(&c, "a00f300d300b0603551d140404020201ff");
	tlv(&b, 0x30, &c);
	/* 2026-03-02T00:00:00Z, what timegm makes of 30 February. */
	assert_int_equal(signer_tbscrl_policy(b.d, b.len, 1772409600,
	    7 * 86400, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad TBSCertList head"));
	free(b.d);
	b.d = NULL;
	b.len = 0;

	/* The same list dated 2 March passes. */
	raw(&c, "020101300a06082a8648ce3d040302300c310a300806035504030c0154");
	time_tlv(&c, 0x17, "260302000000Z");
	time_tlv(&c, 0x17, "260303000000Z");
	raw(&c, "a00f300d300b0603551d140404020201ff");
	tlv(&b, 0x30, &c);
	assert_int_equal(check(b.d, b.len, err, sizeof(err)), 0);
	if (signer_tbscrl_policy(b.d, b.len, 1772409600, 7 * 86400, err,
	    sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	free(b.d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openssl_made),
		cmocka_unit_test(test_crafted),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_other_structures),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_policy_no_such_date),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
