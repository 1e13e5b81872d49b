/* SPDX-License-Identifier: MIT */
/*
 * bench_select1.c - P2/P3: `SELECT 1` throughput through one node's pool
 * (max 10) with 64 concurrent callers, and the client CPU it costs.
 *
 *   bench_select1 -p PORT [-t SECONDS] [-c CALLERS] [-m async|threads|libpq]
 *                 [-P DEPTH]
 *
 * async (default): 64 requests always in flight through pgcm_query_async;
 *   each callback frees its result and submits the next request.
 * threads: 64 threads, each calling the blocking pgcm_query in a loop.
 * libpq: no libpgcm at all - the floor for one event-loop thread: 10
 *   non-blocking libpq connections driven by one poll() loop, each sending
 *   its next `SELECT 1` as soon as the previous answer is in.
 *
 * -P DEPTH: the manager's pipeline_depth (pipelining on, DEPTH requests in
 *   flight per connection at most); default 0, off.
 *
 * After one second of warm-up (the pool grows to its max), queries that
 * complete during SECONDS are counted, and the process's CPU time
 * (getrusage RUSAGE_SELF: user + system of every thread, the library's loop
 * thread included) is read before and after. Prints:
 *
 *   rate QUERIES_PER_SECOND
 *   cpu_us_per_query CPU_MICROSECONDS / QUERIES
 *   user_us_per_query USER_CPU_MICROSECONDS / QUERIES
 *
 * (the user part is the client's own code, libpq's included; the rest of
 * the CPU is the kernel's, sending, receiving and waking up).
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common.h"

#define SQL         "SELECT 1"
#define APP_NAME    "bench_select1"
#define MAX_CALLERS 1024

static pgcm_manager_t *g_mgr;
static atomic_uint_fast64_t g_done;   /* successful queries */
static atomic_uint_fast64_t g_errors; /* failed queries */
static atomic_int g_stop;
static atomic_int g_in_flight;

static void on_result(pgcm_result_t *r, void *user);

static void submit(void)
{
    pgcm_error_t err;
    if (pgcm_query_async(g_mgr, "n0", SQL, 0, NULL, NULL, on_result, NULL, NULL,
                         &err) != PGCM_OK) {
        atomic_fetch_add(&g_errors, 1);
        atomic_fetch_sub(&g_in_flight, 1);
    }
}

static void on_result(pgcm_result_t *r, void *user)
{
    (void)user;
    if (pgcm_result_status(r) == PGCM_OK)
        atomic_fetch_add_explicit(&g_done, 1, memory_order_relaxed);
    else
        atomic_fetch_add(&g_errors, 1);
    pgcm_result_free(r);
    if (atomic_load_explicit(&g_stop, memory_order_relaxed))
        atomic_fetch_sub(&g_in_flight, 1);
    else
        submit();
}

static void *caller_thread(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
        pgcm_result_t *r = NULL;
        if (pgcm_query(g_mgr, "n0", SQL, 0, NULL, NULL, &r, NULL) == PGCM_OK)
            atomic_fetch_add_explicit(&g_done, 1, memory_order_relaxed);
        else
            atomic_fetch_add(&g_errors, 1);
        pgcm_result_free(r);
    }
    return NULL;
}

/* The bare libpq floor: 10 connections, one thread, one poll() loop. */
static void run_libpq(int port, int seconds)
{
    enum { N = 10 };
    PGconn *c[N];
    struct pollfd p[N];
    for (int i = 0; i < N; i++) {
        char ci[160];
        snprintf(ci, sizeof(ci),
                 "host=127.0.0.1 port=%d user=postgres dbname=postgres "
                 "sslmode=disable application_name=" APP_NAME "_libpq",
                 port);
        c[i] = PQconnectdb(ci);
        if (PQstatus(c[i]) != CONNECTION_OK)
            bench_die("libpq: %s", PQerrorMessage(c[i]));
        PQsetnonblocking(c[i], 1);
        if (!PQsendQuery(c[i], SQL))
            bench_die("libpq: %s", PQerrorMessage(c[i]));
        p[i].fd = PQsocket(c[i]);
        p[i].events = POLLIN;
    }
    uint64_t start = bench_now_us();
    uint64_t t0 = start + 1000000u, t1 = t0 + (uint64_t)seconds * 1000000u;
    uint64_t n0 = 0, c0 = 0, u0 = 0, done = 0, errors = 0;
    int measuring = 0;
    for (;;) {
        uint64_t now = bench_now_us();
        if (!measuring && now >= t0) {
            measuring = 1;
            n0 = done;
            c0 = bench_cpu_us();
            u0 = bench_cpu_user_us();
            t0 = now;
        } else if (measuring && now >= t1) {
            break;
        }
        if (poll(p, N, 1000) < 0)
            bench_die("poll failed");
        for (int i = 0; i < N; i++) {
            if (p[i].revents == 0)
                continue;
            if (!PQconsumeInput(c[i]))
                bench_die("libpq: %s", PQerrorMessage(c[i]));
            while (!PQisBusy(c[i])) {
                PGresult *r = PQgetResult(c[i]);
                if (r == NULL) {
                    done++;
                    if (!PQsendQuery(c[i], SQL))
                        bench_die("libpq: %s", PQerrorMessage(c[i]));
                    break;
                }
                if (PQresultStatus(r) != PGRES_TUPLES_OK)
                    errors++;
                PQclear(r);
            }
        }
    }
    uint64_t c1 = bench_cpu_us(), u1 = bench_cpu_user_us();
    uint64_t now = bench_now_us();
    for (int i = 0; i < N; i++)
        PQfinish(c[i]);
    if (errors > 0)
        bench_note("%llu queries failed", (unsigned long long)errors);
    double q = (double)(done - n0);
    printf("rate %.1f\n", q * 1e6 / (double)(now - t0));
    printf("cpu_us_per_query %.2f\n", (double)(c1 - c0) / q);
    printf("user_us_per_query %.2f\n", (double)(u1 - u0) / q);
}

