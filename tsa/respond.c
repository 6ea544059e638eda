/*
 * Answering time-stamp queries (RFC 3161, RFC 5816): policy, digests,
 * accuracy and ordering come from policy/tsa.conf; we add the strict parsing
 * of the query, 126-bit random serials and a genTime that is refused while
 * the clock is unsynchronized or its error bound, plus genTime's
 * truncation, exceeds the policy's accuracy (tsa_responder_clock).
 *
 * genTime must also lie within the TSA certificate's validity (and its
 * key's privateKeyUsagePeriod): outside it a token would be granted but
 * fail verification, so the query gets systemFailure (tsa_cert_check).
 *
 * A query that will certainly be granted (version 1, an accepted imprint
 * digest of the right length without parameters, an offered policy or none,
 * no extensions, the clock usable) gets its token from tsa/token.c, which
 * writes the DER directly. Every other query, and any token the direct path
 * fails to build, goes through OpenSSL's TS_RESP_CTX, which writes the
 * rejections (badAlg, unacceptedPolicy, badDataFormat, timeNotAvailable,
 * unacceptedExtension, ...) and would write the same granted token. What
 * TS_RESP_CTX cannot make (a signature that fails) becomes a rejection with
 * failInfo systemFailure (tsa_respond_rejection), never one without a
 * failInfo.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/ts.h>
#include <openssl/x509v3.h>

#include "lib/config.h"
#include "lib/der.h"
#include "lib/log.h"
#include "lib/sigdigest.h"
#include "lib/timeutil.h"
#include "tsa/extern.h"

#define TSA_SERIAL_BYTES	16	/* 126 random bits, always 16 bytes */
#define TSA_MAX_POLICIES	8

#define TSA_MAX_DIGESTS		3	/* SHA-256, SHA-384, SHA-512 */

/* Identifier octets lib/der.h does not name. */
#define TSA_DER_BIT_STRING	0x03
#define TSA_DER_UTF8STRING	0x0c

/* A policy we issue under: the default first, then the other accepted ones. */
struct tsa_policy {
	ASN1_OBJECT	*oid;
	unsigned char	 der[64];	/* OBJECT IDENTIFIER, with header */
	size_t		 derlen;
	char		 text[64];	/* dotted, for the record */
};

/* An accepted message-imprint digest. */
struct tsa_digest {
	int		 nid;
	size_t		 size;
	char		 text[64];	/* dotted OID, for the record */
};

struct tsa_responder {
	TS_RESP_CTX		*ctx;
	struct tsa_token	*token;		/* the direct path for granted tokens */
	long long		 cert_id;	/* the certificate's, for records */
	int			 allow_unsync;
	long long		 accuracy_us;	/* what tokens claim; 0: nothing */
	unsigned int		 precision;	/* genTime fraction digits */
	long long		 unit_us;	/* 10^-precision s: genTime's truncation */
	struct tsa_lograte	 clock_log;	/* the clock unusable */
	time_t			 valid_from;	/* tsa_cert_window, at start */
	time_t			 valid_until;
	struct tsa_lograte	 cert_log;	/* genTime outside them */
	struct tsa_lograte	 serial_log;	/* no serial number */
	int			 fast;
	struct tsa_policy	 policies[1 + TSA_MAX_POLICIES];
	int			 npolicies;
	size_t			 direct;	/* tokens built by tsa/token.c */
	struct tsa_digest	 digests[TSA_MAX_DIGESTS];
	int			 ndigests;
	int			(*now)(struct timeval *);
	int			(*serial)(unsigned char *, size_t);
};

static int
tsa_gettimeofday(struct timeval *tv)
{
	return gettimeofday(tv, NULL);
}

/*
 * Serials unique across every instance sharing the database without any
 * coordination: 126 random bits (top bit clear for a positive INTEGER, next
 * bit set for a fixed length); a collision is as likely as guessing a key,
 * and the tsa_token primary key would still catch one.
 */
static int
tsa_random_serial(unsigned char *buf, size_t len)
{
	if (len != TSA_SERIAL_BYTES || RAND_bytes(buf, (int)len) != 1)
		return -1;
	buf[0] = (unsigned char)((buf[0] & 0x3f) | 0x40);
	return 0;
}

int
tsa_log_due(struct tsa_lograte *lr, unsigned long *suppressed)
{
	struct timespec now;
	long long ms;

	*suppressed = 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	if (lr->active && ms < lr->next_ms) {
		lr->suppressed++;
		return 0;
	}
	*suppressed = lr->suppressed;
	lr->suppressed = 0;
	lr->active = 1;
	lr->next_ms = ms + TSA_LOG_INTERVAL_S * 1000LL;
	return 1;
}

int
tsa_log_over(struct tsa_lograte *lr)
{
	int was = lr->active;

	memset(lr, 0, sizeof(*lr));
	return was;
}

/*
 * RFC 3161 §2.4.2: accuracy bounds the deviation of genTime from UTC. The
 * kernel keeps its own bound, maxerror, which the NTP daemon sets and which
 * grows by 500 µs every second it does not (MAXFREQ); the kernel sets
 * STA_UNSYNC only once it passes 16 s (NTP_PHASE_LIMIT), some 9 hours
 * after the daemon stopped. Until then the clock reads "synchronized"
 * while a token claiming the policy's 1 s could be 16 s off: so the bound
 * is checked too. genTime is moreover the clock truncated to the policy's
 * precision, up to one unit (10^-digits s) behind it: the bound plus that
 * unit must stay within the accuracy. adjtimex with modes 0 only reads.
 */
