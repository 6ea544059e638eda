/*
 * libFuzzer harness: the body of pkisign serve's POST /v1/sign and
 * /v1/sign/hashes
 * (sign/serve.c serve_parse), arbitrary bytes from the network. It must
 * refuse or fill the request within its limits, never crash or leak, and
 * a refusal's detail must never quote the factor's code.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sign/serve.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct serve_request r;
	char detail[1024];
	size_t i;

	if (serve_parse(data, size, &r, detail, sizeof(detail)) == 0) {
		/* A factor is optional (POST /v1/sign/hashes has none). */
		if (r.ndocs == 0 || r.ndocs > CSCC_HASHES_MAX ||
		    r.job.user == NULL || r.job.credential == NULL ||
		    r.job.md == NULL ||
		    (r.job.signing_time != 0 && (r.job.signing_time < time(NULL) -
		    SERVE_SIGNING_TIME_PAST_S - 5 || r.job.signing_time >
		    time(NULL) + SERVE_SIGNING_TIME_AHEAD_S + 5)))
			abort();
		for (i = 0; i < r.ndocs; i++)
			if (r.docs[i].in == NULL || r.docs[i].inlen == 0)
				abort();
	} else if (strstr(detail, "31415926") != NULL)
		abort();	/* the seeds' factor code */
	serve_request_clear(&r);
	return 0;
}
