/* SPDX-License-Identifier: MIT */
/*
 * manager.c - the manager: its loop thread, the command queue through which
 * every other thread reaches the loop, the janitor sweep, node add/remove/
 * apply, shutdown, and the public entry points that post commands and wait
 * (blocking calls) or return at once (callback variants).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "loop.h"

#define JANITOR_MS     250
#define CANCEL_WAIT_MS 1000 /* at shutdown, for cancels still being sent */

/* ---- completions ----------------------------------------------------- */

void pgcm__completion_init(completion_t *c)
{
    memset(c, 0, sizeof(*c));
    uv_sem_init(&c->sem, 0);
}

void pgcm__completion_wait(completion_t *c)
{
    uv_sem_wait(&c->sem);
}

void pgcm__completion_post(completion_t *c, int status, void *out)
{
    c->status = status;
    c->out = out;
    uv_sem_post(&c->sem);
}

void pgcm__completion_destroy(completion_t *c)
{
    uv_sem_destroy(&c->sem);
}

/* ---- commands -------------------------------------------------------- */

cmd_t *pgcm__cmd_new(cmd_type_t type)
{
    cmd_t *c = pgcm__calloc(1, sizeof(*c));
    if (c != NULL) {
        list_init(&c->link);
        c->type = type;
    }
    return c;
}

void pgcm__cmd_free(cmd_t *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nspecs; i++)
        pgcm__spec_free(c->specs[i]);
    pgcm__free(c->specs);
    pgcm__free(c->node_id);
    pgcm__free(c->sql);
    for (int i = 0; c->params && i < c->nparams; i++)
        pgcm__free(c->params[i]);
    pgcm__free(c->params);
    for (size_t i = 0; c->target.node_ids && i < c->target.node_count; i++)
        pgcm__free((char *)c->target.node_ids[i]);
    pgcm__free((void *)c->target.node_ids);
    pgcm__free(c);
}

bool pgcm__on_loop(const pgcm_manager_t *mgr)
{
    uv_thread_t self = uv_thread_self();
    return uv_thread_equal(&self, &mgr->loop_thread_self);
}

uint64_t pgcm__new_id(pgcm_manager_t *mgr)
{
    return atomic_fetch_add(&mgr->next_id, 1);
}

static void fail_queued_commands(pgcm_manager_t *mgr);

void pgcm__post(pgcm_manager_t *mgr, cmd_t *cmd)
{
    pthread_mutex_lock(&mgr->cmd_lock);
    list_push_back(&mgr->cmds, &cmd->link);
    bool closing = atomic_load(&mgr->state) >= MGR_CLOSING;
    if (!closing)
        uv_async_send(&mgr->wakeup);
    pthread_mutex_unlock(&mgr->cmd_lock);
    if (closing) /* lost the race with shutdown: answer it here */
        fail_queued_commands(mgr);
}

node_t *pgcm__find_node(pgcm_manager_t *mgr, const char *id)
{
    /* The loop is the only writer, so it reads without the lock. */
    return pgcm__strmap_get(&mgr->nodes_by_id, id);
}

/* ---- nodes: add, remove, apply (loop) -------------------------------- */

static int add_node(pgcm_manager_t *mgr, const pgcm_node_spec_t *spec,
                    pgcm_error_t *err)
{
    if (pgcm__find_node(mgr, spec->id) != NULL)
        return pgcm__error_set(err, PGCM_EEXIST, spec->id,
                               "a node with id '%s' already exists; remove it "
                               "first or choose another id",
                               spec->id);
    node_t *n = pgcm__node_new(mgr, spec);
    if (n == NULL)
        return pgcm__error_set(err, PGCM_ENOMEM, spec->id,
                               "out of memory adding node '%s'", spec->id);
    pthread_mutex_lock(&mgr->snap_lock);
    int rc = pgcm__strmap_put(&mgr->nodes_by_id, n->id, n);
    if (rc == PGCM_OK) {
        mgr->node_count++;
        list_push_back(&mgr->nodes, &n->link);
    }
    pthread_mutex_unlock(&mgr->snap_lock);
    if (rc != PGCM_OK) {
        /* never started: close its timers before freeing */
        n->life = NODE_CLOSED;
        list_push_back(&mgr->closing_nodes, &n->link);
        pgcm__node_discard(n);
        return pgcm__error_set(err, PGCM_ENOMEM, spec->id,
                               "out of memory adding node '%s'", spec->id);
    }
    pgcm__node_start(n);
    return PGCM_OK;
}

/* Take a node out of the registry and begin draining it. `waiter`, if
 * given, is answered (pending--) when the node has closed. */
static void remove_node(pgcm_manager_t *mgr, node_t *n, int drain_ms,
                        cmd_t *waiter)
{
    pthread_mutex_lock(&mgr->snap_lock);
    pgcm__strmap_del(&mgr->nodes_by_id, n->id);
    mgr->node_count--;
    list_remove(&n->link);
    pthread_mutex_unlock(&mgr->snap_lock);
    list_push_back(&mgr->closing_nodes, &n->link);
    if (waiter != NULL) {
        /* a cmd may wait on several nodes: track by a small holder */
        typedef struct holder {
            list_node_t link;
            cmd_t *cmd;
        } holder_t;
        holder_t *h = pgcm__calloc(1, sizeof(*h));
        if (h != NULL) {
            h->cmd = waiter;
            waiter->pending++;
            list_push_back(&n->remove_waiters, &h->link);
        }
    }
    pgcm__node_begin_remove(n, drain_ms);
}

static void finish_cmd(pgcm_manager_t *mgr, cmd_t *cmd, int status)
{
    (void)mgr;
    if (cmd->type == CMD_APPLY && cmd->done != NULL) {
        size_t *counts = pgcm__malloc(sizeof(cmd->counts));
        if (counts != NULL)
            memcpy(counts, cmd->counts, sizeof(cmd->counts));
        pgcm__completion_post(cmd->done, status, counts);
    } else if (cmd->done != NULL) {
        pgcm__completion_post(cmd->done, status, NULL);
    } else if (cmd->done_cb != NULL) {
        cmd->done_cb(status, cmd->done_user);
    }
    pgcm__cmd_free(cmd);
}

