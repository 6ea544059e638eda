/*
 * ca/worker/marker.c: cad's in-flight marker. The record's form (what a
 * crash, a truncated write or a planted file may leave), and the slots in
 * a scratch directory: the first free one is this process's, held while it
 * runs; the records of free slots are found, garbage and untrusted content
 * dropped, links and a directory writable by others refused. The counting
 * itself needs the database: tests/integration/test_cad_crash.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ca/worker/extern.h"

struct marker_fixture {
	char	dir[256];
};

static int
setup(void **state)
{
	struct marker_fixture *f;
	const char *base = getenv("PKI_TEST_DIR");

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s/marker.XXXXXX",
	    base != NULL ? base : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct marker_fixture *f = *state;
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* dir/name holding text (NULL: an empty file) with mode. */
static void
put(const struct marker_fixture *f, const char *name, const char *text,
    mode_t mode)
{
	char path[PATH_MAX];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	if (text != NULL)
		assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* The content of dir/name ("" when empty), or NULL when it does not exist. */
static char *
get(const struct marker_fixture *f, const char *name, char *buf, size_t len)
{
	char path[PATH_MAX];
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	n = fread(buf, 1, len - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static int
mode_of(const struct marker_fixture *f, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	assert_int_equal(lstat(path, &st), 0);
	return (int)(st.st_mode & 07777);
}

static char parsed_serial[CAD_MARKER_SERIAL_MAX + 1];

static int
parse(const char *s, long long *order, char *worker, size_t wlen)
{
	return cad_marker_parse(s, strlen(s), order, parsed_serial, worker,
	    wlen);
}

static void
test_parse(void **state)
{
	static const char *const garbage[] = {
		"garbage\n",
		"order=42 worker=cad:h:1",		/* no newline: cut */
		"order=42\n",				/* no worker */
		"order=42 worker=\n",
		"order= worker=cad:h:1\n",
		"order=0 worker=cad:h:1\n",		/* no order 0 */
		"order=-4 worker=cad:h:1\n",
		"order=+4 worker=cad:h:1\n",
		"order=4x worker=cad:h:1\n",
		"order=4  worker=cad:h:1\n",
		" order=4 worker=cad:h:1\n",
		"ORDER=4 worker=cad:h:1\n",
		"order=9223372036854775808 worker=cad:h:1\n",	/* past bigint */
		"order=99999999999999999999999 worker=cad:h:1\n",
		"\n",
		"order=4 signed= worker=cad:h:1\n",	/* empty serial */
		"order=4 signed=7f worker=cad:h:1\n",	/* lower case */
		"order=4 signed=7G worker=cad:h:1\n",
		"order=4 signed=7F\n",			/* no worker */
		"order=4 signed=7F  worker=cad:h:1\n",
		"order=4 signed=7F signed=7E worker=w\n",
		/* 41 hex digits: past 20 octets */
		"order=4 signed=1234567890ABCDEF1234567890ABCDEF123456789 "
		    "worker=w\n",
	};
	char worker[16], big[64];
	long long order;
	size_t i;

	(void)state;
	assert_int_equal(parse("order=42 worker=cad:h:1\n", &order, worker,
	    sizeof(worker)), 1);
	assert_int_equal(order, 42);
	assert_string_equal(worker, "cad:h:1");
	assert_string_equal(parsed_serial, "");
	/* Signed and not stored: the serial (40 hex digits at most). */
	assert_int_equal(parse("order=42 signed=1234567890ABCDEF1234567890ABCDEF"
	    "12345678 worker=cad:h:1\n", &order, worker, sizeof(worker)), 1);
	assert_int_equal(order, 42);
	assert_string_equal(parsed_serial,
	    "1234567890ABCDEF1234567890ABCDEF12345678");
	assert_string_equal(worker, "cad:h:1");
	/* A shorter record written over a longer one whose emptying failed. */
	assert_int_equal(parse("order=7 worker=cad:h:2\nworker=cad:h:1\n",
	    &order, worker, sizeof(worker)), 1);
	assert_int_equal(order, 7);
	assert_string_equal(worker, "cad:h:2");
	assert_int_equal(parse("order=9223372036854775807 worker=w\n", &order,
	    worker, sizeof(worker)), 1);
	assert_int_equal(order, 9223372036854775807LL);
	/* Control characters in the worker's name come out cleaned. */
	assert_int_equal(parse("order=3 worker=a\tb\x7f\n", &order, worker,
	    sizeof(worker)), 1);
	assert_string_equal(worker, "a?b?");
	assert_int_equal(cad_marker_parse("", 0, &order, parsed_serial, worker,
	    sizeof(worker)), 0);
	for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		order = 99;
		if (parse(garbage[i], &order, worker, sizeof(worker)) != -1)
			fail_msg("parsed: %s", garbage[i]);
		assert_int_equal(order, 0);
	}
	/* A NUL inside the line; a worker that does not fit. */
	assert_int_equal(cad_marker_parse("order=4 wo\0ker=x\n", 17, &order,
	    parsed_serial, worker, sizeof(worker)), -1);
	snprintf(big, sizeof(big), "order=4 worker=%0*d\n",
	    (int)sizeof(worker), 0);
	assert_int_equal(parse(big, &order, worker, sizeof(worker)), -1);
}

/* The first slot is made 0600 and holds the record of the order in hand. */
static void
test_set_clear(void **state)
{
	struct marker_fixture *f = *state;
	struct cad_marker m;
	char err[256], buf[512];

	cad_marker_init(&m);
	/* Not open (cad.insecure_no_state_dir): nothing happens. */
	cad_marker_set(&m, "1");
	cad_marker_clear(&m);
	assert_int_equal(cad_marker_open(&m, f->dir, "cad:test:\x01" "1", err,
	    sizeof(err)), 0);
	assert_int_equal(m.slot, 0);
	assert_int_equal(m.nfound, 0);
	assert_int_equal(mode_of(f, "cad-inflight.0"), 0600);
	assert_string_equal(get(f, "cad-inflight.0", buf, sizeof(buf)), "");
	cad_marker_release(&m);
	cad_marker_set(&m, "12345");
	assert_string_equal(get(f, "cad-inflight.0", buf, sizeof(buf)),
	    "order=12345 worker=cad:test:?1\n");
	cad_marker_clear(&m);
	assert_string_equal(get(f, "cad-inflight.0", buf, sizeof(buf)), "");
	cad_marker_set(&m, "7");
	assert_string_equal(get(f, "cad-inflight.0", buf, sizeof(buf)),
	    "order=7 worker=cad:test:?1\n");
	/* Signed, not yet stored: the record names the serial too. */
	cad_marker_signed(&m, "7", "4A3F");
	assert_string_equal(get(f, "cad-inflight.0", buf, sizeof(buf)),
	    "order=7 signed=4A3F worker=cad:test:?1\n");
	assert_int_equal(m.failing, 0);
	/* The process ends in the middle: the next one finds the order. */
	cad_marker_close(&m);
	cad_marker_init(&m);
	assert_int_equal(cad_marker_open(&m, f->dir, "cad:test:2", err,
	    sizeof(err)), 0);
	assert_int_equal(m.slot, 0);
	assert_int_equal(m.nfound, 1);
	assert_int_equal(m.found[0].order, 7);
	assert_int_equal(m.found[0].slot, 0);
	assert_string_equal(m.found[0].worker, "cad:test:?1");
	assert_string_equal(m.found[0].serial, "4A3F");
	cad_marker_done(&m, 0);
	assert_string_equal(get(f, "cad-inflight.0", buf, sizeof(buf)), "");
	cad_marker_release(&m);
	cad_marker_close(&m);
}

/* Slots held by running processes are skipped, up to the last one. */
static void
test_slots_held(void **state)
{
	struct marker_fixture *f = *state;
	struct cad_marker *m;
	char err[256];
	int i;

	m = calloc(CAD_MARKER_SLOTS + 1, sizeof(*m));
	assert_non_null(m);
	for (i = 0; i < CAD_MARKER_SLOTS; i++) {
		cad_marker_init(&m[i]);
		assert_int_equal(cad_marker_open(&m[i], f->dir, "cad:t:1", err,
		    sizeof(err)), 0);
		assert_int_equal(m[i].slot, i);
		cad_marker_release(&m[i]);
	}
	/* Another one's record is not read while its process holds it. */
	cad_marker_set(&m[5], "55");
	cad_marker_init(&m[CAD_MARKER_SLOTS]);
	assert_int_equal(cad_marker_open(&m[CAD_MARKER_SLOTS], f->dir,
	    "cad:t:1", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no in-flight marker slot free"));
	cad_marker_close(&m[CAD_MARKER_SLOTS]);
	/* One ends: its slot is the next process's, its record with it. */
	cad_marker_close(&m[5]);
	cad_marker_init(&m[5]);
	assert_int_equal(cad_marker_open(&m[5], f->dir, "cad:t:2", err,
	    sizeof(err)), 0);
	assert_int_equal(m[5].slot, 5);
	assert_int_equal(m[5].nfound, 1);
	assert_int_equal(m[5].found[0].order, 55);
	for (i = 0; i < CAD_MARKER_SLOTS; i++)
		cad_marker_close(&m[i]);
	free(m);
}

/*
 * Free slots of processes that ended: records found (own and others'),
 * garbage and empty ones dropped, others' removed once counted.
 */
static void
test_free_slots(void **state)
{
	struct marker_fixture *f = *state;
	struct cad_marker m;
	char err[256], buf[512];
	int i;

	put(f, "cad-inflight.0", "order=7 worker=cad:a:1\n", 0600);
	put(f, "cad-inflight.2", "order=3 garbage", 0600);
	put(f, "cad-inflight.3", "order=8 worker=cad:b:2\n", 0600);
	put(f, "cad-inflight.4", NULL, 0600);
	put(f, "cad-inflight.64", "order=9 worker=cad:c:3\n", 0600);
	put(f, "unrelated", "order=10 worker=cad:d:4\n", 0600);
	cad_marker_init(&m);
	assert_int_equal(cad_marker_open(&m, f->dir, "cad:t:1", err,
	    sizeof(err)), 0);
	assert_int_equal(m.slot, 0);
	assert_int_equal(m.nfound, 2);
	assert_int_equal(m.found[0].order, 7);
	assert_string_equal(m.found[0].worker, "cad:a:1");
	assert_int_equal(m.found[1].order, 8);
	assert_int_equal(m.found[1].slot, 3);
	assert_string_equal(m.found[1].worker, "cad:b:2");
	/* Garbage and empty free slots: gone at once. */
	assert_null(get(f, "cad-inflight.2", buf, sizeof(buf)));
	assert_null(get(f, "cad-inflight.4", buf, sizeof(buf)));
	/* Not slots: untouched. */
	assert_non_null(get(f, "cad-inflight.64", buf, sizeof(buf)));
	assert_non_null(get(f, "unrelated", buf, sizeof(buf)));
	/* Until counted, a found slot stays locked with its record. */
	assert_string_equal(get(f, "cad-inflight.3", buf, sizeof(buf)),
	    "order=8 worker=cad:b:2\n");
	for (i = 0; i < m.nfound; i++)
		cad_marker_done(&m, i);
	assert_string_equal(get(f, "cad-inflight.0", buf, sizeof(buf)), "");
	assert_null(get(f, "cad-inflight.3", buf, sizeof(buf)));
	cad_marker_release(&m);
	cad_marker_close(&m);

	/* Garbage in the own slot: emptied, the slot kept. */
	put(f, "cad-inflight.0", "order=0 worker=x\n", 0600);
	cad_marker_init(&m);
	assert_int_equal(cad_marker_open(&m, f->dir, "cad:t:1", err,
	    sizeof(err)), 0);
	assert_int_equal(m.slot, 0);
	assert_int_equal(m.nfound, 0);
	assert_string_equal(get(f, "cad-inflight.0", buf, sizeof(buf)), "");
	cad_marker_close(&m);

	/* Not done (start-up ended before): the record stays for later. */
	put(f, "cad-inflight.1", "order=11 worker=cad:e:5\n", 0600);
	cad_marker_init(&m);
	assert_int_equal(cad_marker_open(&m, f->dir, "cad:t:1", err,
	    sizeof(err)), 0);
	assert_int_equal(m.nfound, 1);
	cad_marker_release(&m);
	cad_marker_close(&m);
	assert_string_equal(get(f, "cad-inflight.1", buf, sizeof(buf)),
	    "order=11 worker=cad:e:5\n");
}

/* What cad may not trust: a link, content others could write, the directory. */
static void
test_untrusted(void **state)
{
	struct marker_fixture *f = *state;
	struct cad_marker m;
	char err[256], buf[512], target[PATH_MAX], lpath[PATH_MAX];

	/* A link planted as slot 0: left alone, its target untouched. */
	snprintf(target, sizeof(target), "%s/target", f->dir);
	snprintf(lpath, sizeof(lpath), "%s/cad-inflight.0", f->dir);
	put(f, "target", "order=5 worker=cad:x:1\n", 0644);
	assert_int_equal(symlink(target, lpath), 0);
	cad_marker_init(&m);
	assert_int_equal(cad_marker_open(&m, f->dir, "cad:t:1", err,
	    sizeof(err)), 0);
	assert_int_equal(m.slot, 1);
	assert_int_equal(m.nfound, 0);
	cad_marker_set(&m, "6");
	cad_marker_clear(&m);
	cad_marker_close(&m);
	assert_string_equal(get(f, "target", buf, sizeof(buf)),
	    "order=5 worker=cad:x:1\n");
	assert_int_equal(mode_of(f, "target"), 0644);
	assert_int_equal(unlink(lpath), 0);

	/* Writable by others: emptied unread, made 0600, then used. */
	put(f, "cad-inflight.0", "order=5 worker=cad:x:1\n", 0666);
	cad_marker_init(&m);
	assert_int_equal(cad_marker_open(&m, f->dir, "cad:t:1", err,
	    sizeof(err)), 0);
	assert_int_equal(m.slot, 0);
	assert_int_equal(m.nfound, 0);
	assert_int_equal(mode_of(f, "cad-inflight.0"), 0600);
	assert_string_equal(get(f, "cad-inflight.0", buf, sizeof(buf)), "");
	cad_marker_close(&m);

	/* A second link to the slot: left alone. */
	snprintf(target, sizeof(target), "%s/second", f->dir);
	snprintf(lpath, sizeof(lpath), "%s/cad-inflight.0", f->dir);
	put(f, "cad-inflight.0", "order=5 worker=cad:x:1\n", 0600);
	assert_int_equal(link(lpath, target), 0);
	cad_marker_init(&m);
	assert_int_equal(cad_marker_open(&m, f->dir, "cad:t:1", err,
	    sizeof(err)), 0);
	assert_int_equal(m.slot, 1);
	assert_int_equal(m.nfound, 0);
	cad_marker_close(&m);
	assert_string_equal(get(f, "cad-inflight.0", buf, sizeof(buf)),
	    "order=5 worker=cad:x:1\n");

	/* A directory anyone may write in: not starting. */
	assert_int_equal(chmod(f->dir, 0777), 0);
	cad_marker_init(&m);
	assert_int_equal(cad_marker_open(&m, f->dir, "cad:t:1", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "writable by others"));
	cad_marker_close(&m);
	assert_int_equal(chmod(f->dir, 0700), 0);

	/* No directory at all. */
	snprintf(target, sizeof(target), "%s/missing", f->dir);
	cad_marker_init(&m);
	assert_int_equal(cad_marker_open(&m, target, "cad:t:1", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file or directory"));
	cad_marker_close(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test_setup_teardown(test_set_clear, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_slots_held, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_free_slots, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_untrusted, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
