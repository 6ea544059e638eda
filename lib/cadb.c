/*
 * Reading the CA hierarchy (lib/cadb.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "lib/cadb.h"
#include "lib/db.h"
#include "lib/log.h"

/* The certificate of stmt's one row (id, role, der, token, key, name). */
static int
cadb_load_row(struct db *db, const struct db_stmt *stmt, const char *arg,
    struct cadb_ca *ca)
{
	const char *values[1] = { arg };
	unsigned char *der = NULL;
	const unsigned char *p;
	PGresult *res;
	size_t len;
	int rc = -1;

	memset(ca, 0, sizeof(*ca));
	if ((res = db_exec(db, stmt, values, NULL, NULL)) == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		rc = 1;
		goto out;
	}
	ca->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	snprintf(ca->name, sizeof(ca->name), "%s", PQgetvalue(res, 0, 5));
	snprintf(ca->role, sizeof(ca->role), "%s", PQgetvalue(res, 0, 1));
	snprintf(ca->token, sizeof(ca->token), "%s", PQgetvalue(res, 0, 3));
	snprintf(ca->key_label, sizeof(ca->key_label), "%s", PQgetvalue(res, 0, 4));
	if (db_bytea_value(PQgetvalue(res, 0, 2), &der, &len) == -1)
		goto out;
	p = der;
	if ((ca->cert = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len) {
		log_err("ca_certificate %s: not one DER certificate", ca->name);
		goto out;
	}
	rc = 0;
out:
	free(der);
	PQclear(res);
	return rc;
}

int
cadb_load(struct db *db, const char *name, struct cadb_ca *ca)
{
	static const struct db_stmt stmt = { "cadb_load",
		"SELECT c.id, c.role, c.der, k.token_label, k.key_label, c.name "
		"FROM ca_certificate c JOIN ca_key k ON k.id = c.key_id "
		"WHERE c.name = $1", 1 };

	return cadb_load_row(db, &stmt, name, ca);
}

int
cadb_load_current(struct db *db, const char *role, struct cadb_ca *ca)
{
	static const struct db_stmt stmt = { "cadb_load_current",
		"SELECT c.id, c.role, c.der, k.token_label, k.key_label, c.name "
		"FROM ca_certificate c JOIN ca_key k ON k.id = c.key_id "
		"WHERE c.role = $1 ORDER BY (NOT EXISTS (SELECT 1 FROM "
		"ca_certificate_status x WHERE x.id = c.id AND "
		"x.revoked_at IS NOT NULL) AND NOT EXISTS (SELECT 1 FROM "
		"ca_certificate_status ri WHERE ri.id = c.issuer_id AND "
		"ri.revoked_at IS NOT NULL)) DESC, "
		"(c.not_before <= now() AND "
		"c.not_after > now()) DESC, c.not_before DESC, c.id DESC "
		"LIMIT 1", 1 };

	return cadb_load_row(db, &stmt, role, ca);
}

int
cadb_load_issuer_of(struct db *db, const struct cadb_ca *child,
    struct cadb_ca *ca)
{
	static const struct db_stmt stmt = { "cadb_load_issuer_of",
		"SELECT c.id, c.role, c.der, k.token_label, k.key_label, c.name "
		"FROM ca_certificate c JOIN ca_key k ON k.id = c.key_id "
		"WHERE c.id = (SELECT issuer_id FROM ca_certificate WHERE id = "
		"$1::bigint)", 1 };
	char id[24];

	snprintf(id, sizeof(id), "%lld", child->id);
	return cadb_load_row(db, &stmt, id, ca);
}

void
cadb_clear(struct cadb_ca *ca)
{
	X509_free(ca->cert);
	memset(ca, 0, sizeof(*ca));
}

char *
cadb_name_text(const X509_NAME *name, int utf8)
{
	unsigned long flags = XN_FLAG_RFC2253;
	BIO *b;
	char *s = NULL, *data;
	long n;

	if (utf8)
		flags &= ~(unsigned long)ASN1_STRFLGS_ESC_MSB;
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	if (X509_NAME_print_ex(b, name, 0, flags) >= 0 &&
	    (n = BIO_get_mem_data(b, &data)) >= 0 &&
	    (s = malloc((size_t)n + 1)) != NULL) {
		memcpy(s, data, (size_t)n);
		s[n] = '\0';
	}
	BIO_free(b);
	return s;
}
