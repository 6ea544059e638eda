/*
 * RFC 3161 client over libcurl: see tsa_client.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/ts.h>

#include "sign/net.h"
#include "sign/tsa_client.h"

/* A DER TimeStampReq for a SHA-256 imprint, with a fresh nonce. */
static int
tsa_request(const unsigned char h[TSA_IMPRINT_LEN], unsigned char **out,
    size_t *outlen, char *err, size_t errlen)
{
	TS_REQ *req = NULL;
	TS_MSG_IMPRINT *mi = NULL;
	X509_ALGOR *alg = NULL;
	ASN1_INTEGER *nonce = NULL;
	BIGNUM *bn = NULL;
	unsigned char nb[8];
	int n, rc = -1;

	*out = NULL;
	if (RAND_bytes(nb, sizeof(nb)) != 1) {
		net_openssl_err(err, errlen, "RAND_bytes");
		return -1;
	}
	nb[0] &= 0x7f;
	if ((req = TS_REQ_new()) == NULL || (mi = TS_MSG_IMPRINT_new()) ==
	    NULL || (alg = X509_ALGOR_new()) == NULL ||
	    (bn = BN_bin2bn(nb, sizeof(nb), NULL)) == NULL ||
	    (nonce = BN_to_ASN1_INTEGER(bn, NULL)) == NULL) {
		net_openssl_err(err, errlen, "out of memory");
		goto out;
	}
	X509_ALGOR_set_md(alg, EVP_sha256());
	if (TS_REQ_set_version(req, 1) != 1 ||
	    TS_MSG_IMPRINT_set_algo(mi, alg) != 1 ||
	    TS_MSG_IMPRINT_set_msg(mi, (unsigned char *)h, TSA_IMPRINT_LEN) != 1 ||
	    TS_REQ_set_msg_imprint(req, mi) != 1 ||
	    TS_REQ_set_nonce(req, nonce) != 1 ||
	    TS_REQ_set_cert_req(req, 1) != 1) {
		net_openssl_err(err, errlen, "TS_REQ");
		goto out;
	}
	if ((n = i2d_TS_REQ(req, out)) <= 0) {
		*out = NULL;
		net_openssl_err(err, errlen, "i2d_TS_REQ");
		goto out;
	}
	*outlen = (size_t)n;
	rc = 0;
 out:
	TS_REQ_free(req);
	TS_MSG_IMPRINT_free(mi);
	X509_ALGOR_free(alg);
	ASN1_INTEGER_free(nonce);
	BN_free(bn);
	return rc;
}

