/*
 * cad: the CA issuance worker (DESIGN.md "Data flow", ca/README.md "cad").
 *
 * Processes:
 *  - the worker (main): connects to PostgreSQL as pki_ca, loads the issuing
 *    CA and the profiles it serves, forks its signer, LISTENs on
 *    issuance_order, then drops to an unprivileged user and enters a seccomp
 *    sandbox. It claims orders one at a time (SELECT … FOR UPDATE SKIP
 *    LOCKED), woken by NOTIFY, when the earliest backed-off order is due
 *    again, or every cad.poll_seconds, and issues each in one transaction
 *    (issue.c). It never holds a PIN nor a private key: subscriber keys
 *    reach it only wrapped.
 *  - its signer (hsm/signerproc.c): alone loads the PKCS#11 module and logs
 *    in to the CA and wrap tokens. It may do two things: sign
 *    TBSCertificates with the issuing CA key (SIGNER_KIND_CERT), and
 *    generate subscriber keys returned only wrapped under the wrapping key
 *    (WRAPGEN). No CRL, OCSP, time-stamp or CMS signatures, no other key.
 * Run several cad processes (on one or several machines) to issue in
 * parallel: SoftHSM2 scales with processes (HSM-NOTES.md), and SKIP LOCKED
 * gives each worker a different order.
 *
 * The worker names the order whose transaction is open in its in-flight
 * marker, a file of its own in cad.state_dir (marker.c), opened and locked
 * before the sandbox and written only through its descriptor (no file is
 * writable by name: Landlock; no open: seccomp). At start it counts, as a
 * failed attempt (ca/README.md "Retries"), each order that a marker no
 * running process holds names: a worker that crashes on an order every
 * time uses the order up instead of stopping issuance.
 *
 * Configuration (pki.conf): [cad] issuer (default "issuing"), profiles
 * (default "personal corporate eseal"), wrap_label (default
 * "subscriber-wrap-1"), poll_seconds (5), max_validity_days (1096),
 * max_attempts (5), retry_backoff_ms (1000), retry_backoff_max_seconds
 * (300), retry_hours (24) (ca/README.md "Retries"), db_timeout_seconds
 * (150: how long a command waits for PostgreSQL at most), state_dir
 * (required: the in-flight markers' directory, not writable by others),
 * insecure_no_state_dir (development: run without one, a crash while
 * issuing never counted), instance, user, insecure_no_sandbox; [hsm] ca_*
 * and wrap_*; [pg] ca_uri; [pki] policy_dir. --once issues what is pending
 * and exits (tests, benchmarks). Stops on SIGTERM or SIGINT after the order
 * in hand.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca/extern.h"
#include "ca/worker/extern.h"
#include "hsm/signer.h"
#include "lib/cadb.h"
#include "lib/config.h"
#include "lib/daemon.h"
#include "lib/db.h"
#include "lib/log.h"
#include "lib/sandbox.h"

#define CAD_BACKOFF_MS		1000	/* after a failed attempt, or reconnecting */
#define CAD_RECONNECT_MAX_MS	30000	/* longest wait between reconnections */
/*
 * cad.db_timeout_seconds: how long a command waits for the server at most
 * (db_set_timeout), above pki_ca's statement_timeout (120 s, schema/058),
 * which ends a slow statement with the connection kept; this one is for a
 * server that stops answering, when that cannot fire.
 */
#define CAD_DB_TIMEOUT_S	150

static volatile sig_atomic_t cad_stop;

static void
cad_on_signal(int sig)
{
	cad_stop = sig;
}

static void
usage(void)
{
	fprintf(stderr, "usage: cad [--config FILE] [--once]\n");
	exit(2);
}

/*
 * Loads each profile of cad.profiles (space-separated); cad_check_profiles
 * lints them once the issuer is known.
 */
