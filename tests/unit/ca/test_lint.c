/*
 * ca/worker/lint.c: what cad refuses to sign. Certificates are built by
 * profile_build() from the shipped profiles (policy/profiles/), some edited
 * as an operator might, for an in-memory issuing CA; cad_lint() judges
 * them before any signature. Run from the repository root (tests/run.sh).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/extern.h"
#include "ca/worker/extern.h"
#include "lib/config.h"

#define REPO_POLICY	"policy/profiles/"
#define DAY		86400L

struct lint_fixture {
	char		 dir[64];	/* policy dir: profiles/ of edited copies */
	struct config	*cfg;		/* [urls] the profiles expand */
	EVP_PKEY	*ca_key;
	EVP_PKEY	*sub_key;
};

static char *
read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
write_all(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/*
 * Writes dir/profiles/<name>.cnf: the shipped profile with the line that
 * starts with `from` replaced by `to` (both NULL: unchanged).
 */
static void
put_profile(struct lint_fixture *f, const char *name, const char *from,
    const char *to)
{
	char src[128], dst[128], *text, *at, *eol, *out;
	size_t n;

	snprintf(src, sizeof(src), REPO_POLICY "%s.cnf", name);
	snprintf(dst, sizeof(dst), "%s/profiles/%s.cnf", f->dir, name);
	text = read_all(src);
	if (from == NULL) {
		write_all(dst, text);
		free(text);
		return;
	}
	at = strstr(text, from);
	assert_non_null(at);
	eol = strchr(at, '\n');
	assert_non_null(eol);
	n = strlen(text) + strlen(to) + 2;
	out = malloc(n);
	assert_non_null(out);
	snprintf(out, n, "%.*s%s%s", (int)(at - text), text, to, eol);
	write_all(dst, out);
	free(out);
	free(text);
}

static int
setup(void **state)
{
	struct lint_fixture *f = calloc(1, sizeof(*f));
	char path[128], err[256];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_lint.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/profiles", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/pki.conf", f->dir);
	write_all(path, "[urls]\nocsp = http://127.0.0.1:1/ocsp\n"
	    "crl_base = http://127.0.0.1:1/crl\n");
	f->cfg = config_load(path, err, sizeof(err));
	assert_non_null(f->cfg);
	f->ca_key = EVP_EC_gen("P-256");
	f->sub_key = EVP_EC_gen("P-256");
	assert_non_null(f->ca_key);
	assert_non_null(f->sub_key);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct lint_fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	config_free(f->cfg);
	EVP_PKEY_free(f->ca_key);
	EVP_PKEY_free(f->sub_key);
	free(f);
	return 0;
}

/* A self-signed issuing CA, valid from a day ago until seconds_left from now. */
static X509 *
make_issuer(struct lint_fixture *f, long seconds_left)
{
	X509 *ca = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	static const char *const exts[][2] = {
		{ "basicConstraints", "critical, CA:true, pathlen:0" },
		{ "keyUsage", "critical, keyCertSign, cRLSign" },
		{ "subjectKeyIdentifier", "hash" },
	};
	size_t i;

	assert_non_null(ca);
	assert_non_null(name);
	assert_int_equal(X509_set_version(ca, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(ca), 4242), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"Test Issuing CA", -1, -1, 0), 1);
	assert_int_equal(X509_set_subject_name(ca, name), 1);
	assert_int_equal(X509_set_issuer_name(ca, name), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(ca), -DAY));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(ca), seconds_left));
	assert_int_equal(X509_set_pubkey(ca, f->ca_key), 1);
	X509V3_set_ctx(&ctx, ca, ca, NULL, NULL, 0);
	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		ext = X509V3_EXT_conf(NULL, &ctx, exts[i][0], exts[i][1]);
		assert_non_null(ext);
		assert_int_equal(X509_add_ext(ca, ext, -1), 1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(ca, f->ca_key, EVP_sha256()) > 0);
	X509_NAME_free(name);
	return ca;
}

/*
 * Writes dir/profiles/<name>.cnf: the shipped profile with each line that
 * starts with edits[i][0] replaced by edits[i][1].
 */
static void
put_profile_edits(struct lint_fixture *f, const char *name,
    const char *const (*edits)[2], size_t n)
{
	char src[128], dst[128], *text, *at, *eol, *out;
	size_t i, len;

	snprintf(src, sizeof(src), REPO_POLICY "%s.cnf", name);
	snprintf(dst, sizeof(dst), "%s/profiles/%s.cnf", f->dir, name);
	text = read_all(src);
	for (i = 0; i < n; i++) {
		at = strstr(text, edits[i][0]);
		assert_non_null(at);
		eol = strchr(at, '\n');
		assert_non_null(eol);
		len = strlen(text) + strlen(edits[i][1]) + 2;
		out = malloc(len);
		assert_non_null(out);
		snprintf(out, len, "%.*s%s%s", (int)(at - text), text,
		    edits[i][1], eol);
		free(text);
		text = out;
	}
	write_all(dst, text);
	free(text);
}

/* What a test does to the built certificate before the lint, or NULL. */
typedef void (*lint_edit)(X509 *);

/*
 * Builds a certificate of profile `name` (as edited by put_profile) for
 * `subject_json` under an issuer with `issuer_left` seconds left, for an
 * order of key type `keytype`, changes it with `edit` (may be NULL), and
 * returns cad_lint()'s verdict, its message in err.
 */
static int
lint_edited(struct lint_fixture *f, const char *name, const char *subject_json,
    long issuer_left, const char *keytype, lint_edit edit, char *err,
    size_t errlen)
{
	struct profile *p;
	X509_NAME *subject;
	X509 *issuer, *x;
	int rc;

	p = profile_load(f->dir, name, "issuing", f->cfg, err, errlen);
	if (p == NULL)
		fail_msg("profile_load %s: %s", name, err);
	subject = cad_subject(p, subject_json, err, errlen);
	if (subject == NULL)
		fail_msg("cad_subject: %s", err);
	issuer = make_issuer(f, issuer_left);
	x = profile_build(p, subject, f->sub_key, NULL, issuer, NULL, err,
	    errlen);
	if (x == NULL)
		fail_msg("profile_build: %s", err);
	if (edit != NULL)
		edit(x);
	err[0] = '\0';
	rc = cad_lint(p, x, issuer, keytype, 1096, err, errlen);
	X509_free(x);
	X509_free(issuer);
	X509_NAME_free(subject);
	profile_free(p);
	return rc;
}

static int
lint_of(struct lint_fixture *f, const char *name, const char *subject_json,
    long issuer_left, char *err, size_t errlen)
{
	return lint_edited(f, name, subject_json, issuer_left, "ec-p256", NULL,
	    err, errlen);
}

/* cad_subject()'s verdict on subject_json for profile name: 0 or -1. */
static int
subject_of(struct lint_fixture *f, const char *name, const char *subject_json,
    char *err, size_t errlen)
{
	struct profile *p;
	X509_NAME *subject;

	p = profile_load(f->dir, name, "issuing", f->cfg, err, errlen);
	if (p == NULL)
		fail_msg("profile_load %s: %s", name, err);
	subject = cad_subject(p, subject_json, err, errlen);
	X509_NAME_free(subject);
	profile_free(p);
	return subject != NULL ? 0 : -1;
}

/* Expects rc -1 and want in err. */
static void
want_refused(int rc, const char *err, const char *want, const char *what)
{
	if (rc != -1)
		fail_msg("%s: accepted, want \"%s\"", what, want);
	if (strstr(err, want) == NULL)
		fail_msg("%s: \"%s\", want \"%s\"", what, err, want);
}

#define PERSON	"{\"C\":\"ID\",\"CN\":\"Budi Santoso\"," \
		"\"serialNumber\":\"NIK:3174012345670001\"}"
#define SEAL	"{\"C\":\"ID\",\"O\":\"PT Contoh\",\"CN\":\"Contoh Seal\"," \
		"\"organizationIdentifier\":\"NTRID-0123456789\"}"
/* 60 letters each. */
#define LONG_A	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define LONG_B	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* The shipped profiles pass: the checks below refuse only what they name. */
static void
test_shipped_profiles_pass(void **state)
{
	struct lint_fixture *f = *state;
	char err[512];

	put_profile(f, "personal", NULL, NULL);
	put_profile(f, "eseal", NULL, NULL);
	if (lint_of(f, "personal", PERSON, 3 * 365 * DAY, err,
	    sizeof(err)) != 0)
		fail_msg("personal refused: %s", err);
	/* No extendedKeyUsage at all: OpenSSL then reports every usage. */
	if (lint_of(f, "eseal", SEAL, 3 * 365 * DAY, err, sizeof(err)) != 0)
		fail_msg("eseal refused: %s", err);
}

