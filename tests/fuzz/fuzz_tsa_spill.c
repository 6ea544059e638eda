/*
 * libFuzzer harness for tsad's spill-file lines (tsa/record.c), which a
 * worker reads back at start, possibly written by the previous tsad
 * (7 fields, no certificate id) or cut short by a crash. The first byte's
 * low bit says whether the line had its newline (whole); the rest is the
 * line, at most REC_LINE_MAX - 1 bytes as the reader takes it. A line the
 * parser accepts must give a record the recorder accepts (certificate id
 * not negative, and 0 when the line was not whole); written again it must
 * be one line of 8 fields that parses back to the same record, and writing
 * that record again must give the same octets.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsa/extern.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_LINE_MAX	1023	/* record.c's REC_LINE_MAX, less the NUL */

static int
fuzz_same(const struct tsa_record *a, const struct tsa_record *b)
{
	return strcmp(a->serial, b->serial) == 0 &&
	    strcmp(a->gen_time, b->gen_time) == 0 &&
	    strcmp(a->policy, b->policy) == 0 &&
	    strcmp(a->imprint_alg, b->imprint_alg) == 0 &&
	    strcmp(a->imprint, b->imprint) == 0 &&
	    strcmp(a->nonce, b->nonce) == 0 && a->cert_req == b->cert_req &&
	    a->cert_id == b->cert_id;
}

/* The record's line, malloc'd, its length in *len; aborts on failure. */
static char *
fuzz_write(const struct tsa_record *t, size_t *len)
{
	char *buf = NULL;
	FILE *f;

	if ((f = open_memstream(&buf, len)) == NULL)
		abort();
	tsa_spill_write_line(t, f);
	if (fclose(f) != 0)
		abort();
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tsa_record t, u;
	char line[FUZZ_LINE_MAX + 1], *out, *again;
	size_t len, len2, i, tabs = 0;
	int whole;

	if (size < 1 || size - 1 > FUZZ_LINE_MAX)
		return 0;
	whole = data[0] & 1;
	memcpy(line, data + 1, size - 1);
	line[size - 1] = '\0';
	if (tsa_spill_parse_line(line, whole, &t) == -1)
		return 0;
	if (t.cert_id < 0 || (!whole && t.cert_id != 0) ||
	    t.serial[0] == '\0' || t.gen_time[0] == '\0' ||
	    (t.cert_req != 0 && t.cert_req != 1))
		abort();
	out = fuzz_write(&t, &len);
	if (len == 0 || len > FUZZ_LINE_MAX || out[len - 1] != '\n' ||
	    memchr(out, '\0', len) != NULL)
		abort();
	for (i = 0; i < len; i++)
		tabs += out[i] == '\t';
	if (tabs != 7 || memchr(out, '\n', len) != out + len - 1)
		abort();
	if (tsa_spill_parse_line(out, 1, &u) == -1 || !fuzz_same(&t, &u))
		abort();
	again = fuzz_write(&u, &len2);
	if (len2 != len)
		abort();
	free(out);
	out = fuzz_write(&t, &len);
	if (memcmp(out, again, len) != 0)
		abort();
	free(out);
	free(again);
	return 0;
}
