/* SPDX-License-Identifier: MIT */
/*
 * env.h - what every layer on a manager's loop thread shares, as data: the
 * loop, the options, the cancel helpers, the id counter and the delivery
 * queue. Each layer's header includes this one and the one of the layer
 * below, nothing above: calls go one way (api -> manager -> request ->
 * node -> pool -> conn), and a lower layer reports upward only through
 * the callback its owner gave it.
 */
#ifndef PGCM_ENV_H
#define PGCM_ENV_H

#include <stdatomic.h>
#include <uv.h>

#include "internal.h"
#include "list.h"
#include "wheel.h"

struct deliver_queue;
struct pgcm__tunnels;

typedef struct loop_env {
    uv_loop_t *loop;
    const pgcm_options_t *opts;     /* the manager's copy */
    struct cancel_tracker *cancels; /* cancel.c */
    list_node_t cancel_waits;       /* conns whose cancel has not settled */
    list_node_t changed_pools;      /* pools whose counts changed: published
                                       once, before the next deliveries */
    list_node_t corked;             /* conns holding pipelined statements
                                       back (TCP_CORK) until the round ends */
    int handshakes;                 /* connections connecting (pool.c) */
    list_node_t handshake_queue;    /* connections waiting for their turn */
    atomic_uint_fast64_t *next_id;  /* request, batch and probe ids */
    struct deliver_queue *deliver;  /* deliver.c: calls into user code */
    struct pgcm__tunnels *tunnels;  /* tunnel.c: SSH sessions, made by the
                                       first node with ssh.host; NULL until
                                       then */
    bool defer_finish;              /* shutdown: closed connections' PGconn
                                       wait in finish_later for the caller */
    PGconn **finish_later;          /* conn.c fills it on the loop; after the
                                       join, pgcm__conn_finish_later runs it
                                       on the thread that shut down */
    size_t n_finish_later, finish_later_cap;
    uint64_t clock_us;   /* pgcm__env_hold_clock: the reading every layer
                            shares until the handler is over; 0 = none */
    timer_wheel_t wheel; /* wheel.c: nodes' probes, connections' deadlines */
} loop_env_t;

/* The loop's clock (CLOCK_MONOTONIC, microseconds). A handler that does a
 * lot at one moment (a socket's answers and the next statement they let
 * go, one command) reads it once with pgcm__env_hold_clock and gives it
 * back with pgcm__env_release_clock; the layers under it share that
 * reading (a statement costs one clock read, not seven). Outside such a
 * scope every call reads the clock. */
static inline uint64_t pgcm__env_now(const loop_env_t *env)
{
    return env->clock_us != 0 ? env->clock_us : pgcm__mono_us();
}

/* Read the clock and hold it; returns what to give back (scopes nest). */
static inline uint64_t pgcm__env_hold_clock(loop_env_t *env)
{
    uint64_t outer = env->clock_us;
    env->clock_us = pgcm__mono_us();
    return outer;
}

static inline void pgcm__env_release_clock(loop_env_t *env, uint64_t outer)
{
    env->clock_us = outer;
}

/* Time passed inside a held scope (a user's row callback ran): read the
 * clock again. */
static inline void pgcm__env_refresh_clock(loop_env_t *env)
{
    if (env->clock_us != 0)
        env->clock_us = pgcm__mono_us();
}

static inline uint64_t pgcm__env_new_id(loop_env_t *env)
{
    return atomic_fetch_add(env->next_id, 1);
}

/* log.c: the log hook (pgcm_options_t.log_cb). Loop thread only. */
static inline bool pgcm__log_enabled(const pgcm_options_t *opts,
                                     pgcm_log_level_t level)
{
    return opts->log_cb != NULL && level >= opts->log_level;
}
/* One record (opts' level lets it through); duration_us -1 when the
 * happening has none. */
void pgcm__log_emit(const pgcm_options_t *opts, pgcm_log_level_t level,
                    const char *node_id, const char *event,
                    uint64_t correlation_id, int error_code,
                    const char *sqlstate, int64_t duration_us, const char *fmt,
                    ...) __attribute__((format(printf, 9, 10)));
/* The level is checked before anything is evaluated or formatted: a
 * filtered record costs a comparison (the statement path logs two). */
#define pgcm__log_timed(opts, level, ...)                                      \
    do {                                                                       \
        const pgcm_options_t *log_opts_ = (opts);                              \
        if (pgcm__log_enabled(log_opts_, (level)))                             \
            pgcm__log_emit(log_opts_, (level), __VA_ARGS__);                   \
    } while (0)
#define pgcm__log(opts, level, node_id, event, corr, code, sqlstate, ...)      \
    pgcm__log_timed(opts, level, node_id, event, corr, code, sqlstate, -1,     \
                    __VA_ARGS__)

/* cancel.c: fire-and-forget cancel requests on helper threads, each with a
 * ticket that settles when the server has processed it, and the wait at
 * shutdown for the ones still sending. */
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

#endif /* PGCM_ENV_H */
