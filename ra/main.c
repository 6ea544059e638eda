/*
 * rad: the registration authority's subscriber API (this slice: accounts,
 * email verification, sessions; ra/README.md, docs/openapi.yaml).
 *
 * Processes: one. rad holds no key and has no signer. It reads
 * the configuration (pki.conf [ra], [pg] ra_uri, [urls] ra) and
 * policy/ra.conf, builds the mail sender (ra.mail: the file sink's
 * directory, or SMTP through libcurl, initialized here before any thread),
 * connects to PostgreSQL as pki_ra, binds its port,
 * with the identity-verification adapter (ra.idv; only the LOCAL SIMULATOR),
 * then demotes to ra.user (pki-ra) and enters the SANDBOX_NET_FILES seccomp
 * profile (the file sinks write files; the SMTP sender connects to
 * ra.smtp_url, the SMS gateway sender to ra.sms_gateway_url; no exec, no
 * process fork), and only then starts libmicrohttpd on one thread (bounded
 * bodies, time-outs; lib/http.h http_listen, http_serve).
 * It may: read and write its own tables and audit_event (pki_ra grants of
 * schema/008 to 016), write files in ra.mail_sink_dir and ra.sms_sink_dir,
 * connect to the SMTP server (ra.mail = smtp).
 * A second thread, the issuance notifier (notifier.c), has its own
 * database connection, made before the sandbox.
 * Before the sandbox it reads ra.otp_key_file (the HMAC key of OTP
 * digests) and ra.officer_key_file (the key sealing officers' TOTP
 * secrets), kept in memory. It may not:
 * touch any key, any other table, or any other directory.
 *
 * Stops on SIGTERM or SIGINT; in-flight requests finish.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/daemon.h"
#include "lib/db.h"
#include "lib/json.h"
#include "lib/http.h"
#include "lib/log.h"
#include "lib/sandbox.h"
#include "ra/extern.h"

#define RA_TIMEOUT_S		10
/*
 * A request's body, from its headers on (lib/http.h): the largest, a KYC
 * application of two photos (about 5.6 MB), comes through nginx unbuffered
 * (proxy_request_buffering off) at the client's pace, which 120 s allows
 * down to 0.4 Mbit/s, a poor mobile uplink. After the first 10 s a body
 * must come at 4 KiB/s (32 kbit/s) on average, a tenth of that: a flood
 * of slow bodies (a log-in's 900 bytes, one byte every 4 s) then holds
 * each connection about 10 s, not 120.
 */
#define RA_BODY_DEADLINE_S	120
#define RA_BODY_MIN_RATE	4096
/*
 * ra.db_timeout_seconds: how long a command of the request thread waits
 * for PostgreSQL at most (db_set_timeout), above pki_ra's lock_timeout and
 * statement_timeout (5 s, 15 s: schema/058), which end a slow statement
 * with the connection kept; this one is for a server that stops answering
 * (a stopped or hung backend, a network that drops what it is sent), when
 * they cannot fire. Past it the request gets 503 with Retry-After and the
 * next one a new connection.
 */
#define RA_DB_TIMEOUT_S		20
/*
 * ra.password_hashes_per_second, ra.password_hash_burst: the Argon2id
 * runs of all clients together (ra_hash_admit). One takes 25 to 40 ms of
 * the one request thread (19 MiB, t=2): 10 a second keep at most 40 % of
 * it busy on average, and a burst of 20 (under a second of hashing)
 * serves a peak of log-ins at once; past them 503 with Retry-After. Until
 * 2026-12-07 only the per-address limits held them: 100 addresses each
 * within its own made /health take 6 s.
 */
#define RA_HASHES_PER_S		10
#define RA_HASH_BURST		20

static void
usage(void)
{
	fprintf(stderr, "usage: rad [--config FILE]\n");
	exit(2);
}

