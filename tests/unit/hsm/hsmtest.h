/*
 * Shared by the hsm unit tests (included, not compiled alone): a throw-away
 * SoftHSM2 token store in a temporary directory, and PIN files.
 */
#ifndef PKI_TEST_HSMTEST_H
#define PKI_TEST_HSMTEST_H

#include <sys/stat.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HSMTEST_SO_PIN		"so-pin-5678"
#define HSMTEST_USER_PIN	"user-pin-1234"

struct hsmtest {
	char	dir[64];
	char	module[256];
	char	conf[128];
	char	pinfile[128];
	char	badpinfile[128];
	char	lockdir[128];
	char	tokendir[128];
};

static int
hsmtest_writefile(const char *path, const char *data, mode_t mode)
{
	int fd;
	size_t len = strlen(data);

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)) == -1)
		return -1;
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* Creates the directory, softhsm2.conf, PIN files; sets SOFTHSM2_CONF. */
static int
hsmtest_setup(struct hsmtest *h)
{
	const char *m = getenv("PKI_TEST_HSM_MODULE");
	char conf[512];

	memset(h, 0, sizeof(*h));
	snprintf(h->dir, sizeof(h->dir), "/tmp/pkihsm-test.XXXXXX");
	if (mkdtemp(h->dir) == NULL)
		return -1;
	snprintf(h->module, sizeof(h->module), "%s",
	    m != NULL ? m : "/usr/lib/softhsm/libsofthsm2.so");
	snprintf(h->conf, sizeof(h->conf), "%s/softhsm2.conf", h->dir);
	snprintf(h->tokendir, sizeof(h->tokendir), "%s/tokens", h->dir);
	snprintf(h->pinfile, sizeof(h->pinfile), "%s/user.pin", h->dir);
	snprintf(h->badpinfile, sizeof(h->badpinfile), "%s/bad.pin", h->dir);
	snprintf(h->lockdir, sizeof(h->lockdir), "%s/locks", h->dir);
	if (mkdir(h->tokendir, 0700) == -1 || mkdir(h->lockdir, 0700) == -1)
		return -1;
	snprintf(conf, sizeof(conf), "directories.tokendir = %s\n"
	    "objectstore.backend = file\nlog.level = ERROR\n", h->tokendir);
	if (hsmtest_writefile(h->conf, conf, 0600) == -1 ||
	    hsmtest_writefile(h->pinfile, HSMTEST_USER_PIN "\n", 0600) == -1 ||
	    hsmtest_writefile(h->badpinfile, "not-the-pin\n", 0600) == -1)
		return -1;
	return setenv("SOFTHSM2_CONF", h->conf, 1);
}

static int
hsmtest_rm(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	return remove(path);
}

static void
hsmtest_teardown(struct hsmtest *h)
{
	if (h->dir[0] != '\0')
		nftw(h->dir, hsmtest_rm, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
