/* SPDX-License-Identifier: MIT */
/*
 * pool.c - one node's pool (see pool.h): the connection lists and the one
 * function that moves a connection between them, the waiting jobs with
 * their acquire deadlines, handing the most recently used idle connection
 * to the oldest waiter, pipelining (waiting requests sent behind those
 * running on the least loaded busy connection, see pgcm.h), probes on
 * pool or dedicated connections, `min` connections kept open, the
 * janitor's sweep, and the handling of every report a connection makes.
 *
 * The counts in pgcm_pool_stats_t are the lists' lengths.
 */
#include <stdio.h>
#include <string.h>

#include "pool.h"

static void pool_dispatch(pool_t *p);
static void conn_ready(pconn_t *c);
static void job_fail(pool_t *p, pool_job_t *job, int code, const char *msg,
                     const char *sqlstate);
static void on_conn(conn_t *conn, const conn_report_t *rep);
static void fail_pipeline(pool_t *p, pconn_t *c, int code, const char *msg,
                          const char *sqlstate);
static void conn_start(pconn_t *c);

static uint64_t now_us(const pool_t *p)
{
    return pgcm__env_now(p->env);
}

static void up(pool_t *p, pool_event_t ev)
{
    pool_report_t rep = {.event = ev, .msg = "", .sqlstate = "", .slot = -1};
    p->upcall(p, &rep);
}

/* The counts changed: the owner hears it once, before the next round of
 * deliveries (so a caller woken by a result sees them), not once per
 * move. */
static void changed(pool_t *p)
{
    if (!list_linked(&p->changed_link))
        list_push_back(&p->env->changed_pools, &p->changed_link);
}

void pgcm__pools_publish(loop_env_t *env)
{
    while (env->handshakes < POOL_HANDSHAKES_MAX &&
           !list_empty(&env->handshake_queue)) {
        pconn_t *c =
            LIST_ENTRY(list_first(&env->handshake_queue), pconn_t, start_link);
        conn_start(c); /* takes it off the queue */
    }
    while (!list_empty(&env->changed_pools)) {
        pool_t *p =
            LIST_ENTRY(list_first(&env->changed_pools), pool_t, changed_link);
        list_remove(&p->changed_link);
        list_init(&p->changed_link);
        up(p, POOL_EV_CHANGED);
    }
}

// clang-format off
/*
 * pool_move - the one function that moves a connection between lists.
 *
 *  from \ to   | CONNECTING | IDLE | BUSY | CANCELLING | PARKED | CLOSING
 *  ------------+------------+------+------+------------+--------+--------
 *  (new)       | open       |      |      |            |        |
 *  CONNECTING  |            | rdy  | prb  |            | prb    | fail
 *  IDLE        |            | lru  | job  |            |        | close
 *  BUSY        |            | rdy  |      | cancel     | prb    | close
 *  CANCELLING  |            | rdy  | co   |            |        | close
 *  PARKED      |            |      |      |            |        | close
 *  CLOSING     |            |      |      |            |        |
 *
 *  open: pool_open; rdy: conn_ready (connected, job or probe done, clean
 *  after a cancel); prb: a probe runs on it (a dedicated one stays
 *  PARKED); lru: a probe hands it back at the least recently used end;
 *  job: pool_dispatch; cancel: a timeout or pgcm_cancel; co: a checked-out
 *  connection clean again; close and fail: pool_close, then CLOSED frees
 *  it. IDLE pushes at the front (most recently used).
 */
// clang-format on
static void pool_move(pconn_t *c, pool_list_id_t to)
{
    pool_t *p = c->pool;
    if (list_linked(&c->conn.link)) {
        list_remove(&c->conn.link);
        p->counts[c->list]--;
        if (c->list == POOL_CONNECTING && c->dedicated)
            p->dedicated_connecting--;
    }
    c->list = to;
    if (to == POOL_IDLE) {
        list_push_front(&p->lists[to], &c->conn.link);
        c->idle_since_us = now_us(p);
    } else {
        list_push_back(&p->lists[to], &c->conn.link);
    }
    p->counts[to]++;
    if (to == POOL_CONNECTING && c->dedicated)
        p->dedicated_connecting++;
}

int pgcm__pool_total(const pool_t *p)
{
    return p->counts[POOL_CONNECTING] - p->dedicated_connecting +
           p->counts[POOL_IDLE] + p->counts[POOL_BUSY] +
           p->counts[POOL_CANCELLING];
}

bool pgcm__pool_empty(const pool_t *p)
{
    for (int i = 0; i < POOL_NLISTS; i++) {
        if (p->counts[i] != 0)
            return false;
    }
    return true;
}

void pgcm__pool_stats(const pool_t *p, pgcm_pool_stats_t *s)
{
    *s = p->stats;
    s->total = pgcm__pool_total(p);
    s->idle = p->counts[POOL_IDLE];
    s->active = p->counts[POOL_BUSY] + p->counts[POOL_CANCELLING];
    s->probe_conns = p->counts[POOL_PARKED] + p->dedicated_connecting;
    s->waiting = p->n_waiters;
    s->min = p->po->min;
    s->max = p->po->max;
}

/* ---- opening and closing ----------------------------------------------- */

/* c's handshake is over (connected, failed or closed): its slot is free
 * for the next one waiting (started by pgcm__pools_publish). */
static void handshake_release(pconn_t *c)
{
    if (list_linked(&c->start_link))
        list_remove(&c->start_link);
    list_init(&c->start_link);
    if (c->handshake_slot) {
        c->handshake_slot = false;
        c->pool->env->handshakes--;
    }
}

static void conn_start(pconn_t *c)
{
    loop_env_t *env = c->pool->env;
    if (!c->handshake_slot) {
        if (env->handshakes >= POOL_HANDSHAKES_MAX) {
            if (!list_linked(&c->start_link)) {
                list_push_back(&env->handshake_queue, &c->start_link);
                pgcm__conn_hold(&c->conn, true);
            }
            return;
        }
        if (list_linked(&c->start_link)) {
            list_remove(&c->start_link);
            list_init(&c->start_link);
            pgcm__conn_hold(&c->conn, false);
        }
        c->handshake_slot = true;
        env->handshakes++;
    }
    conninfo_params_t params;
    char msg[256] = "";
    int r = c->pool->params(c->pool->owner, &params, msg, sizeof(msg));
    if (r == 1) {
        pgcm__conn_start(&c->conn, params.keys, params.values);
        pgcm__conninfo_free(&params);
    } else if (r < 0) {
        pgcm__conn_fail_start(&c->conn, pgcm__classify_connect_error("", msg),
                              msg);
    }
    /* 0: waits for pgcm__pool_params_ready */
}