/* Usages that would let a subscriber's key speak for the CA. */
static void
test_ca_usages_refused(void **state)
{
	struct lint_fixture *f = *state;
	static const char *const ekus[] = {
		"extendedKeyUsage = OCSPSigning",
		"extendedKeyUsage = emailProtection, timeStamping",
		"extendedKeyUsage = anyExtendedKeyUsage",
	};
	static const char *const kus[] = {
		"keyUsage = critical, digitalSignature, keyCertSign",
		"keyUsage = critical, digitalSignature, nonRepudiation, cRLSign",
	};
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(ekus) / sizeof(ekus[0]); i++) {
		put_profile(f, "personal", "extendedKeyUsage =", ekus[i]);
		assert_int_equal(lint_of(f, "personal", PERSON,
		    3 * 365 * DAY, err, sizeof(err)), -1);
		if (strstr(err, "extendedKeyUsage OCSPSigning, timeStamping "
		    "or anyExtendedKeyUsage") == NULL)
			fail_msg("%s: %s", ekus[i], err);
	}
	for (i = 0; i < sizeof(kus) / sizeof(kus[0]); i++) {
		put_profile(f, "personal", "keyUsage =", kus[i]);
		assert_int_equal(lint_of(f, "personal", PERSON,
		    3 * 365 * DAY, err, sizeof(err)), -1);
		if (strstr(err, "keyCertSign or cRLSign") == NULL)
			fail_msg("%s: %s", kus[i], err);
	}
}

/* An issuing CA about to end would cut the certificate to hours or less. */
static void
test_issuer_ending_refused(void **state)
{
	struct lint_fixture *f = *state;
	char err[512];

	put_profile(f, "personal", NULL, NULL);
	assert_int_equal(lint_of(f, "personal", PERSON, 3600, err,
	    sizeof(err)), -1);
	if (strstr(err, "notAfter is less than 24 hours away") == NULL)
		fail_msg("%s", err);
	/* Two days left: a short certificate, but a usable one. */
	if (lint_of(f, "personal", PERSON, 2 * DAY, err, sizeof(err)) != 0)
		fail_msg("two days left refused: %s", err);
}

/*
 * keyUsage left out (by a profile edited to require it no more): OpenSSL
 * then reports every usage, digitalSignature included; the lint tests the
 * extension's presence.
 */
static void
test_key_usage_absent_refused(void **state)
{
	struct lint_fixture *f = *state;
	static const char *const edits[][2] = {
		{ "keyUsage =", "# no keyUsage" },
		{ "extensions_required =", "extensions_required = "
		    "basicConstraints, extendedKeyUsage, certificatePolicies" },
	};
	char err[512];

	put_profile_edits(f, "personal", edits, 2);
	want_refused(lint_of(f, "personal", PERSON, 3 * 365 * DAY, err,
	    sizeof(err)), err, "no keyUsage", "keyUsage absent");
}

/* A subject emailAddress that is no mailbox, past cad_subject(). */
static void
edit_bad_email(X509 *x)
{
	assert_int_equal(X509_NAME_add_entry_by_NID(X509_get_subject_name(x),
	    NID_pkcs9_emailAddress, MBSTRING_ASC,
	    (const unsigned char *)"a b@x y", -1, -1, 0), 1);
}

/* RFC 5280 §4.1.2.6: an emailAddress comes with its rfc822Name. */
static void
test_email_needs_san(void **state)
{
	struct lint_fixture *f = *state;
	static const char *const person_mail = "{\"C\":\"ID\",\"CN\":"
	    "\"Budi Santoso\",\"serialNumber\":\"NIK:3174012345670001\","
	    "\"emailAddress\":\"budi@example.id\"}";
	struct profile *p;
	X509_NAME *subject;
	X509 *issuer, *x;
	GENERAL_NAMES *gens;
	GENERAL_NAME *g;
	char err[512];

	/* The shipped profile copies it (email:copy): passes, SAN holds it. */
	put_profile(f, "personal", NULL, NULL);
	if (lint_of(f, "personal", person_mail, 3 * 365 * DAY, err,
	    sizeof(err)) != 0)
		fail_msg("personal with emailAddress refused: %s", err);
	p = profile_load(f->dir, "personal", "issuing", f->cfg, err, sizeof(err));
	assert_non_null(p);
	issuer = make_issuer(f, 3 * 365 * DAY);
	subject = cad_subject(p, person_mail, err, sizeof(err));
	assert_non_null(subject);
	x = profile_build(p, subject, f->sub_key, NULL, issuer, NULL, err,
	    sizeof(err));
	assert_non_null(x);
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_non_null(gens);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 1);
	g = sk_GENERAL_NAME_value(gens, 0);
	assert_int_equal(g->type, GEN_EMAIL);
	assert_string_equal((const char *)ASN1_STRING_get0_data(
	    g->d.rfc822Name), "budi@example.id");
	GENERAL_NAMES_free(gens);
	X509_free(x);
	X509_NAME_free(subject);
	/* Without an address the empty subjectAltName is left out. */
	subject = cad_subject(p, PERSON, err, sizeof(err));
	assert_non_null(subject);
	x = profile_build(p, subject, f->sub_key, NULL, issuer, NULL, err,
	    sizeof(err));
	assert_non_null(x);
	assert_true(X509_get_ext_by_NID(x, NID_subject_alt_name, -1) < 0);
	X509_free(x);
	X509_NAME_free(subject);
	X509_free(issuer);
	profile_free(p);

	/* A profile that does not copy it: refused. */
	put_profile(f, "personal", "subjectAltName =", "# no subjectAltName");
	want_refused(lint_of(f, "personal", person_mail, 3 * 365 * DAY, err,
	    sizeof(err)), err, "emailAddress without the same subjectAltName "
	    "rfc822Name", "emailAddress without SAN");
	/* Another address in the SAN than in the subject: refused too. */
	put_profile(f, "personal", "subjectAltName =",
	    "subjectAltName = email:other@example.id");
	want_refused(lint_of(f, "personal", person_mail, 3 * 365 * DAY, err,
	    sizeof(err)), err, "emailAddress without the same subjectAltName "
	    "rfc822Name", "emailAddress with another SAN address");
}

/*
 * RFC 5280 §4.2.1.6: the emailAddress copied into the rfc822Name is a
 * mailbox: one '@', a dot-atom local part, a domain of LDH labels.
 */
