/*
 * ra/nik.c: the NIK structure (valid male and female NIKs, every rule broken
 * once), agreement with the birth date and sex, 29 February, the century,
 * ages; the base64 and magic-byte helpers of ra/kycreq.c, and what its
 * parser allocates for a hostile body.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ra/extern.h"

/* A malformed NIK: refused, with a detail that names the digits, not the NIK. */
static void
bad(const char *nik, const char *digits)
{
	struct ra_nik n;
	char detail[256];

	detail[0] = '\0';
	assert_int_equal(ra_nik_parse(nik, &n, detail, sizeof(detail)), -1);
	assert_non_null(strstr(detail, digits));
	if (strlen(nik) >= 6)
		assert_null(strstr(detail, nik));
	assert_int_equal(n.province, 0);
}

static struct ra_date
date(const char *s)
{
	struct ra_date d;

	assert_int_equal(ra_date_parse(s, &d), 0);
	return d;
}

static void
test_valid(void **state)
{
	struct ra_nik n;
	char detail[256];

	(void)state;
	/* DKI Jakarta (31), Jakarta Selatan (74), district 01, 15-08-90. */
	assert_int_equal(ra_nik_parse("3174011508900001", &n, detail,
	    sizeof(detail)), 0);
	assert_int_equal(n.province, 31);
	assert_int_equal(n.regency, 74);
	assert_int_equal(n.district, 1);
	assert_int_equal(n.day, 15);
	assert_int_equal(n.month, 8);
	assert_int_equal(n.yy, 90);
	assert_int_equal(n.sex, 'M');
	assert_int_equal(n.serial, 1);
	/* The same date for a woman: day + 40. */
	assert_int_equal(ra_nik_parse("3174015508900002", &n, detail,
	    sizeof(detail)), 0);
	assert_int_equal(n.day, 15);
	assert_int_equal(n.sex, 'F');
	/* Day 1 of a woman is 41; day 31 is 71. */
	assert_int_equal(ra_nik_parse("3201014101850123", &n, detail,
	    sizeof(detail)), 0);
	assert_int_equal(n.day, 1);
	assert_int_equal(ra_nik_parse("3201017112859999", &n, detail,
	    sizeof(detail)), 0);
	assert_int_equal(n.day, 31);
	assert_int_equal(n.serial, 9999);
}

