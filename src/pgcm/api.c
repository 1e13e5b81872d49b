/* SPDX-License-Identifier: MIT */
/*
 * api.c - the public entry points, on the caller's thread: argument checks,
 * deep copies of everything the caller passes, building a command and
 * posting it (one helper waits for the blocking ones), and the getters
 * that read the snapshots the loop publishes. Nothing here touches loop
 * state; manager.c runs the commands.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "manager.h"

/* ---- common checks and the one blocking helper ----------------------------
 */

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

static int check_id(const char *node_id, pgcm_error_t *err)
{
    if (node_id == NULL || node_id[0] == '\0')
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "node id is NULL or empty; pass the id the "
                               "node was added with");
    return PGCM_OK;
}

/* Post cmd, wait for its answer; returns its status, err and *out filled.
 * The completion is cmd's (or one the command's request carries). */
static int post_and_wait(pgcm_manager_t *mgr, cmd_t *cmd, completion_t *done,
                         void **out, pgcm_error_t *err)
{
    pgcm__post(mgr, cmd);
    pgcm__completion_wait(done);
    if (err != NULL) {
        *err = done->err;
        if (done->status != PGCM_OK && err->code == 0)
            pgcm__error_set(err, done->status, NULL, "%s",
                            pgcm_strerror(done->status));
    }
    if (out != NULL)
        *out = done->out;
    pgcm__completion_destroy(done);
    return done->status;
}

