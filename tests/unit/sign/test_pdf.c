/*
 * sign/pdf: incremental signature and DSS updates on PDFs made here (classic
 * xref tables, xref and object streams through qpdf, several pages, an
 * existing form), signed with a throw-away key by OpenSSL's CMS, and judged
 * by independent tools: qpdf --check, pdfsig, pdftoppm, qpdf --show-object.
 * Hostile inputs too: huge forms and DSS arrays, field trees with repeats,
 * cycles and shared values, and a strdup that fails mid-update.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "sign/pdf.h"

static char	 dir[256];
static char	 big[65536];	/* qpdf's view of a signature dictionary */
static EVP_PKEY	*key;
static X509	*cert;

/* --- files and commands ------------------------------------------------- */

static void
write_file(const char *path, const unsigned char *p, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static unsigned char *
read_file(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	size_t n = 0, cap = 0, r;

	assert_non_null(f);
	for (;;) {
		if (cap - n < 65536) {
			cap = cap ? cap * 2 : 65536;
			p = realloc(p, cap);
			assert_non_null(p);
		}
		if ((r = fread(p + n, 1, cap - n, f)) == 0)
			break;
		n += r;
	}
	fclose(f);
	*lenp = n;
	return p;
}

/* Runs a shell command; its exit status, and its stdout+stderr in out. */
static int
run(char *out, size_t outlen, const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	FILE *f;
	size_t n = 0, r;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (n + 1 < outlen && (r = fread(out + n, 1, outlen - n - 1, f)) > 0)
		n += r;
	out[n] = '\0';
	while (fread(cmd, 1, sizeof(cmd), f) > 0)
		;
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;
	const char *p = hay;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

static void
path_of(char *p, size_t len, const char *name)
{
	snprintf(p, len, "%s/%s", dir, name);
}

/* --- PDFs made here ----------------------------------------------------- */

/*
 * A classic PDF with npages pages, an /Info and an /ID. form 1: an indirect
 * AcroForm holding a text field "Text1" whose widget sits in page 1's direct
 * /Annots; 2: certified with DocMDP /P 1; 3: a direct AcroForm whose /Fields
 * and page 1's /Annots are indirect (empty) arrays; 4: as 3, but every page
 * shares that one /Annots array; 5 (one page): page 1 names object 9 in
 * its /Contents and as an XObject; it does not exist (null, ISO 32000-1
 * §7.3.10): it is the trailer's /Size, the first number past the file's.
 */
static void
make_pdf(const char *name, int npages, int form)
{
	char obj[64][512], path[512], kids[256] = "";
	size_t offs[64], n = 0, i, xref;
	FILE *f;
	long off;
	int pg;
	const char *content = "BT /F1 24 Tf 72 700 Td (Hello, PDF) Tj ET";

	/* 1 catalog, 2 pages, 3 font, 4 contents, 5 info, [6 form, 7 field],
	 * then the pages. */
	snprintf(obj[n++], 512, "<< /Type /Catalog /Pages 2 0 R%s >>",
	    form == 1 ? " /AcroForm 6 0 R" : form == 2 ?
	    " /Perms << /DocMDP 6 0 R >>" : form >= 3 ?
	    " /AcroForm << /Fields 6 0 R >>" : "");
	for (pg = 0; pg < npages; pg++) {
		char r[16];

		snprintf(r, sizeof(r), "%s%d 0 R", pg ? " " : "", 8 + pg);
		strcat(kids, r);
	}
	snprintf(obj[n++], 512, "<< /Type /Pages /Kids [%s] /Count %d >>", kids,
	    npages);
	snprintf(obj[n++], 512, "<< /Type /Font /Subtype /Type1 /BaseFont "
	    "/Helvetica >>");
	snprintf(obj[n++], 512, "<< /Length %zu >>\nstream\n%s\nendstream",
	    strlen(content), content);
	snprintf(obj[n++], 512, "<< /Producer (test_pdf) /Title (A test) >>");
	if (form == 2) {
		snprintf(obj[n++], 512, "<< /Type /Sig /Filter /Adobe.PPKLite "
		    "/SubFilter /adbe.pkcs7.detached /Reference [<< /Type "
		    "/SigRef /TransformMethod /DocMDP /TransformParams << /Type "
		    "/TransformParams /P 1 /V /1.2 >> >>] /ByteRange [0 0 0 0] "
		    "/Contents <00> >>");
		snprintf(obj[n++], 512, "null");
	} else if (form >= 3) {
		snprintf(obj[n++], 512, "[]");
		snprintf(obj[n++], 512, "[]");
	} else {
		snprintf(obj[n++], 512, "<< /Fields [7 0 R] /DA (/Helv 0 Tf 0 g) "
		    "/DR << /Font << /Helv 3 0 R >> >> >>");
		snprintf(obj[n++], 512, "<< /FT /Tx /T (Text1) /V (hello) /Type "
		    "/Annot /Subtype /Widget /Rect [72 600 272 630] /P 8 0 R /F 4 "
		    ">>");
	}
	for (pg = 0; pg < npages; pg++)
		snprintf(obj[n++], 512, "<< /Type /Page /Parent 2 0 R /MediaBox "
		    "[0 0 612 792] /Resources << /Font << /F1 3 0 R >>%s >> "
		    "/Contents %s%s >>", pg == 0 && form == 5 ?
		    " /XObject << /Q0 9 0 R >>" : "", pg == 0 && form == 5 ?
		    "[4 0 R 9 0 R]" : "4 0 R", pg == 0 && form == 1 ?
		    " /Annots [7 0 R]" : (pg == 0 && form == 3) || form == 4 ?
		    " /Annots 7 0 R" : "");
	path_of(path, sizeof(path), name);
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", f);
	for (i = 0; i < n; i++) {
		off = ftell(f);
		offs[i] = (size_t)off;
		fprintf(f, "%zu 0 obj\n%s\nendobj\n", i + 1, obj[i]);
	}
	xref = (size_t)ftell(f);
	fprintf(f, "xref\n0 %zu\n0000000000 65535 f\r\n", n + 1);
	for (i = 0; i < n; i++)
		fprintf(f, "%010zu 00000 n\r\n", offs[i]);
	fprintf(f, "trailer\n<< /Size %zu /Root 1 0 R /Info 5 0 R /ID "
	    "[<00112233445566778899AABBCCDDEEFF> <00112233445566778899AABBCCDDEEFF>]"
	    " >>\nstartxref\n%zu\n%%%%EOF\n", n + 1, xref);
	assert_int_equal(fclose(f), 0);
}

/* name2: name rewritten by qpdf with object streams (an xref stream). */
static void
make_objstm_pdf(const char *name, const char *name2)
{
	char a[512], b[512], out[4096];

	path_of(a, sizeof(a), name);
	path_of(b, sizeof(b), name2);
	assert_int_equal(run(out, sizeof(out), "qpdf --object-streams=generate "
	    "'%s' '%s'", a, b), 0);
}

/*
 * A classic PDF written object by object, for files too large for
 * make_pdf: pdfw_obj() starts object n (1, 2, ... in order), the caller
 * writes its body to w->f, pdfw_finish() ends it with xref and trailer.
 * Objects 1 to 3 are the caller's catalog, page tree and page.
 */
struct pdfw {
	FILE	*f;
	long	*offs;
	size_t	 n, cap;
};

static void
pdfw_begin(struct pdfw *w, const char *name)
{
	char path[512];

	path_of(path, sizeof(path), name);
	memset(w, 0, sizeof(*w));
	w->f = fopen(path, "wb");
	assert_non_null(w->f);
	fputs("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", w->f);
}

static void
pdfw_obj(struct pdfw *w)
{
	if (w->n > 0)
		fputs("\nendobj\n", w->f);
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 64;
		w->offs = realloc(w->offs, w->cap * sizeof(*w->offs));
		assert_non_null(w->offs);
	}
	w->offs[w->n++] = ftell(w->f);
	fprintf(w->f, "%zu 0 obj\n", w->n);
}

static void
pdfw_finish(struct pdfw *w)
{
	long xref;
	size_t i;

	fputs("\nendobj\n", w->f);
	xref = ftell(w->f);
	fprintf(w->f, "xref\n0 %zu\n0000000000 65535 f\r\n", w->n + 1);
	for (i = 0; i < w->n; i++)
		fprintf(w->f, "%010ld 00000 n\r\n", w->offs[i]);
	fprintf(w->f, "trailer\n<< /Size %zu /Root 1 0 R >>\nstartxref\n"
	    "%ld\n%%%%EOF\n", w->n + 1, xref);
	assert_int_equal(fclose(w->f), 0);
	free(w->offs);
}

/* Objects 2 and 3: one empty page. */
static void
pdfw_page(struct pdfw *w)
{
	pdfw_obj(w);
	fputs("<< /Type /Pages /Kids [3 0 R] /Count 1 >>", w->f);
	pdfw_obj(w);
	fputs("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>", w->f);
}

/* --- signing with OpenSSL ----------------------------------------------- */

static void
make_key(void)
{
	key = EVP_EC_gen("P-256");
	assert_non_null(key);
	cert = X509_new();
	assert_non_null(cert);
	X509_set_version(cert, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 42);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN",
	    MBSTRING_ASC, (const unsigned char *)"test_pdf signer", -1, -1, 0);
	X509_set_issuer_name(cert, X509_get_subject_name(cert));
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
	X509_set_pubkey(cert, key);
	assert_true(X509_sign(cert, key, EVP_sha256()) > 0);
}

/* A detached CMS SignedData over the ByteRange of p, embedded in it. */
static void
sign_prepared(struct pdf_prepared *p)
{
	unsigned char md[EVP_MAX_MD_SIZE], md2[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, md2len = 0;
	unsigned char *der = NULL;
	char err[256];
	BIO *in;
	CMS_ContentInfo *cms;
	int len;

	/* pdf_byterange_digest agrees with a digest of the two parts. */
	assert_int_equal(pdf_byterange_digest(p, EVP_sha256(), md, &mdlen), 0);
	{
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();

		EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
		EVP_DigestUpdate(ctx, p->buf, (size_t)p->byterange[1]);
		EVP_DigestUpdate(ctx, p->buf + p->byterange[2],
		    (size_t)p->byterange[3]);
		EVP_DigestFinal_ex(ctx, md2, &md2len);
		EVP_MD_CTX_free(ctx);
	}
	assert_int_equal(mdlen, 32);
	assert_memory_equal(md, md2, 32);
	/* The excluded part is exactly /Contents' <...>. */
	assert_int_equal(p->buf[p->byterange[1]], '<');
	assert_int_equal(p->buf[p->byterange[2] - 1], '>');
	assert_int_equal(p->byterange[2] - p->byterange[1],
	    (long long)p->contents_hexlen + 2);
	assert_int_equal(p->byterange[2] + p->byterange[3], (long long)p->len);

	in = BIO_new(BIO_s_mem());
	BIO_write(in, p->buf, (int)p->byterange[1]);
	BIO_write(in, p->buf + p->byterange[2], (int)p->byterange[3]);
	cms = CMS_sign(cert, key, NULL, in, CMS_DETACHED | CMS_BINARY |
	    CMS_NOSMIMECAP);
	assert_non_null(cms);
	len = i2d_CMS_ContentInfo(cms, &der);
	assert_true(len > 0);
	assert_int_equal(pdf_embed_signature(p, der, (size_t)len, err,
	    sizeof(err)), 0);
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
}

/* Signs file in with opts into out; returns the signature count before. */
static int
sign_file(const char *in, const char *out, const struct pdf_sig_opts *o)
{
	char a[512], b[512], err[256];
	unsigned char *buf;
	size_t len;
	struct pdf_doc *doc = NULL;
	struct pdf_prepared p;
	int before;

	path_of(a, sizeof(a), in);
	path_of(b, sizeof(b), out);
	buf = read_file(a, &len);
	if (pdf_open(buf, len, &doc, err, sizeof(err)) != 0)
		fail_msg("pdf_open %s: %s", in, err);
	before = pdf_signature_count(doc);
	if (pdf_prepare_signature(doc, o, &p, err, sizeof(err)) != 0)
		fail_msg("pdf_prepare_signature %s: %s", in, err);
	/* The original bytes are a prefix of the new file. */
	assert_true(p.len > len);
	assert_memory_equal(p.buf, buf, len);
	sign_prepared(&p);
	write_file(b, p.buf, p.len);
	pdf_prepared_clear(&p);
	assert_null(p.buf);
	pdf_close(doc);
	free(buf);
	return before;
}

/* qpdf --check passes without a warning. */
static void
check_qpdf(const char *name)
{
	char path[512], out[8192];

	path_of(path, sizeof(path), name);
	if (run(out, sizeof(out), "qpdf --check '%s'", path) != 0 ||
	    strstr(out, "No syntax or stream encoding errors") == NULL)
		fail_msg("qpdf --check %s:\n%s", name, out);
}

/* pdfsig: nsig signatures, all valid, the last one covering the file. */
static void
check_pdfsig(const char *name, int nsig, int last_total)
{
	char path[512], out[16384], want[64];
	const char *last;

	path_of(path, sizeof(path), name);
	run(out, sizeof(out), "pdfsig -nocert '%s'", path);
	snprintf(want, sizeof(want), "Signature #%d:", nsig);
	if (strstr(out, want) == NULL ||
	    count(out, "Signature #") != (size_t)nsig ||
	    count(out, "Signature Validation: Signature is Valid.") !=
	    (size_t)nsig || count(out, "ETSI.CAdES.detached") != (size_t)nsig)
		fail_msg("pdfsig %s (want %d valid):\n%s", name, nsig, out);
	last = strstr(out, want);
	if (last_total && strstr(last, "Total document signed") == NULL)
		fail_msg("pdfsig %s: the last signature does not cover the "
		    "whole file:\n%s", name, out);
	if (!last_total && strstr(last, "Total document signed") != NULL)
		fail_msg("pdfsig %s: an update follows the last signature, yet "
		    "it covers the whole file:\n%s", name, out);
}

/* qpdf's view of one object ("trailer" or a number), in out. */
static void
show_object(const char *name, const char *obj, char *out, size_t outlen)
{
	char path[512];

	path_of(path, sizeof(path), name);
	if (run(out, outlen, "qpdf --show-object=%s '%s'", obj, path) != 0)
		fail_msg("qpdf --show-object=%s %s: %s", obj, name, out);
}

/* The number of the indirect object that key refers to in text. */
static int
ref_of(const char *text, const char *k)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "%s ", k);
	p = strstr(text, pat);
	if (p == NULL)
		fail_msg("no %s in %s", k, text);
	return atoi(p + strlen(pat));
}

