/*
 * pkiaudit: the auditor's tool (DESIGN.md "Audit", audit/README.md). It
 * needs no database and no HSM: only an export made by `pkictl audit
 * export` and the audit public key, each obtained independently.
 *
 *  verify --events F --seals F --pubkey P [--known-seals F]
 *	recomputes the Merkle tree over the events in file order, and for
 *	every seal checks its signature and that the tree of its size has
 *	its root; reports events after the last seal as unsealed. Exit 0
 *	only when every seal holds, and at least one does. Prints the
 *	audit key's SHA-256 (of its DER SubjectPublicKeyInfo, as the
 *	audit.key.create event records it). --known-seals: seal lines kept
 *	from an earlier verification (the whole seals file, or any of its
 *	lines in order); every seal in it must be in this export with
 *	the same tree size and root (a database superuser could otherwise cut
 *	the seals back, rewrite the events after the cut and have the sealer
 *	sign them again: the export alone would verify); a file with no
 *	seal line is a usage error (exit 2), not a check that passes.
 *  prove --events F --seals F --event ID [--seal N]
 *	prints the inclusion proof of event ID in seal N (default: the first
 *	seal that covers it), JSON, for someone who gets only that event.
 *  check --proof F --pubkey P
 *	checks such a proof: the seal's signature, then the event's path.
 *
 * Exit status: 0 verified, 1 not verified (a message says what failed),
 * 2 usage or unreadable input.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "lib/auditseal.h"
#include "lib/file.h"
#include "lib/hex.h"
#include "lib/merkle.h"

#define EXIT_VERIFIED	0
#define EXIT_FAILED	1
#define EXIT_USAGE	2

static void
usage(void)
{
	fprintf(stderr,
	    "usage: pkiaudit verify --events F --seals F --pubkey P "
	    "[--known-seals F]\n"
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
	unsigned char *der = NULL, md[32];
	char hex[65];
	int len;

	if ((len = i2d_PUBKEY(pub, &der)) <= 0 ||
	    EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(), NULL) != 1) {
		OPENSSL_free(der);
		fprintf(stderr, "pkiaudit: cannot encode the public key\n");
		return -1;
	}
	OPENSSL_free(der);
	hex_encode(md, sizeof(md), hex);
	printf("audit key: SHA-256 %s (the public_key_sha256 of its "
	    "audit.key.create event)\n", hex);
	return 0;
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
 * Each seal of known (kept from an earlier export, already verified) must
 * be in seals (numbered from 1) unchanged: same number, tree size and
 * root. The number of those that are not.
 */
static size_t
check_known(const struct seals *known, const struct seals *seals)
{
	const struct auditseal *now;
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
		if (now->tree_size != known->s[i].tree_size ||
		    memcmp(now->root, known->s[i].root, MERKLE_HASH) != 0) {
			printf("seal %llu: FAILED: not the seal known from an "
			    "earlier export (%llu events then, %llu now, or "
			    "another root): the sealed history was replaced\n",
			    (unsigned long long)known->s[i].id,
			    (unsigned long long)known->s[i].tree_size,
			    (unsigned long long)now->tree_size);
			bad++;
		}
	}
	if (bad == 0)
		printf("%zu seal(s) known from an earlier export: all in this "
		    "one, unchanged\n", known->n);
	return bad;
}

static int
cmd_verify(const char *events, const char *sealsf, const char *pubf,
    const char *knownf)
{
	struct seals seals, known;
	struct merkle m;
	unsigned char leaf[MERKLE_HASH], root[MERKLE_HASH];
	EVP_PKEY *pub = NULL;
	FILE *f = NULL;
	char *line = NULL, err[256], *sigbad = NULL;
	size_t len, k = 0, bad = 0;
	int r, rc = EXIT_USAGE;

	memset(&seals, 0, sizeof(seals));
	memset(&known, 0, sizeof(known));
	if ((pub = load_pubkey(pubf)) == NULL ||
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
	if ((line = malloc(AUDITSEAL_LINE_MAX + 2)) == NULL ||
	    (sigbad = calloc(seals.n + 1, 1)) == NULL)
		goto out;
	if ((f = fopen(events, "r")) == NULL) {
		fprintf(stderr, "pkiaudit: %s: cannot open\n", events);
		goto out;
	}
	for (k = 0; k < seals.n; k++)
		if (auditseal_seal_verify(&seals.s[k], pub, err,
		    sizeof(err)) == -1) {
			printf("seal %llu: FAILED: %s\n",
			    (unsigned long long)seals.s[k].id, err);
			sigbad[k] = 1;
			bad++;
		}
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
				    "at %s by key %s\n",
				    (unsigned long long)seals.s[k].id,
				    (unsigned long long)m.size,
				    seals.s[k].sealed_at, seals.s[k].key);
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
	const char *events = NULL, *seals = NULL, *pub = NULL, *proof = NULL;
	const char *known = NULL;
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
		case 'k': pub = optarg; break;
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
	if (strcmp(argv[1], "verify") == 0 && events && seals && pub)
		return cmd_verify(events, seals, pub, known);
	if (strcmp(argv[1], "prove") == 0 && events && seals && id > 0)
		return cmd_prove(events, seals, id, seal);
	if (strcmp(argv[1], "check") == 0 && proof && pub)
		return cmd_check(proof, pub);
bad:
	usage();
	return EXIT_USAGE;
}