static void
test_email_mailbox(void **state)
{
	struct lint_fixture *f = *state;
	static const char *const good[] = {
		"budi@example.id",
		"budi.santoso@mail.example.co.id",
		"o'brien+tag@example.com",
		"a!#$%&'*+-/=?^_`{|}~@x-y.example",
		"user@xn--bcher-kva.example",
		"7@2.id",
	};
	static const char *const bad[][2] = {
		{ "not-an-email", "no '@'" },
		{ "a b@x y", "local part not a dot-atom: byte 0x20" },
		{ "evil@example.com,other@x", "more than one '@'" },
		{ "evil@example.com,other.x", "domain holds ','" },
		{ "\\\"budi\\\"@example.com", "local part not a dot-atom: '\"'" },
		{ "bu(di)@example.com", "local part not a dot-atom: '('" },
		{ "@example.com", "local part empty" },
		{ ".budi@example.com", "'.' at either end" },
		{ "budi.@example.com", "'.' at either end" },
		{ "bu..di@example.com", "'.' doubled" },
		{ "budi@", "domain empty" },
		{ "budi@localhost", "domain of one label" },
		{ "budi@[192.0.2.1]", "domain an address literal" },
		{ "budi@192.0.2.1", "ends with a numeric label" },
		{ "budi@-x.example", "begins or ends with a hyphen" },
		{ "budi@x-.example", "begins or ends with a hyphen" },
		{ "budi@example..com", "domain label empty" },
		{ "budi@example.com.", "domain label empty" },
		{ "budi@.example.com", "domain label empty" },
		{ "budi@under_score.example", "domain holds '_'" },
		{ "budi@ex\u00e4mple.com", "domain holds byte 0xC3" },
		{ "b\u00fcdi@example.com", "local part not a dot-atom: byte 0xC3" },
	};
	char json[1024], addr[256], err[512];
	size_t i;

	put_profile(f, "personal", NULL, NULL);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(json, sizeof(json), "{\"C\":\"ID\",\"CN\":\"Budi\","
		    "\"serialNumber\":\"NIK:1\",\"emailAddress\":\"%s\"}",
		    good[i]);
		if (lint_of(f, "personal", json, 3 * 365 * DAY, err,
		    sizeof(err)) != 0)
			fail_msg("%s refused: %s", good[i], err);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(json, sizeof(json), "{\"C\":\"ID\",\"CN\":\"Budi\","
		    "\"serialNumber\":\"NIK:1\",\"emailAddress\":\"%s\"}",
		    bad[i][0]);
		want_refused(subject_of(f, "personal", json, err, sizeof(err)),
		    err, bad[i][1], bad[i][0]);
		if (strstr(err, "subject emailAddress is not a mailbox") == NULL)
			fail_msg("%s: \"%s\"", bad[i][0], err);
	}
	/* RFC 5321 §4.5.3.1.1: a local part of 64 octets at most. */
	snprintf(addr, sizeof(addr), "%.64s@example.id", LONG_A LONG_A);
	snprintf(json, sizeof(json), "{\"C\":\"ID\",\"CN\":\"Budi\","
	    "\"serialNumber\":\"NIK:1\",\"emailAddress\":\"%s\"}", addr);
	if (lint_of(f, "personal", json, 3 * 365 * DAY, err, sizeof(err)) != 0)
		fail_msg("a local part of 64 octets refused: %s", err);
	snprintf(json, sizeof(json), "{\"C\":\"ID\",\"CN\":\"Budi\","
	    "\"serialNumber\":\"NIK:1\",\"emailAddress\":\"a%s\"}", addr);
	want_refused(subject_of(f, "personal", json, err, sizeof(err)), err,
	    "local part longer than 64 octets", "local part of 65 octets");
	/* RFC 1034 §3.5: a label of 63 octets at most. */
	snprintf(addr, sizeof(addr), "budi@%.63s.id", LONG_B LONG_B);
	snprintf(json, sizeof(json), "{\"C\":\"ID\",\"CN\":\"Budi\","
	    "\"serialNumber\":\"NIK:1\",\"emailAddress\":\"%s\"}", addr);
	if (lint_of(f, "personal", json, 3 * 365 * DAY, err, sizeof(err)) != 0)
		fail_msg("a label of 63 octets refused: %s", err);
	snprintf(addr, sizeof(addr), "budi@%.64s.id", LONG_B LONG_B);
	snprintf(json, sizeof(json), "{\"C\":\"ID\",\"CN\":\"Budi\","
	    "\"serialNumber\":\"NIK:1\",\"emailAddress\":\"%s\"}", addr);
	want_refused(subject_of(f, "personal", json, err, sizeof(err)), err,
	    "domain label longer than 63 octets", "label of 64 octets");

	/* The certificate's own names are judged too (cad_lint). */
	put_profile(f, "personal", "subjectAltName =",
	    "subjectAltName = email:not-an-email");
	want_refused(lint_of(f, "personal", PERSON, 3 * 365 * DAY, err,
	    sizeof(err)), err, "subjectAltName rfc822Name is not a mailbox: "
	    "no '@'", "SAN rfc822Name without '@'");
	put_profile(f, "personal", NULL, NULL);
	want_refused(lint_edited(f, "personal", PERSON, 3 * 365 * DAY,
	    "ec-p256", edit_bad_email, err, sizeof(err)), err,
	    "subject emailAddress is not a mailbox: local part not a dot-atom: "
	    "byte 0x20", "the certificate's emailAddress");
}

static void
edit_ku_not_critical(X509 *x)
{
	int i = X509_get_ext_by_NID(x, NID_key_usage, -1);

	assert_true(i >= 0);
	assert_int_equal(X509_EXTENSION_set_critical(X509_get_ext(x, i), 0), 1);
}

static void
edit_bc_critical(X509 *x)
{
	int i = X509_get_ext_by_NID(x, NID_basic_constraints, -1);

	assert_true(i >= 0);
	assert_int_equal(X509_EXTENSION_set_critical(X509_get_ext(x, i), 1), 1);
}

static void
edit_add_dns_san(X509 *x)
{
	X509_EXTENSION *ext;

	ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
	    "DNS:ca.example.id");
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

