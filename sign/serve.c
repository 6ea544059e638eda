/*
 * pkisign serve (sign/serve.h): the signing job behind HTTP.
 *
 * Start-up: the configuration ([pades] of pki.conf), the memory cap
 * (pades.memory_limit_mib), the client secret (0600 file),
 * curl_global_init, its port bound on a loopback address, then demotion and
 * the SANDBOX_NET_FILES seccomp profile (libcurl needs
 * socket/connect/poll/socketpair; the CA file is opened per job), then
 * libmicrohttpd's threads on that port (lib/http.h http_serve).
 * A request: the caller's bearer token checked before the body is read
 * (pades.callers_file), the body parsed strictly, the job run
 * (sign/job.c), the answer. POST /v1/sign/hashes runs it up to the
 * hashes (for a sign OTP, bound to them). Statuses: 200 signed (or the
 * hashes); 400 malformed body;
 * 401 no known caller's token; 403 the signing service
 * refused (wrong factor, locked, credential revoked or another's: CSC's
 * error and description); 413 body too large (lib/http, unread); 415 not
 * JSON; 422 a document we cannot sign (not a PDF, encrypted, damaged);
 * 502 the signing, time-stamping or revocation services failed; 503 the
 * body could not be parsed within the memory cap now.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "lib/config.h"
#include "lib/daemon.h"
#include "lib/hex.h"
#include "lib/http.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/sandbox.h"
#include "lib/secret.h"
#include "lib/timeutil.h"
#include "sign/csc_client.h"
#include "sign/memcap.h"
#include "sign/pdf.h"
#include "sign/serve.h"

#define SERVE_SECRET_MAX	256
#define SERVE_TIMEOUT_S		120	/* a B-LT job fetches OCSP and CRLs */
/*
 * A body's whole time (lib/http.h): callers are the signing apps'
 * back-ends, admitted by their token before a byte of body is read, on
 * server links; 600 s takes pades.max_body_mib's 64 MiB at 0.9 Mbit/s.
 * After the first 10 s a body must come at 64 KiB/s on average.
 */
#define SERVE_BODY_DEADLINE_S	600
#define SERVE_BODY_MIN_RATE	65536
#define SERVE_CALLERS_MAX	100
#define SERVE_CALLER_NAME_MAX	64
/*
 * pades.memory_limit_mib's default: a job holds its body, the decoded PDF,
 * qpdf's copy and parse, and the signed result, a few times the body each;
 * 8 times the largest body per thread, and room for the libraries.
 */
#define SERVE_MEMORY_MIB(threads, max_body_mib) \
	(512 + 8 * (threads) * (max_body_mib))

/* An application allowed to call us: its name and its token's SHA-256. */
struct serve_caller {
	char			 name[SERVE_CALLER_NAME_MAX + 1];
	unsigned char		 token_sha256[SHA256_DIGEST_LENGTH];
};

struct serve {
	const struct config	*cfg;
	char			 secret[SERVE_SECRET_MAX];	/* wiped */
	const char		*csc_url, *client_id, *tsa_url, *ca_file;
	struct serve_caller	 callers[SERVE_CALLERS_MAX];
	size_t			 ncallers;
};

/*
 * The cap on our memory (pades.memory_limit_mib, 0: none), before the first
 * thread: a PDF whose streams inflate without end fails its own request
 * (422) instead of the process (sign/pdf.c names it), qpdf's error path
 * using the reserve above the cap (sign/memcap.h; one step per thread).
 * 0, or -1 logged.
 */
static int
serve_limit_memory(unsigned long mib, unsigned int threads)
{
	if (mib == 0) {
		log_warn("pades.memory_limit_mib = 0: memory not capped; a PDF "
		    "compression bomb can exhaust the machine's memory");
		return 0;
	}
	switch (memcap_set(mib, threads)) {
	case 0:
		log_info("memory capped at %lu MiB (pades.memory_limit_mib), "
		    "%u MiB above it kept for refusing a document past it",
		    mib, MEMCAP_RESERVE_MIB(threads));
		return 0;
	case 1:
		log_warn("memory not capped in a sanitizer build");
		return 0;
	default:
		log_err("pades.memory_limit_mib = %lu: %s", mib,
		    strerror(errno));
		return -1;
	}
}

