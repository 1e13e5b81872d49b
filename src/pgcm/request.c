/* SPDX-License-Identifier: MIT */
/*
 * request.c - requests on the loop: routing a statement (or a checkout) to
 * its node's pool, starting it on a connection, turning libpq's answer into
 * a pgcm_result_t, delivering it to the blocked caller or the callback, the
 * fan-out batch that collects one result per node, and cancel by id.
 */
#include <stdio.h>
#include <string.h>

#include "loop.h"

/* ---- creation (any thread) ------------------------------------------- */

static char **copy_params(int nparams, const char *const *params, bool *ok)
{
    *ok = true;
    if (nparams <= 0)
        return NULL;
    char **p = pgcm__calloc((size_t)nparams, sizeof(char *));
    if (p == NULL) {
        *ok = false;
        return NULL;
    }
    for (int i = 0; i < nparams; i++) {
        if (params[i] == NULL)
            continue;
        p[i] = pgcm__strdup(params[i]);
        if (p[i] == NULL)
            *ok = false;
    }
    return p;
}

static void free_params(int nparams, char **params)
{
    for (int i = 0; params && i < nparams; i++)
        pgcm__free(params[i]);
    pgcm__free(params);
}

request_t *pgcm__request_new(pgcm_manager_t *mgr, const char *node_id,
                             const char *sql, int nparams,
                             const char *const *params, int timeout_ms)
{
    request_t *r = pgcm__calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    list_init(&r->link);
    list_init(&r->all_link);
    r->mgr = mgr;
    r->kind = REQ_QUERY;
    r->node_id = pgcm__strdup(node_id ? node_id : "");
    r->sql = pgcm__strdup(sql ? sql : "");
    bool ok;
    r->params = copy_params(nparams, params, &ok);
    r->nparams = nparams > 0 ? nparams : 0;
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : mgr->opts.query_timeout_ms;
    r->submit_us = pgcm__mono_us();
    if (r->node_id == NULL || r->sql == NULL || !ok) {
        pgcm__request_free(r);
        return NULL;
    }
    return r;
}

void pgcm__request_set_options(request_t *r, const pgcm_query_options_t *opts)
{
    if (opts != NULL) {
        r->on_row = opts->on_row;
        r->row_user = opts->row_user;
        r->correlation_id = opts->correlation_id;
    }
    if (r->correlation_id == 0)
        r->correlation_id = r->id;
}

void pgcm__request_free(request_t *r)
{
    if (r == NULL)
        return;
    pgcm__free(r->node_id);
    pgcm__free(r->sql);
    free_params(r->nparams, r->params);
    pgcm__free(r);
}

/* ---- delivery (loop) ------------------------------------------------- */

static void batch_complete(batch_req_t *b)
{
    b->out->elapsed_us = (int64_t)(pgcm__mono_us() - b->submit_us);
    if (list_linked(&b->all_link))
        list_remove(&b->all_link);
    pgcm_batch_t *out = b->out;
    pgcm_batch_cb cb = b->cb;
    void *user = b->user;
    completion_t *done = b->done;
    pgcm__free(b->parts);
    pgcm__free(b);
    if (cb != NULL)
        cb(out, user);
    else if (done != NULL)
        pgcm__completion_post(done, PGCM_OK, out);
    else
        pgcm_batch_free(out);
}

