/*
 * The CA key ceremony (`pkictl ca init`): generates every CA key inside its
 * own token, builds the hierarchy from policy/ profiles, checks it, and
 * records it in PostgreSQL with its audit events in one transaction.
 *
 * Process model: pkictl forks a signer (hsm/signer.h) that alone loads the
 * PKCS#11 module and logs in to the root, CA, OCSP and TSA tokens; it may
 * generate keys (ceremonies only) and sign TBSCertificates with the root and
 * issuing CA keys, nothing else. This process builds certificates and talks
 * to PostgreSQL and LDAP; it never holds a PIN.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "ca/extern.h"
#include "hsm/signer.h"
#include "lib/audit.h"
#include "lib/cadb.h"
#include "lib/config.h"
#include "lib/db.h"
#include "lib/log.h"

/* One key and certificate of the hierarchy. */
struct ca_member {
	const char	*name;		/* ca_certificate.name and NAME.pem */
	const char	*role;		/* ca_key.role */
	const char	*token_role;	/* which hsm.<role>_token holds the key */
	const char	*key_label;
	const char	*profile;	/* policy/profiles/<profile>.cnf */
	int		 issuer;	/* index of the issuer in the table; self for root */
	int		 x509_purpose;	/* checked against the root at the end */
	int		 ldap;		/* published as cACertificate */

	struct profile	*prof;
	const char	*token_label;
	EVP_PKEY	*pub;
	X509		*cert;
	long long	 key_id;
	long long	 cert_id;
};

enum { M_ROOT, M_ISSUING, M_OCSP_ROOT, M_OCSP_ISSUING, M_TSA, M_COUNT };

static const struct ca_member ca_members_template[M_COUNT] = {
	{ "root", "root", "root", CA_KEY_ROOT, "root", M_ROOT,
	    X509_PURPOSE_ANY, 1, NULL, NULL, NULL, NULL, 0, 0 },
	{ "issuing", "issuing", "ca", CA_KEY_ISSUING, "issuing-ca", M_ROOT,
	    X509_PURPOSE_ANY, 1, NULL, NULL, NULL, NULL, 0, 0 },
	{ "ocsp-root", "ocsp", "ocsp", CA_KEY_OCSP_ROOT, "ocsp-responder", M_ROOT,
	    X509_PURPOSE_OCSP_HELPER, 0, NULL, NULL, NULL, NULL, 0, 0 },
	{ "ocsp-issuing", "ocsp", "ocsp", CA_KEY_OCSP_ISSUING, "ocsp-responder",
	    M_ISSUING, X509_PURPOSE_OCSP_HELPER, 0, NULL, NULL, NULL, NULL, 0, 0 },
	{ "tsa", "tsa", "tsa", CA_KEY_TSA, "tsa", M_ISSUING,
	    X509_PURPOSE_TIMESTAMP_SIGN, 0, NULL, NULL, NULL, NULL, 0, 0 },
};

struct ceremony {
	const struct config	*cfg;
	const char		*actor;
	struct ca_member	 m[M_COUNT];
};

/* The CN of a certificate, for naming the OCSP responder after its issuer. */
static int
ceremony_cn(X509 *x, char *out, size_t outlen)
{
	return X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	    NID_commonName, out, (int)outlen) > 0 ? 0 : -1;
}

/*
 * Checks one certificate as a relying party would, against the root in
 * store with the issuing CA in untrusted: its chain and its purpose; one
 * that is not a CA (is_ca 0) must not say it is.
 */
