/*
 * ocspd: the OCSP responder (RFC 6960, RFC 5019 profile) for every issuer we
 * run (root and issuing CA), each answered by its own delegated responder.
 *
 * Processes:
 *  - the signer (hsm/signerproc.c), forked first: it alone loads the PKCS#11
 *    module and logs in to the OCSP token; it signs only OCSP ResponseData
 *    with the responder keys named in ca_key, nothing else.
 *  - this worker: reads the issuers and their responder certificates and the
 *    status of every certificate from PostgreSQL (role pki_ocsp, SELECT
 *    only), answers HTTP GET and POST on libmicrohttpd threads from a
 *    pre-signed in-memory cache, signs live only what the cache cannot
 *    answer (nonces, several CertIDs, serials never issued, certificates
 *    expired past the policy's grace, looked up in PostgreSQL), and keeps the
 *    cache current from a maintenance thread (ocsp/sync.c: LISTEN
 *    certificate_status, reconciliation, pre-signing). It drops to an
 *    unprivileged user and enters a seccomp sandbox after start; it never
 *    holds a PIN or a private key, and changes no state but its cache.
 *
 * Configuration: pki.conf ([ocsp], [hsm], [pg]) and policy/ocsp.conf.
 * Stops cleanly on SIGTERM or SIGINT.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "hsm/signer.h"
#include "lib/config.h"
#include "lib/daemon.h"
#include "lib/db.h"
#include "lib/http.h"
#include "lib/log.h"
#include "lib/sandbox.h"
#include "ocsp/extern.h"

#define OCSP_MAX_BODY		(8 * 1024)	/* an OCSPRequest is ~100 bytes */
#define OCSP_CT_REQUEST		"application/ocsp-request"
#define OCSP_CT_RESPONSE	"application/ocsp-response"

static void
usage(void)
{
	fprintf(stderr, "usage: ocspd [--config FILE]\n");
	exit(2);
}

static int
ocspd_health(struct ocsp_responder *r, struct http_response *resp)
{
	struct ocsp_cache_stats cs;
	time_t now = time(NULL);
	int64_t synced = __atomic_load_n(&r->synced_at, __ATOMIC_ACQUIRE);
	int64_t lag = __atomic_load_n(&r->standby_lag, __ATOMIC_RELAXED);
	int db_ok = __atomic_load_n(&r->db_ok, __ATOMIC_RELAXED), rc = -1;
	int standby = __atomic_load_n(&r->db_standby, __ATOMIC_RELAXED);
	json_t *o;

	ocsp_cache_stats(r->cache, synced - r->pol.refresh, now, &cs);
	o = json_pack("{s:s, s:b, s:b, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I}, "
	    "s:I, s:I, s:I}",
	    "status", db_ok && cs.stale == 0 && cs.expired == 0 &&
	    cs.unsigned_entries == 0 ? "ok" : "degraded",
	    "database_ok", db_ok,
	    "database_standby", standby,
	    "synced_at", (json_int_t)synced,
	    "synced_seconds_ago", (json_int_t)(now - synced),
	    "cache",
	    "certificates", (json_int_t)cs.entries,
	    "nonissued", (json_int_t)cs.nonissued,
	    "responses", (json_int_t)cs.blobs,
	    "unsigned", (json_int_t)cs.unsigned_entries,
	    "stale", (json_int_t)cs.stale,
	    "expired", (json_int_t)cs.expired,
	    "serving_until", (json_int_t)cs.oldest_next_update,
	    "signed_live", (json_int_t)__atomic_load_n(&r->signed_live,
	    __ATOMIC_RELAXED),
	    "signed_ahead", (json_int_t)__atomic_load_n(&r->signed_ahead,
	    __ATOMIC_RELAXED));
	if (o == NULL)
		return -1;
	/*
	 * How far the standby's data is behind the primary (sync.c): null
	 * on a primary, or when the standby cannot say (then database_ok is
	 * false too).
	 */
	if (json_object_set_new(o, "standby_lag_seconds", standby &&
	    lag >= 0 ? json_integer((json_int_t)lag) : json_null()) == -1)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	json_decref(o);
	return rc;
}

/*
 * RFC 5019 §6.2 caching headers for a GET answered from a blob: max-age
 * is the policy's bound (ocsp_blob_max_age), not the time to nextUpdate,
 * and Expires says the same. Last-Modified is thisUpdate, but never
 * later than now (RFC 9110 §8.8.2.1): a revoked answer's thisUpdate is
 * its revocationTime, which a database clock ahead of ours may put up to
 * OCSP_CLOCK_SKEW_S into our future (ocsp_this_update).
 */
