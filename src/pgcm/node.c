/* SPDX-License-Identifier: MIT */
/*
 * node.c - one node on the loop: its life (added, draining, closed), its
 * name lookup, its probes and heartbeats, feeding evidence to the health
 * state machine (health.c) and acting on its verdicts (events, backoff,
 * refilling or emptying the pool), and publishing its health record and
 * stats for other threads.
 *
 * Detection (L5): any failure seen on a connection makes the node suspect:
 * it is probed at once, then every SUSPECT_GAP_MS with a short timeout
 * until the threshold decides. An idle node also gets a heartbeat (an
 * empty query on an idle connection) every liveness_interval_ms unless the
 * server was heard from more recently, so a frozen or cut-off server is
 * noticed within about liveness_interval + liveness_timeout +
 * (threshold - 1) x suspect_probe_timeout.
 */
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "loop.h"

#define SUSPECT_GAP_MS 50 /* between probes while suspect */
#define RESOLVE_TTL_US (60u * 1000000u)

typedef enum probe_kind {
    PROBE_FULL,    /* the probe query, at health_check_interval */
    PROBE_SUSPECT, /* after a failure, fast cadence, short timeout */
    PROBE_RETRY,   /* a reconnect attempt while unhealthy */
    PROBE_LIVENESS /* empty-query heartbeat on an idle connection */
} probe_kind_t;

static void node_schedule(node_t *n);
static void on_probe_timer(uv_timer_t *t);

static uint64_t ms_to_us(int ms)
{
    return (uint64_t)(ms > 0 ? ms : 0) * 1000u;
}

bool pgcm__node_available(const node_t *n)
{
    return n->life == NODE_LIVE && (n->hc.state == PGCM_NODE_HEALTHY ||
                                    n->hc.state == PGCM_NODE_DEGRADED);
}

bool pgcm__node_accepts_work(const node_t *n)
{
    return n->life == NODE_LIVE && n->hc.state != PGCM_NODE_UNHEALTHY &&
           n->hc.state != PGCM_NODE_RECONNECTING &&
           n->hc.state != PGCM_NODE_DISCONNECTED;
}

void pgcm__node_publish(node_t *n)
{
    pgcm_manager_t *mgr = n->mgr;
    n->health.state = n->hc.state;
    n->health.consecutive_failures = n->hc.consecutive_failures;
    n->health.retry_attempt = n->hc.retry_attempt;
    n->health.server_version = n->server_version;
    pthread_mutex_lock(&mgr->snap_lock);
    n->pub_health = n->health;
    pgcm__pool_counts(n, &n->pub_stats);
    pthread_mutex_unlock(&mgr->snap_lock);
}

void pgcm__node_heard(node_t *n)
{
    n->last_heard_us = pgcm__mono_us();
}

/* ---- creation -------------------------------------------------------- */

node_t *pgcm__node_new(pgcm_manager_t *mgr, const pgcm_node_spec_t *spec)
{
    node_t *n = pgcm__calloc(1, sizeof(*n));
    if (n == NULL)
        return NULL;
    n->spec = pgcm__spec_dup(spec);
    n->cancel_gate = pgcm__cancel_gate_new();
    if (n->spec == NULL || n->cancel_gate == NULL) {
        pgcm__spec_free(n->spec);
        pgcm__cancel_gate_release(n->cancel_gate);
        pgcm__free(n);
        return NULL;
    }
    n->id = n->spec->id;
    n->mgr = mgr;
    n->life = NODE_LIVE;
    list_init(&n->link);
    list_init(&n->connecting);
    list_init(&n->idle);
    list_init(&n->busy);
    list_init(&n->waiters);
    list_init(&n->remove_waiters);
    n->resolve_host = pgcm__conninfo_host_to_resolve(n->spec);
    uv_timer_init(&mgr->loop, &n->probe_timer);
    uv_timer_init(&mgr->loop, &n->waiter_timer);
    n->probe_timer.data = n;
    n->waiter_timer.data = n;
    n->open_handles = 2;
    n->hc.state = PGCM_NODE_CONNECTING;
    n->health.state = PGCM_NODE_CONNECTING;
    n->health.state_since_ms = pgcm__wall_ms();
    return n;
}

