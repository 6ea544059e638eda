/*
 * The signer process (privilege separation, DESIGN.md): a key-using daemon
 * forks it before dropping privileges. Only the signer loads the PKCS#11
 * module and logs in; the worker sends small fixed-format requests over a
 * socketpair and gets signatures back. The signer refuses any request type,
 * kind of to-be-signed structure or key its daemon was not granted, and it
 * hashes and checks the to-be-signed bytes itself: it never signs an opaque
 * digest handed to it.
 *
 * In the worker, signer_pkey() gives an ordinary EVP_PKEY (an OpenSSL 3
 * provider, hsm/provider.c) whose private operation is carried to the signer,
 * so X509_sign, X509_CRL_sign, OCSP_basic_sign, TS_RESP_CTX and CMS signing
 * work unchanged.
 */
#ifndef PKI_SIGNER_H
#define PKI_SIGNER_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

/* What a signature is over; the signer decodes the TBS bytes as this. */
enum signer_kind {
	SIGNER_KIND_CERT = 1,		/* TBSCertificate (RFC 5280 §4.1) */
	SIGNER_KIND_CRL = 2,		/* TBSCertList (RFC 5280 §5.1) */
	SIGNER_KIND_OCSP = 3,		/* ResponseData (RFC 6960 §4.2.1) */
	SIGNER_KIND_TIMESTAMP = 4,	/* SignedAttributes over a TSTInfo (RFC 3161) */
	SIGNER_KIND_CMS = 5,		/* SignedAttributes of CMS SignedData (RFC 5652) */
	SIGNER_KIND_AUDIT = 6,		/* an audit tree head (lib/auditseal.h) */
};
const char	*signer_kind_name(enum signer_kind);

#define SIGNER_MAX_TOKENS	8
#define SIGNER_MAX_GRANTS	16
#define SIGNER_LABEL_MAX	64

/* A token the signer opens at start-up, and where its user PIN comes from. */
struct signer_token {
	const char	*label;
	const char	*pin_file;	/* mode 0600; or NULL to use pin_env */
	const char	*pin_env;	/* environment variable name */
};

/* Permission to sign kind with the key labelled key_label (in any token). */
struct signer_grant {
	enum signer_kind kind;
	const char	*key_label;
	/*
	 * 1: key_label is a prefix, and the grant is for every key labelled
	 * it followed by a number (1 to 9 digits, no leading zero): the keys
	 * a ceremony numbers, such as `pkictl ca issuing`'s issuing-N
	 * (ca/ceremony.c), which may be made after the signer started (crld
	 * signs the CRLs of a new issuing CA without a restart). Not looked
	 * for at start-up.
	 */
	int		 numbered;
};

