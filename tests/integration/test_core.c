/* SPDX-License-Identifier: MIT */
/*
 * test_core.c - libpgcm's core against three real PostgreSQL servers: pools,
 * parameterized queries, timeouts cancelled on the server, fan-out with
 * partial failure and cancel, runtime add/remove, shutdown with work in
 * flight, threads, waiters in order and acquire timeouts, checkout, events,
 * and every bad input. After each test the servers show none of our
 * connections.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

#define NSERVERS 3

static localpg_server_t **pg;
static pgcm_node_spec_t specs[NSERVERS];
static const char *const ids[NSERVERS] = {"alpha", "beta", "gamma"};

static int group_setup(void **state)
{
    (void)state;
    pg = fixture_start_nodes(NSERVERS, NULL, ids, specs);
    return 0;
}

/* Every test ends here: none of our connections may remain. */
static int test_teardown(void **state)
{
    (void)state;
    fixture_test_end(pg, NSERVERS);
    return 0;
}

static pgcm_manager_t *start_manager(const pgcm_options_t *opts, int nodes)
{
    pgcm_manager_t *mgr = fixture_manager_start(opts, specs, (size_t)nodes);
    for (int i = 0; i < nodes; i++) {
        pgcm_health_t h;
        assert_int_equal(pgcm_node_health(mgr, ids[i], &h), PGCM_OK);
        assert_int_equal(h.state, PGCM_NODE_HEALTHY);
    }
    return mgr;
}

/* SELECT 1 on node id answers. */
static void expect_select_1(pgcm_manager_t *mgr, const char *id)
{
    pgcm_result_t *r = NULL;
    pgcm_error_t err;
    int rc = pgcm_query(mgr, id, "SELECT 1", 0, NULL, NULL, &r, &err);
    if (rc != PGCM_OK)
        fail_msg("SELECT 1 on %s: %s (%s)", id, err.message, pgcm_err_name(rc));
    pgcm_result_free(r);
}

/* Node id's pool statistics. */
static pgcm_pool_stats_t node_stats(pgcm_manager_t *mgr, const char *id)
{
    pgcm_pool_stats_t st;
    assert_int_equal(pgcm_node_stats(mgr, id, &st), PGCM_OK);
    return st;
}

/* alpha's spec with a pool of min..max connections. */
static pgcm_node_spec_t alpha_pool(int min, int max)
{
    pgcm_node_spec_t s = specs[0];
    s.pool.min = min;
    s.pool.max = max;
    return s;
}

/* ---- queries ---------------------------------------------------------- */

static void test_fanout_all_nodes(void **state)
{
    (void)state;
    pgcm_manager_t *mgr = start_manager(NULL, NSERVERS);
    pgcm_batch_t *b = NULL;
    pgcm_error_t err;
    assert_int_equal(pgcm_query_many(mgr, NULL,
                                     "SELECT current_setting('port')", 0, NULL,
                                     NULL, &b, &err),
                     PGCM_OK);
    assert_int_equal(pgcm_batch_count(b), NSERVERS);
    assert_int_equal(pgcm_batch_succeeded(b), NSERVERS);
    for (int i = 0; i < NSERVERS; i++) {
        const pgcm_result_t *r = pgcm_batch_result(b, (size_t)i);
        assert_string_equal(pgcm_result_node_id(r), ids[i]);
        assert_int_equal(atoi(pgcm_result_value(r, 0, 0)), localpg_port(pg[i]));
        assert_true(pgcm_result_elapsed_us(r) > 0);
        assert_true(pgcm_result_server_version(r) >= 100000);
        /* REPLMON_TEST_PG_MAJOR runs these tests on another version. */
        if (fixture_test_major() > 0)
            assert_int_equal(pgcm_result_server_version(r) / 10000,
                             fixture_test_major());
    }
    pgcm_batch_free(b);

    /* A chosen set, in the caller's order, with an unknown id. */
    const char *some[] = {"gamma", "nosuch", "alpha"};
    pgcm_target_t t = {PGCM_TARGET_LIST, some, 3};
    assert_int_equal(
        pgcm_query_many(mgr, &t, "SELECT 1", 0, NULL, NULL, &b, &err), PGCM_OK);
    assert_int_equal(pgcm_batch_count(b), 3);
    assert_string_equal(pgcm_result_node_id(pgcm_batch_result(b, 0)), "gamma");
    assert_int_equal(pgcm_result_status(pgcm_batch_result(b, 1)), PGCM_ENOENT);
    assert_int_equal(pgcm_result_status(pgcm_batch_result(b, 2)), PGCM_OK);
    pgcm_batch_free(b);
    fixture_manager_free(mgr);
}

