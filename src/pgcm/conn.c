/* SPDX-License-Identifier: MIT */
/*
 * conn.c - one non-blocking libpq connection driven by the loop, the leaf
 * of the loop side: connect (PQconnectStartParams/PQconnectPoll), send a
 * statement, read its results (whole or one row at a time), enforce its
 * deadline, cancel it so that the cancel can never reach a later statement,
 * or run several statements in a row in libpq pipeline mode (one sync
 * point and one deadline each; a cancel only once the statement is the
 * one running, and a statement it hit instead reported as such),
 * watch an idle socket for the server going away, keep the server's last
 * words (SQLSTATE included) when it ends the connection, and close. Every
 * outcome goes to the owner through one upcall; nothing here calls up.
 *
 * After an upcall the owner may have closed the connection: code below an
 * upcall checks the phase before touching libpq again. The memory stays
 * valid until CLOSED is reported from the timer's close callback.
 */
#include <stdio.h>
#include <string.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "conn.h"

struct poller {
    uv_poll_t handle;
    conn_t *conn; /* NULL once detached */
    int fd;
    int events;
};

static void conn_on_poll(uv_poll_t *h, int status, int events);
static void conn_on_deadline(wheel_entry_t *e);
static void conn_timer_step(conn_t *c);
static void conn_broken(conn_t *c, const char *pqmsg);
static void fail_and_report(conn_t *c, conn_event_t ev, int code,
                            const char *msg, const char *sqlstate,
                            bool discard);

static uint64_t now_us(const conn_t *c)
{
    return pgcm__env_now(c->env);
}

static void report(conn_t *c, conn_event_t ev)
{
    conn_report_t rep = {.event = ev, .msg = "", .sqlstate = ""};
    c->upcall(c, &rep);
}

/* ---- socket watching ------------------------------------------------- */

static void poller_closed(uv_handle_t *h)
{
    pgcm__free(LIST_ENTRY(h, poller_t, handle));
}

static void poller_detach(conn_t *c)
{
    poller_t *p = c->poller;
    if (p == NULL)
        return;
    p->conn = NULL;
    c->poller = NULL;
    uv_close((uv_handle_t *)&p->handle, poller_closed);
}

/* Watch the connection's current socket for `events`. libpq may have moved
 * to a new socket (another address, SSL fallback), so the fd is read again
 * every time. Returns 0 or a libuv error. */
static int conn_watch(conn_t *c, int events)
{
    int fd = c->pg ? PQsocket(c->pg) : -1;
    if (c->poller != NULL && c->poller->fd != fd)
        poller_detach(c);
    if (fd < 0)
        return UV_EBADF;
    if (c->poller == NULL) {
        poller_t *p = pgcm__calloc(1, sizeof(*p));
        if (p == NULL)
            return UV_ENOMEM;
        int rc = uv_poll_init(c->env->loop, &p->handle, fd);
        if (rc != 0) {
            pgcm__free(p);
            return rc;
        }
        p->conn = c;
        p->fd = fd;
        c->poller = p;
    }
    if (c->poller->events != events) {
        int rc = uv_poll_start(&c->poller->handle, events, conn_on_poll);
        if (rc != 0)
            return rc;
        c->poller->events = events;
    }
    return 0;
}

/* The deadline fires at due_us (to the millisecond), on the manager's
 * wheel: filing and moving it is O(1), where libuv's timer heap walked
 * some fourteen levels at every move with 10,000 connections. Once the
 * connection is closed the entry is its CLOSED report's (pgcm__conn_close)
 * and nothing moves it. */
static void timer_at(conn_t *c, uint64_t due_us)
{
    if (c->phase == CONN_SHUT)
        return;
    uint64_t now = now_us(c);
    uint64_t ms = due_us > now ? (due_us - now + 999) / 1000 : 0;
    c->timer_due_us = now + ms * 1000;
    pgcm__wheel_set(&c->env->wheel, &c->deadline_at, ms);
}

static void timer_stop(conn_t *c)
{
    if (c->phase != CONN_SHUT)
        pgcm__wheel_remove(&c->env->wheel, &c->deadline_at);
}

static bool timer_active(const conn_t *c)
{
    return pgcm__wheel_entry_set(&c->deadline_at);
}

static void timer_start(conn_t *c, int ms)
{
    timer_at(c, now_us(c) + (uint64_t)(ms > 0 ? ms : 1) * 1000);
}

/* A deadline at due_us: the timer is moved only when it would fire later
 * (a statement's deadline is checked when the timer fires and the timer
 * re-armed for it then), so a stream of statements costs no timer
 * operation each. */
static void timer_arm(conn_t *c, uint64_t due_us)
{
    if (!timer_active(c) || due_us < c->timer_due_us)
        timer_at(c, due_us);
}

/* Has the deadline passed (0: none)? A millisecond early counts: libuv's
 * timers run on the loop's cached millisecond clock. */
static bool expired(uint64_t now, uint64_t due_us)
{
    return due_us != 0 && now + 1000 >= due_us;
}