void pgcm__request_finish(request_t *r, pgcm_result_t *res)
{
    r->finished = true;
    if (res != NULL && res->status != PGCM_OK)
        pgcm__log(r->mgr,
                  res->status == PGCM_ESQL ? PGCM_LOG_INFO : PGCM_LOG_WARN,
                  r->node_id, "query_failed", r->correlation_id, res->status,
                  res->error.sqlstate, "%s: %s", pgcm_err_name(res->status),
                  res->error.message);
    if (res != NULL) {
        res->elapsed_us = (int64_t)(pgcm__mono_us() - r->submit_us);
        if (r->node != NULL && res->server_version == 0)
            res->server_version = r->node->server_version;
    }
    if (r->batch != NULL) {
        batch_req_t *b = r->batch;
        if (res == NULL)
            res = pgcm__result_error(r->node_id, PGCM_ENOMEM, "out of memory");
        b->out->results[r->index] = res;
        b->parts[r->index] = NULL;
        pgcm__request_free(r);
        if (--b->remaining == 0)
            batch_complete(b);
        return;
    }
    if (list_linked(&r->all_link))
        list_remove(&r->all_link);

    if (r->kind == REQ_CHECKOUT) {
        /* Only failures arrive here; success is delivered by start. */
        if (r->done != NULL) {
            if (res != NULL)
                r->done->err = res->error;
            pgcm__completion_post(r->done, res ? res->status : PGCM_ENOMEM,
                                  NULL);
        }
        pgcm_result_free(res);
    } else if (r->cb != NULL) {
        r->cb(res, r->user);
    } else if (r->done != NULL) {
        if (res != NULL)
            r->done->err = res->error;
        pgcm__completion_post(r->done, res ? res->status : PGCM_ENOMEM, res);
    } else {
        pgcm_result_free(res);
    }
    pgcm__request_free(r);
}

static void request_vfail(request_t *r, int code, const char *sqlstate,
                          const char *fmt, va_list ap)
{
    pgcm_result_t *res = pgcm__result_new(r->node_id);
    if (res != NULL) {
        res->status = code;
        res->error.code = code;
        snprintf(res->error.node_id, sizeof(res->error.node_id), "%s",
                 r->node_id);
        snprintf(res->error.sqlstate, sizeof(res->error.sqlstate), "%s",
                 sqlstate ? sqlstate : "");
        vsnprintf(res->error.message, sizeof(res->error.message), fmt, ap);
    }
    pgcm__request_finish(r, res);
}

void pgcm__request_fail(request_t *r, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    request_vfail(r, code, "", fmt, ap);
    va_end(ap);
}

void pgcm__request_fail_sqlstate(request_t *r, int code, const char *sqlstate,
                                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    request_vfail(r, code, sqlstate, fmt, ap);
    va_end(ap);
}

pgcm_result_t *pgcm__result_from_conn(conn_t *c)
{
    node_t *n = c->node;
    pgcm_result_t *res = pgcm__result_new(n->id);
    n->stats.queries++;
    if (res == NULL) {
        n->stats.errors++;
        return NULL;
    }
    res->server_version = PQserverVersion(c->pg);
    if (c->error != NULL) {
        n->stats.errors++;
        const char *state = PQresultErrorField(c->error, PG_DIAG_SQLSTATE);
        const char *primary =
            PQresultErrorField(c->error, PG_DIAG_MESSAGE_PRIMARY);
        const char *sev = PQresultErrorField(c->error, PG_DIAG_SEVERITY);
        res->status = PGCM_ESQL;
        res->error.code = PGCM_ESQL;
        snprintf(res->error.sqlstate, sizeof(res->error.sqlstate), "%s",
                 state ? state : "");
        snprintf(res->error.node_id, sizeof(res->error.node_id), "%s", n->id);
        snprintf(res->error.message, sizeof(res->error.message),
                 "node '%s': %s: %s", n->id, sev ? sev : "ERROR",
                 primary ? primary : PQresultErrorMessage(c->error));
    } else {
        res->pg = c->result;
        c->result = NULL;
    }
    return res;
}

