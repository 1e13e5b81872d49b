/* SPDX-License-Identifier: MIT */
/*
 * pool.h - one node's pool of connections: the lists its connections sit
 * on, the jobs (statements, checkouts, probes) that run on them, the FIFO
 * of jobs waiting for a connection. Only pool.c touches the lists; its
 * owner (node.c) hears from it through one upcall (pool_report_t), and a
 * job's submitter through the job's done callback.
 */
#ifndef PGCM_POOL_H
#define PGCM_POOL_H

#include "conn.h"

/* Every connection of the pool is on exactly one of these lists. */
typedef enum pool_list_id {
    POOL_CONNECTING, /* handshake in progress (or waiting for the address) */
    POOL_IDLE,       /* ready for a job; front = most recently used */
    POOL_BUSY,       /* running a job or a probe, or checked out */
    POOL_CANCELLING, /* its statement was cancelled: reused once CLEAN */
    POOL_PARKED,     /* a probe connection opened beyond max: never given
                        to users, kept for probes while the pool is full */
    POOL_CLOSING,    /* handles closing; freed when CLOSED */
    POOL_NLISTS
} pool_list_id_t;

typedef struct pool pool_t;
typedef struct pool_job pool_job_t;

/* A pooled connection: the leaf connection and the pool's data about it. */
typedef struct pconn {
    conn_t conn; /* first: conn.c's part */
    pool_t *pool;
    pool_list_id_t list;
    pool_job_t *job;              /* the user job running on it */
    pool_job_t *next_job;         /* checkout: queued behind a cancel */
    struct pconn **checkout_slot; /* while checked out: cleared on close */
    uint64_t checkout_since_us;
    bool leak_warned;
    bool dedicated;     /* opened for probes beyond max */
    int probe_slot;     /* the probe slot using it, or -1 */
    bool late_beat;     /* its probe failed or was abandoned while the
                           statement was out: it waits for the late answer,
                           which hands it back to the pool */
    bool late_is_probe; /* with late_beat: the statement out is a full
                           health probe's, not a heartbeat's */
    bool opened;        /* connected once: counts as opened and closed */
    uint64_t created_us, expires_us, idle_since_us;
    bool handshake_slot;    /* counted in env->handshakes */
    list_node_t start_link; /* on env->handshake_queue while waiting */
} pconn_t;

/* At most this many connections of one manager connect at once; the others
 * wait their turn (their connect deadline starts with their handshake):
 * 10,000 nodes starting together would overflow a server's or PgBouncer's
 * listen backlog, and connects then time out on SYN retries. */
#define POOL_HANDSHAKES_MAX 128

typedef enum job_kind {
    JOB_QUERY,   /* a statement on any connection */
    JOB_CHECKOUT /* a connection for exclusive use */
} job_kind_t;

typedef struct job_outcome {
    int status;           /* PGCM_OK or an error code */
    const char *message;  /* the error, for a person ("" when OK) */
    const char *sqlstate; /* "" when none */
    PGresult *result;     /* QUERY: the last result, owned by the receiver */
    PGresult *error;      /* QUERY: the server's error result, owned, or NULL */
    pconn_t *conn;        /* CHECKOUT: the connection taken */
    int server_version;
} job_outcome_t;

struct pool_job {
    list_node_t link; /* on the waiters while waiting */
    job_kind_t kind;
    const char *sql; /* borrowed from the submitter, as are params */
    int nparams;
    const char *const *params;
    int timeout_ms;
    int acquire_timeout_ms; /* 0: the pool's */
    uint64_t submit_us;
    uint64_t acquire_deadline_us;
    pgcm_row_cb on_row; /* stream rows, or NULL */
    void *row_user;
    uint64_t correlation_id;
    pconn_t **checkout_slot; /* CHECKOUT: where the connection goes */
    pconn_t *conn;           /* while running */
    bool waiting;
    bool pipelinable; /* may be pipelined behind others (set on enqueue) */
    bool pipelined;   /* running in pipeline mode on conn */
    bool requeued;    /* sent again once already after a cancel hit it */
    /* Fires exactly once, when the job ends (or, for a checkout, when it
     * gets its connection); the job is the submitter's again after it. */
    void (*done)(pool_job_t *job, const job_outcome_t *out);
};

typedef enum pool_event {
    POOL_EV_CONNECTED,      /* a connection connected: the server is up */
    POOL_EV_CONNECT_FAILED, /* a connect (not a probe's) failed */
    POOL_EV_BROKEN,         /* a connection in use failed: evidence */
    POOL_EV_HEARD,          /* the server answered something */
    POOL_EV_PROBE_DONE,     /* a probe ended: slot, code, latency */
    POOL_EV_CHECKOUT_LEAK,  /* a checkout is held past the threshold */
    POOL_EV_EMPTY,          /* no connection left, none closing */
    POOL_EV_CHANGED         /* counts changed: publish */
} pool_event_t;

typedef struct pool_report {
    pool_event_t event;
    int code;
    const char *msg;
    const char *sqlstate;
    int slot;
    uint64_t latency_us;
    int server_version;
} pool_report_t;

