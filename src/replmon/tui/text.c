/* SPDX-License-Identifier: MIT */
/*
 * text.c - UTF-8 decoding, the escaping rule and display widths for the
 * dashboard (see text.h). Widths come from the C library's wcwidth() in
 * the UTF-8 locale the dashboard runs in.
 */
#include "tui/text.h"

#include <stdio.h>
#include <wchar.h>

size_t rm_tui_utf8_next(const char *s, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t v;
    size_t n, i;

    if (u[0] == 0) {
        *cp = 0;
        return 0;
    }
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    if (u[0] >= 0xC2 && u[0] <= 0xDF) {
        n = 2;
        v = u[0] & 0x1F;
    } else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
        n = 3;
        v = u[0] & 0x0F;
    } else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
        n = 4;
        v = u[0] & 0x07;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    for (i = 1; i < n; i++) {
        if ((u[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (u[i] & 0x3F);
    }
    /* Overlong forms, surrogates and values past U+10FFFF. */
    if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
        (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = v;
    return n;
}

size_t rm_tui_utf8_put(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Code points that change how a terminal shows what follows: controls,
 * bidirectional embeddings, overrides and isolates, line and paragraph
 * separators, and the BOM / zero-width no-break space. */
static int must_escape(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) ||
           cp == 0x061C || cp == 0x200E || cp == 0x200F ||
           (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
           cp == 0xFEFF;
}

static size_t emit_ascii(const char *s,
                         void (*fn)(const rm_glyph_t *g, void *user),
                         void *user)
{
    size_t n = 0;

    for (; *s != '\0'; s++, n++) {
        rm_glyph_t g = {(uint32_t)(unsigned char)*s, 1};

        if (fn != NULL)
            fn(&g, user);
    }
    return n;
}

static size_t emit_escape(uint32_t cp,
                          void (*fn)(const rm_glyph_t *g, void *user),
                          void *user)
{
    char buf[16];

    if (cp == '\n')
        snprintf(buf, sizeof(buf), "\\n");
    else if (cp == '\t')
        snprintf(buf, sizeof(buf), "\\t");
    else if (cp == '\r')
        snprintf(buf, sizeof(buf), "\\r");
    else if (cp < 0x20 || cp == 0x7F)
        snprintf(buf, sizeof(buf), "\\x%02x", (unsigned)cp);
    else if (cp <= 0xFFFF)
        snprintf(buf, sizeof(buf), "\\u%04x", (unsigned)cp);
    else
        snprintf(buf, sizeof(buf), "\\U%08x", (unsigned)cp);
    return emit_ascii(buf, fn, user);
}

size_t rm_tui_glyphs(const char *text, int utf8,
                     void (*fn)(const rm_glyph_t *g, void *user), void *user)
{
    size_t total = 0, used;
    uint32_t cp;

    if (text == NULL)
        return 0;
    while ((used = rm_tui_utf8_next(text, &cp)) > 0) {
        int w;

        text += used;
        if (must_escape(cp) || (!utf8 && cp >= 0x80)) {
            total += emit_escape(cp, fn, user);
            continue;
        }
        w = cp < 0x80 ? 1 : wcwidth((wchar_t)cp);
        if (w < 0) {
            total += emit_escape(cp, fn, user);
            continue;
        }
        if (fn != NULL) {
            rm_glyph_t g = {cp, w > 2 ? 2 : w};

            fn(&g, user);
        }
        total += (size_t)(w > 2 ? 2 : w);
    }
    return total;
}

size_t rm_tui_width(const char *text, int utf8)
{
    return rm_tui_glyphs(text, utf8, NULL, NULL);
}
