/*
 * The header check of a KYC image: an e-KTP photo or a selfie, untrusted
 * bytes that the officers' browsers show and an identity-verification
 * provider decodes. Magic bytes and a byte limit (kycreq.c) bound the
 * upload, not what it decodes to: 2 MiB of PNG or JPEG can declare 60000 x
 * 60000 pixels, gigabytes once decoded. So the header is read with the
 * libraries that would decode it (libpng, libjpeg-turbo) and its declared
 * size checked against policy kyc.image_* before anything is stored.
 * Nothing is decoded, nothing is logged, no detail quotes the image.
 * Stateless: fuzzed by tests/fuzz/fuzz_ra_image.c.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "ra/extern.h"

/*
 * libpng's limits besides the pixel size: text, ICC profiles and unknown
 * chunks are skipped unread (png_set_keep_unknown_chunks below), so no
 * chunk before the image data is inflated; these bound what is left.
 */
#define RA_PNG_CHUNK_MALLOC_MAX	(64 * 1024)	/* bytes of one chunk */
#define RA_PNG_CHUNK_CACHE_MAX	64		/* chunks kept */

/* The bytes libpng reads. */
struct ra_png_src {
	const unsigned char	*p;
	size_t			 len, off;
};

static void
ra_png_read(png_structp png, png_bytep out, size_t n)
{
	struct ra_png_src *s = png_get_io_ptr(png);

	if (n > s->len - s->off)
		png_error(png, "truncated");
	memcpy(out, s->p + s->off, n);
	s->off += n;
}

static void
ra_png_error(png_structp png, png_const_charp msg)
{
	(void)msg;
	png_longjmp(png, 1);
}

/* Warnings (a bad ancillary chunk's CRC) are not errors; none to stderr. */
static void
ra_png_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

/*
 * png_read_info under setjmp; everything it changes lives in the caller
 * (C11 7.13.2.1: a longjmp leaves the setjmp function's changed automatic
 * objects indeterminate).
 */
static int
ra_png_read_info(png_structp png, png_infop info, struct ra_png_src *src)
{
	if (setjmp(png_jmpbuf(png)) != 0)
		return -1;
	/*
	 * Any size the format allows (libpng's default stops at 10^6 px a
	 * side, as malformed): the header only is read, and the policy's
	 * limits are checked by the caller, so that an oversized image is told
	 * as such and not as a broken one.
	 */
	png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
	png_set_chunk_malloc_max(png, RA_PNG_CHUNK_MALLOC_MAX);
	png_set_chunk_cache_max(png, RA_PNG_CHUNK_CACHE_MAX);
	/* All but IHDR, PLTE, tRNS, IDAT and IEND: skipped, never inflated. */
	png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
	png_set_read_fn(png, src, ra_png_read);
	png_read_info(png, info);
	return 0;
}

/* The IHDR of a PNG (ISO/IEC 15948 §11.2.2): an enum ra_image_check. */
static int
ra_png_size(const unsigned char *p, size_t len, unsigned long *width,
    unsigned long *height)
{
	struct ra_png_src src;
	png_structp png;
	png_infop info = NULL;
	int rc = RA_IMAGE_ERROR;

	memset(&src, 0, sizeof(src));
	src.p = p;
	src.len = len;
	if ((png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src,
	    ra_png_error, ra_png_warning)) == NULL)
		return RA_IMAGE_ERROR;
	if ((info = png_create_info_struct(png)) == NULL)
		goto out;
	if (ra_png_read_info(png, info, &src) == -1) {
		rc = RA_IMAGE_MALFORMED;
		goto out;
	}
	*width = png_get_image_width(png, info);
	*height = png_get_image_height(png, info);
	rc = RA_IMAGE_OK;
out:
	png_destroy_read_struct(&png, &info, NULL);
	return rc;
}

/*
 * 1 when the PNG is animated (APNG): an acTL, fcTL or fdAT chunk in its
 * chunk list, walked from the signature while whole chunks follow. A
 * browser shows an APNG's animation frames, and may show none of its
 * default image (IDAT without an fcTL before it), which is all libpng,
 * the identity-verification provider and any other decoder see: the
 * officers would judge a picture no automatic check saw.
 */
static int
ra_png_animated(const unsigned char *p, size_t len)
{
	size_t off = 8, n;

	while (len - off >= 12) {
		n = (size_t)p[off] << 24 | (size_t)p[off + 1] << 16 |
		    (size_t)p[off + 2] << 8 | p[off + 3];
		if (memcmp(p + off + 4, "acTL", 4) == 0 ||
		    memcmp(p + off + 4, "fcTL", 4) == 0 ||
		    memcmp(p + off + 4, "fdAT", 4) == 0)
			return 1;
		if (memcmp(p + off + 4, "IEND", 4) == 0 ||
		    n > len - off - 12)
			return 0;
		off += 12 + n;
	}
	return 0;
}

/* libjpeg's error manager: longjmp instead of its exit(). */
struct ra_jpeg_err {
	struct jpeg_error_mgr	pub;
	jmp_buf			jb;
};

static void
ra_jpeg_exit(j_common_ptr c)
{
	struct ra_jpeg_err *e = (struct ra_jpeg_err *)(void *)c->err;

	longjmp(e->jb, 1);
}

