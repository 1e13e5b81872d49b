/* SPDX-License-Identifier: MIT */
/*
 * theme.h - the dashboard's colours: the original replmon's dark and light
 * palettes of eight roles, the config's `theme:` overrides on top, and how
 * a colour is shown on a terminal of 256, 16 or 8 colours (the nearest one
 * when it cannot be shown exactly). Pure: no terminal here.
 */
#ifndef REPLMON_TUI_THEME_H
#define REPLMON_TUI_THEME_H

#include <stdint.h>

#include "config.h"
#include "tui/canvas.h"

typedef enum rm_color_kind {
    RM_COLOR_DEFAULT = 0, /* the terminal's own */
    RM_COLOR_INDEX,       /* a terminal colour number 0-255 */
    RM_COLOR_RGB
} rm_color_kind_t;

typedef struct rm_color {
    rm_color_kind_t kind;
    int index; /* RM_COLOR_INDEX */
    uint8_t r, g, b;
} rm_color_t;

typedef struct rm_palette {
    const char *name; /* "dark", "light", or "custom" with overrides */
    rm_color_t color[RM_UI_ROLE_COUNT];
} rm_palette_t;

/* rm_color_parse - "#RRGGBB", "#RGB", a curses colour name ("red",
 * "bright-red", "gray", "default") or "0".."255". Returns 0 or -1. */
int rm_color_parse(const char *text, rm_color_t *out);

/* rm_palette_resolve - the named palette ("dark" for NULL or unknown) with
 * theme's colours on top (roles the config validated; others ignored). */
void rm_palette_resolve(const rm_theme_t *theme, rm_palette_t *out);

/* rm_color_on_terminal - the terminal colour number that shows c on a
 * terminal with ncolors colours (8, 16, 256...): exact when it has it,
 * else the nearest; -1 for the terminal's default colour. */
int rm_color_on_terminal(const rm_color_t *c, int ncolors);

#endif /* REPLMON_TUI_THEME_H */
