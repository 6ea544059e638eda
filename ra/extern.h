/*
 * Private interfaces of rad, the registration authority (ra/README.md).
 */
#ifndef PKI_RA_EXTERN_H
#define PKI_RA_EXTERN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "lib/factor.h"

struct config;
struct db;
struct http_request;
struct http_response;

/* Hard caps, whatever policy says (policy may only be stricter). */
#define RA_EMAIL_MAX		254	/* RFC 5321 §4.5.3.1.3 path, less <> */
#define RA_PHONE_MAX		16	/* E.164: '+' and at most 15 digits */
#define RA_PASSWORD_MAX		256	/* bytes of UTF-8 */
#define RA_TOKEN_BYTES		32	/* 256 random bits */
#define RA_TOKEN_B64_LEN	43	/* base64url of 32 bytes, unpadded */
#define RA_VERSION_MAX		32	/* a consent's document version */
#define RA_IMAGE_SIDE_HARD_MAX	16384	/* px: kyc.image_max_side_px's cap */
/* pixels: kyc.image_max_pixels's cap (100 megapixels) */
#define RA_IMAGE_PIXELS_HARD_MAX	100000000L

/*
 * What a KYC image (an e-KTP photo, a selfie) may be: policy kyc.image_*
 * (policy.c), checked by kycreq.c and image.c.
 */
struct ra_image_limits {
	long	max_bytes;		/* decoded (kyc.image_max_bytes) */
	long	min_side;		/* px, width and height alike */
	long	max_side;
	long	max_pixels;		/* width * height */
};

/* policy/ra.conf, read once at start-up (policy.c). */
struct ra_policy {
	long	pw_min_len;		/* characters (code points) */
	long	pw_max_len;		/* bytes */
	int	pw_upper, pw_lower, pw_digit, pw_symbol;
	long	argon2_t_cost;
	long	argon2_m_cost_kib;
	long	argon2_parallelism;
	long	verify_ttl_s;		/* email verification link */
	long	verify_per_hour;	/* links an hour, the registration's too */
	long	verify_per_day;		/* and a day */
	long	unverified_days;	/* a never verified account may be
					   replaced after (account.c) */
	long	reset_ttl_s;		/* password reset token (reset.c) */
	long	reset_per_hour;		/* reset mails an account an hour */
	long	reset_gap_s;		/* and the least time between two */
	long	session_ttl_s;
	long	lockout_threshold;	/* failed log-ins before a lock */
	long	lockout_base_s;		/* first lock; doubles with each failure */
	long	lockout_max_s;
	long	register_per_min;	/* per client address, per process */
	long	login_per_min;
	long	reset_per_min;		/* forgot, reset/otp, reset together */
	/* factor.c: one-time codes and the factor lock-out */
	long	otp_ttl_s;
	long	otp_max_attempts;	/* wrong codes that kill one OTP */
	long	otp_per_hour;		/* OTPs sent per account */
	long	otp_per_phone_hour;	/* SMS OTPs per phone number, all accounts */
	long	factor_lock_threshold;	/* wrong factors before a lock */
	long	factor_lock_base_s;	/* first lock; doubles with each failure */
	long	factor_lock_max_s;
	/* officer.c */
	long	officer_session_ttl_s;
	long	officer_login_per_min;
	/* KYC (nik.c, kyc.c) */
	long	kyc_min_age;		/* years, on the day of submission (WIB) */
	long	kyc_erase_days;		/* pkictl kyc erase: after an unissued end */
	long	kyc_erase_issued_days;	/* ... after the certificate's end */
	long	kyc_per_day;		/* KYC submissions per account a day */
	long	purge_days;		/* pkictl purge: after a credential's end */
	struct ra_image_limits kyc_image;	/* bytes and pixels of one */
	long	kyc_min_liveness;	/* 0-100, shown to the officer */
	long	kyc_min_match;		/* 0-100, shown to the officer */
	char	kyc_privacy_version[RA_VERSION_MAX + 1];
	char	kyc_agreement_version[RA_VERSION_MAX + 1];
	char	kyc_guarantee_version[RA_VERSION_MAX + 1];
	/* review.c */
	char	review_four_eyes_kinds[128];	/* " kind kind " (padded) */
	unsigned int review_revocation_reasons;	/* bit n: RFC 5280 code n */
	int	review_holds;		/* officers may suspend and release */
	/* certificate.c: agreement, rekey; notifier.c */
	char	agreement_profile[32];	/* policy/profiles/<name>.cnf */
	char	agreement_key_type[16];	/* issuance_order.key_type */
	char	agreement_version[RA_VERSION_MAX + 1];
	long	rekey_window_days;	/* before not_after */
	/* notifier.c: days before not_after to remind, as an SQL int[] ("{30,7}") */
	char	rekey_reminder_days[64];
	long	notifier_interval_s;	/* reconciliation period */
	/* corporate.c */
	long	corporate_invite_ttl_s;	/* an employee's enrolment token */
	long	corporate_claim_ttl_s;	/* the sysadmin's claim token, counted
					   from its mailing */
	/* the least age of a claim token the representative may replace */
	long	corporate_claim_resend_s;
	long	corporate_invite_company_hour;	/* invitations a company, an hour */
	long	corporate_invite_address_day;	/* to one address, a day, any company */
};

/* Loads the policy (config NULL: the built-in defaults). 0 or -1, logged. */
int	ra_policy_load(const struct config *, struct ra_policy *);

/* request.c: the JSON request parsers (stateless; fuzzed). */
struct ra_register_req {
	char	email[RA_EMAIL_MAX + 1];	/* lower-cased */
	char	phone[RA_PHONE_MAX + 1];
	char	password[RA_PASSWORD_MAX + 1];	/* wipe with ra_wipe() */
};
struct ra_login_req {
	char	email[RA_EMAIL_MAX + 1];	/* lower-cased */
	char	password[RA_PASSWORD_MAX + 1];	/* wipe with ra_wipe() */
};
struct ra_token_req {
	unsigned char	token[RA_TOKEN_BYTES];	/* decoded */
};

/*
 * Each parses one request body: a JSON object (RFC 8259) with exactly the
 * named members, no duplicate key, no other member. On failure returns -1
 * with a client-facing detail that never quotes a value (it may be a
 * secret). The password copies left in jansson's memory are wiped.
 */
int	ra_parse_register(const void *body, size_t len,
	    struct ra_register_req *, char *detail, size_t detaillen);
int	ra_parse_login(const void *body, size_t len, struct ra_login_req *,
	    char *detail, size_t detaillen);
int	ra_parse_token(const void *body, size_t len, struct ra_token_req *,
	    char *detail, size_t detaillen);
/*
 * The body of a request that takes no member: absent (len 0), or a JSON
 * object without one ("{}"), by ra_parse_register's rules. 0 or -1.
 */
int	ra_parse_empty(const void *body, size_t len, char *detail,
	    size_t detaillen);

/*
 * The JSON helpers of every parser above and in the other *req.c files.
 * ra_json_load: body as a JSON object of at most RA_MAX_BODY bytes, no
 * duplicate member (NULL with a detail that never quotes the body, which
 * may hold a secret). ra_json_string: a string member of 1 to max bytes
 * without NUL into out (max + 1 bytes); 0 or -1 with a detail naming the
 * member, never its value. ra_json_wipe: wipes a jansson string in place
 * (a password's copy) before its decref.
 */
json_t	*ra_json_load(const void *body, size_t len, char *detail,
	    size_t detaillen);
int	 ra_json_string(json_t *, const char *name, char *out, size_t max,
	    char *detail, size_t detaillen);
void	 ra_json_wipe(json_t *);

/*
 * Field rules. Each returns 0 or -1 with a precise detail (without the
 * value). ra_email_check lower-cases email in place.
 */
int	ra_email_check(char *email, char *detail, size_t detaillen);
int	ra_phone_check(const char *phone, char *detail, size_t detaillen);
int	ra_password_check(const struct ra_policy *, const char *password,
	    char *detail, size_t detaillen);
/* 43 base64url characters → 32 bytes. 0 or -1. */
int	ra_token_decode(const char *s, unsigned char out[RA_TOKEN_BYTES]);
/* 32 bytes → 43 base64url characters and a NUL. */
void	ra_token_encode(const unsigned char in[RA_TOKEN_BYTES],
	    char out[RA_TOKEN_B64_LEN + 1]);
/* explicit_bzero, named for grepping. */
void	ra_wipe(void *, size_t);

/*
 * sink.c: the LOCAL FILE SINK shared by the mail and SMS adapters. The
 * directory must be absolute (0 or -1 with err); a message (what: "mail
 * sink", for logs) becomes one 0600 file DIR/<time>-<random>.<ext>,
 * written whole or not at all. 0 or -1 (logged, without the message).
 */
int	ra_sink_dir_check(const char *dir, const char *what, char *err,
	    size_t errlen);
int	ra_sink_write(const char *dir, const char *ext, const char *what,
	    const char *msg);

/* mail.c: the mail sender adapters (ra/README.md "Mail senders"). */
struct ra_mailer;

/*
 * The LOCAL FILE SINK: each message is one file (0600) in dir, written to a
 * temporary name and renamed. Nothing is delivered. NULL with err.
 */
struct ra_mailer	*ra_mailer_file_sink(const char *dir, char *err,
			    size_t errlen);

/* pki.conf [ra] smtp_*: borrowed strings, NULL when absent. */
struct ra_smtp_conf {
	const char	*url;		/* smtp://HOST[:PORT] or smtps://... */
	const char	*from;		/* envelope and From: address */
	const char	*user;		/* AUTH user, with password_file */
	const char	*password_file;	/* 0600 (lib/secret.h) */
	int		 starttls;	/* 1: CURLUSESSL_ALL (smtp_starttls = required) */
	const char	*ca_file;	/* PEM CAs for the server; NULL: the system's */
};

/*
 * The SMTP sender (libcurl): checks the configuration (url scheme, from a
 * bare address, user and password file together, no AUTH in clear), reads
 * the password and calls curl_global_init(): call it before any thread is
 * started and before the sandbox. NULL with err (never the password).
 * ra_mailer_free() wipes the password and calls curl_global_cleanup().
 */
