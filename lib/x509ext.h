/*
 * A certificate's extensions judged the same way by cad's worker (its lint,
 * ca/worker/lint.c), `pkictl cert issue` (ca/certcmd.c) and the signer that
 * certifies cad's subscribers (hsm/signerproc.c, signerproc_cert_policy).
 */
#ifndef PKI_X509EXT_H
#define PKI_X509EXT_H

#include <openssl/x509.h>

/*
 * What among exts (a certificate's extensions; NULL for none) would let its
 * key act for the CA, as words for a message, or NULL: keyUsage
 * keyCertSign or cRLSign (RFC 5280 §4.2.1.3), extendedKeyUsage OCSPSigning
 * (RFC 6960 §4.2.2.2), timeStamping (RFC 3161 §2.3) or anyExtendedKeyUsage
 * (RFC 5280 §4.2.1.12). A subscriber signs hashes of its choosing (signd),
 * so such a key would sign status or time in the CA's name. Every
 * extension is read on its own, a second keyUsage as well as the first; a
 * keyUsage or extendedKeyUsage that does not decode is named too. Leaves
 * OpenSSL's error queue as it found it.
 */
const char	*x509ext_ca_usage(const STACK_OF(X509_EXTENSION) *exts);

/*
 * RFC 5280 §5.3.1 CRLReason code's name ("keyCompromise", ...), or NULL for
 * a code it does not define (7, or out of 0..10). One spelling for crld,
 * cad, rad, pkictl and lib/publish.c: OpenSSL 3.0's OCSP_crl_reason_str
 * knows neither privilegeWithdrawn (9) nor aACompromise (10) and says
 * "(UNKNOWN)" for them.
 */
const char	*x509ext_crl_reason_name(int code);
/* The code named name exactly (x509ext_crl_reason_name), or -1. */
int		 x509ext_crl_reason_code(const char *name);

#endif
