/*
 * The signature activation module (SAM) of signd: its signer process
 * (DESIGN.md "Privilege separation"; hsm/README.md "signd").
 *
 * It alone loads the PKCS#11 module, logs in to the wrap token and holds
 * the pki_sam database role. It never parses HTTP or JSON: the worker sends
 * fixed-format AUTHORIZE and SIGNHASH requests (sam_proto.c), and the SAM
 * decides everything itself from its own database connection, since a
 * compromised worker could lie about what the database says. Not even the
 * calling signing service is the worker's word: each request carries the
 * service's access token, and the SAM takes as caller the service whose
 * live token it is (sign_token, by the token's SHA-256; the service
 * enabled), or refuses (SAM_E_TOKEN) before anything else:
 *
 *  AUTHORIZE  the credential exists and its certificate is valid (not
 *	       revoked, not on hold, within its validity); the subscriber's
 *	       factor (PIN, or an OTP of purpose "sign" issued for this
 *	       credential and these hashes) verifies against the
 *	       owner account's rows with lib/factor.c (rad's rules: failures
 *	       counted, lock-out, OTP consumed; a wrong factor's events name
 *	       the service as actor, and the credential); then a SAD of 256
 *	       random bits
 *	       is made, stored only as SHA-256 with the credential, the
 *	       service, the exact hashes and their count, and an expiry.
 *  SIGNHASH   the certificate is still valid; the SAD exists, is not
 *	       expired, is for this credential, service and hash algorithm,
 *	       covers every hash and none was used, enough signatures are
 *	       left; the hashes are consumed, all are signed with
 *	       p11wrap_sign_many (one unwrap into a non-extractable session
 *	       object, or the key kept unwrapped from an earlier signHash:
 *	       sign.key_cache; a signature per hash) and a freshly unwrapped
 *	       key's signature verified against the certificate's public key
 *	       before any is returned, so a blob moved to another subscriber's
 *	       row never yields a returned signature;
 *	       every signature is audited (sign.hash) in the same transaction
 *	       as the consumption. Nothing is returned unless that commits.
 *	       A refusal rolls all of it back and is then audited alone
 *	       (sign.refused), in a transaction of its own; so is a refused
 *	       AUTHORIZE (sign.authorize_refused) but for a wrong (counted)
 *	       PIN or code, whose own events say it. Beyond a per-service
 *	       budget a minute, a refusal of a kind already audited in that
 *	       minute is only counted, and the counts are one
 *	       sign.refusals_counted event (sam_refusal_txn). A failure at the HSM
 *	       (token unavailable, unwrap or C_Sign error) is no refusal:
 *	       503, not audited, as a database failure.
 *
 * A malformed frame cannot come from a working worker: the SAM exits.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "hsm/p11.h"
#include "hsm/p11wrap.h"
#include "hsm/signer.h"
#include "lib/daemon.h"
#include "hsm/signer_proto.h"
#include "hsm/spki.h"
#include "hsm/signd/extern.h"
#include "lib/audit.h"
#include "lib/config.h"
#include "lib/db.h"
#include "lib/factor.h"
#include "lib/hex.h"
#include "lib/totp.h"
#include "lib/log.h"
#include "lib/sandbox.h"
#include "lib/secret.h"

#define SAM_PIN_MAX		256
#define SAM_TXN_ATTEMPTS	3
#define SAM_WRAP_LABEL		"subscriber-wrap-1"	/* = ca/extern.h CA_KEY_WRAP */
#define SAM_REQ_MAX		(16 * 1024)	/* 100 × 64-byte hashes + head */
#define SAM_KEY_CACHE		1000	/* unwrapped keys kept, per SAM */
/*
 * A service's refusals are audited in full up to
 * sign.refusals_audited_per_minute (SAM_REFUSALS_AUDITED) in each window
 * of SAM_REFUSAL_WINDOW_S, and beyond that the first of each kind; the
 * others are counted and summed up in one event when the window is over
 * (schema/063, hsm/README.md "Refusals: audited, then counted"). Up to
 * SAM_REFUSAL_FLUSH ended windows of any service are summed up with each
 * refusal and each authorization.
 */
#define SAM_REFUSAL_WINDOW_S	60
#define SAM_REFUSALS_AUDITED	30
#define SAM_REFUSAL_FLUSH	16

struct sam {
	const struct config	*cfg;
	struct p11_module	*mod;
	struct p11_token	*tok;
	const char		*wrap_label;
	const char		*module_write_dir;	/* hsm.module_write_dir */
	struct db		*db;
	struct factor_verifier	 fv;
	unsigned char		 totp_key[32];	/* sign.totp_key_file */
	long			 sad_ttl_s;
	long			 refusals_audited;	/* per service and window */
};

/* One reply. */
struct sam_reply {
	uint32_t	 status;
	uint32_t	 error;		/* SAM_REFUSED */
	uint32_t	 retry_after;
	unsigned char	*data;		/* SAM_OK, malloc'd */
	size_t		 len;
	char		 text[256];
};

/*
 * A credential's row. Columns 10..12 are its issuing CA's own status
 * (schema/100, read through ca_certificate_status, 103): the CA
 * certificate's row in certificate revoked (NULL: no such row, none can
 * revoke it), its reason, and the CA outside its validity
 * (ca_certificate's not_before / not_after).
 *
 * The validity and expiry checks (the certificate's, the issuing CA's,
 * the token's, the SAD's) compare with clock_timestamp(), the time of the
 * statement, not now(): now() is the transaction's start, before signHash
 * waited for the locks (up to pki_sam's lock_timeout), and a SAD, token or
 * certificate that expired during that wait passed as live.
 */
#define SAM_CRED_ISSUER \
	"ri.revoked_at IS NOT NULL, coalesce(ri.revocation_reason, -1), " \
	"(clock_timestamp() < ri.not_before OR " \
	"clock_timestamp() > ri.not_after) "
#define SAM_CRED_ISSUER_JOIN \
	"JOIN ca_certificate_status ri ON ri.id = c.issuer_id "
/*
 * Column 13: the subscriber granted the calling service (schema/112, made
 * at the RA); read here, not taken from the worker, and again by every
 * signHash, so that a revoked grant stops the SADs the service holds.
 */
#define SAM_CRED_GRANT(service) \
	"EXISTS (SELECT 1 FROM sign_grant g WHERE g.account_id = " \
	"sc.account_id AND g.service_id = " service ") "
static const struct db_stmt stmt_cred = {
	"signd_sam_credential",
	"SELECT sc.account_id, c.revoked_at IS NOT NULL, "
	"coalesce(c.revocation_reason, -1), clock_timestamp() < c.not_before, "
	"clock_timestamp() > c.not_after, c.der, k.wrapped, k.key_type, "
	"k.wrapping_key_label, c.serial, " SAM_CRED_ISSUER ", "
	SAM_CRED_GRANT("$2::bigint")
	"FROM sign_credential sc JOIN certificate c ON c.id = sc.certificate_id "
	"JOIN subscriber_key k ON k.certificate_id = c.id " SAM_CRED_ISSUER_JOIN
	"WHERE sc.certificate_id = $1",
	2
};
/*
 * The signing service of an access token (its SHA-256, as stored): live
 * and of an enabled service (schema/063 grants pki_sam these columns).
 */
static const struct db_stmt stmt_token_service = {
	"signd_sam_token_service",
	"SELECT t.service_id FROM sign_token t JOIN sign_service s ON "
	"s.id = t.service_id WHERE t.token_sha256 = $1::bytea AND "
	"t.expires_at > clock_timestamp() AND s.disabled_at IS NULL",
	1
};
static const struct db_stmt stmt_sad_insert = {
	"signd_sam_sad_insert",
	"INSERT INTO sign_sad (sad_sha256, certificate_id, account_id, "
	"service_id, hash_algo, num_signatures, remaining, factor, expires_at) "
	"VALUES ($1::bytea, $2, $3, $4, $5, $6::int, $6::int, $7, "
	"now() + make_interval(secs => $8::int)) RETURNING id",
	8
};
/*
 * Up to 64 SADs that expired an hour ago or more go with each new one, and
 * their hashes (schema/041): another SAM's are skipped, not waited for.
 * The database does it (schema/106): pki_sam may not DELETE a SAD, so a
 * compromised SAM cannot take away live ones. One row: how many it removed.
 */
