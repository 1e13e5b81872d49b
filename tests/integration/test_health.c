/* SPDX-License-Identifier: MIT */
/*
 * test_health.c - libpgcm's node health (issue 3) against real faults on
 * real local servers, with the manager's default options unless a test is
 * about an option: SIGKILL of a server with an idle pool and with queries in
 * flight, then restart (recovery and pool refill without any call from the
 * user); SIGSTOP of every process of a server, idle and with its only
 * connection busy with a long query, then SIGCONT; a network cut
 * through the fault proxy (black hole), then healed; every node unreachable
 * at start, started later; a node failing one probe in three (no flapping);
 * query_healthy skipping a killed node; pool stats events at the health
 * check interval. Each test asserts the sequence of events (health_changed,
 * threshold_reached, node_disconnected, node_connected) with their times,
 * and that no connection of ours is left on any server.
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

#include "faultproxy.h"
#include "fixture.h"
#include "health_events.h"

#define NSERVERS 3

static localpg_server_t **pg;
static pgcm_node_spec_t specs[NSERVERS];
static const char *const ids[NSERVERS] = {"alpha", "beta", "gamma"};

static hrec_t rec = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* What the running test left that the teardown must undo, so that one
 * failure does not cascade: its manager (the fixture tracks it), its proxy,
 * a frozen server. */
static faultproxy_t *proxy;
static int frozen[NSERVERS];

static int group_setup(void **state)
{
    (void)state;
    pg = fixture_start_nodes(NSERVERS, NULL, ids, specs);
    return 0;
}

static int test_setup(void **state)
{
    (void)state;
    hrec_reset(&rec);
    return 0;
}

static void thaw(int i)
{
    if (frozen[i]) {
        assert_int_equal(localpg_thaw(pg[i]), 0);
        frozen[i] = 0;
    }
}

/* Every test ends here: none of our connections may remain. */
static int test_teardown(void **state)
{
    (void)state;
    fixture_manager_free_all();
    faultproxy_stop(proxy);
    proxy = NULL;
    for (int i = 0; i < NSERVERS; i++)
        thaw(i);
    fixture_test_end(pg, NSERVERS);
    return 0;
}

/* A query to a node known to be down fails at once with EUNAVAIL. */
static void expect_query_unavailable(pgcm_manager_t *mgr, const char *node)
{
    pgcm_result_t *r = NULL;
    pgcm_error_t err;
    int64_t t0 = fixture_now_ms();
    int rc = pgcm_query(mgr, node, "SELECT 1", 0, NULL, NULL, &r, &err);
    int64_t took = fixture_now_ms() - t0;
    pgcm_result_free(r);
    HREC_CHECK(&rec, 0, rc == PGCM_EUNAVAIL,
               "query on down node %s: %s (%s), expected EUNAVAIL", node,
               pgcm_err_name(rc), err.message);
    HREC_CHECK(&rec, 0, took < 500,
               "query on down node %s took %lld ms to fail", node,
               (long long)took);
    assert_non_null(strstr(err.message, node));
}

typedef struct stats_want {
    pgcm_manager_t *mgr;
    const char *node;
    int min_total;
} stats_want_t;

static int pool_has(void *user)
{
    stats_want_t *w = user;
    pgcm_pool_stats_t st;
    return pgcm_node_stats(w->mgr, w->node, &st) == PGCM_OK &&
           st.total >= w->min_total;
}

/* alpha healthy again within 12 s of the end of a fault (fault, e.g.
 * "freeze") at ended (hwall_ms) by its end (e.g. "thaw"), by the events
 * since mark; then a connection in its pool within 2 s and a query
 * answered. */
