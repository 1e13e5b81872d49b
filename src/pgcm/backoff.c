/* SPDX-License-Identifier: MIT */
/*
 * backoff.c - reconnect delays: exponential from the initial delay, capped,
 * with jitter so that many nodes that failed together do not retry in step.
 * A pure function of (attempt, draw) so it is unit-tested without a loop.
 */
#include "internal.h"

int64_t pgcm__backoff_ms(int attempt, double draw, int64_t initial_ms,
                         int64_t max_ms)
{
    if (initial_ms < 1)
        initial_ms = 1;
    if (max_ms < initial_ms)
        max_ms = initial_ms;
    if (attempt < 0)
        attempt = 0;
    if (draw < 0.0)
        draw = 0.0;
    if (draw >= 1.0)
        draw = 0.999999;

    int64_t base = initial_ms;
    for (int i = 0; i < attempt && base < max_ms; i++)
        base = base > max_ms / 2 ? max_ms : base * 2;
    if (base > max_ms)
        base = max_ms;

    /* +-20%: base * [0.8, 1.2), computed in double and clamped before the
     * conversion so that no cap can overflow it */
    double jittered = (double)base * (0.8 + 0.4 * draw);
    int64_t delay = jittered >= (double)max_ms ? max_ms : (int64_t)jittered;
    if (delay < initial_ms / 2)
        delay = initial_ms / 2;
    return delay;
}
