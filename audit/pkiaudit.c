/*
 * pkiaudit: the auditor's tool (DESIGN.md "Audit", audit/README.md). It
 * needs no database and no HSM: only an export made by `pkictl audit
 * export` and the audit public key, each obtained independently.
 *
 *  verify --events F --seals F --pubkey P [--pubkey P2 ...] [--known-seals F]
 *	recomputes the Merkle tree over the events in file order, and for
 *	every seal checks its signature and that the tree of its size has
 *	its root; reports events after the last seal as unsealed. Exit 0
 *	only when every seal holds, and at least one does. Prints the
 *	audit key's SHA-256 (of its DER SubjectPublicKeyInfo, as the
 *	audit.key.create event records it). The first --pubkey is the trust
 *	anchor: the key of the first seals. A verified handover seal (one
 *	naming a next key: audit/README.md "Rotating the audit key") makes
 *	every later seal require that key, whose public key is the
 *	"public_key" of an audit.key.create event of the export written by
 *	pki_admin with the SHA-256 named, or a further --pubkey file with
 *	it (only keys a handover names are kept); a seal by another
 *	key (a retired one, or a label changed without a handover), or a
 *	next key found nowhere, fails. Prints each key's SHA-256 and the
 *	seals it signed. --known-seals: seal lines kept
 *	from an earlier verification (the whole seals file, or any of its
 *	lines in order); every seal in it must be in this export
 *	unchanged, every field: tree size, root, time, key, next key and
 *	signature, so a known handover stays (a database superuser could otherwise cut
 *	the seals back, rewrite the events after the cut and have the sealer
 *	sign them again: the export alone would verify); a file with no
 *	seal line is a usage error (exit 2), not a check that passes.
 *  prove --events F --seals F --event ID [--seal N]
 *	prints the inclusion proof of event ID in seal N (default: the first
 *	seal that covers it), JSON, for someone who gets only that event.
 *  check --proof F --pubkey P
 *	checks such a proof: the seal's signature, then the event's path.
 *	After a rotation, P is the key that signed the proof's seal (the
 *	seal's "key"), which verify names with its seals.
 *
 * Exit status: 0 verified, 1 not verified (a message says what failed),
 * 2 usage or unreadable input.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "lib/auditseal.h"
#include "lib/file.h"
#include "lib/hex.h"
#include "lib/merkle.h"

#define EXIT_VERIFIED	0
#define EXIT_FAILED	1
#define EXIT_USAGE	2

/*
 * --pubkey files, at most; retired labels verify_chain remembers to name
 * them in its messages (only verified handovers add one).
 */
#define PKIAUDIT_PUBKEYS_MAX	16
#define PKIAUDIT_RETIRED_MAX	256

static void
usage(void)
{
	fprintf(stderr,
	    "usage: pkiaudit verify --events F --seals F --pubkey P "
	    "[--pubkey P2 ...] [--known-seals F]\n"
	    "       pkiaudit prove --events F --seals F --event ID [--seal N]\n"
	    "       pkiaudit check --proof F --pubkey P\n");
}

static EVP_PKEY *
load_pubkey(const char *path)
{
	EVP_PKEY *k = NULL;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "pkiaudit: %s: cannot open\n", path);
		return NULL;
	}
	if ((k = PEM_read_PUBKEY(f, NULL, NULL, NULL)) == NULL)
		fprintf(stderr, "pkiaudit: %s: not a PEM public key\n", path);
	fclose(f);
	return k;
}

/*
 * Reads one line (without its newline) of at most AUDITSEAL_LINE_MAX bytes
 * into buf (AUDITSEAL_LINE_MAX + 2 bytes): never more, whatever the file
 * holds. 1 with *len; 0 at the end; -1 for a line too long, unterminated
 * or holding a NUL byte.
 */
