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

/* policy/ra.conf, read once at start-up (policy.c). */
struct ra_policy {
	long	pw_min_len;		/* characters (code points) */
	long	pw_max_len;		/* bytes */
	int	pw_upper, pw_lower, pw_digit, pw_symbol;
	long	argon2_t_cost;
	long	argon2_m_cost_kib;
	long	argon2_parallelism;
	long	verify_ttl_s;		/* email verification link */
	long	session_ttl_s;
	long	lockout_threshold;	/* failed log-ins before a lock */
	long	lockout_base_s;		/* first lock; doubles with each failure */
	long	lockout_max_s;
	long	register_per_min;	/* per client address, per process */
	long	login_per_min;
	/* factor.c: one-time codes and the factor lock-out */
	long	otp_ttl_s;
	long	otp_max_attempts;	/* wrong codes that kill one OTP */
	long	otp_per_hour;		/* OTPs sent per account */
	long	factor_lock_threshold;	/* wrong factors before a lock */
	long	factor_lock_base_s;	/* first lock; doubles with each failure */
	long	factor_lock_max_s;
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

/* mail.c: the mail sender adapter. */
struct ra_mailer;

/*
 * The LOCAL FILE SINK, the only sender in this slice: each message is one
 * file (0600) in dir, written to a temporary name and renamed. Nothing is
 * delivered. NULL with err.
 */
struct ra_mailer	*ra_mailer_file_sink(const char *dir, char *err,
			    size_t errlen);
void			 ra_mailer_free(struct ra_mailer *);
/* Sends one plain-text message. 0 or -1 (logged, without the body). */
int			 ra_mail_send(struct ra_mailer *, const char *to,
			    const char *subject, const char *body);

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

/* The state rad's handlers share (main.c builds it). */
struct ra {
	const struct ra_policy	*policy;
	struct db		*db;
	struct ra_mailer	*mailer;
	struct ra_ratelimit	*rl_register;
	struct ra_ratelimit	*rl_login;
	const char		*verify_url;	/* prefix of the emailed link */
	char			 dummy_hash[256];	/* for unknown emails */
	struct ra_sms		*sms;		/* factor.c */
	struct factor_verifier	 fv;		/* OTP key, lock-out (lib/factor.h) */
};

/* Attempts of one transaction on serialization failure (db_transaction). */
#define RA_TXN_ATTEMPTS		3

/* A handler: answers in resp; -1 only for our own failure (500). */
typedef int	(*ra_handler)(struct ra *, const struct http_request *,
		    struct http_response *);

/* route.c: the http_handler of rad, every route. */
int	ra_handle(void *arg, const struct http_request *,
	    struct http_response *);

/* common.c: helpers every handler shares. */
const char	*ra_title(int status);
/* RFC 9457 problem JSON, type about:blank. 0 or -1. */
int		 ra_problem(struct http_response *, int status,
		    const char *detail);
/* 429 with Retry-After. */
int		 ra_too_many(struct http_response *, long retry_after,
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
 * The decimal id between prefix and suffix of path ("/v1/x/", "/y").
 * 0 with out filled, or -1 when path has another shape.
 */
int	ra_path_id(const char *path, const char *prefix, const char *suffix,
	    char out[24]);

/* account.c: registration, email verification, sessions. */
int	ra_account_init(struct ra *);
int	ra_register(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_verify_email(struct ra *, const struct http_request *,
	    struct http_response *);
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
 *	{"type":"totp","code":"123456"}		    RFC 6238; not enrolable yet:
 *						    refused as not enrolled
 */
#define RA_OTP_DIGITS		6
#define RA_PIN_DIGITS		6
#define RA_PURPOSE_MAX		16

/* struct factor and enum factor_type: lib/factor.h. */
struct ra_otp_req {
	char	channel[8];			/* "email" or "sms" */
	char	purpose[RA_PURPOSE_MAX + 1];	/* one of ra_purpose_check's */
};
struct ra_phone_verify_req {
	long long	otp_id;
	char		code[RA_OTP_DIGITS + 1];	/* wipe */
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
/*
 * The code for one 32-bit random draw: 0 with 6 digits in out, or -1 when v
 * falls in the top 2^32 mod 10^6 values, which would bias the result (draw
 * again). ra_otp_code_new draws from RAND_bytes until one fits. 0 or -1.
 */
int	ra_otp_code_from(uint32_t v, char out[RA_OTP_DIGITS + 1]);
int	ra_otp_code_new(char out[RA_OTP_DIGITS + 1]);
/* 6 ASCII digits, not all one digit, not a run up or down (mod 10). */
int	ra_pin_check(const char *pin, char *detail, size_t detaillen);

/* sms.c: the SMS sender adapter; only the LOCAL FILE SINK (like mail.c). */
struct ra_sms;

struct ra_sms	*ra_sms_file_sink(const char *dir, char *err, size_t errlen);
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
int	ra_phone_verify(struct ra *, const struct http_request *,
	    struct http_response *);
int	ra_pin_set(struct ra *, const struct http_request *,
	    struct http_response *);

#endif
