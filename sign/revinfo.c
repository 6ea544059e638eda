/*
 * OCSP and CRL fetching for PAdES B-LT: see revinfo.h.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "lib/x509ext.h"
#include "sign/net.h"
#include "sign/revinfo.h"

/* The certificate's subject for messages. */
static void
ri_name(X509 *x, char *out, size_t outlen)
{
	X509_NAME_oneline(X509_get_subject_name(x), out, (int)outlen);
}

static int
ri_push(struct pdf_blob **arr, size_t *n, unsigned char *der, size_t len)
{
	struct pdf_blob *na;
	size_t i;

	for (i = 0; i < *n; i++)
		if ((*arr)[i].len == len && memcmp((*arr)[i].der, der, len) ==
		    0) {
			OPENSSL_free(der);
			return 0;
		}
	if ((na = reallocarray(*arr, *n + 1, sizeof(**arr))) == NULL) {
		OPENSSL_free(der);
		return -1;
	}
	*arr = na;
	na[*n].der = der;
	na[*n].len = len;
	(*n)++;
	return 0;
}

static int
ri_add_cert(struct revinfo *ri, X509 *x)
{
	unsigned char *der = NULL;
	int n;

	if ((n = i2d_X509(x, &der)) <= 0)
		return -1;
	return ri_push(&ri->certs, &ri->ncerts, der, (size_t)n);
}

/* The first http(s) URI of an AIA OCSP entry or a CRL distribution point. */
static char *
ri_ocsp_url(X509 *x)
{
	STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(x);
	char *u = NULL;
	int i;

	for (i = 0; urls != NULL && i < sk_OPENSSL_STRING_num(urls); i++) {
		const char *s = sk_OPENSSL_STRING_value(urls, i);

		if (strncmp(s, "http://", 7) == 0 ||
		    strncmp(s, "https://", 8) == 0) {
			u = strdup(s);
			break;
		}
	}
	X509_email_free(urls);
	return u;
}

static char *
ri_crl_url(X509 *x)
{
	STACK_OF(DIST_POINT) *dps;
	char *u = NULL;
	int i, j;

	dps = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
	for (i = 0; dps != NULL && u == NULL && i < sk_DIST_POINT_num(dps);
	    i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(dps, i);

		if (dp->distpoint == NULL || dp->distpoint->type != 0)
			continue;
		for (j = 0; j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname);
		    j++) {
			GENERAL_NAME *g = sk_GENERAL_NAME_value(
			    dp->distpoint->name.fullname, j);
			const char *s;
			int len;

			if (g->type != GEN_URI)
				continue;
			s = (const char *)ASN1_STRING_get0_data(
			    g->d.uniformResourceIdentifier);
			len = ASN1_STRING_length(g->d.uniformResourceIdentifier);
			if ((size_t)len != strlen(s) ||
			    (strncmp(s, "http://", 7) != 0 &&
			    strncmp(s, "https://", 8) != 0))
				continue;
			u = strdup(s);
			break;
		}
	}
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	return u;
}

