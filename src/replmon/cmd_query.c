/* SPDX-License-Identifier: MIT */
/*
 * cmd_query.c - `replmon query SQL [PARAM...]`: one statement on all,
 * healthy or chosen nodes in parallel (pgcm_query_many with rows streamed
 * through on_row into the report printer, so memory stays bounded
 * whatever the size of the result), printed as a table, JSON or CSV with
 * every row tagged with its node and each node's status and time. Exit 0
 * when every node answered, 2 when any failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report_query.h"

#define CMD "query"

static const char query_help[] =
    "Usage: replmon query [OPTIONS] SQL [PARAM...]\n"
    "\n"
    "Run one statement on many nodes at once and print every node's rows,\n"
    "status and time. PARAMs are the text values of $1, $2, ...; put '--'\n"
    "before a parameter that starts with '-'. Rows are printed as they\n"
    "arrive, node after node, in bounded memory.\n"
    "\n"
    "Options:\n"
    "  --healthy              only the nodes that are healthy (or degraded)\n"
    "  --node ID              only this node (repeatable; any node of the\n"
    "                         file, in the order given)\n"
    "  --format table|json|csv  output format (default table); CSV prints\n"
    "                         the rows on stdout and one status line per\n"
    "                         node on stderr\n"
    "  -h, --help             show this help\n"
    "\n" RM_COMMON_HELP "\n"
    "Exit status: 0 every node answered, 2 at least one node failed, 1 the\n"
    "query could not be run, 64 usage error, 78 configuration error.\n";

enum { OPT_FORMAT = RM_OPT_FIRST_COMMAND, OPT_HEALTHY, OPT_NODE };

/* Each row as it arrives (loop thread): to the printer. Non-zero stops
 * the statement (the output failed). */
static int on_row(const char *node_id, const PGresult *row, void *user)
{
    return rm_query_printer_row(user, node_id, row, 0) != 0;
}

/* The nodes in the order the batch will list them (pgcm.h: the target
 * list, else the manager's node order), so that the printer streams the
 * first one's rows at once. For --healthy, the nodes healthy or degraded
 * right now: a node whose state changes meanwhile only moves in the
 * output. A new array of borrowed ids, or NULL when out of memory. */
static const char **print_order(const rm_session_t *s,
                                const pgcm_target_t *target, size_t *count)
{
    const char **ids = calloc(s->count + target->node_count + 1, sizeof(*ids));
    size_t i, n = 0;

    if (ids == NULL)
        return NULL;
    if (target->kind == PGCM_TARGET_LIST) {
        for (i = 0; i < target->node_count; i++)
            ids[n++] = target->node_ids[i];
    } else {
        for (i = 0; i < s->count; i++) {
            pgcm_health_t h;

            if (target->kind == PGCM_TARGET_HEALTHY &&
                (pgcm_node_health(s->mgr, s->specs[i].id, &h) != PGCM_OK ||
                 (h.state != PGCM_NODE_HEALTHY &&
                  h.state != PGCM_NODE_DEGRADED)))
                continue;
            ids[n++] = s->specs[i].id;
        }
    }
    *count = n;
    return ids;
}