static struct pdf_sig_opts
opts_invisible(void)
{
	struct pdf_sig_opts o;

	memset(&o, 0, sizeof(o));
	o.reason = "Approval";
	o.location = "Jakarta";
	o.name = "Test Signer";
	o.signing_time = 1700000000;
	return o;
}

/* A visible signature: a QR of size points at (x, y) on page. */
static void
opts_visible(struct pdf_sig_opts *o, int page, double x, double y,
    double size, const char *qr_text)
{
	o->visible = 1;
	o->page = page;
	o->x = x;
	o->y = y;
	o->size = size;
	o->qr_text = qr_text;
}

/* --- tests -------------------------------------------------------------- */

static void
test_classic_invisible(void **state)
{
	struct pdf_sig_opts o = opts_invisible();
	char out[8192];
	size_t olen, nlen;
	unsigned char *orig, *signd;

	make_pdf("c1.pdf", 1, 0);
	check_qpdf("c1.pdf");
	assert_int_equal(sign_file("c1.pdf", "c1-s.pdf", &o), 0);
	check_qpdf("c1-s.pdf");
	check_pdfsig("c1-s.pdf", 1, 1);

	/* A classic xref table follows the original, with /Prev to it. */
	path_of(out, sizeof(out), "c1.pdf");
	orig = read_file(out, &olen);
	path_of(out, sizeof(out), "c1-s.pdf");
	signd = read_file(out, &nlen);
	assert_non_null(memmem(signd + olen, nlen - olen, "\nxref\n", 6));
	assert_non_null(memmem(signd + olen, nlen - olen, "/SubFilter "
	    "/ETSI.CAdES.detached", 29));
	assert_non_null(memmem(signd + olen, nlen - olen,
	    "/M (D:20231114221320+00'00')", 28));
	free(orig);
	free(signd);

	/* The widget is in page 1's /Annots, the field in /AcroForm. */
	show_object("c1-s.pdf", "trailer", out, sizeof(out));
	assert_non_null(strstr(out, "/Prev "));
	assert_int_equal(ref_of(out, "/Size"), 11);
	show_object("c1-s.pdf", "1", out, sizeof(out));
	assert_non_null(strstr(out, "/Fields [ 10 0 R ]"));
	assert_non_null(strstr(out, "/SigFlags 3"));
	show_object("c1-s.pdf", "8", out, sizeof(out));
	assert_non_null(strstr(out, "/Annots [ 10 0 R ]"));
	show_object("c1-s.pdf", "10", out, sizeof(out));
	assert_non_null(strstr(out, "/FT /Sig"));
	assert_non_null(strstr(out, "/T (Signature1)"));
	assert_non_null(strstr(out, "/Rect [ 0 0 0 0 ]"));
	assert_non_null(strstr(out, "/V 9 0 R"));
	show_object("c1-s.pdf", "9", big, sizeof(big));
	assert_non_null(strstr(big, "/Reason (Approval)"));
	assert_non_null(strstr(big, "/Location (Jakarta)"));
	assert_non_null(strstr(big, "/Name (Test Signer)"));
}

static void
test_xref_stream(void **state)
{
	struct pdf_sig_opts o = opts_invisible();
	char path[512], out[8192], num[16];
	unsigned char *orig, *signd;
	size_t olen, nlen;

	make_pdf("x0.pdf", 2, 1);
	make_objstm_pdf("x0.pdf", "x1.pdf");
	path_of(path, sizeof(path), "x1.pdf");
	orig = read_file(path, &olen);
	assert_non_null(memmem(orig, olen, "/ObjStm", 7));
	assert_non_null(memmem(orig, olen, "/XRef", 5));
	assert_int_equal(sign_file("x1.pdf", "x1-s.pdf", &o), 0);
	check_qpdf("x1-s.pdf");
	check_pdfsig("x1-s.pdf", 1, 1);

	/* The update ends with an xref stream, not a table. */
	path_of(path, sizeof(path), "x1-s.pdf");
	signd = read_file(path, &nlen);
	assert_null(memmem(signd + olen, nlen - olen, "\nxref", 5));
	assert_non_null(memmem(signd + olen, nlen - olen, "/Type /XRef", 11));
	assert_non_null(memmem(signd + olen, nlen - olen, "/W [1 4 2]", 10));
	free(orig);
	free(signd);

	/* The text field of the form is still there, next to ours. */
	show_object("x1-s.pdf", "trailer", out, sizeof(out));
	snprintf(num, sizeof(num), "%d", ref_of(out, "/Root"));
	show_object("x1-s.pdf", num, out, sizeof(out));
	snprintf(num, sizeof(num), "%d", ref_of(out, "/AcroForm"));
	show_object("x1-s.pdf", num, out, sizeof(out));
	assert_non_null(strstr(out, "/DA (/Helv 0 Tf 0 g)"));
	assert_int_equal(count(strstr(out, "/Fields [ "), " R"), 2);

	/* A second signature on the xref-stream file keeps the first. */
	assert_int_equal(sign_file("x1-s.pdf", "x1-ss.pdf", &o), 1);
	check_qpdf("x1-ss.pdf");
	check_pdfsig("x1-ss.pdf", 2, 1);
}

static void
test_serial(void **state)
{
	struct pdf_sig_opts o = opts_invisible();
	char out[16384], path[512];
	unsigned char *buf;
	size_t len;
	struct pdf_doc *doc;
	char err[256];

	make_pdf("s0.pdf", 1, 0);
	assert_int_equal(sign_file("s0.pdf", "s1.pdf", &o), 0);
	o.reason = "Second approval";
	assert_int_equal(sign_file("s1.pdf", "s2.pdf", &o), 1);
	check_qpdf("s2.pdf");
	check_pdfsig("s2.pdf", 2, 1);
	/* A third, with a name of our choice. */
	o.field_name = "Approver";
	assert_int_equal(sign_file("s2.pdf", "s3.pdf", &o), 2);
	check_qpdf("s3.pdf");
	check_pdfsig("s3.pdf", 3, 1);

	path_of(path, sizeof(path), "s3.pdf");
	buf = read_file(path, &len);
	assert_int_equal(pdf_open(buf, len, &doc, err, sizeof(err)), 0);
	assert_int_equal(pdf_signature_count(doc), 3);
	pdf_close(doc);
	free(buf);
	show_object("s3.pdf", "1", out, sizeof(out));
	assert_non_null(strstr(out, "/Fields [ 10 0 R "));
	assert_int_equal(count(out, " 0 R"), 3 + 1);	/* 3 fields, /Pages */
}

/* Counts dark pixels of a PGM (P5, 8 bits) in [x0, x1) x [y0, y1). */
static size_t
pgm_dark(const unsigned char *p, size_t len, int x0, int y0, int x1, int y1,
    int *wp, int *hp)
{
	int w, h, max, n = 0, x, y;
	size_t dark = 0;

	assert_int_equal(sscanf((const char *)p, "P5 %d %d %d%n", &w, &h, &max,
	    &n), 3);
	n++;
	assert_true((size_t)n + (size_t)w * (size_t)h <= len);
	*wp = w;
	*hp = h;
	for (y = y0; y < y1 && y < h; y++)
		for (x = x0; x < x1 && x < w; x++)
			if (p[n + y * w + x] < 128)
				dark++;
	return dark;
}

static void
test_visible_qr(void **state)
{
	struct pdf_sig_opts o = opts_invisible();
	char out[8192], path[512], ppm[512];
	unsigned char *img;
	size_t len, inside, outside, all;
	int w, h;

	make_pdf("v0.pdf", 3, 0);
	opts_visible(&o, 2, 100, 200, 120,
	    "https://verify.example.test/doc/0123456789abcdef");
	o.name = "Pénandatangan Ü€𝄞";	/* UTF-16, with a surrogate pair */
	assert_int_equal(sign_file("v0.pdf", "v1.pdf", &o), 0);
	check_qpdf("v1.pdf");
	check_pdfsig("v1.pdf", 1, 1);

	/* Page 2 (object 9) holds the widget with the asked /Rect. */
	show_object("v1.pdf", "9", out, sizeof(out));
	assert_non_null(strstr(out, "/Annots [ 12 0 R ]"));
	show_object("v1.pdf", "12", out, sizeof(out));
	assert_non_null(strstr(out, "/Rect [ 100 200 220 320 ]"));
	assert_non_null(strstr(out, "/P 9 0 R"));
	assert_non_null(strstr(out, "/AP << /N 13 0 R >>"));
	show_object("v1.pdf", "11", big, sizeof(big));
	assert_non_null(strstr(big, "/Name <feff005000e9006e"));
	assert_non_null(strstr(big, "d834dd1e>"));

	/* Rendered at 72 dpi: dark modules inside the square, none on the rest
	 * of page 2 (which has text only at the top). */
	path_of(path, sizeof(path), "v1.pdf");
	path_of(ppm, sizeof(ppm), "v1-p2");
	assert_int_equal(run(out, sizeof(out), "pdftoppm -r 72 -gray -f 2 -l 2 "
	    "-singlefile '%s' '%s'", path, ppm), 0);
	strcat(ppm, ".pgm");
	img = read_file(ppm, &len);
	/* PDF y 200..320 is image row 792-320..792-200. */
	inside = pgm_dark(img, len, 100, 472, 220, 592, &w, &h);
	assert_int_equal(w, 612);
	assert_int_equal(h, 792);
	all = pgm_dark(img, len, 0, 0, w, h, &w, &h);
	outside = all - inside - pgm_dark(img, len, 0, 0, w, 120, &w, &h);
	assert_true(inside > 120 * 120 / 4 && inside < 120 * 120 * 3 / 4);
	assert_int_equal(outside, 0);
	/* The quiet zone: the 4-module border (>= 4 points here) is white. */
	assert_int_equal(pgm_dark(img, len, 100, 472, 220, 476, &w, &h), 0);
	free(img);
}

/*
 * A filled text field and /NeedAppearances true: viewers regenerate every
 * widget's appearance and ignore ours, so the QR did not render (pdfsig
 * valid, pdftoppm showed nothing). With every field's /AP present the
 * update sets /NeedAppearances false and the QR shows; a field without one
 * refuses a visible signature (422), not an invisible one.
 */
static void
make_need_pdf(const char *name, int with_ap)
{
	struct pdfw w;
	const char *ap = "BT /F1 12 Tf 2 5 Td (Budi) Tj ET";

	pdfw_begin(&w, name);
	pdfw_obj(&w);
	fputs("<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] "
	    "/NeedAppearances true /DA (/F1 0 Tf 0 g) /DR << /Font << /F1 6 0 "
	    "R >> >> >> >>", w.f);
	pdfw_obj(&w);
	fputs("<< /Type /Pages /Kids [3 0 R] /Count 1 >>", w.f);
	pdfw_obj(&w);
	fputs("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
	    "/Annots [4 0 R] >>", w.f);
	pdfw_obj(&w);
	fprintf(w.f, "<< /FT /Tx /T (Nama) /V (Budi) /DA (/F1 12 Tf 0 g) "
	    "/Type /Annot /Subtype /Widget /Rect [72 600 272 620] /P 3 0 R "
	    "/F 4%s >>", with_ap ? " /AP << /N 5 0 R >>" : "");
	pdfw_obj(&w);
	fprintf(w.f, "<< /Type /XObject /Subtype /Form /BBox [0 0 200 20] "
	    "/Resources << /Font << /F1 6 0 R >> >> /Length %zu >>\nstream\n"
	    "%s\nendstream", strlen(ap), ap);
	pdfw_obj(&w);
	fputs("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>", w.f);
	pdfw_finish(&w);
}

/* Dark pixels of page 1 of name rendered at 72 dpi in PDF [x0 y0 x1 y1]. */
static size_t
render_dark(const char *name, int x0, int y0, int x1, int y1)
{
	char out[4096], path[512], ppm[600];
	unsigned char *img;
	size_t len, dark;
	int w, h;

	path_of(path, sizeof(path), name);
	snprintf(ppm, sizeof(ppm), "%s.r", path);
	if (run(out, sizeof(out), "pdftoppm -r 72 -gray -f 1 -l 1 "
	    "-singlefile '%s' '%s'", path, ppm) != 0)
		fail_msg("pdftoppm %s: %s", name, out);
	strcat(ppm, ".pgm");
	img = read_file(ppm, &len);
	dark = pgm_dark(img, len, x0, 792 - y1, x1, 792 - y0, &w, &h);
	assert_int_equal(h, 792);
	free(img);
	return dark;
}

static void
test_need_appearances(void **state)
{
	struct pdf_sig_opts o = opts_invisible();
	struct pdf_doc *doc;
	struct pdf_prepared p;
	char path[512], err[512], out[8192];
	unsigned char *buf;
	size_t len, before, after;

	make_need_pdf("na0.pdf", 1);
	opts_visible(&o, 1, 300, 300, 120,
	    "https://verify.example.test/doc/need");
	assert_int_equal(sign_file("na0.pdf", "na1.pdf", &o), 0);
	check_pdfsig("na1.pdf", 1, 1);
	before = render_dark("na0.pdf", 300, 300, 420, 420);
	after = render_dark("na1.pdf", 300, 300, 420, 420);
	if (before != 0 || after < 120 * 120 / 4)
		fail_msg("the QR's square: %zu dark pixels unsigned, %zu signed "
		    "(want 0, then the QR)", before, after);
	show_object("na1.pdf", "1", out, sizeof(out));
	if (strstr(out, "/NeedAppearances false") == NULL)
		fail_msg("/NeedAppearances not set false: %s", out);

	/* A field without /AP: the visible signature is refused. */
	make_need_pdf("nb0.pdf", 0);
	path_of(path, sizeof(path), "nb0.pdf");
	buf = read_file(path, &len);
	assert_int_equal(pdf_open(buf, len, &doc, err, sizeof(err)), 0);
	assert_int_equal(pdf_check_signature(doc, &o, err, sizeof(err)), -1);
	if (strstr(err, "/NeedAppearances true") == NULL ||
	    strstr(err, "1 field widget(s) have none") == NULL)
		fail_msg("want the /NeedAppearances refusal: %s", err);
	assert_int_equal(pdf_prepare_signature(doc, &o, &p, err, sizeof(err)),
	    -1);
	assert_null(p.buf);
	pdf_close(doc);
	free(buf);
	o.visible = 0;
	o.page = 0;
	assert_int_equal(sign_file("nb0.pdf", "nb1.pdf", &o), 0);
	check_pdfsig("nb1.pdf", 1, 1);
}

