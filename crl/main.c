/*
 * crld: the CRL publisher (RFC 5280 §5).
 *
 * Processes:
 *  - the signer (hsm/signerproc.c), forked first: it alone loads the PKCS#11
 *    module and logs in to the issuing CA's token; it signs only
 *    TBSCertLists (checked by a streaming DER walk) with the issuing CA key,
 *    nothing else — no certificates, no root key.
 *  - this worker: reads the CA certificates from PostgreSQL (while it is
 *    down at start-up: from crl.out_dir, with the CRLs there, each checked
 *    against its CA's certificate), serves the
 *    CRLs and CA certificates over HTTP GET from memory (crl/serve.c), and
 *    runs two threads, each with its own database connection: the issuer
 *    (crl/issuer.c) issues the issuing CA's complete and delta CRLs on the
 *    schedule of policy/crl.conf and shortly after each revocation,
 *    streaming them from the status registry (lib/crlgen.c), writes them to
 *    files and queues them for LDAP; the publisher (crl/publisher.c, only
 *    with ldap.uri and ldap.base) publishes that queue to the directory,
 *    with its retries, so that a directory that never answers delays only
 *    publication, never a CRL. It drops to an unprivileged user and enters
 *    a seccomp sandbox (every thread: TSYNC); it never holds a PIN or a
 *    private key.
 *
 * The root's CRL (the ARL) is signed only at a ceremony (`pkictl crl arl`);
 * crld serves the newest one from the database.
 *
 * Signals: SIGTERM/SIGINT stop cleanly; SIGHUP issues a base CRL (and a
 * delta) now. `crld --once` issues one base CRL and one delta, prints their
 * timings and exits (benchmarks).
 */
#include <sys/stat.h>

#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ldap.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "crl/extern.h"
#include "hsm/signer.h"
#include "lib/cadb.h"
#include "lib/config.h"
#include "lib/daemon.h"
#include "lib/db.h"
#include "lib/file.h"
#include "lib/hex.h"
#include "lib/json.h"
#include "lib/http.h"
#include "lib/log.h"
#include "lib/publish.h"
#include "lib/sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define CRL_SANITIZER_BUILD	1
#else
#define CRL_SANITIZER_BUILD	0
#endif

struct crld {
	struct config		*cfg;
	struct config		*policy;
	struct crl_ca		 issuing;
	struct crl_ca		 root;
	struct crl_issuer_conf	 ic;
	struct crl_cache	*cache;
	char			 url[512];
	char			 delta_url[512];
	char			 actor[96];
};

static void
usage(void)
{
	fprintf(stderr, "usage: crld [--config FILE] [--once]\n");
	exit(2);
}

/* crl.out_dir (or pki.out_dir); NULL: no files. */
static const char *
crld_out_dir(const struct config *cfg)
{
	return config_get(cfg, "crl.out_dir", config_get(cfg, "pki.out_dir",
	    NULL));
}

/*
 * Takes c's certificate into slot i (0: root, 1: issuing): key location,
 * the certificate served at its caIssuers URL, its directory entry.
 */
