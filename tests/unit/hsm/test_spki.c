/*
 * hsm/spki.c against OpenSSL: the key read from a certificate is the one
 * X509_get0_pubkey gives, for EC P-256, P-384 and P-521, RSA-2048 and
 * (through d2i_PUBKEY) Ed25519 and a compressed EC point; a point off
 * its curve is refused; and no truncation of a SubjectPublicKeyInfo nor
 * byte changed in it gives a key that d2i_PUBKEY does not give for the
 * same bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "hsm/spki.h"

/* A self-signed certificate of key, DER (OPENSSL_free). */
static unsigned char *
cert_der(EVP_PKEY *key, int *len)
{
	X509 *x = X509_new();
	unsigned char *der = NULL;

	assert_non_null(x);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_ASC, (const unsigned char *)"spki", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_PKEY_is_a(key, "ED25519") ? NULL :
	    EVP_sha256()) > 0);
	*len = i2d_X509(x, &der);
	assert_true(*len > 0);
	X509_free(x);
	return der;
}

/*
 * What d2i_PUBKEY reads from exactly these bytes, or NULL: the
 * reference spki_pkey must never disagree with.
 */
static EVP_PKEY *
reference(const unsigned char *spki, size_t len)
{
	const unsigned char *p = spki;
	EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)len);

	if (k != NULL && p != spki + len) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	ERR_clear_error();
	return k;
}

/* spki_pkey(b) is NULL or d2i_PUBKEY's key for b. */
static void
assert_never_other(const unsigned char *b, size_t len)
{
	EVP_PKEY *ours = spki_pkey(b, len), *ref;

	ERR_clear_error();
	if (ours == NULL)
		return;
	ref = reference(b, len);
	if (ref == NULL || EVP_PKEY_eq(ours, ref) != 1)
		fail_msg("spki_pkey read a key d2i_PUBKEY does not give "
		    "(%zu bytes)", len);
	EVP_PKEY_free(ref);
	EVP_PKEY_free(ours);
}

/* key's certificate: the same key back, and every mutation judged. */
static void
check_key(EVP_PKEY *key)
{
	const unsigned char *spki;
	unsigned char *der, *m;
	size_t spkilen, i;
	EVP_PKEY *got;
	int len;
	static const unsigned char flips[] = { 0x01, 0x80, 0xff };
	unsigned int f;

	der = cert_der(key, &len);
	got = spki_cert_pkey(der, (size_t)len);
	assert_non_null(got);
	assert_int_equal(EVP_PKEY_eq(got, key), 1);
	EVP_PKEY_free(got);
	assert_int_equal(spki_of_cert(der, (size_t)len, &spki, &spkilen), 0);
	/* The certificate with a byte more, or truncated: not one. */
	assert_null(spki_cert_pkey(der, (size_t)len - 1));
	m = malloc((size_t)len + 1);
	assert_non_null(m);
	memcpy(m, der, (size_t)len);
	m[len] = 0;
	assert_null(spki_cert_pkey(m, (size_t)len + 1));
	free(m);
	for (i = 0; i <= spkilen; i++)
		assert_never_other(spki, i);
	m = malloc(spkilen);
	assert_non_null(m);
	for (i = 0; i < spkilen; i++) {
		for (f = 0; f < sizeof(flips); f++) {
			memcpy(m, spki, spkilen);
			m[i] ^= flips[f];
			assert_never_other(m, spkilen);
		}
	}
	free(m);
	OPENSSL_free(der);
}

static void
test_ec_curves(void **state)
{
	static const char *const curves[] = { "P-256", "P-384", "P-521" };
	EVP_PKEY *k;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
		k = EVP_EC_gen(curves[i]);
		assert_non_null(k);
		check_key(k);
		EVP_PKEY_free(k);
	}
}

static void
test_rsa(void **state)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);

	(void)state;
	assert_non_null(k);
	check_key(k);
	EVP_PKEY_free(k);
}

/* Keys the fast path leaves to d2i_PUBKEY: still read, the same. */
static void
test_fallback(void **state)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), *got;
	EVP_PKEY *ec = EVP_EC_gen("P-256");
	unsigned char *der = NULL;
	OSSL_PARAM params[2];
	int len;

	(void)state;
	assert_non_null(k);
	check_key(k);
	EVP_PKEY_free(k);
	/* A compressed point (02/03 || X). */
	assert_non_null(ec);
	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed", 0);
	params[1] = OSSL_PARAM_construct_end();
	assert_int_equal(EVP_PKEY_set_params(ec, params), 1);
	len = i2d_PUBKEY(ec, &der);
	assert_int_equal(len, 59);	/* 33-octet point */
	got = spki_pkey(der, (size_t)len);
	assert_non_null(got);
	assert_int_equal(EVP_PKEY_eq(got, ec), 1);
	EVP_PKEY_free(got);
	OPENSSL_free(der);
	EVP_PKEY_free(ec);
}

/* A point not on the curve: neither reads it. */
static void
test_off_curve(void **state)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	unsigned char *der = NULL;
	int len;

	(void)state;
	assert_non_null(k);
	len = i2d_PUBKEY(k, &der);
	assert_int_equal(len, 91);
	der[len - 1] ^= 0x01;	/* Y's last octet */
	assert_null(reference(der, (size_t)len));
	assert_null(spki_pkey(der, (size_t)len));
	ERR_clear_error();
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ec_curves),
		cmocka_unit_test(test_rsa),
		cmocka_unit_test(test_fallback),
		cmocka_unit_test(test_off_curve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
