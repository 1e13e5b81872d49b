/* SPDX-License-Identifier: MIT */
/*
 * test_replmon_textwidth.c - terminal-safe text (textwidth.h): display
 * width of wide CJK, emoji and combining marks; RTL overrides, isolates,
 * ESC sequences, C1 controls and invalid UTF-8 shown escaped; padding and
 * truncation by width that never split a character or an escape.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textwidth.h"

#define CJK      "\xe8\x8a\x82\xe7\x82\xb9" /* 节点: 2 + 2 columns */
#define EMOJI    "\xf0\x9f\x98\x80"         /* U+1F600: 2 columns */
#define E_ACUTE  "e\xcc\x81"                /* e + U+0301: 1 column */
#define RLO      "\xe2\x80\xae"             /* U+202E right-to-left override */
#define ELLIPSIS "\xe2\x80\xa6"

static char *escaped(const char *s)
{
    char *e = rm_text_escape_dup(s);

    assert_non_null(e);
    return e;
}

#define assert_escapes(in, want)                                               \
    do {                                                                       \
        char *e_ = escaped(in);                                                \
        assert_string_equal(e_, want);                                         \
        assert_int_equal(rm_display_width(in), rm_display_width(e_));          \
        free(e_);                                                              \
    } while (0)

/* What rm_text_put writes (malloc'd). */
static char *put(const char *s, size_t width, rm_align_t align, int *cut)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);

    assert_non_null(out);
    *cut = rm_text_put(out, s, width, align);
    fclose(out);
    return buf;
}

static void test_width(void **state)
{
    (void)state;
    assert_int_equal(rm_display_width(""), 0);
    assert_int_equal(rm_display_width(NULL), 0);
    assert_int_equal(rm_display_width("abc"), 3);
    assert_int_equal(rm_display_width("caf\xc3\xa9"), 4);
    assert_int_equal(rm_display_width(CJK), 4);
    assert_int_equal(rm_display_width(EMOJI), 2);
    assert_int_equal(rm_display_width("a" EMOJI "b"), 4);
    /* A combining mark takes no column of its own. */
    assert_int_equal(rm_display_width(E_ACUTE), 1);
    assert_int_equal(rm_display_width("a\xcc\x81\xcc\x82"), 1);
    /* Halfwidth katakana are narrow, fullwidth Latin wide. */
    assert_int_equal(rm_display_width("\xef\xbd\xb1"), 1);
    assert_int_equal(rm_display_width("\xef\xbc\xa1"), 2);
}

static void test_escapes(void **state)
{
    (void)state;
    assert_escapes("plain", "plain");
    assert_escapes(CJK EMOJI E_ACUTE, CJK EMOJI E_ACUTE);
    assert_escapes("a\nb\tc\rd", "a\\nb\\tc\\rd");
    /* ESC and a whole colour sequence: the ESC is shown, never sent. */
    assert_escapes("\x1b[2J\x1b[31mred", "\\x1b[2J\\x1b[31mred");
    assert_escapes("\x07\x7f\x01", "\\x07\\x7f\\x01");
    /* Bidirectional overrides, embeddings, isolates and marks. */
    assert_escapes("x" RLO "y", "x\\u202ey");
    assert_escapes("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad",
                   "\\u202a\\u202b\\u202c\\u202d");
    assert_escapes("\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9",
                   "\\u2066\\u2067\\u2068\\u2069");
    assert_escapes("\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c", "\\u200e\\u200f\\u061c");
    /* C1 controls (U+009B is CSI on some terminals). */
    assert_escapes("\xc2\x9b"
                   "31m",
                   "\\u009b31m");
    /* Unprintable code points: a line separator, a noncharacter. */
    assert_escapes("\xe2\x80\xa8", "\\u2028");
    assert_escapes("\xf4\x8f\xbf\xbf", "\\U0010ffff");
    /* A backslash is shown as is. */
    assert_escapes("C:\\dir", "C:\\dir");
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    /* A lone continuation byte, a truncated sequence, a byte that never
     * starts one. */
    assert_escapes("a\x80z", "a\\x80z");
    assert_escapes("\xe8\x8a", "\\xe8\\x8a");
    assert_escapes("\xe8\x8a"
                   "b",
                   "\\xe8\\x8ab");
    assert_escapes("\xff\xfe", "\\xff\\xfe");
    /* Overlong forms, a surrogate, above U+10FFFF. */
    assert_escapes("\xc0\xaf", "\\xc0\\xaf");
    assert_escapes("\xe0\x80\xaf", "\\xe0\\x80\\xaf");
    assert_escapes("\xed\xa0\x80", "\\xed\\xa0\\x80");
    assert_escapes("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");
    /* A valid character right after an invalid byte is kept whole. */
    assert_escapes("\xff" CJK, "\\xff" CJK);
}

