/*
 * Private interfaces of tsad, the RFC 3161 time-stamping authority.
 */
#ifndef PKI_TSA_EXTERN_H
#define PKI_TSA_EXTERN_H

#include <sys/time.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/der.h"

struct config;
struct db;

/* Octets of a query's nonce (its magnitude); larger: badDataFormat. */
#define TSA_NONCE_MAX	64

/*
 * What tsad records of each token it issues (schema/003_tsa.sql, 064).
 * cert_id names the TSA certificate whose key signed the token, so that
 * the record says so itself: after a rotation (`pkictl ca tsa`) instances
 * restarted at different times sign with different certificates, and a
 * record replayed from a spill file must keep the one that really signed.
 */
struct tsa_record {
	char		serial[48];		/* hex */
	char		gen_time[40];		/* ISO 8601, UTC */
	char		policy[64];		/* OID */
	char		imprint_alg[64];	/* OID */
	char		imprint[2 * 64 + 1];	/* hex */
	char		nonce[1 + 2 * TSA_NONCE_MAX + 1]; /* [-]hex, "" when absent */
	int		cert_req;
	long long	cert_id;	/* ca_certificate.id; 0: unknown (NULL) */
};

/*
 * The policy's accuracy and genTime precision (RFC 3161 §2.4.2): -1 with
 * err when a value is out of range or 10^-tsa.clock_precision_digits
 * seconds (genTime's truncation) is not less than the accuracy tokens
 * claim (nothing would be left for the clock's error: tsa_responder_clock),
 * or when tsa.signing_digest is not one the signer signs with (SHA256,
 * SHA384, SHA512). tsa_responder_new checks it too; tsad before its first
 * worker.
 */
int	tsa_policy_check(const struct config *policy, char *err, size_t errlen);

/* respond.c: one TS_RESP_CTX, for one thread. */
struct tsa_responder;

/*
 * Builds a responder from the policy file (policy/tsa.conf), the TSA's
 * certificate, its ca_certificate.id (cert_id, put in every record; 0 when
 * it has none, as in the fuzz harness: recorded as NULL) and key (any
 * EVP_PKEY: the signer's in tsad, a software key in the fuzz harness) and
 * the certificates to add on certReq (may be NULL). allow_unsync: issue
 * tokens even when the clock is not usable (tsa_responder_clock; local
 * stack and tests only). Tokens are signed with the digest the
 * certificate's key fixes (lib/sigdigest.h: an EC key's curve's;
 * tsa.signing_digest for RSA). NULL with err, also when the certificate's
 * validity cannot be read (tsa_cert_window), cert_id is negative or the
 * key is of a type or curve that signs nothing here.
 */
struct tsa_responder	*tsa_responder_new(const struct config *policy,
			    X509 *cert, long long cert_id, EVP_PKEY *key,
			    STACK_OF(X509) *extra, int allow_unsync, char *err,
			    size_t errlen);
void			 tsa_responder_free(struct tsa_responder *);

/*
 * Answers one DER TimeStampReq (RFC 3161 §2.4.1) with a DER TimeStampResp
 * (*reply, freed with OPENSSL_free). Never fails for bad input: a query that is empty, not
 * DER, has trailing bytes or asks for what we do not offer gets a rejection
 * (badDataFormat, badAlg, unacceptedPolicy, ...); one that cannot be
 * answered otherwise (the token could not be signed, no serial number,
 * genTime outside the certificate's validity) gets systemFailure.
 * *granted says whether a token was issued; then *rec describes it.
 * Returns -1 only when no response at all could be built (out of memory).
 */
int	tsa_respond(struct tsa_responder *, const unsigned char *query,
	    size_t len, unsigned char **reply, size_t *replylen, int *granted,
	    struct tsa_record *rec);

/* One token between its signature's request and the signature (token.c). */
struct tsa_token_tbs {
	struct der	 tst;		/* TSTInfo */
	struct der	 attrs;		/* the attributes, unsorted */
	struct der	 signed_attrs;	/* the SET the signature covers */
	struct der	 out;		/* the TimeStampResp */
	int		 cert_req;
};

/*
 * A granted query whose signature is made meanwhile (tsa_respond_begin):
 * the SignedAttributes to sign in tbs.signed_attrs, with the responder's
 * key and the digest tsa_responder_sign_mdname() names; its record in rec.
 * tsa_token_tbs_init() before use, tsa_token_tbs_free() after.
 */