static int
read_line(FILE *f, char *buf, size_t *len)
{
	size_t n;

	if (fgets(buf, AUDITSEAL_LINE_MAX + 2, f) == NULL)
		return 0;
	n = strlen(buf);
	if (n == 0 || buf[n - 1] != '\n') {
		/* Too long, a NUL inside, or no newline at the end. */
		return -1;
	}
	buf[--n] = '\0';
	*len = n;
	return 1;
}

struct seals {
	struct auditseal	*s;
	size_t			 n;
};

/* "audit key: SHA-256 …" of its DER SubjectPublicKeyInfo. 0 or -1. */
static int
print_key_digest(EVP_PKEY *pub)
{
	unsigned char md[AUDITSEAL_SPKI_HASH];
	char hex[2 * AUDITSEAL_SPKI_HASH + 1];

	if (auditseal_spki_sha256(pub, md) == -1) {
		fprintf(stderr, "pkiaudit: cannot encode the public key\n");
		return -1;
	}
	hex_encode(md, sizeof(md), hex);
	printf("audit key: SHA-256 %s (the public_key_sha256 of its "
	    "audit.key.create event)\n", hex);
	return 0;
}

/*
 * Public keys a handover may name, by the SHA-256 of their DER
 * SubjectPublicKeyInfo: the --pubkey files after the first, and the keys
 * looked up in the events file when a verified handover names one
 * (keyring_from_events). It grows only with those: no number of events
 * fills it.
 */
struct keyring_key {
	EVP_PKEY	*pub;
	unsigned char	 md[AUDITSEAL_SPKI_HASH];
	char		 from[80];	/* where it was found */
};

struct keyring {
	struct keyring_key	*k;
	size_t			 n;
};

static void
keyring_free(struct keyring *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		EVP_PKEY_free(r->k[i].pub);
	free(r->k);
	r->k = NULL;
	r->n = 0;
}

/* Adds pub (taken, freed on failure) found at from. 0, or -1. */
static int
keyring_add(struct keyring *r, EVP_PKEY *pub, const char *from)
{
	struct keyring_key *nk;

	if ((nk = reallocarray(r->k, r->n + 1, sizeof(*nk))) == NULL) {
		EVP_PKEY_free(pub);
		return -1;
	}
	r->k = nk;
	if (auditseal_spki_sha256(pub, r->k[r->n].md) == -1) {
		EVP_PKEY_free(pub);
		return -1;
	}
	r->k[r->n].pub = pub;
	snprintf(r->k[r->n].from, sizeof(r->k[r->n].from), "%s", from);
	r->n++;
	return 0;
}

/* The key with SHA-256 md, or -1. */
static long
keyring_find(const struct keyring *r, const unsigned char *md)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (memcmp(r->k[i].md, md, AUDITSEAL_SPKI_HASH) == 0)
			return (long)i;
	return -1;
}

/*
 * 1 when a seal of seals hands over to the key with SHA-256 md (and ring
 * does not hold it yet): a key worth keeping.
 */
static int
keyring_wanted(const struct keyring *r, const struct seals *seals,
    const unsigned char *md)
{
	size_t i;

	if (keyring_find(r, md) != -1)
		return 0;
	for (i = 0; i < seals->n; i++)
		if (seals->s[i].next_key[0] != '\0' &&
		    memcmp(seals->s[i].next_spki_sha256, md,
		    AUDITSEAL_SPKI_HASH) == 0)
			return 1;
	return 0;
}

/*
 * The public keys of the events file a handover seal of seals names: the
 * "public_key" (base64 DER SPKI) of an audit.key.create event written by
 * pkictl's ceremony role ("db_role": "pki_admin") whose SHA-256 a seal's
 * next key has, each once, added to r. Events of other roles (pki_ra can
 * write an event with any action) are never read as keys, and keys no
 * handover names are not kept: no number of events fills the ring. Lines
 * jansson cannot read (verify hashes them, does not read them) are
 * skipped; a key is only ever used when a verified seal names its digest.
 * 0, or -1 when the file cannot be read or a key cannot be kept (logged).
 */
