/* SPDX-License-Identifier: MIT */
/*
 * report_query.c - the fan-out query report: one table of every node's
 * rows (columns merged by name) and a per-node status table, or one JSON
 * document, or CSV rows with per-node status lines apart.
 */
#include "report_query.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pgcm.h"

/* A result column identified by name and by which occurrence of that name
 * it is (so "SELECT 1, 1" keeps both ?column? columns). */
typedef struct colkey {
    const char *name;
    int occurrence;
} colkey_t;

static int column_of(const PGresult *res, const colkey_t *k)
{
    int c, seen = 0;

    for (c = 0; c < PQnfields(res); c++) {
        if (strcmp(PQfname(res, c), k->name) == 0 && seen++ == k->occurrence)
            return c;
    }
    return -1;
}

/* The merged column list of every answer that has columns, in order of
 * first appearance. */
static colkey_t *merge_columns(const rm_query_report_t *rep, size_t *count)
{
    colkey_t *keys = NULL;
    size_t n = 0, cap = 0, a, k;
    int c;

    for (a = 0; a < rep->count; a++) {
        const PGresult *res = rep->answers[a].res;

        if (res == NULL)
            continue;
        for (c = 0; c < PQnfields(res); c++) {
            colkey_t key;
            int d, found = 0;

            key.name = PQfname(res, c);
            key.occurrence = 0;
            for (d = 0; d < c; d++)
                key.occurrence += strcmp(PQfname(res, d), key.name) == 0;
            for (k = 0; k < n && !found; k++)
                found = strcmp(keys[k].name, key.name) == 0 &&
                        keys[k].occurrence == key.occurrence;
            if (found)
                continue;
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                colkey_t *grown = realloc(keys, ncap * sizeof(*grown));

                if (grown == NULL) {
                    free(keys);
                    *count = 0;
                    return NULL;
                }
                keys = grown;
                cap = ncap;
            }
            keys[n++] = key;
        }
    }
    *count = n;
    return keys;
}

static const char *answer_status_text(const rm_query_answer_t *a)
{
    return a->status == PGCM_OK ? "ok" : "error";
}

static void answer_error_text(const rm_query_answer_t *a, char *buf, size_t len)
{
    if (a->status == PGCM_OK) {
        snprintf(buf, len, "%s",
                 a->res != NULL ? PQcmdStatus((PGresult *)a->res) : "");
        return;
    }
    if (a->sqlstate != NULL && a->sqlstate[0] != '\0')
        snprintf(buf, len, "%s (SQLSTATE %s)",
                 a->error != NULL && a->error[0] ? a->error
                                                 : pgcm_strerror(a->status),
                 a->sqlstate);
    else
        snprintf(buf, len, "%s",
                 a->error != NULL && a->error[0] ? a->error
                                                 : pgcm_strerror(a->status));
}

static void print_query_table(FILE *out, const rm_query_report_t *rep)
{
    size_t nkeys = 0, a, k;
    colkey_t *keys = merge_columns(rep, &nkeys);
    size_t failed = 0;
    static const char *sh[] = {"NODE", "STATUS", "ROWS", "TIME", "RESULT"};
    rm_table_t *summary = rm_table_new(5, sh);

    if (nkeys > 0) {
        const char **headers = calloc(nkeys + 1, sizeof(*headers));
        const char **cells = calloc(nkeys + 1, sizeof(*cells));
        rm_table_t *t = NULL;

        if (headers != NULL && cells != NULL) {
            headers[0] = "node";
            for (k = 0; k < nkeys; k++)
                headers[k + 1] = keys[k].name;
            t = rm_table_new(nkeys + 1, headers);
        }
        for (a = 0; t != NULL && a < rep->count; a++) {
            const PGresult *res = rep->answers[a].res;
            int row;

            if (res == NULL)
                continue;
            for (row = 0; row < PQntuples(res); row++) {
                cells[0] = rep->answers[a].node_id;
                for (k = 0; k < nkeys; k++) {
                    int c = column_of(res, &keys[k]);

                    cells[k + 1] = c < 0 || PQgetisnull(res, row, c)
                                       ? ""
                                       : PQgetvalue(res, row, c);
                }
                rm_table_add(t, cells);
            }
        }
        if (t != NULL) {
            rm_table_print(t, out, NULL);
            fprintf(out, "(%zu row%s)\n\n", rm_table_rows(t),
                    rm_table_rows(t) == 1 ? "" : "s");
        }
        rm_table_free(t);
        free(headers);
        free(cells);
    }
    free(keys);
    if (summary == NULL)
        return;
    rm_table_align_right(summary, 2);
    rm_table_align_right(summary, 3);
    for (a = 0; a < rep->count; a++) {
        const rm_query_answer_t *ans = &rep->answers[a];
        char rows[24], time[32], result[600];
        const char *cells[5];

        if (ans->status == PGCM_OK && ans->res != NULL)
            snprintf(rows, sizeof(rows), "%d", PQntuples(ans->res));
        else
            snprintf(rows, sizeof(rows), "-");
        rm_fmt_ms(ans->elapsed_us, time, sizeof(time));
        answer_error_text(ans, result, sizeof(result));
        failed += ans->status != PGCM_OK;
        cells[0] = ans->node_id;
        cells[1] = answer_status_text(ans);
        cells[2] = rows;
        cells[3] = time;
        cells[4] = result;
        rm_table_add(summary, cells);
    }
    rm_table_print(summary, out, NULL);
    rm_table_free(summary);
    fprintf(out, "%zu node%s, %zu ok, %zu failed, %.1f ms\n", rep->count,
            rep->count == 1 ? "" : "s", rep->count - failed, failed,
            (double)rep->elapsed_us / 1000.0);
}

