/* SPDX-License-Identifier: MIT */
/*
 * test_cancel.c - a cancel or a timeout never hits another statement, and
 * connection-ending errors keep the server's SQLSTATE, against real
 * servers:
 * - the two-query race: Q1 times out (or is cancelled) just as it ends,
 *   Q2 runs next on the same backend (pool max 1) and must never see
 *   57014; 1000 rounds in timeout mode and in cancel mode, and the same on
 *   a checked-out connection;
 * - a churn of many threads (queries with and without timeouts, cancels,
 *   fan-outs, checkouts, nodes added and removed, pgcm_manager_apply) for a
 *   minute, where every failure must be one the caller caused or a node's
 *   real outage, and nothing is left on the servers;
 * - a server that terminates a busy and an idle connection: 57P01 in the
 *   result and in the node's health record, with a tidy message.
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
#include <time.h>

#include "fixture.h"

#define NSERVERS 2

static localpg_server_t **pg;

static int group_setup(void **state)
{
    (void)state;
    pg = fixture_start(NSERVERS, NULL);
    return 0;
}

static int test_teardown(void **state)
{
    (void)state;
    fixture_test_end(pg, NSERVERS);
    return 0;
}

/* One node "solo" on server 0 with a pool of exactly one connection, so
 * that consecutive statements share a backend. */
static pgcm_manager_t *start_solo(void)
{
    static pgcm_node_spec_t spec;
    fixture_node_spec(pg[0], "solo", &spec);
    spec.pool.min = 1;
    spec.pool.max = 1;
    return fixture_manager_start(NULL, &spec, 1);
}

/* ---- the two-query race ------------------------------------------------ */

typedef struct cancel_arg {
    pgcm_manager_t *mgr;
    atomic_uint_fast64_t id;
    atomic_int delay_us;
    atomic_int go;
    atomic_int quit;
} cancel_arg_t;

/* Cancels whatever request id it is given after delay_us. */
static void *canceller(void *p)
{
    cancel_arg_t *a = p;
    while (!atomic_load(&a->quit)) {
        if (!atomic_load(&a->go)) {
            fixture_sleep_ms(0);
            continue;
        }
        struct timespec ts = {0, (long)atomic_load(&a->delay_us) * 1000L};
        nanosleep(&ts, NULL);
        pgcm_cancel(a->mgr, atomic_load(&a->id));
        atomic_store(&a->go, 0);
    }
    return NULL;
}

typedef struct q1_done {
    atomic_int done;
    int status;
} q1_done_t;

static void on_q1(pgcm_result_t *r, void *user)
{
    q1_done_t *d = user;
    d->status = pgcm_result_status(r);
    pgcm_result_free(r);
    atomic_store(&d->done, 1);
}

static void race(bool cancel_mode, bool on_checkout)
{
    pgcm_manager_t *mgr = start_solo();
    cancel_arg_t ca = {.mgr = mgr};
    pthread_t th;
    if (cancel_mode)
        assert_int_equal(pthread_create(&th, NULL, canceller, &ca), 0);
    pgcm_checkout_t *co = NULL;
    pgcm_error_t err;
    if (on_checkout)
        assert_int_equal(pgcm_checkout(mgr, "solo", 0, &co, &err), PGCM_OK);

    int innocent = 0, q1_wrong = 0, q1_hit = 0;
    char first_bad[300] = "";
    for (int round = 0; round < 1000; round++) {
        int q1;
        if (cancel_mode) {
            q1_done_t d = {0};
            uint64_t id = 0;
            assert_int_equal(pgcm_query_async(mgr, "solo",
                                              "SELECT pg_sleep(0.005)", 0, NULL,
                                              NULL, on_q1, &d, &id, &err),
                             PGCM_OK);
            atomic_store(&ca.id, id);
            atomic_store(&ca.delay_us, (round * 37) % 6000);
            atomic_store(&ca.go, 1);
            while (!atomic_load(&d.done))
                fixture_sleep_ms(1);
            while (atomic_load(&ca.go))
                fixture_sleep_ms(0);
            q1 = d.status;
            if (q1 != PGCM_OK && q1 != PGCM_ECANCELED)
                q1_wrong++;
        } else {
            pgcm_query_options_t qo = {.timeout_ms = 5};
            q1 = on_checkout ? pgcm_checkout_query(co, "SELECT pg_sleep(0.005)",
                                                   0, NULL, &qo, NULL, &err)
                             : pgcm_query(mgr, "solo", "SELECT pg_sleep(0.005)",
                                          0, NULL, &qo, NULL, &err);
            if (q1 != PGCM_OK && q1 != PGCM_ETIMEDOUT)
                q1_wrong++;
        }
        if (q1 != PGCM_OK)
            q1_hit++;
        int q2 = on_checkout ? pgcm_checkout_query(co, "SELECT pg_sleep(0.02)",
                                                   0, NULL, NULL, NULL, &err)
                             : pgcm_query(mgr, "solo", "SELECT pg_sleep(0.02)",
                                          0, NULL, NULL, NULL, &err);
        if (q2 != PGCM_OK) {
            if (innocent++ == 0)
                snprintf(first_bad, sizeof(first_bad), "%s %s: %.200s",
                         pgcm_err_name(q2), err.sqlstate, err.message);
        }
    }
    if (cancel_mode) {
        atomic_store(&ca.quit, 1);
        pthread_join(th, NULL);
    }
    if (co != NULL)
        pgcm_checkout_release(co, 0);
    print_message("race (%s%s): Q1 cut short in %d of 1000 rounds, %d "
                  "innocent failures, %d wrong Q1 codes\n",
                  cancel_mode ? "cancel" : "timeout",
                  on_checkout ? ", checkout" : "", q1_hit, innocent, q1_wrong);
    if (innocent != 0)
        fail_msg("%d statements failed from another's cancel; first: %s",
                 innocent, first_bad);
    assert_int_equal(q1_wrong, 0);
    /* The race must really have been run: some Q1s cut short. */
    assert_true(q1_hit > 0);
    fixture_manager_free(mgr);
}

