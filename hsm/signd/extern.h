/*
 * Private interfaces of signd, the remote-signing service (CSC API v2;
 * hsm/README.md "signd", docs/csc.md).
 *
 * Two kinds of process: the worker (main.c, csc.c, csc_request.c) speaks
 * HTTP and JSON on sign.threads threads, and a pool of sign.sams signature
 * activation modules, the SAMs (samproc.c), each of which alone holds its
 * login to the wrapping token and its pki_sam connection. Each talks to
 * the worker over its own socketpair with the fixed-format requests of
 * sam_proto.c.
 */
#ifndef PKI_SIGND_EXTERN_H
#define PKI_SIGND_EXTERN_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>

struct config;
struct db;
struct http_request;
struct http_response;

/* --- limits (hard; policy may only be stricter) ---------------------------------- */
#define SIGND_HASHES_MAX	100	/* hashes per authorization / signHash */
#define SIGND_SAD_BYTES		32	/* 256 random bits */
#define SIGND_SAD_B64_LEN	43	/* base64url, unpadded */
#define SIGND_TOKEN_BYTES	32
#define SIGND_TOKEN_B64_LEN	43
#define SIGND_SIG_MAX		1024	/* RSA-4096: 512; ECDSA P-384: 104 */
#define SIGND_MAX_BODY		(64 * 1024)	/* 100 SHA-512 hashes in base64 ≈ 9 KiB */

/* --- the SAM wire format (sam_proto.c) -------------------------------------------- */
/*
 * Framing is hsm/signer_proto.h's ({u32 type, u32 length} then exactly
 * length bytes; integers big-endian). Requests:
 *
 *	AUTHORIZE  u64 credential, 32 bytes token, u32 factor (1 otp,
 *		   2 pin), u64 otp_id (0 for a PIN), 6 bytes secret (ASCII
 *		   digits), u32 md (1 SHA256, 2 SHA384, 3 SHA512), u32 n
 *		   (1..100), n × digest (32, 48 or 64 bytes as md says)
 *	SIGNHASH   u64 credential, 32 bytes token, 32 bytes SAD, u32 md,
 *		   u32 algo (1 RSA PKCS#1 v1.5, 2 RSA-PSS, 3 ECDSA), u32 n,
 *		   n × digest
 *
 * token is the signing service's Bearer access token itself (its 256
 * bits, not their SHA-256): the SAM hashes it and finds the service in
 * sign_token, so the worker never names the service. sign_token keeps
 * only the SHA-256, which pki_sign can read; the token cannot be had from
 * the database.
 *
 * numSignatures is n: an authorization covers exactly its hashes. Replies:
 * SAM_OK with {32 bytes SAD, u32 expires_in} (AUTHORIZE) or {u32 n, n ×
 * {u32 len, len bytes}} (SIGNHASH); SAM_REFUSED with {u32 sam_error, u32
 * retry_after, text}; SAM_FAILED with text. A body that breaks the format
 * cannot come from a working worker: the SAM logs it and exits.
 */
