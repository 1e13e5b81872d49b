/* SPDX-License-Identifier: MIT */
/*
 * manager.c - the manager's loop side: its thread, the command queue and
 * the dispatch of each command, node add/remove/apply, the janitor and the
 * stats timer, and shutdown. Commands come from api.c; requests go down to
 * request.c, nodes to node.c; what the user gets leaves through the
 * delivery queue (deliver.c).
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "manager.h"
#include "tunnel.h"

#define JANITOR_MS       250
#define JANITOR_ROUND_MS 1000 /* every node visited once in this time */
#define CANCEL_WAIT_MS   1000 /* at shutdown, for cancels still being sent */

static void check_shutdown(pgcm_manager_t *mgr);

bool pgcm__on_loop(const pgcm_manager_t *mgr)
{
    uv_thread_t self = uv_thread_self();
    return uv_thread_equal(&self, &mgr->loop_thread_self);
}

uint64_t pgcm__new_id(pgcm_manager_t *mgr)
{
    return atomic_fetch_add(&mgr->next_id, 1);
}

/* ---- commands ------------------------------------------------------------ */

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
    switch (c->type) {
    case CMD_QUERY: /* its strings live in the same block */
        break;
    case CMD_CHECKOUT:
        pgcm__request_args_free(&c->u.checkout.args);
        break;
    case CMD_BATCH:
        pgcm__request_args_free(&c->u.batch.args);
        for (size_t i = 0; c->u.batch.ids && i < c->u.batch.nids; i++)
            pgcm__free(c->u.batch.ids[i]);
        pgcm__free(c->u.batch.ids);
        break;
    case CMD_ADD:
    case CMD_START:
    case CMD_APPLY:
        for (size_t i = 0; i < c->u.nodes.count; i++)
            pgcm__spec_free(c->u.nodes.specs[i]);
        pgcm__free(c->u.nodes.specs);
        break;
    case CMD_REMOVE:
        pgcm__free(c->u.remove.node_id);
        break;
    case CMD_RETRY:
        pgcm__free(c->u.retry.node_id);
        break;
    default:
        break;
    }
    pgcm__free(c);
}

static void post_completion(completion_t *c, int status, void *out)
{
    c->status = status;
    c->out = out;
    if (status != PGCM_OK && c->err.code == 0)
        pgcm__error_set(&c->err, status, NULL, "%s", pgcm_strerror(status));
    uv_sem_post(&c->sem);
}

/* Answer a command that will never run (the loop has ended), on the
 * calling thread. */
static void cmd_refuse(cmd_t *cmd)
{
    const char *why = "the manager shut down before the request ran";
    switch (cmd->type) {
    case CMD_QUERY: {
        request_args_t *a = &cmd->u.query.req->args;
        pgcm_result_t *res = pgcm__result_error(a->node_id ? a->node_id : "",
                                                PGCM_ESHUTDOWN, "%s", why);
        if (a->cb != NULL) {
            a->cb(res, a->user);
        } else if (a->done != NULL) {
            if (res != NULL)
                a->done->err = res->error;
            post_completion(a->done, PGCM_ESHUTDOWN, res);
        } else {
            pgcm_result_free(res);
        }
        break;
    }
    case CMD_CHECKOUT:
        pgcm__free(cmd->u.checkout.co);
        pgcm__error_set(&cmd->u.checkout.args.done->err, PGCM_ESHUTDOWN, NULL,
                        "%s", why);
        post_completion(cmd->u.checkout.args.done, PGCM_ESHUTDOWN, NULL);
        break;
    case CMD_BATCH:
        if (cmd->done != NULL) {
            pgcm__error_set(&cmd->done->err, PGCM_ESHUTDOWN, NULL, "%s", why);
            post_completion(cmd->done, PGCM_ESHUTDOWN, NULL);
        } else if (cmd->u.batch.cb != NULL) {
            cmd->u.batch.cb(pgcm__calloc(1, sizeof(pgcm_batch_t)),
                            cmd->u.batch.user);
        }
        break;
    case CMD_RELEASE:
        pgcm__free(cmd->u.release.co);
        break;
    case CMD_REMOVE:
        if (cmd->done != NULL)
            post_completion(cmd->done, PGCM_ESHUTDOWN, NULL);
        else if (cmd->u.remove.cb != NULL)
            cmd->u.remove.cb(PGCM_ESHUTDOWN, cmd->u.remove.user);
        break;
    default:
        if (cmd->done != NULL)
            post_completion(cmd->done, PGCM_ESHUTDOWN, NULL);
        break;
    }
    pgcm__cmd_free(cmd);
}

