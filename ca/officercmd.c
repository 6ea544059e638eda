/*
 * pkictl officer add|list|disable: the RA officers who log in to rad with a
 * password and a TOTP code (ra/officer.c, schema/011_ra_officer.sql).
 *
 *	pkictl officer add --username U --role ra_officer|ra_admin|auditor
 *	    [--account-email E] --password-file F
 *	pkictl officer list
 *	pkictl officer disable U
 *
 * The password comes from a file of mode 0600 (lib/secret.h), never argv;
 * it must follow policy/ra.conf [password] with at least 12 characters, and
 * is stored as Argon2id at that file's cost. `add` generates the 160-bit
 * TOTP secret, stores it sealed (AES-256-GCM under ra.officer_key_file,
 * lib/totp.h) and prints it and its otpauth:// URI once on stdout: nobody
 * can print it again. Each change and its audit event commit together.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <argon2.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "ca/extern.h"
#include "lib/audit.h"
#include "lib/config.h"
#include "lib/db.h"
#include "lib/log.h"
#include "lib/secret.h"
#include "lib/totp.h"
#include "ra/extern.h"

#define OFFICER_PW_MIN		12	/* characters, whatever the policy */
#define OFFICER_SALT_BYTES	16	/* RFC 9106 §3.1 */
#define OFFICER_HASH_BYTES	32
#define OFFICER_TXN_ATTEMPTS	3

static const struct db_stmt stmt_officer_account = { "ca_officer_account",
	"SELECT id FROM ra_account WHERE email = lower($1)", 1 };
static const struct db_stmt stmt_officer_insert = { "ca_officer_insert",
	"INSERT INTO ra_officer (username, password_hash, totp_secret_enc, role, "
	"account_id, created_by) VALUES ($1, $2, $3::bytea, $4, "
	"nullif($5, '')::bigint, $6) ON CONFLICT DO NOTHING RETURNING id", 6 };
static const struct db_stmt stmt_officer_list = { "ca_officer_list",
	"SELECT id, username, role, coalesce(account_id::text, '-'), "
	"CASE WHEN disabled_at IS NOT NULL THEN 'disabled' "
	"WHEN locked_until > now() THEN 'locked' ELSE 'active' END, "
	"to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
	"FROM ra_officer ORDER BY id", 0 };
static const struct db_stmt stmt_officer_disable = { "ca_officer_disable",
	"UPDATE ra_officer SET disabled_at = now() WHERE username = $1 "
	"AND disabled_at IS NULL RETURNING id", 1 };
static const struct db_stmt stmt_officer_exists = { "ca_officer_exists",
	"SELECT id FROM ra_officer WHERE username = $1", 1 };

static const char *const officer_roles[] = { "ra_officer", "ra_admin",
	"auditor", NULL };

/* The shape schema/011_ra_officer.sql checks. */
static int
officer_username_ok(const char *u)
{
	size_t i, n = strlen(u);

	if (n < 3 || n > RA_OFFICER_USERNAME_MAX || u[0] < 'a' || u[0] > 'z')
		return 0;
	for (i = 1; i < n; i++)
		if (!((u[i] >= 'a' && u[i] <= 'z') ||
		    (u[i] >= '0' && u[i] <= '9') || u[i] == '.' ||
		    u[i] == '_' || u[i] == '-'))
			return 0;
	return 1;
}

/* The subscriber password rules, at least OFFICER_PW_MIN characters. */
static int
officer_password_check(const struct ra_policy *p, const char *pw)
{
	long chars = 0, min = p->pw_min_len > OFFICER_PW_MIN ? p->pw_min_len :
	    OFFICER_PW_MIN;
	int up = 0, lo = 0, dig = 0, sym = 0;
	const unsigned char *c;

	for (c = (const unsigned char *)pw; *c != '\0'; c++) {
		if ((*c & 0xc0) != 0x80)
			chars++;
		if (*c >= 'A' && *c <= 'Z')
			up = 1;
		else if (*c >= 'a' && *c <= 'z')
			lo = 1;
		else if (*c >= '0' && *c <= '9')
			dig = 1;
		else if (*c >= 0x21 && *c <= 0x7e)
			sym = 1;
		else if (*c < 0x20 || *c == 0x7f) {
			log_err("password: control characters are not allowed");
			return -1;
		}
	}
	if (chars < min || (long)strlen(pw) > p->pw_max_len) {
		log_err("password: %ld to %ld bytes and at least %ld characters",
		    min, p->pw_max_len, min);
		return -1;
	}
	if ((p->pw_upper && !up) || (p->pw_lower && !lo) ||
	    (p->pw_digit && !dig) || (p->pw_symbol && !sym)) {
		log_err("password: needs an upper-case letter, a lower-case "
		    "letter, a digit and a symbol (policy/ra.conf [password])");
		return -1;
	}
	return 0;
}