void pgcm__manager_node_closed(pgcm_manager_t *mgr, node_t *n)
{
    list_remove(&n->link);
    while (!list_empty(&n->remove_waiters)) {
        list_node_t *l = list_first(&n->remove_waiters);
        list_remove(l);
        struct holder {
            list_node_t link;
            cmd_t *cmd;
        } *h = (struct holder *)l;
        cmd_t *cmd = h->cmd;
        pgcm__free(h);
        if (--cmd->pending == 0)
            finish_cmd(mgr, cmd, PGCM_OK);
    }
    pgcm__node_free(n);
    pgcm__manager_check_shutdown(mgr);
}

static int validate_list(pgcm_manager_t *mgr, pgcm_node_spec_t **specs,
                         size_t count, bool check_existing, pgcm_error_t *err)
{
    for (size_t i = 0; i < count; i++) {
        int rc = pgcm__spec_validate(specs[i], err);
        if (rc != PGCM_OK)
            return rc;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(specs[i]->id, specs[j]->id) == 0)
                return pgcm__error_set(err, PGCM_EEXIST, specs[i]->id,
                                       "node id '%s' appears twice in the "
                                       "list; ids must be unique",
                                       specs[i]->id);
        }
        if (check_existing && pgcm__find_node(mgr, specs[i]->id) != NULL)
            return pgcm__error_set(err, PGCM_EEXIST, specs[i]->id,
                                   "a node with id '%s' already exists; "
                                   "remove it first or choose another id",
                                   specs[i]->id);
    }
    return PGCM_OK;
}

static void do_apply(pgcm_manager_t *mgr, cmd_t *cmd)
{
    pgcm_error_t *err = cmd->done ? &cmd->done->err : NULL;
    int rc = validate_list(mgr, cmd->specs, cmd->nspecs, false, err);
    if (rc != PGCM_OK) {
        finish_cmd(mgr, cmd, rc);
        return;
    }
    cmd->pending = 1; /* held while we work */
    bool *replacing = pgcm__calloc(cmd->nspecs ? cmd->nspecs : 1, 1);
    if (replacing == NULL) {
        finish_cmd(mgr, cmd,
                   pgcm__error_set(err, PGCM_ENOMEM, NULL, "out of memory"));
        return;
    }
    /* Removed or changed nodes first. */
    list_node_t *pos, *tmp;
    LIST_FOREACH_SAFE(pos, tmp, &mgr->nodes)
    {
        node_t *n = LIST_ENTRY(pos, node_t, link);
        size_t want = cmd->nspecs;
        for (size_t i = 0; i < cmd->nspecs; i++) {
            if (strcmp(cmd->specs[i]->id, n->id) == 0)
                want = i;
        }
        if (want == cmd->nspecs) {
            cmd->counts[1]++;
            remove_node(mgr, n, mgr->opts.remove_timeout_ms, cmd);
        } else if (!pgcm_node_spec_equal(cmd->specs[want], n->spec)) {
            cmd->counts[2]++;
            replacing[want] = true;
            remove_node(mgr, n, mgr->opts.remove_timeout_ms, cmd);
        }
    }
    /* Then every id not running now: new ones, and the replacements. */
    for (size_t i = 0; i < cmd->nspecs; i++) {
        if (pgcm__find_node(mgr, cmd->specs[i]->id) != NULL)
            continue;
        if (add_node(mgr, cmd->specs[i], err) == PGCM_OK && !replacing[i])
            cmd->counts[0]++;
    }
    pgcm__free(replacing);
    if (--cmd->pending == 0)
        finish_cmd(mgr, cmd, PGCM_OK);
}

/* ---- shutdown (loop) ------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

void pgcm__manager_check_shutdown(pgcm_manager_t *mgr)
{
    if (atomic_load(&mgr->state) != MGR_DRAINING)
        return;
    if (!list_empty(&mgr->nodes) || !list_empty(&mgr->closing_nodes))
        return;
    pthread_mutex_lock(&mgr->cmd_lock);
    atomic_store(&mgr->state, MGR_CLOSING);
    pthread_mutex_unlock(&mgr->cmd_lock);
    /* Give cancel requests a moment to reach their servers, so no
     * statement of ours keeps running after we are gone. */
    pgcm__cancel_wait(mgr->cancels, CANCEL_WAIT_MS);
    pgcm__cancel_tracker_set_wake(mgr->cancels, NULL);
    uv_close((uv_handle_t *)&mgr->janitor, on_handle_closed);
    uv_close((uv_handle_t *)&mgr->stats_timer, on_handle_closed);
    uv_close((uv_handle_t *)&mgr->wakeup, on_handle_closed);
    if (mgr->shutdown_cmd != NULL) {
        cmd_t *cmd = mgr->shutdown_cmd;
        mgr->shutdown_cmd = NULL;
        finish_cmd(mgr, cmd, PGCM_OK);
    }
}

static void do_shutdown(pgcm_manager_t *mgr, cmd_t *cmd)
{
    if (mgr->shutdown_cmd != NULL || atomic_load(&mgr->state) >= MGR_CLOSING) {
        finish_cmd(mgr, cmd, PGCM_OK);
        return;
    }
    atomic_store(&mgr->state, MGR_DRAINING);
    mgr->shutdown_cmd = cmd;
    uv_timer_stop(&mgr->janitor);
    uv_timer_stop(&mgr->stats_timer);
    list_node_t *pos, *tmp;
    LIST_FOREACH_SAFE(pos, tmp, &mgr->nodes)
    {
        node_t *n = LIST_ENTRY(pos, node_t, link);
        remove_node(mgr, n, mgr->opts.shutdown_timeout_ms, NULL);
    }
    pgcm__manager_check_shutdown(mgr);
}

/* ---- command dispatch (loop) ----------------------------------------- */