/* One page: its /MediaBox and extra keys page_extra, /Pages' pages_extra. */
static void
make_box_pdf(const char *name, const char *page_extra, const char *pages_extra)
{
	struct pdfw w;

	pdfw_begin(&w, name);
	pdfw_obj(&w);
	fputs("<< /Type /Catalog /Pages 2 0 R >>", w.f);
	pdfw_obj(&w);
	fprintf(w.f, "<< /Type /Pages /Kids [3 0 R] /Count 1%s >>",
	    pages_extra);
	pdfw_obj(&w);
	fprintf(w.f, "<< /Type /Page /Parent 2 0 R%s >>", page_extra);
	pdfw_finish(&w);
}

/* The visible signature at x, y (size 120) on name is refused with want. */
static void
expect_qr_refused(const char *name, double x, double y, const char *want)
{
	struct pdf_sig_opts o = opts_invisible();
	struct pdf_doc *doc;
	struct pdf_prepared p;
	char path[512], err[512];
	unsigned char *buf;
	size_t len;

	opts_visible(&o, 1, x, y, 120,
	    "https://verify.example.test/doc/box");
	path_of(path, sizeof(path), name);
	buf = read_file(path, &len);
	assert_int_equal(pdf_open(buf, len, &doc, err, sizeof(err)), 0);
	if (pdf_check_signature(doc, &o, err, sizeof(err)) != -1 ||
	    strstr(err, want) == NULL)
		fail_msg("%s, QR at %g,%g: want \"%s\" refused, got \"%s\"",
		    name, x, y, want, err);
	assert_int_equal(pdf_prepare_signature(doc, &o, &p, err, sizeof(err)),
	    -1);
	assert_null(p.buf);
	assert_non_null(strstr(err, want));
	pdf_close(doc);
	free(buf);
}

/*
 * A visible QR whose square is not inside the page's visible area (its
 * CropBox, own or inherited, within its MediaBox) is refused: at 5000,5000
 * it was signed and never seen.
 */
static void
test_qr_page_area(void **state)
{
	struct pdf_sig_opts o = opts_invisible();

	make_box_pdf("pa0.pdf", " /MediaBox [0 0 612 792]", "");
	expect_qr_refused("pa0.pdf", 5000, 5000, "the QR at [5000 5000 5120 "
	    "5120] is not inside page 1's visible area [0 0 612 792]");
	expect_qr_refused("pa0.pdf", 500, 100, "the QR at [500 100 620 220] "
	    "is not inside page 1's visible area [0 0 612 792]");
	expect_qr_refused("pa0.pdf", -10, 100, "visible area [0 0 612 792]");
	/* Outside a CropBox, the page's own and one inherited. */
	make_box_pdf("pa1.pdf", " /MediaBox [0 0 612 792] /CropBox [100 100 "
	    "495 742]", "");
	expect_qr_refused("pa1.pdf", 20, 20, "the QR at [20 20 140 140] is not "
	    "inside page 1's visible area [100 100 495 742]");
	make_box_pdf("pa2.pdf", "", " /MediaBox [0 0 612 792] /CropBox "
	    "[742 495 100 100]");
	expect_qr_refused("pa2.pdf", 20, 20, "visible area [100 100 612 495]");
	/* A MediaBox off the origin: the origin's corner is off the page. */
	make_box_pdf("pa3.pdf", " /MediaBox [200 300 795 1142]", "");
	expect_qr_refused("pa3.pdf", 20, 20, "visible area [200 300 795 1142]");
	/* No MediaBox at all. */
	make_box_pdf("pa4.pdf", "", "");
	expect_qr_refused("pa4.pdf", 20, 20, "page 1 has no MediaBox");

	/* Inside: signed. */
	opts_visible(&o, 1, 400, 400, 120,
	    "https://verify.example.test/doc/box");
	assert_int_equal(sign_file("pa3.pdf", "pa3s.pdf", &o), 0);
	check_pdfsig("pa3s.pdf", 1, 1);
	o.x = 100;
	o.y = 100;
	assert_int_equal(sign_file("pa1.pdf", "pa1s.pdf", &o), 0);
	check_pdfsig("pa1s.pdf", 1, 1);
}

/*
 * A reference to a missing object (legal: it reads as null) must not come
 * to name one of our new objects: page 1 names object 9, the trailer's
 * /Size, in its /Contents and its /Resources. Numbered from /Size, our
 * update's first object (the signature dictionary or the QR form) became
 * object 9, drawn on a page an earlier signer may have signed.
 */
static void
test_reference_past_size(void **state)
{
	struct pdf_sig_opts o = opts_invisible();
	char out[8192];

	make_pdf("r0.pdf", 1, 5);
	show_object("r0.pdf", "trailer", out, sizeof(out));
	assert_non_null(strstr(out, "/Size 9 "));
	opts_visible(&o, 1, 100, 200, 120,
	    "https://verify.example.test/doc/9");
	assert_int_equal(sign_file("r0.pdf", "r1.pdf", &o), 0);
	check_pdfsig("r1.pdf", 1, 1);
	show_object("r1.pdf", "9", out, sizeof(out));
	if (strncmp(out, "null", 4) != 0)
		fail_msg("object 9, named by page 1 but missing from the "
		    "original, is now one of ours: %.200s", out);
}

static void
test_existing_form(void **state)
{
	struct pdf_sig_opts o = opts_invisible();
	char out[8192], path[512], err[256];
	unsigned char *buf;
	size_t len;
	struct pdf_doc *doc;
	struct pdf_prepared p;

	make_pdf("f0.pdf", 1, 1);
	check_qpdf("f0.pdf");
	/* A field named like the text field is refused. */
	path_of(path, sizeof(path), "f0.pdf");
	buf = read_file(path, &len);
	assert_int_equal(pdf_open(buf, len, &doc, err, sizeof(err)), 0);
	assert_int_equal(pdf_signature_count(doc), 0);
	assert_int_equal(pdf_page_count(doc), 1);
	o.field_name = "Text1";
	assert_int_equal(pdf_prepare_signature(doc, &o, &p, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "already exists"));
	o.field_name = "a.b";
	assert_int_equal(pdf_prepare_signature(doc, &o, &p, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "period"));
	o.field_name = NULL;
	o.reason = "bad \xff utf-8";
	assert_int_equal(pdf_prepare_signature(doc, &o, &p, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "UTF-8"));
	o.reason = "Approval";
	o.page = 2;
	assert_int_equal(pdf_prepare_signature(doc, &o, &p, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "page 2"));
	pdf_close(doc);
	free(buf);

	o.page = 1;
	assert_int_equal(sign_file("f0.pdf", "f1.pdf", &o), 0);
	check_qpdf("f1.pdf");
	check_pdfsig("f1.pdf", 1, 1);
	/* The indirect AcroForm is rewritten, keeping its /DA and /DR. */
	show_object("f1.pdf", "6", out, sizeof(out));
	assert_non_null(strstr(out, "/Fields [ 7 0 R 10 0 R ]"));
	assert_non_null(strstr(out, "/DA (/Helv 0 Tf 0 g)"));
	assert_non_null(strstr(out, "/DR << /Font << /Helv 3 0 R >> >>"));
	assert_non_null(strstr(out, "/SigFlags 3"));
	show_object("f1.pdf", "8", out, sizeof(out));
	assert_non_null(strstr(out, "/Annots [ 7 0 R 10 0 R ]"));
	assert_non_null(strstr(out, "/Resources << /Font << /F1 3 0 R >> >>"));
}

static void
test_indirect_arrays_and_docmdp(void **state)
{
	struct pdf_sig_opts o = opts_invisible();
	struct pdf_blob b = { (const unsigned char *)"\x30\x00", 2 };
	struct pdf_dss dss = { &b, 1, NULL, 0, NULL, 0 };
	struct pdf_prepared p;
	struct pdf_doc *doc;
	unsigned char *buf, *out;
	size_t len, outlen;
	char text[8192], path[512], err[256];

	/* Indirect /Fields and /Annots: those array objects are rewritten. */
	make_pdf("i0.pdf", 1, 3);
	check_qpdf("i0.pdf");
	assert_int_equal(sign_file("i0.pdf", "i1.pdf", &o), 0);
	check_qpdf("i1.pdf");
	check_pdfsig("i1.pdf", 1, 1);
	show_object("i1.pdf", "6", text, sizeof(text));
	assert_string_equal(text, "[ 10 0 R ]\n");
	show_object("i1.pdf", "7", text, sizeof(text));
	assert_string_equal(text, "[ 10 0 R ]\n");
	show_object("i1.pdf", "1", text, sizeof(text));
	assert_non_null(strstr(text, "/AcroForm << /Fields 6 0 R /SigFlags 3 "
	    ">>"));
	show_object("i1.pdf", "8", text, sizeof(text));
	assert_non_null(strstr(text, "/Annots 7 0 R"));

	/* One /Annots array shared by both pages: left alone, page 1 gets
	 * its own copy with the widget (else it would show on page 2 too). */
	make_pdf("s0.pdf", 2, 4);
	check_qpdf("s0.pdf");
	assert_int_equal(sign_file("s0.pdf", "s1.pdf", &o), 0);
	check_qpdf("s1.pdf");
	check_pdfsig("s1.pdf", 1, 1);
	show_object("s1.pdf", "7", text, sizeof(text));
	assert_string_equal(text, "[ ]\n");
	show_object("s1.pdf", "8", text, sizeof(text));
	assert_non_null(strstr(text, "/Annots [ 11 0 R ]"));
	show_object("s1.pdf", "9", text, sizeof(text));
	assert_non_null(strstr(text, "/Annots 7 0 R"));

	/* Certified with no change allowed: a signature is refused, a DSS
	 * (allowed by every DocMDP level) is not. */
	make_pdf("m0.pdf", 1, 2);
	check_qpdf("m0.pdf");
	path_of(path, sizeof(path), "m0.pdf");
	buf = read_file(path, &len);
	assert_int_equal(pdf_open(buf, len, &doc, err, sizeof(err)), 0);
	assert_int_equal(pdf_prepare_signature(doc, &o, &p, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "DocMDP"));
	assert_null(p.buf);
	assert_int_equal(pdf_add_dss(doc, &dss, &out, &outlen, err,
	    sizeof(err)), 0);
	/* A document time-stamp is allowed too (ISO 32000-2 §12.8.2.2.2). */
	memset(&o, 0, sizeof(o));
	o.doc_timestamp = 1;
	assert_int_equal(pdf_prepare_signature(doc, &o, &p, err, sizeof(err)),
	    0);
	pdf_prepared_clear(&p);
	pdf_close(doc);
	path_of(path, sizeof(path), "m1.pdf");
	write_file(path, out, outlen);
	free(out);
	free(buf);
	check_qpdf("m1.pdf");
}

/*
 * A document time-stamp (B-LTA) after a signature: its own dictionary, an
 * invisible field like a signature's, the whole file covered. The token
 * here is any DER (a CMS): what is in it is the TSA's, tested end to end in
 * tests/integration/test_pades.sh.
 */
static void
test_doc_timestamp(void **state)
{
	struct pdf_sig_opts o = opts_invisible(), t;
	struct pdf_prepared p;
	struct pdf_doc *doc;
	unsigned char *buf;
	size_t len;
	char path[512], out[16384], err[256], *upd;
	const char *last;

	make_pdf("t0.pdf", 1, 0);
	assert_int_equal(sign_file("t0.pdf", "t1.pdf", &o), 0);
	path_of(path, sizeof(path), "t1.pdf");
	buf = read_file(path, &len);
	assert_int_equal(pdf_open(buf, len, &doc, err, sizeof(err)), 0);

	/* Invisible, nameless: the options of a signature are refused. */
	memset(&t, 0, sizeof(t));
	t.doc_timestamp = 1;
	t.reason = "Approval";
	assert_int_equal(pdf_prepare_signature(doc, &t, &p, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "document time-stamp"));
	t.reason = NULL;
	t.visible = 1;
	t.page = 1;
	t.size = 50;
	t.qr_text = "https://example.com/";
	assert_int_equal(pdf_prepare_signature(doc, &t, &p, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "document time-stamp"));

	memset(&t, 0, sizeof(t));
	t.doc_timestamp = 1;
	assert_int_equal(pdf_prepare_signature(doc, &t, &p, err, sizeof(err)),
	    0);
	assert_memory_equal(p.buf, buf, len);
	upd = strndup((const char *)p.buf + len, p.len - len);
	assert_non_null(upd);
	assert_non_null(strstr(upd, "<< /Type /DocTimeStamp /Filter "
	    "/Adobe.PPKLite /SubFilter /ETSI.RFC3161 /ByteRange ["));
	assert_null(strstr(upd, "/M ("));
	assert_null(strstr(upd, "/Type /Sig "));
	assert_non_null(strstr(upd, "/FT /Sig /T (Signature2)"));
	free(upd);
	sign_prepared(&p);
	path_of(path, sizeof(path), "t2.pdf");
	write_file(path, p.buf, p.len);
	pdf_prepared_clear(&p);
	pdf_close(doc);
	free(buf);
	check_qpdf("t2.pdf");

	/* pdfsig: the signature, no longer the whole file, then the
	 * time-stamp, which is (pdfsig 22 does not know its SubFilter). */
	run(out, sizeof(out), "pdfsig -nocert '%s'", path);
	if (count(out, "Signature #") != 2 || (last = strstr(out,
	    "Signature #2:")) == NULL ||
	    strstr(out, "Not total document signed") == NULL ||
	    strstr(last, "Total document signed") == NULL ||
	    strstr(last, "ETSI.CAdES.detached") != NULL)
		fail_msg("pdfsig t2.pdf:\n%s", out);
}