/* ---- the server's words ------------------------------------------------ */

#define FATAL_MAX 200 /* bytes kept of a FATAL sent while idle */

/* Notices are dropped, except a FATAL or PANIC sent while no statement
 * runs (an administrator's terminate, a shutdown): kept as the reason
 * for the close that follows. */
static void conn_on_notice(void *arg, const PGresult *r)
{
    conn_t *c = arg;
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (sev == NULL || (strcmp(sev, "FATAL") != 0 && strcmp(sev, "PANIC") != 0))
        return;
    if (c->fatal_msg == NULL &&
        (c->fatal_msg = pgcm__malloc(FATAL_MAX)) == NULL)
        return;
    pgcm__pq_result_error(r, c->fatal_msg, FATAL_MAX, c->fatal_sqlstate);
}

/* Why c failed, for a person, with the server's SQLSTATE when it sent
 * one: a FATAL error result of the running statement, else one the
 * server sent while idle, else libpq's own text. */
static void failure_text(conn_t *c, const char *pqmsg, char *msg, size_t msglen,
                         char sqlstate[6])
{
    if (c->pg != NULL && c->phase != CONN_HANDSHAKE &&
        PQstatus(c->pg) == CONNECTION_BAD) {
        /* libpq may still hold the server's last words unparsed; on a bad
         * connection (socket dropped) PQgetResult cannot block */
        for (int i = 0; i < 4 && c->error == NULL; i++) {
            PGresult *r = PQgetResult(c->pg);
            if (r == NULL)
                break;
            if (PQresultStatus(r) == PGRES_FATAL_ERROR &&
                PQresultErrorField(r, PG_DIAG_SQLSTATE) != NULL)
                c->error = r;
            else
                PQclear(r);
        }
    }
    if (c->error != NULL &&
        pgcm__pq_result_error(c->error, msg, msglen, sqlstate))
        return;
    if (c->fatal_msg != NULL && c->fatal_msg[0] != '\0') {
        snprintf(msg, msglen, "%s", c->fatal_msg);
        snprintf(sqlstate, 6, "%s", c->fatal_sqlstate);
        return;
    }
    pgcm__pq_error_parse(pqmsg, msg, msglen, sqlstate);
}

/* ---- close ----------------------------------------------------------- */

static void drop_ticket(conn_t *c)
{
    if (list_linked(&c->cancel_link))
        list_remove(&c->cancel_link);
    list_init(&c->cancel_link);
    pgcm__cancel_ticket_release(c->cancel);
    c->cancel = NULL;
}

static void set_cork(conn_t *c, int on)
{
    int fd = c->pg ? PQsocket(c->pg) : -1;
    if (fd >= 0)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
}

static void uncork(conn_t *c)
{
    if (!c->corked)
        return;
    c->corked = false;
    list_remove(&c->cork_link);
    list_init(&c->cork_link);
    set_cork(c, 0);
}

void pgcm__conn_uncork_all(loop_env_t *env)
{
    while (!list_empty(&env->corked))
        uncork(LIST_ENTRY(list_first(&env->corked), conn_t, cork_link));
}

/* A closed connection's last word, from the wheel (pgcm__conn_close). */
static void conn_report_closed(wheel_entry_t *e)
{
    conn_t *c = LIST_ENTRY(e, conn_t, deadline_at);
    /* the pipeline ring outlives the close: the owner takes its tags */
    pgcm__free(c->segs);
    c->segs = NULL;
    c->seg_count = 0;
    pgcm__free(c->fatal_msg);
    c->fatal_msg = NULL;
    report(c, CONN_EV_CLOSED);
}

/* Keep pg for pgcm__conn_finish_later; false: finish it now. */
static bool defer_finish(loop_env_t *env, PGconn *pg)
{
    if (!env->defer_finish)
        return false;
    if (env->n_finish_later == env->finish_later_cap) {
        size_t cap = env->finish_later_cap ? env->finish_later_cap * 2 : 64;
        PGconn **grown = pgcm__realloc(env->finish_later, cap * sizeof(*grown));
        if (grown == NULL)
            return false;
        env->finish_later = grown;
        env->finish_later_cap = cap;
    }
    env->finish_later[env->n_finish_later++] = pg;
    return true;
}

void pgcm__conn_extend_deadline(conn_t *c, int ms)
{
    if (c->phase != CONN_RUNNING)
        return;
    c->deadline_us = now_us(c) + (uint64_t)(ms > 0 ? ms : 1) * 1000;
    timer_arm(c, c->deadline_us);
}

void pgcm__conn_finish_later(loop_env_t *env)
{
    for (size_t i = 0; i < env->n_finish_later; i++)
        PQfinish(env->finish_later[i]);
    pgcm__free(env->finish_later);
    env->finish_later = NULL;
    env->n_finish_later = env->finish_later_cap = 0;
}