static void run_cmd(pgcm_manager_t *mgr, cmd_t *cmd)
{
    bool running = atomic_load(&mgr->state) == MGR_RUNNING;
    pgcm_error_t *err = cmd->done ? &cmd->done->err : NULL;
    switch (cmd->type) {
    case CMD_QUERY: {
        request_t *r = cmd->req;
        cmd->req = NULL;
        pgcm__cmd_free(cmd);
        pgcm__request_submit(mgr, r);
        return;
    }
    case CMD_BATCH: {
        batch_req_t *b = cmd->batch;
        cmd->batch = NULL;
        if (!running) {
            b->out = NULL;
            /* refuse the whole batch */
            if (b->done != NULL) {
                pgcm__error_set(&b->done->err, PGCM_ESHUTDOWN, NULL,
                                "the manager is shutting down; no new "
                                "queries are accepted");
                pgcm__completion_post(b->done, PGCM_ESHUTDOWN, NULL);
            } else if (b->cb != NULL) {
                pgcm_batch_t *empty = pgcm__calloc(1, sizeof(*empty));
                b->cb(empty, b->user);
            }
            pgcm__free(b);
        } else {
            pgcm__batch_submit(mgr, b, &cmd->target, cmd->sql, cmd->nparams,
                               (const char *const *)cmd->params, &cmd->qopts);
        }
        pgcm__cmd_free(cmd);
        return;
    }
    case CMD_ADD:
    case CMD_START: {
        if (!running) {
            finish_cmd(mgr, cmd,
                       pgcm__error_set(err, PGCM_ESHUTDOWN, NULL,
                                       "the manager is shut down; create a "
                                       "new one"));
            return;
        }
        int rc = validate_list(mgr, cmd->specs, cmd->nspecs, true, err);
        for (size_t i = 0; rc == PGCM_OK && i < cmd->nspecs; i++)
            rc = add_node(mgr, cmd->specs[i], err);
        finish_cmd(mgr, cmd, rc);
        return;
    }
    case CMD_REMOVE: {
        node_t *n = running ? pgcm__find_node(mgr, cmd->node_id) : NULL;
        if (!running) {
            finish_cmd(mgr, cmd,
                       pgcm__error_set(err, PGCM_ESHUTDOWN, cmd->node_id,
                                       "the manager is shut down"));
        } else if (n == NULL) {
            finish_cmd(mgr, cmd,
                       pgcm__error_set(err, PGCM_ENOENT, cmd->node_id,
                                       "no node with id '%s'; nothing to "
                                       "remove",
                                       cmd->node_id));
        } else {
            cmd->pending = 1;
            remove_node(mgr, n, mgr->opts.remove_timeout_ms, cmd);
            if (--cmd->pending == 0)
                finish_cmd(mgr, cmd, PGCM_OK);
        }
        return;
    }
    case CMD_APPLY:
        if (!running)
            finish_cmd(mgr, cmd,
                       pgcm__error_set(err, PGCM_ESHUTDOWN, NULL,
                                       "the manager is shut down"));
        else
            do_apply(mgr, cmd);
        return;
    case CMD_CANCEL:
        finish_cmd(mgr, cmd, pgcm__cancel_on_loop(mgr, cmd->id));
        return;
    case CMD_SUBSCRIBE:
        finish_cmd(mgr, cmd,
                   pgcm__subscribe_on_loop(mgr, cmd->event_cb, cmd->event_user,
                                           cmd->id));
        return;
    case CMD_UNSUBSCRIBE:
        pgcm__unsubscribe_on_loop(mgr, cmd->id);
        finish_cmd(mgr, cmd, PGCM_OK);
        return;
    case CMD_RELEASE: {
        pgcm__checkout_release_on_loop(mgr, cmd->co, cmd->discard);
        pgcm__cmd_free(cmd);
        return;
    }
    case CMD_RETRY: {
        node_t *n = running ? pgcm__find_node(mgr, cmd->node_id) : NULL;
        if (n != NULL)
            pgcm__node_retry_now(n);
        pgcm__cmd_free(cmd);
        return;
    }
    case CMD_SHUTDOWN:
        do_shutdown(mgr, cmd);
        return;
    }
}

static void drain_commands(pgcm_manager_t *mgr)
{
    for (;;) {
        list_node_t batch;
        list_init(&batch);
        pthread_mutex_lock(&mgr->cmd_lock);
        if (!list_empty(&mgr->cmds)) {
            /* take the whole queue at once */
            batch.next = mgr->cmds.next;
            batch.prev = mgr->cmds.prev;
            batch.next->prev = &batch;
            batch.prev->next = &batch;
            list_init(&mgr->cmds);
        }
        pthread_mutex_unlock(&mgr->cmd_lock);
        if (list_empty(&batch))
            return;
        while (!list_empty(&batch)) {
            cmd_t *cmd = LIST_ENTRY(list_first(&batch), cmd_t, link);
            list_remove(&cmd->link);
            run_cmd(mgr, cmd);
        }
    }
}

/* Connections whose cancel settled (the helper threads wake us). */
static void settle_cancels(pgcm_manager_t *mgr)
{
    list_node_t settled;
    list_init(&settled);
    list_node_t *pos, *tmp;
    LIST_FOREACH_SAFE(pos, tmp, &mgr->cancel_waits)
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
        pgcm__conn_cancel_settled(c);
    }
}

static void on_wakeup(uv_async_t *a)
{
    drain_commands(a->data);
    settle_cancels(a->data);
}

static void on_janitor(uv_timer_t *t)
{
    pgcm_manager_t *mgr = t->data;
    uint64_t now = pgcm__mono_us();
    list_node_t *pos, *tmp;
    LIST_FOREACH_SAFE(pos, tmp, &mgr->nodes)
    {
        node_t *n = LIST_ENTRY(pos, node_t, link);
        pgcm__pool_maintain(n, now);
        pgcm__node_publish(n);
    }
}

/* PGCM_EV_POOL_STATS for every node, every stats interval. */
static void on_stats_timer(uv_timer_t *t)
{
    pgcm_manager_t *mgr = t->data;
    list_node_t *pos, *tmp;
    LIST_FOREACH_SAFE(pos, tmp, &mgr->nodes)
    {
        node_t *n = LIST_ENTRY(pos, node_t, link);
        pgcm__emit(mgr, PGCM_EV_POOL_STATS, n, n->hc.state, n->hc.state, 0, "");
    }
}

