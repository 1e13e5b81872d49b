/* SPDX-License-Identifier: MIT */
/*
 * node.c - one node on the loop: its life (added, draining, closed), its
 * name lookup, and its health. The evidence comes from its pool (probes,
 * heartbeats, connections that failed); the rules are pure and live
 * elsewhere: when to probe in schedule.c, what a probe's outcome means in
 * health.c. This file applies them: it arms the probe timer for what the
 * schedule says is next, feeds outcomes to both machines, and acts on the
 * verdicts (events, backoff, emptying or refilling the pool). The same
 * wheel entry that holds the next probe bounds a removal (the drain
 * deadline), then reports the close.
 *
 * Detection (L5): any failure seen on a connection makes the node suspect:
 * it is probed at once, then every SUSPECT_GAP_MS with a short timeout
 * until the threshold decides. A heartbeat (an empty query) goes out
 * whenever nothing was heard from the server for liveness_interval_ms,
 * also while a full probe is out, so a frozen or cut-off server is noticed
 * within about liveness_interval + liveness_timeout + (threshold - 1) x
 * (suspect_gap + suspect_probe_timeout).
 */
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "node.h"

#define SUSPECT_GAP_MS 50 /* between probes while suspect */
#define RESOLVE_TTL_US (60u * 1000000u)
#define RETRY_START_MS 100 /* a probe could not start: look again then */
#define LAST_ERROR_MAX (sizeof(((pgcm_health_t *)0)->last_error) - 1)

static void node_schedule(node_t *n);
static void node_check_drained(node_t *n);
static void suspect(node_t *n, int code, const char *msg, const char *sqlstate);

static uint64_t now_us(const node_t *n)
{
    return pgcm__env_now(n->env);
}