static void
test_provinces(void **state)
{
	static const int valid[] = { 11, 19, 21, 31, 36, 51, 53, 61, 65, 71,
	    76, 81, 82, 91, 92, 93, 94, 95, 96 };
	static const int invalid[] = { 0, 10, 20, 22, 30, 37, 50, 54, 60, 66,
	    70, 77, 80, 83, 90, 97, 99 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
		assert_true(ra_province_valid(valid[i]));
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		assert_false(ra_province_valid(invalid[i]));
	/* Papua Barat Daya (96), a 2022 province. */
	{
		struct ra_nik n;
		char detail[256];

		assert_int_equal(ra_nik_parse("9601011508900001", &n, detail,
		    sizeof(detail)), 0);
	}
}

static void
test_each_rule(void **state)
{
	(void)state;
	bad("317401150890001", "16 digits");		/* 15 digits */
	bad("31740115089000011", "16 digits");		/* 17 digits */
	bad("", "16 digits");
	bad("31740115089O0001", "digits");		/* letter O */
	bad("3174 11508900001", "digits");
	bad("1074011508900001", "1-2");			/* province 10 */
	bad("3774011508900001", "1-2");			/* province 37 */
	bad("9774011508900001", "1-2");			/* province 97 */
	bad("3100011508900001", "3-4");			/* regency 00 */
	bad("3174001508900001", "5-6");			/* district 00 */
	bad("3174010008900001", "7-8");			/* day 00 */
	bad("3174013208900001", "7-8");			/* day 32 */
	bad("3174014008900001", "7-8");			/* 40: woman's day 0 */
	bad("3174017208900001", "7-8");			/* 72: woman's day 32 */
	bad("3174013104900001", "7-8");			/* 31 April */
	bad("3174011500900001", "9-10");		/* month 00 */
	bad("3174011513900001", "9-10");		/* month 13 */
	bad("3174011508900000", "13-16");		/* serial 0000 */
}

static void
test_february(void **state)
{
	struct ra_nik n;
	struct ra_date d;
	char detail[256];

	(void)state;
	/* 29 Feb: possible when yy % 4 == 0 (00: 2000 is leap). */
	assert_int_equal(ra_nik_parse("3273012902000001", &n, detail,
	    sizeof(detail)), 0);
	assert_int_equal(ra_nik_parse("3273016902040001", &n, detail,
	    sizeof(detail)), 0);
	bad("3273012902010001", "7-8");			/* 2001/1901 */
	bad("3273013002000001", "7-8");			/* 30 Feb */
	/* The stated date settles the century. */
	d = date("2000-02-29");
	assert_int_equal(ra_nik_check("3273012902000001", &d, 'M', detail,
	    sizeof(detail)), RA_NIK_OK);
	assert_int_equal(ra_date_parse("1900-02-29", &d), -1);
	assert_int_equal(ra_date_parse("2100-02-29", &d), -1);
	assert_int_equal(ra_date_parse("2004-02-29", &d), 0);
	assert_int_equal(ra_date_parse("2023-02-29", &d), -1);
}

static void
test_consistency(void **state)
{
	struct ra_date d;
	char detail[256];

	(void)state;
	d = date("1990-08-15");
	assert_int_equal(ra_nik_check("3174011508900001", &d, 'M', detail,
	    sizeof(detail)), RA_NIK_OK);
	assert_int_equal(ra_nik_check("3174015508900002", &d, 'F', detail,
	    sizeof(detail)), RA_NIK_OK);
	/* Sex: a woman's NIK for a man and the other way round. */
	assert_int_equal(ra_nik_check("3174015508900002", &d, 'M', detail,
	    sizeof(detail)), RA_NIK_MISMATCH);
	assert_non_null(strstr(detail, "female"));
	assert_null(strstr(detail, "3174015508900002"));
	assert_int_equal(ra_nik_check("3174011508900001", &d, 'F', detail,
	    sizeof(detail)), RA_NIK_MISMATCH);
	/* Day, month, year each differing once. */
	d = date("1990-08-16");
	assert_int_equal(ra_nik_check("3174011508900001", &d, 'M', detail,
	    sizeof(detail)), RA_NIK_MISMATCH);
	assert_non_null(strstr(detail, "birth_date"));
	d = date("1990-09-15");
	assert_int_equal(ra_nik_check("3174011508900001", &d, 'M', detail,
	    sizeof(detail)), RA_NIK_MISMATCH);
	d = date("1991-08-15");
	assert_int_equal(ra_nik_check("3174011508900001", &d, 'M', detail,
	    sizeof(detail)), RA_NIK_MISMATCH);
	/* Century: yy 90 agrees with 1990 and with 2090 alike; 05 with 2005. */
	d = date("2005-01-02");
	assert_int_equal(ra_nik_check("3174010201050001", &d, 'M', detail,
	    sizeof(detail)), RA_NIK_OK);
	d = date("1905-01-02");
	assert_int_equal(ra_nik_check("3174010201050001", &d, 'M', detail,
	    sizeof(detail)), RA_NIK_OK);
	d = date("2015-01-02");
	assert_int_equal(ra_nik_check("3174010201050001", &d, 'M', detail,
	    sizeof(detail)), RA_NIK_MISMATCH);
	/* A malformed NIK stays malformed, whatever the date. */
	assert_int_equal(ra_nik_check("3174010201050000", &d, 'M', detail,
	    sizeof(detail)), RA_NIK_MALFORMED);
}

static void
test_dates_and_age(void **state)
{
	struct ra_date b, t;
	const char *badd[] = { "1990-8-15", "1990/08/15", "19900815",
	    "1990-08-15 ", "1990-13-01", "1990-00-10", "1990-04-31",
	    "1899-12-31", "1990-08-00", "+990-08-15", "" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(badd) / sizeof(badd[0]); i++)
		assert_int_equal(ra_date_parse(badd[i], &b), -1);
	b = date("2008-06-10");
	t = date("2025-06-09");
	assert_int_equal(ra_age_years(&b, &t), 16);
	t = date("2025-06-10");
	assert_int_equal(ra_age_years(&b, &t), 17);
	/* Born 29 February: 17 on 1 March of a common year. */
	b = date("2008-02-29");
	t = date("2025-02-28");
	assert_int_equal(ra_age_years(&b, &t), 16);
	t = date("2025-03-01");
	assert_int_equal(ra_age_years(&b, &t), 17);
	t = date("2028-02-29");
	assert_int_equal(ra_age_years(&b, &t), 20);
	assert_int_equal(ra_date_today(&t), 0);
	assert_true(t.year >= 2024);
}

static void
test_base64_and_magic(void **state)
{
	unsigned char *out = NULL;
	size_t n;
	int big;
	static const unsigned char png[] = { 0x89, 'P', 'N', 'G', '\r', '\n',
	    0x1a, '\n', 0 };
	static const unsigned char jpg[] = { 0xff, 0xd8, 0xff, 0xe0 };

	(void)state;
	assert_int_equal(ra_base64_decode("aGVsbG8=", 8, 100, &out, &n, &big),
	    0);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "hello", 5);
	free(out);
	assert_int_equal(ra_base64_decode("aGk=", 4, 100, &out, &n, &big), 0);
	assert_int_equal(n, 2);
	free(out);
	assert_int_equal(ra_base64_decode("aGVsbA==", 8, 100, &out, &n, &big),
	    0);
	assert_int_equal(n, 4);
	free(out);
	/* Unpadded, whitespace, bad characters, padding inside, non-canonical. */
	assert_int_equal(ra_base64_decode("aGVsbG8", 7, 100, &out, &n, &big),
	    -1);
	assert_null(out);
	assert_int_equal(ra_base64_decode("aGVs bG8=", 9, 100, &out, &n, &big),
	    -1);
	assert_int_equal(ra_base64_decode("aGVs\nbG8", 8, 100, &out, &n, &big),
	    -1);
	assert_int_equal(ra_base64_decode("aG=sbG8=", 8, 100, &out, &n, &big),
	    -1);
	assert_int_equal(ra_base64_decode("aGVsbG9=", 8, 100, &out, &n, &big),
	    -1);
	assert_int_equal(ra_base64_decode("aGVsbB==", 8, 100, &out, &n, &big),
	    -1);
	assert_int_equal(ra_base64_decode("a-_=", 4, 100, &out, &n, &big), -1);
	assert_int_equal(ra_base64_decode("====", 4, 100, &out, &n, &big), -1);
	assert_int_equal(ra_base64_decode("", 0, 100, &out, &n, &big), -1);
	/* Over the limit: refused before decoding, and said so. */
	assert_int_equal(ra_base64_decode("aGVsbG8=", 8, 4, &out, &n, &big),
	    -1);
	assert_int_equal(big, 1);
	assert_int_equal(ra_base64_decode("aGVsbG8=", 8, 5, &out, &n, &big), 0);
	free(out);

	assert_string_equal(ra_image_type(png, sizeof(png)), "image/png");
	assert_string_equal(ra_image_type(jpg, sizeof(jpg)), "image/jpeg");
	assert_null(ra_image_type(png, 7));
	assert_null(ra_image_type((const unsigned char *)"GIF89a", 6));
	assert_null(ra_image_type((const unsigned char *)"%PDF-1.7", 8));
}