static void fail_queued_commands(pgcm_manager_t *mgr)
{
    /* After the loop ended nothing will run: answer what is left. */
    pthread_mutex_lock(&mgr->cmd_lock);
    list_node_t rest = mgr->cmds;
    bool any = !list_empty(&mgr->cmds);
    if (any) {
        rest.next->prev = &rest;
        rest.prev->next = &rest;
    }
    list_init(&mgr->cmds);
    pthread_mutex_unlock(&mgr->cmd_lock);
    if (!any)
        return;
    while (!list_empty(&rest)) {
        cmd_t *cmd = LIST_ENTRY(list_first(&rest), cmd_t, link);
        list_remove(&cmd->link);
        if (cmd->type == CMD_QUERY) {
            request_t *r = cmd->req;
            cmd->req = NULL;
            pgcm__request_fail(r, PGCM_ESHUTDOWN,
                               "the manager shut down before the query ran");
            pgcm__cmd_free(cmd);
        } else if (cmd->type == CMD_BATCH) {
            batch_req_t *b = cmd->batch;
            cmd->batch = NULL;
            if (b->done != NULL) {
                pgcm__completion_post(b->done, PGCM_ESHUTDOWN, NULL);
            } else if (b->cb != NULL) {
                pgcm_batch_t *empty = pgcm__calloc(1, sizeof(*empty));
                b->cb(empty, b->user);
            }
            pgcm__free(b);
            pgcm__cmd_free(cmd);
        } else if (cmd->type == CMD_RELEASE) {
            pgcm__free(cmd->co);
            pgcm__cmd_free(cmd);
        } else {
            finish_cmd(mgr, cmd, PGCM_ESHUTDOWN);
        }
    }
}

static void loop_thread(void *arg)
{
    pgcm_manager_t *mgr = arg;
    mgr->loop_thread_self = uv_thread_self();
    uv_run(&mgr->loop, UV_RUN_DEFAULT);
    atomic_store(&mgr->state, MGR_STOPPED);
    fail_queued_commands(mgr);
}

/* ---- public: lifecycle ----------------------------------------------- */

int pgcm_manager_new(const pgcm_options_t *opts, pgcm_manager_t **out,
                     pgcm_error_t *err)
{
    pgcm__error_clear(err);
    if (out == NULL)
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "out is NULL; pass the address of a "
                               "pgcm_manager_t pointer");
    *out = NULL;
    pgcm_options_t o;
    if (opts != NULL)
        o = *opts;
    else
        pgcm_options_init(&o);
    if (o.probe_query == NULL)
        o.probe_query = "SELECT 1";
    if (o.application_name == NULL)
        o.application_name = "replmon";
    int rc = pgcm__options_validate(&o, err);
    if (rc != PGCM_OK)
        return rc;

    pgcm_manager_t *mgr = pgcm__calloc(1, sizeof(*mgr));
    if (mgr == NULL)
        return pgcm__error_set(err, PGCM_ENOMEM, NULL, "out of memory");
    mgr->opts = o;
    mgr->opts.probe_query = pgcm__strdup(o.probe_query);
    mgr->opts.application_name = pgcm__strdup(o.application_name);
    mgr->cancels = pgcm__cancel_tracker_new();
    if (mgr->opts.probe_query == NULL || mgr->opts.application_name == NULL ||
        mgr->cancels == NULL || uv_loop_init(&mgr->loop) != 0) {
        pgcm__free((char *)mgr->opts.probe_query);
        pgcm__free((char *)mgr->opts.application_name);
        pgcm__cancel_tracker_release(mgr->cancels);
        pgcm__free(mgr);
        return pgcm__error_set(err, PGCM_ENOMEM, NULL,
                               "out of resources creating the manager");
    }
    atomic_init(&mgr->state, MGR_RUNNING);
    atomic_init(&mgr->next_id, 1);
    pthread_mutex_init(&mgr->cmd_lock, NULL);
    pthread_mutex_init(&mgr->snap_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&mgr->snap_cond, &ca);
    pthread_condattr_destroy(&ca);
    list_init(&mgr->cmds);
    list_init(&mgr->nodes);
    list_init(&mgr->closing_nodes);
    list_init(&mgr->requests);
    list_init(&mgr->batches);
    list_init(&mgr->cancel_waits);
    uv_async_init(&mgr->loop, &mgr->wakeup, on_wakeup);
    mgr->wakeup.data = mgr;
    pgcm__cancel_tracker_set_wake(mgr->cancels, &mgr->wakeup);
    uv_timer_init(&mgr->loop, &mgr->janitor);
    mgr->janitor.data = mgr;
    uv_timer_init(&mgr->loop, &mgr->stats_timer);
    mgr->stats_timer.data = mgr;
    uint64_t stats_ms =
        (uint64_t)(o.stats_interval_ms > 0 ? o.stats_interval_ms
                                           : o.health_check_interval_ms);
    uv_timer_start(&mgr->janitor, on_janitor, JANITOR_MS, JANITOR_MS);
    uv_timer_start(&mgr->stats_timer, on_stats_timer, stats_ms, stats_ms);
    pgcm__manager_count(1);
    if (uv_thread_create(&mgr->thread, loop_thread, mgr) != 0) {
        pgcm__cancel_tracker_set_wake(mgr->cancels, NULL);
        uv_close((uv_handle_t *)&mgr->wakeup, NULL);
        uv_close((uv_handle_t *)&mgr->janitor, NULL);
        uv_close((uv_handle_t *)&mgr->stats_timer, NULL);
        uv_run(&mgr->loop, UV_RUN_DEFAULT);
        uv_loop_close(&mgr->loop);
        pgcm__manager_count(-1);
        pgcm__free((char *)mgr->opts.probe_query);
        pgcm__free((char *)mgr->opts.application_name);
        pgcm__cancel_tracker_release(mgr->cancels);
        pgcm__free(mgr);
        return pgcm__error_set(err, PGCM_ENOMEM, NULL,
                               "cannot start the manager's loop thread");
    }
    *out = mgr;
    return PGCM_OK;
}

