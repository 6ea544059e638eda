/*
 * libFuzzer harness for the untrusted-JSON entry points: json_load_bounded()
 * then json_unpack_strict() with a request-shaped format, as the RA and the
 * remote-signing service use them.
 *
 *	clang -fsanitize=fuzzer,address -I. -D_GNU_SOURCE tests/fuzz/fuzz_json.c \
 *	    lib/json.c lib/log.c -ljansson -lcrypto
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "lib/json.h"

#define FUZZ_JSON_MAX	(64 * 1024)

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t err;
	json_t *root, *hashes = NULL;
	const char *cred = NULL, *algo = NULL, *sad = NULL;
	json_int_t num = 0;
	int flag = 0;

	root = json_load_bounded(data, size, FUZZ_JSON_MAX, &err);
	if (root == NULL)
		return 0;
	/* A CSC v2 signHash-like body: strict, with optional members. */
	if (json_unpack_strict(root, &err, "{s:s, s:o, s:s, s?s, s?I, s?b}",
	    "credentialID", &cred, "hashes", &hashes, "signAlgo", &algo,
	    "SAD", &sad, "numSignatures", &num, "flag", &flag) == 0) {
		if (cred == NULL || algo == NULL || hashes == NULL)
			__builtin_trap();
	}
	/* And a loose one, which must never fail on extra members alone. */
	(void)json_unpack_strict(root, &err, "{s?s*}", "credentialID", &cred);
	json_decref(root);
	return 0;
}