/* --- the callers ------------------------------------------------------------ */

/*
 * Reads pades.callers_file: one caller per line, "NAME SHA256-HEX" (the
 * SHA-256 of the bearer token it sends, lower-case hex), NAME of letters,
 * digits, '.', '_' and '-'; blank lines and lines starting with '#' are
 * skipped. At least one caller; 0 or -1 with a message.
 */
static int
serve_callers_load(struct serve *sv, const char *path, char *err,
    size_t errlen)
{
	FILE *f;
	char line[256], name[SERVE_CALLER_NAME_MAX + 2], hex[66];
	struct serve_caller *c;
	size_t i, lineno = 0;
	int rc = -1, n;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%zu: line too long", path,
			    lineno);
			goto out;
		}
		line[strcspn(line, "\r\n")] = '\0';
		if (line[strspn(line, " \t")] == '\0' || line[0] == '#')
			continue;
		if (sv->ncallers == SERVE_CALLERS_MAX) {
			snprintf(err, errlen, "%s: more than %d callers", path,
			    SERVE_CALLERS_MAX);
			goto out;
		}
		c = &sv->callers[sv->ncallers];
		if (sscanf(line, "%65s %65s %n", name, hex, &n) != 2 ||
		    line[n] != '\0' || strlen(name) > SERVE_CALLER_NAME_MAX ||
		    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789._-") != strlen(name) || hex_decode(hex,
		    c->token_sha256, sizeof(c->token_sha256), NULL) == -1) {
			snprintf(err, errlen, "%s:%zu: want \"NAME SHA256-HEX\" "
			    "(the token's SHA-256, lower-case hex)", path,
			    lineno);
			goto out;
		}
		for (i = 0; i < sv->ncallers; i++) {
			if (strcmp(sv->callers[i].name, name) == 0) {
				snprintf(err, errlen, "%s:%zu: caller %s twice",
				    path, lineno, name);
				goto out;
			}
			/* A shared token would log the wrong caller. */
			if (CRYPTO_memcmp(sv->callers[i].token_sha256,
			    c->token_sha256, sizeof(c->token_sha256)) == 0) {
				snprintf(err, errlen, "%s:%zu: caller %s has "
				    "the token of caller %s (one token each)",
				    path, lineno, name, sv->callers[i].name);
				goto out;
			}
		}
		memcpy(c->name, name, strlen(name) + 1);	/* ≤ 64 checked */
		sv->ncallers++;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		goto out;
	}
	if (sv->ncallers == 0) {
		snprintf(err, errlen, "%s: no caller", path);
		goto out;
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}

/*
 * The caller whose token the request's "Authorization: Bearer" carries, or
 * NULL. Every entry is compared, in constant time, whatever matched.
 */
static const struct serve_caller *
serve_caller(const struct serve *sv, const struct http_request *req)
{
	const struct serve_caller *found = NULL;
	const char *auth = http_header(req, "Authorization");
	unsigned char md[SHA256_DIGEST_LENGTH];
	size_t i;

	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0 ||
	    auth[7] == '\0' || strlen(auth + 7) > 512)
		return NULL;
	SHA256((const unsigned char *)auth + 7, strlen(auth + 7), md);
	for (i = 0; i < sv->ncallers; i++)
		if (CRYPTO_memcmp(md, sv->callers[i].token_sha256,
		    sizeof(md)) == 0)
			found = &sv->callers[i];
	return found;
}

/*
 * lib/http's admit hook: a known caller only, decided before its body (up
 * to pades.max_body_mib) is read, whatever the path; GET /health is open.
 */
static int
serve_admit(void *arg, const struct http_request *req,
    struct http_response *resp)
{
	const struct serve *sv = arg;
	int rc;

	if ((strcmp(req->path, "/health") == 0 &&
	    strcmp(req->method, "GET") == 0) || serve_caller(sv, req) != NULL)
		return 0;
	rc = http_problem(resp, 401, NULL, NULL, "an application's bearer "
	    "token is required (Authorization: Bearer; pades.callers_file)");
	if (rc == 0)
		rc = http_add_header(resp, "WWW-Authenticate",
		    "Bearer realm=\"pkisign\"");
	return rc;
}

