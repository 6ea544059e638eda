/*
 * libFuzzer harness for hsm/spki.c, the SAM's reading of a credential
 * certificate's public key without OpenSSL's decoders: the walk must
 * never read past the bytes, and a key it gives must be the one
 * d2i_PUBKEY gives for the same SubjectPublicKeyInfo.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "hsm/spki.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* spki_pkey(b) is NULL or d2i_PUBKEY's key of exactly b; abort if not. */
static void
fuzz_same(const unsigned char *b, size_t len)
{
	const unsigned char *p = b;
	EVP_PKEY *ours = spki_pkey(b, len), *ref;

	if (ours == NULL)
		goto out;
	ref = d2i_PUBKEY(NULL, &p, (long)len);
	if (ref == NULL || p != b + len || EVP_PKEY_eq(ours, ref) != 1)
		abort();
	EVP_PKEY_free(ref);
	EVP_PKEY_free(ours);
out:
	ERR_clear_error();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *spki;
	size_t len;

	if (size > 65536)
		return 0;
	/* The bytes as a SubjectPublicKeyInfo, and as a certificate. */
	fuzz_same(data, size);
	if (spki_of_cert(data, size, &spki, &len) == 0) {
		if (spki < data || len > size || spki + len > data + size)
			abort();
		fuzz_same(spki, len);
	}
	return 0;
}
