/* SPDX-License-Identifier: MIT */
/*
 * bench_changes.c - P6: runtime changes on loopback.
 *
 *   bench_changes -p PORT,PORT,... [-r ROUNDS] [-s SHUTDOWN_ROUNDS]
 *                 [-n IDLE_NODES]
 *
 * add_node_ms, remove_node_ms: a manager with 10 healthy nodes; each round
 *   times pgcm_node_add of one more node (it returns once the node is
 *   registered), waits until that node is healthy with its idle
 *   connection, then times pgcm_node_remove of it (it returns once its
 *   connections are closed). Medians over ROUNDS (default 40).
 * shutdown_200_idle_ms: a manager with IDLE_NODES (default 200) nodes
 *   spread over the servers, pool min 1, all healthy and idle for half a
 *   second; the time of pgcm_manager_shutdown. Median over SHUTDOWN_ROUNDS
 *   (default 3).
 * shutdown_200_idle_cpu_ms: this process's CPU time (all threads) during
 *   that call, median: the library's own work, which a loaded machine
 *   does not inflate the way it inflates wall time.
 * shutdown_leftover_conns: backends still showing our application_name
 *   on the servers 2 s after the last shutdown (P6 wants 0).
 * libpq_shutdown_200_ms: the floor, in the same rounds: a bare libpq
 *   client with IDLE_NODES connections of its own over the same servers
 *   (PQconnectdb each, idle for half a second) closes them all (PQfinish
 *   each, one thread); median over the rounds. On a loaded 2-core
 *   machine both are mostly the 200 backends exiting at once.
 * shutdown_200_vs_libpq: the library's median over the floor's.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common.h"

#define SETTLE_MS 1500

#define APP_NAME "bench_changes"

static int g_ports[BENCH_MAX_PORTS], g_nports;

static pgcm_manager_t *new_manager(void)
{
    pgcm_options_t o;
    pgcm_options_init(&o);
    o.application_name = APP_NAME;
    pgcm_manager_t *mgr;
    pgcm_error_t err;
    if (pgcm_manager_new(&o, &mgr, &err) != PGCM_OK)
        bench_die("pgcm_manager_new: %s", err.message);
    return mgr;
}

/* Start n nodes named prefix%03zu over the servers; wait until healthy
 * and idle. Returns the ids (free with free_ids). */
