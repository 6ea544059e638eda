/*
 * Known answers for the decoders under signd's CSC parsers
 * (hsm/signd/csc_request.c): strict base64 (hashes, HTTP Basic), the
 * 256-bit base64url of SADs and tokens, and the OAuth form value decoder
 * (RFC 6749 Appendix B). The fuzz harness only shows they do not crash;
 * these show they accept exactly the canonical encodings. The sources are
 * included so that the static csc_form_value() can be called (as
 * tests/unit/ocsp/test_responder.c does).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hsm/signd/csc_request.c"
#include "hsm/signd/sam_proto.c"

/* s decodes (standard alphabet, padded) to exactly want (wantlen bytes). */
static void
b64_is(const char *s, const char *want, size_t wantlen)
{
	unsigned char out[64];
	size_t n = 99;

	if (csc_b64_decode(s, strlen(s), out, sizeof(out), &n) != 0)
		fail_msg("\"%s\" refused", s);
	assert_int_equal(n, wantlen);
	assert_memory_equal(out, want, wantlen);
}

static void
b64_refused(const char *s)
{
	unsigned char out[64];
	size_t n = 99;

	if (csc_b64_decode(s, strlen(s), out, sizeof(out), &n) != -1)
		fail_msg("\"%s\" accepted", s);
	assert_int_equal(n, 0);
}

static void
test_b64(void **state)
{
	unsigned char out[8];
	size_t n;

	(void)state;
	/* RFC 4648 §10. */
	b64_is("", "", 0);
	b64_is("Zg==", "f", 1);
	b64_is("Zm8=", "fo", 2);
	b64_is("Zm9v", "foo", 3);
	b64_is("Zm9vYg==", "foob", 4);
	b64_is("Zm9vYmE=", "fooba", 5);
	b64_is("Zm9vYmFy", "foobar", 6);
	/* The standard alphabet's 62 and 63, not base64url's. */
	b64_is("+/8=", "\xfb\xff", 2);
	b64_refused("-_8=");
	/* Padding: required, exact, only at the end (RFC 4648 §3.2). */
	b64_refused("Zg");
	b64_refused("Zg=");
	b64_refused("Zg===");
	b64_refused("Zm8");
	b64_refused("Zm9vY===");
	b64_refused("Z===");
	b64_refused("====");
	b64_refused("Zg==Zg==");
	b64_refused("=Zm9");
	/* Non-canonical: the unused trailing bits must be zero (§3.5). */
	b64_refused("Zh==");
	b64_refused("Zm9=");
	b64_refused("Zm9vYh==");
	/* Nothing outside the alphabet, no white space. */
	b64_refused("Zm9v\n");
	b64_refused("Zm9 ");
	b64_refused("Zm9v\n===");
	assert_int_equal(csc_b64_decode("Zm\0v", 4, out, sizeof(out), &n), -1);
	/* The output cap is a cap, not a truncation. */
	assert_int_equal(csc_b64_decode("Zm9vYmFy", 8, out, 5, &n), -1);
	assert_int_equal(csc_b64_decode("Zm9vYmFy", 8, out, 6, &n), 0);
	assert_int_equal(n, 6);
}

static void
test_b64url32(void **state)
{
	unsigned char in[32], out[32];
	char s[44], bad[64];
	int i;

	(void)state;
	/* 32 zero bytes: 43 'A's; 32 0xff: 42 '_' and '8' (4 bits + 00). */
	memset(s, 'A', 43);
	s[43] = '\0';
	assert_int_equal(csc_b64url32_decode(s, out), 0);
	memset(in, 0, sizeof(in));
	assert_memory_equal(out, in, 32);
	memset(s, '_', 42);
	s[42] = '8';
	assert_int_equal(csc_b64url32_decode(s, out), 0);
	memset(in, 0xff, sizeof(in));
	assert_memory_equal(out, in, 32);
	csc_b64url32_encode(in, bad);
	assert_string_equal(bad, s);
	/* Trailing bits not zero: '9' (111101), '_'. */
	s[42] = '9';
	assert_int_equal(csc_b64url32_decode(s, out), -1);
	s[42] = '_';
	assert_int_equal(csc_b64url32_decode(s, out), -1);
	/* The standard alphabet, padding, a length other than 43. */
	s[42] = '8';
	s[0] = '/';
	assert_int_equal(csc_b64url32_decode(s, out), -1);
	s[0] = '+';
	assert_int_equal(csc_b64url32_decode(s, out), -1);
	s[0] = '_';
	snprintf(bad, sizeof(bad), "%s=", s);
	assert_int_equal(csc_b64url32_decode(bad, out), -1);
	snprintf(bad, sizeof(bad), "%.42s", s);
	assert_int_equal(csc_b64url32_decode(bad, out), -1);
	/* Round trips. */
	for (i = 0; i < 32; i++)
		in[i] = (unsigned char)(i * 37 + 11);
	csc_b64url32_encode(in, s);
	assert_int_equal(strlen(s), 43);
	assert_int_equal(csc_b64url32_decode(s, out), 0);
	assert_memory_equal(out, in, 32);
}

