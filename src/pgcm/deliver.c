/* SPDX-License-Identifier: MIT */
/*
 * deliver.c - the delivery queue (see deliver.h): what the loop has for the
 * user waits here until the handler that produced it has returned, then
 * runs in order. Subscribers live here too: an unsubscribe only clears the
 * entry, and a queued event goes to the subscribers that existed when it
 * happened.
 */
#include <stdio.h>
#include <string.h>

#include "deliver.h"

typedef enum item_kind {
    ITEM_RESULT,
    ITEM_BATCH,
    ITEM_COMPLETION,
    ITEM_DONE,
    ITEM_EVENT
} item_kind_t;

typedef struct item {
    list_node_t link;
    item_kind_t kind;
    uint64_t seq; /* its place in the order items were queued */
    union {
        struct {
            pgcm_query_cb cb;
            void *user;
            pgcm_result_t *res;
        } result;
        struct {
            pgcm_batch_cb cb;
            void *user;
            pgcm_batch_t *batch;
        } batch;
        struct {
            completion_t *c;
            int status;
            void *out;
        } completion;
        struct {
            pgcm_done_cb cb;
            void *user;
            int status;
        } done;
        struct event_copy *event; /* apart: results need not carry it */
    } u;
} item_t;

typedef struct event_copy {
    pgcm_event_t ev;
    pgcm_health_t health;
    pgcm_pool_stats_t stats;
    bool has_health, has_stats;
    uint64_t sub_limit; /* subscribers with a smaller id get it */
    char node_id[PGCM_ID_MAX + 1];
    char message[256];
} event_copy_t;

/* Items run are kept for the next deliveries, up to this many: a query's
 * result then costs no allocation of its own here. */
#define SPARE_MAX 256

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

void pgcm__completion_destroy(completion_t *c)
{
    uv_sem_destroy(&c->sem);
}

/* ---- running ----------------------------------------------------------- */

static void run_event(deliver_queue_t *q, item_t *it)
{
    event_copy_t *e = it->u.event;
    pgcm_event_t *ev = &e->ev;
    ev->node_id = e->node_id;
    ev->message = e->message;
    ev->health = e->has_health ? &e->health : NULL;
    ev->stats = e->has_stats ? &e->stats : NULL;
    size_t count = q->nsubs; /* subscribers added now start next time */
    for (size_t i = 0; i < count; i++) {
        subscriber_t *s = &q->subs[i];
        if (s->cb != NULL && s->id < e->sub_limit)
            s->cb(ev, s->user);
    }
    pgcm__free(e);
}

static void run_item(deliver_queue_t *q, item_t *it)
{
    switch (it->kind) {
    case ITEM_RESULT:
        it->u.result.cb(it->u.result.res, it->u.result.user);
        break;
    case ITEM_BATCH:
        it->u.batch.cb(it->u.batch.batch, it->u.batch.user);
        break;
    case ITEM_COMPLETION: {
        completion_t *c = it->u.completion.c;
        c->status = it->u.completion.status;
        c->out = it->u.completion.out;
        uv_sem_post(&c->sem);
        break;
    }
    case ITEM_DONE:
        it->u.done.cb(it->u.done.status, it->u.done.user);
        break;
    case ITEM_EVENT:
        run_event(q, it);
        break;
    }
}

static void compact_subscribers(deliver_queue_t *q)
{
    size_t j = 0;
    for (size_t i = 0; i < q->nsubs; i++) {
        if (q->subs[i].cb != NULL)
            q->subs[j++] = q->subs[i];
    }
    q->nsubs = j;
}

static void item_release(deliver_queue_t *q, item_t *it)
{
    if (q->closed)
        pgcm__free(it);
    else
        pgcm__spare_give(&q->spare, it);
}

/* Run everything queued, including what the callbacks queue meanwhile. */
static void deliver_run(deliver_queue_t *q)
{
    if (q->running)
        return;
    q->running = true;
    for (;;) {
        if (list_empty(&q->items)) {
            if (q->before != NULL) /* what the callbacks changed */
                q->before(q->before_data);
            break;
        }
        item_t *it = LIST_ENTRY(list_first(&q->items), item_t, link);
        /* Published before anyone hears of it: once for everything queued
         * so far, again only before an item a callback queued since. */
        if (it->seq > q->published_seq) {
            q->published_seq = q->queued_seq;
            if (q->before != NULL)
                q->before(q->before_data);
        }
        list_remove(&it->link);
        run_item(q, it);
        item_release(q, it);
    }
    if (q->after != NULL)
        q->after(q->before_data);
    q->running = false;
    compact_subscribers(q);
    if (!q->closed)
        uv_idle_stop(&q->idle);
}

static void on_check(uv_check_t *h)
{
    deliver_run(h->data);
}

static void on_idle(uv_idle_t *h)
{
    deliver_run(h->data);
}

static void enqueue(deliver_queue_t *q, item_t *it)
{
    it->seq = ++q->queued_seq;
    list_push_back(&q->items, &it->link);
    if (q->closed)
        deliver_run(q);
    else if (!q->running)
        uv_idle_start(&q->idle, on_idle);
}

static item_t *item_new(deliver_queue_t *q, item_kind_t kind)
{
    item_t *it = pgcm__spare_take(&q->spare);
    if (it != NULL)
        memset(it, 0, sizeof(*it));
    else
        it = pgcm__calloc(1, sizeof(*it));
    if (it != NULL) {
        list_init(&it->link);
        it->kind = kind;
    }
    return it;
}

