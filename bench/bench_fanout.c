/* SPDX-License-Identifier: MIT */
/*
 * bench_fanout.c - P1: fan-out time against one node's time, side by side.
 *
 *   bench_fanout -p PORT,PORT,... [-r ROUNDS] [-n NODES]
 *
 * One manager with NODES (default 100) nodes spread round-robin over the
 * given servers (pool min 1, default options). Each round runs, one after
 * the other: pgcm_query of `SELECT pg_sleep(0.02)` on node 0, the same
 * statement with pgcm_query_many over nodes 0..9 and over all nodes, then
 * `SELECT 1` on node 0 and over nodes 0..9. Times are the caller's wall
 * clock around the blocking call. Figures are medians over the rounds:
 *
 *   fanout_ratio_10          median(many 10, sleep)  / median(one, sleep)
 *   fanout_ratio_100         median(many 100, sleep) / median(one, sleep)
 *   fanout_select1_ratio_10  median(many 10, 1)      / median(one, 1)
 *
 * plus notes with the absolute medians on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

#define SLEEP_SQL   "SELECT pg_sleep(0.02)"
#define SELECT1_SQL "SELECT 1"
#define APP_NAME    "bench_fanout"

static pgcm_manager_t *g_mgr;
static size_t g_failures;

static double time_one(const char *node, const char *sql)
{
    pgcm_result_t *r = NULL;
    pgcm_error_t err;
    uint64_t t0 = bench_now_us();
    int rc = pgcm_query(g_mgr, node, sql, 0, NULL, NULL, &r, &err);
    uint64_t t1 = bench_now_us();
    pgcm_result_free(r);
    if (rc != PGCM_OK) {
        if (g_failures++ < 5)
            bench_note("query on %s failed: %s", node, err.message);
        return -1;
    }
    return (double)(t1 - t0);
}

static double time_many(char **ids, size_t n, const char *sql)
{
    pgcm_target_t t = {PGCM_TARGET_LIST, (const char *const *)ids, n};
    pgcm_batch_t *b = NULL;
    pgcm_error_t err;
    uint64_t t0 = bench_now_us();
    int rc = pgcm_query_many(g_mgr, &t, sql, 0, NULL, NULL, &b, &err);
    uint64_t t1 = bench_now_us();
    size_t ok = b ? pgcm_batch_succeeded(b) : 0;
    if (rc != PGCM_OK || ok != n) {
        if (g_failures++ < 5) {
            const char *msg = rc != PGCM_OK ? err.message : "";
            for (size_t i = 0; b && i < pgcm_batch_count(b) && !*msg; i++)
                if (pgcm_result_status(pgcm_batch_result(b, i)) != PGCM_OK)
                    msg = pgcm_result_error(pgcm_batch_result(b, i))->message;
            bench_note("fan-out over %zu nodes: %zu succeeded: %s", n, ok, msg);
        }
        pgcm_batch_free(b);
        return -1;
    }
    pgcm_batch_free(b);
    return (double)(t1 - t0);
}

int main(int argc, char **argv)
{
    int ports[BENCH_MAX_PORTS], nports = 0, rounds = 60, opt;
    size_t nnodes = 100;
    bench_set_name("bench_fanout");
    while ((opt = getopt(argc, argv, "p:r:n:")) != -1) {
        switch (opt) {
        case 'p':
            nports = bench_parse_ports(optarg, ports, BENCH_MAX_PORTS);
            break;
        case 'r':
            rounds = atoi(optarg);
            break;
        case 'n':
            nnodes = (size_t)atoi(optarg);
            break;
        default:
            bench_die("usage: bench_fanout -p PORTS [-r ROUNDS] [-n NODES]");
        }
    }
    if (nports == 0 || rounds < 1 || nnodes < 10)
        bench_die("usage: bench_fanout -p PORTS [-r ROUNDS] [-n NODES]");
    bench_raise_nofile();

    pgcm_options_t o;
    pgcm_options_init(&o);
    o.application_name = APP_NAME;
    pgcm_error_t err;
    if (pgcm_manager_new(&o, &g_mgr, &err) != PGCM_OK)
        bench_die("pgcm_manager_new: %s", err.message);

    char **ids = calloc(nnodes, sizeof(*ids));
    pgcm_node_spec_t *specs = calloc(nnodes, sizeof(*specs));
    if (ids == NULL || specs == NULL)
        bench_die("out of memory");
    for (size_t i = 0; i < nnodes; i++) {
        ids[i] = malloc(24);
        snprintf(ids[i], 24, "n%03zu", i);
        bench_spec(&specs[i], ids[i], ports[i % (size_t)nports], NULL);
    }
    bench_note("starting %zu nodes over %d servers", nnodes, nports);
    if (pgcm_manager_start(g_mgr, specs, nnodes, 60000, &err) != PGCM_OK)
        bench_die("pgcm_manager_start: %s", err.message);
    size_t left = bench_wait_healthy(g_mgr, ids, nnodes, 60000);
    if (left > 0)
        bench_die("%zu of %zu nodes not healthy after 60 s", left, nnodes);
    if (bench_wait_idle(g_mgr, ids, nnodes, 1, 30000) > 0)
        bench_die("pools did not settle at one idle connection each");

    /* Warm up: every connection has run each statement once. */
    for (int i = 0; i < 3; i++) {
        time_many(ids, nnodes, SLEEP_SQL);
        time_many(ids, nnodes, SELECT1_SQL);
        time_one(ids[0], SLEEP_SQL);
        time_one(ids[0], SELECT1_SQL);
    }
    g_failures = 0;

    double *one = calloc((size_t)rounds, sizeof(double));
    double *m10 = calloc((size_t)rounds, sizeof(double));
    double *mall = calloc((size_t)rounds, sizeof(double));
    double *s1 = calloc((size_t)rounds * 10, sizeof(double));
    double *s10 = calloc((size_t)rounds * 10, sizeof(double));
    size_t n_one = 0, n_m10 = 0, n_mall = 0, n_s1 = 0, n_s10 = 0;
    uint64_t t_start = bench_now_us();
    for (int r = 0; r < rounds; r++) {
        double v;
        if ((v = time_one(ids[0], SLEEP_SQL)) >= 0)
            one[n_one++] = v;
        if ((v = time_many(ids, 10, SLEEP_SQL)) >= 0)
            m10[n_m10++] = v;
        if ((v = time_many(ids, nnodes, SLEEP_SQL)) >= 0)
            mall[n_mall++] = v;
        /* SELECT 1 is short and noisy: ten pairs per round. */
        for (int k = 0; k < 10; k++) {
            if ((v = time_one(ids[0], SELECT1_SQL)) >= 0)
                s1[n_s1++] = v;
            if ((v = time_many(ids, 10, SELECT1_SQL)) >= 0)
                s10[n_s10++] = v;
        }
    }
    if (g_failures > (size_t)rounds / 10)
        bench_die("%zu queries or fan-outs failed in %d rounds", g_failures,
                  rounds);
    double d_one = bench_median(one, n_one), d_m10 = bench_median(m10, n_m10);
    double d_mall = bench_median(mall, n_mall);
    double d_s1 = bench_median(s1, n_s1), d_s10 = bench_median(s10, n_s10);
    bench_note("%d rounds in %.1f s; medians: one %.0f us, 10 nodes %.0f us, "
               "%zu nodes %.0f us; SELECT 1: one %.0f us, 10 nodes %.0f us",
               rounds, (double)(bench_now_us() - t_start) / 1e6, d_one, d_m10,
               nnodes, d_mall, d_s1, d_s10);
    bench_figure("fanout_ratio_10", d_m10 / d_one);
    char name[64];
    snprintf(name, sizeof(name), "fanout_ratio_%zu", nnodes);
    bench_figure(name, d_mall / d_one);
    bench_figure("fanout_select1_ratio_10", d_s10 / d_s1);

    pgcm_manager_free(g_mgr);
    for (size_t i = 0; i < nnodes; i++)
        free(ids[i]);
    free(ids);
    free(specs);
    free(one);
    free(m10);
    free(mall);
    free(s1);
    free(s10);
    return 0;
}