static void test_parameters_and_sql_errors(void **state)
{
    (void)state;
    pgcm_manager_t *mgr = start_manager(NULL, 1);
    pgcm_result_t *r = NULL;
    pgcm_error_t err;
    const char *params[] = {"41", NULL, "it's"};
    assert_int_equal(pgcm_query(mgr, "alpha",
                                "SELECT $1::int + 1, $2::text IS NULL, $3", 3,
                                params, NULL, &r, &err),
                     PGCM_OK);
    assert_string_equal(pgcm_result_value(r, 0, 0), "42");
    assert_string_equal(pgcm_result_value(r, 0, 1), "t");
    assert_string_equal(pgcm_result_value(r, 0, 2), "it's");
    assert_string_equal(pgcm_result_cmd_status(r), "SELECT 1");
    assert_non_null(pgcm_result_pg(r));
    pgcm_result_free(r);

    /* Several statements with the simple protocol: the last one counts. */
    assert_int_equal(pgcm_query(mgr, "alpha", "SELECT 1; SELECT 2 AS two", 0,
                                NULL, NULL, &r, &err),
                     PGCM_OK);
    assert_string_equal(pgcm_result_fname(r, 0), "two");
    pgcm_result_free(r);

    assert_int_equal(
        pgcm_query(mgr, "alpha", "SELECT 1/0", 0, NULL, NULL, &r, &err),
        PGCM_ESQL);
    assert_string_equal(err.sqlstate, "22012");
    assert_non_null(strstr(err.message, "alpha"));
    assert_non_null(strstr(err.message, "division by zero"));
    assert_non_null(r);
    assert_int_equal(pgcm_result_status(r), PGCM_ESQL);
    pgcm_result_free(r);

    /* The connection is fine after an error. */
    expect_select_1(mgr, "alpha");
    pgcm_pool_stats_t st = node_stats(mgr, "alpha");
    assert_int_equal(st.queries, 4);
    assert_int_equal(st.errors, 1);
    fixture_manager_free(mgr);
}

static void test_timeout_cancels_on_server(void **state)
{
    (void)state;
    pgcm_manager_t *mgr = start_manager(NULL, 1);
    pgcm_result_t *r = NULL;
    pgcm_error_t err;
    pgcm_query_options_t qo = {.timeout_ms = 300};
    int64_t t0 = fixture_now_ms();
    assert_int_equal(
        pgcm_query(mgr, "alpha", "SELECT pg_sleep(30)", 0, NULL, &qo, &r, &err),
        PGCM_ETIMEDOUT);
    int64_t took = fixture_now_ms() - t0;
    assert_true(took >= 290 && took < 2000);
    assert_non_null(strstr(err.message, "cancelled on the server"));
    pgcm_result_free(r);

    /* The statement is gone from the server quickly. */
    fixture_wait_active(pg[0], "SELECT pg_sleep(30)%", 0, 3000);

    /* The connection came back clean: next queries work, none wedged. */
    for (int i = 0; i < 5; i++)
        expect_select_1(mgr, "alpha");
    pgcm_pool_stats_t st = node_stats(mgr, "alpha");
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.active, 0);
    fixture_manager_free(mgr);
}

static void test_stopped_node_partial_failure(void **state)
{
    (void)state;
    pgcm_manager_t *mgr = start_manager(NULL, NSERVERS);
    assert_int_equal(localpg_stop(pg[1]), 0);
    pgcm_batch_t *b = NULL;
    pgcm_error_t err;
    int64_t t0 = fixture_now_ms();
    assert_int_equal(
        pgcm_query_many(mgr, NULL, "SELECT 1", 0, NULL, NULL, &b, &err),
        PGCM_OK);
    assert_true(fixture_now_ms() - t0 < 3000);
    assert_int_equal(pgcm_batch_count(b), 3);
    assert_int_equal(pgcm_batch_succeeded(b), 2);
    const pgcm_result_t *beta = pgcm_batch_result(b, 1);
    assert_int_not_equal(pgcm_result_status(beta), PGCM_OK);
    assert_non_null(strstr(pgcm_result_error(beta)->message, "beta"));
    assert_int_equal(pgcm_result_status(pgcm_batch_result(b, 0)), PGCM_OK);
    assert_int_equal(pgcm_result_status(pgcm_batch_result(b, 2)), PGCM_OK);
    pgcm_batch_free(b);

    /* Only the healthy nodes once beta is known to be down. */
    int64_t deadline = fixture_now_ms() + 3000;
    pgcm_health_t h;
    do {
        fixture_sleep_ms(20);
        assert_int_equal(pgcm_node_health(mgr, "beta", &h), PGCM_OK);
    } while (h.state != PGCM_NODE_UNHEALTHY && fixture_now_ms() < deadline);
    assert_int_equal(h.state, PGCM_NODE_UNHEALTHY);
    pgcm_target_t healthy = {PGCM_TARGET_HEALTHY, NULL, 0};
    assert_int_equal(
        pgcm_query_many(mgr, &healthy, "SELECT 1", 0, NULL, NULL, &b, &err),
        PGCM_OK);
    assert_int_equal(pgcm_batch_count(b), 2);
    assert_int_equal(pgcm_batch_succeeded(b), 2);
    pgcm_batch_free(b);

    /* A query to the down node fails at once with its error. */
    pgcm_result_t *r = NULL;
    t0 = fixture_now_ms();
    assert_int_equal(
        pgcm_query(mgr, "beta", "SELECT 1", 0, NULL, NULL, &r, &err),
        PGCM_EUNAVAIL);
    assert_true(fixture_now_ms() - t0 < 500);
    assert_non_null(strstr(err.message, "beta"));
    pgcm_result_free(r);
    fixture_manager_free(mgr);
    assert_int_equal(localpg_restart(pg[1]), 0);
}