void pgcm__conn_close(conn_t *c, const char *why, bool discard)
{
    if (c->phase == CONN_SHUT)
        return;
    const pgcm_options_t *o = c->env->opts;
    bool was_open = c->phase != CONN_WAITING && c->phase != CONN_HANDSHAKE;
    pgcm_log_level_t level = !was_open ? PGCM_LOG_DEBUG
                             : discard ? PGCM_LOG_WARN
                                       : PGCM_LOG_INFO;
    if (pgcm__log_enabled(o, level))
        pgcm__log_timed(o, level, c->node_id,
                        discard ? "connection_discarded" : "connection_closed",
                        c->correlation_id, 0, "",
                        (int64_t)(now_us(c) - c->open_us), "%s (open %llu ms)",
                        why ? why : "closed",
                        (unsigned long long)((now_us(c) - c->open_us) / 1000));
    uncork(c);
    timer_stop(c);
    c->phase = CONN_SHUT;
    drop_ticket(c);
    poller_detach(c);
    if (c->pg != NULL) {
        if (!defer_finish(c->env, c->pg))
            PQfinish(c->pg);
        c->pg = NULL;
    }
    PQclear(c->result);
    PQclear(c->error);
    c->result = c->error = NULL;
    /* CLOSED goes up from the wheel at the next millisecond, never from
     * inside the call that closed it (the owner may be half-way through
     * a change of its own) */
    c->deadline_at.fire = conn_report_closed;
    pgcm__wheel_set(&c->env->wheel, &c->deadline_at, 0);
}

/* Close, then tell the owner why. */
static void fail_and_report(conn_t *c, conn_event_t ev, int code,
                            const char *msg, const char *sqlstate, bool discard)
{
    pgcm__conn_close(c, msg, discard);
    conn_report_t rep = {.event = ev,
                         .code = code,
                         .msg = msg,
                         .sqlstate = sqlstate ? sqlstate : "",
                         .discard = discard};
    c->upcall(c, &rep);
}

/* ---- connect --------------------------------------------------------- */

void pgcm__conn_init(conn_t *c, loop_env_t *env, struct cancel_gate *gate,
                     const char *node_id, int connect_deadline_ms,
                     conn_upcall_fn upcall, void *owner)
{
    list_init(&c->link);
    list_init(&c->cancel_link);
    list_init(&c->cork_link);
    c->owner = owner;
    c->env = env;
    c->gate = gate;
    c->node_id = node_id;
    c->upcall = upcall;
    c->phase = CONN_WAITING;
    c->open_us = now_us(c);
    c->connect_deadline_ms = connect_deadline_ms;
    pgcm__wheel_entry_init(&c->deadline_at, conn_on_deadline);
    timer_start(c, connect_deadline_ms);
}

static void connect_failed(conn_t *c, const char *pqmsg)
{
    char msg[256];
    char sqlstate[6];
    failure_text(c, pqmsg, msg, sizeof(msg), sqlstate);
    if (msg[0] == '\0')
        snprintf(msg, sizeof(msg), "connection failed");
    int code = pgcm__classify_connect_error(sqlstate, msg);
    pgcm__log(c->env->opts, PGCM_LOG_WARN, c->node_id, "connection_error",
              c->correlation_id, code, sqlstate, "%s", msg);
    fail_and_report(c, CONN_EV_CONNECT_FAILED, code, msg, sqlstate, false);
}

void pgcm__conn_fail_start(conn_t *c, int code, const char *msg)
{
    if (c->phase != CONN_WAITING)
        return;
    pgcm__log(c->env->opts, PGCM_LOG_WARN, c->node_id, "connection_error",
              c->correlation_id, code, "", "%s", msg);
    fail_and_report(c, CONN_EV_CONNECT_FAILED, code, msg, "", false);
}

void pgcm__conn_hold(conn_t *c, bool hold)
{
    if (c->phase != CONN_WAITING)
        return;
    if (hold)
        timer_stop(c);
    else
        timer_start(c, c->connect_deadline_ms);
}

void pgcm__conn_start(conn_t *c, const char *const *keys,
                      const char *const *values)
{
    if (c->phase != CONN_WAITING)
        return;
    c->phase = CONN_HANDSHAKE;
    timer_start(c, c->connect_deadline_ms);
    c->pg = PQconnectStartParams(keys, values, 0);
    if (c->pg == NULL) {
        connect_failed(c, "out of memory starting a connection");
        return;
    }
    PQsetNoticeReceiver(c->pg, conn_on_notice, c);
    /* Verbose errors carry the SQLSTATE of a failed login. */
    PQsetErrorVerbosity(c->pg, PQERRORS_VERBOSE);
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        connect_failed(c, PQerrorMessage(c->pg));
        return;
    }
    /* The first PQconnectPoll call is made when the socket is writable. */
    if (conn_watch(c, UV_WRITABLE) != 0)
        connect_failed(c, "cannot watch the connection's socket");
}

