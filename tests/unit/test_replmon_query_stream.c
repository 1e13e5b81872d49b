/* SPDX-License-Identifier: MIT */
/*
 * test_replmon_query_stream.c - the streaming query printer
 * (rm_query_printer_*) fed one-row results as on_row delivers them: rows of
 * nodes interleaved come out grouped in node order, through the spool file
 * past its buffer; the JSON document is whole and valid; the table fixes
 * its widths on the first 1000 rows, widens later without cutting and
 * keeps the node column wide enough for every id; columns that change
 * within a node (several statements) map by name; a write error or a
 * temporary directory that cannot be written stops the printer with the
 * reason.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgcm.h"
#include "replmon_pgresult.h"
#include "report_query.h"

static const Oid types2[] = {INT4OID, TEXTOID};

/* One row as a single-row result (as on_row gets it). */
static int feed(rm_query_printer_t *p, const char *node, const char *names,
                const Oid *types, const char *const *values)
{
    PGresult *r = pgres_new(names, types);
    int rc;

    pgres_row(r, values);
    rc = rm_query_printer_row(p, node, r, 0);
    PQclear(r);
    return rc;
}

static int feed2(rm_query_printer_t *p, const char *node, int id,
                 const char *text)
{
    char num[24];
    const char *v[2] = {num, text};

    snprintf(num, sizeof(num), "%d", id);
    return feed(p, node, "id,name", types2, v);
}

typedef struct run {
    rm_query_answer_t ans[4];
    PGresult *res[4];
    rm_query_report_t rep;
} run_t;

/* Final answers (0 rows, the columns) for nodes ok. */
static void answers(run_t *r, const char *const *ids, size_t n)
{
    size_t i;

    memset(r, 0, sizeof(*r));
    for (i = 0; i < n; i++) {
        r->res[i] = pgres_new("id,name", types2);
        r->ans[i].node_id = ids[i];
        r->ans[i].status = PGCM_OK;
        r->ans[i].sqlstate = "";
        r->ans[i].error = "";
        r->ans[i].elapsed_us = 1000;
        r->ans[i].res = r->res[i];
    }
    r->rep.sql = "SELECT id, name";
    r->rep.target = "all";
    r->rep.answers = r->ans;
    r->rep.count = n;
}

static void answers_free(run_t *r)
{
    size_t i;

    for (i = 0; i < 4; i++)
        PQclear(r->res[i]);
}

static char *run_csv(size_t rows_per_node, const char *const *ids, size_t n,
                     char **err_text)
{
    char *buf = NULL, *ebuf = NULL;
    size_t len = 0, elen = 0, i, k;
    FILE *out = open_memstream(&buf, &len), *err = open_memstream(&ebuf, &elen);
    run_t r;
    rm_query_printer_t *p;

    answers(&r, ids, n);
    p = rm_query_printer_new(out, err, RM_FORMAT_CSV, &r.rep, ids, n);
    assert_non_null(p);
    /* Interleaved, the last node first. */
    for (i = 0; i < rows_per_node; i++) {
        for (k = n; k-- > 0;)
            assert_int_equal(feed2(p, ids[k], (int)i, ids[k]), 0);
    }
    assert_int_equal(rm_query_printer_finish(p, &r.rep), 0);
    assert_null(rm_query_printer_error(p));
    rm_query_printer_free(p);
    answers_free(&r);
    fclose(out);
    fclose(err);
    if (err_text != NULL)
        *err_text = ebuf;
    else
        free(ebuf);
    return buf;
}

static void test_csv_node_order(void **state)
{
    const char *ids[] = {"a", "b", "c"};
    char *err, *csv = run_csv(3, ids, 3, &err);

    (void)state;
    assert_string_equal(csv, "node,id,name\n"
                             "a,0,a\na,1,a\na,2,a\n"
                             "b,0,b\nb,1,b\nb,2,b\n"
                             "c,0,c\nc,1,c\nc,2,c\n");
    assert_non_null(strstr(err, "replmon: node b: ok, 3 rows"));
    free(csv);
    free(err);
}