int
revinfo_check_ocsp(const unsigned char *der, size_t len, OCSP_REQUEST *req,
    OCSP_CERTID *id, STACK_OF(X509) *pool, X509_STORE *trust,
    OCSP_BASICRESP **out, char *err, size_t errlen)
{
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	ASN1_GENERALIZEDTIME *rev, *thisupd, *nextupd;
	const unsigned char *p = der;
	int status, reason, rc = -1;

	*out = NULL;
	if (len > REVINFO_OCSP_MAX ||
	    (resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		ERR_clear_error();
		snprintf(err, errlen, "not a DER OCSPResponse (RFC 6960 "
		    "§4.2.1)");
		goto out;
	}
	if ((status = OCSP_response_status(resp)) !=
	    OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		snprintf(err, errlen, "OCSP responseStatus %s (RFC 6960 "
		    "§4.2.1)", OCSP_response_status_str(status));
		goto out;
	}
	if ((bs = OCSP_response_get1_basic(resp)) == NULL) {
		net_openssl_err(err, errlen, "OCSP: no basic response (RFC 6960 "
		    "§4.2.1)");
		goto out;
	}
	if (OCSP_check_nonce(req, bs) == 0) {
		snprintf(err, errlen, "OCSP: the response's nonce is not ours "
		    "(RFC 9654)");
		goto out;
	}
	if (OCSP_basic_verify(bs, pool, trust, 0) != 1) {
		net_openssl_err(err, errlen, "OCSP: the response's signature does not "
		    "verify (RFC 6960 §3.2)");
		goto out;
	}
	if (OCSP_resp_find_status(bs, id, &status, &reason, &rev, &thisupd,
	    &nextupd) != 1) {
		snprintf(err, errlen, "OCSP: no status for this certificate "
		    "in the response (RFC 6960 §3.2)");
		goto out;
	}
	/*
	 * Without a nextUpdate the response says nothing of how long it
	 * holds (RFC 6960 §4.2.2.1): only a fresh one is current, or an old
	 * "good" replayed on the plain-HTTP path would do for ever.
	 */
	if (OCSP_check_validity(thisupd, nextupd, REVINFO_SKEW,
	    nextupd == NULL ? REVINFO_SKEW : -1) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "OCSP: the response is not current "
		    "(RFC 6960 §3.2)");
		goto out;
	}
	if (status == V_OCSP_CERTSTATUS_REVOKED) {
		const char *why = x509ext_crl_reason_name(reason);

		snprintf(err, errlen, "revoked (OCSP, reason %s)",
		    why != NULL ? why : "not given");
		rc = 1;
		goto out;
	}
	if (status != V_OCSP_CERTSTATUS_GOOD) {
		snprintf(err, errlen, "OCSP status unknown");
		goto out;
	}
	*out = bs;
	bs = NULL;
	rc = 0;
 out:
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	return rc;
}

OCSP_REQUEST *
revinfo_ocsp_request(X509 *x, X509 *issuer, OCSP_CERTID **id)
{
	OCSP_REQUEST *req;
	OCSP_CERTID *reqid = NULL;

	*id = NULL;
	if ((req = OCSP_REQUEST_new()) == NULL ||
	    (reqid = OCSP_cert_to_id(NULL, x, issuer)) == NULL ||
	    OCSP_request_add0_id(req, reqid) == NULL)
		goto fail;
	reqid = NULL;		/* req's now */
	/* Until 2026-12-08 OpenSSL's default, 16 octets (RFC 8954's time). */
	if (OCSP_request_add1_nonce(req, NULL, REVINFO_NONCE_LEN) != 1 ||
	    (*id = OCSP_cert_to_id(NULL, x, issuer)) == NULL)
		goto fail;
	return req;
 fail:
	OCSP_CERTID_free(reqid);
	OCSP_REQUEST_free(req);
	return NULL;
}

/*
 * The OCSP response for x (issued by issuer) from url, with our nonce,
 * checked by revinfo_check_ocsp(). Returns 0 (good), 1 (revoked: err
 * says so) or -1.
 */
static int
ri_ocsp(struct revinfo *ri, X509 *x, X509 *issuer, const char *url,
    STACK_OF(X509) *pool, X509_STORE *trust, char *err, size_t errlen)
{
	OCSP_REQUEST *req = NULL;
	OCSP_BASICRESP *bs = NULL;
	OCSP_CERTID *id = NULL;
	const STACK_OF(X509) *rcerts;
	struct net_req q = { 0 };
	struct net_resp r = { 0 };
	unsigned char *reqder = NULL, *der = NULL;
	int n, i, rc = -1;

	if ((req = revinfo_ocsp_request(x, issuer, &id)) == NULL ||
	    (n = i2d_OCSP_REQUEST(req, &reqder)) <= 0) {
		net_openssl_err(err, errlen, "OCSP request");
		goto out;
	}
	q.url = url;
	q.content_type = "application/ocsp-request";
	q.body = reqder;
	q.bodylen = (size_t)n;
	q.max = REVINFO_OCSP_MAX;
	if (net_send(&q, &r, err, errlen) != 0)
		goto out;
	if (r.status != 200) {
		snprintf(err, errlen, "OCSP responder answered HTTP %ld",
		    r.status);
		goto out;
	}
	if ((rc = revinfo_check_ocsp(r.body, r.len, req, id, pool, trust,
	    &bs, err, errlen)) != 0)
		goto out;
	rc = -1;
	if ((der = OPENSSL_memdup(r.body, r.len)) == NULL ||
	    ri_push(&ri->ocsps, &ri->nocsps, der, r.len) != 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* The responder's certificate(s), to validate the response later. */
	rcerts = OCSP_resp_get0_certs(bs);
	for (i = 0; i < sk_X509_num(rcerts); i++)
		if (ri_add_cert(ri, sk_X509_value(rcerts, i)) != 0) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	rc = 0;
 out:
	OCSP_CERTID_free(id);
	OCSP_BASICRESP_free(bs);
	OCSP_REQUEST_free(req);
	OPENSSL_free(reqder);
	net_resp_clear(&r);
	return rc;
}

/*
 * Whether crl is a complete CRL whose scope covers x: not a delta CRL, and
 * an issuingDistributionPoint, if any, limited neither to some reasons nor
 * to attribute certificates, not indirect, and not for CA certificates only
 * when x is none (or for end entities only when x is one). A CRL that is
 * not this is no evidence that x was not revoked (RFC 5280 §6.3.3 (b)).
 */
static int
ri_crl_complete_for(X509_CRL *crl, X509 *x)
{
	ISSUING_DIST_POINT *idp;
	int crit = -1, ok, ca;

	if (X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1) >= 0)
		return 0;
	idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, &crit,
	    NULL);
	if (idp == NULL) {
		ERR_clear_error();
		return crit == -1;	/* absent, not malformed or repeated */
	}
	ca = X509_check_ca(x) != 0;
	ok = idp->onlysomereasons == NULL && !idp->indirectCRL &&
	    !idp->onlyattr && !(idp->onlyCA && !ca) && !(idp->onlyuser && ca);
	ISSUING_DIST_POINT_free(idp);
	return ok;
}

