/*
 * lib/auditseal.c auditseal_event_id: the top-level "id" of an exported
 * event line, as `pkiaudit prove` looks an event up. A genuine line whose
 * details hold an integer beyond int64 or deep nesting (jansson refused the
 * whole line, and prove said a sealed event was not sealed) gives its id;
 * an "id" inside details or inside a string is not the event's; a line
 * without exactly one positive integer id up to INT64_MAX, or not one
 * closed object, is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/auditseal.h"

static int
event_id(const char *line, uint64_t *id)
{
	return auditseal_event_id(line, strlen(line), id);
}

static void
test_genuine(void **state)
{
	uint64_t id;
	char *deep;
	size_t i, n = 3000;

	(void)state;
	assert_int_equal(event_id("{\"at\": \"2026-12-07T11:00:38.765118Z\", "
	    "\"id\": 41, \"actor\": \"probe\", \"action\": \"probe.big\", "
	    "\"db_role\": \"pki_ra\", \"details\": {\"n\": "
	    "10000000000000000000}, \"object_id\": \"1\", \"object_type\": "
	    "\"probe\"}", &id), 0);
	assert_int_equal(id, 41);
	assert_int_equal(event_id("{\"id\": 42, \"details\": {\"n\": "
	    "12345678901234567890123456789e999}}", &id), 0);
	assert_int_equal(id, 42);
	/* {"at": "x", "id": 44, "details": {"d": [[[...]]]}} */
	assert_non_null(deep = malloc(64 + 2 * n));
	i = (size_t)snprintf(deep, 64, "{\"at\": \"x\", \"id\": 44, "
	    "\"details\": {\"d\": ");
	memset(deep + i, '[', n);
	memset(deep + i + n, ']', n);
	strcpy(deep + i + 2 * n, "}}");
	assert_int_equal(event_id(deep, &id), 0);
	assert_int_equal(id, 44);
	free(deep);
	assert_int_equal(event_id(" {\"id\":9223372036854775807} \n", &id), 0);
	assert_int_equal(id, INT64_MAX);
}

static void
test_not_the_event_id(void **state)
{
	uint64_t id;

	(void)state;
	/* details' own id, and "id" in strings, are not the event's. */
	assert_int_equal(event_id("{\"at\": \"\\\"id\\\": 5\", \"details\": "
	    "{\"id\": 6, \"x\": [{\"id\": 7}]}, \"id\": 8, \"actor\": \"id\"}",
	    &id), 0);
	assert_int_equal(id, 8);
	assert_int_equal(event_id("{\"details\": {\"id\": 6}}", &id), -1);
	assert_int_equal(event_id("{\"actor\": \"id\", \"x\": \"\\\\\", "
	    "\"y\": \"id\"}", &id), -1);
	assert_int_equal(event_id("{\"xid\": 3, \"idx\": 4}", &id), -1);
	assert_int_equal(id, 0);
}

static void
test_refused(void **state)
{
	static const char *const bad[] = {
		"", "   ", "[{\"id\": 1}]", "\"id\": 1", "{\"id\": 1",
		"{\"id\": 1}}", "{\"id\": 1} x", "{\"id\": 1}{}",
		"{\"id\": 0}", "{\"id\": -1}", "{\"id\": 01}", "{\"id\": 1.5}",
		"{\"id\": 1e3}", "{\"id\": \"1\"}", "{\"id\": null}",
		"{\"id\": 9223372036854775808}",
		"{\"id\": 18446744073709551617}",
		"{\"id\": 1, \"id\": 1}", "{\"id\" 1}", "{\"id\": }",
		"{\"id\": 1 2}", "{\"a\": \"unterminated}",
		"{\"a\": \"a\x01\", \"id\": 1}",
	};
	uint64_t id;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		id = 99;
		if (event_id(bad[i], &id) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(id, 0);
	}
	/* Over the line limit pkiaudit reads. */
	assert_int_equal(auditseal_event_id("{\"id\": 1}",
	    (size_t)AUDITSEAL_LINE_MAX + 1, &id), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_genuine),
		cmocka_unit_test(test_not_the_event_id),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