/* A new connection; with probe_slot >= 0 it is that probe's, and its
 * connect deadline is the probe's. */
static pconn_t *pool_open(pool_t *p, bool dedicated, int probe_slot,
                          int deadline_ms)
{
    pconn_t *c = pgcm__calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->pool = p;
    c->dedicated = dedicated;
    c->probe_slot = probe_slot;
    list_init(&c->start_link);
    pgcm__conn_init(&c->conn, p->env, p->gate, p->node_id,
                    deadline_ms > 0 ? deadline_ms : p->connect_timeout_ms,
                    on_conn, c);
    if (probe_slot >= 0)
        c->conn.correlation_id = p->probes[probe_slot].correlation_id;
    pool_move(c, POOL_CONNECTING);
    conn_start(c);
    return c;
}

/* Close c: a checkout loses it, a job queued on it fails. The memory goes
 * when the connection reports CLOSED. */
static void pool_close(pconn_t *c, const char *why, bool discard)
{
    pool_t *p = c->pool;
    if (c->list == POOL_CLOSING)
        return;
    handshake_release(c);
    if (c->opened) {
        p->stats.conns_closed++;
        p->stats.lifetime_us_total += now_us(p) - c->created_us;
    }
    if (c->checkout_slot != NULL) {
        *c->checkout_slot = NULL;
        c->checkout_slot = NULL;
    }
    if (c->probe_slot >= 0) {
        p->probes[c->probe_slot].conn = NULL;
        c->probe_slot = -1;
    }
    if (c->job != NULL || pgcm__conn_pipeline_count(&c->conn) > 0) {
        char msg[300];
        snprintf(msg, sizeof(msg), "node '%s': %s", p->node_id,
                 why ? why : "connection closed");
        if (c->job != NULL)
            job_fail(p, c->job, PGCM_ECONN, msg, "");
        fail_pipeline(p, c, PGCM_ECONN, msg, "");
    }
    pool_move(c, POOL_CLOSING);
    pgcm__conn_close(&c->conn, why, discard);
    pool_job_t *next = c->next_job;
    c->next_job = NULL;
    if (next != NULL) {
        char msg[300];
        snprintf(msg, sizeof(msg),
                 "node '%s': the checked-out connection was closed (%s); "
                 "release it and check out another",
                 p->node_id, why ? why : "closed");
        job_outcome_t out = {
            .status = PGCM_ECONN, .message = msg, .sqlstate = ""};
        next->done(next, &out);
    }
}

static void pool_free_conn(pconn_t *c)
{
    pool_t *p = c->pool;
    list_remove(&c->conn.link);
    p->counts[POOL_CLOSING]--;
    pgcm__free(c);
    if (pgcm__pool_empty(p))
        up(p, POOL_EV_EMPTY);
}

/* ---- jobs ---------------------------------------------------------------- */

/* End a running or waiting job: count it, then tell its submitter. */
static void job_finish(pool_t *p, pool_job_t *job, const job_outcome_t *out)
{
    if (job->kind == JOB_QUERY && job->conn != NULL) {
        p->stats.queries++;
        if (out->status != PGCM_OK)
            p->stats.errors++;
        if (out->status == PGCM_ETIMEDOUT && job->conn != NULL)
            p->stats.timeouts++;
    }
    if (job->conn != NULL) {
        if (job->conn->job == job)
            job->conn->job = NULL;
        job->conn = NULL;
    }
    job->done(job, out);
}

static void job_fail(pool_t *p, pool_job_t *job, int code, const char *msg,
                     const char *sqlstate)
{
    job_outcome_t out = {
        .status = code, .message = msg, .sqlstate = sqlstate ? sqlstate : ""};
    job_finish(p, job, &out);
}

static void count_acquire(pool_t *p, pool_job_t *job)
{
    uint64_t waited = now_us(p) - job->submit_us;
    p->stats.acquires++;
    p->stats.acquire_wait_us += waited;
    if (waited > p->stats.acquire_wait_max_us)
        p->stats.acquire_wait_max_us = waited;
    pgcm__log_timed(p->env->opts, PGCM_LOG_DEBUG, p->node_id,
                    "connection_acquired", job->correlation_id, 0, "",
                    (int64_t)waited, "after %llu us%s",
                    (unsigned long long)waited,
                    job->kind == JOB_CHECKOUT ? " (checkout)" : "");
}

/* A statement could not be sent on c: the job fails, c is closed. */
static void send_failed(pool_t *p, pconn_t *c, pool_job_t *job, const char *msg)
{
    char text[320];
    snprintf(text, sizeof(text), "node '%s': could not send: %s", p->node_id,
             msg);
    job_fail(p, job, PGCM_ECONN, text, "");
    pool_close(c, msg, false);
    pool_report_t rep = {.event = POOL_EV_BROKEN,
                         .code = PGCM_ECONN,
                         .msg = msg,
                         .sqlstate = "",
                         .slot = -1};
    p->upcall(p, &rep);
    pgcm__pool_fill(p);
}

/* Send job's statement on c in pipeline mode: c is idle (it enters
 * pipeline mode) or busy with room behind its statements. */
static void pipeline_start(pool_t *p, pconn_t *c, pool_job_t *job)
{
    if (c->list != POOL_BUSY)
        pool_move(c, POOL_BUSY);
    else
        p->stats.pipelined++;
    job->conn = c;
    job->pipelined = true;
    char msg[256];
    if (pgcm__conn_pipeline_send(
            &c->conn, job, p->depth, job->sql, job->nparams, job->params,
            job->timeout_ms, job->correlation_id, msg, sizeof(msg)) != PGCM_OK)
        send_failed(p, c, job, msg);
}

/* Send job's statement on c (IDLE or checked out, ready). */
static void job_start(pool_t *p, pconn_t *c, pool_job_t *job)
{
    if (job->pipelinable && c->checkout_slot == NULL &&
        pgcm__conn_can_pipeline(&c->conn)) {
        pipeline_start(p, c, job);
        return;
    }
    if (c->list != POOL_BUSY)
        pool_move(c, POOL_BUSY);
    c->job = job;
    job->conn = c;
    char msg[256];
    int rc = pgcm__conn_send(&c->conn, job->sql, job->nparams, job->params,
                             job->timeout_ms, job->on_row != NULL,
                             job->correlation_id, msg, sizeof(msg));
    if (rc != PGCM_OK)
        send_failed(p, c, job, msg);
}

