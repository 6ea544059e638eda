/*
 * CA certificates in PostgreSQL (schema/002_ca.sql), exported as PEM files,
 * and published to LDAP through the publish_queue table.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca/extern.h"
#include "lib/audit.h"
#include "lib/cadb.h"
#include "lib/config.h"
#include "lib/db.h"
#include "lib/ldappub.h"
#include "lib/log.h"
#include "lib/publish.h"


static const struct db_stmt stmt_key_insert = { "ca_certstore_key_insert",
	"INSERT INTO ca_key (role, token_label, key_label, key_type, spki, "
	"spki_sha256) VALUES ($1, $2, $3, $4, $5::bytea, $6) RETURNING id", 6 };
static const struct db_stmt stmt_cert_insert = { "ca_certstore_cert_insert",
	"INSERT INTO ca_certificate (name, role, key_id, issuer_id, serial, "
	"subject, issuer, not_before, not_after, sha256, der) VALUES ($1, $2, "
	"$3, $4, $5, $6, $7, $8, $9, $10, $11::bytea) RETURNING id", 11 };
static const struct db_stmt stmt_cert_all = { "ca_certstore_cert_all",
	"SELECT name, der, role FROM ca_certificate ORDER BY id", 0 };
static const struct db_stmt stmt_initialized = { "ca_certstore_initialized",
	"SELECT to_char(completed_at AT TIME ZONE 'UTC', "
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM ca_ceremony WHERE kind = 'init'", 0 };

void
certstore_sha256_hex(const unsigned char *der, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	unsigned int i;

	out[0] = '\0';
	if (EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return;
	for (i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int
certstore_returning_id(PGresult *res, long long *id_out)
{
	char *end;

	if (res == NULL || PQntuples(res) != 1)
		return -1;
	*id_out = strtoll(PQgetvalue(res, 0, 0), &end, 10);
	return *end == '\0' ? 0 : -1;
}

int
certstore_add_key(struct db *db, const char *actor, const char *role, const char *token,
    const char *label, const char *keytype, EVP_PKEY *pub, long long *id_out)
{
	unsigned char *spki = NULL;
	char *spki_hex = NULL, fp[65];
	const char *values[6];
	PGresult *res = NULL;
	json_t *details = NULL;
	int len, rc = -1;

	if ((len = i2d_PUBKEY(pub, &spki)) <= 0)
		goto out;
	certstore_sha256_hex(spki, (size_t)len, fp);
	if ((spki_hex = db_bytea_param(spki, (size_t)len)) == NULL)
		goto out;
	values[0] = role;
	values[1] = token;
	values[2] = label;
	values[3] = keytype;
	values[4] = spki_hex;
	values[5] = fp;
	res = db_exec(db, &stmt_key_insert, values, NULL, NULL);
	if (certstore_returning_id(res, id_out) == -1)
		goto out;
	details = json_pack("{s:s, s:s, s:s, s:s, s:s}", "role", role, "token",
	    token, "label", label, "key_type", keytype, "spki_sha256", fp);
	if (details == NULL)
		goto out;
	{
		char idbuf[32];

		snprintf(idbuf, sizeof(idbuf), "%lld", *id_out);
		if (audit_append(db, actor, "ca.key.generate", "ca_key", idbuf,
		    details, NULL) == -1)
			goto out;
	}
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	OPENSSL_free(spki);
	free(spki_hex);
	return rc;
}

/* ASN1_TIME as an ISO 8601 UTC string PostgreSQL accepts. */
static int
certstore_time(const ASN1_TIME *t, char *out, size_t outlen)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return 0;
}

char *
certstore_serial_hex(X509 *cert)
{
	BIGNUM *bn;
	char *hex = NULL;

	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL)) != NULL)
		hex = BN_bn2hex(bn);
	BN_free(bn);
	return hex;
}

/* What the tables record of a certificate, derived once. */
struct cert_facts {
	char	*der_hex, *subject, *issuer, *serial;
	char	 not_before[64], not_after[64], sha256[65];
};

static void
certstore_facts_free(struct cert_facts *f)
{
	free(f->der_hex);
	free(f->subject);
	free(f->issuer);
	OPENSSL_free(f->serial);
	memset(f, 0, sizeof(*f));
}

static int
certstore_facts(X509 *cert, struct cert_facts *f)
{
	unsigned char *der = NULL;
	int len, rc = -1;

	memset(f, 0, sizeof(*f));
	if ((len = i2d_X509(cert, &der)) <= 0 ||
	    (f->der_hex = db_bytea_param(der, (size_t)len)) == NULL ||
	    (f->subject = cadb_name_text(X509_get_subject_name(cert), 0)) == NULL ||
	    (f->issuer = cadb_name_text(X509_get_issuer_name(cert), 0)) == NULL ||
	    (f->serial = certstore_serial_hex(cert)) == NULL ||
	    certstore_time(X509_get0_notBefore(cert), f->not_before,
	    sizeof(f->not_before)) == -1 ||
	    certstore_time(X509_get0_notAfter(cert), f->not_after,
	    sizeof(f->not_after)) == -1)
		goto out;
	certstore_sha256_hex(der, (size_t)len, f->sha256);
	rc = 0;
out:
	OPENSSL_free(der);
	if (rc == -1)
		certstore_facts_free(f);
	return rc;
}

