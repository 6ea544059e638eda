/*
 * The SAM wire format (hsm/signd/extern.h): bodies of AUTHORIZE and
 * SIGNHASH and of their replies. Framing is hsm/signer_proto.c's. Every
 * decoder checks each field against its cap and consumes the body exactly;
 * the SAM's decoders are fuzzed (tests/fuzz/fuzz_sam_request.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm/signd/extern.h"

struct sam_buf {
	unsigned char	*p;
	size_t		 len, cap;
	int		 err;
};

struct sam_rd {
	const unsigned char	*p;
	size_t			 left;
};

static void
sam_put(struct sam_buf *b, const void *v, size_t n)
{
	unsigned char *np;
	size_t ncap;

	if (b->err)
		return;
	if (b->len + n > b->cap) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < b->len + n)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->err = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, v, n);
	b->len += n;
}

static void
sam_put32(struct sam_buf *b, uint32_t v)
{
	unsigned char x[4] = { v >> 24, v >> 16, v >> 8, v };

	sam_put(b, x, 4);
}

static void
sam_put64(struct sam_buf *b, uint64_t v)
{
	sam_put32(b, (uint32_t)(v >> 32));
	sam_put32(b, (uint32_t)v);
}

static int
sam_get(struct sam_rd *r, void *v, size_t n)
{
	if (r->left < n)
		return -1;
	memcpy(v, r->p, n);
	r->p += n;
	r->left -= n;
	return 0;
}

static int
sam_get32(struct sam_rd *r, uint32_t *v)
{
	unsigned char x[4];

	if (sam_get(r, x, 4) == -1)
		return -1;
	*v = (uint32_t)x[0] << 24 | (uint32_t)x[1] << 16 | (uint32_t)x[2] << 8 |
	    x[3];
	return 0;
}

static int
sam_get64(struct sam_rd *r, uint64_t *v)
{
	uint32_t hi, lo;

	if (sam_get32(r, &hi) == -1 || sam_get32(r, &lo) == -1)
		return -1;
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

static int
sam_finish(struct sam_buf *b, unsigned char **body, size_t *len)
{
	if (b->err) {
		free(b->p);
		*body = NULL;
		*len = 0;
		return -1;
	}
	*body = b->p;
	*len = b->len;
	return 0;
}

size_t
sam_md_len(uint32_t md)
{
	switch (md) {
	case SAM_MD_SHA256:
		return 32;
	case SAM_MD_SHA384:
		return 48;
	case SAM_MD_SHA512:
		return 64;
	}
	return 0;
}

const char *
sam_md_name(uint32_t md)
{
	switch (md) {
	case SAM_MD_SHA256:
		return "SHA256";
	case SAM_MD_SHA384:
		return "SHA384";
	case SAM_MD_SHA512:
		return "SHA512";
	}
	return NULL;
}

static void
sam_put_hashes(struct sam_buf *b, const struct sam_hashes *h)
{
	size_t dl = sam_md_len(h->md);
	uint32_t i;

	sam_put32(b, h->md);
	sam_put32(b, h->n);
	if (dl == 0 || h->n > SIGND_HASHES_MAX) {
		b->err = 1;
		return;
	}
	for (i = 0; i < h->n; i++)
		sam_put(b, h->h[i], dl);
}

/* md known, 1 <= n <= max, n digests of md's length, all distinct. */
static int
sam_get_hashes(struct sam_rd *r, struct sam_hashes *h)
{
	size_t dl;
	uint32_t i, j;

	if (sam_get32(r, &h->md) == -1 || sam_get32(r, &h->n) == -1)
		return -1;
	if ((dl = sam_md_len(h->md)) == 0 || h->n < 1 ||
	    h->n > SIGND_HASHES_MAX)
		return -1;
	for (i = 0; i < h->n; i++) {
		if (sam_get(r, h->h[i], dl) == -1)
			return -1;
		for (j = 0; j < i; j++)
			if (memcmp(h->h[i], h->h[j], dl) == 0)
				return -1;
	}
	return 0;
}

int
sam_authorize_encode(const struct sam_authorize_req *q, unsigned char **body,
    size_t *len)
{
	struct sam_buf b;

	memset(&b, 0, sizeof(b));
	sam_put64(&b, q->credential);
	sam_put(&b, q->token, SIGND_TOKEN_BYTES);
	sam_put32(&b, q->factor);
	sam_put64(&b, q->otp_id);
	if (strlen(q->secret) != 6)
		b.err = 1;
	sam_put(&b, q->secret, 6);
	sam_put_hashes(&b, &q->hashes);
	return sam_finish(&b, body, len);
}

int
sam_authorize_decode(const unsigned char *body, size_t len,
    struct sam_authorize_req *q)
{
	struct sam_rd r = { body, len };
	int i;

