/*
 * The PKCS#11 layer: the only code in the tree that speaks PKCS#11.
 *
 * It calls the module's function list directly (dlopen + C_GetFunctionList,
 * headers from p11-kit) rather than through libp11: libp11 0.4.12 cannot
 * generate EC keys or set the key attributes we need, and later work needs
 * wrap/unwrap with attribute templates it does not expose (see hsm/README.md).
 *
 * Not thread-safe per token handle: one struct p11_token belongs to one
 * thread (the signer process is single-threaded; scale with processes).
 * Recovery from a token that is no longer present re-initializes the module
 * (C_Finalize + C_Initialize, which rescans the slots), and every token
 * handle of that module then reconnects: keep a module and its tokens in one
 * thread too.
 */
#ifndef PKI_P11_H
#define PKI_P11_H

#include <stddef.h>
#include <openssl/evp.h>

struct p11_module;
struct p11_token;

enum p11_keytype {
	P11_KEY_RSA2048 = 1,
	P11_KEY_RSA3072,
	P11_KEY_RSA4096,
	P11_KEY_EC_P256,
	P11_KEY_EC_P384,
};

/* "rsa2048", "rsa3072", "rsa4096", "ec-p256", "ec-p384"; -1 if unknown. */
int	 p11_keytype_parse(const char *name, enum p11_keytype *out);
const char *p11_keytype_name(enum p11_keytype);

/*
 * dlopens the module at path and calls C_Initialize with CKF_OS_LOCKING_OK.
 * NULL with a message in err. Free with p11_module_free() (C_Finalize).
 * Call after fork(), in the process that will use it.
 */
struct p11_module	*p11_module_load(const char *path, char *err, size_t errlen);
void			 p11_module_free(struct p11_module *);
/*
 * The same, in a process just forked from one that may have the module
 * loaded (the signer): a module that says it is already initialized carries
 * the parent's sessions and login, so it is finalized and initialized anew.
 */
struct p11_module	*p11_module_load_child(const char *path, char *err,
			    size_t errlen);

/*
 * Initializes the first uninitialized token with label, sets its SO PIN and
 * user PIN. Refuses (-1) when a token with that label already exists.
 */
int	p11_token_init(struct p11_module *, const char *label, const char *so_pin,
	    const char *user_pin, char *err, size_t errlen);

/* Calls fn(label, serial, arg) for each initialized token present. */
int	p11_token_list(struct p11_module *,
	    void (*fn)(const char *label, const char *serial, void *arg), void *arg);

/*
 * Opens a read-write session on the token with this label and logs in as
 * user with pin. The PIN is kept (in memory locked with mlock) only for
 * re-login after a lost session; the caller wipes its own copy. Start-up
 * logins on one token are serialized with an flock on <lock_dir>/<label>.lock
 * when lock_dir is non-NULL (SoftHSM2 rewrites its token file at login), the
 * one name every process of the stack uses. NULL with a message in err.
 */
struct p11_token	*p11_token_open(struct p11_module *, const char *label,
			    const char *pin, const char *lock_dir, char *err,
			    size_t errlen);
void			 p11_token_close(struct p11_token *);
const char		*p11_token_label(const struct p11_token *);

/*
 * Generates a key pair inside the token: private key CKA_TOKEN, CKA_PRIVATE,
 * CKA_SENSITIVE=true, CKA_EXTRACTABLE=false, CKA_SIGN=true,
 * CKA_DECRYPT/UNWRAP/DERIVE=false; both halves get CKA_LABEL=label and a
 * random CKA_ID. Refuses when a key with that label exists. Returns the
 * public key in *pub (caller frees) or -1 with err.
 */
int	p11_key_generate(struct p11_token *, const char *label, enum p11_keytype,
	    EVP_PKEY **pub, char *err, size_t errlen);

/* Public key of the private key labelled label (from its public object). */
int	p11_key_public(struct p11_token *, const char *label, EVP_PKEY **pub,
	    char *err, size_t errlen);

/*
 * Whether a private key labelled label is in the token: 1 yes, 0 no, -1 on
 * error (err). Recovers a lost session as p11_sign_digest does.
 */
int	p11_key_exists(struct p11_token *, const char *label, char *err,
	    size_t errlen);

/*
 * on: a private key is used through a session-object copy of it, made by
 * C_CopyObject when first looked up (SoftHSM2 signs ~50 % faster with one:
 * no token-file checks per signature; hsm/README.md). The copy keeps the
 * key's attributes (sensitive, not extractable) and ends with the session.
 */
void	p11_token_session_keys(struct p11_token *, int on);

/*
 * Destroys the key pair labelled label (private and public objects): for a
 * ceremony step that generated it and then failed, so that running it
 * again is not refused. 0 (also when there was none) or -1 with err.
 */
int	p11_key_destroy(struct p11_token *, const char *label, char *err,
	    size_t errlen);

/* Calls fn for each private key: label, type, sensitive, extractable. */
int	p11_key_list(struct p11_token *,
	    void (*fn)(const char *label, const char *type, int sensitive,
	    int extractable, void *arg), void *arg);

/*
 * Signs a digest already computed by the caller with the private key
 * labelled label. mdname is "SHA256", "SHA384" or "SHA512"; anything else
 * (SHA1, MD5) is refused. RSA: PKCS#1 v1.5 with the DigestInfo built here and
 * CKM_RSA_PKCS. EC: CKM_ECDSA; the raw r||s is returned DER-encoded
 * (ECDSA-Sig-Value). *sig is malloc'd (caller frees).
 * A lost session (CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED,
 * CKR_USER_NOT_LOGGED_IN, CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT ...) is
 * recovered by reopening and logging in again, a bounded number of times with
 * back-off; when the token stays away, -1 with a clear message. A key that
 * is not found is looked up once more through a fresh session and login.
 * A PIN the token refuses at a re-login is never given again: that call
 * and every later one on the handle fail at once (-1, saying so).
 */
int	p11_sign_digest(struct p11_token *, const char *label, const char *mdname,
	    const unsigned char *digest, size_t dlen, unsigned char **sig,
	    size_t *siglen, char *err, size_t errlen);

/*
 * TEST ONLY: closes every session of the token's slot underneath the handle
 * (C_CloseAllSessions, which also ends the login), as a token reset would.
 * The next call must recover. Never called outside tests/.
 */
int	p11_test_drop_session(struct p11_token *);

#endif