static void refuse_queued(pgcm_manager_t *mgr)
{
    pthread_mutex_lock(&mgr->cmd_lock);
    list_node_t rest;
    list_init(&rest);
    if (!list_empty(&mgr->cmds)) {
        rest.next = mgr->cmds.next;
        rest.prev = mgr->cmds.prev;
        rest.next->prev = &rest;
        rest.prev->next = &rest;
        list_init(&mgr->cmds);
    }
    pthread_mutex_unlock(&mgr->cmd_lock);
    while (!list_empty(&rest)) {
        cmd_t *cmd = LIST_ENTRY(list_first(&rest), cmd_t, link);
        list_remove(&cmd->link);
        cmd_refuse(cmd);
    }
}

static void run_cmd(pgcm_manager_t *mgr, cmd_t *cmd);

void pgcm__post(pgcm_manager_t *mgr, cmd_t *cmd)
{
    /* From a callback the delivery queue runs (a safe point: no handler
     * is half-way), the command runs at once: no queue, no wake-up. */
    if (pgcm__on_loop(mgr) && mgr->deliver.running) {
        run_cmd(mgr, cmd);
        return;
    }
    pthread_mutex_lock(&mgr->cmd_lock);
    bool closing = atomic_load(&mgr->state) >= MGR_CLOSING;
    if (!closing) {
        list_push_back(&mgr->cmds, &cmd->link);
        uv_async_send(&mgr->wakeup);
    }
    pthread_mutex_unlock(&mgr->cmd_lock);
    if (closing) /* lost the race with shutdown: answer it here */
        cmd_refuse(cmd);
}

/* Answer a command that ran (through the delivery queue). */
static void finish_cmd(pgcm_manager_t *mgr, cmd_t *cmd, int status)
{
    deliver_queue_t *q = &mgr->deliver;
    if (cmd->type == CMD_APPLY && cmd->done != NULL) {
        size_t *counts = pgcm__malloc(sizeof(cmd->u.nodes.counts));
        if (counts != NULL)
            memcpy(counts, cmd->u.nodes.counts, sizeof(cmd->u.nodes.counts));
        pgcm__deliver_completion(q, cmd->done, status, counts, NULL);
    } else if (cmd->done != NULL) {
        pgcm__deliver_completion(q, cmd->done, status, NULL, NULL);
    } else if (cmd->type == CMD_REMOVE) {
        pgcm__deliver_done(q, cmd->u.remove.cb, cmd->u.remove.user, status);
    }
    pgcm__cmd_free(cmd);
}

/* The error record of a blocking command (NULL for async ones). */
static pgcm_error_t *cmd_err(cmd_t *cmd)
{
    return cmd->done ? &cmd->done->err : NULL;
}

/* ---- nodes: add, remove, apply ------------------------------------------- */

static node_t *find_node(pgcm_manager_t *mgr, const char *id)
{
    /* The loop is the only writer, so it reads without the lock. */
    return id ? pgcm__strmap_get(&mgr->nodes_by_id, id) : NULL;
}

typedef struct remove_waiter {
    list_node_t link;
    cmd_t *cmd;
} remove_waiter_t;

static int *pending_of(cmd_t *cmd)
{
    return cmd->type == CMD_REMOVE ? &cmd->u.remove.pending
                                   : &cmd->u.nodes.pending;
}

