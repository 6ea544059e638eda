/*
 * lib/ldappub against a throwaway slapd this test starts itself (slapd is
 * installed by `make deps`; a missing slapd is a failure, not a skip):
 * core schema, one mdb database "dc=test", listening on a ldapi:// socket
 * in a temporary directory.
 */
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

#define SLAPD		"/usr/sbin/slapd"
#define ADMIN_DN	"cn=admin,dc=test"
#define ADMIN_PW	"test-admin-pw"
#define CA_DN		"cn=Test Issuing CA,dc=test"

struct fixture {
	char	dir[64];
	char	uri[256];
	char	pwfile[128];
	pid_t	slapd;
};

/* ldapi:// URI for a socket path: '/' becomes %2F. */
static void
ldapi_uri(const char *path, char *uri, size_t len)
{
	size_t off;

	off = (size_t)snprintf(uri, len, "ldapi://");
	for (; *path != '\0' && off + 4 < len; path++) {
		if (*path == '/')
			off += (size_t)snprintf(uri + off, len - off, "%%2F");
		else
			uri[off++] = *path;
	}
	uri[off] = '\0';
}

static LDAP *
admin_bind(const struct fixture *fx)
{
	LDAP *ld = NULL;
	struct berval cred = { strlen(ADMIN_PW), (char *)ADMIN_PW };
	int v = LDAP_VERSION3;

	if (ldap_initialize(&ld, fx->uri) != LDAP_SUCCESS)
		return NULL;
	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v);
	if (ldap_sasl_bind_s(ld, ADMIN_DN, LDAP_SASL_SIMPLE, &cred, NULL, NULL,
	    NULL) != LDAP_SUCCESS) {
		ldap_unbind_ext_s(ld, NULL, NULL);
		return NULL;
	}
	return ld;
}

