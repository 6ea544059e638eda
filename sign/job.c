/*
 * The signing job (sign/job.h): the documents in memory, one authorization,
 * the signed documents in memory.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/factor.h"
#include "sign/cades.h"
#include "sign/csc_client.h"
#include "sign/job.h"
#include "sign/pdf.h"
#include "sign/revinfo.h"
#include "sign/tsa_client.h"

/* A document in flight. */
struct doc {
	struct sign_doc		*sd;
	struct pdf_doc		*pdf;
	struct pdf_prepared	 prep;
	struct cades		*cades;
	unsigned char		 hash[EVP_MAX_MD_SIZE];
	unsigned char		*sig;
	size_t			 siglen;
	unsigned char		*result;	/* the signed file */
	size_t			 resultlen;
	int			 result_is_prep; /* result points into prep */
};

static void	sign_err(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
sign_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const char *const sign_level_names[] = {
	[SIGN_LEVEL_BB] = "B-B", [SIGN_LEVEL_BT] = "B-T",
	[SIGN_LEVEL_BLT] = "B-LT", [SIGN_LEVEL_BLTA] = "B-LTA",
};

const char *
sign_level_name(enum sign_level l)
{
	return sign_level_names[l];
}

int
sign_level_parse(const char *s, enum sign_level *l)
{
	size_t i;

	for (i = 0; i < sizeof(sign_level_names) / sizeof(*sign_level_names);
	    i++)
		if (strcmp(s, sign_level_names[i]) == 0) {
			*l = (enum sign_level)i;
			return 0;
		}
	return -1;
}

int
sign_id_ok(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n >= 1 && n <= 18 && s[0] != '0' &&
	    strspn(s, "0123456789") == n ? 0 : -1;
}

int
sign_code_ok(const char *s)
{
	return s != NULL && strlen(s) == 6 &&
	    strspn(s, "0123456789") == 6 ? 0 : -1;
}

/*
 * The trust anchors for the TSA's token and the OCSP/CRL signatures: the
 * self-signed certificates of the credential's chain, and --ca-file's.
 */
static X509_STORE *
trust_store(STACK_OF(X509) *chain, const char *ca_file, char *err,
    size_t errlen)
{
	X509_STORE *st;
	int i;

	if ((st = X509_STORE_new()) == NULL)
		return NULL;
	for (i = 0; i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);

		if (X509_check_issued(x, x) == X509_V_OK &&
		    X509_STORE_add_cert(st, x) != 1)
			goto fail;
	}
	if (ca_file != NULL && X509_STORE_load_file(st, ca_file) != 1) {
		sign_err(err, errlen, "%s: cannot load CA certificates",
		    ca_file);
		goto fail;
	}
	return st;
 fail:
	X509_STORE_free(st);
	return NULL;
}

/* The certificate's commonName (UTF-8), for /Name when --name is absent. */
static char *
subject_cn(X509 *x)
{
	X509_NAME *n = X509_get_subject_name(x);
	unsigned char *u = NULL;
	char *s = NULL;
	int i, len;

	if ((i = X509_NAME_get_index_by_NID(n, NID_commonName, -1)) < 0)
		return NULL;
	if ((len = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(
	    X509_NAME_get_entry(n, i)))) < 0)
		return NULL;
	if ((s = malloc(len + 1)) != NULL) {
		memcpy(s, u, len);
		s[len] = '\0';
	}
	OPENSSL_free(u);
	return s;
}

/* The signature's options from the job: one place for the check and the update. */
static void
sig_opts(const struct sign_job *o, const char *name, size_t contents,
    struct pdf_sig_opts *so)
{
	memset(so, 0, sizeof(*so));
	so->reason = o->reason;
	so->location = o->location;
	so->name = name;
	so->visible = o->visible;
	so->page = o->page;
	so->x = o->x;
	so->y = o->y;
	so->size = o->size;
	so->qr_text = o->qr_text;
	so->fill_field = o->field;
	so->contents_max = contents;
}

