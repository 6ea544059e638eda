/*
 * RFC 9162 §2.1 Merkle trees over SHA-256 (the Certificate Transparency
 * tree): leaf hash SHA-256(0x00 || data), node hash SHA-256(0x01 || left ||
 * right), the tree of n leaves split at the largest power of two below n.
 * Used to seal the audit trail (lib/auditseal.h, audit/README.md).
 *
 * struct merkle grows a tree one leaf at a time keeping only its frontier:
 * the roots of its perfect subtrees, largest first (one per set bit of the
 * size), so a seal can be extended with new events without the old ones.
 */
#ifndef PKI_MERKLE_H
#define PKI_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH	32
#define MERKLE_DEPTH	64	/* frontier entries and proof steps, at most */

struct merkle {
	uint64_t	size;
	size_t		nf;
	unsigned char	frontier[MERKLE_DEPTH][MERKLE_HASH];
};

void	merkle_leaf_hash(const void *data, size_t len,
	    unsigned char out[MERKLE_HASH]);
void	merkle_node_hash(const unsigned char left[MERKLE_HASH],
	    const unsigned char right[MERKLE_HASH], unsigned char out[MERKLE_HASH]);

/* An empty tree. */
void	merkle_init(struct merkle *);

/*
 * The tree of size leaves whose frontier is given (nf hashes, largest
 * subtree first): 0, or -1 when nf is not the number of set bits of size.
 */
int	merkle_resume(struct merkle *, uint64_t size,
	    const unsigned char (*frontier)[MERKLE_HASH], size_t nf);

/* Appends a leaf hash. 0, or -1 when the tree is full (2^64 - 1 leaves). */
int	merkle_append(struct merkle *, const unsigned char leaf[MERKLE_HASH]);

/* The root; the empty tree's is SHA-256 of nothing. */
void	merkle_root(const struct merkle *, unsigned char out[MERKLE_HASH]);

/*
 * The inclusion proof (RFC 9162 §2.1.3.1) of leaf index in the tree of the
 * first size leaf hashes of leaves: *n hashes into path (at most
 * MERKLE_DEPTH), from the leaf's sibling up. 0, or -1 when index >= size.
 */
int	merkle_inclusion_proof(const unsigned char (*leaves)[MERKLE_HASH],
	    uint64_t size, uint64_t index,
	    unsigned char path[MERKLE_DEPTH][MERKLE_HASH], size_t *n);

/*
 * Verifies an inclusion proof (RFC 9162 §2.1.3.2): 0 when leaf is at index
 * in the tree of size leaves whose root is root, -1 otherwise.
 */
int	merkle_inclusion_verify(const unsigned char leaf[MERKLE_HASH],
	    uint64_t index, uint64_t size,
	    const unsigned char (*path)[MERKLE_HASH], size_t n,
	    const unsigned char root[MERKLE_HASH]);

#endif
