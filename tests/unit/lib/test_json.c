/*
 * lib/json: bounded loading of untrusted JSON and strict unpacking.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/json.h"

static json_t *
load(const char *s, size_t max, json_error_t *err)
{
	return json_load_bounded(s, strlen(s), max, err);
}

static void
test_valid_object(void **state)
{
	json_error_t err;
	json_t *root;
	const char *name = NULL;
	json_int_t n = 0;

	root = load("{\"name\":\"ca\",\"n\":3}", 1024, &err);
	assert_non_null(root);
	assert_int_equal(json_unpack_strict(root, &err, "{s:s, s:I}",
	    "name", &name, "n", &n), 0);
	assert_string_equal(name, "ca");
	assert_int_equal(n, 3);
	json_decref(root);

	/* Not NUL-terminated: exactly len bytes are parsed. */
	root = json_load_bounded("{\"a\":1}garbage", 7, 1024, &err);
	assert_non_null(root);
	json_decref(root);
}

static void
test_duplicate_keys(void **state)
{
	json_error_t err;

	assert_null(load("{\"a\":1,\"a\":2}", 1024, &err));
	assert_non_null(strstr(err.text, "duplicate"));
	assert_null(load("{\"o\":{\"b\":1,\"b\":1}}", 1024, &err));
}

static void
test_over_limit(void **state)
{
	json_error_t err;
	const char *s = "{\"a\":\"0123456789\"}";
	json_t *root;

	assert_null(load(s, strlen(s) - 1, &err));
	assert_non_null(strstr(err.text, "longer"));
	root = load(s, strlen(s), &err);
	assert_non_null(root);
	json_decref(root);
	/* The bound applies before parsing: NULL error pointer accepted. */
	assert_null(load(s, 1, NULL));
}

static void
test_not_object(void **state)
{
	json_error_t err;

	assert_null(load("[1,2]", 1024, &err));
	assert_non_null(strstr(err.text, "not an object"));
	assert_null(load("\"str\"", 1024, &err));
	assert_null(load("42", 1024, &err));
	assert_null(load("", 1024, &err));
	assert_null(load("{} {}", 1024, &err));
	assert_null(load("{\"a\":\"\\u0000\"}", 1024, &err));
	assert_null(load("{\"a\":", 1024, &err));
	assert_null(json_load_bounded(NULL, 0, 1024, &err));
}

static void
test_strict_unpack(void **state)
{
	json_error_t err;
	json_t *root;
	const char *a = NULL;
	int b = 0;

	root = load("{\"a\":\"x\",\"extra\":1}", 1024, &err);
	assert_non_null(root);
	assert_int_equal(json_unpack_strict(root, &err, "{s:s}", "a", &a), -1);
	assert_non_null(strstr(err.text, "extra"));
	/* '*' explicitly allows unknown keys in that object. */
	assert_int_equal(json_unpack_strict(root, &err, "{s:s*}", "a", &a), 0);
	assert_string_equal(a, "x");
	/* Wrong type. */
	assert_int_equal(json_unpack_strict(root, &err, "{s:i, s:i}", "a", &b,
	    "extra", &b), -1);
	json_decref(root);

	/* Nested objects are strict too. */
	root = load("{\"o\":{\"k\":1,\"u\":2}}", 1024, &err);
	assert_non_null(root);
	assert_int_equal(json_unpack_strict(root, &err, "{s:{s:i}}", "o", "k",
	    &b), -1);
	/* Optional key may be absent. */
	json_decref(root);
	root = load("{\"k\":1}", 1024, &err);
	assert_int_equal(json_unpack_strict(root, &err, "{s:i, s?s}", "k", &b,
	    "opt", &a), 0);
	assert_int_equal(b, 1);
	json_decref(root);

	assert_int_equal(json_unpack_strict(NULL, &err, "{}"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_object),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_over_limit),
		cmocka_unit_test(test_not_object),
		cmocka_unit_test(test_strict_unpack),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
