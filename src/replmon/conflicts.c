/* SPDX-License-Identifier: MIT */
/*
 * conflicts.c - a subscription's conflict count (errors, and on 18+ the
 * conflicts that raise none) and its rate between two rounds.
 */
#include "conflicts.h"

#include <math.h>
#include <string.h>

const char *rm_confl_name(rm_confl_t c)
{
    static const char *const names[RM_CONFL_COUNT] = {
        "insert_exists",
        "update_origin_differs",
        "update_exists",
        "update_missing",
        "delete_origin_differs",
        "delete_missing",
        "multiple_unique_conflicts"};

    return (int)c >= 0 && c < RM_CONFL_COUNT ? names[c] : "unknown";
}

int rm_confl_raises_error(rm_confl_t c)
{
    return c == RM_CONFL_INSERT_EXISTS || c == RM_CONFL_UPDATE_EXISTS ||
           c == RM_CONFL_MULTIPLE_UNIQUE_CONFLICTS;
}

int64_t rm_subscription_conflicts(const rm_subscription_t *s)
{
    int64_t total;
    size_t i;

    if (s->apply_error_count == RM_NONE && s->sync_error_count == RM_NONE)
        return RM_NONE;
    total = (s->apply_error_count == RM_NONE ? 0 : s->apply_error_count) +
            (s->sync_error_count == RM_NONE ? 0 : s->sync_error_count);
    for (i = 0; i < RM_CONFL_COUNT; i++) {
        if (s->confl[i] != RM_NONE && !rm_confl_raises_error((rm_confl_t)i))
            total += s->confl[i];
    }
    return total;
}

static const rm_node_t *find_node(const rm_snapshot_t *snap, const char *id)
{
    size_t i;

    for (i = 0; i < snap->count; i++) {
        if (strcmp(snap->nodes[i].id, id) == 0)
            return &snap->nodes[i];
    }
    return NULL;
}

static const rm_subscription_t *find_sub(const rm_node_t *n,
                                         const rm_subscription_t *like)
{
    size_t i;

    for (i = 0; i < n->nsubs; i++) {
        const rm_subscription_t *s = &n->subs[i];

        if (s->kind == like->kind && s->name != NULL && like->name != NULL &&
            strcmp(s->name, like->name) == 0)
            return s;
    }
    return NULL;
}

/* Seconds between the two rounds of a node, by its own clock if both
 * rounds read it. */
static double elapsed_seconds(const rm_snapshot_t *prev, const rm_node_t *pn,
                              const rm_snapshot_t *cur, const rm_node_t *cn)
{
    if (!isnan(pn->server_epoch) && !isnan(cn->server_epoch) &&
        pn->server_epoch > 0 && cn->server_epoch > 0)
        return cn->server_epoch - pn->server_epoch;
    return (double)(cur->collected_ms - prev->collected_ms) / 1000.0;
}

void rm_snapshot_rates(const rm_snapshot_t *prev, rm_snapshot_t *cur)
{
    size_t i, j;

    for (i = 0; i < cur->count; i++) {
        rm_node_t *cn = &cur->nodes[i];
        const rm_node_t *pn = prev != NULL ? find_node(prev, cn->id) : NULL;
        double secs = pn != NULL ? elapsed_seconds(prev, pn, cur, cn) : NAN;

        for (j = 0; j < cn->nsubs; j++) {
            rm_subscription_t *s = &cn->subs[j];
            const rm_subscription_t *ps = pn != NULL ? find_sub(pn, s) : NULL;
            int64_t now = rm_subscription_conflicts(s), then;

            s->conflict_rate_per_min = NAN;
            if (ps == NULL || now == RM_NONE || isnan(secs) || secs < 0.1)
                continue;
            then = rm_subscription_conflicts(ps);
            if (then == RM_NONE || now < then)
                continue;
            s->conflict_rate_per_min = (double)(now - then) * 60.0 / secs;
        }
    }
}
