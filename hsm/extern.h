/*
 * Private to hsm/: the signer process entry point and the provider that
 * carries a worker's private-key operations to it.
 */
#ifndef PKI_HSM_EXTERN_H
#define PKI_HSM_EXTERN_H

#include <time.h>

#include <openssl/evp.h>
#include <openssl/provider.h>

#include "hsm/signer.h"

/*
 * The signer process: serves requests on fd until it closes. Called in the
 * child right after fork(); returns the exit status for _exit().
 */
int	signerproc(int fd, const struct signer_config *);

/*
 * Creates a library context holding the "pkisigner" provider (and "default"
 * for public-key encoders and digests). Free with provider_unload().
 */
int	provider_load(OSSL_LIB_CTX **, OSSL_PROVIDER **, OSSL_PROVIDER **);
void	provider_unload(OSSL_LIB_CTX *, OSSL_PROVIDER *, OSSL_PROVIDER *);

/*
 * An EVP_PKEY in libctx with pub's public key whose signatures are made by
 * signer_sign(s, kind, label, ...). NULL on error.
 */
EVP_PKEY *provider_pkey(OSSL_LIB_CTX *, struct signer *, enum signer_kind,
	    const char *label, const EVP_PKEY *pub);

/*
 * tbsattrs.c: 0 when tbs is exactly one DER SignedAttributes (RFC 5652
 * §5.3) with one content-type and one message-digest attribute, the
 * content type id-ct-TSTInfo when tstinfo is set; -1 with why in err.
 */
int	signer_attrs_check(const unsigned char *tbs, size_t len, int tstinfo,
	    char *err, size_t errlen);

/*
 * tbscrl.c: 0 when tbs is exactly one DER TBSCertList (RFC 5280 §5.1.1),
 * checked in place without allocating; -1 with why in err.
 */
int	signer_tbscrl_check(const unsigned char *tbs, size_t len, char *err,
	    size_t errlen);
/*
 * What the signer signs as a CRL, beyond its shape (after
 * signer_tbscrl_check passed): a nextUpdate and a CRL Number (RFC 5280
 * §5.1.2.5, §5.2.3); thisUpdate at most 300 s ahead of now and 1 h behind
 * it; nextUpdate after it, by at most max_validity_s. So a worker taken
 * over cannot have the CA key sign a CRL valid for years (an empty one,
 * replayed to relying parties to hide revocations) or dated in the past.
 * 0, or -1 with why in err.
 */
int	signer_tbscrl_policy(const unsigned char *tbs, size_t len, time_t now,
	    long max_validity_s, char *err, size_t errlen);

#endif
