/* SPDX-License-Identifier: MIT */
/*
 * cancel.c - cancel requests for running statements. libpq 15 has no
 * non-blocking cancel, and PQcancel() waits for the server to close the
 * cancel socket, which never happens on a frozen or cut-off server. So each
 * cancel runs PQcancel() on a small detached helper thread that owns its
 * PGcancel; the loop never waits.
 *
 * A cancel that reaches the server after its statement has finished would
 * cancel whatever runs next on that backend. So every cancel comes with a
 * ticket that the connection holds: the helper thread marks it delivered
 * (PQcancel returned: libpq waits until the server has processed the
 * request and closed the socket) or failed, and wakes the loop; the
 * connection is reused only once its statement is over AND its ticket is
 * settled (conn.c).
 *
 * Two counters bound what a dead server can cost:
 * - a per-node gate allows at most MAX_PER_NODE cancels in flight to one
 *   node: a server that does not answer them cannot use up the threads that
 *   cancels to healthy servers need (the connection is discarded anyway
 *   once its cancel grace expires);
 * - the manager's tracker counts the cancels sent during shutdown, and
 *   shutdown waits (bounded) only for those, so that no statement of ours
 *   keeps running after pgcm_manager_shutdown returns, while cancels stuck
 *   on unresponsive servers from earlier do not delay it.
 */
#include <pthread.h>
#include <time.h>

#include "env.h"

struct cancel_tracker {
    pthread_mutex_t lock;
    pthread_cond_t idle;
    int refs;         /* the manager + each running helper thread */
    int in_flight;    /* cancels sent during shutdown, still sending */
    uv_async_t *wake; /* the loop's wake-up, NULL once it closes */
};

struct cancel_ticket {
    atomic_int refs;    /* the connection + the helper thread */
    atomic_int outcome; /* cancel_outcome_t */
};

struct cancel_gate {
    atomic_int refs;      /* the node + each running helper thread */
    atomic_int in_flight; /* this node's cancels still sending */
};

typedef struct cancel_job {
    struct cancel_tracker *tracker;
    bool at_shutdown; /* counted in tracker->in_flight */
    struct cancel_gate *gate;
    struct cancel_ticket *ticket;
    PGcancel *cancel;
} cancel_job_t;

/* At most this many helper threads at once per process, and per node. */
#define MAX_CANCEL_THREADS 256
#define MAX_PER_NODE       4
static atomic_int running_threads;

struct cancel_gate *pgcm__cancel_gate_new(void)
{
    struct cancel_gate *g = pgcm__calloc(1, sizeof(*g));
    if (g != NULL)
        atomic_init(&g->refs, 1);
    return g;
}

void pgcm__cancel_gate_release(struct cancel_gate *g)
{
    if (g != NULL && atomic_fetch_sub(&g->refs, 1) == 1)
        pgcm__free(g);
}

struct cancel_tracker *pgcm__cancel_tracker_new(void)
{
    struct cancel_tracker *t = pgcm__calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&t->idle, &attr);
    pthread_condattr_destroy(&attr);
    t->refs = 1;
    return t;
}

static void tracker_unref(struct cancel_tracker *t)
{
    pthread_mutex_lock(&t->lock);
    bool last = --t->refs == 0;
    pthread_mutex_unlock(&t->lock);
    if (last) {
        pthread_mutex_destroy(&t->lock);
        pthread_cond_destroy(&t->idle);
        pgcm__free(t);
    }
}

void pgcm__cancel_tracker_release(struct cancel_tracker *t)
{
    if (t != NULL)
        tracker_unref(t);
}

void pgcm__cancel_tracker_set_wake(struct cancel_tracker *t, uv_async_t *wake)
{
    pthread_mutex_lock(&t->lock);
    t->wake = wake;
    pthread_mutex_unlock(&t->lock);
}

int pgcm__cancel_outcome(const struct cancel_ticket *ticket)
{
    return atomic_load(&ticket->outcome);
}

