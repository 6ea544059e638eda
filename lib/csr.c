/*
 * PKCS#10 requests from bytes (lib/csr.h): PEM, else DER, and the
 * request's signature checked with its own key.
 */
#include <limits.h>
#include <stdio.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/csr.h"

X509_REQ *
csr_parse(const unsigned char *buf, size_t len, char *err, size_t errlen)
{
	BIO *b = NULL;
	X509_REQ *req = NULL, *ret = NULL;
	EVP_PKEY *pub;

	if (len > INT_MAX) {
		snprintf(err, errlen, "CSR of %zu bytes: too long", len);
		goto out;
	}
	if ((b = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		snprintf(err, errlen, "BIO_new_mem_buf failed");
		goto out;
	}
	if ((req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL)) == NULL) {
		(void)BIO_reset(b);
		req = d2i_X509_REQ_bio(b, NULL);
	}
	if (req == NULL) {
		snprintf(err, errlen, "not a PKCS#10 request (RFC 2986), "
		    "PEM or DER");
		goto out;
	}
	/* get0: the request's own key, freed with it. */
	if ((pub = X509_REQ_get0_pubkey(req)) == NULL ||
	    X509_REQ_verify(req, pub) != 1) {
		snprintf(err, errlen, "its signature does not verify with its "
		    "public key (RFC 2986 §3)");
		goto out;
	}
	ret = req;
	req = NULL;
out:
	X509_REQ_free(req);
	BIO_free(b);
	return ret;
}
