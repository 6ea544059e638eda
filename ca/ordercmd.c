/*
 * pkictl order add|show: issuance orders for the CA issuance worker (cad)
 * until the RA inserts them itself; and pkictl wrapkey create: the ceremony
 * step that makes the subscriber-key wrapping key (hsm/p11wrap.h) in the
 * wrap token.
 *
 *	pkictl order add --kind personal|corporate|eseal --profile P
 *	    --key-type T --subject JSON [--issuer NAME]
 *	pkictl order show --id N
 *	pkictl wrapkey create --so-pin-file F [--label L]
 *
 * The subject is the verified data as a JSON object of attribute → string
 * ({"C":"ID","CN":"Budi Santoso","serialNumber":"NIK:..."}); cad builds the
 * subject from it alone and lints it before signing. --issuer names the
 * issuing CA (ca_certificate.name) whose cad alone may issue the order
 * (schema/084); without it any cad takes it. An order and its audit event
 * are written in one transaction. `order show` prints field<TAB>value
 * lines, issuer (that name, or empty) last.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "ca/extern.h"
#include "hsm/p11.h"
#include "hsm/p11wrap.h"
#include "lib/audit.h"
#include "lib/config.h"
#include "lib/db.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/secret.h"

#define ORDER_SUBJECT_MAX	4096
#define ORDER_PIN_MAX		256

/* No row when $6 is not "" and names no issuing CA. */
static const struct db_stmt stmt_order_insert = { "ca_ordercmd_insert",
	"INSERT INTO issuance_order (kind, profile, subject, key_type, "
	"requested_by, issuer_id) SELECT $1, $2, $3::jsonb, $4, $5, i.id FROM "
	"(SELECT NULL::bigint AS id WHERE $6 = '' UNION ALL SELECT id FROM "
	"ca_certificate WHERE $6 <> '' AND name = $6 AND role = 'issuing') i "
	"RETURNING id", 6 };
/* The issuer: the name of the issuing CA the order names, "" for none. */
static const struct db_stmt stmt_order_show = { "ca_ordercmd_show",
	"SELECT o.id, o.kind, o.profile, o.subject::text, o.key_type, o.status, "
	"o.attempts, coalesce(o.last_error, ''), coalesce(c.serial, ''), "
	"coalesce(i.name, '') FROM issuance_order o LEFT JOIN certificate c ON "
	"c.id = o.certificate_id LEFT JOIN ca_certificate i ON i.id = "
	"o.issuer_id WHERE o.id = $1", 1 };

struct order_add {
	const char	*actor;
	const char	*kind, *profile, *key_type, *subject;
	const char	*issuer;	/* "": none */
	long long	 id;
	int		 no_issuer;	/* --issuer names no issuing CA */
};

static int
order_add_txn(struct db *db, void *arg)
{
	struct order_add *o = arg;
	const char *values[6] = { o->kind, o->profile, o->subject, o->key_type,
	    o->actor, o->issuer };
	PGresult *res;
	json_t *details;
	char idbuf[32];
	int rc = -1;

	o->no_issuer = 0;
	res = db_exec(db, &stmt_order_insert, values, NULL, NULL);
	if (res == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		o->no_issuer = 1;
		goto out;
	}
	o->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	snprintf(idbuf, sizeof(idbuf), "%lld", o->id);
	details = json_pack("{s:s, s:s, s:s, s:s, s:o}", "kind", o->kind,
	    "profile", o->profile, "key_type", o->key_type, "subject",
	    o->subject, "issuer", o->issuer[0] != '\0' ?
	    json_string(o->issuer) : json_null());
	if (details == NULL)
		goto out;
	rc = audit_append(db, o->actor, "order.add", "issuance_order", idbuf,
	    details, NULL);
	json_decref(details);
out:
	PQclear(res);
	return rc;
}

/*
 * What the order names, judged before the database is touched: a kind and
 * a key type issuance_order's CHECKs take (schema/007), a profile that is
 * in pki.policy_dir. 0, or -1 logged: the operator's mistake (exit 2),
 * where the failed insert said exit 1 and an unknown profile made an
 * order cad could only fail. Whether the profile suits the kind, key type
 * and subject is cad's lint, when it claims the order.
 */
