/*
 * Recording issued tokens without a database round trip per request: request
 * threads queue a record (bounded); one thread writes batches, each with its
 * audit event, in one transaction. A database outage only delays recording;
 * a full queue stops issuance (tsa_recorder_add fails). On a clean shutdown
 * whatever the database does not take goes to a spill file, loaded again at
 * the next start (ON CONFLICT makes a replay harmless).
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/audit.h"
#include "lib/db.h"
#include "lib/log.h"
#include "tsa/extern.h"

#define REC_BATCH		1000
#define REC_LINGER_MS		100	/* wait this long for a batch to fill */
#define REC_RETRY_MAX_MS	5000
#define REC_FIELD_CHARS		"0123456789abcdefABCDEF.:-TZ"

struct tsa_recorder {
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	pthread_t		 thread;
	struct tsa_record	*ring;
	size_t			 cap, head, count;
	int			 stopping;
	int			 db_ok;
	unsigned int		 flush_timeout_s;
	int			 lost;		/* records neither in PG nor spilled */

	char			*conninfo;
	char			 instance[64];
	char			 actor[80];
	struct db		*db;
	int			 spill_fd;
	int			 spill_dirty;	/* spill holds records not yet in PG */
};

static const struct db_stmt stmt_record_batch = { "tsa_record_batch",
	"INSERT INTO tsa_token (serial, gen_time, policy, imprint_alg, imprint, "
	"nonce, cert_req, instance) SELECT s, g, p, a, i, n, c, $8 FROM "
	"unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], "
	"$5::text[], $6::text[], $7::boolean[]) AS t(s, g, p, a, i, n, c) "
	"ON CONFLICT (serial) DO NOTHING", 8 };

/* Our fields hold only hex, OIDs and ISO times: checked, so quoting is simple. */
static int
rec_field_ok(const char *s)
{
	return strspn(s, REC_FIELD_CHARS) == strlen(s);
}

static int
rec_valid(const struct tsa_record *r)
{
	return r->serial[0] != '\0' && r->gen_time[0] != '\0' &&
	    rec_field_ok(r->serial) && rec_field_ok(r->gen_time) &&
	    rec_field_ok(r->policy) && rec_field_ok(r->imprint_alg) &&
	    rec_field_ok(r->imprint) && rec_field_ok(r->nonce);
}

/* A PostgreSQL array literal of one field of n records; malloc'd. */
static char *
rec_array(const struct tsa_record *b, size_t n, size_t off, int nullable)
{
	size_t i, len = 3, pos;
	char *s;
	const char *v;

	for (i = 0; i < n; i++)
		len += strlen((const char *)&b[i] + off) + 6;	/* "v", or NULL, */
	if ((s = malloc(len)) == NULL)
		return NULL;
	pos = 0;
	s[pos++] = '{';
	for (i = 0; i < n; i++) {
		v = (const char *)&b[i] + off;
		if (i > 0)
			s[pos++] = ',';
		if (nullable && *v == '\0')
			pos += (size_t)snprintf(s + pos, len - pos, "NULL");
		else
			pos += (size_t)snprintf(s + pos, len - pos, "\"%s\"", v);
	}
	s[pos++] = '}';
	s[pos] = '\0';
	return s;
}

struct rec_batch {
	struct tsa_recorder		*rec;
	const struct tsa_record		*b;
	size_t				 n;
};