static sched_timing_t timing(const node_t *n)
{
    const pgcm_options_t *o = n->env->opts;
    sched_timing_t t = {o->health_check_interval_ms, o->liveness_interval_ms,
                        o->liveness_timeout_ms, SUSPECT_GAP_MS};
    return t;
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

/* A pgcm_health_t from a health record and the state and counters
 * beside it. */
static void health_expand(pgcm_health_t *out, const node_health_t *h,
                          pgcm_node_state_t state, int consecutive_failures,
                          int retry_attempt, int server_version)
{
    out->state = state;
    out->state_since_ms = h->state_since_ms;
    out->last_check_ms = h->last_check_ms;
    out->last_ok_ms = h->last_ok_ms;
    out->latency_us = h->latency_us;
    out->consecutive_failures = consecutive_failures;
    out->retry_attempt = retry_attempt;
    out->next_retry_ms = h->next_retry_ms;
    out->last_error_code = h->last_error_code;
    memcpy(out->last_sqlstate, h->last_sqlstate, sizeof(out->last_sqlstate));
    snprintf(out->last_error, sizeof(out->last_error), "%s",
             h->last_error ? h->last_error : "");
    out->server_version = server_version;
}

void pgcm__node_publish(node_t *n)
{
    n->pool.accepting = pgcm__node_accepts_work(n);
    n->pool.reachable = pgcm__node_available(n);
    /* A new failure text is copied outside the lock; the old one is freed
     * after it. Out of memory, the published text is empty. */
    bool new_text = n->error_text_changed;
    char *text = new_text ? pgcm__strdup(n->health.last_error) : NULL;
    n->error_text_changed = false;
    node_published_t *pub = &n->pub;
    pthread_mutex_lock(n->pub_to.lock);
    char *old_text = pub->health.last_error;
    pub->health = n->health;
    pub->health.last_error = new_text ? text : old_text;
    pub->state = n->hc.state;
    pub->consecutive_failures = n->hc.consecutive_failures;
    pub->retry_attempt = n->hc.retry_attempt;
    pub->server_version = n->server_version;
    pgcm__pool_stats(&n->pool, &pub->stats);
    pthread_mutex_unlock(n->pub_to.lock);
    if (new_text)
        pgcm__free(old_text);
}

void pgcm__node_read_published(const node_t *n, pgcm_health_t *health,
                               pgcm_pool_stats_t *stats)
{
    const node_published_t *pub = &n->pub;
    if (health != NULL)
        health_expand(health, &pub->health, pub->state,
                      pub->consecutive_failures, pub->retry_attempt,
                      pub->server_version);
    if (stats != NULL)
        *stats = pub->stats;
}

static void emit(node_t *n, pgcm_event_type_t type, pgcm_node_state_t old,
                 int code, const char *msg)
{
    pgcm_pool_stats_t stats;
    pgcm_health_t health;
    health_expand(&health, &n->health, n->hc.state, n->hc.consecutive_failures,
                  n->hc.retry_attempt, n->server_version);
    pgcm__pool_stats(&n->pool, &stats);
    pgcm_event_t ev = {.type = type,
                       .node_id = n->id,
                       .time_ms = pgcm__wall_ms(),
                       .old_state = old,
                       .new_state = n->hc.state,
                       .health = &health,
                       .stats = &stats,
                       .error_code = code,
                       .message = msg ? msg : ""};
    pgcm__deliver_event(n->env->deliver, &ev);
}

void pgcm__node_emit_stats(node_t *n)
{
    emit(n, PGCM_EV_POOL_STATS, n->hc.state, 0, "");
}

/* ---- name resolution and connection parameters ------------------------ */

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    node_t *n = req->data;
    n->gai = NULL;
    pgcm__free(req);
    if (n->life != NODE_LIVE) {
        uv_freeaddrinfo(res);
        node_check_drained(n);
        return;
    }
    /* Keep every address (at most a few), in the resolver's order: libpq
     * then tries them in turn, as it would have after its own lookup. */
    char addrs[400] = "";
    size_t used = 0;
    int kept = 0;
    for (struct addrinfo *ai = status == 0 ? res : NULL; ai && kept < 8;
         ai = ai->ai_next) {
        char addr[64] = "";
        if (ai->ai_family == AF_INET)
            uv_ip4_name((struct sockaddr_in *)ai->ai_addr, addr, sizeof(addr));
        else if (ai->ai_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)ai->ai_addr, addr, sizeof(addr));
        else
            continue;
        if (addr[0] == '\0' || strstr(addrs, addr) != NULL)
            continue;
        size_t need = strlen(addr) + (used ? 1 : 0);
        if (used + need + 1 > sizeof(addrs))
            break;
        snprintf(addrs + used, sizeof(addrs) - used, "%s%s", used ? "," : "",
                 addr);
        used += need;
        kept++;
    }
    pgcm__free(n->hostaddr);
    n->hostaddr = kept > 0 ? pgcm__strdup(addrs) : NULL;
    if (n->hostaddr == NULL)
        kept = 0; /* out of memory: as if nothing was found */
    if (kept > 0)
        n->resolved_us = now_us(n);
    uv_freeaddrinfo(res);
    char msg[256];
    snprintf(msg, sizeof(msg), "could not resolve host name \"%s\": %s",
             n->resolve_host, status ? uv_strerror(status) : "no address");
    pgcm__pool_params_ready(&n->pool, kept > 0, PGCM_ECONN, msg);
}

/* Does the node still need a name lookup? Starts one if none runs. */
static bool need_resolve(node_t *n)
{
    if (n->resolve_host == NULL)
        return false;
    if (n->hostaddr != NULL && now_us(n) - n->resolved_us < RESOLVE_TTL_US)
        return false;
    if (n->gai != NULL)
        return true; /* lookup running; the connection waits for it */
    uv_getaddrinfo_t *req = pgcm__calloc(1, sizeof(*req));
    if (req == NULL)
        return false;
    req->data = n;
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    pgcm__free(n->hostaddr);
    n->hostaddr = NULL;
    if (uv_getaddrinfo(n->env->loop, req, on_resolved, n->resolve_host, NULL,
                       &hints) != 0) {
        pgcm__free(req);
        return false; /* let libpq try (and report) itself */
    }
    n->gai = req;
    return true;
}

/* ---- the SSH tunnel (ssh.host set) ------------------------------------- */

