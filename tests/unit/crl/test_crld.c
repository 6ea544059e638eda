/*
 * crl/main.c crld_ca_take and crl/serve.c's removed paths, without a
 * database:
 *
 *  - taking an issuing CA is all or nothing: when the cache cannot hold
 *    its certificate (out of memory, injected here), no entry is counted,
 *    none of its paths is served, and the certificate is still the
 *    caller's; the same CA is taken afterwards. Until 2026-12-07 the entry
 *    was counted half filled (no id, no name, its paths answering 503)
 *    and the CA watch never took it again until a restart;
 *  - a path removed (crl_cache_remove, crl_cache_ended: an issuing CA past
 *    its grace) answers 404 and leaves /health's documents; "ended" and
 *    "not_served" are listed, only the latter degraded;
 *  - lib/x509ext.h's RFC 5280 §5.3.1 reason names, which crld's /health
 *    ("ca_revoked"), cad, rad, pkictl and lib/publish.c share: every code,
 *    privilegeWithdrawn and aACompromise too (OpenSSL 3.0's
 *    OCSP_crl_reason_str, used before by crld and cad, says "(UNKNOWN)"
 *    for them);
 *  - crl/cas.c's reading of crld-cas.json: an issuing CA's key label must
 *    be an issuing CA's (test_cas_key_labels).
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
#include <openssl/evp.h>
#include <openssl/x509.h>

/* calloc of crl/serve.c fails once when asked (crl_cache_set's blob). */
static int	fail_calloc;

static void *
crld_test_calloc(size_t n, size_t size)
{
	if (fail_calloc) {
		fail_calloc = 0;
		return NULL;
	}
	return calloc(n, size);
}

#define calloc crld_test_calloc
#include "crl/serve.c"
#undef calloc
#include "crl/thread.c"
#include "crl/issuer.c"
#include "crl/publisher.c"
#include "crl/cas.c"
/* crld's static helpers; not its main(). */
int	crld_main(int, char **);
#define main crld_main
#include "crl/main.c"
#undef main

static X509 *
make_cert(const char *cn)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();

	assert_non_null(key);
	assert_non_null(x);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	EVP_PKEY_free(key);
	return x;
}

struct fixture {
	struct crld	 d;
	char		 conf[PATH_MAX];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *dir = getenv("PKI_TEST_DIR");
	char err[256];
	FILE *fp;

	assert_non_null(f);
	snprintf(f->conf, sizeof(f->conf), "%s/crld-unit.conf", dir != NULL ?
	    dir : "/tmp");
	assert_non_null(fp = fopen(f->conf, "w"));
	fprintf(fp, "[urls]\ncrl_base = http://crl.test/crl\n");
	fclose(fp);
	f->d.cfg = config_load(f->conf, err, sizeof(err));
	assert_non_null(f->d.cfg);
	assert_non_null(f->d.cache = crl_cache_new(60));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	size_t i;

	for (i = 0; i < CRL_MAX_ISSUING; i++)
		X509_free(f->d.issuing[i].cert);
	crl_cache_free(f->d.cache);
	config_free(f->d.cfg);
	unlink(f->conf);
	free(f);
	return 0;
}

/* Whether path is served (held, or 503 until set): not removed, known. */
static int
path_served(struct crl_cache *c, const char *path)
{
	int i, found = 0;

	for (i = 0; i < c->ndocs; i++)
		if (!c->paths[i].removed && strcmp(c->paths[i].path, path) == 0)
			found = 1;
	return found;
}