/* --- the request ---------------------------------------------------------- */

static const EVP_MD *
serve_digest(const char *s)
{
	if (s == NULL || strcmp(s, "sha256") == 0)
		return EVP_sha256();
	if (strcmp(s, "sha384") == 0)
		return EVP_sha384();
	if (strcmp(s, "sha512") == 0)
		return EVP_sha512();
	return NULL;
}

/* A JSON string member that must be printable UTF-8 text of 1..max bytes. */
static int
serve_text(const char *s, size_t max)
{
	size_t i, n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n == 0 || n > max)
		return -1;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return -1;
	return 0;
}

static int
serve_factor(json_t *f, struct serve_request *r, char *detail,
    size_t detaillen)
{
	json_error_t je;
	const char *type = NULL, *code = NULL;
	json_int_t otp_id = 0;
	int has_id;

	if (json_unpack_strict(f, &je, "{s:s, s:s, s?I}", "type", &type,
	    "code", &code, "otp_id", &otp_id) == -1) {
		snprintf(detail, detaillen, "factor: {\"type\": \"pin\"|\"otp\"|"
		    "\"totp\", \"code\": \"…\", \"otp_id\": N with otp}");
		return -1;
	}
	has_id = json_object_get(f, "otp_id") != NULL;
	if (strcmp(type, "pin") == 0)
		r->job.factor = CSCC_FACTOR_PIN;
	else if (strcmp(type, "otp") == 0)
		r->job.factor = CSCC_FACTOR_OTP;
	else if (strcmp(type, "totp") == 0)
		r->job.factor = CSCC_FACTOR_TOTP;
	else {
		snprintf(detail, detaillen, "factor.type: pin, otp or totp");
		return -1;
	}
	if ((r->job.factor == CSCC_FACTOR_OTP) != has_id ||
	    (has_id && otp_id < 1)) {
		snprintf(detail, detaillen, "factor.otp_id (a positive "
		    "integer) goes with type otp, and only with it");
		return -1;
	}
	/* Never quoted back: a PIN or a code (sign_code_ok). */
	if (sign_code_ok(code) == -1) {
		snprintf(detail, detaillen, "factor.code: the PIN or code, "
		    "6 digits");
		return -1;
	}
	snprintf(r->code, sizeof(r->code), "%s", code);
	r->job.code = r->code;
	r->job.otp_id = (long)otp_id;
	return 0;
}

/*
 * signing_time: "YYYY-MM-DDTHH:MM:SSZ", canonical and recent
 * (SERVE_SIGNING_TIME_*): the one POST /v1/sign/hashes answered, given
 * back with the OTP for those hashes (serve_handle takes it with an OTP
 * only). Not any time: a caller must not backdate /M.
 */
static int
serve_signing_time(const char *s, struct serve_request *r, char *detail,
    size_t detaillen)
{
	struct tm tm;
	char extra, again[TIME_ISO8601_MAX];
	time_t t, now = time(NULL);

	memset(&tm, 0, sizeof(tm));
	if (strlen(s) != 20 || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%c",
	    &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
	    &tm.tm_sec, &extra) != 6 || tm.tm_mon < 1 || tm.tm_mon > 12 ||
	    tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 59)
		goto bad;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	/* timegm takes February 31 as March 3: only the canonical form. */
	if ((t = timegm(&tm)) == (time_t)-1 || strcmp(time_iso8601(t, again,
	    sizeof(again)), s) != 0 || t < now - SERVE_SIGNING_TIME_PAST_S ||
	    t > now + SERVE_SIGNING_TIME_AHEAD_S)
		goto bad;
	r->job.signing_time = t;
	return 0;
bad:
	snprintf(detail, detaillen, "signing_time: YYYY-MM-DDTHH:MM:SSZ, the "
	    "one POST /v1/sign/hashes answered, at most %d s old",
	    SERVE_SIGNING_TIME_PAST_S);
	return -1;
}

