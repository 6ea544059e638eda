/*
 * tsa/respond.c's refusals, judged by OpenSSL's own decoder:
 *  - the clock (RFC 3161 §2.4.2): adjtimex is replaced at link time by
 *    fake_adjtimex below (respond.c's call binds to this program's
 *    definition), so the kernel's answer is ours to choose. A clock the
 *    kernel calls synchronized but whose error bound (maxerror) plus
 *    genTime's truncation (10^-digits s) exceeds the accuracy tokens claim
 *    gets timeNotAvailable, on the direct path and through TS_RESP_CTX;
 *    at the bound it is granted; STA_UNSYNC,
 *    TIME_ERROR, a leap second being inserted (TIME_OOP) and a failing
 *    adjtimex are refused; a policy without
 *    accuracy checks no bound; allow_unsync issues tokens all the same.
 *    The log says so once, not once per query, and says when it is over;
 *  - a token whose signature fails (an RSA-512 key cannot sign SHA-512)
 *    is answered with rejection and failInfo systemFailure, not with
 *    TS_RESP_CTX's rejection without a failInfo;
 *  - tsa_respond_rejection's DER, octet for octet, and its bits;
 *  - a query in BER but not DER (indefinite or long-form lengths, certReq
 *    FALSE sent, TRUE as 0x01, an empty extensions [0]) gets rejection,
 *    badDataFormat;
 *  - a policy whose genTime precision (10^-digits s) is not less than the
 *    accuracy tokens claim is refused at tsa_responder_new, and so is a
 *    certificate without the critical timeStamping extendedKeyUsage,
 *    saying so (not that the key does not match), and a signing digest
 *    the signer does not sign with (SHA1, SHA224, ...);
 *  - a serial number that cannot be made gets systemFailure (ours), not
 *    addInfoNotAvailable;
 *  - genTime outside the TSA certificate's validity (expired, not yet
 *    valid, one microsecond past notAfter) or its privateKeyUsagePeriod
 *    gets systemFailure on both paths, logged once; /health's state says
 *    so (tsa_responder_cert).
 */
#include <sys/time.h>
#include <sys/timex.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/config.h"
#include "lib/log.h"
#include "tsa/extern.h"
#include "tests/unit/tsa/tsatest.h"

/* What the fake kernel answers: adjtimex's state, or -1 with EPERM. */
static struct {
	int	state;
	int	status;
	long	maxerror;	/* µs */
} kernel;

int
adjtimex(struct timex *tx)
{
	if (kernel.state == -1) {
		errno = EPERM;
		return -1;
	}
	tx->status = kernel.status;
	tx->maxerror = kernel.maxerror;
	tx->esterror = kernel.maxerror / 2;
	return kernel.state;
}

static void
kernel_says(int state, int status, long maxerror)
{
	kernel.state = state;
	kernel.status = status;
	kernel.maxerror = maxerror;
}

static EVP_PKEY *ca_key, *ec_key, *rsa512_key;
static X509 *ca_cert, *ec_cert, *rsa512_cert;
static FILE *log_out;

/*
 * The time and serial sources answer_query gives the responder: NULL for
 * the real ones; fake_now answers fake_tv.
 */
static int (*query_now)(struct timeval *);
static int (*query_serial)(unsigned char *, size_t);
static struct timeval fake_tv;

static int
fake_now(struct timeval *tv)
{
	*tv = fake_tv;
	return 0;
}

/* A random generator that fails. */
static int
failing_serial(unsigned char *buf, size_t len)
{
	return -1;
}

/* After a test that sets them, even one that failed half-way. */
static int
reset_sources(void **state)
{
	query_now = NULL;
	query_serial = NULL;
	return 0;
}


static int
setup(void **state)
{
	ca_key = EVP_EC_gen("P-256");
	ec_key = EVP_EC_gen("P-256");
	/* Too small for a SHA-512 DigestInfo in PKCS#1 v1.5: signing fails. */
	rsa512_key = EVP_RSA_gen(512);
	if (ca_key == NULL || ec_key == NULL || rsa512_key == NULL)
		return -1;
	ca_cert = make_cert(ca_key, "Test CA", 1, NULL, NULL, 0);
	ec_cert = make_cert(ec_key, "Test TSA", 2, ca_cert, ca_key, 1);
	rsa512_cert = make_cert(rsa512_key, "Test TSA RSA-512", 3, ca_cert,
	    ca_key, 1);
	/* The log, to count what respond.c says. */
	if ((log_out = tmpfile()) == NULL)
		return -1;
	log_init("test", LOGL_INFO, log_out);
	return 0;
}

