/* SPDX-License-Identifier: MIT */
/*
 * canvas.h - the screen as the dashboard's model draws it: a grid of cells,
 * each a glyph and a style (one of the theme's colour roles plus bold or
 * reverse). The screen model renders into a canvas without a terminal;
 * the curses layer paints it; tests read it back as text.
 */
#ifndef REPLMON_TUI_CANVAS_H
#define REPLMON_TUI_CANVAS_H

#include <stddef.h>
#include <stdint.h>

/* Colour roles: the original replmon's eight. */
typedef enum rm_ui_role {
    RM_UI_FG = 0, /* foreground: plain text */
    RM_UI_BG,     /* background (only for the terminal's fill) */
    RM_UI_PRIMARY,
    RM_UI_SECONDARY,
    RM_UI_SUCCESS,
    RM_UI_WARNING,
    RM_UI_CRITICAL,
    RM_UI_MUTED,
    RM_UI_ROLE_COUNT
} rm_ui_role_t;

/* A style: a role in the low bits, attributes above. */
typedef uint8_t rm_style_t;
#define RM_ST_ROLE_MASK 0x0F
#define RM_ST_BOLD      0x10
#define RM_ST_REVERSE   0x20
#define RM_ST_ROLE(s)   ((rm_ui_role_t)((s)&RM_ST_ROLE_MASK))

/* "foreground", "background", "primary", ... */
const char *rm_ui_role_name(rm_ui_role_t r);

typedef struct rm_cell {
    uint32_t cp;      /* 0 for the right half of a wide glyph */
    uint32_t combine; /* one combining mark, or 0 */
    rm_style_t style;
} rm_cell_t;

typedef struct rm_canvas {
    int w, h;
    int utf8; /* glyphs beyond ASCII allowed */
    rm_cell_t *cells;
} rm_canvas_t;

/* rm_canvas_init - a w x h canvas of blanks. Returns 0 or -1 (no memory);
 * w and h below 1 are taken as 1. */
int rm_canvas_init(rm_canvas_t *c, int w, int h, int utf8);
void rm_canvas_free(rm_canvas_t *c);
void rm_canvas_clear(rm_canvas_t *c);

/* rm_canvas_fill - width cells from (x, y) with cp in style. */
void rm_canvas_fill(rm_canvas_t *c, int x, int y, int width, uint32_t cp,
                    rm_style_t style);

/* rm_canvas_style - restyle width cells from (x, y), keeping the glyphs. */
void rm_canvas_style(rm_canvas_t *c, int x, int y, int width, rm_style_t style);

/* rm_canvas_text - write text (escaped as text.h says) at (x, y) in at
 * most width columns (width < 0: to the right edge). Returns the columns
 * written. */
int rm_canvas_text(rm_canvas_t *c, int x, int y, int width, const char *text,
                   rm_style_t style);

/* rm_canvas_field - exactly width columns: text padded with blanks (on
 * the left when align_right), or cut with an ellipsis ("~" in ASCII). */
void rm_canvas_field(rm_canvas_t *c, int x, int y, int width, const char *text,
                     rm_style_t style, int align_right);

/* rm_canvas_box - a frame (box-drawing lines, +-| in ASCII) with a title
 * on its top edge. */
void rm_canvas_box(rm_canvas_t *c, int x, int y, int w, int h,
                   const char *title, rm_style_t frame, rm_style_t title_style);

/* rm_canvas_row - row y as UTF-8 text without trailing blanks, into buf.
 * Returns the length (truncated to len - 1). */
size_t rm_canvas_row(const rm_canvas_t *c, int y, char *buf, size_t len);

/* rm_canvas_at - the cell at (x, y), or NULL outside. */
const rm_cell_t *rm_canvas_at(const rm_canvas_t *c, int x, int y);

/* rm_canvas_find - the first (x, y) where text appears (row text matched
 * by columns), 0 if found, -1 if not. For tests. */
int rm_canvas_find(const rm_canvas_t *c, const char *text, int *x, int *y);

#endif /* REPLMON_TUI_CANVAS_H */
