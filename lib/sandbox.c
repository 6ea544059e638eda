/*
 * Linux implementation of lib/sandbox.h: setres[ug]id, no_new_privs, a
 * Landlock ruleset for file access and a libseccomp allowlist. One file per
 * platform, as openssh's sandbox-*.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/landlock.h>

#include <cap-ng.h>
#include <jansson.h>
#include <seccomp.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER_BUILD	1
#else
#define SANDBOX_SANITIZER_BUILD	0
#endif

int
sandbox_no_dumps(char *err, size_t errlen)
{
	struct rlimit rl;

	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) == -1) {
		snprintf(err, errlen, "setrlimit(RLIMIT_CORE): %s",
		    strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
		snprintf(err, errlen, "prctl(PR_SET_DUMPABLE): %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
sandbox_demote(const char *user, const char *chroot_dir, char *err, size_t errlen)
{
	struct passwd *pw = NULL;
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	int pdeath = 0;
	pid_t ppid;

	if (user != NULL && (pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "getpwnam(%s): no such user", user);
		return -1;
	}
	if (pw != NULL && pw->pw_uid == 0) {
		snprintf(err, errlen, "refusing to run daemons as %s (uid 0)", user);
		return -1;
	}
	if (geteuid() == 0) {
		if (pw == NULL) {
			snprintf(err, errlen, "running as root: a user to drop to "
			    "is required");
			return -1;
		}
		if (chroot_dir != NULL && (chroot(chroot_dir) == -1 ||
		    chdir("/") == -1)) {
			snprintf(err, errlen, "chroot(%s): %s", chroot_dir,
			    strerror(errno));
			return -1;
		}
		(void)prctl(PR_GET_PDEATHSIG, &pdeath);
		ppid = getppid();
		if (setgroups(1, &pw->pw_gid) == -1 ||
		    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
			snprintf(err, errlen, "dropping to %s: %s", user,
			    strerror(errno));
			return -1;
		}
		/* Make sure the drop cannot be undone. */
		if (getresuid(&ruid, &euid, &suid) == -1 ||
		    getresgid(&rgid, &egid, &sgid) == -1 ||
		    ruid != pw->pw_uid || euid != pw->pw_uid || suid != pw->pw_uid ||
		    rgid != pw->pw_gid || egid != pw->pw_gid || sgid != pw->pw_gid ||
		    setuid(0) != -1) {
			snprintf(err, errlen, "privileges of %s not fully dropped",
			    user);
			return -1;
		}
		/*
		 * The uid change set dumpable to fs.suid_dumpable, which may
		 * be 2 (a core of the demoted process, readable by root).
		 */
		if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
			snprintf(err, errlen, "prctl(PR_SET_DUMPABLE): %s",
			    strerror(errno));
			return -1;
		}
		/*
		 * The kernel clears the parent-death signal when the uid
		 * changes (prctl(2)): a worker that asked to die with its
		 * supervisor asks again.
		 */
		if (pdeath != 0 && prctl(PR_SET_PDEATHSIG, pdeath) == -1) {
			snprintf(err, errlen, "prctl(PR_SET_PDEATHSIG): %s",
			    strerror(errno));
			return -1;
		}
		/* The parent died while the signal was cleared: none will come. */
		if (pdeath != 0 && getppid() != ppid) {
			snprintf(err, errlen, "the parent process is gone");
			return -1;
		}
	} else if (pw != NULL && geteuid() != pw->pw_uid) {
		snprintf(err, errlen, "not root: cannot become %s", user);
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Newer than Debian 12's kernel headers (Linux 6.1). */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)
#endif

/* The rights Landlock ABI abi knows that change the file system or exec. */
static uint64_t
sandbox_write_rights(int abi)
{
	uint64_t r = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
	    LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
	    LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
	    LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
	    LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
	    LANDLOCK_ACCESS_FS_MAKE_SYM;

	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= LANDLOCK_ACCESS_FS_TRUNCATE;
	return r;
}

/*
 * What a process that limits its reads may still read: libraries (dlopen,
 * NSS modules), configuration (resolver, OpenSSL, CA certificates), time
 * zones, the random devices, and /proc and /sys (CPU count, the sanitizers'
 * maps). Not /var, /srv, /home, /root, /tmp: a stack's database, tokens,
 * directory and secrets live there. Landlock keeps /proc/PID of processes
 * outside the domain (ptrace rules) out of reach.
 */
static const char *const sandbox_system_reads[] = {
	"/etc", "/usr", "/lib", "/lib64", "/proc", "/sys", "/dev/null",
	"/dev/urandom", "/dev/random",
};

#define SANDBOX_READ_RIGHTS	(LANDLOCK_ACCESS_FS_READ_FILE | \
	LANDLOCK_ACCESS_FS_READ_DIR)