static bool via_ssh(const pgcm_node_spec_t *spec)
{
    return spec->ssh.host != NULL && spec->ssh.host[0] != '\0';
}

/* tunnel.c's callback: the hop before the server came up or went down. */
static void on_tunnel(pgcm__tunnel_t *t, pgcm__tunnel_event_t ev, int code,
                      const char *msg, void *owner)
{
    node_t *n = owner;
    (void)t;
    if (n->life != NODE_LIVE)
        return;
    const pgcm_options_t *o = n->env->opts;
    switch (ev) {
    case PGCM__TUNNEL_UP:
        pgcm__log(o, PGCM_LOG_INFO, n->id, "tunnel_up", 0, 0, "",
                  "SSH session to %s:%d up", n->spec->ssh.host,
                  n->spec->ssh.port > 0 ? n->spec->ssh.port : 22);
        emit(n, PGCM_EV_TUNNEL_UP, n->hc.state, 0, "");
        pgcm__pool_params_ready(&n->pool, true, 0, "");
        break;
    case PGCM__TUNNEL_DOWN:
        pgcm__log(o, PGCM_LOG_ERROR, n->id, "tunnel_down", 0, code, "", "%s",
                  msg);
        emit(n, PGCM_EV_TUNNEL_DOWN, n->hc.state, code, msg);
        /* Connections waiting for it fail with its reason; its loss
         * makes the node suspect at once, as a broken connection does. */
        pgcm__pool_params_ready(&n->pool, false, code, msg);
        suspect(n, code, msg, "");
        break;
    case PGCM__TUNNEL_CHANNEL_REFUSED:
        /* That connection fails next; pgcm__tunnel_problem names why. */
        pgcm__log(o, PGCM_LOG_WARN, n->id, "tunnel_channel_refused", 0, code,
                  "", "%s", msg);
        break;
    }
}

/* A failure on a connection through the tunnel: when the SSH hop caused
 * it, report the hop's code and message, not libpq's view of a closed
 * loopback socket. */
static void blame_hop(node_t *n, int *code, const char **msg,
                      const char **sqlstate, pgcm_error_t *buf)
{
    if (n->tunnel == NULL || *code == PGCM_OK ||
        strncmp(*msg ? *msg : "", "ssh: ", 5) == 0)
        return;
    if (pgcm__tunnel_problem(n->tunnel, buf) == PGCM_OK)
        return;
    *code = buf->code;
    *msg = buf->message;
    *sqlstate = "";
}

/* A connection's parameters through the tunnel: libpq connects to its
 * loopback listener (hostaddr 127.0.0.1, its port) and keeps `host` for
 * TLS name checks. Not yet while the session is being made; a connection
 * wanted while it is down rebuilds it (the node's schedule paces that). */
static int tunnel_params(node_t *n, conninfo_params_t *out, char *msg,
                         size_t msglen)
{
    loop_env_t *env = n->env;
    pgcm_error_t err;
    if (n->tunnel == NULL) {
        if (env->tunnels == NULL) {
            if ((env->tunnels = pgcm__tunnels_new(env->loop)) == NULL) {
                snprintf(msg, msglen,
                         "ssh: cannot start libssh2 (out of memory)");
                return -1;
            }
            /* The SSH login is bounded like a connect. */
            pgcm__tunnel_timing_t tt;
            pgcm__tunnel_timing_init(&tt);
            if (env->opts->connect_timeout_ms > 0)
                tt.connect_timeout_ms = env->opts->connect_timeout_ms;
            pgcm__tunnels_set_timing(env->tunnels, &tt);
        }
        int port = n->spec->port > 0 ? n->spec->port : 5432;
        if (pgcm__tunnel_open(env->tunnels, &n->spec->ssh, n->spec->host, port,
                              on_tunnel, n, &n->tunnel, &err) != PGCM_OK) {
            snprintf(msg, msglen, "%s", err.message);
            return -1;
        }
        return 0; /* its UP or DOWN event follows */
    }
    if (!pgcm__tunnel_is_up(n->tunnel)) {
        pgcm__tunnel_reconnect(n->tunnel); /* a no-op while being made */
        return 0;
    }
    pgcm_node_spec_t via = *n->spec;
    via.port = pgcm__tunnel_local_port(n->tunnel);
    if (pgcm__conninfo_build(&via, env->opts->application_name, "127.0.0.1",
                             out, &err) != PGCM_OK) {
        snprintf(msg, msglen, "%s", err.message);
        return -1;
    }
    return 1;
}

