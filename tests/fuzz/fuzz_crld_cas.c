/*
 * libFuzzer harness for out_dir/crld-cas.json (crl/cas.c crl_cas_parse),
 * which crld reads as root at a start-up while the database is down, and
 * which its demoted user can write; and for what crld then derives from
 * each CA's certificate (lib/publish.c publish_ca_dn, the LDAP entry name;
 * crl_cas_name_ok, its file and URL name). The first byte picks:
 *  - even: the rest is the whole file;
 *  - odd: the rest is DER, hex-encoded as the "cert" of the root and of
 *    an issuing CA in a file otherwise as crld writes it, so that
 *    certificates of any shape reach d2i_X509 and publish_ca_dn.
 * Invariants: a refusal says why; an accepted file gives a root named
 * "root" and 1 to CRL_MAX_ISSUING issuing CAs, each with a positive id, a
 * certificate that encodes, and an issuing
 * CA's key label one of the issuing CAs' labels (issuing-ca-1, issuing-N);
 * a DN publish_ca_dn gives starts "cn=", ends with the base and fits.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "crl/extern.h"
#include "lib/hex.h"
#include "lib/publish.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_BASE	"ou=pki,dc=example,dc=id"

/* Checks what crld derives from CA c. */
static void
fuzz_ca(const struct cadb_ca *c)
{
	char dn[512];
	unsigned char *der = NULL;
	size_t bl = strlen(FUZZ_BASE), n;

	if (c->id <= 0 || c->cert == NULL || i2d_X509(c->cert, &der) <= 0)
		abort();
	OPENSSL_free(der);
	memset(dn, 0x7f, sizeof(dn));
	if (publish_ca_dn(FUZZ_BASE, c->cert, dn, sizeof(dn)) == 0) {
		if (memchr(dn, '\0', sizeof(dn)) == NULL)
			abort();
		n = strlen(dn);
		if (strncmp(dn, "cn=", 3) != 0 || n < bl + 4 ||
		    strcmp(dn + n - bl, FUZZ_BASE) != 0 || dn[n - bl - 1] != ',')
			abort();
	}
	(void)crl_cas_name_ok(c->name);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crl_cas cas;
	unsigned char *text = NULL;
	char err[512], *hex = NULL;
	size_t i, len;
	int n;

	if (size < 1 || size > CRL_CAS_FILE_MAX / 4)
		return 0;
	if (data[0] % 2 == 0) {
		if ((text = malloc(size)) == NULL)
			abort();
		memcpy(text, data + 1, size - 1);
		len = size - 1;
	} else {
		if ((hex = malloc(2 * size + 1)) == NULL)
			abort();
		hex_encode(data + 1, size - 1, hex);
		len = 4 * size + 512;
		if ((text = malloc(len)) == NULL)
			abort();
		n = snprintf((char *)text, len, "{\"root\": {\"id\": 1, "
		    "\"name\": \"root\", \"token\": \"pki-root\", \"key_label\": "
		    "\"root-ca-1\", \"cert\": \"%s\"}, \"issuing_cas\": [{\"id\": "
		    "2, \"name\": \"issuing\", \"token\": \"pki-ca\", "
		    "\"key_label\": \"issuing-ca-1\", \"cert\": \"%s\"}]}", hex,
		    hex);
		if (n < 0 || (size_t)n >= len)
			abort();
		len = (size_t)n;
	}
	memset(err, 0, sizeof(err));
	if (crl_cas_parse(text, len, &cas, err, sizeof(err)) == -1) {
		if (err[0] == '\0' || err[sizeof(err) - 1] != '\0' ||
		    cas.root.cert != NULL || cas.nissuing != 0)
			abort();
	} else {
		if (strcmp(cas.root.name, "root") != 0 || cas.nissuing < 1 ||
		    cas.nissuing > CRL_MAX_ISSUING)
			abort();
		fuzz_ca(&cas.root);
		for (i = 0; i < cas.nissuing; i++) {
			if (!crl_cas_key_label_ok(cas.issuing[i].key_label))
				abort();
			fuzz_ca(&cas.issuing[i]);
		}
		crl_cas_clear(&cas);
	}
	free(text);
	free(hex);
	ERR_clear_error();
	return 0;
}