/* A value as JSON according to its column type. */
static json_t *value_json(const PGresult *res, int row, int col)
{
    const char *v;
    Oid type;

    if (PQgetisnull(res, row, col))
        return json_null();
    v = PQgetvalue(res, row, col);
    type = PQftype(res, col);
    switch (type) {
    case 16: /* bool */
        return json_boolean(v[0] == 't');
    case 20: /* int8 */
    case 21: /* int2 */
    case 23: /* int4 */
    case 26: /* oid */
    {
        char *end;
        long long x = strtoll(v, &end, 10);

        return *end == '\0' ? json_integer((json_int_t)x) : json_string(v);
    }
    case 700:   /* float4 */
    case 701: { /* float8 */
        char *end;
        double x = strtod(v, &end);

        if (*end != '\0' || isnan(x) || isinf(x))
            return json_string(v);
        return json_real(x);
    }
    case 114:    /* json */
    case 3802: { /* jsonb */
        json_t *parsed = json_loads(v, JSON_DECODE_ANY, NULL);

        return parsed != NULL ? parsed : json_string(v);
    }
    default:
        return json_string(v);
    }
}

json_t *rm_query_json(const rm_query_report_t *rep)
{
    json_t *doc = json_object(), *params, *nodes;
    size_t a, failed = 0;
    int oom = 0, i;

    if (doc == NULL)
        return NULL;
    rm_json_put(doc, "sql", json_string(rep->sql ? rep->sql : ""), &oom);
    params = json_array();
    for (i = 0; params != NULL && i < rep->nparams; i++)
        rm_json_push(params,
                     rep->params[i] ? json_string(rep->params[i]) : json_null(),
                     &oom);
    rm_json_put(doc, "params", params, &oom);
    rm_json_put(doc, "target", json_string(rep->target ? rep->target : "all"),
                &oom);
    rm_json_put(doc, "elapsed_us", json_integer((json_int_t)rep->elapsed_us),
                &oom);
    nodes = json_array();
    for (a = 0; nodes != NULL && a < rep->count; a++) {
        const rm_query_answer_t *ans = &rep->answers[a];
        json_t *o = json_object(), *cols, *rows, *err;
        const PGresult *res = ans->res;
        int r, c;

        if (o == NULL) {
            oom = 1;
            break;
        }
        failed += ans->status != PGCM_OK;
        rm_json_put(o, "node", json_string(ans->node_id), &oom);
        rm_json_put(o, "status", json_string(answer_status_text(ans)), &oom);
        rm_json_put(o, "elapsed_us", json_integer((json_int_t)ans->elapsed_us),
                    &oom);
        rm_json_put(o, "server_version",
                    ans->server_version > 0 ? json_integer(ans->server_version)
                                            : json_null(),
                    &oom);
        if (ans->status != PGCM_OK || res == NULL) {
            err = json_object();
            if (err != NULL) {
                rm_json_put(err, "code",
                            json_string(pgcm_err_name(ans->status)), &oom);
                rm_json_put(err, "sqlstate", rm_json_text(ans->sqlstate), &oom);
                rm_json_put(err, "message",
                            json_string(ans->error && ans->error[0]
                                            ? ans->error
                                            : pgcm_strerror(ans->status)),
                            &oom);
            }
            rm_json_put(o, "error", err, &oom);
            rm_json_put(o, "command", json_null(), &oom);
            rm_json_put(o, "columns", json_array(), &oom);
            rm_json_put(o, "rows", json_array(), &oom);
            rm_json_push(nodes, o, &oom);
            continue;
        }
        rm_json_put(o, "error", json_null(), &oom);
        rm_json_put(o, "command", json_string(PQcmdStatus((PGresult *)res)),
                    &oom);
        cols = json_array();
        for (c = 0; cols != NULL && c < PQnfields(res); c++) {
            json_t *col = json_object();

            if (col == NULL) {
                oom = 1;
                break;
            }
            rm_json_put(col, "name", json_string(PQfname(res, c)), &oom);
            rm_json_put(col, "type_oid",
                        json_integer((json_int_t)PQftype(res, c)), &oom);
            rm_json_push(cols, col, &oom);
        }
        rm_json_put(o, "columns", cols, &oom);
        rows = json_array();
        for (r = 0; rows != NULL && r < PQntuples(res); r++) {
            json_t *row = json_array();

            if (row == NULL) {
                oom = 1;
                break;
            }
            for (c = 0; c < PQnfields(res); c++)
                rm_json_push(row, value_json(res, r, c), &oom);
            rm_json_push(rows, row, &oom);
        }
        rm_json_put(o, "rows", rows, &oom);
        rm_json_push(nodes, o, &oom);
    }
    rm_json_put(doc, "nodes", nodes, &oom);
    rm_json_put(doc, "succeeded",
                json_integer((json_int_t)(rep->count - failed)), &oom);
    rm_json_put(doc, "failed", json_integer((json_int_t)failed), &oom);
    if (oom) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

static void print_query_csv(FILE *out, FILE *err, const rm_query_report_t *rep)
{
    size_t nkeys = 0, a, k;
    colkey_t *keys = merge_columns(rep, &nkeys);

    fputs("node", out);
    for (k = 0; k < nkeys; k++) {
        fputc(',', out);
        rm_csv_field(out, keys[k].name, 0);
    }
    fputc('\n', out);
    for (a = 0; a < rep->count; a++) {
        const rm_query_answer_t *ans = &rep->answers[a];
        const PGresult *res = ans->res;
        char text[600];
        int row;

        answer_error_text(ans, text, sizeof(text));
        fputs("replmon: node ", err);
        rm_text_fputs(err, ans->node_id);
        fprintf(err, ": %s, %d rows, %.1f ms%s", answer_status_text(ans),
                res != NULL && ans->status == PGCM_OK ? PQntuples(res) : 0,
                (double)ans->elapsed_us / 1000.0, text[0] ? ": " : "");
        rm_text_fputs(err, text);
        fputc('\n', err);
        if (res == NULL || ans->status != PGCM_OK)
            continue;
        for (row = 0; row < PQntuples(res); row++) {
            rm_csv_field(out, ans->node_id, 0);
            for (k = 0; k < nkeys; k++) {
                int c = column_of(res, &keys[k]);

                fputc(',', out);
                if (c >= 0)
                    rm_csv_field(out, PQgetvalue(res, row, c),
                                 PQgetisnull(res, row, c));
            }
            fputc('\n', out);
        }
    }
    free(keys);
}

size_t rm_print_query(FILE *out, FILE *err, rm_format_t format,
                      const rm_query_report_t *rep)
{
    size_t a, failed = 0;

    for (a = 0; a < rep->count; a++)
        failed += rep->answers[a].status != PGCM_OK;
    switch (format) {
    case RM_FORMAT_TABLE:
        print_query_table(out, rep);
        break;
    case RM_FORMAT_CSV:
        print_query_csv(out, err, rep);
        break;
    case RM_FORMAT_JSON: {
        json_t *doc = rm_query_json(rep);

        if (doc == NULL) {
            fprintf(err, "replmon: out of memory while building the JSON "
                         "report\n");
            return rep->count ? rep->count : 1;
        }
        /* Full precision: float columns keep their exact value. */
        rm_print_json(out, doc, 0);
        json_decref(doc);
        break;
    }
    }
    return failed;
}
