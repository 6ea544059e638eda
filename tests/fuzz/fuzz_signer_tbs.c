/*
 * libFuzzer harness for the signer's checks of the to-be-signed bytes a
 * worker sends with a SIGN request (hsm/signerproc.c), the side of the
 * privilege boundary that holds the keys: the first byte modulo 3 picks
 *  - 0: a TBSCertificate through signerproc_tbs_check(SIGNER_KIND_CERT),
 *    which must be exactly its DER with RFC 5280 validity times;
 *  - 1: an OCSP ResponseData through signerproc_tbs_check() and
 *    signerproc_ocsp_policy() at a fixed time (so the seeds stay current);
 *  - 2 (since 2026-12-07): a TBSCertificate through signerproc_tbs_check()
 *    and then signerproc_cert_policy(), the issuance signer's (cad's)
 *    end-entity policy, which decodes it again (ASN1_item_d2i) and its
 *    extensions (X509V3_EXT_d2i, x509ext_ca_usage); the issuable keys are
 *    a fixed one and, when OpenSSL reads a SubjectPublicKeyInfo there, the
 *    SHA-256 of its DER, so that mutated inputs reach past the key check.
 *    Accepted: a v3 certificate whose basicConstraints (if any) is no CA,
 *    *slot an index of the list; refused: a reason and *slot -1.
 * (TBSCertList, SignedAttributes, TSTInfo and tree heads have their own
 * harnesses: fuzz_tbscrl, fuzz_tbsattrs, fuzz_tstinfo, fuzz_audit.)
 * Invariants: a refusal says why; what is accepted OpenSSL's own templates
 * (X509_CINF, OCSP_RESPDATA) read through to its last byte, and a
 * ResponseData they write back to the same octets, every SingleResponse
 * with a nextUpdate at most the allowed validity after the time; neither
 * writes out version v1, the DEFAULT (DER leaves it out: X.690 §11.5;
 * both were signed until 2026-12-07, *-v1-explicit.der).
 *
 * Seeds in tests/fixtures/fuzz_signer_tbs/: the TBSCertificates (v3 with
 * extensions, v1, a notAfter in 2050) and ResponseData (good, revoked by
 * key hash, no nextUpdate, one a year long) of certificates and responses
 * made by fuzz_revinfo's "CN=fuzz CA" on 2026-12-07; policy-*.der are the
 * TBSCertificates again for mode 2.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <openssl/x509.h>

#include "hsm/extern.h"
#include "hsm/signer.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* 2026-12-07T02:00:00Z: the seeds' producedAt is 01:30:27. */
#define FUZZ_NOW	((time_t)1796608800)

/*
 * 1 when the SEQUENCE in tbs starts with "[0] { INTEGER 0 }": a version
 * v1 written out, which DER leaves out as the DEFAULT (X.690 §11.5) in a
 * TBSCertificate (RFC 5280 §4.1) and an OCSP ResponseData (RFC 6960
 * §4.2.1) alike. Read here with OpenSSL's TLV reader, not the templates,
 * which keep such a version as they read it.
 */
static int
fuzz_v1_written(const uint8_t *tbs, size_t len)
{
	const unsigned char *p = tbs, *q;
	long n, m;
	int tag, cls;

	if ((ASN1_get_object(&p, &n, &tag, &cls, (long)len) & 0x80) ||
	    tag != V_ASN1_SEQUENCE || n < 2)
		return 0;
	q = p;
	if ((ASN1_get_object(&q, &m, &tag, &cls, n) & 0x80) || tag != 0 ||
	    cls != V_ASN1_CONTEXT_SPECIFIC)
		return 0;
	return m == 3 && q[0] == V_ASN1_INTEGER && q[1] == 1 && q[2] == 0;
}

/* A refusal's message: not empty, terminated within err. */
static void
fuzz_refused(const char *err, size_t errlen)
{
	if (err[0] == '\0' || memchr(err, '\0', errlen) == NULL)
		abort();
}

static void
fuzz_cert(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	X509_CINF *ci;
	char err[512] = "";

	if (signerproc_tbs_check(SIGNER_KIND_CERT, "fuzz", data, size, err,
	    sizeof(err)) == -1) {
		fuzz_refused(err, sizeof(err));
		return;
	}
	if ((ci = d2i_X509_CINF(NULL, &p, (long)size)) == NULL ||
	    p != data + size || fuzz_v1_written(data, size))
		abort();
	X509_CINF_free(ci);
}

/*
 * tbs (a TBSCertificate signerproc_tbs_check accepted) in a Certificate
 * with an empty signature, read by OpenSSL as a relying party would; NULL
 * when it does not read.
 */
