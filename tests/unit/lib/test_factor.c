/*
 * lib/factor: what an OTP of purpose sign is bound to and the OTP's HMAC,
 * against values computed independently (Python's hashlib and hmac, see
 * each vector): the binding names the credential (schema/061: a code for
 * one key is no code for another), is a set of hashes (order-free, no
 * duplicates), names its hash algorithm and count, differs from every v1
 * binding, and the stored HMAC of a bound code covers the binding, that
 * of an unbound one is the old form.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "lib/factor.h"
#include "lib/hex.h"

static void
digest(const char *md, const char *s, unsigned char *out)
{
	unsigned int n = 0;

	assert_int_equal(EVP_Digest(s, strlen(s), out, &n,
	    EVP_get_digestbyname(md), NULL), 1);
}

static void
assert_hex(const unsigned char *b, size_t n, const char *want)
{
	char hex[129];

	hex_encode(b, n, hex);
	assert_string_equal(hex, want);
}

/*
 * hashlib.sha256(("pki-sign-binding-v2|5|SHA256|2|" + ",".join(sorted(
 * [sha256(b"a").hexdigest(), sha256(b"b").hexdigest()]))).encode())
 */
#define BINDING_AB \
	"f4115bc3163130f192787caf53018ac94307bd54365487738c68f0a5d1e387d6"
/* The same with "pki-sign-binding-v1|SHA256|2|" (schema/060): no credential. */
#define BINDING_AB_V1 \
	"9d524735a66296e97ddeba76a61f8af84278968fde02405ca16eea2b4fadb31b"

static void
test_binding_vectors(void **state)
{
	unsigned char a[32], b[32], c[48], out[FACTOR_BINDING_LEN];
	const unsigned char *ab[2] = { a, b }, *ba[2] = { b, a }, *one[1];
	char ref[FACTOR_BINDING_REF_SIZE], hex[2 * FACTOR_BINDING_LEN + 1];

	(void)state;
	digest("SHA256", "a", a);
	digest("SHA256", "b", b);
	assert_int_equal(factor_sign_binding("5", "SHA256", ab, 2, 32, out),
	    0);
	assert_hex(out, sizeof(out), BINDING_AB);
	/* A set: the order the hashes come in does not matter. */
	memset(out, 0, sizeof(out));
	assert_int_equal(factor_sign_binding("5", "SHA256", ba, 2, 32, out),
	    0);
	assert_hex(out, sizeof(out), BINDING_AB);
	factor_binding_ref(out, ref);
	assert_string_equal(ref, "F411-5BC3-1631-30F1");
	/* One of the two is another set. */
	one[0] = a;
	assert_int_equal(factor_sign_binding("5", "SHA256", one, 1, 32, out),
	    0);
	hex_encode(out, sizeof(out), hex);
	assert_string_not_equal(hex, BINDING_AB);
	/* The algorithm is named: hashlib.sha256(b"pki-sign-binding-v2|5|
	 * SHA384|1|" + sha384(b"c").hexdigest()). */
	digest("SHA384", "c", c);
	one[0] = c;
	assert_int_equal(factor_sign_binding("5", "SHA384", one, 1, 48, out),
	    0);
	assert_hex(out, sizeof(out), "1015b728c443925a0f1f53df5eed821f"
	    "fa04caf149c87c1961fe8419a73f3e44");
}

/*
 * The credential is named: the same documents for credential 6 (or 55)
 * are another binding, and none is the v1 binding of the same documents,
 * which named no credential.
 */