static void
edit_add_nscomment(X509 *x)
{
	X509_EXTENSION *ext;

	ext = X509V3_EXT_conf_nid(NULL, NULL, NID_netscape_comment, "hello");
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

static void
edit_second_ku(X509 *x)
{
	X509_EXTENSION *ext;

	ext = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage,
	    "critical, digitalSignature");
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/*
 * Each extension as critical as the profile makes it, none the profile
 * does not make, none twice.
 */
static void
test_extensions_as_profiled(void **state)
{
	struct lint_fixture *f = *state;
	char err[512];

	put_profile(f, "personal", NULL, NULL);
	want_refused(lint_edited(f, "personal", PERSON, 3 * 365 * DAY,
	    "ec-p256", edit_ku_not_critical, err, sizeof(err)), err,
	    "extension keyUsage is not critical, profile personal makes it "
	    "critical", "keyUsage not critical");
	want_refused(lint_edited(f, "personal", PERSON, 3 * 365 * DAY,
	    "ec-p256", edit_add_nscomment, err, sizeof(err)), err,
	    "extension nsComment is not one profile personal makes",
	    "an extension the profile does not make");
	/* personal makes a subjectAltName only from an emailAddress. */
	put_profile(f, "personal", "subjectAltName =", "# no subjectAltName");
	want_refused(lint_edited(f, "personal", PERSON, 3 * 365 * DAY,
	    "ec-p256", edit_add_dns_san, err, sizeof(err)), err,
	    "extension subjectAltName is not one profile personal makes",
	    "a subjectAltName the profile does not make");
	put_profile(f, "personal", NULL, NULL);
	want_refused(lint_edited(f, "personal", PERSON, 3 * 365 * DAY,
	    "ec-p256", edit_second_ku, err, sizeof(err)), err,
	    "extension keyUsage appears more than once", "keyUsage twice");
	/* basicConstraints as the profile says: here not critical. */
	put_profile(f, "personal", "basicConstraints =",
	    "basicConstraints = CA:false");
	if (lint_of(f, "personal", PERSON, 3 * 365 * DAY, err,
	    sizeof(err)) != 0)
		fail_msg("basicConstraints not critical, as profiled, refused: "
		    "%s", err);
	want_refused(lint_edited(f, "personal", PERSON, 3 * 365 * DAY,
	    "ec-p256", edit_bc_critical, err, sizeof(err)), err,
	    "extension basicConstraints is critical, profile personal makes "
	    "it not critical", "basicConstraints critical against profile");
}

/*
 * A personal subject whose attr (CN, serialNumber or emailAddress) is
 * value, at its upper bound, passes the lint; one character more (value's
 * last repeated, or "a" after a multi-octet one) is refused with want.
 */
static void
at_the_bound(struct lint_fixture *f, const char *attr, const char *value,
    const char *want)
{
	char json[2048], err[512], more[512];
	const char *v;
	size_t n = strlen(value);
	int em = strcmp(attr, "emailAddress") == 0;
	int i;

	assert_true(n > 0 && n + 2 <= sizeof(more));
	snprintf(more, sizeof(more), "%s%c", value, (value[n - 1] & 0x80) ?
	    'a' : value[n - 1]);
	for (i = 0; i < 2; i++) {
		v = i ? more : value;
		snprintf(json, sizeof(json), "{\"C\":\"ID\",\"CN\":\"%s\","
		    "\"serialNumber\":\"%s\"%s%s%s}",
		    strcmp(attr, "CN") == 0 ? v : "Budi",
		    strcmp(attr, "serialNumber") == 0 ? v : "NIK:1",
		    em ? ",\"emailAddress\":\"" : "", em ? v : "", em ? "\"" : "");
		if (i == 0 && lint_of(f, "personal", json, 3 * 365 * DAY, err,
		    sizeof(err)) != 0)
			fail_msg("%s: at the bound, refused: %s", want, err);
	}
	want_refused(subject_of(f, "personal", json, err, sizeof(err)), err,
	    want, want);
}

/*
 * Lengths in characters, not octets (RFC 5280 Appendix A); no control
 * character nor bidirectional override in a value.
 */
static void
test_subject_values(void **state)
{
	struct lint_fixture *f = *state;
	char json[1024], cn[512], err[512];
	size_t i;
	static const char *const bad[][2] = {
		{ "Budi\\u0007Santoso", "control character (U+0007)" },
		{ "Budi\\u0085Santoso", "control character (U+0085)" },
		{ "Budi\\tSantoso", "control character (U+0009)" },
		{ "Budi \\u202eosotnaS", "bidirectional formatting character "
		    "(U+202E)" },
		{ "Budi\\u2066Santoso", "bidirectional formatting character "
		    "(U+2066)" },
		{ "Budi\\u200fSantoso", "bidirectional formatting character "
		    "(U+200F)" },
	};
	/* Each looks like a name, or like nothing, and is another. */
	static const char *const invisible[][2] = {
		{ "\\u200b\\u2060\\ufeff", "invisible format character (U+200B)" },
		{ "Budi Santoso\\u200b", "invisible format character (U+200B)" },
		{ "Budi\\u00adSantoso", "invisible format character (U+00AD)" },
		{ "Budi\\u2060", "invisible format character (U+2060)" },
		{ "\\ufeffBudi", "invisible format character (U+FEFF)" },
		{ "Budi\\u180eSantoso", "invisible format character (U+180E)" },
		{ "Budi\\udb40\\udc41", "invisible format character (U+E0041)" },
		{ "Budi\\u2028Santoso", "line or paragraph separator (U+2028)" },
		{ "Budi\\u2029", "line or paragraph separator (U+2029)" },
		{ "Budi\\ue000", "private-use character (U+E000)" },
		{ "Budi\\udb80\\udc00", "private-use character (U+F0000)" },
		{ "Budi\\udbff\\udffd", "private-use character (U+10FFFD)" },
		{ "Budi\\ufdd0", "noncharacter (U+FDD0)" },
		{ "Budi\\uffff", "noncharacter (U+FFFF)" },
		{ "\\u3000", "subject attribute CN is empty" },
		{ "\\u00a0\\u2003 ", "subject attribute CN is empty" },
		{ " Budi Santoso", "begins or ends with a space" },
		{ "Budi Santoso ", "begins or ends with a space" },
		{ "Budi\\u3000", "begins or ends with a space" },
		{ "Budi  Santoso", "holds two spaces in a row" },
		{ "Budi \\u00a0Santoso", "holds two spaces in a row" },
		{ "Budi\\u00a0Santoso", "space other than U+0020 (U+00A0)" },
		{ "Budi\\u3000Santoso", "space other than U+0020 (U+3000)" },
	};
	/* User-assigned ISO 3166 codes, and codes nobody holds. */
	static const char *const countries[] = {
		"XX", "AA", "QM", "QZ", "XA", "XK", "ZZ", "UK", "EU",
	};
	static const char *const good[][2] = {
		{ "ID", "Budi Santoso" },
		{ "ID", "Ni Luh Putu Ayu Wulandari" },
		{ "ID", "I Gusti Ngurah Rai" },
		{ "ID", "Siti Nur-Aini" },
		{ "ID", "Moh. Hatta" },
		{ "ID", "Dr. Ir. H. Joko Susilo, M.Sc." },
		{ "ID", "Sa'adah" },
		{ "ID", "Ade Irma Suryani Nasution" },
		{ "ID", "Andr\\u00e9 Sitorus" },
		{ "ID", "Sukarno" },
		{ "SG", "Tan Ah Kow" },
		{ "MY", "Nur 'Aisyah binti Ahmad" },
		{ "NL", "Jan van der Berg" },
	};

	put_profile(f, "personal", NULL, NULL);
	/* 40 characters of two octets each: 80 octets, a valid CN. */
	cn[0] = '\0';
	for (i = 0; i < 40; i++)
		strcat(cn, "\xc3\x96");
	snprintf(json, sizeof(json), "{\"C\":\"ID\",\"CN\":\"%s\","
	    "\"serialNumber\":\"NIK:1\"}", cn);
	if (lint_of(f, "personal", json, 3 * 365 * DAY, err, sizeof(err)) != 0)
		fail_msg("a CN of 40 two-octet characters refused: %s", err);
	/* 64 characters of three octets: still valid; 65: refused. */
	cn[0] = '\0';
	for (i = 0; i < 64; i++)
		strcat(cn, "\xe6\x9d\xb1");
	at_the_bound(f, "CN", cn, "subject attribute CN is longer than 64 "
	    "characters");
	/* ub-serial-number is 64 too (it was the 128 of the others). */
	memset(cn, '7', 64);
	cn[64] = '\0';
	at_the_bound(f, "serialNumber", cn, "subject attribute serialNumber is "
	    "longer than 64 characters");
	/* emailAddress: OpenSSL's 128 (RFC 5280 allows 255). */
	snprintf(cn, sizeof(cn), "budi@%.*s.%.*s.co", 59, LONG_A, 60, LONG_B);
	assert_int_equal(strlen(cn), 128);
	at_the_bound(f, "emailAddress", cn, "subject attribute emailAddress is "
	    "longer than 128 characters");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(json, sizeof(json), "{\"C\":\"ID\",\"CN\":\"%s\","
		    "\"serialNumber\":\"NIK:1\"}", bad[i][0]);
		want_refused(subject_of(f, "personal", json, err, sizeof(err)),
		    err, bad[i][1], bad[i][0]);
	}
	/* Blank stays refused, as before. */
	want_refused(subject_of(f, "personal", "{\"C\":\"ID\",\"CN\":\"  \","
	    "\"serialNumber\":\"NIK:1\"}", err, sizeof(err)), err,
	    "subject attribute CN is empty", "blank CN");
	for (i = 0; i < sizeof(invisible) / sizeof(invisible[0]); i++) {
		snprintf(json, sizeof(json), "{\"C\":\"ID\",\"CN\":\"%s\","
		    "\"serialNumber\":\"NIK:1\"}", invisible[i][0]);
		want_refused(subject_of(f, "personal", json, err, sizeof(err)),
		    err, invisible[i][1], invisible[i][0]);
	}
	for (i = 0; i < sizeof(countries) / sizeof(countries[0]); i++) {
		snprintf(json, sizeof(json), "{\"C\":\"%s\",\"CN\":\"Budi\","
		    "\"serialNumber\":\"NIK:1\"}", countries[i]);
		want_refused(subject_of(f, "personal", json, err, sizeof(err)),
		    err, "is not an ISO 3166-1 alpha-2 country code",
		    countries[i]);
	}
	/* What RA data holds stays accepted, in the order and the certificate. */
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(json, sizeof(json), "{\"C\":\"%s\",\"CN\":\"%s\","
		    "\"serialNumber\":\"NIK:3174012345670001\"}", good[i][0],
		    good[i][1]);
		if (lint_of(f, "personal", json, 3 * 365 * DAY, err,
		    sizeof(err)) != 0)
			fail_msg("%s refused: %s", json, err);
	}
}

/* A valid UTF-8 text (what PostgreSQL stores as text), else fails. */
static void
assert_utf8(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n, k;

	while (u[i] != '\0') {
		n = u[i] < 0x80 ? 0 : (u[i] & 0xe0) == 0xc0 ? 1 :
		    (u[i] & 0xf0) == 0xe0 ? 2 : (u[i] & 0xf8) == 0xf0 ? 3 : 9;
		if (n == 9)
			fail_msg("not UTF-8 at octet %zu: %s", i, s);
		for (k = 1; k <= n; k++)
			if ((u[i + k] & 0xc0) != 0x80)
				fail_msg("UTF-8 sequence cut at octet %zu", i);
		i += n + 1;
	}
}

/*
 * An order's key quoted in a message: bounded, and the message valid UTF-8
 * whatever the key (a key of 300 × "é" made a message that vsnprintf cut
 * inside a character: PostgreSQL refused it as last_error, SQLSTATE 22021,
 * and the order blocked every worker).
 */
static void
test_error_text_utf8(void **state)
{
	struct lint_fixture *f = *state;
	char json[2048], err[512], cut[8];
	size_t i;

	put_profile(f, "personal", NULL, NULL);
	snprintf(json, sizeof(json), "{\"");
	for (i = 0; i < 300; i++)
		strcat(json, "\xc3\xa9");
	strcat(json, "\":\"x\",\"C\":\"ID\",\"CN\":\"Budi\","
	    "\"serialNumber\":\"NIK:1\"}");
	want_refused(subject_of(f, "personal", json, err, sizeof(err)), err,
	    "subject attribute U+00E9U+00E9", "a key of 300 x e-acute");
	assert_utf8(err);
	assert_non_null(strstr(err, "U+00E9... not allowed by profile personal"));
	/* cad_text_clean: a sequence cut at the end goes, a stray byte is '?'. */
	snprintf(cut, sizeof(cut), "ab\xc3");
	cad_text_clean(cut);
	assert_string_equal(cut, "ab");
	snprintf(cut, sizeof(cut), "a\xe2\x82");
	cad_text_clean(cut);
	assert_string_equal(cut, "a");
	snprintf(cut, sizeof(cut), "a\xff" "b\n");
	cad_text_clean(cut);
	assert_string_equal(cut, "a?b?");
	snprintf(cut, sizeof(cut), "\xc3\xa9t\xc3\xa9");
	cad_text_clean(cut);
	assert_string_equal(cut, "\xc3\xa9t\xc3\xa9");
}