void
tsa_responder_clock(struct tsa_responder *r, struct tsa_clock *clk)
{
	struct timex tx;
	unsigned long more;
	int state, error;

	memset(clk, 0, sizeof(*clk));
	memset(&tx, 0, sizeof(tx));
	state = adjtimex(&tx);
	error = errno;
	clk->accuracy_us = r->accuracy_us;
	clk->precision_us = r->unit_us;
	clk->maxerror_us = state == -1 ? -1 : (long long)tx.maxerror;
	clk->leap = state == TIME_OOP;
	clk->synchronized = state != -1 && state != TIME_ERROR &&
	    state != TIME_OOP && (tx.status & STA_UNSYNC) == 0;
	/* No accuracy in the tokens (0 s, 0 ms, 0 µs): none to exceed. */
	clk->within_accuracy = r->accuracy_us == 0 ||
	    (clk->maxerror_us >= 0 &&
	    clk->maxerror_us + r->unit_us <= r->accuracy_us);
	clk->usable = clk->synchronized && clk->within_accuracy;
	if (r->allow_unsync)
		return;		/* said once at start (tsa/main.c) */
	if (clk->usable) {
		if (tsa_log_over(&r->clock_log))
			log_info("tsa: the clock is usable again (kernel maxerror "
			    "%lld us, policy accuracy %lld us): tokens are "
			    "issued", clk->maxerror_us, clk->accuracy_us);
		return;
	}
	if (!tsa_log_due(&r->clock_log, &more))
		return;
	if (state == -1)
		log_warn("tsa: adjtimex: %s: the clock's state is unknown: "
		    "queries get timeNotAvailable (RFC 3161 §2.4.2; %lu more "
		    "such log lines suppressed)", strerror(error), more);
	else if (clk->leap)
		log_warn("tsa: a leap second is being inserted (adjtimex "
		    "state TIME_OOP): the clock repeats a second, so queries "
		    "get timeNotAvailable until it ends (RFC 3161 §2.4.2; %lu "
		    "more such log lines suppressed)", more);
	else if (!clk->synchronized)
		log_warn("tsa: the kernel says the clock is not synchronized "
		    "(adjtimex state %d, maxerror %lld us): queries get "
		    "timeNotAvailable (RFC 3161 §2.4.2; %lu more such log "
		    "lines suppressed)", state, clk->maxerror_us, more);
	else
		log_warn("tsa: the kernel's bound on the clock's error "
		    "(maxerror %lld us) plus genTime's truncation (%lld us) "
		    "exceeds the accuracy tokens claim (%lld us, "
		    "policy/tsa.conf): queries get timeNotAvailable (RFC 3161 "
		    "§2.4.2; is the NTP daemon running? %lu more such log "
		    "lines suppressed)", clk->maxerror_us, clk->precision_us,
		    clk->accuracy_us, more);
}

int
tsa_cert_window(X509 *cert, time_t *from, time_t *until, char *err,
    size_t errlen)
{
	PKEY_USAGE_PERIOD *pup = NULL;
	int64_t nb, na;
	int crit, rc = -1;

	*from = 0;
	*until = 0;
	if (time_from_asn1(X509_get0_notBefore(cert), &nb) == -1 ||
	    time_from_asn1(X509_get0_notAfter(cert), &na) == -1) {
		snprintf(err, errlen, "the TSA certificate's validity cannot be "
		    "read");
		goto out;
	}
	*from = (time_t)nb;
	*until = (time_t)na;
	/*
	 * RFC 5280 §4.2.1.4: privateKeyUsagePeriod (deprecated, but a CA may
	 * still set it) bounds when the key may sign, and a verifier that
	 * honours it rejects a token outside it. crit is -1 when it is
	 * absent; several, or one that does not decode, are refused.
	 */
	if ((pup = X509_get_ext_d2i(cert, NID_private_key_usage_period, &crit,
	    NULL)) == NULL && crit != -1) {
		snprintf(err, errlen, "the TSA certificate's "
		    "privateKeyUsagePeriod cannot be read (RFC 5280 §4.2.1.4)");
		goto out;
	}
	if (pup != NULL && ((pup->notBefore != NULL &&
	    time_from_asn1(pup->notBefore, &nb) == -1) ||
	    (pup->notAfter != NULL && time_from_asn1(pup->notAfter, &na) == -1))) {
		snprintf(err, errlen, "the TSA certificate's "
		    "privateKeyUsagePeriod has a time that cannot be read");
		goto out;
	}
	if (nb > *from)
		*from = (time_t)nb;
	if (na < *until)
		*until = (time_t)na;
	if (*from > *until) {
		snprintf(err, errlen, "the TSA certificate's validity and its "
		    "privateKeyUsagePeriod do not overlap");
		goto out;
	}
	rc = 0;
out:
	if (rc == -1)
		*from = *until = 0;
	PKEY_USAGE_PERIOD_free(pup);
	return rc;
}

/*
 * RFC 5280 §4.1.2.5: a certificate is valid from notBefore through
 * notAfter, both included (and its key within its privateKeyUsagePeriod:
 * tsa_cert_window). genTime is tv truncated, never later than tv and never
 * before its second, so tv itself is judged, to the microsecond. 1 inside.
 */
static int
tsa_cert_covers(const struct tsa_responder *r, const struct timeval *tv)
{
	return tv->tv_sec >= r->valid_from && (tv->tv_sec < r->valid_until ||
	    (tv->tv_sec == r->valid_until && tv->tv_usec == 0));
}

/*
 * A token whose genTime lies outside the certificate's window
 * (tsa_cert_covers) would be granted but fail verification, so none is
 * made: systemFailure, our fault and not the client's. With log_refusal,
 * a refusal is logged as an unusable clock is (at its start, then at most
 * once every TSA_LOG_INTERVAL_S); its end is logged once. 1 inside, 0
 * outside.
 */
static int
tsa_cert_check(struct tsa_responder *r, const struct timeval *tv,
    int log_refusal)
{
	char at[TIME_ISO8601_MAX], from[TIME_ISO8601_MAX];
	char until[TIME_ISO8601_MAX];
	unsigned long more;
	int inside;

	inside = tsa_cert_covers(r, tv);
	if (inside && !r->cert_log.active)
		return 1;
	time_iso8601(tv->tv_sec, at, sizeof(at));
	time_iso8601(r->valid_from, from, sizeof(from));
	time_iso8601(r->valid_until, until, sizeof(until));
	if (inside) {
		tsa_log_over(&r->cert_log);
		log_info("tsa: genTime %s is within the TSA certificate's "
		    "validity (%s to %s) again: tokens are issued", at, from,
		    until);
	} else if (log_refusal && tsa_log_due(&r->cert_log, &more))
		log_err("tsa: genTime %s is outside the TSA certificate's "
		    "validity (%s to %s, with its privateKeyUsagePeriod): "
		    "queries get systemFailure (RFC 5280 §4.1.2.5; renew the "
		    "certificate; %lu more such log lines suppressed)", at, from,
		    until, more);
	return inside;
}

