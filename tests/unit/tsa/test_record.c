/*
 * tsa/record.c's spill files, with the database replaced by a fake writer
 * (tsa_recorder_test_writer) that commits or fails batches on demand and
 * counts how often it received each serial:
 *  - records reloaded from the spill file while the database is still down
 *    are not appended again at shutdown, and records never loaded are not
 *    erased when the queue drains (the file held 160k lines for 100k
 *    records, and the truncation lost 40k); a file larger than the queue
 *    leaves room for new tokens;
 *  - after some of the reloaded records are committed, a shutdown keeps
 *    exactly the others and the new ones;
 *  - worker 0 takes over the files another tsa.workers left (tsa.spill,
 *    tsa.spill.N for N >= workers), worker 1 only its own, while both
 *    start together; empty ones are removed, other names in the directory
 *    left alone;
 *  - a file another process holds is neither taken nor written;
 *  - the header's offset (and a torn one), files from before headers,
 *    malformed lines, a torn line holding NUL bytes (the next line is read
 *    whole) and a last line without its newline;
 *  - a shutdown writes the new records to the file before it tries the
 *    database again; a database that never answers (a COMMIT waiting for
 *    a synchronous standby) does not hold tsa_recorder_stop past
 *    flush_timeout + TSA_STOP_GRACE_S (it says it left its thread behind,
 *    so that tsad ends with _exit; no other stop does), and when that
 *    batch commits later, the header does not move past records of the
 *    file never sent;
 *  - while running, the keeper writes the queued records to the file when
 *    the database refuses them or a write stalls (a crash then loses
 *    none), extends that region as more come, and the loader stops where
 *    it begins; each record is committed once when the database returns;
 *  - tsa_recorder_stats says how long a batch has been with the database
 *    (what /health turns degraded on), and the queue against its size;
 *  - each record's certificate id (schema/064) goes through the spill file
 *    (appended at a stop, rewritten at a take-over) to the writer
 *    unchanged; a line of before it (7 fields) is read with none, and so
 *    is the id of a last line without its newline (a cut may have shortened
 *    it); a malformed id drops its line.
 * Each record reaches the writer exactly once, across restarts (but for
 * records the database took after the shutdown left it behind: those may
 * be replayed, which the database then skips).
 *
 * Against PostgreSQL itself (PKI_TEST_PG_URI, as the superuser; tsad's
 * role and its grants are test_tsa's): a record already in tsa_token, every
 * field the same, is skipped and counted as replayed, not inserted; another
 * token with a serial already there (in an earlier batch or the same one)
 * goes to tsa_token_conflict, once however often it is replayed; the audit
 * events count the rows really inserted. Each row has the certificate id
 * of its record (NULL for none); a record without one replays a row with
 * one and the other way round; a record of another certificate is another
 * token, kept in tsa_token_conflict with its id; the audit events list the
 * batch's certificates and those of its conflicts.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "tsa/extern.h"

#define HDR_MAGIC	"#tsa-spill done="
#define HDR_LEN		37		/* magic, 20 digits, newline */
#define MAX_SEEN	256

/* The fake database: what it committed, and whether it answers at all. */
struct fakedb {
	pthread_mutex_t	 m;
	pthread_cond_t	 c;
	int		 up;		/* commit batches */
	int		 batches_left;	/* then go down; -1: stay up */
	int		 failures;	/* batches refused */
	int		 gate;		/* calls wait for a permit (a stall) */
	int		 permits;
	int		 blocked;	/* calls waiting now */
	int		 returned;	/* calls answered */
	char		 seen[MAX_SEEN][48];
	int		 times[MAX_SEEN];
	long long	 cert[MAX_SEEN];	/* the certificate id last seen */
	size_t		 nseen;
};

static struct fakedb db;
static char topdir[512];
static unsigned int run_id;

static int
fake_write(void *arg, const struct tsa_record *b, size_t n)
{
	struct fakedb *f = arg;
	size_t i, j;
	int rc = -1;

	pthread_mutex_lock(&f->m);
	if (f->gate) {
		f->blocked++;
		pthread_cond_broadcast(&f->c);
		while (f->gate && f->permits == 0)
			pthread_cond_wait(&f->c, &f->m);
		if (f->permits > 0)
			f->permits--;
		f->blocked--;
	}
	if (f->up && f->batches_left == 0)
		f->up = 0;
	if (!f->up) {
		f->failures++;
		goto out;
	}
	if (f->batches_left > 0)
		f->batches_left--;
	for (i = 0; i < n; i++) {
		for (j = 0; j < f->nseen && strcmp(f->seen[j], b[i].serial) != 0; j++)
			;
		if (j == f->nseen && f->nseen < MAX_SEEN)
			snprintf(f->seen[f->nseen++], sizeof(f->seen[0]), "%s",
			    b[i].serial);
		if (j < MAX_SEEN) {
			f->times[j]++;
			f->cert[j] = b[i].cert_id;
		}
	}
	rc = 0;
out:
	f->returned++;
	pthread_cond_broadcast(&f->c);
	pthread_mutex_unlock(&f->m);
	return rc;
}

/* The writer stalls: each call waits for gate_pass() (or gate_open()). */
static void
gate_close(void)
{
	pthread_mutex_lock(&db.m);
	db.gate = 1;
	db.permits = 0;
	pthread_mutex_unlock(&db.m);
}

static void
gate_pass(int n)
{
	pthread_mutex_lock(&db.m);
	db.permits += n;
	pthread_cond_broadcast(&db.c);
	pthread_mutex_unlock(&db.m);
}

static void
gate_open(void)
{
	pthread_mutex_lock(&db.m);
	db.gate = 0;
	pthread_cond_broadcast(&db.c);
	pthread_mutex_unlock(&db.m);
}

/* Waits up to 20 s until a call is stalled and returned calls reach want. */
static void
wait_stalled(int returned)
{
	struct timespec ts;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 20;
	pthread_mutex_lock(&db.m);
	while (rc == 0 && (db.blocked == 0 || db.returned < returned))
		rc = pthread_cond_timedwait(&db.c, &db.m, &ts);
	pthread_mutex_unlock(&db.m);
	if (rc != 0)
		fail_msg("no stalled database call after %d answered", returned);
}

/* The certificate id serial was committed with; -1 when never. */
static long long
db_cert(const char *serial)
{
	size_t j;
	long long id = -1;

	pthread_mutex_lock(&db.m);
	for (j = 0; j < db.nseen; j++)
		if (strcmp(db.seen[j], serial) == 0)
			id = db.cert[j];
	pthread_mutex_unlock(&db.m);
	return id;
}

/* How often serial was committed. */
static int
db_times(const char *serial)
{
	size_t j;
	int n = 0;

	pthread_mutex_lock(&db.m);
	for (j = 0; j < db.nseen; j++)
		if (strcmp(db.seen[j], serial) == 0)
			n = db.times[j];
	pthread_mutex_unlock(&db.m);
	return n;
}