struct signer_config {
	const char		*module;	/* PKCS#11 module path */
	const char		*lock_dir;	/* for start-up login flocks; NULL: none */
	struct signer_token	 tokens[SIGNER_MAX_TOKENS];
	int			 ntokens;
	struct signer_grant	 grants[SIGNER_MAX_GRANTS];
	int			 ngrants;
	int			 allow_keygen;	/* ceremonies only */
	/*
	 * 0 (the default): outside ceremonies, every granted key must be in
	 * a token at start-up, or the signer does not start. 1: at least
	 * one must; each missing one is logged, and a request for it fails
	 * as for a key gone later ("no private key labelled ..."), until it
	 * is there. crld sets it and asks signer_pubkey() for each of its
	 * keys, so that one issuing CA's missing key leaves only that CA's
	 * CRLs unsigned (crl/README.md).
	 */
	int			 missing_keys_ok;
	/*
	 * The grant for signer_keygen_wrapped(): generating subscriber keys
	 * wrapped under the wrapping key with this label (hsm/p11wrap.h), which
	 * must be in one of the tokens; NULL: not granted.
	 */
	const char		*wrap_label;
	/*
	 * Sign through session copies of the keys (p11_token_session_keys):
	 * hsm.session_keys, default true (SoftHSM2; a hardware HSM gains
	 * nothing and may refuse the copy, which falls back to the key).
	 */
	int			 session_keys;
	/*
	 * A daemon's signer demotes itself and enters SANDBOX_SIGNER once it
	 * has logged in (lib/sandbox.h): sandbox_enter(cfg, sandbox_section),
	 * so <section>.user and <section>.insecure_no_sandbox apply to it as
	 * to the worker. NULL (pkictl's ceremonies, tests): neither. cfg is
	 * set by signer_config_add_token().
	 */
	const struct config	*cfg;
	const char		*sandbox_section;
	/*
	 * hsm.module_write_dir: the directory the module writes (SoftHSM2's
	 * directories.tokendir). A sandboxed signer writes files nowhere
	 * else (Landlock, lib/sandbox.h); NULL: nowhere, as a hardware HSM's
	 * module needs.
	 */
	const char		*module_write_dir;
	/*
	 * 0 (the default): signer_spawn() wipes and unsets, in the calling
	 * process, the environment variable of every token (pin_env), its
	 * PIN read from it or from pin_file, once the signer has been
	 * forked, so the worker does not keep the PIN. A process that forks several signers
	 * from one PIN sets it and calls signer_config_forget_pins() after
	 * the last (hsm/README.md, "PINs from the environment").
	 */
	int			 keep_pin_env;
	/*
	 * pin: the signer process pins itself to CPU cpu (lib/cpu.h) before
	 * it loads the module, as the worker thread that signs through it
	 * pins itself: their round trips then stay on one CPU. 0 (the
	 * default): it runs on any CPU.
	 */
	int			 pin;
	int			 cpu;
	/*
	 * How long one round trip may take before the signer is taken for
	 * hung, in seconds; 0: the default. timeout_s bounds signing and
	 * public keys (hsm.signer_timeout_seconds, default
	 * SIGNER_TIMEOUT_DEFAULT_S), keygen_timeout_s key generation and
	 * removal (KEYGEN, UNKEYGEN, WRAPGEN: hsm.keygen_timeout_seconds,
	 * default SIGNER_KEYGEN_TIMEOUT_DEFAULT_S; RSA-4096 in SoftHSM2 takes
	 * seconds). Past it the call fails with "signer process N: no reply
	 * within S s", the signer is broken (signer_broken()), and it ends:
	 * killed and reaped by the client when the signer has no
	 * sandbox_section (it is then the client's own user), otherwise by
	 * its own alarm one second later (hsm/README.md, "Time-outs").
	 */
	unsigned int		 timeout_s;
	unsigned int		 keygen_timeout_s;
	/*
	 * The longest a CRL this signer signs may be valid, nextUpdate −
	 * thisUpdate, in seconds (hsm.crl_max_validity_seconds; 0: the
	 * default, SIGNER_CRL_MAX_VALIDITY_DEFAULT_S, room for the root's
	 * ARL of a year). crld's signer is given its policy's
	 * full_next_update_seconds (signer_tbscrl_policy, hsm/extern.h).
	 */
	long			 crl_max_validity_s;
#define SIGNER_CRL_MAX_VALIDITY_DEFAULT_S	(400L * 86400)
	/*
	 * The furthest an OCSP response this signer signs may reach, each
	 * nextUpdate − now, in seconds (hsm.ocsp_max_validity_seconds; 0:
	 * SIGNER_OCSP_MAX_VALIDITY_DEFAULT_S, ocspd's own cap on its policy's
	 * validity). ocspd gives its policy's validity_seconds.
	 */
	long			 ocsp_max_validity_s;
#define SIGNER_OCSP_MAX_VALIDITY_DEFAULT_S	(30L * 86400)
};

#define SIGNER_TIMEOUT_DEFAULT_S	10
#define SIGNER_KEYGEN_TIMEOUT_DEFAULT_S	120
#define SIGNER_TIMEOUT_MAX_S		3600

struct signer;
struct config;

