/*
 * lib/der: every value the writer produces is read back by OpenSSL's own
 * decoder (ASN1_get_object, d2i_ASN1_INTEGER, d2i_ASN1_OCTET_STRING):
 * length octets at each boundary of the short and long forms, INTEGERs
 * against i2d_ASN1_INTEGER, nesting with lengths that grow while a value is
 * open, and the sticky errors (unbalanced close, depth, multi-octet tags).
 *
 * der_get_time: RFC 5280 §4.1.2.5's two forms against values from
 * `date -u -d ... +%s` (the 1950/2049 UTCTime pivot, leap days, 9999), each
 * refusal the reader makes (lengths, fractions, offsets, non-digits, fields
 * out of range, the leap second), every day of years 0000-9999 against
 * glibc's gmtime_r, and agreement with OpenSSL's RFC 5280 mode
 * (ASN1_STRING_FLAG_X509_TIME) over a sweep of edge dates and mutated
 * strings.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* der_get_time on the NUL-terminated s. */
static int
get_time(unsigned int tag, const char *s, time_t *t)
{
	return der_get_time(tag, (const unsigned char *)s, strlen(s), t);
}

static void
test_time_valid(void **state)
{
	static const struct {
		unsigned int	 tag;
		const char	*s;
		long long	 want;	/* date -u -d ... +%s */
	} ok[] = {
		{ DER_UTCTIME, "700101000000Z", 0 },
		{ DER_UTCTIME, "691231235959Z", -1 },
		{ DER_UTCTIME, "260101000000Z", 1767225600 },
		/* §4.1.2.5.1: YY 50-99 is 19YY, 00-49 is 20YY. */
		{ DER_UTCTIME, "500101000000Z", -631152000 },
		{ DER_UTCTIME, "491231235959Z", 2524607999 },
		{ DER_UTCTIME, "991231235959Z", 946684799 },
		{ DER_UTCTIME, "000101000000Z", 946684800 },
		/* Leap days: 2024 (by 4), 2000 (by 400), year 0 (by 400). */
		{ DER_UTCTIME, "240229235959Z", 1709251199 },
		{ DER_GENERALIZEDTIME, "20240229235959Z", 1709251199 },
		{ DER_GENERALIZEDTIME, "20000229120000Z", 951825600 },
		{ DER_GENERALIZEDTIME, "00000229000000Z", -62162121600 },
		{ DER_GENERALIZEDTIME, "00000101000000Z", -62167219200 },
		{ DER_GENERALIZEDTIME, "21000301000000Z", 4107542400 },
		/* Either side of the pivot in GeneralizedTime too. */
		{ DER_GENERALIZEDTIME, "19491231235959Z", -631152001 },
		{ DER_GENERALIZEDTIME, "20500101000000Z", 2524608000 },
		{ DER_GENERALIZEDTIME, "99991231235959Z", 253402300799 },
	};
	size_t i;
	time_t t;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		t = 12345;
		if (get_time(ok[i].tag, ok[i].s, &t) != 0)
			fail_msg("%s refused", ok[i].s);
		if ((long long)t != ok[i].want)
			fail_msg("%s read as %lld, not %lld", ok[i].s,
			    (long long)t, ok[i].want);
	}
}

/*
 * What RFC 5280 §4.1.2.5 leaves out. Its text gives no range for seconds;
 * 60 (ISO 8601's leap second) is refused: time_t has no leap seconds, so
 * 23:59:60 could only be read as the next day's 00:00:00, and OpenSSL and
 * our writers never produce it. Hour 24 (ISO 8601's end of day) likewise.
 */