/* pool_params_fn: a new connection's libpq parameters. */
static int node_params(void *owner, conninfo_params_t *out, char *msg,
                       size_t msglen)
{
    node_t *n = owner;
    if (via_ssh(n->spec))
        return tunnel_params(n, out, msg, msglen);
    if (need_resolve(n))
        return 0;
    pgcm_error_t err;
    const char *hostaddr = n->hostaddr;
    if (pgcm__conninfo_build(n->spec, n->env->opts->application_name, hostaddr,
                             out, &err) != PGCM_OK) {
        snprintf(msg, msglen, "%s", err.message);
        return -1;
    }
    return 1;
}

/* ---- verdicts ---------------------------------------------------------- */

static void apply(node_t *n, pgcm_node_state_t old, int flags, int code,
                  const char *msg)
{
    const pgcm_options_t *o = n->env->opts;
    if (flags & HEALTH_OUT_SCHEDULE_RETRY) {
        int64_t delay =
            code == PGCM_EAUTH
                ? o->backoff_max_ms
                : pgcm__backoff_ms(n->hc.retry_attempt, pgcm__random01(),
                                   o->backoff_initial_ms, o->backoff_max_ms);
        pgcm__sched_retry_at(&n->sched, now_us(n) + (uint64_t)delay * 1000);
        n->health.next_retry_ms = pgcm__wall_ms() + delay;
    }
    if (flags & HEALTH_OUT_CONNECTED) {
        pgcm__sched_connected(&n->sched);
        n->health.next_retry_ms = 0;
    }
    if (flags & HEALTH_OUT_CHANGED) {
        n->health.state_since_ms = pgcm__wall_ms();
        pgcm__node_publish(n);
        pgcm__log(o,
                  n->hc.state == PGCM_NODE_UNHEALTHY  ? PGCM_LOG_ERROR
                  : n->hc.state == PGCM_NODE_DEGRADED ? PGCM_LOG_WARN
                                                      : PGCM_LOG_INFO,
                  n->id, "state_changed", 0, code, "", "%s -> %s%s%s",
                  pgcm_node_state_name(old), pgcm_node_state_name(n->hc.state),
                  msg[0] ? ": " : "", msg);
        if (old == PGCM_NODE_CONNECTING) {
            pthread_mutex_lock(n->pub_to.lock);
            pthread_cond_broadcast(n->pub_to.cond);
            pthread_mutex_unlock(n->pub_to.lock);
        }
        emit(n, PGCM_EV_HEALTH_CHANGED, old, code, msg);
    }
    if (flags & HEALTH_OUT_THRESHOLD)
        emit(n, PGCM_EV_THRESHOLD_REACHED, old, code, msg);
    if (flags & HEALTH_OUT_DISCONNECTED)
        emit(n, PGCM_EV_NODE_DISCONNECTED, old, code, msg);
    if (n->hc.state == PGCM_NODE_UNHEALTHY) {
        /* The server is gone or hung: close everything and fail the work
         * on it, rather than let callers wait for their timeouts. */
        pgcm__node_publish(n);
        pgcm__pool_fail_all(&n->pool, code, msg);
        n->sched.check = SCHED_NONE;
        n->sched.beat_in_flight = false;
    }
    if (flags & HEALTH_OUT_CONNECTED) {
        emit(n, PGCM_EV_NODE_CONNECTED, old, 0, "");
        pgcm__node_publish(n);
        pgcm__pool_fill(&n->pool);
    }
    pgcm__node_publish(n);
}

