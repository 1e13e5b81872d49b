/* SPDX-License-Identifier: MIT */
/*
 * conn.h - one non-blocking libpq connection on the loop: the leaf of the
 * loop side. It connects, runs one statement at a time, cancels, watches
 * an idle socket and closes, and tells its owner what happened through one
 * upcall (conn_report_t). It calls nothing above it.
 */
#ifndef PGCM_CONN_H
#define PGCM_CONN_H

#include "env.h"

typedef struct conn conn_t;

typedef enum conn_event {
    CONN_EV_CONNECTED,      /* the handshake finished: ready for statements */
    CONN_EV_CONNECT_FAILED, /* code, msg, sqlstate; c is closing */
    CONN_EV_ROW,            /* a streamed row (row, borrowed) */
    CONN_EV_DONE,           /* the statement ended: result/error (owned);
                               pipelined: tag, and requeue */
    CONN_EV_TIMEOUT,        /* the statement's deadline passed (pipelined:
                               tag's; the owner abandons it) */
    CONN_EV_CLEAN,          /* after a cancel: statement over, cancel settled
                               (pipelined: the pipeline empty and settled) */
    CONN_EV_FAILED,         /* broken or discarded: code, msg, sqlstate;
                               discard: thrown away by us, not the server */
    CONN_EV_CLOSED          /* handles closed: the owner frees it now */
} conn_event_t;

typedef struct conn_report {
    conn_event_t event;
    int code;             /* FAILED, CONNECT_FAILED */
    const char *msg;      /* for a person, never a secret */
    const char *sqlstate; /* "" when none */
    bool discard;         /* FAILED: our decision (cancel unconfirmed...) */
    PGresult *result;     /* DONE: the last result, owned by the receiver */
    PGresult *error;      /* DONE: the first error result, owned, or NULL */
    const PGresult *row;  /* ROW: borrowed for the call */
    uint64_t elapsed_us;  /* DONE, TIMEOUT: since the statement was sent */
    void *tag;            /* DONE, TIMEOUT of a pipelined statement */
    bool requeue;         /* DONE, pipelined: failed with 57014 while a cancel
                             of ours was unspent: it had no effect and may be
                             sent again */
} conn_report_t;

typedef void (*conn_upcall_fn)(conn_t *c, const conn_report_t *rep);

typedef enum conn_phase {
    CONN_WAITING,    /* created, waiting for its parameters */
    CONN_HANDSHAKE,  /* PQconnectPoll in progress */
    CONN_READY,      /* connected, no statement: socket watched */
    CONN_RUNNING,    /* a statement is in flight */
    CONN_CANCELLING, /* cancelled: waiting for its end and the ticket */
    CONN_PIPELINE,   /* pipeline mode: statements in flight (or a cancel
                        still settling) */
    CONN_SHUT        /* closing or closed */
} conn_phase_t;

/* One pipelined statement and its sync point. */
typedef struct conn_seg {
    void *tag; /* the owner's; NULL once abandoned (results dropped) */
    uint64_t sent_us;
    uint64_t deadline_us; /* 0: none */
    bool cancel_wanted;   /* abandoned: cancel it once it is at the head */
} conn_seg_t;

/* The uv_poll_t is allocated apart from the conn: libpq may switch sockets
 * during PQconnectPoll, and a poll handle is bound to one fd. */
typedef struct poller poller_t;

struct conn {
    /* the owner's: a list link and its data */
    list_node_t link;
    void *owner;
    /* conn.c's own */
    loop_env_t *env;
    conn_upcall_fn upcall;
    struct cancel_gate *gate;
    const char *node_id; /* borrowed from the owner, for logs */
    PGconn *pg;
    poller_t *poller;
    /* connect, statement or cancel-grace deadline, on the manager's wheel
     * (env->wheel); once closed, the CLOSED report */
    wheel_entry_t deadline_at;
    uint64_t timer_due_us; /* when the timer fires (it may fire early for
                              a deadline moved later: it is re-armed) */
    uint64_t deadline_us;  /* RUNNING: the statement's, 0 none */
    uint64_t grace_due_us; /* CANCELLING, PIPELINE: discard after this */
    conn_phase_t phase;
    bool statement_over; /* CANCELLING: the server answered */
    int connect_deadline_ms;
    uint64_t open_us;
    uint64_t op_start_us;
    uint64_t stmt_seq; /* statements sent outside pipeline mode */
    uint64_t correlation_id;
    struct cancel_ticket *cancel;
    list_node_t cancel_link; /* on env->cancel_waits while unsettled */
    PGresult *result;
    PGresult *error;
    bool single_row;
    /* the last statement sent outside pipeline mode was single-row: libpq
     * 15 keeps single-row mode into pipeline mode then, so the next one
     * goes outside it (which clears it) */
    bool single_row_stale;
    /* pipeline mode: a ring of statements in flight, oldest first */
    conn_seg_t *segs;
    int seg_cap, seg_head, seg_count;
    bool pipe_stopping;   /* a statement was abandoned: nothing new */
    bool pipe_target_out; /* a cancel was sent for the abandoned head */
    int cancels_unspent;  /* our cancels not yet matched by a 57014 */
    int pipe_grace_ms;
    bool pipe_at_shutdown;
    bool corked;           /* TCP_CORK set: statements sent this round */
    list_node_t cork_link; /* on env->corked while corked */
    /* a FATAL/PANIC the server sent outside a statement: its last words */
    char *fatal_msg; /* a FATAL the server sent while idle (owned, 200
                        bytes once one came), or NULL */
    char fatal_sqlstate[6];
};