static int
serve_visible(json_t *v, struct serve_request *r, char *detail,
    size_t detaillen)
{
	json_error_t je;
	json_int_t page = 0;
	double x = 0, y = 0, size = 0;
	const char *qr = NULL;

	if (json_unpack_strict(v, &je, "{s:I, s:F, s:F, s:F, s:s}", "page",
	    &page, "x", &x, "y", &y, "size", &size, "qr_text", &qr) == -1 ||
	    page < 1 || page > INT_MAX || size < 1 || size > 14400 ||
	    x < -14400 || x > 14400 || y < -14400 || y > 14400 ||
	    serve_text(qr, 1024) == -1) {
		snprintf(detail, detaillen, "visible: {\"page\": from 1, \"x\", "
		    "\"y\": points within ±14400, \"size\": 1 to 14400 "
		    "points, \"qr_text\": up to 1024 bytes}");
		return -1;
	}
	r->job.visible = 1;
	r->job.page = (int)page;
	r->job.x = x;
	r->job.y = y;
	r->job.size = size;
	r->job.qr_text = qr;
	return 0;
}

static int
serve_documents(json_t *a, struct serve_request *r, char *detail,
    size_t detaillen)
{
	json_error_t je;
	json_t *d;
	const char *name, *pdf;
	unsigned char *bytes;
	size_t i, len;

	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > CSCC_HASHES_MAX) {
		snprintf(detail, detaillen, "documents: an array of 1 to %d "
		    "{\"name\", \"pdf\"}", CSCC_HASHES_MAX);
		return -1;
	}
	if ((r->docs = calloc(json_array_size(a), sizeof(*r->docs))) == NULL) {
		snprintf(detail, detaillen, "out of memory");
		return -1;
	}
	json_array_foreach(a, i, d) {
		if (json_unpack_strict(d, &je, "{s:s, s:s}", "name", &name,
		    "pdf", &pdf) == -1 || serve_text(name, 255) == -1) {
			snprintf(detail, detaillen, "documents[%zu]: {\"name\": "
			    "up to 255 bytes, \"pdf\": base64}", i);
			return -1;
		}
		if (cscc_b64_decode(pdf, &bytes, &len) != 0 || len == 0) {
			snprintf(detail, detaillen, "documents[%zu].pdf is not "
			    "base64 (RFC 4648 §4, padded)", i);
			return -1;
		}
		r->docs[r->ndocs].label = name;
		r->docs[r->ndocs].in = bytes;
		r->docs[r->ndocs].inlen = len;
		r->ndocs++;
	}
	return 0;
}

/*
 * jansson 2.14's lexer ignores a failed append to its token buffer
 * (lex_save), and copies a string up to its closing quote: when an
 * allocation fails in the middle of a large string, the quote is not
 * saved and the copy runs past the buffer's end. That happens when a large
 * body arrives while the memory is near the cap (the next request after a
 * refused bomb: SIGSEGV in libjansson, or glibc's "free(): invalid
 * pointer", the whole service ended). So while serve_parse() has jansson
 * read a body, the first allocation of that thread that fails makes every
 * later one of its fail too: the copy's own buffer is then refused first,
 * and jansson returns an error instead.
 */
static _Thread_local int serve_json_reading, serve_json_failed;

static void *
serve_json_malloc(size_t n)
{
	void *p;

	if (serve_json_reading && serve_json_failed)
		return NULL;
	if ((p = malloc(n)) == NULL && serve_json_reading)
		serve_json_failed = 1;
	return p;
}

