/*
 * ra/image.c: the header check of KYC images, on real PNGs and JPEGs made
 * here with libpng's and libjpeg's encoders: accepted within the policy's
 * pixel limits; 422 (RA_IMAGE_DIMENSIONS) for a 60000 x 60000 header (the
 * decompression bomb: a few hundred bytes that decode to gigabytes), for
 * too many pixels and for a side under the minimum; 415 (RA_IMAGE_MALFORMED)
 * for a truncated header, a broken IHDR CRC, a tables-only JPEG and a PNG
 * behind a JPEG magic; and the same through ra_parse_kyc, with details
 * naming the member and never quoting the image.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jpeglib.h>
#include <openssl/evp.h>
#include <png.h>

#include "ra/extern.h"

/* policy/ra.conf's defaults. */
static const struct ra_image_limits lim = { 2 << 20, 64, 8000, 40000000 };

struct buf {
	unsigned char	*p;
	size_t		 len;
};

static void
buf_write(png_structp png, png_bytep d, size_t n)
{
	struct buf *b = png_get_io_ptr(png);

	assert_non_null(b->p = realloc(b->p, b->len + n));
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void
buf_flush(png_structp png)
{
	(void)png;
}

/*
 * A PNG of w x h RGB pixels by libpng's encoder. With rows 0 only its
 * signature, IHDR, one IDAT of junk and IEND: what a bomb needs, a header
 * that declares the size (the IDAT is never read by the check).
 */
static unsigned char *
mk_png(png_uint_32 w, png_uint_32 h, int rows, size_t *len)
{
	static const unsigned char junk[16] = { 0x78, 0x9c };
	struct buf b = { NULL, 0 };
	png_structp png;
	png_infop info;
	unsigned char *row;
	png_uint_32 x, y;

	assert_non_null(png = png_create_write_struct(PNG_LIBPNG_VER_STRING,
	    NULL, NULL, NULL));
	assert_non_null(info = png_create_info_struct(png));
	if (setjmp(png_jmpbuf(png)) != 0)
		fail_msg("libpng could not write the test image");
	png_set_write_fn(png, &b, buf_write, buf_flush);
	/* Headers over libpng's default 10^6 px a side too. */
	png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
	png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_RGB,
	    PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
	    PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	if (rows) {
		assert_non_null(row = malloc((size_t)w * 3));
		for (y = 0; y < h; y++) {
			for (x = 0; x < w * 3; x++)
				row[x] = (unsigned char)(x * 7 + y * 3);
			png_write_row(png, row);
		}
		free(row);
		png_write_end(png, info);
	} else {
		png_write_chunk(png, (png_const_bytep)"IDAT", junk,
		    sizeof(junk));
		png_write_chunk(png, (png_const_bytep)"IEND", NULL, 0);
	}
	png_destroy_write_struct(&png, &info);
	*len = b.len;
	return b.p;
}

/* A baseline JPEG of w x h RGB pixels by libjpeg's encoder (malloc'd). */
static unsigned char *
mk_jpeg(unsigned int w, unsigned int h, size_t *len)
{
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr jerr;
	unsigned char *out = NULL, *row;
	unsigned long n = 0;
	JSAMPROW rp[1];
	unsigned int x;

	c.err = jpeg_std_error(&jerr);
	jpeg_create_compress(&c);
	jpeg_mem_dest(&c, &out, &n);
	c.image_width = w;
	c.image_height = h;
	c.input_components = 3;
	c.in_color_space = JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, 75, TRUE);
	jpeg_start_compress(&c, TRUE);
	assert_non_null(row = malloc((size_t)w * 3));
	rp[0] = row;
	while (c.next_scanline < c.image_height) {
		for (x = 0; x < w * 3; x++)
			row[x] = (unsigned char)(x + c.next_scanline);
		jpeg_write_scanlines(&c, rp, 1);
	}
	free(row);
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	*len = n;
	return out;
}

/* The offset of a JPEG's SOF0 marker, walking the segments (T.81 B.1.1). */
static size_t
jpeg_sof(const unsigned char *p, size_t len)
{
	size_t i = 2;

	while (i + 4 <= len && p[i] == 0xff && p[i + 1] != 0xc0)
		i += 2 + ((size_t)p[i + 2] << 8 | p[i + 3]);
	assert_true(i + 9 <= len && p[i] == 0xff && p[i + 1] == 0xc0);
	return i;
}