void pgcm__request_start(request_t *r, conn_t *c)
{
    node_t *n = c->node;
    uint64_t now = pgcm__mono_us();
    uint64_t waited = now - r->submit_us;
    r->node = n;
    pgcm__log(n->mgr, PGCM_LOG_DEBUG, n->id, "connection_acquired",
              r->correlation_id, 0, "", "after %llu us%s",
              (unsigned long long)waited,
              r->kind == REQ_CHECKOUT ? " (checkout)" : "");
    n->stats.acquires++;
    n->stats.acquire_wait_us += waited;
    if (waited > n->stats.acquire_wait_max_us)
        n->stats.acquire_wait_max_us = waited;

    if (r->kind == REQ_CHECKOUT) {
        struct pgcm_checkout_s *co = r->co;
        c->op = OP_NONE;
        pgcm__pool_move(c, CONN_ACTIVE);
        c->checkout = co;
        co->conn = c;
        co->since_us = now;
        snprintf(co->node_id, sizeof(co->node_id), "%s", n->id);
        r->finished = true;
        if (list_linked(&r->all_link))
            list_remove(&r->all_link);
        r->co = NULL;
        pgcm__completion_post(r->done, PGCM_OK, co);
        pgcm__request_free(r);
        pgcm__node_publish(n);
        return;
    }

    r->conn = c;
    c->req = r;
    c->correlation_id = r->correlation_id;
    int rc = pgcm__conn_send(c, OP_QUERY, r->sql, r->nparams,
                             (const char *const *)r->params, r->timeout_ms);
    if (rc == PGCM_OK && r->on_row != NULL && !PQsetSingleRowMode(c->pg))
        rc = PGCM_ECONN;
    if (rc != PGCM_OK) {
        char msg[256];
        char sqlstate[6];
        pgcm__pq_error_parse(PQerrorMessage(c->pg), msg, sizeof(msg), sqlstate);
        c->req = NULL;
        r->conn = NULL;
        n->stats.queries++;
        n->stats.errors++;
        pgcm__request_fail(r, PGCM_ECONN, "node '%s': could not send: %s",
                           n->id, msg[0] ? msg : "connection lost");
        pgcm__conn_close(c, msg);
        pgcm__node_suspect(n, PGCM_ECONN, msg, sqlstate);
        pgcm__pool_fill(n);
    }
}

/* ---- routing (loop) -------------------------------------------------- */

static void route(pgcm_manager_t *mgr, request_t *r)
{
    if (atomic_load(&mgr->state) != MGR_RUNNING) {
        pgcm__request_fail(r, PGCM_ESHUTDOWN,
                           "the manager is shutting down; no new queries "
                           "are accepted");
        return;
    }
    if (r->co_conn_owner != NULL) {
        struct pgcm_checkout_s *co = r->co_conn_owner;
        conn_t *c = co->conn;
        if (c == NULL) {
            pgcm__request_fail(r, PGCM_ECONN,
                               "node '%s': the checked-out connection was "
                               "closed (server gone or node removed); "
                               "release it and check out another",
                               co->node_id);
            return;
        }
        r->submit_us = pgcm__mono_us();
        if (pgcm__conn_checkout_submit(c, r) != PGCM_OK)
            pgcm__request_fail(r, PGCM_EINVAL,
                               "node '%s': a statement is already running "
                               "on this checkout; calls on one checkout "
                               "must not overlap",
                               co->node_id);
        return;
    }
    node_t *n = pgcm__find_node(mgr, r->node_id);
    if (n == NULL) {
        pgcm__request_fail(r, PGCM_ENOENT,
                           "no node with id '%s'; check the id against "
                           "pgcm_node_list()",
                           r->node_id);
        return;
    }
    r->node = n;
    if (!pgcm__node_accepts_work(n)) {
        int64_t in_ms = n->health.next_retry_ms - pgcm__wall_ms();
        pgcm__request_fail(r, PGCM_EUNAVAIL,
                           "node '%s' is %s (%s); next reconnect attempt in "
                           "%lld ms",
                           n->id, pgcm_node_state_name(n->hc.state),
                           n->health.last_error[0] ? n->health.last_error
                                                   : "no error recorded",
                           (long long)(in_ms > 0 ? in_ms : 0));
        return;
    }
    pgcm__pool_enqueue(n, r);
}

void pgcm__request_submit(pgcm_manager_t *mgr, request_t *r)
{
    list_push_back(&mgr->requests, &r->all_link);
    route(mgr, r);
}

