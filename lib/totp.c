/*
 * RFC 6238 TOTP, RFC 4648 base32, otpauth:// URIs, and AES-256-GCM sealing
 * of stored TOTP secrets (lib/totp.h).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "lib/secret.h"
#include "lib/totp.h"

#define TOTP_NONCE_BYTES	12	/* NIST SP 800-38D §8.2: 96-bit IV */
#define TOTP_TAG_BYTES		16

static const char totp_b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void
totp_params_default(struct totp_params *p)
{
	p->alg = TOTP_SHA1;
	p->digits = 6;
	p->period = TOTP_PERIOD_DEFAULT;
}

static const char *
totp_alg_digest(enum totp_alg alg)
{
	switch (alg) {
	case TOTP_SHA1: return "SHA1";
	case TOTP_SHA256: return "SHA256";
	case TOTP_SHA512: return "SHA512";
	}
	return NULL;
}

static int
totp_params_check(const struct totp_params *p)
{
	if (p == NULL || totp_alg_digest(p->alg) == NULL ||
	    p->digits < TOTP_DIGITS_MIN || p->digits > TOTP_DIGITS_MAX ||
	    p->period == 0)
		return TOTP_ERR_ARG;
	return TOTP_OK;
}

int
totp_base32_encode(const unsigned char *in, size_t len, int pad, char *out,
    size_t outlen)
{
	size_t i, o = 0, need;
	uint32_t acc = 0;
	int bits = 0;

	need = (len + 4) / 5 * 8;
	if (!pad)
		need = (len * 8 + 4) / 5;
	if (outlen < need + 1)
		return TOTP_ERR_ARG;
	for (i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = totp_b32[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = totp_b32[(acc << (5 - bits)) & 31];
	while (pad && o % 8 != 0)
		out[o++] = '=';
	out[o] = '\0';
	return TOTP_OK;
}

static int
totp_b32_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

int
totp_base32_decode(const char *in, unsigned char *out, size_t outlen,
    size_t *outl)
{
	size_t n, len = strlen(in), i, o = 0, npad = 0;
	uint32_t acc = 0;
	int bits = 0, v;

	*outl = 0;
	for (n = len; n > 0 && in[n - 1] == '='; n--)
		npad++;
	if (npad > 0 && len % 8 != 0)
		return TOTP_ERR_ARG;	/* RFC 4648 §6: pad to a multiple of 8 */
	/* Valid lengths of the last quantum: 2, 4, 5, 7 characters. */
	switch (n % 8) {
	case 1: case 3: case 6:
		return TOTP_ERR_ARG;
	}
	if (npad >= 8 || (npad > 0 && (n % 8) + npad != 8))
		return TOTP_ERR_ARG;
	if (n * 5 / 8 > outlen)
		return TOTP_ERR_ARG;
	for (i = 0; i < n; i++) {
		if ((v = totp_b32_value(in[i])) == -1)
			return TOTP_ERR_ARG;
		acc = (acc << 5) | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			out[o++] = (unsigned char)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	/* RFC 4648 §3.5: the left-over bits must be zero. */
	if ((acc & ((1u << bits) - 1)) != 0) {
		OPENSSL_cleanse(out, o);
		return TOTP_ERR_ARG;
	}
	*outl = o;
	return TOTP_OK;
}

int
totp_step(const struct totp_params *p, time_t now, uint64_t *step)
{
	*step = 0;
	if (totp_params_check(p) != TOTP_OK || now < 0)
		return TOTP_ERR_ARG;
	*step = (uint64_t)now / p->period;
	return TOTP_OK;
}

int
totp_code(const struct totp_params *p, const unsigned char *key, size_t keylen,
    uint64_t step, char out[TOTP_DIGITS_MAX + 1])
{
	static const uint32_t pow10[] = { 1, 10, 100, 1000, 10000, 100000,
	    1000000, 10000000, 100000000 };
	unsigned char msg[8], mac[EVP_MAX_MD_SIZE];
	size_t maclen = 0, off;
	uint32_t bin;
	int i;

	/* All of out: totp_verify compares the whole buffer. */
	memset(out, 0, TOTP_DIGITS_MAX + 1);
	if (totp_params_check(p) != TOTP_OK || key == NULL || keylen == 0)
		return TOTP_ERR_ARG;
	/* RFC 4226 §5.2: the counter, 8 bytes big-endian. */
	for (i = 7; i >= 0; i--) {
		msg[i] = (unsigned char)(step & 0xff);
		step >>= 8;
	}
	if (EVP_Q_mac(NULL, "HMAC", NULL, totp_alg_digest(p->alg), NULL, key,
	    keylen, msg, sizeof(msg), mac, sizeof(mac), &maclen) == NULL ||
	    maclen < 20)
		return TOTP_ERR_CRYPTO;
	/* RFC 4226 §5.3 dynamic truncation. */
	off = mac[maclen - 1] & 0x0f;
	bin = ((uint32_t)(mac[off] & 0x7f) << 24) |
	    ((uint32_t)mac[off + 1] << 16) | ((uint32_t)mac[off + 2] << 8) |
	    (uint32_t)mac[off + 3];
	OPENSSL_cleanse(mac, sizeof(mac));
	snprintf(out, TOTP_DIGITS_MAX + 1, "%0*u", (int)p->digits,
	    (unsigned int)(bin % pow10[p->digits]));
	return TOTP_OK;
}

int
totp_verify(const struct totp_params *p, const unsigned char *key,
    size_t keylen, const char *code, time_t now, uint64_t last_step,
    uint64_t *matched)
{
	char want[TOTP_DIGITS_MAX + 1], got[TOTP_DIGITS_MAX + 1];
	uint64_t step, s, best = 0;
	size_t len;
	int rc, shape = 1, found = 0, d;

	*matched = 0;
	if ((rc = totp_step(p, now, &step)) != TOTP_OK)
		return rc;
	if (step < TOTP_WINDOW)
		return TOTP_ERR_ARG;
	/* A fixed-size copy, so the comparison length never depends on input. */
	memset(got, 0, sizeof(got));
	len = strnlen(code, TOTP_DIGITS_MAX + 1);
	if (len != p->digits)
		shape = 0;
	else
		memcpy(got, code, len);
	for (d = 0; d < (int)p->digits; d++)
		if (got[d] < '0' || got[d] > '9')
			shape = 0;
	for (s = step - TOTP_WINDOW; s <= step + TOTP_WINDOW; s++) {
		if ((rc = totp_code(p, key, keylen, s, want)) != TOTP_OK)
			goto out;
		/* Constant time; the latest matching step wins. */
		if (CRYPTO_memcmp(want, got, TOTP_DIGITS_MAX + 1) == 0) {
			found = 1;
			best = s;
		}
	}
	if (!shape || !found)
		rc = TOTP_ERR_MISMATCH;
	else if (best <= last_step)
		rc = TOTP_ERR_REPLAY;
	else {
		*matched = best;
		rc = TOTP_OK;
	}
out:
	OPENSSL_cleanse(want, sizeof(want));
	OPENSSL_cleanse(got, sizeof(got));
	return rc;
}

/* Appends s percent-encoded (RFC 3986 §2.1, all but unreserved). */
static int
totp_pct(const char *s, char *out, size_t outlen, size_t *o)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		    c == '~') {
			if (*o + 1 >= outlen)
				return TOTP_ERR_ARG;
			out[(*o)++] = (char)c;
			continue;
		}
		if (*o + 3 >= outlen)
			return TOTP_ERR_ARG;
		out[(*o)++] = '%';
		out[(*o)++] = hex[c >> 4];
		out[(*o)++] = hex[c & 15];
	}
	out[*o] = '\0';
	return TOTP_OK;
}