void pgcm__cancel_ticket_release(struct cancel_ticket *ticket)
{
    if (ticket != NULL && atomic_fetch_sub(&ticket->refs, 1) == 1)
        pgcm__free(ticket);
}

/* Settle the ticket, then wake the loop (under the lock, so the handle
 * cannot close in between). */
static void job_done(cancel_job_t *job, cancel_outcome_t outcome)
{
    struct cancel_tracker *t = job->tracker;
    atomic_store(&job->ticket->outcome, (int)outcome);
    pgcm__cancel_ticket_release(job->ticket);
    pthread_mutex_lock(&t->lock);
    if (job->at_shutdown && --t->in_flight == 0)
        pthread_cond_broadcast(&t->idle);
    if (t->wake != NULL)
        uv_async_send(t->wake);
    pthread_mutex_unlock(&t->lock);
    tracker_unref(t);
    atomic_fetch_sub(&job->gate->in_flight, 1);
    pgcm__cancel_gate_release(job->gate);
    pgcm__free(job);
    atomic_fetch_sub(&running_threads, 1);
}

static void *cancel_thread(void *arg)
{
    cancel_job_t *job = arg;
    char errbuf[256];
    int ok = PQcancel(job->cancel, errbuf, sizeof(errbuf));
    PQfreeCancel(job->cancel);
    job_done(job, ok ? CANCEL_DELIVERED : CANCEL_FAILED);
    return NULL;
}

struct cancel_ticket *pgcm__cancel_send(struct cancel_tracker *t,
                                        struct cancel_gate *gate, PGconn *pg,
                                        bool at_shutdown)
{
    if (t == NULL || gate == NULL || pg == NULL)
        return NULL;
    if (atomic_fetch_add(&gate->in_flight, 1) >= MAX_PER_NODE) {
        atomic_fetch_sub(&gate->in_flight, 1);
        return NULL; /* the server is not answering cancels */
    }
    if (atomic_fetch_add(&running_threads, 1) >= MAX_CANCEL_THREADS) {
        atomic_fetch_sub(&running_threads, 1);
        atomic_fetch_sub(&gate->in_flight, 1);
        return NULL;
    }
    PGcancel *pc = PQgetCancel(pg);
    cancel_job_t *job = pc ? pgcm__calloc(1, sizeof(*job)) : NULL;
    struct cancel_ticket *ticket =
        job ? pgcm__calloc(1, sizeof(*ticket)) : NULL;
    if (ticket == NULL) {
        if (pc)
            PQfreeCancel(pc);
        pgcm__free(job);
        atomic_fetch_sub(&running_threads, 1);
        atomic_fetch_sub(&gate->in_flight, 1);
        return NULL;
    }
    atomic_init(&ticket->refs, 2); /* the caller's and the job's */
    atomic_init(&ticket->outcome, CANCEL_PENDING);
    job->cancel = pc;
    job->gate = gate;
    job->ticket = ticket;
    job->tracker = t;
    job->at_shutdown = at_shutdown;
    atomic_fetch_add(&gate->refs, 1);
    pthread_mutex_lock(&t->lock);
    t->refs++;
    if (at_shutdown)
        t->in_flight++;
    pthread_mutex_unlock(&t->lock);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t tid;
    int rc = pthread_create(&tid, &attr, cancel_thread, job);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        PQfreeCancel(pc);
        job_done(job, CANCEL_FAILED);
    }
    return ticket;
}

void pgcm__cancel_wait(struct cancel_tracker *t, int timeout_ms)
{
    if (t == NULL)
        return;
    struct timespec deadline = pgcm__mono_deadline(timeout_ms);
    pthread_mutex_lock(&t->lock);
    while (t->in_flight > 0) {
        if (pthread_cond_timedwait(&t->idle, &t->lock, &deadline) != 0)
            break;
    }
    pthread_mutex_unlock(&t->lock);
}
