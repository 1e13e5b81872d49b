/* SPDX-License-Identifier: MIT */
/*
 * test_replmon_output.c - text tables (alignment, escaping, no trailing
 * blanks), CSV quoting, the query report in its three formats (columns of
 * nodes merged by name, NULL versus empty, typed JSON values, failed nodes
 * reported beside the others) and the status report's JSON schema.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "report_query.h"
#include "report_status.h"
#include "replmon_pgresult.h"

/* Run fn(out) on a memory stream and return what it wrote (malloc'd). */
#define CAPTURE(buf, stmt)                                                     \
    do {                                                                       \
        size_t len_ = 0;                                                       \
        FILE *out = open_memstream(&(buf), &len_);                             \
        stmt;                                                                  \
        fclose(out);                                                           \
    } while (0)

static void test_format_parse(void **state)
{
    rm_format_t f;

    (void)state;
    assert_int_equal(rm_format_parse("table", &f), 0);
    assert_int_equal(f, RM_FORMAT_TABLE);
    assert_int_equal(rm_format_parse("json", &f), 0);
    assert_int_equal(f, RM_FORMAT_JSON);
    assert_int_equal(rm_format_parse("csv", &f), 0);
    assert_int_equal(f, RM_FORMAT_CSV);
    assert_int_equal(rm_format_parse("xml", &f), -1);
    assert_int_equal(rm_format_parse(NULL, &f), -1);
}

static void test_table(void **state)
{
    const char *h[] = {"NAME", "N", "NOTE"};
    const char *r1[] = {"a", "1", "line\nbreak"};
    const char *r2[] = {"caf\xc3\xa9", "100", NULL};
    rm_table_t *t = rm_table_new_aligned(h, "lrl"); /* N right-aligned */
    char *buf = NULL;

    (void)state;
    assert_int_equal(rm_table_add(t, r1), 0);
    assert_int_equal(rm_table_add(t, r2), 0);
    assert_int_equal(rm_table_rows(t), 2);
    CAPTURE(buf, rm_table_print(t, out, "> "));
    /* "café" is 4 columns wide; numbers right-aligned; the newline shown
     * escaped; no trailing blanks after an empty last cell. */
    assert_string_equal(buf, "> NAME    N  NOTE\n"
                             "> a       1  line\\nbreak\n"
                             "> caf\xc3\xa9  100\n");
    free(buf);
    rm_table_free(t);
    assert_int_equal(rm_display_width("caf\xc3\xa9"), 4);
}

static void test_csv_field(void **state)
{
    char *buf = NULL;

    (void)state;
    CAPTURE(buf, {
        rm_csv_field(out, "plain", 0);
        fputc('|', out);
        rm_csv_field(out, NULL, 1);
        fputc('|', out);
        rm_csv_field(out, "", 0);
        fputc('|', out);
        rm_csv_field(out, "a,b", 0);
        fputc('|', out);
        rm_csv_field(out, "say \"hi\"", 0);
        fputc('|', out);
        rm_csv_field(out, "two\nlines", 0);
        fputc('|', out);
        rm_csv_field(out, " pad", 0);
    });
    assert_string_equal(buf, "plain||\"\"|\"a,b\"|\"say \"\"hi\"\"\"|"
                             "\"two\nlines\"|\" pad\"");
    free(buf);
}

/* Two nodes answered with different columns, a third failed. */
static void make_report(rm_query_report_t *rep, rm_query_answer_t *ans,
                        PGresult **r1, PGresult **r2)
{
    static const Oid t1[] = {INT4OID,   TEXTOID,    BOOLOID,
                             FLOAT8OID, NUMERICOID, JSONBOID};
    static const Oid t2[] = {INT4OID, TEXTOID};
    const char *a1[] = {"1", "x,y", "t", "1.5", "2.50", "{\"k\": [1, 2]}"};
    const char *a2[] = {"2", NULL, "f", "NaN", "3", "null"};
    const char *b1[] = {"7", ""};

    *r1 = pgres_new("id,name,ok,f,n,j", t1);
    pgres_row(*r1, a1);
    pgres_row(*r1, a2);
    *r2 = pgres_new("id,extra", t2);
    pgres_row(*r2, b1);
    memset(ans, 0, 3 * sizeof(*ans));
    ans[0].node_id = "alpha";
    ans[0].status = 0;
    ans[0].elapsed_us = 1500;
    ans[0].server_version = 150004;
    ans[0].res = *r1;
    ans[1].node_id = "beta";
    ans[1].status = 0;
    ans[1].elapsed_us = 2500;
    ans[1].res = *r2;
    ans[2].node_id = "gamma";
    ans[2].status = PGCM_ECONN;
    ans[2].sqlstate = "";
    ans[2].error = "node 'gamma' is unhealthy (connection refused)";
    ans[2].elapsed_us = 100;
    memset(rep, 0, sizeof(*rep));
    rep->sql = "SELECT ...";
    rep->target = "all";
    rep->elapsed_us = 2600;
    rep->answers = ans;
    rep->count = 3;
}

