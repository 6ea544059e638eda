/*
 * ra/ratelimit.c: a fixed one-minute window per client address; an IPv6
 * client counts by its /64 (stepping through its prefix starts no fresh
 * count), an IPv4-mapped address as the IPv4 one.
 */
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_ipv6_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