void
tsa_responder_cert(struct tsa_responder *r, struct tsa_cert_state *cs)
{
	struct timeval tv;

	memset(cs, 0, sizeof(*cs));
	if (r->now(&tv) == -1)
		return;
	cs->valid = tsa_cert_covers(r, &tv);
	cs->seconds_left = (long long)r->valid_until - (long long)tv.tv_sec;
}

/* RFC 3161 §2.4.2: genTime is the time the token was created, from a trusted clock. */
static int
tsa_time_cb(TS_RESP_CTX *ctx, void *data, long *sec, long *usec)
{
	struct tsa_responder *r = data;
	struct tsa_clock clk;
	struct timeval tv;

	if (!r->allow_unsync) {
		tsa_responder_clock(r, &clk);
		if (!clk.usable) {
			TS_RESP_CTX_set_status_info(ctx, TS_STATUS_REJECTION,
			    clk.leap ? "Time is not available: a leap second "
			    "is being inserted." : !clk.synchronized ? "Time "
			    "is not available: the system clock is not "
			    "synchronized." : "Time is not "
			    "available: the clock's error bound, with genTime's "
			    "precision, exceeds the accuracy of this policy.");
			TS_RESP_CTX_add_failure_info(ctx,
			    TS_INFO_TIME_NOT_AVAILABLE);
			return 0;
		}
	}
	if (r->now(&tv) == -1) {
		TS_RESP_CTX_set_status_info(ctx, TS_STATUS_REJECTION,
		    "Time is not available.");
		TS_RESP_CTX_add_failure_info(ctx, TS_INFO_TIME_NOT_AVAILABLE);
		return 0;
	}
	if (!tsa_cert_check(r, &tv, 1)) {
		TS_RESP_CTX_set_status_info(ctx, TS_STATUS_REJECTION,
		    TSA_TEXT_CERT_INVALID);
		TS_RESP_CTX_add_failure_info(ctx, TS_INFO_SYSTEM_FAILURE);
		return 0;
	}
	*sec = tv.tv_sec;
	*usec = tv.tv_usec;
	return 1;
}

/* The serial of a token through TS_RESP_CTX (tsa_random_serial()). */
static ASN1_INTEGER *
tsa_serial_cb(TS_RESP_CTX *ctx, void *data)
{
	struct tsa_responder *r = data;
	unsigned char buf[TSA_SERIAL_BYTES];
	ASN1_INTEGER *serial = NULL;
	BIGNUM *bn = NULL;
	unsigned long more;

	if (r->serial(buf, sizeof(buf)) == 0) {
		if ((bn = BN_bin2bn(buf, sizeof(buf), NULL)) != NULL)
			serial = BN_to_ASN1_INTEGER(bn, NULL);
	}
	BN_free(bn);
	/*
	 * Our failure (the random generator, memory), not a query asking for
	 * something unavailable: systemFailure (RFC 3161 §2.4.2), not
	 * addInfoNotAvailable.
	 */
	if (serial == NULL) {
		if (tsa_log_due(&r->serial_log, &more))
			log_openssl(LOGL_ERR, "tsa: no serial number could be "
			    "made: queries get systemFailure (%lu more such log "
			    "lines suppressed)", more);
		TS_RESP_CTX_set_status_info(ctx, TS_STATUS_REJECTION,
		    "Error during serial number generation.");
		TS_RESP_CTX_add_failure_info(ctx, TS_INFO_SYSTEM_FAILURE);
	} else
		tsa_log_over(&r->serial_log);
	return serial;
}

static int
tsa_policy_long(const struct config *policy, const char *key, long def, long min,
    long max, long *out)
{
	return config_get_long(policy, key, def, min, max, out);
}

/* One unit of genTime's precision, 10^-precision s, in µs. */
static long long
tsa_unit_us(long precision)
{
	long long unit_us;
	long i;

	for (unit_us = 1000000, i = 0; i < precision; i++)
		unit_us /= 10;
	return unit_us;
}

/* tsa_policy_check's rule on values read: 0, or -1 with err. */
static int
tsa_precision_check(long secs, long millis, long micros, long precision,
    char *err, size_t errlen)
{
	long long unit_us, acc_us;

	/*
	 * genTime is the clock truncated to precision digits, up to one unit
	 * (10^-precision s) behind it, and a token is granted only while the
	 * kernel's bound on the clock's error plus that unit is within the
	 * accuracy tokens claim (tsa_responder_clock). A unit as large as the
	 * accuracy leaves nothing for the clock's own error: no token would
	 * ever be granted (a real clock's maxerror is never 0), so such a
	 * policy is refused. No accuracy claimed: no bound.
	 */
	unit_us = tsa_unit_us(precision);
	acc_us = secs * 1000000LL + millis * 1000LL + micros;
	if (acc_us > 0 && unit_us >= acc_us) {
		snprintf(err, errlen, "policy: tsa.clock_precision_digits = %ld "
		    "truncates genTime by up to %lld us, not less than the "
		    "accuracy tokens claim (tsa.accuracy_seconds/_millis/_micros: "
		    "%lld us; RFC 3161 §2.4.2), which leaves nothing for the "
		    "clock's own error: raise the precision or the accuracy",
		    precision, unit_us, acc_us);
		return -1;
	}
	return 0;
}

/*
 * tsa.signing_digest: one tsad's signer signs with (hsm/signerproc.c takes
 * SHA-256, SHA-384 and SHA-512 only). Any other digest OpenSSL knows
 * (SHA1, SHA224, ...) was taken here, then refused by the signer at every
 * token: each query got systemFailure while /health said ok. NULL with
 * err.
 */
static const EVP_MD *
tsa_signing_md(const struct config *policy, char *err, size_t errlen)
{
	const char *name = config_get(policy, "tsa.signing_digest", "SHA256");
	const EVP_MD *md;
	int nid;

	if ((md = EVP_get_digestbyname(name)) == NULL ||
	    ((nid = EVP_MD_get_type(md)) != NID_sha256 && nid != NID_sha384 &&
	    nid != NID_sha512)) {
		snprintf(err, errlen, "policy: tsa.signing_digest = %s: not one "
		    "tsad signs with (SHA256, SHA384, SHA512)", name);
		return NULL;
	}
	return md;
}