void pgcm__node_start(node_t *n)
{
    n->next_probe_us = pgcm__mono_us(); /* probe at once */
    pgcm__node_publish(n);
    pgcm__log(n->mgr, PGCM_LOG_INFO, n->id, "node_added", 0, 0, "",
              "pool min %d max %d", n->spec->pool.min, n->spec->pool.max);
    pgcm__emit(n->mgr, PGCM_EV_NODE_ADDED, n, n->hc.state, n->hc.state, 0, "");
    node_schedule(n);
}

/* ---- name resolution ------------------------------------------------- */

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    node_t *n = req->data;
    n->gai = NULL;
    pgcm__free(req);
    if (n == NULL || n->life != NODE_LIVE) {
        uv_freeaddrinfo(res);
        if (n != NULL)
            pgcm__node_check_drained(n);
        return;
    }
    /* Keep every address (at most a few), in the resolver's order: libpq
     * then tries them in turn, as it would have after its own lookup. */
    size_t used = 0;
    int kept = 0;
    n->hostaddr[0] = '\0';
    for (struct addrinfo *ai = status == 0 ? res : NULL; ai && kept < 8;
         ai = ai->ai_next) {
        char addr[64] = "";
        if (ai->ai_family == AF_INET)
            uv_ip4_name((struct sockaddr_in *)ai->ai_addr, addr, sizeof(addr));
        else if (ai->ai_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)ai->ai_addr, addr, sizeof(addr));
        else
            continue;
        if (addr[0] == '\0' || strstr(n->hostaddr, addr) != NULL)
            continue;
        size_t need = strlen(addr) + (used ? 1 : 0);
        if (used + need + 1 > sizeof(n->hostaddr))
            break;
        snprintf(n->hostaddr + used, sizeof(n->hostaddr) - used, "%s%s",
                 used ? "," : "", addr);
        used += need;
        kept++;
    }
    if (kept > 0)
        n->resolved_us = pgcm__mono_us();
    uv_freeaddrinfo(res);

    /* Start (or fail) every connection that waited for the lookup. */
    list_node_t *pos, *tmp;
    char msg[256];
    snprintf(msg, sizeof(msg), "could not resolve host name \"%s\": %s",
             n->resolve_host, status ? uv_strerror(status) : "no address");
    LIST_FOREACH_SAFE(pos, tmp, &n->connecting)
    {
        conn_t *c = LIST_ENTRY(pos, conn_t, link);
        if (c->pg != NULL)
            continue;
        if (n->hostaddr[0] != '\0')
            pgcm__conn_begin(c);
        else
            pgcm__conn_connect_failed(c, PGCM_ECONN, msg, "");
        if (n->life != NODE_LIVE)
            break;
    }
}

bool pgcm__node_need_resolve(node_t *n)
{
    if (n->resolve_host == NULL)
        return false;
    if (n->hostaddr[0] != '\0' &&
        pgcm__mono_us() - n->resolved_us < RESOLVE_TTL_US)
        return false;
    if (n->gai != NULL)
        return true; /* lookup running; the conn waits for it */
    uv_getaddrinfo_t *req = pgcm__calloc(1, sizeof(*req));
    if (req == NULL)
        return false;
    req->data = n;
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    n->hostaddr[0] = '\0';
    if (uv_getaddrinfo(&n->mgr->loop, req, on_resolved, n->resolve_host, NULL,
                       &hints) != 0) {
        pgcm__free(req);
        return false; /* let libpq try (and report) itself */
    }
    n->gai = req;
    return true;
}

/* ---- probes ---------------------------------------------------------- */

static int probe_timeout_ms(const node_t *n, probe_kind_t kind)
{
    const pgcm_options_t *o = &n->mgr->opts;
    switch (kind) {
    case PROBE_LIVENESS:
        return o->liveness_timeout_ms;
    case PROBE_SUSPECT:
        return o->suspect_probe_timeout_ms;
    case PROBE_RETRY:
    case PROBE_FULL:
        break;
    }
    return o->health_check_timeout_ms;
}

static void probe_send(node_t *n, conn_t *c)
{
    probe_kind_t kind = (probe_kind_t)n->probe_kind;
    const char *sql = kind == PROBE_LIVENESS ? "" : n->mgr->opts.probe_query;
    c->probe_on_connect = false;
    c->correlation_id = n->probe_correlation_id;
    if (pgcm__conn_send(c, kind == PROBE_LIVENESS ? OP_LIVENESS : OP_PROBE, sql,
                        0, NULL, probe_timeout_ms(n, kind)) != PGCM_OK) {
        char msg[256];
        char sqlstate[6];
        pgcm__pq_error_parse(PQerrorMessage(c->pg), msg, sizeof(msg), sqlstate);
        pgcm__conn_close(c, msg);
        pgcm__node_probe_done(n, PGCM_ECONN, 0, msg, sqlstate);
    }
}

