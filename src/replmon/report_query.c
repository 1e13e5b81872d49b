/* SPDX-License-Identifier: MIT */
/*
 * report_query.c - the fan-out query report, streamed (report_query.h).
 *
 * Rows come in as (node, values) in any interleaving. The node printed now
 * (`current`) has its rows consumed at once; every other node's rows, and
 * any change of its columns (a new statement of a multi-statement query),
 * are put in that node's spool and consumed when its turn comes in
 * finish. Consuming is per format: JSON writes the row; table and CSV hold
 * rows in the sample until the columns are fixed (sample full, or the
 * end), then print the sample and every later row at once.
 */
#include "report_query.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pgcm.h"
#include "row_spool.h"

#define SAMPLE_BYTES (4 * 1024 * 1024)

/* Kinds of spool records (the tag is node index * 2 + kind). */
enum { REC_ROW = 0, REC_SHAPE = 1 };

/* A result's columns. */
typedef struct shape {
    int n; /* -1: none yet */
    char **names;
    Oid *types;
} shape_t;

/* A merged column: a name and which occurrence of it in a result (so
 * "SELECT 1, 1" keeps both ?column? columns). */
typedef struct colkey {
    char *name;
    int occurrence;
} colkey_t;

typedef struct node_out {
    char *id;
    const rm_query_answer_t *answer; /* set by finish */
    shape_t in;                      /* columns of the rows arriving */
    shape_t out;                     /* columns of the rows consumed */
    int *field_of_col; /* table/CSV: per fixed column, a field of out, -1 */
    int mapped;        /* field_of_col is up to date */
    size_t dropped;    /* most fields of out not among the fixed columns */
    size_t rows;       /* rows received */
    size_t rows_out;   /* rows consumed */
    rm_row_spool_t spool;
    int opened; /* JSON: the node's object and rows array are open */
} node_out_t;

struct rm_query_printer {
    FILE *out, *err;
    rm_format_t format;
    rm_query_report_t head;
    const rm_query_report_t *rep; /* set by finish */
    node_out_t *nodes;
    size_t nnodes, nodes_cap;
    size_t current; /* node consumed now */
    size_t last;    /* last node looked up */
    rm_spool_file_t *file;
    /* table and CSV */
    rm_row_spool_t sample;
    size_t sample_rows;
    shape_t *sample_shapes; /* the shapes in the sample, for the columns */
    size_t nsample_shapes;
    int fixed, replaying;
    colkey_t *cols;
    size_t ncols, cols_cap;
    rm_table_t *table;
    size_t *width;
    const char **cells; /* ncols + 1 */
    size_t printed_rows;
    /* JSON */
    int json_begun;
    size_t json_nodes;
    /* values of the row being handed in */
    const char **vals;
    int *lens;
    int vals_cap;
    char error[600];
};

/* ---------------------------------------------------------------------- */
/* Small helpers                                                          */
/* ---------------------------------------------------------------------- */

static void shape_clear(shape_t *s)
{
    int i;

    for (i = 0; i < s->n; i++)
        free(s->names[i]);
    free(s->names);
    free(s->types);
    s->names = NULL;
    s->types = NULL;
    s->n = -1;
}

static int shape_set(shape_t *s, int n, const char *const *names,
                     const Oid *types)
{
    int i;

    shape_clear(s);
    s->names = calloc(n > 0 ? (size_t)n : 1, sizeof(*s->names));
    s->types = calloc(n > 0 ? (size_t)n : 1, sizeof(*s->types));
    if (s->names == NULL || s->types == NULL) {
        free(s->names);
        free(s->types);
        s->names = NULL;
        s->types = NULL;
        return -1;
    }
    s->n = n;
    for (i = 0; i < n; i++) {
        s->names[i] = strdup(names[i]);
        s->types[i] = types[i];
        if (s->names[i] == NULL) {
            s->n = i;
            shape_clear(s);
            return -1;
        }
    }
    return 0;
}

static int shape_is(const shape_t *s, const PGresult *res)
{
    int i, n = PQnfields(res);

    if (s->n != n)
        return 0;
    for (i = 0; i < n; i++) {
        if (s->types[i] != PQftype(res, i) ||
            strcmp(s->names[i], PQfname(res, i)) != 0)
            return 0;
    }
    return 1;
}