static int
teardown(void **state)
{
	log_init("test", LOGL_INFO, NULL);
	fclose(log_out);
	X509_free(ca_cert);
	X509_free(ec_cert);
	X509_free(rsa512_cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(ec_key);
	EVP_PKEY_free(rsa512_key);
	return 0;
}

/* Lines of the log since the last call that hold needle. */
static int
log_lines(const char *needle)
{
	char line[2048];
	int n = 0;

	fflush(log_out);
	rewind(log_out);
	while (fgets(line, sizeof(line), log_out) != NULL)
		n += strstr(line, needle) != NULL;
	assert_int_equal(ftruncate(fileno(log_out), 0), 0);
	rewind(log_out);
	return n;
}

/* A responder for policy/tsa.conf's values but accuracy (secs, millis, micros). */
static struct tsa_responder *
make_responder(X509 *cert, EVP_PKEY *key, const char *signing,
    const char *secs, const char *millis, const char *micros, int allow_unsync)
{
	struct tsa_responder *r;
	struct config *policy;
	char err[256];

	setenv("PKI_TSA_POLICY", "2.999.1.2.1", 1);
	setenv("PKI_TSA_DIGESTS", "SHA256, SHA384, SHA512", 1);
	setenv("PKI_TSA_SIGNING_DIGEST", signing, 1);
	setenv("PKI_TSA_ACCURACY_SECONDS", secs, 1);
	setenv("PKI_TSA_ACCURACY_MILLIS", millis, 1);
	setenv("PKI_TSA_ACCURACY_MICROS", micros, 1);
	policy = config_load(NULL, err, sizeof(err));
	assert_non_null(policy);
	r = tsa_responder_new(policy, cert, 0, key, NULL, allow_unsync, err,
	    sizeof(err));
	if (r == NULL)
		fail_msg("tsa_responder_new: %s", err);
	config_free(policy);
	return r;
}

/* A DER TimeStampReq for a SHA-256 imprint, with a nonce. */
static unsigned char *
make_query(size_t *len)
{
	TS_REQ *req = TS_REQ_new();
	TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	ASN1_INTEGER *nonce = ASN1_INTEGER_new();
	unsigned char hash[32], *der = NULL;
	int n;

	memset(hash, 0x5c, sizeof(hash));
	X509_ALGOR_set_md(alg, EVP_sha256());
	TS_MSG_IMPRINT_set_algo(mi, alg);
	TS_MSG_IMPRINT_set_msg(mi, hash, sizeof(hash));
	TS_REQ_set_version(req, 1);
	TS_REQ_set_msg_imprint(req, mi);
	ASN1_INTEGER_set(nonce, 0x1234);
	TS_REQ_set_nonce(req, nonce);
	n = i2d_TS_REQ(req, &der);
	assert_true(n > 0);
	*len = (size_t)n;
	ASN1_INTEGER_free(nonce);
	X509_ALGOR_free(alg);
	TS_MSG_IMPRINT_free(mi);
	TS_REQ_free(req);
	return der;
}

/*
 * The answer to query's len octets: its status; *fail gets its failInfo
 * bits (0: none), *text its first statusString.
 */
static long
answer_query(struct tsa_responder *r, int fast, const unsigned char *query,
    size_t qlen, int *granted, unsigned long *fail, char *text, size_t textlen)
{
	unsigned char *reply = NULL;
	const unsigned char *p;
	const ASN1_BIT_STRING *bits;
	const STACK_OF(ASN1_UTF8STRING) *texts;
	struct tsa_record rec;
	TS_STATUS_INFO *si;
	TS_RESP *resp;
	size_t rlen;
	long status;
	int i;

	tsa_responder_test_hooks(r, query_now, query_serial, fast);
	assert_int_equal(tsa_respond(r, query, qlen, &reply, &rlen, granted,
	    &rec), 0);
	p = reply;
	resp = d2i_TS_RESP(NULL, &p, (long)rlen);
	assert_non_null(resp);
	assert_ptr_equal(p, reply + rlen);
	si = TS_RESP_get_status_info(resp);
	status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(si));
	*fail = 0;
	if ((bits = TS_STATUS_INFO_get0_failure_info(si)) != NULL)
		for (i = 0; i < 32; i++)
			if (ASN1_BIT_STRING_get_bit(bits, i))
				*fail |= 1UL << i;
	text[0] = '\0';
	if ((texts = TS_STATUS_INFO_get0_text(si)) != NULL &&
	    sk_ASN1_UTF8STRING_num(texts) > 0)
		snprintf(text, textlen, "%.*s",
		    ASN1_STRING_length(sk_ASN1_UTF8STRING_value(texts, 0)),
		    (const char *)ASN1_STRING_get0_data(
		    sk_ASN1_UTF8STRING_value(texts, 0)));
	/* Granted, and a token in it, or neither. */
	assert_int_equal(*granted, status == TS_STATUS_GRANTED);
	assert_int_equal(TS_RESP_get_token(resp) != NULL, *granted);
	TS_RESP_free(resp);
	OPENSSL_free(reply);
	return status;
}

/* answer_query for make_query's query. */
static long
answer(struct tsa_responder *r, int fast, int *granted, unsigned long *fail,
    char *text, size_t textlen)
{
	unsigned char *query;
	size_t qlen;
	long status;

	query = make_query(&qlen);
	status = answer_query(r, fast, query, qlen, granted, fail, text,
	    textlen);
	OPENSSL_free(query);
	return status;
}

#define FAIL_BIT(n)	(1UL << (n))

/* Granted on both paths (the direct one: fast 1; TS_RESP_CTX: fast 0). */
static void
expect_granted(struct tsa_responder *r, const char *why)
{
	unsigned long fail;
	char text[256];
	int fast, granted;

	for (fast = 0; fast <= 1; fast++) {
		if (answer(r, fast, &granted, &fail, text, sizeof(text)) !=
		    TS_STATUS_GRANTED)
			fail_msg("%s (fast %d): not granted: %s", why, fast, text);
	}
}

/*
 * Rejection with failInfo bit (and nothing else) on both paths, and the
 * statusString want_text unless NULL; no token built.
 */
