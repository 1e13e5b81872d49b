/* SPDX-License-Identifier: MIT */
/*
 * test_result.c - unit tests for query results and batches
 * (src/pgcm/result.c) without a server: every accessor on a NULL result,
 * on a result with no PGresult (errors), on a PGresult built with libpq's
 * PQmakeEmptyPGresult/PQsetResultAttrs/PQsetvalue (values, NULLs, out of
 * range rows and columns), pgcm__result_error, and the batch accessors on
 * a NULL batch, an empty batch and a mixed one.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

static void test_null_result(void **state)
{
    (void)state;
    const pgcm_result_t *r = NULL;
    assert_string_equal(pgcm_result_node_id(r), "");
    assert_int_equal(pgcm_result_status(r), PGCM_EINVAL);
    assert_null(pgcm_result_error(r));
    assert_int_equal(pgcm_result_elapsed_us(r), 0);
    assert_null(pgcm_result_pg(r));
    assert_int_equal(pgcm_result_ntuples(r), 0);
    assert_int_equal(pgcm_result_nfields(r), 0);
    assert_null(pgcm_result_fname(r, 0));
    assert_null(pgcm_result_value(r, 0, 0));
    assert_int_equal(pgcm_result_isnull(r, 0, 0), 1);
    assert_string_equal(pgcm_result_cmd_status(r), "");
    assert_int_equal(pgcm_result_server_version(r), 0);
    pgcm_result_free(NULL);
}

/* No PGresult: what a failed query gives. */
static void test_result_without_pg(void **state)
{
    (void)state;
    pgcm_result_t *r = pgcm__result_new("n1");
    assert_non_null(r);
    assert_string_equal(pgcm_result_node_id(r), "n1");
    assert_int_equal(pgcm_result_status(r), PGCM_OK);
    const pgcm_error_t *e = pgcm_result_error(r);
    assert_non_null(e);
    assert_int_equal(e->code, PGCM_OK);
    assert_string_equal(e->message, "");
    assert_int_equal(pgcm_result_elapsed_us(r), 0);
    assert_null(pgcm_result_pg(r));
    assert_int_equal(pgcm_result_ntuples(r), 0);
    assert_int_equal(pgcm_result_nfields(r), 0);
    assert_null(pgcm_result_fname(r, 0));
    assert_null(pgcm_result_value(r, 0, 0));
    assert_int_equal(pgcm_result_isnull(r, 0, 0), 1);
    assert_string_equal(pgcm_result_cmd_status(r), "");
    assert_int_equal(pgcm_result_server_version(r), 0);
    pgcm_result_free(r);

    /* a NULL node id becomes "" */
    r = pgcm__result_new(NULL);
    assert_non_null(r);
    assert_string_equal(pgcm_result_node_id(r), "");
    pgcm_result_free(r);
}