static int
order_add_ok(const struct config *cfg, const struct order_add *o)
{
	enum p11_keytype kt;
	char path[PATH_MAX];
	size_t n = strlen(o->profile);

	if (strcmp(o->kind, "personal") != 0 &&
	    strcmp(o->kind, "corporate") != 0 && strcmp(o->kind, "eseal") != 0) {
		log_err("--kind %s: one of personal, corporate, eseal", o->kind);
		return -1;
	}
	if (p11_keytype_parse(o->key_type, &kt) == -1) {
		log_err("--key-type %s: one of ec-p256, ec-p384, rsa2048, "
		    "rsa3072, rsa4096", o->key_type);
		return -1;
	}
	/* As schema/007's CHECK, which keeps a path out of the name. */
	if (n == 0 || n > 32 || o->profile[0] < 'a' || o->profile[0] > 'z' ||
	    strspn(o->profile, "abcdefghijklmnopqrstuvwxyz0123456789-") != n) {
		log_err("--profile %s: 1 to 32 of a-z, 0-9 and '-', the first a "
		    "letter", o->profile);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/profiles/%s.cnf",
	    config_get(cfg, "pki.policy_dir", "policy"), o->profile);
	if (access(path, R_OK) == -1) {
		log_err("--profile %s: no such profile (%s: %s)", o->profile,
		    path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
order_add(const struct config *cfg, const char *actor, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kind", required_argument, NULL, 'k' },
		{ "profile", required_argument, NULL, 'p' },
		{ "key-type", required_argument, NULL, 't' },
		{ "subject", required_argument, NULL, 's' },
		{ "issuer", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	struct order_add o;
	struct db *db = NULL;
	json_error_t jerr;
	json_t *subj = NULL;
	int ch, rc = PKICTL_EXIT_FAIL;

	memset(&o, 0, sizeof(o));
	o.actor = actor;
	o.issuer = "";
	while ((ch = pkictl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'k': o.kind = optarg; break;
		case 'p': o.profile = optarg; break;
		case 't': o.key_type = optarg; break;
		case 's': o.subject = optarg; break;
		case 'i': o.issuer = optarg; break;
		default: return PKICTL_EXIT_USAGE;
		}
	}
	if (o.kind == NULL || o.profile == NULL || o.key_type == NULL ||
	    o.subject == NULL || optind != argc)
		return PKICTL_EXIT_USAGE;
	if (order_add_ok(cfg, &o) == -1)
		return PKICTL_EXIT_USAGE;
	subj = json_load_bounded(o.subject, strlen(o.subject),
	    ORDER_SUBJECT_MAX, &jerr);
	if (subj == NULL || !json_is_object(subj)) {
		log_err("--subject: a JSON object of attribute: string expected");
		rc = PKICTL_EXIT_USAGE;
		goto out;
	}
	if ((db = pkictl_db(cfg)) == NULL)
		goto out;
	if (db_transaction(db, NULL, 3, order_add_txn, &o) == -1) {
		if (o.no_issuer)
			log_err("--issuer %s: no issuing CA of that name (pkictl "
			    "ca status): order not added", o.issuer);
		else
			log_err("order not added (see the database's message "
			    "above)");
		goto out;
	}
	printf("%lld\n", o.id);
	rc = PKICTL_EXIT_OK;
out:
	json_decref(subj);
	db_close(db);
	return rc;
}

static int
order_show(const struct config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	const char *id = NULL, *values[1];
	struct db *db = NULL;
	PGresult *res = NULL;
	int ch, i, rc = PKICTL_EXIT_FAIL;
	static const char *const names[] = { "id", "kind", "profile", "subject",
	    "key_type", "status", "attempts", "last_error", "serial", "issuer" };

	while ((ch = pkictl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'i': id = optarg; break;
		default: return PKICTL_EXIT_USAGE;
		}
	}
	if (id == NULL || optind != argc || strspn(id, "0123456789") !=
	    strlen(id) || strlen(id) == 0 || strlen(id) > 18)
		return PKICTL_EXIT_USAGE;
	if ((db = pkictl_db(cfg)) == NULL)
		goto out;
	values[0] = id;
	if ((res = db_exec(db, &stmt_order_show, values, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		log_err("no issuance order %s", id);
		goto out;
	}
	for (i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		printf("%s\t%s\n", names[i], PQgetvalue(res, 0, i));
	rc = PKICTL_EXIT_OK;
out:
	PQclear(res);
	db_close(db);
	return rc;
}

int
cmd_order(const struct config *cfg, const char *actor, int argc, char **argv)
{
	if (strcmp(argv[0], "add") == 0)
		return order_add(cfg, actor, argc, argv);
	if (strcmp(argv[0], "show") == 0)
		return order_show(cfg, argc, argv);
	return PKICTL_EXIT_USAGE;
}

/*
 * The wrap token's PIN comes from hsm.wrap_pin_file, the SO PIN from the
 * file given; the key's label from --label, else cad.wrap_label, else
 * CA_KEY_WRAP. Refused (exit 3) when a key with that label exists.
 */
int
cmd_wrapkey(const struct config *cfg, const char *actor, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "so-pin-file", required_argument, NULL, 's' },
		{ "label", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	const char *so_file = NULL, *label, *token, *pin_file;
	char so_pin[ORDER_PIN_MAX], pin[ORDER_PIN_MAX], err[512], id[64];
	struct p11_module *mod = NULL;
	struct db *db = NULL;
	json_t *details = NULL;
	int ch, rc = PKICTL_EXIT_FAIL;

	so_pin[0] = pin[0] = '\0';
	label = config_get(cfg, "cad.wrap_label", CA_KEY_WRAP);
	if (strcmp(argv[0], "create") != 0)
		return PKICTL_EXIT_USAGE;
	while ((ch = pkictl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 's': so_file = optarg; break;
		case 'l': label = optarg; break;
		default: return PKICTL_EXIT_USAGE;
		}
	}
	if (so_file == NULL || optind != argc)
		return PKICTL_EXIT_USAGE;
	if (pkictl_signer_token(cfg, "wrap", &token, &pin_file) == -1)
		goto out;
	if (pkictl_secret_read("--so-pin-file", so_file, so_pin,
	    sizeof(so_pin)) == -1 || pkictl_secret_read("the PIN file",
	    pin_file, pin, sizeof(pin)) == -1)
		goto out;
	/* The audit event and the key: the event commits only if the key was made. */
	snprintf(id, sizeof(id), "%s/%s", token, label);
	if ((db = pkictl_db(cfg)) == NULL || db_begin(db, NULL) == -1 ||
	    (details = json_pack("{s:s, s:s}", "token", token, "label",
	    label)) == NULL ||
	    audit_append(db, actor, "hsm.wrapkey.create", "hsm_key", id,
	    details, NULL) == -1) {
		log_err("audit event not written: no wrapping key made");
		goto out;
	}
	if ((mod = p11_module_load(config_get(cfg, "hsm.module",
	    "/usr/lib/softhsm/libsofthsm2.so"), err, sizeof(err))) == NULL) {
		log_err("PKCS#11 module: %s", err);
		goto out;
	}
	if (p11wrap_create_wrapping_key(mod, token, so_pin, pin, label, err,
	    sizeof(err)) == -1) {
		log_err("wrapkey create %s in %s: %s", label, token, err);
		if (strstr(err, "exists") != NULL)
			rc = PKICTL_EXIT_REFUSED;
		goto out;
	}
	if (db_commit(db) == -1) {
		log_err("wrapping key %s created but its audit event was not "
		    "committed", label);
		goto out;
	}
	printf("wrapping key %s created in token %s\n", label, token);
	rc = PKICTL_EXIT_OK;
out:
	OPENSSL_cleanse(so_pin, sizeof(so_pin));
	OPENSSL_cleanse(pin, sizeof(pin));
	if (rc != PKICTL_EXIT_OK && db != NULL)
		(void)db_rollback(db);
	json_decref(details);
	db_close(db);
	p11_module_free(mod);
	return rc;
}