static int
crld_ca_take(struct crld *d, size_t i, struct cadb_ca *c)
{
	const char *base = config_get(d->cfg, "ldap.base", NULL);
	unsigned char *der = NULL, *enc = NULL;
	struct crl_ca *ca = i == 0 ? &d->root : &d->issuing;
	struct tm tm;
	int len, rc = -1;

	ca->id = c->id;
	snprintf(ca->name, sizeof(ca->name), "%s", c->name);
	snprintf(ca->token, sizeof(ca->token), "%s", c->token);
	snprintf(ca->key_label, sizeof(ca->key_label), "%s", c->key_label);
	X509_free(ca->cert);
	ca->cert = c->cert;
	c->cert = NULL;
	/* Served as application/pkix-cert at the AIA caIssuers URL. */
	memset(&tm, 0, sizeof(tm));
	if ((len = i2d_X509(ca->cert, &enc)) <= 0 ||
	    ASN1_TIME_to_tm(X509_get0_notBefore(ca->cert), &tm) != 1)
		goto out;
	/* The cache frees with free(): hand it plain malloc'd bytes. */
	if ((der = malloc((size_t)len)) == NULL)
		goto out;
	memcpy(der, enc, (size_t)len);
	if (crl_cache_set(d->cache, i == 0 ? CRL_DOC_ROOT_CERT :
	    CRL_DOC_ISSUING_CERT, der, (size_t)len, 0, timegm(&tm), 0) == -1) {
		der = NULL;	/* freed by crl_cache_set */
		goto out;
	}
	der = NULL;	/* owned by the cache now */
	if (base != NULL && publish_ca_dn(base, ca->cert, ca->dn,
	    sizeof(ca->dn)) == -1) {
		log_err("no LDAP entry name for %s (its subject has no CN)",
		    ca->name);
		goto out;
	}
	rc = 0;
out:
	free(der);
	OPENSSL_free(enc);
	return rc;
}

/*
 * What crld needs of the two CAs to start while the database is down, in
 * out_dir (crld's only writable directory): their rows of ca_certificate
 * and ca_key and their certificates. Rewritten at each start-up that
 * reached the database; read by crld_load_cas_file.
 */
#define CRLD_CAS_FILE		"crld-cas.json"
#define CRLD_CAS_FILE_MAX	(256 * 1024)
#define CRLD_CRL_FILE_MAX	((size_t)1 << 30)

static const char *const crld_ca_names[] = { "root", "issuing" };

static int
crld_save_cas(struct crld *d, const char *out_dir)
{
	json_t *o = NULL, *ca;
	unsigned char *enc = NULL;
	char *hex = NULL, *text = NULL, err[256];
	const struct crl_ca *c;
	size_t i;
	int len, rc = -1;

	if ((o = json_object()) == NULL)
		goto out;
	for (i = 0; i < 2; i++) {
		c = i == 0 ? &d->root : &d->issuing;
		OPENSSL_free(enc);
		enc = NULL;
		free(hex);
		hex = NULL;
		if ((len = i2d_X509(c->cert, &enc)) <= 0 ||
		    (hex = malloc(2 * (size_t)len + 1)) == NULL)
			goto out;
		hex_encode(enc, (size_t)len, hex);
		if ((ca = json_pack("{s:I, s:s, s:s, s:s, s:s}", "id",
		    (json_int_t)c->id, "name", c->name, "token", c->token,
		    "key_label", c->key_label, "cert", hex)) == NULL ||
		    json_object_set_new(o, crld_ca_names[i], ca) == -1)
			goto out;
	}
	if ((text = json_dumps(o, JSON_SORT_KEYS)) == NULL)
		goto out;
	if (crlgen_write_file(out_dir, CRLD_CAS_FILE, (unsigned char *)text,
	    strlen(text), err, sizeof(err)) == -1) {
		log_warn("%s not written (crld could not start while the "
		    "database is down): %s", CRLD_CAS_FILE, err);
		goto out;
	}
	rc = 0;
out:
	free(text);
	free(hex);
	OPENSSL_free(enc);
	json_decref(o);
	return rc;
}