static int
cad_load_profiles(struct cad *c)
{
	char list[256], *p, *save = NULL, err[512];
	const char *dir = config_get(c->cfg, "pki.policy_dir", "policy");
	size_t off;

	snprintf(list, sizeof(list), "%s", config_get(c->cfg, "cad.profiles",
	    "personal corporate eseal"));
	for (p = strtok_r(list, " ,", &save); p != NULL;
	    p = strtok_r(NULL, " ,", &save)) {
		if (c->nprofiles == CAD_MAX_PROFILES) {
			log_err("cad.profiles: more than %d", CAD_MAX_PROFILES);
			return -1;
		}
		if ((c->profiles[c->nprofiles] = profile_load(dir, p,
		    config_get(c->cfg, "cad.issuer", "issuing"), c->cfg, err,
		    sizeof(err))) == NULL) {
			log_err("%s", err);
			return -1;
		}
		/*
		 * Names hold neither ',' nor ' ' (the separators above), and
		 * joined they fit in served as they fitted in list.
		 */
		off = strlen(c->served);
		snprintf(c->served + off, sizeof(c->served) - off, "%s%s",
		    off > 0 ? "," : "", p);
		c->nprofiles++;
	}
	return c->nprofiles > 0 ? 0 : -1;
}

/*
 * Fail fast: a profile whose every order would fail (its lint keys
 * missing, a validity over cad.max_validity_days, a kind's usage it may
 * not carry, an AIA or CRL URL that is none, [urls] missing, …) stops cad
 * at start with the reason, rather than failing each order
 * (cad_lint_profile).
 */
static int
cad_check_profiles(const struct cad *c)
{
	char err[1024];
	int i;

	for (i = 0; i < c->nprofiles; i++)
		if (cad_lint_profile(c->profiles[i], c->issuer,
		    c->max_validity_days, err, sizeof(err)) == -1) {
			log_err("%s: not starting", err);
			return -1;
		}
	return 0;
}

/*
 * cad.state_dir, the in-flight markers' directory, into *dir: required
 * unless cad.insecure_no_state_dir = true (a development flag: a worker
 * that crashes on an order then claims it again, uncounted, for ever). An
 * empty value counts as none. 0, or -1 logged.
 */
static int
cad_state_conf(const struct config *cfg, const char **dir)
{
	int insecure = 0;

	*dir = config_get(cfg, "cad.state_dir", NULL);
	if (*dir != NULL && (*dir)[0] == '\0')
		*dir = NULL;
	if (config_get_bool(cfg, "cad.insecure_no_state_dir", 0,
	    &insecure) == -1)
		return -1;
	if (*dir != NULL)
		return 0;
	if (!insecure) {
		log_err("config: cad.state_dir is not set: a worker that "
		    "crashes while issuing an order would claim it again, "
		    "uncounted, ahead of every other, after each restart (set "
		    "it to a directory for cad alone, not writable by others, "
		    "or cad.insecure_no_state_dir = true on a development "
		    "stack): not starting");
		return -1;
	}
	log_warn("cad.insecure_no_state_dir is set and cad.state_dir is not: "
	    "an attempt a crash ends is never counted");
	return 0;
}

/*
 * Takes this process's in-flight marker in dir (NULL: none) and counts,
 * as a failed attempt each, the orders that the markers no running
 * process holds name (cad_recover). After the signer is forked: holding
 * the slot's lock, it would keep the slot looking used after this process
 * ended. 0, or -1 logged.
 */
static int
cad_take_marker(struct cad *c, const char *dir)
{
	char err[PATH_MAX + 128];
	int i;

	if (dir == NULL)
		return 0;
	if (cad_marker_open(&c->marker, dir, c->actor, err, sizeof(err)) == -1) {
		log_err("%s: not starting", err);
		return -1;
	}
	/* A record whose serial has no trace yet stays (cad_recover -2). */
	for (i = 0; i < c->marker.nfound; i++)
		if (cad_recover(c, &c->marker.found[i]) != -2)
			cad_marker_done(&c->marker, i);
	cad_discard_mark(c);
	cad_marker_release(&c->marker);
	return 0;
}