static int
keyring_from_events(struct keyring *r, const char *events,
    const struct seals *seals)
{
	json_error_t je;
	json_t *o;
	FILE *f = NULL;
	EVP_PKEY *k;
	unsigned char md[AUDITSEAL_SPKI_HASH];
	const char *action, *role, *b64;
	char *line = NULL, from[64];
	size_t len;
	json_int_t id;
	int rc = -1;

	if ((line = malloc(AUDITSEAL_LINE_MAX + 2)) == NULL) {
		fprintf(stderr, "pkiaudit: out of memory\n");
		goto out;
	}
	if ((f = fopen(events, "r")) == NULL) {
		fprintf(stderr, "pkiaudit: %s: cannot open\n", events);
		goto out;
	}
	while (read_line(f, line, &len) == 1) {
		if (memmem(line, len, "\"audit.key.create\"", 18) == NULL ||
		    (o = json_loadb(line, len, JSON_REJECT_DUPLICATES,
		    &je)) == NULL)
			continue;
		k = NULL;
		if (json_unpack(o, "{s:I, s:s, s:s, s:{s:s}}", "id", &id,
		    "action", &action, "db_role", &role, "details",
		    "public_key", &b64) == 0 &&
		    strcmp(action, "audit.key.create") == 0 &&
		    strcmp(role, "pki_admin") == 0)
			k = auditseal_spki_from_b64(b64);
		json_decref(o);
		if (k == NULL)
			continue;
		if (auditseal_spki_sha256(k, md) == -1 ||
		    !keyring_wanted(r, seals, md)) {
			EVP_PKEY_free(k);
			continue;
		}
		snprintf(from, sizeof(from), "event %lld of the export",
		    (long long)id);
		/* k taken, freed on failure. */
		if (keyring_add(r, k, from) == -1) {
			fprintf(stderr, "pkiaudit: cannot keep the key of "
			    "event %lld\n", (long long)id);
			goto out;
		}
	}
	/* A line too long: verify's own read of the file reports it. */
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	free(line);
	return rc;
}

/*
 * Every seal of the file: numbered 1, 2, ... with growing tree sizes; with
 * kept (seal lines an auditor kept), any numbers, growing, with growing
 * tree sizes.
 */
static int
load_seals(const char *path, int kept, struct seals *out)
{
	struct auditseal *ns;
	FILE *f;
	char *line, err[256];
	size_t len;
	int r, rc = -1;

	memset(out, 0, sizeof(*out));
	if ((line = malloc(AUDITSEAL_LINE_MAX + 2)) == NULL)
		return -1;
	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "pkiaudit: %s: cannot open\n", path);
		free(line);
		return -1;
	}
	while ((r = read_line(f, line, &len)) == 1) {
		if ((ns = reallocarray(out->s, out->n + 1, sizeof(*ns))) == NULL)
			goto out;
		out->s = ns;
		if (auditseal_seal_parse(line, len, &out->s[out->n], err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "pkiaudit: %s line %zu: %s\n", path,
			    out->n + 1, err);
			goto out;
		}
		if ((kept ? out->s[out->n].id == 0 || (out->n > 0 &&
		    out->s[out->n].id <= out->s[out->n - 1].id) :
		    out->s[out->n].id != out->n + 1) || (out->n > 0 &&
		    out->s[out->n].tree_size <= out->s[out->n - 1].tree_size)) {
			fprintf(stderr, "pkiaudit: %s line %zu: seal %llu out of "
			    "order (seals are numbered %s, each over a larger "
			    "tree)\n", path, out->n + 1,
			    (unsigned long long)out->s[out->n].id, kept ?
			    "upwards" : "from 1");
			goto out;
		}
		out->n++;
	}
	if (r == -1) {
		fprintf(stderr, "pkiaudit: %s line %zu: too long or not "
		    "terminated\n", path, out->n + 1);
		goto out;
	}
	rc = 0;