/* Give c to job (taken off the waiters already). */
static void job_assign(pool_t *p, pconn_t *c, pool_job_t *job)
{
    count_acquire(p, job);
    if (job->kind == JOB_CHECKOUT) {
        pool_move(c, POOL_BUSY);
        c->checkout_slot = job->checkout_slot;
        *c->checkout_slot = c;
        c->checkout_since_us = now_us(p);
        c->leak_warned = false;
        job_outcome_t out = {.status = PGCM_OK,
                             .message = "",
                             .sqlstate = "",
                             .conn = c,
                             .server_version =
                                 pgcm__conn_server_version(&c->conn)};
        job->done(job, &out);
        return;
    }
    job_start(p, c, job);
}

static void waiter_remove(pool_t *p, pool_job_t *job)
{
    list_remove(&job->link);
    job->waiting = false;
    p->n_waiters--;
    if (!job->pipelinable)
        p->n_plain_waiters--;
}

static void waiter_add(pool_t *p, pool_job_t *job, bool front)
{
    job->waiting = true;
    job->conn = NULL;
    if (front)
        list_push_front(&p->waiters, &job->link);
    else
        list_push_back(&p->waiters, &job->link);
    p->n_waiters++;
    if (!job->pipelinable)
        p->n_plain_waiters++;
}

static void arm_waiter_timer(pool_t *p);

static void on_waiter_timer(uv_timer_t *t)
{
    pool_t *p = t->data;
    uint64_t now = now_us(p);
    list_node_t expired;
    list_init(&expired);
    list_node_t *pos, *tmp;
    LIST_FOREACH_SAFE(pos, tmp, &p->waiters)
    {
        pool_job_t *job = LIST_ENTRY(pos, pool_job_t, link);
        if (job->acquire_deadline_us > now)
            continue;
        waiter_remove(p, job);
        list_push_back(&expired, &job->link);
        p->stats.acquire_timeouts++;
    }
    p->waiter_due_us = 0;
    arm_waiter_timer(p);
    changed(p);
    while (!list_empty(&expired)) {
        pool_job_t *job = LIST_ENTRY(list_first(&expired), pool_job_t, link);
        list_remove(&job->link);
        char msg[300];
        snprintf(msg, sizeof(msg),
                 "node '%s': no connection became free within %d ms (pool "
                 "max %d, %d busy); raise pool max or the acquire timeout",
                 p->node_id, (int)((now - job->submit_us + 500) / 1000),
                 p->po->max, p->counts[POOL_BUSY] + p->counts[POOL_CANCELLING]);
        job_fail(p, job, PGCM_ETIMEDOUT, msg, "");
    }
}

static void stop_waiter_timer(pool_t *p)
{
    if (p->waiter_timer != NULL)
        uv_timer_stop(p->waiter_timer);
    p->waiter_due_us = 0;
}

static void waiter_timer_closed(uv_handle_t *h)
{
    pgcm__free(h);
}

static void arm_waiter_timer(pool_t *p)
{
    uint64_t earliest = UINT64_MAX;
    for (list_node_t *pos = p->waiters.next; pos != &p->waiters;
         pos = pos->next) {
        pool_job_t *job = LIST_ENTRY(pos, pool_job_t, link);
        if (job->acquire_deadline_us < earliest)
            earliest = job->acquire_deadline_us;
    }
    if (earliest == UINT64_MAX) {
        stop_waiter_timer(p);
        return;
    }
    if (p->waiter_timer == NULL) {
        /* the first wait: most pools (probed, rarely busy) never need it */
        p->waiter_timer = pgcm__malloc(sizeof(*p->waiter_timer));
        if (p->waiter_timer == NULL)
            return; /* the next request that waits tries again */
        uv_timer_init(p->env->loop, p->waiter_timer);
        p->waiter_timer->data = p;
    }
    p->waiter_due_us = earliest;
    uint64_t now = now_us(p);
    uint64_t ms = earliest > now ? (earliest - now + 999) / 1000 : 0;
    uv_timer_start(p->waiter_timer, on_waiter_timer, ms, 0);
}

static void fail_waiters(pool_t *p, int code, const char *msg)
{
    while (!list_empty(&p->waiters)) {
        pool_job_t *job = LIST_ENTRY(list_first(&p->waiters), pool_job_t, link);
        waiter_remove(p, job);
        job_fail(p, job, code, msg, "");
    }
    stop_waiter_timer(p);
}

/* Connections being opened that waiters will get. */
static int conns_on_the_way(const pool_t *p)
{
    int k = 0;
    for (const list_node_t *pos = p->lists[POOL_CONNECTING].next;
         pos != &p->lists[POOL_CONNECTING]; pos = pos->next) {
        const pconn_t *c = LIST_ENTRY(pos, pconn_t, conn.link);
        if (!c->dedicated)
            k++;
    }
    return k;
}

/* The busy connection with the fewest statements in flight that takes
 * one more in pipeline mode, or NULL. */
static pconn_t *least_loaded(pool_t *p)
{
    pconn_t *best = NULL;
    int best_n = p->depth;
    for (list_node_t *pos = p->lists[POOL_BUSY].next;
         pos != &p->lists[POOL_BUSY]; pos = pos->next) {
        pconn_t *c = LIST_ENTRY(pos, pconn_t, conn.link);
        int n = pgcm__conn_pipeline_count(&c->conn);
        if (n < best_n && c->checkout_slot == NULL && c->probe_slot < 0 &&
            pgcm__conn_pipeline_room(&c->conn, p->depth)) {
            best = c;
            best_n = n;
        }
    }
    return best;
}

/* Pipeline waiting requests behind busy connections' statements. Not
 * while a request that cannot be pipelined waits: the connections must
 * drain for it. */
static void pipeline_waiters(pool_t *p)
{
    while (p->n_waiters > 0 && p->n_plain_waiters == 0 && p->live &&
           p->accepting) {
        pconn_t *c = least_loaded(p);
        if (c == NULL)
            break;
        pool_job_t *job = LIST_ENTRY(list_first(&p->waiters), pool_job_t, link);
        waiter_remove(p, job);
        count_acquire(p, job);
        pipeline_start(p, c, job);
    }
}

/* Give idle connections to waiters (oldest waiter first, most recently
 * used connection first), pipeline the rest when on; open new ones while
 * under max. */
