/* SPDX-License-Identifier: MIT */
/*
 * render.c - the dashboard's layout and drawing into a canvas (see
 * model.h): where each panel goes at the terminal's size, tables with
 * their columns fitted to the width (low-priority columns dropped first,
 * flexible ones taking what is left), the selection, scrolling, the
 * details and help boxes, and the header and bottom lines.
 */
#include "tui/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/text.h"

#define GAP       2 /* blanks between two columns */
#define WIDE_W    110
#define WIDE_H    30
#define MIN_W     40
#define MIN_H     10
#define DETAILS_W 100

typedef struct rect {
    int x, y, w, h;
} rect_t;

static void draw_segs(rm_canvas_t *c, int x, int y, int width,
                      const rm_seg_t *segs, size_t n, rm_style_t fill)
{
    int end = x + width;
    size_t i;

    rm_canvas_fill(c, x, y, width, ' ', fill);
    for (i = 0; i < n && x < end; i++)
        x += rm_canvas_text(c, x, y, end - x, segs[i].text, segs[i].style);
}

static int segs_width(const rm_seg_t *segs, size_t n, int utf8)
{
    size_t i, w = 0;

    for (i = 0; i < n; i++)
        w += rm_tui_width(segs[i].text, utf8);
    return (int)w;
}

/* ---------------------------------------------------------------------- */
/* Tables                                                                 */
/* ---------------------------------------------------------------------- */

/* Fit the columns into avail: which are shown and how wide. */
static void fit_columns(const rm_vtable_t *t, int avail, int *shown, int *width)
{
    size_t i, nflex = 0;
    int total, n;

    for (i = 0; i < t->ncols; i++) {
        shown[i] = 1;
        width[i] = t->cols[i].flex ? t->cols[i].min : t->cols[i].width;
    }
    /* Drop the least important columns until the rest fit. */
    for (;;) {
        int worst = -1;

        total = 0;
        n = 0;
        for (i = 0; i < t->ncols; i++) {
            if (!shown[i])
                continue;
            total += width[i];
            n++;
        }
        total += n > 1 ? (n - 1) * GAP : 0;
        if (total <= avail)
            break;
        for (i = 0; i < t->ncols; i++) {
            if (shown[i] && t->cols[i].prio > 0 &&
                (worst < 0 || t->cols[i].prio >= t->cols[worst].prio))
                worst = (int)i;
        }
        if (worst < 0)
            break;
        shown[worst] = 0;
    }
    /* Still too wide: narrow the widest columns, down to their minimum. */
    while (total > avail) {
        int widest = -1;

        for (i = 0; i < t->ncols; i++) {
            if (shown[i] && width[i] > t->cols[i].min &&
                (widest < 0 || width[i] > width[widest]))
                widest = (int)i;
        }
        if (widest < 0)
            break;
        width[widest]--;
        total--;
    }
    for (i = 0; i < t->ncols; i++)
        nflex += shown[i] && t->cols[i].flex;
    if (total < avail && nflex > 0) {
        int extra = avail - total, k = 0;

        for (i = 0; i < t->ncols; i++) {
            if (!shown[i] || !t->cols[i].flex)
                continue;
            width[i] += extra / (int)nflex + (k < extra % (int)nflex);
            k++;
        }
    }
}

static void draw_bar(rm_canvas_t *c, int x, int y, int w,
                     const rm_vcell_t *cell)
{
    static const uint32_t eighths[8] = {0x258F, 0x258E, 0x258D, 0x258C,
                                        0x258B, 0x258A, 0x2589, 0x2588};
    int tw = (int)rm_tui_width(cell->text, c->utf8);
    int bw = w - tw - 1, i;
    double f = cell->fraction, units;

    if (bw < 4) {
        bw = w;
        tw = 0;
    }
    if (f < 0 || isnan(f))
        f = 0;
    if (f > 1)
        f = 1;
    units = f * bw * (c->utf8 ? 8 : 1);
    for (i = 0; i < bw; i++) {
        double left = units - (double)i * (c->utf8 ? 8 : 1);
        uint32_t g = ' ';

        if (c->utf8) {
            if (left >= 8)
                g = 0x2588;
            else if (left >= 1)
                g = eighths[(int)left - 1];
            else if (i == 0 && f > 0)
                g = eighths[0];
        } else if (left >= 1 || (i == 0 && f > 0)) {
            g = '#';
        }
        rm_canvas_fill(c, x + i, y, 1, g, cell->style);
    }
    if (tw > 0)
        rm_canvas_field(c, x + bw + 1, y, tw, cell->text, RM_UI_MUTED, 0);
}