static char **start_nodes(pgcm_manager_t *mgr, const char *prefix, size_t n)
{
    char **ids = calloc(n, sizeof(*ids));
    pgcm_node_spec_t *specs = calloc(n, sizeof(*specs));
    if (ids == NULL || specs == NULL)
        bench_die("out of memory");
    for (size_t i = 0; i < n; i++) {
        ids[i] = malloc(32);
        snprintf(ids[i], 32, "%s%03zu", prefix, i);
        bench_spec(&specs[i], ids[i], g_ports[i % (size_t)g_nports], NULL);
    }
    pgcm_error_t err;
    if (pgcm_manager_start(mgr, specs, n, 60000, &err) != PGCM_OK)
        bench_die("pgcm_manager_start: %s", err.message);
    free(specs);
    size_t left = bench_wait_healthy(mgr, ids, n, 60000);
    if (left > 0)
        bench_die("%zu of %zu nodes not healthy after 60 s", left, n);
    if (bench_wait_idle(mgr, ids, n, 1, 60000) > 0)
        bench_die("pools did not settle at one idle connection each");
    return ids;
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

static int count_ours(void)
{
    int total = 0;
    for (int i = 0; i < g_nports; i++) {
        int k = bench_count_backends(g_ports[i], APP_NAME);
        if (k < 0)
            return -1;
        total += k;
    }
    return total;
}

/* Backends of ours after waiting up to ms for them to go. */
static int leftover_after(int ms)
{
    uint64_t deadline = bench_now_us() + (uint64_t)ms * 1000u;
    int k;
    while ((k = count_ours()) != 0 && bench_now_us() < deadline)
        bench_sleep_ms(50);
    return k;
}

/* No backend of ours left, then a pause for the servers to finish
 * cleaning up after the ones that exited. */
static void settle(void)
{
    if (leftover_after(5000) != 0)
        bench_die("backends of an earlier manager are still there");
    bench_sleep_ms(SETTLE_MS);
}

static void add_remove(int rounds)
{
    pgcm_manager_t *mgr = new_manager();
    char **base = start_nodes(mgr, "base", 10);
    double *add = calloc((size_t)rounds, sizeof(double));
    double *rem = calloc((size_t)rounds, sizeof(double));
    for (int r = 0; r < rounds; r++) {
        char id[32];
        snprintf(id, sizeof(id), "extra%03d", r);
        pgcm_node_spec_t spec;
        bench_spec(&spec, id, g_ports[r % g_nports], NULL);
        pgcm_error_t err;
        uint64_t t0 = bench_now_us();
        int rc = pgcm_node_add(mgr, &spec, &err);
        uint64_t t1 = bench_now_us();
        if (rc != PGCM_OK)
            bench_die("pgcm_node_add %s: %s", id, err.message);
        add[r] = (double)(t1 - t0) / 1000.0;
        char *ids[] = {id};
        if (bench_wait_healthy(mgr, ids, 1, 30000) != 0 ||
            bench_wait_idle(mgr, ids, 1, 1, 30000) != 0)
            bench_die("added node %s not healthy and idle after 30 s", id);
        bench_sleep_ms(20);
        t0 = bench_now_us();
        rc = pgcm_node_remove(mgr, id, &err);
        t1 = bench_now_us();
        if (rc != PGCM_OK)
            bench_die("pgcm_node_remove %s: %s", id, err.message);
        rem[r] = (double)(t1 - t0) / 1000.0;
    }
    double a = bench_median(add, (size_t)rounds);
    double m = bench_median(rem, (size_t)rounds);
    bench_note("add: median %.3f ms, max %.3f ms; remove: median %.3f ms, "
               "max %.3f ms (%d rounds)",
               a, add[rounds - 1], m, rem[rounds - 1], rounds);
    bench_figure_spread("add_node_ms", a, bench_spread(add, (size_t)rounds));
    bench_figure_spread("remove_node_ms", m, bench_spread(rem, (size_t)rounds));
    pgcm_manager_free(mgr);
    free_ids(base, 10);
    free(add);
    free(rem);
}

typedef struct close_job {
    PGconn **cs;
    size_t n;
} close_job_t;

static void *close_all(void *arg)
{
    close_job_t *j = arg;
    for (size_t i = 0; i < j->n; i++)
        PQfinish(j->cs[i]);
    return NULL;
}

/* The floor: n bare libpq connections over the servers, idle for half a
 * second, closed one after the other; returns the closing time in ms.
 * on_thread: another thread closes them while this one waits for it, as
 * a caller waits for the library's loop thread (the hand-off's cost). */
static double libpq_close_all(size_t n, bool on_thread)
{
    PGconn **cs = calloc(n, sizeof(*cs));
    if (cs == NULL)
        bench_die("out of memory");
    for (size_t i = 0; i < n; i++) {
        char ci[160];
        snprintf(ci, sizeof(ci),
                 "host=127.0.0.1 port=%d user=postgres dbname=postgres "
                 "sslmode=disable application_name=" APP_NAME,
                 g_ports[i % (size_t)g_nports]);
        cs[i] = PQconnectdb(ci);
        if (PQstatus(cs[i]) != CONNECTION_OK)
            bench_die("libpq floor: %s", PQerrorMessage(cs[i]));
    }
    bench_sleep_ms(500);
    close_job_t job = {.cs = cs, .n = n};
    uint64_t t0 = bench_now_us();
    if (on_thread) {
        pthread_t t;
        if (pthread_create(&t, NULL, close_all, &job) != 0)
            bench_die("pthread_create failed");
        pthread_join(t, NULL);
    } else {
        close_all(&job);
    }
    uint64_t t1 = bench_now_us();
    free(cs);
    return (double)(t1 - t0) / 1000.0;
}

static void shutdown_idle(int rounds, size_t nodes)
{
    double *v = calloc((size_t)rounds, sizeof(double));
    double *cpu = calloc((size_t)rounds, sizeof(double));
    double *floor_ms = calloc((size_t)rounds, sizeof(double));
    double *thread_ms = calloc((size_t)rounds, sizeof(double));
    int left = 0;
    for (int r = 0; r < rounds; r++) {
        /* each of the three starts from the same quiet servers: the one
         * measured right after 200 backends exited was up to 1.6x slower
         * (the servers still clean up after them) */
        settle();
        floor_ms[r] = libpq_close_all(nodes, false);
        settle();
        thread_ms[r] = libpq_close_all(nodes, true);
        settle();
        pgcm_manager_t *mgr = new_manager();
        uint64_t t0 = bench_now_us();
        char **ids = start_nodes(mgr, "idle", nodes);
        bench_note("round %d: %zu nodes healthy and idle in %.1f s", r + 1,
                   nodes, (double)(bench_now_us() - t0) / 1e6);
        bench_sleep_ms(500);
        uint64_t c0 = bench_cpu_us();
        t0 = bench_now_us();
        int rc = pgcm_manager_shutdown(mgr);
        uint64_t t1 = bench_now_us();
        uint64_t c1 = bench_cpu_us();
        if (rc != PGCM_OK)
            bench_die("pgcm_manager_shutdown: %s", pgcm_strerror(rc));
        v[r] = (double)(t1 - t0) / 1000.0;
        cpu[r] = (double)(c1 - c0) / 1000.0;
        int now = count_ours();
        pgcm_manager_free(mgr);
        free_ids(ids, nodes);
        left = leftover_after(2000);
        bench_note("round %d: shutdown %.1f ms (%.1f ms of CPU); backends "
                   "left right after: %d, 2 s later: %d",
                   r + 1, v[r], cpu[r], now, left);
    }
    char name[64];
    double *ratio = calloc((size_t)rounds, sizeof(double));
    if (ratio == NULL)
        bench_die("out of memory");
    for (int r = 0; r < rounds; r++)
        ratio[r] = floor_ms[r] > 0 ? v[r] / floor_ms[r] : 0;
    double ratio_spread = bench_spread(ratio, (size_t)rounds);
    bench_note("floor: a bare libpq client closing %zu connections: median "
               "%.1f ms",
               nodes, bench_median(floor_ms, (size_t)rounds));
    snprintf(name, sizeof(name), "shutdown_%zu_idle_ms", nodes);
    bench_figure_spread(name, bench_median(v, (size_t)rounds),
                        bench_spread(v, (size_t)rounds));
    snprintf(name, sizeof(name), "shutdown_%zu_idle_cpu_ms", nodes);
    bench_figure_spread(name, bench_median(cpu, (size_t)rounds),
                        bench_spread(cpu, (size_t)rounds));
    bench_figure("shutdown_leftover_conns", left);
    double lib = bench_median(v, (size_t)rounds);
    double flo = bench_median(floor_ms, (size_t)rounds);
    snprintf(name, sizeof(name), "libpq_shutdown_%zu_ms", nodes);
    bench_figure_spread(name, flo, bench_spread(floor_ms, (size_t)rounds));
    snprintf(name, sizeof(name), "shutdown_%zu_vs_libpq", nodes);
    bench_figure_spread(name, flo > 0 ? lib / flo : 0, ratio_spread);
    snprintf(name, sizeof(name), "libpq_thread_shutdown_%zu_ms", nodes);
    bench_figure_spread(name, bench_median(thread_ms, (size_t)rounds),
                        bench_spread(thread_ms, (size_t)rounds));
    free(thread_ms);
    free(v);
    free(cpu);
    free(floor_ms);
    free(ratio);
}

int main(int argc, char **argv)
{
    int rounds = 40, srounds = 3, opt;
    size_t nodes = 200;
    bench_set_name("bench_changes");
    while ((opt = getopt(argc, argv, "p:r:s:n:")) != -1) {
        switch (opt) {
        case 'p':
            g_nports = bench_parse_ports(optarg, g_ports, BENCH_MAX_PORTS);
            break;
        case 'r':
            rounds = atoi(optarg);
            break;
        case 's':
            srounds = atoi(optarg);
            break;
        case 'n':
            nodes = (size_t)atoi(optarg);
            break;
        default:
            bench_die("usage: bench_changes -p PORTS [-r ROUNDS] "
                      "[-s SHUTDOWN_ROUNDS] [-n IDLE_NODES]");
        }
    }
    if (g_nports == 0 || rounds < 1 || srounds < 1 || nodes < 1)
        bench_die("usage: bench_changes -p PORTS [-r ROUNDS] "
                  "[-s SHUTDOWN_ROUNDS] [-n IDLE_NODES]");
    bench_raise_nofile();
    add_remove(rounds);
    shutdown_idle(srounds, nodes);
    return 0;
}
