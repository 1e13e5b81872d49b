/* SPDX-License-Identifier: MIT */
/*
 * schedule.c - when a node is probed, and with what (L5). Pure: the node's
 * schedule state and the time in, the next probe (kind and when) out; the
 * outcome of a probe in, the new state out. node.c only arms its timer for
 * the answer and starts what is due. Unit-tested without a server, with the
 * health state machine, for a fault at every phase of the probe cycle.
 */
#include "internal.h"

// clang-format off
/*
 * Two probe slots: the CHECK slot (a full, suspect or reconnect probe) and
 * the BEAT slot (the empty-query heartbeat). At most one probe per slot is
 * in flight. pgcm__sched_next() picks, in this order:
 *
 *  phase     | CHECK slot free                          | BEAT slot free
 *  ----------+------------------------------------------+--------------------------
 *  RETRY     | RETRY at retry_at                        | -
 *  SUSPECT   | SUSPECT at suspect_at                    | -
 *  NORMAL    | FULL at next_full, once no heartbeat is  | LIVENESS at last_heard +
 *            | out (beside one it would need a second   | liveness_interval (not while
 *            | connection)                              | CONNECTING, nor when the
 *            |                                          | interval is 0)
 *
 * While a FULL probe is in flight it stands in for the heartbeat: when
 * nothing has been heard for liveness_interval + liveness_timeout, the
 * heartbeat counts as missed (SCHED_BEAT_MISSED: a failure, and the full
 * probe is abandoned), as a heartbeat sent then would have timed out. So a
 * server frozen just before the full probe went out is noticed within the
 * heartbeat's short deadline, not the full probe's long one, and no second
 * connection is opened beside every full probe.
 *
 * Outcomes (pgcm__sched_done; a BEAT_MISSED is reported as a failed
 * LIVENESS):
 *  - OK from CHECK: phase NORMAL, next_full = now + interval (LIVENESS OK:
 *    only last_heard).
 *  - failure from any slot: phase SUSPECT, suspect_at = now + gap (now if it
 *    came from outside a probe, pgcm__sched_suspect); a FULL probe still in
 *    flight is abandoned (SCHED_ABANDON_CHECK): its answer could only come
 *    after its long deadline.
 *  - the health machine asks for a retry (pgcm__sched_retry_at): phase
 *    RETRY until then; a retry that starts leaves RETRY for SUSPECT-like
 *    pacing only through its own outcome.
 *  - heard (any answer from the server): last_heard = now.
 */
// clang-format on

void pgcm__sched_init(sched_state_t *s, uint64_t now)
{
    s->phase = SCHED_NORMAL;
    s->next_full_us = now;
    s->suspect_at_us = 0;
    s->retry_at_us = 0;
    s->last_heard_us = now;
    s->check = SCHED_NONE;
    s->beat_in_flight = false;
    s->connecting = true;
}

static uint64_t us(int ms)
{
    return (uint64_t)(ms > 0 ? ms : 0) * 1000u;
}

sched_next_t pgcm__sched_next(const sched_state_t *s, const sched_timing_t *t,
                              uint64_t now)
{
    sched_next_t out = {SCHED_NONE, UINT64_MAX};
    uint64_t check_at = UINT64_MAX;
    sched_kind_t check_kind = SCHED_NONE;
    if (s->check == SCHED_NONE) {
        switch (s->phase) {
        case SCHED_RETRY:
            check_kind = SCHED_RETRY_PROBE;
            check_at = s->retry_at_us;
            break;
        case SCHED_SUSPECT:
            check_kind = SCHED_SUSPECT_PROBE;
            check_at = s->suspect_at_us;
            break;
        case SCHED_NORMAL:
            if (s->beat_in_flight)
                break; /* the full probe follows the heartbeat's answer */
            check_kind = SCHED_FULL;
            check_at = s->next_full_us;
            break;
        }
    }
    uint64_t beat_at = UINT64_MAX;
    bool beat_is_miss = false;
    if (!s->beat_in_flight && s->phase == SCHED_NORMAL && !s->connecting &&
        t->liveness_interval_ms > 0) {
        if (s->check == SCHED_NONE) {
            beat_at = s->last_heard_us + us(t->liveness_interval_ms);
        } else if (s->check == SCHED_FULL) {
            beat_at = s->last_heard_us + us(t->liveness_interval_ms) +
                      us(t->liveness_timeout_ms);
            beat_is_miss = true;
        }
    }

    /* What is due now, the check first; else the earliest wake-up. */
    if (check_kind != SCHED_NONE && check_at <= now) {
        out.kind = check_kind;
        out.at_us = now;
    } else if (beat_at <= now) {
        out.kind = beat_is_miss ? SCHED_BEAT_MISSED : SCHED_LIVENESS;
        out.at_us = now;
    } else {
        out.at_us = check_at < beat_at ? check_at : beat_at;
    }
    return out;
}

