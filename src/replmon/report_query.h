/* SPDX-License-Identifier: MIT */
/*
 * report_query.h - the report of a fan-out query (table, JSON, CSV). It
 * takes plain PGresults and talks to no server.
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

#endif /* REPLMON_REPORT_QUERY_H */