/*
 * Says at start-up which revocations policy review.revocation_reasons will
 * refuse beyond the officers' own (ra/README.md "Review"): a sysadmin's
 * request for an excluded reason, and its carrying out (409); a
 * deactivation's revocation without cessationOfOperation (400). A CPS may
 * narrow the reasons; the operator should know what that closes.
 */
static void
ra_policy_reasons_warn(const struct ra_policy *p)
{
	static const char *const company[] = { "unspecified",
	    "affiliationChanged", "cessationOfOperation", "privilegeWithdrawn",
	    NULL };
	int i;

	for (i = 0; company[i] != NULL; i++)
		if (!ra_policy_reason_allowed(p, company[i]))
			log_warn("policy: review.revocation_reasons excludes %s: "
			    "a company's sysadmin may not ask for it (400), nor "
			    "an officer carry out such a request (409)%s",
			    company[i], strcmp(company[i],
			    "cessationOfOperation") == 0 ? "; a company's "
			    "deactivation revokes nothing (revoke_certificates: "
			    "400)" : "");
}

/*
 * A file sink's directory exists, mode 0700, owned by the user rad demotes
 * to (it cannot create it once sandboxed). Changes only what is not so
 * yet, the mode before the owner: root may change the mode of a directory
 * it owns, not of another user's without CAP_FOWNER, which a systemd unit
 * does not grant (deploy/systemd), so a directory of another's with the
 * wrong mode is taken back first (CAP_CHOWN). Through a descriptor, never
 * following a link. 0 or -1, logged.
 */