/* Waits for a NOTIFY, the poll interval or a signal; -1 on a lost connection. */
static int
cad_wait(struct cad *c, long ms, const sigset_t *unblocked)
{
	struct pollfd pfd;
	struct timespec ts;
	PGconn *conn = db_conn(c->db);
	int n;

	if (db_notified(c->db) > 0)
		return 0;	/* received while the last orders ran */
	pfd.fd = PQsocket(conn);
	pfd.events = POLLIN;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	n = ppoll(&pfd, 1, &ts, unblocked);
	if (n == -1 && errno != EINTR) {
		log_err("ppoll: %s", strerror(errno));
		return -1;
	}
	if (n > 0) {
		if (PQconsumeInput(conn) != 1) {
			log_err("database connection lost: %s",
			    PQerrorMessage(conn));
			return -1;
		}
		(void)db_notified(c->db);
	}
	return 0;
}

#define CAD_LISTEN	"LISTEN issuance_order"

/*
 * The connection was lost (PostgreSQL restarted, a failover, a network
 * cut): lib/db connects again and LISTENs again at the next statement;
 * this only paces the tries, 1, 2, 4 … 30 s apart, until one works or a
 * signal stops cad. An order in hand when the connection went was rolled
 * back with it and is claimed again. 0 when connected.
 */
static int
cad_reconnect(struct cad *c, const sigset_t *unblocked)
{
	struct timespec ts;
	long wait_ms = CAD_BACKOFF_MS;

	log_err("database connection lost: connecting again");
	while (!cad_stop) {
		if (db_listen(c->db, CAD_LISTEN) == 0) {
			log_info("database connection back");
			return 0;
		}
		ts.tv_sec = wait_ms / 1000;
		ts.tv_nsec = (wait_ms % 1000) * 1000000L;
		(void)ppoll(NULL, 0, &ts, unblocked);
		wait_ms = wait_ms * 2 > CAD_RECONNECT_MAX_MS ?
		    CAD_RECONNECT_MAX_MS : wait_ms * 2;
	}
	return -1;
}

/*
 * Signals wait, blocked, while an order is in hand; between two orders of
 * a backlog they are let in here, so that a stop comes after the order in
 * hand. Until 2026-12-06 they were let in only while cad waited for work:
 * a SIGTERM took effect once the whole queue was issued (or at the
 * service manager's SIGKILL).
 */
static void
cad_take_signals(const sigset_t *unblocked)
{
	static const struct timespec now = { 0, 0 };

	(void)ppoll(NULL, 0, &now, unblocked);
}

/*
 * The key the token holds under the issuing CA's label must be the one in
 * its certificate. Another key (hsm.ca_token naming another token, a token
 * restored from the wrong backup) signs nothing that verifies:
 * profile_sign() checks each certificate and every order would be rolled
 * back and retried for ever. Refused here instead, naming both keys.
 */
static void
cad_spki_sha256(EVP_PKEY *key, char out[65])
{
	unsigned char *der = NULL;
	int len;

	snprintf(out, 65, "?");
	if (key != NULL && (len = i2d_PUBKEY(key, &der)) > 0)
		certstore_sha256_hex(der, (size_t)len, out);
	OPENSSL_free(der);
}

