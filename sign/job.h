/*
 * One signing job of the PAdES signer: N documents in memory, one
 * authorization of the subscriber, N signed documents in memory. The CLI
 * (sign/main.c) and the HTTP service (sign/serve.c) both run it; neither
 * the documents nor the secrets touch a file here.
 *
 * The flow:
 *	per document, before any network call: pdf_open, and for B-LT and
 *	    B-LTA what the updates after signHash would refuse in it (its
 *	    /DSS, a document time-stamp): a bad document costs nothing;
 *	oauth2/token → credentials/info (certificate, chain, key type);
 *	the CMS's largest size for them (with a time-stamp token of
 *	    TSA_TOKEN_MAX at B-T): the room reserved in /Contents, or a
 *	    refusal when a contents size given is smaller;
 *	per document: pdf_prepare_signature → ByteRange digest → CAdES
 *	    signed attributes → their hash;
 *	one credentials/authorize for the N hashes (numSignatures = N) and
 *	one signatures/signHash;
 *	per document: the signature value into the SignerInfo (checked with
 *	    the certificate), B-T: a time-stamp token over it, the CMS into
 *	    /Contents; B-LT: a DSS update with certificates, OCSP responses
 *	    and CRLs; B-LTA: a document time-stamp update over all of that.
 */
#ifndef SIGN_JOB_H
#define SIGN_JOB_H

#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "lib/factor.h"
#include "sign/csc_client.h"

/* Each level includes the ones before it. */
enum sign_level { SIGN_LEVEL_BB, SIGN_LEVEL_BT, SIGN_LEVEL_BLT,
    SIGN_LEVEL_BLTA };

/* What sign_documents() returns. */
enum sign_status {
	SIGN_OK = 0,
	SIGN_FAILED = 1,	/* our side, a document, the network, TSA, OCSP */
	SIGN_REFUSED = 3,	/* the signing service said no (a CSC 4xx) */
	SIGN_BAD_DOCUMENT = 4,	/* a document is not a PDF we can sign */
	SIGN_UNAUTHORIZED = 5,	/* it refused our client id, secret or token */
};

struct sign_job {
	/* The signing service and this client's registration there. */
	const char		*csc_url;
	const char		*client_id;
	const char		*client_secret;
	/* The subscriber, the credential and the factor authorizing it. */
	const char		*user;
	const char		*credential;
	enum cscc_factor	 factor;
	const char		*code;		/* PIN, OTP or TOTP code */
	long			 otp_id;	/* CSCC_FACTOR_OTP only */
	/*
	 * CSCC_FACTOR_OTP, when not NULL: asked for the OTP once the
	 * documents' hashes are known, before they are authorized. An OTP
	 * of purpose sign is bound to the credential and the hashes it was
	 * asked for (schema/060, 061), so it can only be asked for then;
	 * credential is the job's, cert its certificate (borrowed), for
	 * naming the key. Fills code (6 digits) and *otp_id; 0, or -1 with
	 * err.
	 */
	int			(*otp_for)(void *arg, const char *credential,
				    const X509 *cert, const EVP_MD *md,
				    unsigned char *const *hashes, size_t n,
				    char code[7], long *otp_id, char *err,
				    size_t errlen);
	void			*otp_arg;
	/* The signature. */
	enum sign_level		 level;
	const EVP_MD		*md;
	const char		*tsa_url;	/* B-T and above */
	const char		*ca_file;	/* extra trust anchors, or NULL */
	const char		*reason, *location;
	const char		*name;		/* NULL: the certificate's CN */
	int			 visible, page;
	double			 x, y, size;
	const char		*qr_text;	/* with visible */
	/* Not NULL: sign this existing empty signature field of each
	 * document (pdf_sig_opts.fill_field) instead of adding one. */
	const char		*field;
	/*
	 * The claimed signing time (/M); 0: now. Preparing the same
	 * documents with the same job and signing time gives the same
	 * hashes (sign_hashes).
	 */
	time_t			 signing_time;
	/* Bytes reserved for the CMS; 0: the larger of PDF_CONTENTS_DEFAULT
	 * and its bound (cades_size_bound); below that bound: refused before
	 * authorization. */
	size_t			 contents;
};

struct sign_doc {
	const char		*label;		/* for messages: a file name */
	const unsigned char	*in;
	size_t			 inlen;
	unsigned char		*out;		/* malloc'd by sign_documents */
	size_t			 outlen;
};

/* "B-B", "B-T", "B-LT", "B-LTA". */
#define SIGN_LEVELS	"B-B, B-T, B-LT or B-LTA"
const char	*sign_level_name(enum sign_level);
/* The level named s; -1 for any other name. */
int		 sign_level_parse(const char *s, enum sign_level *);

/*
 * What signd takes, checked before a job asks it anything (else signd's
 * 400 would be reported as its refusal, after a token, credentials/info
 * and every document read): an account or credential id, 1..18 decimal
 * digits without a leading zero (hsm/signd/csc_request.c csc_id); a PIN or
 * code, 6 digits (docs/csc.md). 0 when s is one, else -1.
 */
int		 sign_id_ok(const char *s);
int		 sign_code_ok(const char *s);

/*
 * Signs the n documents (1..CSCC_HASHES_MAX) under one authorization. On
 * SIGN_OK every docs[i].out holds the signed PDF (the caller frees it); on
 * anything else none does, and err says why (never a secret).
 */
enum sign_status	sign_documents(const struct sign_job *,
			    struct sign_doc *docs, size_t n, char *err,
			    size_t errlen);
/*
 * The credential and the documents' hashes as the RA's POST /v1/otp takes
 * them for a sign OTP, {"credential_id": "12", "hash_algo": "sha256",
 * "hashes": [base64, ...]}, and in ref their binding's reference
 * ("1A2B-3C4D-5E6F-7081", lib/factor.h), which the code's message
 * repeats. NULL when out of memory, credential is not a credentialID
 * (factor_credential_ok) or two hashes are equal.
 */
json_t			*sign_otp_documents(const char *credential,
			    const EVP_MD *md, unsigned char *const *hashes,
			    size_t n, char ref[FACTOR_BINDING_REF_SIZE]);
/*
 * The hashes sign_documents would have authorized for these documents
 * with this job (signing_time set): n of EVP_MD_get_size(job->md) bytes
 * into out. The signing service is asked for its token and the
 * credential's certificate; nothing is authorized or signed. What an
 * application asks a sign OTP for before it calls sign_documents with the
 * code and the same signing time.
 */
enum sign_status	sign_hashes(const struct sign_job *,
			    struct sign_doc *docs, size_t n,
			    unsigned char (*out)[EVP_MAX_MD_SIZE], char *err,
			    size_t errlen);

#endif