/* Audits an issuance: action on table/id with the certificate's facts. */
static int
certstore_audit_issue(struct db *db, const char *actor, const char *action,
    const char *table, long long id, const char *name, const struct cert_facts *f)
{
	json_t *details;
	char idbuf[32];
	int rc;

	details = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "name", name,
	    "serial", f->serial, "subject", f->subject, "issuer", f->issuer,
	    "not_before", f->not_before, "not_after", f->not_after,
	    "sha256", f->sha256);
	if (details == NULL)
		return -1;
	snprintf(idbuf, sizeof(idbuf), "%lld", id);
	rc = audit_append(db, actor, action, table, idbuf, details, NULL);
	json_decref(details);
	return rc;
}

int
certstore_add_cert(struct db *db, const char *actor, const char *name, const char *role,
    long long key_id, long long issuer_id, X509 *cert, long long *id_out)
{
	struct cert_facts f;
	char keybuf[32], issuerbuf[32];
	const char *values[11];
	PGresult *res = NULL;
	int rc = -1;

	if (certstore_facts(cert, &f) == -1)
		return -1;
	snprintf(keybuf, sizeof(keybuf), "%lld", key_id);
	snprintf(issuerbuf, sizeof(issuerbuf), "%lld", issuer_id);
	values[0] = name;
	values[1] = role;
	values[2] = keybuf;
	values[3] = issuer_id < 0 ? NULL : issuerbuf;
	values[4] = f.serial;
	values[5] = f.subject;
	values[6] = f.issuer;
	values[7] = f.not_before;
	values[8] = f.not_after;
	values[9] = f.sha256;
	values[10] = f.der_hex;
	res = db_exec(db, &stmt_cert_insert, values, NULL, NULL);
	if (certstore_returning_id(res, id_out) == -1 ||
	    certstore_audit_issue(db, actor, "ca.cert.issue", "ca_certificate",
	    *id_out, name, &f) == -1)
		goto out;
	rc = 0;
out:
	PQclear(res);
	certstore_facts_free(&f);
	return rc;
}

int
certstore_add_issued(struct db *db, const char *actor, long long issuer_ca_id,
    const char *profile, X509 *cert, long long *id_out)
{
	static const struct db_stmt stmt_issued_insert = { "ca_certstore_issued_insert",
		"INSERT INTO certificate (issuer_id, serial, subject, profile, "
		"not_before, not_after, sha256, der) VALUES ($1, $2, $3, $4, $5, "
		"$6, $7, $8::bytea) RETURNING id", 8 };
	struct cert_facts f;
	char issuerbuf[32];
	const char *values[8];
	PGresult *res = NULL;
	int rc = -1;

	if (certstore_facts(cert, &f) == -1)
		return -1;
	snprintf(issuerbuf, sizeof(issuerbuf), "%lld", issuer_ca_id);
	values[0] = issuerbuf;
	values[1] = f.serial;
	values[2] = f.subject;
	values[3] = profile;
	values[4] = f.not_before;
	values[5] = f.not_after;
	values[6] = f.sha256;
	values[7] = f.der_hex;
	res = db_exec(db, &stmt_issued_insert, values, NULL, NULL);
	if (certstore_returning_id(res, id_out) == -1 ||
	    certstore_audit_issue(db, actor, "cert.issue", "certificate", *id_out,
	    profile, &f) == -1)
		goto out;
	rc = 0;
out:
	PQclear(res);
	certstore_facts_free(&f);
	return rc;
}

int
certstore_queue_ldap(struct db *db, const struct config *cfg,
    const char *actor, X509 *cert, const char *attr)
{
	unsigned char *der = NULL;
	char dn[512];
	int len, rc = -1;

	if (publish_ca_dn(config_get(cfg, "ldap.base", ""), cert, dn,
	    sizeof(dn)) == -1) {
		log_err("ldap.base missing or certificate without CN");
		return -1;
	}
	if ((len = i2d_X509(cert, &der)) > 0)
		rc = publish_queue_add(db, actor, dn, attr, der, (size_t)len);
	OPENSSL_free(der);
	return rc;
}

