/*
 * Private interfaces of pkictl, the CA's admin and ceremony CLI.
 */
#ifndef PKI_CA_EXTERN_H
#define PKI_CA_EXTERN_H

#include <stddef.h>
#include <openssl/x509.h>

#include "hsm/signer.h"

struct config;
struct db;

/* Exit statuses of pkictl, documented in its usage text. */
#define PKICTL_EXIT_OK		0
#define PKICTL_EXIT_FAIL	1
#define PKICTL_EXIT_USAGE	2
#define PKICTL_EXIT_REFUSED	3	/* e.g. ceremony on an initialized CA */

/* Key labels the ceremony creates; daemons find them through ca_key. */
#define CA_KEY_ROOT		"root-ca-1"
#define CA_KEY_ISSUING		"issuing-ca-1"
#define CA_KEY_OCSP_ROOT	"ocsp-root-1"
#define CA_KEY_OCSP_ISSUING	"ocsp-issuing-1"
#define CA_KEY_TSA		"tsa-1"
#define CA_KEY_WRAP		"subscriber-wrap-1"	/* wrap token, hsm/p11wrap.h */

/* profile.c: certificate profiles from policy/profiles/<name>.cnf */
struct profile;

/*
 * Loads policy_dir/profiles/<name>.cnf, expanding ${urls::X} from cfg's
 * [urls] section and ${issuer::name} from issuer, the name
 * (ca_certificate.name) of the CA that signs with it: the profiles' CRL,
 * delta CRL and caIssuers URLs are ${urls::crl_base}/${issuer::name}.crl
 * and so on. issuer must pass profile_issuer_name_ok(). NULL with a
 * message in err. Free with profile_free().
 */
struct profile	*profile_load(const char *policy_dir, const char *name,
		    const char *issuer, const struct config *cfg, char *err,
		    size_t errlen);
/* 1 when name may be an issuer's name in profiles and URLs, else 0. */
int		 profile_issuer_name_ok(const char *name);
/* The profile's subject (its subject section). NULL with err; X509_NAME_free(). */
X509_NAME	*profile_subject_name(const struct profile *, char *err,
		    size_t errlen);
void		 profile_free(struct profile *);
const char	*profile_keytype(const struct profile *);
const char	*profile_digest(const struct profile *);
const char	*profile_name(const struct profile *);
long		 profile_validity_days(const struct profile *);
/* notBefore is this many seconds before the signature ([profile] backdate_seconds). */
long		 profile_backdate_seconds(const struct profile *);
/* A [profile] key (borrowed from the profile), or NULL when absent. */
const char	*profile_get(const struct profile *, const char *key);

/*
 * Builds a certificate for subject_pub from the profile (a fresh 127-bit
 * random serial, validity clamped to the issuer's notAfter), signs it with
 * signing_key (issuer's key; the subject's own for issuer NULL, i.e.
 * self-signed) and the digest that key fixes (lib/sigdigest.h: an EC
 * issuer's curve's, an RSA issuer's the profile's digest), then checks the
 * result: signature verifies, extensions parse.
 * The subject is subject_name when non-NULL (copied), else the profile's
 * subject section, with cn_suffix (may be NULL) appended to its CN in
 * parentheses. Returns a new X509 (caller frees) or NULL with err.
 */
X509		*profile_issue(const struct profile *, const X509_NAME *subject_name,
		    EVP_PKEY *subject_pub, const char *cn_suffix, X509 *issuer,
		    EVP_PKEY *signing_key, char *err, size_t errlen);

/*
 * profile_issue() in two steps, so that a caller can lint the certificate
 * between them (ca/worker): profile_build() fills everything but the
 * signature (new X509, caller frees; NULL with err, and *transient, when
 * transient is not NULL, 1 if the failure was of memory or randomness and
 * may pass, 0 if the profile's data or the subject is at fault);
 * profile_sign() signs x in place and checks it as profile_issue() does
 * (0, or -1 with err). A subjectAltName left without a name (the profile's
 * "email:copy" for a subject without emailAddress) is left out.
 */
X509		*profile_build(const struct profile *, const X509_NAME *subject_name,
		    EVP_PKEY *subject_pub, const char *cn_suffix, X509 *issuer,
		    int *transient, char *err, size_t errlen);
/*
 * Whether the profile's extension section makes the extension obj: -1 when
 * it does not, else 1 when it makes it critical and 0 when not.
 */
int		 profile_ext_critical(const struct profile *, const ASN1_OBJECT *obj);
int		 profile_sign(const struct profile *, X509 *, EVP_PKEY *subject_pub,
		    X509 *issuer, EVP_PKEY *signing_key, char *err, size_t errlen);

