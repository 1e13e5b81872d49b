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
 * The same rounds also time a bare libpq client doing the same work on
 * connections of its own to the same servers (PQsendQuery on every
 * connection, then one poll() loop until all have answered; one thread,
 * no pool, no hand-off): the floor this machine allows, printed as
 * libpq_fanout_ratio_10, libpq_fanout_ratio_100 and
 * libpq_fanout_select1_ratio_10. The library against that floor, the
 * caller's time for the same fan-out of `SELECT 1`:
 *
 *   fanout_select1_vs_libpq_10   median(many 10, 1)  / median(libpq 10, 1)
 *   fanout_vs_libpq_100          median(many all, 1) / median(libpq all, 1)
 *
 * A library with an I/O thread of its own hands every call to that thread
 * and is woken by it when the answers are in: two thread hand-offs the
 * bare client above does not make. The same bare client on a second
 * thread, the caller handing it the fan-out and waiting on a semaphore
 * for its end and then freeing the results the thread took, is the
 * floor of that shape (libpq_thread select1 x1, x10 and x100 in the
 * notes):
 *
 *   fanout_select1_vs_libpq_thread_10  median(many 10, 1) /
 *                                      median(libpq on a thread 10, 1)
 *   fanout_vs_libpq_thread_100         median(many all, 1) /
 *                                      median(libpq on a thread all, 1)
 *
 * and, for bench/run to set beside pg-pool's (fanout_select1_vs_pgpool_10):
 *
 *   fanout_select1_10_us     median(many 10, 1), in microseconds
 *   libpq_thread_handoff_us            median(libpq on a thread 1, 1) -
 *                                      median(libpq 1, 1)
 *
 * Each figure is printed with its spread: half the interquartile range
 * of the per-round (per-pair for SELECT 1) ratios.
 *
 * Notes on stderr give, per kind, the medians of the caller's time, the
 * slowest and fastest node's own elapsed time, and the client CPU.
 */
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common.h"

#define SLEEP_SQL   "SELECT pg_sleep(0.02)"
#define SELECT1_SQL "SELECT 1"
#define APP_NAME    "bench_fanout"

static pgcm_manager_t *g_mgr;
static size_t g_failures;

/* One kind of call over the rounds: the caller's wall time, this
 * process's CPU time during the call, and the fastest and slowest node's
 * own elapsed time (pgcm_result_elapsed_us: submission to completion). */
typedef struct series {
    const char *label;
    double *wall, *cpu, *fast, *slow;
    size_t n, cap;
} series_t;

static void series_init(series_t *s, const char *label, size_t cap)
{
    s->label = label;
    s->wall = calloc(cap, sizeof(double));
    s->cpu = calloc(cap, sizeof(double));
    s->fast = calloc(cap, sizeof(double));
    s->slow = calloc(cap, sizeof(double));
    if (!s->wall || !s->cpu || !s->fast || !s->slow)
        bench_die("out of memory");
    s->n = 0;
    s->cap = cap;
}

/* One call's readings; NAN for a call that failed, so that the series
 * of one round stay paired index by index. */
static void series_add(series_t *s, double wall, double cpu, double fast,
                       double slow)
{
    if (s == NULL || s->n == s->cap)
        return;
    s->wall[s->n] = wall;
    s->cpu[s->n] = cpu;
    s->fast[s->n] = fast;
    s->slow[s->n] = slow;
    s->n++;
}

/* The finite values of v[0..n) into out; returns their count. */
static size_t finite_values(const double *v, size_t n, double *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            out[k++] = v[i];
    return k;
}

static double median_of(const double *v, size_t n)
{
    double *tmp = calloc(n ? n : 1, sizeof(double));
    if (tmp == NULL)
        bench_die("out of memory");
    double m = bench_median(tmp, finite_values(v, n, tmp));
    free(tmp);
    return m;
}

/* A ratio figure: median(a) / median(b), with the spread of the ratios
 * a[i] / b[i] of the pairs where both calls succeeded. */
