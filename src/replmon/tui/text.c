/* SPDX-License-Identifier: MIT */
/*
 * text.c - the dashboard's glyphs (see text.h): what textwidth.c says a
 * terminal shows of a string (its escapes, its display widths), cut into
 * one glyph per cell, and ASCII-only for a terminal that is not UTF-8.
 */
#include "tui/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textwidth.h"

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

void rm_tui_edit_append(char *buf, size_t size, uint32_t ch)
{
    char enc[4];
    size_t n = rm_tui_utf8_put(ch, enc), len = strlen(buf);

    if (ch < 0x20 || ch == 0x7F || len + n >= size)
        return;
    memcpy(buf + len, enc, n);
    buf[len + n] = '\0';
}

void rm_tui_edit_backspace(char *buf)
{
    size_t len = strlen(buf);

    while (len > 0) {
        len--;
        if (((unsigned char)buf[len] & 0xC0) != 0x80)
            break;
    }
    buf[len] = '\0';
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

size_t rm_tui_glyphs(const char *text, int utf8,
                     void (*fn)(const rm_glyph_t *g, void *user), void *user)
{
    char stack[1024], *shown = stack;
    size_t total = 0, used, need;
    const char *p;
    uint32_t cp;

    if (text == NULL)
        return 0;
    /* The rule of every terminal line (textwidth.c): controls, escapes,
     * bidi overrides and invalid UTF-8 become their escapes. */
    need = rm_text_escape(text, stack, sizeof(stack));
    if (need >= sizeof(stack)) {
        shown = rm_text_escape_dup(text);
        if (shown == NULL)
            return 0;
    }
    for (p = shown; (used = rm_tui_utf8_next(p, &cp)) > 0; p += used) {
        char one[8];
        size_t w;

        if (cp < 0x80) {
            total += emit_ascii((char[]){(char)cp, 0}, fn, user);
            continue;
        }
        if (!utf8) {
            /* The terminal is not UTF-8: beyond ASCII, escapes. */
            snprintf(one, sizeof(one), cp <= 0xFFFF ? "\\u%04x" : "\\U%08x",
                     (unsigned)cp);
            total += emit_ascii(one, fn, user);
            continue;
        }
        memcpy(one, p, used);
        one[used] = '\0';
        w = rm_display_width(one);
        if (fn != NULL) {
            rm_glyph_t g = {cp, w > 2 ? 2 : (int)w};

            fn(&g, user);
        }
        total += w > 2 ? 2 : w;
    }
    if (shown != stack)
        free(shown);
    return total;
}

size_t rm_tui_width(const char *text, int utf8)
{
    return rm_tui_glyphs(text, utf8, NULL, NULL);
}
