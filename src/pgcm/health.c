/* SPDX-License-Identifier: MIT */
/*
 * health.c - the node health state machine (L3). Every transition is here,
 * in one function, with no I/O and no loop, so the rules can be read in one
 * place and unit-tested without a server. node.c feeds it evidence (probe
 * outcomes, retries, removal) and acts on the flags it returns.
 */
#include "internal.h"

// clang-format off
/*
 * Transition table ("fail" = HEALTH_PROBE_FAILED; n = consecutive failures
 * after counting this one; T = threshold):
 *
 *  from \ input  | OK            | SLOW          | fail            | CONFIG_ERROR | RETRY_STARTED | REMOVED
 *  --------------+---------------+---------------+-----------------+--------------+---------------+-------------
 *  CONNECTING    | HEALTHY  +C   | DEGRADED +C   | n<T: CONNECTING | UNHEALTHY    | -             | DISCONNECTED
 *                |               |               | n>=T: UNHEALTHY | +T +R        |               |
 *  HEALTHY       | HEALTHY       | DEGRADED      | n<T: DEGRADED   | UNHEALTHY    | -             | DISCONNECTED
 *                |               |               | n>=T: UNHEALTHY | +T +D +R     |               |
 *  DEGRADED      | HEALTHY       | DEGRADED      | as HEALTHY      | UNHEALTHY    | -             | DISCONNECTED
 *  UNHEALTHY     | HEALTHY  +C   | DEGRADED +C   | UNHEALTHY +R    | UNHEALTHY +R | RECONNECTING  | DISCONNECTED
 *  RECONNECTING  | HEALTHY  +C   | DEGRADED +C   | UNHEALTHY +R    | UNHEALTHY +R | -             | DISCONNECTED
 *  DISCONNECTED  | -             | -             | -               | -            | -             | -
 *
 *  +C connected event, +D disconnected event, +T threshold-reached event,
 *  +R schedule the next reconnect attempt (retry_attempt counts them).
 *  OK and SLOW reset the failure count and the retry attempt. A node that
 *  fails now and then (fewer than T in a row) moves only between HEALTHY and
 *  DEGRADED: it never flaps to UNHEALTHY. A configuration error (bad
 *  password, unknown database) is decisive at once: retrying fast will not
 *  fix it, so it goes straight to UNHEALTHY and the slowest retry pace.
 */
// clang-format on
int pgcm__health_step(health_core_t *h, health_input_t in, int threshold)
{
    pgcm_node_state_t old = h->state;
    int out = 0;

    if (threshold < 1)
        threshold = 1;
    if (old == PGCM_NODE_DISCONNECTED)
        return 0; /* terminal */

    switch (in) {
    case HEALTH_PROBE_OK:
    case HEALTH_PROBE_SLOW: {
        pgcm_node_state_t next =
            in == HEALTH_PROBE_OK ? PGCM_NODE_HEALTHY : PGCM_NODE_DEGRADED;
        if (old == PGCM_NODE_CONNECTING || old == PGCM_NODE_UNHEALTHY ||
            old == PGCM_NODE_RECONNECTING)
            out |= HEALTH_OUT_CONNECTED;
        h->consecutive_failures = 0;
        h->retry_attempt = 0;
        h->state = next;
        break;
    }
    case HEALTH_PROBE_FAILED:
        h->consecutive_failures++;
        if (old == PGCM_NODE_UNHEALTHY || old == PGCM_NODE_RECONNECTING) {
            h->retry_attempt++;
            h->state = PGCM_NODE_UNHEALTHY;
            out |= HEALTH_OUT_SCHEDULE_RETRY;
        } else if (h->consecutive_failures >= threshold) {
            h->state = PGCM_NODE_UNHEALTHY;
            h->retry_attempt = 0;
            out |= HEALTH_OUT_THRESHOLD | HEALTH_OUT_SCHEDULE_RETRY;
            if (old != PGCM_NODE_CONNECTING)
                out |= HEALTH_OUT_DISCONNECTED;
        } else if (old != PGCM_NODE_CONNECTING) {
            h->state = PGCM_NODE_DEGRADED;
        }
        break;
    case HEALTH_CONFIG_ERROR:
        h->consecutive_failures++;
        if (old == PGCM_NODE_UNHEALTHY || old == PGCM_NODE_RECONNECTING) {
            h->retry_attempt++;
        } else {
            h->retry_attempt = 0;
            out |= HEALTH_OUT_THRESHOLD;
            if (old != PGCM_NODE_CONNECTING)
                out |= HEALTH_OUT_DISCONNECTED;
        }
        h->state = PGCM_NODE_UNHEALTHY;
        out |= HEALTH_OUT_SCHEDULE_RETRY;
        break;
    case HEALTH_RETRY_STARTED:
        if (old == PGCM_NODE_UNHEALTHY)
            h->state = PGCM_NODE_RECONNECTING;
        break;
    case HEALTH_REMOVED:
        h->state = PGCM_NODE_DISCONNECTED;
        break;
    }
    if (h->state != old)
        out |= HEALTH_OUT_CHANGED;
    return out;
}

const char *pgcm__health_input_name(health_input_t in)
{
    switch (in) {
    case HEALTH_PROBE_OK:
        return "probe_ok";
    case HEALTH_PROBE_SLOW:
        return "probe_slow";
    case HEALTH_PROBE_FAILED:
        return "probe_failed";
    case HEALTH_CONFIG_ERROR:
        return "config_error";
    case HEALTH_RETRY_STARTED:
        return "retry_started";
    case HEALTH_REMOVED:
        return "removed";
    }
    return "unknown";
}

const char *pgcm_node_state_name(pgcm_node_state_t state)
{
    switch (state) {
    case PGCM_NODE_CONNECTING:
        return "connecting";
    case PGCM_NODE_HEALTHY:
        return "healthy";
    case PGCM_NODE_DEGRADED:
        return "degraded";
    case PGCM_NODE_UNHEALTHY:
        return "unhealthy";
    case PGCM_NODE_RECONNECTING:
        return "reconnecting";
    case PGCM_NODE_DISCONNECTED:
        return "disconnected";
    }
    return "unknown";
}