static int
ocspd_cache_headers(struct http_response *resp, const struct ocsp_blob *b)
{
	char cc[96], expires[32], lm[32];
	time_t now = time(NULL);
	long age = ocsp_blob_max_age(b, now, expires, sizeof(expires));

	snprintf(cc, sizeof(cc), "max-age=%ld, public, no-transform, "
	    "must-revalidate", age);
	if (b->this_update > (int64_t)now)
		ocsp_http_date((int64_t)now, lm, sizeof(lm));
	else
		snprintf(lm, sizeof(lm), "%s", b->last_modified);
	if (http_add_header(resp, "Cache-Control", cc) == -1 ||
	    http_add_header(resp, "Last-Modified", lm) == -1 ||
	    http_add_header(resp, "Expires", expires) == -1 ||
	    http_add_header(resp, "ETag", b->etag) == -1)
		return -1;
	return 0;
}

/*
 * An answer no cache may keep: an error (malformedRequest, unauthorized,
 * tryLater, an HTTP problem: RFC 5019 §6.2 wants these marked, and a 405
 * is heuristically cacheable, RFC 9110 §15.5.6) or one signed live.
 */
static int
ocspd_no_store(struct http_response *resp)
{
	return http_add_header(resp, "Cache-Control", "no-store");
}

static int
ocspd_handle(void *arg, const struct http_request *req,
    struct http_response *resp)
{
	struct ocsp_responder *r = arg;
	struct ocsp_blob *blob = NULL;
	const unsigned char *der = NULL, *body;
	unsigned char *decoded = NULL;
	size_t derlen, bodylen;
	int get, owned = 0, cacheable = 0, rc = -1;

	get = strcmp(req->method, "GET") == 0;
	if (get && strcmp(req->path, "/health") == 0)
		return ocspd_health(r, resp);
	if (get) {
		/* RFC 6960 Appendix A.1: GET {url}/{url-encoding of base-64 of DER}. */
		if (strcmp(req->path, "/") == 0) {
			ocspd_no_store(resp);
			return http_problem(resp, 400, NULL, "Bad Request",
			    "RFC 6960 A.1: GET /{base64 of a DER OCSPRequest} "
			    "or POST an application/ocsp-request to /");
		}
		if (ocsp_path_decode(req->path, &decoded, &bodylen) == -1) {
			if (http_respond(resp, 200, OCSP_CT_RESPONSE,
			    ocsp_malformed_der,
			    sizeof(ocsp_malformed_der)) == -1 ||
			    ocspd_no_store(resp) == -1)
				goto out;
			rc = 0;
			goto out;
		}
		body = decoded;
	} else if (strcmp(req->method, "POST") == 0) {
		if (req->content_type == NULL || strncasecmp(req->content_type,
		    OCSP_CT_REQUEST, strlen(OCSP_CT_REQUEST)) != 0 ||
		    (req->content_type[strlen(OCSP_CT_REQUEST)] != '\0' &&
		    req->content_type[strlen(OCSP_CT_REQUEST)] != ';')) {
			ocspd_no_store(resp);
			return http_problem(resp, 415, NULL,
			    "Unsupported Media Type",
			    "RFC 6960 A.1: the body must be " OCSP_CT_REQUEST);
		}
		body = req->body;
		bodylen = req->body_len;
	} else {
		http_add_header(resp, "Allow", "GET, POST");
		ocspd_no_store(resp);
		return http_problem(resp, 405, NULL, "Method Not Allowed",
		    "RFC 6960 A.1: OCSP over HTTP is GET or POST");
	}
	if (ocsp_answer(r, body, bodylen, &der, &derlen, &blob, &owned,
	    &cacheable) == -1)
		goto out;
	/*
	 * Conditional GET (RFC 9110 §13), for answers caches may keep only,
	 * by If-None-Match alone: If-Modified-Since is ignored (§13.1.3),
	 * as one-second Last-Modified dates cannot tell a "good" answer from
	 * a "revoked" one dated the same second (ocsp_not_modified). A 304
	 * carries the validators and freshness the 200 would (ETag,
	 * Cache-Control, Expires, Last-Modified: §15.4.5), no body, and the
	 * 200's Content-Length (§8.6).
	 */
	if (get && cacheable && blob != NULL && ocsp_not_modified(blob,
	    http_header(req, "If-None-Match"))) {
		if (http_not_modified(resp, derlen) == -1 ||
		    ocspd_cache_headers(resp, blob) == -1)
			goto out;
		rc = 0;
		goto out;
	}
	if (http_respond(resp, 200, OCSP_CT_RESPONSE, der, derlen) == -1)
		goto out;
	/*
	 * Cacheable answers carry RFC 5019 §6.2 headers over GET (POST
	 * answers are not cached: RFC 5019 §5). Live ones (owned) say
	 * no-store over GET, errors (static DER) over either method.
	 */
	if (cacheable && blob != NULL) {
		if (get && ocspd_cache_headers(resp, blob) == -1)
			goto out;
	} else if ((get || !owned) && ocspd_no_store(resp) == -1)
		goto out;
	rc = 0;
out:
	if (owned)
		OPENSSL_free((unsigned char *)der);
	ocsp_blob_unref(blob);
	free(decoded);
	return rc;
}