/*
 * Opens the document and checks now what the updates after signHash would
 * refuse in it, so that it is refused before any network call and nothing
 * is spent: the signature's options (pdf_check_signature: DocMDP, the
 * field to fill); B-LT, its existing /DSS (pdf_check_dss, the checks of
 * pdf_add_dss); B-LTA, a document time-stamp prepared on it and dropped
 * (its page 1 and form; the signature may be on another page). Our own
 * output is re-opened with pdf_open_own(), whose limits leave room for
 * our updates. -1 with err: the document is the cause.
 */
static int
doc_open(struct doc *d, const struct sign_job *o, char *err, size_t errlen)
{
	struct pdf_sig_opts so;
	struct pdf_prepared prep;
	char e[512];
	int rc = -1;

	memset(&so, 0, sizeof(so));
	memset(&prep, 0, sizeof(prep));
	if (pdf_open(d->sd->in, d->sd->inlen, &d->pdf, e, sizeof(e)) != 0) {
		sign_err(err, errlen, "%s: %s", d->sd->label, e);
		goto out;
	}
	/* DocMDP, the field to fill, its locks: as doc_prepare will ask. */
	sig_opts(o, o->name, o->contents, &so);
	if (pdf_check_signature(d->pdf, &so, e, sizeof(e)) != 0) {
		sign_err(err, errlen, "%s: %s", d->sd->label, e);
		goto out;
	}
	memset(&so, 0, sizeof(so));
	if (o->level >= SIGN_LEVEL_BLT &&
	    pdf_check_dss(d->pdf, e, sizeof(e)) != 0) {
		sign_err(err, errlen, "%s: its DSS cannot be extended (%s "
		    "needs it): %s", d->sd->label, sign_level_name(o->level), e);
		goto out;
	}
	if (o->level >= SIGN_LEVEL_BLTA) {
		so.doc_timestamp = 1;
		so.contents_max = TSA_TOKEN_MAX;
		if (pdf_prepare_signature(d->pdf, &so, &prep, e,
		    sizeof(e)) != 0) {
			sign_err(err, errlen, "%s: a document time-stamp "
			    "(B-LTA) cannot be added: %s", d->sd->label, e);
			goto out;
		}
	}
	rc = 0;
 out:
	pdf_prepared_clear(&prep);
	return rc;
}

/*
 * Prepares the signature of the opened document, with contents bytes
 * reserved for the CMS (contents_size()), the hash to sign in d->hash. -1
 * with err; *bad set when the document itself is the cause. The opened
 * document is closed here, either way: nothing after reads it (the DSS
 * and the document time-stamp re-open our output), and holding qpdf's
 * view of it through the job doubled the memory the steps after
 * signHash needed beyond what was checked before the authorization.
 */
static int
doc_prepare(struct doc *d, const struct sign_job *o,
    const struct cscc_cred *cr, const char *name, time_t now,
    size_t contents, int *bad, char *err, size_t errlen)
{
	struct pdf_sig_opts so = { 0 };
	unsigned char br[EVP_MAX_MD_SIZE], *tbs = NULL;
	unsigned int brlen, hlen;
	size_t tbslen;
	char e[512];
	int prepared, rc = -1;

	sig_opts(o, name, contents, &so);
	so.signing_time = now;
	prepared = pdf_prepare_signature(d->pdf, &so, &d->prep, e, sizeof(e));
	pdf_close(d->pdf);
	d->pdf = NULL;
	if (prepared != 0) {
		sign_err(err, errlen, "%s: %s", d->sd->label, e);
		*bad = 1;
		goto out;
	}
	if (pdf_byterange_digest(&d->prep, o->md, br, &brlen) != 0) {
		sign_err(err, errlen, "%s: cannot digest the ByteRange",
		    d->sd->label);
		goto out;
	}
	if ((d->cades = cades_new(cr->cert, cr->chain, o->md, br, brlen, e,
	    sizeof(e))) == NULL ||
	    cades_tbs(d->cades, &tbs, &tbslen, e, sizeof(e)) != 0) {
		sign_err(err, errlen, "%s: %s", d->sd->label, e);
		goto out;
	}
	if (EVP_Digest(tbs, tbslen, d->hash, &hlen, o->md, NULL) != 1) {
		sign_err(err, errlen, "%s: EVP_Digest failed", d->sd->label);
		goto out;
	}
	rc = 0;
 out:
	free(tbs);
	return rc;
}

