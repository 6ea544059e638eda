/*
 * Wrapped subscriber keys: key pairs generated inside the token as session
 * objects, exported only wrapped (CKM_AES_KEY_WRAP_PAD, RFC 5649) under one
 * trusted, non-extractable AES-256 wrapping key, stored by the caller as a
 * blob, and unwrapped into a non-extractable session object for each
 * signature. Groundwork for subscriber issuance (issue 3) and remote signing
 * (issue 6); see hsm/README.md "Wrapped subscriber keys" and HSM-NOTES.md
 * "Wrapped subscriber keys in SoftHSM2 2.6.1" for why each attribute is set.
 *
 * What the attributes stop (tested in tests/unit/hsm/test_p11wrap.c): with
 * only the user PIN and a blob, unwrapping as non-sensitive or extractable,
 * re-wrapping under a key of known value and using the wrapping key as an
 * AES-ECB/CBC decryption oracle all fail. The user PIN plus a blob still
 * allows *signing* with that subscriber's key: the caller (the signer
 * process) must authorize each signature itself before p11wrap_sign().
 *
 * Blob format, version 1 (nothing else is stored in it; the caller stores the
 * subscriber's public key beside it, and p11wrap_sign() checks every
 * signature against that public key, because a blob is not bound to its
 * subscriber):
 *
 *	byte 0		P11WRAP_BLOB_V1 (0x01)
 *	byte 1		key type: P11WRAP_BLOB_* below (0x01 rsa2048, 0x02
 *			rsa3072, 0x03 rsa4096, 0x04 ec-p256, 0x05 ec-p384)
 *	bytes 2..	CKM_AES_KEY_WRAP_PAD output (RFC 5649) of the private
 *			key as the module encodes it (SoftHSM2: a PKCS#8
 *			PrivateKeyInfo, zero-padded), a multiple of 8 bytes,
 *			at least 16
 *
 * Sizes seen with SoftHSM2 2.6.1: 82 bytes for ec-p256, about 1,226-1,234
 * for rsa2048. Wrapping is deterministic (no IV): the same key always gives
 * the same blob.
 *
 * The calls run on a struct p11_token from p11_token_open() (hsm/p11.h):
 * its read-write session, logged in as user, its kept PIN and its recovery
 * of lost sessions (p11_token_run() in hsm/p11_priv.h). The same token
 * handle can serve p11_sign_digest() too. In PKCS#11 a login belongs to the
 * whole process: never C_Logout while wrapped keys are in use (it destroys
 * every private session object of the process), and do not run
 * p11wrap_create_wrapping_key() in a process that serves signatures. Not
 * thread-safe, as the token handle is not: one per thread (scale with
 * processes, HSM-NOTES.md).
 */
#ifndef PKI_P11WRAP_H
#define PKI_P11WRAP_H

#include <stddef.h>
#include <openssl/evp.h>

#include "hsm/p11.h"

#define P11WRAP_BLOB_V1		0x01
#define P11WRAP_BLOB_RSA2048	0x01
#define P11WRAP_BLOB_RSA3072	0x02
#define P11WRAP_BLOB_RSA4096	0x03
#define P11WRAP_BLOB_EC_P256	0x04
#define P11WRAP_BLOB_EC_P384	0x05
#define P11WRAP_BLOB_MAX	8192	/* RSA-4096 needs about 2,400 */

/* RSA padding for p11wrap_sign(); ignored for EC keys. */
enum p11wrap_pad {
	P11WRAP_PAD_PKCS1 = 0,	/* PKCS#1 v1.5, DigestInfo + CKM_RSA_PKCS */
	P11WRAP_PAD_PSS,	/* CKM_RSA_PKCS_PSS, MGF1 = digest, salt = dlen */
};

/*
 * The ceremony step: logs in as SO on the token labelled token_label,
 * generates an AES-256 wrapping key as a public session object with
 * CKA_TRUSTED=true and the restrictive attributes (hsm/README.md "Wrapped
 * subscriber keys"; the unwrap template is p11wrap.c p11wrap_unwrap_tmpl),
 * logs out, logs in as user, copies it to a private token object with
 * CKA_MODIFIABLE=false, destroys the session original, checks the copy as
 * p11wrap_check_wrapping_key() does, logs out and closes: all in a session
 * of its own on the module (from p11_module_load(); no struct p11_token).
 * Refuses (-1) when any object labelled label exists on the token
 * (including an orphan from a failed attempt), when the module lacks
 * CKM_AES_KEY_WRAP_PAD, or when someone is already
 * logged in to the token in this process (the SO cannot log in then).
 * The SO PIN can make a trusted key of known value: keep it for ceremonies.
 */
int	p11wrap_create_wrapping_key(struct p11_module *,
	    const char *token_label, const char *so_pin, const char *user_pin,
	    const char *label, char *err, size_t errlen);

/*
 * Start-up check of the wrapping key labelled label: exactly one secret key
 * with that label, and every attribute exactly the safe value (AES, 32
 * bytes, token, private, trusted, not modifiable, sensitive,
 * never extractable, wrap/unwrap only, CKA_ALLOWED_MECHANISMS exactly
 * {CKM_AES_KEY_WRAP_PAD}, CKA_UNWRAP_TEMPLATE exactly the subscriber
 * template), and the token offers CKM_AES_KEY_WRAP_PAD for wrap and unwrap
 * with 32-byte keys. 0, or -1 naming the first attribute that is wrong. A
 * key left with default attributes by a failed creation is refused.
 * p11wrap_generate() and p11wrap_sign() run the same check the first time
 * they use a wrapping key label in a session of the token.
 */