/* node.c's on_closed: free it and answer who waited for it. */
static void on_node_closed(node_t *n, void *owner)
{
    pgcm_manager_t *mgr = owner;
    list_remove(&n->link);
    while (!list_empty(&n->remove_waiters)) {
        remove_waiter_t *w =
            LIST_ENTRY(list_first(&n->remove_waiters), remove_waiter_t, link);
        list_remove(&w->link);
        cmd_t *cmd = w->cmd;
        pgcm__free(w);
        if (--*pending_of(cmd) == 0)
            finish_cmd(mgr, cmd, PGCM_OK);
    }
    pgcm__node_free(n);
    check_shutdown(mgr);
}

static int add_node(pgcm_manager_t *mgr, const pgcm_node_spec_t *spec,
                    pgcm_error_t *err)
{
    if (find_node(mgr, spec->id) != NULL)
        return pgcm__error_set(err, PGCM_EEXIST, spec->id,
                               "a node with id '%s' already exists; remove it "
                               "first or choose another id",
                               spec->id);
    node_publish_to_t pub = {&mgr->snap_lock, &mgr->snap_cond};
    node_t *n = pgcm__node_new(&mgr->env, spec, pub, on_node_closed, mgr);
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
        list_push_back(&mgr->closing_nodes, &n->link);
        pgcm__node_discard(n); /* never started: close its timers */
        return pgcm__error_set(err, PGCM_ENOMEM, spec->id,
                               "out of memory adding node '%s'", spec->id);
    }
    pgcm__node_start(n);
    return PGCM_OK;
}

/* Take a node out of the registry and drain it; `waiter` (if any) counts
 * it as pending until it has closed. */
static void remove_node(pgcm_manager_t *mgr, node_t *n, int drain_ms,
                        cmd_t *waiter)
{
    if (mgr->janitor_next == &n->link)
        mgr->janitor_next = n->link.next;
    pthread_mutex_lock(&mgr->snap_lock);
    pgcm__strmap_del(&mgr->nodes_by_id, n->id);
    mgr->node_count--;
    list_remove(&n->link);
    pthread_mutex_unlock(&mgr->snap_lock);
    list_push_back(&mgr->closing_nodes, &n->link);
    if (waiter != NULL) {
        remove_waiter_t *w = pgcm__calloc(1, sizeof(*w));
        if (w != NULL) {
            w->cmd = waiter;
            (*pending_of(waiter))++;
            list_push_back(&n->remove_waiters, &w->link);
        }
    }
    pgcm__node_begin_remove(n, drain_ms);
}

static int validate_list(pgcm_manager_t *mgr, pgcm_node_spec_t **specs,
                         size_t count, bool check_existing, pgcm_error_t *err)
{
    /* ids seen so far, for duplicates: linear, not quadratic */
    strmap_t seen = {0};
    int rc = PGCM_OK;
    for (size_t i = 0; i < count && rc == PGCM_OK; i++) {
        rc = pgcm__spec_validate(specs[i], err);
        if (rc != PGCM_OK)
            break;
        if (pgcm__strmap_get(&seen, specs[i]->id) != NULL)
            rc = pgcm__error_set(err, PGCM_EEXIST, specs[i]->id,
                                 "node id '%s' appears twice in the list; ids "
                                 "must be unique",
                                 specs[i]->id);
        else if (check_existing && find_node(mgr, specs[i]->id) != NULL)
            rc = pgcm__error_set(err, PGCM_EEXIST, specs[i]->id,
                                 "a node with id '%s' already exists; remove "
                                 "it first or choose another id",
                                 specs[i]->id);
        else if (pgcm__strmap_put(&seen, specs[i]->id, specs[i]) != PGCM_OK)
            rc = pgcm__error_set(err, PGCM_ENOMEM, NULL, "out of memory");
    }
    pgcm__strmap_free(&seen);
    return rc;
}

static void do_add(pgcm_manager_t *mgr, cmd_t *cmd)
{
    pgcm_error_t *err = cmd_err(cmd);
    int rc =
        validate_list(mgr, cmd->u.nodes.specs, cmd->u.nodes.count, true, err);
    for (size_t i = 0; rc == PGCM_OK && i < cmd->u.nodes.count; i++)
        rc = add_node(mgr, cmd->u.nodes.specs[i], err);
    finish_cmd(mgr, cmd, rc);
}