static void
test_dss(void **state)
{
	struct pdf_sig_opts o = opts_invisible();
	struct pdf_blob certs[3], ocsp[1];
	struct pdf_dss dss;
	unsigned char *der = NULL, *buf, *out = NULL, *raw;
	char path[512], text[8192], err[256], num[16], raws[512];
	struct pdf_doc *doc;
	size_t len, outlen, rawlen;
	int dlen, dssobj, first;
	const char *names[2] = { "s-x.pdf", "d-c.pdf" };
	int xs;

	dlen = i2d_X509(cert, &der);
	assert_true(dlen > 0);
	certs[0].der = der;
	certs[0].len = (size_t)dlen;
	certs[1] = certs[0];		/* twice: stored once */
	certs[2].der = (const unsigned char *)"not really a certificate";
	certs[2].len = 24;
	ocsp[0].der = (const unsigned char *)"\x30\x03\x0a\x01\x00";
	ocsp[0].len = 5;
	memset(&dss, 0, sizeof(dss));
	dss.certs = certs;
	dss.ncerts = 3;
	dss.ocsps = ocsp;
	dss.nocsps = 1;

	make_pdf("d0.pdf", 1, 0);
	make_objstm_pdf("d0.pdf", "d0x.pdf");
	for (xs = 0; xs < 2; xs++) {
		sign_file(xs ? "d0x.pdf" : "d0.pdf", names[xs], &o);
		path_of(path, sizeof(path), names[xs]);
		buf = read_file(path, &len);
		assert_int_equal(pdf_open(buf, len, &doc, err, sizeof(err)), 0);
		if (pdf_add_dss(doc, &dss, &out, &outlen, err, sizeof(err)) != 0)
			fail_msg("pdf_add_dss: %s", err);
		assert_memory_equal(out, buf, len);
		pdf_close(doc);
		free(buf);
		snprintf(path, sizeof(path), "%s/dss%d.pdf", dir, xs);
		write_file(path, out, outlen);
		free(out);
		check_qpdf(xs ? "dss1.pdf" : "dss0.pdf");
		check_pdfsig(xs ? "dss1.pdf" : "dss0.pdf", 1, 0);

		/* /DSS in the catalog: two certificates, one OCSP response. */
		show_object(xs ? "dss1.pdf" : "dss0.pdf", "trailer", text,
		    sizeof(text));
		snprintf(num, sizeof(num), "%d", ref_of(text, "/Root"));
		show_object(xs ? "dss1.pdf" : "dss0.pdf", num, text,
		    sizeof(text));
		dssobj = ref_of(text, "/DSS");
		snprintf(num, sizeof(num), "%d", dssobj);
		show_object(xs ? "dss1.pdf" : "dss0.pdf", num, text,
		    sizeof(text));
		assert_non_null(strstr(text, "/Certs [ "));
		first = ref_of(text, "/Certs [");
		assert_int_equal(count(strstr(text, "/Certs"), " R") , 2 + 1);
		assert_non_null(strstr(text, "/OCSPs [ "));
		/* The first certificate stream holds the DER as it is. */
		snprintf(raws, sizeof(raws), "%s/raw%d", dir, xs);
		path_of(path, sizeof(path), xs ? "dss1.pdf" : "dss0.pdf");
		assert_int_equal(run(text, sizeof(text), "qpdf "
		    "--show-object=%d --raw-stream-data '%s' >'%s'", first, path,
		    raws), 0);
		raw = read_file(raws, &rawlen);
		assert_int_equal(rawlen, (size_t)dlen);
		assert_memory_equal(raw, der, rawlen);
		free(raw);
	}

	/* Again on dss0.pdf: the same material is nothing to add (0, no
	 * file), a new CRL extends the existing DSS. */
	path_of(path, sizeof(path), "dss0.pdf");
	buf = read_file(path, &len);
	assert_int_equal(pdf_open(buf, len, &doc, err, sizeof(err)), 0);
	assert_int_equal(pdf_add_dss(doc, &dss, &out, &outlen, err,
	    sizeof(err)), 0);
	assert_null(out);
	memset(&dss, 0, sizeof(dss));
	dss.crls = ocsp;
	dss.ncrls = 1;
	dss.certs = certs;
	dss.ncerts = 1;
	assert_int_equal(pdf_add_dss(doc, &dss, &out, &outlen, err,
	    sizeof(err)), 0);
	pdf_close(doc);
	free(buf);
	path_of(path, sizeof(path), "dss2.pdf");
	write_file(path, out, outlen);
	free(out);
	check_qpdf("dss2.pdf");
	check_pdfsig("dss2.pdf", 1, 0);
	show_object("dss2.pdf", "trailer", text, sizeof(text));
	snprintf(num, sizeof(num), "%d", ref_of(text, "/Root"));
	show_object("dss2.pdf", num, text, sizeof(text));
	snprintf(num, sizeof(num), "%d", ref_of(text, "/DSS"));
	show_object("dss2.pdf", num, text, sizeof(text));
	assert_non_null(strstr(text, "/CRLs [ "));
	assert_int_equal(count(strstr(text, "/Certs"), " R") , 2 + 1);

	/* A signature after the DSS keeps the first one valid too. */
	o.reason = "After DSS";
	assert_int_equal(sign_file("dss2.pdf", "dss3.pdf", &o), 1);
	check_qpdf("dss3.pdf");
	check_pdfsig("dss3.pdf", 2, 1);
	OPENSSL_free(der);
}

/*
 * Top-level fields Signature1 .. SignatureN and names that only look like
 * the next one: the PDF opens and the next field is named in time close
 * to linear (they used to cost a comparison per pair of fields, on input
 * anyone may send before any factor is checked).
 */
#define MANY_FIELDS	20000

static void
test_many_fields(void **state)
{
	static const char *extra[] = { "Signature7", "Signature020001",
	    "Signature+20001", "signature20001", "Signature20002",
	    "Signature200010" };
	const size_t nextra = sizeof(extra) / sizeof(extra[0]);
	struct pdf_sig_opts o = opts_invisible();
	struct pdf_prepared p;
	struct pdf_doc *doc;
	struct pdfw w;
	unsigned char *buf;
	char path[512], err[256];
	size_t len, i;

	pdfw_begin(&w, "many.pdf");
	pdfw_obj(&w);
	fputs("<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields 4 0 R >> "
	    ">>", w.f);
	pdfw_page(&w);
	pdfw_obj(&w);
	fputs("[", w.f);
	for (i = 0; i < MANY_FIELDS + nextra; i++)
		fprintf(w.f, " %zu 0 R", 5 + i);
	fputs(" ]", w.f);
	for (i = 0; i < MANY_FIELDS + nextra; i++) {
		pdfw_obj(&w);
		if (i < MANY_FIELDS)
			fprintf(w.f, "<< /FT /Sig /T (Signature%zu) >>", i + 1);
		else
			fprintf(w.f, "<< /FT /Tx /T (%s) >>",
			    extra[i - MANY_FIELDS]);
	}
	pdfw_finish(&w);

	path_of(path, sizeof(path), "many.pdf");
	buf = read_file(path, &len);
	if (pdf_open(buf, len, &doc, err, sizeof(err)) != 0)
		fail_msg("pdf_open: %s", err);
	assert_int_equal(pdf_signature_count(doc), MANY_FIELDS);
	/* Names in use are refused, whatever their place in the list. */
	for (i = 0; i < nextra; i++) {
		o.field_name = i == 0 ? "Signature12345" : extra[i];
		assert_int_equal(pdf_prepare_signature(doc, &o, &p, err,
		    sizeof(err)), -1);
		assert_non_null(strstr(err, "already exists"));
	}
	o.field_name = NULL;
	if (pdf_prepare_signature(doc, &o, &p, err, sizeof(err)) != 0)
		fail_msg("pdf_prepare_signature: %s", err);
	assert_non_null(memmem(p.buf + len, p.len - len, "/T (Signature20001)",
	    19));
	sign_prepared(&p);
	path_of(path, sizeof(path), "many-s.pdf");
	write_file(path, p.buf, p.len);
	pdf_prepared_clear(&p);
	pdf_close(doc);
	free(buf);
	check_qpdf("many-s.pdf");
}

/*
 * A /DSS whose /Certs lists one Flate bomb (32 MiB of zeros) 4096 times
 * and an unfiltered copy of our certificate three times. The bomb is never
 * inflated (it was, once per entry and new item: minutes); the certificate
 * is found (read once) and not stored again; the new items are added.
 */
static void
test_dss_bomb(void **state)
{
	struct pdf_sig_opts o = opts_invisible();
	struct pdf_blob certs[2], crl[1];
	struct pdf_dss dss;
	struct pdf_doc *doc;
	struct pdfw w;
	unsigned char *der = NULL, *bomb, *buf, *out;
	char path[512], cmd[4096], num[16];
	size_t bomblen, len, outlen, i;
	char err[256];
	int dlen;

	path_of(path, sizeof(path), "bomb.z");
	assert_int_equal(run(cmd, sizeof(cmd), "head -c 33554432 /dev/zero | "
	    "zlib-flate -compress >'%s'", path), 0);
	bomb = read_file(path, &bomblen);
	assert_true(bomblen > 0 && bomblen < 1024 * 1024);
	dlen = i2d_X509(cert, &der);
	assert_true(dlen > 0);

	pdfw_begin(&w, "bomb.pdf");
	pdfw_obj(&w);
	fputs("<< /Type /Catalog /Pages 2 0 R /DSS 4 0 R >>", w.f);
	pdfw_page(&w);
	pdfw_obj(&w);
	/* Compared: the first 4096 entries. */
	fputs("<< /Certs [ 6 0 R 6 0 R", w.f);
	for (i = 0; i < 4093; i++)
		fputs(" 5 0 R", w.f);
	fputs(" 6 0 R 5 0 R 5 0 R 5 0 R ] >>", w.f);
	pdfw_obj(&w);
	fprintf(w.f, "<< /Length %zu /Filter /FlateDecode >>\nstream\n",
	    bomblen);
	fwrite(bomb, 1, bomblen, w.f);
	fputs("\nendstream", w.f);
	pdfw_obj(&w);
	fprintf(w.f, "<< /Length %d >>\nstream\n", dlen);
	fwrite(der, 1, (size_t)dlen, w.f);
	fputs("\nendstream", w.f);
	pdfw_finish(&w);
	free(bomb);
	sign_file("bomb.pdf", "bomb-s.pdf", &o);

	certs[0].der = der;
	certs[0].len = (size_t)dlen;
	certs[1].der = (const unsigned char *)"another certificate";
	certs[1].len = 19;
	crl[0].der = (const unsigned char *)"\x30\x03\x02\x01\x07";
	crl[0].len = 5;
	memset(&dss, 0, sizeof(dss));
	dss.certs = certs;
	dss.ncerts = 2;
	dss.crls = crl;
	dss.ncrls = 1;
	path_of(path, sizeof(path), "bomb-s.pdf");
	buf = read_file(path, &len);
	assert_int_equal(pdf_open(buf, len, &doc, err, sizeof(err)), 0);
	if (pdf_add_dss(doc, &dss, &out, &outlen, err, sizeof(err)) != 0)
		fail_msg("pdf_add_dss: %s", err);
	assert_non_null(out);
	pdf_close(doc);
	free(buf);
	path_of(path, sizeof(path), "bomb-dss.pdf");
	write_file(path, out, outlen);
	free(out);
	check_pdfsig("bomb-dss.pdf", 1, 0);
	/* /Certs: the old entries, then "another certificate" only. */
	show_object("bomb-dss.pdf", "4", big, sizeof(big));
	assert_int_equal(count(big, " R"), 4096 + 3 + 1 + 1);
	assert_int_equal(count(big, "6 0 R"), 3);
	assert_non_null(strstr(big, "/CRLs [ "));
	/* The first new object (the signed file's /Size) is that one. */
	show_object("bomb-s.pdf", "trailer", cmd, sizeof(cmd));
	snprintf(num, sizeof(num), "%d", ref_of(cmd, "/Size"));
	show_object("bomb-dss.pdf", num, cmd, sizeof(cmd));
	assert_non_null(strstr(cmd, "/Length 19"));
	OPENSSL_free(der);
}

/*
 * More than the old 20 items (a long chain and a TSA hierarchy), and up to
 * PDF_DSS_MAX; nothing new is no failure (B-LT runs after signHash).
 */