static int
ceremony_check_cert(X509_STORE *store, STACK_OF(X509) *untrusted, X509 *cert,
    int purpose, int is_ca, const char *name)
{
	X509_STORE_CTX *ctx;
	int rc = -1;

	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(ctx, store, cert, untrusted) != 1)
		goto out;
	X509_STORE_CTX_set_purpose(ctx, purpose);
	if (X509_verify_cert(ctx) != 1) {
		log_err("ceremony: %s certificate does not verify against the "
		    "root: %s", name, X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	if (!is_ca && X509_check_ca(cert) != 0) {
		log_err("ceremony: %s certificate is a CA", name);
		goto out;
	}
	rc = 0;
out:
	X509_STORE_CTX_free(ctx);
	return rc;
}

/* A store trusting root, and the issuing CA as the untrusted chain. */
static int
ceremony_store(X509 *root, X509 *issuing, X509_STORE **store,
    STACK_OF(X509) **untrusted)
{
	if ((*store = X509_STORE_new()) == NULL ||
	    X509_STORE_add_cert(*store, root) != 1 ||
	    (*untrusted = sk_X509_new_null()) == NULL ||
	    (issuing != NULL && sk_X509_push(*untrusted, issuing) == 0)) {
		log_err("ceremony: out of memory");
		return -1;
	}
	return 0;
}

/* Checks the finished hierarchy as a relying party would: chains and purposes. */
static int
ceremony_verify(struct ceremony *c)
{
	X509_STORE *store = NULL;
	STACK_OF(X509) *untrusted = NULL;
	int i, rc = -1;

	if (ceremony_store(c->m[M_ROOT].cert, c->m[M_ISSUING].cert, &store,
	    &untrusted) == -1)
		goto out;
	for (i = 0; i < M_COUNT; i++)
		if (ceremony_check_cert(store, untrusted, c->m[i].cert,
		    c->m[i].x509_purpose, i == M_ROOT || i == M_ISSUING,
		    c->m[i].name) == -1)
			goto out;
	rc = 0;
out:
	sk_X509_free(untrusted);
	X509_STORE_free(store);
	return rc;
}

/* Everything the ceremony records, in one transaction (retried as a whole). */
static int
ceremony_record(struct db *db, void *arg)
{
	struct ceremony *c = arg;
	static const struct db_stmt stmt_done = { "ca_ceremony_insert",
		"INSERT INTO ca_ceremony (kind, operator) VALUES ('init', $1) "
		"RETURNING id", 1 };
	const char *values[1];
	PGresult *res;
	json_t *details = NULL;
	struct ca_member *m;
	char idbuf[32];
	long long issued_id;
	int i, rc = -1;

	for (i = 0; i < M_COUNT; i++) {
		m = &c->m[i];
		if (certstore_add_key(db, c->actor, m->role, m->token_label,
		    m->key_label, profile_keytype(m->prof), m->pub, &m->key_id) == -1)
			goto out;
	}
	for (i = 0; i < M_COUNT; i++) {
		m = &c->m[i];
		if (certstore_add_cert(db, c->actor, m->name, m->role, m->key_id,
		    i == M_ROOT ? -1 : c->m[m->issuer].cert_id, m->cert,
		    &m->cert_id) == -1)
			goto out;
		if (m->ldap && certstore_queue_ldap(db, c->cfg, c->actor, m->cert,
		    "cACertificate;binary") == -1)
			goto out;
		/* Its issuer answers for it in OCSP and CRLs, as for any certificate. */
		if (i != M_ROOT && certstore_add_issued(db, c->actor,
		    c->m[m->issuer].cert_id, m->profile, m->cert, &issued_id) == -1)
			goto out;
	}
	values[0] = c->actor;
	if ((res = db_exec(db, &stmt_done, values, NULL, NULL)) == NULL)
		goto out;
	snprintf(idbuf, sizeof(idbuf), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	details = json_pack("{s:s, s:s, s:s, s:s}", "root", CA_KEY_ROOT,
	    "issuing", CA_KEY_ISSUING, "ocsp", CA_KEY_OCSP_ISSUING, "tsa", CA_KEY_TSA);
	if (details == NULL || audit_append(db, c->actor, "ca.init", "ca_ceremony",
	    idbuf, details, NULL) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	return rc;
}

/* The signer this ceremony needs: four tokens, keygen, and CERT with the two CA keys. */
static int
ceremony_signer_config(const struct config *cfg, struct signer_config *sc)
{
	static const char *const roles[] = { "root", "ca", "ocsp", "tsa" };
	size_t i;

	memset(sc, 0, sizeof(*sc));
	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		if (signer_config_add_token(sc, cfg, roles[i]) == -1)
			return -1;
	}
	if (signer_config_grant(sc, SIGNER_KIND_CERT, CA_KEY_ROOT) == -1 ||
	    signer_config_grant(sc, SIGNER_KIND_CERT, CA_KEY_ISSUING) == -1)
		return -1;
	sc->allow_keygen = 1;
	return 0;
}

/*
 * A failed ceremony's keys, for its audit event: {token, label,
 * spki_sha256, destroyed} appended to keys (a JSON array).
 */
static void
ceremony_key_note(json_t *keys, const char *token, const char *label,
    EVP_PKEY *pub, int destroyed)
{
	unsigned char *spki = NULL;
	char fp[65] = "";
	int len;

	if (keys == NULL)
		return;
	if (pub != NULL && (len = i2d_PUBKEY(pub, &spki)) > 0)
		certstore_sha256_hex(spki, (size_t)len, fp);
	OPENSSL_free(spki);
	(void)json_array_append_new(keys, json_pack("{s:s, s:s, s:s, s:b}",
	    "token", token, "label", label, "spki_sha256", fp, "destroyed",
	    destroyed));
}

struct ceremony_failure {
	const char	*actor;
	const char	*command;	/* "init", "responder", "tsa", "issuing" */
	json_t		*keys;
};

static int
ceremony_failure_record(struct db *db, void *arg)
{
	const struct ceremony_failure *f = arg;

	return audit_append_new(db, f->actor, "ca.ceremony.fail",
	    "ca_ceremony", f->command, json_pack("{s:s, s:O}", "command",
	    f->command, "keys", f->keys));
}

/*
 * A ceremony that failed after it generated keys leaves an audit event in
 * a transaction of its own (`ca.ceremony.fail`: the keys, whether each was
 * destroyed), so that the sealed trail accounts for every key a CA token
 * held, even for a moment. When the database is what failed, the log is
 * all there is.
 */
static void
ceremony_failure_audit(struct db *db, const char *actor, const char *command,
    json_t *keys)
{
	struct ceremony_failure f = { actor, command, keys };

	if (db == NULL || keys == NULL || json_array_size(keys) == 0)
		return;
	if (db_transaction(db, NULL, 1, ceremony_failure_record, &f) == -1)
		log_err("%s: its failure could not be audited (ca.ceremony.fail); "
		    "the log above is the record of the keys it generated",
		    command);
}

/*
 * A ceremony that failed before its COMMIT takes back the first ngen keys it
 * generated, newest first, so that running it again finds clean tokens, and
 * audits that.
 */
static void
ceremony_undo(struct signer *signer, struct db *db, struct ceremony *c,
    int ngen)
{
	struct ca_member *m;
	json_t *keys = json_array();
	char err[512];
	int destroyed;

	while (ngen-- > 0) {
		m = &c->m[ngen];
		destroyed = signer_unkeygen(signer, m->token_label, m->key_label,
		    profile_keytype(m->prof), err, sizeof(err)) == 0;
		if (!destroyed)
			log_err("ceremony: could not destroy key %s in token %s: "
			    "%s; delete it (or re-create the token) before the "
			    "next ceremony", m->key_label, m->token_label, err);
		else
			log_info("ceremony: failed, so key %s in token %s was "
			    "destroyed", m->key_label, m->token_label);
		ceremony_key_note(keys, m->token_label, m->key_label, m->pub,
		    destroyed);
	}
	ceremony_failure_audit(db, c->actor, "init", keys);
	json_decref(keys);
}

int
ceremony_init(const struct config *cfg, const char *actor)
{
	struct ceremony c;
	struct signer_config sc;
	struct signer *signer = NULL;
	struct db *db = NULL;
	EVP_PKEY *signing[M_COUNT] = { NULL };
	const char *policy_dir, *out_dir;
	char err[512], when[64], cn[128], xid[PKICTL_XID_MAX];
	struct ca_member *m;
	int i, n, pending, ngen = 0, committed = 0, rc = PKICTL_EXIT_FAIL;

	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	c.actor = actor;
	memcpy(c.m, ca_members_template, sizeof(c.m));
	policy_dir = config_get(cfg, "pki.policy_dir", "policy");
	out_dir = config_get(cfg, "pki.out_dir", NULL);
	if (out_dir == NULL) {
		log_err("config: pki.out_dir missing");
		goto out;
	}
	if ((db = pkictl_db(cfg)) == NULL)
		goto out;
	if ((n = pkictl_keygen_lock(db, "ceremony")) != 0) {
		if (n == 1)
			rc = PKICTL_EXIT_REFUSED;
		goto out;
	}
	switch (certstore_initialized(db, when, sizeof(when))) {
	case 1:
		fprintf(stderr, "pkictl: refusing: the CA hierarchy was already "
		    "initialized at %s; a second ceremony would make a second root. "
		    "See `pkictl ca status`.\n", when);
		rc = PKICTL_EXIT_REFUSED;
		goto out;
	case 0:
		break;
	default:
		goto out;
	}
	/* Everything that can fail without touching the HSM fails first. */
	for (i = 0; i < M_COUNT; i++) {
		m = &c.m[i];
		if ((m->prof = profile_load(policy_dir, m->profile,
		    c.m[m->issuer].name, cfg, err, sizeof(err))) == NULL) {
			log_err("%s", err);
			goto out;
		}
		if (pkictl_signer_token(cfg, m->token_role, &m->token_label,
		    NULL) == -1)
			goto out;
	}
	if (ceremony_signer_config(cfg, &sc) == -1)
		goto out;
	if ((signer = signer_spawn(&sc, err, sizeof(err))) == NULL) {
		log_err("ceremony: signer: %s", err);
		goto out;
	}
	for (i = 0; i < M_COUNT; i++) {
		m = &c.m[i];
		if (signer_keygen(signer, m->token_label, m->key_label,
		    profile_keytype(m->prof), &m->pub, err, sizeof(err)) == -1) {
			log_err("ceremony: key %s in token %s: %s (a key left by a "
			    "ceremony that was killed must be deleted, or its "
			    "token re-created)", m->key_label, m->token_label, err);
			goto out;
		}
		ngen = i + 1;
		log_info("ceremony: generated %s key %s in token %s",
		    profile_keytype(m->prof), m->key_label, m->token_label);
	}
	if ((signing[M_ROOT] = signer_pkey(signer, SIGNER_KIND_CERT, CA_KEY_ROOT,
	    err, sizeof(err))) == NULL ||
	    (signing[M_ISSUING] = signer_pkey(signer, SIGNER_KIND_CERT,
	    CA_KEY_ISSUING, err, sizeof(err))) == NULL) {
		log_err("ceremony: signing key: %s", err);
		goto out;
	}
	/* Table order is issuance order: every issuer precedes its subjects. */
	for (i = 0; i < M_COUNT; i++) {
		m = &c.m[i];
		cn[0] = '\0';
		if (strcmp(m->role, "ocsp") == 0 &&
		    ceremony_cn(c.m[m->issuer].cert, cn, sizeof(cn)) == -1)
			goto out;
		m->cert = profile_issue(m->prof, NULL, m->pub, cn[0] != '\0' ? cn : NULL,
		    i == M_ROOT ? NULL : c.m[m->issuer].cert,
		    signing[m->issuer], err, sizeof(err));
		if (m->cert == NULL) {
			log_err("ceremony: %s certificate: %s", m->name, err);
			goto out;
		}
	}
	if (ceremony_verify(&c) == -1)
		goto out;
	if (pkictl_transaction(db, "SERIALIZABLE", 3, ceremony_record, &c,
	    xid) == -1) {
		/*
		 * A COMMIT whose answer was lost (the connection cut after the
		 * server committed) looks the same: ask before the keys are
		 * destroyed (did this run's transaction commit, or may it
		 * still?), and keep them when the answer is yes or none.
		 */
		switch (pkictl_xact_committed(cfg, xid)) {
		case 0:
			log_err("ceremony: recording the hierarchy failed; "
			    "nothing was committed");
			break;
		case 1:
			committed = 1;
			log_err("ceremony: the database recorded the hierarchy "
			    "although its answer to COMMIT was lost; the keys "
			    "are kept. Check `pkictl ca status`, then run "
			    "`pkictl ca export` and `pkictl publish`");
			break;
		default:
			committed = 1;
			log_err("ceremony: recording the hierarchy failed and "
			    "the database cannot tell whether it committed: "
			    "the keys are kept. Once it answers, `pkictl ca "
			    "status` tells; if the CA is not initialized, "
			    "delete the keys (`pkictl key list`) and run the "
			    "ceremony again");
			break;
		}
		goto out;
	}
	committed = 1;	/* the keys are the CA's now, whatever follows */
	if (certstore_export(db, out_dir) == -1) {
		log_err("ceremony: committed, but writing %s failed; run "
		    "`pkictl ca export`", out_dir);
		goto out;
	}
	if ((pending = certstore_publish(db, cfg, actor)) != 0)
		log_warn("ceremony: %d LDAP publication(s) pending; `pkictl "
		    "publish` retries", pending);
	printf("CA hierarchy initialized; certificates in %s\n", out_dir);
	rc = PKICTL_EXIT_OK;
out:
	if (!committed && ngen > 0)
		ceremony_undo(signer, db, &c, ngen);
	for (i = 0; i < M_COUNT; i++) {
		EVP_PKEY_free(signing[i]);
		EVP_PKEY_free(c.m[i].pub);
		X509_free(c.m[i].cert);
		profile_free(c.m[i].prof);
	}
	signer_close(signer);
	db_close(db);
	return rc;
}

/*
 * The next key and certificate of a role whose certificates end before
 * their issuer's: `pkictl ca responder --issuer NAME` (the delegated OCSP
 * responder of the root or the issuing CA; 90 days, ocspd warns 14 days
 * before the end: ocsp/README.md "Responder certificates") and `pkictl ca
 * tsa` (the TSA's, from the issuing CA; 5 years, tsad warns 30 days
 * before). A new key in the role's token, labelled, and the certificate
 * named, PREFIX-N: N one more than the certificates of that role (and
 * issuer) so far, as the ceremony's are PREFIX-less (ocsp-NAME, tsa) with
 * key PREFIX-1. Its certificate comes from the role's profile, signed by
 * the issuer's key (the root's only here, at a ceremony, as for the ARL),
 * is checked against the root for its purpose, then recorded with its
 * audit events in one transaction. The daemon takes the newest valid one
 * at its next start.
 */
struct next_kind {
	const char	*command;	/* for messages: "responder", "tsa" */
	const char	*noun;		/* "responder certificate ..." */
	const char	*role;		/* ca_key.role and ca_certificate.role */
	const char	*token_role;	/* hsm.<token_role>_token */
	const char	*profile;
	int		 purpose;
	int		 named_after_issuer;	/* CN: the issuer's, as the ceremony */
	const char	*daemon;
	/* The issuer's role; NULL: root or issuing. */
	const char	*issuer_role;
	/*
	 * 1: a CA (`pkictl ca issuing`): published to LDAP as cACertificate,
	 * its CN numbered (ceremony_numbered_subject), checked as a CA.
	 */
	int		 is_ca;
};

static const struct next_kind next_responder = { "responder", "responder",
	"ocsp", "ocsp", "ocsp-responder", X509_PURPOSE_OCSP_HELPER, 1, "ocspd",
	NULL, 0 };
static const struct next_kind next_tsa = { "tsa", "TSA", "tsa", "tsa", "tsa",
	X509_PURPOSE_TIMESTAMP_SIGN, 0, "tsad", "issuing", 0 };
static const struct next_kind next_issuing = { "issuing", "issuing CA",
	"issuing", "ca", "issuing-ca", X509_PURPOSE_ANY, 0,
	"cad (with cad.issuer naming it), crld and ocspd (once it has a "
	"responder: `pkictl ca responder --issuer NAME`)", "root", 1 };

struct next_cert {
	const struct next_kind	*kind;
	const struct config	*cfg;
	const char		*actor;
	struct cadb_ca		 issuer;
	const char		*token;		/* where the new key goes */
	char			 label[SIGNER_LABEL_MAX + 1];	/* key and certificate */
	const char		*keytype;
	EVP_PKEY		*pub;
	X509			*cert;
};

static int
next_record(struct db *db, void *arg)
{
	struct next_cert *r = arg;
	long long key_id, cert_id, issued_id;
	char action[32], *serial = NULL;
	json_t *details = NULL;
	int rc = -1;

	if (certstore_add_key(db, r->actor, r->kind->role, r->token, r->label,
	    r->keytype, r->pub, &key_id) == -1 ||
	    certstore_add_cert(db, r->actor, r->label, r->kind->role, key_id,
	    r->issuer.id, r->cert, &cert_id) == -1 ||
	    certstore_add_issued(db, r->actor, r->issuer.id, r->kind->profile,
	    r->cert, &issued_id) == -1 ||
	    (serial = certstore_serial_hex(r->cert)) == NULL)
		goto out;
	/* A CA's certificate goes to its directory entry, as the ceremony's. */
	if (r->kind->is_ca && certstore_queue_ldap(db, r->cfg, r->actor,
	    r->cert, "cACertificate;binary") == -1)
		goto out;
	/* The key is named the same (its ca.key.generate event says so). */
	snprintf(action, sizeof(action), "ca.%s", r->kind->command);
	if ((details = json_pack("{s:s, s:s, s:s}", "issuer", r->issuer.name,
	    "certificate", r->label, "serial", serial)) != NULL)
		rc = audit_append(db, r->actor, action, "ca_certificate",
		    r->label, details, NULL);
out:
	json_decref(details);
	OPENSSL_free(serial);
	return rc;
}

/*
 * The next free number of the role's certificates: of the issuer's when
 * they are named after it (ocsp-NAME-N), else of all issuers' (tsa-N,
 * issuing-N: one name space). -1 on error.
 */
static int
next_number(struct db *db, const struct next_cert *r)
{
	static const struct db_stmt stmt = { "ca_next_count",
		"SELECT count(*) + 1 FROM ca_certificate WHERE role = $1 "
		"AND ($2::bigint IS NULL OR issuer_id = $2::bigint)", 2 };
	const char *values[2];
	char id[32];
	PGresult *res;
	int n;

	snprintf(id, sizeof(id), "%lld", r->issuer.id);
	values[0] = r->kind->role;
	values[1] = r->kind->named_after_issuer ? id : NULL;
	if ((res = db_exec(db, &stmt, values, NULL, NULL)) == NULL)
		return -1;
	n = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

/*
 * The subject of a renewed CA: the profile's, its CN numbered n ("PKI
 * Local Issuing CA 1" becomes "PKI Local Issuing CA 2": a trailing number
 * replaced, or " n" appended), so that relying parties, the directory
 * (cn=<CN>,<ldap.base>) and the issuer names of certificates tell the CAs
 * apart. NULL with err. Free with X509_NAME_free().
 */
static X509_NAME *
ceremony_numbered_subject(const struct profile *prof, int n, char *err,
    size_t errlen)
{
	X509_NAME *name = NULL, *ret = NULL;
	X509_NAME_ENTRY *e;
	char cn[128], next[160];
	size_t len;
	int i;

	if ((name = profile_subject_name(prof, err, errlen)) == NULL)
		goto out;
	if ((i = X509_NAME_get_index_by_NID(name, NID_commonName, -1)) < 0 ||
	    X509_NAME_get_text_by_NID(name, NID_commonName, cn,
	    (int)sizeof(cn)) <= 0) {
		snprintf(err, errlen, "profile %s: no CN in its subject",
		    profile_name(prof));
		goto out;
	}
	len = strlen(cn);
	while (len > 0 && cn[len - 1] >= '0' && cn[len - 1] <= '9')
		len--;
	if (len == strlen(cn) || len == 0 || cn[len - 1] != ' ')
		len = strlen(cn);	/* no trailing " <number>": append */
	else
		len--;
	snprintf(next, sizeof(next), "%.*s %d", (int)len, cn, n);
	if (strlen(next) > 64) {
		snprintf(err, errlen, "CN \"%s\" longer than 64 characters "
		    "(RFC 5280 ub-common-name)", next);
		goto out;
	}
	e = X509_NAME_delete_entry(name, i);
	X509_NAME_ENTRY_free(e);
	if (X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)next, -1, i, 0) != 1) {
		snprintf(err, errlen, "CN \"%s\" refused", next);
		goto out;
	}
	ret = name;
	name = NULL;
out:
	X509_NAME_free(name);
	return ret;
}

/* The name of a CA certificate with this subject, into out; 1, 0 if none, -1. */
static int
next_subject_taken(struct db *db, const X509_NAME *subject, char *out,
    size_t outlen)
{
	static const struct db_stmt stmt = { "ca_next_subject_taken",
		"SELECT name FROM ca_certificate WHERE subject = $1 LIMIT 1", 1 };
	const char *values[1];
	char *text;
	PGresult *res;
	int n;

	if ((text = cadb_name_text(subject, 0)) == NULL)
		return -1;
	values[0] = text;
	res = db_exec(db, &stmt, values, NULL, NULL);
	free(text);
	if (res == NULL)
		return -1;
	if ((n = PQntuples(res) > 0))
		snprintf(out, outlen, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

/* Issuing CAs not ended yet (crld serves each: CADB_MAX_ISSUING); -1. */
static int
next_live_issuing(struct db *db)
{
	static const struct db_stmt stmt = { "ca_next_live_issuing",
		"SELECT count(*) FROM ca_certificate WHERE role = 'issuing' "
		"AND not_after > now()", 0 };
	PGresult *res;
	int n;

	if ((res = db_exec(db, &stmt, NULL, NULL, NULL)) == NULL)
		return -1;
	n = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

static int
ceremony_next(const struct config *cfg, const char *actor,
    const struct next_kind *kind, const char *issuer_name)
{
	const char *cmd = kind->command;
	struct next_cert r;
	struct cadb_ca root;
	struct signer_config sc;
	struct signer *signer = NULL;
	struct db *db = NULL;
	struct profile *prof = NULL;
	EVP_PKEY *signing = NULL;
	X509_STORE *store = NULL;
	STACK_OF(X509) *untrusted = NULL;
	X509_NAME *subject = NULL;
	const char *out_dir, *token_role, *token;
	char err[512], when[64], cn[128] = "", taken[64], xid[PKICTL_XID_MAX];
	int n, live, pending, generated = 0, committed = 0, destroyed;
	int rc = PKICTL_EXIT_FAIL;
	json_t *keys = NULL;

	memset(&r, 0, sizeof(r));
	memset(&root, 0, sizeof(root));
	r.kind = kind;
	r.cfg = cfg;
	r.actor = actor;
	if ((out_dir = config_get(cfg, "pki.out_dir", NULL)) == NULL) {
		log_err("config: pki.out_dir missing");
		goto out;
	}
	if ((db = pkictl_db(cfg)) == NULL)
		goto out;
	/* Held to the end: the label picked below is free until recorded. */
	if ((n = pkictl_keygen_lock(db, cmd)) != 0) {
		if (n == 1)
			rc = PKICTL_EXIT_REFUSED;
		goto out;
	}
	if ((n = certstore_initialized(db, when, sizeof(when))) != 1) {
		if (n == 0)
			log_err("the CA hierarchy is not initialized: run "
			    "`pkictl ca init`");
		goto out;
	}
	if ((n = cadb_load(db, issuer_name, &r.issuer)) != 0 ||
	    (strcmp(r.issuer.role, "root") != 0 &&
	    strcmp(r.issuer.role, "issuing") != 0) ||
	    (kind->issuer_role != NULL &&
	    strcmp(r.issuer.role, kind->issuer_role) != 0)) {
		if (n != -1 && kind->issuer_role != NULL)
			log_err("no %s CA named %s (pkictl ca status)",
			    kind->issuer_role, issuer_name);
		else if (n != -1)
			log_err("no root or issuing CA named %s (pkictl ca "
			    "status)", issuer_name);
		goto out;
	}
	/* The issuer's key is in the token of role root or ca: the config must agree. */
	token_role = strcmp(r.issuer.role, "root") == 0 ? "root" : "ca";
	if (pkictl_signer_token(cfg, token_role, &token, NULL) == -1 ||
	    pkictl_signer_token(cfg, kind->token_role, &r.token, NULL) == -1)
		goto out;
	if (strcmp(token, r.issuer.token) != 0) {
		log_err("hsm.%s_token is %s but the key of %s is in token %s",
		    token_role, token, r.issuer.name, r.issuer.token);
		goto out;
	}
	if (cadb_load(db, "root", &root) != 0)
		goto out;
	/* 1: an issuer without one yet (a renewed issuing CA's responder). */
	if ((n = next_number(db, &r)) < 1)
		goto out;
	if (kind->named_after_issuer)
		snprintf(r.label, sizeof(r.label), "%s-%s-%d", kind->role,
		    r.issuer.name, n);
	else
		snprintf(r.label, sizeof(r.label), "%s-%d", kind->role, n);
	if ((prof = profile_load(config_get(cfg, "pki.policy_dir", "policy"),
	    kind->profile, r.issuer.name, cfg, err, sizeof(err))) == NULL) {
		log_err("%s", err);
		goto out;
	}
	r.keytype = profile_keytype(prof);
	if (kind->is_ca) {
		if ((live = next_live_issuing(db)) == -1)
			goto out;
		if (live >= CADB_MAX_ISSUING) {
			log_err("%s: %d issuing CAs have not ended yet, as many "
			    "as crld serves (CADB_MAX_ISSUING): one more could "
			    "not have its CRLs", cmd, live);
			goto out;
		}
		/* Its name is its URLs' too (${issuer::name}). */
		if (!profile_issuer_name_ok(r.label)) {
			log_err("%s: %s is no name for an issuer", cmd, r.label);
			goto out;
		}
		if ((subject = ceremony_numbered_subject(prof, n, err,
		    sizeof(err))) == NULL) {
			log_err("%s: %s", cmd, err);
			goto out;
		}
		if ((n = next_subject_taken(db, subject, taken,
		    sizeof(taken))) != 0) {
			if (n == 1)
				log_err("%s: the subject of %s would be the one "
				    "of %s: edit the CN of policy/profiles/%s.cnf",
				    cmd, r.label, taken, kind->profile);
			goto out;
		}
	}

	memset(&sc, 0, sizeof(sc));
	if (signer_config_add_token(&sc, cfg, token_role) == -1 ||
	    signer_config_add_token(&sc, cfg, kind->token_role) == -1 ||
	    signer_config_grant(&sc, SIGNER_KIND_CERT, r.issuer.key_label) == -1)
		goto out;
	sc.allow_keygen = 1;
	if ((signer = signer_spawn(&sc, err, sizeof(err))) == NULL) {
		log_err("%s: signer: %s", cmd, err);
		goto out;
	}
	if ((signing = signer_pkey(signer, SIGNER_KIND_CERT, r.issuer.key_label,
	    err, sizeof(err))) == NULL) {
		log_err("%s: key %s: %s", cmd, r.issuer.key_label, err);
		goto out;
	}
	if (X509_check_private_key(r.issuer.cert, signing) != 1) {
		log_err("%s: key %s in token %s is not the key of %s's "
		    "certificate", cmd, r.issuer.key_label, token, r.issuer.name);
		goto out;
	}
	if (signer_keygen(signer, r.token, r.label, r.keytype, &r.pub, err,
	    sizeof(err)) == -1) {
		log_err("%s: key %s in token %s: %s (a key left by a run that "
		    "was killed must be deleted first)", cmd, r.label, r.token,
		    err);
		goto out;
	}
	generated = 1;
	log_info("%s: generated %s key %s in token %s", cmd, r.keytype,
	    r.label, r.token);
	if ((kind->named_after_issuer && ceremony_cn(r.issuer.cert, cn,
	    sizeof(cn)) == -1) || (r.cert = profile_issue(prof, subject, r.pub,
	    cn[0] != '\0' ? cn : NULL, r.issuer.cert, signing, err,
	    sizeof(err))) == NULL) {
		log_err("%s: %s certificate: %s", cmd, r.label, err);
		goto out;
	}
	if (ceremony_store(root.cert, strcmp(r.issuer.role, "root") == 0 ?
	    NULL : r.issuer.cert, &store, &untrusted) == -1 ||
	    ceremony_check_cert(store, untrusted, r.cert, kind->purpose,
	    kind->is_ca, r.label) == -1)
		goto out;
	if (kind->is_ca && X509_check_ca(r.cert) != 1) {
		log_err("%s: %s certificate is not a CA's", cmd, r.label);
		goto out;
	}
	if (pkictl_transaction(db, "SERIALIZABLE", 3, next_record, &r,
	    xid) == -1) {
		/*
		 * A lost answer to COMMIT: the key stays if it may be recorded
		 * (the transaction committed, or may still commit).
		 */
		if ((n = pkictl_xact_committed(cfg, xid)) != 0) {
			committed = 1;
			log_err("%s: the database %s recorded %s: the key is "
			    "kept; check `pkictl ca status`", cmd, n == 1 ?
			    "has" : "may have", r.label);
		} else
			log_err("%s: recording %s failed; nothing was "
			    "committed", cmd, r.label);
		goto out;
	}
	committed = 1;
	if (certstore_export(db, out_dir) == -1) {
		log_err("%s: committed, but writing %s failed; run `pkictl ca "
		    "export`", cmd, out_dir);
		goto out;
	}
	if (kind->is_ca && (pending = certstore_publish(db, cfg, actor)) != 0)
		log_warn("%s: %d LDAP publication(s) pending; `pkictl publish` "
		    "retries", cmd, pending);
	if (kind->is_ca)
		printf("%s certificate %s for %s in %s/%s.pem (chain "
		    "%s/chain-%s.pem); %s use it from their next start\n",
		    kind->noun, r.label, r.issuer.name, out_dir, r.label,
		    out_dir, r.label, kind->daemon);
	else
		printf("%s certificate %s for %s in %s/%s.pem; %s uses it from "
		    "its next start (the newest valid one)\n", kind->noun,
		    r.label, r.issuer.name, out_dir, r.label, kind->daemon);
	rc = PKICTL_EXIT_OK;
out:
	if (generated && !committed) {
		destroyed = signer_unkeygen(signer, r.token, r.label,
		    r.keytype, err, sizeof(err)) == 0;
		if (!destroyed)
			log_err("%s: could not destroy key %s in token %s: %s; "
			    "delete it before the next run", cmd, r.label,
			    r.token, err);
		if ((keys = json_array()) != NULL) {
			ceremony_key_note(keys, r.token, r.label, r.pub,
			    destroyed);
			ceremony_failure_audit(db, actor, kind->command, keys);
			json_decref(keys);
		}
	}
	sk_X509_free(untrusted);
	X509_STORE_free(store);
	X509_NAME_free(subject);
	X509_free(r.cert);
	EVP_PKEY_free(r.pub);
	EVP_PKEY_free(signing);
	profile_free(prof);
	cadb_clear(&r.issuer);
	cadb_clear(&root);
	signer_close(signer);
	db_close(db);
	return rc;
}

int
ceremony_responder(const struct config *cfg, const char *actor,
    const char *issuer_name)
{
	return ceremony_next(cfg, actor, &next_responder, issuer_name);
}

int
ceremony_tsa(const struct config *cfg, const char *actor,
    const char *issuer_name)
{
	return ceremony_next(cfg, actor, &next_tsa, issuer_name);
}

int
ceremony_issuing(const struct config *cfg, const char *actor)
{
	return ceremony_next(cfg, actor, &next_issuing, "root");
}

int
ceremony_status(const struct config *cfg)
{
	static const struct db_stmt stmt_list = { "ca_ceremony_status",
		"SELECT c.name, c.subject, c.serial, to_char(c.not_after AT TIME "
		"ZONE 'UTC', 'YYYY-MM-DD'), k.token_label, k.key_label FROM "
		"ca_certificate c JOIN ca_key k ON k.id = c.key_id ORDER BY c.id", 0 };
	struct db *db;
	PGresult *res = NULL;
	char when[64];
	int i, rc = PKICTL_EXIT_FAIL;

	if ((db = pkictl_db(cfg)) == NULL)
		return PKICTL_EXIT_FAIL;
	switch (certstore_initialized(db, when, sizeof(when))) {
	case 1:
		break;
	case 0:
		printf("not initialized: run `pkictl ca init`\n");
		goto out;
	default:
		goto out;
	}
	if ((res = db_exec(db, &stmt_list, NULL, NULL, NULL)) == NULL)
		goto out;
	printf("initialized %s\n", when);
	for (i = 0; i < PQntuples(res); i++)
		printf("%-13s %-60s serial %s until %s key %s/%s\n",
		    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		    PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
		    PQgetvalue(res, i, 4), PQgetvalue(res, i, 5));
	rc = PKICTL_EXIT_OK;
out:
	PQclear(res);
	db_close(db);
	return rc;
}