static void do_apply(pgcm_manager_t *mgr, cmd_t *cmd)
{
    pgcm_error_t *err = cmd_err(cmd);
    pgcm_node_spec_t **specs = cmd->u.nodes.specs;
    size_t count = cmd->u.nodes.count;
    int rc = validate_list(mgr, specs, count, false, err);
    strmap_t wanted = {0};
    bool *replacing = rc == PGCM_OK ? pgcm__calloc(count ? count : 1, 1) : NULL;
    for (size_t i = 0; rc == PGCM_OK && i < count; i++) {
        if (replacing == NULL ||
            pgcm__strmap_put(&wanted, specs[i]->id,
                             (void *)(uintptr_t)(i + 1)) != PGCM_OK)
            rc = pgcm__error_set(err, PGCM_ENOMEM, NULL, "out of memory");
    }
    if (rc != PGCM_OK) {
        pgcm__strmap_free(&wanted);
        pgcm__free(replacing);
        finish_cmd(mgr, cmd, rc);
        return;
    }
    cmd->u.nodes.pending = 1; /* held while we work */
    /* Removed or changed nodes first. */
    list_node_t *pos, *tmp;
    LIST_FOREACH_SAFE(pos, tmp, &mgr->nodes)
    {
        node_t *n = LIST_ENTRY(pos, node_t, link);
        uintptr_t want = (uintptr_t)pgcm__strmap_get(&wanted, n->id);
        if (want == 0) {
            cmd->u.nodes.counts[1]++;
            remove_node(mgr, n, mgr->opts.remove_timeout_ms, cmd);
        } else if (!pgcm_node_spec_equal(specs[want - 1], n->spec)) {
            cmd->u.nodes.counts[2]++;
            replacing[want - 1] = true;
            remove_node(mgr, n, mgr->opts.remove_timeout_ms, cmd);
        }
    }
    /* Then every id not running now: new ones, and the replacements. */
    for (size_t i = 0; i < count; i++) {
        if (find_node(mgr, specs[i]->id) != NULL)
            continue;
        if (add_node(mgr, specs[i], err) == PGCM_OK && !replacing[i])
            cmd->u.nodes.counts[0]++;
    }
    pgcm__strmap_free(&wanted);
    pgcm__free(replacing);
    if (--cmd->u.nodes.pending == 0)
        finish_cmd(mgr, cmd, PGCM_OK);
}

static void do_remove(pgcm_manager_t *mgr, cmd_t *cmd)
{
    node_t *n = find_node(mgr, cmd->u.remove.node_id);
    if (n == NULL) {
        pgcm__error_set(cmd_err(cmd), PGCM_ENOENT, cmd->u.remove.node_id,
                        "no node with id '%s'; nothing to remove",
                        cmd->u.remove.node_id);
        finish_cmd(mgr, cmd, PGCM_ENOENT);
        return;
    }
    cmd->u.remove.pending = 1;
    remove_node(mgr, n, mgr->opts.remove_timeout_ms, cmd);
    if (--cmd->u.remove.pending == 0)
        finish_cmd(mgr, cmd, PGCM_OK);
}

/* ---- requests ------------------------------------------------------------ */

/* The command's block is its request's from now on (query_block_t). */
static void do_query(pgcm_manager_t *mgr, cmd_t *cmd)
{
    request_t *r = cmd->u.query.req;
    pgcm__request_submit(&mgr->requests, r,
                         r->on_checkout ? NULL
                                        : find_node(mgr, r->args.node_id));
}

static void do_checkout(pgcm_manager_t *mgr, cmd_t *cmd)
{
    struct pgcm_checkout_s *co = cmd->u.checkout.co;
    request_t *r = pgcm__request_new(&mgr->requests, cmd->u.checkout.id,
                                     REQ_CHECKOUT, &cmd->u.checkout.args);
    if (r != NULL)
        pgcm__request_checkout(&mgr->requests, r,
                               find_node(mgr, r->args.node_id), co,
                               cmd->u.checkout.acquire_timeout_ms);
    cmd->u.checkout.co = NULL;
    pgcm__cmd_free(cmd);
}

