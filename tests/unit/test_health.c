/* SPDX-License-Identifier: MIT */
/*
 * test_health.c - unit tests for the node health state machine
 * (pgcm__health_step in src/pgcm/health.c): every cell of the transition
 * table (each state against each input, failures below and at the
 * threshold), the HEALTH_OUT_* flags and counters each transition returns,
 * whole lifecycles, no flapping for a node that fails now and then,
 * thresholds 1 and 5 (and out-of-range ones), configuration errors,
 * DISCONNECTED being terminal, and the state and input names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

#define CHG            HEALTH_OUT_CHANGED
#define THR            HEALTH_OUT_THRESHOLD
#define CON            HEALTH_OUT_CONNECTED
#define DIS            HEALTH_OUT_DISCONNECTED
#define RTY            HEALTH_OUT_SCHEDULE_RETRY

#define S_CONNECTING   PGCM_NODE_CONNECTING
#define S_HEALTHY      PGCM_NODE_HEALTHY
#define S_DEGRADED     PGCM_NODE_DEGRADED
#define S_UNHEALTHY    PGCM_NODE_UNHEALTHY
#define S_RECONNECTING PGCM_NODE_RECONNECTING
#define S_DISCONNECTED PGCM_NODE_DISCONNECTED

static const health_input_t all_inputs[] = {
    HEALTH_PROBE_OK,     HEALTH_PROBE_SLOW,    HEALTH_PROBE_FAILED,
    HEALTH_CONFIG_ERROR, HEALTH_RETRY_STARTED, HEALTH_REMOVED,
};
#define N_INPUTS (sizeof(all_inputs) / sizeof(*all_inputs))

static health_core_t core(pgcm_node_state_t s, int failures, int retry)
{
    health_core_t h;
    memset(&h, 0, sizeof(h));
    h.state = s;
    h.consecutive_failures = failures;
    h.retry_attempt = retry;
    return h;
}

/* One cell of the transition table. */
typedef struct cell {
    int line;
    pgcm_node_state_t from;
    health_input_t in;
    int threshold;
    int fails_before, retry_before;
    pgcm_node_state_t to;
    int flags;
    int fails_after, retry_after;
} cell_t;

/* Starting counters are what the state can really hold: a CONNECTING or
 * DEGRADED node may have failures below T, UNHEALTHY/RECONNECTING nodes
 * have failures >= T and a retry count. "n<T"/"n>=T" are the two halves of
 * the fail column. */
