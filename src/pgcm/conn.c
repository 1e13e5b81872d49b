/* SPDX-License-Identifier: MIT */
/*
 * conn.c - one non-blocking libpq connection driven by the loop: connect
 * (PQconnectStartParams/PQconnectPoll, never a blocking lookup), send a
 * statement, read its results, enforce its deadline (cancel on the server,
 * then reuse the connection only once it is clean, else discard it), watch
 * an idle socket for the server going away, and close.
 *
 * A connection is always on exactly one of its node's lists (connecting,
 * idle, busy) until it closes; pool.c moves it between them.
 */
#include <string.h>

#include "loop.h"

static void conn_on_poll(uv_poll_t *h, int status, int events);
static void conn_on_timer(uv_timer_t *t);
static void conn_connect_step(conn_t *c);
static void conn_broken(conn_t *c, const char *pqmsg);
static void conn_after_statement(conn_t *c);

static uint64_t now_us(const conn_t *c)
{
    (void)c;
    return pgcm__mono_us();
}

/* "SEVERITY: primary message" from an error result's fields; false when
 * it has none (a result libpq made up itself). */
static bool error_fields(const PGresult *r, char *msg, size_t msglen,
                         char sqlstate[6])
{
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY);
    const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (primary == NULL || state == NULL)
        return false;
    snprintf(msg, msglen, "%s: %s", sev ? sev : "ERROR", primary);
    snprintf(sqlstate, 6, "%s", state);
    return true;
}

/* Notices are dropped, except a FATAL or PANIC sent while no statement
 * runs (an administrator's terminate, a shutdown): kept as the reason
 * for the close that follows. */
static void conn_on_notice(void *arg, const PGresult *r)
{
    conn_t *c = arg;
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (sev == NULL || (strcmp(sev, "FATAL") != 0 && strcmp(sev, "PANIC") != 0))
        return;
    error_fields(r, c->fatal_msg, sizeof(c->fatal_msg), c->fatal_sqlstate);
}

/* Why c failed, for a person, with the server's SQLSTATE when it sent
 * one: a FATAL error result of the running statement, else one the
 * server sent while idle, else libpq's own text. */
