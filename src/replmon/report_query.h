/* SPDX-License-Identifier: MIT */
/*
 * report_query.h - the report of a fan-out query (table, JSON, CSV),
 * streamed: rows are printed as they arrive, in bounded memory. It takes
 * plain PGresults and talks to no server.
 */
#ifndef REPLMON_REPORT_QUERY_H
#define REPLMON_REPORT_QUERY_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "output.h"

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

/*
 * The printer: rows go out as they arrive, in bounded memory, in the order
 * of the node list given to rm_query_printer_new. The first node's rows
 * are printed at once; each other node's rows wait in a spool
 * (row_spool.h: a small buffer, then an unlinked temporary file in $TMPDIR
 * or /tmp) and are printed after, node by node. Then
 * rm_query_printer_finish prints the per-node statuses and totals.
 *
 * Table: one table of every row with a leading node column (columns of
 * nodes that answered differently merged by name), "(N rows)", then one
 * line per node with its status, row count, time and command tag or
 * error, and a total line. The first RM_QUERY_SAMPLE_ROWS rows (or 4 MiB)
 * are held to size the columns; then the header and those rows are
 * printed and later rows print at once at those widths (the node column
 * fits every node's id). A later value wider than its column widens the
 * column from that row on: no value is ever cut, only the rows after a
 * widening shift. Up to that many rows the table is exactly one sized on
 * every row.
 * CSV: a header "node,<columns>" (columns fixed like the table's) and the
 * rows on out; the per-node status lines on err at the end. JSON: one
 * document written as it goes (see docs/replmon.1).
 *
 * rm_query_printer_row runs on whatever thread delivers the rows (the
 * loop thread, for on_row); nothing else may use the printer meanwhile.
 */
#define RM_QUERY_SAMPLE_ROWS 1000

typedef struct rm_query_printer rm_query_printer_t;

/* rm_query_printer_new - a printer for the report whose sql, params,
 * nparams and target are in head (answers unused; the strings must stay
 * valid), for rows of these nodes printed in this order (ids copied);
 * rows of other nodes are printed after them. NULL when out of memory. */
rm_query_printer_t *rm_query_printer_new(FILE *out, FILE *err,
                                         rm_format_t format,
                                         const rm_query_report_t *head,
                                         const char *const *node_ids,
                                         size_t count);

/* rm_query_printer_row - row `row` of res, from node_id (res may be a
 * single-row result or a whole one). Returns 0, or -1 once the printer
 * failed (a write error on out, or no room to spool): the caller should
 * stop the query; rm_query_printer_error says why. */
int rm_query_printer_row(rm_query_printer_t *p, const char *node_id,
                         const PGresult *res, int row);

/* rm_query_printer_finish - print the rows still waiting, then the
 * statuses and totals of rep (every node's final answer; their res give
 * the columns and command tags, their rows are not read). Returns how many
 * nodes failed. */
size_t rm_query_printer_finish(rm_query_printer_t *p,
                               const rm_query_report_t *rep);

/* rm_query_printer_error - why the printer failed, or NULL. */
const char *rm_query_printer_error(const rm_query_printer_t *p);

void rm_query_printer_free(rm_query_printer_t *p);

/* rm_print_query - the whole report of complete results (the rows in each
 * answer's res) through the printer, nodes in rep's order. Returns how
 * many nodes failed (at least 1 when the output failed, said on err). */
size_t rm_print_query(FILE *out, FILE *err, rm_format_t format,
                      const rm_query_report_t *rep);

#endif /* REPLMON_REPORT_QUERY_H */
