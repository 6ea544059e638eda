/*
 * CAdES signed data with a remote private-key operation: see cades.h.
 *
 * OpenSSL builds the SignedData around the signer's PUBLIC key with
 * CMS_PARTIAL, so nothing is signed here: CMS_add1_signer() fills the
 * SignerInfo (sid, digestAlgorithm, signatureAlgorithm from the key type)
 * and we add the signed attributes ourselves. Since CMS_SignerInfo_sign()
 * is never called, OpenSSL adds no signing-time attribute of its own.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/ess.h>
#include <openssl/objects.h>

#include "sign/cades.h"
#include "sign/net.h"
#include "sign/tsa_client.h"

struct cades {
	CMS_ContentInfo	*cms;
	CMS_SignerInfo	*si;		/* borrowed from cms */
	X509		*signer;
	const EVP_MD	*md;
	int		 signed_ok;
};

void
cades_free(struct cades *c)
{
	if (c == NULL)
		return;
	CMS_ContentInfo_free(c->cms);
	X509_free(c->signer);
	free(c);
}

struct cades *
cades_new(X509 *signer, STACK_OF(X509) *chain, const EVP_MD *md,
    const unsigned char *digest, size_t mdlen, char *err, size_t errlen)
{
	struct cades *c = NULL;
	EVP_PKEY *pub;
	ESS_SIGNING_CERT_V2 *sc = NULL;
	unsigned char *scder = NULL;
	int sclen, i, ok = 0;
	const unsigned int flags = CMS_DETACHED | CMS_BINARY | CMS_PARTIAL |
	    CMS_NOSMIMECAP;

	if (md == NULL || (EVP_MD_is_a(md, "SHA2-256") == 0 &&
	    EVP_MD_is_a(md, "SHA2-384") == 0 &&
	    EVP_MD_is_a(md, "SHA2-512") == 0)) {
		snprintf(err, errlen, "digest must be SHA-256, SHA-384 or "
		    "SHA-512");
		return NULL;
	}
	if (mdlen != (size_t)EVP_MD_get_size(md)) {
		snprintf(err, errlen, "message digest of %zu bytes for %s",
		    mdlen, EVP_MD_get0_name(md));
		return NULL;
	}
	if ((pub = X509_get0_pubkey(signer)) == NULL ||
	    (EVP_PKEY_is_a(pub, "RSA") == 0 && EVP_PKEY_is_a(pub, "EC") == 0)) {
		snprintf(err, errlen, "the signer's key is neither RSA nor EC");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->md = md;
	if (X509_up_ref(signer) != 1) {
		net_openssl_err(err, errlen, "X509_up_ref");
		goto out;
	}
	c->signer = signer;
	if ((c->cms = CMS_sign(NULL, NULL, NULL, NULL, flags)) == NULL) {
		net_openssl_err(err, errlen, "CMS_sign");
		goto out;
	}
	/* The public key: CMS_PARTIAL leaves the signature to us. */
	if ((c->si = CMS_add1_signer(c->cms, signer, pub, md, flags)) ==
	    NULL) {
		net_openssl_err(err, errlen, "CMS_add1_signer");
		goto out;
	}
	for (i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);

		if (X509_cmp(x, signer) == 0)
			continue;
		if (CMS_add1_cert(c->cms, x) != 1) {
			net_openssl_err(err, errlen, "CMS_add1_cert");
			goto out;
		}
	}
	/* RFC 5652 §11.1 content-type, §11.2 message-digest. */
	if (CMS_signed_add1_attr_by_NID(c->si, NID_pkcs9_contentType,
	    V_ASN1_OBJECT, OBJ_nid2obj(NID_pkcs7_data), -1) != 1 ||
	    CMS_signed_add1_attr_by_NID(c->si, NID_pkcs9_messageDigest,
	    V_ASN1_OCTET_STRING, digest, (int)mdlen) != 1) {
		net_openssl_err(err, errlen, "CMS_signed_add1_attr_by_NID");
		goto out;
	}
	/*
	 * RFC 5035 signing-certificate-v2 (EN 319 122-1 §5.2.2.3): the hash
	 * of the certificate with md (the default SHA-256 leaves the
	 * algorithm out) and its issuerSerial.
	 */
	if ((sc = OSSL_ESS_signing_cert_v2_new_init(md, signer, NULL, 1)) ==
	    NULL ||
	    (sclen = i2d_ESS_SIGNING_CERT_V2(sc, &scder)) <= 0) {
		net_openssl_err(err, errlen, "ESS signing-certificate-v2");
		goto out;
	}
	if (CMS_signed_add1_attr_by_NID(c->si,
	    NID_id_smime_aa_signingCertificateV2, V_ASN1_SEQUENCE, scder,
	    sclen) != 1) {
		net_openssl_err(err, errlen, "CMS_signed_add1_attr_by_NID "
		    "(signing-certificate-v2)");
		goto out;
	}
	ok = 1;
 out:
	ESS_SIGNING_CERT_V2_free(sc);
	OPENSSL_free(scder);
	if (!ok) {
		cades_free(c);
		c = NULL;
	}
	return c;
}