static int
setup(void **state)
{
	struct fixture *fx;
	char path[256], sock[128];
	FILE *f;
	LDAP *ld = NULL;
	char *oc[] = { "dcObject", "organization", NULL };
	char *dc[] = { "test", NULL };
	char *o[] = { "Test", NULL };
	LDAPMod m1 = { LDAP_MOD_ADD, "objectClass", { oc } };
	LDAPMod m2 = { LDAP_MOD_ADD, "dc", { dc } };
	LDAPMod m3 = { LDAP_MOD_ADD, "o", { o } };
	LDAPMod *mods[] = { &m1, &m2, &m3, NULL };
	struct timespec ts = { 0, 50 * 1000000L };
	int fd, i;

	fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_ldappub.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(path, sizeof(path), "%s/db", fx->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/slapd.conf", fx->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "include /etc/ldap/schema/core.schema\n"
	    "pidfile %s/slapd.pid\n"
	    "modulepath /usr/lib/ldap\n"
	    "moduleload back_mdb\n"
	    "database mdb\n"
	    "maxsize 10485760\n"
	    "suffix \"dc=test\"\n"
	    "rootdn \"" ADMIN_DN "\"\n"
	    "rootpw " ADMIN_PW "\n"
	    "directory %s/db\n", fx->dir, fx->dir);
	assert_int_equal(fclose(f), 0);
	snprintf(sock, sizeof(sock), "%s/ldapi", fx->dir);
	ldapi_uri(sock, fx->uri, sizeof(fx->uri));

	if (access(SLAPD, X_OK) != 0)
		fail_msg("%s not installed: run make deps", SLAPD);
	fx->slapd = fork();
	assert_true(fx->slapd != -1);
	if (fx->slapd == 0) {
		/* -d 0: stay in the foreground, so we can kill it. */
		execl(SLAPD, "slapd", "-d", "0", "-f", path, "-h", fx->uri,
		    (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200 && (ld = admin_bind(fx)) == NULL; i++)
		nanosleep(&ts, NULL);
	if (ld == NULL)
		fail_msg("slapd did not come up on %s", fx->uri);
	assert_int_equal(ldap_add_ext_s(ld, "dc=test", mods, NULL, NULL),
	    LDAP_SUCCESS);
	ldap_unbind_ext_s(ld, NULL, NULL);

	snprintf(fx->pwfile, sizeof(fx->pwfile), "%s/bind.pw", fx->dir);
	fd = open(fx->pwfile, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, ADMIN_PW "\n", sizeof(ADMIN_PW)),
	    (ssize_t)sizeof(ADMIN_PW));
	close(fd);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];

	if (fx->slapd > 0) {
		kill(fx->slapd, SIGTERM);
		waitpid(fx->slapd, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", fx->dir);
	free(fx);
	return 0;
}

/* Values of attr on dn, as the directory holds them. */
static struct berval **
read_attr(const struct fixture *fx, const char *dn, const char *attr)
{
	LDAP *ld;
	LDAPMessage *res = NULL, *e;
	char *attrs[] = { (char *)attr, NULL };
	struct berval **vals = NULL;

	ld = admin_bind(fx);
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
	struct fixture *fx = *state;
	struct ldappub_conf conf = { fx->uri, ADMIN_DN, fx->pwfile, "dc=test" };
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
	vals = read_attr(fx, CA_DN, "certificateRevocationList;binary");
	assert_non_null(vals);
	assert_int_equal(ldap_count_values_len(vals), 1);
	assert_int_equal(vals[0]->bv_len, len1);
	assert_memory_equal(vals[0]->bv_val, der1, len1);
	ldap_value_free_len(vals);
	vals = read_attr(fx, CA_DN, "cn");
	assert_non_null(vals);
	assert_int_equal(vals[0]->bv_len, strlen("Test Issuing CA"));
	assert_memory_equal(vals[0]->bv_val, "Test Issuing CA", 15);
	ldap_value_free_len(vals);
	vals = read_attr(fx, CA_DN, "objectClass");
	assert_non_null(vals);
	assert_int_equal(ldap_count_values_len(vals), 3);
	ldap_value_free_len(vals);

	/* Entry present: the value is replaced, not added to. */
	assert_true(len1 != len2 || memcmp(der1, der2, len1) != 0);
	if (ldappub_put(&conf, CA_DN, "certificateRevocationList;binary",
	    der2, (size_t)len2, err, sizeof(err)) == -1)
		fail_msg("ldappub_put (replace): %s", err);
	vals = read_attr(fx, CA_DN, "certificateRevocationList;binary");
	assert_non_null(vals);
	assert_int_equal(ldap_count_values_len(vals), 1);
	assert_int_equal(vals[0]->bv_len, len2);
	assert_memory_equal(vals[0]->bv_val, der2, len2);
	ldap_value_free_len(vals);

	/* Another attribute on the same entry (deltaCRL class). */
	if (ldappub_put(&conf, CA_DN, "deltaRevocationList;binary",
	    der1, (size_t)len1, err, sizeof(err)) == -1)
		fail_msg("ldappub_put (delta): %s", err);
	vals = read_attr(fx, CA_DN, "deltaRevocationList;binary");
	assert_non_null(vals);
	ldap_value_free_len(vals);
	free(der1);
	free(der2);
}

/* A subscriber entry: its ou= parent is created, classes pkiUser. */
static void
test_subscriber_entry(void **state)
{
	struct fixture *fx = *state;
	struct ldappub_conf conf = { fx->uri, ADMIN_DN, fx->pwfile, "dc=test" };
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
	vals = read_attr(fx, dn, "userCertificate;binary");
	assert_non_null(vals);
	assert_int_equal(vals[0]->bv_len, len);
	assert_memory_equal(vals[0]->bv_val, der, len);
	ldap_value_free_len(vals);
	vals = read_attr(fx, dn, "description");
	assert_non_null(vals);
	assert_int_equal(vals[0]->bv_len, strlen(st));
	ldap_value_free_len(vals);
	vals = read_attr(fx, dn, "objectClass");
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
	struct fixture *fx = *state;
	struct ldappub_conf conf = { fx->uri, ADMIN_DN, fx->pwfile, "dc=test" };
	struct ldappub_conf anon = { fx->uri, NULL, NULL, NULL };
	struct ldappub_conf nopw = { fx->uri, ADMIN_DN, NULL, NULL };
	struct ldappub_conf down = { "ldap://127.0.0.1:1", NULL, NULL, NULL };
	struct ldappub_conf wrongpw = { fx->uri, ADMIN_DN, NULL, NULL };
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
	snprintf(badpw, sizeof(badpw), "%s/bad.pw", fx->dir);
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
