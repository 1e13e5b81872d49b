/* SPDX-License-Identifier: MIT */
/*
 * request.c - requests on the loop (see request.h): routing a statement or
 * a checkout to its node's pool, turning what the pool answers into a
 * pgcm_result_t, the fan-out batch, cancel by id, and checkouts given
 * back. Every outcome goes to the delivery queue, never straight to user
 * code.
 */
#include <stdio.h>
#include <string.h>

#include "request.h"

static void on_job_done(pool_job_t *job, const job_outcome_t *out);

void pgcm__requests_init(request_registry_t *reg, loop_env_t *env)
{
    reg->env = env;
    list_init(&reg->requests);
    list_init(&reg->batches);
    pgcm__spare_init(&reg->spare, REQUEST_SPARE_MAX);
    reg->accepting = true;
}

void pgcm__requests_free(request_registry_t *reg)
{
    pgcm__spare_free(&reg->spare);
}

void *pgcm__request_spare_block(request_registry_t *reg)
{
    void *b = pgcm__spare_take(&reg->spare);
    return b != NULL ? b : pgcm__malloc(REQUEST_SPARE_BYTES);
}

/* A request's own block back: kept for the next statement, or freed. */
static void block_free(request_registry_t *reg, request_t *r)
{
    if (r->block_spare)
        pgcm__spare_give(&reg->spare, r->block);
    else
        pgcm__free(r->block);
}

void pgcm__request_args_free(request_args_t *a)
{
    pgcm__free(a->mem);
    a->mem = NULL;
    a->node_id = a->sql = NULL;
    a->params = NULL;
}

void pgcm__request_init(request_t *r, request_registry_t *reg, uint64_t id,
                        request_kind_t kind)
{
    list_init(&r->all_link);
    list_init(&r->job.link);
    r->reg = reg;
    r->id = id;
    r->kind = kind;
}

request_t *pgcm__request_new(request_registry_t *reg, uint64_t id,
                             request_kind_t kind, request_args_t *args)
{
    request_t *r = pgcm__calloc(1, sizeof(*r));
    if (r == NULL) {
        pgcm__request_args_free(args);
        return NULL;
    }
    pgcm__request_init(r, reg, id, kind);
    r->args = *args;
    r->owns_args = true;
    memset(args, 0, sizeof(*args));
    return r;
}

static void request_free(request_t *r)
{
    if (r->batch != NULL)
        return; /* a batch part: in the batch's array, strings borrowed */
    if (r->owns_args)
        pgcm__request_args_free(&r->args);
    if (r->block != NULL)
        block_free(r->reg, r);
    else
        pgcm__free(r);
}

/* Fill the pool's view of the request. */
static void job_prepare(request_t *r, job_kind_t kind)
{
    const pgcm_options_t *o = r->reg->env->opts;
    pool_job_t *j = &r->job;
    j->kind = kind;
    j->sql = r->args.sql ? r->args.sql : "";
    j->nparams = r->args.nparams;
    j->params = (const char *const *)r->args.params;
    j->timeout_ms = r->args.opts.timeout_ms > 0 ? r->args.opts.timeout_ms
                                                : o->query_timeout_ms;
    j->submit_us = pgcm__env_now(r->reg->env);
    j->on_row = r->args.opts.on_row;
    j->row_user = r->args.opts.row_user;
    j->correlation_id =
        r->args.opts.correlation_id ? r->args.opts.correlation_id : r->id;
    j->done = on_job_done;
}

/* ---- delivery ---------------------------------------------------------- */

static void batch_complete(batch_t *b)
{
    request_registry_t *reg = b->reg;
    b->out->elapsed_us = (int64_t)(pgcm__env_now(b->reg->env) - b->submit_us);
    if (list_linked(&b->all_link))
        list_remove(&b->all_link);
    if (b->cb != NULL)
        pgcm__deliver_batch(reg->env->deliver, b->cb, b->user, b->out);
    else if (b->done != NULL)
        pgcm__deliver_completion(reg->env->deliver, b->done, PGCM_OK, b->out,
                                 NULL);
    else
        pgcm_batch_free(b->out);
    pgcm__request_args_free(&b->args);
    pgcm__free(b->parts);
    pgcm__free(b->part_mem);
    pgcm__free(b);
}

/* A fan-out part's node id: the node's own (it outlives its requests),
 * or the caller's copy for an unknown id. */
static const char *part_node_id(const node_t *node, const char *id)
{
    return node != NULL ? node->id : (id != NULL ? id : "");
}

/* A fresh result for r: a fan-out part's is its record in the batch. */
static pgcm_result_t *result_for(const request_t *r)
{
    if (r->batch != NULL) {
        pgcm_result_t *res = &r->batch->out->records[r->index];
        pgcm__result_init(res, res->node_id);
        return res;
    }
    return pgcm__result_new(r->args.node_id ? r->args.node_id : "");
}