void pgcm__node_probe_on(node_t *n, conn_t *c)
{
    c->probe_on_connect = false;
    if (n->life != NODE_LIVE || !n->probe_in_flight) {
        pgcm__conn_close(c, "probe no longer needed");
        if (n->life != NODE_LIVE)
            pgcm__node_check_drained(n);
        else
            pgcm__pool_fill(n);
        return;
    }
    pgcm__pool_move(c, CONN_ACTIVE);
    probe_send(n, c);
}

/* Start a probe: on the least recently used idle connection (a probe never
 * waits behind user queries), or a parked dedicated probe connection, else
 * on a new connection: part of the pool while under max, else dedicated.
 * The new connection's connect deadline is the probe's deadline. */
static void probe_start(node_t *n, probe_kind_t kind)
{
    conn_t *c = NULL;
    if (n->n_idle > 0) {
        c = LIST_ENTRY(list_last(&n->idle), conn_t, link);
    } else {
        list_node_t *pos;
        for (pos = n->busy.next; pos != &n->busy; pos = pos->next) {
            conn_t *b = LIST_ENTRY(pos, conn_t, link);
            if (b->dedicated_probe && b->op == OP_NONE) {
                c = b;
                break;
            }
        }
    }
    if (kind == PROBE_LIVENESS && c == NULL && n->n_busy == 0) {
        /* Nothing idle and nothing running: connections being opened have
         * their own deadline, and a full probe connects when due. */
        pgcm__node_heard(n);
        return;
    }
    /* Otherwise every connection is busy (a long query could hang on a
     * frozen server forever): the heartbeat opens a connection of its own
     * below, with its own short deadline. */
    n->probe_in_flight = true;
    n->probe_kind = kind;
    n->probe_correlation_id = pgcm__new_id(n->mgr);
    if (c != NULL) {
        c->correlation_id = n->probe_correlation_id;
        if (c->state != CONN_ACTIVE)
            pgcm__pool_move(c, CONN_ACTIVE);
        probe_send(n, c);
        return;
    }
    bool dedicated = pgcm__node_total(n) >= n->spec->pool.max;
    if (pgcm__conn_open(n, dedicated, probe_timeout_ms(n, kind)) == NULL)
        n->probe_in_flight = false;
}

static void on_probe_timer(uv_timer_t *t)
{
    node_t *n = t->data;
    if (n->life != NODE_LIVE || n->probe_in_flight)
        return;
    const pgcm_options_t *o = &n->mgr->opts;
    uint64_t now = pgcm__mono_us();

    if (n->retry_pending) {
        if (now >= n->retry_at_us) {
            n->retry_pending = false;
            pgcm_node_state_t old = n->hc.state;
            int flags = pgcm__health_step(&n->hc, HEALTH_RETRY_STARTED,
                                          o->unhealthy_threshold);
            if (flags & HEALTH_OUT_CHANGED) {
                n->health.state_since_ms = pgcm__wall_ms();
                pgcm__node_publish(n);
                pgcm__log(n->mgr, PGCM_LOG_INFO, n->id, "state_changed", 0, 0,
                          "", "%s -> %s", pgcm_node_state_name(old),
                          pgcm_node_state_name(n->hc.state));
                pgcm__emit(n->mgr, PGCM_EV_HEALTH_CHANGED, n, old, n->hc.state,
                           0, "reconnecting");
            }
            if (n->life == NODE_LIVE && !n->probe_in_flight)
                probe_start(n, PROBE_RETRY);
        }
    } else if (n->suspect) {
        if (now >= n->suspect_at_us)
            probe_start(n, PROBE_SUSPECT);
    } else if (now >= n->next_probe_us) {
        probe_start(n, PROBE_FULL);
    } else if (o->liveness_interval_ms > 0 &&
               now - n->last_heard_us >= ms_to_us(o->liveness_interval_ms)) {
        probe_start(n, PROBE_LIVENESS);
    }
    node_schedule(n);
}