/* certstore.c: CA certificates in PostgreSQL, PEM files and LDAP */
/* hex helpers: lower-case hex of a SHA-256 over der */
void	 certstore_sha256_hex(const unsigned char *der, size_t len, char out[65]);
/* The serial as BN_bn2hex writes it (OPENSSL_free it), or NULL. */
char	*certstore_serial_hex(X509 *cert);

/*
 * The certstore_add_* and _queue_* functions insert one row and its audit
 * event (by actor); the caller holds the transaction. Ids into *id_out.
 */
int	 certstore_add_key(struct db *, const char *actor, const char *role, const char *token,
	    const char *label, const char *keytype, EVP_PKEY *pub, long long *id_out);
/* Inserts a certificate row; issuer_id < 0 means self-signed. */
int	 certstore_add_cert(struct db *, const char *actor, const char *name, const char *role,
	    long long key_id, long long issuer_id, X509 *cert, long long *id_out);
/* Queues cert for publication as attr on the LDAP entry cn=<subject CN>,base. */
int	 certstore_queue_ldap(struct db *, const struct config *,
	    const char *actor, X509 *cert, const char *attr);
/*
 * Records a certificate an issuer of ours signed in the status registry
 * (table certificate) with its audit event; issuer_ca_id is the issuer's
 * ca_certificate.id. Caller holds the transaction.
 */
int	 certstore_add_issued(struct db *, const char *actor, long long issuer_ca_id,
	    const char *profile, X509 *cert, long long *id_out);
/* Writes every CA certificate from the database to out_dir as NAME.pem, plus chain.pem. */
int	 certstore_export(struct db *, const char *out_dir);
/* Publishes pending queue rows; returns the number still pending, or -1. */
int	 certstore_publish(struct db *, const struct config *, const char *actor);
/* 1 when the init ceremony has completed (its time into when), 0 if not, -1 on error. */
int	 certstore_initialized(struct db *, char *when, size_t whenlen);

/* ceremony.c */
int	 ceremony_init(const struct config *, const char *actor);
int	 ceremony_status(const struct config *);
/* `pkictl ca responder --issuer NAME`: the issuer's next OCSP responder. */
int	 ceremony_responder(const struct config *, const char *actor,
	    const char *issuer_name);
/* `pkictl ca tsa [--issuer NAME]`: the TSA's next key and certificate. */
int	 ceremony_tsa(const struct config *, const char *actor,
	    const char *issuer_name);
/*
 * `pkictl ca issuing`: a new issuing CA, issuing-N, signed by the root
 * (ca/README.md "Renewing the issuing CA").
 */
int	 ceremony_issuing(const struct config *, const char *actor);

/* certcmd.c: pkictl cert issue|revoke|release|status */
int	 cmd_cert(const struct config *, const char *actor, int argc, char **argv);

/* ordercmd.c: pkictl order add|show, pkictl wrapkey create */
int	 cmd_order(const struct config *, const char *actor, int argc, char **argv);
int	 cmd_wrapkey(const struct config *, const char *actor, int argc, char **argv);
/* officercmd.c: pkictl officer add|list|disable (RA officers). */
int	 cmd_officer(const struct config *, const char *actor, int argc, char **argv);
/* sigservicecmd.c: pkictl sigservice add --name N (signd's OAuth clients) */
int	 cmd_sigservice(const struct config *, const char *actor, int argc, char **argv);
/* kyccmd.c: pkictl kyc erase (the evidence retention of ra/README.md) */
int	 cmd_kyc(const struct config *, const char *actor, int argc, char **argv);
/* purgecmd.c: pkictl purge (the retention of ra/README.md) */
int	 cmd_purge(const struct config *, const char *actor, int argc, char **argv);
/* policy/ra.conf (or ra.policy_file), as rad reads it. 0 or -1, logged. */
struct ra_policy;
int	 pkictl_ra_policy(const struct config *, struct ra_policy *);

/* arl.c: pkictl crl arl (the root's CRL, at a ceremony) */
int	 cmd_crl(const struct config *, const char *actor, int argc, char **argv);
/*
 * Signs and records the root's ARL now (`pkictl crl arl`; `cert revoke
 * --sign-arl` after its change committed): a PKICTL_EXIT_* code, logged.
 */
int	 arl_issue(const struct config *, const char *actor);

/* Helpers shared by the subcommands (pkictl.c). */
struct p11_module;
struct p11_token;
/* The configured PKCS#11 module; NULL when logged. */
struct p11_module *pkictl_module(const struct config *);
/* token opened with the PIN of pin_file (or the role's); NULL when logged. */
struct p11_token *pkictl_token(const struct config *, struct p11_module *,
		    const char *token, const char *pin_file);
/* pkictl audit init|seal|export (ca/auditcmd.c). */
int		 cmd_audit(const struct config *, const char *actor, int argc,
		    char **argv);
