/*
 * The signer process (DESIGN.md, privilege separation). It alone loads the
 * PKCS#11 module and logs in. It serves one request at a time from its
 * worker and refuses, with a reply naming why, anything its configuration
 * does not grant: an unknown request type, a (kind, key) pair without a
 * grant, a digest other than SHA-256/384/512, to-be-signed bytes that do not
 * decode as the structure the kind names, key generation without
 * allow_keygen, wrapped key generation under any wrapping key but the one
 * granted (it never returns a subscriber key but wrapped). It hashes the to-be-signed bytes itself. A frame that breaks
 * the wire format (signer_proto.h) cannot come from a working worker: the
 * signer exits and the parent sees EOF.
 */
#include <sys/types.h>

#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "hsm/extern.h"
#include "hsm/p11.h"
#include "hsm/p11wrap.h"
#include "hsm/signer.h"
#include "hsm/signer_proto.h"
#include "lib/auditseal.h"
#include "lib/der.h"
#include "lib/log.h"
#include "lib/sandbox.h"
#include "lib/secret.h"
#include "lib/x509ext.h"

#define SIGNER_PIN_MAX	256

struct signerproc_keymap {
	char		 label[SIGNER_LABEL_MAX + 1];
	int		 token;		/* index into tokens */
	/* Read at its first signature (signerproc_sig_check); NULL until. */
	EVP_PKEY	*pub;
	int		 rsa;		/* pub is an RSA key */
};

/* Keys one ceremony signer generates and may take back (UNKEYGEN). */
#define SIGNERPROC_MAX_GENERATED	16
/*
 * An issuance signer's (one granted WRAPGEN, cad's) subscriber keys made
 * and not yet certified, by the SHA-256 of their SPKI: the certificates
 * it signs are for those keys only, once each (signerproc_cert_policy).
 * Past this many, an older one is forgotten (keys whose certificate was
 * never asked for: a worker that failed between the two).
 */
#define SIGNERPROC_MAX_ISSUABLE		1024
/* signerproc_ocsp_policy: producedAt this far ahead of or behind now. */
#define SIGNERPROC_OCSP_SKEW_S		300
#define SIGNERPROC_OCSP_MAX_AGE_S	3600

struct signerproc {
	const struct signer_config	*cfg;
	struct p11_module		*mod;
	struct p11_token		*tokens[SIGNER_MAX_TOKENS];
	int				 ntokens;
	struct signerproc_keymap	 keymap[SIGNER_MAX_GRANTS];
	int				 nkeymap;
	int				 fd;
	int				 wrap_token;	/* holds cfg->wrap_label */
	EVP_MD				*md[3];	/* SHA256, SHA384, SHA512 */
	/* KEYGEN's keys, the only ones UNKEYGEN may destroy */
	struct signer_keygen_req	 generated[SIGNERPROC_MAX_GENERATED];
	int				 ngenerated;
	unsigned char			 issuable[SIGNERPROC_MAX_ISSUABLE][32];
	int				 nissuable, next_issuable;
};

static const char *const signerproc_mds[3] = { "SHA256", "SHA384", "SHA512" };

/* One reply: status and payload (a signature, a SPKI, or error text). */
struct signerproc_reply {
	uint32_t	 status;
	unsigned char	*data;		/* malloc'd */
	size_t		 len;
	char		 text[SIGNER_ERRTEXT_MAX];
};

/*
 * TBSCertificate (RFC 5280 §4.1) with the subject public key left as
 * AlgorithmIdentifier + BIT STRING: d2i_X509_CINF would build an EVP_PKEY
 * through OpenSSL 3's decoders, which costs more than the signature.
 */
typedef struct {
	X509_ALGOR		*algorithm;
	ASN1_BIT_STRING		*subjectPublicKey;
} SIGNER_SPKI;

typedef struct {
	ASN1_INTEGER		*version;
	ASN1_INTEGER		*serialNumber;
	X509_ALGOR		*signature;
	X509_NAME		*issuer;
	X509_VAL		*validity;
	X509_NAME		*subject;
	SIGNER_SPKI		*subjectPublicKeyInfo;
	ASN1_BIT_STRING		*issuerUniqueID;
	ASN1_BIT_STRING		*subjectUniqueID;
	STACK_OF(X509_EXTENSION) *extensions;
} SIGNER_TBSCERT;