out:
	free(line);
	fclose(f);
	if (rc == -1) {
		free(out->s);
		memset(out, 0, sizeof(*out));
	}
	return rc;
}

/*
 * What differs between a known seal and this export's seal of the same
 * number: NULL when nothing does (number, tree size, root, time, key,
 * next key's label and digest, signature). The whole seal, not only its
 * tree: a handover seal replaced by one of the same tree without its
 * "next" line (a superuser deletes it, an old-key sealer never restarted
 * seals the same events again) would otherwise pass as known.
 */
static const char *
known_differs(const struct auditseal *was, const struct auditseal *now)
{
	if (now->tree_size != was->tree_size ||
	    memcmp(now->root, was->root, MERKLE_HASH) != 0)
		return "another tree";
	if (strcmp(now->next_key, was->next_key) != 0 ||
	    memcmp(now->next_spki_sha256, was->next_spki_sha256,
	    AUDITSEAL_SPKI_HASH) != 0)
		return was->next_key[0] != '\0' ? (now->next_key[0] != '\0' ?
		    "a handover to another key" : "no handover where one was") :
		    "a handover where none was";
	if (strcmp(now->key, was->key) != 0)
		return "another key";
	if (strcmp(now->sealed_at, was->sealed_at) != 0)
		return "another time";
	if (now->siglen != was->siglen ||
	    memcmp(now->sig, was->sig, was->siglen) != 0)
		return "another signature";
	return NULL;
}

/*
 * Each seal of known (kept from an earlier export, already verified) must
 * be in seals (numbered from 1) unchanged: the same seal, every field
 * (known_differs), so a known handover is mandatory. The number of those
 * that are not.
 */
static size_t
check_known(const struct seals *known, const struct seals *seals)
{
	const struct auditseal *now;
	const char *why;
	size_t i, bad = 0;

	for (i = 0; i < known->n; i++) {
		if (known->s[i].id > seals->n) {
			printf("seal %llu: FAILED: known from an earlier export "
			    "(%llu events) but not in this one: the seals were "
			    "cut back\n", (unsigned long long)known->s[i].id,
			    (unsigned long long)known->s[i].tree_size);
			bad++;
			continue;
		}
		now = &seals->s[known->s[i].id - 1];
		if ((why = known_differs(&known->s[i], now)) != NULL) {
			printf("seal %llu: FAILED: not the seal known from an "
			    "earlier export (%llu events then, %llu now; %s): "
			    "the sealed history was replaced\n",
			    (unsigned long long)known->s[i].id,
			    (unsigned long long)known->s[i].tree_size,
			    (unsigned long long)now->tree_size, why);
			bad++;
		}
	}
	if (bad == 0)
		printf("%zu seal(s) known from an earlier export: all in this "
		    "one, unchanged\n", known->n);
	return bad;
}

/* "key L: SHA-256 X (from): seals A-B" for the seals a key signed. */
static void
print_key_range(const char *label, const unsigned char *md, const char *from,
    uint64_t first, uint64_t last)
{
	char hex[2 * AUDITSEAL_SPKI_HASH + 1];

	hex_encode(md, AUDITSEAL_SPKI_HASH, hex);
	if (first == 0)
		printf("key %s: SHA-256 %s (%s): no seal yet\n", label, hex, from);
	else
		printf("key %s: SHA-256 %s (%s): seals %llu-%llu\n", label, hex,
		    from, (unsigned long long)first, (unsigned long long)last);
}

/*
 * Each seal's signature, checked in order with the audit key in force:
 * anchor (the first --pubkey) from the first seal, whose label it takes;
 * after a handover seal that verified, from the next seal on, the key it
 * names, looked up by its SHA-256 in ring. A seal signed under another
 * label (a key retired by a handover, or a label changed without one), a
 * next key found nowhere, or a signature that does not verify fails, and
 * sets sigbad[k]. Prints every key's SHA-256 and the seals it signed. 0
 * with the number of failures in *badp, or -1 when the anchor cannot be
 * encoded (logged).
 */
