/*
 * lib/sandbox: each case runs in a child process, since a seccomp filter
 * and a privilege drop cannot be undone.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/netlink.h>

#include <cmocka.h>

#include "lib/config.h"
#include "lib/cpu.h"
#include "lib/crlgen.h"
#include "lib/sandbox.h"

/* Runs fn in a child; returns its wait status. The child leaves with _exit (no LSan at exit). */
static int
run_child(void (*fn)(void))
{
	pid_t pid;
	int status = 0;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

/* A file with content that a NET_FILES process must not empty. */
static char trunc_path[] = "/tmp/test_sandbox_trunc.XXXXXX";

static void *
thread_noop(void *arg)
{
	return arg;
}

static void
child_worker_io(void)
{
	char err[256];
	int p[2];
	char c = 'x';
	pthread_t th;
	int cpu;

	if (pipe(p) == -1)
		_exit(10);
	if (sandbox_seccomp(SANDBOX_NET_WORKER, err, sizeof(err)) == -1)
		_exit(11);
	if (write(p[1], &c, 1) != 1 || read(p[0], &c, 1) != 1)
		_exit(12);
	/* Threads still start (glibc falls back from clone3 to clone). */
	if (pthread_create(&th, NULL, thread_noop, NULL) != 0 ||
	    pthread_join(th, NULL) != 0)
		_exit(13);
	/* A thread may name itself (libmicrohttpd's threads do, late). */
	if (pthread_setname_np(pthread_self(), "sandboxed") != 0)
		_exit(14);
	/* A thread may pin itself to its signer's CPU (lib/cpu.h). */
	if ((cpu = sched_getcpu()) == -1 || cpu_pin_thread(cpu) != 0)
		_exit(15);
	_exit(0);
}

/* Pinning another thread or process: not a worker's business. */
static void
child_worker_pin_other(void)
{
	char err[256];
	cpu_set_t set;
	pid_t parent = getppid();

	if (sched_getaffinity(parent, sizeof(set), &set) == -1)
		_exit(10);
	if (sandbox_seccomp(SANDBOX_NET_WORKER, err, sizeof(err)) == -1)
		_exit(11);
	/* The parent's own set, harmless, yet refused: no other thread. */
	(void)sched_setaffinity(parent, sizeof(set), &set);
	_exit(0);	/* not reached */
}

static void
child_files_no_trunc(void)
{
	char err[256];
	int fd;

	if (sandbox_seccomp(SANDBOX_NET_FILES, err, sizeof(err)) == -1)
		_exit(11);
	/* Opening still works; emptying a file on open does not. */
	if ((fd = open("/tmp", O_RDONLY | O_DIRECTORY)) == -1)
		_exit(12);
	close(fd);
	if (open(trunc_path, O_RDONLY | O_TRUNC) != -1 || errno != EACCES)
		_exit(13);
	_exit(0);
}

static void
child_files_fchmod(void)
{
	char err[256];
	int fd;

	if ((fd = open(trunc_path, O_RDONLY)) == -1)
		_exit(10);
	if (sandbox_seccomp(SANDBOX_NET_FILES, err, sizeof(err)) == -1)
		_exit(11);
	/* Refused, not fatal (crld's CRL directory might ask for it). */
	if (fchmod(fd, 0666) != -1 || errno != EPERM)
		_exit(12);
	_exit(0);
}

static void
child_worker_prctl(void)
{
	char err[256];

	if (sandbox_seccomp(SANDBOX_NET_WORKER, err, sizeof(err)) == -1)
		_exit(11);
	/* Any prctl but PR_SET_NAME: a worker must not make itself dumpable. */
	(void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	_exit(0);
}

static void
child_worker_open(void)
{
	char err[256];

	if (sandbox_seccomp(SANDBOX_NET_WORKER, err, sizeof(err)) == -1)
		_exit(11);
	(void)syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY);
	_exit(0);	/* not reached: openat kills the process */
}

static void
child_worker_exec(void)
{
	char err[256];
	char *const argv[] = { (char *)"true", NULL };

	if (sandbox_seccomp(SANDBOX_NET_WORKER, err, sizeof(err)) == -1)
		_exit(11);
	(void)syscall(SYS_execve, "/bin/true", argv, NULL);
	_exit(0);
}

static void
child_worker_fork(void)
{
	char err[256];

	if (sandbox_seccomp(SANDBOX_NET_WORKER, err, sizeof(err)) == -1)
		_exit(11);
	/* clone3 (whose flags a filter cannot see) is "not implemented". */
	if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS)
		_exit(12);
	/* A plain fork is clone() without CLONE_THREAD. */
	(void)syscall(SYS_clone, (unsigned long)SIGCHLD, 0, 0, 0, 0);
	_exit(0);
}

