/* SPDX-License-Identifier: MIT */
/*
 * test_schedule.c - the probe schedule (schedule.c) alone, then with the
 * health state machine in a simulated clock: a server that crashes, freezes
 * or is cut off at every moment of a full probe cycle (10 ms steps over
 * 5 s) must be found unhealthy within the bounds ARCHITECTURE.md states for
 * the default options: crash 1 s, freeze and cut 2 s. No server, no loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define MS 1000u

static const sched_timing_t timing = {5000, 500, 400, 50};

/* ---- the pure function ------------------------------------------------- */

static void test_first_probe_at_once_no_heartbeat_while_connecting(void **st)
{
    (void)st;
    sched_state_t s;
    pgcm__sched_init(&s, 1000 * MS);
    sched_next_t n = pgcm__sched_next(&s, &timing, 1000 * MS);
    assert_int_equal(n.kind, SCHED_FULL);
    pgcm__sched_started(&s, SCHED_FULL);
    /* in flight and connecting: nothing else, ever */
    n = pgcm__sched_next(&s, &timing, 5000 * MS);
    assert_int_equal(n.kind, SCHED_NONE);
    assert_true(n.at_us == UINT64_MAX);
    pgcm__sched_done(&s, &timing, SCHED_FULL, true, 1001 * MS);
    pgcm__sched_connected(&s);
    n = pgcm__sched_next(&s, &timing, 1002 * MS);
    assert_int_equal(n.kind, SCHED_NONE);
    /* heartbeat due 500 ms after last heard, full probe 5 s after */
    assert_true(n.at_us == 1501 * MS);
    n = pgcm__sched_next(&s, &timing, 1501 * MS);
    assert_int_equal(n.kind, SCHED_LIVENESS);
}

static void test_full_probe_stands_in_for_the_heartbeat(void **st)
{
    (void)st;
    sched_state_t s;
    pgcm__sched_init(&s, 0);
    pgcm__sched_connected(&s);
    pgcm__sched_done(&s, &timing, SCHED_FULL, true, 0);
    /* a heartbeat answered at 4.6 s, the full probe goes out at 5 s and
     * stands in for the next heartbeat: no second probe beside it */
    pgcm__sched_heard(&s, 4600 * MS);
    sched_next_t n = pgcm__sched_next(&s, &timing, 5000 * MS);
    assert_int_equal(n.kind, SCHED_FULL);
    pgcm__sched_started(&s, SCHED_FULL);
    n = pgcm__sched_next(&s, &timing, 5001 * MS);
    assert_int_equal(n.kind, SCHED_NONE);
    assert_true(n.at_us == 5500 * MS); /* 4600 + 500 + 400 */
    /* unanswered that long: the heartbeat is missed */
    n = pgcm__sched_next(&s, &timing, 5500 * MS);
    assert_int_equal(n.kind, SCHED_BEAT_MISSED);
    int f = pgcm__sched_done(&s, &timing, SCHED_LIVENESS, false, 5500 * MS);
    assert_true(f & SCHED_ABANDON_CHECK);
    assert_int_equal(s.phase, SCHED_SUSPECT);
    n = pgcm__sched_next(&s, &timing, 5500 * MS);
    assert_int_equal(n.kind, SCHED_NONE);
    assert_true(n.at_us == 5550 * MS);
    n = pgcm__sched_next(&s, &timing, 5550 * MS);
    assert_int_equal(n.kind, SCHED_SUSPECT_PROBE);
}

static void test_full_probe_waits_for_a_heartbeat_out(void **st)
{
    (void)st;
    sched_state_t s;
    pgcm__sched_init(&s, 0);
    pgcm__sched_connected(&s);
    pgcm__sched_done(&s, &timing, SCHED_FULL, true, 0);
    /* a heartbeat goes out at 4.9 s and is still out when the full probe
     * falls due at 5 s: the full probe waits (beside the heartbeat it
     * would need a second connection) */
    pgcm__sched_heard(&s, 4400 * MS);
    sched_next_t n = pgcm__sched_next(&s, &timing, 4900 * MS);
    assert_int_equal(n.kind, SCHED_LIVENESS);
    pgcm__sched_started(&s, SCHED_LIVENESS);
    n = pgcm__sched_next(&s, &timing, 5000 * MS);
    assert_int_equal(n.kind, SCHED_NONE);
    assert_true(n.at_us == UINT64_MAX); /* the answer reschedules */
    /* answered: the overdue full probe goes out at once */
    pgcm__sched_done(&s, &timing, SCHED_LIVENESS, true, 5020 * MS);
    n = pgcm__sched_next(&s, &timing, 5020 * MS);
    assert_int_equal(n.kind, SCHED_FULL);
}