static void
test_take_all_or_nothing(void **state)
{
	struct fixture *f = *state;
	struct crld *d = &f->d;
	struct cadb_ca c;
	X509 *cert;

	memset(&c, 0, sizeof(c));
	c.id = 42;
	snprintf(c.name, sizeof(c.name), "issuing-2");
	snprintf(c.token, sizeof(c.token), "ca");
	snprintf(c.key_label, sizeof(c.key_label), "issuing-2");
	c.cert = cert = make_cert("Issuing CA 2");

	/* Its certificate cannot be cached: nothing of it is left. */
	fail_calloc = 1;
	assert_int_equal(crld_ca_take(d, 0, &c), -1);
	assert_int_equal(fail_calloc, 0);
	assert_int_equal(d->nissuing, 0);
	assert_ptr_equal(c.cert, cert);
	assert_null(d->issuing[0].cert);
	assert_int_equal(d->issuing[0].id, 0);
	assert_false(path_served(d->cache, "/crl/issuing-2.crl"));
	assert_false(path_served(d->cache, "/crl/issuing-2-delta.crl"));
	assert_false(path_served(d->cache, "/crl/issuing-2.crt"));

	/* Taken at the next try, whole. */
	assert_int_equal(crld_ca_take(d, 0, &c), 0);
	assert_int_equal(d->nissuing, 1);
	assert_null(c.cert);
	assert_ptr_equal(d->issuing[0].cert, cert);
	assert_int_equal(d->issuing[0].id, 42);
	assert_string_equal(d->issuing[0].name, "issuing-2");
	assert_string_equal(d->issuing[0].url,
	    "http://crl.test/crl/issuing-2.crl");
	assert_true(path_served(d->cache, "/crl/issuing-2.crl"));
	assert_true(path_served(d->cache, "/crl/issuing-2-delta.crl"));
	assert_true(path_served(d->cache, "/crl/issuing-2.crt"));
	assert_non_null(d->cache->doc[d->issuing[0].doc_cert]);
	assert_int_equal(d->issuing[0].doc_cert, d->cache->ndocs - 1);
}

static void
test_ended_and_not_served(void **state)
{
	struct fixture *f = *state;
	struct crld *d = &f->d;
	struct cadb_ca c;
	int docs[3], i, n;

	memset(&c, 0, sizeof(c));
	c.id = 7;
	snprintf(c.name, sizeof(c.name), "old");
	c.cert = make_cert("Old Issuing CA");
	assert_int_equal(crld_ca_take(d, 0, &c), 0);
	assert_int_equal(crl_cache_not_signed(d->cache, "old"), 0);
	assert_int_equal(crl_cache_ca_revoked(d->cache, "old", "revoked",
	    "keyCompromise", "2026-12-07T00:00:00Z"), 0);
	docs[0] = d->issuing[0].doc_full;
	docs[1] = d->issuing[0].doc_delta;
	docs[2] = d->issuing[0].doc_cert;
	n = d->cache->ndocs;
	assert_int_equal(crl_cache_ended(d->cache, "old", docs, 3), 0);
	assert_int_equal(d->cache->ndocs, n);
	for (i = 0; i < 3; i++) {
		assert_true(d->cache->paths[docs[i]].removed);
		assert_null(d->cache->doc[docs[i]]);
	}
	assert_int_equal(d->cache->nnot_signed, 0);
	assert_int_equal(d->cache->nrevoked, 0);
	assert_int_equal(d->cache->nended, 1);
	assert_string_equal(d->cache->ended[0], "old");
	/* A removed path takes no document again. */
	assert_int_equal(crl_cache_set(d->cache, docs[2],
	    malloc(1), 1, 0, 0, 0), -1);

	assert_int_equal(crl_cache_not_served(d->cache, 9, "bad name",
	    "its name is not a file or URL name"), 0);
	assert_int_equal(crl_cache_not_served(d->cache, 9, "bad name",
	    "its name is not a file or URL name"), 0);
	assert_int_equal(d->cache->nnot_served, 1);
}

