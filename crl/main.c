/*
 * crld: the CRL publisher (RFC 5280 §5).
 *
 * Processes:
 *  - the signer (hsm/signerproc.c), forked first: it alone loads the PKCS#11
 *    module and logs in to the issuing CAs' token; it signs only
 *    TBSCertLists (checked by a streaming DER walk) with the keys of the
 *    issuing CAs served, nothing else — no certificates, no root key. A CA
 *    whose key it does not hold is left out of signing (its CRLs and
 *    certificate still served); with none left, crld does not start.
 *  - this worker: reads the CA certificates from PostgreSQL (while it is
 *    down at start-up: from crl.out_dir, with the CRLs there, each checked
 *    against its CA's certificate), serves the
 *    CRLs and CA certificates over HTTP GET from memory (crl/serve.c), and
 *    runs threads, each with its own database connection: an issuer per
 *    issuing CA still needed (crl/issuer.c: the one named issuing, and
 *    those a renewal added, until notAfter + crl.expired_grace_seconds;
 *    crl/README.md "Several issuing CAs"; one added while crld runs is
 *    taken by the CA watch, crld_watch, within
 *    crl.reconcile_interval_seconds or at a SIGHUP) issues that CA's
 *    complete and delta CRLs on the
 *    schedule of policy/crl.conf and shortly after each revocation,
 *    streaming them from the status registry (lib/crlgen.c), writes them to
 *    files and queues them for LDAP; the publisher (crl/publisher.c, only
 *    with ldap.uri and ldap.base) publishes that queue to the directory,
 *    with its retries, so that a directory that never answers delays only
 *    publication, never a CRL. It binds its port, drops to an
 *    unprivileged user and enters a seccomp sandbox before it starts any
 *    thread (HTTP's, the publisher, the issuers); it never holds a PIN or
 *    a private key.
 *
 * The root's CRL (the ARL) is signed only at a ceremony (`pkictl crl arl`);
 * crld serves the newest one from the database.
 *
 * Signals: SIGTERM/SIGINT stop cleanly; SIGHUP issues a base CRL (and a
 * delta) now, and reads the list of issuing CAs again. `crld --once` issues one base CRL and one delta, prints their
 * timings and exits (benchmarks).
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ldap.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
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
#include "lib/sigdigest.h"
#include "lib/timeutil.h"
#include "lib/x509ext.h"

#if defined(__SANITIZE_ADDRESS__)
#define CRL_SANITIZER_BUILD	1
#else
#define CRL_SANITIZER_BUILD	0
#endif

/* Issuing CAs crld remembers having refused (crld_refuse). */
#define CRLD_REFUSED_MAX	CRL_NOT_SERVED_MAX

struct crld {
	struct config		*cfg;
	struct config		*policy;
	struct crl_ca		 root;
	/*
	 * [0]: the CA named issuing while it is served; then by id, then
	 * those the CA watch took while crld ran. Only appended to: a
	 * thread's settings point into its entry.
	 */
	struct crl_ca		 issuing[CRL_MAX_ISSUING];
	size_t			 nissuing;
	/* One issuing thread each; ic[0] also loads the root's ARL. */
	struct crl_issuer_conf	 ic[CRL_MAX_ISSUING];
	struct crl_issuer	*issuers[CRL_MAX_ISSUING];
	/*
	 * 1: left out of signing because the signer did not give its key
	 * (crld_check_key), which the CA watch asks again at each round.
	 */
	int			 key_retry[CRL_MAX_ISSUING];
	struct crl_cache	*cache;
	char			 actor[96];
	struct crl_schedule	 sched;
	/*
	 * crl.issuing_distribution_point (policy): 1 puts the critical IDP
	 * on complete and delta CRLs; 0 leaves it off both, for relying
	 * parties that refuse a critical IDP (NSS; crl/README.md).
	 */
	int			 idp;
	struct signer		*signer;
	struct crl_publisher	*publisher;
	const char		*ca_token;	/* hsm.ca_token: the signer's */
	/*
	 * The CA watch (crld_watch): its thread and database connection.
	 * mtx guards nissuing and issuers[] against crld_hup once it runs.
	 */
	pthread_mutex_t		 mtx;
	struct crl_thread	 watch;
	int			 watching;
	struct db		*watch_db;
	int			 watch_failed;	/* logged once until it works */
	/*
	 * Issuing CAs refused for good, at start-up or by the CA watch
	 * (crld_refuse): logged once, not read again. ca_certificate rows
	 * never change, so neither does the reason.
	 */
	long long		 refused[CRLD_REFUSED_MAX];
	size_t			 nrefused;
	/*
	 * Per issuing CA, how its own certificate stands with its issuer as
	 * the CA watch last read it ("" valid; crld_watch_ca_status).
	 */
	char			 ca_status[CRL_MAX_ISSUING][96];
	/*
	 * The ARL served, behind a change of a certificate the root issued
	 * (crld_watch_arl): its number (0: not behind) and since when.
	 */
	long long		 arl_behind;
	char			 arl_since[32];
	/*
	 * Per issuing CA: CRLD_ENDED when the CA watch dropped it past its
	 * grace (crld_watch_end), CRLD_ENDED_KEPT when it would have but it
	 * is the last one served. Under mtx; the entry stays (threads'
	 * settings point into d->issuing), its slot frees at a restart.
	 */
	int			 ended[CRL_MAX_ISSUING];
};

#define CRLD_ENDED		1
#define CRLD_ENDED_KEPT		2

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
 * Whether crld can never serve CA c (root 1: as the root): why into why,
 * and 1; else 0. Over CRL_MAX_ISSUING issuing CAs, a name that is not a
 * file or URL name, no CN to name its directory entry (with ldap.base):
 * none of it changes while crld runs (ca_certificate rows are
 * insert-only; a slot frees only at a restart).
 */
static int
crld_ca_refusal(const struct crld *d, int root, const struct cadb_ca *c,
    char *why, size_t whylen)
{
	const char *base = config_get(d->cfg, "ldap.base", NULL);
	char dn[sizeof(d->root.dn)], kwhy[128];

	if (!root && d->nissuing == CRL_MAX_ISSUING)
		snprintf(why, whylen, "crld serves %d issuing CAs already "
		    "(CRL_MAX_ISSUING), until a restart drops those that "
		    "ended", CRL_MAX_ISSUING);
	else if (!crl_cas_name_ok(c->name))
		snprintf(why, whylen, "its name is not a file or URL name");
	else if (base != NULL && publish_ca_dn(base, c->cert, dn,
	    sizeof(dn)) == -1)
		snprintf(why, whylen, "no LDAP entry name (its subject has no "
		    "CN)");
	else if (!root && sigdigest_for_key(X509_get0_pubkey(c->cert),
	    config_get(d->policy, "crl.digest", "SHA384"), kwhy,
	    sizeof(kwhy)) == NULL)
		snprintf(why, whylen, "its key signs no CRL: %s", kwhy);
	else
		return 0;
	return 1;
}