static const cell_t table[] = {
    /* CONNECTING */
    {__LINE__, S_CONNECTING, HEALTH_PROBE_OK, 3, 2, 0, S_HEALTHY, CHG | CON, 0,
     0},
    {__LINE__, S_CONNECTING, HEALTH_PROBE_SLOW, 3, 2, 0, S_DEGRADED, CHG | CON,
     0, 0},
    {__LINE__, S_CONNECTING, HEALTH_PROBE_FAILED, 3, 0, 0, S_CONNECTING, 0, 1,
     0}, /* n<T */
    {__LINE__, S_CONNECTING, HEALTH_PROBE_FAILED, 3, 1, 0, S_CONNECTING, 0, 2,
     0}, /* n<T */
    {__LINE__, S_CONNECTING, HEALTH_PROBE_FAILED, 3, 2, 0, S_UNHEALTHY,
     CHG | THR | RTY, 3, 0}, /* n>=T: no +D, it never was connected */
    {__LINE__, S_CONNECTING, HEALTH_CONFIG_ERROR, 3, 0, 0, S_UNHEALTHY,
     CHG | THR | RTY, 1, 0},
    {__LINE__, S_CONNECTING, HEALTH_RETRY_STARTED, 3, 1, 0, S_CONNECTING, 0, 1,
     0},
    {__LINE__, S_CONNECTING, HEALTH_REMOVED, 3, 1, 0, S_DISCONNECTED, CHG, 1,
     0},

    /* HEALTHY */
    {__LINE__, S_HEALTHY, HEALTH_PROBE_OK, 3, 0, 0, S_HEALTHY, 0, 0, 0},
    {__LINE__, S_HEALTHY, HEALTH_PROBE_SLOW, 3, 0, 0, S_DEGRADED, CHG, 0, 0},
    {__LINE__, S_HEALTHY, HEALTH_PROBE_FAILED, 3, 0, 0, S_DEGRADED, CHG, 1,
     0}, /* n<T */
    {__LINE__, S_HEALTHY, HEALTH_PROBE_FAILED, 1, 0, 0, S_UNHEALTHY,
     CHG | THR | DIS | RTY, 1, 0}, /* n>=T */
    {__LINE__, S_HEALTHY, HEALTH_CONFIG_ERROR, 3, 0, 0, S_UNHEALTHY,
     CHG | THR | DIS | RTY, 1, 0},
    {__LINE__, S_HEALTHY, HEALTH_RETRY_STARTED, 3, 0, 0, S_HEALTHY, 0, 0, 0},
    {__LINE__, S_HEALTHY, HEALTH_REMOVED, 3, 0, 0, S_DISCONNECTED, CHG, 0, 0},

    /* DEGRADED (slow, or failures below T) */
    {__LINE__, S_DEGRADED, HEALTH_PROBE_OK, 3, 2, 0, S_HEALTHY, CHG, 0, 0},
    {__LINE__, S_DEGRADED, HEALTH_PROBE_SLOW, 3, 2, 0, S_DEGRADED, 0, 0, 0},
    {__LINE__, S_DEGRADED, HEALTH_PROBE_FAILED, 3, 0, 0, S_DEGRADED, 0, 1,
     0}, /* n<T (was slow) */
    {__LINE__, S_DEGRADED, HEALTH_PROBE_FAILED, 3, 1, 0, S_DEGRADED, 0, 2,
     0}, /* n<T */
    {__LINE__, S_DEGRADED, HEALTH_PROBE_FAILED, 3, 2, 0, S_UNHEALTHY,
     CHG | THR | DIS | RTY, 3, 0}, /* n>=T */
    {__LINE__, S_DEGRADED, HEALTH_CONFIG_ERROR, 3, 1, 0, S_UNHEALTHY,
     CHG | THR | DIS | RTY, 2, 0},
    {__LINE__, S_DEGRADED, HEALTH_RETRY_STARTED, 3, 1, 0, S_DEGRADED, 0, 1, 0},
    {__LINE__, S_DEGRADED, HEALTH_REMOVED, 3, 1, 0, S_DISCONNECTED, CHG, 1, 0},

    /* UNHEALTHY (waiting for the backoff timer) */
    {__LINE__, S_UNHEALTHY, HEALTH_PROBE_OK, 3, 4, 2, S_HEALTHY, CHG | CON, 0,
     0},
    {__LINE__, S_UNHEALTHY, HEALTH_PROBE_SLOW, 3, 4, 2, S_DEGRADED, CHG | CON,
     0, 0},
    {__LINE__, S_UNHEALTHY, HEALTH_PROBE_FAILED, 3, 4, 2, S_UNHEALTHY, RTY, 5,
     3},
    {__LINE__, S_UNHEALTHY, HEALTH_PROBE_FAILED, 100, 3, 2, S_UNHEALTHY, RTY, 4,
     3}, /* n<T (threshold raised meanwhile): stays */
    {__LINE__, S_UNHEALTHY, HEALTH_CONFIG_ERROR, 3, 4, 2, S_UNHEALTHY, RTY, 5,
     3},
    {__LINE__, S_UNHEALTHY, HEALTH_RETRY_STARTED, 3, 4, 2, S_RECONNECTING, CHG,
     4, 2},
    {__LINE__, S_UNHEALTHY, HEALTH_REMOVED, 3, 4, 2, S_DISCONNECTED, CHG, 4, 2},

    /* RECONNECTING (an attempt is running) */
    {__LINE__, S_RECONNECTING, HEALTH_PROBE_OK, 3, 4, 2, S_HEALTHY, CHG | CON,
     0, 0},
    {__LINE__, S_RECONNECTING, HEALTH_PROBE_SLOW, 3, 4, 2, S_DEGRADED,
     CHG | CON, 0, 0},
    {__LINE__, S_RECONNECTING, HEALTH_PROBE_FAILED, 3, 4, 2, S_UNHEALTHY,
     CHG | RTY, 5, 3},
    {__LINE__, S_RECONNECTING, HEALTH_PROBE_FAILED, 100, 3, 2, S_UNHEALTHY,
     CHG | RTY, 4, 3}, /* n<T */
    {__LINE__, S_RECONNECTING, HEALTH_CONFIG_ERROR, 3, 4, 2, S_UNHEALTHY,
     CHG | RTY, 5, 3},
    {__LINE__, S_RECONNECTING, HEALTH_RETRY_STARTED, 3, 4, 2, S_RECONNECTING, 0,
     4, 2},
    {__LINE__, S_RECONNECTING, HEALTH_REMOVED, 3, 4, 2, S_DISCONNECTED, CHG, 4,
     2},

    /* DISCONNECTED: terminal, nothing changes, nothing is announced */
    {__LINE__, S_DISCONNECTED, HEALTH_PROBE_OK, 3, 4, 2, S_DISCONNECTED, 0, 4,
     2},
    {__LINE__, S_DISCONNECTED, HEALTH_PROBE_SLOW, 3, 4, 2, S_DISCONNECTED, 0, 4,
     2},
    {__LINE__, S_DISCONNECTED, HEALTH_PROBE_FAILED, 3, 4, 2, S_DISCONNECTED, 0,
     4, 2},
    {__LINE__, S_DISCONNECTED, HEALTH_PROBE_FAILED, 1, 0, 0, S_DISCONNECTED, 0,
     0, 0},
    {__LINE__, S_DISCONNECTED, HEALTH_CONFIG_ERROR, 3, 4, 2, S_DISCONNECTED, 0,
     4, 2},
    {__LINE__, S_DISCONNECTED, HEALTH_RETRY_STARTED, 3, 4, 2, S_DISCONNECTED, 0,
     4, 2},
    {__LINE__, S_DISCONNECTED, HEALTH_REMOVED, 3, 4, 2, S_DISCONNECTED, 0, 4,
     2},
};

