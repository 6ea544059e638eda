/*
 * Publication of CA certificates, CRLs and subscriber certificates to LDAP
 * (RFC 4523). See
 * lib/ldappub.h. One connection per call or per batch (a session):
 * publication goes through a retrying queue, so a slow or absent directory
 * costs at most the time-outs below and never blocks issuance.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <ldap.h>
#include <openssl/crypto.h>

#include "lib/config.h"
#include "lib/ldappub.h"
#include "lib/log.h"
#include "lib/secret.h"

/* The connect time-out, seconds, unless the operation's is shorter. */
#define LDAPPUB_NET_TIMEOUT_S	5
#define LDAPPUB_PW_MAX		256
/*
 * A value this large whose operation ended with LDAP_SERVER_DOWN is
 * suspected of exceeding the directory's request size limit (OpenLDAP:
 * olcSockbufMaxIncomingAuth, 16 MiB - 1 by default in 2.5, which closes
 * the connection on a larger request): ldappub_session_put checks that the
 * directory still takes a connection before it calls it down.
 */
#define LDAPPUB_LARGE_VALUE	(1024 * 1024)

/* "ldap_add_ext_s: Object class violation (diagnostic)" into err. */
static void
ldappub_error(LDAP *ld, int rc, const char *call, const char *dn, char *err,
    size_t errlen)
{
	char *diag = NULL;

	if (ld != NULL)
		(void)ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	snprintf(err, errlen, "%s %s: %s%s%s", call, dn != NULL ? dn : "",
	    ldap_err2string(rc), diag != NULL && *diag != '\0' ? ": " : "",
	    diag != NULL ? diag : "");
	ldap_memfree(diag);
}

/* The value of dn's first RDN, which must be a single cn=... . */
static int
ldappub_first_cn(const char *dn, char **cn, char *err, size_t errlen)
{
	LDAPDN ldn = NULL;
	LDAPAVA *ava;
	int rc = -1;

	*cn = NULL;
	if (ldap_str2dn(dn, &ldn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS ||
	    ldn == NULL || ldn[0] == NULL) {
		snprintf(err, errlen, "ldappub: \"%s\" is not a valid DN", dn);
		goto out;
	}
	ava = ldn[0][0];
	if (ava == NULL || ldn[0][1] != NULL ||
	    ava->la_attr.bv_len != 2 ||
	    strncasecmp(ava->la_attr.bv_val, "cn", 2) != 0 ||
	    ava->la_value.bv_len == 0) {
		snprintf(err, errlen, "ldappub: first RDN of \"%s\" must be a "
		    "single cn=...", dn);
		goto out;
	}
	if ((*cn = strndup(ava->la_value.bv_val, ava->la_value.bv_len)) ==
	    NULL) {
		snprintf(err, errlen, "ldappub: strndup failed");
		goto out;
	}
	rc = 0;
out:
	ldap_dnfree(ldn);
	return rc;
}

/* Connects, sets version and time-outs, binds. 0 or -1 with err. */
static int
ldappub_open(const struct ldappub_conf *conf, LDAP **ldp, char *err,
    size_t errlen)
{
	LDAP *ld = NULL;
	struct berval cred = { 0, NULL };
	long op_s = conf->timeout_seconds > 0 ? conf->timeout_seconds :
	    LDAPPUB_TIMEOUT_DEFAULT_S;
	struct timeval net = { op_s < LDAPPUB_NET_TIMEOUT_S ? op_s :
	    LDAPPUB_NET_TIMEOUT_S, 0 };
	struct timeval op = { op_s, 0 };
	char pw[LDAPPUB_PW_MAX];
	int version = LDAP_VERSION3;
	int lrc, rc = -1;

	*ldp = NULL;
	pw[0] = '\0';
	if ((lrc = ldap_initialize(&ld, conf->uri)) != LDAP_SUCCESS) {
		snprintf(err, errlen, "ldap_initialize %s: %s", conf->uri,
		    ldap_err2string(lrc));
		goto out;
	}
	if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) !=
	    LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &net) !=
	    LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &op) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) !=
	    LDAP_OPT_SUCCESS) {
		snprintf(err, errlen, "ldap_set_option on %s failed",
		    conf->uri);
		goto out;
	}
	if (conf->bind_dn != NULL) {
		if (conf->bind_pw_file == NULL) {
			snprintf(err, errlen, "ldappub: bind DN %s given "
			    "without a password file", conf->bind_dn);
			goto out;
		}
		if (secret_read(conf->bind_pw_file, NULL, pw, sizeof(pw), err,
		    errlen) == -1)
			goto out;
		cred.bv_val = pw;
		cred.bv_len = strlen(pw);
	}
	/* NULL DN and empty credentials: an anonymous bind. */
	lrc = ldap_sasl_bind_s(ld, conf->bind_dn, LDAP_SASL_SIMPLE, &cred,
	    NULL, NULL, NULL);
	if (lrc != LDAP_SUCCESS) {
		ldappub_error(ld, lrc, "ldap_sasl_bind_s (simple)",
		    conf->bind_dn != NULL ? conf->bind_dn : "(anonymous)",
		    err, errlen);
		goto out;
	}
	*ldp = ld;
	ld = NULL;
	rc = 0;