void pgcm__deliver_init(deliver_queue_t *q, uv_loop_t *loop,
                        atomic_uint_fast64_t *next_id)
{
    memset(q, 0, sizeof(*q));
    list_init(&q->items);
    pgcm__spare_init(&q->spare, SPARE_MAX);
    q->next_id = next_id;
    uv_check_init(loop, &q->check);
    uv_idle_init(loop, &q->idle);
    q->check.data = q;
    q->idle.data = q;
    uv_check_start(&q->check, on_check);
}

void pgcm__deliver_close(deliver_queue_t *q)
{
    if (q->closed)
        return;
    deliver_run(q);
    q->closed = true;
    pgcm__spare_free(&q->spare);
    uv_close((uv_handle_t *)&q->check, NULL);
    uv_close((uv_handle_t *)&q->idle, NULL);
}

void pgcm__deliver_free(deliver_queue_t *q)
{
    pgcm__spare_free(&q->spare);
    pgcm__free(q->subs);
    q->subs = NULL;
}

/* ---- queueing ---------------------------------------------------------- */

/* Queue it, or, when out of memory for the item itself, run it now
 * rather than never (the caller is between transitions, which is all the
 * queue protects). */
static void deliver(deliver_queue_t *q, const item_t *proto)
{
    item_t *it = item_new(q, proto->kind);
    if (it == NULL) {
        item_t now = *proto;
        run_item(q, &now);
        return;
    }
    it->u = proto->u;
    enqueue(q, it);
}

void pgcm__deliver_result(deliver_queue_t *q, pgcm_query_cb cb, void *user,
                          pgcm_result_t *res)
{
    item_t it = {.kind = ITEM_RESULT};
    it.u.result.cb = cb;
    it.u.result.user = user;
    it.u.result.res = res;
    deliver(q, &it);
}

void pgcm__deliver_batch(deliver_queue_t *q, pgcm_batch_cb cb, void *user,
                         pgcm_batch_t *batch)
{
    item_t it = {.kind = ITEM_BATCH};
    it.u.batch.cb = cb;
    it.u.batch.user = user;
    it.u.batch.batch = batch;
    deliver(q, &it);
}

void pgcm__deliver_completion(deliver_queue_t *q, completion_t *c, int status,
                              void *out, const pgcm_error_t *err)
{
    item_t it = {.kind = ITEM_COMPLETION};
    it.u.completion.c = c;
    it.u.completion.status = status;
    it.u.completion.out = out;
    /* The caller waits until the semaphore is posted: its error record
     * can be filled now, and the item stays small. */
    if (err != NULL && err->code != PGCM_OK)
        c->err = *err;
    deliver(q, &it);
}

void pgcm__deliver_done(deliver_queue_t *q, pgcm_done_cb cb, void *user,
                        int status)
{
    if (cb == NULL)
        return;
    item_t it = {.kind = ITEM_DONE};
    it.u.done.cb = cb;
    it.u.done.user = user;
    it.u.done.status = status;
    deliver(q, &it);
}

void pgcm__deliver_event(deliver_queue_t *q, const pgcm_event_t *ev)
{
    if (q->nsubs == 0)
        return;
    item_t *it = item_new(q, ITEM_EVENT);
    event_copy_t *e = it ? pgcm__calloc(1, sizeof(*e)) : NULL;
    if (e == NULL) {
        pgcm__free(it);
        return; /* an event is information: dropped under ENOMEM */
    }
    it->u.event = e;
    e->ev = *ev;
    snprintf(e->node_id, sizeof(e->node_id), "%s",
             ev->node_id ? ev->node_id : "");
    snprintf(e->message, sizeof(e->message), "%s",
             ev->message ? ev->message : "");
    if (ev->health != NULL) {
        e->health = *ev->health;
        e->has_health = true;
    }
    if (ev->stats != NULL) {
        e->stats = *ev->stats;
        e->has_stats = true;
    }
    e->sub_limit = atomic_load(q->next_id);
    enqueue(q, it);
}

/* ---- subscribers ------------------------------------------------------- */

int pgcm__deliver_subscribe(deliver_queue_t *q, pgcm_event_cb cb, void *user,
                            uint64_t id)
{
    if (q->nsubs == q->subs_cap) {
        size_t ncap = q->subs_cap ? q->subs_cap * 2 : 4;
        subscriber_t *ns = pgcm__realloc(q->subs, ncap * sizeof(*ns));
        if (ns == NULL)
            return PGCM_ENOMEM;
        q->subs = ns;
        q->subs_cap = ncap;
    }
    q->subs[q->nsubs].id = id;
    q->subs[q->nsubs].cb = cb;
    q->subs[q->nsubs].user = user;
    q->nsubs++;
    return PGCM_OK;
}

void pgcm__deliver_unsubscribe(deliver_queue_t *q, uint64_t id)
{
    for (size_t i = 0; i < q->nsubs; i++) {
        if (q->subs[i].id == id)
            q->subs[i].cb = NULL;
    }
    if (!q->running)
        compact_subscribers(q);
}

const char *pgcm_event_type_name(pgcm_event_type_t type)
{
    switch (type) {
    case PGCM_EV_NODE_ADDED:
        return "node_added";
    case PGCM_EV_NODE_REMOVED:
        return "node_removed";
    case PGCM_EV_NODE_CONNECTED:
        return "node_connected";
    case PGCM_EV_NODE_DISCONNECTED:
        return "node_disconnected";
    case PGCM_EV_HEALTH_CHANGED:
        return "health_changed";
    case PGCM_EV_THRESHOLD_REACHED:
        return "threshold_reached";
    case PGCM_EV_POOL_STATS:
        return "pool_stats";
    case PGCM_EV_CHECKOUT_LEAK:
        return "checkout_leak";
    case PGCM_EV_TUNNEL_UP:
        return "tunnel_up";
    case PGCM_EV_TUNNEL_DOWN:
        return "tunnel_down";
    }
    return "unknown";
}
