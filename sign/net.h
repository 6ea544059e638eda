/*
 * The signer's one HTTP client call (libcurl): a POST or a GET whose answer
 * is held in memory, bounded in size and time. http and https only, no
 * redirects (every URL we use is a service's own endpoint), TLS peers
 * verified by libcurl's defaults. Used by the CSC client, the TSA client
 * and the OCSP/CRL fetcher.
 */
#ifndef SIGN_NET_H
#define SIGN_NET_H

#include <stddef.h>

/* Connect and whole-transfer time-outs, in seconds. */
#define NET_CONNECT_TIMEOUT	10L
#define NET_TIMEOUT		60L

struct net_req {
	const char	*url;
	const char	*content_type;	/* POST only; NULL: a GET */
	const void	*body;
	size_t		 bodylen;
	const char	*bearer;	/* optional Authorization: Bearer */
	size_t		 max;		/* largest answer accepted */
};

struct net_resp {
	long		 status;	/* HTTP status */
	char		 content_type[128];
	unsigned char	*body;		/* NUL-terminated (not counted) */
	size_t		 len;
};

/*
 * Sends req and fills resp (cleared on entry; free resp->body with
 * net_resp_clear). Returns 0 whatever the HTTP status, -1 with a message in
 * err when no answer came (connection, time-out, answer over req->max).
 * The message names the URL's scheme and host only, never the body or the
 * bearer token.
 */
int	net_send(const struct net_req *req, struct net_resp *resp, char *err,
	    size_t errlen);
void	net_resp_clear(struct net_resp *);

/*
 * err = "what: <OpenSSL's first queued error>" (or just what), and the
 * queue cleared: the message of a failed OpenSSL call.
 */
void	net_openssl_err(char *err, size_t errlen, const char *what);

#endif