/* Arm the probe timer for whatever is due next. */
static void node_schedule(node_t *n)
{
    if (n->life != NODE_LIVE)
        return;
    if (n->probe_in_flight) {
        uv_timer_stop(&n->probe_timer);
        return;
    }
    const pgcm_options_t *o = &n->mgr->opts;
    uint64_t at;
    if (n->retry_pending) {
        at = n->retry_at_us;
    } else if (n->suspect) {
        at = n->suspect_at_us;
    } else {
        at = n->next_probe_us;
        if (o->liveness_interval_ms > 0 &&
            n->hc.state != PGCM_NODE_CONNECTING) {
            uint64_t beat =
                n->last_heard_us + ms_to_us(o->liveness_interval_ms);
            if (beat < at)
                at = beat;
        }
    }
    uint64_t now = pgcm__mono_us();
    uint64_t delay_ms = at > now ? (at - now + 999) / 1000 : 0;
    uv_timer_start(&n->probe_timer, on_probe_timer, delay_ms, 0);
}

void pgcm__node_retry_now(node_t *n)
{
    if (n->life != NODE_LIVE)
        return;
    uint64_t now = pgcm__mono_us();
    if (n->retry_pending)
        n->retry_at_us = now;
    else
        n->next_probe_us = now;
    pgcm__log(n->mgr, PGCM_LOG_INFO, n->id, "retry_requested", 0, 0, "",
              "%s now on request",
              n->retry_pending ? "reconnecting" : "probing");
    node_schedule(n);
}

/* ---- health verdicts ------------------------------------------------- */

/* Close every connection of a node found unhealthy and fail the work on
 * it: the server is gone or hung, and callers should not wait for their
 * timeouts to learn that. */
static void node_drop_connections(node_t *n, int code, const char *msg)
{
    pgcm__pool_fail_waiters(n, PGCM_EUNAVAIL, "node '%s' is unhealthy: %s",
                            n->id, msg);
    list_node_t *lists[] = {&n->idle, &n->connecting, &n->busy};
    for (size_t i = 0; i < 3; i++) {
        while (!list_empty(lists[i])) {
            conn_t *c = LIST_ENTRY(list_first(lists[i]), conn_t, link);
            request_t *r = c->req;
            if (r != NULL) {
                c->req = NULL;
                r->conn = NULL;
                n->stats.queries++;
                n->stats.errors++;
                pgcm__request_fail(r, PGCM_EUNAVAIL,
                                   "node '%s' became unhealthy while the "
                                   "query ran: %s",
                                   n->id, msg);
            }
            if (c->state == CONN_ACTIVE && c->op != OP_NONE)
                pgcm__conn_send_cancel(c);
            pgcm__conn_close(c, msg);
        }
    }
    (void)code;
}

static void node_apply(node_t *n, pgcm_node_state_t old, int flags, int code,
                       const char *msg)
{
    pgcm_manager_t *mgr = n->mgr;
    const pgcm_options_t *o = &mgr->opts;
    if (flags & HEALTH_OUT_SCHEDULE_RETRY) {
        int64_t delay =
            code == PGCM_EAUTH
                ? o->backoff_max_ms
                : pgcm__backoff_ms(n->hc.retry_attempt, pgcm__random01(),
                                   o->backoff_initial_ms, o->backoff_max_ms);
        n->retry_pending = true;
        n->suspect = false;
        n->retry_at_us = pgcm__mono_us() + (uint64_t)delay * 1000;
        n->health.next_retry_ms = pgcm__wall_ms() + delay;
    }
    if (flags & HEALTH_OUT_CONNECTED) {
        n->retry_pending = false;
        n->health.next_retry_ms = 0;
    }
    if (flags & HEALTH_OUT_CHANGED) {
        n->health.state_since_ms = pgcm__wall_ms();
        pgcm__node_publish(n);
        pgcm__log(mgr,
                  n->hc.state == PGCM_NODE_UNHEALTHY  ? PGCM_LOG_ERROR
                  : n->hc.state == PGCM_NODE_DEGRADED ? PGCM_LOG_WARN
                                                      : PGCM_LOG_INFO,
                  n->id, "state_changed", n->probe_correlation_id, code, "",
                  "%s -> %s%s%s", pgcm_node_state_name(old),
                  pgcm_node_state_name(n->hc.state), msg[0] ? ": " : "", msg);
        if (old == PGCM_NODE_CONNECTING) {
            pthread_mutex_lock(&mgr->snap_lock);
            pthread_cond_broadcast(&mgr->snap_cond);
            pthread_mutex_unlock(&mgr->snap_lock);
        }
        pgcm__emit(mgr, PGCM_EV_HEALTH_CHANGED, n, old, n->hc.state, code, msg);
    }
    if (n->life != NODE_LIVE)
        return;
    if (flags & HEALTH_OUT_THRESHOLD)
        pgcm__emit(mgr, PGCM_EV_THRESHOLD_REACHED, n, old, n->hc.state, code,
                   msg);
    if (n->life != NODE_LIVE)
        return;
    if (flags & HEALTH_OUT_DISCONNECTED)
        pgcm__emit(mgr, PGCM_EV_NODE_DISCONNECTED, n, old, n->hc.state, code,
                   msg);
    if (n->life != NODE_LIVE)
        return;
    if (n->hc.state == PGCM_NODE_UNHEALTHY)
        node_drop_connections(n, code, msg);
    if (flags & HEALTH_OUT_CONNECTED) {
        pgcm__emit(mgr, PGCM_EV_NODE_CONNECTED, n, old, n->hc.state, 0, "");
        if (n->life != NODE_LIVE)
            return;
        pgcm__pool_fill(n);
    }
    pgcm__node_publish(n);
}

