/*
 * pkisign: signs PDF documents as PAdES baseline signatures (ETSI EN 319
 * 142-1, levels B-B, B-T, B-LT, B-LTA) with a key held by a remote signing
 * service speaking the CSC API v2 (our signd, docs/csc.md).
 *
 *	pkisign --csc-url ... --in a.pdf --out a.signed.pdf [...]
 *	    One process, no privilege: it reads the documents, the client
 *	    secret and the subscriber's factor (files only, never argv), runs
 *	    the signing job (sign/job.h) and writes every output to a
 *	    temporary file beside it (made before anything is signed, so an
 *	    unwritable or duplicate output fails first), renamed into place
 *	    only once all N documents are signed. Exit status: 0 all signed, 2 usage, 3
 *	    refused by the signing service (wrong factor, locked, credential
 *	    revoked or unknown, client refused), 1 anything else. Nothing is
 *	    written when the status is not 0.
 *	pkisign serve --config pki.conf
 *	    The same as a small HTTP service (sign/serve.c).
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
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/file.h"
#include "lib/json.h"
#include "lib/sandbox.h"
#include "sign/csc_client.h"
#include "sign/job.h"
#include "sign/memcap.h"
#include "sign/pdf.h"
#include "sign/serve.h"

#define EXIT_USAGE	2
#define EXIT_REFUSED	3
/* Longest secret or factor file read. */
#define SECRET_MAX	4096

