/* SPDX-License-Identifier: MIT */
/*
 * fanout_wait.c - the one "wait for fan-outs, cancel them on a stop
 * request" of replmon (see fanout_wait.h). A signal handler cannot signal
 * a condition variable, so the wait wakes every 100 ms to look at the stop
 * flag.
 */
#include "fanout_wait.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int rm_fanout_wait_init(rm_fanout_wait_t *w, size_t max_batches)
{
    memset(w, 0, sizeof(*w));
    w->ids = calloc(max_batches ? max_batches : 1, sizeof(*w->ids));
    if (w->ids == NULL)
        return -1;
    w->cap = max_batches;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    return 0;
}

void rm_fanout_wait_destroy(rm_fanout_wait_t *w)
{
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->ids);
    w->ids = NULL;
}

void rm_fanout_wait_expect(rm_fanout_wait_t *w)
{
    pthread_mutex_lock(&w->mu);
    w->pending++;
    pthread_mutex_unlock(&w->mu);
}

void rm_fanout_wait_submitted(rm_fanout_wait_t *w, int rc, uint64_t request_id)
{
    pthread_mutex_lock(&w->mu);
    if (rc != PGCM_OK)
        w->pending--;
    else if (w->nids < w->cap)
        w->ids[w->nids++] = request_id;
    pthread_mutex_unlock(&w->mu);
}

void rm_fanout_wait_done(rm_fanout_wait_t *w)
{
    pthread_mutex_lock(&w->mu);
    w->pending--;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int rm_fanout_wait_all(rm_fanout_wait_t *w, pgcm_manager_t *mgr,
                       volatile sig_atomic_t *stop)
{
    int cancelled = 0;

    pthread_mutex_lock(&w->mu);
    while (w->pending > 0) {
        struct timespec ts;

        if (stop != NULL && *stop && !cancelled) {
            size_t i, n = w->nids;

            cancelled = 1;
            pthread_mutex_unlock(&w->mu);
            /* The ids are only appended to, and every submit ran before
             * this wait: the first n are stable. */
            for (i = 0; i < n; i++)
                pgcm_cancel(mgr, w->ids[i]);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    pthread_mutex_unlock(&w->mu);
    return cancelled;
}
