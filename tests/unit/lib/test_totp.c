/*
 * lib/totp: the RFC 6238 Appendix B vectors (SHA-1, SHA-256, SHA-512, 8
 * digits), RFC 4648 §10 base32 vectors and round trips, malformed base32,
 * the ±1 step window and replay refusal, the otpauth:// URI, and the
 * AES-256-GCM seal (wrong key, wrong owner, tampering).
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

#include "lib/totp.h"

static const char seed1[] = "12345678901234567890";
static const char seed256[] = "12345678901234567890123456789012";
static const char seed512[] = "1234567890123456789012345678901234567890"
    "123456789012345678901234";

struct vector {
	long long	 t;
	const char	*sha1, *sha256, *sha512;
};

/* RFC 6238 Appendix B. */
static const struct vector vectors[] = {
	{ 59LL, "94287082", "46119246", "90693936" },
	{ 1111111109LL, "07081804", "68084774", "25091201" },
	{ 1111111111LL, "14050471", "67062674", "99943326" },
	{ 1234567890LL, "89005924", "91819424", "93441116" },
	{ 2000000000LL, "69279037", "90698825", "38618901" },
	{ 20000000000LL, "65353130", "77737706", "47863826" },
};

static void
check_code(enum totp_alg alg, const char *seed, long long t, const char *want)
{
	struct totp_params p;
	uint64_t step, m;
	char code[TOTP_DIGITS_MAX + 1];

	totp_params_default(&p);
	p.alg = alg;
	p.digits = 8;
	assert_int_equal(totp_step(&p, (time_t)t, &step), TOTP_OK);
	assert_int_equal(totp_code(&p, (const unsigned char *)seed,
	    strlen(seed), step, code), TOTP_OK);
	assert_string_equal(code, want);
	assert_int_equal(totp_verify(&p, (const unsigned char *)seed,
	    strlen(seed), want, (time_t)t, 0, &m), TOTP_OK);
	assert_true(m == step);
}

static void
test_rfc6238_vectors(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		check_code(TOTP_SHA1, seed1, vectors[i].t, vectors[i].sha1);
		check_code(TOTP_SHA256, seed256, vectors[i].t, vectors[i].sha256);
		check_code(TOTP_SHA512, seed512, vectors[i].t, vectors[i].sha512);
	}
}

static void
test_six_digits(void **state)
{
	struct totp_params p;
	char code[TOTP_DIGITS_MAX + 1];

	/* The last six digits of the 8-digit value: 94287082 mod 10^6. */
	totp_params_default(&p);
	memset(code, 'X', sizeof(code));
	assert_int_equal(totp_code(&p, (const unsigned char *)seed1, 20, 1,
	    code), TOTP_OK);
	assert_string_equal(code, "287082");
	/* The whole buffer is defined: totp_verify compares all of it. */
	assert_int_equal(code[7], 0);
	assert_int_equal(code[8], 0);
	p.digits = 5;
	assert_int_equal(totp_code(&p, (const unsigned char *)seed1, 20, 1,
	    code), TOTP_ERR_ARG);
	p.digits = 9;
	assert_int_equal(totp_code(&p, (const unsigned char *)seed1, 20, 1,
	    code), TOTP_ERR_ARG);
}

/* RFC 4648 §10. */
static void
test_base32_vectors(void **state)
{
	static const char *const in[] = { "", "f", "fo", "foo", "foob",
	    "fooba", "foobar" };
	static const char *const padded[] = { "", "MY======", "MZXQ====",
	    "MZXW6===", "MZXW6YQ=", "MZXW6YTB", "MZXW6YTBOI======" };
	static const char *const bare[] = { "", "MY", "MZXQ", "MZXW6",
	    "MZXW6YQ", "MZXW6YTB", "MZXW6YTBOI" };
	unsigned char buf[32];
	char out[64];
	size_t i, n;

	for (i = 0; i < 7; i++) {
		assert_int_equal(totp_base32_encode((const unsigned char *)in[i],
		    strlen(in[i]), 1, out, sizeof(out)), TOTP_OK);
		assert_string_equal(out, padded[i]);
		assert_int_equal(totp_base32_encode((const unsigned char *)in[i],
		    strlen(in[i]), 0, out, sizeof(out)), TOTP_OK);
		assert_string_equal(out, bare[i]);
		assert_int_equal(totp_base32_decode(padded[i], buf, sizeof(buf),
		    &n), TOTP_OK);
		assert_int_equal(n, strlen(in[i]));
		assert_memory_equal(buf, in[i], n);
		assert_int_equal(totp_base32_decode(bare[i], buf, sizeof(buf),
		    &n), TOTP_OK);
		assert_int_equal(n, strlen(in[i]));
		assert_memory_equal(buf, in[i], n);
	}
	/* Lower case decodes too. */
	assert_int_equal(totp_base32_decode("mzxw6ytboi", buf, sizeof(buf), &n),
	    TOTP_OK);
	assert_memory_equal(buf, "foobar", 6);
	/* Short output buffer: encode and decode refuse. */
	assert_int_equal(totp_base32_encode((const unsigned char *)"foobar", 6,
	    1, out, 16), TOTP_ERR_ARG);
	assert_int_equal(totp_base32_decode("MZXW6YTBOI", buf, 5, &n),
	    TOTP_ERR_ARG);
}

