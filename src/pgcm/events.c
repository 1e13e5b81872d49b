/* SPDX-License-Identifier: MIT */
/*
 * events.c - event subscribers and delivery (L12). Subscribers live on the
 * loop; delivery calls each in order. Unsubscribing during delivery only
 * clears the entry, which is compacted once delivery unwinds.
 */
#include <string.h>

#include "loop.h"

const char *pgcm_event_type_name(pgcm_event_type_t type)
{
    switch (type) {
    case PGCM_EV_NODE_ADDED:
        return "node_added";
    case PGCM_EV_NODE_REMOVED:
        return "node_removed";
    case PGCM_EV_NODE_CONNECTED:
        return "node_connected";
    case PGCM_EV_NODE_DISCONNECTED:
        return "node_disconnected";
    case PGCM_EV_HEALTH_CHANGED:
        return "health_changed";
    case PGCM_EV_THRESHOLD_REACHED:
        return "threshold_reached";
    case PGCM_EV_POOL_STATS:
        return "pool_stats";
    case PGCM_EV_CHECKOUT_LEAK:
        return "checkout_leak";
    }
    return "unknown";
}

static void compact(pgcm_manager_t *mgr)
{
    size_t j = 0;
    for (size_t i = 0; i < mgr->nsubs; i++) {
        if (mgr->subs[i].cb != NULL)
            mgr->subs[j++] = mgr->subs[i];
    }
    mgr->nsubs = j;
}

void pgcm__emit(pgcm_manager_t *mgr, pgcm_event_type_t type, node_t *n,
                pgcm_node_state_t old_state, pgcm_node_state_t new_state,
                int error_code, const char *message)
{
    if (mgr->nsubs == 0)
        return;
    pgcm_pool_stats_t stats;
    pgcm_health_t health;
    pgcm_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    ev.time_ms = pgcm__wall_ms();
    ev.old_state = old_state;
    ev.new_state = new_state;
    ev.error_code = error_code;
    ev.message = message ? message : "";
    if (n != NULL) {
        ev.node_id = n->id;
        health = n->health;
        health.state = n->hc.state;
        health.consecutive_failures = n->hc.consecutive_failures;
        health.retry_attempt = n->hc.retry_attempt;
        pgcm__pool_counts(n, &stats);
        ev.health = &health;
        ev.stats = &stats;
    } else {
        ev.node_id = "";
    }
    mgr->emitting++;
    size_t count = mgr->nsubs; /* subscribers added now start next time */
    for (size_t i = 0; i < count; i++) {
        if (mgr->subs[i].cb != NULL)
            mgr->subs[i].cb(&ev, mgr->subs[i].user);
    }
    if (--mgr->emitting == 0)
        compact(mgr);
}

int pgcm__subscribe_on_loop(pgcm_manager_t *mgr, pgcm_event_cb cb, void *user,
                            uint64_t id)
{
    if (mgr->nsubs == mgr->subs_cap) {
        size_t ncap = mgr->subs_cap ? mgr->subs_cap * 2 : 4;
        subscriber_t *ns = pgcm__realloc(mgr->subs, ncap * sizeof(*ns));
        if (ns == NULL)
            return PGCM_ENOMEM;
        mgr->subs = ns;
        mgr->subs_cap = ncap;
    }
    mgr->subs[mgr->nsubs].id = id;
    mgr->subs[mgr->nsubs].cb = cb;
    mgr->subs[mgr->nsubs].user = user;
    mgr->nsubs++;
    return PGCM_OK;
}

void pgcm__unsubscribe_on_loop(pgcm_manager_t *mgr, uint64_t id)
{
    for (size_t i = 0; i < mgr->nsubs; i++) {
        if (mgr->subs[i].id == id)
            mgr->subs[i].cb = NULL;
    }
    if (mgr->emitting == 0)
        compact(mgr);
}
