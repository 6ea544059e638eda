/*
 * pkictl sigservice add --name N: registers a signing service, an OAuth 2.0
 * client of signd (RFC 6749 §4.4, client credentials; hsm/README.md
 * "signd"). Prints id, client_id and client_secret (the secret only
 * this once), on stdout, as three "key<TAB>value" lines, before COMMIT:
 * exit 1 and nothing added when they could not be written; only the SHA-256
 * of the secret (256 random bits, as the base64url text the client
 * presents) is stored, with its audit event (sign.service.add, no secret)
 * in the same transaction. Exit 3 when the name is taken, 2 when schema/014
 * would refuse it.
 *
 * pkictl sigservice disable --name N: the service's tokens stop working at
 * once (signd checks disabled_at at every request), and so do the SADs it
 * was given (signd's SAM checks it again at signHash). The UPDATE waits
 * for the service's authorizations and signatures in progress: its
 * trigger takes the service's lock exclusively, which the SAM holds shared
 * while it works and under which it reads disabled_at (schema/107); so
 * nothing of the service signs after this commits. Audited as
 * sign.service.disable; exit 3 when it was already disabled. There is no
 * enable: register the service again under a new name, with a new secret.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ca/extern.h"
#include "lib/audit.h"
#include "lib/config.h"
#include "lib/db.h"
#include "lib/log.h"

static const struct db_stmt stmt_sigservice_insert = {
	"ca_sigservicecmd_insert",
	"INSERT INTO sign_service (name, client_id, secret_sha256) VALUES "
	"($1, $2, $3::bytea) ON CONFLICT (name) DO NOTHING RETURNING id", 3 };

static const struct db_stmt stmt_sigservice_disable = {
	"ca_sigservicecmd_disable",
	"UPDATE sign_service SET disabled_at = now() WHERE name = $1 "
	"AND disabled_at IS NULL RETURNING id", 1 };
static const struct db_stmt stmt_sigservice_exists = {
	"ca_sigservicecmd_exists",
	"SELECT id FROM sign_service WHERE name = $1", 1 };

struct sigservice_add {
	const char	*actor, *name, *client_id, *digest;
	const char	*secret;	/* the client secret, shown once */
	char		 id[24];
	int		 taken;
	struct pkictl_secret sec;	/* the client secret's printing */
};

/* base64url without padding of n bytes into out (4n/3 + 1 bytes). */
static void
sigservice_b64url(const unsigned char *in, size_t n, char *out)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i, o = 0;
	unsigned long v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		out[o++] = a[v & 63];
	}
	if (n - i == 1) {
		v = (unsigned long)in[i] << 16;
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
	} else if (n - i == 2) {
		v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8;
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
	}
	out[o] = '\0';
}

/*
 * A name sign_service's CHECK takes (schema/014): an ASCII letter or digit,
 * then up to 63 of those, space, '.', '_' or '-'. Judged here so that a
 * bad name is the operator's mistake (exit 2), not a failed insert (1).
 */
