/*
 * Certificate profiles: policy/profiles/<name>.cnf, in OpenSSL's own
 * configuration and x509v3_config syntax (policy/README.md), so extensions
 * are data, not code. We only add the [ profile ] keys and the checks.
 */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/conf.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/extern.h"
#include "lib/config.h"
#include "lib/file.h"
#include "lib/sigdigest.h"

#define PROFILE_MAX_BYTES	(64 * 1024)
#define PROFILE_MAX_DAYS	(30L * 366)
#define PROFILE_MAX_BACKDATE	(24L * 3600)
#define CN_MAX			64	/* ub-common-name, RFC 5280 Appendix A */
#define SERIAL_BYTES		16	/* 127 random bits: CA/B BR §7.1 asks >= 64 */

struct profile {
	char	 name[64];
	CONF	*conf;
	char	 keytype[16];
	char	 digest[16];
	long	 validity_days;
	long	 backdate;
	char	 subject[64];
	char	 extensions[64];
};

static const char *const profile_urls[] = { "ocsp", "crl_base", "tsa", "ra", "sign" };

/* Formats a message into err and appends OpenSSL's last error, if any. */
static void __attribute__((format(printf, 3, 4)))
profile_err(char *err, size_t errlen, const char *fmt, ...)
{
	char ebuf[256] = "";
	unsigned long e;
	size_t n;
	va_list ap;

	if ((e = ERR_peek_last_error()) != 0)
		ERR_error_string_n(e, ebuf, sizeof(ebuf));
	ERR_clear_error();
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	n = strlen(err);
	if (ebuf[0] != '\0' && n < errlen)
		snprintf(err + n, errlen - n, " (%s)", ebuf);
}