struct tsa_pending {
	struct tsa_token_tbs	 tbs;
	struct tsa_record	 rec;
	/*
	 * Set by tsa_respond_begin when it answers at once (0): 1 when
	 * TS_RESP_CTX signed a token and it was granted, -1 when it answered
	 * systemFailure itself (TS_RESP_CTX's signature failed, or its token
	 * could not be recorded or written), 0 when no token was made (a
	 * rejection with its own failInfo).
	 */
	int			 ctx_signed;
};
/*
 * As tsa_respond(), but a query the direct path grants (nearly all) is only
 * prepared: 1 with pend filled and no reply; complete it with
 * tsa_respond_finish() and the signature. Any other query is answered at
 * once (0), as by tsa_respond(). The responder is not thread-safe, but
 * tsa_respond_finish() may run in another thread beside it.
 */
int	tsa_respond_begin(struct tsa_responder *, const unsigned char *query,
	    size_t len, unsigned char **reply, size_t *replylen, int *granted,
	    struct tsa_record *rec, struct tsa_pending *pend);
/* The TimeStampResp of pend, signed by sig (*reply OPENSSL_malloc'd). 0 or -1. */
int	tsa_respond_finish(struct tsa_responder *, struct tsa_pending *pend,
	    const unsigned char *sig, size_t siglen, unsigned char **reply,
	    size_t *replylen);
const char *tsa_responder_sign_mdname(const struct tsa_responder *);

/* The statusString of a query refused because of the certificate's validity. */
#define TSA_TEXT_CERT_INVALID	"The time-stamping certificate is not valid " \
				"at this time; no token can be made."

/* PKIFailureInfo bits (RFC 3161 §2.4.2) tsad sets itself; the last one. */
#define TSA_FAIL_SYSTEM_FAILURE	25	/* systemFailure */
#define TSA_FAIL_MAX		25
#define TSA_TEXT_SYSTEM_FAILURE	"The time-stamp token could not be made; " \
				"try again later."
/*
 * A DER TimeStampResp with status rejection, statusString text and failInfo
 * with the one bit fail (TSA_FAIL_*), for answers TS_RESP_CTX does not
 * make: a record queue that is full, a token that could not be signed.
 * *reply is freed with OPENSSL_free. 0, or -1 (out of memory, fail over
 * TSA_FAIL_MAX, text NULL).
 */
int	tsa_respond_rejection(unsigned int fail, const char *text,
	    unsigned char **reply, size_t *replylen);

/* The system clock as the kernel describes it (adjtimex), against the policy. */
struct tsa_clock {
	/*
	 * Neither STA_UNSYNC, TIME_ERROR nor TIME_OOP: during an inserted
	 * leap second CLOCK_REALTIME repeats 23:59:59, up to 1 s behind
	 * UTC on top of maxerror, more than a token's accuracy allows.
	 */
	int		synchronized;
	int		leap;		/* TIME_OOP: a leap second now */
	long long	maxerror_us;	/* the kernel's error bound; -1 unknown */
	long long	accuracy_us;	/* claimed by tokens; 0: no accuracy */
	long long	precision_us;	/* genTime's truncation, 10^-digits s */
	int		within_accuracy; /* maxerror_us + precision_us <=
					    accuracy_us (or accuracy_us 0) */
	int		usable;		/* synchronized and within_accuracy */
};
/*
 * Reads the clock's state into *clk (RFC 3161 §2.4.2: a token's genTime
 * must be within the accuracy it claims). Unless the responder was made
 * with allow_unsync, logs an unusable clock (at most once every
 * TSA_LOG_INTERVAL_S) and its return. Same thread as tsa_respond.
 */
void	tsa_responder_clock(struct tsa_responder *, struct tsa_clock *clk);

/*
 * The TSA certificate's validity (RFC 5280 §4.1.2.5), narrowed by its
 * privateKeyUsagePeriod when it has one (§4.2.1.4): tokens are made only
 * while genTime lies in [*from, *until], seconds since the epoch, both
 * included; outside it a query gets systemFailure. 0, or -1 with err
 * (a time that cannot be read, an empty window).
 */
int	tsa_cert_window(X509 *cert, time_t *from, time_t *until, char *err,
	    size_t errlen);
/*
 * tsad warns at start when the window ends within this many days: a new
 * TSA certificate must be issued, stored in the CA tables and loaded by a
 * restart of every instance (tsad reads it only at start), and a month
 * leaves room for that to go wrong once.
 */
#define TSA_CERT_WARN_DAYS	30
/* What /health says of the certificate now (tsa_responder_cert). */
struct tsa_cert_state {
	int		valid;		/* now within tsa_cert_window's window */
	long long	seconds_left;	/* until its end; negative after it */
};
/* Fills *cs (cleared first) for the responder's time source. */
void	tsa_responder_cert(struct tsa_responder *, struct tsa_cert_state *cs);