static int
totp_cat(const char *s, char *out, size_t outlen, size_t *o)
{
	size_t n = strlen(s);

	if (*o + n >= outlen)
		return TOTP_ERR_ARG;
	memcpy(out + *o, s, n + 1);
	*o += n;
	return TOTP_OK;
}

int
totp_uri(const struct totp_params *p, const char *issuer, const char *account,
    const unsigned char *key, size_t keylen, char *out, size_t outlen)
{
	char b32[128], tail[96];
	size_t o = 0;
	int rc = TOTP_ERR_ARG;

	if (outlen > 0)
		out[0] = '\0';
	if (totp_params_check(p) != TOTP_OK || issuer == NULL ||
	    account == NULL || *issuer == '\0' || *account == '\0' ||
	    strchr(issuer, ':') != NULL || keylen == 0 || keylen > 64 ||
	    outlen == 0)
		return TOTP_ERR_ARG;
	if (totp_base32_encode(key, keylen, 0, b32, sizeof(b32)) != TOTP_OK)
		goto out;
	snprintf(tail, sizeof(tail), "&algorithm=%s&digits=%u&period=%u",
	    totp_alg_digest(p->alg), p->digits, p->period);
	if (totp_cat("otpauth://totp/", out, outlen, &o) != TOTP_OK ||
	    totp_pct(issuer, out, outlen, &o) != TOTP_OK ||
	    totp_cat(":", out, outlen, &o) != TOTP_OK ||
	    totp_pct(account, out, outlen, &o) != TOTP_OK ||
	    totp_cat("?secret=", out, outlen, &o) != TOTP_OK ||
	    totp_cat(b32, out, outlen, &o) != TOTP_OK ||
	    totp_cat("&issuer=", out, outlen, &o) != TOTP_OK ||
	    totp_pct(issuer, out, outlen, &o) != TOTP_OK ||
	    totp_cat(tail, out, outlen, &o) != TOTP_OK)
		goto out;
	rc = TOTP_OK;
out:
	OPENSSL_cleanse(b32, sizeof(b32));
	if (rc != TOTP_OK)
		OPENSSL_cleanse(out, outlen);
	return rc;
}