enum sam_msg {
	SAM_MSG_AUTHORIZE = 101,
	SAM_MSG_SIGNHASH = 102,
};
enum sam_status {
	SAM_OK = 0,
	SAM_REFUSED = 1,
	SAM_FAILED = 2,
};
enum sam_error {
	SAM_E_REQUEST = 1,	/* 400 invalid_request */
	SAM_E_CREDENTIAL,	/* 400 invalid_request: no such credential */
	SAM_E_CRED_STATUS,	/* 400 invalid_request: revoked, held, expired */
	SAM_E_PIN,		/* 400 invalid_pin (counted) */
	SAM_E_OTP,		/* 400 invalid_otp (counted or not) */
	SAM_E_NOT_ENROLLED,	/* 400 invalid_request: no PIN set */
	SAM_E_LOCKED,		/* 429 access_denied, Retry-After */
	SAM_E_SAD,		/* 400 invalid_request: unknown SAD */
	SAM_E_SAD_EXPIRED,	/* 400 invalid_request: SAD expired */
	SAM_E_HASH,		/* 400 invalid_request: hash not covered */
	SAM_E_ALGO,		/* 400 invalid_request: algo vs key type */
	SAM_E_KEY,		/* 500 server_error: the key does not match */
	SAM_E_UNAVAILABLE,	/* 503 temporarily_unavailable, Retry-After:
				   the database or the HSM failed */
	SAM_E_TOKEN,		/* 401 invalid_token: the token is no live
				   token of an enabled service */
};
enum sam_md {
	SAM_MD_SHA256 = 1,
	SAM_MD_SHA384 = 2,
	SAM_MD_SHA512 = 3,
};
enum sam_algo {
	SAM_ALGO_RSA_PKCS1 = 1,
	SAM_ALGO_RSA_PSS = 2,
	SAM_ALGO_ECDSA = 3,
};
enum sam_factor {
	SAM_FACTOR_OTP = 1,
	SAM_FACTOR_PIN = 2,
	SAM_FACTOR_TOTP = 3,	/* the subscriber's RFC 6238 code (no otpID) */
};

struct sam_hashes {
	uint32_t		 md;		/* enum sam_md */
	uint32_t		 n;
	unsigned char		 h[SIGND_HASHES_MAX][64];
};
struct sam_authorize_req {
	uint64_t		 credential;
	unsigned char		 token[SIGND_TOKEN_BYTES];	/* wipe */
	uint32_t		 factor;	/* enum sam_factor */
	uint64_t		 otp_id;
	char			 secret[7];	/* wipe */
	struct sam_hashes	 hashes;
};
struct sam_signhash_req {
	uint64_t		 credential;
	unsigned char		 token[SIGND_TOKEN_BYTES];	/* wipe */
	unsigned char		 sad[SIGND_SAD_BYTES];	/* wipe */
	uint32_t		 algo;		/* enum sam_algo */
	struct sam_hashes	 hashes;
};

/* 32, 48, 64 for a known md, else 0; and its name ("SHA256", ...) or NULL. */
size_t		 sam_md_len(uint32_t md);
const char	*sam_md_name(uint32_t md);
/* Builds a body (malloc'd). 0 or -1. */
int	sam_authorize_encode(const struct sam_authorize_req *,
	    unsigned char **body, size_t *len);
int	sam_signhash_encode(const struct sam_signhash_req *,
	    unsigned char **body, size_t *len);
/*
 * Parses a body: -1 on a wrong length, an unknown md/factor/algo, n out of
 * 1..SIGND_HASHES_MAX, a secret that is not 6 digits, an OTP id with a PIN
 * or none with an OTP, duplicate hashes, trailing bytes. The output is
 * zeroed on failure.
 */
int	sam_authorize_decode(const unsigned char *body, size_t len,
	    struct sam_authorize_req *);
int	sam_signhash_decode(const unsigned char *body, size_t len,
	    struct sam_signhash_req *);
/* Reply bodies. */
int	sam_refusal_encode(uint32_t error, uint32_t retry_after,
	    const char *text, unsigned char **body, size_t *len);
int	sam_refusal_decode(const unsigned char *body, size_t len,
	    uint32_t *error, uint32_t *retry_after, char *text, size_t textlen);
/* SIGNHASH's OK reply: n signatures; *sigs and each element malloc'd. */
int	sam_sigs_decode(const unsigned char *body, size_t len,
	    unsigned char ***sigs, size_t **siglens, uint32_t *n);
void	sam_sigs_free(unsigned char **sigs, size_t *siglens, uint32_t n);
int	sam_sigs_encode(unsigned char *const *sigs, const size_t *lens,
	    uint32_t n, unsigned char **body, size_t *len);