static void
expect_refused(struct tsa_responder *r, const char *why, int bit,
    const char *want_text)
{
	unsigned long fail;
	char text[256];
	size_t direct = tsa_responder_direct_tokens(r);
	int fast, granted;

	for (fast = 0; fast <= 1; fast++) {
		if (answer(r, fast, &granted, &fail, text, sizeof(text)) !=
		    TS_STATUS_REJECTION || fail != FAIL_BIT(bit))
			fail_msg("%s (fast %d): want rejection, failInfo bit %d "
			    "only; got failInfo %#lx (%s)", why, fast, bit, fail,
			    text);
		if (want_text != NULL && strcmp(text, want_text) != 0)
			fail_msg("%s (fast %d): statusString \"%s\", want \"%s\"",
			    why, fast, text, want_text);
	}
	assert_int_equal(tsa_responder_direct_tokens(r), direct);
}

/* timeNotAvailable on both paths, and nothing else. */
static void
expect_no_time(struct tsa_responder *r, const char *why)
{
	expect_refused(r, why, TS_INFO_TIME_NOT_AVAILABLE, NULL);
}

/*
 * The review's case: ntpd stopped hours ago, the kernel still says
 * synchronized (STA_UNSYNC comes only at 16 s), maxerror has grown past
 * the 1 s tokens claim. The bound is the accuracy less one unit of
 * genTime's precision (3 digits, 1 ms, unless said otherwise): genTime is
 * the clock truncated, up to that much behind it.
 */
static void
test_clock_maxerror(void **state)
{
	struct tsa_responder *r;

	r = make_responder(ec_cert, ec_key, "SHA256", "1", "0", "0", 0);
	kernel_says(TIME_OK, STA_PLL, 250000);
	expect_granted(r, "maxerror 0.25 s, accuracy 1 s");
	kernel_says(TIME_OK, STA_PLL, 999000);
	expect_granted(r, "maxerror 0.999 s + 1 ms, accuracy 1 s");
	kernel_says(TIME_OK, STA_PLL, 999001);
	expect_no_time(r, "maxerror 0.999001 s + 1 ms, accuracy 1 s");
	kernel_says(TIME_OK, STA_PLL, 1000000);
	expect_no_time(r, "maxerror 1 s + 1 ms, accuracy 1 s");
	/* ntpd gone 8 h: 500 µs/s more, STA_UNSYNC only past 16 s. */
	kernel_says(TIME_OK, STA_PLL, 8 * 3600 * 500);
	expect_no_time(r, "maxerror 14.4 s, accuracy 1 s");
	kernel_says(TIME_OK, STA_PLL, 250000);
	expect_granted(r, "maxerror back to 0.25 s");
	tsa_responder_free(r);

	/* Accuracy in milliseconds and microseconds counts as well. */
	r = make_responder(ec_cert, ec_key, "SHA256", "0", "2", "500", 0);
	kernel_says(TIME_OK, 0, 1500);
	expect_granted(r, "maxerror 1.5 ms + 1 ms, accuracy 2.5 ms");
	kernel_says(TIME_OK, 0, 1501);
	expect_no_time(r, "maxerror 1.501 ms + 1 ms, accuracy 2.5 ms");
	tsa_responder_free(r);

	/* Microsecond precision: 1 us of truncation. */
	setenv("PKI_TSA_CLOCK_PRECISION_DIGITS", "6", 1);
	r = make_responder(ec_cert, ec_key, "SHA256", "0", "2", "500", 0);
	unsetenv("PKI_TSA_CLOCK_PRECISION_DIGITS");
	kernel_says(TIME_OK, 0, 2499);
	expect_granted(r, "maxerror 2.499 ms + 1 us, accuracy 2.5 ms");
	kernel_says(TIME_OK, 0, 2500);
	expect_no_time(r, "maxerror 2.5 ms + 1 us, accuracy 2.5 ms");
	tsa_responder_free(r);
}

/* What the kernel calls unsynchronized is refused whatever maxerror says. */
static void
test_clock_unsynchronized(void **state)
{
	struct tsa_responder *r;

	r = make_responder(ec_cert, ec_key, "SHA256", "1", "0", "0", 0);
	kernel_says(TIME_ERROR, STA_UNSYNC, 16000000);
	expect_no_time(r, "STA_UNSYNC, TIME_ERROR");
	kernel_says(TIME_OK, STA_UNSYNC, 1000);
	expect_no_time(r, "STA_UNSYNC");
	kernel_says(TIME_ERROR, 0, 1000);
	expect_no_time(r, "TIME_ERROR");
	kernel_says(-1, 0, 0);
	expect_no_time(r, "adjtimex failing");
	/* A leap second being inserted: the clock repeats 23:59:59. */
	kernel_says(TIME_OOP, 0, 1000);
	expect_no_time(r, "TIME_OOP");
	/* Announced (TIME_INS) but not begun, or over (TIME_WAIT): granted. */
	kernel_says(TIME_INS, 0, 1000);
	expect_granted(r, "TIME_INS");
	kernel_says(TIME_WAIT, 0, 1000);
	expect_granted(r, "TIME_WAIT");
	tsa_responder_free(r);

	/* No accuracy in the tokens: no bound to exceed, synchronized suffices. */
	r = make_responder(ec_cert, ec_key, "SHA256", "0", "0", "0", 0);
	kernel_says(TIME_OK, 0, 15000000);
	expect_granted(r, "no accuracy claimed, maxerror 15 s");
	kernel_says(TIME_ERROR, STA_UNSYNC, 16000000);
	expect_no_time(r, "no accuracy claimed, unsynchronized");
	tsa_responder_free(r);

	/* tsa.allow_unsynchronized_clock (the local stack): tokens all the same. */
	r = make_responder(ec_cert, ec_key, "SHA256", "1", "0", "0", 1);
	kernel_says(TIME_ERROR, STA_UNSYNC, 16000000);
	expect_granted(r, "override, unsynchronized");
	kernel_says(TIME_OK, 0, 5000000);
	expect_granted(r, "override, maxerror 5 s");
	tsa_responder_free(r);
}