static void expect_alpha_back(pgcm_manager_t *mgr, size_t mark, int64_t ended,
                              const char *fault, const char *end)
{
    int64_t up_at = hrec_expect_up(&rec, mark, "alpha", 12000);
    print_message("%s: healthy %lld ms after the %s\n", fault,
                  (long long)(up_at - ended), end);
    stats_want_t one = {mgr, "alpha", 1};
    HREC_CHECK(&rec, mark, fixture_wait_for(pool_has, &one, 2000),
               "pool of alpha not refilled after the %s", end);
    hrec_expect_query_ok(&rec, mgr, "alpha");
}

/* ---- SIGKILL ------------------------------------------------------------- */

static void test_kill_idle_pool_then_restart(void **state)
{
    (void)state;
    pgcm_node_spec_t s = specs[0];
    s.pool.min = 2;
    pgcm_manager_t *mgr = hrec_start_manager(&rec, NULL, &s, 1);
    hrec_expect_state(&rec, mgr, "alpha", PGCM_NODE_HEALTHY);
    stats_want_t full = {mgr, "alpha", 2};
    assert_true(fixture_wait_for(pool_has, &full, 2000));
    fixture_sleep_ms(300); /* an idle pool, nothing in flight */

    size_t mark = hrec_mark(&rec);
    int64_t fault = hwall_ms();
    assert_int_equal(localpg_kill(pg[0]), 0);
    int64_t took = hrec_expect_down(&rec, mark, "alpha", fault, 1500, 5000);
    print_message("kill (idle pool): unhealthy after %lld ms\n",
                  (long long)took);
    hrec_expect_state(&rec, mgr, "alpha", PGCM_NODE_UNHEALTHY);
    pgcm_health_t h;
    assert_int_equal(pgcm_node_health(mgr, "alpha", &h), PGCM_OK);
    assert_true(h.consecutive_failures >= 3);
    assert_true(h.next_retry_ms > 0);
    assert_true(h.last_error[0] != '\0');
    expect_query_unavailable(mgr, "alpha");
    /* Its connections are closed while it is down. */
    pgcm_pool_stats_t st;
    assert_int_equal(pgcm_node_stats(mgr, "alpha", &st), PGCM_OK);
    assert_true(st.idle == 0 && st.active == 0);

    /* Back by itself: no call from us but localpg's restart. */
    size_t mark_up = hrec_mark(&rec);
    int64_t restarting = hwall_ms();
    assert_int_equal(localpg_restart(pg[0]), 0);
    int64_t restarted = hwall_ms();
    int64_t up_at = hrec_expect_up(&rec, mark_up, "alpha", 12000);
    print_message("kill (idle pool): healthy %lld ms after the restart began "
                  "(it took %lld ms)\n",
                  (long long)(up_at - restarting),
                  (long long)(restarted - restarting));
    HREC_CHECK(&rec, mark, fixture_wait_for(pool_has, &full, 2000),
               "pool of alpha not refilled to min 2 after recovery");
    hrec_expect_query_ok(&rec, mgr, "alpha");
    hrec_expect_state(&rec, mgr, "alpha", PGCM_NODE_HEALTHY);
    fixture_manager_free(mgr);
}

typedef struct query_wait {
    pthread_mutex_t lock;
    int done;
    int status;
    int64_t at_ms;
    char message[512];
} query_wait_t;

static void on_query(pgcm_result_t *r, void *user)
{
    query_wait_t *w = user;
    pthread_mutex_lock(&w->lock);
    w->status = pgcm_result_status(r);
    snprintf(w->message, sizeof w->message, "%s",
             pgcm_result_error(r)->message);
    w->at_ms = fixture_now_ms();
    w->done = 1;
    pthread_mutex_unlock(&w->lock);
    pgcm_result_free(r);
}

static int query_done(void *user)
{
    query_wait_t *w = user;
    pthread_mutex_lock(&w->lock);
    int d = w->done;
    pthread_mutex_unlock(&w->lock);
    return d;
}

#define INFLIGHT 3