struct db	*pkictl_db(const struct config *);
struct option;
/* getopt_long(argc, argv, "", opts, NULL), exact long option names only. */
int		 pkictl_getopt(int argc, char **argv, const struct option *opts);
struct db_stmt;
/*
 * Disables the row named name (an officer, a signing service) with its
 * audit event, in one transaction: disable is "UPDATE … SET disabled_at =
 * now() WHERE <name> = $1 AND disabled_at IS NULL RETURNING id", exists
 * "SELECT id … WHERE <name> = $1". PKICTL_EXIT_OK with id set;
 * PKICTL_EXIT_REFUSED when it was disabled already; PKICTL_EXIT_FAIL when
 * there is none or on failure (logged, naming what).
 */
struct pkictl_disable {
	const struct db_stmt	*disable, *exists;
	const char		*what;		/* "officer", "signing service" */
	const char		*action, *object_type, *name_key;	/* audit */
	const char		*actor, *name;
	char			 id[24];
	int			 missing, already;
};
int		 pkictl_disable(const struct config *, struct pkictl_disable *);
/* A connection as the role of config key uri_key ("pg.sealer_uri"). */
struct db	*pkictl_db_as(const struct config *, const char *uri_key);
/*
 * Session lock for commands generating a CA token's key: 0 taken, 1 held
 * by another run (logged: PKICTL_EXIT_REFUSED), -1 error.
 */
int	 pkictl_keygen_lock(struct db *, const char *what);
/*
 * auditcmd.c: what became of a transaction whose COMMIT failed (its answer
 * lost with the connection, say). Inside the transaction pkictl_xact_id
 * takes its id (pg_current_xact_id; 0 or -1); pkictl_transaction is
 * db_transaction with that id of its last attempt in xid ("" when none got
 * that far). pkictl_xact_committed then asks, as the auditor on a new
 * connection: 1 committed, 0 not (aborted, or xid ""), -1 unknown: still in
 * progress after PKICTL_XACT_WAIT_MS (a COMMIT waiting for a synchronous
 * standby, not yet visible to anyone), or the database does not answer.
 * Until 2026-12-07 pkictl counted its audit event instead, which a COMMIT
 * still in progress does not show: "nothing was committed", then it was.
 */
#define PKICTL_XID_MAX		24
#define PKICTL_XACT_WAIT_MS	10000
int	 pkictl_xact_id(struct db *, char xid[PKICTL_XID_MAX]);
int	 pkictl_transaction(struct db *, const char *isolation, int attempts,
	    int (*fn)(struct db *, void *), void *arg,
	    char xid[PKICTL_XID_MAX]);
int	 pkictl_xact_committed(const struct config *, const char *xid);
/*
 * A signer holding the token of ca's key that may sign only kind with that
 * key (the key's PIN file found as by pkictl_pin_file). NULL when logged.
 */
struct cadb_ca;
struct signer	*pkictl_signer_for(const struct config *, const struct cadb_ca *,
		    enum signer_kind);
/*
 * A secret from the file path an operator gave (what: its option, for the
 * message); 0, or -1 logged, never naming a file that does not exist.
 */
int		 pkictl_secret_read(const char *what, const char *path,
		    char *buf, size_t buflen);
/*
 * A secret shown only once (an officer's TOTP secret, a signing service's
 * client secret), printed inside the transaction that stores it, before
 * COMMIT: a secret printed for a transaction that then fails harms nobody,
 * a row whose secret nobody has would be live.
 */
struct pkictl_secret {
	int	printed;	/* written, by an attempt */
	int	unwritten;	/* stdout could not take it: rolled back */
	int	reprint;	/* a retry after it was printed: not made */
};
/*
 * In the transaction: printf to stdout, flushed, once; 0, or -1 (logged)
 * to roll back: it could not be written, or an attempt before printed it.
 */
int		 pkictl_secret_once(struct pkictl_secret *, const char *fmt,
		    ...) __attribute__((format(printf, 2, 3)));
/*
 * After the transaction (xid: pkictl_transaction's) failed: -1 when no
 * secret is the cause (the caller tells); else the exit code, told on
 * stderr (what names the thing added, secret the secret): not written,
 * printed before a retry, or printed and COMMIT failed, then asked
 * (pkictl_xact_committed): PKICTL_EXIT_OK only when it committed.
 */
int		 pkictl_secret_failed(const struct config *,
		    const struct pkictl_secret *, const char *xid,
		    const char *what, const char *secret);
/* The PIN file of token: given, or that of the configured role using it. */
const char	*pkictl_pin_file(const struct config *, const char *token,
		    const char *given);
int		 pkictl_signer_token(const struct config *, const char *role,
		    const char **label, const char **pin_file);

#endif