/*
 * Rate-limited logging of a condition that lasts (an unusable clock, a full
 * record queue): tsa_log_due says 1 at its start, then at most once every
 * TSA_LOG_INTERVAL_S, with the occurrences not logged since in *suppressed;
 * tsa_log_over ends it, 1 when it was on (say so once). Start zeroed.
 */
#define TSA_LOG_INTERVAL_S	60
struct tsa_lograte {
	long long	next_ms;	/* CLOCK_MONOTONIC: the next line due */
	unsigned long	suppressed;
	int		active;
};
int	tsa_log_due(struct tsa_lograte *, unsigned long *suppressed);
int	tsa_log_over(struct tsa_lograte *);

/*
 * For tests only: the time source (like gettimeofday: 0 or -1) and the
 * serial source (fills 16 bytes: 0 or -1) both ways of building a token use,
 * NULL for the real ones; fast 0 makes every response go through
 * TS_RESP_CTX, as before the direct path existed.
 */
void	tsa_responder_test_hooks(struct tsa_responder *,
	    int (*now)(struct timeval *), int (*serial)(unsigned char *, size_t),
	    int fast);

/* Tokens built by the direct path (tsa/token.c) so far. */
size_t	tsa_responder_direct_tokens(const struct tsa_responder *);

/*
 * token.c: granted responses written directly as DER, without TS_RESP_CTX
 * (the same octets it would write; see token.c).
 */
struct tsa_token;

struct tsa_token_conf {
	X509		*cert;		/* the TSA certificate */
	STACK_OF(X509)	*chain;		/* added after it on certReq; may be NULL */
	EVP_PKEY	*key;		/* EC or RSA; the signer's in tsad */
	const EVP_MD	*sign_md;	/* digest of the signature */
	const EVP_MD	*ess_md;	/* of the ESSCertID(v2); SHA-1 gives v1 */
	unsigned int	 accuracy_seconds, accuracy_millis, accuracy_micros;
	int		 ordering;
	unsigned int	 precision;	/* genTime fraction digits, 0-6 */
};

/* One token's variable parts; the DER pieces are whole TLVs. */
struct tsa_token_input {
	const unsigned char	*policy;	/* OBJECT IDENTIFIER */
	size_t			 policy_len;
	const unsigned char	*imprint;	/* MessageImprint */
	size_t			 imprint_len;
	const unsigned char	*serial;	/* big-endian magnitude */
	size_t			 serial_len;
	const unsigned char	*nonce;		/* INTEGER, or NULL */
	size_t			 nonce_len;
	struct tm		 tm;		/* genTime, UTC */
	long			 usec;
	int			 cert_req;
};

#define TSA_GENTIME_MAX	24

/*
 * Encodes the constant parts once (the key and certificates are
 * referenced or copied; the caller keeps its own). NULL with err. Free with
 * tsa_token_free().
 */
struct tsa_token	*tsa_token_new(const struct tsa_token_conf *, char *err,
			    size_t errlen);
void			 tsa_token_free(struct tsa_token *);
/*
 * A granted TimeStampResp for in, signed with the key: *der is
 * OPENSSL_malloc'd. -1 when it cannot be built (allocation, signature).
 */
int			 tsa_token_build(struct tsa_token *,
			    const struct tsa_token_input *in, unsigned char **der,
			    size_t *derlen);
/*
 * tsa_token_build() in halves, for a signature made elsewhere meanwhile
 * (tsad's signer, pipelined): prepare encodes the TSTInfo and the
 * SignedAttributes to sign (b->signed_attrs, signed with the digest named
 * by tsa_token_sign_mdname()); finish writes the TimeStampResp around the
 * signature. Both only read t, so one thread may prepare while another
 * finishes; each token in flight has its own b (init, free). -1 on error.
 */
/* struct tsa_token_tbs: above, with struct tsa_pending. */
void		 tsa_token_tbs_init(struct tsa_token_tbs *);
void		 tsa_token_tbs_free(struct tsa_token_tbs *);
const char	*tsa_token_sign_mdname(const struct tsa_token *);
int		 tsa_token_prepare(const struct tsa_token *,
		    const struct tsa_token_input *in, struct tsa_token_tbs *b);
/* *der is OPENSSL_malloc'd. */
int		 tsa_token_finish(const struct tsa_token *,
		    struct tsa_token_tbs *b, const unsigned char *sig,
		    size_t siglen, unsigned char **der, size_t *derlen);