/* Rewrites a JPEG's declared size (SOF0's Y and X), the rest unchanged. */
static void
jpeg_resize(unsigned char *p, size_t len, unsigned int w, unsigned int h)
{
	size_t i = jpeg_sof(p, len);

	p[i + 5] = (unsigned char)(h >> 8);
	p[i + 6] = (unsigned char)h;
	p[i + 7] = (unsigned char)(w >> 8);
	p[i + 8] = (unsigned char)w;
}

/* ra_image_check with the policy's defaults: its result, *w and *h set. */
static int
check(const unsigned char *p, size_t len, const char *name,
    unsigned long *w, unsigned long *h, char *detail, size_t detaillen)
{
	detail[0] = '\0';
	return ra_image_check(p, len, ra_image_type(p, len), &lim, name, w, h,
	    detail, detaillen);
}

static void
test_accepted(void **state)
{
	unsigned char *p;
	unsigned long w, h;
	char detail[512];
	size_t len;

	(void)state;
	p = mk_png(64, 64, 1, &len);
	assert_int_equal(check(p, len, "selfie", &w, &h, detail,
	    sizeof(detail)), RA_IMAGE_OK);
	assert_int_equal(w, 64);
	assert_int_equal(h, 64);
	free(p);
	p = mk_jpeg(640, 480, &len);
	assert_int_equal(check(p, len, "selfie", &w, &h, detail,
	    sizeof(detail)), RA_IMAGE_OK);
	assert_int_equal(w, 640);
	assert_int_equal(h, 480);
	/* A phone camera's e-KTP photo: 4000 x 3000 in its header. */
	jpeg_resize(p, len, 4000, 3000);
	assert_int_equal(check(p, len, "ktp_photo", &w, &h, detail,
	    sizeof(detail)), RA_IMAGE_OK);
	assert_int_equal(w, 4000);
	assert_int_equal(h, 3000);
	/* The limits themselves: 8000 x 5000 is 40 megapixels. */
	jpeg_resize(p, len, 8000, 5000);
	assert_int_equal(check(p, len, "ktp_photo", &w, &h, detail,
	    sizeof(detail)), RA_IMAGE_OK);
	free(p);
	/* A PNG header of 8000 x 64 (libpng's user limit is inclusive). */
	p = mk_png(8000, 64, 0, &len);
	assert_int_equal(check(p, len, "ktp_photo", &w, &h, detail,
	    sizeof(detail)), RA_IMAGE_OK);
	assert_int_equal(w, 8000);
	free(p);
}

/* A detail names the member and the policy key, never image bytes. */
static void
said(const char *detail, const char *name, const char *key)
{
	assert_true(strncmp(detail, name, strlen(name)) == 0);
	assert_non_null(strstr(detail, key));
}

