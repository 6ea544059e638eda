/*
 * Privilege reduction for daemon processes, in the order of DESIGN.md and
 * STYLE.md §2: open what you need first, then sandbox_demote(), then
 * sandbox_seccomp(). Both fail closed: a daemon refuses to start when the
 * kernel cannot do what is asked, unless its clearly named development flag
 * lets it go on (the caller decides; these functions only report).
 */
#ifndef PKI_SANDBOX_H
#define PKI_SANDBOX_H

#include <stddef.h>

/* Which system calls a process keeps after sandbox_seccomp(). */
enum sandbox_profile {
	/*
	 * A network worker: I/O on descriptors it already has, accept, poll and
	 * epoll, threads (futex, clone of threads only), memory, time, signals,
	 * sockets of AF_UNIX, AF_INET and AF_INET6 only (any other family,
	 * netlink or packet, answers EACCES) and connect.
	 * No open, exec, fork of processes, ptrace, mount, bpf, ... Once
	 * sandbox_limit_files() limited its reading (daemon_limit_files(), for
	 * libpq's TLS and password files), openat read-only too.
	 */
	SANDBOX_NET_WORKER = 1,
	/*
	 * A signer: as a worker without accept and sockets, plus the file
	 * operations SoftHSM2 performs on its token directory at every signature
	 * (openat, flock, fstat, lseek; HSM-NOTES.md). socket() fails with
	 * EACCES instead of ending the process (SoftHSM2's syslog(3)).
	 */
	SANDBOX_SIGNER = 2,
	/*
	 * A network worker that also writes files (crld's CRL directory:
	 * temporary file, fsync, rename) and reads its LDAP bind password at
	 * each publication: SANDBOX_NET_WORKER plus openat (EACCES with
	 * O_TRUNC), rename and unlink, and socketpair of AF_UNIX (else
	 * EACCES), for rad's SMTP sender (libcurl). fchmod answers EPERM.
	 * Its own RLIMIT_DATA may be set (pkisign serve's memory cap,
	 * sign/memcap.h; within the hard limit). No exec, no process fork, no
	 * ptrace, no mount.
	 */
	SANDBOX_NET_FILES = 3,
	/*
	 * signd's SAM: a signer that keeps a PostgreSQL connection, so it may
	 * also open a socket (AF_UNIX, AF_INET, AF_INET6; others EACCES) and
	 * connect, to reconnect after the server closed the connection (a
	 * restart, a failover; lib/db.c). Still no
	 * accept, no threads, no process fork, no exec.
	 */
	SANDBOX_SAM = 4,
	/*
	 * A supervisor that keeps root to start a worker or a signer again
	 * (tsad's, signd's): everything its children need at start stays
	 * allowed, since a filter is inherited; what no process of ours ever
	 * does kills it: exec, ptrace, mount and namespaces, modules, kexec,
	 * bpf, setting the clock, keyrings, reboot, ...
	 */
	SANDBOX_SUPERVISOR = 5,
};

/*
 * No core file and no dump of this process's memory: RLIMIT_CORE 0, soft
 * and hard (not raised again without CAP_SYS_RESOURCE; inherited by
 * children), and PR_SET_DUMPABLE 0, so that no process of the same user
 * may ptrace it or read its /proc/PID/mem or environ (root with
 * CAP_SYS_PTRACE still can: gdb for debugging; there is no switch for core
 * files). For every daemon and supervisor at its start
 * (daemon_load_config; crld and cad call it themselves) and for the CLIs
 * that read PINs and secrets (pkictl, pkisign), before they read any. The
 * kernel sets dumpable to fs.suid_dumpable when the uid changes:
 * sandbox_demote() clears it again. 0, or -1 with err.
 */
int	sandbox_no_dumps(char *err, size_t errlen);

/*
 * When running as root: chroot to dir when non-NULL, then setgroups,
 * setresgid and setresuid to user (which must exist and not be root), then
 * PR_SET_DUMPABLE 0 again (sandbox_no_dumps). Always:
 * PR_SET_NO_NEW_PRIVS. Not root and user non-NULL: succeeds only if we
 * already run as that user. Returns 0 or -1 with a message in err.
 */
int	sandbox_demote(const char *user, const char *chroot_dir, char *err,
	    size_t errlen);

/*
 * What libraries would do lazily later, which a filter would refuse or
 * which is not thread-safe (setenv HOME when unset, tzset, jansson's hash
 * seed, malloc's trim settings): once, before the daemon's first thread
 * (daemon_load_config() calls it); sandbox_seccomp() calls it too.
 */
void	sandbox_prepare(void);