/* genTime's characters (not NUL-terminated) as TS_RESP_CTX writes them; its length. */
size_t			 tsa_token_gentime(const struct tm *, long usec,
			    unsigned int precision, char out[TSA_GENTIME_MAX]);

/*
 * certwatch.c: whether the TSA certificate, or its issuing CA's own
 * certificate, is revoked or on hold (its `certificate` row's revoked_at
 * set; a hold released clears it). While it is, no token is made: every
 * query gets rejection, failInfo systemFailure, and /health answers 503.
 */
#define TSA_REASON_HOLD		6	/* RFC 5280 §5.3.1 certificateHold */
struct tsa_revocation {
	int		revoked;	/* 0: neither is revoked nor on hold */
	int		issuer;		/* 1: the issuing CA's, 0: the TSA's */
	char		name[32];	/* its ca_certificate.name */
	char		serial[48];
	int		reason;		/* RFC 5280 §5.3.1 code */
	char		reason_name[32];
	char		since[32];	/* revoked_at, ISO 8601 UTC */
};
/* How often each worker reads it again (tsa_certwatch_start). */
#define TSA_CERT_POLL_S		2
/*
 * Reads it for the TSA certificate cert_id (ca_certificate.id) into *rv
 * (cleared first): the TSA certificate's own row before the issuer's. One
 * statement, bounded by timeout_ms (db_exec_bounded). 0, or -1 (logged).
 */
int	tsa_revocation_read(struct db *, long long cert_id, long timeout_ms,
	    struct tsa_revocation *rv);
/* Logs rv (when revoked), "when" first: what follows for tokens. */
void	tsa_revocation_log(const struct tsa_revocation *rv, const char *when);
/*
 * A thread that reads it every TSA_CERT_POLL_S on its own connection to
 * conninfo (made by the thread), from initial (what the start read); a
 * change is logged once, and a check that fails keeps the last state.
 * NULL with err. tsa_certwatch_state copies the state (checked_at: when
 * the last check worked; may be NULL); tsa_certwatch_revoked says whether
 * it is revoked or on hold, for each query. tsa_certwatch_stop joins and
 * frees (NULL: nothing).
 */
struct tsa_certwatch;
struct tsa_certwatch	*tsa_certwatch_start(const char *conninfo,
			    long long cert_id, long timeout_ms,
			    const struct tsa_revocation *initial, char *err,
			    size_t errlen);
void			 tsa_certwatch_state(struct tsa_certwatch *,
			    struct tsa_revocation *rv, time_t *checked_at);
int			 tsa_certwatch_revoked(struct tsa_certwatch *);
void			 tsa_certwatch_stop(struct tsa_certwatch *);
/* The statusString of a query refused while the certificate is revoked. */
#define TSA_TEXT_CERT_REVOKED	"The time-stamping certificate or its " \
				"issuer is revoked or on hold; no token can " \
				"be made."

/* record.c: batched recording of issued tokens, off the request path. */
struct tsa_recorder;

/*
 * Starts the recording thread: batches go to PostgreSQL (conninfo) with one
 * audit event each. At most max_queue records wait in memory. spill_file
 * (tsa.spill_file; NULL: none) names the family of spill files: worker of
 * workers owns spill_file itself when workers is 1, spill_file.<worker>
 * otherwise. Before the thread starts, and before the caller's sandbox
 * (it opens, locks, renames and removes files in spill_file's directory):
 * the worker's own file, and for worker 0 every other file of the family no
 * current worker owns (another tsa.workers left it), becomes one file of the
 * records still to write (record.c); the first of them are queued, the rest
 * follow as the queue drains. db_timeout_ms (tsa.db_timeout_seconds; 0:
 * none) bounds each command of the recorder's connection (db_set_timeout,
 * TSA_DB_TIMEOUT_S). NULL with err, e.g. when another process holds the
 * worker's file.
 */
struct tsa_recorder	*tsa_recorder_start(const char *conninfo,
			    const char *instance, const char *spill_file,
			    int worker, int workers, size_t max_queue,
			    long db_timeout_ms, char *err, size_t errlen);
/*
 * tsa.db_timeout_seconds: how long a command of the recorder waits for
 * PostgreSQL at most, its COMMIT included. pki_tsa has a lock_timeout (10
 * s) and no statement_timeout (schema/058): a server that stops answering
 * (a stopped or hung backend, a network that drops what it is sent) held
 * the recorder for ever, and once max_queue filled every query got
 * systemFailure until the backend came back or tsad was restarted. Past
 * it the batch counts as not written (its records stay queued and in the
 * spill file: a COMMIT given up that went through after all is replayed,
 * harmlessly), and the next try is on a new connection.
 */