static void
edit_rlo_in_cn(X509 *x)
{
	X509_NAME *name = X509_get_subject_name(x);
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);

	assert_true(i >= 0);
	X509_NAME_ENTRY_free(X509_NAME_delete_entry(name, i));
	assert_int_equal(X509_NAME_add_entry_by_NID(name, NID_commonName,
	    MBSTRING_UTF8, (const unsigned char *)"Budi \xe2\x80\xaeosotnaS",
	    -1, -1, 0), 1);
}

/* The certificate's own subject is judged too, not only the order's data. */
static void
test_certificate_subject_judged(void **state)
{
	struct lint_fixture *f = *state;
	char err[512];

	put_profile(f, "personal", NULL, NULL);
	want_refused(lint_edited(f, "personal", PERSON, 3 * 365 * DAY,
	    "ec-p256", edit_rlo_in_cn, err, sizeof(err)), err,
	    "bidirectional formatting character (U+202E)", "RLO in the "
	    "certificate's CN");
}

/* Replaces the subject's attribute nid by value, of ASN.1 string type. */
static void
set_subject_string(X509 *x, int nid, int type, const char *value)
{
	X509_NAME *name = X509_get_subject_name(x);
	int i = X509_NAME_get_index_by_NID(name, nid, -1);

	assert_true(i >= 0);
	X509_NAME_ENTRY_free(X509_NAME_delete_entry(name, i));
	assert_int_equal(X509_NAME_add_entry_by_NID(name, nid, type,
	    (const unsigned char *)value, -1, i, 0), 1);
}

static void
edit_c_utf8(X509 *x)
{
	set_subject_string(x, NID_countryName, V_ASN1_UTF8STRING, "ID");
}

static void
edit_serial_utf8(X509 *x)
{
	set_subject_string(x, NID_serialNumber, V_ASN1_UTF8STRING,
	    "NIK:3174012345670001");
}

static void
edit_cn_t61(X509 *x)
{
	set_subject_string(x, NID_commonName, V_ASN1_T61STRING, "Budi_Santoso");
}

static void
edit_cn_bmp(X509 *x)
{
	/* "Bu" in UCS-2: the type alone is judged. */
	set_subject_string(x, NID_commonName, V_ASN1_BMPSTRING, "Budi");
}

static void
edit_cn_printable_bad(X509 *x)
{
	set_subject_string(x, NID_commonName, V_ASN1_PRINTABLESTRING,
	    "Budi@Santoso");
}

static void
edit_cn_printable(X509 *x)
{
	set_subject_string(x, NID_commonName, V_ASN1_PRINTABLESTRING,
	    "Budi Santoso");
}

/*
 * RFC 5280 §4.1.2.4 and Appendix A: the subject's string types. cad
 * builds them so; `pkictl cert issue` copies a CSR's subject as encoded,
 * and until 2026-12-07 signed a countryName in a UTF8String, a CN in a
 * TeletexString (`openssl req` with string_mask = default and a '_') or
 * BMPString, a PrintableString holding '@'.
 */
static void
test_subject_string_types(void **state)
{
	struct lint_fixture *f = *state;
	char err[512];

	put_profile(f, "personal", NULL, NULL);
	want_refused(lint_edited(f, "personal", PERSON, 3 * 365 * DAY,
	    "ec-p256", edit_c_utf8, err, sizeof(err)), err,
	    "subject attribute C is a UTF8STRING, not a PrintableString",
	    "countryName in a UTF8String");
	want_refused(lint_edited(f, "personal", PERSON, 3 * 365 * DAY,
	    "ec-p256", edit_serial_utf8, err, sizeof(err)), err,
	    "subject attribute serialNumber is a UTF8STRING, not a "
	    "PrintableString", "serialNumber in a UTF8String");
	want_refused(lint_edited(f, "personal", PERSON, 3 * 365 * DAY,
	    "ec-p256", edit_cn_t61, err, sizeof(err)), err,
	    "subject attribute CN is a T61STRING, not a UTF8String or a "
	    "PrintableString", "CN in a TeletexString");
	want_refused(lint_edited(f, "personal", PERSON, 3 * 365 * DAY,
	    "ec-p256", edit_cn_bmp, err, sizeof(err)), err,
	    "subject attribute CN is a BMPSTRING", "CN in a BMPString");
	want_refused(lint_edited(f, "personal", PERSON, 3 * 365 * DAY,
	    "ec-p256", edit_cn_printable_bad, err, sizeof(err)), err,
	    "subject attribute CN is a PrintableString holding byte 0x40",
	    "'@' in a PrintableString CN");
	if (lint_edited(f, "personal", PERSON, 3 * 365 * DAY, "ec-p256",
	    edit_cn_printable, err, sizeof(err)) != 0)
		fail_msg("a PrintableString CN refused: %s", err);
}

/* The key the HSM generated is the one the order asked for. */
static void
test_key_type_is_the_orders(void **state)
{
	struct lint_fixture *f = *state;
	char err[512];

	put_profile(f, "personal", NULL, NULL);
	want_refused(lint_edited(f, "personal", PERSON, 3 * 365 * DAY,
	    "ec-p384", NULL, err, sizeof(err)), err,
	    "subject key is ec-p256, the order asks for ec-p384",
	    "P-256 key for an ec-p384 order");
	want_refused(lint_edited(f, "personal", PERSON, 3 * 365 * DAY,
	    "rsa2048", NULL, err, sizeof(err)), err,
	    "subject key is ec-p256, the order asks for rsa2048",
	    "P-256 key for an rsa2048 order");
}

/* An RSA public key of a random odd modulus of bits bits (even: even), exponent e (hex). */
static EVP_PKEY *
rsa_pub(int bits, int even, const char *e_hex)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *k = NULL;
	BIGNUM *n = BN_new(), *e = NULL;

	assert_non_null(bld);
	assert_non_null(ctx);
	assert_non_null(n);
	assert_int_equal(BN_rand(n, bits, BN_RAND_TOP_ONE, even ?
	    BN_RAND_BOTTOM_ANY : BN_RAND_BOTTOM_ODD), 1);
	if (even)
		assert_int_equal(BN_clear_bit(n, 0), 1);
	assert_true(BN_hex2bn(&e, e_hex) > 0);
	assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n), 1);
	assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e), 1);
	params = OSSL_PARAM_BLD_to_param(bld);
	assert_non_null(params);
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY,
	    params), 1);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(n);
	BN_free(e);
	return k;
}

/*
 * A P-256 public key as a CSR with explicit curve parameters carries it:
 * encoded with them and decoded again (OpenSSL 3 names the curve all the
 * same).
 */
static EVP_PKEY *
ec_explicit_pub(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256"), *pub;
	unsigned char *der = NULL;
	const unsigned char *q;
	int n;

	assert_non_null(k);
	assert_int_equal(EVP_PKEY_set_utf8_string_param(k,
	    OSSL_PKEY_PARAM_EC_ENCODING, OSSL_PKEY_EC_ENCODING_EXPLICIT), 1);
	n = i2d_PUBKEY(k, &der);
	assert_true(n > 0);
	q = der;
	pub = d2i_PUBKEY(NULL, &q, n);
	assert_non_null(pub);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
	return pub;
}

/* Expects cad_lint_pubkey() to take k as kt, or (kt NULL) refuse it with want. */
static void
want_pubkey(EVP_PKEY *k, const char *kt, const char *want, const char *what)
{
	char got[16], err[256];

	err[0] = '\0';
	if (kt != NULL) {
		if (cad_lint_pubkey(k, got, sizeof(got), err, sizeof(err)) != 0)
			fail_msg("%s: refused: %s", what, err);
		if (strcmp(got, kt) != 0)
			fail_msg("%s: %s, want %s", what, got, kt);
	} else
		want_refused(cad_lint_pubkey(k, got, sizeof(got), err,
		    sizeof(err)), err, want, what);
	EVP_PKEY_free(k);
}

/*
 * The subscriber keys cad's lint and `pkictl cert issue` take: RSA's
 * exponent odd, 65537 <= e < 2^256 (e = 1 lets anyone forge), its modulus
 * odd and of whole octets; EC on a named curve only (RFC 5480 §2.1.1).
 */
