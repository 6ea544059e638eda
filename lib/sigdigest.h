/*
 * The digest a CA key signs with: certificates (ca/profile.c), CRLs and the
 * ARL (crl/, ca/arl.c), OCSP responses (ocsp/) and time-stamp tokens (tsa/)
 * all ask it of the signing key, so that no policy file can pair a P-384 key
 * with SHA-256.
 */
#ifndef PKI_SIGDIGEST_H
#define PKI_SIGDIGEST_H

#include <stddef.h>

#include <openssl/evp.h>

/*
 * The digest a signature by key (its public half is enough) is made with,
 * as the signer names it ("SHA256", "SHA384", "SHA512"; a static string),
 * or NULL with a message in err. An EC key's is fixed by its curve: P-256
 * SHA256, P-384 SHA384, P-521 SHA512 (Mozilla Root Store Policy 5.1.2,
 * CA/B Forum BR §7.1.3.2: ecdsa-with-SHA384 only with a P-384 key, and so
 * on), whatever configured says; another curve is refused. An RSA key's is
 * configured (SHA256, SHA384 or SHA512, any case: all three are allowed
 * with RSA; NULL is refused). Any other key type is refused. Leaves
 * OpenSSL's error queue as it found it.
 */
const char	*sigdigest_for_key(const EVP_PKEY *key, const char *configured,
		    char *err, size_t errlen);

#endif
