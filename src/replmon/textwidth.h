/* SPDX-License-Identifier: MIT */
/*
 * textwidth.h - what a terminal shows of a string, for every table and line
 * of text replmon prints (the dashboard will use it too): control, escape
 * and bidirectional-override characters and invalid UTF-8 shown escaped,
 * never interpreted; display width in terminal columns (wide CJK and emoji
 * 2, combining marks 0, via wcwidth); padding and truncation by width that
 * never split a character. JSON and CSV do not use it: they keep exact
 * values. Pure: no I/O but the FILE it is given.
 *
 * Escapes (lowercase hex): \n \t \r; other C0 controls and DEL as \xNN
 * (\x1b for ESC); each byte of invalid UTF-8 as \xNN; C1 controls, the
 * bidirectional controls U+061C, U+200E, U+200F, U+202A-U+202E,
 * U+2066-U+2069, and code points wcwidth() calls unprintable as \uXXXX
 * (\UXXXXXXXX above U+FFFF). A backslash is shown as is.
 */
#ifndef REPLMON_TEXTWIDTH_H
#define REPLMON_TEXTWIDTH_H

#include <stddef.h>
#include <stdio.h>

/* rm_text_locale_init - set LC_CTYPE from the environment; when its
 * character set is not UTF-8, use C.UTF-8 instead, so wcwidth() knows
 * non-ASCII characters. Call once at start, before any thread. Returns 1
 * when a UTF-8 locale is in effect; 0 when none could be set: then every
 * non-ASCII character is shown escaped (plain ASCII output). */
int rm_text_locale_init(void);

/* Every function takes the raw value and escapes as it goes. */

/* rm_display_width - the columns s takes on a terminal once escaped. */
size_t rm_display_width(const char *s);

/* rm_text_escape - s as a terminal shows it safely (see above), into
 * out[0..size) NUL-terminated (truncated at a character when too small).
 * Returns the length the whole escaped text needs, as snprintf. */
size_t rm_text_escape(const char *s, char *out, size_t size);

/* rm_text_escape_dup - rm_text_escape into a new string (NULL: ""), or
 * NULL when out of memory. */
char *rm_text_escape_dup(const char *s);

/* rm_text_fputs - write s escaped (NULL writes nothing). */
void rm_text_fputs(FILE *out, const char *s);

/* rm_text_fit - the byte length of the longest prefix of s whose escaped
 * form takes at most max_width columns, never ending inside a character
 * or inside what one escape stands for; zero-width characters (combining
 * marks) after the last character that fits stay with it. *width (may be
 * NULL) receives the prefix's width. */
size_t rm_text_fit(const char *s, size_t max_width, size_t *width);

typedef enum rm_align { RM_ALIGN_LEFT = 0, RM_ALIGN_RIGHT } rm_align_t;

/* rm_text_put - write s escaped in exactly `width` columns: padded with
 * spaces (after it for RM_ALIGN_LEFT, before it for RM_ALIGN_RIGHT), or,
 * when it is wider, cut at a character boundary and ended with the
 * truncation marker ("…", "~" without a UTF-8 locale) plus a space when a
 * wide character did not fit. Returns 1 when it cut s, else 0. */
int rm_text_put(FILE *out, const char *s, size_t width, rm_align_t align);

/* rm_utf8_repair - a copy of s with each byte that is not part of
 * well-formed UTF-8 replaced by U+FFFD (for JSON, which cannot carry
 * such bytes), or NULL when out of memory. */
char *rm_utf8_repair(const char *s);

#endif /* REPLMON_TEXTWIDTH_H */