static void pool_dispatch(pool_t *p)
{
    while (p->n_waiters > 0 && p->counts[POOL_IDLE] > 0) {
        pconn_t *c =
            LIST_ENTRY(list_first(&p->lists[POOL_IDLE]), pconn_t, conn.link);
        pool_job_t *job = LIST_ENTRY(list_first(&p->waiters), pool_job_t, link);
        waiter_remove(p, job);
        job_assign(p, c, job);
    }
    if (p->depth > 1)
        pipeline_waiters(p);
    if (p->n_waiters == 0) {
        if (p->waiter_due_us != 0)
            stop_waiter_timer(p);
    } else if (p->live && p->accepting) {
        /* Requests still wait: new connections, while under max. With
         * pipelining each takes up to depth of them. */
        int per_conn = p->depth > 1 && p->n_plain_waiters == 0 ? p->depth : 1;
        int want =
            (p->n_waiters + per_conn - 1) / per_conn - conns_on_the_way(p);
        while (want-- > 0 && pgcm__pool_total(p) < p->po->max) {
            if (pool_open(p, false, -1, 0) == NULL)
                break;
        }
    }
    changed(p);
}

void pgcm__pool_enqueue(pool_t *p, pool_job_t *job)
{
    int acquire_ms = job->kind == JOB_CHECKOUT && job->acquire_timeout_ms > 0
                         ? job->acquire_timeout_ms
                         : p->po->acquire_timeout_ms;
    uint64_t deadline = job->submit_us + (uint64_t)acquire_ms * 1000;
    job->acquire_deadline_us = deadline;
    job->pipelinable =
        p->depth > 1 && job->kind == JOB_QUERY && job->on_row == NULL;
    job->pipelined = job->requeued = false;
    waiter_add(p, job, false);
    pool_dispatch(p); /* may run (and finish) job: do not touch it below */
    if (p->n_waiters > 0 &&
        (p->waiter_due_us == 0 || deadline < p->waiter_due_us))
        arm_waiter_timer(p);
}

int pgcm__pool_run_on(pool_t *p, pconn_t *c, pool_job_t *job)
{
    job->conn = NULL;
    job->pipelinable = job->pipelined = false;
    if (c->list == POOL_BUSY && c->job == NULL && pgcm__conn_ready(&c->conn)) {
        count_acquire(p, job);
        job_start(p, c, job);
        return PGCM_OK;
    }
    /* The previous statement was answered (timed out or cancelled) but
     * its cancel is outstanding: run this one once the connection is
     * clean. Anything else is an overlapping call. */
    if (c->list == POOL_CANCELLING && c->next_job == NULL) {
        c->next_job = job;
        return PGCM_OK;
    }
    return PGCM_EINVAL;
}

/* A pipelined job on c is answered (timeout, cancel): nothing new goes
 * on c until its pipeline drains; the job's statement is cancelled once
 * it is the one running. */
static void pipeline_abandon(pconn_t *c, pool_job_t *job)
{
    pool_t *p = c->pool;
    pgcm__conn_pipeline_abandon(&c->conn, job, p->env->opts->cancel_grace_ms,
                                !p->live);
    if (c->list == POOL_BUSY)
        pool_move(c, POOL_CANCELLING);
}

/* Fail every job still pipelined on c. */
static void fail_pipeline(pool_t *p, pconn_t *c, int code, const char *msg,
                          const char *sqlstate)
{
    pool_job_t *job;
    while ((job = pgcm__conn_pipeline_take(&c->conn)) != NULL)
        job_fail(p, job, code, msg, sqlstate);
}

/* Cancel c's statement on the server (the job is answered already). */
static void conn_cancel(pconn_t *c)
{
    pool_t *p = c->pool;
    pool_move(c, POOL_CANCELLING);
    pgcm__conn_cancel(&c->conn, p->env->opts->cancel_grace_ms, !p->live);
}

void pgcm__pool_cancel_job(pool_t *p, pool_job_t *job, int status,
                           const char *msg)
{
    if (job->waiting) {
        waiter_remove(p, job);
        job_fail(p, job, status, msg, "");
        changed(p);
        return;
    }
    pconn_t *c = job->conn;
    if (c == NULL)
        return;
    if (job->pipelined) {
        pipeline_abandon(c, job);
        job_fail(p, job, status, msg, "");
        changed(p);
        return;
    }
    job_fail(p, job, status, msg, "");
    conn_cancel(c);
    changed(p);
}

void pgcm__pool_checkout_release(pool_t *p, pconn_t *c, bool discard)
{
    c->checkout_slot = NULL;
    if (c->next_job != NULL) {
        /* released with a statement still queued on it: an overlap */
        pool_close(c, "released with a statement queued", true);
    } else if (c->list == POOL_CANCELLING && !discard) {
        return; /* back to the pool once its cancel settles */
    } else if (discard || c->job != NULL || c->list == POOL_CANCELLING ||
               pgcm__conn_transaction_status(&c->conn) != PQTRANS_IDLE) {
        if (c->job != NULL) {
            pool_job_t *job = c->job;
            char msg[200];
            snprintf(msg, sizeof(msg),
                     "node '%s': the checkout was released while the "
                     "statement ran",
                     p->node_id);
            job_fail(p, job, PGCM_ECANCELED, msg, "");
            conn_cancel(c);
        }
        pool_close(c,
                   discard ? "discarded by the user"
                           : "released inside a transaction",
                   true);
    } else {
        conn_ready(c);
        return;
    }
    pgcm__pool_fill(p);
}

/* ---- connection hand-back ------------------------------------------------ */

/* c is connected and free: to a waiter, to the idle list, or closed. */
static void conn_ready(pconn_t *c)
{
    pool_t *p = c->pool;
    if (!p->live) {
        pool_close(c, "node removed", false);
        return;
    }
    if (c->dedicated) {
        /* Beyond max: kept only as the node's probe connection. */
        if (p->counts[POOL_PARKED] > 0 || pgcm__pool_total(p) < p->po->max) {
            pool_close(c, "probe connection no longer needed", false);
            return;
        }
        pool_move(c, POOL_PARKED);
        c->idle_since_us = now_us(p);
        return;
    }
    if (c->expires_us != 0 && now_us(p) >= c->expires_us && p->n_waiters == 0) {
        pool_close(c, "max lifetime reached", false);
        pgcm__pool_fill(p);
        return;
    }
    pool_move(c, POOL_IDLE);
    pool_dispatch(p);
}

/* A probe is done with c: to the idle list's least recently used end with
 * its idle time kept (so probes neither reorder the pool nor keep surplus
 * connections from being reaped), or on as conn_ready decides. */