/*
 * Adds the token of role ("root", "ca", "ocsp", "tsa", "audit", "wrap") from
 * pki.conf: hsm.<role>_token, its PIN from hsm.<role>_pin_file or else the
 * environment variable PKI_<ROLE>_PIN (set as well as the file: wiped and
 * unset at once, with a warning); the first call also sets module,
 * lock_dir, module_write_dir, session_keys, timeout_s and keygen_timeout_s
 * from hsm.module, hsm.lock_dir, hsm.module_write_dir, hsm.session_keys,
 * hsm.signer_timeout_seconds and hsm.keygen_timeout_seconds. sc starts zeroed; the strings
 * stay owned by cfg. -1 (logged) when something is missing.
 */
int	signer_config_add_token(struct signer_config *, const struct config *,
	    const char *role);
/* Grants kind with key_label (borrowed); -1 when the table is full. */
int	signer_config_grant(struct signer_config *, enum signer_kind,
	    const char *key_label);
/*
 * Grants kind with every key labelled prefix (borrowed) and a number
 * (struct signer_grant, numbered); -1 when the table is full.
 */
int	signer_config_grant_numbered(struct signer_config *, enum signer_kind,
	    const char *prefix);
/*
 * Wipes in place (gone from /proc/<pid>/environ) and unsets the pin_env
 * variable of each token, whether it was read or a pin_file was (until
 * 2026-12-06 it then stayed). signer_spawn() calls it unless keep_pin_env
 * is set.
 */
void	signer_config_forget_pins(const struct signer_config *);

/*
 * Forks the signer process. The child closes every other descriptor, opens
 * the module, logs in to each token, and serves requests until the socket
 * closes; the parent gets the client handle. Once the child is forked, the
 * parent's environment PINs are forgotten (keep_pin_env, above), whether
 * or not the signer then starts. A child that cannot start (bad
 * PIN, missing token) reports it on the socket and signer_spawn() returns NULL
 * with that message in err. Free with signer_close(): it waits for the child
 * to end, at most timeout_s + 2 seconds (keygen_timeout_s + 2 after a key
 * request that got no reply), then kills it when it may (no
 * sandbox_section) or leaves it to end on its own, logged; so a hung
 * signer does not hold up a daemon's shutdown.
 */
struct signer	*signer_spawn(const struct signer_config *, char *err, size_t errlen);
void		 signer_close(struct signer *);
int		 signer_fd(const struct signer *);	/* for tests and poll() */
pid_t		 signer_pid(const struct signer *);
/*
 * 1 once a round trip failed (the signer is gone, or gave no reply within
 * its time-out): spawn a new one.
 */
int		 signer_broken(struct signer *);

/*
 * Asks the signer to sign tbs (DER of the structure named by kind) with
 * key_label using digest mdname ("SHA256", "SHA384", "SHA512"). *sig is
 * malloc'd. Returns 0, or -1 with the signer's refusal or the error in err.
 * A time-stamp token's attributes need signer_sign_attrs().
 */
int	signer_sign(struct signer *, enum signer_kind, const char *key_label,
	    const char *mdname, const unsigned char *tbs, size_t tbslen,
	    unsigned char **sig, size_t *siglen, char *err, size_t errlen);
/*
 * signer_sign() of SignedAttributes (attrs) with the content their
 * messageDigest covers: for SIGNER_KIND_TIMESTAMP the DER TSTInfo, which
 * the signer checks and hashes (hsm/README.md, "What the signer checks");
 * a time-stamp without it is refused, and so is content with any other
 * kind. content is at most SIGNER_CONTENT_MAX (64 KiB) bytes.
 */
int	signer_sign_attrs(struct signer *, enum signer_kind,
	    const char *key_label, const char *mdname,
	    const unsigned char *attrs, size_t attrslen,
	    const unsigned char *content, size_t contentlen,
	    unsigned char **sig, size_t *siglen, char *err, size_t errlen);

/*
 * signer_sign() in two halves, for one thread that keeps several requests
 * in flight (tsad): begin sends the request and gives its ticket; end
 * waits for that ticket's reply. Replies come in the order of the
 * tickets, which every thread's calls share; every ticket must be ended,
 * or the calls after it wait for ever. -1 with err; a begin that fails
 * takes no ticket.
 */