static const struct db_stmt stmt_sad_purge = {
	"signd_sam_sad_purge",
	"SELECT sign_sad_purge_expired()",
	0
};
static const struct db_stmt stmt_sad_hashes = {
	"signd_sam_sad_hashes",
	"INSERT INTO sign_sad_hash (sad_id, hash) "
	"SELECT $1, h FROM unnest($2::text[]) AS h",
	2
};
/*
 * signHash reads the SAD (locked) and the requested credential in one
 * round trip: the credential's columns first, as stmt_cred's (NULL when
 * there is none), then the SAD's from SAM_SAD_COL on.
 */
#define SAM_SAD_COL	14
static const struct db_stmt stmt_sad_find = {
	"signd_sam_sad_find",
	"SELECT sc.account_id, c.revoked_at IS NOT NULL, "
	"coalesce(c.revocation_reason, -1), clock_timestamp() < c.not_before, "
	"clock_timestamp() > c.not_after, c.der, k.wrapped, k.key_type, "
	"k.wrapping_key_label, c.serial, " SAM_CRED_ISSUER ", "
	SAM_CRED_GRANT("s.service_id") ", "
	"s.id, s.certificate_id, s.service_id, s.hash_algo, s.remaining, "
	"s.expires_at <= clock_timestamp(), s.account_id "
	"FROM sign_sad s LEFT JOIN (sign_credential sc "
	"JOIN certificate c ON c.id = sc.certificate_id "
	"JOIN subscriber_key k ON k.certificate_id = c.id "
	SAM_CRED_ISSUER_JOIN ") "
	"ON sc.certificate_id = $2 "
	"WHERE s.sad_sha256 = $1::bytea FOR UPDATE OF s",
	2
};
/*
 * Taken before the certificate is read (schema/049, 100): a revocation in
 * progress, of the certificate or of its issuing CA's own certificate, is
 * waited for and then seen; one that comes while this transaction signs
 * waits for its commit and is stamped after it. The issuer's lock first,
 * then the certificate's. With them the calling service's (schema/107,
 * $2): a disable in progress is waited for, and one that comes waits for
 * this signature's commit. No one takes a service's and a certificate's
 * lock exclusively at once, so the order of the two does not matter.
 */
static const struct db_stmt stmt_sign_lock = {
	"signd_sam_sign_lock",
	"SELECT sign_service_sign_lock($2::bigint), "
	"certificate_chain_sign_lock($1::bigint)",
	2
};
/* The same for an authorization, which takes no certificate's lock. */
static const struct db_stmt stmt_service_lock = {
	"signd_sam_service_lock",
	"SELECT sign_service_sign_lock($1::bigint)",
	1
};
/*
 * Marks the hashes used and counts them off the SAD in one round trip: the
 * count changes only when every hash was covered and unused; the caller
 * refuses (and so rolls back) unless both numbers say so.
 */
static const struct db_stmt stmt_sad_consume = {
	"signd_sam_sad_consume",
	"WITH used AS (UPDATE sign_sad_hash SET used_at = now() "
	"WHERE sad_id = $1 AND hash = ANY($2::text[]) AND used_at IS NULL "
	"RETURNING hash), "
	"counted AS (UPDATE sign_sad SET remaining = remaining - $3::int "
	"WHERE id = $1 AND remaining >= $3::int "
	"AND (SELECT count(*) FROM used) = $3::int RETURNING id) "
	"SELECT (SELECT count(*) FROM used), (SELECT count(*) FROM counted)",
	3
};

/*
 * A service's refusal window (schema/063), locked; made on its first
 * refusal. $1 service, $2 SAM_REFUSAL_WINDOW_S, $3 this refusal's kind.
 * Columns: whether the window is over, refusals audited in full in it,
 * whether one of this kind was, refusals counted, the counts by kind
 * (jsonb), the window's start.
 */
static const struct db_stmt stmt_refusal_window = {
	"signd_sam_refusal_window",
	"INSERT INTO sign_refusal_window AS w (service_id, started_at) "
	"VALUES ($1, now()) ON CONFLICT (service_id) DO UPDATE SET "
	"service_id = EXCLUDED.service_id RETURNING "
	"w.started_at <= now() - make_interval(secs => $2::int), w.audited, "
	"$3::text = ANY(w.kinds), w.refused, w.counted, w.started_at",
	3
};
/* A new window from now. */
static const struct db_stmt stmt_refusal_restart = {
	"signd_sam_refusal_restart",
	"UPDATE sign_refusal_window SET started_at = now(), audited = 0, "
	"kinds = '{}', refused = 0, counted = '{}' WHERE service_id = $1",
	1
};
/* An ended window summed up: nothing left to say of it. */
static const struct db_stmt stmt_refusal_clear = {
	"signd_sam_refusal_clear",
	"UPDATE sign_refusal_window SET audited = 0, kinds = '{}', "
	"refused = 0, counted = '{}' WHERE service_id = $1",
	1
};
static const struct db_stmt stmt_refusal_audited = {
	"signd_sam_refusal_audited",
	"UPDATE sign_refusal_window SET audited = audited + 1, kinds = "
	"CASE WHEN $2::text = ANY(kinds) THEN kinds ELSE "
	"array_append(kinds, $2::text) END WHERE service_id = $1",
	2
};
static const struct db_stmt stmt_refusal_counted = {
	"signd_sam_refusal_counted",
	"UPDATE sign_refusal_window SET refused = refused + 1, counted = "
	"jsonb_set(counted, ARRAY[$2::text], "
	"to_jsonb(coalesce((counted->>$2::text)::bigint, 0) + 1)) "
	"WHERE service_id = $1",
	2
};
/*
 * Ended windows with refusals counted and not yet summed up, any
 * service's, oldest first; another SAM's are skipped. $1 the window,
 * $2 how many.
 */
static const struct db_stmt stmt_refusal_ended = {
	"signd_sam_refusal_ended",
	"SELECT service_id, audited, refused, counted, started_at "
	"FROM sign_refusal_window WHERE refused > 0 AND started_at <= now() - "
	"make_interval(secs => $1::int) ORDER BY started_at LIMIT $2::int "
	"FOR UPDATE SKIP LOCKED",
	2
};