/*
 * Issuing CA c is refused for good (crld_ca_refusal gave why): logged once
 * (what: "CA watch: " or ""), remembered so that the CA watch does not
 * read it again (crld_watch_refused), and named in /health
 * ("not_served"). The other CAs are served as before.
 */
static void
crld_refuse(struct crld *d, const struct cadb_ca *c, const char *what,
    const char *why)
{
	log_err("%sissuing CA \"%s\" not served: %s", what, c->name, why);
	if (d->nrefused < CRLD_REFUSED_MAX)
		d->refused[d->nrefused++] = c->id;
	(void)crl_cache_not_served(d->cache, c->id, c->name, why);
}

/*
 * Takes c's certificate as the root (root 1) or as the next issuing CA:
 * key location, its documents in the cache (paths under /crl/ named after
 * it), the certificate served at its caIssuers URL, its directory entry.
 * All or nothing: on failure (-1, logged) no entry is counted, no path of
 * it is served and c->cert is still the caller's; on success c->cert is
 * the entry's (NULL in c).
 */
static int
crld_ca_take(struct crld *d, int root, struct cadb_ca *c)
{
	const char *base = config_get(d->cfg, "ldap.base", NULL);
	const char *crl_base = config_get(d->cfg, "urls.crl_base", "");
	unsigned char *der = NULL, *enc = NULL;
	struct crl_ca *ca;
	char pfull[64], pdelta[64], pcert[64], dn[sizeof(ca->dn)] = "";
	char why[256];
	int doc_full = CRL_DOC_NONE, doc_delta = CRL_DOC_NONE;
	int doc_cert = CRL_DOC_NONE;
	struct tm tm;
	int len, rc = -1;

	if (crld_ca_refusal(d, root, c, why, sizeof(why))) {
		log_err("CA \"%s\": %s", c->name, why);
		return -1;
	}
	/*
	 * What may fail comes first, and the entry is written last: a CA
	 * the watch takes while crld serves and then gives up must leave no
	 * entry and no path behind. Until 2026-12-07 a failure after the
	 * entry was counted (out of memory) left it half filled, counted in
	 * nissuing with no thread, its paths answering 503 until a restart.
	 */
	memset(&tm, 0, sizeof(tm));
	if ((len = i2d_X509(c->cert, &enc)) <= 0 ||
	    ASN1_TIME_to_tm(X509_get0_notBefore(c->cert), &tm) != 1) {
		log_err("CA %s: its certificate does not encode", c->name);
		goto out;
	}
	if (base != NULL && publish_ca_dn(base, c->cert, dn, sizeof(dn)) ==
	    -1) {
		log_err("no LDAP entry name for %s (its subject has no CN)",
		    c->name);
		goto out;
	}
	/* The cache frees with free(): hand it plain malloc'd bytes. */
	if ((der = malloc((size_t)len)) == NULL) {
		log_err("CA %s: out of memory", c->name);
		goto out;
	}
	memcpy(der, enc, (size_t)len);
	snprintf(pfull, sizeof(pfull), "/crl/%s.crl", c->name);
	snprintf(pdelta, sizeof(pdelta), "/crl/%s-delta.crl", c->name);
	snprintf(pcert, sizeof(pcert), "/crl/%s.crt", c->name);
	if ((doc_full = crl_cache_add(d->cache, pfull, "application/pkix-crl",
	    root)) == -1 || (!root && (doc_delta = crl_cache_add(d->cache,
	    pdelta, "application/pkix-crl", 0)) == -1) ||
	    (doc_cert = crl_cache_add(d->cache, pcert,
	    "application/pkix-cert", 0)) == -1) {
		log_err("CA %s: its paths could not be added (%d documents "
		    "held)", c->name, CRL_DOC_MAX);
		goto out;
	}
	/* Served as application/pkix-cert at the AIA caIssuers URL. */
	if (crl_cache_set(d->cache, doc_cert, der, (size_t)len, 0,
	    timegm(&tm), 0) == -1) {
		der = NULL;	/* freed by crl_cache_set */
		log_err("CA %s: its certificate not cached (out of memory)",
		    c->name);
		goto out;
	}
	der = NULL;	/* owned by the cache now */

	/* Nothing fails from here on. */
	ca = root ? &d->root : &d->issuing[d->nissuing];
	ca->doc_full = doc_full;
	ca->doc_delta = doc_delta;
	ca->doc_cert = doc_cert;
	memcpy(ca->dn, dn, sizeof(ca->dn));
	snprintf(ca->url, sizeof(ca->url), "%s/%s.crl", crl_base, c->name);
	snprintf(ca->delta_url, sizeof(ca->delta_url), "%s/%s-delta.crl",
	    crl_base, c->name);
	ca->id = c->id;
	snprintf(ca->name, sizeof(ca->name), "%s", c->name);
	snprintf(ca->token, sizeof(ca->token), "%s", c->token);
	snprintf(ca->key_label, sizeof(ca->key_label), "%s", c->key_label);
	X509_free(ca->cert);
	ca->cert = c->cert;
	c->cert = NULL;
	if (!root)
		d->nissuing++;
	rc = 0;
out:
	if (rc == -1) {
		/* No path of a CA not taken is served. */
		crl_cache_remove(d->cache, doc_full);
		crl_cache_remove(d->cache, doc_delta);
		crl_cache_remove(d->cache, doc_cert);
	}
	free(der);
	OPENSSL_free(enc);
	return rc;
}

/*
 * What crld needs of the CAs to start while the database is down, in
 * out_dir (crld's only writable directory): their rows of ca_certificate
 * and ca_key and their certificates. Rewritten at each start-up that
 * reached the database; read by crld_load_cas_file. "root" and "issuing"
 * (the first issuing CA) are objects, as crld wrote them before it served
 * several issuing CAs (so an older crld still reads the file);
 * "issuing_cas" is the list of every issuing CA served. A file without
 * it (written by an older crld) gives the one in "issuing".
 */
#define CRLD_CRL_FILE_MAX	((size_t)1 << 30)

/* ca as the JSON object of crld-cas.json; NULL on failure. */
static json_t *
crld_ca_json(const struct crl_ca *c)
{
	unsigned char *enc = NULL;
	char *hex = NULL;
	json_t *o = NULL;
	int len;

	if ((len = i2d_X509(c->cert, &enc)) <= 0 ||
	    (hex = malloc(2 * (size_t)len + 1)) == NULL)
		goto out;
	hex_encode(enc, (size_t)len, hex);
	o = json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)c->id,
	    "name", c->name, "token", c->token, "key_label", c->key_label,
	    "cert", hex);
out:
	free(hex);
	OPENSSL_free(enc);
	return o;
}