/* Writes data to dir/name atomically (temporary file + rename), mode 0644. */
static int
certstore_write_file(const char *dir, const char *name, const char *data,
    size_t len)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	FILE *f;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	if ((f = fopen(tmp, "w")) == NULL) {
		log_err("cannot create %s: %s", tmp, strerror(errno));
		return -1;
	}
	if (fwrite(data, 1, len, f) == len && fflush(f) == 0 &&
	    fsync(fileno(f)) == 0)
		rc = 0;
	if (fclose(f) != 0)
		rc = -1;
	if (rc == 0 && (chmod(tmp, 0644) != 0 || rename(tmp, path) != 0))
		rc = -1;
	if (rc == -1) {
		log_err("cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
	}
	return rc;
}

/* Appends cert as PEM to bio. */
static int
certstore_pem(BIO *bio, const char *der_col)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len;
	X509 *x = NULL;
	int rc = -1;

	if (db_bytea_value(der_col, &der, &len) == -1)
		goto out;
	p = der;
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len)
		goto out;
	if (PEM_write_bio_X509(bio, x) != 1)
		goto out;
	rc = 0;
out:
	X509_free(x);
	free(der);
	return rc;
}

int
certstore_export(struct db *db, const char *out_dir)
{
	PGresult *res = NULL;
	BIO *one = NULL, *chain = NULL;
	char *data, fname[128];
	const char *name;
	long n;
	int i, j, rc = -1;

	if (mkdir(out_dir, 0755) == -1 && errno != EEXIST) {
		log_err("mkdir %s: %s", out_dir, strerror(errno));
		goto out;
	}
	if ((res = db_exec(db, &stmt_cert_all, NULL, NULL, NULL)) == NULL)
		goto out;
	if ((chain = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	for (i = 0; i < PQntuples(res); i++) {
		name = PQgetvalue(res, i, 0);
		if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
		    strlen(name))
			goto out;
		BIO_free(one);
		if ((one = BIO_new(BIO_s_mem())) == NULL ||
		    certstore_pem(one, PQgetvalue(res, i, 1)) == -1)
			goto out;
		n = BIO_get_mem_data(one, &data);
		snprintf(fname, sizeof(fname), "%s.pem", name);
		if (certstore_write_file(out_dir, fname, data, (size_t)n) == -1)
			goto out;
		/* chain.pem: issuing CA then root, as TLS and CMS want it. */
		if (strcmp(name, "issuing") == 0 &&
		    certstore_pem(chain, PQgetvalue(res, i, 1)) == -1)
			goto out;
	}
	for (i = 0; i < PQntuples(res); i++) {
		if (strcmp(PQgetvalue(res, i, 0), "root") == 0 &&
		    certstore_pem(chain, PQgetvalue(res, i, 1)) == -1)
			goto out;
	}
	n = BIO_get_mem_data(chain, &data);
	if (n > 0 && certstore_write_file(out_dir, "chain.pem", data, (size_t)n) == -1)
		goto out;
	/*
	 * chain-NAME.pem for each other issuing CA (`pkictl ca issuing`):
	 * that CA then the root. chain.pem stays the first issuing CA's.
	 */
	for (i = 0; i < PQntuples(res); i++) {
		name = PQgetvalue(res, i, 0);
		if (strcmp(PQgetvalue(res, i, 2), "issuing") != 0 ||
		    strcmp(name, "issuing") == 0)
			continue;
		BIO_free(one);
		if ((one = BIO_new(BIO_s_mem())) == NULL ||
		    certstore_pem(one, PQgetvalue(res, i, 1)) == -1)
			goto out;
		for (j = 0; j < PQntuples(res); j++)
			if (strcmp(PQgetvalue(res, j, 0), "root") == 0 &&
			    certstore_pem(one, PQgetvalue(res, j, 1)) == -1)
				goto out;
		n = BIO_get_mem_data(one, &data);
		snprintf(fname, sizeof(fname), "chain-%s.pem", name);
		if (certstore_write_file(out_dir, fname, data, (size_t)n) == -1)
			goto out;
	}
	rc = 0;
out:
	BIO_free(one);
	BIO_free(chain);
	PQclear(res);
	return rc;
}

int
certstore_publish(struct db *db, const struct config *cfg, const char *actor)
{
	struct ldappub_conf lc = { 0 };

	if (ldappub_conf_timeout(cfg, &lc) == -1)
		return -1;
	lc.uri = config_get(cfg, "ldap.uri", NULL);
	lc.bind_dn = config_get(cfg, "ldap.bind_dn", NULL);
	lc.bind_pw_file = config_get(cfg, "ldap.bind_pw_file", NULL);
	lc.base = config_get(cfg, "ldap.base", NULL);
	return publish_run(db, &lc, actor, 0, NULL);
}

int
certstore_initialized(struct db *db, char *when, size_t whenlen)
{
	PGresult *res;
	int rc;

	if ((res = db_exec(db, &stmt_initialized, NULL, NULL, NULL)) == NULL)
		return -1;
	rc = PQntuples(res) > 0;
	if (rc)
		snprintf(when, whenlen, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}