static void conn_failure_text(conn_t *c, const char *pqmsg, char *msg,
                              size_t msglen, char sqlstate[6])
{
    if (c->pg != NULL && c->state != CONN_CONNECTING &&
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
    if (c->error != NULL && error_fields(c->error, msg, msglen, sqlstate))
        return;
    if (c->fatal_msg[0] != '\0') {
        snprintf(msg, msglen, "%s", c->fatal_msg);
        snprintf(sqlstate, 6, "%s", c->fatal_sqlstate);
        return;
    }
    pgcm__pq_error_parse(pqmsg, msg, msglen, sqlstate);
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
 * to a new socket (PQconnectPoll trying another address, SSL fallback), so
 * the fd is read again every time. Returns 0 or a libuv error. */
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
        int rc = uv_poll_init(&c->node->mgr->loop, &p->handle, fd);
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

int pgcm__conn_watch_idle(conn_t *c)
{
    return conn_watch(c, UV_READABLE);
}

static void timer_start(conn_t *c, int ms)
{
    uv_timer_start(&c->timer, conn_on_timer, ms > 0 ? (uint64_t)ms : 1, 0);
}

/* ---- connect --------------------------------------------------------- */

static int connect_timeout_ms(const node_t *n)
{
    return n->spec->connect_timeout_ms > 0 ? n->spec->connect_timeout_ms
                                           : n->mgr->opts.connect_timeout_ms;
}

/* Begin the libpq handshake (the node has its address if one was needed). */
void pgcm__conn_begin(conn_t *c)
{
    node_t *n = c->node;
    conninfo_params_t params;
    pgcm_error_t err;
    const char *hostaddr = n->hostaddr[0] ? n->hostaddr : NULL;
    if (pgcm__conninfo_build(n->spec, n->mgr->opts.application_name, hostaddr,
                             &params, &err) != PGCM_OK) {
        conn_broken(c, err.message);
        return;
    }
    c->pg = PQconnectStartParams(params.keys, params.values, 0);
    pgcm__conninfo_free(&params);
    if (c->pg == NULL) {
        conn_broken(c, "out of memory starting a connection");
        return;
    }
    PQsetNoticeReceiver(c->pg, conn_on_notice, c);
    /* Verbose errors carry the SQLSTATE of a failed login. */
    PQsetErrorVerbosity(c->pg, PQERRORS_VERBOSE);
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        conn_broken(c, PQerrorMessage(c->pg));
        return;
    }
    /* The first PQconnectPoll call is made when the socket is writable. */
    if (conn_watch(c, UV_WRITABLE) != 0)
        conn_broken(c, "cannot watch the connection's socket");
}

conn_t *pgcm__conn_open(node_t *n, bool dedicated_probe, int probe_timeout_ms)
{
    conn_t *c = pgcm__calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    list_init(&c->link);
    list_init(&c->cancel_link);
    c->node = n;
    c->dedicated_probe = dedicated_probe;
    uv_timer_init(&n->mgr->loop, &c->timer);
    c->timer.data = c;
    c->state = CONN_CONNECTING;
    c->created_us = now_us(c);
    c->open_us = c->created_us;
    c->probe_on_connect = probe_timeout_ms > 0;
    c->connect_deadline_ms =
        probe_timeout_ms > 0 ? probe_timeout_ms : connect_timeout_ms(n);
    list_push_back(&n->connecting, &c->link);
    n->n_connecting++;
    if (dedicated_probe)
        n->n_dedicated++;
    timer_start(c, c->connect_deadline_ms);
    /* A host name is resolved by the node first (uv_getaddrinfo); the
     * node calls pgcm__conn_begin on every waiting conn when it is done. */
    if (!pgcm__node_need_resolve(n))
        pgcm__conn_begin(c);
    return c;
}

/* A connect attempt failed: say so, close it, tell the pool and the
 * node (the probe's verdict if the attempt was a probe). */
void pgcm__conn_connect_failed(conn_t *c, int code, const char *msg,
                               const char *sqlstate)
{
    node_t *n = c->node;
    bool probe = c->probe_on_connect;
    n->stats.connect_errors++;
    pgcm__log(n->mgr, PGCM_LOG_WARN, n->id, "connection_error",
              probe ? n->probe_correlation_id : 0, code, sqlstate, "%s", msg);
    pgcm__conn_close(c, msg);
    pgcm__pool_connect_failed(n, code, msg);
    if (probe)
        pgcm__node_probe_done(n, code, 0, msg, sqlstate);
    else
        pgcm__node_suspect(n, code, msg, sqlstate);
}

static void conn_connected(conn_t *c)
{
    node_t *n = c->node;
    uv_timer_stop(&c->timer);
    uint64_t now = now_us(c);
    int64_t life = (int64_t)n->spec->pool.max_lifetime_ms * 1000;
    double jitter = 0.9 + 0.2 * pgcm__random01(); /* +-10% */
    c->created_us = now;
    c->expires_us = now + (uint64_t)((double)life * jitter);
    n->stats.conns_opened++;
    n->server_version = PQserverVersion(c->pg);
    pgcm__node_heard(n);
    pgcm__log(n->mgr, PGCM_LOG_INFO, n->id, "connection_opened", 0, 0, "",
              "connected in %llu ms, server version %d, backend pid %d",
              (unsigned long long)((now - c->open_us) / 1000),
              n->server_version, PQbackendPID(c->pg));
    PQsetErrorVerbosity(c->pg, PQERRORS_DEFAULT);
    if (PQsetnonblocking(c->pg, 1) != 0) {
        conn_broken(c, PQerrorMessage(c->pg));
        return;
    }
    pgcm__pool_conn_ready(c);
}

static void conn_connect_step(conn_t *c)
{
    switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_READING:
        if (conn_watch(c, UV_READABLE) != 0)
            conn_broken(c, "cannot watch the connection's socket");
        break;
    case PGRES_POLLING_WRITING:
        if (conn_watch(c, UV_WRITABLE) != 0)
            conn_broken(c, "cannot watch the connection's socket");
        break;
    case PGRES_POLLING_OK:
        conn_connected(c);
        break;
    default:
        conn_broken(c, PQerrorMessage(c->pg));
        break;
    }
}

