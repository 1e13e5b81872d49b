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
/* rm_table_add - append a row of ncols cells (copied; NULL prints as "").
 * Cells are printed escaped and sized by display width (textwidth.h).
 * Returns 0 or -1. */
int rm_table_add(rm_table_t *t, const char *const *cells);
size_t rm_table_rows(const rm_table_t *t);
/* rm_table_print - headers, then rows, columns two spaces apart, each line
 * prefixed with indent (may be NULL) and without trailing blanks. */
void rm_table_print(const rm_table_t *t, FILE *out, const char *indent);
void rm_table_free(rm_table_t *t);

/* rm_table_print_section - "TITLE" on its own line, then the table
 * indented by two spaces, or "  (none)" when it has no rows. */
void rm_table_print_section(FILE *out, const char *title, const rm_table_t *t);

#endif /* REPLMON_TABLE_H */
