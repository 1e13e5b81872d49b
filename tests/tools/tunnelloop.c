/* SPDX-License-Identifier: MIT */
/*
 * tunnelloop.c - the loop thread of tunnelloop.h: one call at a time is
 * posted with uv_async_send and waited for on a condition variable; the
 * tunnels' events land in a fixed array under the same mutex.
 */
#include "tunnelloop.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#define EV_MAX 1024

struct tunnelloop {
    uv_loop_t loop;
    uv_async_t wake;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_mutex_t call_lock; /* one caller at a time */
    void (*fn)(tunnelloop_t *tl, void *arg);
    void *arg;
    int call_done;
    int stop;
    pgcm__tunnels_t *reg;
    int reg_closed;
    int nev;
    tunnelloop_event_t ev[EV_MAX];
};

int64_t tunnelloop_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_wake(uv_async_t *a)
{
    tunnelloop_t *tl = a->data;
    pthread_mutex_lock(&tl->lock);
    void (*fn)(tunnelloop_t *, void *) = tl->fn;
    void *arg = tl->arg;
    tl->fn = NULL;
    int stop = tl->stop;
    pthread_mutex_unlock(&tl->lock);
    if (fn != NULL) {
        fn(tl, arg);
        pthread_mutex_lock(&tl->lock);
        tl->call_done = 1;
        pthread_cond_broadcast(&tl->cond);
        pthread_mutex_unlock(&tl->lock);
    }
    if (stop)
        uv_close((uv_handle_t *)&tl->wake, NULL);
}