void pgcm__node_probe_done(node_t *n, int status, uint64_t latency_us,
                           const char *msg, const char *sqlstate)
{
    if (!n->probe_in_flight)
        return;
    n->probe_in_flight = false;
    if (n->life != NODE_LIVE) {
        pgcm__node_check_drained(n);
        return;
    }
    const pgcm_options_t *o = &n->mgr->opts;
    probe_kind_t kind = (probe_kind_t)n->probe_kind;
    uint64_t now = pgcm__mono_us();
    int64_t wall = pgcm__wall_ms();
    health_input_t in;

    n->stats.probes++;
    n->health.last_check_ms = wall;
    static const char *const kind_names[] = {"probe", "suspect probe",
                                             "reconnect", "heartbeat"};
    pgcm__log(n->mgr, status == PGCM_OK ? PGCM_LOG_DEBUG : PGCM_LOG_WARN, n->id,
              "health_check", n->probe_correlation_id, status, sqlstate,
              "%s %s in %llu us%s%s", kind_names[kind],
              status == PGCM_OK ? "ok" : "failed",
              (unsigned long long)latency_us, msg && msg[0] ? ": " : "",
              msg ? msg : "");
    if (status == PGCM_OK) {
        n->health.last_ok_ms = wall;
        n->suspect = false;
        if (kind == PROBE_LIVENESS && n->hc.consecutive_failures == 0) {
            /* A heartbeat only proves life; it does not judge latency. */
            pgcm__node_publish(n);
            node_schedule(n);
            return;
        }
        n->health.latency_us = (int64_t)latency_us;
        if (kind != PROBE_LIVENESS)
            n->next_probe_us = now + ms_to_us(o->health_check_interval_ms);
        in = latency_us > ms_to_us(o->degraded_latency_ms) ? HEALTH_PROBE_SLOW
                                                           : HEALTH_PROBE_OK;
    } else {
        n->stats.probe_failures++;
        n->health.last_error_code = status;
        snprintf(n->health.last_error, sizeof(n->health.last_error), "%s",
                 msg ? msg : "");
        snprintf(n->health.last_sqlstate, sizeof(n->health.last_sqlstate), "%s",
                 sqlstate ? sqlstate : "");
        in = status == PGCM_EAUTH ? HEALTH_CONFIG_ERROR : HEALTH_PROBE_FAILED;
        n->suspect = true;
        n->suspect_at_us = now + ms_to_us(SUSPECT_GAP_MS);
    }
    pgcm_node_state_t old = n->hc.state;
    int flags = pgcm__health_step(&n->hc, in, o->unhealthy_threshold);
    node_apply(n, old, flags, status, msg ? msg : "");
    node_schedule(n);
}

void pgcm__node_suspect(node_t *n, int code, const char *msg,
                        const char *sqlstate)
{
    if (n->life != NODE_LIVE)
        return;
    n->health.last_error_code = code;
    snprintf(n->health.last_error, sizeof(n->health.last_error), "%s",
             msg ? msg : "");
    snprintf(n->health.last_sqlstate, sizeof(n->health.last_sqlstate), "%s",
             sqlstate ? sqlstate : "");
    if (n->hc.state == PGCM_NODE_UNHEALTHY ||
        n->hc.state == PGCM_NODE_RECONNECTING || n->suspect ||
        n->probe_in_flight) {
        pgcm__node_publish(n);
        return;
    }
    n->suspect = true;
    n->suspect_at_us = pgcm__mono_us();
    pgcm__node_publish(n);
    node_schedule(n);
}