static void test_escape_buffer(void **state)
{
    char small[8];

    (void)state;
    /* snprintf-like: the needed length, the text cut at a whole unit. */
    assert_int_equal(rm_text_escape("ab\x1b"
                                    "cd",
                                    small, sizeof(small)),
                     8);
    assert_string_equal(small, "ab\\x1bc");
    assert_int_equal(rm_text_escape("ab\x1b", small, 4), 6);
    assert_string_equal(small, "ab");
    assert_int_equal(rm_text_escape(CJK, small, 5), 6);
    assert_string_equal(small, "\xe8\x8a\x82");
    assert_int_equal(rm_text_escape("x", NULL, 0), 1);
}

static void test_fputs(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);

    (void)state;
    rm_text_fputs(out, "id " RLO "\x1b]0;title\x07 " CJK);
    rm_text_fputs(out, NULL);
    fclose(out);
    assert_string_equal(buf, "id \\u202e\\x1b]0;title\\x07 " CJK);
    free(buf);
}

static void test_fit(void **state)
{
    size_t w;

    (void)state;
    assert_int_equal(rm_text_fit("abcdef", 3, &w), 3);
    assert_int_equal(w, 3);
    /* A wide character that would straddle the limit stays out. */
    assert_int_equal(rm_text_fit(CJK, 3, &w), 3);
    assert_int_equal(w, 2);
    assert_int_equal(rm_text_fit(CJK, 1, &w), 0);
    assert_int_equal(w, 0);
    assert_int_equal(rm_text_fit("a" EMOJI "b", 2, &w), 1);
    assert_int_equal(w, 1);
    /* Combining marks stay with their base character. */
    assert_int_equal(rm_text_fit(E_ACUTE "x", 1, &w), 3);
    assert_int_equal(w, 1);
    /* An escape is all or nothing. */
    assert_int_equal(rm_text_fit("a\x1b"
                                 "b",
                                 3, &w),
                     1);
    assert_int_equal(w, 1);
    assert_int_equal(rm_text_fit("a\x1b"
                                 "b",
                                 5, &w),
                     2);
    assert_int_equal(w, 5);
    assert_int_equal(rm_text_fit("a" RLO, 6, &w), 1);
    assert_int_equal(rm_text_fit("", 5, &w), 0);
    assert_int_equal(w, 0);
    assert_int_equal(rm_text_fit("abc", 10, NULL), 3);
}

static void test_put(void **state)
{
    char *s;
    int cut;

    (void)state;
    s = put("ab", 5, RM_ALIGN_LEFT, &cut);
    assert_string_equal(s, "ab   ");
    assert_int_equal(cut, 0);
    free(s);
    s = put(CJK, 6, RM_ALIGN_RIGHT, &cut);
    assert_string_equal(s, "  " CJK);
    free(s);
    s = put(E_ACUTE, 3, RM_ALIGN_LEFT, &cut);
    assert_string_equal(s, E_ACUTE "  ");
    free(s);
    /* Cut: the marker takes the last column. */
    s = put("abcdef", 4, RM_ALIGN_LEFT, &cut);
    assert_string_equal(s, "abc" ELLIPSIS);
    assert_int_equal(cut, 1);
    free(s);
    /* A wide character never split: the marker plus a space fill in. */
    s = put(CJK CJK, 4, RM_ALIGN_LEFT, &cut);
    assert_string_equal(s, "\xe8\x8a\x82" ELLIPSIS " ");
    assert_int_equal(cut, 1);
    assert_int_equal(rm_display_width(s), 4);
    free(s);
    s = put(CJK, 3, RM_ALIGN_RIGHT, &cut);
    assert_string_equal(s, "\xe8\x8a\x82" ELLIPSIS);
    free(s);
    /* An escape is never cut in the middle. */
    s = put("ab\x1b[31m", 5, RM_ALIGN_LEFT, &cut);
    assert_string_equal(s, "ab" ELLIPSIS "  ");
    assert_int_equal(rm_display_width(s), 5);
    free(s);
    s = put("x" RLO "y", 3, RM_ALIGN_LEFT, &cut);
    assert_string_equal(s, "x" ELLIPSIS " ");
    free(s);
    s = put("abc", 0, RM_ALIGN_LEFT, &cut);
    assert_string_equal(s, "");
    assert_int_equal(cut, 1);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_width),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_escape_buffer),
        cmocka_unit_test(test_fputs),
        cmocka_unit_test(test_fit),
        cmocka_unit_test(test_put),
    };

    if (rm_text_locale_init() != 1) {
        fprintf(stderr, "no UTF-8 locale (C.UTF-8) on this machine\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