static void do_batch(pgcm_manager_t *mgr, cmd_t *cmd)
{
    size_t count = 0;
    pgcm_target_kind_t kind = cmd->u.batch.kind;
    if (kind == PGCM_TARGET_LIST) {
        count = cmd->u.batch.nids;
    } else {
        for (list_node_t *pos = mgr->nodes.next; pos != &mgr->nodes;
             pos = pos->next) {
            node_t *n = LIST_ENTRY(pos, node_t, link);
            count += kind == PGCM_TARGET_ALL || pgcm__node_available(n);
        }
    }
    node_t **nodes = pgcm__calloc(count ? count : 1, sizeof(*nodes));
    const char **ids = pgcm__calloc(count ? count : 1, sizeof(*ids));
    if (nodes == NULL || ids == NULL) {
        pgcm__free(nodes);
        pgcm__free((void *)ids);
        if (cmd->done != NULL)
            pgcm__deliver_completion(&mgr->deliver, cmd->done, PGCM_ENOMEM,
                                     NULL, NULL);
        else
            pgcm__deliver_batch(&mgr->deliver, cmd->u.batch.cb,
                                cmd->u.batch.user,
                                pgcm__calloc(1, sizeof(pgcm_batch_t)));
        pgcm__cmd_free(cmd);
        return;
    }
    size_t i = 0;
    if (kind == PGCM_TARGET_LIST) {
        for (; i < count; i++) {
            ids[i] = cmd->u.batch.ids[i];
            nodes[i] = find_node(mgr, ids[i]);
        }
    } else {
        for (list_node_t *pos = mgr->nodes.next; pos != &mgr->nodes;
             pos = pos->next) {
            node_t *n = LIST_ENTRY(pos, node_t, link);
            if (kind == PGCM_TARGET_ALL || pgcm__node_available(n)) {
                ids[i] = n->id;
                nodes[i++] = n;
            }
        }
    }
    pgcm__batch_submit(&mgr->requests, cmd->u.batch.id, &cmd->u.batch.args,
                       nodes, ids, count, cmd->u.batch.cb, cmd->u.batch.user,
                       cmd->done);
    pgcm__free(nodes);
    pgcm__free((void *)ids);
    pgcm__cmd_free(cmd);
}

int pgcm__cancel_on_loop(pgcm_manager_t *mgr, uint64_t id)
{
    return pgcm__request_cancel(&mgr->requests, id);
}

int pgcm__subscribe_on_loop(pgcm_manager_t *mgr, pgcm_event_cb cb, void *user,
                            uint64_t id)
{
    return pgcm__deliver_subscribe(&mgr->deliver, cb, user, id);
}

void pgcm__unsubscribe_on_loop(pgcm_manager_t *mgr, uint64_t id)
{
    pgcm__deliver_unsubscribe(&mgr->deliver, id);
}

void pgcm__retry_on_loop(pgcm_manager_t *mgr, const char *node_id)
{
    node_t *n = find_node(mgr, node_id);
    if (n != NULL)
        pgcm__node_retry_now(n);
}

/* ---- shutdown ------------------------------------------------------------ */

static void check_shutdown(pgcm_manager_t *mgr)
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
    pgcm__cancel_wait(mgr->env.cancels, CANCEL_WAIT_MS);
    pgcm__cancel_tracker_set_wake(mgr->env.cancels, NULL);
    if (mgr->env.tunnels != NULL) {
        /* Every node closed its tunnel: end the sessions left. */
        pgcm__tunnels_close(mgr->env.tunnels, NULL, NULL);
        mgr->env.tunnels = NULL;
    }
    uv_close((uv_handle_t *)&mgr->janitor, NULL);
    uv_close((uv_handle_t *)&mgr->stats_timer, NULL);
    uv_close((uv_handle_t *)&mgr->wakeup, NULL);
    pgcm__wheel_close(&mgr->env.wheel);
    if (mgr->shutdown_cmd != NULL) {
        cmd_t *cmd = mgr->shutdown_cmd;
        mgr->shutdown_cmd = NULL;
        finish_cmd(mgr, cmd, PGCM_OK);
    }
    pgcm__deliver_close(&mgr->deliver);
}