static void
child_signer_open(void)
{
	char err[256];
	int fd;

	if (sandbox_seccomp(SANDBOX_SIGNER, err, sizeof(err)) == -1)
		_exit(11);
	/* SoftHSM2 opens token files at each signature: allowed for the signer. */
	if ((fd = (int)syscall(SYS_openat, AT_FDCWD, "/etc/hostname",
	    O_RDONLY)) == -1 && errno != ENOENT)
		_exit(12);
	if (fd != -1)
		close(fd);
	/* No new socket: refused with EACCES (SoftHSM2's syslog(3) must not
	 * end the signer), and a connect() would end it. */
	if (syscall(SYS_socket, 2, 1, 0) != -1 || errno != EACCES)
		_exit(13);
	(void)syscall(SYS_connect, 0, NULL, 0);
	_exit(0);
}

/*
 * socket() of a family no profile needs (netlink: routing tables, the
 * audit subsystem, ...; packet: raw frames) answers EACCES, the filter's
 * refusal: the kernel's own for a missing CAP_NET_RAW is EPERM, and
 * netlink needs no privilege at all. Refused, not fatal: glibc's
 * getaddrinfo() opens a netlink socket to sort addresses and does without
 * it. So does a domain whose upper bits are
 * set (the kernel reads an int; the filter compares all 64 bits). Unix,
 * IPv4 and IPv6 (libpq, libldap, libcurl) still open. 0, or the first
 * failed step (20 + n).
 */
static int
socket_families_checked(void)
{
	int fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 20;
	close(fd);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 21;
	close(fd);
	/* A kernel without IPv6 says EAFNOSUPPORT, not the filter's EACCES. */
	if ((fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 &&
	    errno == EACCES)
		return 22;
	if (fd != -1)
		close(fd);
	if (socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE) != -1 ||
	    errno != EACCES)
		return 23;
	if (socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)) !=
	    -1 || errno != EACCES)
		return 24;
	if (syscall(SYS_socket, 0x100000000L | AF_INET, SOCK_STREAM, 0) !=
	    -1 || errno != EACCES)
		return 25;
	return 0;
}

static void
child_worker_socket_families(void)
{
	char err[256];

	if (sandbox_seccomp(SANDBOX_NET_WORKER, err, sizeof(err)) == -1)
		_exit(11);
	_exit(socket_families_checked());
}

/* NET_FILES: the same, and socketpair() of unix sockets only (libcurl). */
static void
child_files_socket_families(void)
{
	char err[256];
	int sv[2], rc;

	if (sandbox_seccomp(SANDBOX_NET_FILES, err, sizeof(err)) == -1)
		_exit(11);
	if ((rc = socket_families_checked()) != 0)
		_exit(rc);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		_exit(30);
	close(sv[0]);
	close(sv[1]);
	/* AF_TIPC (30) has socketpair() too; the filter answers first. */
	if (socketpair(30, SOCK_STREAM, 0, sv) != -1 || errno != EACCES)
		_exit(31);
	if (socketpair(AF_NETLINK, SOCK_RAW, 0, sv) != -1 || errno != EACCES)
		_exit(32);
	_exit(0);
}

/* signd's SAM: a PostgreSQL connection (unix or TCP), nothing else. */
static void
child_sam_socket_families(void)
{
	char err[256];

	if (sandbox_seccomp(SANDBOX_SAM, err, sizeof(err)) == -1)
		_exit(11);
	_exit(socket_families_checked());
}

