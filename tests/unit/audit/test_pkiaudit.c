/*
 * audit/pkiaudit.c cmd_verify (its main renamed) across an audit key
 * rotation, with software keys standing in for the HSM's: seals by audit-1
 * (the --pubkey anchor), a handover seal naming audit-2, seals by audit-2
 * whose key is the public_key of the export's audit.key.create event.
 * Verified; then a seal with a valid signature of the retired audit-1 after
 * the handover (what the signer would still sign for whoever holds the old
 * key), a handover to a key found nowhere, and a handover naming another
 * digest, or to a key only an event by another role than pki_admin has
 * (pki_ra), are each refused, naming the seal and why.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

int	pkiaudit_main(int, char **);
#define main pkiaudit_main
#include "audit/pkiaudit.c"
#undef main

struct fixture {
	char		 dir[64];
	char		 events[96], seals[96], anchor[96], out[96];
	EVP_PKEY	*k1, *k2, *k3;
	char		*lines[8];
	size_t		 nlines;
};

static struct fixture fx;

static void
add_line(const char *fmt, ...)
{
	va_list ap;
	char *l;

	va_start(ap, fmt);
	assert_true(vasprintf(&l, fmt, ap) > 0);
	va_end(ap);
	fx.lines[fx.nlines++] = l;
}

static int
setup(void **state)
{
	FILE *f;
	char *b64;
	size_t i;

	(void)state;
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/test_pkiaudit.XXXXXX");
	if (mkdtemp(fx.dir) == NULL)
		return -1;
	snprintf(fx.events, sizeof(fx.events), "%s/events", fx.dir);
	snprintf(fx.seals, sizeof(fx.seals), "%s/seals", fx.dir);
	snprintf(fx.anchor, sizeof(fx.anchor), "%s/audit-1.pem", fx.dir);
	snprintf(fx.out, sizeof(fx.out), "%s/out", fx.dir);
	if ((fx.k1 = EVP_EC_gen("P-256")) == NULL ||
	    (fx.k2 = EVP_EC_gen("P-256")) == NULL ||
	    (fx.k3 = EVP_EC_gen("P-256")) == NULL ||
	    (b64 = auditseal_spki_b64(fx.k2)) == NULL)
		return -1;
	add_line("{\"id\": 1, \"action\": \"a.one\", \"details\": {}}");
	add_line("{\"id\": 2, \"action\": \"a.two\", \"details\": {}}");
	add_line("{\"id\": 3, \"action\": \"audit.key.create\", \"details\": "
	    "{\"label\": \"audit-2\", \"public_key\": \"%s\"}, "
	    "\"db_role\": \"pki_admin\"}", b64);
	add_line("{\"id\": 4, \"action\": \"a.four\", \"details\": {}}");
	add_line("{\"id\": 5, \"action\": \"a.five\", \"details\": {}}");
	add_line("{\"id\": 6, \"action\": \"a.six\", \"details\": {}}");
	free(b64);
	/* audit-3's key, but written by pki_ra: never a key for verify. */
	if ((b64 = auditseal_spki_b64(fx.k3)) == NULL)
		return -1;
	add_line("{\"id\": 7, \"action\": \"audit.key.create\", \"details\": "
	    "{\"label\": \"audit-3\", \"public_key\": \"%s\"}, "
	    "\"db_role\": \"pki_ra\"}", b64);
	free(b64);
	if ((f = fopen(fx.events, "w")) == NULL)
		return -1;
	for (i = 0; i < fx.nlines; i++)
		fprintf(f, "%s\n", fx.lines[i]);
	fclose(f);
	if ((f = fopen(fx.anchor, "w")) == NULL)
		return -1;
	PEM_write_PUBKEY(f, fx.k1);
	fclose(f);
	return 0;
}

static int
teardown(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < fx.nlines; i++)
		free(fx.lines[i]);
	EVP_PKEY_free(fx.k1);
	EVP_PKEY_free(fx.k2);
	EVP_PKEY_free(fx.k3);
	unlink(fx.events);
	unlink(fx.seals);
	unlink(fx.anchor);
	unlink(fx.out);
	rmdir(fx.dir);
	return 0;
}

/*
 * The seal line of seal id over the first size events, labelled label,
 * signed with k, naming next (NULL: none) with nextmd.
 */
static char *
seal_line(uint64_t id, uint64_t size, const char *label, EVP_PKEY *k,
    const char *next, const unsigned char *nextmd)
{
	struct auditseal s;
	struct merkle m;
	unsigned char leaf[MERKLE_HASH];
	EVP_MD_CTX *c;
	char head[512];
	size_t i;
	int n;

	memset(&s, 0, sizeof(s));
	s.id = id;
	s.tree_size = size;
	merkle_init(&m);
	for (i = 0; i < size; i++) {
		merkle_leaf_hash(fx.lines[i], strlen(fx.lines[i]), leaf);
		assert_int_equal(merkle_append(&m, leaf), 0);
	}
	merkle_root(&m, s.root);
	snprintf(s.sealed_at, sizeof(s.sealed_at),
	    "2026-12-07T16:00:0%llu.000000Z", (unsigned long long)id);
	snprintf(s.key, sizeof(s.key), "%s", label);
	if (next != NULL) {
		snprintf(s.next_key, sizeof(s.next_key), "%s", next);
		memcpy(s.next_spki_sha256, nextmd, AUDITSEAL_SPKI_HASH);
	}
	assert_true((n = auditseal_head_text(&s, head, sizeof(head))) > 0);
	s.siglen = sizeof(s.sig);
	assert_non_null(c = EVP_MD_CTX_new());
	assert_int_equal(EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, k), 1);
	assert_int_equal(EVP_DigestSign(c, s.sig, &s.siglen,
	    (unsigned char *)head, (size_t)n), 1);
	EVP_MD_CTX_free(c);
	return auditseal_seal_json(&s);
}

