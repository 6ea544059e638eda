/*
 * An RFC 3161 time-stamp client: the signature-time-stamp of PAdES B-T
 * (ETSI EN 319 142-1 §5.4, EN 319 122-1 §5.3) and the document time-stamp
 * of B-LTA (§5.5).
 */
#ifndef SIGN_TSA_CLIENT_H
#define SIGN_TSA_CLIENT_H

#include <stddef.h>

#include <openssl/x509.h>

/* The messageImprint is always SHA-256. */
#define TSA_IMPRINT_LEN	32
/* Largest TimeStampResp accepted. */
#define TSA_RESP_MAX	(64u * 1024)
/*
 * Largest TimeStampToken accepted (its DER, the PKCS#7 ContentInfo): the
 * room pkisign reserves for it in /Contents before anything is authorized
 * (the signature-time-stamp of B-T inside the CMS, the document time-stamp
 * of B-LTA alone), so it must be a real bound: a larger token is refused.
 * A token with a chain of three RSA-4096 certificates is about 7 KiB.
 */
#define TSA_TOKEN_MAX	(16u * 1024)

/*
 * POSTs a TimeStampReq (RFC 3161 §2.4.1: the given SHA-256 messageImprint,
 * since the caller hashes what is stamped; a 64-bit random nonce; certReq
 * TRUE) to url as application/timestamp-query and checks the TimeStampResp
 * (§2.4.2): HTTP 200, status granted or grantedWithMods, the token's
 * version, imprint and nonce those asked, its DER at most TSA_TOKEN_MAX; when trust is not NULL also the
 * token's signature and the TSA certificate's chain to it, intermediates
 * from untrusted (may be NULL) or the token (id-kp-timeStamping, §2.3). On
 * success *tst is the DER TimeStampToken (OPENSSL_free()), and when certs is
 * not NULL *certs the certificates the token carries (free with
 * sk_X509_pop_free(*certs, X509_free)). Returns 0, or -1 with a message in
 * err.
 */
int	tsa_timestamp(const char *url,
	    const unsigned char imprint[TSA_IMPRINT_LEN], X509_STORE *trust,
	    STACK_OF(X509) *untrusted, unsigned char **tst, size_t *tstlen,
	    STACK_OF(X509) **certs, char *err, size_t errlen);

/*
 * The checks of tsa_timestamp() on a response body already received, for
 * a request req (DER TimeStampReq); used by it and by the fuzz harness.
 */
int	tsa_check_response(const unsigned char *req, size_t reqlen,
	    const unsigned char *resp, size_t resplen, X509_STORE *trust,
	    STACK_OF(X509) *untrusted, unsigned char **tst, size_t *tstlen, STACK_OF(X509) **certs,
	    char *err, size_t errlen);

#endif