static int
officer_hash(const struct ra_policy *p, const char *pw, char *out,
    size_t outlen)
{
	unsigned char salt[OFFICER_SALT_BYTES];
	int r;

	if (RAND_bytes(salt, sizeof(salt)) != 1) {
		log_openssl(LOGL_ERR, "RAND_bytes");
		return -1;
	}
	if ((r = argon2id_hash_encoded((uint32_t)p->argon2_t_cost,
	    (uint32_t)p->argon2_m_cost_kib, (uint32_t)p->argon2_parallelism, pw,
	    strlen(pw), salt, sizeof(salt), OFFICER_HASH_BYTES, out,
	    outlen)) != ARGON2_OK) {
		log_err("argon2id_hash_encoded: %s", argon2_error_message(r));
		return -1;
	}
	return 0;
}

struct officer_add {
	const char	*actor, *username, *role, *email;
	const char	*hash;
	char		*sealed;	/* bytea parameter */
	const char	*b32, *uri;	/* the TOTP secret, shown once */
	int		 no_account, duplicate;
	struct pkictl_secret sec;	/* the TOTP secret's printing */
	char		 id[24], account_id[24];
};

static int
officer_add_txn(struct db *db, void *arg)
{
	struct officer_add *o = arg;
	const char *v[6];
	PGresult *res = NULL;
	json_t *details = NULL;
	int rc = -1;

	o->no_account = o->duplicate = 0;
	o->account_id[0] = '\0';
	if (o->email != NULL) {
		v[0] = o->email;
		if ((res = db_exec(db, &stmt_officer_account, v, NULL,
		    NULL)) == NULL)
			goto out;
		if (PQntuples(res) != 1) {
			o->no_account = 1;
			goto out;
		}
		snprintf(o->account_id, sizeof(o->account_id), "%s",
		    PQgetvalue(res, 0, 0));
		PQclear(res);
		res = NULL;
	}
	v[0] = o->username;
	v[1] = o->hash;
	v[2] = o->sealed;
	v[3] = o->role;
	v[4] = o->account_id;
	v[5] = o->actor;
	if ((res = db_exec(db, &stmt_officer_insert, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		o->duplicate = 1;	/* username, or account already linked */
		goto out;
	}
	snprintf(o->id, sizeof(o->id), "%s", PQgetvalue(res, 0, 0));
	if ((details = json_pack("{s:s, s:s, s:o}", "username", o->username,
	    "role", o->role, "account_id", o->account_id[0] == '\0' ?
	    json_null() : json_string(o->account_id))) == NULL)
		goto out;
	if (audit_append(db, o->actor, "ra.officer.create", "ra_officer", o->id,
	    details, NULL) == -1)
		goto out;
	/*
	 * The only time the secret is shown (enrol it in the app now): written
	 * before COMMIT, and the officer is not added when it could not be
	 * (stdout full or closed), or the row would be live with a second
	 * factor nobody has. A secret printed for a transaction that then
	 * fails harms nobody: it opens no account. Printed once: a retry of
	 * the transaction after it was is not made (exit 1, run again).
	 */
	if (pkictl_secret_once(&o->sec, "officer %s (%s) created, id %s\n"
	    "totp_secret %s\ntotp_uri %s\n", o->username, o->role, o->id,
	    o->b32, o->uri) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

static int
officer_add(const struct config *cfg, const char *actor, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "username", required_argument, NULL, 'u' },
		{ "role", required_argument, NULL, 'r' },
		{ "account-email", required_argument, NULL, 'e' },
		{ "password-file", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct officer_add o;
	struct ra_policy pol;
	struct totp_params tp;
	struct db *db = NULL;
	unsigned char key[TOTP_SEAL_KEY_BYTES], secret[TOTP_SECRET_BYTES];
	unsigned char sealed[TOTP_SEALED_BYTES];
	char pw[RA_PASSWORD_MAX + 2], hash[256], err[512];
	char xid[PKICTL_XID_MAX], what[128];
	int r;
	char aad[RA_OFFICER_USERNAME_MAX + 16], b32[TOTP_SECRET_B32_LEN + 8];
	char uri[1024];
	const char *pw_file = NULL;
	int ch, i, rc = PKICTL_EXIT_FAIL;

	memset(&o, 0, sizeof(o));
	pw[0] = '\0';
	while ((ch = pkictl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'u': o.username = optarg; break;
		case 'r': o.role = optarg; break;
		case 'e': o.email = optarg; break;
		case 'p': pw_file = optarg; break;
		default: return PKICTL_EXIT_USAGE;
		}
	}
	if (o.username == NULL || o.role == NULL || pw_file == NULL ||
	    optind != argc)
		return PKICTL_EXIT_USAGE;
	if (!officer_username_ok(o.username)) {
		log_err("--username: 3 to 64 of a-z 0-9 . _ -, starting with a "
		    "letter");
		return PKICTL_EXIT_USAGE;
	}
	for (i = 0; officer_roles[i] != NULL; i++)
		if (strcmp(officer_roles[i], o.role) == 0)
			break;
	if (officer_roles[i] == NULL) {
		log_err("--role: ra_officer, ra_admin or auditor");
		return PKICTL_EXIT_USAGE;
	}
	if (pkictl_secret_read("--password-file", pw_file, pw, sizeof(pw)) ==
	    -1)
		goto out;
	if (pkictl_ra_policy(cfg, &pol) == -1 ||
	    officer_password_check(&pol, pw) == -1)
		goto out;
	if (totp_key_load(config_get(cfg, "ra.officer_key_file", NULL), key,
	    err, sizeof(err)) != TOTP_OK) {
		log_err("ra.officer_key_file: %s", err);
		goto out;
	}
	if (officer_hash(&pol, pw, hash, sizeof(hash)) == -1)
		goto out;
	OPENSSL_cleanse(pw, sizeof(pw));
	snprintf(aad, sizeof(aad), "ra_officer:%s", o.username);
	if (RAND_bytes(secret, sizeof(secret)) != 1) {
		log_openssl(LOGL_ERR, "RAND_bytes");
		goto out;
	}
	if (totp_seal(key, aad, secret, sizeof(secret), sealed,
	    sizeof(sealed)) != TOTP_OK ||
	    (o.sealed = db_bytea_param(sealed, sizeof(sealed))) == NULL) {
		log_err("sealing the TOTP secret failed");
		goto out;
	}
	totp_params_default(&tp);
	if (totp_base32_encode(secret, sizeof(secret), 0, b32,
	    sizeof(b32)) != TOTP_OK ||
	    totp_uri(&tp, config_get(cfg, "ra.totp_issuer", "PKI RA"),
	    o.username, secret, sizeof(secret), uri, sizeof(uri)) != TOTP_OK) {
		log_err("ra.totp_issuer: no ':' and at most 200 bytes");
		goto out;
	}
	o.actor = actor;
	o.hash = hash;
	o.b32 = b32;
	o.uri = uri;
	if ((db = pkictl_db(cfg)) == NULL)
		goto out;
	if (pkictl_transaction(db, NULL, OFFICER_TXN_ATTEMPTS, officer_add_txn,
	    &o, xid) == -1) {
		if (o.no_account) {
			log_err("--account-email: no subscriber account with this "
			    "address");
			rc = PKICTL_EXIT_REFUSED;
		} else if (o.duplicate) {
			log_err("officer %s exists, or the account is linked to "
			    "another officer", o.username);
			rc = PKICTL_EXIT_REFUSED;
		} else {
			snprintf(what, sizeof(what), "officer %s", o.username);
			if ((r = pkictl_secret_failed(cfg, &o.sec, xid, what,
			    "TOTP secret")) != -1)
				rc = r;
		}
		if (rc != PKICTL_EXIT_OK)
			goto out;
	}
	log_info("officer %s (%s) created as id %s", o.username, o.role, o.id);
	rc = PKICTL_EXIT_OK;
out:
	OPENSSL_cleanse(pw, sizeof(pw));
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(b32, sizeof(b32));
	OPENSSL_cleanse(uri, sizeof(uri));
	free(o.sealed);
	db_close(db);
	return rc;
}

static int
officer_list(const struct config *cfg, int argc)
{
	struct db *db;
	PGresult *res;
	int i, rc = PKICTL_EXIT_FAIL;

	if (argc != 1)
		return PKICTL_EXIT_USAGE;
	if ((db = pkictl_db(cfg)) == NULL)
		return PKICTL_EXIT_FAIL;
	if ((res = db_exec(db, &stmt_officer_list, NULL, NULL, NULL)) != NULL) {
		printf("id\tusername\trole\taccount_id\tstatus\tcreated_at\n");
		for (i = 0; i < PQntuples(res); i++)
			printf("%s\t%s\t%s\t%s\t%s\t%s\n", PQgetvalue(res, i, 0),
			    PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
			    PQgetvalue(res, i, 3), PQgetvalue(res, i, 4),
			    PQgetvalue(res, i, 5));
		rc = PKICTL_EXIT_OK;
	}
	PQclear(res);
	db_close(db);
	return rc;
}

static int
officer_disable(const struct config *cfg, const char *actor, int argc,
    char **argv)
{
	struct pkictl_disable d;
	int rc;

	if (argc != 2)
		return PKICTL_EXIT_USAGE;
	memset(&d, 0, sizeof(d));
	d.disable = &stmt_officer_disable;
	d.exists = &stmt_officer_exists;
	d.what = "officer";
	d.action = "ra.officer.disable";
	d.object_type = "ra_officer";
	d.name_key = "username";
	d.actor = actor;
	d.name = argv[1];
	if ((rc = pkictl_disable(cfg, &d)) == PKICTL_EXIT_OK)
		printf("officer %s disabled; its sessions no longer work\n",
		    d.name);
	return rc;
}

int
cmd_officer(const struct config *cfg, const char *actor, int argc,
    char **argv)
{
	if (strcmp(argv[0], "add") == 0)
		return officer_add(cfg, actor, argc, argv);
	if (strcmp(argv[0], "list") == 0)
		return officer_list(cfg, argc);
	if (strcmp(argv[0], "disable") == 0)
		return officer_disable(cfg, actor, argc, argv);
	return PKICTL_EXIT_USAGE;
}