static const char *flag_text(int f, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s%s%s%s", f == 0 ? "none" : "",
             f & CHG ? "CHANGED " : "", f & THR ? "THRESHOLD " : "",
             f & CON ? "CONNECTED " : "", f & DIS ? "DISCONNECTED " : "",
             f & RTY ? "SCHEDULE_RETRY " : "");
    return buf;
}

static void test_transition_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(table) / sizeof(*table); i++) {
        const cell_t *c = &table[i];
        health_core_t h = core(c->from, c->fails_before, c->retry_before);
        int out = pgcm__health_step(&h, c->in, c->threshold);
        if (h.state != c->to || out != c->flags ||
            h.consecutive_failures != c->fails_after ||
            h.retry_attempt != c->retry_after) {
            char want[128], got[128];
            fail_msg("table line %d: %s + %s (T=%d): want %s {%s} "
                     "failures %d retry %d; got %s {%s} failures %d retry %d",
                     c->line, pgcm_node_state_name(c->from),
                     pgcm__health_input_name(c->in), c->threshold,
                     pgcm_node_state_name(c->to),
                     flag_text(c->flags, want, sizeof(want)), c->fails_after,
                     c->retry_after, pgcm_node_state_name(h.state),
                     flag_text(out, got, sizeof(got)), h.consecutive_failures,
                     h.retry_attempt);
        }
    }
}