/* Common checks for entry points. */
static int check_entry(pgcm_manager_t *mgr, bool blocking, pgcm_error_t *err)
{
    pgcm__error_clear(err);
    if (mgr == NULL)
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "manager is NULL; create one with "
                               "pgcm_manager_new()");
    if (atomic_load(&mgr->state) != MGR_RUNNING)
        return pgcm__error_set(err, PGCM_ESHUTDOWN, NULL,
                               "the manager is shut down or shutting down; "
                               "no new work is accepted");
    if (blocking && pgcm__on_loop(mgr))
        return pgcm__error_set(err, PGCM_EDEADLK, NULL,
                               "blocking call made from a libpgcm callback "
                               "(the loop thread); use the _async variant");
    return PGCM_OK;
}

/* Post cmd and wait for it; returns its status (err filled). */
static int post_and_wait(pgcm_manager_t *mgr, cmd_t *cmd, void **out,
                         pgcm_error_t *err)
{
    completion_t done;
    pgcm__completion_init(&done);
    cmd->done = &done;
    pgcm__post(mgr, cmd);
    pgcm__completion_wait(&done);
    if (err != NULL)
        *err = done.err;
    if (err != NULL && done.status != PGCM_OK && err->code == 0) {
        err->code = done.status;
        snprintf(err->message, sizeof(err->message), "%s",
                 pgcm_strerror(done.status));
    }
    if (out != NULL)
        *out = done.out;
    pgcm__completion_destroy(&done);
    return done.status;
}

static pgcm_node_spec_t **dup_specs(const pgcm_node_spec_t *nodes, size_t count,
                                    pgcm_error_t *err, int *rc)
{
    *rc = PGCM_OK;
    pgcm_node_spec_t **specs = pgcm__calloc(count ? count : 1, sizeof(*specs));
    if (specs == NULL) {
        *rc = pgcm__error_set(err, PGCM_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        *rc = pgcm__spec_validate(&nodes[i], err);
        if (*rc == PGCM_OK) {
            specs[i] = pgcm__spec_dup(&nodes[i]);
            if (specs[i] == NULL)
                *rc = pgcm__error_set(err, PGCM_ENOMEM, NULL, "out of memory");
        }
        if (*rc != PGCM_OK) {
            for (size_t j = 0; j < i; j++)
                pgcm__spec_free(specs[j]);
            pgcm__free(specs);
            return NULL;
        }
    }
    return specs;
}

int pgcm_manager_start(pgcm_manager_t *mgr, const pgcm_node_spec_t *nodes,
                       size_t count, int wait_ms, pgcm_error_t *err)
{
    int rc = check_entry(mgr, true, err);
    if (rc != PGCM_OK)
        return rc;
    if (nodes == NULL && count > 0)
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "nodes is NULL but count is %zu", count);
    if (wait_ms < 0)
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "wait_ms %d is negative; use 0 or more",
                               wait_ms);
    cmd_t *cmd = pgcm__cmd_new(CMD_START);
    if (cmd == NULL)
        return pgcm__error_set(err, PGCM_ENOMEM, NULL, "out of memory");
    cmd->specs = dup_specs(nodes, count, err, &rc);
    if (rc != PGCM_OK) {
        pgcm__cmd_free(cmd);
        return rc;
    }
    cmd->nspecs = count;
    rc = post_and_wait(mgr, cmd, NULL, err);
    if (rc != PGCM_OK || wait_ms == 0)
        return rc;

    /* Wait until none of these nodes is still in its first attempt. */
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += wait_ms / 1000;
    deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&mgr->snap_lock);
    for (;;) {
        bool pending = false;
        for (size_t i = 0; i < count && !pending; i++) {
            node_t *n = pgcm__strmap_get(&mgr->nodes_by_id, nodes[i].id);
            pending = n != NULL && n->pub_health.state == PGCM_NODE_CONNECTING;
        }
        if (!pending)
            break;
        if (pthread_cond_timedwait(&mgr->snap_cond, &mgr->snap_lock,
                                   &deadline) != 0)
            break;
    }
    pthread_mutex_unlock(&mgr->snap_lock);
    return PGCM_OK;
}

int pgcm_manager_apply(pgcm_manager_t *mgr, const pgcm_node_spec_t *nodes,
                       size_t count, size_t *added, size_t *removed,
                       size_t *replaced, pgcm_error_t *err)
{
    if (added)
        *added = 0;
    if (removed)
        *removed = 0;
    if (replaced)
        *replaced = 0;
    int rc = check_entry(mgr, true, err);
    if (rc != PGCM_OK)
        return rc;
    if (nodes == NULL && count > 0)
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "nodes is NULL but count is %zu", count);
    cmd_t *cmd = pgcm__cmd_new(CMD_APPLY);
    if (cmd == NULL)
        return pgcm__error_set(err, PGCM_ENOMEM, NULL, "out of memory");
    cmd->specs = dup_specs(nodes, count, err, &rc);
    if (rc != PGCM_OK) {
        pgcm__cmd_free(cmd);
        return rc;
    }
    cmd->nspecs = count;
    size_t *counts = NULL;
    rc = post_and_wait(mgr, cmd, (void **)&counts, err);
    if (added)
        *added = counts ? counts[0] : 0;
    if (removed)
        *removed = counts ? counts[1] : 0;
    if (replaced)
        *replaced = counts ? counts[2] : 0;
    pgcm__free(counts);
    return rc;
}