static void record_error(node_t *n, int code, const char *msg,
                         const char *sqlstate)
{
    n->health.last_error_code = code;
    const char *text = msg ? msg : "";
    const char *now_text = n->health.last_error ? n->health.last_error : "";
    /* pgcm_health_t.last_error holds 255 bytes: the copy keeps as many */
    if (strncmp(now_text, text, LAST_ERROR_MAX) != 0) {
        char copy[LAST_ERROR_MAX + 1];
        snprintf(copy, sizeof(copy), "%.*s", (int)LAST_ERROR_MAX, text);
        pgcm__free(n->health.last_error);
        n->health.last_error = copy[0] ? pgcm__strdup(copy) : NULL;
        n->error_text_changed = true;
    }
    snprintf(n->health.last_sqlstate, sizeof(n->health.last_sqlstate), "%s",
             sqlstate ? sqlstate : "");
}

/* A probe of `kind` ended with status: both machines decide. */
static void verdict(node_t *n, sched_kind_t kind, int status,
                    uint64_t latency_us, const char *msg, const char *sqlstate)
{
    pgcm_error_t hop;
    blame_hop(n, &status, &msg, &sqlstate, &hop);
    const pgcm_options_t *o = n->env->opts;
    uint64_t now = now_us(n);
    int64_t wall = pgcm__wall_ms();
    n->pool.stats.probes++;
    n->health.last_check_ms = wall;
    pgcm__log_timed(o, status == PGCM_OK ? PGCM_LOG_DEBUG : PGCM_LOG_WARN,
                    n->id, "health_check", 0, status, sqlstate,
                    status == PGCM_OK ? (int64_t)latency_us : -1,
                    "%s %s in %llu us%s%s", pgcm__sched_kind_name(kind),
                    status == PGCM_OK ? "ok" : "failed",
                    (unsigned long long)latency_us, msg[0] ? ": " : "", msg);
    sched_timing_t t = timing(n);
    int sf = pgcm__sched_done(&n->sched, &t, kind, status == PGCM_OK, now);
    if (sf & SCHED_ABANDON_CHECK) {
        n->slot_kind[PROBE_SLOT_CHECK] = SCHED_NONE;
        pgcm__pool_probe_abandon(&n->pool, PROBE_SLOT_CHECK,
                                 "probe abandoned: a heartbeat failed");
    }
    health_input_t in;
    if (status == PGCM_OK) {
        n->health.last_ok_ms = wall;
        if (kind == SCHED_LIVENESS && n->hc.consecutive_failures == 0) {
            /* A heartbeat only proves life; it does not judge latency. */
            pgcm__node_publish(n);
            node_schedule(n);
            return;
        }
        n->health.latency_us = (int64_t)latency_us;
        in = latency_us > (uint64_t)o->degraded_latency_ms * 1000
                 ? HEALTH_PROBE_SLOW
                 : HEALTH_PROBE_OK;
    } else {
        n->pool.stats.probe_failures++;
        record_error(n, status, msg, sqlstate);
        in = status == PGCM_EAUTH ? HEALTH_CONFIG_ERROR : HEALTH_PROBE_FAILED;
    }
    pgcm_node_state_t old = n->hc.state;
    int flags = pgcm__health_step(&n->hc, in, o->unhealthy_threshold);
    apply(n, old, flags, status, msg);
    node_schedule(n);
}

static void probe_done(node_t *n, int slot, int status, uint64_t latency_us,
                       const char *msg, const char *sqlstate)
{
    sched_kind_t kind = n->slot_kind[slot];
    n->slot_kind[slot] = SCHED_NONE;
    if (n->life == NODE_LIVE && kind != SCHED_NONE)
        verdict(n, kind, status, latency_us, msg, sqlstate);
}

/* Evidence from outside a probe: a connection failed. */
static void suspect(node_t *n, int code, const char *msg, const char *sqlstate)
{
    if (n->life != NODE_LIVE)
        return;
    pgcm_error_t hop;
    blame_hop(n, &code, &msg, &sqlstate, &hop);
    record_error(n, code, msg, sqlstate);
    if (pgcm__sched_suspect(&n->sched, now_us(n)) & SCHED_ABANDON_CHECK) {
        n->slot_kind[PROBE_SLOT_CHECK] = SCHED_NONE;
        pgcm__pool_probe_abandon(&n->pool, PROBE_SLOT_CHECK,
                                 "probe abandoned: the node is suspect");
    }
    pgcm__node_publish(n);
    node_schedule(n);
}