/* What /health reports, and the log: once while it lasts, once when over. */
static void
test_clock_state_and_log(void **state)
{
	struct tsa_responder *r;
	struct tsa_clock clk;
	int i;

	r = make_responder(ec_cert, ec_key, "SHA256", "1", "0", "0", 0);
	log_lines("");
	kernel_says(TIME_OK, 0, 1500000);
	tsa_responder_clock(r, &clk);
	assert_int_equal(clk.synchronized, 1);
	assert_int_equal(clk.maxerror_us, 1500000);
	assert_int_equal(clk.accuracy_us, 1000000);
	assert_int_equal(clk.precision_us, 1000);
	assert_int_equal(clk.within_accuracy, 0);
	assert_int_equal(clk.usable, 0);
	for (i = 0; i < 5; i++)
		expect_no_time(r, "maxerror 1.5 s");
	assert_int_equal(log_lines("exceeds the accuracy tokens claim"), 1);
	kernel_says(TIME_OK, 0, 1000);
	tsa_responder_clock(r, &clk);
	assert_int_equal(clk.usable, 1);
	assert_int_equal(clk.within_accuracy, 1);
	expect_granted(r, "maxerror 1 ms");
	assert_int_equal(log_lines("the clock is usable again"), 1);

	kernel_says(TIME_ERROR, STA_UNSYNC, 16000000);
	tsa_responder_clock(r, &clk);
	assert_int_equal(clk.synchronized, 0);
	assert_int_equal(clk.usable, 0);
	expect_no_time(r, "unsynchronized");
	assert_int_equal(log_lines("not synchronized"), 1);
	kernel_says(-1, 0, 0);
	tsa_responder_clock(r, &clk);
	assert_int_equal(clk.maxerror_us, -1);
	assert_int_equal(clk.usable, 0);
	tsa_responder_free(r);

	/* The override: reported as it is, never logged (main.c warns once). */
	r = make_responder(ec_cert, ec_key, "SHA256", "1", "0", "0", 1);
	kernel_says(TIME_OK, 0, 3000000);
	tsa_responder_clock(r, &clk);
	assert_int_equal(clk.usable, 0);
	expect_granted(r, "override");
	assert_int_equal(log_lines("tsa:"), 0);
	tsa_responder_free(r);
}

/*
 * The signature fails (on the direct path, then in TS_RESP_CTX, which
 * answers rejection without a failInfo): the client gets systemFailure.
 */
static void
test_signing_fails(void **state)
{
	struct tsa_responder *r;
	unsigned long fail;
	char text[256];
	int fast, granted;

	kernel_says(TIME_OK, 0, 1000);
	r = make_responder(rsa512_cert, rsa512_key, "SHA512", "1", "0", "0", 0);
	for (fast = 0; fast <= 1; fast++) {
		assert_int_equal(answer(r, fast, &granted, &fail, text,
		    sizeof(text)), TS_STATUS_REJECTION);
		if (fail != FAIL_BIT(TSA_FAIL_SYSTEM_FAILURE))
			fail_msg("signing failed (fast %d): want failInfo "
			    "systemFailure only, got %#lx (%s)", fast, fail, text);
		assert_string_equal(text, TSA_TEXT_SYSTEM_FAILURE);
	}
	assert_int_equal(tsa_responder_direct_tokens(r), 0);
	tsa_responder_free(r);
}

/*
 * RFC 3161 §2.4.1 and README: a query that is BER but not DER gets
 * rejection, badDataFormat, on both paths; the same content in DER is
 * granted. The variants re-frame make_query's TimeStampReq (short outer
 * length): indefinite and long-form lengths, certReq FALSE sent though it
 * is the DEFAULT, certReq TRUE as 0x01 instead of 0xFF, extensions [0]
 * holding none.
 */