struct ra_mailer	*ra_mailer_smtp(const struct ra_smtp_conf *, char *err,
			    size_t errlen);
void			 ra_mailer_free(struct ra_mailer *);
/*
 * Sends one plain-text message. 0 or -1 (logged, without the body or the
 * recipient). A To or Subject that ra_mail_header_ok() refuses is -1 and
 * nothing is written or sent.
 */
int			 ra_mail_send(struct ra_mailer *, const char *to,
			    const char *subject, const char *body);
/*
 * Queues a notice in db's transaction (ra_mail_outbox, schema/033) for the
 * notifier to send, retried with back-off: for mails that must not undo
 * the change they tell of when they cannot be sent. 0 or -1.
 */
int			 ra_mail_queue(struct db *, const char *to,
			    const char *subject, const char *body);
/*
 * The same for the mail of a password reset token (reset.c, schema/048),
 * bound to its ra_password_reset row reset_id: the notifier never sends it
 * once that token expired or was used, and empties its body then. 0 or -1.
 */
int			 ra_mail_queue_reset(struct db *, const char *to,
			    const char *subject, const char *body,
			    const char *reset_id);
/* A header field value: non-empty printable US-ASCII (no CR, LF). 0 or -1. */
int			 ra_mail_header_ok(const char *);
/* 0 when s may be a mail's To (and envelope recipient), else -1. */
int			 ra_mail_addr_ok(const char *);
/*
 * The RFC 5322 message (Date, From when from is non-NULL, To, Subject,
 * Message-ID, MIME-Version, Content-Type text/plain; charset=utf-8,
 * Content-Transfer-Encoding 8bit; without from, the file sink's
 * X-PKI-Mail-Sink mark), the body's line ends made CRLF. *out is the
 * message (free it after ra_wipe()), or NULL and -1 when from or to is not a
 * bare address or a field holds CR, LF or other controls.
 */
int			 ra_mail_format(char **out, const char *from,
			    const char *to, const char *subject,
			    const char *body, time_t now);

/* ratelimit.c: fixed one-minute windows per client address, in memory. */
struct ra_ratelimit;

struct ra_ratelimit	*ra_ratelimit_new(long per_minute);
void			 ra_ratelimit_free(struct ra_ratelimit *);
/*
 * Counts one request of addr at now. 0 when allowed; otherwise the seconds
 * until the window ends (≥ 1), for Retry-After.
 */
long			 ra_ratelimit_hit(struct ra_ratelimit *,
			    const char *addr, time_t now);

/*
 * ratelimit.c: one token bucket over all clients, for the Argon2id hashes
 * and verifications (ra.password_hashes_per_second, ra.password_hash_burst):
 * each takes 25 to 40 ms of the one request thread, and the per-address
 * limits let many addresses together take all of it. Not locked: the
 * one request thread alone takes from it. ra_bucket_init: full, rate
 * tokens a second (≥ 1), burst at most (≥ 1). ra_bucket_take: n tokens
 * at now_ms (a monotonic clock, daemon_now_ms()): 0 when taken; otherwise
 * nothing is taken and it returns the whole seconds until n are there
 * (≥ 1; LONG_MAX when n exceeds burst), for Retry-After.
 */
struct ra_bucket {
	long		rate;
	long		burst;
	long long	milli;	/* tokens now, in thousandths */
	long long	at_ms;	/* when milli was last brought up to date */
};

void	ra_bucket_init(struct ra_bucket *, long rate, long burst,
	    long long now_ms);
long	ra_bucket_take(struct ra_bucket *, long n, long long now_ms);

/* The state rad's handlers share (main.c builds it). */
/* console.c: index.html, console.js, console.css */
#define RA_CONSOLE_NFILES	3

struct ra {
	const struct ra_policy	*policy;
	struct db		*db;
	struct ra_mailer	*mailer;
	struct ra_ratelimit	*rl_register;
	struct ra_ratelimit	*rl_login;
	struct ra_ratelimit	*rl_reset;	/* reset.c, per client address */
	struct ra_bucket	 hashes;	/* Argon2id runs, all clients */
	const char		*verify_url;	/* prefix of the emailed link */
	const char		*reset_url;	/* reset.c: "" mails the bare token */
	struct ra_idv		*idv;		/* KYC identity verification */
	char			 dummy_hash[256];	/* for unknown emails */
	struct ra_sms		*sms;		/* factor.c */
	struct factor_verifier	 fv;		/* OTP key, lock-out (lib/factor.h) */
	/* officer.c */
	struct ra_ratelimit	*rl_officer;
	unsigned char		 officer_key[32];	/* seals TOTP secrets */
	/* certificate.c, notifier.c */
	struct ra_cert		*cert;
	unsigned char		 totp_key[32];	/* totp.c: subscribers' TOTP */
	/* console.c: the officers' console, from ra.console_dir */
	int			 console_on;
	struct {
		char		*body;
		size_t		 len;
	}			 console[RA_CONSOLE_NFILES];
};

/*
 * console.c: the officers' console. ra_console_load reads the files of dir
 * (NULL or "": the console is off) into ra; 0, or -1 with err. The handler
 * serves GET /console/ and its files with a strict CSP.
 */
int	ra_console_load(struct ra *, const char *dir, char *err, size_t errlen);
void	ra_console_free(struct ra *);
int	ra_console_get(struct ra *, const struct http_request *,
	    struct http_response *);

/* Attempts of one transaction on serialization failure (db_transaction). */
#define RA_TXN_ATTEMPTS		3
/* The body limit of every route but those that say otherwise (route.c). */
#define RA_MAX_BODY		(16 * 1024)

/* A handler: answers in resp; -1 only for our own failure (500). */
typedef int	(*ra_handler)(struct ra *, const struct http_request *,
		    struct http_response *);

/* route.c: the http_handler of rad, every route. */
int	ra_handle(void *arg, const struct http_request *,
	    struct http_response *);
/*
 * route.c: lib/http's admit hook (lib/http.h lim.admit): each route's body
 * limit and the large routes' session, judged on the headers alone.
 */
int	ra_admit(void *arg, const struct http_request *,
	    struct http_response *);
/* The server's body limit: the largest any route allows. */
size_t	ra_max_body(const struct ra_policy *);

/* common.c: helpers every handler shares. */
/* RFC 9457 problem JSON, type about:blank. 0 or -1. */
int		 ra_problem(struct http_response *, int status,
		    const char *detail);
/* 429 with Retry-After. */
int		 ra_too_many(struct http_response *, long retry_after,
		    const char *detail);
/*
 * Before n Argon2id hashes or verifications (one request's, at most
 * RA_HASHES_MAX): takes n tokens of ra->hashes. 1: go on; 0: none left,
 * resp holds 503 with Retry-After (answer it, having changed nothing, as
 * for a 429 of a per-address limit); -1: our failure.
 */
#define RA_HASHES_MAX	2	/* a password change: verify, then hash */
int		 ra_hash_admit(struct ra *, long n, struct http_response *);
/* 503 with Retry-After (seconds). 0 or -1. */
int		 ra_unavailable(struct http_response *, long retry_after,
		    const char *detail);
/* 401 with WWW-Authenticate: Bearer (RFC 6750 §3). */
int		 ra_unauthorized(struct http_response *, const char *detail);
/* 1 when the request's Content-Type is application/json (RFC 8259 §11). */
int		 ra_is_json(const struct http_request *);
int		 ra_sha256(const unsigned char *, size_t, unsigned char out[32]);
/*
 * A new random token: its base64url text for the client, and the bytea
 * parameter of its SHA-256 digest for the database (free it). 0 or -1.
 */
int		 ra_token_new(char text[RA_TOKEN_B64_LEN + 1],
		    char **digest_param);
/* The bytea parameter of raw's SHA-256 (free it). NULL on failure. */
char		*ra_token_digest(const unsigned char raw[RA_TOKEN_BYTES]);
/* Argon2id (RFC 9106) at the policy's cost, fresh salt, PHC string. 0/-1. */
int		 ra_password_hash(const struct ra_policy *, const char *pw,
		    char *out, size_t outlen);
/*
 * The digest parameter of the request's Bearer token (RFC 6750 §2.1), or
 * NULL with *detail saying why (absent, malformed) or on failure.
 */
char		*ra_bearer(const struct http_request *, const char **detail);

/*
 * The audit actor of a subscriber's own action, "subscriber:<account id>",
 * into out; returns out.
 */
#define RA_ACTOR_MAX	48
const char	*ra_actor(char out[RA_ACTOR_MAX], const char *account_id);

/* Who a subscriber request is from. */
struct ra_subject {
	char	account_id[24];
	char	session_id[24];
};
/*
 * Authenticates the subscriber's Bearer session. 1: *who is filled; 0: a
 * 401 was put in resp (answer it); -1: our failure.
 */
int	ra_session_account(struct ra *, const struct http_request *,
	    struct http_response *, struct ra_subject *who);
/*
 * The start of a subscriber's request with a JSON body: the session (as
 * ra_session_account) and the content type. 1: go on; 0: a 401 or 415 was
 * put in resp (answer it); -1: our failure.
 */
int	ra_subscriber_json(struct ra *, const struct http_request *,
	    struct http_response *, struct ra_subject *who);
/*
 * ra_subscriber_json for a route with an id in its path (prefix, id,
 * suffix): the session, then the id (404 not_found), then the content type.
 * Same answers.
 */
int	ra_subscriber_post(struct ra *, const struct http_request *,
	    struct http_response *, struct ra_subject *who, const char *prefix,
	    const char *suffix, char id[24], const char *not_found);
/*
 * ra_subscriber_post for a request that takes no member (ra_parse_empty):
 * the session, the id, then a body that is absent or "{}" (415 when a body
 * is not application/json, 400 when it is not an empty object). Same
 * answers.
 */
int	ra_subscriber_post_bare(struct ra *, const struct http_request *,
	    struct http_response *, struct ra_subject *who, const char *prefix,
	    const char *suffix, char id[24], const char *not_found);
/*
 * The decimal id between prefix and suffix of path ("/v1/x/", "/y"): 1 to
 * 18 digits, no leading zero (a positive BIGINT). 0 with out filled, or
 * -1 (out "") when path has another shape. tests/fuzz/fuzz_ra_path.c.
 */