static size_t
returned_as_size(void)
{
	size_t n;

	pthread_mutex_lock(&db.m);
	n = (size_t)db.returned;
	pthread_mutex_unlock(&db.m);
	return n;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
db_set(int up, int batches)
{
	pthread_mutex_lock(&db.m);
	db.up = up;
	db.batches_left = batches;
	db.failures = 0;
	pthread_mutex_unlock(&db.m);
}

static size_t
db_count(void)
{
	size_t n;

	pthread_mutex_lock(&db.m);
	n = db.nseen;
	pthread_mutex_unlock(&db.m);
	return n;
}

static int
db_failures(void)
{
	int n;

	pthread_mutex_lock(&db.m);
	n = db.failures;
	pthread_mutex_unlock(&db.m);
	return n;
}

/* Each of the n serials committed exactly once, and nothing else. */
static void
db_expect(char serials[][48], size_t n)
{
	size_t i, j;

	pthread_mutex_lock(&db.m);
	assert_int_equal(db.nseen, n);
	for (i = 0; i < n; i++) {
		for (j = 0; j < db.nseen && strcmp(db.seen[j], serials[i]) != 0; j++)
			;
		if (j == db.nseen)
			fail_msg("serial %s never committed", serials[i]);
		if (db.times[j] != 1)
			fail_msg("serial %s committed %d times", serials[i],
			    db.times[j]);
	}
	pthread_mutex_unlock(&db.m);
}

static void
db_reset(void)
{
	pthread_mutex_lock(&db.m);
	db.nseen = 0;
	memset(db.times, 0, sizeof(db.times));
	memset(db.cert, 0, sizeof(db.cert));
	db.up = 0;
	db.batches_left = -1;
	db.failures = 0;
	db.gate = 0;
	db.permits = 0;
	db.returned = 0;
	pthread_mutex_unlock(&db.m);
}

/* Waits up to 20 s for what() to reach want. */
static void
wait_for(size_t (*what)(void), size_t want, const char *desc)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int i;

	for (i = 0; i < 1000 && what() < want; i++)
		nanosleep(&ts, NULL);
	if (what() < want)
		fail_msg("%s: %zu, want %zu", desc, what(), want);
}

static size_t
failures_as_size(void)
{
	return (size_t)db_failures();
}

/* The certificate id make_rec gives record i. */
#define CERT_OF(i)	(1000LL + (i) % 3)

/* Record i of a set, with a serial unique to this run and set. */
static void
make_rec(struct tsa_record *t, char set, int i)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->serial, sizeof(t->serial), "%08x%c%07x", run_id,
	    set == 'N' ? 'f' : set - 'A' + 'a', (unsigned int)i);
	snprintf(t->gen_time, sizeof(t->gen_time), "2026-12-05T10:00:%02d.123Z",
	    i % 60);
	snprintf(t->policy, sizeof(t->policy), "2.999.1.2.1");
	snprintf(t->imprint_alg, sizeof(t->imprint_alg), "2.16.840.1.101.3.4.2.1");
	memset(t->imprint, 'a', 64);
	if (i % 2)
		snprintf(t->nonce, sizeof(t->nonce), "-%04x", (unsigned int)i);
	t->cert_req = i % 3 == 0;
	t->cert_id = CERT_OF(i);
}

/* A spill line as tsad wrote it before schema/064: no certificate id. */
static void
line_of(const struct tsa_record *t, FILE *f)
{
	fprintf(f, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", t->serial, t->gen_time,
	    t->policy, t->imprint_alg, t->imprint, t->nonce[0] ? t->nonce : "-",
	    t->cert_req);
}

/* A spill file as tsad wrote it before headers: records of set, from..to-1. */
static void
write_legacy(const char *path, char set, int from, int to, char out[][48],
    size_t *nout)
{
	struct tsa_record t;
	FILE *f;
	int i;

	assert_non_null(f = fopen(path, "a"));
	for (i = from; i < to; i++) {
		make_rec(&t, set, i);
		line_of(&t, f);
		if (out != NULL)
			snprintf(out[(*nout)++], 48, "%s", t.serial);
	}
	assert_int_equal(fclose(f), 0);
}

static void
join(char *buf, size_t len, const char *dir, const char *name)
{
	assert_true((size_t)snprintf(buf, len, "%s/%s", dir, name) < len);
}

static void
new_dir(char *buf, size_t len, const char *name)
{
	join(buf, len, topdir, name);
	assert_int_equal(mkdir(buf, 0700), 0);
}

/*
 * The serials a spill file still holds for the database (from its header's
 * offset on), into out; also how many record lines the file has in all.
 * Fails on a serial listed twice.
 */
static size_t
read_spill(const char *path, char out[][48], size_t max, size_t *all)
{
	char line[1024], *tab;
	size_t n = 0, i;
	long done = 0, pos;
	FILE *f;

	*all = 0;
	if ((f = fopen(path, "r")) == NULL) {
		assert_int_equal(errno, ENOENT);
		return 0;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		pos = ftell(f) - (long)strlen(line);
		if (pos == 0 && strncmp(line, HDR_MAGIC, strlen(HDR_MAGIC)) == 0) {
			assert_int_equal(strlen(line), HDR_LEN);
			done = strtol(line + strlen(HDR_MAGIC), NULL, 10);
			continue;
		}
		(*all)++;
		if (pos < done)
			continue;
		assert_non_null(tab = strchr(line, '\t'));
		*tab = '\0';
		for (i = 0; i < n; i++)
			if (strcmp(out[i], line) == 0)
				fail_msg("%s: serial %s twice", path, line);
		assert_true(n < max && strlen(line) < sizeof(out[0]));
		memcpy(out[n++], line, strlen(line) + 1);
	}
	fclose(f);
	return n;
}

/* The file's records still to write are exactly want (in any order). */
static void
spill_expect(const char *path, char want[][48], size_t nwant, size_t all)
{
	char got[MAX_SEEN][48];
	size_t n, nall, i, j;

	n = read_spill(path, got, MAX_SEEN, &nall);
	if (n != nwant)
		fail_msg("%s: %zu records to write, want %zu", path, n, nwant);
	for (i = 0; i < nwant; i++) {
		for (j = 0; j < n && strcmp(got[j], want[i]) != 0; j++)
			;
		if (j == n)
			fail_msg("%s: serial %s missing", path, want[i]);
	}
	if (all != (size_t)-1 && nall != all)
		fail_msg("%s: %zu record lines in all, want %zu", path, nall, all);
}

static off_t
size_of(const char *path)
{
	struct stat st;

	if (stat(path, &st) == -1)
		return -1;
	return st.st_size;
}

static const char *size_path;

static size_t
file_empty(void)
{
	return size_of(size_path) == 0;
}

static struct tsa_recorder *
start(const char *base, int worker, int workers, size_t cap)
{
	struct tsa_recorder *r;
	char err[512];

	if ((r = tsa_recorder_start("", "unit", base, worker, workers, cap, 0,
	    err, sizeof(err))) == NULL)
		fail_msg("tsa_recorder_start: %s", err);
	return r;
}

/* tsa_recorder_stop, which must not leave its thread behind. */
static int
stop(struct tsa_recorder *r, unsigned int flush_timeout)
{
	int abandoned = -1, rc;

	rc = tsa_recorder_stop(r, flush_timeout, &abandoned);
	assert_int_equal(abandoned, 0);
	return rc;
}

/*
 * The database back: a recorder on base commits the n records of all,
 * each once, each with its certificate in want (0: none).
 */
static void
commit_expect_certs(const char *base, char all[][48], const long long *want,
    size_t n)
{
	struct tsa_recorder *r;
	size_t i;

	db_set(1, -1);
	r = start(base, 0, 1, 100);
	wait_for(db_count, n, "records committed");
	assert_int_equal(stop(r, 0), 0);
	db_expect(all, n);
	for (i = 0; i < n; i++)
		if (db_cert(all[i]) != want[i])
			fail_msg("serial %s committed with certificate %lld, "
			    "want %lld", all[i], db_cert(all[i]), want[i]);
}