	memset(q, 0, sizeof(*q));
	if (sam_get64(&r, &q->credential) == -1 ||
	    sam_get(&r, q->token, SIGND_TOKEN_BYTES) == -1 ||
	    sam_get32(&r, &q->factor) == -1 ||
	    sam_get64(&r, &q->otp_id) == -1 ||
	    sam_get(&r, q->secret, 6) == -1)
		goto bad;
	for (i = 0; i < 6; i++)
		if (q->secret[i] < '0' || q->secret[i] > '9')
			goto bad;
	if (q->credential == 0 || q->credential > INT64_MAX ||
	    q->otp_id > INT64_MAX)
		goto bad;
	if (!((q->factor == SAM_FACTOR_OTP && q->otp_id > 0) ||
	    (q->factor == SAM_FACTOR_PIN && q->otp_id == 0) ||
	    (q->factor == SAM_FACTOR_TOTP && q->otp_id == 0)))
		goto bad;
	if (sam_get_hashes(&r, &q->hashes) == -1 || r.left != 0)
		goto bad;
	return 0;
bad:
	csc_wipe(q, sizeof(*q));
	memset(q, 0, sizeof(*q));
	return -1;
}

int
sam_signhash_encode(const struct sam_signhash_req *q, unsigned char **body,
    size_t *len)
{
	struct sam_buf b;

	memset(&b, 0, sizeof(b));
	sam_put64(&b, q->credential);
	sam_put(&b, q->token, SIGND_TOKEN_BYTES);
	sam_put(&b, q->sad, SIGND_SAD_BYTES);
	sam_put32(&b, q->algo);
	sam_put_hashes(&b, &q->hashes);
	return sam_finish(&b, body, len);
}

int
sam_signhash_decode(const unsigned char *body, size_t len,
    struct sam_signhash_req *q)
{
	struct sam_rd r = { body, len };

	memset(q, 0, sizeof(*q));
	if (sam_get64(&r, &q->credential) == -1 ||
	    sam_get(&r, q->token, SIGND_TOKEN_BYTES) == -1 ||
	    sam_get(&r, q->sad, SIGND_SAD_BYTES) == -1 ||
	    sam_get32(&r, &q->algo) == -1)
		goto bad;
	if (q->credential == 0 || q->credential > INT64_MAX ||
	    q->algo < SAM_ALGO_RSA_PKCS1 || q->algo > SAM_ALGO_ECDSA)
		goto bad;
	if (sam_get_hashes(&r, &q->hashes) == -1 || r.left != 0)
		goto bad;
	return 0;
bad:
	csc_wipe(q, sizeof(*q));
	memset(q, 0, sizeof(*q));
	return -1;
}

int
sam_refusal_encode(uint32_t error, uint32_t retry_after, const char *text,
    unsigned char **body, size_t *len)
{
	struct sam_buf b;

	memset(&b, 0, sizeof(b));
	sam_put32(&b, error);
	sam_put32(&b, retry_after);
	sam_put(&b, text, strlen(text));
	return sam_finish(&b, body, len);
}

int
sam_refusal_decode(const unsigned char *body, size_t len, uint32_t *error,
    uint32_t *retry_after, char *text, size_t textlen)
{
	struct sam_rd r = { body, len };
	size_t n;

	if (sam_get32(&r, error) == -1 || sam_get32(&r, retry_after) == -1 ||
	    textlen == 0)
		return -1;
	n = r.left < textlen - 1 ? r.left : textlen - 1;
	memcpy(text, r.p, n);
	text[n] = '\0';
	return 0;
}

void
sam_sigs_free(unsigned char **sigs, size_t *siglens, uint32_t n)
{
	uint32_t i;

	if (sigs != NULL)
		for (i = 0; i < n; i++)
			free(sigs[i]);
	free(sigs);
	free(siglens);
}

int
sam_sigs_decode(const unsigned char *body, size_t len, unsigned char ***sigsp,
    size_t **lensp, uint32_t *np)
{
	struct sam_rd r = { body, len };
	unsigned char **sigs = NULL;
	size_t *lens = NULL;
	uint32_t n = 0, i, l;
	int rc = -1;

	*sigsp = NULL;
	*lensp = NULL;
	*np = 0;
	if (sam_get32(&r, &n) == -1 || n < 1 || n > SIGND_HASHES_MAX)
		goto out;
	if ((sigs = calloc(n, sizeof(*sigs))) == NULL ||
	    (lens = calloc(n, sizeof(*lens))) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		if (sam_get32(&r, &l) == -1 || l < 1 || l > SIGND_SIG_MAX ||
		    (sigs[i] = malloc(l)) == NULL ||
		    sam_get(&r, sigs[i], l) == -1)
			goto out;
		lens[i] = l;
	}
	if (r.left != 0)
		goto out;
	*sigsp = sigs;
	*lensp = lens;
	*np = n;
	sigs = NULL;
	lens = NULL;
	rc = 0;
out:
	sam_sigs_free(sigs, lens, n);
	return rc;
}

int
sam_sigs_encode(unsigned char *const *sigs, const size_t *lens, uint32_t n,
    unsigned char **body, size_t *len)
{
	struct sam_buf b;
	uint32_t i;

	memset(&b, 0, sizeof(b));
	sam_put32(&b, n);
	for (i = 0; i < n; i++) {
		sam_put32(&b, (uint32_t)lens[i]);
		sam_put(&b, sigs[i], lens[i]);
	}
	return sam_finish(&b, body, len);
}