static void draw_cell(rm_canvas_t *c, int x, int y, int w, const rm_vcol_t *col,
                      const rm_vcell_t *cell, rm_style_t extra)
{
    char buf[1024];

    switch (cell->kind) {
    case RM_VCELL_SPARK:
        rm_sparkline(cell->series, w, c->utf8, cell->floor, buf, sizeof(buf));
        rm_canvas_field(c, x, y, w, buf, cell->style | extra, 0);
        break;
    case RM_VCELL_BAR:
        draw_bar(c, x, y, w, cell);
        if (extra)
            rm_canvas_style(c, x, y, w, cell->style | extra);
        break;
    default:
        rm_canvas_field(c, x, y, w, cell->text, cell->style | extra,
                        col->right);
        break;
    }
}

/* Draw table t inside r, keeping the selection visible when `pos` is
 * given; selected: highlight it. Returns the body rows r holds. */
static int draw_table(rm_canvas_t *c, rect_t r, const rm_vtable_t *t,
                      rm_ui_pos_t *pos, int selected)
{
    int shown[RM_VMAX_COLS], width[RM_VMAX_COLS];
    int body = r.h - (t->noheader ? 0 : 1), y = r.y, x, k;
    size_t i, row;

    if (r.w < 4 || r.h < 1)
        return 0;
    fit_columns(t, r.w - 1, shown, width);
    if (!t->noheader) {
        x = r.x + 1;
        for (i = 0; i < t->ncols; i++) {
            if (!shown[i])
                continue;
            rm_canvas_field(c, x, y, width[i], t->cols[i].title,
                            RM_UI_SECONDARY | RM_ST_BOLD, t->cols[i].right);
            x += width[i] + GAP;
        }
        y++;
    }
    if (body < 1)
        return 0;
    if (t->nrows == 0) {
        rm_canvas_field(c, r.x + 1, y, r.w - 1,
                        t->filtered > 0
                            ? "nothing matches the filter (Esc clears it)"
                            : t->empty,
                        RM_UI_MUTED, 0);
        return body;
    }
    if (pos != NULL) {
        if (pos->sel < pos->top)
            pos->top = pos->sel;
        if (pos->sel >= pos->top + (size_t)body)
            pos->top = pos->sel - (size_t)body + 1;
        if (pos->top + (size_t)body > t->nrows)
            pos->top = t->nrows > (size_t)body ? t->nrows - (size_t)body : 0;
    }
    for (k = 0, row = pos != NULL ? pos->top : 0; k < body && row < t->nrows;
         k++, row++) {
        const rm_vrow_t *vr = &t->rows[row];
        int is_sel = pos != NULL && row == pos->sel && selected;

        if (is_sel)
            rm_canvas_fill(c, r.x, y + k, 1, c->utf8 ? 0x25B6 : '>',
                           RM_UI_PRIMARY | RM_ST_BOLD);
        x = r.x + 1;
        for (i = 0; i < t->ncols; i++) {
            if (!shown[i])
                continue;
            draw_cell(c, x, y + k, width[i], &t->cols[i], &vr->cells[i],
                      is_sel ? RM_ST_REVERSE : 0);
            if (is_sel && x + width[i] < r.x + r.w)
                rm_canvas_fill(c, x + width[i], y + k,
                               GAP < r.x + r.w - x - width[i]
                                   ? GAP
                                   : r.x + r.w - x - width[i],
                               ' ', RM_UI_FG | RM_ST_REVERSE);
            x += width[i] + GAP;
        }
    }
    return body;
}

/* A panel: its frame, title and table; the position hint in the bottom
 * border when the rows do not all fit. */