static void
test_pubkey_checked(void **state)
{
	want_pubkey(rsa_pub(2048, 0, "10001"), "rsa2048", NULL, "RSA-2048 e=65537");
	want_pubkey(rsa_pub(3072, 0, "10001"), "rsa3072", NULL, "RSA-3072");
	want_pubkey(rsa_pub(2056, 0, "10001"), "rsa-other", NULL, "RSA-2056");
	want_pubkey(rsa_pub(2048, 0, "80000000000000000000000000000000"
	    "00000000000000000000000000000001"), "rsa2048", NULL, "e = 2^255 + 1");
	want_pubkey(rsa_pub(2048, 0, "1"), NULL, "RSA public exponent 1 refused",
	    "e = 1");
	want_pubkey(rsa_pub(2048, 0, "3"), NULL, "RSA public exponent 3 refused",
	    "e = 3");
	want_pubkey(rsa_pub(2048, 0, "10000"), NULL,
	    "RSA public exponent 65536 refused", "e = 65536");
	want_pubkey(rsa_pub(2048, 0, "100000000000000000000000000000000"
	    "00000000000000000000000000000001"), NULL,
	    "RSA public exponent of 257 bits refused", "e = 2^256 + 1");
	want_pubkey(rsa_pub(2049, 0, "10001"), NULL, "RSA modulus of 2049 bits",
	    "a modulus of 2049 bits");
	want_pubkey(rsa_pub(2048, 1, "10001"), NULL, "2048 bits, even",
	    "an even modulus");
	want_pubkey(rsa_pub(1024, 0, "10001"), NULL, "RSA key of 1024 bits: at least 2048",
	    "RSA-1024");
	want_pubkey(EVP_EC_gen("P-256"), "ec-p256", NULL, "P-256");
	want_pubkey(EVP_EC_gen("P-384"), "ec-p384", NULL, "P-384");
	want_pubkey(EVP_EC_gen("P-521"), NULL, "EC curve secp521r1 refused",
	    "P-521");
	want_pubkey(ec_explicit_pub(), NULL, "explicit curve parameters",
	    "P-256 by explicit parameters");
	want_pubkey(EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), NULL,
	    "RSA or EC only", "Ed25519");
	want_pubkey(NULL, NULL, "no public key", "no key");
}

static EVP_PKEY *edit_key;

static void
edit_set_key(X509 *x)
{
	assert_int_equal(X509_set_pubkey(x, edit_key), 1);
}

/* cad_lint() judges the certificate's key as cad_lint_pubkey() does. */
static void
test_lint_pubkey(void **state)
{
	struct lint_fixture *f = *state;
	char err[512];

	put_profile(f, "personal", NULL, NULL);
	edit_key = ec_explicit_pub();
	want_refused(lint_edited(f, "personal", PERSON, 3 * 365 * DAY,
	    "ec-p256", edit_set_key, err, sizeof(err)), err,
	    "lint: subject key: EC key with explicit curve parameters",
	    "P-256 by explicit parameters");
	EVP_PKEY_free(edit_key);
	edit_key = rsa_pub(2048, 0, "1");
	want_refused(lint_edited(f, "personal", PERSON, 3 * 365 * DAY,
	    "rsa2048", edit_set_key, err, sizeof(err)), err,
	    "lint: subject key: RSA public exponent 1 refused", "e = 1");
	EVP_PKEY_free(edit_key);
	edit_key = rsa_pub(2056, 0, "10001");
	want_refused(lint_edited(f, "personal", PERSON, 3 * 365 * DAY,
	    "rsa2048", edit_set_key, err, sizeof(err)), err,
	    "key type rsa-other not allowed by profile personal",
	    "RSA-2056 under personal");
	EVP_PKEY_free(edit_key);
	edit_key = NULL;
}

/*
 * RFC 5280 §4.1.2.5: notAfter clamped to an issuer whose notAfter is a
 * GeneralizedTime before 2050 is a UTCTime all the same; the lint refuses
 * a time in the wrong form.
 */
static void
edit_not_before_generalized(X509 *x)
{
	assert_non_null(ASN1_GENERALIZEDTIME_adj(X509_getm_notBefore(x),
	    time(NULL), 0, -300));
}

/* The personal profile, PERSON's subject and an issuer valid 30 more days. */
static void
clamp_setup(struct lint_fixture *f, struct profile **p, X509_NAME **subject,
    X509 **issuer)
{
	char err[512];

	put_profile(f, "personal", NULL, NULL);
	*p = profile_load(f->dir, "personal", "issuing", f->cfg, err, sizeof(err));
	assert_non_null(*p);
	*subject = cad_subject(*p, PERSON, err, sizeof(err));
	assert_non_null(*subject);
	*issuer = make_issuer(f, 30 * DAY);
}

static void
test_clamped_not_after_utctime(void **state)
{
	struct lint_fixture *f = *state;
	struct profile *p;
	X509_NAME *subject;
	X509 *issuer, *x;
	char err[512];

	/* Its notAfter a GeneralizedTime. */
	clamp_setup(f, &p, &subject, &issuer);
	assert_non_null(ASN1_GENERALIZEDTIME_adj(X509_getm_notAfter(issuer),
	    time(NULL), 30, 0));
	assert_int_equal(ASN1_STRING_type(X509_get0_notAfter(issuer)),
	    V_ASN1_GENERALIZEDTIME);
	x = profile_build(p, subject, f->sub_key, NULL, issuer, NULL, err,
	    sizeof(err));
	assert_non_null(x);
	assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(x),
	    X509_get0_notAfter(issuer)), 0);
	assert_int_equal(ASN1_STRING_type(X509_get0_notAfter(x)),
	    V_ASN1_UTCTIME);
	assert_int_equal(ASN1_STRING_length(X509_get0_notAfter(x)), 13);
	if (cad_lint(p, x, issuer, "ec-p256", 1096, err, sizeof(err)) != 0)
		fail_msg("clamped certificate refused: %s", err);
	/* A GeneralizedTime before 2050 in the certificate: refused. */
	assert_non_null(ASN1_GENERALIZEDTIME_adj(X509_getm_notAfter(x),
	    time(NULL), 30, 0));
	want_refused(cad_lint(p, x, issuer, "ec-p256", 1096, err,
	    sizeof(err)), err, "notAfter in 20", "GeneralizedTime notAfter");
	assert_non_null(strstr(err, "is a GeneralizedTime (RFC 5280 §4.1.2.5"));
	X509_free(x);
	X509_free(issuer);
	X509_NAME_free(subject);
	profile_free(p);
	want_refused(lint_edited(f, "personal", PERSON, 3 * 365 * DAY,
	    "ec-p256", edit_not_before_generalized, err, sizeof(err)), err,
	    "notBefore in 20", "GeneralizedTime notBefore");
}

/*
 * An issuer made a minute ago: the backdating (300 s) stops at its
 * notBefore, and the lint refuses a certificate valid before it.
 */
static void
test_clamped_not_before(void **state)
{
	struct lint_fixture *f = *state;
	struct profile *p;
	X509_NAME *subject;
	X509 *issuer, *x;
	char err[512];
	time_t t0 = time(NULL);	/* one clock reading for both times */

	clamp_setup(f, &p, &subject, &issuer);
	assert_non_null(X509_time_adj(X509_getm_notBefore(issuer), -60, &t0));
	x = profile_build(p, subject, f->sub_key, NULL, issuer, NULL, err,
	    sizeof(err));
	assert_non_null(x);
	assert_int_equal(ASN1_TIME_compare(X509_get0_notBefore(x),
	    X509_get0_notBefore(issuer)), 0);
	assert_int_equal(ASN1_STRING_length(X509_get0_notBefore(x)), 13);
	if (cad_lint(p, x, issuer, "ec-p256", 1096, err, sizeof(err)) != 0)
		fail_msg("clamped certificate refused: %s", err);
	/* A second before the issuer: refused. */
	assert_non_null(X509_time_adj(X509_getm_notBefore(x), -61, &t0));
	want_refused(cad_lint(p, x, issuer, "ec-p256", 1096, err,
	    sizeof(err)), err, "valid before the issuer", "notBefore < issuer's");
	X509_free(x);
	/* An issuer of a day ago: the full backdating. */
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(issuer), -DAY));
	x = profile_build(p, subject, f->sub_key, NULL, issuer, NULL, err,
	    sizeof(err));
	assert_non_null(x);
	assert_true(ASN1_TIME_compare(X509_get0_notBefore(x),
	    X509_get0_notBefore(issuer)) > 0);
	assert_int_equal(X509_cmp_time(X509_get0_notBefore(x), NULL), -1);
	X509_free(x);
	X509_free(issuer);
	X509_NAME_free(subject);
	profile_free(p);
}

/*
 * What each kind may carry: a seal neither serverAuth, codeSigning nor
 * emailProtection; an EC key never keyEncipherment nor dataEncipherment
 * (RFC 5480 §3); no encryption usage for a key that only signs.
 */