static void
form_is(const char *s, const char *want)
{
	char out[32];

	if (csc_form_value(s, strlen(s), out, sizeof(out)) != 0)
		fail_msg("\"%s\" refused", s);
	assert_string_equal(out, want);
}

static void
form_refused(const char *s)
{
	char out[32];

	if (csc_form_value(s, strlen(s), out, sizeof(out)) != -1)
		fail_msg("\"%s\" accepted", s);
}

static void
test_form_value(void **state)
{
	struct csc_token_req t;
	char out[4], detail[256] = "";
	enum csc_token_refusal why;

	(void)state;
	form_is("", "");
	form_is("client_credentials", "client_credentials");
	form_is("a+b", "a b");
	form_is("%41%62", "Ab");
	form_is("%2f%2F", "//");
	form_is("%25", "%");
	form_is("%2B+", "+ ");
	form_is("%C3%A9", "\xc3\xa9");
	/* A truncated or non-hex escape, a NUL, raw separators or spaces. */
	form_refused("%");
	form_refused("%4");
	form_refused("a%4");
	form_refused("%4g");
	form_refused("%g4");
	form_refused("%00");
	form_refused("a b");
	form_refused("a\tb");
	form_refused("a&b");
	form_refused("a=b");
	/* The cap counts the NUL. */
	assert_int_equal(csc_form_value("abc", 3, out, 4), 0);
	assert_string_equal(out, "abc");
	/* Too long but well-formed is -2 (a client unknown, not a 400). */
	assert_int_equal(csc_form_value("abcd", 4, out, 4), -2);
	assert_int_equal(csc_form_value("abc%4", 5, out, 4), -1);
	assert_int_equal(csc_form_value("%41%42%43", 9, out, 4), 0);
	assert_string_equal(out, "ABC");
	/* RFC 6749 §2.3.1: id and secret are form-encoded inside Basic too. */
	if (csc_parse_token("grant_type=client_credentials", 29,
	    "Basic aWQlM0F4OnNlYytyZXQ=", &t, &why, detail,
	    sizeof(detail)) != 0)
		fail_msg("Basic id%%3Ax:sec+ret: %s", detail);
	assert_string_equal(t.client_id, "id:x");
	assert_string_equal(t.client_secret, "sec ret");
}

/* token_is AUTH BODY: accepted, with client id "cid" and secret "sec". */
static void
token_is(const char *auth, const char *body)
{
	struct csc_token_req t;
	enum csc_token_refusal why;
	char detail[256] = "";

	if (csc_parse_token(body, strlen(body), auth, &t, &why, detail,
	    sizeof(detail)) != 0)
		fail_msg("[%s] [%s] refused: %s", auth ? auth : "-", body,
		    detail);
	assert_string_equal(t.client_id, "cid");
	assert_string_equal(t.client_secret, "sec");
}

/* token_refused WHY AUTH BODY: refused so, with nothing left in t. */
static void
token_refused(enum csc_token_refusal want, const char *auth,
    const char *body)
{
	struct csc_token_req t, zero;
	enum csc_token_refusal why = CSC_TOKEN_REQUEST;
	char detail[256] = "";

	memset(&zero, 0, sizeof(zero));
	if (csc_parse_token(body, strlen(body), auth, &t, &why, detail,
	    sizeof(detail)) != -1)
		fail_msg("[%s] [%.60s] accepted", auth ? auth : "-", body);
	if (why != want)
		fail_msg("[%s] [%.60s]: refusal %d (%s), want %d",
		    auth ? auth : "-", body, (int)why, detail, (int)want);
	assert_memory_equal(&t, &zero, sizeof(t));
}

static void
basic_of(char *out, size_t outlen, const char *scheme, const char *id,
    size_t secretlen)
{
	char cred[512], *b;
	size_t n;

	n = (size_t)snprintf(cred, sizeof(cred), "%s:", id);
	assert_true(n + secretlen < sizeof(cred));
	memset(cred + n, 's', secretlen);
	cred[n + secretlen] = '\0';
	assert_non_null(b = csc_b64_encode((unsigned char *)cred,
	    strlen(cred)));
	snprintf(out, outlen, "%s %s", scheme, b);
	free(b);
}

