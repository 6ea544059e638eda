/*
 * ra/mask.c: the masked NIK, phone number, email address and DN of audit
 * details, mails and the auditor's view; short, odd and truncated
 * inputs never overrun and never show more than the rule allows.
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

static void
test_nik(void **state)
{
	char out[RA_MASK_MAX];

	(void)state;
	ra_mask_nik("3174015508909915", out, sizeof(out));
	assert_string_equal(out, "************9915");
	ra_mask_nik("12345", out, sizeof(out));
	assert_string_equal(out, "*2345");
	ra_mask_nik("1234", out, sizeof(out));
	assert_string_equal(out, "****");
	ra_mask_nik("", out, sizeof(out));
	assert_string_equal(out, "");
	ra_mask_nik("3174015508909915", out, 5);
	assert_string_equal(out, "****");
}

static void
test_phone(void **state)
{
	char out[RA_MASK_MAX];

	(void)state;
	ra_mask_phone("+6281234564174", out, sizeof(out));
	assert_string_equal(out, "+62812****4174");
	ra_mask_phone("+628123456789012", out, sizeof(out));
	assert_string_equal(out, "+62812****9012");
	ra_mask_phone("+62812345", out, sizeof(out));
	assert_string_equal(out, "****45");
	ra_mask_phone("7", out, sizeof(out));
	assert_string_equal(out, "****");
	ra_mask_phone("+6281234564174", out, 8);
	assert_string_equal(out, "+62812*");
}

static void
test_email(void **state)
{
	char out[RA_MASK_MAX];

	(void)state;
	ra_mask_email("linda@example.com", out, sizeof(out));
	assert_string_equal(out, "li\xe2\x80\xa6@example.com");
	ra_mask_email("ab@example.com", out, sizeof(out));
	assert_string_equal(out, "\xe2\x80\xa6@example.com");
	ra_mask_email("a\"@\"b@example.com", out, sizeof(out));
	assert_string_equal(out, "a\"\xe2\x80\xa6@example.com");
	ra_mask_email("\xc3\xa9t\xc3\xa9@example.com", out, sizeof(out));
	assert_string_equal(out, "\xe2\x80\xa6@example.com");
	ra_mask_email("no-at-sign", out, sizeof(out));
	assert_string_equal(out, "\xe2\x80\xa6");
	ra_mask_email("linda@example.com", out, 4);
	assert_int_equal(strlen(out), 3);
}

static void
test_dn(void **state)
{
	char out[RA_MASK_MAX];

	(void)state;
	ra_mask_dn("C=ID, CN=Linda Wati, serialNumber=NIK:3174015508909915",
	    out, sizeof(out));
	assert_string_equal(out, "C=ID, CN=Linda Wati, "
	    "serialNumber=NIK:************9915");
	ra_mask_dn("serialNumber=NIK:12,CN=A", out, sizeof(out));
	assert_string_equal(out, "serialNumber=NIK:**,CN=A");
	ra_mask_dn("CN=No NIK here, O=Contoh", out, sizeof(out));
	assert_string_equal(out, "CN=No NIK here, O=Contoh");
	ra_mask_dn("NIK:3174015508909915", out, 10);
	assert_string_equal(out, "NIK:*****");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nik),
		cmocka_unit_test(test_phone),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_dn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
