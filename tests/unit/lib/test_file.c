/*
 * lib/file.c file_read_capped: whole files up to the cap, one byte over
 * refused, the growth past its first 64 KiB, empty and missing files, and
 * a pipe (which has no size to ask); file_read_regular: a regular file
 * read, a symlink (even to a regular file), a FIFO (at once, no writer
 * waited for), a directory and a file over the cap refused.
 */
#include <sys/stat.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/file.h"

static char path[4096];

/* A file of n bytes, byte i being i % 251, in PKI_TEST_DIR. */
static void
make_file(size_t n)
{
	FILE *f;
	size_t i;

	snprintf(path, sizeof(path), "%s/test_file.bin",
	    getenv("PKI_TEST_DIR") != NULL ? getenv("PKI_TEST_DIR") : "/tmp");
	assert_non_null(f = fopen(path, "wb"));
	for (i = 0; i < n; i++)
		assert_int_not_equal(fputc((int)(i % 251), f), EOF);
	assert_int_equal(fclose(f), 0);
}

static void
want_read(size_t size, size_t max)
{
	unsigned char *b;
	size_t len, i;
	char err[256];

	make_file(size);
	assert_int_equal(file_read_capped(path, max, &b, &len, err,
	    sizeof(err)), 0);
	assert_int_equal(len, size);
	for (i = 0; i < len; i++)
		if (b[i] != i % 251)
			fail_msg("byte %zu", i);
	assert_int_equal(b[len], 0);
	free(b);
}

static void
want_refused(size_t size, size_t max, const char *msg)
{
	unsigned char *b = (unsigned char *)"untouched";
	size_t len = 7;
	char err[256];

	make_file(size);
	assert_int_equal(file_read_capped(path, max, &b, &len, err,
	    sizeof(err)), -1);
	assert_null(b);
	assert_int_equal(len, 0);
	if (strstr(err, msg) == NULL || strstr(err, path) == NULL)
		fail_msg("message: %s", err);
}

static void
test_sizes(void **state)
{
	(void)state;
	want_read(0, 10);
	want_read(10, 10);
	want_refused(11, 10, "larger than 10 bytes");
	/* Past the first 64 KiB buffer, up to and over the cap. */
	want_read(65536, 65536);
	want_refused(65537, 65536, "larger than 65536 bytes");
	want_read(300000, 1000000);
	want_read(300000, 300000);
	want_refused(300001, 300000, "larger than 300000 bytes");
}

static void
test_errors(void **state)
{
	unsigned char *b;
	size_t len;
	char err[256];

	(void)state;
	assert_int_equal(file_read_capped("/nonexistent/x", 10, &b, &len, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/x"));
	assert_int_equal(file_read_capped("/", 10, &b, &len, err,
	    sizeof(err)), -1);
	assert_int_equal(file_read_capped("/dev/null", SIZE_MAX, &b, &len,
	    err, sizeof(err)), -1);
}

/* A pipe: read until its end, the cap enforced without a size to ask. */
static void
test_pipe(void **state)
{
	char cmd[128], err[256];
	unsigned char *b;
	size_t len;

	(void)state;
	snprintf(cmd, sizeof(cmd), "head -c 100000 /dev/zero");
	assert_non_null(freopen("/dev/null", "r", stdin));
	{
		FILE *p = popen(cmd, "r");

		assert_non_null(p);
		assert_int_not_equal(dup2(fileno(p), 0), -1);
		clearerr(stdin);
		assert_int_equal(file_read_capped("-", 200000, &b, &len, err,
		    sizeof(err)), 0);
		assert_int_equal(len, 100000);
		free(b);
		pclose(p);
	}
	assert_non_null(freopen("/dev/null", "r", stdin));
	{
		FILE *p = popen(cmd, "r");

		assert_non_null(p);
		assert_int_not_equal(dup2(fileno(p), 0), -1);
		clearerr(stdin);
		assert_int_equal(file_read_capped("-", 99999, &b, &len, err,
		    sizeof(err)), -1);
		assert_non_null(strstr(err, "larger than 99999 bytes"));
		pclose(p);
	}
}

static void
want_regular_refused(const char *p, size_t max, const char *msg)
{
	unsigned char *b = (unsigned char *)"untouched";
	size_t len = 7;
	char err[256];

	assert_int_equal(file_read_regular(p, max, &b, &len, err,
	    sizeof(err)), -1);
	assert_null(b);
	assert_int_equal(len, 0);
	if (strstr(err, msg) == NULL)
		fail_msg("%s: \"%s\" wanted, got \"%s\"", p, msg, err);
}

static void
test_regular(void **state)
{
	char link[4200], fifo[4200];
	unsigned char *b;
	size_t len;
	char err[256];

	(void)state;
	make_file(70000);
	assert_int_equal(file_read_regular(path, 70000, &b, &len, err,
	    sizeof(err)), 0);
	assert_int_equal(len, 70000);
	assert_int_equal(b[69999], 69999 % 251);
	assert_int_equal(b[len], 0);
	free(b);
	want_regular_refused(path, 69999, "larger than 69999 bytes");
	snprintf(link, sizeof(link), "%s.link", path);
	(void)unlink(link);
	assert_int_equal(symlink(path, link), 0);
	want_regular_refused(link, 100000, "symbolic link");
	assert_int_equal(unlink(link), 0);
	/* A FIFO with no writer: refused at once, not waited on. */
	snprintf(fifo, sizeof(fifo), "%s.fifo", path);
	(void)unlink(fifo);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	want_regular_refused(fifo, 100000, "not a regular file");
	assert_int_equal(unlink(fifo), 0);
	want_regular_refused("/", 10, "not a regular file");
	want_regular_refused("/dev/null", 10, "not a regular file");
	want_regular_refused("/nonexistent/x", 10, "No such file");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_pipe),
		cmocka_unit_test(test_regular),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