static int run_blocking(pgcm_manager_t *mgr, cmd_t *cmd, void **out,
                        pgcm_error_t *err)
{
    completion_t done;
    pgcm__completion_init(&done);
    cmd->done = &done;
    return post_and_wait(mgr, cmd, &done, out, err);
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

/* A command carrying copies of count specs (validated). */
static cmd_t *nodes_cmd(cmd_type_t type, const pgcm_node_spec_t *nodes,
                        size_t count, pgcm_error_t *err, int *rc)
{
    cmd_t *cmd = pgcm__cmd_new(type);
    if (cmd == NULL) {
        *rc = pgcm__error_set(err, PGCM_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    cmd->u.nodes.specs = dup_specs(nodes, count, err, rc);
    if (*rc != PGCM_OK) {
        pgcm__cmd_free(cmd);
        return NULL;
    }
    cmd->u.nodes.count = count;
    return cmd;
}

/* ---- lifecycle ------------------------------------------------------------
 */

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
    return pgcm__manager_create(&o, out, err);
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
    cmd_t *cmd = nodes_cmd(CMD_START, nodes, count, err, &rc);
    if (cmd == NULL)
        return rc;
    rc = run_blocking(mgr, cmd, NULL, err);
    if (rc != PGCM_OK || wait_ms == 0)
        return rc;

    /* Wait until none of these nodes is still in its first attempt. A
     * node never goes back to CONNECTING, so the scan goes on from the
     * first one still pending: O(count) in all, however many wake-ups. */
    struct timespec deadline = pgcm__mono_deadline(wait_ms);
    size_t first = 0;
    pthread_mutex_lock(&mgr->snap_lock);
    for (;;) {
        for (; first < count; first++) {
            node_t *n = pgcm__strmap_get(&mgr->nodes_by_id, nodes[first].id);
            if (n != NULL && n->pub.state == PGCM_NODE_CONNECTING)
                break;
        }
        if (first == count)
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
    cmd_t *cmd = nodes_cmd(CMD_APPLY, nodes, count, err, &rc);
    if (cmd == NULL)
        return rc;
    size_t *counts = NULL;
    rc = run_blocking(mgr, cmd, (void **)&counts, err);
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
        if (cmd != NULL)
            run_blocking(mgr, cmd, NULL, NULL);
    }
    if (atomic_exchange(&mgr->thread_joined, 1) == 0) {
        uv_thread_join(&mgr->thread);
        pgcm__manager_joined(mgr);
    }
    return PGCM_OK;
}

void pgcm_manager_free(pgcm_manager_t *mgr)
{
    if (mgr == NULL || pgcm__on_loop(mgr))
        return; /* freeing from a callback would pull the loop away */
    pgcm_manager_shutdown(mgr);
    pgcm__manager_destroy(mgr);
}

/* ---- nodes ----------------------------------------------------------------
 */

int pgcm_node_add(pgcm_manager_t *mgr, const pgcm_node_spec_t *spec,
                  pgcm_error_t *err)
{
    int rc = check_entry(mgr, true, err);
    if (rc != PGCM_OK)
        return rc;
    if ((rc = pgcm__spec_validate(spec, err)) != PGCM_OK)
        return rc;
    cmd_t *cmd = nodes_cmd(CMD_ADD, spec, 1, err, &rc);
    if (cmd == NULL)
        return rc;
    return run_blocking(mgr, cmd, NULL, err);
}

static cmd_t *remove_cmd(const char *node_id, pgcm_error_t *err, int *rc)
{
    cmd_t *cmd = pgcm__cmd_new(CMD_REMOVE);
    if (cmd == NULL ||
        (cmd->u.remove.node_id = pgcm__strdup(node_id)) == NULL) {
        pgcm__cmd_free(cmd);
        *rc = pgcm__error_set(err, PGCM_ENOMEM, NULL, "out of memory");
        return NULL;
    }
    return cmd;
}

int pgcm_node_remove(pgcm_manager_t *mgr, const char *node_id,
                     pgcm_error_t *err)
{
    int rc = check_entry(mgr, true, err);
    if (rc == PGCM_OK)
        rc = check_id(node_id, err);
    if (rc != PGCM_OK)
        return rc;
    cmd_t *cmd = remove_cmd(node_id, err, &rc);
    if (cmd == NULL)
        return rc;
    return run_blocking(mgr, cmd, NULL, err);
}

int pgcm_node_remove_async(pgcm_manager_t *mgr, const char *node_id,
                           pgcm_done_cb done, void *user, pgcm_error_t *err)
{
    int rc = check_entry(mgr, false, err);
    if (rc == PGCM_OK)
        rc = check_id(node_id, err);
    if (rc != PGCM_OK)
        return rc;
    cmd_t *cmd = remove_cmd(node_id, err, &rc);
    if (cmd == NULL)
        return rc;
    cmd->u.remove.cb = done;
    cmd->u.remove.user = user;
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
        pgcm__retry_on_loop(mgr, node_id);
        return PGCM_OK;
    }
    cmd_t *cmd = pgcm__cmd_new(CMD_RETRY);
    if (cmd == NULL || (cmd->u.retry.node_id = pgcm__strdup(node_id)) == NULL) {
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

/* Copy a node's published record and/or stats. */
static int node_snapshot(pgcm_manager_t *mgr, const char *node_id,
                         pgcm_health_t *health, pgcm_pool_stats_t *stats)
{
    if (mgr == NULL || node_id == NULL || (health == NULL && stats == NULL))
        return PGCM_EINVAL;
    pthread_mutex_lock(&mgr->snap_lock);
    node_t *n = pgcm__strmap_get(&mgr->nodes_by_id, node_id);
    if (n != NULL)
        pgcm__node_read_published(n, health, stats);
    pthread_mutex_unlock(&mgr->snap_lock);
    return n ? PGCM_OK : PGCM_ENOENT;
}

int pgcm_node_health(pgcm_manager_t *mgr, const char *node_id,
                     pgcm_health_t *out)
{
    return out ? node_snapshot(mgr, node_id, out, NULL) : PGCM_EINVAL;
}

int pgcm_node_stats(pgcm_manager_t *mgr, const char *node_id,
                    pgcm_pool_stats_t *out)
{
    return out ? node_snapshot(mgr, node_id, NULL, out) : PGCM_EINVAL;
}

/* ---- queries --------------------------------------------------------------
 */

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

/* The bytes a deep copy of a statement, its parameters and the node id
 * takes: the parameter slots first (pointer-aligned), then the strings. */
static size_t args_size(const char *node_id, const char *sql, int nparams,
                        const char *const *params)
{
    size_t n = nparams > 0 ? (size_t)nparams : 0;
    size_t total = n * sizeof(char *);
    total += node_id ? strlen(node_id) + 1 : 0;
    total += sql ? strlen(sql) + 1 : 0;
    for (size_t i = 0; i < n; i++)
        total += params[i] ? strlen(params[i]) + 1 : 0;
    return total;
}

/* Fill a with copies in mem (args_size() bytes; a->mem is left alone). */
static void args_fill(request_args_t *a, void *mem, const char *node_id,
                      const char *sql, int nparams, const char *const *params,
                      const pgcm_query_options_t *opts)
{
    size_t n = nparams > 0 ? (size_t)nparams : 0;
    char **slots = mem;
    char *text = (char *)mem + n * sizeof(char *);
    if (n > 0) {
        a->params = slots;
        a->nparams = nparams;
        for (size_t i = 0; i < n; i++) {
            slots[i] = NULL;
            if (params[i] != NULL) {
                size_t len = strlen(params[i]) + 1;
                slots[i] = memcpy(text, params[i], len);
                text += len;
            }
        }
    }
    if (node_id != NULL) {
        size_t len = strlen(node_id) + 1;
        a->node_id = memcpy(text, node_id, len);
        text += len;
    }
    if (sql != NULL)
        a->sql = memcpy(text, sql, strlen(sql) + 1);
    if (opts != NULL)
        a->opts = *opts;
}

/* Deep copies of the statement, its parameters and the node id, in one
 * block (a->mem): one allocation however many parameters. */
static int copy_args(request_args_t *a, const char *node_id, const char *sql,
                     int nparams, const char *const *params,
                     const pgcm_query_options_t *opts)
{
    memset(a, 0, sizeof(*a));
    size_t total = args_size(node_id, sql, nparams, params);
    if (total > 0) {
        a->mem = pgcm__malloc(total);
        if (a->mem == NULL)
            return PGCM_ENOMEM;
    }
    args_fill(a, a->mem, node_id, sql, nparams, params, opts);
    return PGCM_OK;
}

/* A statement's command and request in one allocation, with the copies
 * of its strings after them (manager.h, query_block_t). */
static query_block_t *query_block_new(pgcm_manager_t *mgr, const char *node_id,
                                      const char *sql, int nparams,
                                      const char *const *params,
                                      const pgcm_query_options_t *opts)
{
    size_t text = args_size(node_id, sql, nparams, params);
    /* From a callback (on the loop), the loop's spare blocks (request.h) */
    bool spare = sizeof(query_block_t) + text <= REQUEST_SPARE_BYTES &&
                 pgcm__on_loop(mgr);
    query_block_t *qb = spare ? pgcm__request_spare_block(&mgr->requests)
                              : pgcm__malloc(sizeof(*qb) + text);
    if (qb == NULL)
        return NULL;
    memset(qb, 0, sizeof(*qb));
    list_init(&qb->cmd.link);
    qb->cmd.type = CMD_QUERY;
    qb->cmd.u.query.req = &qb->req;
    request_t *r = &qb->req;
    pgcm__request_init(r, &mgr->requests, pgcm__new_id(mgr), REQ_QUERY);
    r->block = qb;
    r->block_spare = spare;
    r->owns_args = true; /* a->mem is NULL: the strings go with the block */
    args_fill(&r->args, qb + 1, node_id, sql, nparams, params, opts);
    return qb;
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
    query_block_t *qb = query_block_new(mgr, co ? co->node_id : node_id, sql,
                                        nparams, params, opts);
    if (qb == NULL)
        return pgcm__error_set(err, PGCM_ENOMEM, node_id, "out of memory");
    cmd_t *cmd = &qb->cmd;
    request_t *r = &qb->req;
    r->on_checkout = co;
    if (request_id != NULL)
        *request_id = r->id;
    if (!blocking) {
        r->args.cb = cb;
        r->args.user = user;
        pgcm__post(mgr, cmd);
        return PGCM_OK;
    }
    completion_t done;
    pgcm__completion_init(&done);
    r->args.done = &done;
    pgcm_result_t *res = NULL;
    rc = post_and_wait(mgr, cmd, &done, (void **)&res, err);
    if (out != NULL)
        *out = res;
    else
        pgcm_result_free(res);
    return rc;
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
    bool ok = cmd != NULL && copy_args(&cmd->u.batch.args, NULL, sql, nparams,
                                       params, opts) == PGCM_OK;
    if (ok && target != NULL) {
        cmd->u.batch.kind = target->kind;
        if (target->kind == PGCM_TARGET_LIST) {
            size_t k = target->node_count;
            cmd->u.batch.ids = pgcm__calloc(k ? k : 1, sizeof(char *));
            ok = cmd->u.batch.ids != NULL;
            for (size_t i = 0; ok && i < k; i++) {
                cmd->u.batch.ids[i] = pgcm__strdup(
                    target->node_ids[i] ? target->node_ids[i] : "");
                ok = cmd->u.batch.ids[i] != NULL;
                cmd->u.batch.nids = i + 1;
            }
        }
    }
    if (!ok) {
        pgcm__cmd_free(cmd);
        return pgcm__error_set(err, PGCM_ENOMEM, NULL, "out of memory");
    }
    cmd->u.batch.id = pgcm__new_id(mgr);
    if (request_id != NULL)
        *request_id = cmd->u.batch.id;
    if (!blocking) {
        cmd->u.batch.cb = cb;
        cmd->u.batch.user = user;
        pgcm__post(mgr, cmd);
        return PGCM_OK;
    }
    pgcm_batch_t *batch = NULL;
    rc = run_blocking(mgr, cmd, (void **)&batch, err);
    if (out != NULL)
        *out = batch;
    else
        pgcm_batch_free(batch);
    return rc;
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
    if (pgcm__on_loop(mgr))
        return pgcm__cancel_on_loop(mgr, request_id);
    cmd_t *cmd = pgcm__cmd_new(CMD_CANCEL);
    if (cmd == NULL)
        return PGCM_ENOMEM;
    cmd->u.by_id.id = request_id;
    return run_blocking(mgr, cmd, NULL, NULL);
}

/* ---- checkout ---------------------------------------------------------------
 */

int pgcm_checkout(pgcm_manager_t *mgr, const char *node_id, int timeout_ms,
                  pgcm_checkout_t **out, pgcm_error_t *err)
{
    pgcm__error_clear(err);
    if (out == NULL)
        return pgcm__error_set(err, PGCM_EINVAL, node_id,
                               "out is NULL; pass the address of a "
                               "pgcm_checkout_t pointer");
    *out = NULL;
    if (mgr == NULL)
        return pgcm__error_set(err, PGCM_EINVAL, NULL, "manager is NULL");
    if (node_id == NULL || node_id[0] == '\0')
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "node id is NULL or empty; pass the id the "
                               "node was added with");
    if (timeout_ms < 0)
        return pgcm__error_set(err, PGCM_EINVAL, node_id,
                               "timeout_ms %d is negative; use 0 for the "
                               "pool's acquire timeout or a positive value",
                               timeout_ms);
    if (atomic_load(&mgr->state) != MGR_RUNNING)
        return pgcm__error_set(err, PGCM_ESHUTDOWN, node_id,
                               "the manager is shut down or shutting down");
    if (pgcm__on_loop(mgr))
        return pgcm__error_set(err, PGCM_EDEADLK, node_id,
                               "pgcm_checkout called from a libpgcm callback "
                               "(the loop thread) would deadlock");
    struct pgcm_checkout_s *co = pgcm__calloc(1, sizeof(*co));
    cmd_t *cmd = co ? pgcm__cmd_new(CMD_CHECKOUT) : NULL;
    if (cmd == NULL || copy_args(&cmd->u.checkout.args, node_id, NULL, 0, NULL,
                                 NULL) != PGCM_OK) {
        pgcm__cmd_free(cmd);
        pgcm__free(co);
        return pgcm__error_set(err, PGCM_ENOMEM, node_id, "out of memory");
    }
    co->mgr = mgr;
    cmd->u.checkout.id = pgcm__new_id(mgr);
    cmd->u.checkout.co = co;
    cmd->u.checkout.acquire_timeout_ms = timeout_ms;
    completion_t done;
    pgcm__completion_init(&done);
    cmd->u.checkout.args.done = &done;
    /* co is freed by the loop when the checkout fails */
    return post_and_wait(mgr, cmd, &done, (void **)out, err);
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

void pgcm_checkout_release(pgcm_checkout_t *co, int discard)
{
    if (co == NULL || co->released)
        return;
    co->released = true;
    cmd_t *cmd = pgcm__cmd_new(CMD_RELEASE);
    if (cmd == NULL)
        return; /* the connection stays held until shutdown closes it */
    cmd->u.release.co = co;
    cmd->u.release.discard = discard != 0;
    pgcm__post(co->mgr, cmd);
}

/* ---- events ----------------------------------------------------------------
 */

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
    cmd->u.by_id.id = id;
    cmd->u.by_id.cb = cb;
    cmd->u.by_id.user = user;
    return run_blocking(mgr, cmd, NULL, NULL);
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
    cmd->u.by_id.id = sub_id;
    return run_blocking(mgr, cmd, NULL, NULL);
}