/* Which occurrence of its name field i of names is. */
static int occurrence_of(char *const *names, int i)
{
    int d, k = 0;

    for (d = 0; d < i; d++)
        k += strcmp(names[d], names[i]) == 0;
    return k;
}

static void set_error(rm_query_printer_t *p, const char *fmt, const char *a,
                      const char *b)
{
    /* The first error is the one to report; a long one may be cut. */
    if (p->error[0] == '\0' &&
        snprintf(p->error, sizeof(p->error), fmt, a, b) < 0)
        p->error[0] = '\0';
}

/* Record a write error on out, once. */
static int check_out(rm_query_printer_t *p)
{
    if (p->error[0] != '\0')
        return -1;
    if (ferror(p->out)) {
        set_error(p, "cannot write the output: %s%s", strerror(errno), "");
        return -1;
    }
    return 0;
}

static int ensure_vals(rm_query_printer_t *p, int n)
{
    if (n <= p->vals_cap)
        return 0;
    {
        const char **v = realloc(p->vals, (size_t)n * sizeof(*v));
        int *l;

        if (v == NULL)
            return -1;
        p->vals = v;
        l = realloc(p->lens, (size_t)n * sizeof(*l));
        if (l == NULL)
            return -1;
        p->lens = l;
        p->vals_cap = n;
    }
    return 0;
}

static size_t node_index(rm_query_printer_t *p, const char *id)
{
    size_t i;

    if (p->last < p->nnodes && strcmp(p->nodes[p->last].id, id) == 0)
        return p->last;
    for (i = 0; i < p->nnodes; i++) {
        if (strcmp(p->nodes[i].id, id) == 0)
            return p->last = i;
    }
    return SIZE_MAX;
}

static size_t add_node(rm_query_printer_t *p, const char *id)
{
    node_out_t *n;

    if (p->nnodes == p->nodes_cap) {
        size_t cap = p->nodes_cap ? p->nodes_cap * 2 : 8;
        node_out_t *grown = realloc(p->nodes, cap * sizeof(*grown));

        if (grown == NULL)
            return SIZE_MAX;
        p->nodes = grown;
        p->nodes_cap = cap;
    }
    n = &p->nodes[p->nnodes];
    memset(n, 0, sizeof(*n));
    n->id = strdup(id);
    if (n->id == NULL)
        return SIZE_MAX;
    n->in.n = -1;
    n->out.n = -1;
    rm_row_spool_init(&n->spool);
    return p->nnodes++;
}

/* ---------------------------------------------------------------------- */
/* Columns of the table and CSV                                           */
/* ---------------------------------------------------------------------- */

static int add_col(rm_query_printer_t *p, const char *name, int occurrence)
{
    size_t k;

    for (k = 0; k < p->ncols; k++) {
        if (p->cols[k].occurrence == occurrence &&
            strcmp(p->cols[k].name, name) == 0)
            return 0;
    }
    if (p->ncols == p->cols_cap) {
        size_t cap = p->cols_cap ? p->cols_cap * 2 : 8;
        colkey_t *grown = realloc(p->cols, cap * sizeof(*grown));

        if (grown == NULL)
            return -1;
        p->cols = grown;
        p->cols_cap = cap;
    }
    p->cols[p->ncols].name = strdup(name);
    if (p->cols[p->ncols].name == NULL)
        return -1;
    p->cols[p->ncols].occurrence = occurrence;
    p->ncols++;
    return 0;
}

static int add_cols_of(rm_query_printer_t *p, int n, char *const *names)
{
    int i;

    for (i = 0; i < n; i++) {
        if (add_col(p, names[i], occurrence_of(names, i)) != 0)
            return -1;
    }
    return 0;
}

