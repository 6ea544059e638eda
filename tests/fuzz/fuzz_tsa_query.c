/*
 * libFuzzer harness: arbitrary bytes as an RFC 3161 TimeStampReq through
 * tsa_respond() and tsad's split path (tsa_respond_begin, the signature
 * made apart, tsa_respond_finish), with a software key (no HSM in a fuzz
 * run). Every input must
 * produce a DER TimeStampResp that parses back; only well-formed queries may
 * be granted (exactly one TimeStampReq, in DER: RFC 3161 §2.4.1), and a
 * granted token (written by tsa/token.c) must pass
 * TS_RESP_verify_response against the query (signature, ESSCertIDv2,
 * imprint, nonce, policy). A second responder has the direct path off, so
 * that every query also reaches OpenSSL's TS_RESP_CTX and the record made
 * from what it grants (tsa_fill_record), as a query the direct path
 * declines does in tsad. What the split path sends to be signed must pass
 * the signer's own check (signer_tst_policy, hsm/tstinfo.c): a query tsad
 * grants and its signer refuses is answered systemFailure (until
 * 2026-12-07, a nonce of 64 octets with its top bit set).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "hsm/extern.h"
#include "lib/config.h"
#include "tsa/extern.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct tsa_responder *responder;
static struct tsa_responder *responder_ctx;	/* TS_RESP_CTX only */
static X509 *tsa_cert;
static EVP_PKEY *tsa_key;	/* signs tsad's split path (tsa_respond_begin) */

/* A throw-away TSA certificate (self-signed, critical timeStamping EKU). */
static X509 *
fuzz_cert(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"fuzz TSA", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	/* tsad makes no token outside its certificate's validity: a long run. */
	X509_gmtime_adj(X509_getm_notAfter(x), 30 * 86400L);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_ext_key_usage, "critical,timeStamping");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	X509_sign(x, key, EVP_sha256());
	return x;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct config *policy;
	EVP_PKEY *key;
	X509 *cert;
	char err[256];

	setenv("PKI_TSA_POLICY", "2.999.1.2.1", 1);
	setenv("PKI_TSA_OTHER_POLICIES", "2.999.1.2.2", 1);
	policy = config_load(NULL, err, sizeof(err));
	key = EVP_EC_gen("P-256");
	cert = fuzz_cert(key);
	responder = tsa_responder_new(policy, cert, 0, key, NULL, 1, err,
	    sizeof(err));
	if (responder == NULL)
		abort();
	responder_ctx = tsa_responder_new(policy, cert, 0, key, NULL, 1, err,
	    sizeof(err));
	if (responder_ctx == NULL)
		abort();
	tsa_responder_test_hooks(responder_ctx, NULL, NULL, 0);
	config_free(policy);
	tsa_cert = cert;	/* kept for verification */
	tsa_key = key;
	return 0;
}

/*
 * 1 when data is exactly one TimeStampReq in DER (*req the parsed query),
 * 0 otherwise. d2i_TS_REQ reads BER too (indefinite and long-form lengths,
 * certReq FALSE sent though DEFAULT, constructed strings) and ignores
 * trailing bytes, so the query is encoded again and must give data back.
 * OpenSSL keeps a BOOLEAN's octet as read (TRUE sent as 0x01 is written
 * back as 0x01): certReq is set again first, which writes DER's 0xFF.
 * An empty extensions [0] round-trips but is no DER of Extensions, which
 * is SEQUENCE SIZE (1..MAX).
 */
static int
fuzz_query_is_der(const uint8_t *data, size_t size, TS_REQ **req)
{
	const unsigned char *p = data;
	unsigned char *der = NULL;
	int n, same = 0;

	if ((*req = d2i_TS_REQ(NULL, &p, (long)size)) == NULL || p != data + size)
		return 0;
	if (TS_REQ_set_cert_req(*req, TS_REQ_get_cert_req(*req)) != 1 ||
	    (n = i2d_TS_REQ(*req, &der)) <= 0)
		abort();
	same = (size_t)n == size && memcmp(der, data, size) == 0 &&
	    !(TS_REQ_get_exts(*req) != NULL && TS_REQ_get_ext_count(*req) == 0);
	OPENSSL_free(der);
	return same;
}