static void probe_hand_back(pconn_t *c)
{
    pool_t *p = c->pool;
    if (c->dedicated || c->list == POOL_PARKED || p->n_waiters > 0 ||
        !p->live || (c->expires_us != 0 && now_us(p) >= c->expires_us)) {
        if (c->list == POOL_PARKED && p->live)
            return; /* stays parked for the next probe */
        conn_ready(c);
        return;
    }
    uint64_t idle_since = c->idle_since_us != 0 ? c->idle_since_us : now_us(p);
    pool_move(c, POOL_IDLE);
    list_remove(&c->conn.link);
    list_push_back(&p->lists[POOL_IDLE], &c->conn.link);
    c->idle_since_us = idle_since;
    changed(p);
}

/* ---- probes -------------------------------------------------------------- */

static void probe_report(pool_t *p, int slot, int code, uint64_t latency_us,
                         const char *msg, const char *sqlstate)
{
    p->probes[slot].active = false;
    p->probes[slot].conn = NULL;
    pool_report_t rep = {.event = POOL_EV_PROBE_DONE,
                         .code = code,
                         .msg = msg ? msg : "",
                         .sqlstate = sqlstate ? sqlstate : "",
                         .slot = slot,
                         .latency_us = latency_us};
    p->upcall(p, &rep);
}

static void probe_send(pool_t *p, int slot, pconn_t *c)
{
    pool_probe_t *pr = &p->probes[slot];
    char msg[256];
    c->probe_slot = slot;
    pr->conn = c;
    if (pgcm__conn_send(&c->conn, pr->sql, 0, NULL, pr->timeout_ms, false,
                        pr->correlation_id, msg, sizeof(msg)) != PGCM_OK) {
        pool_close(c, msg, false);
        probe_report(p, slot, PGCM_ECONN, 0, msg, "");
    }
}

/* c's probe is over (failed or abandoned) but its statement is out: c
 * waits on for the answer, which hands it back (on_done), for at most
 * health_check_timeout_ms more (on_timeout). */
static void wait_late(pconn_t *c)
{
    if (!c->late_beat) /* a later probe that adopted it sent nothing */
        c->late_is_probe = c->pool->probes[c->probe_slot].sql[0] != '\0';
    c->probe_slot = -1;
    c->late_beat = true;
    pgcm__conn_extend_deadline(&c->conn,
                               c->pool->env->opts->health_check_timeout_ms);
}

/* A connection waiting for a failed or abandoned probe's late answer
 * (wait_late) with no probe on it now, or NULL. */
static pconn_t *late_beat_conn(pool_t *p)
{
    for (list_node_t *pos = p->lists[POOL_BUSY].next;
         pos != &p->lists[POOL_BUSY]; pos = pos->next) {
        pconn_t *c = LIST_ENTRY(pos, pconn_t, conn.link);
        if (c->late_beat && c->probe_slot < 0)
            return c;
    }
    return NULL;
}

bool pgcm__pool_probe(pool_t *p, int slot, const char *sql, int timeout_ms,
                      bool heartbeat, uint64_t correlation_id)
{
    pconn_t *c = NULL;
    if (p->counts[POOL_IDLE] > 0) {
        c = LIST_ENTRY(list_last(&p->lists[POOL_IDLE]), pconn_t, conn.link);
    } else {
        for (list_node_t *pos = p->lists[POOL_PARKED].next;
             pos != &p->lists[POOL_PARKED]; pos = pos->next) {
            pconn_t *b = LIST_ENTRY(pos, pconn_t, conn.link);
            if (b->probe_slot < 0 && pgcm__conn_ready(&b->conn)) {
                c = b;
                break;
            }
        }
    }
    pconn_t *late = c == NULL ? late_beat_conn(p) : NULL;
    if (heartbeat && c == NULL && late == NULL &&
        p->counts[POOL_BUSY] + p->counts[POOL_CANCELLING] == 0)
        return false;
    pool_probe_t *pr = &p->probes[slot];
    pr->active = true;
    pr->sql = sql;
    pr->timeout_ms = timeout_ms;
    pr->correlation_id = correlation_id;
    pr->start_us = now_us(p);
    if (late != NULL) {
        /* An earlier probe's answer is still due on it: that answer,
         * within this probe's deadline, is this probe's (no new connection
         * to a server that may only be slow). No answer in time fails the
         * probe and leaves the connection waiting (on_timeout). */
        late->probe_slot = slot;
        pr->conn = late;
        pgcm__conn_extend_deadline(&late->conn, timeout_ms);
        return true;
    }
    if (c != NULL) {
        if (c->list == POOL_IDLE)
            pool_move(c, POOL_BUSY);
        probe_send(p, slot, c);
        return true;
    }
    /* Every connection is busy (a long query could hang on a frozen
     * server forever): the probe opens one of its own, part of the pool
     * while under max, with the probe's deadline. */
    bool dedicated = pgcm__pool_total(p) >= p->po->max;
    c = pool_open(p, dedicated, slot, timeout_ms);
    if (c == NULL) {
        pr->active = false;
        return false;
    }
    pr->conn = c;
    return true;
}

void pgcm__pool_probe_abandon(pool_t *p, int slot, const char *why)
{
    pool_probe_t *pr = &p->probes[slot];
    pconn_t *c = pr->conn;
    pr->active = false;
    pr->conn = NULL;
    if (c == NULL)
        return;
    if (c->list == POOL_BUSY && c->probe_slot == slot) {
        /* its statement is out: wait for the late answer as for a late
         * heartbeat's (on_timeout) rather than reconnect */
        wait_late(c);
        return;
    }
    pool_close(c, why, false);
}

/* ---- connection reports -------------------------------------------------- */

static void on_connected(pconn_t *c)
{
    pool_t *p = c->pool;
    handshake_release(c);
    uint64_t now = now_us(p);
    int64_t life = (int64_t)p->po->max_lifetime_ms * 1000;
    double jitter = 0.9 + 0.2 * pgcm__random01(); /* +-10% */
    c->opened = true;
    c->created_us = now;
    c->expires_us = now + (uint64_t)((double)life * jitter);
    p->stats.conns_opened++;
    pool_report_t rep = {.event = POOL_EV_CONNECTED,
                         .msg = "",
                         .sqlstate = "",
                         .slot = c->probe_slot,
                         .server_version = pgcm__conn_server_version(&c->conn)};
    p->upcall(p, &rep);
    if (c->list == POOL_CLOSING)
        return;
    if (c->probe_slot >= 0) {
        int slot = c->probe_slot;
        if (!p->probes[slot].active || !p->live) {
            c->probe_slot = -1;
            conn_ready(c);
            return;
        }
        pool_move(c, c->dedicated ? POOL_PARKED : POOL_BUSY);
        probe_send(p, slot, c);
        return;
    }
    conn_ready(c);
}

