/*
 * The PDF layer of the PAdES signer (see pdf.h and sign/README.md).
 *
 * Reading is qpdf's (C API, recovery off): a PDF qpdf cannot read exactly as
 * its cross-reference data says is refused, as is an encrypted one. Writing
 * is ours: every update is appended to the original bytes (ISO 32000-1
 * §7.5.6), its objects are either new (written here, so the /ByteRange and
 * /Contents placeholders sit where we know) or existing dictionaries and
 * arrays rewritten whole from a modified copy that qpdf serialises, so that
 * every key we do not touch is kept. New object numbers start at the
 * original's /Size; the cross-reference section is a classic table when the
 * original's last one is a table, an (uncompressed) xref stream otherwise.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <qpdf/qpdf-c.h>
#include <qrencode.h>

#include "sign/memcap.h"
#include "sign/pdf.h"

/* Bytes at the end of a file searched for "startxref" (ISO 32000-1 §7.5.5). */
#define PDF_TAIL_SEARCH		1024
/*
 * NUL and white-space padding after %%EOF skipped first, at most (some
 * transports and storage pad files to a block; qpdf then no longer finds
 * startxref, and is given the file without its padding).
 */
#define PDF_TAIL_PAD		(64 * 1024)
/* White space skipped at the startxref offset to "xref" or "N G obj". */
#define PDF_XREF_SKIP		64
/* The largest object number a cross-reference table may give (Annex C). */
#define PDF_MAX_OBJNUM		8388607LL
/*
 * The field tree: depth, and entries of /Fields and /Kids read (fields and
 * widgets, each time listed), before we call it hostile.
 */
#define PDF_FIELD_DEPTH		32
#define PDF_FIELD_NODES		65536
/*
 * The page tree (ISO 32000-1 §7.7.3.2): levels of /Pages nodes, the root
 * counted. qpdf 11.3 walks the tree (qpdf_get_num_pages, qpdf_get_page_n)
 * by recursion, one call chain per level and no limit: a chain of 50,000
 * nested /Pages nodes (4.2 MB) overflowed the stack and killed the whole
 * process, pkisign serve with every caller's job. pdf_check_page_tree()
 * walks it first, without recursion, and refuses a deeper tree. Writers
 * build balanced trees (Acrobat, qpdf, pdfTeX: 8 to 128 kids a node):
 * millions of pages need fewer than 10 levels, and even a binary tree of
 * 2^63 pages needs only 64 (a writer nesting one more level per page
 * added would reach it at 64 pages; we know of none). 64 levels of
 * qpdf's recursion take a few KiB of stack on any thread.
 */
#define PDF_PAGE_DEPTH		64
/*
 * /Fields entries read from the FieldMDP locks of earlier signatures (ISO
 * 32000-1 §12.8.2.4, §12.7.4.5), all locks together: a form has at most
 * PDF_FIELD_NODES fields, so more entries name fields that do not exist or
 * one field again (locks sharing one long array would make the reading
 * quadratic).
 */
#define PDF_LOCK_NAMES		PDF_FIELD_NODES
/*
 * Distinct objects of generation > 0 that references name, each read by
 * pdf_open (a reused number is rare; more is refused).
 */
#define PDF_GEN_REFS		65536
/* Entries of an existing DSS array compared with new material. */
#define PDF_DSS_SCAN		4096
/*
 * Headroom for our own updates. pkisign writes at most PDF_OWN_UPDATES
 * updates over a document pdf_open() accepted (the signature, the DSS, the
 * document time-stamp) and re-opens its output with pdf_open_own() before
 * the second and the third. Whatever an input that passed pdf_open() needs,
 * so that none of that can fail a limit after signHash has spent the
 * authorization:
 *
 * - object numbers: one update writes at most PDF_UPDATE_OBJS objects (the
 *   size of pdf_update.ents; upd_obj() refuses more): a DSS of PDF_DSS_MAX
 *   streams, the DSS, its 3 arrays, the catalog and the xref stream; a
 *   signature 6. An input's /Size leaves room for 3 of them below
 *   PDF_MAX_OBJNUM (8387815), our own output's for the next one;
 * - bytes: one update adds at most PDF_UPDATE_MAX (upd_finish() refuses a
 *   larger one; for a signature that is pdf_prepare_signature(), before
 *   anything is signed). A DSS of 20 CRLs (a chain of 10, the signer's and
 *   the TSA's) at REVINFO_CRL_MAX (16 MiB) is 320 MiB; a signature is 2 MiB
 *   of /Contents at most, the QR form and the page, /Annots, AcroForm,
 *   /Fields and catalog rewritten. Our own output may be the input's
 *   PDF_MAX_INPUT (256 MiB) plus 3 updates of 512 MiB: 1792 MiB;
 * - the form: each signature and document time-stamp adds one field to
 *   /Fields, so our own output may have PDF_OWN_UPDATES more than
 *   PDF_FIELD_NODES.
 */
#define PDF_OWN_UPDATES		3
#define PDF_UPDATE_OBJS		(PDF_DSS_MAX + 8)
#define PDF_UPDATE_MAX		((size_t)512 * 1024 * 1024)
#define PDF_MAX_OWN		(PDF_MAX_INPUT + PDF_OWN_UPDATES * PDF_UPDATE_MAX)
/* Bounds of the options. */
#define PDF_CONTENTS_MAX	(1024 * 1024)
#define PDF_COORD_MAX		100000.0
#define PDF_TEXT_MAX		4096
/* Modules of white around the QR code (ISO/IEC 18004 asks for 4). */
#define PDF_QR_QUIET		4
/* Width of the ByteRange placeholder between its brackets. */
#define PDF_BR_WIDTH		44

struct pdf_doc {
	unsigned char	*buf;		/* the original bytes */
	size_t		 len;
	qpdf_data	 q;		/* qpdf's view of buf (reads buf) */
	long long	 startxref;	/* offset of the last xref section */
	int		 xref_stream;	/* it is an xref stream, not a table */
	int		 xref_ws;	/* startxref named white space before it */
	size_t		 qlen;		/* len without trailing padding: qpdf's */
	long long	 size;		/* trailer /Size */
	long long	 next_obj;	/* our first new object: past /Size and
					   every reference (pdf_scan_refs) */
	int		 npages;
	int		 nsigs;		/* signature fields */
	int		 docmdp_nochange; /* certified with /P 1 */
	int		 docmdp_p;	/* certified: the lowest /P; 0: not */
	/* Empty signature fields, which a signature may fill. */
	struct pdf_sigfield *empty;
	size_t		 nempty, empty_cap;
	/*
	 * FieldMDP locks of the signed signature fields: /Action /All (or one
	 * we do not know) locks every field; /Include the names listed;
	 * /Exclude all but those listed, once per such lock (nexcl of them).
	 */
	int		 lock_all;
	struct pdf_lockname *locks;
	size_t		 nlocks, locks_cap;
	int		 nexcl;
	int		 lock_entries;	/* /Fields entries read, all locks */
	char		**names;	/* top-level field names (UTF-8), sorted */
	size_t		 nnames;
	size_t		 names_cap;
	int		 sig_next;	/* the first free "SignatureN" */
	int		 max_nodes;	/* the form's node budget */
	/*
	 * The AcroForm's /NeedAppearances is true (ISO 32000-1 §12.7.2,
	 * Table 218): viewers (poppler, Acrobat) then regenerate the
	 * appearances of the fields and ignore ours, so a visible QR does
	 * not show. widgets_no_ap: field widgets without an /AP that have an
	 * area (a zero-size /Rect shows nothing either way).
	 */
	int		 need_appearances;
	int		 widgets_no_ap;
};

/* An empty signature field (no /V, own or inherited). */
struct pdf_sigfield {
	char		*name;		/* fully qualified (§12.7.3.2), UTF-8 */
	int		 id, gen;	/* the terminal field; id 0: direct */
	int		 widgets;	/* kids without /T, and itself */
	int		 merged;	/* itself a widget (§12.5.6.19) */
	int		 sv_required;	/* /SV constraints marked required */
	int		 read_only;	/* /Ff bit 1 (§12.7.3.1) */
};

/* A field name listed by a FieldMDP lock. */
struct pdf_lockname {
	char		*name;		/* fully qualified, UTF-8 */
	int		 excl;		/* -1: /Include; else /Exclude lock # */
};

/* A growing output buffer; ok turns 0 for good on allocation failure. */
struct pdf_buf {
	unsigned char	*p;
	size_t		 len, cap;
	int		 ok;
};

/* An object written by an update: its number and where it starts. */
struct pdf_entry {
	long long	 num;
	int		 gen;
	size_t		 off;
};

struct pdf_update {
	struct pdf_buf	 out;		/* original bytes, then the update */
	/* A DSS update: its streams, the DSS, 3 arrays, catalog, xref. */
	struct pdf_entry ents[PDF_UPDATE_OBJS];
	size_t		 nents;
	long long	 next;		/* next new object number */
};

/* --- small helpers ------------------------------------------------------ */

static int
buf_reserve(struct pdf_buf *b, size_t more)
{
	size_t ncap;
	unsigned char *np;

	if (!b->ok)
		return -1;
	if (more <= b->cap - b->len)
		return 0;
	if (more > SIZE_MAX / 2 - b->len) {
		b->ok = 0;
		return -1;
	}
	ncap = b->cap ? b->cap : 4096;
	while (ncap - b->len < more)
		ncap *= 2;
	if ((np = realloc(b->p, ncap)) == NULL) {
		b->ok = 0;
		return -1;
	}
	b->p = np;
	b->cap = ncap;
	return 0;
}