/* ---- fan-out cancel ---------------------------------------------------- */

typedef struct batch_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pgcm_batch_t *batch;
} batch_wait_t;

static void on_batch(pgcm_batch_t *b, void *user)
{
    batch_wait_t *w = user;
    pthread_mutex_lock(&w->lock);
    w->batch = b;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void test_cancel_batch(void **state)
{
    (void)state;
    pgcm_manager_t *mgr = start_manager(NULL, NSERVERS);
    static batch_wait_t w = {PTHREAD_MUTEX_INITIALIZER,
                             PTHREAD_COND_INITIALIZER, NULL};
    w.batch = NULL;
    uint64_t id = 0;
    pgcm_error_t err;
    assert_int_equal(pgcm_query_many_async(mgr, NULL, "SELECT pg_sleep(30)", 0,
                                           NULL, NULL, on_batch, &w, &id, &err),
                     PGCM_OK);
    /* wait until all three run on their servers */
    for (int i = 0; i < NSERVERS; i++)
        fixture_wait_active(pg[i], "SELECT pg_sleep(30)%", 1, 3000);
    int64_t t0 = fixture_now_ms();
    assert_int_equal(pgcm_cancel(mgr, id), PGCM_OK);
    pthread_mutex_lock(&w.lock);
    while (w.batch == NULL)
        pthread_cond_wait(&w.cond, &w.lock);
    pthread_mutex_unlock(&w.lock);
    assert_true(fixture_now_ms() - t0 < 1000);
    assert_int_equal(pgcm_batch_count(w.batch), NSERVERS);
    for (size_t i = 0; i < NSERVERS; i++)
        assert_int_equal(pgcm_result_status(pgcm_batch_result(w.batch, i)),
                         PGCM_ECANCELED);
    pgcm_batch_free(w.batch);
    for (int i = 0; i < NSERVERS; i++)
        fixture_wait_active(pg[i], "SELECT pg_sleep(30)%", 0, 3000);
    assert_int_equal(pgcm_cancel(mgr, id), PGCM_ENOENT);
    fixture_manager_free(mgr);
}

/* ---- add / remove ------------------------------------------------------ */

typedef struct query_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    int status;
    int64_t at_ms;
} query_wait_t;

static void on_query(pgcm_result_t *r, void *user)
{
    query_wait_t *w = user;
    pthread_mutex_lock(&w->lock);
    w->status = pgcm_result_status(r);
    w->at_ms = fixture_now_ms();
    w->done = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pgcm_result_free(r);
}