/* The sign_status of a failed cscc_* call. */
static enum sign_status
cscc_status(int r)
{
	if (r == CSCC_REFUSED)
		return SIGN_REFUSED;
	return r == CSCC_UNAUTHORIZED ? SIGN_UNAUTHORIZED : SIGN_FAILED;
}

/* Adds to into each certificate of from it does not hold yet. 0 or -1. */
static int
certs_merge(STACK_OF(X509) *into, STACK_OF(X509) *from, char *err,
    size_t errlen)
{
	int i, j;

	for (i = 0; from != NULL && i < sk_X509_num(from); i++) {
		X509 *x = sk_X509_value(from, i);

		for (j = 0; j < sk_X509_num(into); j++)
			if (X509_cmp(x, sk_X509_value(into, j)) == 0)
				break;
		if (j < sk_X509_num(into))
			continue;
		if (X509_up_ref(x) != 1 || sk_X509_push(into, x) <= 0) {
			sign_err(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

/*
 * The signature value into the CMS, the B-T time-stamp, the CMS into the
 * PDF. tsa_certs collects the TSA's certificates (for B-LT).
 */
static int
doc_embed(struct doc *d, const struct sign_job *o, X509_STORE *trust,
    STACK_OF(X509) *chain, STACK_OF(X509) *tsa_certs, char *err,
    size_t errlen)
{
	unsigned char *tst = NULL, *cms = NULL;
	const unsigned char *sv;
	STACK_OF(X509) *tc = NULL;
	unsigned char imprint[TSA_IMPRINT_LEN];
	size_t tstlen, cmslen, svlen;
	char e[512];
	int rc = -1;

	if (cades_set_signature(d->cades, d->sig, d->siglen, e,
	    sizeof(e)) != 0) {
		sign_err(err, errlen, "%s: %s", d->sd->label, e);
		goto out;
	}
	if (o->level != SIGN_LEVEL_BB) {
		sv = cades_signature(d->cades, &svlen);
		if (EVP_Digest(sv, svlen, imprint, NULL, EVP_sha256(), NULL)
		    != 1) {
			sign_err(err, errlen, "EVP_Digest failed");
			goto out;
		}
		if (tsa_timestamp(o->tsa_url, imprint, trust, chain, &tst,
		    &tstlen, &tc, e, sizeof(e)) != 0 ||
		    cades_add_timestamp(d->cades, tst, tstlen, e,
		    sizeof(e)) != 0) {
			sign_err(err, errlen, "%s: time-stamp: %s",
			    d->sd->label, e);
			goto out;
		}
		if (certs_merge(tsa_certs, tc, err, errlen) != 0)
			goto out;
	}
	if (cades_der(d->cades, &cms, &cmslen, e, sizeof(e)) != 0 ||
	    pdf_embed_signature(&d->prep, cms, cmslen, e, sizeof(e)) != 0) {
		sign_err(err, errlen, "%s: %s%s", d->sd->label, e,
		    strstr(e, "fit") != NULL ? " (a larger contents size "
		    "helps)" : "");
		goto out;
	}
	d->result = d->prep.buf;
	d->resultlen = d->prep.len;
	d->result_is_prep = 1;
	rc = 0;
 out:
	OPENSSL_free(tst);
	OPENSSL_free(cms);
	sk_X509_pop_free(tc, X509_free);
	return rc;
}

/*
 * B-LT: the signed file plus a DSS update, or the signed file as it is when
 * its DSS already holds all of this material.
 */
static int
doc_dss(struct doc *d, const struct pdf_dss *dss, char *err, size_t errlen)
{
	struct pdf_doc *signed_pdf = NULL;
	unsigned char *out = NULL;
	size_t outlen;
	char e[512];
	int rc = -1;

	if (pdf_open_own(d->result, d->resultlen, &signed_pdf, e, sizeof(e))
	    != 0 || pdf_add_dss(signed_pdf, dss, &out, &outlen, e,
	    sizeof(e)) != 0) {
		sign_err(err, errlen, "%s: DSS: %s", d->sd->label, e);
		goto out;
	}
	if (out != NULL) {
		/* The signed file is in out now: release it. */
		if (d->result_is_prep)
			pdf_prepared_clear(&d->prep);
		else
			free(d->result);
		d->result = out;
		d->resultlen = outlen;
		d->result_is_prep = 0;
	}
	rc = 0;
 out:
	pdf_close(signed_pdf);
	return rc;
}

/*
 * B-LTA: the file so far plus a document time-stamp (ETSI EN 319 142-1
 * §5.5): an RFC 3161 token over the SHA-256 of its ByteRange, which covers
 * the signature and the DSS.
 */
static int
doc_timestamp(struct doc *d, const struct sign_job *o, X509_STORE *trust,
    STACK_OF(X509) *chain, char *err, size_t errlen)
{
	struct pdf_doc *pdf = NULL;
	struct pdf_sig_opts so;
	struct pdf_prepared prep;
	unsigned char imprint[TSA_IMPRINT_LEN], *tst = NULL;
	unsigned int mdlen;
	size_t tstlen;
	char e[512];
	int rc = -1;

	memset(&so, 0, sizeof(so));
	memset(&prep, 0, sizeof(prep));
	so.doc_timestamp = 1;
	/* The token alone: tsa_timestamp() refuses one larger. */
	so.contents_max = TSA_TOKEN_MAX;
	if (pdf_open_own(d->result, d->resultlen, &pdf, e, sizeof(e)) != 0 ||
	    pdf_prepare_signature(pdf, &so, &prep, e, sizeof(e)) != 0) {
		sign_err(err, errlen, "%s: document time-stamp: %s",
		    d->sd->label, e);
		goto out;
	}
	if (pdf_byterange_digest(&prep, EVP_sha256(), imprint, &mdlen) != 0 ||
	    mdlen != sizeof(imprint)) {
		sign_err(err, errlen, "%s: ByteRange digest failed",
		    d->sd->label);
		goto out;
	}
	if (tsa_timestamp(o->tsa_url, imprint, trust, chain, &tst, &tstlen,
	    NULL, e, sizeof(e)) != 0 ||
	    pdf_embed_signature(&prep, tst, tstlen, e, sizeof(e)) != 0) {
		sign_err(err, errlen, "%s: document time-stamp: %s",
		    d->sd->label, e);
		goto out;
	}
	if (d->result_is_prep)
		pdf_prepared_clear(&d->prep);
	else
		free(d->result);
	d->result = prep.buf;
	d->resultlen = prep.len;
	d->result_is_prep = 0;
	prep.buf = NULL;
	rc = 0;
 out:
	OPENSSL_free(tst);
	pdf_prepared_clear(&prep);
	pdf_close(pdf);
	return rc;
}

/*
 * B-LT's validation material into ri: the revocation data of the signer's
 * certificate and of the TSA's (tsa_certs), up their chains (cr's and
 * the TSA's own). 0 or -1 with err.
 */
static int
collect_revinfo(const struct cscc_cred *cr, STACK_OF(X509) *tsa_certs,
    X509_STORE *trust, struct revinfo *ri, char *err, size_t errlen)
{
	STACK_OF(X509) *leaves = NULL, *pool = NULL;
	char cause[512];
	int rc = -1;

	revinfo_clear(ri);
	/* Both hold a reference of each of theirs. */
	if ((leaves = sk_X509_new_null()) == NULL ||
	    (pool = sk_X509_new_null()) == NULL ||
	    X509_up_ref(cr->cert) != 1) {
		sign_err(err, errlen, "out of memory");
		goto out;
	}
	if (sk_X509_push(leaves, cr->cert) <= 0) {
		X509_free(cr->cert);
		sign_err(err, errlen, "out of memory");
		goto out;
	}
	if (certs_merge(leaves, tsa_certs, err, errlen) != 0 ||
	    certs_merge(pool, cr->chain, err, errlen) != 0 ||
	    certs_merge(pool, tsa_certs, err, errlen) != 0)
		goto out;
	if (revinfo_collect(leaves, pool, trust, ri, cause,
	    sizeof(cause)) != 0) {
		/* Keep the cause; say which step it was. */
		sign_err(err, errlen, "B-LT: %s", cause);
		goto out;
	}
	rc = 0;
 out:
	sk_X509_pop_free(leaves, X509_free);
	sk_X509_pop_free(pool, X509_free);
	return rc;
}

/*
 * What the steps after signHash need of other services, asked before the
 * subscriber's single-use authorization is spent: at B-T and above a
 * time-stamp from the TSA, checked as doc_embed checks each (its imprint
 * the SHA-256 of the hashes to sign: any would do), its certificates
 * into tsa_certs; at B-LT and above the revocation data into ri. A TSA
 * or a responder that is down then fails the job with nothing
 * authorized, no one-time code used and no sign.hash recorded (they were
 * all spent before the TSA was first asked). One that fails in the
 * seconds between still costs the authorization. 0 or -1 with err.
 */
static int
preflight(const struct sign_job *o, const struct cscc_cred *cr,
    X509_STORE *trust, unsigned char *const *hashes, size_t n,
    STACK_OF(X509) *tsa_certs, struct revinfo *ri, char *err, size_t errlen)
{
	EVP_MD_CTX *ctx = NULL;
	STACK_OF(X509) *tc = NULL;
	unsigned char imprint[TSA_IMPRINT_LEN], *tst = NULL;
	size_t tstlen, i;
	char e[512];
	int rc = -1;

	if (o->level == SIGN_LEVEL_BB)
		return 0;
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		sign_err(err, errlen, "EVP_DigestInit failed");
		goto out;
	}
	for (i = 0; i < n; i++)
		if (EVP_DigestUpdate(ctx, hashes[i],
		    (size_t)EVP_MD_get_size(o->md)) != 1) {
			sign_err(err, errlen, "EVP_DigestUpdate failed");
			goto out;
		}
	if (EVP_DigestFinal_ex(ctx, imprint, NULL) != 1) {
		sign_err(err, errlen, "EVP_DigestFinal failed");
		goto out;
	}
	if (tsa_timestamp(o->tsa_url, imprint, trust, cr->chain, &tst,
	    &tstlen, &tc, e, sizeof(e)) != 0) {
		sign_err(err, errlen, "time-stamp (asked before the "
		    "authorization; nothing was authorized): %s", e);
		goto out;
	}
	if (certs_merge(tsa_certs, tc, err, errlen) != 0)
		goto out;
	if (o->level >= SIGN_LEVEL_BLT &&
	    collect_revinfo(cr, tsa_certs, trust, ri, err, errlen) != 0) {
		sign_err(e, sizeof(e), "%s", err);
		sign_err(err, errlen, "%s (asked before the authorization; "
		    "nothing was authorized)", e);
		goto out;
	}
	rc = 0;
 out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(tst);
	sk_X509_pop_free(tc, X509_free);
	return rc;
}

/*
 * The bytes to reserve in /Contents for the CMS, decided before anything is
 * authorized: the CMS can only be measured after signHash (and for B-T the
 * TSA's answer), when the subscriber's single-use authorization is spent.
 * cades_size_bound() gives its largest size for this certificate, chain,
 * key and digest, with a time-stamp token of TSA_TOKEN_MAX bytes at B-T
 * and above. The job's size when given (-1 if it is smaller than the
 * bound), else the larger of PDF_CONTENTS_DEFAULT and the bound.
 */
static int
contents_size(const struct sign_job *o, const struct cscc_cred *cr,
    size_t *contents, char *err, size_t errlen)
{
	size_t bound;
	char e[512];

	*contents = 0;
	if (cades_size_bound(cr->cert, cr->chain, o->md,
	    o->level >= SIGN_LEVEL_BT ? TSA_TOKEN_MAX : 0, &bound, e,
	    sizeof(e)) != 0) {
		sign_err(err, errlen, "cannot size the signature: %s", e);
		return -1;
	}
	if (o->contents == 0) {
		*contents = bound > PDF_CONTENTS_DEFAULT ? bound :
		    PDF_CONTENTS_DEFAULT;
		return 0;
	}
	if (o->contents < bound) {
		sign_err(err, errlen, "a contents size of %zu bytes is too "
		    "small: this credential's signature%s may take up to %zu "
		    "(nothing was authorized; give %zu or more, or leave it "
		    "to pkisign)", o->contents, o->level >= SIGN_LEVEL_BT ?
		    " with its time-stamp token" : "", bound, bound);
		return -1;
	}
	*contents = o->contents;
	return 0;
}

static void
doc_clear(struct doc *d)
{
	if (!d->result_is_prep)
		free(d->result);
	pdf_prepared_clear(&d->prep);
	pdf_close(d->pdf);
	cades_free(d->cades);
	free(d->sig);
	memset(d, 0, sizeof(*d));
}

/*
 * sign_documents, or with hashes_out only up to the hashes it would
 * authorize (sign_hashes).
 */
static enum sign_status
sign_run(const struct sign_job *o, struct sign_doc *sds, size_t n,
    unsigned char (*hashes_out)[EVP_MAX_MD_SIZE], char *err, size_t errlen)
{
	struct cscc *csc = NULL;
	struct cscc_cred cr = { 0 };
	struct doc *docs = NULL;
	struct revinfo ri = { 0 };
	struct pdf_dss dss;
	X509_STORE *trust = NULL;
	STACK_OF(X509) *tsa_certs = NULL;
	unsigned char **hashes = NULL, **sigs = NULL;
	unsigned char id[CSCC_HASHES_MAX][SHA256_DIGEST_LENGTH];
	size_t *siglens = NULL, i, j, contents;
	char *sad = NULL, *cn = NULL, otp[7] = "";
	const char *code = o->code;
	long otp_id = o->otp_id;
	enum sign_status status = SIGN_FAILED;
	time_t now;
	int r, npre, bad = 0;

	sign_err(err, errlen, "failed");
	for (i = 0; i < n; i++) {
		sds[i].out = NULL;
		sds[i].outlen = 0;
	}
	if (n == 0 || n > CSCC_HASHES_MAX) {
		sign_err(err, errlen, "1 to %d documents at once",
		    CSCC_HASHES_MAX);
		return SIGN_FAILED;
	}
	if ((docs = calloc(n, sizeof(*docs))) == NULL ||
	    (hashes = calloc(n, sizeof(*hashes))) == NULL ||
	    (sigs = calloc(n, sizeof(*sigs))) == NULL ||
	    (siglens = calloc(n, sizeof(*siglens))) == NULL ||
	    (tsa_certs = sk_X509_new_null()) == NULL ||
	    (csc = cscc_new(o->csc_url)) == NULL) {
		sign_err(err, errlen, "out of memory");
		goto out;
	}
	/*
	 * Every document read and checked before any network call, all of
	 * them within one CPU budget (pdf_read_budget_begin).
	 */
	pdf_read_budget_begin();
	for (i = 0; i < n; i++) {
		docs[i].sd = &sds[i];
		if (doc_open(&docs[i], o, err, errlen) != 0) {
			status = SIGN_BAD_DOCUMENT;
			goto out;
		}
	}
	pdf_read_budget_end();
	/*
	 * The same document twice would be signed twice under one SAD. Its
	 * bytes are compared before anything is prepared (an SMS OTP's
	 * binding refuses equal hashes too).
	 */
	for (i = 0; i < n; i++) {
		SHA256(sds[i].in, sds[i].inlen, id[i]);
		for (j = 0; j < i; j++)
			if (memcmp(id[i], id[j], sizeof(id[i])) == 0) {
				sign_err(err, errlen, "%s and %s are the same "
				    "document: sign it once", sds[j].label,
				    sds[i].label);
				status = SIGN_BAD_DOCUMENT;
				goto out;
			}
	}

	/* The service, and the credential's certificate. */
	if ((r = cscc_token(csc, o->client_id, o->client_secret, err,
	    errlen)) != 0 || (r = cscc_info(csc, o->credential, o->user, &cr,
	    err, errlen)) != 0) {
		status = cscc_status(r);
		goto out;
	}
	if ((trust = trust_store(cr.chain, o->ca_file, err, errlen)) == NULL)
		goto out;
	if (o->name == NULL)
		cn = subject_cn(cr.cert);
	/* The CMS's room, before the authorization it would waste. */
	if (contents_size(o, &cr, &contents, err, errlen) != 0)
		goto out;

	/* Each document's hash to sign. */
	now = o->signing_time != 0 ? o->signing_time : time(NULL);
	for (i = 0; i < n; i++) {
		if (doc_prepare(&docs[i], o, &cr, o->name ? o->name : cn, now,
		    contents, &bad, err, errlen) != 0) {
			status = bad ? SIGN_BAD_DOCUMENT : SIGN_FAILED;
			goto out;
		}
		hashes[i] = docs[i].hash;
	}
	/* The TSA and the responders, before anything is spent. */
	if (preflight(o, &cr, trust, hashes, n, tsa_certs, &ri, err,
	    errlen) != 0)
		goto out;
	npre = sk_X509_num(tsa_certs);
	if (hashes_out != NULL) {
		for (i = 0; i < n; i++)
			memcpy(hashes_out[i], hashes[i],
			    (size_t)EVP_MD_get_size(o->md));
		status = SIGN_OK;
		err[0] = '\0';
		goto out;
	}

	/*
	 * An OTP for these hashes, now that they are known; then a fresh
	 * access token: a person and an SMS may take longer than the first
	 * one lives (sign.token_ttl_seconds, 60 s at least).
	 */
	if (o->factor == CSCC_FACTOR_OTP && o->otp_for != NULL) {
		if (o->otp_for(o->otp_arg, o->credential, cr.cert, o->md,
		    hashes, n, otp, &otp_id, err, errlen) != 0)
			goto out;
		code = otp;
		if ((r = cscc_token(csc, o->client_id, o->client_secret, err,
		    errlen)) != 0) {
			status = cscc_status(r);
			goto out;
		}
	}
	/* One authorization for all of them, one signHash. */
	if ((r = cscc_authorize(csc, o->credential, o->user, o->md, hashes, n,
	    o->factor, code, otp_id, &sad, err, errlen)) != 0 ||
	    (r = cscc_sign_hash(csc, o->credential, sad, o->md, cr.ec, hashes,
	    n, sigs, siglens, err, errlen)) != 0) {
		status = cscc_status(r);
		goto out;
	}
	for (i = 0; i < n; i++) {
		docs[i].sig = sigs[i];
		docs[i].siglen = siglens[i];
		sigs[i] = NULL;
		if (doc_embed(&docs[i], o, trust, cr.chain, tsa_certs, err,
		    errlen) != 0)
			goto out;
	}

	/*
	 * B-LT: the validation material, the same for every document; asked
	 * again only when a time-stamp came from a TSA certificate the
	 * preflight's did not (a TSA rotating its key, or several behind
	 * one address).
	 */
	if (o->level >= SIGN_LEVEL_BLT) {
		if (sk_X509_num(tsa_certs) != npre &&
		    collect_revinfo(&cr, tsa_certs, trust, &ri, err,
		    errlen) != 0)
			goto out;
		revinfo_dss(&ri, &dss);
		for (i = 0; i < n; i++)
			if (doc_dss(&docs[i], &dss, err, errlen) != 0)
				goto out;
	}
	if (o->level >= SIGN_LEVEL_BLTA)
		for (i = 0; i < n; i++)
			if (doc_timestamp(&docs[i], o, trust, cr.chain, err,
			    errlen) != 0)
				goto out;

	/* Every document signed: hand them over. */
	for (i = 0; i < n; i++) {
		sds[i].out = docs[i].result;
		sds[i].outlen = docs[i].resultlen;
		if (docs[i].result_is_prep)
			docs[i].prep.buf = NULL;
		docs[i].result = NULL;
		docs[i].result_is_prep = 0;
	}
	status = SIGN_OK;
	err[0] = '\0';
 out:
	pdf_read_budget_end();
	if (status != SIGN_OK)
		for (i = 0; i < n; i++) {
			free(sds[i].out);
			sds[i].out = NULL;
			sds[i].outlen = 0;
		}
	for (i = 0; docs != NULL && i < n; i++)
		doc_clear(&docs[i]);
	for (i = 0; sigs != NULL && i < n; i++)
		free(sigs[i]);
	free(docs);
	free(hashes);
	free(sigs);
	free(siglens);
	free(cn);
	revinfo_clear(&ri);
	sk_X509_pop_free(tsa_certs, X509_free);
	X509_STORE_free(trust);
	cscc_cred_clear(&cr);
	cscc_free(csc);
	cscc_free_secret(sad);
	OPENSSL_cleanse(otp, sizeof(otp));
	return status;
}

enum sign_status
sign_documents(const struct sign_job *o, struct sign_doc *sds, size_t n,
    char *err, size_t errlen)
{
	return sign_run(o, sds, n, NULL, err, errlen);
}

enum sign_status
sign_hashes(const struct sign_job *o, struct sign_doc *sds, size_t n,
    unsigned char (*out)[EVP_MAX_MD_SIZE], char *err, size_t errlen)
{
	return sign_run(o, sds, n, out, err, errlen);
}

/* Every batch's hashes can be an OTP's binding. */
_Static_assert(CSCC_HASHES_MAX <= FACTOR_BINDING_HASHES_MAX,
    "a batch may hold more documents than an OTP can be bound to");

json_t *
sign_otp_documents(const char *credential, const EVP_MD *md,
    unsigned char *const *hashes, size_t n, char ref[FACTOR_BINDING_REF_SIZE])
{
	const unsigned char *hp[CSCC_HASHES_MAX];
	unsigned char binding[FACTOR_BINDING_LEN];
	size_t i, hlen = 0;
	const char *algo = EVP_MD_is_a(md, "SHA2-512") ? "sha512" :
	    EVP_MD_is_a(md, "SHA2-384") ? "sha384" : "sha256", *name;
	json_t *o, *arr;
	char *b64;

	if (n > CSCC_HASHES_MAX ||
	    (name = factor_binding_md(algo, &hlen)) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		hp[i] = hashes[i];
	if (factor_sign_binding(credential, name, hp, n, hlen, binding) == -1)
		return NULL;
	factor_binding_ref(binding, ref);
	if ((o = json_pack("{s:s, s:s, s:[]}", "credential_id", credential,
	    "hash_algo", algo, "hashes")) == NULL)
		return NULL;
	arr = json_object_get(o, "hashes");
	for (i = 0; i < n; i++) {
		if ((b64 = cscc_b64_encode(hashes[i], hlen)) == NULL ||
		    json_array_append_new(arr, json_string(b64)) == -1) {
			free(b64);
			json_decref(o);
			return NULL;
		}
		free(b64);
	}
	return o;
}