static void test_kill_with_queries_in_flight(void **state)
{
    (void)state;
    pgcm_manager_t *mgr = hrec_start_manager(&rec, NULL, &specs[0], 1);
    hrec_expect_state(&rec, mgr, "alpha", PGCM_NODE_HEALTHY);
    query_wait_t w[INFLIGHT];
    pgcm_error_t err;
    for (int i = 0; i < INFLIGHT; i++) {
        memset(&w[i], 0, sizeof w[i]);
        pthread_mutex_init(&w[i].lock, NULL);
        assert_int_equal(pgcm_query_async(mgr, "alpha", "SELECT pg_sleep(30)",
                                          0, NULL, NULL, on_query, &w[i], NULL,
                                          &err),
                         PGCM_OK);
    }
    fixture_wait_active(pg[0], "SELECT pg_sleep(30)%", INFLIGHT, 5000);

    size_t mark = hrec_mark(&rec);
    int64_t fault = hwall_ms();
    int64_t fault_mono = fixture_now_ms();
    assert_int_equal(localpg_kill(pg[0]), 0);
    for (int i = 0; i < INFLIGHT; i++) {
        HREC_CHECK(&rec, mark, fixture_wait_for(query_done, &w[i], 3000),
                   "query %d still running 3 s after its server was killed", i);
        HREC_CHECK(&rec, mark, w[i].status != PGCM_OK,
                   "query %d on a killed server succeeded", i);
        print_message("kill (in flight): query %d ended after %lld ms with "
                      "%s: %s\n",
                      i, (long long)(w[i].at_ms - fault_mono),
                      pgcm_err_name(w[i].status), w[i].message);
        assert_non_null(strstr(w[i].message, "alpha"));
    }
    int64_t took = hrec_expect_down(&rec, mark, "alpha", fault, 1500, 5000);
    print_message("kill (in flight): unhealthy after %lld ms\n",
                  (long long)took);
    hrec_expect_state(&rec, mgr, "alpha", PGCM_NODE_UNHEALTHY);
    pgcm_pool_stats_t st;
    assert_int_equal(pgcm_node_stats(mgr, "alpha", &st), PGCM_OK);
    assert_int_equal(st.active, 0);
    assert_int_equal(st.errors, INFLIGHT);
    fixture_manager_free(mgr);
    for (int i = 0; i < INFLIGHT; i++)
        pthread_mutex_destroy(&w[i].lock);
}

/* ---- SIGSTOP ------------------------------------------------------------- */

static void test_freeze_then_thaw(void **state)
{
    (void)state;
    pgcm_manager_t *mgr = hrec_start_manager(&rec, NULL, &specs[0], 1);
    hrec_expect_state(&rec, mgr, "alpha", PGCM_NODE_HEALTHY);
    fixture_sleep_ms(300);

    size_t mark = hrec_mark(&rec);
    int64_t fault = hwall_ms();
    assert_int_equal(localpg_freeze(pg[0]), 0);
    frozen[0] = 1;
    int64_t took = hrec_expect_down(&rec, mark, "alpha", fault, 2500, 6000);
    print_message("freeze: unhealthy after %lld ms\n", (long long)took);
    expect_query_unavailable(mgr, "alpha");
    /* Still failing fast a while later, during reconnect attempts too. */
    fixture_sleep_ms(1200);
    expect_query_unavailable(mgr, "alpha");

    size_t mark_up = hrec_mark(&rec);
    int64_t thawed = hwall_ms();
    thaw(0);
    expect_alpha_back(mgr, mark_up, thawed, "freeze", "thaw");
    fixture_manager_free(mgr);
    /* The teardown proves that no connection of ours is left on it. */
}

/* A hung server whose only connection is busy with a long query: there is
 * no idle connection for the heartbeat, yet the node must still be found
 * unhealthy within 2 s, and the query must end with an error then instead
 * of waiting for its 30 s timeout. */
