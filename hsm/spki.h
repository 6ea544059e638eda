/*
 * A certificate's subject public key as an EVP_PKEY without OpenSSL 3.0's
 * decoders (hsm/spki.c). d2i_X509 decodes the key through the decoder
 * machinery, ~90 µs a certificate on this machine (a fifth of a SAM's CPU
 * per cold signHash); the key alone, built from its parameters, ~15 µs.
 */
#ifndef PKI_HSM_SPKI_H
#define PKI_HSM_SPKI_H

#include <stddef.h>

#include <openssl/evp.h>

/*
 * The SubjectPublicKeyInfo of certificate der (a strict DER walk of the
 * Certificate and TBSCertificate up to it; the rest is not read): *spki
 * points into der. 0, or -1 when der is not shaped as a certificate.
 */
int		 spki_of_cert(const unsigned char *der, size_t len,
		    const unsigned char **spki, size_t *spkilen);

/*
 * The public key of a DER SubjectPublicKeyInfo. EC keys on P-256, P-384
 * and P-521 (namedCurve) and RSA keys (rsaEncryption, NULL parameters)
 * are built from their parameters (the EC point is checked to lie on the
 * curve); any other key, or one whose encoding the fast path does not
 * take, goes through d2i_PUBKEY. NULL when neither reads it. Never a key
 * d2i_PUBKEY would not give for the same bytes (test_spki, fuzz_spki).
 */
EVP_PKEY	*spki_pkey(const unsigned char *spki, size_t len);

/* spki_of_cert() then spki_pkey(). */
EVP_PKEY	*spki_cert_pkey(const unsigned char *der, size_t len);

#endif
