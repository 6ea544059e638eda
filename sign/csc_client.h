/*
 * A small CSC API v2 client (Cloud Signature Consortium, "Architectures and
 * protocols for remote signature applications" v2.0) for the calls a
 * document signer needs against signd (docs/csc.md) or another RSSP:
 * oauth2/token (client credentials, RFC 6749 §4.4), credentials/info,
 * credentials/authorize (explicit, SCAL2: the hashes are bound into the SAD)
 * and signatures/signHash, each for N hashes at once.
 *
 * Answers are bounded (CSCC_RESP_MAX) and parsed with jansson; CSC errors
 * become messages naming the CSC error code and the service's description,
 * never the PIN, OTP, SAD, access token or client secret (a description
 * that contains one is not shown). The cscc_parse_* functions are the
 * parsers of the answers, separate so that tests/fuzz/fuzz_csc_client.c
 * can drive them.
 */
#ifndef SIGN_CSC_CLIENT_H
#define SIGN_CSC_CLIENT_H

/* cscc_: the client side; signd (hsm/signd/) owns csc_. */

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define CSCC_RESP_MAX	(1024u * 1024)
/* Most hashes in one authorization (signd's limit). */
#define CSCC_HASHES_MAX	100

/*
 * Return codes: anything else; the service said no (a CSC error answer
 * about the factor, the credential, the request); the service refused
 * our own client credentials or access token (401: invalid_client,
 * invalid_token), a fault of this client's set-up, not the subscriber's.
 */
#define CSCC_ERR		-1
#define CSCC_REFUSED		-2
#define CSCC_UNAUTHORIZED	-3

enum cscc_factor {
	CSCC_FACTOR_PIN,
	CSCC_FACTOR_OTP,		/* an OTP with its otpID */
	CSCC_FACTOR_TOTP,	/* OTP without otpID */
};

struct cscc;

struct cscc_cred {
	X509		*cert;		/* the credential's certificate */
	STACK_OF(X509)	*chain;		/* cert first, then the CAs sent */
	int		 ec;		/* 1: EC key, 0: RSA */
	char		 status[16];	/* cert.status: valid, revoked, ... */
};

/* base_url: e.g. http://127.0.0.1:18084/csc/v2 (copied). NULL on ENOMEM. */
struct cscc	*cscc_new(const char *base_url);
void		 cscc_free(struct cscc *);

/* oauth2/token with client credentials; the token is kept in the csc. */
int	cscc_token(struct cscc *, const char *client_id, const char *secret,
	    char *err, size_t errlen);
/*
 * credentials/info with the chain: fills cred (free with
 * cscc_cred_clear). A credential whose certificate is not "valid" is
 * CSCC_REFUSED.
 */
int	cscc_info(struct cscc *, const char *credential, const char *user,
	    struct cscc_cred *cred, char *err, size_t errlen);
void	cscc_cred_clear(struct cscc_cred *);
/*
 * credentials/authorize for n hashes of md (n <= CSCC_HASHES_MAX) with the
 * subscriber's factor (code; otp_id only for CSCC_FACTOR_OTP). *sad is a
 * new string (wiped and freed by cscc_free_secret).
 */
int	cscc_authorize(struct cscc *, const char *credential, const char *user,
	    const EVP_MD *md, unsigned char *const *hashes, size_t n,
	    enum cscc_factor factor, const char *code, long otp_id, char **sad,
	    char *err, size_t errlen);
/*
 * signatures/signHash: sigs[i], siglen[i] the signature of hashes[i]
 * (malloc'ed each); ECDSA (DER ECDSA-Sig-Value) when ec, else RSA PKCS#1
 * v1.5.
 */
int	cscc_sign_hash(struct cscc *, const char *credential, const char *sad,
	    const EVP_MD *md, int ec, unsigned char *const *hashes, size_t n,
	    unsigned char **sigs, size_t *siglen, char *err, size_t errlen);
void	cscc_free_secret(char *);

/* --- parsers of the answers (for the fuzz harness) --- */
/*
 * An error answer (HTTP status, body) as a message: "<error>: <error_
 * description>" from CSC's JSON, or the status alone. Secrets listed in
 * avoid (NULL-terminated, may be NULL) are never part of the message.
 */
void	cscc_parse_error(long status, const unsigned char *body, size_t len,
	    const char *const *avoid, char *msg, size_t msglen);
int	cscc_parse_token(const unsigned char *body, size_t len, char **token,
	    char *err, size_t errlen);
int	cscc_parse_info(const unsigned char *body, size_t len,
	    struct cscc_cred *cred, char *err, size_t errlen);
int	cscc_parse_authorize(const unsigned char *body, size_t len, char **sad,
	    char *err, size_t errlen);
int	cscc_parse_signatures(const unsigned char *body, size_t len, size_t n,
	    unsigned char **sigs, size_t *siglen, char *err, size_t errlen);
/* Strict base64 (RFC 4648 §4, padded); *out malloc'ed. 0 or -1. */
int	cscc_b64_decode(const char *in, unsigned char **out, size_t *outlen);
/* Standard base64 with padding, NUL-terminated (malloc'd), or NULL. */
char	*cscc_b64_encode(const unsigned char *p, size_t len);

#endif