static void test_suspect_retry_and_now(void **st)
{
    (void)st;
    sched_state_t s;
    pgcm__sched_init(&s, 0);
    pgcm__sched_connected(&s);
    pgcm__sched_done(&s, &timing, SCHED_FULL, true, 0);
    assert_int_equal(pgcm__sched_suspect(&s, 100 * MS), 0);
    assert_int_equal(pgcm__sched_next(&s, &timing, 100 * MS).kind,
                     SCHED_SUSPECT_PROBE);
    /* a second suspicion changes nothing */
    assert_int_equal(pgcm__sched_suspect(&s, 120 * MS), 0);
    assert_true(s.suspect_at_us == 100 * MS);
    pgcm__sched_retry_at(&s, 9000 * MS);
    assert_int_equal(pgcm__sched_next(&s, &timing, 8999 * MS).kind, SCHED_NONE);
    /* no heartbeats while waiting to retry */
    assert_true(pgcm__sched_next(&s, &timing, 8000 * MS).at_us == 9000 * MS);
    pgcm__sched_now(&s, 200 * MS);
    assert_int_equal(pgcm__sched_next(&s, &timing, 200 * MS).kind,
                     SCHED_RETRY_PROBE);
    pgcm__sched_started(&s, SCHED_RETRY_PROBE);
    pgcm__sched_done(&s, &timing, SCHED_RETRY_PROBE, true, 300 * MS);
    pgcm__sched_connected(&s);
    assert_int_equal(s.phase, SCHED_NORMAL);
    assert_true(s.next_full_us == 5300 * MS);
    assert_string_equal(pgcm__sched_kind_name(SCHED_LIVENESS), "heartbeat");
}

/* ---- detection bounds in a simulated clock ------------------------------ */

typedef enum fault { FAULT_CRASH, FAULT_FREEZE, FAULT_CUT } fault_t;

typedef struct probe_sim {
    sched_kind_t kind; /* NONE: free */
    uint64_t ends_us;  /* when its outcome is known */
    bool ok;
} probe_sim_t;

static int deadline_ms(sched_kind_t k)
{
    switch (k) {
    case SCHED_LIVENESS:
        return 400;
    case SCHED_SUSPECT_PROBE:
        return 300;
    default:
        return 2000;
    }
}

/* When a probe started at `t` on a server with `fault` at `f` ends, and
 * whether it succeeds: a healthy server answers in 1 ms; a crashed one
 * refuses at once; a frozen or cut-off one never answers (the deadline). */
static void probe_outcome(fault_t fault, uint64_t f, uint64_t t, sched_kind_t k,
                          probe_sim_t *p)
{
    p->kind = k;
    if (t + 1 * MS < f) {
        p->ends_us = t + 1 * MS;
        p->ok = true;
    } else if (fault == FAULT_CRASH) {
        p->ends_us = (t > f ? t : f) + 1 * MS;
        p->ok = false;
    } else {
        p->ends_us = t + (uint64_t)deadline_ms(k) * MS;
        p->ok = false;
    }
}

/* Run a node from time 0; the fault strikes at f. Returns the ms from the
 * fault until the node is UNHEALTHY. */