/* Map the fixed columns to the fields of node n's current shape. */
static int map_node(rm_query_printer_t *p, node_out_t *n)
{
    size_t k, used = 0;
    int f;

    free(n->field_of_col);
    n->field_of_col = calloc(p->ncols ? p->ncols : 1, sizeof(int));
    if (n->field_of_col == NULL)
        return -1;
    for (k = 0; k < p->ncols; k++) {
        n->field_of_col[k] = -1;
        for (f = 0; f < n->out.n; f++) {
            if (strcmp(n->out.names[f], p->cols[k].name) == 0 &&
                occurrence_of(n->out.names, f) == p->cols[k].occurrence) {
                n->field_of_col[k] = f;
                used++;
                break;
            }
        }
    }
    if (n->out.n > 0 && (size_t)n->out.n - used > n->dropped)
        n->dropped = (size_t)n->out.n - used;
    n->mapped = 1;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* JSON pieces                                                            */
/* ---------------------------------------------------------------------- */

/* A value as JSON according to its column type. */
static json_t *value_json(const char *v, Oid type)
{
    if (v == NULL)
        return json_null();
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

        return *end == '\0' ? json_integer((json_int_t)x) : rm_json_string(v);
    }
    case 700:   /* float4 */
    case 701: { /* float8 */
        char *end;
        double x = strtod(v, &end);

        if (*end != '\0' || isnan(x) || isinf(x))
            return rm_json_string(v);
        return json_real(x);
    }
    case 114:    /* json */
    case 3802: { /* jsonb */
        json_t *parsed = json_loads(v, JSON_DECODE_ANY, NULL);

        return parsed != NULL ? parsed : rm_json_string(v);
    }
    default:
        return rm_json_string(v);
    }
}

/* Write a value compactly (one line); frees it. */
static void put_json(rm_query_printer_t *p, json_t *v)
{
    char *text = v != NULL ? json_dumps(v, JSON_ENCODE_ANY) : NULL;

    json_decref(v);
    if (text == NULL) {
        set_error(p, "out of memory while writing the JSON report%s%s", "", "");
        return;
    }
    fputs(text, p->out);
    free(text);
}

static void put_json_member(rm_query_printer_t *p, const char *indent,
                            const char *key, json_t *v)
{
    fprintf(p->out, ",\n%s\"%s\": ", indent, key);
    put_json(p, v);
}

static void json_begin(rm_query_printer_t *p)
{
    const rm_query_report_t *h = &p->head;
    json_t *params;
    int i, oom = 0;

    if (p->json_begun)
        return;
    p->json_begun = 1;
    params = json_array();
    fputs("{\n  \"sql\": ", p->out);
    put_json(p, rm_json_string(h->sql ? h->sql : ""));
    for (i = 0; params != NULL && i < h->nparams; i++)
        rm_json_push(params,
                     h->params[i] ? rm_json_string(h->params[i]) : json_null(),
                     &oom);
    put_json_member(p, "  ", "params", oom ? NULL : params);
    if (oom)
        json_decref(params);
    put_json_member(p, "  ", "target",
                    json_string(h->target ? h->target : "all"));
    fputs(",\n  \"nodes\": [", p->out);
}

static void json_open_node(rm_query_printer_t *p, node_out_t *n)
{
    if (n->opened)
        return;
    json_begin(p);
    if (p->json_nodes++ > 0)
        fputc(',', p->out);
    fputs("\n    {\n      \"node\": ", p->out);
    put_json(p, rm_json_string(n->id));
    fputs(",\n      \"rows\": [", p->out);
    n->opened = 1;
}

static void json_row(rm_query_printer_t *p, node_out_t *n, int nvals,
                     const char *const *vals)
{
    json_t *row = json_array();
    int i, oom = row == NULL;

    json_open_node(p, n);
    for (i = 0; row != NULL && i < nvals; i++)
        rm_json_push(
            row, value_json(vals[i], i < n->out.n ? n->out.types[i] : 0), &oom);
    fputs(n->rows_out++ > 0 ? ",\n        " : "\n        ", p->out);
    if (oom) {
        json_decref(row);
        row = NULL;
    }
    put_json(p, row);
}