static void test_query_table(void **state)
{
    rm_query_report_t rep;
    rm_query_answer_t ans[3];
    PGresult *r1, *r2;
    char *buf = NULL;
    size_t failed = 0;

    (void)state;
    make_report(&rep, ans, &r1, &r2);
    CAPTURE(buf, failed = rm_print_query(out, stderr, RM_FORMAT_TABLE, &rep));
    assert_int_equal(failed, 1);
    /* One table: node first, then the merged columns. */
    assert_non_null(strstr(buf, "node   id  name  ok  f    n     j"));
    assert_non_null(strstr(buf, "alpha  1   x,y   t   1.5  2.50"));
    assert_non_null(strstr(buf, "\nbeta   7\n"));
    assert_non_null(strstr(buf, "(3 rows)"));
    assert_non_null(strstr(buf, "gamma  error"));
    assert_non_null(strstr(buf, "connection refused"));
    assert_non_null(strstr(buf, "3 nodes, 2 ok, 1 failed, 2.6 ms"));
    free(buf);
    PQclear(r1);
    PQclear(r2);
}

static void test_query_csv(void **state)
{
    rm_query_report_t rep;
    rm_query_answer_t ans[3];
    PGresult *r1, *r2;
    char *buf = NULL, *ebuf = NULL;
    size_t elen = 0, failed;
    FILE *errf;

    (void)state;
    make_report(&rep, ans, &r1, &r2);
    errf = open_memstream(&ebuf, &elen);
    CAPTURE(buf, failed = rm_print_query(out, errf, RM_FORMAT_CSV, &rep));
    fclose(errf);
    assert_int_equal(failed, 1);
    assert_string_equal(buf, "node,id,name,ok,f,n,j,extra\n"
                             "alpha,1,\"x,y\",t,1.5,2.50,\"{\"\"k\"\": [1, "
                             "2]}\",\n"
                             "alpha,2,,f,NaN,3,null,\n"
                             "beta,7,,,,,,\"\"\n");
    assert_non_null(strstr(ebuf, "replmon: node alpha: ok, 2 rows"));
    assert_non_null(strstr(ebuf, "replmon: node gamma: error, 0 rows"));
    free(buf);
    free(ebuf);
    PQclear(r1);
    PQclear(r2);
}

/* The JSON document rm_print_query writes, parsed. */
static json_t *query_json(const rm_query_report_t *rep)
{
    char *buf = NULL;
    json_error_t jerr;
    json_t *doc;

    CAPTURE(buf, rm_print_query(out, stderr, RM_FORMAT_JSON, rep));
    doc = json_loads(buf, 0, &jerr);
    if (doc == NULL)
        fail_msg("not JSON (line %d: %s): %s", jerr.line, jerr.text, buf);
    free(buf);
    return doc;
}