int pgcm_manager_shutdown(pgcm_manager_t *mgr)
{
    if (mgr == NULL)
        return PGCM_EINVAL;
    if (pgcm__on_loop(mgr))
        return PGCM_EDEADLK;
    int state = atomic_load(&mgr->state);
    if (state == MGR_RUNNING || state == MGR_DRAINING) {
        cmd_t *cmd = pgcm__cmd_new(CMD_SHUTDOWN);
        if (cmd != NULL) {
            completion_t done;
            pgcm__completion_init(&done);
            cmd->done = &done;
            pgcm__post(mgr, cmd);
            pgcm__completion_wait(&done);
            pgcm__completion_destroy(&done);
        }
    }
    if (atomic_exchange(&mgr->thread_joined, 1) == 0)
        uv_thread_join(&mgr->thread);
    return PGCM_OK;
}

void pgcm_manager_free(pgcm_manager_t *mgr)
{
    if (mgr == NULL || pgcm__on_loop(mgr))
        return; /* freeing from a callback would pull the loop away */
    pgcm_manager_shutdown(mgr);
    uv_loop_close(&mgr->loop);
    pthread_mutex_destroy(&mgr->cmd_lock);
    pthread_mutex_destroy(&mgr->snap_lock);
    pthread_cond_destroy(&mgr->snap_cond);
    pgcm__strmap_free(&mgr->nodes_by_id);
    pgcm__free(mgr->subs);
    pgcm__free((char *)mgr->opts.probe_query);
    pgcm__free((char *)mgr->opts.application_name);
    pgcm__cancel_tracker_release(mgr->cancels);
    pgcm__free(mgr);
    pgcm__manager_count(-1);
}

/* ---- public: nodes --------------------------------------------------- */

int pgcm_node_add(pgcm_manager_t *mgr, const pgcm_node_spec_t *spec,
                  pgcm_error_t *err)
{
    int rc = check_entry(mgr, true, err);
    if (rc != PGCM_OK)
        return rc;
    if ((rc = pgcm__spec_validate(spec, err)) != PGCM_OK)
        return rc;
    cmd_t *cmd = pgcm__cmd_new(CMD_ADD);
    if (cmd == NULL)
        return pgcm__error_set(err, PGCM_ENOMEM, NULL, "out of memory");
    cmd->specs = dup_specs(spec, 1, err, &rc);
    if (rc != PGCM_OK) {
        pgcm__cmd_free(cmd);
        return rc;
    }
    cmd->nspecs = 1;
    return post_and_wait(mgr, cmd, NULL, err);
}

static int check_id(const char *node_id, pgcm_error_t *err)
{
    if (node_id == NULL || node_id[0] == '\0')
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "node id is NULL or empty; pass the id the "
                               "node was added with");
    return PGCM_OK;
}

int pgcm_node_remove(pgcm_manager_t *mgr, const char *node_id,
                     pgcm_error_t *err)
{
    int rc = check_entry(mgr, true, err);
    if (rc == PGCM_OK)
        rc = check_id(node_id, err);
    if (rc != PGCM_OK)
        return rc;
    cmd_t *cmd = pgcm__cmd_new(CMD_REMOVE);
    if (cmd == NULL || (cmd->node_id = pgcm__strdup(node_id)) == NULL) {
        pgcm__cmd_free(cmd);
        return pgcm__error_set(err, PGCM_ENOMEM, NULL, "out of memory");
    }
    return post_and_wait(mgr, cmd, NULL, err);
}

int pgcm_node_remove_async(pgcm_manager_t *mgr, const char *node_id,
                           pgcm_done_cb done, void *user, pgcm_error_t *err)
{
    int rc = check_entry(mgr, false, err);
    if (rc == PGCM_OK)
        rc = check_id(node_id, err);
    if (rc != PGCM_OK)
        return rc;
    cmd_t *cmd = pgcm__cmd_new(CMD_REMOVE);
    if (cmd == NULL || (cmd->node_id = pgcm__strdup(node_id)) == NULL) {
        pgcm__cmd_free(cmd);
        return pgcm__error_set(err, PGCM_ENOMEM, NULL, "out of memory");
    }
    cmd->done_cb = done;
    cmd->done_user = user;
    pgcm__post(mgr, cmd);
    return PGCM_OK;
}

int pgcm_node_retry(pgcm_manager_t *mgr, const char *node_id)
{
    if (mgr == NULL || node_id == NULL || node_id[0] == '\0')
        return PGCM_EINVAL;
    if (atomic_load(&mgr->state) != MGR_RUNNING)
        return PGCM_ESHUTDOWN;
    pthread_mutex_lock(&mgr->snap_lock);
    bool known = pgcm__strmap_get(&mgr->nodes_by_id, node_id) != NULL;
    pthread_mutex_unlock(&mgr->snap_lock);
    if (!known)
        return PGCM_ENOENT;
    if (pgcm__on_loop(mgr)) {
        pgcm__node_retry_now(pgcm__find_node(mgr, node_id));
        return PGCM_OK;
    }
    cmd_t *cmd = pgcm__cmd_new(CMD_RETRY);
    if (cmd == NULL || (cmd->node_id = pgcm__strdup(node_id)) == NULL) {
        pgcm__cmd_free(cmd);
        return PGCM_ENOMEM;
    }
    pgcm__post(mgr, cmd);
    return PGCM_OK;
}

int pgcm_node_list(pgcm_manager_t *mgr, char ***ids, size_t *count)
{
    if (mgr == NULL || ids == NULL)
        return PGCM_EINVAL;
    *ids = NULL;
    if (count)
        *count = 0;
    pthread_mutex_lock(&mgr->snap_lock);
    size_t k = 0;
    char **v = pgcm__calloc(mgr->node_count + 1, sizeof(char *));
    int rc = v ? PGCM_OK : PGCM_ENOMEM;
    for (list_node_t *pos = mgr->nodes.next; v && pos != &mgr->nodes;
         pos = pos->next) {
        node_t *n = LIST_ENTRY(pos, node_t, link);
        if ((v[k++] = pgcm__strdup(n->id)) == NULL) {
            rc = PGCM_ENOMEM;
            break;
        }
    }
    pthread_mutex_unlock(&mgr->snap_lock);
    if (rc != PGCM_OK) {
        pgcm_strv_free(v);
        return rc;
    }
    *ids = v;
    if (count)
        *count = k;
    return PGCM_OK;
}

