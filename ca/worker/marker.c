/*
 * cad's in-flight marker (ca/README.md "A worker that ends while issuing"):
 * a small file in cad.state_dir naming the order whose issuing transaction
 * is open, so that an attempt a crash rolled back (SIGSEGV, abort, the OOM
 * killer, SIGKILL: nothing of it committed) is counted at the next start
 * like any other failed attempt, and one order a worker dies on every time
 * cannot stop issuance for ever. It costs no database round trip: one
 * pwrite before the order, one ftruncate after; no fsync (a machine that
 * goes down loses the marker, not an order).
 *
 * The files are slots, cad-inflight.0 … cad-inflight.<CAD_MARKER_SLOTS - 1>,
 * so that several cad processes may share the directory (those of one
 * database: a record names an order by its id alone): each running cad
 * holds one, locked (flock) for as long as it runs. A slot whose lock is
 * free belongs to no running process, so whatever it names, the process
 * that wrote it ended while issuing that order. At start, before the
 * sandbox, cad_marker_open() takes the first free slot as this process's
 * own and the content of every free one (its own included); the caller
 * counts each order named (cad_recover, issue.c), then cad_marker_done()
 * empties the slot (removes another's). Afterwards the own slot is used only through its
 * descriptor (pwrite, ftruncate): cad's Landlock rules let it write no
 * file by name, and its seccomp filter lets it open none.
 *
 * A slot is a regular file of this user (or root), with one link, not
 * writable by group or others, in a directory not writable by others:
 * anything else (a link planted there, say) is left alone with a warning,
 * and content that others could have written is emptied unread. A record
 * that does not parse is ignored with a warning.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ca/worker/extern.h"
#include "lib/log.h"

#define CAD_MARKER_NAME		"cad-inflight"
#define CAD_MARKER_TRIES	3	/* a slot replaced while being opened */

void
cad_marker_init(struct cad_marker *m)
{
	memset(m, 0, sizeof(*m));
	m->dfd = -1;
	m->fd = -1;
	m->slot = -1;
}

int
cad_marker_parse(const char *buf, size_t len, long long *order, char *serial,
    char *worker, size_t wlen)
{
	const char *p = buf, *nl, *s;
	long long n = 0;
	size_t w;
	int digits = 0;

	*order = 0;
	serial[0] = '\0';
	if (wlen > 0)
		worker[0] = '\0';
	if (len == 0)
		return 0;
	/* The first line only: a record written over a longer one ends there. */
	if ((nl = memchr(buf, '\n', len)) == NULL ||
	    memchr(buf, '\0', (size_t)(nl - buf)) != NULL)
		return -1;
	if ((size_t)(nl - p) < 6 || memcmp(p, "order=", 6) != 0)
		return -1;
	for (p += 6; p < nl && *p >= '0' && *p <= '9'; p++, digits++) {
		if (n > (LLONG_MAX - (*p - '0')) / 10)
			return -1;
		n = n * 10 + (*p - '0');
	}
	if (digits == 0 || n <= 0)
		return -1;
	if ((size_t)(nl - p) >= 8 && memcmp(p, " signed=", 8) == 0) {
		for (s = p += 8; p < nl && ((*p >= '0' && *p <= '9') ||
		    (*p >= 'A' && *p <= 'F')); p++)
			if (p - s == CAD_MARKER_SERIAL_MAX)
				return -1;
		if (p == s)
			return -1;
		memcpy(serial, s, (size_t)(p - s));
		serial[p - s] = '\0';
	}
	if ((size_t)(nl - p) < 8 || memcmp(p, " worker=", 8) != 0)
		return -1;
	p += 8;
	w = (size_t)(nl - p);
	if (w == 0 || w >= wlen)
		return -1;
	memcpy(worker, p, w);
	worker[w] = '\0';
	cad_text_clean(worker);
	*order = n;
	return 1;
}

/* Logs once that writing the marker failed, until it works again. */
static void
cad_marker_failed(struct cad_marker *m, const char *call)
{
	if (!m->failing)
		log_err("in-flight marker %s: %s: %s: until it works again, a "
		    "crash while issuing is not counted", m->path, call,
		    strerror(errno));
	m->failing = 1;
}

static void
cad_marker_worked(struct cad_marker *m)
{
	if (m->failing)
		log_info("in-flight marker %s: written again", m->path);
	m->failing = 0;
}

/*
 * Opens and locks the slot named name in m->dfd (made, mode 0600, when
 * create and it does not exist). 1 with *fdp when this process holds it;
 * 0 when it does not exist (create 0) or a running cad holds it; -1 when
 * it is not a slot cad may use (logged; left alone).
 */