/* Adds records of set from..to-1, each accepted; their serials to out. */
static void
add(struct tsa_recorder *r, char set, int from, int to, char out[][48],
    size_t *nout)
{
	struct tsa_record t;
	int i;

	for (i = from; i < to; i++) {
		make_rec(&t, set, i);
		if (tsa_recorder_add(r, &t) != 0)
			fail_msg("record %c%d refused", set, i);
		snprintf(out[(*nout)++], 48, "%s", t.serial);
	}
}

/*
 * The review's case, scaled down 1000 times: 60 records spilled; a restart
 * with the database still down loads them, takes 40 new tokens and stops
 * (the file held 160 lines); again with 40 more; then the database
 * returns (the records never loaded were erased with the file).
 */
static void
test_reload_while_down(void **state)
{
	char dir[600], base[700], all[160][48];
	struct tsa_recorder *r;
	size_t n = 0;

	db_reset();
	new_dir(dir, sizeof(dir), "reload");
	join(base, sizeof(base), dir, "tsa.spill");
	write_legacy(base, 'A', 0, 60, all, &n);

	r = start(base, 0, 1, 100);
	add(r, 'N', 0, 40, all, &n);
	assert_int_equal(stop(r, 0), 0);
	/* 100 records, none twice: those reloaded were not appended again. */
	spill_expect(base, all, n, n);

	r = start(base, 0, 1, 100);
	add(r, 'N', 40, 80, all, &n);
	assert_int_equal(stop(r, 0), 0);
	spill_expect(base, all, n, n);
	assert_int_equal(db_count(), 0);

	/* The database is back: each record once, then the file is empty. */
	db_set(1, -1);
	r = start(base, 0, 1, 100);
	wait_for(db_count, n, "records committed");
	size_path = base;
	wait_for(file_empty, 1, "spill file emptied");
	assert_int_equal(stop(r, 0), 0);
	db_expect(all, n);
	assert_int_equal(size_of(base), 0);
}

/*
 * More spilled records than the queue holds (8): half the free queue is
 * loaded, the other half still takes tokens; the rest of the file follows
 * chunk by chunk once the database is back.
 */
static void
test_spill_larger_than_queue(void **state)
{
	char dir[600], base[700], all[64][48];
	struct tsa_record t;
	struct tsa_recorder *r;
	size_t n = 0;

	db_reset();
	new_dir(dir, sizeof(dir), "larger");
	join(base, sizeof(base), dir, "tsa.spill");
	write_legacy(base, 'A', 0, 12, all, &n);

	r = start(base, 0, 1, 8);
	add(r, 'N', 0, 4, all, &n);
	make_rec(&t, 'N', 99);
	assert_int_equal(tsa_recorder_add(r, &t), -1);	/* full */
	assert_int_equal(stop(r, 0), 0);
	spill_expect(base, all, n, n);

	r = start(base, 0, 1, 8);
	add(r, 'N', 4, 8, all, &n);
	assert_int_equal(stop(r, 0), 0);
	spill_expect(base, all, n, n);
	assert_int_equal(db_count(), 0);

	db_set(1, -1);
	r = start(base, 0, 1, 8);
	wait_for(db_count, n, "records committed");
	size_path = base;
	wait_for(file_empty, 1, "spill file emptied");
	assert_int_equal(stop(r, 0), 0);
	db_expect(all, n);
}

/*
 * One chunk of reloaded records is committed, then the database goes:
 * the header moves past them, and a shutdown keeps exactly the rest.
 */
static void
test_partial_commit(void **state)
{
	char dir[600], base[700], all[64][48], rest[64][48];
	struct tsa_recorder *r;
	size_t n = 0, nrest = 0, i;

	db_reset();
	new_dir(dir, sizeof(dir), "partial");
	join(base, sizeof(base), dir, "tsa.spill");
	write_legacy(base, 'A', 0, 10, all, &n);

	db_set(1, 1);			/* one batch, then down */
	r = start(base, 0, 1, 8);	/* chunks of 4 */
	wait_for(failures_as_size, 1, "a batch refused");
	add(r, 'N', 0, 2, all, &n);
	assert_int_equal(stop(r, 0), 0);
	assert_int_equal(db_count(), 4);
	for (i = 4; i < n; i++)
		memcpy(rest[nrest++], all[i], 48);
	/* The 4 committed are before the header's offset (not rewritten yet). */
	spill_expect(base, rest, nrest, n);

	db_set(1, -1);
	r = start(base, 0, 1, 8);
	wait_for(db_count, n, "records committed");
	assert_int_equal(stop(r, 0), 0);
	db_expect(all, n);
}

/*
 * tsa.workers changed from 1, then 4, to 2: worker 0 takes over tsa.spill
 * and tsa.spill.3, worker 1 keeps tsa.spill.1, both started together; then
 * back to 1 worker, which takes over both.
 */
static void
test_workers_changed(void **state)
{
	char dir[600], base[700], p[800], all[64][48], w0[64][48], w1[64][48];
	char other[8][48];
	struct tsa_recorder *r0, *r1;
	size_t n = 0, n0 = 0, n1 = 0, nother = 0, i, nall;
	struct dirent *de;
	DIR *d;

	db_reset();
	new_dir(dir, sizeof(dir), "workers");
	join(base, sizeof(base), dir, "tsa.spill");
	write_legacy(base, 'A', 0, 3, w0, &n0);
	join(p, sizeof(p), dir, "tsa.spill.3");
	write_legacy(p, 'C', 0, 3, w0, &n0);
	join(p, sizeof(p), dir, "tsa.spill.1");
	write_legacy(p, 'B', 0, 3, w1, &n1);
	/* Not of the family: left alone. */
	join(p, sizeof(p), dir, "tsa.spill.old");
	write_legacy(p, 'D', 0, 1, other, &nother);
	join(p, sizeof(p), dir, "tsa.spillx");
	write_legacy(p, 'D', 1, 2, other, &nother);
	join(p, sizeof(p), dir, "tsa.spill.1.bak");
	write_legacy(p, 'D', 2, 3, other, &nother);
	/* Empty: nothing to take over, removed (it was never removed before). */
	join(p, sizeof(p), dir, "tsa.spill.5");
	write_legacy(p, 'D', 0, 0, NULL, NULL);

	r1 = start(base, 1, 2, 100);
	r0 = start(base, 0, 2, 100);
	add(r0, 'N', 0, 1, w0, &n0);
	add(r1, 'N', 1, 2, w1, &n1);
	assert_int_equal(stop(r0, 0), 0);
	assert_int_equal(stop(r1, 0), 0);
	join(p, sizeof(p), dir, "tsa.spill.0");
	spill_expect(p, w0, n0, n0);
	join(p, sizeof(p), dir, "tsa.spill.1");
	spill_expect(p, w1, n1, n1);
	assert_int_equal(size_of(base), -1);
	join(p, sizeof(p), dir, "tsa.spill.3");
	assert_int_equal(size_of(p), -1);
	join(p, sizeof(p), dir, "tsa.spill.5");
	assert_int_equal(size_of(p), -1);

	/*
	 * A worker that got no token (SO_REUSEPORT may send them all to
	 * another): its file stays empty, and the one worker removes it.
	 */
	r1 = start(base, 2, 3, 100);
	assert_int_equal(stop(r1, 0), 0);
	join(p, sizeof(p), dir, "tsa.spill.2");
	assert_int_equal(size_of(p), 0);

	db_set(1, -1);
	r0 = start(base, 0, 1, 100);
	for (i = 0; i < n0; i++)
		memcpy(all[n++], w0[i], 48);
	for (i = 0; i < n1; i++)
		memcpy(all[n++], w1[i], 48);
	wait_for(db_count, n, "records committed");
	size_path = base;
	wait_for(file_empty, 1, "spill file emptied");
	assert_int_equal(stop(r0, 0), 0);
	db_expect(all, n);
	/* Left: the empty tsa.spill, and three not ours. */
	assert_non_null(d = opendir(dir));
	nall = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		nall++;
		if (strcmp(de->d_name, "tsa.spill") != 0 &&
		    strcmp(de->d_name, "tsa.spill.old") != 0 &&
		    strcmp(de->d_name, "tsa.spillx") != 0 &&
		    strcmp(de->d_name, "tsa.spill.1.bak") != 0)
			fail_msg("%s left in the spill directory", de->d_name);
	}
	closedir(d);
	assert_int_equal(nall, 4);
	join(p, sizeof(p), dir, "tsa.spill.old");
	spill_expect(p, other, 1, 1);
}

