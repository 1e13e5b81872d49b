/* SPDX-License-Identifier: MIT */
/*
 * test_pipeline.c - pipelining (pipeline_depth) against real servers:
 * every request gets its own result or error; the manager's option and a
 * node's own setting; a timeout or cancel of a pipelined request answers
 * it at once and never fails another (the two-query race, 300 rounds,
 * both ways); a cancel of a request in the middle of a pipeline; a
 * pipelined BEGIN; several statements in one request; pipelined traffic
 * mixed with streamed statements and checkouts; a killed server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

#define NSERVERS 1
#define MAXQ     512

static localpg_server_t **pg;
static pgcm_manager_t *current; /* the running test's (fixture-tracked) */

static int group_setup(void **state)
{
    (void)state;
    pg = fixture_start(NSERVERS, NULL);
    return 0;
}

static int test_teardown(void **state)
{
    (void)state;
    current = NULL;
    fixture_test_end(pg, NSERVERS);
    return 0;
}

/* One node "p" on server 0: pool min 1, max `max`, its own depth
 * (node_depth) and the manager's (mgr_depth). */
static pgcm_manager_t *start_node(int max, int node_depth, int mgr_depth)
{
    static pgcm_node_spec_t spec;
    fixture_node_spec(pg[0], "p", &spec);
    spec.pool.min = 1;
    spec.pool.max = max;
    spec.pool.pipeline_depth = node_depth;
    pgcm_options_t o;
    pgcm_options_init(&o);
    o.pipeline_depth = mgr_depth;
    current = fixture_manager_start(&o, &spec, 1);
    return current;
}

/* ---- collecting async results ---------------------------------------- */

typedef struct answer {
    int status;
    char sqlstate[6];
    char value[32];
    char message[512];
} answer_t;

typedef struct collector {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    answer_t a[MAXQ];
} collector_t;

typedef struct slot {
    collector_t *col;
    int index;
} slot_t;

static collector_t g_col;
static slot_t g_slots[MAXQ];

static void collector_reset(void)
{
    pthread_mutex_destroy(&g_col.lock);
    pthread_cond_destroy(&g_col.cond);
    memset(&g_col, 0, sizeof(g_col));
    pthread_mutex_init(&g_col.lock, NULL);
    pthread_cond_init(&g_col.cond, NULL);
    for (int i = 0; i < MAXQ; i++) {
        g_slots[i].col = &g_col;
        g_slots[i].index = i;
        g_col.a[i].status = 1; /* not answered */
    }
}

static void on_answer(pgcm_result_t *r, void *user)
{
    slot_t *s = user;
    answer_t *a = &s->col->a[s->index];
    a->status = pgcm_result_status(r);
    snprintf(a->sqlstate, sizeof(a->sqlstate), "%s",
             pgcm_result_error(r)->sqlstate);
    snprintf(a->message, sizeof(a->message), "%s",
             pgcm_result_error(r)->message);
    if (a->status == PGCM_OK && pgcm_result_ntuples(r) > 0)
        snprintf(a->value, sizeof(a->value), "%s", pgcm_result_value(r, 0, 0));
    else if (a->status == PGCM_OK)
        snprintf(a->value, sizeof(a->value), "(no row: %s)",
                 PQcmdStatus((PGresult *)pgcm_result_pg(r)));
    pgcm_result_free(r);
    pthread_mutex_lock(&s->col->lock);
    s->col->done++;
    pthread_cond_broadcast(&s->col->cond);
    pthread_mutex_unlock(&s->col->lock);
}

/* Submit query i: sql with one parameter (its own number) when it has $1. */
static uint64_t submit(int i, const char *sql, int timeout_ms)
{
    char num[16];
    snprintf(num, sizeof(num), "%d", i);
    const char *params[] = {num};
    int np = strstr(sql, "$1") ? 1 : 0;
    pgcm_query_options_t qo = {.timeout_ms = timeout_ms};
    uint64_t id = 0;
    pgcm_error_t err;
    int rc = pgcm_query_async(current, "p", sql, np, np ? params : NULL, &qo,
                              on_answer, &g_slots[i], &id, &err);
    if (rc != PGCM_OK)
        fail_msg("pgcm_query_async: %s", err.message);
    return id;
}

/* Wait until n answers are in (at most 30 s). */
static void wait_answers(int n)
{
    int64_t until = fixture_now_ms() + 30000;
    pthread_mutex_lock(&g_col.lock);
    while (g_col.done < n && fixture_now_ms() < until) {
        pthread_mutex_unlock(&g_col.lock);
        fixture_sleep_ms(2);
        pthread_mutex_lock(&g_col.lock);
    }
    int done = g_col.done;
    pthread_mutex_unlock(&g_col.lock);
    if (done < n)
        fail_msg("only %d of %d requests answered within 30 s", done, n);
}