/*
 * oauth2/token's client authentication (RFC 6749 §2.3.1, §5.2): the Basic
 * scheme in any case (RFC 9110 §11.1); another scheme is an unsupported
 * method, 401 invalid_client, even with the credentials in the body; an
 * id or secret longer than any client's is 401 invalid_client too, not
 * 400; a malformed one is still 400.
 */
static void
test_token_auth(void **state)
{
	const char *g = "grant_type=client_credentials";
	char body[512], auth[1024], big[300];

	(void)state;
	/* "cid:sec" */
	token_is("Basic Y2lkOnNlYw==", g);
	token_is("basic Y2lkOnNlYw==", g);
	token_is("BASIC Y2lkOnNlYw==", g);
	token_is("bAsIc   Y2lkOnNlYw==", g);
	token_is(NULL, "grant_type=client_credentials&client_id=cid&"
	    "client_secret=sec");
	/* Another scheme: refused, whether or not the body has them. */
	token_refused(CSC_TOKEN_CLIENT, "Bearer abc", "grant_type="
	    "client_credentials&client_id=cid&client_secret=sec");
	token_refused(CSC_TOKEN_CLIENT, "Bearer abc", g);
	token_refused(CSC_TOKEN_CLIENT, "Digest username=\"cid\"", g);
	token_refused(CSC_TOKEN_CLIENT, "BasicY2lkOnNlYw==", g);
	token_refused(CSC_TOKEN_CLIENT, "", g);
	/* Basic and the body both; Basic malformed. */
	token_refused(CSC_TOKEN_REQUEST, "basic Y2lkOnNlYw==",
	    "grant_type=client_credentials&client_id=cid");
	token_refused(CSC_TOKEN_REQUEST, "Basic", g);
	token_refused(CSC_TOKEN_REQUEST, "Basic Y2lkOnNlYw", g);
	token_refused(CSC_TOKEN_REQUEST, "Basic Y2lkc2Vj", g); /* no ':' */
	/* The grant first. */
	token_refused(CSC_TOKEN_GRANT, "Bearer abc", "grant_type=password");
	/* Oversized: 63 bytes fit, 64 are no client's; in the body... */
	memset(big, 's', sizeof(big));
	snprintf(body, sizeof(body), "%s&client_id=cid&client_secret=%.63s",
	    g, big);
	assert_int_equal(csc_parse_token(body, strlen(body), NULL,
	    &(struct csc_token_req){ 0 }, &(enum csc_token_refusal){ 0 },
	    auth, sizeof(auth)), 0);
	snprintf(body, sizeof(body), "%s&client_id=cid&client_secret=%.64s",
	    g, big);
	token_refused(CSC_TOKEN_CLIENT, NULL, body);
	snprintf(body, sizeof(body), "%s&client_id=cid&client_secret=%.200s",
	    g, big);
	token_refused(CSC_TOKEN_CLIENT, NULL, body);
	snprintf(body, sizeof(body), "%s&client_id=%.64s&client_secret=sec",
	    g, big);
	token_refused(CSC_TOKEN_CLIENT, NULL, body);
	/* ... malformed is still 400, oversized or not ... */
	snprintf(body, sizeof(body), "%s&client_id=cid&client_secret=%.64s%%4",
	    g, big);
	token_refused(CSC_TOKEN_REQUEST, NULL, body);
	/* ... and in Basic, within the header's buffer and beyond it. */
	basic_of(auth, sizeof(auth), "Basic", "cid", 64);
	token_refused(CSC_TOKEN_CLIENT, auth, g);
	basic_of(auth, sizeof(auth), "basic", "cid", 400);
	token_refused(CSC_TOKEN_CLIENT, auth, g);
	basic_of(auth, sizeof(auth), "Basic", "cid", 63);
	assert_int_equal(csc_parse_token(g, strlen(g), auth,
	    &(struct csc_token_req){ 0 }, &(enum csc_token_refusal){ 0 },
	    body, sizeof(body)), 0);
}

