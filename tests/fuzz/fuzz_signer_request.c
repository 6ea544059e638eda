/*
 * libFuzzer harness: the signer's decoding of request bodies from its
 * worker (hsm/signer_proto.c): SIGN, PUBKEY, KEYGEN (and UNKEYGEN's, the
 * same) and WRAPGEN. A worker is less trusted than its signer: any
 * bytes must be refused or decoded within the caps, never crash; what
 * decodes must encode back to the same bytes. The same bytes, as a stream,
 * go through the frame reader (signer_proto_recv_from): every frame it
 * returns must be the next slice of the stream.
 */
#include <sys/socket.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsm/signer_proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The frames the reader finds in data, sent then closed, match data. */
static void
fuzz_reader(const uint8_t *data, size_t size)
{
	struct signer_proto_reader rd;
	unsigned char *body;
	uint32_t type;
	size_t len, pos = 0;
	int sv[2], r;

	/* Within a socket's buffer: written whole before reading. */
	if (size > 65536 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return;
	if (signer_proto_write(sv[1], data, size) == -1)
		abort();
	close(sv[1]);
	signer_proto_reader_init(&rd, sv[0]);
	while ((r = signer_proto_recv_from(&rd, 4096, &type, &body, &len,
	    -1)) == 0) {
		if (size - pos < 8 + len || (len == 0) != (body == NULL) ||
		    type != ((uint32_t)data[pos] << 24 |
		    (uint32_t)data[pos + 1] << 16 |
		    (uint32_t)data[pos + 2] << 8 | data[pos + 3]) ||
		    (len > 0 && memcmp(body, data + pos + 8, len) != 0))
			abort();
		free(body);
		pos += 8 + len;
	}
	/* EOF only where the stream ends; an error only before it. */
	if ((r == 1) != (pos == size))
		abort();
	close(sv[0]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct signer_sign_req sreq;
	struct signer_keygen_req kreq;
	struct signer_wrapgen_req wreq;
	char label[SIGNER_LABEL_MAX + 1];
	unsigned char *body = NULL;
	size_t len = 0;

	fuzz_reader(data, size);
	if (signer_proto_sign_decode(data, size, &sreq) == 0) {
		if (strlen(sreq.label) > SIGNER_LABEL_MAX ||
		    strlen(sreq.mdname) > SIGNER_MDNAME_MAX ||
		    sreq.tbslen > SIGNER_TBS_MAX ||
		    sreq.contentlen > SIGNER_CONTENT_MAX ||
		    signer_proto_sign_encode(sreq.kind, sreq.label, sreq.mdname,
		    sreq.content, sreq.contentlen, sreq.tbs, sreq.tbslen, &body,
		    &len) == -1 ||
		    len != size || memcmp(body, data, size) != 0)
			abort();
		free(body);
		body = NULL;
	}
	if (signer_proto_pubkey_decode(data, size, label) == 0) {
		if (signer_proto_pubkey_encode(label, &body, &len) == -1 ||
		    len != size || memcmp(body, data, size) != 0)
			abort();
		free(body);
		body = NULL;
	}
	if (signer_proto_keygen_decode(data, size, &kreq) == 0) {
		if (signer_proto_keygen_encode(kreq.token, kreq.label, kreq.keytype,
		    &body, &len) == -1 || len != size || memcmp(body, data, size) != 0)
			abort();
		free(body);
		body = NULL;
	}
	if (signer_proto_wrapgen_decode(data, size, &wreq) == 0) {
		if (strlen(wreq.label) == 0 ||
		    strlen(wreq.label) > SIGNER_LABEL_MAX ||
		    strlen(wreq.keytype) == 0 ||
		    strlen(wreq.keytype) > SIGNER_KEYTYPE_MAX ||
		    signer_proto_wrapgen_encode(wreq.label, wreq.keytype, &body,
		    &len) == -1 || len != size || memcmp(body, data, size) != 0)
			abort();
		free(body);
	}
	return 0;
}