static void
test_kind_usages(void **state)
{
	struct lint_fixture *f = *state;
	static const char *const eseal_bad[][2] = {
		{ "keyUsage = critical, digitalSignature, nonRepudiation\n"
		    "extendedKeyUsage = serverAuth",
		    "extendedKeyUsage serverAuth (1.3.6.1.5.5.7.3.1) not allowed "
		    "for kind eseal" },
		{ "keyUsage = critical, digitalSignature, nonRepudiation\n"
		    "extendedKeyUsage = codeSigning",
		    "extendedKeyUsage codeSigning (1.3.6.1.5.5.7.3.3) not allowed "
		    "for kind eseal" },
		{ "keyUsage = critical, digitalSignature, nonRepudiation\n"
		    "extendedKeyUsage = emailProtection",
		    "extendedKeyUsage emailProtection (1.3.6.1.5.5.7.3.4) not "
		    "allowed for kind eseal" },
	};
	static const char *const personal_bad[][2] = {
		{ "keyUsage = critical, digitalSignature, keyEncipherment",
		    "keyUsage keyEncipherment with an EC key (RFC 5480 §3)" },
		{ "keyUsage = critical, digitalSignature, dataEncipherment",
		    "keyUsage dataEncipherment with an EC key (RFC 5480 §3)" },
		{ "keyUsage = critical, digitalSignature, keyAgreement",
		    "keyUsage keyAgreement not allowed for kind personal" },
		{ "extendedKeyUsage = emailProtection, clientAuth",
		    "extendedKeyUsage clientAuth (1.3.6.1.5.5.7.3.2) not allowed "
		    "for kind personal" },
		{ "extendedKeyUsage = emailProtection, serverAuth",
		    "extendedKeyUsage serverAuth (1.3.6.1.5.5.7.3.1) not allowed "
		    "for kind personal" },
	};
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(eseal_bad) / sizeof(eseal_bad[0]); i++) {
		put_profile(f, "eseal", "keyUsage =", eseal_bad[i][0]);
		want_refused(lint_of(f, "eseal", SEAL, 3 * 365 * DAY, err,
		    sizeof(err)), err, eseal_bad[i][1], eseal_bad[i][0]);
	}
	for (i = 0; i < sizeof(personal_bad) / sizeof(personal_bad[0]); i++) {
		put_profile(f, "personal", personal_bad[i][0][0] == 'k' ?
		    "keyUsage =" : "extendedKeyUsage =", personal_bad[i][0]);
		want_refused(lint_of(f, "personal", PERSON, 3 * 365 * DAY, err,
		    sizeof(err)), err, personal_bad[i][1], personal_bad[i][0]);
	}
	/* Document signing (RFC 9336) is a seal's and a person's. */
	put_profile(f, "eseal", "keyUsage =", "keyUsage = critical, "
	    "digitalSignature, nonRepudiation\nextendedKeyUsage = "
	    "1.3.6.1.5.5.7.3.36");
	if (lint_of(f, "eseal", SEAL, 3 * 365 * DAY, err, sizeof(err)) != 0)
		fail_msg("eseal with documentSigning refused: %s", err);
	put_profile(f, "personal", "extendedKeyUsage =", "extendedKeyUsage = "
	    "emailProtection, 1.3.6.1.5.5.7.3.36");
	if (lint_of(f, "personal", PERSON, 3 * 365 * DAY, err,
	    sizeof(err)) != 0)
		fail_msg("personal with documentSigning refused: %s", err);
}

/* AIA, CRL distribution points, freshest CRL: absolute http URLs only. */
static void
test_urls_http(void **state)
{
	struct lint_fixture *f = *state;
	static const char *const bad[][2] = {
		{ "crlDistributionPoints = URI:not a url",
		    "crlDistributionPoints is not an absolute http URL" },
		{ "crlDistributionPoints = URI:/issuing.crl",
		    "crlDistributionPoints is not an absolute http URL" },
		{ "crlDistributionPoints = URI:http:///issuing.crl",
		    "crlDistributionPoints is not an absolute http URL" },
		{ "crlDistributionPoints = URI:ldap://ldap.example.id/cn=CA",
		    "crlDistributionPoints is not an absolute http URL" },
		{ "crlDistributionPoints = email:ca@example.id",
		    "crlDistributionPoints is not an absolute http URL" },
		{ "freshestCRL = URI:https://crl.example.id/d.crl",
		    "freshestCRL is not an absolute http URL" },
		{ "freshestCRL = URI:http://crl.example.id:99999999/d.crl",
		    "freshestCRL is not an absolute http URL" },
		{ "authorityInfoAccess = OCSP;URI:ocsp.example.id, "
		    "caIssuers;URI:http://crl.example.id/i.crt",
		    "authorityInfoAccess OCSP is not an absolute http URL" },
		{ "authorityInfoAccess = OCSP;URI:http://ocsp.example.id/, "
		    "caIssuers;URI:http://crl.example.id/a b.crt",
		    "authorityInfoAccess caIssuers is not an absolute http URL" },
		{ "authorityInfoAccess = OCSP;URI:http://ocsp.example.id/, "
		    "caRepository;URI:http://crl.example.id/",
		    "authorityInfoAccess method other than OCSP and caIssuers" },
	};
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put_profile(f, "personal", bad[i][0][0] == 'c' ?
		    "crlDistributionPoints =" : bad[i][0][0] == 'f' ?
		    "freshestCRL =" : "authorityInfoAccess =", bad[i][0]);
		want_refused(lint_of(f, "personal", PERSON, 3 * 365 * DAY, err,
		    sizeof(err)), err, bad[i][1], bad[i][0]);
	}
	put_profile(f, "personal", "authorityInfoAccess =", "authorityInfoAccess = "
	    "OCSP;URI:http://ocsp.example.id, caIssuers;URI:http://[::1]:8080/"
	    "issuing.crt?x=1");
	if (lint_of(f, "personal", PERSON, 3 * 365 * DAY, err, sizeof(err)) != 0)
		fail_msg("http URLs refused: %s", err);
}

/*
 * A CSR's subject for csr_subject_of(): attribute=value pairs, each a new
 * RDN, or added to the previous RDN when the attribute starts with '+'
 * (a multi-valued RDN); a dotted OID for an attribute OpenSSL does not
 * name. The values as `openssl req` writes them (string_mask utf8only).
 */
static X509_NAME *
csr_name(const char *const *attrs)
{
	X509_NAME *name = X509_NAME_new();
	const char *a;
	int plus;

	assert_non_null(name);
	for (; attrs[0] != NULL; attrs += 2) {
		a = attrs[0];
		if ((plus = a[0] == '+'))
			a++;
		assert_int_equal(X509_NAME_add_entry_by_txt(name, a,
		    strcmp(a, "C") == 0 || strcmp(a, "serialNumber") == 0 ?
		    MBSTRING_ASC : MBSTRING_UTF8,
		    (const unsigned char *)attrs[1], -1, -1, plus ? -1 : 0), 1);
	}
	return name;
}

/*
 * cad_lint_csr_subject()'s verdict (pkictl cert issue) on a certificate
 * of profile `name` (as put_profile left it) whose subject is attrs.
 */
static int
csr_subject_of(struct lint_fixture *f, const char *name,
    const char *const *attrs, char *err, size_t errlen)
{
	struct profile *p;
	X509_NAME *subject;
	X509 *issuer, *x;
	int rc;

	p = profile_load(f->dir, name, "issuing", f->cfg, err, errlen);
	if (p == NULL)
		fail_msg("profile_load %s: %s", name, err);
	subject = csr_name(attrs);
	issuer = make_issuer(f, 3 * 365 * DAY);
	x = profile_build(p, subject, f->sub_key, NULL, issuer, NULL, err,
	    errlen);
	if (x == NULL)
		fail_msg("profile_build: %s", err);
	err[0] = '\0';
	rc = cad_lint_csr_subject(p, x, err, errlen);
	X509_free(x);
	X509_free(issuer);
	X509_NAME_free(subject);
	profile_free(p);
	return rc;
}

/*
 * `pkictl cert issue` signs a CSR's subject only within its profile's
 * subject_allowed and subject_required: until 2026-12-07 it judged the
 * values alone, and signed any attribute OID a CSR carried, a second CN,
 * several attributes in one RDN, a subject without the ones required.
 */
