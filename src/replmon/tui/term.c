/* SPDX-License-Identifier: MIT */
/*
 * term.c - ncursesw under the dashboard (see term.h): one colour pair per
 * role over the theme's background, attributes when there is no colour,
 * runs of same-styled cells painted with wide-character calls, and
 * get_wch() keys mapped to the model's rm_key_t.
 */
#define NCURSES_WIDECHAR 1
#include "tui/term.h"

#include <curses.h>
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wchar.h>

struct rm_term {
    SCREEN *screen;
    int utf8;
    int colors; /* 0: monochrome */
    attr_t role_attr[RM_UI_ROLE_COUNT];
};

/* Whether the terminal speaks UTF-8, as the environment's locale says
 * (main() may have made LC_CTYPE C.UTF-8 for widths: that is not the
 * terminal's). Asked without touching the process's locale. */
static int environment_is_utf8(void)
{
    locale_t env = newlocale(LC_CTYPE_MASK, "", (locale_t)0);
    const char *codeset;
    int utf8;

    if (env == (locale_t)0)
        return 0;
    codeset = nl_langinfo_l(CODESET, env);
    utf8 = codeset != NULL && (strcasecmp(codeset, "UTF-8") == 0 ||
                               strcasecmp(codeset, "utf8") == 0);
    freelocale(env);
    return utf8;
}

rm_term_t *rm_term_open(const rm_palette_t *pal, int no_color, char *err,
                        size_t errlen)
{
    rm_term_t *t = calloc(1, sizeof(*t));

    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->utf8 = environment_is_utf8();
    t->screen = newterm(NULL, stdout, stdin);
    if (t->screen == NULL) {
        const char *term = getenv("TERM");

        snprintf(err, errlen,
                 "cannot use the terminal (TERM=%s): set TERM to your "
                 "terminal's type, or run 'replmon status' instead",
                 term != NULL ? term : "unset");
        free(t);
        return NULL;
    }
    set_term(t->screen);
    cbreak();
    noecho();
    nonl();
    intrflush(stdscr, FALSE);
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    leaveok(stdscr, TRUE);
    set_escdelay(25);
    /* No typeahead checks while painting: the screen goes out in one
     * piece instead of many small writes, each after a poll of stdin. */
    typeahead(-1);
    curs_set(0);
    if (!no_color && has_colors() && start_color() == OK) {
        use_default_colors();
        t->colors = COLORS;
    }
    rm_term_palette(t, pal);
    clear();
    return t;
}

int rm_term_utf8(const rm_term_t *t)
{
    return t->utf8;
}

int rm_term_colors(const rm_term_t *t)
{
    return t->colors;
}

void rm_term_palette(rm_term_t *t, const rm_palette_t *pal)
{
    int r;

    if (t->colors == 0) {
        /* Monochrome: bold for what needs attention, dim for the stale. */
        memset(t->role_attr, 0, sizeof(t->role_attr));
        t->role_attr[RM_UI_PRIMARY] = A_BOLD;
        t->role_attr[RM_UI_WARNING] = A_BOLD;
        t->role_attr[RM_UI_CRITICAL] = A_BOLD | A_UNDERLINE;
        t->role_attr[RM_UI_MUTED] = A_DIM;
        bkgdset(' ');
        return;
    }
    {
        int bg = rm_color_on_terminal(&pal->color[RM_UI_BG], t->colors);

        for (r = 0; r < RM_UI_ROLE_COUNT; r++) {
            int fg = rm_color_on_terminal(&pal->color[r], t->colors);

            if (r == RM_UI_BG)
                fg = rm_color_on_terminal(&pal->color[RM_UI_FG], t->colors);
            init_pair((short)(r + 1), (short)fg, (short)bg);
            t->role_attr[r] = COLOR_PAIR(r + 1);
        }
        /* Eight colours have no grey: dim the muted role's colour. */
        if (t->colors < 16)
            t->role_attr[RM_UI_MUTED] |= A_DIM;
        bkgdset(' ' | COLOR_PAIR(RM_UI_BG + 1));
    }
}