static void
buf_add(struct pdf_buf *b, const void *data, size_t len)
{
	if (len == 0 || buf_reserve(b, len) == -1)
		return;
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

static void
buf_str(struct pdf_buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void buf_printf(struct pdf_buf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
buf_printf(struct pdf_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->ok = 0;
		return;
	}
	if (buf_reserve(b, (size_t)n + 1) == -1)
		return;
	va_start(ap, fmt);
	vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* A PDF real (no exponent, at most 6 decimals, no trailing zeros). */
static void
buf_real(struct pdf_buf *b, double v)
{
	char s[64];
	size_t n;

	snprintf(s, sizeof(s), "%.6f", v);
	n = strlen(s);
	while (n > 0 && s[n - 1] == '0')
		s[--n] = '\0';
	if (n > 0 && s[n - 1] == '.')
		s[--n] = '\0';
	if (strcmp(s, "-0") == 0)
		strcpy(s, "0");
	buf_str(b, s);
}

static void
buf_hex(struct pdf_buf *b, const unsigned char *p, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	if (buf_reserve(b, len * 2) == -1)
		return;
	for (i = 0; i < len; i++) {
		b->p[b->len++] = (unsigned char)hex[p[i] >> 4];
		b->p[b->len++] = (unsigned char)hex[p[i] & 0xf];
	}
}

/*
 * A text string (ISO 32000-1 §7.9.2.2): a literal in PDFDocEncoding when s
 * is printable ASCII, else UTF-16BE with its byte order mark, as hex.
 * -1 when s is not UTF-8 or holds a code point PDF text cannot carry.
 */
static int
buf_text(struct pdf_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char u[4];
	uint32_t cp;
	size_t i, n;
	int ascii = 1;

	for (i = 0; p[i] != '\0'; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			ascii = 0;
	if (ascii) {
		buf_str(b, "(");
		for (i = 0; p[i] != '\0'; i++) {
			if (p[i] == '(' || p[i] == ')' || p[i] == '\\')
				buf_str(b, "\\");
			buf_add(b, &p[i], 1);
		}
		buf_str(b, ")");
		return 0;
	}
	buf_str(b, "<FEFF");
	for (i = 0; p[i] != '\0'; i += n) {
		if (p[i] < 0x80) {
			cp = p[i];
			n = 1;
		} else if ((p[i] & 0xe0) == 0xc0) {
			cp = p[i] & 0x1f;
			n = 2;
		} else if ((p[i] & 0xf0) == 0xe0) {
			cp = p[i] & 0x0f;
			n = 3;
		} else if ((p[i] & 0xf8) == 0xf0) {
			cp = p[i] & 0x07;
			n = 4;
		} else
			return -1;
		for (size_t k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		/* Overlong forms, surrogates, beyond U+10FFFF, NUL. */
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
		    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp == 0)
			return -1;
		if (cp < 0x10000) {
			u[0] = (unsigned char)(cp >> 8);
			u[1] = (unsigned char)cp;
			buf_hex(b, u, 2);
		} else {
			cp -= 0x10000;
			u[0] = (unsigned char)(0xd8 | (cp >> 18));
			u[1] = (unsigned char)(cp >> 10);
			u[2] = (unsigned char)(0xdc | ((cp >> 8) & 0x03));
			u[3] = (unsigned char)cp;
			buf_hex(b, u, 4);
		}
	}
	buf_str(b, ">");
	return 0;
}

/*
 * qpdf's text for e as our message: what went wrong, then qpdf's words. An
 * allocation qpdf could not make is a stream inflating past the memory cap
 * (pkisign's memory limit, sign/memcap.h): a compression bomb, or a
 * document too large for the cap, said so rather than as qpdf's bad_alloc
 * (or as zlib's error when its own allocation failed first).
 */
static void
pdf_qpdf_message(qpdf_data q, qpdf_error e, const char *what,
    const char *refusal, char *err, size_t errlen)
{
	const char *t = e != NULL ? qpdf_get_error_full_text(q, e) : NULL;

	if (memcap_refused() || (t != NULL && strstr(t, "bad_alloc") != NULL))
		snprintf(err, errlen, "%s: PDF refused: reading it needs more "
		    "memory than the signer's limit allows now (a stream that "
		    "inflates without end, or other large documents at the "
		    "same time)", what);
	else
		snprintf(err, errlen, "%s: %sqpdf: %s", what, refusal,
		    t != NULL ? t : "unknown error");
}

/* qpdf's pending error, if any, as our message; 1 when there was one. */
static int
pdf_qpdf_failed(qpdf_data q, const char *what, char *err, size_t errlen)
{
	if (!qpdf_has_error(q))
		return 0;
	pdf_qpdf_message(q, qpdf_get_error(q), what, "", err, errlen);
	return 1;
}

/*
 * qpdf warnings mean qpdf had to guess: a damaged file, which we refuse;
 * one whose text holds allow (NULL: none) is one we know to be harmless.
 */
static int
pdf_qpdf_warned_but(qpdf_data q, const char *what, const char *allow,
    char *err, size_t errlen)
{
	qpdf_error e;
	const char *t;

	while (qpdf_more_warnings(q)) {
		e = qpdf_next_warning(q);
		t = qpdf_get_error_full_text(q, e);
		if (allow != NULL && t != NULL && strstr(t, allow) != NULL)
			continue;
		pdf_qpdf_message(q, e, what, "damaged PDF refused: ", err,
		    errlen);
		while (qpdf_more_warnings(q))
			(void)qpdf_next_warning(q);
		return 1;
	}
	return 0;
}

static int
pdf_qpdf_warned(qpdf_data q, const char *what, char *err, size_t errlen)
{
	return pdf_qpdf_warned_but(q, what, NULL, err, errlen);
}

/* After reading object id gen: 1 with err when qpdf failed or had to guess. */
static int
pdf_object_damaged(qpdf_data q, long long id, int gen, char *err,
    size_t errlen)
{
	char what[64];

	if (qpdf_has_error(q)) {
		if (gen == 0)
			snprintf(what, sizeof(what), "object %lld", id);
		else
			snprintf(what, sizeof(what), "object %lld %d", id, gen);
		pdf_qpdf_failed(q, what, err, errlen);
		return 1;
	}
	return pdf_qpdf_warned(q, "objects", err, errlen);
}

static int
pdf_is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
	    c == '\0';
}

/* White space, NUL excepted (ISO 32000-1 §7.2.2, as qpdf skips it). */
static int
pdf_is_space(unsigned char c)
{
	return c != '\0' && pdf_is_ws(c);
}

/*
 * The offset of the last cross-reference section, from the last "startxref"
 * of the file, and whether what is there is a classic table ("xref") or an
 * xref stream ("N G obj"). Up to PDF_TAIL_PAD bytes of NUL and white-space
 * padding at the end are skipped before the PDF_TAIL_SEARCH bytes searched;
 * *endp is where that padding starts (len without it). An offset naming up
 * to PDF_XREF_SKIP bytes of white space before "xref" or the object (some
 * writers count the EOL before it) gives the offset past them, *wsp 1.
 */
static int
pdf_find_startxref(const unsigned char *buf, size_t len, long long *offp,
    int *streamp, int *wsp, size_t *endp, char *err, size_t errlen)
{
	static const char kw[] = "startxref";
	size_t end = len, from, i, kwlen = sizeof(kw) - 1, pos = SIZE_MAX;
	long long off = 0;
	int digits = 0, k;

	*wsp = 0;
	*endp = len;
	while (end > 0 && len - end < PDF_TAIL_PAD && pdf_is_ws(buf[end - 1]))
		end--;
	from = end > PDF_TAIL_SEARCH ? end - PDF_TAIL_SEARCH : 0;
	for (i = end >= kwlen ? end - kwlen + 1 : 0; i-- > from;) {
		if (memcmp(buf + i, kw, kwlen) == 0) {
			pos = i + kwlen;
			break;
		}
	}
	if (pos == SIZE_MAX) {
		snprintf(err, errlen, "no startxref in the last %d bytes "
		    "(after at most %d bytes of NUL or white-space padding): "
		    "not a complete PDF (ISO 32000-1 §7.5.5)",
		    PDF_TAIL_SEARCH, PDF_TAIL_PAD);
		return -1;
	}
	while (pos < end && pdf_is_ws(buf[pos]))
		pos++;
	while (pos < end && isdigit(buf[pos]) && digits < 12) {
		off = off * 10 + (buf[pos++] - '0');
		digits++;
	}
	if (digits == 0 || digits == 12 || (size_t)off >= end) {
		snprintf(err, errlen, "startxref gives no offset inside the file");
		return -1;
	}
	if (memmem(buf + pos, end - pos, "%%EOF", 5) == NULL) {
		snprintf(err, errlen, "no %%%%EOF after startxref: truncated PDF");
		return -1;
	}
	i = (size_t)off;
	while (i < end && i - (size_t)off < PDF_XREF_SKIP &&
	    pdf_is_space(buf[i]))
		i++;
	if (end - i >= 4 && memcmp(buf + i, "xref", 4) == 0) {
		*offp = (long long)i;
		*streamp = 0;
		*wsp = i != (size_t)off;
		*endp = end;
		return 0;
	}
	off = (long long)i;
	/* "N G obj" */
	for (k = 0; k < 2; k++) {
		digits = 0;
		while (i < end && isdigit(buf[i])) {
			i++;
			digits++;
		}
		if (digits == 0 || i >= end || !pdf_is_ws(buf[i]))
			break;
		while (i < end && pdf_is_ws(buf[i]))
			i++;
	}
	if (k < 2 || end - i < 3 || memcmp(buf + i, "obj", 3) != 0) {
		snprintf(err, errlen, "startxref offset %lld points at neither "
		    "an xref table nor an xref stream object", off);
		return -1;
	}
	*wsp = 0;
	*offp = off;
	*streamp = 1;
	*endp = end;
	return 0;
}

static int
pdf_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 1 if name is a top-level field name; the names are sorted at open. */
static int
pdf_name_used(const struct pdf_doc *doc, const char *name)
{
	return doc->nnames > 0 && bsearch(&name, doc->names, doc->nnames,
	    sizeof(*doc->names), pdf_name_cmp) != NULL;
}

/* Appends name; pdf_sort_names() sorts them and drops repeats. */
static int
pdf_add_name(struct pdf_doc *doc, const char *name)
{
	char **nn, *s;
	size_t ncap;

	if (doc->nnames == doc->names_cap) {
		ncap = doc->names_cap ? doc->names_cap * 2 : 64;
		if ((nn = reallocarray(doc->names, ncap, sizeof(*nn))) == NULL)
			return -1;
		doc->names = nn;
		doc->names_cap = ncap;
	}
	if ((s = strdup(name)) == NULL)
		return -1;
	doc->names[doc->nnames++] = s;
	return 0;
}

/*
 * Sorts the names (for pdf_name_used) and finds the first free SignatureN,
 * in O(n log n) overall: a form with tens of thousands of fields is cheap
 * to open, and an unauthenticated caller decides how many fields there are.
 */
static int
pdf_sort_names(struct pdf_doc *doc)
{
	static const char pfx[] = "Signature";
	unsigned char *used;
	const char *d;
	size_t i, k, plen = sizeof(pfx) - 1;
	long v;

	if (doc->nnames > 0)
		qsort(doc->names, doc->nnames, sizeof(*doc->names),
		    pdf_name_cmp);
	for (i = k = 0; i < doc->nnames; i++) {
		if (k > 0 && strcmp(doc->names[k - 1], doc->names[i]) == 0)
			free(doc->names[i]);
		else
			doc->names[k++] = doc->names[i];
	}
	doc->nnames = k;
	/* n names leave one of Signature1 .. Signature(n+1) free. */
	if ((used = calloc(doc->nnames + 2, 1)) == NULL)
		return -1;
	for (i = 0; i < doc->nnames; i++) {
		if (strncmp(doc->names[i], pfx, plen) != 0)
			continue;
		/* Only what "Signature%d" prints: no sign, no leading 0. */
		d = doc->names[i] + plen;
		if (d[0] < '1' || d[0] > '9' || strlen(d) > 9 ||
		    strspn(d, "0123456789") != strlen(d))
			continue;
		if ((v = strtol(d, NULL, 10)) <= (long)doc->nnames + 1)
			used[v] = 1;
	}
	for (v = 1; used[v]; v++)
		;
	doc->sig_next = (int)v;
	free(used);
	return 0;
}

/*
 * The objects met in the field tree, by number and generation: the fields,
 * and the /T and /FT values that are indirect. Open addressing, at most
 * half full; a slot holds id << 32 | gen, 0 when empty (object numbers
 * start at 1).
 */
struct pdf_seen {
	uint64_t	*slot;
	size_t		 cap;		/* 0, or a power of 2 */
	size_t		 n;
};

static size_t
pdf_seen_slot(uint64_t key, size_t cap)
{
	/* Fibonacci hashing: key times 2^64 / phi, high half. */
	return (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 32) & (cap - 1);
}

/*
 * Notes object (id, gen), id >= 1: 0 when it is new, 1 when it was noted
 * before, -1 out of memory.
 */
static int
pdf_seen_add(struct pdf_seen *s, int id, int gen)
{
	uint64_t key, *ns;
	size_t i, j, ncap;

	key = (uint64_t)(uint32_t)id << 32 | (uint32_t)gen;
	if (s->n >= s->cap / 2) {
		ncap = s->cap != 0 ? s->cap * 2 : 256;
		if ((ns = calloc(ncap, sizeof(*ns))) == NULL)
			return -1;
		for (i = 0; i < s->cap; i++) {
			if (s->slot[i] == 0)
				continue;
			for (j = pdf_seen_slot(s->slot[i], ncap); ns[j] != 0;
			    j = (j + 1) & (ncap - 1))
				;
			ns[j] = s->slot[i];
		}
		free(s->slot);
		s->slot = ns;
		s->cap = ncap;
	}
	for (i = pdf_seen_slot(key, s->cap); s->slot[i] != 0;
	    i = (i + 1) & (s->cap - 1))
		if (s->slot[i] == key)
			return 1;
	s->slot[i] = key;
	s->n++;
	return 0;
}

/*
 * Notes indirect object o of the field tree: 0 the first time, 1 when it
 * was met before, -1 out of memory (in err). A direct object has one place
 * and is never met twice.
 */
static int
pdf_field_seen(qpdf_data q, struct pdf_seen *seen, qpdf_oh o, char *err,
    size_t errlen)
{
	int id;

	if (!qpdf_oh_is_indirect(q, o) || (id = qpdf_oh_get_object_id(q, o)) < 1)
		return 0;
	switch (pdf_seen_add(seen, id, qpdf_oh_get_generation(q, o))) {
	case 0:
		return 0;
	case 1:
		return 1;
	default:
		snprintf(err, errlen, "out of memory");
		return -1;
	}
}

/*
 * Refuses an indirect /T or /FT value shared by two fields: each field
 * would copy it out of qpdf again (a 32 MiB string, 65536 times).
 */
static int
pdf_field_value_once(qpdf_data q, struct pdf_seen *seen, qpdf_oh o,
    const char *what, char *err, size_t errlen)
{
	switch (pdf_field_seen(q, seen, o, err, errlen)) {
	case 0:
		return 0;
	case 1:
		snprintf(err, errlen, "AcroForm: %s %d %d R shared by two "
		    "fields: refused", what, qpdf_oh_get_object_id(q, o),
		    qpdf_oh_get_generation(q, o));
		return -1;
	default:
		return -1;
	}
}

/* One more entry of /Fields or of a /Kids array; -1 past the budget. */
static int
pdf_field_node(const struct pdf_doc *doc, int *nodes, char *err,
    size_t errlen)
{
	if (++*nodes <= doc->max_nodes)
		return 0;
	snprintf(err, errlen, "AcroForm field tree of more than %d fields and "
	    "widgets refused", doc->max_nodes);
	return -1;
}

/*
 * Notes the empty signature field f named name (taken: freed here on
 * failure). Its /SV seed values (§12.7.4.5, Table 234) count as required
 * when /SV /Ff or /SV /TimeStamp /Ff is not 0: we check none of them, so
 * such a field is not filled.
 */
static int
pdf_add_empty(struct pdf_doc *doc, qpdf_data q, qpdf_oh f, char *name,
    int widgets, int merged, long long ff, char *err, size_t errlen)
{
	struct pdf_sigfield *e, *ne;
	qpdf_oh sv, sff, ts, tff;
	size_t ncap;

	if (doc->nempty == doc->empty_cap) {
		ncap = doc->empty_cap ? doc->empty_cap * 2 : 8;
		if ((ne = reallocarray(doc->empty, ncap, sizeof(*ne))) ==
		    NULL) {
			free(name);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		doc->empty = ne;
		doc->empty_cap = ncap;
	}
	e = &doc->empty[doc->nempty++];
	memset(e, 0, sizeof(*e));
	e->name = name;
	if (qpdf_oh_is_indirect(q, f)) {
		e->id = qpdf_oh_get_object_id(q, f);
		e->gen = qpdf_oh_get_generation(q, f);
	}
	e->widgets = widgets;
	e->merged = merged;
	e->read_only = (ff & 1) != 0;
	sv = qpdf_oh_get_key(q, f, "/SV");
	if (qpdf_oh_is_dictionary(q, sv)) {
		sff = qpdf_oh_get_key(q, sv, "/Ff");
		ts = qpdf_oh_get_key(q, sv, "/TimeStamp");
		tff = qpdf_oh_is_dictionary(q, ts) ?
		    qpdf_oh_get_key(q, ts, "/Ff") : 0;
		if ((qpdf_oh_is_integer(q, sff) &&
		    qpdf_oh_get_int_value(q, sff) != 0) ||
		    (tff != 0 && qpdf_oh_is_integer(q, tff) &&
		    qpdf_oh_get_int_value(q, tff) != 0))
			e->sv_required = 1;
		qpdf_oh_release(q, tff);
		qpdf_oh_release(q, ts);
		qpdf_oh_release(q, sff);
	}
	qpdf_oh_release(q, sv);
	return 0;
}

/*
 * Notes one lock (a signature field lock dictionary, §12.7.4.5 Table 233,
 * or FieldMDP transform parameters, §12.8.2.4 Table 256: the same /Action
 * and /Fields). Each indirect lock is read once; at most PDF_LOCK_NAMES
 * /Fields entries in all.
 */
static int
pdf_read_lock(struct pdf_doc *doc, struct pdf_seen *seen, qpdf_oh lock,
    char *err, size_t errlen)
{
	qpdf_data q = doc->q;
	qpdf_oh action, fields = 0, name = 0;
	struct pdf_lockname *nl;
	const char *s;
	size_t ncap;
	int i, n, excl = -1, rc = -1;

	if (!qpdf_oh_is_dictionary(q, lock))
		return 0;
	switch (pdf_field_seen(q, seen, lock, err, errlen)) {
	case 1:
		return 0;
	case -1:
		return -1;
	}
	action = qpdf_oh_get_key(q, lock, "/Action");
	if (qpdf_oh_is_name_and_equals(q, action, "/Exclude"))
		excl = doc->nexcl++;
	else if (!qpdf_oh_is_name_and_equals(q, action, "/Include")) {
		/* /All, or an action we do not know: all fields locked. */
		doc->lock_all = 1;
		rc = 0;
		goto out;
	}
	fields = qpdf_oh_get_key(q, lock, "/Fields");
	n = qpdf_oh_is_array(q, fields) ? qpdf_oh_get_array_n_items(q, fields) :
	    0;
	for (i = 0; i < n; i++) {
		/*
		 * Every entry read counts (locks may share one long /Fields
		 * array): the work stays linear.
		 */
		if (++doc->lock_entries > PDF_LOCK_NAMES) {
			snprintf(err, errlen, "FieldMDP locks listing more "
			    "than %d field names in all refused",
			    PDF_LOCK_NAMES);
			goto out;
		}
		name = qpdf_oh_get_array_item(q, fields, i);
		if (qpdf_oh_is_string(q, name)) {
			s = qpdf_oh_get_utf8_value(q, name);
			/* A longer name cannot be one we fill. */
			if (strlen(s) == qpdf_get_last_string_length(q) &&
			    strlen(s) <= PDF_TEXT_MAX) {
				if (doc->nlocks == doc->locks_cap) {
					ncap = doc->locks_cap ?
					    doc->locks_cap * 2 : 16;
					if ((nl = reallocarray(doc->locks,
					    ncap, sizeof(*nl))) == NULL)
						goto nomem;
					doc->locks = nl;
					doc->locks_cap = ncap;
				}
				nl = &doc->locks[doc->nlocks];
				if ((nl->name = strdup(s)) == NULL)
					goto nomem;
				nl->excl = excl;
				doc->nlocks++;
			}
		}
		qpdf_oh_release(q, name);
		name = 0;
	}
	rc = 0;
	goto out;
 nomem:
	snprintf(err, errlen, "out of memory");
 out:
	qpdf_oh_release(q, name);
	qpdf_oh_release(q, fields);
	qpdf_oh_release(q, action);
	return rc;
}

/*
 * The locks of signed signature field f, whose value is the signature
 * dictionary v: the field's /Lock (§12.7.4.5), and the FieldMDP entries of
 * v's /Reference (§12.8.2.4; at most 16 read, as for DocMDP).
 */
static int
pdf_read_locks(struct pdf_doc *doc, struct pdf_seen *seen, qpdf_oh f,
    qpdf_oh v, char *err, size_t errlen)
{
	qpdf_data q = doc->q;
	qpdf_oh lock, ref, r = 0, tp = 0;
	int i, n, rc = -1;

	lock = qpdf_oh_get_key(q, f, "/Lock");
	if (pdf_read_lock(doc, seen, lock, err, errlen) == -1)
		goto out;
	ref = qpdf_oh_get_key(q, v, "/Reference");
	n = qpdf_oh_is_array(q, ref) ? qpdf_oh_get_array_n_items(q, ref) : 0;
	for (i = 0; i < n && i < 16; i++) {
		r = qpdf_oh_get_array_item(q, ref, i);
		if (qpdf_oh_is_dictionary(q, r) && qpdf_oh_is_name_and_equals(q,
		    qpdf_oh_get_key(q, r, "/TransformMethod"), "/FieldMDP")) {
			tp = qpdf_oh_get_key(q, r, "/TransformParams");
			if (pdf_read_lock(doc, seen, tp, err, errlen) == -1)
				goto out;
			qpdf_oh_release(q, tp);
			tp = 0;
		}
		qpdf_oh_release(q, r);
		r = 0;
	}
	rc = 0;
 out:
	qpdf_oh_release(q, tp);
	qpdf_oh_release(q, r);
	return rc;
}

/*
 * Walks field f, a dictionary: counts the signature fields under it
 * (terminal fields whose /FT, own or inherited, is /Sig; ISO 32000-1
 * §12.7.3.1) and, for a top-level field (depth 0), notes its name. Kids
 * with a /T are fields, kids without are widgets. Every kid counts against
 * the node budget, no field is walked twice and each handle is released
 * once read, so that the work and memory stay linear in the file.
 */
/*
 * A rectangle (ISO 32000-1 §7.9.5): an array of 4 numbers, any two
 * diagonally opposite corners, normalised to lower-left, upper-right in b.
 * 0, or -1 when r is not one.
 */
static int
pdf_rect(qpdf_data q, qpdf_oh r, double b[4])
{
	double v[4];
	int i;

	if (!qpdf_oh_is_array(q, r) || qpdf_oh_get_array_n_items(q, r) != 4)
		return -1;
	for (i = 0; i < 4; i++) {
		qpdf_oh e = qpdf_oh_get_array_item(q, r, i);

		if (!qpdf_oh_is_number(q, e))
			return -1;
		v[i] = qpdf_oh_get_numeric_value(q, e);
		if (!isfinite(v[i]))
			return -1;
	}
	b[0] = v[0] < v[2] ? v[0] : v[2];
	b[1] = v[1] < v[3] ? v[1] : v[3];
	b[2] = v[0] < v[2] ? v[2] : v[0];
	b[3] = v[1] < v[3] ? v[3] : v[1];
	return 0;
}

/* 1 when widget w has no /AP dictionary yet a /Rect of some area. */
static int
pdf_widget_lacks_ap(qpdf_data q, qpdf_oh w)
{
	double b[4];

	if (qpdf_oh_is_dictionary(q, qpdf_oh_get_key(q, w, "/AP")))
		return 0;
	return pdf_rect(q, qpdf_oh_get_key(q, w, "/Rect"), b) == -1 ||
	    (b[0] != b[2] && b[1] != b[3]);
}

static int
pdf_walk_field(struct pdf_doc *doc, struct pdf_seen *seen, qpdf_oh f,
    const char *parent, int inherited_sig, int inherited_v, long long
    inherited_ff, int depth, int *nodes, char *err, size_t errlen)
{
	qpdf_data q = doc->q;
	qpdf_oh t = 0, ft = 0, kids = 0, kid = 0, v = 0, ff = 0;
	const char *s;
	char *fq = NULL;
	long long ffv = inherited_ff;
	int i, n, is_sig = inherited_sig, has_v = inherited_v, widgets = 0;
	int has_field_kids = 0, rc = -1;

	if (depth > PDF_FIELD_DEPTH) {
		snprintf(err, errlen, "AcroForm field tree deeper than %d "
		    "levels refused", PDF_FIELD_DEPTH);
		goto out;
	}
	/*
	 * A field met before is not walked again: listed twice, in /Fields
	 * and in a /Kids too (some producers do), or in a /Kids cycle. Each
	 * listing would walk its subtree again; once is what it means.
	 */
	switch (pdf_field_seen(q, seen, f, err, errlen)) {
	case 1:
		rc = 0;
		goto out;
	case -1:
		goto out;
	}
	/*
	 * The partial name; the fully qualified one (parent.partial) when it
	 * can be named (no NUL, at most PDF_TEXT_MAX bytes) for the empty
	 * signature fields a signature may fill.
	 */
	t = qpdf_oh_get_key(q, f, "/T");
	if (qpdf_oh_is_string(q, t) && (depth == 0 || parent != NULL)) {
		if (pdf_field_value_once(q, seen, t, "/T", err, errlen) == -1)
			goto out;
		s = qpdf_oh_get_utf8_value(q, t);
		if (strlen(s) == qpdf_get_last_string_length(q) &&
		    (parent == NULL ? 0 : strlen(parent) + 1) + strlen(s) <=
		    PDF_TEXT_MAX) {
			size_t fqlen = (parent ? strlen(parent) + 1 : 0) +
			    strlen(s) + 1;

			if ((fq = malloc(fqlen)) == NULL) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			snprintf(fq, fqlen, "%s%s%s", parent ? parent : "",
			    parent ? "." : "", s);
		}
		if (depth == 0 && strlen(s) == qpdf_get_last_string_length(q) &&
		    pdf_add_name(doc, s) == -1) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	/* /V and /Ff are inheritable (§12.7.3.1, Table 220). */
	v = qpdf_oh_get_key(q, f, "/V");
	if (!qpdf_oh_is_null(q, v))
		has_v = 1;
	ff = qpdf_oh_get_key(q, f, "/Ff");
	if (qpdf_oh_is_integer(q, ff))
		ffv = qpdf_oh_get_int_value(q, ff);
	ft = qpdf_oh_get_key(q, f, "/FT");
	if (qpdf_oh_is_name(q, ft)) {
		if (pdf_field_value_once(q, seen, ft, "/FT", err,
		    errlen) == -1)
			goto out;
		is_sig = qpdf_oh_is_name_and_equals(q, ft, "/Sig");
	}
	kids = qpdf_oh_get_key(q, f, "/Kids");
	n = qpdf_oh_is_array(q, kids) ? qpdf_oh_get_array_n_items(q, kids) : 0;
	if (n > doc->max_nodes) {
		snprintf(err, errlen, "AcroForm field %d %d R: /Kids of %d "
		    "entries, more than the %d fields and widgets of a form: "
		    "refused", qpdf_oh_get_object_id(q, f),
		    qpdf_oh_get_generation(q, f), n, doc->max_nodes);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (pdf_field_node(doc, nodes, err, errlen) == -1)
			goto out;
		kid = qpdf_oh_get_array_item(q, kids, i);
		(void)qpdf_oh_is_dictionary(q, kid);	/* resolves it */
		if (pdf_qpdf_failed(q, "AcroForm", err, errlen))
			goto out;
		if (qpdf_oh_is_dictionary(q, kid) &&
		    qpdf_oh_has_key(q, kid, "/T")) {
			has_field_kids = 1;
			if (pdf_walk_field(doc, seen, kid, fq, is_sig, has_v,
			    ffv, depth + 1, nodes, err, errlen) == -1)
				goto out;
		} else if (qpdf_oh_is_dictionary(q, kid)) {
			widgets++;
			doc->widgets_no_ap += pdf_widget_lacks_ap(q, kid);
		}
		qpdf_oh_release(q, kid);
		kid = 0;
	}
	/* A terminal field without kids is its own widget (§12.5.6.19). */
	if (!has_field_kids && (n == 0 || qpdf_oh_is_name_and_equals(q,
	    qpdf_oh_get_key(q, f, "/Subtype"), "/Widget")))
		doc->widgets_no_ap += pdf_widget_lacks_ap(q, f);
	if (!has_field_kids && is_sig) {
		doc->nsigs++;
		if (qpdf_oh_is_dictionary(q, v)) {
			/* Signed: what it locks (§12.7.4.5, §12.8.2.4). */
			if (pdf_read_locks(doc, seen, f, v, err, errlen) == -1)
				goto out;
		} else if (!has_v && fq != NULL) {
			int merged = qpdf_oh_is_name_and_equals(q,
			    qpdf_oh_get_key(q, f, "/Subtype"), "/Widget");

			if (pdf_add_empty(doc, q, f, fq, widgets + merged,
			    merged, ffv, err, errlen) == -1)
				goto out;
			fq = NULL;	/* pdf_add_empty took it */
		}
	}
	if (pdf_qpdf_failed(q, "AcroForm", err, errlen))
		goto out;
	rc = 0;
 out:
	free(fq);
	qpdf_oh_release(q, ff);
	qpdf_oh_release(q, v);
	qpdf_oh_release(q, kid);
	qpdf_oh_release(q, kids);
	qpdf_oh_release(q, ft);
	qpdf_oh_release(q, t);
	return rc;
}

/*
 * Fields in use, signature fields and DocMDP from the catalog. /Fields and
 * each /Kids array are refused when longer than the node budget (they could
 * never be walked) before any entry is read.
 */
static int
pdf_read_form(struct pdf_doc *doc, char *err, size_t errlen)
{
	struct pdf_seen seen = { NULL, 0, 0 };
	qpdf_data q = doc->q;
	qpdf_oh root, af, fields = 0, f = 0, perms, mdp, ref, tp, p;
	int i, n, nodes = 0, rc = -1;

	root = qpdf_get_root(q);
	af = qpdf_oh_get_key(q, root, "/AcroForm");
	if (qpdf_oh_is_dictionary(q, af)) {
		fields = qpdf_oh_get_key(q, af, "/Fields");
		p = qpdf_oh_get_key(q, af, "/NeedAppearances");
		doc->need_appearances = qpdf_oh_is_bool(q, p) &&
		    qpdf_oh_get_bool_value(q, p);
	}
	n = fields != 0 && qpdf_oh_is_array(q, fields) ?
	    qpdf_oh_get_array_n_items(q, fields) : 0;
	if (n > doc->max_nodes) {
		snprintf(err, errlen, "AcroForm /Fields of %d entries, more "
		    "than the %d fields and widgets of a form: refused", n,
		    doc->max_nodes);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (pdf_field_node(doc, &nodes, err, errlen) == -1)
			goto out;
		f = qpdf_oh_get_array_item(q, fields, i);
		(void)qpdf_oh_is_dictionary(q, f);	/* resolves it */
		if (pdf_qpdf_failed(q, "AcroForm", err, errlen))
			goto out;
		if (qpdf_oh_is_dictionary(q, f) && pdf_walk_field(doc, &seen,
		    f, NULL, 0, 0, 0, 0, &nodes, err, errlen) == -1)
			goto out;
		qpdf_oh_release(q, f);
		f = 0;
	}
	if (pdf_sort_names(doc) == -1) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* A certification signature forbidding changes (§12.8.2.2). */
	perms = qpdf_oh_get_key(q, root, "/Perms");
	mdp = qpdf_oh_is_dictionary(q, perms) ?
	    qpdf_oh_get_key(q, perms, "/DocMDP") : 0;
	ref = mdp != 0 && qpdf_oh_is_dictionary(q, mdp) ?
	    qpdf_oh_get_key(q, mdp, "/Reference") : 0;
	/*
	 * /P: 1 no change, 2 form filling and signing, 3 also annotations;
	 * absent, 2 (§12.8.2.2.2, Table 254). The lowest of the entries
	 * counts. Any /Perms /DocMDP certifies the document: one whose
	 * signature dictionary has no /Reference, or whose entries state
	 * no /P, is /P 2 (below); it used to read as not certified, and a
	 * new signature field was added that /P 2 does not permit.
	 */
	if (ref != 0 && qpdf_oh_is_array(q, ref)) {
		n = qpdf_oh_get_array_n_items(q, ref);
		for (i = 0; i < n && i < 16; i++) {
			long long pv = 0;
			int have = 0;

			f = qpdf_oh_get_array_item(q, ref, i);
			tp = qpdf_oh_is_dictionary(q, f) ?
			    qpdf_oh_get_key(q, f, "/TransformParams") : 0;
			p = tp != 0 && qpdf_oh_is_dictionary(q, tp) ?
			    qpdf_oh_get_key(q, tp, "/P") : 0;
			if (p != 0 && qpdf_oh_is_integer(q, p)) {
				pv = qpdf_oh_get_int_value(q, p);
				have = 1;
			} else if (qpdf_oh_is_dictionary(q, f) &&
			    qpdf_oh_is_name_and_equals(q, qpdf_oh_get_key(q, f,
			    "/TransformMethod"), "/DocMDP")) {
				pv = 2;
				have = 1;
			}
			if (!have)
				continue;
			/* Another value is not ISO 32000's: the strictest. */
			if (pv < 1 || pv > 3)
				pv = 1;
			if (pv == 1)
				doc->docmdp_nochange = 1;
			if (doc->docmdp_p == 0 || pv < doc->docmdp_p)
				doc->docmdp_p = (int)pv;
		}
	}
	if (mdp != 0 && !qpdf_oh_is_null(q, mdp) && doc->docmdp_p == 0)
		doc->docmdp_p = 2;
	if (pdf_qpdf_failed(q, "catalog", err, errlen))
		goto out;
	rc = 0;
 out:
	qpdf_oh_release(q, f);
	free(seen.slot);
	return rc;
}

/* --- reading ------------------------------------------------------------ */

static long pdf_read_cpu_ms = PDF_READ_CPU_MS_DEFAULT;

void
pdf_set_read_cpu_limit(long ms)
{
	pdf_read_cpu_ms = ms > 0 ? ms : 0;
}

/*
 * The CPU budget of reading one document's objects. The thread's CPU clock
 * is a system call; the monotonic clock is not: the CPU clock is looked at
 * once 10 ms of wall time have passed since the last look (a thread cannot
 * have used more CPU than that meanwhile), so that a document of many
 * small objects costs no system call per object.
 */
struct pdf_budget {
	long long	limit_ms;	/* 0: none */
	long long	cpu_start_ms;
	long long	looked_ms;	/* monotonic, at the last look */
	int		shared;		/* with documents opened before */
};

static long long
pdf_clock_ms(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) == -1)
		return -1;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The thread's CPU clock when a request's documents began to be read
 * (pdf_read_budget_begin), or -1: they then share one budget.
 */
static _Thread_local long long pdf_request_cpu_start_ms = -1;
/* The documents opened since, for the message: "and the ones before it". */
static _Thread_local int pdf_request_opened;

void
pdf_read_budget_begin(void)
{
	pdf_request_cpu_start_ms = pdf_clock_ms(CLOCK_THREAD_CPUTIME_ID);
	pdf_request_opened = 0;
}

void
pdf_read_budget_end(void)
{
	pdf_request_cpu_start_ms = -1;
}

static void
pdf_budget_start(struct pdf_budget *b, long long limit_ms)
{
	b->limit_ms = limit_ms;
	b->shared = pdf_request_cpu_start_ms != -1 && pdf_request_opened++ > 0;
	b->cpu_start_ms = pdf_request_cpu_start_ms != -1 ?
	    pdf_request_cpu_start_ms : pdf_clock_ms(CLOCK_THREAD_CPUTIME_ID);
	b->looked_ms = pdf_clock_ms(CLOCK_MONOTONIC);
	if (b->cpu_start_ms == -1 || b->looked_ms == -1)
		b->limit_ms = 0;	/* no clock: no budget, as before */
}

/* 1 once the budget is spent. */
static int
pdf_budget_spent(struct pdf_budget *b)
{
	long long now, cpu;

	if (b->limit_ms == 0 || (now = pdf_clock_ms(CLOCK_MONOTONIC)) -
	    b->looked_ms < 10)
		return 0;
	b->looked_ms = now;
	cpu = pdf_clock_ms(CLOCK_THREAD_CPUTIME_ID);
	return cpu != -1 && cpu - b->cpu_start_ms > b->limit_ms;
}

/* PDF white-space or a delimiter (ISO 32000-1 §7.2.2). */
static int
pdf_is_delim_or_ws(unsigned char c)
{
	return pdf_is_ws(c) || strchr("()<>[]{}/%", c) != NULL;
}

/*
 * The highest object number an indirect reference ("N G R") in p names,
 * or more: the bytes are scanned as they are, strings and stream data
 * included, so a look-alike only moves our numbering up. ISO 32000-1
 * §7.3.10 makes a reference to a missing object legal (it reads as null),
 * even past /Size: numbering our new objects from /Size alone would make
 * such a reference name one of them (a page's /Contents or an XObject
 * becoming our QR form, an /Annots entry our widget), changing what an
 * earlier signer's page shows. qpdf cannot tell us: a dictionary key
 * whose value is null is hidden from its key iteration.
 */
/* What pdf_scan_refs and pdf_scan_objstm return besides 0. */
#define PDF_SCAN_UNDECODABLE	(-1)
#define PDF_SCAN_NOMEM		(-2)
#define PDF_SCAN_TOO_MANY	(-3)

static int
pdf_scan_refs(const unsigned char *p, size_t len, long long *maxp,
    struct pdf_seen *gens)
{
	size_t i, k, e, g0, g1;
	long long num, max = *maxp, gen;

	for (i = 1; i < len; i++) {
		if (p[i] != 'R' || (i + 1 < len && !pdf_is_delim_or_ws(p[i + 1])))
			continue;
		for (k = i; k > 0 && pdf_is_ws(p[k - 1]); k--)
			;
		if (k == i)
			continue;
		for (e = k; k > 0 && isdigit(p[k - 1]); k--)
			;
		if (k == e || e - k > 5)	/* the generation */
			continue;
		g0 = k;
		g1 = e;
		for (e = k; k > 0 && pdf_is_ws(p[k - 1]); k--)
			;
		if (k == e)
			continue;
		for (e = k; k > 0 && isdigit(p[k - 1]); k--)
			;
		if (k == e || e - k > 7 || (k > 0 && !pdf_is_delim_or_ws(p[k - 1])))
			continue;
		for (num = 0; k < e; k++)
			num = num * 10 + (p[k] - '0');
		/* No object can have a larger number (Annex C). */
		if (num <= PDF_MAX_OBJNUM && num > max)
			max = num;
		for (gen = 0; g0 < g1; g0++)
			gen = gen * 10 + (p[g0] - '0');
		/* Generation > 0: pdf_open reads it too (see there). */
		if (gens != NULL && gen > 0 && gen <= 65535 && num >= 1 &&
		    num <= PDF_MAX_OBJNUM) {
			switch (pdf_seen_add(gens, (int)num, (int)gen)) {
			case -1:
				return PDF_SCAN_NOMEM;
			case 0:
				if (gens->n > PDF_GEN_REFS)
					return PDF_SCAN_TOO_MANY;
			}
		}
	}
	*maxp = max;
	return 0;
}

/*
 * pdf_scan_refs over an object stream's decoded content, where the
 * references of its compressed objects are. 0, or -1 when it cannot be
 * decoded (qpdf has read its objects already: not expected).
 */
static int
pdf_scan_objstm(qpdf_data q, qpdf_oh o, long long *max,
    struct pdf_seen *gens)
{
	qpdf_oh d, t;
	unsigned char *data = NULL;
	size_t len = 0;
	int objstm, rc = 0;

	/* Each call stops at qpdf's first error (see pdf_open_limits). */
	if (!qpdf_oh_is_stream(q, o) || qpdf_has_error(q))
		return 0;
	d = qpdf_oh_get_dict(q, o);
	t = qpdf_has_error(q) ? 0 : qpdf_oh_get_key(q, d, "/Type");
	objstm = !qpdf_has_error(q) &&
	    qpdf_oh_is_name_and_equals(q, t, "/ObjStm");
	qpdf_oh_release(q, t);
	qpdf_oh_release(q, d);
	if (!objstm || qpdf_has_error(q))
		return 0;
	if (qpdf_oh_get_stream_data(q, o, qpdf_dl_generalized, NULL, &data,
	    &len) & QPDF_ERRORS)
		rc = PDF_SCAN_UNDECODABLE;
	else
		rc = pdf_scan_refs(data, len, max, gens);
	free(data);
	return rc;
}

/* A /Pages node being walked: its /Kids and the next entry to read. */
struct pdf_page_frame {
	qpdf_oh		 kids;
	int		 i, n;
};

/*
 * The page tree walked before qpdf walks it (PDF_PAGE_DEPTH): iteratively,
 * an explicit stack of at most PDF_PAGE_DEPTH frames, with the rule qpdf
 * uses (a kid with /Kids is a /Pages node, any other a page). Refused: a
 * root that is not a dictionary or has a /Parent (ISO 32000-1 Table 29:
 * prohibited in the root; qpdf would climb it to another root), more than
 * PDF_PAGE_DEPTH levels, a /Pages node reached twice (a /Kids cycle back
 * up, or a node shared: qpdf refuses both as a loop), more nodes than
 * /Size (each node of a sound tree is an object of its own: a page listed
 * twice or a direct one is a qpdf warning, refused anyway), and any qpdf
 * error on the way. 0, or -1 with err.
 */
static int
pdf_check_page_tree(struct pdf_doc *doc, char *err, size_t errlen)
{
	struct pdf_page_frame st[PDF_PAGE_DEPTH];
	struct pdf_page_frame *fr;
	struct pdf_seen seen = { NULL, 0, 0 };
	qpdf_data q = doc->q;
	qpdf_oh root, node = 0;
	long long nodes = 1;
	int depth = 0, id, pages, rc = -1;

	root = qpdf_get_root(q);
	node = qpdf_oh_get_key(q, root, "/Pages");
	qpdf_oh_release(q, root);
	if (!qpdf_oh_is_dictionary(q, node)) {
		if (!pdf_qpdf_failed(q, "page tree", err, errlen))
			snprintf(err, errlen, "catalog /Pages is not a "
			    "dictionary (ISO 32000-1 §7.7.3.2): refused");
		goto out;
	}
	if (qpdf_oh_has_key(q, node, "/Parent")) {
		if (!pdf_qpdf_failed(q, "page tree", err, errlen))
			snprintf(err, errlen, "the page tree's root has a "
			    "/Parent (ISO 32000-1 §7.7.3.2, Table 29): refused");
		goto out;
	}
	for (;;) {
		/* node: a /Pages node to enter, at level depth + 1. */
		if (node != 0) {
			if (depth == PDF_PAGE_DEPTH) {
				snprintf(err, errlen, "page tree deeper than "
				    "%d levels of /Pages refused",
				    PDF_PAGE_DEPTH);
				goto out;
			}
			if (qpdf_oh_is_indirect(q, node) &&
			    (id = qpdf_oh_get_object_id(q, node)) >= 1) {
				switch (pdf_seen_add(&seen, id,
				    qpdf_oh_get_generation(q, node))) {
				case 0:
					break;
				case 1:
					snprintf(err, errlen, "page tree: /Pages "
					    "node %d %d R reached twice (a /Kids "
					    "cycle or a shared node): refused", id,
					    qpdf_oh_get_generation(q, node));
					goto out;
				default:
					snprintf(err, errlen, "out of memory");
					goto out;
				}
			}
			fr = &st[depth++];
			fr->kids = qpdf_oh_get_key(q, node, "/Kids");
			fr->i = 0;
			fr->n = qpdf_oh_is_array(q, fr->kids) ?
			    qpdf_oh_get_array_n_items(q, fr->kids) : 0;
			qpdf_oh_release(q, node);
			node = 0;
			if (pdf_qpdf_failed(q, "page tree", err, errlen))
				goto out;
		}
		if (depth == 0)
			break;
		fr = &st[depth - 1];
		if (fr->i == fr->n) {
			qpdf_oh_release(q, fr->kids);
			depth--;
			continue;
		}
		if (++nodes >= doc->size) {
			snprintf(err, errlen, "page tree of more nodes than the "
			    "file's %lld objects refused", doc->size - 1);
			goto out;
		}
		node = qpdf_oh_get_array_item(q, fr->kids, fr->i++);
		pages = qpdf_oh_is_dictionary(q, node) &&
		    qpdf_oh_has_key(q, node, "/Kids");
		if (pdf_qpdf_failed(q, "page tree", err, errlen))
			goto out;
		if (!pages) {
			qpdf_oh_release(q, node);
			node = 0;
		}
	}
	rc = 0;
 out:
	while (depth > 0)
		qpdf_oh_release(q, st[--depth].kids);
	qpdf_oh_release(q, node);
	free(seen.slot);
	return rc;
}

/*
 * pdf_open() (own 0: a document we were given) and pdf_open_own() (own 1:
 * our own update of one): the same checks, the limits of the headroom
 * comment above.
 */
static int
pdf_open_limits(const unsigned char *buf, size_t len, int own,
    struct pdf_doc **out, char *err, size_t errlen)
{
	struct pdf_doc *doc = NULL;
	struct pdf_budget budget;
	struct pdf_seen gens = { NULL, 0, 0 };
	qpdf_data q;
	qpdf_oh trailer, root, size;
	size_t max_len = own ? PDF_MAX_OWN : PDF_MAX_INPUT, gi;
	long long id, max_size, maxref;
	int scanned = 0, rc = -1;

	*out = NULL;
	/* Room in the object numbers for the updates still to come. */
	max_size = PDF_MAX_OBJNUM - (own ? 1 : PDF_OWN_UPDATES) *
	    PDF_UPDATE_OBJS;
	if (len == 0 || len > max_len) {
		snprintf(err, errlen, "PDF of %zu bytes: must be 1 to %zu bytes",
		    len, max_len);
		goto out;
	}
	if (len < 5 || memcmp(buf, "%PDF-", 5) != 0) {
		/* qpdf tolerates junk before the header; offsets would not. */
		snprintf(err, errlen, "not a PDF: no %%PDF- header at offset 0");
		goto out;
	}
	if ((doc = calloc(1, sizeof(*doc))) == NULL ||
	    (doc->buf = malloc(len)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	memcpy(doc->buf, buf, len);
	doc->len = len;
	doc->max_nodes = PDF_FIELD_NODES + (own ? PDF_OWN_UPDATES : 0);
	if (pdf_find_startxref(doc->buf, len, &doc->startxref,
	    &doc->xref_stream, &doc->xref_ws, &doc->qlen, err, errlen) == -1)
		goto out;

	if ((doc->q = q = qpdf_init()) == NULL) {
		snprintf(err, errlen, "qpdf_init failed");
		goto out;
	}
	qpdf_silence_errors(q);
	qpdf_set_suppress_warnings(q, QPDF_TRUE);
	qpdf_set_attempt_recovery(q, QPDF_FALSE);
	/* Without trailing padding, where qpdf would find no startxref. */
	if (qpdf_read_memory(q, "input.pdf", (const char *)doc->buf, doc->qlen,
	    NULL) & QPDF_ERRORS) {
		qpdf_error e = qpdf_get_error(q);

		if (e != NULL && qpdf_get_error_code(q, e) == qpdf_e_password)
			snprintf(err, errlen, "encrypted PDF (password "
			    "required) refused: we sign only unencrypted PDFs");
		else
			pdf_qpdf_message(q, e, "read",
			    "damaged or unreadable PDF refused: ", err, errlen);
		goto out;
	}
	if (qpdf_is_encrypted(q)) {
		snprintf(err, errlen, "encrypted PDF refused: we sign only "
		    "unencrypted PDFs");
		goto out;
	}
	/* White space at the startxref offset: qpdf skips it and warns. */
	if (pdf_qpdf_warned_but(q, "read", doc->xref_ws ?
	    "extraneous whitespace seen before xref" : NULL, err, errlen))
		goto out;

	trailer = qpdf_get_trailer(q);
	root = qpdf_oh_get_key(q, trailer, "/Root");
	(void)qpdf_oh_is_dictionary(q, root);	/* resolves it */
	if (pdf_qpdf_failed(q, "catalog", err, errlen) ||
	    pdf_qpdf_warned(q, "catalog", err, errlen))
		goto out;
	if (!qpdf_oh_is_indirect(q, root) || !qpdf_oh_is_dictionary(q, root)) {
		snprintf(err, errlen, "trailer /Root is not an indirect "
		    "dictionary (ISO 32000-1 §7.5.5)");
		goto out;
	}
	size = qpdf_oh_get_key(q, trailer, "/Size");
	if (!qpdf_oh_is_integer(q, size) ||
	    (doc->size = qpdf_oh_get_int_value(q, size)) < 1 ||
	    doc->size > max_size || (size_t)doc->size > len) {
		snprintf(err, errlen, "trailer /Size missing or implausible "
		    "(1 to %lld, at most the file's length)", max_size);
		goto out;
	}
	if (pdf_qpdf_failed(q, "trailer", err, errlen))
		goto out;

	/*
	 * Every object the cross-reference data lists must parse, within the
	 * CPU budget. Our own output is not held to it: its input was, and a
	 * signature must not be refused after it was made.
	 */
	pdf_budget_start(&budget, own ? 0 : pdf_read_cpu_ms);
	maxref = 0;
	if ((scanned = pdf_scan_refs(doc->buf, len, &maxref, &gens)) != 0)
		goto scan_failed;
	for (id = 1; id < doc->size; id++) {
		qpdf_oh o = qpdf_get_object_by_id(q, (int)id, 0);

		/*
		 * No qpdf call after an error: past the memory cap
		 * (bad_alloc) the next one failed too, and qpdf's C API
		 * allocates to record an error: a bad_alloc there escapes
		 * it and std::terminate() ends the process (SIGABRT).
		 */
		(void)qpdf_oh_is_null(q, o);	/* resolves it */
		scanned = qpdf_has_error(q) ? 0 :
		    pdf_scan_objstm(q, o, &maxref, &gens);
		qpdf_oh_release(q, o);
		if (scanned == PDF_SCAN_UNDECODABLE && !qpdf_has_error(q)) {
			snprintf(err, errlen, "object stream %lld cannot be "
			    "decoded: refused", id);
			goto out;
		}
		if (scanned != 0 && scanned != PDF_SCAN_UNDECODABLE)
			goto scan_failed;
		if (pdf_object_damaged(q, id, 0, err, errlen))
			goto out;
		if (pdf_budget_spent(&budget)) {
			snprintf(err, errlen, "reading this PDF%s takes more "
			    "than %.1f s of CPU (up to object %lld of %lld: many "
			    "or large compressed object streams); refused",
			    budget.shared ? " and the documents before it" : "",
			    (double)budget.limit_ms / 1000, id, doc->size);
			goto out;
		}
	}

	/*
	 * Objects of generation > 0 (an object number reused after a
	 * deletion, §7.5.4) are not in the loop above: those that a
	 * reference names, in the file or an object stream, are read too, so
	 * that a damaged one is refused here and not by the re-open of our
	 * output after signHash. Object streams and their objects have
	 * generation 0 (§7.5.7).
	 */
	for (gi = 0; gi < gens.cap; gi++) {
		qpdf_oh o;
		int gid, ggen;

		if (gens.slot[gi] == 0)
			continue;
		gid = (int)(gens.slot[gi] >> 32);
		ggen = (int)(gens.slot[gi] & 0xffffffff);
		o = qpdf_get_object_by_id(q, gid, ggen);
		(void)qpdf_oh_is_null(q, o);	/* resolves it */
		qpdf_oh_release(q, o);
		if (pdf_object_damaged(q, gid, ggen, err, errlen))
			goto out;
		if (pdf_budget_spent(&budget)) {
			snprintf(err, errlen, "reading this PDF%s takes more "
			    "than %.1f s of CPU (objects of generation > 0); "
			    "refused", budget.shared ? " and the documents "
			    "before it" : "", (double)budget.limit_ms / 1000);
			goto out;
		}
	}

	/* New objects are numbered past every reference (pdf_scan_refs). */
	doc->next_obj = maxref >= doc->size ? maxref + 1 : doc->size;
	if (doc->next_obj > max_size) {
		snprintf(err, errlen, "a reference to object %lld leaves no room "
		    "to number the objects of a signature (at most %lld): "
		    "refused", maxref, max_size - 1);
		goto out;
	}
	/* Before qpdf's own walk, which recurses (PDF_PAGE_DEPTH). */
	if (pdf_check_page_tree(doc, err, errlen) == -1)
		goto out;
	doc->npages = qpdf_get_num_pages(q);
	if (pdf_qpdf_failed(q, "page tree", err, errlen))
		goto out;
	if (doc->npages < 1) {
		snprintf(err, errlen, "PDF without pages refused");
		goto out;
	}
	if (pdf_read_form(doc, err, errlen) == -1)
		goto out;
	if (pdf_qpdf_warned(q, "structure", err, errlen))
		goto out;
	qpdf_oh_release_all(q);
	*out = doc;
	doc = NULL;
	rc = 0;
	goto out;
 scan_failed:
	if (scanned == PDF_SCAN_TOO_MANY)
		snprintf(err, errlen, "references to more than %d objects of "
		    "generation > 0 refused", PDF_GEN_REFS);
	else
		snprintf(err, errlen, "out of memory");
 out:
	free(gens.slot);
	pdf_close(doc);
	return rc;
}

int
pdf_open(const unsigned char *buf, size_t len, struct pdf_doc **out,
    char *err, size_t errlen)
{
	return pdf_open_limits(buf, len, 0, out, err, errlen);
}

int
pdf_open_own(const unsigned char *buf, size_t len, struct pdf_doc **out,
    char *err, size_t errlen)
{
	return pdf_open_limits(buf, len, 1, out, err, errlen);
}

void
pdf_close(struct pdf_doc *doc)
{
	size_t i;

	if (doc == NULL)
		return;
	if (doc->q != NULL)
		qpdf_cleanup(&doc->q);
	/* qpdf's memory is freed: a refused allocation's reserve may close. */
	memcap_release();
	for (i = 0; i < doc->nnames; i++)
		free(doc->names[i]);
	free(doc->names);
	for (i = 0; i < doc->nempty; i++)
		free(doc->empty[i].name);
	free(doc->empty);
	for (i = 0; i < doc->nlocks; i++)
		free(doc->locks[i].name);
	free(doc->locks);
	free(doc->buf);
	free(doc);
}

int
pdf_page_count(const struct pdf_doc *doc)
{
	return doc->npages;
}

int
pdf_signature_count(const struct pdf_doc *doc)
{
	return doc->nsigs;
}

/* --- writing an update -------------------------------------------------- */

/* The output starts as the original bytes, then an end of line if needed. */
static int
upd_begin(struct pdf_update *u, const struct pdf_doc *doc, char *err,
    size_t errlen)
{
	memset(u, 0, sizeof(*u));
	u->out.ok = 1;
	u->next = doc->next_obj;
	buf_add(&u->out, doc->buf, doc->len);
	if (doc->buf[doc->len - 1] != '\n' && doc->buf[doc->len - 1] != '\r')
		buf_str(&u->out, "\n");
	if (!u->out.ok) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Starts object num gen here; -1 if it is already in this update. */
static int
upd_obj(struct pdf_update *u, long long num, int gen, char *err,
    size_t errlen)
{
	size_t i;

	for (i = 0; i < u->nents; i++) {
		if (u->ents[i].num == num) {
			snprintf(err, errlen, "object %lld would be rewritten "
			    "twice (one object used in two roles): refused",
			    num);
			return -1;
		}
	}
	if (u->nents == sizeof(u->ents) / sizeof(u->ents[0])) {
		snprintf(err, errlen, "too many objects in one update");
		return -1;
	}
	u->ents[u->nents].num = num;
	u->ents[u->nents].gen = gen;
	u->ents[u->nents].off = u->out.len;
	u->nents++;
	buf_printf(&u->out, "%lld %d obj\n", num, gen);
	return 0;
}

/* Rewrites the existing indirect object (id, gen) as the direct value v. */
static int
upd_rewrite(struct pdf_update *u, qpdf_data q, int id, int gen, qpdf_oh v,
    const char *what, char *err, size_t errlen)
{
	const char *s;

	if (upd_obj(u, id, gen, err, errlen) == -1)
		return -1;
	s = qpdf_oh_unparse(q, v);
	if (pdf_qpdf_failed(q, what, err, errlen))
		return -1;
	buf_str(&u->out, s);
	buf_str(&u->out, "\nendobj\n");
	return 0;
}

/* A stream object holding data as it is (no filter). */
static int
upd_stream(struct pdf_update *u, long long num, const char *dict_extra,
    const unsigned char *data, size_t len, char *err, size_t errlen)
{
	if (upd_obj(u, num, 0, err, errlen) == -1)
		return -1;
	buf_printf(&u->out, "<<%s /Length %zu >>\nstream\n", dict_extra, len);
	buf_add(&u->out, data, len);
	buf_str(&u->out, "\nendstream\nendobj\n");
	return 0;
}

static int
ent_cmp(const void *a, const void *b)
{
	const struct pdf_entry *x = a, *y = b;

	return x->num < y->num ? -1 : x->num > y->num;
}

/* The trailer keys (§7.5.5) of the new section: all but /Size and /W... */
static int
upd_trailer_keys(struct pdf_update *u, const struct pdf_doc *doc,
    char *err, size_t errlen)
{
	qpdf_data q = doc->q;
	qpdf_oh tr, root, info, id, id0;
	unsigned char fresh[16], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const char *s;
	size_t n;

	tr = qpdf_get_trailer(q);
	root = qpdf_oh_get_key(q, tr, "/Root");
	buf_printf(&u->out, " /Root %d %d R", qpdf_oh_get_object_id(q, root),
	    qpdf_oh_get_generation(q, root));
	info = qpdf_oh_get_key(q, tr, "/Info");
	if (qpdf_oh_is_indirect(q, info))
		buf_printf(&u->out, " /Info %d %d R",
		    qpdf_oh_get_object_id(q, info),
		    qpdf_oh_get_generation(q, info));
	else if (qpdf_oh_is_dictionary(q, info)) {
		s = qpdf_oh_unparse(q, info);
		buf_printf(&u->out, " /Info %s", s);
	}
	/*
	 * /ID: the first part stays, the second changes with each update
	 * (§14.4): derived from the file so far (the update holds its /M
	 * time), not drawn at random, so that preparing the same document
	 * at the same signing time gives the same hash to sign — what a
	 * sign OTP is bound to (pkisign serve's POST /v1/sign/hashes).
	 */
	if (EVP_Digest(u->out.p, u->out.len, md, &mdlen, EVP_sha256(),
	    NULL) != 1) {
		snprintf(err, errlen, "SHA-256 failed");
		return -1;
	}
	memcpy(fresh, md, sizeof(fresh));
	buf_str(&u->out, " /ID [<");
	id = qpdf_oh_get_key(q, tr, "/ID");
	id0 = qpdf_oh_is_array(q, id) && qpdf_oh_get_array_n_items(q, id) == 2 ?
	    qpdf_oh_get_array_item(q, id, 0) : 0;
	if (id0 != 0 && qpdf_oh_is_string(q, id0)) {
		s = qpdf_oh_get_binary_string_value(q, id0, &n);
		buf_hex(&u->out, (const unsigned char *)s, n);
	} else
		buf_hex(&u->out, fresh, sizeof(fresh));
	buf_str(&u->out, "> <");
	buf_hex(&u->out, fresh, sizeof(fresh));
	buf_printf(&u->out, ">] /Prev %lld", doc->startxref);
	if (pdf_qpdf_failed(q, "trailer", err, errlen))
		return -1;
	return 0;
}

static void
put_be(unsigned char *p, unsigned long long v, int width)
{
	while (width-- > 0) {
		p[width] = (unsigned char)v;
		v >>= 8;
	}
}

/*
 * The cross-reference section of the update (§7.5.4 or §7.5.8), in the
 * form of the original's last one, its trailer, startxref and %%EOF.
 */
static int
upd_finish(struct pdf_update *u, const struct pdf_doc *doc, char *err,
    size_t errlen)
{
	unsigned char *rows = NULL, row[16];
	size_t i, j, xoff, rowlen, nrows;
	long long size;
	int w2 = 4, rc = -1;

	if (doc->xref_stream) {
		/* The xref stream is an object of the update too. */
		if (upd_obj(u, u->next++, 0, err, errlen) == -1)
			goto out;
	}
	/* Never hit after pdf_open's limits; checked so it stays so. */
	if (u->next - 1 > PDF_MAX_OBJNUM) {
		snprintf(err, errlen, "the update would number objects past "
		    "%lld (ISO 32000-1 Annex C)", PDF_MAX_OBJNUM);
		goto out;
	}
	xoff = doc->xref_stream ? u->ents[u->nents - 1].off : u->out.len;
	qsort(u->ents, u->nents, sizeof(u->ents[0]), ent_cmp);
	size = u->next;

	if (!doc->xref_stream) {
		buf_str(&u->out, "xref\n");
		for (i = 0; i < u->nents; i = j) {
			for (j = i + 1; j < u->nents &&
			    u->ents[j].num == u->ents[j - 1].num + 1; j++)
				;
			buf_printf(&u->out, "%lld %zu\n", u->ents[i].num, j - i);
			for (; i < j; i++)
				buf_printf(&u->out, "%010zu %05d n\r\n",
				    u->ents[i].off, u->ents[i].gen);
		}
		buf_printf(&u->out, "trailer\n<< /Size %lld", size);
		if (upd_trailer_keys(u, doc, err, errlen) == -1)
			goto out;
		buf_str(&u->out, " >>\n");
	} else {
		while (w2 < 8 && (xoff >> (8 * w2)) != 0)
			w2++;
		rowlen = 1 + (size_t)w2 + 2;
		nrows = u->nents;
		if ((rows = calloc(nrows, rowlen)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		for (i = 0; i < nrows; i++) {
			row[0] = 1;
			put_be(row + 1, u->ents[i].off, w2);
			put_be(row + 1 + w2, (unsigned)u->ents[i].gen, 2);
			memcpy(rows + i * rowlen, row, rowlen);
		}
		buf_printf(&u->out, "<< /Type /XRef /Size %lld", size);
		if (upd_trailer_keys(u, doc, err, errlen) == -1)
			goto out;
		buf_printf(&u->out, " /W [1 %d 2] /Index [", w2);
		for (i = 0; i < u->nents; i = j) {
			for (j = i + 1; j < u->nents &&
			    u->ents[j].num == u->ents[j - 1].num + 1; j++)
				;
			buf_printf(&u->out, "%s%lld %zu", i ? " " : "",
			    u->ents[i].num, j - i);
		}
		buf_printf(&u->out, "] /Length %zu >>\nstream\n", nrows * rowlen);
		buf_add(&u->out, rows, nrows * rowlen);
		buf_str(&u->out, "\nendstream\nendobj\n");
	}
	buf_printf(&u->out, "startxref\n%zu\n%%%%EOF\n", xoff);
	if (!u->out.ok) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* The headroom pdf_open_own() leaves for each of our updates. */
	if (u->out.len - doc->len > PDF_UPDATE_MAX) {
		snprintf(err, errlen, "an update of %zu bytes: more than %zu "
		    "refused", u->out.len - doc->len, PDF_UPDATE_MAX);
		goto out;
	}
	rc = 0;
 out:
	free(rows);
	return rc;
}

/*
 * A direct copy of dictionary d with key set to v (v 0: key removed), or 0
 * out of memory: a copy missing keys must never be written (a page without
 * /Contents, a catalog without /Pages).
 */
static qpdf_oh
dict_with(qpdf_data q, qpdf_oh d, const char *key, qpdf_oh v)
{
	qpdf_oh c = qpdf_oh_new_dictionary(q), ret = 0;
	const char *k;
	char *kc;

	if (d != 0 && qpdf_oh_is_dictionary(q, d)) {
		qpdf_oh_begin_dict_key_iter(q, d);
		while (qpdf_oh_dict_more_keys(q)) {
			k = qpdf_oh_dict_next_key(q);
			if ((kc = strdup(k)) == NULL)
				goto out;
			if (strcmp(kc, key) != 0)
				qpdf_oh_replace_key(q, c, kc,
				    qpdf_oh_get_key(q, d, kc));
			free(kc);
		}
	}
	if (v != 0)
		qpdf_oh_replace_key(q, c, key, v);
	ret = c;
	c = 0;
 out:
	qpdf_oh_release(q, c);
	return ret;
}

/* A direct copy of array a (0 or not an array: empty) with v appended. */
static qpdf_oh
array_with(qpdf_data q, qpdf_oh a, qpdf_oh v)
{
	qpdf_oh c = qpdf_oh_new_array(q);
	int i, n;

	if (a != 0 && qpdf_oh_is_array(q, a)) {
		n = qpdf_oh_get_array_n_items(q, a);
		for (i = 0; i < n; i++)
			qpdf_oh_append_item(q, c, qpdf_oh_get_array_item(q, a, i));
	}
	qpdf_oh_append_item(q, c, v);
	return c;
}

/*
 * Appends ref to the array under key of dictionary d. The array object is
 * rewritten when it is indirect (*dp stays d) unless own_copy; otherwise *dp
 * is a copy of d holding the longer array, direct, for the caller to write.
 * 0, or -1 with a message in err.
 */
static int
upd_append_to(struct pdf_update *u, qpdf_data q, qpdf_oh d, const char *key,
    qpdf_oh ref, int own_copy, qpdf_oh *dp, char *err, size_t errlen)
{
	qpdf_oh a = qpdf_oh_get_key(q, d, key);
	char what[64];

	snprintf(what, sizeof(what), "%s array", key);
	*dp = d;
	if (!qpdf_oh_is_null(q, a) && !qpdf_oh_is_array(q, a)) {
		snprintf(err, errlen, "%s is not an array: refused", key);
		return -1;
	}
	if (!own_copy && qpdf_oh_is_indirect(q, a) && qpdf_oh_is_array(q, a))
		return upd_rewrite(u, q, qpdf_oh_get_object_id(q, a),
		    qpdf_oh_get_generation(q, a), array_with(q, a, ref), what,
		    err, errlen);
	if ((*dp = dict_with(q, d, key, array_with(q, a, ref))) == 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return pdf_qpdf_failed(q, what, err, errlen) ? -1 : 0;
}

/* Whether page's /Annots is an indirect array another page uses too. */
static int
pdf_annots_shared(qpdf_data q, qpdf_oh page)
{
	qpdf_oh a = qpdf_oh_get_key(q, page, "/Annots"), other, b;
	int n, i, id, pid;

	if (!qpdf_oh_is_indirect(q, a))
		return 0;
	id = qpdf_oh_get_object_id(q, a);
	pid = qpdf_oh_get_object_id(q, page);
	n = qpdf_get_num_pages(q);
	for (i = 0; i < n; i++) {
		other = qpdf_get_page_n(q, (size_t)i);
		if (qpdf_oh_get_object_id(q, other) == pid)
			continue;
		b = qpdf_oh_get_key(q, other, "/Annots");
		if (qpdf_oh_is_indirect(q, b) && qpdf_oh_get_object_id(q, b) ==
		    id)
			return 1;
	}
	return 0;
}

/* --- the signature ------------------------------------------------------ */

/* The appearance stream: a QR code of text filling a size x size square. */
static int
pdf_qr_appearance(struct pdf_buf *b, const char *text, double size,
    char *err, size_t errlen)
{
	QRcode *qr;
	int r, c, c0, total;

	errno = 0;
	if ((qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8,
	    1)) == NULL) {
		snprintf(err, errlen, "QRcode_encodeString: %s",
		    errno == ERANGE ? "text too long for a QR code" :
		    strerror(errno));
		return -1;
	}
	total = qr->width + 2 * PDF_QR_QUIET;
	/* White square, then the dark modules in module units. */
	buf_str(b, "q\n1 g\n0 0 ");
	buf_real(b, size);
	buf_str(b, " ");
	buf_real(b, size);
	buf_str(b, " re\nf\n");
	buf_real(b, size / total);
	buf_str(b, " 0 0 ");
	buf_real(b, size / total);
	buf_str(b, " 0 0 cm\n0 g\n");
	for (r = 0; r < qr->width; r++) {
		for (c = 0; c < qr->width;) {
			if (!(qr->data[r * qr->width + c] & 1)) {
				c++;
				continue;
			}
			for (c0 = c; c < qr->width &&
			    (qr->data[r * qr->width + c] & 1); c++)
				;
			buf_printf(b, "%d %d %d 1 re\n", PDF_QR_QUIET + c0,
			    total - PDF_QR_QUIET - 1 - r, c - c0);
		}
	}
	buf_str(b, "f\nQ\n");
	QRcode_free(qr);
	return 0;
}

/* "D:YYYYMMDDHHmmSS+00'00'" (§7.9.4) for t, in UTC. */
static int
pdf_date(time_t t, char *s, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 ||
	    tm.tm_year + 1900 < 1)
		return -1;
	snprintf(s, len, "D:%04d%02d%02d%02d%02d%02d+00'00'",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec);
	return 0;
}

/*
 * A field name from the PDF for a message: control characters as '?', at
 * most 64 bytes (our messages go to logs).
 */
static void
pdf_msg_name(const char *name, char *out, size_t outlen)
{
	size_t i;

	snprintf(out, outlen, "%.64s", name);
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = '?';
}

/* Up to 5 of the empty signature fields' names, for a message. */
static void
pdf_empty_names(const struct pdf_doc *doc, char *out, size_t outlen)
{
	char n[80];
	size_t i, len;

	if (doc->nempty == 0) {
		snprintf(out, outlen, "it has none");
		return;
	}
	snprintf(out, outlen, "its empty signature fields: ");
	for (i = 0; i < doc->nempty && i < 5; i++) {
		pdf_msg_name(doc->empty[i].name, n, sizeof(n));
		len = strlen(out);
		snprintf(out + len, outlen - len, "%s\"%s\"", i ? ", " : "", n);
	}
	if (doc->nempty > 5) {
		len = strlen(out);
		snprintf(out + len, outlen - len, ", ...");
	}
}

/* The empty signature field of that fully qualified name, or NULL. */
static const struct pdf_sigfield *
pdf_find_empty(const struct pdf_doc *doc, const char *name)
{
	size_t i;

	for (i = 0; i < doc->nempty; i++)
		if (strcmp(doc->empty[i].name, name) == 0)
			return &doc->empty[i];
	return NULL;
}

/*
 * Whether a FieldMDP lock of an earlier signature locks the field of that
 * fully qualified name (§12.8.2.4: /All, /Include listing it, or /Exclude
 * not listing it).
 */
static int
pdf_field_locked(const struct pdf_doc *doc, const char *name)
{
	unsigned char *excluded = NULL;
	size_t i;
	int e, locked = 0;

	if (doc->lock_all)
		return 1;
	if (doc->nexcl > 0 && (excluded = calloc(doc->nexcl, 1)) == NULL)
		return 1;	/* cannot tell: locked */
	for (i = 0; i < doc->nlocks; i++) {
		if (strcmp(doc->locks[i].name, name) != 0)
			continue;
		if (doc->locks[i].excl == -1)
			locked = 1;
		else
			excluded[doc->locks[i].excl] = 1;
	}
	for (e = 0; e < doc->nexcl; e++)
		if (!excluded[e])
			locked = 1;
	free(excluded);
	return locked;
}

/*
 * The field a signature may fill (ISO 32000-1 §12.7.4.5): an empty
 * signature field named o->fill_field, one widget, indirect, not read-only,
 * without required seed values, not locked by an earlier signature. NULL
 * with err otherwise.
 */
static const struct pdf_sigfield *
pdf_check_fill(const struct pdf_doc *doc, const struct pdf_sig_opts *o,
    char *err, size_t errlen)
{
	const struct pdf_sigfield *e;
	char n[80], names[512];

	pdf_msg_name(o->fill_field, n, sizeof(n));
	if (o->field_name != NULL || o->visible || o->doc_timestamp) {
		snprintf(err, errlen, "signing the existing field \"%s\": its "
		    "own widget is kept, so no new field name or visible "
		    "signature with it", n);
		return NULL;
	}
	if ((e = pdf_find_empty(doc, o->fill_field)) == NULL) {
		pdf_empty_names(doc, names, sizeof(names));
		snprintf(err, errlen, "no empty signature field named \"%s\" "
		    "in the PDF (%s)", n, names);
		return NULL;
	}
	if (e->id == 0) {
		snprintf(err, errlen, "signature field \"%s\" is not an "
		    "indirect object: refused", n);
		return NULL;
	}
	if (e->widgets != 1) {
		snprintf(err, errlen, "signature field \"%s\" has %d widget "
		    "annotations, not one: refused", n, e->widgets);
		return NULL;
	}
	/*
	 * Legal, but poppler (pdfsig 22.12) reads the /V of a signature field
	 * only from a field merged with its widget: it would call ours
	 * unsigned.
	 */
	if (!e->merged) {
		snprintf(err, errlen, "signature field \"%s\" has its widget "
		    "as a kid, not merged with it: not supported (poppler would "
		    "report the signature missing)", n);
		return NULL;
	}
	if (e->read_only) {
		snprintf(err, errlen, "signature field \"%s\" is read-only "
		    "(/Ff bit 1, ISO 32000-1 §12.7.3.1)", n);
		return NULL;
	}
	if (e->sv_required) {
		snprintf(err, errlen, "signature field \"%s\" has seed values "
		    "(/SV) marked required, which pkisign does not check "
		    "(ISO 32000-1 §12.7.4.5): refused", n);
		return NULL;
	}
	if (pdf_field_locked(doc, o->fill_field)) {
		snprintf(err, errlen, "signature field \"%s\" is locked by an "
		    "earlier signature (FieldMDP /Lock, ISO 32000-1 §12.7.4.5, "
		    "§12.8.2.4): signing it would invalidate that signature",
		    n);
		return NULL;
	}
	return e;
}

/*
 * The visible area of page pageno (from 1): its CropBox, own or inherited
 * (ISO 32000-1 §7.7.3.3, §14.11.2; by default the MediaBox), clipped to its
 * MediaBox. 0, or -1 with a message in err.
 */
static int
pdf_page_area(qpdf_data q, int pageno, double b[4], char *err, size_t errlen)
{
	qpdf_oh node, media = 0, crop = 0;
	double m[4], c[4];
	int depth, have_m = 0, have_c = 0;

	node = qpdf_get_page_n(q, (size_t)pageno - 1);
	/* Inheritance climbs /Parent, as deep as the page tree may be. */
	for (depth = 0; depth <= PDF_PAGE_DEPTH &&
	    qpdf_oh_is_dictionary(q, node); depth++) {
		if (!have_m) {
			media = qpdf_oh_get_key(q, node, "/MediaBox");
			have_m = pdf_rect(q, media, m) == 0;
		}
		if (!have_c) {
			crop = qpdf_oh_get_key(q, node, "/CropBox");
			have_c = pdf_rect(q, crop, c) == 0;
		}
		if (have_m && have_c)
			break;
		node = qpdf_oh_get_key(q, node, "/Parent");
	}
	if (pdf_qpdf_failed(q, "page", err, errlen))
		return -1;
	if (!have_m) {
		snprintf(err, errlen, "page %d has no MediaBox (ISO 32000-1 "
		    "§7.7.3.3): a visible signature cannot be placed on it",
		    pageno);
		return -1;
	}
	if (!have_c)
		memcpy(c, m, sizeof(c));
	b[0] = c[0] > m[0] ? c[0] : m[0];
	b[1] = c[1] > m[1] ? c[1] : m[1];
	b[2] = c[2] < m[2] ? c[2] : m[2];
	b[3] = c[3] < m[3] ? c[3] : m[3];
	return 0;
}

static int
pdf_check_opts(const struct pdf_doc *doc, const struct pdf_sig_opts *o,
    char *err, size_t errlen)
{
	char names[512];
	const char *texts[3] = { o->reason, o->location, o->name };
	const char *labels[3] = { "reason", "location", "name" };
	double box[4];
	int i;

	for (i = 0; i < 3; i++) {
		if (texts[i] != NULL && strlen(texts[i]) > PDF_TEXT_MAX) {
			snprintf(err, errlen, "%s longer than %d bytes",
			    labels[i], PDF_TEXT_MAX);
			return -1;
		}
	}
	if (o->field_name != NULL && (o->field_name[0] == '\0' ||
	    strchr(o->field_name, '.') != NULL ||
	    strlen(o->field_name) > 255)) {
		snprintf(err, errlen, "field name must be 1 to 255 bytes "
		    "without a period (ISO 32000-1 §12.7.3.2)");
		return -1;
	}
	if (o->field_name != NULL && pdf_name_used(doc, o->field_name)) {
		snprintf(err, errlen, "a field named \"%s\" already exists",
		    o->field_name);
		return -1;
	}
	if (o->contents_max > PDF_CONTENTS_MAX) {
		snprintf(err, errlen, "contents_max %zu above %d", o->contents_max,
		    PDF_CONTENTS_MAX);
		return -1;
	}
	if (o->visible) {
		if (o->page < 1 || o->page > doc->npages) {
			snprintf(err, errlen, "page %d: the PDF has %d page(s)",
			    o->page, doc->npages);
			return -1;
		}
		if (!isfinite(o->x) || !isfinite(o->y) || !isfinite(o->size) ||
		    fabs(o->x) > PDF_COORD_MAX || fabs(o->y) > PDF_COORD_MAX ||
		    o->size < 1.0 || o->size > PDF_COORD_MAX) {
			snprintf(err, errlen, "visible signature: x, y within "
			    "±%g and size 1 to %g points", PDF_COORD_MAX,
			    PDF_COORD_MAX);
			return -1;
		}
		if (o->qr_text == NULL || o->qr_text[0] == '\0') {
			snprintf(err, errlen, "visible signature without QR text");
			return -1;
		}
		/*
		 * Inside the page's visible area, in default user space
		 * (page rotation is not applied: sign/README.md). A QR off the
		 * page was signed and never seen.
		 */
		if (pdf_page_area(doc->q, o->page, box, err, errlen) == -1)
			return -1;
		if (o->x < box[0] || o->y < box[1] ||
		    o->x + o->size > box[2] || o->y + o->size > box[3]) {
			snprintf(err, errlen, "the QR at [%g %g %g %g] is not "
			    "inside page %d's visible area [%g %g %g %g] (its "
			    "CropBox within its MediaBox, ISO 32000-1 §14.11.2)",
			    o->x, o->y, o->x + o->size, o->y + o->size, o->page,
			    box[0], box[1], box[2], box[3]);
			return -1;
		}
		/*
		 * /NeedAppearances true: we set it false (below), which is
		 * only right when every field already has its appearance.
		 */
		if (doc->need_appearances && doc->widgets_no_ap > 0) {
			snprintf(err, errlen, "the form asks viewers to "
			    "generate field appearances (/NeedAppearances true, "
			    "ISO 32000-1 §12.7.2) and %d field widget(s) have "
			    "none: viewers would redraw the form and not show "
			    "the QR code, so a visible signature is refused (an "
			    "invisible one is not)", doc->widgets_no_ap);
			return -1;
		}
	} else if (o->page < 0 || o->page > doc->npages) {
		snprintf(err, errlen, "page %d: the PDF has %d page(s)", o->page,
		    doc->npages);
		return -1;
	}
	if (o->doc_timestamp && (o->visible || o->reason != NULL ||
	    o->location != NULL || o->name != NULL)) {
		snprintf(err, errlen, "a document time-stamp is invisible and "
		    "has no name, reason or location");
		return -1;
	}
	/* ISO 32000-2 §12.8.2.2.2: a DSS or a document time-stamp may follow
	 * a certification with /P 1 (ETSI EN 319 142-1 §5.4, §5.5). */
	if (doc->docmdp_nochange && !o->doc_timestamp) {
		snprintf(err, errlen, "the PDF is certified with DocMDP /P 1 (no "
		    "changes allowed, ISO 32000-1 §12.8.2.2): a new signature "
		    "would invalidate it");
		return -1;
	}
	if (o->fill_field != NULL)
		return pdf_check_fill(doc, o, err, errlen) == NULL ? -1 : 0;
	/*
	 * /P 2 allows filling in forms and signing them, not adding fields:
	 * a new signature field and widget is a change validators (Adobe,
	 * pyHanko) report. A document time-stamp may follow, as with /P 1.
	 */
	if (doc->docmdp_p == 2 && !o->doc_timestamp) {
		pdf_empty_names(doc, names, sizeof(names));
		snprintf(err, errlen, "the PDF is certified with DocMDP /P 2 "
		    "(form filling and signing only, ISO 32000-1 §12.8.2.2): "
		    "a new signature field would invalidate the certification; "
		    "sign an existing empty signature field by name (%s)",
		    names);
		return -1;
	}
	return 0;
}

int
pdf_check_signature(const struct pdf_doc *doc, const struct pdf_sig_opts *o,
    char *err, size_t errlen)
{
	return pdf_check_opts(doc, o, err, errlen);
}

/* A field name: the given one, or the first free SignatureN. */
static void
pdf_field_name(const struct pdf_doc *doc, const struct pdf_sig_opts *o,
    char *name, size_t len)
{
	if (o->field_name != NULL)
		snprintf(name, len, "%s", o->field_name);
	else
		snprintf(name, len, "Signature%d", doc->sig_next);
}

int
pdf_prepare_signature(struct pdf_doc *doc, const struct pdf_sig_opts *o,
    struct pdf_prepared *p, char *err, size_t errlen)
{
	struct pdf_update u;
	struct pdf_buf ap = { NULL, 0, 0, 1 };
	qpdf_data q = doc->q;
	qpdf_oh page, root, af, fields_ref = 0, newpage, newroot, newaf, afc;
	qpdf_oh flags;
	char name[300], date[80], br[PDF_BR_WIDTH + 1];
	long long sig_num, field_num, ap_num = 0, flagv;
	size_t hexlen, br_off, contents_off, after;
	const char *keys[3] = { "/Name", "/Reason", "/Location" };
	const char *texts[3] = { o->name, o->reason, o->location };
	const struct pdf_sigfield *fill = NULL;
	int i, pageno, rc = -1;

	memset(p, 0, sizeof(*p));
	memset(&u, 0, sizeof(u));
	if (pdf_check_opts(doc, o, err, errlen) == -1)
		goto out;
	if (o->fill_field != NULL &&
	    (fill = pdf_check_fill(doc, o, err, errlen)) == NULL)
		goto out;
	pdf_field_name(doc, o, name, sizeof(name));
	if (pdf_date(o->signing_time != 0 ? o->signing_time : time(NULL), date,
	    sizeof(date)) == -1) {
		snprintf(err, errlen, "signing time out of range");
		goto out;
	}
	hexlen = 2 * (o->contents_max != 0 ? o->contents_max :
	    PDF_CONTENTS_DEFAULT);
	pageno = o->page >= 1 ? o->page : 1;
	if (upd_begin(&u, doc, err, errlen) == -1)
		goto out;
	sig_num = u.next++;
	field_num = fill != NULL ? fill->id : u.next++;
	if (o->visible)
		ap_num = u.next++;

	/* The signature dictionary (§12.8.1, ETSI EN 319 142-1 §5.3), or the
	 * document time-stamp dictionary (ISO 32000-2 §12.8.5, EN 319 142-1
	 * §5.5). */
	if (upd_obj(&u, sig_num, 0, err, errlen) == -1)
		goto out;
	if (o->doc_timestamp)
		buf_str(&u.out, "<< /Type /DocTimeStamp /Filter /Adobe.PPKLite "
		    "/SubFilter /ETSI.RFC3161");
	else
		buf_printf(&u.out, "<< /Type /Sig /Filter /Adobe.PPKLite "
		    "/SubFilter /ETSI.CAdES.detached /M (%s)", date);
	for (i = 0; i < 3; i++) {
		if (texts[i] == NULL)
			continue;
		buf_printf(&u.out, " %s ", keys[i]);
		if (buf_text(&u.out, texts[i]) == -1) {
			snprintf(err, errlen, "%s is not valid UTF-8 text (or "
			    "holds NUL)", keys[i] + 1);
			goto out;
		}
	}
	buf_str(&u.out, " /ByteRange [");
	br_off = u.out.len;
	buf_printf(&u.out, "%*s] /Contents <", PDF_BR_WIDTH, "");
	contents_off = u.out.len;
	if (buf_reserve(&u.out, hexlen) == 0) {
		memset(u.out.p + u.out.len, '0', hexlen);
		u.out.len += hexlen;
	}
	buf_str(&u.out, "> >>\nendobj\n");

	/*
	 * An existing empty field: rewritten with /V, all else kept (its
	 * widget, on its page, in /Fields). qpdf would drop a key whose value
	 * is a reference to an object it does not know yet (ours), so /V is
	 * written ahead of its unparsed keys.
	 */
	if (fill != NULL) {
		qpdf_oh fo = qpdf_get_object_by_id(q, fill->id, fill->gen);
		const char *fs;

		if (!qpdf_oh_is_dictionary(q, fo) ||
		    (fo = dict_with(q, fo, "/V", 0)) == 0) {
			snprintf(err, errlen, "signature field %d %d R: not a "
			    "dictionary", fill->id, fill->gen);
			goto out;
		}
		fs = qpdf_oh_unparse(q, fo);
		if (pdf_qpdf_failed(q, "signature field", err, errlen))
			goto out;
		if (strncmp(fs, "<<", 2) != 0) {
			snprintf(err, errlen, "signature field %d %d R: not a "
			    "dictionary", fill->id, fill->gen);
			goto out;
		}
		if (upd_obj(&u, fill->id, fill->gen, err, errlen) == -1)
			goto out;
		buf_printf(&u.out, "<< /V %lld 0 R ", sig_num);
		buf_str(&u.out, fs + 2);
		buf_str(&u.out, "\nendobj\n");
		goto acroform;
	}

	/* The field and its widget, merged (§12.7.4.5, §12.5.6.19). */
	page = qpdf_get_page_n(q, (size_t)pageno - 1);
	if (pdf_qpdf_failed(q, "page", err, errlen))
		goto out;
	if (!qpdf_oh_is_indirect(q, page)) {
		snprintf(err, errlen, "page %d is not an indirect object",
		    pageno);
		goto out;
	}
	if (upd_obj(&u, field_num, 0, err, errlen) == -1)
		goto out;
	buf_str(&u.out, "<< /Type /Annot /Subtype /Widget /FT /Sig /T ");
	if (buf_text(&u.out, name) == -1) {
		snprintf(err, errlen, "field name is not valid UTF-8 text");
		goto out;
	}
	buf_printf(&u.out, " /V %lld 0 R /F 132 /P %d %d R /Rect [", sig_num,
	    qpdf_oh_get_object_id(q, page), qpdf_oh_get_generation(q, page));
	if (o->visible) {
		buf_real(&u.out, o->x);
		buf_str(&u.out, " ");
		buf_real(&u.out, o->y);
		buf_str(&u.out, " ");
		buf_real(&u.out, o->x + o->size);
		buf_str(&u.out, " ");
		buf_real(&u.out, o->y + o->size);
		buf_printf(&u.out, "] /AP << /N %lld 0 R >> >>\nendobj\n",
		    ap_num);
	} else
		buf_str(&u.out, "0 0 0 0] >>\nendobj\n");

	if (o->visible) {
		char extra[160];
		struct pdf_buf d = { NULL, 0, 0, 1 };

		if (pdf_qr_appearance(&ap, o->qr_text, o->size, err,
		    errlen) == -1)
			goto out;
		buf_str(&d, " /Type /XObject /Subtype /Form /BBox [0 0 ");
		buf_real(&d, o->size);
		buf_str(&d, " ");
		buf_real(&d, o->size);
		buf_str(&d, "] /Resources << >>");
		buf_add(&d, "", 1);
		if (!ap.ok || !d.ok) {
			free(d.p);
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		snprintf(extra, sizeof(extra), "%s", (char *)d.p);
		free(d.p);
		if (upd_stream(&u, ap_num, extra, ap.p, ap.len, err,
		    errlen) == -1)
			goto out;
	}

	/*
	 * The page's /Annots gets the widget; an /Annots array that other
	 * pages share is left alone (the widget would show on all of them):
	 * this page gets its own copy.
	 */
	fields_ref = qpdf_get_object_by_id(q, (int)field_num, 0);
	if (upd_append_to(&u, q, page, "/Annots", fields_ref,
	    pdf_annots_shared(q, page), &newpage, err, errlen) == -1)
		goto out;
	if (newpage != page && upd_rewrite(&u, q,
	    qpdf_oh_get_object_id(q, page), qpdf_oh_get_generation(q, page),
	    newpage, "page", err, errlen) == -1)
		goto out;

	/*
	 * The catalog's /AcroForm gets the new field and /SigFlags 3
	 * (§12.7.2); a field filled is in /Fields already.
	 */
 acroform:
	root = qpdf_oh_get_key(q, qpdf_get_trailer(q), "/Root");
	af = qpdf_oh_get_key(q, root, "/AcroForm");
	if (!qpdf_oh_is_null(q, af) && !qpdf_oh_is_dictionary(q, af)) {
		snprintf(err, errlen, "/AcroForm is not a dictionary: refused");
		goto out;
	}
	afc = qpdf_oh_is_null(q, af) ? qpdf_oh_new_dictionary(q) : af;
	newaf = afc;
	if (fill == NULL && upd_append_to(&u, q, afc, "/Fields", fields_ref, 0,
	    &newaf, err, errlen) == -1)
		goto out;
	flags = qpdf_oh_get_key(q, afc, "/SigFlags");
	flagv = qpdf_oh_is_integer(q, flags) ?
	    qpdf_oh_get_int_value(q, flags) : 0;
	if ((flagv & 3) != 3 || !qpdf_oh_is_integer(q, flags)) {
		if ((newaf = dict_with(q, newaf, "/SigFlags",
		    qpdf_oh_new_integer(q, flagv | 3))) == 0) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	/*
	 * /NeedAppearances true makes viewers regenerate every widget's
	 * appearance, ours included (poppler and Acrobat then draw no QR).
	 * pdf_check_opts() let a visible signature through only when every
	 * field widget has its /AP: nothing needs generating.
	 */
	if (o->visible && doc->need_appearances) {
		if ((newaf = dict_with(q, newaf, "/NeedAppearances",
		    qpdf_oh_new_bool(q, QPDF_FALSE))) == 0) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	if (newaf != afc) {
		if (qpdf_oh_is_indirect(q, af)) {
			if (upd_rewrite(&u, q, qpdf_oh_get_object_id(q, af),
			    qpdf_oh_get_generation(q, af), newaf, "AcroForm",
			    err, errlen) == -1)
				goto out;
		} else {
			if ((newroot = dict_with(q, root, "/AcroForm",
			    newaf)) == 0) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			if (upd_rewrite(&u, q, qpdf_oh_get_object_id(q, root),
			    qpdf_oh_get_generation(q, root), newroot, "catalog",
			    err, errlen) == -1)
				goto out;
		}
	}
	if (pdf_qpdf_failed(q, "AcroForm", err, errlen))
		goto out;

	if (upd_finish(&u, doc, err, errlen) == -1)
		goto out;

	/* The ByteRange excludes /Contents' <...> exactly (§12.8.1). */
	after = contents_off + hexlen + 1;
	p->byterange[0] = 0;
	p->byterange[1] = (long long)contents_off - 1;
	p->byterange[2] = (long long)after;
	p->byterange[3] = (long long)(u.out.len - after);
	snprintf(br, sizeof(br), "%lld %lld %lld %lld", p->byterange[0],
	    p->byterange[1], p->byterange[2], p->byterange[3]);
	memset(u.out.p + br_off, ' ', PDF_BR_WIDTH);
	memcpy(u.out.p + br_off, br, strlen(br));
	p->buf = u.out.p;
	p->len = u.out.len;
	p->contents_off = contents_off;
	p->contents_hexlen = hexlen;
	u.out.p = NULL;
	rc = 0;
 out:
	free(u.out.p);
	free(ap.p);
	qpdf_oh_release_all(q);
	return rc;
}

int
pdf_byterange_digest(const struct pdf_prepared *p, const EVP_MD *md,
    unsigned char *out, unsigned int *outlen)
{
	EVP_MD_CTX *ctx = NULL;
	const long long *br = p->byterange;
	int rc = -1;

	if (p->buf == NULL || br[0] != 0 || br[1] < 0 || br[2] < br[1] ||
	    br[3] < 0 || (unsigned long long)br[2] + (unsigned long long)br[3] !=
	    p->len)
		goto out;
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, p->buf, (size_t)br[1]) != 1 ||
	    EVP_DigestUpdate(ctx, p->buf + br[2], (size_t)br[3]) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, outlen) != 1)
		goto out;
	rc = 0;
 out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

int
pdf_embed_signature(struct pdf_prepared *p, const unsigned char *cms,
    size_t cmslen, char *err, size_t errlen)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char *d;
	size_t i;

	if (p->buf == NULL || p->contents_off + p->contents_hexlen > p->len) {
		snprintf(err, errlen, "no prepared signature");
		return -1;
	}
	if (cmslen == 0 || cmslen > p->contents_hexlen / 2) {
		snprintf(err, errlen, "CMS SignedData of %zu bytes does not fit "
		    "the %zu bytes reserved in /Contents (raise contents_max)",
		    cmslen, p->contents_hexlen / 2);
		return -1;
	}
	d = p->buf + p->contents_off;
	for (i = 0; i < cmslen; i++) {
		d[2 * i] = (unsigned char)hex[cms[i] >> 4];
		d[2 * i + 1] = (unsigned char)hex[cms[i] & 0xf];
	}
	memset(d + 2 * cmslen, '0', p->contents_hexlen - 2 * cmslen);
	return 0;
}

void
pdf_prepared_clear(struct pdf_prepared *p)
{
	if (p == NULL)
		return;
	free(p->buf);
	memset(p, 0, sizeof(*p));
}

/* --- the DSS ------------------------------------------------------------ */

/*
 * An existing DSS stream that may equal a new item: unfiltered (raw bytes
 * are the DER, as we write them) with its /Length. A filtered stream is
 * never decoded: a Flate bomb listed thousands of times would be inflated
 * as often; its material is merely stored again.
 */
struct dss_old {
	int	 id, gen;
	size_t	 len;
};

static int
dss_old_cmp(const void *a, const void *b)
{
	const struct dss_old *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->gen < y->gen ? -1 : x->gen > y->gen;
}

/*
 * Marks in dup[] the blobs found among the first PDF_DSS_SCAN streams of
 * array a. Each distinct stream is read at most once, and only when its
 * /Length equals the length of a blob still unmatched.
 */
static int
dss_mark_present(qpdf_data q, qpdf_oh a, const struct pdf_blob *blobs,
    size_t n, unsigned char *dup)
{
	struct dss_old *olds = NULL;
	qpdf_oh s, dict, len;
	unsigned char *data;
	size_t i, k, nolds = 0, dlen;
	int j, m, want, rc = -1;

	m = qpdf_oh_is_array(q, a) ? qpdf_oh_get_array_n_items(q, a) : 0;
	if (m > PDF_DSS_SCAN)
		m = PDF_DSS_SCAN;
	if (m > 0 && (olds = calloc((size_t)m, sizeof(*olds))) == NULL)
		goto out;
	for (j = 0; j < m; j++) {
		s = qpdf_oh_get_array_item(q, a, j);
		if (!qpdf_oh_is_stream(q, s))
			continue;
		dict = qpdf_oh_get_dict(q, s);
		len = qpdf_oh_get_key(q, dict, "/Length");
		if (!qpdf_oh_is_null(q, qpdf_oh_get_key(q, dict, "/Filter")) ||
		    !qpdf_oh_is_null(q, qpdf_oh_get_key(q, dict, "/F")) ||
		    !qpdf_oh_is_integer(q, len) ||
		    qpdf_oh_get_int_value(q, len) < 0)
			continue;
		olds[nolds].id = qpdf_oh_get_object_id(q, s);
		olds[nolds].gen = qpdf_oh_get_generation(q, s);
		olds[nolds].len = (size_t)qpdf_oh_get_int_value(q, len);
		nolds++;
	}
	if (nolds > 0)
		qsort(olds, nolds, sizeof(*olds), dss_old_cmp);
	for (i = 0; i < nolds; i++) {
		if (i > 0 && dss_old_cmp(&olds[i - 1], &olds[i]) == 0)
			continue;	/* the same stream listed again */
		for (k = 0, want = 0; k < n && !want; k++)
			want = !dup[k] && blobs[k].len == olds[i].len;
		if (!want)
			continue;
		data = NULL;
		dlen = 0;
		s = qpdf_get_object_by_id(q, olds[i].id, olds[i].gen);
		if (qpdf_oh_get_stream_data(q, s, qpdf_dl_none, NULL, &data,
		    &dlen) == QPDF_SUCCESS) {
			for (k = 0; k < n; k++)
				if (!dup[k] && blobs[k].len == dlen &&
				    memcmp(data, blobs[k].der, dlen) == 0)
					dup[k] = 1;
		}
		free(data);
		/* An unreadable stream is not ours to judge: not equal. */
		if (qpdf_has_error(q))
			(void)qpdf_get_error(q);
		while (qpdf_more_warnings(q))
			(void)qpdf_next_warning(q);
	}
	rc = 0;
 out:
	free(olds);
	return rc;
}

/*
 * Writes the blobs not already in array a (nor earlier in the list) as new
 * streams; *newa is a copy of a with their references, or 0 if none is new.
 */
static int
dss_streams(struct pdf_update *u, qpdf_data q, qpdf_oh a,
    const struct pdf_blob *blobs, size_t n, qpdf_oh *newa, char *err,
    size_t errlen)
{
	unsigned char dup[PDF_DSS_MAX];
	qpdf_oh c = 0;
	size_t i, k;
	long long num;

	*newa = 0;
	memset(dup, 0, sizeof(dup));
	for (i = 0; i < n; i++) {
		if (blobs[i].der == NULL || blobs[i].len == 0) {
			snprintf(err, errlen, "empty DSS entry");
			return -1;
		}
		for (k = 0; k < i && !dup[i]; k++)
			dup[i] = blobs[k].len == blobs[i].len &&
			    memcmp(blobs[k].der, blobs[i].der, blobs[i].len) == 0;
	}
	if (dss_mark_present(q, a, blobs, n, dup) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (dup[i])
			continue;
		num = u->next++;
		if (upd_stream(u, num, "", blobs[i].der, blobs[i].len, err,
		    errlen) == -1)
			return -1;
		c = array_with(q, c != 0 ? c : a,
		    qpdf_get_object_by_id(q, (int)num, 0));
	}
	*newa = c;
	return 0;
}

/*
 * A reference to an object number at or past /Size resolves to null now,
 * but our updates number their new objects from /Size: it would come to
 * mean the signature dictionary, its field or a DSS stream.
 */
static int
dss_dangling(const struct pdf_doc *doc, qpdf_data q, qpdf_oh o)
{
	return qpdf_oh_is_indirect(q, o) &&
	    qpdf_oh_get_object_id(q, o) >= doc->size;
}

/*
 * The checks of pdf_check_dss() without releasing handles (pdf_add_dss
 * holds some): 0, or -1 with err.
 */
static int
dss_check(struct pdf_doc *doc, qpdf_data q, char *err, size_t errlen)
{
	static const char *keys[3] = { "/Certs", "/OCSPs", "/CRLs" };
	qpdf_oh root, d, a[3];
	int i, j;

	root = qpdf_oh_get_key(q, qpdf_get_trailer(q), "/Root");
	d = qpdf_oh_get_key(q, root, "/DSS");
	if (dss_dangling(doc, q, d)) {
		snprintf(err, errlen, "/DSS refers to object %d, past the "
		    "trailer's /Size: refused", qpdf_oh_get_object_id(q, d));
		return -1;
	}
	if (qpdf_oh_is_null(q, d))
		return 0;
	if (!qpdf_oh_is_dictionary(q, d)) {
		snprintf(err, errlen, "/DSS is not a dictionary (ETSI EN 319 "
		    "142-1 §5.4.2): refused");
		return -1;
	}
	for (i = 0; i < 3; i++) {
		a[i] = qpdf_oh_get_key(q, d, keys[i]);
		if (dss_dangling(doc, q, a[i])) {
			snprintf(err, errlen, "DSS %s refers to object %d, past "
			    "the trailer's /Size: refused", keys[i],
			    qpdf_oh_get_object_id(q, a[i]));
			return -1;
		}
		if (!qpdf_oh_is_null(q, a[i]) && !qpdf_oh_is_array(q, a[i])) {
			snprintf(err, errlen, "DSS %s is not an array (ETSI EN "
			    "319 142-1 §5.4.2): refused", keys[i]);
			return -1;
		}
		/* An array in two roles would be rewritten twice. */
		for (j = 0; j < i && qpdf_oh_is_indirect(q, a[i]); j++) {
			if (qpdf_oh_is_indirect(q, a[j]) &&
			    qpdf_oh_get_object_id(q, a[j]) ==
			    qpdf_oh_get_object_id(q, a[i]) &&
			    qpdf_oh_get_generation(q, a[j]) ==
			    qpdf_oh_get_generation(q, a[i])) {
				snprintf(err, errlen, "DSS %s and %s are the "
				    "same array (object %d): refused", keys[j],
				    keys[i], qpdf_oh_get_object_id(q, a[i]));
				return -1;
			}
		}
	}
	if (pdf_qpdf_failed(q, "DSS", err, errlen))
		return -1;
	return 0;
}

int
pdf_check_dss(struct pdf_doc *doc, char *err, size_t errlen)
{
	int rc;

	rc = dss_check(doc, doc->q, err, errlen);
	qpdf_oh_release_all(doc->q);
	return rc;
}

int
pdf_add_dss(struct pdf_doc *doc, const struct pdf_dss *dss,
    unsigned char **out, size_t *outlen, char *err, size_t errlen)
{
	static const char *keys[3] = { "/Certs", "/OCSPs", "/CRLs" };
	const struct pdf_blob *lists[3];
	size_t counts[3];
	struct pdf_update u;
	qpdf_data q = doc->q;
	qpdf_oh root, d, newd, a, newa;
	int i, rc = -1, changed = 0;

	*out = NULL;
	*outlen = 0;
	memset(&u, 0, sizeof(u));
	lists[0] = dss->certs;
	counts[0] = dss->ncerts;
	lists[1] = dss->ocsps;
	counts[1] = dss->nocsps;
	lists[2] = dss->crls;
	counts[2] = dss->ncrls;
	if (counts[0] + counts[1] + counts[2] == 0 ||
	    counts[0] + counts[1] + counts[2] > PDF_DSS_MAX) {
		snprintf(err, errlen, "DSS: 1 to %d certificates, OCSP "
		    "responses and CRLs in all", PDF_DSS_MAX);
		goto out;
	}
	for (i = 0; i < 3; i++) {
		if (counts[i] != 0 && lists[i] == NULL) {
			snprintf(err, errlen, "DSS: %s list missing", keys[i] + 1);
			goto out;
		}
	}
	/* The checks pkisign also makes before signing (pdf_check_dss). */
	if (dss_check(doc, q, err, errlen) == -1)
		goto out;
	if (upd_begin(&u, doc, err, errlen) == -1)
		goto out;
	root = qpdf_oh_get_key(q, qpdf_get_trailer(q), "/Root");
	d = qpdf_oh_get_key(q, root, "/DSS");
	/* ETSI EN 319 142-1 §5.4.2: arrays of streams holding DER. */
	newd = qpdf_oh_is_null(q, d) ? qpdf_oh_new_dictionary(q) : d;
	for (i = 0; i < 3; i++) {
		a = qpdf_oh_get_key(q, newd, keys[i]);
		if (dss_streams(&u, q, a, lists[i], counts[i], &newa, err,
		    errlen) == -1)
			goto out;
		if (newa == 0)
			continue;
		changed = 1;
		if (qpdf_oh_is_indirect(q, a)) {
			if (upd_rewrite(&u, q, qpdf_oh_get_object_id(q, a),
			    qpdf_oh_get_generation(q, a), newa, "DSS array",
			    err, errlen) == -1)
				goto out;
		} else if ((newd = dict_with(q, newd, keys[i], newa)) == 0) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	if (!changed) {
		/* Nothing to add: no new file (*out NULL), not a failure. */
		rc = 0;
		goto out;
	}
	if (newd != d) {
		if (qpdf_oh_is_indirect(q, d)) {
			if (upd_rewrite(&u, q, qpdf_oh_get_object_id(q, d),
			    qpdf_oh_get_generation(q, d), newd, "DSS", err,
			    errlen) == -1)
				goto out;
		} else {
			/*
			 * A new DSS is an indirect object of its own. qpdf drops
			 * a key whose value resolves to null, as a reference to
			 * an object it does not know does: the new number holds
			 * the DSS in qpdf's memory while we serialise the catalog
			 * (then null again, so that doc stays as it was read).
			 */
			long long num = u.next++;
			const char *s;
			qpdf_oh newroot;
			int wrote = -1;

			if (upd_obj(&u, num, 0, err, errlen) == -1)
				goto out;
			s = qpdf_oh_unparse(q, newd);
			buf_str(&u.out, s);
			buf_str(&u.out, "\nendobj\n");
			qpdf_replace_object(q, (int)num, 0, newd);
			newroot = dict_with(q, root, "/DSS",
			    qpdf_get_object_by_id(q, (int)num, 0));
			if (newroot == 0)
				snprintf(err, errlen, "out of memory");
			else
				wrote = upd_rewrite(&u, q,
				    qpdf_oh_get_object_id(q, root),
				    qpdf_oh_get_generation(q, root), newroot,
				    "catalog", err, errlen);
			qpdf_replace_object(q, (int)num, 0, qpdf_oh_new_null(q));
			if (wrote == -1)
				goto out;
		}
	}
	if (pdf_qpdf_failed(q, "DSS", err, errlen))
		goto out;
	if (upd_finish(&u, doc, err, errlen) == -1)
		goto out;
	*out = u.out.p;
	*outlen = u.out.len;
	u.out.p = NULL;
	rc = 0;
 out:
	free(u.out.p);
	qpdf_oh_release_all(q);
	return rc;
}