static void test_query_json(void **state)
{
    rm_query_report_t rep;
    rm_query_answer_t ans[3];
    PGresult *r1, *r2;
    json_t *doc, *nodes, *a, *row, *g;

    (void)state;
    make_report(&rep, ans, &r1, &r2);
    doc = query_json(&rep);
    assert_int_equal(json_integer_value(json_object_get(doc, "failed")), 1);
    assert_int_equal(json_integer_value(json_object_get(doc, "succeeded")), 2);
    assert_int_equal(json_integer_value(json_object_get(doc, "elapsed_us")),
                     2600);
    nodes = json_object_get(doc, "nodes");
    assert_int_equal(json_array_size(nodes), 3);
    a = json_array_get(nodes, 0);
    assert_string_equal(json_string_value(json_object_get(a, "node")), "alpha");
    assert_string_equal(json_string_value(json_object_get(a, "status")), "ok");
    assert_int_equal(json_array_size(json_object_get(a, "columns")), 6);
    row = json_array_get(json_object_get(a, "rows"), 0);
    assert_true(json_is_integer(json_array_get(row, 0)));
    assert_true(json_is_string(json_array_get(row, 1)));
    assert_true(json_is_true(json_array_get(row, 2)));
    assert_true(fabs(json_real_value(json_array_get(row, 3)) - 1.5) < 1e-12);
    /* numeric keeps its exact text; jsonb is embedded. */
    assert_string_equal(json_string_value(json_array_get(row, 4)), "2.50");
    assert_true(json_is_array(json_object_get(json_array_get(row, 5), "k")));
    row = json_array_get(json_object_get(a, "rows"), 1);
    assert_true(json_is_null(json_array_get(row, 1)));
    assert_string_equal(json_string_value(json_array_get(row, 3)), "NaN");
    g = json_array_get(nodes, 2);
    assert_string_equal(json_string_value(json_object_get(g, "status")),
                        "error");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(g, "error"), "code")),
        "ECONN");
    assert_int_equal(json_array_size(json_object_get(g, "rows")), 0);
    json_decref(doc);
    PQclear(r1);
    PQclear(r2);
}

static void test_query_duplicate_column_names(void **state)
{
    PGresult *r = pgres_new("?column?,?column?", NULL);
    const char *v[] = {"1", "2"};
    rm_query_answer_t ans;
    rm_query_report_t rep;
    char *buf = NULL;

    (void)state;
    pgres_row(r, v);
    memset(&ans, 0, sizeof(ans));
    ans.node_id = "n";
    ans.res = r;
    memset(&rep, 0, sizeof(rep));
    rep.answers = &ans;
    rep.count = 1;
    CAPTURE(buf, rm_print_query(out, stderr, RM_FORMAT_CSV, &rep));
    assert_string_equal(buf, "node,?column?,?column?\nn,1,2\n");
    free(buf);
    PQclear(r);
}