static void json_close_node(rm_query_printer_t *p, node_out_t *n)
{
    const rm_query_answer_t *ans = n->answer;
    const PGresult *res = ans->status == PGCM_OK ? ans->res : NULL;
    json_t *err = json_null(), *cols = json_array();
    int c, oom = 0;

    json_open_node(p, n);
    fputs(n->rows_out > 0 ? "\n      ]" : "]", p->out);
    put_json_member(p, "      ", "status",
                    json_string(ans->status == PGCM_OK ? "ok" : "error"));
    put_json_member(p, "      ", "elapsed_us",
                    json_integer((json_int_t)ans->elapsed_us));
    put_json_member(p, "      ", "server_version",
                    ans->server_version > 0 ? json_integer(ans->server_version)
                                            : json_null());
    if (res == NULL) {
        json_decref(err);
        err = json_object();
        if (err != NULL) {
            rm_json_put(err, "code", json_string(pgcm_err_name(ans->status)),
                        &oom);
            rm_json_put(err, "sqlstate", rm_json_text(ans->sqlstate), &oom);
            rm_json_put(err, "message",
                        rm_json_string(ans->error && ans->error[0]
                                           ? ans->error
                                           : pgcm_strerror(ans->status)),
                        &oom);
        }
    }
    put_json_member(p, "      ", "error", oom ? NULL : err);
    if (oom)
        json_decref(err);
    oom = 0;
    put_json_member(p, "      ", "command",
                    res != NULL ? rm_json_string(PQcmdStatus((PGresult *)res))
                                : json_null());
    for (c = 0; cols != NULL && res != NULL && c < PQnfields(res); c++) {
        json_t *col = json_object();

        if (col == NULL) {
            oom = 1;
            break;
        }
        rm_json_put(col, "name", rm_json_string(PQfname(res, c)), &oom);
        rm_json_put(col, "type_oid", json_integer((json_int_t)PQftype(res, c)),
                    &oom);
        rm_json_push(cols, col, &oom);
    }
    put_json_member(p, "      ", "columns", oom ? NULL : cols);
    if (oom)
        json_decref(cols);
    fputs("\n    }", p->out);
}

static void json_end(rm_query_printer_t *p, const rm_query_report_t *rep,
                     size_t failed)
{
    json_begin(p);
    fputs(p->json_nodes > 0 ? "\n  ]" : "]", p->out);
    put_json_member(p, "  ", "elapsed_us",
                    json_integer((json_int_t)rep->elapsed_us));
    put_json_member(p, "  ", "succeeded",
                    json_integer((json_int_t)(rep->count - failed)));
    put_json_member(p, "  ", "failed", json_integer((json_int_t)failed));
    fputs("\n}\n", p->out);
}

/* ---------------------------------------------------------------------- */
/* Consuming rows in print order                                          */
/* ---------------------------------------------------------------------- */

/* A shape record's values: name, type, name, type, ... */
static int apply_shape(shape_t *s, int nvals, const char *const *vals)
{
    int n = nvals / 2, i, rc;
    const char **names = calloc(n > 0 ? (size_t)n : 1, sizeof(*names));
    Oid *types = calloc(n > 0 ? (size_t)n : 1, sizeof(*types));

    if (names == NULL || types == NULL) {
        free(names);
        free(types);
        return -1;
    }
    for (i = 0; i < n; i++) {
        names[i] = vals[2 * i] != NULL ? vals[2 * i] : "";
        types[i] = vals[2 * i + 1] != NULL
                       ? (Oid)strtoul(vals[2 * i + 1], NULL, 10)
                       : 0;
    }
    rc = shape_set(s, n, names, types);
    free(names);
    free(types);
    return rc;
}

static void oom_error(rm_query_printer_t *p)
{
    set_error(p, "out of memory while printing the rows%s%s", "", "");
}

/* A row of node idx once the columns are fixed: into the table being
 * sized (replaying the sample), or out at once. */
static void emit_fixed_row(rm_query_printer_t *p, size_t idx, int nvals,
                           const char *const *vals)
{
    node_out_t *n = &p->nodes[idx];
    size_t k;

    if (!n->mapped && map_node(p, n) != 0) {
        oom_error(p);
        return;
    }
    n->rows_out++;
    p->printed_rows++;
    if (p->format == RM_FORMAT_CSV) {
        rm_csv_field(p->out, n->id, 0);
        for (k = 0; k < p->ncols; k++) {
            int f = n->field_of_col[k];

            fputc(',', p->out);
            if (f >= 0 && f < nvals)
                rm_csv_field(p->out, vals[f], vals[f] == NULL);
        }
        fputc('\n', p->out);
        return;
    }
    if (p->table == NULL)
        return; /* no columns: no table, only the count */
    p->cells[0] = n->id;
    for (k = 0; k < p->ncols; k++) {
        int f = n->field_of_col[k];

        p->cells[k + 1] = f >= 0 && f < nvals && vals[f] != NULL ? vals[f] : "";
    }
    if (p->replaying) {
        if (rm_table_add(p->table, p->cells) != 0)
            oom_error(p);
        return;
    }
    /* Wider than its column: the column widens from this row on (no
     * value is ever cut; the rows above keep their alignment). */
    for (k = 0; k <= p->ncols; k++) {
        size_t w = rm_display_width(p->cells[k]);

        if (w > p->width[k])
            p->width[k] = w;
    }
    rm_table_print_row(p->table, p->out, NULL, p->cells, p->width);
}

