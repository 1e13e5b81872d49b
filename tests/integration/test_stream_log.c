/* SPDX-License-Identifier: MIT */
/*
 * test_stream_log.c - rows streamed in single-row mode (on_row), with a stop
 * from the callback and over a fan-out; pgcm_node_retry bringing an
 * unhealthy node back before its backoff; and the log hook: the records a
 * query, a timeout, a probe and a shutdown cause, tied by correlation id,
 * with no secret in any of them. Against real servers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

#define NSERVERS 2

static localpg_server_t **pg;
static pgcm_node_spec_t specs[NSERVERS];
static const char *const ids[NSERVERS] = {"one", "two"};

static int group_setup(void **state)
{
    (void)state;
    localpg_options_t o;
    localpg_options_init(&o);
    o.password = "s3cret-Pa55word";
    pg = fixture_start_nodes(NSERVERS, &o, ids, specs);
    return 0;
}

static int test_teardown(void **state)
{
    (void)state;
    fixture_test_end(pg, NSERVERS);
    return 0;
}

static pgcm_manager_t *start(const pgcm_options_t *o)
{
    pgcm_manager_t *mgr = fixture_manager_start(o, specs, NSERVERS);
    /* a loaded machine may need a retry or two for the first connect */
    for (int i = 0; i < NSERVERS; i++) {
        pgcm_health_t h;
        int64_t deadline = fixture_now_ms() + 20000;
        do {
            assert_int_equal(pgcm_node_health(mgr, ids[i], &h), PGCM_OK);
            if (h.state == PGCM_NODE_HEALTHY)
                break;
            fixture_sleep_ms(20);
        } while (fixture_now_ms() < deadline);
        assert_int_equal(h.state, PGCM_NODE_HEALTHY);
    }
    return mgr;
}

/* ---- streaming --------------------------------------------------------- */

typedef struct rows {
    long count[NSERVERS];
    long sum;
    long stop_after; /* 0: never */
    int bad_shape;
} rows_t;

static int on_row(const char *node_id, const PGresult *row, void *user)
{
    rows_t *r = user;
    int i = strcmp(node_id, ids[0]) == 0 ? 0 : 1;
    if (PQresultStatus(row) != PGRES_SINGLE_TUPLE || PQntuples(row) != 1 ||
        strcmp(PQfname(row, 0), "g") != 0)
        r->bad_shape++;
    r->count[i]++;
    r->sum += atol(PQgetvalue(row, 0, 0));
    return r->stop_after > 0 && r->count[i] >= r->stop_after;
}

static void test_rows_stream_one_at_a_time(void **state)
{
    (void)state;
    pgcm_manager_t *mgr = start(NULL);
    rows_t rows = {0};
    pgcm_query_options_t qo = {.on_row = on_row, .row_user = &rows};
    pgcm_result_t *r = NULL;
    pgcm_error_t err;
    assert_int_equal(pgcm_query(mgr, "one",
                                "SELECT g FROM generate_series(1, 100000) g", 0,
                                NULL, &qo, &r, &err),
                     PGCM_OK);
    assert_int_equal(rows.count[0], 100000);
    assert_int_equal(rows.sum, 100000L * 100001L / 2);
    assert_int_equal(rows.bad_shape, 0);
    assert_int_equal(pgcm_result_ntuples(r), 0);
    assert_int_equal(pgcm_result_nfields(r), 1);
    assert_string_equal(pgcm_result_fname(r, 0), "g");
    assert_string_equal(pgcm_result_cmd_status(r), "SELECT 100000");
    pgcm_result_free(r);

    /* the callback stops the statement: cancelled on the server */
    memset(&rows, 0, sizeof(rows));
    rows.stop_after = 10;
    assert_int_equal(pgcm_query(mgr, "one",
                                "SELECT g FROM generate_series(1, 10000000) g",
                                0, NULL, &qo, NULL, &err),
                     PGCM_ECANCELED);
    assert_int_equal(rows.count[0], 10);

    /* a fan-out streams every node's rows */
    memset(&rows, 0, sizeof(rows));
    pgcm_batch_t *b = NULL;
    assert_int_equal(pgcm_query_many(mgr, NULL,
                                     "SELECT g FROM generate_series(1, 5000) g",
                                     0, NULL, &qo, &b, &err),
                     PGCM_OK);
    assert_int_equal(pgcm_batch_succeeded(b), NSERVERS);
    assert_int_equal(rows.count[0], 5000);
    assert_int_equal(rows.count[1], 5000);
    pgcm_batch_free(b);

    /* the connection is clean for the next statement */
    assert_int_equal(
        pgcm_query(mgr, "one", "SELECT 1", 0, NULL, NULL, NULL, &err), PGCM_OK);
}

/* ---- retry now --------------------------------------------------------- */

