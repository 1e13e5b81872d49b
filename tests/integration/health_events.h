/* SPDX-License-Identifier: MIT */
/*
 * health_events.h - shared helpers of the health integration tests
 * (test_health.c, test_late_answer.c, ...): an event recorder subscribed
 * to a manager that keeps every event with its time, waits for one, prints
 * the recorded sequence when an assertion fails, and checks the state
 * sequences of a node going down (healthy -> [degraded ->] unhealthy, with
 * threshold_reached and node_disconnected) and coming back (unhealthy ->
 * reconnecting -> ... -> healthy, with node_connected); a manager started
 * with the recorder subscribed, and checks of a node's state and of a query
 * on it.
 *
 * Include <stdarg.h>, <stddef.h>, <stdint.h>, <setjmp.h>, <cmocka.h> and
 * "fixture.h" first. Everything here is static inline: each test binary uses
 * what it needs.
 */
#ifndef HEALTH_EVENTS_H
#define HEALTH_EVENTS_H

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <pgcm.h>

#include "fixture.h"

#define HREC_CAP 4096

typedef struct hev {
    pgcm_event_type_t type;
    char node[64];
    pgcm_node_state_t old_state;
    pgcm_node_state_t new_state;
    int64_t time_ms; /* ev->time_ms: Unix epoch ms, stamped by the library */
    int error_code;
    char message[256];
    int consecutive_failures; /* ev->health's, after the event */
    int has_stats;
    pgcm_pool_stats_t stats;
} hev_t;

typedef struct hrec {
    pthread_mutex_t lock;
    size_t n;
    size_t dropped;
    int64_t origin_ms; /* wall time the dump counts from */
    /* Secrets that must never appear in a message or a health record. */
    char secret[2][64];
    int secret_seen;
    char secret_where[300];
    hev_t ev[HREC_CAP];
} hrec_t;

/* Wall clock, Unix epoch milliseconds, as pgcm_event_t.time_ms. */
static inline int64_t hwall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void hrec_reset(hrec_t *r)
{
    pthread_mutex_lock(&r->lock);
    r->n = 0;
    r->dropped = 0;
    r->origin_ms = hwall_ms();
    r->secret[0][0] = '\0';
    r->secret[1][0] = '\0';
    r->secret_seen = 0;
    r->secret_where[0] = '\0';
    pthread_mutex_unlock(&r->lock);
}

/* Watch for secret (slot 0 or 1) in every event from now on. */
static inline void hrec_set_secret(hrec_t *r, int slot, const char *secret)
{
    pthread_mutex_lock(&r->lock);
    snprintf(r->secret[slot & 1], sizeof r->secret[0], "%s",
             secret ? secret : "");
    pthread_mutex_unlock(&r->lock);
}

/* The subscriber: runs on the manager's loop thread. */
static inline void hrec_on_event(const pgcm_event_t *ev, void *user)
{
    hrec_t *r = user;
    pthread_mutex_lock(&r->lock);
    for (int k = 0; k < 2 && !r->secret_seen; k++) {
        const char *secret = r->secret[k];
        const char *where = NULL;
        if (secret[0] == '\0')
            continue;
        if (ev->message && strstr(ev->message, secret))
            where = ev->message;
        else if (ev->health && strstr(ev->health->last_error, secret))
            where = ev->health->last_error;
        if (where != NULL) {
            r->secret_seen = 1;
            snprintf(r->secret_where, sizeof r->secret_where, "%s: %s",
                     pgcm_event_type_name(ev->type), where);
        }
    }
    if (r->n < HREC_CAP) {
        hev_t *e = &r->ev[r->n++];
        memset(e, 0, sizeof *e);
        e->type = ev->type;
        snprintf(e->node, sizeof e->node, "%s", ev->node_id);
        e->old_state = ev->old_state;
        e->new_state = ev->new_state;
        e->time_ms = ev->time_ms;
        e->error_code = ev->error_code;
        snprintf(e->message, sizeof e->message, "%s",
                 ev->message ? ev->message : "");
        if (ev->health)
            e->consecutive_failures = ev->health->consecutive_failures;
        if (ev->stats) {
            e->has_stats = 1;
            e->stats = *ev->stats;
        }
    } else {
        r->dropped++;
    }
    pthread_mutex_unlock(&r->lock);
}

