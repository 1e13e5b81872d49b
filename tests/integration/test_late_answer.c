/* SPDX-License-Identifier: MIT */
/*
 * test_late_answer.c - libpgcm's late answers (docs/ARCHITECTURE.md,
 * Health) against a real PostgreSQL server slowed down by the fault proxy's
 * DELAY mode, which holds every chunk, both ways, for a while: a heartbeat
 * answered after its deadline counts as a failure, but its connection waits
 * on for the answer and the suspect probe that follows takes it there, so a
 * slow server gets no new connections; an answer that never comes in time
 * still takes the node down and closes that connection, and the node comes
 * back over a new one; a full probe due while a heartbeat is out waits for
 * the heartbeat's answer instead of opening a second connection. The tests
 * assert events, counts and connection reasons, not timings: the options
 * keep every deadline far from the answers' delays.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "faultproxy.h"
#include "fixture.h"
#include "health_events.h"

/* Deadlines of every test here, chosen so that an answer delayed by
 * SLOW_MS each way (a round trip of at least 2 x SLOW_MS = 600 ms) misses
 * the heartbeat's deadline by 400 ms or more, yet comes 1.6 s or more
 * before the deadline of the suspect probe that follows (sent about
 * SUSPECT_GAP_MS, 50 ms, after the heartbeat failed). */
#define LIVENESS_INTERVAL_MS 500
#define LIVENESS_TIMEOUT_MS  200
#define SUSPECT_TIMEOUT_MS   2000
#define CHECK_TIMEOUT_MS     3000 /* a full probe's, and the late wait */
#define CHECK_INTERVAL_MS    2000
#define THRESHOLD            3
#define SLOW_MS              300
/* Far beyond every deadline: a round trip of 10 s, where the node goes
 * down after a heartbeat and two suspect probes, about 4.3 s after the
 * heartbeat went out. */
#define STALLED_MS 5000

static localpg_server_t **pg;
static pgcm_node_spec_t spec;

static hrec_t rec = {.lock = PTHREAD_MUTEX_INITIALIZER};
static faultproxy_t *proxy;

/* ---- a log of the node's connections and health checks ----------------- */

#define LOG_CAP 4096

typedef struct logline {
    char event[32];
    char message[200];
} logline_t;

static struct {
    pthread_mutex_t lock;
    size_t n;
    logline_t line[LOG_CAP];
} logbook = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The log hook (on the loop thread): keeps connection_* and health_check
 * records. */
static void on_log(const pgcm_log_record_t *r, void *user)
{
    (void)user;
    if (strncmp(r->event, "connection_", 11) != 0 &&
        strcmp(r->event, "health_check") != 0)
        return;
    pthread_mutex_lock(&logbook.lock);
    if (logbook.n < LOG_CAP) {
        logline_t *l = &logbook.line[logbook.n++];
        snprintf(l->event, sizeof l->event, "%s", r->event);
        snprintf(l->message, sizeof l->message, "%s", r->message);
    }
    pthread_mutex_unlock(&logbook.lock);
}

static size_t log_mark(void)
{
    pthread_mutex_lock(&logbook.lock);
    size_t n = logbook.n;
    pthread_mutex_unlock(&logbook.lock);
    return n;
}

/* Records in [from, to) of this event whose message contains `part` (NULL:
 * any); the first one's message goes to first (if not NULL). */
static int log_count(size_t from, size_t to, const char *event,
                     const char *part, char *first, size_t firstlen)
{
    int count = 0;
    pthread_mutex_lock(&logbook.lock);
    for (size_t i = from; i < to && i < logbook.n; i++) {
        const logline_t *l = &logbook.line[i];
        if (strcmp(l->event, event) != 0 ||
            (part != NULL && strstr(l->message, part) == NULL))
            continue;
        if (count++ == 0 && first != NULL)
            snprintf(first, firstlen, "%s", l->message);
    }
    pthread_mutex_unlock(&logbook.lock);
    return count;
}

/* Print the connection records in [from, to), for a failure's context. */
static void log_print(size_t from, size_t to)
{
    pthread_mutex_lock(&logbook.lock);
    print_message("connection log:\n");
    for (size_t i = from; i < to && i < logbook.n; i++)
        if (strncmp(logbook.line[i].event, "connection_", 11) == 0)
            print_message("  %s %s\n", logbook.line[i].event,
                          logbook.line[i].message);
    pthread_mutex_unlock(&logbook.lock);
}

