/*
 * lib/merkle.c against RFC 9162 / Certificate Transparency test vectors:
 * the roots of the trees of the first 1..8 of eight known leaves (the
 * certificate-transparency reference implementation's test data, checked
 * again with a ten-line Python MTH when this test was written), and
 * every inclusion proof of every tree up to 70 leaves verified, with a
 * wrong leaf, index, root or path refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/merkle.h"

static const char *const leaves_hex[8] = {
	"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
	"606162636465666768696a6b6c6d6e6f",
};

static const char *const roots_hex[8] = {
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static size_t
unhex(const char *h, unsigned char *out)
{
	size_t n = strlen(h) / 2, i;
	unsigned int b;

	for (i = 0; i < n; i++) {
		sscanf(h + 2 * i, "%2x", &b);
		out[i] = (unsigned char)b;
	}
	return n;
}

static void
test_vectors(void **state)
{
	unsigned char data[32], root[MERKLE_HASH], want[MERKLE_HASH], leaf[MERKLE_HASH];
	struct merkle m, r;
	size_t i, len;

	(void)state;
	merkle_init(&m);
	merkle_root(&m, root);
	unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    want);
	assert_memory_equal(root, want, MERKLE_HASH);
	for (i = 0; i < 8; i++) {
		len = unhex(leaves_hex[i], data);
		merkle_leaf_hash(data, len, leaf);
		assert_int_equal(merkle_append(&m, leaf), 0);
		merkle_root(&m, root);
		unhex(roots_hex[i], want);
		assert_memory_equal(root, want, MERKLE_HASH);
		/* A tree resumed from its frontier has the same root. */
		assert_int_equal(merkle_resume(&r, m.size,
		    (const unsigned char (*)[MERKLE_HASH])m.frontier, m.nf), 0);
		merkle_root(&r, want);
		assert_memory_equal(root, want, MERKLE_HASH);
	}
	assert_int_equal(m.size, 8);
	assert_int_equal(m.nf, 1);
	/* A frontier that does not fit the size is refused. */
	assert_int_equal(merkle_resume(&r, 7,
	    (const unsigned char (*)[MERKLE_HASH])m.frontier, 1), -1);
}

static void
test_inclusion(void **state)
{
	static unsigned char leaves[70][MERKLE_HASH];
	unsigned char path[MERKLE_DEPTH][MERKLE_HASH], root[MERKLE_HASH],
	    bad[MERKLE_HASH];
	struct merkle m;
	uint64_t size, i;
	size_t n, k;
	unsigned char b;

	(void)state;
	for (i = 0; i < 70; i++) {
		b = (unsigned char)i;
		merkle_leaf_hash(&b, 1, leaves[i]);
	}
	for (size = 1; size <= 70; size++) {
		merkle_init(&m);
		for (i = 0; i < size; i++)
			assert_int_equal(merkle_append(&m, leaves[i]), 0);
		merkle_root(&m, root);
		for (i = 0; i < size; i++) {
			assert_int_equal(merkle_inclusion_proof(
			    (const unsigned char (*)[MERKLE_HASH])leaves, size,
			    i, path, &n), 0);
			assert_int_equal(merkle_inclusion_verify(leaves[i], i,
			    size, (const unsigned char (*)[MERKLE_HASH])path, n,
			    root), 0);
			/* Another leaf, index or size; a bad root or path. */
			assert_int_equal(merkle_inclusion_verify(
			    leaves[(i + 1) % 70], i, size,
			    (const unsigned char (*)[MERKLE_HASH])path, n, root),
			    -1);
			if (size > 1)
				assert_int_equal(merkle_inclusion_verify(
				    leaves[i], (i + 1) % size, size,
				    (const unsigned char (*)[MERKLE_HASH])path,
				    n, root), -1);
			/*
			 * (The size is not checked against the path alone: a
			 * proof in a tree of 3 also fits one of 4. The size is
			 * bound by the signed tree head the root comes from.)
			 */
			memcpy(bad, root, MERKLE_HASH);
			bad[0] ^= 1;
			assert_int_equal(merkle_inclusion_verify(leaves[i], i,
			    size, (const unsigned char (*)[MERKLE_HASH])path, n,
			    bad), -1);
			for (k = 0; k < n; k++) {
				path[k][5] ^= 0x40;
				assert_int_equal(merkle_inclusion_verify(
				    leaves[i], i, size,
				    (const unsigned char (*)[MERKLE_HASH])path,
				    n, root), -1);
				path[k][5] ^= 0x40;
			}
			if (n > 0)
				assert_int_equal(merkle_inclusion_verify(
				    leaves[i], i, size,
				    (const unsigned char (*)[MERKLE_HASH])path,
				    n - 1, root), -1);
		}
		assert_int_equal(merkle_inclusion_proof(
		    (const unsigned char (*)[MERKLE_HASH])leaves, size, size,
		    path, &n), -1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_inclusion),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
