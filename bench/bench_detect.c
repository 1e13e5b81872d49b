/* SPDX-License-Identifier: MIT */
/*
 * bench_detect.c - P5: time from a real fault to the node's health-changed
 * event to unhealthy, with the default manager options.
 *
 *   bench_detect [-r ROUNDS]
 *
 * Starts three servers of its own (localpg) and one manager (default
 * options, application_name bench_detect) with three nodes whose pools
 * sit idle at one connection:
 *   crash   SIGKILL of the postmaster and every backend (localpg_kill);
 *           recovered with localpg_restart
 *   freeze  SIGSTOP of every process of the server (localpg_freeze);
 *           recovered with localpg_thaw
 *   cut     reached through the fault proxy of tests/tools, switched to
 *           blackhole (TCP connections stay open, nothing answers, new
 *           connections are accepted and never answered); recovered with
 *           pass
 * Each round waits until the node is healthy with an idle connection,
 * lets it sit idle, injects the fault and records the time until the
 * PGCM_EV_HEALTH_CHANGED event to unhealthy arrives in the subscriber. The
 * idle times are spread over the whole 5 s probe cycle (round r of R waits
 * (r + u) x 5000 / R ms, u random in [0,1), after the node became healthy,
 * which is when its last full probe ran), so the fault lands at every phase
 * of it, the moments just before a full probe included.
 * Figures over ROUNDS (default 5): the medians detect_crash_ms,
 * detect_freeze_ms, detect_cut_ms and the worst rounds detect_crash_max_ms,
 * detect_freeze_max_ms, detect_cut_max_ms.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "faultproxy.h"
#include "localpg.h"

#define APP_NAME "bench_detect"

enum { F_CRASH, F_FREEZE, F_CUT, F_COUNT };
static const char *const g_node[F_COUNT] = {"crash", "freeze", "cut"};

/* Filled by the event callback (loop thread), read by main. */
static atomic_uint_fast64_t g_unhealthy_us[F_COUNT];
static atomic_uint_fast64_t g_suspect_us[F_COUNT];

static int node_index(const char *id)
{
    for (int i = 0; i < F_COUNT; i++)
        if (strcmp(id, g_node[i]) == 0)
            return i;
    return -1;
}

static void on_event(const pgcm_event_t *ev, void *user)
{
    (void)user;
    if (ev->type != PGCM_EV_HEALTH_CHANGED || ev->node_id == NULL)
        return;
    int i = node_index(ev->node_id);
    if (i < 0)
        return;
    uint64_t now = bench_now_us();
    uint_fast64_t zero = 0;
    if (ev->new_state == PGCM_NODE_UNHEALTHY)
        atomic_compare_exchange_strong(&g_unhealthy_us[i], &zero, now);
    else if (ev->new_state == PGCM_NODE_DEGRADED)
        atomic_compare_exchange_strong(&g_suspect_us[i], &zero, now);
}

static localpg_server_t *g_srv[F_COUNT];
static faultproxy_t *g_proxy;

static int inject(int f)
{
    switch (f) {
    case F_CRASH:
        return localpg_kill(g_srv[F_CRASH]);
    case F_FREEZE:
        return localpg_freeze(g_srv[F_FREEZE]);
    default:
        faultproxy_blackhole(g_proxy);
        return 0;
    }
}

static int recover(int f)
{
    switch (f) {
    case F_CRASH:
        return localpg_restart(g_srv[F_CRASH]);
    case F_FREEZE:
        return localpg_thaw(g_srv[F_FREEZE]);
    default:
        faultproxy_pass(g_proxy);
        return 0;
    }
}

/* One round of fault f: returns the detection time in ms, or -1. */
static double one_round(pgcm_manager_t *mgr, int f, int round, int rounds)
{
    char *ids[] = {(char *)g_node[f]};
    /* Recovery goes through the reconnect backoff (1 s, 2 s, ...). */
    if (bench_wait_healthy(mgr, ids, 1, 40000) != 0 ||
        bench_wait_idle(mgr, ids, 1, 1, 20000) != 0) {
        bench_note("%s: node not healthy and idle before the fault", g_node[f]);
        return -1;
    }
    double u = (double)rand() / ((double)RAND_MAX + 1.0);
    bench_sleep_ms((int)(((double)round + u) * 5000.0 / (double)rounds));
    atomic_store(&g_unhealthy_us[f], 0);
    atomic_store(&g_suspect_us[f], 0);
    uint64_t t0 = bench_now_us();
    if (inject(f) != 0) {
        bench_note("%s: cannot inject the fault: %s", g_node[f],
                   localpg_last_error(g_srv[f]));
        return -1;
    }
    uint64_t deadline = t0 + 20u * 1000000u, t = 0;
    while ((t = atomic_load(&g_unhealthy_us[f])) == 0 &&
           bench_now_us() < deadline)
        bench_sleep_ms(1);
    uint64_t s = atomic_load(&g_suspect_us[f]);
    int rc = recover(f);
    if (rc != 0)
        bench_note("%s: recovery failed: %s", g_node[f],
                   localpg_last_error(g_srv[f]));
    if (t == 0) {
        bench_note("%s: no unhealthy event within 20 s", g_node[f]);
        return -1;
    }
    pgcm_health_t h;
    if (pgcm_node_health(mgr, g_node[f], &h) == PGCM_OK)
        bench_note("%s: unhealthy after %.1f ms (degraded after %.1f ms): "
                   "%s",
                   g_node[f], (double)(t - t0) / 1000.0,
                   s && s < t ? (double)(s - t0) / 1000.0 : -1.0, h.last_error);
    return rc == 0 ? (double)(t - t0) / 1000.0 : -1;
}