static void
test_reason_names(void **state)
{
	static const char *const want[] = { "unspecified", "keyCompromise",
	    "cACompromise", "affiliationChanged", "superseded",
	    "cessationOfOperation", "certificateHold", NULL, "removeFromCRL",
	    "privilegeWithdrawn", "aACompromise" };
	int i;

	(void)state;
	for (i = 0; i < 11; i++) {
		if (want[i] == NULL) {
			assert_null(x509ext_crl_reason_name(i));
			continue;
		}
		assert_string_equal(x509ext_crl_reason_name(i), want[i]);
		assert_int_equal(x509ext_crl_reason_code(want[i]), i);
	}
	assert_null(x509ext_crl_reason_name(-1));
	assert_null(x509ext_crl_reason_name(11));
	assert_int_equal(x509ext_crl_reason_code("(UNKNOWN)"), -1);
	assert_int_equal(x509ext_crl_reason_code("keycompromise"), -1);
}

/*
 * crl_cas_parse's verdict on a crld-cas.json whose one issuing CA has key
 * label label (the root's label is not granted anything: any), 0 or -1.
 */
static int
cas_with_label(const char *label, char *err, size_t errlen)
{
	X509 *x = make_cert("CA");
	unsigned char *der = NULL;
	char *hex, *text;
	struct crl_cas cas;
	size_t tlen;
	int len, rc;

	assert_true((len = i2d_X509(x, &der)) > 0);
	assert_non_null(hex = malloc(2 * (size_t)len + 1));
	hex_encode(der, (size_t)len, hex);
	tlen = 4 * (size_t)len + 512;
	assert_non_null(text = malloc(tlen));
	snprintf(text, tlen, "{\"root\": {\"id\": 1, \"name\": \"root\", "
	    "\"token\": \"pki-root\", \"key_label\": \"anything\", \"cert\": "
	    "\"%s\"}, \"issuing_cas\": [{\"id\": 2, \"name\": \"issuing\", "
	    "\"token\": \"pki-ca\", \"key_label\": \"%s\", \"cert\": "
	    "\"%s\"}]}", hex, label, hex);
	rc = crl_cas_parse((unsigned char *)text, strlen(text), &cas, err,
	    errlen);
	if (rc == 0) {
		assert_int_equal(cas.nissuing, 1);
		assert_string_equal(cas.issuing[0].key_label, label);
		assert_non_null(cas.issuing[0].cert);
	} else {
		assert_null(cas.root.cert);
		assert_int_equal(cas.nissuing, 0);
	}
	crl_cas_clear(&cas);
	free(text);
	free(hex);
	OPENSSL_free(der);
	X509_free(x);
	return rc;
}

/*
 * crld-cas.json chooses the keys the signer is granted CRLs with
 * (crld_grant), and crld's demoted user can write it: an issuing CA's key
 * label must be one the ceremonies give issuing CAs (issuing-ca-1,
 * issuing-N). Until 2026-12-07 any label the file named was granted, the
 * root's or a responder's too, and a label too long for struct cadb_ca
 * was cut to fit.
 */
static void
test_cas_key_labels(void **state)
{
	static const char *const ok[] = { "issuing-ca-1", "issuing-2",
	    "issuing-17" };
	static const char *const refused[] = { "root-ca-1", "ocsp-issuing-1",
	    "tsa-1", "issuing-", "issuing-07", "issuing-2x", "issuing-ca-2",
	    "issuing-1234567890", "ISSUING-2" };
	char err[256], label[80];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (cas_with_label(ok[i], err, sizeof(err)) != 0)
			fail_msg("%s refused: %s", ok[i], err);
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		err[0] = '\0';
		if (cas_with_label(refused[i], err, sizeof(err)) != -1)
			fail_msg("%s taken", refused[i]);
		assert_non_null(strstr(err, "key_label"));
	}
	/* Not cut to 64 characters: refused. */
	memset(label, '1', sizeof(label));
	memcpy(label, "issuing-", 8);
	label[70] = '\0';
	assert_int_equal(cas_with_label(label, err, sizeof(err)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_take_all_or_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_ended_and_not_served,
		    setup, teardown),
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_cas_key_labels),
	};

	log_init("test_crld", LOGL_INFO, stderr);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