/* Adds a rule for path: rights, less those a file cannot have. */
static int
sandbox_landlock_rule(int ruleset, const char *path, uint64_t rights,
    int missing_ok, char *err, size_t errlen)
{
	struct landlock_path_beneath_attr rule;
	struct stat st;
	int rc = -1;

	memset(&rule, 0, sizeof(rule));
	if ((rule.parent_fd = open(path, O_PATH | O_CLOEXEC)) == -1) {
		if (missing_ok && errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(rule.parent_fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISDIR(st.st_mode))
		rights &= LANDLOCK_ACCESS_FS_EXECUTE |
		    LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
		    LANDLOCK_ACCESS_FS_TRUNCATE;
	rule.allowed_access = rights;
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH,
	    &rule, 0) == -1) {
		snprintf(err, errlen, "landlock_add_rule %s: %s", path,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	close(rule.parent_fd);
	return rc;
}

int
sandbox_landlock(const char *const *dirs, size_t ndirs,
    const char *const *reads, size_t nreads, char *err, size_t errlen)
{
	struct landlock_ruleset_attr attr;
	uint64_t write;
	char resolv[PATH_MAX];
	int abi, ruleset = -1, rc = -1;
	size_t i;

	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1) {
		if (errno == ENOSYS || errno == EOPNOTSUPP)
			return 0;
		snprintf(err, errlen, "landlock_create_ruleset: %s",
		    strerror(errno));
		return -1;
	}
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = sandbox_write_rights(abi);
	if (reads != NULL)
		attr.handled_access_fs |= SANDBOX_READ_RIGHTS;
	/* Everything beneath a writable directory, but never exec. */
	write = attr.handled_access_fs & ~(uint64_t)LANDLOCK_ACCESS_FS_EXECUTE;
	if ((ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr,
	    sizeof(attr), 0)) == -1) {
		snprintf(err, errlen, "landlock_create_ruleset: %s",
		    strerror(errno));
		return -1;
	}
	for (i = 0; i < ndirs; i++)
		if (dirs[i] != NULL && sandbox_landlock_rule(ruleset, dirs[i],
		    write, 0, err, errlen) == -1)
			goto out;
	for (i = 0; reads != NULL && i < nreads; i++)
		if (reads[i] != NULL && sandbox_landlock_rule(ruleset, reads[i],
		    SANDBOX_READ_RIGHTS, 0, err, errlen) == -1)
			goto out;
	for (i = 0; reads != NULL && i < sizeof(sandbox_system_reads) /
	    sizeof(sandbox_system_reads[0]); i++)
		if (sandbox_landlock_rule(ruleset, sandbox_system_reads[i],
		    SANDBOX_READ_RIGHTS, 1, err, errlen) == -1)
			goto out;
	/*
	 * /etc/resolv.conf is often a link into /run (systemd-resolved,
	 * NetworkManager), rewritten by rename: its directory, or glibc
	 * silently falls back to a resolver on 127.0.0.1.
	 */
	if (reads != NULL && realpath("/etc/resolv.conf", resolv) != NULL &&
	    strncmp(resolv, "/etc/", 5) != 0 && sandbox_landlock_rule(ruleset,
	    dirname(resolv), SANDBOX_READ_RIGHTS, 1, err, errlen) == -1)
		goto out;
	/* Needed unless CAP_SYS_ADMIN; the demotion sets it anyway. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    syscall(SYS_landlock_restrict_self, ruleset, 0) == -1) {
		snprintf(err, errlen, "landlock_restrict_self: %s",
		    strerror(errno));
		goto out;
	}
	rc = abi;
out:
	close(ruleset);
	return rc;
}

/* "a, b, c" of the paths that are not NULL into list; how many. */
static size_t
sandbox_path_list(const char *const *paths, size_t n, char *list, size_t len)
{
	size_t i, off = 0, listed = 0;

	list[0] = '\0';
	for (i = 0; i < n && off < len; i++)
		if (paths[i] != NULL)
			off += (size_t)snprintf(list + off, len - off, "%s%s",
			    listed++ > 0 ? ", " : "", paths[i]);
	return listed;
}

#define SANDBOX_MAX_READS	16

/*
 * Set once sandbox_limit_files() limited what this process reads (or was
 * told to go on without Landlock): SANDBOX_NET_WORKER then lets it open
 * files read-only, which libpq does at each TLS connection
 * (daemon_limit_files(), lib/daemon.h). Without it, no open at all.
 */
static int sandbox_reads_limited;

int
sandbox_limit_files(const struct config *cfg, const char *section,
    const char *who, const char *const *dirs, size_t ndirs,
    const char *const *reads, size_t nreads)
{
	char err[256], wlist[1024], rlist[1024], wmsg[1100], rmsg[1100] = "";
	char key[64];
	char rkey[64], extra[1024], *tok, *save = NULL;
	const char *all[SANDBOX_MAX_READS], *s;
	size_t i, nall = 0;
	int abi, insecure = 0;

	snprintf(key, sizeof(key), "%s.insecure_no_sandbox", section);
	if (cfg == NULL || config_get_bool(cfg, key, 0, &insecure) == -1)
		return -1;
	/* <section>.read_paths: what a conninfo or ldap.conf names, say. */
	snprintf(rkey, sizeof(rkey), "%s.read_paths", section);
	for (i = 0; reads != NULL && i < nreads && nall < SANDBOX_MAX_READS; i++)
		all[nall++] = reads[i];
	if (reads != NULL && (s = config_get(cfg, rkey, NULL)) != NULL) {
		snprintf(extra, sizeof(extra), "%s", s);
		for (tok = strtok_r(extra, " \t,", &save); tok != NULL;
		    tok = strtok_r(NULL, " \t,", &save)) {
			if (nall == SANDBOX_MAX_READS) {
				log_err("sandbox: %s: more than %d paths to read",
				    rkey, SANDBOX_MAX_READS);
				return -1;
			}
			all[nall++] = tok;
		}
	}
	if ((abi = sandbox_landlock(dirs, ndirs, reads != NULL ? all : NULL,
	    nall, err, sizeof(err))) == -1) {
		log_err("sandbox: %s: %s", who, err);
		return -1;
	}
	if (abi == 0) {
		if (!insecure) {
			log_err("sandbox: %s: the kernel has no Landlock (boot "
			    "with it in lsm=); %s = true runs without it "
			    "(development only)", who, key);
			return -1;
		}
		log_warn("sandbox: %s: running WITHOUT Landlock (%s): file "
		    "access is limited only by the user's permissions", who,
		    key);
		sandbox_reads_limited = reads != NULL;
		return 0;
	}
	sandbox_reads_limited = reads != NULL;
	if (sandbox_path_list(dirs, ndirs, wlist, sizeof(wlist)) > 0)
		snprintf(wmsg, sizeof(wmsg), "writes files only in: %s", wlist);
	else
		snprintf(wmsg, sizeof(wmsg), "writes no file");
	if (reads != NULL)
		snprintf(rmsg, sizeof(rmsg), "; reads only the system's files%s%s",
		    sandbox_path_list(all, nall, rlist, sizeof(rlist)) > 0 ?
		    " and " : "", rlist);
	log_info("sandbox: %s %s%s (Landlock ABI %d%s)", who, wmsg, rmsg, abi,
	    abi < 3 ? ", which cannot limit truncation" : "");
	return 0;
}

int
sandbox_limit_writes(const struct config *cfg, const char *section,
    const char *who, const char *const *dirs, size_t ndirs)
{
	return sandbox_limit_files(cfg, section, who, dirs, ndirs, NULL, 0);
}

/* Calls every process keeps: memory, time, signals, exit, I/O on open descriptors. */
static const int sandbox_common[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(close), SCMP_SYS(fstat),
	SCMP_SYS(newfstatat), SCMP_SYS(lseek), SCMP_SYS(fcntl),
	SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
	SCMP_SYS(mprotect), SCMP_SYS(madvise),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
	SCMP_SYS(gettimeofday), SCMP_SYS(getrandom),
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(sigaltstack), SCMP_SYS(futex), SCMP_SYS(sched_yield),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(select), SCMP_SYS(pselect6),
	SCMP_SYS(restart_syscall), SCMP_SYS(sendmsg), SCMP_SYS(recvmsg),
	SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(shutdown),
	SCMP_SYS(rt_sigtimedwait), SCMP_SYS(fsync), SCMP_SYS(fdatasync),
	SCMP_SYS(ftruncate), SCMP_SYS(dup), SCMP_SYS(uname), SCMP_SYS(sysinfo),
	SCMP_SYS(adjtimex), SCMP_SYS(clock_adjtime), SCMP_SYS(getuid), SCMP_SYS(geteuid),
	SCMP_SYS(sched_getaffinity), SCMP_SYS(wait4), SCMP_SYS(waitid),
};

static const int sandbox_net[] = {
	SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(epoll_create1),
	SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait),
	SCMP_SYS(eventfd2), SCMP_SYS(pipe2), SCMP_SYS(setsockopt),
	SCMP_SYS(getsockopt), SCMP_SYS(getsockname), SCMP_SYS(getpeername),
	SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
	SCMP_SYS(sendmmsg),
	/*
	 * Reconnecting to PostgreSQL after an outage (unix socket or loopback);
	 * socket() itself for sandbox_families only (sandbox_socket_rules).
	 */
	SCMP_SYS(connect),
};

