/*
 * tsad: the RFC 3161 / RFC 5816 time-stamping authority.
 *
 * Processes:
 *  - the signer (hsm/signerproc.c), forked first: it alone loads the PKCS#11
 *    module and logs in to the TSA token; it signs only time-stamp tokens
 *    (SignedAttributes over a TSTInfo) with the TSA key, nothing else.
 *  - this worker: reads its certificates from PostgreSQL, answers HTTP POSTs
 *    of application/timestamp-query on one libmicrohttpd thread (a
 *    TS_RESP_CTX is not thread-safe), records each token through a batching
 *    thread (tsa/record.c), then drops to an unprivileged user and enters a
 *    seccomp sandbox. It never holds a PIN or a private key.
 *
 * Configuration: pki.conf ([tsa], [hsm], [pg]) and policy/tsa.conf. Stops
 * cleanly on SIGTERM or SIGINT: in-flight requests finish, every record is
 * written (or spilled to tsa.spill_file for the next start).
 */
#include <getopt.h>
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
#include "lib/db.h"
#include "lib/http.h"
#include "lib/log.h"
#include "lib/sandbox.h"
#include "tsa/extern.h"

#define TSA_MAX_QUERY		(16 * 1024)	/* a TimeStampReq is ~100 bytes */

#if defined(__SANITIZE_ADDRESS__)
#define TSA_SANITIZER_BUILD	1
#else
#define TSA_SANITIZER_BUILD	0
#endif

struct tsad {
	struct tsa_responder	*responder;
	struct tsa_recorder	*recorder;
	int			 allow_unsync;
};

static void
usage(void)
{
	fprintf(stderr, "usage: tsad [--config FILE]\n");
	exit(2);
}

static int
tsad_health(struct tsad *t, struct http_response *resp)
{
	size_t queued;
	int db_ok, synced, rc;
	json_t *o;

	tsa_recorder_stats(t->recorder, &queued, &db_ok);
	synced = tsa_clock_synchronized();
	o = json_pack("{s:s, s:b, s:b, s:b, s:I}", "status",
	    db_ok && (synced || t->allow_unsync) ? "ok" : "degraded",
	    "clock_synchronized", synced, "clock_override", t->allow_unsync,
	    "database_ok", db_ok, "records_queued", (json_int_t)queued);
	if (o == NULL)
		return -1;
	rc = http_respond_json(resp, 200, o);
	json_decref(o);
	return rc;
}

/* RFC 3161 §3.4: the query arrives as the body of a POST. */
static int
tsad_handle(void *arg, const struct http_request *req, struct http_response *resp)
{
	struct tsad *t = arg;
	struct tsa_record rec;
	unsigned char *reply = NULL;
	size_t replylen;
	int granted, rc;

	if (strcmp(req->path, "/health") == 0 && strcmp(req->method, "GET") == 0)
		return tsad_health(t, resp);
	if (strcmp(req->path, "/") != 0)
		return http_problem(resp, 404, NULL, "Not Found",
		    "time-stamp queries are POSTed to /");
	if (strcmp(req->method, "POST") != 0) {
		http_add_header(resp, "Allow", "POST");
		return http_problem(resp, 405, NULL, "Method Not Allowed",
		    "RFC 3161 §3.4: POST an application/timestamp-query");
	}
	if (req->content_type == NULL || strncasecmp(req->content_type,
	    "application/timestamp-query", 27) != 0 ||
	    (req->content_type[27] != '\0' && req->content_type[27] != ';'))
		return http_problem(resp, 415, NULL, "Unsupported Media Type",
		    "RFC 3161 §3.4: the body must be application/timestamp-query");
	if (tsa_respond(t->responder, req->body, req->body_len, &reply, &replylen,
	    &granted, &rec) == -1)
		return -1;
	/* What is not recorded is not issued. */
	if (granted && tsa_recorder_add(t->recorder, &rec) == -1) {
		OPENSSL_free(reply);
		http_add_header(resp, "Retry-After", "5");
		return http_problem(resp, 503, NULL, "Service Unavailable",
		    "the token record queue is full");
	}
	rc = http_respond(resp, 200, "application/timestamp-reply", reply, replylen);
	OPENSSL_free(reply);
	return rc;
}

