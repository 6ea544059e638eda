/*
 * The harnesses' test CA (an EC P-256 self-signed "fuzz CA", made for the
 * fuzzers only, valid until 2126) and its key, in one place: fuzz_crlfile,
 * fuzz_ocsp_request and fuzz_revinfo each carried a copy, and their seeds
 * (tests/fixtures/) are signed by it.
 */
#ifndef PKI_FUZZCA_H
#define PKI_FUZZCA_H

#include <stdlib.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define FUZZ_CA_KEY_PEM \
	"-----BEGIN PRIVATE KEY-----\n" \
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgO26kPgXXLaMJgtuw\n" \
	"Di9JVEkAlPfy8yAqZ+shMUhSjY6hRANCAASZLDWFGTaj/lA2w/MF9H1xiCKo17PQ\n" \
	"cjukTFGuEgHfq2j/tyRzpgg6FYYeLtKGopSHlpsq/xQakXnOQptq88PU\n" \
	"-----END PRIVATE KEY-----\n"
#define FUZZ_CA_PEM \
	"-----BEGIN CERTIFICATE-----\n" \
	"MIIBaDCCAQ6gAwIBAgIBATAKBggqhkjOPQQDAjASMRAwDgYDVQQDDAdmdXp6IENB\n" \
	"MCAXDTI2MTIwNTE2NDI1NloYDzIxMjYxMTExMTY0MjU2WjASMRAwDgYDVQQDDAdm\n" \
	"dXp6IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEmSw1hRk2o/5QNsPzBfR9\n" \
	"cYgiqNez0HI7pExRrhIB36to/7ckc6YIOhWGHi7ShqKUh5abKv8UGpF5zkKbavPD\n" \
	"1KNTMFEwHQYDVR0OBBYEFFzqVLG8i5Ei3oQNlXDnPoQIZSMHMB8GA1UdIwQYMBaA\n" \
	"FFzqVLG8i5Ei3oQNlXDnPoQIZSMHMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0E\n" \
	"AwIDSAAwRQIhAPEv5zzFtpRsN0l2wGNGqq+Sdxe222gEBsgZU9uvw+AvAiBYkwUG\n" \
	"cat9EX9GgdiVlMR6ivJDPNZcAVyCsDe7Gvk+tA==\n" \
	"-----END CERTIFICATE-----\n"

/* A certificate from PEM text; aborts (a harness cannot start without). */
static inline X509 *
fuzz_pem_cert(const char *pem)
{
	BIO *bio;
	X509 *x;

	if ((bio = BIO_new_mem_buf(pem, -1)) == NULL ||
	    (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL)
		abort();
	BIO_free(bio);
	return x;
}

/* A private key from PEM text; aborts likewise. */
static inline EVP_PKEY *
fuzz_pem_key(const char *pem)
{
	BIO *bio;
	EVP_PKEY *k;

	if ((bio = BIO_new_mem_buf(pem, -1)) == NULL ||
	    (k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL)
		abort();
	BIO_free(bio);
	return k;
}

#endif
