/*
 * The identity-verification adapter: given the typed identity and the two
 * images, a provider returns what its OCR read on the e-KTP photo, a
 * liveness score of the selfie and a biometric match score of the selfie
 * against the population registry (Dukcapil), with its reference.
 *
 * The only adapter shipped is the LOCAL SIMULATOR (ra.idv = simulator): it
 * calls nobody and is deterministic from its inputs, so tests and officers
 * can reproduce every outcome:
 *
 *	h = SHA-256("pki-ra-idv-simulator-v1" | nik | 0 | full_name | 0 |
 *	            birth_date | 0 | SHA-256(ktp) | SHA-256(selfie))
 *	liveness = 85 + h[0] % 16, match = 85 + h[1] % 16   (85-100)
 *	reference = "sim-" + hex(h[0..7])
 *
 * and the OCR fields echo the typed data. Triggers in full_name (letters and
 * '-' are allowed in names) show failing checks:
 *
 *	"OCR-MISMATCH"	the OCR reads another NIK (last digit + 1 mod 10)
 *			and the name "SIMULATED OCR MISMATCH"
 *	"LIVENESS-FAIL"	liveness = h[0] % 50   (0-49)
 *	"MATCH-FAIL"	match = h[1] % 50      (0-49)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/log.h"
#include "ra/extern.h"

struct ra_idv {
	const char	*name;
	int		(*verify)(struct ra_idv *, const struct ra_idv_input *,
			    struct ra_idv_result *);
};

#define RA_IDV_SIM_LABEL	"pki-ra-idv-simulator-v1"

static int
ra_idv_sim_verify(struct ra_idv *idv, const struct ra_idv_input *in,
    struct ra_idv_result *out)
{
	static const unsigned char zero = 0;
	unsigned char h[32], hk[32], hs[32];
	unsigned int n;
	EVP_MD_CTX *ctx = NULL;
	int rc = -1, i;

	(void)idv;
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_Digest(in->ktp, in->ktp_len, hk, &n, EVP_sha256(), NULL) != 1 ||
	    EVP_Digest(in->selfie, in->selfie_len, hs, &n, EVP_sha256(),
	    NULL) != 1 ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, RA_IDV_SIM_LABEL,
	    sizeof(RA_IDV_SIM_LABEL) - 1) != 1 ||
	    EVP_DigestUpdate(ctx, in->nik, strlen(in->nik)) != 1 ||
	    EVP_DigestUpdate(ctx, &zero, 1) != 1 ||
	    EVP_DigestUpdate(ctx, in->full_name, strlen(in->full_name)) != 1 ||
	    EVP_DigestUpdate(ctx, &zero, 1) != 1 ||
	    EVP_DigestUpdate(ctx, in->birth_date, strlen(in->birth_date)) != 1 ||
	    EVP_DigestUpdate(ctx, &zero, 1) != 1 ||
	    EVP_DigestUpdate(ctx, hk, sizeof(hk)) != 1 ||
	    EVP_DigestUpdate(ctx, hs, sizeof(hs)) != 1 ||
	    EVP_DigestFinal_ex(ctx, h, &n) != 1) {
		log_openssl(LOGL_ERR, "idv simulator: SHA-256");
		goto out;
	}
	snprintf(out->ocr_nik, sizeof(out->ocr_nik), "%s", in->nik);
	snprintf(out->ocr_name, sizeof(out->ocr_name), "%s", in->full_name);
	snprintf(out->ocr_birth_date, sizeof(out->ocr_birth_date), "%s",
	    in->birth_date);
	out->liveness = 85 + h[0] % 16;
	out->match = 85 + h[1] % 16;
	if (strstr(in->full_name, "OCR-MISMATCH") != NULL &&
	    strlen(out->ocr_nik) == RA_NIK_LEN) {
		out->ocr_nik[RA_NIK_LEN - 1] = (char)('0' +
		    (out->ocr_nik[RA_NIK_LEN - 1] - '0' + 1) % 10);
		snprintf(out->ocr_name, sizeof(out->ocr_name),
		    "SIMULATED OCR MISMATCH");
	}
	if (strstr(in->full_name, "LIVENESS-FAIL") != NULL)
		out->liveness = h[0] % 50;
	if (strstr(in->full_name, "MATCH-FAIL") != NULL)
		out->match = h[1] % 50;
	memcpy(out->reference, "sim-", 4);
	for (i = 0; i < 8; i++)
		snprintf(out->reference + 4 + 2 * i, 3, "%02x", h[i]);
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

struct ra_idv *
ra_idv_new(const char *name, char *err, size_t errlen)
{
	struct ra_idv *idv;

	if (name == NULL || strcmp(name, "simulator") != 0) {
		snprintf(err, errlen, "ra.idv = %s: unknown identity-"
		    "verification adapter; the only one of this version is "
		    "\"simulator\" (the LOCAL SIMULATOR)", name == NULL ?
		    "(unset)" : name);
		return NULL;
	}
	if ((idv = calloc(1, sizeof(*idv))) == NULL) {
		snprintf(err, errlen, "calloc: out of memory");
		return NULL;
	}
	idv->name = "simulator";
	idv->verify = ra_idv_sim_verify;
	return idv;
}

void
ra_idv_free(struct ra_idv *idv)
{
	free(idv);
}

const char *
ra_idv_name(const struct ra_idv *idv)
{
	return idv->name;
}

int
ra_idv_verify(struct ra_idv *idv, const struct ra_idv_input *in,
    struct ra_idv_result *out)
{
	memset(out, 0, sizeof(*out));
	if (idv->verify(idv, in, out) == -1) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}