static int add_cols_of_result(rm_query_printer_t *p, const PGresult *res)
{
    int i, n = PQnfields(res), rc = 0;
    char **names = calloc(n > 0 ? (size_t)n : 1, sizeof(*names));

    if (names == NULL)
        return -1;
    for (i = 0; i < n; i++)
        names[i] = PQfname((PGresult *)res, i);
    rc = add_cols_of(p, n, names);
    free(names);
    return rc;
}

/* Fix the columns (the answers', when known, then those of the rows held),
 * then print the header and the rows held. complete: every row is held,
 * so the widths fit them all. */
static void fix_columns(rm_query_printer_t *p, int complete)
{
    size_t a, k;
    uint32_t tag;
    int nvals, rc;
    const char *const *vals;

    p->fixed = 1;
    for (a = 0; p->rep != NULL && a < p->rep->count; a++) {
        if (p->rep->answers[a].res != NULL &&
            add_cols_of_result(p, p->rep->answers[a].res) != 0)
            oom_error(p);
    }
    for (k = 0; k < p->nsample_shapes; k++) {
        if (add_cols_of(p, p->sample_shapes[k].n, p->sample_shapes[k].names) !=
            0)
            oom_error(p);
        shape_clear(&p->sample_shapes[k]);
    }
    free(p->sample_shapes);
    p->sample_shapes = NULL;
    p->nsample_shapes = 0;
    p->cells = calloc(p->ncols + 1, sizeof(*p->cells));
    if (p->cells == NULL) {
        oom_error(p);
        return;
    }
    if (p->format == RM_FORMAT_CSV) {
        fputs("node", p->out);
        for (k = 0; k < p->ncols; k++) {
            fputc(',', p->out);
            rm_csv_field(p->out, p->cols[k].name, 0);
        }
        fputc('\n', p->out);
    } else if (p->ncols > 0) {
        p->cells[0] = "node";
        for (k = 0; k < p->ncols; k++)
            p->cells[k + 1] = p->cols[k].name;
        p->table = rm_table_new(p->ncols + 1, p->cells);
        if (p->table == NULL)
            oom_error(p);
    }
    p->replaying = 1;
    while ((rc = rm_row_spool_get(NULL, &p->sample, &tag, &nvals, &vals)) ==
           1) {
        node_out_t *n = &p->nodes[tag / 2];

        if (tag % 2 == REC_SHAPE) {
            if (apply_shape(&n->out, nvals, vals) != 0)
                oom_error(p);
            n->mapped = 0;
        } else {
            emit_fixed_row(p, tag / 2, nvals, vals);
        }
    }
    p->replaying = 0;
    if (rc < 0)
        oom_error(p);
    rm_row_spool_free(&p->sample);
    if (p->table == NULL)
        return;
    p->width = rm_table_widths(p->table);
    if (p->width == NULL) {
        oom_error(p);
        return;
    }
    /* Rows to come may be of any node: make room for every id. */
    for (k = 0; !complete && k < p->nnodes; k++) {
        size_t w = rm_display_width(p->nodes[k].id);

        if (w > p->width[0])
            p->width[0] = w;
    }
    rm_table_print_with(p->table, p->out, NULL, p->width);
    rm_table_clear(p->table);
}

static int sample_full(const rm_query_printer_t *p)
{
    return p->sample_rows >= RM_QUERY_SAMPLE_ROWS ||
           p->sample.bytes >= SAMPLE_BYTES;
}

static int keep_sample_shape(rm_query_printer_t *p, int nvals,
                             const char *const *vals)
{
    shape_t *grown =
        realloc(p->sample_shapes, (p->nsample_shapes + 1) * sizeof(*grown));

    if (grown == NULL)
        return -1;
    p->sample_shapes = grown;
    grown[p->nsample_shapes].n = -1;
    grown[p->nsample_shapes].names = NULL;
    grown[p->nsample_shapes].types = NULL;
    if (apply_shape(&grown[p->nsample_shapes], nvals, vals) != 0)
        return -1;
    p->nsample_shapes++;
    return 0;
}

