/*
 * lib/config: file parsing, sections, comments, environment override,
 * integer and boolean conversion, error messages.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/config.h"
#include "lib/log.h"

/* Writes text to a new temporary file; its path goes to path. */
static void
write_tmp(char *path, size_t len, const char *text)
{
	FILE *f;
	int fd;

	snprintf(path, len, "/tmp/test_config.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd != -1);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static struct config *
load_text(const char *text, char *err, size_t errlen)
{
	char path[64];
	struct config *cf;

	write_tmp(path, sizeof(path), text);
	cf = config_load(path, err, errlen);
	unlink(path);
	return cf;
}

static void
test_parse_sections_comments(void **state)
{
	char err[256];
	struct config *cf;

	cf = load_text(
	    "# leading comment\n"
	    "top = level\n"
	    "\n"
	    "[pg]\n"
	    "  uri = postgresql:///pki?host=/var/run/pki#frag  \n"
	    "; another comment\n"
	    "pool-size=4\n"
	    "[ http ]\n"
	    "listen = 127.0.0.1\n"
	    "empty =\n"
	    "last = no-newline", err, sizeof(err));
	assert_non_null(cf);
	assert_string_equal(config_get(cf, "top", NULL), "level");
	assert_string_equal(config_get(cf, "pg.uri", NULL),
	    "postgresql:///pki?host=/var/run/pki#frag");
	assert_string_equal(config_get(cf, "pg.pool-size", NULL), "4");
	assert_string_equal(config_get(cf, "http.listen", NULL), "127.0.0.1");
	assert_string_equal(config_get(cf, "http.empty", "x"), "");
	assert_string_equal(config_get(cf, "http.last", NULL), "no-newline");
	assert_null(config_get(cf, "uri", NULL));
	assert_null(config_get(cf, "http.uri", NULL));
	assert_string_equal(config_get(cf, "pg.missing", "dflt"), "dflt");
	config_free(cf);
}

static void
test_env_override_wins(void **state)
{
	char err[256];
	struct config *cf;
	long n;

	cf = load_text("[pg]\nuri = from-file\npool-size = 4\n", err,
	    sizeof(err));
	assert_non_null(cf);
	assert_int_equal(setenv("PKI_PG_URI", "from-env", 1), 0);
	assert_int_equal(setenv("PKI_PG_POOL_SIZE", "9", 1), 0);
	assert_int_equal(setenv("PKI_PG_ONLY_ENV", "e", 1), 0);
	assert_string_equal(config_get(cf, "pg.uri", NULL), "from-env");
	assert_int_equal(config_get_long(cf, "pg.pool-size", 1, 1, 100, &n), 0);
	assert_int_equal(n, 9);
	assert_string_equal(config_get(cf, "pg.only-env", NULL), "e");
	unsetenv("PKI_PG_URI");
	unsetenv("PKI_PG_POOL_SIZE");
	unsetenv("PKI_PG_ONLY_ENV");
	assert_string_equal(config_get(cf, "pg.uri", NULL), "from-file");
	config_free(cf);

	/* No file: environment only. */
	cf = config_load(NULL, err, sizeof(err));
	assert_non_null(cf);
	assert_null(config_get(cf, "pg.uri", NULL));
	assert_int_equal(setenv("PKI_PG_URI", "env-only", 1), 0);
	assert_string_equal(config_get(cf, "pg.uri", NULL), "env-only");
	unsetenv("PKI_PG_URI");
	config_free(cf);
}

static void
test_integers(void **state)
{
	char err[256];
	struct config *cf;
	long n;

	cf = load_text("[a]\nok = 42\nneg = -7\nbad = 12x\nspace = \" 1\"\n"
	    "huge = 99999999999999999999999\nempty =\n", err, sizeof(err));
	assert_non_null(cf);
	assert_int_equal(config_get_long(cf, "a.ok", 0, 0, 100, &n), 0);
	assert_int_equal(n, 42);
	assert_int_equal(config_get_long(cf, "a.neg", 0, -10, 10, &n), 0);
	assert_int_equal(n, -7);
	assert_int_equal(config_get_long(cf, "a.absent", 5, 0, 10, &n), 0);
	assert_int_equal(n, 5);
	n = 123;
	assert_int_equal(config_get_long(cf, "a.bad", 5, 0, 100, &n), -1);
	assert_int_equal(n, 5);
	assert_int_equal(config_get_long(cf, "a.space", 5, 0, 100, &n), -1);
	assert_int_equal(config_get_long(cf, "a.huge", 5, 0, 100, &n), -1);
	assert_int_equal(config_get_long(cf, "a.empty", 5, 0, 100, &n), -1);
	/* Out of range, both ends. */
	assert_int_equal(config_get_long(cf, "a.ok", 0, 0, 41, &n), -1);
	assert_int_equal(config_get_long(cf, "a.ok", 0, 43, 100, &n), -1);
	/* A default out of range (a CPU count above a table's size) too. */
	assert_int_equal(config_get_long(cf, "a.absent", 32, 1, 16, &n), -1);
	assert_int_equal(config_get_long(cf, "a.absent", -1, 1, 16, &n), -1);
	assert_int_equal(config_get_long(cf, "a.ok", 0, 42, 42, &n), 0);
	assert_int_equal(setenv("PKI_A_OK", "1000", 1), 0);
	assert_int_equal(config_get_long(cf, "a.ok", 0, 0, 100, &n), -1);
	unsetenv("PKI_A_OK");
	config_free(cf);
}

static void
test_bools(void **state)
{
	char err[256];
	struct config *cf;
	int b;

	cf = load_text("t1 = yes\nt2 = ON\nt3 = 1\nt4 = true\n"
	    "f1 = no\nf2 = Off\nf3 = 0\nf4 = false\nbad = maybe\n", err,
	    sizeof(err));
	assert_non_null(cf);
	assert_int_equal(config_get_bool(cf, "t1", 0, &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(config_get_bool(cf, "t2", 0, &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(config_get_bool(cf, "t3", 0, &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(config_get_bool(cf, "t4", 0, &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(config_get_bool(cf, "f1", 1, &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(config_get_bool(cf, "f2", 1, &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(config_get_bool(cf, "f3", 1, &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(config_get_bool(cf, "f4", 1, &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(config_get_bool(cf, "bad", 0, &b), -1);
	assert_int_equal(config_get_bool(cf, "absent", 1, &b), 0);
	assert_int_equal(b, 1);
	config_free(cf);
}

static void
test_missing_file(void **state)
{
	char err[256];
	struct config *cf;

	cf = config_load("/nonexistent/pki.conf", err, sizeof(err));
	assert_null(cf);
	assert_non_null(strstr(err, "/nonexistent/pki.conf"));
	assert_non_null(strstr(err, "No such file"));
}

static void
expect_error(const char *text, const char *needle)
{
	char err[256];
	struct config *cf;

	err[0] = '\0';
	cf = load_text(text, err, sizeof(err));
	assert_null(cf);
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

static void
test_syntax_errors(void **state)
{
	char big[5000];

	expect_error("[pg]\nuri\n", ":2: expected");
	expect_error("[pg\nuri = x\n", ":1: malformed section");
	expect_error("[]\n", ":1: bad section");
	expect_error("[a b]\n", ":1: bad section");
	expect_error("a = 1\n\n[s]\nbad key = 1\n", ":4: bad key");
	expect_error("= 1\n", ":1: bad key");
	expect_error("[s]\nk = 1\nk = 2\n", ":3: duplicate key s.k");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "k = ", 4);
	expect_error(big, ":1: line too long");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_sections_comments),
		cmocka_unit_test(test_env_override_wins),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_bools),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_syntax_errors),
	};

	log_init("test_config", LOGL_ERR, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
