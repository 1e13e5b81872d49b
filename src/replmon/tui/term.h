/* SPDX-License-Identifier: MIT */
/*
 * term.h - the terminal under the dashboard (ncursesw): take it over and
 * give it back as it was, paint a canvas (only what changed reaches the
 * terminal), colours from the theme on 256, 16 or 8 colour terminals,
 * monochrome attributes without colour or with NO_COLOR, and keys
 * (UTF-8 included) as rm_key_t. The only file that includes curses.
 */
#ifndef REPLMON_TUI_TERM_H
#define REPLMON_TUI_TERM_H

#include <stddef.h>

#include "tui/canvas.h"
#include "tui/model.h"
#include "tui/theme.h"

typedef struct rm_term rm_term_t;

/* rm_term_open - start curses on the process's terminal (stdin and
 * stdout). Colours unless no_color or the terminal has none. The locale
 * must be set already (setlocale). Returns NULL with a one-line reason in
 * err. */
rm_term_t *rm_term_open(const rm_palette_t *pal, int no_color, char *err,
                        size_t errlen);

/* Whether the locale is UTF-8 (Unicode glyphs may be drawn). */
int rm_term_utf8(const rm_term_t *t);
/* How many colours are in use (0: monochrome). */
int rm_term_colors(const rm_term_t *t);

/* rm_term_palette - switch to another palette (after a reload). */
void rm_term_palette(rm_term_t *t, const rm_palette_t *pal);

/* rm_term_size - the terminal's size now. */
void rm_term_size(rm_term_t *t, int *w, int *h);

/* rm_term_draw - show c (as big as the terminal). */
void rm_term_draw(rm_term_t *t, const rm_canvas_t *c);

/* rm_term_key - the next key already typed, without waiting. Returns 1
 * with *k, or 0 when there is none. */
int rm_term_key(rm_term_t *t, rm_key_t *k);

/* rm_term_close - give the terminal back (screen, modes, cursor). t may be
 * NULL. */
void rm_term_close(rm_term_t *t);

#endif /* REPLMON_TUI_TERM_H */