static void test_result_error(void **state)
{
    (void)state;
    pgcm_result_t *r = pgcm__result_error("node-b", PGCM_ETIMEDOUT,
                                          "node '%s': query timed out after "
                                          "%d ms",
                                          "node-b", 250);
    assert_non_null(r);
    assert_string_equal(pgcm_result_node_id(r), "node-b");
    assert_int_equal(pgcm_result_status(r), PGCM_ETIMEDOUT);
    const pgcm_error_t *e = pgcm_result_error(r);
    assert_int_equal(e->code, PGCM_ETIMEDOUT);
    assert_string_equal(e->node_id, "node-b");
    assert_string_equal(e->sqlstate, "");
    assert_string_equal(e->message,
                        "node 'node-b': query timed out after 250 ms");
    assert_null(pgcm_result_pg(r));
    assert_null(pgcm_result_value(r, 0, 0));
    pgcm_result_free(r);

    r = pgcm__result_error(NULL, PGCM_ENOENT, "no such node");
    assert_non_null(r);
    assert_string_equal(pgcm_result_node_id(r), "");
    assert_string_equal(pgcm_result_error(r)->node_id, "");
    assert_int_equal(pgcm_result_status(r), PGCM_ENOENT);
    pgcm_result_free(r);

    /* a long node id: whole in the result, cut in the error record */
    char id[100];
    memset(id, 'n', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    r = pgcm__result_error(id, PGCM_ECONN, "%s", "down");
    assert_string_equal(pgcm_result_node_id(r), id);
    assert_int_equal(strlen(pgcm_result_error(r)->node_id), 63);
    pgcm_result_free(r);
}

/* A command result without rows ("SET", "BEGIN"). */
static void test_result_empty_pg(void **state)
{
    (void)state;
    pgcm_result_t *r = pgcm__result_new("n1");
    r->pg = PQmakeEmptyPGresult(NULL, PGRES_COMMAND_OK);
    assert_non_null(r->pg);
    r->elapsed_us = 1234;
    r->server_version = 160002;
    assert_ptr_equal(pgcm_result_pg(r), r->pg);
    assert_int_equal(pgcm_result_ntuples(r), 0);
    assert_int_equal(pgcm_result_nfields(r), 0);
    assert_null(pgcm_result_fname(r, 0));
    assert_null(pgcm_result_value(r, 0, 0));
    assert_int_equal(pgcm_result_isnull(r, 0, 0), 1);
    assert_string_equal(pgcm_result_cmd_status(r), "");
    assert_int_equal(pgcm_result_elapsed_us(r), 1234);
    assert_int_equal(pgcm_result_server_version(r), 160002);
    pgcm_result_free(r); /* frees the PGresult too (ASan checks) */
}

/* Two columns, three rows, one NULL value. */
static PGresult *make_rows(void)
{
    PGresult *pg = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    assert_non_null(pg);
    PGresAttDesc attrs[2];
    memset(attrs, 0, sizeof(attrs));
    attrs[0].name = "node";
    attrs[0].typid = 25; /* text */
    attrs[0].typlen = -1;
    attrs[0].atttypmod = -1;
    attrs[1].name = "lag";
    attrs[1].typid = 20; /* int8 */
    attrs[1].typlen = 8;
    attrs[1].atttypmod = -1;
    assert_int_equal(PQsetResultAttrs(pg, 2, attrs), 1);
    const char *vals[3][2] = {{"a", "0"}, {"b", NULL}, {"", "42"}};
    for (int row = 0; row < 3; row++) {
        for (int col = 0; col < 2; col++) {
            const char *v = vals[row][col];
            assert_int_equal(
                PQsetvalue(pg, row, col, (char *)v, v ? (int)strlen(v) : -1),
                1);
        }
    }
    return pg;
}

static void test_result_rows(void **state)
{
    (void)state;
    pgcm_result_t *r = pgcm__result_new("n1");
    r->pg = make_rows();
    assert_int_equal(pgcm_result_ntuples(r), 3);
    assert_int_equal(pgcm_result_nfields(r), 2);
    assert_string_equal(pgcm_result_fname(r, 0), "node");
    assert_string_equal(pgcm_result_fname(r, 1), "lag");
    assert_null(pgcm_result_fname(r, 2));
    assert_null(pgcm_result_fname(r, -1));

    assert_string_equal(pgcm_result_value(r, 0, 0), "a");
    assert_string_equal(pgcm_result_value(r, 0, 1), "0");
    assert_string_equal(pgcm_result_value(r, 1, 0), "b");
    assert_string_equal(pgcm_result_value(r, 2, 0), "");
    assert_string_equal(pgcm_result_value(r, 2, 1), "42");
    assert_int_equal(pgcm_result_isnull(r, 0, 0), 0);
    assert_int_equal(pgcm_result_isnull(r, 2, 0), 0); /* "" is not NULL */
    assert_int_equal(pgcm_result_isnull(r, 1, 1), 1);
    /* libpq gives "" for a NULL; the accessor passes that on */
    const char *null_value = pgcm_result_value(r, 1, 1);
    assert_non_null(null_value);
    assert_string_equal(null_value, "");

    /* out of range on every side: NULL value, "is NULL" */
    const int bad[][2] = {
        {-1, 0},      {0, -1},           {3, 0}, {0, 2}, {INT_MAX, 0},
        {0, INT_MAX}, {INT_MIN, INT_MIN}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        assert_null(pgcm_result_value(r, bad[i][0], bad[i][1]));
        assert_int_equal(pgcm_result_isnull(r, bad[i][0], bad[i][1]), 1);
    }
    pgcm_result_free(r);
}

static void test_null_batch(void **state)
{
    (void)state;
    assert_int_equal(pgcm_batch_count(NULL), 0);
    assert_null(pgcm_batch_result(NULL, 0));
    assert_int_equal(pgcm_batch_succeeded(NULL), 0);
    assert_int_equal(pgcm_batch_elapsed_us(NULL), 0);
    pgcm_batch_free(NULL);
}

/* A fan-out to no nodes (e.g. HEALTHY when none is). */
static void test_empty_batch(void **state)
{
    (void)state;
    pgcm_batch_t *b = pgcm__calloc(1, sizeof(*b));
    assert_non_null(b);
    b->elapsed_us = 17;
    assert_int_equal(pgcm_batch_count(b), 0);
    assert_null(pgcm_batch_result(b, 0));
    assert_null(pgcm_batch_result(b, 1));
    assert_null(pgcm_batch_result(b, SIZE_MAX));
    assert_int_equal(pgcm_batch_succeeded(b), 0);
    assert_int_equal(pgcm_batch_elapsed_us(b), 17);
    pgcm_batch_free(b);

    /* with an allocated but empty results array */
    b = pgcm__calloc(1, sizeof(*b));
    b->results = pgcm__calloc(4, sizeof(*b->results));
    assert_int_equal(pgcm_batch_count(b), 0);
    assert_null(pgcm_batch_result(b, 0));
    assert_int_equal(pgcm_batch_succeeded(b), 0);
    pgcm_batch_free(b);
}

static void test_mixed_batch(void **state)
{
    (void)state;
    pgcm_batch_t *b = pgcm__calloc(1, sizeof(*b));
    b->count = 4;
    b->results = pgcm__calloc(b->count, sizeof(*b->results));
    b->results[0] = pgcm__result_new("a");
    b->results[0]->pg = make_rows();
    b->results[1] = pgcm__result_error("b", PGCM_ECONN, "down");
    b->results[2] = NULL; /* tolerated: counted as not succeeded */
    b->results[3] = pgcm__result_new("d");
    b->elapsed_us = 999;

    assert_int_equal(pgcm_batch_count(b), 4);
    assert_string_equal(pgcm_result_node_id(pgcm_batch_result(b, 0)), "a");
    assert_int_equal(pgcm_result_ntuples(pgcm_batch_result(b, 0)), 3);
    assert_int_equal(pgcm_result_status(pgcm_batch_result(b, 1)), PGCM_ECONN);
    assert_null(pgcm_batch_result(b, 2));
    assert_string_equal(pgcm_result_node_id(pgcm_batch_result(b, 3)), "d");
    assert_null(pgcm_batch_result(b, 4));
    assert_int_equal(pgcm_batch_succeeded(b), 2);
    assert_int_equal(pgcm_batch_elapsed_us(b), 999);
    pgcm_batch_free(b); /* every result and PGresult freed (ASan) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_result),
        cmocka_unit_test(test_result_without_pg),
        cmocka_unit_test(test_result_error),
        cmocka_unit_test(test_result_empty_pg),
        cmocka_unit_test(test_result_rows),
        cmocka_unit_test(test_null_batch),
        cmocka_unit_test(test_empty_batch),
        cmocka_unit_test(test_mixed_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
