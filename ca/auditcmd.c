/*
 * pkictl audit: the HSM audit key, the seals of the audit trail and its
 * export for auditors (DESIGN.md "Audit"; audit/README.md has the model and
 * lib/auditseal.h the formats).
 *
 *  audit init    generates the audit key (EC P-256, "audit-1" unless
 *		  audit.key_label says otherwise) in the audit token and
 *		  writes its public key to pki.out_dir/audit-pub.pem (or
 *		  --out); refused (exit 3) when the key exists.
 *  audit rotate  --label NEW [--out F]: a new audit key NEW in the audit
 *		  token (pki.out_dir/audit-pub-NEW.pem), recorded with the
 *		  current key's public key, then the handover seal: signed
 *		  by the current key, naming NEW (audit/README.md "Rotating
 *		  the audit key"). Run again after a failure, it keeps a NEW
 *		  its event records and makes the handover seal only.
 *  audit seal    adds every event of transactions that ended since the last
 *		  seal to the Merkle tree, signs the new tree head with the
 *		  audit key and stores the seal (nothing to do, or only the
 *		  last seal's own audit.seal event: exit 0, no seal). Run it
 *		  from a timer; `make up` runs it at start-up.
 *		  An event whose line pkiaudit could not read (over
 *		  AUDITSEAL_LINE_MAX) is refused: nothing is sealed.
 *  audit export  writes the events in tree order and the seals, one JSON
 *		  line each, for `pkiaudit verify` (new files, mode 0600), as
 *		  pki_auditor (pg.auditor_uri), which may not add seals.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "ca/extern.h"
#include "hsm/p11.h"
#include "hsm/signer.h"
#include "lib/audit.h"
#include "lib/auditseal.h"
#include "lib/config.h"
#include "lib/daemon.h"
#include "lib/db.h"
#include "lib/hex.h"
#include "lib/log.h"
#include "lib/merkle.h"
#include "lib/sandbox.h"

#define AUDIT_KEY_LABEL		"audit-1"

/*
 * One sealer at a time: a transaction-level advisory lock on a key of its
 * own, taken through audit_seal_lock (schema/077; a 64-bit key since 087):
 * pki_sealer may take no other.
 */
static const struct db_stmt stmt_lock = { "pkictl_audit_lock",
	"SELECT audit_seal_lock()", 0 };
/*
 * The boundary of this seal (transactions older than xmin have ended) and
 * its time, read after the lock: a seal is never dated before the previous
 * one or before the events it takes.
 */
static const struct db_stmt stmt_now = { "pkictl_audit_now",
	"SELECT txid_snapshot_xmin(txid_current_snapshot()), "
	AUDITSEAL_TIME_SQL("c") " FROM (SELECT clock_timestamp() AS c) AS t", 0 };
static const struct db_stmt stmt_last = { "pkictl_audit_last",
	"SELECT id, tree_size, txid_xmin, encode(root, 'hex'), "
	"coalesce(array_to_string(ARRAY(SELECT encode(f, 'hex') "
	"FROM unnest(frontier) WITH ORDINALITY AS u(f, n) ORDER BY n), ','), ''), "
	AUDITSEAL_TIME_SQL("sealed_at") ", key_label, encode(signature, 'hex'), "
	"coalesce(next_key_label, ''), "
	"coalesce(encode(next_key_sha256, 'hex'), '') "
	"FROM audit_seal ORDER BY id DESC LIMIT 1", 0 };
/*
 * The events below the last seal's boundary: exactly the ones it sealed
 * (its tree_size), unless transaction ids started again below it (a
 * restore without the epoch). Served by the index audit_event_txid.
 */
static const struct db_stmt stmt_below = { "pkictl_audit_below",
	"SELECT count(*) FROM audit_event WHERE txid < $1::bigint", 1 };
static const struct db_stmt stmt_events = { "pkictl_audit_events",
	"SELECT " AUDITSEAL_EVENT_LINE_SQL ", e.id, e.action = 'audit.seal' "
	"FROM audit_event e "
	"WHERE e.txid >= $1::bigint AND e.txid < $2::bigint ORDER BY e.id", 2 };
/*
 * Events the boundary has left out for an hour: a transaction open that
 * long anywhere in the cluster (idle in transaction, a prepared one) holds
 * txid_snapshot_xmin back, and the sealer would seal less and less.
 */
static const struct db_stmt stmt_held_back = { "pkictl_audit_held_back",
	"SELECT count(*), coalesce(min(at)::text, '') FROM audit_event "
	"WHERE txid >= $1::bigint AND at < now() - interval '1 hour'", 1 };
static const struct db_stmt stmt_insert = { "pkictl_audit_insert",
	"INSERT INTO audit_seal (id, tree_size, txid_xmin, root, frontier, "
	"sealed_at, key_label, signature, next_key_label, next_key_sha256) "
	"VALUES ($1, $2, $3, "
	"decode($4, 'hex'), ARRAY(SELECT decode(f, 'hex') FROM "
	"unnest(string_to_array($5, ',')) WITH ORDINALITY AS u(f, n) "
	"ORDER BY n)::bytea[], $8::timestamptz, $6, decode($7, 'hex'), "
	"nullif($9, ''), decode(nullif($10, ''), 'hex'))", 10 };
/* A transaction's id, and its fate after a lost COMMIT answer (extern.h). */
static const struct db_stmt stmt_xact_id = { "pkictl_xact_id",
	"SELECT pg_current_xact_id()::text", 0 };
static const struct db_stmt stmt_xact_status = { "pkictl_xact_status",
	"SELECT coalesce(pg_xact_status($1::xid8), 'unknown')", 1 };
static const struct db_stmt stmt_export_seals = { "pkictl_audit_seals",
	"SELECT id, tree_size, encode(root, 'hex'), "
	AUDITSEAL_TIME_SQL("sealed_at") ", key_label, "
	"encode(signature, 'hex'), coalesce(next_key_label, ''), "
	"coalesce(encode(next_key_sha256, 'hex'), '') FROM audit_seal "
	"ORDER BY id", 0 };
/*
 * The key a handover seal's next key follows: the previous_public_key of
 * the next key's audit.key.create event with the digest the seal names,
 * written by pkictl's ceremony role (`audit rotate`); and the
 * public_key_sha256 of the EARLIEST audit.key.create event by pki_admin
 * of the key it names (previous_label) below the handover seal $3's
 * boundary, which that seal covers: an event added later (someone holding
 * a superuser and pki_admin, naming a key of theirs) is not the earliest.
 */
static const struct db_stmt stmt_prev_key = { "pkictl_audit_prev_key",
	"SELECT coalesce(e.details->>'previous_label', ''), "
	"coalesce(e.details->>'previous_public_key', ''), "
	"coalesce((SELECT o.details->>'public_key_sha256' FROM audit_event o "
	"WHERE o.action = 'audit.key.create' AND o.object_type = 'hsm_key' "
	"AND o.object_id = e.details->>'previous_label' AND "
	"o.db_role = 'pki_admin' AND o.txid < (SELECT txid_xmin FROM "
	"audit_seal WHERE id = $3::bigint) ORDER BY o.id LIMIT 1), '') "
	"FROM audit_event e "
	"WHERE e.action = 'audit.key.create' AND e.object_type = 'hsm_key' AND "
	"e.object_id = $1 AND e.details->>'public_key_sha256' = $2 AND "
	"e.db_role = 'pki_admin' ORDER BY e.id DESC LIMIT 1", 3 };
/* The last seal's number, key and next key (`audit rotate`'s check). */
static const struct db_stmt stmt_last_key = { "pkictl_audit_last_key",
	"SELECT id, key_label, coalesce(next_key_label, '') FROM audit_seal "
	"ORDER BY id DESC LIMIT 1", 0 };
/*
 * Whether `audit rotate --label $1` (the current key $2) would reuse a
 * label: the seals that name it (signed by it or handing over to it), the
 * audit.key.create events that name it, and those of them that are not
 * the record of a rotation from $2 (pki_admin's, with previous_label $2
 * and a public_key: the one event a rotate run again after a failed
 * handover finds).
 */