/* The CAs from out_dir/crld-cas.json (crld_save_cas). */
static int
crld_load_cas_file(struct crld *d, const char *out_dir)
{
	struct cadb_ca c;
	unsigned char *text = NULL, *der = NULL;
	const unsigned char *p;
	const char *name, *token, *label, *hex;
	char path[PATH_MAX], err[512];
	json_t *o = NULL;
	json_error_t je;
	json_int_t id;
	size_t i, len, dlen;
	int rc = -1;

	memset(&c, 0, sizeof(c));
	snprintf(path, sizeof(path), "%s/%s", out_dir, CRLD_CAS_FILE);
	if (file_read_capped(path, CRLD_CAS_FILE_MAX, &text, &len, err,
	    sizeof(err)) == -1) {
		log_err("%s", err);
		goto out;
	}
	if ((o = json_load_bounded(text, len, CRLD_CAS_FILE_MAX, &je)) ==
	    NULL) {
		log_err("%s: %s", path, je.text);
		goto out;
	}
	for (i = 0; i < 2; i++) {
		cadb_clear(&c);
		if (json_unpack_strict(json_object_get(o, crld_ca_names[i]),
		    &je, "{s:I, s:s, s:s, s:s, s:s}", "id", &id, "name", &name,
		    "token", &token, "key_label", &label, "cert", &hex) == -1 ||
		    strcmp(name, crld_ca_names[i]) != 0) {
			log_err("%s: %s: %s", path, crld_ca_names[i], je.text);
			goto out;
		}
		free(der);
		if ((der = malloc(strlen(hex) / 2 + 1)) == NULL ||
		    hex_decode(hex, der, strlen(hex) / 2 + 1, &dlen) == -1) {
			log_err("%s: %s: bad certificate", path, name);
			goto out;
		}
		p = der;
		if ((c.cert = d2i_X509(NULL, &p, (long)dlen)) == NULL ||
		    p != der + dlen) {
			log_err("%s: %s: bad certificate", path, name);
			goto out;
		}
		c.id = id;
		snprintf(c.name, sizeof(c.name), "%s", name);
		snprintf(c.token, sizeof(c.token), "%s", token);
		snprintf(c.key_label, sizeof(c.key_label), "%s", label);
		if (crld_ca_take(d, i, &c) == -1)
			goto out;
	}
	rc = 0;
out:
	cadb_clear(&c);
	json_decref(o);
	free(der);
	free(text);
	return rc;
}

/*
 * The CRL crld wrote last for ca (NAME.crl, NAME-delta.crl in out_dir)
 * into the cache, once crlgen_file_check found it signed by ca's key, of
 * its issuer and of the kind its name says; an absent file is no error.
 * At every start-up: what the database has replaces it when newer, and
 * its number is a floor for the next CRL's (crl/issuer.c: crl_state may
 * have been set back by a restore). down: the database is unreachable.
 */
static void
crld_serve_file(struct crld *d, const char *out_dir, const struct crl_ca *ca,
    enum crl_doc doc, int delta, int down)
{
	struct crlgen_file_info fi;
	unsigned char *der = NULL;
	char fname[64], path[PATH_MAX], err[512];
	size_t len;

	crlgen_file_name(ca->name, delta, fname, sizeof(fname));
	snprintf(path, sizeof(path), "%s/%s", out_dir, fname);
	if (access(path, F_OK) == -1) {
		if (down)
			log_warn("%s: none to serve until the database "
			    "answers", path);
		return;
	}
	if (file_read_capped(path, CRLD_CRL_FILE_MAX, &der, &len, err,
	    sizeof(err)) == -1) {
		log_err("%s", err);
		goto out;
	}
	if (crlgen_file_check(der, len, ca->cert, &fi, err, sizeof(err)) ==
	    -1) {
		log_err("%s: not served: %s", path, err);
		goto out;
	}
	if ((fi.base_number != 0) != delta) {
		log_err("%s: not served: %s", path, delta ? "not a delta CRL" :
		    "a delta CRL");
		goto out;
	}
	if (crl_cache_set(d->cache, doc, der, len, fi.number, fi.this_update,
	    fi.next_update) == -1)
		log_err("%s: not served: out of memory", path);
	der = NULL;	/* the cache's, or freed by crl_cache_set */
	log_info("%sserving %s CRL %lld of %s from %s",
	    down ? "database down: " : "", delta ? "delta" : "complete",
	    fi.number, ca->name, path);
out:
	free(der);
}

/*
 * The root and issuing CA: certificates, key location, directory entry,
 * from the database; written to out_dir for a start-up while it is down.
 * Without the database (no connection; not once): from that file, and
 * the CRLs of out_dir are served, each checked against its CA's
 * certificate, until the issuing thread connects (*down set).
 */