static void test_retry_skips_backoff(void **state)
{
    (void)state;
    pgcm_options_t o;
    pgcm_options_init(&o);
    o.backoff_initial_ms = 30000;
    o.backoff_max_ms = 30000;
    pgcm_manager_t *mgr = start(&o);
    assert_int_equal(pgcm_node_retry(mgr, "nosuch"), PGCM_ENOENT);
    assert_int_equal(pgcm_node_retry(mgr, NULL), PGCM_EINVAL);

    assert_int_equal(localpg_kill(pg[1]), 0);
    pgcm_health_t h;
    int64_t deadline = fixture_now_ms() + 5000;
    do {
        fixture_sleep_ms(20);
        assert_int_equal(pgcm_node_health(mgr, "two", &h), PGCM_OK);
    } while (h.state != PGCM_NODE_UNHEALTHY && fixture_now_ms() < deadline);
    assert_int_equal(h.state, PGCM_NODE_UNHEALTHY);
    assert_int_equal(localpg_restart(pg[1]), 0);
    /* without the retry the next attempt is 24-30 s away */
    assert_int_equal(pgcm_node_retry(mgr, "two"), PGCM_OK);
    deadline = fixture_now_ms() + 5000;
    do {
        fixture_sleep_ms(20);
        assert_int_equal(pgcm_node_health(mgr, "two", &h), PGCM_OK);
    } while (h.state != PGCM_NODE_HEALTHY && fixture_now_ms() < deadline);
    assert_int_equal(h.state, PGCM_NODE_HEALTHY);
    /* a healthy node is simply probed */
    assert_int_equal(pgcm_node_retry(mgr, "one"), PGCM_OK);
}

/* ---- the log hook ------------------------------------------------------ */

typedef struct logbook {
    pthread_mutex_t lock;
    char (*lines)[700];
    size_t count, cap;
} logbook_t;

static void on_log(const pgcm_log_record_t *rec, void *user)
{
    logbook_t *lb = user;
    pthread_mutex_lock(&lb->lock);
    if (lb->count == lb->cap) {
        lb->cap = lb->cap ? lb->cap * 2 : 256;
        lb->lines = realloc(lb->lines, lb->cap * sizeof(*lb->lines));
    }
    snprintf(lb->lines[lb->count++], sizeof(*lb->lines),
             "%s %s node=%s corr=%llu code=%s sqlstate=%s time=%lld %.500s",
             pgcm_log_level_name(rec->level), rec->event,
             rec->node_id ? rec->node_id : "-",
             (unsigned long long)rec->correlation_id,
             pgcm_err_name(rec->error_code), rec->sqlstate,
             (long long)rec->time_ms, rec->message);
    pthread_mutex_unlock(&lb->lock);
}

/* How many records contain every one of the (NULL-ended) needles. */
static int logbook_count(logbook_t *lb, ...)
{
    int n = 0;
    pthread_mutex_lock(&lb->lock);
    for (size_t i = 0; i < lb->count; i++) {
        va_list ap;
        va_start(ap, lb);
        bool all = true;
        for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
            all = all && strstr(lb->lines[i], s) != NULL;
        va_end(ap);
        n += all;
    }
    pthread_mutex_unlock(&lb->lock);
    return n;
}

static void test_log_hook_records_with_correlation(void **state)
{
    (void)state;
    static logbook_t lb;
    memset(&lb, 0, sizeof(lb));
    pthread_mutex_init(&lb.lock, NULL);
    pgcm_options_t o;
    pgcm_options_init(&o);
    o.log_cb = on_log;
    o.log_user = &lb;
    o.log_level = PGCM_LOG_DEBUG;
    pgcm_manager_t *mgr = start(&o);
    pgcm_error_t err;

    pgcm_query_options_t qo = {.correlation_id = 777001};
    assert_int_equal(
        pgcm_query(mgr, "one", "SELECT nosuchcolumn", 0, NULL, &qo, NULL, &err),
        PGCM_ESQL);
    qo.correlation_id = 777002;
    qo.timeout_ms = 50;
    assert_int_equal(
        pgcm_query(mgr, "two", "SELECT pg_sleep(5)", 0, NULL, &qo, NULL, &err),
        PGCM_ETIMEDOUT);
    fixture_sleep_ms(600); /* a heartbeat or two */
    fixture_manager_free(mgr);

    assert_true(logbook_count(&lb, "node_added node=one", NULL) == 1);
    assert_true(logbook_count(&lb, "connection_opened node=two", NULL) >= 1);
    assert_true(logbook_count(&lb, "state_changed node=one",
                              "connecting -> healthy", NULL) == 1);
    assert_true(logbook_count(&lb, "health_check node=one", NULL) >= 1);
    assert_true(
        logbook_count(&lb, "connection_acquired", "corr=777001", NULL) == 1);
    assert_true(logbook_count(&lb, "query_failed node=one", "corr=777001",
                              "sqlstate=42703", NULL) == 1);
    assert_true(
        logbook_count(&lb, "cancel_sent node=two", "corr=777002", NULL) == 1);
    assert_true(logbook_count(&lb, "query_failed node=two", "corr=777002",
                              "ETIMEDOUT", NULL) == 1);
    assert_true(logbook_count(&lb, "connection_closed", NULL) >= NSERVERS);
    assert_true(logbook_count(&lb, "node_removed node=two", NULL) == 1);
    /* the password is in every spec and in no record */
    assert_int_equal(logbook_count(&lb, "s3cret-Pa55word", NULL), 0);
    free(lb.lines);
    pthread_mutex_destroy(&lb.lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_rows_stream_one_at_a_time,
                                  test_teardown),
        cmocka_unit_test_teardown(test_retry_skips_backoff, test_teardown),
        cmocka_unit_test_teardown(test_log_hook_records_with_correlation,
                                  test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, fixture_group_teardown);
}
