/* SPDX-License-Identifier: MIT */
/*
 * cancel.c - cancel requests for running statements. libpq 15 has no
 * non-blocking cancel, and PQcancel() waits for the server to close the
 * cancel socket, which never happens on a frozen or cut-off server. So each
 * cancel runs PQcancel() on a small detached helper thread that owns its
 * PGcancel; the loop never waits.
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

#include "loop.h"

struct cancel_tracker {
    pthread_mutex_t lock;
    pthread_cond_t idle;
    int refs;      /* the manager + each running helper thread */
    int in_flight; /* cancels sent during shutdown, still sending */
};

struct cancel_gate {
    atomic_int refs;      /* the node + each running helper thread */
    atomic_int in_flight; /* this node's cancels still sending */
};

typedef struct cancel_job {
    struct cancel_tracker *tracker; /* NULL unless sent during shutdown */
    struct cancel_gate *gate;
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

static void job_done(cancel_job_t *job)
{
    struct cancel_tracker *t = job->tracker;
    if (t != NULL) {
        pthread_mutex_lock(&t->lock);
        if (--t->in_flight == 0)
            pthread_cond_broadcast(&t->idle);
        pthread_mutex_unlock(&t->lock);
        tracker_unref(t);
    }
    atomic_fetch_sub(&job->gate->in_flight, 1);
    pgcm__cancel_gate_release(job->gate);
    pgcm__free(job);
    atomic_fetch_sub(&running_threads, 1);
}

static void *cancel_thread(void *arg)
{
    cancel_job_t *job = arg;
    char errbuf[256];
    (void)PQcancel(job->cancel, errbuf, sizeof(errbuf));
    PQfreeCancel(job->cancel);
    job_done(job);
    return NULL;
}

void pgcm__cancel_send(struct cancel_tracker *t, struct cancel_gate *gate,
                       PGconn *pg, bool at_shutdown)
{
    if (gate == NULL || pg == NULL)
        return;
    if (atomic_fetch_add(&gate->in_flight, 1) >= MAX_PER_NODE) {
        atomic_fetch_sub(&gate->in_flight, 1);
        return; /* the server is not answering cancels */
    }
    if (atomic_fetch_add(&running_threads, 1) >= MAX_CANCEL_THREADS) {
        atomic_fetch_sub(&running_threads, 1);
        atomic_fetch_sub(&gate->in_flight, 1);
        return;
    }
    PGcancel *pc = PQgetCancel(pg);
    cancel_job_t *job = pc ? pgcm__calloc(1, sizeof(*job)) : NULL;
    if (job == NULL) {
        if (pc)
            PQfreeCancel(pc);
        atomic_fetch_sub(&running_threads, 1);
        atomic_fetch_sub(&gate->in_flight, 1);
        return;
    }
    job->cancel = pc;
    job->gate = gate;
    atomic_fetch_add(&gate->refs, 1);
    if (at_shutdown && t != NULL) {
        job->tracker = t;
        pthread_mutex_lock(&t->lock);
        t->refs++;
        t->in_flight++;
        pthread_mutex_unlock(&t->lock);
    }

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t tid;
    int rc = pthread_create(&tid, &attr, cancel_thread, job);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        PQfreeCancel(pc);
        job_done(job);
    }
}

void pgcm__cancel_wait(struct cancel_tracker *t, int timeout_ms)
{
    if (t == NULL)
        return;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->lock);
    while (t->in_flight > 0) {
        if (pthread_cond_timedwait(&t->idle, &t->lock, &deadline) != 0)
            break;
    }
    pthread_mutex_unlock(&t->lock);
}