/* The TSA certificate and key label, and the issuing CA, from the CA tables. */
static int
tsad_load_certs(const struct config *cfg, X509 **cert, STACK_OF(X509) **extra,
    char *label, size_t labellen)
{
	static const struct db_stmt stmt = { "tsa_main_certs",
		"SELECT c.name, c.der, k.key_label FROM ca_certificate c JOIN "
		"ca_key k ON k.id = c.key_id WHERE c.name IN ('tsa', 'issuing')", 0 };
	const char *uri = config_get(cfg, "pg.tsa_uri", NULL);
	struct db *db = NULL;
	PGresult *res = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len;
	X509 *x;
	char err[512];
	int i, rc = -1;

	*cert = NULL;
	*extra = NULL;
	if (uri == NULL) {
		log_err("config: pg.tsa_uri missing");
		goto out;
	}
	if ((db = db_connect(uri, err, sizeof(err))) == NULL) {
		log_err("database: %s", err);
		goto out;
	}
	if ((res = db_exec(db, &stmt, NULL, NULL, NULL)) == NULL ||
	    (*extra = sk_X509_new_null()) == NULL)
		goto out;
	for (i = 0; i < PQntuples(res); i++) {
		der = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 1), &len);
		p = der;
		x = der != NULL ? d2i_X509(NULL, &p, (long)len) : NULL;
		PQfreemem(der);
		if (x == NULL)
			goto out;
		if (strcmp(PQgetvalue(res, i, 0), "tsa") == 0) {
			*cert = x;
			snprintf(label, labellen, "%s", PQgetvalue(res, i, 2));
		} else if (sk_X509_push(*extra, x) == 0) {
			X509_free(x);
			goto out;
		}
	}
	if (*cert == NULL) {
		log_err("no TSA certificate in the database: run `pkictl ca init`");
		goto out;
	}
	rc = 0;
out:
	if (rc == -1) {
		X509_free(*cert);
		*cert = NULL;
		sk_X509_pop_free(*extra, X509_free);
		*extra = NULL;
	}
	PQclear(res);
	db_close(db);
	return rc;
}

