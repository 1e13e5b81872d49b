/* SPDX-License-Identifier: MIT */
/*
 * manager.h - the manager: its loop thread, the command queue through which
 * every other thread reaches the loop (a command is a tagged union), and
 * the snapshots the loop publishes for them. api.c (caller threads) builds
 * and posts commands and reads snapshots; manager.c (the loop) runs them.
 */
#ifndef PGCM_MANAGER_H
#define PGCM_MANAGER_H

#include <pthread.h>

#include "request.h"

typedef enum cmd_type {
    CMD_QUERY,
    CMD_CHECKOUT,
    CMD_BATCH,
    CMD_ADD,
    CMD_START,
    CMD_REMOVE,
    CMD_APPLY,
    CMD_CANCEL,
    CMD_SUBSCRIBE,
    CMD_UNSUBSCRIBE,
    CMD_RELEASE,
    CMD_RETRY,
    CMD_SHUTDOWN
} cmd_type_t;

typedef struct cmd {
    list_node_t link;
    cmd_type_t type;
    completion_t *done; /* a blocking caller, or NULL */
    union {
        struct { /* CMD_QUERY: the request, in the same block */
            request_t *req;
        } query;
        struct { /* CMD_CHECKOUT: args.node_id, args.done */
            uint64_t id;
            request_args_t args;
            struct pgcm_checkout_s *co;
            int acquire_timeout_ms;
        } checkout;
        struct { /* CMD_BATCH */
            uint64_t id;
            request_args_t args;
            pgcm_target_kind_t kind;
            char **ids; /* LIST: owned copies */
            size_t nids;
            pgcm_batch_cb cb;
            void *user;
        } batch;
        struct {                      /* CMD_ADD, CMD_START, CMD_APPLY */
            pgcm_node_spec_t **specs; /* owned copies */
            size_t count;
            size_t counts[3]; /* APPLY: added, removed, replaced */
            int pending;      /* removals still running */
        } nodes;
        struct { /* CMD_REMOVE */
            char *node_id;
            pgcm_done_cb cb; /* async */
            void *user;
            int pending;
        } remove;
        struct { /* CMD_CANCEL, CMD_UNSUBSCRIBE, CMD_SUBSCRIBE */
            uint64_t id;
            pgcm_event_cb cb;
            void *user;
        } by_id;
        struct { /* CMD_RELEASE */
            struct pgcm_checkout_s *co;
            bool discard;
        } release;
        struct { /* CMD_RETRY */
            char *node_id;
        } retry;
    } u;
} cmd_t;

/* A statement's command, its request and the request's strings in one
 * allocation (api.c builds it; once the loop runs it, the request owns
 * the block and frees it when it finishes). */
typedef struct query_block {
    cmd_t cmd; /* first: freeing the command frees the block */
    request_t req;
} query_block_t;

typedef enum mgr_state {
    MGR_RUNNING,
    MGR_DRAINING, /* shutdown requested: no new work */
    MGR_CLOSING,  /* closing handles, loop about to end */
    MGR_STOPPED
} mgr_state_t;

struct pgcm_manager_s {
    pgcm_options_t opts; /* strings owned */
    uv_loop_t loop;
    uv_thread_t thread;
    uv_thread_t loop_thread_self;
    uv_async_t wakeup;
    uv_timer_t janitor;
    uv_timer_t stats_timer; /* PGCM_EV_POOL_STATS cadence */

    atomic_int state; /* mgr_state_t; read by any thread */
    atomic_int thread_joined;
    atomic_uint_fast64_t next_id;

    /* command queue: any thread -> loop */
    pthread_mutex_t cmd_lock;
    list_node_t cmds;

    /* published state: the loop writes, others read, under snap_lock */
    pthread_mutex_t snap_lock;
    pthread_cond_t snap_cond; /* broadcast when a node leaves CONNECTING */
    strmap_t nodes_by_id;     /* id -> node_t */
    size_t node_count;
    list_node_t nodes; /* node_t in order added; written under snap_lock */

    /* loop-only */
    loop_env_t env;
    deliver_queue_t deliver;
    request_registry_t requests;
    list_node_t closing_nodes; /* removed, handles still closing */
    list_node_t *janitor_next; /* the next node the janitor visits */
    cmd_t *shutdown_cmd;
};

/* Create the manager (opts validated and copied) and start its loop
 * thread. Caller's thread. */
int pgcm__manager_create(const pgcm_options_t *opts, pgcm_manager_t **out,
                         pgcm_error_t *err);
/* Right after the loop thread was joined, on the joining thread: close
 * what the shutdown left to it (the connections' Terminate and close). */
void pgcm__manager_joined(pgcm_manager_t *mgr);
/* Free a manager whose loop thread has ended. */
void pgcm__manager_destroy(pgcm_manager_t *mgr);

bool pgcm__on_loop(const pgcm_manager_t *mgr);
uint64_t pgcm__new_id(pgcm_manager_t *mgr);
cmd_t *pgcm__cmd_new(cmd_type_t type);
void pgcm__cmd_free(cmd_t *c);
/* Post a command to the loop (takes ownership of cmd). */
void pgcm__post(pgcm_manager_t *mgr, cmd_t *cmd);

/* Loop thread, from a callback: the same work without the queue. */
int pgcm__cancel_on_loop(pgcm_manager_t *mgr, uint64_t id);
int pgcm__subscribe_on_loop(pgcm_manager_t *mgr, pgcm_event_cb cb, void *user,
                            uint64_t id);
void pgcm__unsubscribe_on_loop(pgcm_manager_t *mgr, uint64_t id);
void pgcm__retry_on_loop(pgcm_manager_t *mgr, const char *node_id);

#endif /* PGCM_MANAGER_H */
