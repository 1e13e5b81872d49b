/* SPDX-License-Identifier: MIT */
/*
 * metrics.c - rendering the Prometheus text exposition: a growing buffer
 * with fast number formatting, label escaping, and one block per metric
 * family (all its samples together, as the format requires), nodes in
 * view order.
 */
#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evaluate.h"

typedef struct mbuf {
    char *p;
    size_t len, cap;
    int oom;
} mbuf_t;

static void reserve(mbuf_t *b, size_t more)
{
    size_t cap;
    char *p;

    if (b->oom || b->len + more + 1 <= b->cap)
        return;
    cap = b->cap ? b->cap : 65536;
    while (cap < b->len + more + 1)
        cap *= 2;
    p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void put(mbuf_t *b, const char *s, size_t n)
{
    reserve(b, n);
    if (b->oom)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void put_str(mbuf_t *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_u64(mbuf_t *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);

    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    put(b, tmp + i, sizeof(tmp) - i);
}

static void put_i64(mbuf_t *b, int64_t v)
{
    if (v < 0) {
        put(b, "-", 1);
        put_u64(b, v == INT64_MIN ? (uint64_t)INT64_MAX + 1 : (uint64_t)-v);
    } else {
        put_u64(b, (uint64_t)v);
    }
}

static void put_double(mbuf_t *b, double v)
{
    char tmp[32];
    int n;

    if (isnan(v)) {
        put_str(b, "NaN");
        return;
    }
    if (isinf(v)) {
        put_str(b, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 9.0e15) {
        put_i64(b, (int64_t)v);
        return;
    }
    /* The shortest of 15 or 17 digits that reads back exactly. */
    n = snprintf(tmp, sizeof(tmp), "%.15g", v);
    if (strtod(tmp, NULL) != v)
        n = snprintf(tmp, sizeof(tmp), "%.17g", v);
    put(b, tmp, (size_t)n);
}

/* A label value: backslash, double quote and line feed escaped. */
static void put_label_value(mbuf_t *b, const char *v)
{
    const char *run = v;

    for (; *v != '\0'; v++) {
        const char *esc = *v == '\\'   ? "\\\\"
                          : *v == '"'  ? "\\\""
                          : *v == '\n' ? "\\n"
                                       : NULL;

        if (esc == NULL)
            continue;
        put(b, run, (size_t)(v - run));
        put(b, esc, 2);
        run = v + 1;
    }
    put(b, run, (size_t)(v - run));
}

static void family(mbuf_t *b, const char *name, const char *type,
                   const char *help)
{
    put_str(b, "# HELP ");
    put_str(b, name);
    put(b, " ", 1);
    put_str(b, help);
    put_str(b, "\n# TYPE ");
    put_str(b, name);
    put(b, " ", 1);
    put_str(b, type);
    put(b, "\n", 1);
}

/* name{node="id" ... : the caller adds labels, then ends the sample. */
static void begin(mbuf_t *b, const char *name, const char *suffix,
                  const char *node)
{
    put_str(b, name);
    if (suffix != NULL)
        put_str(b, suffix);
    put(b, "{", 1);
    if (node != NULL) {
        put_str(b, "node=\"");
        put_label_value(b, node);
        put(b, "\"", 1);
    }
}

static void label(mbuf_t *b, const char *key, const char *value)
{
    if (b->len > 0 && b->p[b->len - 1] != '{')
        put(b, ",", 1);
    put_str(b, key);
    put(b, "=\"", 2);
    put_label_value(b, value != NULL ? value : "");
    put(b, "\"", 1);
}

static void end_u64(mbuf_t *b, uint64_t v)
{
    put(b, "} ", 2);
    put_u64(b, v);
    put(b, "\n", 1);
}

static void end_i64(mbuf_t *b, int64_t v)
{
    put(b, "} ", 2);
    put_i64(b, v);
    put(b, "\n", 1);
}

static void end_double(mbuf_t *b, double v)
{
    put(b, "} ", 2);
    put_double(b, v);
    put(b, "\n", 1);
}

/* A sample without labels. */
static void plain(mbuf_t *b, const char *name, double v)
{
    put_str(b, name);
    put(b, " ", 1);
    put_double(b, v);
    put(b, "\n", 1);
}

static int has_facts(const rm_metrics_node_t *n)
{
    return n->facts != NULL && n->facts->reachable && n->facts->have_facts;
}

/* ---------------------------------------------------------------------- */
/* Families                                                               */
/* ---------------------------------------------------------------------- */

static void render_process(mbuf_t *b, const rm_metrics_process_t *p, size_t n)
{
    char num[16];

    family(b, "replmon_build_info", "gauge",
           "Always 1; the version label is replmon's.");
    begin(b, "replmon_build_info", NULL, NULL);
    label(b, "version", p->version);
    end_u64(b, 1);
    family(b, "replmon_shard_info", "gauge",
           "Always 1; this instance monitors shard (1-based) of shards "
           "(--shard K/N).");
    begin(b, "replmon_shard_info", NULL, NULL);
    snprintf(num, sizeof(num), "%d", p->shard);
    label(b, "shard", num);
    snprintf(num, sizeof(num), "%d", p->shards);
    label(b, "shards", num);
    end_u64(b, 1);
    family(b, "replmon_nodes", "gauge", "Nodes this instance monitors.");
    plain(b, "replmon_nodes", (double)n);
    family(b, "replmon_collect_rounds_total", "counter",
           "Collection rounds completed.");
    plain(b, "replmon_collect_rounds_total", (double)p->rounds);
    family(b, "replmon_collect_failures_total", "counter",
           "Collection rounds that could not run.");
    plain(b, "replmon_collect_failures_total", (double)p->round_failures);
    family(b, "replmon_collect_duration_seconds", "gauge",
           "Duration of the last collection round.");
    if (!isnan(p->last_round_seconds))
        plain(b, "replmon_collect_duration_seconds", p->last_round_seconds);
    family(b, "replmon_collect_timestamp_seconds", "gauge",
           "When the last collection round began (Unix time).");
    if (!isnan(p->last_round_timestamp))
        plain(b, "replmon_collect_timestamp_seconds", p->last_round_timestamp);
    family(b, "replmon_config_reloads_total", "counter",
           "Configuration reloads (SIGHUP) by result.");
    begin(b, "replmon_config_reloads_total", NULL, NULL);
    label(b, "result", "success");
    end_u64(b, p->reloads_ok);
    begin(b, "replmon_config_reloads_total", NULL, NULL);
    label(b, "result", "failure");
    end_u64(b, p->reloads_failed);
    family(b, "replmon_config_last_reload_successful", "gauge",
           "1 if the last reload was applied (or none was asked), 0 if it "
           "was rejected.");
    plain(b, "replmon_config_last_reload_successful", p->last_reload_ok);
    family(b, "replmon_event_log_enabled", "gauge",
           "1 when connection events are recorded in connection_logs.");
    plain(b, "replmon_event_log_enabled", p->event_log_enabled);
    family(b, "replmon_event_log_written_total", "counter",
           "Events recorded in the connection_logs table.");
    plain(b, "replmon_event_log_written_total", (double)p->event_log_written);
    family(b, "replmon_event_log_dropped_total", "counter",
           "Events dropped because the queue was full while the event node "
           "could not take them.");
    plain(b, "replmon_event_log_dropped_total", (double)p->event_log_dropped);
    family(b, "replmon_event_log_failures_total", "counter",
           "Attempts to record an event that failed (the event is kept and "
           "retried).");
    plain(b, "replmon_event_log_failures_total", (double)p->event_log_failures);
    family(b, "replmon_event_log_queued", "gauge",
           "Events waiting to be recorded.");
    plain(b, "replmon_event_log_queued", (double)p->event_log_queued);
    family(b, "replmon_log_dropped_total", "counter",
           "Log lines dropped because the log writer fell behind.");
    plain(b, "replmon_log_dropped_total", (double)p->log_dropped);
}

static void render_health(mbuf_t *b, const rm_metrics_node_t *nodes, size_t n)
{
    size_t i;
    int s;

    family(b, "replmon_node_up", "gauge",
           "1 when the node is healthy or degraded (answers), else 0.");
    for (i = 0; i < n; i++) {
        const rm_metrics_node_t *m = &nodes[i];
        int up = m->have_health && (m->health.state == PGCM_NODE_HEALTHY ||
                                    m->health.state == PGCM_NODE_DEGRADED);

        begin(b, "replmon_node_up", NULL, m->id);
        end_u64(b, (uint64_t)up);
    }
    family(b, "replmon_node_state", "gauge",
           "1 for the node's current health state, 0 for the others.");
    for (i = 0; i < n; i++) {
        const rm_metrics_node_t *m = &nodes[i];
        pgcm_node_state_t cur =
            m->have_health ? m->health.state : PGCM_NODE_DISCONNECTED;

        for (s = PGCM_NODE_CONNECTING; s <= PGCM_NODE_DISCONNECTED; s++) {
            begin(b, "replmon_node_state", NULL, m->id);
            label(b, "state", pgcm_node_state_name((pgcm_node_state_t)s));
            end_u64(b, (uint64_t)(s == (int)cur));
        }
    }
    family(b, "replmon_node_status", "gauge",
           "The status command's verdict from the last round: 0 OK, 1 "
           "WARNING, 2 CRITICAL, 3 UNKNOWN.");
    for (i = 0; i < n; i++) {
        if (nodes[i].status < 0)
            continue;
        begin(b, "replmon_node_status", NULL, nodes[i].id);
        end_u64(b, (uint64_t)nodes[i].status);
    }
    family(b, "replmon_node_reachable", "gauge",
           "1 when the node answered the last round's queries.");
    for (i = 0; i < n; i++) {
        if (nodes[i].facts == NULL)
            continue;
        begin(b, "replmon_node_reachable", NULL, nodes[i].id);
        end_u64(b, (uint64_t)(nodes[i].facts->reachable != 0));
    }
    family(b, "replmon_node_info", "gauge",
           "Always 1; labels: the server version and the node's roles.");
    for (i = 0; i < n; i++) {
        const rm_metrics_node_t *m = &nodes[i];
        char ver[32], roles[96];
        int v;

        if (!has_facts(m))
            continue;
        v = m->facts->server_version;
        if (v >= 100000)
            snprintf(ver, sizeof(ver), "%d.%d", v / 10000, v % 100);
        else
            snprintf(ver, sizeof(ver), "%d.%d.%d", v / 10000, v / 100 % 100,
                     v % 100);
        rm_roles_format(rm_node_roles(m->facts), roles, sizeof(roles));
        begin(b, "replmon_node_info", NULL, m->id);
        label(b, "server_version", ver);
        label(b, "roles", roles);
        end_u64(b, 1);
    }
    family(b, "replmon_probe_latency_seconds", "gauge",
           "Round trip of the node's last successful health probe.");
    for (i = 0; i < n; i++) {
        const rm_metrics_node_t *m = &nodes[i];

        if (!m->have_health || m->health.last_ok_ms == 0)
            continue;
        begin(b, "replmon_probe_latency_seconds", NULL, m->id);
        end_double(b, (double)m->health.latency_us / 1e6);
    }
    family(b, "replmon_node_consecutive_failures", "gauge",
           "Health checks failed in a row.");
    for (i = 0; i < n; i++) {
        if (!nodes[i].have_health)
            continue;
        begin(b, "replmon_node_consecutive_failures", NULL, nodes[i].id);
        end_u64(b, (uint64_t)nodes[i].health.consecutive_failures);
    }
}

/* One counter or gauge per node from its pool statistics. */
typedef struct stat_family {
    const char *name;
    const char *type;
    const char *help;
    size_t offset; /* of a uint64_t in pgcm_pool_stats_t */
} stat_family_t;

#define STAT(name, type, help, field)                                          \
    {                                                                          \
        name, type, help, offsetof(pgcm_pool_stats_t, field)                   \
    }

static void render_pool(mbuf_t *b, const rm_metrics_node_t *nodes, size_t n)
{
    static const stat_family_t counters[] = {
        STAT("replmon_queries_total", "counter",
             "Queries completed on the node (success or error).", queries),
        STAT("replmon_query_errors_total", "counter", "Queries that failed.",
             errors),
        STAT("replmon_query_timeouts_total", "counter",
             "Queries that hit their timeout (then cancelled).", timeouts),
        STAT("replmon_connection_errors_total", "counter",
             "Connection attempts that failed.", connect_errors),
        STAT("replmon_connections_opened_total", "counter",
             "Connections opened.", conns_opened),
        STAT("replmon_connections_closed_total", "counter",
             "Connections closed (idle, lifetime, errors, removal).",
             conns_closed),
        STAT("replmon_health_checks_total", "counter",
             "Health probes and heartbeats completed.", probes),
        STAT("replmon_health_check_failures_total", "counter",
             "Health probes and heartbeats that failed.", probe_failures),
        STAT("replmon_connection_acquire_timeouts_total", "counter",
             "Requests that found no free connection in time.",
             acquire_timeouts),
    };
    static const char *const states[] = {"idle", "active", "waiting"};
    size_t i, f, s;

    family(b, "replmon_pool_connections", "gauge",
           "Pool connections by state: idle, active (running a query or a "
           "probe, or checked out) and waiting (requests queued for one).");
    for (i = 0; i < n; i++) {
        const pgcm_pool_stats_t *st = &nodes[i].stats;
        int v[3];

        if (!nodes[i].have_stats)
            continue;
        v[0] = st->idle;
        v[1] = st->active;
        v[2] = st->waiting;
        for (s = 0; s < 3; s++) {
            begin(b, "replmon_pool_connections", NULL, nodes[i].id);
            label(b, "state", states[s]);
            end_i64(b, v[s]);
        }
    }
    family(b, "replmon_pool_max_connections", "gauge",
           "The pool's upper bound (pool.max).");
    for (i = 0; i < n; i++) {
        if (!nodes[i].have_stats)
            continue;
        begin(b, "replmon_pool_max_connections", NULL, nodes[i].id);
        end_i64(b, nodes[i].stats.max);
    }
    for (f = 0; f < sizeof(counters) / sizeof(counters[0]); f++) {
        family(b, counters[f].name, counters[f].type, counters[f].help);
        for (i = 0; i < n; i++) {
            uint64_t v;

            if (!nodes[i].have_stats)
                continue;
            memcpy(&v, (const char *)&nodes[i].stats + counters[f].offset,
                   sizeof(v));
            begin(b, counters[f].name, NULL, nodes[i].id);
            end_u64(b, v);
        }
    }
}

static void render_histogram(mbuf_t *b, const char *name, const char *node,
                             const rm_histogram_t *h, const double *bounds,
                             size_t nbounds)
{
    uint64_t cum = 0;
    size_t i;
    char le[32];

    for (i = 0; i < nbounds; i++) {
        cum += h->buckets[i];
        snprintf(le, sizeof(le), "%g", bounds[i]);
        begin(b, name, "_bucket", node);
        label(b, "le", le);
        end_u64(b, cum);
    }
    begin(b, name, "_bucket", node);
    label(b, "le", "+Inf");
    end_u64(b, h->count);
    begin(b, name, "_sum", node);
    end_double(b, h->sum);
    begin(b, name, "_count", node);
    end_u64(b, h->count);
}

static void render_histograms(mbuf_t *b, const rm_metrics_node_t *nodes,
                              size_t n)
{
    size_t i;

    family(b, "replmon_connection_acquire_seconds", "histogram",
           "Time a request waited for a pool connection.");
    for (i = 0; i < n; i++)
        render_histogram(b, "replmon_connection_acquire_seconds", nodes[i].id,
                         &nodes[i].acquire, rm_acquire_bounds,
                         rm_acquire_nbounds);
    family(b, "replmon_connection_lifetime_seconds", "histogram",
           "Age of pool connections when they were closed, from the start "
           "of their connect.");
    for (i = 0; i < n; i++)
        render_histogram(b, "replmon_connection_lifetime_seconds", nodes[i].id,
                         &nodes[i].lifetime, rm_lifetime_bounds,
                         rm_lifetime_nbounds);
}

static void slot_labels(mbuf_t *b, const char *name, const char *node,
                        const rm_slot_t *s)
{
    begin(b, name, NULL, node);
    label(b, "slot", s->name);
    label(b, "slot_type", s->type);
}

static void render_slots(mbuf_t *b, const rm_metrics_node_t *nodes, size_t n)
{
    static const char *const wal_states[] = {"reserved", "extended",
                                             "unreserved", "lost"};
    size_t i, k, w;

    family(b, "replmon_slot_retained_bytes", "gauge",
           "WAL the replication slot holds back: the node's current LSN "
           "minus the slot's restart_lsn.");
    for (i = 0; i < n; i++) {
        for (k = 0; has_facts(&nodes[i]) && k < nodes[i].facts->nslots; k++) {
            const rm_slot_t *s = &nodes[i].facts->slots[k];

            if (s->retained_bytes == RM_NONE)
                continue;
            slot_labels(b, "replmon_slot_retained_bytes", nodes[i].id, s);
            end_i64(b, s->retained_bytes);
        }
    }
    family(b, "replmon_slot_active", "gauge",
           "1 when a consumer is connected to the replication slot.");
    for (i = 0; i < n; i++) {
        for (k = 0; has_facts(&nodes[i]) && k < nodes[i].facts->nslots; k++) {
            const rm_slot_t *s = &nodes[i].facts->slots[k];

            if (s->active < 0)
                continue;
            slot_labels(b, "replmon_slot_active", nodes[i].id, s);
            end_u64(b, (uint64_t)(s->active != 0));
        }
    }
    family(b, "replmon_slot_wal_status", "gauge",
           "1 for the slot's wal_status (PostgreSQL 13+): reserved, "
           "extended, unreserved (WAL goes at the next checkpoint) or lost.");
    for (i = 0; i < n; i++) {
        for (k = 0; has_facts(&nodes[i]) && k < nodes[i].facts->nslots; k++) {
            const rm_slot_t *s = &nodes[i].facts->slots[k];

            if (s->wal_status == NULL)
                continue;
            for (w = 0; w < sizeof(wal_states) / sizeof(wal_states[0]); w++) {
                begin(b, "replmon_slot_wal_status", NULL, nodes[i].id);
                label(b, "slot", s->name);
                label(b, "wal_status", wal_states[w]);
                end_u64(b,
                        (uint64_t)(strcmp(s->wal_status, wal_states[w]) == 0));
            }
        }
    }
    family(b, "replmon_slot_safe_wal_size_bytes", "gauge",
           "WAL that can still be written before the slot is in danger "
           "(PostgreSQL 13+, with max_slot_wal_keep_size).");
    for (i = 0; i < n; i++) {
        for (k = 0; has_facts(&nodes[i]) && k < nodes[i].facts->nslots; k++) {
            const rm_slot_t *s = &nodes[i].facts->slots[k];

            if (s->safe_wal_size == RM_NONE)
                continue;
            slot_labels(b, "replmon_slot_safe_wal_size_bytes", nodes[i].id, s);
            end_i64(b, s->safe_wal_size);
        }
    }
}

static void sub_labels(mbuf_t *b, const char *name, const char *node,
                       const rm_subscription_t *s)
{
    begin(b, name, NULL, node);
    label(b, "subscription", s->name);
    /* a native and a pglogical subscription may share a name */
    label(b, "kind", rm_sub_kind_name(s->kind));
    label(b, "upstream", s->publisher);
}

static void render_subscriptions(mbuf_t *b, const rm_metrics_node_t *nodes,
                                 size_t n)
{
    static const char *const sub_states[] = {"disabled", "down", "syncing",
                                             "streaming"};
    size_t i, k, st;

#define FOR_SUBS                                                               \
    for (i = 0; i < n; i++)                                                    \
        for (k = 0; has_facts(&nodes[i]) && k < nodes[i].facts->nsubs; k++)
#define SUB (&nodes[i].facts->subs[k])

    family(b, "replmon_subscription_lag_bytes", "gauge",
           "WAL the subscription has still to receive: the publisher's "
           "current LSN minus the subscription's received LSN (upstream: "
           "the publisher's node id).");
    FOR_SUBS
    {
        if (SUB->lag_bytes == RM_NONE)
            continue;
        sub_labels(b, "replmon_subscription_lag_bytes", nodes[i].id, SUB);
        end_i64(b, SUB->lag_bytes);
    }
    family(b, "replmon_subscription_lag_seconds", "gauge",
           "The publisher's walsender replay_lag for the subscription.");
    FOR_SUBS
    {
        if (isnan(SUB->lag_seconds))
            continue;
        sub_labels(b, "replmon_subscription_lag_seconds", nodes[i].id, SUB);
        end_double(b, SUB->lag_seconds);
    }
    family(b, "replmon_subscription_state", "gauge",
           "1 for the subscription's state: disabled, down (enabled, no "
           "apply worker), syncing or streaming.");
    FOR_SUBS
    {
        const char *cur = rm_subscription_state(SUB);

        for (st = 0; st < sizeof(sub_states) / sizeof(sub_states[0]); st++) {
            begin(b, "replmon_subscription_state", NULL, nodes[i].id);
            label(b, "subscription", SUB->name);
            label(b, "kind", rm_sub_kind_name(SUB->kind));
            label(b, "state", sub_states[st]);
            end_u64(b, (uint64_t)(strcmp(cur, sub_states[st]) == 0));
        }
    }
    family(b, "replmon_subscription_last_message_age_seconds", "gauge",
           "Time since the apply worker last heard from the publisher.");
    FOR_SUBS
    {
        if (isnan(SUB->last_msg_age_seconds))
            continue;
        sub_labels(b, "replmon_subscription_last_message_age_seconds",
                   nodes[i].id, SUB);
        end_double(b, SUB->last_msg_age_seconds);
    }
    family(b, "replmon_subscription_apply_errors_total", "counter",
           "Apply errors of the subscription (PostgreSQL 15+, since its "
           "statistics were reset).");
    FOR_SUBS
    {
        if (SUB->apply_error_count == RM_NONE)
            continue;
        sub_labels(b, "replmon_subscription_apply_errors_total", nodes[i].id,
                   SUB);
        end_i64(b, SUB->apply_error_count);
    }
    family(b, "replmon_subscription_sync_errors_total", "counter",
           "Table synchronisation errors of the subscription (PostgreSQL "
           "15+).");
    FOR_SUBS
    {
        if (SUB->sync_error_count == RM_NONE)
            continue;
        sub_labels(b, "replmon_subscription_sync_errors_total", nodes[i].id,
                   SUB);
        end_i64(b, SUB->sync_error_count);
    }
#undef FOR_SUBS
#undef SUB
}

static void render_standbys(mbuf_t *b, const rm_metrics_node_t *nodes, size_t n)
{
    size_t i, k;

    family(b, "replmon_standby_lag_bytes", "gauge",
           "WAL a standby has still to replay, as its primary (node) sees "
           "it: current LSN minus replay_lsn (downstream: its "
           "application_name).");
    for (i = 0; i < n; i++) {
        for (k = 0; has_facts(&nodes[i]) && k < nodes[i].facts->nstandbys;
             k++) {
            const rm_standby_t *s = &nodes[i].facts->standbys[k];

            if (s->replay_bytes == RM_NONE)
                continue;
            begin(b, "replmon_standby_lag_bytes", NULL, nodes[i].id);
            label(b, "downstream", s->application_name);
            end_i64(b, s->replay_bytes);
        }
    }
    family(b, "replmon_standby_lag_seconds", "gauge",
           "The standby's lag in time: the walsender's replay_lag, or the "
           "age of its last reply once it stopped replying with WAL sent "
           "to it.");
    for (i = 0; i < n; i++) {
        for (k = 0; has_facts(&nodes[i]) && k < nodes[i].facts->nstandbys;
             k++) {
            const rm_standby_t *s = &nodes[i].facts->standbys[k];
            double lag = s->lag_seconds; /* rm_downstream_lag() */

            if (isnan(lag))
                continue;
            begin(b, "replmon_standby_lag_seconds", NULL, nodes[i].id);
            label(b, "downstream", s->application_name);
            end_double(b, lag);
        }
    }
    family(b, "replmon_cross_node_lag_bytes", "gauge",
           "Lag between two monitored nodes, from their LSNs: the "
           "upstream's current LSN minus what the downstream received "
           "(type logical with the subscription, or physical).");
    for (i = 0; i < n; i++) {
        const rm_node_t *f = nodes[i].facts;

        if (!has_facts(&nodes[i]))
            continue;
        for (k = 0; k < f->nsubs; k++) {
            const rm_subscription_t *s = &f->subs[k];

            if (s->publisher[0] == '\0' || s->lag_bytes == RM_NONE)
                continue;
            begin(b, "replmon_cross_node_lag_bytes", NULL, NULL);
            label(b, "upstream", s->publisher);
            label(b, "downstream", nodes[i].id);
            label(b, "type", "logical");
            label(b, "subscription", s->name);
            end_i64(b, s->lag_bytes);
        }
        if (f->receiver.present && f->receiver.primary[0] != '\0' &&
            f->receiver.lag_bytes != RM_NONE) {
            begin(b, "replmon_cross_node_lag_bytes", NULL, NULL);
            label(b, "upstream", f->receiver.primary);
            label(b, "downstream", nodes[i].id);
            label(b, "type", "physical");
            end_i64(b, f->receiver.lag_bytes);
        }
    }
    family(b, "replmon_replay_delay_seconds", "gauge",
           "On a standby: time since the last replayed transaction was "
           "committed on the primary.");
    for (i = 0; i < n; i++) {
        const rm_node_t *f = nodes[i].facts;

        if (!has_facts(&nodes[i]) || !f->receiver.present ||
            isnan(f->receiver.replay_delay_seconds))
            continue;
        begin(b, "replmon_replay_delay_seconds", NULL, nodes[i].id);
        end_double(b, f->receiver.replay_delay_seconds);
    }
}

int rm_metrics_render(const rm_metrics_process_t *proc,
                      const rm_metrics_node_t *nodes, size_t n, char **out,
                      size_t *len)
{
    mbuf_t b = {NULL, 0, 0, 0};

    reserve(&b, 4096 + n * 6144);
    render_process(&b, proc, n);
    render_health(&b, nodes, n);
    render_pool(&b, nodes, n);
    render_histograms(&b, nodes, n);
    render_slots(&b, nodes, n);
    render_subscriptions(&b, nodes, n);
    render_standbys(&b, nodes, n);
    if (b.oom) {
        free(b.p);
        *out = NULL;
        *len = 0;
        return -1;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}