static const struct db_stmt stmt_label_used = { "pkictl_audit_label_used",
	"SELECT (SELECT count(*) FROM audit_seal WHERE key_label = $1 OR "
	"next_key_label = $1), count(*), count(*) FILTER (WHERE NOT ("
	"coalesce(db_role, '') = 'pki_admin' AND "
	"coalesce(details->>'previous_label', '') = $2 AND "
	"details->>'public_key' IS NOT NULL)) FROM audit_event WHERE "
	"action = 'audit.key.create' AND object_id = $1", 2 };
/* Tree order: by the seal that took the event, then id; unsealed last. */
static const struct db_stmt stmt_export_events = { "pkictl_audit_export",
	"SELECT " AUDITSEAL_EVENT_LINE_SQL " FROM audit_event e ORDER BY "
	"(SELECT s.id FROM audit_seal s WHERE s.txid_xmin > e.txid "
	"ORDER BY s.txid_xmin LIMIT 1) NULLS LAST, e.id", 0 };

/* The audit key's label (audit.key_label), or NULL (logged). */
static const char *
audit_key_label(const struct config *cfg)
{
	const char *label = config_get(cfg, "audit.key_label", AUDIT_KEY_LABEL);

	if (auditseal_label_ok(label))
		return label;
	log_err("audit.key_label: 1 to %d printable ASCII characters, no space "
	    "(it is part of the signed tree head)", AUDITSEAL_LABEL_MAX);
	return NULL;
}

/* The audit token, opened with its PIN. */
static struct p11_token *
audit_token(const struct config *cfg, struct p11_module **mod)
{
	const char *token, *pin_file;

	if (pkictl_signer_token(cfg, "audit", &token, &pin_file) == -1 ||
	    (*mod = pkictl_module(cfg)) == NULL)
		return NULL;
	return pkictl_token(cfg, *mod, token, pin_file);
}

int
pkictl_xact_id(struct db *db, char xid[PKICTL_XID_MAX])
{
	PGresult *res;
	int rc = -1;

	xid[0] = '\0';
	if ((res = db_exec(db, &stmt_xact_id, NULL, NULL, NULL)) != NULL &&
	    PQntuples(res) == 1 && strlen(PQgetvalue(res, 0, 0)) <
	    PKICTL_XID_MAX) {
		snprintf(xid, PKICTL_XID_MAX, "%s", PQgetvalue(res, 0, 0));
		rc = 0;
	}
	PQclear(res);
	return rc;
}

/* The transaction function, then its id: pkictl_transaction's attempts. */
struct pkictl_xact {
	db_txn_fn	 fn;
	void		*arg;
	char		*xid;
};

static int
pkictl_xact_txn(struct db *db, void *arg)
{
	struct pkictl_xact *x = arg;

	x->xid[0] = '\0';
	if (x->fn(db, x->arg) == -1)
		return -1;
	return pkictl_xact_id(db, x->xid);
}

int
pkictl_transaction(struct db *db, const char *isolation, int attempts,
    int (*fn)(struct db *, void *), void *arg, char xid[PKICTL_XID_MAX])
{
	struct pkictl_xact x = { fn, arg, xid };

	xid[0] = '\0';
	return db_transaction(db, isolation, attempts, pkictl_xact_txn, &x);
}

int
pkictl_xact_committed(const struct config *cfg, const char *xid)
{
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	struct db *db;
	PGresult *res;
	const char *v[1] = { xid };
	int waited, rc = -1;

	if (xid[0] == '\0')
		return 0;
	if ((db = pkictl_db_as(cfg, "pg.auditor_uri")) == NULL)
		return -1;
	for (waited = 0; waited <= PKICTL_XACT_WAIT_MS; waited += 100) {
		if ((res = db_exec(db, &stmt_xact_status, v, NULL,
		    NULL)) == NULL)
			break;
		if (strcmp(PQgetvalue(res, 0, 0), "in progress") != 0) {
			rc = strcmp(PQgetvalue(res, 0, 0), "committed") == 0 ?
			    1 : strcmp(PQgetvalue(res, 0, 0), "aborted") == 0 ?
			    0 : -1;
			PQclear(res);
			break;
		}
		PQclear(res);
		nanosleep(&pause, NULL);
	}
	db_close(db);
	return rc;
}

/*
 * An audit key ceremony (`audit init`, `audit rotate`): what it makes and
 * what it found.
 */
struct audit_keygen {
	const char	*what;		/* "audit init", "audit rotate" */
	const char	*label;		/* the key to make */
	const char	*out;		/* its public key file (PEM) */
	/* rotate: the key it follows (its label and public key go in the event) */
	const char	*prev_label;
	/* rotate: a key label that exists with its event recorded is kept */
	int		 existing_ok;
	/* rotate: an event records the label already: it must exist */
	int		 must_exist;
	int		 skipped;	/* out: it was, nothing generated */
	char		 hex[2 * AUDITSEAL_SPKI_HASH + 1];	/* out */
};

/* The audit.key.create event of label with public_key_sha256 $2. */
static const struct db_stmt stmt_key_event = { "pkictl_audit_key_event",
	"SELECT count(*) FROM audit_event WHERE action = 'audit.key.create' "
	"AND object_type = 'hsm_key' AND object_id = $1 AND "
	"details->>'public_key_sha256' = $2", 2 };

/*
 * 1 when an audit.key.create event records the key label with the SHA-256
 * hex, 0 when none does, -1 when the database cannot tell (logged). As
 * pki_auditor: pki_admin does not read the trail.
 */
static int
audit_key_recorded(const struct config *cfg, const char *label,
    const char *hex)
{
	struct db *db;
	PGresult *res;
	const char *v[2] = { label, hex };
	int rc = -1;

	if ((db = pkictl_db_as(cfg, "pg.auditor_uri")) == NULL)
		return -1;
	if ((res = db_exec(db, &stmt_key_event, v, NULL, NULL)) != NULL)
		rc = strcmp(PQgetvalue(res, 0, 0), "0") != 0;
	PQclear(res);
	db_close(db);
	return rc;
}

/*
 * With k->existing_ok, a key k->label already in the token: kept when an
 * audit.key.create event records it (k->skipped, k->hex), refused when
 * none does (a key nobody recorded: destroyed by hand first). An exit
 * status.
 */
static int
audit_keygen_existing(const struct config *cfg, struct p11_token *tok,
    struct audit_keygen *k)
{
	EVP_PKEY *pub = NULL;
	unsigned char md[AUDITSEAL_SPKI_HASH];
	char err[512];
	int r, rc = PKICTL_EXIT_FAIL;

	if (p11_key_public(tok, k->label, &pub, err, sizeof(err)) == -1) {
		log_err("%s: %s", k->what, err);
		goto out;
	}
	if (auditseal_spki_sha256(pub, md) == -1)
		goto out;
	hex_encode(md, sizeof(md), k->hex);
	if ((r = audit_key_recorded(cfg, k->label, k->hex)) == -1)
		goto out;
	if (r == 0) {
		log_err("%s: the key \"%s\" exists in token %s but no "
		    "audit.key.create event records it (SHA-256 %s): refused; "
		    "destroy it, or choose another label", k->what, k->label,
		    p11_token_label(tok), k->hex);
		rc = PKICTL_EXIT_REFUSED;
		goto out;
	}
	printf("%s: the audit key %s exists in token %s and its "
	    "audit.key.create event is recorded: not generated again\n",
	    k->what, k->label, p11_token_label(tok));
	k->skipped = 1;
	rc = PKICTL_EXIT_OK;
out:
	EVP_PKEY_free(pub);
	return rc;
}

/*
 * Generates the audit key k->label (EC P-256) in the audit token, writes
 * its public key to k->out and records it (audit.key.create: token,
 * label, type, public_key_sha256; rotation adds public_key and the
 * previous key's label and public_key, base64 DER) in one transaction,
 * under the key generation lock. Whatever fails after the key was made,
 * the key is destroyed and the file removed: no key exists that no event
 * records. A COMMIT whose answer was lost is asked after. An exit status.
 */