/* A worker (or a SAM) that was demoted first, as the daemons are. */
static void
child_demoted_socket_families(void)
{
	char err[256];

	if (geteuid() == 0 && sandbox_demote("pki", NULL, err,
	    sizeof(err)) == -1)
		_exit(10);
	if (sandbox_seccomp(SANDBOX_NET_WORKER, err, sizeof(err)) == -1)
		_exit(11);
	_exit(socket_families_checked());
}

static void
test_socket_families(void **state)
{
	void (*fns[])(void) = { child_worker_socket_families,
	    child_files_socket_families, child_sam_socket_families,
	    child_demoted_socket_families };
	size_t i;
	int st;

	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		st = run_child(fns[i]);
		if (!WIFEXITED(st))
			fail_msg("profile %zu: killed by signal %d", i,
			    WIFSIGNALED(st) ? WTERMSIG(st) : -1);
		if (WEXITSTATUS(st) != 0)
			fail_msg("profile %zu: step %d failed", i,
			    WEXITSTATUS(st));
	}
}

/* Two directories made before the Landlock ruleset: a/ writable, b/ not. */
static char landlock_base[] = "/tmp/test_sandbox.XXXXXX";

/* Opens and closes base/rel: 0, or -1 with errno. */
static int
open_under(const char *base, const char *rel, int flags)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	if ((fd = open(path, flags | O_CLOEXEC, 0600)) == -1)
		return -1;
	close(fd);
	return 0;
}

static int
landlock_try(const char *rel, int flags)
{
	return open_under(landlock_base, rel, flags);
}

static void
child_landlock(void)
{
	char a[128], b[128], from[512], to[512], err[256];
	const char *dirs[1];
	char *const argv[] = { (char *)"true", NULL };
	int abi;

	snprintf(a, sizeof(a), "%s/a", landlock_base);
	snprintf(b, sizeof(b), "%s/b", landlock_base);
	dirs[0] = a;
	if ((abi = sandbox_landlock(dirs, 1, NULL, 0, err, sizeof(err))) == -1)
		_exit(10);
	if (abi == 0)
		_exit(77);	/* no Landlock in this kernel */
	/* Beneath a/: create, write, rename, remove. */
	snprintf(from, sizeof(from), "%s/new", a);
	snprintf(to, sizeof(to), "%s/renamed", a);
	if (landlock_try("a/new", O_WRONLY | O_CREAT | O_EXCL) == -1 ||
	    rename(from, to) == -1 || unlink(to) == -1)
		_exit(11);
	/* b/: read, but no create, write, truncate or remove. */
	if (landlock_try("b/existing", O_RDONLY) == -1)
		_exit(12);
	if (landlock_try("b/new", O_WRONLY | O_CREAT) != -1 || errno != EACCES)
		_exit(13);
	if (landlock_try("b/existing", O_WRONLY) != -1 || errno != EACCES)
		_exit(14);
	snprintf(from, sizeof(from), "%s/existing", b);
	if (unlink(from) != -1 || errno != EACCES)
		_exit(15);
	snprintf(to, sizeof(to), "%s/moved", a);
	if (rename(from, to) != -1 || (errno != EACCES && errno != EXDEV))
		_exit(16);
	/* Nothing executes. */
	execve("/bin/true", argv, NULL);
	if (errno != EACCES)
		_exit(17);
	_exit(0);
}

static void
test_landlock_limits_writes(void **state)
{
	char path[512];
	int st, fd;

	assert_non_null(mkdtemp(landlock_base));
	snprintf(path, sizeof(path), "%s/a", landlock_base);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/b", landlock_base);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/b/existing", landlock_base);
	assert_true((fd = open(path, O_WRONLY | O_CREAT, 0600)) >= 0);
	close(fd);
	st = run_child(child_landlock);
	assert_true(WIFEXITED(st));
	/* The file the child could not remove is still there. */
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);
	snprintf(path, sizeof(path), "%s/b", landlock_base);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/a", landlock_base);
	rmdir(path);
	rmdir(landlock_base);
	/* 77: no Landlock here, so every daemon would refuse to start. */
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* base/w writable, base/r readable, base/x neither; each with a file f. */
static char reads_base[] = "/tmp/test_sandbox_reads.XXXXXX";

