/* SPDX-License-Identifier: MIT */
/*
 * output.h - what replmon's reports share: the output formats, CSV with
 * RFC 4180 quoting, JSON printing, and the small JSON and time helpers of
 * the reports. The pieces of everything replmon prints: terminal-safe text
 * (textwidth.h), the text table (table.h), the status report
 * (report_status.h) and the query report (report_query.h).
 */
#ifndef REPLMON_OUTPUT_H
#define REPLMON_OUTPUT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "table.h"
#include "textwidth.h"

typedef enum rm_format {
    RM_FORMAT_TABLE = 0,
    RM_FORMAT_JSON,
    RM_FORMAT_CSV
} rm_format_t;

/* rm_format_parse - "table", "json" or "csv". Returns 0, or -1. */
int rm_format_parse(const char *text, rm_format_t *out);

/* rm_csv_field - write one field: SQL NULL (is_null) as nothing, an empty
 * string as "", and a value with a comma, quote, CR, LF or leading/trailing
 * space quoted with inner quotes doubled (as PostgreSQL's COPY CSV). */
void rm_csv_field(FILE *out, const char *value, int is_null);

/* rm_print_json - dump with two-space indentation and a final newline;
 * reals with at most `precision` significant digits (0: 17, exact).
 * Returns 0, or -1 on a write error. */
int rm_print_json(FILE *out, const json_t *doc, int precision);

/* Helpers of the reports' JSON builders: rm_json_put/rm_json_push are
 * json_object_set_new/json_array_append_new that set *oom instead of
 * failing silently (a NULL value counts as a failure); rm_json_text is a
 * string, or null for NULL or "". */
void rm_json_put(json_t *obj, const char *key, json_t *value, int *oom);
void rm_json_push(json_t *arr, json_t *value, int *oom);
json_t *rm_json_text(const char *s);
/* rm_json_string - json_string(s), with invalid UTF-8 bytes (possible in
 * SQL_ASCII databases and in arguments) replaced by U+FFFD instead of
 * failing. NULL only when out of memory. */
json_t *rm_json_string(const char *s);

/* rm_fmt_ms - microseconds as "12.3 ms". */
void rm_fmt_ms(int64_t us, char *buf, size_t len);

#endif /* REPLMON_OUTPUT_H */
