/* SPDX-License-Identifier: MIT */
/*
 * loop.h - the structures that live on a manager's loop thread: the
 * manager, its nodes, their pools of connections, requests and batches,
 * and the command queue other threads use to reach the loop.
 *
 * Data path: caller -> cmd queue -> loop thread -> node -> pool -> conn
 * (libpq socket watched by a uv_poll_t) -> result -> caller's wait or
 * callback.
 */
#ifndef PGCM_LOOP_H
#define PGCM_LOOP_H

#include <stdatomic.h>
#include <uv.h>

#include "internal.h"

typedef struct node node_t;
typedef struct conn conn_t;
typedef struct request request_t;
typedef struct batch_req batch_req_t;

/* A blocking caller waits on this; the loop fills it and posts. */
typedef struct completion {
    uv_sem_t sem;
    int status;
    pgcm_error_t err;
    void *out;
} completion_t;

void pgcm__completion_init(completion_t *c);
void pgcm__completion_wait(completion_t *c);
void pgcm__completion_post(completion_t *c, int status, void *out);
void pgcm__completion_destroy(completion_t *c);

/* ---- connections (conn.c) ------------------------------------------- */

typedef enum conn_state {
    CONN_CONNECTING, /* PQconnectPoll in progress (on node->connecting) */
    CONN_IDLE,       /* ready, on node->idle (front = most recently used) */
    CONN_ACTIVE,     /* running a request or checked out (node->busy) */
    CONN_CLOSING     /* handles closing; freed in the last close callback */
} conn_state_t;

typedef enum conn_op {
    OP_NONE,
    OP_QUERY,   /* a user request */
    OP_PROBE,   /* the health probe query */
    OP_LIVENESS /* the empty-query heartbeat */
} conn_op_t;

/* The uv_poll_t is allocated apart from the conn: libpq may switch sockets
 * during PQconnectPoll, and a poll handle is bound to one fd, so an old one
 * closes on its own while the conn carries on with a new one. */
typedef struct poller {
    uv_poll_t handle;
    conn_t *conn; /* NULL once detached */
    int fd;
    int events;
} poller_t;

struct conn {
    list_node_t link; /* in node->connecting, ->idle or ->busy */
    node_t *node;
    PGconn *pg;
    poller_t *poller;
    uv_timer_t timer; /* connect, query or cancel-grace deadline */
    conn_state_t state;
    bool dedicated_probe;  /* opened for probes beyond the pool's max */
    bool probe_on_connect; /* this connect attempt is itself a probe */
    bool timer_closed;
    int connect_deadline_ms;
    uint64_t open_us;    /* when the attempt began */
    uint64_t created_us; /* when it connected (for lifetime) */
    uint64_t expires_us; /* max lifetime with jitter */
    uint64_t idle_since_us;
    uint64_t op_start_us;
    uint64_t correlation_id; /* of the request or probe running on it */
    conn_op_t op;
    request_t *req;                   /* the request running on it (OP_QUERY) */
    struct pgcm_checkout_s *checkout; /* set while checked out */
    int abort_status; /* !=0: result is reported as this (timeout,
                         cancel, shutdown) whatever the server says */
    bool cancel_sent;
    /* A cancel sent for this connection's statement: the connection is
     * not reused until the server has processed it (else it would cancel
     * the next statement). cancel_link is on mgr->cancel_waits until the
     * ticket settles; awaiting_cancel: the statement is over, only the
     * cancel is outstanding. */
    struct cancel_ticket *cancel;
    list_node_t cancel_link;
    bool awaiting_cancel;
    request_t *next_req; /* a checkout's next statement, queued while the
                            previous one's cancel is outstanding */
    PGresult *result;    /* last result of the running statement */
    PGresult *error;     /* first error result, if any */
    /* The last FATAL or PANIC the server sent outside a statement (libpq
     * hands those to the notice receiver): why it is closing on us. */
    char fatal_msg[200];
    char fatal_sqlstate[6];
};

/* Open a connection for node (added to node->connecting). With
 * probe_timeout_ms > 0 the attempt is itself a probe: its outcome goes to
 * pgcm__node_probe_done and that is its connect deadline. May fail (and
 * report) before returning; NULL only on ENOMEM. */
conn_t *pgcm__conn_open(node_t *node, bool dedicated_probe,
                        int probe_timeout_ms);
/* Send sql (params may be NULL) on an idle conn and mark it active. */
int pgcm__conn_send(conn_t *c, conn_op_t op, const char *sql, int nparams,
                    const char *const *params, int timeout_ms);
