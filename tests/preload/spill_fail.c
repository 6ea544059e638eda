/*
 * LD_PRELOAD shim for tests (tests/integration/test_tsa_health.sh): the
 * disk of tsad's spill file full or failing. While the file named by
 * SPILL_FAIL_FLAG holds "1 INODE", write and pwrite to the file of that
 * inode fail with ENOSPC and its fdatasync and fsync with EIO; "0" (or
 * anything else) lets them through. The flag file is opened at load and
 * read with pread at each call: the worker's sandbox allows no open.
 * Built without sanitizers: it is loaded before everything else.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static int	flag_fd = -1;

__attribute__((constructor)) static void
spill_fail_init(void)
{
	const char *f = getenv("SPILL_FAIL_FLAG");

	if (f != NULL)
		flag_fd = open(f, O_RDONLY | O_CLOEXEC);
}

static void *
real_fn(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (f == NULL)
		abort();
	return f;
}

/* Whether fd is the spill file and its disk is to fail now. */
static int
failing(int fd)
{
	char buf[64];
	struct stat st;
	ssize_t n;
	int saved = errno, rc = 0;

	if (flag_fd != -1 && (n = pread(flag_fd, buf, sizeof(buf) - 1, 0)) > 2 &&
	    buf[0] == '1') {
		buf[n] = '\0';
		rc = fstat(fd, &st) == 0 &&
		    st.st_ino == (ino_t)strtoull(buf + 2, NULL, 10);
	}
	errno = saved;
	return rc;
}

ssize_t
write(int fd, const void *b, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);

	if (failing(fd)) {
		errno = ENOSPC;
		return -1;
	}
	if (real == NULL)
		*(void **)&real = real_fn("write");
	return real(fd, b, n);
}

ssize_t
pwrite(int fd, const void *b, size_t n, off_t o)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);

	if (failing(fd)) {
		errno = ENOSPC;
		return -1;
	}
	if (real == NULL)
		*(void **)&real = real_fn("pwrite");
	return real(fd, b, n, o);
}

int
fdatasync(int fd)
{
	static int (*real)(int);

	if (failing(fd)) {
		errno = EIO;
		return -1;
	}
	if (real == NULL)
		*(void **)&real = real_fn("fdatasync");
	return real(fd);
}

int
fsync(int fd)
{
	static int (*real)(int);

	if (failing(fd)) {
		errno = EIO;
		return -1;
	}
	if (real == NULL)
		*(void **)&real = real_fn("fsync");
	return real(fd);
}