/* OpenSSL's verifier must accept a granted token for its query. */
static void
fuzz_verify(TS_REQ *req, TS_RESP *resp)
{
	TS_VERIFY_CTX *vctx;
	X509_STORE *store;
	STACK_OF(X509) *certs;

	if ((vctx = TS_REQ_to_TS_VERIFY_CTX(req, NULL)) == NULL ||
	    (store = X509_STORE_new()) == NULL || (certs = sk_X509_new_null()) == NULL)
		abort();
	TS_VERIFY_CTX_add_flags(vctx, TS_VFY_SIGNATURE);
	X509_STORE_add_cert(store, tsa_cert);
	TS_VERIFY_CTX_set_store(vctx, store);
	X509_up_ref(tsa_cert);
	sk_X509_push(certs, tsa_cert);
	TS_VERIFY_CTX_set_certs(vctx, certs);
	if (TS_RESP_verify_response(vctx, resp) != 1)
		abort();
	TS_VERIFY_CTX_free(vctx);
}

/*
 * tsad's path: prepared (tsa_respond_begin), the SignedAttributes signed
 * apart, finished (tsa_respond_finish). The answer in *reply either way.
 */
static int
fuzz_respond_split(const uint8_t *data, size_t size, unsigned char **reply,
    size_t *len, int *granted)
{
	struct tsa_pending pend;
	struct tsa_record rec;
	EVP_MD_CTX *ctx;
	const EVP_MD *md;
	unsigned char sig[256];
	char err[512];
	size_t siglen = sizeof(sig);
	int r;

	memset(&pend, 0, sizeof(pend));
	tsa_token_tbs_init(&pend.tbs);
	r = tsa_respond_begin(responder, data, size, reply, len, granted, &rec,
	    &pend);
	if (r == 1) {
		/* tsad's signer signs only what passes its check. */
		if ((md = EVP_get_digestbyname(tsa_responder_sign_mdname(
		    responder))) == NULL ||
		    signer_tst_policy(pend.tbs.signed_attrs.buf,
		    pend.tbs.signed_attrs.len, pend.tbs.tst.buf, pend.tbs.tst.len,
		    md, time(NULL), err, sizeof(err)) == -1)
			abort();
		if ((ctx = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestSignInit_ex(ctx, NULL,
		    tsa_responder_sign_mdname(responder), NULL, NULL, tsa_key,
		    NULL) != 1 ||
		    EVP_DigestSign(ctx, sig, &siglen, pend.tbs.signed_attrs.buf,
		    pend.tbs.signed_attrs.len) != 1 ||
		    tsa_respond_finish(responder, &pend, sig, siglen, reply,
		    len) == -1)
			abort();
		EVP_MD_CTX_free(ctx);
		r = 0;
	}
	tsa_token_tbs_free(&pend.tbs);
	return r;
}

/* The answer must be one TimeStampResp; a granted token must verify. */
static void
fuzz_check(const uint8_t *data, size_t size, unsigned char *reply, size_t len,
    int granted)
{
	const unsigned char *p = reply;
	TS_RESP *resp;
	TS_REQ *req = NULL;

	if ((resp = d2i_TS_RESP(NULL, &p, (long)len)) == NULL || p != reply + len)
		abort();
	if (granted) {
		if (!fuzz_query_is_der(data, size, &req))
			abort();	/* granted a query that is not one DER TimeStampReq */
		fuzz_verify(req, resp);
	}
	TS_REQ_free(req);
	TS_RESP_free(resp);
	OPENSSL_free(reply);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *reply = NULL;
	size_t len;
	struct tsa_record rec;
	int granted;

	if (tsa_respond(responder, data, size, &reply, &len, &granted, &rec) == -1)
		abort();
	fuzz_check(data, size, reply, len, granted);
	/* tsad's split path answers the same way. */
	reply = NULL;
	if (fuzz_respond_split(data, size, &reply, &len, &granted) == -1)
		abort();
	fuzz_check(data, size, reply, len, granted);
	/* And through TS_RESP_CTX alone. */
	reply = NULL;
	if (tsa_respond(responder_ctx, data, size, &reply, &len, &granted,
	    &rec) == -1)
		abort();
	fuzz_check(data, size, reply, len, granted);
	return 0;
}