static void draw_panel(rm_canvas_t *c, rect_t r, rm_view_t *v, rm_ui_t *ui,
                       rm_panel_t p)
{
    const rm_vtable_t *t = &v->t[p];
    int focused = ui->focus == p && ui->modal == RM_MODAL_NONE;
    char title[96], hint[64];
    rect_t in = {r.x + 1, r.y + 1, r.w - 2, r.h - 2};
    int body;

    if (r.w < 8 || r.h < 3)
        return;
    if (t->filtered > 0)
        snprintf(title, sizeof(title), "%s [%c]  %zu hidden by the filter",
                 rm_panel_title(p), rm_panel_key(p), t->filtered);
    else
        snprintf(title, sizeof(title), "%s [%c]", rm_panel_title(p),
                 rm_panel_key(p));
    rm_canvas_box(c, r.x, r.y, r.w, r.h, title,
                  focused ? RM_UI_PRIMARY | RM_ST_BOLD : RM_UI_MUTED,
                  focused ? RM_UI_PRIMARY | RM_ST_BOLD : RM_UI_FG | RM_ST_BOLD);
    body = draw_table(c, in, t, &ui->pos[p], focused);
    if (focused)
        ui->page_rows = body > 1 ? body - 1 : 1;
    if (body > 0 && t->nrows > (size_t)body) {
        size_t top = ui->pos[p].top;
        size_t last =
            top + (size_t)body < t->nrows ? top + (size_t)body : t->nrows;
        int hw;

        snprintf(hint, sizeof(hint), " %zu-%zu of %zu ", top + 1, last,
                 t->nrows);
        hw = (int)strlen(hint);
        if (hw < r.w - 4)
            rm_canvas_text(c, r.x + r.w - 2 - hw, r.y + r.h - 1, hw, hint,
                           focused ? RM_UI_PRIMARY : RM_UI_MUTED);
    }
}

/* ---------------------------------------------------------------------- */
/* Boxes on top: details and help                                         */
/* ---------------------------------------------------------------------- */

typedef struct mline {
    const char *label;
    const rm_vcell_t *cell; /* for a sparkline, else NULL */
    char text[512];
    rm_style_t style;
} mline_t;

/* Split the value column into lines of at most w columns (at blanks when
 * possible). Returns the lines, or -1 when out of memory. */
static long wrap_rows(const rm_vtable_t *t, int w, int utf8, mline_t **out)
{
    size_t cap = t->nrows * 2 + 4, n = 0, r;
    mline_t *lines = malloc(cap * sizeof(*lines));

    if (lines == NULL)
        return -1;
    for (r = 0; r < t->nrows; r++) {
        const rm_vcell_t *val = &t->rows[r].cells[1];
        const char *p = val->text;
        int first = 1;

        do {
            mline_t *l;
            const char *cut = p, *q = p, *blank = NULL;
            int cols = 0;

            if (n == cap) {
                mline_t *grown = realloc(lines, cap * 2 * sizeof(*lines));

                if (grown == NULL) {
                    free(lines);
                    return -1;
                }
                lines = grown;
                cap *= 2;
            }
            l = &lines[n++];
            l->label = first ? t->rows[r].cells[0].text : "";
            l->cell = val->kind == RM_VCELL_SPARK ? val : NULL;
            l->style = val->style;
            /* Take glyphs while they fit. */
            while (*q != '\0') {
                uint32_t cp;
                size_t used = rm_tui_utf8_next(q, &cp);
                char one[8];
                int gw;

                memcpy(one, q, used);
                one[used] = '\0';
                gw = (int)rm_tui_width(one, utf8);
                if (cols + gw > w)
                    break;
                if (cp == ' ')
                    blank = q;
                cols += gw;
                q += used;
            }
            cut = q;
            if (*q != '\0' && blank != NULL && blank > p)
                cut = blank;
            if (cut == p && *q != '\0')
                cut = q > p ? q : p + 1;
            snprintf(l->text, sizeof(l->text), "%.*s", (int)(cut - p), p);
            p = cut;
            while (*p == ' ')
                p++;
            first = 0;
        } while (*p != '\0');
    }
    *out = lines;
    return (long)n;
}

