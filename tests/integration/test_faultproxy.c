/* SPDX-License-Identifier: MIT */
/*
 * test_faultproxy.c - the fault-injecting TCP proxy in front of a real
 * server: pass-through, black hole (a query hangs, the server sees nothing
 * new, and the connection heals), reset (fails fast, new connections too),
 * delay, and a clean stop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "faultproxy.h"
#include "fixture.h"
#include "localpg.h"

typedef struct world {
    localpg_server_t *pg;
    faultproxy_t *proxy;
    char info[256]; /* conninfo through the proxy */
} world_t;

static world_t g_world;

/* One server for the group; a fresh proxy for each test. */
static int group_setup(void **state)
{
    (void)state;
    g_world.pg = fixture_start(1, NULL)[0];
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    fixture_stop_all();
    return 0;
}

static int setup(void **state)
{
    g_world.proxy = NULL;
    char err[512];
    int port =
        faultproxy_start(localpg_host(g_world.pg), localpg_port(g_world.pg),
                         &g_world.proxy, err, sizeof err);
    if (port < 0)
        fail_msg("%s", err);
    assert_int_equal(port, faultproxy_port(g_world.proxy));
    snprintf(g_world.info, sizeof g_world.info,
             "host=127.0.0.1 port=%d user=postgres dbname=postgres "
             "sslmode=disable gssencmode=disable connect_timeout=10 "
             "application_name=%s",
             port, fixture_app_name());
    *state = &g_world;
    return 0;
}

static int teardown(void **state)
{
    world_t *w = *state;
    faultproxy_stop(w->proxy);
    w->proxy = NULL;
    fixture_assert_no_connections(&w->pg, 1, NULL);
    return 0;
}

static PGconn *connect_ok(const world_t *w)
{
    PGconn *c = PQconnectdb(w->info);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect through the proxy: %s", PQerrorMessage(c));
    return c;
}

/* Wait for the current query's result: 1 complete, 0 timed out, -1 the
 * connection failed. */
static int wait_result(PGconn *c, int timeout_ms)
{
    int64_t deadline = fixture_now_ms() + timeout_ms;
    for (;;) {
        if (!PQconsumeInput(c))
            return -1;
        if (!PQisBusy(c))
            return 1;
        int64_t left = deadline - fixture_now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {PQsocket(c), POLLIN, 0};
        if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
            return -1;
    }
}

/* The value of a finished single-row query, or NULL on error. */
static char *take_value(PGconn *c)
{
    char *v = NULL;
    PGresult *r;
    while ((r = PQgetResult(c)) != NULL) {
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !v)
            v = strdup(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    return v;
}

static char *query(PGconn *c, const char *sql, int timeout_ms)
{
    if (!PQsendQuery(c, sql))
        return NULL;
    if (wait_result(c, timeout_ms) != 1)
        return NULL;
    return take_value(c);
}

static void test_pass(void **state)
{
    world_t *w = *state;
    PGconn *c = connect_ok(w);
    char *v = query(c, "SELECT 40 + 2", 5000);
    assert_non_null(v);
    assert_string_equal(v, "42");
    free(v);
    assert_int_equal(faultproxy_connections(w->proxy), 1);
    assert_true(faultproxy_accepted(w->proxy) >= 1);
    PQfinish(c);
}

static void test_blackhole_hangs_then_heals(void **state)
{
    world_t *w = *state;
    PGconn *c = connect_ok(w);
    const char *needle = "connection received: host=127.0.0.1";
    int seen = fixture_log_count(w->pg, needle);

    faultproxy_blackhole(w->proxy);
    assert_int_equal(faultproxy_mode(w->proxy), FAULTPROXY_BLACKHOLE);
    assert_int_equal(PQsendQuery(c, "SELECT 'late'"), 1);
    assert_int_equal(wait_result(c, 700), 0); /* hangs, no error */

    /* A new connection is accepted but never answered, and the server
     * never hears of it. */
    char err[512];
    assert_int_equal(fixture_try_connect(w->info, 500, err, sizeof err), -1);
    assert_int_equal(fixture_log_count(w->pg, needle), seen);

    /* Healing: the bytes held back flow and the query completes. */
    faultproxy_pass(w->proxy);
    assert_int_equal(wait_result(c, 5000), 1);
    char *v = take_value(c);
    assert_non_null(v);
    assert_string_equal(v, "late");
    free(v);
    v = query(c, "SELECT 1", 5000);
    assert_non_null(v);
    free(v);
    PQfinish(c);
}

static void test_reset_fails_fast(void **state)
{
    world_t *w = *state;
    PGconn *c = connect_ok(w);
    faultproxy_blackhole(w->proxy);
    assert_int_equal(PQsendQuery(c, "SELECT 1"), 1);
    assert_int_equal(wait_result(c, 300), 0);

    int64_t t0 = fixture_now_ms();
    faultproxy_reset(w->proxy);
    int rc = wait_result(c, 2000);
    if (rc == 1) { /* libpq may report the reset as an error result */
        char *v = take_value(c);
        assert_null(v);
        rc = -1;
    }
    assert_int_equal(rc, -1);
    assert_true(fixture_now_ms() - t0 < 2000);
    assert_int_not_equal(PQstatus(c), CONNECTION_OK);
    PQfinish(c);

    /* New connections are reset at once. */
    char err[512];
    t0 = fixture_now_ms();
    assert_int_equal(fixture_try_connect(w->info, 3000, err, sizeof err), 0);
    assert_true(fixture_now_ms() - t0 < 2000);

    /* Back to pass: new connections work. */
    faultproxy_pass(w->proxy);
    c = connect_ok(w);
    char *v = query(c, "SELECT 7", 5000);
    assert_non_null(v);
    assert_string_equal(v, "7");
    free(v);
    PQfinish(c);
}

static void test_delay(void **state)
{
    world_t *w = *state;
    PGconn *c = connect_ok(w);
    faultproxy_delay(w->proxy, 150);
    int64_t t0 = fixture_now_ms();
    char *v = query(c, "SELECT 1", 5000);
    int64_t took = fixture_now_ms() - t0;
    assert_non_null(v);
    free(v);
    /* The query and its answer each waited 150 ms. */
    assert_true(took >= 290);
    faultproxy_pass(w->proxy);
    v = query(c, "SELECT 2", 5000);
    assert_non_null(v);
    free(v);
    PQfinish(c);
}

static void test_stop_closes_connections(void **state)
{
    world_t *w = *state;
    PGconn *c = connect_ok(w);
    faultproxy_stop(w->proxy);
    /* The client sees the connection end. */
    PGresult *r = PQexec(c, "SELECT 1");
    assert_int_not_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    PQfinish(c);
    /* A fresh proxy for the teardown. */
    char err[512];
    assert_true(faultproxy_start("127.0.0.1", localpg_port(w->pg), &w->proxy,
                                 err, sizeof err) > 0);
}

static void test_server_down_behind_proxy(void **state)
{
    world_t *w = *state;
    assert_int_equal(localpg_stop(w->pg), 0);
    char err[512];
    int64_t t0 = fixture_now_ms();
    assert_int_equal(fixture_try_connect(w->info, 3000, err, sizeof err), 0);
    assert_true(fixture_now_ms() - t0 < 2000);
    assert_int_equal(localpg_restart(w->pg), 0);
    assert_int_equal(fixture_try_connect(w->info, 5000, err, sizeof err), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blackhole_hangs_then_heals, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reset_fails_fast, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_closes_connections, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_server_down_behind_proxy, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("faultproxy", tests, group_setup,
                                       group_teardown);
}