int	signer_sign_begin(struct signer *, enum signer_kind,
	    const char *key_label, const char *mdname,
	    const unsigned char *tbs, size_t tbslen, unsigned long *ticket,
	    char *err, size_t errlen);
int	signer_sign_end(struct signer *, unsigned long ticket,
	    unsigned char **sig, size_t *siglen, char *err, size_t errlen);
/* signer_sign_begin() as signer_sign_attrs(): tsad's time-stamps. */
int	signer_sign_attrs_begin(struct signer *, enum signer_kind,
	    const char *key_label, const char *mdname,
	    const unsigned char *attrs, size_t attrslen,
	    const unsigned char *content, size_t contentlen,
	    unsigned long *ticket, char *err, size_t errlen);

/*
 * fn(arg) is called at the start of every synchronous request made through
 * the signer (signer_sign, signer_pubkey, an EVP_PKEY's signature), in the
 * calling thread. A single-threaded event loop with requests in flight
 * (signer_sign_begin) takes their replies there, or its synchronous
 * request would wait for ever behind them. fn must not make a synchronous
 * request itself. NULL: none (the default).
 */
void	signer_on_sync(struct signer *, void (*fn)(void *), void *arg);

/*
 * 1 when a reply has already been read from the socket and waits in the
 * client's buffer, where poll() on signer_fd() does not see it: an event
 * loop takes it before it sleeps.
 */
int	signer_reply_buffered(struct signer *);

/* Public key of a granted key. */
int	signer_pubkey(struct signer *, const char *key_label, EVP_PKEY **pub,
	    char *err, size_t errlen);

/* Generates a key pair in token (allow_keygen only); keytype as p11_keytype_parse. */
int	signer_keygen(struct signer *, const char *token_label,
	    const char *key_label, const char *keytype, EVP_PKEY **pub,
	    char *err, size_t errlen);

/*
 * Destroys a key pair this same signer process generated with
 * signer_keygen (token, label and keytype as given then): a ceremony that
 * fails after key generation leaves no key behind. Any other key is
 * refused, so the request cannot delete a key in use. 0, or -1 with err.
 */
int	signer_unkeygen(struct signer *, const char *token_label,
	    const char *key_label, const char *keytype, char *err,
	    size_t errlen);

/*
 * Generates a subscriber key pair of keytype (as p11_keytype_parse) in the
 * token holding the wrapping key wrap_label (the config's wrap_label only)
 * and returns it wrapped: *blob (malloc'd, p11wrap format v1, caller frees)
 * and *pub (caller frees). The private key never exists outside the token
 * in clear; nobody in the worker can sign with it. -1 with err, both NULL.
 */
int	signer_keygen_wrapped(struct signer *, const char *wrap_label,
	    const char *keytype, unsigned char **blob, size_t *bloblen,
	    EVP_PKEY **pub, char *err, size_t errlen);

/*
 * An EVP_PKEY for key_label whose signing goes to the signer with the given
 * kind; usable with X509_sign(), X509_CRL_sign(), OCSP_basic_sign(),
 * CMS_add1_signer(). Holds a reference to the signer's provider context;
 * free with EVP_PKEY_free() before signer_close(). For kind timestamp set
 * SIGNER_PARAM_CONTENT (the DER TSTInfo) on the signing context before
 * each signature (EVP_PKEY_CTX_set_params): TS_RESP_CTX, which cannot,
 * gets the signer's refusal since 2026-12-06.
 */
EVP_PKEY	*signer_pkey(struct signer *, enum signer_kind, const char *key_label,
		    char *err, size_t errlen);
/*
 * An octet-string parameter of a signer_pkey()'s signing context: the
 * content the signed bytes cover (signer_sign_attrs()), copied, until the
 * context is initialised again or has made a signature in place
 * (EVP_MD_CTX_FLAG_FINALISE). Set it on the EVP_PKEY_CTX of the
 * EVP_MD_CTX (EVP_MD_CTX_get_pkey_ctx).
 */
#define SIGNER_PARAM_CONTENT	"pkisigner-content"

#endif
