/*
 * ra/request.c ra_parse_empty: the body of a request that takes no member
 * (POST /v1/sign-services/{id}/grant and /revoke). Absent or "{}" passes;
 * a member (named in the detail), a duplicate, malformed JSON, another
 * type than an object and an oversized body are refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ra/extern.h"

#define PARSE(body)	ra_parse_empty(body, strlen(body), detail, sizeof(detail))

static void
test_empty_accepted(void **state)
{
	char detail[256];

	(void)state;
	assert_int_equal(ra_parse_empty(NULL, 0, detail, sizeof(detail)), 0);
	assert_int_equal(ra_parse_empty("", 0, detail, sizeof(detail)), 0);
	assert_int_equal(PARSE("{}"), 0);
	assert_int_equal(PARSE(" { } \n"), 0);
}

static void
test_empty_refused(void **state)
{
	char detail[256], *big;

	(void)state;
	assert_int_equal(PARSE("{\"scope\":\"all\"}"), -1);
	assert_non_null(strstr(detail, "scope"));
	assert_null(strstr(detail, "all"));	/* never the value */
	assert_int_equal(PARSE("{\"a\":1,\"a\":1}"), -1);
	assert_non_null(strstr(detail, "duplicate"));
	assert_int_equal(PARSE("{"), -1);
	assert_int_equal(PARSE("[]"), -1);
	assert_int_equal(PARSE("null"), -1);
	assert_int_equal(PARSE("{} {}"), -1);
	/* A body past RA_MAX_BODY is not parsed (route.c answers 413 first). */
	big = malloc(RA_MAX_BODY + 3);
	assert_non_null(big);
	memset(big, ' ', RA_MAX_BODY + 2);
	big[0] = '{';
	big[RA_MAX_BODY + 1] = '}';
	big[RA_MAX_BODY + 2] = '\0';
	assert_int_equal(PARSE(big), -1);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_accepted),
		cmocka_unit_test(test_empty_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
