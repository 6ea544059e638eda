/*
 * pkisign: signs PDF documents as PAdES baseline signatures (ETSI EN 319
 * 142-1, levels B-B, B-T, B-LT) with a key held by a remote signing service
 * speaking the CSC API v2 (our signd, docs/csc.md).
 *
 * One process, no privilege: it reads the documents, the client secret and
 * the subscriber's factor (files only, never argv), and talks HTTP to the
 * signing service, the TSA, OCSP responders and CRL distribution points.
 * The flow, for N documents at once:
 *	oauth2/token → credentials/info (certificate, chain, key type);
 *	per document: pdf_prepare_signature → ByteRange digest → CAdES
 *	    signed attributes → their hash;
 *	one credentials/authorize for the N hashes (numSignatures = N) and
 *	one signatures/signHash;
 *	per document: the signature value into the SignerInfo (checked with
 *	    the certificate), B-T: a time-stamp token over it, the CMS into
 *	    /Contents; B-LT: a DSS update with certificates, OCSP responses
 *	    and CRLs;
 *	every output written to a temporary file beside it, renamed into
 *	    place only once all N documents are signed.
 * Exit status: 0 all signed, 2 usage, 3 refused by the signing service
 * (wrong factor, locked, credential revoked or unknown, client refused), 1
 * anything else. Nothing is written when the status is not 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sign/cades.h"
#include "sign/csc_client.h"
#include "sign/pdf.h"
#include "sign/revinfo.h"
#include "sign/tsa_client.h"

#define EXIT_USAGE	2
#define EXIT_REFUSED	3
/* Longest secret or factor file read. */
#define SECRET_MAX	4096

enum level { LEVEL_BB, LEVEL_BT, LEVEL_BLT };