/* A file another process (here: recorder) holds is not touched. */
static void
test_locked(void **state)
{
	char dir[600], base[700], p[800], all[16][48], none[1][48], err[512];
	struct tsa_recorder *r, *r2;
	size_t n = 0;

	db_reset();
	new_dir(dir, sizeof(dir), "locked");
	join(base, sizeof(base), dir, "tsa.spill");
	write_legacy(base, 'A', 0, 3, all, &n);
	r = start(base, 0, 1, 100);
	/* Its own file: refused. */
	assert_null(tsa_recorder_start("", "unit", base, 0, 1, 100, 0, err,
	    sizeof(err)));
	assert_non_null(strstr(err, "in use by another process"));
	/* Another's, as an orphan: left for a later start. */
	r2 = start(base, 0, 2, 100);
	assert_int_equal(stop(r2, 0), 0);
	join(p, sizeof(p), dir, "tsa.spill.0");
	spill_expect(p, none, 0, 0);
	assert_int_equal(stop(r, 0), 0);
	spill_expect(base, all, n, n);
}

/*
 * The header: records before its offset are not replayed; one that does
 * not point past a line (a torn write) replays them all. Malformed lines
 * are dropped; a last line without its newline is read when whole.
 */
static void
test_header_and_lines(void **state)
{
	char dir[600], base[700], all[16][48], later[16][48];
	struct tsa_record t;
	struct tsa_recorder *r;
	size_t n = 0, nlater = 0, i;
	long off;
	FILE *f;

	db_reset();
	new_dir(dir, sizeof(dir), "header");
	join(base, sizeof(base), dir, "tsa.spill");
	/* Header, 2 records already in the database, 2 still to write. */
	assert_non_null(f = fopen(base, "w"));
	fprintf(f, "%s%020d\n", HDR_MAGIC, 0);
	for (i = 0; i < 2; i++) {
		make_rec(&t, 'A', (int)i);
		line_of(&t, f);
	}
	off = ftell(f);
	for (i = 2; i < 4; i++) {
		make_rec(&t, 'A', (int)i);
		line_of(&t, f);
		snprintf(later[nlater++], 48, "%s", t.serial);
	}
	fprintf(f, "not\ta record\n");
	make_rec(&t, 'A', 4);
	fprintf(f, "%s\t%s\t%s\t%s\t%s\t-\t0", t.serial, t.gen_time, t.policy,
	    t.imprint_alg, t.imprint);
	snprintf(later[nlater++], 48, "%s", t.serial);
	fseek(f, 0, SEEK_SET);
	fprintf(f, "%s%020ld\n", HDR_MAGIC, off);
	assert_int_equal(fclose(f), 0);

	db_set(1, -1);
	r = start(base, 0, 1, 100);
	wait_for(db_count, nlater, "records committed");
	assert_int_equal(stop(r, 0), 0);
	db_expect(later, nlater);

	/* Torn: an offset inside a line replays from the first record. */
	db_reset();
	n = 0;
	assert_non_null(f = fopen(base, "w"));
	fprintf(f, "%s%020d\n", HDR_MAGIC, HDR_LEN + 5);
	assert_int_equal(fclose(f), 0);
	write_legacy(base, 'B', 0, 3, all, &n);
	db_set(1, -1);
	r = start(base, 0, 1, 100);
	wait_for(db_count, n, "records committed");
	assert_int_equal(stop(r, 0), 0);
	db_expect(all, n);
}

/*
 * A torn line holding NUL bytes (blocks of zeros a crash left) ends at its
 * own newline: it is dropped and the record after it is read (strlen saw
 * no newline and took that record as the rest of the torn line). A last
 * line of zeros without a newline is dropped too.
 */
static void
test_torn_line_with_nul(void **state)
{
	static const char torn[] = "0123abcd\t2026-12-05T10:\0\0\0\0\0\0\0\n";
	char dir[600], base[700], want[4][48];
	struct tsa_record t;
	struct tsa_recorder *r;
	size_t n = 0;
	FILE *f;

	db_reset();
	new_dir(dir, sizeof(dir), "nul");
	join(base, sizeof(base), dir, "tsa.spill");
	assert_non_null(f = fopen(base, "w"));
	fprintf(f, "%s%020d\n", HDR_MAGIC, HDR_LEN);
	make_rec(&t, 'A', 0);
	line_of(&t, f);
	snprintf(want[n++], 48, "%s", t.serial);
	assert_int_equal(fwrite(torn, 1, sizeof(torn) - 1, f), sizeof(torn) - 1);
	make_rec(&t, 'A', 1);
	line_of(&t, f);
	snprintf(want[n++], 48, "%s", t.serial);
	assert_int_equal(fwrite("\0\0\0\0", 1, 4, f), 4);
	assert_int_equal(fclose(f), 0);

	/* Taken over while the database is down: both kept, nothing else. */
	r = start(base, 0, 1, 100);
	assert_int_equal(stop(r, 0), 0);
	spill_expect(base, want, n, n);

	db_set(1, -1);
	r = start(base, 0, 1, 100);
	wait_for(db_count, n, "records committed");
	assert_int_equal(stop(r, 0), 0);
	db_expect(want, n);
}

struct stopper {
	struct tsa_recorder	*r;
	unsigned int		 timeout;
	int			 rc;
	int			 abandoned;
};

static void *
stop_thread(void *arg)
{
	struct stopper *s = arg;

	s->rc = tsa_recorder_stop(s->r, s->timeout, &s->abandoned);
	return NULL;
}

static const char *pending_path;

/* Records of pending_path still to write (from its header's offset on). */
static size_t
spill_pending(void)
{
	char got[MAX_SEEN][48];
	size_t all;

	return read_spill(pending_path, got, MAX_SEEN, &all);
}

/*
 * The keeper: while the database refuses, the new records reach the file
 * (fdatasynced) with the recorder still running — a crash then loses
 * none — and more of them extend it; once the database is back each is
 * committed once and the file emptied; a second outage starts a new
 * region, which a shutdown does not write again.
 */