/* ---- removal ----------------------------------------------------------- */

static void node_handle_closed(uv_handle_t *h)
{
    node_t *n = h->data;
    if (--n->open_handles == 0)
        pgcm__manager_node_closed(n->mgr, n);
}

static void node_finish_close(node_t *n)
{
    n->life = NODE_CLOSED;
    pgcm_node_state_t old = n->hc.state;
    pgcm__health_step(&n->hc, HEALTH_REMOVED, 1);
    n->health.state_since_ms = pgcm__wall_ms();
    n->health.next_retry_ms = 0;
    pgcm__node_publish(n);
    pthread_mutex_lock(&n->mgr->snap_lock);
    pthread_cond_broadcast(&n->mgr->snap_cond);
    pthread_mutex_unlock(&n->mgr->snap_lock);
    if (old != PGCM_NODE_DISCONNECTED)
        pgcm__emit(n->mgr, PGCM_EV_HEALTH_CHANGED, n, old,
                   PGCM_NODE_DISCONNECTED, PGCM_ESHUTDOWN, "node removed");
    pgcm__log(n->mgr, PGCM_LOG_INFO, n->id, "node_removed", 0, 0, "",
              "every connection closed");
    pgcm__emit(n->mgr, PGCM_EV_NODE_REMOVED, n, old, PGCM_NODE_DISCONNECTED, 0,
               "");
    uv_close((uv_handle_t *)&n->probe_timer, node_handle_closed);
    uv_close((uv_handle_t *)&n->waiter_timer, node_handle_closed);
}

void pgcm__node_check_drained(node_t *n)
{
    if (n->life != NODE_DRAINING)
        return;
    if (n->n_busy + n->n_connecting + n->n_idle == 0 && n->gai == NULL)
        node_finish_close(n);
}

/* The drain deadline passed: cancel what still runs and close. */
static void on_drain_timer(uv_timer_t *t)
{
    node_t *n = t->data;
    while (!list_empty(&n->busy)) {
        conn_t *c = LIST_ENTRY(list_first(&n->busy), conn_t, link);
        if (c->req != NULL)
            pgcm__conn_abort(c, PGCM_ESHUTDOWN);
        else if (c->op != OP_NONE)
            pgcm__conn_send_cancel(c);
        pgcm__conn_close(c, "removed while busy");
    }
    pgcm__node_check_drained(n);
}

void pgcm__node_begin_remove(node_t *n, int drain_ms)
{
    if (n->life != NODE_LIVE)
        return;
    n->life = NODE_DRAINING;
    n->probe_in_flight = false;
    uv_timer_stop(&n->probe_timer);
    pgcm__pool_fail_waiters(n, PGCM_ESHUTDOWN,
                            "node '%s' was removed before a connection "
                            "became free",
                            n->id);
    while (!list_empty(&n->idle))
        pgcm__conn_close(LIST_ENTRY(list_first(&n->idle), conn_t, link),
                         "node removed");
    while (!list_empty(&n->connecting))
        pgcm__conn_close(LIST_ENTRY(list_first(&n->connecting), conn_t, link),
                         "node removed");
    list_node_t *pos, *tmp;
    LIST_FOREACH_SAFE(pos, tmp, &n->busy)
    {
        conn_t *c = LIST_ENTRY(pos, conn_t, link);
        /* probes and parked probe connections are not user work */
        if (c->op == OP_PROBE || c->op == OP_LIVENESS) {
            pgcm__conn_close(c, "node removed");
        } else if (c->op == OP_NONE && c->checkout == NULL) {
            pgcm__conn_close(c, "node removed");
        }
    }
    if (n->gai != NULL)
        uv_cancel((uv_req_t *)n->gai);
    pgcm__node_publish(n);
    if (n->n_busy > 0)
        uv_timer_start(&n->probe_timer, on_drain_timer,
                       (uint64_t)(drain_ms > 0 ? drain_ms : 0), 0);
    pgcm__node_check_drained(n);
}

void pgcm__node_discard(node_t *n)
{
    n->life = NODE_CLOSED;
    uv_close((uv_handle_t *)&n->probe_timer, node_handle_closed);
    uv_close((uv_handle_t *)&n->waiter_timer, node_handle_closed);
}

void pgcm__node_free(node_t *n)
{
    pgcm__cancel_gate_release(n->cancel_gate);
    pgcm__spec_free(n->spec);
    pgcm__free(n->resolve_host);
    pgcm__free(n);
}