struct doc {
	const char		*in, *out;
	char			*tmp;		/* the temporary output */
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

struct opts {
	const char	*csc_url, *client_id, *secret_file, *user, *credential;
	const char	*factor_file, *tsa_url, *reason, *location, *name;
	const char	*qr_url, *ca_file;
	enum cscc_factor	 factor;
	int		 have_factor;
	long		 otp_id;
	int		 have_otp_id;
	enum level	 level;
	const EVP_MD	*md;
	int		 visible, page;
	double		 x, y, size;
	size_t		 contents;
	const char	**ins, **outs;
	size_t		 nin, nout;
};

static void	usage(void) __attribute__((noreturn));
static void	warnmsg(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

static void
usage(void)
{
	fprintf(stderr,
	    "usage: pkisign --csc-url URL --client-id ID --client-secret-file F\n"
	    "           --user ACCOUNT_ID --credential CRED\n"
	    "           --factor pin|otp|totp --factor-file F|- [--otp-id N]\n"
	    "           [--level B-B|B-T|B-LT] [--tsa-url URL] [--ca-file F]\n"
	    "           [--digest sha256|sha384|sha512] [--contents-size BYTES]\n"
	    "           [--reason R] [--location L] [--name N]\n"
	    "           [--visible PAGE,X,Y,SIZE --qr-url URL]\n"
	    "           --in a.pdf --out a.signed.pdf [--in b.pdf --out b.signed.pdf ...]\n");
	exit(EXIT_USAGE);
}

static void
warnmsg(const char *fmt, ...)
{
	va_list ap;

	fputs("pkisign: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * Reads a whole file (path "-": stdin) of at most max bytes into *out
 * (NUL-terminated, length in *len). Returns 0 or -1 with a message.
 */
static int
read_file(const char *path, size_t max, unsigned char **out, size_t *len)
{
	FILE *f;
	unsigned char *buf = NULL, *nb;
	size_t cap = 0, n = 0, r;
	int rc = -1;

	*out = NULL;
	*len = 0;
	if (strcmp(path, "-") == 0)
		f = stdin;
	else if ((f = fopen(path, "rb")) == NULL) {
		warnmsg("%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > max + 1)
				cap = max + 1;
			if (n == cap) {
				warnmsg("%s: larger than %zu bytes", path, max);
				goto out;
			}
			if ((nb = realloc(buf, cap + 1)) == NULL) {
				warnmsg("%s: out of memory", path);
				goto out;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		warnmsg("%s: read error", path);
		goto out;
	}
	if (n > max) {
		warnmsg("%s: larger than %zu bytes", path, max);
		goto out;
	}
	if (buf == NULL && (buf = malloc(1)) == NULL)
		goto out;
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
	rc = 0;
 out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, cap);
		free(buf);
	}
	if (f != stdin)
		fclose(f);
	return rc;
}

/* A secret from a file: its first line, without the line end. */
static char *
read_secret(const char *path, const char *what)
{
	unsigned char *buf;
	size_t len, n;

	if (read_file(path, SECRET_MAX, &buf, &len) != 0)
		return NULL;
	n = strcspn((char *)buf, "\r\n");
	OPENSSL_cleanse(buf + n, len - n);
	buf[n] = '\0';
	if (n == 0 || strlen((char *)buf) != n) {
		warnmsg("%s: no %s in the file's first line", path, what);
		free(buf);
		return NULL;
	}
	return (char *)buf;
}

static long
parse_long(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		warnmsg("%s: not a number in %ld..%ld", what, min, max);
		usage();
	}
	return v;
}

static void
parse_visible(struct opts *o, const char *s)
{
	char extra;

	if (sscanf(s, "%d,%lf,%lf,%lf%c", &o->page, &o->x, &o->y, &o->size,
	    &extra) != 4 || o->page < 1 || o->size <= 0) {
		warnmsg("--visible: PAGE,X,Y,SIZE (page from 1, size in "
		    "points)");
		usage();
	}
	o->visible = 1;
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_URL = 256, O_ID, O_SECRET, O_USER, O_CRED, O_FACTOR,
	    O_FFILE, O_OTPID, O_LEVEL, O_TSA, O_REASON, O_LOC, O_NAME, O_VIS,
	    O_QR, O_IN, O_OUT, O_CA, O_DIGEST, O_CONTENTS };
	static const struct option lo[] = {
		{ "csc-url", required_argument, NULL, O_URL },
		{ "client-id", required_argument, NULL, O_ID },
		{ "client-secret-file", required_argument, NULL, O_SECRET },
		{ "user", required_argument, NULL, O_USER },
		{ "credential", required_argument, NULL, O_CRED },
		{ "factor", required_argument, NULL, O_FACTOR },
		{ "factor-file", required_argument, NULL, O_FFILE },
		{ "otp-id", required_argument, NULL, O_OTPID },
		{ "level", required_argument, NULL, O_LEVEL },
		{ "tsa-url", required_argument, NULL, O_TSA },
		{ "reason", required_argument, NULL, O_REASON },
		{ "location", required_argument, NULL, O_LOC },
		{ "name", required_argument, NULL, O_NAME },
		{ "visible", required_argument, NULL, O_VIS },
		{ "qr-url", required_argument, NULL, O_QR },
		{ "in", required_argument, NULL, O_IN },
		{ "out", required_argument, NULL, O_OUT },
		{ "ca-file", required_argument, NULL, O_CA },
		{ "digest", required_argument, NULL, O_DIGEST },
		{ "contents-size", required_argument, NULL, O_CONTENTS },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->md = EVP_sha256();
	o->level = LEVEL_BB;
	if ((o->ins = calloc(argc, sizeof(*o->ins))) == NULL ||
	    (o->outs = calloc(argc, sizeof(*o->outs))) == NULL) {
		warnmsg("out of memory");
		exit(1);
	}
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case O_URL: o->csc_url = optarg; break;
		case O_ID: o->client_id = optarg; break;
		case O_SECRET: o->secret_file = optarg; break;
		case O_USER: o->user = optarg; break;
		case O_CRED: o->credential = optarg; break;
		case O_FACTOR:
			o->have_factor = 1;
			if (strcmp(optarg, "pin") == 0)
				o->factor = CSCC_FACTOR_PIN;
			else if (strcmp(optarg, "otp") == 0)
				o->factor = CSCC_FACTOR_OTP;
			else if (strcmp(optarg, "totp") == 0)
				o->factor = CSCC_FACTOR_TOTP;
			else
				usage();
			break;
		case O_FFILE: o->factor_file = optarg; break;
		case O_OTPID:
			o->otp_id = parse_long(optarg, 1, LONG_MAX, "--otp-id");
			o->have_otp_id = 1;
			break;
		case O_LEVEL:
			if (strcmp(optarg, "B-B") == 0)
				o->level = LEVEL_BB;
			else if (strcmp(optarg, "B-T") == 0)
				o->level = LEVEL_BT;
			else if (strcmp(optarg, "B-LT") == 0)
				o->level = LEVEL_BLT;
			else
				usage();
			break;
		case O_TSA: o->tsa_url = optarg; break;
		case O_REASON: o->reason = optarg; break;
		case O_LOC: o->location = optarg; break;
		case O_NAME: o->name = optarg; break;
		case O_VIS: parse_visible(o, optarg); break;
		case O_QR: o->qr_url = optarg; break;
		case O_IN: o->ins[o->nin++] = optarg; break;
		case O_OUT: o->outs[o->nout++] = optarg; break;
		case O_CA: o->ca_file = optarg; break;
		case O_DIGEST:
			if (strcmp(optarg, "sha256") == 0)
				o->md = EVP_sha256();
			else if (strcmp(optarg, "sha384") == 0)
				o->md = EVP_sha384();
			else if (strcmp(optarg, "sha512") == 0)
				o->md = EVP_sha512();
			else
				usage();
			break;
		case O_CONTENTS:
			o->contents = (size_t)parse_long(optarg, 4096,
			    1024 * 1024, "--contents-size");
			break;
		default:
			usage();
		}
	}
	if (optind != argc) {
		/* Not quoted: it could be a PIN typed where it must not be. */
		warnmsg("unexpected argument %d (a PIN or OTP goes in "
		    "--factor-file, never on the command line)", optind);
		usage();
	}
	if (o->csc_url == NULL || o->client_id == NULL ||
	    o->secret_file == NULL || o->user == NULL ||
	    o->credential == NULL || !o->have_factor ||
	    o->factor_file == NULL) {
		warnmsg("--csc-url, --client-id, --client-secret-file, --user, "
		    "--credential, --factor and --factor-file are required");
		usage();
	}
	if (o->nin == 0 || o->nin != o->nout) {
		warnmsg("give --in and --out in pairs, at least one");
		usage();
	}
	if (o->nin > CSCC_HASHES_MAX) {
		warnmsg("at most %d documents at once", CSCC_HASHES_MAX);
		usage();
	}
	if ((o->factor == CSCC_FACTOR_OTP) != o->have_otp_id) {
		warnmsg("--otp-id goes with --factor otp, and only with it");
		usage();
	}
	if (o->level != LEVEL_BB && o->tsa_url == NULL) {
		warnmsg("levels B-T and B-LT need --tsa-url");
		usage();
	}
	if (o->visible != (o->qr_url != NULL)) {
		warnmsg("--visible and --qr-url go together");
		usage();
	}
	if (strcmp(o->secret_file, "-") == 0 &&
	    strcmp(o->factor_file, "-") == 0) {
		warnmsg("only one of the secret and the factor can be read "
		    "from stdin");
		usage();
	}
}

/*
 * The trust anchors for the TSA's token and the OCSP/CRL signatures: the
 * self-signed certificates of the credential's chain, and --ca-file's.
 */
static X509_STORE *
trust_store(STACK_OF(X509) *chain, const char *ca_file)
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
		warnmsg("%s: cannot load CA certificates", ca_file);
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

/* Opens d->in and prepares its signature, the hash to sign in d->hash. */
static int
doc_prepare(struct doc *d, const struct opts *o, const struct cscc_cred *cr,
    const char *name, time_t now)
{
	struct pdf_sig_opts so = { 0 };
	unsigned char *buf = NULL, br[EVP_MAX_MD_SIZE], *tbs = NULL;
	unsigned int brlen, hlen;
	size_t len, tbslen;
	char err[512];
	int rc = -1;

	if (read_file(d->in, PDF_MAX_INPUT, &buf, &len) != 0)
		goto out;
	if (pdf_open(buf, len, &d->pdf, err, sizeof(err)) != 0) {
		warnmsg("%s: %s", d->in, err);
		goto out;
	}
	so.reason = o->reason;
	so.location = o->location;
	so.name = name;
	so.signing_time = now;
	so.visible = o->visible;
	so.page = o->page;
	so.x = o->x;
	so.y = o->y;
	so.size = o->size;
	so.qr_text = o->qr_url;
	so.contents_max = o->contents;
	if (pdf_prepare_signature(d->pdf, &so, &d->prep, err, sizeof(err)) !=
	    0) {
		warnmsg("%s: %s", d->in, err);
		goto out;
	}
	if (pdf_byterange_digest(&d->prep, o->md, br, &brlen) != 0) {
		warnmsg("%s: cannot digest the ByteRange", d->in);
		goto out;
	}
	if ((d->cades = cades_new(cr->cert, cr->chain, o->md, br, brlen, err,
	    sizeof(err))) == NULL ||
	    cades_tbs(d->cades, &tbs, &tbslen, err, sizeof(err)) != 0) {
		warnmsg("%s: %s", d->in, err);
		goto out;
	}
	if (EVP_Digest(tbs, tbslen, d->hash, &hlen, o->md, NULL) != 1) {
		warnmsg("%s: EVP_Digest failed", d->in);
		goto out;
	}
	rc = 0;
 out:
	free(tbs);
	free(buf);
	return rc;
}

/*
 * The signature value into the CMS, the B-T time-stamp, the CMS into the
 * PDF. tsa_certs collects the TSA's certificates (for B-LT).
 */
static int
doc_embed(struct doc *d, const struct opts *o, X509_STORE *trust,
    STACK_OF(X509) *chain, STACK_OF(X509) *tsa_certs)
{
	unsigned char *tst = NULL, *cms = NULL;
	const unsigned char *sv;
	STACK_OF(X509) *tc = NULL;
	size_t tstlen, cmslen, svlen;
	char err[512];
	int i, j, rc = -1;

	if (cades_set_signature(d->cades, d->sig, d->siglen, err,
	    sizeof(err)) != 0) {
		warnmsg("%s: %s", d->in, err);
		goto out;
	}
	if (o->level != LEVEL_BB) {
		sv = cades_signature(d->cades, &svlen);
		if (tsa_timestamp(o->tsa_url, sv, svlen, trust, chain, &tst,
		    &tstlen, &tc, err, sizeof(err)) != 0 ||
		    cades_add_timestamp(d->cades, tst, tstlen, err,
		    sizeof(err)) != 0) {
			warnmsg("%s: time-stamp: %s", d->in, err);
			goto out;
		}
		for (i = 0; tc != NULL && i < sk_X509_num(tc); i++) {
			X509 *x = sk_X509_value(tc, i);

			for (j = 0; j < sk_X509_num(tsa_certs); j++)
				if (X509_cmp(x, sk_X509_value(tsa_certs, j)) ==
				    0)
					break;
			if (j < sk_X509_num(tsa_certs))
				continue;
			if (X509_up_ref(x) != 1 ||
			    sk_X509_push(tsa_certs, x) <= 0) {
				warnmsg("out of memory");
				goto out;
			}
		}
	}
	if (cades_der(d->cades, &cms, &cmslen, err, sizeof(err)) != 0 ||
	    pdf_embed_signature(&d->prep, cms, cmslen, err, sizeof(err)) != 0) {
		warnmsg("%s: %s%s", d->in, err, strstr(err, "fit") != NULL ?
		    " (a larger --contents-size helps)" : "");
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

/* B-LT: the signed file plus a DSS update. */
static int
doc_dss(struct doc *d, const struct pdf_dss *dss)
{
	struct pdf_doc *signed_pdf = NULL;
	unsigned char *out = NULL;
	size_t outlen;
	char err[512];
	int rc = -1;

	if (pdf_open(d->result, d->resultlen, &signed_pdf, err, sizeof(err))
	    != 0 || pdf_add_dss(signed_pdf, dss, &out, &outlen, err,
	    sizeof(err)) != 0) {
		warnmsg("%s: DSS: %s", d->in, err);
		goto out;
	}
	d->result = out;
	d->resultlen = outlen;
	d->result_is_prep = 0;
	rc = 0;
 out:
	pdf_close(signed_pdf);
	return rc;
}

/* Writes the result to a temporary file beside d->out (renamed later). */
static int
doc_write(struct doc *d)
{
	size_t n, off = 0;
	mode_t um;
	ssize_t w;
	int fd;

	n = strlen(d->out) + sizeof(".XXXXXX");
	if ((d->tmp = malloc(n)) == NULL) {
		warnmsg("out of memory");
		return -1;
	}
	snprintf(d->tmp, n, "%s.XXXXXX", d->out);
	if ((fd = mkstemp(d->tmp)) == -1) {
		warnmsg("%s: mkstemp: %s", d->tmp, strerror(errno));
		free(d->tmp);
		d->tmp = NULL;
		return -1;
	}
	um = umask(0);
	umask(um);
	if (fchmod(fd, 0666 & ~um) == -1)
		goto fail;
	while (off < d->resultlen) {
		if ((w = write(fd, d->result + off, d->resultlen - off)) < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	return 0;
 fail:
	warnmsg("%s: %s", d->tmp, strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

static void
doc_clear(struct doc *d)
{
	if (d->tmp != NULL) {
		unlink(d->tmp);
		free(d->tmp);
	}
	if (!d->result_is_prep)
		free(d->result);
	pdf_prepared_clear(&d->prep);
	pdf_close(d->pdf);
	cades_free(d->cades);
	free(d->sig);
	memset(d, 0, sizeof(*d));
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct cscc *csc = NULL;
	struct cscc_cred cr = { 0 };
	struct doc *docs = NULL;
	struct revinfo ri = { 0 };
	struct pdf_dss dss;
	X509_STORE *trust = NULL;
	STACK_OF(X509) *tsa_certs = NULL, *leaves = NULL, *pool = NULL;
	unsigned char **hashes = NULL, **sigs = NULL;
	size_t *siglens = NULL, i, j, mdlen;
	char *secret = NULL, *code = NULL, *sad = NULL, *cn = NULL;
	char err[1024];
	time_t now;
	int r, status = 1;

	parse_args(argc, argv, &o);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		warnmsg("curl_global_init failed");
		return 1;
	}
	if ((secret = read_secret(o.secret_file, "client secret")) == NULL ||
	    (code = read_secret(o.factor_file, "PIN or OTP")) == NULL)
		goto out;
	if ((docs = calloc(o.nin, sizeof(*docs))) == NULL ||
	    (hashes = calloc(o.nin, sizeof(*hashes))) == NULL ||
	    (sigs = calloc(o.nin, sizeof(*sigs))) == NULL ||
	    (siglens = calloc(o.nin, sizeof(*siglens))) == NULL ||
	    (tsa_certs = sk_X509_new_null()) == NULL ||
	    (csc = cscc_new(o.csc_url)) == NULL) {
		warnmsg("out of memory");
		goto out;
	}
	mdlen = (size_t)EVP_MD_get_size(o.md);

	/* The service, and the credential's certificate. */
	if ((r = cscc_token(csc, o.client_id, secret, err, sizeof(err))) != 0 ||
	    (r = cscc_info(csc, o.credential, o.user, &cr, err, sizeof(err))) !=
	    0) {
		warnmsg("%s", err);
		status = r == CSCC_REFUSED ? EXIT_REFUSED : 1;
		goto out;
	}
	OPENSSL_cleanse(secret, strlen(secret));
	if ((trust = trust_store(cr.chain, o.ca_file)) == NULL) {
		warnmsg("cannot build the trust store");
		goto out;
	}
	if (o.name == NULL)
		cn = subject_cn(cr.cert);

	/* Each document's hash to sign. */
	now = time(NULL);
	for (i = 0; i < o.nin; i++) {
		docs[i].in = o.ins[i];
		docs[i].out = o.outs[i];
		if (doc_prepare(&docs[i], &o, &cr, o.name ? o.name : cn, now)
		    != 0)
			goto out;
		hashes[i] = docs[i].hash;
		for (j = 0; j < i; j++)
			if (memcmp(hashes[i], hashes[j], mdlen) == 0) {
				warnmsg("%s and %s are the same document: sign "
				    "it once", docs[j].in, docs[i].in);
				goto out;
			}
	}

	/* One authorization for all of them, one signHash. */
	if ((r = cscc_authorize(csc, o.credential, o.user, o.md, hashes, o.nin,
	    o.factor, code, o.otp_id, &sad, err, sizeof(err))) != 0) {
		warnmsg("%s", err);
		status = r == CSCC_REFUSED ? EXIT_REFUSED : 1;
		goto out;
	}
	OPENSSL_cleanse(code, strlen(code));
	if ((r = cscc_sign_hash(csc, o.credential, sad, o.md, cr.ec, hashes,
	    o.nin, sigs, siglens, err, sizeof(err))) != 0) {
		warnmsg("%s", err);
		status = r == CSCC_REFUSED ? EXIT_REFUSED : 1;
		goto out;
	}
	for (i = 0; i < o.nin; i++) {
		docs[i].sig = sigs[i];
		docs[i].siglen = siglens[i];
		sigs[i] = NULL;
		if (doc_embed(&docs[i], &o, trust, cr.chain, tsa_certs) != 0)
			goto out;
	}

	/* B-LT: the validation material, the same for every document. */
	if (o.level == LEVEL_BLT) {
		if ((leaves = sk_X509_new_null()) == NULL ||
		    sk_X509_push(leaves, cr.cert) <= 0 ||
		    (pool = sk_X509_dup(cr.chain)) == NULL) {
			warnmsg("out of memory");
			goto out;
		}
		for (i = 0; i < (size_t)sk_X509_num(tsa_certs); i++)
			if (sk_X509_push(leaves, sk_X509_value(tsa_certs, i)) <=
			    0 || sk_X509_push(pool, sk_X509_value(tsa_certs,
			    i)) <= 0) {
				warnmsg("out of memory");
				goto out;
			}
		if (revinfo_collect(leaves, pool, trust, &ri, err,
		    sizeof(err)) != 0) {
			warnmsg("B-LT: %s", err);
			goto out;
		}
		revinfo_dss(&ri, &dss);
		for (i = 0; i < o.nin; i++)
			if (doc_dss(&docs[i], &dss) != 0)
				goto out;
	}

	/* Everything signed: write, then rename into place. */
	for (i = 0; i < o.nin; i++)
		if (doc_write(&docs[i]) != 0)
			goto out;
	for (i = 0; i < o.nin; i++) {
		if (rename(docs[i].tmp, docs[i].out) == -1) {
			warnmsg("rename %s: %s", docs[i].out, strerror(errno));
			goto out;
		}
		free(docs[i].tmp);
		docs[i].tmp = NULL;
		printf("%s: signed (%s) -> %s\n", docs[i].in,
		    o.level == LEVEL_BB ? "B-B" : o.level == LEVEL_BT ?
		    "B-T" : "B-LT", docs[i].out);
	}
	status = 0;
 out:
	for (i = 0; docs != NULL && i < o.nin; i++)
		doc_clear(&docs[i]);
	for (i = 0; sigs != NULL && i < o.nin; i++)
		free(sigs[i]);
	free(docs);
	free(hashes);
	free(sigs);
	free(siglens);
	free(cn);
	revinfo_clear(&ri);
	sk_X509_free(leaves);
	sk_X509_free(pool);
	sk_X509_pop_free(tsa_certs, X509_free);
	X509_STORE_free(trust);
	cscc_cred_clear(&cr);
	cscc_free(csc);
	cscc_free_secret(sad);
	cscc_free_secret(secret);
	cscc_free_secret(code);
	free(o.ins);
	free(o.outs);
	curl_global_cleanup();
	return status;
}
