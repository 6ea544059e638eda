/*
 * Shared by the lib unit tests that publish to LDAP (included after
 * <cmocka.h>, not compiled alone): a throwaway slapd the test starts
 * itself (slapd is installed by `make deps`; a missing slapd is a failure,
 * not a skip): core schema, one mdb database "dc=test" with its entry,
 * listening on a ldapi:// socket in a temporary directory, and a bind
 * password file for ADMIN_DN there.
 *
 * The functions are static inline: a test that uses only some of them
 * compiles without -Wunused-function.
 */
#ifndef PKI_TEST_SLAPDTEST_H
#define PKI_TEST_SLAPDTEST_H

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ldap.h>

#define SLAPDTEST_SLAPD	"/usr/sbin/slapd"
#define ADMIN_DN	"cn=admin,dc=test"
#define ADMIN_PW	"test-admin-pw"

struct slapdtest {
	char	dir[64];	/* the temporary directory, removed by stop */
	char	uri[256];	/* ldapi:// URI of its socket */
	char	pwfile[128];	/* ADMIN_PW, mode 0600 */
	pid_t	pid;		/* slapd's */
};

/* ldapi:// URI for a socket path: '/' becomes %2F. */
static inline void
slapdtest_ldapi_uri(const char *path, char *uri, size_t len)
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

/* A connection bound as ADMIN_DN, to ldap_unbind_ext_s(); NULL on failure. */
static inline LDAP *
slapdtest_admin_bind(const struct slapdtest *sl)
{
	LDAP *ld = NULL;
	struct berval cred = { strlen(ADMIN_PW), (char *)ADMIN_PW };
	int v = LDAP_VERSION3;

	if (ldap_initialize(&ld, sl->uri) != LDAP_SUCCESS)
		return NULL;
	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v);
	if (ldap_sasl_bind_s(ld, ADMIN_DN, LDAP_SASL_SIMPLE, &cred, NULL, NULL,
	    NULL) != LDAP_SUCCESS) {
		ldap_unbind_ext_s(ld, NULL, NULL);
		return NULL;
	}
	return ld;
}

/*
 * Starts slapd in /tmp/<name>.XXXXXX, waits until ADMIN_DN can bind, adds
 * "dc=test" and writes the bind password file; fails the test otherwise.
 * Undone by slapdtest_stop().
 */
static inline void
slapdtest_start(struct slapdtest *sl, const char *name)
{
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

	memset(sl, 0, sizeof(*sl));
	snprintf(sl->dir, sizeof(sl->dir), "/tmp/%s.XXXXXX", name);
	assert_non_null(mkdtemp(sl->dir));
	snprintf(path, sizeof(path), "%s/db", sl->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/slapd.conf", sl->dir);
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
	    "directory %s/db\n", sl->dir, sl->dir);
	assert_int_equal(fclose(f), 0);
	snprintf(sock, sizeof(sock), "%s/ldapi", sl->dir);
	slapdtest_ldapi_uri(sock, sl->uri, sizeof(sl->uri));

	if (access(SLAPDTEST_SLAPD, X_OK) != 0)
		fail_msg("%s not installed: run make deps", SLAPDTEST_SLAPD);
	sl->pid = fork();
	assert_true(sl->pid != -1);
	if (sl->pid == 0) {
		/* -d 0: stay in the foreground, so we can kill it. */
		execl(SLAPDTEST_SLAPD, "slapd", "-d", "0", "-f", path, "-h",
		    sl->uri, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200 && (ld = slapdtest_admin_bind(sl)) == NULL; i++)
		nanosleep(&ts, NULL);
	if (ld == NULL)
		fail_msg("slapd did not come up on %s", sl->uri);
	assert_int_equal(ldap_add_ext_s(ld, "dc=test", mods, NULL, NULL),
	    LDAP_SUCCESS);
	ldap_unbind_ext_s(ld, NULL, NULL);

	snprintf(sl->pwfile, sizeof(sl->pwfile), "%s/bind.pw", sl->dir);
	fd = open(sl->pwfile, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, ADMIN_PW "\n", sizeof(ADMIN_PW)),
	    (ssize_t)sizeof(ADMIN_PW));
	close(fd);
}

/* Stops slapd and removes its directory; for a started or zeroed sl. */
static inline void
slapdtest_stop(struct slapdtest *sl)
{
	char cmd[128];

	if (sl->pid > 0) {
		kill(sl->pid, SIGTERM);
		waitpid(sl->pid, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sl->dir);
	if (sl->dir[0] != '\0' && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", sl->dir);
}

#endif
