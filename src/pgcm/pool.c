/* SPDX-License-Identifier: MIT */
/*
 * pool.c - one node's pool: the lists its connections sit on (connecting,
 * idle, busy), the FIFO of requests waiting for a connection with their
 * acquire deadlines, handing the most recently used idle connection to the
 * oldest waiter, keeping `min` connections open, and the janitor's sweep
 * (idle reaping, max lifetime, checkout leak warnings).
 *
 * The counts in pgcm_pool_stats_t are the list lengths, kept as counters.
 */
#include <stdio.h>

#include "loop.h"

int pgcm__node_total(const node_t *n)
{
    return n->n_connecting + n->n_idle + n->n_busy - n->n_dedicated;
}

void pgcm__pool_counts(const node_t *n, pgcm_pool_stats_t *s)
{
    *s = n->stats;
    s->total = pgcm__node_total(n);
    s->idle = n->n_idle;
    s->active = n->n_busy;
    s->probe_conns = n->n_dedicated;
    if (n->n_dedicated > 0) {
        /* a dedicated probe connection sits on busy (or connecting) */
        for (const list_node_t *p = n->busy.next; p != &n->busy; p = p->next)
            s->active -= LIST_ENTRY(p, conn_t, link)->dedicated_probe;
    }
    s->waiting = n->n_waiters;
    s->min = n->spec->pool.min;
    s->max = n->spec->pool.max;
}

void pgcm__pool_unlink(conn_t *c)
{
    node_t *n = c->node;
    switch (c->state) {
    case CONN_CONNECTING:
        n->n_connecting--;
        break;
    case CONN_IDLE:
        n->n_idle--;
        break;
    case CONN_ACTIVE:
        n->n_busy--;
        break;
    default:
        break;
    }
    if (list_linked(&c->link))
        list_remove(&c->link);
}

/* Move c to the list of state `to` (CONN_IDLE pushes at the front). */
void pgcm__pool_move(conn_t *c, conn_state_t to)
{
    node_t *n = c->node;
    pgcm__pool_unlink(c);
    c->state = to;
    switch (to) {
    case CONN_IDLE:
        list_push_front(&n->idle, &c->link);
        n->n_idle++;
        c->idle_since_us = pgcm__mono_us();
        break;
    case CONN_ACTIVE:
        list_push_back(&n->busy, &c->link);
        n->n_busy++;
        break;
    case CONN_CONNECTING:
        list_push_back(&n->connecting, &c->link);
        n->n_connecting++;
        break;
    default:
        break;
    }
}

/* ---- waiters --------------------------------------------------------- */

static void arm_waiter_timer(node_t *n);

static void on_waiter_timer(uv_timer_t *t)
{
    node_t *n = t->data;
    uint64_t now = pgcm__mono_us();
    /* Take the expired waiters out and count them before failing them, so
     * that a caller woken by the failure reads current stats. */
    list_node_t expired;
    list_init(&expired);
    list_node_t *pos, *tmp;
    LIST_FOREACH_SAFE(pos, tmp, &n->waiters)
    {
        request_t *r = LIST_ENTRY(pos, request_t, link);
        if (r->acquire_deadline_us > now)
            continue;
        list_remove(&r->link);
        list_push_back(&expired, &r->link);
        r->waiting = false;
        n->n_waiters--;
        n->stats.acquire_timeouts++;
    }
    n->waiter_due_us = 0;
    arm_waiter_timer(n);
    pgcm__node_publish(n);
    while (!list_empty(&expired)) {
        request_t *r = LIST_ENTRY(list_first(&expired), request_t, link);
        list_remove(&r->link);
        pgcm__request_fail(r, PGCM_ETIMEDOUT,
                           "node '%s': no connection became free within %d "
                           "ms (pool max %d, %d busy); raise pool max or the "
                           "acquire timeout",
                           n->id, (int)((now - r->submit_us + 500) / 1000),
                           n->spec->pool.max, n->n_busy);
    }
}

static void arm_waiter_timer(node_t *n)
{
    uint64_t earliest = UINT64_MAX;
    list_node_t *pos;
    for (pos = n->waiters.next; pos != &n->waiters; pos = pos->next) {
        request_t *r = LIST_ENTRY(pos, request_t, link);
        if (r->acquire_deadline_us < earliest)
            earliest = r->acquire_deadline_us;
    }
    if (earliest == UINT64_MAX) {
        uv_timer_stop(&n->waiter_timer);
        n->waiter_due_us = 0;
        return;
    }
    n->waiter_due_us = earliest;
    uint64_t now = pgcm__mono_us();
    uint64_t ms = earliest > now ? (earliest - now + 999) / 1000 : 0;
    uv_timer_start(&n->waiter_timer, on_waiter_timer, ms, 0);
}