static int
reads_open(const char *rel, int flags)
{
	return open_under(reads_base, rel, flags);
}

static void
child_landlock_reads(void)
{
	char w[128], r[128], err[256];
	const char *dirs[1], *reads[1];

	snprintf(w, sizeof(w), "%s/w", reads_base);
	snprintf(r, sizeof(r), "%s/r", reads_base);
	dirs[0] = w;
	reads[0] = r;
	if (sandbox_landlock(dirs, 1, reads, 1, err, sizeof(err)) < 1)
		_exit(10);
	/* The system's files, the readable and the writable directory. */
	if (reads_open("r/f", O_RDONLY) == -1 || reads_open("w/f", O_RDONLY) ==
	    -1 || reads_open("w/new", O_WRONLY | O_CREAT) == -1)
		_exit(11);
	if (open("/etc/passwd", O_RDONLY) == -1)
		_exit(12);
	/* Not a file nor a listing elsewhere; not a write where reading is allowed. */
	if (reads_open("x/f", O_RDONLY) != -1 || errno != EACCES)
		_exit(13);
	if (reads_open("x", O_RDONLY | O_DIRECTORY) != -1 || errno != EACCES)
		_exit(14);
	if (reads_open("r/f", O_WRONLY) != -1 || errno != EACCES)
		_exit(15);
	_exit(0);
}

/* sandbox_limit_files() with nothing named but [t] read_paths = base/r. */
static void
child_read_paths(void)
{
	char conf[512], err[256];
	const char *none[1] = { NULL };
	struct config *cfg;
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/w/t.conf", reads_base);
	if ((f = fopen(conf, "w")) == NULL)
		_exit(10);
	fprintf(f, "[t]\nread_paths = /nonexistent-is-not-read, %s/r\n",
	    reads_base);
	fclose(f);
	if ((cfg = config_load(conf, err, sizeof(err))) == NULL)
		_exit(11);
	/* A path that does not exist is an error: fix the configuration. */
	if (sandbox_limit_files(cfg, "t", "test", NULL, 0, none, 0) != -1)
		_exit(12);
	config_free(cfg);
	if ((f = fopen(conf, "w")) == NULL)
		_exit(13);
	fprintf(f, "[t]\nread_paths = %s/r\n", reads_base);
	fclose(f);
	if ((cfg = config_load(conf, err, sizeof(err))) == NULL ||
	    sandbox_limit_files(cfg, "t", "test", NULL, 0, none, 0) == -1)
		_exit(14);
	if (reads_open("r/f", O_RDONLY) == -1)
		_exit(15);
	if (reads_open("x/f", O_RDONLY) != -1 || errno != EACCES)
		_exit(16);
	_exit(0);
}

static void
test_landlock_limits_reads(void **state)
{
	const char *sub[] = { "w", "r", "x" };
	char path[512];
	size_t i;
	int fd, st;

	assert_non_null(mkdtemp(reads_base));
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", reads_base, sub[i]);
		assert_int_equal(mkdir(path, 0700), 0);
		snprintf(path, sizeof(path), "%s/%s/f", reads_base, sub[i]);
		assert_true((fd = open(path, O_WRONLY | O_CREAT, 0600)) >= 0);
		close(fd);
	}
	st = run_child(child_landlock_reads);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	st = run_child(child_read_paths);
	snprintf(path, sizeof(path), "%s/w/t.conf", reads_base);
	unlink(path);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s/f", reads_base, sub[i]);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s/new", reads_base, sub[i]);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s", reads_base, sub[i]);
		rmdir(path);
	}
	rmdir(reads_base);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void
