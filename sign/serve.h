/*
 * pkisign serve: the PAdES signer as a small HTTP service for the
 * provider's document apps (sign/README.md "pkisign serve").
 *
 *	POST /v1/sign	application/json → application/json
 *	GET  /health
 *
 * The service is one registered client of the signing service (its client
 * id and the secret file are configuration); each request brings the
 * subscriber, the credential, the subscriber's factor and 1..100 documents
 * (base64), and gets the signed documents back under one authorization.
 * Nothing is stored; the factor is wiped after the request.
 */
#ifndef SIGN_SERVE_H
#define SIGN_SERVE_H

#include <stddef.h>

#include "sign/job.h"

/* A request body, parsed. The strings point into root (or into code). */
struct serve_request {
	struct sign_job		 job;	/* the request's part of the job */
	struct sign_doc		*docs;
	size_t			 ndocs;
	char			 code[64];	/* the factor, wiped */
	void			*root;		/* json_t * */
};

/*
 * Parses and checks a POST /v1/sign body (strict JSON: unknown or
 * duplicate members refused; documents strict base64). 0, or -1 with a
 * message for the client in detail (never the factor).
 */
int	serve_parse(const unsigned char *body, size_t len,
	    struct serve_request *, char *detail, size_t detaillen);
void	serve_request_clear(struct serve_request *);

/* `pkisign serve --config FILE`: runs until SIGTERM/SIGINT. */
int	pkisign_serve(int argc, char **argv);

#endif