/* How many events are recorded so far: a mark to search from. */
static inline size_t hrec_mark(hrec_t *r)
{
    pthread_mutex_lock(&r->lock);
    size_t n = r->n;
    pthread_mutex_unlock(&r->lock);
    return n;
}

/* Copy of event i (i < hrec_mark()). */
static inline hev_t hrec_get(hrec_t *r, size_t i)
{
    pthread_mutex_lock(&r->lock);
    hev_t e = r->ev[i];
    pthread_mutex_unlock(&r->lock);
    return e;
}

/* First event at index >= from of this type for this node (NULL: any),
 * with this new state (-1: any); its index, or -1. */
static inline long hrec_find(hrec_t *r, size_t from, pgcm_event_type_t type,
                             const char *node, int new_state)
{
    long found = -1;
    pthread_mutex_lock(&r->lock);
    for (size_t i = from; i < r->n; i++) {
        const hev_t *e = &r->ev[i];
        if (e->type == type && (node == NULL || strcmp(e->node, node) == 0) &&
            (new_state < 0 || (int)e->new_state == new_state)) {
            found = (long)i;
            break;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return found;
}

/* hrec_find, waiting up to timeout_ms for the event. */
static inline long hrec_wait(hrec_t *r, size_t from, pgcm_event_type_t type,
                             const char *node, int new_state, int timeout_ms)
{
    int64_t deadline = fixture_now_ms() + timeout_ms;
    for (;;) {
        long i = hrec_find(r, from, type, node, new_state);
        if (i >= 0 || fixture_now_ms() >= deadline)
            return i;
        fixture_sleep_ms(5);
    }
}

/* How many events of a type for a node (NULL: any) at index >= from. */
static inline int hrec_count(hrec_t *r, size_t from, pgcm_event_type_t type,
                             const char *node)
{
    int c = 0;
    pthread_mutex_lock(&r->lock);
    for (size_t i = from; i < r->n; i++)
        if (r->ev[i].type == type &&
            (node == NULL || strcmp(r->ev[i].node, node) == 0))
            c++;
    pthread_mutex_unlock(&r->lock);
    return c;
}

/* Print the recorded events (pool stats left out) from index `from`, with
 * times relative to r->origin_ms, for a failure's context. */
static inline void hrec_print(hrec_t *r, size_t from)
{
    pthread_mutex_lock(&r->lock);
    print_message("recorded events (ms since the test's origin):\n");
    for (size_t i = from; i < r->n; i++) {
        const hev_t *e = &r->ev[i];
        if (e->type == PGCM_EV_POOL_STATS)
            continue;
        print_message("  [%zu] +%lld %s %s %s->%s %s%s%s\n", i,
                      (long long)(e->time_ms - r->origin_ms),
                      pgcm_event_type_name(e->type), e->node,
                      pgcm_node_state_name(e->old_state),
                      pgcm_node_state_name(e->new_state),
                      e->error_code ? pgcm_err_name(e->error_code) : "",
                      e->message[0] ? " " : "", e->message);
    }
    if (r->dropped)
        print_message("  (%zu events dropped: recorder full)\n", r->dropped);
    pthread_mutex_unlock(&r->lock);
}

/* Fail the test with the recorded events printed. */
#define HREC_FAIL(r, from, ...)                                                \
    do {                                                                       \
        hrec_print((r), (from));                                               \
        fail_msg(__VA_ARGS__);                                                 \
    } while (0)

#define HREC_CHECK(r, from, cond, ...)                                         \
    do {                                                                       \
        if (!(cond))                                                           \
            HREC_FAIL((r), (from), __VA_ARGS__);                               \
    } while (0)

/*
 * The node went down after a fault injected at fault_wall_ms: within
 * timeout_ms a health_changed to unhealthy arrives, no later than limit_ms
 * after the fault; before it the node moved only healthy -> degraded ->
 * unhealthy (or healthy -> unhealthy), with no node_connected; then come
 * threshold_reached and node_disconnected. Returns the detection time in ms
 * (event time minus fault time).
 */
static inline int64_t hrec_expect_down(hrec_t *r, size_t from, const char *node,
                                       int64_t fault_wall_ms, int limit_ms,
                                       int timeout_ms)
{
    long down = hrec_wait(r, from, PGCM_EV_HEALTH_CHANGED, node,
                          PGCM_NODE_UNHEALTHY, timeout_ms);
    HREC_CHECK(r, from, down >= 0,
               "node %s: no health_changed to unhealthy within %d ms of "
               "the fault",
               node, timeout_ms);
    /* the events of one verdict come together: let them arrive */
    long thr =
        hrec_wait(r, (size_t)down, PGCM_EV_THRESHOLD_REACHED, node, -1, 1000);
    long disc =
        hrec_wait(r, (size_t)down, PGCM_EV_NODE_DISCONNECTED, node, -1, 1000);
    pgcm_node_state_t expect_old = PGCM_NODE_HEALTHY;
    for (long i = (long)from; i <= down; i++) {
        hev_t e = hrec_get(r, (size_t)i);
        if (strcmp(e.node, node) != 0)
            continue;
        HREC_CHECK(r, from, e.type != PGCM_EV_NODE_CONNECTED,
                   "node %s: node_connected at [%ld] while going down", node,
                   i);
        if (e.type != PGCM_EV_HEALTH_CHANGED)
            continue;
        int ok = e.old_state == expect_old &&
                 ((e.old_state == PGCM_NODE_HEALTHY &&
                   (e.new_state == PGCM_NODE_DEGRADED ||
                    e.new_state == PGCM_NODE_UNHEALTHY)) ||
                  (e.old_state == PGCM_NODE_DEGRADED &&
                   e.new_state == PGCM_NODE_UNHEALTHY));
        HREC_CHECK(r, from, ok,
                   "node %s: unexpected transition %s->%s at [%ld] going "
                   "down (expected healthy -> [degraded ->] unhealthy)",
                   node, pgcm_node_state_name(e.old_state),
                   pgcm_node_state_name(e.new_state), i);
        expect_old = e.new_state;
    }
    HREC_CHECK(r, from, thr > down,
               "node %s: no threshold_reached after it turned unhealthy", node);
    HREC_CHECK(r, from, disc > down,
               "node %s: no node_disconnected after it turned unhealthy", node);
    HREC_CHECK(r, from,
               hrec_count(r, from, PGCM_EV_THRESHOLD_REACHED, node) == 1,
               "node %s: threshold_reached more than once", node);
    HREC_CHECK(r, from,
               hrec_count(r, from, PGCM_EV_NODE_DISCONNECTED, node) == 1,
               "node %s: node_disconnected more than once", node);
    hev_t e = hrec_get(r, (size_t)disc);
    HREC_CHECK(r, from, e.error_code != PGCM_OK && e.message[0] != '\0',
               "node %s: node_disconnected carries no error", node);
    int64_t took = hrec_get(r, (size_t)down).time_ms - fault_wall_ms;
    HREC_CHECK(r, from, took < limit_ms,
               "node %s: unhealthy %lld ms after the fault; the limit is %d "
               "ms",
               node, (long long)took, limit_ms);
    return took;
}

/*
 * The node, unhealthy at `from`, comes back by itself within timeout_ms:
 * it moves only unhealthy -> reconnecting -> unhealthy ... -> reconnecting
 * -> healthy, and node_connected follows. Returns the wall time of the
 * health_changed to healthy.
 */
static inline int64_t hrec_expect_up(hrec_t *r, size_t from, const char *node,
                                     int timeout_ms)
{
    long up = hrec_wait(r, from, PGCM_EV_HEALTH_CHANGED, node,
                        PGCM_NODE_HEALTHY, timeout_ms);
    HREC_CHECK(r, from, up >= 0, "node %s: not healthy again within %d ms",
               node, timeout_ms);
    long conn =
        hrec_wait(r, (size_t)up, PGCM_EV_NODE_CONNECTED, node, -1, 1000);
    HREC_CHECK(r, from, conn > up,
               "node %s: no node_connected after it turned healthy", node);
    for (long i = (long)from; i <= up; i++) {
        hev_t e = hrec_get(r, (size_t)i);
        if (strcmp(e.node, node) != 0 || e.type != PGCM_EV_HEALTH_CHANGED)
            continue;
        int ok = (e.old_state == PGCM_NODE_UNHEALTHY &&
                  e.new_state == PGCM_NODE_RECONNECTING) ||
                 (e.old_state == PGCM_NODE_RECONNECTING &&
                  (e.new_state == PGCM_NODE_UNHEALTHY ||
                   e.new_state == PGCM_NODE_HEALTHY));
        HREC_CHECK(r, from, ok,
                   "node %s: unexpected transition %s->%s at [%ld] coming "
                   "back (expected unhealthy -> reconnecting -> ... -> "
                   "healthy)",
                   node, pgcm_node_state_name(e.old_state),
                   pgcm_node_state_name(e.new_state), i);
    }
    return hrec_get(r, (size_t)up).time_ms;
}

/* Wall times of the reconnect attempts (health_changed to reconnecting) of
 * a node at index >= from; returns how many (at most max). */
static inline int hrec_retry_times(hrec_t *r, size_t from, const char *node,
                                   int64_t *times, int max)
{
    int c = 0;
    pthread_mutex_lock(&r->lock);
    for (size_t i = from; i < r->n && c < max; i++) {
        const hev_t *e = &r->ev[i];
        if (e->type == PGCM_EV_HEALTH_CHANGED && strcmp(e->node, node) == 0 &&
            e->new_state == PGCM_NODE_RECONNECTING)
            times[c++] = e->time_ms;
    }
    pthread_mutex_unlock(&r->lock);
    return c;
}

/* The node's published state right now. */
static inline pgcm_node_state_t hstate(pgcm_manager_t *mgr, const char *node)
{
    pgcm_health_t h;
    if (pgcm_node_health(mgr, node, &h) != PGCM_OK)
        fail_msg("pgcm_node_health(%s) failed", node);
    return h.state;
}

/* A manager with opts (NULL: defaults) recording its events in r, started
 * with nodes[0..count) (through the fixture, which frees it if the test
 * fails); waits up to 5 s for the first attempts, then for the first
 * verdict's events. */
static inline pgcm_manager_t *hrec_start_manager(hrec_t *r,
                                                 const pgcm_options_t *opts,
                                                 const pgcm_node_spec_t *nodes,
                                                 size_t count)
{
    pgcm_manager_t *mgr = fixture_manager_new(opts);
    pgcm_error_t err;
    uint64_t sub;
    assert_int_equal(pgcm_subscribe(mgr, hrec_on_event, r, &sub), PGCM_OK);
    int rc = pgcm_manager_start(mgr, nodes, count, 5000, &err);
    if (rc != PGCM_OK)
        fail_msg("pgcm_manager_start: %s", err.message);
    /* The first verdict's events are delivered on the loop just after the
     * state is published: let them arrive before the test takes marks. */
    for (size_t i = 0; i < count; i++) {
        pgcm_node_state_t st = hstate(mgr, nodes[i].id);
        pgcm_event_type_t last = st == PGCM_NODE_UNHEALTHY
                                     ? PGCM_EV_THRESHOLD_REACHED
                                     : PGCM_EV_NODE_CONNECTED;
        HREC_CHECK(r, 0, hrec_wait(r, 0, last, nodes[i].id, -1, 1000) >= 0,
                   "%s is %s but its %s event did not arrive", nodes[i].id,
                   pgcm_node_state_name(st), pgcm_event_type_name(last));
    }
    return mgr;
}

/* The node's published state is want, or the test fails with the events. */
static inline void hrec_expect_state(hrec_t *r, pgcm_manager_t *mgr,
                                     const char *node, pgcm_node_state_t want)
{
    pgcm_node_state_t got = hstate(mgr, node);
    HREC_CHECK(r, 0, got == want, "node %s is %s, expected %s", node,
               pgcm_node_state_name(got), pgcm_node_state_name(want));
}

/* A query on the node succeeds with the right answer. */
static inline void hrec_expect_query_ok(hrec_t *r, pgcm_manager_t *mgr,
                                        const char *node)
{
    pgcm_result_t *res = NULL;
    pgcm_error_t err;
    int rc = pgcm_query(mgr, node, "SELECT 41 + 1", 0, NULL, NULL, &res, &err);
    HREC_CHECK(r, 0, rc == PGCM_OK, "query on %s: %s (%s)", node,
               pgcm_err_name(rc), err.message);
    assert_string_equal(pgcm_result_value(res, 0, 0), "42");
    pgcm_result_free(res);
}

#endif /* HEALTH_EVENTS_H */