/* The request is over: hand res (owned) on and free r. */
static void request_finish(request_t *r, pgcm_result_t *res)
{
    request_registry_t *reg = r->reg;
    const char *node_id = r->args.node_id ? r->args.node_id : "";
    if (res == NULL)
        res = pgcm__result_error(node_id, PGCM_ENOMEM, "out of memory");
    if (res != NULL) {
        res->elapsed_us = (int64_t)(pgcm__env_now(reg->env) - r->job.submit_us);
        if (r->node != NULL && res->server_version == 0)
            res->server_version = r->node->server_version;
        if (res->status != PGCM_OK)
            pgcm__log(reg->env->opts,
                      res->status == PGCM_ESQL ? PGCM_LOG_INFO : PGCM_LOG_WARN,
                      node_id, "query_failed", r->job.correlation_id,
                      res->status, res->error.sqlstate, "%s: %s",
                      pgcm_err_name(res->status), res->error.message);
    }
    if (r->batch != NULL) {
        batch_t *b = r->batch;
        b->out->results[r->index] = res;
        b->parts[r->index] = NULL;
        request_free(r);
        if (--b->remaining == 0)
            batch_complete(b);
        return;
    }
    if (list_linked(&r->all_link))
        list_remove(&r->all_link);
    deliver_queue_t *q = reg->env->deliver;
    if (r->kind == REQ_CHECKOUT) {
        /* only failures come here; success is delivered by on_job_done */
        pgcm__free(r->co);
        pgcm__deliver_completion(q, r->args.done,
                                 res ? res->status : PGCM_ENOMEM, NULL,
                                 res ? &res->error : NULL);
        pgcm_result_free(res);
    } else if (r->args.cb != NULL)
        pgcm__deliver_result(q, r->args.cb, r->args.user, res);
    else if (r->args.done != NULL)
        pgcm__deliver_completion(q, r->args.done,
                                 res ? res->status : PGCM_ENOMEM, res,
                                 res ? &res->error : NULL);
    else
        pgcm_result_free(res);
    request_free(r);
}