int
tsa_check_response(const unsigned char *reqder, size_t reqlen,
    const unsigned char *respder, size_t resplen, X509_STORE *trust,
    STACK_OF(X509) *untrusted, unsigned char **tst, size_t *tstlen, STACK_OF(X509) **certs, char *err,
    size_t errlen)
{
	TS_REQ *req = NULL;
	TS_RESP *resp = NULL;
	TS_VERIFY_CTX *vctx = NULL;
	TS_STATUS_INFO *si;
	PKCS7 *token;
	STACK_OF(X509) *tc = NULL, *un = NULL;
	const unsigned char *p;
	long status;
	int n, i, rc = -1;

	*tst = NULL;
	*tstlen = 0;
	if (certs != NULL)
		*certs = NULL;
	p = reqder;
	if ((req = d2i_TS_REQ(NULL, &p, (long)reqlen)) == NULL) {
		net_openssl_err(err, errlen, "d2i_TS_REQ");
		goto out;
	}
	p = respder;
	if (resplen > TSA_RESP_MAX ||
	    (resp = d2i_TS_RESP(NULL, &p, (long)resplen)) == NULL ||
	    p != respder + resplen) {
		ERR_clear_error();
		snprintf(err, errlen, "TSA: not a DER TimeStampResp "
		    "(RFC 3161 §2.4.2)");
		goto out;
	}
	si = TS_RESP_get_status_info(resp);
	status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(si));
	/* PKIStatus granted (0) or grantedWithMods (1): a token follows. */
	if (status != 0 && status != 1) {
		snprintf(err, errlen, "TSA refused the request: PKIStatus %ld "
		    "(RFC 3161 §2.4.2)", status);
		goto out;
	}
	if ((token = TS_RESP_get_token(resp)) == NULL) {
		snprintf(err, errlen, "TSA: status granted but no "
		    "timeStampToken (RFC 3161 §2.4.2)");
		goto out;
	}
	/* Version, imprint (algorithm and hash) and nonce those asked. */
	if ((vctx = TS_REQ_to_TS_VERIFY_CTX(req, NULL)) == NULL) {
		net_openssl_err(err, errlen, "TS_REQ_to_TS_VERIFY_CTX");
		goto out;
	}
	if (trust != NULL) {
		if (X509_STORE_up_ref(trust) != 1) {
			net_openssl_err(err, errlen, "X509_STORE_up_ref");
			goto out;
		}
		/* The context owns the reference from here. */
		TS_VERIFY_CTX_set_store(vctx, trust);
		if (untrusted != NULL) {
			if ((un = X509_chain_up_ref(untrusted)) == NULL)
				goto nomem;
			/* The context owns un from here. */
			TS_VERIFY_CTX_set_certs(vctx, un);
			un = NULL;
		}
		TS_VERIFY_CTX_add_flags(vctx, TS_VFY_SIGNATURE);
	}
	if (TS_RESP_verify_response(vctx, resp) != 1) {
		net_openssl_err(err, errlen, "TSA: the time-stamp token does not "
		    "match the request or does not verify (RFC 3161 §2.4.2)");
		goto out;
	}
	if (certs != NULL && PKCS7_type_is_signed(token) &&
	    token->d.sign != NULL && token->d.sign->cert != NULL) {
		if ((tc = sk_X509_new_null()) == NULL)
			goto nomem;
		for (i = 0; i < sk_X509_num(token->d.sign->cert); i++) {
			X509 *x = sk_X509_value(token->d.sign->cert, i);

			if (X509_up_ref(x) != 1)
				goto nomem;
			if (sk_X509_push(tc, x) <= 0) {
				X509_free(x);
				goto nomem;
			}
		}
	}
	if ((n = i2d_PKCS7(token, tst)) <= 0) {
		*tst = NULL;
		net_openssl_err(err, errlen, "i2d_PKCS7");
		goto out;
	}
	*tstlen = (size_t)n;
	if (*tstlen > TSA_TOKEN_MAX) {
		snprintf(err, errlen, "TSA: a time-stamp token of %zu bytes, "
		    "more than the %u reserved for it", *tstlen, TSA_TOKEN_MAX);
		goto out;
	}
	if (certs != NULL) {
		*certs = tc;
		tc = NULL;
	}
	rc = 0;
	goto out;
 nomem:
	snprintf(err, errlen, "out of memory");
 out:
	sk_X509_pop_free(tc, X509_free);
	TS_VERIFY_CTX_free(vctx);
	TS_RESP_free(resp);
	TS_REQ_free(req);
	if (rc != 0) {
		/* i2d_PKCS7 allocated with OPENSSL_malloc. */
		OPENSSL_free(*tst);
		*tst = NULL;
		*tstlen = 0;
	}
	return rc;
}

int
tsa_timestamp(const char *url, const unsigned char imprint[TSA_IMPRINT_LEN],
    X509_STORE *trust, STACK_OF(X509) *untrusted, unsigned char **tst,
    size_t *tstlen, STACK_OF(X509) **certs, char *err, size_t errlen)
{
	struct net_req q = { 0 };
	struct net_resp r = { 0 };
	unsigned char *req = NULL;
	size_t reqlen;
	int rc = -1;

	*tst = NULL;
	*tstlen = 0;
	if (certs != NULL)
		*certs = NULL;
	if (tsa_request(imprint, &req, &reqlen, err, errlen) != 0)
		goto out;
	q.url = url;
	q.content_type = "application/timestamp-query";
	q.body = req;
	q.bodylen = reqlen;
	q.max = TSA_RESP_MAX;
	if (net_send(&q, &r, err, errlen) != 0)
		goto out;
	if (r.status != 200) {
		snprintf(err, errlen, "TSA answered HTTP %ld", r.status);
		goto out;
	}
	if (strncasecmp(r.content_type, "application/timestamp-reply", 27)
	    != 0) {
		snprintf(err, errlen, "TSA answered with Content-Type \"%.60s\", "
		    "not application/timestamp-reply (RFC 3161 §3.4)",
		    r.content_type);
		goto out;
	}
	rc = tsa_check_response(req, reqlen, r.body, r.len, trust, untrusted,
	    tst, tstlen, certs, err, errlen);
 out:
	OPENSSL_free(req);
	net_resp_clear(&r);
	return rc;
}