/* ---- statements ------------------------------------------------------ */

int pgcm__conn_send(conn_t *c, conn_op_t op, const char *sql, int nparams,
                    const char *const *params, int timeout_ms)
{
    int ok = nparams > 0 ? PQsendQueryParams(c->pg, sql, nparams, NULL, params,
                                             NULL, NULL, 0)
                         : PQsendQuery(c->pg, sql);
    if (!ok)
        return PGCM_ECONN;
    c->op = op;
    c->op_start_us = now_us(c);
    c->abort_status = 0;
    c->cancel_sent = false;
    if (c->state != CONN_ACTIVE)
        pgcm__pool_move(c, CONN_ACTIVE);
    int f = PQflush(c->pg);
    if (f < 0)
        return PGCM_ECONN;
    if (conn_watch(c, UV_READABLE | (f == 1 ? UV_WRITABLE : 0)) != 0)
        return PGCM_ECONN;
    timer_start(c, timeout_ms);
    return PGCM_OK;
}

/* The statement has produced all its results. */
static void conn_statement_done(conn_t *c)
{
    node_t *n = c->node;
    uv_timer_stop(&c->timer);
    pgcm__node_heard(n);
    conn_op_t op = c->op;
    c->op = OP_NONE;

    if (op == OP_PROBE || op == OP_LIVENESS) {
        uint64_t latency = now_us(c) - c->op_start_us;
        int status = PGCM_OK;
        char msg[256] = "";
        char sqlstate[6] = "";
        if (c->error != NULL) {
            status = PGCM_ESQL;
            pgcm__pq_error_parse(PQresultErrorMessage(c->error), msg,
                                 sizeof(msg), sqlstate);
        }
        PQclear(c->error);
        PQclear(c->result);
        c->error = c->result = NULL;
        pgcm__pool_probe_return(c); /* before: the probe may reuse it */
        pgcm__node_probe_done(n, status, latency, msg, sqlstate);
        return;
    }

    /* Build the result first, give the connection back (so stats and
     * waiters see it), then deliver the result. */
    request_t *r = c->req;
    pgcm_result_t *res = NULL;
    pgcm__log(n->mgr, PGCM_LOG_DEBUG, n->id, "connection_released",
              c->correlation_id, 0, "", "statement done after %llu us",
              (unsigned long long)(now_us(c) - c->op_start_us));
    if (r != NULL) {
        res = pgcm__result_from_conn(c);
        c->req = NULL;
        r->conn = NULL;
    }
    PQclear(c->error);
    PQclear(c->result);
    c->error = c->result = NULL;
    c->abort_status = 0;
    c->cancel_sent = false;

    conn_after_statement(c);
    if (r != NULL)
        pgcm__request_finish(r, res);
}

/* Forget c's cancel ticket (settled, or no longer wanted). */
static void conn_drop_ticket(conn_t *c)
{
    if (list_linked(&c->cancel_link))
        list_remove(&c->cancel_link);
    list_init(&c->cancel_link);
    pgcm__cancel_ticket_release(c->cancel);
    c->cancel = NULL;
    c->awaiting_cancel = false;
}

/* The statement on c is over: reuse c only once no cancel of ours can
 * still reach its backend. A pending cancel is waited for (within
 * cancel_grace_ms, else c is discarded); one that could not be sent may
 * still have reached the server, so c is discarded. */