static void
test_keeper_while_down(void **state)
{
	char dir[600], base[700], all[64][48], later[8][48];
	struct tsa_recorder *r;
	size_t n = 0, nlater = 0;

	db_reset();
	new_dir(dir, sizeof(dir), "keeper");
	join(base, sizeof(base), dir, "tsa.spill");
	pending_path = base;
	size_path = base;

	r = start(base, 0, 1, 100);
	add(r, 'N', 0, 20, all, &n);
	wait_for(spill_pending, 20, "records kept while the database is down");
	spill_expect(base, all, n, n);
	add(r, 'N', 20, 30, all, &n);
	wait_for(spill_pending, 30, "more records kept");
	spill_expect(base, all, n, n);
	assert_int_equal(db_count(), 0);

	db_set(1, -1);
	wait_for(db_count, n, "records committed");
	wait_for(file_empty, 1, "spill file emptied");
	db_expect(all, n);

	db_set(0, -1);
	add(r, 'B', 0, 5, later, &nlater);
	wait_for(spill_pending, 5, "records kept in a second outage");
	assert_int_equal(stop(r, 0), 0);
	spill_expect(base, later, nlater, nlater);

	db_set(1, -1);
	r = start(base, 0, 1, 100);
	wait_for(db_count, n + nlater, "the second outage's records committed");
	wait_for(file_empty, 1, "spill file emptied again");
	assert_int_equal(stop(r, 0), 0);
	memcpy(all[n], later, nlater * sizeof(later[0]));
	db_expect(all, n + nlater);
}

/*
 * A write that does not return (a lock, a COMMIT waiting for a standby):
 * once it has been out REC_KEEP_AFTER_MS the records behind it are kept
 * in the file, though the writer is still inside it; when it returns,
 * each is committed once and the file emptied.
 */
static void
test_keeper_while_write_stalls(void **state)
{
	char dir[600], base[700], all[64][48];
	struct tsa_recorder *r;
	size_t n = 0;

	db_reset();
	db_set(1, -1);
	gate_close();
	new_dir(dir, sizeof(dir), "keeper-stall");
	join(base, sizeof(base), dir, "tsa.spill");
	pending_path = base;
	size_path = base;

	r = start(base, 0, 1, 100);
	add(r, 'N', 0, 10, all, &n);
	wait_stalled(0);
	add(r, 'N', 10, 15, all, &n);
	wait_for(spill_pending, n, "records kept while a write stalls");
	spill_expect(base, all, n, n);
	assert_int_equal(db_count(), 0);
	gate_open();
	wait_for(db_count, n, "records committed");
	wait_for(file_empty, 1, "spill file emptied");
	assert_int_equal(stop(r, 0), 0);
	db_expect(all, n);
}

/*
 * A spill file from before, larger than the queue, while the database is
 * down: the keeper appends the new records after its lines, and the
 * loader stops where they begin (they are queued already): when the
 * database returns each record of both is committed exactly once.
 */
static void
test_keeper_after_file_region(void **state)
{
	char dir[600], base[700], all[64][48];
	struct tsa_recorder *r;
	size_t n = 0;

	db_reset();
	new_dir(dir, sizeof(dir), "keeper-region");
	join(base, sizeof(base), dir, "tsa.spill");
	write_legacy(base, 'A', 0, 12, all, &n);
	pending_path = base;
	size_path = base;

	r = start(base, 0, 1, 8);
	add(r, 'N', 0, 4, all, &n);
	wait_for(spill_pending, n, "the file's records and the new ones");
	spill_expect(base, all, n, n);
	db_set(1, -1);
	wait_for(db_count, n, "records committed");
	wait_for(file_empty, 1, "spill file emptied");
	assert_int_equal(stop(r, 0), 0);
	db_expect(all, n);
}

/*
 * The database refuses: while tsa_recorder_stop still tries it (3 s), the
 * new records are in the file already, fdatasynced (a SIGKILL then loses
 * nothing); at the end they are there once.
 */
static void
test_stop_spills_first(void **state)
{
	char dir[600], base[700], all[8][48];
	struct stopper st;
	struct tsa_recorder *r;
	pthread_t t;
	size_t n = 0;
	double t0, took;

	db_reset();
	new_dir(dir, sizeof(dir), "first");
	join(base, sizeof(base), dir, "tsa.spill");
	r = start(base, 0, 1, 100);
	add(r, 'N', 0, 5, all, &n);
	wait_for(failures_as_size, 1, "a batch refused");
	st.r = r;
	st.timeout = 3;
	st.rc = -2;
	t0 = now_s();
	assert_int_equal(pthread_create(&t, NULL, stop_thread, &st), 0);
	usleep(500 * 1000);
	spill_expect(base, all, n, n);
	assert_int_equal(pthread_join(t, NULL), 0);
	took = now_s() - t0;
	assert_int_equal(st.rc, 0);
	assert_int_equal(st.abandoned, 0);
	if (took < 2.5 || took > 3.0 + TSA_STOP_GRACE_S + 1)
		fail_msg("tsa_recorder_stop took %.1f s for a flush timeout of 3 s",
		    took);
	spill_expect(base, all, n, n);
}

/*
 * A database that takes a batch and never answers (a COMMIT waiting for a
 * synchronous standby that is down). The file holds 12 records (A0-A11),
 * the queue 8 (chunks of 4): A0-A3 are committed while N0 and N1 come in,
 * so the next batch is N0, N1, A4-A6 (new records before the file's in the
 * queue), and it stalls. tsa_recorder_stop returns after flush_timeout and
 * the grace, without losing anything; when the stalled batch commits
 * after all, the header moves past A6, not past N1: A7-A11 were never
 * sent.
 */
static void
test_stop_while_db_stalls(void **state)
{
	char dir[600], base[700], file[16][48], fresh[4][48], want[16][48];
	struct tsa_recorder *r;
	size_t nfile = 0, nfresh = 0, nwant, i;
	double t0, took;
	int abandoned = -1, rc;

	db_reset();
	new_dir(dir, sizeof(dir), "stall");
	join(base, sizeof(base), dir, "tsa.spill");
	write_legacy(base, 'A', 0, 12, file, &nfile);
	db_set(1, -1);
	gate_close();
	r = start(base, 0, 1, 8);
	wait_stalled(0);			/* A0-A3 */
	add(r, 'N', 0, 2, fresh, &nfresh);
	gate_pass(1);
	wait_stalled(1);			/* N0, N1, A4-A6 */
	assert_int_equal(db_count(), 4);

	t0 = now_s();
	alarm(30);	/* a stop that hangs fails the test */
	rc = tsa_recorder_stop(r, 1, &abandoned);
	alarm(0);
	took = now_s() - t0;
	assert_int_equal(rc, 0);
	/* The caller must _exit(): the thread is still in the database call. */
	assert_int_equal(abandoned, 1);
	if (took < 1.0 + TSA_STOP_GRACE_S - 0.5 || took > 1.0 + TSA_STOP_GRACE_S + 1)
		fail_msg("tsa_recorder_stop took %.1f s for a flush timeout of 1 s",
		    took);
	/* Everything not committed is in the file: A4-A11, N0, N1. */
	nwant = 0;
	for (i = 4; i < nfile; i++)
		memcpy(want[nwant++], file[i], 48);
	for (i = 0; i < nfresh; i++)
		memcpy(want[nwant++], fresh[i], 48);
	spill_expect(base, want, nwant, nfile + nfresh);

	/* The stalled batch commits after all; the recorder then ends. */
	gate_open();
	wait_for(returned_as_size, 2, "the stalled batch answered");
	usleep(300 * 1000);
	assert_int_equal(db_count(), 9);
	/* A7-A11 still to write; N0, N1 with them (a replay, not a gap). */
	nwant = 0;
	for (i = 7; i < nfile; i++)
		memcpy(want[nwant++], file[i], 48);
	for (i = 0; i < nfresh; i++)
		memcpy(want[nwant++], fresh[i], 48);
	spill_expect(base, want, nwant, nfile + nfresh);

	r = start(base, 0, 1, 100);
	wait_for(db_count, nfile + nfresh, "records committed");
	size_path = base;
	wait_for(file_empty, 1, "spill file emptied");
	assert_int_equal(stop(r, 0), 0);
	for (i = 0; i < nfile; i++)
		if (db_times(file[i]) != 1)
			fail_msg("serial %s committed %d times", file[i],
			    db_times(file[i]));
	for (i = 0; i < nfresh; i++)
		if (db_times(fresh[i]) < 1)
			fail_msg("serial %s never committed", fresh[i]);
}

