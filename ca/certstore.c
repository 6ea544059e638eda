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
#include "lib/config.h"
#include "lib/db.h"
#include "lib/ldappub.h"
#include "lib/log.h"

#define PUBLISH_BACKOFF_MAX_S	3600

static const struct db_stmt stmt_key_insert = { "ca_certstore_key_insert",
	"INSERT INTO ca_key (role, token_label, key_label, key_type, spki, "
	"spki_sha256) VALUES ($1, $2, $3, $4, $5::bytea, $6) RETURNING id", 6 };
static const struct db_stmt stmt_cert_insert = { "ca_certstore_cert_insert",
	"INSERT INTO ca_certificate (name, role, key_id, issuer_id, serial, "
	"subject, issuer, not_before, not_after, sha256, der) VALUES ($1, $2, "
	"$3, $4, $5, $6, $7, $8, $9, $10, $11::bytea) RETURNING id", 11 };
static const struct db_stmt stmt_cert_all = { "ca_certstore_cert_all",
	"SELECT name, der, role FROM ca_certificate ORDER BY id", 0 };
static const struct db_stmt stmt_queue_insert = { "ca_certstore_queue_insert",
	"INSERT INTO publish_queue (dn, attribute, der) VALUES ($1, $2, "
	"$3::bytea) RETURNING id", 3 };
static const struct db_stmt stmt_queue_claim = { "ca_certstore_queue_claim",
	"SELECT id, dn, attribute, der, attempts FROM publish_queue WHERE "
	"done_at IS NULL AND next_attempt_at <= now() ORDER BY id "
	"LIMIT 32 FOR UPDATE SKIP LOCKED", 0 };
static const struct db_stmt stmt_queue_done = { "ca_certstore_queue_done",
	"UPDATE publish_queue SET done_at = now(), attempts = attempts + 1, "
	"last_error = NULL WHERE id = $1", 1 };
static const struct db_stmt stmt_queue_failed = { "ca_certstore_queue_failed",
	"UPDATE publish_queue SET attempts = attempts + 1, last_error = $2, "
	"next_attempt_at = now() + make_interval(secs => $3::int) WHERE id = $1", 3 };
static const struct db_stmt stmt_queue_pending = { "ca_certstore_queue_pending",
	"SELECT count(*) FROM publish_queue WHERE done_at IS NULL", 0 };
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

/* PostgreSQL bytea hex input ("\x..."); malloc'd, caller frees. */
static char *
certstore_bytea(const unsigned char *der, size_t len)
{
	char *s;
	size_t i;

	if ((s = malloc(2 * len + 3)) == NULL)
		return NULL;
	s[0] = '\\';
	s[1] = 'x';
	for (i = 0; i < len; i++)
		snprintf(s + 2 + 2 * i, 3, "%02x", der[i]);
	s[2 + 2 * len] = '\0';
	return s;
}

/* Decodes a bytea column in hex output format; malloc'd into *out. */
static int
certstore_unbytea(const char *s, unsigned char **out, size_t *outlen)
{
	unsigned char *buf;
	size_t n;

	*out = PQunescapeBytea((const unsigned char *)s, &n);
	if (*out == NULL)
		return -1;
	/* PQunescapeBytea memory must go to PQfreemem: copy to plain malloc. */
	if ((buf = malloc(n > 0 ? n : 1)) == NULL) {
		PQfreemem(*out);
		*out = NULL;
		return -1;
	}
	memcpy(buf, *out, n);
	PQfreemem(*out);
	*out = buf;
	*outlen = n;
	return 0;
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
	if ((spki_hex = certstore_bytea(spki, (size_t)len)) == NULL)
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

/* RFC 2253 form of a name, malloc'd. */
static char *
certstore_name(const X509_NAME *name)
{
	BIO *b;
	char *s = NULL, *data;
	long n;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_get_mem_data(b, &data)) >= 0 &&
	    (s = malloc((size_t)n + 1)) != NULL) {
		memcpy(s, data, (size_t)n);
		s[n] = '\0';
	}
	BIO_free(b);
	return s;
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

static char *
certstore_serial_hex(X509 *cert)
{
	BIGNUM *bn;
	char *hex = NULL;

	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL)) != NULL)
		hex = BN_bn2hex(bn);
	BN_free(bn);
	return hex;
}