/* ---- setup --------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    pg = fixture_start(1, NULL);
    fixture_node_spec(pg[0], "alpha", &spec);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    fixture_stop_all();
    return 0;
}

static int test_setup(void **state)
{
    (void)state;
    hrec_reset(&rec);
    pthread_mutex_lock(&logbook.lock);
    logbook.n = 0;
    pthread_mutex_unlock(&logbook.lock);
    return 0;
}

/* Every test ends here: none of our connections may remain. */
static int test_teardown(void **state)
{
    (void)state;
    fixture_manager_free_all();
    faultproxy_stop(proxy);
    proxy = NULL;
    fixture_assert_no_connections(pg, 1, NULL);
    return 0;
}

static void late_options(pgcm_options_t *o)
{
    pgcm_options_init(o);
    o->liveness_interval_ms = LIVENESS_INTERVAL_MS;
    o->liveness_timeout_ms = LIVENESS_TIMEOUT_MS;
    o->suspect_probe_timeout_ms = SUSPECT_TIMEOUT_MS;
    o->health_check_timeout_ms = CHECK_TIMEOUT_MS;
    o->health_check_interval_ms = CHECK_INTERVAL_MS;
    o->unhealthy_threshold = THRESHOLD;
    /* a late answer taken in time is a success, never "slow" */
    o->degraded_latency_ms = 60000;
    o->log_cb = on_log;
    o->log_level = PGCM_LOG_DEBUG;
}

/* Node alpha (one connection: pool min 1) behind a fresh proxy, healthy,
 * its first probe and connection settled. */
static pgcm_manager_t *start_behind_proxy(const pgcm_options_t *o)
{
    char err[512];
    int port = faultproxy_start(localpg_host(pg[0]), localpg_port(pg[0]),
                                &proxy, err, sizeof err);
    if (port < 0)
        fail_msg("%s", err);
    pgcm_node_spec_t s = spec;
    s.port = port;
    s.pool.min = 1;
    pgcm_manager_t *mgr = hrec_start_manager(&rec, o, &s, 1);
    hrec_expect_state(&rec, mgr, "alpha", PGCM_NODE_HEALTHY);
    fixture_sleep_ms(300);
    return mgr;
}

static pgcm_pool_stats_t stats_of(pgcm_manager_t *mgr)
{
    pgcm_pool_stats_t st;
    assert_int_equal(pgcm_node_stats(mgr, "alpha", &st), PGCM_OK);
    return st;
}

static int count_changes(size_t from, size_t to, pgcm_node_state_t old_state,
                         pgcm_node_state_t new_state)
{
    int n = 0;
    for (size_t i = from; i < to; i++) {
        hev_t e = hrec_get(&rec, i);
        if (e.type == PGCM_EV_HEALTH_CHANGED && e.old_state == old_state &&
            e.new_state == new_state)
            n++;
    }
    return n;
}

/* The node stays healthy for a while with nothing failing, over the
 * connections it has (none accepted by the proxy meanwhile). */
static void expect_settled_healthy(pgcm_manager_t *mgr, int ms)
{
    pgcm_pool_stats_t a = stats_of(mgr);
    long accepted = faultproxy_accepted(proxy);
    size_t mark = hrec_mark(&rec);
    fixture_sleep_ms(ms);
    pgcm_pool_stats_t b = stats_of(mgr);
    HREC_CHECK(&rec, mark, b.probe_failures == a.probe_failures,
               "%llu probes failed with the proxy passing everything",
               (unsigned long long)(b.probe_failures - a.probe_failures));
    HREC_CHECK(&rec, mark, b.probes > a.probes, "no probe in %d ms", ms);
    HREC_CHECK(&rec, mark, faultproxy_accepted(proxy) == accepted,
               "%ld connections opened with the proxy passing everything",
               faultproxy_accepted(proxy) - accepted);
    hrec_expect_state(&rec, mgr, "alpha", PGCM_NODE_HEALTHY);
    hrec_expect_query_ok(&rec, mgr, "alpha");
}

/* ---- a slow server: late answers taken on their connection --------------- */