static void ratio_figure(const char *name, const series_t *a, const series_t *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    double *r = calloc(n ? n : 1, sizeof(double));
    if (r == NULL)
        bench_die("out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(a->wall[i]) && isfinite(b->wall[i]) && b->wall[i] > 0)
            r[k++] = a->wall[i] / b->wall[i];
    double den = median_of(b->wall, b->n);
    bench_figure_spread(name, den > 0 ? median_of(a->wall, a->n) / den : 0,
                        bench_spread(r, k));
    free(r);
}

/* Medians, as a note. */
static void series_report(const series_t *s)
{
    double wall = median_of(s->wall, s->n);
    if (strncmp(s->label, "libpq", 5) == 0)
        bench_note("%-18s caller %8.0f us, client CPU %6.0f us (medians of "
                   "%zu)",
                   s->label, wall, median_of(s->cpu, s->n), s->n);
    else
        bench_note("%-18s caller %8.0f us, slowest node %8.0f us, fastest "
                   "node %8.0f us, client CPU %6.0f us (medians of %zu)",
                   s->label, wall, median_of(s->slow, s->n),
                   median_of(s->fast, s->n), median_of(s->cpu, s->n), s->n);
}

static void series_free(series_t *s)
{
    free(s->wall);
    free(s->cpu);
    free(s->fast);
    free(s->slow);
}

static void time_one(series_t *s, const char *node, const char *sql)
{
    pgcm_result_t *r = NULL;
    pgcm_error_t err;
    uint64_t c0 = bench_cpu_us(), t0 = bench_now_us();
    int rc = pgcm_query(g_mgr, node, sql, 0, NULL, NULL, &r, &err);
    uint64_t t1 = bench_now_us(), c1 = bench_cpu_us();
    double el = r ? (double)pgcm_result_elapsed_us(r) : 0;
    pgcm_result_free(r);
    if (rc != PGCM_OK) {
        if (g_failures++ < 5)
            bench_note("query on %s failed: %s", node, err.message);
        series_add(s, NAN, NAN, NAN, NAN);
        return;
    }
    series_add(s, (double)(t1 - t0), (double)(c1 - c0), el, el);
}

static void time_many(series_t *s, char **ids, size_t n, const char *sql)
{
    pgcm_target_t t = {PGCM_TARGET_LIST, (const char *const *)ids, n};
    pgcm_batch_t *b = NULL;
    pgcm_error_t err;
    uint64_t c0 = bench_cpu_us(), t0 = bench_now_us();
    int rc = pgcm_query_many(g_mgr, &t, sql, 0, NULL, NULL, &b, &err);
    uint64_t t1 = bench_now_us(), c1 = bench_cpu_us();
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
        series_add(s, NAN, NAN, NAN, NAN);
        return;
    }
    double fast = 1e18, slow = 0;
    for (size_t i = 0; i < pgcm_batch_count(b); i++) {
        double el = (double)pgcm_result_elapsed_us(pgcm_batch_result(b, i));
        fast = el < fast ? el : fast;
        slow = el > slow ? el : slow;
    }
    pgcm_batch_free(b);
    series_add(s, (double)(t1 - t0), (double)(c1 - c0), fast, slow);
}

/* ---- the bare libpq floor ----------------------------------------- */

static PGconn **g_raw;

/* n connections of the bare client's own, spread over the servers. */
static PGconn **raw_connect(const int *ports, int nports, size_t n)
{
    PGconn **conns = calloc(n, sizeof(*conns));
    if (conns == NULL)
        bench_die("out of memory");
    for (size_t i = 0; i < n; i++) {
        char ci[160];
        snprintf(ci, sizeof(ci),
                 "host=127.0.0.1 port=%d user=postgres dbname=postgres "
                 "sslmode=disable application_name=" APP_NAME "_libpq",
                 ports[i % (size_t)nports]);
        conns[i] = PQconnectdb(ci);
        if (PQstatus(conns[i]) != CONNECTION_OK)
            bench_die("libpq baseline: %s", PQerrorMessage(conns[i]));
        PQsetnonblocking(conns[i], 1);
    }
    return conns;
}

static void raw_close(PGconn **conns, size_t n)
{
    for (size_t i = 0; i < n; i++)
        PQfinish(conns[i]);
    free(conns);
}