void pgcm__pool_fail_waiters(node_t *n, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    while (!list_empty(&n->waiters)) {
        request_t *r = LIST_ENTRY(list_first(&n->waiters), request_t, link);
        list_remove(&r->link);
        r->waiting = false;
        n->n_waiters--;
        pgcm__request_fail(r, code, "%s", msg);
    }
    uv_timer_stop(&n->waiter_timer);
    n->waiter_due_us = 0;
}

/* Connections that will become available to waiters without new opens. */
static int conns_on_the_way(const node_t *n)
{
    int k = 0;
    const list_node_t *pos;
    for (pos = n->connecting.next; pos != &n->connecting; pos = pos->next) {
        const conn_t *c = LIST_ENTRY(pos, conn_t, link);
        if (!c->dedicated_probe)
            k++;
    }
    return k;
}

/* Give idle connections to waiters (oldest waiter first, most recently
 * used connection first); open new ones while under max. */
static void pool_dispatch(node_t *n)
{
    while (n->n_waiters > 0 && n->n_idle > 0) {
        conn_t *c = LIST_ENTRY(list_first(&n->idle), conn_t, link);
        request_t *r = LIST_ENTRY(list_first(&n->waiters), request_t, link);
        list_remove(&r->link);
        r->waiting = false;
        n->n_waiters--;
        pgcm__request_start(r, c);
    }
    if (n->n_waiters == 0) {
        uv_timer_stop(&n->waiter_timer);
        n->waiter_due_us = 0;
    } else if (pgcm__node_accepts_work(n)) {
        int want = n->n_waiters - conns_on_the_way(n);
        while (want-- > 0 && pgcm__node_total(n) < n->spec->pool.max) {
            if (pgcm__conn_open(n, false, 0) == NULL)
                break;
        }
    }
    pgcm__node_publish(n);
}

void pgcm__pool_enqueue(node_t *n, request_t *r)
{
    int acquire_ms = r->kind == REQ_CHECKOUT && r->acquire_timeout_ms > 0
                         ? r->acquire_timeout_ms
                         : n->spec->pool.acquire_timeout_ms;
    uint64_t deadline = r->submit_us + (uint64_t)acquire_ms * 1000;
    r->acquire_deadline_us = deadline;
    r->waiting = true;
    list_push_back(&n->waiters, &r->link);
    n->n_waiters++;
    pool_dispatch(n); /* may start (and free) r: do not touch it below */
    if (n->n_waiters > 0 &&
        (n->waiter_due_us == 0 || deadline < n->waiter_due_us))
        arm_waiter_timer(n);
}

void pgcm__pool_conn_ready(conn_t *c)
{
    node_t *n = c->node;
    if (c->probe_on_connect) {
        /* This connection was opened by a probe: run it now. */
        pgcm__node_probe_on(n, c);
        return;
    }
    if (n->life != NODE_LIVE) {
        pgcm__conn_close(c, "node removed");
        pgcm__node_check_drained(n);
        return;
    }
    if (c->dedicated_probe) {
        /* Beyond max: kept only as the node's probe connection. */
        if (n->n_dedicated > 1 || pgcm__node_total(n) < n->spec->pool.max) {
            pgcm__conn_close(c, "probe connection no longer needed");
            return;
        }
        /* Parked on the busy list so that users are never given it. */
        c->op = OP_NONE;
        pgcm__pool_move(c, CONN_ACTIVE);
        c->idle_since_us = pgcm__mono_us();
        if (pgcm__conn_watch_idle(c) != 0)
            pgcm__conn_close(c, "cannot watch socket");
        return;
    }
    if (c->expires_us != 0 && pgcm__mono_us() >= c->expires_us &&
        n->n_waiters == 0) {
        pgcm__conn_close(c, "max lifetime reached");
        pgcm__pool_fill(n);
        return;
    }
    pgcm__pool_move(c, CONN_IDLE);
    if (pgcm__conn_watch_idle(c) != 0) {
        pgcm__conn_close(c, "cannot watch socket");
        return;
    }
    pool_dispatch(n);
}

