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
 * Stops cleanly on SIGTERM or SIGINT. The responder certificates are read
 * at start only: SIGHUP just logs that taking a new one needs a restart.
 */
#include <errno.h>
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
#include "lib/cpu.h"
#include "lib/daemon.h"
#include "lib/db.h"
#include "lib/http.h"
#include "lib/log.h"
#include "lib/sandbox.h"
#include "lib/timeutil.h"
#include "ocsp/extern.h"

#define OCSP_MAX_BODY		(8 * 1024)	/* an OCSPRequest is ~100 bytes */
/*
 * /health turns "degraded" this long before a responder certificate's
 * notAfter: responder certificates live 90 days
 * (policy/profiles/ocsp-responder.cnf), and ocspd loads one at start only,
 * so a new one needs issuing and a restart before then. From
 * validity_seconds (4 days) before it, nextUpdate is cut short to it.
 */
#define OCSP_RESPONDER_WARN_S	(14 * 86400)
/*
 * /health turns "degraded" when the statuses were last read longer ago
 * than this many poll periods plus OCSP_HEALTH_SYNC_SLACK_S (a full pass
 * over a large table takes seconds, and synced_at is when a read
 * started), plus max_standby_lag_seconds on a standby, whose healthy data
 * may be that old: the maintenance thread is stuck, though the last
 * thing it saw was a working database (db_ok).
 */
#define OCSP_HEALTH_SYNC_POLLS	5
#define OCSP_HEALTH_SYNC_SLACK_S	10
#define OCSP_CT_REQUEST		"application/ocsp-request"
#define OCSP_CT_RESPONSE	"application/ocsp-response"

static void
usage(void)
{
	fprintf(stderr, "usage: ocspd [--config FILE]\n");
	exit(2);
}

/*
 * GET /health: JSON for monitoring (ocsp/README.md "What it answers").
 * "degraded" when the database is down or lagging, the statuses were read
 * too long ago (OCSP_HEALTH_SYNC_POLLS), the cache holds stale, expired or
 * unsigned answers, or a responder certificate expires within
 * OCSP_RESPONDER_WARN_S.
 */
static int
ocspd_health(struct ocsp_responder *r, struct http_response *resp)
{
	struct ocsp_cache_stats cs;
	time_t now = time(NULL);
	int64_t synced = __atomic_load_n(&r->synced_at, __ATOMIC_ACQUIRE);
	int64_t lag = __atomic_load_n(&r->standby_lag, __ATOMIC_RELAXED);
	int64_t sync_limit, first_expiry = 0;
	int db_ok = __atomic_load_n(&r->db_ok, __ATOMIC_RELAXED), ok, i;
	int standby = __atomic_load_n(&r->db_standby, __ATOMIC_RELAXED);
	int rc = -1;
	json_t *o = NULL, *rna = NULL;

	ocsp_cache_stats(r->cache, synced - r->pol.refresh, now, &cs);
	sync_limit = OCSP_HEALTH_SYNC_POLLS * r->pol.poll_ms / 1000 +
	    OCSP_HEALTH_SYNC_SLACK_S + (standby ? r->pol.max_standby_lag : 0);
	/* Each issuer's responder certificate: its notAfter. */
	if ((rna = json_object()) == NULL)
		goto out;
	for (i = 0; i < r->niss; i++) {
		if (json_object_set_new(rna, r->iss[i].name,
		    json_integer((json_int_t)r->iss[i].rnot_after)) == -1)
			goto out;
		if (first_expiry == 0 || r->iss[i].rnot_after < first_expiry)
			first_expiry = r->iss[i].rnot_after;
	}
	ok = db_ok && now - synced <= sync_limit && cs.stale == 0 &&
	    cs.expired == 0 && cs.unsigned_entries == 0 &&
	    (first_expiry == 0 || first_expiry - now > OCSP_RESPONDER_WARN_S);
	o = json_pack("{s:s, s:b, s:b, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I}, "
	    "s:I, s:I, s:I, s:O}",
	    "status", ok ? "ok" : "degraded",
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
	    __ATOMIC_RELAXED),
	    "responder_not_after", rna);
	if (o == NULL)
		goto out;
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
	json_decref(rna);
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
 * Every delegated responder certificate (role 'ocsp') with its issuer and
 * key label; of each issuer's, the newest (by notBefore) that is valid
 * now. One not yet valid (made ahead of a rotation) or expired is
 * skipped: a response it signed would not verify. An issuer with none
 * valid stops ocspd, saying so, rather than sign what relying parties
 * reject. Read at start only (ocsp/README.md "Responder certificates").
 */