static void
test_dimensions(void **state)
{
	unsigned char *p;
	unsigned long w, h;
	char detail[512];
	size_t len;

	(void)state;
	/* The bomb: a few hundred bytes of PNG declaring 60000 x 60000. */
	p = mk_png(60000, 60000, 0, &len);
	assert_true(len < 200);
	assert_int_equal(check(p, len, "selfie", &w, &h, detail,
	    sizeof(detail)), RA_IMAGE_DIMENSIONS);
	said(detail, "selfie: 60000 x 60000 pixels", "kyc.image_max_side_px");
	assert_int_equal(w, 60000);
	free(p);
	/* Over libpng's own default limit (10^6 a side): still told as size. */
	p = mk_png(2000000, 64, 0, &len);
	assert_int_equal(check(p, len, "selfie", &w, &h, detail,
	    sizeof(detail)), RA_IMAGE_DIMENSIONS);
	said(detail, "selfie: 2000000 x 64 pixels", "kyc.image_max_side_px");
	free(p);
	/* Only one side over. */
	p = mk_png(64, 8001, 0, &len);
	assert_int_equal(check(p, len, "ktp_photo", &w, &h, detail,
	    sizeof(detail)), RA_IMAGE_DIMENSIONS);
	said(detail, "ktp_photo:", "kyc.image_max_side_px");
	free(p);
	/* Sides within, pixels not: 8000 x 6000 is 48 megapixels. */
	p = mk_png(8000, 6000, 0, &len);
	assert_int_equal(check(p, len, "ktp_photo", &w, &h, detail,
	    sizeof(detail)), RA_IMAGE_DIMENSIONS);
	said(detail, "ktp_photo: 8000 x 6000 pixels", "kyc.image_max_pixels");
	free(p);
	/* Under the least side: 32 x 20 is no readable e-KTP. */
	p = mk_png(32, 20, 1, &len);
	assert_int_equal(check(p, len, "ktp_photo", &w, &h, detail,
	    sizeof(detail)), RA_IMAGE_DIMENSIONS);
	said(detail, "ktp_photo: 32 x 20 pixels", "kyc.image_min_side_px");
	free(p);

	/* The same JPEG bomb: a real JPEG whose SOF says 60000 x 60000. */
	p = mk_jpeg(64, 64, &len);
	jpeg_resize(p, len, 60000, 60000);
	assert_int_equal(check(p, len, "selfie", &w, &h, detail,
	    sizeof(detail)), RA_IMAGE_DIMENSIONS);
	said(detail, "selfie: 60000 x 60000 pixels", "kyc.image_max_side_px");
	assert_int_equal(w, 60000);
	jpeg_resize(p, len, 7000, 7000);	/* 49 megapixels */
	assert_int_equal(check(p, len, "selfie", &w, &h, detail,
	    sizeof(detail)), RA_IMAGE_DIMENSIONS);
	jpeg_resize(p, len, 8001, 100);
	assert_int_equal(check(p, len, "selfie", &w, &h, detail,
	    sizeof(detail)), RA_IMAGE_DIMENSIONS);
	jpeg_resize(p, len, 63, 4000);
	assert_int_equal(check(p, len, "selfie", &w, &h, detail,
	    sizeof(detail)), RA_IMAGE_DIMENSIONS);
	free(p);
}

static void
test_malformed(void **state)
{
	unsigned char *p, *q;
	unsigned long w, h;
	char detail[512];
	size_t len, i, sof;

	(void)state;
	/* A PNG cut inside its IHDR, then before its first IDAT. */
	p = mk_png(64, 64, 1, &len);
	assert_int_equal(check(p, 20, "ktp_photo", &w, &h, detail,
	    sizeof(detail)), RA_IMAGE_MALFORMED);
	said(detail, "ktp_photo:", "does not parse as PNG");
	assert_int_equal(check(p, 33, "ktp_photo", &w, &h, detail,
	    sizeof(detail)), RA_IMAGE_MALFORMED);
	assert_int_equal(w, 0);
	/* IHDR's CRC broken (a critical chunk: an error, not a warning). */
	p[29] ^= 0x01;
	assert_int_equal(check(p, len, "ktp_photo", &w, &h, detail,
	    sizeof(detail)), RA_IMAGE_MALFORMED);
	p[29] ^= 0x01;

	/* A PNG behind a JPEG magic: its type is JPEG, and it is no JPEG. */
	assert_non_null(q = malloc(len + 3));
	memcpy(q, "\xff\xd8\xff", 3);
	memcpy(q + 3, p, len);
	assert_string_equal(ra_image_type(q, len + 3), "image/jpeg");
	assert_int_equal(check(q, len + 3, "selfie", &w, &h, detail,
	    sizeof(detail)), RA_IMAGE_MALFORMED);
	said(detail, "selfie:", "does not parse as a baseline or progressive "
	    "JPEG");
	free(q);
	/* A JPEG told to be a PNG (the caller's mime is the magic's). */
	q = mk_jpeg(64, 64, &i);
	assert_int_equal(ra_image_check(q, i, "image/png", &lim, "selfie", &w,
	    &h, detail, sizeof(detail)), RA_IMAGE_MALFORMED);
	assert_int_equal(ra_image_check(p, len, "image/jpeg", &lim, "selfie",
	    &w, &h, detail, sizeof(detail)), RA_IMAGE_MALFORMED);
	free(p);

	/* A JPEG cut inside its SOF, just after it, and at every byte before. */
	sof = jpeg_sof(q, i);
	for (len = 3; len < sof + 12; len++)
		assert_int_equal(check(q, len, "selfie", &w, &h, detail,
		    sizeof(detail)), RA_IMAGE_MALFORMED);
	/* Tables and a frame but no scan: SOI ... SOF, then EOI. */
	q[sof + 19] = 0xff;
	q[sof + 20] = 0xd9;
	assert_int_equal(check(q, sof + 21, "selfie", &w, &h, detail,
	    sizeof(detail)), RA_IMAGE_MALFORMED);
	free(q);
	/* Not a type ra_image_type knows. */
	assert_int_equal(ra_image_check((const unsigned char *)"GIF89a", 6,
	    NULL, &lim, "selfie", &w, &h, detail, sizeof(detail)),
	    RA_IMAGE_MALFORMED);
}

