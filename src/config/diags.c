/* SPDX-License-Identifier: MIT */
/*
 * diags.c - the list of configuration problems: adding (with a cap on the
 * number of errors kept), sorting into file order, and formatting each as
 * one line "FILE:LINE:COLUMN: KEY: what is wrong; what to do".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

void rm_diags_init(rm_diags_t *d)
{
    memset(d, 0, sizeof(*d));
}

void rm_diags_free(rm_diags_t *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->count; i++) {
        free(d->items[i].file);
        free(d->items[i].key);
        free(d->items[i].message);
    }
    free(d->items);
    memset(d, 0, sizeof(*d));
}

char *rm__vformat_line(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s == NULL)
        return NULL;
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    /* One line per problem: never let a value break it. */
    for (char *p = s; *p; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    }
    return s;
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

int rm__diag_vadd(rm_diags_t *d, rm_diag_severity_t sev, const char *file,
                  int line, int column, const char *key, const char *fmt,
                  va_list ap)
{
    if (d == NULL) {
        return 0;
    }
    if (sev == RM_DIAG_ERROR) {
        d->errors++;
        if (d->errors > RM_DIAGS_MAX_ERRORS + 1)
            return 0;
    } else {
        d->warnings++;
    }
    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        rm_diag_t *items = realloc(d->items, cap * sizeof(*items));
        if (items == NULL)
            return -1;
        d->items = items;
        d->cap = cap;
    }
    rm_diag_t *g = &d->items[d->count];
    memset(g, 0, sizeof(*g));
    g->severity = sev;
    g->line = line;
    g->column = column;
    g->file = dup_or_empty(file);
    if (sev == RM_DIAG_ERROR && d->errors == RM_DIAGS_MAX_ERRORS + 1) {
        /* The one past the cap becomes the note; later ones are dropped. */
        g->key = strdup("");
        g->message = strdup("too many errors; fix the ones above and run "
                            "again to see the rest");
        g->line = 0x7fffffff; /* sorts last; printed without position */
        g->column = 0;
    } else {
        g->key = dup_or_empty(key);
        g->message = rm__vformat_line(fmt, ap);
    }
    if (g->file == NULL || g->key == NULL || g->message == NULL) {
        free(g->file);
        free(g->key);
        free(g->message);
        return -1;
    }
    d->count++;
    return 0;
}

int rm__diag_add(rm_diags_t *d, rm_diag_severity_t sev, const char *file,
                 int line, int column, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = rm__diag_vadd(d, sev, file, line, column, key, fmt, ap);
    va_end(ap);
    return rc;
}

int rm__diags_full(const rm_diags_t *d)
{
    return d == NULL || d->errors >= RM_DIAGS_MAX_ERRORS;
}

static int diag_cmp(const rm_diag_t *a, const rm_diag_t *b)
{
    int c = strcmp(a->file, b->file);
    if (c != 0)
        return c;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    if (a->column != b->column)
        return a->column < b->column ? -1 : 1;
    return 0;
}

void rm__diags_sort(rm_diags_t *d, size_t from)
{
    /* Insertion sort: stable, and lists are short (capped). */
    if (d == NULL)
        return;
    for (size_t i = from + 1; i < d->count; i++) {
        rm_diag_t cur = d->items[i];
        size_t j = i;
        while (j > from && diag_cmp(&d->items[j - 1], &cur) > 0) {
            d->items[j] = d->items[j - 1];
            j--;
        }
        d->items[j] = cur;
    }
}

size_t rm_diag_format(const rm_diag_t *g, char *buf, size_t size)
{
    char pos[64] = "";
    if (g->line > 0 && g->line != 0x7fffffff) {
        if (g->column > 0)
            snprintf(pos, sizeof(pos), ":%d:%d", g->line, g->column);
        else
            snprintf(pos, sizeof(pos), ":%d", g->line);
    }
    const char *key = g->key ? g->key : "";
    int n = snprintf(buf, size, "%s%s: %s%s%s%s", g->file ? g->file : "", pos,
                     g->severity == RM_DIAG_WARNING ? "warning: " : "", key,
                     key[0] ? ": " : "", g->message ? g->message : "");
    return n < 0 ? 0 : (size_t)n;
}

size_t rm_diags_print(const rm_diags_t *d, FILE *out)
{
    if (d == NULL || out == NULL)
        return 0;
    size_t printed = 0;
    for (size_t i = 0; i < d->count; i++) {
        char small[512];
        size_t need = rm_diag_format(&d->items[i], small, sizeof(small));
        if (need < sizeof(small)) {
            fprintf(out, "%s\n", small);
        } else {
            char *big = malloc(need + 1);
            if (big == NULL) {
                fprintf(out, "%s\n", small);
            } else {
                rm_diag_format(&d->items[i], big, need + 1);
                fprintf(out, "%s\n", big);
                free(big);
            }
        }
        printed++;
    }
    return printed;
}
