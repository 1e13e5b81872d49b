/* SPDX-License-Identifier: MIT */
/*
 * node.h - one node on the loop: its spec, its address lookup, its pool,
 * its health (health.c) and probe schedule (schedule.c) applied with
 * timers, and the record it publishes for other threads. Its owner (the
 * manager) hears that a removed node has closed through on_closed.
 */
#ifndef PGCM_NODE_H
#define PGCM_NODE_H

#include <pthread.h>

#include "deliver.h"
#include "pool.h"
#include "tunnel.h"

typedef enum node_life {
    NODE_LIVE,     /* serving */
    NODE_DRAINING, /* removed or shutting down: no new work */
    NODE_CLOSED    /* connections closed, handles closing */
} node_life_t;

enum { PROBE_SLOT_CHECK = 0, PROBE_SLOT_BEAT = 1 };

/* The loop's health record: what pgcm_health_t reports beyond the health
 * core's state and counters (hc) and the server version, with the
 * failure's text allocated (a node that never failed carries none). The
 * published copy has the same shape; readers expand it into a
 * pgcm_health_t (pgcm__node_read_published). */
typedef struct node_health {
    int64_t state_since_ms;
    int64_t last_check_ms;
    int64_t last_ok_ms;
    int64_t latency_us;
    int64_t next_retry_ms;
    int last_error_code;
    char last_sqlstate[6];
    char *last_error; /* owned; NULL: none (at most 255 bytes) */
} node_health_t;

/* What other threads read, under pub_to.lock. */
typedef struct node_published {
    node_health_t health; /* .last_error: this copy's own */
    pgcm_node_state_t state;
    int consecutive_failures;
    int retry_attempt;
    int server_version;
    pgcm_pool_stats_t stats;
} node_published_t;

typedef struct node node_t;
typedef void (*node_closed_fn)(node_t *n, void *owner);

/* What the node publishes lives under the owner's lock. */
typedef struct node_publish_to {
    pthread_mutex_t *lock;
    pthread_cond_t *cond; /* broadcast when a node leaves CONNECTING */
} node_publish_to_t;

struct node {
    list_node_t link; /* the owner's lists */
    void *owner;
    node_closed_fn on_closed;
    loop_env_t *env;
    pgcm_node_spec_t *spec; /* owned copy */
    const char *id;         /* spec->id */
    node_life_t life;
    node_publish_to_t pub_to;

    /* name resolution (never blocking the loop) */
    char *resolve_host; /* NULL if the host needs no lookup */
    char *hostaddr;     /* resolved addresses, comma-separated (owned);
                           NULL until a lookup found one */
    uint64_t resolved_us;
    uv_getaddrinfo_t *gai; /* lookup in flight, or NULL */

    /* ssh.host set: the tunnel libpq connects through (tunnel.c), opened
     * with the first connection, closed with the node */
    pgcm__tunnel_t *tunnel;

    pool_t pool;
    struct cancel_gate *gate;

    /* health and its schedule */
    health_core_t hc;
    node_health_t health;    /* the loop's working copy */
    bool error_text_changed; /* health.last_error not yet published */
    sched_state_t sched;
    sched_kind_t slot_kind[POOL_PROBE_SLOTS]; /* probe in each slot */
    /* on env->wheel: live, the next probe; draining, the drain deadline;
     * closed, the on_closed report */
    wheel_entry_t wake_at;
    int server_version;

    node_published_t pub; /* read by other threads under pub_to.lock */

    list_node_t remove_waiters; /* the owner's: who waits for the close */
};

node_t *pgcm__node_new(loop_env_t *env, const pgcm_node_spec_t *spec,
                       node_publish_to_t pub_to, node_closed_fn on_closed,
                       void *owner);
/* Start connecting and probing. */
void pgcm__node_start(node_t *n);
/* Begin removal: drain up to drain_ms, then cancel and close; on_closed
 * fires when everything is closed. */
void pgcm__node_begin_remove(node_t *n, int drain_ms);
/* A node that was never started: close its handles (on_closed fires). */
void pgcm__node_discard(node_t *n);
void pgcm__node_free(node_t *n);

/* Publish health and stats to other threads. */
void pgcm__node_publish(node_t *n);
/* Copy the published record into health and/or stats (either may be
 * NULL). Any thread, holding n->pub_to.lock. */
void pgcm__node_read_published(const node_t *n, pgcm_health_t *health,
                               pgcm_pool_stats_t *stats);
/* Janitor work: the pool's sweep, then publish. */
void pgcm__node_maintain(node_t *n, uint64_t now_us);
/* The periodic PGCM_EV_POOL_STATS event. */
void pgcm__node_emit_stats(node_t *n);
/* Probe now; an unhealthy node reconnects without waiting for backoff. */
void pgcm__node_retry_now(node_t *n);

bool pgcm__node_available(const node_t *n);    /* healthy or degraded */
bool pgcm__node_accepts_work(const node_t *n); /* not unhealthy/removed */

#endif /* PGCM_NODE_H */