static int
audit_keygen(const struct config *cfg, const char *actor,
    struct audit_keygen *k)
{
	struct p11_module *mod = NULL;
	struct p11_token *tok = NULL;
	struct db *db = NULL;
	EVP_PKEY *pub = NULL, *prev = NULL;
	unsigned char fp[AUDITSEAL_SPKI_HASH];
	char err[512], xid[PKICTL_XID_MAX], *b64 = NULL, *prevb64 = NULL;
	const char *label = k->label, *out = k->out;
	json_t *details = NULL;
	FILE *f = NULL;
	int rc = PKICTL_EXIT_FAIL, r, generated = 0, written = 0;
	int keep = 0;

	k->skipped = 0;
	k->hex[0] = '\0';
	/*
	 * The key generation lock first, as the other ceremonies do: two inits
	 * at once both found the label free and made two keys under it, and
	 * no seal could be made again (the signer refuses an ambiguous label).
	 */
	if ((db = pkictl_db(cfg)) == NULL)
		goto out;
	if ((r = pkictl_keygen_lock(db, k->what)) != 0) {
		if (r == 1)
			rc = PKICTL_EXIT_REFUSED;
		goto out;
	}
	if ((tok = audit_token(cfg, &mod)) == NULL)
		goto out;
	if ((r = p11_key_exists(tok, label, err, sizeof(err))) != 0) {
		if (r == 1 && k->existing_ok) {
			rc = audit_keygen_existing(cfg, tok, k);
			goto out;
		}
		if (r == 1)
			log_err("%s: the audit key \"%s\" exists in token %s: "
			    "refused", k->what, label, p11_token_label(tok));
		else
			log_err("%s: %s", k->what, err);
		rc = r == 1 ? PKICTL_EXIT_REFUSED : PKICTL_EXIT_FAIL;
		goto out;
	}
	/* Recorded but gone from the token: a second key under that label. */
	if (k->must_exist) {
		log_err("%s: an audit.key.create event records the key \"%s\", "
		    "but token %s holds no such key: refused; choose another "
		    "label", k->what, label, p11_token_label(tok));
		rc = PKICTL_EXIT_REFUSED;
		goto out;
	}
	if (k->prev_label != NULL && (p11_key_public(tok, k->prev_label, &prev,
	    err, sizeof(err)) == -1 || (prevb64 = auditseal_spki_b64(prev)) ==
	    NULL)) {
		log_err("%s: the current audit key %s: %s", k->what,
		    k->prev_label, prev == NULL ? err : "cannot encode it");
		goto out;
	}
	if ((f = fopen(out, "wx")) == NULL) {
		log_err("%s: %s: cannot create (exists?)", k->what, out);
		goto out;
	}
	if (db_begin(db, NULL) == -1)
		goto out;
	if (p11_key_generate(tok, label, P11_KEY_EC_P256, &pub, err,
	    sizeof(err)) == -1) {
		log_err("%s: %s", k->what, err);
		goto out;
	}
	generated = 1;
	/* Whatever fails from here on, the file is ours to remove. */
	written = 1;
	if (auditseal_spki_sha256(pub, fp) == -1 ||
	    (b64 = auditseal_spki_b64(pub)) == NULL ||
	    PEM_write_PUBKEY(f, pub) != 1) {
		log_err("%s: writing %s failed", k->what, out);
		goto out;
	}
	if (fclose(f) != 0) {
		f = NULL;
		log_err("%s: writing %s failed", k->what, out);
		goto out;
	}
	f = NULL;
	hex_encode(fp, sizeof(fp), k->hex);
	if ((details = json_pack("{s:s, s:s, s:s, s:s}", "token",
	    p11_token_label(tok), "label", label, "type", "ec-p256",
	    "public_key_sha256", k->hex)) == NULL)
		goto out;
	/* Rotation: what pkiaudit and the next sealer need to follow it. */
	if (k->prev_label != NULL && (json_object_set_new(details,
	    "public_key", json_string(b64)) == -1 ||
	    json_object_set_new(details, "previous_label",
	    json_string(k->prev_label)) == -1 ||
	    json_object_set_new(details, "previous_public_key",
	    json_string(prevb64)) == -1))
		goto out;
	if (audit_append(db, actor, "audit.key.create", "hsm_key", label,
	    details, NULL) == -1)
		goto out;
	/*
	 * A COMMIT whose answer was lost may have committed: ask again, and
	 * keep the key and its file unless the transaction surely did not.
	 */
	if (pkictl_xact_id(db, xid) == -1)
		goto out;
	if (db_commit(db) == -1 && (r = pkictl_xact_committed(cfg, xid)) !=
	    1) {
		if (r == -1) {
			keep = 1;
			log_err("%s: whether the key's event committed "
			    "is unknown (the database does not answer, or the "
			    "COMMIT still waits): key %s and %s are kept; once "
			    "it answers, look for event audit.key.create with "
			    "public_key_sha256 %s; if it is not there, destroy "
			    "the key", k->what, label, out, k->hex);
		}
		goto out;
	}
	printf("audit key %s created in token %s; public key %s (SHA-256 of "
	    "its DER %s)\n", label, p11_token_label(tok), out, k->hex);
	rc = PKICTL_EXIT_OK;
out:
	if (f != NULL) {
		fclose(f);
		remove(out);
	} else if (written && rc != PKICTL_EXIT_OK && !keep)
		remove(out);
	/*
	 * Not committed: no event names the key, so it must not stay either
	 * (a second ceremony would be refused for a key nobody recorded).
	 */
	if (generated && rc != PKICTL_EXIT_OK && !keep) {
		if (p11_key_destroy(tok, label, err, sizeof(err)) == -1)
			log_err("%s: the key generated before the "
			    "failure is still in token %s: %s; destroy it "
			    "before running %s again", k->what,
			    p11_token_label(tok), err, k->what);
		else
			log_err("%s: failed; the key generated was "
			    "destroyed and %s removed", k->what, out);
	}
	json_decref(details);
	free(b64);
	free(prevb64);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(prev);
	db_close(db);
	p11_token_close(tok);
	p11_module_free(mod);
	return rc;
}

/* --out F, or pki.out_dir/NAME into path; NULL (logged) when neither. */
static const char *
audit_out_path(const struct config *cfg, const char *what, const char *out,
    const char *name, char *path, size_t len)
{
	const char *dir;

	if (out != NULL)
		return out;
	if ((dir = config_get(cfg, "pki.out_dir", NULL)) == NULL) {
		log_err("%s: give --out or set pki.out_dir", what);
		return NULL;
	}
	snprintf(path, len, "%s/%s", dir, name);
	return path;
}

static int
audit_init(const struct config *cfg, const char *actor, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct audit_keygen k;
	char path[1024];
	const char *out = NULL;
	int ch;

	while ((ch = pkictl_getopt(argc, argv, opts)) != -1) {
		if (ch != 'o')
			return PKICTL_EXIT_USAGE;
		out = optarg;
	}
	if (optind != argc)
		return PKICTL_EXIT_USAGE;
	memset(&k, 0, sizeof(k));
	k.what = "audit init";
	if ((k.label = audit_key_label(cfg)) == NULL ||
	    (k.out = audit_out_path(cfg, k.what, out, "audit-pub.pem", path,
	    sizeof(path))) == NULL)
		return PKICTL_EXIT_FAIL;
	return audit_keygen(cfg, actor, &k);
}

struct seal_scan {
	struct merkle	 m;
	unsigned long	 added;
	unsigned long	 others;	/* not an audit.seal event */
};

/*
 * Adds one event line to the tree. A line longer than pkiaudit reads
 * (AUDITSEAL_LINE_MAX) is refused: sealed, it would make this seal and
 * every later one unverifiable. schema/040 bounds new events far below.
 */