static void
test_base32_malformed(void **state)
{
	static const char *const bad[] = {
		"M",		/* impossible length */
		"MZX",		/* impossible length */
		"MZXW6Y",	/* impossible length */
		"MZ======",	/* non-zero trailing bits */
		"MY=====",	/* incomplete padding */
		"MY=======",	/* too much padding */
		"MY==MY==",	/* padding inside */
		"========",	/* padding only */
		"MZXW1YTB",	/* '1' is not in the alphabet */
		"MZXW YTB",	/* no spaces */
		"MZXW6YT\xc3\xa9",	/* no UTF-8 */
	};
	unsigned char buf[32];
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(totp_base32_decode(bad[i], buf, sizeof(buf),
		    &n), TOTP_ERR_ARG);
		assert_int_equal(n, 0);
	}
}

static void
test_base32_roundtrip(void **state)
{
	unsigned char in[64], out[64];
	char b32[128];
	size_t len, n;
	int pad;

	for (len = 0; len <= sizeof(in); len++) {
		for (n = 0; n < len; n++)
			in[n] = (unsigned char)(n * 37 + len * 11);
		for (pad = 0; pad <= 1; pad++) {
			assert_int_equal(totp_base32_encode(in, len, pad, b32,
			    sizeof(b32)), TOTP_OK);
			assert_int_equal(totp_base32_decode(b32, out,
			    sizeof(out), &n), TOTP_OK);
			assert_int_equal(n, len);
			assert_memory_equal(in, out, len);
		}
	}
}

static void
test_window_and_replay(void **state)
{
	const unsigned char *k = (const unsigned char *)seed1;
	struct totp_params p;
	char prev[TOTP_DIGITS_MAX + 1], cur[TOTP_DIGITS_MAX + 1];
	char next[TOTP_DIGITS_MAX + 1], far[TOTP_DIGITS_MAX + 1];
	time_t now = 1700000015;	/* step 56666667, 15 s into it */
	uint64_t step, m;

	totp_params_default(&p);
	assert_int_equal(totp_step(&p, now, &step), TOTP_OK);
	assert_true(step == 56666667);
	assert_int_equal(totp_code(&p, k, 20, step - 1, prev), TOTP_OK);
	assert_int_equal(totp_code(&p, k, 20, step, cur), TOTP_OK);
	assert_int_equal(totp_code(&p, k, 20, step + 1, next), TOTP_OK);
	assert_int_equal(totp_code(&p, k, 20, step + 2, far), TOTP_OK);

	/* ±1 step accepted, each reporting its own step. */
	assert_int_equal(totp_verify(&p, k, 20, prev, now, 0, &m), TOTP_OK);
	assert_true(m == step - 1);
	assert_int_equal(totp_verify(&p, k, 20, next, now, 0, &m), TOTP_OK);
	assert_true(m == step + 1);
	/* Two steps away: refused (unless it collides with one in the window). */
	if (strcmp(far, prev) != 0 && strcmp(far, cur) != 0 &&
	    strcmp(far, next) != 0)
		assert_int_equal(totp_verify(&p, k, 20, far, now, 0, &m),
		    TOTP_ERR_MISMATCH);
	/* Replays: the same step, or an earlier one, after it was accepted. */
	assert_int_equal(totp_verify(&p, k, 20, cur, now, step, &m),
	    TOTP_ERR_REPLAY);
	assert_true(m == 0);
	assert_int_equal(totp_verify(&p, k, 20, prev, now, step, &m),
	    TOTP_ERR_REPLAY);
	assert_int_equal(totp_verify(&p, k, 20, next, now, step, &m), TOTP_OK);
	assert_true(m == step + 1);
	assert_int_equal(totp_verify(&p, k, 20, next, now, step + 1, &m),
	    TOTP_ERR_REPLAY);
	/* Wrong shapes: mismatches, never a crash or a partial match. */
	assert_int_equal(totp_verify(&p, k, 20, "", now, 0, &m),
	    TOTP_ERR_MISMATCH);
	assert_int_equal(totp_verify(&p, k, 20, "12345", now, 0, &m),
	    TOTP_ERR_MISMATCH);
	assert_int_equal(totp_verify(&p, k, 20, "1234567", now, 0, &m),
	    TOTP_ERR_MISMATCH);
	assert_int_equal(totp_verify(&p, k, 20, "12345a", now, 0, &m),
	    TOTP_ERR_MISMATCH);
	cur[5] = '\0';
	assert_int_equal(totp_verify(&p, k, 20, cur, now, 0, &m),
	    TOTP_ERR_MISMATCH);
	/* A wrong key. */
	assert_int_equal(totp_verify(&p, (const unsigned char *)"x", 1, next,
	    now, 0, &m) == TOTP_OK, 0);
}