static void wait_query(query_wait_t *w)
{
    pthread_mutex_lock(&w->lock);
    while (!w->done)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

static void test_add_and_remove_at_runtime(void **state)
{
    (void)state;
    pgcm_manager_t *mgr = start_manager(NULL, 1);
    pgcm_error_t err;

    int64_t t0 = fixture_now_ms();
    assert_int_equal(pgcm_node_add(mgr, &specs[1], &err), PGCM_OK);
    assert_true(fixture_now_ms() - t0 < 1000);
    assert_int_equal(pgcm_node_add(mgr, &specs[1], &err), PGCM_EEXIST);
    assert_non_null(strstr(err.message, "beta"));

    char **list = NULL;
    size_t count = 0;
    assert_int_equal(pgcm_node_list(mgr, &list, &count), PGCM_OK);
    assert_int_equal(count, 2);
    assert_string_equal(list[0], "alpha");
    assert_string_equal(list[1], "beta");
    assert_null(list[2]);
    pgcm_strv_free(list);

    expect_select_1(mgr, "beta");

    /* Remove beta with a long query in flight: drained for at most the
     * remove timeout (1 s), then cancelled on the server. */
    static query_wait_t w = {PTHREAD_MUTEX_INITIALIZER,
                             PTHREAD_COND_INITIALIZER, 0, 0, 0};
    w.done = 0;
    assert_int_equal(pgcm_query_async(mgr, "beta", "SELECT pg_sleep(30)", 0,
                                      NULL, NULL, on_query, &w, NULL, &err),
                     PGCM_OK);
    fixture_wait_active(pg[1], "SELECT pg_sleep(30)%", 1, 3000);
    t0 = fixture_now_ms();
    assert_int_equal(pgcm_node_remove(mgr, "beta", &err), PGCM_OK);
    int64_t took = fixture_now_ms() - t0;
    assert_true(took >= 900 && took < 2000);
    wait_query(&w);
    assert_int_equal(w.status, PGCM_ESHUTDOWN);
    assert_int_equal(pgcm_node_health(mgr, "beta", &(pgcm_health_t){0}),
                     PGCM_ENOENT);
    fixture_assert_no_connections(&pg[1], 1, NULL);

    /* An idle node goes at once; unknown ids are reported. */
    assert_int_equal(pgcm_node_add(mgr, &specs[2], &err), PGCM_OK);
    t0 = fixture_now_ms();
    assert_int_equal(pgcm_node_remove(mgr, "gamma", &err), PGCM_OK);
    assert_true(fixture_now_ms() - t0 < 500);
    assert_int_equal(pgcm_node_remove(mgr, "gamma", &err), PGCM_ENOENT);
    assert_non_null(strstr(err.message, "gamma"));
    /* The id can be used again. */
    assert_int_equal(pgcm_node_add(mgr, &specs[2], &err), PGCM_OK);
    fixture_manager_free(mgr);
}

/* ---- shutdown --------------------------------------------------------- */

static void test_shutdown_honours_timeout(void **state)
{
    (void)state;
    pgcm_options_t o;
    pgcm_options_init(&o);
    o.shutdown_timeout_ms = 700;
    pgcm_manager_t *mgr = start_manager(&o, NSERVERS);
    pgcm_error_t err;
    static query_wait_t slow = {PTHREAD_MUTEX_INITIALIZER,
                                PTHREAD_COND_INITIALIZER, 0, 0, 0};
    slow.done = 0;
    static query_wait_t quick = {PTHREAD_MUTEX_INITIALIZER,
                                 PTHREAD_COND_INITIALIZER, 0, 0, 0};
    quick.done = 0;
    assert_int_equal(pgcm_query_async(mgr, "alpha", "SELECT pg_sleep(30)", 0,
                                      NULL, NULL, on_query, &slow, NULL, &err),
                     PGCM_OK);
    assert_int_equal(pgcm_query_async(mgr, "beta", "SELECT pg_sleep(0.2)", 0,
                                      NULL, NULL, on_query, &quick, NULL, &err),
                     PGCM_OK);
    fixture_wait_active(pg[0], "SELECT pg_sleep(30)%", 1, 3000);
    int64_t t0 = fixture_now_ms();
    assert_int_equal(pgcm_manager_shutdown(mgr), PGCM_OK);
    int64_t took = fixture_now_ms() - t0;
    assert_true(took >= 650 && took < 2500);
    /* the quick one finished normally during the drain */
    assert_int_equal(quick.done, 1);
    assert_int_equal(quick.status, PGCM_OK);
    /* the slow one was cancelled at the deadline */
    assert_int_equal(slow.done, 1);
    assert_int_equal(slow.status, PGCM_ESHUTDOWN);

    /* New work is refused with a clear error. */
    pgcm_result_t *r = NULL;
    assert_int_equal(
        pgcm_query(mgr, "alpha", "SELECT 1", 0, NULL, NULL, &r, &err),
        PGCM_ESHUTDOWN);
    assert_null(r);
    assert_non_null(strstr(err.message, "shut"));
    assert_int_equal(pgcm_node_add(mgr, &specs[0], &err), PGCM_ESHUTDOWN);
    assert_int_equal(pgcm_manager_shutdown(mgr), PGCM_OK); /* idempotent */
    fixture_manager_free(mgr);
}

/* ---- threads ----------------------------------------------------------- */

typedef struct thread_arg {
    pgcm_manager_t *mgr;
    int index;
    int failures;
} thread_arg_t;

static void *query_thread(void *p)
{
    thread_arg_t *a = p;
    char buf[16];
    for (int i = 0; i < 50; i++) {
        snprintf(buf, sizeof(buf), "%d", a->index * 1000 + i);
        const char *params[] = {buf};
        pgcm_result_t *r = NULL;
        pgcm_error_t err;
        const char *node = ids[(a->index + i) % NSERVERS];
        if (pgcm_query(a->mgr, node, "SELECT $1::int", 1, params, NULL, &r,
                       &err) != PGCM_OK ||
            strcmp(pgcm_result_value(r, 0, 0), buf) != 0)
            a->failures++;
        pgcm_result_free(r);
    }
    return NULL;
}

static void test_eight_threads(void **state)
{
    (void)state;
    pgcm_manager_t *mgr = start_manager(NULL, NSERVERS);
    pthread_t th[8];
    thread_arg_t args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (thread_arg_t){mgr, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, query_thread, &args[i]),
                         0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    uint64_t total = 0;
    for (int i = 0; i < NSERVERS; i++) {
        pgcm_pool_stats_t st;
        assert_int_equal(pgcm_node_stats(mgr, ids[i], &st), PGCM_OK);
        total += st.queries;
        assert_true(st.total <= st.max);
        assert_int_equal(st.errors, 0);
    }
    assert_int_equal(total, 400);
    fixture_manager_free(mgr);
}

/* ---- pool limits --------------------------------------------------------- */

typedef struct order_log {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char order[16];
    int count;
} order_log_t;

typedef struct tagged {
    order_log_t *log;
    char tag;
} tagged_t;

static void on_tagged(pgcm_result_t *r, void *user)
{
    tagged_t *t = user;
    pthread_mutex_lock(&t->log->lock);
    t->log->order[t->log->count++] =
        pgcm_result_status(r) == PGCM_OK ? t->tag : '!';
    pthread_cond_signal(&t->log->cond);
    pthread_mutex_unlock(&t->log->lock);
    pgcm_result_free(r);
}

static void test_waiters_in_order_and_acquire_timeout(void **state)
{
    (void)state;
    pgcm_node_spec_t one = alpha_pool(1, 1);
    one.pool.acquire_timeout_ms = 400;
    pgcm_manager_t *mgr = fixture_manager_start(NULL, &one, 1);
    pgcm_error_t err;

    pgcm_checkout_t *co = NULL;
    assert_int_equal(pgcm_checkout(mgr, "alpha", 0, &co, &err), PGCM_OK);

    /* The pool is at max: a waiter times out with its own error. */
    pgcm_result_t *r = NULL;
    int64_t t0 = fixture_now_ms();
    assert_int_equal(
        pgcm_query(mgr, "alpha", "SELECT 1", 0, NULL, NULL, &r, &err),
        PGCM_ETIMEDOUT);
    int64_t took = fixture_now_ms() - t0;
    assert_true(took >= 380 && took < 1500);
    assert_non_null(strstr(err.message, "no connection became free"));
    pgcm_result_free(r);
    pgcm_checkout_t *co2 = NULL;
    assert_int_equal(pgcm_checkout(mgr, "alpha", 200, &co2, &err),
                     PGCM_ETIMEDOUT);
    assert_null(co2);
    pgcm_pool_stats_t st;
    assert_int_equal(pgcm_node_stats(mgr, "alpha", &st), PGCM_OK);
    assert_int_equal(st.acquire_timeouts, 2);

    /* Waiters are served first come, first served. */
    /* Callback targets are static: if an assertion fails, the teardown's
     * shutdown still calls back into them. */
    static order_log_t log = {PTHREAD_MUTEX_INITIALIZER,
                              PTHREAD_COND_INITIALIZER, "", 0};
    static tagged_t tags[5];
    log.count = 0;
    for (int i = 0; i < 5; i++) {
        tags[i] = (tagged_t){&log, (char)('A' + i)};
        assert_int_equal(pgcm_query_async(mgr, "alpha", "SELECT 1", 0, NULL,
                                          NULL, on_tagged, &tags[i], NULL,
                                          &err),
                         PGCM_OK);
    }
    int64_t deadline = fixture_now_ms() + 2000;
    do {
        fixture_sleep_ms(10);
        assert_int_equal(pgcm_node_stats(mgr, "alpha", &st), PGCM_OK);
    } while (st.waiting < 5 && fixture_now_ms() < deadline);
    assert_int_equal(st.waiting, 5);
    assert_int_equal(st.total, 1);
    pgcm_checkout_release(co, 0);
    pthread_mutex_lock(&log.lock);
    while (log.count < 5)
        pthread_cond_wait(&log.cond, &log.lock);
    pthread_mutex_unlock(&log.lock);
    assert_memory_equal(log.order, "ABCDE", 5);
    fixture_manager_free(mgr);
}

/* ---- checkout ------------------------------------------------------------ */

static int leak_events;

static void count_leaks(const pgcm_event_t *ev, void *user)
{
    (void)user;
    if (ev->type == PGCM_EV_CHECKOUT_LEAK)
        leak_events++;
}

static void test_checkout_transaction_and_leak(void **state)
{
    (void)state;
    pgcm_node_spec_t s = specs[0];
    s.pool.leak_threshold_ms = 300;
    pgcm_manager_t *mgr = fixture_manager_new(NULL);
    pgcm_error_t err;
    uint64_t sub;
    assert_int_equal(pgcm_subscribe(mgr, count_leaks, NULL, &sub), PGCM_OK);
    assert_int_equal(pgcm_manager_start(mgr, &s, 1, 5000, &err), PGCM_OK);

    pgcm_checkout_t *co = NULL;
    assert_int_equal(pgcm_checkout(mgr, "alpha", 0, &co, &err), PGCM_OK);
    pgcm_result_t *r = NULL;
    const char *steps[] = {"BEGIN", "CREATE TEMP TABLE t (v int)",
                           "INSERT INTO t VALUES (1), (2)",
                           "SELECT sum(v), pg_backend_pid() FROM t", "COMMIT"};
    char pid[32] = "";
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(
            pgcm_checkout_query(co, steps[i], 0, NULL, NULL, &r, &err),
            PGCM_OK);
        if (i == 3) {
            assert_string_equal(pgcm_result_value(r, 0, 0), "3");
            snprintf(pid, sizeof(pid), "%s", pgcm_result_value(r, 0, 1));
        }
        pgcm_result_free(r);
    }
    fixture_sleep_ms(700);
    assert_int_equal(leak_events, 1); /* warned once */
    pgcm_checkout_release(co, 0);

    /* The same connection is reused (most recently used first). */
    fixture_sleep_ms(50);
    assert_int_equal(pgcm_query(mgr, "alpha", "SELECT pg_backend_pid()", 0,
                                NULL, NULL, &r, &err),
                     PGCM_OK);
    assert_string_equal(pgcm_result_value(r, 0, 0), pid);
    pgcm_result_free(r);

    /* Released inside a transaction: closed, not reused. */
    pgcm_pool_stats_t before, after;
    assert_int_equal(pgcm_node_stats(mgr, "alpha", &before), PGCM_OK);
    assert_int_equal(pgcm_checkout(mgr, "alpha", 0, &co, &err), PGCM_OK);
    assert_int_equal(pgcm_checkout_query(co, "BEGIN", 0, NULL, NULL, &r, &err),
                     PGCM_OK);
    pgcm_result_free(r);
    pgcm_checkout_release(co, 0);
    fixture_sleep_ms(100);
    assert_int_equal(pgcm_node_stats(mgr, "alpha", &after), PGCM_OK);
    assert_int_equal(after.conns_closed, before.conns_closed + 1);
    fixture_manager_free(mgr);
}