static int
seal_row(void *arg, const PGresult *row)
{
	struct seal_scan *s = arg;
	unsigned char leaf[MERKLE_HASH];
	size_t len = (size_t)PQgetlength(row, 0, 0);

	if (len > AUDITSEAL_LINE_MAX) {
		log_err("audit seal: event %s: its line is %zu bytes, more "
		    "than the %d pkiaudit verifies (AUDITSEAL_LINE_MAX); "
		    "nothing sealed", PQgetvalue(row, 0, 1), len,
		    AUDITSEAL_LINE_MAX);
		return -1;
	}
	merkle_leaf_hash(PQgetvalue(row, 0, 0), len, leaf);
	if (merkle_append(&s->m, leaf) == -1)
		return -1;
	s->added++;
	if (strcmp(PQgetvalue(row, 0, 2), "t") != 0)
		s->others++;
	return 0;
}

/*
 * The newest seal as stmt_last reads it (the export's forms: its time as
 * pkiaudit will see it), verified with pub (NULL: not verified). 0, or -1
 * with err.
 */
static int
seal_of_row(const PGresult *last, EVP_PKEY *pub, struct auditseal *s,
    char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->next_key, sizeof(s->next_key), "%s",
	    PQgetvalue(last, 0, 8));
	if (s->next_key[0] != '\0' && hex_decode(PQgetvalue(last, 0, 9),
	    s->next_spki_sha256, AUDITSEAL_SPKI_HASH, NULL) == -1) {
		snprintf(err, errlen, "unreadable row");
		return -1;
	}
	s->id = strtoull(PQgetvalue(last, 0, 0), NULL, 10);
	s->tree_size = strtoull(PQgetvalue(last, 0, 1), NULL, 10);
	snprintf(s->sealed_at, sizeof(s->sealed_at), "%s",
	    PQgetvalue(last, 0, 5));
	snprintf(s->key, sizeof(s->key), "%s", PQgetvalue(last, 0, 6));
	if (hex_decode(PQgetvalue(last, 0, 3), s->root, MERKLE_HASH,
	    NULL) == -1 || hex_decode(PQgetvalue(last, 0, 7), s->sig,
	    sizeof(s->sig), &s->siglen) == -1) {
		snprintf(err, errlen, "unreadable row");
		return -1;
	}
	return pub == NULL ? 0 : auditseal_seal_verify(s, pub, err, errlen);
}

/*
 * The events below the last seal's boundary (txid < its txid_xmin) must be
 * the tree_size it sealed. More: transaction ids started again below the
 * boundary (a pg_dump and restore, logical replication) and events were
 * written there since, which no seal would ever take; every export would
 * fail verification from that seal on. Refused until someone deals with
 * it: the count does not go down. 0, or -1 (logged).
 */
static int
seal_check_below(struct db *db, const struct auditseal *prev,
    const char *xmin)
{
	PGresult *res;
	const char *v[1] = { xmin };
	unsigned long long n;
	int rc = -1;

	if ((res = db_exec(db, &stmt_below, v, NULL, NULL)) == NULL)
		return -1;
	n = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	if (n == prev->tree_size)
		rc = 0;
	else
		log_err("audit seal: %llu event(s) have transaction ids below "
		    "seal %llu's boundary (%s), which sealed %llu: the database "
		    "was restored or moved without its transaction-id epoch "
		    "(or events below it were added or deleted), and events "
		    "below it can never be sealed; nothing sealed "
		    "(audit/README.md \"Which events a seal takes\")", n,
		    (unsigned long long)prev->id, xmin,
		    (unsigned long long)prev->tree_size);
	PQclear(res);
	return rc;
}

/*
 * What sealing holds (privilege separation, DESIGN.md): the sealer role's
 * connection, and a signer process that alone logged in to the audit token
 * and signs nothing but tree heads with the audit key (SIGNER_KIND_AUDIT;
 * it checks the text itself). `audit rotate`'s sealer also holds the next
 * key (granted too: the signer signs a head naming it only then), and
 * signs the handover seal naming it.
 */
struct sealer {
	struct db	*db;
	struct signer	*signer;
	EVP_PKEY	*pub;
	const char	*label;
	unsigned char	 md[AUDITSEAL_SPKI_HASH];	/* of pub */
	const char	*next;		/* rotate: the next key, or NULL */
	unsigned char	 next_md[AUDITSEAL_SPKI_HASH];
};

/*
 * The public key that signed prev, a handover seal naming sl's own key:
 * the previous_public_key of that key's audit.key.create event with the
 * digest the seal names (written by pki_admin, pkictl's ceremonies),
 * whose previous_label is the seal's key, and whose SHA-256 is the one
 * the earliest pki_admin audit.key.create event of the seal's key that
 * prev covers records (stmt_prev_key): a pki_admin event added with
 * another previous_public_key, beside a forged handover seal, is refused.
 * A new EVP_PKEY, or NULL (logged).
 */
static EVP_PKEY *
seal_prev_key(struct db *db, const struct sealer *sl,
    const struct auditseal *prev)
{
	PGresult *res;
	EVP_PKEY *k = NULL;
	unsigned char md[AUDITSEAL_SPKI_HASH];
	char hex[2 * AUDITSEAL_SPKI_HASH + 1], id[24];
	char khex[2 * AUDITSEAL_SPKI_HASH + 1];
	const char *v[3] = { sl->label, hex, id };

	hex_encode(prev->next_spki_sha256, AUDITSEAL_SPKI_HASH, hex);
	snprintf(id, sizeof(id), "%llu", (unsigned long long)prev->id);
	if ((res = db_exec(db, &stmt_prev_key, v, NULL, NULL)) == NULL)
		return NULL;
	if (PQntuples(res) != 1)
		log_err("audit seal: no audit.key.create event by pki_admin "
		    "records key %s with SHA-256 %s: the key seal %llu hands "
		    "over from cannot be found; nothing sealed", sl->label, hex,
		    (unsigned long long)prev->id);
	else if (strcmp(PQgetvalue(res, 0, 0), prev->key) != 0)
		log_err("audit seal: key %s's audit.key.create event follows "
		    "key \"%s\", but seal %llu was signed by %s; nothing sealed",
		    sl->label, PQgetvalue(res, 0, 0),
		    (unsigned long long)prev->id, prev->key);
	else if ((k = auditseal_spki_from_b64(PQgetvalue(res, 0, 1))) == NULL)
		log_err("audit seal: key %s's audit.key.create event: "
		    "previous_public_key is not a base64 DER public key; "
		    "nothing sealed", sl->label);
	else if (auditseal_spki_sha256(k, md) == -1) {
		log_err("audit seal: cannot encode key %s's recorded public "
		    "key; nothing sealed", prev->key);
		EVP_PKEY_free(k);
		k = NULL;
	} else if (hex_encode(md, sizeof(md), khex),
	    strcmp(khex, PQgetvalue(res, 0, 2)) != 0) {
		log_err("audit seal: key %s's audit.key.create event names as "
		    "key %s's public key one with SHA-256 %s, but the first "
		    "audit.key.create event by pki_admin of %s that seal %llu "
		    "covers records %s: refused (a key recorded later is not "
		    "%s's); nothing sealed", sl->label, prev->key, khex,
		    prev->key, (unsigned long long)prev->id,
		    PQgetvalue(res, 0, 2)[0] != '\0' ? PQgetvalue(res, 0, 2) :
		    "none", prev->key);
		EVP_PKEY_free(k);
		k = NULL;
	}
	PQclear(res);
	return k;
}

/*
 * The last seal checked as the key that resumes after it: signed by this
 * sealer's key, or, when it is a handover seal naming this sealer's key
 * and its public key's digest, by the key before it (seal_prev_key). A
 * handover seal naming another key stops every other sealer. 0, or -1
 * (logged).
 */
static int
seal_check_last(struct db *db, const PGresult *last, const struct sealer *sl,
    struct auditseal *prev)
{
	EVP_PKEY *k = NULL;
	char err[256] = "";
	int rc = -1;

