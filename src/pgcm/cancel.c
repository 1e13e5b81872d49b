/* SPDX-License-Identifier: MIT */
/*
 * cancel.c - cancel requests for running statements. libpq 15 has no
 * non-blocking cancel, and PQcancel() waits for the server to close the
 * cancel socket, which never happens on a frozen server. So each cancel runs
 * PQcancel() on a small detached helper thread that owns its PGcancel; the
 * loop never waits. A shared, refcounted tracker counts the cancels still
 * in flight so that shutdown can give them a bounded moment to reach the
 * servers before the process exits.
 */
#include <pthread.h>
#include <time.h>

#include "loop.h"

struct cancel_tracker {
    pthread_mutex_t lock;
    pthread_cond_t idle;
    int refs;      /* the manager + each running helper thread */
    int in_flight; /* helper threads still sending */
};

typedef struct cancel_job {
    struct cancel_tracker *tracker;
    PGcancel *cancel;
} cancel_job_t;

/* At most this many helper threads at once per process; beyond that the
 * connection is simply closed (the server notices on its next write). */
#define MAX_CANCEL_THREADS 64
static atomic_int running_threads;

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

static void *cancel_thread(void *arg)
{
    cancel_job_t *job = arg;
    char errbuf[256];
    (void)PQcancel(job->cancel, errbuf, sizeof(errbuf));
    PQfreeCancel(job->cancel);
    struct cancel_tracker *t = job->tracker;
    pgcm__free(job);
    pthread_mutex_lock(&t->lock);
    if (--t->in_flight == 0)
        pthread_cond_broadcast(&t->idle);
    pthread_mutex_unlock(&t->lock);
    tracker_unref(t);
    atomic_fetch_sub(&running_threads, 1);
    return NULL;
}

void pgcm__cancel_send(struct cancel_tracker *t, PGconn *pg)
{
    if (t == NULL || pg == NULL)
        return;
    if (atomic_fetch_add(&running_threads, 1) >= MAX_CANCEL_THREADS) {
        atomic_fetch_sub(&running_threads, 1);
        return;
    }
    PGcancel *pc = PQgetCancel(pg);
    cancel_job_t *job = pc ? pgcm__malloc(sizeof(*job)) : NULL;
    if (job == NULL) {
        if (pc)
            PQfreeCancel(pc);
        atomic_fetch_sub(&running_threads, 1);
        return;
    }
    job->tracker = t;
    job->cancel = pc;
    pthread_mutex_lock(&t->lock);
    t->refs++;
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
        pgcm__free(job);
        pthread_mutex_lock(&t->lock);
        if (--t->in_flight == 0)
            pthread_cond_broadcast(&t->idle);
        pthread_mutex_unlock(&t->lock);
        tracker_unref(t);
        atomic_fetch_sub(&running_threads, 1);
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