int	p11wrap_check_wrapping_key(struct p11_token *, const char *label,
	    char *err, size_t errlen);

/*
 * Generates a subscriber key pair of type (ec-p256, ec-p384, rsa2048,
 * rsa3072, rsa4096) as session objects (private: CKA_PRIVATE, SENSITIVE,
 * EXTRACTABLE, WRAP_WITH_TRUSTED, SIGN; DECRYPT/UNWRAP/DERIVE=false), wraps
 * the private key under the wrapping key labelled wrapping_label and
 * destroys both objects. Returns 0 with *blob (malloc'd, *bloblen bytes, the
 * format above; caller frees) and *pub (the public key; caller frees with
 * EVP_PKEY_free), or -1 with err and both NULL.
 */
int	p11wrap_generate(struct p11_token *, const char *wrapping_label,
	    enum p11_keytype type, unsigned char **blob, size_t *bloblen,
	    EVP_PKEY **pub, char *err, size_t errlen);

/*
 * Signs a digest computed by the caller with the key wrapped in blob:
 * unwraps it into a session object (sensitive, non-extractable, template
 * identical to the wrapping key's CKA_UNWRAP_TEMPLATE), signs, and checks
 * the signature with expected_pub (the public key stored beside the blob)
 * before returning it; then destroys the object, or keeps it for the next
 * signature with this blob and this public key when the token has an
 * unwrapped-key cache (p11wrap_cache_limit). mdname is "SHA256", "SHA384"
 * or "SHA512"; dlen must match. EC: CKM_ECDSA, the signature DER-encoded
 * (ECDSA-Sig-Value). RSA: pad as above. *sig is malloc'd (caller frees).
 * 0 on success. P11WRAP_E_MISMATCH with err and *sig NULL when the blob
 * does not hold expected_pub's key: a signature did not verify with it, or
 * the blob's key type is not expected_pub's (a blob moved to another
 * subscriber's row). -1 with err and *sig NULL on any other failure: the
 * token unavailable after the reconnects, a C_UnwrapKey or C_Sign error (a
 * tampered blob, a wrong wrapping key), a malformed blob, a refused digest,
 * out of memory. Callers tell the two apart: signd's SAM audits only a
 * mismatch as a refusal of the key; the rest may pass. Lost sessions are
 * recovered as p11_sign_digest() does.
 *
 * Which signatures are checked: the first one made with a freshly unwrapped
 * key (it proves the blob holds expected_pub's key: a blob is not bound to
 * its subscriber) and every RSA signature (an RSA-CRT fault would give the
 * key away; the check costs ~1 % of the signature). Further ECDSA
 * signatures of a key already proven are not checked: the check costs more
 * than half a SoftHSM2 signature, and a faulty ECDSA signature only fails
 * for its relying party.
 */
/*
 * The same for n digests with one unwrap (a bulk authorization's hashes):
 * sigs[k] and siglens[k] for digests[k]; all or none; the same returns.
 */
#define P11WRAP_E_MISMATCH	(-2)
int	p11wrap_sign_many(struct p11_token *, const char *wrapping_label,
	    const unsigned char *blob, size_t bloblen,
	    const EVP_PKEY *expected_pub, const char *mdname,
	    enum p11wrap_pad pad, const unsigned char *const *digests,
	    size_t n, size_t dlen, unsigned char **sigs, size_t *siglens,
	    char *err, size_t errlen);
int	p11wrap_sign(struct p11_token *, const char *wrapping_label,
	    const unsigned char *blob, size_t bloblen,
	    const EVP_PKEY *expected_pub, const char *mdname,
	    enum p11wrap_pad pad, const unsigned char *digest, size_t dlen,
	    unsigned char **sig, size_t *siglen, char *err, size_t errlen);

/*
 * The unwrapped-key cache of a token: up to max subscriber keys stay
 * unwrapped (session objects of the token's session, same attributes) after
 * a signature, keyed by SHA-256(wrapping label, blob) and the public key the
 * first signature verified with, so a hot key signs without the unwrap that
 * dominates a cold signature (hsm/README.md "Unwrapped-key cache"). The
 * least recently used key is destroyed to make room; a lost session forgets
 * them all (they went with it); max 0 (the default) keeps none and destroys
 * what was kept. The caller still decides before every signature whether
 * the key may sign (the SAM checks the credential and the SAD each time).
 * At most P11WRAP_CACHE_MAX. 0, or -1 with err.
 */
#define P11WRAP_CACHE_MAX	100000

struct p11wrap_cache_stats {
	unsigned long long	hits;		/* signed with a kept key */
	unsigned long long	unwraps;	/* C_UnwrapKey calls that worked */
	unsigned long long	evicted;	/* destroyed to make room */
	size_t			kept;		/* keys unwrapped now */
};

int	p11wrap_cache_limit(struct p11_token *, size_t max, char *err,
	    size_t errlen);
void	p11wrap_cache_stats(struct p11_token *, struct p11wrap_cache_stats *);

#endif
