/*
 * lib/text: UTF-8 walking and the characters that do not belong in text a
 * person reads (rad's validators, cad's subject lint).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/text.h"

static int
check(const char *s, int lines, const char **why, long *cp)
{
	return text_check((const unsigned char *)s, strlen(s), lines, why, cp);
}

static void
test_readable(void **state)
{
	static const char *const good[] = {
		"Jl. Merdeka Barat No. 9, Jakarta Pusat",
		"Andr\xc3\xa9 Sitorus",			/* é */
		"\xe6\x9d\xb1\xe4\xba\xac",		/* 東京 */
		"PT Contoh \xe2\x80\x94 Sejahtera",	/* an em dash */
		"\xf0\x9f\x98\x80",			/* U+1F600, astral */
		"",
	};
	const char *why;
	long cp;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (check(good[i], 0, &why, &cp) != 0)
			fail_msg("refused \"%s\": %s", good[i], why);
	/* Newlines and tabs only in text of lines. */
	assert_int_equal(check("a\nb\tc", 1, &why, &cp), 0);
	assert_int_equal(check("a\nb", 0, &why, &cp), -1);
	assert_int_equal(cp, '\n');
	assert_string_equal(why, "a control character");
}

static void
test_hidden(void **state)
{
	static const struct {
		const char	*s;
		long		 cp;
		const char	*why;
	} bad[] = {
		{ "a\x01", 0x01, "a control character" },
		{ "a\x7f", 0x7f, "a control character" },
		{ "a\xc2\x85", 0x85, "a control character" },
		{ "PT \xe2\x80\xae" "AMAN", 0x202e,
		    "a bidirectional formatting character" },
		{ "\xe2\x81\xa6x", 0x2066, "a bidirectional formatting character" },
		{ "\xe2\x80\x8f", 0x200f, "a bidirectional formatting character" },
		{ "Budi\xe2\x80\x8b", 0x200b, "an invisible format character" },
		{ "\xef\xbb\xbf" "Budi", 0xfeff, "an invisible format character" },
		{ "Bu\xc2\xad" "di", 0xad, "an invisible format character" },
		{ "\xf3\xa0\x81\x81", 0xe0041, "an invisible format character" },
		{ "a\xe2\x80\xa8" "b", 0x2028, "a line or paragraph separator" },
		{ "\xee\x80\x80", 0xe000, "a private-use character" },
		{ "\xef\xb7\x90", 0xfdd0, "a noncharacter" },
		{ "\xef\xbf\xbf", 0xffff, "a noncharacter" },
	};
	const char *why;
	long cp;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (check(bad[i].s, 1, &why, &cp) != -1)
			fail_msg("accepted U+%04lX", bad[i].cp);
		assert_int_equal(cp, bad[i].cp);
		assert_string_equal(why, bad[i].why);
	}
}

static void
test_not_utf8(void **state)
{
	static const char *const bad[] = {
		"\xc0\x80",		/* overlong NUL */
		"\xe0\x80\xaf",		/* overlong / */
		"\xed\xa0\x80",		/* a surrogate */
		"\xf4\x90\x80\x80",	/* above U+10FFFF */
		"a\xe2\x80",		/* cut */
		"\x80",			/* a continuation byte alone */
		"\xff",
	};
	const char *why;
	long cp;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (check(bad[i], 0, &why, &cp) != -1)
			fail_msg("accepted bad UTF-8 #%zu", i);
		assert_int_equal(cp, -1);
		assert_string_equal(why, "not UTF-8");
	}
}

static void
test_readable_detail(void **state)
{
	char detail[128];

	(void)state;
	assert_int_equal(text_readable("address", "Jl. \xe2\x80\xae" "9", 8, 0,
	    detail, sizeof(detail)), -1);
	assert_string_equal(detail, "address: holds a bidirectional formatting "
	    "character (U+202E)");
	assert_int_equal(text_readable("comment", "\xc0\x80", 2, 1, detail,
	    sizeof(detail)), -1);
	assert_string_equal(detail, "comment: not UTF-8");
	assert_int_equal(text_readable("reason", "two\nlines", 9, 1, detail,
	    sizeof(detail)), 0);
}

static void
test_space(void **state)
{
	(void)state;
	assert_true(text_space(' '));
	assert_true(text_space(0xa0));
	assert_true(text_space(0x3000));
	assert_false(text_space('a'));
	assert_false(text_space(0x200b));	/* zero width: format, not space */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readable),
		cmocka_unit_test(test_hidden),
		cmocka_unit_test(test_not_utf8),
		cmocka_unit_test(test_readable_detail),
		cmocka_unit_test(test_space),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