/* ---- pool hygiene ---------------------------------------------------- */

static void test_min_idle_reaping_and_lifetime(void **state)
{
    (void)state;
    pgcm_node_spec_t s = alpha_pool(2, 6);
    s.pool.idle_timeout_ms = 400;
    s.pool.max_lifetime_ms = 1500;
    pgcm_manager_t *mgr = fixture_manager_start(NULL, &s, 1);
    pgcm_error_t err;
    fixture_sleep_ms(300);
    pgcm_pool_stats_t st;
    assert_int_equal(pgcm_node_stats(mgr, "alpha", &st), PGCM_OK);
    assert_int_equal(st.total, 2);

    /* A burst opens more, up to max; idle ones above min are reaped. */
    pgcm_batch_t *b = NULL;
    const char *six[] = {"alpha", "alpha", "alpha", "alpha", "alpha", "alpha"};
    pgcm_target_t t = {PGCM_TARGET_LIST, six, 6};
    assert_int_equal(pgcm_query_many(mgr, &t, "SELECT pg_sleep(0.2)", 0, NULL,
                                     NULL, &b, &err),
                     PGCM_OK);
    assert_int_equal(pgcm_batch_succeeded(b), 6);
    pgcm_batch_free(b);
    assert_int_equal(pgcm_node_stats(mgr, "alpha", &st), PGCM_OK);
    assert_int_equal(st.total, 6);
    fixture_sleep_ms(1000);
    assert_int_equal(pgcm_node_stats(mgr, "alpha", &st), PGCM_OK);
    assert_int_equal(st.total, 2);

    /* Connections are recycled after their lifetime (with jitter). */
    uint64_t opened = st.conns_opened;
    fixture_sleep_ms(2000);
    assert_int_equal(pgcm_node_stats(mgr, "alpha", &st), PGCM_OK);
    assert_true(st.conns_opened >= opened + 2);
    assert_int_equal(st.total, 2);
    fixture_manager_free(mgr);
}