/* ---- probes ------------------------------------------------------------ */

static int probe_timeout_ms(const node_t *n, sched_kind_t kind)
{
    const pgcm_options_t *o = n->env->opts;
    switch (kind) {
    case SCHED_LIVENESS:
        return o->liveness_timeout_ms;
    case SCHED_SUSPECT_PROBE:
        return o->suspect_probe_timeout_ms;
    default:
        return o->health_check_timeout_ms;
    }
}

/* Start what the schedule says is due; false if it could not start. */
static bool probe_start(node_t *n, sched_kind_t kind)
{
    const pgcm_options_t *o = n->env->opts;
    if (kind == SCHED_BEAT_MISSED) {
        /* The full probe in flight stood in for the heartbeat and nothing
         * came back in time: a heartbeat sent then would have failed. */
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "heartbeat got no answer within %d ms (the health probe "
                 "is unanswered)",
                 o->liveness_timeout_ms);
        verdict(n, SCHED_LIVENESS, PGCM_ETIMEDOUT, 0, msg, "");
        return true;
    }
    if (kind == SCHED_RETRY_PROBE) {
        pgcm_node_state_t old = n->hc.state;
        int flags = pgcm__health_step(&n->hc, HEALTH_RETRY_STARTED,
                                      o->unhealthy_threshold);
        apply(n, old, flags, 0, "reconnecting");
    }
    int slot = kind == SCHED_LIVENESS ? PROBE_SLOT_BEAT : PROBE_SLOT_CHECK;
    pgcm__sched_started(&n->sched, kind);
    if (n->tunnel != NULL && kind != SCHED_RETRY_PROBE) {
        /* The probe checks the tunnel first: with its session down no
         * connection gets through, so the probe fails now with the hop's
         * reason (a reconnect waits for the retry, the backoff's pace).
         * With it up, the check sends an SSH ping at once. */
        pgcm_error_t terr;
        int trc = pgcm__tunnel_check(n->tunnel, &terr);
        if (trc != PGCM_OK) {
            verdict(n, kind, trc, 0, terr.message, "");
            return true;
        }
    }
    n->slot_kind[slot] = kind;
    const char *sql = kind == SCHED_LIVENESS ? "" : o->probe_query;
    if (pgcm__pool_probe(&n->pool, slot, sql, probe_timeout_ms(n, kind),
                         kind == SCHED_LIVENESS, pgcm__env_new_id(n->env)))
        return true;
    n->slot_kind[slot] = SCHED_NONE;
    if (kind == SCHED_LIVENESS) {
        /* Nothing idle and nothing running: connections being opened have
         * their own deadline, and a full probe connects when due. */
        sched_timing_t t = timing(n);
        pgcm__sched_done(&n->sched, &t, kind, true, now_us(n));
        return true;
    }
    n->sched.check = SCHED_NONE; /* out of memory: try again shortly */
    return false;
}

static void on_probe_due(wheel_entry_t *e)
{
    node_t *n = LIST_ENTRY(e, node_t, wake_at);
    if (n->life == NODE_LIVE)
        node_schedule(n);
}

/* The next probe in ms: on the manager's wheel (O(1) to move; libuv's
 * timer heap is O(log n) at each re-arm, which 10,000 nodes felt). */
static void probe_timer_start(node_t *n, uint64_t ms)
{
    pgcm__wheel_set(&n->env->wheel, &n->wake_at, ms);
}

static void probe_timer_stop(node_t *n)
{
    pgcm__wheel_remove(&n->env->wheel, &n->wake_at);
}

