/*
 * Shared by the tsa unit tests (included, not compiled alone): a test CA's
 * and TSA's certificates made in memory.
 */
#ifndef PKI_TEST_TSATEST_H
#define PKI_TEST_TSATEST_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/*
 * A certificate for key, O=Test PKI, CN=cn: self-signed when issuer is
 * NULL, else signed by ikey; a CA (basicConstraints) or, with tsa, a TSA
 * (critical extendedKeyUsage timeStamping).
 */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, long serial, X509 *issuer,
    EVP_PKEY *ikey, int tsa)
{
	X509 *x = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	assert_non_null(x);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "O", MBSTRING_ASC,
	    (const unsigned char *)"Test PKI", -1, -1, 0);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(issuer != NULL ? issuer : x));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, tsa ? NID_ext_key_usage :
	    NID_basic_constraints, tsa ? "critical,timeStamping" :
	    "critical,CA:TRUE");
	assert_non_null(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, ikey != NULL ? ikey : key, EVP_sha256()) > 0);
	return x;
}

#endif