/* verify over fx.events and the given seal lines: exit status, report in fx.out. */
static int
verify(char **seals, size_t n)
{
	const char *pub[1] = { fx.anchor };
	FILE *f;
	size_t i;
	int rc, saved;

	assert_non_null(f = fopen(fx.seals, "w"));
	for (i = 0; i < n; i++) {
		fprintf(f, "%s\n", seals[i]);
		free(seals[i]);
	}
	fclose(f);
	fflush(stdout);
	assert_true((saved = dup(STDOUT_FILENO)) != -1);
	assert_non_null(freopen(fx.out, "w", stdout));
	rc = cmd_verify(fx.events, fx.seals, pub, 1, NULL);
	fflush(stdout);
	assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
	close(saved);
	return rc;
}

static int
report_says(const char *want)
{
	FILE *f;
	char buf[8192];
	size_t n;

	assert_non_null(f = fopen(fx.out, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (strstr(buf, want) != NULL)
		return 1;
	fprintf(stderr, "report:\n%s\nsays no \"%s\"\n", buf, want);
	return 0;
}

static void
test_rotation(void **state)
{
	unsigned char md1[AUDITSEAL_SPKI_HASH], md2[AUDITSEAL_SPKI_HASH];
	unsigned char md3[AUDITSEAL_SPKI_HASH];
	char *s[4];

	(void)state;
	assert_int_equal(auditseal_spki_sha256(fx.k1, md1), 0);
	assert_int_equal(auditseal_spki_sha256(fx.k2, md2), 0);
	assert_int_equal(auditseal_spki_sha256(fx.k3, md3), 0);

	/* audit-1, its handover to audit-2, audit-2: verified. */
	s[0] = seal_line(1, 2, "audit-1", fx.k1, NULL, NULL);
	s[1] = seal_line(2, 3, "audit-1", fx.k1, "audit-2", md2);
	s[2] = seal_line(3, 5, "audit-2", fx.k2, NULL, NULL);
	assert_int_equal(verify(s, 3), EXIT_VERIFIED);
	assert_true(report_says("): seals 1-2\n"));
	assert_true(report_says("key audit-2: SHA-256 "));
	assert_true(report_says("(event 3 of the export): seals 3-3\n"));

	/* A genuine signature of the retired audit-1 after the handover. */
	s[0] = seal_line(1, 2, "audit-1", fx.k1, NULL, NULL);
	s[1] = seal_line(2, 3, "audit-1", fx.k1, "audit-2", md2);
	s[2] = seal_line(3, 5, "audit-2", fx.k2, NULL, NULL);
	s[3] = seal_line(4, 6, "audit-1", fx.k1, NULL, NULL);
	assert_int_equal(verify(s, 4), EXIT_FAILED);
	assert_true(report_says("seal 4: FAILED: signed by key audit-1, but "
	    "the audit key is audit-2 (that key was retired by a handover "
	    "seal)"));
	/* ... even right after it, and labelled as the new key. */
	s[0] = seal_line(1, 2, "audit-1", fx.k1, NULL, NULL);
	s[1] = seal_line(2, 3, "audit-1", fx.k1, "audit-2", md2);
	s[2] = seal_line(3, 5, "audit-2", fx.k1, NULL, NULL);
	assert_int_equal(verify(s, 3), EXIT_FAILED);
	assert_true(report_says("seal 3: FAILED: the seal's signature does "
	    "not verify"));

	/* A handover to a digest no key of the export has. */
	s[0] = seal_line(1, 2, "audit-1", fx.k1, NULL, NULL);
	s[1] = seal_line(2, 3, "audit-1", fx.k1, "audit-2", md1);
	s[2] = seal_line(3, 5, "audit-2", fx.k2, NULL, NULL);
	assert_int_equal(verify(s, 3), EXIT_FAILED);
	assert_true(report_says("seal 3: FAILED: seal 2 hands over to key "
	    "audit-2"));
	assert_true(report_says("whose public key is in no audit.key.create "
	    "event of the export written by pki_admin and no --pubkey file"));
	/* ... or only pki_ra's event has it (any role may write the action). */
	s[0] = seal_line(1, 2, "audit-1", fx.k1, NULL, NULL);
	s[1] = seal_line(2, 3, "audit-1", fx.k1, "audit-3", md3);
	s[2] = seal_line(3, 5, "audit-3", fx.k3, NULL, NULL);
	assert_int_equal(verify(s, 3), EXIT_FAILED);
	assert_true(report_says("seal 3: FAILED: seal 2 hands over to key "
	    "audit-3"));
	/* ... or as the last seal. */
	s[0] = seal_line(1, 2, "audit-1", fx.k1, NULL, NULL);
	s[1] = seal_line(2, 3, "audit-1", fx.k1, "audit-9", md1);
	assert_int_equal(verify(s, 2), EXIT_FAILED);
	assert_true(report_says("seal 2: FAILED: hands over to key audit-9"));

	/* audit-2 without a handover; a handover naming its own key. */
	s[0] = seal_line(1, 2, "audit-1", fx.k1, NULL, NULL);
	s[1] = seal_line(2, 3, "audit-2", fx.k2, NULL, NULL);
	assert_int_equal(verify(s, 2), EXIT_FAILED);
	assert_true(report_says("seal 2: FAILED: signed by key audit-2, but "
	    "the audit key is audit-1 (the key changed without a handover"));
	s[0] = seal_line(1, 2, "audit-1", fx.k1, "audit-1", md1);
	assert_int_equal(verify(s, 1), EXIT_FAILED);
	assert_true(report_says("seal 1: FAILED: hands over to its own key"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rotation),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