static const int sandbox_signer[] = {
	SCMP_SYS(openat), SCMP_SYS(flock), SCMP_SYS(fsync), SCMP_SYS(fdatasync),
	SCMP_SYS(ftruncate), SCMP_SYS(getdents64), SCMP_SYS(unlink),
	SCMP_SYS(rename), SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(stat),
	SCMP_SYS(statx),
	/* SoftHSM2 mlocks its secure allocations (signd's SAM, issue 6). */
	SCMP_SYS(mlock), SCMP_SYS(munlock),
	/*
	 * The signer's watchdog of each request (hsm/signerproc.c): alarm(2),
	 * or setitimer(2) where glibc has no alarm system call.
	 */
	SCMP_SYS(alarm), SCMP_SYS(setitimer),
};

/*
 * SANDBOX_SAM adds these to sandbox_signer: libpq reconnecting (lib/db.c),
 * with socket() of sandbox_families.
 */
static const int sandbox_sam[] = {
	SCMP_SYS(connect), SCMP_SYS(setsockopt),
	SCMP_SYS(getsockopt), SCMP_SYS(getsockname), SCMP_SYS(getpeername),
};

/*
 * SANDBOX_NET_FILES adds these to sandbox_net, and openat without O_TRUNC
 * (Landlock ABI 1 and 2, Debian 12's, cannot stop an O_RDONLY|O_TRUNC open
 * from emptying a file the user owns). fchmod answers EPERM: Landlock
 * cannot limit it, and it would change the mode of any file the user owns
 * (an error, not the end of crld if its CRL directory's ACL asks for it).
 */