struct opts {
	struct sign_job	 job;
	const char	*secret_file, *factor_file;
	int		 have_factor, have_memory;
	long		 memory_mib;	/* --memory-limit-mib; 0: none */
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
	    "           --factor pin|otp|totp --factor-file F|-\n"
	    "           [--level B-B|B-T|B-LT|B-LTA] [--tsa-url URL] [--ca-file F]\n"
	    "           [--digest sha256|sha384|sha512] [--contents-size BYTES]\n"
	    "           [--reason R] [--location L] [--name N]\n"
	    "           [--memory-limit-mib N] [--cpu-limit-seconds N]\n"
	    "           [--visible PAGE,X,Y,SIZE --qr-url URL | --field NAME]\n"
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

/* lib/file.h's reader, its message on stderr. */
static int
read_file(const char *path, size_t max, unsigned char **out, size_t *len)
{
	char err[512];

	if (file_read_capped(path, max, out, len, err, sizeof(err)) == -1) {
		warnmsg("%s", err);
		return -1;
	}
	return 0;
}

/* The certificate's serial in hex (as the RA's message says it), or "?". */
static void
cert_serial(const X509 *cert, char *out, size_t outlen)
{
	BIGNUM *bn = NULL;
	char *hex = NULL;

	if (cert != NULL && (bn = ASN1_INTEGER_to_BN(
	    X509_get0_serialNumber(cert), NULL)) != NULL &&
	    (hex = BN_bn2hex(bn)) != NULL)
		snprintf(out, outlen, "%s", hex);
	else
		snprintf(out, outlen, "?");
	OPENSSL_free(hex);
	BN_free(bn);
}

/*
 * --factor otp (sign/job.h otp_for): the credential and the documents'
 * hashes on stderr, as POST /v1/otp takes them, their reference and the
 * credential's certificate serial, which the code's message repeats; then
 * "OTP_ID CODE" from the factor file's first line, read only now (a
 * terminal, a pipe from the application that asked for the code).
 */
static int
otp_from_file(void *arg, const char *credential, const X509 *cert,
    const EVP_MD *md, unsigned char *const *hashes, size_t n, char code[7],
    long *otp_id, char *err, size_t errlen)
{
	const char *path = arg;
	char ref[FACTOR_BINDING_REF_SIZE], extra, *js = NULL, line[64];
	char serial[128];
	json_t *docs;
	FILE *f;
	long id;
	int rc = -1;

	if ((docs = sign_otp_documents(credential, md, hashes, n, ref)) ==
	    NULL || (js = json_dumps(docs, JSON_COMPACT)) == NULL) {
		snprintf(err, errlen, "the documents' hashes cannot be said "
		    "(--credential: a credentialID, decimal digits)");
		json_decref(docs);
		return -1;
	}
	json_decref(docs);
	cert_serial(cert, serial, sizeof(serial));
	fprintf(stderr, "pkisign: ask the RA for a code of purpose sign for "
	    "this credential and these documents (POST /v1/otp), then give "
	    "\"OTP_ID CODE\" in %s:\n%s\npkisign: %zu document(s), ref %s\n"
	    "pkisign: with credential %s, certificate serial %s\n", path, js,
	    n, ref, credential, serial);
	fflush(stderr);
	free(js);
	/* One line, not to the end: a person types it at a terminal. */
	if ((f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	memset(line, 0, sizeof(line));
	if (fgets(line, sizeof(line), f) == NULL) {
		snprintf(err, errlen, "no OTP read from %s", path);
		goto out;
	}
	line[strcspn(line, "\r\n")] = '\0';
	if (sscanf(line, "%ld %6[0-9]%c", &id, code, &extra) != 2 ||
	    id < 1 || strlen(code) != 6) {
		snprintf(err, errlen, "%s: not \"OTP_ID CODE\" (an id, a space, "
		    "6 digits) in its first line", path);
		goto out;
	}
	*otp_id = id;
	rc = 0;
out:
	OPENSSL_cleanse(line, sizeof(line));
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

	if (sscanf(s, "%d,%lf,%lf,%lf%c", &o->job.page, &o->job.x, &o->job.y, &o->job.size,
	    &extra) != 4 || o->job.page < 1 || o->job.size <= 0) {
		warnmsg("--visible: PAGE,X,Y,SIZE (page from 1, size in "
		    "points)");
		usage();
	}
	o->job.visible = 1;
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_URL = 256, O_ID, O_SECRET, O_USER, O_CRED, O_FACTOR,
	    O_FFILE, O_OTPID, O_LEVEL, O_TSA, O_REASON, O_LOC, O_NAME, O_VIS,
	    O_QR, O_IN, O_OUT, O_CA, O_DIGEST, O_CONTENTS, O_MEMORY,
	    O_CPU, O_FIELD };
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
		{ "memory-limit-mib", required_argument, NULL, O_MEMORY },
		{ "cpu-limit-seconds", required_argument, NULL, O_CPU },
		{ "field", required_argument, NULL, O_FIELD },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->job.md = EVP_sha256();
	o->job.level = SIGN_LEVEL_BB;
	if ((o->ins = calloc(argc, sizeof(*o->ins))) == NULL ||
	    (o->outs = calloc(argc, sizeof(*o->outs))) == NULL) {
		warnmsg("out of memory");
		exit(1);
	}
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case O_URL: o->job.csc_url = optarg; break;
		case O_ID: o->job.client_id = optarg; break;
		case O_SECRET: o->secret_file = optarg; break;
		case O_USER: o->job.user = optarg; break;
		case O_CRED: o->job.credential = optarg; break;
		case O_FACTOR:
			o->have_factor = 1;
			if (strcmp(optarg, "pin") == 0)
				o->job.factor = CSCC_FACTOR_PIN;
			else if (strcmp(optarg, "otp") == 0)
				o->job.factor = CSCC_FACTOR_OTP;
			else if (strcmp(optarg, "totp") == 0)
				o->job.factor = CSCC_FACTOR_TOTP;
			else
				usage();
			break;
		case O_FFILE: o->factor_file = optarg; break;
		case O_OTPID:
			/* Before schema/060 the OTP was asked for first. */
			warnmsg("--otp-id: an OTP of purpose sign is for given "
			    "documents: pkisign says their hashes, then reads "
			    "\"OTP_ID CODE\" from --factor-file");
			usage();
		case O_LEVEL:
			if (sign_level_parse(optarg, &o->job.level) == -1)
				usage();
			break;
		case O_TSA: o->job.tsa_url = optarg; break;
		case O_REASON: o->job.reason = optarg; break;
		case O_LOC: o->job.location = optarg; break;
		case O_NAME: o->job.name = optarg; break;
		case O_VIS: parse_visible(o, optarg); break;
		case O_QR: o->job.qr_text = optarg; break;
		case O_FIELD: o->job.field = optarg; break;
		case O_IN: o->ins[o->nin++] = optarg; break;
		case O_OUT: o->outs[o->nout++] = optarg; break;
		case O_CA: o->job.ca_file = optarg; break;
		case O_DIGEST:
			if (strcmp(optarg, "sha256") == 0)
				o->job.md = EVP_sha256();
			else if (strcmp(optarg, "sha384") == 0)
				o->job.md = EVP_sha384();
			else if (strcmp(optarg, "sha512") == 0)
				o->job.md = EVP_sha512();
			else
				usage();
			break;
		case O_CONTENTS:
			o->job.contents = (size_t)parse_long(optarg, 4096,
			    1024 * 1024, "--contents-size");
			break;
		case O_MEMORY:
			o->memory_mib = parse_long(optarg, 0, 1L << 22,
			    "--memory-limit-mib");
			o->have_memory = 1;
			break;
		case O_CPU:
			/* sign/pdf.h: the CPU time reading one document may take. */
			pdf_set_read_cpu_limit(parse_long(optarg, 0, 3600,
			    "--cpu-limit-seconds") * 1000);
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
	if (o->job.csc_url == NULL || o->job.client_id == NULL ||
	    o->secret_file == NULL || o->job.user == NULL ||
	    o->job.credential == NULL || !o->have_factor ||
	    o->factor_file == NULL) {
		warnmsg("--csc-url, --client-id, --client-secret-file, --user, "
		    "--credential, --factor and --factor-file are required");
		usage();
	}
	/* As signd takes them (sign_id_ok): else its 400 would exit 3. */
	if (sign_id_ok(o->job.user) == -1 ||
	    sign_id_ok(o->job.credential) == -1) {
		warnmsg("--user and --credential are ids (1 to 18 decimal "
		    "digits, no leading zero)");
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
	if (o->job.level != SIGN_LEVEL_BB && o->job.tsa_url == NULL) {
		warnmsg("levels B-T, B-LT and B-LTA need --tsa-url");
		usage();
	}
	if (o->job.visible != (o->job.qr_text != NULL)) {
		warnmsg("--visible and --qr-url go together");
		usage();
	}
	if (o->job.field != NULL && (o->job.visible ||
	    o->job.field[0] == '\0')) {
		warnmsg("--field names an existing signature field, whose own "
		    "widget is kept: not with --visible");
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
 * The cap on our memory before any PDF is read (--memory-limit-mib; by
 * default 512 MiB and 8 times the documents' size, as pkisign serve's
 * pades.memory_limit_mib): a PDF whose streams inflate without end is
 * refused instead of exhausting the machine (sign/pdf.c names it), with
 * a reserve above the cap for qpdf's error path (sign/memcap.h).
 */
static int
limit_memory(const struct opts *o, const struct sign_doc *docs)
{
	unsigned long mib = 512;
	size_t i;

	if (o->have_memory)
		mib = (unsigned long)o->memory_mib;
	else
		for (i = 0; i < o->nin; i++)
			mib += 8 * (docs[i].inlen / (1024 * 1024) + 1);
	if (mib == 0)
		return 0;
	switch (memcap_set(mib, 1)) {
	case 0:
		return 0;
	case 1:
		if (o->have_memory)
			warnmsg("--memory-limit-mib: not applied in a "
			    "sanitizer build");
		return 0;
	default:
		warnmsg("--memory-limit-mib %lu: %s", mib, strerror(errno));
		return -1;
	}
}

/* An output in flight: the temporary file beside it, renamed at the end. */
struct out {
	const char	*path;
	const char	*base;	/* path's last component */
	char		*tmp;
	int		 fd;
	dev_t		 dev;	/* of the temporary file: its directory */
	ino_t		 dir_ino;
};

/*
 * Before anything is signed (a SAD, an audit row, a one-time code spent):
 * every output gets its temporary file beside it, so an output that cannot
 * be written fails now; an output that is a directory, or named twice (the
 * same directory and name), is refused.
 */
static int
out_open(struct out *outs, size_t n)
{
	struct stat st;
	char *dir;
	size_t i, k, len;

	for (i = 0; i < n; i++) {
		struct out *d = &outs[i];

		if (stat(d->path, &st) == 0 && !S_ISREG(st.st_mode)) {
			warnmsg("%s: not a regular file", d->path);
			return -1;
		}
		len = strlen(d->path) + sizeof(".XXXXXX");
		if ((d->tmp = malloc(len)) == NULL) {
			warnmsg("out of memory");
			return -1;
		}
		snprintf(d->tmp, len, "%s.XXXXXX", d->path);
		if ((d->fd = mkstemp(d->tmp)) == -1) {
			warnmsg("%s: %s", d->path, strerror(errno));
			free(d->tmp);
			d->tmp = NULL;
			return -1;
		}
		/* The directory, named as the temporary file's: same inode. */
		d->base = strrchr(d->path, '/') != NULL ?
		    strrchr(d->path, '/') + 1 : d->path;
		if ((dir = strndup(d->path, (size_t)(d->base - d->path))) ==
		    NULL) {
			warnmsg("out of memory");
			return -1;
		}
		if (stat(*dir != '\0' ? dir : ".", &st) == -1) {
			warnmsg("%s: %s", d->path, strerror(errno));
			free(dir);
			return -1;
		}
		free(dir);
		d->dev = st.st_dev;
		d->dir_ino = st.st_ino;
		for (k = 0; k < i; k++)
			if (outs[k].dev == d->dev && outs[k].dir_ino ==
			    d->dir_ino && strcmp(outs[k].base, d->base) == 0) {
				warnmsg("%s and %s are the same output",
				    outs[k].path, d->path);
				return -1;
			}
	}
	return 0;
}

/* Writes buf into d's temporary file (renamed later). */
static int
out_write(struct out *d, const unsigned char *buf, size_t len)
{
	size_t off = 0;
	mode_t um;
	ssize_t w;
	int fd = d->fd;

	d->fd = -1;
	um = umask(0);
	umask(um);
	if (fchmod(fd, 0666 & ~um) == -1)
		goto fail;
	while (off < len) {
		if ((w = write(fd, buf + off, len - off)) < 0) {
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

int
main(int argc, char **argv)
{
	struct opts o;
	struct sign_doc *docs = NULL;
	struct out *outs = NULL;
	size_t i;
	char *secret = NULL, *code = NULL, err[1024];
	int status = 1;

	/* The client secret and the PIN pass through: no core, no dump. */
	if (sandbox_no_dumps(err, sizeof(err)) == -1) {
		warnmsg("%s", err);
		return 1;
	}
	if (argc > 1 && strcmp(argv[1], "serve") == 0)
		return pkisign_serve(argc - 1, argv + 1);
	/* The SAD and the access token arrive in JSON: wiped when freed. */
	json_wipe_on_free(NULL, NULL);
	parse_args(argc, argv, &o);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		warnmsg("curl_global_init failed");
		return 1;
	}
	if ((secret = read_secret(o.secret_file, "client secret")) == NULL)
		goto out;
	o.job.client_secret = secret;
	/* An OTP only once the hashes it is for are known (otp_from_file). */
	if (o.job.factor == CSCC_FACTOR_OTP) {
		o.job.otp_for = otp_from_file;
		o.job.otp_arg = (void *)o.factor_file;
	} else if ((code = read_secret(o.factor_file, "PIN or code")) == NULL)
		goto out;
	else if (sign_code_ok(code) == -1) {
		/* Not quoted: it is the PIN or code, or a mistyped one. */
		warnmsg("--factor-file: the PIN or code is 6 digits");
		status = EXIT_USAGE;
		goto out;
	}
	o.job.code = code;
	if ((docs = calloc(o.nin, sizeof(*docs))) == NULL ||
	    (outs = calloc(o.nin, sizeof(*outs))) == NULL) {
		warnmsg("out of memory");
		goto out;
	}
	for (i = 0; i < o.nin; i++)
		outs[i].fd = -1;
	for (i = 0; i < o.nin; i++) {
		docs[i].label = o.ins[i];
		outs[i].path = o.outs[i];
		if (read_file(o.ins[i], PDF_MAX_INPUT,
		    (unsigned char **)&docs[i].in, &docs[i].inlen) != 0)
			goto out;
	}
	if (out_open(outs, o.nin) == -1 || limit_memory(&o, docs) == -1)
		goto out;
	switch (sign_documents(&o.job, docs, o.nin, err, sizeof(err))) {
	case SIGN_OK:
		break;
	case SIGN_REFUSED:
	case SIGN_UNAUTHORIZED:
		warnmsg("%s", err);
		status = EXIT_REFUSED;
		goto out;
	default:
		warnmsg("%s", err);
		goto out;
	}
	/* Everything signed: write, then rename into place. */
	for (i = 0; i < o.nin; i++)
		if (out_write(&outs[i], docs[i].out, docs[i].outlen) != 0)
			goto out;
	for (i = 0; i < o.nin; i++) {
		if (rename(outs[i].tmp, outs[i].path) == -1) {
			/* Checked above, so unexpected; say what is written. */
			warnmsg("rename %s: %s (%zu of %zu outputs written "
			    "before it)", outs[i].path, strerror(errno), i,
			    o.nin);
			goto out;
		}
		free(outs[i].tmp);
		outs[i].tmp = NULL;
		printf("%s: signed (%s) -> %s\n", o.ins[i],
		    sign_level_name(o.job.level), o.outs[i]);
	}
	status = 0;
 out:
	for (i = 0; outs != NULL && i < o.nin; i++) {
		if (outs[i].fd != -1)
			close(outs[i].fd);
		if (outs[i].tmp != NULL) {
			unlink(outs[i].tmp);
			free(outs[i].tmp);
		}
	}
	for (i = 0; docs != NULL && i < o.nin; i++) {
		free((void *)docs[i].in);
		free(docs[i].out);
	}
	free(docs);
	free(outs);
	cscc_free_secret(secret);
	cscc_free_secret(code);
	free(o.ins);
	free(o.outs);
	curl_global_cleanup();
	return status;
}