static void conn_after_statement(conn_t *c)
{
    node_t *n = c->node;
    if (c->cancel != NULL) {
        int outcome = pgcm__cancel_outcome(c->cancel);
        if (outcome == CANCEL_PENDING) {
            c->awaiting_cancel = true;
            timer_start(c, n->mgr->opts.cancel_grace_ms);
            if (conn_watch(c, UV_READABLE) != 0)
                conn_broken(c, "cannot watch the connection's socket");
            pgcm__node_publish(n);
            return;
        }
        conn_drop_ticket(c);
        if (outcome == CANCEL_FAILED) {
            pgcm__conn_discard(c, "the cancel request could not be sent; "
                                  "discarded so it cannot hit a later "
                                  "statement");
            pgcm__pool_fill(n);
            pgcm__node_publish(n);
            return;
        }
    }
    if (c->checkout != NULL) {
        /* stays checked out; run the statement queued behind the cancel,
         * or watch for the server going away */
        request_t *next = c->next_req;
        c->next_req = NULL;
        if (next != NULL) {
            pgcm__request_start(next, c);
            return;
        }
        if (conn_watch(c, UV_READABLE) != 0)
            conn_broken(c, "cannot watch the connection's socket");
        pgcm__node_publish(n);
    } else if (PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        /* left inside a transaction (a BEGIN through pgcm_query): never
         * hand that state to the next caller */
        pgcm__conn_discard(c, "left inside a transaction");
        pgcm__pool_fill(n);
        pgcm__node_publish(n);
    } else {
        pgcm__pool_conn_ready(c);
    }
}

void pgcm__conn_cancel_settled(conn_t *c)
{
    if (c->state == CONN_CLOSING)
        return;
    if (c->awaiting_cancel) {
        uv_timer_stop(&c->timer);
        c->awaiting_cancel = false;
        conn_after_statement(c);
    }
    /* else the statement still runs: conn_after_statement reads the
     * settled ticket when it ends */
}

int pgcm__conn_checkout_submit(conn_t *c, request_t *r)
{
    if (c->op == OP_NONE && !c->awaiting_cancel) {
        pgcm__request_start(r, c);
        return PGCM_OK;
    }
    /* The previous statement was answered (timed out or cancelled) but
     * its cancel is outstanding: run this one once the connection is
     * clean. Anything else is an overlapping call. */
    if (c->req != NULL || c->next_req != NULL)
        return PGCM_EINVAL;
    c->next_req = r;
    r->node = c->node;
    return PGCM_OK;
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
            conn_statement_done(c);
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
            /* a streamed row (pgcm_query_options_t.on_row) */
            if (c->req != NULL && c->req->on_row != NULL &&
                c->abort_status == 0) {
                request_t *req = c->req;
                int stop = req->on_row(c->node->id, r, req->row_user);
                PQclear(r);
                if (stop != 0 && c->req == req)
                    pgcm__conn_abort(c, PGCM_ECANCELED);
            } else {
                PQclear(r);
            }
            break;
        case PGRES_COPY_IN:
        case PGRES_COPY_OUT:
        case PGRES_COPY_BOTH:
            PQclear(r);
            conn_broken(c, "COPY is not supported through libpgcm; "
                           "use a dedicated libpq connection");
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

/* An idle (or checked-out, between statements) socket became readable:
 * usually the server closing it (shutdown, crash, terminate). */
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
    if (c == NULL || c->state == CONN_CLOSING)
        return;
    if (status < 0) {
        /* libuv reports POLLERR as UV_EBADF and stops the handle. The
         * socket holds the real error (refused, reset): let libpq read it
         * through the normal path, which then fails with its message. */
        p->events = 0;
        events = UV_READABLE | UV_WRITABLE;
    }
    switch (c->state) {
    case CONN_CONNECTING:
        conn_connect_step(c);
        break;
    case CONN_IDLE:
        conn_idle_readable(c);
        break;
    case CONN_ACTIVE:
        if (c->op == OP_NONE) {
            conn_idle_readable(c);
            break;
        }
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
    case CONN_CLOSING:
        break;
    }
}

