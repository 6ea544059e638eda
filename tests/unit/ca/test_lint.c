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
#include <openssl/evp.h>
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
 * Builds a certificate of profile `name` (as edited by put_profile) for
 * `subject_json` under an issuer with `issuer_left` seconds left, and
 * returns cad_lint()'s verdict, its message in err.
 */
static int
lint_of(struct lint_fixture *f, const char *name, const char *subject_json,
    long issuer_left, char *err, size_t errlen)
{
	struct profile *p;
	X509_NAME *subject;
	X509 *issuer, *x;
	int rc;

	p = profile_load(f->dir, name, f->cfg, err, errlen);
	if (p == NULL)
		fail_msg("profile_load %s: %s", name, err);
	subject = cad_subject(p, subject_json, err, errlen);
	if (subject == NULL)
		fail_msg("cad_subject: %s", err);
	issuer = make_issuer(f, issuer_left);
	x = profile_build(p, subject, f->sub_key, NULL, issuer, err, errlen);
	if (x == NULL)
		fail_msg("profile_build: %s", err);
	err[0] = '\0';
	rc = cad_lint(p, x, issuer, 1096, err, errlen);
	X509_free(x);
	X509_free(issuer);
	X509_NAME_free(subject);
	profile_free(p);
	return rc;
}

#define PERSON	"{\"C\":\"ID\",\"CN\":\"Budi Santoso\"," \
		"\"serialNumber\":\"NIK:3174012345670001\"}"
#define SEAL	"{\"C\":\"ID\",\"O\":\"PT Contoh\",\"CN\":\"Contoh Seal\"," \
		"\"organizationIdentifier\":\"NTRID-0123456789\"}"

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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