/* A record of node idx, in print order. */
static int consume(rm_query_printer_t *p, size_t idx, int kind, int nvals,
                   const char *const *vals, const int *lens)
{
    node_out_t *n = &p->nodes[idx];

    if (p->error[0] != '\0')
        return -1;
    if (p->format == RM_FORMAT_JSON) {
        if (kind == REC_SHAPE) {
            if (apply_shape(&n->out, nvals, vals) != 0)
                oom_error(p);
        } else {
            json_row(p, n, nvals, vals);
        }
        return check_out(p);
    }
    if (!p->fixed) {
        if (rm_row_spool_put(NULL, &p->sample, (uint32_t)(idx * 2 + kind),
                             nvals, vals, lens) != 0 ||
            (kind == REC_SHAPE && keep_sample_shape(p, nvals, vals) != 0)) {
            oom_error(p);
            return -1;
        }
        if (kind == REC_ROW)
            p->sample_rows++;
        if (sample_full(p))
            fix_columns(p, 0);
        return check_out(p);
    }
    if (kind == REC_SHAPE) {
        if (apply_shape(&n->out, nvals, vals) != 0)
            oom_error(p);
        n->mapped = 0;
    } else {
        emit_fixed_row(p, idx, nvals, vals);
    }
    return check_out(p);
}