static void
test_dss_many_and_nothing_new(void **state)
{
	struct pdf_sig_opts o = opts_invisible();
	struct pdf_blob items[PDF_DSS_MAX + 1];
	char names[PDF_DSS_MAX + 1][16], path[512], err[256];
	struct pdf_dss dss;
	struct pdf_doc *doc;
	unsigned char *buf, *out, *out2;
	size_t len, outlen, outlen2, i;

	for (i = 0; i < PDF_DSS_MAX + 1; i++) {
		snprintf(names[i], sizeof(names[i]), "item %zu", i);
		items[i].der = (const unsigned char *)names[i];
		items[i].len = strlen(names[i]);
	}
	make_pdf("n0.pdf", 1, 0);
	sign_file("n0.pdf", "n1.pdf", &o);
	path_of(path, sizeof(path), "n1.pdf");
	buf = read_file(path, &len);
	assert_int_equal(pdf_open(buf, len, &doc, err, sizeof(err)), 0);
	memset(&dss, 0, sizeof(dss));
	dss.certs = items;
	dss.ncerts = PDF_DSS_MAX - 2;
	dss.ocsps = items + PDF_DSS_MAX - 2;
	dss.nocsps = 1;
	dss.crls = items + PDF_DSS_MAX - 1;
	dss.ncrls = 2;
	assert_int_equal(pdf_add_dss(doc, &dss, &out, &outlen, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "1 to"));
	dss.ncrls = 1;
	if (pdf_add_dss(doc, &dss, &out, &outlen, err, sizeof(err)) != 0)
		fail_msg("pdf_add_dss of %d items: %s", PDF_DSS_MAX, err);
	pdf_close(doc);
	free(buf);
	path_of(path, sizeof(path), "n2.pdf");
	write_file(path, out, outlen);
	check_qpdf("n2.pdf");
	check_pdfsig("n2.pdf", 1, 0);

	/* The same material again, or part of it: nothing to write. */
	assert_int_equal(pdf_open(out, outlen, &doc, err, sizeof(err)), 0);
	out2 = (unsigned char *)&out2;
	outlen2 = 1;
	assert_int_equal(pdf_add_dss(doc, &dss, &out2, &outlen2, err,
	    sizeof(err)), 0);
	assert_null(out2);
	assert_int_equal(outlen2, 0);
	dss.ncerts = 3;
	assert_int_equal(pdf_add_dss(doc, &dss, &out2, &outlen2, err,
	    sizeof(err)), 0);
	assert_null(out2);
	pdf_close(doc);
	free(out);
}

static void
expect_refused(const unsigned char *buf, size_t len, const char *want)
{
	struct pdf_doc *doc = (struct pdf_doc *)&doc;
	char err[512] = "";

	assert_int_equal(pdf_open(buf, len, &doc, err, sizeof(err)), -1);
	assert_null(doc);
	if (strstr(err, want) == NULL)
		fail_msg("want \"%s\" in \"%s\"", want, err);
}

/* The file opens, with nsigs signature fields. */
static void
expect_opens(const unsigned char *buf, size_t len, int nsigs)
{
	struct pdf_doc *doc;
	char err[512] = "";

	if (pdf_open(buf, len, &doc, err, sizeof(err)) != 0)
		fail_msg("pdf_open: %s", err);
	assert_int_equal(pdf_signature_count(doc), nsigs);
	pdf_close(doc);
}

static void
test_refused(void **state)
{
	char a[512], b[512], out[4096];
	unsigned char *buf;
	size_t len;

	make_pdf("r0.pdf", 1, 0);
	path_of(a, sizeof(a), "r0.pdf");
	/* Encrypted, with and without a user password. */
	path_of(b, sizeof(b), "r-enc.pdf");
	assert_int_equal(run(out, sizeof(out), "qpdf --encrypt u o 256 -- '%s' "
	    "'%s'", a, b), 0);
	buf = read_file(b, &len);
	expect_refused(buf, len, "encrypted");
	free(buf);
	assert_int_equal(run(out, sizeof(out), "qpdf --encrypt '' o 256 -- "
	    "'%s' '%s'", a, b), 0);
	buf = read_file(b, &len);
	expect_refused(buf, len, "encrypted");
	free(buf);

	buf = read_file(a, &len);
	/* Truncated. */
	expect_refused(buf, len / 2, "startxref");
	expect_refused(buf, len - 10, "");
	/* Garbage, empty. */
	expect_refused((const unsigned char *)"hello, world", 12, "not a PDF");
	expect_refused(buf, 0, "bytes");
	/* A wrong xref offset (recovery is off). */
	{
		unsigned char *bad = malloc(len);
		char *x;

		memcpy(bad, buf, len);
		x = memmem(bad, len, "0000000015 00000 n", 18);
		assert_non_null(x);
		memcpy(x, "0000000017", 10);
		expect_refused(bad, len, "qpdf");
		free(bad);
	}
	/* /Contents too small for the CMS. */
	{
		struct pdf_doc *doc;
		struct pdf_prepared p;
		struct pdf_sig_opts o = opts_invisible();
		char err[256];
		unsigned char cms[200];

		memset(cms, 0x30, sizeof(cms));
		o.contents_max = 100;
		assert_int_equal(pdf_open(buf, len, &doc, err, sizeof(err)), 0);
		assert_int_equal(pdf_prepare_signature(doc, &o, &p, err,
		    sizeof(err)), 0);
		assert_int_equal(p.contents_hexlen, 200);
		assert_int_equal(pdf_embed_signature(&p, cms, sizeof(cms), err,
		    sizeof(err)), -1);
		assert_non_null(strstr(err, "does not fit"));
		assert_int_equal(pdf_embed_signature(&p, cms, 100, err,
		    sizeof(err)), 0);
		pdf_prepared_clear(&p);
		/* Visible without text, or off the page range. */
		o.visible = 1;
		o.page = 1;
		o.size = 50;
		assert_int_equal(pdf_prepare_signature(doc, &o, &p, err,
		    sizeof(err)), -1);
		assert_non_null(strstr(err, "QR"));
		pdf_close(doc);
	}
	free(buf);
}

/* --- the page tree ------------------------------------------------------ */

/*
 * A page tree of levels nested /Pages nodes, one kid each (objects 2 to
 * levels + 1), the last holding the page; cycle 1: the deepest node's
 * /Kids points back to the root instead; root_parent 1: the root has a
 * /Parent. Its bytes, to free.
 */
static unsigned char *
make_page_chain(const char *name, int levels, int cycle, int root_parent,
    size_t *lenp)
{
	struct pdfw w;
	char path[512];
	int k;

	pdfw_begin(&w, name);
	pdfw_obj(&w);
	fputs("<< /Type /Catalog /Pages 2 0 R >>", w.f);
	for (k = 0; k < levels; k++) {
		pdfw_obj(&w);
		fprintf(w.f, "<< /Type /Pages /Kids [%d 0 R] /Count 1",
		    cycle && k == levels - 1 ? 2 : k + 3);
		if (k > 0)
			fprintf(w.f, " /Parent %d 0 R", k + 1);
		else if (root_parent)
			fprintf(w.f, " /Parent %d 0 R", levels + 2);
		fputs(" >>", w.f);
	}
	pdfw_obj(&w);
	fprintf(w.f, "<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
	    ">>", levels + 1);
	pdfw_finish(&w);
	path_of(path, sizeof(path), name);
	return read_file(path, lenp);
}

/*
 * qpdf 11.3 walks the page tree by recursion, with no limit: 50,000
 * nested /Pages nodes overflowed the stack (SIGSEGV, the whole of pkisign
 * serve). pdf_open walks it first, iteratively, to PDF_PAGE_DEPTH (64)
 * levels: 64 open, 65 and 50,000 are refused, and so are a /Kids cycle
 * back to the root and a root with a /Parent, each with its message. A
 * balanced tree of 3 levels counts its pages (a regression guard).
 */
static void
test_page_tree(void **state)
{
	struct pdf_doc *doc;
	struct pdfw w;
	unsigned char *buf;
	char path[512], err[512];
	size_t len;
	int i;

	buf = make_page_chain("pages64.pdf", 64, 0, 0, &len);
	check_qpdf("pages64.pdf");
	expect_opens(buf, len, 0);
	free(buf);
	buf = make_page_chain("pages65.pdf", 65, 0, 0, &len);
	expect_refused(buf, len, "page tree deeper than 64 levels");
	free(buf);
	buf = make_page_chain("pages50k.pdf", 50000, 0, 0, &len);
	expect_refused(buf, len, "page tree deeper than 64 levels");
	free(buf);
	buf = make_page_chain("pages-cycle.pdf", 3, 1, 0, &len);
	expect_refused(buf, len, "node 2 0 R reached twice");
	free(buf);
	buf = make_page_chain("pages-parent.pdf", 3, 0, 1, &len);
	expect_refused(buf, len, "root has a /Parent");
	free(buf);

	/* 1 catalog, 2 root, 3 and 4 its kids, 5 to 10 pages (3 each). */
	pdfw_begin(&w, "pages-tree.pdf");
	pdfw_obj(&w);
	fputs("<< /Type /Catalog /Pages 2 0 R >>", w.f);
	pdfw_obj(&w);
	fputs("<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 6 >>", w.f);
	pdfw_obj(&w);
	fputs("<< /Type /Pages /Parent 2 0 R /Kids [5 0 R 6 0 R 7 0 R] "
	    "/Count 3 >>", w.f);
	pdfw_obj(&w);
	fputs("<< /Type /Pages /Parent 2 0 R /Kids [8 0 R 9 0 R 10 0 R] "
	    "/Count 3 >>", w.f);
	for (i = 0; i < 6; i++) {
		pdfw_obj(&w);
		fprintf(w.f, "<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 "
		    "792] >>", i < 3 ? 3 : 4);
	}
	pdfw_finish(&w);
	check_qpdf("pages-tree.pdf");
	path_of(path, sizeof(path), "pages-tree.pdf");
	buf = read_file(path, &len);
	if (pdf_open(buf, len, &doc, err, sizeof(err)) != 0)
		fail_msg("pdf_open: %s", err);
	assert_int_equal(pdf_page_count(doc), 6);
	pdf_close(doc);
	free(buf);
}

/* --- the field tree ----------------------------------------------------- */

/* A string made by vasprintf, to free. */
static char *
str_printf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static char *
str_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	return s;
}

/* n times " obj 0 R", to free. */
static char *
refs(int obj, size_t n)
{
	char one[32], *s;
	size_t len, i;

	len = (size_t)snprintf(one, sizeof(one), " %d 0 R", obj);
	s = malloc(len * n + 1);
	assert_non_null(s);
	for (i = 0; i < n; i++)
		memcpy(s + i * len, one, len);
	s[len * n] = '\0';
	return s;
}

/*
 * A form, its bytes in *lenp: objects 1 to 3 a catalog whose /AcroForm
 * /Fields is object 4, its page tree and page; 4 the array [fields]; then
 * objs[0], objs[1] ... (up to a NULL) as objects 5, 6 ...
 */
static unsigned char *
make_form(const char *name, const char *fields, const char *const *objs,
    size_t *lenp)
{
	struct pdfw w;
	char path[512];
	size_t i;

	pdfw_begin(&w, name);
	pdfw_obj(&w);
	fputs("<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields 4 0 R >> "
	    ">>", w.f);
	pdfw_page(&w);
	pdfw_obj(&w);
	fprintf(w.f, "[%s ]", fields);
	for (i = 0; objs[i] != NULL; i++) {
		pdfw_obj(&w);
		fputs(objs[i], w.f);
	}
	pdfw_finish(&w);
	path_of(path, sizeof(path), name);
	return read_file(path, lenp);
}

#define WIDGET	"<< /Type /Annot /Subtype /Widget /Rect [0 0 0 0] >>"

/*
 * A form as producers make them still opens (a regression guard, not a
 * hostile case): a text field merged with its widget, a radio button with
 * two widget kids, a non-terminal /FT /Sig field whose kids inherit it
 * (one with two widgets, one merged), fields 33 levels deep. A 34th
 * level is refused.
 */
static void
test_form_fields_and_widgets(void **state)
{
	const char *objs[] = {
	    /* 5 */ "<< /FT /Tx /T (Name) /V (x) /Type /Annot /Subtype /Widget "
		"/Rect [72 700 272 730] /P 3 0 R >>",
	    /* 6 */ "<< /FT /Btn /Ff 49152 /T (Choice) /Kids [7 0 R 8 0 R] >>",
	    /* 7 */ "<< /Type /Annot /Subtype /Widget /Parent 6 0 R /Rect "
		"[72 600 92 620] /AS /Off >>",
	    /* 8 */ "<< /Type /Annot /Subtype /Widget /Parent 6 0 R /Rect "
		"[102 600 122 620] /AS /Off >>",
	    /* 9 */ "<< /FT /Sig /T (Approvals) /Kids [10 0 R 11 0 R] >>",
	    /* 10 */ "<< /T (first) /Parent 9 0 R /Kids [12 0 R 13 0 R] >>",
	    /* 11 */ "<< /T (second) /Parent 9 0 R /Type /Annot /Subtype "
		"/Widget /Rect [0 0 0 0] >>",
	    /* 12 */ "<< /Type /Annot /Subtype /Widget /Parent 10 0 R /Rect "
		"[0 0 0 0] >>",
	    /* 13 */ "<< /Type /Annot /Subtype /Widget /Parent 10 0 R /Rect "
		"[0 0 0 0] >>",
	    NULL
	};
	struct pdf_sig_opts o = opts_invisible();
	struct pdf_prepared p;
	struct pdf_doc *doc;
	unsigned char *buf;
	char path[512], err[512], out[16384], *deep[35];
	size_t len;
	int i;

	buf = make_form("form.pdf", " 5 0 R 6 0 R 9 0 R", objs, &len);
	if (pdf_open(buf, len, &doc, err, sizeof(err)) != 0)
		fail_msg("pdf_open: %s", err);
	assert_int_equal(pdf_signature_count(doc), 2);
	o.field_name = "Choice";
	assert_int_equal(pdf_prepare_signature(doc, &o, &p, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "already exists"));
	o.field_name = NULL;
	if (pdf_prepare_signature(doc, &o, &p, err, sizeof(err)) != 0)
		fail_msg("pdf_prepare_signature: %s", err);
	sign_prepared(&p);
	path_of(path, sizeof(path), "form-s.pdf");
	write_file(path, p.buf, p.len);
	pdf_prepared_clear(&p);
	pdf_close(doc);
	free(buf);
	check_qpdf("form-s.pdf");
	/* pdfsig lists the form's unsigned fields too. */
	run(out, sizeof(out), "pdfsig -nocert '%s'", path);
	if (count(out, "Signature is Valid.") != 1 ||
	    strstr(out, "Field Name: Signature1") == NULL)
		fail_msg("pdfsig form-s.pdf:\n%s", out);

	/* Object 5 + i is a field at depth i: 33 levels, then 34. */
	for (i = 0; i < 32; i++)
		deep[i] = str_printf("<< /T (d%d) /Kids [%d 0 R] >>", i, 6 + i);
	deep[32] = str_printf("<< /T (d32) /FT /Sig >>");
	deep[33] = NULL;
	buf = make_form("deep.pdf", " 5 0 R", (const char *const *)deep, &len);
	if (pdf_open(buf, len, &doc, err, sizeof(err)) != 0)
		fail_msg("pdf_open of 33 levels: %s", err);
	assert_int_equal(pdf_signature_count(doc), 1);
	pdf_close(doc);
	free(buf);
	free(deep[32]);
	deep[32] = str_printf("<< /T (d32) /Kids [38 0 R] >>");
	deep[33] = str_printf("<< /T (d33) /FT /Sig >>");
	deep[34] = NULL;
	buf = make_form("deeper.pdf", " 5 0 R", (const char *const *)deep,
	    &len);
	expect_refused(buf, len, "deeper than 32");
	free(buf);
	for (i = 0; i < 34; i++)
		free(deep[i]);
}