/*
 * /health's view of a batch that does not return (a lock, a COMMIT waiting
 * for a lost synchronous standby): tsa_recorder_stats says how long it has
 * been out while db_ok still holds the last answer; the queue against its
 * size; once the batch commits, nothing is pending.
 */
static void
test_stats_while_write_pending(void **state)
{
	char all[8][48];
	struct tsa_recorder *r;
	struct tsa_recorder_health h;
	size_t n = 0;

	db_reset();
	db_set(1, -1);
	r = start(NULL, 0, 1, 8);
	tsa_recorder_stats(r, &h);
	assert_int_equal(h.queued, 0);
	assert_int_equal(h.max_queue, 8);
	assert_int_equal(h.db_ok, 1);
	assert_int_equal(h.write_pending_ms, 0);
	gate_close();
	add(r, 'N', 0, 1, all, &n);
	wait_stalled(0);
	add(r, 'N', 1, 5, all, &n);
	usleep(1200 * 1000);
	tsa_recorder_stats(r, &h);
	assert_int_equal(h.queued, 5);
	assert_int_equal(h.db_ok, 1);	/* no answer yet */
	if (h.write_pending_ms < 1100 || h.write_pending_ms > 5000)
		fail_msg("write pending for %lld ms, want ~1200",
		    h.write_pending_ms);
	gate_open();
	wait_for(db_count, 5, "records committed");
	usleep(100 * 1000);
	tsa_recorder_stats(r, &h);
	assert_int_equal(h.queued, 0);
	assert_int_equal(h.db_ok, 1);
	assert_int_equal(h.write_pending_ms, 0);
	assert_int_equal(stop(r, 0), 0);
	db_expect(all, n);
}

/*
 * Slots for tokens being signed (tsa_recorder_reserve, tsad takes one
 * before it asks for a signature): with the database stalled and 2 records
 * queued of 4, two slots are given and a third refused, as is a record
 * added without one (until 2026-12-07 the signature was made first, and
 * the token thrown away when its record found the queue full); a slot
 * given back is given again; a record added with its slot takes it. Every
 * record added is committed once the database answers.
 */
static void
test_reserve(void **state)
{
	char all[8][48];
	struct tsa_recorder *r;
	struct tsa_recorder_health h;
	struct tsa_record t;
	size_t n = 0;

	db_reset();
	db_set(1, -1);
	r = start(NULL, 0, 1, 4);
	gate_close();
	add(r, 'C', 0, 2, all, &n);
	wait_stalled(0);
	assert_int_equal(tsa_recorder_reserve(r), 0);
	assert_int_equal(tsa_recorder_reserve(r), 0);
	assert_int_equal(tsa_recorder_reserve(r), -1);
	make_rec(&t, 'C', 9);
	assert_int_equal(tsa_recorder_add(r, &t), -1);
	tsa_recorder_stats(r, &h);
	assert_int_equal(h.queued, 2);
	assert_int_equal(h.reserved, 2);
	tsa_recorder_unreserve(r);
	assert_int_equal(tsa_recorder_reserve(r), 0);
	make_rec(&t, 'C', 2);
	assert_int_equal(tsa_recorder_add_reserved(r, &t), 0);
	snprintf(all[n++], 48, "%s", t.serial);
	tsa_recorder_stats(r, &h);
	assert_int_equal(h.queued, 3);
	assert_int_equal(h.reserved, 1);
	assert_int_equal(tsa_recorder_reserve(r), -1);
	tsa_recorder_unreserve(r);
	tsa_recorder_stats(r, &h);
	assert_int_equal(h.reserved, 0);
	gate_open();
	wait_for(db_count, 3, "records committed");
	assert_int_equal(stop(r, 0), 0);
	db_expect(all, n);
}

/*
 * A line as tsa_spill_write_line writes it, back through
 * tsa_spill_parse_line: every field the same, the certificate id too ("-"
 * for none); a line of before schema/064 (7 fields) with none; a last line
 * without its newline keeps its record, not its id; malformed ids, an
 * empty or a ninth field drop the line.
 */
static void
test_spill_line_cert_id(void **state)
{
	static const long long ids[] = { 1, 7, 1000, LLONG_MAX, 0 };
	static const char *const bad[] = { "007", "0", "-7", "+7", "12a", " 7",
	    "99999999999999999999", "9223372036854775808" };
	struct tsa_record t, u;
	char *buf = NULL, line[1024], *tab;
	size_t len = 0, i;
	FILE *f;

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		make_rec(&t, 'C', (int)i);
		t.cert_id = ids[i];
		assert_non_null(f = open_memstream(&buf, &len));
		tsa_spill_write_line(&t, f);
		assert_int_equal(fclose(f), 0);
		assert_true(len > 0 && len < sizeof(line) && buf[len - 1] == '\n');
		/* Eight fields, the id last. */
		assert_non_null(tab = strrchr(buf, '\t'));
		if (ids[i] == 0)
			assert_string_equal(tab, "\t-\n");
		else
			assert_int_equal(strtoll(tab + 1, NULL, 10), ids[i]);
		memcpy(line, buf, len + 1);
		assert_int_equal(tsa_spill_parse_line(line, 1, &u), 0);
		assert_memory_equal(&t, &u, sizeof(t));
		/* Without its newline (a torn last line): the id is not trusted. */
		memcpy(line, buf, len - 1);
		line[len - 1] = '\0';
		assert_int_equal(tsa_spill_parse_line(line, 0, &u), 0);
		t.cert_id = 0;
		assert_memory_equal(&t, &u, sizeof(t));
		free(buf);
		buf = NULL;
	}

	/* The previous format: 7 fields, no certificate. */
	make_rec(&t, 'C', 9);
	assert_non_null(f = open_memstream(&buf, &len));
	line_of(&t, f);
	assert_int_equal(fclose(f), 0);
	memcpy(line, buf, len + 1);
	assert_int_equal(tsa_spill_parse_line(line, 1, &u), 0);
	t.cert_id = 0;
	assert_memory_equal(&t, &u, sizeof(t));

	/* Malformed ids, and a ninth field. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "%.*s\t%s\n", (int)len - 1, buf,
		    bad[i]);
		if (tsa_spill_parse_line(line, 1, &u) != -1)
			fail_msg("certificate id '%s' accepted", bad[i]);
	}
	snprintf(line, sizeof(line), "%.*s\t7\t7\n", (int)len - 1, buf);
	assert_int_equal(tsa_spill_parse_line(line, 1, &u), -1);
	/* Cut just after certReq's tab: seven fields, no certificate. */
	snprintf(line, sizeof(line), "%.*s\t", (int)len - 1, buf);
	assert_int_equal(tsa_spill_parse_line(line, 0, &u), 0);
	assert_memory_equal(&t, &u, sizeof(t));
	free(buf);
}

/*
 * The certificate ids through the spill file: records of three
 * certificates and one without (cert_id 0) spilled at a stop while the
 * database is away, taken over at a restart (their lines written again)
 * with more of them, then committed each with its own id.
 */