static const int sandbox_files[] = {
	SCMP_SYS(rename), SCMP_SYS(renameat),
	SCMP_SYS(renameat2), SCMP_SYS(unlink), SCMP_SYS(unlinkat),
};

/*
 * The address families a process may make sockets of after its filter:
 * PostgreSQL (its unix socket, or TCP), LDAP (ldap://, ldapi://), SMTP and
 * the SMS gateway (libcurl), DNS and nscd (glibc's resolver), syslog(3).
 * Never netlink (routing tables, the audit subsystem, ...), packet, raw
 * or any other family: those answer EACCES, not the end of the process,
 * since glibc's getaddrinfo() opens a netlink socket to sort several
 * addresses and does without it. libmicrohttpd opens none: its listening
 * socket is bound before (http_listen).
 */
static const int sandbox_families[] = { AF_UNIX, AF_INET, AF_INET6 };

/* socketpair(): libcurl's wake-up pair (rad's SMTP sender), unix only. */
static const int sandbox_pair_families[] = { AF_UNIX };

/*
 * Allows call (socket or socketpair) for the families given, and answers
 * every other domain EACCES: families are small, so the rules cover 0 up to
 * the largest allowed one by one and everything above it (upper bits set
 * included: the comparison is on all 64 bits, the kernel reads an int).
 * 0, or -1.
 */
static int
sandbox_socket_rules(scmp_filter_ctx ctx, int call, const int *families,
    size_t n)
{
	size_t i;
	int f, max = 0, allowed;

	for (i = 0; i < n; i++)
		if (families[i] > max)
			max = families[i];
	for (f = 0; f <= max; f++) {
		for (i = 0, allowed = 0; i < n; i++)
			allowed |= families[i] == f;
		if (seccomp_rule_add(ctx, allowed ? SCMP_ACT_ALLOW :
		    SCMP_ACT_ERRNO(EACCES), call, 1,
		    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)f, 0)) != 0)
			return -1;
	}
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), call, 1,
	    SCMP_A0(SCMP_CMP_GT, (scmp_datum_t)max, 0)) != 0)
		return -1;
	return 0;
}

static int
sandbox_allow(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0) != 0)
			return -1;
	}
	return 0;
}

int
sandbox_limit_memory(unsigned long mib)
{
	struct rlimit rl;

	if (SANDBOX_SANITIZER_BUILD)
		return 1;
	if (mib == 0 || mib > (unsigned long)(RLIM_INFINITY >> 20) - 1) {
		errno = EINVAL;
		return -1;
	}
	rl.rlim_cur = rl.rlim_max = (rlim_t)mib << 20;
	return setrlimit(RLIMIT_DATA, &rl);
}

