/*
 * The PDF side of the PAdES signer: read a PDF with qpdf (classic xref
 * tables, xref streams, object streams, existing AcroForms and signatures)
 * and write incremental updates to it, so that earlier signatures stay
 * valid. Nothing here signs: pdf_prepare_signature() gives the new file with
 * a zero-filled /Contents and its ByteRange; the caller hashes the ByteRange
 * (pdf_byterange_digest), obtains a CMS SignedData and embeds it with
 * pdf_embed_signature(). pdf_add_dss() appends a second update holding the
 * validation material of PAdES B-LT (ETSI EN 319 142-1 §5.4); a document
 * time-stamp (B-LTA) is prepared and embedded like a signature.
 *
 * Every function returns 0 or -1 with a message in err (never a crash, for
 * any input: tests/fuzz/fuzz_pdf.c). Encrypted and damaged PDFs are refused
 * (an update needs the original's own cross-reference data to be right).
 */
#ifndef SIGN_PDF_H
#define SIGN_PDF_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>

/* Bytes reserved for the CMS SignedData by default (hex doubles them). */
#define PDF_CONTENTS_DEFAULT	16384
/* Largest PDF we accept as input. */
#define PDF_MAX_INPUT		(256u * 1024 * 1024)
/*
 * Most items (certificates, OCSP responses, CRLs) in one DSS update: a
 * chain of 10 with an OCSP response, its responder's certificate and a CRL
 * for each, twice (signer and TSA), is under 100.
 */
#define PDF_DSS_MAX		256

struct pdf_doc;

struct pdf_sig_opts {
	const char	*field_name;	/* NULL: the first free "SignatureN" */
	/*
	 * Not NULL: no new field; the existing empty signature field of this
	 * fully qualified name (ISO 32000-1 §12.7.3.2) gets the signature as
	 * /V, its widget kept (so no field_name, visible or doc_timestamp).
	 * It must have one widget and no /V, not be read-only, have no /SV
	 * constraints marked required, and no FieldMDP lock of an earlier
	 * signature may lock it (§12.7.4.5, §12.8.2.4). Without it, a
	 * document certified with DocMDP /P 2 is refused (§12.8.2.2).
	 */
	const char	*fill_field;
	const char	*reason;	/* optional, UTF-8 */
	const char	*location;	/* optional, UTF-8 */
	const char	*name;		/* optional, UTF-8: the signer's name */
	time_t		 signing_time;	/* /M, the claimed signing time */
	/* A visible signature: a QR code of qr_text in a square of size
	 * points whose lower-left corner is (x, y) on page (1-based). */
	int		 visible;
	int		 page;
	double		 x, y, size;
	const char	*qr_text;
	size_t		 contents_max;	/* 0: PDF_CONTENTS_DEFAULT */
	/* A document time-stamp (PAdES B-LTA, ETSI EN 319 142-1 §5.5):
	 * /Type /DocTimeStamp, /SubFilter /ETSI.RFC3161, /Contents an RFC
	 * 3161 token over the ByteRange; invisible, no /M, name, reason or
	 * location (the time is the token's). */
	int		 doc_timestamp;
};

struct pdf_prepared {
	unsigned char	*buf;		/* the whole new file */
	size_t		 len;
	size_t		 contents_off;	/* first hex digit inside <...> */
	size_t		 contents_hexlen;
	long long	 byterange[4];
};

/* Validation material for the DSS: DER certificates, OCSP responses, CRLs. */
struct pdf_blob {
	const unsigned char	*der;
	size_t			 len;
};
struct pdf_dss {
	const struct pdf_blob	*certs;
	size_t			 ncerts;
	const struct pdf_blob	*ocsps;
	size_t			 nocsps;
	const struct pdf_blob	*crls;
	size_t			 ncrls;
};

/*
 * Opens a PDF held in memory (copied: buf may be freed after). Refused when
 * reading its objects takes more of the calling thread's CPU time than
 * pdf_set_read_cpu_limit() allows (checked between objects).
 */
int	pdf_open(const unsigned char *buf, size_t len, struct pdf_doc **out,
	    char *err, size_t errlen);
/*
 * The CPU time (milliseconds, 0: none) pdf_open() may spend reading one
 * document's objects, PDF_READ_CPU_MS_DEFAULT until set. qpdf inflates each
 * compressed object stream whole, once: the memory cap bounds one stream,
 * this bounds how many a document may make us inflate. Set it before any
 * thread opens a document.
 */
#define PDF_READ_CPU_MS_DEFAULT	10000
void	pdf_set_read_cpu_limit(long ms);
/*
 * Between these two calls the calling thread's pdf_open() calls share
 * that one budget, counted from the begin: the documents of one request,
 * so that 100 of them each just under the budget cannot take 100 budgets.
 */
void	pdf_read_budget_begin(void);
void	pdf_read_budget_end(void);
/*
 * pdf_open() for a file one of our writers made from a document pdf_open()
 * accepted (or from such a file): the same checks, with limits that leave
 * room for our updates (up to three: signature, DSS, document time-stamp),
 * so that a document accepted before signing cannot fail them after.
 */
int	pdf_open_own(const unsigned char *buf, size_t len,
	    struct pdf_doc **out, char *err, size_t errlen);
void	pdf_close(struct pdf_doc *);
/* Pages, and signature fields already present (0 when none). */
int	pdf_page_count(const struct pdf_doc *);
int	pdf_signature_count(const struct pdf_doc *);

int	pdf_prepare_signature(struct pdf_doc *, const struct pdf_sig_opts *,
	    struct pdf_prepared *, char *err, size_t errlen);
/*
 * 0 when pdf_prepare_signature() would accept these options for this
 * document (the PDF's side: DocMDP, the field to fill and its locks, page,
 * names); -1 with err otherwise. pkisign asks before any authorization.
 */
int	pdf_check_signature(const struct pdf_doc *, const struct pdf_sig_opts *,
	    char *err, size_t errlen);
/* The digest of the two ByteRange parts of p->buf. */
int	pdf_byterange_digest(const struct pdf_prepared *, const EVP_MD *,
	    unsigned char *md, unsigned int *mdlen);
/* Writes cms (DER) as hex into the reserved /Contents; -1 if it does not fit. */
int	pdf_embed_signature(struct pdf_prepared *, const unsigned char *cms,
	    size_t cmslen, char *err, size_t errlen);
void	pdf_prepared_clear(struct pdf_prepared *);

/*
 * A new file in *out: doc plus an update adding (or extending) the /DSS of
 * its catalog with 1 to PDF_DSS_MAX items. Items the DSS already holds are
 * not stored again; when it holds them all, 0 with *out NULL: nothing to
 * add, the document stays as it is.
 */
int	pdf_add_dss(struct pdf_doc *, const struct pdf_dss *,
	    unsigned char **out, size_t *outlen, char *err, size_t errlen);
/*
 * 0 when pdf_add_dss() can extend the catalog's existing /DSS (or there is
 * none); -1 with err when it would refuse it: a /DSS that is not a
 * dictionary, a /Certs, /OCSPs or /CRLs that is not an array, two of them
 * the same indirect array, a reference past /Size (our new objects would
 * take its number). pdf_add_dss() makes the same checks; pkisign calls
 * this on the document it was given, before anything is authorized, since
 * the DSS update comes after signHash. A signature update does not change
 * the answer: it rewrites no DSS object as another type.
 */
int	pdf_check_dss(struct pdf_doc *, char *err, size_t errlen);

#endif
