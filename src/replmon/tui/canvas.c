/* SPDX-License-Identifier: MIT */
/*
 * canvas.c - the cell grid the screen model draws into (see canvas.h).
 */
#include "tui/canvas.h"

#include <stdlib.h>
#include <string.h>

#include "tui/text.h"

const char *rm_ui_role_name(rm_ui_role_t r)
{
    static const char *const names[RM_UI_ROLE_COUNT] = {
        "foreground", "background", "primary",  "secondary",
        "success",    "warning",    "critical", "muted"};

    return (unsigned)r < RM_UI_ROLE_COUNT ? names[r] : "foreground";
}

int rm_canvas_init(rm_canvas_t *c, int w, int h, int utf8)
{
    c->w = w < 1 ? 1 : w;
    c->h = h < 1 ? 1 : h;
    c->utf8 = utf8;
    c->cells = calloc((size_t)c->w * (size_t)c->h, sizeof(*c->cells));
    if (c->cells == NULL)
        return -1;
    rm_canvas_clear(c);
    return 0;
}

void rm_canvas_free(rm_canvas_t *c)
{
    free(c->cells);
    c->cells = NULL;
    c->w = c->h = 0;
}

void rm_canvas_clear(rm_canvas_t *c)
{
    size_t i, n = (size_t)c->w * (size_t)c->h;

    for (i = 0; i < n; i++) {
        c->cells[i].cp = ' ';
        c->cells[i].combine = 0;
        c->cells[i].style = RM_UI_FG;
    }
}

static rm_cell_t *cell(rm_canvas_t *c, int x, int y)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h)
        return NULL;
    return &c->cells[(size_t)y * (size_t)c->w + (size_t)x];
}

const rm_cell_t *rm_canvas_at(const rm_canvas_t *c, int x, int y)
{
    return cell((rm_canvas_t *)c, x, y);
}

/* Overwriting half of a wide glyph blanks its other half. */
static void set_cell(rm_canvas_t *c, int x, int y, uint32_t cp, rm_style_t st)
{
    rm_cell_t *p = cell(c, x, y);
    rm_cell_t *q;

    if (p == NULL)
        return;
    if (p->cp == 0 && (q = cell(c, x - 1, y)) != NULL) {
        q->cp = ' ';
        q->combine = 0;
    }
    if (p->cp != 0 && (q = cell(c, x + 1, y)) != NULL && q->cp == 0)
        q->cp = ' ';
    p->cp = cp;
    p->combine = 0;
    p->style = st;
}

void rm_canvas_fill(rm_canvas_t *c, int x, int y, int width, uint32_t cp,
                    rm_style_t style)
{
    int i;

    for (i = 0; i < width; i++)
        set_cell(c, x + i, y, cp, style);
}

void rm_canvas_style(rm_canvas_t *c, int x, int y, int width, rm_style_t style)
{
    int i;

    for (i = 0; i < width; i++) {
        rm_cell_t *p = cell(c, x + i, y);

        if (p != NULL)
            p->style = style;
    }
}

typedef struct writer {
    rm_canvas_t *c;
    int x, y, end; /* next column, first column past the field */
    rm_style_t style;
    int full;
} writer_t;

static void put_glyph(const rm_glyph_t *g, void *user)
{
    writer_t *w = user;
    rm_cell_t *prev;

    if (w->full)
        return;
    if (g->width == 0) {
        prev = cell(w->c, w->x - 1, w->y);
        if (prev != NULL && prev->cp == 0)
            prev = cell(w->c, w->x - 2, w->y);
        if (prev != NULL && prev->combine == 0 && w->x > 0)
            prev->combine = g->cp;
        return;
    }
    if (w->x + g->width > w->end) {
        w->full = 1;
        return;
    }
    set_cell(w->c, w->x, w->y, g->cp, w->style);
    if (g->width == 2)
        set_cell(w->c, w->x + 1, w->y, 0, w->style);
    w->x += g->width;
}

int rm_canvas_text(rm_canvas_t *c, int x, int y, int width, const char *text,
                   rm_style_t style)
{
    writer_t w;

    if (y < 0 || y >= c->h || x >= c->w)
        return 0;
    if (width < 0 || x + width > c->w)
        width = c->w - x;
    w.c = c;
    w.x = x;
    w.y = y;
    w.end = x + width;
    w.style = style;
    w.full = 0;
    rm_tui_glyphs(text, c->utf8, put_glyph, &w);
    /* A wide glyph cut at the edge leaves a blank. */
    if (w.full && w.x < w.end)
        set_cell(c, w.x, y, ' ', style);
    return w.x - x;
}

