/*
 * Shared by the tsa unit tests (included, not compiled alone): a test CA's
 * and TSA's certificates made in memory.
 */
#ifndef PKI_TEST_TSATEST_H
#define PKI_TEST_TSATEST_H

#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/*
 * A certificate for key, O=Test PKI, CN=cn: self-signed when issuer is
 * NULL, else signed by ikey; a CA (basicConstraints) or, with tsa, a TSA
 * (critical extendedKeyUsage timeStamping); valid from nb to na, and with
 * a privateKeyUsagePeriod (RFC 5280 §4.2.1.4) when pku_nb or pku_na is not
 * 0 (0: that end absent).
 */
static X509 *
make_cert_at(EVP_PKEY *key, const char *cn, long serial, X509 *issuer,
    EVP_PKEY *ikey, int tsa, time_t nb, time_t na, time_t pku_nb,
    time_t pku_na)
{
	X509 *x = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	PKEY_USAGE_PERIOD *pku;

	assert_non_null(x);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "O", MBSTRING_ASC,
	    (const unsigned char *)"Test PKI", -1, -1, 0);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(issuer != NULL ? issuer : x));
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), nb));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), na));
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, tsa ? NID_ext_key_usage :
	    NID_basic_constraints, tsa ? "critical,timeStamping" :
	    "critical,CA:TRUE");
	assert_non_null(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (pku_nb != 0 || pku_na != 0) {
		assert_non_null(pku = PKEY_USAGE_PERIOD_new());
		if (pku_nb != 0)
			assert_non_null(pku->notBefore =
			    ASN1_GENERALIZEDTIME_set(NULL, pku_nb));
		if (pku_na != 0)
			assert_non_null(pku->notAfter =
			    ASN1_GENERALIZEDTIME_set(NULL, pku_na));
		assert_int_equal(X509_add1_ext_i2d(x,
		    NID_private_key_usage_period, pku, 0, X509V3_ADD_DEFAULT), 1);
		PKEY_USAGE_PERIOD_free(pku);
	}
	assert_true(X509_sign(x, ikey != NULL ? ikey : key, EVP_sha256()) > 0);
	return x;
}

/*
 * make_cert_at valid from 2020-01-01 (so that tests with a fixed genTime
 * in the past stay inside it) to a day from now, without a
 * privateKeyUsagePeriod.
 */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, long serial, X509 *issuer,
    EVP_PKEY *ikey, int tsa)
{
	return make_cert_at(key, cn, serial, issuer, ikey, tsa, 1577836800,
	    time(NULL) + 86400, 0, 0);
}

#endif