/* RSASSA-PSS-params (RFC 8017 A.2.3), DER in base64, made by openssl asn1parse -genconf. */
#define PSS_256	"MDSgDzANBglghkgBZQMEAgEFAKEcMBoGCSqGSIb3DQEBCDANBglghkgBZQMEAgEFAKIDAgEg"
#define PSS_384	"MDSgDzANBglghkgBZQMEAgIFAKEcMBoGCSqGSIb3DQEBCDANBglghkgBZQMEAgIFAKIDAgEw"
/* SHA-384, salt 32 */
#define PSS_384_SALT32 \
	"MDSgDzANBglghkgBZQMEAgIFAKEcMBoGCSqGSIb3DQEBCDANBglghkgBZQMEAgIFAKIDAgEg"
/* SHA-384, MGF1 with SHA-256 */
#define PSS_384_MGF256 \
	"MDSgDzANBglghkgBZQMEAgIFAKEcMBoGCSqGSIb3DQEBCDANBglghkgBZQMEAgEFAKIDAgEw"
/* SHA-384 with trailerField 2, and 1 (the default, given) */
#define PSS_384_TRAILER2 "MDmgDzANBglghkgBZQMEAgIFAKEcMBoGCSqGSIb3DQEBCDAN" \
	"BglghkgBZQMEAgIFAKIDAgEwowMCAQI="
#define PSS_384_TRAILER1 "MDmgDzANBglghkgBZQMEAgIFAKEcMBoGCSqGSIb3DQEBCDAN" \
	"BglghkgBZQMEAgIFAKIDAgEwowMCAQE="

/*
 * signhash_params ALGO HASHOID PARAMS: the result of csc_parse_signhash on
 * a body with these (PARAMS NULL: no signAlgoParams), detail in detail.
 */
static int
signhash_params(const char *algo, const char *hashoid, const char *params,
    char *detail, size_t detaillen)
{
	struct csc_signhash_req r;
	char body[1024];
	/* A SHA-256 (32 bytes) or SHA-384 (48 bytes) digest. */
	const char *h = hashoid == NULL ||
	    strcmp(hashoid, CSC_OID_SHA256) == 0 ?
	    "ETPCHyu0jjg8IkRZKYxod3tJBB1sZ6SJ42M7HIxcdFk=" :
	    "ERERERERERERERERERERERERERERERERERERERERERERERERERERERERERERERER";

	detail[0] = '\0';
	snprintf(body, sizeof(body), "{\"credentialID\":\"6\",\"SAD\":"
	    "\"Hwsy4Y78cEDFavmh78x3Ej_txBjeDsfQx0pingzouoQ\",\"hashes\":"
	    "[\"%s\"]%s%s%s,\"signAlgo\":\"%s\"%s%s%s}", h,
	    hashoid != NULL ? ",\"hashAlgorithmOID\":\"" : "",
	    hashoid != NULL ? hashoid : "", hashoid != NULL ? "\"" : "", algo,
	    params != NULL ? ",\"signAlgoParams\":\"" : "",
	    params != NULL ? params : "", params != NULL ? "\"" : "");
	return csc_parse_signhash(body, strlen(body), &r, detail, detaillen);
}

static void
pss_refused(const char *algo, const char *hashoid, const char *params)
{
	char detail[256];

	if (signhash_params(algo, hashoid, params, detail,
	    sizeof(detail)) != -1)
		fail_msg("%s %s %s accepted", algo, hashoid, params);
	if (strncmp(detail, "Invalid parameter signAlgoParams", 32) != 0)
		fail_msg("%s %s %s: %s", algo, hashoid, params, detail);
}

/*
 * CSC v2 signHash's signAlgoParams: RSASSA-PSS's parameters, accepted when
 * they are what the SAM signs with (MGF1 of hashAlgorithmOID's hash, salt
 * of its length); until 2026-12-07 always refused.
 */
