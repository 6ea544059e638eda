/*
 * libFuzzer harness for the subject lint (ca/worker/lint.c) that judges
 * what `pkictl cert issue` copies from a CSR another party wrote (ca/
 * certcmd.c: the subject, as its holder wrote it, before the issuing key
 * signs), and cad's cleaning of text it stores and logs. The first byte
 * picks:
 *  - 0: the bytes as a DER Name, the subject of an unsigned certificate
 *    through cad_lint_subject() without a profile (the values alone), and
 *    through cad_lint_csr_subject() with the shipped subscriber profile
 *    (policy/profiles/subscriber.cnf, read from the current directory:
 *    the repository's root), as pkictl calls it;
 *  - 1: the bytes as a CSR through csr_parse() (lib/csr.c: PEM or else
 *    DER, its signature verified with its own key), the reader `pkictl
 *    cert issue` uses, its key through cad_lint_pubkey() as pkictl then
 *    judges it, its subject through the same lints;
 *  - 2: the bytes as text through cad_text_clean();
 *  - 3: the next byte picks a shipped profile cad serves (subscriber,
 *    personal, corporate, eseal), the rest is an order's subject JSON
 *    (rad writes it from a subscriber's data; cad reads it) through
 *    cad_subject(), as cad's issuance reads it (ca/worker/issue.c).
 * Invariants: a subject the lint accepts is not empty; each value has a
 * UTF-8 form of 1 to 128 code points with no C0 control, DEL or C1
 * control, no space at either end; a countryName is two upper-case
 * letters; an emailAddress holds exactly one '@' with something on either
 * side; a refusal says why. One the subscriber profile accepts holds a
 * CN, and only C, CN and serialNumber, each once, each an RDN of its own.
 * Cleaned text is well-formed UTF-8 without C0 or DEL, no longer than it
 * was, and cleaning it again changes nothing. A subject cad_subject()
 * builds is not empty, and the certificate the profile builds from it
 * (profile_build(), as cad does, which copies an emailAddress into the
 * subjectAltName: "email:copy") passes cad_lint_subject() with that
 * profile; a refusal says why.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca/extern.h"
#include "ca/worker/extern.h"
#include "tests/fuzz/fuzzca.h"
#include "lib/config.h"
#include "lib/csr.h"
#include "lib/text.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Aborts unless the UTF-8 value s of len bytes is one the lint may pass. */
static void
fuzz_value(int nid, const unsigned char *s, size_t len)
{
	size_t i = 0, chars = 0;
	long cp;
	const unsigned char *at;

	if (len == 0 || s[0] == ' ' || s[len - 1] == ' ')
		abort();
	while (i < len) {
		if ((cp = text_utf8_next(s, len, &i)) < 0x20 ||
		    (cp >= 0x7f && cp < 0xa0))
			abort();
		chars++;
	}
	if (chars > 128)
		abort();
	if (nid == NID_countryName && (len != 2 || s[0] < 'A' || s[0] > 'Z' ||
	    s[1] < 'A' || s[1] > 'Z'))
		abort();
	if (nid == NID_pkcs9_emailAddress && ((at = memchr(s, '@', len)) ==
	    NULL || at == s || at == s + len - 1 ||
	    memchr(at + 1, '@', len - (size_t)(at - s) - 1) != NULL))
		abort();
}