static int
crld_save_cas(struct crld *d, const char *out_dir)
{
	json_t *o = NULL, *list = NULL;
	char *text = NULL, err[256];
	size_t i, first;
	int rc = -1;

	/* Those the CA watch dropped past their grace are left out. */
	for (first = 0; first < d->nissuing && d->ended[first] == CRLD_ENDED;
	    first++)
		;
	if (first == d->nissuing)
		goto out;
	if ((o = json_object()) == NULL ||
	    json_object_set_new(o, "root", crld_ca_json(&d->root)) == -1 ||
	    json_object_set_new(o, "issuing", crld_ca_json(&d->issuing[first]))
	    == -1 || (list = json_array()) == NULL)
		goto out;
	for (i = 0; i < d->nissuing; i++)
		if (d->ended[i] != CRLD_ENDED &&
		    json_array_append_new(list, crld_ca_json(&d->issuing[i])) ==
		    -1)
			goto out;
	if (json_object_set_new(o, "issuing_cas", list) == -1) {
		list = NULL;	/* freed by json_object_set_new */
		goto out;
	}
	list = NULL;
	if ((text = json_dumps(o, JSON_SORT_KEYS)) == NULL)
		goto out;
	if (crlgen_write_file(out_dir, CRL_CAS_FILE, (unsigned char *)text,
	    strlen(text), err, sizeof(err)) == -1) {
		log_warn("%s not written (crld could not start while the "
		    "database is down): %s", CRL_CAS_FILE, err);
		goto out;
	}
	rc = 0;
out:
	free(text);
	json_decref(list);
	json_decref(o);
	return rc;
}

/*
 * The CAs from out_dir/crld-cas.json (crld_save_cas), parsed by crl/cas.c
 * (crl_cas_parse, which tests/fuzz/fuzz_crld_cas.c fuzzes). Read as root,
 * before the signer is spawned: its grants and the key checks come from
 * these CAs, and it must start before crld demotes. out_dir is the demoted
 * user's, so the file must be a regular one (no symlink to a secret, no
 * FIFO: file_read_regular); an issuing CA's key_label must be an issuing
 * CA's (crl_cas_key_label_ok: until 2026-12-07 any label the file named
 * was granted CRLs); a JSON error is logged by its position only.
 */