static X509 *
fuzz_as_x509(const uint8_t *tbs, size_t size)
{
	/* ecdsa-with-SHA256, and an empty BIT STRING */
	static const unsigned char sigalg[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a,
	    0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x03, 0x01, 0x00 };
	const unsigned char *p;
	unsigned char *der;
	X509 *x;
	size_t n = 0;

	if (size > 0xffffff - sizeof(sigalg) ||
	    (der = malloc(size + sizeof(sigalg) + 5)) == NULL)
		abort();
	der[n++] = 0x30;
	der[n++] = 0x83;
	der[n++] = (unsigned char)((size + sizeof(sigalg)) >> 16);
	der[n++] = (unsigned char)((size + sizeof(sigalg)) >> 8);
	der[n++] = (unsigned char)(size + sizeof(sigalg));
	memcpy(der + n, tbs, size);
	memcpy(der + n + size, sigalg, sizeof(sigalg));
	p = der;
	x = d2i_X509(NULL, &p, (long)(n + size + sizeof(sigalg)));
	free(der);
	return x;
}

static void
fuzz_cert_policy(const uint8_t *data, size_t size)
{
	unsigned char issuable[2][32], *spki = NULL;
	BASIC_CONSTRAINTS *bc;
	X509 *x = NULL;
	char err[512] = "";
	int n, nissuable = 1, slot = 7;

	if (signerproc_tbs_check(SIGNER_KIND_CERT, "fuzz", data, size, err,
	    sizeof(err)) == -1)
		return;		/* mode 0's; the signer stops there too */
	memset(issuable[0], 0xa5, sizeof(issuable[0]));
	/* The SPKI's DER as OpenSSL writes it back, when it reads it. */
	if ((x = fuzz_as_x509(data, size)) != NULL &&
	    (n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki)) > 0 &&
	    SHA256(spki, (size_t)n, issuable[1]) != NULL)
		nissuable = 2;
	if (signerproc_cert_policy((const unsigned char (*)[32])issuable,
	    nissuable, data, size, &slot, err, sizeof(err)) == -1) {
		fuzz_refused(err, sizeof(err));
		if (slot != -1)
			abort();
		goto out;
	}
	/* Accepted: a v3 certificate OpenSSL reads, and no CA by its cA. */
	if (slot < 0 || slot >= nissuable || x == NULL ||
	    X509_get_version(x) != X509_VERSION_3)
		abort();
	if ((bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL,
	    NULL)) != NULL) {
		if (bc->ca)
			abort();
		BASIC_CONSTRAINTS_free(bc);
	}
out:
	OPENSSL_free(spki);
	X509_free(x);
}

static void
fuzz_ocsp(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	/* ecdsa-with-SHA256, and an empty BIT STRING */
	static const unsigned char sigalg[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a,
	    0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x03, 0x01, 0x00 };
	OCSP_RESPDATA *rd;
	OCSP_BASICRESP *bs;
	ASN1_GENERALIZEDTIME *next;
	unsigned char *der = NULL;
	char err[512] = "";
	struct tm tm;
	int i, n;

	if (signerproc_tbs_check(SIGNER_KIND_OCSP, "fuzz", data, size, err,
	    sizeof(err)) == -1) {
		fuzz_refused(err, sizeof(err));
		return;
	}
	if (signerproc_ocsp_policy(data, size, FUZZ_NOW,
	    SIGNER_OCSP_MAX_VALIDITY_DEFAULT_S, err, sizeof(err)) == -1) {
		fuzz_refused(err, sizeof(err));
		return;
	}
	if (fuzz_v1_written(data, size) ||
	    (rd = d2i_OCSP_RESPDATA(NULL, &p, (long)size)) == NULL ||
	    p != data + size || (n = i2d_OCSP_RESPDATA(rd, &der)) <= 0 ||
	    (size_t)n != size || memcmp(der, data, size) != 0)
		abort();
	OPENSSL_free(der);
	der = NULL;
	OCSP_RESPDATA_free(rd);
	/*
	 * The SingleResponses, read by OpenSSL as a relying party would:
	 * the ResponseData in a BasicOCSPResponse with an empty signature.
	 */
	if (size > 0xffffff - 15 || (der = malloc(size + 20)) == NULL)
		abort();
	n = 0;
	der[n++] = 0x30;
	der[n++] = 0x83;
	der[n++] = (unsigned char)((size + 15) >> 16);
	der[n++] = (unsigned char)((size + 15) >> 8);
	der[n++] = (unsigned char)(size + 15);
	memcpy(der + n, data, size);
	memcpy(der + n + size, sigalg, sizeof(sigalg));
	p = der;
	if ((bs = d2i_OCSP_BASICRESP(NULL, &p, (long)(n + size +
	    sizeof(sigalg)))) == NULL)
		abort();
	for (i = 0; i < OCSP_resp_count(bs); i++) {
		next = NULL;
		if (OCSP_single_get0_status(OCSP_resp_get0(bs, i), NULL, NULL,
		    NULL, &next) < 0 || next == NULL ||
		    ASN1_TIME_to_tm(next, &tm) != 1 ||
		    timegm(&tm) - FUZZ_NOW > SIGNER_OCSP_MAX_VALIDITY_DEFAULT_S)
			abort();
	}
	OCSP_BASICRESP_free(bs);
	free(der);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_cert(data + 1, size - 1);
		break;
	case 1:
		fuzz_ocsp(data + 1, size - 1);
		break;
	default:
		fuzz_cert_policy(data + 1, size - 1);
		break;
	}
	ERR_clear_error();
	return 0;
}