static void *loop_main(void *arg)
{
    tunnelloop_t *tl = arg;
    uv_run(&tl->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void on_loop(tunnelloop_t *tl, void (*fn)(tunnelloop_t *, void *),
                    void *arg)
{
    pthread_mutex_lock(&tl->call_lock);
    pthread_mutex_lock(&tl->lock);
    tl->fn = fn;
    tl->arg = arg;
    tl->call_done = 0;
    pthread_mutex_unlock(&tl->lock);
    uv_async_send(&tl->wake);
    pthread_mutex_lock(&tl->lock);
    while (!tl->call_done)
        pthread_cond_wait(&tl->cond, &tl->lock);
    pthread_mutex_unlock(&tl->lock);
    pthread_mutex_unlock(&tl->call_lock);
}

static void on_event(pgcm__tunnel_t *t, pgcm__tunnel_event_t ev, int code,
                     const char *message, void *owner)
{
    tunnelloop_t *tl = owner;
    pthread_mutex_lock(&tl->lock);
    if (tl->nev < EV_MAX) {
        tunnelloop_event_t *r = &tl->ev[tl->nev++];
        r->t = t;
        r->ev = ev;
        r->code = code;
        snprintf(r->msg, sizeof r->msg, "%s", message);
        r->at_ms = tunnelloop_now_ms();
    }
    pthread_cond_broadcast(&tl->cond);
    pthread_mutex_unlock(&tl->lock);
}

static void do_new(tunnelloop_t *tl, void *arg)
{
    const pgcm__tunnel_timing_t *timing = arg;
    tl->reg = pgcm__tunnels_new(&tl->loop);
    if (tl->reg != NULL && timing != NULL)
        pgcm__tunnels_set_timing(tl->reg, timing);
}

tunnelloop_t *tunnelloop_start(const pgcm__tunnel_timing_t *timing)
{
    tunnelloop_t *tl = calloc(1, sizeof *tl);
    if (tl == NULL)
        return NULL;
    pthread_mutex_init(&tl->lock, NULL);
    pthread_mutex_init(&tl->call_lock, NULL);
    pthread_cond_init(&tl->cond, NULL);
    if (uv_loop_init(&tl->loop) != 0) {
        free(tl);
        return NULL;
    }
    uv_async_init(&tl->loop, &tl->wake, on_wake);
    tl->wake.data = tl;
    if (pthread_create(&tl->thread, NULL, loop_main, tl) != 0) {
        uv_close((uv_handle_t *)&tl->wake, NULL);
        uv_run(&tl->loop, UV_RUN_DEFAULT);
        uv_loop_close(&tl->loop);
        free(tl);
        return NULL;
    }
    on_loop(tl, do_new, (void *)timing);
    if (tl->reg == NULL) {
        tunnelloop_stop(tl);
        return NULL;
    }
    return tl;
}

static void reg_done(void *arg)
{
    tunnelloop_t *tl = arg;
    pthread_mutex_lock(&tl->lock);
    tl->reg_closed = 1;
    pthread_cond_broadcast(&tl->cond);
    pthread_mutex_unlock(&tl->lock);
}

static void do_close_registry(tunnelloop_t *tl, void *arg)
{
    (void)arg;
    if (tl->reg != NULL)
        pgcm__tunnels_close(tl->reg, reg_done, tl);
    else
        tl->reg_closed = 1;
}

static void do_nothing(tunnelloop_t *tl, void *arg)
{
    (void)tl;
    (void)arg;
}

int tunnelloop_stop(tunnelloop_t *tl)
{
    if (tl == NULL)
        return 0;
    on_loop(tl, do_close_registry, NULL);
    pthread_mutex_lock(&tl->lock);
    while (!tl->reg_closed)
        pthread_cond_wait(&tl->cond, &tl->lock);
    tl->stop = 1;
    pthread_mutex_unlock(&tl->lock);
    on_loop(tl, do_nothing, NULL);
    pthread_join(tl->thread, NULL);
    int rc = uv_loop_close(&tl->loop);
    pthread_mutex_destroy(&tl->lock);
    pthread_mutex_destroy(&tl->call_lock);
    pthread_cond_destroy(&tl->cond);
    free(tl);
    return rc;
}

/* ---- calls ----------------------------------------------------------- */

typedef struct call {
    const pgcm_ssh_options_t *ssh;
    const char *host;
    int port;
    pgcm__tunnel_t *t;
    int rc;
    pgcm_error_t *err;
} call_t;

static void do_open(tunnelloop_t *tl, void *arg)
{
    call_t *c = arg;
    c->rc = pgcm__tunnel_open(tl->reg, c->ssh, c->host, c->port, on_event, tl,
                              &c->t, c->err);
}

int tunnelloop_open(tunnelloop_t *tl, const pgcm_ssh_options_t *ssh,
                    const char *target_host, int target_port,
                    pgcm__tunnel_t **out, pgcm_error_t *err)
{
    call_t c = {ssh, target_host, target_port, NULL, 0, err};
    on_loop(tl, do_open, &c);
    *out = c.t;
    return c.rc;
}

static void do_close(tunnelloop_t *tl, void *arg)
{
    (void)tl;
    pgcm__tunnel_close(((call_t *)arg)->t);
}

static void do_reconnect(tunnelloop_t *tl, void *arg)
{
    (void)tl;
    pgcm__tunnel_reconnect(((call_t *)arg)->t);
}

static void do_check(tunnelloop_t *tl, void *arg)
{
    (void)tl;
    call_t *c = arg;
    c->rc = pgcm__tunnel_check(c->t, c->err);
}

static void do_is_up(tunnelloop_t *tl, void *arg)
{
    (void)tl;
    call_t *c = arg;
    c->rc = pgcm__tunnel_is_up(c->t);
}

static void do_channels(tunnelloop_t *tl, void *arg)
{
    (void)tl;
    call_t *c = arg;
    c->rc = pgcm__tunnel_channels(c->t);
}

static void do_local_port(tunnelloop_t *tl, void *arg)
{
    (void)tl;
    call_t *c = arg;
    c->rc = pgcm__tunnel_local_port(c->t);
}

static void do_sessions(tunnelloop_t *tl, void *arg)
{
    ((call_t *)arg)->rc = pgcm__tunnels_sessions(tl->reg);
}

static int call_on(tunnelloop_t *tl, void (*fn)(tunnelloop_t *, void *),
                   pgcm__tunnel_t *t, pgcm_error_t *err)
{
    call_t c = {NULL, NULL, 0, t, 0, err};
    on_loop(tl, fn, &c);
    return c.rc;
}

void tunnelloop_close_tunnel(tunnelloop_t *tl, pgcm__tunnel_t *t)
{
    call_on(tl, do_close, t, NULL);
}

void tunnelloop_reconnect(tunnelloop_t *tl, pgcm__tunnel_t *t)
{
    call_on(tl, do_reconnect, t, NULL);
}

int tunnelloop_check(tunnelloop_t *tl, pgcm__tunnel_t *t, pgcm_error_t *err)
{
    return call_on(tl, do_check, t, err);
}

int tunnelloop_is_up(tunnelloop_t *tl, pgcm__tunnel_t *t)
{
    return call_on(tl, do_is_up, t, NULL);
}

int tunnelloop_channels(tunnelloop_t *tl, pgcm__tunnel_t *t)
{
    return call_on(tl, do_channels, t, NULL);
}

int tunnelloop_local_port(tunnelloop_t *tl, pgcm__tunnel_t *t)
{
    return call_on(tl, do_local_port, t, NULL);
}

int tunnelloop_sessions(tunnelloop_t *tl)
{
    return call_on(tl, do_sessions, NULL, NULL);
}

/* ---- events ---------------------------------------------------------- */

int tunnelloop_wait_event(tunnelloop_t *tl, pgcm__tunnel_t *t,
                          pgcm__tunnel_event_t ev, int *since, int timeout_ms,
                          tunnelloop_event_t *out)
{
    int64_t deadline = tunnelloop_now_ms() + timeout_ms;
    pthread_mutex_lock(&tl->lock);
    for (;;) {
        for (int i = *since; i < tl->nev; i++) {
            if (tl->ev[i].t == t && tl->ev[i].ev == ev) {
                *out = tl->ev[i];
                *since = i + 1;
                pthread_mutex_unlock(&tl->lock);
                return 0;
            }
        }
        int64_t left = deadline - tunnelloop_now_ms();
        if (left <= 0)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(left > 50 ? 50 : left) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&tl->cond, &tl->lock, &ts);
    }
    memset(out, 0, sizeof *out);
    out->ev = (pgcm__tunnel_event_t)-1;
    for (int i = tl->nev - 1; i >= 0; i--) {
        if (tl->ev[i].t == t) {
            *out = tl->ev[i];
            break;
        }
    }
    pthread_mutex_unlock(&tl->lock);
    return -1;
}

int tunnelloop_event_count(tunnelloop_t *tl, pgcm__tunnel_t *t,
                           pgcm__tunnel_event_t ev)
{
    int n = 0;
    pthread_mutex_lock(&tl->lock);
    for (int i = 0; i < tl->nev; i++)
        if (tl->ev[i].t == t && tl->ev[i].ev == ev)
            n++;
    pthread_mutex_unlock(&tl->lock);
    return n;
}

int tunnelloop_events_mention(tunnelloop_t *tl, const char *needle)
{
    int found = 0;
    pthread_mutex_lock(&tl->lock);
    for (int i = 0; i < tl->nev && !found; i++)
        found = strstr(tl->ev[i].msg, needle) != NULL;
    pthread_mutex_unlock(&tl->lock);
    return found;
}
