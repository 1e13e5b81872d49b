/* SPDX-License-Identifier: MIT */
/*
 * output.h - everything replmon prints: aligned text tables, CSV with RFC
 * 4180 quoting, the status report (table and JSON, schema in
 * docs/status-json.md) and the fan-out query report (table, JSON, CSV).
 * Nothing here talks to a server; the query report takes plain PGresults.
 */
#ifndef REPLMON_OUTPUT_H
#define REPLMON_OUTPUT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "collect.h"
#include "evaluate.h"
#include "textwidth.h"

typedef enum rm_format {
    RM_FORMAT_TABLE = 0,
    RM_FORMAT_JSON,
    RM_FORMAT_CSV
} rm_format_t;

/* rm_format_parse - "table", "json" or "csv". Returns 0, or -1. */
int rm_format_parse(const char *text, rm_format_t *out);

/* ---------------------------------------------------------------------- */
/* Text tables                                                            */
/* ---------------------------------------------------------------------- */

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

/* ---------------------------------------------------------------------- */
/* CSV                                                                    */
/* ---------------------------------------------------------------------- */

/* rm_csv_field - write one field: SQL NULL (is_null) as nothing, an empty
 * string as "", and a value with a comma, quote, CR, LF or leading/trailing
 * space quoted with inner quotes doubled (as PostgreSQL's COPY CSV). */
void rm_csv_field(FILE *out, const char *value, int is_null);

/* ---------------------------------------------------------------------- */
/* Status report                                                          */
/* ---------------------------------------------------------------------- */

typedef struct rm_status_context {
    const char *cluster;               /* NULL: none */
    const rm_thresholds_t *thresholds; /* the thresholds used */
} rm_status_context_t;

/* rm_print_status_table - the report for a person: a header line with the
 * overall status, the node table, slots, subscriptions, standbys, the
 * standbys' receivers, the cross-node lag and the findings. */
void rm_print_status_table(FILE *out, const rm_snapshot_t *snap,
                           const rm_eval_t *ev, const rm_status_context_t *ctx);

/* rm_status_json - the report as JSON (schema_version 1, documented in
 * docs/status-json.md). Returns a new reference, or NULL when out of
 * memory. */
json_t *rm_status_json(const rm_snapshot_t *snap, const rm_eval_t *ev,
                       const rm_status_context_t *ctx);

/* rm_print_json - dump with two-space indentation and a final newline;
 * reals with at most `precision` significant digits (0: 17, exact).
 * Returns 0, or -1 on a write error. */
int rm_print_json(FILE *out, const json_t *doc, int precision);

/* ---------------------------------------------------------------------- */
/* Query report                                                           */
/* ---------------------------------------------------------------------- */

/* One node's answer to a fan-out query. */
typedef struct rm_query_answer {
    const char *node_id;
    int status;           /* PGCM_OK or a PGCM_E* code */
    const char *sqlstate; /* "" when none */
    const char *error;    /* message when status != PGCM_OK */
    int64_t elapsed_us;
    int server_version;
    const PGresult *res; /* NULL on error */
} rm_query_answer_t;

typedef struct rm_query_report {
    const char *sql;
    const char *const *params;
    int nparams;
    const char *target; /* "all", "healthy" or "list" */
    int64_t elapsed_us; /* the whole batch */
    const rm_query_answer_t *answers;
    size_t count;
} rm_query_report_t;

/* rm_print_query - print the report in the format. Table: one table of
 * every row with a leading NODE column (columns of nodes that answered
 * differently are merged by name), then one line per node with its status,
 * row count, time and command tag or error. JSON: one object (see
 * docs/replmon.1). CSV: a header "node,<columns>" and the rows on out, the
 * per-node status lines on err. Returns how many nodes failed. */
size_t rm_print_query(FILE *out, FILE *err, rm_format_t format,
                      const rm_query_report_t *rep);

/* rm_query_json - the JSON document of rm_print_query (new reference). */
json_t *rm_query_json(const rm_query_report_t *rep);

#endif /* REPLMON_OUTPUT_H */
