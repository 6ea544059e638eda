/*
 * libFuzzer harness for what ocspd reads from clients: arbitrary bytes as
 *  - a GET path ("/" + the bytes) through ocsp_path_decode(), whose output
 *    goes on to ocsp_query_parse();
 *  - a POST body through ocsp_answer(), with a software key and one issuer
 *    (no HSM, no database in a fuzz run).
 * Every answer must be a DER OCSPResponse that parses back; a successful one
 * only for input that is exactly one OCSPRequest.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "lib/config.h"
#include "ocsp/extern.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct ocsp_responder r;

static X509 *
fuzz_cert(EVP_PKEY *key, const char *cn)
{
	X509 *x = X509_new();

	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_sign(x, key, EVP_sha256());
	return x;
}

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
	r.iss[0].keys[0] = EVP_EC_gen("P-256");
	r.iss[0].nkeys = 1;
	r.iss[0].cert = fuzz_cert(r.iss[0].keys[0], "fuzz CA");
	r.iss[0].rcert = fuzz_cert(r.iss[0].keys[0], "fuzz responder");
	strcpy(r.iss[0].name, "fuzz");
	if (ocsp_issuer_hash(&r.iss[0]) == -1)
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

	/* The whole answer path on the bytes as a POST body. */
	if (ocsp_answer(&r, data, size, &der, &derlen, &blob, &owned,
	    &cacheable) == -1)
		abort();
	p = der;
	if ((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)derlen)) == NULL ||
	    p != der + derlen)
		abort();
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