out:
	OPENSSL_cleanse(pw, sizeof(pw));
	if (ld != NULL)
		ldap_unbind_ext_s(ld, NULL, NULL);
	return rc;
}

/* Whether an operation's code says the directory failed, not the entry. */
static int
ldappub_code_down(int lrc)
{
	return lrc == LDAP_SERVER_DOWN || lrc == LDAP_TIMEOUT ||
	    lrc == LDAP_CONNECT_ERROR || lrc == LDAP_UNAVAILABLE ||
	    lrc == LDAP_BUSY;
}

/* An entry's structural and auxiliary classes, by the attribute published. */
static int
ldappub_is_subscriber_attr(const char *attr)
{
	return strcasecmp(attr, "userCertificate;binary") == 0 ||
	    strcasecmp(attr, "description") == 0;
}

/* Adds dn with its object classes, cn and attr. Returns the LDAP code. */
static int
ldappub_add(LDAP *ld, const char *dn, const char *cn, const char *attr,
    struct berval *val)
{
	char *ca_oc[] = { "applicationProcess", "pkiCA", "deltaCRL", NULL };
	char *user_oc[] = { "applicationProcess", "pkiUser", NULL };
	char *cn_vals[] = { (char *)cn, NULL };
	struct berval *bvals[] = { val, NULL };
	LDAPMod oc, cnm, data;
	LDAPMod *mods[] = { &oc, &cnm, &data, NULL };

	memset(&oc, 0, sizeof(oc));
	oc.mod_op = LDAP_MOD_ADD;
	oc.mod_type = "objectClass";
	oc.mod_values = ldappub_is_subscriber_attr(attr) ? user_oc : ca_oc;
	memset(&cnm, 0, sizeof(cnm));
	cnm.mod_op = LDAP_MOD_ADD;
	cnm.mod_type = "cn";
	cnm.mod_values = cn_vals;
	memset(&data, 0, sizeof(data));
	data.mod_op = LDAP_MOD_ADD | LDAP_MOD_BVALUES;
	data.mod_type = (char *)attr;
	data.mod_bvalues = bvals;
	return ldap_add_ext_s(ld, dn, mods, NULL, NULL);
}

/*
 * Adds the organizationalUnit parent of dn ("cn=x,ou=subscribers,<base>"),
 * for directories made before it was part of the base entries. Returns
 * the LDAP code; an existing parent counts as success.
 */
static int
ldappub_add_parent_ou(LDAP *ld, const char *dn)
{
	const char *parent = strchr(dn, ',');
	char ou[64], *ou_vals[] = { ou, NULL };
	char *oc_vals[] = { "organizationalUnit", NULL };
	LDAPMod oc, oum;
	LDAPMod *mods[] = { &oc, &oum, NULL };
	size_t n;
	int lrc;

	/* Escaped commas never occur here: the first RDN is cn=<hex serial>. */
	if (parent == NULL || strncasecmp(parent + 1, "ou=", 3) != 0)
		return LDAP_NO_SUCH_OBJECT;
	parent++;
	n = strcspn(parent + 3, ",");
	if (n == 0 || n >= sizeof(ou))
		return LDAP_NO_SUCH_OBJECT;
	memcpy(ou, parent + 3, n);
	ou[n] = '\0';
	memset(&oc, 0, sizeof(oc));
	oc.mod_op = LDAP_MOD_ADD;
	oc.mod_type = "objectClass";
	oc.mod_values = oc_vals;
	memset(&oum, 0, sizeof(oum));
	oum.mod_op = LDAP_MOD_ADD;
	oum.mod_type = "ou";
	oum.mod_values = ou_vals;
	lrc = ldap_add_ext_s(ld, parent, mods, NULL, NULL);
	return lrc == LDAP_ALREADY_EXISTS ? LDAP_SUCCESS : lrc;
}

static int
ldappub_replace(LDAP *ld, const char *dn, const char *attr,
    struct berval *val)
{
	struct berval *bvals[] = { val, NULL };
	LDAPMod data;
	LDAPMod *mods[] = { &data, NULL };

	memset(&data, 0, sizeof(data));
	data.mod_op = LDAP_MOD_REPLACE | LDAP_MOD_BVALUES;
	data.mod_type = (char *)attr;
	data.mod_bvalues = bvals;
	return ldap_modify_ext_s(ld, dn, mods, NULL, NULL);
}

/*
 * A large value's operation ended with LDAP_SERVER_DOWN: the directory
 * may have closed the connection because the request was over its size
 * limit (OpenLDAP 2.5 does so above olcSockbufMaxIncomingAuth, 16 MiB - 1
 * by default: a CRL of ~350,000 entries), which no retry will change.
 * When a new connection binds at once, the directory is up: the failure
 * is this value's (sess->down cleared, so the batch goes on with the
 * other rows) and err says so, naming the size; otherwise it stays down.
 */