/* ---- events ------------------------------------------------------------ */

typedef struct event_log {
    pthread_mutex_t lock;
    char text[2048];
    pgcm_manager_t *mgr;
    int deadlk_seen;
} event_log_t;

static void log_event(const pgcm_event_t *ev, void *user)
{
    event_log_t *l = user;
    if (ev->type == PGCM_EV_POOL_STATS)
        return;
    pthread_mutex_lock(&l->lock);
    size_t n = strlen(l->text);
    snprintf(l->text + n, sizeof(l->text) - n, "%s:%s:%s;",
             pgcm_event_type_name(ev->type), ev->node_id,
             pgcm_node_state_name(ev->new_state));
    pthread_mutex_unlock(&l->lock);
    /* A blocking call from a callback must not deadlock. */
    pgcm_result_t *r = NULL;
    if (pgcm_query(l->mgr, ev->node_id, "SELECT 1", 0, NULL, NULL, &r, NULL) ==
        PGCM_EDEADLK)
        l->deadlk_seen = 1;
    pgcm_result_free(r);
}

static void test_events(void **state)
{
    (void)state;
    pgcm_error_t err;
    static event_log_t log = {PTHREAD_MUTEX_INITIALIZER, "", NULL, 0};
    log.text[0] = '\0';
    log.deadlk_seen = 0;
    pgcm_manager_t *mgr = fixture_manager_new(NULL);
    log.mgr = mgr;
    uint64_t sub;
    assert_int_equal(pgcm_subscribe(mgr, log_event, &log, &sub), PGCM_OK);
    assert_int_equal(pgcm_manager_start(mgr, specs, 1, 5000, &err), PGCM_OK);
    assert_int_equal(pgcm_node_remove(mgr, "alpha", &err), PGCM_OK);
    pthread_mutex_lock(&log.lock);
    assert_string_equal(
        log.text, "node_added:alpha:connecting;health_changed:alpha:healthy;"
                  "node_connected:alpha:healthy;health_changed:alpha:"
                  "disconnected;node_removed:alpha:disconnected;");
    pthread_mutex_unlock(&log.lock);
    assert_int_equal(log.deadlk_seen, 1);

    assert_int_equal(pgcm_unsubscribe(mgr, sub), PGCM_OK);
    log.text[0] = '\0';
    assert_int_equal(pgcm_node_add(mgr, &specs[0], &err), PGCM_OK);
    fixture_sleep_ms(300);
    assert_string_equal(log.text, "");
    fixture_manager_free(mgr);
}

