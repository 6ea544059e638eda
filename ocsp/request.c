/*
 * Decoding what a client sends: the GET path (RFC 6960 Appendix A.1, RFC
 * 5019 §5), the DER OCSPRequest (RFC 6960 §4.1.1), and the validator of a
 * conditional GET (If-None-Match, RFC 9110 §13.1.2; If-Modified-Since is
 * ignored, see ocsp_not_modified). No state, no I/O:
 * tests/fuzz/fuzz_ocsp_request.c drives the first two,
 * tests/fuzz/fuzz_ocsp_conditional.c the last.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "lib/http.h"
#include "ocsp/extern.h"

/* What a request's nonce extension is to us (ocsp_nonce_check). */
enum ocsp_nonce {
	OCSP_NONCE_NONE,	/* none */
	OCSP_NONCE_ECHO,	/* one of 1..OCSP_MAX_NONCE octets, to echo */
	OCSP_NONCE_BAD,		/* malformed when echoing: RFC 9654 §2.1 */
	OCSP_NONCE_UNREAD	/* not one OCTET STRING: raw octets, say */
};

static int
ocsp_b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
ocsp_path_decode(const char *path, unsigned char **der, size_t *len)
{
	char *b64 = NULL;
	unsigned char *out = NULL;
	size_t plen, n = 0, i, o = 0, pad = 0;
	unsigned int acc = 0;
	int bits = 0, v, hi, lo, rc = -1;

	*der = NULL;
	*len = 0;
	if (path == NULL || *path != '/')
		goto out;
	/*
	 * Every leading '/', not just one: a client that joins an AIA URL
	 * ending in '/' and "/" + base64 sends "//" + base64 (boulder#2774;
	 * until 2026-12-07 that was malformedRequest). Nothing is lost: a DER
	 * OCSPRequest begins with 0x30 (SEQUENCE), and the base64 of 0x30 is
	 * an 'M', never a '/'.
	 */
	while (*path == '/')
		path++;
	plen = strlen(path);
	if (plen == 0 || plen > OCSP_MAX_PATH)
		goto out;
	/* Percent-decoding first: %2B, %2F, %3D (and any %XX) become bytes. */
	if ((b64 = malloc(plen + 1)) == NULL)
		goto out;
	for (i = 0; i < plen; i++) {
		if (path[i] == '%') {
			if (i + 2 >= plen)
				goto out;
			if ((hi = OPENSSL_hexchar2int((unsigned char)path[i + 1])) == -1 ||
			    (lo = OPENSSL_hexchar2int((unsigned char)path[i + 2])) == -1)
				goto out;
			b64[n++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			b64[n++] = path[i];
	}
	/* Base64 (RFC 4648 §4), the '=' padding optional. */
	while (n > 0 && b64[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	if (n == 0 || (pad > 0 && (n + pad) % 4 != 0) || n % 4 == 1)
		goto out;
	if ((out = malloc(n * 3 / 4 + 1)) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		if ((v = ocsp_b64val((unsigned char)b64[i])) == -1)
			goto out;
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* Leftover bits must be zero (canonical encoding). */
	if ((acc & ((1u << bits) - 1)) != 0)
		goto out;
	*der = out;
	*len = o;
	out = NULL;
	rc = 0;
out:
	free(b64);
	free(out);
	return rc;
}

int
ocsp_url_prefix(const char *url, char *prefix, size_t prefixlen)
{
	const char *p;
	size_t n;

	if (prefixlen == 0)
		return -1;
	prefix[0] = '\0';
	if (url == NULL || *url == '\0')
		return 0;
	if (strncasecmp(url, "http://", 7) == 0)
		p = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		p = url + 8;
	else
		return -1;
	if (strpbrk(p, "?#") != NULL)
		return -1;
	if ((p = strchr(p, '/')) == NULL)
		return 0;
	n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		n--;
	if (n >= prefixlen)
		return -1;
	memcpy(prefix, p, n);
	prefix[n] = '\0';
	return 0;
}

const char *
ocsp_path_unprefix(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (n == 0 || strncmp(path, prefix, n) != 0)
		return path;
	if (path[n] == '\0')
		return "/";
	return path[n] == '/' ? path + n : path;
}

static int
ocsp_hash_of(const ASN1_OBJECT *alg)
{
	switch (OBJ_obj2nid(alg)) {
	case NID_sha1:
		return OCSP_HASH_SHA1;
	case NID_sha256:
		return OCSP_HASH_SHA256;
	case NID_sha384:
		return OCSP_HASH_SHA384;
	case NID_sha512:
		return OCSP_HASH_SHA512;
	default:
		return -1;
	}
}

/*
 * The next TLV of [*p, end): its tag and class, its value in *val and
 * *vlen; *p moves past it. -1 when there is none, or it has an indefinite
 * length (BER, which d2i takes).
 */
static int
ocsp_der_next(const unsigned char **p, const unsigned char *end, int *tag,
    int *xclass, const unsigned char **val, long *vlen)
{
	int ret;

	if (*p >= end)
		return -1;
	ret = ASN1_get_object(p, vlen, tag, xclass, end - *p);
	if ((ret & 0x80) != 0 || ret == (V_ASN1_CONSTRUCTED | 1))
		return -1;
	*val = *p;
	*p += *vlen;
	return 0;
}

/*
 * The parameters of a CertID's hashAlgorithm, read from the CertID's
 * encoding, which begins at p (what follows its TLV before end is not
 * read): 0 when they are a NULL, as OCSP_cert_id_new() writes them; 1
 * when they are absent; -1 when they are anything else, or the CertID
 * cannot be walked so (an indefinite length).
 */
static int
ocsp_certid_params(const unsigned char *p, const unsigned char *end)
{
	const unsigned char *v, *a, *aend;
	long vlen;
	int tag, xclass;

	/* CertID { hashAlgorithm { OID, params }, ... } */
	if (ocsp_der_next(&p, end, &tag, &xclass, &v, &vlen) == -1)
		return -1;
	p = v;
	end = v + vlen;
	if (ocsp_der_next(&p, end, &tag, &xclass, &v, &vlen) == -1)
		return -1;
	a = v;
	aend = v + vlen;
	if (ocsp_der_next(&a, aend, &tag, &xclass, &v, &vlen) == -1 ||
	    tag != V_ASN1_OBJECT)
		return -1;
	if (a == aend)
		return 1;
	return aend - a == 2 && a[0] == V_ASN1_NULL && a[1] == 0 ? 0 : -1;
}

/* ocsp_certid_params() of cid as OpenSSL encodes it again. */
static int
ocsp_certid_params_again(OCSP_CERTID *cid)
{
	unsigned char *der = NULL;
	int n, rc = -1;

	if ((n = i2d_OCSP_CERTID(cid, &der)) > 0)
		rc = ocsp_certid_params(der, der + n);
	OPENSSL_free(der);
	return rc;
}

/*
 * Sets odd_params of each CertID of q, decoded from der: 0 when its
 * hashAlgorithm, as sent, is the OID followed by a NULL, as
 * OCSP_cert_id_new() writes it in the CertID of a pre-signed response; 1
 * otherwise. RFC 5754 §2 lets SHA-2 parameters be absent, and a client that
 * matches a SingleResponse by the encoding of its CertID (BouncyCastle's
 * CertificateID.equals) finds no answer in a CertID that differs. Read from
 * the request's bytes, not re-encoded: this is the hot path. A request
 * that is not walked so (indefinite lengths) counts as odd: signed live.
 *
 * Returns -1 when the parameters of a hash we match are neither NULL nor
 * absent (RFC 3370 §2.1, RFC 5754 §2: the only encodings of SHA-1 and
 * SHA-2): such a CertID is malformed, and OpenSSL may not even encode it
 * back into a response (OCSP_basic_add1_status copies it), which made
 * its live answer internalError until 2026-12-06. 0 otherwise. A request
 * not walked is judged on its CertIDs encoded again (BER is rare).
 */
static int
ocsp_query_params(const unsigned char *der, size_t len, struct ocsp_query *q)
{
	const unsigned char *p = der, *end = der + len, *v, *list, *lend;
	long vlen;
	int i, k, tag, xclass;

	for (i = 0; i < q->nids; i++)
		q->ids[i].odd_params = 1;
	i = 0;
	/* OCSPRequest, then its tbsRequest (RFC 6960 §4.1.1). */
	if (ocsp_der_next(&p, end, &tag, &xclass, &v, &vlen) == -1)
		goto again;
	p = v;
	end = v + vlen;
	if (ocsp_der_next(&p, end, &tag, &xclass, &v, &vlen) == -1)
		goto again;
	p = v;
	end = v + vlen;
	/* Past version [0] and requestorName [1]: the requestList. */
	do {
		if (ocsp_der_next(&p, end, &tag, &xclass, &list, &vlen) == -1)
			goto again;
	} while (xclass == V_ASN1_CONTEXT_SPECIFIC);
	lend = list + vlen;
	for (; i < q->nids; i++) {
		/* Request { reqCert CertID, ... } */
		if (ocsp_der_next(&list, lend, &tag, &xclass, &v, &vlen) == -1)
			goto again;
		if ((k = ocsp_certid_params(v, v + vlen)) == -1 &&
		    q->ids[i].hash != -1)
			return -1;
		q->ids[i].odd_params = k != 0;
	}
	return 0;
again:
	for (; i < q->nids; i++)
		if (q->ids[i].hash != -1 &&
		    ocsp_certid_params_again(q->ids[i].cid) == -1)
			return -1;
	return 0;
}

void
ocsp_serial_canon(char *s)
{
	char *p = s;

	if (*p == '-')
		p++;
	if (*p == '0' && p[1] != '\0') {
		size_t skip = strspn(p, "0");

		if (p[skip] == '\0')
			skip--;
		memmove(p, p + skip, strlen(p + skip) + 1);
	}
}

void
ocsp_query_free(struct ocsp_query *q)
{
	if (q == NULL)
		return;
	OCSP_REQUEST_free(q->req);
	memset(q, 0, sizeof(*q));
}

/*
 * The request's nonce (RFC 9654 §2.1, which replaces RFC 6960 §4.4.1 and
 * obsoletes RFC 8954): its extnValue is the DER of Nonce ::= OCTET STRING
 * (SIZE(1..128)). A responder must accept 16 to 32 octets and may answer
 * without the nonce for 1 to 15 and 33 to 128: we echo every length from
 * 1 to 128 (OCSP_MAX_NONCE; the response is at most 96 octets longer).
 * Until 2026-12-07 33 to 128 octets got malformedRequest (RFC 8954's
 * 1..32). 0 octets, more than 128, or two nonces: malformedRequest.
 *
 * An extnValue that is not one OCTET STRING but, say, the nonce's raw
 * octets (what BouncyCastle sends for new Extension(id_pkix_ocsp_nonce,
 * false, new DEROctetString(raw))) is no Nonce of RFC 9654 §2.1, so no
 * length can be judged: OCSP_NONCE_UNREAD, which the caller answers as
 * without a nonce when it is not critical (the pre-signed response: RFC
 * 5019 §4 lets a client get one without its nonce, and the client sees
 * that none came back), and malformedRequest when it is (an extension we
 * cannot act on, RFC 6960 §4.4). Echoing it as it came, as OpenSSL's
 * OCSP_copy_nonce would, would sign a value the RFC calls malformed.
 * Until 2026-12-07 it was malformedRequest either way. An empty
 * extnValue is a nonce of 0 octets however read: OCSP_NONCE_BAD.
 * Returns OCSP_NONCE_ECHO, OCSP_NONCE_NONE (no nonce), OCSP_NONCE_BAD or
 * OCSP_NONCE_UNREAD.
 */
static enum ocsp_nonce
ocsp_nonce_check(OCSP_REQUEST *req)
{
	X509_EXTENSION *ext;
	ASN1_OCTET_STRING *v;
	const unsigned char *p;
	ASN1_OCTET_STRING *inner = NULL;
	enum ocsp_nonce rc = OCSP_NONCE_BAD;
	int idx;

	if ((idx = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce,
	    -1)) < 0)
		return OCSP_NONCE_NONE;
	if (OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, idx) >= 0)
		return OCSP_NONCE_BAD;
	ext = OCSP_REQUEST_get_ext(req, idx);
	v = X509_EXTENSION_get_data(ext);
	p = ASN1_STRING_get0_data(v);
	/* The extension value is the DER of an OCTET STRING (RFC 9654 §2.1). */
	if ((inner = d2i_ASN1_OCTET_STRING(NULL, &p, ASN1_STRING_length(v))) ==
	    NULL || p != ASN1_STRING_get0_data(v) + ASN1_STRING_length(v)) {
		if (ASN1_STRING_length(v) > 0)
			rc = OCSP_NONCE_UNREAD;
		goto out;
	}
	if (ASN1_STRING_length(inner) >= 1 &&
	    ASN1_STRING_length(inner) <= OCSP_MAX_NONCE)
		rc = OCSP_NONCE_ECHO;
out:
	ASN1_OCTET_STRING_free(inner);
	return rc;
}

/*
 * RFC 6960 §4.4: an extension we do not understand is ignored unless it is
 * critical. The nonce is understood (echoed, or ignored by policy: the
 * caller then refuses a critical one); acceptableResponses is satisfied by
 * the basic response every client must accept (§4.2.1); the service
 * locator asks for the authoritative responder, which we are. 1: every
 * critical extension understood, 0: not.
 */
static int
ocsp_critical_understood(X509_EXTENSION *ext, int single)
{
	int nid;

	if (!X509_EXTENSION_get_critical(ext))
		return 1;
	nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
	if (single)
		return nid == NID_id_pkix_OCSP_serviceLocator;
	return nid == NID_id_pkix_OCSP_Nonce ||
	    nid == NID_id_pkix_OCSP_acceptableResponses;
}

int
ocsp_query_parse(const unsigned char *der, size_t len, struct ocsp_query *q)
{
	const unsigned char *p = der;
	OCSP_ONEREQ *one;
	ASN1_OBJECT *alg;
	ASN1_OCTET_STRING *nh, *kh;
	ASN1_INTEGER *serial;
	BIGNUM *bn = NULL;
	char *hex = NULL;
	int i, k, n, rc = -1;

	memset(q, 0, sizeof(*q));
	if (der == NULL || len == 0 || len > 65536)
		goto out;
	if ((q->req = d2i_OCSP_REQUEST(NULL, &p, (long)len)) == NULL)
		goto out;
	/* Exactly one DER value: trailing bytes are malformed. */
	if (p != der + len)
		goto out;
	n = OCSP_request_onereq_count(q->req);
	if (n < 1 || n > OCSP_MAX_CERTIDS)
		goto out;
	for (i = 0; i < n; i++) {
		struct ocsp_certid *id = &q->ids[i];

		one = OCSP_request_onereq_get0(q->req, i);
		id->cid = OCSP_onereq_get0_id(one);
		if (OCSP_id_get0_info(&nh, &alg, &kh, &serial, id->cid) != 1)
			goto out;
		id->hash = ocsp_hash_of(alg);
		id->name_hash = ASN1_STRING_get0_data(nh);
		id->name_hash_len = ASN1_STRING_length(nh);
		id->key_hash = ASN1_STRING_get0_data(kh);
		id->key_hash_len = ASN1_STRING_length(kh);
		if (ASN1_STRING_length(serial) < 1 ||
		    ASN1_STRING_length(serial) > OCSP_MAX_SERIAL)
			goto out;
		if ((bn = ASN1_INTEGER_to_BN(serial, NULL)) == NULL ||
		    (hex = BN_bn2hex(bn)) == NULL ||
		    strlen(hex) >= sizeof(id->serial))
			goto out;
		memcpy(id->serial, hex, strlen(hex) + 1);
		ocsp_serial_canon(id->serial);
		OPENSSL_free(hex);
		hex = NULL;
		BN_free(bn);
		bn = NULL;
		for (k = 0; k < OCSP_ONEREQ_get_ext_count(one); k++)
			if (!ocsp_critical_understood(OCSP_ONEREQ_get_ext(one, k),
			    1))
				goto out;
		q->nids++;
	}
	for (k = 0; k < OCSP_REQUEST_get_ext_count(q->req); k++) {
		X509_EXTENSION *ext = OCSP_REQUEST_get_ext(q->req, k);

		if (!ocsp_critical_understood(ext, 0))
			goto out;
		if (X509_EXTENSION_get_critical(ext) &&
		    OBJ_obj2nid(X509_EXTENSION_get_object(ext)) ==
		    NID_id_pkix_OCSP_Nonce)
			q->critical_nonce = 1;
	}
	if (ocsp_query_params(der, len, q) == -1)
		goto out;
	switch (ocsp_nonce_check(q->req)) {
	case OCSP_NONCE_ECHO:
		q->has_nonce = 1;
		break;
	case OCSP_NONCE_BAD:
		q->bad_nonce = 1;
		break;
	case OCSP_NONCE_UNREAD:
		/* Ignored unless critical (RFC 6960 §4.4). */
		if (q->critical_nonce)
			q->bad_nonce = 1;
		break;
	case OCSP_NONCE_NONE:
		break;
	}
	rc = 0;
out:
	OPENSSL_free(hex);
	BN_free(bn);
	if (rc == -1)
		ocsp_query_free(q);
	return rc;
}

int
ocsp_not_modified(const struct ocsp_blob *b, const char *inm)
{
	return b != NULL && inm != NULL && http_etag_matches(inm, b->etag);
}