/* A KYC body with these two images (base64). */
static char *
kyc_body(const unsigned char *ktp, size_t ktplen, const unsigned char *sel,
    size_t sellen, size_t *len)
{
	static const char head[] = "{\"nik\":\"3174011508900001\","
	    "\"full_name\":\"Budi Santoso\",\"birth_place\":\"Jakarta\","
	    "\"birth_date\":\"1990-08-15\",\"sex\":\"M\",\"address\":\"Jl. "
	    "Sudirman 1\",\"consents\":{\"privacy_policy\":\"1.0\","
	    "\"subscriber_agreement\":\"1.0\",\"guarantee_policy\":\"1.0\"},"
	    "\"ktp_photo\":\"";
	char *b;
	size_t n = 0;

	assert_non_null(b = malloc(sizeof(head) + 4 * (ktplen + sellen) / 3 +
	    64));
	memcpy(b, head, sizeof(head) - 1);
	n = sizeof(head) - 1;
	n += (size_t)EVP_EncodeBlock((unsigned char *)b + n, ktp, (int)ktplen);
	memcpy(b + n, "\",\"selfie\":\"", 12);
	n += 12;
	n += (size_t)EVP_EncodeBlock((unsigned char *)b + n, sel, (int)sellen);
	memcpy(b + n, "\"}", 3);
	*len = n + 2;
	return b;
}

static void
test_parse_kyc(void **state)
{
	struct ra_kyc_req r;
	unsigned char *png, *jpg, *bomb;
	char *body, detail[512];
	size_t plen, jlen, blen, len;
	int status;

	(void)state;
	png = mk_png(96, 64, 1, &plen);
	jpg = mk_jpeg(64, 64, &jlen);
	body = kyc_body(png, plen, jpg, jlen, &len);
	assert_int_equal(ra_parse_kyc(body, len, &lim, &r, &status, detail,
	    sizeof(detail)), 0);
	assert_string_equal(r.ktp.mime, "image/png");
	assert_int_equal(r.ktp.width, 96);
	assert_int_equal(r.ktp.height, 64);
	assert_string_equal(r.selfie.mime, "image/jpeg");
	assert_int_equal(r.selfie.width, 64);
	ra_kyc_req_free(&r);
	free(body);

	/* The e-KTP photo a bomb: 422, naming it. */
	bomb = mk_png(60000, 60000, 0, &blen);
	body = kyc_body(bomb, blen, jpg, jlen, &len);
	assert_int_equal(ra_parse_kyc(body, len, &lim, &r, &status, detail,
	    sizeof(detail)), -1);
	assert_int_equal(status, 422);
	said(detail, "ktp_photo: 60000 x 60000 pixels", "kyc.image_max_side_px");
	ra_kyc_req_free(&r);
	free(body);
	free(bomb);
	/* The selfie a JPEG bomb. */
	assert_non_null(bomb = malloc(jlen));
	memcpy(bomb, jpg, jlen);
	jpeg_resize(bomb, jlen, 60000, 60000);
	body = kyc_body(png, plen, bomb, jlen, &len);
	assert_int_equal(ra_parse_kyc(body, len, &lim, &r, &status, detail,
	    sizeof(detail)), -1);
	assert_int_equal(status, 422);
	said(detail, "selfie: 60000 x 60000", "kyc.image_max_side_px");
	ra_kyc_req_free(&r);
	free(body);
	/* The selfie's header cut: 415 like any other non-image. */
	body = kyc_body(png, plen, jpg, jpeg_sof(jpg, jlen) + 4, &len);
	assert_int_equal(ra_parse_kyc(body, len, &lim, &r, &status, detail,
	    sizeof(detail)), -1);
	assert_int_equal(status, 415);
	said(detail, "selfie:", "JPEG");
	ra_kyc_req_free(&r);
	free(body);
	free(bomb);
	free(png);
	free(jpg);
}