static void draw_modal(rm_canvas_t *c, rm_ui_t *ui, const rm_vtable_t *t,
                       const char *title, const char *hint)
{
    int w = c->w - 4 < DETAILS_W ? c->w - 4 : DETAILS_W, h, x, y, lw = 0, vw;
    mline_t *lines = NULL;
    long n, i;
    size_t r;

    for (r = 0; r < t->nrows; r++) {
        int lwr = (int)rm_tui_width(t->rows[r].cells[0].text, c->utf8);

        if (lwr > lw)
            lw = lwr;
    }
    if (lw > w / 3)
        lw = w / 3;
    vw = w - 4 - lw - GAP;
    if (vw < 8)
        return;
    n = wrap_rows(t, vw, c->utf8, &lines);
    if (n < 0)
        return;
    h = (int)n + 2 < c->h - 2 ? (int)n + 2 : c->h - 2;
    x = (c->w - w) / 2;
    y = (c->h - h) / 2;
    ui->modal_rows = (int)n;
    ui->modal_height = h - 2;
    if (ui->modal_scroll + (size_t)ui->modal_height > (size_t)n)
        ui->modal_scroll =
            n > ui->modal_height ? (size_t)(n - ui->modal_height) : 0;
    for (i = 0; i < h; i++)
        rm_canvas_fill(c, x, y + (int)i, w, ' ', RM_UI_FG);
    rm_canvas_box(c, x, y, w, h, title, RM_UI_PRIMARY | RM_ST_BOLD,
                  RM_UI_PRIMARY | RM_ST_BOLD);
    for (i = 0; i < h - 2 && (size_t)i + ui->modal_scroll < (size_t)n; i++) {
        const mline_t *l = &lines[(size_t)i + ui->modal_scroll];

        rm_canvas_field(c, x + 2, y + 1 + (int)i, lw, l->label, RM_UI_SECONDARY,
                        0);
        if (l->cell != NULL) {
            char buf[1024];

            rm_sparkline(l->cell->series, vw, c->utf8, l->cell->floor, buf,
                         sizeof(buf));
            rm_canvas_field(c, x + 2 + lw + GAP, y + 1 + (int)i, vw, buf,
                            l->style, 0);
        } else {
            rm_canvas_field(c, x + 2 + lw + GAP, y + 1 + (int)i, vw, l->text,
                            l->style, 0);
        }
    }
    if (hint != NULL && (int)strlen(hint) < w - 4)
        rm_canvas_text(c, x + w - 2 - (int)strlen(hint), y + h - 1, -1, hint,
                       RM_UI_PRIMARY);
    free(lines);
}

/* ---------------------------------------------------------------------- */
/* The screen                                                             */
/* ---------------------------------------------------------------------- */

static void bottom_line(rm_canvas_t *c, rm_view_t *v, const rm_view_input_t *in,
                        rm_ui_t *ui)
{
    rm_seg_t segs[RM_MAX_SEGS];
    size_t n = 0;
    int y = c->h - 1, level;

    if (ui->filtering) {
        rm_seg_t p[3] = {{" filter: /", RM_UI_PRIMARY | RM_ST_BOLD},
                         {ui->edit, RM_UI_FG | RM_ST_BOLD},
                         {"_   Enter keeps it, Esc cancels, Ctrl-U clears",
                          RM_UI_SECONDARY}};

        draw_segs(c, 0, y, c->w, p, 3, RM_UI_FG);
        return;
    }
    if (in->message != NULL && in->message[0] != '\0') {
        rm_style_t st =
            in->message_level == RM_EVL_CRITICAL  ? RM_UI_CRITICAL | RM_ST_BOLD
            : in->message_level == RM_EVL_WARNING ? RM_UI_WARNING | RM_ST_BOLD
                                                  : RM_UI_PRIMARY;
        rm_seg_t m[2] = {{" ", st}, {in->message, st}};

        draw_segs(c, 0, y, c->w, m, 2, RM_UI_FG);
        return;
    }
    for (level = 0; level < 4; level++) {
        n = rm_keybar_build(v, ui->focus, level, segs, RM_MAX_SEGS);
        if (segs_width(segs, n, c->utf8) <= c->w)
            break;
    }
    draw_segs(c, 0, y, c->w, segs, n, RM_UI_FG);
}

static void header_line(rm_canvas_t *c, rm_view_t *v, const rm_view_input_t *in,
                        const rm_ui_t *ui)
{
    rm_seg_t segs[RM_MAX_SEGS];
    const char *filter = ui->filtering ? ui->edit : ui->filter;
    size_t n = 0;
    int level;

    for (level = 0; level < 3; level++) {
        n = rm_header_build(v, in, filter, level, segs, RM_MAX_SEGS);
        if (segs_width(segs, n, c->utf8) <= c->w)
            break;
    }
    draw_segs(c, 0, 0, c->w, segs, n, RM_UI_FG);
}

