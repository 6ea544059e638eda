/*
 * The subscriber's second factors, verified against the RA's tables
 * (schema/010): one-time codes (ra_otp, stored as HMAC-SHA256 under the OTP
 * key), the 6-digit PIN (Argon2id in ra_account.pin_hash), and the
 * account-level lock-out after wrong factors in a row. Shared by rad
 * (ra/factor.c, every sensitive action) and by signd's signature activation
 * module (hsm/signd/samproc.c, credentials/authorize), so both apply the
 * same rules to the same rows. The contract of factor_check() is the one
 * ra/extern.h gives for ra_factor_verify().
 */
#ifndef PKI_FACTOR_H
#define PKI_FACTOR_H

#include <stddef.h>

struct config;
struct db;

#define FACTOR_DIGITS		6	/* OTP codes and PINs */
#define FACTOR_OTP_KEY_LEN	32	/* HMAC-SHA256 key, 256 bits */
#define FACTOR_ACTOR_MAX	64

enum factor_type {
	FACTOR_OTP = 1,
	FACTOR_PIN,
	FACTOR_TOTP,		/* RFC 6238, through factor_verifier.totp_match */
};
#define FACTOR_BINDING_LEN	32	/* SHA-256, factor_sign_binding() */
#define FACTOR_BINDING_HASHES_MAX 100	/* as a SAD's (SIGND_HASHES_MAX) */
/* A CSC credentialID (sign_credential.certificate_id): 1..20 digits. */
#define FACTOR_CREDENTIAL_MAX	20
struct factor {
	enum factor_type	type;
	long long		otp_id;			/* FACTOR_OTP */
	char			secret[FACTOR_DIGITS + 1];	/* code or PIN; wipe */
	/*
	 * FACTOR_OTP of purpose sign: the credential and the documents the
	 * authorization is for (factor_sign_binding of both); bound 0: none
	 * given.
	 */
	int			bound;
	char			credential[FACTOR_CREDENTIAL_MAX + 1];
	unsigned char		binding[FACTOR_BINDING_LEN];
};

enum factor_result {
	FACTOR_OK = 0,		/* verified; an OTP is consumed */
	FACTOR_MALFORMED,	/* 400: not a factor object */
	FACTOR_NOT_ENROLLED,	/* 400: no PIN set; TOTP */
	FACTOR_REFUSED,		/* 401: unknown, expired, used or dead OTP, or
				   one of another purpose; nothing counted */
	FACTOR_WRONG,		/* 401: wrong code or PIN; counted */
	FACTOR_LOCKED,		/* 429: retry_after; nothing tried */
};
struct factor_outcome {
	enum factor_result	result;
	long			retry_after;	/* FACTOR_LOCKED */
	char			kind[8];	/* "otp", "pin": for the audit */
	long long		otp_id;
	char			detail[192];	/* client-facing, no secret */
};

/* What a TOTP hook found for a code (factor_totp_sealed_match below). */
enum factor_totp_match {
	FACTOR_TOTP_NONE = 0,	/* no confirmed TOTP secret */
	FACTOR_TOTP_MATCH,	/* the code matches; the step is recorded */
	FACTOR_TOTP_REPLAY,	/* a step at or before the last accepted one */
	FACTOR_TOTP_WRONG,	/* no match within ±1 step */
};

/*
 * Who verifies: the OTP key, the lock-out policy, the audit actors, and the
 * TOTP hook (NULL: no TOTP here, answered as not enrolled). The hook
 * checks code against the account's sealed secret inside the caller's
 * transaction and records the matched step (replay protection); 0 with *m,
 * or -1 on failure.
 */
/* Whose lock-out counters a verifier counts on (ra_account, schema/026). */
enum factor_scope {
	FACTOR_SCOPE_RA = 0,	/* factor_failures, factor_locked_until */
	FACTOR_SCOPE_SIGN,	/* sign_factor_*: signd's SAM */
	FACTOR_SCOPE_RESET,	/* reset_factor_*: rad's password reset */
};
struct factor_verifier {
	unsigned char	 otp_key[FACTOR_OTP_KEY_LEN];
	enum factor_scope scope;
	long		 lock_threshold;	/* wrong factors before a lock */
	long		 lock_base_s;		/* first lock; doubles */
	long		 lock_max_s;
	const char	*actor;		/* "subscriber": ra.otp.failed and
					   ra.factor.failed are by
					   "<actor>:<account id>" */
	const char	*lock_actor;	/* of ra.factor.lock */
	int		(*totp_match)(void *arg, struct db *, const char *account_id,
			    const char *code, enum factor_totp_match *m);
	void		*totp_arg;
};

/*
 * The lock after the failed-th failure in a row (log-ins, factors): 0 below
 * threshold, then base_s doubling with each further failure, at most max_s.
 */
long	lockout_seconds(long threshold, long base_s, long max_s, long failed);

/*
 * Reads the OTP HMAC key: a file of mode 0600 holding 64 hex digits (256
 * bits). 0, or -1 with err (never the key).
 */
int	factor_key_load(const char *key_file,
	    unsigned char key[FACTOR_OTP_KEY_LEN], char *err, size_t errlen);
/*
 * The lock-out policy from policy/ra.conf's [factor_lockout] (threshold,
 * base_seconds, max_seconds; defaults 5, 300, 3600). polcfg NULL: the
 * defaults. 0 or -1 (logged).
 */