int
serve_parse(const unsigned char *body, size_t len, struct serve_request *r,
    char *detail, size_t detaillen)
{
	json_error_t je;
	json_t *root, *factor = NULL, *visible = NULL, *docs = NULL;
	const char *user = NULL, *cred = NULL, *level = NULL, *digest = NULL;
	const char *reason = NULL, *location = NULL, *name = NULL;
	const char *field = NULL, *stime = NULL, *cause;

	memset(r, 0, sizeof(*r));
	/* jansson's messages quote the text near the error: not echoed. */
	serve_json_reading = 1;
	serve_json_failed = 0;
	root = json_load_bounded(body, len, len, &je);
	serve_json_reading = 0;
	if (serve_json_failed) {
		json_decref(root);
		snprintf(detail, detaillen, "the body could not be read: the "
		    "signer's memory is taken now (other large requests); "
		    "retry later");
		return SERVE_PARSE_NO_MEMORY;
	}
	if (root == NULL) {
		/*
		 * The causes our rules add to RFC 8259's, named (the README
		 * promises repeated members refused by name); never the text.
		 */
		switch (json_error_code(&je)) {
		case json_error_duplicate_key:
			cause = ": a duplicate member";
			break;
		case json_error_null_character:
		case json_error_null_byte_in_key:
			cause = ": a NUL (\\u0000) in a string";
			break;
		default:
			cause = "";
			break;
		}
		snprintf(detail, detaillen, "the body is not a JSON object "
		    "(RFC 8259; error at byte %d%s)", je.position, cause);
		return -1;
	}
	r->root = root;
	if (json_unpack_strict(root, &je, "{s:s, s:s, s?o, s?s, s?s, s?s, "
	    "s?s, s?s, s?o, s?s, s?s, s:o}", "user", &user, "credential",
	    &cred, "factor", &factor, "level", &level, "digest", &digest,
	    "reason", &reason, "location", &location, "name", &name, "visible",
	    &visible, "field", &field, "signing_time", &stime, "documents",
	    &docs) == -1) {
		snprintf(detail, detaillen, "members: user, credential, "
		    "factor, level, digest, reason, location, name, visible, "
		    "field, signing_time, documents (required), each once, of "
		    "their type");
		return -1;
	}
	/* An existing signature field keeps its own widget. */
	if (field != NULL && (serve_text(field, 4096) == -1 ||
	    visible != NULL)) {
		snprintf(detail, detaillen, "field: the name of an existing "
		    "empty signature field, 1 to 4096 bytes without control "
		    "characters, not with visible");
		return -1;
	}
	r->job.field = field;
	if (sign_id_ok(user) == -1 || sign_id_ok(cred) == -1) {
		snprintf(detail, detaillen, "user and credential are ids "
		    "(1 to 18 decimal digits, no leading zero)");
		return -1;
	}
	r->job.user = user;
	r->job.credential = cred;
	if (level == NULL)
		r->job.level = SIGN_LEVEL_BB;
	else if (sign_level_parse(level, &r->job.level) == -1) {
		snprintf(detail, detaillen, "level: " SIGN_LEVELS);
		return -1;
	}
	if ((r->job.md = serve_digest(digest)) == NULL) {
		snprintf(detail, detaillen, "digest: sha256, sha384 or sha512");
		return -1;
	}
	if (serve_text(reason, 512) == -1 || serve_text(location, 512) == -1 ||
	    serve_text(name, 512) == -1) {
		snprintf(detail, detaillen, "reason, location and name: text of "
		    "1 to 512 bytes without control characters");
		return -1;
	}
	r->job.reason = reason;
	r->job.location = location;
	r->job.name = name;
	if ((factor != NULL && serve_factor(factor, r, detail,
	    detaillen) == -1) || (stime != NULL && serve_signing_time(stime,
	    r, detail, detaillen) == -1) ||
	    (visible != NULL && serve_visible(visible, r, detail,
	    detaillen) == -1) ||
	    serve_documents(docs, r, detail, detaillen) == -1)
		return -1;
	return 0;
}

void
serve_request_clear(struct serve_request *r)
{
	json_t *root = r->root;
	const char *code;
	json_t *f;
	size_t i;

	for (i = 0; i < r->ndocs; i++) {
		free((void *)r->docs[i].in);
		free(r->docs[i].out);
	}
	free(r->docs);
	/* The factor's code also sits in the parsed JSON. */
	if (root != NULL && (f = json_object_get(root, "factor")) != NULL &&
	    (code = json_string_value(json_object_get(f, "code"))) != NULL)
		OPENSSL_cleanse((char *)code, strlen(code));
	json_decref(root);
	OPENSSL_cleanse(r->code, sizeof(r->code));
	memset(r, 0, sizeof(*r));
}

/* --- HTTP ----------------------------------------------------------------- */

