/* SPDX-License-Identifier: MIT */
/*
 * request.h - requests on the loop: one statement (or a checkout) routed to
 * its node's pool, the fan-out batch that collects one result per node,
 * cancel by id, and the checked-out connections. Results leave through the
 * delivery queue. The manager hands requests in with their node already
 * looked up.
 */
#ifndef PGCM_REQUEST_H
#define PGCM_REQUEST_H

#include "node.h"

typedef struct batch batch_t;

typedef enum request_kind {
    REQ_QUERY,   /* a statement on any pooled connection */
    REQ_CHECKOUT /* take a connection for exclusive use */
} request_kind_t;

/* A checkout: the caller's handle on one connection. */
struct pgcm_checkout_s {
    struct pgcm_manager_s *mgr;
    pconn_t *conn; /* loop-owned; NULL once the pool closed it */
    char node_id[PGCM_ID_MAX + 1];
    bool released; /* by the user (caller's thread) */
};

/* The statement and where its outcome goes; the strings are owned by the
 * request (or, for a batch part, by the batch). */
typedef struct request_args {
    void *mem; /* the one block the strings below live in (owned) */
    char *node_id;
    char *sql;
    int nparams;
    char **params;
    pgcm_query_options_t opts;
    pgcm_query_cb cb; /* async: fires once with the result */
    void *user;
    completion_t *done; /* blocking: woken with the result */
} request_args_t;

typedef struct request {
    pool_job_t job;       /* first: what the pool runs */
    list_node_t all_link; /* the registry's, while unfinished */
    uint64_t id;
    request_kind_t kind;
    struct request_registry *reg;
    node_t *node;
    request_args_t args;
    bool owns_args;
    void *block;      /* the allocation r lives in (a query_block_t), or
                         NULL: r was allocated on its own */
    bool block_spare; /* block is REQUEST_SPARE_BYTES: reused once done */
    struct pgcm_checkout_s *co;          /* CHECKOUT: filled on success */
    struct pgcm_checkout_s *on_checkout; /* a statement on this checkout */
    batch_t *batch;                      /* a fan-out part, or NULL */
    size_t index;                        /* its place in the batch */
} request_t;

struct batch {
    list_node_t all_link;
    uint64_t id;
    struct request_registry *reg;
    pgcm_batch_t *out;
    size_t remaining;
    request_t **parts;   /* NULL once that part finished */
    request_t *part_mem; /* the parts themselves, one array */
    uint64_t submit_us;
    request_args_t args; /* one copy of the statement every part borrows */
    pgcm_batch_cb cb;    /* async: fires once with the batch */
    void *user;
    completion_t *done; /* blocking: woken with the batch */
};

/* A statement submitted from a callback on the loop (the next statement of
 * a stream) gets a block of this size from the spare ones when its
 * command, request and strings fit, and the block goes back there when
 * the request is done: no malloc or free per statement. */
#define REQUEST_SPARE_BYTES 1024
#define REQUEST_SPARE_MAX   128 /* blocks kept: 128 KiB at the most */

typedef struct request_registry {
    loop_env_t *env;
    list_node_t requests; /* unfinished single requests */
    list_node_t batches;  /* unfinished batches */
    bool accepting;       /* false once shutdown began */
    pgcm_spare_t spare;   /* spare blocks (loop only) */
} request_registry_t;

void pgcm__requests_init(request_registry_t *reg, loop_env_t *env);
/* Free the spare blocks (the loop has ended). */
void pgcm__requests_free(request_registry_t *reg);
/* A spare block of REQUEST_SPARE_BYTES, or a new one; NULL on ENOMEM.
 * Loop thread only. */
void *pgcm__request_spare_block(request_registry_t *reg);

/* A new request taking ownership of args' strings (on failure too). id is
 * its request id. NULL on ENOMEM. */
request_t *pgcm__request_new(request_registry_t *reg, uint64_t id,
                             request_kind_t kind, request_args_t *args);
/* Set up r (zeroed by the caller) as a new request; its args are filled
 * by the caller and owned by r's block. Any thread (r is not shared yet). */
void pgcm__request_init(request_t *r, request_registry_t *reg, uint64_t id,
                        request_kind_t kind);
/* Route r to node (NULL: unknown id), or to its checkout. */
void pgcm__request_submit(request_registry_t *reg, request_t *r, node_t *node);
/* A checkout request: co is filled and delivered when a connection is
 * free. acquire_timeout_ms 0: the pool's. */
void pgcm__request_checkout(request_registry_t *reg, request_t *r, node_t *node,
                            struct pgcm_checkout_s *co, int acquire_timeout_ms);
/* Run a batch taking ownership of args: one part per node of nodes[]
 * (NULL entries: unknown ids, named by ids[i]). */
void pgcm__batch_submit(request_registry_t *reg, uint64_t id,
                        request_args_t *args, node_t *const *nodes,
                        const char *const *ids, size_t count, pgcm_batch_cb cb,
                        void *user, completion_t *done);
/* Cancel a request or a batch by id: PGCM_OK or PGCM_ENOENT. */
int pgcm__request_cancel(request_registry_t *reg, uint64_t id);
/* The user gave a checked-out connection back. Frees co. */
void pgcm__checkout_release(request_registry_t *reg, struct pgcm_checkout_s *co,
                            bool discard);
/* Answer a request that never reached a node (shutdown races). */
void pgcm__request_fail_args(request_registry_t *reg, request_args_t *args,
                             int code, const char *msg);
void pgcm__request_args_free(request_args_t *args);

#endif /* PGCM_REQUEST_H */