ASN1_SEQUENCE(SIGNER_SPKI) = {
	ASN1_SIMPLE(SIGNER_SPKI, algorithm, X509_ALGOR),
	ASN1_SIMPLE(SIGNER_SPKI, subjectPublicKey, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(SIGNER_SPKI)

ASN1_SEQUENCE(SIGNER_TBSCERT) = {
	ASN1_EXP_OPT(SIGNER_TBSCERT, version, ASN1_INTEGER, 0),
	ASN1_SIMPLE(SIGNER_TBSCERT, serialNumber, ASN1_INTEGER),
	ASN1_SIMPLE(SIGNER_TBSCERT, signature, X509_ALGOR),
	ASN1_SIMPLE(SIGNER_TBSCERT, issuer, X509_NAME),
	ASN1_SIMPLE(SIGNER_TBSCERT, validity, X509_VAL),
	ASN1_SIMPLE(SIGNER_TBSCERT, subject, X509_NAME),
	ASN1_SIMPLE(SIGNER_TBSCERT, subjectPublicKeyInfo, SIGNER_SPKI),
	ASN1_IMP_OPT(SIGNER_TBSCERT, issuerUniqueID, ASN1_BIT_STRING, 1),
	ASN1_IMP_OPT(SIGNER_TBSCERT, subjectUniqueID, ASN1_BIT_STRING, 2),
	ASN1_EXP_SEQUENCE_OF_OPT(SIGNER_TBSCERT, extensions, X509_EXTENSION,
	    3),
} static_ASN1_SEQUENCE_END(SIGNER_TBSCERT)

/*
 * RFC 6960 §4.2.1 ResponderID, as OpenSSL's OCSP_RESPID with its fields
 * open: a byName is rebuilt before the DER check (signerproc_der_exact).
 */
typedef struct {
	int	type;
	union {
		X509_NAME		*byName;
		ASN1_OCTET_STRING	*byKey;
	} value;
} SIGNER_RESPID;

ASN1_CHOICE(SIGNER_RESPID) = {
	ASN1_EXP(SIGNER_RESPID, value.byName, X509_NAME, 1),
	ASN1_EXP(SIGNER_RESPID, value.byKey, ASN1_OCTET_STRING, 2),
} static_ASN1_CHOICE_END(SIGNER_RESPID)

/*
 * RFC 6960 §4.2.1 ResponseData, with the fields OpenSSL keeps opaque in
 * OCSP_RESPDATA: the responses' times (signerproc_ocsp_policy).
 */
typedef struct {
	ASN1_INTEGER		*version;
	SIGNER_RESPID		*responderId;
	ASN1_GENERALIZEDTIME	*producedAt;
	STACK_OF(OCSP_SINGLERESP) *responses;
	STACK_OF(X509_EXTENSION) *responseExtensions;
} SIGNER_RESPDATA;

ASN1_SEQUENCE(SIGNER_RESPDATA) = {
	ASN1_EXP_OPT(SIGNER_RESPDATA, version, ASN1_INTEGER, 0),
	ASN1_SIMPLE(SIGNER_RESPDATA, responderId, SIGNER_RESPID),
	ASN1_SIMPLE(SIGNER_RESPDATA, producedAt, ASN1_GENERALIZEDTIME),
	ASN1_SEQUENCE_OF(SIGNER_RESPDATA, responses, OCSP_SINGLERESP),
	ASN1_EXP_SEQUENCE_OF_OPT(SIGNER_RESPDATA, responseExtensions,
	    X509_EXTENSION, 1),
} static_ASN1_SEQUENCE_END(SIGNER_RESPDATA)

static void	signerproc_refuse(struct signerproc_reply *, uint32_t,
		    const char *, ...) __attribute__((format(printf, 3, 4)));

static void
signerproc_refuse(struct signerproc_reply *r, uint32_t status,
    const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
}

static int
signerproc_send(int fd, const struct signerproc_reply *r)
{
	if (r->status == SIGNER_OK)
		return signer_proto_send(fd, SIGNER_OK, r->data, r->len);
	return signer_proto_send(fd, r->status, r->text, strlen(r->text));
}

/*
 * As signerproc_send, into wr: sent at once unless signerproc_hold says it
 * may wait for the next reply.
 */
static int
signerproc_queue(struct signer_proto_writer *wr, const struct signerproc_reply *r)
{
	if (r->status == SIGNER_OK)
		return signer_proto_queue(wr, SIGNER_OK, r->data, r->len);
	return signer_proto_queue(wr, r->status, r->text, strlen(r->text));
}

/*
 * 1 when the reply to a request of type may wait: a SIGN_HELD with
 * another SIGN_HELD buffered whole behind it (one thread's batch). Not
 * behind a key generation, which takes up to keygen_timeout_s while the
 * client waits for the held reply no more than timeout_s from its turn (it
 * would take a healthy signer for hung: hsm/signer_client.c); not a plain
 * SIGN, whose sender waits for it (threads sharing a signer would each
 * wait for the others' signatures).
 */
static int
signerproc_hold(uint32_t type, const struct signer_proto_reader *rd)
{
	uint32_t next;

	if (type != SIGNER_MSG_SIGN_HELD || !signer_proto_reader_ready(rd))
		return 0;
	memcpy(&next, rd->buf + rd->off, sizeof(next));
	return ntohl(next) == SIGNER_MSG_SIGN_HELD;
}

/*
 * 1 when grant g names label: the same label, or for a numbered grant its
 * prefix and then 1 to 9 digits, the first not 0 (signer.h).
 */
static int
signerproc_grant_names(const struct signer_grant *g, const char *label)
{
	size_t n, d;

	if (!g->numbered)
		return strcmp(g->key_label, label) == 0;
	n = strlen(g->key_label);
	if (strncmp(g->key_label, label, n) != 0)
		return 0;
	d = strspn(label + n, "0123456789");
	return d >= 1 && d <= 9 && label[n + d] == '\0' && label[n] != '0';
}

static int
signerproc_granted(const struct signerproc *sp, uint32_t kind,
    const char *label)
{
	int i;

	for (i = 0; i < sp->cfg->ngrants; i++)
		if ((uint32_t)sp->cfg->grants[i].kind == kind &&
		    signerproc_grant_names(&sp->cfg->grants[i], label))
			return 1;
	return 0;
}

static int
signerproc_label_granted(const struct signerproc *sp, const char *label)
{
	int i;

	for (i = 0; i < sp->cfg->ngrants; i++)
		if (signerproc_grant_names(&sp->cfg->grants[i], label))
			return 1;
	return 0;
}

/* The token holding the key labelled label; -1 with err when none. */
static int
signerproc_key_token(struct signerproc *sp, const char *label, char *err,
    size_t errlen)
{
	int i, r;

	for (i = 0; i < sp->nkeymap; i++)
		if (strcmp(sp->keymap[i].label, label) == 0)
			return sp->keymap[i].token;
	for (i = 0; i < sp->ntokens; i++) {
		if ((r = p11_key_exists(sp->tokens[i], label, err, errlen)) ==
		    -1)
			return -1;
		if (r == 1)
			break;
	}
	if (i == sp->ntokens) {
		snprintf(err, errlen, "no private key labelled \"%s\" in the "
		    "signer's tokens", label);
		return -1;
	}
	if (sp->nkeymap < SIGNER_MAX_GRANTS) {
		snprintf(sp->keymap[sp->nkeymap].label,
		    sizeof(sp->keymap[sp->nkeymap].label), "%s", label);
		sp->keymap[sp->nkeymap++].token = i;
	}
	return i;
}

/* The keymap entry of the key labelled label, or NULL. */
static struct signerproc_keymap *
signerproc_keymap_find(struct signerproc *sp, const char *label)
{
	int i;

	for (i = 0; i < sp->nkeymap; i++)
		if (strcmp(sp->keymap[i].label, label) == 0)
			return &sp->keymap[i];
	return NULL;
}

/* Drops the public key kept for label: a key was made or destroyed under it. */
static void
signerproc_keymap_forget(struct signerproc *sp, const char *label)
{
	struct signerproc_keymap *k;

	if ((k = signerproc_keymap_find(sp, label)) != NULL) {
		EVP_PKEY_free(k->pub);
		k->pub = NULL;
	}
}

/* 0 when sig is pub's PKCS#1 v1.5 (RSA) or ECDSA signature of digest. */
static int
signerproc_verify(EVP_PKEY *pub, const EVP_MD *md,
    const unsigned char *digest, size_t dlen, const unsigned char *sig,
    size_t siglen)
{
	EVP_PKEY_CTX *ctx;
	int ok;

	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL)) == NULL)
		return -1;
	ok = EVP_PKEY_verify_init(ctx) == 1 &&
	    EVP_PKEY_CTX_set_signature_md(ctx, md) > 0 &&
	    EVP_PKEY_verify(ctx, sig, siglen, digest, dlen) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok ? 0 : -1;
}

/*
 * Whether the signature sig of digest, just made by the key labelled
 * label in token tok, may be given: an RSA signature must verify with the
 * key's public key first, since a fault in an RSA-CRT signature gives the
 * private key away (one faulty signature and its message factor the
 * modulus; p11wrap.c checks its subscriber keys' the same way). The public
 * key is read from the token at the key's first signature and kept in the
 * keymap; a signature that does not verify with the kept key is checked
 * once more against the token's (a key made again under the label since).
 * ECDSA signatures are not checked: a faulty one only fails for its
 * relying party, and the check would cost most of a signature. 0, or -1
 * with err (the signature is withheld).
 */
static int
signerproc_sig_check(struct signerproc *sp, int tok, const char *label,
    const EVP_MD *md, const unsigned char *digest, size_t dlen,
    const unsigned char *sig, size_t siglen, char *err, size_t errlen)
{
	struct signerproc_keymap *k, tmp;
	int fresh = 0, rc = -1;

	memset(&tmp, 0, sizeof(tmp));
	/* Every granted key has its entry (signerproc_key_token). */
	if ((k = signerproc_keymap_find(sp, label)) == NULL)
		k = &tmp;
	for (;;) {
		if (k->pub == NULL) {
			if (p11_key_public(sp->tokens[tok], label, &k->pub, err,
			    errlen) == -1)
				goto out;
			k->rsa = EVP_PKEY_is_a(k->pub, "RSA");
			fresh = 1;
		}
		if (!k->rsa || signerproc_verify(k->pub, md, digest, dlen, sig,
		    siglen) == 0) {
			rc = 0;
			goto out;
		}
		if (fresh)
			break;
		EVP_PKEY_free(k->pub);
		k->pub = NULL;
	}
	snprintf(err, errlen, "the RSA signature made with key \"%s\" does "
	    "not verify with its public key (a fault in the token?): not "
	    "given", label);
	log_err("signer: %s", err);
out:
	EVP_PKEY_free(tmp.pub);
	return rc;
}

/*
 * *nm made again from its entries, RDN by RDN: a new X509_NAME, which
 * OpenSSL encodes afresh, where one it decoded is encoded again from the
 * bytes it was read from (BER included). 0, or -1 (*nm unchanged).
 */
