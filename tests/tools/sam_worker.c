/*
 * A compromised signd worker, for tests/integration/test_sign.sh. It spawns
 * a SAM of its own (sam_spawn, as signd's supervisor does) and sends it
 * requests that signd's worker would not forward, to show that the SAM
 * checks them itself: DESIGN.md says a compromised worker cannot make it
 * sign for a subscriber, nor in another signing service's name.
 *
 *	sam_worker CONFIG authorize CRED TOKENFILE PINFILE SADFILE HEX...
 *	sam_worker CONFIG signhash CRED TOKENFILE SADFILE ALGO HEX...
 *
 * TOKENFILE (mode 0600): what the request carries as the calling
 * service's access token, 43 base64url characters (the wire has no
 * service id: the SAM finds the service by the token). HEX: the hashes,
 * all SHA-256, SHA-384 or SHA-512 (64, 96 or 128 hex digits). ALGO:
 * ecdsa, pkcs1 or pss. authorize writes the SAD to SADFILE (mode 0600);
 * the token, the PIN and the SAD never appear in argv. Prints one line:
 * "ok" (authorize) or "ok N" (signhash: N signatures), or
 * "refused E TEXT" with the SAM's enum sam_error, and exits 0; 1 when it
 * could not ask (usage, start-up, a broken SAM). Runs as root, as signd's
 * supervisor does: the SAM reads the wrap token's PIN, then demotes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "hsm/signd/extern.h"
#include "hsm/signer_proto.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/secret.h"

static int
usage(void)
{
	fprintf(stderr, "usage: sam_worker CONFIG authorize CRED TOKENFILE "
	    "PINFILE SADFILE HEX...\n"
	    "       sam_worker CONFIG signhash CRED TOKENFILE SADFILE ALGO "
	    "HEX...\n");
	return 1;
}

/* The access token of TOKENFILE: 0, or -1 (said why). */
static int
read_token(const char *path, unsigned char token[SIGND_TOKEN_BYTES])
{
	char text[SIGND_TOKEN_B64_LEN + 2], err[256];
	int rc = -1;

	if (secret_read(path, NULL, text, sizeof(text), err,
	    sizeof(err)) == -1)
		fprintf(stderr, "sam_worker: token: %s\n", err);
	else if (csc_b64url32_decode(text, token) == -1)
		fprintf(stderr, "sam_worker: %s: not 43 base64url "
		    "characters\n", path);
	else
		rc = 0;
	OPENSSL_cleanse(text, sizeof(text));
	return rc;
}

static int
parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int
parse_hashes(char **hex, int n, struct sam_hashes *h)
{
	size_t len;
	int i, j;
	unsigned int byte;

	if (n < 1 || n > SIGND_HASHES_MAX)
		return -1;
	len = strlen(hex[0]) / 2;
	h->md = len == 32 ? SAM_MD_SHA256 : len == 48 ? SAM_MD_SHA384 :
	    len == 64 ? SAM_MD_SHA512 : 0;
	if (h->md == 0)
		return -1;
	h->n = (uint32_t)n;
	for (i = 0; i < n; i++) {
		if (strlen(hex[i]) != 2 * len)
			return -1;
		for (j = 0; j < (int)len; j++) {
			if (sscanf(hex[i] + 2 * j, "%2x", &byte) != 1)
				return -1;
			h->h[i][j] = (unsigned char)byte;
		}
	}
	return 0;
}

/* Sends one request; prints the outcome. 0, or -1 when the SAM broke. */
static int
ask(int fd, uint32_t type, const unsigned char *body, size_t len,
    const char *sadfile)
{
	unsigned char *reply = NULL, **sigs = NULL;
	size_t rlen = 0, *siglens = NULL;
	uint32_t status, error, retry, n;
	char text[SIGNER_ERRTEXT_MAX];
	int out, rc = -1;

	if (signer_proto_send(fd, type, body, len) == -1 ||
	    signer_proto_recv(fd, SIGNER_REPLY_MAX, &status, &reply,
	    &rlen) != 0) {
		fprintf(stderr, "sam_worker: the SAM did not answer\n");
		goto out;
	}
	if (status == SAM_REFUSED) {
		if (sam_refusal_decode(reply, rlen, &error, &retry, text,
		    sizeof(text)) == -1)
			goto out;
		printf("refused %u %s\n", error, text);
		rc = 0;
	} else if (status != SAM_OK) {
		fprintf(stderr, "sam_worker: SAM failed: %.*s\n",
		    (int)(rlen < 400 ? rlen : 400),
		    reply != NULL ? (const char *)reply : "");
	} else if (type == SAM_MSG_AUTHORIZE) {
		if (rlen != SIGND_SAD_BYTES + 4)
			goto out;
		if ((out = open(sadfile, O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0600)) == -1 ||
		    write(out, reply, SIGND_SAD_BYTES) != SIGND_SAD_BYTES) {
			fprintf(stderr, "sam_worker: %s: %s\n", sadfile,
			    strerror(errno));
			if (out != -1)
				close(out);
			goto out;
		}
		close(out);
		printf("ok\n");
		rc = 0;
	} else {
		if (sam_sigs_decode(reply, rlen, &sigs, &siglens, &n) == -1)
			goto out;
		printf("ok %u\n", n);
		sam_sigs_free(sigs, siglens, n);
		rc = 0;
	}
out:
	if (reply != NULL)
		OPENSSL_cleanse(reply, rlen);
	free(reply);
	return rc;
}