static int
verify_chain(const struct seals *seals, EVP_PKEY *anchor,
    const struct keyring *ring, char *sigbad, size_t *badp)
{
	const struct auditseal *s, *handover = NULL;
	const char *label = NULL, *from = "--pubkey, the trust anchor";
	const char *chain[PKIAUDIT_RETIRED_MAX];
	EVP_PKEY *cur = anchor;
	unsigned char md[AUDITSEAL_SPKI_HASH];
	char hex[2 * AUDITSEAL_SPKI_HASH + 1], err[256];
	uint64_t first = 0, last = 0;
	size_t k, j, bad = 0, nchain = 0;
	long idx;
	int lost = 0, retired;

	*badp = 0;
	if (auditseal_spki_sha256(anchor, md) == -1) {
		fprintf(stderr, "pkiaudit: cannot encode the public key\n");
		return -1;
	}
	for (k = 0; k < seals->n; k++) {
		s = &seals->s[k];
		if (handover != NULL) {
			print_key_range(label, md, from, first, last);
			hex_encode(handover->next_spki_sha256,
			    AUDITSEAL_SPKI_HASH, hex);
			if ((idx = keyring_find(ring,
			    handover->next_spki_sha256)) == -1) {
				printf("seal %llu: FAILED: seal %llu hands over "
				    "to key %s (SHA-256 %s), whose public key is "
				    "in no audit.key.create event of the export "
				    "written by pki_admin and no --pubkey file\n",
				    (unsigned long long)s->id,
				    (unsigned long long)handover->id,
				    handover->next_key, hex);
				lost = 1;
				sigbad[k] = 1;
				bad++;
				handover = NULL;
				continue;
			}
			cur = ring->k[idx].pub;
			memcpy(md, ring->k[idx].md, sizeof(md));
			from = ring->k[idx].from;
			if (nchain < PKIAUDIT_RETIRED_MAX)
				chain[nchain++] = label;
			label = handover->next_key;
			first = last = 0;
			handover = NULL;
		}
		if (lost) {
			printf("seal %llu: FAILED: after a handover to a key "
			    "not found (above)\n", (unsigned long long)s->id);
			sigbad[k] = 1;
			bad++;
			continue;
		}
		if (label == NULL)
			label = s->key;
		if (strcmp(s->key, label) != 0) {
			for (retired = 0, j = 0; j < nchain; j++)
				if (strcmp(chain[j], s->key) == 0)
					retired = 1;
			printf("seal %llu: FAILED: signed by key %s, but the "
			    "audit key is %s%s\n", (unsigned long long)s->id,
			    s->key, label, retired ? " (that key was retired by "
			    "a handover seal)" : " (the key changed without a "
			    "handover seal naming it)");
			sigbad[k] = 1;
			bad++;
			continue;
		}
		if (auditseal_seal_verify(s, cur, err, sizeof(err)) == -1) {
			printf("seal %llu: FAILED: %s\n", (unsigned long long)s->id,
			    err);
			sigbad[k] = 1;
			bad++;
			continue;
		}
		if (first == 0)
			first = s->id;
		last = s->id;
		if (s->next_key[0] == '\0')
			continue;
		if (strcmp(s->next_key, s->key) == 0) {
			printf("seal %llu: FAILED: hands over to its own key %s\n",
			    (unsigned long long)s->id, s->key);
			sigbad[k] = 1;
			bad++;
			continue;
		}
		handover = s;
	}
	if (label != NULL && !lost)
		print_key_range(label, md, from, first, last);
	if (handover != NULL) {
		hex_encode(handover->next_spki_sha256, AUDITSEAL_SPKI_HASH, hex);
		if ((idx = keyring_find(ring, handover->next_spki_sha256)) ==
		    -1) {
			printf("seal %llu: FAILED: hands over to key %s (SHA-256 "
			    "%s), whose public key is in no audit.key.create "
			    "event of the export written by pki_admin and no "
			    "--pubkey file\n",
			    (unsigned long long)handover->id,
			    handover->next_key, hex);
			sigbad[seals->n - 1] = 1;
			bad++;
		} else
			print_key_range(handover->next_key, ring->k[idx].md,
			    ring->k[idx].from, 0, 0);
	}
	*badp = bad;
	return 0;
}