static void
test_uri(void **state)
{
	static const unsigned char key[] = "12345678901234567890";
	struct totp_params p;
	char uri[512];

	totp_params_default(&p);
	assert_int_equal(totp_uri(&p, "PKI RA", "budi@example.co.id", key, 20,
	    uri, sizeof(uri)), TOTP_OK);
	assert_string_equal(uri, "otpauth://totp/PKI%20RA:budi%40example.co.id"
	    "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=PKI%20RA"
	    "&algorithm=SHA1&digits=6&period=30");
	assert_int_equal(totp_uri(&p, "A&B", "x?y=z#", key, 20, uri,
	    sizeof(uri)), TOTP_OK);
	assert_non_null(strstr(uri, "/A%26B:x%3Fy%3Dz%23?"));
	assert_non_null(strstr(uri, "&issuer=A%26B&"));
	/* No colon in the issuer; no empty names; short buffers refused. */
	assert_int_equal(totp_uri(&p, "a:b", "x", key, 20, uri, sizeof(uri)),
	    TOTP_ERR_ARG);
	assert_int_equal(totp_uri(&p, "", "x", key, 20, uri, sizeof(uri)),
	    TOTP_ERR_ARG);
	assert_int_equal(totp_uri(&p, "PKI", "x", key, 20, uri, 40),
	    TOTP_ERR_ARG);
	assert_string_equal(uri, "");
}

static void
test_seal(void **state)
{
	unsigned char key[TOTP_SEAL_KEY_BYTES], key2[TOTP_SEAL_KEY_BYTES];
	unsigned char sealed[TOTP_SEALED_BYTES], sealed2[TOTP_SEALED_BYTES];
	unsigned char out[TOTP_SECRET_BYTES];
	size_t n;

	memset(key, 0x11, sizeof(key));
	memset(key2, 0x22, sizeof(key2));
	assert_int_equal(totp_seal(key, "ra_officer:alice",
	    (const unsigned char *)seed1, 20, sealed, sizeof(sealed)), TOTP_OK);
	assert_null(memmem(sealed, sizeof(sealed), seed1, 20));
	assert_int_equal(totp_open(key, "ra_officer:alice", sealed,
	    sizeof(sealed), out, sizeof(out), &n), TOTP_OK);
	assert_int_equal(n, 20);
	assert_memory_equal(out, seed1, 20);
	/* Fresh nonce each time. */
	assert_int_equal(totp_seal(key, "ra_officer:alice",
	    (const unsigned char *)seed1, 20, sealed2, sizeof(sealed2)), TOTP_OK);
	assert_memory_not_equal(sealed, sealed2, sizeof(sealed));
	/* Wrong key, wrong owner, any flipped bit: refused. */
	assert_int_equal(totp_open(key2, "ra_officer:alice", sealed,
	    sizeof(sealed), out, sizeof(out), &n), TOTP_ERR_CRYPTO);
	assert_int_equal(n, 0);
	assert_int_equal(totp_open(key, "ra_officer:mallory", sealed,
	    sizeof(sealed), out, sizeof(out), &n), TOTP_ERR_CRYPTO);
	sealed[20] ^= 1;
	assert_int_equal(totp_open(key, "ra_officer:alice", sealed,
	    sizeof(sealed), out, sizeof(out), &n), TOTP_ERR_CRYPTO);
	assert_int_equal(totp_open(key, "ra_officer:alice", sealed, 28, out,
	    sizeof(out), &n), TOTP_ERR_ARG);
}

static void
write_file(char *path, size_t len, const char *data, mode_t mode)
{
	int fd;

	snprintf(path, len, "/tmp/test_totp.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd != -1);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static void
test_key_load(void **state)
{
	static const char hex[] = "000102030405060708090a0b0c0d0e0f"
	    "101112131415161718191A1B1C1D1E1F\n";
	unsigned char key[TOTP_SEAL_KEY_BYTES];
	char path[64], err[256];
	int i;

	write_file(path, sizeof(path), hex, 0600);
	assert_int_equal(totp_key_load(path, key, err, sizeof(err)), TOTP_OK);
	for (i = 0; i < TOTP_SEAL_KEY_BYTES; i++)
		assert_int_equal(key[i], i);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(totp_key_load(path, key, err, sizeof(err)),
	    TOTP_ERR_IO);
	unlink(path);
	write_file(path, sizeof(path), "abcd", 0600);
	assert_int_equal(totp_key_load(path, key, err, sizeof(err)),
	    TOTP_ERR_IO);
	assert_null(strstr(err, "abcd"));
	unlink(path);
	write_file(path, sizeof(path), "zz0102030405060708090a0b0c0d0e0f"
	    "101112131415161718191a1b1c1d1e1f", 0600);
	assert_int_equal(totp_key_load(path, key, err, sizeof(err)),
	    TOTP_ERR_IO);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6238_vectors),
		cmocka_unit_test(test_six_digits),
		cmocka_unit_test(test_base32_vectors),
		cmocka_unit_test(test_base32_malformed),
		cmocka_unit_test(test_base32_roundtrip),
		cmocka_unit_test(test_window_and_replay),
		cmocka_unit_test(test_uri),
		cmocka_unit_test(test_seal),
		cmocka_unit_test(test_key_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