static int
ra_sink_dir(const struct config *cfg, const char *dir)
{
	char name[64];
	const char *user = sandbox_user(cfg, "ra", SANDBOX_NET_FILES, name,
	    sizeof(name));
	struct passwd *pw = NULL;
	struct stat st;
	int fd, rc = -1;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		log_err("mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (geteuid() == 0 && user != NULL && (pw = getpwnam(user)) == NULL) {
		log_err("ra.user %s: no such user", user);
		return -1;
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) ==
	    -1 || fstat(fd, &st) == -1) {
		log_err("open %s: %s", dir, strerror(errno));
		goto out;
	}
	if ((st.st_mode & 07777) != 0700) {
		/* Another's directory: ours again first (CAP_CHOWN), then the mode. */
		if (st.st_uid != geteuid()) {
			if (fchown(fd, geteuid(), (gid_t)-1) == -1) {
				log_err("chown %s: %s", dir, strerror(errno));
				goto out;
			}
			st.st_uid = geteuid();
		}
		if (fchmod(fd, 0700) == -1) {
			log_err("chmod %s: %s", dir, strerror(errno));
			goto out;
		}
	}
	if (pw != NULL && (st.st_uid != pw->pw_uid || st.st_gid != pw->pw_gid) &&
	    fchown(fd, pw->pw_uid, pw->pw_gid) == -1) {
		log_err("chown %s: %s", dir, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	return rc;
}

/*
 * The mail sender of ra.mail: "file_sink" (the default when
 * ra.mail_sink_dir is set) or "smtp" (ra.smtp_*). Before any thread and the
 * sandbox (curl_global_init, the password file). NULL, logged.
 */
static struct ra_mailer *
ra_mailer_open(const struct config *cfg)
{
	struct ra_smtp_conf sc;
	struct ra_mailer *m = NULL;
	const char *kind, *sink, *tls;
	char err[512];

	sink = config_get(cfg, "ra.mail_sink_dir", NULL);
	kind = config_get(cfg, "ra.mail", sink != NULL ? "file_sink" : NULL);
	if (kind == NULL) {
		log_err("config: ra.mail missing (file_sink with "
		    "ra.mail_sink_dir, or smtp with ra.smtp_url and "
		    "ra.smtp_from)");
		return NULL;
	}
	if (strcmp(kind, "file_sink") == 0) {
		if (sink == NULL) {
			log_err("config: ra.mail = file_sink needs "
			    "ra.mail_sink_dir");
			return NULL;
		}
		if (ra_sink_dir(cfg, sink) == -1)
			return NULL;
		if ((m = ra_mailer_file_sink(sink, err, sizeof(err))) == NULL) {
			log_err("mail: %s", err);
			return NULL;
		}
		log_warn("mail: LOCAL FILE SINK in %s: messages are written "
		    "there, never delivered", sink);
		return m;
	}
	if (strcmp(kind, "smtp") != 0) {
		log_err("config: ra.mail must be file_sink or smtp");
		return NULL;
	}
	memset(&sc, 0, sizeof(sc));
	sc.url = config_get(cfg, "ra.smtp_url", NULL);
	sc.from = config_get(cfg, "ra.smtp_from", NULL);
	sc.user = config_get(cfg, "ra.smtp_user", NULL);
	sc.password_file = config_get(cfg, "ra.smtp_password_file", NULL);
	sc.ca_file = config_get(cfg, "ra.smtp_ca_file", NULL);
	tls = config_get(cfg, "ra.smtp_starttls", "required");
	if (strcmp(tls, "required") == 0)
		sc.starttls = 1;
	else if (strcmp(tls, "no") != 0) {
		log_err("config: ra.smtp_starttls must be required or no");
		return NULL;
	}
	if ((m = ra_mailer_smtp(&sc, err, sizeof(err))) == NULL) {
		log_err("config: ra.mail = smtp: %s", err);
		return NULL;
	}
	log_info("mail: SMTP to %s as %s%s", sc.url, sc.from,
	    sc.starttls ? ", STARTTLS required" : "");
	return m;
}

/*
 * The SMS sender of ra.sms: "file_sink" (the default when ra.sms_sink_dir
 * is set; *sink is that directory) or "gateway" (ra.sms_gateway_*; *sink
 * NULL). Before any thread and the sandbox. NULL, logged.
 */
static struct ra_sms *
ra_sms_open(const struct config *cfg, const char **sink)
{
	struct ra_sms_gateway_conf gc;
	struct ra_sms *s;
	const char *kind, *dir;
	char err[512];

	*sink = NULL;
	dir = config_get(cfg, "ra.sms_sink_dir", NULL);
	kind = config_get(cfg, "ra.sms", dir != NULL ? "file_sink" : NULL);
	if (kind != NULL && strcmp(kind, "gateway") == 0) {
		memset(&gc, 0, sizeof(gc));
		gc.url = config_get(cfg, "ra.sms_gateway_url", NULL);
		gc.token_file = config_get(cfg, "ra.sms_gateway_token_file",
		    NULL);
		gc.ca_file = config_get(cfg, "ra.sms_gateway_ca_file", NULL);
		gc.sender = config_get(cfg, "ra.sms_gateway_sender", NULL);
		if ((s = ra_sms_gateway(&gc, err, sizeof(err))) == NULL) {
			log_err("config: ra.sms = gateway: %s", err);
			return NULL;
		}
		log_info("sms: gateway %s", gc.url);
		return s;
	}
	if (kind == NULL || strcmp(kind, "file_sink") != 0 || dir == NULL) {
		log_err("config: ra.sms must be file_sink (with "
		    "ra.sms_sink_dir) or gateway (with ra.sms_gateway_url and "
		    "ra.sms_gateway_token_file)");
		return NULL;
	}
	if (ra_sink_dir(cfg, dir) == -1)
		return NULL;
	if ((s = ra_sms_file_sink(dir, err, sizeof(err))) == NULL) {
		log_err("sms: %s", err);
		return NULL;
	}
	log_warn("sms: LOCAL FILE SINK in %s: messages are written there, "
	    "never delivered", dir);
	*sink = dir;
	return s;
}

int
main(int argc, char **argv)
{
	struct config *cfg = NULL, *polcfg = NULL;
	struct ra_policy policy;
	struct ra ra;
	struct http_server *srv = NULL;
	struct http_limits lim;
	const char *sink, *uri, *writable[2], *readable[3];
	char err[512], policy_path[PATH_MAX], verify_url[1024], reset_url[1024];
	sigset_t sigs;
	long port, db_timeout_s, hash_rate, hash_burst;
	int rc = 1, smtp;

	/* Passwords, PINs and codes arrive in JSON: wiped when freed. */
	json_wipe_on_free(NULL, NULL);
	memset(&ra, 0, sizeof(ra));
	if ((cfg = daemon_load_config(argc, argv, "ra", usage)) == NULL)
		return 1;
	snprintf(policy_path, sizeof(policy_path), "%s/ra.conf",
	    config_get(cfg, "pki.policy_dir", "policy"));
	if ((polcfg = config_load(config_get(cfg, "ra.policy_file", policy_path),
	    err, sizeof(err))) == NULL) {
		log_err("%s", err);
		goto out;
	}
	if (ra_policy_load(polcfg, &policy) == -1 ||
	    config_get_long(cfg, "ra.port", 18080, 0, 65535, &port) == -1 ||
	    config_get_long(cfg, "ra.db_timeout_seconds", RA_DB_TIMEOUT_S, 1,
	    3600, &db_timeout_s) == -1 ||
	    config_get_long(cfg, "ra.password_hashes_per_second",
	    RA_HASHES_PER_S, 1, 1000, &hash_rate) == -1 ||
	    config_get_long(cfg, "ra.password_hash_burst", RA_HASH_BURST,
	    RA_HASHES_MAX, 10000, &hash_burst) == -1)
		goto out;
	ra.policy = &policy;
	if ((ra.idv = ra_idv_new(config_get(cfg, "ra.idv", NULL), err,
	    sizeof(err))) == NULL) {
		log_err("config: %s", err);
		goto out;
	}
	ra_policy_reasons_warn(&policy);
	if (strcmp(ra_idv_name(ra.idv), "simulator") == 0)
		log_warn("idv: LOCAL SIMULATOR: identity verification is "
		    "simulated from the submitted data (ra/idv.c); no registry "
		    "is consulted");
	if ((ra.mailer = ra_mailer_open(cfg)) == NULL)
		goto out;
	/* factor.c: the SMS sender and the OTP key, read before demotion. */
	if ((ra.sms = ra_sms_open(cfg, &sink)) == NULL)
		goto out;
	if (ra_factor_init(&ra, config_get(cfg, "ra.otp_key_file", NULL), err,
	    sizeof(err)) == -1) {
		log_err("otp key: %s", err);
		goto out;
	}
	snprintf(verify_url, sizeof(verify_url), "%s",
	    config_get(cfg, "ra.verify_url", ""));
	if (verify_url[0] == '\0')
		snprintf(verify_url, sizeof(verify_url), "%s/verify-email?token=",
		    config_get(cfg, "urls.ra", "http://127.0.0.1:18080"));
	ra.verify_url = verify_url;
	/*
	 * reset.c: the page of the operator's front end that takes a reset
	 * token (rad serves none), best ending in a URL fragment ("…#token=":
	 * no web server logs it); unset, the mail carries the bare token.
	 */
	snprintf(reset_url, sizeof(reset_url), "%s",
	    config_get(cfg, "ra.reset_url", ""));
	ra.reset_url = reset_url;
	if ((uri = config_get(cfg, "pg.ra_uri", NULL)) == NULL) {
		log_err("config: pg.ra_uri missing");
		goto out;
	}
	if ((ra.db = db_connect(uri, err, sizeof(err))) == NULL) {
		log_err("database: %s", err);
		goto out;
	}
	/*
	 * Until 2026-12-07 nothing bounded the request thread's commands: a
	 * stopped backend held rad's one HTTP thread, and every request after
	 * it, for ever (no statement_timeout fires on a server that does not
	 * answer).
	 */
	(void)db_set_timeout(ra.db, db_timeout_s * 1000);
	if (ra_console_load(&ra, config_get(cfg, "ra.console_dir", NULL), err,
	    sizeof(err)) == -1) {
		log_err("%s", err);
		goto out;
	}
	if (ra_account_init(&ra) == -1 || ra_officer_init(&ra, cfg) == -1 ||
	    ra_totp_init(&ra, cfg) == -1)
		goto out;
	if ((ra.rl_register = ra_ratelimit_new(policy.register_per_min)) == NULL ||
	    (ra.rl_login = ra_ratelimit_new(policy.login_per_min)) == NULL ||
	    (ra.rl_reset = ra_ratelimit_new(policy.reset_per_min)) == NULL) {
		log_err("ra_ratelimit_new: out of memory");
		goto out;
	}
	ra_bucket_init(&ra.hashes, hash_rate, hash_burst, daemon_now_ms());
	/* Signals go to sigwait(): block them before any thread exists. */
	daemon_block_signals(&sigs);
	/*
	 * Before the first thread: files written only in the sinks (spool),
	 * read only there, in the system's directories, the policy (the
	 * certificate profiles, read next) and, for SMTP over TLS, the CA file
	 * libcurl reads at each message: not the database's, the tokens' or
	 * the other daemons' files, which the same user owns.
	 */
	writable[0] = sink;
	smtp = strcmp(config_get(cfg, "ra.mail", "file_sink"), "smtp") == 0;
	writable[1] = smtp ? NULL : config_get(cfg, "ra.mail_sink_dir", NULL);
	readable[0] = config_get(cfg, "pki.policy_dir", "policy");
	readable[1] = smtp ? config_get(cfg, "ra.smtp_ca_file", NULL) : NULL;
	readable[2] = sink == NULL ? config_get(cfg, "ra.sms_gateway_ca_file",
	    NULL) : NULL;
	if (daemon_limit_files(cfg, "ra", "rad", writable, 2, readable, 3,
	    uri) == -1)
		goto out;
	/* certificate.c: the notifier thread, its own connection (notifier.c). */
	if (ra_certificate_init(&ra, cfg) == -1)
		goto out;
	memset(&lim, 0, sizeof(lim));
	/* Behind a reverse proxy: the client from X-Forwarded-For (lib/proxy.h). */
	lim.trusted_proxies = config_get(cfg, "ra.trusted_proxies", NULL);
	lim.max_body = ra_max_body(&policy);	/* per route: route.c */
	/* Each route's limit before its body is read (route.c ra_admit). */
	lim.admit = ra_admit;
	lim.timeout_s = RA_TIMEOUT_S;
	lim.body_deadline_s = RA_BODY_DEADLINE_S;
	lim.body_min_rate = RA_BODY_MIN_RATE;
	lim.threads = 1;	/* one database connection, one thread */
	/* Bound as root, served once demoted and filtered (lib/http.h). */
	if ((srv = http_listen(config_get(cfg, "ra.listen", "127.0.0.1"),
	    (uint16_t)port, &lim, ra_handle, &ra, err, sizeof(err))) == NULL) {
		log_err("http: %s", err);
		goto out;
	}
	if (sandbox_enter(cfg, "ra", SANDBOX_NET_FILES) == -1)
		goto out;
	if (http_serve(srv, err, sizeof(err)) == -1) {
		log_err("http: %s", err);
		goto out;
	}
	log_info("serving the subscriber API on %s", http_where(srv));
	rc = daemon_wait(&sigs, NULL, NULL);
out:
	http_stop(srv);
	ra_console_free(&ra);
	ra_certificate_free(&ra);
	ra_officer_free(&ra);
	ra_ratelimit_free(ra.rl_login);
	ra_ratelimit_free(ra.rl_reset);
	ra_ratelimit_free(ra.rl_register);
	db_close(ra.db);
	ra_idv_free(ra.idv);
	ra_mailer_free(ra.mailer);
	ra_sms_free(ra.sms);
	ra_wipe(ra.fv.otp_key, sizeof(ra.fv.otp_key));
	ra_wipe(ra.totp_key, sizeof(ra.totp_key));
	config_free(polcfg);
	config_free(cfg);
	return rc;
}