int	ra_path_id(const char *path, const char *prefix, const char *suffix,
	    char out[24]);

/* account.c: registration, email verification, sessions. */
int	ra_account_init(struct ra *);
int	ra_register(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_verify_email(struct ra *, const struct http_request *,
	    struct http_response *);
/*
 * A new email verification link for account_id, stored as its SHA-256
 * (email_verification.ttl_seconds) and mailed to `to` with subject, intro
 * before the link: inside the caller's transaction, before its COMMIT.
 * change 0: the link verifies the account's own address (`to`); 1: it
 * completes a pending change of the account's address to `to` (stored as
 * the link's new_email, schema/062). 0; RA_LINK_MAIL_FAILED when the mail
 * could not be sent; -1 on any other failure. The token is wiped.
 */
#define RA_LINK_MAIL_FAILED	(-2)
int	ra_verify_link_send(struct ra *, struct db *, const char *account_id,
	    const char *to, int change, const char *subject, const char *intro);
/*
 * Whether account_id may be mailed one more verification link now:
 * email_verification.per_hour links an hour and per_day a day, every link
 * counted (registration, resend, POST /v1/email). The caller holds the
 * account's row lock (FOR UPDATE) and counts in a statement after it, so
 * that concurrent requests count one at a time. 1 yes; 0 no, with
 * *retry_after the seconds until the oldest link counted leaves its window
 * (the day's when both caps are reached); -1 failure.
 */
int	ra_verify_link_quota_locked(struct ra *, struct db *,
	    const char *account_id, long *retry_after);
/* POST /v1/verify-email/resend: a new link for the session's account. */
int	ra_verify_email_resend(struct ra *, const struct http_request *,
	    struct http_response *);
/* GET /verify-email?token=… (a page with a button) and its form POST. */
int	ra_verify_email_page(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_verify_email_form(struct ra *, const struct http_request *,
	    struct http_response *);
/*
 * Their token from the query string or the form body (len bytes, not
 * NUL-terminated): exactly "token=<RA_TOKEN_B64_LEN base64url
 * characters>", canonical. 0 with tok decoded and text its characters
 * (NUL-terminated), or -1. tests/fuzz/fuzz_ra_path.c.
 */
int	ra_token_field(const char *s, size_t len,
	    unsigned char tok[RA_TOKEN_BYTES], char text[RA_TOKEN_B64_LEN + 1]);
int	ra_login(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_logout(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_me(struct ra *, const struct http_request *,
	    struct http_response *);

/*
 * --- Second factors (factor.c, factor_request.c, sms.c) -------------------
 *
 * A sensitive action (agreement, rekey, revocation, changing the email,
 * phone, password or PIN) carries a factor member, a JSON object:
 *	{"type":"otp","otp_id":N,"code":"123456"}  a code from POST /v1/otp
 *	{"type":"pin","pin":"123456"}		    the account's PIN
 *	{"type":"totp","code":"123456"}		    RFC 6238, once enrolled and
 *						    confirmed (POST /v1/totp)
 */
#define RA_OTP_DIGITS		FACTOR_DIGITS
#define RA_PIN_DIGITS		6
#define RA_PURPOSE_MAX		16

/* struct factor and enum factor_type: lib/factor.h. */
/* A CSC credentialID as signd takes it: 1..18 digits, no leading zero. */
#define RA_CREDENTIAL_ID_MAX	18
struct ra_otp_req {
	char	channel[8];			/* "email" or "sms" */
	char	purpose[RA_PURPOSE_MAX + 1];	/* one of ra_purpose_check's */
	/*
	 * Purpose sign only, and there required: the credential
	 * ("credential_id", checked against the account by ra_otp_issue)
	 * and the documents' hashes ("hashes", "hash_algo"), as
	 * factor_sign_binding() of them.
	 */
	char		credential[RA_CREDENTIAL_ID_MAX + 1];	/* "": none */
	unsigned int	documents;		/* how many hashes; 0: none */
	unsigned char	binding[FACTOR_BINDING_LEN];
};
struct ra_phone_verify_req {
	long long	otp_id;
	char		code[FACTOR_DIGITS + 1];	/* wipe */
};
struct ra_pin_req {
	char			pin[RA_PIN_DIGITS + 1];	/* the new PIN; wipe */
	struct factor	factor;
};

/*
 * factor_request.c (stateless; fuzzed). The body parsers follow the rules of
 * ra_parse_register; ra_factor_parse checks one factor object (borrowed).
 * Details never quote a code or PIN. On failure the output is zeroed.
 */
int	ra_parse_otp_request(const void *body, size_t len, struct ra_otp_req *,
	    char *detail, size_t detaillen);
int	ra_parse_phone_verify(const void *body, size_t len,
	    struct ra_phone_verify_req *, char *detail, size_t detaillen);
int	ra_parse_pin_set(const void *body, size_t len, struct ra_pin_req *,
	    char *detail, size_t detaillen);
int	ra_factor_parse(json_t *factor, struct factor *, char *detail,
	    size_t detaillen);
/* 0 when purpose is one of the fixed list (schema/010 ra_otp.purpose). */
int	ra_purpose_check(const char *purpose);

/* kyc.c: an account's state against a new application (KYC or rekey). */
enum ra_kyc_outcome {
	RA_KYC_DONE = 0,
	RA_KYC_EMAIL_UNVERIFIED,	/* 403 */
	RA_KYC_PHONE_UNVERIFIED,	/* 403 */
	RA_KYC_OPEN,			/* 409 */
	RA_KYC_NO_COMPANY,		/* 404: corporate.c */
	RA_KYC_REMOVED,			/* 403: removed from the company */
	RA_KYC_TOO_MANY,		/* 429: kyc.per_day */
	RA_KYC_OTHER_PERSON,		/* 409: verified as another NIK */
};
/*
 * RA_KYC_LOCK: FOR UPDATE on the account first; RA_KYC_COUNT_ONLY: only
 * the day's count (a rekey, whatever the account's verification state);
 * *retry the seconds to wait for RA_KYC_TOO_MANY (kyc.per_day applications
 * with KYC in a day: a rekey carries its KYC over, so it counts, and is
 * counted). 0 or -1.
 */
#define RA_KYC_LOCK		0x1
#define RA_KYC_COUNT_ONLY	0x2
int	ra_kyc_account_state(struct db *, const struct ra_policy *,
	    const char *account_id, int flags, enum ra_kyc_outcome *,
	    long *retry);
/*
 * The code for one 32-bit random draw: 0 with 6 digits in out, or -1 when v
 * falls in the top 2^32 mod 10^6 values, which would bias the result (draw
 * again). ra_otp_code_new draws from RAND_bytes until one fits. 0 or -1.
 */
int	ra_otp_code_from(uint32_t v, char out[FACTOR_DIGITS + 1]);
int	ra_otp_code_new(char out[FACTOR_DIGITS + 1]);
/* 6 ASCII digits, not all one digit, not a run up or down (mod 10). */
int	ra_pin_check(const char *pin, char *detail, size_t detaillen);

/* sms.c: the SMS sender adapter: the LOCAL FILE SINK or an HTTPS gateway. */
struct ra_sms;
struct ra_sms_gateway_conf {
	const char	*url;		/* https://…, or http:// to loopback */
	const char	*token_file;	/* the Bearer token, 0600 */
	const char	*ca_file;	/* NULL: the system's CA store */
	const char	*sender;	/* NULL: "PKI RA" */
};

struct ra_sms	*ra_sms_file_sink(const char *dir, char *err, size_t errlen);
/* Before any thread and the sandbox (curl_global_init, the token file). */
struct ra_sms	*ra_sms_gateway(const struct ra_sms_gateway_conf *, char *err,
		    size_t errlen);
void		 ra_sms_free(struct ra_sms *);
/* Sends one text to an E.164 number. 0 or -1 (logged, without the text). */
int		 ra_sms_send(struct ra_sms *, const char *to, const char *text);

/* factor.c; struct factor_outcome and enum factor_result: lib/factor.h. */
/*
 * Reads the OTP HMAC key: a file of mode 0600 holding 64 hex digits (256
 * bits; deploy/stack.sh writes it with openssl rand once). 0, or -1 with err.
 */
int	ra_factor_init(struct ra *, const char *key_file, char *err,
	    size_t errlen);

/*
 * THE VERIFIER every sensitive action calls, inside its own transaction
 * (the db of its db_transaction fn), BEFORE any change of its own:
 *
 *	if (ra_factor_verify(ra, db, id, "revoke", factor, &fo) == -1)
 *		return -1;			(our failure: roll back)
 *	if (fo.result != FACTOR_OK)
 *		return 0;			(COMMIT: only the failure record)
 *	... the action's change and audit_append() ...
 *
 * and, after db_transaction, answers a refusal with ra_factor_respond().
 * A wrong code or PIN is recorded (the OTP's attempts, the account's
 * factor_failures and lock, audit ra.otp.failed / ra.factor.failed /
 * ra.factor.lock); that record must COMMIT although the action is refused,
 * or guessing would cost nothing. Any other refusal writes nothing. On
 * FACTOR_OK an OTP is consumed (single use) and the failure count reset,
 * both part of the caller's transaction: if the caller then fails and rolls
 * back, the OTP stays usable. An OTP authorizes only the purpose it was
 * issued for; a PIN authorizes any. The account row is locked FOR UPDATE.
 * factor: borrowed; purpose: one of ra_purpose_check's. Returns 0 with
 * *out filled (whatever the result), -1 on our failure (logged).
 */
int	ra_factor_verify(struct ra *, struct db *, const char *account_id,
	    const char *purpose, json_t *factor, struct factor_outcome *out);
/* The same for a factor parsed beforehand with ra_factor_parse. */
int	ra_factor_check(struct ra *, struct db *, const char *account_id,
	    const char *purpose, const struct factor *,
	    struct factor_outcome *out);
/* Answers a refusal: 400, 401 (no WWW-Authenticate) or 429. 0 or -1. */
int	ra_factor_respond(struct http_response *,
	    const struct factor_outcome *);

int	ra_otp_send(struct ra *, const struct http_request *,
	    struct http_response *);
/*
 * One OTP issued inside the caller's transaction by POST /v1/otp's rules:
 * the account row locked, the factor lock-out, otp.per_hour and, by SMS,
 * otp.per_phone_hour; no phone_verify, set_pin or totp_enrol for an
 * account whose address was never verified; phone_verify only while the
 * phone is unverified, an email
 * code only to a verified address; a sign code only for a credential of
 * the account's own that can sign now (signd's sign_credential: its
 * certificate neither revoked nor on hold, within its validity), which its
 * message names (kind, name, serial); the code stored as its HMAC,
 * audited (ra.otp.send), and sent before COMMIT. 0 with id and expires
 * filled; -1 with refused set (roll back and answer it), or with refused
 * RA_OTP_ISSUED on our failure.
 */
enum ra_otp_refusal {
	RA_OTP_ISSUED = 0,
	RA_OTP_LOCKED,			/* 429: the factor lock-out */
	RA_OTP_RATE,			/* 429: otp.per_hour */
	RA_OTP_PHONE_RATE,		/* 429: otp.per_phone_hour */
	RA_OTP_PHONE_VERIFIED,		/* 409: phone_verify, nothing to do */
	RA_OTP_SEND_FAILED,		/* 503 */
	RA_OTP_EMAIL_UNVERIFIED,	/* 409: no code to an unproven address */
	RA_OTP_NEVER_VERIFIED,		/* 403: a factor before the account's
					   first address is verified */
	RA_OTP_NO_CREDENTIAL,		/* 404: credential_id unknown or
					   another account's */
	RA_OTP_CREDENTIAL_UNUSABLE,	/* 409: revoked, held, expired or not
					   yet valid */
};
/* A sign code's credential as its message names it (ra_otp_issue). */
struct ra_otp_credential {
	char	profile[40];	/* certificate.profile: "personal", "eseal" */
	char	kind[32];	/* for people: "personal certificate", "e-seal" */
	char	serial[72];	/* hex, as certificate.serial */
	char	name[260];	/* the subject's CN; "" when none or unreadable */
};
struct ra_otp_issue {
	const char		*account_id;
	const char		*actor;		/* of ra.otp.send; NULL: the
						   account's ("subscriber:<id>") */
	const char		*channel;	/* "email" or "sms" */
	const char		*purpose;	/* one of ra_purpose_check's */
	const char		*client;
	/*
	 * Purpose sign: the credential and the documents (ra_otp_req's;
	 * binding is of both); else NULL, NULL and 0.
	 */
	const char		*credential;
	const unsigned char	*binding;
	unsigned int		 documents;
	struct ra_otp_credential cred;		/* out, with credential */
	enum ra_otp_refusal	 refused;
	long			 retry_after;	/* the 429s */
	char			 id[24];
	char			 expires[40];	/* RFC 3339 UTC */
};
int	ra_otp_issue(struct ra *, struct db *, struct ra_otp_issue *);
/* Answers a refusal of ra_otp_issue (429, 409 or 503). 0 or -1. */
int	ra_otp_refusal_respond(struct http_response *,
	    const struct ra_otp_issue *);
int	ra_phone_verify(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_pin_set(struct ra *, const struct http_request *,
	    struct http_response *);

/* officer.c: RA officers (pkictl creates them), log-in with password + TOTP. */
#define RA_OFFICER_USERNAME_MAX	64	/* ^[a-z][a-z0-9._-]{2,63}$ */
#define RA_OFFICER_TOTP_MAX	8
/* A timestamptz column as RFC 3339 UTC text ("2026-12-04T14:40:31Z"), in SQL. */
#define RA_TS(col)	"to_char(" col " AT TIME ZONE 'UTC', " \
			"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
/*
 * A company's status in SQL (c: ra_company, a: its application): pending,
 * active, rejected or cancelled as its application is submitted, approved,
 * ..., unless an officer deactivated it (schema/031): deactivated.
 */
#define RA_COMPANY_STATUS	"CASE WHEN c.deactivated_at IS NOT NULL THEN " \
				"'deactivated' WHEN a.status = 'submitted' THEN " \
				"'pending' WHEN a.status = 'approved' THEN " \
				"'active' ELSE a.status END"
/*
 * The company application_id was made for, its row shared until COMMIT (a
 * deactivation is waited for and seen): 1 active, 0 not, 2 no company, -1.
 */
int	ra_company_share(struct db *, const char *application_id);
/*
 * Queues, in db's transaction, the mail that tells the subscriber of
 * certificate_id, just revoked there, that it was revoked, why (reason)
 * and by whom ("the registration authority", "you") (ETSI EN 319 411-1:
 * the subject is told of a change of its certificate's status); the
 * notifier sends it (ra_mail_queue). 0 (also when no application led to
 * the certificate: nobody to tell), or -1 (the database).
 */
int	ra_revocation_notice(struct db *, const char *certificate_id,
	    const char *reason, const char *by);
/* The same for status "suspended" (a hold) or "released" (reason ignored). */
int	ra_status_notice(struct db *, const char *certificate_id,
	    const char *status, const char *reason, const char *by);
/* 400/409 detail tail: a reason policy review.revocation_reasons excludes. */
#define RA_REASON_NOT_ALLOWED "is not a reason the RA's officers may " \
	"revoke for (policy review.revocation_reasons)"
/* 409 on an application made for a company that is not active. */
#define RA_COMPANY_INACTIVE "the company this application is made for is " \
	"not active (deactivated by the RA)"
/*
 * 409 on an e-seal (or its rekey) whose representative's identity the RA
 * or CA withdrew since the submission (ra_corporate_representative_stands).
 */
#define RA_ESEAL_REPRESENTATIVE_GONE "the company's representative no " \
	"longer has a verified identity: they hold no certificate of their " \
	"own that the RA or CA has not revoked or suspended"
/* 403 to an officer whose linked account belongs to the company (schema/028). */
#define RA_OFFICER_COMPANY_DETAIL "your linked subscriber account belongs " \
	"to this company (representative, sysadmin or employee); an officer " \
	"outside it must act"

struct ra_officer_login_req {
	char	username[RA_OFFICER_USERNAME_MAX + 1];
	char	password[RA_PASSWORD_MAX + 1];		/* wipe with ra_wipe() */
	char	totp[RA_OFFICER_TOTP_MAX + 1];		/* wipe with ra_wipe() */
};
/* {"username","password","totp"}, strict as ra_parse_login. 0 or -1. */
int	ra_parse_officer_login(const void *body, size_t len,
	    struct ra_officer_login_req *, char *detail, size_t detaillen);
/* 0 when username has the shape of schema/011_ra_officer.sql, else -1. */
int	ra_officer_username_check(const char *username);

/*
 * Who an officer request is from. Audit events of officers use the actor
 * "officer:<officer_id>" (ra_officer_actor).
 */
struct ra_officer_subject {
	char	officer_id[24];
	char	username[RA_OFFICER_USERNAME_MAX + 1];
	char	role[16];		/* ra_officer, ra_admin, auditor */
	char	account_id[24];		/* own subscriber account, or "" */
	char	session_id[24];
	char	expires_at[40];		/* of the session, RFC 3339 UTC */
};
/*
 * Authenticates an officer's Bearer session (never a subscriber's) and
 * checks the officer's role is one of roles_allowed (NULL-terminated; NULL
 * allows every role). 1: *who is filled; 0: a 401 (no valid officer
 * session, or the officer is disabled) or 403 (role) was put in resp
 * (answer it); -1: our failure.
 */
int	ra_officer_session(struct ra *, const struct http_request *,
	    struct http_response *, const char *const *roles_allowed,
	    struct ra_officer_subject *who);
/*
 * The start of an officer's POST of a JSON body to PREFIX{id}SUFFIX: a
 * session of one of roles (who), the id (404 not_found), the content type
 * (415). 1: go on; 0: answered; -1: our failure.
 */
int	ra_officer_post(struct ra *, const struct http_request *,
	    struct http_response *, const char *const *roles,
	    struct ra_officer_subject *who, const char *prefix,
	    const char *suffix, char id[24], const char *not_found);
/* "officer:<id>" into out. */
void	ra_officer_actor(const struct ra_officer_subject *, char *out,
	    size_t outlen);
/*
 * 1 when the officer's role reads a subscriber's identity masked (the
 * auditor: ra/README.md "Masked identifiers"), else 0.
 */
int	ra_officer_masked(const struct ra_officer_subject *);
/*
 * A certificate's subject DN (text) as the officer's role may read it: for
 * the auditor the NIK masked by ra_mask_dn (NIK:************9915), for
 * the others whole. A new JSON string (the caller owns it), or NULL when
 * out of memory.
 */
json_t	*ra_officer_dn(const struct ra_officer_subject *, const char *dn);
/* Loads ra.officer_key_file and makes the log-in limiter. 0 or -1, logged. */
int	ra_officer_init(struct ra *, const struct config *);
void	ra_officer_free(struct ra *);
int	ra_officer_login(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_officer_logout(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_officer_me(struct ra *, const struct http_request *,
	    struct http_response *);

/* --- KYC: nik.c, idv.c, kycreq.c (the parser), kyc.c ---------------------- */
#define RA_NIK_LEN		16
/*
 * full_name, bytes (ASCII letters and . , ' -): it becomes the certificate's
 * CN, which cad's lint caps at ub-common-name, 64 (RFC 5280 Appendix A). A
 * longer name was accepted here, approved, agreed to, then refused by cad,
 * leaving an application no one could finish or replace.
 */
#define RA_NAME_MAX		64
#define RA_PLACE_MAX		64	/* birth_place, bytes */
#define RA_ADDRESS_MAX		256	/* address, bytes */
#define RA_IMAGE_MIN		16	/* bytes: less is no picture */
#define RA_IMAGE_HARD_MAX	(8L * 1024 * 1024)	/* policy may be lower */
#define RA_WIB_OFFSET_S		(7 * 3600)	/* ages count in UTC+7 */

struct ra_date {
	int	year, month, day;
};
/* A NIK's fields once its structure is valid (nik.c). */
struct ra_nik {
	int	province, regency, district;
	int	day, month, yy;		/* day without the +40 */
	char	sex;			/* 'M' or 'F' */
	int	serial;
};
enum ra_nik_result {
	RA_NIK_OK = 0,
	RA_NIK_MALFORMED = -1,		/* structure (400) */
	RA_NIK_MISMATCH = -2,		/* against birth date or sex (422) */
};
/* 1 when code is a province of Kepmendagri 100.1.1-6117/2022. */
int	ra_province_valid(int code);
/* Days of month m of year y (Gregorian), 0 for a month outside 1-12. */
int	ra_days_in_month(int y, int m);
/*
 * Masked identifiers (mask.c), for audit details, mail subjects and the
 * auditor's view; out is always NUL-terminated (truncated to outlen).
 * ra_mask_nik: "************9915" (all but the last four digits);
 * ra_mask_phone: "+62812****4174"; ra_mask_email: "li…@example.com".
 */
#define RA_MASK_MAX	(RA_EMAIL_MAX + 8)
void	ra_mask_nik(const char *nik, char *out, size_t outlen);
void	ra_mask_phone(const char *phone, char *out, size_t outlen);
void	ra_mask_email(const char *email, char *out, size_t outlen);
/* dn with the digits of each "NIK:" masked as ra_mask_nik does. */
void	ra_mask_dn(const char *dn, char *out, size_t outlen);
/* The structure of a NIK; 0, or -1 with a detail that does not quote it. */
int	ra_nik_parse(const char *nik, struct ra_nik *, char *detail,
	    size_t detaillen);
/* Structure, then agreement with birth and sex ('M'/'F'): ra_nik_result. */
int	ra_nik_check(const char *nik, const struct ra_date *birth, char sex,
	    char *detail, size_t detaillen);
/* Strict YYYY-MM-DD, a real Gregorian date from 1900 on. 0 or -1. */
int	ra_date_parse(const char *s, struct ra_date *);
/* Whole years from birth to today (29 February: older on 1 March). */
int	ra_age_years(const struct ra_date *birth, const struct ra_date *today);
/* Today's date in Indonesia's western time (UTC+7). 0 or -1. */
int	ra_date_today(struct ra_date *);

/* A decoded image whose header was checked (kycreq.c, image.c). */
struct ra_image {
	unsigned char	*data;		/* malloc'd; freed by ra_kyc_req_free */
	size_t		 len;
	const char	*mime;		/* "image/jpeg" or "image/png" */
	unsigned long	 width, height;	/* px, as its header declares */
};
/* POST /v1/applications, kind personal. */
struct ra_kyc_req {
	char		nik[RA_NIK_LEN + 1];
	char		full_name[RA_NAME_MAX + 1];
	char		birth_place[RA_PLACE_MAX + 1];
	char		birth_date[11];
	struct ra_date	birth;
	char		sex;			/* 'M' or 'F' */
	char		address[RA_ADDRESS_MAX + 1];
	char		privacy_version[RA_VERSION_MAX + 1];
	char		agreement_version[RA_VERSION_MAX + 1];
	char		guarantee_version[RA_VERSION_MAX + 1];
	struct ra_image	ktp;
	struct ra_image	selfie;
	/* corporate.c: an employee's application for company_id (0: none) */
	long long	company_id;
};
/* The largest body a KYC submission with two images of max bytes needs. */
size_t	ra_kyc_max_body(long image_max);
/* The same at the policy's kyc.image_max_bytes (route.c's limit). */
size_t	ra_kyc_route_max(const struct ra_policy *);
/*
 * Parses a KYC body (strict JSON, RFC 8259; images in base64, RFC 4648 §4,
 * padded) of at most ra_kyc_max_body(lim->max_bytes) bytes. 0, or -1 with
 * *status the answer (400 malformed, 413 an image over lim->max_bytes, 415
 * an image neither JPEG nor PNG by its magic bytes or whose header does not
 * parse as the type they say, 422 an image whose declared pixel size is
 * outside lim: ra_image_check) and a detail quoting no value. Field rules
 * only: NIK structure and consistency, age and consent versions are the
 * caller's (they need policy and the date). Free with ra_kyc_req_free (also
 * after a failure).
 */
int	ra_parse_kyc(const void *body, size_t len,
	    const struct ra_image_limits *lim, struct ra_kyc_req *, int *status,
	    char *detail, size_t detaillen);
void	ra_kyc_req_free(struct ra_kyc_req *);
/*
 * Standard base64 (RFC 4648 §4) with padding, no whitespace, through
 * EVP_DecodeBlock. *out malloc'd (free it). 0, or -1 when malformed or when
 * the result would exceed max bytes (*too_big set then).
 */
int	ra_base64_decode(const char *s, size_t slen, size_t max,
	    unsigned char **out, size_t *outlen, int *too_big);
/* "image/jpeg" or "image/png" from the magic bytes, or NULL. */
const char *ra_image_type(const unsigned char *, size_t);
/*
 * image.c: reads the header of an image whose magic bytes gave mime (PNG
 * with libpng up to its first IDAT, JPEG with libjpeg up to its first SOS;
 * nothing is decoded) and checks its declared width and height against lim:
 * each side min_side..max_side, width * height at most max_pixels. Sets
 * *width and *height (0 when unknown).
 * RA_IMAGE_OK; RA_IMAGE_MALFORMED (the caller answers 415) when the header
 * does not parse as mime or a PNG is animated (APNG); RA_IMAGE_DIMENSIONS (422) when it parses but the
 * size is outside lim; RA_IMAGE_ERROR (500) when out of memory. The detail
 * starts with name (the member: ktp_photo, selfie) and never quotes the
 * image's bytes; nothing is logged. Stateless: tests/fuzz/fuzz_ra_image.c.
 */
enum ra_image_check {
	RA_IMAGE_OK = 0,
	RA_IMAGE_MALFORMED = -1,
	RA_IMAGE_DIMENSIONS = -2,
	RA_IMAGE_ERROR = -3,
};
int	ra_image_check(const unsigned char *p, size_t len, const char *mime,
	    const struct ra_image_limits *lim, const char *name,
	    unsigned long *width, unsigned long *height, char *detail,
	    size_t detaillen);

/* idv.c: the identity-verification adapter. */
struct ra_idv_input {
	const char		*nik;
	const char		*full_name;
	const char		*birth_date;	/* YYYY-MM-DD */
	const unsigned char	*ktp;
	size_t			 ktp_len;
	const unsigned char	*selfie;
	size_t			 selfie_len;
};
struct ra_idv_result {
	char	ocr_nik[RA_NIK_LEN + 1];	/* read from the e-KTP photo */
	char	ocr_name[RA_NAME_MAX + 1];
	char	ocr_birth_date[11];
	int	liveness;		/* 0-100, of the selfie */
	int	match;			/* 0-100, selfie against the registry */
	char	reference[64];		/* the provider's reference */
};
struct ra_idv;
/*
 * The adapter named by ra.idv; only "simulator" (the LOCAL SIMULATOR) is
 * shipped. NULL with err for any other name. Free with ra_idv_free.
 */
struct ra_idv	*ra_idv_new(const char *name, char *err, size_t errlen);
void		 ra_idv_free(struct ra_idv *);
const char	*ra_idv_name(const struct ra_idv *);
/* One verification; 0, or -1 (logged, never with the images or NIK). */
int		 ra_idv_verify(struct ra_idv *, const struct ra_idv_input *,
		    struct ra_idv_result *);

/* kyc.c: the subscriber's applications. */
int	ra_application_submit(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_application_list(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_application_get(struct ra *, const struct http_request *,
	    struct http_response *);

/*
 * --- Review by RA officers: reviewreq.c (parsers; fuzzed), review.c -------
 */
#define RA_REVIEW_Q_MAX		100	/* bytes of a decoded search text */
#define RA_REVIEW_PAGE_MAX	100000
#define RA_REVIEW_PER_PAGE_MAX	100
#define RA_REVIEW_PER_PAGE_DEF	20
#define RA_REVIEW_REASON_MAX	1000	/* bytes; ra_application.decision_reason */
#define RA_REVIEW_QUERY_MAX	1024	/* bytes of a raw query string */

/*
 * GET /v1/officer/applications, /v1/officer/certificates,
 * /v1/officer/companies and /v1/officer/revocation-requests.
 */
struct ra_list_query {
	char	status[16];		/* "" for any */
	char	kind[16];		/* "" for any */
	char	profile[16];		/* "" for any */
	int	awaiting_mine;		/* awaiting=mine: 1 */
	char	q[RA_REVIEW_Q_MAX + 1];	/* decoded UTF-8; "" for none */
	long	page;			/* 1.. */
	long	per_page;		/* 1..RA_REVIEW_PER_PAGE_MAX */
};
#define RA_LIST_APPLICATIONS	1	/* every filter above, q, paging */
#define RA_LIST_CERTIFICATES	2	/* q, page, per_page */
#define RA_LIST_COMPANIES	3	/* status, q, page, per_page */
#define RA_LIST_REVREQS		4	/* status, q, page, per_page */
/*
 * Parses a raw query string (http_query: undecoded, '&'-separated,
 * RFC 3986 §3.4, %XX and '+' decoded here) of the list named by which:
 * every parameter at most once, none unknown, values valid. 0, or -1 with a
 * detail (the search text is not quoted).
 */
int	ra_parse_list_query(const char *qs, int which, struct ra_list_query *,
	    char *detail, size_t detaillen);
/*
 * The start of GET on an officers' list named by which: the request's query
 * string parsed into *lq, and its page's LIMIT and OFFSET as text in lim and
 * off. 1 to go on; 0 when resp holds the 400; -1 on our failure.
 */
int	ra_list_begin(const struct http_request *, struct http_response *,
	    int which, struct ra_list_query *, char lim[16], char off[24]);
/*
 * Answers 200 {member: a, "total", "page", "per_page"}; total is the
 * count's decimal text, a is borrowed. 0 or -1.
 */
int	ra_list_respond(struct http_response *, const char *member, json_t *a,
	    const char *total, const struct ra_list_query *);

struct ra_decision_req {
	int	approve;			/* 1 approve, 0 reject */
	char	reason[RA_REVIEW_REASON_MAX + 1];
};
/* {"decision":"approve"|"reject","reason":"..."} strictly. 0 or -1. */
int	ra_parse_decision(const void *body, size_t len,
	    struct ra_decision_req *, char *detail, size_t detaillen);
/* {"reason":"..."} strictly (an officer's cancellation or new order). */
int	ra_parse_reason(const void *body, size_t len,
	    char reason[RA_REVIEW_REASON_MAX + 1], char *detail,
	    size_t detaillen);

struct ra_deactivation_req {
	char	reason[RA_REVIEW_REASON_MAX + 1];
	int	revoke_certificates;		/* 0 or 1 */
};
/* {"reason":"...","revoke_certificates":bool?} strictly. 0 or -1. */
int	ra_parse_deactivation(const void *body, size_t len,
	    struct ra_deactivation_req *, char *detail, size_t detaillen);

struct ra_revoke_req {
	int	reason;				/* RFC 5280 §5.3.1 code */
	char	reason_name[24];
	char	comment[RA_REVIEW_REASON_MAX + 1];
	char	invalidity_date[21];		/* "" or YYYY-MM-DDTHH:MM:SSZ */
	time_t	invalidity;			/* when invalidity_date is set */
};
/*
 * {"reason":"keyCompromise",...,"comment":"...","invalidity_date"?:
 * "YYYY-MM-DDTHH:MM:SSZ"} strictly; reason any RFC 5280 name but
 * removeFromCRL (policy narrows it further). 0 or -1.
 */
int	ra_parse_revoke(const void *body, size_t len, struct ra_revoke_req *,
	    char *detail, size_t detaillen);
/* The RFC 5280 §5.3.1 CRLReason code of name, or -1 (8 is no reason). */
int	ra_revocation_reason_code(const char *name);
const char *ra_revocation_reason_name(int code);
/*
 * 1 when the policy's review.revocation_reasons allows the RFC 5280 reason
 * name (officers revoke for no other: their own revocations, a sysadmin's
 * request carried out, a deactivation's), 0 when not or unknown.
 */
int	ra_policy_reason_allowed(const struct ra_policy *, const char *name);
/* 1 when word appears in the list (words apart by spaces or commas), else 0. */
int	ra_word_in(const char *list, const char *word);

/* review.c: the officer endpoints (ra/README.md "Review"). */
int	ra_review_list(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_review_get(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_review_evidence(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_review_decide(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_review_cert_list(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_review_revoke(struct ra *, const struct http_request *,
	    struct http_response *);
/* POST /v1/officer/certificates/{id}/hold and .../release, {"reason"}. */
int	ra_review_hold(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_review_release(struct ra *, const struct http_request *,
	    struct http_response *);

/*
 * --- Certificates: certreq.c (parsers), certificate.c, notifier.c -------
 */
struct ra_agree_req {
	char		terms[65];	/* the preview's, lowercase hex */
	struct factor	factor;		/* wipe with ra_wipe() */
};
struct ra_self_revoke_req {
	int			reason;		/* RFC 5280 §5.3.1: 0 or 9 */
	struct factor	factor;		/* wipe with ra_wipe() */
};
/*
 * {"accept":true,"factor":{...}}; {"reason","factor"}; {"factor"}: strict
 * as ra_parse_register. 0, or -1 with a detail quoting no value (the output
 * is then all zero).
 */
int	ra_parse_agree(const void *body, size_t len, struct ra_agree_req *,
	    char *detail, size_t detaillen);
int	ra_parse_self_revoke(const void *body, size_t len,
	    struct ra_self_revoke_req *, char *detail, size_t detaillen);
int	ra_parse_rekey(const void *body, size_t len, struct factor *,
	    char *detail, size_t detaillen);
/* A subscriber's reason name → its code: "unspecified" 0,
   "privilegeWithdrawn" 9; -1 for any other. */
int	ra_revocation_reason(const char *name);
/*
 * The RFC 2253 string of a subject (JSON object attribute → string, as
 * issuance_order.subject) in cad's RDN order, as OpenSSL's XN_FLAG_RFC2253
 * prints it (bytes outside printable ASCII as \XX). 0, or -1 (out = "")
 * when it is not such an object, holds an unknown attribute or does not fit.
 */
int	ra_subject_dn(const char *subject_json, size_t len, char *out,
	    size_t outlen);

/* certificate.c */
struct ra_cert;
/*
 * Reads the agreement profile's validity (pki.policy_dir) and the issuing
 * CA's name (cad.issuer), connects the notifier's own database connection
 * and starts its thread (notifier.c). Before the sandbox, after the signal
 * mask. 0 or -1, logged.
 */
int	ra_certificate_init(struct ra *, const struct config *);
/* Stops the notifier and frees; NULL-safe. */
void	ra_certificate_free(struct ra *);
int	ra_agreement_get(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_agreement_post(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_certificate_list(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_certificate_get(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_certificate_revoke(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_certificate_rekey(struct ra *, const struct http_request *,
	    struct http_response *);
/*
 * SQL: the issuing CA of certificate c (an alias) can never be trusted
 * again: its own certificate's row (ca_certificate_status, schema/103, as
 * cad's claim reads it, RA_ISSUER_STOPPED) revoked for good, any reason
 * but certificateHold.
 * No relying party accepts what it issued, however far from expiry, so a
 * certificate under it may be rekeyed at once, regardless of
 * rekey.window_days (certificate.c).
 */
#define RA_CERT_ISSUER_REVOKED(c) \
	"EXISTS (SELECT 1 FROM ca_certificate_status ri WHERE ri.id = " c \
	".issuer_id AND ri.revoked_at IS NOT NULL AND " \
	"ri.revocation_reason <> 6)"
/*
 * SQL: why certificate c (an alias) can no longer be rekeyed: 'on hold',
 * 'revoked', 'expired', or NULL while it may. One that the CA revoked as
 * cACompromise (2) while its issuing CA's own certificate is revoked for
 * good may: the reason is its issuer's, not its subscriber's, whose
 * verified identity stands. The rekey request, the officer's approval
 * (review.c), the agreement and a reorder judge alike.
 */
#define RA_REKEY_PREVIOUS_WHY(c) \
	"CASE WHEN " c ".revoked_at IS NOT NULL AND " c ".revocation_reason " \
	"= 6 THEN 'on hold' WHEN " c ".revoked_at IS NOT NULL AND NOT (" c \
	".revocation_reason = 2 AND " RA_CERT_ISSUER_REVOKED(c) ") THEN " \
	"'revoked' WHEN " c ".not_after <= now() THEN 'expired' END"
/*
 * The certificate a rekey replaces (certificate_id), read FOR SHARE: why ""
 * while it may be rekeyed, else "on hold", "revoked" or "expired"
 * (RA_REKEY_PREVIOUS_WHY). 0, or -1 on a database failure.
 */
#define RA_REKEY_WHY_MAX	16
int	ra_rekey_previous_check(struct db *, const char *certificate_id,
	    char why[RA_REKEY_WHY_MAX]);
/*
 * cad's lint refuses a certificate whose notAfter (its issuer's, when cut)
 * is less than this away (ca/worker/lint.c LINT_MIN_REMAINING_S): the
 * agreement (certificate.c) and an officer's reorder (cancel.c) are
 * refused then, rather than made for an order cad would fail.
 */
#define RA_ISSUER_MIN_REMAINING_S	86400
/*
 * Retry-After (RFC 9110 §10.2.3) of the 503 that refuses an agreement or
 * an officer's reorder while cad would not issue under the issuing CA (on
 * hold, revoked, ending): an operator's act ends it (a release, a move to
 * the new issuing CA), which takes hours rather than seconds, so clients
 * are asked to come back in an hour, not to poll; the detail says why.
 */
#define RA_ISSUER_RETRY_AFTER_S	3600
/*
 * Why cad would not issue under issuing CA i (a ca_certificate) now, as
 * SQL: "on hold", "revoked" (its own certificate's row, as cad's claim
 * reads it, ca/worker/issue.c CAD_ISSUER_REVOKED), "ending" (its notAfter
 * within secs, a parameter: RA_ISSUER_MIN_REMAINING_S), else "". With
 * RA_ISSUER_STOPPED_JOIN in the FROM clause: x, i's row of
 * ca_certificate_status (schema/103) while its own certificate is revoked
 * or on hold, else all NULL (x.id IS NOT NULL: revoked or on hold).
 */
#define RA_ISSUER_STOPPED(secs) \
	"CASE WHEN x.revoked_at IS NOT NULL AND x.revocation_reason = 6 " \
	"THEN 'on hold' WHEN x.revoked_at IS NOT NULL THEN 'revoked' " \
	"WHEN i.not_after <= now() + make_interval(secs => " secs "::int) " \
	"THEN 'ending' ELSE '' END"
#define RA_ISSUER_STOPPED_JOIN \
	"LEFT JOIN ca_certificate_status x ON x.id = i.id AND " \
	"x.revoked_at IS NOT NULL "

/*
 * cancel.c: an application that will not be issued (ra/README.md
 * "Cancellation"): the subscriber's and an officer's cancellation, and an
 * officer's new order for an agreed application whose order failed.
 */
int	ra_application_cancel(struct ra *, const struct http_request *,
	    struct http_response *);
/* companies.c: the officers' list of companies, and their deactivation (schema/031). */
int	ra_officer_company_list(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_officer_company_deactivate(struct ra *,
	    const struct http_request *, struct http_response *);
int	ra_officer_cancel(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_officer_reorder(struct ra *, const struct http_request *,
	    struct http_response *);

/* notifier.c: the issuance notifier's threads (ra/README.md). */
struct ra_notifier;
/*
 * Connects twice (conninfo: pg.ra_uri) and starts two threads. One LISTENs
 * issuance_done; every notification and every interval_s it marks the
 * agreed applications whose order is done as issued (supersedes the
 * certificate a rekey replaces) and queues the subscriber's mail, and
 * returns those whose order failed under an issuing CA that will never
 * issue again to approved (ra_notifier_reopen). The other LISTENs ra_mail
 * and sends the outbox. NULL with err.
 */
struct ra_notifier	*ra_notifier_start(struct ra *, const char *conninfo,
			    long interval_s, char *err, size_t errlen);
/* Stops and joins the threads; NULL-safe. */
void			 ra_notifier_stop(struct ra_notifier *);
/*
 * One reconciliation on db: every agreed application whose order is done
 * becomes issued, each in its own transaction. The number handled, or -1.
 */
int			 ra_notifier_reconcile(struct ra *, struct db *);
/*
 * Every agreed application whose order failed under an issuing CA that
 * will never issue again (revoked for good, or ending within
 * RA_ISSUER_MIN_REMAINING_S) goes back to approved, each in its own
 * transaction with ra.application.reopen and the subscriber's mail (agree
 * again), schema/089. The number handled, or -1.
 */
int			 ra_notifier_reopen(struct ra *, struct db *);
/*
 * Every submitted or approved rekey whose old certificate was revoked (not
 * as its CA's compromise under a revoked issuer) or expired since
 * (RA_REKEY_PREVIOUS_WHY: its approval or agreement would be refused) is
 * cancelled, each in its own transaction with ra.application.cancel (actor
 * ra:notifier, from submitted or approved) and the subscriber's mail (apply
 * again). The number cancelled, or -1 (the connection).
 */
int			 ra_notifier_lapse(struct ra *, struct db *);
/*
 * Every pending company revocation request whose certificate expired
 * unrevoked is closed as moot (nothing is left to revoke), each in its own
 * transaction with ra.revocation_request.moot (actor ra:notifier, reason
 * "expired"). The number closed, or -1.
 */
int			 ra_notifier_requests_expired(struct ra *, struct db *);
/*
 * Pending revocation request id, its certificate locked by the caller
 * (FOR UPDATE: the certificate before the request, as every path takes
 * them), closed as moot when its certificate expired unrevoked: the
 * notifier's sweep above and an officer's decision to revoke
 * (ra/corporate.c) write the same decision_reason and the same
 * ra.revocation_request.moot event (actor actor; details certificate_id,
 * serial, company_id, reason "expired", not_after, requested_reason, and
 * client unless NULL). *done is 1 when it was closed, 0 when it was not
 * pending or its certificate has not expired. 0, or -1 (the connection).
 */
int			 ra_revreq_expired_close(struct db *, const char *id,
			    const char *actor, const char *client, int *done);
/*
 * Sends due expiry reminders (rekey.reminder_days), the nearest expiry
 * first, at most a batch; *more is set when a full one was due. How many,
 * or -1. One of a certificate whose issuing CA was revoked for good says
 * so, and to rekey now.
 */
int			 ra_notifier_remind(struct ra *, struct db *, int *more);
/*
 * Tells, once each (ra_issuer_revoked_notice, schema/090), the subscriber
 * of every certificate that may be rekeyed because its issuing CA was
 * revoked for good (and is not being rekeyed) that it no longer validates
 * and to rekey now, no new KYC needed: each in its own transaction with
 * its record, audit ra.certificate.issuer_revoked (actor ra:notifier) and
 * its mail queued. At most a batch; *more is set when a full one was due.
 * How many were told, or -1 (the connection).
 */
int			 ra_notifier_issuer_notice(struct ra *, struct db *,
			    int *more);
/*
 * A mail of the outbox that failed this many sends is given up (never due
 * again, audited ra.mail.given_up): two days and more of back-off. SQL.
 */
#define RA_OUTBOX_ATTEMPTS	"48"
/*
 * Sends due mails of the outbox (ra_mail_queue), oldest first, each in its
 * own transaction; the first failure ends the round and backs that mail
 * off (30 s, doubling, at most an hour), and after RA_OUTBOX_ATTEMPTS gives
 * it up, audited ra.mail.given_up in the same transaction; stops early
 * once stop_fd (-1: none) is readable. Before each, reset mails
 * (ra_mail_queue_reset) whose token expired or was used are given up
 * unsent, their body emptied (audit ra.mail.expired). How many were sent,
 * or -1 (the connection).
 */
int			 ra_notifier_outbox(struct ra *, struct db *, int stop_fd);

/*
 * --- Subscriber TOTP and the sensitive account changes (issue 3): totp.c,
 * change.c, change_request.c (the parsers; fuzzed) ------------------------
 */
#define RA_TOTP_ISSUER		"PKI RA"	/* the authenticator app shows it */
#define RA_TOTP_PENDING_TTL_S	600	/* an unconfirmed enrolment lives */

struct ra_totp_enrol_req {
	struct factor	factor;
};
struct ra_totp_confirm_req {
	char	code[FACTOR_DIGITS + 1];		/* wipe */
};
struct ra_password_change_req {
	char			current[RA_PASSWORD_MAX + 1];	/* wipe */
	char			password[RA_PASSWORD_MAX + 1];	/* new; wipe */
	struct factor	factor;
};
struct ra_email_change_req {
	char			email[RA_EMAIL_MAX + 1];	/* lower-cased */
	struct factor	factor;
};
struct ra_phone_change_req {
	char			phone[RA_PHONE_MAX + 1];	/* E.164 */
	struct factor	factor;
};
/*
 * The bodies of POST /v1/totp {"factor"}, /v1/totp/confirm {"code"},
 * /v1/password {"current_password","new_password","factor"}, /v1/email
 * {"email","factor"} and /v1/phone {"phone","factor"}: strict as
 * ra_parse_register (field rules included, but not the password policy,
 * which needs the policy: ra_password_check). A new password equal to the
 * current one is refused. On failure the output is zeroed; details never
 * quote a value.
 */
int	ra_parse_totp_enrol(const void *body, size_t len,
	    struct ra_totp_enrol_req *, char *detail, size_t detaillen);
int	ra_parse_totp_confirm(const void *body, size_t len,
	    struct ra_totp_confirm_req *, char *detail, size_t detaillen);
int	ra_parse_password_change(const void *body, size_t len,
	    struct ra_password_change_req *, char *detail, size_t detaillen);
int	ra_parse_email_change(const void *body, size_t len,
	    struct ra_email_change_req *, char *detail, size_t detaillen);
int	ra_parse_phone_change(const void *body, size_t len,
	    struct ra_phone_change_req *, char *detail, size_t detaillen);

/* The password reset (reset.c; ra/README.md "Password reset"). */
struct ra_forgot_req {
	char		email[RA_EMAIL_MAX + 1];	/* lower-cased */
};
struct ra_reset_req {
	unsigned char	token[RA_TOKEN_BYTES];		/* decoded; wipe */
	char		password[RA_PASSWORD_MAX + 1];	/* new; wipe */
	int		has_factor;			/* 0: the token alone */
	struct factor	factor;				/* wipe */
};
/*
 * POST /v1/password/forgot {"email"} and POST /v1/password/reset
 * {"token","new_password", and "otp_id"+"code" (the SMS code of POST
 * /v1/password/reset/otp, both or neither: a factor of type otp) or
 * "factor" (ra_factor_parse: otp, pin or totp), not both}: strict as
 * ra_parse_register, the email's rule included, not the password policy
 * (ra_password_check). On failure the output is zeroed; details never
 * quote a value.
 */
int	ra_parse_password_forgot(const void *body, size_t len,
	    struct ra_forgot_req *, char *detail, size_t detaillen);
int	ra_parse_password_reset(const void *body, size_t len,
	    struct ra_reset_req *, char *detail, size_t detaillen);
/* reset.c: the handlers; each counts toward rl_reset. */
int	ra_password_forgot(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_password_reset_otp(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_password_reset(struct ra *, const struct http_request *,
	    struct http_response *);

/* Loads ra.totp_key_file (AES-256-GCM, lib/totp.h). 0 or -1, logged. */
int	ra_totp_init(struct ra *, const struct config *);
int	ra_totp_enrol(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_totp_confirm(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_password_change(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_email_change(struct ra *, const struct http_request *,
	    struct http_response *);
/*
 * Completes the pending change of account_id's address to new_email when
 * its link (ra_email_verification verification_id, just claimed) is
 * opened, in the caller's transaction, the account's row locked: the
 * address becomes the account's, verified; password reset tokens and live
 * email codes (sent to the old address) are voided, the notice to the old
 * address queued, ra.account.email_change audited. 0 done;
 * RA_EMAIL_CHANGE_TAKEN another account holds new_email (audited
 * ra.account.email_change_failed, nothing else changed: commit);
 * RA_EMAIL_CHANGE_RACED another account took it while this waited on the
 * unique index (23505: roll back); -1 failure.
 */
#define RA_EMAIL_CHANGE_TAKEN	1
#define RA_EMAIL_CHANGE_RACED	(-2)
int	ra_email_change_complete_locked(struct db *, const char *account_id,
	    const char *verification_id, const char *new_email,
	    const char *client);
/*
 * Voids the account's pending address changes (their links, schema/062),
 * in the caller's transaction: a new password, set by the owner or by a
 * reset, must not leave an intruder's change waiting to complete. How
 * many, or -1.
 */
long	ra_email_pending_void(struct db *, const char *account_id);
int	ra_phone_change(struct ra *, const struct http_request *,
	    struct http_response *);

/* --- Corporate accounts: corpreq.c (parsers, fuzzed), corporate.c --------- */
#define RA_COMPANY_NAME_MAX	64	/* X.520 ub-organization-name */
#define RA_DEED_MAX		64
#define RA_DECREE_MAX		64
#define RA_COMMENT_MAX		500
#define RA_DECISION_MAX		1000

/* POST /v1/corporate */
struct ra_corporate_req {
	char		company_name[RA_COMPANY_NAME_MAX + 1];
	char		nib[14];		/* 13 digits */
	char		npwp[17];		/* 15 or 16 digits */
	char		deed_number[RA_DEED_MAX + 1];
	char		deed_date[11];
	struct ra_date	deed;
	char		decree_number[RA_DECREE_MAX + 1];	/* AHU-… */
	char		sysadmin_email[RA_EMAIL_MAX + 1];	/* lower-cased */
};
/* POST /v1/corporate/{id}/employees */
struct ra_enrol_req {
	char	email[RA_EMAIL_MAX + 1];	/* lower-cased */
};
/* POST /v1/corporate/{id}/revocation-requests */
struct ra_revreq_req {
	long long		certificate_id;
	char			reason[24];	/* ra_revreq_reason_code's names */
	char			comment[RA_COMMENT_MAX + 1];	/* may be "" */
	struct factor	factor;		/* wipe */
};
/*
 * POST /v1/corporate/{id}/employees/{account_id}/remove: the reason of the
 * revocation requests the removal makes (a revreq reason, default
 * affiliationChanged), their comment, the sysadmin's factor.
 */
struct ra_removal_req {
	char			revocation_reason[24];
	char			comment[RA_COMMENT_MAX + 1];	/* may be "" */
	struct factor	factor;		/* wipe */
};
/* POST /v1/corporate/{id}/eseals: the seal's name, its certificate's CN. */
#define RA_ESEAL_NAME_MAX	64	/* X.520 ub-common-name */
struct ra_eseal_req {
	char	name[RA_ESEAL_NAME_MAX + 1];
};
/* POST /v1/officer/revocation-requests/{id} */
struct ra_revdecide_req {
	int	revoke;				/* 1 revoke, 0 reject */
	char	reason_text[RA_DECISION_MAX + 1];	/* required to reject */
};
/*
 * Strict JSON as ra_parse_register; details never quote a value. On
 * failure the output is zeroed (the factor wiped).
 */
int	ra_parse_corporate(const void *body, size_t len,
	    struct ra_corporate_req *, char *detail, size_t detaillen);
int	ra_parse_enrol(const void *body, size_t len, struct ra_enrol_req *,
	    char *detail, size_t detaillen);
int	ra_parse_revreq(const void *body, size_t len, struct ra_revreq_req *,
	    char *detail, size_t detaillen);
int	ra_parse_removal(const void *body, size_t len, struct ra_removal_req *,
	    char *detail, size_t detaillen);
int	ra_parse_revdecide(const void *body, size_t len,
	    struct ra_revdecide_req *, char *detail, size_t detaillen);
int	ra_parse_eseal(const void *body, size_t len, struct ra_eseal_req *,
	    char *detail, size_t detaillen);
/*
 * A sysadmin address: ra_email_check (lower-cases in place), and no
 * government domain: not go.id, mil.id nor any name under them. 0 or -1.
 */
int	ra_sysadmin_email_check(char *email, char *detail, size_t detaillen);
/* The RFC 5280 §5.3.1 CRLReason code of a request's reason, or -1. */
int	ra_revreq_reason_code(const char *reason);
/*
 * Optional member "company_id" of POST /v1/applications (kycreq.c): a
 * positive integer, or absent (0). 0 or -1 with a detail.
 */
int	ra_company_id_parse(json_t *, long long *out, char *detail,
	    size_t detaillen);

/*
 * SQL: account ACC (an SQL expression) is company c's sysadmin: it claimed
 * the role (schema/044); or, for a company submitted before claims existed
 * (no claim row), it is the verified account of sysadmin_email, the rule
 * of then.
 */
#define RA_COMPANY_SYSADMIN_IS(acc) \
	"(EXISTS (SELECT 1 FROM ra_company_sysadmin_role s WHERE " \
	"s.company_id = c.id AND s.account_id = " acc ") OR (NOT EXISTS " \
	"(SELECT 1 FROM ra_company_sysadmin_claim cl WHERE cl.company_id = " \
	"c.id) AND EXISTS (SELECT 1 FROM ra_account x WHERE x.id = " acc \
	" AND x.email = c.sysadmin_email AND x.email_verified)))"
/* SQL: the account id of company c's sysadmin, by the same rule, or NULL. */
#define RA_COMPANY_SYSADMIN_ID \
	"coalesce((SELECT s.account_id FROM ra_company_sysadmin_role s WHERE " \
	"s.company_id = c.id), (SELECT x.id FROM ra_account x WHERE NOT " \
	"EXISTS (SELECT 1 FROM ra_company_sysadmin_claim cl WHERE " \
	"cl.company_id = c.id) AND x.email = c.sysadmin_email AND " \
	"x.email_verified))"
/*
 * SQL: an application of account a with a person's verified KYC whose
 * identity still stands (a company's representative, corporate.c; the
 * officers' check representative_identity, review.c): one of kinds
 * approved or agreed, or issued with a
 * certificate the RA or CA did not take away — valid, or revoked by the
 * subscriber themselves (who cannot revoke one the RA holds). An
 * application's status stays "issued" after an officer revoked or
 * suspended its certificate, e.g. for a forged e-KTP; a rekey's approval
 * stands on the certificate it renews, so only the listed kinds count
 * before issuance. A certificate superseded by its rekey does not count:
 * the rekey's own certificate does, and only while it stands (a hold goes
 * over to it; the superseded one would have counted despite the hold).
 */
#define RA_IDENTITY_STANDS(profiles, kinds) \
	"EXISTS (SELECT 1 FROM ra_application p JOIN ra_kyc k ON " \
	"k.application_id = p.id LEFT JOIN issuance_order o ON o.id = " \
	"p.order_id LEFT JOIN certificate c ON c.id = o.certificate_id " \
	"WHERE p.account_id = a.id AND p.profile IN " profiles " AND ((" \
	"p.kind IN " kinds " AND p.status IN ('approved', 'agreed')) OR " \
	"(p.status = 'issued' AND (c.revoked_at IS NULL OR c.revoked_by = " \
	"'subscriber:' || p.account_id))))"
/*
 * SQL: account a may represent its company for an e-seal (the submission's
 * rule, corporate.c, and the approval's, agreement's and rekey's after it,
 * ra_corporate_representative_stands; the check representative,
 * review.c): it holds a certificate of its own with a person's verified
 * KYC (personal, or an employee's corporate one), issued, that the RA or
 * CA has not revoked or suspended. An approved application does not do:
 * the person who seals in the company's name was certified.
 */
#define RA_ESEAL_REPRESENTATIVE_STANDS \
	RA_IDENTITY_STANDS("('personal', 'corporate')", "('-')")
/*
 * SQL: company c (its application a) holds its NIB and NPWP: pending or
 * active (schema/065: one holder of each at a time; a rejected, cancelled
 * or deactivated company's may be registered again).
 */
#define RA_COMPANY_HOLDS \
	"(a.status IN ('submitted', 'approved') AND c.deactivated_at IS NULL)"
/*
 * For kyc.c, inside its submission transaction: whether account_id is a
 * current employee of company_id and that company is approved, the
 * membership shared until COMMIT (a removal is waited for). 1 with the
 * company's name in org (the subject's O); 2 the sysadmin removed the
 * account from the company (schema/066: answer 403); 0 (never a member,
 * no such or no active company: answer 404); -1 our failure.
 */
int	ra_corporate_employee_org(struct db *, const char *account_id,
	    const char *company_id, char *org, size_t orglen);
/*
 * For a rekey (certificate.c): whether the holder of the certificate of
 * application_id may still have it renewed as the company's employee. 1
 * when it is no employee's certificate (personal, e-seal) or its account
 * is still an employee of the company (the membership shared until
 * COMMIT); 0 when the sysadmin removed it; -1 our failure.
 */
int	ra_corporate_member_stands(struct db *, const char *application_id);
/*
 * For the approval of, agreement to and rekey of an e-seal (review.c,
 * certificate.c), inside their transaction: whether the account that
 * applied for application_id (an e-seal's, profile eseal, or its rekey's)
 * may still represent its company (RA_ESEAL_REPRESENTATIVE_STANDS): the
 * identity checked at submission may have been withdrawn since (their
 * certificate revoked or put on hold by an officer, pkictl or the CA). The
 * account's certificates are read FOR SHARE first, so that a revocation
 * or hold being committed is waited for and then seen; one begun later
 * waits for this COMMIT. 1 stands (or no e-seal's application), 0 no
 * longer, -1 our failure.
 */
int	ra_corporate_representative_stands(struct db *,
	    const char *application_id);
/* Records that application_id was made for company_id. 0 or -1. */
int	ra_corporate_application_link(struct db *, const char *application_id,
	    const char *company_id);
/*
 * 1 when application_id is a company's application (profile "company":
 * decided by officers, never agreed to or issued; schema/018), 0 when not,
 * -1 on failure.
 */
int	ra_corporate_is_company_application(struct db *,
	    const char *application_id);

int	ra_corporate_submit(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_corporate_get(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_corporate_invite(struct ra *, const struct http_request *,
	    struct http_response *);
/*
 * POST /v1/corporate/{id}/employees/{account_id}/remove (the sysadmin,
 * {revocation_reason?, comment?, factor}): ends the membership, cancels
 * the employee's open applications made for the company and requests the
 * revocation of their certificates of it, in one transaction.
 */
int	ra_corporate_remove(struct ra *, const struct http_request *,
	    struct http_response *);
/*
 * Its path, "/v1/corporate/{id}/employees/{account_id}/remove", → both ids
 * (as ra_path_id). 0, or -1 when path has another shape (the route
 * matched the shape; this reads the numbers back). tests/fuzz/fuzz_ra_path.c.
 */
int	ra_corp_remove_path(const char *path, char company[24],
	    char account[24]);
int	ra_corporate_accept(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_corporate_sysadmin_claim(struct ra *, const struct http_request *,
	    struct http_response *);
/*
 * POST /v1/corporate/{id}/sysadmin/claim-token (the representative, no
 * body): a new claim token mailed to the sysadmin_email of a pending or
 * active company without a sysadmin, replacing the old one; 429 while the
 * current one is younger than corporate.claim_resend_interval_seconds.
 */
int	ra_corporate_claim_token(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_corporate_revreq(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_corporate_eseal(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_officer_revreq_list(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_officer_revreq_decide(struct ra *, const struct http_request *,
	    struct http_response *);

/*
 * signgrant.c: a subscriber's grants of the signing services (schema/112,
 * ra/README.md "Signing services"): GET /v1/sign-services, POST
 * /v1/sign-services/{id}/grant and /revoke.
 */
int	ra_sign_service_list(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_sign_grant(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_sign_grant_revoke(struct ra *, const struct http_request *,
	    struct http_response *);

#endif
