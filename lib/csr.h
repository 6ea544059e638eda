/*
 * A PKCS#10 certification request (RFC 2986) from bytes another party
 * wrote: `pkictl cert issue` (ca/certcmd.c) reads its CSR file with it, and
 * tests/fuzz/fuzz_lint.c feeds it any bytes, so the two cannot drift.
 */
#ifndef PKI_CSR_H
#define PKI_CSR_H

#include <stddef.h>

#include <openssl/x509.h>

/*
 * The request in buf (len bytes; the caller caps len): PEM
 * ("-----BEGIN CERTIFICATE REQUEST-----"), else DER. Its self-signature
 * must verify with the public key it holds (RFC 2986 §3: proof of
 * possession). A new X509_REQ (free with X509_REQ_free), or NULL with
 * why in err; OpenSSL's error queue is left for the caller to log
 * (log_openssl).
 */
X509_REQ	*csr_parse(const unsigned char *buf, size_t len, char *err,
		    size_t errlen);

#endif