static int
serve_answer(struct http_response *resp, const struct serve_request *r)
{
	json_t *o = NULL, *docs;
	char *b64;
	size_t i;
	int rc = -1;

	if ((o = json_object()) == NULL || (docs = json_array()) == NULL ||
	    json_object_set_new(o, "documents", docs) == -1 ||
	    json_object_set_new(o, "level",
	    json_string(sign_level_name(r->job.level))) == -1)
		goto out;
	for (i = 0; i < r->ndocs; i++) {
		if ((b64 = cscc_b64_encode(r->docs[i].out,
		    r->docs[i].outlen)) == NULL)
			goto out;
		if (json_array_append_new(docs, json_pack("{s:s, s:s}", "name",
		    r->docs[i].label, "pdf", b64)) == -1) {
			free(b64);
			goto out;
		}
		free(b64);
	}
	rc = http_respond_json(resp, 200, o);
out:
	json_decref(o);
	return rc;
}

/*
 * POST /v1/sign/hashes: what POST /v1/sign would have authorized for these
 * documents at this signing time, with the request's credential, and
 * their binding's reference: the application asks the RA for a sign OTP
 * with this credential_id and these hashes (it is bound to both,
 * schema/060, 061), then calls POST /v1/sign with the same body, the
 * code and this signing_time, which give the same hashes.
 */
static int
serve_hashes(struct http_response *resp, const struct serve_request *r,
    unsigned char (*h)[EVP_MAX_MD_SIZE])
{
	unsigned char *hp[CSCC_HASHES_MAX];
	char ref[FACTOR_BINDING_REF_SIZE], when[TIME_ISO8601_MAX];
	json_t *o;
	size_t i;
	int rc = -1;

	for (i = 0; i < r->ndocs; i++)
		hp[i] = h[i];
	/* Identical documents were refused by their bytes (sign/job.c). */
	if ((o = sign_otp_documents(r->job.credential, r->job.md, hp,
	    r->ndocs, ref)) == NULL)
		return -1;
	if (json_object_set_new(o, "signing_time", json_string(time_iso8601(
	    r->job.signing_time, when, sizeof(when)))) == -1 ||
	    json_object_set_new(o, "documents", json_integer(
	    (json_int_t)r->ndocs)) == -1 ||
	    json_object_set_new(o, "binding_ref", json_string(ref)) == -1)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	json_decref(o);
	return rc;
}

static int
serve_handle(void *arg, const struct http_request *req,
    struct http_response *resp)
{
	struct serve *sv = arg;
	struct serve_request r;
	const struct serve_caller *caller;
	const char *ct = req->content_type;
	char detail[1024];
	enum sign_status st;
	int parsed;
	unsigned char (*h)[EVP_MAX_MD_SIZE] = NULL;
	json_t *health;
	int rc, hashes_only;