/*
 * The review's trigger, scaled down: field 5 with 4096 widget kids (one
 * widget, listed again and again), and /Fields listing field 5 256 times.
 * Each listing walked the kids again (1e6 visits here; 6.5e10 in a file
 * under 8 MB), each visit keeping a qpdf handle. Now a field is walked
 * once however often it is listed, and counted once.
 */
static void
test_form_listed_twice(void **state)
{
	char *kids, *fields, *field;
	const char *objs[3];
	unsigned char *buf;
	size_t len;

	kids = refs(6, 4096);
	fields = refs(5, 256);
	field = str_printf("<< /FT /Tx /T (f) /Kids [%s ] >>", kids);
	objs[0] = field;
	objs[1] = WIDGET;
	objs[2] = NULL;
	buf = make_form("twice-big.pdf", fields, objs, &len);
	expect_opens(buf, len, 0);
	free(buf);

	objs[0] = "<< /FT /Sig /T (a) >>";
	objs[1] = "<< /FT /Sig /T (b) >>";
	buf = make_form("twice.pdf", " 5 0 R 6 0 R 5 0 R", objs, &len);
	expect_opens(buf, len, 2);
	free(buf);
	free(field);
	free(fields);
	free(kids);
}

/*
 * A /Kids cycle (a field its own kid, or its grandchild's) ends where it
 * meets a field again, not after walking 32 levels of it; a field listed in
 * /Fields and as another field's kid (some producers do) counts once.
 */
static void
test_form_cycle(void **state)
{
	const char *self[] = { "<< /T (a) /Kids [5 0 R] >>", NULL };
	const char *loop[] = { "<< /T (a) /Kids [6 0 R] >>",
	    "<< /T (b) /Parent 5 0 R /Kids [" WIDGET " 7 0 R] >>",
	    "<< /T (c) /Parent 6 0 R /Kids [5 0 R] >>", NULL };
	const char *both[] = { "<< /T (a) /Kids [6 0 R] >>",
	    "<< /T (b) /FT /Sig /Parent 5 0 R >>", NULL };
	unsigned char *buf;
	size_t len;

	buf = make_form("cycle1.pdf", " 5 0 R", self, &len);
	expect_opens(buf, len, 0);
	free(buf);
	buf = make_form("cycle3.pdf", " 5 0 R", loop, &len);
	expect_opens(buf, len, 0);
	free(buf);
	buf = make_form("kid-and-top.pdf", " 5 0 R 6 0 R", both, &len);
	expect_opens(buf, len, 1);
	free(buf);
}

/*
 * A /Kids or /Fields array longer than the node budget is refused before
 * it is walked (widgets and non-dictionary entries were never counted).
 */
static void
test_form_array_caps(void **state)
{
	char *kids, *field, *fields;
	const char *objs[3];
	unsigned char *buf;
	size_t len, i;

	kids = refs(6, 65537);
	field = str_printf("<< /FT /Sig /T (f) /Kids [%s ] >>", kids);
	objs[0] = field;
	objs[1] = WIDGET;
	objs[2] = NULL;
	buf = make_form("kids-cap.pdf", " 5 0 R", objs, &len);
	expect_refused(buf, len, "/Kids of 65537 entries");
	free(buf);

	/* One field, then 65536 nulls. */
	fields = malloc(6 + 5 * 65536 + 1);
	assert_non_null(fields);
	strcpy(fields, " 5 0 R");
	for (i = 0; i < 65536; i++)
		memcpy(fields + 6 + 5 * i, " null", 6);
	objs[0] = "<< /FT /Sig /T (f) >>";
	objs[1] = NULL;
	buf = make_form("fields-cap.pdf", fields, objs, &len);
	expect_refused(buf, len, "/Fields of 65537 entries");
	free(buf);
	free(fields);
	free(field);
	free(kids);
}

/*
 * Fields and widgets, each under the array cap, over the node budget in
 * all: three fields of 30,000 widget kids each (listings of one widget).
 * Refused after 65536 nodes, at once; widgets used to be free.
 */
static void
test_form_widget_budget(void **state)
{
	char *kids, *f[3];
	const char *objs[5];
	unsigned char *buf;
	size_t len;
	int i;

	kids = refs(8, 30000);
	for (i = 0; i < 3; i++) {
		f[i] = str_printf("<< /FT /Tx /T (f%d) /Kids [%s ] >>", i, kids);
		objs[i] = f[i];
	}
	objs[3] = WIDGET;
	objs[4] = NULL;
	buf = make_form("widgets.pdf", " 5 0 R 6 0 R 7 0 R", objs, &len);
	expect_refused(buf, len, "more than 65536 fields and widgets");
	free(buf);
	for (i = 0; i < 3; i++)
		free(f[i]);
	free(kids);
}

/*
 * An indirect /T or /FT shared by two fields: each field would copy the
 * string or name out of qpdf again (a 32 MiB string and 65536 fields:
 * 2 TiB). Refused; a megabyte shows the copies are not kept either.
 */
static void
test_form_shared_values(void **state)
{
	const char *t[] = { "<< /T 7 0 R >>", "<< /T 7 0 R >>", NULL, NULL };
	const char *ft[] = { "<< /T (a) /FT 7 0 R >>",
	    "<< /T (b) /FT 7 0 R >>", "/Sig", NULL };
	char *big_str;
	unsigned char *buf;
	size_t len;

	big_str = malloc(1024 * 1024 + 3);
	assert_non_null(big_str);
	big_str[0] = '(';
	memset(big_str + 1, 'a', 1024 * 1024);
	strcpy(big_str + 1 + 1024 * 1024, ")");
	t[2] = big_str;
	buf = make_form("shared-t.pdf", " 5 0 R 6 0 R", t, &len);
	expect_refused(buf, len, "/T 7 0 R shared by two fields");
	free(buf);
	free(big_str);
	buf = make_form("shared-ft.pdf", " 5 0 R 6 0 R", ft, &len);
	expect_refused(buf, len, "/FT 7 0 R shared by two fields");
	free(buf);
}

/* --- out of memory ------------------------------------------------------ */

/*
 * strdup for the whole program, failing while strdup_fail is set: sign/pdf.c
 * copies each key of a dictionary it rewrites with it.
 */
static int	 strdup_fail;

char *
strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p;

	if (strdup_fail || (p = malloc(n)) == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	return memcpy(p, s, n);
}

/*
 * A dictionary copy that cannot be completed fails the update: it used to
 * be written without the keys it lacked (a page without /Contents, a
 * catalog without /Pages). The document stays usable after.
 */
static void
test_update_out_of_memory(void **state)
{
	struct pdf_sig_opts o = opts_invisible();
	struct pdf_blob b = { (const unsigned char *)"\x30\x00", 2 };
	struct pdf_dss dss = { &b, 1, NULL, 0, NULL, 0 };
	struct pdf_prepared p;
	struct pdf_doc *doc;
	unsigned char *buf, *out;
	char path[512], err[256];
	size_t len, outlen;

	make_pdf("oom.pdf", 1, 1);
	path_of(path, sizeof(path), "oom.pdf");
	buf = read_file(path, &len);
	assert_int_equal(pdf_open(buf, len, &doc, err, sizeof(err)), 0);
	strdup_fail = 1;
	/* The page, then the catalog. */
	assert_int_equal(pdf_prepare_signature(doc, &o, &p, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "out of memory"));
	assert_null(p.buf);
	assert_int_equal(pdf_add_dss(doc, &dss, &out, &outlen, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "out of memory"));
	assert_null(out);
	strdup_fail = 0;

	if (pdf_prepare_signature(doc, &o, &p, err, sizeof(err)) != 0)
		fail_msg("pdf_prepare_signature: %s", err);
	sign_prepared(&p);
	path_of(path, sizeof(path), "oom-s.pdf");
	write_file(path, p.buf, p.len);
	pdf_prepared_clear(&p);
	if (pdf_add_dss(doc, &dss, &out, &outlen, err, sizeof(err)) != 0)
		fail_msg("pdf_add_dss: %s", err);
	path_of(path, sizeof(path), "oom-dss.pdf");
	write_file(path, out, outlen);
	free(out);
	pdf_close(doc);
	free(buf);
	check_qpdf("oom-s.pdf");
	check_pdfsig("oom-s.pdf", 1, 1);
	check_qpdf("oom-dss.pdf");
}

/* --- an existing DSS, checked before signing ----------------------------- */

/* A one-page PDF whose catalog has /DSS dss, and obj4 as object 4. */
static unsigned char *
make_dss_pdf(const char *name, const char *dss, const char *obj4,
    size_t *lenp)
{
	struct pdfw w;
	char path[512];

	pdfw_begin(&w, name);
	pdfw_obj(&w);
	fprintf(w.f, "<< /Type /Catalog /Pages 2 0 R /DSS %s >>", dss);
	pdfw_page(&w);
	if (obj4 != NULL) {
		pdfw_obj(&w);
		fputs(obj4, w.f);
	}
	pdfw_finish(&w);
	path_of(path, sizeof(path), name);
	return read_file(path, lenp);
}

/*
 * pdf_check_dss() on doc gives want (NULL: accepted), and pdf_add_dss()
 * the same verdict: the pre-check and the DSS step cannot disagree.
 */
static void
expect_dss(struct pdf_doc *doc, const char *want)
{
	static const struct pdf_blob b = { (const unsigned char *)"\x30\x00",
	    2 };
	struct pdf_dss dss = { &b, 1, &b, 1, NULL, 0 };
	unsigned char *out = NULL;
	size_t outlen;
	char err[512] = "";
	int rc;

	rc = pdf_check_dss(doc, err, sizeof(err));
	if (want == NULL && rc != 0)
		fail_msg("pdf_check_dss: %s", err);
	if (want != NULL && (rc != -1 || strstr(err, want) == NULL))
		fail_msg("pdf_check_dss: %d \"%s\", want \"%s\"", rc, err, want);
	err[0] = '\0';
	rc = pdf_add_dss(doc, &dss, &out, &outlen, err, sizeof(err));
	if (want == NULL) {
		if (rc != 0 || out == NULL)
			fail_msg("pdf_add_dss: %s", err);
		free(out);
	} else if (rc != -1 || out != NULL || strstr(err, want) == NULL)
		fail_msg("pdf_add_dss: %d \"%s\", want \"%s\"", rc, err, want);
}

/*
 * An existing /DSS that pdf_add_dss cannot extend: pdf_check_dss says so
 * on the document as given (pkisign asks before signHash) and on its
 * signed version (what the DSS step sees), in the words of pdf_add_dss; a
 * valid one is accepted and extended.
 */
static void
test_dss_existing(void **state)
{
	static const struct {
		const char	*dss, *obj4, *want;
		int		 signed_too;
	} cases[] = {
		{ "(a string)", NULL, "/DSS is not a dictionary", 1 },
		{ "[ ]", NULL, "/DSS is not a dictionary", 1 },
		{ "<< /Certs 4 0 R >>", "<< /Not /AnArray >>",
		    "DSS /Certs is not an array", 1 },
		{ "<< /OCSPs 12 >>", NULL, "DSS /OCSPs is not an array", 1 },
		{ "<< /Certs 4 0 R /OCSPs 4 0 R >>", "[ ]",
		    "DSS /Certs and /OCSPs are the same array (object 4)", 1 },
		{ "<< /Certs [ ] /OCSPs 4 0 R /CRLs 4 0 R >>", "[ ]",
		    "DSS /OCSPs and /CRLs are the same array", 1 },
		/* Past /Size: our new objects would take the number. */
		{ "<< /CRLs 9 0 R >>", NULL, "past the trailer's /Size", 0 },
		{ "9 0 R", NULL, "/DSS refers to object 9", 0 },
		/* Valid: accepted, and extended. */
		{ "<< /Certs 4 0 R /OCSPs [ ] >>", "[ ]", NULL, 1 },
		{ "<< >>", NULL, NULL, 1 },
	};
	struct pdf_sig_opts o = opts_invisible();
	struct pdf_prepared p;
	struct pdf_doc *doc, *sdoc;
	unsigned char *buf;
	char name[32], err[512];
	size_t i, len;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(name, sizeof(name), "dss-x%zu.pdf", i);
		buf = make_dss_pdf(name, cases[i].dss, cases[i].obj4, &len);
		if (pdf_open(buf, len, &doc, err, sizeof(err)) != 0)
			fail_msg("%s: pdf_open: %s", name, err);
		expect_dss(doc, cases[i].want);
		if (pdf_prepare_signature(doc, &o, &p, err, sizeof(err)) != 0)
			fail_msg("%s: pdf_prepare_signature: %s", name, err);
		sign_prepared(&p);
		if (cases[i].signed_too) {
			if (pdf_open_own(p.buf, p.len, &sdoc, err,
			    sizeof(err)) != 0)
				fail_msg("%s signed: pdf_open_own: %s", name,
				    err);
			expect_dss(sdoc, cases[i].want);
			pdf_close(sdoc);
		}
		pdf_prepared_clear(&p);
		pdf_close(doc);
		free(buf);
	}
}

/*
 * Our own output is re-opened with room for our updates: a form of 65536
 * /Fields entries (the most pdf_open takes) signed has 65537, which
 * pdf_open refuses and pdf_open_own accepts, and a DSS update and a
 * document time-stamp follow.
 */
