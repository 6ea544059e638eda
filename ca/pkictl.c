/*
 * pkictl: the administrator's CLI for tokens, keys and CA ceremonies.
 *
 *	pkictl [--config FILE] token init --label L --so-pin-file F --pin-file F
 *	pkictl [--config FILE] token list
 *	pkictl [--config FILE] key gen --token L --label K --type T [--pin-file F]
 *	pkictl [--config FILE] key list --token L [--pin-file F]
 *	pkictl [--config FILE] ca init | ca status | ca export
 *	pkictl [--config FILE] cert issue|revoke|release|status ...
 *	pkictl [--config FILE] crl arl
 *	pkictl [--config FILE] publish
 *	pkictl [--config FILE] order add|show ..., wrapkey create ... (ca/ordercmd.c)
 *	pkictl [--config FILE] officer add|list|disable ... (ca/officercmd.c)
 *	pkictl [--config FILE] sigservice add|disable --name N (ca/sigservicecmd.c)
 *	pkictl [--config FILE] kyc erase ... (ca/kyccmd.c), purge ... (ca/purgecmd.c)
 *
 * PINs are read from files (mode 0600) named on the command line or in the
 * configuration ([hsm] <role>_pin_file), never from argv. Token and key
 * commands use the PKCS#11 layer in this process; `ca init` forks a signer
 * (see ca/ceremony.c). Exit status: 0 ok, 1 failure, 2 usage, 3 refused.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca/extern.h"
#include "hsm/p11.h"
#include "hsm/signer.h"
#include "lib/cadb.h"
#include "lib/audit.h"
#include "lib/config.h"
#include "lib/db.h"
#include "lib/log.h"
#include "lib/sandbox.h"
#include "lib/secret.h"
#include "ra/extern.h"

#define PIN_MAX			256
#define DEFAULT_HSM_MODULE	"/usr/lib/softhsm/libsofthsm2.so"

static const char *const token_roles[] = { "root", "ca", "ocsp", "tsa", "audit", "wrap" };

static void
usage(void)
{
	fprintf(stderr,
	    "usage: pkictl [--config FILE] COMMAND\n"
	    "  token init --label L --so-pin-file F --pin-file F\n"
	    "  token list\n"
	    "  key gen --token L --label K --type rsa2048|rsa3072|rsa4096|ec-p256|ec-p384"
	    " [--pin-file F]\n"
	    "  key list --token L [--pin-file F]\n"
	    "  ca init      run the CA key ceremony (once)\n"
	    "  ca status    show the CA hierarchy\n"
	    "  ca export    write the CA certificates to pki.out_dir\n"
	    "  ca responder [--issuer issuing|root]   the issuer's next OCSP responder\n"
	    "               key and certificate (ocspd takes it at its next start)\n"
	    "  ca tsa [--issuer issuing]   the TSA's next key and certificate, signed\n"
	    "               by that issuing CA (tsad: at its next start)\n"
	    "  ca issuing   a new issuing CA, issuing-N, signed by the root (renewal;\n"
	    "               then `ca responder --issuer issuing-N`)\n"
	    "  cert issue --profile P --csr F [--issuer issuing] [--out F]\n"
	    "  cert revoke --serial HEX --reason R [--issuer issuing]"
	    " [--invalidity-date 2026-01-01T00:00:00Z] [--sign-arl]\n"
	    "  cert release --serial HEX [--issuer issuing] [--sign-arl]"
	    "   (certificateHold only)\n"
	    "               --sign-arl: of a certificate the root issued, sign\n"
	    "               the ARL (`crl arl`) right after, at this ceremony\n"
	    "  cert status --serial HEX [--issuer issuing]\n"
	    "  crl arl      sign the root's CRL (ARL) at a ceremony\n"
	    "  publish      retry pending LDAP publications\n"
	    "  order add --kind K --profile P --key-type T --subject JSON [--issuer NAME] | order show --id N\n"
	    "  wrapkey create --so-pin-file F [--label L]   (subscriber-key wrapping key)\n"
	    "  officer add --username U --role ra_officer|ra_admin|auditor"
	    " [--account-email E] --password-file F\n"
	    "               (prints the TOTP secret and its otpauth:// URI once)\n"
	    "  officer list | officer disable U\n"
	    "  sigservice add --name N   (a signing service of signd; prints its secret once)\n"
	    "  sigservice disable --name N   (its tokens and SADs stop working)\n"
	    "  kyc erase [--days N] [--issued-days M]   (the images of applications\n"
	    "               rejected or cancelled N days ago, and of those whose\n"
	    "               certificate expired or was revoked M days ago; defaults\n"
	    "               policy kyc.unissued_evidence_days, kyc.issued_evidence_days)\n"
	    "  purge [--days N]   (sessions, one-time codes and link tokens that\n"
	    "               expired, and LDAP publications done, N days ago;\n"
	    "               default policy retention.ended_days)\n"
	    "  audit init [--out F]   (the HSM audit key; public key to pki.out_dir/audit-pub.pem)\n"
	    "  audit rotate --label NEW [--out F]  (a new audit key, and the handover seal naming it)\n"
	    "  audit seal             (seal new audit events: a signed Merkle tree head)\n"
	    "  audit seal --every SECONDS  (seal now and then periodically, until SIGTERM)\n"
	    "  audit export --events F --seals F   (for pkiaudit verify)\n"
	    "The configuration file comes from --config or PKI_CONFIG.\n");
}

int
pkictl_ra_policy(const struct config *cfg, struct ra_policy *p)
{
	struct config *pol;
	char path[PATH_MAX], err[512];
	int rc;

	snprintf(path, sizeof(path), "%s/ra.conf",
	    config_get(cfg, "pki.policy_dir", "policy"));
	if ((pol = config_load(config_get(cfg, "ra.policy_file", path), err,
	    sizeof(err))) == NULL) {
		log_err("%s", err);
		return -1;
	}
	rc = ra_policy_load(pol, p);
	config_free(pol);
	return rc;
}

struct db *
pkictl_db_as(const struct config *cfg, const char *uri_key)
{
	const char *uri = config_get(cfg, uri_key, NULL);
	char err[512];
	struct db *db;

	if (uri == NULL) {
		log_err("config: %s missing", uri_key);
		return NULL;
	}
	if ((db = db_connect(uri, err, sizeof(err))) == NULL)
		log_err("database: %s", err);
	return db;
}

struct db *
pkictl_db(const struct config *cfg)
{
	return pkictl_db_as(cfg, "pg.admin_uri");
}

/*
 * Session advisory lock (released when db closes) that makes the commands
 * generating a labelled key in a CA token take turns: a label is picked,
 * checked free and generated, then recorded, and two runs between those
 * steps generated two keys under one label (a daemon then refuses the
 * token's key as ambiguous). Refused rather than waited for: an operator
 * should know another ceremony is running. A 64-bit key, out of the reach
 * of rad's hashtext-keyed lock functions (schema/087; 7251002 before it).
 */