int
totp_key_load(const char *path, unsigned char key[TOTP_SEAL_KEY_BYTES],
    char *err, size_t errlen)
{
	return secret_read_hexkey(path, key, TOTP_SEAL_KEY_BYTES, err, errlen) ==
	    0 ? TOTP_OK : TOTP_ERR_IO;
}

/* One AES-256-GCM pass: enc 1 seals, 0 opens (tag checked). */
static int
totp_gcm(int enc, const unsigned char *key, const unsigned char *nonce,
    const char *aad, const unsigned char *in, size_t len, unsigned char *out,
    unsigned char tag[TOTP_TAG_BYTES])
{
	EVP_CIPHER_CTX *ctx = NULL;
	int n = 0, rc = TOTP_ERR_CRYPTO;

	if (len > 4096 || (ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce,
	    enc) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)aad,
	    (int)strlen(aad)) != 1 ||
	    EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG,
	    TOTP_TAG_BYTES, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + n, &n) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG,
	    TOTP_TAG_BYTES, tag) != 1)
		goto out;
	rc = TOTP_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int
totp_seal(const unsigned char key[TOTP_SEAL_KEY_BYTES], const char *aad,
    const unsigned char *secret, size_t len, unsigned char *out,
    size_t outlen)
{
	if (aad == NULL || len == 0 || outlen < len + TOTP_SEAL_OVERHEAD)
		return TOTP_ERR_ARG;
	if (RAND_bytes(out, TOTP_NONCE_BYTES) != 1)
		return TOTP_ERR_CRYPTO;
	if (totp_gcm(1, key, out, aad, secret, len, out + TOTP_NONCE_BYTES,
	    out + TOTP_NONCE_BYTES + len) != TOTP_OK) {
		OPENSSL_cleanse(out, outlen);
		return TOTP_ERR_CRYPTO;
	}
	return TOTP_OK;
}

int
totp_open(const unsigned char key[TOTP_SEAL_KEY_BYTES], const char *aad,
    const unsigned char *in, size_t inlen, unsigned char *out, size_t outlen,
    size_t *outl)
{
	unsigned char tag[TOTP_TAG_BYTES];
	size_t len;

	*outl = 0;
	if (aad == NULL || inlen <= TOTP_SEAL_OVERHEAD)
		return TOTP_ERR_ARG;
	len = inlen - TOTP_SEAL_OVERHEAD;
	if (outlen < len)
		return TOTP_ERR_ARG;
	memcpy(tag, in + TOTP_NONCE_BYTES + len, sizeof(tag));
	if (totp_gcm(0, key, in, aad, in + TOTP_NONCE_BYTES, len, out,
	    tag) != TOTP_OK) {
		OPENSSL_cleanse(out, len);
		return TOTP_ERR_CRYPTO;
	}
	*outl = len;
	return TOTP_OK;
}