static void
test_signhash_params(void **state)
{
	char detail[256];

	(void)state;
	if (signhash_params(CSC_OID_RSAPSS, CSC_OID_SHA256, PSS_256, detail,
	    sizeof(detail)) != 0)
		fail_msg("PSS SHA-256 with its parameters refused: %s", detail);
	if (signhash_params(CSC_OID_RSAPSS, CSC_OID_SHA384, PSS_384, detail,
	    sizeof(detail)) != 0)
		fail_msg("PSS SHA-384 with its parameters refused: %s", detail);
	if (signhash_params(CSC_OID_RSAPSS, CSC_OID_SHA384, PSS_384_TRAILER1,
	    detail, sizeof(detail)) != 0)
		fail_msg("PSS SHA-384 with trailerField 1 refused: %s", detail);
	/* Without signAlgoParams: as before. */
	if (signhash_params(CSC_OID_RSAPSS, CSC_OID_SHA384, NULL, detail,
	    sizeof(detail)) != 0)
		fail_msg("PSS SHA-384 without parameters refused: %s", detail);
	/* Another hash than hashAlgorithmOID's, salt, MGF1 hash, trailer. */
	pss_refused(CSC_OID_RSAPSS, CSC_OID_SHA384, PSS_256);
	pss_refused(CSC_OID_RSAPSS, CSC_OID_SHA256, PSS_384);
	pss_refused(CSC_OID_RSAPSS, CSC_OID_SHA384, PSS_384_SALT32);
	pss_refused(CSC_OID_RSAPSS, CSC_OID_SHA384, PSS_384_MGF256);
	pss_refused(CSC_OID_RSAPSS, CSC_OID_SHA384, PSS_384_TRAILER2);
	/* SEQUENCE {}: SHA-1, MGF1-SHA-1, salt 20 (the defaults). */
	pss_refused(CSC_OID_RSAPSS, CSC_OID_SHA256, "MAA=");
	/* Not base64, not DER, trailing bytes, empty, not a string. */
	pss_refused(CSC_OID_RSAPSS, CSC_OID_SHA256, "not base64!");
	pss_refused(CSC_OID_RSAPSS, CSC_OID_SHA256, "AAAA");
	pss_refused(CSC_OID_RSAPSS, CSC_OID_SHA256, PSS_256 "AA==");
	pss_refused(CSC_OID_RSAPSS, CSC_OID_SHA256, "");
	/* With any other signAlgo. */
	pss_refused(CSC_OID_RSA, CSC_OID_SHA256, PSS_256);
	pss_refused(CSC_OID_EC, CSC_OID_SHA256, PSS_256);
	pss_refused("1.2.840.113549.1.1.11", NULL, PSS_256);
}

static void
list_refused(const char *body)
{
	struct csc_list_req r;
	char detail[256] = "";

	if (csc_parse_list(body, strlen(body), &r, detail,
	    sizeof(detail)) != -1)
		fail_msg("%s accepted", body);
}

/*
 * CSC v2 credentials/list: credentialInfo, certificates, certInfo,
 * authInfo (for credentialInfos) and onlyValid; until 2026-12-07 the
 * first four ignored (certificates not even checked) and onlyValid an
 * unknown member.
 */
static void
test_list_params(void **state)
{
	struct csc_list_req r;
	const char *b;
	char detail[256] = "";

	(void)state;
	b = "{\"userID\":\"7\"}";
	if (csc_parse_list(b, strlen(b), &r, detail, sizeof(detail)) != 0)
		fail_msg("%s refused: %s", b, detail);
	assert_int_equal(r.credential_info, 0);
	assert_int_equal(r.only_valid, 0);
	assert_int_equal(r.certs, CSC_CERTS_SINGLE);
	b = "{\"userID\":\"7\",\"credentialInfo\":true,\"certificates\":"
	    "\"chain\",\"certInfo\":true,\"authInfo\":true,\"onlyValid\":"
	    "true,\"maxResults\":5}";
	if (csc_parse_list(b, strlen(b), &r, detail, sizeof(detail)) != 0)
		fail_msg("%s refused: %s", b, detail);
	assert_string_equal(r.user_id, "7");
	assert_int_equal(r.max_results, 5);
	assert_int_equal(r.credential_info, 1);
	assert_int_equal(r.only_valid, 1);
	assert_int_equal(r.certs, CSC_CERTS_CHAIN);
	assert_int_equal(r.cert_info, 1);
	assert_int_equal(r.auth_info, 1);
	b = "{\"userID\":\"7\",\"certificates\":\"none\",\"onlyValid\":"
	    "false}";
	if (csc_parse_list(b, strlen(b), &r, detail, sizeof(detail)) != 0)
		fail_msg("%s refused: %s", b, detail);
	assert_int_equal(r.certs, CSC_CERTS_NONE);
	assert_int_equal(r.only_valid, 0);
	list_refused("{\"userID\":\"7\",\"certificates\":\"bogus\"}");
	list_refused("{\"userID\":\"7\",\"certificates\":1}");
	list_refused("{\"userID\":\"7\",\"onlyValid\":1}");
	list_refused("{\"userID\":\"7\",\"onlyValid\":\"true\"}");
	list_refused("{\"userID\":\"7\",\"credentialInfo\":\"true\"}");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_b64url32),
		cmocka_unit_test(test_form_value),
		cmocka_unit_test(test_token_auth),
		cmocka_unit_test(test_signhash_params),
		cmocka_unit_test(test_list_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