void pgcm_strv_free(char **strv)
{
    for (size_t i = 0; strv && strv[i]; i++)
        pgcm__free(strv[i]);
    pgcm__free(strv);
}

int pgcm_node_health(pgcm_manager_t *mgr, const char *node_id,
                     pgcm_health_t *out)
{
    if (mgr == NULL || node_id == NULL || out == NULL)
        return PGCM_EINVAL;
    pthread_mutex_lock(&mgr->snap_lock);
    node_t *n = pgcm__strmap_get(&mgr->nodes_by_id, node_id);
    if (n != NULL)
        *out = n->pub_health;
    pthread_mutex_unlock(&mgr->snap_lock);
    return n ? PGCM_OK : PGCM_ENOENT;
}

int pgcm_node_stats(pgcm_manager_t *mgr, const char *node_id,
                    pgcm_pool_stats_t *out)
{
    if (mgr == NULL || node_id == NULL || out == NULL)
        return PGCM_EINVAL;
    pthread_mutex_lock(&mgr->snap_lock);
    node_t *n = pgcm__strmap_get(&mgr->nodes_by_id, node_id);
    if (n != NULL)
        *out = n->pub_stats;
    pthread_mutex_unlock(&mgr->snap_lock);
    return n ? PGCM_OK : PGCM_ENOENT;
}

/* ---- public: queries ------------------------------------------------- */

static int check_query_args(const char *sql, int nparams,
                            const char *const *params,
                            const pgcm_query_options_t *opts, pgcm_error_t *err)
{
    if (sql == NULL)
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "sql is NULL; pass a statement");
    if (nparams < 0 || (nparams > 0 && params == NULL))
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "nparams %d does not match params; pass an "
                               "array of nparams strings",
                               nparams);
    if (nparams > 65535)
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "nparams %d exceeds PostgreSQL's limit of "
                               "65535",
                               nparams);
    if (opts != NULL && opts->timeout_ms < 0)
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "timeout_ms %d is negative; use 0 for the "
                               "default or a positive value",
                               opts->timeout_ms);
    return PGCM_OK;
}

static int submit_query(pgcm_manager_t *mgr, const char *node_id,
                        struct pgcm_checkout_s *co, const char *sql,
                        int nparams, const char *const *params,
                        const pgcm_query_options_t *opts, pgcm_query_cb cb,
                        void *user, uint64_t *request_id, pgcm_result_t **out,
                        pgcm_error_t *err)
{
    bool blocking = cb == NULL;
    if (out != NULL)
        *out = NULL;
    int rc = check_entry(mgr, blocking, err);
    if (rc == PGCM_OK && co == NULL)
        rc = check_id(node_id, err);
    if (rc == PGCM_OK)
        rc = check_query_args(sql, nparams, params, opts, err);
    if (rc != PGCM_OK)
        return rc;
    request_t *r =
        pgcm__request_new(mgr, co ? co->node_id : node_id, sql, nparams, params,
                          opts ? opts->timeout_ms : 0);
    cmd_t *cmd = r ? pgcm__cmd_new(CMD_QUERY) : NULL;
    if (cmd == NULL) {
        pgcm__request_free(r);
        return pgcm__error_set(err, PGCM_ENOMEM, node_id, "out of memory");
    }
    r->id = pgcm__new_id(mgr);
    pgcm__request_set_options(r, opts);
    r->co_conn_owner = co;
    cmd->req = r;
    if (request_id != NULL)
        *request_id = r->id;
    if (!blocking) {
        r->cb = cb;
        r->user = user;
        pgcm__post(mgr, cmd);
        return PGCM_OK;
    }
    completion_t done;
    pgcm__completion_init(&done);
    r->done = &done;
    pgcm__post(mgr, cmd);
    pgcm__completion_wait(&done);
    if (err != NULL)
        *err = done.err;
    if (out != NULL)
        *out = done.out;
    else
        pgcm_result_free(done.out);
    pgcm__completion_destroy(&done);
    return done.status;
}

int pgcm_query(pgcm_manager_t *mgr, const char *node_id, const char *sql,
               int nparams, const char *const *params,
               const pgcm_query_options_t *opts, pgcm_result_t **out,
               pgcm_error_t *err)
{
    return submit_query(mgr, node_id, NULL, sql, nparams, params, opts, NULL,
                        NULL, NULL, out, err);
}

int pgcm_query_async(pgcm_manager_t *mgr, const char *node_id, const char *sql,
                     int nparams, const char *const *params,
                     const pgcm_query_options_t *opts, pgcm_query_cb cb,
                     void *user, uint64_t *request_id, pgcm_error_t *err)
{
    if (cb == NULL)
        return pgcm__error_set(err, PGCM_EINVAL, node_id,
                               "callback is NULL; use pgcm_query() to wait "
                               "for the result instead");
    return submit_query(mgr, node_id, NULL, sql, nparams, params, opts, cb,
                        user, request_id, NULL, err);
}

int pgcm_checkout_query(pgcm_checkout_t *co, const char *sql, int nparams,
                        const char *const *params,
                        const pgcm_query_options_t *opts, pgcm_result_t **out,
                        pgcm_error_t *err)
{
    if (co == NULL || co->released)
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "checkout is NULL or already released");
    return submit_query(co->mgr, NULL, co, sql, nparams, params, opts, NULL,
                        NULL, NULL, out, err);
}