int
revinfo_check_crl(const unsigned char *der, size_t len, X509 *x,
    X509 *issuer, time_t now, char *err, size_t errlen)
{
	X509_CRL *crl = NULL;
	X509_REVOKED *rev = NULL;
	const unsigned char *p = der;
	const ASN1_TIME *thisupd, *next;
	time_t t;
	int rc = -1;

	if (len > REVINFO_CRL_MAX ||
	    (crl = d2i_X509_CRL(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		ERR_clear_error();
		snprintf(err, errlen, "not a DER CRL (RFC 5280 §5.1)");
		goto out;
	}
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
	    X509_get_subject_name(issuer)) != 0 ||
	    X509_CRL_verify(crl, X509_get0_pubkey(issuer)) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "CRL not issued and signed by the "
		    "certificate's issuer (RFC 5280 §6.3.3)");
		goto out;
	}
	/*
	 * Current as OCSP responses must be (ri_ocsp): thisUpdate not later
	 * than now + REVINFO_SKEW, nextUpdate not earlier than now. A CRL
	 * dated in the future is an issuer's clock or a forgery's, not
	 * usable validation data (RFC 5280 §5.1.2.4, §6.3.3 (a)).
	 */
	t = now + REVINFO_SKEW;
	if ((thisupd = X509_CRL_get0_lastUpdate(crl)) == NULL ||
	    X509_cmp_time(thisupd, &t) >= 0) {
		ERR_clear_error();
		snprintf(err, errlen, "CRL thisUpdate is in the future, more "
		    "than %ld s ahead (RFC 5280 §5.1.2.4)", REVINFO_SKEW);
		goto out;
	}
	t = now;
	if ((next = X509_CRL_get0_nextUpdate(crl)) == NULL ||
	    X509_cmp_time(next, &t) <= 0) {
		ERR_clear_error();
		snprintf(err, errlen, "CRL past its nextUpdate (RFC 5280 "
		    "§5.1.2.5)");
		goto out;
	}
	if (!ri_crl_complete_for(crl, x)) {
		snprintf(err, errlen, "a delta or partial CRL, or one whose "
		    "scope leaves this certificate out (RFC 5280 §5.2.4, "
		    "§5.2.5)");
		goto out;
	}
	if (X509_CRL_get0_by_cert(crl, &rev, x) == 1) {
		snprintf(err, errlen, "revoked (CRL)");
		rc = 1;
		goto out;
	}
	rc = 0;
 out:
	X509_CRL_free(crl);
	return rc;
}

/*
 * The CRL of x from url, checked by revinfo_check_crl(). Returns 0, 1
 * (revoked) or -1.
 */
