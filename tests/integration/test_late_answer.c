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
 * the heartbeat's answer instead of opening a second connection; a late
 * connection no probe comes onto closes at its extended deadline. The tests
 * assert events, counts and connection reasons, not timings: the options
 * keep every deadline far from the answers' delays; and the pool is filled
 * back to its min once that late connection has closed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
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
 * any; "^..." : begins with the rest); the first one's message goes to
 * first (if not NULL). */
static int log_count(size_t from, size_t to, const char *event,
                     const char *part, char *first, size_t firstlen)
{
    int count = 0;
    pthread_mutex_lock(&logbook.lock);
    for (size_t i = from; i < to && i < logbook.n; i++) {
        const logline_t *l = &logbook.line[i];
        if (strcmp(l->event, event) != 0)
            continue;
        if (part != NULL && part[0] == '^'
                ? strncmp(l->message, part + 1, strlen(part + 1)) != 0
                : part != NULL && strstr(l->message, part) == NULL)
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

typedef struct pool_want {
    pgcm_manager_t *mgr;
    int idle;
} pool_want_t;

static int pool_idle(void *user)
{
    pool_want_t *w = user;
    pgcm_pool_stats_t st;
    return pgcm_node_stats(w->mgr, "alpha", &st) == PGCM_OK &&
           st.idle == w->idle && st.total == w->idle;
}

/* Node alpha with pool_min connections behind a fresh proxy, healthy, its
 * connections open and idle. */
static pgcm_manager_t *start_behind_proxy(const pgcm_options_t *o, int pool_min)
{
    int port =
        fixture_proxy_start(localpg_host(pg[0]), localpg_port(pg[0]), &proxy);
    pgcm_node_spec_t s = spec;
    s.port = port;
    s.pool.min = pool_min;
    pgcm_manager_t *mgr = hrec_start_manager(&rec, o, &s, 1);
    hrec_expect_state(&rec, mgr, "alpha", PGCM_NODE_HEALTHY);
    pool_want_t w = {mgr, pool_min};
    HREC_CHECK(&rec, 0, fixture_wait_for(pool_idle, &w, 3000),
               "the pool of alpha did not settle at %d idle connections",
               pool_min);
    return mgr;
}

static pgcm_pool_stats_t stats_of(pgcm_manager_t *mgr)
{
    pgcm_pool_stats_t st;
    assert_int_equal(pgcm_node_stats(mgr, "alpha", &st), PGCM_OK);
    return st;
}

/* Where the node stands at one moment: its pool's counters, the
 * connections the proxy accepted so far, and marks in the event recorder
 * and in the log. */
typedef struct snapshot {
    pgcm_pool_stats_t st;
    long accepted;
    size_t ev;
    size_t log;
} snapshot_t;

static snapshot_t snapshot(pgcm_manager_t *mgr)
{
    snapshot_t sn = {stats_of(mgr), faultproxy_accepted(proxy), hrec_mark(&rec),
                     log_mark()};
    return sn;
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
    snapshot_t a = snapshot(mgr);
    size_t mark = a.ev;
    fixture_sleep_ms(ms);
    pgcm_pool_stats_t b = stats_of(mgr);
    HREC_CHECK(&rec, mark, b.probe_failures == a.st.probe_failures,
               "%llu probes failed with the proxy passing everything",
               (unsigned long long)(b.probe_failures - a.st.probe_failures));
    HREC_CHECK(&rec, mark, b.probes > a.st.probes, "no probe in %d ms", ms);
    HREC_CHECK(&rec, mark, faultproxy_accepted(proxy) == a.accepted,
               "%ld connections opened with the proxy passing everything",
               faultproxy_accepted(proxy) - a.accepted);
    hrec_expect_state(&rec, mgr, "alpha", PGCM_NODE_HEALTHY);
    hrec_expect_query_ok(&rec, mgr, "alpha");
}

/* ---- a slow server: late answers taken on their connection --------------- */

static void test_late_heartbeat_answer_taken_on_its_connection(void **state)
{
    (void)state;
    pgcm_options_t o;
    late_options(&o);
    pgcm_manager_t *mgr = start_behind_proxy(&o, 1);
    snapshot_t a = snapshot(mgr);
    size_t mark = a.ev;

    faultproxy_delay(proxy, SLOW_MS);
    fixture_sleep_ms(6000);
    snapshot_t z = snapshot(mgr);
    size_t end = z.ev;
    faultproxy_pass(proxy);

    uint64_t failures = z.st.probe_failures - a.st.probe_failures;
    int degraded =
        count_changes(mark, end, PGCM_NODE_HEALTHY, PGCM_NODE_DEGRADED);
    int healthy_again =
        count_changes(mark, end, PGCM_NODE_DEGRADED, PGCM_NODE_HEALTHY);
    int late_taken =
        log_count(a.log, z.log, "health_check", "^suspect probe ok", NULL, 0);
    print_message("slow server (%d ms each way): %llu probes, %llu failed, "
                  "%d times degraded, %d times healthy again, %d late "
                  "answers taken by suspect probes, %ld connections accepted "
                  "by the proxy\n",
                  SLOW_MS, (unsigned long long)(z.st.probes - a.st.probes),
                  (unsigned long long)failures, degraded, healthy_again,
                  late_taken, z.accepted - a.accepted);
    if (z.accepted != a.accepted)
        log_print(a.log, z.log);

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
    HREC_CHECK(&rec, mark, z.accepted == a.accepted,
               "%ld connections opened for %llu late heartbeats: each late "
               "answer should be taken on its own connection",
               z.accepted - a.accepted, (unsigned long long)failures);
    HREC_CHECK(&rec, mark,
               z.st.conns_opened == a.st.conns_opened &&
                   z.st.conns_closed == a.st.conns_closed,
               "the pool opened %llu and closed %llu connections",
               (unsigned long long)(z.st.conns_opened - a.st.conns_opened),
               (unsigned long long)(z.st.conns_closed - a.st.conns_closed));

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
    pgcm_manager_t *mgr = start_behind_proxy(&o, 1);
    snapshot_t a = snapshot(mgr);
    size_t mark = a.ev;

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
    int closed = log_count(a.log, lend, "connection_closed", NULL, closed_why,
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
        verdict.has_stats && verdict.stats.conns_opened == a.st.conns_opened,
        "%llu connections opened while the node went down: the "
        "suspect probes should wait on the late heartbeat's one",
        (unsigned long long)(verdict.stats.conns_opened - a.st.conns_opened));
    /* ...and the node turning unhealthy closed the late connection. */
    HREC_CHECK(&rec, mark, after_down.idle == 0 && after_down.active == 0,
               "unhealthy with %d idle and %d active connections",
               after_down.idle, after_down.active);
    HREC_CHECK(&rec, mark,
               log_count(a.log, lend, "connection_closed", "became unhealthy",
                         NULL, 0) == 1,
               "the late connection was not closed by the unhealthy "
               "verdict (%d closed, first: %s)",
               closed, closed_why);

    /* Back through a new connection once the server answers. */
    size_t mark_up = hrec_mark(&rec);
    faultproxy_pass(proxy);
    hrec_expect_up(&rec, mark_up, "alpha", 15000);
    HREC_CHECK(&rec, mark_up, faultproxy_accepted(proxy) > a.accepted,
               "healthy again without a new connection");
    expect_settled_healthy(mgr, 2500);
    fixture_manager_free(mgr);
}

/* ---- a full probe due while a heartbeat is out --------------------------- */

/* Heartbeats answered in time but slowly (SLOW_MS each way, a 3 s
 * deadline), one 50 ms after each answer, and full probes every 400 ms:
 * each full probe falls due while a heartbeat is out on the only
 * connection (from 50 ms to 650 ms or more after the last answer). It
 * waits for the heartbeat's answer and then goes out on that connection;
 * beside the heartbeat it would have needed a second one. */
static void test_full_probe_waits_for_heartbeat(void **state)
{
    (void)state;
    pgcm_options_t o;
    late_options(&o);
    o.liveness_interval_ms = 50;
    o.liveness_timeout_ms = 3000;
    o.health_check_interval_ms = 400;
    pgcm_manager_t *mgr = start_behind_proxy(&o, 1);
    snapshot_t a = snapshot(mgr);
    size_t mark = a.ev;

    faultproxy_delay(proxy, SLOW_MS);
    fixture_sleep_ms(6000);
    snapshot_t z = snapshot(mgr);
    faultproxy_pass(proxy);

    int full = log_count(a.log, z.log, "health_check", "^probe ok", NULL, 0);
    int beats =
        log_count(a.log, z.log, "health_check", "^heartbeat ok", NULL, 0);
    print_message(
        "full probes beside slow heartbeats (%d ms each way): %d "
        "full probes and %d heartbeats answered, %llu failed, %ld "
        "connections accepted by the proxy\n",
        SLOW_MS, full, beats,
        (unsigned long long)(z.st.probe_failures - a.st.probe_failures),
        z.accepted - a.accepted);
    if (z.accepted != a.accepted)
        log_print(a.log, z.log);
    HREC_CHECK(&rec, mark, z.st.probe_failures == a.st.probe_failures,
               "%llu probes failed, every deadline being far off",
               (unsigned long long)(z.st.probe_failures - a.st.probe_failures));
    /* both kinds went on, neither starved by the other... */
    HREC_CHECK(&rec, mark, full >= 3 && beats >= 3,
               "%d full probes and %d heartbeats in 6 s", full, beats);
    /* ...on the one connection */
    HREC_CHECK(&rec, mark,
               z.accepted == a.accepted &&
                   z.st.conns_opened == a.st.conns_opened,
               "%ld connections opened beside the heartbeats",
               z.accepted - a.accepted);
    HREC_CHECK(&rec, mark,
               hrec_count(&rec, mark, PGCM_EV_HEALTH_CHANGED, "alpha") == 0,
               "the node changed state");
    fixture_sleep_ms(500);
    expect_settled_healthy(mgr, 1500);
    fixture_manager_free(mgr);
}

/* ---- a late connection with no probe on it ------------------------------- */

#define HELD_MS 20000 /* a heartbeat's request held this long */

/* The monotonic time at which a heartbeat was seen answered (the node's
 * last_check_ms moved), within timeout_ms, or -1. */
static int64_t wait_heartbeat_answered(pgcm_manager_t *mgr, int timeout_ms)
{
    pgcm_health_t h;
    assert_int_equal(pgcm_node_health(mgr, "alpha", &h), PGCM_OK);
    int64_t last = h.last_check_ms;
    int64_t deadline = fixture_now_ms() + timeout_ms;
    while (fixture_now_ms() < deadline) {
        fixture_sleep_ms(2);
        assert_int_equal(pgcm_node_health(mgr, "alpha", &h), PGCM_OK);
        if (h.last_check_ms != last)
            return fixture_now_ms();
    }
    return -1;
}

static void sleep_until(int64_t at_ms)
{
    int64_t now = fixture_now_ms();
    if (at_ms > now)
        fixture_sleep_ms((int)(at_ms - now));
}

/* Two idle connections, heartbeats every second with a 3 s deadline, no
 * full probe. Only the next heartbeat's request is held (the proxy holds
 * for HELD_MS what it reads while so told, and nothing it reads after):
 * the heartbeat fails and its connection waits for the late answer, but
 * the suspect probe that follows finds the other connection idle and is
 * answered at once there. No probe comes onto the late connection, which
 * closes when health_check_timeout_ms more have passed, long before its
 * answer. If the heartbeat misses the window in which its request is held
 * (the loop or this thread was late), it is answered in time and the
 * scenario tries again. Returns the manager once that connection closed;
 * *mark is the recorder's mark before the failure. */
static pgcm_manager_t *late_connection_left_alone(size_t *mark)
{
    pgcm_options_t o;
    late_options(&o);
    o.liveness_interval_ms = 1000;
    o.liveness_timeout_ms = 3000;
    o.health_check_interval_ms = 600000;
    pgcm_manager_t *mgr = start_behind_proxy(&o, 2);
    size_t lmark = 0;
    long degraded = -1;
    for (int attempt = 0; attempt < 3 && degraded < 0; attempt++) {
        *mark = hrec_mark(&rec);
        lmark = log_mark();
        int64_t answered = wait_heartbeat_answered(mgr, 3000);
        HREC_CHECK(&rec, *mark, answered >= 0, "no heartbeat answered in 3 s");
        /* the next heartbeat goes out 1000 ms after that answer, and
         * fails 3000 ms later; its suspect probe follows 50 ms after */
        sleep_until(answered + 500);
        faultproxy_delay(proxy, HELD_MS);
        sleep_until(answered + 2500);
        faultproxy_delay(proxy, 0);
        degraded = hrec_wait(&rec, *mark, PGCM_EV_HEALTH_CHANGED, "alpha",
                             PGCM_NODE_DEGRADED, 4000);
        print_message("late connection left alone: attempt %d: the "
                      "heartbeat %s\n",
                      attempt + 1,
                      degraded >= 0 ? "failed" : "was answered in time");
    }
    HREC_CHECK(&rec, *mark, degraded >= 0,
               "no heartbeat went out while its request would be held");
    hev_t fail = hrec_get(&rec, (size_t)degraded);
    HREC_CHECK(&rec, *mark,
               fail.consecutive_failures == 1 &&
                   strstr(fail.message, "heartbeat") != NULL,
               "degraded with %d failures by: %s", fail.consecutive_failures,
               fail.message);
    /* the suspect probe, on the other connection, is answered at once */
    long healthy = hrec_wait(&rec, (size_t)degraded, PGCM_EV_HEALTH_CHANGED,
                             "alpha", PGCM_NODE_HEALTHY, 3000);
    HREC_CHECK(&rec, *mark, healthy > degraded,
               "not healthy again after the suspect probe");

    /* the late connection closes on its own, with no probe on it */
    char why[200] = "";
    int64_t deadline = fixture_now_ms() + 15000;
    while (log_count(lmark, log_mark(), "connection_closed", NULL, why,
                     sizeof why) == 0 &&
           fixture_now_ms() < deadline)
        fixture_sleep_ms(20);
    size_t lend = log_mark();
    print_message("late connection left alone: closed: %s\n", why);
    HREC_CHECK(&rec, *mark,
               log_count(lmark, lend, "connection_closed", NULL, NULL, 0) == 1,
               "no connection closed within 15 s (or more than one)");
    int waited_ms = -1;
    HREC_CHECK(
        &rec, *mark,
        sscanf(why, "heartbeat got no answer within %d ms", &waited_ms) == 1,
        "closed for another reason: %s", why);
    /* it waited past the heartbeat's deadline, for the extension */
    HREC_CHECK(&rec, *mark,
               waited_ms >=
                   o.liveness_timeout_ms + o.health_check_timeout_ms / 2,
               "closed after %d ms, the heartbeat's deadline being %d ms and "
               "the wait for its answer %d ms more",
               waited_ms, o.liveness_timeout_ms, o.health_check_timeout_ms);
    HREC_CHECK(
        &rec, *mark,
        count_changes(*mark, hrec_mark(&rec), PGCM_NODE_HEALTHY,
                      PGCM_NODE_DEGRADED) == 1 &&
            hrec_count(&rec, *mark, PGCM_EV_THRESHOLD_REACHED, "alpha") == 0,
        "the node failed more than once");
    return mgr;
}

static void
test_unattached_late_connection_closes_at_extended_deadline(void **state)
{
    (void)state;
    size_t mark;
    pgcm_manager_t *mgr = late_connection_left_alone(&mark);
    faultproxy_pass(proxy);
    fixture_sleep_ms(1500);
    HREC_CHECK(&rec, mark,
               count_changes(mark, hrec_mark(&rec), PGCM_NODE_HEALTHY,
                             PGCM_NODE_DEGRADED) == 1,
               "the node failed again after the late connection closed");
    hrec_expect_state(&rec, mgr, "alpha", PGCM_NODE_HEALTHY);
    hrec_expect_query_ok(&rec, mgr, "alpha");
    fixture_manager_free(mgr);
}

/* The late connection closed at its extended deadline is replaced: the
 * pool is back at its min of 2 (this close once left it at total 1, idle 1,
 * for good). */
static void test_pool_refilled_after_late_connection_closes(void **state)
{
    (void)state;
    size_t mark;
    pgcm_manager_t *mgr = late_connection_left_alone(&mark);
    long accepted = faultproxy_accepted(proxy);
    pool_want_t w = {mgr, 2};
    int refilled = fixture_wait_for(pool_idle, &w, 15000);
    pgcm_pool_stats_t st = stats_of(mgr);
    HREC_CHECK(&rec, mark, refilled,
               "the pool did not refill to its min of 2 idle connections "
               "in 15 s: total %d, idle %d, active %d, opened %llu, closed "
               "%llu",
               st.total, st.idle, st.active,
               (unsigned long long)st.conns_opened,
               (unsigned long long)st.conns_closed);
    HREC_CHECK(&rec, mark, faultproxy_accepted(proxy) <= accepted + 1,
               "%ld connections opened, expected 1 in place of the closed "
               "one",
               faultproxy_accepted(proxy) - accepted);
    faultproxy_pass(proxy);
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
        cmocka_unit_test_setup_teardown(test_full_probe_waits_for_heartbeat,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(
            test_unattached_late_connection_closes_at_extended_deadline,
            test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(
            test_pool_refilled_after_late_connection_closes, test_setup,
            test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, fixture_group_teardown);
}