/* Every (state, input) pair appears in the table at least once. */
static void test_table_is_complete(void **state)
{
    (void)state;
    for (int s = S_CONNECTING; s <= S_DISCONNECTED; s++) {
        for (size_t k = 0; k < N_INPUTS; k++) {
            int found = 0;
            for (size_t i = 0; i < sizeof(table) / sizeof(*table); i++)
                found |= table[i].from == (pgcm_node_state_t)s &&
                         table[i].in == all_inputs[k];
            if (!found)
                fail_msg("no table row for %s + %s",
                         pgcm_node_state_name((pgcm_node_state_t)s),
                         pgcm__health_input_name(all_inputs[k]));
        }
    }
}

/* Invariants that hold for every state, input and counter value. */
static void test_flag_invariants(void **state)
{
    (void)state;
    for (int s = S_CONNECTING; s <= S_DISCONNECTED; s++) {
        for (size_t k = 0; k < N_INPUTS; k++) {
            for (int t = 1; t <= 5; t++) {
                for (int f = 0; f <= 6; f++) {
                    health_core_t h = core((pgcm_node_state_t)s, f, f / 2);
                    int out = pgcm__health_step(&h, all_inputs[k], t);
                    /* CHANGED exactly when the state changed */
                    assert_int_equal(!!(out & CHG), (int)h.state != s);
                    /* CONNECTED and DISCONNECTED never together */
                    assert_false((out & CON) && (out & DIS));
                    /* THRESHOLD and DISCONNECTED only on entering
                     * UNHEALTHY; RETRY only while UNHEALTHY */
                    if (out & (THR | DIS))
                        assert_true(h.state == S_UNHEALTHY &&
                                    s != (int)h.state);
                    if (out & RTY)
                        assert_int_equal(h.state, S_UNHEALTHY);
                    /* an UNHEALTHY node always has a retry scheduled
                     * when it got there by a failure */
                    if (h.state == S_UNHEALTHY &&
                        (all_inputs[k] == HEALTH_PROBE_FAILED ||
                         all_inputs[k] == HEALTH_CONFIG_ERROR))
                        assert_true(out & RTY);
                    /* counters never go negative */
                    assert_true(h.consecutive_failures >= 0);
                    assert_true(h.retry_attempt >= 0);
                }
            }
        }
    }
}

/* A whole life: never reachable, threshold, retries with a growing
 * attempt count, recovery, loss, removal. */
static void test_lifecycle(void **state)
{
    (void)state;
    health_core_t h = core(S_CONNECTING, 0, 0);
    const int T = 3;

    assert_int_equal(pgcm__health_step(&h, HEALTH_PROBE_FAILED, T), 0);
    assert_int_equal(pgcm__health_step(&h, HEALTH_PROBE_FAILED, T), 0);
    assert_int_equal(h.state, S_CONNECTING);
    assert_int_equal(pgcm__health_step(&h, HEALTH_PROBE_FAILED, T),
                     CHG | THR | RTY);
    assert_int_equal(h.state, S_UNHEALTHY);
    assert_int_equal(h.retry_attempt, 0);

    /* each failed reconnect attempt asks for the next, slower, retry */
    for (int attempt = 1; attempt <= 6; attempt++) {
        assert_int_equal(pgcm__health_step(&h, HEALTH_RETRY_STARTED, T), CHG);
        assert_int_equal(h.state, S_RECONNECTING);
        assert_int_equal(pgcm__health_step(&h, HEALTH_PROBE_FAILED, T),
                         CHG | RTY);
        assert_int_equal(h.state, S_UNHEALTHY);
        assert_int_equal(h.retry_attempt, attempt);
        assert_int_equal(h.consecutive_failures, T + attempt);
    }

    /* recovery through a reconnect attempt */
    assert_int_equal(pgcm__health_step(&h, HEALTH_RETRY_STARTED, T), CHG);
    assert_int_equal(pgcm__health_step(&h, HEALTH_PROBE_OK, T), CHG | CON);
    assert_int_equal(h.state, S_HEALTHY);
    assert_int_equal(h.consecutive_failures, 0);
    assert_int_equal(h.retry_attempt, 0);

    /* losing it: degraded, then unhealthy with a disconnected event */
    assert_int_equal(pgcm__health_step(&h, HEALTH_PROBE_FAILED, T), CHG);
    assert_int_equal(h.state, S_DEGRADED);
    assert_int_equal(pgcm__health_step(&h, HEALTH_PROBE_FAILED, T), 0);
    assert_int_equal(pgcm__health_step(&h, HEALTH_PROBE_FAILED, T),
                     CHG | THR | DIS | RTY);
    assert_int_equal(h.state, S_UNHEALTHY);
    assert_int_equal(h.retry_attempt, 0);

    /* a probe succeeding while unhealthy (before the retry) reconnects */
    assert_int_equal(pgcm__health_step(&h, HEALTH_PROBE_SLOW, T), CHG | CON);
    assert_int_equal(h.state, S_DEGRADED);
    assert_int_equal(pgcm__health_step(&h, HEALTH_PROBE_OK, T), CHG);
    assert_int_equal(h.state, S_HEALTHY);

    assert_int_equal(pgcm__health_step(&h, HEALTH_REMOVED, T), CHG);
    assert_int_equal(h.state, S_DISCONNECTED);
}

