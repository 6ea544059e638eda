/*
 * pkictl crl arl: the root's CRL (the ARL: the root issues only the issuing
 * CA and its OCSP responder), signed at a ceremony because the root key is
 * used only then. It is made like crld's CRLs (lib/crlgen.c: numbered in
 * crl_state, recorded in crl and crl_current, audited as "crl.issue",
 * written to crl.out_dir (or pki.out_dir)/root.crl, queued for LDAP as
 * authorityRevocationList;binary and certificateRevocationList;binary on
 * the root's entry), through a signer granted only {CRL, root key}; crld
 * serves the newest one at ${urls::crl_base}/root.crl. Policy:
 * [arl] next_update_days (365), digest (SHA384; an RSA root's: an EC
 * root's curve fixes it, lib/sigdigest.h), expired_grace_days (an
 * expired revoked certificate stays listed this long after its notAfter;
 * default and minimum: next_update_days).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

#include "ca/extern.h"
#include "hsm/signer.h"
#include "lib/cadb.h"
#include "lib/config.h"
#include "lib/crlgen.h"
#include "lib/db.h"
#include "lib/log.h"
#include "lib/publish.h"
#include "lib/sigdigest.h"

struct arl_signer {
	struct signer	*signer;
	const char	*label;
	const char	*digest;
};

static int
arl_sign(void *arg, const unsigned char *tbs, size_t tbslen,
    unsigned char **sig, size_t *siglen, char *err, size_t errlen)
{
	struct arl_signer *as = arg;

	return signer_sign(as->signer, SIGNER_KIND_CRL, as->label, as->digest,
	    tbs, tbslen, sig, siglen, err, errlen);
}

int
arl_issue(const struct config *cfg, const char *actor)
{
	struct arl_signer as;
	struct crlgen_issuer is;
	struct crlgen_policy pol;
	struct crlgen_result r;
	struct config *policy = NULL;
	struct db *db = NULL;
	struct cadb_ca root;
	const char *base = config_get(cfg, "urls.crl_base", NULL);
	const char *ldap_base = config_get(cfg, "ldap.base", NULL);
	char err[512], url[512], why[128];
	char dn[512], path[1024], nu[32];
	long days, grace;
	struct tm tm;
	int pending, rc = PKICTL_EXIT_FAIL;

	memset(&r, 0, sizeof(r));
	memset(&as, 0, sizeof(as));
	memset(&root, 0, sizeof(root));
	snprintf(path, sizeof(path), "%s/crl.conf", config_get(cfg,
	    "pki.policy_dir", "policy"));
	if ((policy = config_load(config_get(cfg, "crl.policy_file", path), err,
	    sizeof(err))) == NULL) {
		log_err("%s", err);
		goto out;
	}
	/*
	 * RFC 5280 §3.3: an entry stays until a regularly scheduled CRL issued
	 * after the certificate's expiry has listed it. ARLs are a year apart:
	 * crld's grace (crl.expired_grace_seconds, days) would drop a
	 * certificate revoked and expired between two ARLs before any ARL
	 * listed it. The ARL's grace is its own, at least its nextUpdate.
	 */
	if (config_get_long(policy, "arl.next_update_days", 365, 1, 3650,
	    &days) == -1 || config_get_long(policy, "arl.expired_grace_days",
	    days, 0, 36500, &grace) == -1)
		goto out;
	if (grace < days) {
		log_err("policy: arl.expired_grace_days (%ld) must be at least "
		    "arl.next_update_days (%ld): an ARL would drop a revoked "
		    "certificate that expired since the last one before any ARL "
		    "listed it (RFC 5280 §3.3)", grace, days);
		goto out;
	}
	if (base == NULL) {
		log_err("config: urls.crl_base missing");
		goto out;
	}
	if ((db = pkictl_db(cfg)) == NULL)
		goto out;
	if (cadb_load(db, "root", &root) != 0) {
		log_err("no root CA: run `pkictl ca init` first");
		goto out;
	}

	/* The root key signs this CRL and nothing else in this run. */
	if ((as.signer = pkictl_signer_for(cfg, &root, SIGNER_KIND_CRL)) == NULL)
		goto out;
	as.label = root.key_label;
	/*
	 * The root's curve fixes the digest (lib/sigdigest.h); arl.digest is
	 * an RSA root's.
	 */
	if ((as.digest = sigdigest_for_key(X509_get0_pubkey(root.cert),
	    config_get(policy, "arl.digest", "SHA384"), why,
	    sizeof(why))) == NULL) {
		log_err("the root's key signs no ARL: %s", why);
		goto out;
	}

	memset(&is, 0, sizeof(is));
	is.id = root.id;
	is.name = "root";
	is.cert = root.cert;
	is.digest = as.digest;
	memset(&pol, 0, sizeof(pol));
	/*
	 * No Issuing Distribution Point: the self-signed root has no CRL
	 * distribution point, and relying parties that check the whole chain
	 * (OpenSSL -crl_check_all) check the root against this CRL too; an IDP
	 * distributionPoint would put the root out of its scope ("different
	 * CRL scope"). Without one the CRL covers everything the root issued
	 * (RFC 5280 §5.2.5), which is what an ARL is.
	 */
	snprintf(url, sizeof(url), "%s/root.crl", base);
	pol.url = NULL;
	pol.next_update = days * 86400;
	pol.expired_grace = grace * 86400;
	/* Where crld writes the issuing CA's CRLs. */
	pol.out_dir = config_get(cfg, "crl.out_dir", config_get(cfg,
	    "pki.out_dir", NULL));
	if (ldap_base != NULL) {
		if (publish_ca_dn(ldap_base, root.cert, dn, sizeof(dn)) == -1) {
			log_err("no LDAP entry name for the root");
			goto out;
		}
		pol.ldap_dn = dn;
	}
	pol.arl = 1;
	if (crlgen_issue(db, actor, &is, &pol, CRLGEN_FULL, 0, arl_sign, &as,
	    &r, err, sizeof(err)) == -1) {
		log_err("ARL: %s", err);
		goto out;
	}
	gmtime_r(&r.next_update, &tm);
	strftime(nu, sizeof(nu), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("ARL %lld of the root issued: %lld entries, %zu bytes, next "
	    "update %s, %s/root.crl, served at %s\n", r.number, r.entries,
	    r.len, nu, pol.out_dir != NULL ? pol.out_dir : "(no crl.out_dir)",
	    url);
	if (pol.ldap_dn != NULL) {
		if ((pending = certstore_publish(db, cfg, actor)) != 0)
			log_warn("LDAP: %d publication(s) pending; `pkictl "
			    "publish` or crld retries them", pending);
	}
	rc = PKICTL_EXIT_OK;
out:
	crlgen_result_clear(&r);
	signer_close(as.signer);
	cadb_clear(&root);
	db_close(db);
	config_free(policy);
	return rc;
}

int
cmd_crl(const struct config *cfg, const char *actor, int argc, char **argv)
{
	if (argc != 1 || strcmp(argv[0], "arl") != 0)
		return PKICTL_EXIT_USAGE;
	return arl_issue(cfg, actor);
}