/* Start whatever is due, then arm the timer for what comes next. */
static void node_schedule(node_t *n)
{
    if (n->life != NODE_LIVE)
        return;
    sched_timing_t t = timing(n);
    uint64_t now = now_us(n);
    for (int guard = 0; guard < 4; guard++) {
        sched_next_t next = pgcm__sched_next(&n->sched, &t, now);
        if (next.kind == SCHED_NONE) {
            if (next.at_us == UINT64_MAX)
                probe_timer_stop(n);
            else
                probe_timer_start(
                    n, next.at_us > now ? (next.at_us - now + 999) / 1000 : 0);
            return;
        }
        if (!probe_start(n, next.kind) || n->life != NODE_LIVE)
            break;
    }
    if (n->life == NODE_LIVE)
        probe_timer_start(n, RETRY_START_MS);
}

void pgcm__node_retry_now(node_t *n)
{
    if (n->life != NODE_LIVE)
        return;
    pgcm__sched_now(&n->sched, now_us(n));
    pgcm__log(n->env->opts, PGCM_LOG_INFO, n->id, "retry_requested", 0, 0, "",
              "%s now on request",
              n->sched.phase == SCHED_RETRY ? "reconnecting" : "probing");
    node_schedule(n);
}

/* ---- what the pool reports --------------------------------------------- */

static void on_pool(pool_t *p, const pool_report_t *rep)
{
    node_t *n = p->owner;
    switch (rep->event) {
    case POOL_EV_CONNECTED:
        n->server_version = rep->server_version;
        pgcm__sched_heard(&n->sched, now_us(n));
        break;
    case POOL_EV_HEARD:
        pgcm__sched_heard(&n->sched, now_us(n));
        break;
    case POOL_EV_CONNECT_FAILED:
    case POOL_EV_BROKEN:
        suspect(n, rep->code, rep->msg, rep->sqlstate);
        break;
    case POOL_EV_PROBE_DONE:
        probe_done(n, rep->slot, rep->code, rep->latency_us, rep->msg,
                   rep->sqlstate);
        break;
    case POOL_EV_CHECKOUT_LEAK:
        pgcm__log(n->env->opts, PGCM_LOG_WARN, n->id, "checkout_leak", 0, 0, "",
                  "%s", rep->msg);
        emit(n, PGCM_EV_CHECKOUT_LEAK, n->hc.state, 0, rep->msg);
        break;
    case POOL_EV_EMPTY:
        node_check_drained(n);
        break;
    case POOL_EV_CHANGED:
        pgcm__node_publish(n);
        break;
    }
}

/* ---- life -------------------------------------------------------------- */

node_t *pgcm__node_new(loop_env_t *env, const pgcm_node_spec_t *spec,
                       node_publish_to_t pub_to, node_closed_fn on_closed,
                       void *owner)
{
    node_t *n = pgcm__calloc(1, sizeof(*n));
    if (n == NULL)
        return NULL;
    n->spec = pgcm__spec_dup(spec);
    n->gate = pgcm__cancel_gate_new();
    if (n->spec == NULL || n->gate == NULL) {
        pgcm__spec_free(n->spec);
        pgcm__cancel_gate_release(n->gate);
        pgcm__free(n);
        return NULL;
    }
    n->env = env;
    n->id = n->spec->id;
    n->owner = owner;
    n->on_closed = on_closed;
    n->pub_to = pub_to;
    n->life = NODE_LIVE;
    list_init(&n->link);
    list_init(&n->remove_waiters);
    /* Through a tunnel the bastion resolves the host, not we. */
    n->resolve_host =
        via_ssh(n->spec) ? NULL : pgcm__conninfo_host_to_resolve(n->spec);
    int connect_ms = n->spec->connect_timeout_ms > 0
                         ? n->spec->connect_timeout_ms
                         : env->opts->connect_timeout_ms;
    pgcm__pool_init(&n->pool, env, n->id, &n->spec->pool, connect_ms, n->gate,
                    node_params, on_pool, n);
    pgcm__wheel_entry_init(&n->wake_at, on_probe_due);
    n->hc.state = PGCM_NODE_CONNECTING;
    n->health.state_since_ms = pgcm__wall_ms();
    pgcm__sched_init(&n->sched, now_us(n));
    return n;
}