	if (seal_of_row(last, NULL, prev, err, sizeof(err)) == -1)
		goto bad;
	if (prev->next_key[0] != '\0' && strcmp(prev->next_key,
	    sl->label) != 0) {
		log_err("audit seal: the audit key was rotated to %s at seal "
		    "%llu: set audit.key_label = %s (this sealer signs with %s); "
		    "nothing sealed", prev->next_key,
		    (unsigned long long)prev->id, prev->next_key, sl->label);
		return -1;
	}
	if (prev->next_key[0] != '\0') {
		if (memcmp(prev->next_spki_sha256, sl->md, sizeof(sl->md)) != 0) {
			log_err("audit seal: seal %llu hands over to a key %s "
			    "with another public key than the token's %s; "
			    "nothing sealed", (unsigned long long)prev->id,
			    prev->next_key, sl->label);
			return -1;
		}
		if ((k = seal_prev_key(db, sl, prev)) == NULL)
			return -1;
		if (auditseal_seal_verify(prev, k, err, sizeof(err)) == -1) {
			log_err("audit seal: the handover seal (%llu) does not "
			    "verify with the public key of %s recorded by %s's "
			    "audit.key.create event: %s; nothing sealed",
			    (unsigned long long)prev->id, prev->key, sl->label,
			    err);
			goto out;
		}
		rc = 0;
		goto out;
	}
	if (auditseal_seal_verify(prev, sl->pub, err, sizeof(err)) == 0) {
		rc = 0;
		goto out;
	}
bad:
	if (strcmp(PQgetvalue(last, 0, 6), sl->label) == 0)
		log_err("audit seal: the last seal (%s) does not verify with "
		    "the audit key: %s; nothing sealed", PQgetvalue(last, 0, 0),
		    err[0] != '\0' ? err : "unreadable row");
	else
		log_err("audit seal: the last seal (%s) does not verify with "
		    "the audit key %s: it was signed by key %s, which handed "
		    "nothing over to %s (%s); nothing sealed",
		    PQgetvalue(last, 0, 0), sl->label, PQgetvalue(last, 0, 6),
		    sl->label, err[0] != '\0' ? err : "unreadable row");
out:
	EVP_PKEY_free(k);
	return rc;
}

/*
 * The previous seal's tree (empty when none), once its signature verifies
 * with the audit key (or, after a handover, the key before it:
 * seal_check_last), its frontier gives its root and the events below its
 * boundary are the ones it sealed (seal_check_below): a row changed in the
 * database would otherwise be extended into seals that never verify.
 * 0 or -1.
 */
static int
seal_resume(struct db *db, const PGresult *last, const struct sealer *sl,
    struct merkle *m, uint64_t *next_id, const char **from_xmin)
{
	unsigned char frontier[MERKLE_DEPTH][MERKLE_HASH], root[MERKLE_HASH];
	struct auditseal prev;
	char *list, *tok, *save = NULL;
	size_t nf = 0;
	int rc = -1;

	merkle_init(m);
	*next_id = 1;
	*from_xmin = "0";
	if (PQntuples(last) == 0)
		return 0;
	*next_id = strtoull(PQgetvalue(last, 0, 0), NULL, 10) + 1;
	*from_xmin = PQgetvalue(last, 0, 2);
	if (seal_check_last(db, last, sl, &prev) == -1)
		return -1;
	if (seal_check_below(db, &prev, *from_xmin) == -1)
		return -1;
	if ((list = strdup(PQgetvalue(last, 0, 4))) == NULL)
		return -1;
	for (tok = strtok_r(list, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (nf == MERKLE_DEPTH ||
		    hex_decode(tok, frontier[nf++], MERKLE_HASH, NULL) == -1)
			goto out;
	}
	if (merkle_resume(m, prev.tree_size, (const unsigned char (*)
	    [MERKLE_HASH])frontier, nf) == -1)
		goto out;
	/* A stored frontier must give the signed root. */
	merkle_root(m, root);
	if (memcmp(root, prev.root, MERKLE_HASH) != 0)
		goto out;
	rc = 0;
out:
	if (rc == -1)
		log_err("audit seal: seal %s is inconsistent (its frontier does "
		    "not give its root): run pkiaudit verify on an export",
		    PQgetvalue(last, 0, 0));
	free(list);
	return rc;
}

static void
sealer_close(struct sealer *sl)
{
	EVP_PKEY_free(sl->pub);
	signer_close(sl->signer);
	db_close(sl->db);
	memset(sl, 0, sizeof(*sl));
}

static volatile sig_atomic_t sealer_stop;

static void
sealer_on_signal(int sig)
{
	sealer_stop = sig;
}

/*
 * Sleeps secs seconds, or less when SIGTERM or SIGINT came. They are
 * blocked from the check of sealer_stop until ppoll unblocks them
 * atomically: one arriving between the check and a plain nanosleep was
 * handled, and the sleep still ran its whole period (up to a day).
 */
static void
sealer_sleep(long secs)
{
	sigset_t stop, old, waiting;
	struct timespec ts;
	long long end, left;

	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	if (sigprocmask(SIG_BLOCK, &stop, &old) == -1)
		return;
	waiting = old;
	sigdelset(&waiting, SIGTERM);
	sigdelset(&waiting, SIGINT);
	end = daemon_now_ms() + secs * 1000;
	while (!sealer_stop && (left = end - daemon_now_ms()) > 0) {
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000L;
		if (ppoll(NULL, 0, &ts, &waiting) == -1 && errno != EINTR)
			break;
	}
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
}

/*
 * sandbox_section: the signer's (NULL: pkictl's own, not sandboxed).
 * retry_secs > 0 (the periodic sealer): a database that cannot be reached
 * yet is tried again every retry_secs until a signal.
 */
static int
sealer_open(const struct config *cfg, const char *sandbox_section,
    long retry_secs, const char *next, struct sealer *sl)
{
	struct signer_config sc;
	EVP_PKEY *npub = NULL;
	char err[512];

	memset(sl, 0, sizeof(*sl));
	if ((sl->label = audit_key_label(cfg)) == NULL)
		return -1;
	memset(&sc, 0, sizeof(sc));
	if (signer_config_add_token(&sc, cfg, "audit") == -1 ||
	    signer_config_grant(&sc, SIGNER_KIND_AUDIT, sl->label) == -1 ||
	    (next != NULL && signer_config_grant(&sc, SIGNER_KIND_AUDIT,
	    next) == -1))
		return -1;
	sc.sandbox_section = sandbox_section;
	if ((sl->signer = signer_spawn(&sc, err, sizeof(err))) == NULL) {
		log_err("audit seal: %s (run `pkictl audit init` first)", err);
		goto fail;
	}
	if (signer_pubkey(sl->signer, sl->label, &sl->pub, err,
	    sizeof(err)) == -1 || (next != NULL && signer_pubkey(sl->signer,
	    next, &npub, err, sizeof(err)) == -1)) {
		log_err("audit seal: %s", err);
		goto fail;
	}
	if (auditseal_spki_sha256(sl->pub, sl->md) == -1 || (npub != NULL &&
	    auditseal_spki_sha256(npub, sl->next_md) == -1)) {
		log_err("audit seal: cannot encode the audit public key");
		goto fail;
	}
	EVP_PKEY_free(npub);
	npub = NULL;
	sl->next = next;
	while ((sl->db = pkictl_db_as(cfg, "pg.sealer_uri")) == NULL) {
		if (retry_secs <= 0 || sealer_stop)
			goto fail;
		log_warn("audit sealer: no database yet; trying again in %ld s",
		    retry_secs);
		sealer_sleep(retry_secs);
	}
	return 0;
fail:
	EVP_PKEY_free(npub);
	sealer_close(sl);
	return -1;
}

/*
 * Logs the events the boundary xmin has left unsealed for an hour. 0, or
 * -1 when the query failed (the transaction is then aborted).
 */
static int
audit_warn_held_back(struct db *db, const char *xmin)
{
	PGresult *res;

	if ((res = db_exec(db, &stmt_held_back, &xmin, NULL, NULL)) == NULL)
		return -1;
	if (strcmp(PQgetvalue(res, 0, 0), "0") != 0)
		log_warn("audit seal: %s event(s) since %s cannot be sealed yet: "
		    "a transaction open since then holds the boundary back "
		    "(txid_snapshot_xmin %s; look for it in pg_stat_activity, "
		    "or pg_prepared_xacts, in any database of the cluster)",
		    PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), xmin);
	PQclear(res);
	return 0;
}