static void conn_connected(conn_t *c)
{
    timer_stop(c);
    PQsetErrorVerbosity(c->pg, PQERRORS_DEFAULT);
    if (PQsetnonblocking(c->pg, 1) != 0 || conn_watch(c, UV_READABLE) != 0) {
        connect_failed(c, PQerrorMessage(c->pg));
        return;
    }
    c->phase = CONN_READY;
    pgcm__log_timed(c->env->opts, PGCM_LOG_INFO, c->node_id,
                    "connection_opened", c->correlation_id, 0, "",
                    (int64_t)(now_us(c) - c->open_us),
                    "connected in %llu ms, server version %d, backend pid %d",
                    (unsigned long long)((now_us(c) - c->open_us) / 1000),
                    PQserverVersion(c->pg), PQbackendPID(c->pg));
    report(c, CONN_EV_CONNECTED);
}

static void conn_connect_step(conn_t *c)
{
    switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_READING:
        if (conn_watch(c, UV_READABLE) != 0)
            connect_failed(c, "cannot watch the connection's socket");
        break;
    case PGRES_POLLING_WRITING:
        if (conn_watch(c, UV_WRITABLE) != 0)
            connect_failed(c, "cannot watch the connection's socket");
        break;
    case PGRES_POLLING_OK:
        conn_connected(c);
        break;
    default:
        connect_failed(c, PQerrorMessage(c->pg));
        break;
    }
}

/* ---- statements ------------------------------------------------------ */

int pgcm__conn_send(conn_t *c, const char *sql, int nparams,
                    const char *const *params, int timeout_ms, bool single_row,
                    uint64_t correlation_id, char *msg, size_t msglen)
{
    char sqlstate[6];
    if (c->phase != CONN_READY) {
        snprintf(msg, msglen, "the connection is not ready");
        return PGCM_ECONN;
    }
    int ok = nparams > 0 ? PQsendQueryParams(c->pg, sql, nparams, NULL, params,
                                             NULL, NULL, 0)
                         : PQsendQuery(c->pg, sql);
    if (ok && single_row)
        ok = PQsetSingleRowMode(c->pg);
    int f = ok ? PQflush(c->pg) : -1;
    if (f < 0 || conn_watch(c, UV_READABLE | (f == 1 ? UV_WRITABLE : 0)) != 0) {
        pgcm__pq_error_parse(PQerrorMessage(c->pg), msg, msglen, sqlstate);
        if (msg[0] == '\0')
            snprintf(msg, msglen, "connection lost");
        return PGCM_ECONN;
    }
    c->phase = CONN_RUNNING;
    c->stmt_seq++;
    c->single_row = single_row;
    c->single_row_stale = single_row;
    c->correlation_id = correlation_id;
    c->op_start_us = now_us(c);
    c->deadline_us =
        timeout_ms > 0 ? c->op_start_us + (uint64_t)timeout_ms * 1000 : 0;
    if (c->deadline_us != 0)
        timer_arm(c, c->deadline_us);
    return PGCM_OK;
}

/* The ticket settled (or there was none): drop it. false when the cancel
 * could not be sent, so the connection is discarded (it may still reach
 * the server and hit a later statement). */
static bool ticket_settled(conn_t *c, int outcome)
{
    drop_ticket(c);
    if (outcome != CANCEL_FAILED)
        return true;
    fail_and_report(c, CONN_EV_FAILED, PGCM_ECONN,
                    "the cancel request could not be sent; discarded so "
                    "it cannot hit a later statement",
                    "", true);
    return false;
}

/* After a cancel, the statement is over: clean once the ticket settled. */
static void cancel_finish(conn_t *c)
{
    int outcome =
        c->cancel ? pgcm__cancel_outcome(c->cancel) : CANCEL_DELIVERED;
    if (outcome == CANCEL_PENDING)
        return; /* pgcm__conn_settle_cancels comes back */
    if (!ticket_settled(c, outcome))
        return;
    timer_stop(c);
    if (conn_watch(c, UV_READABLE) != 0) {
        conn_broken(c, "cannot watch the connection's socket");
        return;
    }
    c->phase = CONN_READY;
    report(c, CONN_EV_CLEAN);
}

/* The statement has produced all its results. */
static void statement_over(conn_t *c)
{
    if (c->phase == CONN_CANCELLING) {
        PQclear(c->result);
        PQclear(c->error);
        c->result = c->error = NULL;
        c->statement_over = true;
        cancel_finish(c);
        return;
    }
    /* the timer stays armed: it finds no deadline when it fires */
    c->deadline_us = 0;
    c->phase = CONN_READY;
    conn_report_t rep = {.event = CONN_EV_DONE,
                         .msg = "",
                         .sqlstate = "",
                         .result = c->result,
                         .error = c->error,
                         .elapsed_us = now_us(c) - c->op_start_us};
    c->result = c->error = NULL;
    c->upcall(c, &rep);
}

static void pipeline_read(conn_t *c);

/* A result of the running statement: the first error and the last result
 * are kept. false: a COPY, which fails (and closes) the connection. */
