/*
 * lib/ldappub against a throwaway slapd this test starts itself (slapd is
 * installed by `make deps`; a missing slapd is a failure, not a skip):
 * core schema, one mdb database "dc=test", listening on a ldapi:// socket
 * in a temporary directory.
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <ldap.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/ldappub.h"
#include "lib/log.h"
#include "tests/unit/lib/slapdtest.h"

#define CA_DN		"cn=Test Issuing CA,dc=test"

static int
setup(void **state)
{
	struct slapdtest *sl;

	sl = calloc(1, sizeof(*sl));
	assert_non_null(sl);
	slapdtest_start(sl, "test_ldappub");
	*state = sl;
	return 0;
}

static int
teardown(void **state)
{
	struct slapdtest *sl = *state;

	slapdtest_stop(sl);
	free(sl);
	return 0;
}

/* Values of attr on dn, as the directory holds them. */
static struct berval **
read_attr(const struct slapdtest *sl, const char *dn, const char *attr)
{
	LDAP *ld;
	LDAPMessage *res = NULL, *e;
	char *attrs[] = { (char *)attr, NULL };
	struct berval **vals = NULL;

	ld = slapdtest_admin_bind(sl);
	assert_non_null(ld);
	if (ldap_search_ext_s(ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)",
	    attrs, 0, NULL, NULL, NULL, 0, &res) == LDAP_SUCCESS &&
	    (e = ldap_first_entry(ld, res)) != NULL)
		vals = ldap_get_values_len(ld, e, attr);
	ldap_msgfree(res);
	ldap_unbind_ext_s(ld, NULL, NULL);
	return vals;
}

/* A real, signed, empty CRL (slapd checks the syntax); DER to free(). */
static unsigned char *
make_crl(long next_days, int *lenp)
{
	EVP_PKEY *pkey;
	X509_CRL *crl;
	X509_NAME *name;
	ASN1_TIME *t;
	unsigned char *der = NULL, *p;
	int len;

	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(pkey);
	crl = X509_CRL_new();
	name = X509_NAME_new();
	assert_non_null(crl);
	assert_non_null(name);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"Test Issuing CA", -1, -1, 0), 1);
	assert_int_equal(X509_CRL_set_version(crl, 1), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl, name), 1);
	t = X509_time_adj_ex(NULL, 0, 0, NULL);
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
	ASN1_TIME_free(t);
	t = X509_time_adj_ex(NULL, next_days, 0, NULL);
	assert_int_equal(X509_CRL_set1_nextUpdate(crl, t), 1);
	ASN1_TIME_free(t);
	assert_true(X509_CRL_sign(crl, pkey, EVP_sha256()) > 0);
	len = i2d_X509_CRL(crl, NULL);
	assert_true(len > 0);
	der = malloc((size_t)len);
	assert_non_null(der);
	p = der;
	assert_int_equal(i2d_X509_CRL(crl, &p), len);
	X509_NAME_free(name);
	X509_CRL_free(crl);
	EVP_PKEY_free(pkey);
	*lenp = len;
	return der;
}

/* A real self-signed certificate (slapd checks the syntax); DER to free(). */
static unsigned char *
make_cert(int *lenp)
{
	EVP_PKEY *pkey;
	X509 *x;
	unsigned char *der, *p;
	int len;

	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	x = X509_new();
	assert_non_null(pkey);
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 0x0A1B2C), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x),
	    "CN", MBSTRING_ASC, (const unsigned char *)"Budi", -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(x)), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_int_equal(X509_set_pubkey(x, pkey), 1);
	assert_true(X509_sign(x, pkey, EVP_sha256()) > 0);
	len = i2d_X509(x, NULL);
	assert_true(len > 0);
	der = malloc((size_t)len);
	assert_non_null(der);
	p = der;
	assert_int_equal(i2d_X509(x, &p), len);
	X509_free(x);
	EVP_PKEY_free(pkey);
	*lenp = len;
	return der;
}

static void
test_add_then_replace(void **state)
{
	struct slapdtest *sl = *state;
	struct ldappub_conf conf = { sl->uri, ADMIN_DN, sl->pwfile, "dc=test", 0 };
	unsigned char *der1, *der2;
	int len1, len2;
	struct berval **vals;
	char err[512];

	der1 = make_crl(7, &len1);
	der2 = make_crl(8, &len2);

	/* Entry absent: created with its classes and cn. */
	if (ldappub_put(&conf, CA_DN, "certificateRevocationList;binary",
	    der1, (size_t)len1, err, sizeof(err)) == -1)
		fail_msg("ldappub_put: %s", err);
	vals = read_attr(sl, CA_DN, "certificateRevocationList;binary");
	assert_non_null(vals);
	assert_int_equal(ldap_count_values_len(vals), 1);
	assert_int_equal(vals[0]->bv_len, len1);
	assert_memory_equal(vals[0]->bv_val, der1, len1);
	ldap_value_free_len(vals);
	vals = read_attr(sl, CA_DN, "cn");
	assert_non_null(vals);
	assert_int_equal(vals[0]->bv_len, strlen("Test Issuing CA"));
	assert_memory_equal(vals[0]->bv_val, "Test Issuing CA", 15);
	ldap_value_free_len(vals);
	vals = read_attr(sl, CA_DN, "objectClass");
	assert_non_null(vals);
	assert_int_equal(ldap_count_values_len(vals), 3);
	ldap_value_free_len(vals);

	/* Entry present: the value is replaced, not added to. */
	assert_true(len1 != len2 || memcmp(der1, der2, len1) != 0);
	if (ldappub_put(&conf, CA_DN, "certificateRevocationList;binary",
	    der2, (size_t)len2, err, sizeof(err)) == -1)
		fail_msg("ldappub_put (replace): %s", err);
	vals = read_attr(sl, CA_DN, "certificateRevocationList;binary");
	assert_non_null(vals);
	assert_int_equal(ldap_count_values_len(vals), 1);
	assert_int_equal(vals[0]->bv_len, len2);
	assert_memory_equal(vals[0]->bv_val, der2, len2);
	ldap_value_free_len(vals);

	/* Another attribute on the same entry (deltaCRL class). */
	if (ldappub_put(&conf, CA_DN, "deltaRevocationList;binary",
	    der1, (size_t)len1, err, sizeof(err)) == -1)
		fail_msg("ldappub_put (delta): %s", err);
	vals = read_attr(sl, CA_DN, "deltaRevocationList;binary");
	assert_non_null(vals);
	ldap_value_free_len(vals);
	free(der1);
	free(der2);
}