static void
test_binding_credential(void **state)
{
	unsigned char a[32], b[32], out[FACTOR_BINDING_LEN];
	const unsigned char *ab[2] = { a, b };
	char hex[2 * FACTOR_BINDING_LEN + 1];

	(void)state;
	digest("SHA256", "a", a);
	digest("SHA256", "b", b);
	/* hashlib.sha256(b"pki-sign-binding-v2|6|SHA256|2|" + ...) */
	assert_int_equal(factor_sign_binding("6", "SHA256", ab, 2, 32, out),
	    0);
	assert_hex(out, sizeof(out), "b9ee1155c25ed89e9118bc01a8f9dee7"
	    "afbadf120e1e981deec3bfd22cbc02da");
	/* hashlib.sha256(b"pki-sign-binding-v2|55|SHA256|2|" + ...) */
	assert_int_equal(factor_sign_binding("55", "SHA256", ab, 2, 32, out),
	    0);
	assert_hex(out, sizeof(out), "1c057a5c1530dabf9871c17b29900818"
	    "a377506060263047a37ef0e51f99c6cf");
	assert_int_equal(factor_sign_binding("5", "SHA256", ab, 2, 32, out),
	    0);
	hex_encode(out, sizeof(out), hex);
	assert_string_not_equal(hex, BINDING_AB_V1);
	/* One spelling of a credentialID: as the SAM prints the u64. */
	assert_int_equal(factor_sign_binding("05", "SHA256", ab, 2, 32, out),
	    -1);
	assert_int_equal(factor_sign_binding("0", "SHA256", ab, 2, 32, out),
	    -1);
	assert_int_equal(factor_sign_binding("", "SHA256", ab, 2, 32, out),
	    -1);
	assert_int_equal(factor_sign_binding(NULL, "SHA256", ab, 2, 32, out),
	    -1);
	assert_int_equal(factor_sign_binding("5|SHA256", "SHA256", ab, 2, 32,
	    out), -1);
	assert_int_equal(factor_sign_binding(" 5", "SHA256", ab, 2, 32, out),
	    -1);
	assert_int_equal(factor_sign_binding("123456789012345678901", "SHA256",
	    ab, 2, 32, out), -1);
	assert_int_equal(factor_credential_ok("18446744073709551615"), 1);
	assert_int_equal(factor_credential_ok("1"), 1);
	assert_int_equal(factor_credential_ok("-1"), 0);
	assert_int_equal(factor_credential_ok("1a"), 0);
	assert_int_equal(factor_credential_ok(NULL), 0);
}

static void
test_binding_refusals(void **state)
{
	unsigned char a[32], out[FACTOR_BINDING_LEN];
	const unsigned char *aa[2] = { a, a }, *one[1] = { a };
	const unsigned char *many[FACTOR_BINDING_HASHES_MAX + 1];
	size_t i;

	(void)state;
	digest("SHA256", "a", a);
	assert_int_equal(factor_sign_binding("5", "SHA256", aa, 2, 32, out),
	    -1);
	assert_int_equal(factor_sign_binding("5", "SHA256", one, 0, 32, out),
	    -1);
	/* The length must be the algorithm's. */
	assert_int_equal(factor_sign_binding("5", "SHA384", one, 1, 32, out),
	    -1);
	assert_int_equal(factor_sign_binding("5", "SHA256", one, 1, 31, out),
	    -1);
	assert_int_equal(factor_sign_binding("5", "MD5", one, 1, 16, out), -1);
	assert_int_equal(factor_sign_binding("5", NULL, one, 1, 32, out), -1);
	for (i = 0; i < FACTOR_BINDING_HASHES_MAX + 1; i++)
		many[i] = a;
	assert_int_equal(factor_sign_binding("5", "SHA256", many,
	    FACTOR_BINDING_HASHES_MAX + 1, 32, out), -1);
}

static void
test_otp_mac(void **state)
{
	unsigned char key[FACTOR_OTP_KEY_LEN], a[32], b[32];
	unsigned char binding[FACTOR_BINDING_LEN], mac[32];
	const unsigned char *ab[2];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)i;
	/* hmac.new(bytes(range(32)), b"pki-ra-otp-v1|41|7|sms|revoke|123456",
	 * sha256): the form of every code without a binding. */
	assert_int_equal(factor_otp_mac(key, "41", "7", "sms", "revoke",
	    "123456", NULL, mac), 0);
	assert_hex(mac, sizeof(mac), "51a88749cef61383c35205688aa92bcd"
	    "e8719c78268e29e9f024a3b74c248a35");
	/* ... + "|" + the binding in hex, for a sign code. */
	digest("SHA256", "a", a);
	digest("SHA256", "b", b);
	ab[0] = a;
	ab[1] = b;
	assert_int_equal(factor_sign_binding("5", "SHA256", ab, 2, 32,
	    binding), 0);
	/* hmac.new(bytes(range(32)), b"pki-ra-otp-v1|41|7|sms|sign|123456|"
	 * + BINDING_AB, sha256): the credential through the binding. */
	assert_int_equal(factor_otp_mac(key, "41", "7", "sms", "sign",
	    "123456", binding, mac), 0);
	assert_hex(mac, sizeof(mac), "eb12d8118c0875d176dae81a11ecb041"
	    "c5519e880f41c3d9bcab415fb417ee03");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_binding_vectors),
		cmocka_unit_test(test_binding_credential),
		cmocka_unit_test(test_binding_refusals),
		cmocka_unit_test(test_otp_mac),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