void rm_term_size(rm_term_t *t, int *w, int *h)
{
    int y, x;

    (void)t;
    getmaxyx(stdscr, y, x);
    *w = x;
    *h = y;
}

static attr_t style_attr(const rm_term_t *t, rm_style_t st)
{
    attr_t a = t->role_attr[RM_ST_ROLE(st) % RM_UI_ROLE_COUNT];

    if (st & RM_ST_BOLD)
        a |= A_BOLD;
    if (st & RM_ST_REVERSE)
        a |= A_REVERSE;
    return a;
}

void rm_term_draw(rm_term_t *t, const rm_canvas_t *c)
{
    wchar_t run[1024];
    int y, x, w, h;

    rm_term_size(t, &w, &h);
    for (y = 0; y < c->h && y < h; y++) {
        x = 0;
        while (x < c->w && x < w) {
            const rm_cell_t *first = rm_canvas_at(c, x, y);
            rm_style_t st = first->style;
            int start = x;
            size_t n = 0;

            /* A run of cells of one style; the last column of the last
             * line is left alone (writing it would scroll). */
            while (x < c->w && x < w && n + 2 < sizeof(run) / sizeof(run[0])) {
                const rm_cell_t *cell = rm_canvas_at(c, x, y);

                if (cell->style != st || (y == h - 1 && x == w - 1))
                    break;
                if (cell->cp != 0) {
                    run[n++] = (wchar_t)cell->cp;
                    if (cell->combine != 0)
                        run[n++] = (wchar_t)cell->combine;
                }
                x++;
            }
            run[n] = L'\0';
            attrset(style_attr(t, st));
            mvaddnwstr(y, start, run, (int)n);
            if (y == h - 1 && x == w - 1)
                break;
        }
    }
    attrset(A_NORMAL);
    wnoutrefresh(stdscr);
    doupdate();
}

int rm_term_key(rm_term_t *t, rm_key_t *k)
{
    wint_t ch;
    int rc;

    (void)t;
    rc = get_wch(&ch);
    if (rc == ERR)
        return 0;
    k->ch = 0;
    if (rc == KEY_CODE_YES) {
        switch (ch) {
        case KEY_UP:
            k->code = RM_K_UP;
            break;
        case KEY_DOWN:
            k->code = RM_K_DOWN;
            break;
        case KEY_LEFT:
            k->code = RM_K_LEFT;
            break;
        case KEY_RIGHT:
            k->code = RM_K_RIGHT;
            break;
        case KEY_NPAGE:
            k->code = RM_K_PGDN;
            break;
        case KEY_PPAGE:
            k->code = RM_K_PGUP;
            break;
        case KEY_HOME:
            k->code = RM_K_HOME;
            break;
        case KEY_END:
            k->code = RM_K_END;
            break;
        case KEY_ENTER:
            k->code = RM_K_ENTER;
            break;
        case KEY_BTAB:
            k->code = RM_K_BTAB;
            break;
        case KEY_BACKSPACE:
            k->code = RM_K_BACKSPACE;
            break;
        case KEY_RESIZE:
            k->code = RM_K_RESIZE;
            break;
        default:
            k->code = RM_K_NONE;
            break;
        }
        return 1;
    }
    switch (ch) {
    case '\r':
    case '\n':
        k->code = RM_K_ENTER;
        break;
    case 27:
        k->code = RM_K_ESC;
        break;
    case '\t':
        k->code = RM_K_TAB;
        break;
    case 127:
    case 8:
        k->code = RM_K_BACKSPACE;
        break;
    case 3:
        k->code = RM_K_CTRL_C;
        break;
    case 21:
        k->code = RM_K_CTRL_U;
        break;
    default:
        if (ch < 0x20) {
            k->code = RM_K_NONE;
        } else {
            k->code = RM_K_CHAR;
            k->ch = (uint32_t)ch;
        }
        break;
    }
    return 1;
}

void rm_term_close(rm_term_t *t)
{
    if (t == NULL)
        return;
    curs_set(1);
    endwin();
    delscreen(t->screen);
    free(t);
}