void pgcm__sched_started(sched_state_t *s, sched_kind_t kind)
{
    if (kind == SCHED_LIVENESS)
        s->beat_in_flight = true;
    else if (kind != SCHED_NONE && kind != SCHED_BEAT_MISSED)
        s->check = kind;
}

int pgcm__sched_done(sched_state_t *s, const sched_timing_t *t,
                     sched_kind_t kind, bool ok, uint64_t now)
{
    int out = 0;
    if (kind == SCHED_LIVENESS)
        s->beat_in_flight = false;
    else if (s->check == kind)
        s->check = SCHED_NONE;
    if (ok) {
        s->last_heard_us = now;
        if (kind != SCHED_LIVENESS) {
            s->phase = SCHED_NORMAL;
            s->next_full_us = now + us(t->health_check_interval_ms);
        }
        return out;
    }
    if (s->check == SCHED_FULL) {
        /* a heartbeat failed while a full probe is out: that probe's
         * answer would come only after its long deadline */
        s->check = SCHED_NONE;
        out |= SCHED_ABANDON_CHECK;
    }
    if (s->phase != SCHED_RETRY) {
        s->phase = SCHED_SUSPECT;
        s->suspect_at_us = now + us(t->suspect_gap_ms);
    }
    return out;
}

int pgcm__sched_suspect(sched_state_t *s, uint64_t now)
{
    if (s->phase != SCHED_NORMAL)
        return 0;
    s->phase = SCHED_SUSPECT;
    s->suspect_at_us = now;
    if (s->check == SCHED_FULL) {
        s->check = SCHED_NONE;
        return SCHED_ABANDON_CHECK;
    }
    return 0;
}

void pgcm__sched_retry_at(sched_state_t *s, uint64_t at)
{
    s->phase = SCHED_RETRY;
    s->retry_at_us = at;
}

void pgcm__sched_connected(sched_state_t *s)
{
    s->connecting = false;
    if (s->phase == SCHED_RETRY)
        s->phase = SCHED_NORMAL;
}

void pgcm__sched_heard(sched_state_t *s, uint64_t now)
{
    if (now > s->last_heard_us)
        s->last_heard_us = now;
}

void pgcm__sched_now(sched_state_t *s, uint64_t now)
{
    if (s->phase == SCHED_RETRY)
        s->retry_at_us = now;
    else if (s->phase == SCHED_NORMAL)
        s->next_full_us = now;
    else
        s->suspect_at_us = now;
}

const char *pgcm__sched_kind_name(sched_kind_t kind)
{
    switch (kind) {
    case SCHED_NONE:
        return "none";
    case SCHED_FULL:
        return "probe";
    case SCHED_SUSPECT_PROBE:
        return "suspect probe";
    case SCHED_RETRY_PROBE:
        return "reconnect";
    case SCHED_LIVENESS:
        return "heartbeat";
    case SCHED_BEAT_MISSED:
        return "heartbeat (probe unanswered)";
    }
    return "unknown";
}