static int
cad_marker_slot(struct cad_marker *m, const char *name, int create, int *fdp)
{
	struct stat st, nst;
	int fd = -1, tries, rc = -1;

	*fdp = -1;
	for (tries = 0; tries < CAD_MARKER_TRIES; tries++) {
		fd = openat(m->dfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW |
		    O_NOCTTY);
		if (fd == -1 && errno == ENOENT) {
			if (!create) {
				rc = 0;
				goto out;
			}
			fd = openat(m->dfd, name, O_RDWR | O_CREAT | O_EXCL |
			    O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
			if (fd == -1 && errno == EEXIST)
				continue;
		}
		if (fd == -1) {
			log_warn("in-flight marker %s/%s: %s: left alone", m->dir,
			    name, errno == ELOOP ? "a symbolic link" :
			    strerror(errno));
			goto out;
		}
		if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
			log_warn("in-flight marker %s/%s: not a regular file: "
			    "left alone", m->dir, name);
			goto out;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			if (errno == EWOULDBLOCK)
				rc = 0;
			else
				log_warn("in-flight marker %s/%s: flock: %s: left "
				    "alone", m->dir, name, strerror(errno));
			goto out;
		}
		/* Still the file of that name (a process that ended removed it)? */
		if (fstatat(m->dfd, name, &nst, AT_SYMLINK_NOFOLLOW) == 0 &&
		    nst.st_dev == st.st_dev && nst.st_ino == st.st_ino)
			break;
		close(fd);
		fd = -1;
	}
	if (fd == -1) {
		log_warn("in-flight marker %s/%s: replaced while being opened: "
		    "left alone", m->dir, name);
		goto out;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		log_warn("in-flight marker %s/%s: owned by uid %ld, neither "
		    "this user nor root: left alone", m->dir, name,
		    (long)st.st_uid);
		goto out;
	}
	if (st.st_nlink != 1) {
		log_warn("in-flight marker %s/%s: %ld links to it, not one: "
		    "left alone", m->dir, name, (long)st.st_nlink);
		goto out;
	}
	/* What others could write is not believed: emptied unread. */
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		if (fchmod(fd, 0600) == -1 || ftruncate(fd, 0) == -1) {
			log_warn("in-flight marker %s/%s: writable by group or "
			    "others, and cannot be made 0600 and emptied: %s: "
			    "left alone", m->dir, name, strerror(errno));
			goto out;
		}
		log_warn("in-flight marker %s/%s: was writable by group or "
		    "others: emptied unread, now 0600", m->dir, name);
	}
	*fdp = fd;
	fd = -1;
	rc = 1;
out:
	if (fd != -1)
		close(fd);
	return rc;
}

/*
 * A slot this process holds: its record into m->found when it names an
 * order, else nothing (empty or garbage, which is emptied now; a slot not
 * its own is then removed). own: the slot is m->fd.
 */
static void
cad_marker_take(struct cad_marker *m, int slot, const char *name, int fd,
    int own)
{
	struct cad_marker_found *f;
	struct stat st;
	char buf[CAD_MARKER_MAX + 1], shown[64];
	ssize_t n = 0;
	long long order;
	int r = -1;

	memset(&st, 0, sizeof(st));
	if (fstat(fd, &st) == 0 && st.st_size <= CAD_MARKER_MAX &&
	    (n = pread(fd, buf, CAD_MARKER_MAX, 0)) >= 0) {
		buf[n] = '\0';
		f = &m->found[m->nfound];
		if ((r = cad_marker_parse(buf, (size_t)n, &order, f->serial,
		    f->worker, sizeof(f->worker))) == 1) {
			f->fd = fd;
			f->slot = slot;
			f->order = order;
			m->nfound++;
			return;
		}
	}
	if (r == -1) {
		/* At most a bounded, printable piece of it in the log. */
		snprintf(shown, sizeof(shown), "%.*s", n > 0 ? (int)n : 0, buf);
		shown[strcspn(shown, "\n")] = '\0';
		cad_text_clean(shown);
		log_warn("in-flight marker %s/%s: not a record (%lld bytes%s"
		    "%s): ignored", m->dir, name, (long long)st.st_size,
		    shown[0] != '\0' ? ": " : "", shown);
	}
	if (own) {
		if (r == -1 && ftruncate(fd, 0) == -1)
			log_warn("in-flight marker %s/%s: ftruncate: %s", m->dir,
			    name, strerror(errno));
		return;
	}
	/* Holding its lock: no running process uses it. */
	if (unlinkat(m->dfd, name, 0) == -1)
		log_warn("in-flight marker %s/%s: unlink: %s", m->dir, name,
		    strerror(errno));
	close(fd);
}