/*
 * Warnings are not errors, but one: libjpeg's memory source meets the end
 * of the bytes by warning JWRN_JPEG_EOF and reading on fake EOI markers
 * (0xFF 0xD9 as often as asked for). A header cut short is refused as
 * such here, not parsed on from bytes that are not the client's.
 */
static void
ra_jpeg_emit(j_common_ptr c, int level)
{
	if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF)
		ra_jpeg_exit(c);
}

/* Nothing on stderr. */
static void
ra_jpeg_output(j_common_ptr c)
{
	(void)c;
}

/* jpeg_read_header under setjmp, as ra_png_read_info. */
static int
ra_jpeg_read_header(j_decompress_ptr cinfo, struct ra_jpeg_err *jerr,
    const unsigned char *p, size_t len)
{
	if (setjmp(jerr->jb) != 0)
		return -1;
	jpeg_create_decompress(cinfo);
	jpeg_mem_src(cinfo, p, (unsigned long)len);
	/* Markers up to the first scan; an abbreviated (tables-only) one fails. */
	if (jpeg_read_header(cinfo, TRUE) != JPEG_HEADER_OK)
		return -1;
	return 0;
}

/* The frame header of a JPEG (ITU-T T.81 B.2.2): an enum ra_image_check. */
static int
ra_jpeg_size(const unsigned char *p, size_t len, unsigned long *width,
    unsigned long *height)
{
	struct jpeg_decompress_struct cinfo;
	struct ra_jpeg_err jerr;
	int rc = RA_IMAGE_MALFORMED;

	memset(&cinfo, 0, sizeof(cinfo));
	memset(&jerr, 0, sizeof(jerr));
	cinfo.err = jpeg_std_error(&jerr.pub);
	jerr.pub.error_exit = ra_jpeg_exit;
	jerr.pub.emit_message = ra_jpeg_emit;
	jerr.pub.output_message = ra_jpeg_output;
	if (ra_jpeg_read_header(&cinfo, &jerr, p, len) == -1) {
		if (jerr.pub.msg_code == JERR_OUT_OF_MEMORY)
			rc = RA_IMAGE_ERROR;
		goto out;
	}
	*width = cinfo.image_width;
	*height = cinfo.image_height;
	rc = RA_IMAGE_OK;
out:
	/* NULL-safe: it frees nothing before jpeg_create_decompress. */
	jpeg_destroy_decompress(&cinfo);
	return rc;
}

int
ra_image_check(const unsigned char *p, size_t len, const char *mime,
    const struct ra_image_limits *lim, const char *name,
    unsigned long *width, unsigned long *height, char *detail,
    size_t detaillen)
{
	unsigned long w = 0, h = 0;
	int rc;

	*width = 0;
	*height = 0;
	if (mime != NULL && strcmp(mime, "image/png") == 0) {
		if ((rc = ra_png_size(p, len, &w, &h)) == RA_IMAGE_MALFORMED)
			snprintf(detail, detaillen, "%s: its first bytes say PNG "
			    "but its header (IHDR and the chunks up to the image "
			    "data) does not parse as PNG (ISO/IEC 15948)", name);
		else if (rc == RA_IMAGE_OK && ra_png_animated(p, len)) {
			snprintf(detail, detaillen, "%s: an animated PNG (APNG: "
			    "acTL, fcTL or fdAT chunks) is refused, as browsers "
			    "show other pictures than its still image; send a "
			    "still PNG or a JPEG", name);
			return RA_IMAGE_MALFORMED;
		}
	} else if (mime != NULL && strcmp(mime, "image/jpeg") == 0) {
		if ((rc = ra_jpeg_size(p, len, &w, &h)) == RA_IMAGE_MALFORMED)
			snprintf(detail, detaillen, "%s: its first bytes say JPEG "
			    "but its header (the markers up to the first scan) "
			    "does not parse as a baseline or progressive JPEG "
			    "(ITU-T T.81 B.2)", name);
	} else {
		snprintf(detail, detaillen, "%s: only JPEG or PNG images are "
		    "accepted", name);
		return RA_IMAGE_MALFORMED;
	}
	if (rc == RA_IMAGE_ERROR)
		snprintf(detail, detaillen, "%s: out of memory reading its "
		    "header", name);
	if (rc != RA_IMAGE_OK)
		return rc;
	*width = w;
	*height = h;
	/* Both below 2^32 (PNG: 2^31, JPEG: 2^16): the product fits. */
	if (w < (unsigned long)lim->min_side || h < (unsigned long)lim->min_side ||
	    w > (unsigned long)lim->max_side || h > (unsigned long)lim->max_side ||
	    (unsigned long long)w * h > (unsigned long long)lim->max_pixels) {
		snprintf(detail, detaillen, "%s: %lu x %lu pixels; each side "
		    "must be %ld to %ld pixels and the image at most %ld pixels "
		    "(policy kyc.image_min_side_px, kyc.image_max_side_px, "
		    "kyc.image_max_pixels)", name, w, h, lim->min_side,
		    lim->max_side, lim->max_pixels);
		return RA_IMAGE_DIMENSIONS;
	}
	return RA_IMAGE_OK;
}