/*
 * SANDBOX_SUPERVISOR: what none of our processes does at any time. The
 * filter is inherited by the workers and signers a supervisor starts,
 * which then add their own allowlist; so everything they do before that
 * (open, socket, bind, fork, setuid, Landlock, adjtimex read by tsad, ...)
 * stays allowed here.
 */
static const int sandbox_supervisor_denied[] = {
	SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(ptrace),
	SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev),
	SCMP_SYS(mount), SCMP_SYS(umount2), SCMP_SYS(pivot_root),
	SCMP_SYS(chroot), SCMP_SYS(setns), SCMP_SYS(unshare),
	SCMP_SYS(open_tree), SCMP_SYS(move_mount), SCMP_SYS(fsopen),
	SCMP_SYS(fsconfig), SCMP_SYS(fsmount), SCMP_SYS(fspick),
	SCMP_SYS(mount_setattr), SCMP_SYS(init_module),
	SCMP_SYS(finit_module), SCMP_SYS(delete_module),
	SCMP_SYS(kexec_load), SCMP_SYS(kexec_file_load), SCMP_SYS(reboot),
	SCMP_SYS(swapon), SCMP_SYS(swapoff), SCMP_SYS(bpf),
	SCMP_SYS(perf_event_open), SCMP_SYS(userfaultfd),
	SCMP_SYS(open_by_handle_at), SCMP_SYS(name_to_handle_at),
	SCMP_SYS(iopl), SCMP_SYS(ioperm), SCMP_SYS(acct),
	SCMP_SYS(settimeofday), SCMP_SYS(clock_settime),
	SCMP_SYS(sethostname), SCMP_SYS(setdomainname),
	SCMP_SYS(keyctl), SCMP_SYS(add_key), SCMP_SYS(request_key),
	SCMP_SYS(quotactl), SCMP_SYS(syslog), SCMP_SYS(fanotify_init),
	SCMP_SYS(lookup_dcookie), SCMP_SYS(vhangup), SCMP_SYS(personality),
	SCMP_SYS(mknod), SCMP_SYS(mknodat), SCMP_SYS(kcmp),
	SCMP_SYS(pidfd_getfd), SCMP_SYS(io_uring_setup), SCMP_SYS(uselib),
};

/* clone() flags that make a namespace: a fork is fine, these are not. */
static const unsigned long sandbox_clone_namespaces[] = {
	0x00020000,	/* CLONE_NEWNS */
	0x02000000,	/* CLONE_NEWCGROUP */
	0x04000000,	/* CLONE_NEWUTS */
	0x08000000,	/* CLONE_NEWIPC */
	0x10000000,	/* CLONE_NEWUSER */
	0x20000000,	/* CLONE_NEWPID */
	0x40000000,	/* CLONE_NEWNET */
	/* CLONE_NEWTIME only through clone3 (ENOSYS) or unshare (killed). */
};

/* The supervisor's filter: allow by default, kill on the calls above. */
static int
sandbox_seccomp_supervisor(char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	size_t i;
	int rc = -1, r;

	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL) {
		snprintf(err, errlen, "seccomp_init failed");
		return -1;
	}
	snprintf(err, errlen, "seccomp_rule_add failed");
	for (i = 0; i < sizeof(sandbox_supervisor_denied) /
	    sizeof(sandbox_supervisor_denied[0]); i++) {
		if (sandbox_supervisor_denied[i] >= 0 &&	/* on this arch */
		    seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS,
		    sandbox_supervisor_denied[i], 0) != 0)
			goto out;
	}
	for (i = 0; i < sizeof(sandbox_clone_namespaces) /
	    sizeof(sandbox_clone_namespaces[0]); i++) {
		if (seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(clone),
		    1, SCMP_A0(SCMP_CMP_MASKED_EQ, sandbox_clone_namespaces[i],
		    sandbox_clone_namespaces[i])) != 0)
			goto out;
	}
	/*
	 * clone3 passes its flags in memory, which a filter cannot read:
	 * ENOSYS, and glibc falls back to clone (fork uses clone anyway).
	 */
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3),
	    0) != 0)
		goto out;
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) != 0) {
		snprintf(err, errlen, "seccomp_attr_set(TSYNC): %s",
		    strerror(-r));
		goto out;
	}
	if ((r = seccomp_load(ctx)) != 0) {
		snprintf(err, errlen, "seccomp_load: %s", strerror(-r));
		goto out;
	}
	rc = 0;