/* ---- deadlines and aborts -------------------------------------------- */

void pgcm__conn_send_cancel(conn_t *c)
{
    /* A probe or heartbeat (SELECT 1, or an empty query) needs no cancel:
     * closing its connection ends it, and a cancel to a server that does
     * not answer would only hold a helper thread. */
    if (c->pg == NULL || c->cancel_sent || c->op == OP_PROBE ||
        c->op == OP_LIVENESS || c->op == OP_NONE)
        return;
    c->cancel_sent = true;
    pgcm_manager_t *mgr = c->node->mgr;
    struct cancel_ticket *t =
        pgcm__cancel_send(mgr->cancels, c->node->cancel_gate, c->pg,
                          atomic_load(&mgr->state) != MGR_RUNNING);
    pgcm__log(mgr, t ? PGCM_LOG_INFO : PGCM_LOG_WARN, c->node->id,
              "cancel_sent", c->correlation_id, 0, "",
              t ? "cancel request sent for backend %d"
                : "cancel request for backend %d not sent: too many cancels "
                  "in flight to this node",
              PQbackendPID(c->pg));
    if (t != NULL) {
        pgcm__cancel_ticket_release(c->cancel); /* an earlier, settled one */
        if (list_linked(&c->cancel_link))
            list_remove(&c->cancel_link);
        c->cancel = t;
        list_push_back(&mgr->cancel_waits, &c->cancel_link);
    }
}

void pgcm__conn_abort(conn_t *c, int status)
{
    if (c->state != CONN_ACTIVE || c->op == OP_NONE)
        return;
    if (c->req != NULL) {
        request_t *r = c->req;
        c->req = NULL;
        r->conn = NULL;
        if (status == PGCM_ETIMEDOUT)
            c->node->stats.timeouts++;
        c->node->stats.queries++;
        c->node->stats.errors++;
        if (status == PGCM_ETIMEDOUT)
            pgcm__request_fail(r, status,
                               "node '%s': query timed out after %d ms; the "
                               "statement was cancelled on the server",
                               c->node->id, r->timeout_ms);
        else if (status == PGCM_ESHUTDOWN)
            pgcm__request_fail(r, status,
                               "node '%s': query cancelled because the node "
                               "is being removed or the manager shut down",
                               c->node->id);
        else
            pgcm__request_fail(r, status,
                               "node '%s': query cancelled on request; the "
                               "statement was cancelled on the server",
                               c->node->id);
    }
    c->abort_status = status;
    pgcm__conn_send_cancel(c);
    /* Reuse the connection only if the server answers the cancel in time. */
    timer_start(c, c->node->mgr->opts.cancel_grace_ms);
}

static void conn_on_timer(uv_timer_t *t)
{
    conn_t *c = t->data;
    node_t *n = c->node;
    char msg[160];
    if (c->awaiting_cancel) {
        /* The statement ended but the server never confirmed the cancel:
         * it may still arrive, so the connection cannot be reused. */
        snprintf(msg, sizeof(msg),
                 "no confirmation %d ms after cancelling a statement",
                 n->mgr->opts.cancel_grace_ms);
        pgcm__conn_discard(c, msg);
        pgcm__pool_fill(n);
        return;
    }
    switch (c->state) {
    case CONN_CONNECTING:
        snprintf(msg, sizeof(msg),
                 "timed out after %d ms connecting to the server",
                 c->connect_deadline_ms);
        pgcm__conn_connect_failed(c, PGCM_ETIMEDOUT, msg, "");
        break;
    case CONN_ACTIVE:
        if (c->op == OP_PROBE || c->op == OP_LIVENESS) {
            snprintf(msg, sizeof(msg), "%s got no answer within %d ms",
                     c->op == OP_PROBE ? "health probe" : "heartbeat",
                     (int)((now_us(c) - c->op_start_us) / 1000));
            pgcm__conn_close(c, msg);
            pgcm__node_probe_done(n, PGCM_ETIMEDOUT, 0, msg, "");
        } else if (c->abort_status == 0) {
            pgcm__conn_abort(c, PGCM_ETIMEDOUT);
        } else {
            /* The server did not answer the cancel: discard. */
            snprintf(msg, sizeof(msg),
                     "no answer %d ms after cancelling a statement",
                     n->mgr->opts.cancel_grace_ms);
            pgcm__conn_discard(c, msg);
            pgcm__node_suspect(n, PGCM_ETIMEDOUT, msg, "");
            pgcm__pool_fill(n);
        }
        break;
    default:
        break;
    }
}

