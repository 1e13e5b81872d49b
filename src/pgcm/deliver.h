/* SPDX-License-Identifier: MIT */
/*
 * deliver.h - the one place that calls the user: query and batch
 * callbacks, event subscribers, remove-done callbacks, and the wake-up of
 * blocked callers. Everything is queued while the loop handles something
 * and run after that handler returns (a libuv check handle, with an idle
 * handle so that the loop does not sleep with deliveries pending). So user
 * code never runs in the middle of a state change, may call any
 * non-blocking pgcm function, and each delivery fires exactly once.
 * (Streamed rows, pgcm_query_options_t.on_row, are the one exception: the
 * row is borrowed from libpq, so it is handed over synchronously.)
 */
#ifndef PGCM_DELIVER_H
#define PGCM_DELIVER_H

#include "env.h"

/* A blocking caller waits on this; the loop fills it and posts. */
typedef struct completion {
    uv_sem_t sem;
    int status;
    pgcm_error_t err;
    void *out;
} completion_t;

void pgcm__completion_init(completion_t *c);
void pgcm__completion_wait(completion_t *c);
void pgcm__completion_destroy(completion_t *c);

typedef struct subscriber {
    uint64_t id;
    pgcm_event_cb cb; /* NULL once unsubscribed */
    void *user;
} subscriber_t;

typedef struct deliver_queue {
    uv_check_t check; /* runs the queue after each round of handlers */
    uv_idle_t idle;   /* active while the queue is not empty */
    list_node_t items;
    pgcm_spare_t spare; /* run items kept for reuse (at most SPARE_MAX) */
    subscriber_t *subs;
    size_t nsubs, subs_cap;
    bool running;               /* inside pgcm__deliver_run */
    void (*before)(void *data); /* publishing what changed: run before a
                                   delivery queued since it last ran, and
                                   at the end of each round */
    uint64_t queued_seq;        /* items queued so far */
    uint64_t published_seq;     /* queued_seq when before last ran */
    void *before_data;
    void (*after)(void *data); /* run once the queue is empty */
    bool closed;               /* handles closed: deliver at once */
    atomic_uint_fast64_t *next_id;
} deliver_queue_t;

void pgcm__deliver_init(deliver_queue_t *q, uv_loop_t *loop,
                        atomic_uint_fast64_t *next_id);
/* Run what is queued, then close the handles; later deliveries run at
 * once (the loop is ending). */
void pgcm__deliver_close(deliver_queue_t *q);
void pgcm__deliver_free(deliver_queue_t *q);

/* Queue a delivery; each takes ownership of what it is given. */
void pgcm__deliver_result(deliver_queue_t *q, pgcm_query_cb cb, void *user,
                          pgcm_result_t *res);
void pgcm__deliver_batch(deliver_queue_t *q, pgcm_batch_cb cb, void *user,
                         pgcm_batch_t *batch);
/* Wake a blocked caller with status, out and err (copied; may be NULL). */
void pgcm__deliver_completion(deliver_queue_t *q, completion_t *c, int status,
                              void *out, const pgcm_error_t *err);
void pgcm__deliver_done(deliver_queue_t *q, pgcm_done_cb cb, void *user,
                        int status);
/* Queue an event for every subscriber present now (ev and what it points
 * to are copied). */
void pgcm__deliver_event(deliver_queue_t *q, const pgcm_event_t *ev);

int pgcm__deliver_subscribe(deliver_queue_t *q, pgcm_event_cb cb, void *user,
                            uint64_t id);
void pgcm__deliver_unsubscribe(deliver_queue_t *q, uint64_t id);

#endif /* PGCM_DELIVER_H */