static pgcm_pool_stats_t stats(void)
{
    pgcm_pool_stats_t st;
    assert_int_equal(pgcm_node_stats(current, "p", &st), PGCM_OK);
    return st;
}

/* ---- results and errors, per request ------------------------------------ */

/* 400 requests at once on a pool of 2 with depth 8: every one gets its own
 * value, every fifth its own error. */
static void test_results_per_request(void **state)
{
    (void)state;
    start_node(2, 8, 0);
    collector_reset();
    enum { N = 400 };
    for (int i = 0; i < N; i++)
        submit(i,
               i % 5 == 4 ? "SELECT 1/($1::int - $1::int)" : "SELECT $1::int",
               0);
    wait_answers(N);
    for (int i = 0; i < N; i++) {
        answer_t *a = &g_col.a[i];
        if (i % 5 == 4) {
            assert_int_equal(a->status, PGCM_ESQL);
            assert_string_equal(a->sqlstate, "22012");
        } else {
            if (a->status != PGCM_OK)
                fail_msg("request %d: %s", i, a->message);
            char want[16];
            snprintf(want, sizeof(want), "%d", i);
            assert_string_equal(a->value, want);
        }
    }
    pgcm_pool_stats_t st = stats();
    assert_true(st.pipelined > 0);
    assert_int_equal(st.queries, N);
    assert_int_equal(st.errors, N / 5);
    assert_true(st.total <= 2);
}

/* The manager's depth applies to nodes that keep 0; -1 turns it off. */
static void test_manager_option_and_node_off(void **state)
{
    (void)state;
    start_node(2, 0, 4);
    collector_reset();
    for (int i = 0; i < 100; i++)
        submit(i, "SELECT $1::int", 0);
    wait_answers(100);
    assert_true(stats().pipelined > 0);
    fixture_manager_free(current);
    current = NULL;

    start_node(2, -1, 4);
    collector_reset();
    for (int i = 0; i < 100; i++)
        submit(i, "SELECT $1::int", 0);
    wait_answers(100);
    for (int i = 0; i < 100; i++)
        assert_int_equal(g_col.a[i].status, PGCM_OK);
    assert_int_equal(stats().pipelined, 0);
}

static void test_bad_depth_rejected(void **state)
{
    (void)state;
    pgcm_options_t o;
    pgcm_options_init(&o);
    o.pipeline_depth = PGCM_PIPELINE_MAX + 1;
    pgcm_manager_t *m = NULL;
    pgcm_error_t err;
    assert_int_equal(pgcm_manager_new(&o, &m, &err), PGCM_EINVAL);
    assert_non_null(strstr(err.message, "pipeline_depth"));
    pgcm_node_spec_t spec;
    fixture_node_spec(pg[0], "p", &spec);
    spec.pool.pipeline_depth = -2;
    current = fixture_manager_new(NULL);
    assert_int_equal(pgcm_node_add(current, &spec, &err), PGCM_EINVAL);
    assert_non_null(strstr(err.message, "pipeline_depth"));
}

/* Several statements in one request: the extended protocol refuses them. */
static void test_one_statement_per_request(void **state)
{
    (void)state;
    start_node(1, 4, 0);
    collector_reset();
    submit(0, "SELECT 1; SELECT 2", 0);
    submit(1, "SELECT $1::int", 0);
    wait_answers(2);
    assert_int_equal(g_col.a[0].status, PGCM_ESQL);
    assert_string_equal(g_col.a[0].sqlstate, "42601");
    assert_int_equal(g_col.a[1].status, PGCM_OK);
    assert_string_equal(g_col.a[1].value, "1");
}

/* ---- timeouts and cancels ------------------------------------------------ */

/* A long statement times out with three requests pipelined behind it on
 * the one connection: it is answered at once, they all succeed. */
static void test_timeout_head(void **state)
{
    (void)state;
    start_node(1, 4, 0);
    collector_reset();
    int64_t t0 = fixture_now_ms();
    submit(0, "SELECT pg_sleep(5)", 200);
    for (int i = 1; i <= 3; i++)
        submit(i, "SELECT $1::int", 0);
    wait_answers(4);
    assert_int_equal(g_col.a[0].status, PGCM_ETIMEDOUT);
    assert_true(fixture_now_ms() - t0 < 4000);
    for (int i = 1; i <= 3; i++) {
        if (g_col.a[i].status != PGCM_OK)
            fail_msg("request %d behind the timed-out one: %s", i,
                     g_col.a[i].message);
    }
    /* and the connection (or its replacement) serves on */
    collector_reset();
    submit(7, "SELECT $1::int", 0);
    wait_answers(1);
    assert_string_equal(g_col.a[7].value, "7");
}

