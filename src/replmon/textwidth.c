/* SPDX-License-Identifier: MIT */
/*
 * textwidth.c - terminal-safe text: a strict UTF-8 decoder, the escape rule
 * of textwidth.h, display width by wcwidth(), and width-exact padding and
 * truncation. Everything walks a string one unit at a time: a character
 * shown as is, or a character (or invalid byte) shown as its escape.
 */
#include "textwidth.h"

#include <langinfo.h>
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wchar.h>

/* Set by rm_text_locale_init: wcwidth() knows non-ASCII characters. */
static int utf8_locale;

int rm_text_locale_init(void)
{
    const char *set = setlocale(LC_CTYPE, "");
    const char *codeset = set != NULL ? nl_langinfo(CODESET) : "";

    if (set == NULL || (strcasecmp(codeset, "UTF-8") != 0 &&
                        strcasecmp(codeset, "utf8") != 0)) {
        if (setlocale(LC_CTYPE, "C.UTF-8") == NULL) {
            setlocale(LC_CTYPE, "C");
            utf8_locale = 0;
            return 0;
        }
    }
    utf8_locale = 1;
    return 1;
}

#define INVALID_BYTE UINT32_MAX

/* Decode one UTF-8 character at s (not at its end). Returns its byte
 * length; *cp is the code point, or INVALID_BYTE for a byte that does not
 * start a well-formed sequence (overlong forms, surrogates and values
 * above U+10FFFF included); that byte is then a unit of its own. */
static size_t decode(const unsigned char *s, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len, i;
    uint32_t v, min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        *cp = INVALID_BYTE;
        return 1;
    }
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = INVALID_BYTE;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = INVALID_BYTE;
        return 1;
    }
    *cp = v;
    return len;
}

static int is_bidi_control(uint32_t cp)
{
    return cp == 0x061C || cp == 0x200E || cp == 0x200F ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

/* One unit of output. */
typedef struct unit {
    size_t len;      /* bytes of the input */
    size_t width;    /* columns shown */
    char escape[12]; /* the escape shown instead, "" when shown as is */
} unit_t;

/* The unit at s (not at its end). */
static void next_unit(const char *s, unit_t *u)
{
    uint32_t cp;
    int w;

    u->len = decode((const unsigned char *)s, &cp);
    u->escape[0] = '\0';
    if (cp >= 0x20 && cp < 0x7F) {
        u->width = 1;
        return;
    }
    if (cp == INVALID_BYTE || cp < 0x20 || cp == 0x7F) {
        unsigned char b = (unsigned char)s[0];

        if (b == '\n')
            memcpy(u->escape, "\\n", 3);
        else if (b == '\t')
            memcpy(u->escape, "\\t", 3);
        else if (b == '\r')
            memcpy(u->escape, "\\r", 3);
        else
            snprintf(u->escape, sizeof(u->escape), "\\x%02x", b);
    } else {
        w = (cp >= 0x80 && cp < 0xA0) || is_bidi_control(cp) || !utf8_locale
                ? -1
                : wcwidth((wchar_t)cp);
        if (w >= 0) {
            u->width = (size_t)w;
            return;
        }
        if (cp <= 0xFFFF)
            snprintf(u->escape, sizeof(u->escape), "\\u%04x", (unsigned)cp);
        else
            snprintf(u->escape, sizeof(u->escape), "\\U%08x", (unsigned)cp);
    }
    u->width = strlen(u->escape);
}

size_t rm_display_width(const char *s)
{
    size_t w = 0;
    unit_t u;

    if (s == NULL)
        return 0;
    for (; *s != '\0'; s += u.len) {
        next_unit(s, &u);
        w += u.width;
    }
    return w;
}

size_t rm_text_escape(const char *s, char *out, size_t size)
{
    size_t need = 0, used = 0;
    int full = 0;
    unit_t u;

    for (; s != NULL && *s != '\0'; s += u.len) {
        const char *text = s;
        size_t n;

        next_unit(s, &u);
        n = u.len;
        if (u.escape[0] != '\0') {
            text = u.escape;
            n = strlen(u.escape);
        }
        if (!full && used + n < size) {
            memcpy(out + used, text, n);
            used += n;
        } else {
            full = 1;
        }
        need += n;
    }
    if (size > 0)
        out[used] = '\0';
    return need;
}

char *rm_text_escape_dup(const char *s)
{
    size_t need = rm_text_escape(s, NULL, 0);
    char *out = malloc(need + 1);

    if (out != NULL)
        rm_text_escape(s, out, need + 1);
    return out;
}

/* Write the first n bytes of s escaped. */
static void put_escaped(FILE *out, const char *s, size_t n)
{
    const char *end = s + n;
    unit_t u;

    while (s < end && *s != '\0') {
        next_unit(s, &u);
        if (u.escape[0] != '\0')
            fputs(u.escape, out);
        else
            fwrite(s, 1, u.len, out);
        s += u.len;
    }
}

void rm_text_fputs(FILE *out, const char *s)
{
    if (s != NULL)
        put_escaped(out, s, strlen(s));
}

size_t rm_text_fit(const char *s, size_t max_width, size_t *width)
{
    size_t w = 0, len = 0;
    unit_t u;

    if (s != NULL) {
        while (s[len] != '\0') {
            next_unit(s + len, &u);
            if (w + u.width > max_width)
                break;
            w += u.width;
            len += u.len;
        }
    }
    if (width != NULL)
        *width = w;
    return len;
}

static void spaces(FILE *out, size_t n)
{
    while (n-- > 0)
        fputc(' ', out);
}

int rm_text_put(FILE *out, const char *s, size_t width, rm_align_t align)
{
    size_t w = rm_display_width(s), fitted, len;
    const char *marker = utf8_locale ? "\xe2\x80\xa6" : "~";

    if (w <= width) {
        if (align == RM_ALIGN_RIGHT)
            spaces(out, width - w);
        rm_text_fputs(out, s);
        if (align == RM_ALIGN_LEFT)
            spaces(out, width - w);
        return 0;
    }
    if (width == 0)
        return 1;
    len = rm_text_fit(s, width - 1, &fitted);
    put_escaped(out, s, len);
    fputs(marker, out);
    spaces(out, width - 1 - fitted);
    return 1;
}

char *rm_utf8_repair(const char *s)
{
    size_t len = 0, i = 0;
    const char *p;
    char *out;
    uint32_t cp;

    for (p = s; *p != '\0';) {
        size_t n = decode((const unsigned char *)p, &cp);

        len += cp == INVALID_BYTE ? 3 : n;
        p += n;
    }
    out = malloc(len + 1);
    if (out == NULL)
        return NULL;
    for (p = s; *p != '\0';) {
        size_t n = decode((const unsigned char *)p, &cp);

        if (cp == INVALID_BYTE) {
            memcpy(out + i, "\xef\xbf\xbd", 3);
            i += 3;
        } else {
            memcpy(out + i, p, n);
            i += n;
        }
        p += n;
    }
    out[i] = '\0';
    return out;
}
