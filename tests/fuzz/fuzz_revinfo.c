/*
 * libFuzzer harness: the revocation data pkisign fetches from the network
 * for PAdES B-LT (sign/revinfo.c), arbitrary answers of an OCSP responder
 * or a CRL distribution point. The first byte's low bit picks the check:
 *  - 0: an OCSPResponse through revinfo_check_ocsp() for the fixed leaf
 *    below, in answer to a request carrying a fixed nonce;
 *  - 1: a CRL through revinfo_check_crl() for the same leaf.
 * Each must answer 0, 1 (revoked) or -1, with a message unless 0, never
 * crash or leak; a good OCSP answer gives its basic response, a refusal
 * none; a CRL is said to revoke the leaf only when it lists its serial.
 *
 * The issuer is fuzz_ocsp_request's "CN=fuzz CA" (its key signs nothing
 * but fuzz answers); the leaf "CN=fuzz leaf", serial 16, and the delegated
 * responder "CN=fuzz OCSP" (id-kp-OCSPSigning, serial 17, carried in the
 * seeds that use it) were issued under it with
 *	openssl x509 -req -CA ca.pem -CAkey key.pem -set_serial 16 -days 36500
 * so that the seeds in tests/fixtures/fuzz_revinfo/ (good, revoked,
 * unknown, with our nonce or another, delegated, two SingleResponses;
 * an empty CRL and one listing the leaf; nextUpdate in 2126) reach the
 * checks after the signature from the first run.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "sign/revinfo.h"
#include "tests/fuzz/fuzzca.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char fuzz_leaf_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBdzCCAR2gAwIBAgIBEDAKBggqhkjOPQQDAjASMRAwDgYDVQQDDAdmdXp6IENB\n"
	"MCAXDTI2MTIwNzAxMjU0NVoYDzIxMjYxMTEzMDEyNTQ1WjAUMRIwEAYDVQQDDAlm\n"
	"dXp6IGxlYWYwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATHlYU3iXpQK1qPHFjD\n"
	"l2eH38XErlHXRuZ8yJPk7pb2XTC6BUmTMzBLmq0yYNYwKA7e8NTZ0ICcjAismmND\n"
	"lud1o2AwXjAMBgNVHRMBAf8EAjAAMA4GA1UdDwEB/wQEAwIHgDAdBgNVHQ4EFgQU\n"
	"YFK1awFZ4eaOMMurfrQE7asyV78wHwYDVR0jBBgwFoAUXOpUsbyLkSLehA2VcOc+\n"
	"hAhlIwcwCgYIKoZIzj0EAwIDSAAwRQIhALc8tGfzg6eJXWdW99crHpjk1J9Jd/3T\n"
	"M4jEqQJ6V1lVAiA8GiftSPt1Ebl5cd+txas3gEbyHCdKrOvl2v2IARKV3A==\n"
	"-----END CERTIFICATE-----\n";

/*
 * The nonce of our request: 16 octets, as in the seeds (ri_ocsp sends 32
 * since 2026-12-08; the checks read no length).
 */
static const unsigned char fuzz_nonce[16] = "fuzz-nonce-0001";

static X509 *ca, *leaf;
static STACK_OF(X509) *pool;
static X509_STORE *trust;
static OCSP_REQUEST *req;
static OCSP_CERTID *id;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	OCSP_CERTID *rid;

	ca = fuzz_pem_cert(FUZZ_CA_PEM);
	leaf = fuzz_pem_cert(fuzz_leaf_pem);
	if ((pool = sk_X509_new_null()) == NULL ||
	    sk_X509_push(pool, ca) <= 0 ||
	    (trust = X509_STORE_new()) == NULL ||
	    X509_STORE_add_cert(trust, ca) != 1)
		abort();
	/* As ri_ocsp() asks: the leaf's CertID, our nonce. */
	if ((req = OCSP_REQUEST_new()) == NULL ||
	    (rid = OCSP_cert_to_id(NULL, leaf, ca)) == NULL ||
	    OCSP_request_add0_id(req, rid) == NULL ||
	    (id = OCSP_cert_to_id(NULL, leaf, ca)) == NULL ||
	    OCSP_request_add1_nonce(req, (unsigned char *)fuzz_nonce,
	    sizeof(fuzz_nonce)) != 1)
		abort();
	return 0;
}

/* 1 when the CRL in der lists the leaf's serial, whatever its signature. */
static int
fuzz_crl_lists_leaf(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509_CRL *crl;
	STACK_OF(X509_REVOKED) *revs;
	int i, found = 0;

	if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) == NULL)
		return 0;
	revs = X509_CRL_get_REVOKED(crl);
	for (i = 0; i < sk_X509_REVOKED_num(revs); i++)
		if (ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(
		    sk_X509_REVOKED_value(revs, i)),
		    X509_get0_serialNumber(leaf)) == 0)
			found = 1;
	X509_CRL_free(crl);
	return found;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	OCSP_BASICRESP *bs = (OCSP_BASICRESP *)1;
	char err[512];
	int rc;

	if (size < 1)
		return 0;
	data++;
	size--;
	memset(err, 'x', sizeof(err));
	if ((data[-1] & 1) == 0) {
		rc = revinfo_check_ocsp(data, size, req, id, pool, trust, &bs,
		    err, sizeof(err));
		if ((rc == 0) != (bs != NULL))
			abort();
		OCSP_BASICRESP_free(bs);
	} else {
		rc = revinfo_check_crl(data, size, leaf, ca, time(NULL), err,
		    sizeof(err));
		if (rc == 1 && !fuzz_crl_lists_leaf(data, size))
			abort();
	}
	if (rc != 0 && rc != 1 && rc != -1)
		abort();
	if (rc != 0 && (memchr(err, '\0', sizeof(err)) == NULL ||
	    err[0] == '\0'))
		abort();
	return 0;
}
