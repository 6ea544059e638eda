/*
 * libFuzzer harness for the worker's readers of its signer's replies
 * (hsm/signer_client.c): a refusal's text (signer_reply_text), a PUBKEY or
 * KEYGEN reply (signer_spki) and a WRAPGEN reply (signer_wrapgen_reply).
 * The signer is another process, its replies bytes the worker must not
 * trust: any bytes must be refused or read within them, never crash.
 *
 * Invariants: the text is the reply cut to errlen - 1 bytes, NUL-ended,
 * each control byte (below 0x20, 0x7f) a '?', nothing else changed, no
 * byte written past errlen. A key signer_spki gives is the key d2i_PUBKEY
 * reads from all of the same bytes, and re-encodes to the same DER; a
 * refusal leaves no key and says why. A WRAPGEN reply read gives the n
 * bytes after its u32 n (n >= 2) as the blob and, as its key, what
 * signer_spki reads from the rest; a refusal leaves no blob and no key.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "hsm/extern.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_text(const uint8_t *data, size_t size, size_t errlen)
{
	char *err;
	size_t i, n;

	/* errlen + 1: the byte after the buffer must stay as it was. */
	if ((err = malloc(errlen + 1)) == NULL)
		return;
	memset(err, 'x', errlen + 1);
	signer_reply_text(data, size, err, errlen);
	if (err[errlen] != 'x')
		__builtin_trap();
	if (errlen == 0)
		goto out;
	n = size < errlen - 1 ? size : errlen - 1;
	if (err[n] != '\0')
		__builtin_trap();
	for (i = 0; i < n; i++)
		if ((data[i] >= 0x20 && data[i] != 0x7f) ?
		    err[i] != (char)data[i] : err[i] != '?')
			__builtin_trap();
out:
	free(err);
}

/* The DER of pub, or trap. Caller frees. */
static unsigned char *
fuzz_der(EVP_PKEY *pub, int *len)
{
	unsigned char *der = NULL;

	if ((*len = i2d_PUBKEY(pub, &der)) <= 0)
		__builtin_trap();
	return der;
}

/* signer_spki on b: the key d2i_PUBKEY reads from exactly b, or none. */
static EVP_PKEY *
fuzz_spki(const unsigned char *b, size_t len)
{
	const unsigned char *p = b;
	unsigned char *d1, *d2;
	EVP_PKEY *pub = (EVP_PKEY *)&pub, *ref;
	char err[128] = "";
	int n1, n2;

	ref = d2i_PUBKEY(NULL, &p, (long)len);
	if (signer_spki(b, len, &pub, err, sizeof(err)) == -1) {
		if (pub != NULL || err[0] == '\0' ||
		    (ref != NULL && p == b + len))
			__builtin_trap();
		EVP_PKEY_free(ref);
		ERR_clear_error();
		return NULL;
	}
	if (pub == NULL || ref == NULL || p != b + len ||
	    EVP_PKEY_eq(pub, ref) != 1)
		__builtin_trap();
	d1 = fuzz_der(pub, &n1);
	d2 = fuzz_der(ref, &n2);
	if (n1 != n2 || memcmp(d1, d2, (size_t)n1) != 0)
		__builtin_trap();
	OPENSSL_free(d1);
	OPENSSL_free(d2);
	EVP_PKEY_free(ref);
	ERR_clear_error();
	return pub;
}

static void
fuzz_wrapgen(const uint8_t *data, size_t size)
{
	unsigned char *blob = (unsigned char *)&blob;
	size_t bloblen = 1, n;
	EVP_PKEY *pub = (EVP_PKEY *)&pub, *ref;
	char err[128] = "";

	if (signer_wrapgen_reply(data, size, &blob, &bloblen, &pub, err,
	    sizeof(err)) == -1) {
		if (blob != NULL || bloblen != 0 || pub != NULL ||
		    err[0] == '\0')
			__builtin_trap();
		ERR_clear_error();
		return;
	}
	if (size < 4)
		__builtin_trap();
	n = (size_t)data[0] << 24 | (size_t)data[1] << 16 |
	    (size_t)data[2] << 8 | data[3];
	if (n < 2 || n > size - 4 || bloblen != n || blob == NULL ||
	    memcmp(blob, data + 4, n) != 0 || pub == NULL)
		__builtin_trap();
	if ((ref = fuzz_spki(data + 4 + n, size - 4 - n)) == NULL ||
	    EVP_PKEY_eq(pub, ref) != 1)
		__builtin_trap();
	EVP_PKEY_free(ref);
	EVP_PKEY_free(pub);
	free(blob);
	ERR_clear_error();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	EVP_PKEY *pub;

	fuzz_text(data, size, 0);
	fuzz_text(data, size, 1);
	fuzz_text(data, size, 16);
	fuzz_text(data, size, 256);
	signer_reply_text(data, size, NULL, 16);
	if ((pub = fuzz_spki(data, size)) != NULL)
		EVP_PKEY_free(pub);
	fuzz_wrapgen(data, size);
	return 0;
}