/*
 * The seal just inserted, read back as the export will read it, must be
 * the one signed and verify: a stored time that differs (a session's time
 * zone or date style) would make it, and every later seal, unverifiable.
 * 0, or -1 (logged; the caller rolls back).
 */
static int
audit_check_stored(struct db *db, EVP_PKEY *pub, const struct auditseal *want)
{
	struct auditseal got;
	PGresult *res;
	char err[256] = "";
	int rc = -1;

	if ((res = db_exec(db, &stmt_last, NULL, NULL, NULL)) == NULL)
		return -1;
	if (PQntuples(res) != 1 || seal_of_row(res, pub, &got, err,
	    sizeof(err)) == -1 || got.id != want->id ||
	    got.tree_size != want->tree_size ||
	    memcmp(got.root, want->root, MERKLE_HASH) != 0)
		log_err("audit seal: seal %llu as stored would not verify (%s; "
		    "stored time %s, signed %s): nothing sealed",
		    (unsigned long long)want->id, err[0] != '\0' ? err :
		    "another row", PQntuples(res) == 1 ? PQgetvalue(res, 0, 5) :
		    "-", want->sealed_at);
	else
		rc = 0;
	PQclear(res);
	return rc;
}

/*
 * One seal, when there is anything to seal (*sealed set then; NULL
 * accepted). A handover sealer (sl->next) signs a head naming its next
 * key, and seals as soon as any event is new, its own last audit.seal
 * included: the handover must not wait for other news. An exit status.
 */
static int
audit_seal_once(struct sealer *sl, const char *actor, int *sealed)
{
	struct db *db = sl->db;
	struct seal_scan scan;
	struct auditseal seal;
	PGresult *now = NULL, *last = NULL;
	unsigned char *sig = NULL;
	char head[512], err[512], idbuf[24], sizebuf[24], roothex[65],
	    *frontier = NULL, *sighex = NULL;
	const char *from, *v[10];
	char nexthex[2 * AUDITSEAL_SPKI_HASH + 1] = "";
	json_t *details = NULL;
	size_t siglen = 0, i;
	int n, in_txn = 0, rc = PKICTL_EXIT_FAIL;

	if (sealed != NULL)
		*sealed = 0;
	memset(&scan, 0, sizeof(scan));
	memset(&seal, 0, sizeof(seal));
	if (db_begin(db, NULL) == -1)
		goto out;
	in_txn = 1;
	/* One sealer at a time; then the boundary, in a later snapshot. */
	if ((now = db_exec(db, &stmt_lock, NULL, NULL, NULL)) == NULL)
		goto out;
	PQclear(now);
	if ((now = db_exec(db, &stmt_now, NULL, NULL, NULL)) == NULL ||
	    (last = db_exec(db, &stmt_last, NULL, NULL, NULL)) == NULL ||
	    seal_resume(db, last, sl, &scan.m, &seal.id, &from) == -1)
		goto out;
	/*
	 * Transaction ids only grow, unless the database was moved without
	 * its epoch (pg_dump and restore, logical replication): refused before
	 * any event is written below the boundary; once one is, and after the
	 * ids have passed the boundary again, seal_check_below refuses.
	 */
	if (strtoull(PQgetvalue(now, 0, 0), NULL, 10) <
	    strtoull(from, NULL, 10)) {
		log_err("audit seal: the database's transaction ids (%s) are "
		    "below seal %llu's boundary (%s): it was restored or moved "
		    "without its transaction-id epoch, and new events cannot "
		    "be sealed after the old ones; nothing sealed "
		    "(audit/README.md \"Which events a seal takes\")",
		    PQgetvalue(now, 0, 0), (unsigned long long)(seal.id - 1),
		    from);
		goto out;
	}
	if (audit_warn_held_back(db, PQgetvalue(now, 0, 0)) == -1)
		goto out;
	v[0] = from;
	v[1] = PQgetvalue(now, 0, 0);
	if (db_exec_rows(db, &stmt_events, v, 0, seal_row, &scan) == -1)
		goto out;
	/*
	 * The last seal's own event alone is no news: sealing it would write
	 * another, and an idle trail would gain a seal every period for ever.
	 * It is sealed with the next event of anything else.
	 */
	if (scan.others == 0 && (sl->next == NULL || scan.added == 0)) {
		printf("audit seal: no event to seal since seal %llu%s\n",
		    (unsigned long long)(seal.id - 1), scan.added > 0 ?
		    " (only its own audit.seal event)" : "");
		rc = PKICTL_EXIT_OK;
		goto out;
	}
	seal.tree_size = scan.m.size;
	merkle_root(&scan.m, seal.root);
	snprintf(seal.sealed_at, sizeof(seal.sealed_at), "%s",
	    PQgetvalue(now, 0, 1));
	snprintf(seal.key, sizeof(seal.key), "%s", sl->label);
	if (sl->next != NULL) {
		/* The handover seal (audit/README.md "Rotating the audit key"). */
		snprintf(seal.next_key, sizeof(seal.next_key), "%s", sl->next);
		memcpy(seal.next_spki_sha256, sl->next_md, AUDITSEAL_SPKI_HASH);
		hex_encode(sl->next_md, AUDITSEAL_SPKI_HASH, nexthex);
	}
	if ((n = auditseal_head_text(&seal, head, sizeof(head))) == -1)
		goto out;
	if (signer_sign(sl->signer, SIGNER_KIND_AUDIT, sl->label, "SHA256",
	    (const unsigned char *)head, (size_t)n, &sig, &siglen, err,
	    sizeof(err)) == -1) {
		log_err("audit seal: %s", err);
		goto out;
	}
	if (siglen > sizeof(seal.sig)) {
		log_err("audit seal: a signature of %zu bytes", siglen);
		goto out;
	}
	memcpy(seal.sig, sig, siglen);
	seal.siglen = siglen;
	if (auditseal_seal_verify(&seal, sl->pub, err, sizeof(err)) == -1) {
		log_err("audit seal: the signer's signature does not verify with "
		    "the audit key: %s; nothing sealed", err);
		goto out;
	}
	if ((frontier = malloc(scan.m.nf * (2 * MERKLE_HASH + 1) + 1)) == NULL ||
	    (sighex = malloc(2 * siglen + 1)) == NULL)
		goto out;
	frontier[0] = '\0';
	for (i = 0; i < scan.m.nf; i++) {
		if (i > 0)
			strcat(frontier, ",");
		hex_encode(scan.m.frontier[i], MERKLE_HASH,
		    frontier + strlen(frontier));
	}
	hex_encode(seal.root, MERKLE_HASH, roothex);
	hex_encode(sig, siglen, sighex);
	snprintf(idbuf, sizeof(idbuf), "%llu", (unsigned long long)seal.id);
	snprintf(sizebuf, sizeof(sizebuf), "%llu",
	    (unsigned long long)seal.tree_size);
	v[0] = idbuf;
	v[1] = sizebuf;
	v[2] = PQgetvalue(now, 0, 0);
	v[3] = roothex;
	v[4] = frontier;
	v[5] = sl->label;
	v[6] = sighex;
	/* The signed text's time (ISO 8601, Z): read alike in any DateStyle. */
	v[7] = seal.sealed_at;
	v[8] = sl->next != NULL ? sl->next : "";
	v[9] = nexthex;
	if (db_exec_ok(db, &stmt_insert, v) == -1 ||
	    audit_check_stored(db, sl->pub, &seal) == -1)
		goto out;
	/* This event is in the next seal: its transaction is this one. */
	if ((details = json_pack("{s:I, s:I, s:s}", "tree_size",
	    (json_int_t)seal.tree_size, "events", (json_int_t)scan.added,
	    "root", roothex)) == NULL || (sl->next != NULL &&
	    json_object_set_new(details, "next_key", json_pack("{s:s, s:s}",
	    "label", sl->next, "public_key_sha256", nexthex)) == -1) ||
	    audit_append(db, actor, "audit.seal", "audit_seal", idbuf, details,
	    NULL) == -1)
		goto out;
	in_txn = 0;	/* a failed COMMIT rolls back */
	if (db_commit(db) == -1)
		goto out;
	printf("audit seal %s: %lu event(s) added, tree size %s, root %s, "
	    "signed with %s at %s%s%s\n", idbuf, scan.added, sizebuf, roothex,
	    sl->label, seal.sealed_at, sl->next != NULL ? "; hands over to "
	    "the next audit key " : "", sl->next != NULL ? sl->next : "");
	if (sealed != NULL)
		*sealed = 1;
	rc = PKICTL_EXIT_OK;
out:
	/* The connection outlives this seal (the periodic sealer). */
	if (in_txn)
		(void)db_rollback(db);
	json_decref(details);
	free(frontier);
	free(sighex);
	free(sig);
	PQclear(now);
	PQclear(last);
	return rc;
}