static void
test_own_headroom(void **state)
{
	struct pdf_sig_opts o = opts_invisible();
	struct pdf_blob b = { (const unsigned char *)"\x30\x00", 2 };
	struct pdf_dss dss = { &b, 1, NULL, 0, NULL, 0 };
	struct pdf_prepared p, p2;
	struct pdf_doc *doc, *sdoc;
	const char *objs[2] = { "<< /FT /Sig /T (f) >>", NULL };
	unsigned char *buf, *out = NULL;
	char *fields, err[512];
	size_t len, outlen, i;

	fields = malloc(6 + 5 * 65535 + 1);
	assert_non_null(fields);
	strcpy(fields, " 5 0 R");
	for (i = 0; i < 65535; i++)
		memcpy(fields + 6 + 5 * i, " null", 6);
	buf = make_form("own-cap.pdf", fields, objs, &len);
	free(fields);
	if (pdf_open(buf, len, &doc, err, sizeof(err)) != 0)
		fail_msg("pdf_open of 65536 fields: %s", err);
	if (pdf_prepare_signature(doc, &o, &p, err, sizeof(err)) != 0)
		fail_msg("pdf_prepare_signature: %s", err);
	sign_prepared(&p);
	expect_refused(p.buf, p.len, "/Fields of 65537 entries");
	if (pdf_open_own(p.buf, p.len, &sdoc, err, sizeof(err)) != 0)
		fail_msg("pdf_open_own of our output: %s", err);
	if (pdf_add_dss(sdoc, &dss, &out, &outlen, err, sizeof(err)) != 0 ||
	    out == NULL)
		fail_msg("pdf_add_dss: %s", err);
	pdf_close(sdoc);
	if (pdf_open_own(out, outlen, &sdoc, err, sizeof(err)) != 0)
		fail_msg("pdf_open_own after the DSS: %s", err);
	memset(&o, 0, sizeof(o));
	o.doc_timestamp = 1;
	if (pdf_prepare_signature(sdoc, &o, &p2, err, sizeof(err)) != 0)
		fail_msg("document time-stamp: %s", err);
	pdf_prepared_clear(&p2);
	pdf_close(sdoc);
	free(out);
	pdf_prepared_clear(&p);
	pdf_close(doc);
	free(buf);
}

static int
setup(void **state)
{
	const char *base = getenv("PKI_TEST_DIR");

	snprintf(dir, sizeof(dir), "%s/test_pdf.XXXXXX", base ? base : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	make_key();
	return 0;
}

static int
teardown(void **state)
{
	char out[1024];

	EVP_PKEY_free(key);
	X509_free(cert);
	if (getenv("PKI_TEST_KEEP") == NULL)
		run(out, sizeof(out), "rm -rf -- '%s'", dir);
	return 0;
}

/*
 * pdfsig of a form with signature fields, some empty: nvalid valid
 * signatures, nempty fields "not signed", and field's signature covering
 * the whole file.
 */
static void
check_pdfsig_fields(const char *name, int nvalid, int nempty,
    const char *field)
{
	char path[512], out[16384], want[128];
	const char *at;

	path_of(path, sizeof(path), name);
	run(out, sizeof(out), "pdfsig -nocert '%s'", path);
	snprintf(want, sizeof(want), "Signature Field Name: %s\n", field);
	if (count(out, "Signature Validation: Signature is Valid.") !=
	    (size_t)nvalid || count(out, "ETSI.CAdES.detached") !=
	    (size_t)nvalid || count(out, "The signature form field is not "
	    "signed.") != (size_t)nempty || count(out, "Signature #") !=
	    (size_t)(nvalid + nempty) || (at = strstr(out, want)) == NULL ||
	    (at = strstr(at, "Total document signed")) == NULL ||
	    strstr(out, "Signature Validation: Signature is Valid.") == NULL)
		fail_msg("pdfsig %s (want %d valid, %d empty, %s whole):\n%s",
		    name, nvalid, nempty, field, out);
	/* The field's own entry is the one covering the file. */
	at = strstr(out, want);
	if (strstr(at, "Signature #") != NULL &&
	    strstr(at, "Signature #") < strstr(at, "Total document signed"))
		fail_msg("pdfsig %s: %s does not cover the file:\n%s", name,
		    field, out);
}

/*
 * A one-page classic PDF whose form has the empty signature fields
 * "Approval" (object 5) and "Parties.Buyer" (object 7 under the
 * non-terminal 6), each merged with its widget, and "Witness" (object 8)
 * whose widget is its kid 9; object 4 is a signature dictionary: mdp not 0
 * makes it a certification with DocMDP /P mdp (in /Perms; /P left out for
 * mdp 9: the default, 2; no /Reference at all for mdp 8); lock not NULL makes it the value of a signed
 * field "Sig0" (object 10, with /Lock << lock >>), sigref not NULL its
 * /Reference entry's /TransformParams. sv (may be NULL) is added to
 * Approval's dictionary.
 */
static void
make_sigfield_pdf(const char *name, int mdp, const char *lock,
    const char *sigref, const char *sv)
{
	char obj[11][512], path[512], ref[256] = "";
	size_t offs[11], n = 0, i, xref;
	FILE *f;

	if (mdp != 0 && mdp != 8)
		snprintf(ref, sizeof(ref), " /Reference [<< /Type /SigRef "
		    "/TransformMethod /DocMDP /TransformParams << /Type "
		    "/TransformParams%s /V /1.2 >> >>]", mdp == 9 ? "" :
		    mdp == 1 ? " /P 1" : mdp == 2 ? " /P 2" : " /P 3");
	else if (sigref != NULL)
		snprintf(ref, sizeof(ref), " /Reference [<< /Type /SigRef "
		    "/TransformMethod /FieldMDP /TransformParams << %s >> >>]",
		    sigref);
	snprintf(obj[n++], 512, "<< /Type /Catalog /Pages 2 0 R /AcroForm << "
	    "/Fields [5 0 R 6 0 R 8 0 R%s] /SigFlags 3 >>%s >>", lock ||
	    sigref ? " 10 0 R" : "", mdp ? " /Perms << /DocMDP 4 0 R >>" : "");
	snprintf(obj[n++], 512, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
	snprintf(obj[n++], 512, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 "
	    "612 792] /Annots [5 0 R 7 0 R 9 0 R%s] >>", lock || sigref ?
	    " 10 0 R" : "");
	snprintf(obj[n++], 512, "<< /Type /Sig /Filter /Adobe.PPKLite "
	    "/SubFilter /adbe.pkcs7.detached%s /ByteRange [0 0 0 0] /Contents "
	    "<00> >>", ref);
	snprintf(obj[n++], 512, "<< /FT /Sig /T (Approval) /Type /Annot "
	    "/Subtype /Widget /Rect [72 100 272 160] /P 3 0 R /F 4%s%s >>",
	    sv ? " " : "", sv ? sv : "");
	snprintf(obj[n++], 512, "<< /T (Parties) /Kids [7 0 R] >>");
	snprintf(obj[n++], 512, "<< /FT /Sig /T (Buyer) /Parent 6 0 R /Type "
	    "/Annot /Subtype /Widget /Rect [300 100 500 160] /P 3 0 R /F 4 >>");
	snprintf(obj[n++], 512, "<< /FT /Sig /T (Witness) /Kids [9 0 R] >>");
	snprintf(obj[n++], 512, "<< /Type /Annot /Subtype /Widget /Parent 8 0 R "
	    "/Rect [300 200 500 260] /P 3 0 R /F 4 >>");
	if (lock || sigref)
		snprintf(obj[n++], 512, "<< /FT /Sig /T (Sig0) /V 4 0 R%s%s%s "
		    "/Type /Annot /Subtype /Widget /Rect [0 0 0 0] /P 3 0 R >>",
		    lock ? " /Lock << /Type /SigFieldLock " : "",
		    lock ? lock : "", lock ? " >>" : "");
	path_of(path, sizeof(path), name);
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", f);
	for (i = 0; i < n; i++) {
		offs[i] = (size_t)ftell(f);
		fprintf(f, "%zu 0 obj\n%s\nendobj\n", i + 1, obj[i]);
	}
	xref = (size_t)ftell(f);
	fprintf(f, "xref\n0 %zu\n0000000000 65535 f\r\n", n + 1);
	for (i = 0; i < n; i++)
		fprintf(f, "%010zu 00000 n\r\n", offs[i]);
	fprintf(f, "trailer\n<< /Size %zu /Root 1 0 R >>\nstartxref\n%zu\n"
	    "%%%%EOF\n", n + 1, xref);
	assert_int_equal(fclose(f), 0);
}

/* pdf_check_signature and pdf_prepare_signature of name with o: 0 or -1. */
static int
try_sign(const char *name, const struct pdf_sig_opts *o, char *err,
    size_t errlen)
{
	char path[512], e2[512];
	unsigned char *buf;
	size_t len;
	struct pdf_doc *doc = NULL;
	struct pdf_prepared p;
	int r1, r2;

	path_of(path, sizeof(path), name);
	buf = read_file(path, &len);
	if (pdf_open(buf, len, &doc, err, errlen) != 0)
		fail_msg("pdf_open %s: %s", name, err);
	r1 = pdf_check_signature(doc, o, e2, sizeof(e2));
	r2 = pdf_prepare_signature(doc, o, &p, err, errlen);
	/* The check says what the update would. */
	assert_int_equal(r1, r2);
	if (r2 == -1)
		assert_string_equal(e2, err);
	pdf_prepared_clear(&p);
	pdf_close(doc);
	free(buf);
	return r2;
}

/*
 * DocMDP /P 2 (ISO 32000-1 §12.8.2.2): a new signature field is refused
 * (validators report it), naming the empty fields; an existing empty one
 * is filled: its object rewritten with /V, its widget, page and /Fields
 * left as they were; pdfsig validates it and qpdf --check passes. Its
 * nested sibling "Parties.Buyer" (a widget kid) is filled next. /P 3 and
 * no certification allow a new field; /P 1 refuses filling too.
 */
static void
test_docmdp_fill_field(void **state)
{
	struct pdf_sig_opts o = opts_invisible();
	char text[8192], err[512];

	make_sigfield_pdf("p2.pdf", 2, NULL, NULL, NULL);
	check_qpdf("p2.pdf");
	assert_int_equal(try_sign("p2.pdf", &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "DocMDP /P 2"));
	assert_non_null(strstr(err, "\"Approval\", \"Parties.Buyer\", "
	    "\"Witness\""));
	/* /P left out means 2. */
	make_sigfield_pdf("p2d.pdf", 9, NULL, NULL, NULL);
	assert_int_equal(try_sign("p2d.pdf", &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "DocMDP /P 2"));
	/*
	 * A /Perms /DocMDP signature dictionary without /Reference is a
	 * certification all the same, /P 2 (Table 254); it used to read as
	 * none, and a new field was added.
	 */
	make_sigfield_pdf("p2n.pdf", 8, NULL, NULL, NULL);
	check_qpdf("p2n.pdf");
	assert_int_equal(try_sign("p2n.pdf", &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "DocMDP /P 2"));
	o.fill_field = "Approval";
	assert_int_equal(try_sign("p2n.pdf", &o, err, sizeof(err)), 0);
	o.fill_field = NULL;

	o.fill_field = "Nope";
	assert_int_equal(try_sign("p2.pdf", &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no empty signature field named \"Nope\""));
	o.fill_field = "Buyer";		/* the partial name is not enough */
	assert_int_equal(try_sign("p2.pdf", &o, err, sizeof(err)), -1);
	o.fill_field = "Witness";	/* its widget a kid: pdfsig misses it */
	assert_int_equal(try_sign("p2.pdf", &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not merged"));
	o.fill_field = "Approval";
	o.visible = 1;
	o.page = 1;
	o.x = o.y = 10;
	o.size = 50;
	o.qr_text = "x";
	assert_int_equal(try_sign("p2.pdf", &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "own widget is kept"));
	o.visible = 0;
	o.page = 0;
	o.qr_text = NULL;

	/* Three signature fields, all empty: pdf_signature_count says 3. */
	assert_int_equal(sign_file("p2.pdf", "p2-a.pdf", &o), 3);
	check_qpdf("p2-a.pdf");
	check_pdfsig_fields("p2-a.pdf", 1, 2, "Approval");
	/* The field: /V added, the rest kept; no new field or widget. */
	show_object("p2-a.pdf", "5", text, sizeof(text));
	assert_int_equal(ref_of(text, "/V"), 10);
	assert_non_null(strstr(text, "/T (Approval)"));
	assert_non_null(strstr(text, "/Rect [ 72 100 272 160 ]"));
	assert_non_null(strstr(text, "/P 3 0 R"));
	show_object("p2-a.pdf", "3", text, sizeof(text));
	assert_non_null(strstr(text, "/Annots [ 5 0 R 7 0 R 9 0 R ]"));
	show_object("p2-a.pdf", "1", text, sizeof(text));
	assert_non_null(strstr(text, "/Fields [ 5 0 R 6 0 R 8 0 R ]"));
	show_object("p2-a.pdf", "trailer", text, sizeof(text));
	assert_non_null(strstr(text, "/Size 11"));
	/* Filled: no longer empty. The nested one next. */
	assert_int_equal(try_sign("p2-a.pdf", &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no empty signature field named "
	    "\"Approval\" in the PDF (its empty signature fields: "
	    "\"Parties.Buyer\", \"Witness\")"));
	o.fill_field = "Parties.Buyer";
	assert_int_equal(sign_file("p2-a.pdf", "p2-b.pdf", &o), 3);
	check_qpdf("p2-b.pdf");
	check_pdfsig_fields("p2-b.pdf", 2, 1, "Parties.Buyer");
	show_object("p2-b.pdf", "7", text, sizeof(text));
	assert_int_equal(ref_of(text, "/V"), 11);
	assert_non_null(strstr(text, "/Rect [ 300 100 500 160 ]"));

	/* /P 1: not even a field filled. /P 3 and none: a new field. */
	make_sigfield_pdf("p1.pdf", 1, NULL, NULL, NULL);
	o.fill_field = "Approval";
	assert_int_equal(try_sign("p1.pdf", &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "DocMDP /P 1"));
	o.fill_field = NULL;
	make_sigfield_pdf("p3.pdf", 3, NULL, NULL, NULL);
	assert_int_equal(sign_file("p3.pdf", "p3-s.pdf", &o), 3);
	check_pdfsig_fields("p3-s.pdf", 1, 3, "Signature1");
	make_sigfield_pdf("p0.pdf", 0, NULL, NULL, NULL);
	assert_int_equal(sign_file("p0.pdf", "p0-s.pdf", &o), 3);
	check_pdfsig_fields("p0-s.pdf", 1, 3, "Signature1");
	check_qpdf("p0-s.pdf");
}

/*
 * FieldMDP (ISO 32000-1 §12.7.4.5, §12.8.2.4): a field an earlier
 * signature locks (its field's /Lock or its /Reference's FieldMDP
 * parameters: /All, /Include listing it, /Exclude not listing it) is not
 * filled; one the lock leaves free is. Required seed values and read-only
 * fields are refused too.
 */
static void
test_fieldmdp_lock(void **state)
{
	struct pdf_sig_opts o = opts_invisible();
	char err[512];
	static const struct {
		const char	*lock, *sigref;
		int		 approval_locked, buyer_locked;
	} c[] = {
		{ "/Action /All", NULL, 1, 1 },
		{ "/Action /Include /Fields [(Approval)]", NULL, 1, 0 },
		{ "/Action /Exclude /Fields [(Approval)]", NULL, 0, 1 },
		{ "/Action /Include /Fields [(Parties.Buyer)]", NULL, 0, 1 },
		{ NULL, "/Type /TransformParams /Action /Include /Fields "
		    "[(Approval)] /V /1.2", 1, 0 },
		{ NULL, "/Type /TransformParams /Action /All /V /1.2", 1, 1 },
		{ "/Action /Include /Fields [(Other)]", NULL, 0, 0 },
	};
	char name[32];
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		snprintf(name, sizeof(name), "lock%zu.pdf", i);
		make_sigfield_pdf(name, 0, c[i].lock, c[i].sigref, NULL);
		check_qpdf(name);
		o.fill_field = "Approval";
		if (try_sign(name, &o, err, sizeof(err)) != -c[i].approval_locked)
			fail_msg("case %zu: Approval: %s", i, err);
		if (c[i].approval_locked)
			assert_non_null(strstr(err, "locked by an earlier "
			    "signature"));
		o.fill_field = "Parties.Buyer";
		if (try_sign(name, &o, err, sizeof(err)) != -c[i].buyer_locked)
			fail_msg("case %zu: Parties.Buyer: %s", i, err);
	}
	/* Seed values: advisory ones are ignored, required ones refused. */
	o.fill_field = "Approval";
	make_sigfield_pdf("sv0.pdf", 0, NULL, NULL, "/SV << /Type /SV "
	    "/Reasons [(Approval)] >>");
	assert_int_equal(try_sign("sv0.pdf", &o, err, sizeof(err)), 0);
	make_sigfield_pdf("sv1.pdf", 0, NULL, NULL, "/SV << /Type /SV "
	    "/SubFilter [/adbe.pkcs7.detached] /Ff 2 >>");
	assert_int_equal(try_sign("sv1.pdf", &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "seed values"));
	make_sigfield_pdf("sv2.pdf", 0, NULL, NULL, "/SV << /TimeStamp << "
	    "/URL (http://tsa.example) /Ff 1 >> >>");
	assert_int_equal(try_sign("sv2.pdf", &o, err, sizeof(err)), -1);
	make_sigfield_pdf("ro.pdf", 0, NULL, NULL, "/Ff 1");
	assert_int_equal(try_sign("ro.pdf", &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "read-only"));
}

/*
 * A one-page classic PDF whose catalog names object 6 of generation 1
 * (/Extra 6 1 R), whose body is obj6.
 */
static void
make_gen1_pdf(const char *name, const char *obj6)
{
	const char *obj[6] = {
		"<< /Type /Catalog /Pages 2 0 R /Extra 6 1 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
		    "/Contents 4 0 R >>",
		"<< /Length 0 >>\nstream\n\nendstream",
		"<< /Producer (test_pdf) >>",
		obj6,
	};
	char path[512];
	size_t offs[6], i, xref;
	FILE *f;

	path_of(path, sizeof(path), name);
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", f);
	for (i = 0; i < 6; i++) {
		offs[i] = (size_t)ftell(f);
		fprintf(f, "%zu %d obj\n%s\nendobj\n", i + 1, i == 5 ? 1 : 0,
		    obj[i]);
	}
	xref = (size_t)ftell(f);
	fprintf(f, "xref\n0 7\n0000000000 65535 f\r\n");
	for (i = 0; i < 6; i++)
		fprintf(f, "%010zu %05d n\r\n", offs[i], i == 5 ? 1 : 0);
	fprintf(f, "trailer\n<< /Size 7 /Root 1 0 R /Info 5 0 R >>\nstartxref\n"
	    "%zu\n%%%%EOF\n", xref);
	assert_int_equal(fclose(f), 0);
}

/*
 * Objects of generation > 0 are read at open when a reference names them:
 * a damaged one is refused by pdf_open, not when the update rewrites the
 * catalog that names it (after signHash, in pkisign). A good one is kept
 * and the document signed.
 */
static void
test_generation_gt0(void **state)
{
	struct pdf_sig_opts o = opts_invisible();
	char path[512], err[256], text[4096];
	unsigned char *buf;
	size_t len;
	struct pdf_doc *doc = NULL;

	make_gen1_pdf("g1.pdf", "<< /Note (a reused number) >>");
	check_qpdf("g1.pdf");
	assert_int_equal(sign_file("g1.pdf", "g1-s.pdf", &o), 0);
	check_qpdf("g1-s.pdf");
	check_pdfsig("g1-s.pdf", 1, 1);
	show_object("g1-s.pdf", "1", text, sizeof(text));
	assert_non_null(strstr(text, "/Extra 6 1 R"));

	/* A dictionary that never ends: a syntax error. */
	make_gen1_pdf("g2.pdf", "<< /Note (damaged) /A [ 1 2 >>");
	path_of(path, sizeof(path), "g2.pdf");
	buf = read_file(path, &len);
	err[0] = '\0';
	if (pdf_open(buf, len, &doc, err, sizeof(err)) == 0) {
		pdf_close(doc);
		fail_msg("a damaged object 6 1 was not refused at open");
	}
	assert_non_null(strstr(err, "object 6 1"));
	free(buf);
}

/*
 * The CPU budget is the request's between pdf_read_budget_begin() and
 * _end(): a document of 40,000 small objects (read in well under the 2 s
 * budget, so the budget is looked at) is accepted alone and as a request's
 * first, refused once the documents before it (CPU burnt here after the
 * first) have spent the budget, and accepted again after _end(). Before, each document had a budget of its
 * own: a request of 100 documents could take 100 budgets.
 */
static void
test_request_cpu_budget(void **state)
{
	struct pdf_doc *doc = NULL;
	struct pdfw w;
	struct timespec t0, t;
	unsigned char *buf;
	char path[512], err[512];
	size_t len;
	int i;

	(void)state;
	pdfw_begin(&w, "objects.pdf");
	pdfw_obj(&w);
	fputs("<< /Type /Catalog /Pages 2 0 R >>", w.f);
	pdfw_page(&w);
	for (i = 0; i < 40000; i++) {
		pdfw_obj(&w);
		fprintf(w.f, "<< /N %d /A [1 2 3] >>", i);
	}
	pdfw_finish(&w);
	path_of(path, sizeof(path), "objects.pdf");
	buf = read_file(path, &len);
	pdf_set_read_cpu_limit(2000);
	assert_int_equal(pdf_open(buf, len, &doc, err, sizeof(err)), 0);
	pdf_close(doc);
	doc = NULL;
	pdf_read_budget_begin();
	/*
	 * A first document of the request, then what more of them would
	 * spend: 2.1 s of this thread's CPU in all.
	 */
	assert_int_equal(pdf_open(buf, len, &doc, err, sizeof(err)), 0);
	pdf_close(doc);
	doc = NULL;
	assert_int_equal(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0), 0);
	do
		assert_int_equal(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t), 0);
	while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) /
	    1000000 < 2100);
	assert_int_not_equal(pdf_open(buf, len, &doc, err, sizeof(err)), 0);
	assert_null(doc);
	assert_non_null(strstr(err, "reading this PDF and the documents "
	    "before it takes more than 2.0 s of CPU"));
	pdf_read_budget_end();
	assert_int_equal(pdf_open(buf, len, &doc, err, sizeof(err)), 0);
	pdf_close(doc);
	pdf_set_read_cpu_limit(PDF_READ_CPU_MS_DEFAULT);
	free(buf);
}