static int
signerproc_name_rebuild(X509_NAME **nm)
{
	X509_NAME *n;
	const X509_NAME_ENTRY *e;
	int i, set, prev = -1;

	if ((n = X509_NAME_new()) == NULL)
		return -1;
	for (i = 0; i < X509_NAME_entry_count(*nm); i++) {
		e = X509_NAME_get_entry(*nm, i);
		set = X509_NAME_ENTRY_set(e);
		/* -1: into the RDN of the entry before (a multi-valued RDN). */
		if (X509_NAME_add_entry(n, e, -1, set == prev ? -1 : 0) != 1) {
			X509_NAME_free(n);
			return -1;
		}
		prev = set;
	}
	X509_NAME_free(*nm);
	*nm = n;
	return 0;
}

/*
 * 0 when tbs[0..len) is exactly the DER encoding (X.690 §10) of v, which
 * was decoded from those bytes as it; -1 otherwise. ASN1_item_d2i takes BER as well
 * (indefinite and non-minimal lengths, a BOOLEAN TRUE other than 0xff, a
 * DEFAULT value written out, an unsorted SET OF, ...), and re-encoding
 * gives the one DER form: RFC 5280 §4.1 and RFC 6960 §4.2.1 sign DER, so
 * bytes that differ from it are not signed. The caller rebuilds any
 * X509_NAME in v first (signerproc_name_rebuild).
 */
static int
signerproc_der_exact(const ASN1_VALUE *v, const ASN1_ITEM *it,
    const unsigned char *tbs, size_t len)
{
	unsigned char *der = NULL;
	int n, rc = -1;

	if ((n = ASN1_item_i2d(v, &der, it)) > 0 && (size_t)n == len &&
	    memcmp(der, tbs, len) == 0)
		rc = 0;
	OPENSSL_free(der);
	return rc;
}

/*
 * A TBSCertificate c decoded from tbs[0..len) (nothing after it) is its
 * DER encoding: signerproc_der_exact, issuer and subject rebuilt (c
 * changes, its value does not), and the validity's times in RFC 5280
 * §4.1.2.5's forms, seconds and 'Z' (X.690 §11.7, §11.8: DER's too; the
 * re-encoding keeps a time's characters as they came). Until 2026-12-06 a
 * TBSCertificate of indefinite or non-minimal lengths was signed. 0, or -1
 * with err.
 */
static int
signerproc_tbscert_der(SIGNER_TBSCERT *c, const unsigned char *tbs,
    size_t len, char *err, size_t errlen)
{
	const ASN1_TIME *tm[2] = { c->validity->notBefore,
	    c->validity->notAfter };
	time_t t;
	int i;

	if (signerproc_name_rebuild(&c->issuer) == -1 ||
	    signerproc_name_rebuild(&c->subject) == -1) {
		snprintf(err, errlen, "cannot rebuild a Name");
		return -1;
	}
	if (signerproc_der_exact((ASN1_VALUE *)c,
	    ASN1_ITEM_rptr(SIGNER_TBSCERT), tbs, len) == -1) {
		snprintf(err, errlen, "a TBSCertificate not in DER (RFC 5280 "
		    "§4.1, X.690 §10): BER lengths or another encoding "
		    "than DER's");
		return -1;
	}
	/*
	 * The re-encoding writes out a version that came written out: v1,
	 * the DEFAULT, too, which DER leaves out (X.690 §11.5). Until
	 * 2026-12-07 a TBSCertificate with "[0] INTEGER 0" was signed.
	 */
	if (c->version != NULL && ASN1_INTEGER_get(c->version) == 0) {
		snprintf(err, errlen, "a TBSCertificate not in DER (RFC 5280 "
		    "§4.1, X.690 §11.5): version v1, the DEFAULT, written "
		    "out");
		return -1;
	}
	for (i = 0; i < 2; i++)
		if (der_get_time((unsigned int)ASN1_STRING_type(tm[i]),
		    ASN1_STRING_get0_data(tm[i]),
		    (size_t)ASN1_STRING_length(tm[i]), &t) == -1) {
			snprintf(err, errlen, "%s is not YYMMDDHHMMSSZ or "
			    "YYYYMMDDHHMMSSZ (RFC 5280 §4.1.2.5)",
			    i == 0 ? "notBefore" : "notAfter");
			return -1;
		}
	return 0;
}

/* hsm/extern.h. */
int
signerproc_tbs_check(uint32_t kind, const char *label,
    const unsigned char *tbs, size_t len, char *err, size_t errlen)
{
	const unsigned char *p = tbs;
	ASN1_VALUE *cinf = NULL;
	const char *what = "?";
	int rc = -1;

	if (len > LONG_MAX)
		goto out;
	switch (kind) {
	case SIGNER_KIND_CERT:
		what = "a TBSCertificate (RFC 5280 §4.1)";
		cinf = ASN1_item_d2i(NULL, &p, (long)len,
		    ASN1_ITEM_rptr(SIGNER_TBSCERT));
		if (cinf == NULL)
			goto bad;
		if (p == tbs + len && signerproc_tbscert_der(
		    (SIGNER_TBSCERT *)cinf, tbs, len, err, errlen) == -1)
			goto out;
		break;
	case SIGNER_KIND_CRL:
		/* A streaming walk: no allocation per entry (hsm/tbscrl.c). */
		if (signer_tbscrl_check(tbs, len, err, errlen) == -1)
			goto out;
		p = tbs + len;
		break;
	case SIGNER_KIND_OCSP:
		/*
		 * Decoded once, by signerproc_ocsp_policy (SIGNER_RESPDATA is
		 * OpenSSL's OCSP_RESPDATA template with its fields open).
		 */
		p = tbs + len;
		break;
	case SIGNER_KIND_TIMESTAMP:
	case SIGNER_KIND_CMS:
		/* A streaming walk: no allocation per attribute (hsm/tbsattrs.c). */
		if (signer_attrs_check(tbs, len, kind == SIGNER_KIND_TIMESTAMP,
		    err, errlen) == -1)
			goto out;
		p = tbs + len;
		break;
	case SIGNER_KIND_AUDIT:
		/* Text, not DER: the head must name the key that signs it. */
		if (auditseal_head_check(tbs, len, label) == -1) {
			snprintf(err, errlen, "not an audit tree head for key "
			    "%s (lib/auditseal.h)", label);
			goto out;
		}
		p = tbs + len;
		break;
	default:
		snprintf(err, errlen, "unknown kind %u", kind);
		goto out;
	}
	if (p != tbs + len) {
		snprintf(err, errlen, "%zu trailing bytes after %s",
		    (size_t)(tbs + len - p), what);
		goto out;
	}
	rc = 0;
	goto out;
bad:
	snprintf(err, errlen, "to-be-signed bytes do not decode as %s", what);
out:
	ASN1_item_free(cinf, ASN1_ITEM_rptr(SIGNER_TBSCERT));
	return rc;
}

/*
 * What an issuance signer (granted WRAPGEN: cad's) signs as a certificate,
 * beyond its structure (DER: signerproc_tbs_check): an end-entity v3
 * certificate for a subscriber key it generated itself and has not
 * certified yet. End entity: no basicConstraints cA, no nsCertType (a CA
 * bit there makes a CA for X509_check_ca, and cad's profiles set none),
 * nothing x509ext_ca_usage() names (keyCertSign, cRLSign, and the
 * extended key usages OCSPSigning, timeStamping and anyExtendedKeyUsage: a
 * subscriber's key signs hashes of its owner's choosing through signd),
 * and v3: a v1 certificate has no extensions, so nothing says it is no
 * CA (OpenSSL takes a self-issued one for a root; the worker picks the
 * subject). So a worker taken over can neither make a subordinate CA,
 * OCSP responder or TSA with the issuing key nor certify a key of its own
 * under a subscriber's verified name; the ceremony's and pkictl's
 * signers, which certify CAs, responders, TSAs and CSRs, have no WRAPGEN
 * grant and are not held to this. hsm/extern.h (the issuable keys given
 * as issuable[0..nissuable), so that tests/fuzz/fuzz_signer_tbs.c can
 * drive it without a signer).
 */
