/*
 * A streaming reader of DER for the signer's checks of what it signs
 * (hsm/tbscrl.c, hsm/tbsattrs.c): every TLV is checked in place (strict
 * DER: low tag numbers, definite minimal lengths) and nothing is
 * allocated.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "hsm/derwalk.h"

int
derwalk_fail(char *err, size_t errlen, const char *what, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(err, errlen, "%s: ", what);
	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/*
 * Reads one TLV (low tag numbers only, definite minimal length) from d.
 * 0, or -1 when d does not start with a well-formed TLV.
 */
int
derwalk_next(struct dwin *d, struct tlv *t)
{
	size_t len, nlen, i;

	if (d->left < 2)
		return -1;
	t->tag = d->p[0];
	if ((t->tag & 0x1f) == 0x1f)
		return -1;	/* high tag numbers: none in what we check */
	len = d->p[1];
	i = 2;
	if (len & 0x80) {
		nlen = len & 0x7f;
		/* 0x80 is BER's indefinite form; DER caps us at 4 octets. */
		if (nlen == 0 || nlen > 4 || d->left < 2 + nlen)
			return -1;
		len = 0;
		for (; i < 2 + nlen; i++)
			len = (len << 8) | d->p[i];
		/* X.690 §10.1: the minimal number of octets. */
		if (len < 0x80 || (nlen > 1 && d->p[2] == 0))
			return -1;
	}
	if (len > d->left - i)
		return -1;
	t->val.p = d->p + i;
	t->val.left = len;
	d->p += i + len;
	d->left -= i + len;
	return 0;
}

/* The next TLV if it has tag; 1 found, 0 not (d untouched), -1 malformed. */
int
derwalk_opt(struct dwin *d, unsigned char tag, struct tlv *t)
{
	struct dwin save = *d;

	if (d->left == 0 || d->p[0] != tag)
		return 0;
	if (derwalk_next(d, t) == -1) {
		*d = save;
		return -1;
	}
	return 1;
}

int
derwalk_want(struct dwin *d, unsigned char tag, struct tlv *t)
{
	return derwalk_opt(d, tag, t) == 1 ? 0 : -1;
}

/* X.690 §8.19: subidentifiers in base 128, minimal, the last one ending. */
int
derwalk_oid_ok(const struct dwin *v)
{
	size_t i;

	if (v->left == 0 || (v->p[v->left - 1] & 0x80))
		return -1;
	for (i = 0; i < v->left; i++)
		if (v->p[i] == 0x80 && (i == 0 || !(v->p[i - 1] & 0x80)))
			return -1;
	return 0;
}

/* X.690 §8.3.2: an INTEGER in the fewest octets. */
int
derwalk_int_ok(const struct dwin *v, size_t max)
{
	if (v->left == 0 || v->left > max)
		return -1;
	if (v->left > 1 && ((v->p[0] == 0x00 && !(v->p[1] & 0x80)) ||
	    (v->p[0] == 0xff && (v->p[1] & 0x80))))
		return -1;
	return 0;
}

