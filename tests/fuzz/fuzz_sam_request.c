/*
 * libFuzzer harness: the SAM's decoding of request bodies from signd's
 * worker (hsm/signd/sam_proto.c), and the worker's decoding of the SAM's
 * replies. A worker is less trusted than its SAM: any bytes must be refused
 * or decoded within the caps (1..100 distinct hashes of the md's length,
 * 6-digit secrets, an OTP id exactly for an OTP factor), never crash; what
 * decodes must encode back to the same bytes; a refusal's text is the
 * body's, cut at the cap.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hsm/signd/extern.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_hashes(const struct sam_hashes *h)
{
	size_t dl = sam_md_len(h->md);
	uint32_t i, j;

	if (dl == 0 || h->n < 1 || h->n > SIGND_HASHES_MAX)
		abort();
	for (i = 0; i < h->n; i++)
		for (j = 0; j < i; j++)
			if (memcmp(h->h[i], h->h[j], dl) == 0)
				abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sam_authorize_req a;
	struct sam_signhash_req s;
	unsigned char *body = NULL, **sigs = NULL;
	size_t len = 0, *lens = NULL, tl;
	uint32_t e, ra, n = 0, i;
	char text[64];

	if (sam_authorize_decode(data, size, &a) == 0) {
		check_hashes(&a.hashes);
		if (strlen(a.secret) != 6 ||
		    (a.factor == SAM_FACTOR_OTP) != (a.otp_id != 0) ||
		    sam_authorize_encode(&a, &body, &len) == -1 ||
		    len != size || memcmp(body, data, size) != 0)
			abort();
		free(body);
		body = NULL;
	}
	if (sam_signhash_decode(data, size, &s) == 0) {
		check_hashes(&s.hashes);
		if (s.algo < SAM_ALGO_RSA_PKCS1 || s.algo > SAM_ALGO_ECDSA ||
		    sam_signhash_encode(&s, &body, &len) == -1 ||
		    len != size || memcmp(body, data, size) != 0)
			abort();
		free(body);
		body = NULL;
	}
	/*
	 * A refusal's text is the SAM's own (the worker quotes it): exactly
	 * the bytes after the two u32, up to a NUL or the buffer's cap, and
	 * nothing from beyond the body.
	 */
	if (sam_refusal_decode(data, size, &e, &ra, text, sizeof(text)) == 0) {
		if (size < 8)
			abort();
		tl = strnlen((const char *)data + 8, size - 8 <
		    sizeof(text) - 1 ? size - 8 : sizeof(text) - 1);
		if (strlen(text) != tl || memcmp(text, data + 8, tl) != 0)
			abort();
	}
	if (sam_sigs_decode(data, size, &sigs, &lens, &n) == 0) {
		if (n < 1 || n > SIGND_HASHES_MAX)
			abort();
		for (i = 0; i < n; i++)
			if (lens[i] < 1 || lens[i] > SIGND_SIG_MAX)
				abort();
		if (sam_sigs_encode(sigs, lens, n, &body, &len) == -1 ||
		    len != size || memcmp(body, data, size) != 0)
			abort();
		free(body);
		sam_sigs_free(sigs, lens, n);
	}
	return 0;
}