static int
cad_check_ca_key(struct cad *c, const struct cadb_ca *is, const char *token)
{
	char want[65], got[65];

	if (X509_check_private_key(is->cert, c->ca_key) == 1)
		return 0;
	ERR_clear_error();
	cad_spki_sha256(X509_get0_pubkey(is->cert), want);
	cad_spki_sha256(c->ca_key, got);
	log_err("key %s in token %s (SPKI SHA-256 %s) is not the key of the "
	    "issuing CA's certificate %s (%s): not issuing (is hsm.ca_token "
	    "the CA's token?)", is->key_label, token, got, is->name, want);
	return -1;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "once", no_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct cad c;
	struct cadb_ca is;
	struct config *cfg = NULL;
	struct signer_config sc;
	struct sigaction sa;
	sigset_t sigs, unblocked;
	const char *path = getenv("PKI_CONFIG"), *sconf, *uri, *state_dir;
	char err[512], host[64];
	long poll_s, wait_ms, db_timeout_s;
	int ch, once = 0, r, rc = 1, issued = 0;

	memset(&c, 0, sizeof(c));
	cad_marker_init(&c.marker);
	memset(&is, 0, sizeof(is));
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'o': once = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("cad", LOGL_INFO, stderr);
	if (sandbox_no_dumps(err, sizeof(err)) == -1) {
		log_err("%s", err);
		return 1;
	}
	if ((cfg = config_load(path, err, sizeof(err))) == NULL) {
		log_err("%s", err);
		return 1;
	}
	c.cfg = cfg;
	if ((sconf = config_get(cfg, "hsm.softhsm2_conf", NULL)) != NULL)
		setenv("SOFTHSM2_CONF", sconf, 1);
	if (config_get_long(cfg, "cad.poll_seconds", 5, 1, 3600, &poll_s) == -1 ||
	    config_get_long(cfg, "cad.max_validity_days", 1096, 1, 30 * 366,
	    &c.max_validity_days) == -1 ||
	    config_get_long(cfg, "cad.max_attempts", 5, 1, 1000,
	    &c.max_attempts) == -1 ||
	    config_get_long(cfg, "cad.retry_backoff_ms", 1000, 10, 600000,
	    &c.retry_backoff_ms) == -1 ||
	    config_get_long(cfg, "cad.retry_backoff_max_seconds", 300, 1, 86400,
	    &c.retry_backoff_max_s) == -1 ||
	    config_get_long(cfg, "cad.retry_hours", 24, 0, 24 * 366,
	    &c.retry_hours) == -1 ||
	    config_get_long(cfg, "cad.db_timeout_seconds", CAD_DB_TIMEOUT_S, 1,
	    3600, &db_timeout_s) == -1 ||
	    cad_state_conf(cfg, &state_dir) == -1)
		goto out;
	c.wrap_label = config_get(cfg, "cad.wrap_label", CA_KEY_WRAP);
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(c.actor, sizeof(c.actor), "cad:%s",
	    config_get(cfg, "cad.instance", host));
	snprintf(c.actor + strlen(c.actor), sizeof(c.actor) - strlen(c.actor),
	    ":%ld", (long)getpid());
	if (cad_load_profiles(&c) == -1)
		goto out;

	if ((uri = config_get(cfg, "pg.ca_uri", NULL)) == NULL) {
		log_err("config: pg.ca_uri missing");
		goto out;
	}
	if ((c.db = db_connect(uri, err, sizeof(err))) == NULL) {
		log_err("database: %s", err);
		goto out;
	}
	/*
	 * Until 2026-12-07 nothing bounded cad's commands: a stopped backend
	 * (or a server that accepted the connection made again and then
	 * stalled) held the worker for ever, and every order with it.
	 */
	(void)db_set_timeout(c.db, db_timeout_s * 1000);
	if ((r = cadb_load(c.db, config_get(cfg, "cad.issuer", "issuing"),
	    &is)) != 0 || strcmp(is.role, "issuing") != 0) {
		log_err("no issuing CA named %s (pkictl ca status)",
		    config_get(cfg, "cad.issuer", "issuing"));
		goto out;
	}
	c.issuer = is.cert;
	c.issuer_id = is.id;
	if (cad_check_profiles(&c) == -1)
		goto out;

	/* The signer: CA and wrap tokens; CERT with the issuing key, WRAPGEN. */
	memset(&sc, 0, sizeof(sc));
	if (signer_config_add_token(&sc, cfg, "ca") == -1 ||
	    signer_config_add_token(&sc, cfg, "wrap") == -1 ||
	    signer_config_grant(&sc, SIGNER_KIND_CERT, is.key_label) == -1)
		goto out;
	sc.wrap_label = c.wrap_label;
	sc.sandbox_section = "cad";
	if ((c.signer = signer_spawn(&sc, err, sizeof(err))) == NULL) {
		log_err("signer: %s", err);
		goto out;
	}
	if ((c.ca_key = signer_pkey(c.signer, SIGNER_KIND_CERT, is.key_label,
	    err, sizeof(err))) == NULL) {
		log_err("signer key %s: %s", is.key_label, err);
		goto out;
	}
	if (cad_check_ca_key(&c, &is, config_get(cfg, "hsm.ca_token", "")) ==
	    -1)
		goto out;
	if (cad_take_marker(&c, state_dir) == -1 ||
	    db_listen(c.db, CAD_LISTEN) == -1)
		goto out;

	/* Signals arrive only while waiting, never in the middle of an order. */
	daemon_block_signals(&sigs);
	pthread_sigmask(SIG_BLOCK, NULL, &unblocked);
	sigdelset(&unblocked, SIGTERM);
	sigdelset(&unblocked, SIGINT);
	sigdelset(&unblocked, SIGHUP);
	sigdelset(&unblocked, SIGCHLD);	/* the signer ended */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cad_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);

	if (daemon_limit_files(cfg, "cad", "cad", NULL, 0, NULL, 0, uri) == -1 ||
	    sandbox_enter(cfg, "cad", SANDBOX_NET_WORKER) == -1)
		goto out;
	log_info("issuing with %s (signer pid %ld), wrapping key %s, %d "
	    "profile(s); as %s", is.name, (long)signer_pid(c.signer),
	    c.wrap_label, c.nprofiles, c.actor);

	while (!cad_stop) {
		r = cad_issue_one(&c);
		if (r == 1) {
			issued++;
			cad_take_signals(&unblocked);
			continue;
		}
		/* Orders stay queued; a restart brings a new signer. */
		if (signer_broken(c.signer) || cad_stop == SIGCHLD) {
			log_err("the signer process is gone: stopping");
			goto out;
		}
		if (r == 0 && once)
			break;
		/*
		 * Nothing due: until the earliest backed-off order is, a
		 * NOTIFY (a new order) or the poll interval. After a failed
		 * attempt (that order is backed off already): a pause.
		 */
		wait_ms = r == -1 ? CAD_BACKOFF_MS : poll_s * 1000;
		if (r == 0 && c.next_due_ms >= 0 && c.next_due_ms < wait_ms)
			wait_ms = c.next_due_ms;
		if (PQstatus(db_conn(c.db)) == CONNECTION_OK &&
		    cad_wait(&c, wait_ms, &unblocked) == 0)
			continue;
		if (once) {
			log_err("database connection lost");
			goto out;
		}
		if (cad_reconnect(&c, &unblocked) == -1)
			break;	/* a signal: the checks below */
	}
	if (cad_stop == SIGCHLD) {
		log_err("the signer process (pid %ld) ended: stopping, so that "
		    "a restart brings a new one", (long)signer_pid(c.signer));
		goto out;
	}
	log_info("stopping: %d order(s) finished by this worker", issued);
	rc = 0;
out:
	if (c.discard.order[0] != '\0')
		log_err("order %s: certificate serial %s signed and discarded, "
		    "still not recorded: %s", c.discard.order, c.discard.serial,
		    c.marker.fd != -1 ? "the in-flight marker names it for the "
		    "next start" : "no in-flight marker (cad.state_dir) keeps it");
	cad_marker_close(&c.marker);
	EVP_PKEY_free(c.ca_key);
	signer_close(c.signer);
	while (c.nprofiles > 0)
		profile_free(c.profiles[--c.nprofiles]);
	cadb_clear(&is);
	db_close(c.db);
	config_free(cfg);
	return rc;
}