/* Past the 16 KiB buffers: the waiting nodes' rows go through the file. */
static void test_csv_through_spool_file(void **state)
{
    const char *ids[] = {"a", "b", "c"};
    char *csv = run_csv(3000, ids, 3, NULL), *line = csv;
    int count[3] = {0, 0, 0}, order_ok = 1, last = 0, expect_id = 0;

    (void)state;
    line = strchr(line, '\n') + 1;
    while (*line != '\0') {
        int node = line[0] - 'a', id = atoi(line + 2);

        order_ok &= node >= last;
        if (node != last)
            expect_id = 0;
        order_ok &= id == expect_id++;
        last = node;
        count[node]++;
        line = strchr(line, '\n') + 1;
    }
    assert_true(order_ok);
    assert_int_equal(count[0], 3000);
    assert_int_equal(count[1], 3000);
    assert_int_equal(count[2], 3000);
    free(csv);
}

static void test_spool_dir_unwritable(void **state)
{
    const char *ids[] = {"a", "b"};
    char *buf = NULL;
    size_t len = 0, i;
    FILE *out = open_memstream(&buf, &len);
    run_t r;
    rm_query_printer_t *p;
    int rc = 0;

    (void)state;
    setenv("TMPDIR", "/nonexistent/replmon-test", 1);
    answers(&r, ids, 2);
    p = rm_query_printer_new(out, stderr, RM_FORMAT_CSV, &r.rep, ids, 2);
    for (i = 0; i < 5000 && rc == 0; i++)
        rc = feed2(p, "b", (int)i, "some text to fill the spool");
    unsetenv("TMPDIR");
    assert_int_equal(rc, -1);
    assert_non_null(
        strstr(rm_query_printer_error(p), "cannot keep the rows of node b"));
    assert_non_null(strstr(rm_query_printer_error(p), "set TMPDIR"));
    /* Stopped: later rows are refused. */
    assert_int_equal(feed2(p, "a", 1, "x"), -1);
    rm_query_printer_finish(p, &r.rep);
    rm_query_printer_free(p);
    answers_free(&r);
    fclose(out);
    free(buf);
}

static void test_write_error(void **state)
{
    const char *ids[] = {"a"};
    FILE *full = fopen("/dev/full", "w");
    run_t r;
    rm_query_printer_t *p;
    int rc = 0, i;

    (void)state;
    if (full == NULL)
        skip();
    answers(&r, ids, 1);
    p = rm_query_printer_new(full, stderr, RM_FORMAT_CSV, &r.rep, ids, 1);
    for (i = 0; i < 100000 && rc == 0; i++)
        rc = feed2(p, "a", i, "a row that does not fit on a full device");
    assert_int_equal(rc, -1);
    assert_non_null(strstr(rm_query_printer_error(p), "cannot write"));
    rm_query_printer_free(p);
    answers_free(&r);
    fclose(full);
}

static void test_json_stream(void **state)
{
    const char *ids[] = {"a", "b", "c"};
    char *buf = NULL;
    size_t len = 0, i;
    FILE *out = open_memstream(&buf, &len);
    run_t r;
    rm_query_printer_t *p;
    json_t *doc, *nodes, *row;
    json_error_t jerr;
    const char *params[] = {"p1", NULL};

    (void)state;
    answers(&r, ids, 3);
    r.rep.params = params;
    r.rep.nparams = 2;
    /* c failed before any row. */
    r.ans[2].status = PGCM_ESQL;
    r.ans[2].sqlstate = "22012";
    r.ans[2].error = "division by zero";
    r.ans[2].res = NULL;
    p = rm_query_printer_new(out, stderr, RM_FORMAT_JSON, &r.rep, ids, 3);
    for (i = 0; i < 2000; i++) {
        assert_int_equal(feed2(p, "b", (int)i, "b\x1b\xe2\x80\xae"), 0);
        assert_int_equal(feed2(p, "a", (int)i, i ? "a" : "bad \xff byte"), 0);
    }
    assert_int_equal(rm_query_printer_finish(p, &r.rep), 1);
    rm_query_printer_free(p);
    fclose(out);
    doc = json_loads(buf, 0, &jerr);
    if (doc == NULL)
        fail_msg("not JSON (line %d: %s)", jerr.line, jerr.text);
    assert_string_equal(json_string_value(json_object_get(doc, "sql")),
                        "SELECT id, name");
    assert_true(
        json_is_null(json_array_get(json_object_get(doc, "params"), 1)));
    nodes = json_object_get(doc, "nodes");
    assert_int_equal(json_array_size(nodes), 3);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(nodes, 0), "node")),
        "a");
    assert_int_equal(
        json_array_size(json_object_get(json_array_get(nodes, 0), "rows")),
        2000);
    row = json_array_get(json_object_get(json_array_get(nodes, 0), "rows"), 0);
    assert_int_equal(json_integer_value(json_array_get(row, 0)), 0);
    /* An invalid byte becomes U+FFFD; everything else is exact. */
    assert_string_equal(json_string_value(json_array_get(row, 1)),
                        "bad \xef\xbf\xbd byte");
    row =
        json_array_get(json_object_get(json_array_get(nodes, 1), "rows"), 1999);
    assert_int_equal(json_integer_value(json_array_get(row, 0)), 1999);
    assert_string_equal(json_string_value(json_array_get(row, 1)),
                        "b\x1b\xe2\x80\xae");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_array_get(nodes, 2), "error"), "sqlstate")),
        "22012");
    assert_int_equal(
        json_array_size(json_object_get(json_array_get(nodes, 2), "rows")), 0);
    assert_int_equal(json_integer_value(json_object_get(doc, "succeeded")), 2);
    json_decref(doc);
    answers_free(&r);
    free(buf);
}

