/*
 * Time-based one-time passwords: RFC 6238 TOTP over RFC 4226 HOTP, RFC 4648
 * base32, the otpauth:// key URI authenticator apps scan, and the sealing
 * of a stored TOTP secret with AES-256-GCM under a key from a 0600 file.
 *
 * Library rules: no globals, no exit; every function returns a status.
 */
#ifndef PKI_TOTP_H
#define PKI_TOTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TOTP_SECRET_BYTES	20	/* RFC 4226 §4 R6: 160 bits */
#define TOTP_DIGITS_MIN		6	/* RFC 4226 §5.3 */
#define TOTP_DIGITS_MAX		8
#define TOTP_PERIOD_DEFAULT	30	/* RFC 6238 §5.2 */
#define TOTP_WINDOW		1	/* steps accepted either side of now */
/* base32 of TOTP_SECRET_BYTES, unpadded (20 bytes: exactly 32 chars). */
#define TOTP_SECRET_B32_LEN	32

/* Sealed secret: 12-byte nonce, ciphertext, 16-byte GCM tag. */
#define TOTP_SEAL_KEY_BYTES	32
#define TOTP_SEAL_OVERHEAD	(12 + 16)
#define TOTP_SEALED_BYTES	(TOTP_SECRET_BYTES + TOTP_SEAL_OVERHEAD)

/* Status codes: 0 ok, negative failures. */
enum totp_status {
	TOTP_OK = 0,
	TOTP_ERR_ARG = -1,	/* bad parameter, bad encoding, short buffer */
	TOTP_ERR_CRYPTO = -2,	/* OpenSSL failed (or a seal did not open) */
	TOTP_ERR_MISMATCH = -3,	/* no code of the window matches */
	TOTP_ERR_REPLAY = -4,	/* matches, but at or before the last step */
	TOTP_ERR_IO = -5,	/* key file unreadable, bad mode or format */
};

enum totp_alg {
	TOTP_SHA1 = 0,		/* RFC 6238 default; what apps support */
	TOTP_SHA256,
	TOTP_SHA512,
};

struct totp_params {
	enum totp_alg	alg;
	unsigned int	digits;		/* TOTP_DIGITS_MIN..TOTP_DIGITS_MAX */
	unsigned int	period;		/* seconds, X of RFC 6238 §4.1 */
};

/* SHA-1, 6 digits, 30 s: the parameters every authenticator app knows. */
void	totp_params_default(struct totp_params *);

/*
 * RFC 4648 §6 base32 of in into out (NUL-terminated), with '=' padding
 * when pad is non-zero. TOTP_OK, or TOTP_ERR_ARG when out is too small.
 */
int	totp_base32_encode(const unsigned char *in, size_t len, int pad,
	    char *out, size_t outlen);
/*
 * Decodes RFC 4648 §6 base32 (either case; padding optional but, when
 * present, complete and final). Writes *outl bytes. TOTP_OK or TOTP_ERR_ARG
 * (bad character, impossible length, non-zero trailing bits, short out).
 */
int	totp_base32_decode(const char *in, unsigned char *out, size_t outlen,
	    size_t *outl);

/* The time step T of RFC 6238 §4.2 at now (T0 = 0). TOTP_OK or _ERR_ARG. */
int	totp_step(const struct totp_params *, time_t now, uint64_t *step);
/*
 * The code of step (RFC 4226 §5.3 truncation), p->digits decimal digits
 * into out, the rest of out zeroed. TOTP_OK, TOTP_ERR_ARG or TOTP_ERR_CRYPTO.
 */
int	totp_code(const struct totp_params *, const unsigned char *key,
	    size_t keylen, uint64_t step, char out[TOTP_DIGITS_MAX + 1]);
/*
 * Checks code against the steps now-TOTP_WINDOW..now+TOTP_WINDOW, comparing
 * in constant time and always computing every step. last_step is the last
 * step the caller accepted (0: none); a match at or before it is a replay
 * (RFC 6238 §5.2: "MUST NOT accept the second attempt of the same OTP").
 * TOTP_OK with the matched step in *matched (store it as the new last
 * step), TOTP_ERR_MISMATCH (also for a code of the wrong shape),
 * TOTP_ERR_REPLAY, TOTP_ERR_ARG or TOTP_ERR_CRYPTO.
 */
int	totp_verify(const struct totp_params *, const unsigned char *key,
	    size_t keylen, const char *code, time_t now, uint64_t last_step,
	    uint64_t *matched);

/*
 * The key URI of Google Authenticator's "Key Uri Format":
 * otpauth://totp/Issuer:account?secret=B32&issuer=Issuer&algorithm=SHA1&
 * digits=6&period=30, issuer and account percent-encoded (RFC 3986 §2.1,
 * everything but unreserved characters). issuer must not contain ':'.
 * TOTP_OK or TOTP_ERR_ARG (bad parameter, out too small).
 */
int	totp_uri(const struct totp_params *, const char *issuer,
	    const char *account, const unsigned char *key, size_t keylen,
	    char *out, size_t outlen);

/*
 * Reads a sealing key: a file (regular, mode 0600 or stricter, as
 * lib/secret.h) holding 64 hex digits (`openssl rand -hex 32`), optional
 * trailing newline. TOTP_OK, or TOTP_ERR_IO with a message (never the key)
 * in err. Wipe key with OPENSSL_cleanse after use.
 */
int	totp_key_load(const char *path, unsigned char key[TOTP_SEAL_KEY_BYTES],
	    char *err, size_t errlen);
/*
 * AES-256-GCM seal of a TOTP secret, bound to aad (e.g. the owner's name,
 * so that a sealed secret copied to another row does not open).
 * out gets nonce || ciphertext || tag: len + TOTP_SEAL_OVERHEAD bytes.
 * TOTP_OK, TOTP_ERR_ARG (outlen too small) or TOTP_ERR_CRYPTO.
 */
int	totp_seal(const unsigned char key[TOTP_SEAL_KEY_BYTES], const char *aad,
	    const unsigned char *secret, size_t len, unsigned char *out,
	    size_t outlen);
/*
 * Opens what totp_seal made: *outl = inlen - TOTP_SEAL_OVERHEAD bytes.
 * TOTP_OK, TOTP_ERR_ARG, or TOTP_ERR_CRYPTO (wrong key, aad or tampered).
 */
int	totp_open(const unsigned char key[TOTP_SEAL_KEY_BYTES], const char *aad,
	    const unsigned char *in, size_t inlen, unsigned char *out,
	    size_t outlen, size_t *outl);

#endif