static void do_shutdown(pgcm_manager_t *mgr, cmd_t *cmd)
{
    if (mgr->shutdown_cmd != NULL || atomic_load(&mgr->state) >= MGR_CLOSING) {
        finish_cmd(mgr, cmd, PGCM_OK);
        return;
    }
    atomic_store(&mgr->state, MGR_DRAINING);
    mgr->requests.accepting = false;
    mgr->shutdown_cmd = cmd;
    mgr->env.defer_finish = true; /* pgcm_manager_shutdown finishes them */
    uv_timer_stop(&mgr->janitor);
    uv_timer_stop(&mgr->stats_timer);
    list_node_t *pos, *tmp;
    LIST_FOREACH_SAFE(pos, tmp, &mgr->nodes)
    {
        node_t *n = LIST_ENTRY(pos, node_t, link);
        remove_node(mgr, n, mgr->opts.shutdown_timeout_ms, NULL);
    }
    check_shutdown(mgr);
}

/* ---- dispatch ------------------------------------------------------------ */

static void run_cmd_step(pgcm_manager_t *mgr, cmd_t *cmd);

/* One command, with one clock reading for what it sets off (env.h). */
static void run_cmd(pgcm_manager_t *mgr, cmd_t *cmd)
{
    uint64_t outer = pgcm__env_hold_clock(&mgr->env);
    run_cmd_step(mgr, cmd);
    pgcm__env_release_clock(&mgr->env, outer);
}

