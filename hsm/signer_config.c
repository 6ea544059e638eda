/*
 * Building a signer's configuration from pki.conf's [hsm] section: the
 * module, the lock directory and, per role, the token and its PIN source.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "hsm/signer.h"
#include "lib/config.h"
#include "lib/log.h"

/* Wipes the variable's value in place, then unsets it. */
static void
signer_config_forget_env(const char *name)
{
	char *v;

	/* In place first: unsetenv only drops the pointer to it. */
	if ((v = getenv(name)) != NULL)
		OPENSSL_cleanse(v, strlen(v));
	unsetenv(name);
}

/* The environment variable each role's PIN may come from instead of a file. */
static const struct {
	const char	*role;
	const char	*pin_env;
} signer_roles[] = {
	{ "root", "PKI_ROOT_PIN" }, { "ca", "PKI_CA_PIN" },
	{ "ocsp", "PKI_OCSP_PIN" }, { "tsa", "PKI_TSA_PIN" },
	{ "audit", "PKI_AUDIT_PIN" }, { "wrap", "PKI_WRAP_PIN" },
};

int
signer_config_add_token(struct signer_config *sc, const struct config *cfg,
    const char *role)
{
	struct signer_token *t;
	char key[64];
	long v;
	size_t i;

	for (i = 0; i < sizeof(signer_roles) / sizeof(signer_roles[0]); i++) {
		if (strcmp(signer_roles[i].role, role) == 0)
			break;
	}
	if (i == sizeof(signer_roles) / sizeof(signer_roles[0]) ||
	    sc->ntokens >= SIGNER_MAX_TOKENS) {
		log_err("signer: no token role %s", role);
		return -1;
	}
	sc->cfg = cfg;
	if (sc->module == NULL) {
		sc->module = config_get(cfg, "hsm.module", NULL);
		sc->lock_dir = config_get(cfg, "hsm.lock_dir", NULL);
		sc->module_write_dir = config_get(cfg, "hsm.module_write_dir",
		    NULL);
		if (config_get_bool(cfg, "hsm.session_keys", 1,
		    &sc->session_keys) == -1)
			return -1;
		if (config_get_long(cfg, "hsm.signer_timeout_seconds",
		    SIGNER_TIMEOUT_DEFAULT_S, 1, SIGNER_TIMEOUT_MAX_S, &v) == -1)
			return -1;
		sc->timeout_s = (unsigned int)v;
		if (config_get_long(cfg, "hsm.keygen_timeout_seconds",
		    SIGNER_KEYGEN_TIMEOUT_DEFAULT_S, 1, SIGNER_TIMEOUT_MAX_S,
		    &v) == -1)
			return -1;
		sc->keygen_timeout_s = (unsigned int)v;
		if (config_get_long(cfg, "hsm.crl_max_validity_seconds",
		    SIGNER_CRL_MAX_VALIDITY_DEFAULT_S, 60, 3650L * 86400,
		    &sc->crl_max_validity_s) == -1)
			return -1;
		if (config_get_long(cfg, "hsm.ocsp_max_validity_seconds",
		    SIGNER_OCSP_MAX_VALIDITY_DEFAULT_S, 60, 366L * 86400,
		    &sc->ocsp_max_validity_s) == -1)
			return -1;
	}
	if (sc->module == NULL) {
		log_err("config: hsm.module missing");
		return -1;
	}
	t = &sc->tokens[sc->ntokens];
	snprintf(key, sizeof(key), "hsm.%s_token", role);
	if ((t->label = config_get(cfg, key, NULL)) == NULL) {
		log_err("config: %s missing", key);
		return -1;
	}
	snprintf(key, sizeof(key), "hsm.%s_pin_file", role);
	t->pin_file = config_get(cfg, key, NULL);
	t->pin_env = signer_roles[i].pin_env;
	/*
	 * The file wins and the variable is never read: it goes at once, so
	 * that no process forked from here (a worker facing the network, its
	 * signer) has it in /proc/<pid>/environ. Until 2026-12-06 it stayed.
	 */
	if (t->pin_file != NULL && getenv(t->pin_env) != NULL) {
		log_warn("signer: both %s and %s are set: the PIN is read from "
		    "the file; the variable is ignored and wiped", key,
		    t->pin_env);
		signer_config_forget_env(t->pin_env);
	}
	sc->ntokens++;
	return 0;
}

int
signer_config_grant(struct signer_config *sc, enum signer_kind kind,
    const char *key_label)
{
	if (sc->ngrants >= SIGNER_MAX_GRANTS) {
		log_err("signer: more than %d grants", SIGNER_MAX_GRANTS);
		return -1;
	}
	sc->grants[sc->ngrants].kind = kind;
	sc->grants[sc->ngrants].key_label = key_label;
	sc->grants[sc->ngrants].numbered = 0;
	sc->ngrants++;
	return 0;
}

int
signer_config_grant_numbered(struct signer_config *sc, enum signer_kind kind,
    const char *prefix)
{
	if (signer_config_grant(sc, kind, prefix) == -1)
		return -1;
	sc->grants[sc->ngrants - 1].numbered = 1;
	return 0;
}

void
signer_config_forget_pins(const struct signer_config *sc)
{
	int i;

	/* With a pin_file too: the variable was not read, but must not stay. */
	for (i = 0; i < sc->ntokens && i < SIGNER_MAX_TOKENS; i++)
		if (sc->tokens[i].pin_env != NULL)
			signer_config_forget_env(sc->tokens[i].pin_env);
}