int
signerproc_cert_policy(const unsigned char (*issuable)[32], int nissuable,
    const unsigned char *tbs, size_t len, int *slot, char *err,
    size_t errlen)
{
	const unsigned char *p = tbs;
	SIGNER_TBSCERT *c;
	X509_EXTENSION *ext;
	BASIC_CONSTRAINTS *bc;
	const char *why;
	unsigned char *spki = NULL, h[32];
	int i, n, rc = -1;

	*slot = -1;
	if ((c = (SIGNER_TBSCERT *)ASN1_item_d2i(NULL, &p, (long)len,
	    ASN1_ITEM_rptr(SIGNER_TBSCERT))) == NULL) {
		snprintf(err, errlen, "not a TBSCertificate");
		return -1;
	}
	/* RFC 5280 §4.1.2.1: v3 is 2; absent (the DEFAULT) is v1. */
	if (c->version == NULL || ASN1_INTEGER_get(c->version) != 2) {
		snprintf(err, errlen, "not a v3 certificate (RFC 5280 "
		    "§4.1.2.1): this signer certifies subscribers only, with "
		    "extensions");
		goto out;
	}
	for (i = 0; i < sk_X509_EXTENSION_num(c->extensions); i++) {
		ext = sk_X509_EXTENSION_value(c->extensions, i);
		switch (OBJ_obj2nid(X509_EXTENSION_get_object(ext))) {
		case NID_basic_constraints:
			if ((bc = X509V3_EXT_d2i(ext)) == NULL) {
				snprintf(err, errlen, "a basicConstraints that "
				    "does not decode");
				goto out;
			}
			n = bc->ca;
			BASIC_CONSTRAINTS_free(bc);
			if (n) {
				snprintf(err, errlen, "a CA certificate "
				    "(basicConstraints cA): this signer "
				    "certifies subscribers only");
				goto out;
			}
			break;
		case NID_netscape_cert_type:
			snprintf(err, errlen, "an nsCertType (its sslCA, "
			    "emailCA or objCA make a CA): this signer "
			    "certifies subscribers only, without one");
			goto out;
		}
	}
	if ((why = x509ext_ca_usage(c->extensions)) != NULL) {
		snprintf(err, errlen, "%s: this signer certifies subscribers "
		    "only", why);
		goto out;
	}
	if ((n = ASN1_item_i2d((ASN1_VALUE *)c->subjectPublicKeyInfo, &spki,
	    ASN1_ITEM_rptr(SIGNER_SPKI))) <= 0 ||
	    EVP_Digest(spki, (size_t)n, h, NULL, EVP_sha256(), NULL) != 1) {
		snprintf(err, errlen, "cannot hash the subject public key");
		goto out;
	}
	for (i = 0; i < nissuable; i++)
		if (CRYPTO_memcmp(issuable[i], h, sizeof(h)) == 0)
			break;
	if (i == nissuable) {
		snprintf(err, errlen, "the subject public key is not a "
		    "subscriber key this signer generated (or it is "
		    "certified already)");
		goto out;
	}
	*slot = i;
	rc = 0;
out:
	OPENSSL_free(spki);
	ASN1_item_free((ASN1_VALUE *)c, ASN1_ITEM_rptr(SIGNER_TBSCERT));
	return rc;
}

/*
 * An OCSP time's value: RFC 6960 §4.2.2.1 gives every GeneralizedTime of
 * a response RFC 5280 §4.1.2.5.2's form, which der_get_time() reads and
 * nothing else. OpenSSL's reading (ASN1_TIME_diff) also takes fractions and
 * "+hhmm" offsets, which a relying party may read otherwise: the signer
 * would bound one time and sign another. t is of the templates'
 * ASN1_GENERALIZEDTIME type (the tag is checked by the decoder); only its
 * content octets are read here. 0, or -1.
 */
static int
signerproc_ocsp_time(const ASN1_GENERALIZEDTIME *t, time_t *out)
{
	return der_get_time(DER_GENERALIZEDTIME, ASN1_STRING_get0_data(t),
	    (size_t)ASN1_STRING_length(t), out);
}

/* hsm/extern.h. */
int
signerproc_ocsp_policy(const unsigned char *tbs, size_t len, time_t now,
    long max_s, char *err, size_t errlen)
{
	const unsigned char *p = tbs;
	SIGNER_RESPDATA *rd;
	OCSP_SINGLERESP *single;
	ASN1_GENERALIZEDTIME *thisupd = NULL, *nextupd = NULL, *rev = NULL;
	time_t t;
	int i, status, rc = -1;

	if (len > LONG_MAX || (rd = (SIGNER_RESPDATA *)ASN1_item_d2i(NULL, &p,
	    (long)len, ASN1_ITEM_rptr(SIGNER_RESPDATA))) == NULL) {
		snprintf(err, errlen, "to-be-signed bytes do not decode as an "
		    "OCSP ResponseData (RFC 6960 §4.2.1)");
		return -1;
	}
	if (p != tbs + len) {
		snprintf(err, errlen, "%zu trailing bytes after an OCSP "
		    "ResponseData (RFC 6960 §4.2.1)", (size_t)(tbs + len - p));
		goto out;
	}
	/* A byName is the CHOICE's first (index 0). */
	if ((rd->responderId->type == 0 && signerproc_name_rebuild(
	    &rd->responderId->value.byName) == -1) ||
	    signerproc_der_exact((ASN1_VALUE *)rd,
	    ASN1_ITEM_rptr(SIGNER_RESPDATA), tbs, len) == -1) {
		snprintf(err, errlen, "an OCSP ResponseData not in DER (RFC "
		    "6960 §4.2.1, X.690 §10)");
		goto out;
	}
	/*
	 * version [0] EXPLICIT Version DEFAULT v1, the only version: DER
	 * leaves it out (X.690 §11.5), as ocsp_tbs_make() does; the
	 * re-encoding keeps one that came written out (signed until
	 * 2026-12-07).
	 */
	if (rd->version != NULL) {
		snprintf(err, errlen, "an OCSP ResponseData not in DER (RFC "
		    "6960 §4.2.1, X.690 §11.5): its version written out");
		goto out;
	}
	if (signerproc_ocsp_time(rd->producedAt, &t) == -1) {
		snprintf(err, errlen, "producedAt is not YYYYMMDDHHMMSSZ (RFC "
		    "6960 §4.2.2.1, RFC 5280 §4.1.2.5.2)");
		goto out;
	}
	if (t - now > SIGNERPROC_OCSP_SKEW_S ||
	    now - t > SIGNERPROC_OCSP_MAX_AGE_S) {
		snprintf(err, errlen, "producedAt not within %d s ahead and "
		    "%d s behind the signer's clock", SIGNERPROC_OCSP_SKEW_S,
		    SIGNERPROC_OCSP_MAX_AGE_S);
		goto out;
	}
	for (i = 0; i < sk_OCSP_SINGLERESP_num(rd->responses); i++) {
		single = sk_OCSP_SINGLERESP_value(rd->responses, i);
		thisupd = nextupd = rev = NULL;
		status = OCSP_single_get0_status(single, NULL, &rev, &thisupd,
		    &nextupd);
		if (thisupd == NULL || signerproc_ocsp_time(thisupd, &t) == -1) {
			snprintf(err, errlen, "response %d: thisUpdate is not "
			    "YYYYMMDDHHMMSSZ (RFC 6960 §4.2.2.1, RFC 5280 "
			    "§4.1.2.5.2)", i + 1);
			goto out;
		}
		if (status == V_OCSP_CERTSTATUS_REVOKED && (rev == NULL ||
		    signerproc_ocsp_time(rev, &t) == -1)) {
			snprintf(err, errlen, "response %d: revocationTime is "
			    "not YYYYMMDDHHMMSSZ (RFC 6960 §4.2.2.1, RFC 5280 "
			    "§4.1.2.5.2)", i + 1);
			goto out;
		}
		if (nextupd == NULL) {
			snprintf(err, errlen, "response %d has no nextUpdate "
			    "(RFC 5019 §2.2.4)", i + 1);
			goto out;
		}
		if (signerproc_ocsp_time(nextupd, &t) == -1) {
			snprintf(err, errlen, "response %d: nextUpdate is not "
			    "YYYYMMDDHHMMSSZ (RFC 6960 §4.2.2.1, RFC 5280 "
			    "§4.1.2.5.2)", i + 1);
			goto out;
		}
		if (t - now > max_s) {
			snprintf(err, errlen, "response %d valid beyond %ld s "
			    "from now (hsm.ocsp_max_validity_seconds)", i + 1,
			    max_s);
			goto out;
		}
	}
	rc = 0;
out:
	ASN1_item_free((ASN1_VALUE *)rd, ASN1_ITEM_rptr(SIGNER_RESPDATA));
	return rc;
}