static void on_connect_failed(pconn_t *c, const conn_report_t *rep)
{
    pool_t *p = c->pool;
    int slot = c->probe_slot;
    p->stats.connect_errors++;
    pool_close(c, rep->msg, false);
    /* Waiters fail at once when nothing else can serve them. */
    if (p->n_waiters > 0 && p->counts[POOL_IDLE] == 0 &&
        p->counts[POOL_BUSY] + p->counts[POOL_CANCELLING] == 0 &&
        conns_on_the_way(p) == 0) {
        char msg[320];
        snprintf(msg, sizeof(msg), "node '%s': cannot connect: %s", p->node_id,
                 rep->msg);
        fail_waiters(p, rep->code, msg);
    }
    if (slot >= 0) {
        probe_report(p, slot, rep->code, 0, rep->msg, rep->sqlstate);
        return;
    }
    pool_report_t up_rep = {.event = POOL_EV_CONNECT_FAILED,
                            .code = rep->code,
                            .msg = rep->msg,
                            .sqlstate = rep->sqlstate,
                            .slot = -1};
    p->upcall(p, &up_rep);
}

static bool opens_transaction(PGresult *r)
{
    const char *st = r ? PQcmdStatus(r) : "";
    return strcmp(st, "BEGIN") == 0 || strcmp(st, "START TRANSACTION") == 0;
}

/* A pipelined statement ended (rep->tag is its job). */
static void on_pipeline_done(pconn_t *c, const conn_report_t *rep)
{
    pool_t *p = c->pool;
    pool_job_t *job = rep->tag;
    up(p, POOL_EV_HEARD);
    job->conn = NULL;
    job->pipelined = false;
    if (rep->requeue && !job->requeued) {
        /* Our cancel of the statement ahead of it hit this one instead:
         * it was rolled back, so it goes again, first in the queue. */
        PQclear(rep->result);
        PQclear(rep->error);
        job->requeued = true;
        p->stats.requeued++;
        int acquire_ms = p->po->acquire_timeout_ms;
        job->acquire_deadline_us = now_us(p) + (uint64_t)acquire_ms * 1000;
        waiter_add(p, job, true);
        if (p->waiter_due_us == 0 ||
            job->acquire_deadline_us < p->waiter_due_us)
            arm_waiter_timer(p);
        if (pgcm__conn_ready(&c->conn))
            conn_ready(c); /* dispatches */
        else
            pool_dispatch(p);
        return;
    }
    p->stats.queries++;
    if (rep->error != NULL)
        p->stats.errors++;
    int server_version = pgcm__conn_server_version(&c->conn);
    if (pgcm__conn_ready(&c->conn)) {
        if (pgcm__conn_transaction_status(&c->conn) != PQTRANS_IDLE) {
            pool_close(c, "left inside a transaction", true);
            pgcm__pool_fill(p);
        } else {
            conn_ready(c);
        }
    } else if (rep->error == NULL && opens_transaction(rep->result)) {
        /* What was pipelined behind it runs inside that transaction:
         * closing the connection rolls it back, and those requests fail. */
        char msg[300];
        snprintf(msg, sizeof(msg),
                 "node '%s': pipelined behind a statement that opened a "
                 "transaction; the connection was discarded, which rolled "
                 "back what ran inside it (do not pipeline BEGIN)",
                 p->node_id);
        fail_pipeline(p, c, PGCM_ECONN, msg, "");
        pool_close(c, "a pipelined statement opened a transaction", true);
        pgcm__pool_fill(p);
    } else if (p->n_waiters > 0) {
        pool_dispatch(p); /* room on c */
    }
    job_outcome_t out = {.status = rep->error ? PGCM_ESQL : PGCM_OK,
                         .message = "",
                         .sqlstate = "",
                         .result = rep->result,
                         .error = rep->error,
                         .server_version = server_version};
    job->done(job, &out);
}

static void on_done(pconn_t *c, const conn_report_t *rep)
{
    pool_t *p = c->pool;
    if (rep->tag != NULL) {
        on_pipeline_done(c, rep);
        return;
    }
    up(p, POOL_EV_HEARD);
    c->late_beat = false;
    if (c->probe_slot >= 0) {
        int slot = c->probe_slot;
        char msg[256] = "";
        char sqlstate[6] = "";
        int status = PGCM_OK;
        if (rep->error != NULL) {
            status = PGCM_ESQL;
            pgcm__pq_error_parse(PQresultErrorMessage(rep->error), msg,
                                 sizeof(msg), sqlstate);
        }
        PQclear(rep->error);
        PQclear(rep->result);
        c->probe_slot = -1;
        probe_hand_back(c); /* before: the probe may reuse it */
        probe_report(p, slot, status, rep->elapsed_us, msg, sqlstate);
        return;
    }
    pool_job_t *job = c->job;
    pgcm__log_timed(p->env->opts, PGCM_LOG_DEBUG, p->node_id,
                    "connection_released", c->conn.correlation_id, 0, "",
                    (int64_t)rep->elapsed_us, "statement done after %llu us",
                    (unsigned long long)rep->elapsed_us);
    /* Count it and give the connection back first (so stats and waiters
     * see it), then tell the job. */
    if (job != NULL) {
        p->stats.queries++;
        if (rep->error != NULL)
            p->stats.errors++;
    }
    c->job = NULL;
    if (c->checkout_slot != NULL) {
        changed(p);
    } else if (pgcm__conn_transaction_status(&c->conn) != PQTRANS_IDLE) {
        /* left inside a transaction (a BEGIN through pgcm_query): never
         * hand that state to the next caller */
        pool_close(c, "left inside a transaction", true);
        pgcm__pool_fill(p);
    } else {
        conn_ready(c);
    }
    if (job == NULL) {
        PQclear(rep->result);
        PQclear(rep->error);
        return;
    }
    job_outcome_t out = {
        .status = rep->error ? PGCM_ESQL : PGCM_OK,
        .message = "",
        .sqlstate = "",
        .result = rep->result,
        .error = rep->error,
        .server_version =
            c->list != POOL_CLOSING ? pgcm__conn_server_version(&c->conn) : 0};
    job->conn = NULL; /* counted above */
    job->done(job, &out);
}