int
certstore_add_cert(struct db *db, const char *actor, const char *name, const char *role,
    long long key_id, long long issuer_id, X509 *cert, long long *id_out)
{
	unsigned char *der = NULL;
	char *der_hex = NULL, *subject = NULL, *issuer = NULL, *serial = NULL;
	char keybuf[32], issuerbuf[32], nb[64], na[64], fp[65], idbuf[32];
	const char *values[11];
	PGresult *res = NULL;
	json_t *details = NULL;
	int len, rc = -1;

	if ((len = i2d_X509(cert, &der)) <= 0 ||
	    (der_hex = certstore_bytea(der, (size_t)len)) == NULL ||
	    (subject = certstore_name(X509_get_subject_name(cert))) == NULL ||
	    (issuer = certstore_name(X509_get_issuer_name(cert))) == NULL ||
	    (serial = certstore_serial_hex(cert)) == NULL ||
	    certstore_time(X509_get0_notBefore(cert), nb, sizeof(nb)) == -1 ||
	    certstore_time(X509_get0_notAfter(cert), na, sizeof(na)) == -1)
		goto out;
	certstore_sha256_hex(der, (size_t)len, fp);
	snprintf(keybuf, sizeof(keybuf), "%lld", key_id);
	snprintf(issuerbuf, sizeof(issuerbuf), "%lld", issuer_id);
	values[0] = name;
	values[1] = role;
	values[2] = keybuf;
	values[3] = issuer_id < 0 ? NULL : issuerbuf;
	values[4] = serial;
	values[5] = subject;
	values[6] = issuer;
	values[7] = nb;
	values[8] = na;
	values[9] = fp;
	values[10] = der_hex;
	res = db_exec(db, &stmt_cert_insert, values, NULL, NULL);
	if (certstore_returning_id(res, id_out) == -1)
		goto out;
	details = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "name", name,
	    "serial", serial, "subject", subject, "issuer", issuer,
	    "not_before", nb, "not_after", na, "sha256", fp);
	if (details == NULL)
		goto out;
	snprintf(idbuf, sizeof(idbuf), "%lld", *id_out);
	if (audit_append(db, actor, "ca.cert.issue", "ca_certificate", idbuf,
	    details, NULL) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	OPENSSL_free(der);
	OPENSSL_free(serial);
	free(der_hex);
	free(subject);
	free(issuer);
	return rc;
}

/* The directory entry of a CA: cn=<its CN>,<base>, with the CN escaped (RFC 4514). */
static int
certstore_ldap_dn(const struct config *cfg, X509 *cert, char *dn, size_t dnlen)
{
	const char *base = config_get(cfg, "ldap.base", NULL);
	X509_NAME *name = X509_get_subject_name(cert);
	ASN1_STRING *s;
	const unsigned char *cn;
	size_t off = 0;
	int i, n;

	if (base == NULL || (i = X509_NAME_get_index_by_NID(name, NID_commonName,
	    -1)) < 0)
		return -1;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	cn = ASN1_STRING_get0_data(s);
	n = ASN1_STRING_length(s);
	off = (size_t)snprintf(dn, dnlen, "cn=");
	for (i = 0; i < n && off + 3 < dnlen; i++) {
		if (strchr(",+\"\\<>;=", cn[i]) != NULL ||
		    (i == 0 && (cn[i] == ' ' || cn[i] == '#')) ||
		    (i == n - 1 && cn[i] == ' '))
			dn[off++] = '\\';
		dn[off++] = (char)cn[i];
	}
	if ((size_t)snprintf(dn + off, dnlen - off, ",%s", base) >= dnlen - off)
		return -1;
	return 0;
}