void pgcm__node_start(node_t *n)
{
    pgcm__node_publish(n);
    pgcm__log(n->env->opts, PGCM_LOG_INFO, n->id, "node_added", 0, 0, "",
              "pool min %d max %d", n->spec->pool.min, n->spec->pool.max);
    emit(n, PGCM_EV_NODE_ADDED, n->hc.state, 0, "");
    node_schedule(n); /* the first probe goes out at once */
}

void pgcm__node_maintain(node_t *n, uint64_t now)
{
    if (n->life == NODE_LIVE)
        pgcm__pool_maintain(&n->pool, now);
    pgcm__node_publish(n);
}

static void on_closed_due(wheel_entry_t *e)
{
    node_t *n = LIST_ENTRY(e, node_t, wake_at);
    n->on_closed(n, n->owner);
}

/* on_closed goes to the owner from the wheel at the next millisecond,
 * never from inside the call that closed the node. */
static void close_handles(node_t *n)
{
    pgcm__pool_close_handles(&n->pool);
    pgcm__wheel_remove(&n->env->wheel, &n->wake_at);
    n->wake_at.fire = on_closed_due;
    pgcm__wheel_set(&n->env->wheel, &n->wake_at, 0);
}

static void node_finish_close(node_t *n)
{
    n->life = NODE_CLOSED;
    pgcm_node_state_t old = n->hc.state;
    pgcm__health_step(&n->hc, HEALTH_REMOVED, 1);
    n->health.state_since_ms = pgcm__wall_ms();
    n->health.next_retry_ms = 0;
    pgcm__node_publish(n);
    pthread_mutex_lock(n->pub_to.lock);
    pthread_cond_broadcast(n->pub_to.cond);
    pthread_mutex_unlock(n->pub_to.lock);
    if (old != PGCM_NODE_DISCONNECTED)
        emit(n, PGCM_EV_HEALTH_CHANGED, old, PGCM_ESHUTDOWN, "node removed");
    pgcm__log(n->env->opts, PGCM_LOG_INFO, n->id, "node_removed", 0, 0, "",
              "every connection closed");
    emit(n, PGCM_EV_NODE_REMOVED, old, 0, "");
    if (n->tunnel != NULL) {
        pgcm__tunnel_close(n->tunnel); /* its session ends with its last */
        n->tunnel = NULL;
    }
    close_handles(n);
}

static void node_check_drained(node_t *n)
{
    if (n->life == NODE_DRAINING && pgcm__pool_empty(&n->pool) &&
        n->gai == NULL)
        node_finish_close(n);
}

/* The drain deadline passed: cancel what still runs and close. */
static void on_drain_due(wheel_entry_t *e)
{
    node_t *n = LIST_ENTRY(e, node_t, wake_at);
    pgcm__pool_abort_busy(&n->pool);
    node_check_drained(n);
}

void pgcm__node_begin_remove(node_t *n, int drain_ms)
{
    if (n->life != NODE_LIVE)
        return;
    n->life = NODE_DRAINING; /* wake_at is the drain's from now on */
    probe_timer_stop(n);
    n->slot_kind[PROBE_SLOT_CHECK] = n->slot_kind[PROBE_SLOT_BEAT] = SCHED_NONE;
    if (n->gai != NULL)
        uv_cancel((uv_req_t *)n->gai);
    pgcm__pool_drain(&n->pool);
    pgcm__node_publish(n);
    if (n->life == NODE_DRAINING && !pgcm__pool_empty(&n->pool)) {
        n->wake_at.fire = on_drain_due;
        pgcm__wheel_set(&n->env->wheel, &n->wake_at,
                        (uint64_t)(drain_ms > 0 ? drain_ms : 0));
    }
    node_check_drained(n);
}

void pgcm__node_discard(node_t *n)
{
    n->life = NODE_CLOSED;
    close_handles(n);
}

void pgcm__node_free(node_t *n)
{
    pgcm__cancel_gate_release(n->gate);
    pgcm__spec_free(n->spec);
    pgcm__free(n->resolve_host);
    pgcm__free(n->hostaddr);
    pgcm__free(n->health.last_error);
    pgcm__free(n->pub.health.last_error);
    pgcm__free(n);
}