static int
ocspd_load_issuers(const struct config *cfg, struct ocsp_responder *r)
{
	static const struct db_stmt stmt = { "ocsp_main_issuers",
		"SELECT i.id, i.name, i.der, r.der, k.key_label, r.name "
		"FROM ca_certificate r JOIN ca_key k ON k.id = r.key_id "
		"JOIN ca_certificate i ON i.id = r.issuer_id "
		"WHERE r.role = 'ocsp' ORDER BY i.id, r.not_before DESC, r.id DESC",
		0 };
	const char *uri = config_get(cfg, "pg.ocsp_uri", NULL);
	struct db *db = NULL;
	PGresult *res = NULL;
	struct ocsp_issuer *iss;
	X509 *x[2] = { NULL, NULL };
	unsigned char *der;
	const unsigned char *p;
	size_t len;
	time_t now = time(NULL);
	int64_t nb, na;
	char err[512], t1[TIME_ISO8601_MAX], t2[TIME_ISO8601_MAX];
	long long id, prev = -1;
	int i, col, found = 1, rc = -1;

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
	if (PQntuples(res) == 0) {
		log_err("no OCSP responder certificate in the database: run "
		    "`pkictl ca init`");
		goto out;
	}
	for (i = 0; i < PQntuples(res); i++) {
		id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		if (id != prev) {
			if (!found)
				break;	/* the previous issuer had none */
			prev = id;
			found = 0;
		}
		if (found)
			continue;	/* an older one of an issuer we have */
		for (col = 0; col < 2; col++) {
			der = PQunescapeBytea((const unsigned char *)
			    PQgetvalue(res, i, 2 + col), &len);
			p = der;
			x[col] = der != NULL ? d2i_X509(NULL, &p, (long)len) :
			    NULL;
			PQfreemem(der);
			if (x[col] == NULL) {
				log_err("certificate %s: not DER",
				    PQgetvalue(res, i, col == 0 ? 1 : 5));
				goto out;
			}
		}
		if (!ocsp_responder_valid(x[1], now)) {
			if (time_from_asn1(X509_get0_notBefore(x[1]), &nb) == -1 ||
			    time_from_asn1(X509_get0_notAfter(x[1]), &na) == -1)
				nb = na = 0;
			log_warn("responder certificate %s of %s is not valid "
			    "now (%s to %s): skipped", PQgetvalue(res, i, 5),
			    PQgetvalue(res, i, 1), time_iso8601(nb, t1,
			    sizeof(t1)), time_iso8601(na, t2, sizeof(t2)));
			X509_free(x[0]);
			X509_free(x[1]);
			x[0] = x[1] = NULL;
			continue;
		}
		if (r->niss == OCSP_MAX_ISSUERS) {
			log_err("more than %d issuers with an OCSP responder",
			    OCSP_MAX_ISSUERS);
			goto out;
		}
		iss = &r->iss[r->niss];
		iss->db_id = id;
		snprintf(iss->name, sizeof(iss->name), "%s", PQgetvalue(res, i, 1));
		snprintf(iss->key_label, sizeof(iss->key_label), "%s",
		    PQgetvalue(res, i, 4));
		r->niss++;
		/* Owned by r now (freed at the end of main). */
		iss->cert = x[0];
		iss->rcert = x[1];
		x[0] = x[1] = NULL;
		found = 1;
		if (ocsp_issuer_prepare(iss, r->pol.sign_mdname) == -1) {
			log_openssl(LOGL_ERR, "hashing issuer %s", iss->name);
			goto out;
		}
		log_info("issuer %s: responder certificate %s, valid until %s",
		    iss->name, PQgetvalue(res, i, 5), time_iso8601(
		    iss->rnot_after, t1, sizeof(t1)));
	}
	if (!found) {
		log_err("issuer %s: no OCSP responder certificate valid now "
		    "(see the lines above): ocspd cannot sign for it; issue a "
		    "new one, then start ocspd", PQgetvalue(res, i - 1, 1));
		goto out;
	}
	rc = 0;
out:
	X509_free(x[0]);
	X509_free(x[1]);
	PQclear(res);
	db_close(db);
	return rc;
}

/*
 * SIGHUP: the responder certificates are read at start only. A new one
 * usually comes with a new key, which the signer processes, forked and
 * granted their key labels before the PIN was forgotten, cannot use: a
 * restart is what takes it (ocsp/README.md "Responder certificates").
 */
/* The signer processes, and the one each thread that signs keeps to. */
struct ocspd_signers {
	struct signer	*s[OCSP_SIGNERS_MAX];
	int		 cpu[OCSP_SIGNERS_MAX];	/* ocsp.pin_cpus; -1: none */
	int		 n;
	unsigned int	 next;		/* atomic: the next thread's */
};

/*
 * ocsp_responder.sign: each thread that signs (the HTTP threads, the
 * pre-signing thread) keeps to one signer process, so with ocsp.signers
 * = ocsp.threads no two HTTP threads wait for each other; with
 * ocsp.pin_cpus it pins itself, when it first signs, to its signer's CPU.
 */
static int
ocspd_sign(void *arg, const struct ocsp_issuer *iss, const char *mdname,
    const unsigned char *tbs, size_t tbslen, unsigned char **sig,
    size_t *siglen)
{
	static __thread int slot = -1;
	struct ocspd_signers *sg = arg;
	char err[256];

	if (slot == -1) {
		slot = (int)(__atomic_fetch_add(&sg->next, 1, __ATOMIC_RELAXED) %
		    (unsigned int)sg->n);
		if (sg->cpu[slot] != -1 && cpu_pin_thread(sg->cpu[slot]) == -1)
			log_warn("ocsp: a thread signing through signer %d "
			    "cannot pin itself to CPU %d: %s", slot,
			    sg->cpu[slot], strerror(errno));
	}
	if (signer_sign(sg->s[slot], SIGNER_KIND_OCSP, iss->key_label, mdname,
	    tbs, tbslen, sig, siglen, err, sizeof(err)) == -1) {
		log_err("ocsp: signing a response for issuer %s: %s", iss->name,
		    err);
		return -1;
	}
	return 0;
}