/* Cancel the running statement on the server (from a helper thread) and
 * report the request as `status` when the server answers, or discard the
 * connection after cancel_grace_ms. */
void pgcm__conn_abort(conn_t *c, int status);
/* Close: stop watching, PQfinish, free after the handles close. `why` is
 * logged (connection_closed). */
void pgcm__conn_close(conn_t *c, const char *why);
/* As pgcm__conn_close, for a connection thrown away rather than reused
 * (logged as connection_discarded, a warning). */
void pgcm__conn_discard(conn_t *c, const char *why);
/* Send a cancel request for c's backend without waiting (helper thread). */
void pgcm__conn_send_cancel(conn_t *c);
/* A connect attempt failed (code, reason, SQLSTATE or ""): log it, close
 * c, tell the pool, and give the node the evidence (the probe's verdict
 * when the attempt was a probe, else suspicion). */
void pgcm__conn_connect_failed(conn_t *c, int code, const char *msg,
                               const char *sqlstate);
/* Loop: c's cancel ticket settled (called from the wake-up). */
void pgcm__conn_cancel_settled(conn_t *c);
/* Loop: run r on checked-out c now, or after c's cancel settles. */
int pgcm__conn_checkout_submit(conn_t *c, request_t *r);
/* Watch an idle connection's socket for the server going away. */
int pgcm__conn_watch_idle(conn_t *c);
/* Begin the libpq handshake once the node has its address. */
void pgcm__conn_begin(conn_t *c);

/* ---- requests (request.c) ------------------------------------------- */

typedef enum request_kind {
    REQ_QUERY,   /* a statement on any pooled connection */
    REQ_CHECKOUT /* take a connection for exclusive use */
} request_kind_t;

struct request {
    list_node_t link;     /* node->waiters while waiting */
    list_node_t all_link; /* mgr->requests while not finished */
    uint64_t id;
    request_kind_t kind;
    pgcm_manager_t *mgr;
    node_t *node;
    char *node_id;
    char *sql;
    int nparams;
    char **params;
    int timeout_ms;         /* query timeout */
    int acquire_timeout_ms; /* for checkout; queries use the pool's */
    uint64_t submit_us;
    uint64_t acquire_deadline_us;
    conn_t *conn;
    batch_req_t *batch; /* set for a fan-out part */
    size_t index;       /* position in the batch */
    pgcm_query_cb cb;
    void *user;
    pgcm_row_cb on_row; /* stream rows (single-row mode), or NULL */
    void *row_user;
    uint64_t correlation_id;               /* in its log records */
    completion_t *done;                    /* blocking caller, or NULL */
    struct pgcm_checkout_s *co;            /* REQ_CHECKOUT: filled on success */
    struct pgcm_checkout_s *co_conn_owner; /* query on this checkout */
    bool waiting;
    bool finished;
};

struct batch_req {
    list_node_t all_link; /* mgr->batches */
    uint64_t id;
    pgcm_manager_t *mgr;
    pgcm_batch_t *out;
    size_t remaining;
    request_t **parts;
    uint64_t submit_us;
    pgcm_batch_cb cb;
    void *user;
    completion_t *done;
};

request_t *pgcm__request_new(pgcm_manager_t *mgr, const char *node_id,
                             const char *sql, int nparams,
                             const char *const *params, int timeout_ms);