static void
ldappub_too_large(struct ldappub_session *sess, const char *dn,
    const char *attr, size_t len, char *err, size_t errlen)
{
	LDAP *probe = NULL;
	char perr[256];

	if (ldappub_open(sess->conf, &probe, perr, sizeof(perr)) == -1)
		return;		/* the directory itself is down */
	ldap_unbind_ext_s(probe, NULL, NULL);
	sess->down = 0;
	/* The size first: err is cut to its caller's buffer. */
	snprintf(err, errlen, "a request of %zu bytes (%s of %s) made the "
	    "directory close the connection, and it answers a new one: over "
	    "its size limit? (OpenLDAP: olcSockbufMaxIncomingAuth; "
	    "deploy/README.md)", len, attr, dn);
	log_err("ldappub: %s", err);
}

void
ldappub_session_init(struct ldappub_session *sess,
    const struct ldappub_conf *conf)
{
	sess->conf = conf;
	sess->ld = NULL;
	sess->down = 0;
}

void
ldappub_session_close(struct ldappub_session *sess)
{
	if (sess->ld != NULL)
		ldap_unbind_ext_s(sess->ld, NULL, NULL);
	sess->ld = NULL;
}

int
ldappub_session_put(struct ldappub_session *sess, const char *dn,
    const char *attr, const unsigned char *der, size_t len, char *err,
    size_t errlen)
{
	const struct ldappub_conf *conf = sess->conf;
	struct berval val;
	char *cn = NULL;
	int lrc, prc, rc = -1;

	if (errlen > 0)
		err[0] = '\0';
	sess->down = 0;
	if (conf == NULL || conf->uri == NULL || dn == NULL || attr == NULL ||
	    der == NULL || len == 0 || len > INT32_MAX) {
		snprintf(err, errlen, "ldappub_put: missing argument");
		goto out;
	}
	if (ldappub_first_cn(dn, &cn, err, errlen) == -1)
		goto out;
	if (sess->ld == NULL && ldappub_open(conf, &sess->ld, err, errlen) ==
	    -1) {
		/* No connection or bind: no other entry would fare better. */
		sess->down = 1;
		goto out;
	}
	val.bv_val = (char *)der;
	val.bv_len = len;
	/*
	 * Replace first (the common case: a new CRL for an existing entry);
	 * add when the entry is missing; if another publisher added it in
	 * between, replace again.
	 */
	lrc = ldappub_replace(sess->ld, dn, attr, &val);
	if (lrc == LDAP_NO_SUCH_OBJECT) {
		lrc = ldappub_add(sess->ld, dn, cn, attr, &val);
		if (lrc == LDAP_NO_SUCH_OBJECT &&
		    ldappub_is_subscriber_attr(attr)) {
			if ((prc = ldappub_add_parent_ou(sess->ld, dn)) ==
			    LDAP_SUCCESS)
				lrc = ldappub_add(sess->ld, dn, cn, attr, &val);
			else if (ldappub_code_down(prc))
				lrc = prc;
		}
		if (lrc == LDAP_ALREADY_EXISTS)
			lrc = ldappub_replace(sess->ld, dn, attr, &val);
		else if (lrc != LDAP_SUCCESS) {
			ldappub_error(sess->ld, lrc, "ldap_add_ext_s", dn, err,
			    errlen);
			sess->down = ldappub_code_down(lrc);
			if (lrc == LDAP_SERVER_DOWN &&
			    len >= LDAPPUB_LARGE_VALUE)
				ldappub_too_large(sess, dn, attr, len, err,
				    errlen);
			goto out;
		}
	}
	if (lrc != LDAP_SUCCESS) {
		ldappub_error(sess->ld, lrc, "ldap_modify_ext_s", dn, err,
		    errlen);
		sess->down = ldappub_code_down(lrc);
		if (lrc == LDAP_SERVER_DOWN && len >= LDAPPUB_LARGE_VALUE)
			ldappub_too_large(sess, dn, attr, len, err, errlen);
		goto out;
	}
	log_info("ldappub: published %s of %s (%zu bytes)", attr, dn, len);
	rc = 0;
out:
	/* After a failure the connection's state is unknown: start afresh. */
	if (rc == -1)
		ldappub_session_close(sess);
	free(cn);
	return rc;
}

int
ldappub_put(const struct ldappub_conf *conf, const char *dn,
    const char *attr, const unsigned char *der, size_t len, char *err,
    size_t errlen)
{
	struct ldappub_session sess;
	int rc;

	ldappub_session_init(&sess, conf);
	rc = ldappub_session_put(&sess, dn, attr, der, len, err, errlen);
	ldappub_session_close(&sess);
	return rc;
}

int
ldappub_conf_timeout(const struct config *cfg, struct ldappub_conf *conf)
{
	return config_get_long(cfg, "ldap.timeout_seconds",
	    LDAPPUB_TIMEOUT_DEFAULT_S, 1, 120, &conf->timeout_seconds);
}
