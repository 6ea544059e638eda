/*
 * libFuzzer harness for what ocspd reads from clients: arbitrary bytes as
 *  - a GET path ("/" + the bytes) through ocsp_path_decode(), whose output
 *    goes on to ocsp_query_parse();
 *  - the bytes a GET path encodes, as RFC 6960 Appendix A.1 clients write
 *    it (base64, its '+', '/' and '=' percent-encoded or not, padding
 *    kept or not: the first byte chooses): ocsp_path_decode() must give
 *    them back exactly (raw bytes as a path almost never decode, so the
 *    decoder's output was checked by nothing until 2026-12-06);
 *  - a POST body through ocsp_answer(), with a software key and one issuer
 *    (no HSM, no database in a fuzz run).
 * Every answer must be a DER OCSPResponse that parses back; a successful one
 * only for input that is exactly one OCSPRequest; never internalError, which
 * says the fault is ours (nothing fails here but our code: a software key,
 * no database), whatever the client sent. Until 2026-12-06 the harness did
 * not look, and a CertID whose hashAlgorithm parameters were "20 00" got
 * internalError (ocsp/request.c ocsp_query_params).
 *
 * The issuer's key and certificate are fixed (below), not made per run:
 * the seeds in tests/fixtures/fuzz_ocsp_request/fuzzca-*.der are requests
 * for this issuer (`openssl ocsp -issuer fuzzca.pem -serial 1 -reqout`),
 * so that from the first second the fuzzer is in the answer path
 * (matching, the cache, ocsp_sign) rather than in "unauthorized" only, as
 * it was when no seed could match a key made at start. Serial 1 is good,
 * 2 revoked, any other never issued.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/config.h"
#include "ocsp/extern.h"
#include "tests/fuzz/fuzzca.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct ocsp_responder r;

/*
 * The fuzz issuer, self-signed "CN=fuzz CA" (P-256, valid until 2126),
 * which is its own responder. Made once with
 *	openssl ecparam -name prime256v1 -genkey -noout | openssl pkey
 *	openssl req -new -x509 -key key.pem -subj "/CN=fuzz CA" -days 36500
 * A test key: it signs nothing but fuzz answers.
 */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct config *policy;
	struct ocsp_status st;
	char err[256];

	policy = config_load(NULL, err, sizeof(err));
	if (policy == NULL || ocsp_policy_load(policy, &r.pol, err,
	    sizeof(err)) == -1)
		abort();
	config_free(policy);
	r.iss[0].key = fuzz_pem_key(FUZZ_CA_KEY_PEM);
	r.iss[0].cert = fuzz_pem_cert(FUZZ_CA_PEM);
	if (X509_up_ref(r.iss[0].cert) != 1)
		abort();
	r.iss[0].rcert = r.iss[0].cert;
	strcpy(r.iss[0].name, "fuzz");
	if (ocsp_issuer_prepare(&r.iss[0], r.pol.sign_mdname) == -1)
		abort();
	r.niss = 1;
	if ((r.cache = ocsp_cache_new()) == NULL)
		abort();
	/* A few known serials: good and revoked. */
	memset(&st, 0, sizeof(st));
	st.reason = -1;
	ocsp_cache_set_status(r.cache, 0, "1", &st);
	st.state = OCSP_STATE_REVOKED;
	st.reason = 1;
	st.revoked_at = 1700000000;
	st.invalidity = 1690000000;
	ocsp_cache_set_status(r.cache, 0, "2", &st);
	r.synced_at = time(NULL);
	r.pol.max_nonissued = 64;
	return 0;
}

/*
 * "/" + the base64 of data as a client writes it in a GET path (how: bit 0
 * percent-encodes '+', '/' and '=', bit 1 drops the padding) must decode to
 * data (ocsp_path_decode), and so must "//" + the same (a client joining
 * an AIA URL that ends in '/'). Not when the base64 begins with a literal
 * '/' (data from 0xfc): the decoder takes every leading '/' for the
 * path's, which loses no request (a DER OCSPRequest begins with 0x30, in
 * base64 'M').
 */
static void
fuzz_get_roundtrip(const uint8_t *data, size_t size, unsigned int how)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char *decoded = NULL;
	char *path, *o;
	size_t i, len, elen;
	unsigned int v;
	int k, n;

	elen = 4 * ((size + 2) / 3);
	if (size == 0 || 3 * elen > OCSP_MAX_PATH)
		return;		/* refused by design: nothing to give back */
	if ((path = malloc(3 * elen + 3)) == NULL)
		abort();
	o = path;
	*o++ = '/';
	*o++ = '/';
	for (i = 0; i < size; i += 3) {
		n = size - i < 3 ? (int)(size - i) : 3;
		v = (unsigned int)data[i] << 16;
		if (n > 1)
			v |= (unsigned int)data[i + 1] << 8;
		if (n > 2)
			v |= data[i + 2];
		for (k = 0; k < 4; k++) {
			char c = k <= n ? b64[(v >> (18 - 6 * k)) & 0x3f] : '=';

			if (c == '=' && (how & 2))
				break;
			if ((how & 1) && (c == '+' || c == '/' || c == '='))
				o += sprintf(o, "%%%02X", (unsigned char)c);
			else
				*o++ = c;
		}
	}
	*o = '\0';
	if (path[2] == '/') {
		free(path);
		return;
	}
	for (k = 0; k < 2; k++) {
		if (ocsp_path_decode(path + 1 - k, &decoded, &len) != 0 ||
		    len != size || memcmp(decoded, data, size) != 0)
			abort();	/* a client's GET read as other bytes, or not */
		free(decoded);
	}
	free(path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ocsp_query q;
	struct ocsp_blob *blob = NULL;
	const unsigned char *der = NULL, *p;
	unsigned char *decoded = NULL;
	char *path;
	size_t len, derlen;
	OCSP_RESPONSE *resp;
	OCSP_REQUEST *req;
	int owned = 0, cacheable = 0;

	/* The GET path decoder, then the parser on what it decoded. */
	if ((path = malloc(size + 2)) == NULL)
		abort();
	path[0] = '/';
	memcpy(path + 1, data, size);
	path[size + 1] = '\0';
	if (ocsp_path_decode(path, &decoded, &len) == 0) {
		if (ocsp_query_parse(decoded, len, &q) == 0 && q.nids < 1)
			abort();
		ocsp_query_free(&q);
	} else if (decoded != NULL)
		abort();
	free(decoded);
	free(path);
	fuzz_get_roundtrip(data, size, size > 0 ? data[0] : 0);

	/* The whole answer path on the bytes as a POST body. */
	if (ocsp_answer(&r, data, size, &der, &derlen, &blob, &owned,
	    &cacheable) == -1)
		abort();
	p = der;
	if ((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)derlen)) == NULL ||
	    p != der + derlen)
		abort();
	if (OCSP_response_status(resp) == OCSP_RESPONSE_STATUS_INTERNALERROR)
		abort();	/* a client's bytes made us fail */
	if (OCSP_response_status(resp) == OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		p = data;
		if ((req = d2i_OCSP_REQUEST(NULL, &p, (long)size)) == NULL ||
		    p != data + size)
			abort();	/* answered something that is not one request */
		OCSP_REQUEST_free(req);
	}
	OCSP_RESPONSE_free(resp);
	if (owned)
		OPENSSL_free((unsigned char *)der);
	ocsp_blob_unref(blob);
	return 0;
}
