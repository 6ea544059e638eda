/* RFC 9162 Merkle trees over SHA-256; see merkle.h. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "lib/merkle.h"

void
merkle_leaf_hash(const void *data, size_t len, unsigned char out[MERKLE_HASH])
{
	static const unsigned char zero = 0x00;
	EVP_MD_CTX *c;

	/* Only an allocation can fail: then no hash at all, never a wrong one. */
	if ((c = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, &zero, 1) != 1 ||
	    EVP_DigestUpdate(c, data, len) != 1 ||
	    EVP_DigestFinal_ex(c, out, NULL) != 1)
		abort();
	EVP_MD_CTX_free(c);
}

void
merkle_node_hash(const unsigned char left[MERKLE_HASH],
    const unsigned char right[MERKLE_HASH], unsigned char out[MERKLE_HASH])
{
	unsigned char buf[1 + 2 * MERKLE_HASH];

	buf[0] = 0x01;
	memcpy(buf + 1, left, MERKLE_HASH);
	memcpy(buf + 1 + MERKLE_HASH, right, MERKLE_HASH);
	SHA256(buf, sizeof(buf), out);
}

void
merkle_init(struct merkle *m)
{
	memset(m, 0, sizeof(*m));
}

int
merkle_resume(struct merkle *m, uint64_t size,
    const unsigned char (*frontier)[MERKLE_HASH], size_t nf)
{
	if (nf != (size_t)__builtin_popcountll(size))
		return -1;
	merkle_init(m);
	m->size = size;
	m->nf = nf;
	if (nf > 0)
		memcpy(m->frontier, frontier, nf * MERKLE_HASH);
	return 0;
}

int
merkle_append(struct merkle *m, const unsigned char leaf[MERKLE_HASH])
{
	uint64_t n = m->size;

	if (n == UINT64_MAX)
		return -1;
	memcpy(m->frontier[m->nf++], leaf, MERKLE_HASH);
	/* Each trailing one bit of the old size is a subtree now complete. */
	while (n & 1) {
		merkle_node_hash(m->frontier[m->nf - 2], m->frontier[m->nf - 1],
		    m->frontier[m->nf - 2]);
		m->nf--;
		n >>= 1;
	}
	m->size++;
	return 0;
}

void
merkle_root(const struct merkle *m, unsigned char out[MERKLE_HASH])
{
	size_t i;

	if (m->nf == 0) {
		SHA256((const unsigned char *)"", 0, out);
		return;
	}
	/* The smaller subtrees hang off the right of the larger ones. */
	memcpy(out, m->frontier[m->nf - 1], MERKLE_HASH);
	for (i = m->nf - 1; i > 0; i--)
		merkle_node_hash(m->frontier[i - 1], out, out);
}

/* The largest power of two below n (n > 1). */
static uint64_t
merkle_split(uint64_t n)
{
	uint64_t k = 1;

	while (k <= (n - 1) >> 1)	/* 2k < n, without overflow */
		k <<= 1;
	return k;
}

/* MTH of leaves[0 .. n-1], n >= 1. */
static void
merkle_subtree(const unsigned char (*leaves)[MERKLE_HASH], uint64_t n,
    unsigned char out[MERKLE_HASH])
{
	struct merkle m;
	uint64_t i;

	merkle_init(&m);
	for (i = 0; i < n; i++)
		(void)merkle_append(&m, leaves[i]);
	merkle_root(&m, out);
}

int
merkle_inclusion_proof(const unsigned char (*leaves)[MERKLE_HASH],
    uint64_t size, uint64_t index, unsigned char path[MERKLE_DEPTH][MERKLE_HASH],
    size_t *n)
{
	unsigned char tmp[MERKLE_DEPTH][MERKLE_HASH];
	uint64_t k;
	size_t depth = 0, i;

	*n = 0;
	if (index >= size)
		return -1;
	/* PATH(m, D[n]) from the top down; reversed into leaf-first order. */
	while (size > 1) {
		k = merkle_split(size);
		if (index < k) {
			merkle_subtree(leaves + k, size - k, tmp[depth++]);
			size = k;
		} else {
			merkle_subtree(leaves, k, tmp[depth++]);
			leaves += k;
			size -= k;
			index -= k;
		}
	}
	for (i = 0; i < depth; i++)
		memcpy(path[i], tmp[depth - 1 - i], MERKLE_HASH);
	*n = depth;
	return 0;
}

int
merkle_inclusion_verify(const unsigned char leaf[MERKLE_HASH], uint64_t index,
    uint64_t size, const unsigned char (*path)[MERKLE_HASH], size_t n,
    const unsigned char root[MERKLE_HASH])
{
	unsigned char r[MERKLE_HASH];
	uint64_t fn, sn;
	size_t i;

	if (size == 0 || index >= size)
		return -1;
	fn = index;
	sn = size - 1;
	memcpy(r, leaf, MERKLE_HASH);
	for (i = 0; i < n; i++) {
		if (sn == 0)
			return -1;
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(path[i], r, r);
			if (!(fn & 1))
				while (!(fn & 1) && fn != 0) {
					fn >>= 1;
					sn >>= 1;
				}
		} else
			merkle_node_hash(r, path[i], r);
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && memcmp(r, root, MERKLE_HASH) == 0 ? 0 : -1;
}