static int submit_batch(pgcm_manager_t *mgr, const pgcm_target_t *target,
                        const char *sql, int nparams, const char *const *params,
                        const pgcm_query_options_t *opts, pgcm_batch_cb cb,
                        void *user, uint64_t *request_id, pgcm_batch_t **out,
                        pgcm_error_t *err)
{
    bool blocking = cb == NULL;
    if (out != NULL)
        *out = NULL;
    int rc = check_entry(mgr, blocking, err);
    if (rc == PGCM_OK)
        rc = check_query_args(sql, nparams, params, opts, err);
    if (rc != PGCM_OK)
        return rc;
    if (target != NULL &&
        (target->kind < PGCM_TARGET_ALL || target->kind > PGCM_TARGET_LIST))
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "target kind %d is not ALL, HEALTHY or LIST",
                               (int)target->kind);
    if (target != NULL && target->kind == PGCM_TARGET_LIST &&
        target->node_count > 0 && target->node_ids == NULL)
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "target lists %zu nodes but node_ids is NULL",
                               target->node_count);
    cmd_t *cmd = pgcm__cmd_new(CMD_BATCH);
    batch_req_t *b = pgcm__calloc(1, sizeof(*b));
    bool ok = cmd != NULL && b != NULL;
    if (ok) {
        list_init(&b->all_link);
        b->mgr = mgr;
        b->id = pgcm__new_id(mgr);
        b->submit_us = pgcm__mono_us();
        cmd->batch = b;
        cmd->sql = pgcm__strdup(sql);
        cmd->nparams = nparams;
        if (opts != NULL)
            cmd->qopts = *opts;
        ok = cmd->sql != NULL;
        if (nparams > 0) {
            cmd->params = pgcm__calloc((size_t)nparams, sizeof(char *));
            ok = ok && cmd->params != NULL;
            for (int i = 0; ok && i < nparams; i++) {
                if (params[i] != NULL &&
                    (cmd->params[i] = pgcm__strdup(params[i])) == NULL)
                    ok = false;
            }
        }
        if (target != NULL) {
            cmd->target.kind = target->kind;
            if (target->kind == PGCM_TARGET_LIST) {
                size_t k = target->node_count;
                char **ids = pgcm__calloc(k ? k : 1, sizeof(char *));
                ok = ok && ids != NULL;
                for (size_t i = 0; ok && i < k; i++) {
                    ids[i] = pgcm__strdup(
                        target->node_ids[i] ? target->node_ids[i] : "");
                    ok = ids[i] != NULL;
                }
                cmd->target.node_ids = (const char *const *)ids;
                cmd->target.node_count = ids ? k : 0;
            }
        }
    }
    if (!ok) {
        pgcm__free(b);
        if (cmd)
            cmd->batch = NULL;
        pgcm__cmd_free(cmd);
        return pgcm__error_set(err, PGCM_ENOMEM, NULL, "out of memory");
    }
    if (request_id != NULL)
        *request_id = b->id;
    if (!blocking) {
        b->cb = cb;
        b->user = user;
        pgcm__post(mgr, cmd);
        return PGCM_OK;
    }
    completion_t done;
    pgcm__completion_init(&done);
    b->done = &done;
    pgcm__post(mgr, cmd);
    pgcm__completion_wait(&done);
    if (err != NULL && done.status != PGCM_OK)
        *err = done.err;
    if (out != NULL)
        *out = done.out;
    else
        pgcm_batch_free(done.out);
    pgcm__completion_destroy(&done);
    return done.status;
}

int pgcm_query_many(pgcm_manager_t *mgr, const pgcm_target_t *target,
                    const char *sql, int nparams, const char *const *params,
                    const pgcm_query_options_t *opts, pgcm_batch_t **out,
                    pgcm_error_t *err)
{
    return submit_batch(mgr, target, sql, nparams, params, opts, NULL, NULL,
                        NULL, out, err);
}

int pgcm_query_many_async(pgcm_manager_t *mgr, const pgcm_target_t *target,
                          const char *sql, int nparams,
                          const char *const *params,
                          const pgcm_query_options_t *opts, pgcm_batch_cb cb,
                          void *user, uint64_t *request_id, pgcm_error_t *err)
{
    if (cb == NULL)
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "callback is NULL; use pgcm_query_many() to "
                               "wait for the results instead");
    return submit_batch(mgr, target, sql, nparams, params, opts, cb, user,
                        request_id, NULL, err);
}

int pgcm_cancel(pgcm_manager_t *mgr, uint64_t request_id)
{
    if (mgr == NULL || request_id == 0)
        return PGCM_EINVAL;
    if (atomic_load(&mgr->state) >= MGR_CLOSING)
        return PGCM_ESHUTDOWN;
    cmd_t *cmd = pgcm__cmd_new(CMD_CANCEL);
    if (cmd == NULL)
        return PGCM_ENOMEM;
    cmd->id = request_id;
    if (pgcm__on_loop(mgr)) {
        int rc = pgcm__cancel_on_loop(mgr, request_id);
        pgcm__cmd_free(cmd);
        return rc;
    }
    return post_and_wait(mgr, cmd, NULL, NULL);
}

/* ---- public: events -------------------------------------------------- */

int pgcm_subscribe(pgcm_manager_t *mgr, pgcm_event_cb cb, void *user,
                   uint64_t *sub_id)
{
    if (mgr == NULL || cb == NULL)
        return PGCM_EINVAL;
    if (atomic_load(&mgr->state) != MGR_RUNNING)
        return PGCM_ESHUTDOWN;
    uint64_t id = pgcm__new_id(mgr);
    if (sub_id != NULL)
        *sub_id = id;
    if (pgcm__on_loop(mgr))
        return pgcm__subscribe_on_loop(mgr, cb, user, id);
    cmd_t *cmd = pgcm__cmd_new(CMD_SUBSCRIBE);
    if (cmd == NULL)
        return PGCM_ENOMEM;
    cmd->id = id;
    cmd->event_cb = cb;
    cmd->event_user = user;
    return post_and_wait(mgr, cmd, NULL, NULL);
}

int pgcm_unsubscribe(pgcm_manager_t *mgr, uint64_t sub_id)
{
    if (mgr == NULL)
        return PGCM_EINVAL;
    if (pgcm__on_loop(mgr)) {
        pgcm__unsubscribe_on_loop(mgr, sub_id);
        return PGCM_OK;
    }
    if (atomic_load(&mgr->state) >= MGR_CLOSING)
        return PGCM_OK; /* no more events will be delivered */
    cmd_t *cmd = pgcm__cmd_new(CMD_UNSUBSCRIBE);
    if (cmd == NULL)
        return PGCM_ENOMEM;
    cmd->id = sub_id;
    return post_and_wait(mgr, cmd, NULL, NULL);
}