static void test_status_json_schema(void **state)
{
    rm_snapshot_t snap;
    rm_node_t nodes[2];
    rm_eval_t ev;
    rm_thresholds_t t;
    rm_status_context_t ctx;
    rm_status_t st[2] = {RM_STATUS_OK, RM_STATUS_CRITICAL};
    rm_reason_t reason;
    json_t *doc, *n0, *n1;
    char *buf = NULL;
    size_t k;

    (void)state;
    memset(nodes, 0, sizeof(nodes));
    snprintf(nodes[0].id, sizeof(nodes[0].id), "pub");
    nodes[0].reachable = 1;
    nodes[0].have_facts = 1;
    nodes[0].server_version = 150004;
    nodes[0].sql_major = 15;
    snprintf(nodes[0].current_lsn, 24, "0/3000000");
    nodes[0].publications = 1;
    for (k = 0; k < RM_SQL_SECTION_COUNT; k++)
        nodes[0].sections[k].state = RM_SECTION_OK;
    nodes[0].receiver.lag_bytes = RM_NONE;
    snprintf(nodes[1].id, sizeof(nodes[1].id), "gone");
    snprintf(nodes[1].error, sizeof(nodes[1].error), "refused");
    nodes[1].receiver.lag_bytes = RM_NONE;
    snap.nodes = nodes;
    snap.count = 2;
    snap.collected_ms = 1700000000123LL;
    snap.elapsed_us = 1234;
    memset(&reason, 0, sizeof(reason));
    snprintf(reason.node, sizeof(reason.node), "gone");
    reason.status = RM_STATUS_CRITICAL;
    snprintf(reason.message, sizeof(reason.message), "unreachable: refused");
    ev.status = RM_STATUS_CRITICAL;
    ev.node_status = st;
    ev.count = 2;
    ev.reasons = &reason;
    ev.nreasons = 1;
    rm_thresholds_default(&t);
    ctx.cluster = "prod";
    ctx.thresholds = &t;

    doc = rm_status_json(&snap, &ev, &ctx);
    assert_non_null(doc);
    assert_int_equal(json_integer_value(json_object_get(doc, "schema_version")),
                     1);
    assert_string_equal(json_string_value(json_object_get(doc, "status")),
                        "CRITICAL");
    assert_int_equal(json_integer_value(json_object_get(doc, "exit_code")), 2);
    assert_string_equal(json_string_value(json_object_get(doc, "cluster")),
                        "prod");
    assert_string_equal(json_string_value(json_object_get(doc, "collected_at")),
                        "2023-11-14T22:13:20.123Z");
    assert_true(json_is_array(json_object_get(doc, "findings")));
    assert_true(json_is_array(json_object_get(doc, "cross_node_lag")));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(doc, "thresholds"),
                                           "slot_retention_critical_bytes")),
        (json_int_t)5 << 30);
    n0 = json_array_get(json_object_get(doc, "nodes"), 0);
    n1 = json_array_get(json_object_get(doc, "nodes"), 1);
    assert_string_equal(json_string_value(json_object_get(n0, "id")), "pub");
    assert_true(json_is_true(json_object_get(n0, "reachable")));
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(n0, "roles"), 0)),
        "primary");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(n0, "roles"), 1)),
        "publisher");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(n0, "sections"), "slots"),
            "state")),
        "ok");
    assert_true(json_is_array(json_object_get(n0, "slots")));
    assert_true(json_is_array(json_object_get(n0, "subscriptions")));
    assert_true(json_is_array(json_object_get(n0, "standbys")));
    assert_true(json_is_null(json_object_get(n0, "receiver")));
    assert_true(json_is_false(json_object_get(n1, "reachable")));
    assert_string_equal(json_string_value(json_object_get(n1, "error")),
                        "refused");
    assert_string_equal(json_string_value(json_object_get(n1, "status")),
                        "CRITICAL");
    assert_true(json_is_null(json_object_get(n1, "server_version")));
    CAPTURE(buf, assert_int_equal(rm_print_json(out, doc, 15), 0));
    assert_non_null(strstr(buf, "\"elapsed_ms\": 1.234"));
    free(buf);
    json_decref(doc);

    /* The table form names the overall status and every finding. */
    CAPTURE(buf, rm_print_status_table(out, &snap, &ev, &ctx));
    assert_non_null(
        strstr(buf, "replmon status: CRITICAL - cluster prod, 2 nodes"));
    assert_non_null(strstr(buf, "CRITICAL  gone: unreachable: refused"));
    free(buf);
}

/* Wide, combining and escaped cells keep the columns in line. */
static void test_table_display_width(void **state)
{
    const char *h[] = {"NODE", "APP", "N"};
    /* 节点: two wide characters; e + U+0301: one column; an emoji. */
    const char *r1[] = {"\xe8\x8a\x82\xe7\x82\xb9", "e\xcc\x81", "1"};
    const char *r2[] = {"x\xe2\x80\xaey", "\xf0\x9f\x98\x80", "22"};
    const char *r3[] = {"\x1b[31mred", "ok", "333"};
    rm_table_t *t = rm_table_new(3, h);
    char *buf = NULL;

    (void)state;
    rm_table_align_right(t, 2);
    assert_int_equal(rm_table_add(t, r1), 0);
    assert_int_equal(rm_table_add(t, r2), 0);
    assert_int_equal(rm_table_add(t, r3), 0);
    CAPTURE(buf, rm_table_print(t, out, NULL));
    /* NODE is 11 columns wide (\x1b[31mred), APP 3: the right-aligned N
     * column ends in the same column on every line. */
    assert_string_equal(buf,
                        "NODE         APP    N\n"
                        "\xe8\x8a\x82\xe7\x82\xb9         e\xcc\x81      1\n"
                        "x\\u202ey     \xf0\x9f\x98\x80    22\n"
                        "\\x1b[31mred  ok   333\n");
    free(buf);
    rm_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_parse),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_csv_field),
        cmocka_unit_test(test_query_table),
        cmocka_unit_test(test_query_csv),
        cmocka_unit_test(test_query_json),
        cmocka_unit_test(test_query_duplicate_column_names),
        cmocka_unit_test(test_status_json_schema),
        cmocka_unit_test(test_table_display_width),
    };

    rm_text_locale_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