static int64_t simulate(fault_t fault, uint64_t f)
{
    sched_state_t s;
    health_core_t h = {PGCM_NODE_CONNECTING, 0, 0};
    probe_sim_t check = {SCHED_NONE, 0, false}, beat = {SCHED_NONE, 0, false};
    pgcm__sched_init(&s, 0);
    bool crash_seen = false;
    for (uint64_t now = 0; now < f + 10000 * MS; now += 1 * MS) {
        /* a crash closes idle sockets: evidence right away */
        if (fault == FAULT_CRASH && !crash_seen && now >= f + 1 * MS) {
            crash_seen = true;
            if (pgcm__sched_suspect(&s, now) & SCHED_ABANDON_CHECK)
                check.kind = SCHED_NONE;
        }
        probe_sim_t *slots[2] = {&check, &beat};
        for (int i = 0; i < 2; i++) {
            probe_sim_t *p = slots[i];
            if (p->kind == SCHED_NONE || now < p->ends_us)
                continue;
            sched_kind_t k = p->kind;
            p->kind = SCHED_NONE;
            int sf = pgcm__sched_done(&s, &timing, k, p->ok, now);
            if (sf & SCHED_ABANDON_CHECK)
                check.kind = SCHED_NONE;
            if (p->ok && k == SCHED_LIVENESS && h.consecutive_failures == 0)
                continue;
            int hf = pgcm__health_step(
                &h, p->ok ? HEALTH_PROBE_OK : HEALTH_PROBE_FAILED, 3);
            if (hf & HEALTH_OUT_CONNECTED)
                pgcm__sched_connected(&s);
            if (hf & HEALTH_OUT_SCHEDULE_RETRY)
                pgcm__sched_retry_at(&s, now + 1000 * MS);
        }
        if (h.state == PGCM_NODE_UNHEALTHY)
            return now >= f ? (int64_t)((now - f) / MS) : -1;
        for (;;) {
            sched_next_t n = pgcm__sched_next(&s, &timing, now);
            if (n.kind == SCHED_NONE)
                break;
            if (n.kind == SCHED_BEAT_MISSED) {
                /* as the node does: a failed heartbeat, probe abandoned */
                if (pgcm__sched_done(&s, &timing, SCHED_LIVENESS, false, now) &
                    SCHED_ABANDON_CHECK)
                    check.kind = SCHED_NONE;
                int hf = pgcm__health_step(&h, HEALTH_PROBE_FAILED, 3);
                if (hf & HEALTH_OUT_SCHEDULE_RETRY)
                    pgcm__sched_retry_at(&s, now + 1000 * MS);
                continue;
            }
            pgcm__sched_started(&s, n.kind);
            probe_outcome(fault, f, now, n.kind,
                          n.kind == SCHED_LIVENESS ? &beat : &check);
        }
    }
    return 1000000;
}

static void sweep(fault_t fault, const char *name, int64_t bound_ms)
{
    int64_t worst = 0, sum = 0, count = 0;
    uint64_t worst_at = 0;
    /* the node is steady after 10 s; sweep one full probe cycle */
    for (uint64_t f = 10000 * MS; f < 15000 * MS; f += 10 * MS) {
        int64_t d = simulate(fault, f);
        assert_true(d >= 0);
        sum += d;
        count++;
        if (d > worst) {
            worst = d;
            worst_at = f;
        }
    }
    print_message("%s: mean %lld ms, worst %lld ms (fault at "
                  "%llu ms into the cycle); bound %lld ms\n",
                  name, (long long)(sum / count), (long long)worst,
                  (unsigned long long)((worst_at / MS - 10000) % 5000),
                  (long long)bound_ms);
    assert_true(worst <= bound_ms);
}

static void test_crash_found_within_1s_at_every_phase(void **st)
{
    (void)st;
    sweep(FAULT_CRASH, "crash", 1000);
}

static void test_freeze_found_within_2s_at_every_phase(void **st)
{
    (void)st;
    sweep(FAULT_FREEZE, "freeze", 2000);
}

static void test_cut_found_within_2s_at_every_phase(void **st)
{
    (void)st;
    sweep(FAULT_CUT, "cut", 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_first_probe_at_once_no_heartbeat_while_connecting),
        cmocka_unit_test(test_full_probe_stands_in_for_the_heartbeat),
        cmocka_unit_test(test_full_probe_waits_for_a_heartbeat_out),
        cmocka_unit_test(test_suspect_retry_and_now),
        cmocka_unit_test(test_crash_found_within_1s_at_every_phase),
        cmocka_unit_test(test_freeze_found_within_2s_at_every_phase),
        cmocka_unit_test(test_cut_found_within_2s_at_every_phase),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