/* Send sql on connections 0..n-1, wait for every answer; returns the
 * wall time in us, or -1 (and a note) on failure. keep: NULL, or where
 * the last result of each connection is left for the caller to PQclear
 * (NULL where there was none). */
static double raw_many_keep(PGconn **conns, series_t *s, size_t n,
                            const char *sql, PGresult **keep)
{
    for (size_t i = 0; keep && i < n; i++)
        keep[i] = NULL;
    struct pollfd *p = calloc(n, sizeof(*p));
    size_t *idx = calloc(n, sizeof(*idx));
    char *done = calloc(n, 1);
    if (p == NULL || idx == NULL || done == NULL)
        bench_die("out of memory");
    uint64_t c0 = bench_cpu_us(), t0 = bench_now_us();
    int failed = 0;
    for (size_t i = 0; i < n; i++)
        if (!PQsendQuery(conns[i], sql) || PQflush(conns[i]) != 0)
            failed = 1;
    size_t left = failed ? 0 : n;
    while (left > 0) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (!done[i]) {
                p[k].fd = PQsocket(conns[i]);
                p[k].events = POLLIN;
                p[k].revents = 0;
                idx[k++] = i;
            }
        }
        if (poll(p, (nfds_t)k, 10000) <= 0) {
            failed = 1;
            break;
        }
        for (size_t j = 0; j < k; j++) {
            size_t i = idx[j];
            if (p[j].revents == 0)
                continue;
            if (!PQconsumeInput(conns[i])) {
                failed = 1;
                left = 0;
                break;
            }
            while (!PQisBusy(conns[i])) {
                PGresult *r = PQgetResult(conns[i]);
                if (r == NULL) {
                    done[i] = 1;
                    left--;
                    break;
                }
                if (PQresultStatus(r) != PGRES_TUPLES_OK)
                    failed = 1;
                if (keep != NULL) {
                    PQclear(keep[i]);
                    keep[i] = r;
                } else {
                    PQclear(r);
                }
            }
        }
    }
    uint64_t t1 = bench_now_us(), c1 = bench_cpu_us();
    free(p);
    free(idx);
    free(done);
    if (failed) {
        if (g_failures++ < 5)
            bench_note("libpq baseline over %zu connections failed", n);
        series_add(s, NAN, NAN, NAN, NAN);
        return -1;
    }
    double wall = (double)(t1 - t0);
    series_add(s, wall, (double)(c1 - c0), wall, wall);
    return wall;
}

static double raw_many(series_t *s, size_t n, const char *sql)
{
    return raw_many_keep(g_raw, s, n, sql, NULL);
}

/* This process's minor page faults so far. */
static long minor_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

/* ---- the same bare client on a thread of its own ------------------- */

/* The caller posts `go` with n set; the thread runs raw_many over n
 * connections, then posts `done` (n = 0: the thread ends). The results
 * are the caller's to free, as a library's are: memory the thread took
 * is given back by another thread. */
typedef struct relay {
    pthread_t thread;
    sem_t go, done;
    size_t n;
    double wall;       /* the thread's own time for the fan-out (-1: failed) */
    PGresult **result; /* one per connection, for the caller */
    PGconn **conns;    /* its own: a backend just used answers faster, so
                          the floor's connections are left alone */
} relay_t;

static void *relay_main(void *arg)
{
    relay_t *t = arg;
    for (;;) {
        while (sem_wait(&t->go) != 0)
            ;
        if (t->n == 0)
            return NULL;
        t->wall = raw_many_keep(t->conns, NULL, t->n, SELECT1_SQL, t->result);
        sem_post(&t->done);
    }
}

static void relay_start(relay_t *t, const int *ports, int nports, size_t n)
{
    t->conns = raw_connect(ports, nports, n);
    t->result = calloc(n, sizeof(*t->result));
    if (t->result == NULL || sem_init(&t->go, 0, 0) != 0 ||
        sem_init(&t->done, 0, 0) != 0 ||
        pthread_create(&t->thread, NULL, relay_main, t) != 0)
        bench_die("cannot start the libpq thread");
}

