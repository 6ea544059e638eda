/*
 * lib/log: one valid JSON object per line, escaping, level filter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "lib/log.h"

#define MAX_LINES 16

/* Reads every line written to f so far; each must be a JSON object. */
static int
read_lines(FILE *f, json_t *lines[MAX_LINES])
{
	char buf[8192];
	json_error_t err;
	int n = 0;

	rewind(f);
	while (fgets(buf, sizeof(buf), f) != NULL) {
		assert_true(n < MAX_LINES);
		assert_non_null(strchr(buf, '\n'));
		lines[n] = json_loads(buf, 0, &err);
		if (lines[n] == NULL)
			fail_msg("line %d not JSON: %s (%s)", n, buf, err.text);
		assert_true(json_is_object(lines[n]));
		n++;
	}
	return n;
}

static void
free_lines(json_t *lines[MAX_LINES], int n)
{
	while (n-- > 0)
		json_decref(lines[n]);
}

static const char *
field(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	assert_true(json_is_string(v));
	return json_string_value(v);
}

static void
test_json_lines(void **state)
{
	json_t *lines[MAX_LINES];
	FILE *f;
	const char *ts;
	int n;

	f = tmpfile();
	assert_non_null(f);
	log_init("test-log", LOGL_DEBUG, f);
	log_info("hello %d", 42);
	log_err("plain");
	n = read_lines(f, lines);
	assert_int_equal(n, 2);
	assert_string_equal(field(lines[0], "level"), "info");
	assert_string_equal(field(lines[0], "component"), "test-log");
	assert_string_equal(field(lines[0], "msg"), "hello 42");
	assert_string_equal(field(lines[1], "level"), "err");
	ts = field(lines[0], "ts");
	/* 2026-11-22T04:30:00.123Z */
	assert_int_equal(strlen(ts), 24);
	assert_int_equal(ts[10], 'T');
	assert_int_equal(ts[19], '.');
	assert_int_equal(ts[23], 'Z');
	assert_int_equal(json_object_size(lines[0]), 4);
	free_lines(lines, n);
	log_init(NULL, LOGL_INFO, NULL);
	fclose(f);
}

static void
test_escaping(void **state)
{
	json_t *lines[MAX_LINES];
	FILE *f;
	int n;

	f = tmpfile();
	assert_non_null(f);
	log_init("esc", LOGL_INFO, f);
	log_warn("a \"quoted\" word\nsecond line\tand \\ backslash %s",
	    "{\"x\":1}");
	log_info("ctrl \x01\x1b[31m end");
	n = read_lines(f, lines);
	/* A newline in the message must not split the record. */
	assert_int_equal(n, 2);
	assert_string_equal(field(lines[0], "msg"),
	    "a \"quoted\" word\nsecond line\tand \\ backslash {\"x\":1}");
	assert_string_equal(field(lines[1], "msg"), "ctrl \x01\x1b[31m end");
	free_lines(lines, n);
	log_init(NULL, LOGL_INFO, NULL);
	fclose(f);
}

static void
test_invalid_utf8_kept(void **state)
{
	json_t *lines[MAX_LINES];
	FILE *f;
	const char *msg;
	char big[4000];
	size_t i;
	int n;

	f = tmpfile();
	assert_non_null(f);
	log_init("utf8", LOGL_INFO, f);
	/* Client-supplied bytes may be anything; the line must survive. */
	log_info("bad \xff\xfe bytes, ok \xc3\xa9");
	/* Over the message buffer: truncated, cut inside a character. */
	memset(big, 0, sizeof(big));
	for (i = 0; i + 2 < sizeof(big); i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	log_info("%s", big);
	log_info("overlong \xc0\xaf surrogate \xed\xa0\x80 short \xe2\x82");
	n = read_lines(f, lines);
	assert_int_equal(n, 3);
	msg = field(lines[0], "msg");
	assert_non_null(strstr(msg, "bad "));
	assert_non_null(strstr(msg, " bytes, ok \xc3\xa9"));
	assert_true(strlen(field(lines[1], "msg")) > 2000);
	assert_true(strlen(field(lines[1], "msg")) < 2048);
	assert_string_equal(field(lines[2], "msg"),
	    "overlong ?? surrogate ??? short ??");
	free_lines(lines, n);
	log_init(NULL, LOGL_INFO, NULL);
	fclose(f);
}

static void
test_level_filter(void **state)
{
	json_t *lines[MAX_LINES];
	FILE *f;
	int n;

	f = tmpfile();
	assert_non_null(f);
	log_init("filter", LOGL_WARN, f);
	log_debug("no");
	log_info("no");
	log_warn("yes-warn");
	log_err("yes-err");
	n = read_lines(f, lines);
	assert_int_equal(n, 2);
	assert_string_equal(field(lines[0], "msg"), "yes-warn");
	assert_string_equal(field(lines[0], "level"), "warn");
	assert_string_equal(field(lines[1], "msg"), "yes-err");
	free_lines(lines, n);
	log_init(NULL, LOGL_INFO, NULL);
	fclose(f);
}

static void
test_level_parse(void **state)
{
	enum log_level l;

	assert_int_equal(log_level_parse("debug", &l), 0);
	assert_int_equal(l, LOGL_DEBUG);
	assert_int_equal(log_level_parse("INFO", &l), 0);
	assert_int_equal(l, LOGL_INFO);
	assert_int_equal(log_level_parse("warn", &l), 0);
	assert_int_equal(l, LOGL_WARN);
	assert_int_equal(log_level_parse("err", &l), 0);
	assert_int_equal(l, LOGL_ERR);
	assert_int_equal(log_level_parse("verbose", &l), -1);
	assert_int_equal(log_level_parse("", &l), -1);
}

static void
test_openssl_queue(void **state)
{
	json_t *lines[MAX_LINES];
	FILE *f;
	EVP_MD *md;
	int n;

	f = tmpfile();
	assert_non_null(f);
	log_init("ossl", LOGL_INFO, f);
	/* Provoke an error on the queue. */
	md = EVP_MD_fetch(NULL, "no-such-digest", NULL);
	assert_null(md);
	assert_int_not_equal(ERR_peek_error(), 0);
	log_openssl(LOGL_ERR, "fetch %s", "digest");
	assert_int_equal(ERR_peek_error(), 0);
	/* Below the level: not written, queue still cleared. */
	EVP_MD_free(EVP_MD_fetch(NULL, "no-such-digest", NULL));
	log_openssl(LOGL_DEBUG, "hidden");
	assert_int_equal(ERR_peek_error(), 0);
	n = read_lines(f, lines);
	assert_int_equal(n, 1);
	assert_int_equal(strncmp(field(lines[0], "msg"), "fetch digest: ", 14),
	    0);
	free_lines(lines, n);
	log_init(NULL, LOGL_INFO, NULL);
	fclose(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_lines),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_invalid_utf8_kept),
		cmocka_unit_test(test_level_filter),
		cmocka_unit_test(test_level_parse),
		cmocka_unit_test(test_openssl_queue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