/* --- the SAM process (samproc.c) ------------------------------------------------- */
/*
 * Forks the SAM: socketpair, fork; the child runs samproc() and _exits.
 * The child loads the PKCS#11 module, logs in to the wrap token, checks
 * the wrapping key, connects to PostgreSQL as pki_sam, reads the OTP key
 * and the lock-out policy, enters its sandbox and reports OK (or why not)
 * in one start-up frame. Returns the parent's socket, or -1 with err.
 */
int	sam_spawn(const struct config *, pid_t *pid, char *err, size_t errlen);
int	samproc(int fd, const struct config *);

/* --- the CSC request parsers (csc_request.c; stateless, fuzzed) ---------------- */
#define CSC_ID_MAX		20	/* decimal bigint */

/* A client_id as pkictl makes it (schema/014: ^[A-Za-z0-9_-]{22}$). */
#define CSC_CLIENT_ID_LEN	22

struct csc_token_req {
	char	client_id[64];
	char	client_secret[64];	/* wipe */
};
enum csc_certs { CSC_CERTS_NONE = 0, CSC_CERTS_SINGLE, CSC_CERTS_CHAIN };
struct csc_list_req {
	char		user_id[CSC_ID_MAX + 1];
	long		max_results;		/* 0: not given */
	int		credential_info;	/* credentialInfos wanted */
	int		only_valid;		/* onlyValid: true */
	enum csc_certs	certs;			/* for credentialInfos */
	int		cert_info;
	int		auth_info;
};
struct csc_info_req {
	char		credential[CSC_ID_MAX + 1];
	char		user_id[CSC_ID_MAX + 1];	/* "" when not given */
	enum csc_certs	certs;
	int		cert_info;
	int		auth_info;
};
struct csc_authorize_req {
	char			credential[CSC_ID_MAX + 1];
	char			user_id[CSC_ID_MAX + 1];	/* "" when not given */
	struct sam_authorize_req sam;		/* without credential/token */
};
struct csc_signhash_req {
	char			credential[CSC_ID_MAX + 1];
	char			user_id[CSC_ID_MAX + 1];
	char			sign_algo[64];	/* OID, checked against the key */
	int			pss;		/* signAlgo is RSASSA-PSS */
	struct sam_signhash_req	 sam;		/* algo set by the worker */
};

/* How csc_parse_token refused: the answer's status and error. */
enum csc_token_refusal {
	CSC_TOKEN_REQUEST = 0,	/* 400 invalid_request */
	CSC_TOKEN_GRANT,	/* 400 unsupported_grant_type */
	CSC_TOKEN_CLIENT,	/* 401 invalid_client */
};

/*
 * Each parses one body; -1 with a client-facing error_description in
 * detail that never quotes a value. token: application/x-www-form-urlencoded
 * (RFC 6749 §4.4.2) with grant_type=client_credentials, client_id,
 * client_secret, or neither when auth, the Authorization header (NULL:
 * none), is "Basic base64(id:secret)" (RFC 6749 §2.3.1; the scheme in any
 * case, RFC 9110 §11.1). *why says how it refused: CSC_TOKEN_GRANT for
 * another grant type, CSC_TOKEN_CLIENT for another scheme in the header
 * (an authentication method not supported, RFC 6749 §5.2) or a client_id
 * or client_secret longer than any client's (in the body or in Basic).
 */
int	csc_parse_token(const void *body, size_t len, const char *auth,
	    struct csc_token_req *, enum csc_token_refusal *why, char *detail,
	    size_t detaillen);
/*
 * 1 if id has the form of a registered client_id; anything else is no
 * client of ours (and may not even be UTF-8 to PostgreSQL).
 */
int	csc_client_id_ok(const char *id);
int	csc_parse_list(const void *body, size_t len, struct csc_list_req *,
	    char *detail, size_t detaillen);
/* The info method's optional body: {"lang": "<string>"} or nothing. */
int	csc_parse_server_info(const void *body, size_t len, char *detail,
	    size_t detaillen);
int	csc_parse_info(const void *body, size_t len, struct csc_info_req *,
	    char *detail, size_t detaillen);