/* ---- start-up ------------------------------------------------------------ */

static void test_unreachable_node_does_not_fail_start(void **state)
{
    (void)state;
    pgcm_node_spec_t two[2];
    two[0] = specs[0];
    fixture_node_spec(pg[1], "closed", &two[1]);
    two[1].port = 1; /* nothing listens there */
    pgcm_manager_t *mgr = fixture_manager_new(NULL);
    pgcm_error_t err;
    int64_t t0 = fixture_now_ms();
    assert_int_equal(pgcm_manager_start(mgr, two, 2, 5000, &err), PGCM_OK);
    assert_true(fixture_now_ms() - t0 < 2000);
    pgcm_health_t h;
    assert_int_equal(pgcm_node_health(mgr, "alpha", &h), PGCM_OK);
    assert_int_equal(h.state, PGCM_NODE_HEALTHY);
    assert_int_equal(pgcm_node_health(mgr, "closed", &h), PGCM_OK);
    assert_int_equal(h.state, PGCM_NODE_UNHEALTHY);
    assert_non_null(strstr(h.last_error, "refused"));
    assert_true(h.next_retry_ms > 0);
    fixture_manager_free(mgr);
}

/* ---- bad input ----------------------------------------------------------- */

static void test_bad_input(void **state)
{
    (void)state;
    pgcm_error_t err;
    pgcm_manager_t *mgr = NULL;
    pgcm_options_t o;
    pgcm_options_init(&o);
    o.query_timeout_ms = 0;
    assert_int_equal(pgcm_manager_new(&o, &mgr, &err), PGCM_EINVAL);
    assert_non_null(strstr(err.message, "query_timeout_ms"));
    assert_int_equal(pgcm_manager_new(NULL, NULL, &err), PGCM_EINVAL);

    mgr = start_manager(NULL, 1);
    pgcm_node_spec_t s = specs[1];
    s.id = NULL;
    assert_int_equal(pgcm_node_add(mgr, &s, &err), PGCM_EINVAL);
    s.id = "";
    assert_int_equal(pgcm_node_add(mgr, &s, &err), PGCM_EINVAL);
    s.id = "bad";
    s.pool.max = 0;
    assert_int_equal(pgcm_node_add(mgr, &s, &err), PGCM_EINVAL);
    assert_non_null(strstr(err.message, "bad"));
    s.pool.max = 2;
    s.pool.min = 3;
    assert_int_equal(pgcm_node_add(mgr, &s, &err), PGCM_EINVAL);
    s.pool.min = 1;
    s.pool.acquire_timeout_ms = -5;
    assert_int_equal(pgcm_node_add(mgr, &s, &err), PGCM_EINVAL);
    s.pool.acquire_timeout_ms = 1000;
    s.port = 70000;
    assert_int_equal(pgcm_node_add(mgr, &s, &err), PGCM_EINVAL);
    s.port = specs[1].port;
    s.conninfo = "host='unterminated password=hunter2";
    assert_int_equal(pgcm_node_add(mgr, &s, &err), PGCM_EINVAL);
    assert_null(strstr(err.message, "hunter2"));
    assert_int_equal(pgcm_node_add(mgr, NULL, &err), PGCM_EINVAL);

    pgcm_result_t *r = NULL;
    assert_int_equal(pgcm_query(mgr, NULL, "SELECT 1", 0, NULL, NULL, &r, &err),
                     PGCM_EINVAL);
    assert_int_equal(pgcm_query(mgr, "", "SELECT 1", 0, NULL, NULL, &r, &err),
                     PGCM_EINVAL);
    assert_int_equal(pgcm_query(mgr, "alpha", NULL, 0, NULL, NULL, &r, &err),
                     PGCM_EINVAL);
    assert_int_equal(
        pgcm_query(mgr, "alpha", "SELECT $1", 1, NULL, NULL, &r, &err),
        PGCM_EINVAL);
    pgcm_query_options_t neg = {.timeout_ms = -1};
    assert_int_equal(
        pgcm_query(mgr, "alpha", "SELECT 1", 0, NULL, &neg, &r, &err),
        PGCM_EINVAL);
    assert_int_equal(
        pgcm_query(mgr, "nosuch", "SELECT 1", 0, NULL, NULL, &r, &err),
        PGCM_ENOENT);
    assert_non_null(strstr(err.message, "nosuch"));
    pgcm_result_free(r);
    assert_int_equal(pgcm_node_remove(mgr, NULL, &err), PGCM_EINVAL);
    assert_int_equal(pgcm_cancel(mgr, 0), PGCM_EINVAL);
    assert_int_equal(pgcm_cancel(mgr, 987654321), PGCM_ENOENT);
    pgcm_checkout_t *co = NULL;
    assert_int_equal(pgcm_checkout(mgr, "alpha", -1, &co, &err), PGCM_EINVAL);
    assert_int_equal(pgcm_checkout(mgr, "nosuch", 0, &co, &err), PGCM_ENOENT);
    pgcm_health_t h;
    assert_int_equal(pgcm_node_health(mgr, "nosuch", &h), PGCM_ENOENT);
    pgcm_target_t bad = {PGCM_TARGET_LIST, NULL, 2};
    pgcm_batch_t *b = NULL;
    assert_int_equal(
        pgcm_query_many(mgr, &bad, "SELECT 1", 0, NULL, NULL, &b, &err),
        PGCM_EINVAL);
    fixture_manager_free(mgr);
    pgcm_manager_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_fanout_all_nodes, test_teardown),
        cmocka_unit_test_teardown(test_parameters_and_sql_errors,
                                  test_teardown),
        cmocka_unit_test_teardown(test_timeout_cancels_on_server,
                                  test_teardown),
        cmocka_unit_test_teardown(test_stopped_node_partial_failure,
                                  test_teardown),
        cmocka_unit_test_teardown(test_cancel_batch, test_teardown),
        cmocka_unit_test_teardown(test_add_and_remove_at_runtime,
                                  test_teardown),
        cmocka_unit_test_teardown(test_shutdown_honours_timeout, test_teardown),
        cmocka_unit_test_teardown(test_eight_threads, test_teardown),
        cmocka_unit_test_teardown(test_waiters_in_order_and_acquire_timeout,
                                  test_teardown),
        cmocka_unit_test_teardown(test_checkout_transaction_and_leak,
                                  test_teardown),
        cmocka_unit_test_teardown(test_min_idle_reaping_and_lifetime,
                                  test_teardown),
        cmocka_unit_test_teardown(test_events, test_teardown),
        cmocka_unit_test_teardown(test_unreachable_node_does_not_fail_start,
                                  test_teardown),
        cmocka_unit_test_teardown(test_bad_input, test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, fixture_group_teardown);
}
