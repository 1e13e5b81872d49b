/* SPDX-License-Identifier: MIT */
/*
 * checkout.c - taking one connection of a node for exclusive use, for a
 * transaction (L15), and giving it back: clean connections return to the
 * pool, ones left inside a transaction or marked for discard are closed.
 * Leak warnings for long-held checkouts come from the janitor (pool.c).
 */
#include "loop.h"

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
    request_t *r = co ? pgcm__request_new(mgr, node_id, "", 0, NULL, 0) : NULL;
    cmd_t *cmd = r ? pgcm__cmd_new(CMD_QUERY) : NULL;
    if (cmd == NULL) {
        pgcm__request_free(r);
        pgcm__free(co);
        return pgcm__error_set(err, PGCM_ENOMEM, node_id, "out of memory");
    }
    co->mgr = mgr;
    r->kind = REQ_CHECKOUT;
    r->co = co;
    r->acquire_timeout_ms = timeout_ms;
    r->id = pgcm__new_id(mgr);
    pgcm__request_set_options(r, NULL);
    cmd->req = r;
    completion_t done;
    pgcm__completion_init(&done);
    r->done = &done;
    pgcm__post(mgr, cmd);
    pgcm__completion_wait(&done);
    int rc = done.status;
    if (err != NULL && rc != PGCM_OK)
        *err = done.err;
    pgcm__completion_destroy(&done);
    if (rc != PGCM_OK) {
        pgcm__free(co);
        return rc;
    }
    *out = co;
    return PGCM_OK;
}

void pgcm__checkout_release_on_loop(pgcm_manager_t *mgr,
                                    struct pgcm_checkout_s *co, int discard)
{
    (void)mgr;
    conn_t *c = co->conn;
    pgcm__free(co);
    if (c == NULL)
        return; /* the node already closed it */
    node_t *n = c->node;
    c->checkout = NULL;
    if (c->next_req != NULL) {
        /* released with a statement still queued on it: an overlap */
        discard = 1;
    } else if (!discard && c->awaiting_cancel) {
        /* back to the pool once its cancel settles (conn.c) */
        return;
    }
    if (discard || c->op != OP_NONE || c->pg == NULL ||
        PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        if (c->op != OP_NONE)
            pgcm__conn_send_cancel(c);
        pgcm__conn_discard(c, discard ? "discarded by the user"
                                      : "released inside a transaction");
        pgcm__pool_fill(n);
        return;
    }
    pgcm__pool_conn_ready(c);
}

void pgcm_checkout_release(pgcm_checkout_t *co, int discard)
{
    if (co == NULL || co->released)
        return;
    co->released = true;
    cmd_t *cmd = pgcm__cmd_new(CMD_RELEASE);
    if (cmd == NULL)
        return; /* the connection stays held until shutdown closes it */
    cmd->co = co;
    cmd->discard = discard;
    pgcm__post(co->mgr, cmd);
}