static int
sigservice_name_ok(const char *name)
{
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789";
	static const char rest[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789 ._-";
	size_t n = strlen(name);

	return n >= 1 && n <= 64 && strchr(alnum, name[0]) != NULL &&
	    strspn(name, rest) == n;
}

static int
sigservice_add_txn(struct db *db, void *arg)
{
	struct sigservice_add *s = arg;
	const char *v[3] = { s->name, s->client_id, s->digest };
	PGresult *res = NULL;
	json_t *details = NULL;
	int rc = -1;

	if ((res = db_exec(db, &stmt_sigservice_insert, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		s->taken = 1;
		rc = 0;
		goto out;
	}
	snprintf(s->id, sizeof(s->id), "%s", PQgetvalue(res, 0, 0));
	if ((details = json_pack("{s:s, s:s}", "name", s->name, "client_id",
	    s->client_id)) == NULL ||
	    audit_append(db, s->actor, "sign.service.add", "sign_service", s->id,
	    details, NULL) == -1)
		goto out;
	/*
	 * The only time the secret is shown: written before COMMIT, and the
	 * service is not added when it could not be (stdout full or closed),
	 * or its row would be live with a secret nobody has. A secret printed
	 * for a transaction that then fails harms nobody: its digest is in
	 * no row. Printed once: a retry of the transaction after it was is
	 * not made (exit 1, run again).
	 */
	if (pkictl_secret_once(&s->sec, "id\t%s\nclient_id\t%s\n"
	    "client_secret\t%s\n", s->id, s->client_id, s->secret) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

static int
sigservice_disable(const struct config *cfg, const char *actor, int argc,
    char **argv)
{
	struct pkictl_disable d;
	int rc;

	if (argc != 3 || strcmp(argv[1], "--name") != 0)
		return PKICTL_EXIT_USAGE;
	memset(&d, 0, sizeof(d));
	d.disable = &stmt_sigservice_disable;
	d.exists = &stmt_sigservice_exists;
	d.what = "signing service";
	d.action = "sign.service.disable";
	d.object_type = "sign_service";
	d.name_key = "name";
	d.actor = actor;
	d.name = argv[2];
	if ((rc = pkictl_disable(cfg, &d)) == PKICTL_EXIT_OK)
		printf("signing service %s (id %s) disabled; its tokens and "
		    "SADs no longer work\n", d.name, d.id);
	return rc;
}

int
cmd_sigservice(const struct config *cfg, const char *actor, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct sigservice_add s;
	struct db *db = NULL;
	unsigned char idraw[16], secret[32], md[32];
	char client_id[32], secret_txt[48], *digest = NULL;
	char xid[PKICTL_XID_MAX], what[160];
	unsigned int mdlen = 0;
	int ch, rc = PKICTL_EXIT_FAIL;

	memset(&s, 0, sizeof(s));
	if (argc >= 1 && strcmp(argv[0], "disable") == 0)
		return sigservice_disable(cfg, actor, argc, argv);
	if (argc < 1 || strcmp(argv[0], "add") != 0)
		return PKICTL_EXIT_USAGE;
	optind = 0;	/* glibc: start afresh with argv[0] = "add" */
	while ((ch = pkictl_getopt(argc, argv, opts)) != -1) {
		if (ch != 'n')
			return PKICTL_EXIT_USAGE;
		s.name = optarg;
	}
	if (s.name == NULL || optind != argc)
		return PKICTL_EXIT_USAGE;
	if (!sigservice_name_ok(s.name)) {
		log_err("sigservice add --name: 1 to 64 characters, ASCII "
		    "letters, digits, space, '.', '_' or '-', the first a "
		    "letter or digit");
		return PKICTL_EXIT_USAGE;
	}
	if (RAND_bytes(idraw, sizeof(idraw)) != 1 ||
	    RAND_bytes(secret, sizeof(secret)) != 1) {
		log_openssl(LOGL_ERR, "sigservice: random secret");
		goto out;
	}
	sigservice_b64url(idraw, sizeof(idraw), client_id);
	sigservice_b64url(secret, sizeof(secret), secret_txt);
	/* The digest of the text the client presents (signd hashes it so). */
	if (EVP_Digest(secret_txt, strlen(secret_txt), md, &mdlen,
	    EVP_sha256(), NULL) != 1 ||
	    (digest = db_bytea_param(md, sizeof(md))) == NULL) {
		log_openssl(LOGL_ERR, "sigservice: SHA-256");
		goto out;
	}
	s.actor = actor;
	s.client_id = client_id;
	s.digest = digest;
	s.secret = secret_txt;
	if ((db = pkictl_db(cfg)) == NULL)
		goto out;
	if (pkictl_transaction(db, NULL, 3, sigservice_add_txn, &s, xid) ==
	    -1) {
		snprintf(what, sizeof(what), "sigservice %s", s.name);
		if ((rc = pkictl_secret_failed(cfg, &s.sec, xid, what,
		    "client secret")) == -1) {
			log_err("sigservice not added (see the database's "
			    "message above)");
			rc = PKICTL_EXIT_FAIL;
		}
		if (rc != PKICTL_EXIT_OK)
			goto out;
	}
	if (s.taken) {
		log_err("sigservice: a service named \"%s\" exists", s.name);
		rc = PKICTL_EXIT_REFUSED;
		goto out;
	}
	rc = PKICTL_EXIT_OK;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(secret_txt, sizeof(secret_txt));
	free(digest);
	db_close(db);
	return rc;
}