static void test_freeze_with_query_in_flight(void **state)
{
    (void)state;
    pgcm_manager_t *mgr = hrec_start_manager(&rec, NULL, &specs[0], 1);
    hrec_expect_state(&rec, mgr, "alpha", PGCM_NODE_HEALTHY);
    query_wait_t w;
    memset(&w, 0, sizeof w);
    pthread_mutex_init(&w.lock, NULL);
    pgcm_error_t err;
    assert_int_equal(pgcm_query_async(mgr, "alpha", "SELECT pg_sleep(30)", 0,
                                      NULL, NULL, on_query, &w, NULL, &err),
                     PGCM_OK);
    fixture_wait_active(pg[0], "SELECT pg_sleep(30)%", 1, 5000);
    pgcm_pool_stats_t st;
    assert_int_equal(pgcm_node_stats(mgr, "alpha", &st), PGCM_OK);
    assert_int_equal(st.idle, 0); /* the heartbeat has nothing idle */
    fixture_sleep_ms(300);

    size_t mark = hrec_mark(&rec);
    int64_t fault = hwall_ms();
    int64_t fault_mono = fixture_now_ms();
    assert_int_equal(localpg_freeze(pg[0]), 0);
    frozen[0] = 1;
    int64_t took = hrec_expect_down(&rec, mark, "alpha", fault, 2500, 10000);
    print_message("freeze (query in flight): unhealthy after %lld ms\n",
                  (long long)took);
    HREC_CHECK(&rec, mark, fixture_wait_for(query_done, &w, 1000),
               "the query on the hung server still runs after the node "
               "turned unhealthy");
    print_message("freeze (query in flight): the query ended after %lld ms "
                  "with %s: %s\n",
                  (long long)(w.at_ms - fault_mono), pgcm_err_name(w.status),
                  w.message);
    assert_int_not_equal(w.status, PGCM_OK);
    expect_query_unavailable(mgr, "alpha");

    size_t mark_up = hrec_mark(&rec);
    thaw(0);
    hrec_expect_up(&rec, mark_up, "alpha", 12000);
    hrec_expect_query_ok(&rec, mgr, "alpha");
    fixture_manager_free(mgr);
    pthread_mutex_destroy(&w.lock);
}

/* ---- network cut --------------------------------------------------------- */

static void test_network_cut_then_heal(void **state)
{
    (void)state;
    int port =
        fixture_proxy_start(localpg_host(pg[0]), localpg_port(pg[0]), &proxy);
    pgcm_node_spec_t s = specs[0];
    s.port = port;
    pgcm_manager_t *mgr = hrec_start_manager(&rec, NULL, &s, 1);
    hrec_expect_state(&rec, mgr, "alpha", PGCM_NODE_HEALTHY);
    fixture_sleep_ms(300);

    size_t mark = hrec_mark(&rec);
    int64_t fault = hwall_ms();
    faultproxy_blackhole(proxy);
    int64_t took = hrec_expect_down(&rec, mark, "alpha", fault, 2500, 6000);
    print_message("network cut: unhealthy after %lld ms\n", (long long)took);
    expect_query_unavailable(mgr, "alpha");

    long accepted = faultproxy_accepted(proxy);
    size_t mark_up = hrec_mark(&rec);
    int64_t healed = hwall_ms();
    faultproxy_pass(proxy);
    expect_alpha_back(mgr, mark_up, healed, "network cut", "heal");
    /* It came back over new connections through the proxy. */
    assert_true(faultproxy_accepted(proxy) > accepted);
    fixture_manager_free(mgr);
}

/* ---- nothing reachable at start ------------------------------------------ */