/*
 * Installs a seccomp-bpf allowlist (libseccomp); any other system call kills
 * the process (SCMP_ACT_KILL_PROCESS), so a violation is loud. Filters stack:
 * a later, stricter call narrows further. Returns 0 or -1 with err.
 */
int	sandbox_seccomp(enum sandbox_profile, char *err, size_t errlen);

/*
 * Caps this process's data memory (RLIMIT_DATA, soft and hard: the heap and
 * every private writable mapping, thread stacks included) at mib MiB, so
 * that input which inflates without end (a PDF compression bomb that qpdf
 * decodes) ends as an allocation failure of its own request, not as the
 * kernel's OOM killer ending the process or another one. Not in a sanitizer
 * build: its shadow memory counts, so nothing could be allocated (1, no cap
 * set). 0 when set, -1 with errno.
 */
int	sandbox_limit_memory(unsigned long mib);

struct config;

/*
 * The sandbox of a supervisor that keeps root (SANDBOX_SUPERVISOR), for
 * <section> and who (for the log): keeps only the capabilities its
 * children need before they demote (setuid, setgid, reading and writing
 * the pki-owned token directory, signalling its demoted children, binding
 * a port below 1024, locking memory), in the bounding set too, then
 * no_new_privs and the seccomp denylist (skipped, with a warning, in a
 * sanitizer build). Not root: only no_new_privs and seccomp. Fails closed
 * unless <section>.insecure_no_sandbox = true. 0, or -1 logged.
 */
int	sandbox_supervisor(const struct config *, const char *section,
	    const char *who);

/*
 * Landlock: from now on this process and the threads and children it
 * starts later may create, write, truncate, rename or remove files only
 * beneath dirs (which must exist; NULL entries are skipped, as in reads),
 * and execute nothing. With reads
 * non-NULL it may also read only beneath dirs, reads (files or
 * directories) and the system's directories (/etc, /usr, /proc, ...:
 * sandbox.c); NULL: reading is not limited. Threads that already run are
 * not covered (the kernel has no way to apply it to them): call it before
 * the first thread, after forking any child that must write elsewhere (a
 * signer and its token directory). Returns the Landlock ABI in force, 0
 * when the kernel has no Landlock (nothing changed), or -1 with err.
 */
int	sandbox_landlock(const char *const *dirs, size_t ndirs,
	    const char *const *reads, size_t nreads, char *err, size_t errlen);

/*
 * sandbox_landlock() for a daemon process (who, for the log), which logs
 * what holds. With reads non-NULL, <section>.read_paths (paths separated by
 * spaces or commas, e.g. a conninfo's sslrootcert) may be read too. Fails
 * closed: a kernel without Landlock is an error unless
 * <section>.insecure_no_sandbox = true, a development flag. 0, or -1 logged.
 */
int	sandbox_limit_files(const struct config *, const char *section,
	    const char *who, const char *const *dirs, size_t ndirs,
	    const char *const *reads, size_t nreads);
/* sandbox_limit_files() with reading not limited. */
int	sandbox_limit_writes(const struct config *, const char *section,
	    const char *who, const char *const *dirs, size_t ndirs);

/*
 * The user a process of section demotes to: <section>.user, by default
 * "pki-<section>" (pki-ra, pki-ocsp, ...) when running as root, NULL (stay
 * who we are) otherwise. Each daemon has a user of its own, so that one
 * daemon taken over reads no other daemon's files and reaches no other
 * database role (PostgreSQL's peer map, deploy/stack.sh). The processes
 * that hold an HSM login (signers, signd's SAMs) are the exception:
 * profile SANDBOX_SIGNER or SANDBOX_SAM demote to hsm.user (default
 * "pki-hsm"), the owner of the token files they read at every signature.
 * Writes the name to buf; returns buf, or NULL.
 */
const char *sandbox_user(const struct config *, const char *section,
	    enum sandbox_profile, char *buf, size_t buflen);

/*
 * Root about to demote to sandbox_user(): HOME becomes that user's home,
 * as su(1) or systemd would make it. libpq looks below HOME for its files
 * at each connection, and a stat() the demoted user may not make (root's
 * /root/.postgresql, 0700) fails the connection: only ENOENT lets it go
 * on. Before the first thread (setenv). Not root: nothing. 0, or -1 logged.
 */
int	sandbox_set_home(const struct config *, const char *section,
	    enum sandbox_profile);

/*
 * A daemon's whole sandbox from its configuration section: demote to
 * sandbox_user(), then the seccomp profile. In a
 * sanitizer build seccomp is skipped (LeakSanitizer ptraces the process at
 * exit) with a warning. A failure is fatal (returns -1, logged) unless
 * <section>.insecure_no_sandbox = true, a development flag, says to go on.
 */
int	sandbox_enter(const struct config *, const char *section,
	    enum sandbox_profile);

#endif
