/*
 * Validation material for PAdES B-LT (ETSI EN 319 142-1 §5.4): for each
 * certificate to be validated later (the signer's, the TSA's) and every CA
 * above it, an OCSP response from the URL of its authorityInfoAccess
 * (RFC 6960, POST) and the CRL of its cRLDistributionPoints (RFC 5280
 * §4.2.1.13, GET), checked, plus the certificates themselves; the result
 * goes to pdf_add_dss() (sign/pdf.h).
 */
#ifndef SIGN_REVINFO_H
#define SIGN_REVINFO_H

#include <stddef.h>
#include <time.h>

#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "sign/pdf.h"

/* Largest OCSP response and CRL fetched. */
#define REVINFO_OCSP_MAX	(64u * 1024)
#define REVINFO_CRL_MAX		(16u * 1024 * 1024)
/* Clock skew allowed on OCSP thisUpdate/nextUpdate and CRL thisUpdate, s. */
#define REVINFO_SKEW		300L

struct revinfo {
	struct pdf_blob	*certs, *ocsps, *crls;	/* DER, owned */
	size_t		 ncerts, nocsps, ncrls;
};

/*
 * Collects for every certificate of leaves (up to its self-signed root,
 * issuers taken from pool) the OCSP response and the CRL. Each must be
 * well-formed, signed by the certificate's issuer (OCSP: or its delegated
 * responder) chaining to trust, current, and say "good" / not list the
 * certificate; a certificate whose status is revoked fails. A CA whose
 * OCSP or CRL cannot be had is an error only when it has neither. The
 * OCSP responders' certificates are added to the certificates. Fills out
 * (cleared on entry; revinfo_clear() frees). Returns 0 or -1 with err.
 */
int	revinfo_collect(STACK_OF(X509) *leaves, STACK_OF(X509) *pool,
	    X509_STORE *trust, struct revinfo *out, char *err, size_t errlen);
void	revinfo_clear(struct revinfo *);
/*
 * The checks of a CRL fetched for x (len bytes of DER, at most
 * REVINFO_CRL_MAX), at time now: DER with nothing after it, issued and
 * signed by issuer (RFC 5280 §6.3.3), thisUpdate at most REVINFO_SKEW after
 * now (as OCSP's thisUpdate), nextUpdate present and after now, x not
 * listed. Returns 0, 1 (x is revoked: err says so) or -1 with err.
 */
int	revinfo_check_crl(const unsigned char *der, size_t len, X509 *x,
	    X509 *issuer, time_t now, char *err, size_t errlen);
/*
 * The checks of an OCSP response fetched for the certificate of id (len
 * bytes of DER, at most REVINFO_OCSP_MAX) in answer to req: DER with
 * nothing after it, responseStatus successful and a basic response (RFC
 * 6960 §4.2.1), req's nonce echoed if the responder echoes one (RFC 9654),
 * signed by the certificate's issuer or its delegated responder chaining to
 * trust (pool: more certificates), a SingleResponse for id current within
 * REVINFO_SKEW of now (§3.2; one without nextUpdate only when its
 * thisUpdate is within REVINFO_SKEW of now). Returns 0 (good: *out is the basic response,
 * OCSP_BASICRESP_free()), 1 (revoked: err says so) or -1 with err; *out is
 * NULL but on 0.
 */
int	revinfo_check_ocsp(const unsigned char *der, size_t len,
	    OCSP_REQUEST *req, OCSP_CERTID *id, STACK_OF(X509) *pool,
	    X509_STORE *trust, OCSP_BASICRESP **out, char *err, size_t errlen);
/*
 * The OCSP request for x (issued by issuer): its CertID (SHA-1) and a
 * random nonce of REVINFO_NONCE_LEN octets, the length RFC 9654 §2.1 asks
 * clients to send and every responder must accept (16 to 32). Returns the
 * request (OCSP_REQUEST_free()) and a copy of its CertID in *id
 * (OCSP_CERTID_free()), or NULL.
 */
#define REVINFO_NONCE_LEN	32
OCSP_REQUEST	*revinfo_ocsp_request(X509 *x, X509 *issuer, OCSP_CERTID **id);
/* A pdf_dss pointing into ri (valid while ri is). */
void	revinfo_dss(const struct revinfo *ri, struct pdf_dss *dss);

#endif