	if (strcmp(req->path, "/health") == 0) {
		/* RFC 9110 §15.5.6: a 405 names the methods in Allow. */
		if (strcmp(req->method, "GET") != 0)
			return http_add_header(resp, "Allow", "GET") == -1 ? -1 :
			    http_problem(resp, 405, NULL, NULL, "GET only");
		health = json_pack("{s:s}", "status", "ok");
		rc = http_respond_json(resp, 200, health);
		json_decref(health);
		return rc;
	}
	if (strcmp(req->path, "/v1/sign") != 0 &&
	    strcmp(req->path, "/v1/sign/hashes") != 0)
		return http_problem(resp, 404, NULL, NULL, "POST /v1/sign or "
		    "/v1/sign/hashes");
	hashes_only = strcmp(req->path, "/v1/sign/hashes") == 0;
	/* serve_admit let only known callers in; asked again for the name. */
	if ((caller = serve_caller(sv, req)) == NULL)
		return http_problem(resp, 401, NULL, NULL, "unknown caller");
	if (strcmp(req->method, "POST") != 0)
		return http_add_header(resp, "Allow", "POST") == -1 ? -1 :
		    http_problem(resp, 405, NULL, NULL, "POST only");
	if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0 ||
	    (ct[16] != '\0' && ct[16] != ';'))
		return http_problem(resp, 415, NULL, NULL,
		    "the body must be application/json");
	if ((parsed = serve_parse(req->body, req->body_len, &r, detail,
	    sizeof(detail))) != 0) {
		serve_request_clear(&r);
		return http_problem(resp, parsed == SERVE_PARSE_NO_MEMORY ?
		    503 : 400, NULL, NULL, detail);
	}
	r.job.csc_url = sv->csc_url;
	r.job.client_id = sv->client_id;
	r.job.client_secret = sv->secret;
	r.job.tsa_url = sv->tsa_url;
	r.job.ca_file = sv->ca_file;
	if (r.job.level != SIGN_LEVEL_BB && sv->tsa_url == NULL) {
		serve_request_clear(&r);
		return http_problem(resp, 400, NULL, NULL, "this service has "
		    "no TSA (pades.tsa_url): level B-B only");
	}
	/* A factor (its code) on POST /v1/sign only. */
	if ((r.job.code != NULL) == hashes_only) {
		serve_request_clear(&r);
		return http_problem(resp, 400, NULL, NULL, hashes_only ?
		    "factor: not here; give it to POST /v1/sign with the code "
		    "asked for these hashes" : "factor: required");
	}
	/* A signing time chosen by the caller only for an OTP's hashes. */
	if (!hashes_only && r.job.signing_time != 0 &&
	    r.job.factor != CSCC_FACTOR_OTP) {
		serve_request_clear(&r);
		return http_problem(resp, 400, NULL, NULL, "signing_time: only "
		    "with an OTP factor (the one POST /v1/sign/hashes "
		    "answered for the hashes the code was asked for)");
	}
	if (hashes_only) {
		if (r.job.signing_time == 0)
			r.job.signing_time = time(NULL);
		if ((h = calloc(r.ndocs, sizeof(*h))) == NULL) {
			serve_request_clear(&r);
			return -1;
		}
		st = sign_hashes(&r.job, r.docs, r.ndocs, h, detail,
		    sizeof(detail));
	} else
		st = sign_documents(&r.job, r.docs, r.ndocs, detail,
		    sizeof(detail));
	switch (st) {
	case SIGN_OK:
		if (hashes_only) {
			log_info("hashes of %zu document(s) for account %s, "
			    "credential %s, caller %s", r.ndocs, r.job.user,
			    r.job.credential, caller->name);
			rc = serve_hashes(resp, &r, h);
			break;
		}
		log_info("signed %zu document(s) (%s) for account %s, "
		    "credential %s, caller %s", r.ndocs,
		    sign_level_name(r.job.level), r.job.user,
		    r.job.credential, caller->name);
		rc = serve_answer(resp, &r);
		break;
	case SIGN_REFUSED:
		log_info("refused by the signing service: account %s, "
		    "credential %s, caller %s", r.job.user, r.job.credential,
		    caller->name);
		rc = http_problem(resp, 403, NULL, NULL, detail);
		break;
	case SIGN_UNAUTHORIZED:
		/*
		 * This service's client id, secret or access token, not the
		 * subscriber's doing: the operator's to mend.
		 */
		log_warn("the signing service refused this service's own "
		    "credentials (pades.client_id, client_secret_file): %s",
		    detail);
		rc = http_problem(resp, 502, NULL, NULL, detail);
		break;
	case SIGN_BAD_DOCUMENT:
		rc = http_problem(resp, 422, NULL, NULL, detail);
		break;
	default:
		log_warn("signing failed: %s", detail);
		rc = http_problem(resp, 502, NULL, NULL, detail);
		break;
	}
	free(h);
	serve_request_clear(&r);
	return rc;
}

static void
serve_usage(void)
{
	fprintf(stderr, "usage: pkisign serve [--config FILE]\n");
	exit(2);
}