static void
test_cert_id_round_trip(void **state)
{
	char dir[600], base[700], all[32][48], line[1024];
	struct tsa_record t;
	struct tsa_recorder *r;
	long long want[32];
	size_t n = 0, i, nall;
	FILE *f;
	int k;

	db_reset();
	new_dir(dir, sizeof(dir), "certid");
	join(base, sizeof(base), dir, "tsa.spill");
	r = start(base, 0, 1, 100);
	for (k = 0; k < 8; k++) {
		make_rec(&t, 'N', k);
		t.cert_id = k == 3 ? 0 : k == 5 ? LLONG_MAX : CERT_OF(k);
		want[n] = t.cert_id;
		assert_int_equal(tsa_recorder_add(r, &t), 0);
		snprintf(all[n++], 48, "%s", t.serial);
	}
	assert_int_equal(stop(r, 0), 0);
	spill_expect(base, all, n, n);
	/* Each line carries its record's id, read back as written. */
	assert_non_null(f = fopen(base, "r"));
	nall = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, HDR_MAGIC, strlen(HDR_MAGIC)) == 0)
			continue;
		assert_int_equal(tsa_spill_parse_line(line, 1, &t), 0);
		for (i = 0; i < n && strcmp(all[i], t.serial) != 0; i++)
			;
		assert_true(i < n);
		assert_int_equal(t.cert_id, want[i]);
		nall++;
	}
	fclose(f);
	assert_int_equal(nall, n);

	/* Taken over (rewritten) at a restart while still away; more come. */
	r = start(base, 0, 1, 100);
	for (k = 8; k < 12; k++) {
		make_rec(&t, 'N', k);
		want[n] = t.cert_id;
		assert_int_equal(tsa_recorder_add(r, &t), 0);
		snprintf(all[n++], 48, "%s", t.serial);
	}
	assert_int_equal(stop(r, 0), 0);
	spill_expect(base, all, n, n);

	commit_expect_certs(base, all, want, n);
}

/*
 * A spill file the previous tsad left (7 fields a line) with lines of
 * this one after it, some with a malformed id, and a last line without
 * its newline: the old lines and the last one are recorded without a
 * certificate, the others with theirs, the malformed ones dropped.
 */
static void
test_cert_id_old_lines(void **state)
{
	static const char *const bad[] = { "007", "0", "-9", "9x",
	    "99999999999999999999" };
	char dir[600], base[700], all[16][48];
	struct tsa_record t;
	long long want[16];
	size_t n = 0, i;
	FILE *f;

	db_reset();
	new_dir(dir, sizeof(dir), "certid-old");
	join(base, sizeof(base), dir, "tsa.spill");
	write_legacy(base, 'A', 0, 3, all, &n);
	for (i = 0; i < n; i++)
		want[i] = 0;
	assert_non_null(f = fopen(base, "a"));
	make_rec(&t, 'B', 0);
	t.cert_id = 77;
	tsa_spill_write_line(&t, f);
	want[n] = 77;
	snprintf(all[n++], 48, "%s", t.serial);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		make_rec(&t, 'C', (int)i);
		fprintf(f, "%s\t%s\t%s\t%s\t%s\t-\t1\t%s\n", t.serial, t.gen_time,
		    t.policy, t.imprint_alg, t.imprint, bad[i]);
	}
	make_rec(&t, 'B', 1);
	t.cert_id = 1234;
	fprintf(f, "%s\t%s\t%s\t%s\t%s\t-\t0\t12", t.serial, t.gen_time,
	    t.policy, t.imprint_alg, t.imprint);
	want[n] = 0;
	snprintf(all[n++], 48, "%s", t.serial);
	assert_int_equal(fclose(f), 0);

	commit_expect_certs(base, all, want, n);
}

/* One number from the database (superuser; param: $1, or NULL), or fails. */
static long
pg_number(PGconn *pg, const char *sql, const char *param)
{
	const char *values[1] = { param };
	PGresult *res;
	long n;

	res = PQexecParams(pg, sql, param != NULL ? 1 : 0, NULL, values, NULL,
	    NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		fail_msg("%s: %s", sql, PQerrorMessage(pg));
	n = PQgetisnull(res, 0, 0) ? -1 : strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}

/* The audit events of instance: rows inserted, replayed, conflicts (sums). */
static void
audit_expect(PGconn *pg, const char *instance, long count, long replayed,
    long conflicts)
{
	static const char *const field[] = { "count", "replayed", "conflicts" };
	const long want[] = { count, replayed, conflicts };
	char sql[256];
	long got;
	int i;

	for (i = 0; i < 3; i++) {
		snprintf(sql, sizeof(sql), "SELECT sum((details->>'%s')::int) FROM "
		    "audit_event WHERE action = 'tsa.tokens.record' AND "
		    "details->>'instance' = $1", field[i]);
		if ((got = pg_number(pg, sql, instance)) != want[i])
			fail_msg("%s: audit events say %s %ld, want %ld", instance,
			    field[i], got, want[i]);
	}
}

/* Records all of b (n) as instance through a recorder of the database. */
static void
record_all(const char *instance, const struct tsa_record *b, size_t n)
{
	struct tsa_recorder *r;
	char err[512];
	size_t i;

	tsa_recorder_test_writer(NULL, NULL);
	r = tsa_recorder_start(getenv("PKI_TEST_PG_URI"), instance, NULL, 0, 1,
	    100, TSA_DB_TIMEOUT_S * 1000, err, sizeof(err));
	tsa_recorder_test_writer(fake_write, &db);
	if (r == NULL)
		fail_msg("tsa_recorder_start: %s", err);
	for (i = 0; i < n; i++)
		assert_int_equal(tsa_recorder_add(r, &b[i]), 0);
	assert_int_equal(stop(r, 10), 0);
}

/*
 * Three tokens recorded; then a batch (a replay, as a crash leaves one)
 * with one of them again, another token with the serial of the second, a
 * new one twice, and another new one followed by another token with its
 * serial; then that batch replayed once more.
 */
static void
test_database_replay_and_collision(void **state)
{
	const char *uri = getenv("PKI_TEST_PG_URI");
	struct tsa_record first[3], second[6];
	char inst[3][64], sql[256];
	PGconn *pg;
	int i;

	if (uri == NULL)
		fail_msg("PKI_TEST_PG_URI is not set: run through tests/run.sh");
	if ((pg = PQconnectdb(uri)) == NULL || PQstatus(pg) != CONNECTION_OK)
		fail_msg("PQconnectdb: %s", pg != NULL ? PQerrorMessage(pg) : "");
	for (i = 0; i < 3; i++)
		snprintf(inst[i], sizeof(inst[i]), "unit-%08x-%d", run_id, i);
	for (i = 0; i < 3; i++)
		make_rec(&first[i], 'E', i);
	record_all(inst[0], first, 3);
	audit_expect(pg, inst[0], 3, 0, 0);

	second[0] = first[0];			/* replayed */
	second[1] = first[1];			/* another token, same serial */
	memset(second[1].imprint, 'b', 64);
	make_rec(&second[2], 'E', 3);		/* new */
	second[3] = second[2];			/* the same, in the same batch */
	make_rec(&second[4], 'E', 4);		/* new */
	second[5] = second[4];			/* another one, same batch */
	second[5].cert_req = !second[5].cert_req;
	record_all(inst[1], second, 6);
	audit_expect(pg, inst[1], 2, 2, 2);
	record_all(inst[2], second, 6);
	audit_expect(pg, inst[2], 0, 4, 2);

	/* Each token once in tsa_token, the first of its serial; the others kept once. */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM tsa_token WHERE "
	    "serial LIKE '%08x%%'", run_id);
	assert_int_equal(pg_number(pg, sql, NULL), 5);
	assert_int_equal(pg_number(pg, "SELECT count(*) FROM tsa_token WHERE "
	    "serial = $1 AND imprint LIKE 'aaaa%'", first[1].serial), 1);
	assert_int_equal(pg_number(pg, "SELECT count(*) FROM tsa_token_conflict "
	    "WHERE serial = $1 AND imprint LIKE 'bbbb%' AND instance = "
	    "'unit-' || substr($1, 1, 8) || '-1'", first[1].serial), 1);
	assert_int_equal(pg_number(pg, "SELECT count(*) FROM tsa_token_conflict "
	    "WHERE serial = $1", second[4].serial), 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM tsa_token_conflict WHERE "
	    "serial LIKE '%08x%%'", run_id);
	assert_int_equal(pg_number(pg, sql, NULL), 2);
	PQfinish(pg);
}