static void
test_ber_refused(void **state)
{
	static const struct {
		const char	*what;
		int		 hdr;		/* 0 short, 1 long form, 2 indefinite */
		unsigned char	 cert_req;	/* appended BOOLEAN, or 0xAA: none */
		int		 ext_empty;	/* appended extensions [0] of none */
		int		 ok;
	} v[] = {
		{ "DER as made", 0, 0xAA, 0, 1 },
		{ "DER with certReq TRUE", 0, 0xFF, 0, 1 },
		{ "indefinite length", 2, 0xAA, 0, 0 },
		{ "long-form length", 1, 0xAA, 0, 0 },
		{ "explicit certReq FALSE (DEFAULT)", 0, 0x00, 0, 0 },
		{ "certReq TRUE as 0x01", 0, 0x01, 0, 0 },
		/* Extensions ::= SEQUENCE SIZE (1..MAX): a0 00 is no DER of it. */
		{ "empty extensions", 0, 0xAA, 1, 0 },
		{ "certReq TRUE, empty extensions", 0, 0xFF, 1, 0 },
	};
	struct tsa_responder *r;
	unsigned char *der, q[512];
	unsigned long fail;
	char text[256];
	size_t dlen, clen, qlen, i;
	int fast, granted;
	long status;

	kernel_says(TIME_OK, 0, 1000);
	r = make_responder(ec_cert, ec_key, "SHA256", "1", "0", "0", 0);
	der = make_query(&dlen);
	assert_int_equal(der[0], 0x30);
	assert_true(der[1] < 0x7d && (size_t)der[1] + 2 == dlen);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		clen = dlen - 2 + (v[i].cert_req != 0xAA ? 3 : 0) +
		    (v[i].ext_empty ? 2 : 0);
		qlen = 0;
		q[qlen++] = 0x30;
		if (v[i].hdr == 0)
			q[qlen++] = (unsigned char)clen;
		else if (v[i].hdr == 1) {
			q[qlen++] = 0x81;
			q[qlen++] = (unsigned char)clen;
		} else
			q[qlen++] = 0x80;
		memcpy(q + qlen, der + 2, dlen - 2);
		qlen += dlen - 2;
		if (v[i].cert_req != 0xAA) {
			q[qlen++] = 0x01;
			q[qlen++] = 0x01;
			q[qlen++] = v[i].cert_req;
		}
		if (v[i].ext_empty) {
			q[qlen++] = 0xA0;
			q[qlen++] = 0x00;
		}
		if (v[i].hdr == 2) {
			q[qlen++] = 0x00;
			q[qlen++] = 0x00;
		}
		for (fast = 0; fast <= 1; fast++) {
			status = answer_query(r, fast, q, qlen, &granted, &fail,
			    text, sizeof(text));
			if (v[i].ok && status != TS_STATUS_GRANTED)
				fail_msg("%s (fast %d): not granted: %s",
				    v[i].what, fast, text);
			if (!v[i].ok && (status != TS_STATUS_REJECTION ||
			    fail != FAIL_BIT(TS_INFO_BAD_DATA_FORMAT)))
				fail_msg("%s (fast %d): want rejection, "
				    "badDataFormat only; got status %ld, "
				    "failInfo %#lx (%s)", v[i].what, fast,
				    status, fail, text);
		}
	}
	OPENSSL_free(der);
	tsa_responder_free(r);
}

/* tsa_responder_new for a precision and accuracy: NULL with err, or the responder. */
static struct tsa_responder *
try_precision(const char *precision, const char *secs, const char *millis,
    const char *micros, char *err, size_t errlen)
{
	struct tsa_responder *r;
	struct config *policy;

	setenv("PKI_TSA_CLOCK_PRECISION_DIGITS", precision, 1);
	setenv("PKI_TSA_ACCURACY_SECONDS", secs, 1);
	setenv("PKI_TSA_ACCURACY_MILLIS", millis, 1);
	setenv("PKI_TSA_ACCURACY_MICROS", micros, 1);
	policy = config_load(NULL, err, errlen);
	assert_non_null(policy);
	err[0] = '\0';
	r = tsa_responder_new(policy, ec_cert, 0, ec_key, NULL, 0, err, errlen);
	config_free(policy);
	unsetenv("PKI_TSA_CLOCK_PRECISION_DIGITS");
	return r;
}

/*
 * RFC 3161 §2.3: a certificate without the one critical extendedKeyUsage
 * id-kp-timeStamping is refused at tsa_responder_new, saying so; until
 * 2026-12-07 the message blamed the key ("does not match"), which sent
 * the operator after the wrong thing. A key of another certificate is
 * still called that.
 */
static void
test_cert_not_for_timestamping(void **state)
{
	struct tsa_responder *r;
	struct config *policy;
	X509 *ca_like;
	char err[512];

	setenv("PKI_TSA_POLICY", "2.999.1.2.1", 1);
	assert_non_null(policy = config_load(NULL, err, sizeof(err)));
	/* basicConstraints CA:TRUE, no extendedKeyUsage. */
	ca_like = make_cert(ec_key, "Not a TSA", 7, ca_cert, ca_key, 0);
	err[0] = '\0';
	r = tsa_responder_new(policy, ca_like, 0, ec_key, NULL, 0, err,
	    sizeof(err));
	assert_null(r);
	if (strstr(err, "id-kp-timeStamping") == NULL ||
	    strstr(err, "does not match") != NULL)
		fail_msg("a certificate without timeStamping: \"%s\"", err);
	err[0] = '\0';
	r = tsa_responder_new(policy, ec_cert, 0, rsa512_key, NULL, 0, err,
	    sizeof(err));
	assert_null(r);
	if (strstr(err, "does not match") == NULL)
		fail_msg("another certificate's key: \"%s\"", err);
	X509_free(ca_like);
	config_free(policy);
}

/*
 * tsad's signer signs with SHA-256, SHA-384 or SHA-512 only: another
 * tsa.signing_digest is refused at start (tsa_policy_check) and by
 * tsa_responder_new, naming the setting. Until 2026-12-07 SHA1 or SHA224
 * were taken, and every token then refused by the signer (systemFailure).
 */
