/*
 * ra/ratelimit.c: a fixed one-minute window per client address; an IPv6
 * client counts by its /64 (stepping through its prefix starts no fresh
 * count), an IPv4-mapped address as the IPv4 one.
 */
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "ra/extern.h"

/* Three requests a minute. */
static void
test_window(void **state)
{
	struct ra_ratelimit *rl = ra_ratelimit_new(3);
	time_t t = 1000000;

	(void)state;
	assert_non_null(rl);
	assert_int_equal(ra_ratelimit_hit(rl, "192.0.2.1", t), 0);
	assert_int_equal(ra_ratelimit_hit(rl, "192.0.2.1", t), 0);
	assert_int_equal(ra_ratelimit_hit(rl, "192.0.2.1", t + 10), 0);
	assert_int_equal(ra_ratelimit_hit(rl, "192.0.2.1", t + 10), 50);
	/* Another address has its own count; the window ends after 60 s. */
	assert_int_equal(ra_ratelimit_hit(rl, "192.0.2.2", t + 10), 0);
	assert_int_equal(ra_ratelimit_hit(rl, "192.0.2.1", t + 60), 0);
	ra_ratelimit_free(rl);
}

static void
test_ipv6_prefix(void **state)
{
	struct ra_ratelimit *rl = ra_ratelimit_new(2);
	time_t t = 2000000;

	(void)state;
	assert_non_null(rl);
	assert_int_equal(ra_ratelimit_hit(rl, "2001:db8:1:2::1", t), 0);
	assert_int_equal(ra_ratelimit_hit(rl, "2001:db8:1:2:ffff:0:0:7", t), 0);
	/* The third address of the same /64: over the limit. */
	assert_true(ra_ratelimit_hit(rl, "2001:db8:1:2:abcd::9", t) > 0);
	/* The next /64 counts apart. */
	assert_int_equal(ra_ratelimit_hit(rl, "2001:db8:1:3::1", t), 0);
	/* An IPv4-mapped address is its IPv4 address. */
	assert_int_equal(ra_ratelimit_hit(rl, "198.51.100.7", t), 0);
	assert_int_equal(ra_ratelimit_hit(rl, "::ffff:198.51.100.7", t), 0);
	assert_true(ra_ratelimit_hit(rl, "198.51.100.7", t) > 0);
	ra_ratelimit_free(rl);
}

/* The bucket of password hashing: 2 a second, bursts of 4. */
static void
test_bucket(void **state)
{
	struct ra_bucket b;
	long long t = 5000000;

	(void)state;
	ra_bucket_init(&b, 2, 4, t);
	/* Full at first: a burst of 4, then none (1 s until 2 are back). */
	assert_int_equal(ra_bucket_take(&b, 2, t), 0);
	assert_int_equal(ra_bucket_take(&b, 1, t), 0);
	assert_int_equal(ra_bucket_take(&b, 1, t), 0);
	assert_int_equal(ra_bucket_take(&b, 1, t), 1);
	assert_int_equal(ra_bucket_take(&b, 2, t), 1);
	/* A refused take takes nothing: one token back after 500 ms. */
	assert_int_equal(ra_bucket_take(&b, 1, t + 499), 1);
	assert_int_equal(ra_bucket_take(&b, 1, t + 500), 0);
	assert_int_equal(ra_bucket_take(&b, 1, t + 500), 1);
	/* Never more than the burst, however long it rested. */
	t += 1000LL * 1000 * 1000 * 1000;
	assert_int_equal(ra_bucket_take(&b, 4, t), 0);
	assert_int_equal(ra_bucket_take(&b, 1, t), 1);
	/* More than a burst can never be had. */
	assert_int_equal(ra_bucket_take(&b, 5, t + 10000), LONG_MAX);
	/* A slow rate waits whole seconds: 1 a second, 3 s for 3. */
	ra_bucket_init(&b, 1, 3, t);
	assert_int_equal(ra_bucket_take(&b, 3, t), 0);
	assert_int_equal(ra_bucket_take(&b, 3, t), 3);
	assert_int_equal(ra_bucket_take(&b, 3, t + 2001), 1);
	/* A clock that went back adds nothing to the 2.001 there. */
	assert_int_equal(ra_bucket_take(&b, 2, t - 10000), 0);
	assert_int_equal(ra_bucket_take(&b, 1, t - 10000), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_ipv6_prefix),
		cmocka_unit_test(test_bucket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