int
pkisign_serve(int argc, char **argv)
{
	struct serve sv;
	struct config *cfg = NULL;
	struct http_server *srv = NULL;
	struct http_limits lim;
	const char *secret_file, *callers_file, *readable[1];
	char err[512];
	long port, threads, max_mib, mem_mib, cpu_s;
	sigset_t sigs;
	int sig, curl = 0, rc = 1;

	memset(&sv, 0, sizeof(sv));
	if ((cfg = daemon_load_config(argc, argv, "pades", serve_usage)) == NULL)
		return 1;
	sv.cfg = cfg;
	sv.csc_url = config_get(cfg, "pades.csc_url", NULL);
	sv.client_id = config_get(cfg, "pades.client_id", NULL);
	sv.tsa_url = config_get(cfg, "pades.tsa_url", NULL);
	sv.ca_file = config_get(cfg, "pades.ca_file", NULL);
	secret_file = config_get(cfg, "pades.client_secret_file", NULL);
	callers_file = config_get(cfg, "pades.callers_file", NULL);
	if (sv.csc_url == NULL || sv.client_id == NULL || secret_file == NULL ||
	    callers_file == NULL) {
		log_err("config: pades.csc_url, pades.client_id, "
		    "pades.client_secret_file and pades.callers_file are "
		    "required");
		goto out;
	}
	if (serve_callers_load(&sv, callers_file, err, sizeof(err)) == -1) {
		log_err("pades.callers_file: %s", err);
		goto out;
	}
	if (config_get_long(cfg, "pades.port", 18086, 0, 65535, &port) == -1 ||
	    config_get_long(cfg, "pades.threads", 2, 1, 64, &threads) == -1 ||
	    config_get_long(cfg, "pades.max_body_mib", 64, 1, 512,
	    &max_mib) == -1 ||
	    config_get_long(cfg, "pades.memory_limit_mib",
	    SERVE_MEMORY_MIB(threads, max_mib), 0, 1L << 22, &mem_mib) == -1 ||
	    config_get_long(cfg, "pades.read_cpu_limit_seconds",
	    PDF_READ_CPU_MS_DEFAULT / 1000, 0, 3600, &cpu_s) == -1)
		goto out;
	pdf_set_read_cpu_limit(cpu_s * 1000);
	/*
	 * Before any thread: jansson's allocator is the process's. The
	 * factor arrives in JSON, so what jansson frees is wiped.
	 */
	json_wipe_on_free(serve_json_malloc, NULL);
	if (serve_limit_memory((unsigned long)mem_mib,
	    (unsigned int)threads) == -1)
		goto out;
	if (secret_read(secret_file, NULL, sv.secret, sizeof(sv.secret), err,
	    sizeof(err)) == -1) {
		log_err("pades.client_secret_file: %s", err);
		goto out;
	}
	/* Before any thread and the sandbox. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_err("curl_global_init failed");
		goto out;
	}
	curl = 1;
	daemon_block_signals(&sigs);
	memset(&lim, 0, sizeof(lim));
	/* Behind a reverse proxy: the client from X-Forwarded-For (lib/proxy.h). */
	lim.trusted_proxies = config_get(cfg, "pades.trusted_proxies", NULL);
	lim.max_body = (size_t)max_mib * 1024 * 1024;
	lim.threads = (unsigned int)threads;
	lim.timeout_s = SERVE_TIMEOUT_S;
	lim.body_deadline_s = SERVE_BODY_DEADLINE_S;
	lim.body_min_rate = SERVE_BODY_MIN_RATE;
	lim.admit = serve_admit;
	/*
	 * Before the threads: no file written; read only the system's and
	 * pades.ca_file, the trust anchors each job loads to check the chain
	 * (sign/job.c; a PDF arrives in memory).
	 */
	readable[0] = sv.ca_file;
	if (sandbox_limit_files(cfg, "pades", "pkisign serve", NULL, 0,
	    readable, 1) == -1)
		goto out;
	/* Bound as root, served once demoted and filtered (lib/http.h). */
	if ((srv = http_listen(config_get(cfg, "pades.listen", "127.0.0.1"),
	    (uint16_t)port, &lim, serve_handle, &sv, err, sizeof(err))) ==
	    NULL) {
		log_err("http: %s", err);
		goto out;
	}
	if (sandbox_enter(cfg, "pades", SANDBOX_NET_FILES) == -1)
		goto out;
	if (http_serve(srv, err, sizeof(err)) == -1) {
		log_err("http: %s", err);
		goto out;
	}
	log_info("signing PDFs on %s with %s as client %s%s%s, for %zu "
	    "caller(s)", http_where(srv), sv.csc_url, sv.client_id,
	    sv.tsa_url != NULL ? ", TSA " : "",
	    sv.tsa_url != NULL ? sv.tsa_url : "", sv.ncallers);
	do {
		if (sigwait(&sigs, &sig) != 0)
			break;
	} while (sig == SIGHUP);
	log_info("signal %d: stopping", sig);
	rc = 0;
out:
	http_stop(srv);
	OPENSSL_cleanse(sv.secret, sizeof(sv.secret));
	if (curl)
		curl_global_cleanup();
	config_free(cfg);
	return rc;
}
