/* SPDX-License-Identifier: MIT */
/*
 * text.h - the dashboard's view of terminal text: a string as the glyphs
 * of screen cells, by textwidth.h's rule (control, escape and
 * bidirectional override characters shown escaped, `\x1b`, `\u202e`,
 * never interpreted; display widths), and ASCII only when the terminal is
 * not UTF-8. Everything that reaches the dashboard's screen goes through
 * rm_tui_glyphs().
 */
#ifndef REPLMON_TUI_TEXT_H
#define REPLMON_TUI_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* rm_tui_utf8_next - decode the code point at s (NUL-terminated). Returns
 * the bytes it takes (>= 1; 0 at the end); a malformed sequence is one
 * byte decoded as U+FFFD. */
size_t rm_tui_utf8_next(const char *s, uint32_t *cp);

/* rm_tui_utf8_put - encode cp into out (4 bytes at least); returns the
 * length. */
size_t rm_tui_utf8_put(uint32_t cp, char *out);

/* rm_tui_edit_append - a typed character at the end of buf (size bytes
 * with its NUL); control characters and what does not fit are left out.
 * rm_tui_edit_backspace - the last character (all its bytes) removed. */
void rm_tui_edit_append(char *buf, size_t size, uint32_t ch);
void rm_tui_edit_backspace(char *buf);

/* One screen glyph: a code point, the columns it takes (1 or 2; 0 for a
 * combining mark that joins the glyph before it). */
typedef struct rm_glyph {
    uint32_t cp;
    int width;
} rm_glyph_t;

/* rm_tui_glyphs - the glyphs that show text: what rm_text_escape() makes
 * of it (`\n`, `\t`, `\r`, `\xHH` for other C0 controls, DEL and invalid
 * bytes, `\uXXXX` for C1 and bidi controls and what cannot be shown),
 * with widths from rm_display_width(). With utf8 == 0 (the terminal is not
 * UTF-8) every non-ASCII code point is shown as `\uXXXX` too. Calls
 * fn(glyph, user) for each; returns the total width. fn may be NULL (width
 * only). */
size_t rm_tui_glyphs(const char *text, int utf8,
                     void (*fn)(const rm_glyph_t *g, void *user), void *user);

/* rm_tui_width - columns text takes once escaped. */
size_t rm_tui_width(const char *text, int utf8);

#endif /* REPLMON_TUI_TEXT_H */