test_worker_allows_io(void **state)
{
	int st = run_child(child_worker_io);

	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void
assert_killed_by_seccomp(void (*fn)(void))
{
	int st = run_child(fn);

	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

static void
test_worker_denies_open(void **state)
{
	assert_killed_by_seccomp(child_worker_open);
}

static void
test_worker_denies_exec(void **state)
{
	assert_killed_by_seccomp(child_worker_exec);
}

static void
test_worker_denies_fork(void **state)
{
	assert_killed_by_seccomp(child_worker_fork);
}

static void
test_files_refuses_trunc_and_fchmod(void **state)
{
	struct stat st;
	int fd, status;

	assert_true((fd = mkstemp(trunc_path)) >= 0);
	assert_int_equal(write(fd, "content", 7), 7);
	close(fd);
	status = run_child(child_files_no_trunc);
	assert_int_equal(stat(trunc_path, &st), 0);
	assert_int_equal(st.st_size, 7);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	status = run_child(child_files_fchmod);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(stat(trunc_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	unlink(trunc_path);
}

/*
 * crld's CRL files read under its filter (crlgen_read_file): an absent one
 * is told apart from a present one, and neither ends the process (until
 * 2026-12-06 crld probed them with access(), which the filter kills).
 */
static char crl_dir[] = "/tmp/test_sandbox_crl.XXXXXX";

static void
child_files_read_crl(void)
{
	char err[256];
	unsigned char *der = NULL;
	size_t len = 0;

	if (sandbox_seccomp(SANDBOX_NET_FILES, err, sizeof(err)) == -1)
		_exit(11);
	if (crlgen_read_file(crl_dir, "absent.crl", 1024, &der, &len, err,
	    sizeof(err)) != 1 || der != NULL)
		_exit(12);
	if (crlgen_read_file(crl_dir, "present.crl", 1024, &der, &len, err,
	    sizeof(err)) != 0 || len != 3 || memcmp(der, "\x30\x01\x00", 3) != 0)
		_exit(13);
	free(der);
	_exit(0);
}

static void
test_files_read_crl(void **state)
{
	char path[sizeof(crl_dir) + 16], err[256];
	int status;

	assert_non_null(mkdtemp(crl_dir));
	assert_int_equal(crlgen_write_file(crl_dir, "present.crl",
	    (const unsigned char *)"\x30\x01\x00", 3, err, sizeof(err)), 0);
	status = run_child(child_files_read_crl);
	snprintf(path, sizeof(path), "%s/present.crl", crl_dir);
	unlink(path);
	rmdir(crl_dir);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_worker_denies_other_prctl(void **state)
{
	assert_killed_by_seccomp(child_worker_prctl);
}

static void
test_worker_pins_no_other(void **state)
{
	assert_killed_by_seccomp(child_worker_pin_other);
}

static void
test_signer_opens_but_no_socket(void **state)
{
	assert_killed_by_seccomp(child_signer_open);
}

/* The value of "Name:" in /proc/self/status (up to 63 characters), or "". */
static const char *
self_status(const char *name, char *buf, size_t len)
{
	char line[256];
	size_t n = strlen(name);
	FILE *f;

	*buf = '\0';
	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return buf;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, name, n) == 0 && line[n] == ':') {
			snprintf(buf, len, "%s", line + n + 1 + strspn(line + n + 1, " \t"));
			buf[strcspn(buf, "\n")] = '\0';
			break;
		}
	}
	fclose(f);
	return buf;
}

/*
 * A supervisor (tsad's, signd's) keeps root, but only the capabilities its
 * children need before they demote, and still forks, opens, connects and
 * lets a child demote; exec kills it (below).
 */
static void
child_supervisor_keeps(void)
{
	char conf[] = "/tmp/test_sandbox_sup.XXXXXX", err[256], v[64];
	struct config *cfg;
	pid_t pid;
	int fd, st;

	if ((fd = mkstemp(conf)) == -1 || write(fd, "[t]\n", 4) != 4)
		_exit(10);
	close(fd);
	cfg = config_load(conf, err, sizeof(err));
	unlink(conf);
	if (cfg == NULL || sandbox_supervisor(cfg, "t", "test") == -1)
		_exit(11);
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		_exit(12);
	if (geteuid() == 0) {
		/* setgid 6, setuid 7, dac 1 2, kill 5, bind 10, ipc_lock 14 */
		if (strcmp(self_status("CapEff", v, sizeof(v)), "00000000000044e6") != 0 ||
		    strcmp(self_status("CapPrm", v, sizeof(v)), "00000000000044e6") != 0 ||
		    strcmp(self_status("CapBnd", v, sizeof(v)), "00000000000044e6") != 0 ||
		    strcmp(self_status("CapInh", v, sizeof(v)), "0000000000000000") != 0)
			_exit(13);
		/* CAP_SYS_TIME and CAP_CHOWN are gone. */
		if (chown("/proc/self/status", 1, 1) != -1)
			_exit(14);
		/*
		 * Still uid 0: what keeps it from /proc/sys (core_pattern
		 * runs a program as root) is Landlock, as tsad's and
		 * signd's supervisors limit their writes.
		 */
		if (sandbox_limit_writes(cfg, "t", "test", NULL, 0) == -1)
			_exit(19);
		if ((fd = open("/proc/sys/kernel/core_pattern", O_WRONLY)) !=
		    -1 || errno != EACCES)
			_exit(20);
	}
	if ((fd = open("/etc/passwd", O_RDONLY)) == -1)
		_exit(15);
	close(fd);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		_exit(16);
	close(fd);
	if ((pid = fork()) == -1)
		_exit(17);
	if (pid == 0) {
		/* A worker demoting itself. */
		if (geteuid() == 0 && sandbox_demote("pki", NULL, err,
		    sizeof(err)) == -1)
			_exit(1);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		_exit(18);
	config_free(cfg);
	_exit(0);
}

static void
test_supervisor_keeps_what_children_need(void **state)
{
	int st = run_child(child_supervisor_keeps);

	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void
child_supervisor_exec(void)
{
	char err[256];
	char *const argv[] = { (char *)"true", NULL };

	if (sandbox_seccomp(SANDBOX_SUPERVISOR, err, sizeof(err)) == -1)
		_exit(11);
	(void)syscall(SYS_execve, "/bin/true", argv, NULL);
	_exit(0);
}

static void
child_supervisor_ptrace(void)
{
	char err[256];

	if (sandbox_seccomp(SANDBOX_SUPERVISOR, err, sizeof(err)) == -1)
		_exit(11);
	(void)syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
	_exit(0);
}

static void
child_supervisor_unshare(void)
{
	char err[256];

	if (sandbox_seccomp(SANDBOX_SUPERVISOR, err, sizeof(err)) == -1)
		_exit(11);
	(void)syscall(SYS_unshare, 0x10000000 /* CLONE_NEWUSER */);
	_exit(0);
}

/* A namespace made by clone() rather than unshare(). */
static void
child_supervisor_clone_ns(void)
{
	char err[256];
	long pid;

	if (sandbox_seccomp(SANDBOX_SUPERVISOR, err, sizeof(err)) == -1)
		_exit(11);
	pid = syscall(SYS_clone, 0x10000000L /* CLONE_NEWUSER */ | SIGCHLD,
	    NULL, NULL, NULL, 0L);
	if (pid == 0)
		_exit(0);
	_exit(0);
}

static void
test_supervisor_denies_exec_ptrace_unshare(void **state)
{
	assert_killed_by_seccomp(child_supervisor_exec);
	assert_killed_by_seccomp(child_supervisor_ptrace);
	assert_killed_by_seccomp(child_supervisor_unshare);
	assert_killed_by_seccomp(child_supervisor_clone_ns);
}

/*
 * Under a 64 MiB cap, 128 MiB cannot be had, in one block or in pieces (as
 * qpdf's growing buffers take it); 1 MiB still can. Exit 77: a sanitizer
 * build, where the cap is not set.
 */
static void *volatile memory_sink;	/* no allocation optimized away */

static void
child_memory_capped(void)
{
	enum { PIECES = 128 };
	void *piece[PIECES];
	size_t i;
	int got = 0;

	switch (sandbox_limit_memory(64)) {
	case 1:
		_exit(77);
	case 0:
		break;
	default:
		_exit(10);
	}
	if ((memory_sink = malloc(128u << 20)) != NULL)
		_exit(11);
	for (i = 0; i < PIECES; i++) {
		if ((piece[i] = malloc(1u << 20)) == NULL)
			break;
		memset(piece[i], 1, 1u << 20);
		got++;
	}
	if (got == PIECES)
		_exit(12);
	while (got > 0)
		free(piece[--got]);
	if ((memory_sink = malloc(1u << 20)) == NULL)
		_exit(13);
	free(memory_sink);
	if (sandbox_limit_memory(0) != -1)
		_exit(14);
	_exit(0);
}

static void
test_limit_memory(void **state)
{
	int st = run_child(child_memory_capped);

	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void
child_demote(void)
{
	char err[256];
	struct passwd *pw;

	int sig = 0;

	if (geteuid() == 0) {
		if ((pw = getpwnam("pki")) == NULL)
			_exit(20);
		/* The kernel clears it on the uid change: demote sets it again. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
			_exit(25);
		if (sandbox_demote("pki", NULL, err, sizeof(err)) == -1)
			_exit(21);
		if (prctl(PR_GET_PDEATHSIG, &sig) == -1 || sig != SIGTERM)
			_exit(26);
		if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid ||
		    getgid() != pw->pw_gid)
			_exit(22);
		if (setuid(0) != -1)
			_exit(23);
	} else if (sandbox_demote(NULL, NULL, err, sizeof(err)) == -1)
		_exit(21);
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		_exit(24);
	_exit(0);
}

static void
test_demote(void **state)
{
	int st = run_child(child_demote);

	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/*
 * sandbox_no_dumps: from a process that may dump core and is dumpable, one
 * that may not (soft and hard limit 0) and is not; demoted (as root), it
 * stays so and cannot raise its core limit again.
 */
static void
child_no_dumps(void)
{
	char err[256];
	struct rlimit rl;

	if (getrlimit(RLIMIT_CORE, &rl) == -1)
		_exit(10);
	rl.rlim_cur = rl.rlim_max;	/* as a shell's ulimit -c may */
	if (rl.rlim_cur == 0 || setrlimit(RLIMIT_CORE, &rl) == -1 ||
	    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == -1 ||
	    prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1)
		_exit(77);	/* nothing to take away here */
	if (sandbox_no_dumps(err, sizeof(err)) == -1)
		_exit(11);
	if (getrlimit(RLIMIT_CORE, &rl) == -1 || rl.rlim_cur != 0 ||
	    rl.rlim_max != 0)
		_exit(12);
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		_exit(13);
	if (geteuid() == 0) {
		if (sandbox_demote("pki", NULL, err, sizeof(err)) == -1)
			_exit(14);
		if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
			_exit(15);
	}
	rl.rlim_cur = rl.rlim_max = 1 << 20;
	if (geteuid() != 0 && (setrlimit(RLIMIT_CORE, &rl) != -1 ||
	    errno != EPERM))
		_exit(16);
	_exit(0);
}

static void
test_no_dumps(void **state)
{
	int st = run_child(child_no_dumps);

	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void
test_demote_refuses_root_and_unknown(void **state)
{
	char err[256];

	assert_int_equal(sandbox_demote("root", NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "uid 0"));
	assert_int_equal(sandbox_demote("no-such-user-pki", NULL, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "no such user"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worker_allows_io),
		cmocka_unit_test(test_worker_denies_open),
		cmocka_unit_test(test_worker_denies_exec),
		cmocka_unit_test(test_worker_denies_fork),
		cmocka_unit_test(test_worker_denies_other_prctl),
		cmocka_unit_test(test_worker_pins_no_other),
		cmocka_unit_test(test_files_refuses_trunc_and_fchmod),
		cmocka_unit_test(test_files_read_crl),
		cmocka_unit_test(test_signer_opens_but_no_socket),
		cmocka_unit_test(test_socket_families),
		cmocka_unit_test(test_demote),
		cmocka_unit_test(test_no_dumps),
		cmocka_unit_test(test_limit_memory),
		cmocka_unit_test(test_supervisor_keeps_what_children_need),
		cmocka_unit_test(test_supervisor_denies_exec_ptrace_unshare),
		cmocka_unit_test(test_landlock_limits_writes),
		cmocka_unit_test(test_landlock_limits_reads),
		cmocka_unit_test(test_demote_refuses_root_and_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