struct der {
	unsigned char	*p;
	int		 len;
};

/* DER SET OF order (X.690 §11.6), as OpenSSL's encoder sorts. */
static int
der_cmp(const void *a, const void *b)
{
	const struct der *x = a, *y = b;
	int n = x->len < y->len ? x->len : y->len, r;

	if ((r = memcmp(x->p, y->p, n)) != 0)
		return r;
	return x->len - y->len;
}

int
cades_tbs(struct cades *c, unsigned char **out, size_t *outlen, char *err,
    size_t errlen)
{
	struct der *d = NULL;
	unsigned char *buf = NULL, *p;
	size_t total = 0, hdr, off;
	int n, i, rc = -1;

	*out = NULL;
	*outlen = 0;
	if ((n = CMS_signed_get_attr_count(c->si)) <= 0) {
		snprintf(err, errlen, "no signed attributes");
		return -1;
	}
	if ((d = calloc(n, sizeof(*d))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		d[i].len = i2d_X509_ATTRIBUTE(CMS_signed_get_attr(c->si, i),
		    &d[i].p);
		if (d[i].len <= 0) {
			d[i].p = NULL;
			net_openssl_err(err, errlen, "i2d_X509_ATTRIBUTE");
			goto out;
		}
		total += d[i].len;
	}
	qsort(d, n, sizeof(*d), der_cmp);
	/* SET OF: 0x31, the definite length, the sorted encodings. */
	hdr = total < 0x80 ? 2 : total < 0x100 ? 3 : total < 0x10000 ? 4 : 5;
	if (total >= 0x1000000) {
		snprintf(err, errlen, "signed attributes too large");
		goto out;
	}
	if ((buf = malloc(hdr + total)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	p = buf;
	*p++ = 0x31;
	if (hdr == 2)
		*p++ = (unsigned char)total;
	else {
		*p++ = 0x80 | (unsigned char)(hdr - 2);
		for (off = hdr - 2; off > 0; off--)
			*p++ = (unsigned char)(total >> (8 * (off - 1)));
	}
	for (i = 0; i < n; i++) {
		memcpy(p, d[i].p, d[i].len);
		p += d[i].len;
	}
	*out = buf;
	*outlen = hdr + total;
	buf = NULL;
	rc = 0;
 out:
	for (i = 0; d != NULL && i < n; i++)
		OPENSSL_free(d[i].p);
	free(d);
	free(buf);
	return rc;
}

int
cades_set_signature(struct cades *c, const unsigned char *sig, size_t siglen,
    char *err, size_t errlen)
{
	ASN1_OCTET_STRING *os = CMS_SignerInfo_get0_signature(c->si);

	c->signed_ok = 0;
	if (siglen == 0 || siglen > 2048) {
		snprintf(err, errlen, "a signature value of %zu bytes", siglen);
		return -1;
	}
	if (os == NULL || ASN1_STRING_set(os, sig, (int)siglen) != 1) {
		net_openssl_err(err, errlen, "ASN1_STRING_set");
		return -1;
	}
	/*
	 * CMS_SignerInfo_verify re-encodes the signed attributes itself and
	 * checks the value with the certificate's key: the service signed
	 * exactly what cades_tbs() gave, with this certificate's key.
	 */
	if (CMS_SignerInfo_verify(c->si) != 1) {
		net_openssl_err(err, errlen, "the signature value does not verify "
		    "with the signer's certificate over the signed attributes");
		return -1;
	}
	c->signed_ok = 1;
	return 0;
}

const unsigned char *
cades_signature(const struct cades *c, size_t *len)
{
	ASN1_OCTET_STRING *os = CMS_SignerInfo_get0_signature(c->si);

	*len = 0;
	if (!c->signed_ok || os == NULL)
		return NULL;
	*len = (size_t)ASN1_STRING_length(os);
	return ASN1_STRING_get0_data(os);
}

int
cades_add_timestamp(struct cades *c, const unsigned char *tst, size_t tstlen,
    char *err, size_t errlen)
{
	if (!c->signed_ok) {
		snprintf(err, errlen, "a time-stamp before the signature");
		return -1;
	}
	if (tstlen == 0 || tstlen > TSA_TOKEN_MAX) {
		snprintf(err, errlen, "a time-stamp token of %zu bytes", tstlen);
		return -1;
	}
	/* V_ASN1_SEQUENCE: the token's own DER goes in as it is. */
	if (CMS_unsigned_add1_attr_by_NID(c->si, NID_id_smime_aa_timeStampToken,
	    V_ASN1_SEQUENCE, tst, (int)tstlen) != 1) {
		net_openssl_err(err, errlen, "CMS_unsigned_add1_attr_by_NID "
		    "(signature-time-stamp)");
		return -1;
	}
	return 0;
}

int
cades_size_bound(X509 *signer, STACK_OF(X509) *chain, const EVP_MD *md,
    size_t tst_max, size_t *bound, char *err, size_t errlen)
{
	struct cades *c = NULL;
	ASN1_OCTET_STRING *os;
	unsigned char digest[EVP_MAX_MD_SIZE] = { 0 }, *dummy = NULL;
	unsigned char *der = NULL;
	int siglen, n, rc = -1;

	*bound = 0;
	if (tst_max != 0 && (tst_max < 4 || tst_max > TSA_TOKEN_MAX)) {
		snprintf(err, errlen, "a time-stamp token bound of %zu bytes",
		    tst_max);
		return -1;
	}
	if (md == NULL || EVP_MD_get_size(md) <= 0) {
		snprintf(err, errlen, "no digest");
		return -1;
	}
	/* The message digest's value does not change any length. */
	if ((c = cades_new(signer, chain, md, digest,
	    (size_t)EVP_MD_get_size(md), err, errlen)) == NULL)
		goto out;
	/*
	 * EVP_PKEY_get_size: RSA_size, or ECDSA_size (the DER of r and s each
	 * one byte longer than the order, for a leading zero). A verified
	 * value is never longer: OpenSSL refuses an RSA value longer than the
	 * modulus, and an ECDSA value whose DER is not the canonical one.
	 */
	if ((siglen = EVP_PKEY_get_size(X509_get0_pubkey(signer))) <= 0 ||
	    siglen > 2048) {
		snprintf(err, errlen, "cannot tell the signature size of the "
		    "signer's key");
		goto out;
	}
	if ((dummy = calloc(1, tst_max > (size_t)siglen ? tst_max :
	    (size_t)siglen)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if ((os = CMS_SignerInfo_get0_signature(c->si)) == NULL ||
	    ASN1_STRING_set(os, dummy, siglen) != 1) {
		net_openssl_err(err, errlen, "ASN1_STRING_set");
		goto out;
	}
	if (tst_max != 0) {
		/* A SEQUENCE of tst_max bytes in all (a 3-byte length). */
		dummy[0] = 0x30;
		if (tst_max - 2 < 0x80) {
			dummy[1] = (unsigned char)(tst_max - 2);
		} else if (tst_max - 3 < 0x100) {
			dummy[1] = 0x81;
			dummy[2] = (unsigned char)(tst_max - 3);
		} else {
			dummy[1] = 0x82;
			dummy[2] = (unsigned char)((tst_max - 4) >> 8);
			dummy[3] = (unsigned char)(tst_max - 4);
		}
		if (CMS_unsigned_add1_attr_by_NID(c->si,
		    NID_id_smime_aa_timeStampToken, V_ASN1_SEQUENCE, dummy,
		    (int)tst_max) != 1) {
			net_openssl_err(err, errlen,
			    "CMS_unsigned_add1_attr_by_NID");
			goto out;
		}
	}
	if ((n = i2d_CMS_ContentInfo(c->cms, &der)) <= 0) {
		der = NULL;
		net_openssl_err(err, errlen, "i2d_CMS_ContentInfo");
		goto out;
	}
	*bound = (size_t)n;
	rc = 0;
 out:
	OPENSSL_free(der);
	free(dummy);
	cades_free(c);
	return rc;
}

int
cades_der(const struct cades *c, unsigned char **out, size_t *outlen,
    char *err, size_t errlen)
{
	int n;

	*out = NULL;
	*outlen = 0;
	if (!c->signed_ok) {
		snprintf(err, errlen, "no signature value yet");
		return -1;
	}
	if ((n = i2d_CMS_ContentInfo(c->cms, out)) <= 0) {
		*out = NULL;
		net_openssl_err(err, errlen, "i2d_CMS_ContentInfo");
		return -1;
	}
	*outlen = (size_t)n;
	return 0;
}