static int
cmd_verify(const char *events, const char *sealsf, const char *const *pubf,
    size_t npub, const char *knownf)
{
	struct keyring ring;
	struct seals seals, known;
	struct merkle m;
	unsigned char leaf[MERKLE_HASH], root[MERKLE_HASH];
	EVP_PKEY *pub = NULL, *next;
	FILE *f = NULL;
	char *line = NULL, *sigbad = NULL;
	size_t len, k = 0, bad = 0;
	int r, rc = EXIT_USAGE;

	memset(&seals, 0, sizeof(seals));
	memset(&known, 0, sizeof(known));
	memset(&ring, 0, sizeof(ring));
	if ((pub = load_pubkey(pubf[0])) == NULL ||
	    load_seals(sealsf, 0, &seals) == -1 ||
	    (knownf != NULL && load_seals(knownf, 1, &known) == -1))
		goto out;
	/* An empty file would check nothing and pass: a wrong file given. */
	if (knownf != NULL && known.n == 0) {
		fprintf(stderr, "pkiaudit: %s: no seal line (--known-seals takes "
		    "seal lines kept from an earlier export)\n", knownf);
		goto out;
	}
	if (print_key_digest(pub) == -1)
		goto out;
	/* The keys a handover may name: further --pubkey files, then events. */
	for (k = 1; k < npub; k++) {
		if ((next = load_pubkey(pubf[k])) == NULL)
			goto out;
		if (keyring_add(&ring, next, pubf[k]) == -1) {
			fprintf(stderr, "pkiaudit: %s: cannot keep the key\n",
			    pubf[k]);
			goto out;
		}
	}
	if ((line = malloc(AUDITSEAL_LINE_MAX + 2)) == NULL ||
	    (sigbad = calloc(seals.n + 1, 1)) == NULL)
		goto out;
	if ((f = fopen(events, "r")) == NULL) {
		fprintf(stderr, "pkiaudit: %s: cannot open\n", events);
		goto out;
	}
	if (keyring_from_events(&ring, events, &seals) == -1 ||
	    verify_chain(&seals, pub, &ring, sigbad, &bad) == -1)
		goto out;
	if (knownf != NULL)
		bad += check_known(&known, &seals);
	merkle_init(&m);
	k = 0;
	while ((r = read_line(f, line, &len)) == 1) {
		merkle_leaf_hash(line, len, leaf);
		(void)merkle_append(&m, leaf);
		if (k < seals.n && m.size == seals.s[k].tree_size) {
			merkle_root(&m, root);
			if (memcmp(root, seals.s[k].root, MERKLE_HASH) != 0) {
				printf("seal %llu: FAILED: the first %llu events "
				    "do not give its root (an event was changed, "
				    "removed, added or moved)\n",
				    (unsigned long long)seals.s[k].id,
				    (unsigned long long)m.size);
				bad++;
			} else if (!sigbad[k])
				printf("seal %llu: verified: %llu events, sealed "
				    "at %s by key %s%s%s\n",
				    (unsigned long long)seals.s[k].id,
				    (unsigned long long)m.size,
				    seals.s[k].sealed_at, seals.s[k].key,
				    seals.s[k].next_key[0] != '\0' ?
				    "; hands over to key " : "",
				    seals.s[k].next_key);
			k++;
		}
	}
	if (r == -1) {
		fprintf(stderr, "pkiaudit: %s line %llu: too long or not "
		    "terminated\n", events, (unsigned long long)m.size + 1);
		goto out;
	}
	for (; k < seals.n; k++) {
		printf("seal %llu: FAILED: the export has %llu events, the seal "
		    "covers %llu\n", (unsigned long long)seals.s[k].id,
		    (unsigned long long)m.size,
		    (unsigned long long)seals.s[k].tree_size);
		bad++;
	}
	printf("%llu event(s), %zu seal(s): %s; %llu event(s) after the last "
	    "seal (not yet sealed)\n", (unsigned long long)m.size, seals.n,
	    bad > 0 ? "NOT VERIFIED" : seals.n == 0 ?
	    "no seal, nothing verified" : "all verified",
	    (unsigned long long)(seals.n > 0 && m.size >
	    seals.s[seals.n - 1].tree_size ? m.size -
	    seals.s[seals.n - 1].tree_size : seals.n == 0 ? m.size : 0));
	rc = bad == 0 && seals.n > 0 ? EXIT_VERIFIED : EXIT_FAILED;
out:
	free(sigbad);
	free(line);
	if (f != NULL)
		fclose(f);
	free(seals.s);
	free(known.s);
	keyring_free(&ring);
	EVP_PKEY_free(pub);
	return rc;
}

