/*
 * libFuzzer harness for crlgen_file_check (lib/crlgen.c): the CRL files of
 * crld's out_dir (NAME.crl, NAME-delta.crl, root.crl), which crld reads at
 * every start-up and serves while PostgreSQL is down. out_dir belongs to
 * crld's demoted user, so their bytes are untrusted: the hand-written DER
 * walk (crlgen_rd) must never read past them, whatever they are. What it
 * accepts must also be a CRL OpenSSL reads, of fuzz_ocsp_request's
 * "CN=fuzz CA", with a CRL Number, nothing trailing. (The signature is
 * verified: what the fuzzer itself makes is refused; the walk before it,
 * over any bytes, is what this harness is for.)
 *
 * Seeds in tests/fixtures/fuzz_crlfile/, signed by that CA's key so that
 * the first run reaches past the signature: complete CRLs 7 (one entry,
 * keyCompromise; fuzz_revinfo's) and 9 (six entries), delta CRL 8 on base
 * 7 (removeFromCRL, certificateHold, a 16-byte serial).
 */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/crlgen.h"
#include "tests/fuzz/fuzzca.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);


static X509 *ca;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ca = fuzz_pem_cert(FUZZ_CA_PEM);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crlgen_file_info fi;
	const unsigned char *p = data;
	X509_CRL *crl;
	char err[512];

	if (crlgen_file_check(data, size, ca, &fi, err, sizeof(err)) == 0) {
		/* Accepted: one CRL OpenSSL reads, all of it, by our CA. */
		if ((crl = d2i_X509_CRL(NULL, &p, (long)size)) == NULL ||
		    p != data + size ||
		    X509_NAME_cmp(X509_CRL_get_issuer(crl),
		    X509_get_subject_name(ca)) != 0)
			abort();
		X509_CRL_free(crl);
		if (fi.number == 0)
			abort();
	}
	ERR_clear_error();
	return 0;
}