static void test_timeout_never_hits_next_statement(void **state)
{
    (void)state;
    race(false, false);
}

static void test_cancel_never_hits_next_statement(void **state)
{
    (void)state;
    race(true, false);
}

static void test_checkout_timeout_never_hits_next_statement(void **state)
{
    (void)state;
    race(false, true);
}

/* ---- churn ------------------------------------------------------------- */

#define CHURN_THREADS 12

typedef struct churn {
    pgcm_manager_t *mgr;
    pgcm_node_spec_t specs[6]; /* ids n0..n5 alternate between servers */
    char ids[6][8];
    int64_t until_ms;
    atomic_int live_mask; /* bit i: node i is meant to be present */
    atomic_long ops, ok, caused, outage;
    atomic_long bad;
    char bad_text[512];
    pthread_mutex_t lock;
} churn_t;

static void churn_bad(churn_t *c, const char *what, int code,
                      const pgcm_error_t *e)
{
    if (atomic_fetch_add(&c->bad, 1) == 0) {
        pthread_mutex_lock(&c->lock);
        snprintf(c->bad_text, sizeof(c->bad_text), "%s: %s %s %.300s", what,
                 pgcm_err_name(code), e ? e->sqlstate : "",
                 e ? e->message : "");
        pthread_mutex_unlock(&c->lock);
    }
}

/* A node's real outage as churn causes it: removed or replaced while the
 * request was routed or running. */
static bool is_outage(int code)
{
    return code == PGCM_ENOENT || code == PGCM_ESHUTDOWN ||
           code == PGCM_EUNAVAIL || code == PGCM_ECONN;
}

static void churn_check(churn_t *c, const char *what, int code,
                        const pgcm_error_t *e, int allowed_caused)
{
    atomic_fetch_add(&c->ops, 1);
    if (code == PGCM_OK)
        atomic_fetch_add(&c->ok, 1);
    else if (code == allowed_caused)
        atomic_fetch_add(&c->caused, 1);
    else if (is_outage(code))
        atomic_fetch_add(&c->outage, 1);
    else
        churn_bad(c, what, code, e);
    /* 57014 is only ever the caller's own cancel, reported as such */
    if (code == PGCM_ESQL)
        churn_bad(c, what, code, e);
}

typedef struct churn_async {
    churn_t *c;
    atomic_int done;
    int status;
    pgcm_error_t err;
} churn_async_t;

static void on_churn_result(pgcm_result_t *r, void *user)
{
    churn_async_t *a = user;
    a->status = pgcm_result_status(r);
    a->err = *pgcm_result_error(r);
    pgcm_result_free(r);
    atomic_store(&a->done, 1);
}

static void on_churn_batch(pgcm_batch_t *b, void *user)
{
    churn_async_t *a = user;
    churn_t *c = a->c;
    for (size_t i = 0; i < pgcm_batch_count(b); i++) {
        const pgcm_result_t *r = pgcm_batch_result(b, i);
        churn_check(c, "cancelled fan-out part", pgcm_result_status(r),
                    pgcm_result_error(r), PGCM_ECANCELED);
    }
    pgcm_batch_free(b);
    atomic_store(&a->done, 1);
}