int
certstore_queue_ldap(struct db *db, const struct config *cfg,
    const char *actor, X509 *cert, const char *attr)
{
	unsigned char *der = NULL;
	char *der_hex = NULL, dn[512], idbuf[32];
	const char *values[3];
	PGresult *res = NULL;
	json_t *details = NULL;
	long long id;
	int len, rc = -1;

	if (certstore_ldap_dn(cfg, cert, dn, sizeof(dn)) == -1) {
		log_err("ldap.base missing or certificate without CN");
		goto out;
	}
	if ((len = i2d_X509(cert, &der)) <= 0 ||
	    (der_hex = certstore_bytea(der, (size_t)len)) == NULL)
		goto out;
	values[0] = dn;
	values[1] = attr;
	values[2] = der_hex;
	res = db_exec(db, &stmt_queue_insert, values, NULL, NULL);
	if (certstore_returning_id(res, &id) == -1)
		goto out;
	snprintf(idbuf, sizeof(idbuf), "%lld", id);
	if ((details = json_pack("{s:s, s:s}", "dn", dn, "attribute", attr)) == NULL ||
	    audit_append(db, actor, "publish.queue", "publish_queue", idbuf,
	    details, NULL) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	OPENSSL_free(der);
	free(der_hex);
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

	if (certstore_unbytea(der_col, &der, &len) == -1)
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
	int i, rc = -1;

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
	rc = 0;
out:
	BIO_free(one);
	BIO_free(chain);
	PQclear(res);
	return rc;
}

/* Publishes one claimed row; records success or the error, audited, in the caller's transaction. */
static int
certstore_publish_row(struct db *db, const struct config *cfg, PGresult *res,
    int i, const char *actor)
{
	struct ldappub_conf lc;
	unsigned char *der = NULL;
	size_t len;
	char err[256] = "", backoff[32];
	const char *id = PQgetvalue(res, i, 0), *dn = PQgetvalue(res, i, 1);
	const char *attr = PQgetvalue(res, i, 2);
	const char *values[3];
	json_t *details = NULL;
	long attempts = strtol(PQgetvalue(res, i, 4), NULL, 10);
	long delay;
	int ok, rc = -1;

	lc.uri = config_get(cfg, "ldap.uri", NULL);
	lc.bind_dn = config_get(cfg, "ldap.bind_dn", NULL);
	lc.bind_pw_file = config_get(cfg, "ldap.bind_pw_file", NULL);
	if (certstore_unbytea(PQgetvalue(res, i, 3), &der, &len) == -1)
		goto out;
	if (lc.uri == NULL) {
		snprintf(err, sizeof(err), "ldap.uri not configured");
		ok = 0;
	} else
		ok = ldappub_put(&lc, dn, attr, der, len, err, sizeof(err)) == 0;
	values[0] = id;
	if (ok) {
		if (db_exec_ok(db, &stmt_queue_done, values) == -1)
			goto out;
	} else {
		/* Exponential back-off: 10 s, 20 s, ... capped at an hour. */
		delay = attempts < 9 ? 10L << attempts : PUBLISH_BACKOFF_MAX_S;
		if (delay > PUBLISH_BACKOFF_MAX_S)
			delay = PUBLISH_BACKOFF_MAX_S;
		snprintf(backoff, sizeof(backoff), "%ld", delay);
		values[1] = err;
		values[2] = backoff;
		if (db_exec_ok(db, &stmt_queue_failed, values) == -1)
			goto out;
		log_warn("LDAP publication of %s to %s failed (retry in %ld s): %s",
		    attr, dn, delay, err);
	}
	details = json_pack("{s:s, s:s, s:b, s:s?}", "dn", dn, "attribute", attr,
	    "ok", ok, "error", ok ? NULL : err);
	if (details == NULL || audit_append(db, actor, "publish.ldap",
	    "publish_queue", id, details, NULL) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	free(der);
	return rc;
}

struct certstore_publish_arg {
	const struct config	*cfg;
	const char		*actor;
};

static int
certstore_publish_txn(struct db *db, void *varg)
{
	struct certstore_publish_arg *arg = varg;
	PGresult *res;
	int i, rc = -1;

	if ((res = db_exec(db, &stmt_queue_claim, NULL, NULL, NULL)) == NULL)
		return -1;
	for (i = 0; i < PQntuples(res); i++) {
		if (certstore_publish_row(db, arg->cfg, res, i, arg->actor) == -1)
			goto out;
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

int
certstore_publish(struct db *db, const struct config *cfg, const char *actor)
{
	struct certstore_publish_arg arg = { cfg, actor };
	PGresult *res;
	int pending;

	if (db_transaction(db, NULL, 3, certstore_publish_txn, &arg) == -1)
		return -1;
	if ((res = db_exec(db, &stmt_queue_pending, NULL, NULL, NULL)) == NULL)
		return -1;
	pending = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return pending;
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