static void test_late_heartbeat_answer_taken_on_its_connection(void **state)
{
    (void)state;
    pgcm_options_t o;
    late_options(&o);
    pgcm_manager_t *mgr = start_behind_proxy(&o);
    pgcm_pool_stats_t before = stats_of(mgr);
    long accepted = faultproxy_accepted(proxy);
    size_t mark = hrec_mark(&rec);
    size_t lmark = log_mark();

    faultproxy_delay(proxy, SLOW_MS);
    fixture_sleep_ms(6000);
    pgcm_pool_stats_t during = stats_of(mgr);
    long accepted_during = faultproxy_accepted(proxy);
    size_t end = hrec_mark(&rec);
    size_t lend = log_mark();
    faultproxy_pass(proxy);

    uint64_t failures = during.probe_failures - before.probe_failures;
    int degraded =
        count_changes(mark, end, PGCM_NODE_HEALTHY, PGCM_NODE_DEGRADED);
    int healthy_again =
        count_changes(mark, end, PGCM_NODE_DEGRADED, PGCM_NODE_HEALTHY);
    int late_taken =
        log_count(lmark, lend, "health_check", "suspect probe ok", NULL, 0);
    print_message("slow server (%d ms each way): %llu probes, %llu failed, "
                  "%d times degraded, %d times healthy again, %d late "
                  "answers taken by suspect probes, %ld connections accepted "
                  "by the proxy\n",
                  SLOW_MS, (unsigned long long)(during.probes - before.probes),
                  (unsigned long long)failures, degraded, healthy_again,
                  late_taken, accepted_during - accepted);
    if (accepted_during != accepted)
        log_print(lmark, lend);

    /* The late heartbeats failed, and were counted... */
    HREC_CHECK(&rec, mark, failures >= 3,
               "only %llu failed probes in 6 s of answers %d ms late: the "
               "delay was not seen",
               (unsigned long long)failures, 2 * SLOW_MS - LIVENESS_TIMEOUT_MS);
    HREC_CHECK(&rec, mark, degraded >= 3, "degraded only %d times", degraded);
    for (size_t i = mark; i < end; i++) {
        hev_t e = hrec_get(&rec, i);
        if (e.type != PGCM_EV_HEALTH_CHANGED || strcmp(e.node, "alpha") != 0)
            continue;
        HREC_CHECK(&rec, mark,
                   e.new_state == PGCM_NODE_DEGRADED ||
                       e.new_state == PGCM_NODE_HEALTHY,
                   "%s -> %s at [%zu]: a slow server took the node down",
                   pgcm_node_state_name(e.old_state),
                   pgcm_node_state_name(e.new_state), i);
        if (e.new_state == PGCM_NODE_DEGRADED) {
            HREC_CHECK(&rec, mark, e.consecutive_failures == 1,
                       "degraded at [%zu] with %d consecutive failures", i,
                       e.consecutive_failures);
            HREC_CHECK(&rec, mark,
                       e.error_code == PGCM_ETIMEDOUT &&
                           strstr(e.message, "heartbeat") != NULL,
                       "degraded at [%zu] by %s: %s, expected a heartbeat's "
                       "timeout",
                       i, pgcm_err_name(e.error_code), e.message);
        }
    }
    /* ...but each one's answer, when it came, was the suspect probe's, on
     * the same connection: healthy again each time, and no connection
     * opened or closed. */
    HREC_CHECK(&rec, mark, healthy_again >= degraded - 1,
               "degraded %d times but healthy again only %d times", degraded,
               healthy_again);
    HREC_CHECK(&rec, mark, late_taken >= degraded - 1,
               "degraded %d times but only %d suspect probes succeeded",
               degraded, late_taken);
    HREC_CHECK(
        &rec, mark,
        hrec_count(&rec, mark, PGCM_EV_THRESHOLD_REACHED, "alpha") == 0 &&
            hrec_count(&rec, mark, PGCM_EV_NODE_DISCONNECTED, "alpha") == 0,
        "the node went down");
    HREC_CHECK(&rec, mark, accepted_during == accepted,
               "%ld connections opened for %llu late heartbeats: each late "
               "answer should be taken on its own connection",
               accepted_during - accepted, (unsigned long long)failures);
    HREC_CHECK(&rec, mark,
               during.conns_opened == before.conns_opened &&
                   during.conns_closed == before.conns_closed,
               "the pool opened %llu and closed %llu connections",
               (unsigned long long)(during.conns_opened - before.conns_opened),
               (unsigned long long)(during.conns_closed - before.conns_closed));

    /* Once the server answers in time again, the node is healthy on the
     * same connection: whatever was in flight at the switch got its answer
     * at once (the proxy forwards what it held). */
    fixture_sleep_ms(500);
    expect_settled_healthy(mgr, 2500);
    fixture_manager_free(mgr);
}

