/*
 * CAdES detached SignedData for PAdES baseline signatures (ETSI EN 319
 * 142-1 §5.3 and §6.3; the CMS of RFC 5652 with the attributes of ETSI EN
 * 319 122-1), signed elsewhere: the private key stays in the remote signing
 * service (CSC signHash), so the object is built in three steps.
 *
 *	cades_new()		the SignerInfo's signed attributes: content-type
 *				(id-data), message-digest (of the PDF's
 *				ByteRange) and ESS signing-certificate-v2
 *				(RFC 5035) naming the signer's certificate;
 *	cades_tbs()		their DER as the SET OF that is signed (sorted,
 *				tag 0x31, RFC 5652 §5.4); the caller hashes it
 *				with the same digest and has the hash signed;
 *	cades_set_signature()	puts the signature value in, and checks it
 *				with the certificate's public key;
 *	cades_add_timestamp()	(B-T) the signature-time-stamp unsigned
 *				attribute, a TimeStampToken over the signature
 *				value (EN 319 122-1 §5.3);
 *	cades_der()		the ContentInfo in DER, for /Contents.
 *
 * No signing-time attribute: for PAdES baseline "the signing-time attribute
 * shall not be present" (EN 319 142-1 §5.3); the claimed signing time is the
 * signature dictionary's /M. Signature algorithms: ECDSA (the SignerInfo
 * says ecdsa-with-SHAxxx; signHash returns a DER ECDSA-Sig-Value) and RSA
 * PKCS#1 v1.5 (rsaEncryption). The signer certificate and the chain given go
 * into SignedData.certificates.
 */
#ifndef SIGN_CADES_H
#define SIGN_CADES_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct cades;

/*
 * A new SignedData for signer (whose public key must be RSA or EC) with md
 * (SHA-256/384/512), over content whose digest by md is digest (mdlen
 * bytes). chain (may be NULL) adds certificates; signer itself is not
 * repeated. Returns NULL with a message in err. Free with cades_free().
 */
struct cades	*cades_new(X509 *signer, STACK_OF(X509) *chain, const EVP_MD *md,
		    const unsigned char *digest, size_t mdlen, char *err,
		    size_t errlen);
void		 cades_free(struct cades *);

/*
 * The DER of the signed attributes as signed (SET OF, DER-sorted). *out is
 * allocated (free with free()). Returns 0 or -1.
 */
int		 cades_tbs(struct cades *, unsigned char **out, size_t *outlen,
		    char *err, size_t errlen);

/*
 * The signature value: for RSA the PKCS#1 v1.5 block, for ECDSA the DER
 * ECDSA-Sig-Value. It must verify with the signer's public key over the
 * signed attributes, else -1 ("does not verify": a wrong credential or a
 * service fault).
 */
int		 cades_set_signature(struct cades *, const unsigned char *sig,
		    size_t siglen, char *err, size_t errlen);

/* The signature value set (borrowed), or NULL before cades_set_signature. */
const unsigned char *cades_signature(const struct cades *, size_t *len);

/*
 * Adds a DER TimeStampToken (a ContentInfo, 1..TSA_TOKEN_MAX bytes) as
 * signature-time-stamp.
 */
int		 cades_add_timestamp(struct cades *, const unsigned char *tst,
		    size_t tstlen, char *err, size_t errlen);

/*
 * An upper bound of the size of cades_der() for a SignedData that
 * cades_new() makes with these arguments, known before anything is signed:
 * the DER of such a SignedData whose signature value has the most bytes a
 * value of the signer's key can have that cades_set_signature() accepts
 * (RSA: the modulus's length; ECDSA: the DER ECDSA-Sig-Value of two
 * INTEGERs as long as the group order allows, since the length of a real
 * one varies with r and s) and, when tst_max is not 0, a signature-time-
 * stamp attribute of a token of tst_max bytes (cades_add_timestamp()
 * refuses a larger one). Every length in the encoding grows with its
 * content, so no real SignedData is longer. Returns 0, or -1 with err.
 */
int		 cades_size_bound(X509 *signer, STACK_OF(X509) *chain,
		    const EVP_MD *md, size_t tst_max, size_t *bound, char *err,
		    size_t errlen);

/* The DER ContentInfo; *out allocated with OPENSSL_malloc (OPENSSL_free). */
int		 cades_der(const struct cades *, unsigned char **out,
		    size_t *outlen, char *err, size_t errlen);

#endif