out:
	seccomp_release(ctx);
	return rc;
}

#define SANDBOX_MMAP_THRESHOLD	(32 * 1024 * 1024)

/*
 * What libraries do lazily on first use and that opens files or changes
 * the environment, done once (lib/sandbox.h): glibc's gmtime_r() reads
 * /etc/localtime; jansson seeds its hash function from /dev/urandom when
 * the first object is made; libpq,
 * reconnecting, looks for ~/.pgpass and without HOME asks getpwuid(),
 * which opens /etc/passwd; glibc's malloc, shrinking a thread's arena,
 * reads /proc/sys/vm/overcommit_memory once: no trimming at all (a
 * daemon keeps its peak heap, which it would reach again anyway).
 * Setting it also stops glibc from raising its mmap threshold after
 * large frees, so every block of 128 KiB or more would be mapped
 * afresh and faulted in page by page: signd's SAM spent most of each
 * Argon2id PIN check (19 MiB) in page faults, which are slow on a
 * paravirtualized guest (authorizations 23/s before, 88/s after;
 * hsm/README.md). Blocks up to 32 MiB (glibc's maximum) now come
 * from the heap and are reused.
 */
void
sandbox_prepare(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	mallopt(M_TRIM_THRESHOLD, INT_MAX);
	mallopt(M_MMAP_THRESHOLD, SANDBOX_MMAP_THRESHOLD);
	tzset();
	json_object_seed(0);
	if (getenv("HOME") == NULL || *getenv("HOME") == '\0')
		setenv("HOME", "/nonexistent", 1);
}

int
sandbox_seccomp(enum sandbox_profile profile, char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	int rc = -1, r;

	if (profile == SANDBOX_SUPERVISOR)
		return sandbox_seccomp_supervisor(err, errlen);
	sandbox_prepare();
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL) {
		snprintf(err, errlen, "seccomp_init failed");
		return -1;
	}
	/* Every thread of the process, not only the caller (libmicrohttpd's, the recorder's). */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0)
		goto fail;
	if (sandbox_allow(ctx, sandbox_common, sizeof(sandbox_common) /
	    sizeof(sandbox_common[0])) == -1)
		goto fail;
	/*
	 * A thread naming itself: libmicrohttpd's threads call
	 * pthread_setname_np(self), i.e. prctl(PR_SET_NAME), when they first
	 * run, which may be after the filter is in (TSYNC): pkisign serve was
	 * killed so at a start in a clean CI run. No other prctl.
	 */
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
	    SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME, 0)) != 0)
		goto fail;
	/*
	 * A thread pinning itself (pid 0) to its signer's CPU when it first
	 * signs, after the filter is in (ocspd's HTTP threads, lib/cpu.h).
	 * Never another thread or process.
	 */
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sched_setaffinity),
	    1, SCMP_A0(SCMP_CMP_EQ, 0, 0)) != 0)
		goto fail;
	switch (profile) {
	case SANDBOX_NET_FILES:
		if (sandbox_allow(ctx, sandbox_files, sizeof(sandbox_files) /
		    sizeof(sandbox_files[0])) == -1 ||
		    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
		    SCMP_A2(SCMP_CMP_MASKED_EQ, O_TRUNC, 0)) != 0 ||
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES),
		    SCMP_SYS(openat), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, O_TRUNC,
		    O_TRUNC)) != 0 ||
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
		    SCMP_SYS(fchmod), 0) != 0)
			goto fail;
		/*
		 * rad's SMTP sender: libcurl's multi handle (under
		 * curl_easy_perform) makes an AF_UNIX socketpair to wake
		 * itself; the TCP connection uses socket, connect, poll and
		 * getsockopt of the worker's.
		 */
		if (sandbox_socket_rules(ctx, SCMP_SYS(socketpair),
		    sandbox_pair_families, sizeof(sandbox_pair_families) /
		    sizeof(sandbox_pair_families[0])) == -1)
			goto fail;
		/*
		 * pkisign serve's memory cap (sign/memcap.h): a refused
		 * allocation raises the soft RLIMIT_DATA towards the hard one
		 * set before the filter, and it is lowered again after.
		 * setrlimit(2) is prlimit64 of pid 0. Only RLIMIT_DATA, only
		 * our own: without CAP_SYS_RESOURCE (demoted) the hard limit
		 * can only be lowered, so this grants no memory beyond it.
		 */
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 2,
		    SCMP_A0(SCMP_CMP_EQ, 0, 0),
		    SCMP_A1(SCMP_CMP_EQ, RLIMIT_DATA, 0)) != 0)
			goto fail;
		/* FALLTHROUGH */
	case SANDBOX_NET_WORKER:
		/* Threads only: clone without CLONE_THREAD would be a new process. */
		if (sandbox_allow(ctx, sandbox_net, sizeof(sandbox_net) /
		    sizeof(sandbox_net[0])) == -1 ||
		    sandbox_socket_rules(ctx, SCMP_SYS(socket), sandbox_families,
		    sizeof(sandbox_families) / sizeof(sandbox_families[0])) ==
		    -1 ||
		    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, 0x00010000, 0x00010000)) != 0)
			goto fail;
		/*
		 * clone3 passes its flags in memory, which a filter cannot
		 * read: it answers ENOSYS, and glibc's pthread_create falls
		 * back to clone above (allowing clone3 allowed a fork).
		 */
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
		    SCMP_SYS(clone3), 0) != 0)
			goto fail;
		/*
		 * A worker whose reading Landlock limits may open files
		 * read-only (no create, truncate or append): libpq's TLS
		 * files and password file at each reconnect.
		 */
		if (profile == SANDBOX_NET_WORKER && sandbox_reads_limited &&
		    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
		    SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC |
		    O_APPEND, O_RDONLY)) != 0)
			goto fail;
		break;
	case SANDBOX_SAM:
		if (sandbox_allow(ctx, sandbox_sam, sizeof(sandbox_sam) /
		    sizeof(sandbox_sam[0])) == -1 ||
		    sandbox_socket_rules(ctx, SCMP_SYS(socket), sandbox_families,
		    sizeof(sandbox_families) / sizeof(sandbox_families[0])) ==
		    -1)
			goto fail;
		/* FALLTHROUGH */
	case SANDBOX_SIGNER:
		if (sandbox_allow(ctx, sandbox_signer, sizeof(sandbox_signer) /
		    sizeof(sandbox_signer[0])) == -1)
			goto fail;
		/*
		 * SoftHSM2 reports errors (a token gone, say) with syslog(3),
		 * which opens a socket to /dev/log: refused, not fatal (glibc
		 * drops the message); the signer logs the failure itself. A
		 * SAM's socket() has its rules above.
		 */
		if (profile == SANDBOX_SIGNER && seccomp_rule_add(ctx,
		    SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 0) != 0)
			goto fail;
		break;
	default:
		snprintf(err, errlen, "unknown sandbox profile %d", (int)profile);
		goto out;
	}
	if ((r = seccomp_load(ctx)) != 0) {
		snprintf(err, errlen, "seccomp_load: %s", strerror(-r));
		goto out;
	}
	rc = 0;
	goto out;