static int
audit_seal(const struct config *cfg, const char *actor)
{
	struct sealer sl;
	int rc;

	if (sealer_open(cfg, NULL, 0, NULL, &sl) == -1)
		return PKICTL_EXIT_FAIL;
	rc = audit_seal_once(&sl, actor, NULL);
	sealer_close(&sl);
	return rc;
}

/* Handover attempts of `audit rotate`, a second apart. */
#define AUDIT_ROTATE_TRIES	10

static void
audit_rotate_next_steps(const char *old, const char *next, const char *out)
{
	printf("audit rotate: next: set audit.key_label = %s (pki.conf [audit] "
	    "key_label; the local stack keeps it across `make up`) and restart "
	    "the sealer, which refuses to seal until then; give the auditor "
	    "%s with its SHA-256 (pkiaudit verify follows the handover from "
	    "the first key's --pubkey). The old key %s stays in the audit "
	    "token: a seal it signs after the handover fails verification, "
	    "and no pkictl command destroys it\n", next, out, old);
}

/*
 * `audit rotate --label NEW [--out F]`: the ceremony of audit init for
 * NEW (pki_admin, the key generation lock first; its audit.key.create
 * event also holds NEW's public key and the current key's label and
 * public key), then the handover seal signed by the current key
 * (audit.key_label) naming NEW, through a signer granted both. Refused
 * (exit 3) when the last seal is not the current key's or already hands
 * over to another key; done (exit 0) when it hands over to NEW. Refused
 * (exit 3, nothing changed) when NEW was used before: a seal names it, or
 * an audit.key.create event that is not pki_admin's record of a rotation
 * from the current key with a public_key; a NEW that such a record names
 * is kept when it is in the token (a rotate run again after a failed
 * handover), refused when not. Exit 1 when nothing could be sealed within
 * AUDIT_ROTATE_TRIES seconds (a transaction left open holds the boundary
 * back).
 */
static int
audit_rotate(const struct config *cfg, const char *actor, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "label", required_argument, NULL, 'l' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct audit_keygen k;
	struct sealer sl;
	struct db *db = NULL;
	PGresult *res = NULL;
	char path[1024], name[128];
	const char *old, *next = NULL, *out = NULL, *nk, *key, *lv[2];
	int ch, i, sealed = 0, rc = PKICTL_EXIT_FAIL;

	while ((ch = pkictl_getopt(argc, argv, opts)) != -1) {
		if (ch == 'l')
			next = optarg;
		else if (ch == 'o')
			out = optarg;
		else
			return PKICTL_EXIT_USAGE;
	}
	if (optind != argc || next == NULL)
		return PKICTL_EXIT_USAGE;
	if ((old = audit_key_label(cfg)) == NULL)
		return PKICTL_EXIT_FAIL;
	if (!auditseal_label_ok(next) || strcmp(next, old) == 0) {
		log_err("audit rotate: --label: 1 to %d printable ASCII "
		    "characters, no space, not the current audit.key_label %s",
		    AUDITSEAL_LABEL_MAX, old);
		return PKICTL_EXIT_USAGE;
	}
	snprintf(name, sizeof(name), "audit-pub-%s.pem", next);
	memset(&k, 0, sizeof(k));
	k.what = "audit rotate";
	k.label = next;
	k.prev_label = old;
	k.existing_ok = 1;
	if ((k.out = audit_out_path(cfg, k.what, out, name, path,
	    sizeof(path))) == NULL)
		return PKICTL_EXIT_FAIL;
	/* Where the trail stands, read as the auditor. */
	if ((db = pkictl_db_as(cfg, "pg.auditor_uri")) == NULL ||
	    (res = db_exec(db, &stmt_last_key, NULL, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) == 1) {
		key = PQgetvalue(res, 0, 1);
		nk = PQgetvalue(res, 0, 2);
		if (strcmp(key, old) == 0 && strcmp(nk, next) == 0) {
			printf("audit rotate: seal %s already hands over from %s "
			    "to %s\n", PQgetvalue(res, 0, 0), old, next);
			audit_rotate_next_steps(old, next, k.out);
			rc = PKICTL_EXIT_OK;
			goto out;
		}
		if (nk[0] != '\0' || strcmp(key, old) != 0) {
			log_err("audit rotate: the last seal (%s) was signed by "
			    "key %s%s%s, not by the current audit key %s "
			    "(audit.key_label): refused", PQgetvalue(res, 0, 0),
			    key, nk[0] != '\0' ? " and hands over to " : "", nk,
			    old);
			rc = PKICTL_EXIT_REFUSED;
			goto out;
		}
	}
	PQclear(res);
	/*
	 * A label used before (audit-1 -> 2 -> 3 -> 2, or back to audit-1):
	 * every sealer would stall and verify fail. Only a rotate from the
	 * current key to NEW run again before its handover finds NEW recorded.
	 */
	lv[0] = next;
	lv[1] = old;
	if ((res = db_exec(db, &stmt_label_used, lv, NULL, NULL)) == NULL)
		goto out;
	if (strcmp(PQgetvalue(res, 0, 0), "0") != 0 ||
	    strcmp(PQgetvalue(res, 0, 2), "0") != 0) {
		log_err("audit rotate: the label %s was used before (%s seal(s) "
		    "name it, %s audit.key.create event(s) not of a rotation "
		    "from %s): refused; choose a label never used", next,
		    PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 2), old);
		rc = PKICTL_EXIT_REFUSED;
		goto out;
	}
	k.must_exist = strcmp(PQgetvalue(res, 0, 1), "0") != 0;
	PQclear(res);
	res = NULL;
	db_close(db);
	db = NULL;
	if ((rc = audit_keygen(cfg, actor, &k)) != PKICTL_EXIT_OK)
		goto out;
	rc = PKICTL_EXIT_FAIL;
	if (sealer_open(cfg, NULL, 0, next, &sl) == -1) {
		log_err("audit rotate: key %s is made and recorded, but no "
		    "handover seal was made: run the same `pkictl audit rotate "
		    "--label %s` again", next, next);
		goto out;
	}
	for (i = 0; i < AUDIT_ROTATE_TRIES; i++) {
		if (i > 0)
			sleep(1);
		if ((rc = audit_seal_once(&sl, actor, &sealed)) !=
		    PKICTL_EXIT_OK || sealed)
			break;
	}
	sealer_close(&sl);
	if (rc == PKICTL_EXIT_OK && !sealed) {
		log_err("audit rotate: nothing could be sealed for %d s: a "
		    "transaction left open holds the boundary back "
		    "(audit/README.md \"Which events a seal takes\"); key %s "
		    "is made and recorded: once it has ended, run the same "
		    "`pkictl audit rotate --label %s` again",
		    AUDIT_ROTATE_TRIES, next, next);
		rc = PKICTL_EXIT_FAIL;
	} else if (rc != PKICTL_EXIT_OK)
		log_err("audit rotate: the handover seal failed; key %s is made "
		    "and recorded: run the same `pkictl audit rotate --label "
		    "%s` again", next, next);
	else
		audit_rotate_next_steps(old, next, k.out);
out:
	PQclear(res);
	db_close(db);
	return rc;
}

struct export_out {
	FILE		*f;
	unsigned long	 n;
};

static int
export_row(void *arg, const PGresult *row)
{
	struct export_out *o = arg;

	if (fwrite(PQgetvalue(row, 0, 0), 1, (size_t)PQgetlength(row, 0, 0),
	    o->f) != (size_t)PQgetlength(row, 0, 0) || fputc('\n', o->f) == EOF)
		return -1;
	o->n++;
	return 0;
}