typedef void (*pool_upcall_fn)(pool_t *p, const pool_report_t *rep);

/* Where a new connection gets its libpq parameters: returns 1 (filled in
 * out), 0 (not yet: an address lookup runs; pgcm__pool_params_ready
 * follows), or -1 (cannot: msg says why). */
typedef int (*pool_params_fn)(void *owner, conninfo_params_t *out, char *msg,
                              size_t msglen);

#define POOL_PROBE_SLOTS 2

typedef struct pool_probe {
    bool active;
    pconn_t *conn;
    const char *sql;
    int timeout_ms;
    uint64_t correlation_id;
    uint64_t start_us;
} pool_probe_t;

struct pool {
    loop_env_t *env;
    list_node_t changed_link; /* on env->changed_pools */
    void *owner;
    pool_upcall_fn upcall;
    pool_params_fn params;
    const char *node_id;           /* borrowed from the owner */
    const pgcm_pool_options_t *po; /* the spec's, borrowed */
    int connect_timeout_ms;
    struct cancel_gate *gate;
    bool live;      /* false once draining: nothing new */
    bool accepting; /* the node takes work: open connections for waiters */
    bool reachable; /* healthy or degraded: keep min connections open */

    list_node_t lists[POOL_NLISTS];
    int counts[POOL_NLISTS];
    int dedicated_connecting; /* probe connections beyond max, connecting */

    list_node_t waiters; /* pool_job_t, FIFO */
    int n_waiters;
    int n_plain_waiters;      /* waiters that cannot be pipelined */
    int depth;                /* pipeline depth; < 2: no pipelining */
    uv_timer_t *waiter_timer; /* earliest acquire deadline; allocated
                                 when a request first waits, or NULL */
    uint64_t waiter_due_us;

    pool_probe_t probes[POOL_PROBE_SLOTS];
    pgcm_pool_stats_t stats; /* counters; the counts come from the lists */
};

void pgcm__pool_init(pool_t *p, loop_env_t *env, const char *node_id,
                     const pgcm_pool_options_t *po, int connect_timeout_ms,
                     struct cancel_gate *gate, pool_params_fn params,
                     pool_upcall_fn upcall, void *owner);
/* Close the pool's own timer (if it has one); the pool need not wait for
 * the close to finish. */
void pgcm__pool_close_handles(pool_t *p);

/* Run job on a connection, now or when one is free (FIFO). */
void pgcm__pool_enqueue(pool_t *p, pool_job_t *job);
/* Run job on checked-out c, now or once its cancel settles. PGCM_EINVAL
 * when a statement is already running or queued there. */
int pgcm__pool_run_on(pool_t *p, pconn_t *c, pool_job_t *job);
/* End job now with status: a waiting one leaves the queue, a running one
 * is cancelled on the server. Its done callback fires. */
void pgcm__pool_cancel_job(pool_t *p, pool_job_t *job, int status,
                           const char *msg);
void pgcm__pool_checkout_release(pool_t *p, pconn_t *c, bool discard);

/* The address lookup the params callback waited for ended. */
void pgcm__pool_params_ready(pool_t *p, bool ok, int code, const char *msg);
/* Keep min connections open (when the node is reachable). */
void pgcm__pool_fill(pool_t *p);
/* Start a probe in slot: on the least recently used idle connection, a
 * parked probe connection, else a new one (beyond max: dedicated). Returns
 * false when there is nothing to probe on for a heartbeat (nothing idle,
 * nothing running: the connections being opened have their own
 * deadlines). */
bool pgcm__pool_probe(pool_t *p, int slot, const char *sql, int timeout_ms,
                      bool heartbeat, uint64_t correlation_id);
/* Close the connection of the probe in slot (its answer is not wanted). */
void pgcm__pool_probe_abandon(pool_t *p, int slot, const char *why);
/* The node is unhealthy: fail every job with code and close everything. */
void pgcm__pool_fail_all(pool_t *p, int code, const char *msg);
/* Removal: no new work; fail waiters, close what is not running. */
void pgcm__pool_drain(pool_t *p);
/* The drain deadline passed: end running jobs (ESHUTDOWN), close all. */
void pgcm__pool_abort_busy(pool_t *p);
/* Janitor: idle reaping, max lifetime, leak warnings. */
void pgcm__pool_maintain(pool_t *p, uint64_t now_us);

/* Report POOL_EV_CHANGED once for every pool whose counts changed since
 * the last call, and start the connections waiting for a handshake slot
 * (the manager calls it before each round of deliveries). */
void pgcm__pools_publish(loop_env_t *env);
/* Stats: the counters, the counts from the lists. */
void pgcm__pool_stats(const pool_t *p, pgcm_pool_stats_t *out);
/* Connections that count against max (not dedicated probe ones). */
int pgcm__pool_total(const pool_t *p);
bool pgcm__pool_empty(const pool_t *p);

#endif /* PGCM_POOL_H */