void pgcm__batch_submit(pgcm_manager_t *mgr, batch_req_t *b,
                        const pgcm_target_t *target, const char *sql,
                        int nparams, const char *const *params,
                        const pgcm_query_options_t *qo)
{
    int timeout_ms = qo->timeout_ms;
    pgcm_target_kind_t kind = target ? target->kind : PGCM_TARGET_ALL;
    size_t count = 0;
    if (kind == PGCM_TARGET_LIST) {
        count = target->node_count;
    } else {
        list_node_t *pos;
        for (pos = mgr->nodes.next; pos != &mgr->nodes; pos = pos->next) {
            node_t *n = LIST_ENTRY(pos, node_t, link);
            if (kind == PGCM_TARGET_ALL || pgcm__node_available(n))
                count++;
        }
    }
    b->out = pgcm__calloc(1, sizeof(*b->out));
    b->parts = pgcm__calloc(count ? count : 1, sizeof(request_t *));
    if (b->out != NULL)
        b->out->results =
            pgcm__calloc(count ? count : 1, sizeof(pgcm_result_t *));
    if (b->out == NULL || b->parts == NULL || b->out->results == NULL) {
        if (b->out)
            pgcm__free(b->out->results);
        pgcm__free(b->out);
        pgcm__free(b->parts);
        b->out = NULL;
        b->parts = NULL;
        if (b->done)
            pgcm__completion_post(b->done, PGCM_ENOMEM, NULL);
        pgcm__free(b);
        return;
    }
    b->out->count = count;
    list_push_back(&mgr->batches, &b->all_link);

    /* Build every part first, then route them: a part may finish at once
     * (unknown node, node down), and the batch must not complete early. */
    size_t i = 0;
    if (kind == PGCM_TARGET_LIST) {
        for (; i < count; i++) {
            const char *id = target->node_ids[i] ? target->node_ids[i] : "";
            b->parts[i] =
                pgcm__request_new(mgr, id, sql, nparams, params, timeout_ms);
        }
    } else {
        list_node_t *pos;
        for (pos = mgr->nodes.next; pos != &mgr->nodes; pos = pos->next) {
            node_t *n = LIST_ENTRY(pos, node_t, link);
            if (kind == PGCM_TARGET_ALL || pgcm__node_available(n)) {
                b->parts[i++] = pgcm__request_new(mgr, n->id, sql, nparams,
                                                  params, timeout_ms);
            }
        }
    }
    b->remaining = count + 1; /* +1 held while routing */
    for (i = 0; i < count; i++) {
        request_t *r = b->parts[i];
        if (r == NULL) {
            b->out->results[i] =
                pgcm__result_error("", PGCM_ENOMEM, "out of memory");
            b->remaining--;
            continue;
        }
        r->batch = b;
        r->index = i;
        r->id = b->id;
        pgcm__request_set_options(r, qo);
        r->submit_us = b->submit_us;
        route(mgr, r);
    }
    if (--b->remaining == 0)
        batch_complete(b);
}

/* ---- cancel (loop) --------------------------------------------------- */

static void cancel_request(request_t *r)
{
    if (r->waiting) {
        node_t *n = r->node;
        list_remove(&r->link);
        r->waiting = false;
        n->n_waiters--;
        pgcm__request_fail(r, PGCM_ECANCELED,
                           "node '%s': query cancelled before it started",
                           r->node_id);
        pgcm__node_publish(n);
    } else if (r->conn != NULL) {
        pgcm__conn_abort(r->conn, PGCM_ECANCELED);
    }
}

int pgcm__cancel_on_loop(pgcm_manager_t *mgr, uint64_t id)
{
    list_node_t *pos, *tmp;
    LIST_FOREACH_SAFE(pos, tmp, &mgr->requests)
    {
        request_t *r = LIST_ENTRY(pos, request_t, all_link);
        if (r->id == id) {
            cancel_request(r);
            return PGCM_OK;
        }
    }
    LIST_FOREACH_SAFE(pos, tmp, &mgr->batches)
    {
        batch_req_t *b = LIST_ENTRY(pos, batch_req_t, all_link);
        if (b->id != id)
            continue;
        size_t count = b->out->count;
        b->remaining++; /* hold the batch while cancelling its parts */
        for (size_t i = 0; i < count; i++) {
            if (b->parts[i] != NULL)
                cancel_request(b->parts[i]);
        }
        if (--b->remaining == 0)
            batch_complete(b);
        return PGCM_OK;
    }
    return PGCM_ENOENT;
}