/* A subscriber entry: its ou= parent is created, classes pkiUser. */
static void
test_subscriber_entry(void **state)
{
	struct slapdtest *sl = *state;
	struct ldappub_conf conf = { sl->uri, ADMIN_DN, sl->pwfile, "dc=test", 0 };
	static const char dn[] = "cn=0A1B2C,ou=subscribers,dc=test";
	static const char st[] = "status=revoked; reason=privilegeWithdrawn";
	unsigned char *der;
	struct berval **vals;
	char err[512];
	int len, i, user = 0;

	der = make_cert(&len);
	if (ldappub_put(&conf, dn, "userCertificate;binary", der, (size_t)len,
	    err, sizeof(err)) == -1)
		fail_msg("ldappub_put (userCertificate): %s", err);
	if (ldappub_put(&conf, dn, "description", (const unsigned char *)st,
	    strlen(st), err, sizeof(err)) == -1)
		fail_msg("ldappub_put (description): %s", err);
	vals = read_attr(sl, dn, "userCertificate;binary");
	assert_non_null(vals);
	assert_int_equal(vals[0]->bv_len, len);
	assert_memory_equal(vals[0]->bv_val, der, len);
	ldap_value_free_len(vals);
	vals = read_attr(sl, dn, "description");
	assert_non_null(vals);
	assert_int_equal(vals[0]->bv_len, strlen(st));
	ldap_value_free_len(vals);
	vals = read_attr(sl, dn, "objectClass");
	assert_non_null(vals);
	for (i = 0; vals[i] != NULL; i++)
		user |= vals[i]->bv_len == 7 && memcmp(vals[i]->bv_val, "pkiUser", 7) == 0;
	assert_true(user);
	ldap_value_free_len(vals);
	free(der);
}

static void
test_failures(void **state)
{
	struct slapdtest *sl = *state;
	struct ldappub_conf conf = { sl->uri, ADMIN_DN, sl->pwfile, "dc=test", 0 };
	struct ldappub_conf anon = { sl->uri, NULL, NULL, NULL, 0 };
	struct ldappub_conf nopw = { sl->uri, ADMIN_DN, NULL, NULL, 0 };
	struct ldappub_conf down = { "ldap://127.0.0.1:1", NULL, NULL, NULL, 0 };
	struct ldappub_conf wrongpw = { sl->uri, ADMIN_DN, NULL, NULL, 0 };
	const unsigned char der[] = { 0x30, 0x00 };
	char err[512], badpw[160];
	int fd;

	/* Anonymous users may not write. */
	assert_int_equal(ldappub_put(&anon, "cn=Anon CA,dc=test",
	    "cACertificate;binary", der, sizeof(der), err, sizeof(err)), -1);
	assert_true(strlen(err) > 0);
	assert_int_equal(ldappub_put(&nopw, CA_DN, "cACertificate;binary",
	    der, sizeof(der), err, sizeof(err)), -1);
	assert_int_equal(ldappub_put(&down, CA_DN, "cACertificate;binary",
	    der, sizeof(der), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bind"));
	/* First RDN must be cn. */
	assert_int_equal(ldappub_put(&conf, "ou=x,dc=test",
	    "cACertificate;binary", der, sizeof(der), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cn="));
	assert_int_equal(ldappub_put(&conf, "not a dn",
	    "cACertificate;binary", der, sizeof(der), err, sizeof(err)), -1);
	/* Parent missing. */
	assert_int_equal(ldappub_put(&conf, "cn=X,dc=nowhere",
	    "cACertificate;binary", der, sizeof(der), err, sizeof(err)), -1);
	/* Wrong password: refused, and the password is not in the error. */
	snprintf(badpw, sizeof(badpw), "%s/bad.pw", sl->dir);
	fd = open(badpw, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, "wrong-secret\n", 13), 13);
	close(fd);
	wrongpw.bind_pw_file = badpw;
	assert_int_equal(ldappub_put(&wrongpw, CA_DN, "cACertificate;binary",
	    der, sizeof(der), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "Invalid credentials"));
	assert_null(strstr(err, "wrong-secret"));
	/* A password file others can read is refused. */
	assert_int_equal(chmod(badpw, 0644), 0);
	assert_int_equal(ldappub_put(&wrongpw, CA_DN, "cACertificate;binary",
	    der, sizeof(der), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "0644"));
	assert_int_equal(ldappub_put(&conf, CA_DN, "cACertificate;binary",
	    NULL, 0, err, sizeof(err)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_then_replace),
		cmocka_unit_test(test_subscriber_entry),
		cmocka_unit_test(test_failures),
	};

	log_init("test_ldappub", LOGL_WARN, NULL);
	return cmocka_run_group_tests(tests, setup, teardown);
}