/* Set c up (the owner allocated it, maybe inside a bigger struct) with
 * its connect deadline armed; the connection starts with
 * pgcm__conn_start(). */
void pgcm__conn_init(conn_t *c, loop_env_t *env, struct cancel_gate *gate,
                     const char *node_id, int connect_deadline_ms,
                     conn_upcall_fn upcall, void *owner);
/* Begin the libpq handshake with these parameters (PQconnectStartParams);
 * the connect deadline starts again for it. Failures are reported
 * (CONNECT_FAILED), never returned. */
void pgcm__conn_start(conn_t *c, const char *const *keys,
                      const char *const *values);
/* A connection still WAITING is held back by its owner (hold: its connect
 * deadline stops) or let go (its deadline starts again, in full). */
void pgcm__conn_hold(conn_t *c, bool hold);
/* Fail a connection still waiting for its parameters (a name lookup that
 * failed): reported as CONNECT_FAILED. */
void pgcm__conn_fail_start(conn_t *c, int code, const char *msg);
/* Send a statement on a READY connection. timeout_ms > 0 arms the
 * deadline (reported as TIMEOUT). single_row: libpq single-row mode.
 * PGCM_OK, or PGCM_ECONN with the reason in msg (c stays as it was). */
int pgcm__conn_send(conn_t *c, const char *sql, int nparams,
                    const char *const *params, int timeout_ms, bool single_row,
                    uint64_t correlation_id, char *msg, size_t msglen);
/* Pipeline mode: send a statement on a READY connection (entering
 * pipeline mode) or behind those in flight (pgcm__conn_pipeline_room).
 * depth is the most in flight; tag comes back with its DONE or TIMEOUT.
 * PGCM_OK, or PGCM_ECONN with the reason in msg. */
int pgcm__conn_pipeline_send(conn_t *c, void *tag, int depth, const char *sql,
                             int nparams, const char *const *params,
                             int timeout_ms, uint64_t correlation_id, char *msg,
                             size_t msglen);
/* May a READY connection enter pipeline mode? */
static inline bool pgcm__conn_can_pipeline(const conn_t *c)
{
    return c->phase == CONN_READY && !c->single_row_stale;
}
/* Can another statement be pipelined on c now (depth: the most)? */
bool pgcm__conn_pipeline_room(const conn_t *c, int depth);
/* Statements in flight in pipeline mode (abandoned ones included). */
static inline int pgcm__conn_pipeline_count(const conn_t *c)
{
    return c->seg_count;
}
/* Abandon tag's statement (its owner answered it): nothing new is sent on
 * c; its results are dropped; it is cancelled on the server once every
 * statement ahead of it has ended (grace_ms then bounds its end). */
void pgcm__conn_pipeline_abandon(conn_t *c, void *tag, int grace_ms,
                                 bool at_shutdown);
/* Take the next statement still wanted (its tag; it is abandoned), or
 * NULL: to fail them all before closing. */
void *pgcm__conn_pipeline_take(conn_t *c);
/* Cancel the running statement on the server. Its answer is swallowed; the
 * connection reports CLEAN once the statement is over and the cancel has
 * been processed by the server, or FAILED (discard) if the server does not
 * confirm within grace_ms or the cancel could not be sent. send_cancel
 * false: only wait for the statement's end (probes: closing ends them).
 * In pipeline mode (before a close): every statement is abandoned and a
 * cancel sent for the one running. */
void pgcm__conn_cancel(conn_t *c, int grace_ms, bool at_shutdown);
/* Close: stop watching, PQfinish; CLOSED is reported when the handles are
 * closed (never from inside this call). why is logged. While
 * env->defer_finish (shutdown), the PGconn goes to env->finish_later
 * instead: its socket stays open, unwatched, until the shutting-down
 * thread finishes it. */
void pgcm__conn_close(conn_t *c, const char *why, bool discard);
/* A running statement whose deadline passed (TIMEOUT reported) gets a new
 * one, ms from now; TIMEOUT is reported again if it passes too. */
void pgcm__conn_extend_deadline(conn_t *c, int ms);
/* After the loop thread has been joined, on the thread that shut the
 * manager down: PQfinish every connection the shutdown deferred (Terminate
 * and close, one after the other, as a bare libpq client would) and free
 * the list. Idempotent. The servers' backends wake and exit only now, so
 * the hand-off from the loop thread happens before they compete for the
 * CPU with it. */
void pgcm__conn_finish_later(loop_env_t *env);
/* Loop, at the end of a round: send what pipelined statements were held
 * back (TCP_CORK off), so that the statements a round pipelines on one
 * connection leave in one packet. */
void pgcm__conn_uncork_all(loop_env_t *env);
/* Loop: report CLEAN or FAILED for the connections whose cancel settled
 * (the cancel helpers wake the loop). */
void pgcm__conn_settle_cancels(loop_env_t *env);

/* Accessors. */
static inline bool pgcm__conn_ready(const conn_t *c)
{
    return c->phase == CONN_READY;
}
int pgcm__conn_server_version(const conn_t *c);
/* PQTRANS_IDLE, PQTRANS_INTRANS, ... (PQTRANS_UNKNOWN if not connected). */
int pgcm__conn_transaction_status(const conn_t *c);

#endif /* PGCM_CONN_H */
