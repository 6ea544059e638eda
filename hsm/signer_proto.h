/*
 * Wire format between a worker and its signer process (private to hsm/).
 *
 * Every integer is a u32 in network byte order. A request is a header
 * {u32 type, u32 length} followed by exactly length bytes of fields; a field
 * is either a u32 or a length-prefixed byte string {u32 n, n bytes}:
 *
 *	SIGN	u32 kind, str key_label, str mdname, str content, str tbs
 *	PUBKEY	str key_label
 *	KEYGEN	str token_label, str key_label, str keytype
 *	WRAPGEN	str wrapping_key_label, str keytype
 *
 * A reply is {u32 status, u32 length} followed by length bytes: on
 * SIGNER_OK the signature (SIGN) or the DER SubjectPublicKeyInfo (PUBKEY,
 * KEYGEN), or for WRAPGEN {u32 n, n bytes of the p11wrap blob (format
 * v1), then the DER SubjectPublicKeyInfo}; otherwise an error text (not
 * NUL-terminated). Right after start-up the signer sends one reply without a request: SIGNER_OK with an empty
 * payload, or an error naming why it cannot serve.
 *
 * content is what a SignedAttributes TBS's messageDigest covers: the DER
 * TSTInfo for kind timestamp (hsm/tstinfo.c); empty for every other kind.
 * It comes before the TBS, so that a TBS of tens of MiB (a CRL) still goes
 * out in place after the head (signer_proto_sign_head_encode).
 *
 * Each string has a hard cap, a body must be consumed exactly (no trailing
 * bytes), and a frame longer than SIGNER_FRAME_MAX is never read.
 */
#ifndef PKI_SIGNER_PROTO_H
#define PKI_SIGNER_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "hsm/signer.h"

enum signer_msg {
	SIGNER_MSG_SIGN = 1,
	SIGNER_MSG_PUBKEY = 2,
	SIGNER_MSG_KEYGEN = 3,
	SIGNER_MSG_WRAPGEN = 4,	/* a wrapped subscriber key (hsm/p11wrap.h) */
	SIGNER_MSG_UNKEYGEN = 5, /* undo a KEYGEN of this signer (body as KEYGEN) */
	/*
	 * SIGN whose reply may wait for the next request's (body as SIGN):
	 * one thread keeps several in flight (signer_sign_begin) and takes
	 * the batch with one read. A thread that waits for each reply sends
	 * SIGN, answered at once.
	 */
	SIGNER_MSG_SIGN_HELD = 6,
};

enum signer_status {
	SIGNER_OK = 0,
	SIGNER_REFUSED = 1,	/* a request the signer will not serve */
	SIGNER_FAILED = 2,	/* an allowed request that failed (token) */
};

#define SIGNER_MDNAME_MAX	16
#define SIGNER_KEYTYPE_MAX	16
#define SIGNER_TOKLABEL_MAX	32
#define SIGNER_TBS_MAX		(64u * 1024 * 1024)	/* CRLs of millions */
#define SIGNER_CONTENT_MAX	(64u * 1024)	/* a TSTInfo: ~100 bytes */
#define SIGNER_FRAME_MAX	(SIGNER_TBS_MAX + SIGNER_CONTENT_MAX + 1024u)
#define SIGNER_REPLY_MAX	(64u * 1024)	/* signatures, SPKI, text */
#define SIGNER_ERRTEXT_MAX	512

struct signer_sign_req {
	uint32_t		 kind;
	char			 label[SIGNER_LABEL_MAX + 1];
	char			 mdname[SIGNER_MDNAME_MAX + 1];
	const unsigned char	*content;	/* points into the frame body */
	size_t			 contentlen;	/* 0: none */
	const unsigned char	*tbs;		/* points into the frame body */
	size_t			 tbslen;
};

struct signer_keygen_req {
	char	token[SIGNER_TOKLABEL_MAX + 1];
	char	label[SIGNER_LABEL_MAX + 1];
	char	keytype[SIGNER_KEYTYPE_MAX + 1];
};

struct signer_wrapgen_req {
	char	label[SIGNER_LABEL_MAX + 1];	/* the wrapping key */
	char	keytype[SIGNER_KEYTYPE_MAX + 1];
};

/* Reads or writes exactly len bytes, retrying on EINTR and partial I/O. */
int	signer_proto_write(int fd, const void *buf, size_t len);
/* 0 when done, 1 on EOF before the first byte, -1 on error or short EOF. */
int	signer_proto_read(int fd, void *buf, size_t len);

/* Sends a header and its body in one write. */
int	signer_proto_send(int fd, uint32_t type_or_status, const void *body,
	    size_t len);
/*
 * Sends a header and a body made of head then tail, without copying them
 * into one buffer (a TBS of tens of MiB goes out in place).
 */
int	signer_proto_send2(int fd, uint32_t type_or_status, const void *head,
	    size_t headlen, const void *tail, size_t taillen);
/*
 * Receives a frame whose length is at most max; *body is malloc'd (NULL when
 * empty). Returns 0, 1 on clean EOF, -1 on an error or oversized frame.
 */
