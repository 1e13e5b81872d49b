/* SPDX-License-Identifier: MIT */
/*
 * fanout_wait.h - wait for one or more fan-outs (pgcm_query_many_async
 * batches) to finish, cancelling them all once when a stop is requested
 * (the SIGINT/SIGTERM flag). Shared by `query` (cli.c) and the status
 * collection (collect.c).
 *
 * Use: rm_fanout_wait_init; for each batch rm_fanout_wait_expect before
 * submitting it (its callback may run before the submit returns) and
 * rm_fanout_wait_submitted after; rm_fanout_wait_done from the batch's
 * callback once its result is stored; then rm_fanout_wait_all;
 * rm_fanout_wait_destroy.
 */
#ifndef REPLMON_FANOUT_WAIT_H
#define REPLMON_FANOUT_WAIT_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "pgcm.h"

typedef struct rm_fanout_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t pending; /* expected batches whose callback has not run */
    uint64_t *ids;  /* request ids of the submitted batches, to cancel */
    size_t nids, cap;
} rm_fanout_wait_t;

/* rm_fanout_wait_init - for up to max_batches batches. Returns 0, or -1
 * when out of memory. */
int rm_fanout_wait_init(rm_fanout_wait_t *w, size_t max_batches);
void rm_fanout_wait_destroy(rm_fanout_wait_t *w);

/* rm_fanout_wait_expect - count one more batch, before submitting it. */
void rm_fanout_wait_expect(rm_fanout_wait_t *w);

/* rm_fanout_wait_submitted - the submit's outcome: PGCM_OK remembers
 * request_id for cancelling; an error takes the batch off the count (its
 * callback never runs). */
void rm_fanout_wait_submitted(rm_fanout_wait_t *w, int rc, uint64_t request_id);

/* rm_fanout_wait_done - from a batch's callback (any thread). */
void rm_fanout_wait_done(rm_fanout_wait_t *w);

/* rm_fanout_wait_all - wait until every counted batch is done. When *stop
 * (may be NULL) turns non-zero, cancel every submitted batch once and keep
 * waiting for their (cancelled) callbacks. Returns 1 when it cancelled,
 * else 0. Thread: not the loop. */
int rm_fanout_wait_all(rm_fanout_wait_t *w, pgcm_manager_t *mgr,
                       volatile sig_atomic_t *stop);

#endif /* REPLMON_FANOUT_WAIT_H */