static void layout_wide(rm_canvas_t *c, rm_view_t *v, rm_ui_t *ui)
{
    int top = 1, avail = c->h - 2, nodes_h, rest, mid_h, slots_h, bot_h;
    int left_w = c->w * 42 / 100;
    int rows = (int)v->t[RM_PANEL_NODES].nrows;
    rect_t r;

    nodes_h = rows + 3;
    if (nodes_h < 5)
        nodes_h = 5;
    if (nodes_h > avail * 35 / 100)
        nodes_h = avail * 35 / 100;
    rest = avail - nodes_h;
    mid_h = rest * 38 / 100;
    slots_h = rest * 30 / 100;
    bot_h = rest - mid_h - slots_h;
    r = (rect_t){0, top, c->w, nodes_h};
    draw_panel(c, r, v, ui, RM_PANEL_NODES);
    r = (rect_t){0, top + nodes_h, left_w, mid_h};
    draw_panel(c, r, v, ui, RM_PANEL_TOPOLOGY);
    r = (rect_t){left_w, top + nodes_h, c->w - left_w, mid_h};
    draw_panel(c, r, v, ui, ui->repl);
    r = (rect_t){0, top + nodes_h + mid_h, c->w, slots_h};
    draw_panel(c, r, v, ui, RM_PANEL_SLOTS);
    /* Findings get half: their sentences are longer than a tree's. */
    r = (rect_t){0, top + nodes_h + mid_h + slots_h, c->w / 2, bot_h};
    draw_panel(c, r, v, ui, RM_PANEL_FINDINGS);
    r = (rect_t){c->w / 2, top + nodes_h + mid_h + slots_h, c->w - c->w / 2,
                 bot_h};
    draw_panel(c, r, v, ui, RM_PANEL_EVENTS);
}

static void layout_narrow(rm_canvas_t *c, rm_view_t *v, rm_ui_t *ui)
{
    rm_seg_t segs[RM_MAX_SEGS];
    rect_t r = {0, 1, c->w, c->h - 3};
    size_t n;

    draw_panel(c, r, v, ui, ui->focus);
    n = rm_findings_line(v, segs, RM_MAX_SEGS);
    draw_segs(c, 0, c->h - 2, c->w, segs, n, RM_UI_FG);
}

void rm_screen_render(rm_canvas_t *c, rm_view_t *v, const rm_view_input_t *in,
                      rm_ui_t *ui)
{
    int wide = c->w >= WIDE_W && c->h >= WIDE_H;

    rm_canvas_clear(c);
    if (c->w < MIN_W || c->h < MIN_H) {
        char msg[128];

        snprintf(msg, sizeof(msg),
                 "replmon: the terminal is %dx%d; the "
                 "dashboard needs %dx%d (q quits)",
                 c->w, c->h, MIN_W, MIN_H);
        rm_canvas_text(c, 0, 0, -1, msg, RM_UI_WARNING | RM_ST_BOLD);
        return;
    }
    /* The focused panel in the wide layout: those without a place of
     * their own take the replication slot. */
    if (ui->focus == RM_PANEL_SUBSCRIPTIONS || ui->focus == RM_PANEL_STANDBYS ||
        ui->focus == RM_PANEL_LAG || ui->focus == RM_PANEL_CONFLICTS)
        ui->repl = ui->focus;
    header_line(c, v, in, ui);
    if (wide)
        layout_wide(c, v, ui);
    else
        layout_narrow(c, v, ui);
    bottom_line(c, v, in, ui);
    if (ui->modal == RM_MODAL_DETAILS) {
        rm_vtable_t t;
        char title[160];

        if (rm_details_build(v, &t, in, ui->detail_panel, ui->detail_key, title,
                             sizeof(title)) == 0)
            draw_modal(c, ui, &t, title,
                       ui->detail_panel == RM_PANEL_FINDINGS ||
                               ui->detail_panel == RM_PANEL_EVENTS
                           ? " Esc closes "
                           : " live - Esc closes, j/k scroll, r retries ");
        free(t.rows);
    } else if (ui->modal == RM_MODAL_OPS) {
        rm_vtable_t t;
        char title[256];

        snprintf(title, sizeof(title), "Operations: %s", ui->ops.title);
        if (rm_ops_box_build(v, &t, ui, c->utf8) == 0)
            draw_modal(c, ui, &t, title,
                       ui->ops.stage == RM_OPS_MENU ? " j/k choose, Enter, Esc "
                       : ui->ops.stage == RM_OPS_INPUT
                           ? " Enter, Esc back "
                           : " Enter, Esc cancels ");
        free(t.rows);
    } else if (ui->modal == RM_MODAL_HELP) {
        rm_vtable_t t;

        if (rm_help_build(v, &t, c->utf8) == 0)
            draw_modal(c, ui, &t, "replmon watch - keys",
                       " Esc closes, j/k scroll ");
        free(t.rows);
    }
}