/* The threshold-reached, disconnected and connected events fire once per
 * episode, not on every further failure or success. */
static void test_events_fire_once_per_episode(void **state)
{
    (void)state;
    health_core_t h = core(S_HEALTHY, 0, 0);
    int thr = 0, dis = 0, con = 0, rty = 0;
    for (int i = 0; i < 50; i++) {
        int out = pgcm__health_step(&h, HEALTH_PROBE_FAILED, 3);
        thr += !!(out & THR);
        dis += !!(out & DIS);
        con += !!(out & CON);
        rty += !!(out & RTY);
    }
    assert_int_equal(thr, 1);
    assert_int_equal(dis, 1);
    assert_int_equal(con, 0);
    assert_int_equal(rty, 48); /* from the third failure on */
    assert_int_equal(h.retry_attempt, 47);
    for (int i = 0; i < 50; i++) {
        int out = pgcm__health_step(&h, HEALTH_PROBE_OK, 3);
        con += !!(out & CON);
        assert_int_equal(out & (THR | DIS | RTY), 0);
    }
    assert_int_equal(con, 1);
}

/* Feed a repeating pattern of probe outcomes for `rounds` probes and
 * check the node only ever moves between HEALTHY and DEGRADED. */
static void no_flap(const health_input_t *pattern, size_t plen, int threshold,
                    int rounds)
{
    health_core_t h = core(S_HEALTHY, 0, 0);
    int changes = 0;
    for (int i = 0; i < rounds; i++) {
        health_input_t in = pattern[(size_t)i % plen];
        pgcm_node_state_t before = h.state;
        int out = pgcm__health_step(&h, in, threshold);
        if (h.state != S_HEALTHY && h.state != S_DEGRADED)
            fail_msg("round %d (%s, T=%d): node went %s", i,
                     pgcm__health_input_name(in), threshold,
                     pgcm_node_state_name(h.state));
        assert_int_equal(out & (THR | DIS | CON | RTY), 0);
        assert_true(h.consecutive_failures < threshold);
        assert_int_equal(h.retry_attempt, 0);
        changes += before != h.state;
    }
    /* it does go DEGRADED on a failure and back on success */
    if (threshold > 1)
        assert_true(changes > 0);
}