static void run_cmd_step(pgcm_manager_t *mgr, cmd_t *cmd)
{
    bool running = atomic_load(&mgr->state) == MGR_RUNNING;
    if (!running && cmd->type != CMD_SHUTDOWN && cmd->type != CMD_RELEASE &&
        cmd->type != CMD_CANCEL && cmd->type != CMD_UNSUBSCRIBE &&
        cmd->type != CMD_QUERY && cmd->type != CMD_CHECKOUT) {
        if (cmd->type == CMD_BATCH) {
            /* refuse the whole batch */
            if (cmd->done != NULL) {
                pgcm_error_t e;
                pgcm__error_set(&e, PGCM_ESHUTDOWN, NULL,
                                "the manager is shutting down; no new "
                                "queries are accepted");
                pgcm__deliver_completion(&mgr->deliver, cmd->done,
                                         PGCM_ESHUTDOWN, NULL, &e);
            } else {
                pgcm__deliver_batch(&mgr->deliver, cmd->u.batch.cb,
                                    cmd->u.batch.user,
                                    pgcm__calloc(1, sizeof(pgcm_batch_t)));
            }
            pgcm__cmd_free(cmd);
            return;
        }
        pgcm__error_set(cmd_err(cmd), PGCM_ESHUTDOWN, NULL,
                        "the manager is shut down or shutting down; no new "
                        "work is accepted");
        finish_cmd(mgr, cmd, PGCM_ESHUTDOWN);
        return;
    }
    switch (cmd->type) {
    case CMD_QUERY:
        do_query(mgr, cmd);
        return;
    case CMD_CHECKOUT:
        do_checkout(mgr, cmd);
        return;
    case CMD_BATCH:
        do_batch(mgr, cmd);
        return;
    case CMD_ADD:
    case CMD_START:
        do_add(mgr, cmd);
        return;
    case CMD_REMOVE:
        do_remove(mgr, cmd);
        return;
    case CMD_APPLY:
        do_apply(mgr, cmd);
        return;
    case CMD_CANCEL:
        finish_cmd(mgr, cmd, pgcm__cancel_on_loop(mgr, cmd->u.by_id.id));
        return;
    case CMD_SUBSCRIBE:
        finish_cmd(mgr, cmd,
                   pgcm__subscribe_on_loop(mgr, cmd->u.by_id.cb,
                                           cmd->u.by_id.user, cmd->u.by_id.id));
        return;
    case CMD_UNSUBSCRIBE:
        pgcm__unsubscribe_on_loop(mgr, cmd->u.by_id.id);
        finish_cmd(mgr, cmd, PGCM_OK);
        return;
    case CMD_RELEASE:
        pgcm__checkout_release(&mgr->requests, cmd->u.release.co,
                               cmd->u.release.discard);
        pgcm__cmd_free(cmd);
        return;
    case CMD_RETRY:
        pgcm__retry_on_loop(mgr, cmd->u.retry.node_id);
        pgcm__cmd_free(cmd);
        return;
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

static void on_wakeup(uv_async_t *a)
{
    pgcm_manager_t *mgr = a->data;
    drain_commands(mgr);
    pgcm__conn_settle_cancels(&mgr->env);
}

/* The janitor visits every node once per JANITOR_ROUND_MS, a slice of
 * them each tick (cursor janitor_next), so a tick costs O(nodes / ticks
 * per round), not O(nodes). */
static void on_janitor(uv_timer_t *t)
{
    pgcm_manager_t *mgr = t->data;
    uint64_t now = pgcm__mono_us();
    size_t ticks = JANITOR_ROUND_MS / JANITOR_MS;
    size_t slice = (mgr->node_count + ticks - 1) / ticks;
    list_node_t *head = &mgr->nodes;
    if (mgr->janitor_next == NULL)
        mgr->janitor_next = head->next;
    for (size_t k = 0; k < slice; k++) {
        list_node_t *pos = mgr->janitor_next;
        if (pos == head)
            pos = head->next; /* wrap: a new round */
        if (pos == head)
            break;
        mgr->janitor_next = pos->next;
        pgcm__node_maintain(LIST_ENTRY(pos, node_t, link), now);
    }
}

/* PGCM_EV_POOL_STATS for every node, every stats interval. */
static void on_stats_timer(uv_timer_t *t)
{
    pgcm_manager_t *mgr = t->data;
    for (list_node_t *pos = mgr->nodes.next; pos != &mgr->nodes;
         pos = pos->next)
        pgcm__node_emit_stats(LIST_ENTRY(pos, node_t, link));
}

/* deliver.c's before hook: what changed is published before anyone
 * hears about it. */
static void publish_changed(void *env)
{
    pgcm__pools_publish(env);
}

/* deliver.c's after hook: the round is over, held-back statements go. */
static void end_of_round(void *env)
{
    pgcm__conn_uncork_all(env);
}

static void loop_thread(void *arg)
{
    pgcm_manager_t *mgr = arg;
    mgr->loop_thread_self = uv_thread_self();
    uv_run(&mgr->loop, UV_RUN_DEFAULT);
    atomic_store(&mgr->state, MGR_STOPPED);
    refuse_queued(mgr);
}

/* ---- creation and destruction ---------------------------------------------
 */

int pgcm__manager_create(const pgcm_options_t *o, pgcm_manager_t **out,
                         pgcm_error_t *err)
{
    pgcm_manager_t *mgr = pgcm__calloc(1, sizeof(*mgr));
    if (mgr == NULL)
        return pgcm__error_set(err, PGCM_ENOMEM, NULL, "out of memory");
    mgr->opts = *o;
    mgr->opts.probe_query = pgcm__strdup(o->probe_query);
    mgr->opts.application_name = pgcm__strdup(o->application_name);
    mgr->env.cancels = pgcm__cancel_tracker_new();
    bool loop_ok = false;
    if (mgr->opts.probe_query == NULL || mgr->opts.application_name == NULL ||
        mgr->env.cancels == NULL ||
        !(loop_ok = uv_loop_init(&mgr->loop) == 0) ||
        !pgcm__wheel_start(&mgr->env.wheel, &mgr->loop)) {
        if (loop_ok)
            uv_loop_close(&mgr->loop);
        pgcm__free((char *)mgr->opts.probe_query);
        pgcm__free((char *)mgr->opts.application_name);
        pgcm__cancel_tracker_release(mgr->env.cancels);
        pgcm__free(mgr);
        return pgcm__error_set(err, PGCM_ENOMEM, NULL, "out of memory");
    }
    atomic_init(&mgr->state, MGR_RUNNING);
    atomic_init(&mgr->thread_joined, 0);
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

    mgr->env.loop = &mgr->loop;
    mgr->env.opts = &mgr->opts;
    mgr->env.next_id = &mgr->next_id;
    mgr->env.deliver = &mgr->deliver;
    list_init(&mgr->env.cancel_waits);
    list_init(&mgr->env.changed_pools);
    list_init(&mgr->env.handshake_queue);
    pgcm__deliver_init(&mgr->deliver, &mgr->loop, &mgr->next_id);
    list_init(&mgr->env.corked);
    mgr->deliver.before = publish_changed;
    mgr->deliver.after = end_of_round;
    mgr->deliver.before_data = &mgr->env;
    pgcm__requests_init(&mgr->requests, &mgr->env);

    uv_async_init(&mgr->loop, &mgr->wakeup, on_wakeup);
    mgr->wakeup.data = mgr;
    pgcm__cancel_tracker_set_wake(mgr->env.cancels, &mgr->wakeup);
    uv_timer_init(&mgr->loop, &mgr->janitor);
    mgr->janitor.data = mgr;
    uv_timer_init(&mgr->loop, &mgr->stats_timer);
    mgr->stats_timer.data = mgr;
    uint64_t stats_ms =
        (uint64_t)(o->stats_interval_ms > 0 ? o->stats_interval_ms
                                            : o->health_check_interval_ms);
    uv_timer_start(&mgr->janitor, on_janitor, JANITOR_MS, JANITOR_MS);
    uv_timer_start(&mgr->stats_timer, on_stats_timer, stats_ms, stats_ms);
    pgcm__manager_count(1);
    if (uv_thread_create(&mgr->thread, loop_thread, mgr) != 0) {
        pgcm__cancel_tracker_set_wake(mgr->env.cancels, NULL);
        uv_close((uv_handle_t *)&mgr->wakeup, NULL);
        uv_close((uv_handle_t *)&mgr->janitor, NULL);
        uv_close((uv_handle_t *)&mgr->stats_timer, NULL);
        pgcm__wheel_close(&mgr->env.wheel);
        pgcm__deliver_close(&mgr->deliver);
        uv_run(&mgr->loop, UV_RUN_DEFAULT);
        atomic_store(&mgr->thread_joined, 1);
        pgcm__manager_destroy(mgr);
        return pgcm__error_set(err, PGCM_ENOMEM, NULL,
                               "cannot start the manager's loop thread");
    }
    *out = mgr;
    return PGCM_OK;
}

void pgcm__manager_joined(pgcm_manager_t *mgr)
{
    pgcm__conn_finish_later(&mgr->env);
}

void pgcm__manager_destroy(pgcm_manager_t *mgr)
{
    int rc = uv_loop_close(&mgr->loop);
    /* every handle of ours is closed by now: a leak would show here */
    assert(rc == 0);
    (void)rc;
    pthread_mutex_destroy(&mgr->cmd_lock);
    pthread_mutex_destroy(&mgr->snap_lock);
    pthread_cond_destroy(&mgr->snap_cond);
    pgcm__strmap_free(&mgr->nodes_by_id);
    pgcm__wheel_free(&mgr->env.wheel);
    pgcm__conn_finish_later(&mgr->env);
    pgcm__deliver_free(&mgr->deliver);
    pgcm__requests_free(&mgr->requests);
    pgcm__free((char *)mgr->opts.probe_query);
    pgcm__free((char *)mgr->opts.application_name);
    pgcm__cancel_tracker_release(mgr->env.cancels);
    pgcm__free(mgr);
    pgcm__manager_count(-1);
}
