/*
 * libFuzzer harness: arbitrary bytes as a PDF through sign/pdf's reader and
 * both writers (pdf_open, pdf_prepare_signature invisible, visible and as
 * a document time-stamp, pdf_embed_signature, pdf_byterange_digest, pdf_check_dss,
 * pdf_add_dss, pdf_open_own of our own output) with fixed options. Whatever qpdf makes of the input, we must return 0 or -1 with a
 * message, never crash or leak; an update we write must keep the
 * original bytes as its prefix and exclude exactly /Contents' <...>; and a
 * DSS pdf_check_dss refuses, pdf_add_dss refuses too (pkisign asks the one
 * before signing, for the other after).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sign/pdf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_check_prepared(const uint8_t *data, size_t size,
    struct pdf_prepared *p)
{
	static const unsigned char cms[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	struct pdf_doc *doc = NULL;
	char err[256];

	if (p->len <= size || memcmp(p->buf, data, size) != 0)
		abort();
	if (p->buf[p->contents_off - 1] != '<' ||
	    p->buf[p->contents_off + p->contents_hexlen] != '>' ||
	    p->byterange[1] != (long long)p->contents_off - 1 ||
	    p->byterange[2] + p->byterange[3] != (long long)p->len)
		abort();
	if (pdf_byterange_digest(p, EVP_sha256(), md, &mdlen) != 0)
		abort();
	if (pdf_embed_signature(p, cms, sizeof(cms), err, sizeof(err)) != 0)
		abort();
	/* Re-opened as pkisign does before the DSS update. */
	if (pdf_open_own(p->buf, p->len, &doc, err, sizeof(err)) == 0) {
		(void)pdf_check_dss(doc, err, sizeof(err));
		pdf_close(doc);
	} else if (doc != NULL || err[0] == '\0')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct pdf_blob cert = {
		(const unsigned char *)"\x30\x03\x02\x01\x02", 5
	};
	struct pdf_sig_opts o;
	struct pdf_dss dss;
	struct pdf_prepared p;
	struct pdf_doc *doc = NULL;
	unsigned char *out = NULL;
	size_t outlen = 0;
	char err[512];
	int dss_ok, added;

	if (pdf_open(data, size, &doc, err, sizeof(err)) != 0) {
		if (doc != NULL || err[0] == '\0')
			abort();
		return 0;
	}
	if (pdf_page_count(doc) < 1 || pdf_signature_count(doc) < 0)
		abort();

	memset(&o, 0, sizeof(o));
	o.reason = "Fuzz (reason) \\ é";
	o.location = "Somewhere";
	o.signing_time = 1700000000;
	o.contents_max = 64;
	if (pdf_prepare_signature(doc, &o, &p, err, sizeof(err)) == 0) {
		fuzz_check_prepared(data, size, &p);
		pdf_prepared_clear(&p);
	}
	o.visible = 1;
	o.page = pdf_page_count(doc);
	o.x = 10.5;
	o.y = 20;
	o.size = 50;
	o.qr_text = "https://verify.example.test/fuzz";
	o.field_name = "Fuzz";
	if (pdf_prepare_signature(doc, &o, &p, err, sizeof(err)) == 0) {
		fuzz_check_prepared(data, size, &p);
		pdf_prepared_clear(&p);
	}
	/*
	 * Filling the empty signature field "Fuzz" (a seed can hold one):
	 * pdf_check_signature agrees with pdf_prepare_signature.
	 */
	memset(&o, 0, sizeof(o));
	o.signing_time = 1700000000;
	o.contents_max = 64;
	o.fill_field = "Fuzz";
	if ((pdf_check_signature(doc, &o, err, sizeof(err)) == 0) !=
	    (pdf_prepare_signature(doc, &o, &p, err, sizeof(err)) == 0))
		abort();
	if (p.buf != NULL) {
		fuzz_check_prepared(data, size, &p);
		pdf_prepared_clear(&p);
	}
	memset(&o, 0, sizeof(o));
	o.doc_timestamp = 1;
	o.contents_max = 64;
	if (pdf_prepare_signature(doc, &o, &p, err, sizeof(err)) == 0) {
		fuzz_check_prepared(data, size, &p);
		pdf_prepared_clear(&p);
	}

	memset(&dss, 0, sizeof(dss));
	dss.certs = &cert;
	dss.ncerts = 1;
	dss.crls = &cert;
	dss.ncrls = 1;
	err[0] = '\0';
	if ((dss_ok = pdf_check_dss(doc, err, sizeof(err))) != 0 &&
	    err[0] == '\0')
		abort();
	/* 0 with out NULL: the DSS already holds all of it. */
	added = pdf_add_dss(doc, &dss, &out, &outlen, err, sizeof(err));
	if (dss_ok != 0 && added == 0)
		abort();
	if (added == 0 && out != NULL) {
		if (outlen <= size || memcmp(out, data, size) != 0)
			abort();
		free(out);
	}
	pdf_close(doc);
	return 0;
}
