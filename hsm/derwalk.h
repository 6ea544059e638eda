/*
 * A streaming DER reader (hsm/derwalk.c) for the signer's checks of the
 * bytes it signs. Not lib/der.h, which writes DER.
 */
#ifndef PKI_HSM_DERWALK_H
#define PKI_HSM_DERWALK_H

#include <stddef.h>

#define TAG_BOOLEAN	0x01
#define TAG_INTEGER	0x02
#define TAG_OCTETSTRING	0x04
#define TAG_OID		0x06
#define TAG_UTCTIME	0x17
#define TAG_GENTIME	0x18
#define TAG_SEQUENCE	0x30
#define TAG_SET		0x31

/* A window of DER bytes being walked (not lib/der.h's writer). */
struct dwin {
	const unsigned char	*p;
	size_t			 left;
};

/* One TLV: its tag and a window over its contents. */
struct tlv {
	unsigned char	 tag;
	struct dwin	 val;
};

int	derwalk_next(struct dwin *, struct tlv *);
int	derwalk_opt(struct dwin *, unsigned char tag, struct tlv *);
int	derwalk_want(struct dwin *, unsigned char tag, struct tlv *);
int	derwalk_oid_ok(const struct dwin *);
int	derwalk_int_ok(const struct dwin *, size_t max);
/* Writes "<what>: <fmt...>" into err; returns -1 (a check's refusal). */
int	derwalk_fail(char *err, size_t errlen, const char *what,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