static bool keep_result(conn_t *c, PGresult *r)
{
    switch (PQresultStatus(r)) {
    case PGRES_FATAL_ERROR:
    case PGRES_PIPELINE_ABORTED:
        if (c->error == NULL)
            c->error = r;
        else
            PQclear(r);
        return true;
    case PGRES_COPY_IN:
    case PGRES_COPY_OUT:
    case PGRES_COPY_BOTH:
        PQclear(r);
        fail_and_report(c, CONN_EV_FAILED, PGCM_ECONN,
                        "COPY is not supported through libpgcm; use a "
                        "dedicated libpq connection",
                        "", true);
        return false;
    default:
        PQclear(c->result);
        c->result = r;
        return true;
    }
}

static void conn_read(conn_t *c)
{
    if (c->phase == CONN_PIPELINE) {
        pipeline_read(c);
        return;
    }
    if (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD) {
        conn_broken(c, PQerrorMessage(c->pg));
        return;
    }
    while (!PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (r == NULL) {
            statement_over(c);
            return;
        }
        if (PQresultStatus(r) == PGRES_SINGLE_TUPLE) {
            if (c->phase == CONN_RUNNING) {
                conn_report_t rep = {
                    .event = CONN_EV_ROW, .msg = "", .sqlstate = "", .row = r};
                c->upcall(c, &rep);
            }
            PQclear(r);
            if (c->phase == CONN_SHUT)
                return; /* the owner closed it */
        } else if (!keep_result(c, r)) {
            return;
        }
    }
    if (PQstatus(c->pg) == CONNECTION_BAD)
        conn_broken(c, PQerrorMessage(c->pg));
}

/* An idle socket became readable: usually the server closing it. */
static void conn_idle_readable(conn_t *c)
{
    if (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD) {
        conn_broken(c, PQerrorMessage(c->pg));
        return;
    }
    PGnotify *nt;
    while ((nt = PQnotifies(c->pg)) != NULL)
        PQfreemem(nt);
    if (!PQisBusy(c->pg)) {
        PGresult *r;
        while ((r = PQgetResult(c->pg)) != NULL)
            PQclear(r);
    }
}

static void conn_poll_step(conn_t *c, poller_t *p, int status, int events)
{
    if (status < 0) {
        /* libuv reports POLLERR as UV_EBADF and stops the handle. The
         * socket holds the real error (refused, reset): let libpq read it
         * through the normal path, which then fails with its message. */
        p->events = 0;
        events = UV_READABLE | UV_WRITABLE;
    }
    switch (c->phase) {
    case CONN_HANDSHAKE:
        conn_connect_step(c);
        break;
    case CONN_READY:
        conn_idle_readable(c);
        break;
    case CONN_RUNNING:
    case CONN_CANCELLING:
    case CONN_PIPELINE:
        if (events & UV_WRITABLE) {
            int f = PQflush(c->pg);
            if (f < 0) {
                conn_broken(c, PQerrorMessage(c->pg));
                return;
            }
            if (f == 0 && conn_watch(c, UV_READABLE) != 0) {
                conn_broken(c, "cannot watch the connection's socket");
                return;
            }
        }
        if (events & UV_READABLE)
            conn_read(c);
        break;
    case CONN_WAITING:
    case CONN_SHUT:
        break;
    }
}

/* The socket is ready. What it lets happen (answers read, the statements
 * they let go) shares one clock reading; c may be freed on the way, the
 * manager's env is not. */
static void conn_on_poll(uv_poll_t *h, int status, int events)
{
    poller_t *p = LIST_ENTRY(h, poller_t, handle);
    conn_t *c = p->conn;
    if (c == NULL || c->phase == CONN_SHUT)
        return;
    loop_env_t *env = c->env;
    uint64_t outer = pgcm__env_hold_clock(env);
    conn_poll_step(c, p, status, events);
    pgcm__env_release_clock(env, outer);
}

/* ---- deadlines and cancels ------------------------------------------- */

/* Send a cancel for whatever c's backend runs; the ticket is held by c
 * until it settles. Returns whether one was sent. */
static bool send_cancel(conn_t *c, bool at_shutdown)
{
    struct cancel_ticket *t =
        pgcm__cancel_send(c->env->cancels, c->gate, c->pg, at_shutdown);
    pgcm__log(c->env->opts, t ? PGCM_LOG_INFO : PGCM_LOG_WARN, c->node_id,
              "cancel_sent", c->correlation_id, 0, "",
              t ? "cancel request sent for backend %d"
                : "cancel request for backend %d not sent: too many cancels "
                  "in flight to this node",
              PQbackendPID(c->pg));
    if (t == NULL)
        return false;
    c->cancel = t;
    list_push_back(&c->env->cancel_waits, &c->cancel_link);
    return true;
}

static conn_seg_t *seg_at(const conn_t *c, int i)
{
    return &c->segs[(c->seg_head + i) % c->seg_cap];
}

static void pipeline_cancel_head(conn_t *c);