static void
test_time_refused(void **state)
{
	static const struct {
		unsigned int	 tag;
		const char	*s;
	} bad[] = {
		/* Lengths: no seconds, one digit short or long, no 'Z'. */
		{ DER_UTCTIME, "2402291200Z" },
		{ DER_UTCTIME, "24022912000Z" },
		{ DER_UTCTIME, "2402291200000Z" },
		{ DER_UTCTIME, "240229120000" },
		{ DER_UTCTIME, "" },
		{ DER_GENERALIZEDTIME, "202402291200Z" },
		{ DER_GENERALIZEDTIME, "20240229120000" },
		{ DER_GENERALIZEDTIME, "2024022912000000Z" },
		/* The other type's form. */
		{ DER_GENERALIZEDTIME, "240229120000Z" },
		{ DER_UTCTIME, "20240229120000Z" },
		/* Fractions (§4.1.2.5.2: none). */
		{ DER_GENERALIZEDTIME, "20240229120000.5Z" },
		{ DER_GENERALIZEDTIME, "20240229120000,5Z" },
		{ DER_GENERALIZEDTIME, "2024022912000.5Z" },
		{ DER_UTCTIME, "240229120000.5Z" },
		/* Zones but 'Z' (§4.1.2.5.1, §4.1.2.5.2: Zulu). */
		{ DER_UTCTIME, "240229120000+0000" },
		{ DER_UTCTIME, "2402291200-0100" },
		{ DER_GENERALIZEDTIME, "20240229120000+0100" },
		{ DER_GENERALIZEDTIME, "20240229120000-0000" },
		{ DER_UTCTIME, "240229120000z" },
		{ DER_GENERALIZEDTIME, "20240229120000z" },
		/* Non-digits where digits go. */
		{ DER_UTCTIME, "24022912000AZ" },
		{ DER_UTCTIME, " 40229120000Z" },
		{ DER_UTCTIME, "+40229120000Z" },
		{ DER_UTCTIME, "2402291200-0Z" },
		{ DER_GENERALIZEDTIME, "2024-02-29T12Z" },
		{ DER_GENERALIZEDTIME, "20240229120000ZZ" },
		{ DER_GENERALIZEDTIME, "2024022912000ZZ" },
		/* Fields out of range. */
		{ DER_UTCTIME, "240001000000Z" },	/* month 00 */
		{ DER_UTCTIME, "241301000000Z" },	/* month 13 */
		{ DER_UTCTIME, "240100000000Z" },	/* day 00 */
		{ DER_UTCTIME, "240132000000Z" },	/* day 32 */
		{ DER_UTCTIME, "240431000000Z" },	/* 31 April */
		{ DER_UTCTIME, "240230000000Z" },	/* 30 February */
		{ DER_UTCTIME, "230229000000Z" },	/* not a leap year */
		{ DER_GENERALIZEDTIME, "20230229000000Z" },
		{ DER_GENERALIZEDTIME, "19000229000000Z" },	/* by 100 */
		{ DER_GENERALIZEDTIME, "21000229000000Z" },
		{ DER_UTCTIME, "240229240000Z" },	/* hour 24 */
		{ DER_UTCTIME, "240229236000Z" },	/* minute 60 */
		{ DER_UTCTIME, "241231235960Z" },	/* second 60 */
		{ DER_GENERALIZEDTIME, "20161231235960Z" },
		{ DER_GENERALIZEDTIME, "99991231235999Z" },
	};
	size_t i;
	time_t t;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = 12345;
		if (get_time(bad[i].tag, bad[i].s, &t) != -1)
			fail_msg("%s accepted as %lld", bad[i].s, (long long)t);
		assert_int_equal(t, 0);		/* cleared on entry */
	}
	/* Only the two time types (a constructed UTCTime is BER's). */
	assert_int_equal(get_time(DER_OCTET_STRING, "240229120000Z", &t), -1);
	assert_int_equal(get_time(0x37, "240229120000Z", &t), -1);
	assert_int_equal(get_time(0x80 | DER_UTCTIME, "240229120000Z", &t), -1);
	/* A NUL inside: digits are checked by value, not as a C string. */
	assert_int_equal(der_get_time(DER_UTCTIME,
	    (const unsigned char *)"2402\0" "29120000Z", 13, &t), -1);
	assert_int_equal(der_get_time(DER_UTCTIME, NULL, 0, &t), -1);
}