/* pgcm_cancel of a request in the middle of a pipeline: the one ahead of
 * it and the one behind it succeed. */
static void test_cancel_middle(void **state)
{
    (void)state;
    start_node(1, 4, 0);
    collector_reset();
    submit(0, "SELECT pg_sleep(0.3)", 0);
    uint64_t id = submit(1, "SELECT pg_sleep(10)", 0);
    submit(2, "SELECT $1::int", 0);
    fixture_sleep_ms(50);
    int64_t t0 = fixture_now_ms();
    assert_int_equal(pgcm_cancel(current, id), PGCM_OK);
    wait_answers(3);
    assert_int_equal(g_col.a[1].status, PGCM_ECANCELED);
    assert_int_equal(g_col.a[0].status, PGCM_OK);
    assert_int_equal(g_col.a[2].status, PGCM_OK);
    assert_string_equal(g_col.a[2].value, "2");
    assert_true(fixture_now_ms() - t0 < 5000);
    /* the server is not left running the cancelled statement */
    fixture_wait_active(pg[0], "%pg_sleep(10)%", 0, 3000);
}

/* The two-query race through a pipeline: Q1 times out (or is cancelled)
 * just as it ends, Q2 is pipelined right behind it on the same backend.
 * Q2 must always succeed: a cancel that hit it is answered by sending it
 * again, never by failing it. */
static void race(bool cancel_mode)
{
    start_node(1, 4, 0);
    int hits = 0;
    for (int round = 0; round < 300; round++) {
        collector_reset();
        int delay_ms = 5 + round % 10;
        uint64_t id =
            submit(0, "SELECT pg_sleep(0.01)", cancel_mode ? 0 : delay_ms);
        submit(1, "SELECT pg_sleep(0.002), $1::int", 0);
        if (cancel_mode) {
            fixture_sleep_ms(delay_ms);
            pgcm_cancel(current, id);
        }
        wait_answers(2);
        if (g_col.a[1].status != PGCM_OK)
            fail_msg("round %d: the request behind the %s one failed: %s "
                     "(%s)",
                     round, cancel_mode ? "cancelled" : "timed-out",
                     g_col.a[1].message, g_col.a[1].sqlstate);
        hits += g_col.a[0].status != PGCM_OK;
    }
    print_message("race (%s): %d of 300 first queries cut short, %llu "
                  "second ones sent again\n",
                  cancel_mode ? "cancel" : "timeout", hits,
                  (unsigned long long)stats().requeued);
}

static void test_race_timeout(void **state)
{
    (void)state;
    race(false);
}

static void test_race_cancel(void **state)
{
    (void)state;
    race(true);
}

/* ---- transactions, mixed traffic, a killed server ------------------------ */

static void test_pipelined_begin(void **state)
{
    (void)state;
    start_node(1, 4, 0);
    fixture_exec(pg[0],
                 "DROP TABLE IF EXISTS pipe_t; CREATE TABLE pipe_t(x int)");
    collector_reset();
    submit(0, "SELECT pg_sleep(0.2)", 0);
    submit(1, "BEGIN", 0);
    submit(2, "INSERT INTO pipe_t VALUES (1)", 0);
    submit(3, "SELECT $1::int", 0);
    wait_answers(4);
    assert_int_equal(g_col.a[0].status, PGCM_OK);
    assert_int_equal(g_col.a[1].status, PGCM_OK);
    assert_int_equal(g_col.a[2].status, PGCM_ECONN);
    assert_int_equal(g_col.a[3].status, PGCM_ECONN);
    assert_non_null(strstr(g_col.a[2].message, "transaction"));
    char *n = fixture_exec(pg[0], "SELECT count(*) FROM pipe_t");
    assert_string_equal(n, "0");
    free(n);
    collector_reset();
    submit(5, "SELECT $1::int", 0);
    wait_answers(1);
    assert_string_equal(g_col.a[5].value, "5");
}

static int count_rows(const char *node, const PGresult *row, void *user)
{
    (void)node;
    (void)row;
    atomic_fetch_add((atomic_int *)user, 1);
    return 0;
}

