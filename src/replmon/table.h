/* SPDX-License-Identifier: MIT */
/*
 * table.h - the generic text table every replmon report prints: columns
 * with headers, left or right alignment, widths by display width (cells
 * escaped for the terminal, textwidth.h), two spaces between columns, no
 * trailing blanks; and the section printer (a title, then the table
 * indented, or "(none)").
 */
#ifndef REPLMON_TABLE_H
#define REPLMON_TABLE_H

#include <stddef.h>
#include <stdio.h>

typedef struct rm_table rm_table_t;

/* rm_table_new - a table with ncols columns and these headers (copied).
 * Returns NULL when out of memory. */
rm_table_t *rm_table_new(size_t ncols, const char *const *headers);
/* rm_table_align_right - right-align a column (numbers). */
void rm_table_align_right(rm_table_t *t, size_t col);
/* rm_table_new_aligned - rm_table_new with one letter of align a column
 * ('r': right-aligned, any other: left), as many columns as letters. */
rm_table_t *rm_table_new_aligned(const char *const *headers, const char *align);
/* rm_table_add - append a row of ncols cells (copied; NULL prints as "").
 * Cells are printed escaped and sized by display width (textwidth.h).
 * Returns 0 or -1. */
int rm_table_add(rm_table_t *t, const char *const *cells);
size_t rm_table_rows(const rm_table_t *t);
/* rm_table_print - headers, then rows, columns two spaces apart, each line
 * prefixed with indent (may be NULL) and without trailing blanks. */
void rm_table_print(const rm_table_t *t, FILE *out, const char *indent);
void rm_table_free(rm_table_t *t);

/* For a table printed while its rows arrive: widths fixed from a sample
 * (the rows added so far), then each further row printed at them. */

/* rm_table_widths - the widths rm_table_print uses: per column the widest
 * of its header and cells. ncols entries (malloc'd), or NULL. */
size_t *rm_table_widths(const rm_table_t *t);
/* rm_table_print_with - rm_table_print at the given widths. */
void rm_table_print_with(const rm_table_t *t, FILE *out, const char *indent,
                         const size_t *width);
/* rm_table_print_row - one line of ncols cells (NULL: "") at the widths,
 * not kept: a cell wider than its column is cut with a marker
 * (rm_text_put), but a left-aligned last cell is printed whole (nothing
 * follows it to misalign). Returns how many cells were cut. */
size_t rm_table_print_row(const rm_table_t *t, FILE *out, const char *indent,
                          const char *const *cells, const size_t *width);
/* rm_table_clear - drop the rows; headers and alignment stay. */
void rm_table_clear(rm_table_t *t);

/* rm_table_print_section - "TITLE" on its own line, then the table
 * indented by two spaces, or "  (none)" when it has no rows. */
void rm_table_print_section(FILE *out, const char *title, const rm_table_t *t);

#endif /* REPLMON_TABLE_H */