static int
cmd_prove(const char *events, const char *sealsf, unsigned long long id,
    unsigned long long want_seal)
{
	struct auditseal_proof p;
	struct seals seals;
	unsigned char (*leaves)[MERKLE_HASH] = NULL, (*nl)[MERKLE_HASH];
	FILE *f = NULL;
	char *line = NULL, *json;
	size_t len, n = 0, k, cap = 0;
	uint64_t eid, index = UINT64_MAX;
	int r = 0, rc = EXIT_USAGE;

	memset(&p, 0, sizeof(p));
	if (load_seals(sealsf, 0, &seals) == -1)
		return EXIT_USAGE;
	if (seals.n == 0) {
		fprintf(stderr, "pkiaudit: no seal in %s\n", sealsf);
		goto out;
	}
	if ((f = fopen(events, "r")) == NULL ||
	    (line = malloc(AUDITSEAL_LINE_MAX + 2)) == NULL) {
		fprintf(stderr, "pkiaudit: %s: cannot open\n", events);
		goto out;
	}
	/* The leaves up to the last seal; the event's line kept. */
	while (n < seals.s[seals.n - 1].tree_size &&
	    (r = read_line(f, line, &len)) == 1) {
		if (n == cap) {
			cap = cap == 0 ? 1024 : 2 * cap;
			if ((nl = reallocarray(leaves, cap, MERKLE_HASH)) == NULL)
				goto out;
			leaves = nl;
		}
		merkle_leaf_hash(line, len, leaves[n]);
		if (index == UINT64_MAX && auditseal_event_id(line, len,
		    &eid) == 0 && eid == id) {
			index = n;
			if ((p.event = strdup(line)) == NULL)
				goto out;
		}
		n++;
	}
	if (r == -1) {
		fprintf(stderr, "pkiaudit: %s line %zu: too long or not "
		    "terminated\n", events, n + 1);
		goto out;
	}
	if (index == UINT64_MAX) {
		fprintf(stderr, "pkiaudit: event %llu is not among the %zu "
		    "sealed events of %s\n", id, n, events);
		rc = EXIT_FAILED;
		goto out;
	}
	for (k = 0; k < seals.n; k++)
		if (want_seal == 0 ? seals.s[k].tree_size > index :
		    seals.s[k].id == want_seal)
			break;
	if (k == seals.n || seals.s[k].tree_size <= index ||
	    seals.s[k].tree_size > n) {
		fprintf(stderr, "pkiaudit: no seal covering event %llu (leaf "
		    "%llu) in the export\n", id, (unsigned long long)index);
		rc = EXIT_FAILED;
		goto out;
	}
	p.seal = seals.s[k];
	p.leaf_index = index;
	p.tree_size = seals.s[k].tree_size;
	if (merkle_inclusion_proof((const unsigned char (*)[MERKLE_HASH])leaves,
	    p.tree_size, index, p.path, &p.npath) == -1 ||
	    (json = auditseal_proof_json(&p)) == NULL)
		goto out;
	printf("%s\n", json);
	free(json);
	rc = EXIT_VERIFIED;
out:
	auditseal_proof_clear(&p);
	free(leaves);
	free(line);
	if (f != NULL)
		fclose(f);
	free(seals.s);
	return rc;
}

