/*
 * libFuzzer harness for rad's KYC request parser (ra/kycreq.c) and its
 * base64 decoder. Invariants: a parsed request has a structurally valid NIK,
 * a real birth date, sex M or F, and two images within the limits whose
 * magic bytes give their type; a refusal answers 400, 413, 415 or 422 (an
 * image's declared pixel size; ra/image.c has its own harness); every
 * base64 text that decodes is canonical (re-encoding gives it back).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ra/extern.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_IMAGE_MAX	4096	/* small, so that the limit is reachable */
/* Pixels too; a side of 1 for the seeds' tiny images. */
static const struct ra_image_limits lim = { FUZZ_IMAGE_MAX, 1, 1024, 65536 };

static void
fuzz_image(const struct ra_image *img)
{
	if (img->data == NULL || img->len < RA_IMAGE_MIN ||
	    img->len > FUZZ_IMAGE_MAX || img->mime == NULL ||
	    ra_image_type(img->data, img->len) != img->mime ||
	    img->width < 1 || img->width > 1024 || img->height < 1 ||
	    img->height > 1024 || img->width * img->height > 65536)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ra_kyc_req r;
	struct ra_nik nik;
	struct ra_date d;
	unsigned char *out = NULL, *enc = NULL;
	char detail[256];
	size_t n;
	int status, big, m;

	if (ra_parse_kyc(data, size, &lim, &r, &status, detail,
	    sizeof(detail)) == 0) {
		if (ra_nik_parse(r.nik, &nik, detail, sizeof(detail)) != 0 ||
		    ra_date_parse(r.birth_date, &d) != 0 ||
		    (r.sex != 'M' && r.sex != 'F') || r.full_name[0] == '\0' ||
		    r.address[0] == '\0' || r.privacy_version[0] == '\0')
			__builtin_trap();
		fuzz_image(&r.ktp);
		fuzz_image(&r.selfie);
		(void)ra_nik_check(r.nik, &r.birth, r.sex, detail,
		    sizeof(detail));
	} else if (status != 400 && status != 413 && status != 415 &&
	    status != 422)
		__builtin_trap();
	ra_kyc_req_free(&r);

	if (ra_base64_decode((const char *)data, size, FUZZ_IMAGE_MAX, &out,
	    &n, &big) == 0) {
		if (n > FUZZ_IMAGE_MAX || big || (enc = malloc(size + 1)) == NULL)
			__builtin_trap();
		m = EVP_EncodeBlock(enc, out, (int)n);
		if (m < 0 || (size_t)m != size || memcmp(enc, data, size) != 0)
			__builtin_trap();
		free(enc);
		free(out);
	} else if (out != NULL)
		__builtin_trap();
	return 0;
}