/* Drops privileges and installs the seccomp filter; refuses unless the development flag says otherwise. */
static void
tsad_sandbox(const struct config *cfg)
{
	const char *user = config_get(cfg, "tsa.user", geteuid() == 0 ? "pki" : NULL);
	char err[256];
	int insecure = 0;

	if (config_get_bool(cfg, "tsa.insecure_no_sandbox", 0, &insecure) == -1)
		exit(1);
	if (sandbox_demote(user, NULL, err, sizeof(err)) == -1) {
		log_err("sandbox: %s", err);
		if (!insecure)
			exit(1);
	}
	if (TSA_SANITIZER_BUILD) {
		/* LeakSanitizer ptraces the process at exit: no seccomp in test builds. */
		log_warn("sandbox: seccomp not installed in a sanitizer build");
		return;
	}
	if (sandbox_seccomp(SANDBOX_NET_WORKER, err, sizeof(err)) == -1) {
		log_err("sandbox: %s", err);
		if (!insecure)
			exit(1);
		log_warn("sandbox: running WITHOUT seccomp (tsa.insecure_no_sandbox)");
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct tsad t;
	struct config *cfg = NULL, *policy = NULL;
	struct signer_config sc;
	struct signer *signer = NULL;
	struct http_server *srv = NULL;
	struct http_limits lim;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *extra = NULL;
	const char *path = getenv("PKI_CONFIG"), *s, *policy_dir;
	char err[512], label[SIGNER_LABEL_MAX + 1], policy_path[PATH_MAX];
	char instance[64], host[48];
	long port, max_queue, flush_timeout = 10;
	sigset_t sigs;
	enum log_level level = LOGL_INFO;
	int ch, sig, rc = 1;

	while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		if (ch != 'c')
			usage();
		path = optarg;
	}
	if (optind != argc)
		usage();
	log_init("tsa", LOGL_INFO, stderr);
	if ((cfg = config_load(path, err, sizeof(err))) == NULL) {
		log_err("%s", err);
		return 1;
	}
	if ((s = config_get(cfg, "log.level", NULL)) != NULL &&
	    log_level_parse(s, &level) == 0)
		log_init("tsa", level, stderr);
	memset(&t, 0, sizeof(t));
	policy_dir = config_get(cfg, "pki.policy_dir", "policy");
	snprintf(policy_path, sizeof(policy_path), "%s/tsa.conf", policy_dir);
	if ((policy = config_load(config_get(cfg, "tsa.policy_file", policy_path),
	    err, sizeof(err))) == NULL) {
		log_err("%s", err);
		goto out;
	}
	if (config_get_long(cfg, "tsa.port", 18083, 0, 65535, &port) == -1 ||
	    config_get_long(cfg, "tsa.max_queue", 100000, 1, 10000000,
	    &max_queue) == -1 ||
	    config_get_long(cfg, "tsa.flush_timeout_seconds", 10, 0, 600,
	    &flush_timeout) == -1 ||
	    config_get_bool(cfg, "tsa.allow_unsynchronized_clock", 0,
	    &t.allow_unsync) == -1)
		goto out;
	if (t.allow_unsync)
		log_warn("tsa.allow_unsynchronized_clock is set: tokens are issued "
		    "even when the clock is not synchronized (local stack only)");
	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	snprintf(instance, sizeof(instance), "%s", config_get(cfg, "tsa.instance", host));
	if ((s = config_get(cfg, "hsm.softhsm2_conf", NULL)) != NULL)
		setenv("SOFTHSM2_CONF", s, 1);
	if (tsad_load_certs(cfg, &cert, &extra, label, sizeof(label)) == -1)
		goto out;

	/* The signer: the TSA token, and time-stamp tokens with the TSA key only. */
	memset(&sc, 0, sizeof(sc));
	sc.module = config_get(cfg, "hsm.module", NULL);
	sc.lock_dir = config_get(cfg, "hsm.lock_dir", NULL);
	sc.tokens[0].label = config_get(cfg, "hsm.tsa_token", NULL);
	sc.tokens[0].pin_file = config_get(cfg, "hsm.tsa_pin_file", NULL);
	sc.tokens[0].pin_env = "PKI_TSA_PIN";
	sc.ntokens = 1;
	sc.grants[0].kind = SIGNER_KIND_TIMESTAMP;
	sc.grants[0].key_label = label;
	sc.ngrants = 1;
	if (sc.module == NULL || sc.tokens[0].label == NULL) {
		log_err("config: hsm.module and hsm.tsa_token are required");
		goto out;
	}
	/* Signals go to sigwait() below: block them before any thread exists. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((signer = signer_spawn(&sc, err, sizeof(err))) == NULL) {
		log_err("signer: %s", err);
		goto out;
	}
	if ((key = signer_pkey(signer, SIGNER_KIND_TIMESTAMP, label, err,
	    sizeof(err))) == NULL) {
		log_err("signer key %s: %s", label, err);
		goto out;
	}
	if ((t.responder = tsa_responder_new(policy, cert, key, extra,
	    t.allow_unsync, err, sizeof(err))) == NULL) {
		log_err("responder: %s", err);
		goto out;
	}
	if ((t.recorder = tsa_recorder_start(config_get(cfg, "pg.tsa_uri", ""),
	    instance, config_get(cfg, "tsa.spill_file", NULL), (size_t)max_queue,
	    err, sizeof(err))) == NULL) {
		log_err("recorder: %s", err);
		goto out;
	}
	memset(&lim, 0, sizeof(lim));
	lim.max_body = TSA_MAX_QUERY;
	lim.threads = 1;	/* one TS_RESP_CTX, one thread: scale with processes */
	if ((srv = http_start(config_get(cfg, "tsa.listen", "127.0.0.1"),
	    (uint16_t)port, &lim, tsad_handle, &t, err, sizeof(err))) == NULL) {
		log_err("http: %s", err);
		goto out;
	}
	tsad_sandbox(cfg);
	log_info("serving RFC 3161 on %s:%u (instance %s, key %s)",
	    config_get(cfg, "tsa.listen", "127.0.0.1"), http_port(srv), instance,
	    label);
	do {
		if (sigwait(&sigs, &sig) != 0)
			break;
	} while (sig == SIGHUP);
	log_info("signal %d: stopping", sig);
	rc = 0;
out:
	http_stop(srv);
	if (tsa_recorder_stop(t.recorder, (unsigned int)flush_timeout) == -1)
		rc = 1;
	tsa_responder_free(t.responder);
	EVP_PKEY_free(key);
	signer_close(signer);
	X509_free(cert);
	sk_X509_pop_free(extra, X509_free);
	config_free(policy);
	config_free(cfg);
	return rc;
}