int
cad_marker_open(struct cad_marker *m, const char *dir, const char *actor,
    char *err, size_t errlen)
{
	struct stat st;
	char name[32], who[128];
	int slot, fd;

	if ((size_t)snprintf(m->dir, sizeof(m->dir), "%s", dir) >=
	    sizeof(m->dir)) {
		snprintf(err, errlen, "cad.state_dir: name too long");
		return -1;
	}
	if ((m->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "cad.state_dir %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if (fstat(m->dfd, &st) == -1) {
		snprintf(err, errlen, "cad.state_dir %s: fstat: %s", dir,
		    strerror(errno));
		return -1;
	}
	if ((st.st_mode & S_IWOTH) != 0) {
		snprintf(err, errlen, "cad.state_dir %s: writable by others "
		    "(mode %04o): anyone could name orders there", dir,
		    (unsigned int)(st.st_mode & 07777));
		return -1;
	}
	snprintf(who, sizeof(who), "%s", actor);
	cad_text_clean(who);
	snprintf(m->tail, sizeof(m->tail), " worker=%s\n", who);
	for (slot = 0; slot < CAD_MARKER_SLOTS; slot++) {
		snprintf(name, sizeof(name), CAD_MARKER_NAME ".%d", slot);
		if (cad_marker_slot(m, name, m->fd == -1, &fd) != 1)
			continue;
		if (m->fd == -1) {
			m->fd = fd;
			m->slot = slot;
			snprintf(m->path, sizeof(m->path), "%s/%s", dir, name);
		}
		cad_marker_take(m, slot, name, fd, fd == m->fd);
	}
	if (m->fd == -1) {
		snprintf(err, errlen, "cad.state_dir %s: no in-flight marker "
		    "slot free (%d cad processes running with it?)", dir,
		    CAD_MARKER_SLOTS);
		return -1;
	}
	log_info("in-flight marker %s; %d order(s) in hand when their "
	    "process ended", m->path, m->nfound);
	return 0;
}

void
cad_marker_done(struct cad_marker *m, int i)
{
	struct cad_marker_found *f = &m->found[i];
	char name[32];

	if (f->fd == -1)
		return;
	if (f->fd == m->fd) {
		if (ftruncate(f->fd, 0) == -1)
			log_warn("in-flight marker %s: ftruncate: %s", m->path,
			    strerror(errno));
	} else {
		/* Another slot: removed under its lock, as an empty one is. */
		snprintf(name, sizeof(name), CAD_MARKER_NAME ".%d", f->slot);
		if (unlinkat(m->dfd, name, 0) == -1 && ftruncate(f->fd, 0) == -1)
			log_warn("in-flight marker %s/%s: %s", m->dir, name,
			    strerror(errno));
		close(f->fd);
	}
	f->fd = -1;
}

void
cad_marker_release(struct cad_marker *m)
{
	int i;

	for (i = 0; i < m->nfound; i++)
		if (m->found[i].fd != -1 && m->found[i].fd != m->fd)
			close(m->found[i].fd);
	m->nfound = 0;
	if (m->dfd != -1)
		close(m->dfd);
	m->dfd = -1;
}

/* The record naming order_id, and serial when not NULL. */
static void
cad_marker_write(struct cad_marker *m, const char *order_id,
    const char *serial)
{
	char rec[CAD_MARKER_MAX];
	int n;

	if (m->fd == -1)
		return;
	/* Set even when the write fails: the clear then tries all the same. */
	m->set = 1;
	/* Only ever longer than the record it overwrites: no truncation. */
	n = snprintf(rec, sizeof(rec), "order=%s%s%s%s", order_id,
	    serial != NULL ? " signed=" : "", serial != NULL ? serial : "",
	    m->tail);
	if (n < 0 || (size_t)n >= sizeof(rec)) {
		errno = ENAMETOOLONG;
		cad_marker_failed(m, "record");
		return;
	}
	errno = 0;
	if (pwrite(m->fd, rec, (size_t)n, 0) != n) {
		if (errno == 0)
			errno = ENOSPC;	/* a short write */
		cad_marker_failed(m, "pwrite");
		return;
	}
	cad_marker_worked(m);
}

void
cad_marker_set(struct cad_marker *m, const char *order_id)
{
	cad_marker_write(m, order_id, NULL);
}

void
cad_marker_signed(struct cad_marker *m, const char *order_id,
    const char *serial)
{
	cad_marker_write(m, order_id, serial);
}

void
cad_marker_clear(struct cad_marker *m)
{
	if (m->fd == -1 || !m->set)
		return;
	m->set = 0;
	if (ftruncate(m->fd, 0) == -1) {
		cad_marker_failed(m, "ftruncate");
		return;
	}
	cad_marker_worked(m);
}

void
cad_marker_close(struct cad_marker *m)
{
	cad_marker_release(m);
	if (m->fd != -1)
		close(m->fd);
	m->fd = -1;
}