static int
cmd_check(const char *prooff, const char *pubf)
{
	struct auditseal_proof p;
	EVP_PKEY *pub = NULL;
	char *text = NULL, err[256];
	size_t len;
	int rc = EXIT_USAGE;

	memset(&p, 0, sizeof(p));
	if ((pub = load_pubkey(pubf)) == NULL)
		goto out;
	if (file_read_capped(prooff, 4 * AUDITSEAL_LINE_MAX,
	    (unsigned char **)&text, &len, err, sizeof(err)) == -1) {
		fprintf(stderr, "pkiaudit: %s\n", err);
		goto out;
	}
	if (auditseal_proof_parse(text, len, &p, err, sizeof(err)) == -1) {
		fprintf(stderr, "pkiaudit: %s: %s\n", prooff, err);
		goto out;
	}
	if (auditseal_proof_verify(&p, pub, err, sizeof(err)) == -1) {
		printf("NOT VERIFIED: %s\n", err);
		rc = EXIT_FAILED;
		goto out;
	}
	printf("verified: the event is leaf %llu of seal %llu (tree size %llu, "
	    "sealed at %s by key %s)\n", (unsigned long long)p.leaf_index,
	    (unsigned long long)p.seal.id, (unsigned long long)p.tree_size,
	    p.seal.sealed_at, p.seal.key);
	rc = EXIT_VERIFIED;
out:
	auditseal_proof_clear(&p);
	free(text);
	EVP_PKEY_free(pub);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "events", required_argument, NULL, 'e' },
		{ "seals", required_argument, NULL, 's' },
		{ "pubkey", required_argument, NULL, 'k' },
		{ "event", required_argument, NULL, 'i' },
		{ "seal", required_argument, NULL, 'n' },
		{ "proof", required_argument, NULL, 'p' },
		{ "known-seals", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *events = NULL, *seals = NULL, *proof = NULL;
	const char *known = NULL, *pub[PKIAUDIT_PUBKEYS_MAX];
	size_t npub = 0;
	unsigned long long id = 0, seal = 0;
	char *end;
	int ch;

	if (argc < 2) {
		usage();
		return EXIT_USAGE;
	}
	optind = 2;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'e': events = optarg; break;
		case 's': seals = optarg; break;
		case 'k':
			if (npub == PKIAUDIT_PUBKEYS_MAX) {
				usage();
				return EXIT_USAGE;
			}
			pub[npub++] = optarg;
			break;
		case 'p': proof = optarg; break;
		case 'K': known = optarg; break;
		case 'i':
		case 'n':
			(ch == 'i' ? &id : &seal)[0] = strtoull(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0') {
				usage();
				return EXIT_USAGE;
			}
			break;
		case 'h': usage(); return EXIT_VERIFIED;
		default: usage(); return EXIT_USAGE;
		}
	}
	if (optind != argc)
		goto bad;
	if (strcmp(argv[1], "verify") == 0 && events && seals && npub > 0)
		return cmd_verify(events, seals, pub, npub, known);
	if (strcmp(argv[1], "prove") == 0 && events && seals && id > 0)
		return cmd_prove(events, seals, id, seal);
	if (strcmp(argv[1], "check") == 0 && proof && npub == 1)
		return cmd_check(proof, pub[0]);
bad:
	usage();
	return EXIT_USAGE;
}