void pgcm__conn_cancel(conn_t *c, int grace_ms, bool at_shutdown)
{
    if (c->phase == CONN_PIPELINE) {
        for (int i = 0; i < c->seg_count; i++)
            seg_at(c, i)->tag = NULL;
        c->pipe_stopping = true;
        c->pipe_grace_ms = grace_ms;
        c->pipe_at_shutdown |= at_shutdown;
        if (c->seg_count > 0) {
            seg_at(c, 0)->cancel_wanted = true;
            pipeline_cancel_head(c);
        }
        return;
    }
    if (c->phase != CONN_RUNNING)
        return;
    c->phase = CONN_CANCELLING;
    c->statement_over = false;
    send_cancel(c, at_shutdown);
    /* Reuse the connection only if the server is done in time. */
    c->grace_due_us = now_us(c) + (uint64_t)grace_ms * 1000;
    timer_at(c, c->grace_due_us);
}

/* ---- pipeline mode ---------------------------------------------------- */

bool pgcm__conn_pipeline_room(const conn_t *c, int depth)
{
    return c->phase == CONN_PIPELINE && !c->pipe_stopping && c->seg_count > 0 &&
           c->seg_count < depth && c->seg_count < c->seg_cap;
}

int pgcm__conn_pipeline_send(conn_t *c, void *tag, int depth, const char *sql,
                             int nparams, const char *const *params,
                             int timeout_ms, uint64_t correlation_id, char *msg,
                             size_t msglen)
{
    char sqlstate[6];
    bool entering = pgcm__conn_can_pipeline(c);
    if (!entering && !pgcm__conn_pipeline_room(c, depth)) {
        snprintf(msg, msglen, "the connection takes no more statements");
        return PGCM_ECONN;
    }
    if (c->segs == NULL) {
        c->segs = pgcm__calloc((size_t)depth, sizeof(*c->segs));
        if (c->segs == NULL) {
            snprintf(msg, msglen, "out of memory");
            return PGCM_ECONN;
        }
        c->seg_cap = depth;
        c->seg_head = c->seg_count = 0;
    }
    if (entering && PQenterPipelineMode(c->pg) != 1) {
        pgcm__pq_error_parse(PQerrorMessage(c->pg), msg, msglen, sqlstate);
        return PGCM_ECONN;
    }
    if (!c->corked) {
        /* held back until the end of the loop round: the statements of a
         * round leave together */
        set_cork(c, 1);
        c->corked = true;
        list_push_back(&c->env->corked, &c->cork_link);
    }
    int ok =
        PQsendQueryParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0) &&
        PQpipelineSync(c->pg);
    int f = ok ? PQflush(c->pg) : -1;
    if (f < 0 || conn_watch(c, UV_READABLE | (f == 1 ? UV_WRITABLE : 0)) != 0) {
        pgcm__pq_error_parse(PQerrorMessage(c->pg), msg, msglen, sqlstate);
        if (msg[0] == '\0')
            snprintf(msg, msglen, "connection lost");
        if (entering)
            PQexitPipelineMode(c->pg);
        return PGCM_ECONN;
    }
    uint64_t now = now_us(c);
    conn_seg_t *s = seg_at(c, c->seg_count);
    s->tag = tag;
    s->sent_us = now;
    s->deadline_us = timeout_ms > 0 ? now + (uint64_t)timeout_ms * 1000 : 0;
    s->cancel_wanted = false;
    c->seg_count++;
    if (entering) {
        c->phase = CONN_PIPELINE;
        c->pipe_stopping = c->pipe_target_out = c->pipe_at_shutdown = false;
        c->cancels_unspent = 0;
        c->grace_due_us = 0;
    }
    c->correlation_id = correlation_id;
    if (s->deadline_us != 0)
        timer_arm(c, s->deadline_us);
    return PGCM_OK;
}

void pgcm__conn_pipeline_abandon(conn_t *c, void *tag, int grace_ms,
                                 bool at_shutdown)
{
    if (c->phase != CONN_PIPELINE || tag == NULL)
        return;
    for (int i = 0; i < c->seg_count; i++) {
        conn_seg_t *s = seg_at(c, i);
        if (s->tag == tag) {
            s->tag = NULL;
            s->cancel_wanted = true;
            break;
        }
    }
    c->pipe_stopping = true;
    c->pipe_grace_ms = grace_ms;
    c->pipe_at_shutdown |= at_shutdown;
    pipeline_cancel_head(c);
}

void *pgcm__conn_pipeline_take(conn_t *c)
{
    for (int i = 0; c->segs != NULL && i < c->seg_count; i++) {
        conn_seg_t *s = seg_at(c, i);
        if (s->tag != NULL) {
            void *tag = s->tag;
            s->tag = NULL;
            return tag;
        }
    }
    return NULL;
}

/* An abandoned statement that is now the one running (every statement
 * ahead of it has ended) gets its cancel, one ticket at a time: the
 * cancel can then only reach it or a statement behind it, and a 57014
 * seen while it is unspent is taken as ours. */