fail:
	snprintf(err, errlen, "seccomp_rule_add failed");
out:
	seccomp_release(ctx);
	return rc;
}

const char *
sandbox_user(const struct config *cfg, const char *section,
    enum sandbox_profile profile, char *buf, size_t buflen)
{
	const char *user;
	char key[64], dflt[64];

	if (profile == SANDBOX_SIGNER || profile == SANDBOX_SAM)
		section = "hsm";
	snprintf(key, sizeof(key), "%s.user", section);
	snprintf(dflt, sizeof(dflt), "pki-%s", section);
	if ((user = config_get(cfg, key, geteuid() == 0 ? dflt : NULL)) == NULL)
		return NULL;
	snprintf(buf, buflen, "%s", user);
	return buf;
}

int
sandbox_set_home(const struct config *cfg, const char *section,
    enum sandbox_profile profile)
{
	char name[64];
	struct passwd *pw;

	if (geteuid() != 0 || sandbox_user(cfg, section, profile, name,
	    sizeof(name)) == NULL)
		return 0;
	if ((pw = getpwnam(name)) == NULL) {
		log_err("sandbox: getpwnam(%s): no such user", name);
		return -1;
	}
	if (setenv("HOME", pw->pw_dir != NULL && *pw->pw_dir != '\0' ?
	    pw->pw_dir : "/nonexistent", 1) == -1) {
		log_err("sandbox: setenv(HOME): %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
sandbox_enter(const struct config *cfg, const char *section,
    enum sandbox_profile profile)
{
	char key[64], err[256], name[64];
	const char *user;
	int insecure = 0;

	snprintf(key, sizeof(key), "%s.insecure_no_sandbox", section);
	if (config_get_bool(cfg, key, 0, &insecure) == -1)
		return -1;
	user = sandbox_user(cfg, section, profile, name, sizeof(name));
	if (sandbox_demote(user, NULL, err, sizeof(err)) == -1) {
		log_err("sandbox: %s", err);
		if (!insecure)
			return -1;
		log_warn("sandbox: running with the privileges it started with "
		    "(%s.insecure_no_sandbox)", section);
	}
	if (SANDBOX_SANITIZER_BUILD) {
		log_warn("sandbox: seccomp not installed in a sanitizer build");
		return 0;
	}
	if (sandbox_seccomp(profile, err, sizeof(err)) == -1) {
		log_err("sandbox: %s", err);
		if (!insecure)
			return -1;
		log_warn("sandbox: running WITHOUT seccomp (%s.insecure_no_sandbox)",
		    section);
	}
	return 0;
}

/*
 * What a supervisor's children do as root before they demote: setuid and
 * setgid (and setgroups), read the PIN and the pki-owned SoftHSM2 token
 * directory (0700), signal their demoted children (a uid that is not
 * theirs), bind a port below 1024 and lock SoftHSM2's secure memory.
 */
static const int sandbox_supervisor_caps[] = {
	CAP_SETUID, CAP_SETGID, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
	CAP_KILL, CAP_NET_BIND_SERVICE, CAP_IPC_LOCK,
};

/*
 * Keeps only sandbox_supervisor_caps (those the process has: a container
 * may not grant them all), bounding set included, and checks that the
 * bounding set lost the rest (without CAP_SETPCAP libcap-ng leaves it).
 */
static int
sandbox_keep_caps(char *err, size_t errlen)
{
	int keep[sizeof(sandbox_supervisor_caps) /
	    sizeof(sandbox_supervisor_caps[0])];
	size_t i, n = sizeof(keep) / sizeof(keep[0]);
	int cap, kept, r;

	if (capng_get_caps_process() != 0) {
		snprintf(err, errlen, "capng_get_caps_process failed");
		return -1;
	}
	for (i = 0; i < n; i++)
		keep[i] = capng_have_capability(CAPNG_PERMITTED,
		    (unsigned int)sandbox_supervisor_caps[i]);
	capng_clear(CAPNG_SELECT_ALL);
	for (i = 0; i < n; i++) {
		if (keep[i] && capng_update(CAPNG_ADD, CAPNG_EFFECTIVE |
		    CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
		    (unsigned int)sandbox_supervisor_caps[i]) != 0) {
			snprintf(err, errlen, "capng_update failed");
			return -1;
		}
	}
	if ((r = capng_apply(CAPNG_SELECT_BOTH)) != 0) {
		snprintf(err, errlen, "capng_apply: cannot drop capabilities "
		    "(%d)", r);
		return -1;
	}
	for (cap = 0; cap < 64; cap++) {
		if ((r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0)) == -1)
			break;		/* past the kernel's last capability */
		for (i = 0, kept = 0; i < n; i++)
			kept |= keep[i] && sandbox_supervisor_caps[i] == cap;
		if (r == 1 && !kept) {
			snprintf(err, errlen, "capability %d is still in the "
			    "bounding set", cap);
			return -1;
		}
	}
	return 0;
}

int
sandbox_supervisor(const struct config *cfg, const char *section,
    const char *who)
{
	char key[64], err[256];
	int insecure = 0, failed = 0;

	snprintf(key, sizeof(key), "%s.insecure_no_sandbox", section);
	if (config_get_bool(cfg, key, 0, &insecure) == -1)
		return -1;
	/* Each step on its own: a development flag skips what fails, not the rest. */
	if (geteuid() == 0 && sandbox_keep_caps(err, sizeof(err)) == -1) {
		log_err("sandbox: %s: %s", who, err);
		failed = 1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		log_err("sandbox: %s: prctl(PR_SET_NO_NEW_PRIVS): %s", who,
		    strerror(errno));
		failed = 1;
	}
	if (SANDBOX_SANITIZER_BUILD)
		log_warn("sandbox: %s: seccomp not installed in a sanitizer "
		    "build", who);
	else if (sandbox_seccomp(SANDBOX_SUPERVISOR, err, sizeof(err)) == -1) {
		log_err("sandbox: %s: %s", who, err);
		failed = 1;
	}
	if (failed) {
		if (!insecure)
			return -1;
		log_warn("sandbox: %s runs without part of its sandbox "
		    "(%s.insecure_no_sandbox)", who, section);
		return 0;
	}
	log_info("sandbox: %s keeps %s; no exec, ptrace, mount or namespaces",
	    who, geteuid() == 0 ? "only setuid, setgid, dac_override, "
	    "dac_read_search, kill, net_bind_service and ipc_lock" :
	    "no capability");
	return 0;
}
