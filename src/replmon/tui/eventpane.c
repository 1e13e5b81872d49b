/* SPDX-License-Identifier: MIT */
/*
 * eventpane.c - a mutex-protected ring of events (see eventpane.h).
 */
#include "tui/eventpane.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rm_eventpane {
    pthread_mutex_t mu;
    rm_event_entry_t *ring;
    size_t cap;
    uint64_t seq; /* entries ever added; the newest is ring[(seq-1)%cap] */
};

rm_eventpane_t *rm_eventpane_new(size_t capacity)
{
    rm_eventpane_t *log = calloc(1, sizeof(*log));

    if (log == NULL)
        return NULL;
    log->cap = capacity < 1 ? 1 : capacity;
    log->ring = calloc(log->cap, sizeof(*log->ring));
    if (log->ring == NULL) {
        free(log);
        return NULL;
    }
    pthread_mutex_init(&log->mu, NULL);
    return log;
}

void rm_eventpane_free(rm_eventpane_t *log)
{
    if (log == NULL)
        return;
    pthread_mutex_destroy(&log->mu);
    free(log->ring);
    free(log);
}

static void push(rm_eventpane_t *log, const rm_event_entry_t *e)
{
    pthread_mutex_lock(&log->mu);
    log->ring[log->seq % log->cap] = *e;
    log->seq++;
    pthread_mutex_unlock(&log->mu);
}

void rm_eventpane_add(rm_eventpane_t *log, int64_t time_ms,
                      rm_event_level_t level, const char *node, const char *fmt,
                      ...)
{
    rm_event_entry_t e;
    va_list ap;

    memset(&e, 0, sizeof(e));
    e.time_ms = time_ms;
    e.level = level;
    e.own = 1;
    snprintf(e.node, sizeof(e.node), "%s", node != NULL ? node : "");
    va_start(ap, fmt);
    vsnprintf(e.text, sizeof(e.text), fmt, ap);
    va_end(ap);
    push(log, &e);
}

static rm_event_level_t state_level(pgcm_node_state_t s)
{
    switch (s) {
    case PGCM_NODE_HEALTHY:
        return RM_EVL_INFO;
    case PGCM_NODE_UNHEALTHY:
    case PGCM_NODE_DISCONNECTED:
        return RM_EVL_CRITICAL;
    default:
        return RM_EVL_WARNING;
    }
}

void rm_eventpane_pgcm(rm_eventpane_t *log, const pgcm_event_t *ev)
{
    rm_event_entry_t e;
    const char *msg = ev->message != NULL ? ev->message : "";
    const char *sep = msg[0] != '\0' ? ": " : "";

    if (ev->type == PGCM_EV_POOL_STATS)
        return;
    memset(&e, 0, sizeof(e));
    e.time_ms = ev->time_ms;
    snprintf(e.node, sizeof(e.node), "%s",
             ev->node_id != NULL ? ev->node_id : "");
    switch (ev->type) {
    case PGCM_EV_HEALTH_CHANGED:
        e.level = state_level(ev->new_state);
        snprintf(e.text, sizeof(e.text), "%s -> %s%s%s",
                 pgcm_node_state_name(ev->old_state),
                 pgcm_node_state_name(ev->new_state), msg[0] ? " (" : "",
                 msg[0] ? msg : "");
        if (msg[0] != '\0')
            strncat(e.text, ")", sizeof(e.text) - strlen(e.text) - 1);
        break;
    case PGCM_EV_NODE_DISCONNECTED:
    case PGCM_EV_THRESHOLD_REACHED:
        e.level = RM_EVL_CRITICAL;
        snprintf(e.text, sizeof(e.text), "%s%s%s",
                 ev->type == PGCM_EV_NODE_DISCONNECTED
                     ? "disconnected"
                     : "failure threshold reached",
                 sep, msg);
        break;
    case PGCM_EV_CHECKOUT_LEAK:
        e.level = RM_EVL_WARNING;
        snprintf(e.text, sizeof(e.text), "checkout held too long%s%s", sep,
                 msg);
        break;
    default:
        e.level = RM_EVL_INFO;
        snprintf(e.text, sizeof(e.text), "%s%s%s",
                 ev->type == PGCM_EV_NODE_ADDED     ? "added"
                 : ev->type == PGCM_EV_NODE_REMOVED ? "removed"
                 : ev->type == PGCM_EV_NODE_CONNECTED
                     ? "connected"
                     : pgcm_event_type_name(ev->type),
                 sep, msg);
        break;
    }
    push(log, &e);
}

size_t rm_eventpane_copy(rm_eventpane_t *log, rm_event_entry_t *out, size_t max)
{
    size_t n = 0;

    pthread_mutex_lock(&log->mu);
    while (n < max && n < log->seq && n < log->cap) {
        out[n] = log->ring[(log->seq - 1 - n) % log->cap];
        n++;
    }
    pthread_mutex_unlock(&log->mu);
    return n;
}

uint64_t rm_eventpane_seq(rm_eventpane_t *log)
{
    uint64_t s;

    pthread_mutex_lock(&log->mu);
    s = log->seq;
    pthread_mutex_unlock(&log->mu);
    return s;
}
