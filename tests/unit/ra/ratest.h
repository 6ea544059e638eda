/*
 * Helpers shared by rad's parser unit tests (tests/unit/ra/).
 */
#ifndef PKI_RATEST_H
#define PKI_RATEST_H

#include <stddef.h>

/* 1 when n bytes at p are all zero: a refused parse leaves nothing. */
static inline int
all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n-- > 0)
		if (*b++ != 0)
			return 0;
	return 1;
}

#endif
