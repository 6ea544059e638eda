/* Text a person reads: see text.h. */
#include <stdio.h>

#include "lib/text.h"

long
text_utf8_next(const unsigned char *s, size_t len, size_t *i)
{
	static const long min[4] = { 0, 0x80, 0x800, 0x10000 };
	unsigned char c = s[(*i)++];
	long cp;
	int n, k;

	if (c < 0x80)
		return c;
	n = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 :
	    (c & 0xf8) == 0xf0 ? 3 : 0;
	if (n == 0 || len - *i < (size_t)n)
		return -1;
	cp = c & (0x3f >> n);
	for (k = 0; k < n; k++) {
		if ((s[*i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[(*i)++] & 0x3f);
	}
	if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	return cp;
}

/*
 * A bidirectional formatting character: the embeddings and overrides
 * (U+202A..U+202E), the isolates (U+2066..U+2069) and the marks (U+200E,
 * U+200F, U+061C). They make a name read other than it is stored.
 */
static int
text_bidi(long cp)
{
	return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 &&
	    cp <= 0x2069) || cp == 0x200e || cp == 0x200f || cp == 0x061c;
}

/*
 * A Unicode format character (General Category Cf, Unicode 15) that is not
 * a bidirectional one: invisible (U+200B zero width space, U+2060 word
 * joiner, U+FEFF, the soft hyphen, the tags …), so "Budi Santoso" and
 * "Budi Santoso" + U+200B look alike and differ. U+2060..U+206F whole:
 * U+2065 is unassigned but default-ignorable too.
 */
static int
text_format(long cp)
{
	return cp == 0xad || (cp >= 0x600 && cp <= 0x605) || cp == 0x6dd ||
	    cp == 0x70f || cp == 0x8e2 || cp == 0x180e || (cp >= 0x200b &&
	    cp <= 0x200d) || (cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff ||
	    (cp >= 0xfff9 && cp <= 0xfffb) || cp == 0x110bd || cp == 0x110cd ||
	    (cp >= 0x13430 && cp <= 0x1343f) || (cp >= 0x1bca0 &&
	    cp <= 0x1bca3) || (cp >= 0x1d173 && cp <= 0x1d17a) ||
	    cp == 0xe0001 || (cp >= 0xe0020 && cp <= 0xe007f);
}

const char *
text_hidden(long cp)
{
	if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
		return "a control character";
	if (text_bidi(cp))
		return "a bidirectional formatting character";
	if (text_format(cp))
		return "an invisible format character";
	if (cp == 0x2028 || cp == 0x2029)
		return "a line or paragraph separator";
	if ((cp >= 0xe000 && cp <= 0xf8ff) || cp >= 0xf0000)
		return "a private-use character";
	if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe)
		return "a noncharacter";
	return NULL;
}

int
text_space(long cp)
{
	return cp == 0x20 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 &&
	    cp <= 0x200a) || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

int
text_check(const unsigned char *s, size_t len, int lines, const char **why,
    long *cp)
{
	size_t i = 0;

	while (i < len) {
		if ((*cp = text_utf8_next(s, len, &i)) == -1) {
			*why = "not UTF-8";
			return -1;
		}
		if (lines && (*cp == '\n' || *cp == '\t'))
			continue;
		if ((*why = text_hidden(*cp)) != NULL)
			return -1;
	}
	return 0;
}

int
text_readable(const char *name, const void *s, size_t len, int lines,
    char *detail, size_t detaillen)
{
	const char *why;
	long cp;

	if (text_check(s, len, lines, &why, &cp) == 0)
		return 0;
	if (cp < 0)
		snprintf(detail, detaillen, "%s: %s", name, why);
	else
		snprintf(detail, detaillen, "%s: holds %s (U+%04lX)", name, why,
		    cp);
	return -1;
}
