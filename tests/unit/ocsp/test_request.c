/*
 * What ocspd reads from a client, ocsp/request.c, alone (no key, no cache):
 *  - the GET path (RFC 6960 Appendix A.1): "/" + base64 and "//" +
 *    base64 (or more '/': a client joining an AIA URL that ends in '/')
 *    decode to the same bytes; a path of '/' only is no request;
 *  - urls.ocsp's path, which ocspd takes off GET paths: read from the
 *    URL (ocsp_url_prefix), and taken off only where it is followed by
 *    '/' or ends the path (ocsp_path_unprefix).
 *
 * request.c is included rather than linked, so the generic tests/unit
 * rule builds this program.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "ocsp/request.c"

/* A DER OCSPRequest of one SHA-1 CertID (serial 0x1001, a made-up issuer). */
static unsigned char *
make_request(OCSP_REQUEST **out, size_t *len)
{
	static const unsigned char key[] = { 0x04, 0x01, 0x02, 0x03 };
	OCSP_REQUEST *req;
	OCSP_CERTID *cid;
	X509_NAME *name;
	ASN1_BIT_STRING *bits;
	ASN1_INTEGER *serial;
	unsigned char *der = NULL;
	int n;

	assert_non_null(req = OCSP_REQUEST_new());
	assert_non_null(name = X509_NAME_new());
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"issuer", -1, -1, 0), 1);
	assert_non_null(bits = ASN1_BIT_STRING_new());
	assert_int_equal(ASN1_BIT_STRING_set(bits, (unsigned char *)key,
	    sizeof(key)), 1);
	assert_non_null(serial = ASN1_INTEGER_new());
	assert_int_equal(ASN1_INTEGER_set(serial, 0x1001), 1);
	assert_non_null(cid = OCSP_cert_id_new(EVP_sha1(), name, bits,
	    serial));
	assert_non_null(OCSP_request_add0_id(req, cid));
	X509_NAME_free(name);
	ASN1_BIT_STRING_free(bits);
	ASN1_INTEGER_free(serial);
	if (out != NULL) {
		*out = req;
		return NULL;
	}
	assert_true((n = i2d_OCSP_REQUEST(req, &der)) > 0);
	OCSP_REQUEST_free(req);
	*len = (size_t)n;
	return der;
}

/* der's base64, as a client writes it (padding kept, nothing escaped). */
static char *
b64_of(const unsigned char *der, size_t len)
{
	char *b64;

	assert_non_null(b64 = malloc(4 * ((len + 2) / 3) + 1));
	EVP_EncodeBlock((unsigned char *)b64, der, (int)len);
	return b64;
}

/*
 * "/", "//" and "///" before the base64 of a request: the same bytes
 * (until 2026-12-07 "//" was malformedRequest). '/' alone, "//" alone:
 * nothing to decode.
 */
static void
test_path_slashes(void **state)
{
	static const char *const lead[] = { "/", "//", "///" };
	unsigned char *der, *out;
	char *b64, path[1024];
	size_t len, olen, i;

	der = make_request(NULL, &len);
	b64 = b64_of(der, len);
	/* A DER OCSPRequest is a SEQUENCE: its base64 begins with 'M'. */
	assert_int_equal(b64[0], 'M');
	for (i = 0; i < sizeof(lead) / sizeof(lead[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", lead[i], b64);
		if (ocsp_path_decode(path, &out, &olen) != 0)
			fail_msg("GET %s+base64 not decoded", lead[i]);
		assert_int_equal(olen, len);
		assert_memory_equal(out, der, len);
		free(out);
	}
	/* Percent-encoded and without padding, after "//" too. */
	snprintf(path, sizeof(path), "//%s", b64);
	while (path[strlen(path) - 1] == '=')
		path[strlen(path) - 1] = '\0';
	assert_int_equal(ocsp_path_decode(path, &out, &olen), 0);
	assert_int_equal(olen, len);
	assert_memory_equal(out, der, len);
	free(out);
	assert_int_equal(ocsp_path_decode("/", &out, &olen), -1);
	assert_null(out);
	assert_int_equal(ocsp_path_decode("//", &out, &olen), -1);
	assert_null(out);
	assert_int_equal(ocsp_path_decode("", &out, &olen), -1);
	assert_int_equal(ocsp_path_decode("MEUw", &out, &olen), -1);
	free(b64);
	OPENSSL_free(der);
}

/* urls.ocsp's path, as ocspd takes it off GET paths. */
static void
test_url_prefix(void **state)
{
	static const struct {
		const char	*url;
		int		 rc;
		const char	*prefix;
	} cases[] = {
		{ NULL, 0, "" },
		{ "", 0, "" },
		{ "http://ocsp.pki.example", 0, "" },
		{ "http://ocsp.pki.example/", 0, "" },
		{ "http://127.0.0.1:18081", 0, "" },
		{ "http://host/ocsp", 0, "/ocsp" },
		{ "HTTP://host/ocsp/", 0, "/ocsp" },
		{ "https://host:8443/a/b//", 0, "/a/b" },
		{ "ftp://host/ocsp", -1, "" },
		{ "host/ocsp", -1, "" },
		{ "http://host/ocsp?x=1", -1, "" },
		{ "http://host/ocsp#f", -1, "" },
	};
	char prefix[OCSP_MAX_PREFIX], longurl[OCSP_MAX_PREFIX + 32];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(prefix, 'x', sizeof(prefix));
		if (ocsp_url_prefix(cases[i].url, prefix, sizeof(prefix)) !=
		    cases[i].rc)
			fail_msg("urls.ocsp %s: not %d", cases[i].url != NULL ?
			    cases[i].url : "(none)", cases[i].rc);
		assert_string_equal(prefix, cases[i].prefix);
	}
	/* A path that does not fit: refused, not cut. */
	snprintf(longurl, sizeof(longurl), "http://h/");
	memset(longurl + 9, 'p', OCSP_MAX_PREFIX);
	longurl[9 + OCSP_MAX_PREFIX] = '\0';
	assert_int_equal(ocsp_url_prefix(longurl, prefix, sizeof(prefix)), -1);
	assert_string_equal(prefix, "");

	assert_string_equal(ocsp_path_unprefix("/MEUw", ""), "/MEUw");
	assert_string_equal(ocsp_path_unprefix("/ocsp/MEUw", ""), "/ocsp/MEUw");
	assert_string_equal(ocsp_path_unprefix("/ocsp/MEUw", "/ocsp"), "/MEUw");
	assert_string_equal(ocsp_path_unprefix("/ocsp//MEUw", "/ocsp"),
	    "//MEUw");
	assert_string_equal(ocsp_path_unprefix("/ocsp", "/ocsp"), "/");
	assert_string_equal(ocsp_path_unprefix("/ocsp/", "/ocsp"), "/");
	/* Not under the prefix: as it came (a proxy took it off already). */
	assert_string_equal(ocsp_path_unprefix("/MEUw", "/ocsp"), "/MEUw");
	assert_string_equal(ocsp_path_unprefix("/ocspMEUw", "/ocsp"),
	    "/ocspMEUw");
	assert_string_equal(ocsp_path_unprefix("/health", "/ocsp"), "/health");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_slashes),
		cmocka_unit_test(test_url_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