static void
test_csr_subject_profiled(void **state)
{
	struct lint_fixture *f = *state;
	static const char *const person[] = { "C", "ID", "CN", "Budi Santoso",
	    "serialNumber", "NIK3174012345670001", NULL };
	static const char *const cn_only[] = { "CN", "ocsp test a", NULL };
	static const char *const seal[] = { "C", "ID", "O", "PT Contoh",
	    "CN", "Contoh Seal", "organizationIdentifier", "NTRID-0123456789",
	    NULL };
	static const char *const odd_oid[] = { "C", "ID", "CN", "Budi Santoso",
	    "1.3.6.1.4.1.99999.1", "admin", NULL };
	static const char *const org[] = { "C", "ID", "O", "PT Contoh",
	    "CN", "Budi Santoso", NULL };
	static const char *const two_cn[] = { "C", "ID", "CN", "Budi Santoso",
	    "CN", "Siti Rahma", NULL };
	static const char *const multi[] = { "C", "ID", "CN", "Budi Santoso",
	    "+serialNumber", "NIK3174012345670001", NULL };
	static const char *const no_cn[] = { "C", "ID", "serialNumber",
	    "NIK3174012345670001", NULL };
	static const char *const person_org[] = { "C", "ID", "CN",
	    "Budi Santoso", "serialNumber", "NIK3174012345670001", "O",
	    "PT Contoh", NULL };
	char err[512];

	/* What the tests' CSRs hold passes. */
	put_profile(f, "subscriber", NULL, NULL);
	put_profile(f, "eseal", NULL, NULL);
	put_profile(f, "personal", NULL, NULL);
	if (csr_subject_of(f, "subscriber", person, err, sizeof(err)) != 0)
		fail_msg("subscriber C, CN, serialNumber refused: %s", err);
	if (csr_subject_of(f, "subscriber", cn_only, err, sizeof(err)) != 0)
		fail_msg("subscriber CN alone refused: %s", err);
	if (csr_subject_of(f, "eseal", seal, err, sizeof(err)) != 0)
		fail_msg("eseal seal subject refused: %s", err);
	if (csr_subject_of(f, "personal", person, err, sizeof(err)) != 0)
		fail_msg("personal subject refused: %s", err);
	/* An OID nobody verified, an attribute the profile leaves out. */
	want_refused(csr_subject_of(f, "subscriber", odd_oid, err,
	    sizeof(err)), err, "subject attribute 1.3.6.1.4.1.99999.1 not "
	    "allowed by profile subscriber", "an unknown OID");
	want_refused(csr_subject_of(f, "subscriber", org, err, sizeof(err)),
	    err, "subject attribute O not allowed by profile subscriber",
	    "O in a subscriber CSR");
	want_refused(csr_subject_of(f, "personal", person_org, err,
	    sizeof(err)), err, "subject attribute O not allowed by profile "
	    "personal", "O in a personal CSR");
	/* A second CN, a multi-valued RDN, a missing required attribute. */
	want_refused(csr_subject_of(f, "subscriber", two_cn, err, sizeof(err)),
	    err, "subject attribute CN appears more than once: not allowed "
	    "by profile subscriber", "two CNs");
	want_refused(csr_subject_of(f, "subscriber", multi, err, sizeof(err)),
	    err, "subject attribute serialNumber shares an RDN with another "
	    "(a multi-valued RDN): not allowed by profile subscriber",
	    "a multi-valued RDN");
	want_refused(csr_subject_of(f, "subscriber", no_cn, err, sizeof(err)),
	    err, "subject attribute CN required by profile subscriber is "
	    "missing", "no CN");
	want_refused(csr_subject_of(f, "eseal", person, err, sizeof(err)),
	    err, "subject attribute serialNumber not allowed by profile eseal",
	    "a person's subject for a seal");
	want_refused(csr_subject_of(f, "personal", cn_only, err, sizeof(err)),
	    err, "subject attribute C required by profile personal is missing",
	    "personal without C");
	/* Unless the profile says otherwise. */
	put_profile_edits(f, "subscriber", (const char *const [][2]){
	    { "subject_allowed =", "subject_allowed = C, CN, serialNumber\n"
	    "subject_repeatable = CN\nsubject_multivalued = yes" } }, 1);
	if (csr_subject_of(f, "subscriber", two_cn, err, sizeof(err)) != 0)
		fail_msg("two CNs refused with subject_repeatable: %s", err);
	if (csr_subject_of(f, "subscriber", multi, err, sizeof(err)) != 0)
		fail_msg("a multi-valued RDN refused with subject_multivalued: "
		    "%s", err);
	/* A profile without the keys signs no CSR's subject. */
	put_profile(f, "subscriber", "subject_allowed =", "# none");
	want_refused(csr_subject_of(f, "subscriber", person, err, sizeof(err)),
	    err, "profile subscriber: [profile] subject_required or "
	    "subject_allowed missing", "no subject_allowed");
}

/* cad_lint_profile()'s verdict on profile name with cap max_days. */
static int
profile_check_of(struct lint_fixture *f, const struct config *cfg,
    const char *name, long max_days, char *err, size_t errlen)
{
	struct profile *p;
	X509 *issuer;
	int rc;

	p = profile_load(f->dir, name, "issuing", cfg, err, errlen);
	if (p == NULL)
		fail_msg("profile_load %s: %s", name, err);
	issuer = make_issuer(f, 5 * 365 * DAY);
	err[0] = '\0';
	rc = cad_lint_profile(p, issuer, max_days, err, errlen);
	X509_free(issuer);
	profile_free(p);
	return rc;
}

/*
 * cad's start-up check: a profile every order would fail stops cad, with
 * the reason, before it takes any order.
 */
static void
test_profile_check(void **state)
{
	struct lint_fixture *f = *state;
	static const char *const names[] = { "personal", "corporate", "eseal" };
	struct config *bare;
	char err[1024], path[128];
	size_t i;

	for (i = 0; i < 3; i++) {
		put_profile(f, names[i], NULL, NULL);
		if (profile_check_of(f, f->cfg, names[i], 1096, err,
		    sizeof(err)) != 0)
			fail_msg("shipped %s refused: %s", names[i], err);
	}
	/* The cap counts the backdated notBefore, as the lint does. */
	want_refused(profile_check_of(f, f->cfg, "personal", 365, err,
	    sizeof(err)), err, "profile personal: validity_days 365 and "
	    "backdate_seconds 300 make certificates of 365 days 300 s, over "
	    "cad.max_validity_days 365", "cap 365");
	assert_non_null(strstr(err, "raise the cap to 366"));
	if (profile_check_of(f, f->cfg, "personal", 366, err, sizeof(err)) != 0)
		fail_msg("cap 366 refused: %s", err);
	want_refused(profile_check_of(f, f->cfg, "eseal", 30, err,
	    sizeof(err)), err, "over cad.max_validity_days 30", "cap 30");
	/* A usage its kind may not carry. */
	put_profile(f, "eseal", "keyUsage =", "keyUsage = critical, "
	    "digitalSignature, nonRepudiation\nextendedKeyUsage = serverAuth");
	want_refused(profile_check_of(f, f->cfg, "eseal", 1096, err,
	    sizeof(err)), err, "profile eseal: a test certificate fails the "
	    "lint: lint: extendedKeyUsage serverAuth", "eseal with serverAuth");
	/* RSA-4096 first (schema/007 and pkictl order add take it). */
	put_profile(f, "personal", "key_types =", "key_types = rsa4096, ec-p256");
	if (profile_check_of(f, f->cfg, "personal", 1096, err, sizeof(err)) != 0)
		fail_msg("key_types starting with rsa4096 refused: %s", err);
	/* No [urls] in pki.conf. */
	snprintf(path, sizeof(path), "%s/bare.conf", f->dir);
	write_all(path, "[cad]\npoll_seconds = 5\n");
	bare = config_load(path, err, sizeof(err));
	assert_non_null(bare);
	want_refused(profile_check_of(f, bare, "personal", 1096, err,
	    sizeof(err)), err, "profile personal: a test certificate ",
	    "no [urls]");
	config_free(bare);
	/* No lint keys. */
	put_profile(f, "personal", "kind =", "# no kind");
	want_refused(profile_check_of(f, f->cfg, "personal", 1096, err,
	    sizeof(err)), err, "[profile] kind missing", "no kind");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_shipped_profiles_pass,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_ca_usages_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_issuer_ending_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_usage_absent_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_email_needs_san,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_email_mailbox, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_extensions_as_profiled,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_subject_values,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_certificate_subject_judged,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_subject_string_types,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_type_is_the_orders,
		    setup, teardown),
		cmocka_unit_test(test_pubkey_checked),
		cmocka_unit_test_setup_teardown(test_lint_pubkey,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_text_utf8,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_clamped_not_before,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_clamped_not_after_utctime,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_kind_usages,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_urls_http,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_profile_check,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_csr_subject_profiled,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