static int
crld_load_cas(struct crld *d, const char *uri, int once, int *down)
{
	const char *out_dir = crld_out_dir(d->cfg);
	struct cadb_ca c;
	struct db *db = NULL;
	char err[512];
	size_t i;
	int rc = -1;

	*down = 0;
	memset(&c, 0, sizeof(c));
	if ((db = db_connect(uri, err, sizeof(err))) == NULL) {
		log_err("database: %s", err);
		if (once || out_dir == NULL)
			goto out;
		/*
		 * A restart during an outage must not take the distribution
		 * point down: the last CRLs are in out_dir. The issuing thread
		 * connects with its back-off, and checks the schema then.
		 */
		log_warn("database unreachable: starting from %s/%s and the "
		    "CRLs there", out_dir, CRLD_CAS_FILE);
		if (crld_load_cas_file(d, out_dir) == -1) {
			log_err("cannot start without the database: no usable "
			    "%s/%s (written at a start-up with it)", out_dir,
			    CRLD_CAS_FILE);
			goto out;
		}
		*down = 1;
		rc = 0;
		goto out;
	}
	/* The schema check once, at start-up: migrations only move forward. */
	if (crlgen_schema_check(db, err, sizeof(err)) == -1) {
		log_err("database: %s", err);
		goto out;
	}
	for (i = 0; i < sizeof(crld_ca_names) / sizeof(crld_ca_names[0]); i++) {
		cadb_clear(&c);
		if (cadb_load(db, crld_ca_names[i], &c) != 0) {
			log_err("no %s CA in the database: run `pkictl ca init`",
			    crld_ca_names[i]);
			goto out;
		}
		if (crld_ca_take(d, i, &c) == -1)
			goto out;
	}
	if (!once && out_dir != NULL)
		(void)crld_save_cas(d, out_dir);
	rc = 0;
out:
	/* With or without the database: see crld_serve_file. */
	if (rc == 0 && !once && out_dir != NULL) {
		crld_serve_file(d, out_dir, &d->issuing, CRL_DOC_ISSUING_FULL,
		    0, *down);
		crld_serve_file(d, out_dir, &d->issuing, CRL_DOC_ISSUING_DELTA,
		    1, *down);
		crld_serve_file(d, out_dir, &d->root, CRL_DOC_ROOT_FULL, 0,
		    *down);
	}
	cadb_clear(&c);
	db_close(db);
	return rc;
}