/* The line of text that starts with prefix. */
static const char *line_at(const char *text, const char *prefix)
{
    const char *p = text;

    while (p != NULL && strncmp(p, prefix, strlen(prefix)) != 0) {
        p = strchr(p, '\n');
        p = p != NULL ? p + 1 : NULL;
    }
    if (p == NULL)
        fail_msg("no line '%s'", prefix);
    return p;
}

static void test_table_fixed_then_widened(void **state)
{
    const char *ids[] = {"n", "a-much-longer-id"};
    char *buf = NULL, num[24];
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    run_t r;
    rm_query_printer_t *p;
    int i;

    (void)state;
    answers(&r, ids, 2);
    p = rm_query_printer_new(out, stderr, RM_FORMAT_TABLE, &r.rep, ids, 2);
    /* Columns name,id: the first 1000 rows have names of 2 columns. */
    for (i = 0; i < 1200; i++) {
        const char *v[2] = {i == 1100 ? "a wide value" : "xx", num};
        static const Oid t[] = {TEXTOID, INT4OID};

        snprintf(num, sizeof(num), "%d", i);
        assert_int_equal(feed(p, "n", "name,id", t, v), 0);
        if (i < 3)
            assert_int_equal(feed(p, ids[1], "name,id", t, v), 0);
    }
    rm_query_printer_finish(p, &r.rep);
    rm_query_printer_free(p);
    fclose(out);
    /* The node column fits the id printed after the sample. */
    assert_true(strncmp(buf, "node              name  id\n", 27) == 0);
    assert_true(
        strncmp(line_at(buf, "n                 xx    999\n"), "n", 1) == 0);
    /* The wide value widens its column (never cut); rows after follow. */
    line_at(buf, "n                 a wide value  1100\n");
    line_at(buf, "n                 xx            1101\n");
    line_at(buf, "a-much-longer-id  xx            0\n");
    assert_non_null(strstr(buf, "(1203 rows)\n\n"));
    assert_null(strstr(buf, "\xe2\x80\xa6"));
    free(buf);
    answers_free(&r);
}

/* Several statements: the columns change within a node; table and CSV
 * map every row by name. */
static void test_columns_change_within_a_node(void **state)
{
    const char *ids[] = {"n"};
    static const Oid t1[] = {INT4OID};
    static const Oid t2[] = {TEXTOID, INT4OID};
    const char *v1[] = {"1"};
    const char *v2[] = {"p", "2"};
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    run_t r;
    rm_query_printer_t *p;

    (void)state;
    answers(&r, ids, 1);
    PQclear(r.res[0]);
    r.res[0] = pgres_new("y,z", t2);
    r.ans[0].res = r.res[0];
    p = rm_query_printer_new(out, stderr, RM_FORMAT_CSV, &r.rep, ids, 1);
    feed(p, "n", "x", t1, v1);
    feed(p, "n", "y,z", t2, v2);
    rm_query_printer_finish(p, &r.rep);
    rm_query_printer_free(p);
    fclose(out);
    assert_string_equal(buf, "node,y,z,x\nn,,,1\nn,p,2,\n");
    free(buf);
    answers_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_node_order),
        cmocka_unit_test(test_csv_through_spool_file),
        cmocka_unit_test(test_spool_dir_unwritable),
        cmocka_unit_test(test_write_error),
        cmocka_unit_test(test_json_stream),
        cmocka_unit_test(test_table_fixed_then_widened),
        cmocka_unit_test(test_columns_change_within_a_node),
    };

    rm_text_locale_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
