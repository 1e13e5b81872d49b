/* SPDX-License-Identifier: MIT */
/*
 * conn.c - one non-blocking libpq connection driven by the loop, the leaf
 * of the loop side: connect (PQconnectStartParams/PQconnectPoll), send a
 * statement, read its results (whole or one row at a time), enforce its
 * deadline, cancel it so that the cancel can never reach a later statement,
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

#include "conn.h"

struct poller {
    uv_poll_t handle;
    conn_t *conn; /* NULL once detached */
    int fd;
    int events;
};

static void conn_on_poll(uv_poll_t *h, int status, int events);
static void conn_on_timer(uv_timer_t *t);
static void conn_broken(conn_t *c, const char *pqmsg);

static uint64_t now_us(void)
{
    return pgcm__mono_us();
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

static void timer_start(conn_t *c, int ms)
{
    uv_timer_start(&c->timer, conn_on_timer, ms > 0 ? (uint64_t)ms : 1, 0);
}

/* ---- the server's words ------------------------------------------------ */

/* Notices are dropped, except a FATAL or PANIC sent while no statement
 * runs (an administrator's terminate, a shutdown): kept as the reason
 * for the close that follows. */
static void conn_on_notice(void *arg, const PGresult *r)
{
    conn_t *c = arg;
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (sev == NULL || (strcmp(sev, "FATAL") != 0 && strcmp(sev, "PANIC") != 0))
        return;
    pgcm__pq_result_error(r, c->fatal_msg, sizeof(c->fatal_msg),
                          c->fatal_sqlstate);
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
    if (c->fatal_msg[0] != '\0') {
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

static void conn_timer_closed(uv_handle_t *h)
{
    report(h->data, CONN_EV_CLOSED);
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
                        (int64_t)(now_us() - c->open_us), "%s (open %llu ms)",
                        why ? why : "closed",
                        (unsigned long long)((now_us() - c->open_us) / 1000));
    c->phase = CONN_SHUT;
    drop_ticket(c);
    uv_timer_stop(&c->timer);
    poller_detach(c);
    if (c->pg != NULL) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    PQclear(c->result);
    PQclear(c->error);
    c->result = c->error = NULL;
    uv_close((uv_handle_t *)&c->timer, conn_timer_closed);
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
    c->owner = owner;
    c->env = env;
    c->gate = gate;
    c->node_id = node_id;
    c->upcall = upcall;
    c->phase = CONN_WAITING;
    c->open_us = now_us();
    c->connect_deadline_ms = connect_deadline_ms;
    uv_timer_init(env->loop, &c->timer);
    c->timer.data = c;
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

void pgcm__conn_start(conn_t *c, const char *const *keys,
                      const char *const *values)
{
    if (c->phase != CONN_WAITING)
        return;
    c->phase = CONN_HANDSHAKE;
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
    uv_timer_stop(&c->timer);
    PQsetErrorVerbosity(c->pg, PQERRORS_DEFAULT);
    if (PQsetnonblocking(c->pg, 1) != 0 || conn_watch(c, UV_READABLE) != 0) {
        connect_failed(c, PQerrorMessage(c->pg));
        return;
    }
    c->phase = CONN_READY;
    pgcm__log_timed(c->env->opts, PGCM_LOG_INFO, c->node_id,
                    "connection_opened", c->correlation_id, 0, "",
                    (int64_t)(now_us() - c->open_us),
                    "connected in %llu ms, server version %d, backend pid %d",
                    (unsigned long long)((now_us() - c->open_us) / 1000),
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
    c->single_row = single_row;
    c->correlation_id = correlation_id;
    c->op_start_us = now_us();
    if (timeout_ms > 0)
        timer_start(c, timeout_ms);
    else
        uv_timer_stop(&c->timer);
    return PGCM_OK;
}

/* After a cancel, the statement is over: clean once the ticket settled. */
static void cancel_finish(conn_t *c)
{
    int outcome =
        c->cancel ? pgcm__cancel_outcome(c->cancel) : CANCEL_DELIVERED;
    if (outcome == CANCEL_PENDING)
        return; /* pgcm__conn_settle_cancels comes back */
    drop_ticket(c);
    if (outcome == CANCEL_FAILED) {
        fail_and_report(c, CONN_EV_FAILED, PGCM_ECONN,
                        "the cancel request could not be sent; discarded so "
                        "it cannot hit a later statement",
                        "", true);
        return;
    }
    uv_timer_stop(&c->timer);
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
    uv_timer_stop(&c->timer);
    c->phase = CONN_READY;
    conn_report_t rep = {.event = CONN_EV_DONE,
                         .msg = "",
                         .sqlstate = "",
                         .result = c->result,
                         .error = c->error,
                         .elapsed_us = now_us() - c->op_start_us};
    c->result = c->error = NULL;
    c->upcall(c, &rep);
}

static void conn_read(conn_t *c)
{
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
        switch (PQresultStatus(r)) {
        case PGRES_FATAL_ERROR:
            if (c->error == NULL)
                c->error = r;
            else
                PQclear(r);
            break;
        case PGRES_SINGLE_TUPLE:
            if (c->phase == CONN_RUNNING) {
                conn_report_t rep = {
                    .event = CONN_EV_ROW, .msg = "", .sqlstate = "", .row = r};
                c->upcall(c, &rep);
            }
            PQclear(r);
            if (c->phase == CONN_SHUT)
                return; /* the owner closed it */
            break;
        case PGRES_COPY_IN:
        case PGRES_COPY_OUT:
        case PGRES_COPY_BOTH:
            PQclear(r);
            fail_and_report(c, CONN_EV_FAILED, PGCM_ECONN,
                            "COPY is not supported through libpgcm; use a "
                            "dedicated libpq connection",
                            "", true);
            return;
        default:
            PQclear(c->result);
            c->result = r;
            break;
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

static void conn_on_poll(uv_poll_t *h, int status, int events)
{
    poller_t *p = LIST_ENTRY(h, poller_t, handle);
    conn_t *c = p->conn;
    if (c == NULL || c->phase == CONN_SHUT)
        return;
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

/* ---- deadlines and cancels ------------------------------------------- */

void pgcm__conn_cancel(conn_t *c, int grace_ms, bool at_shutdown)
{
    if (c->phase != CONN_RUNNING)
        return;
    c->phase = CONN_CANCELLING;
    c->statement_over = false;
    struct cancel_ticket *t =
        pgcm__cancel_send(c->env->cancels, c->gate, c->pg, at_shutdown);
    pgcm__log(c->env->opts, t ? PGCM_LOG_INFO : PGCM_LOG_WARN, c->node_id,
              "cancel_sent", c->correlation_id, 0, "",
              t ? "cancel request sent for backend %d"
                : "cancel request for backend %d not sent: too many cancels "
                  "in flight to this node",
              PQbackendPID(c->pg));
    if (t != NULL) {
        c->cancel = t;
        list_push_back(&c->env->cancel_waits, &c->cancel_link);
    }
    /* Reuse the connection only if the server is done in time. */
    timer_start(c, grace_ms);
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
        if (c->phase == CONN_CANCELLING && c->statement_over)
            cancel_finish(c);
        /* else the statement still runs: statement_over() finishes */
    }
}

static void conn_on_timer(uv_timer_t *t)
{
    conn_t *c = t->data;
    char msg[160];
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
        conn_report_t rep = {.event = CONN_EV_TIMEOUT,
                             .msg = "",
                             .sqlstate = "",
                             .elapsed_us = now_us() - c->op_start_us};
        c->upcall(c, &rep);
        break;
    }
    case CONN_CANCELLING:
        /* The server did not finish (or confirm) the cancel: it may still
         * arrive, so the connection cannot be reused. */
        snprintf(msg, sizeof(msg),
                 c->statement_over
                     ? "no confirmation %d ms after cancelling a statement"
                     : "no answer %d ms after cancelling a statement",
                 (int)((now_us() - c->op_start_us) / 1000));
        fail_and_report(c, CONN_EV_FAILED, PGCM_ETIMEDOUT, msg, "", true);
        break;
    case CONN_READY:
    case CONN_SHUT:
        break;
    }
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