static void test_all_unreachable_at_start(void **state)
{
    (void)state;
    assert_int_equal(localpg_stop(pg[0]), 0);
    assert_int_equal(localpg_stop(pg[1]), 0);
    int64_t t0 = fixture_now_ms();
    pgcm_manager_t *mgr = hrec_start_manager(&rec, NULL, specs, 2);
    int64_t took = fixture_now_ms() - t0;
    print_message("unreachable at start: pgcm_manager_start returned after "
                  "%lld ms\n",
                  (long long)took);
    HREC_CHECK(&rec, 0, took < 2000, "pgcm_manager_start took %lld ms",
               (long long)took);
    for (int i = 0; i < 2; i++) {
        hrec_expect_state(&rec, mgr, ids[i], PGCM_NODE_UNHEALTHY);
        pgcm_health_t h;
        assert_int_equal(pgcm_node_health(mgr, ids[i], &h), PGCM_OK);
        assert_int_equal(h.last_error_code, PGCM_ECONN);
        assert_non_null(strstr(h.last_error, "refused"));
        assert_true(h.next_retry_ms > 0);
        /* connecting -> unhealthy, threshold reached; never connected, so
         * never disconnected */
        /* (the state is published just before its event is delivered) */
        long down = hrec_wait(&rec, 0, PGCM_EV_HEALTH_CHANGED, ids[i],
                              PGCM_NODE_UNHEALTHY, 1000);
        HREC_CHECK(&rec, 0, down >= 0, "no health_changed to unhealthy");
        HREC_CHECK(&rec, 0,
                   hrec_get(&rec, (size_t)down).old_state ==
                       PGCM_NODE_CONNECTING,
                   "%s: expected connecting -> unhealthy", ids[i]);
        HREC_CHECK(&rec, 0,
                   hrec_wait(&rec, 0, PGCM_EV_THRESHOLD_REACHED, ids[i], -1,
                             1000) > down,
                   "%s: no threshold_reached", ids[i]);
        HREC_CHECK(&rec, 0,
                   hrec_count(&rec, 0, PGCM_EV_NODE_DISCONNECTED, ids[i]) == 0,
                   "%s: node_disconnected for a node never connected", ids[i]);
    }

    size_t mark = hrec_mark(&rec);
    int64_t started = hwall_ms();
    assert_int_equal(localpg_restart(pg[0]), 0);
    assert_int_equal(localpg_restart(pg[1]), 0);
    for (int i = 0; i < 2; i++) {
        int64_t up_at = hrec_expect_up(&rec, mark, ids[i], 12000);
        print_message("unreachable at start: %s healthy %lld ms after its "
                      "server was started\n",
                      ids[i], (long long)(up_at - started));
        stats_want_t one = {mgr, ids[i], 1};
        HREC_CHECK(&rec, 0, fixture_wait_for(pool_has, &one, 2000),
                   "pool of %s not refilled", ids[i]);
        hrec_expect_query_ok(&rec, mgr, ids[i]);
    }
    /* The reconnect attempts were spaced by the backoff, 1 s, 2 s, ... */
    int64_t at[16];
    int n = hrec_retry_times(&rec, 0, "alpha", at, 16);
    for (int i = 1; i < n; i++) {
        int64_t gap = at[i] - at[i - 1];
        HREC_CHECK(&rec, 0, gap >= 700,
                   "reconnect attempts of alpha %lld ms apart", (long long)gap);
    }
    fixture_manager_free(mgr);
}

/* ---- intermittent failures ----------------------------------------------- */

typedef struct flapper {
    faultproxy_t *proxy;
    atomic_int stop;
    int resets;
} flapper_t;

/* Every 600 ms (three probe intervals), reset every connection through the
 * proxy for 30 ms: the probe then in flight or the one it triggers fails,
 * the next one (50 ms later at the earliest) passes. */
static void *flap(void *p)
{
    flapper_t *f = p;
    while (!atomic_load(&f->stop)) {
        fixture_sleep_ms(570);
        if (atomic_load(&f->stop))
            break;
        faultproxy_reset(f->proxy);
        fixture_sleep_ms(30);
        faultproxy_pass(f->proxy);
        f->resets++;
    }
    return NULL;
}

/* Event i (e) since mark of a node that must not flap: a change of health
 * only between healthy and degraded, never its threshold reached nor its
 * connection lost. */
