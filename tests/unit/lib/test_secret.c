/*
 * lib/secret: file mode checks, environment variable read and unset,
 * newline stripping, length limits; the secret never appears in errors.
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

#include "lib/secret.h"

static void
write_secret(char *path, size_t len, const void *data, size_t dlen,
    mode_t mode)
{
	int fd;

	snprintf(path, len, "/tmp/test_secret.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd != -1);
	assert_int_equal(write(fd, data, dlen), (ssize_t)dlen);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static void
test_file_0600(void **state)
{
	char path[64], buf[64], err[256];

	write_secret(path, sizeof(path), "1234\n", 5, 0600);
	assert_int_equal(secret_read(path, NULL, buf, sizeof(buf), err,
	    sizeof(err)), 0);
	assert_string_equal(buf, "1234");
	unlink(path);

	write_secret(path, sizeof(path), "pw with spaces\r\n", 16, 0400);
	assert_int_equal(secret_read(path, NULL, buf, sizeof(buf), err,
	    sizeof(err)), 0);
	assert_string_equal(buf, "pw with spaces");
	unlink(path);

	write_secret(path, sizeof(path), "no-newline", 10, 0600);
	assert_int_equal(secret_read(path, NULL, buf, sizeof(buf), err,
	    sizeof(err)), 0);
	assert_string_equal(buf, "no-newline");
	unlink(path);
}

static void
test_file_0644_refused(void **state)
{
	char path[64], buf[64], err[256];

	write_secret(path, sizeof(path), "hunter2\n", 8, 0644);
	assert_int_equal(secret_read(path, NULL, buf, sizeof(buf), err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "0644"));
	assert_non_null(strstr(err, path));
	assert_null(strstr(err, "hunter2"));
	assert_string_equal(buf, "");
	unlink(path);

	write_secret(path, sizeof(path), "hunter2\n", 8, 0620);
	assert_int_equal(secret_read(path, NULL, buf, sizeof(buf), err,
	    sizeof(err)), -1);
	unlink(path);
}

static void
test_file_not_regular(void **state)
{
	char path[64], link[80], buf[64], err[256];

	assert_int_equal(secret_read("/tmp", NULL, buf, sizeof(buf), err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	/* A FIFO is refused at once, not waited on for a writer. */
	snprintf(path, sizeof(path), "/tmp/test_secret_fifo.%ld", (long)getpid());
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(secret_read(path, NULL, buf, sizeof(buf), err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	unlink(path);
	assert_int_equal(secret_read("/nonexistent/pin", NULL, buf,
	    sizeof(buf), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/pin"));

	/* A symlink to a good file is refused (O_NOFOLLOW). */
	write_secret(path, sizeof(path), "1234\n", 5, 0600);
	snprintf(link, sizeof(link), "%s.lnk", path);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(secret_read(link, NULL, buf, sizeof(buf), err,
	    sizeof(err)), -1);
	unlink(link);
	unlink(path);
}

static void
test_env_read_and_unset(void **state)
{
	char buf[64], err[256];

	assert_int_equal(setenv("PKI_TEST_PIN", "s3cret\n", 1), 0);
	assert_int_equal(secret_read(NULL, "PKI_TEST_PIN", buf, sizeof(buf),
	    err, sizeof(err)), 0);
	assert_string_equal(buf, "s3cret");
	assert_null(getenv("PKI_TEST_PIN"));

	/* Second read: gone. */
	assert_int_equal(secret_read(NULL, "PKI_TEST_PIN", buf, sizeof(buf),
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "PKI_TEST_PIN"));

	/* Neither source given. */
	assert_int_equal(secret_read(NULL, NULL, buf, sizeof(buf), err,
	    sizeof(err)), -1);
}

static void
test_file_wins_over_env(void **state)
{
	char path[64], buf[64], err[256];

	write_secret(path, sizeof(path), "from-file\n", 10, 0600);
	assert_int_equal(setenv("PKI_TEST_PIN", "from-env", 1), 0);
	assert_int_equal(secret_read(path, "PKI_TEST_PIN", buf, sizeof(buf),
	    err, sizeof(err)), 0);
	assert_string_equal(buf, "from-file");
	/* Only the source actually read is consumed. */
	assert_string_equal(getenv("PKI_TEST_PIN"), "from-env");
	unsetenv("PKI_TEST_PIN");
	unlink(path);
}

static void
test_too_long(void **state)
{
	char path[64], buf[8], err[256];

	/* 7 characters fit an 8-byte buffer, with or without newline. */
	write_secret(path, sizeof(path), "1234567\n", 8, 0600);
	assert_int_equal(secret_read(path, NULL, buf, sizeof(buf), err,
	    sizeof(err)), 0);
	assert_string_equal(buf, "1234567");
	unlink(path);

	write_secret(path, sizeof(path), "12345678", 8, 0600);
	assert_int_equal(secret_read(path, NULL, buf, sizeof(buf), err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "longer"));
	assert_null(strstr(err, "1234567"));
	unlink(path);

	write_secret(path, sizeof(path), "1234567\nx", 9, 0600);
	assert_int_equal(secret_read(path, NULL, buf, sizeof(buf), err,
	    sizeof(err)), -1);
	unlink(path);

	assert_int_equal(setenv("PKI_TEST_PIN", "123456789", 1), 0);
	assert_int_equal(secret_read(NULL, "PKI_TEST_PIN", buf, sizeof(buf),
	    err, sizeof(err)), -1);
	assert_null(strstr(err, "123456789"));
	assert_null(getenv("PKI_TEST_PIN"));
}

static void
test_empty_and_nul(void **state)
{
	char path[64], buf[64], err[256];

	write_secret(path, sizeof(path), "\n", 1, 0600);
	assert_int_equal(secret_read(path, NULL, buf, sizeof(buf), err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "empty"));
	unlink(path);

	write_secret(path, sizeof(path), "ab\0cd\n", 6, 0600);
	assert_int_equal(secret_read(path, NULL, buf, sizeof(buf), err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "NUL"));
	unlink(path);
}

/* Hex keys: exact length, hex only, mode checked, zeroed on failure. */
static void
test_hexkey(void **state)
{
	static const char good[] = "00112233445566778899aabbccddeeff\n";
	unsigned char key[16], want[16], big[17];
	char path[64], err[256];
	int i;

	for (i = 0; i < 16; i++)
		want[i] = (unsigned char)(i * 0x11);
	write_secret(path, sizeof(path), good, sizeof(good) - 1, 0600);
	assert_int_equal(secret_read_hexkey(path, key, 16, err, sizeof(err)), 0);
	assert_memory_equal(key, want, 16);
	/* One byte short of the length asked for. */
	assert_int_equal(secret_read_hexkey(path, big, sizeof(big), err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "34 hex digits"));
	assert_null(strstr(err, "0011"));
	unlink(path);
	write_secret(path, sizeof(path), "00112233445566778899aabbccddeefg",
	    32, 0600);
	assert_int_equal(secret_read_hexkey(path, key, 16, err, sizeof(err)), -1);
	for (i = 0; i < 16; i++)
		assert_int_equal(key[i], 0);
	unlink(path);
	write_secret(path, sizeof(path), good, sizeof(good) - 1, 0644);
	assert_int_equal(secret_read_hexkey(path, key, 16, err, sizeof(err)), -1);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_0600),
		cmocka_unit_test(test_hexkey),
		cmocka_unit_test(test_file_0644_refused),
		cmocka_unit_test(test_file_not_regular),
		cmocka_unit_test(test_env_read_and_unset),
		cmocka_unit_test(test_file_wins_over_env),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_empty_and_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