/* A record of node idx, as it arrives: now, or into the node's spool. */
static int route(rm_query_printer_t *p, size_t idx, int kind, int nvals,
                 const char *const *vals, const int *lens)
{
    node_out_t *n = &p->nodes[idx];

    if (idx == p->current)
        return consume(p, idx, kind, nvals, vals, lens);
    if (rm_row_spool_put(p->file, &n->spool, (uint32_t)(idx * 2 + kind), nvals,
                         vals, lens) != 0) {
        char why[PATH_MAX + 200];

        snprintf(why, sizeof(why), "%s: %s", rm_spool_file_dir(p->file),
                 strerror(errno));
        set_error(p,
                  "cannot keep the rows of node %s until their turn (%s); "
                  "set TMPDIR to a writable directory with room",
                  n->id, why);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Public                                                                 */
/* ---------------------------------------------------------------------- */

rm_query_printer_t *rm_query_printer_new(FILE *out, FILE *err,
                                         rm_format_t format,
                                         const rm_query_report_t *head,
                                         const char *const *node_ids,
                                         size_t count)
{
    rm_query_printer_t *p = calloc(1, sizeof(*p));
    size_t i;

    if (p == NULL)
        return NULL;
    p->out = out;
    p->err = err;
    p->format = format;
    p->head = *head;
    p->head.answers = NULL;
    p->head.count = 0;
    rm_row_spool_init(&p->sample);
    p->file = rm_spool_file_new(NULL);
    if (p->file == NULL) {
        rm_query_printer_free(p);
        return NULL;
    }
    for (i = 0; i < count; i++) {
        if (node_index(p, node_ids[i]) == SIZE_MAX &&
            add_node(p, node_ids[i]) == SIZE_MAX) {
            rm_query_printer_free(p);
            return NULL;
        }
    }
    return p;
}

int rm_query_printer_row(rm_query_printer_t *p, const char *node_id,
                         const PGresult *res, int row)
{
    size_t idx;
    node_out_t *n;
    int nf = PQnfields(res), i;

    if (p->error[0] != '\0')
        return -1;
    idx = node_index(p, node_id);
    if (idx == SIZE_MAX)
        idx = add_node(p, node_id);
    if (idx == SIZE_MAX || ensure_vals(p, 2 * nf) != 0) {
        oom_error(p);
        return -1;
    }
    n = &p->nodes[idx];
    if (!shape_is(&n->in, res)) {
        /* New columns (the first row, or a new statement): they travel
         * with the rows, as a record of names and type numbers. */
        char(*type_text)[16] = calloc(nf > 0 ? (size_t)nf : 1, 16);
        const char **names = calloc(nf > 0 ? (size_t)nf : 1, sizeof(*names));
        Oid *types = calloc(nf > 0 ? (size_t)nf : 1, sizeof(*types));
        int rc = type_text == NULL || names == NULL || types == NULL;

        for (i = 0; !rc && i < nf; i++) {
            names[i] = PQfname((PGresult *)res, i);
            types[i] = PQftype(res, i);
            snprintf(type_text[i], 16, "%u", (unsigned)types[i]);
            p->vals[2 * i] = names[i];
            p->vals[2 * i + 1] = type_text[i];
        }
        rc = rc || shape_set(&n->in, nf, names, types) != 0;
        free(names);
        free(types);
        if (rc) {
            free(type_text);
            oom_error(p);
            return -1;
        }
        rc = route(p, idx, REC_SHAPE, 2 * nf, p->vals, NULL);
        free(type_text);
        if (rc != 0)
            return -1;
        n = &p->nodes[idx];
    }
    for (i = 0; i < nf; i++) {
        p->vals[i] = PQgetisnull(res, row, i) ? NULL : PQgetvalue(res, row, i);
        p->lens[i] = PQgetlength(res, row, i);
    }
    n->rows++;
    return route(p, idx, REC_ROW, nf, p->vals, p->lens);
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

/* Rows of a node as the status lines show them: "-" for a failed node
 * that printed none. */
static void rows_text(const node_out_t *n, char *buf, size_t len)
{
    if (n->answer->status == PGCM_OK || n->rows > 0)
        snprintf(buf, len, "%zu", n->rows);
    else
        snprintf(buf, len, "-");
}

/* One line per node whose columns did not all fit the fixed ones. */
static void print_dropped(rm_query_printer_t *p, FILE *f, const char *lead,
                          const char *where, const char *end)
{
    size_t k;

    for (k = 0; k < p->nnodes; k++) {
        size_t n = p->nodes[k].dropped;

        if (n == 0)
            continue;
        fputs(lead, f);
        rm_text_fputs(f, p->nodes[k].id);
        fprintf(f,
                ": %zu column%s not in %s, whose columns the first %d rows "
                "set; --format json prints every column%s\n",
                n, n == 1 ? "" : "s", where, RM_QUERY_SAMPLE_ROWS, end);
    }
}

static void print_table_tail(rm_query_printer_t *p,
                             const rm_query_report_t *rep, size_t failed)
{
    static const char *sh[] = {"NODE", "STATUS", "ROWS", "TIME", "RESULT"};
    rm_table_t *summary;
    size_t a;

    if (p->ncols > 0) {
        fprintf(p->out, "(%zu row%s)\n", p->printed_rows,
                p->printed_rows == 1 ? "" : "s");
        print_dropped(p, p->out, "(node ", "this table", ")");
        fputc('\n', p->out);
    }
    summary = rm_table_new(5, sh);
    if (summary == NULL) {
        oom_error(p);
        return;
    }
    rm_table_align_right(summary, 2);
    rm_table_align_right(summary, 3);
    for (a = 0; a < rep->count; a++) {
        const rm_query_answer_t *ans = &rep->answers[a];
        const node_out_t *n = &p->nodes[node_index(p, ans->node_id)];
        char rows[24], time[32], result[600];
        const char *cells[5];

        rows_text(n, rows, sizeof(rows));
        rm_fmt_ms(ans->elapsed_us, time, sizeof(time));
        answer_error_text(ans, result, sizeof(result));
        cells[0] = ans->node_id;
        cells[1] = answer_status_text(ans);
        cells[2] = rows;
        cells[3] = time;
        cells[4] = result;
        if (rm_table_add(summary, cells) != 0)
            oom_error(p);
    }
    rm_table_print(summary, p->out, NULL);
    rm_table_free(summary);
    fprintf(p->out, "%zu node%s, %zu ok, %zu failed, %.1f ms\n", rep->count,
            rep->count == 1 ? "" : "s", rep->count - failed, failed,
            (double)rep->elapsed_us / 1000.0);
}

static void print_csv_status(rm_query_printer_t *p,
                             const rm_query_report_t *rep)
{
    size_t a;

    for (a = 0; a < rep->count; a++) {
        const rm_query_answer_t *ans = &rep->answers[a];
        const node_out_t *n = &p->nodes[node_index(p, ans->node_id)];
        char text[600];

        answer_error_text(ans, text, sizeof(text));
        fputs("replmon: node ", p->err);
        rm_text_fputs(p->err, ans->node_id);
        fprintf(p->err, ": %s, %zu rows, %.1f ms%s", answer_status_text(ans),
                n->rows, (double)ans->elapsed_us / 1000.0, text[0] ? ": " : "");
        rm_text_fputs(p->err, text);
        fputc('\n', p->err);
    }
    print_dropped(p, p->err, "replmon: node ", "the CSV header", "");
}

size_t rm_query_printer_finish(rm_query_printer_t *p,
                               const rm_query_report_t *rep)
{
    size_t a, k, failed = 0;

    p->rep = rep;
    for (a = 0; a < rep->count; a++) {
        size_t idx = node_index(p, rep->answers[a].node_id);

        if (idx == SIZE_MAX)
            idx = add_node(p, rep->answers[a].node_id);
        if (idx == SIZE_MAX) {
            oom_error(p);
            return rep->count;
        }
        p->nodes[idx].answer = &rep->answers[a];
        failed += rep->answers[a].status != PGCM_OK;
    }
    /* Every node in print order: the rows it kept, then (JSON) its end. */
    for (k = 0; k < p->nnodes && p->error[0] == '\0'; k++) {
        node_out_t *n = &p->nodes[k];
        uint32_t tag;
        int nvals, rc = 0;
        const char *const *vals;

        if (n->answer == NULL && n->rows == 0)
            continue; /* listed, but not in the batch */
        if (k != p->current) {
            p->current = k;
            while (p->error[0] == '\0' &&
                   (rc = rm_row_spool_get(p->file, &n->spool, &tag, &nvals,
                                          &vals)) == 1)
                consume(p, k, (int)(tag % 2), nvals, vals, NULL);
            if (rc < 0)
                set_error(p, "cannot read back the rows of node %s: %s", n->id,
                          strerror(errno));
            rm_row_spool_free(&n->spool);
        }
        if (p->format == RM_FORMAT_JSON && n->answer != NULL)
            json_close_node(p, n);
        else if (p->format == RM_FORMAT_JSON && n->opened)
            fputs("\n      ]\n    }", p->out); /* rows, but no answer */
    }
    if (p->error[0] != '\0')
        return failed;
    switch (p->format) {
    case RM_FORMAT_TABLE:
        if (!p->fixed)
            fix_columns(p, 1);
        print_table_tail(p, rep, failed);
        break;
    case RM_FORMAT_CSV:
        if (!p->fixed)
            fix_columns(p, 1);
        print_csv_status(p, rep);
        break;
    case RM_FORMAT_JSON:
        json_end(p, rep, failed);
        break;
    }
    fflush(p->out);
    check_out(p);
    return failed;
}

const char *rm_query_printer_error(const rm_query_printer_t *p)
{
    return p->error[0] != '\0' ? p->error : NULL;
}

void rm_query_printer_free(rm_query_printer_t *p)
{
    size_t i;

    if (p == NULL)
        return;
    for (i = 0; i < p->nnodes; i++) {
        free(p->nodes[i].id);
        shape_clear(&p->nodes[i].in);
        shape_clear(&p->nodes[i].out);
        free(p->nodes[i].field_of_col);
        rm_row_spool_free(&p->nodes[i].spool);
    }
    free(p->nodes);
    for (i = 0; i < p->ncols; i++)
        free(p->cols[i].name);
    free(p->cols);
    for (i = 0; i < p->nsample_shapes; i++)
        shape_clear(&p->sample_shapes[i]);
    free(p->sample_shapes);
    rm_row_spool_free(&p->sample);
    rm_table_free(p->table);
    free(p->width);
    free(p->cells);
    free(p->vals);
    free(p->lens);
    rm_spool_file_free(p->file);
    free(p);
}

size_t rm_print_query(FILE *out, FILE *err, rm_format_t format,
                      const rm_query_report_t *rep)
{
    const char **ids = calloc(rep->count ? rep->count : 1, sizeof(*ids));
    rm_query_printer_t *p = NULL;
    size_t a, failed;
    int row;

    for (a = 0; ids != NULL && a < rep->count; a++)
        ids[a] = rep->answers[a].node_id;
    if (ids != NULL)
        p = rm_query_printer_new(out, err, format, rep, ids, rep->count);
    free(ids);
    if (p == NULL) {
        fprintf(err, "replmon: out of memory while printing the report\n");
        return rep->count ? rep->count : 1;
    }
    for (a = 0; a < rep->count; a++) {
        const PGresult *res = rep->answers[a].res;

        for (row = 0; res != NULL && row < PQntuples(res); row++) {
            if (rm_query_printer_row(p, rep->answers[a].node_id, res, row))
                break;
        }
    }
    failed = rm_query_printer_finish(p, rep);
    if (rm_query_printer_error(p) != NULL) {
        fputs("replmon: ", err);
        rm_text_fputs(err, rm_query_printer_error(p));
        fputc('\n', err);
        failed = failed ? failed : 1;
    }
    rm_query_printer_free(p);
    return failed;
}