void pgcm__request_free(request_t *r);
/* Loop: route a new request to its node (or fail it). */
void pgcm__request_submit(pgcm_manager_t *mgr, request_t *r);
/* Loop: the request is over: deliver result (owned) and free r. */
void pgcm__request_finish(request_t *r, pgcm_result_t *res);
/* Loop: finish r with an error. */
void pgcm__request_fail(request_t *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Loop: as pgcm__request_fail, with the SQLSTATE the server sent. */
void pgcm__request_fail_sqlstate(request_t *r, int code, const char *sqlstate,
                                 const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Loop: a connection is ready for r: start it. */
void pgcm__request_start(request_t *r, conn_t *c);
/* Loop: the statement on c ended: build c->req's result (counted in the
 * node's stats) from c's PGresults; NULL on ENOMEM. */
pgcm_result_t *pgcm__result_from_conn(conn_t *c);
void pgcm__batch_submit(pgcm_manager_t *mgr, batch_req_t *b,
                        const pgcm_target_t *target, const char *sql,
                        int nparams, const char *const *params,
                        const pgcm_query_options_t *qo);
/* Copy the per-call options a request keeps (opts may be NULL). */
void pgcm__request_set_options(request_t *r, const pgcm_query_options_t *opts);
int pgcm__cancel_on_loop(pgcm_manager_t *mgr, uint64_t id);

/* ---- nodes (node.c) and pools (pool.c) ------------------------------ */

typedef enum node_life {
    NODE_LIVE,     /* serving */
    NODE_DRAINING, /* removed or shutting down: no new work */
    NODE_CLOSED    /* connections closed, waiting for handles */
} node_life_t;

struct node {
    list_node_t link; /* mgr->nodes, in order added */
    pgcm_manager_t *mgr;
    pgcm_node_spec_t *spec; /* owned copy */
    const char *id;         /* spec->id */
    node_life_t life;

    /* name resolution (never blocking the loop) */
    char *resolve_host; /* NULL if the host needs no lookup */
    char hostaddr[400]; /* resolved addresses, comma-separated in
                           the resolver's order; "" if none */
    uint64_t resolved_us;
    uv_getaddrinfo_t *gai; /* lookup in flight, or NULL */

    /* pool: each list holds conns in that state */
    list_node_t connecting; /* CONN_CONNECTING */
    list_node_t idle;       /* CONN_IDLE, front = most recently used */
    list_node_t busy;       /* CONN_ACTIVE */
    int n_connecting, n_idle, n_busy;
    int n_dedicated;     /* dedicated probe conns among the above */
    list_node_t waiters; /* requests waiting for a connection, FIFO */
    int n_waiters;
    uv_timer_t waiter_timer; /* earliest acquire deadline */
    uint64_t waiter_due_us;  /* when it fires, 0 = not armed */

    /* health */
    health_core_t hc;
    pgcm_health_t health;    /* loop's working copy */
    pgcm_pool_stats_t stats; /* loop's counters */
    uv_timer_t probe_timer;  /* next probe / heartbeat / retry */
    bool probe_in_flight;
    int probe_kind;         /* probe_kind_t of the probe in flight */
    bool suspect;           /* failure seen: probe at a fast cadence */
    uint64_t suspect_at_us; /* next suspect probe */
    bool retry_pending;     /* unhealthy, waiting for backoff */
    uint64_t next_probe_us; /* next full probe */
    uint64_t retry_at_us;
    uint64_t last_heard_us;        /* last sign of life from the server */
    uint64_t probe_correlation_id; /* of the probe in flight */
    int server_version;

    /* published copies, read by other threads under mgr->snap_lock */
    pgcm_health_t pub_health;
    pgcm_pool_stats_t pub_stats;

    struct cancel_gate *cancel_gate; /* cancels in flight to this node */

    /* removal */
    list_node_t remove_waiters; /* cmd_t waiting for removal to finish */
    int open_handles;           /* timers not yet closed */
};

node_t *pgcm__node_new(pgcm_manager_t *mgr, const pgcm_node_spec_t *spec);
/* Free a closed node (all handles closed). */
void pgcm__node_free(node_t *n);
/* Close the timers of a node that was never started, then free it. */
void pgcm__node_discard(node_t *n);
/* Start connecting / probing a new node. */
void pgcm__node_start(node_t *n);
/* Begin removal: drain up to deadline, then cancel and close. */
void pgcm__node_begin_remove(node_t *n, int drain_ms);
/* Loop: check whether a draining node can close now. */
void pgcm__node_check_drained(node_t *n);
/* Publish health and stats to other threads. */
void pgcm__node_publish(node_t *n);
/* Evidence: a connection failed or an idle socket closed. */
void pgcm__node_suspect(node_t *n, int code, const char *msg,
                        const char *sqlstate);
/* Does the node still need a name lookup before connecting? Starts one
 * if none is running; conns wait on node->connecting with pg == NULL. */
bool pgcm__node_need_resolve(node_t *n);
/* Run the pending probe on c, a connection the probe opened. */
void pgcm__node_probe_on(node_t *n, conn_t *c);
/* Health probe (or heartbeat) finished: status PGCM_OK or an error. */
void pgcm__node_probe_done(node_t *n, int status, uint64_t latency_us,
                           const char *msg, const char *sqlstate);
/* The server answered something: it is alive. */
void pgcm__node_heard(node_t *n);
/* Probe now; an unhealthy node reconnects without waiting for backoff. */
void pgcm__node_retry_now(node_t *n);
bool pgcm__node_available(const node_t *n);    /* healthy or degraded */
bool pgcm__node_accepts_work(const node_t *n); /* not unhealthy/removed */

/* pool.c */
void pgcm__pool_enqueue(node_t *n, request_t *r);
/* A conn is ready (new or released): hand it on or park it idle. */
void pgcm__pool_conn_ready(conn_t *c);
/* A probe is done with c: back to the idle list's LRU end, idle time kept
 * (or to a waiter). */
void pgcm__pool_probe_return(conn_t *c);
/* Make sure min connections exist (when the node is reachable). */
void pgcm__pool_fill(node_t *n);
/* A connect attempt failed: fail waiters if nothing else can serve them. */
void pgcm__pool_connect_failed(node_t *n, int code, const char *msg);
/* Fail every waiter with code. */
void pgcm__pool_fail_waiters(node_t *n, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Janitor work for one node: idle reaping, lifetime, leaks. */
void pgcm__pool_maintain(node_t *n, uint64_t now_us);
void pgcm__pool_move(conn_t *c, conn_state_t to);
/* Take c off its node's list for its state (counts kept right). */
void pgcm__pool_unlink(conn_t *c);
void pgcm__pool_counts(const node_t *n, pgcm_pool_stats_t *s);
int pgcm__node_total(const node_t *n);

/* ---- events (events.c) ---------------------------------------------- */

typedef struct subscriber {
    uint64_t id;
    pgcm_event_cb cb; /* NULL once unsubscribed */
    void *user;
} subscriber_t;

void pgcm__emit(pgcm_manager_t *mgr, pgcm_event_type_t type, node_t *n,
                pgcm_node_state_t old_state, pgcm_node_state_t new_state,
                int error_code, const char *message);
int pgcm__subscribe_on_loop(pgcm_manager_t *mgr, pgcm_event_cb cb, void *user,
                            uint64_t id);
void pgcm__unsubscribe_on_loop(pgcm_manager_t *mgr, uint64_t id);

/* ---- checkout (checkout.c) ------------------------------------------ */

struct pgcm_checkout_s {
    pgcm_manager_t *mgr;
    conn_t *conn; /* loop-owned; NULL once the node dropped it */
    char node_id[PGCM_ID_MAX + 1];
    uint64_t since_us;
    bool leak_warned;
    bool released; /* by the user */
};

void pgcm__checkout_release_on_loop(pgcm_manager_t *mgr,
                                    struct pgcm_checkout_s *co, int discard);

/* ---- manager (manager.c) -------------------------------------------- */

typedef enum cmd_type {
    CMD_QUERY,
    CMD_BATCH,
    CMD_ADD,
    CMD_START,
    CMD_REMOVE,
    CMD_APPLY,
    CMD_CANCEL,
    CMD_SUBSCRIBE,
    CMD_UNSUBSCRIBE,
    CMD_RELEASE,
    CMD_RETRY,
    CMD_SHUTDOWN
} cmd_type_t;

typedef struct cmd {
    list_node_t link;
    cmd_type_t type;
    completion_t *done;   /* blocking caller, or NULL */
    pgcm_done_cb done_cb; /* async remove */
    void *done_user;
    request_t *req;       /* CMD_QUERY */
    batch_req_t *batch;   /* CMD_BATCH */
    pgcm_target_t target; /* CMD_BATCH (deep copy) */
    char *sql;            /* CMD_BATCH */
    int nparams;
    char **params;
    pgcm_query_options_t qopts; /* CMD_BATCH */
    pgcm_node_spec_t **specs;   /* CMD_ADD/START/APPLY (owned copies) */
    size_t nspecs;
    char *node_id; /* CMD_REMOVE */
    uint64_t id;   /* CANCEL, SUBSCRIBE, UNSUBSCRIBE */
    pgcm_event_cb event_cb;
    void *event_user;
    struct pgcm_checkout_s *co; /* CMD_RELEASE */
    int discard;
    size_t counts[3]; /* APPLY: added, removed, replaced */
    int pending;      /* APPLY/REMOVE: removals still running */
} cmd_t;

typedef enum mgr_state {
    MGR_RUNNING,
    MGR_DRAINING, /* shutdown requested: no new work */
    MGR_CLOSING,  /* closing handles, loop about to end */
    MGR_STOPPED
} mgr_state_t;

struct pgcm_manager_s {
    pgcm_options_t opts; /* strings owned */
    uv_loop_t loop;
    uv_thread_t thread;
    uv_thread_t loop_thread_self;
    uv_async_t wakeup;
    uv_timer_t janitor;
    uv_timer_t stats_timer; /* PGCM_EV_POOL_STATS cadence */

    atomic_int state; /* mgr_state_t; read by any thread */
    atomic_int thread_joined;
    atomic_uint_fast64_t next_id;

    /* command queue: any thread -> loop */
    pthread_mutex_t cmd_lock;
    list_node_t cmds;

    /* published state: loop writes, others read, under snap_lock */
    pthread_mutex_t snap_lock;
    pthread_cond_t snap_cond; /* broadcast when a node leaves CONNECTING */
    strmap_t nodes_by_id;     /* id -> node_t (loop adds/removes) */
    size_t node_count;

    /* loop-only */
    list_node_t nodes;         /* node_t, in order added; the loop writes
                                  it under snap_lock, others read it so */
    list_node_t closing_nodes; /* removed, handles still closing */
    list_node_t requests;      /* unfinished single requests */
    list_node_t batches;       /* unfinished batches */
    list_node_t cancel_waits;  /* conns whose cancel has not settled */
    subscriber_t *subs;
    size_t nsubs, subs_cap;
    int emitting; /* >0 while delivering events */
    cmd_t *shutdown_cmd;

    /* cancel helper threads (shared with them, refcounted) */
    struct cancel_tracker *cancels;
};

/* log.c: the log hook. Loop thread only. */
bool pgcm__log_enabled(const pgcm_manager_t *mgr, pgcm_log_level_t level);
void pgcm__log(pgcm_manager_t *mgr, pgcm_log_level_t level, const char *node_id,
               const char *event, uint64_t correlation_id, int error_code,
               const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

/* Is the calling thread this manager's loop thread? */
bool pgcm__on_loop(const pgcm_manager_t *mgr);
/* Post a command to the loop (takes ownership of cmd). */
void pgcm__post(pgcm_manager_t *mgr, cmd_t *cmd);
cmd_t *pgcm__cmd_new(cmd_type_t type);
void pgcm__cmd_free(cmd_t *c);
/* Loop: a node finished closing; free it and answer its waiters. */
void pgcm__manager_node_closed(pgcm_manager_t *mgr, node_t *n);
/* Loop: check whether shutdown can finish. */
void pgcm__manager_check_shutdown(pgcm_manager_t *mgr);
node_t *pgcm__find_node(pgcm_manager_t *mgr, const char *id);
uint64_t pgcm__new_id(pgcm_manager_t *mgr);

/* cancel.c: fire-and-forget cancel requests on helper threads, and the
 * wait at shutdown for the ones still sending. */
struct cancel_tracker *pgcm__cancel_tracker_new(void);
void pgcm__cancel_tracker_release(struct cancel_tracker *t);
/* The helper threads wake the loop through `wake` when a cancel settles;
 * NULL (set before the handle closes) stops that. */
void pgcm__cancel_tracker_set_wake(struct cancel_tracker *t, uv_async_t *wake);
/* Per-node limit on cancels in flight (refcounted with the helpers). */
struct cancel_gate *pgcm__cancel_gate_new(void);
void pgcm__cancel_gate_release(struct cancel_gate *g);
typedef enum cancel_outcome {
    CANCEL_PENDING = 0, /* the helper thread is still sending it */
    CANCEL_DELIVERED,   /* the server processed it (and closed the socket) */
    CANCEL_FAILED       /* it could not be sent: its effect is unknown */
} cancel_outcome_t;
/* Send a cancel for pg's statement on a helper thread. at_shutdown: the
 * manager's shutdown waits (bounded) for it. Returns a ticket (release it
 * with pgcm__cancel_ticket_release) that settles when the server has
 * processed the cancel, or NULL when no cancel was sent (too many in flight
 * to this node or in the process, or out of memory). */
struct cancel_ticket *pgcm__cancel_send(struct cancel_tracker *t,
                                        struct cancel_gate *gate, PGconn *pg,
                                        bool at_shutdown);
int pgcm__cancel_outcome(const struct cancel_ticket *ticket);
void pgcm__cancel_ticket_release(struct cancel_ticket *ticket);
/* Wait until no shutdown cancel is in flight, at most timeout_ms. */
void pgcm__cancel_wait(struct cancel_tracker *t, int timeout_ms);

#endif /* PGCM_LOOP_H */