int
tsa_policy_check(const struct config *policy, char *err, size_t errlen)
{
	long secs, millis, micros, precision;

	if (tsa_signing_md(policy, err, errlen) == NULL)
		return -1;
	if (tsa_policy_long(policy, "tsa.accuracy_seconds", 1, 0, 3600, &secs) == -1 ||
	    tsa_policy_long(policy, "tsa.accuracy_millis", 0, 0, 999, &millis) == -1 ||
	    tsa_policy_long(policy, "tsa.accuracy_micros", 0, 0, 999, &micros) == -1 ||
	    tsa_policy_long(policy, "tsa.clock_precision_digits", 3, 0, 6,
	    &precision) == -1) {
		snprintf(err, errlen, "policy: a [tsa] value is out of range");
		return -1;
	}
	return tsa_precision_check(secs, millis, micros, precision, err,
	    errlen);
}

/* Adds each digest of a comma-separated list ("SHA256, SHA384") the TSA accepts. */
static int
tsa_add_digests(struct tsa_responder *r, const char *list, char *err,
    size_t errlen)
{
	struct tsa_digest *dg;
	char buf[256], *tok, *save = NULL;
	const EVP_MD *md;
	int i, n = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		if (strcmp(tok, "SHA256") != 0 && strcmp(tok, "SHA384") != 0 &&
		    strcmp(tok, "SHA512") != 0) {
			snprintf(err, errlen, "tsa.digests: %s is not allowed "
			    "(SHA256, SHA384, SHA512)", tok);
			return -1;
		}
		if ((md = EVP_get_digestbyname(tok)) == NULL ||
		    TS_RESP_CTX_add_md(r->ctx, md) != 1) {
			snprintf(err, errlen, "tsa.digests: %s unavailable", tok);
			return -1;
		}
		n++;
		for (i = 0; i < r->ndigests; i++)
			if (r->digests[i].nid == EVP_MD_get_type(md))
				break;
		if (i < r->ndigests)
			continue;	/* named twice */
		dg = &r->digests[r->ndigests++];
		dg->nid = EVP_MD_get_type(md);
		dg->size = (size_t)EVP_MD_get_size(md);
		if (OBJ_obj2txt(dg->text, sizeof(dg->text), OBJ_nid2obj(dg->nid),
		    1) <= 0) {
			snprintf(err, errlen, "tsa.digests: %s has no OID", tok);
			return -1;
		}
	}
	if (n == 0) {
		snprintf(err, errlen, "tsa.digests: no digest");
		return -1;
	}
	return 0;
}

/* Keeps oid as the next policy (taking it on success): its DER and text. */
static int
tsa_keep_policy(struct tsa_responder *r, ASN1_OBJECT *oid)
{
	struct tsa_policy *pol = &r->policies[r->npolicies];
	unsigned char *p = pol->der;
	int n;

	if ((n = i2d_ASN1_OBJECT(oid, NULL)) <= 0 ||
	    (size_t)n > sizeof(pol->der) ||
	    OBJ_obj2txt(pol->text, sizeof(pol->text), oid, 1) <= 0 ||
	    (size_t)OBJ_obj2txt(NULL, 0, oid, 1) >= sizeof(pol->text))
		return -1;
	i2d_ASN1_OBJECT(oid, &p);
	pol->derlen = (size_t)n;
	pol->oid = oid;
	r->npolicies++;
	return 0;
}

