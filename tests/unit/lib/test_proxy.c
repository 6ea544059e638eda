/*
 * lib/proxy: trusted proxy sets (addresses, CIDR prefixes, IPv4-mapped
 * IPv6) and the client named by X-Forwarded-For. The HTTP side is in
 * test_http.c (test_trusted_proxy).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/proxy.h"

static struct proxy_set *
set_of(const char *list)
{
	char err[128];
	struct proxy_set *set = proxy_set_parse(list, err, sizeof(err));

	if (set == NULL)
		fail_msg("proxy_set_parse(%s): %s", list != NULL ? list : "NULL",
		    err);
	return set;
}

static void
test_prefixes(void **state)
{
	struct proxy_set *set = set_of("10.0.0.0/8 192.0.2.7 2001:db8::/32, ::1");

	assert_int_equal(proxy_set_count(set), 4);
	assert_true(proxy_set_has(set, "10.255.0.1"));
	assert_false(proxy_set_has(set, "11.0.0.1"));
	assert_true(proxy_set_has(set, "192.0.2.7"));
	assert_false(proxy_set_has(set, "192.0.2.8"));
	assert_true(proxy_set_has(set, "2001:db8:ffff::1"));
	assert_false(proxy_set_has(set, "2001:db9::1"));
	assert_true(proxy_set_has(set, "::1"));
	/* A peer on an IPv6 socket in IPv4-mapped form is its IPv4 self. */
	assert_true(proxy_set_has(set, "::ffff:10.1.2.3"));
	assert_false(proxy_set_has(set, "not an address"));
	proxy_set_free(set);

	set = set_of("0.0.0.0/0");
	assert_true(proxy_set_has(set, "203.0.113.1"));
	assert_false(proxy_set_has(set, "2001:db8::1"));
	proxy_set_free(set);
	/* Entries in IPv4-mapped form match IPv4 peers too. */
	set = set_of("::ffff:10.0.0.0/104 ::ffff:192.0.2.9");
	assert_true(proxy_set_has(set, "10.9.9.9"));
	assert_true(proxy_set_has(set, "192.0.2.9"));
	assert_false(proxy_set_has(set, "192.0.2.10"));
	proxy_set_free(set);
	set = set_of(NULL);
	assert_int_equal(proxy_set_count(set), 0);
	assert_false(proxy_set_has(set, "127.0.0.1"));
	proxy_set_free(set);
}

static void
test_bad_lists(void **state)
{
	const char *bad[] = { "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x",
	    "proxy.example", "10.0.0.1:80", "[::1]", "10.0.0.0/-1" };
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (proxy_set_parse(bad[i], err, sizeof(err)) != NULL)
			fail_msg("\"%s\" was accepted", bad[i]);
		assert_true(strlen(err) > 0);
	}
}

static void
test_client(void **state)
{
	struct proxy_set *set = set_of("127.0.0.1 10.0.0.0/8");
	char out[64];

	/* An untrusted peer: itself, unmapped, whatever the header says. */
	proxy_client_addr(set, "::ffff:198.51.100.1", "203.0.113.9", 1, out,
	    sizeof(out));
	assert_string_equal(out, "198.51.100.1");
	proxy_client_addr(set, "127.0.0.1", "203.0.113.9, 10.0.0.5", 1, out,
	    sizeof(out));
	assert_string_equal(out, "203.0.113.9");
	proxy_client_addr(set, "127.0.0.1", "203.0.113.9", 2, out, sizeof(out));
	assert_string_equal(out, "127.0.0.1");
	proxy_client_addr(set, "127.0.0.1", "", 1, out, sizeof(out));
	assert_string_equal(out, "127.0.0.1");
	proxy_client_addr(set, "127.0.0.1", "2001:DB8::0001", 1, out,
	    sizeof(out));
	assert_string_equal(out, "2001:db8::1");
	proxy_set_free(set);
}

/*
 * A unix socket's peer (PROXY_PEER_UNIX) is trusted with no set at all:
 * the socket's permissions chose it. The rightmost address that is not a
 * listed proxy is the client; "unix" when the header names none.
 */
static void
test_unix_peer(void **state)
{
	struct proxy_set *none = set_of(NULL), *set = set_of("10.0.0.0/8");
	char out[64];

	proxy_client_addr(none, PROXY_PEER_UNIX, "198.51.100.1, 203.0.113.9", 1,
	    out, sizeof(out));
	assert_string_equal(out, "203.0.113.9");
	proxy_client_addr(set, PROXY_PEER_UNIX, "203.0.113.9, 10.1.2.3", 1,
	    out, sizeof(out));
	assert_string_equal(out, "203.0.113.9");
	proxy_client_addr(none, PROXY_PEER_UNIX, NULL, 0, out, sizeof(out));
	assert_string_equal(out, "unix");
	proxy_client_addr(none, PROXY_PEER_UNIX, "203.0.113.9", 2, out,
	    sizeof(out));
	assert_string_equal(out, "unix");
	proxy_client_addr(none, PROXY_PEER_UNIX, "not-an-address", 1, out,
	    sizeof(out));
	assert_string_equal(out, "unix");
	/* Not a unix peer: an address-less peer is not trusted. */
	proxy_client_addr(none, "unknown", "203.0.113.9", 1, out, sizeof(out));
	assert_string_equal(out, "unknown");
	proxy_set_free(none);
	proxy_set_free(set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_bad_lists),
		cmocka_unit_test(test_client),
		cmocka_unit_test(test_unix_peer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