int	csc_parse_authorize(const void *body, size_t len,
	    struct csc_authorize_req *, char *detail, size_t detaillen);
int	csc_parse_signhash(const void *body, size_t len,
	    struct csc_signhash_req *, char *detail, size_t detaillen);
/* 43 base64url characters ↔ 32 bytes. 0 or -1. */
int	csc_b64url32_decode(const char *s, unsigned char out[32]);
void	csc_b64url32_encode(const unsigned char in[32], char out[44]);
/* Standard base64 (RFC 4648 §4), padded. *out malloc'd. 0 or -1. */
int	csc_b64_decode(const char *s, size_t slen, unsigned char *out,
	    size_t outmax, size_t *outlen);
char	*csc_b64_encode(const unsigned char *in, size_t len);
/*
 * The i-th signAlgo OID signatures/signHash takes, NULL past the last: the
 * one list info's signAlgorithms.algos is made of.
 */
const char *csc_sign_algo_oid(size_t i);
/* The sam_md of a hash OID (2.16.840.1.101.3.4.2.1/2/3), or 0. */
uint32_t csc_md_from_oid(const char *oid);
void	csc_wipe(void *, size_t);

/* --- the worker (csc.c) ------------------------------------------------------ */
#define SIGND_THREADS_MAX	16	/* sign.threads; sign.sams ≤ sign.threads */

/* One SAM process as the worker sees it. */
/*
 * One SAM as the worker sees it. A dead one (no reply) or a recycled one
 * (fd -1) is replaced by the supervisor: main.c's control thread swaps the
 * new socket in and signals ready; a request meanwhile waits for it up to
 * SIGND_SAM_WAIT_S, then answers 503.
 */
#define SIGND_SAM_WAIT_S	3
struct signd_sam {
	pthread_mutex_t	 lock;		/* one request at a time on fd */
	pthread_cond_t	 ready;		/* a new SAM is in the slot */
	int		 fd;		/* the socketpair end; -1 if none */
	pid_t		 pid;
	int		 dead;		/* no reply once: until replaced */
	unsigned long	 signhashes;	/* sent to this SAM process */
	unsigned long	 recycle_after;	/* sign.sam_recycle_after; 0 never */
};
/*
 * The worker's state. Each HTTP thread takes a slot on its first request
 * (csc_handle: a thread-local index from next_slot) and keeps it: its own
 * database connection db[slot] and the SAM sams[slot % nsams], so threads
 * never share a connection and, with nsams = nthreads (the default), never
 * wait for each other's SAM.
 */
/*
 * sign.db_timeout_seconds: how long a command waits for PostgreSQL at most
 * (db_set_timeout), on the worker's pki_sign connections and each SAM's
 * pki_sam one: above both roles' lock_timeout and statement_timeout (5 s,
 * 15 s: schema/058), which end a slow statement with the connection kept;
 * this one is for a server that stops answering (a stopped or hung
 * backend, a network that drops what it is sent), when they cannot fire.
 * Past it the request gets 503 temporarily_unavailable (Retry-After: 5),
 * its transaction rolled back (nothing signed, no SAD made or spent unless
 * the COMMIT itself was the command given up), and the next request a new
 * connection. Below sign.sam_timeout_seconds (60), so that a SAM answers
 * before the worker gives up on it.
 */
#define SIGND_DB_TIMEOUT_S	20
struct signd {
	struct db		*db[SIGND_THREADS_MAX];	/* pki_sign */
	long			 db_timeout_s;	/* sign.db_timeout_seconds */
	unsigned int		 nthreads;
	struct signd_sam	 sams[SIGND_THREADS_MAX];
	unsigned int		 nsams;
	unsigned int		 next_slot;	/* atomic */
	long			 token_ttl_s;
	const char		*base_url;	/* [urls] sign */
};
int	csc_handle(void *arg, const struct http_request *,
	    struct http_response *);

#endif