/*
 * Every delegated responder certificate (role 'ocsp') with its issuer and key
 * label; the newest responder of each issuer wins.
 */
static int
ocspd_load_issuers(const struct config *cfg, struct ocsp_responder *r,
    char labels[][SIGNER_LABEL_MAX + 1])
{
	static const struct db_stmt stmt = { "ocsp_main_issuers",
		"SELECT DISTINCT ON (i.id) i.id, i.name, i.der, r.der, k.key_label "
		"FROM ca_certificate r JOIN ca_key k ON k.id = r.key_id "
		"JOIN ca_certificate i ON i.id = r.issuer_id "
		"WHERE r.role = 'ocsp' ORDER BY i.id, r.not_before DESC", 0 };
	const char *uri = config_get(cfg, "pg.ocsp_uri", NULL);
	struct db *db = NULL;
	PGresult *res = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len;
	X509 *x;
	char err[512];
	int i, col, rc = -1;

	if (uri == NULL) {
		log_err("config: pg.ocsp_uri missing");
		goto out;
	}
	if ((db = db_connect(uri, err, sizeof(err))) == NULL) {
		log_err("database: %s", err);
		goto out;
	}
	if ((res = db_exec(db, &stmt, NULL, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) == 0 || PQntuples(res) > OCSP_MAX_ISSUERS) {
		log_err("%d OCSP responder certificates in the database: run "
		    "`pkictl ca init`", PQntuples(res));
		goto out;
	}
	for (i = 0; i < PQntuples(res); i++) {
		struct ocsp_issuer *iss = &r->iss[r->niss];

		iss->db_id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		snprintf(iss->name, sizeof(iss->name), "%s", PQgetvalue(res, i, 1));
		snprintf(labels[r->niss], SIGNER_LABEL_MAX + 1, "%s",
		    PQgetvalue(res, i, 4));
		r->niss++;
		for (col = 2; col <= 3; col++) {
			der = PQunescapeBytea((const unsigned char *)
			    PQgetvalue(res, i, col), &len);
			p = der;
			x = der != NULL ? d2i_X509(NULL, &p, (long)len) : NULL;
			PQfreemem(der);
			if (x == NULL) {
				log_err("certificate of %s: not DER", iss->name);
				goto out;
			}
			if (col == 2)
				iss->cert = x;
			else
				iss->rcert = x;
		}
		if (ocsp_issuer_hash(iss) == -1) {
			log_openssl(LOGL_ERR, "hashing issuer %s", iss->name);
			goto out;
		}
	}
	rc = 0;
out:
	PQclear(res);
	db_close(db);
	return rc;
}

int
main(int argc, char **argv)
{
	struct ocsp_responder r;
	struct config *cfg = NULL, *policy = NULL;
	struct signer_config sc;
	struct signer *signers[OCSP_SIGNERS_MAX] = { NULL };
	struct ocsp_sync *sync = NULL;
	struct http_server *srv = NULL;
	struct http_limits lim;
	const char *policy_dir;
	char err[512], policy_path[PATH_MAX];
	char labels[OCSP_MAX_ISSUERS][SIGNER_LABEL_MAX + 1];
	long port, threads, per_ip, max_conns, nsigners;
	sigset_t sigs;
	int i, j, reuse_port = 0, rc = 1;

	memset(&r, 0, sizeof(r));
	if ((cfg = daemon_load_config(argc, argv, "ocsp", usage)) == NULL)
		return 1;
	policy_dir = config_get(cfg, "pki.policy_dir", "policy");
	snprintf(policy_path, sizeof(policy_path), "%s/ocsp.conf", policy_dir);
	if ((policy = config_load(config_get(cfg, "ocsp.policy_file",
	    policy_path), err, sizeof(err))) == NULL) {
		log_err("%s", err);
		goto out;
	}
	if (ocsp_policy_load(policy, &r.pol, err, sizeof(err)) == -1) {
		log_err("%s", err);
		goto out;
	}
	if (config_get_long(cfg, "ocsp.port", 18081, 0, 65535, &port) == -1 ||
	    config_get_long(cfg, "ocsp.threads", 2, 1, 64, &threads) == -1 ||
	    config_get_long(cfg, "ocsp.max_conns", 1024, 1, 65536,
	    &max_conns) == -1 ||
	    config_get_long(cfg, "ocsp.max_conns_per_ip", 256, 1, 65536,
	    &per_ip) == -1 ||
	    config_get_bool(cfg, "ocsp.reuse_port", 0, &reuse_port) == -1 ||
	    config_get_long(cfg, "ocsp.signers", threads < OCSP_SIGNERS_MAX ?
	    threads : OCSP_SIGNERS_MAX, 1, OCSP_SIGNERS_MAX, &nsigners) == -1)
		goto out;
	if (ocspd_load_issuers(cfg, &r, labels) == -1)
		goto out;
	if ((r.cache = ocsp_cache_new()) == NULL) {
		log_err("out of memory");
		goto out;
	}

	/* The signer: the OCSP token, OCSP responses with the responder keys only. */
	memset(&sc, 0, sizeof(sc));
	if (signer_config_add_token(&sc, cfg, "ocsp") == -1)
		goto out;
	for (i = 0; i < r.niss; i++) {
		if (signer_config_grant(&sc, SIGNER_KIND_OCSP, labels[i]) == -1)
			goto out;
	}
	sc.sandbox_section = "ocsp";
	/* Signals go to sigwait() below: block them before any thread exists. */
	daemon_block_signals(&sigs);
	/*
	 * One signer process per signing thread: SoftHSM2 scales with
	 * processes. A PIN from the environment serves each of them, then
	 * leaves this process (hsm/README.md "PINs from the environment").
	 */
	sc.keep_pin_env = 1;
	for (j = 0; j < nsigners; j++)
		if ((signers[j] = signer_spawn(&sc, err, sizeof(err))) == NULL) {
			log_err("signer %d: %s", j, err);
			signer_config_forget_pins(&sc);
			goto out;
		}
	signer_config_forget_pins(&sc);
	for (i = 0; i < r.niss; i++) {
		for (j = 0; j < nsigners; j++) {
			if ((r.iss[i].keys[j] = signer_pkey(signers[j],
			    SIGNER_KIND_OCSP, labels[i], err, sizeof(err))) ==
			    NULL) {
				log_err("signer key %s: %s", labels[i], err);
				goto out;
			}
			r.iss[i].nkeys = j + 1;
		}
		if (X509_check_private_key(r.iss[i].rcert, r.iss[i].keys[0]) != 1) {
			log_openssl(LOGL_ERR, "responder certificate of %s does "
			    "not match key %s", r.iss[i].name, labels[i]);
			goto out;
		}
	}
	/* Before the first thread (the signers, forked, keep theirs). */
	if (sandbox_limit_writes(cfg, "ocsp", "ocspd", NULL, 0) == -1)
		goto out;
	if ((sync = ocsp_sync_start(&r, config_get(cfg, "pg.ocsp_uri", ""),
	    err, sizeof(err))) == NULL) {
		log_err("sync: %s", err);
		goto out;
	}
	memset(&lim, 0, sizeof(lim));
	/* Behind a reverse proxy: the client from X-Forwarded-For (lib/proxy.h). */
	lim.trusted_proxies = config_get(cfg, "ocsp.trusted_proxies", NULL);
	lim.max_body = OCSP_MAX_BODY;
	lim.threads = (unsigned int)threads;
	lim.timeout_s = 10;
	lim.max_conns = (unsigned int)max_conns;
	lim.max_conns_per_ip = (unsigned int)per_ip;
	/* Several ocspd processes may share the port (each with its signer). */
	lim.reuse_port = reuse_port;
	if ((srv = http_start(config_get(cfg, "ocsp.listen", "127.0.0.1"),
	    (uint16_t)port, &lim, ocspd_handle, &r, err, sizeof(err))) == NULL) {
		log_err("http: %s", err);
		goto out;
	}
	if (sandbox_enter(cfg, "ocsp", SANDBOX_NET_WORKER) == -1)
		goto out;
	log_info("serving OCSP on %s for %d issuer(s)", http_where(srv),
	    r.niss);
	rc = daemon_wait(&sigs, NULL, NULL);
out:
	http_stop(srv);
	ocsp_sync_stop(sync);
	ocsp_cache_free(r.cache);
	for (i = 0; i < r.niss; i++) {
		for (j = 0; j < r.iss[i].nkeys; j++)
			EVP_PKEY_free(r.iss[i].keys[j]);
		X509_free(r.iss[i].cert);
		X509_free(r.iss[i].rcert);
	}
	for (j = 0; j < OCSP_SIGNERS_MAX; j++)
		signer_close(signers[j]);
	config_free(policy);
	config_free(cfg);
	return rc;
}
