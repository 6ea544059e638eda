/*
 * out_dir/crld-cas.json, which crld reads at a start-up while the database
 * is unreachable (crl/main.c crld_load_cas_file): from its bytes alone, no
 * daemon state, so that tests/fuzz/fuzz_crld_cas.c can feed it any.
 * out_dir is crld's demoted user's: what was written there after a
 * compromise of that process is read here, as root, before the signer
 * starts with the grants it names (crl/README.md "crld-cas.json").
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "crl/extern.h"
#include "lib/cadb.h"
#include "lib/hex.h"
#include "lib/json.h"

int
crl_cas_name_ok(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n < 32 && name[0] != '.' && name[0] != '-' &&
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") == n;
}

int
crl_cas_key_label_ok(const char *label)
{
	size_t n;

	if (strcmp(label, CRL_CAS_FIRST_KEY) == 0)
		return 1;
	if (strncmp(label, CRL_CAS_RENEWED_KEY, strlen(CRL_CAS_RENEWED_KEY))
	    != 0)
		return 0;
	label += strlen(CRL_CAS_RENEWED_KEY);
	n = strspn(label, "0123456789");
	return n > 0 && n <= 9 && label[n] == '\0' && label[0] != '0';
}

/*
 * One CA object (j) into c; want: the name it must have (NULL: any);
 * issuing: its key_label must be an issuing CA's. 0, or -1 with why in
 * err (never the file's bytes: jansson's message would quote them).
 */
static int
crl_cas_one(json_t *j, const char *what, const char *want, int issuing,
    struct cadb_ca *c, char *err, size_t errlen)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	const char *name, *token, *label, *hex;
	json_error_t je;
	json_int_t id;
	size_t dlen, hlen;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	if (json_unpack_strict(j, &je, "{s:I, s:s, s:s, s:s, s:s}", "id", &id,
	    "name", &name, "token", &token, "key_label", &label, "cert",
	    &hex) == -1 || (want != NULL && strcmp(name, want) != 0)) {
		snprintf(err, errlen, "%s: not an object {id, name, token, "
		    "key_label, cert} as crld writes it", what);
		goto out;
	}
	/* As the database holds them: nothing cut to fit. */
	if (id <= 0 || strlen(name) >= sizeof(c->name) ||
	    strlen(token) >= sizeof(c->token) ||
	    strlen(label) >= sizeof(c->key_label)) {
		snprintf(err, errlen, "%s: an id, name, token or key_label "
		    "crld would not have written", what);
		goto out;
	}
	if (issuing && !crl_cas_key_label_ok(label)) {
		snprintf(err, errlen, "%s: key_label is not an issuing CA's "
		    "(%s1 or %sN, as `pkictl ca init` and `pkictl ca "
		    "issuing` name them)", what, CRL_CAS_FIRST_KEY,
		    CRL_CAS_RENEWED_KEY);
		goto out;
	}
	hlen = strlen(hex);
	if (hlen == 0 || hlen % 2 != 0 || (der = malloc(hlen / 2)) == NULL ||
	    hex_decode(hex, der, hlen / 2, &dlen) == -1 || dlen > LONG_MAX) {
		snprintf(err, errlen, "%s: bad certificate", what);
		goto out;
	}
	p = der;
	if ((c->cert = d2i_X509(NULL, &p, (long)dlen)) == NULL ||
	    p != der + dlen) {
		snprintf(err, errlen, "%s: bad certificate", what);
		goto out;
	}
	c->id = id;
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->token, sizeof(c->token), "%s", token);
	snprintf(c->key_label, sizeof(c->key_label), "%s", label);
	rc = 0;
out:
	if (rc == -1)
		cadb_clear(c);
	free(der);
	return rc;
}

int
crl_cas_parse(const unsigned char *text, size_t len, struct crl_cas *out,
    char *err, size_t errlen)
{
	json_error_t je;
	json_t *o = NULL, *list;
	size_t i;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if ((o = json_load_bounded(text, len, CRL_CAS_FILE_MAX, &je)) ==
	    NULL) {
		snprintf(err, errlen, "not JSON (line %d, column %d)", je.line,
		    je.column);
		goto out;
	}
	if (crl_cas_one(json_object_get(o, "root"), "root", "root", 0,
	    &out->root, err, errlen) == -1)
		goto out;
	if ((list = json_object_get(o, "issuing_cas")) == NULL) {
		/* Written by a crld of one issuing CA. */
		if (crl_cas_one(json_object_get(o, "issuing"), "issuing",
		    "issuing", 1, &out->issuing[0], err, errlen) == -1)
			goto out;
		out->nissuing = 1;
	} else {
		if (!json_is_array(list) || json_array_size(list) == 0 ||
		    json_array_size(list) > CRL_MAX_ISSUING) {
			snprintf(err, errlen, "issuing_cas: not a list of 1 to "
			    "%d CAs", CRL_MAX_ISSUING);
			goto out;
		}
		for (i = 0; i < json_array_size(list); i++) {
			if (crl_cas_one(json_array_get(list, i), "issuing_cas",
			    NULL, 1, &out->issuing[i], err, errlen) == -1)
				goto out;
			out->nissuing++;
		}
	}
	rc = 0;
out:
	if (rc == -1)
		crl_cas_clear(out);
	json_decref(o);
	return rc;
}

void
crl_cas_clear(struct crl_cas *cas)
{
	size_t i;

	if (cas == NULL)
		return;
	cadb_clear(&cas->root);
	for (i = 0; i < CRL_MAX_ISSUING; i++)
		cadb_clear(&cas->issuing[i]);
	cas->nissuing = 0;
}