static void	sam_refuse(struct sam_reply *, uint32_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
sam_refuse(struct sam_reply *r, uint32_t error, const char *fmt, ...)
{
	va_list ap;

	r->status = SAM_REFUSED;
	r->error = error;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
}

static void
sam_fail(struct sam_reply *r, const char *text)
{
	size_t n = strlen(text);

	r->status = SAM_FAILED;
	if (n >= sizeof(r->text))
		n = sizeof(r->text) - 1;
	memcpy(r->text, text, n);
	r->text[n] = '\0';
}

static int
sam_send(int fd, const struct sam_reply *r)
{
	unsigned char *b = NULL;
	size_t len = 0;
	int rc;

	switch (r->status) {
	case SAM_OK:
		return signer_proto_send(fd, SAM_OK, r->data, r->len);
	case SAM_REFUSED:
		if (sam_refusal_encode(r->error, r->retry_after, r->text, &b,
		    &len) == -1)
			return -1;
		rc = signer_proto_send(fd, SAM_REFUSED, b, len);
		free(b);
		return rc;
	}
	return signer_proto_send(fd, SAM_FAILED, r->text, strlen(r->text));
}

/* "{hex,hex,...}": the text[] parameter of the hashes (malloc'd). */
static char *
sam_hash_array(const struct sam_hashes *h)
{
	size_t dl = sam_md_len(h->md), i;
	char *s, *p;

	if ((s = malloc(2 + h->n * (2 * dl + 1) + 1)) == NULL)
		return NULL;
	p = s;
	*p++ = '{';
	for (i = 0; i < h->n; i++) {
		if (i > 0)
			*p++ = ',';
		hex_encode(h->h[i], dl, p);
		p += 2 * dl;
	}
	*p++ = '}';
	*p = '\0';
	return s;
}

/*
 * The SHA-256 of a SAD or an access token (32 bytes each) as a bytea
 * parameter (malloc'd), or NULL.
 */
static char *
sam_sad_digest(const unsigned char sad[SIGND_SAD_BYTES])
{
	unsigned char md[32];
	unsigned int n = 0;

	if (EVP_Digest(sad, SIGND_SAD_BYTES, md, &n, EVP_sha256(), NULL) != 1 ||
	    n != 32)
		return NULL;
	return db_bytea_param(md, sizeof(md));
}

_Static_assert(SIGND_TOKEN_BYTES == SIGND_SAD_BYTES,
    "sam_sad_digest() hashes access tokens too");

/*
 * The signing service whose access token the request carries, found by
 * the token's SHA-256 as sign_token stores it: the worker's word for the
 * service is never taken (hsm/README.md "What the SAM trusts"). 0 with
 * svc set to its id; -1 with a refusal (SAM_E_TOKEN: no live token of an
 * enabled service) or a failure in r, and svc "".
 */
static int
sam_service(struct db *db, const unsigned char token[SIGND_TOKEN_BYTES],
    char *svc, size_t svclen, struct sam_reply *r)
{
	PGresult *res = NULL;
	char *digest = NULL;
	const char *v[1];
	int rc = -1;

	svc[0] = '\0';
	if ((digest = sam_sad_digest(token)) == NULL) {
		sam_fail(r, "out of memory");
		goto out;
	}
	v[0] = digest;
	if ((res = db_exec(db, &stmt_token_service, v, NULL, NULL)) == NULL) {
		sam_fail(r, "database error reading the access token");
		goto out;
	}
	if (PQntuples(res) != 1) {
		sam_refuse(r, SAM_E_TOKEN, "the access token is unknown or "
		    "expired, or its signing service is disabled");
		goto out;
	}
	snprintf(svc, svclen, "%s", PQgetvalue(res, 0, 0));
	rc = 0;
out:
	free(digest);
	PQclear(res);
	return rc;
}

/*
 * After sam_service() named svc and the service's lock was taken
 * (schema/107), the token and the service read again, in a statement of
 * their own and so a snapshot taken after the wait: a disable that
 * committed while this transaction waited is seen (one that comes now
 * waits for its commit). 0 when the token still names svc; otherwise -1
 * with a refusal (SAM_E_TOKEN) or a failure in r.
 */
static int
sam_service_locked(struct db *db, const unsigned char token[SIGND_TOKEN_BYTES],
    const char *svc, struct sam_reply *r)
{
	char again[24];

	if (sam_service(db, token, again, sizeof(again), r) == -1)
		return -1;
	if (strcmp(again, svc) != 0) {
		sam_refuse(r, SAM_E_TOKEN, "the access token is unknown or "
		    "expired, or its signing service is disabled");
		return -1;
	}
	return 0;
}

/*
 * 0 when row 0 of res (stmt_cred's columns) is a credential of a
 * subscriber who granted the calling service, whose certificate, and its
 * issuing CA's own, may sign now; otherwise -1 with a refusal in r.
 */
static int
sam_credential_check(const PGresult *res, struct sam_reply *r)
{
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		sam_refuse(r, SAM_E_CREDENTIAL, "no such credential");
		return -1;
	}
	/*
	 * Before any status: a service the subscriber did not grant learns
	 * nothing of the credential (CSC: an unknown credentialID).
	 */
	if (strcmp(PQgetvalue(res, 0, 13), "t") != 0) {
		sam_refuse(r, SAM_E_CREDENTIAL, "the subscriber has not "
		    "granted this signing service (or revoked its grant)");
		return -1;
	}
	if (strcmp(PQgetvalue(res, 0, 1), "t") == 0) {
		if (strcmp(PQgetvalue(res, 0, 2), "6") == 0)
			sam_refuse(r, SAM_E_CRED_STATUS, "the credential's "
			    "certificate is suspended (certificateHold)");
		else
			sam_refuse(r, SAM_E_CRED_STATUS, "the credential's "
			    "certificate is revoked");
		return -1;
	}
	if (strcmp(PQgetvalue(res, 0, 3), "t") == 0 ||
	    strcmp(PQgetvalue(res, 0, 4), "t") == 0) {
		sam_refuse(r, SAM_E_CRED_STATUS, "the credential's certificate "
		    "is outside its validity period");
		return -1;
	}
	/* Its issuing CA's own certificate (schema/100): any reason. */
	if (strcmp(PQgetvalue(res, 0, 10), "t") == 0) {
		if (strcmp(PQgetvalue(res, 0, 11), "6") == 0)
			sam_refuse(r, SAM_E_CRED_STATUS, "the credential's "
			    "issuing CA certificate is suspended "
			    "(certificateHold)");
		else
			sam_refuse(r, SAM_E_CRED_STATUS, "the credential's "
			    "issuing CA certificate is revoked");
		return -1;
	}
	if (strcmp(PQgetvalue(res, 0, 12), "t") == 0) {
		sam_refuse(r, SAM_E_CRED_STATUS, "the credential's issuing CA "
		    "certificate is outside its validity period");
		return -1;
	}
	return 0;
}

/*
 * The credential's row (stmt_cred) when service svc may use it and its
 * certificate may sign now; otherwise a refusal in r and NULL. *res to
 * PQclear.
 */
static PGresult *
sam_credential(struct db *db, uint64_t cred, const char *svc,
    struct sam_reply *r)
{
	char id[24];
	const char *v[2] = { id, svc };
	PGresult *res;

	snprintf(id, sizeof(id), "%llu", (unsigned long long)cred);
	if ((res = db_exec(db, &stmt_cred, v, NULL, NULL)) == NULL) {
		sam_fail(r, "database error reading the credential");
		return NULL;
	}
	if (sam_credential_check(res, r) == -1) {
		PQclear(res);
		return NULL;
	}
	return res;
}

/* enum sam_error's names, for the refusal events. */
static const char *
sam_error_name(uint32_t e)
{
	static const char *const names[] = {
		[SAM_E_REQUEST] = "request",
		[SAM_E_CREDENTIAL] = "credential",
		[SAM_E_CRED_STATUS] = "credential_status",
		[SAM_E_PIN] = "pin",
		[SAM_E_OTP] = "otp",
		[SAM_E_NOT_ENROLLED] = "not_enrolled",
		[SAM_E_LOCKED] = "locked",
		[SAM_E_SAD] = "sad",
		[SAM_E_SAD_EXPIRED] = "sad_expired",
		[SAM_E_HASH] = "hash",
		[SAM_E_ALGO] = "algo",
		[SAM_E_KEY] = "key",
		[SAM_E_UNAVAILABLE] = "unavailable",
		[SAM_E_TOKEN] = "token",
	};

	if (e < sizeof(names) / sizeof(names[0]) && names[e] != NULL)
		return names[e];
	return "unknown";
}

struct sam_refusal_txn {
	const char			*action;	/* sign.refused, ... */
	const char			*service;	/* "": unknown token */
	uint64_t			 credential;
	const struct sam_hashes		*hashes;
	const struct sam_reply		*r;
	const char			*sad_id;	/* "": none found */
	long				 audit_max;	/* sam->refusals_audited */
};

/*
 * The summary of a service's ended refusal window (actor
 * "sign_service:<id>", object the service): when it began, its length,
 * how many refusals were audited in full and how many only counted, and
 * the counts by kind ("<action>/<sam_error name>"). counted is the
 * window's jsonb as text. 0 or -1.
 */
static int
sam_refusal_summary(struct db *db, const char *svc, const char *started,
    const char *audited, const char *refused, const char *counted)
{
	char actor[FACTOR_ACTOR_MAX];
	json_t *kinds;

	snprintf(actor, sizeof(actor), "sign_service:%s", svc);
	if ((kinds = json_loads(counted, JSON_REJECT_DUPLICATES, NULL)) ==
	    NULL || !json_is_object(kinds)) {
		json_decref(kinds);
		return -1;
	}
	return audit_append_new(db, actor, "sign.refusals_counted",
	    "sign_service", svc, json_pack("{s:s, s:s, s:i, s:I, s:I, s:o}",
	    "service_id", svc, "window_start", started, "window_seconds",
	    SAM_REFUSAL_WINDOW_S, "audited", (json_int_t)atoll(audited),
	    "refused", (json_int_t)atoll(refused), "counted", kinds));
}