static int
rec_write_txn(struct db *db, void *arg)
{
	struct rec_batch *batch = arg;
	const struct tsa_record *b = batch->b;
	char *arrays[7] = { NULL };
	char *certreq = NULL;
	const char *values[8];
	json_t *details = NULL;
	size_t i;
	int k, rc = -1;

	arrays[0] = rec_array(b, batch->n, offsetof(struct tsa_record, serial), 0);
	arrays[1] = rec_array(b, batch->n, offsetof(struct tsa_record, gen_time), 0);
	arrays[2] = rec_array(b, batch->n, offsetof(struct tsa_record, policy), 0);
	arrays[3] = rec_array(b, batch->n, offsetof(struct tsa_record, imprint_alg), 0);
	arrays[4] = rec_array(b, batch->n, offsetof(struct tsa_record, imprint), 0);
	arrays[5] = rec_array(b, batch->n, offsetof(struct tsa_record, nonce), 1);
	if ((certreq = malloc(2 * batch->n + 3)) == NULL)
		goto out;
	certreq[0] = '{';
	for (i = 0; i < batch->n; i++) {
		certreq[1 + 2 * i] = b[i].cert_req ? 't' : 'f';
		certreq[2 + 2 * i] = ',';
	}
	certreq[batch->n > 0 ? 2 * batch->n : 1] = '}';
	certreq[batch->n > 0 ? 2 * batch->n + 1 : 2] = '\0';
	for (k = 0; k < 6; k++) {
		if (arrays[k] == NULL)
			goto out;
		values[k] = arrays[k];
	}
	values[6] = certreq;
	values[7] = batch->rec->instance;
	if (db_exec_ok(db, &stmt_record_batch, values) == -1)
		goto out;
	details = json_pack("{s:I, s:s, s:s, s:s}", "count", (json_int_t)batch->n,
	    "first_serial", b[0].serial, "last_serial", b[batch->n - 1].serial,
	    "instance", batch->rec->instance);
	if (details == NULL || audit_append(db, batch->rec->actor,
	    "tsa.tokens.record", "tsa_token", b[0].serial, details, NULL) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	for (k = 0; k < 7; k++)
		free(arrays[k]);
	free(certreq);
	return rc;
}

/* Writes n records; 0 when committed. Reconnects after a failure. */
static int
rec_write(struct tsa_recorder *r, const struct tsa_record *b, size_t n)
{
	struct rec_batch batch = { r, b, n };
	char err[256];

	if (r->db == NULL && (r->db = db_connect(r->conninfo, err,
	    sizeof(err))) == NULL) {
		log_warn("tsa: recorder: database unavailable: %s", err);
		return -1;
	}
	if (db_transaction(r->db, NULL, 3, rec_write_txn, &batch) == -1) {
		/* The connection may be broken: start afresh next time. */
		db_close(r->db);
		r->db = NULL;
		return -1;
	}
	return 0;
}

static void
rec_spill_line(const struct tsa_record *t, FILE *f)
{
	fprintf(f, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", t->serial, t->gen_time,
	    t->policy, t->imprint_alg, t->imprint, t->nonce[0] ? t->nonce : "-",
	    t->cert_req);
}

/* Appends every queued record to the spill file and fsyncs it. Lock held. */
static int
rec_spill_locked(struct tsa_recorder *r)
{
	FILE *f;
	size_t i;
	int fd, rc = -1;

	if (r->spill_fd == -1 || (fd = dup(r->spill_fd)) == -1)
		return -1;
	if ((f = fdopen(fd, "a")) == NULL) {
		close(fd);
		return -1;
	}
	for (i = 0; i < r->count; i++)
		rec_spill_line(&r->ring[(r->head + i) % r->cap], f);
	if (fflush(f) == 0 && fsync(fileno(f)) == 0)
		rc = 0;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

/* Parses one spill line; -1 when malformed. */
static int
rec_parse_line(char *line, struct tsa_record *t)
{
	char *f[7], *save = NULL;
	int i;

	memset(t, 0, sizeof(*t));
	line[strcspn(line, "\n")] = '\0';
	for (i = 0; i < 7; i++) {
		if ((f[i] = strtok_r(i == 0 ? line : NULL, "\t", &save)) == NULL)
			return -1;
	}
	if (strtok_r(NULL, "\t", &save) != NULL)
		return -1;
	if ((size_t)snprintf(t->serial, sizeof(t->serial), "%s", f[0]) >= sizeof(t->serial) ||
	    (size_t)snprintf(t->gen_time, sizeof(t->gen_time), "%s", f[1]) >= sizeof(t->gen_time) ||
	    (size_t)snprintf(t->policy, sizeof(t->policy), "%s", f[2]) >= sizeof(t->policy) ||
	    (size_t)snprintf(t->imprint_alg, sizeof(t->imprint_alg), "%s", f[3]) >= sizeof(t->imprint_alg) ||
	    (size_t)snprintf(t->imprint, sizeof(t->imprint), "%s", f[4]) >= sizeof(t->imprint) ||
	    (size_t)snprintf(t->nonce, sizeof(t->nonce), "%s",
	    strcmp(f[5], "-") == 0 ? "" : f[5]) >= sizeof(t->nonce))
		return -1;
	t->cert_req = strcmp(f[6], "1") == 0;
	return rec_valid(t) ? 0 : -1;
}

static int
rec_push_locked(struct tsa_recorder *r, const struct tsa_record *t)
{
	if (r->count == r->cap)
		return -1;
	r->ring[(r->head + r->count) % r->cap] = *t;
	r->count++;
	return 0;
}

/* Loads records a previous instance spilled; they stay in the file until written. */
static int
rec_load_spill(struct tsa_recorder *r)
{
	struct tsa_record t;
	char line[1024];
	FILE *f;
	int fd, n = 0, bad = 0;

	if ((fd = dup(r->spill_fd)) == -1 || lseek(fd, 0, SEEK_SET) == -1 ||
	    (f = fdopen(fd, "r")) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (rec_parse_line(line, &t) == -1) {
			bad++;
			continue;
		}
		if (rec_push_locked(r, &t) == -1)
			break;
		n++;
	}
	fclose(f);
	if (n > 0 || bad > 0)
		log_warn("tsa: recorder: %d record(s) from the spill file queued "
		    "again, %d malformed line(s) skipped", n, bad);
	r->spill_dirty = n > 0;
	return 0;
}

static void
rec_deadline(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *
rec_thread(void *arg)
{
	struct tsa_recorder *r = arg;
	struct tsa_record *batch;
	struct timespec ts, stop_at = { 0, 0 };
	long backoff = 100;
	size_t n, i;
	int ok;

	if ((batch = calloc(REC_BATCH, sizeof(*batch))) == NULL) {
		log_err("tsa: recorder: out of memory");
		return NULL;
	}
	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (r->count == 0 && !r->stopping)
			pthread_cond_wait(&r->cond, &r->lock);
		if (r->count == 0 && r->stopping)
			break;
		/* Linger briefly so one transaction carries many tokens. */
		if (r->count < REC_BATCH && !r->stopping) {
			rec_deadline(&ts, REC_LINGER_MS);
			pthread_cond_timedwait(&r->cond, &r->lock, &ts);
		}
		n = r->count < REC_BATCH ? r->count : REC_BATCH;
		for (i = 0; i < n; i++)
			batch[i] = r->ring[(r->head + i) % r->cap];
		pthread_mutex_unlock(&r->lock);
		ok = rec_write(r, batch, n) == 0;
		pthread_mutex_lock(&r->lock);
		r->db_ok = ok;
		if (ok) {
			r->head = (r->head + n) % r->cap;
			r->count -= n;
			backoff = 100;
			if (r->count == 0 && r->spill_dirty && r->spill_fd != -1 &&
			    ftruncate(r->spill_fd, 0) == 0)
				r->spill_dirty = 0;
			continue;
		}
		if (r->stopping) {
			if (stop_at.tv_sec == 0)
				rec_deadline(&stop_at, (long)r->flush_timeout_s * 1000);
			clock_gettime(CLOCK_REALTIME, &ts);
			if (ts.tv_sec >= stop_at.tv_sec) {
				if (rec_spill_locked(r) == 0) {
					log_warn("tsa: recorder: %zu record(s) kept in "
					    "the spill file for the next start", r->count);
				} else {
					log_err("tsa: recorder: %zu record(s) LOST: "
					    "database and spill file unavailable", r->count);
					r->lost = 1;
				}
				r->count = 0;
				break;
			}
		}
		rec_deadline(&ts, backoff);
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
		backoff = backoff * 2 > REC_RETRY_MAX_MS ? REC_RETRY_MAX_MS : backoff * 2;
	}
	pthread_mutex_unlock(&r->lock);
	free(batch);
	return NULL;
}

struct tsa_recorder *
tsa_recorder_start(const char *conninfo, const char *instance,
    const char *spill_path, size_t max_queue, char *err, size_t errlen)
{
	struct tsa_recorder *r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->spill_fd = -1;
	r->db_ok = 1;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->cap = max_queue > 0 ? max_queue : 1;
	snprintf(r->instance, sizeof(r->instance), "%s", instance);
	snprintf(r->actor, sizeof(r->actor), "tsa:%s", instance);
	if ((r->ring = calloc(r->cap, sizeof(*r->ring))) == NULL ||
	    (r->conninfo = strdup(conninfo)) == NULL) {
		snprintf(err, errlen, "out of memory (queue of %zu)", r->cap);
		goto fail;
	}
	if (spill_path != NULL && ((r->spill_fd = open(spill_path,
	    O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) == -1 ||
	    rec_load_spill(r) == -1)) {
		snprintf(err, errlen, "spill file %s: %s", spill_path, strerror(errno));
		goto fail;
	}
	if (pthread_create(&r->thread, NULL, rec_thread, r) != 0) {
		snprintf(err, errlen, "pthread_create failed");
		goto fail;
	}
	return r;
fail:
	if (r->spill_fd != -1)
		close(r->spill_fd);
	free(r->ring);
	free(r->conninfo);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
	return NULL;
}

int
tsa_recorder_add(struct tsa_recorder *r, const struct tsa_record *t)
{
	int rc;

	if (!rec_valid(t))
		return -1;
	pthread_mutex_lock(&r->lock);
	rc = r->stopping ? -1 : rec_push_locked(r, t);
	if (rc == 0 && (r->count == 1 || r->count == REC_BATCH))
		pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

void
tsa_recorder_stats(struct tsa_recorder *r, size_t *queued, int *db_ok)
{
	pthread_mutex_lock(&r->lock);
	*queued = r->count;
	*db_ok = r->db_ok;
	pthread_mutex_unlock(&r->lock);
}

int
tsa_recorder_stop(struct tsa_recorder *r, unsigned int flush_timeout_s)
{
	int lost;

	if (r == NULL)
		return 0;
	pthread_mutex_lock(&r->lock);
	r->stopping = 1;
	r->flush_timeout_s = flush_timeout_s;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	lost = r->lost;
	db_close(r->db);
	if (r->spill_fd != -1)
		close(r->spill_fd);
	free(r->ring);
	free(r->conninfo);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
	return lost ? -1 : 0;
}