int	factor_policy_load(const struct config *polcfg, struct factor_verifier *);
/*
 * HMAC-SHA256(otp key, "pki-ra-otp-v1|id|account|channel|purpose|code"),
 * followed by "|" and the binding in hex when binding is not NULL (a sign
 * code: the binding commits to its credential and documents): the stored
 * digest of an OTP row. 0 or -1.
 */
int	factor_otp_mac(const unsigned char key[FACTOR_OTP_KEY_LEN],
	    const char *id, const char *account, const char *channel,
	    const char *purpose, const char *code,
	    const unsigned char *binding, unsigned char out[32]);
/*
 * What an OTP of purpose sign is bound to: the credential (the key) and
 * the set of the documents' hashes a signing service will ask to sign with
 * it (SCAL2's link between the signer, the key and the data; schema/060,
 * 061). SHA-256 of "pki-sign-binding-v2|CRED|MD|N|h1,h2,...": CRED the CSC
 * credentialID in decimal (factor_credential_ok), MD "SHA256", "SHA384"
 * or "SHA512", N the count, the hashes in lowercase hex in ascending
 * order, so the order they come in does not matter. hashes[i] is hlen
 * bytes (the MD's length); 1..FACTOR_BINDING_HASHES_MAX of them, all
 * distinct. v1 named no credential: no v1 binding equals a v2 one.
 * 0, or -1 on bad arguments.
 */
int	factor_sign_binding(const char *credential, const char *md,
	    const unsigned char *const *hashes, size_t n, size_t hlen,
	    unsigned char out[FACTOR_BINDING_LEN]);
/*
 * 1 when s is a credentialID in its one spelling: 1..FACTOR_CREDENTIAL_MAX
 * decimal digits, no leading zero (as signd's SAM prints the credential it
 * is asked for); 0 otherwise, NULL included.
 */
int	factor_credential_ok(const char *s);
/*
 * The binding's name of a hash algorithm ("SHA256") from the name POST
 * /v1/otp takes ("sha256", "sha384", "sha512"), its digest length in
 * *len; NULL for any other.
 */
const char	*factor_binding_md(const char *name, size_t *len);
/*
 * The binding's reference for people, "1A2B-3C4D-5E6F-7081" (its first 8
 * bytes): the OTP's message says it and the RA's answer gives it. An
 * application that computed the hashes itself shows the reference of
 * its own documents beside them, and the subscriber compares: 64 bits,
 * so that no one can make other documents with the same reference.
 */
#define FACTOR_BINDING_REF_SIZE	20	/* with its NUL */
void	factor_binding_ref(const unsigned char binding[FACTOR_BINDING_LEN],
	    char out[FACTOR_BINDING_REF_SIZE]);
/*
 * Verifies f for account_id inside the caller's open transaction, BEFORE
 * any change of the caller's own; the account row is locked FOR UPDATE.
 * A wrong code or PIN is recorded (the OTP's attempts, the account's
 * failure count and lock of fv's scope, audit ra.otp.failed / ra.factor.failed /
 * ra.factor.lock): the caller must COMMIT that record although it refuses
 * the action. Any other refusal writes nothing. On FACTOR_OK an OTP is
 * consumed and the failure count reset, in the caller's transaction. An OTP
 * authorizes only the purpose it was issued for; a PIN authorizes any. An
 * OTP of purpose sign authorizes only the credential and the documents
 * it was bound to at issue (f->credential equal to the row's credential_id
 * and f->binding to its binding; one without either: refused), and a
 * mismatch is refused, not counted, and leaves the OTP unused.
 * Returns 0 with *out filled (whatever the result), -1 on our failure.
 */
int	factor_check(const struct factor_verifier *, struct db *,
	    const char *account_id, const char *purpose, const struct factor *,
	    struct factor_outcome *out);
/*
 * Who sent the factor, when not the subscriber themself: signd's SAM checks
 * factors that a signing service sends for a credential. Named in the
 * events of a wrong factor (ra.otp.failed, ra.factor.failed: actor, and
 * "service_id", "credential_id", "account_id" in the details;
 * ra.factor.lock: the two ids), so that an auditor sees which service made
 * a subscriber "fail" and be locked out. A NULL member is left out.
 */
struct factor_origin {
	const char	*actor;		/* e.g. "sign_service:7"; NULL: the
					   verifier's "<actor>:<account id>" */
	const char	*service_id;
	const char	*credential_id;
};
/*
 * factor_check() on behalf of origin (may be NULL: factor_check() itself,
 * as rad calls it); the same contract otherwise.
 */
int	factor_check_from(const struct factor_verifier *, struct db *,
	    const char *account_id, const char *purpose, const struct factor *,
	    const struct factor_origin *origin, struct factor_outcome *out);
/* explicit_bzero, named for grepping. */
void	factor_wipe(void *, size_t);

/*
 * The TOTP hook over ra_account's sealed secret (schema/017): key is the
 * 32-byte AES-256-GCM key of ra.totp_key_file (rad) or sign.totp_key_file
 * (signd's SAM), the seal bound to "ra_account_totp:<account id>". Checks
 * code (RFC 6238, ±1 step) and records the matched step in the caller's
 * transaction. Set factor_verifier.totp_match to it, totp_arg to the key.
 */
#define FACTOR_TOTP_AAD_PREFIX	"ra_account_totp:"
int	factor_totp_sealed_match(void *key, struct db *, const char *account_id,
	    const char *code, enum factor_totp_match *m);

#endif