static void test_no_flapping_one_in_three(void **state)
{
    (void)state;
    const health_input_t ok_ok_fail[] = {HEALTH_PROBE_OK, HEALTH_PROBE_OK,
                                         HEALTH_PROBE_FAILED};
    const health_input_t fail_ok_ok[] = {HEALTH_PROBE_FAILED, HEALTH_PROBE_OK,
                                         HEALTH_PROBE_OK};
    const health_input_t ok_fail_slow[] = {HEALTH_PROBE_OK, HEALTH_PROBE_FAILED,
                                           HEALTH_PROBE_SLOW};
    for (int t = 2; t <= 5; t++) {
        no_flap(ok_ok_fail, 3, t, 100);
        no_flap(fail_ok_ok, 3, t, 100);
        no_flap(ok_fail_slow, 3, t, 100);
    }
}

static void test_no_flapping_below_threshold_runs(void **state)
{
    (void)state;
    /* two failures in a row, then a success, with T=3 */
    const health_input_t ffo[] = {HEALTH_PROBE_FAILED, HEALTH_PROBE_FAILED,
                                  HEALTH_PROBE_OK};
    no_flap(ffo, 3, 3, 100);
    /* four in a row with T=5 */
    const health_input_t ffffs[] = {HEALTH_PROBE_FAILED, HEALTH_PROBE_FAILED,
                                    HEALTH_PROBE_FAILED, HEALTH_PROBE_FAILED,
                                    HEALTH_PROBE_SLOW};
    no_flap(ffffs, 5, 5, 100);
}

/* The same intermittent node with threshold 1 does go unhealthy on each
 * failure and comes back on the next success: that is what T=1 means. */
static void test_threshold_one(void **state)
{
    (void)state;
    health_core_t h = core(S_HEALTHY, 0, 0);
    int downs = 0, ups = 0;
    for (int i = 0; i < 99; i++) {
        health_input_t in = i % 3 == 2 ? HEALTH_PROBE_FAILED : HEALTH_PROBE_OK;
        int out = pgcm__health_step(&h, in, 1);
        if (in == HEALTH_PROBE_FAILED) {
            assert_int_equal(out, CHG | THR | DIS | RTY);
            assert_int_equal(h.state, S_UNHEALTHY);
            downs++;
        } else if (out & CON) {
            assert_int_equal(h.state, S_HEALTHY);
            ups++;
        }
    }
    assert_int_equal(downs, 33);
    assert_int_equal(ups, 32);

    /* CONNECTING with T=1: the first failure decides */
    h = core(S_CONNECTING, 0, 0);
    assert_int_equal(pgcm__health_step(&h, HEALTH_PROBE_FAILED, 1),
                     CHG | THR | RTY);
    assert_int_equal(h.state, S_UNHEALTHY);
}

static void test_threshold_five(void **state)
{
    (void)state;
    health_core_t h = core(S_HEALTHY, 0, 0);
    assert_int_equal(pgcm__health_step(&h, HEALTH_PROBE_FAILED, 5), CHG);
    for (int i = 2; i <= 4; i++) {
        assert_int_equal(pgcm__health_step(&h, HEALTH_PROBE_FAILED, 5), 0);
        assert_int_equal(h.state, S_DEGRADED);
        assert_int_equal(h.consecutive_failures, i);
    }
    assert_int_equal(pgcm__health_step(&h, HEALTH_PROBE_FAILED, 5),
                     CHG | THR | DIS | RTY);
    assert_int_equal(h.state, S_UNHEALTHY);
    assert_int_equal(h.consecutive_failures, 5);

    /* a success in the middle starts the count again */
    h = core(S_HEALTHY, 0, 0);
    for (int i = 0; i < 4; i++)
        pgcm__health_step(&h, HEALTH_PROBE_FAILED, 5);
    pgcm__health_step(&h, HEALTH_PROBE_SLOW, 5);
    assert_int_equal(h.consecutive_failures, 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pgcm__health_step(&h, HEALTH_PROBE_FAILED, 5) & THR,
                         0);
    assert_int_equal(h.state, S_DEGRADED);

    /* CONNECTING with T=5 stays CONNECTING for four failures */
    h = core(S_CONNECTING, 0, 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pgcm__health_step(&h, HEALTH_PROBE_FAILED, 5), 0);
        assert_int_equal(h.state, S_CONNECTING);
    }
    assert_int_equal(pgcm__health_step(&h, HEALTH_PROBE_FAILED, 5),
                     CHG | THR | RTY);
}