static void
test_signing_digest(void **state)
{
	static const struct {
		const char	*name;
		int		 ok;
	} md[] = {
		{ "SHA256", 1 }, { "SHA384", 1 }, { "SHA512", 1 },
		{ "sha256", 1 }, { "SHA1", 0 }, { "SHA224", 0 }, { "MD5", 0 },
		{ "SHA3-256", 0 }, { "nonsense", 0 },
	};
	struct tsa_responder *r;
	struct config *policy;
	char err[512];
	size_t i;

	setenv("PKI_TSA_POLICY", "2.999.1.2.1", 1);
	setenv("PKI_TSA_ACCURACY_SECONDS", "1", 1);
	setenv("PKI_TSA_ACCURACY_MILLIS", "0", 1);
	setenv("PKI_TSA_ACCURACY_MICROS", "0", 1);
	setenv("PKI_TSA_CLOCK_PRECISION_DIGITS", "3", 1);
	for (i = 0; i < sizeof(md) / sizeof(md[0]); i++) {
		setenv("PKI_TSA_SIGNING_DIGEST", md[i].name, 1);
		assert_non_null(policy = config_load(NULL, err, sizeof(err)));
		err[0] = '\0';
		r = tsa_responder_new(policy, ec_cert, 0, ec_key, NULL, 0, err,
		    sizeof(err));
		if ((r != NULL) != md[i].ok)
			fail_msg("tsa.signing_digest = %s: %s", md[i].name,
			    r != NULL ? "accepted" : err);
		if (!md[i].ok && strstr(err, "tsa.signing_digest") == NULL)
			fail_msg("tsa.signing_digest = %s: \"%s\"", md[i].name,
			    err);
		tsa_responder_free(r);
		err[0] = '\0';
		if ((tsa_policy_check(policy, err, sizeof(err)) == 0) !=
		    md[i].ok || (!md[i].ok && strstr(err,
		    "tsa.signing_digest") == NULL))
			fail_msg("tsa_policy_check, tsa.signing_digest = %s: "
			    "\"%s\"", md[i].name, err);
		config_free(policy);
	}
	setenv("PKI_TSA_SIGNING_DIGEST", "SHA256", 1);
}

/*
 * RFC 3161 §2.4.2: genTime truncated to 10^-precision s may be off by up
 * to that much; a policy where that reaches the accuracy it claims leaves
 * nothing for the clock's error (tokens need maxerror + unit <= accuracy)
 * and is refused, naming the settings. Below it, or without an accuracy,
 * it is not.
 */
static void
test_precision_over_accuracy(void **state)
{
	static const struct {
		const char *prec, *secs, *millis, *micros;
		int ok;
	} pc[] = {
		{ "0", "0", "100", "0", 0 },	/* the review's: 1 s vs 100 ms */
		{ "0", "0", "999", "999", 0 },
		/* As large as the accuracy: nothing left for the clock. */
		{ "0", "1", "0", "0", 0 },	/* 1 s vs 1 s */
		{ "0", "1", "0", "1", 1 },
		{ "1", "0", "100", "0", 0 },
		{ "1", "0", "100", "1", 1 },
		{ "2", "0", "9", "999", 0 },
		{ "3", "0", "0", "250", 0 },	/* 1 ms vs 250 us */
		{ "4", "0", "0", "250", 1 },
		{ "6", "0", "0", "1", 0 },
		{ "6", "0", "0", "2", 1 },
		{ "0", "0", "0", "0", 1 },	/* no accuracy claimed */
	};
	struct tsa_responder *r;
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(pc) / sizeof(pc[0]); i++) {
		r = try_precision(pc[i].prec, pc[i].secs, pc[i].millis,
		    pc[i].micros, err, sizeof(err));
		if (pc[i].ok && r == NULL)
			fail_msg("precision %s, accuracy %s s %s ms %s us: "
			    "refused: %s", pc[i].prec, pc[i].secs, pc[i].millis,
			    pc[i].micros, err);
		if (!pc[i].ok && r != NULL)
			fail_msg("precision %s, accuracy %s s %s ms %s us: "
			    "accepted", pc[i].prec, pc[i].secs, pc[i].millis,
			    pc[i].micros);
		if (!pc[i].ok && (strstr(err, "tsa.clock_precision_digits") ==
		    NULL || strstr(err, "tsa.accuracy_seconds") == NULL))
			fail_msg("the refusal does not name the settings: %s",
			    err);
		tsa_responder_free(r);
	}
}

/*
 * RFC 3161 §2.4.2: a serial number that cannot be made (the random
 * generator failing) is our failure: systemFailure on both paths (the
 * direct one falls back to TS_RESP_CTX, whose serial fails too), not
 * addInfoNotAvailable, which is about what a query asked for. Logged once.
 */
static void
test_serial_fails(void **state)
{
	struct tsa_responder *r;

	kernel_says(TIME_OK, 0, 1000);
	r = make_responder(ec_cert, ec_key, "SHA256", "1", "0", "0", 0);
	log_lines("");
	query_serial = failing_serial;
	expect_refused(r, "no serial", TSA_FAIL_SYSTEM_FAILURE,
	    "Error during serial number generation.");
	expect_refused(r, "no serial, again", TSA_FAIL_SYSTEM_FAILURE, NULL);
	query_serial = NULL;
	assert_int_equal(log_lines("no serial number could be made"), 1);
	expect_granted(r, "the random generator back");
	tsa_responder_free(r);
}

/*
 * A TSA certificate for ec_key valid from nb to na, with a
 * privateKeyUsagePeriod when pku_nb or pku_na is not 0.
 */
static X509 *
tsa_cert_at(time_t nb, time_t na, time_t pku_nb, time_t pku_na)
{
	return make_cert_at(ec_key, "Test TSA", 4, ca_cert, ca_key, 1, nb, na,
	    pku_nb, pku_na);
}

/* systemFailure for genTime outside the certificate's window, on both paths. */
static void
expect_cert_refused(struct tsa_responder *r, const char *why)
{
	expect_refused(r, why, TSA_FAIL_SYSTEM_FAILURE, TSA_TEXT_CERT_INVALID);
}

/*
 * RFC 5280 §4.1.2.5: a token whose genTime is outside its certificate's
 * validity is granted but fails verification; tsad answers systemFailure
 * instead, logs it (once while it lasts, and its end), and /health's
 * state says the certificate is not valid. The window is narrowed by a
 * privateKeyUsagePeriod (§4.2.1.4).
 */
