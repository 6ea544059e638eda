/*
 * A small DER writer (X.690 §10) for building structures whose constant
 * parts are precomputed: a growing buffer, constructed values opened and
 * closed like brackets (the length is patched in when a value is closed),
 * primitive values and pre-encoded TLVs copied in. One reader too: the
 * value of a UTCTime or GeneralizedTime (der_get_time), which the signer's
 * CRL and OCSP checks and crld's check of its CRL files share.
 *
 * Errors are sticky: after an allocation failure, an unbalanced close, a
 * nesting deeper than DER_MAX_DEPTH, a multi-byte tag or a value over
 * DER_MAX_LEN, every later call does nothing and der_failed() is 1, so a
 * builder checks once at the end. Tags are single identifier octets (tag
 * numbers up to 30), which is all RFC 3161 and RFC 5652 need.
 */
#ifndef PKI_DER_H
#define PKI_DER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define DER_MAX_DEPTH	16
#define DER_MAX_LEN	0xffffffu	/* at most 3 length octets after 0x83 */

/* Identifier octets used by our builders. */
#define DER_BOOLEAN		0x01
#define DER_INTEGER		0x02
#define DER_OCTET_STRING	0x04
#define DER_NULL		0x05
#define DER_OID			0x06
#define DER_UTCTIME		0x17
#define DER_GENERALIZEDTIME	0x18
#define DER_SEQUENCE		0x30
#define DER_SET			0x31
#define DER_CONTEXT(n)		(0x80 | (n))	/* [n] IMPLICIT, primitive */
#define DER_CONTEXT_CONS(n)	(0xa0 | (n))	/* [n], constructed */

struct der {
	unsigned char	*buf;
	size_t		 len;
	size_t		 cap;
	size_t		 open[DER_MAX_DEPTH];	/* offsets of open values' contents */
	int		 depth;
	int		 failed;
};

/* An empty writer (no allocation yet); der_free() releases its buffer. */
void	der_init(struct der *);
/* Empties the writer for reuse, keeping its buffer; clears the error. */
void	der_reset(struct der *);
void	der_free(struct der *);
/* 1 after any error (see above), else 0. */
int	der_failed(const struct der *);

/* Opens a constructed value with identifier tag; close it with der_end(). */
void	der_begin(struct der *, unsigned int tag);
/* Closes the innermost open value, writing its definite length. */
void	der_end(struct der *);
/* A primitive value: tag, length, then len bytes of content. */
void	der_tlv(struct der *, unsigned int tag, const void *content, size_t len);
/* Bytes that are already DER (whole TLVs), copied as they are. */
void	der_raw(struct der *, const void *der, size_t len);
/*
 * An INTEGER of the unsigned big-endian magnitude mag (leading zero octets
 * dropped, a 0x00 prepended when the high bit is set; zero is 02 01 00).
 */
void	der_uint(struct der *, unsigned int tag, const unsigned char *mag,
	    size_t len);
/* An INTEGER of a small non-negative value. */
void	der_small_uint(struct der *, unsigned int tag, uint32_t v);

/*
 * Number of octets the header (identifier and length) of a value with len
 * content octets takes; 0 when len is over DER_MAX_LEN.
 */
size_t	der_header_len(size_t len);

/*
 * Writes identifier tag and the definite length len to out (at least 5
 * octets); the number written, or 0 when tag or len cannot be encoded.
 */
size_t	der_put_header(unsigned char *out, unsigned int tag, size_t len);

/*
 * Reads the content octets v[0..len) of a time whose identifier octet is
 * tag, in the only forms RFC 5280 §4.1.2.5 allows (and RFC 6960 §4.2.2.1
 * for OCSP):
 *
 *	UTCTime		YYMMDDHHMMSSZ	(YY 50-99: 19YY, else 20YY)
 *	GeneralizedTime	YYYYMMDDHHMMSSZ	(years 0000-9999)
 *
 * Exactly 13 or 15 octets: ASCII digits, then 'Z'; no fraction, no offset,
 * seconds present. The date must exist (February 29 in leap years only);
 * hour 00-23, minute and second 00-59 (no leap second: time_t has none).
 * Which type a year calls for (§4.1.2.5: UTCTime through 2049) is the
 * caller's rule, not checked here. *out (cleared on entry) gets seconds
 * since 1970-01-01T00:00:00Z. 0, or -1 for anything else (v may be NULL
 * only when len is 0).
 */
int	der_get_time(unsigned int tag, const unsigned char *v, size_t len,
	    time_t *out);

#endif
