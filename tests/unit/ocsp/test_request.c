/*
 * What ocspd reads from a client, ocsp/request.c, alone (no key, no cache):
 *  - the GET path (RFC 6960 Appendix A.1): "/" + base64 and "//" +
 *    base64 (or more '/': a client joining an AIA URL that ends in '/')
 *    decode to the same bytes; a path of '/' only is no request;
 *  - urls.ocsp's path, which ocspd takes off GET paths: read from the
 *    URL (ocsp_url_prefix), and taken off only where it is followed by
 *    '/' or ends the path (ocsp_path_unprefix);
 *  - the nonce's length (RFC 9654 §2.1): 1 to 128 octets echoed, 0 and
 *    more than 128 malformed, and two nonces;
 *  - a nonce whose extnValue is not one OCTET STRING (raw octets):
 *    ignored when not critical, malformed when critical.
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

/*
 * Adds to req a nonce extension whose extnValue is value[0..len) as it
 * is, critical or not.
 */
static void
add_nonce_ext(OCSP_REQUEST *req, const unsigned char *value, size_t len,
    int critical)
{
	ASN1_OCTET_STRING *os;
	X509_EXTENSION *ext;

	assert_non_null(os = ASN1_OCTET_STRING_new());
	assert_int_equal(ASN1_OCTET_STRING_set(os, value, (int)len), 1);
	assert_non_null(ext = X509_EXTENSION_create_by_NID(NULL,
	    NID_id_pkix_OCSP_Nonce, critical, os));
	assert_int_equal(OCSP_REQUEST_add_ext(req, ext, -1), 1);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
}

/* The DER of an OCTET STRING of n octets 0, 1, 2, ... (n < 65536). */
static size_t
octets_der(size_t n, unsigned char *out)
{
	size_t h = 0, i;

	out[h++] = 0x04;
	if (n < 128)
		out[h++] = (unsigned char)n;
	else if (n < 256) {
		out[h++] = 0x81;
		out[h++] = (unsigned char)n;
	} else {
		out[h++] = 0x82;
		out[h++] = (unsigned char)(n >> 8);
		out[h++] = (unsigned char)n;
	}
	for (i = 0; i < n; i++)
		out[h + i] = (unsigned char)i;
	return h + n;
}

/* ocsp_query_parse of a request with one nonce, extnValue value. */
static void
parse_with_nonce(const unsigned char *value, size_t len, int critical,
    struct ocsp_query *q)
{
	OCSP_REQUEST *req;
	unsigned char *der = NULL;
	int n;

	make_request(&req, NULL);
	add_nonce_ext(req, value, len, critical);
	assert_true((n = i2d_OCSP_REQUEST(req, &der)) > 0);
	OCSP_REQUEST_free(req);
	assert_int_equal(ocsp_query_parse(der, (size_t)n, q), 0);
	OPENSSL_free(der);
}

/*
 * RFC 9654 §2.1: a responder must accept 16 to 32 octets and may answer
 * without the nonce for 1 to 15 and 33 to 128; ocspd echoes them all.
 * 0 octets and more than 128 are malformed (bad_nonce: malformedRequest
 * with nonce = echo), and so are two nonces. Until 2026-12-07 33 to 128
 * were malformed too (RFC 8954).
 */
static void
test_nonce_lengths(void **state)
{
	static const size_t echo[] = { 1, 15, 16, 32, 33, 64, 127, 128 };
	static const size_t bad[] = { 0, 129, 200, 1000 };
	struct ocsp_query q;
	OCSP_REQUEST *req;
	unsigned char v[1100], *der = NULL;
	size_t i, len;
	int n;

	for (i = 0; i < sizeof(echo) / sizeof(echo[0]); i++) {
		len = octets_der(echo[i], v);
		parse_with_nonce(v, len, 0, &q);
		if (!q.has_nonce || q.bad_nonce || q.critical_nonce)
			fail_msg("a nonce of %zu octets: not one to echo",
			    echo[i]);
		ocsp_query_free(&q);
		/* Critical: the same, marked so. */
		parse_with_nonce(v, len, 1, &q);
		assert_true(q.has_nonce && !q.bad_nonce && q.critical_nonce);
		ocsp_query_free(&q);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = octets_der(bad[i], v);
		parse_with_nonce(v, len, 0, &q);
		if (q.has_nonce || !q.bad_nonce)
			fail_msg("a nonce of %zu octets: not malformed",
			    bad[i]);
		ocsp_query_free(&q);
	}
	/* Two nonces of 16 octets each. */
	make_request(&req, NULL);
	len = octets_der(16, v);
	add_nonce_ext(req, v, len, 0);
	add_nonce_ext(req, v, len, 0);
	assert_true((n = i2d_OCSP_REQUEST(req, &der)) > 0);
	OCSP_REQUEST_free(req);
	assert_int_equal(ocsp_query_parse(der, (size_t)n, &q), 0);
	assert_true(!q.has_nonce && q.bad_nonce);
	ocsp_query_free(&q);
	OPENSSL_free(der);
	/* No nonce. */
	der = make_request(NULL, &len);
	assert_int_equal(ocsp_query_parse(der, len, &q), 0);
	assert_true(!q.has_nonce && !q.bad_nonce && !q.critical_nonce);
	ocsp_query_free(&q);
	OPENSSL_free(der);
}

/*
 * An extnValue of the nonce's raw octets (BouncyCastle's new
 * Extension(id_pkix_ocsp_nonce, false, new DEROctetString(raw))), or an
 * OCTET STRING with a byte after it: no Nonce to echo. Not critical:
 * neither echoed nor malformed (answered as without a nonce); critical:
 * malformed. An empty extnValue: a nonce of 0 octets, malformed. Until
 * 2026-12-07 the non-critical ones were malformed too.
 */
static void
test_nonce_raw(void **state)
{
	static const unsigned char raw[16] = {
		0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
		0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0 };
	static const unsigned char trailing[] = { 0x04, 0x02, 0x01, 0x02,
		0x00 };
	struct ocsp_query q;
	int crit;

	for (crit = 0; crit < 2; crit++) {
		parse_with_nonce(raw, sizeof(raw), crit, &q);
		assert_false(q.has_nonce);
		assert_int_equal(q.critical_nonce, crit);
		if (q.bad_nonce != crit)
			fail_msg("raw octets as the nonce, %scritical: %s",
			    crit ? "" : "not ", q.bad_nonce ? "malformed" :
			    "ignored");
		ocsp_query_free(&q);
		parse_with_nonce(trailing, sizeof(trailing), crit, &q);
		assert_false(q.has_nonce);
		assert_int_equal(q.bad_nonce, crit);
		ocsp_query_free(&q);
		parse_with_nonce(raw, 0, crit, &q);
		assert_false(q.has_nonce);
		assert_true(q.bad_nonce);
		ocsp_query_free(&q);
	}
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
		cmocka_unit_test(test_nonce_lengths),
		cmocka_unit_test(test_nonce_raw),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