static void
test_cert_validity(void **state)
{
	struct tsa_responder *r;
	struct tsa_cert_state cs;
	time_t now = time(NULL), from, until;
	X509 *x;
	char err[256];

	kernel_says(TIME_OK, 0, 1000);
	log_lines("");

	/* Expired an hour ago. */
	x = tsa_cert_at(now - 2 * 86400, now - 3600, 0, 0);
	r = make_responder(x, ec_key, "SHA256", "1", "0", "0", 0);
	expect_cert_refused(r, "expired");
	expect_cert_refused(r, "expired, again");
	tsa_responder_cert(r, &cs);
	assert_int_equal(cs.valid, 0);
	assert_true(cs.seconds_left <= -3600 && cs.seconds_left > -3700);
	assert_int_equal(log_lines("outside the TSA certificate's validity"), 1);
	tsa_responder_free(r);
	X509_free(x);

	/* Not valid before an hour from now; the override changes nothing. */
	x = tsa_cert_at(now + 3600, now + 2 * 86400, 0, 0);
	r = make_responder(x, ec_key, "SHA256", "1", "0", "0", 1);
	expect_cert_refused(r, "not yet valid");
	tsa_responder_cert(r, &cs);
	assert_int_equal(cs.valid, 0);
	assert_true(cs.seconds_left > 86400);
	tsa_responder_free(r);
	X509_free(x);

	/* Its ends, both included, to the microsecond (genTime is fake_tv). */
	x = tsa_cert_at(now - 86400, now + 86400, 0, 0);
	r = make_responder(x, ec_key, "SHA256", "1", "0", "0", 0);
	query_now = fake_now;
	fake_tv.tv_sec = now + 86400;
	fake_tv.tv_usec = 0;
	expect_granted(r, "at notAfter");
	tsa_responder_cert(r, &cs);
	assert_int_equal(cs.valid, 1);
	assert_int_equal(cs.seconds_left, 0);
	log_lines("");
	fake_tv.tv_usec = 1;
	expect_cert_refused(r, "1 us after notAfter");
	fake_tv.tv_sec = now + 86401;
	fake_tv.tv_usec = 0;
	expect_cert_refused(r, "1 s after notAfter");
	fake_tv.tv_sec = now - 86400 - 1;
	fake_tv.tv_usec = 999999;
	expect_cert_refused(r, "1 us before notBefore");
	tsa_responder_cert(r, &cs);
	assert_int_equal(cs.valid, 0);
	assert_int_equal(log_lines("outside the TSA certificate's validity"), 1);
	fake_tv.tv_sec = now - 86400;
	fake_tv.tv_usec = 0;
	expect_granted(r, "at notBefore");
	assert_int_equal(log_lines("is within the TSA certificate's validity"),
	    1);
	query_now = NULL;
	tsa_responder_free(r);
	X509_free(x);

	/* The key's privateKeyUsagePeriod ended before the certificate. */
	x = tsa_cert_at(now - 86400, now + 86400, now - 86400, now - 60);
	assert_int_equal(tsa_cert_window(x, &from, &until, err, sizeof(err)), 0);
	assert_int_equal(from, now - 86400);
	assert_int_equal(until, now - 60);
	r = make_responder(x, ec_key, "SHA256", "1", "0", "0", 0);
	expect_cert_refused(r, "privateKeyUsagePeriod over");
	tsa_responder_free(r);
	X509_free(x);

	/* ... or begins after it (notAfter absent). */
	x = tsa_cert_at(now - 86400, now + 86400, now + 60, 0);
	assert_int_equal(tsa_cert_window(x, &from, &until, err, sizeof(err)), 0);
	assert_int_equal(from, now + 60);
	assert_int_equal(until, now + 86400);
	r = make_responder(x, ec_key, "SHA256", "1", "0", "0", 0);
	expect_cert_refused(r, "privateKeyUsagePeriod not begun");
	tsa_responder_free(r);
	X509_free(x);

	/* A period that does not meet the validity is refused at start. */
	x = tsa_cert_at(now - 86400, now + 86400, now + 2 * 86400, 0);
	assert_int_equal(tsa_cert_window(x, &from, &until, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "do not overlap"));
	X509_free(x);

	/* Inside both: granted. */
	x = tsa_cert_at(now - 86400, now + 86400, now - 60, now + 60);
	r = make_responder(x, ec_key, "SHA256", "1", "0", "0", 0);
	expect_granted(r, "within the privateKeyUsagePeriod");
	tsa_responder_free(r);
	X509_free(x);
	log_lines("");
}