static void on_timeout(pconn_t *c, const conn_report_t *rep)
{
    pool_t *p = c->pool;
    char msg[256];
    if (c->late_beat && c->probe_slot < 0) {
        snprintf(msg, sizeof(msg), "%s got no answer within %d ms",
                 c->late_is_probe ? "health probe" : "heartbeat",
                 (int)(rep->elapsed_us / 1000));
        pool_close(c, msg, false);
        pgcm__pool_fill(p); /* back to min, as after any other close */
        return;
    }
    if (c->probe_slot >= 0) {
        int slot = c->probe_slot;
        bool heartbeat = p->probes[slot].sql[0] == '\0';
        snprintf(msg, sizeof(msg), "%s got no answer within %d ms",
                 heartbeat ? "heartbeat" : "health probe",
                 (int)(rep->elapsed_us / 1000));
        if (c->late_beat || (heartbeat && c->list == POOL_BUSY)) {
            /* The probe failed (the node turns suspect), but the
             * connection waits on for the late answer: an overloaded server
             * (or PgBouncer) that answers late gets no new handshake, which
             * closing would cost it and every such node, feeding the
             * overload. A suspect probe then takes that answer
             * (pgcm__pool_probe); the answer hands the connection back
             * (on_done); the node turning unhealthy closes it, or, with no
             * probe on it, health_check_timeout_ms more without one. */
            wait_late(c);
            probe_report(p, slot, PGCM_ETIMEDOUT, 0, msg, "");
            return;
        }
        pool_close(c, msg, false);
        probe_report(p, slot, PGCM_ETIMEDOUT, 0, msg, "");
        return;
    }
    pool_job_t *job = rep->tag != NULL ? rep->tag : c->job;
    if (job != NULL)
        snprintf(msg, sizeof(msg),
                 "node '%s': query timed out after %d ms; the statement was "
                 "cancelled on the server",
                 p->node_id, job->timeout_ms);
    if (rep->tag != NULL) {
        pipeline_abandon(c, job);
        job_fail(p, job, PGCM_ETIMEDOUT, msg, "");
        changed(p);
        return;
    }
    if (job != NULL)
        job_fail(p, job, PGCM_ETIMEDOUT, msg, "");
    conn_cancel(c);
    changed(p);
}

static void on_failed(pconn_t *c, const conn_report_t *rep)
{
    pool_t *p = c->pool;
    int slot = c->probe_slot;
    pool_job_t *job = c->job;
    char msg[320];
    snprintf(msg, sizeof(msg), "node '%s': %s", p->node_id, rep->msg);
    if (job != NULL)
        job_fail(p, job, rep->code, msg, rep->sqlstate);
    fail_pipeline(p, c, rep->code, msg, rep->sqlstate);
    pool_close(c, rep->msg, rep->discard);
    if (slot >= 0) {
        probe_report(p, slot, PGCM_ECONN, 0, rep->msg, rep->sqlstate);
    } else if (!rep->discard || rep->code == PGCM_ETIMEDOUT) {
        /* evidence, unless we threw it away ourselves for our own reason */
        pool_report_t up_rep = {.event = POOL_EV_BROKEN,
                                .code = rep->code,
                                .msg = rep->msg,
                                .sqlstate = rep->sqlstate,
                                .slot = -1};
        p->upcall(p, &up_rep);
    }
    pgcm__pool_fill(p);
}

static void on_clean(pconn_t *c)
{
    pool_t *p = c->pool;
    if (c->checkout_slot != NULL) {
        pool_move(c, POOL_BUSY);
        pool_job_t *next = c->next_job;
        c->next_job = NULL;
        if (next != NULL) {
            count_acquire(p, next);
            job_start(p, c, next);
        }
        changed(p);
        return;
    }
    if (pgcm__conn_transaction_status(&c->conn) != PQTRANS_IDLE) {
        /* an abandoned pipelined BEGIN */
        pool_close(c, "left inside a transaction", true);
        pgcm__pool_fill(p);
        return;
    }
    conn_ready(c);
}

static void on_row(pconn_t *c, const conn_report_t *rep)
{
    pool_t *p = c->pool;
    pool_job_t *job = c->job;
    up(p, POOL_EV_HEARD); /* rows flowing: the server is alive */
    if (job == NULL || job->on_row == NULL)
        return;
    int stop = job->on_row(p->node_id, rep->row, job->row_user);
    pgcm__env_refresh_clock(p->env); /* the user's code took its time */
    if (stop != 0 && c->job == job) {
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "node '%s': the row callback stopped the statement; it was "
                 "cancelled on the server",
                 p->node_id);
        job_fail(p, job, PGCM_ECANCELED, msg, "");
        conn_cancel(c);
    }
}

static void on_conn(conn_t *conn, const conn_report_t *rep)
{
    pconn_t *c = conn->owner;
    switch (rep->event) {
    case CONN_EV_CONNECTED:
        on_connected(c);
        break;
    case CONN_EV_CONNECT_FAILED:
        on_connect_failed(c, rep);
        break;
    case CONN_EV_ROW:
        on_row(c, rep);
        break;
    case CONN_EV_DONE:
        on_done(c, rep);
        break;
    case CONN_EV_TIMEOUT:
        on_timeout(c, rep);
        break;
    case CONN_EV_CLEAN:
        on_clean(c);
        break;
    case CONN_EV_FAILED:
        on_failed(c, rep);
        break;
    case CONN_EV_CLOSED:
        pool_free_conn(c);
        return;
    }
}

/* ---- the pool as a whole ------------------------------------------------- */

void pgcm__pool_init(pool_t *p, loop_env_t *env, const char *node_id,
                     const pgcm_pool_options_t *po, int connect_timeout_ms,
                     struct cancel_gate *gate, pool_params_fn params,
                     pool_upcall_fn upcall, void *owner)
{
    memset(p, 0, sizeof(*p));
    list_init(&p->changed_link);
    p->env = env;
    p->node_id = node_id;
    p->po = po;
    p->connect_timeout_ms = connect_timeout_ms;
    p->gate = gate;
    p->params = params;
    p->upcall = upcall;
    p->owner = owner;
    p->live = true;
    int depth = po->pipeline_depth != 0 ? po->pipeline_depth
                                        : env->opts->pipeline_depth;
    p->depth = depth >= 2 ? depth : 0;
    for (int i = 0; i < POOL_NLISTS; i++)
        list_init(&p->lists[i]);
    list_init(&p->waiters);
}

void pgcm__pool_close_handles(pool_t *p)
{
    if (list_linked(&p->changed_link))
        list_remove(&p->changed_link);
    list_init(&p->changed_link);
    /* The timer frees itself once closed; nothing waits for it, so the
     * pool may go first. */
    if (p->waiter_timer != NULL) {
        p->waiter_timer->data = NULL;
        uv_close((uv_handle_t *)p->waiter_timer, waiter_timer_closed);
        p->waiter_timer = NULL;
        p->waiter_due_us = 0;
    }
}