/* The connection failed (connect error, I/O error, server gone). Report
 * it to whoever used it, close it and tell the node. */
static void conn_broken(conn_t *c, const char *pqmsg)
{
    node_t *n = c->node;
    char msg[256];
    char sqlstate[6];
    conn_failure_text(c, pqmsg, msg, sizeof(msg), sqlstate);
    if (msg[0] == '\0')
        snprintf(msg, sizeof(msg), "connection lost");

    if (c->state == CONN_CONNECTING) {
        pgcm__conn_connect_failed(
            c, pgcm__classify_connect_error(sqlstate, msg), msg, sqlstate);
        return;
    }

    conn_op_t op = c->op;
    request_t *r = c->req;
    if (r != NULL) {
        c->req = NULL;
        r->conn = NULL;
        n->stats.queries++;
        n->stats.errors++;
        pgcm__request_fail_sqlstate(r, PGCM_ECONN, sqlstate, "node '%s': %s",
                                    n->id, msg);
    }
    pgcm__conn_close(c, msg);
    if (op == OP_PROBE || op == OP_LIVENESS) {
        pgcm__node_probe_done(n, PGCM_ECONN, 0, msg, sqlstate);
    } else {
        pgcm__node_suspect(n, PGCM_ECONN, msg, sqlstate);
    }
    pgcm__pool_fill(n);
}

/* ---- close ----------------------------------------------------------- */

static void conn_timer_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    pgcm__free(c);
}

static void conn_close_as(conn_t *c, pgcm_log_level_t level, const char *event,
                          const char *why);

void pgcm__conn_close(conn_t *c, const char *why)
{
    conn_close_as(c, PGCM_LOG_INFO, "connection_closed", why);
}

void pgcm__conn_discard(conn_t *c, const char *why)
{
    conn_close_as(c, PGCM_LOG_WARN, "connection_discarded", why);
}

static void conn_close_as(conn_t *c, pgcm_log_level_t level, const char *event,
                          const char *why)
{
    if (c->state == CONN_CLOSING)
        return;
    node_t *n = c->node;
    if (pgcm__log_enabled(n->mgr, level)) {
        /* a failed connect was logged as connection_error already */
        if (c->state != CONN_CONNECTING || c->pg != NULL)
            pgcm__log(n->mgr,
                      c->state == CONN_CONNECTING ? PGCM_LOG_DEBUG : level,
                      n->id, event, c->correlation_id, 0, "",
                      "%s (open %llu ms%s)", why ? why : "closed",
                      (unsigned long long)((now_us(c) - c->open_us) / 1000),
                      c->dedicated_probe ? ", probe connection" : "");
    }
    pgcm__pool_unlink(c);
    bool was_open = c->state != CONN_CONNECTING;
    if (c->dedicated_probe)
        n->n_dedicated--;
    if (was_open) {
        n->stats.conns_closed++;
        n->stats.lifetime_us_total += now_us(c) - c->created_us;
    }
    if (c->checkout != NULL) {
        c->checkout->conn = NULL;
        c->checkout = NULL;
    }
    conn_drop_ticket(c);
    c->state = CONN_CLOSING;
    if (c->next_req != NULL) {
        request_t *r = c->next_req;
        c->next_req = NULL;
        pgcm__request_fail(r, PGCM_ECONN,
                           "node '%s': the checked-out connection was closed "
                           "(%s); release it and check out another",
                           n->id, why ? why : "closed");
    }
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