static int
crld_load_cas_file(struct crld *d, const char *out_dir)
{
	struct crl_cas cas;
	unsigned char *text = NULL;
	char path[PATH_MAX], err[512];
	size_t i, len;
	int rc = -1;

	memset(&cas, 0, sizeof(cas));
	snprintf(path, sizeof(path), "%s/%s", out_dir, CRL_CAS_FILE);
	if (file_read_regular(path, CRL_CAS_FILE_MAX, &text, &len, err,
	    sizeof(err)) == -1) {
		log_err("%s", err);
		goto out;
	}
	if (crl_cas_parse(text, len, &cas, err, sizeof(err)) == -1) {
		log_err("%s: %s", path, err);
		goto out;
	}
	/* crld_ca_take takes each certificate (NULL in cas then). */
	if (crld_ca_take(d, 1, &cas.root) == -1)
		goto out;
	for (i = 0; i < cas.nissuing; i++)
		if (crld_ca_take(d, 0, &cas.issuing[i]) == -1)
			goto out;
	rc = 0;
out:
	crl_cas_clear(&cas);
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
    int doc, int delta, int down)
{
	struct crlgen_file_info fi;
	unsigned char *der = NULL;
	char fname[64], path[PATH_MAX], err[512];
	size_t len;

	crlgen_file_name(ca->name, delta, fname, sizeof(fname));
	snprintf(path, sizeof(path), "%s/%s", out_dir, fname);
	/*
	 * Called at start-up, once demoted and filtered (crld_serve_files):
	 * crlgen_read_file probes with lstat(), which the seccomp filter
	 * allows (not access()), and refuses a symlink or a FIFO.
	 */
	switch (crlgen_read_file(out_dir, fname, CRLD_CRL_FILE_MAX, &der, &len,
	    err, sizeof(err))) {
	case 1:
		if (down)
			log_warn("%s: none to serve until the database "
			    "answers", path);
		return;
	case -1:
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
 * The issuing CAs crld serves: every one whose notAfter is less than
 * crl.expired_grace_seconds past (RFC 5280 §3.3: what it issued ends by
 * its notAfter, and must then stay on one scheduled CRL), the one named
 * issuing first, then by id (ca/README.md "Renewing the issuing CA").
 * Their ids and names; at start-up and at each round of the CA watch.
 */
static const struct db_stmt stmt_issuing_cas = { "crld_issuing_cas",
	"SELECT id, name FROM ca_certificate WHERE role = 'issuing' AND "
	"not_after > now() - make_interval(secs => $1::bigint) "
	"ORDER BY name = 'issuing' DESC, id", 1 };

static int
crld_load_issuing(struct crld *d, struct db *db)
{
	struct cadb_ca c;
	PGresult *res;
	const char *v[1];
	char grace[24], why[256];
	long g;
	int i, rc = -1;

	memset(&c, 0, sizeof(c));
	if (config_get_long(d->policy, "crl.expired_grace_seconds", 604800, 0,
	    3650L * 86400, &g) == -1)
		return -1;
	snprintf(grace, sizeof(grace), "%ld", g);
	v[0] = grace;
	if ((res = db_exec(db, &stmt_issuing_cas, v, NULL, NULL)) == NULL)
		return -1;
	if (PQntuples(res) == 0) {
		log_err("no issuing CA in the database whose certificates may "
		    "still be valid: run `pkictl ca init` (or `pkictl ca "
		    "issuing`)");
		goto out;
	}
	for (i = 0; i < PQntuples(res); i++) {
		cadb_clear(&c);
		if (cadb_load(db, PQgetvalue(res, i, 1), &c) != 0)
			goto out;
		/*
		 * One CA crld can never serve is skipped, as the CA watch
		 * skips it: until 2026-12-07 a name that is no file name, no
		 * CN (with ldap.base) or a ninth stopped crld, and with it
		 * every other CA's CRLs.
		 */
		if (crld_ca_refusal(d, 0, &c, why, sizeof(why))) {
			crld_refuse(d, &c, "", why);
			continue;
		}
		if (crld_ca_take(d, 0, &c) == -1)
			goto out;
	}
	if (d->nissuing == 0) {
		log_err("no issuing CA in the database that crld can serve "
		    "(logged above)");
		goto out;
	}
	rc = 0;
out:
	cadb_clear(&c);
	PQclear(res);
	return rc;
}

/*
 * The root and the issuing CAs: certificates, key location, directory
 * entry, from the database; written to out_dir for a start-up while it is
 * down. Without the database (no connection; not once): from that file
 * (*down set). The CRLs of out_dir are read later, once demoted
 * (crld_serve_files).
 */
static int
crld_load_cas(struct crld *d, const char *uri, int once, int *down)
{
	const char *out_dir = crld_out_dir(d->cfg);
	struct cadb_ca c;
	struct db *db = NULL;
	char err[512];
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
		    "CRLs there", out_dir, CRL_CAS_FILE);
		if (crld_load_cas_file(d, out_dir) == -1) {
			log_err("cannot start without the database: no usable "
			    "%s/%s (written at a start-up with it)", out_dir,
			    CRL_CAS_FILE);
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
	if (cadb_load(db, "root", &c) != 0) {
		log_err("no root CA in the database: run `pkictl ca init`");
		goto out;
	}
	if (crld_ca_take(d, 1, &c) == -1 || crld_load_issuing(d, db) == -1)
		goto out;
	if (!once && out_dir != NULL)
		(void)crld_save_cas(d, out_dir);
	rc = 0;
out:
	cadb_clear(&c);
	db_close(db);
	return rc;
}

/*
 * The CRLs of out_dir (crld_serve_file), with or without the database: at
 * start-up, after crld_demote and crld_seccomp and before any thread.
 * Until 2026-12-07 they were read and parsed as root before demotion, and
 * a symlink planted there by the demoted user was followed.
 */
static void
crld_serve_files(struct crld *d, int down)
{
	const char *out_dir = crld_out_dir(d->cfg);
	size_t i;

	if (out_dir == NULL)
		return;
	for (i = 0; i < d->nissuing; i++) {
		crld_serve_file(d, out_dir, &d->issuing[i],
		    d->issuing[i].doc_full, 0, down);
		crld_serve_file(d, out_dir, &d->issuing[i],
		    d->issuing[i].doc_delta, 1, down);
	}
	crld_serve_file(d, out_dir, &d->root, d->root.doc_full, 0, down);
}

/* The schedule of policy/crl.conf, checked. */
static int
crld_schedule(struct crld *d, struct crl_schedule *s)
{
	const struct config *p = d->policy;
	long coalesce;

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
	return 0;
}

/*
 * Policy and configuration into issuing CA i's thread's settings
 * (crld_configure; the CA watch's new CAs).
 */
static int
crld_configure_ca(struct crld *d, size_t i)
{
	struct crl_issuer_conf *ic = &d->ic[i];
	const struct crl_schedule sched = d->sched;
	const char *out_dir = crld_out_dir(d->cfg);
	char why[128];

	ic->sched = sched;
	ic->conninfo = config_get(d->cfg, "pg.crl_uri", NULL);
	ic->actor = d->actor;
	ic->issuing = &d->issuing[i];
	ic->root = i == 0 ? &d->root : NULL;
	/*
	 * An EC key's curve fixes the digest (lib/sigdigest.h); crl.digest
	 * is an RSA CA's. Until 2026-12-07 crl.digest was every CA's, so an
	 * issuing CA on P-256 would have signed ecdsa-with-SHA384.
	 */
	if ((ic->digest = sigdigest_for_key(X509_get0_pubkey(
	    d->issuing[i].cert), config_get(d->policy, "crl.digest", "SHA384"),
	    why, sizeof(why))) == NULL) {
		log_err("issuing CA \"%s\": its key signs no CRL: %s",
		    d->issuing[i].name, why);
		return -1;
	}
	ic->gen.id = d->issuing[i].id;
	ic->gen.name = d->issuing[i].name;
	ic->gen.cert = d->issuing[i].cert;
	ic->gen.digest = ic->digest;
	ic->full.url = d->idp ? d->issuing[i].url : NULL;
	ic->full.delta_url = d->issuing[i].delta_url;
	ic->full.next_update = sched.full_next_update;
	ic->full.expired_grace = sched.expired_grace;
	ic->full.out_dir = out_dir;
	ic->ldap.uri = config_get(d->cfg, "ldap.uri", NULL);
	ic->ldap.bind_dn = config_get(d->cfg, "ldap.bind_dn", NULL);
	ic->ldap.bind_pw_file = config_get(d->cfg, "ldap.bind_pw_file",
	    NULL);
	ic->ldap.base = config_get(d->cfg, "ldap.base", NULL);
	if (ldappub_conf_timeout(d->cfg, &ic->ldap) == -1)
		return -1;
	/*
	 * One condition for the publisher and the queue: a CRL is
	 * queued for the directory only when the publishing thread
	 * will take it. Until 2026-12-06 ldap.base alone queued every
	 * CRL (the whole DER, ~47 MB at 1,000,000 entries), and
	 * without ldap.uri the rows stayed pending for ever.
	 */
	ic->ldap_enabled = ic->ldap.uri != NULL &&
	    ic->ldap.uri[0] != '\0' && d->issuing[i].dn[0] != '\0';
	ic->full.ldap_dn = ic->ldap_enabled ? d->issuing[i].dn : NULL;
	ic->full.interval = sched.full_interval;
	ic->delta = ic->full;
	ic->delta.next_update = sched.delta_next_update;
	ic->delta.interval = sched.delta_interval;
	ic->cache = d->cache;
	return 0;
}

/* Policy and configuration into each issuing thread's settings. */
static int
crld_configure(struct crld *d)
{
	const char *base = config_get(d->cfg, "urls.crl_base", NULL);
	char host[64];
	size_t i;

	if (base == NULL) {
		log_err("config: urls.crl_base missing (the CRL distribution "
		    "point in our certificates)");
		return -1;
	}
	memset(&d->sched, 0, sizeof(d->sched));
	if (crld_schedule(d, &d->sched) == -1 ||
	    config_get_bool(d->policy, "crl.issuing_distribution_point", 1,
	    &d->idp) == -1)
		return -1;
	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	snprintf(d->actor, sizeof(d->actor), "crld:%s", config_get(d->cfg,
	    "crl.instance", host));
	for (i = 0; i < d->nissuing; i++)
		if (crld_configure_ca(d, i) == -1)
			return -1;
	if (!d->ic[0].ldap_enabled)
		log_warn("config: no ldap.uri or ldap.base: CRLs are neither "
		    "queued for nor published to a directory");
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

/*
 * Leaves issuing CA i out of signing, for why: its issuing thread serves
 * its CRLs (out_dir's, then crl_current's) and issues none; /health names
 * it. Until 2026-12-06 one CA's missing key made crld exit, and every
 * distribution point, the root's and the other CAs' too, went offline.
 */
static void
crld_leave_out(struct crld *d, size_t i, const char *why)
{
	d->ic[i].key_missing = 1;
	(void)crl_cache_not_signed(d->cache, d->issuing[i].name);
	log_err("issuing CA %s: %s: its CRLs are not signed by this crld "
	    "(the last ones issued and its certificate are still served)",
	    d->issuing[i].name, why);
}

/*
 * The labels `pkictl ca issuing` gives the keys of the issuing CAs it makes
 * (CRLD_RENEWED_KEY and a number: issuing-2, ...; ca/ceremony.c,
 * ceremony_next), which the signer is granted CRLs with beforehand
 * (signer_config_grant_numbered): a CA made while crld runs is signed for
 * without a restart, its key being in hsm.ca_token and its certificate's
 * (crld_check_key). Until 2026-12-06 the grants named the keys of start-up
 * only, and a new issuing CA had no CRL until crld was restarted.
 */
#define CRLD_RENEWED_KEY	CRL_CAS_RENEWED_KEY

/*
 * Grants the signer CRLs with the key of each issuing CA in hsm.ca_token
 * (the database names the token; the configuration must agree), leaving
 * out a CA whose key is elsewhere, and with the keys renewals will make
 * (CRLD_RENEWED_KEY). The signer starts with the keys it
 * finds (missing_keys_ok). -1 when no CA is left: a crld that can sign
 * nothing refuses to start (crl/README.md).
 */
static int
crld_grant(struct crld *d, struct signer_config *sc)
{
	char why[192];
	size_t i, n = 0;

	for (i = 0; i < d->nissuing; i++) {
		if (strcmp(sc->tokens[0].label, d->issuing[i].token) != 0) {
			snprintf(why, sizeof(why), "its key is in token %s, "
			    "not in hsm.ca_token %s", d->issuing[i].token,
			    sc->tokens[0].label);
			crld_leave_out(d, i, why);
			continue;
		}
		if (signer_config_grant(sc, SIGNER_KIND_CRL,
		    d->issuing[i].key_label) == -1)
			return -1;
		n++;
	}
	if (n == 0) {
		log_err("no issuing CA's key is in hsm.ca_token %s: no CRL can "
		    "be signed", sc->tokens[0].label);
		return -1;
	}
	if (signer_config_grant_numbered(sc, SIGNER_KIND_CRL,
	    CRLD_RENEWED_KEY) == -1)
		return -1;
	d->ca_token = sc->tokens[0].label;
	sc->missing_keys_ok = 1;
	return 0;
}

/*
 * 0 when the signer gives issuing CA i's key and it is its certificate's;
 * else -1 with why (its CRLs could not be signed, or would not verify).
 */
static int
crld_check_key(struct crld *d, struct signer *signer, size_t i, char *why,
    size_t whylen)
{
	EVP_PKEY *pub = NULL, *want;
	int rc = -1;

	want = X509_get0_pubkey(d->issuing[i].cert);
	if (signer_pubkey(signer, d->issuing[i].key_label, &pub, why,
	    whylen) == -1)
		goto out;
	if (want == NULL || EVP_PKEY_eq(pub, want) != 1) {
		snprintf(why, whylen, "key \"%s\" is not the key of its "
		    "certificate", d->issuing[i].key_label);
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_free(pub);
	return rc;
}

/*
 * Leaves out of signing each issuing CA whose key the signer does not
 * find, or whose key is not its certificate's (its CRLs would not
 * verify). -1 when none is left.
 */
static int
crld_check_keys(struct crld *d, struct signer *signer)
{
	char why[320];
	size_t i, n = 0;

	for (i = 0; i < d->nissuing; i++) {
		if (d->ic[i].key_missing)
			continue;
		if (crld_check_key(d, signer, i, why, sizeof(why)) == -1) {
			crld_leave_out(d, i, why);
			d->key_retry[i] = 1;
		} else
			n++;
	}
	if (n == 0) {
		log_err("no issuing CA's key can sign CRLs: crld does not start");
		return -1;
	}
	return 0;
}

/*
 * Takes issuing CA c, which the database has and crld does not serve yet
 * (`pkictl ca issuing` while crld runs): its paths, its certificate
 * served, its key checked as at start-up (left out of signing, its
 * certificate still served, when the signer cannot give it), its thread
 * started. Under d->mtx. The CAs served before are not touched: their
 * threads, numbers and schedules go on. 0, or -1 (logged) when it is not
 * served.
 */
static int
crld_watch_add(struct crld *d, struct cadb_ca *c)
{
	char why[320], err[512];
	size_t i = d->nissuing;

	/*
	 * Refused for good: logged once, and the CA is not read again
	 * (crld_watch_refused). Until 2026-12-06 a CA with a name that is
	 * no file name, or without a CN, was read and logged every round
	 * (every reconcile_interval_seconds and SIGHUP), and of two over
	 * CRL_MAX_ISSUING each was logged every other round.
	 */
	if (crld_ca_refusal(d, 0, c, why, sizeof(why))) {
		crld_refuse(d, c, "CA watch: ", why);
		return -1;
	}
	if (crld_ca_take(d, 0, c) == -1)
		return -1;
	if (crld_configure_ca(d, i) == -1) {
		/* Only ldap.timeout_seconds, checked at start-up already. */
		return -1;
	}
	d->ic[i].signer = d->signer;
	d->ic[i].publisher = d->publisher;
	if (strcmp(d->ca_token, d->issuing[i].token) != 0) {
		snprintf(why, sizeof(why), "its key is in token %s, not in "
		    "hsm.ca_token %s", d->issuing[i].token, d->ca_token);
		crld_leave_out(d, i, why);
	} else if (crld_check_key(d, d->signer, i, why, sizeof(why)) == -1) {
		crld_leave_out(d, i, why);
		d->key_retry[i] = 1;
	}
	/*
	 * No file of out_dir is read (crld_serve_file): a new CA's CRLs are
	 * in crl_current, which its thread loads first, or none are yet.
	 */
	if ((d->issuers[i] = crl_issuer_start(&d->ic[i], err,
	    sizeof(err))) == NULL) {
		/* Its paths answer 503: /health says so. */
		log_err("issuer %s: %s", d->issuing[i].name, err);
		return -1;
	}
	log_info("serving CRLs of issuer %s too, taken while running (key "
	    "%s, %s)", d->issuing[i].name, d->issuing[i].key_label,
	    d->issuing[i].url);
	return 0;
}

/* 1 when the CA watch refused issuing CA id for good (crld_watch_add). */
static int
crld_watch_refused(const struct crld *d, long long id)
{
	size_t i;

	for (i = 0; i < d->nrefused; i++)
		if (d->refused[i] == id)
			return 1;
	return 0;
}

/*
 * Issuing CA i, left out of signing because the signer did not give its
 * key: when it does now (a key put back, a token's files restored), its
 * thread starts again, signing (its numbers and schedule come from the
 * database, as at a start-up). Under d->mtx.
 */
static void
crld_watch_retry_key(struct crld *d, size_t i)
{
	char why[320], err[512];

	if (crld_check_key(d, d->signer, i, why, sizeof(why)) == -1)
		return;
	crl_issuer_stop(d->issuers[i]);
	d->issuers[i] = NULL;
	d->ic[i].key_missing = 0;
	d->key_retry[i] = 0;
	crl_cache_signed(d->cache, d->issuing[i].name);
	if ((d->issuers[i] = crl_issuer_start(&d->ic[i], err,
	    sizeof(err))) == NULL) {
		log_err("issuer %s: %s", d->issuing[i].name, err);
		return;
	}
	log_info("issuing CA %s: its key \"%s\" is back: its CRLs are "
	    "signed again", d->issuing[i].name, d->issuing[i].key_label);
}

/* The bound of each of the CA watch's queries. */
#define CRLD_WATCH_TIMEOUT_MS	10000

/* The row of res whose first column is the CA id, or PQntuples(res). */
static int
crld_row_of(const PGresult *res, long long id)
{
	int i;

	for (i = 0; i < PQntuples(res); i++)
		if (strtoll(PQgetvalue(res, i, 0), NULL, 10) == id)
			break;
	return i;
}

/*
 * The issuing CAs whose own certificate its issuer (the root) revoked or
 * put on hold: its row in certificate, which the root's ARL and OCSP
 * answer from (as cad reads it, ca/worker/issue.c).
 */
static const struct db_stmt stmt_issuing_revoked = { "crld_issuing_revoked",
	"SELECT r.id, x.revocation_reason, to_char(x.revoked_at AT TIME ZONE "
	"'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM ca_certificate r JOIN "
	"certificate x ON x.issuer_id = r.issuer_id AND x.serial = r.serial "
	"WHERE r.role = 'issuing' AND x.revoked_at IS NOT NULL", 0 };

/*
 * Whether each issuing CA served has its own certificate revoked or on
 * hold: crld goes on issuing its CRLs (relying parties still check what
 * it signed against them), but says so once in its log, and /health says
 * "degraded" with the CA in "ca_revoked" until it is released (a hold).
 * Until 2026-12-06 neither said anything. Each round of the CA watch.
 */
static void
crld_watch_ca_status(struct crld *d)
{
	PGresult *res;
	const char *reason, *since;
	char now[96];
	size_t j;
	int i, code;

	if ((res = db_exec_bounded(d->watch_db, &stmt_issuing_revoked, NULL,
	    CRLD_WATCH_TIMEOUT_MS)) == NULL)
		return;		/* the next round tries again */
	for (j = 0; j < d->nissuing; j++) {
		if (d->ended[j] == CRLD_ENDED)
			continue;
		i = crld_row_of(res, d->issuing[j].id);
		code = i < PQntuples(res) ? atoi(PQgetvalue(res, i, 1)) : -1;
		reason = code >= 0 ? x509ext_crl_reason_name(code) : "";
		if (reason == NULL)
			reason = "unknown";
		since = i < PQntuples(res) ? PQgetvalue(res, i, 2) : "";
		if (code >= 0)
			snprintf(now, sizeof(now), "%s %s %s", code == 6 ?
			    "on-hold" : "revoked", reason, since);
		else
			now[0] = '\0';
		if (strcmp(now, d->ca_status[j]) == 0)
			continue;
		if (code >= 0) {
			(void)crl_cache_ca_revoked(d->cache,
			    d->issuing[j].name, code == 6 ? "on-hold" :
			    "revoked", reason, since);
			/*
			 * Until 2026-12-07 this said "what it signed no
			 * longer validates": relying parties checking CRLs
			 * took it until an ARL listing the change was signed.
			 */
			log_err("issuing CA %s: its own certificate was %s by "
			    "its issuer at %s (%s): its CRLs are still issued; "
			    "OCSP answers it now, but relying parties checking "
			    "CRLs accept what it signed until the root's CRL "
			    "(ARL) lists it (`pkictl crl arl`; /health "
			    "\"arl_behind\"); /health says degraded",
			    d->issuing[j].name, code == 6 ? "put on hold" :
			    "revoked", since, reason);
		} else {
			(void)crl_cache_ca_revoked(d->cache,
			    d->issuing[j].name, NULL, NULL, NULL);
			log_info("issuing CA %s: its own certificate is no "
			    "longer revoked or on hold", d->issuing[j].name);
		}
		snprintf(d->ca_status[j], sizeof(d->ca_status[j]), "%s", now);
	}
	PQclear(res);
}

/*
 * The changes (revocation, hold, release: a new revocation_seq) of the
 * certificates the root issued that the ARL served ($2, its number) has
 * not seen: above its max_seq, or made by a transaction its snapshot did
 * not see (as lib/crlgen.c's deltas judge them). Each one's serial and
 * revocation or hold time ("" released: a release keeps none).
 */
static const struct db_stmt stmt_arl_changes = { "crld_arl_changes",
	"SELECT x.serial, coalesce(to_char(x.revoked_at AT TIME ZONE 'UTC', "
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') FROM crl a JOIN certificate x "
	"ON x.issuer_id = a.issuer_id WHERE a.issuer_id = $1::bigint AND "
	"a.number = $2::bigint AND a.kind = 'full' AND x.revocation_seq IS "
	"NOT NULL AND (x.revocation_seq > a.max_seq OR (x.revocation_xid IS "
	"NOT NULL AND NOT pg_visible_in_snapshot(x.revocation_xid, "
	"a.snapshot))) ORDER BY x.revoked_at", 2 };

/*
 * Whether the root's CRL served (the ARL, signed only at a ceremony:
 * `pkictl crl arl`) still tells the status of every certificate the root
 * issued (its issuing CAs, their responders). Until 2026-12-07 nothing
 * did: the root's OCSP answered a revoked issuing CA at once, but its ARL,
 * valid a year, went on not listing it, /health said root.crl was not
 * stale, and CRL-checking relying parties accepted what that CA had signed
 * until someone ran the ceremony. Behind: a revocation or hold the ARL has
 * not seen, or a release of a hold it lists (a hold and its release
 * between two ARLs leave it right). Then an error once per ARL served,
 * /health "arl_behind" (since: the oldest revocation or hold not listed,
 * or, for releases only, when this watch first saw one) and "degraded";
 * caught up, once. No ARL served yet: not judged (crld warns of that, and
 * answers 503 for it). Each round of the CA watch.
 */
static void
crld_watch_arl(struct crld *d)
{
	PGresult *res;
	const char *v[2];
	char id[24], num[24], since[32];
	long long number = crl_cache_number(d->cache, d->root.doc_full);
	long long n = 0;
	int i;

	if (number <= 0)
		return;
	snprintf(id, sizeof(id), "%lld", d->root.id);
	snprintf(num, sizeof(num), "%lld", number);
	v[0] = id;
	v[1] = num;
	if ((res = db_exec_bounded(d->watch_db, &stmt_arl_changes, v,
	    CRLD_WATCH_TIMEOUT_MS)) == NULL)
		return;		/* the next round tries again */
	since[0] = '\0';
	for (i = 0; i < PQntuples(res); i++) {
		if (*PQgetvalue(res, i, 1) == '\0' && crl_cache_lists(d->cache,
		    d->root.doc_full, PQgetvalue(res, i, 0)) == 0)
			continue;	/* released, not listed: right */
		if (n++ == 0)	/* the oldest first; releases last */
			snprintf(since, sizeof(since), "%s",
			    PQgetvalue(res, i, 1));
	}
	PQclear(res);
	if (n == 0) {
		if (d->arl_behind != 0) {
			crl_cache_arl_behind(d->cache, NULL, 0);
			log_info("the root's CRL served (ARL %lld) lists every "
			    "change of the certificates the root issued: "
			    "caught up", number);
		}
		d->arl_behind = 0;
		d->arl_since[0] = '\0';
		return;
	}
	if (d->arl_behind == number)
		return;		/* said already of this ARL */
	/* Releases only: when this watch first saw one. */
	if (since[0] == '\0')
		(void)time_iso8601(time(NULL), since, sizeof(since));
	log_err("the root's CRL served (ARL %lld) does not list %lld change(s) "
	    "of certificates the root issued (revocation, hold, release), the "
	    "oldest at %s: relying parties checking CRLs do not see them; sign "
	    "one now at a ceremony: `pkictl crl arl` (Baseline Requirements "
	    "§4.9.7: within 24 hours); /health says degraded (\"arl_behind\")",
	    number, n, since);
	d->arl_behind = number;
	snprintf(d->arl_since, sizeof(d->arl_since), "%s", since);
	crl_cache_arl_behind(d->cache, d->arl_since, number);
}

/*
 * Issuing CA i is past its grace (no longer in stmt_issuing_cas: its
 * notAfter more than crl.expired_grace_seconds ago, RFC 5280 §3.3 served):
 * as a start-up would, crld stops its thread, no longer serves its paths
 * (404, its last CRLs stay in crl_current and out_dir), says so in its log
 * and in /health ("ended"), and leaves the other CAs as they are. The
 * thread that also loads the root's ARL hands it to the next CA served
 * (restarted as when its key comes back). The last CA served is kept, with
 * a warning once: a restart would find none and refuse to start. Until
 * 2026-12-07 an ended CA was dropped only at the next start. Under d->mtx.
 * 1 when it was dropped.
 */
static int
crld_watch_end(struct crld *d, size_t i)
{
	char err[512];
	int docs[3];
	size_t k;

	for (k = 0; k < d->nissuing; k++)
		if (k != i && d->ended[k] != CRLD_ENDED)
			break;
	if (k == d->nissuing) {
		if (d->ended[i] != CRLD_ENDED_KEPT)
			log_warn("issuing CA %s is past its grace "
			    "(crl.expired_grace_seconds %ld s after its "
			    "notAfter) but is the last one crld serves: its "
			    "CRLs are still issued; a restart would refuse to "
			    "start (make a new issuing CA: `pkictl ca "
			    "issuing`)", d->issuing[i].name,
			    d->sched.expired_grace);
		d->ended[i] = CRLD_ENDED_KEPT;
		return 0;
	}
	crl_issuer_stop(d->issuers[i]);
	d->issuers[i] = NULL;
	d->ended[i] = CRLD_ENDED;
	d->key_retry[i] = 0;
	d->ca_status[i][0] = '\0';
	docs[0] = d->issuing[i].doc_full;
	docs[1] = d->issuing[i].doc_delta;
	docs[2] = d->issuing[i].doc_cert;
	(void)crl_cache_ended(d->cache, d->issuing[i].name, docs, 3);
	log_info("issuing CA %s ended: its notAfter is more than "
	    "crl.expired_grace_seconds (%ld s) past: its CRLs are no longer "
	    "issued or served (its last ones stay in crl_current and the "
	    "files)", d->issuing[i].name, d->sched.expired_grace);
	if (d->ic[i].root == NULL)
		return 1;
	/* The root's ARL is loaded by the next CA's thread from now on. */
	d->ic[i].root = NULL;
	d->ic[k].root = &d->root;
	crl_issuer_stop(d->issuers[k]);
	d->issuers[k] = NULL;
	if ((d->issuers[k] = crl_issuer_start(&d->ic[k], err,
	    sizeof(err))) == NULL)
		log_err("issuer %s: %s", d->issuing[k].name, err);
	else
		log_info("issuing CA %s: its thread loads the root's CRL now",
		    d->issuing[k].name);
	return 1;
}

/*
 * One round of the CA watch: the issuing CAs the database has now (as at
 * start-up: crld_load_issuing) against those served. Each new one is
 * taken (crld_watch_add) and crld-cas.json rewritten; a CA left out for
 * its key is tried again; a CA refused for good is not read again. Then
 * the served CAs' own certificates' status (crld_watch_ca_status). Two
 * queries a round (each bounded by CRLD_WATCH_TIMEOUT_MS), a certificate
 * read only for a new CA. A CA whose load fails is logged and tried again
 * at the next round; the others go on.
 */
static void
crld_watch_round(struct crld *d)
{
	const char *out_dir = crld_out_dir(d->cfg);
	struct cadb_ca c;
	PGresult *res = NULL;
	const char *v[1];
	char grace[24], err[512];
	long long id;
	size_t j;
	int i, changed = 0;

	memset(&c, 0, sizeof(c));
	/* /health's database state: this round's (crl_cache_db). */
	db_unavailable_clear();
	if (d->watch_db == NULL && (d->watch_db = db_connect(config_get(d->cfg,
	    "pg.crl_uri", NULL), err, sizeof(err))) == NULL) {
		(void)crl_cache_db(d->cache, &d->watch, 1);
		if (!d->watch_failed)
			log_warn("CA watch: database: %s (tried again every "
			    "%ld s)", err, d->sched.reconcile_interval);
		d->watch_failed = 1;
		return;
	}
	snprintf(grace, sizeof(grace), "%ld", d->sched.expired_grace);
	v[0] = grace;
	if ((res = db_exec_bounded(d->watch_db, &stmt_issuing_cas, v,
	    CRLD_WATCH_TIMEOUT_MS)) == NULL) {
		(void)crl_cache_db(d->cache, &d->watch, db_unavailable());
		if (!d->watch_failed)
			log_warn("CA watch: the list of issuing CAs could not "
			    "be read (tried again every %ld s)",
			    d->sched.reconcile_interval);
		d->watch_failed = 1;
		return;
	}
	d->watch_failed = 0;
	pthread_mutex_lock(&d->mtx);
	for (i = 0; i < PQntuples(res); i++) {
		id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		for (j = 0; j < d->nissuing; j++)
			if (d->issuing[j].id == id)
				break;
		if (j < d->nissuing || crld_watch_refused(d, id))
			continue;
		cadb_clear(&c);
		if (cadb_load(d->watch_db, PQgetvalue(res, i, 1), &c) != 0) {
			log_err("CA watch: issuing CA %s could not be read",
			    PQgetvalue(res, i, 1));
			continue;
		}
		if (crld_watch_add(d, &c) == 0)
			changed = 1;
	}
	/* Served and no longer listed: past its grace. */
	for (j = 0; j < d->nissuing; j++) {
		if (d->ended[j] == CRLD_ENDED)
			continue;
		i = crld_row_of(res, d->issuing[j].id);
		if (i == PQntuples(res) && crld_watch_end(d, j))
			changed = 1;
	}
	for (j = 0; j < d->nissuing; j++)
		if (d->key_retry[j] && d->issuers[j] != NULL)
			crld_watch_retry_key(d, j);
	pthread_mutex_unlock(&d->mtx);
	/* Only this thread adds issuing CAs: read without the mutex. */
	crld_watch_ca_status(d);
	crld_watch_arl(d);
	(void)crl_cache_db(d->cache, &d->watch, db_unavailable());
	if (changed && out_dir != NULL)
		(void)crld_save_cas(d, out_dir);
	cadb_clear(&c);
	PQclear(res);
}

/*
 * The CA watch's thread: a round at start, every
 * crl.reconcile_interval_seconds, and at each SIGHUP (crld_hup). Until
 * 2026-12-06 crld read the issuing CAs at start-up only: one made by
 * `pkictl ca issuing` had no CRL, and its distribution point answered 404,
 * until crld was restarted.
 */
static void *
crld_watch_main(void *arg)
{
	struct crld *d = arg;
	struct pollfd pfd;

	while (!crl_thread_stopping(&d->watch)) {
		crld_watch_round(d);
		pfd.fd = d->watch.wake[0];
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, (int)(d->sched.reconcile_interval * 1000)) ==
		    -1 && errno != EINTR)
			log_warn("CA watch: poll: %s", strerror(errno));
		crl_thread_drain(&d->watch);
	}
	(void)crl_cache_db(d->cache, &d->watch, 0);
	db_close(d->watch_db);
	d->watch_db = NULL;
	return NULL;
}

/*
 * SIGHUP: a base CRL of each issuing CA now, and the list of issuing CAs
 * read again (daemon_wait's hook).
 */
static void
crld_hup(void *arg)
{
	struct crld *d = arg;
	size_t i;

	log_info("SIGHUP: issuing a base CRL now");
	pthread_mutex_lock(&d->mtx);
	for (i = 0; i < d->nissuing; i++)
		if (d->issuers[i] != NULL)
			crl_issuer_kick(d->issuers[i]);
	pthread_mutex_unlock(&d->mtx);
	if (d->watching)
		crl_thread_wake(&d->watch);
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
	struct http_server *srv = NULL;
	struct http_limits lim;
	const char *path = getenv("PKI_CONFIG"), *s, *readable[1];
	char err[512], policy_path[PATH_MAX];
	long port, max_age;
	sigset_t sigs;
	size_t i;
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
	if (pthread_mutex_init(&d.mtx, NULL) != 0)
		return 1;
	log_init("crl", LOGL_INFO, stderr);
	if (sandbox_no_dumps(err, sizeof(err)) == -1) {
		log_err("%s", err);
		return 1;
	}
	if (http_take_inherited_socket(err, sizeof(err)) == -1) {
		log_err("%s", err);
		return 1;
	}
	if ((d.cfg = config_load(path, err, sizeof(err))) == NULL) {
		log_err("%s", err);
		return 1;
	}
	if (log_init_level("crl", config_get(d.cfg, "log.level", NULL)) == -1)
		goto out;
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

	/*
	 * The signer: the issuing CAs' token, TBSCertLists with their keys
	 * only (crld_grant). A CA it cannot sign for is left out of signing,
	 * the others go on (crld_check_keys).
	 */
	memset(&sc, 0, sizeof(sc));
	if (signer_config_add_token(&sc, d.cfg, "ca") == -1 ||
	    crld_grant(&d, &sc) == -1)
		goto out;
	/* No CRL of ours is valid longer than a base: nor one it signs. */
	sc.crl_max_validity_s = d.ic[0].full.next_update;
	sc.sandbox_section = "crl";
	daemon_block_signals(&sigs);
	if ((d.signer = signer_spawn(&sc, err, sizeof(err))) == NULL) {
		log_err("signer: %s", err);
		goto out;
	}
	for (i = 0; i < d.nissuing; i++)
		d.ic[i].signer = d.signer;
	if (crld_check_keys(&d, d.signer) == -1)
		goto out;
	/* CRL files are 0644 without fchmod, which the filter refuses. */
	umask(022);
	/*
	 * Before the first thread: files written only as CRLs, read only
	 * there, in the system's directories and the LDAP password file
	 * (read at each publication): not the database's or the tokens'.
	 */
	readable[0] = d.ic[0].ldap.bind_pw_file;
	if (daemon_limit_files(d.cfg, "crl", "crld", &d.ic[0].full.out_dir, 1,
	    readable, 1, config_get(d.cfg, "pg.crl_uri", NULL)) == -1)
		goto out;
	if (once) {
		rc = 0;
		for (i = 0; i < d.nissuing; i++)
			if (crl_issue_once(&d.ic[i]) == -1)
				rc = 1;
		goto out;
	}
	memset(&lim, 0, sizeof(lim));
	/* Behind a reverse proxy: the client from X-Forwarded-For (lib/proxy.h). */
	lim.trusted_proxies = config_get(d.cfg, "crl.trusted_proxies", NULL);
	lim.max_body = 1024;	/* GETs carry no body */
	lim.body_deadline_s = 5;	/* nor any wait for one */
	lim.threads = 2;
	/*
	 * Bound as root; then demoted and filtered before any thread: MHD's,
	 * the publisher's and the issuers' all start inside the sandbox.
	 */
	if ((srv = http_listen(config_get(d.cfg, "crl.listen", "127.0.0.1"),
	    (uint16_t)port, &lim, crl_serve, d.cache, err, sizeof(err))) ==
	    NULL) {
		log_err("http: %s", err);
		goto out;
	}
	crld_demote(d.cfg, insecure);
	crld_seccomp(insecure);
	/* Untrusted DER, parsed only now (STYLE.md §5). */
	crld_serve_files(&d, db_down);
	if (http_serve(srv, err, sizeof(err)) == -1) {
		log_err("http: %s", err);
		goto out;
	}
	/* The publisher first: the issuers kick it after each CRL. */
	if (d.ic[0].ldap_enabled && (d.publisher = crl_publisher_start(&d.ic[0],
	    err, sizeof(err))) == NULL) {
		log_err("publisher: %s", err);
		goto out;
	}
	for (i = 0; i < d.nissuing; i++) {
		d.ic[i].publisher = d.publisher;
		if ((d.issuers[i] = crl_issuer_start(&d.ic[i], err,
		    sizeof(err))) == NULL) {
			log_err("issuer %s: %s", d.issuing[i].name, err);
			goto out;
		}
	}
	log_info("serving CRLs on %s (issuer %s, key %s, %s)%s",
	    http_where(srv), d.issuing[0].name, d.issuing[0].key_label,
	    d.issuing[0].url, db_down ? "; database down: the files' CRLs "
	    "until it answers" : "");
	for (i = 1; i < d.nissuing; i++)
		log_info("serving CRLs of issuer %s too (key %s, %s)",
		    d.issuing[i].name, d.issuing[i].key_label,
		    d.issuing[i].url);
	/* Last: it may start issuers of its own. */
	if (crl_thread_start(&d.watch, "crl-watch", crld_watch_main, &d, err,
	    sizeof(err)) == -1) {
		log_err("CA watch: %s", err);
		goto out;
	}
	d.watching = 1;
	rc = daemon_wait(&sigs, crld_hup, &d);
out:
	http_stop(srv);
	/*
	 * The CA watch first, which starts issuers; then the issuers, which
	 * kick the publisher; then the publisher, which may first wait out an
	 * LDAP call's time-out (crl/extern.h).
	 */
	if (d.watching)
		crl_thread_stop(&d.watch);
	for (i = 0; i < CRL_MAX_ISSUING; i++)
		crl_issuer_stop(d.issuers[i]);
	crl_publisher_stop(d.publisher);
	signer_close(d.signer);
	crl_cache_free(d.cache);
	for (i = 0; i < CRL_MAX_ISSUING; i++)
		X509_free(d.issuing[i].cert);
	X509_free(d.root.cert);
	config_free(d.policy);
	config_free(d.cfg);
	pthread_mutex_destroy(&d.mtx);
	return rc;
}
