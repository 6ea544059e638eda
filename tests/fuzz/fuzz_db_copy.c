/*
 * libFuzzer harness for the binary COPY parser (lib/db.c db_copy_parse),
 * through which crld reads a million revoked certificates. The input is a
 * series of messages, each a 2-byte big-endian length and its bytes, fed
 * in order as libpq would hand over CopyData messages. Every field a row
 * shows must lie inside the message it came in, and nothing may be read
 * after the parser said no or after the trailer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/db.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct msg {
	const uint8_t	*d;
	size_t		 len;
	unsigned	 sum;
};

static int
check_row(void *arg, const struct db_row *row)
{
	struct msg *m = arg;
	int i, k;

	if (row->nfields < 0 || row->nfields > DB_ROW_FIELDS)
		abort();
	for (i = 0; i < row->nfields; i++) {
		if (row->length[i] == -1) {
			if (row->value[i] != NULL)
				abort();
			continue;
		}
		if (row->length[i] < 0 || row->value[i] < m->d ||
		    row->value[i] + row->length[i] > m->d + m->len)
			abort();
		for (k = 0; k < row->length[i]; k++)
			m->sum += row->value[i][k];
	}
	/* A row whose first field starts with '!' stops the stream. */
	return row->nfields > 0 && row->length[0] > 0 &&
	    row->value[0][0] == '!' ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct db_copy_state st;
	struct msg m = { NULL, 0, 0 };
	size_t off = 0;
	uint8_t *copy;
	int r = 0;

	memset(&st, 0, sizeof(st));
	while (size - off >= 2) {
		m.len = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (m.len > size - off)
			m.len = size - off;
		/* Its own allocation, so ASan sees a read past the message. */
		if ((copy = malloc(m.len > 0 ? m.len : 1)) == NULL)
			return 0;
		memcpy(copy, data + off, m.len);
		m.d = copy;
		off += m.len;
		r = db_copy_parse(&st, copy, m.len, check_row, &m);
		free(copy);
		if (r != 0)
			break;
	}
	if (r == 1 && !st.trailer_seen)
		abort();
	/* After an answer other than 0 the parser refuses everything. */
	if (r != 0 && db_copy_parse(&st, (const uint8_t *)"\0\0", 2, check_row,
	    &m) != -1)
		abort();
	return 0;
}