static int
ri_crl(struct revinfo *ri, X509 *x, X509 *issuer, const char *url,
    char *err, size_t errlen)
{
	struct net_req q = { 0 };
	struct net_resp r = { 0 };
	unsigned char *der = NULL;
	int rc = -1;

	q.url = url;
	q.max = REVINFO_CRL_MAX;
	if (net_send(&q, &r, err, errlen) != 0)
		goto out;
	if (r.status != 200) {
		snprintf(err, errlen, "CRL distribution point answered HTTP "
		    "%ld", r.status);
		goto out;
	}
	if ((rc = revinfo_check_crl(r.body, r.len, x, issuer, time(NULL),
	    err, errlen)) != 0)
		goto out;
	rc = -1;
	if ((der = OPENSSL_memdup(r.body, r.len)) == NULL ||
	    ri_push(&ri->crls, &ri->ncrls, der, r.len) != 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
 out:
	net_resp_clear(&r);
	return rc;
}

static int
ri_self_signed(X509 *x)
{
	return X509_check_issued(x, x) == X509_V_OK &&
	    X509_verify(x, X509_get0_pubkey(x)) == 1;
}

int
revinfo_collect(STACK_OF(X509) *leaves, STACK_OF(X509) *pool,
    X509_STORE *trust, struct revinfo *out, char *err, size_t errlen)
{
	STACK_OF(X509) *todo = NULL;
	char name[256], e1[256], e2[256], *ourl = NULL, *curl = NULL;
	int i, j, r1, r2, rc = -1;

	memset(out, 0, sizeof(*out));
	ERR_clear_error();
	if ((todo = sk_X509_dup(leaves)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* todo grows with each issuer found, so each CA is seen once. */
	for (i = 0; i < sk_X509_num(todo); i++) {
		X509 *x = sk_X509_value(todo, i), *issuer = NULL;

		ri_name(x, name, sizeof(name));
		if (ri_add_cert(out, x) != 0) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		if (ri_self_signed(x))
			continue;
		for (j = 0; j < sk_X509_num(pool); j++)
			if (X509_check_issued(sk_X509_value(pool, j), x) ==
			    X509_V_OK) {
				issuer = sk_X509_value(pool, j);
				break;
			}
		if (issuer == NULL) {
			snprintf(err, errlen, "%s: its issuer is not in the "
			    "chain", name);
			goto out;
		}
		for (j = 0; j < sk_X509_num(todo); j++)
			if (X509_cmp(sk_X509_value(todo, j), issuer) == 0)
				break;
		if (j == sk_X509_num(todo) && sk_X509_push(todo, issuer) <= 0) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		free(ourl);
		free(curl);
		ourl = ri_ocsp_url(x);
		curl = ri_crl_url(x);
		snprintf(e1, sizeof(e1), "no OCSP URL in its "
		    "authorityInfoAccess");
		snprintf(e2, sizeof(e2), "no http CRL distribution point");
		r1 = ourl == NULL ? -1 :
		    ri_ocsp(out, x, issuer, ourl, pool, trust, e1, sizeof(e1));
		r2 = curl == NULL ? -1 : ri_crl(out, x, issuer, curl, e2,
		    sizeof(e2));
		if (r1 == 1 || r2 == 1) {
			snprintf(err, errlen, "%s: %s", name, r1 == 1 ? e1 :
			    e2);
			goto out;
		}
		if (r1 != 0 && r2 != 0) {
			snprintf(err, errlen, "%s: no revocation information: "
			    "OCSP: %s; CRL: %s", name, e1, e2);
			goto out;
		}
	}
	rc = 0;
 out:
	free(ourl);
	free(curl);
	sk_X509_free(todo);
	if (rc != 0)
		revinfo_clear(out);
	return rc;
}

static void
ri_free_blobs(struct pdf_blob *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		OPENSSL_free((void *)b[i].der);
	free(b);
}

void
revinfo_clear(struct revinfo *ri)
{
	ri_free_blobs(ri->certs, ri->ncerts);
	ri_free_blobs(ri->ocsps, ri->nocsps);
	ri_free_blobs(ri->crls, ri->ncrls);
	memset(ri, 0, sizeof(*ri));
}

void
revinfo_dss(const struct revinfo *ri, struct pdf_dss *dss)
{
	dss->certs = ri->certs;
	dss->ncerts = ri->ncerts;
	dss->ocsps = ri->ocsps;
	dss->nocsps = ri->nocsps;
	dss->crls = ri->crls;
	dss->ncrls = ri->ncrls;
}