static void pipeline_cancel_head(conn_t *c)
{
    if (c->phase != CONN_PIPELINE || c->seg_count == 0 || c->cancel != NULL)
        return;
    conn_seg_t *h = seg_at(c, 0);
    if (!h->cancel_wanted)
        return;
    h->cancel_wanted = false;
    /* The postmaster signals the backend twice for one cancel (the
     * process and its group): it can cut short two statements. */
    if (send_cancel(c, c->pipe_at_shutdown))
        c->cancels_unspent += 2;
    c->pipe_target_out = true;
    c->grace_due_us = now_us(c) + (uint64_t)c->pipe_grace_ms * 1000;
    timer_arm(c, c->grace_due_us);
}

/* After a statement ended or a ticket settled: leave pipeline mode once
 * nothing is in flight and no cancel is unsettled, else cancel the next
 * abandoned statement when it is at the head. */
static void pipeline_step(conn_t *c)
{
    if (c->seg_count == 0)
        c->cancels_unspent = 0; /* nothing of ours left to hit */
    if (!c->pipe_target_out && c->cancel == NULL)
        c->grace_due_us = 0;
    if (c->seg_count > 0 || c->cancel != NULL) {
        pipeline_cancel_head(c);
        return;
    }
    if (PQexitPipelineMode(c->pg) != 1) {
        conn_broken(c, PQerrorMessage(c->pg));
        return;
    }
    c->phase = CONN_READY;
    c->pipe_stopping = false;
    c->grace_due_us = 0;
}

/* The head statement's sync point came back: it is over. */
static void pipeline_seg_done(conn_t *c)
{
    conn_seg_t s = *seg_at(c, 0);
    c->seg_head = (c->seg_head + 1) % c->seg_cap;
    c->seg_count--;
    PGresult *res = c->result, *err = c->error;
    c->result = c->error = NULL;
    const char *st = err ? PQresultErrorField(err, PG_DIAG_SQLSTATE) : NULL;
    bool ours =
        st != NULL && strcmp(st, "57014") == 0 && c->cancels_unspent > 0;
    if (ours)
        c->cancels_unspent--;
    /* the head is the one a cancel was sent for, if any was */
    c->pipe_target_out = false;
    if (s.tag == NULL) {
        PQclear(res);
        PQclear(err);
    }
    pipeline_step(c);
    if (c->phase == CONN_SHUT)
        return;
    if (s.tag != NULL) {
        conn_report_t rep = {.event = CONN_EV_DONE,
                             .msg = "",
                             .sqlstate = "",
                             .result = res,
                             .error = err,
                             .tag = s.tag,
                             .requeue = ours,
                             .elapsed_us = now_us(c) - s.sent_us};
        c->upcall(c, &rep);
    } else if (c->phase == CONN_READY) {
        report(c, CONN_EV_CLEAN);
    }
}

static void pipeline_read(conn_t *c)
{
    if (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD) {
        conn_broken(c, PQerrorMessage(c->pg));
        return;
    }
    int nulls = 0;
    while (c->phase == CONN_PIPELINE && c->seg_count > 0 && !PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (r == NULL) {
            /* the end of the head's results; its sync point follows */
            if (++nulls > 1)
                break;
            continue;
        }
        nulls = 0;
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            pipeline_seg_done(c);
        } else if (!keep_result(c, r)) {
            return;
        }
    }
    if (c->phase == CONN_PIPELINE && PQstatus(c->pg) == CONNECTION_BAD)
        conn_broken(c, PQerrorMessage(c->pg));
}

/* A ticket settled for a pipelined connection. */
static void pipeline_settled(conn_t *c)
{
    if (!ticket_settled(c, pgcm__cancel_outcome(c->cancel)))
        return;
    pipeline_step(c);
    if (c->phase == CONN_READY)
        report(c, CONN_EV_CLEAN);
}

/* The timer fired in pipeline mode: the cancel's grace, then the
 * statements' deadlines (each reported once), then the next due time. */
static void pipeline_on_timer(conn_t *c, uint64_t now)
{
    pipeline_read(c); /* what already arrived is not late (see RUNNING) */
    if (c->phase != CONN_PIPELINE)
        return;
    if (expired(now, c->grace_due_us)) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "no answer %d ms after cancelling a pipelined statement",
                 c->pipe_grace_ms);
        fail_and_report(c, CONN_EV_FAILED, PGCM_ETIMEDOUT, msg, "", true);
        return;
    }
    for (int i = 0; c->phase == CONN_PIPELINE && i < c->seg_count; i++) {
        conn_seg_t *s = seg_at(c, i);
        if (s->tag == NULL || !expired(now, s->deadline_us))
            continue;
        conn_report_t rep = {.event = CONN_EV_TIMEOUT,
                             .msg = "",
                             .sqlstate = "",
                             .tag = s->tag,
                             .elapsed_us = now - s->sent_us};
        s->deadline_us = 0;
        c->upcall(c, &rep);
    }
    if (c->phase != CONN_PIPELINE)
        return;
    uint64_t next = c->grace_due_us;
    for (int i = 0; i < c->seg_count; i++) {
        conn_seg_t *s = seg_at(c, i);
        if (s->tag != NULL && s->deadline_us != 0 &&
            (next == 0 || s->deadline_us < next))
            next = s->deadline_us;
    }
    if (next != 0)
        timer_at(c, next);
}