static int
tsa_add_policies(struct tsa_responder *r, const char *def, const char *others,
    char *err, size_t errlen)
{
	char buf[1024], *tok, *save = NULL;
	ASN1_OBJECT *oid = NULL;
	int rc = -1, n = 0;

	if (def == NULL || (oid = OBJ_txt2obj(def, 1)) == NULL ||
	    TS_RESP_CTX_set_def_policy(r->ctx, oid) != 1 ||
	    tsa_keep_policy(r, oid) == -1) {
		snprintf(err, errlen, "tsa.policy: missing, not an OID or over "
		    "63 characters");
		goto out;
	}
	oid = NULL;	/* kept in r->policies[0] */
	/* Longer than any list of TSA_MAX_POLICIES OIDs kept can be. */
	if (snprintf(buf, sizeof(buf), "%s", others != NULL ? others : "") >=
	    (int)sizeof(buf)) {
		snprintf(err, errlen, "tsa.other_policies: over %zu characters",
		    sizeof(buf) - 1);
		goto out;
	}
	for (tok = strtok_r(buf, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		if (++n > TSA_MAX_POLICIES || (oid = OBJ_txt2obj(tok, 1)) == NULL ||
		    TS_RESP_CTX_add_policy(r->ctx, oid) != 1 ||
		    tsa_keep_policy(r, oid) == -1) {
			snprintf(err, errlen, "tsa.other_policies: %s rejected "
			    "(not an OID, over 63 characters or too many)", tok);
			goto out;
		}
		oid = NULL;	/* kept */
	}
	rc = 0;
out:
	ASN1_OBJECT_free(oid);
	return rc;
}

struct tsa_responder *
tsa_responder_new(const struct config *policy, X509 *cert, long long cert_id,
    EVP_PKEY *key, STACK_OF(X509) *extra, int allow_unsync, char *err,
    size_t errlen)
{
	struct tsa_responder *r = NULL, *ret = NULL;
	struct tsa_token_conf tc;
	const EVP_MD *sign_md, *ess_md;
	const char *mdname;
	char why[128];
	long secs, millis, micros, precision;
	int ordering, chain;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->ctx = TS_RESP_CTX_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (cert_id < 0) {
		snprintf(err, errlen, "certificate id %lld: negative", cert_id);
		goto out;
	}
	r->cert_id = cert_id;
	r->allow_unsync = allow_unsync;
	r->fast = 1;
	r->now = tsa_gettimeofday;
	r->serial = tsa_random_serial;
	if ((sign_md = tsa_signing_md(policy, err, errlen)) == NULL)
		goto out;
	/*
	 * The TSA key's curve fixes the digest (lib/sigdigest.h);
	 * tsa.signing_digest is an RSA key's. Until 2026-12-07 it was every
	 * key's, and a P-384 TSA key would have signed ecdsa-with-SHA256.
	 */
	if ((mdname = sigdigest_for_key(X509_get0_pubkey(cert),
	    OBJ_nid2sn(EVP_MD_get_type(sign_md)), why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "the TSA certificate's key signs no "
		    "token: %s", why);
		goto out;
	}
	if ((sign_md = EVP_get_digestbyname(mdname)) == NULL) {
		snprintf(err, errlen, "digest %s unavailable", mdname);
		goto out;
	}
	ess_md = EVP_get_digestbyname(config_get(policy, "tsa.ess_cert_id_digest",
	    "SHA256"));
	if (ess_md == NULL) {
		snprintf(err, errlen, "tsa.ess_cert_id_digest unknown");
		goto out;
	}
	if (tsa_policy_long(policy, "tsa.accuracy_seconds", 1, 0, 3600, &secs) == -1 ||
	    tsa_policy_long(policy, "tsa.accuracy_millis", 0, 0, 999, &millis) == -1 ||
	    tsa_policy_long(policy, "tsa.accuracy_micros", 0, 0, 999, &micros) == -1 ||
	    tsa_policy_long(policy, "tsa.clock_precision_digits", 3, 0, 6,
	    &precision) == -1 ||
	    config_get_bool(policy, "tsa.ordering", 0, &ordering) == -1 ||
	    config_get_bool(policy, "tsa.include_chain", 1, &chain) == -1) {
		snprintf(err, errlen, "policy: a [tsa] value is out of range");
		goto out;
	}
	if (tsa_precision_check(secs, millis, micros, precision, err,
	    errlen) == -1)
		goto out;
	/* Cached: checked against every genTime (tsa_cert_check). */
	if (tsa_cert_window(cert, &r->valid_from, &r->valid_until, err,
	    errlen) == -1)
		goto out;
	/*
	 * RFC 3161 §2.3: the certificate has one extendedKeyUsage,
	 * id-kp-timeStamping, critical (TS_RESP_CTX_set_signer_cert checks
	 * it, as verifiers do); the key must belong to it.
	 */
	if (TS_RESP_CTX_set_signer_cert(r->ctx, cert) != 1) {
		snprintf(err, errlen, "the TSA certificate is not one for "
		    "time-stamping: RFC 3161 §2.3 wants exactly one "
		    "extendedKeyUsage, id-kp-timeStamping, marked critical");
		goto out;
	}
	if (TS_RESP_CTX_set_signer_key(r->ctx, key) != 1 ||
	    X509_check_private_key(cert, key) != 1) {
		snprintf(err, errlen, "the TSA key does not match the TSA certificate");
		goto out;
	}
	if (TS_RESP_CTX_set_signer_digest(r->ctx, sign_md) != 1 ||
	    TS_RESP_CTX_set_ess_cert_id_digest(r->ctx, ess_md) != 1 ||
	    (chain && extra != NULL && TS_RESP_CTX_set_certs(r->ctx, extra) != 1) ||
	    TS_RESP_CTX_set_accuracy(r->ctx, (int)secs, (int)millis,
	    (int)micros) != 1 ||
	    TS_RESP_CTX_set_clock_precision_digits(r->ctx,
	    (unsigned int)precision) != 1) {
		snprintf(err, errlen, "TS_RESP_CTX set-up failed");
		goto out;
	}
	if (tsa_add_policies(r, config_get(policy, "tsa.policy", NULL),
	    config_get(policy, "tsa.other_policies", ""), err, errlen) == -1 ||
	    tsa_add_digests(r, config_get(policy, "tsa.digests",
	    "SHA256, SHA384, SHA512"), err, errlen) == -1)
		goto out;
	r->accuracy_us = secs * 1000000LL + millis * 1000LL + micros;
	r->precision = (unsigned int)precision;
	r->unit_us = tsa_unit_us(precision);
	if (ordering)
		TS_RESP_CTX_add_flags(r->ctx, TS_ORDERING);
	TS_RESP_CTX_set_serial_cb(r->ctx, tsa_serial_cb, r);
	TS_RESP_CTX_set_time_cb(r->ctx, tsa_time_cb, r);

	/* The direct path, configured as the TS_RESP_CTX above. */
	memset(&tc, 0, sizeof(tc));
	tc.cert = cert;
	tc.chain = chain ? extra : NULL;
	tc.key = key;
	tc.sign_md = sign_md;
	tc.ess_md = ess_md;
	tc.accuracy_seconds = (unsigned int)secs;
	tc.accuracy_millis = (unsigned int)millis;
	tc.accuracy_micros = (unsigned int)micros;
	tc.ordering = ordering;
	tc.precision = (unsigned int)precision;
	if ((r->token = tsa_token_new(&tc, err, errlen)) == NULL)
		goto out;
	ret = r;
	r = NULL;
out:
	ERR_clear_error();
	tsa_responder_free(r);
	return ret;
}

void
tsa_responder_free(struct tsa_responder *r)
{
	int i;

	if (r == NULL)
		return;
	TS_RESP_CTX_free(r->ctx);
	tsa_token_free(r->token);
	for (i = 0; i < r->npolicies; i++)
		ASN1_OBJECT_free(r->policies[i].oid);
	free(r);
}

size_t
tsa_responder_direct_tokens(const struct tsa_responder *r)
{
	return r->direct;
}

void
tsa_responder_test_hooks(struct tsa_responder *r, int (*now)(struct timeval *),
    int (*serial)(unsigned char *, size_t), int fast)
{
	r->now = now != NULL ? now : tsa_gettimeofday;
	r->serial = serial != NULL ? serial : tsa_random_serial;
	r->fast = fast;
}

static void
tsa_hex(const unsigned char *p, size_t n, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	/* Per byte by hand: snprintf here cost ~7 % of a token's CPU time. */
	for (i = 0; i < n && 2 * i + 2 < outlen; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 0x0f];
	}
	out[2 * i] = '\0';
}

/* A nonce as recorded: "-" when negative, then its magnitude in hex. */
static void
tsa_nonce_hex(const ASN1_INTEGER *n, char *out, size_t outlen)
{
	size_t off = 0;

	if (ASN1_STRING_type(n) == V_ASN1_NEG_INTEGER && outlen > 1)
		out[off++] = '-';
	if (ASN1_STRING_length(n) <= 0)
		snprintf(out + off, outlen - off, "00");
	else
		tsa_hex(ASN1_STRING_get0_data(n), (size_t)ASN1_STRING_length(n),
		    out + off, outlen - off);
}

static void
tsa_integer_hex(const ASN1_INTEGER *ai, char *out, size_t outlen)
{
	BIGNUM *bn;
	char *hex = NULL;

	out[0] = '\0';
	if ((bn = ASN1_INTEGER_to_BN(ai, NULL)) != NULL && (hex = BN_bn2hex(bn)) != NULL)
		snprintf(out, outlen, "%s", hex);
	OPENSSL_free(hex);
	BN_free(bn);
}

/*
 * A record's gen_time, ISO 8601 in UTC, from genTime's characters
 * ("YYYYMMDDHHMMSS[.fff]Z", as TS_RESP_CTX and tsa_token_gentime write
 * them): its fraction kept as the token has it (timestamptz holds
 * microseconds, precision at most 6). 0, or -1 for another form.
 */
static int
tsa_record_gentime(const char *gt, size_t len, char *out, size_t outlen)
{
	size_t i;
	int n;

	out[0] = '\0';
	if (len < 15 || len > TSA_GENTIME_MAX || gt[len - 1] != 'Z' ||
	    (len > 15 && (len < 17 || gt[14] != '.')))
		return -1;
	for (i = 0; i < len - 1; i++)
		if (i != 14 && (gt[i] < '0' || gt[i] > '9'))
			return -1;
	n = snprintf(out, outlen, "%.4s-%.2s-%.2sT%.2s:%.2s:%.*s", gt, gt + 4,
	    gt + 6, gt + 8, gt + 10, (int)(len - 12), gt + 12);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Fills rec from the TSTInfo of a granted response signed by cert_id. */
static int
tsa_fill_record(TS_RESP *resp, int cert_req, long long cert_id,
    struct tsa_record *rec)
{
	TS_TST_INFO *tst = TS_RESP_get_tst_info(resp);
	const ASN1_GENERALIZEDTIME *t;
	TS_MSG_IMPRINT *mi;
	const ASN1_OBJECT *alg;
	ASN1_OCTET_STRING *msg;
	const ASN1_INTEGER *nonce;

	memset(rec, 0, sizeof(*rec));
	if (tst == NULL || (t = TS_TST_INFO_get_time(tst)) == NULL ||
	    ASN1_STRING_length(t) < 0 ||
	    tsa_record_gentime((const char *)ASN1_STRING_get0_data(t),
	    (size_t)ASN1_STRING_length(t), rec->gen_time,
	    sizeof(rec->gen_time)) == -1 ||
	    (mi = TS_TST_INFO_get_msg_imprint(tst)) == NULL)
		return -1;
	tsa_integer_hex(TS_TST_INFO_get_serial(tst), rec->serial, sizeof(rec->serial));
	OBJ_obj2txt(rec->policy, sizeof(rec->policy),
	    TS_TST_INFO_get_policy_id(tst), 1);
	X509_ALGOR_get0(&alg, NULL, NULL, TS_MSG_IMPRINT_get_algo(mi));
	OBJ_obj2txt(rec->imprint_alg, sizeof(rec->imprint_alg), alg, 1);
	msg = TS_MSG_IMPRINT_get_msg(mi);
	tsa_hex(ASN1_STRING_get0_data(msg), (size_t)ASN1_STRING_length(msg),
	    rec->imprint, sizeof(rec->imprint));
	if ((nonce = TS_TST_INFO_get_nonce(tst)) != NULL)
		tsa_nonce_hex(nonce, rec->nonce, sizeof(rec->nonce));
	rec->cert_req = cert_req;
	rec->cert_id = cert_id;
	return rec->serial[0] != '\0' ? 0 : -1;
}

/*
 * The policy a query gets (an index into r->policies) when TS_RESP_CTX would
 * certainly grant it: version 1 (RFC 3161 §2.4.1), no extensions (we
 * support none), an accepted imprint digest with absent or NULL parameters
 * and a hash of its size, and no policy or one we offer. -1 otherwise; the
 * digest in *dg.
 */
static int
tsa_fast_policy(const struct tsa_responder *r, TS_REQ *req,
    const struct tsa_digest **dg)
{
	TS_MSG_IMPRINT *mi = TS_REQ_get_msg_imprint(req);
	const ASN1_OBJECT *alg;
	ASN1_OBJECT *pol;
	int i, nid, ptype;

	*dg = NULL;
	if (TS_REQ_get_version(req) != 1 || TS_REQ_get_ext_count(req) != 0)
		return -1;
	X509_ALGOR_get0(&alg, &ptype, NULL, TS_MSG_IMPRINT_get_algo(mi));
	nid = OBJ_obj2nid(alg);
	for (i = 0; i < r->ndigests && *dg == NULL; i++)
		if (r->digests[i].nid == nid)
			*dg = &r->digests[i];
	if (*dg == NULL || (ptype != V_ASN1_UNDEF && ptype != V_ASN1_NULL) ||
	    ASN1_STRING_length(TS_MSG_IMPRINT_get_msg(mi)) != (int)(*dg)->size)
		return -1;
	if ((pol = TS_REQ_get_policy_id(req)) == NULL)
		return 0;
	for (i = 0; i < r->npolicies; i++)
		if (OBJ_cmp(pol, r->policies[i].oid) == 0)
			return i;
	return -1;
}

/* The serial's hex as BN_bn2hex() writes it (upper case, no leading 00). */
static void
tsa_serial_hex(const unsigned char *p, size_t n, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;

	while (n > 1 && p[0] == 0) {
		p++;
		n--;
	}
	for (i = 0; i < n && o + 2 < outlen; i++) {
		out[o++] = hex[p[i] >> 4];
		out[o++] = hex[p[i] & 0x0f];
	}
	out[o] = '\0';
}

/*
 * A granted token through tsa/token.c: 1 with *reply and *rec filled; 0
 * when the query is not for the direct path or the token could not be built
 * (TS_RESP_CTX answers then, as it always did). With pend, the token is
 * only prepared (pend->tbs, pend->rec filled; no reply) for a signature
 * made meanwhile: tsa_respond_finish() completes it.
 */
static int
tsa_fast_respond(struct tsa_responder *r, TS_REQ *req, unsigned char **reply,
    size_t *replylen, struct tsa_record *rec, struct tsa_pending *pend)
{
	const struct tsa_digest *dg;
	const struct tsa_policy *pol;
	struct tsa_token_input in;
	unsigned char serial[TSA_SERIAL_BYTES], *imprint = NULL, *nonce = NULL;
	char gt[TSA_GENTIME_MAX];
	const ASN1_INTEGER *n;
	ASN1_OCTET_STRING *msg;
	struct tsa_clock clk;
	struct timeval tv;
	time_t sec;
	int i, len, rc = 0;

	if (!r->fast || (i = tsa_fast_policy(r, req, &dg)) == -1)
		return 0;
	pol = &r->policies[i];
	/* An unusable clock: TS_RESP_CTX answers timeNotAvailable. */
	if (!r->allow_unsync) {
		tsa_responder_clock(r, &clk);
		if (!clk.usable)
			return 0;
	}
	memset(&in, 0, sizeof(in));
	/*
	 * genTime outside the certificate's validity: TS_RESP_CTX answers
	 * systemFailure, and logs it (tsa_time_cb).
	 */
	if (r->now(&tv) == -1 || !tsa_cert_check(r, &tv, 0) ||
	    r->serial(serial, sizeof(serial)) == -1)
		return 0;
	sec = tv.tv_sec;
	if (gmtime_r(&sec, &in.tm) == NULL)
		return 0;
	in.usec = (long)tv.tv_usec;
	in.policy = pol->der;
	in.policy_len = pol->derlen;
	in.serial = serial;
	in.serial_len = sizeof(serial);
	in.cert_req = TS_REQ_get_cert_req(req);
	/* Re-encoded as TS_RESP_CTX does: the same octets for a DER query. */
	if ((len = i2d_TS_MSG_IMPRINT(TS_REQ_get_msg_imprint(req), &imprint)) <= 0)
		goto out;
	in.imprint = imprint;
	in.imprint_len = (size_t)len;
	if ((n = TS_REQ_get_nonce(req)) != NULL) {
		if ((len = i2d_ASN1_INTEGER(n, &nonce)) <= 0)
			goto out;
		in.nonce = nonce;
		in.nonce_len = (size_t)len;
	}
	if (pend != NULL) {
		rec = &pend->rec;
		if (tsa_token_prepare(r->token, &in, &pend->tbs) == -1) {
			log_openssl(LOGL_WARN, "tsa: the direct token path "
			    "failed; answering through TS_RESP_CTX");
			goto out;
		}
	} else if (tsa_token_build(r->token, &in, reply, replylen) == -1) {
		log_openssl(LOGL_WARN, "tsa: the direct token path failed; "
		    "answering through TS_RESP_CTX");
		goto out;
	}

	memset(rec, 0, sizeof(*rec));
	tsa_serial_hex(serial, sizeof(serial), rec->serial, sizeof(rec->serial));
	/* genTime as the token carries it, fraction and all. */
	if (tsa_record_gentime(gt, tsa_token_gentime(&in.tm, in.usec,
	    r->precision, gt), rec->gen_time, sizeof(rec->gen_time)) == -1) {
		if (pend != NULL)
			goto out;
		OPENSSL_free(*reply);
		*reply = NULL;
		*replylen = 0;
		goto out;
	}
	snprintf(rec->policy, sizeof(rec->policy), "%s", pol->text);
	snprintf(rec->imprint_alg, sizeof(rec->imprint_alg), "%s", dg->text);
	msg = TS_MSG_IMPRINT_get_msg(TS_REQ_get_msg_imprint(req));
	tsa_hex(ASN1_STRING_get0_data(msg), (size_t)ASN1_STRING_length(msg),
	    rec->imprint, sizeof(rec->imprint));
	if (n != NULL)
		tsa_nonce_hex(n, rec->nonce, sizeof(rec->nonce));
	rec->cert_req = in.cert_req;
	rec->cert_id = r->cert_id;
	r->direct++;
	rc = 1;
out:
	ERR_clear_error();
	OPENSSL_free(imprint);
	OPENSSL_free(nonce);
	return rc;
}

/*
 * RFC 3161 §2.4.1: the query is DER. d2i_TS_REQ reads BER as well
 * (indefinite or long-form lengths, certReq FALSE sent explicitly though
 * DEFAULT, a boolean TRUE other than 0xFF, constructed OCTET STRINGs); DER
 * has one encoding per value, so the query is DER exactly when encoding
 * what was read gives its octets back. 1 when it does, 0 otherwise (and
 * when encoding fails). Sets certReq again (to the same truth value).
 */
static int
tsa_query_is_der(TS_REQ *req, const unsigned char *query, size_t len)
{
	unsigned char *der = NULL;
	int n, same;

	/*
	 * OpenSSL keeps a BOOLEAN's octet as read and writes it back so:
	 * certReq set again is 0xFF for TRUE, and a 0x01 read differs.
	 */
	if (TS_REQ_set_cert_req(req, TS_REQ_get_cert_req(req)) != 1)
		return 0;
	/*
	 * RFC 5280 Extensions: SEQUENCE SIZE (1..MAX). An empty [0] (a0 00)
	 * decodes to an empty list that encodes back the same.
	 */
	if (TS_REQ_get_exts(req) != NULL && TS_REQ_get_ext_count(req) == 0)
		return 0;
	if ((n = i2d_TS_REQ(req, &der)) <= 0)
		return 0;
	same = (size_t)n == len && memcmp(der, query, len) == 0;
	OPENSSL_free(der);
	return same;
}

/* A nonce of at most TSA_NONCE_MAX octets (recorded whole), or none. */
static int
tsa_nonce_fits(const TS_REQ *req)
{
	const ASN1_INTEGER *n = TS_REQ_get_nonce(req);

	return n == NULL || ASN1_STRING_length(n) <= TSA_NONCE_MAX;
}

/*
 * RFC 3161 §2.4.2:
 *	TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken ... OPTIONAL }
 *	PKIStatusInfo ::= SEQUENCE { status PKIStatus, statusString PKIFreeText
 *	    OPTIONAL, failInfo PKIFailureInfo OPTIONAL }
 *	PKIFreeText ::= SEQUENCE SIZE (1..MAX) OF UTF8String
 * PKIFailureInfo is a named BIT STRING: DER drops its trailing zero bits
 * (X.690 §11.2.2), so bit n takes n / 8 + 1 octets after the count of
 * unused bits; OpenSSL's ASN1_BIT_STRING_set_bit writes the same.
 */
int
tsa_respond_rejection(unsigned int fail, const char *text,
    unsigned char **reply, size_t *replylen)
{
	unsigned char bits[1 + TSA_FAIL_MAX / 8 + 1];
	struct der d;
	int rc = -1;

	*reply = NULL;
	*replylen = 0;
	if (fail > TSA_FAIL_MAX || text == NULL)
		return -1;
	memset(bits, 0, sizeof(bits));
	bits[0] = (unsigned char)(7 - fail % 8);	/* unused bits */
	bits[1 + fail / 8] = (unsigned char)(0x80 >> (fail % 8));
	der_init(&d);
	der_begin(&d, DER_SEQUENCE);			/* TimeStampResp */
	der_begin(&d, DER_SEQUENCE);			/* PKIStatusInfo */
	der_small_uint(&d, DER_INTEGER, TS_STATUS_REJECTION);
	der_begin(&d, DER_SEQUENCE);			/* PKIFreeText */
	der_tlv(&d, TSA_DER_UTF8STRING, text, strlen(text));
	der_end(&d);
	der_tlv(&d, TSA_DER_BIT_STRING, bits, 1 + fail / 8 + 1);
	der_end(&d);
	der_end(&d);
	if (der_failed(&d) || (*reply = OPENSSL_memdup(d.buf, d.len)) == NULL)
		goto out;
	*replylen = d.len;
	rc = 0;
out:
	der_free(&d);
	return rc;
}

int
tsa_respond(struct tsa_responder *r, const unsigned char *query, size_t len,
    unsigned char **reply, size_t *replylen, int *granted, struct tsa_record *rec)
{
	return tsa_respond_begin(r, query, len, reply, replylen, granted, rec,
	    NULL);
}

const char *
tsa_responder_sign_mdname(const struct tsa_responder *r)
{
	return tsa_token_sign_mdname(r->token);
}

int
tsa_respond_finish(struct tsa_responder *r, struct tsa_pending *pend,
    const unsigned char *sig, size_t siglen, unsigned char **reply,
    size_t *replylen)
{
	if (tsa_token_finish(r->token, &pend->tbs, sig, siglen, reply,
	    replylen) == -1) {
		log_openssl(LOGL_ERR, "tsa: cannot write the signed token");
		ERR_clear_error();
		return -1;
	}
	return 0;
}

int
tsa_respond_begin(struct tsa_responder *r, const unsigned char *query,
    size_t len, unsigned char **reply, size_t *replylen, int *granted,
    struct tsa_record *rec, struct tsa_pending *pend)
{
	const unsigned char *p = query;
	TS_REQ *req = NULL;
	TS_RESP *resp = NULL;
	TS_STATUS_INFO *si;
	BIO *in = NULL;
	unsigned char *der = NULL;
	int n, well_formed, cert_req = 0, sysfail = 0, rc = -1;

	*reply = NULL;
	*replylen = 0;
	*granted = 0;
	if (pend != NULL)
		pend->ctx_signed = 0;
	/*
	 * RFC 3161 §2.4.1: exactly one DER TimeStampReq. OpenSSL's own reader
	 * would ignore trailing bytes and accepts BER, so we parse first and
	 * hand it an empty input when the query is not exactly that: it then
	 * answers rejection with failInfo badDataFormat, as for any
	 * undecodable request.
	 */
	well_formed = len > 0 && len <= LONG_MAX &&
	    (req = d2i_TS_REQ(NULL, &p, (long)len)) != NULL && p == query + len &&
	    tsa_query_is_der(req, query, len) && tsa_nonce_fits(req);
	if (well_formed && tsa_fast_respond(r, req, reply, replylen, rec,
	    pend) == 1) {
		*granted = 1;
		rc = pend != NULL ? 1 : 0;
		goto out;
	}
	if (well_formed)
		cert_req = TS_REQ_get_cert_req(req);
	in = well_formed ? BIO_new_mem_buf(query, (int)len) : BIO_new(BIO_s_mem());
	/*
	 * Every refusal of the query carries a failInfo; a rejection without
	 * one is TS_RESP_CTX failing itself ("Error during signature
	 * generation."), and a granted token that cannot be recorded is not
	 * issued: both become systemFailure (RFC 3161 §2.4.2).
	 */
	if (in == NULL || (resp = TS_RESP_create_response(r->ctx, in)) == NULL)
		sysfail = 1;
	else {
		si = TS_RESP_get_status_info(resp);
		if (ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(si)) !=
		    TS_STATUS_GRANTED)
			sysfail = TS_STATUS_INFO_get0_failure_info(si) == NULL;
		else if (tsa_fill_record(resp, cert_req, r->cert_id, rec) == -1)
			sysfail = 1;
		else
			*granted = 1;
	}
	if (sysfail) {
		log_openssl(LOGL_ERR, "tsa: no response from TS_RESP_CTX: "
		    "answering rejection, failInfo systemFailure");
		if (tsa_respond_rejection(TSA_FAIL_SYSTEM_FAILURE,
		    TSA_TEXT_SYSTEM_FAILURE, reply, replylen) == -1)
			goto out;
	} else {
		if ((n = i2d_TS_RESP(resp, &der)) <= 0)
			goto out;
		*reply = der;
		*replylen = (size_t)n;
		der = NULL;
	}
	/* For tsad's count of signatures (/health): as tsad_complete's. */
	if (pend != NULL)
		pend->ctx_signed = sysfail ? -1 : *granted ? 1 : 0;
	rc = 0;
out:
	if (rc == -1)
		log_openssl(LOGL_ERR, "tsa: cannot build a response");
	ERR_clear_error();
	OPENSSL_free(der);
	BIO_free(in);
	TS_RESP_free(resp);
	TS_REQ_free(req);
	return rc;
}