/* ---- a stalled server: the late connection closed, a new one after ------ */

static void test_answer_beyond_extended_deadline_closes_connection(void **state)
{
    (void)state;
    pgcm_options_t o;
    late_options(&o);
    pgcm_manager_t *mgr = start_behind_proxy(&o);
    pgcm_pool_stats_t before = stats_of(mgr);
    long accepted = faultproxy_accepted(proxy);
    size_t mark = hrec_mark(&rec);
    size_t lmark = log_mark();

    int64_t fault = hwall_ms();
    faultproxy_delay(proxy, STALLED_MS);
    int64_t took = hrec_expect_down(&rec, mark, "alpha", fault, 2 * STALLED_MS,
                                    3 * STALLED_MS);
    long down = hrec_find(&rec, mark, PGCM_EV_HEALTH_CHANGED, "alpha",
                          PGCM_NODE_UNHEALTHY);
    hev_t verdict = hrec_get(&rec, (size_t)down);
    pgcm_pool_stats_t after_down = stats_of(mgr);
    size_t lend = log_mark();
    char first_fail[256] = "";
    long degraded = hrec_find(&rec, mark, PGCM_EV_HEALTH_CHANGED, "alpha",
                              PGCM_NODE_DEGRADED);
    if (degraded >= 0)
        snprintf(first_fail, sizeof first_fail, "%s",
                 hrec_get(&rec, (size_t)degraded).message);
    char closed_why[200] = "";
    int closed = log_count(lmark, lend, "connection_closed", NULL, closed_why,
                           sizeof closed_why);
    print_message("stalled server (%d ms each way): unhealthy after %lld ms, "
                  "%d consecutive failures, first: %s; last: %s; %d "
                  "connections closed (%s)\n",
                  STALLED_MS, (long long)took, verdict.consecutive_failures,
                  first_fail, verdict.message, closed, closed_why);

    /* The heartbeat failed first, then the suspect probes that waited on
     * its connection, one after another, at the usual pace... */
    HREC_CHECK(&rec, mark, strstr(first_fail, "heartbeat") != NULL,
               "the first failure was not the heartbeat's: %s", first_fail);
    HREC_CHECK(&rec, mark, verdict.consecutive_failures == THRESHOLD,
               "unhealthy after %d consecutive failures, threshold %d",
               verdict.consecutive_failures, THRESHOLD);
    HREC_CHECK(
        &rec, mark,
        verdict.has_stats && verdict.stats.conns_opened == before.conns_opened,
        "%llu connections opened while the node went down: the "
        "suspect probes should wait on the late heartbeat's one",
        (unsigned long long)(verdict.stats.conns_opened - before.conns_opened));
    /* ...and the node turning unhealthy closed the late connection. */
    HREC_CHECK(&rec, mark, after_down.idle == 0 && after_down.active == 0,
               "unhealthy with %d idle and %d active connections",
               after_down.idle, after_down.active);
    HREC_CHECK(&rec, mark,
               log_count(lmark, lend, "connection_closed", "became unhealthy",
                         NULL, 0) == 1,
               "the late connection was not closed by the unhealthy "
               "verdict (%d closed, first: %s)",
               closed, closed_why);

    /* Back through a new connection once the server answers. */
    size_t mark_up = hrec_mark(&rec);
    faultproxy_pass(proxy);
    hrec_expect_up(&rec, mark_up, "alpha", 15000);
    HREC_CHECK(&rec, mark_up, faultproxy_accepted(proxy) > accepted,
               "healthy again without a new connection");
    expect_settled_healthy(mgr, 2500);
    fixture_manager_free(mgr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_late_heartbeat_answer_taken_on_its_connection, test_setup,
            test_teardown),
        cmocka_unit_test_setup_teardown(
            test_answer_beyond_extended_deadline_closes_connection, test_setup,
            test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