int	signer_proto_recv(int fd, size_t max, uint32_t *type_or_status,
	    unsigned char **body, size_t *len);
/*
 * signer_proto_send2() bounded by deadline_ms, in milliseconds of
 * CLOCK_MONOTONIC (daemon_now_ms(); < 0: none): each write waits in poll()
 * for at most what is left, so a peer that stops reading (a hung signer)
 * costs the caller no more than that. Past the deadline: -1 with errno
 * ETIMEDOUT, whatever part of the frame went. (Replies with a deadline:
 * signer_proto_recv_from() below.)
 */
int	signer_proto_send2_until(int fd, uint32_t type_or_status,
	    const void *head, size_t headlen, const void *tail, size_t taillen,
	    long long deadline_ms);

/*
 * A frame reader for one end of the socket that reads as much as is there:
 * a small frame (every request but a large TBS, every reply) comes in one
 * read(2) with its header, where signer_proto_recv() needs two. What one
 * read brings past the frame stays for the next call, so use one reader
 * per descriptor and no other read of it while the reader may hold bytes.
 */
#define SIGNER_PROTO_RDBUF	4096
struct signer_proto_reader {
	int		 fd;
	size_t		 off, len;	/* buf[off, len): read, not taken */
	unsigned char	 buf[SIGNER_PROTO_RDBUF];
};

void	signer_proto_reader_init(struct signer_proto_reader *, int fd);
/*
 * As signer_proto_recv(), bounded by deadline_ms as signer_proto_send2_until()
 * (< 0: none): each read waits in poll() for at most what is left; past it,
 * -1 with errno ETIMEDOUT.
 */
int	signer_proto_recv_from(struct signer_proto_reader *, size_t max,
	    uint32_t *type_or_status, unsigned char **body, size_t *len,
	    long long deadline_ms);
/*
 * 1 when a whole frame is already buffered: the next signer_proto_recv_from()
 * takes it without a system call (the peer sent several at once).
 */
int	signer_proto_reader_ready(const struct signer_proto_reader *);

/*
 * Replies held back while more requests are already buffered, then written
 * in one send: a worker that pipelines (tsad) wakes once for a batch, not
 * once per signature. Blocking writes, as signer_proto_send().
 */
#define SIGNER_PROTO_WRBUF	4096
struct signer_proto_writer {
	int		 fd;
	size_t		 len;		/* buf[0, len): queued, not sent */
	unsigned char	 buf[SIGNER_PROTO_WRBUF];
};

void	signer_proto_writer_init(struct signer_proto_writer *, int fd);
/*
 * Queues one frame; what is queued goes out first when the frame would not
 * fit, and a frame larger than the buffer goes out at once. 0 or -1.
 */
int	signer_proto_queue(struct signer_proto_writer *, uint32_t type_or_status,
	    const void *body, size_t len);
/* Sends what is queued. 0 or -1. */
int	signer_proto_flush(struct signer_proto_writer *);

/*
 * The time-out in seconds of a round trip of request type (signer.h,
 * struct signer_config): keygen_timeout_s for KEYGEN, UNKEYGEN and
 * WRAPGEN, timeout_s for the others, each its default when 0 and at most
 * SIGNER_TIMEOUT_MAX_S. The client's deadline and the signer's alarm.
 */
unsigned int	signer_proto_timeout(const struct signer_config *,
		    uint32_t type);

/* Builds a request body; *body is malloc'd. content may be NULL when 0. */
int	signer_proto_sign_encode(uint32_t kind, const char *label,
	    const char *mdname, const unsigned char *content,
	    size_t contentlen, const unsigned char *tbs, size_t tbslen,
	    unsigned char **body, size_t *len);
/*
 * The fields of a SIGN body up to and including the TBS length: followed by
 * the tbslen TBS bytes, it is what signer_proto_sign_encode() builds.
 */
int	signer_proto_sign_head_encode(uint32_t kind, const char *label,
	    const char *mdname, const unsigned char *content,
	    size_t contentlen, size_t tbslen, unsigned char **body,
	    size_t *len);
int	signer_proto_pubkey_encode(const char *label, unsigned char **body,
	    size_t *len);
int	signer_proto_keygen_encode(const char *token, const char *label,
	    const char *keytype, unsigned char **body, size_t *len);
int	signer_proto_wrapgen_encode(const char *wrap_label,
	    const char *keytype, unsigned char **body, size_t *len);

/* Parses a request body; -1 on wrong lengths, caps or trailing bytes. */
int	signer_proto_sign_decode(const unsigned char *body, size_t len,
	    struct signer_sign_req *);
int	signer_proto_pubkey_decode(const unsigned char *body, size_t len,
	    char label[SIGNER_LABEL_MAX + 1]);
int	signer_proto_keygen_decode(const unsigned char *body, size_t len,
	    struct signer_keygen_req *);
int	signer_proto_wrapgen_decode(const unsigned char *body, size_t len,
	    struct signer_wrapgen_req *);

#endif