/*
 * name2: name with its startxref offset moved back by by bytes (onto white
 * space before "xref" or the xref stream object), then pad bytes of c.
 */
static void
make_tail_variant(const char *name, const char *name2, int by, size_t pad,
    int c)
{
	char path[512], tail[64];
	unsigned char *buf, *sx;
	size_t len, n;
	long off;
	FILE *f;

	path_of(path, sizeof(path), name);
	buf = read_file(path, &len);
	sx = NULL;
	for (n = len >= 9 ? len - 9 + 1 : 0; n-- > 0;)
		if (memcmp(buf + n, "startxref", 9) == 0) {
			sx = buf + n;
			break;
		}
	assert_non_null(sx);
	off = strtol((char *)sx + 10, NULL, 10);
	path_of(path, sizeof(path), name2);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, (size_t)(sx - buf), f),
	    (size_t)(sx - buf));
	n = (size_t)snprintf(tail, sizeof(tail), "startxref\n%ld\n%%%%EOF\n",
	    off - by);
	assert_int_equal(fwrite(tail, 1, n, f), n);
	for (n = 0; n < pad; n++)
		fputc(c, f);
	assert_int_equal(fclose(f), 0);
	free(buf);
}

/* name opens or is refused with want, and then signs (or not). */
static void
expect_tail(const char *name, const char *want)
{
	char path[512], out[600];
	unsigned char *buf;
	size_t len;

	path_of(path, sizeof(path), name);
	buf = read_file(path, &len);
	if (want != NULL)
		expect_refused(buf, len, want);
	else {
		struct pdf_sig_opts o = opts_invisible();

		expect_opens(buf, len, 0);
		snprintf(out, sizeof(out), "%s-s.pdf", name);
		assert_int_equal(sign_file(name, out, &o), 0);
		check_qpdf(out);
		check_pdfsig(out, 1, 1);
	}
	free(buf);
}

/*
 * startxref naming the EOL just before "xref" (qpdf only warns: extraneous
 * whitespace) and NUL or white-space padding past the last 1024 bytes
 * after %%EOF: both were refused; both sign now, within bounds.
 */
static void
test_startxref_tolerance(void **state)
{
	make_pdf("t0.pdf", 1, 0);
	/* The offset of the EOL before "xref". */
	make_tail_variant("t0.pdf", "t1.pdf", 1, 0, 0);
	expect_tail("t1.pdf", NULL);
	/* Into the "endobj" before: still refused. */
	make_tail_variant("t0.pdf", "t2.pdf", 2, 0, 0);
	expect_tail("t2.pdf", "points at neither");
	make_tail_variant("t0.pdf", "t3.pdf", 8, 0, 0);
	expect_tail("t3.pdf", "points at neither");
	/* Padding: 2 KiB of NULs, 60000 bytes of CR LF, both with the EOL. */
	make_tail_variant("t0.pdf", "t4.pdf", 0, 2048, '\0');
	expect_tail("t4.pdf", NULL);
	make_tail_variant("t0.pdf", "t5.pdf", 1, 60000, '\n');
	expect_tail("t5.pdf", NULL);
	/* Past the 64 KiB bound, or padding that is not white space. */
	make_tail_variant("t0.pdf", "t6.pdf", 0, 70000, '\0');
	expect_tail("t6.pdf", "no startxref in the last 1024 bytes");
	make_tail_variant("t0.pdf", "t7.pdf", 0, 2048, 'x');
	expect_tail("t7.pdf", "no startxref in the last 1024 bytes");
	/* An xref stream: the offset of the EOL before its object. */
	make_pdf("t8.pdf", 1, 1);
	make_objstm_pdf("t8.pdf", "t9.pdf");
	make_tail_variant("t9.pdf", "t10.pdf", 0, 3000, '\0');
	expect_tail("t10.pdf", NULL);
	make_tail_variant("t9.pdf", "t11.pdf", 1, 0, 0);
	expect_tail("t11.pdf", NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classic_invisible),
		cmocka_unit_test(test_xref_stream),
		cmocka_unit_test(test_reference_past_size),
		cmocka_unit_test(test_serial),
		cmocka_unit_test(test_visible_qr),
		cmocka_unit_test(test_need_appearances),
		cmocka_unit_test(test_qr_page_area),
		cmocka_unit_test(test_startxref_tolerance),
		cmocka_unit_test(test_existing_form),
		cmocka_unit_test(test_indirect_arrays_and_docmdp),
		cmocka_unit_test(test_dss),
		cmocka_unit_test(test_dss_bomb),
		cmocka_unit_test(test_dss_many_and_nothing_new),
		cmocka_unit_test(test_many_fields),
		cmocka_unit_test(test_doc_timestamp),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_page_tree),
		cmocka_unit_test(test_form_fields_and_widgets),
		cmocka_unit_test(test_form_listed_twice),
		cmocka_unit_test(test_form_cycle),
		cmocka_unit_test(test_form_array_caps),
		cmocka_unit_test(test_form_widget_budget),
		cmocka_unit_test(test_form_shared_values),
		cmocka_unit_test(test_update_out_of_memory),
		cmocka_unit_test(test_dss_existing),
		cmocka_unit_test(test_own_headroom),
		cmocka_unit_test(test_docmdp_fill_field),
		cmocka_unit_test(test_fieldmdp_lock),
		cmocka_unit_test(test_generation_gt0),
		cmocka_unit_test(test_request_cpu_budget),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
