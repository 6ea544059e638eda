/*
 * lib/auditseal.c auditseal_event_id: the top-level "id" of an exported
 * event line, as `pkiaudit prove` looks an event up. A genuine line whose
 * details hold an integer beyond int64 or deep nesting (jansson refused the
 * whole line, and prove said a sealed event was not sealed) gives its id;
 * an "id" inside details or inside a string is not the event's; a line
 * without exactly one positive integer id up to INT64_MAX, or not one
 * closed object, is refused.
 *
 * The tree head and the seal line with and without a handover's next key:
 * a head without it is byte for byte the text of before rotation; with it,
 * one more last line, parsed back exactly; a seal line without next_key
 * parses as before, one with it keeps it, and a malformed one is refused.
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

static void
sample_seal(struct auditseal *s)
{
	memset(s, 0, sizeof(*s));
	s->id = 7;
	s->tree_size = 120;
	memset(s->root, 0xab, sizeof(s->root));
	snprintf(s->sealed_at, sizeof(s->sealed_at),
	    "2026-12-07T15:00:00.123456Z");
	snprintf(s->key, sizeof(s->key), "audit-1");
	s->siglen = 3;
	memcpy(s->sig, "\x30\x01\x00", 3);
}

static const char head_plain[] = "pki-audit-tree-head-v1\nseal 7\nsize 120\n"
    "root abababababababababababababababababababababababababababababababab\n"
    "time 2026-12-07T15:00:00.123456Z\nkey audit-1\n";
static const char next_line[] = "next audit-2 "
    "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd\n";

static void
test_head_next(void **state)
{
	struct auditseal s, got;
	char buf[600], want[600];
	int n;

	(void)state;
	sample_seal(&s);
	/* Without a next key: exactly the text of before rotation. */
	n = auditseal_head_text(&s, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(head_plain));
	assert_memory_equal(buf, head_plain, strlen(head_plain));
	assert_int_equal(auditseal_head_parse((unsigned char *)buf, (size_t)n,
	    &got), 0);
	assert_string_equal(got.next_key, "");
	assert_int_equal(got.id, 7);
	assert_int_equal(auditseal_head_check((unsigned char *)buf, (size_t)n,
	    "audit-1"), 0);
	assert_int_equal(auditseal_head_check((unsigned char *)buf, (size_t)n,
	    "audit-2"), -1);
	/* With one: the same text and one more last line. */
	snprintf(s.next_key, sizeof(s.next_key), "audit-2");
	memset(s.next_spki_sha256, 0xcd, sizeof(s.next_spki_sha256));
	snprintf(want, sizeof(want), "%s%s", head_plain, next_line);
	n = auditseal_head_text(&s, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(want));
	assert_memory_equal(buf, want, strlen(want));
	assert_int_equal(auditseal_head_parse((unsigned char *)buf, (size_t)n,
	    &got), 0);
	assert_string_equal(got.next_key, "audit-2");
	assert_memory_equal(got.next_spki_sha256, s.next_spki_sha256,
	    AUDITSEAL_SPKI_HASH);
	assert_string_equal(got.key, "audit-1");
	assert_int_equal(auditseal_head_check((unsigned char *)buf, (size_t)n,
	    "audit-1"), 0);
	/* Not exactly head_text's: each refused. */
	snprintf(buf, sizeof(buf), "%snext audit-2 cdcd\n", head_plain);
	assert_int_equal(auditseal_head_parse((unsigned char *)buf,
	    strlen(buf), &got), -1);
	assert_string_equal(got.next_key, "");
	snprintf(buf, sizeof(buf), "%s%sextra\n", head_plain, next_line);
	assert_int_equal(auditseal_head_parse((unsigned char *)buf,
	    strlen(buf), &got), -1);
	snprintf(buf, sizeof(buf), "%s%s", head_plain, next_line);
	buf[strlen(buf) - 1] = '\0';	/* no final newline */
	assert_int_equal(auditseal_head_parse((unsigned char *)buf,
	    strlen(buf), &got), -1);
	snprintf(buf, sizeof(buf), "%snext  audit-2 %s", head_plain,
	    next_line + 13);
	assert_int_equal(auditseal_head_parse((unsigned char *)buf,
	    strlen(buf), &got), -1);
	snprintf(buf, sizeof(buf), "%s\n%s", head_plain, next_line);
	assert_int_equal(auditseal_head_parse((unsigned char *)buf,
	    strlen(buf), &got), -1);
	snprintf(buf, sizeof(buf), "%sNEXT%s", head_plain, next_line + 4);
	assert_int_equal(auditseal_head_parse((unsigned char *)buf,
	    strlen(buf), &got), -1);
	snprintf(buf, sizeof(buf), "%s%s", head_plain, next_line);
	*strstr(buf, "cdcd") = 'C';
	assert_int_equal(auditseal_head_parse((unsigned char *)buf,
	    strlen(buf), &got), -1);
}

static void
test_seal_line_next(void **state)
{
	struct auditseal s, got;
	char *line, err[256];
	const char *old = "{\"key\":\"audit-1\",\"root\":\"abababababababab"
	    "abababababababababababababababababababababababab\",\"seal\":7,"
	    "\"sealed_at\":\"2026-12-07T15:00:00.123456Z\",\"signature\":"
	    "\"300100\",\"tree_size\":120}";
	const char *bad[] = {
	    "\"next_key\":null,",
	    "\"next_key\":\"audit-2\",",
	    "\"next_key\":{\"label\":\"audit-2\"},",
	    "\"next_key\":{\"label\":\"audit 2\",\"public_key_sha256\":"
	    "\"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd\"},",
	    "\"next_key\":{\"label\":\"audit-2\",\"public_key_sha256\":"
	    "\"CDcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd\"},",
	    "\"next_key\":{\"label\":\"audit-2\",\"public_key_sha256\":"
	    "\"cdcd\"},",
	    "\"next_key\":{\"label\":\"audit-2\",\"public_key_sha256\":"
	    "\"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd\","
	    "\"x\":1},",
	};
	char buf[1024];
	size_t i;

	(void)state;
	/* A line of before rotation: the same line back, no next key. */
	sample_seal(&s);
	assert_non_null(line = auditseal_seal_json(&s));
	assert_string_equal(line, old);
	assert_int_equal(auditseal_seal_parse(old, strlen(old), &got, err,
	    sizeof(err)), 0);
	assert_string_equal(got.next_key, "");
	assert_memory_equal(&got, &s, sizeof(s));
	free(line);
	/* A handover seal's line names it, and parses back to the same. */
	snprintf(s.next_key, sizeof(s.next_key), "audit-2");
	memset(s.next_spki_sha256, 0xcd, sizeof(s.next_spki_sha256));
	assert_non_null(line = auditseal_seal_json(&s));
	assert_non_null(strstr(line, "\"next_key\":{\"label\":\"audit-2\","
	    "\"public_key_sha256\":\"cdcdcdcd"));
	assert_int_equal(auditseal_seal_parse(line, strlen(line), &got, err,
	    sizeof(err)), 0);
	assert_memory_equal(&got, &s, sizeof(s));
	free(line);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "{%s%s", bad[i], old + 1);
		if (auditseal_seal_parse(buf, strlen(buf), &got, err,
		    sizeof(err)) == 0)
			fail_msg("accepted: %s", buf);
	}
}

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
		cmocka_unit_test(test_head_next),
		cmocka_unit_test(test_seal_line_next),
		cmocka_unit_test(test_genuine),
		cmocka_unit_test(test_not_the_event_id),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
