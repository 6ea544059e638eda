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
/*
 * A signing time given back (the one /v1/sign/hashes chose) may be this
 * old: time to ask for an OTP and type it (the RA's codes live 5 minutes).
 */
#define SERVE_SIGNING_TIME_PAST_S	900
/* Clock skew between two pkisign serve behind one balancer. */
#define SERVE_SIGNING_TIME_AHEAD_S	5

struct serve_request {
	struct sign_job		 job;	/* the request's part of the job */
	struct sign_doc		*docs;
	size_t			 ndocs;
	char			 code[64];	/* the factor, wiped */
	void			*root;		/* json_t * */
};

/*
 * Parses and checks a POST /v1/sign or /v1/sign/hashes body (strict JSON:
 * unknown or duplicate members refused; documents strict base64;
 * signing_time "YYYY-MM-DDTHH:MM:SSZ" from SERVE_SIGNING_TIME_PAST_S ago to
 * SERVE_SIGNING_TIME_AHEAD_S ahead). 0, or -1 with a message for the
 * client in detail (never the factor); SERVE_PARSE_NO_MEMORY (and a
 * message) when reading the JSON met the memory cap (503: ours, not the
 * client's).
 */
#define SERVE_PARSE_NO_MEMORY	(-2)
int	serve_parse(const unsigned char *body, size_t len,
	    struct serve_request *, char *detail, size_t detaillen);
void	serve_request_clear(struct serve_request *);

/* `pkisign serve --config FILE`: runs until SIGTERM/SIGINT. */
int	pkisign_serve(int argc, char **argv);

#endif