/*
 * The content sent with a SIGN (signer_proto.h): a time-stamp's
 * SignedAttributes come with the TSTInfo their messageDigest covers, which
 * must pass signer_tst_policy (hsm/tstinfo.c: strict DER, the digest md's
 * hash of it, genTime within SIGNER_TST_SKEW_S of now); every other kind
 * comes with none. 0, or -1 with err.
 */
static int
signerproc_content_check(const struct signer_sign_req *req, const EVP_MD *md,
    time_t now, char *err, size_t errlen)
{
	if (req->kind == SIGNER_KIND_TIMESTAMP)
		return signer_tst_policy(req->tbs, req->tbslen, req->content,
		    req->contentlen, md, now, err, errlen);
	if (req->contentlen != 0) {
		snprintf(err, errlen, "%zu bytes of content sent with it: "
		    "only a time-stamp's SignedAttributes take any",
		    req->contentlen);
		return -1;
	}
	return 0;
}

/* The allowed digest named mdname (fetched once), or NULL. */
static const EVP_MD *
signerproc_md(struct signerproc *sp, const char *mdname)
{
	int i;

	for (i = 0; i < 3; i++) {
		if (strcmp(mdname, signerproc_mds[i]) != 0)
			continue;
		if (sp->md[i] == NULL)
			sp->md[i] = EVP_MD_fetch(NULL, mdname, NULL);
		return sp->md[i];
	}
	return NULL;
}

/*
 * What the audit key's signer signs beyond the head's text (the head names
 * the signing key: signerproc_tbs_check): a head with a "next" line (a
 * handover seal, audit/README.md "Rotating the audit key") only when the
 * key it names is another key this signer was granted SIGNER_KIND_AUDIT
 * for, present in its tokens, whose DER SubjectPublicKeyInfo has the
 * SHA-256 named. So only a key inside the audit token can be named next,
 * and the everyday sealer, granted its own label only, never names one:
 * whoever takes it over cannot hand the trail over to a key of their own.
 * 0, or -1 with err.
 */
