/*
 * Sealed audit trail (DESIGN.md "Audit", audit/README.md): the formats that
 * `pkictl audit seal` signs and exports and the auditor's `pkiaudit`
 * verifies, in one place so that both sides agree byte for byte.
 *
 *  event line  one audit event as PostgreSQL renders
 *		jsonb_build_object('id', id, 'at', <UTC, µs>, 'actor', ...,
 *		'details', details)::text, with 'db_role' when the event has
 *		one (AUDITSEAL_EVENT_LINE_SQL): the Merkle leaf is
 *		SHA-256(0x00 || the line's bytes), no newline.
 *  tree head   the text a seal's signature covers (auditseal_head_text):
 *		"pki-audit-tree-head-v1\nseal N\nsize N\nroot HEX\ntime T\n"
 *		"key LABEL\n", then, in a handover seal only (a key
 *		rotation, audit/README.md), "next LABEL SHA256HEX\n": the
 *		next audit key's label and the SHA-256 of its DER
 *		SubjectPublicKeyInfo; signed with ECDSA over SHA-256 by the
 *		HSM audit key. A head without that line is byte for byte
 *		what it was before rotation existed.
 *  seal line   a seal as exported: {"key", "next_key" (only in a
 *		handover seal: {"label", "public_key_sha256"}), "root",
 *		"seal", "sealed_at", "signature" (hex of the DER),
 *		"tree_size"}, compact JSON.
 *  proof       an inclusion proof of one event (`pkiaudit prove`):
 *		{"event": LINE, "leaf_index", "path": [HEX...], "seal": SEAL,
 *		"tree_size"}.
 */
#ifndef PKI_AUDITSEAL_H
#define PKI_AUDITSEAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "lib/merkle.h"

/*
 * The event line of audit_event e, as one SQL expression. "db_role" (the
 * login role that wrote the event, schema/083) is in the line only when it
 * is not NULL: an event written before 083 keeps, byte for byte, the line
 * its seals were made over, and a newer event's role is sealed with it.
 */
#define AUDITSEAL_EVENT_LINE_SQL \
	"(jsonb_build_object('id', e.id, 'at', to_char(e.at AT TIME ZONE " \
	"'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 'actor', e.actor, " \
	"'action', e.action, 'object_type', e.object_type, 'object_id', " \
	"e.object_id, 'details', e.details) || CASE WHEN e.db_role IS NULL " \
	"THEN '{}'::jsonb ELSE jsonb_build_object('db_role', e.db_role) " \
	"END)::text"
/* The same timestamp format for a seal's time. */
#define AUDITSEAL_TIME_SQL(col) \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

#define AUDITSEAL_SIG_MAX	256
#define AUDITSEAL_LABEL_MAX	64	/* a key label, in the signed text */
#define AUDITSEAL_LINE_MAX	(1024 * 1024)	/* one exported line, at most */
#define AUDITSEAL_SPKI_HASH	32	/* SHA-256 of a DER SubjectPublicKeyInfo */

struct auditseal {
	uint64_t	id;
	uint64_t	tree_size;
	unsigned char	root[MERKLE_HASH];
	char		sealed_at[40];	/* YYYY-MM-DDTHH:MM:SS.ffffffZ */
	char		key[AUDITSEAL_LABEL_MAX + 1];	/* the audit key's label */
	/*
	 * A handover seal's next audit key: its label ("" when the seal
	 * names none) and the SHA-256 of its DER SubjectPublicKeyInfo.
	 */
	char		next_key[AUDITSEAL_LABEL_MAX + 1];
	unsigned char	next_spki_sha256[AUDITSEAL_SPKI_HASH];
	unsigned char	sig[AUDITSEAL_SIG_MAX];
	size_t		siglen;
};

/*
 * 1 when s may be a seal's time or key label: 1 to 64 printable ASCII
 * characters, no space (they go into the signed text as they are).
 */
int	auditseal_label_ok(const char *s);

/* The tree head text into buf; its length, or -1 when buf is too small. */
int	auditseal_head_text(const struct auditseal *, char *buf, size_t len);

/*
 * 0 when text (len bytes, untrusted) is exactly a tree head as
 * auditseal_head_text() writes it (with or without its "next" line), with
 * its fields in *s (no signature); -1 otherwise (*s cleared).
 */
int	auditseal_head_parse(const unsigned char *text, size_t len,
	    struct auditseal *s);

/*
 * 0 when text (len bytes, untrusted) is exactly a tree head as
 * auditseal_head_text() writes it, for the key labelled key_label: what
 * the audit key's signer agrees to sign (hsm/signer.h SIGNER_KIND_AUDIT;
 * a head with a "next" line only under its own further checks).
 */
int	auditseal_head_check(const unsigned char *text, size_t len,
	    const char *key_label);

/* The SHA-256 of pub's DER SubjectPublicKeyInfo into md. 0 or -1. */
int	auditseal_spki_sha256(EVP_PKEY *pub,
	    unsigned char md[AUDITSEAL_SPKI_HASH]);

/*
 * pub's DER SubjectPublicKeyInfo in base64 (RFC 4648 §4, one line), as an
 * audit.key.create event's "public_key" holds it: malloc'd, or NULL.
 */
char	*auditseal_spki_b64(EVP_PKEY *pub);

/*
 * The public key of such a base64 text (untrusted, NUL-terminated): its
 * DER exactly, nothing after it. A new EVP_PKEY (EVP_PKEY_free), or NULL.
 */
EVP_PKEY *auditseal_spki_from_b64(const char *b64);

/* The seal line (malloc'd, no newline), or NULL. */
char	*auditseal_seal_json(const struct auditseal *);

/*
 * Parses a seal line (len bytes, not NUL-terminated, untrusted). 0, or -1
 * with err.
 */
int	auditseal_seal_parse(const char *line, size_t len, struct auditseal *,
	    char *err, size_t errlen);

/* 0 when the seal's signature verifies with pub over its tree head. */
int	auditseal_seal_verify(const struct auditseal *, EVP_PKEY *pub,
	    char *err, size_t errlen);

/* An inclusion proof: the event line (malloc'd), its place and path. */
struct auditseal_proof {
	char		*event;
	uint64_t	 leaf_index;
	uint64_t	 tree_size;
	unsigned char	 path[MERKLE_DEPTH][MERKLE_HASH];
	size_t		 npath;
	struct auditseal seal;
};

/* The proof as JSON (malloc'd, pretty-printed), or NULL. */
char	*auditseal_proof_json(const struct auditseal_proof *);

/* Parses a proof (untrusted); 0 or -1 with err. Free with _clear. */
int	auditseal_proof_parse(const char *text, size_t len,
	    struct auditseal_proof *, char *err, size_t errlen);
void	auditseal_proof_clear(struct auditseal_proof *);

/*
 * Checks a proof: its seal's signature with pub, then the event's leaf
 * through the path up to the seal's root. 0, or -1 with err.
 */
int	auditseal_proof_verify(const struct auditseal_proof *, EVP_PKEY *pub,
	    char *err, size_t errlen);

/*
 * The top-level "id" of an event line (untrusted), a positive integer up
 * to INT64_MAX written once: 0 with *id, or -1. Reads no more than the
 * object's structure: the rest of the line may hold any number or depth.
 */
int	auditseal_event_id(const char *line, size_t len, uint64_t *id);

#endif