void pgcm__pool_probe_return(conn_t *c)
{
    node_t *n = c->node;
    if (c->dedicated_probe || n->n_waiters > 0 || n->life != NODE_LIVE ||
        (c->expires_us != 0 && pgcm__mono_us() >= c->expires_us)) {
        pgcm__pool_conn_ready(c);
        return;
    }
    /* A probe used this connection, not a user: put it at the least
     * recently used end with its idle time intact (a new one counts as idle
     * from now), so that probes neither reorder the pool nor keep surplus
     * connections from being reaped. */
    uint64_t idle_since =
        c->idle_since_us != 0 ? c->idle_since_us : pgcm__mono_us();
    pgcm__pool_move(c, CONN_IDLE);
    list_remove(&c->link);
    list_push_back(&n->idle, &c->link);
    c->idle_since_us = idle_since;
    if (pgcm__conn_watch_idle(c) != 0)
        pgcm__conn_close(c, "cannot watch socket");
    pgcm__node_publish(n);
}

void pgcm__pool_fill(node_t *n)
{
    if (n->life != NODE_LIVE || !pgcm__node_available(n))
        return;
    while (pgcm__node_total(n) < n->spec->pool.min) {
        if (pgcm__conn_open(n, false, 0) == NULL)
            break;
    }
    if (n->n_waiters > 0)
        pool_dispatch(n);
    pgcm__node_publish(n);
}

void pgcm__pool_connect_failed(node_t *n, int code, const char *msg)
{
    /* Waiters fail at once when nothing else can serve them: no idle or
     * busy connection and no other attempt under way. */
    if (n->n_waiters > 0 && n->n_idle == 0 && n->n_busy - n->n_dedicated == 0 &&
        conns_on_the_way(n) == 0)
        pgcm__pool_fail_waiters(n, code, "node '%s': cannot connect: %s", n->id,
                                msg);
    pgcm__node_publish(n);
}

/* ---- janitor --------------------------------------------------------- */

void pgcm__pool_maintain(node_t *n, uint64_t now)
{
    const pgcm_pool_options_t *po = &n->spec->pool;
    uint64_t idle_limit = (uint64_t)po->idle_timeout_ms * 1000;
    bool changed = false;

    /* Idle connections, least recently used first (the back). */
    list_node_t *pos, *tmp;
    for (pos = n->idle.prev, tmp = pos->prev; pos != &n->idle;
         pos = tmp, tmp = pos->prev) {
        conn_t *c = LIST_ENTRY(pos, conn_t, link);
        if (c->expires_us != 0 && now >= c->expires_us) {
            pgcm__conn_close(c, "max lifetime reached");
            changed = true;
        } else if (now - c->idle_since_us >= idle_limit &&
                   pgcm__node_total(n) > po->min) {
            pgcm__conn_close(c, "idle timeout");
            changed = true;
        }
    }

    /* Busy: leaked checkouts, idle dedicated probe connections. */
    uint64_t leak_limit = (uint64_t)po->leak_threshold_ms * 1000;
    LIST_FOREACH_SAFE(pos, tmp, &n->busy)
    {
        conn_t *c = LIST_ENTRY(pos, conn_t, link);
        if (c->checkout != NULL && !c->checkout->leak_warned &&
            now - c->checkout->since_us >= leak_limit) {
            c->checkout->leak_warned = true;
            char msg[160];
            snprintf(msg, sizeof(msg),
                     "a connection has been checked out for %d ms (leak "
                     "threshold %d ms); release it with "
                     "pgcm_checkout_release()",
                     (int)((now - c->checkout->since_us) / 1000),
                     po->leak_threshold_ms);
            pgcm__log(n->mgr, PGCM_LOG_WARN, n->id, "checkout_leak", 0, 0, "",
                      "%s", msg);
            pgcm__emit(n->mgr, PGCM_EV_CHECKOUT_LEAK, n, n->health.state,
                       n->health.state, 0, msg);
        }
        if (c->dedicated_probe && c->op == OP_NONE &&
            (now - c->idle_since_us >= idle_limit ||
             pgcm__node_total(n) < po->max)) {
            pgcm__conn_close(c, "probe connection no longer needed");
            changed = true;
        }
    }
    if (changed)
        pgcm__pool_fill(n);
}