#define TSA_DB_TIMEOUT_S	30
/*
 * Queues a record; -1 when the queue is full, or while the database is not
 * taking records and the spill file could not keep them (spill_ok below;
 * the caller must not hand out the token: what is not recorded is not
 * issued).
 */
int			 tsa_recorder_add(struct tsa_recorder *,
			    const struct tsa_record *);
/*
 * A slot of the queue for a token before its signature is asked for:
 * tsa_recorder_reserve gives one (0) or none (-1: the queue full with
 * what waits and the slots already given, records that could be kept
 * nowhere (spill_ok), or stopping); the caller asks
 * for no signature without one (until 2026-12-07 the HSM signed tokens
 * that were then thrown away, the queue full). Exactly one of
 * tsa_recorder_add_reserved (the token to record: -1 as tsa_recorder_add,
 * the slot given back all the same) and tsa_recorder_unreserve (any
 * failure before) gives it back.
 */
int			 tsa_recorder_reserve(struct tsa_recorder *);
void			 tsa_recorder_unreserve(struct tsa_recorder *);
int			 tsa_recorder_add_reserved(struct tsa_recorder *,
			    const struct tsa_record *);
/* What /health says of the recorder (tsa_recorder_stats). */
struct tsa_recorder_health {
	size_t		queued;		/* records waiting */
	size_t		reserved;	/* slots given to tokens being signed */
	/*
	 * 0 while the database is not taking records and the spill file
	 * could not keep them (the keeper's last try failed): no token is
	 * issued then (tsa_recorder_reserve and tsa_recorder_add refuse).
	 */
	int		spill_ok;
	size_t		max_queue;	/* tsa.max_queue */
	int		db_ok;		/* the last database write succeeded */
	long long	write_pending_ms; /* the batch with the database since; 0: none */
};
/*
 * A write outstanding this long (a lock wait, a COMMIT waiting for a
 * synchronous standby that is gone) makes /health degraded before the
 * queue fills, and so does a queue over TSA_QUEUE_HIGH_PCT of max_queue.
 */
#define TSA_WRITE_STUCK_S	5
#define TSA_QUEUE_HIGH_PCT	50
/* Fills *h (it is cleared first). */
void			 tsa_recorder_stats(struct tsa_recorder *,
			    struct tsa_recorder_health *h);
/*
 * tsa.flush_timeout_seconds at most: with the grace below it stays under
 * every stop timeout of a service manager (deploy/stack.sh waits 20 s,
 * systemd TimeoutStopSec=30s) before SIGKILL.
 */
#define TSA_FLUSH_TIMEOUT_MAX	15
/* How long tsa_recorder_stop waits after flush_timeout for a last answer. */
#define TSA_STOP_GRACE_S	2
/*
 * Stops recording; r is gone after it (NULL: nothing to do). First the
 * records not yet in the spill file are appended to it and fdatasynced;
 * then the database gets what is left for up to flush_timeout_s (each
 * statement but the COMMIT bounded by it); what it did not take stays in
 * the file. A database that has not answered TSA_STOP_GRACE_S after that
 * is left behind with the thread (which frees r if it ever returns), and
 * *abandoned is 1: the thread may be inside libpq and OpenSSL still, so
 * the process must end with _exit(), not exit() (tsad_exit_abandoned).
 * Returns 0 when nothing was lost.
 */
int			 tsa_recorder_stop(struct tsa_recorder *,
			    unsigned int flush_timeout_s, int *abandoned);
/*
 * For tests and the fuzz harness: one spill line as the recorder writes it
 * (serial, genTime, policy, imprint algorithm, imprint, nonce or "-",
 * certReq 0/1, the certificate id or "-" for 0; tab-separated, a newline)
 * and as it reads one back: the fields above, or the first seven alone
 * (a line of before schema/064: cert_id 0). line is changed; whole is 0
 * for a last line without its newline, whose certificate id is not
 * trusted (cert_id 0). 0, or -1 when malformed.
 */
void			 tsa_spill_write_line(const struct tsa_record *,
			    FILE *);
int			 tsa_spill_parse_line(char *line, int whole,
			    struct tsa_record *);
/*
 * For tests only: recorders started from now on hand each batch to
 * write(arg, records, n), 0 meaning committed, instead of PostgreSQL; NULL
 * restores the database.
 */
void			 tsa_recorder_test_writer(int (*write)(void *,
			    const struct tsa_record *, size_t), void *arg);

#endif