void pgcm__pool_params_ready(pool_t *p, bool ok, int code, const char *msg)
{
    list_node_t *pos, *tmp;
    LIST_FOREACH_SAFE(pos, tmp, &p->lists[POOL_CONNECTING])
    {
        pconn_t *c = LIST_ENTRY(pos, pconn_t, conn.link);
        if (c->conn.phase != CONN_WAITING || list_linked(&c->start_link))
            continue; /* not waiting for the lookup, or for its turn */
        if (ok)
            conn_start(c);
        else
            pgcm__conn_fail_start(&c->conn, code, msg);
        if (!p->live)
            break;
    }
}

void pgcm__pool_fill(pool_t *p)
{
    if (!p->live || !p->reachable)
        return;
    while (pgcm__pool_total(p) < p->po->min) {
        if (pool_open(p, false, -1, 0) == NULL)
            break;
    }
    if (p->n_waiters > 0)
        pool_dispatch(p);
    changed(p);
}

/* Close every connection of the list (running jobs fail with code). */
static void close_list(pool_t *p, pool_list_id_t id, int code, const char *msg)
{
    while (!list_empty(&p->lists[id])) {
        pconn_t *c = LIST_ENTRY(list_first(&p->lists[id]), pconn_t, conn.link);
        pool_job_t *job = c->job;
        int slot = c->probe_slot;
        bool piped = pgcm__conn_pipeline_count(&c->conn) > 0;
        if (job != NULL)
            job_fail(p, job, code, msg, "");
        if (piped)
            fail_pipeline(p, c, code, msg, "");
        if (job != NULL || piped)
            pgcm__conn_cancel(&c->conn, p->env->opts->cancel_grace_ms,
                              !p->live);
        if (slot >= 0)
            p->probes[slot].active = false;
        pool_close(c, msg, false);
    }
}

void pgcm__pool_fail_all(pool_t *p, int code, const char *msg)
{
    char text[400];
    snprintf(text, sizeof(text), "node '%s' is unhealthy: %s", p->node_id, msg);
    fail_waiters(p, PGCM_EUNAVAIL, text);
    snprintf(text, sizeof(text),
             "node '%s' became unhealthy while the query ran: %s", p->node_id,
             msg);
    (void)code;
    close_list(p, POOL_IDLE, PGCM_EUNAVAIL, text);
    close_list(p, POOL_CONNECTING, PGCM_EUNAVAIL, text);
    close_list(p, POOL_BUSY, PGCM_EUNAVAIL, text);
    close_list(p, POOL_CANCELLING, PGCM_EUNAVAIL, text);
    close_list(p, POOL_PARKED, PGCM_EUNAVAIL, text);
    changed(p);
}

void pgcm__pool_drain(pool_t *p)
{
    p->live = false;
    char msg[200];
    snprintf(msg, sizeof(msg),
             "node '%s' was removed before a connection became free",
             p->node_id);
    fail_waiters(p, PGCM_ESHUTDOWN, msg);
    for (int i = 0; i < POOL_PROBE_SLOTS; i++)
        p->probes[i].active = false;
    close_list(p, POOL_IDLE, PGCM_ESHUTDOWN, "node removed");
    close_list(p, POOL_CONNECTING, PGCM_ESHUTDOWN, "node removed");
    close_list(p, POOL_PARKED, PGCM_ESHUTDOWN, "node removed");
    /* probes and idle checkouts are not user work */
    list_node_t *pos, *tmp;
    LIST_FOREACH_SAFE(pos, tmp, &p->lists[POOL_BUSY])
    {
        pconn_t *c = LIST_ENTRY(pos, pconn_t, conn.link);
        if (c->job == NULL && c->checkout_slot == NULL &&
            pgcm__conn_pipeline_count(&c->conn) == 0)
            pool_close(c, "node removed", false);
    }
    changed(p);
    if (pgcm__pool_empty(p))
        up(p, POOL_EV_EMPTY);
}

void pgcm__pool_abort_busy(pool_t *p)
{
    char msg[200];
    snprintf(msg, sizeof(msg),
             "node '%s': query cancelled because the node is being removed "
             "or the manager shut down",
             p->node_id);
    close_list(p, POOL_BUSY, PGCM_ESHUTDOWN, msg);
    close_list(p, POOL_CANCELLING, PGCM_ESHUTDOWN, msg);
    changed(p);
}

void pgcm__pool_maintain(pool_t *p, uint64_t now)
{
    const pgcm_pool_options_t *po = p->po;
    uint64_t idle_limit = (uint64_t)po->idle_timeout_ms * 1000;
    bool changed = false;

    /* Idle connections, least recently used first (the back). */
    list_node_t *head = &p->lists[POOL_IDLE];
    list_node_t *pos, *tmp;
    for (pos = head->prev, tmp = pos->prev; pos != head;
         pos = tmp, tmp = pos->prev) {
        pconn_t *c = LIST_ENTRY(pos, pconn_t, conn.link);
        if (c->expires_us != 0 && now >= c->expires_us) {
            pool_close(c, "max lifetime reached", false);
            changed = true;
        } else if (now - c->idle_since_us >= idle_limit &&
                   pgcm__pool_total(p) > po->min) {
            pool_close(c, "idle timeout", false);
            changed = true;
        }
    }

    /* Checkouts held too long. */
    uint64_t leak_limit = (uint64_t)po->leak_threshold_ms * 1000;
    for (pos = p->lists[POOL_BUSY].next; pos != &p->lists[POOL_BUSY];
         pos = pos->next) {
        pconn_t *c = LIST_ENTRY(pos, pconn_t, conn.link);
        if (c->checkout_slot == NULL || c->leak_warned ||
            now - c->checkout_since_us < leak_limit)
            continue;
        c->leak_warned = true;
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "a connection has been checked out for %d ms (leak "
                 "threshold %d ms); release it with pgcm_checkout_release()",
                 (int)((now - c->checkout_since_us) / 1000),
                 po->leak_threshold_ms);
        pool_report_t rep = {.event = POOL_EV_CHECKOUT_LEAK,
                             .msg = msg,
                             .sqlstate = "",
                             .slot = -1};
        p->upcall(p, &rep);
    }

    /* Parked probe connections no longer needed. */
    LIST_FOREACH_SAFE(pos, tmp, &p->lists[POOL_PARKED])
    {
        pconn_t *c = LIST_ENTRY(pos, pconn_t, conn.link);
        if (c->probe_slot < 0 && (now - c->idle_since_us >= idle_limit ||
                                  pgcm__pool_total(p) < po->max)) {
            pool_close(c, "probe connection no longer needed", false);
            changed = true;
        }
    }
    if (changed)
        pgcm__pool_fill(p);
}