/* jansson's allocations, counted: the bytes held now and at most. */
static size_t held, held_max;

static void *
counted_malloc(size_t n)
{
	size_t *p;

	if ((p = malloc(n + 2 * sizeof(size_t))) == NULL)
		return NULL;
	p[0] = n;
	if ((held += n) > held_max)
		held_max = held;
	return p + 2;
}

static void
counted_free(void *q)
{
	size_t *p;

	if (q == NULL)
		return;
	p = (size_t *)q - 2;
	held -= p[0];
	free(p);
}

/*
 * A body of 4 MiB, within what POST /v1/applications accepts for two
 * images of 2 MiB, that is hundreds of thousands of tiny values: refused
 * (400) before jansson allocates a value for each (it held some 300 MiB).
 */
static void
test_kyc_values(void **state)
{
	static const char head[] = "{\"nik\":\"3174011508900001\","
	    "\"company_id\":[";
	static const struct ra_image_limits lim = { 2 << 20, 64, 8000,
	    40000000 };
	struct ra_kyc_req r;
	char *body, detail[256];
	size_t len = 4 << 20, off;
	int status;

	(void)state;
	assert_non_null(body = malloc(len + 4));
	memcpy(body, head, sizeof(head) - 1);
	for (off = sizeof(head) - 1; off + 3 < len; off += 3)
		memcpy(body + off, "{},", 3);
	memcpy(body + off, "{}]}", 4);
	off += 4;
	held = held_max = 0;
	json_set_alloc_funcs(counted_malloc, counted_free);
	assert_int_equal(ra_parse_kyc(body, off, &lim, &r, &status, detail,
	    sizeof(detail)), -1);
	json_set_alloc_funcs(malloc, free);
	assert_int_equal(status, 400);
	assert_non_null(strstr(detail, "JSON values"));
	assert_int_equal(held, 0);
	assert_true(held_max < 64 * 1024);
	/* A few values more than a KYC body has still reach the parser. */
	held = held_max = 0;
	json_set_alloc_funcs(counted_malloc, counted_free);
	assert_int_equal(ra_parse_kyc("{\"nik\":[{},{},{},{},{},{},{},{}]}",
	    33, &lim, &r, &status, detail, sizeof(detail)), -1);
	json_set_alloc_funcs(malloc, free);
	assert_int_equal(status, 400);
	assert_null(strstr(detail, "JSON values"));
	assert_true(held_max > 0);
	free(body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_provinces),
		cmocka_unit_test(test_each_rule),
		cmocka_unit_test(test_february),
		cmocka_unit_test(test_consistency),
		cmocka_unit_test(test_dates_and_age),
		cmocka_unit_test(test_base64_and_magic),
		cmocka_unit_test(test_kyc_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