static void *churn_worker(void *p)
{
    churn_t *c = p;
    unsigned seed = (unsigned)(uintptr_t)pthread_self();
    pgcm_error_t err;
    while (fixture_now_ms() < c->until_ms) {
        const char *id = c->ids[rand_r(&seed) % 6];
        int kind = rand_r(&seed) % 6;
        if (kind == 0) { /* a query with a tight timeout */
            pgcm_query_options_t qo = {.timeout_ms = 1 + rand_r(&seed) % 8};
            int rc = pgcm_query(c->mgr, id, "SELECT pg_sleep(0.004)", 0, NULL,
                                &qo, NULL, &err);
            churn_check(c, "timed query", rc, &err, PGCM_ETIMEDOUT);
        } else if (kind == 1) { /* a query cancelled while it runs */
            churn_async_t a = {.c = c};
            uint64_t rid = 0;
            if (pgcm_query_async(c->mgr, id, "SELECT pg_sleep(0.005)", 0, NULL,
                                 NULL, on_churn_result, &a, &rid,
                                 &err) != PGCM_OK)
                continue;
            struct timespec ts = {0, (long)(rand_r(&seed) % 6000) * 1000L};
            nanosleep(&ts, NULL);
            pgcm_cancel(c->mgr, rid);
            while (!atomic_load(&a.done))
                fixture_sleep_ms(1);
            churn_check(c, "cancelled query", a.status, &a.err, PGCM_ECANCELED);
        } else if (kind == 2) { /* a fan-out cancelled while it runs */
            churn_async_t a = {.c = c};
            uint64_t rid = 0;
            if (pgcm_query_many_async(c->mgr, NULL, "SELECT pg_sleep(0.003)", 0,
                                      NULL, NULL, on_churn_batch, &a, &rid,
                                      &err) != PGCM_OK)
                continue;
            struct timespec ts = {0, (long)(rand_r(&seed) % 4000) * 1000L};
            nanosleep(&ts, NULL);
            pgcm_cancel(c->mgr, rid);
            while (!atomic_load(&a.done))
                fixture_sleep_ms(1);
        } else if (kind == 3) { /* a checkout with a timed statement */
            pgcm_checkout_t *co = NULL;
            int rc = pgcm_checkout(c->mgr, id, 2000, &co, &err);
            if (rc != PGCM_OK) {
                churn_check(c, "checkout", rc, &err, PGCM_ETIMEDOUT);
                continue;
            }
            pgcm_query_options_t qo = {.timeout_ms = 1 + rand_r(&seed) % 6};
            rc = pgcm_checkout_query(co, "SELECT pg_sleep(0.003)", 0, NULL, &qo,
                                     NULL, &err);
            churn_check(c, "timed checkout query", rc, &err, PGCM_ETIMEDOUT);
            rc = pgcm_checkout_query(co, "SELECT 1", 0, NULL, NULL, NULL, &err);
            churn_check(c, "checkout query", rc, &err, 1);
            pgcm_checkout_release(co, 0);
        } else { /* plain statements: never fail but by an outage */
            const char *params[] = {"7"};
            int rc = pgcm_query(c->mgr, id, "SELECT $1::int, pg_sleep(0.002)",
                                1, params, NULL, NULL, &err);
            churn_check(c, "plain query", rc, &err, 1);
        }
    }
    return NULL;
}

/* Adds and removes nodes, and reloads the list with pgcm_manager_apply. */
static void *churn_admin(void *p)
{
    churn_t *c = p;
    unsigned seed = 12345;
    pgcm_error_t err;
    int round = 0;
    while (fixture_now_ms() < c->until_ms) {
        int i = 4 + rand_r(&seed) % 2; /* n4 and n5 come and go */
        int mask = atomic_load(&c->live_mask);
        if (round++ % 5 == 4) {
            /* a reload: n0-n3 stay, n4 flips, n5 flips */
            pgcm_node_spec_t list[6];
            size_t k = 0;
            int next = mask ^ (1 << 4) ^ (1 << 5);
            for (int j = 0; j < 6; j++) {
                if (next & (1 << j))
                    list[k++] = c->specs[j];
            }
            if (pgcm_manager_apply(c->mgr, list, k, NULL, NULL, NULL, &err) ==
                PGCM_OK)
                atomic_store(&c->live_mask, next);
        } else if (mask & (1 << i)) {
            if (pgcm_node_remove(c->mgr, c->ids[i], &err) == PGCM_OK)
                atomic_fetch_and(&c->live_mask, ~(1 << i));
        } else {
            if (pgcm_node_add(c->mgr, &c->specs[i], &err) == PGCM_OK)
                atomic_fetch_or(&c->live_mask, 1 << i);
        }
        fixture_sleep_ms(100);
    }
    return NULL;
}

