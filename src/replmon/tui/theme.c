/* SPDX-License-Identifier: MIT */
/*
 * theme.c - palettes, colour parsing and the nearest terminal colour (see
 * theme.h). The dark and light values are the original replmon's
 * (src/config/defaults.ts there).
 */
#include "tui/theme.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const dark_hex[RM_UI_ROLE_COUNT] = {
    [RM_UI_FG] = "#FFFFFF",       [RM_UI_BG] = "#000000",
    [RM_UI_PRIMARY] = "#00BFFF",  [RM_UI_SECONDARY] = "#6A5ACD",
    [RM_UI_SUCCESS] = "#00FF00",  [RM_UI_WARNING] = "#FFD700",
    [RM_UI_CRITICAL] = "#FF4500", [RM_UI_MUTED] = "#808080"};

static const char *const light_hex[RM_UI_ROLE_COUNT] = {
    [RM_UI_FG] = "#000000",       [RM_UI_BG] = "#FFFFFF",
    [RM_UI_PRIMARY] = "#0066CC",  [RM_UI_SECONDARY] = "#4B0082",
    [RM_UI_SUCCESS] = "#228B22",  [RM_UI_WARNING] = "#FF8C00",
    [RM_UI_CRITICAL] = "#DC143C", [RM_UI_MUTED] = "#A9A9A9"};

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int rm_color_parse(const char *text, rm_color_t *out)
{
    static const char *const names[] = {"black", "red",     "green", "yellow",
                                        "blue",  "magenta", "cyan",  "white"};
    size_t n = strlen(text), i;
    const char *base = text;
    int bright = 0;

    memset(out, 0, sizeof(*out));
    if (text[0] == '#' && (n == 4 || n == 7)) {
        int v[6];

        for (i = 1; i < n; i++) {
            if ((v[i - 1] = hexval(text[i])) < 0)
                return -1;
        }
        out->kind = RM_COLOR_RGB;
        if (n == 4) {
            out->r = (uint8_t)(v[0] * 17);
            out->g = (uint8_t)(v[1] * 17);
            out->b = (uint8_t)(v[2] * 17);
        } else {
            out->r = (uint8_t)(v[0] * 16 + v[1]);
            out->g = (uint8_t)(v[2] * 16 + v[3]);
            out->b = (uint8_t)(v[4] * 16 + v[5]);
        }
        return 0;
    }
    if (strcasecmp(text, "default") == 0) {
        out->kind = RM_COLOR_DEFAULT;
        return 0;
    }
    if (strncasecmp(text, "bright", 6) == 0 &&
        (text[6] == '-' || text[6] == '_')) {
        bright = 1;
        base = text + 7;
    }
    out->kind = RM_COLOR_INDEX;
    if (strcasecmp(base, "gray") == 0 || strcasecmp(base, "grey") == 0) {
        out->index = bright ? 7 : 8;
        return 0;
    }
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(base, names[i]) == 0) {
            out->index = (int)i + (bright ? 8 : 0);
            return 0;
        }
    }
    if (!bright && n > 0 && n <= 3 && strspn(text, "0123456789") == n) {
        out->index = atoi(text);
        return out->index <= 255 ? 0 : -1;
    }
    return -1;
}

void rm_palette_resolve(const rm_theme_t *theme, rm_palette_t *out)
{
    const char *const *hex = dark_hex;
    size_t i;
    int r;

    out->name = "dark";
    if (theme != NULL && theme->name != NULL &&
        strcmp(theme->name, "light") == 0) {
        hex = light_hex;
        out->name = "light";
    }
    for (r = 0; r < RM_UI_ROLE_COUNT; r++)
        rm_color_parse(hex[r], &out->color[r]);
    if (theme == NULL)
        return;
    for (i = 0; i < theme->color_count; i++) {
        for (r = 0; r < RM_UI_ROLE_COUNT; r++) {
            rm_color_t c;

            if (strcmp(theme->colors[i].role, rm_ui_role_name(r)) == 0 &&
                rm_color_parse(theme->colors[i].color, &c) == 0) {
                out->color[r] = c;
                out->name = "custom";
            }
        }
    }
}

/* The xterm palette, as most terminals show colour numbers. */
static void index_rgb(int i, int *r, int *g, int *b)
{
    static const uint8_t sys[16][3] = {
        {0, 0, 0},       {205, 0, 0},   {0, 205, 0},   {205, 205, 0},
        {0, 0, 238},     {205, 0, 205}, {0, 205, 205}, {229, 229, 229},
        {127, 127, 127}, {255, 0, 0},   {0, 255, 0},   {255, 255, 0},
        {92, 92, 255},   {255, 0, 255}, {0, 255, 255}, {255, 255, 255}};
    static const int level[6] = {0, 95, 135, 175, 215, 255};

    if (i < 16) {
        *r = sys[i][0];
        *g = sys[i][1];
        *b = sys[i][2];
    } else if (i < 232) {
        i -= 16;
        *r = level[i / 36];
        *g = level[(i / 6) % 6];
        *b = level[i % 6];
    } else {
        *r = *g = *b = 8 + 10 * (i - 232);
    }
}

static int nearest(int r, int g, int b, int ncolors)
{
    int best = 0, i, limit = ncolors >= 256 ? 256 : ncolors >= 16 ? 16 : 8;
    long best_d = -1;

    for (i = 0; i < limit; i++) {
        int cr, cg, cb;
        long d;

        index_rgb(i, &cr, &cg, &cb);
        d = (long)(cr - r) * (cr - r) + (long)(cg - g) * (cg - g) +
            (long)(cb - b) * (cb - b);
        if (best_d < 0 || d < best_d) {
            best_d = d;
            best = i;
        }
    }
    return best;
}

int rm_color_on_terminal(const rm_color_t *c, int ncolors)
{
    int r, g, b;

    if (c->kind == RM_COLOR_DEFAULT || ncolors <= 0)
        return -1;
    if (c->kind == RM_COLOR_INDEX) {
        if (c->index < ncolors)
            return c->index;
        index_rgb(c->index, &r, &g, &b);
        return nearest(r, g, b, ncolors);
    }
    return nearest(c->r, c->g, c->b, ncolors);
}