/* Copies a [profile] key into out; -1 when absent or too long. */
static int
profile_string(struct profile *p, const char *key, char *out, size_t outlen,
    char *err, size_t errlen)
{
	const char *v;

	ERR_set_mark();
	v = NCONF_get_string(p->conf, "profile", key);
	ERR_pop_to_mark();
	if (v == NULL || strlen(v) == 0 || strlen(v) >= outlen) {
		profile_err(err, errlen, "profile %s: [profile] %s missing or too long",
		    p->name, key);
		return -1;
	}
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

static int
profile_number(struct profile *p, const char *key, long min, long max, long *out,
    char *err, size_t errlen)
{
	char buf[32], *end;
	long v;

	if (profile_string(p, key, buf, sizeof(buf), err, errlen) == -1)
		return -1;
	v = strtol(buf, &end, 10);
	if (*end != '\0' || v < min || v > max) {
		profile_err(err, errlen, "profile %s: [profile] %s out of range",
		    p->name, key);
		return -1;
	}
	*out = v;
	return 0;
}

/*
 * An issuer's name as the profiles use it, ${issuer::name}: the path of its
 * CRLs and certificate under ${urls::crl_base} (crl/README.md). 1 to 31
 * characters of [A-Za-z0-9._-], not starting with '.' or '-': nothing a URL
 * path or OpenSSL's configuration syntax would read otherwise.
 */
int
profile_issuer_name_ok(const char *name)
{
	size_t i, n;

	if (name == NULL || (n = strlen(name)) == 0 || n > 31 ||
	    name[0] == '.' || name[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '.' &&
		    name[i] != '_' && name[i] != '-')
			return 0;
	return 1;
}

/*
 * The [ issuer ] and [ urls ] sections prepended to every profile: the
 * issuer's name, and pki.conf's [urls]. Values are checked: a newline or
 * '$' would inject configuration.
 */
static int
profile_urls_section(const struct config *cfg, const char *issuer, char *out,
    size_t outlen, char *err, size_t errlen)
{
	char key[32];
	size_t i, off;
	const char *v;

	if (!profile_issuer_name_ok(issuer)) {
		snprintf(err, errlen, "issuer name \"%s\" not allowed (1 to 31 "
		    "characters of A-Z a-z 0-9 . _ -)", issuer != NULL ? issuer :
		    "");
		return -1;
	}
	off = (size_t)snprintf(out, outlen, "[ issuer ]\nname = %s\n[ urls ]\n",
	    issuer);
	for (i = 0; i < sizeof(profile_urls) / sizeof(profile_urls[0]); i++) {
		snprintf(key, sizeof(key), "urls.%s", profile_urls[i]);
		v = config_get(cfg, key, "");
		if (strpbrk(v, "\r\n$\\\"'#") != NULL) {
			snprintf(err, errlen, "config %s holds a character not "
			    "allowed in a URL", key);
			return -1;
		}
		off += (size_t)snprintf(out + off, outlen - off, "%s = %s\n",
		    profile_urls[i], v);
		if (off >= outlen) {
			snprintf(err, errlen, "config [urls] too long");
			return -1;
		}
	}
	return 0;
}

struct profile *
profile_load(const char *policy_dir, const char *name, const char *issuer,
    const struct config *cfg, char *err, size_t errlen)
{
	struct profile *p = NULL, *ret = NULL;
	char path[PATH_MAX], ferr[PATH_MAX + 64], *text = NULL;
	unsigned char *file = NULL;
	size_t off, n;
	long eline = -1, prefix_lines;
	BIO *bio = NULL;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	if ((text = malloc(PROFILE_MAX_BYTES + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (profile_urls_section(cfg, issuer, text, PROFILE_MAX_BYTES, err,
	    errlen) == -1)
		goto out;
	off = strlen(text);
	for (n = 0, prefix_lines = 0; n < off; n++)
		prefix_lines += text[n] == '\n';
	snprintf(path, sizeof(path), "%s/profiles/%s.cnf", policy_dir, name);
	if (file_read_capped(path, PROFILE_MAX_BYTES - off, &file, &n, ferr,
	    sizeof(ferr)) == -1) {
		snprintf(err, errlen, "profile %s: %s", name, ferr);
		goto out;
	}
	memcpy(text + off, file, n + 1);
	if ((bio = BIO_new_mem_buf(text, (int)(off + n))) == NULL ||
	    (p->conf = NCONF_new(NULL)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (NCONF_load_bio(p->conf, bio, &eline) <= 0) {
		/* eline counts our prepended [issuer] and [urls] lines too. */
		profile_err(err, errlen, "profile %s: syntax error near line %ld",
		    path, eline - prefix_lines);
		goto out;
	}
	if (profile_string(p, "key_type", p->keytype, sizeof(p->keytype), err, errlen) == -1 ||
	    profile_string(p, "digest", p->digest, sizeof(p->digest), err, errlen) == -1 ||
	    profile_string(p, "subject", p->subject, sizeof(p->subject), err, errlen) == -1 ||
	    profile_string(p, "extensions", p->extensions, sizeof(p->extensions), err, errlen) == -1 ||
	    profile_number(p, "validity_days", 1, PROFILE_MAX_DAYS, &p->validity_days, err, errlen) == -1 ||
	    profile_number(p, "backdate_seconds", 0, PROFILE_MAX_BACKDATE, &p->backdate, err, errlen) == -1)
		goto out;
	if (strcmp(p->digest, "SHA256") != 0 && strcmp(p->digest, "SHA384") != 0 &&
	    strcmp(p->digest, "SHA512") != 0) {
		profile_err(err, errlen, "profile %s: digest %s not allowed "
		    "(SHA256, SHA384, SHA512)", name, p->digest);
		goto out;
	}
	ret = p;
	p = NULL;
out:
	free(file);
	BIO_free(bio);
	free(text);
	profile_free(p);
	return ret;
}

void
profile_free(struct profile *p)
{
	if (p == NULL)
		return;
	NCONF_free(p->conf);
	free(p);
}

const char *
profile_keytype(const struct profile *p)
{
	return p->keytype;
}

const char *
profile_digest(const struct profile *p)
{
	return p->digest;
}

const char *
profile_name(const struct profile *p)
{
	return p->name;
}

long
profile_validity_days(const struct profile *p)
{
	return p->validity_days;
}

long
profile_backdate_seconds(const struct profile *p)
{
	return p->backdate;
}

const char *
profile_get(const struct profile *p, const char *key)
{
	const char *v;

	ERR_set_mark();
	v = NCONF_get_string(p->conf, "profile", key);
	ERR_pop_to_mark();
	return v;
}

/* Subject from the profile's subject section; "N.TYPE" allows repeats (as in openssl req). */
static X509_NAME *
profile_subject(const struct profile *p, const char *cn_suffix, char *err,
    size_t errlen)
{
	STACK_OF(CONF_VALUE) *sect;
	X509_NAME *name = NULL, *ret = NULL;
	CONF_VALUE *v;
	const char *type, *dot;
	char cn[CN_MAX * 2];
	int i;

	if ((sect = NCONF_get_section(p->conf, p->subject)) == NULL ||
	    sk_CONF_VALUE_num(sect) == 0) {
		profile_err(err, errlen, "profile %s: subject section [%s] missing",
		    p->name, p->subject);
		goto out;
	}
	if ((name = X509_NAME_new()) == NULL)
		goto out;
	for (i = 0; i < sk_CONF_VALUE_num(sect); i++) {
		v = sk_CONF_VALUE_value(sect, i);
		type = v->name;
		if ((dot = strchr(type, '.')) != NULL && isdigit((unsigned char)type[0]))
			type = dot + 1;
		if (strcmp(type, "CN") == 0 && cn_suffix != NULL) {
			snprintf(cn, sizeof(cn), "%s (%s)", v->value, cn_suffix);
		} else
			snprintf(cn, sizeof(cn), "%s", v->value);
		if (strcmp(type, "CN") == 0 && strlen(cn) > CN_MAX) {
			profile_err(err, errlen, "profile %s: CN \"%s\" longer than "
			    "64 characters (RFC 5280 ub-common-name)", p->name, cn);
			goto out;
		}
		if (X509_NAME_add_entry_by_txt(name, type, MBSTRING_UTF8,
		    (const unsigned char *)cn, -1, -1, 0) != 1) {
			profile_err(err, errlen, "profile %s: bad subject attribute %s",
			    p->name, type);
			goto out;
		}
	}
	ret = name;
	name = NULL;
out:
	X509_NAME_free(name);
	return ret;
}

X509_NAME *
profile_subject_name(const struct profile *p, char *err, size_t errlen)
{
	return profile_subject(p, NULL, err, errlen);
}

/* A positive, non-zero serial of SERIAL_BYTES random bytes, top bit clear. */
static int
profile_serial(X509 *x)
{
	unsigned char buf[SERIAL_BYTES];
	BIGNUM *bn = NULL;
	int rc = -1;

	do {
		if (RAND_bytes(buf, sizeof(buf)) != 1)
			goto out;
		buf[0] &= 0x7f;
	} while (buf[0] == 0);
	if ((bn = BN_bin2bn(buf, sizeof(buf), NULL)) == NULL)
		goto out;
	if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto out;
	rc = 0;
out:
	BN_free(bn);
	return rc;
}

/*
 * Takes out a subjectAltName without a name: what "email:copy" makes of a
 * subject without emailAddress. RFC 5280 §4.2.1.6: when present, it holds
 * at least one name. One that does not parse stays, for the lint.
 */
static void
profile_drop_empty_san(X509 *x)
{
	GENERAL_NAMES *gens;
	int i, n;

	if ((i = X509_get_ext_by_NID(x, NID_subject_alt_name, -1)) < 0 ||
	    (gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
	    NULL)) == NULL)
		return;
	n = sk_GENERAL_NAME_num(gens);
	GENERAL_NAMES_free(gens);
	if (n == 0)
		X509_EXTENSION_free(X509_delete_ext(x, i));
}

X509 *
profile_build(const struct profile *p, const X509_NAME *subject_name,
    EVP_PKEY *subject_pub, const char *cn_suffix, X509 *issuer,
    int *transient, char *err, size_t errlen)
{
	X509 *x = NULL, *ret = NULL;
	X509_NAME *subject = NULL;
	X509V3_CTX v3;
	int dummy;

	if (transient == NULL)
		transient = &dummy;
	*transient = 0;
	if (subject_name != NULL) {
		if (X509_NAME_entry_count(subject_name) == 0) {
			profile_err(err, errlen, "profile %s: empty subject", p->name);
			goto out;
		}
		subject = X509_NAME_dup(subject_name);
	} else
		subject = profile_subject(p, cn_suffix, err, errlen);
	if (subject == NULL) {
		/* X509_NAME_dup: memory; profile_subject: the profile's data. */
		*transient = subject_name != NULL;
		if (*transient)
			profile_err(err, errlen, "profile %s: out of memory",
			    p->name);
		goto out;
	}
	/* Memory or randomness (the serial): nothing the profile could fix. */
	*transient = 1;
	if ((x = X509_new()) == NULL ||
	    X509_set_version(x, X509_VERSION_3) != 1 ||
	    profile_serial(x) == -1 ||
	    X509_set_subject_name(x, subject) != 1 ||
	    X509_set_issuer_name(x, issuer != NULL ?
	    X509_get_subject_name(issuer) : subject) != 1 ||
	    X509_set_pubkey(x, subject_pub) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -p->backdate) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), (int)p->validity_days, 0,
	    NULL) == NULL) {
		profile_err(err, errlen, "profile %s: cannot fill the certificate",
		    p->name);
		goto out;
	}
	/*
	 * RFC 5280 §6.1.3: a certificate cannot be valid beyond its issuer.
	 * The issuer's time is copied in the form §4.1.2.5 asks of ours
	 * (UTCTime through 2049), whatever form the issuer's certificate used.
	 */
	if (issuer != NULL && ASN1_TIME_compare(X509_get0_notAfter(x),
	    X509_get0_notAfter(issuer)) > 0 &&
	    (X509_set1_notAfter(x, X509_get0_notAfter(issuer)) != 1 ||
	    ASN1_TIME_normalize(X509_getm_notAfter(x)) != 1)) {
		profile_err(err, errlen, "profile %s: %s", p->name, "clamp notAfter");
		goto out;
	}
	/*
	 * Nor before it: the backdating stops at the issuer's notBefore (a
	 * certificate made in the minutes after its issuer's, as the
	 * ceremony's responder and TSA certificates are, would otherwise
	 * claim a validity its issuer did not have).
	 */
	if (issuer != NULL && ASN1_TIME_compare(X509_get0_notBefore(x),
	    X509_get0_notBefore(issuer)) == -1 &&
	    (X509_set1_notBefore(x, X509_get0_notBefore(issuer)) != 1 ||
	    ASN1_TIME_normalize(X509_getm_notBefore(x)) != 1)) {
		profile_err(err, errlen, "profile %s: %s", p->name, "clamp notBefore");
		goto out;
	}
	X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	X509V3_set_nconf(&v3, p->conf);
	if (X509V3_EXT_add_nconf(p->conf, &v3, p->extensions, x) != 1) {
		/* The profile's data, unless memory ran out. */
		*transient = ERR_GET_REASON(ERR_peek_last_error()) ==
		    ERR_R_MALLOC_FAILURE;
		profile_err(err, errlen, "profile %s: extensions [%s] rejected",
		    p->name, p->extensions);
		goto out;
	}
	profile_drop_empty_san(x);
	*transient = 0;
	ret = x;
	x = NULL;
out:
	X509_NAME_free(subject);
	X509_free(x);
	return ret;
}

int
profile_ext_critical(const struct profile *p, const ASN1_OBJECT *obj)
{
	STACK_OF(CONF_VALUE) *sect;
	CONF_VALUE *v;
	ASN1_OBJECT *o;
	int i, same;

	ERR_set_mark();
	sect = NCONF_get_section(p->conf, p->extensions);
	for (i = 0; sect != NULL && i < sk_CONF_VALUE_num(sect); i++) {
		v = sk_CONF_VALUE_value(sect, i);
		/* A name, long name or dotted OID, as X509V3_EXT_nconf takes. */
		if ((o = OBJ_txt2obj(v->name, 0)) == NULL)
			continue;
		same = OBJ_cmp(o, obj) == 0;
		ASN1_OBJECT_free(o);
		if (same) {
			ERR_pop_to_mark();
			/* OpenSSL's own test (v3_conf.c v3_check_critical). */
			return strncmp(v->value, "critical,", 9) == 0 ? 1 : 0;
		}
	}
	ERR_pop_to_mark();
	return -1;
}

int
profile_sign(const struct profile *p, X509 *x, EVP_PKEY *subject_pub,
    X509 *issuer, EVP_PKEY *signing_key, char *err, size_t errlen)
{
	EVP_PKEY *issuer_pub;
	const EVP_MD *md;
	const char *mdname;
	char why[128];

	/*
	 * The issuer's key, not the profile, fixes an EC signature's digest
	 * (lib/sigdigest.h): the ocsp-responder and tsa profiles said SHA256
	 * and until 2026-12-07 the P-384 root and issuing CA signed their
	 * certificates ecdsa-with-SHA256. The profile's digest is an RSA
	 * issuer's.
	 */
	issuer_pub = issuer != NULL ? X509_get0_pubkey(issuer) : subject_pub;
	if ((mdname = sigdigest_for_key(issuer_pub, p->digest, why,
	    sizeof(why))) == NULL) {
		profile_err(err, errlen, "profile %s: the issuer's key: %s",
		    p->name, why);
		return -1;
	}
	if ((md = EVP_get_digestbyname(mdname)) == NULL) {
		profile_err(err, errlen, "profile %s: digest %s unknown", p->name,
		    mdname);
		return -1;
	}
	if (X509_sign(x, signing_key, md) <= 0) {
		profile_err(err, errlen, "profile %s: %s", p->name,
		    "signing failed");
		return -1;
	}
	/* Our own lint: the signature verifies and OpenSSL parses every extension. */
	if (X509_verify(x, issuer_pub) != 1) {
		profile_err(err, errlen, "profile %s: %s", p->name,
		    "signature does not verify with the issuer's public key");
		return -1;
	}
	if ((X509_get_extension_flags(x) & EXFLAG_INVALID) != 0) {
		profile_err(err, errlen, "profile %s: %s", p->name,
		    "an extension does not parse");
		return -1;
	}
	return 0;
}

X509 *
profile_issue(const struct profile *p, const X509_NAME *subject_name,
    EVP_PKEY *subject_pub, const char *cn_suffix, X509 *issuer,
    EVP_PKEY *signing_key, char *err, size_t errlen)
{
	X509 *x;

	if (EVP_get_digestbyname(p->digest) == NULL) {
		profile_err(err, errlen, "profile %s: digest %s unknown", p->name,
		    p->digest);
		return NULL;
	}
	if ((x = profile_build(p, subject_name, subject_pub, cn_suffix, issuer,
	    NULL, err, errlen)) == NULL)
		return NULL;
	if (profile_sign(p, x, subject_pub, issuer, signing_key, err,
	    errlen) == -1) {
		X509_free(x);
		return NULL;
	}
	return x;
}