static void test_churn_every_failure_explained(void **state)
{
    (void)state;
    static churn_t c;
    memset(&c, 0, sizeof(c));
    pthread_mutex_init(&c.lock, NULL);
    for (int i = 0; i < 6; i++) {
        snprintf(c.ids[i], sizeof(c.ids[i]), "n%d", i);
        fixture_node_spec(pg[i % NSERVERS], c.ids[i], &c.specs[i]);
        c.specs[i].pool.max = 3;
    }
    pgcm_options_t o;
    pgcm_options_init(&o);
    o.remove_timeout_ms = 200;
    c.mgr = fixture_manager_start(&o, c.specs, 6);
    atomic_store(&c.live_mask, 0x3f);
    int seconds =
        getenv("PGCM_CHURN_SECONDS") ? atoi(getenv("PGCM_CHURN_SECONDS")) : 60;
    c.until_ms = fixture_now_ms() + (int64_t)seconds * 1000;
    pthread_t th[CHURN_THREADS + 1];
    for (int i = 0; i < CHURN_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, churn_worker, &c), 0);
    assert_int_equal(pthread_create(&th[CHURN_THREADS], NULL, churn_admin, &c),
                     0);
    for (int i = 0; i <= CHURN_THREADS; i++)
        pthread_join(th[i], NULL);
    print_message("churn %d s: %ld operations, %ld ok, %ld caused by the "
                  "caller (timeout/cancel), %ld outages (node removed), %ld "
                  "unexplained\n",
                  seconds, atomic_load(&c.ops), atomic_load(&c.ok),
                  atomic_load(&c.caused), atomic_load(&c.outage),
                  atomic_load(&c.bad));
    if (atomic_load(&c.bad) != 0)
        fail_msg("%ld unexplained failures; first: %s", atomic_load(&c.bad),
                 c.bad_text);
    assert_true(atomic_load(&c.caused) > 0);
    assert_true(atomic_load(&c.ok) > 100);
    fixture_manager_free(c.mgr);
    pthread_mutex_destroy(&c.lock);
}

/* ---- connection-ending errors keep their SQLSTATE ---------------------- */

static void *terminate_later(void *p)
{
    fixture_sleep_ms(300);
    char *v = fixture_exec(p, "SELECT count(pg_terminate_backend(pid)) FROM "
                              "pg_stat_activity WHERE query LIKE "
                              "'SELECT pg_sleep(30)%'");
    free(v);
    return NULL;
}

static void test_terminated_connection_keeps_sqlstate(void **state)
{
    (void)state;
    pgcm_manager_t *mgr = start_solo();
    pgcm_error_t err;

    /* busy: the statement's result carries 57P01 */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, terminate_later, pg[0]), 0);
    pgcm_result_t *r = NULL;
    int rc =
        pgcm_query(mgr, "solo", "SELECT pg_sleep(30)", 0, NULL, NULL, &r, &err);
    pthread_join(th, NULL);
    assert_int_equal(rc, PGCM_ECONN);
    assert_string_equal(err.sqlstate, "57P01");
    assert_string_equal(pgcm_result_error(r)->sqlstate, "57P01");
    assert_non_null(strstr(err.message, "FATAL: terminating connection due "
                                        "to administrator command"));
    assert_null(strstr(err.message, "  "));
    assert_null(strchr(err.message, '\n'));
    pgcm_result_free(r);

    /* idle: the node's health record carries it */
    assert_int_equal(
        pgcm_query(mgr, "solo", "SELECT 1", 0, NULL, NULL, NULL, &err),
        PGCM_OK);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE application_name = '%s'",
             fixture_app_name());
    char *v = fixture_exec(pg[0], sql);
    free(v);
    pgcm_health_t h;
    int64_t deadline = fixture_now_ms() + 3000;
    do {
        fixture_sleep_ms(20);
        assert_int_equal(pgcm_node_health(mgr, "solo", &h), PGCM_OK);
    } while (strcmp(h.last_sqlstate, "57P01") != 0 &&
             fixture_now_ms() < deadline);
    assert_string_equal(h.last_sqlstate, "57P01");
    assert_non_null(strstr(h.last_error, "FATAL: terminating connection"));
    assert_null(strstr(h.last_error, "  "));
    fixture_manager_free(mgr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_timeout_never_hits_next_statement,
                                  test_teardown),
        cmocka_unit_test_teardown(test_cancel_never_hits_next_statement,
                                  test_teardown),
        cmocka_unit_test_teardown(
            test_checkout_timeout_never_hits_next_statement, test_teardown),
        cmocka_unit_test_teardown(test_terminated_connection_keeps_sqlstate,
                                  test_teardown),
        cmocka_unit_test_teardown(test_churn_every_failure_explained,
                                  test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, fixture_group_teardown);
}