static void assert_no_flap(size_t mark, size_t i, hev_t e)
{
    if (e.type == PGCM_EV_HEALTH_CHANGED)
        HREC_CHECK(&rec, mark,
                   (e.old_state == PGCM_NODE_HEALTHY &&
                    e.new_state == PGCM_NODE_DEGRADED) ||
                       (e.old_state == PGCM_NODE_DEGRADED &&
                        e.new_state == PGCM_NODE_HEALTHY),
                   "flapped: %s->%s at [%zu]",
                   pgcm_node_state_name(e.old_state),
                   pgcm_node_state_name(e.new_state), i);
    HREC_CHECK(&rec, mark,
               e.type != PGCM_EV_THRESHOLD_REACHED &&
                   e.type != PGCM_EV_NODE_DISCONNECTED,
               "%s at [%zu]: the node went down", pgcm_event_type_name(e.type),
               i);
}

static void test_intermittent_failures_do_not_flap(void **state)
{
    (void)state;
    int port =
        fixture_proxy_start(localpg_host(pg[0]), localpg_port(pg[0]), &proxy);
    pgcm_node_spec_t s = specs[0];
    s.port = port;
    pgcm_options_t o;
    pgcm_options_init(&o);
    o.health_check_interval_ms = 200;
    o.liveness_interval_ms = 0;
    pgcm_manager_t *mgr = hrec_start_manager(&rec, &o, &s, 1);
    hrec_expect_state(&rec, mgr, "alpha", PGCM_NODE_HEALTHY);
    pgcm_pool_stats_t before, after;
    assert_int_equal(pgcm_node_stats(mgr, "alpha", &before), PGCM_OK);

    size_t mark = hrec_mark(&rec);
    flapper_t f = {proxy, 0, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, flap, &f), 0);
    fixture_sleep_ms(4500);
    atomic_store(&f.stop, 1);
    pthread_join(th, NULL);
    fixture_sleep_ms(300);
    assert_int_equal(pgcm_node_stats(mgr, "alpha", &after), PGCM_OK);

    uint64_t probes = after.probes - before.probes;
    uint64_t failed = after.probe_failures - before.probe_failures;
    print_message("intermittent: %d resets, %llu probes, %llu failed, "
                  "%d health changes\n",
                  f.resets, (unsigned long long)probes,
                  (unsigned long long)failed,
                  hrec_count(&rec, mark, PGCM_EV_HEALTH_CHANGED, "alpha"));
    HREC_CHECK(&rec, mark, probes >= 20, "only %llu probes in 4.5 s",
               (unsigned long long)probes);
    /* the faults did reach the probes... */
    HREC_CHECK(&rec, mark, failed >= 3,
               "only %llu failed probes: the faults were not seen",
               (unsigned long long)failed);
    HREC_CHECK(&rec, mark,
               hrec_find(&rec, mark, PGCM_EV_HEALTH_CHANGED, "alpha",
                         PGCM_NODE_DEGRADED) >= 0,
               "never degraded despite %llu failed probes",
               (unsigned long long)failed);
    /* ...and the node moved only between healthy and degraded */
    size_t end = hrec_mark(&rec);
    for (size_t i = mark; i < end; i++)
        assert_no_flap(mark, i, hrec_get(&rec, i));
    hrec_expect_state(&rec, mgr, "alpha", PGCM_NODE_HEALTHY);
    hrec_expect_query_ok(&rec, mgr, "alpha");
    fixture_manager_free(mgr);
}

/* The same without the network: the probe query itself fails exactly one
 * time in three (division by zero on every third value of a sequence), so
 * the connection stays open and the pattern does not depend on how fast
 * the host opens connections. */
