/*
 * libFuzzer harness for rad's KYC image header check (ra/image.c): every
 * input is read as a PNG (libpng, up to its first IDAT) and as a JPEG
 * (libjpeg, up to its first SOS), whatever its magic bytes, and once with
 * the type they give. Invariants: an accepted header declares a size within
 * the limits; a refusal is RA_IMAGE_MALFORMED or RA_IMAGE_DIMENSIONS (never
 * out of memory on these few bytes) with a detail naming the member, and
 * leaves no size; neither library exits, aborts or writes to stderr.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ra/extern.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small, so that each limit is reachable; a side of 1 for tiny seeds. */
static const struct ra_image_limits lim = { 4096, 1, 1024, 65536 };

static void
fuzz_check(const uint8_t *data, size_t size, const char *mime)
{
	unsigned long w = 1, h = 1;
	char detail[512];
	int rc;

	detail[0] = '\0';
	rc = ra_image_check(data, size, mime, &lim, "selfie", &w, &h, detail,
	    sizeof(detail));
	if (rc == RA_IMAGE_OK) {
		if (mime == NULL || w < (unsigned long)lim.min_side ||
		    h < (unsigned long)lim.min_side ||
		    w > (unsigned long)lim.max_side ||
		    h > (unsigned long)lim.max_side ||
		    (unsigned long long)w * h > (unsigned long long)lim.max_pixels)
			__builtin_trap();
	} else if ((rc != RA_IMAGE_MALFORMED && rc != RA_IMAGE_DIMENSIONS) ||
	    strncmp(detail, "selfie: ", 8) != 0 ||
	    (rc == RA_IMAGE_MALFORMED && (w != 0 || h != 0)))
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_check(data, size, ra_image_type(data, size));
	fuzz_check(data, size, "image/png");
	fuzz_check(data, size, "image/jpeg");
	return 0;
}
