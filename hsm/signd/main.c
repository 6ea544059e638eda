/*
 * signd: the remote-signing service, a CSC API v2 server (RSSP) that
 * document-signing services call to sign with subscribers' HSM-held keys
 * (hsm/README.md "signd", docs/csc.md).
 *
 * Processes:
 *  - the worker (this file, csc.c, csc_request.c): reads pki.conf ([sign],
 *    [pg] sign_uri, [urls] sign), opens one PostgreSQL connection as
 *    pki_sign per HTTP thread, serves HTTP/JSON on sign.threads (2)
 *    libmicrohttpd threads (bounded bodies, time-outs), each thread keeping
 *    to its own connection and its own SAM, then demotes to sign.user (pki)
 *    and enters the
 *    SANDBOX_NET_WORKER seccomp profile. It may: authenticate signing
 *    services and issue their access tokens (sign_service, sign_token),
 *    read credentials and certificates, forward authorize and signHash
 *    requests to the SAM. It may not: read a wrapped key (pki_sign has no
 *    SELECT on subscriber_key.wrapped), create or consume a SAD, verify a
 *    factor, sign, or open the token.
 *  - the SAMs (samproc.c), sign.sams of them (default sign.threads, at
 *    most that: SoftHSM2 scales with processes, not threads), forked
 *    first: each alone loads the PKCS#11 module and logs in to the wrap
 *    token, holds its own pki_sam connection and the OTP key; verifies
 *    factors, makes and consumes SADs, checks the certificate, unwraps,
 *    signs, verifies, audits. Then SANDBOX_SIGNER. None parses HTTP or
 *    JSON. A SAM that stops answering leaves its threads answering 503
 *    until signd restarts; the others go on.
 *
 * Stops on SIGTERM or SIGINT; in-flight requests finish.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "hsm/signd/extern.h"
#include "lib/config.h"
#include "lib/daemon.h"
#include "lib/db.h"
#include "lib/http.h"
#include "lib/log.h"
#include "lib/sandbox.h"

#define SIGND_TIMEOUT_S		10

static void
usage(void)
{
	fprintf(stderr, "usage: signd [--config FILE]\n");
	exit(2);
}

/* Waits for every SAM forked so far; their sockets are closed first. */
static void
signd_sams_stop(struct signd *sd)
{
	unsigned int i;
	int st;

	for (i = 0; i < sd->nsams; i++)
		if (sd->sams[i].fd != -1) {
			close(sd->sams[i].fd);
			sd->sams[i].fd = -1;
		}
	for (i = 0; i < sd->nsams; i++)
		if (sd->sams[i].pid > 0)
			while (waitpid(sd->sams[i].pid, &st, 0) == -1 &&
			    errno == EINTR)
				;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct config *cfg = NULL;
	struct signd sd;
	struct http_server *srv = NULL;
	struct http_limits lim;
	const char *path = getenv("PKI_CONFIG"), *s, *uri;
	char err[512];
	unsigned char warm[32], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i, nlocks = 0;
	enum log_level level = LOGL_INFO;
	sigset_t sigs;
	long port, threads, sams;
	int ch, sig = 0, rc = 1;

	while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		if (ch != 'c')
			usage();
		path = optarg;
	}
	if (optind != argc)
		usage();
	memset(&sd, 0, sizeof(sd));
	for (i = 0; i < SIGND_THREADS_MAX; i++) {
		sd.sams[i].fd = -1;
		sd.sams[i].pid = -1;
	}
	log_init("sign", LOGL_INFO, stderr);
	if ((cfg = config_load(path, err, sizeof(err))) == NULL) {
		log_err("%s", err);
		return 1;
	}
	if ((s = config_get(cfg, "log.level", NULL)) != NULL &&
	    log_level_parse(s, &level) == 0)
		log_init("sign", level, stderr);
	if (config_get_long(cfg, "sign.port", 18084, 0, 65535, &port) == -1 ||
	    config_get_long(cfg, "sign.token_ttl_seconds", 600, 60, 3600,
	    &sd.token_ttl_s) == -1 ||
	    config_get_long(cfg, "sign.threads", 2, 1, SIGND_THREADS_MAX,
	    &threads) == -1 ||
	    config_get_long(cfg, "sign.sams", threads, 1, threads, &sams) == -1)
		goto out;
	sd.nthreads = (unsigned int)threads;
	sd.base_url = config_get(cfg, "urls.sign", "http://127.0.0.1:18084/csc/v2");
	if ((uri = config_get(cfg, "pg.sign_uri", NULL)) == NULL) {
		log_err("config: pg.sign_uri missing");
		goto out;
	}
	for (nlocks = 0; nlocks < (unsigned int)sams; nlocks++)
		if (pthread_mutex_init(&sd.sams[nlocks].lock, NULL) != 0) {
			log_err("pthread_mutex_init failed");
			goto out;
		}
	/* Signals go to sigwait(): block them before any child or thread. */
	daemon_block_signals(&sigs);
	/* The SAMs first: none may inherit the worker's connections. */
	for (sd.nsams = 0; sd.nsams < (unsigned int)sams; sd.nsams++) {
		sd.sams[sd.nsams].fd = sam_spawn(cfg, &sd.sams[sd.nsams].pid,
		    err, sizeof(err));
		if (sd.sams[sd.nsams].fd == -1) {
			log_err("%s", err);
			goto out;
		}
	}
	for (i = 0; i < sd.nthreads; i++)
		if ((sd.db[i] = db_connect(uri, err, sizeof(err))) == NULL) {
			log_err("database: %s", err);
			goto out;
		}
	memset(&lim, 0, sizeof(lim));
	lim.max_body = SIGND_MAX_BODY;
	lim.timeout_s = SIGND_TIMEOUT_S;
	lim.threads = sd.nthreads;	/* each with its connection and SAM */
	if ((srv = http_start(config_get(cfg, "sign.listen", "127.0.0.1"),
	    (uint16_t)port, &lim, csc_handle, &sd, err, sizeof(err))) == NULL) {
		log_err("http: %s", err);
		goto out;
	}
	/*
	 * OpenSSL reads its configuration and loads the default provider on
	 * first use: do it now, as the sandbox forbids opening files.
	 */
	if (OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL) != 1 ||
	    RAND_bytes(warm, sizeof(warm)) != 1 ||
	    EVP_Digest(warm, sizeof(warm), md, &mdlen, EVP_sha256(), NULL) != 1) {
		log_openssl(LOGL_ERR, "OpenSSL start-up");
		goto out;
	}
	if (sandbox_enter(cfg, "sign", SANDBOX_NET_WORKER) == -1)
		goto out;
	log_info("serving the CSC API v2 on %s:%u (%u thread(s), %u SAM(s), "
	    "first SAM pid %d)", config_get(cfg, "sign.listen", "127.0.0.1"),
	    http_port(srv), sd.nthreads, sd.nsams, (int)sd.sams[0].pid);
	do {
		if (sigwait(&sigs, &sig) != 0)
			break;
	} while (sig == SIGHUP);
	log_info("signal %d: stopping", sig);
	rc = 0;
out:
	http_stop(srv);
	for (i = 0; i < SIGND_THREADS_MAX; i++)
		db_close(sd.db[i]);
	signd_sams_stop(&sd);
	for (i = 0; i < nlocks; i++)
		pthread_mutex_destroy(&sd.sams[i].lock);
	config_free(cfg);
	return rc;
}