/*
 * A new export file, mode 0600 whatever the umask (the trail names
 * subscribers and officers), not through a symbolic link, never an
 * existing file. NULL when it exists or cannot be made.
 */
static FILE *
export_create(const char *path)
{
	FILE *f;
	int fd;

	if ((fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return NULL;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		remove(path);
	}
	return f;
}

static int
audit_export(const struct config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "events", required_argument, NULL, 'e' },
		{ "seals", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct export_out ev = { NULL, 0 };
	struct auditseal seal;
	struct db *db = NULL;
	PGresult *res = NULL;
	FILE *sf = NULL;
	const char *epath = NULL, *spath = NULL;
	char *line;
	int ch, i, made = 0, rc = PKICTL_EXIT_FAIL;

	while ((ch = pkictl_getopt(argc, argv, opts)) != -1) {
		if (ch == 'e')
			epath = optarg;
		else if (ch == 's')
			spath = optarg;
		else
			return PKICTL_EXIT_USAGE;
	}
	if (optind != argc || epath == NULL || spath == NULL)
		return PKICTL_EXIT_USAGE;
	if ((ev.f = export_create(epath)) != NULL)
		made |= 1;
	if (ev.f == NULL || (sf = export_create(spath)) == NULL) {
		log_err("audit export: %s: cannot create (exists?)",
		    ev.f == NULL ? epath : spath);
		goto out;
	}
	made |= 2;
	/*
	 * One snapshot for both files, as the read-only auditor: the sealer's
	 * role may insert seals, and a bogus one could never be removed.
	 */
	if ((db = pkictl_db_as(cfg, "pg.auditor_uri")) == NULL ||
	    db_begin(db, "REPEATABLE READ") == -1 ||
	    (res = db_exec(db, &stmt_export_seals, NULL, NULL, NULL)) == NULL)
		goto out;
	for (i = 0; i < PQntuples(res); i++) {
		memset(&seal, 0, sizeof(seal));
		seal.id = strtoull(PQgetvalue(res, i, 0), NULL, 10);
		seal.tree_size = strtoull(PQgetvalue(res, i, 1), NULL, 10);
		snprintf(seal.sealed_at, sizeof(seal.sealed_at), "%s",
		    PQgetvalue(res, i, 3));
		snprintf(seal.key, sizeof(seal.key), "%s", PQgetvalue(res, i, 4));
		snprintf(seal.next_key, sizeof(seal.next_key), "%s",
		    PQgetvalue(res, i, 6));
		seal.siglen = strlen(PQgetvalue(res, i, 5)) / 2;
		if (seal.siglen > sizeof(seal.sig) || (seal.next_key[0] != '\0' &&
		    hex_decode(PQgetvalue(res, i, 7), seal.next_spki_sha256,
		    AUDITSEAL_SPKI_HASH, NULL) == -1) ||
		    hex_decode(PQgetvalue(res, i, 2), seal.root,
		    MERKLE_HASH, NULL) == -1 || hex_decode(PQgetvalue(res, i, 5),
		    seal.sig, seal.siglen, NULL) == -1 ||
		    (line = auditseal_seal_json(&seal)) == NULL)
			goto out;
		if (fprintf(sf, "%s\n", line) < 0) {
			free(line);
			goto out;
		}
		free(line);
	}
	if (db_exec_rows(db, &stmt_export_events, NULL, 0, export_row,
	    &ev) == -1 || db_commit(db) == -1)
		goto out;
	i = ferror(sf) || ferror(ev.f);
	i |= fclose(sf) != 0;
	i |= fclose(ev.f) != 0;
	sf = ev.f = NULL;
	if (i) {
		log_err("audit export: write failed");
		goto out;
	}
	printf("audit export: %lu event(s) to %s, %d seal(s) to %s\n", ev.n,
	    epath, PQntuples(res), spath);
	rc = PKICTL_EXIT_OK;
out:
	if (sf != NULL)
		fclose(sf);
	if (ev.f != NULL)
		fclose(ev.f);
	/* Nothing half-written is left for an auditor to trust. */
	if (rc != PKICTL_EXIT_OK && (made & 1))
		remove(epath);
	if (rc != PKICTL_EXIT_OK && (made & 2))
		remove(spath);
	PQclear(res);
	db_close(db);
	return rc;
}

/*
 * `audit seal --every SECONDS`: the periodic sealing DESIGN.md asks for, as
 * a process a service manager (or the local stack) keeps running: a seal
 * now, then one every SECONDS until SIGTERM or SIGINT (exit 0). Like a
 * daemon it forks its signer (which logs in to the audit token, then is
 * demoted and sandboxed), connects as the sealer role, then demotes itself
 * (audit.user, pki-audit when root) and enters SANDBOX_NET_WORKER: no file, no
 * exec, no fork. A database not reachable at start is tried again every
 * period; a seal that fails is logged and tried again at the next period
 * (lib/db connects again after a database outage; the signer logs in
 * again after a token outage); a signer that is gone ends the sealer with
 * status 1, so that whatever supervises it starts a new one.
 */
static int
audit_seal_every(const struct config *cfg, const char *actor, int argc,
    char **argv)
{
	static const struct option opts[] = {
		{ "every", required_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	struct sealer sl;
	struct sigaction sa;
	char *end;
	long secs = -1;
	int ch, rc;

	while ((ch = pkictl_getopt(argc, argv, opts)) != -1) {
		if (ch != 'e')
			return PKICTL_EXIT_USAGE;
		errno = 0;
		secs = strtol(optarg, &end, 10);
		if (errno != 0 || *end != '\0' || secs < 1 || secs > 86400) {
			log_err("audit seal --every: 1 to 86400 seconds");
			return PKICTL_EXIT_USAGE;
		}
	}
	if (optind != argc || secs == -1)
		return PKICTL_EXIT_USAGE;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sealer_on_signal;	/* no SA_RESTART: sleeps end */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (sealer_open(cfg, "audit", secs, NULL, &sl) == -1)
		return sealer_stop ? PKICTL_EXIT_OK : PKICTL_EXIT_FAIL;
	if (daemon_limit_files(cfg, "audit", "sealer", NULL, 0, NULL, 0,
	    config_get(cfg, "pg.sealer_uri", NULL)) == -1 ||
	    sandbox_enter(cfg, "audit", SANDBOX_NET_WORKER) == -1) {
		sealer_close(&sl);
		return PKICTL_EXIT_FAIL;
	}
	log_info("audit sealer: sealing the audit trail every %ld s (signer "
	    "pid %ld)", secs, (long)signer_pid(sl.signer));
	while (!sealer_stop) {
		if ((rc = audit_seal_once(&sl, actor, NULL)) != PKICTL_EXIT_OK)
			log_err("audit sealer: the seal failed (exit %d); trying "
			    "again in %ld s", rc, secs);
		fflush(stdout);
		/* A ^C reaches the signer too: stopping, not a lost signer. */
		if (!sealer_stop && signer_broken(sl.signer)) {
			log_err("audit sealer: the signer process is gone: "
			    "stopping, so that a restart brings a new one");
			sealer_close(&sl);
			return PKICTL_EXIT_FAIL;
		}
		sealer_sleep(secs);
	}
	log_info("audit sealer: signal %d: stopping", (int)sealer_stop);
	sealer_close(&sl);
	return PKICTL_EXIT_OK;
}

int
cmd_audit(const struct config *cfg, const char *actor, int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "init") == 0)
		return audit_init(cfg, actor, argc, argv);
	if (argc == 1 && strcmp(argv[0], "seal") == 0)
		return audit_seal(cfg, actor);
	if (argc >= 2 && strcmp(argv[0], "seal") == 0)
		return audit_seal_every(cfg, actor, argc, argv);
	if (argc >= 1 && strcmp(argv[0], "rotate") == 0)
		return audit_rotate(cfg, actor, argc, argv);
	if (argc >= 1 && strcmp(argv[0], "export") == 0)
		return audit_export(cfg, argc, argv);
	return PKICTL_EXIT_USAGE;
}