/* Every signer holds each issuer's responder key: its certificate's. */
static int
ocspd_check_keys(struct ocsp_responder *r, struct ocspd_signers *sg)
{
	EVP_PKEY *pub;
	char err[256];
	int i, j, same;

	for (i = 0; i < r->niss; i++) {
		for (j = 0; j < sg->n; j++) {
			if (signer_pubkey(sg->s[j], r->iss[i].key_label, &pub,
			    err, sizeof(err)) == -1) {
				log_err("signer key %s: %s",
				    r->iss[i].key_label, err);
				return -1;
			}
			same = EVP_PKEY_eq(pub,
			    X509_get0_pubkey(r->iss[i].rcert)) == 1;
			EVP_PKEY_free(pub);
			if (!same) {
				log_err("responder certificate of %s does not "
				    "match key %s", r->iss[i].name,
				    r->iss[i].key_label);
				return -1;
			}
		}
	}
	return 0;
}

static void
ocspd_hup(void *arg)
{
	log_warn("SIGHUP: ocspd reads its responder certificates at start "
	    "only; restart it to take a new one");
}

int
main(int argc, char **argv)
{
	struct ocsp_responder r;
	struct config *cfg = NULL, *policy = NULL;
	struct signer_config sc;
	struct ocspd_signers sg;
	struct ocsp_sync *sync = NULL;
	struct http_server *srv = NULL;
	struct http_limits lim;
	const char *policy_dir;
	char err[512], policy_path[PATH_MAX];
	long port, threads, per_ip, max_conns, nsigners;
	sigset_t sigs;
	int i, j, pin_cpus = 0, reuse_port = 0, rc = 1;

	memset(&r, 0, sizeof(r));
	memset(&sg, 0, sizeof(sg));
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
	    config_get_bool(cfg, "ocsp.pin_cpus", 0, &pin_cpus) == -1 ||
	    config_get_long(cfg, "ocsp.signers", threads < OCSP_SIGNERS_MAX ?
	    threads : OCSP_SIGNERS_MAX, 1, OCSP_SIGNERS_MAX, &nsigners) == -1)
		goto out;
	if (ocspd_load_issuers(cfg, &r) == -1)
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
		if (signer_config_grant(&sc, SIGNER_KIND_OCSP,
		    r.iss[i].key_label) == -1)
			goto out;
	}
	/* No response of ours reaches further: nor one the signer signs. */
	sc.ocsp_max_validity_s = (r.pol.validity > r.pol.nonissued_validity ?
	    r.pol.validity : r.pol.nonissued_validity) + 300;
	sc.sandbox_section = "ocsp";
	/* Signals go to sigwait() below: block them before any thread exists. */
	daemon_block_signals(&sigs);
	/*
	 * One signer process per signing thread: SoftHSM2 scales with
	 * processes. A PIN from the environment serves each of them, then
	 * leaves this process (hsm/README.md "PINs from the environment").
	 */
	sc.keep_pin_env = 1;
	for (j = 0; j < nsigners; j++) {
		/* With the threads that sign through it (lib/cpu.h). */
		sg.cpu[j] = pin_cpus ? cpu_for_worker(j) : -1;
		sc.pin = sg.cpu[j] != -1;
		sc.cpu = sg.cpu[j];
		if ((sg.s[j] = signer_spawn(&sc, err, sizeof(err))) == NULL) {
			log_err("signer %d: %s", j, err);
			signer_config_forget_pins(&sc);
			goto out;
		}
	}
	signer_config_forget_pins(&sc);
	sg.n = (int)nsigners;
	if (pin_cpus && sg.cpu[0] != -1)
		log_info("%ld signer process(es) pinned to CPUs in turn from "
		    "%d, each with the threads that sign through it "
		    "(ocsp.pin_cpus)", nsigners, sg.cpu[0]);
	if (ocspd_check_keys(&r, &sg) == -1)
		goto out;
	r.sign = ocspd_sign;
	r.sign_arg = &sg;
	/* Before the first thread (the signers, forked, keep theirs). */
	if (daemon_limit_files(cfg, "ocsp", "ocspd", NULL, 0, NULL, 0,
	    config_get(cfg, "pg.ocsp_uri", NULL)) == -1)
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
	rc = daemon_wait(&sigs, ocspd_hup, NULL);
out:
	http_stop(srv);
	ocsp_sync_stop(sync);
	ocsp_cache_free(r.cache);
	for (i = 0; i < r.niss; i++)
		ocsp_issuer_clear(&r.iss[i]);
	for (j = 0; j < OCSP_SIGNERS_MAX; j++)
		signer_close(sg.s[j]);
	config_free(policy);
	config_free(cfg);
	return rc;
}