/* Every day of years 0000-9999, at varying times of day, as gmtime_r says. */
static void
test_time_every_day(void **state)
{
	const long long first = -62167219200LL, last = 253402300799LL;
	char s[32];
	struct tm tm;
	long long day, v;
	time_t t, got;

	(void)state;
	for (day = 0; first + day * 86400 <= last; day++) {
		v = first + day * 86400 + (day * 7919) % 86400;
		t = (time_t)v;
		assert_non_null(gmtime_r(&t, &tm));
		snprintf(s, sizeof(s), "%04d%02d%02d%02d%02d%02dZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		if (get_time(DER_GENERALIZEDTIME, s, &got) != 0 || got != t)
			fail_msg("%s: not %lld", s, v);
		if (tm.tm_year < 50 || tm.tm_year > 149)
			continue;
		if (get_time(DER_UTCTIME, s + 2, &got) != 0 || got != t)
			fail_msg("%s: not %lld", s + 2, v);
	}
}

/*
 * OpenSSL's reading in its RFC 5280 mode (the flag ASN1_TIME_set_string_X509
 * sets): 0 and the value, or -1.
 */
static int
openssl_time(unsigned int tag, const unsigned char *v, size_t len, time_t *t)
{
	ASN1_TIME at;
	struct tm tm;

	at.type = tag == DER_UTCTIME ? V_ASN1_UTCTIME : V_ASN1_GENERALIZEDTIME;
	at.length = (int)len;
	at.data = (unsigned char *)v;
	at.flags = ASN1_STRING_FLAG_X509_TIME;
	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(&at, &tm) != 1)
		return -1;
	*t = timegm(&tm);
	return 0;
}

/* der_get_time and OpenSSL agree on v: both refuse, or both read one value. */
static void
agree(unsigned int tag, const unsigned char *v, size_t len)
{
	time_t ours, theirs;
	int a, b;

	a = der_get_time(tag, v, len, &ours);
	b = openssl_time(tag, v, len, &theirs);
	if (a != b || (a == 0 && ours != theirs))
		fail_msg("%s \"%.*s\": ours %d (%lld), OpenSSL's %d (%lld)",
		    tag == DER_UTCTIME ? "UTCTime" : "GeneralizedTime",
		    (int)len, (const char *)v, a, (long long)ours, b,
		    a == b ? (long long)theirs : 0LL);
}

static void
test_time_openssl(void **state)
{
	static const char *const years[] = { "0000", "0004", "1900", "1949",
	    "1950", "1999", "2000", "2023", "2024", "2049", "2050", "2100",
	    "2400", "9999" };
	static const char *const clocks[] = { "000000", "235959", "240000",
	    "006000", "000060", "995999" };
	static const char alphabet[] = "0123456789Z.+-z ";
	unsigned char s[32];
	size_t y, c, len, n, accepted = 0;
	int mon, day, i, k;

	(void)state;
	for (y = 0; y < sizeof(years) / sizeof(years[0]); y++)
		for (mon = 0; mon <= 13; mon++)
			for (day = 0; day <= 32; day++)
				for (c = 0; c < 6; c++) {
					snprintf((char *)s, sizeof(s),
					    "%s%02d%02d%sZ", years[y], mon, day,
					    clocks[c]);
					agree(DER_GENERALIZEDTIME, s, 15);
					agree(DER_UTCTIME, s + 2, 13);
					accepted += der_get_time(
					    DER_GENERALIZEDTIME, s, 15,
					    &(time_t){ 0 }) == 0;
				}
	/* Every real day of the 14 years (5 leap) at both good clocks. */
	assert_int_equal(accepted, (14 * 365 + 5) * 2);
	/* Mutations of a valid time: a character changed, dropped or added. */
	srandom(5280);
	for (i = 0; i < 200000; i++) {
		memcpy(s, "20240229235959Z", 15);
		len = 15;
		for (k = random() % 3; k >= 0; k--) {
			n = (size_t)random() % len;
			switch (random() % 3) {
			case 0:
				s[n] = (unsigned char)alphabet[random() %
				    (sizeof(alphabet) - 1)];
				break;
			case 1:
				memmove(s + n, s + n + 1, len - n - 1);
				len--;
				break;
			default:
				memmove(s + n + 1, s + n, len - n);
				s[n] = (unsigned char)alphabet[random() %
				    (sizeof(alphabet) - 1)];
				len++;
				break;
			}
		}
		agree(DER_GENERALIZEDTIME, s, len);
		if (len >= 2)
			agree(DER_UTCTIME, s + 2, len - 2);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_time_valid),
		cmocka_unit_test(test_time_refused),
		cmocka_unit_test(test_time_every_day),
		cmocka_unit_test(test_time_openssl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