/* The shipped subscriber profile, loaded once. */
static const struct profile *
fuzz_profile(void)
{
	static struct profile *p;
	static struct config *cfg;
	char err[512];

	if (p != NULL)
		return p;
	if ((cfg = config_load(NULL, err, sizeof(err))) == NULL ||
	    (p = profile_load("policy", "subscriber", "issuing", cfg, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_lint: run from the repository's root: "
		    "%s\n", err);
		abort();
	}
	return p;
}

/* The shipped profiles cad issues with, loaded once. */
static const char *const fuzz_cad_names[] = {
	"subscriber", "personal", "corporate", "eseal"
};
#define FUZZ_CAD_NPROF	(sizeof(fuzz_cad_names) / sizeof(fuzz_cad_names[0]))

static const struct profile *
fuzz_cad_profile(size_t i)
{
	static struct profile *p[FUZZ_CAD_NPROF];
	static struct config *cfg;
	char err[512];

	char path[] = "/tmp/fuzz_lint.XXXXXX";
	FILE *f;
	int fd;

	if (p[i] != NULL)
		return p[i];
	/* The [urls] the profiles' extensions expand, as in pki.conf. */
	if (cfg == NULL) {
		if ((fd = mkstemp(path)) == -1 || (f = fdopen(fd, "w")) ==
		    NULL || fputs("[urls]\nocsp = http://127.0.0.1:1/ocsp\n"
		    "crl_base = http://127.0.0.1:1/crl\n", f) == EOF ||
		    fclose(f) != 0)
			abort();
		cfg = config_load(path, err, sizeof(err));
		unlink(path);
		if (cfg == NULL) {
			fprintf(stderr, "fuzz_lint: %s\n", err);
			abort();
		}
	}
	if ((p[i] = profile_load("policy", fuzz_cad_names[i], "issuing", cfg,
	    err, sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_lint: run from the repository's root: "
		    "%s\n", err);
		abort();
	}
	return p[i];
}

/*
 * The order's subject text through cad_subject() with profile p, and what
 * it builds through the certificate cad would sign (the fuzz CA as its
 * issuer, its key as the subscriber's: neither matters to the subject).
 */
static void
fuzz_order_subject(const struct profile *p, const char *text)
{
	static X509 *issuer;
	static EVP_PKEY *key;
	X509_NAME *name;
	X509 *x;
	char err[512];
	int transient;

	if (issuer == NULL) {
		issuer = fuzz_pem_cert(FUZZ_CA_PEM);
		key = fuzz_pem_key(FUZZ_CA_KEY_PEM);
	}
	memset(err, 0, sizeof(err));
	if ((name = cad_subject(p, text, err, sizeof(err))) == NULL) {
		if (err[0] == '\0' || err[sizeof(err) - 1] != '\0')
			abort();
		return;
	}
	if (X509_NAME_entry_count(name) == 0)
		abort();
	/* What cad_subject accepts, the profile builds. */
	if ((x = profile_build(p, name, key, NULL, issuer, &transient, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_lint: profile_build: %s\n", err);
		abort();
	}
	memset(err, 0, sizeof(err));
	if (cad_lint_subject(p, x, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_lint: cad_subject accepted, "
		    "cad_lint_subject refused: %s\n", err);
		abort();
	}
	X509_free(x);
	X509_NAME_free(name);
}

/* Aborts unless x's subject is one the subscriber profile allows. */
static void
fuzz_profiled(X509 *x)
{
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_ENTRY *e;
	int i, n, nid, cn = 0;

	n = X509_NAME_entry_count(name);
	for (i = 0; i < n; i++) {
		e = X509_NAME_get_entry(name, i);
		nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		if (nid != NID_countryName && nid != NID_commonName &&
		    nid != NID_serialNumber)
			abort();
		if (X509_NAME_get_index_by_NID(name, nid, i) >= 0)
			abort();
		if (i > 0 && X509_NAME_ENTRY_set(e) ==
		    X509_NAME_ENTRY_set(X509_NAME_get_entry(name, i - 1)))
			abort();
		cn += nid == NID_commonName;
	}
	if (cn != 1)
		abort();
}

/*
 * cad_lint_pubkey()'s verdict on a CSR's key, as `pkictl cert issue`
 * asks it: a key type it names, or a reason.
 */
static void
fuzz_pubkey(EVP_PKEY *pub)
{
	static const char *const types[] = { "ec-p256", "ec-p384", "rsa2048",
	    "rsa3072", "rsa4096", "rsa-other" };
	char kt[16], err[512];
	size_t i;

	memset(err, 0, sizeof(err));
	if (cad_lint_pubkey(pub, kt, sizeof(kt), err, sizeof(err)) == -1) {
		if (err[0] == '\0' || err[sizeof(err) - 1] != '\0' ||
		    kt[0] != '\0')
			abort();
		return;
	}
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(kt, types[i]) == 0)
			return;
	abort();
}

/* Lints name as the subject of an unsigned certificate. */
static void
fuzz_subject(const X509_NAME *name)
{
	X509 *x;
	X509_NAME_ENTRY *e;
	unsigned char *utf8;
	char err[512];
	int i, n, ulen;

	if ((x = X509_new()) == NULL)
		abort();
	/*
	 * X509_set_subject_name copies through DER: a BER name (a length
	 * with leading zero octets) may not come back; profile_build()
	 * refuses it there, before any lint.
	 */
	if (X509_set_subject_name(x, name) != 1) {
		X509_free(x);
		return;
	}
	memset(err, 0, sizeof(err));
	if (cad_lint_subject(NULL, x, err, sizeof(err)) == 0) {
		if ((n = X509_NAME_entry_count(X509_get_subject_name(x))) == 0)
			abort();
		for (i = 0; i < n; i++) {
			e = X509_NAME_get_entry(X509_get_subject_name(x), i);
			utf8 = NULL;
			if ((ulen = ASN1_STRING_to_UTF8(&utf8,
			    X509_NAME_ENTRY_get_data(e))) < 0)
				abort();
			fuzz_value(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)),
			    utf8, (size_t)ulen);
			OPENSSL_free(utf8);
		}
	} else if (err[0] == '\0' || err[sizeof(err) - 1] != '\0')
		abort();
	memset(err, 0, sizeof(err));
	if (cad_lint_csr_subject(fuzz_profile(), x, err, sizeof(err)) == 0)
		fuzz_profiled(x);
	else if (err[0] == '\0' || err[sizeof(err) - 1] != '\0')
		abort();
	X509_free(x);
}

/* cad_text_clean's promises on s (NUL-terminated, owned). */
static void
fuzz_clean(char *s)
{
	size_t len = strlen(s), n, i = 0;
	char *again;
	long cp;

	cad_text_clean(s);
	if ((n = strlen(s)) > len)
		abort();
	while (i < n)
		if ((cp = text_utf8_next((const unsigned char *)s, n, &i)) <
		    0x20 || cp == 0x7f)
			abort();
	if ((again = strdup(s)) == NULL)
		abort();
	cad_text_clean(again);
	if (strcmp(again, s) != 0)
		abort();
	free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *p;
	X509_NAME *name;
	X509_REQ *req = NULL;
	char err[512], *s;

	if (size < 1)
		return 0;
	err[0] = '\0';
	data++;
	size--;
	switch (data[-1] % 4) {
	case 0:
		p = data;
		if ((name = d2i_X509_NAME(NULL, &p, (long)size)) != NULL) {
			fuzz_subject(name);
			X509_NAME_free(name);
		}
		break;
	case 1:
		/* ca/certcmd.c cert_read_csr()'s reader, then its key lint. */
		if ((req = csr_parse(data, size, err, sizeof(err))) == NULL) {
			if (err[0] == '\0')
				abort();
			break;
		}
		fuzz_pubkey(X509_REQ_get0_pubkey(req));
		fuzz_subject(X509_REQ_get_subject_name(req));
		X509_REQ_free(req);
		break;
	case 2:
		if ((s = malloc(size + 1)) == NULL)
			abort();
		memcpy(s, data, size);
		s[size] = '\0';
		fuzz_clean(s);
		free(s);
		break;
	default:
		/* The text column: up to its first NUL, as libpq hands it. */
		if (size < 1)
			break;
		if ((s = malloc(size)) == NULL)
			abort();
		memcpy(s, data + 1, size - 1);
		s[size - 1] = '\0';
		fuzz_order_subject(fuzz_cad_profile(data[0] % FUZZ_CAD_NPROF), s);
		free(s);
		break;
	}
	ERR_clear_error();
	return 0;
}
