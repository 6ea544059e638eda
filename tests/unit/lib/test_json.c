/*
 * lib/json: bounded loading of untrusted JSON and strict unpacking; the
 * allocator that wipes what jansson frees (json_wipe_on_free).
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

/*
 * The allocator under json_wipe_on_free(): it keeps each block's size, and
 * at release counts the blocks still holding the secret below.
 */
#define SECRET	"402917-Horse-Battery"
#define BLOCKS	1024
static struct { void *p; size_t n; } blocks[BLOCKS];
static int released, released_with_secret;

static void *
track_alloc(size_t n)
{
	void *p = malloc(n);
	int i;

	for (i = 0; p != NULL && i < BLOCKS; i++)
		if (blocks[i].p == NULL) {
			blocks[i].p = p;
			blocks[i].n = n;
			return p;
		}
	fail_msg("more than %d live blocks", BLOCKS);
	return NULL;
}

static void
track_release(void *p)
{
	size_t len = strlen(SECRET), j;
	int i;

	for (i = 0; i < BLOCKS && blocks[i].p != p; i++)
		;
	assert_true(i < BLOCKS);
	for (j = 0; blocks[i].n >= len && j <= blocks[i].n - len; j++)
		if (memcmp((char *)p + j, SECRET, len) == 0) {
			released_with_secret++;
			break;
		}
	released++;
	blocks[i].p = NULL;
	free(p);
}

/* Parses and frees a body carrying SECRET as a value and inside a key. */
static void
parse_secret_body(void)
{
	static const char body[] = "{\"pin\": \"" SECRET "\", \"factor\": "
	    "{\"code\": \"" SECRET "\", \"x" SECRET "\": 1}}";
	json_error_t err;
	json_t *root;

	released = released_with_secret = 0;
	root = load(body, sizeof(body), &err);
	assert_non_null(root);
	json_decref(root);
	assert_true(released > 0);
}

static void
test_wipe_on_free(void **state)
{
	(void)state;
	/* The control: jansson's own frees leave the secret in the blocks. */
	json_set_alloc_funcs(track_alloc, track_release);
	parse_secret_body();
	assert_true(released_with_secret > 0);
	/* Wiped: no block goes back holding it. */
	json_wipe_on_free(track_alloc, track_release);
	parse_secret_body();
	assert_int_equal(released_with_secret, 0);
	/* A failed parse frees what it made so far: wiped too. */
	released = released_with_secret = 0;
	assert_null(load("{\"pin\": \"" SECRET "\", \"pin\": 1}", 64, NULL));
	assert_true(released > 0);
	assert_int_equal(released_with_secret, 0);
	json_set_alloc_funcs(malloc, free);
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
		cmocka_unit_test(test_wipe_on_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