static int
signerproc_audit_policy(struct signerproc *sp, const char *label,
    const unsigned char *tbs, size_t len, char *err, size_t errlen)
{
	struct auditseal h;
	EVP_PKEY *pub = NULL;
	unsigned char md[AUDITSEAL_SPKI_HASH];
	char e[256];
	int tok, rc = -1;

	if (auditseal_head_parse(tbs, len, &h) == -1) {
		snprintf(err, errlen, "not an audit tree head");
		return -1;
	}
	if (h.next_key[0] == '\0')
		return 0;
	if (strcmp(h.next_key, label) == 0) {
		snprintf(err, errlen, "a head naming its own key %s as the "
		    "next audit key", label);
		return -1;
	}
	if (!signerproc_granted(sp, SIGNER_KIND_AUDIT, h.next_key)) {
		snprintf(err, errlen, "the next audit key %s is not a key this "
		    "signer was granted kind audit for", h.next_key);
		return -1;
	}
	if ((tok = signerproc_key_token(sp, h.next_key, e, sizeof(e))) == -1 ||
	    p11_key_public(sp->tokens[tok], h.next_key, &pub, e,
	    sizeof(e)) == -1) {
		snprintf(err, errlen, "the next audit key %s: %s", h.next_key, e);
		goto out;
	}
	if (auditseal_spki_sha256(pub, md) == -1) {
		snprintf(err, errlen, "the next audit key %s: cannot encode its "
		    "public key", h.next_key);
		goto out;
	}
	if (memcmp(md, h.next_spki_sha256, sizeof(md)) != 0) {
		snprintf(err, errlen, "the next audit key %s in the token is not "
		    "the key the head names (another SHA-256 of its public key)",
		    h.next_key);
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_free(pub);
	return rc;
}

/* Handlers return -1 for a malformed body (the signer exits), else 0. */
static int
signerproc_answer_sign(struct signerproc *sp, const unsigned char *body,
    size_t len, struct signerproc_reply *r)
{
	struct signer_sign_req req;
	unsigned char digest[EVP_MAX_MD_SIZE], *sig = NULL;
	unsigned int dlen = 0;
	size_t siglen = 0;
	const EVP_MD *md;
	char err[SIGNER_ERRTEXT_MAX - 64];
	int tok, slot = -1;

	if (signer_proto_sign_decode(body, len, &req) == -1)
		return -1;
	if (req.kind < SIGNER_KIND_CERT || req.kind > SIGNER_KIND_AUDIT) {
		signerproc_refuse(r, SIGNER_REFUSED, "unknown kind %u",
		    req.kind);
		goto out;
	}
	if (!signerproc_granted(sp, req.kind, req.label)) {
		signerproc_refuse(r, SIGNER_REFUSED, "kind %s not granted for "
		    "key %s", signer_kind_name(req.kind), req.label);
		goto out;
	}
	if ((md = signerproc_md(sp, req.mdname)) == NULL) {
		signerproc_refuse(r, SIGNER_REFUSED, "digest %s refused "
		    "(SHA256, SHA384 or SHA512 only)", req.mdname);
		goto out;
	}
	if (signerproc_tbs_check(req.kind, req.label, req.tbs, req.tbslen, err,
	    sizeof(err)) == -1) {
		signerproc_refuse(r, SIGNER_REFUSED, "kind %s: %s",
		    signer_kind_name(req.kind), err);
		goto out;
	}
	if (req.kind == SIGNER_KIND_AUDIT && signerproc_audit_policy(sp,
	    req.label, req.tbs, req.tbslen, err, sizeof(err)) == -1) {
		signerproc_refuse(r, SIGNER_REFUSED, "kind %s: %s",
		    signer_kind_name(req.kind), err);
		goto out;
	}
	if (req.kind == SIGNER_KIND_CRL && signer_tbscrl_policy(req.tbs,
	    req.tbslen, time(NULL), sp->cfg->crl_max_validity_s > 0 ?
	    sp->cfg->crl_max_validity_s : SIGNER_CRL_MAX_VALIDITY_DEFAULT_S,
	    err, sizeof(err)) == -1) {
		signerproc_refuse(r, SIGNER_REFUSED, "kind %s: %s",
		    signer_kind_name(req.kind), err);
		goto out;
	}
	if (signerproc_content_check(&req, md, time(NULL), err,
	    sizeof(err)) == -1) {
		signerproc_refuse(r, SIGNER_REFUSED, "kind %s: %s",
		    signer_kind_name(req.kind), err);
		goto out;
	}
	if (req.kind == SIGNER_KIND_OCSP && signerproc_ocsp_policy(req.tbs,
	    req.tbslen, time(NULL), sp->cfg->ocsp_max_validity_s > 0 ?
	    sp->cfg->ocsp_max_validity_s : SIGNER_OCSP_MAX_VALIDITY_DEFAULT_S,
	    err, sizeof(err)) == -1) {
		signerproc_refuse(r, SIGNER_REFUSED, "kind %s: %s",
		    signer_kind_name(req.kind), err);
		goto out;
	}
	if (req.kind == SIGNER_KIND_CERT && sp->cfg->wrap_label != NULL &&
	    signerproc_cert_policy((const unsigned char (*)[32])sp->issuable,
	    sp->nissuable, req.tbs, req.tbslen, &slot, err, sizeof(err)) ==
	    -1) {
		signerproc_refuse(r, SIGNER_REFUSED, "kind %s: %s",
		    signer_kind_name(req.kind), err);
		goto out;
	}
	if (EVP_Digest(req.tbs, req.tbslen, digest, &dlen, md, NULL) != 1) {
		signerproc_refuse(r, SIGNER_FAILED, "EVP_Digest %s failed",
		    req.mdname);
		goto out;
	}
	if ((tok = signerproc_key_token(sp, req.label, err, sizeof(err))) ==
	    -1) {
		signerproc_refuse(r, SIGNER_FAILED, "%s", err);
		goto out;
	}
	if (p11_sign_digest(sp->tokens[tok], req.label, req.mdname, digest,
	    dlen, &sig, &siglen, err, sizeof(err)) == -1 ||
	    signerproc_sig_check(sp, tok, req.label, md, digest, dlen, sig,
	    siglen, err, sizeof(err)) == -1) {
		signerproc_refuse(r, SIGNER_FAILED, "%s", err);
		goto out;
	}
	/* Certified: not again (the last slot moves into its place). */
	if (slot >= 0) {
		memcpy(sp->issuable[slot], sp->issuable[--sp->nissuable],
		    sizeof(sp->issuable[0]));
	}
	r->status = SIGNER_OK;
	r->data = sig;
	r->len = siglen;
	sig = NULL;
out:
	if (r->status != SIGNER_OK)
		log_warn("signer: sign refused: %s", r->text);
	free(sig);
	return 0;
}

/* Sets r to the DER SubjectPublicKeyInfo of pub. */
static void
signerproc_reply_spki(struct signerproc_reply *r, EVP_PKEY *pub)
{
	unsigned char *der = NULL;
	int len;

	if ((len = i2d_PUBKEY(pub, &der)) <= 0) {
		signerproc_refuse(r, SIGNER_FAILED, "i2d_PUBKEY failed");
		return;
	}
	if ((r->data = malloc((size_t)len)) == NULL) {
		signerproc_refuse(r, SIGNER_FAILED, "malloc failed");
		OPENSSL_free(der);
		return;
	}
	memcpy(r->data, der, (size_t)len);
	r->len = (size_t)len;
	r->status = SIGNER_OK;
	OPENSSL_free(der);
}

static int
signerproc_answer_pubkey(struct signerproc *sp, const unsigned char *body,
    size_t len, struct signerproc_reply *r)
{
	char label[SIGNER_LABEL_MAX + 1], err[SIGNER_ERRTEXT_MAX - 64];
	EVP_PKEY *pub = NULL;
	int tok;

	if (signer_proto_pubkey_decode(body, len, label) == -1)
		return -1;
	if (!signerproc_label_granted(sp, label)) {
		signerproc_refuse(r, SIGNER_REFUSED, "key %s not granted",
		    label);
		goto out;
	}
	if ((tok = signerproc_key_token(sp, label, err, sizeof(err))) == -1) {
		signerproc_refuse(r, SIGNER_FAILED, "%s", err);
		goto out;
	}
	if (p11_key_public(sp->tokens[tok], label, &pub, err, sizeof(err)) ==
	    -1) {
		signerproc_refuse(r, SIGNER_FAILED, "%s", err);
		goto out;
	}
	signerproc_reply_spki(r, pub);
out:
	if (r->status == SIGNER_REFUSED)
		log_warn("signer: pubkey refused: %s", r->text);
	EVP_PKEY_free(pub);
	return 0;
}

static int
signerproc_answer_keygen(struct signerproc *sp, const unsigned char *body,
    size_t len, struct signerproc_reply *r)
{
	struct signer_keygen_req req;
	enum p11_keytype kt;
	char err[SIGNER_ERRTEXT_MAX - 64];
	EVP_PKEY *pub = NULL;
	int i;

	if (signer_proto_keygen_decode(body, len, &req) == -1)
		return -1;
	if (!sp->cfg->allow_keygen) {
		signerproc_refuse(r, SIGNER_REFUSED, "key generation not "
		    "allowed for this signer");
		goto out;
	}
	if (p11_keytype_parse(req.keytype, &kt) == -1) {
		signerproc_refuse(r, SIGNER_REFUSED, "unknown key type \"%s\"",
		    req.keytype);
		goto out;
	}
	for (i = 0; i < sp->ntokens; i++)
		if (strcmp(p11_token_label(sp->tokens[i]), req.token) == 0)
			break;
	if (i == sp->ntokens) {
		signerproc_refuse(r, SIGNER_REFUSED, "token \"%s\" not opened "
		    "by this signer", req.token);
		goto out;
	}
	if (p11_key_generate(sp->tokens[i], req.label, kt, &pub, err,
	    sizeof(err)) == -1) {
		signerproc_refuse(r, SIGNER_FAILED, "%s", err);
		goto out;
	}
	log_info("signer: generated %s key \"%s\" in token \"%s\"",
	    req.keytype, req.label, req.token);
	signerproc_keymap_forget(sp, req.label);
	if (sp->ngenerated < SIGNERPROC_MAX_GENERATED)
		sp->generated[sp->ngenerated++] = req;
	signerproc_reply_spki(r, pub);
out:
	if (r->status == SIGNER_REFUSED)
		log_warn("signer: keygen refused: %s", r->text);
	EVP_PKEY_free(pub);
	return 0;
}

/*
 * UNKEYGEN: destroys a key pair this process generated (KEYGEN with the same
 * token, label and key type), so that a ceremony failing after key
 * generation leaves nothing behind; any other key is refused.
 */
static int
signerproc_answer_unkeygen(struct signerproc *sp, const unsigned char *body,
    size_t len, struct signerproc_reply *r)
{
	struct signer_keygen_req req;
	char err[SIGNER_ERRTEXT_MAX - 64];
	int i, t;

	if (signer_proto_keygen_decode(body, len, &req) == -1)
		return -1;
	for (i = 0; i < sp->ngenerated; i++)
		if (strcmp(sp->generated[i].token, req.token) == 0 &&
		    strcmp(sp->generated[i].label, req.label) == 0 &&
		    strcmp(sp->generated[i].keytype, req.keytype) == 0)
			break;
	for (t = 0; t < sp->ntokens; t++)
		if (strcmp(p11_token_label(sp->tokens[t]), req.token) == 0)
			break;
	if (!sp->cfg->allow_keygen || i == sp->ngenerated || t == sp->ntokens) {
		signerproc_refuse(r, SIGNER_REFUSED, "key \"%s\" in token "
		    "\"%s\" was not generated by this signer", req.label,
		    req.token);
		log_warn("signer: unkeygen refused: %s", r->text);
		return 0;
	}
	if (p11_key_destroy(sp->tokens[t], req.label, err, sizeof(err)) == -1) {
		signerproc_refuse(r, SIGNER_FAILED, "%s", err);
		return 0;
	}
	sp->generated[i] = sp->generated[--sp->ngenerated];
	signerproc_keymap_forget(sp, req.label);
	log_info("signer: destroyed key \"%s\" in token \"%s\" (generated "
	    "by this signer)", req.label, req.token);
	return 0;
}

/*
 * WRAPGEN: a subscriber key generated in the token of the granted wrapping
 * key and returned only wrapped under it (hsm/p11wrap.h), with its public key.
 */
static int
signerproc_answer_wrapgen(struct signerproc *sp, const unsigned char *body,
    size_t len, struct signerproc_reply *r)
{
	struct signer_wrapgen_req req;
	enum p11_keytype kt;
	char err[SIGNER_ERRTEXT_MAX - 64];
	unsigned char *blob = NULL, *der = NULL, h[32];
	size_t bloblen = 0;
	EVP_PKEY *pub = NULL;
	int derlen, slot;

	if (signer_proto_wrapgen_decode(body, len, &req) == -1)
		return -1;
	if (sp->cfg->wrap_label == NULL ||
	    strcmp(sp->cfg->wrap_label, req.label) != 0) {
		signerproc_refuse(r, SIGNER_REFUSED, "wrapped key generation "
		    "under \"%s\" not granted", req.label);
		goto out;
	}
	if (p11_keytype_parse(req.keytype, &kt) == -1) {
		signerproc_refuse(r, SIGNER_REFUSED, "unknown key type \"%s\"",
		    req.keytype);
		goto out;
	}
	if (p11wrap_generate(sp->tokens[sp->wrap_token], req.label, kt, &blob,
	    &bloblen, &pub, err, sizeof(err)) == -1) {
		signerproc_refuse(r, SIGNER_FAILED, "%s", err);
		goto out;
	}
	if ((derlen = i2d_PUBKEY(pub, &der)) <= 0 ||
	    (r->data = malloc(4 + bloblen + (size_t)derlen)) == NULL) {
		signerproc_refuse(r, SIGNER_FAILED, "encoding the wrapped key "
		    "failed");
		goto out;
	}
	/* Certifiable once (signerproc_cert_policy). */
	if (EVP_Digest(der, (size_t)derlen, h, NULL, EVP_sha256(), NULL) !=
	    1) {
		free(r->data);
		r->data = NULL;
		signerproc_refuse(r, SIGNER_FAILED, "hashing the key failed");
		goto out;
	}
	if (sp->nissuable < SIGNERPROC_MAX_ISSUABLE)
		slot = sp->nissuable++;
	else {
		slot = sp->next_issuable;
		sp->next_issuable = (slot + 1) % SIGNERPROC_MAX_ISSUABLE;
	}
	memcpy(sp->issuable[slot], h, sizeof(h));
	r->data[0] = (unsigned char)(bloblen >> 24);
	r->data[1] = (unsigned char)(bloblen >> 16);
	r->data[2] = (unsigned char)(bloblen >> 8);
	r->data[3] = (unsigned char)bloblen;
	memcpy(r->data + 4, blob, bloblen);
	memcpy(r->data + 4 + bloblen, der, (size_t)derlen);
	r->len = 4 + bloblen + (size_t)derlen;
	r->status = SIGNER_OK;
out:
	if (r->status == SIGNER_REFUSED)
		log_warn("signer: wrapgen refused: %s", r->text);
	OPENSSL_free(der);
	free(blob);
	EVP_PKEY_free(pub);
	return 0;
}

static const struct {
	uint32_t	 type;
	int		(*fn)(struct signerproc *, const unsigned char *,
			    size_t, struct signerproc_reply *);
} signerproc_handlers[] = {
	{ SIGNER_MSG_SIGN, signerproc_answer_sign },
	{ SIGNER_MSG_SIGN_HELD, signerproc_answer_sign },
	{ SIGNER_MSG_PUBKEY, signerproc_answer_pubkey },
	{ SIGNER_MSG_KEYGEN, signerproc_answer_keygen },
	{ SIGNER_MSG_WRAPGEN, signerproc_answer_wrapgen },
	{ SIGNER_MSG_UNKEYGEN, signerproc_answer_unkeygen },
};

/* Opens the module and logs in to every token; -1 with why in err. */
static int
signerproc_start(struct signerproc *sp, char *err, size_t errlen)
{
	const struct signer_token *st;
	char pin[SIGNER_PIN_MAX], e[256];
	int i, found, named, rc = -1;

	if (sp->cfg->ntokens < 1 || sp->cfg->ntokens > SIGNER_MAX_TOKENS ||
	    sp->cfg->ngrants < 0 || sp->cfg->ngrants > SIGNER_MAX_GRANTS) {
		snprintf(err, errlen, "signer: bad token or grant count");
		goto out;
	}
	if ((sp->mod = p11_module_load_child(sp->cfg->module, e, sizeof(e))) ==
	    NULL) {
		snprintf(err, errlen, "signer: %s", e);
		goto out;
	}
	for (i = 0; i < sp->cfg->ntokens; i++) {
		st = &sp->cfg->tokens[i];
		if (secret_read(st->pin_file, st->pin_env, pin, sizeof(pin), e,
		    sizeof(e)) == -1) {
			snprintf(err, errlen, "signer: PIN for token \"%s\": "
			    "%s", st->label, e);
			goto out;
		}
		sp->tokens[i] = p11_token_open(sp->mod, st->label, pin,
		    sp->cfg->lock_dir, e, sizeof(e));
		OPENSSL_cleanse(pin, sizeof(pin));
		if (sp->tokens[i] == NULL) {
			snprintf(err, errlen, "signer: %s", e);
			goto out;
		}
		p11_token_session_keys(sp->tokens[i], sp->cfg->session_keys);
		sp->ntokens++;
	}
	/*
	 * Outside ceremonies every key granted by name must be there at
	 * start-up; with missing_keys_ok, at least one (the others are
	 * logged). Numbered grants name keys that may come later.
	 */
	for (i = 0, found = 0, named = 0; i < sp->cfg->ngrants &&
	    !sp->cfg->allow_keygen; i++) {
		if (sp->cfg->grants[i].numbered)
			continue;
		named++;
		if (signerproc_key_token(sp, sp->cfg->grants[i].key_label, e,
		    sizeof(e)) != -1)
			found++;
		else if (sp->cfg->missing_keys_ok)
			log_warn("signer: granted key: %s", e);
		else {
			snprintf(err, errlen, "signer: granted key: %s", e);
			goto out;
		}
	}
	if (!sp->cfg->allow_keygen && named > 0 && found == 0) {
		snprintf(err, errlen, "signer: none of the %d granted keys is "
		    "in the tokens (last: %s)", named, e);
		goto out;
	}
	/* The wrapping key of a WRAPGEN grant, checked attribute by attribute. */
	for (i = 0; sp->cfg->wrap_label != NULL && i < sp->ntokens; i++)
		if (p11wrap_check_wrapping_key(sp->tokens[i],
		    sp->cfg->wrap_label, e, sizeof(e)) == 0)
			break;
	if (sp->cfg->wrap_label != NULL && i == sp->ntokens) {
		snprintf(err, errlen, "signer: wrapping key \"%s\": %s",
		    sp->cfg->wrap_label, e);
		goto out;
	}
	sp->wrap_token = sp->cfg->wrap_label != NULL ? i : -1;
	rc = 0;
out:
	OPENSSL_cleanse(pin, sizeof(pin));
	return rc;
}

static void
signerproc_stop(struct signerproc *sp)
{
	int i;

	for (i = 0; i < sp->nkeymap; i++) {
		EVP_PKEY_free(sp->keymap[i].pub);
		sp->keymap[i].pub = NULL;
	}
	for (i = 0; i < sp->ntokens; i++)
		p11_token_close(sp->tokens[i]);
	sp->ntokens = 0;
	for (i = 0; i < 3; i++) {
		EVP_MD_free(sp->md[i]);
		sp->md[i] = NULL;
	}
	p11_module_free(sp->mod);
	sp->mod = NULL;
}

/*
 * The watchdog of each request (hsm/README.md, "Time-outs"): a request the
 * token does not finish within its bound and a second or two ends the
 * signer, as the client has given up on it by then
 * (signer_proto_timeout()). The client cannot always kill it itself: a
 * daemon's signer runs as hsm.user and the daemon's worker may not call
 * kill() under its filter.
 *
 * No system call per request: a request stores its deadline (CLOCK_MONOTONIC
 * seconds, read through the vDSO) and marks itself busy; alarm() is called
 * only when no alarm is pending that fires by that deadline, so a signer
 * signing thousands of times a second arms it once per bound. The handler
 * ends the signer only when the request in progress is past its deadline;
 * otherwise it arms the alarm for that deadline (busy) or lets it lapse
 * (idle: the read of the next request restarts, SA_RESTART). It used to be
 * alarm(bound) and alarm(0) around every request: two system calls of
 * about five per signature.
 *
 * Only async-signal-safe calls in the handler (clock_gettime, alarm, write,
 * _exit): the line is formatted before, when the request type changes.
 */
static volatile sig_atomic_t	signerproc_busy;	/* a request in progress */
static volatile sig_atomic_t	signerproc_until;	/* its deadline, s */
static volatile sig_atomic_t	signerproc_alarm_at;	/* 0: no alarm pending */
static char	signerproc_alarm_line[160];
static size_t	signerproc_alarm_len;
static uint32_t	signerproc_alarm_type;		/* the line's type; 0: none */

static long
signerproc_mono_s(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 0;
	return (long)ts.tv_sec;
}

static void
signerproc_alarm(int sig)
{
	int saved = errno;
	long now = signerproc_mono_s();
	ssize_t w;

	(void)sig;
	signerproc_alarm_at = 0;
	if (signerproc_busy) {
		if (now >= signerproc_until) {
			w = write(STDERR_FILENO, signerproc_alarm_line,
			    signerproc_alarm_len);
			(void)w;	/* nothing left to tell if it fails */
			_exit(3);
		}
		signerproc_alarm_at = signerproc_until;
		alarm((unsigned int)(signerproc_until - now));
	}
	errno = saved;
}

/* Starts watching a request of type. */
static void
signerproc_watch(const struct signer_config *cfg, uint32_t type)
{
	/* The client's bound, plus one second, plus one for the truncation. */
	unsigned int bound = signer_proto_timeout(cfg, type) + 2;
	long now = signerproc_mono_s();
	int n;

	if (type != signerproc_alarm_type) {
		n = snprintf(signerproc_alarm_line,
		    sizeof(signerproc_alarm_line), "signer process %ld: "
		    "request of type %u not done within %u s (the HSM does "
		    "not answer): ending\n", (long)getpid(), type, bound - 1);
		signerproc_alarm_len = n < 0 ? 0 : (size_t)n >=
		    sizeof(signerproc_alarm_line) ?
		    sizeof(signerproc_alarm_line) - 1 : (size_t)n;
		signerproc_alarm_type = type;
	}
	signerproc_until = (sig_atomic_t)(now + bound);
	signerproc_busy = 1;
	if (signerproc_alarm_at == 0 || signerproc_alarm_at > signerproc_until) {
		signerproc_alarm_at = signerproc_until;
		alarm(bound);
	}
}

/* The request is answered: an alarm still pending finds the signer idle. */
static void
signerproc_unwatch(void)
{
	signerproc_busy = 0;
}

int
signerproc(int fd, const struct signer_config *cfg)
{
	struct signerproc sp;
	struct signerproc_reply r;
	struct signer_proto_reader rd;
	struct signer_proto_writer wr;
	unsigned char *body = NULL;
	size_t len;
	uint32_t type;
	char err[SIGNER_ERRTEXT_MAX];
	struct sigaction sa;
	sigset_t alrm;
	size_t i;
	int n, status = 1;

	memset(&sp, 0, sizeof(sp));
	sp.cfg = cfg;
	sp.fd = fd;
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Not the worker's handlers (the sealer sets them before it forks
	 * us); a mask the worker blocked stays as it is. Stop signals are
	 * ignored: the signer ends when its worker does (EOF on the socket).
	 * A stop sent to the whole group or cgroup (systemctl stop, Ctrl-C)
	 * reaches both, and the worker, which finishes what it has in hand,
	 * needs its signer for that; until 2026-12-06 the signer died first,
	 * cad counted the order in hand as a failed attempt and exited 1.
	 */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = signerproc_alarm;
	/* An alarm that finds the signer idle or in time interrupts nothing. */
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	if (sigaction(SIGALRM, &sa, NULL) == -1 ||
	    sigprocmask(SIG_UNBLOCK, &alrm, NULL) == -1) {
		log_err("signer: SIGALRM: %s", strerror(errno));
		close(fd);
		return 1;
	}
	/* Nothing the parent had open but stdio and our socket. */
	if (fd > 3)
		close_range(3, (unsigned int)fd - 1, 0);
	close_range((unsigned int)fd + 1, ~0U, 0);

	memset(&r, 0, sizeof(r));
	if (signerproc_start(&sp, err, sizeof(err)) == -1) {
		log_err("%s", err);
		signerproc_refuse(&r, SIGNER_FAILED, "%s", err);
		(void)signerproc_send(fd, &r);
		goto out;
	}
	/*
	 * Logged in, the PIN kept only in its locked page (hsm/p11.c): the
	 * rest of the signer's life needs neither root nor more than the
	 * token's files (a re-login reads them again).
	 */
	if (cfg->sandbox_section != NULL && (cfg->cfg == NULL ||
	    sandbox_limit_writes(cfg->cfg, cfg->sandbox_section, "signer",
	    &cfg->module_write_dir, 1) == -1 ||
	    sandbox_enter(cfg->cfg, cfg->sandbox_section, SANDBOX_SIGNER) ==
	    -1)) {
		signerproc_refuse(&r, SIGNER_FAILED, "signer: cannot enter its "
		    "sandbox (%s, hsm.user; the log says why)",
		    cfg->sandbox_section);
		(void)signerproc_send(fd, &r);
		goto out;
	}
	if (signerproc_send(fd, &r) == -1)
		goto out;

	signer_proto_reader_init(&rd, fd);
	signer_proto_writer_init(&wr, fd);
	for (;;) {
		free(body);
		body = NULL;
		n = signer_proto_recv_from(&rd, SIGNER_FRAME_MAX, &type, &body,
		    &len, -1);
		if (n == 1) {
			status = 0;	/* the worker closed: done */
			break;
		}
		if (n == -1) {
			log_err("signer: malformed or truncated frame from "
			    "worker: %s", strerror(errno));
			break;
		}
		memset(&r, 0, sizeof(r));
		signerproc_watch(cfg, type);
		for (i = 0; i < sizeof(signerproc_handlers) /
		    sizeof(signerproc_handlers[0]); i++)
			if (signerproc_handlers[i].type == type)
				break;
		if (i == sizeof(signerproc_handlers) /
		    sizeof(signerproc_handlers[0])) {
			signerproc_refuse(&r, SIGNER_REFUSED, "unknown request "
			    "type %u", type);
			log_warn("signer: %s", r.text);
		} else if (signerproc_handlers[i].fn(&sp, body, len, &r) ==
		    -1) {
			log_err("signer: malformed request of type %u "
			    "(%zu bytes) from worker", type, len);
			break;
		}
		/*
		 * The reply waits while another signature request is already
		 * here (a pipelining worker): the batch goes out in one write.
		 */
		n = signerproc_queue(&wr, &r);
		if (n == 0 && !signerproc_hold(type, &rd))
			n = signer_proto_flush(&wr);
		signerproc_unwatch();
		free(r.data);
		if (n == -1) {
			log_err("signer: write reply: %s", strerror(errno));
			break;
		}
	}
out:
	free(body);
	signerproc_stop(&sp);
	close(fd);
	return status;
}