static void
test_policy(void **state)
{
	struct ra_policy p;

	(void)state;
	assert_int_equal(ra_policy_load(NULL, &p), 0);
	assert_int_equal(p.kyc_image.max_bytes, lim.max_bytes);
	assert_int_equal(p.kyc_image.min_side, lim.min_side);
	assert_int_equal(p.kyc_image.max_side, lim.max_side);
	assert_int_equal(p.kyc_image.max_pixels, lim.max_pixels);
}

/* CRC-32 of PNG chunks (ISO/IEC 15948 annex D), bit by bit. */
static uint32_t
png_crc(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		c ^= p[i];
		for (k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
	}
	return c ^ 0xffffffffu;
}

/*
 * p (a PNG of len bytes) with a chunk of type and n bytes of data put in
 * at offset at (a chunk boundary), its CRC right. *len grows.
 */
static unsigned char *
png_insert(unsigned char *p, size_t *len, size_t at, const char *type,
    const unsigned char *data, size_t n)
{
	unsigned char *q;
	uint32_t crc;

	assert_non_null(q = malloc(*len + 12 + n));
	memcpy(q, p, at);
	q[at] = (unsigned char)(n >> 24);
	q[at + 1] = (unsigned char)(n >> 16);
	q[at + 2] = (unsigned char)(n >> 8);
	q[at + 3] = (unsigned char)n;
	memcpy(q + at + 4, type, 4);
	if (n > 0)
		memcpy(q + at + 8, data, n);
	crc = png_crc(q + at + 4, 4 + n);
	q[at + 8 + n] = (unsigned char)(crc >> 24);
	q[at + 9 + n] = (unsigned char)(crc >> 16);
	q[at + 10 + n] = (unsigned char)(crc >> 8);
	q[at + 11 + n] = (unsigned char)crc;
	memcpy(q + at + 12 + n, p + at, *len - at);
	*len += 12 + n;
	free(p);
	return q;
}

/*
 * An animated PNG (APNG) is refused (415's RA_IMAGE_MALFORMED): browsers
 * show its frames, libpng and the IDV provider only its default image, so
 * officers would judge a picture no check saw. acTL after IHDR, and an
 * fcTL or fdAT after the IDAT alone (where the header check never reads),
 * each refused; an unknown ancillary chunk after the IDAT is not.
 */
static void
test_animated_png(void **state)
{
	static const unsigned char actl[8] = { 0, 0, 0, 1 };
	static const unsigned char fctl[26];
	static const char *after_idat[] = { "fcTL", "fdAT", NULL };
	unsigned char *p;
	unsigned long w, h;
	size_t len, iend;
	char detail[512];
	int i;

	(void)state;
	/* Signature 8, IHDR 25: acTL right after IHDR, as APNG puts it. */
	p = mk_png(64, 64, 1, &len);
	p = png_insert(p, &len, 33, "acTL", actl, sizeof(actl));
	assert_int_equal(check(p, len, "ktp_photo", &w, &h, detail,
	    sizeof(detail)), RA_IMAGE_MALFORMED);
	said(detail, "ktp_photo:", "animated PNG (APNG");
	free(p);
	for (i = 0; after_idat[i] != NULL; i++) {
		p = mk_png(64, 64, 1, &len);
		iend = len - 12;
		assert_memory_equal(p + iend + 4, "IEND", 4);
		p = png_insert(p, &len, iend, after_idat[i], fctl,
		    sizeof(fctl));
		assert_int_equal(check(p, len, "selfie", &w, &h, detail,
		    sizeof(detail)), RA_IMAGE_MALFORMED);
		said(detail, "selfie:", "animated PNG");
		free(p);
	}
	/* A still PNG with another ancillary chunk there: accepted. */
	p = mk_png(64, 64, 1, &len);
	p = png_insert(p, &len, len - 12, "tEXt", (const unsigned char *)
	    "Comment\0x", 9);
	assert_int_equal(check(p, len, "selfie", &w, &h, detail,
	    sizeof(detail)), RA_IMAGE_OK);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_dimensions),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_animated_png),
		cmocka_unit_test(test_parse_kyc),
		cmocka_unit_test(test_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