/* Policy and configuration into the issuer thread's settings. */
static int
crld_configure(struct crld *d)
{
	struct crl_issuer_conf *ic = &d->ic;
	struct crl_schedule *s = &ic->sched;
	const struct config *p = d->policy;
	const char *base = config_get(d->cfg, "urls.crl_base", NULL);
	const char *out_dir;
	long coalesce;
	char host[64];

	if (base == NULL) {
		log_err("config: urls.crl_base missing (the CRL distribution "
		    "point in our certificates)");
		return -1;
	}
	if (config_get_long(p, "crl.full_interval_seconds", 21600, 60,
	    7 * 86400, &s->full_interval) == -1 ||
	    config_get_long(p, "crl.full_next_update_seconds", 86400, 120,
	    30 * 86400, &s->full_next_update) == -1 ||
	    config_get_long(p, "crl.delta_interval_seconds", 900, 10, 86400,
	    &s->delta_interval) == -1 ||
	    config_get_long(p, "crl.delta_next_update_seconds", 3600, 20,
	    7 * 86400, &s->delta_next_update) == -1 ||
	    config_get_long(p, "crl.coalesce_ms", 1500, 0, 60000,
	    &s->coalesce_ms) == -1 ||
	    config_get_long(p, "crl.coalesce_max_ms", 5000, 0, 300000,
	    &coalesce) == -1 ||
	    config_get_long(p, "crl.expired_grace_seconds", 604800, 0,
	    3650L * 86400, &s->expired_grace) == -1 ||
	    config_get_long(p, "crl.publish_interval_seconds", 30, 1, 3600,
	    &s->publish_interval) == -1 ||
	    config_get_long(p, "crl.reconcile_interval_seconds", 60, 1, 3600,
	    &s->reconcile_interval) == -1)
		return -1;
	s->coalesce_max_ms = coalesce < s->coalesce_ms ? s->coalesce_ms :
	    coalesce;
	/*
	 * A CRL must be valid until the next one is due: a relying party
	 * would otherwise hold an expired CRL between the two (RFC 5280
	 * §5.1.2.5), and every scheduled issuance would come late.
	 */
	if (s->full_next_update <= s->full_interval ||
	    s->delta_next_update <= s->delta_interval) {
		log_err("policy: crl.full_next_update_seconds (%ld) must be above "
		    "crl.full_interval_seconds (%ld), and "
		    "crl.delta_next_update_seconds (%ld) above "
		    "crl.delta_interval_seconds (%ld): a CRL must outlast the "
		    "interval to the next one", s->full_next_update,
		    s->full_interval, s->delta_next_update, s->delta_interval);
		return -1;
	}
	/*
	 * RFC 5280 §3.3: an entry stays until it has appeared on one regularly
	 * scheduled CRL issued after the certificate expired. Scheduled CRLs
	 * are the bases, full_interval apart: the grace must span that, or
	 * the entry could leave between two bases. At least full_next_update
	 * too, which the check above makes the larger (and the grace then
	 * strictly longer than the interval).
	 */
	if (s->expired_grace < s->full_interval ||
	    s->expired_grace < s->full_next_update) {
		log_err("policy: crl.expired_grace_seconds (%ld) must be at least "
		    "crl.full_interval_seconds (%ld; RFC 5280 §3.3: a scheduled "
		    "base CRL after expiry must still list the certificate) and "
		    "crl.full_next_update_seconds (%ld)", s->expired_grace,
		    s->full_interval, s->full_next_update);
		return -1;
	}
	snprintf(d->url, sizeof(d->url), "%s/issuing.crl", base);
	snprintf(d->delta_url, sizeof(d->delta_url), "%s/issuing-delta.crl",
	    base);
	out_dir = crld_out_dir(d->cfg);
	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	snprintf(d->actor, sizeof(d->actor), "crld:%s", config_get(d->cfg,
	    "crl.instance", host));
	ic->conninfo = config_get(d->cfg, "pg.crl_uri", NULL);
	ic->actor = d->actor;
	ic->issuing = &d->issuing;
	ic->root = &d->root;
	ic->digest = config_get(p, "crl.digest", "SHA384");
	ic->gen.id = d->issuing.id;
	ic->gen.name = d->issuing.name;
	ic->gen.cert = d->issuing.cert;
	ic->gen.digest = ic->digest;
	ic->full.url = d->url;
	ic->full.delta_url = d->delta_url;
	ic->full.next_update = s->full_next_update;
	ic->full.expired_grace = s->expired_grace;
	ic->full.out_dir = out_dir;
	ic->full.ldap_dn = d->issuing.dn[0] != '\0' ? d->issuing.dn : NULL;
	ic->full.interval = s->full_interval;
	ic->delta = ic->full;
	ic->delta.next_update = s->delta_next_update;
	ic->delta.interval = s->delta_interval;
	ic->ldap.uri = config_get(d->cfg, "ldap.uri", NULL);
	ic->ldap.bind_dn = config_get(d->cfg, "ldap.bind_dn", NULL);
	ic->ldap.bind_pw_file = config_get(d->cfg, "ldap.bind_pw_file", NULL);
	ic->ldap.base = config_get(d->cfg, "ldap.base", NULL);
	if (ldappub_conf_timeout(d->cfg, &ic->ldap) == -1)
		return -1;
	ic->ldap_enabled = ic->ldap.uri != NULL && ic->full.ldap_dn != NULL;
	if (!ic->ldap_enabled)
		log_warn("config: no ldap.uri or ldap.base: CRLs are not "
		    "published to a directory");
	ic->cache = d->cache;
	return 0;
}

