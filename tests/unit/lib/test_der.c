/*
 * lib/der: every value the writer produces is read back by OpenSSL's own
 * decoder (ASN1_get_object, d2i_ASN1_INTEGER, d2i_ASN1_OCTET_STRING):
 * length octets at each boundary of the short and long forms, INTEGERs
 * against i2d_ASN1_INTEGER, nesting with lengths that grow while a value is
 * open, and the sticky errors (unbalanced close, depth, multi-octet tags).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/rand.h>

#include "lib/der.h"

/* ASN1_get_object on buf: the tag, content length and header length. */
static void
parse_header(const unsigned char *buf, size_t len, int *tag, long *clen,
    size_t *hlen)
{
	const unsigned char *p = buf;
	int xclass, r;

	r = ASN1_get_object(&p, clen, tag, &xclass, (long)len);
	assert_int_equal(r & 0x80, 0);		/* no error */
	*hlen = (size_t)(p - buf);
	*tag |= xclass;
	assert_int_equal(*hlen + (size_t)*clen, len);
}

static void
test_lengths(void **state)
{
	static const size_t lens[] = { 0, 1, 127, 128, 129, 255, 256, 257,
	    65535, 65536, 70000 };
	unsigned char *content, *p;
	ASN1_OCTET_STRING *os;
	struct der d;
	size_t i, hlen;
	long clen;
	int tag;

	content = malloc(70000);
	assert_non_null(content);
	for (i = 0; i < 70000; i++)
		content[i] = (unsigned char)(i * 7);
	der_init(&d);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		der_reset(&d);
		der_tlv(&d, DER_OCTET_STRING, content, lens[i]);
		assert_false(der_failed(&d));
		parse_header(d.buf, d.len, &tag, &clen, &hlen);
		assert_int_equal(tag, V_ASN1_OCTET_STRING);
		assert_int_equal((size_t)clen, lens[i]);
		assert_int_equal(hlen, der_header_len(lens[i]));
		/* Minimal length octets (X.690 §10.1). */
		assert_int_equal(hlen, lens[i] < 128 ? 2 : lens[i] < 256 ? 3 :
		    lens[i] < 65536 ? 4 : 5);
		p = d.buf;
		os = d2i_ASN1_OCTET_STRING(NULL, (const unsigned char **)&p,
		    (long)d.len);
		assert_non_null(os);
		assert_ptr_equal(p, d.buf + d.len);
		assert_int_equal(ASN1_STRING_length(os), (int)lens[i]);
		if (lens[i] > 0)
			assert_memory_equal(ASN1_STRING_get0_data(os), content,
			    lens[i]);
		ASN1_OCTET_STRING_free(os);
	}
	der_free(&d);
	free(content);
}

/* Values whose length crosses 127/255 while the value is open. */
static void
test_nesting(void **state)
{
	static const size_t inner[] = { 10, 125, 126, 127, 200, 253, 300, 66000 };
	unsigned char *content;
	const unsigned char *p;
	struct der d;
	size_t i, hlen, h2;
	long clen, clen2;
	int tag, tag2;

	content = calloc(1, 66000);
	assert_non_null(content);
	der_init(&d);
	for (i = 0; i < sizeof(inner) / sizeof(inner[0]); i++) {
		der_reset(&d);
		der_begin(&d, DER_SEQUENCE);
		der_begin(&d, DER_CONTEXT_CONS(0));
		der_tlv(&d, DER_OCTET_STRING, content, inner[i]);
		der_end(&d);
		der_small_uint(&d, DER_INTEGER, 3);
		der_end(&d);
		assert_false(der_failed(&d));
		assert_int_equal(d.depth, 0);
		parse_header(d.buf, d.len, &tag, &clen, &hlen);
		assert_int_equal(tag, V_ASN1_SEQUENCE);
		p = d.buf + hlen;
		parse_header(p, (size_t)clen - 3, &tag2, &clen2, &h2);
		assert_int_equal(tag2, 0 | V_ASN1_CONTEXT_SPECIFIC);
		assert_int_equal((size_t)clen2, der_header_len(inner[i]) + inner[i]);
		/* The INTEGER 3 after it, unmoved. */
		assert_memory_equal(d.buf + d.len - 3, "\x02\x01\x03", 3);
	}
	der_free(&d);
	free(content);
}