/* tsa_respond_rejection: the DER by hand, and OpenSSL's reading of it. */
static void
test_rejection_der(void **state)
{
	static const unsigned char want[] = {
		0x30, 0x12,			/* TimeStampResp */
		0x30, 0x10,			/* PKIStatusInfo */
		0x02, 0x01, 0x02,		/* rejection */
		0x30, 0x04,			/* PKIFreeText */
		0x0c, 0x02, 'n', 'o',
		0x03, 0x05, 0x06, 0x00, 0x00, 0x00, 0x40, /* bit 25 */
	};
	static const unsigned int bits[] = { 0, 2, 5, 7, 8, 14, 15, 16, 17, 25 };
	unsigned char *der;
	const unsigned char *p;
	const ASN1_BIT_STRING *fi;
	TS_STATUS_INFO *si;
	TS_RESP *resp;
	size_t len, i;
	int b;

	assert_int_equal(tsa_respond_rejection(TSA_FAIL_SYSTEM_FAILURE, "no",
	    &der, &len), 0);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(der, want, len);
	OPENSSL_free(der);

	for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		assert_int_equal(tsa_respond_rejection(bits[i],
		    "The token record queue is full; try again later.", &der,
		    &len), 0);
		p = der;
		assert_non_null(resp = d2i_TS_RESP(NULL, &p, (long)len));
		assert_ptr_equal(p, der + len);
		si = TS_RESP_get_status_info(resp);
		assert_int_equal(ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(si)),
		    TS_STATUS_REJECTION);
		assert_null(TS_RESP_get_token(resp));
		assert_non_null(fi = TS_STATUS_INFO_get0_failure_info(si));
		for (b = 0; b < 40; b++)
			assert_int_equal(ASN1_BIT_STRING_get_bit(fi, b),
			    (unsigned int)b == bits[i]);
		/* DER: no trailing zero octet (X.690 §11.2.2). */
		assert_int_equal(ASN1_STRING_length(fi), (int)bits[i] / 8 + 1);
		TS_RESP_free(resp);
		OPENSSL_free(der);
	}
	assert_int_equal(tsa_respond_rejection(TSA_FAIL_MAX + 1, "x", &der,
	    &len), -1);
	assert_null(der);
	assert_int_equal(tsa_respond_rejection(TSA_FAIL_SYSTEM_FAILURE, NULL,
	    &der, &len), -1);
}

static void
test_log_rate(void **state)
{
	struct tsa_lograte lr;
	unsigned long more = 99;
	int i;

	memset(&lr, 0, sizeof(lr));
	assert_int_equal(tsa_log_over(&lr), 0);
	assert_int_equal(tsa_log_due(&lr, &more), 1);
	assert_int_equal(more, 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(tsa_log_due(&lr, &more), 0);
	/* Due again once the interval is over, with what it did not say. */
	lr.next_ms = 0;
	assert_int_equal(tsa_log_due(&lr, &more), 1);
	assert_int_equal(more, 3);
	assert_int_equal(tsa_log_over(&lr), 1);
	assert_int_equal(tsa_log_over(&lr), 0);
	assert_int_equal(tsa_log_due(&lr, &more), 1);
	assert_int_equal(more, 0);
}

/*
 * tsa.other_policies: eight OIDs of 63 characters, ", " apart (518
 * characters), are accepted; a list longer than the responder reads (here
 * eight short OIDs padded past 1,023 characters) is refused by name. Until
 * 2026-12-07 the list was cut at 511 characters: the OIDs past the cut
 * were silently dropped, or the one cut in two became another OID.
 */
static void
test_other_policies_length(void **state)
{
	struct tsa_responder *r;
	struct config *policy;
	char list[2048], oid[96], err[512];
	size_t n = 0;
	int i;

	(void)state;
	setenv("PKI_TSA_POLICY", "2.999.1.2.1", 1);
	setenv("PKI_TSA_SIGNING_DIGEST", "SHA256", 1);
	setenv("PKI_TSA_ACCURACY_SECONDS", "1", 1);
	setenv("PKI_TSA_ACCURACY_MILLIS", "0", 1);
	setenv("PKI_TSA_ACCURACY_MICROS", "0", 1);
	setenv("PKI_TSA_CLOCK_PRECISION_DIGITS", "3", 1);
	for (i = 0; i < 8; i++) {
		/* "2.999.1.2.<i>." then digits up to 63 characters. */
		snprintf(oid, sizeof(oid), "2.999.1.2.%d.%s", 10 + i,
		    "12345678901234567890123456789012345678901234567890");
		assert_int_equal(strlen(oid), 63);
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
		    i > 0 ? ", " : "", oid);
	}
	setenv("PKI_TSA_OTHER_POLICIES", list, 1);
	assert_non_null(policy = config_load(NULL, err, sizeof(err)));
	r = tsa_responder_new(policy, ec_cert, 0, ec_key, NULL, 0, err,
	    sizeof(err));
	if (r == NULL)
		fail_msg("eight 63-character OIDs refused: %s", err);
	tsa_responder_free(r);
	config_free(policy);

	for (n = 0, i = 0; i < 8; i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n,
		    "2.999.1.3.%d%150s", i, "");
	setenv("PKI_TSA_OTHER_POLICIES", list, 1);
	assert_non_null(policy = config_load(NULL, err, sizeof(err)));
	err[0] = '\0';
	r = tsa_responder_new(policy, ec_cert, 0, ec_key, NULL, 0, err,
	    sizeof(err));
	if (r != NULL || strstr(err, "tsa.other_policies: over") == NULL)
		fail_msg("a list of %zu characters: %s", n, r != NULL ?
		    "accepted" : err);
	tsa_responder_free(r);
	config_free(policy);
	unsetenv("PKI_TSA_OTHER_POLICIES");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clock_maxerror),
		cmocka_unit_test(test_clock_unsynchronized),
		cmocka_unit_test(test_clock_state_and_log),
		cmocka_unit_test(test_signing_fails),
		cmocka_unit_test_teardown(test_serial_fails, reset_sources),
		cmocka_unit_test_teardown(test_cert_validity, reset_sources),
		cmocka_unit_test(test_precision_over_accuracy),
		cmocka_unit_test(test_cert_not_for_timestamping),
		cmocka_unit_test(test_signing_digest),
		cmocka_unit_test(test_ber_refused),
		cmocka_unit_test(test_rejection_der),
		cmocka_unit_test(test_log_rate),
		cmocka_unit_test(test_other_policies_length),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