/*
 * Sums up, in the caller's transaction, up to SAM_REFUSAL_FLUSH ended
 * windows whose counted refusals no event says yet, whichever service's:
 * a service that stops refusing gets its summary with the next refusal
 * or authorization of any service. 0 or -1.
 */
static int
sam_refusal_flush(struct db *db)
{
	char win[16], lim[16];
	const char *v[2] = { win, lim };
	PGresult *res;
	int i, rc = -1;

	snprintf(win, sizeof(win), "%d", SAM_REFUSAL_WINDOW_S);
	snprintf(lim, sizeof(lim), "%d", SAM_REFUSAL_FLUSH);
	if ((res = db_exec(db, &stmt_refusal_ended, v, NULL, NULL)) == NULL)
		return -1;
	for (i = 0; i < PQntuples(res); i++) {
		v[0] = PQgetvalue(res, i, 0);
		if (sam_refusal_summary(db, v[0], PQgetvalue(res, i, 4),
		    PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
		    PQgetvalue(res, i, 3)) == -1 ||
		    db_exec_ok(db, &stmt_refusal_clear, v) == -1)
			goto out;
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/*
 * One refusal event (actor "sign_service:<id>" of the service the SAM
 * found by the token, object the credential asked for): service,
 * credential, the SAD's row when one was found, the refusal (sam_error
 * name and text), hash algorithm and count. Never the SAD nor the token.
 * A token that finds no service (SAM_E_TOKEN) names no service: its actor
 * is "signd:worker", the only party known to have sent it. 0 or -1.
 */
static int
sam_refusal_event(struct db *db, const struct sam_refusal_txn *t)
{
	char cred[24], actor[FACTOR_ACTOR_MAX];
	json_t *details;

	snprintf(cred, sizeof(cred), "%llu", (unsigned long long)t->credential);
	if (t->service[0] != '\0')
		snprintf(actor, sizeof(actor), "sign_service:%s", t->service);
	else
		snprintf(actor, sizeof(actor), "signd:worker");
	if ((details = json_pack("{s:s, s:s, s:s, s:s, s:I}",
	    "credential_id", cred, "error", sam_error_name(t->r->error),
	    "reason", t->r->text, "hash_algo", sam_md_name(t->hashes->md),
	    "num_hashes", (json_int_t)t->hashes->n)) == NULL)
		return -1;
	if (t->service[0] != '\0' && json_object_set_new(details,
	    "service_id", json_string(t->service)) == -1) {
		json_decref(details);
		return -1;
	}
	if (t->sad_id[0] != '\0' && json_object_set_new(details, "sad_id",
	    json_string(t->sad_id)) == -1) {
		json_decref(details);
		return -1;
	}
	return audit_append_new(db, actor, t->action, "sign_credential", cred,
	    details);
}

/*
 * A refusal through the service's window (schema/063): the window ended
 * is summed up (sign.refusals_counted, if it counted any) and a new one
 * begins; then the refusal is audited in full while fewer than audit_max
 * were in this window, or when none of its kind was, and otherwise only
 * counted. Every service's refusals are bounded so: at most
 * audit_max, plus one per kind, plus the summary, per window. A token
 * that finds no service is always audited (only a compromised worker or a
 * token ending between the worker's check and the SAM's gets there).
 * 0 or -1.
 */
static int
sam_refusal_txn(struct db *db, void *arg)
{
	const struct sam_refusal_txn *t = arg;
	PGresult *res = NULL;
	char win[16], kind[64];
	const char *v[3];
	int ended, seen, rc = -1;

	if (sam_refusal_flush(db) == -1)
		return -1;
	if (t->service[0] == '\0')
		return sam_refusal_event(db, t);
	snprintf(win, sizeof(win), "%d", SAM_REFUSAL_WINDOW_S);
	snprintf(kind, sizeof(kind), "%s/%s", t->action,
	    sam_error_name(t->r->error));
	v[0] = t->service;
	v[1] = win;
	v[2] = kind;
	if ((res = db_exec(db, &stmt_refusal_window, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	ended = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	seen = !ended && strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	if (ended) {
		if (strcmp(PQgetvalue(res, 0, 3), "0") != 0 &&
		    sam_refusal_summary(db, t->service, PQgetvalue(res, 0, 5),
		    PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 3),
		    PQgetvalue(res, 0, 4)) == -1)
			goto out;
		if (db_exec_ok(db, &stmt_refusal_restart, v) == -1)
			goto out;
	}
	v[1] = kind;
	if (ended || !seen || atol(PQgetvalue(res, 0, 1)) < t->audit_max) {
		if (sam_refusal_event(db, t) == -1 ||
		    db_exec_ok(db, &stmt_refusal_audited, v) == -1)
			goto out;
	} else {
		if (db_exec_ok(db, &stmt_refusal_counted, v) == -1)
			goto out;
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/*
 * Audits a refused request after its transaction rolled back (or wrote
 * nothing), so that what a probing service or a compromised worker tries
 * stays in the trail, in full or counted (sam_refusal_txn); the refusal
 * itself stands whether or not this commits.
 */
static void
sam_audit_refusal(struct sam *sam, const char *action, const char *service,
    uint64_t credential, const struct sam_hashes *hashes, const char *sad_id,
    const struct sam_reply *r)
{
	struct sam_refusal_txn t;

	t.action = action;
	t.service = service;
	t.credential = credential;
	t.hashes = hashes;
	t.r = r;
	t.sad_id = sad_id;
	t.audit_max = sam->refusals_audited;
	if (db_transaction(sam->db, NULL, SAM_TXN_ATTEMPTS, sam_refusal_txn,
	    &t) == -1)
		log_err("sam: %s on credential %llu by service %s could not "
		    "be audited", action, (unsigned long long)credential,
		    service[0] != '\0' ? service : "(unknown token)");
}

/* --- AUTHORIZE ----------------------------------------------------------------- */

/* Every authorization's hashes can be an OTP's binding. */
_Static_assert(SIGND_HASHES_MAX <= FACTOR_BINDING_HASHES_MAX,
    "an authorization may carry more hashes than an OTP can be bound to");

struct sam_auth_txn {
	struct sam			*sam;
	const struct sam_authorize_req	*q;
	struct sam_reply		*r;
	unsigned char			 sad[SIGND_SAD_BYTES];
	int				 refused;
	enum factor_result		 factor;	/* fo.result, or OK */
	char				 service[24];	/* the token's; "" before
							   it is found */
};

static int
sam_auth_txn(struct db *db, void *arg)
{
	struct sam_auth_txn *t = arg;
	const struct sam_authorize_req *q = t->q;
	struct factor f;
	struct factor_outcome fo;
	struct factor_origin from;
	PGresult *res = NULL, *res2 = NULL;
	char cred[24], acct[24], num[16], ttl[16], sadid[24];
	char actor[FACTOR_ACTOR_MAX];
	const char *svc = t->service;
	char *digest = NULL, *hashes = NULL;
	const unsigned char *hp[SIGND_HASHES_MAX];
	const char *v[8];
	json_t *details = NULL;
	uint32_t i;
	int rc = -1;

	memset(&f, 0, sizeof(f));
	t->refused = 0;
	t->factor = FACTOR_OK;
	memset(t->r, 0, sizeof(*t->r));
	snprintf(cred, sizeof(cred), "%llu", (unsigned long long)q->credential);
	/*
	 * The caller first: the service is the token's, never the worker's;
	 * then its lock (schema/107), and the service again under it: a SAD
	 * is not made for a service whose disable committed meanwhile.
	 */
	if (sam_service(db, q->token, t->service, sizeof(t->service),
	    t->r) == -1)
		goto stopped;
	v[0] = svc;
	if ((res = db_exec(db, &stmt_service_lock, v, NULL, NULL)) == NULL)
		goto out;
	PQclear(res);
	res = NULL;
	if (sam_service_locked(db, q->token, svc, t->r) == -1 ||
	    (res = sam_credential(db, q->credential, svc, t->r)) == NULL)
		goto stopped;
	snprintf(acct, sizeof(acct), "%s", PQgetvalue(res, 0, 0));
	f.type = q->factor == SAM_FACTOR_PIN ? FACTOR_PIN :
	    q->factor == SAM_FACTOR_TOTP ? FACTOR_TOTP : FACTOR_OTP;
	f.otp_id = (long long)q->otp_id;
	memcpy(f.secret, q->secret, sizeof(f.secret));
	/*
	 * An OTP authorizes the key and the documents it was issued for
	 * (schema/060, 061): this credential and these hashes must be the
	 * ones the subscriber asked the code for. The credential is the one
	 * this authorization (and its SAD) is for, never one the worker
	 * names apart from it.
	 */
	if (f.type == FACTOR_OTP) {
		snprintf(f.credential, sizeof(f.credential), "%llu",
		    (unsigned long long)q->credential);
		for (i = 0; i < q->hashes.n; i++)
			hp[i] = q->hashes.h[i];
		if (factor_sign_binding(f.credential, sam_md_name(
		    q->hashes.md), hp, q->hashes.n, sam_md_len(q->hashes.md),
		    f.binding) == -1)
			goto out;
		f.bound = 1;
	}
	/*
	 * The service sent the factor: a wrong one is audited as its act
	 * (the subscriber is the event's object), naming the credential.
	 */
	snprintf(actor, sizeof(actor), "sign_service:%s", svc);
	from.actor = actor;
	from.service_id = svc;
	from.credential_id = cred;
	if (factor_check_from(&t->sam->fv, db, acct, "sign", &f, &from,
	    &fo) == -1)
		goto out;
	t->factor = fo.result;
	if (fo.result != FACTOR_OK) {
		t->refused = 1;
		t->r->retry_after = (uint32_t)(fo.retry_after > 0 ?
		    fo.retry_after : 0);
		switch (fo.result) {
		case FACTOR_LOCKED:
			sam_refuse(t->r, SAM_E_LOCKED, "%s", fo.detail);
			break;
		case FACTOR_NOT_ENROLLED:
			sam_refuse(t->r, SAM_E_NOT_ENROLLED, "%s", fo.detail);
			break;
		default:
			sam_refuse(t->r, f.type == FACTOR_PIN ? SAM_E_PIN :
			    SAM_E_OTP, "%s", fo.detail);
			break;
		}
		t->r->retry_after = (uint32_t)(fo.retry_after > 0 ?
		    fo.retry_after : 0);
		rc = 0;		/* COMMIT the failure record, nothing else */
		goto out;
	}
	if (RAND_bytes(t->sad, sizeof(t->sad)) != 1 ||
	    (digest = sam_sad_digest(t->sad)) == NULL ||
	    (hashes = sam_hash_array(&q->hashes)) == NULL)
		goto out;
	snprintf(num, sizeof(num), "%u", q->hashes.n);
	snprintf(ttl, sizeof(ttl), "%ld", t->sam->sad_ttl_s);
	v[0] = digest;
	v[1] = cred;
	v[2] = acct;
	v[3] = svc;
	v[4] = sam_md_name(q->hashes.md);
	v[5] = num;
	v[6] = fo.kind;
	v[7] = ttl;
	if ((res2 = db_exec(db, &stmt_sad_insert, v, NULL, NULL)) == NULL ||
	    PQntuples(res2) != 1)
		goto out;
	snprintf(sadid, sizeof(sadid), "%s", PQgetvalue(res2, 0, 0));
	v[0] = sadid;
	v[1] = hashes;
	if (db_exec_ok(db, &stmt_sad_hashes, v) == -1)
		goto out;
	PQclear(res2);
	if ((res2 = db_exec(db, &stmt_sad_purge, NULL, NULL, NULL)) == NULL ||
	    sam_refusal_flush(db) == -1)
		goto out;
	if ((details = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I, "
	    "s:I}", "account_id", acct, "certificate_id", cred, "service_id",
	    svc, "factor", fo.kind, "otp_id", (json_int_t)fo.otp_id,
	    "hash_algo", sam_md_name(q->hashes.md), "num_signatures",
	    (json_int_t)q->hashes.n, "expires_in",
	    (json_int_t)t->sam->sad_ttl_s, "expired_removed",
	    (json_int_t)atoll(PQgetvalue(res2, 0, 0)))) == NULL ||
	    audit_append(db, "sam:authorize", "sign.authorize", "sign_sad",
	    sadid, details, NULL) == -1)
		goto out;
	rc = 0;
	goto out;
stopped:	/* a refusal (committed, then audited alone) or a failure in t->r */
	t->refused = t->r->status == SAM_REFUSED;
	rc = t->refused ? 0 : -1;
out:
	factor_wipe(&f, sizeof(f));
	json_decref(details);
	free(digest);
	free(hashes);
	PQclear(res2);
	PQclear(res);
	return rc;
}

static int
sam_answer_authorize(struct sam *sam, const unsigned char *body, size_t len,
    struct sam_reply *r)
{
	struct sam_authorize_req q;
	struct sam_auth_txn t;
	unsigned char *out = NULL;

	if (sam_authorize_decode(body, len, &q) == -1)
		return -1;
	memset(&t, 0, sizeof(t));
	t.sam = sam;
	t.q = &q;
	t.r = r;
	if (db_transaction(sam->db, NULL, SAM_TXN_ATTEMPTS, sam_auth_txn,
	    &t) == -1) {
		if (r->status != SAM_REFUSED)
			sam_fail(r, "authorization failed (database)");
		goto out;
	}
	if (t.refused) {
		/*
		 * Only a wrong PIN or code (FACTOR_WRONG, counted) is in the
		 * trail already: lib/factor.c wrote ra.factor.failed or
		 * ra.otp.failed, by the service. Every other refusal wrote
		 * nothing: a revoked or unknown credential, factors locked,
		 * and also an OTP or TOTP code refused without counting (a
		 * replayed TOTP code; an OTP that is used, expired, dead, of
		 * another purpose or of another account), though it answers
		 * invalid_otp like a wrong code.
		 */
		if (t.factor != FACTOR_WRONG)
			sam_audit_refusal(sam, "sign.authorize_refused",
			    t.service, q.credential, &q.hashes, "", r);
		goto out;
	}
	if ((out = malloc(SIGND_SAD_BYTES + 4)) == NULL) {
		sam_fail(r, "out of memory");
		goto out;
	}
	memcpy(out, t.sad, SIGND_SAD_BYTES);
	out[32] = (unsigned char)(sam->sad_ttl_s >> 24);
	out[33] = (unsigned char)(sam->sad_ttl_s >> 16);
	out[34] = (unsigned char)(sam->sad_ttl_s >> 8);
	out[35] = (unsigned char)sam->sad_ttl_s;
	r->status = SAM_OK;
	r->data = out;
	r->len = SIGND_SAD_BYTES + 4;
	log_info("sam: credential %llu authorized for %u signature(s) by "
	    "service %s (%s)", (unsigned long long)q.credential, q.hashes.n,
	    t.service, q.factor == SAM_FACTOR_PIN ? "pin" :
	    q.factor == SAM_FACTOR_TOTP ? "totp" : "otp");
out:
	if (r->status == SAM_REFUSED)
		log_warn("sam: authorize of credential %llu by service %s "
		    "refused: %s", (unsigned long long)q.credential,
		    t.service[0] != '\0' ? t.service : "(unknown token)",
		    r->text);
	OPENSSL_cleanse(t.sad, sizeof(t.sad));
	OPENSSL_cleanse(&q, sizeof(q));
	return 0;
}

/* --- SIGNHASH ------------------------------------------------------------------ */

struct sam_sign_txn {
	struct sam			*sam;
	const struct sam_signhash_req	*q;
	struct sam_reply		*r;
	unsigned char			*sigs[SIGND_HASHES_MAX];
	size_t				 lens[SIGND_HASHES_MAX];
	uint32_t			 nsigs;
	int				 refused;
	int				 hsm_failed;	/* p11wrap failed, not
							   refused: 503 */
	char				 sad_id[24];	/* the SAD's row, once
							   found; "" before */
	char				 service[24];	/* the token's; "" before
							   it is found */
};

static void
sam_sign_clear(struct sam_sign_txn *t)
{
	uint32_t i;

	for (i = 0; i < t->nsigs; i++) {
		free(t->sigs[i]);
		t->sigs[i] = NULL;
	}
	t->nsigs = 0;
}

/* Signs every hash of q with the credential's key; 0 or -1 (r set). */
static int
sam_sign_all(struct sam_sign_txn *t, const PGresult *cred)
{
	const struct sam_signhash_req *q = t->q;
	const char *kt = PQgetvalue(cred, 0, 7);
	unsigned char *der = NULL, *blob = NULL;
	const unsigned char *digests[SIGND_HASHES_MAX];
	size_t derlen = 0, bloblen = 0, dl = sam_md_len(q->hashes.md);
	EVP_PKEY *pub = NULL;
	enum p11wrap_pad pad;
	char err[256];
	uint32_t i;
	int rc = -1, rsa = strncmp(kt, "rsa", 3) == 0, n;

	if ((rsa && q->algo == SAM_ALGO_ECDSA) ||
	    (!rsa && q->algo != SAM_ALGO_ECDSA)) {
		sam_refuse(t->r, SAM_E_ALGO, "signAlgo does not fit the "
		    "credential's %s key", kt);
		t->refused = 1;
		goto out;
	}
	pad = q->algo == SAM_ALGO_RSA_PSS ? P11WRAP_PAD_PSS : P11WRAP_PAD_PKCS1;
	if (strcmp(PQgetvalue(cred, 0, 8), t->sam->wrap_label) != 0) {
		log_err("sam: credential %llu: key wrapped under \"%s\", not "
		    "\"%s\"", (unsigned long long)q->credential,
		    PQgetvalue(cred, 0, 8), t->sam->wrap_label);
		sam_refuse(t->r, SAM_E_KEY, "the credential's key cannot be used");
		t->refused = 1;
		goto out;
	}
	if (db_bytea_value(PQgetvalue(cred, 0, 5), &der, &derlen) == -1 ||
	    db_bytea_value(PQgetvalue(cred, 0, 6), &blob, &bloblen) == -1 ||
	    derlen > LONG_MAX) {
		sam_fail(t->r, "reading the credential");
		goto out;
	}
	/*
	 * The certificate's key, not the whole certificate: d2i_X509 read
	 * the key through OpenSSL 3.0's decoders, a fifth of a cold
	 * signHash's CPU here (hsm/spki.h).
	 */
	if ((pub = spki_cert_pkey(der, derlen)) == NULL) {
		sam_fail(t->r, "the credential's certificate does not decode");
		goto out;
	}
	for (i = 0; i < q->hashes.n; i++)
		digests[i] = q->hashes.h[i];
	/*
	 * One unwrap for all the hashes (none when the key is kept from an
	 * earlier signHash with this blob and this certificate's key); a
	 * freshly unwrapped key's signature is checked against the
	 * certificate's own public key inside p11wrap_sign_many: a blob
	 * moved to another row signs, but nothing is returned.
	 */
	n = p11wrap_sign_many(t->sam->tok, t->sam->wrap_label, blob, bloblen,
	    pub, sam_md_name(q->hashes.md), pad, digests, q->hashes.n, dl,
	    t->sigs, t->lens, err, sizeof(err));
	if (n == P11WRAP_E_MISMATCH) {
		log_err("sam: credential %llu: %s",
		    (unsigned long long)q->credential, err);
		sam_refuse(t->r, SAM_E_KEY, "the credential's key did not "
		    "produce a signature that verifies with its certificate");
		t->refused = 1;
		goto out;
	}
	/*
	 * Anything else (the token away after its reconnects, a C_Sign or
	 * unwrap error, out of memory) says nothing about the key or the
	 * request: no sign.refused event, and the caller answers 503.
	 */
	if (n != 0) {
		log_err("sam: credential %llu: signing failed at the HSM: %s",
		    (unsigned long long)q->credential, err);
		sam_fail(t->r, "signing failed at the HSM");
		t->hsm_failed = 1;
		goto out;
	}
	t->nsigs = q->hashes.n;
	for (i = 0; i < q->hashes.n; i++)
		if (t->lens[i] > SIGND_SIG_MAX) {
			sam_fail(t->r, "signature too long");
			goto out;
		}
	rc = 0;
out:
	EVP_PKEY_free(pub);
	if (blob != NULL)
		OPENSSL_cleanse(blob, bloblen);
	free(blob);
	free(der);
	return rc;
}

static int
sam_sign_txn(struct db *db, void *arg)
{
	struct sam_sign_txn *t = arg;
	const struct sam_signhash_req *q = t->q;
	PGresult *cred = NULL, *sad = NULL, *res = NULL;
	char credid[24], num[16], sadid[24], hex[129];
	const char *svc = t->service;
	char *digest = NULL, *hashes = NULL;
	const char *v[3];
	json_t *details = NULL;
	unsigned long used;
	uint32_t i;
	int rc = -1;

	sam_sign_clear(t);
	t->refused = 0;
	t->hsm_failed = 0;
	t->sad_id[0] = '\0';
	memset(t->r, 0, sizeof(*t->r));
	snprintf(credid, sizeof(credid), "%llu",
	    (unsigned long long)q->credential);
	/* The caller first: the service is the token's, never the worker's. */
	if (sam_service(db, q->token, t->service, sizeof(t->service),
	    t->r) == -1) {
		if (t->r->status == SAM_REFUSED)
			goto refused;
		goto out;
	}
	if ((digest = sam_sad_digest(q->sad)) == NULL ||
	    (hashes = sam_hash_array(&q->hashes)) == NULL)
		goto out;
	v[0] = credid;
	v[1] = svc;
	if ((res = db_exec(db, &stmt_sign_lock, v, NULL, NULL)) == NULL)
		goto out;
	PQclear(res);
	res = NULL;
	/* Under the service's lock: a disable committed meanwhile is seen. */
	if (sam_service_locked(db, q->token, svc, t->r) == -1) {
		if (t->r->status == SAM_REFUSED)
			goto refused;
		goto out;
	}
	v[0] = digest;
	v[1] = credid;
	if ((sad = db_exec(db, &stmt_sad_find, v, NULL, NULL)) == NULL)
		goto out;
	/* Every refusal below rolls back: nothing is consumed. */
	if (PQntuples(sad) != 1) {
		sam_refuse(t->r, SAM_E_SAD, "invalid SAD");
		goto refused;
	}
	snprintf(t->sad_id, sizeof(t->sad_id), "%s",
	    PQgetvalue(sad, 0, SAM_SAD_COL));
	if (strcmp(PQgetvalue(sad, 0, SAM_SAD_COL + 1), credid) != 0) {
		sam_refuse(t->r, SAM_E_SAD, "the SAD was not issued for this "
		    "credential");
		goto refused;
	}
	/*
	 * svc is the token's, and sam_service_locked() found it enabled
	 * under its lock: a SAD issued before its service was disabled does
	 * not outlive it, and the service stays enabled until this commits.
	 */
	if (strcmp(PQgetvalue(sad, 0, SAM_SAD_COL + 2), svc) != 0) {
		sam_refuse(t->r, SAM_E_SAD, "the SAD was issued to another "
		    "signing service");
		goto refused;
	}
	if (strcmp(PQgetvalue(sad, 0, SAM_SAD_COL + 5), "t") == 0) {
		sam_refuse(t->r, SAM_E_SAD_EXPIRED, "SAD expired");
		goto refused;
	}
	if (strcmp(PQgetvalue(sad, 0, SAM_SAD_COL + 3),
	    sam_md_name(q->hashes.md)) != 0) {
		sam_refuse(t->r, SAM_E_HASH, "the SAD was issued for %s "
		    "hashes", PQgetvalue(sad, 0, SAM_SAD_COL + 3));
		goto refused;
	}
	if (strtol(PQgetvalue(sad, 0, SAM_SAD_COL + 4), NULL, 10) <
	    (long)q->hashes.n) {
		sam_refuse(t->r, SAM_E_SAD, "the SAD has %s signature(s) "
		    "left", PQgetvalue(sad, 0, SAM_SAD_COL + 4));
		goto refused;
	}
	/* The same row holds the credential's columns (stmt_cred's). */
	if (sam_credential_check(sad, t->r) == -1)
		goto refused;
	cred = sad;
	if (strcmp(PQgetvalue(cred, 0, 0), PQgetvalue(sad, 0, SAM_SAD_COL + 6))
	    != 0) {
		sam_refuse(t->r, SAM_E_SAD, "the SAD was issued to another "
		    "subscriber");
		goto refused;
	}
	snprintf(sadid, sizeof(sadid), "%s", PQgetvalue(sad, 0, SAM_SAD_COL));
	snprintf(num, sizeof(num), "%u", q->hashes.n);
	v[0] = sadid;
	v[1] = hashes;
	v[2] = num;
	if ((res = db_exec(db, &stmt_sad_consume, v, NULL, NULL)) == NULL)
		goto out;
	used = strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	if (used != q->hashes.n) {
		sam_refuse(t->r, SAM_E_HASH, "%lu of %u hash(es) are not "
		    "covered by the SAD or were already signed",
		    (unsigned long)q->hashes.n - used, q->hashes.n);
		goto refused;
	}
	if (strcmp(PQgetvalue(res, 0, 1), "1") != 0) {
		sam_refuse(t->r, SAM_E_SAD, "the SAD has no signature left");
		goto refused;
	}
	if (sam_sign_all(t, cred) == -1) {
		if (t->refused)
			goto refused;
		goto out;
	}
	if ((details = json_array()) == NULL)
		goto out;
	for (i = 0; i < q->hashes.n; i++) {
		hex_encode(q->hashes.h[i], sam_md_len(q->hashes.md), hex);
		if (json_array_append_new(details, json_pack("{s:s, s:s, s:s, "
		    "s:s, s:s, s:s, s:s, s:s}", "account_id",
		    PQgetvalue(cred, 0, 0), "certificate_id", credid, "serial",
		    PQgetvalue(cred, 0, 9), "service_id", svc, "sad_id", sadid,
		    "hash", hex, "hash_algo", sam_md_name(q->hashes.md),
		    "sign_algo", q->algo == SAM_ALGO_ECDSA ? "ecdsa" :
		    q->algo == SAM_ALGO_RSA_PSS ? "rsassa-pss" :
		    "rsassa-pkcs1-v1_5")) == -1)
			goto out;
	}
	/* One sign.hash event per signature, in one round trip. */
	if (audit_append_many(db, "sam:sign", "sign.hash", "sign_credential",
	    credid, details) == -1)
		goto out;
	rc = 0;
	goto out;
refused:
	t->refused = 1;
out:
	if (rc == -1 && !t->refused)
		sam_sign_clear(t);
	json_decref(details);
	free(digest);
	free(hashes);
	PQclear(res);
	PQclear(sad);	/* cred is the same result */
	return rc;
}

static int
sam_answer_signhash(struct sam *sam, const unsigned char *body, size_t len,
    struct sam_reply *r)
{
	struct sam_signhash_req q;
	struct sam_sign_txn t;

	if (sam_signhash_decode(body, len, &q) == -1)
		return -1;
	memset(&t, 0, sizeof(t));
	t.sam = sam;
	t.q = &q;
	t.r = r;
	if (db_transaction(sam->db, NULL, SAM_TXN_ATTEMPTS, sam_sign_txn,
	    &t) == -1) {
		/* Rolled back: no signature leaves without its audit. */
		sam_sign_clear(&t);
		if (t.hsm_failed) {
			/* The worker's Retry-After is DB_RETRY_AFTER_S. */
			sam_refuse(r, SAM_E_UNAVAILABLE, "the HSM could not "
			    "sign for now; try again shortly");
			r->retry_after = DB_RETRY_AFTER_S;
		} else if (!t.refused)
			sam_fail(r, "signing failed (database)");
		else
			sam_audit_refusal(sam, "sign.refused", t.service,
			    q.credential, &q.hashes, t.sad_id, r);
		goto out;
	}
	if (sam_sigs_encode(t.sigs, t.lens, t.nsigs, &r->data, &r->len) == -1) {
		sam_fail(r, "out of memory");
		goto out;
	}
	r->status = SAM_OK;
	log_info("sam: credential %llu: %u signature(s) for service %s",
	    (unsigned long long)q.credential, t.nsigs, t.service);
out:
	if (r->status == SAM_REFUSED)
		log_warn("sam: signHash on credential %llu by service %s "
		    "(SAD %s) refused: %s", (unsigned long long)q.credential,
		    t.service[0] != '\0' ? t.service : "(unknown token)",
		    t.sad_id[0] != '\0' ? t.sad_id : "not found", r->text);
	sam_sign_clear(&t);
	OPENSSL_cleanse(&q, sizeof(q));
	return 0;
}

/* --- start-up and loop ------------------------------------------------------- */

static int
sam_start(struct sam *sam, char *err, size_t errlen)
{
	struct signer_config sc;
	struct config *polcfg = NULL;
	char pin[SAM_PIN_MAX], e[256], polpath[PATH_MAX];
	const char *uri;
	long keep, db_timeout_s;
	int rc = -1;

	memset(&sc, 0, sizeof(sc));
	memset(pin, 0, sizeof(pin));
	if (signer_config_add_token(&sc, sam->cfg, "wrap") == -1) {
		snprintf(err, errlen, "sam: hsm.wrap_token and its PIN missing");
		goto out;
	}
	sam->wrap_label = config_get(sam->cfg, "sign.wrap_label",
	    config_get(sam->cfg, "cad.wrap_label", SAM_WRAP_LABEL));
	if (config_get_long(sam->cfg, "sign.sad_ttl_seconds", 300, 10, 900,
	    &sam->sad_ttl_s) == -1) {
		snprintf(err, errlen, "sam: sign.sad_ttl_seconds: 10..900");
		goto out;
	}
	if (config_get_long(sam->cfg, "sign.refusals_audited_per_minute",
	    SAM_REFUSALS_AUDITED, 0, 100000, &sam->refusals_audited) == -1) {
		snprintf(err, errlen, "sam: sign.refusals_audited_per_minute: "
		    "0..100000");
		goto out;
	}
	snprintf(polpath, sizeof(polpath), "%s/ra.conf",
	    config_get(sam->cfg, "pki.policy_dir", "policy"));
	if ((polcfg = config_load(config_get(sam->cfg, "ra.policy_file",
	    polpath), e, sizeof(e))) == NULL) {
		snprintf(err, errlen, "sam: policy: %s", e);
		goto out;
	}
	if (factor_policy_load(polcfg, &sam->fv) == -1) {
		snprintf(err, errlen, "sam: policy: factor_lockout");
		goto out;
	}
	sam->fv.scope = FACTOR_SCOPE_SIGN;	/* never locks the RA */
	sam->fv.actor = "subscriber";
	sam->fv.lock_actor = "sam:lockout";
	if (factor_key_load(config_get(sam->cfg, "sign.otp_key_file", NULL),
	    sam->fv.otp_key, e, sizeof(e)) == -1) {
		snprintf(err, errlen, "sam: sign.otp_key_file: %s", e);
		goto out;
	}
	/* TOTP codes: the subscriber's secret, sealed by rad (schema/017). */
	if (totp_key_load(config_get(sam->cfg, "sign.totp_key_file", NULL),
	    sam->totp_key, e, sizeof(e)) != TOTP_OK) {
		snprintf(err, errlen, "sam: sign.totp_key_file: %s", e);
		goto out;
	}
	sam->fv.totp_match = factor_totp_sealed_match;
	sam->fv.totp_arg = sam->totp_key;
	if ((uri = config_get(sam->cfg, "pg.sam_uri", NULL)) == NULL) {
		snprintf(err, errlen, "sam: pg.sam_uri missing");
		goto out;
	}
	if (config_get_long(sam->cfg, "sign.db_timeout_seconds",
	    SIGND_DB_TIMEOUT_S, 1, 3600, &db_timeout_s) == -1) {
		snprintf(err, errlen, "sam: sign.db_timeout_seconds: 1..3600");
		goto out;
	}
	if ((sam->db = db_connect(uri, e, sizeof(e))) == NULL) {
		snprintf(err, errlen, "sam: database: %s", e);
		goto out;
	}
	/*
	 * Until 2026-12-07 nothing bounded it: a stopped backend held the SAM
	 * for ever, its slot answering 503 until signd was restarted (the
	 * worker gives up on the SAM, but a SAM inside libpq never reads
	 * that).
	 */
	(void)db_set_timeout(sam->db, db_timeout_s * 1000);
	if ((sam->mod = p11_module_load_child(sc.module, e, sizeof(e))) ==
	    NULL) {
		snprintf(err, errlen, "sam: %s", e);
		goto out;
	}
	if (secret_read(sc.tokens[0].pin_file, sc.tokens[0].pin_env, pin,
	    sizeof(pin), e, sizeof(e)) == -1) {
		snprintf(err, errlen, "sam: PIN of token \"%s\": %s",
		    sc.tokens[0].label, e);
		goto out;
	}
	sam->module_write_dir = sc.module_write_dir;
	sam->tok = p11_token_open(sam->mod, sc.tokens[0].label, pin,
	    sc.lock_dir, e, sizeof(e));
	OPENSSL_cleanse(pin, sizeof(pin));
	if (sam->tok == NULL) {
		snprintf(err, errlen, "sam: %s", e);
		goto out;
	}
	if (p11wrap_check_wrapping_key(sam->tok, sam->wrap_label, e,
	    sizeof(e)) == -1) {
		snprintf(err, errlen, "sam: wrapping key \"%s\": %s",
		    sam->wrap_label, e);
		goto out;
	}
	/* Hot keys sign without the unwrap (hsm/README.md, ~8 KiB a key). */
	if (config_get_long(sam->cfg, "sign.key_cache", SAM_KEY_CACHE, 0,
	    P11WRAP_CACHE_MAX, &keep) == -1) {
		snprintf(err, errlen, "sam: sign.key_cache: 0..%d",
		    P11WRAP_CACHE_MAX);
		goto out;
	}
	if (p11wrap_cache_limit(sam->tok, (size_t)keep, e, sizeof(e)) == -1) {
		snprintf(err, errlen, "sam: sign.key_cache: %s", e);
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(pin, sizeof(pin));
	config_free(polcfg);
	return rc;
}

static void
sam_stop(struct sam *sam)
{
	struct p11wrap_cache_stats st;

	if (sam->tok != NULL) {
		p11wrap_cache_stats(sam->tok, &st);
		log_info("sam: unwrapped-key cache: %llu signHash with a kept "
		    "key, %llu unwraps, %llu keys evicted, %zu kept at exit",
		    st.hits, st.unwraps, st.evicted, st.kept);
	}
	p11_token_close(sam->tok);
	sam->tok = NULL;
	p11_module_free(sam->mod);
	sam->mod = NULL;
	db_close(sam->db);
	sam->db = NULL;
	factor_wipe(sam->fv.otp_key, sizeof(sam->fv.otp_key));
	factor_wipe(sam->totp_key, sizeof(sam->totp_key));
}

int
samproc(int fd, const struct config *cfg)
{
	struct sam sam;
	struct sam_reply r;
	unsigned char *body = NULL;
	size_t len;
	uint32_t type;
	char err[512];
	int n, status = 1;

	memset(&sam, 0, sizeof(sam));
	sam.cfg = cfg;
	signal(SIGPIPE, SIG_IGN);
	if (fd > 3)
		close_range(3, (unsigned int)fd - 1, 0);
	close_range((unsigned int)fd + 1, ~0U, 0);
	log_init("sam", LOGL_INFO, stderr);
	/* "signd-sam" in ps and pgrep: the SAMs apart from the worker. */
	(void)prctl(PR_SET_NAME, "signd-sam", 0, 0, 0);
	memset(&r, 0, sizeof(r));
	if (sam_start(&sam, err, sizeof(err)) == -1) {
		log_err("%s", err);
		sam_fail(&r, err);
		(void)sam_send(fd, &r);
		goto out;
	}
	/* Everything is open: from here on, only what a signer needs. */
	if (sandbox_set_home(cfg, "sign", SANDBOX_SAM) == -1 ||
	    sandbox_limit_writes(cfg, "sign", "sam", &sam.module_write_dir,
	    1) == -1 || sandbox_enter(cfg, "sign", SANDBOX_SAM) == -1) {
		sam_fail(&r, "sam: sandbox");
		(void)sam_send(fd, &r);
		goto out;
	}
	if (sam_send(fd, &r) == -1)
		goto out;
	for (;;) {
		/* The last request held a PIN, an OTP or a SAD. */
		if (body != NULL)
			OPENSSL_cleanse(body, len);
		free(body);
		body = NULL;
		n = signer_proto_recv(fd, SAM_REQ_MAX, &type, &body, &len);
		if (n == 1) {
			status = 0;
			break;
		}
		if (n == -1) {
			log_err("sam: malformed or truncated frame from worker");
			break;
		}
		memset(&r, 0, sizeof(r));
		db_unavailable_clear();
		if (type == SAM_MSG_AUTHORIZE)
			n = sam_answer_authorize(&sam, body, len, &r);
		else if (type == SAM_MSG_SIGNHASH)
			n = sam_answer_signhash(&sam, body, len, &r);
		else {
			log_err("sam: unknown request type %u from worker", type);
			n = -1;
		}
		if (n == -1) {
			log_err("sam: malformed request of type %u (%zu bytes) "
			    "from worker", type, len);
			break;
		}
		/* The worker answers 503 + Retry-After, not 500. */
		if (r.status == SAM_FAILED && db_unavailable()) {
			log_warn("sam: %s: the database is unavailable", r.text);
			sam_refuse(&r, SAM_E_UNAVAILABLE, "the database is "
			    "unavailable for now (a restart or failover); try "
			    "again shortly");
			r.retry_after = DB_RETRY_AFTER_S;
		}
		n = sam_send(fd, &r);
		free(r.data);
		/*
		 * The worker gave up on this answer (sign.sam_timeout_seconds)
		 * and closed its end: an ending like EOF, not a crash counted
		 * against the supervisor's restart budget.
		 */
		if (n == -1 && (errno == EPIPE || errno == ECONNRESET)) {
			log_warn("sam: the worker stopped waiting for this "
			    "answer (sign.sam_timeout_seconds): ending");
			status = 0;
			break;
		}
		if (n == -1) {
			log_err("sam: write reply: %s", strerror(errno));
			break;
		}
	}
out:
	if (body != NULL)
		OPENSSL_cleanse(body, len);
	free(body);
	sam_stop(&sam);
	close(fd);
	return status;
}

int
sam_spawn(const struct config *cfg, pid_t *pid, char *err, size_t errlen)
{
	int sv[2];
	uint32_t st;
	unsigned char *body = NULL;
	size_t len = 0;
	struct timeval tv = { 0, 0 };
	long timeout_s;
	pid_t p;

	*pid = -1;
	if (config_get_long(cfg, "sign.sam_timeout_seconds", 60, 1, 3600,
	    &timeout_s) == -1) {
		snprintf(err, errlen, "sign.sam_timeout_seconds: 1..3600");
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -1;
	}
	if ((p = fork()) == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (p == 0) {
		close(sv[0]);
		_exit(samproc(sv[1], cfg));
	}
	close(sv[1]);
	if (signer_proto_recv(sv[0], SIGNER_REPLY_MAX, &st, &body, &len) != 0) {
		snprintf(err, errlen, "sam process %d: exited without a reply",
		    (int)p);
		goto fail;
	}
	if (st != SAM_OK) {
		snprintf(err, errlen, "%.*s", (int)(len < 400 ? len : 400),
		    body != NULL ? (const char *)body : "");
		goto fail;
	}
	free(body);
	body = NULL;
	/*
	 * From now on the worker waits at most sign.sam_timeout_seconds for
	 * each answer (SO_RCVTIMEO belongs to the socket it is handed): a SAM
	 * stuck behind a database lock or a hung token costs one 503, not an
	 * HTTP thread for ever.
	 */
	tv.tv_sec = timeout_s;
	if (setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1) {
		snprintf(err, errlen, "setsockopt: %s", strerror(errno));
		goto fail;
	}
	*pid = p;
	return sv[0];
fail:
	free(body);
	close(sv[0]);
	daemon_reap(p);
	return -1;
}
