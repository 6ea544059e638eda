/*
 * Text a person reads and compares: names, addresses, reasons, comments.
 * Walking its UTF-8, and the characters that do not belong in it because
 * they hide or reorder what is shown (ca/worker/lint.c judges certificate
 * subjects with them; rad, what subscribers write for officers to read).
 */
#ifndef PKI_TEXT_H
#define PKI_TEXT_H

#include <stddef.h>

/*
 * The next code point of the UTF-8 text s[*i..len), or -1 when it is not
 * well-formed UTF-8 (RFC 3629 §4: overlong forms, surrogates and values
 * above U+10FFFF included); advances *i (by one byte at least).
 */
long		 text_utf8_next(const unsigned char *s, size_t len, size_t *i);

/*
 * Why the code point cp does not belong in such text, or NULL: "a control
 * character" (C0, DEL, C1), "a bidirectional formatting character",
 * "an invisible format character" (Unicode Cf: U+200B, U+FEFF, the soft
 * hyphen, tags …), "a line or paragraph separator" (U+2028, U+2029), "a
 * private-use character", "a noncharacter".
 */
const char	*text_hidden(long cp);

/* A Unicode space separator (Zs): blanks, whatever their width. */
int		 text_space(long cp);

/*
 * s (len bytes) as text a person reads: well-formed UTF-8 holding nothing
 * text_hidden() names, but for '\n' and '\t' when lines. 0, or -1 with
 * *why ("not UTF-8", or text_hidden's words) and *cp (-1 when not UTF-8).
 */
int		 text_check(const unsigned char *s, size_t len, int lines,
		    const char **why, long *cp);

/*
 * text_check() of the member name's value s (len bytes) for a request's
 * answer: 0, or -1 with "NAME: holds a bidirectional formatting character
 * (U+202E)" (or "NAME: not UTF-8") in detail.
 */
int		 text_readable(const char *name, const void *s, size_t len,
		    int lines, char *detail, size_t detaillen);

#endif