int rm_cmd_query(int argc, char **argv)
{
    static const struct option longopts[] = {
        RM_COMMON_LONG_OPTIONS,
        {"format", required_argument, NULL, OPT_FORMAT},
        {"healthy", no_argument, NULL, OPT_HEALTHY},
        {"node", required_argument, NULL, OPT_NODE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    rm_format_t format = RM_FORMAT_TABLE;
    rm_common_t common;
    rm_session_t session;
    const char **node_ids = NULL;
    size_t nnodes = 0, i, failed;
    int healthy = 0, opt, rc, nparams;
    const char *sql;
    const char *const *params;
    pgcm_target_t target;
    pgcm_query_options_t qopts;
    pgcm_batch_t *batch = NULL;
    pgcm_error_t err;
    rm_query_answer_t *answers;
    rm_query_report_t rep;
    rm_query_printer_t *printer;
    const char **order;
    size_t norder = 0;
    int interrupted, output_error;

    rm_common_init(&common);
    rm_getopt_reset();
    node_ids = calloc((size_t)argc + 1, sizeof(*node_ids));
    if (node_ids == NULL) {
        fprintf(stderr, "replmon query: out of memory\n");
        return RM_EXIT_FAILURE;
    }
    while ((opt = getopt_long(argc, argv, RM_COMMON_SHORT, longopts, NULL)) !=
           -1) {
        int handled;

        switch (opt) {
        case 'h':
            fputs(query_help, stdout);
            free(node_ids);
            return RM_EXIT_OK;
        case OPT_FORMAT:
            if (rm_format_parse(optarg, &format) != 0) {
                free(node_ids);
                return rm_usage_error(
                    CMD, "--format '%s' is not table, json or csv", optarg);
            }
            continue;
        case OPT_HEALTHY:
            healthy = 1;
            continue;
        case OPT_NODE:
            if (optarg[0] == '\0') {
                free(node_ids);
                return rm_usage_error(CMD, "--node needs a node id");
            }
            node_ids[nnodes++] = optarg;
            continue;
        case '?':
        case ':':
            free(node_ids);
            return rm_getopt_error(CMD, opt, argv);
        default:
            break;
        }
        handled = rm_common_option(&common, CMD, opt, optarg);
        if (handled <= 0) {
            free(node_ids);
            return RM_EXIT_USAGE;
        }
    }
    if (healthy && nnodes > 0) {
        free(node_ids);
        return rm_usage_error(CMD, "--healthy and --node exclude each other");
    }
    if (optind >= argc) {
        free(node_ids);
        return rm_usage_error(CMD, "the SQL statement is missing");
    }
    sql = argv[optind];
    if (sql[0] == '\0') {
        free(node_ids);
        return rm_usage_error(CMD, "the SQL statement is empty");
    }
    params = (const char *const *)&argv[optind + 1];
    nparams = argc - optind - 1;

    if (rm_common_log_open(&common, CMD, PGCM_LOG_ERROR) != 0) {
        free(node_ids);
        return RM_EXIT_FAILURE;
    }
    rm_stop_handlers_install();
    rc = rm_session_load(&session, &common, CMD);
    if (rc != 0) {
        free(node_ids);
        return rc;
    }
    if (nnodes > 0 &&
        (rc = rm_session_restrict(&session, node_ids, nnodes, CMD)) != 0) {
        free(node_ids);
        rm_session_close(&session);
        return rc;
    }
    if (rm_session_start(&session, (int)common.timeout_ms, CMD) != 0) {
        free(node_ids);
        rm_session_close(&session);
        return RM_EXIT_FAILURE;
    }
    memset(&target, 0, sizeof(target));
    if (nnodes > 0) {
        target.kind = PGCM_TARGET_LIST;
        target.node_ids = node_ids;
        target.node_count = nnodes;
    } else {
        target.kind = healthy ? PGCM_TARGET_HEALTHY : PGCM_TARGET_ALL;
    }
    order = print_order(&session, &target, &norder);
    memset(&rep, 0, sizeof(rep));
    rep.sql = sql;
    rep.params = params;
    rep.nparams = nparams;
    rep.target = nnodes > 0 ? "list" : healthy ? "healthy" : "all";
    printer = order != NULL ? rm_query_printer_new(stdout, stderr, format, &rep,
                                                   order, norder)
                            : NULL;
    free(order);
    if (printer == NULL) {
        free(node_ids);
        rm_session_close(&session);
        fprintf(stderr, "replmon query: out of memory\n");
        return RM_EXIT_FAILURE;
    }
    memset(&qopts, 0, sizeof(qopts));
    qopts.timeout_ms = (int)common.timeout_ms;
    qopts.on_row = on_row;
    qopts.row_user = printer;
    qopts.correlation_id = rm_log_correlation_id();
    rm_log(PGCM_LOG_INFO, "query_started", NULL, qopts.correlation_id,
           json_pack("{s:s,s:i}", "target",
                     nnodes > 0 ? "list"
                     : healthy  ? "healthy"
                                : "all",
                     "params", nparams),
           "fan-out query on %s nodes",
           nnodes > 0 ? "the listed"
           : healthy  ? "the healthy"
                      : "all");
    memset(&err, 0, sizeof(err));
    rc = rm_wait_batch(session.mgr, &target, sql, nparams, params, &qopts,
                       &batch, &err);
    if (rc != PGCM_OK && rc != PGCM_ECANCELED) {
        fprintf(stderr, "replmon query: cannot run the query: %s\n",
                err.message[0] ? err.message : pgcm_strerror(rc));
        rm_query_printer_free(printer);
        free(node_ids);
        rm_session_close(&session);
        return RM_EXIT_FAILURE;
    }
    interrupted = rc == PGCM_ECANCELED;
    if (batch == NULL || pgcm_batch_count(batch) == 0) {
        pgcm_batch_free(batch);
        rm_query_printer_free(printer);
        free(node_ids);
        rm_session_close(&session);
        if (interrupted) {
            fprintf(stderr, "replmon query: interrupted; the query was "
                            "cancelled on every node\n");
            return RM_EXIT_INTERRUPTED;
        }
        fprintf(stderr, "replmon query: no node to run the query on%s\n",
                healthy ? " (none is healthy); check them with 'replmon "
                          "status'"
                        : "");
        return RM_EXIT_PARTIAL;
    }
    answers = calloc(pgcm_batch_count(batch), sizeof(*answers));
    if (answers == NULL) {
        pgcm_batch_free(batch);
        rm_query_printer_free(printer);
        free(node_ids);
        rm_session_close(&session);
        fprintf(stderr, "replmon query: out of memory\n");
        return RM_EXIT_FAILURE;
    }
    for (i = 0; i < pgcm_batch_count(batch); i++) {
        const pgcm_result_t *r = pgcm_batch_result(batch, i);
        const pgcm_error_t *e = pgcm_result_error(r);

        answers[i].node_id = pgcm_result_node_id(r);
        answers[i].status = pgcm_result_status(r);
        answers[i].sqlstate = e != NULL ? e->sqlstate : "";
        answers[i].error = e != NULL ? e->message : "";
        answers[i].elapsed_us = pgcm_result_elapsed_us(r);
        answers[i].server_version = pgcm_result_server_version(r);
        answers[i].res =
            answers[i].status == PGCM_OK ? pgcm_result_pg(r) : NULL;
    }
    rep.elapsed_us = pgcm_batch_elapsed_us(batch);
    rep.answers = answers;
    rep.count = pgcm_batch_count(batch);
    /* Rows already went out as they came: finish the report, also when
     * interrupted, so that a JSON document is always whole. */
    failed = rm_query_printer_finish(printer, &rep);
    output_error = rm_query_printer_error(printer) != NULL;
    if (output_error) {
        fputs("replmon query: ", stderr);
        rm_text_fputs(stderr, rm_query_printer_error(printer));
        fputc('\n', stderr);
    }
    rm_query_printer_free(printer);
    rm_log(PGCM_LOG_INFO, "query_finished", NULL, qopts.correlation_id,
           json_pack("{s:I,s:I,s:f}", "nodes", (json_int_t)rep.count, "failed",
                     (json_int_t)failed, "duration_seconds",
                     (double)rep.elapsed_us / 1e6),
           "%zu nodes answered, %zu failed, in %.1f ms", rep.count, failed,
           (double)rep.elapsed_us / 1000.0);
    free(answers);
    pgcm_batch_free(batch);
    free(node_ids);
    rm_session_close(&session);
    if (interrupted) {
        fflush(stdout);
        fprintf(stderr, "replmon query: interrupted; the query was "
                        "cancelled on every node\n");
        return RM_EXIT_INTERRUPTED;
    }
    if (output_error)
        return RM_EXIT_FAILURE;
    if (fflush(stdout) != 0)
        return RM_EXIT_FAILURE;
    return failed > 0 ? RM_EXIT_PARTIAL : RM_EXIT_OK;
}