void pgcm__conn_settle_cancels(loop_env_t *env)
{
    list_node_t settled;
    list_init(&settled);
    list_node_t *pos, *tmp;
    LIST_FOREACH_SAFE(pos, tmp, &env->cancel_waits)
    {
        conn_t *c = LIST_ENTRY(pos, conn_t, cancel_link);
        if (pgcm__cancel_outcome(c->cancel) != CANCEL_PENDING) {
            list_remove(&c->cancel_link);
            list_push_back(&settled, &c->cancel_link);
        }
    }
    /* One at a time: settling one may close others on the list. */
    while (!list_empty(&settled)) {
        conn_t *c = LIST_ENTRY(list_first(&settled), conn_t, cancel_link);
        list_remove(&c->cancel_link);
        list_init(&c->cancel_link);
        if (c->phase == CONN_PIPELINE)
            pipeline_settled(c);
        else if (c->phase == CONN_CANCELLING && c->statement_over)
            cancel_finish(c);
        /* else the statement still runs: statement_over() finishes */
    }
}

static void conn_timer_step(conn_t *c)
{
    char msg[160];
    uint64_t now = now_us(c);
    switch (c->phase) {
    case CONN_WAITING:
    case CONN_HANDSHAKE:
        snprintf(msg, sizeof(msg),
                 "timed out after %d ms connecting to the server",
                 c->connect_deadline_ms);
        pgcm__log(c->env->opts, PGCM_LOG_WARN, c->node_id, "connection_error",
                  c->correlation_id, PGCM_ETIMEDOUT, "", "%s", msg);
        fail_and_report(c, CONN_EV_CONNECT_FAILED, PGCM_ETIMEDOUT, msg, "",
                        false);
        break;
    case CONN_RUNNING: {
        if (c->deadline_us == 0)
            break; /* armed for an earlier statement's deadline */
        if (!expired(now, c->deadline_us)) {
            timer_at(c, c->deadline_us);
            break;
        }
        /* libuv runs timers before it polls: after a stall of the loop
         * the answer may be waiting in the socket. Read it first. */
        uint64_t seq = c->stmt_seq;
        conn_read(c);
        if (c->phase != CONN_RUNNING || c->stmt_seq != seq)
            break; /* it ended (another may run now) */
        conn_report_t rep = {.event = CONN_EV_TIMEOUT,
                             .msg = "",
                             .sqlstate = "",
                             .elapsed_us = now - c->op_start_us};
        c->upcall(c, &rep);
        break;
    }
    case CONN_PIPELINE:
        pipeline_on_timer(c, now);
        break;
    case CONN_CANCELLING:
        if (!expired(now, c->grace_due_us)) {
            timer_at(c, c->grace_due_us);
            break;
        }
        /* The server did not finish (or confirm) the cancel: it may still
         * arrive, so the connection cannot be reused. */
        snprintf(msg, sizeof(msg),
                 c->statement_over
                     ? "no confirmation %d ms after cancelling a statement"
                     : "no answer %d ms after cancelling a statement",
                 (int)((now_us(c) - c->op_start_us) / 1000));
        fail_and_report(c, CONN_EV_FAILED, PGCM_ETIMEDOUT, msg, "", true);
        break;
    case CONN_READY:
    case CONN_SHUT:
        break;
    }
}

/* A deadline (or the connect timeout) is due; like conn_on_poll, one clock
 * reading for what it sets off. */
static void conn_on_deadline(wheel_entry_t *e)
{
    conn_t *c = LIST_ENTRY(e, conn_t, deadline_at);
    loop_env_t *env = c->env;
    uint64_t outer = pgcm__env_hold_clock(env);
    conn_timer_step(c);
    pgcm__env_release_clock(env, outer);
}

/* The connection failed (I/O error, server gone): close and report. */
static void conn_broken(conn_t *c, const char *pqmsg)
{
    if (c->phase == CONN_HANDSHAKE || c->phase == CONN_WAITING) {
        connect_failed(c, pqmsg);
        return;
    }
    char msg[256];
    char sqlstate[6];
    failure_text(c, pqmsg, msg, sizeof(msg), sqlstate);
    if (msg[0] == '\0')
        snprintf(msg, sizeof(msg), "connection lost");
    fail_and_report(c, CONN_EV_FAILED, PGCM_ECONN, msg, sqlstate, false);
}

/* ---- accessors ------------------------------------------------------- */

int pgcm__conn_server_version(const conn_t *c)
{
    return c->pg ? PQserverVersion(c->pg) : 0;
}

int pgcm__conn_transaction_status(const conn_t *c)
{
    return c->pg ? (int)PQtransactionStatus(c->pg) : (int)PQTRANS_UNKNOWN;
}