static void
crld_demote(const struct config *cfg, int insecure)
{
	char err[256], name[64];
	const char *user = sandbox_user(cfg, "crl", SANDBOX_NET_FILES, name,
	    sizeof(name));

	if (sandbox_demote(user, NULL, err, sizeof(err)) == -1) {
		log_err("sandbox: %s", err);
		if (!insecure)
			exit(1);
	}
}

static void
crld_seccomp(int insecure)
{
	char err[256];
	int v = 0;

	/* libldap reads its configuration files on first use: do it now. */
	(void)ldap_get_option(NULL, LDAP_OPT_PROTOCOL_VERSION, &v);
	if (CRL_SANITIZER_BUILD) {
		/* LeakSanitizer ptraces the process at exit: no seccomp in test builds. */
		log_warn("sandbox: seccomp not installed in a sanitizer build");
		return;
	}
	if (sandbox_seccomp(SANDBOX_NET_FILES, err, sizeof(err)) == -1) {
		log_err("sandbox: %s", err);
		if (!insecure)
			exit(1);
		log_warn("sandbox: running WITHOUT seccomp (crl.insecure_no_sandbox)");
	}
}

/* SIGHUP: a base CRL now (daemon_wait's hook). */
static void
crld_hup(void *issuer)
{
	log_info("SIGHUP: issuing a base CRL now");
	crl_issuer_kick(issuer);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "once", no_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct crld d;
	struct signer_config sc;
	struct signer *signer = NULL;
	struct crl_issuer *issuer = NULL;
	struct crl_publisher *publisher = NULL;
	struct http_server *srv = NULL;
	struct http_limits lim;
	const char *path = getenv("PKI_CONFIG"), *s, *readable[1];
	char err[512], policy_path[PATH_MAX];
	long port, max_age;
	sigset_t sigs;
	enum log_level level = LOGL_INFO;
	int ch, once = 0, insecure = 0, db_down = 0, rc = 1;

	while ((ch = getopt_long(argc, argv, "c:o", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'o': once = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	memset(&d, 0, sizeof(d));
	log_init("crl", LOGL_INFO, stderr);
	if (http_take_inherited_socket(err, sizeof(err)) == -1) {
		log_err("%s", err);
		return 1;
	}
	if ((d.cfg = config_load(path, err, sizeof(err))) == NULL) {
		log_err("%s", err);
		return 1;
	}
	if ((s = config_get(d.cfg, "log.level", NULL)) != NULL &&
	    log_level_parse(s, &level) == 0)
		log_init("crl", level, stderr);
	snprintf(policy_path, sizeof(policy_path), "%s/crl.conf",
	    config_get(d.cfg, "pki.policy_dir", "policy"));
	if ((d.policy = config_load(config_get(d.cfg, "crl.policy_file",
	    policy_path), err, sizeof(err))) == NULL) {
		log_err("%s", err);
		goto out;
	}
	if (config_get_long(d.cfg, "crl.port", 18082, 0, 65535, &port) == -1 ||
	    config_get_bool(d.cfg, "crl.insecure_no_sandbox", 0, &insecure) ==
	    -1)
		goto out;
	if ((s = config_get(d.cfg, "hsm.softhsm2_conf", NULL)) != NULL)
		setenv("SOFTHSM2_CONF", s, 1);
	if (config_get(d.cfg, "pg.crl_uri", NULL) == NULL) {
		log_err("config: pg.crl_uri missing");
		goto out;
	}
	if (config_get_long(d.policy, "crl.http_max_age_seconds", 60, 0, 86400,
	    &max_age) == -1 || (d.cache = crl_cache_new(max_age)) == NULL)
		goto out;
	if (crld_load_cas(&d, config_get(d.cfg, "pg.crl_uri", NULL), once,
	    &db_down) == -1 || crld_configure(&d) == -1)
		goto out;

	/* The signer: the issuing CA's token, TBSCertLists with its key only. */
	memset(&sc, 0, sizeof(sc));
	/*
	 * The issuing CA's key is in the token of role "ca"; grant it CRLs only.
	 * The database named the token; the configuration must agree.
	 */
	if (signer_config_add_token(&sc, d.cfg, "ca") == -1 ||
	    signer_config_grant(&sc, SIGNER_KIND_CRL, d.issuing.key_label) == -1)
		goto out;
	/* No CRL of ours is valid longer than a base: nor one it signs. */
	sc.crl_max_validity_s = d.ic.full.next_update;
	if (strcmp(sc.tokens[0].label, d.issuing.token) != 0) {
		log_err("hsm.ca_token is %s but the issuing CA key is in token %s",
		    sc.tokens[0].label, d.issuing.token);
		goto out;
	}
	sc.sandbox_section = "crl";
	daemon_block_signals(&sigs);
	if ((signer = signer_spawn(&sc, err, sizeof(err))) == NULL) {
		log_err("signer: %s", err);
		goto out;
	}
	d.ic.signer = signer;
	/* CRL files are 0644 without fchmod, which the filter refuses. */
	umask(022);
	/*
	 * Before the first thread: files written only as CRLs, read only
	 * there, in the system's directories and the LDAP password file
	 * (read at each publication): not the database's or the tokens'.
	 */
	readable[0] = d.ic.ldap.bind_pw_file;
	if (daemon_limit_files(d.cfg, "crl", "crld", &d.ic.full.out_dir, 1,
	    readable, 1, config_get(d.cfg, "pg.crl_uri", NULL)) == -1)
		goto out;
	if (once) {
		rc = crl_issue_once(&d.ic) == 0 ? 0 : 1;
		goto out;
	}
	memset(&lim, 0, sizeof(lim));
	/* Behind a reverse proxy: the client from X-Forwarded-For (lib/proxy.h). */
	lim.trusted_proxies = config_get(d.cfg, "crl.trusted_proxies", NULL);
	lim.max_body = 1024;	/* GETs carry no body */
	lim.threads = 2;
	if ((srv = http_start(config_get(d.cfg, "crl.listen", "127.0.0.1"),
	    (uint16_t)port, &lim, crl_serve, d.cache, err, sizeof(err))) ==
	    NULL) {
		log_err("http: %s", err);
		goto out;
	}
	crld_demote(d.cfg, insecure);
	/* The publisher first: the issuer kicks it after each CRL. */
	if (d.ic.ldap_enabled && (publisher = crl_publisher_start(&d.ic, err,
	    sizeof(err))) == NULL) {
		log_err("publisher: %s", err);
		goto out;
	}
	d.ic.publisher = publisher;
	if ((issuer = crl_issuer_start(&d.ic, err, sizeof(err))) == NULL) {
		log_err("issuer: %s", err);
		goto out;
	}
	/* Both threads run: the filter covers them too (TSYNC, lib/sandbox.c). */
	crld_seccomp(insecure);
	log_info("serving CRLs on %s (issuer %s, key %s, %s)%s",
	    http_where(srv), d.issuing.name, d.issuing.key_label, d.url,
	    db_down ? "; database down: the files' CRLs until it answers" :
	    "");
	rc = daemon_wait(&sigs, crld_hup, issuer);
out:
	http_stop(srv);
	/*
	 * The issuer first, which kicks the publisher; then the publisher,
	 * which may first wait out an LDAP call's time-out (crl/extern.h).
	 */
	crl_issuer_stop(issuer);
	crl_publisher_stop(publisher);
	signer_close(signer);
	crl_cache_free(d.cache);
	X509_free(d.issuing.cert);
	X509_free(d.root.cert);
	config_free(d.policy);
	config_free(d.cfg);
	return rc;
}