int main(int argc, char **argv)
{
    int port = 0, seconds = 5, callers = 64, opt, use_threads = 0;
    int use_libpq = 0, depth = 0;
    bench_set_name("bench_select1");
    while ((opt = getopt(argc, argv, "p:t:c:m:P:")) != -1) {
        switch (opt) {
        case 'p':
            port = atoi(optarg);
            break;
        case 't':
            seconds = atoi(optarg);
            break;
        case 'c':
            callers = atoi(optarg);
            break;
        case 'm':
            use_threads = strcmp(optarg, "threads") == 0;
            use_libpq = strcmp(optarg, "libpq") == 0;
            if (!use_threads && !use_libpq && strcmp(optarg, "async") != 0)
                bench_die("-m takes async, threads or libpq");
            break;
        case 'P':
            depth = atoi(optarg);
            break;
        default:
            bench_die("usage: bench_select1 -p PORT [-t SECONDS] "
                      "[-c CALLERS] [-m async|threads|libpq] [-P DEPTH]");
        }
    }
    if (port <= 0 || seconds < 1 || callers < 1 || callers > MAX_CALLERS)
        bench_die("usage: bench_select1 -p PORT [-t SECONDS] [-c CALLERS] "
                  "[-m async|threads|libpq]");

    if (use_libpq) {
        run_libpq(port, seconds);
        return 0;
    }

    pgcm_options_t o;
    pgcm_options_init(&o);
    o.application_name = APP_NAME;
    if (depth > 0) {
#ifdef PGCM_PIPELINE_MAX
        o.pipeline_depth = depth;
#else
        bench_die("-P: this libpgcm has no pipelining");
#endif
    }
    pgcm_error_t err;
    if (pgcm_manager_new(&o, &g_mgr, &err) != PGCM_OK)
        bench_die("pgcm_manager_new: %s", err.message);
    pgcm_node_spec_t spec;
    bench_spec(&spec, "n0", port, NULL);
    spec.pool.max = 10;
    if (pgcm_manager_start(g_mgr, &spec, 1, 30000, &err) != PGCM_OK)
        bench_die("pgcm_manager_start: %s", err.message);
    char *ids[] = {"n0"};
    if (bench_wait_healthy(g_mgr, ids, 1, 30000) != 0)
        bench_die("node on port %d not healthy after 30 s", port);

    pthread_t th[MAX_CALLERS];
    atomic_store(&g_in_flight, callers);
    for (int i = 0; i < callers; i++) {
        if (use_threads) {
            if (pthread_create(&th[i], NULL, caller_thread, NULL) != 0)
                bench_die("cannot start caller thread %d", i);
        } else {
            submit();
        }
    }
    bench_sleep_ms(1000); /* warm-up: the pool grows to max */
    pgcm_pool_stats_t st;
    if (pgcm_node_stats(g_mgr, "n0", &st) == PGCM_OK && st.total < 10)
        bench_note("pool has %d connections after warm-up", st.total);
#ifdef PGCM_PIPELINE_MAX
    if (depth > 0 && pgcm_node_stats(g_mgr, "n0", &st) == PGCM_OK)
        bench_note("pipelined %llu of %llu queries in warm-up",
                   (unsigned long long)st.pipelined,
                   (unsigned long long)st.queries);
#endif

    uint64_t n0 = atomic_load(&g_done), c0 = bench_cpu_us();
    uint64_t u0 = bench_cpu_user_us();
    uint64_t t0 = bench_now_us();
    bench_sleep_ms(seconds * 1000);
    uint64_t n1 = atomic_load(&g_done), c1 = bench_cpu_us();
    uint64_t u1 = bench_cpu_user_us();
    uint64_t t1 = bench_now_us();
    atomic_store(&g_stop, 1);
    if (use_threads) {
        for (int i = 0; i < callers; i++)
            pthread_join(th[i], NULL);
    } else {
        while (atomic_load(&g_in_flight) > 0)
            bench_sleep_ms(1);
    }
    uint64_t errors = atomic_load(&g_errors);
    pgcm_manager_free(g_mgr);
    if (n1 == n0)
        bench_die("no query completed (%llu errors)",
                  (unsigned long long)errors);
    if (errors > 0)
        bench_note("%llu queries failed", (unsigned long long)errors);
    double q = (double)(n1 - n0);
    printf("rate %.1f\n", q * 1e6 / (double)(t1 - t0));
    printf("cpu_us_per_query %.2f\n", (double)(c1 - c0) / q);
    printf("user_us_per_query %.2f\n", (double)(u1 - u0) / q);
    return 0;
}