static void test_probe_failing_one_in_three_does_not_flap(void **state)
{
    (void)state;
    free(fixture_exec(pg[0], "DROP SEQUENCE IF EXISTS health_probe_seq; "
                             "CREATE SEQUENCE health_probe_seq"));
    pgcm_options_t o;
    pgcm_options_init(&o);
    o.health_check_interval_ms = 200;
    o.liveness_interval_ms = 0;
    o.probe_query = "SELECT 1 / (nextval('health_probe_seq') % 3)::int";
    pgcm_manager_t *mgr = hrec_start_manager(&rec, &o, &specs[0], 1);
    hrec_expect_state(&rec, mgr, "alpha", PGCM_NODE_HEALTHY);
    pgcm_pool_stats_t before, after;
    assert_int_equal(pgcm_node_stats(mgr, "alpha", &before), PGCM_OK);
    size_t mark = hrec_mark(&rec);
    fixture_sleep_ms(4500);
    fixture_manager_free(mgr); /* no probe after this: the counts are final */
    size_t end = hrec_mark(&rec);

    /* the stats of the last event before the end */
    long last = -1;
    for (size_t i = mark; i < end; i++)
        if (hrec_get(&rec, i).type == PGCM_EV_POOL_STATS)
            last = (long)i;
    assert_true(last >= 0);
    after = hrec_get(&rec, (size_t)last).stats;
    uint64_t probes = after.probes - before.probes;
    uint64_t failed = after.probe_failures - before.probe_failures;
    int degraded = 0;
    for (size_t i = mark; i < end; i++) {
        hev_t e = hrec_get(&rec, i);
        if (e.type == PGCM_EV_HEALTH_CHANGED &&
            e.new_state == PGCM_NODE_DISCONNECTED)
            break; /* the removal at the end */
        assert_no_flap(mark, i, e);
        if (e.type == PGCM_EV_HEALTH_CHANGED &&
            e.new_state == PGCM_NODE_DEGRADED) {
            degraded++;
            HREC_CHECK(&rec, mark, e.error_code == PGCM_ESQL,
                       "degraded by %s, expected ESQL",
                       pgcm_err_name(e.error_code));
        }
    }
    print_message("probe failing 1 in 3: %llu probes, %llu failed, %d times "
                  "degraded\n",
                  (unsigned long long)probes, (unsigned long long)failed,
                  degraded);
    HREC_CHECK(&rec, mark, probes >= 20, "only %llu probes in 4.5 s",
               (unsigned long long)probes);
    HREC_CHECK(&rec, mark, failed * 3 >= probes - 3 && failed * 3 <= probes + 3,
               "%llu of %llu probes failed, expected one in three",
               (unsigned long long)failed, (unsigned long long)probes);
    HREC_CHECK(&rec, mark, degraded >= (int)failed - 1,
               "%llu failed probes but only %d turns to degraded",
               (unsigned long long)failed, degraded);
    free(fixture_exec(pg[0], "DROP SEQUENCE health_probe_seq"));
}

/* ---- query_healthy ------------------------------------------------------- */