int main(int argc, char **argv)
{
    int rounds = 5, opt;
    bench_set_name("bench_detect");
    while ((opt = getopt(argc, argv, "r:")) != -1) {
        if (opt == 'r')
            rounds = atoi(optarg);
        else
            bench_die("usage: bench_detect [-r ROUNDS]");
    }
    if (rounds < 1)
        bench_die("usage: bench_detect [-r ROUNDS]");
    srand((unsigned)bench_now_us());

    localpg_options_t lo;
    localpg_options_init(&lo);
    lo.name = "detect";
    char err[512] = "";
    int rc = -1;
    for (int attempt = 1; attempt <= 3 && rc != 0; attempt++) {
        rc = localpg_start_many(&lo, F_COUNT, g_srv, err, sizeof(err));
        if (rc != 0)
            bench_note("starting servers failed (attempt %d): %s", attempt,
                       err);
    }
    if (rc != 0)
        bench_die("could not start PostgreSQL servers: %s", err);
    if (faultproxy_start("127.0.0.1", localpg_port(g_srv[F_CUT]), &g_proxy, err,
                         sizeof(err)) < 0) {
        localpg_cleanup_all();
        bench_die("could not start the fault proxy: %s", err);
    }

    pgcm_options_t o;
    pgcm_options_init(&o); /* the defaults are what P5 is about */
    o.application_name = APP_NAME;
    pgcm_manager_t *mgr;
    pgcm_error_t perr;
    if (pgcm_manager_new(&o, &mgr, &perr) != PGCM_OK)
        bench_die("pgcm_manager_new: %s", perr.message);
    uint64_t sub;
    if (pgcm_subscribe(mgr, on_event, NULL, &sub) != PGCM_OK)
        bench_die("pgcm_subscribe failed");
    pgcm_node_spec_t specs[F_COUNT];
    for (int i = 0; i < F_COUNT; i++)
        bench_spec(&specs[i], g_node[i],
                   i == F_CUT ? faultproxy_port(g_proxy)
                              : localpg_port(g_srv[i]),
                   NULL);
    if (pgcm_manager_start(mgr, specs, F_COUNT, 30000, &perr) != PGCM_OK)
        bench_die("pgcm_manager_start: %s", perr.message);

    static const char *const fig[F_COUNT] = {
        "detect_crash_ms", "detect_freeze_ms", "detect_cut_ms"};
    static const char *const fig_max[F_COUNT] = {
        "detect_crash_max_ms", "detect_freeze_max_ms", "detect_cut_max_ms"};
    double v[F_COUNT][64];
    int nv[F_COUNT] = {0};
    if (rounds > 64)
        rounds = 64;
    for (int r = 0; r < rounds; r++) {
        for (int f = 0; f < F_COUNT; f++) {
            double ms = one_round(mgr, f, r, rounds);
            if (ms >= 0)
                v[f][nv[f]++] = ms;
        }
    }
    pgcm_manager_free(mgr);
    faultproxy_stop(g_proxy);
    for (int i = 0; i < F_COUNT; i++)
        localpg_destroy(g_srv[i]);
    for (int f = 0; f < F_COUNT; f++) {
        if (nv[f] == 0)
            bench_die("no %s round succeeded", g_node[f]);
        double med = bench_median(v[f], (size_t)nv[f]);
        double worst = 0;
        for (int i = 0; i < nv[f]; i++)
            worst = v[f][i] > worst ? v[f][i] : worst;
        bench_note("%s: median %.1f ms, worst %.1f ms over %d rounds",
                   g_node[f], med, worst, nv[f]);
        bench_figure_spread(fig[f], med, bench_spread(v[f], (size_t)nv[f]));
        bench_figure(fig_max[f], worst);
    }
    return 0;
}