static void relay_stop(relay_t *t, size_t n)
{
    t->n = 0;
    sem_post(&t->go);
    pthread_join(t->thread, NULL);
    sem_destroy(&t->go);
    sem_destroy(&t->done);
    free(t->result);
    raw_close(t->conns, n);
}

/* The caller's time for a fan-out of SELECT 1 the thread runs. */
static void relay_many(relay_t *t, series_t *s, size_t n)
{
    uint64_t c0 = bench_cpu_us(), t0 = bench_now_us();
    t->n = n;
    sem_post(&t->go);
    while (sem_wait(&t->done) != 0)
        ;
    uint64_t t1 = bench_now_us(), c1 = bench_cpu_us();
    for (size_t i = 0; i < n; i++)
        PQclear(t->result[i]);
    if (t->wall < 0) {
        series_add(s, NAN, NAN, NAN, NAN);
        return;
    }
    series_add(s, (double)(t1 - t0), (double)(c1 - c0), t->wall, t->wall);
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

    g_raw = raw_connect(ports, nports, nnodes);
    relay_t relay;
    relay_start(&relay, ports, nports, nnodes);

    /* Warm up: every connection has run each statement once. */
    for (int i = 0; i < 3; i++) {
        raw_many(NULL, nnodes, SLEEP_SQL);
        raw_many(NULL, nnodes, SELECT1_SQL);
        time_many(NULL, ids, nnodes, SLEEP_SQL);
        time_many(NULL, ids, nnodes, SELECT1_SQL);
        time_one(NULL, ids[0], SLEEP_SQL);
        time_one(NULL, ids[0], SELECT1_SQL);
        relay_many(&relay, NULL, 10);
    }
    g_failures = 0;

    /* Every kind of call, pgcm's and the bare client's. */
    enum { ONE, M10, MALL, S1, S10, SALL, NKINDS };
    static const int per_round[NKINDS] = {1, 1, 1, 10, 10, 5};
    char lab[2][NKINDS][40];
    series_t ser[2][NKINDS]; /* [0]: pgcm, [1]: bare libpq */
    for (int w = 0; w < 2; w++) {
        const char *pre = w ? "libpq " : "";
        snprintf(lab[w][ONE], 40, "%ssleep x1", pre);
        snprintf(lab[w][M10], 40, "%ssleep x10", pre);
        snprintf(lab[w][MALL], 40, "%ssleep x%zu", pre, nnodes);
        snprintf(lab[w][S1], 40, "%sselect1 x1", pre);
        snprintf(lab[w][S10], 40, "%sselect1 x10", pre);
        snprintf(lab[w][SALL], 40, "%sselect1 x%zu", pre, nnodes);
        for (int k = 0; k < NKINDS; k++)
            series_init(&ser[w][k], lab[w][k],
                        (size_t)rounds * (size_t)per_round[k]);
    }
    series_t *p = ser[0], *l = ser[1];
    series_t thr[3]; /* the bare client on its thread: x1, x10, all */
    char thr_all[40];
    snprintf(thr_all, sizeof(thr_all), "libpq_thread select1 x%zu", nnodes);
    series_init(&thr[0], "libpq_thread select1 x1",
                (size_t)rounds * (size_t)per_round[S1]);
    series_init(&thr[1], "libpq_thread select1 x10",
                (size_t)rounds * (size_t)per_round[S10]);
    series_init(&thr[2], thr_all, (size_t)rounds * (size_t)per_round[SALL]);
    long faults[2] = {0, 0}; /* minor page faults: pgcm, bare libpq */
    uint64_t t_start = bench_now_us();
    for (int r = 0; r < rounds; r++) {
        time_one(&p[ONE], ids[0], SLEEP_SQL);
        time_many(&p[M10], ids, 10, SLEEP_SQL);
        time_many(&p[MALL], ids, nnodes, SLEEP_SQL);
        /* SELECT 1 is short and noisy: several per round, each pgcm call
         * paired with the bare client's right after it. */
        for (int k = 0; k < per_round[S1]; k++) {
            /* the thread's calls go before the pairs or after them, in
             * turn: which call comes first after a pause is slower */
            if (k % 2) {
                relay_many(&relay, &thr[0], 1);
                relay_many(&relay, &thr[1], 10);
            }
            time_one(&p[S1], ids[0], SELECT1_SQL);
            raw_many(&l[S1], 1, SELECT1_SQL);
            time_many(&p[S10], ids, 10, SELECT1_SQL);
            raw_many(&l[S10], 10, SELECT1_SQL);
            if (!(k % 2)) {
                relay_many(&relay, &thr[0], 1);
                relay_many(&relay, &thr[1], 10);
            }
        }
        for (int k = 0; k < per_round[SALL]; k++) {
            if (k % 2)
                relay_many(&relay, &thr[2], nnodes);
            long f0 = minor_faults();
            time_many(&p[SALL], ids, nnodes, SELECT1_SQL);
            long f1 = minor_faults();
            raw_many(&l[SALL], nnodes, SELECT1_SQL);
            faults[0] += f1 - f0;
            faults[1] += minor_faults() - f1;
            if (!(k % 2))
                relay_many(&relay, &thr[2], nnodes);
        }
        raw_many(&l[ONE], 1, SLEEP_SQL);
        raw_many(&l[M10], 10, SLEEP_SQL);
        raw_many(&l[MALL], nnodes, SLEEP_SQL);
    }
    if (g_failures > (size_t)rounds / 10)
        bench_die("%zu queries or fan-outs failed in %d rounds", g_failures,
                  rounds);
    bench_note("%d rounds in %.1f s", rounds,
               (double)(bench_now_us() - t_start) / 1e6);
    for (int w = 0; w < 2; w++)
        for (int k = 0; k < NKINDS; k++)
            series_report(&ser[w][k]);
    series_report(&thr[0]);
    series_report(&thr[1]);
    series_report(&thr[2]);
    double calls = (double)rounds * per_round[SALL];
    bench_note("minor page faults per fan-out over %zu nodes: pgcm %.1f, "
               "bare libpq %.1f (glibc gives the loop thread's freed results "
               "back to the system after each, and takes them again)",
               nnodes, (double)faults[0] / calls, (double)faults[1] / calls);
    char name[64];
    for (int w = 0; w < 2; w++) {
        const char *pre = w ? "libpq_" : "";
        snprintf(name, sizeof(name), "%sfanout_ratio_10", pre);
        ratio_figure(name, &ser[w][M10], &ser[w][ONE]);
        snprintf(name, sizeof(name), "%sfanout_ratio_%zu", pre, nnodes);
        ratio_figure(name, &ser[w][MALL], &ser[w][ONE]);
        snprintf(name, sizeof(name), "%sfanout_select1_ratio_10", pre);
        ratio_figure(name, &ser[w][S10], &ser[w][S1]);
    }
    ratio_figure("fanout_select1_vs_libpq_10", &p[S10], &l[S10]);
    snprintf(name, sizeof(name), "fanout_vs_libpq_%zu", nnodes);
    ratio_figure(name, &p[SALL], &l[SALL]);
    ratio_figure("fanout_select1_vs_libpq_thread_10", &p[S10], &thr[1]);
    snprintf(name, sizeof(name), "fanout_vs_libpq_thread_%zu", nnodes);
    ratio_figure(name, &p[SALL], &thr[2]);
    bench_figure("libpq_thread_handoff_us", median_of(thr[0].wall, thr[0].n) -
                                                median_of(l[S1].wall, l[S1].n));
    bench_figure("fanout_select1_10_us", median_of(p[S10].wall, p[S10].n));
    for (int w = 0; w < 2; w++)
        for (int k = 0; k < NKINDS; k++)
            series_free(&ser[w][k]);
    series_free(&thr[0]);
    series_free(&thr[1]);
    series_free(&thr[2]);
    relay_stop(&relay, nnodes);
    raw_close(g_raw, nnodes);

    pgcm_manager_free(g_mgr);
    for (size_t i = 0; i < nnodes; i++)
        free(ids[i]);
    free(ids);
    free(specs);
    return 0;
}
