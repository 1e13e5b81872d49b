/* SPDX-License-Identifier: MIT */
/*
 * table.c - the text table model (headers, alignment, rows of raw cells)
 * and its printer: widths by display width, cells escaped as they are
 * written (textwidth.h), and the section printer.
 */
#include "table.h"

#include <stdlib.h>
#include <string.h>

#include "textwidth.h"

struct rm_table {
    size_t ncols;
    char **headers;
    int *right;
    char **cells; /* rows * ncols */
    size_t rows, cap;
};

/* A raw copy of a cell (NULL: ""); it is escaped when printed. */
static char *cell_dup(const char *v)
{
    return strdup(v != NULL ? v : "");
}

rm_table_t *rm_table_new(size_t ncols, const char *const *headers)
{
    rm_table_t *t = calloc(1, sizeof(*t));
    size_t i;

    if (t == NULL)
        return NULL;
    t->ncols = ncols;
    t->headers = calloc(ncols ? ncols : 1, sizeof(char *));
    t->right = calloc(ncols ? ncols : 1, sizeof(int));
    if (t->headers == NULL || t->right == NULL) {
        rm_table_free(t);
        return NULL;
    }
    for (i = 0; i < ncols; i++) {
        t->headers[i] = cell_dup(headers[i]);
        if (t->headers[i] == NULL) {
            rm_table_free(t);
            return NULL;
        }
    }
    return t;
}

void rm_table_align_right(rm_table_t *t, size_t col)
{
    if (col < t->ncols)
        t->right[col] = 1;
}

rm_table_t *rm_table_new_aligned(const char *const *headers, const char *align)
{
    size_t i, ncols = strlen(align);
    rm_table_t *t = rm_table_new(ncols, headers);

    for (i = 0; t != NULL && i < ncols; i++) {
        if (align[i] == 'r')
            rm_table_align_right(t, i);
    }
    return t;
}

int rm_table_add(rm_table_t *t, const char *const *cells)
{
    size_t i;

    if (t->rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        char **grown =
            realloc(t->cells, cap * (t->ncols ? t->ncols : 1) * sizeof(char *));

        if (grown == NULL)
            return -1;
        t->cells = grown;
        t->cap = cap;
    }
    for (i = 0; i < t->ncols; i++) {
        char *c = cell_dup(cells[i]);

        if (c == NULL) {
            while (i-- > 0)
                free(t->cells[t->rows * t->ncols + i]);
            return -1;
        }
        t->cells[t->rows * t->ncols + i] = c;
    }
    t->rows++;
    return 0;
}

size_t rm_table_rows(const rm_table_t *t)
{
    return t->rows;
}

/* One line at these widths; returns how many cells were cut. */
static size_t print_line(const rm_table_t *t, FILE *out, const char *indent,
                         const char *const *cells, const size_t *width)
{
    size_t i, last = t->ncols, cut = 0;

    /* Trailing empty cells print nothing, so no trailing blanks. */
    while (last > 0 && (cells[last - 1] == NULL || cells[last - 1][0] == '\0'))
        last--;
    fputs(indent ? indent : "", out);
    for (i = 0; i < last; i++) {
        const char *cell = cells[i] != NULL ? cells[i] : "";

        if (i > 0)
            fputs("  ", out);
        if (!t->right[i] && i + 1 == last)
            rm_text_fputs(out, cell);
        else
            cut += (size_t)rm_text_put(out, cell, width[i],
                                       t->right[i] ? RM_ALIGN_RIGHT
                                                   : RM_ALIGN_LEFT);
    }
    fputc('\n', out);
    return cut;
}

size_t *rm_table_widths(const rm_table_t *t)
{
    size_t *width = calloc(t->ncols ? t->ncols : 1, sizeof(size_t));
    size_t r, i;

    if (width == NULL)
        return NULL;
    for (i = 0; i < t->ncols; i++)
        width[i] = rm_display_width(t->headers[i]);
    for (r = 0; r < t->rows; r++) {
        for (i = 0; i < t->ncols; i++) {
            size_t w = rm_display_width(t->cells[r * t->ncols + i]);

            if (w > width[i])
                width[i] = w;
        }
    }
    return width;
}

void rm_table_print_with(const rm_table_t *t, FILE *out, const char *indent,
                         const size_t *width)
{
    size_t r;

    print_line(t, out, indent, (const char *const *)t->headers, width);
    for (r = 0; r < t->rows; r++)
        print_line(t, out, indent, (const char *const *)&t->cells[r * t->ncols],
                   width);
}

void rm_table_print(const rm_table_t *t, FILE *out, const char *indent)
{
    size_t *width = rm_table_widths(t);

    if (width == NULL)
        return;
    rm_table_print_with(t, out, indent, width);
    free(width);
}

size_t rm_table_print_row(const rm_table_t *t, FILE *out, const char *indent,
                          const char *const *cells, const size_t *width)
{
    return print_line(t, out, indent, cells, width);
}

void rm_table_clear(rm_table_t *t)
{
    size_t i;

    for (i = 0; i < t->rows * t->ncols; i++)
        free(t->cells[i]);
    t->rows = 0;
}

void rm_table_free(rm_table_t *t)
{
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; t->headers != NULL && i < t->ncols; i++)
        free(t->headers[i]);
    for (i = 0; i < t->rows * t->ncols; i++)
        free(t->cells[i]);
    free(t->headers);
    free(t->right);
    free(t->cells);
    free(t);
}

void rm_table_print_section(FILE *out, const char *title, const rm_table_t *t)
{
    fprintf(out, "%s\n", title);
    if (rm_table_rows(t) > 0)
        rm_table_print(t, out, "  ");
    else
        fprintf(out, "  (none)\n");
}