/* threshold < 1 is treated as 1 ("threshold >= 1"). */
static void test_threshold_out_of_range(void **state)
{
    (void)state;
    const int bad[] = {0, -1, -1000};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        health_core_t h = core(S_HEALTHY, 0, 0);
        assert_int_equal(pgcm__health_step(&h, HEALTH_PROBE_FAILED, bad[i]),
                         CHG | THR | DIS | RTY);
        assert_int_equal(h.state, S_UNHEALTHY);
        h = core(S_CONNECTING, 0, 0);
        assert_int_equal(pgcm__health_step(&h, HEALTH_PROBE_FAILED, bad[i]),
                         CHG | THR | RTY);
    }
}

/* A configuration error is decisive at once, whatever the threshold, and
 * keeps the node unhealthy on every retry until a probe succeeds. */
static void test_config_error(void **state)
{
    (void)state;
    for (int t = 1; t <= 10; t++) {
        health_core_t h = core(S_CONNECTING, 0, 0);
        assert_int_equal(pgcm__health_step(&h, HEALTH_CONFIG_ERROR, t),
                         CHG | THR | RTY);
        assert_int_equal(h.state, S_UNHEALTHY);

        h = core(S_HEALTHY, 0, 0);
        assert_int_equal(pgcm__health_step(&h, HEALTH_CONFIG_ERROR, t),
                         CHG | THR | DIS | RTY);
        assert_int_equal(h.state, S_UNHEALTHY);
        assert_int_equal(h.retry_attempt, 0);
    }

    health_core_t h = core(S_DEGRADED, 1, 0);
    assert_int_equal(pgcm__health_step(&h, HEALTH_CONFIG_ERROR, 10),
                     CHG | THR | DIS | RTY);

    /* retries keep failing with the same configuration error */
    for (int attempt = 1; attempt <= 5; attempt++) {
        assert_int_equal(pgcm__health_step(&h, HEALTH_RETRY_STARTED, 10), CHG);
        assert_int_equal(pgcm__health_step(&h, HEALTH_CONFIG_ERROR, 10),
                         CHG | RTY);
        assert_int_equal(h.state, S_UNHEALTHY);
        assert_int_equal(h.retry_attempt, attempt);
    }
    /* a config error while waiting (not reconnecting) also reschedules */
    assert_int_equal(pgcm__health_step(&h, HEALTH_CONFIG_ERROR, 10), RTY);
    /* the password got fixed */
    assert_int_equal(pgcm__health_step(&h, HEALTH_RETRY_STARTED, 10), CHG);
    assert_int_equal(pgcm__health_step(&h, HEALTH_PROBE_OK, 10), CHG | CON);
    assert_int_equal(h.state, S_HEALTHY);
    assert_int_equal(h.retry_attempt, 0);
    assert_int_equal(h.consecutive_failures, 0);
}

/* Mixing ordinary failures and configuration errors. */
static void test_config_error_after_failures(void **state)
{
    (void)state;
    health_core_t h = core(S_HEALTHY, 0, 0);
    pgcm__health_step(&h, HEALTH_PROBE_FAILED, 3);
    assert_int_equal(h.state, S_DEGRADED);
    assert_int_equal(pgcm__health_step(&h, HEALTH_CONFIG_ERROR, 3),
                     CHG | THR | DIS | RTY);
    assert_int_equal(h.consecutive_failures, 2);
    /* further plain failures do not announce the threshold again */
    assert_int_equal(pgcm__health_step(&h, HEALTH_PROBE_FAILED, 3), RTY);
    assert_int_equal(h.retry_attempt, 1);
}