void rm_canvas_field(rm_canvas_t *c, int x, int y, int width, const char *text,
                     rm_style_t style, int align_right)
{
    int tw, used;

    if (width <= 0)
        return;
    tw = (int)rm_tui_width(text, c->utf8);
    rm_canvas_fill(c, x, y, width, ' ', style);
    if (tw <= width) {
        rm_canvas_text(c, align_right ? x + width - tw : x, y, tw, text, style);
        return;
    }
    used = rm_canvas_text(c, x, y, width - 1, text, style);
    set_cell(c, x + used, y, c->utf8 ? 0x2026 : '~', style);
}

void rm_canvas_box(rm_canvas_t *c, int x, int y, int w, int h,
                   const char *title, rm_style_t frame, rm_style_t title_style)
{
    uint32_t hz = c->utf8 ? 0x2500 : '-', vt = c->utf8 ? 0x2502 : '|';
    uint32_t tl = c->utf8 ? 0x250C : '+', tr = c->utf8 ? 0x2510 : '+';
    uint32_t bl = c->utf8 ? 0x2514 : '+', br = c->utf8 ? 0x2518 : '+';
    int i;

    if (w < 2 || h < 2)
        return;
    set_cell(c, x, y, tl, frame);
    rm_canvas_fill(c, x + 1, y, w - 2, hz, frame);
    set_cell(c, x + w - 1, y, tr, frame);
    for (i = 1; i < h - 1; i++) {
        set_cell(c, x, y + i, vt, frame);
        set_cell(c, x + w - 1, y + i, vt, frame);
    }
    set_cell(c, x, y + h - 1, bl, frame);
    rm_canvas_fill(c, x + 1, y + h - 1, w - 2, hz, frame);
    set_cell(c, x + w - 1, y + h - 1, br, frame);
    if (title != NULL && title[0] != '\0' && w > 6) {
        int used;

        set_cell(c, x + 1, y, ' ', frame);
        used = rm_canvas_text(c, x + 2, y, w - 5, title, title_style);
        set_cell(c, x + 2 + used, y, ' ', frame);
    }
}

size_t rm_canvas_row(const rm_canvas_t *c, int y, char *buf, size_t len)
{
    size_t n = 0, keep = 0;
    int x;

    if (len == 0)
        return 0;
    buf[0] = '\0';
    if (y < 0 || y >= c->h)
        return 0;
    for (x = 0; x < c->w; x++) {
        const rm_cell_t *p = &c->cells[(size_t)y * (size_t)c->w + (size_t)x];
        char tmp[8];
        size_t k;

        if (p->cp == 0)
            continue;
        k = rm_tui_utf8_put(p->cp, tmp);
        if (p->combine != 0)
            k += rm_tui_utf8_put(p->combine, tmp + k);
        if (n + k >= len)
            break;
        memcpy(buf + n, tmp, k);
        n += k;
        if (p->cp != ' ')
            keep = n;
    }
    buf[keep] = '\0';
    return keep;
}

int rm_canvas_find(const rm_canvas_t *c, const char *text, int *x, int *y)
{
    size_t tw = rm_tui_width(text, 1);
    int row, col;

    for (row = 0; row < c->h; row++) {
        for (col = 0; col + (int)tw <= c->w; col++) {
            /* Compare glyph by glyph from this column. */
            const char *t = text;
            int cx = col, ok = 1;
            uint32_t cp;
            size_t used;

            while (ok && (used = rm_tui_utf8_next(t, &cp)) > 0) {
                const rm_cell_t *p = rm_canvas_at(c, cx, row);

                t += used;
                if (p == NULL || p->cp != cp) {
                    ok = 0;
                    break;
                }
                cx++;
                if (cx < c->w && c->cells[(size_t)row * c->w + cx].cp == 0)
                    cx++;
            }
            if (ok) {
                if (x != NULL)
                    *x = col;
                if (y != NULL)
                    *y = row;
                return 0;
            }
        }
    }
    return -1;
}