static void
check_uint(const unsigned char *mag, size_t len)
{
	ASN1_INTEGER *ai;
	BIGNUM *bn;
	unsigned char *ref = NULL;
	struct der d;
	int n;

	bn = BN_bin2bn(mag, (int)len, NULL);
	assert_non_null(bn);
	ai = BN_to_ASN1_INTEGER(bn, NULL);
	assert_non_null(ai);
	n = i2d_ASN1_INTEGER(ai, &ref);
	assert_true(n > 0);
	der_init(&d);
	der_uint(&d, DER_INTEGER, mag, len);
	assert_false(der_failed(&d));
	assert_int_equal(d.len, (size_t)n);
	assert_memory_equal(d.buf, ref, (size_t)n);
	der_free(&d);
	OPENSSL_free(ref);
	ASN1_INTEGER_free(ai);
	BN_free(bn);
}

static void
test_integers(void **state)
{
	static const unsigned char v[][4] = {
		{ 0, 0, 0, 0 }, { 0, 0, 0, 1 }, { 0, 0, 0, 0x7f },
		{ 0, 0, 0, 0x80 }, { 0, 0, 0, 0xff }, { 0, 0, 1, 0 },
		{ 0, 0, 0x80, 0 }, { 0x7f, 0xff, 0xff, 0xff },
		{ 0xff, 0xff, 0xff, 0xff }, { 0x80, 0, 0, 0 },
	};
	unsigned char r[40];
	struct der d;
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		check_uint(v[i], sizeof(v[i]));
	check_uint((const unsigned char *)"\x05", 1);
	for (i = 0; i < 200; i++) {
		assert_int_equal(RAND_bytes(r, sizeof(r)), 1);
		check_uint(r, 1 + i % sizeof(r));
	}
	der_init(&d);
	der_small_uint(&d, DER_INTEGER, 3600);
	assert_int_equal(d.len, 4);
	assert_memory_equal(d.buf, "\x02\x02\x0e\x10", 4);
	der_reset(&d);
	der_small_uint(&d, DER_CONTEXT(1), 999);
	assert_memory_equal(d.buf, "\x81\x02\x03\xe7", 4);
	der_reset(&d);
	der_uint(&d, DER_INTEGER, NULL, 0);	/* no octets: zero */
	assert_memory_equal(d.buf, "\x02\x01\x00", 3);
	der_free(&d);
}

static void
test_errors(void **state)
{
	struct der d;
	int i;

	der_init(&d);
	der_end(&d);				/* nothing open */
	assert_true(der_failed(&d));
	der_tlv(&d, DER_NULL, NULL, 0);		/* sticky: nothing written */
	assert_int_equal(d.len, 0);
	der_reset(&d);
	assert_false(der_failed(&d));
	for (i = 0; i < DER_MAX_DEPTH; i++)
		der_begin(&d, DER_SEQUENCE);
	assert_false(der_failed(&d));
	der_begin(&d, DER_SEQUENCE);		/* one too deep */
	assert_true(der_failed(&d));
	der_reset(&d);
	der_tlv(&d, 0x1f, "x", 1);		/* multi-octet tag */
	assert_true(der_failed(&d));
	der_reset(&d);
	der_begin(&d, DER_OCTET_STRING);	/* primitive tag opened */
	assert_true(der_failed(&d));
	der_reset(&d);
	der_raw(&d, "\x05\x00", 2);
	assert_false(der_failed(&d));
	assert_memory_equal(d.buf, "\x05\x00", 2);
	assert_int_equal(der_header_len(DER_MAX_LEN + 1), 0);
	der_free(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