#define PKICTL_KEYGEN_LOCK	"hashtextextended('ca/pkictl.c key generation', 0)"

int
pkictl_keygen_lock(struct db *db, const char *what)
{
	static const struct db_stmt stmt = { "pkictl_keygen_lock",
		"SELECT pg_try_advisory_lock(" PKICTL_KEYGEN_LOCK ")", 0 };
	PGresult *res;
	int taken;

	if ((res = db_exec(db, &stmt, NULL, NULL, NULL)) == NULL)
		return -1;
	taken = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!taken)
		log_err("%s: another pkictl command is generating a CA key "
		    "(ca init, ca responder, ca tsa, ca issuing, key gen, "
		    "audit init) against this database; run this one when it "
		    "has ended",
		    what);
	return taken ? 0 : 1;
}

static int
pkictl_disable_txn(struct db *db, void *arg)
{
	struct pkictl_disable *d = arg;
	const char *v[1] = { d->name };
	PGresult *res = NULL;
	json_t *details = NULL;
	int rc = -1;

	d->missing = d->already = 0;
	if ((res = db_exec(db, d->disable, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		PQclear(res);
		if ((res = db_exec(db, d->exists, v, NULL, NULL)) == NULL)
			goto out;
		if (PQntuples(res) == 1)
			d->already = 1;
		else
			d->missing = 1;
		goto out;	/* rolls back: nothing changed */
	}
	snprintf(d->id, sizeof(d->id), "%s", PQgetvalue(res, 0, 0));
	if ((details = json_pack("{s:s}", d->name_key, d->name)) == NULL ||
	    audit_append(db, d->actor, d->action, d->object_type, d->id,
	    details, NULL) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

int
pkictl_disable(const struct config *cfg, struct pkictl_disable *d)
{
	struct db *db;
	int rc = PKICTL_EXIT_FAIL;

	if ((db = pkictl_db(cfg)) == NULL)
		return PKICTL_EXIT_FAIL;
	if (db_transaction(db, NULL, 3, pkictl_disable_txn, d) == -1) {
		if (d->missing)
			log_err("no %s %s", d->what, d->name);
		else if (d->already) {
			log_err("%s %s is already disabled", d->what, d->name);
			rc = PKICTL_EXIT_REFUSED;
		} else
			log_err("%s %s not disabled (see the database's "
			    "message above)", d->what, d->name);
	} else
		rc = PKICTL_EXIT_OK;
	db_close(db);
	return rc;
}

int
pkictl_signer_token(const struct config *cfg, const char *role,
    const char **label, const char **pin_file)
{
	char key[64];

	snprintf(key, sizeof(key), "hsm.%s_token", role);
	if ((*label = config_get(cfg, key, NULL)) == NULL) {
		log_err("config: %s missing", key);
		return -1;
	}
	if (pin_file == NULL)
		return 0;
	snprintf(key, sizeof(key), "hsm.%s_pin_file", role);
	if ((*pin_file = config_get(cfg, key, NULL)) == NULL) {
		log_err("config: %s missing", key);
		return -1;
	}
	return 0;
}

int
pkictl_secret_read(const char *what, const char *path, char *buf,
    size_t buflen)
{
	struct stat st;
	char err[512];

	if (secret_read(path, NULL, buf, buflen, err, sizeof(err)) == 0)
		return 0;
	/*
	 * No such file: perhaps the secret itself was typed where its
	 * file's name goes (--password-file S3cret); not repeated, or it
	 * would reach the terminal and the log.
	 */
	if (lstat(path, &st) == -1 && (errno == ENOENT || errno == ENOTDIR ||
	    errno == ENAMETOOLONG))
		log_err("%s: no such file (the name given is not repeated, in "
		    "case a secret was typed in its place)", what);
	else
		log_err("%s: %s", what, err);
	return -1;
}

/*
 * Writes a once-only secret, with what goes with it, on stdout and flushes
 * it. 0 written; -1 (logged) when stdout failed: full, closed, or a pipe
 * whose reader is gone (SIGPIPE is ignored, so that is EPIPE here).
 */
static int
pkictl_secret_vprint(const char *fmt, va_list ap)
{
	int n, saved = 0;

	n = vprintf(fmt, ap);
	if (n < 0)
		saved = errno;
	if (n >= 0 && fflush(stdout) != 0)
		saved = errno;
	if (n < 0 || saved != 0 || ferror(stdout)) {
		log_err("stdout: %s", saved != 0 ? strerror(saved) :
		    "write error");
		return -1;
	}
	return 0;
}

int
pkictl_secret_once(struct pkictl_secret *sec, const char *fmt, ...)
{
	va_list ap;
	int rc;

	if (sec->printed) {
		sec->reprint = 1;
		return -1;
	}
	va_start(ap, fmt);
	rc = pkictl_secret_vprint(fmt, ap);
	va_end(ap);
	if (rc == -1) {
		sec->unwritten = 1;
		return -1;
	}
	sec->printed = 1;
	return 0;
}

int
pkictl_secret_failed(const struct config *cfg, const struct pkictl_secret *sec,
    const char *xid, const char *what, const char *secret)
{
	if (sec->unwritten) {
		log_err("%s not added: its %s could not be written to stdout "
		    "(it is shown only once)", what, secret);
		return PKICTL_EXIT_FAIL;
	}
	if (sec->reprint) {
		log_err("%s not added: the transaction failed after its %s was "
		    "printed; discard that secret and run the command again",
		    what, secret);
		return PKICTL_EXIT_FAIL;
	}
	if (!sec->printed)
		return -1;
	/* COMMIT failed after it: its answer lost, it may have committed. */
	switch (pkictl_xact_committed(cfg, xid)) {
	case 1:
		log_warn("%s: the answer to COMMIT was lost, but it was added: "
		    "the %s printed above is its", what, secret);
		return PKICTL_EXIT_OK;
	case 0:
		log_err("%s not added: discard the %s printed above", what,
		    secret);
		return PKICTL_EXIT_FAIL;
	default:
		log_err("%s: whether it was added is unknown (the database "
		    "does not answer, or the COMMIT still waits): once it "
		    "answers, its list tells; there, the %s printed above is "
		    "its, else discard it", what, secret);
		return PKICTL_EXIT_FAIL;
	}
}

/* The PIN file for a token: given, or the configured one of the role using that token. */
const char *
pkictl_pin_file(const struct config *cfg, const char *token, const char *given)
{
	const char *label;
	char key[64];
	size_t i;

	if (given != NULL)
		return given;
	for (i = 0; i < sizeof(token_roles) / sizeof(token_roles[0]); i++) {
		snprintf(key, sizeof(key), "hsm.%s_token", token_roles[i]);
		if ((label = config_get(cfg, key, NULL)) == NULL ||
		    strcmp(label, token) != 0)
			continue;
		snprintf(key, sizeof(key), "hsm.%s_pin_file", token_roles[i]);
		if ((given = config_get(cfg, key, NULL)) != NULL)
			return given;
	}
	log_err("no PIN file for token %s: give --pin-file", token);
	return NULL;
}

struct signer *
pkictl_signer_for(const struct config *cfg, const struct cadb_ca *ca,
    enum signer_kind kind)
{
	struct signer_config sc;
	struct signer *signer;
	char err[512];

	memset(&sc, 0, sizeof(sc));
	sc.module = config_get(cfg, "hsm.module", DEFAULT_HSM_MODULE);
	sc.lock_dir = config_get(cfg, "hsm.lock_dir", NULL);
	sc.tokens[0].label = ca->token;
	if ((sc.tokens[0].pin_file = pkictl_pin_file(cfg, ca->token, NULL)) == NULL)
		return NULL;
	sc.ntokens = 1;
	if (signer_config_grant(&sc, kind, ca->key_label) == -1)
		return NULL;
	if ((signer = signer_spawn(&sc, err, sizeof(err))) == NULL)
		log_err("signer for %s: %s", ca->name, err);
	return signer;
}

/*
 * getopt_long takes any unambiguous prefix: "--pin 1234" would be read as
 * --pin-file with a PIN for a file name (then echoed in an error), as would
 * "--password X" for --password-file. Each subcommand's arguments are
 * checked once for exact long option names; a wrong one is '?'.
 */
int
pkictl_getopt(int argc, char **argv, const struct option *opts)
{
	static char **checked;
	const struct option *o;
	size_t n;
	int i;

	if (argv != checked) {
		checked = argv;
		for (i = 1; i < argc; i++) {
			if (strcmp(argv[i], "--") == 0)
				break;
			if (strncmp(argv[i], "--", 2) != 0)
				continue;
			n = strcspn(argv[i] + 2, "=");
			for (o = opts; o->name != NULL; o++)
				if (strlen(o->name) == n &&
				    strncmp(o->name, argv[i] + 2, n) == 0)
					break;
			if (o->name == NULL) {
				log_err("unknown option (exact long names "
				    "only; PINs and passwords are read from "
				    "files named by --*-file)");
				return '?';
			}
			if (o->has_arg == required_argument &&
			    argv[i][2 + n] == '\0')
				i++;
		}
	}
	return getopt_long(argc, argv, "", opts, NULL);
}

/* "pkictl:<login name>", the actor of audit events made by this CLI. */
static void
pkictl_actor(char *out, size_t outlen)
{
	/* sudo sets it for root; anyone else could name anyone. */
	const char *who = getuid() == 0 ? getenv("SUDO_USER") : NULL;
	struct passwd *pw;

	if (who == NULL || *who == '\0')
		who = (pw = getpwuid(getuid())) != NULL ? pw->pw_name : "unknown";
	snprintf(out, outlen, "pkictl:%s", who);
}

struct p11_module *
pkictl_module(const struct config *cfg)
{
	const char *path = config_get(cfg, "hsm.module", DEFAULT_HSM_MODULE);
	struct p11_module *mod;
	char err[512];

	if ((mod = p11_module_load(path, err, sizeof(err))) == NULL)
		log_err("PKCS#11 module %s: %s", path, err);
	return mod;
}

static int
cmd_token_init(const struct config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "label", required_argument, NULL, 'l' },
		{ "so-pin-file", required_argument, NULL, 's' },
		{ "pin-file", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *label = NULL, *so_file = NULL, *pin_file = NULL;
	char so_pin[PIN_MAX], pin[PIN_MAX], err[512], actor[128];
	struct p11_module *mod = NULL;
	struct db *db = NULL;
	json_t *details = NULL;
	int ch, rc = PKICTL_EXIT_FAIL;

	so_pin[0] = pin[0] = '\0';
	while ((ch = pkictl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'l': label = optarg; break;
		case 's': so_file = optarg; break;
		case 'p': pin_file = optarg; break;
		default: usage(); return PKICTL_EXIT_USAGE;
		}
	}
	if (label == NULL || so_file == NULL || pin_file == NULL || optind != argc) {
		usage();
		return PKICTL_EXIT_USAGE;
	}
	if (pkictl_secret_read("--so-pin-file", so_file, so_pin,
	    sizeof(so_pin)) == -1 || pkictl_secret_read("--pin-file", pin_file,
	    pin, sizeof(pin)) == -1)
		goto out;
	/* A token's birth is a state change: audited, so the database first. */
	if ((db = pkictl_db(cfg)) == NULL || db_begin(db, NULL) == -1)
		goto out;
	if ((mod = pkictl_module(cfg)) == NULL)
		goto out;
	if (p11_token_init(mod, label, so_pin, pin, err, sizeof(err)) == -1) {
		log_err("token init %s: %s", label, err);
		goto out;
	}
	pkictl_actor(actor, sizeof(actor));
	if ((details = json_pack("{s:s}", "token", label)) == NULL ||
	    audit_append(db, actor, "hsm.token.init", "hsm_token", label, details,
	    NULL) == -1 || db_commit(db) == -1) {
		/*
		 * PKCS#11 cannot take a token back: say how, since no event
		 * names this one and a second init is refused.
		 */
		log_err("token %s initialized but its audit event failed: no "
		    "event names it; delete it (SoftHSM2: softhsm2-util "
		    "--delete-token --token %s) before running token init "
		    "again", label, label);
		goto out;
	}
	printf("token %s initialized\n", label);
	rc = PKICTL_EXIT_OK;
out:
	OPENSSL_cleanse(so_pin, sizeof(so_pin));
	OPENSSL_cleanse(pin, sizeof(pin));
	json_decref(details);
	p11_module_free(mod);
	db_close(db);
	return rc;
}

static void
print_token(const char *label, const char *serial, void *arg)
{
	printf("%s\t%s\n", label, serial);
}

static int
cmd_token_list(const struct config *cfg, int argc, char **argv)
{
	struct p11_module *mod;
	int rc;

	if (argc != 1) {
		usage();
		return PKICTL_EXIT_USAGE;
	}
	if ((mod = pkictl_module(cfg)) == NULL)
		return PKICTL_EXIT_FAIL;
	rc = p11_token_list(mod, print_token, NULL) == 0 ? PKICTL_EXIT_OK :
	    PKICTL_EXIT_FAIL;
	p11_module_free(mod);
	return rc;
}

static void
print_key(const char *label, const char *type, int sensitive, int extractable,
    void *arg)
{
	printf("%s\t%s\tsensitive=%s\textractable=%s\n", label, type,
	    sensitive ? "yes" : "no", extractable ? "yes" : "no");
}

/* Opens token with its PIN (wiped here), for the key commands. */
struct p11_token *
pkictl_token(const struct config *cfg, struct p11_module *mod, const char *label,
    const char *pin_file)
{
	struct p11_token *tok = NULL;
	char pin[PIN_MAX], err[512];

	if ((pin_file = pkictl_pin_file(cfg, label, pin_file)) == NULL)
		return NULL;
	if (pkictl_secret_read("the PIN file", pin_file, pin, sizeof(pin)) ==
	    0 && (tok = p11_token_open(mod, label, pin, config_get(cfg,
	    "hsm.lock_dir", NULL), err, sizeof(err))) == NULL)
		log_err("token %s: %s", label, err);
	OPENSSL_cleanse(pin, sizeof(pin));
	return tok;
}

static int
cmd_key(const struct config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "token", required_argument, NULL, 't' },
		{ "label", required_argument, NULL, 'l' },
		{ "type", required_argument, NULL, 'y' },
		{ "pin-file", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *token = NULL, *label = NULL, *type = NULL, *pin_file = NULL;
	const char *verb = argv[0];
	struct p11_module *mod = NULL;
	struct p11_token *tok = NULL;
	struct db *db = NULL;
	enum p11_keytype kt;
	EVP_PKEY *pub = NULL;
	json_t *details = NULL;
	unsigned char *spki = NULL;
	char err[512], actor[128], fp[65], xid[PKICTL_XID_MAX];
	int ch, gen, len, locked, generated = 0, recorded = 0;
	int rc = PKICTL_EXIT_FAIL;

	while ((ch = pkictl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 't': token = optarg; break;
		case 'l': label = optarg; break;
		case 'y': type = optarg; break;
		case 'p': pin_file = optarg; break;
		default: usage(); return PKICTL_EXIT_USAGE;
		}
	}
	gen = strcmp(verb, "gen") == 0;
	if (token == NULL || optind != argc || (!gen && strcmp(verb, "list") != 0) ||
	    (gen && (label == NULL || type == NULL))) {
		usage();
		return PKICTL_EXIT_USAGE;
	}
	if (gen && p11_keytype_parse(type, &kt) == -1) {
		log_err("unknown key type %s", type);
		return PKICTL_EXIT_USAGE;
	}
	/* A key generation is a state change: audited, so the database comes first. */
	if (gen) {
		if ((db = pkictl_db(cfg)) == NULL)
			goto out;
		if ((locked = pkictl_keygen_lock(db, "key gen")) != 0) {
			if (locked == 1)
				rc = PKICTL_EXIT_REFUSED;
			goto out;
		}
		if (db_begin(db, NULL) == -1)
			goto out;
	}
	if ((mod = pkictl_module(cfg)) == NULL ||
	    (tok = pkictl_token(cfg, mod, token, pin_file)) == NULL)
		goto out;
	if (!gen) {
		rc = p11_key_list(tok, print_key, NULL) == 0 ? PKICTL_EXIT_OK :
		    PKICTL_EXIT_FAIL;
		goto out;
	}
	if (p11_key_generate(tok, label, kt, &pub, err, sizeof(err)) == -1) {
		log_err("key gen %s in %s: %s", label, token, err);
		goto out;
	}
	generated = 1;
	pkictl_actor(actor, sizeof(actor));
	if ((len = i2d_PUBKEY(pub, &spki)) <= 0)
		goto out;
	certstore_sha256_hex(spki, (size_t)len, fp);
	details = json_pack("{s:s, s:s, s:s, s:s}", "token", token, "label",
	    label, "key_type", type, "spki_sha256", fp);
	if (details == NULL || audit_append(db, actor, "hsm.key.generate",
	    "hsm_key", label, details, NULL) == -1)
		goto out;
	/*
	 * A lost answer to COMMIT: the transaction may have committed, or
	 * still be committing; the key stays unless it surely did not.
	 */
	if (pkictl_xact_id(db, xid) == -1)
		goto out;
	if (db_commit(db) == -1 && (recorded = pkictl_xact_committed(cfg,
	    xid)) != 1) {
		if (recorded == -1)
			log_err("key gen %s in %s: whether its audit event "
			    "committed is unknown (the database does not "
			    "answer, or the COMMIT still waits): the key is "
			    "kept; once the database answers, look for event "
			    "hsm.key.generate with spki_sha256 %s, and destroy "
			    "the key if it is not there", label, token, fp);
		goto out;
	}
	recorded = 1;
	printf("key %s (%s) generated in token %s\n", label, type, token);
	rc = PKICTL_EXIT_OK;
out:
	/*
	 * No event names a key whose transaction did not commit: it goes,
	 * as audit init's and the ceremonies' do (until 2026-12-06 it stayed,
	 * unaudited, and held its label).
	 */
	if (generated && recorded == 0) {
		if (p11_key_destroy(tok, label, err, sizeof(err)) == -1)
			log_err("key gen %s in %s: recording it failed and the "
			    "key could not be destroyed: %s; destroy it by hand",
			    label, token, err);
		else
			log_err("key gen %s in %s: recording it failed; the key "
			    "was destroyed", label, token);
	}
	json_decref(details);
	OPENSSL_free(spki);
	EVP_PKEY_free(pub);
	p11_token_close(tok);
	p11_module_free(mod);
	db_close(db);
	return rc;
}

static int
cmd_ca(const struct config *cfg, int argc, char **argv)
{
	const char *out_dir;
	struct db *db;
	char actor[128];
	int rc;

	pkictl_actor(actor, sizeof(actor));
	if (strcmp(argv[0], "responder") == 0) {
		if (argc == 1)
			return ceremony_responder(cfg, actor, "issuing");
		if (argc == 3 && strcmp(argv[1], "--issuer") == 0)
			return ceremony_responder(cfg, actor, argv[2]);
		usage();
		return PKICTL_EXIT_USAGE;
	}
	if (strcmp(argv[0], "tsa") == 0) {
		if (argc == 1)
			return ceremony_tsa(cfg, actor, "issuing");
		if (argc == 3 && strcmp(argv[1], "--issuer") == 0)
			return ceremony_tsa(cfg, actor, argv[2]);
		usage();
		return PKICTL_EXIT_USAGE;
	}
	if (argc != 1) {
		usage();
		return PKICTL_EXIT_USAGE;
	}
	if (strcmp(argv[0], "issuing") == 0)
		return ceremony_issuing(cfg, actor);
	if (strcmp(argv[0], "init") == 0)
		return ceremony_init(cfg, actor);
	if (strcmp(argv[0], "status") == 0)
		return ceremony_status(cfg);
	if (strcmp(argv[0], "export") == 0) {
		if ((out_dir = config_get(cfg, "pki.out_dir", NULL)) == NULL) {
			log_err("config: pki.out_dir missing");
			return PKICTL_EXIT_FAIL;
		}
		if ((db = pkictl_db(cfg)) == NULL)
			return PKICTL_EXIT_FAIL;
		rc = certstore_export(db, out_dir) == 0 ? PKICTL_EXIT_OK :
		    PKICTL_EXIT_FAIL;
		db_close(db);
		return rc;
	}
	usage();
	return PKICTL_EXIT_USAGE;
}

static int
cmd_publish(const struct config *cfg, int argc, char **argv)
{
	struct db *db;
	char actor[128];
	int pending;

	if (argc != 1) {
		usage();
		return PKICTL_EXIT_USAGE;
	}
	if ((db = pkictl_db(cfg)) == NULL)
		return PKICTL_EXIT_FAIL;
	pkictl_actor(actor, sizeof(actor));
	pending = certstore_publish(db, cfg, actor);
	db_close(db);
	if (pending < 0)
		return PKICTL_EXIT_FAIL;
	printf("%d publication(s) pending\n", pending);
	return pending == 0 ? PKICTL_EXIT_OK : PKICTL_EXIT_FAIL;
}

/*
 * The token files this run made as root, given to the owner of
 * hsm.module_write_dir (pki-hsm): SoftHSM2 writes a new object as a new
 * file owned by whoever calls it, and a signer, which reads the token
 * files as pki-hsm, could not open a key `ca responder` or `ca tsa` just
 * made until someone ran chown. Two levels deep (SoftHSM2: a directory per
 * token, a file per object). The directory's owner may rename and link in
 * it while we walk: each entry is opened without following a link, judged
 * by fstat on that descriptor and changed through it (fchown), so what is
 * checked is what is changed; only root's directories and single-link
 * files changed since this run began (st_ctime) change hands, so neither a
 * hard link to a file of root's elsewhere nor an older root file kept
 * there is given away. 0, or -1 when an entry could not be given (logged).
 */
static int
give_dir_entries(int dirfd, const char *path, uid_t uid, gid_t gid,
    time_t since, int depth)
{
	struct dirent *de;
	struct stat st;
	char sub[PATH_MAX];
	DIR *d;
	int fd, rc = 0;

	if ((d = fdopendir(dirfd)) == NULL) {
		log_err("%s: %s", path, strerror(errno));
		close(dirfd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((fd = openat(dirfd, de->d_name, O_RDONLY | O_NOFOLLOW |
		    O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) == -1)
			continue;	/* a link, a socket, gone: not ours */
		if (fstat(fd, &st) == -1) {
			close(fd);
			continue;
		}
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if (st.st_uid == 0 &&
		    st.st_ctime >= since && (S_ISDIR(st.st_mode) ||
		    (S_ISREG(st.st_mode) && st.st_nlink == 1)) &&
		    fchown(fd, uid, gid) == -1) {
			log_err("%s: chown: %s", sub, strerror(errno));
			rc = -1;
		}
		if (S_ISDIR(st.st_mode) && depth > 1) {
			if (give_dir_entries(fd, sub, uid, gid, since,
			    depth - 1) == -1)
				rc = -1;
		} else
			close(fd);
	}
	closedir(d);
	return rc;
}

static int
give_token_files(const struct config *cfg, time_t since)
{
	const char *dir = config_get(cfg, "hsm.module_write_dir", NULL);
	struct stat st;
	int fd;

	if (geteuid() != 0 || dir == NULL)
		return 0;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return 0;	/* no token directory yet: nothing made */
	if (fstat(fd, &st) == -1 || st.st_uid == 0) {
		close(fd);	/* root's own: the files stay root's */
		return 0;
	}
	return give_dir_entries(fd, dir, st.st_uid, st.st_gid, since, 2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = getenv("PKI_CONFIG"), *sconf;
	struct config *cfg;
	char err[512], actor[128];
	/* A second back: ctime has whole seconds on some file systems. */
	time_t started = time(NULL) - 1;
	int ch, rc;

	log_init("pkictl", LOGL_INFO, stderr);
	/* PINs and secrets pass through: no core file, no dump (lib/sandbox.h). */
	if (sandbox_no_dumps(err, sizeof(err)) == -1) {
		log_err("%s", err);
		return PKICTL_EXIT_FAIL;
	}
	/*
	 * A peer closing its socket (slapd drops a connection whose request is
	 * over its size limit; PostgreSQL) must fail the call, not kill us
	 * half-way through `pkictl publish` or `pkictl crl arl`: libldap
	 * writes without MSG_NOSIGNAL. Writes to a closed stdout then fail
	 * with EPIPE instead.
	 */
	signal(SIGPIPE, SIG_IGN);
	/* Stop at the command word: subcommands parse their own options. */
	while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'h': usage(); return PKICTL_EXIT_OK;
		default: usage(); return PKICTL_EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage();
		return PKICTL_EXIT_USAGE;
	}
	if ((cfg = config_load(path, err, sizeof(err))) == NULL) {
		log_err("%s", err);
		return PKICTL_EXIT_FAIL;
	}
	/* SoftHSM2 finds its token directory through the environment only. */
	if ((sconf = config_get(cfg, "hsm.softhsm2_conf", NULL)) != NULL)
		setenv("SOFTHSM2_CONF", sconf, 1);
	optind = 1;
	if (strcmp(argv[0], "token") == 0 && argc >= 2 && strcmp(argv[1], "init") == 0)
		rc = cmd_token_init(cfg, argc - 1, argv + 1);
	else if (strcmp(argv[0], "token") == 0 && argc >= 2 && strcmp(argv[1], "list") == 0)
		rc = cmd_token_list(cfg, argc - 1, argv + 1);
	else if (strcmp(argv[0], "key") == 0 && argc >= 2)
		rc = cmd_key(cfg, argc - 1, argv + 1);
	else if (strcmp(argv[0], "ca") == 0 && argc >= 2)
		rc = cmd_ca(cfg, argc - 1, argv + 1);
	else if (strcmp(argv[0], "cert") == 0 && argc >= 2) {
		pkictl_actor(actor, sizeof(actor));
		if ((rc = cmd_cert(cfg, actor, argc - 1, argv + 1)) == PKICTL_EXIT_USAGE)
			usage();
	} else if (strcmp(argv[0], "crl") == 0 && argc >= 2) {
		pkictl_actor(actor, sizeof(actor));
		if ((rc = cmd_crl(cfg, actor, argc - 1, argv + 1)) == PKICTL_EXIT_USAGE)
			usage();
	} else if ((strcmp(argv[0], "order") == 0 || strcmp(argv[0], "wrapkey") == 0) && argc >= 2) {
		pkictl_actor(actor, sizeof(actor));
		if ((rc = (argv[0][0] == 'o' ? cmd_order : cmd_wrapkey)(cfg, actor, argc - 1,
		    argv + 1)) == PKICTL_EXIT_USAGE)
			usage();
	} else if (strcmp(argv[0], "officer") == 0 && argc >= 2) {
		pkictl_actor(actor, sizeof(actor));
		if ((rc = cmd_officer(cfg, actor, argc - 1, argv + 1)) ==
		    PKICTL_EXIT_USAGE)
			usage();
	} else if (strcmp(argv[0], "sigservice") == 0 && argc >= 2) {
		pkictl_actor(actor, sizeof(actor));
		if ((rc = cmd_sigservice(cfg, actor, argc - 1, argv + 1)) ==
		    PKICTL_EXIT_USAGE)
			usage();
	} else if (strcmp(argv[0], "kyc") == 0 && argc >= 2) {
		pkictl_actor(actor, sizeof(actor));
		if ((rc = cmd_kyc(cfg, actor, argc - 1, argv + 1)) ==
		    PKICTL_EXIT_USAGE)
			usage();
	} else if (strcmp(argv[0], "purge") == 0) {
		pkictl_actor(actor, sizeof(actor));
		if ((rc = cmd_purge(cfg, actor, argc, argv)) ==
		    PKICTL_EXIT_USAGE)
			usage();
	} else if (strcmp(argv[0], "audit") == 0 && argc >= 2) {
		pkictl_actor(actor, sizeof(actor));
		if ((rc = cmd_audit(cfg, actor, argc - 1, argv + 1)) ==
		    PKICTL_EXIT_USAGE)
			usage();
	} else if (strcmp(argv[0], "publish") == 0)
		rc = cmd_publish(cfg, argc, argv);
	else {
		usage();
		rc = PKICTL_EXIT_USAGE;
	}
	if (give_token_files(cfg, started) == -1)
		log_err("the token files above are still root's: the signers, "
		    "which run as the owner of hsm.module_write_dir, cannot "
		    "read them until you chown them to it");
	config_free(cfg);
	return rc;
}