static void test_query_healthy_skips_killed_node(void **state)
{
    (void)state;
    pgcm_manager_t *mgr = hrec_start_manager(&rec, NULL, specs, NSERVERS);
    pgcm_target_t healthy = {PGCM_TARGET_HEALTHY, NULL, 0};
    pgcm_batch_t *b = NULL;
    pgcm_error_t err;
    assert_int_equal(
        pgcm_query_many(mgr, &healthy, "SELECT 1", 0, NULL, NULL, &b, &err),
        PGCM_OK);
    assert_int_equal(pgcm_batch_count(b), NSERVERS);
    assert_int_equal(pgcm_batch_succeeded(b), NSERVERS);
    pgcm_batch_free(b);

    size_t mark = hrec_mark(&rec);
    int64_t fault = hwall_ms();
    assert_int_equal(localpg_kill(pg[1]), 0);
    hrec_expect_down(&rec, mark, "beta", fault, 1500, 5000);
    assert_int_equal(pgcm_query_many(mgr, &healthy,
                                     "SELECT current_setting('port')", 0, NULL,
                                     NULL, &b, &err),
                     PGCM_OK);
    assert_int_equal(pgcm_batch_count(b), 2);
    assert_int_equal(pgcm_batch_succeeded(b), 2);
    assert_string_equal(pgcm_result_node_id(pgcm_batch_result(b, 0)), "alpha");
    assert_string_equal(pgcm_result_node_id(pgcm_batch_result(b, 1)), "gamma");
    assert_int_equal(atoi(pgcm_result_value(pgcm_batch_result(b, 1), 0, 0)),
                     localpg_port(pg[2]));
    pgcm_batch_free(b);
    /* ALL still targets it, and its part fails at once. */
    int64_t t0 = fixture_now_ms();
    assert_int_equal(
        pgcm_query_many(mgr, NULL, "SELECT 1", 0, NULL, NULL, &b, &err),
        PGCM_OK);
    assert_true(fixture_now_ms() - t0 < 1000);
    assert_int_equal(pgcm_batch_count(b), NSERVERS);
    assert_int_equal(pgcm_result_status(pgcm_batch_result(b, 1)),
                     PGCM_EUNAVAIL);
    pgcm_batch_free(b);
    fixture_manager_free(mgr);
}

/* ---- pool stats events --------------------------------------------------- */

static void test_pool_stats_at_health_interval(void **state)
{
    (void)state;
    pgcm_options_t o;
    pgcm_options_init(&o);
    o.health_check_interval_ms = 300;
    pgcm_manager_t *mgr = hrec_start_manager(&rec, &o, specs, 2);
    fixture_sleep_ms(500);
    size_t mark = hrec_mark(&rec);
    fixture_sleep_ms(3000);
    size_t end = hrec_mark(&rec);
    for (int k = 0; k < 2; k++) {
        int count = 0;
        int64_t first = 0, last = 0, max_gap = 0, prev = 0;
        for (size_t i = mark; i < end; i++) {
            hev_t e = hrec_get(&rec, i);
            if (e.type != PGCM_EV_POOL_STATS || strcmp(e.node, ids[k]) != 0)
                continue;
            assert_true(e.has_stats);
            assert_int_equal(e.stats.min, specs[k].pool.min);
            assert_int_equal(e.stats.max, specs[k].pool.max);
            assert_true(e.stats.total >= 1);
            assert_true(e.stats.probes > 0);
            if (count == 0)
                first = e.time_ms;
            else if (e.time_ms - prev > max_gap)
                max_gap = e.time_ms - prev;
            prev = last = e.time_ms;
            count++;
        }
        double mean = count > 1 ? (double)(last - first) / (count - 1) : 0;
        print_message("pool stats: %s: %d events in 3 s, mean gap %.0f ms, "
                      "max gap %lld ms\n",
                      ids[k], count, mean, (long long)max_gap);
        /* ~3 a second at a 300 ms interval */
        HREC_CHECK(&rec, mark, count >= 8 && count <= 12,
                   "%s: %d pool_stats events in 3 s at a 300 ms interval "
                   "(mean gap %.0f ms); expected 10 +- 2",
                   ids[k], count, mean);
        HREC_CHECK(&rec, mark, mean >= 250 && mean <= 375,
                   "%s: pool_stats every %.0f ms, expected ~300", ids[k], mean);
    }
    fixture_manager_free(mgr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kill_idle_pool_then_restart,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_kill_with_queries_in_flight,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_freeze_then_thaw, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_freeze_with_query_in_flight,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_network_cut_then_heal, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_all_unreachable_at_start,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_intermittent_failures_do_not_flap,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(
            test_probe_failing_one_in_three_does_not_flap, test_setup,
            test_teardown),
        cmocka_unit_test_setup_teardown(test_query_healthy_skips_killed_node,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_pool_stats_at_health_interval,
                                        test_setup, test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, fixture_group_teardown);
}
