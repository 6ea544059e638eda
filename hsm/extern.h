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
 * signerproc.c's checks of a SIGN request's to-be-signed bytes, which a
 * worker sends across the privilege boundary (tests/fuzz/fuzz_signer_tbs.c).
 * signerproc_tbs_check: 0 when tbs decodes as the structure kind names
 * (a SIGNER_KIND_*: a TBSCertificate in DER with RFC 5280's validity
 * times, a TBSCertList, SignedAttributes, an audit tree head for key
 * label; an OCSP ResponseData is left to signerproc_ocsp_policy) and
 * nothing follows it; -1 with why in err.
 */
int	signerproc_tbs_check(uint32_t kind, const char *label,
	    const unsigned char *tbs, size_t len, char *err, size_t errlen);
/*
 * What the signer signs as an OCSP response: exactly one DER ResponseData
 * (RFC 6960 §4.2.1, nothing after it), producedAt at most 300 s ahead of
 * now and 1 h behind it, and every SingleResponse with a nextUpdate at
 * most max_s after now (RFC 5019 §2.2.4: pre-produced responses carry
 * one); every time (producedAt, thisUpdate, nextUpdate, revocationTime)
 * YYYYMMDDHHMMSSZ as der_get_time() reads it. So a worker taken over
 * cannot have the responder key sign answers ("good" for a revoked
 * certificate) that stay valid long after it is stopped, nor times a
 * relying party reads otherwise than the signer. 0, or -1 with err.
 */
int	signerproc_ocsp_policy(const unsigned char *tbs, size_t len,
	    time_t now, long max_s, char *err, size_t errlen);
/*
 * What an issuance signer (one granted WRAPGEN: cad's) signs as a
 * certificate, beyond signerproc_tbs_check: a v3 end-entity TBSCertificate
 * (no basicConstraints cA, no nsCertType, nothing x509ext_ca_usage names)
 * whose SubjectPublicKeyInfo's SHA-256 is one of issuable[0..nissuable),
 * the subscriber keys it generated and has not certified. 0 with that
 * index in *slot, or -1 (*slot -1) with err. Parses the worker's bytes
 * (tests/fuzz/fuzz_signer_tbs.c).
 */
int	signerproc_cert_policy(const unsigned char (*issuable)[32],
	    int nissuable, const unsigned char *tbs, size_t len, int *slot,
	    char *err, size_t errlen);

/*
 * tbsattrs.c: 0 when tbs is exactly one DER SignedAttributes (RFC 5652
 * §5.3) with one content-type and one message-digest attribute, the
 * content type id-ct-TSTInfo when tstinfo is set, and at most one
 * signing-time attribute, well formed (§11.3); -1 with why in err.
 */
int	signer_attrs_check(const unsigned char *tbs, size_t len, int tstinfo,
	    char *err, size_t errlen);
/* What signer_attrs_parse finds (all zero on a refusal). */
struct signer_attrs {
	const unsigned char	*digest;	/* message-digest's octets, in tbs */
	size_t			 digestlen;
	int			 signing_time_set;	/* a signing-time attribute */
	time_t			 signing_time;	/* its value */
};
/* The same check, giving what the attributes say in *out. */
int	signer_attrs_parse(const unsigned char *tbs, size_t len, int tstinfo,
	    struct signer_attrs *out, char *err, size_t errlen);

/*
 * tstinfo.c: 0 when tst is exactly one DER TSTInfo (RFC 3161 §2.4.2):
 * version 1, a policy, a messageImprint (hash parameters absent or NULL),
 * a positive serialNumber of at most 160 bits, genTime YYYYMMDDHHMMSS[.f]Z
 * (at most 6 fraction digits, none trailing 0, a date that exists), then
 * accuracy, ordering (TRUE only), nonce (a magnitude of at most 64
 * octets, plus a sign octet), tsa and extensions as far as present, in
 * that order, nothing after. *gentime gets genTime's second. -1 with why
 * in err.
 */
int	signer_tstinfo_check(const unsigned char *tst, size_t len,
	    time_t *gentime, char *err, size_t errlen);
/*
 * What the signer signs as a time-stamp token's SignedAttributes (attrs),
 * beyond their shape: tst, the DER TSTInfo the worker sent with them,
 * passes signer_tstinfo_check, the attributes' messageDigest is md's hash
 * of tst (of md's length: RFC 5652 §5.4, md being the signature's digest,
 * as tsad and TS_RESP_CTX use one for both), genTime is at most
 * SIGNER_TST_SKEW_S from now either way, and a signingTime attribute, if
 * there is one, is genTime's second (tsad writes both from one reading of
 * the clock). So a worker taken over cannot have the TSA key sign a token
 * dated in the past or the future, nor one whose two times disagree, nor
 * one over a TSTInfo the signer has not read. 0, or -1 with why in err.
 */
int	signer_tst_policy(const unsigned char *attrs, size_t attrslen,
	    const unsigned char *tst, size_t tstlen, const EVP_MD *md,
	    time_t now, char *err, size_t errlen);
/*
 * How far a token's genTime may be from the signer's clock. The worker
 * reads the same clock (one host) a moment before it asks, so only the
 * wait between differs: milliseconds, at most the signer's round-trip
 * time-out (hsm.signer_timeout_seconds, 10 s by default) in practice.
 * 300 s as for an OCSP producedAt's skew (signerproc.c) leaves room for a
 * longer time-out and a stepped clock, and bounds how far a worker taken
 * over can move a token's time.
 */
#define SIGNER_TST_SKEW_S	300

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

/*
 * signer_client.c's readers of a signer's replies, bytes from another
 * process the worker does not trust either (tests/fuzz/fuzz_signer_reply.c).
 * signer_reply_text: a refusal's text (len bytes, not NUL-terminated on
 * the wire) into err, cut to errlen - 1 bytes and NUL-terminated, each
 * control byte (below 0x20, 0x7f) a '?'; nothing when err is NULL or
 * errlen 0.
 */
void	signer_reply_text(const unsigned char *body, size_t len, char *err,
	    size_t errlen);
/*
 * A PUBKEY or KEYGEN reply: exactly one DER SubjectPublicKeyInfo. 0 with
 * *pub (caller frees), or -1 with err and *pub NULL.
 */
int	signer_spki(const unsigned char *der, size_t len, EVP_PKEY **pub,
	    char *err, size_t errlen);
/*
 * A WRAPGEN reply, {u32 n, n >= 2 bytes of blob, SPKI} (signer_proto.h):
 * 0 with *blob (malloc'd, *bloblen = n) and *pub, both the caller's to
 * free; -1 with err, *blob and *pub NULL, *bloblen 0.
 */
int	signer_wrapgen_reply(const unsigned char *rep, size_t replen,
	    unsigned char **blob, size_t *bloblen, EVP_PKEY **pub, char *err,
	    size_t errlen);

#endif