/* Pipelined requests with streamed statements and checkouts at the same
 * time: each kind gets what it asked for. */
static void test_mixed_traffic(void **state)
{
    (void)state;
    start_node(3, 8, 0);
    collector_reset();
    enum { N = 300 };
    for (int i = 0; i < N; i++) {
        submit(i, "SELECT $1::int", 0);
        if (i % 50 == 0) {
            atomic_int rows = 0;
            pgcm_query_options_t qo = {.on_row = count_rows, .row_user = &rows};
            pgcm_result_t *r = NULL;
            pgcm_error_t err;
            assert_int_equal(pgcm_query(current, "p",
                                        "SELECT generate_series(1, 1000)", 0,
                                        NULL, &qo, &r, &err),
                             PGCM_OK);
            pgcm_result_free(r);
            assert_int_equal(atomic_load(&rows), 1000);
            pgcm_checkout_t *co = NULL;
            assert_int_equal(pgcm_checkout(current, "p", 5000, &co, &err),
                             PGCM_OK);
            assert_int_equal(pgcm_checkout_query(co, "SELECT 1; SELECT 42", 0,
                                                 NULL, NULL, &r, &err),
                             PGCM_OK);
            assert_string_equal(pgcm_result_value(r, 0, 0), "42");
            pgcm_result_free(r);
            pgcm_checkout_release(co, 0);
        }
    }
    wait_answers(N);
    for (int i = 0; i < N; i++) {
        char want[16];
        snprintf(want, sizeof(want), "%d", i);
        if (g_col.a[i].status != PGCM_OK)
            fail_msg("request %d: %s", i, g_col.a[i].message);
        assert_string_equal(g_col.a[i].value, want);
    }
}

static int node_is(pgcm_node_state_t want)
{
    pgcm_health_t h;
    return pgcm_node_health(current, "p", &h) == PGCM_OK && h.state == want;
}

static int is_unhealthy(void *u)
{
    (void)u;
    return node_is(PGCM_NODE_UNHEALTHY);
}

static int is_healthy(void *u)
{
    (void)u;
    return node_is(PGCM_NODE_HEALTHY);
}

/* The server is killed with pipelines full: every request is answered
 * (with a connection error when it was in flight), the node goes
 * unhealthy, and once the server is back pipelining works again. */
static void test_killed_server(void **state)
{
    (void)state;
    start_node(2, 8, 0);
    collector_reset();
    enum { N = 64 };
    for (int i = 0; i < N; i++)
        submit(i, "SELECT pg_sleep(0.5), $1::int", 0);
    fixture_sleep_ms(100);
    assert_int_equal(localpg_kill(pg[0]), 0);
    wait_answers(N);
    int ok = 0;
    for (int i = 0; i < N; i++) {
        int st = g_col.a[i].status;
        if (st == PGCM_OK)
            ok++;
        else if (st != PGCM_ECONN && st != PGCM_EUNAVAIL)
            fail_msg("request %d: unexpected %s: %s", i, pgcm_err_name(st),
                     g_col.a[i].message);
    }
    assert_true(ok < N);
    assert_true(fixture_wait_for(is_unhealthy, NULL, 10000));
    assert_int_equal(localpg_restart(pg[0]), 0);
    pgcm_node_retry(current, "p");
    assert_true(fixture_wait_for(is_healthy, NULL, 20000));
    collector_reset();
    for (int i = 0; i < 50; i++)
        submit(i, "SELECT $1::int", 0);
    wait_answers(50);
    for (int i = 0; i < 50; i++)
        assert_int_equal(g_col.a[i].status, PGCM_OK);
}

int main(void)
{
    pthread_mutex_init(&g_col.lock, NULL);
    pthread_cond_init(&g_col.cond, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_results_per_request, test_teardown),
        cmocka_unit_test_teardown(test_manager_option_and_node_off,
                                  test_teardown),
        cmocka_unit_test_teardown(test_bad_depth_rejected, test_teardown),
        cmocka_unit_test_teardown(test_one_statement_per_request,
                                  test_teardown),
        cmocka_unit_test_teardown(test_timeout_head, test_teardown),
        cmocka_unit_test_teardown(test_cancel_middle, test_teardown),
        cmocka_unit_test_teardown(test_race_timeout, test_teardown),
        cmocka_unit_test_teardown(test_race_cancel, test_teardown),
        cmocka_unit_test_teardown(test_pipelined_begin, test_teardown),
        cmocka_unit_test_teardown(test_mixed_traffic, test_teardown),
        cmocka_unit_test_teardown(test_killed_server, test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, fixture_group_teardown);
}