int
main(int argc, char **argv)
{
	struct sam_authorize_req a;
	struct sam_signhash_req s;
	struct config *cfg = NULL;
	unsigned char *body = NULL;
	size_t len = 0;
	char err[512], pin[16];
	unsigned char token[SIGND_TOKEN_BYTES];
	uint64_t cred;
	int fd, in, st, rc = 1;
	pid_t pid;

	log_init("sam_worker", LOGL_WARN, stderr);
	if (argc < 7 || parse_u64(argv[3], &cred) == -1)
		return usage();
	if (read_token(argv[4], token) == -1)
		return 1;
	memset(&a, 0, sizeof(a));
	memset(&s, 0, sizeof(s));
	if (strcmp(argv[2], "authorize") == 0 && argc >= 8) {
		if (parse_hashes(argv + 7, argc - 7, &a.hashes) == -1)
			return usage();
		if (secret_read(argv[5], NULL, pin, sizeof(pin), err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "sam_worker: PIN: %s\n", err);
			return 1;
		}
		if (strlen(pin) != 6) {
			fprintf(stderr, "sam_worker: the PIN is not 6 digits\n");
			return 1;
		}
		a.credential = cred;
		memcpy(a.token, token, sizeof(token));
		a.factor = SAM_FACTOR_PIN;
		memcpy(a.secret, pin, 7);
		OPENSSL_cleanse(pin, sizeof(pin));
		if (sam_authorize_encode(&a, &body, &len) == -1)
			return usage();
		OPENSSL_cleanse(&a, sizeof(a));
	} else if (strcmp(argv[2], "signhash") == 0 && argc >= 8) {
		if (parse_hashes(argv + 7, argc - 7, &s.hashes) == -1)
			return usage();
		s.algo = strcmp(argv[6], "ecdsa") == 0 ? SAM_ALGO_ECDSA :
		    strcmp(argv[6], "pkcs1") == 0 ? SAM_ALGO_RSA_PKCS1 :
		    strcmp(argv[6], "pss") == 0 ? SAM_ALGO_RSA_PSS : 0;
		if (s.algo == 0)
			return usage();
		if ((in = open(argv[5], O_RDONLY | O_CLOEXEC)) == -1 ||
		    read(in, s.sad, sizeof(s.sad)) != (ssize_t)sizeof(s.sad)) {
			fprintf(stderr, "sam_worker: %s: cannot read a SAD\n",
			    argv[5]);
			if (in != -1)
				close(in);
			return 1;
		}
		close(in);
		s.credential = cred;
		memcpy(s.token, token, sizeof(token));
		if (sam_signhash_encode(&s, &body, &len) == -1)
			return usage();
		OPENSSL_cleanse(&s, sizeof(s));
	} else
		return usage();
	OPENSSL_cleanse(token, sizeof(token));

	if ((cfg = config_load(argv[1], err, sizeof(err))) == NULL) {
		fprintf(stderr, "sam_worker: %s\n", err);
		goto out;
	}
	if ((fd = sam_spawn(cfg, &pid, err, sizeof(err))) == -1) {
		fprintf(stderr, "sam_worker: SAM: %s\n", err);
		goto out;
	}
	if (ask(fd, strcmp(argv[2], "authorize") == 0 ? SAM_MSG_AUTHORIZE :
	    SAM_MSG_SIGNHASH, body, len, argv[6]) == 0)
		rc = 0;
	close(fd);	/* the SAM exits at the end of its socket */
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
out:
	config_free(cfg);
	if (body != NULL)
		OPENSSL_cleanse(body, len);
	free(body);
	return rc;
}