/* One text value from the database (superuser; param: $1), "NULL" for NULL. */
static void
pg_text(PGconn *pg, const char *sql, const char *param, char *out, size_t len)
{
	const char *values[1] = { param };
	PGresult *res;

	res = PQexecParams(pg, sql, param != NULL ? 1 : 0, NULL, values, NULL,
	    NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		fail_msg("%s: %s", sql, PQerrorMessage(pg));
	snprintf(out, len, "%s", PQgetisnull(res, 0, 0) ? "NULL" :
	    PQgetvalue(res, 0, 0));
	PQclear(res);
}

/*
 * schema/064: three tokens of certificates 7 and 8 and one without (a
 * spill line of before it) are recorded with theirs (NULL); then, as a
 * replay: the first without its certificate and the third with one (the
 * same tokens: replayed), the second with certificates 9 and 10 (other
 * tokens: both kept in tsa_token_conflict with theirs); that batch again
 * keeps nothing twice. The audit events list each batch's certificates
 * and those of its conflicts.
 */
static void
test_database_cert_id(void **state)
{
	const char *uri = getenv("PKI_TEST_PG_URI");
	struct tsa_record first[3], second[4];
	char inst[3][64], got[256], want[256];
	PGconn *pg;
	int i;

	if (uri == NULL)
		fail_msg("PKI_TEST_PG_URI is not set: run through tests/run.sh");
	if ((pg = PQconnectdb(uri)) == NULL || PQstatus(pg) != CONNECTION_OK)
		fail_msg("PQconnectdb: %s", pg != NULL ? PQerrorMessage(pg) : "");
	for (i = 0; i < 3; i++)
		snprintf(inst[i], sizeof(inst[i]), "unit-%08x-c%d", run_id, i);
	for (i = 0; i < 3; i++)
		make_rec(&first[i], 'F', i);
	first[0].cert_id = 7;
	first[1].cert_id = 8;
	first[2].cert_id = 0;
	record_all(inst[0], first, 3);
	audit_expect(pg, inst[0], 3, 0, 0);
	for (i = 0; i < 3; i++) {
		pg_text(pg, "SELECT coalesce(cert_id::text, 'NULL') FROM "
		    "tsa_token WHERE serial = $1", first[i].serial, got,
		    sizeof(got));
		if (first[i].cert_id == 0)
			assert_string_equal(got, "NULL");
		else
			assert_int_equal(strtoll(got, NULL, 10), first[i].cert_id);
	}
	pg_text(pg, "SELECT details->>'certificates' FROM audit_event WHERE "
	    "action = 'tsa.tokens.record' AND details->>'instance' = $1",
	    inst[0], got, sizeof(got));
	assert_string_equal(got, "[null, 7, 8]");

	second[0] = first[0];
	second[0].cert_id = 0;		/* the same token, no certificate */
	second[1] = first[1];
	second[1].cert_id = 9;		/* another token: another signer */
	second[2] = second[1];
	second[2].cert_id = 10;		/* and another */
	second[3] = first[2];
	second[3].cert_id = 7;		/* the same token, now with one */
	record_all(inst[1], second, 4);
	audit_expect(pg, inst[1], 0, 2, 2);
	pg_text(pg, "SELECT concat_ws(' ', details->>'certificates', "
	    "details->>'conflict_serials', details->>'conflict_certificates') "
	    "FROM audit_event WHERE action = 'tsa.tokens.record' AND "
	    "details->>'instance' = $1", inst[1], got, sizeof(got));
	snprintf(want, sizeof(want), "[null, 7, 9, 10] [\"%s\", \"%s\"] "
	    "[9, 10]", first[1].serial, first[1].serial);
	assert_string_equal(got, want);
	record_all(inst[2], second, 4);
	audit_expect(pg, inst[2], 0, 2, 2);

	/* tsa_token as first recorded; the two others kept once each. */
	assert_int_equal(pg_number(pg, "SELECT count(*) FROM tsa_token WHERE "
	    "serial = $1 AND cert_id = 8", first[1].serial), 1);
	assert_int_equal(pg_number(pg, "SELECT count(*) FROM tsa_token WHERE "
	    "serial = $1 AND cert_id = 7", first[0].serial), 1);
	assert_int_equal(pg_number(pg, "SELECT count(*) FROM tsa_token WHERE "
	    "serial = $1 AND cert_id IS NULL", first[2].serial), 1);
	pg_text(pg, "SELECT string_agg(cert_id::text, ',' ORDER BY cert_id) "
	    "FROM tsa_token_conflict WHERE serial = $1", first[1].serial, got,
	    sizeof(got));
	assert_string_equal(got, "9,10");
	assert_int_equal(pg_number(pg, "SELECT count(*) FROM tsa_token_conflict "
	    "WHERE serial = $1", first[0].serial), 0);
	assert_int_equal(pg_number(pg, "SELECT count(*) FROM tsa_token_conflict "
	    "WHERE serial = $1", first[2].serial), 0);
	PQfinish(pg);
}

static int
setup(void **state)
{
	const char *scratch = getenv("PKI_TEST_DIR");

	run_id = (unsigned int)time(NULL) ^ ((unsigned int)getpid() << 16);
	snprintf(topdir, sizeof(topdir), "%s/tsa-record.XXXXXX",
	    scratch != NULL ? scratch : "/tmp");
	if (mkdtemp(topdir) == NULL)
		return -1;
	pthread_mutex_init(&db.m, NULL);
	pthread_cond_init(&db.c, NULL);
	tsa_recorder_test_writer(fake_write, &db);
	return 0;
}

static int
teardown(void **state)
{
	tsa_recorder_test_writer(NULL, NULL);
	pthread_cond_destroy(&db.c);
	pthread_mutex_destroy(&db.m);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reload_while_down),
		cmocka_unit_test(test_spill_larger_than_queue),
		cmocka_unit_test(test_partial_commit),
		cmocka_unit_test(test_workers_changed),
		cmocka_unit_test(test_locked),
		cmocka_unit_test(test_header_and_lines),
		cmocka_unit_test(test_torn_line_with_nul),
		cmocka_unit_test(test_keeper_while_down),
		cmocka_unit_test(test_keeper_while_write_stalls),
		cmocka_unit_test(test_keeper_after_file_region),
		cmocka_unit_test(test_stop_spills_first),
		cmocka_unit_test(test_stop_while_db_stalls),
		cmocka_unit_test(test_stats_while_write_pending),
		cmocka_unit_test(test_reserve),
		cmocka_unit_test(test_spill_line_cert_id),
		cmocka_unit_test(test_cert_id_round_trip),
		cmocka_unit_test(test_cert_id_old_lines),
		cmocka_unit_test(test_database_replay_and_collision),
		cmocka_unit_test(test_database_cert_id),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