static void test_disconnected_is_terminal(void **state)
{
    (void)state;
    const pgcm_node_state_t from[] = {S_CONNECTING, S_HEALTHY, S_DEGRADED,
                                      S_UNHEALTHY, S_RECONNECTING};
    for (size_t i = 0; i < sizeof(from) / sizeof(*from); i++) {
        health_core_t h = core(from[i], 2, 1);
        assert_int_equal(pgcm__health_step(&h, HEALTH_REMOVED, 3), CHG);
        assert_int_equal(h.state, S_DISCONNECTED);
        health_core_t frozen = h;
        /* 200 arbitrary inputs, thresholds included: nothing moves */
        for (int k = 0; k < 200; k++) {
            health_input_t in = all_inputs[(size_t)(k * 7 + 3) % N_INPUTS];
            assert_int_equal(pgcm__health_step(&h, in, k % 4), 0);
            assert_int_equal(h.state, frozen.state);
            assert_int_equal(h.consecutive_failures,
                             frozen.consecutive_failures);
            assert_int_equal(h.retry_attempt, frozen.retry_attempt);
        }
    }
}

/* RETRY_STARTED only means something while UNHEALTHY. */
static void test_retry_started_elsewhere_is_ignored(void **state)
{
    (void)state;
    const pgcm_node_state_t from[] = {S_CONNECTING, S_HEALTHY, S_DEGRADED,
                                      S_RECONNECTING, S_DISCONNECTED};
    for (size_t i = 0; i < sizeof(from) / sizeof(*from); i++) {
        health_core_t h = core(from[i], 1, 1);
        assert_int_equal(pgcm__health_step(&h, HEALTH_RETRY_STARTED, 3), 0);
        assert_int_equal(h.state, from[i]);
        assert_int_equal(h.consecutive_failures, 1);
        assert_int_equal(h.retry_attempt, 1);
    }
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(pgcm__health_input_name(HEALTH_PROBE_OK), "probe_ok");
    assert_string_equal(pgcm__health_input_name(HEALTH_PROBE_SLOW),
                        "probe_slow");
    assert_string_equal(pgcm__health_input_name(HEALTH_PROBE_FAILED),
                        "probe_failed");
    assert_string_equal(pgcm__health_input_name(HEALTH_CONFIG_ERROR),
                        "config_error");
    assert_string_equal(pgcm__health_input_name(HEALTH_RETRY_STARTED),
                        "retry_started");
    assert_string_equal(pgcm__health_input_name(HEALTH_REMOVED), "removed");
    assert_string_equal(pgcm__health_input_name((health_input_t)99), "unknown");

    assert_string_equal(pgcm_node_state_name(S_CONNECTING), "connecting");
    assert_string_equal(pgcm_node_state_name(S_HEALTHY), "healthy");
    assert_string_equal(pgcm_node_state_name(S_DEGRADED), "degraded");
    assert_string_equal(pgcm_node_state_name(S_UNHEALTHY), "unhealthy");
    assert_string_equal(pgcm_node_state_name(S_RECONNECTING), "reconnecting");
    assert_string_equal(pgcm_node_state_name(S_DISCONNECTED), "disconnected");
    assert_string_equal(pgcm_node_state_name((pgcm_node_state_t)-1), "unknown");
    assert_string_equal(pgcm_node_state_name((pgcm_node_state_t)6), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transition_table),
        cmocka_unit_test(test_table_is_complete),
        cmocka_unit_test(test_flag_invariants),
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_events_fire_once_per_episode),
        cmocka_unit_test(test_no_flapping_one_in_three),
        cmocka_unit_test(test_no_flapping_below_threshold_runs),
        cmocka_unit_test(test_threshold_one),
        cmocka_unit_test(test_threshold_five),
        cmocka_unit_test(test_threshold_out_of_range),
        cmocka_unit_test(test_config_error),
        cmocka_unit_test(test_config_error_after_failures),
        cmocka_unit_test(test_disconnected_is_terminal),
        cmocka_unit_test(test_retry_started_elsewhere_is_ignored),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