static void request_fail(request_t *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void request_fail(request_t *r, int code, const char *fmt, ...)
{
    pgcm_result_t *res = result_for(r);
    if (res != NULL) {
        res->status = code;
        res->error.code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(res->error.message, sizeof(res->error.message), fmt, ap);
        va_end(ap);
    }
    request_finish(r, res);
}

void pgcm__request_fail_args(request_registry_t *reg, request_args_t *args,
                             int code, const char *msg)
{
    request_t *r = pgcm__request_new(reg, 0, REQ_QUERY, args);
    if (r != NULL)
        request_fail(r, code, "%s", msg);
}

/* A result from what the pool answered. */
static pgcm_result_t *result_from(const request_t *r, const job_outcome_t *out)
{
    const char *node_id = r->args.node_id ? r->args.node_id : "";
    pgcm_result_t *res = result_for(r);
    if (res == NULL) {
        PQclear(out->result);
        PQclear(out->error);
        return NULL;
    }
    res->status = out->status;
    res->error.code = out->status;
    res->server_version = out->server_version;
    if (out->error != NULL) {
        char text[400];
        res->status = res->error.code = PGCM_ESQL;
        if (!pgcm__pq_result_error(out->error, text, sizeof(text),
                                   res->error.sqlstate))
            pgcm__pq_error_parse(PQresultErrorMessage(out->error), text,
                                 sizeof(text), res->error.sqlstate);
        snprintf(res->error.message, sizeof(res->error.message),
                 "node '%s': %s", node_id, text);
        PQclear(out->error);
        PQclear(out->result);
    } else if (out->status == PGCM_OK) {
        res->pg = out->result;
    } else {
        snprintf(res->error.sqlstate, sizeof(res->error.sqlstate), "%s",
                 out->sqlstate ? out->sqlstate : "");
        snprintf(res->error.message, sizeof(res->error.message), "%s",
                 out->message ? out->message : pgcm_strerror(out->status));
        PQclear(out->result);
    }
    return res;
}

/* The pool's answer (its done callback). */
static void on_job_done(pool_job_t *job, const job_outcome_t *out)
{
    request_t *r = (request_t *)job;
    if (r->kind == REQ_CHECKOUT) {
        deliver_queue_t *q = r->reg->env->deliver;
        if (list_linked(&r->all_link))
            list_remove(&r->all_link);
        if (out->status == PGCM_OK) {
            pgcm__deliver_completion(q, r->args.done, PGCM_OK, r->co, NULL);
        } else {
            pgcm_error_t err;
            pgcm__error_set(&err, out->status, r->args.node_id, "%s",
                            out->message);
            pgcm__free(r->co);
            pgcm__deliver_completion(q, r->args.done, out->status, NULL, &err);
        }
        request_free(r);
        return;
    }
    request_finish(r, result_from(r, out));
}

/* ---- routing ------------------------------------------------------------- */

static bool route_check(request_t *r, node_t *n)
{
    if (!r->reg->accepting) {
        request_fail(r, PGCM_ESHUTDOWN,
                     "the manager is shutting down; no new queries are "
                     "accepted");
        return false;
    }
    if (n == NULL) {
        request_fail(r, PGCM_ENOENT,
                     "no node with id '%s'; check the id against "
                     "pgcm_node_list()",
                     r->args.node_id);
        return false;
    }
    r->node = n;
    if (!pgcm__node_accepts_work(n)) {
        int64_t in_ms = n->health.next_retry_ms - pgcm__wall_ms();
        request_fail(r, PGCM_EUNAVAIL,
                     "node '%s' is %s (%s); next reconnect attempt in %lld ms",
                     n->id, pgcm_node_state_name(n->hc.state),
                     n->health.last_error ? n->health.last_error
                                          : "no error recorded",
                     (long long)(in_ms > 0 ? in_ms : 0));
        return false;
    }
    return true;
}

/* A statement on a checked-out connection. */
static void route_on_checkout(request_t *r)
{
    struct pgcm_checkout_s *co = r->on_checkout;
    pconn_t *c = co->conn;
    if (!r->reg->accepting) {
        request_fail(r, PGCM_ESHUTDOWN,
                     "the manager is shutting down; no new queries are "
                     "accepted");
        return;
    }
    if (c == NULL) {
        request_fail(r, PGCM_ECONN,
                     "node '%s': the checked-out connection was closed "
                     "(server gone or node removed); release it and check "
                     "out another",
                     co->node_id);
        return;
    }
    job_prepare(r, JOB_QUERY);
    if (pgcm__pool_run_on(c->pool, c, &r->job) != PGCM_OK)
        request_fail(r, PGCM_EINVAL,
                     "node '%s': a statement is already running on this "
                     "checkout; calls on one checkout must not overlap",
                     co->node_id);
}

void pgcm__request_submit(request_registry_t *reg, request_t *r, node_t *node)
{
    list_push_back(&reg->requests, &r->all_link);
    if (r->on_checkout != NULL) {
        route_on_checkout(r);
        return;
    }
    job_prepare(r, JOB_QUERY);
    if (route_check(r, node))
        pgcm__pool_enqueue(&node->pool, &r->job);
}

void pgcm__request_checkout(request_registry_t *reg, request_t *r, node_t *node,
                            struct pgcm_checkout_s *co, int acquire_timeout_ms)
{
    list_push_back(&reg->requests, &r->all_link);
    r->co = co;
    job_prepare(r, JOB_CHECKOUT);
    r->job.acquire_timeout_ms = acquire_timeout_ms;
    r->job.checkout_slot = &co->conn;
    if (!route_check(r, node))
        return;
    snprintf(co->node_id, sizeof(co->node_id), "%s", node->id);
    pgcm__pool_enqueue(&node->pool, &r->job);
}

/* The parts' result records, one block, each with its node id (copied:
 * results outlive the nodes) after the records; the records themselves
 * are set up when their part ends. */
static pgcm_result_t *records_new(node_t *const *nodes, const char *const *ids,
                                  size_t count)
{
    size_t bytes = (count ? count : 1) * sizeof(pgcm_result_t);
    for (size_t i = 0; i < count; i++)
        bytes += strlen(part_node_id(nodes[i], ids[i])) + 1;
    pgcm_result_t *records = pgcm__malloc(bytes);
    if (records == NULL)
        return NULL;
    char *text = (char *)(records + count);
    for (size_t i = 0; i < count; i++) {
        const char *id = part_node_id(nodes[i], ids[i]);
        size_t len = strlen(id) + 1;
        records[i].node_id = memcpy(text, id, len);
        text += len;
    }
    return records;
}

void pgcm__batch_submit(request_registry_t *reg, uint64_t id,
                        request_args_t *args, node_t *const *nodes,
                        const char *const *ids, size_t count, pgcm_batch_cb cb,
                        void *user, completion_t *done)
{
    deliver_queue_t *q = reg->env->deliver;
    size_t k = count ? count : 1;
    batch_t *b = pgcm__calloc(1, sizeof(*b));
    pgcm_batch_t *out = pgcm__calloc(1, sizeof(*out));
    request_t **parts = pgcm__calloc(k, sizeof(*parts));
    request_t *part_mem = pgcm__calloc(k, sizeof(*part_mem));
    pgcm_result_t **results = pgcm__calloc(k, sizeof(*results));
    pgcm_result_t *records = records_new(nodes, ids, count);
    if (b == NULL || out == NULL || parts == NULL || part_mem == NULL ||
        results == NULL || records == NULL) {
        pgcm__free(b);
        pgcm__free(out);
        pgcm__free(parts);
        pgcm__free(part_mem);
        pgcm__free(results);
        pgcm__free(records);
        pgcm__request_args_free(args);
        if (done != NULL)
            pgcm__deliver_completion(q, done, PGCM_ENOMEM, NULL, NULL);
        else if (cb != NULL)
            pgcm__deliver_batch(q, cb, user, pgcm__calloc(1, sizeof(*out)));
        return;
    }
    list_init(&b->all_link);
    b->id = id;
    b->reg = reg;
    b->out = out;
    b->parts = parts;
    b->part_mem = part_mem;
    out->results = results;
    out->records = records;
    out->count = count;
    b->submit_us = pgcm__env_now(reg->env);
    b->args = *args;
    b->cb = cb;
    b->user = user;
    b->done = done;
    memset(args, 0, sizeof(*args));
    list_push_back(&reg->batches, &b->all_link);

    /* Build every part first, then route them: a part may finish at once
     * (unknown node, node down), and the batch must not complete early.
     * The parts live in one array and borrow their node id: the node's
     * own (it outlives its requests), or the caller's copy for an unknown
     * id (that part ends while routing). */
    for (size_t i = 0; i < count; i++) {
        request_t *r = &part_mem[i];
        list_init(&r->all_link);
        list_init(&r->job.link);
        r->reg = reg;
        r->id = id;
        r->kind = REQ_QUERY;
        r->args = b->args; /* borrowed: the batch owns the strings */
        r->args.node_id = (char *)part_node_id(nodes[i], ids[i]);
        r->args.cb = NULL;
        r->args.done = NULL;
        r->owns_args = false;
        r->batch = b;
        r->index = i;
        parts[i] = r;
    }
    b->remaining = count + 1; /* +1 held while routing */
    for (size_t i = 0; i < count; i++) {
        request_t *r = parts[i];
        job_prepare(r, JOB_QUERY);
        r->job.submit_us = b->submit_us;
        if (route_check(r, nodes[i]))
            pgcm__pool_enqueue(&nodes[i]->pool, &r->job);
    }
    if (--b->remaining == 0)
        batch_complete(b);
}

/* ---- cancel -------------------------------------------------------------- */

static void cancel_request(request_t *r)
{
    char msg[200];
    pconn_t *c = r->job.conn;
    if (r->job.waiting) {
        snprintf(msg, sizeof(msg),
                 "node '%s': query cancelled before it "
                 "started",
                 r->args.node_id);
        pgcm__pool_cancel_job(&r->node->pool, &r->job, PGCM_ECANCELED, msg);
    } else if (c != NULL) {
        snprintf(msg, sizeof(msg),
                 "node '%s': query cancelled on request; the statement was "
                 "cancelled on the server",
                 r->args.node_id);
        pgcm__pool_cancel_job(c->pool, &r->job, PGCM_ECANCELED, msg);
    }
}

int pgcm__request_cancel(request_registry_t *reg, uint64_t id)
{
    list_node_t *pos, *tmp;
    LIST_FOREACH_SAFE(pos, tmp, &reg->requests)
    {
        request_t *r = LIST_ENTRY(pos, request_t, all_link);
        if (r->id == id && r->kind == REQ_QUERY) {
            cancel_request(r);
            return PGCM_OK;
        }
    }
    LIST_FOREACH_SAFE(pos, tmp, &reg->batches)
    {
        batch_t *b = LIST_ENTRY(pos, batch_t, all_link);
        if (b->id != id)
            continue;
        b->remaining++; /* hold the batch while cancelling its parts */
        for (size_t i = 0; i < b->out->count; i++) {
            if (b->parts[i] != NULL)
                cancel_request(b->parts[i]);
        }
        if (--b->remaining == 0)
            batch_complete(b);
        return PGCM_OK;
    }
    return PGCM_ENOENT;
}

/* ---- checkouts given back ------------------------------------------------ */

void pgcm__checkout_release(request_registry_t *reg, struct pgcm_checkout_s *co,
                            bool discard)
{
    pconn_t *c = co->conn;
    pgcm__free(co);
    if (c == NULL)
        return; /* the pool already closed it */
    pgcm__log(reg->env->opts, PGCM_LOG_DEBUG, c->pool->node_id,
              "connection_released", 0, 0, "", "checkout given back%s",
              discard ? " (discard)" : "");
    pgcm__pool_checkout_release(c->pool, c, discard);
}
