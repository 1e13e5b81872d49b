/* SPDX-License-Identifier: MIT */
/*
 * bench_scale.c - P4: 1000 (or 10,000) nodes behind PgBouncer.
 *
 *   bench_scale -p PGBOUNCER_PORT [-d DATABASES] [-n NODES] [-t SECONDS]
 *               [-m MIN_SERVER_CONNS] [-i HEALTH_CHECK_INTERVAL_MS]
 *
 * What it needs: one file descriptor per node (it raises its own
 * RLIMIT_NOFILE to the hard limit and says so when that is too low), and
 * a PgBouncer whose max_client_conn and file limit take NODES clients.
 *
 * bench/run starts PgBouncer (pool_mode=transaction) with database aliases
 * db0..db{DATABASES-1} (default 10), each with a pool of server
 * connections it keeps open (min_pool_size). This program first waits,
 * through PgBouncer's admin console, until every alias has
 * MIN_SERVER_CONNS server connections (so the servers' backend start rate
 * is not what is measured), makes one libpq connection of its own (so
 * libpq's one-time initialisation is not counted per node), then:
 *
 * (N below is NODES; for 1000 the memory figure keeps its old name,
 * scale_bytes_per_node.)
 *
 *   scale_N_ready_ms         pgcm_manager_start of NODES (default 1000)
 *                            nodes, node i on alias db(i % DATABASES),
 *                            pool min 1, health_check_interval_ms as -i
 *                            says (default: the library's, 5000), other
 *                            options default; time from the call to the
 *                            last node's health-changed event to healthy
 *                            (events counted in a subscriber).
 *   scale_N_bytes_per_node   (RSS once every node holds its one idle
 *                            connection - RSS before pgcm_manager_new)
 *                            / NODES, from /proc/self/statm.
 *   scale_N_probe_cpu_pct    this process's CPU time (getrusage, all
 *                            threads) over SECONDS (default 10) of
 *                            probing, as percent of one core, after 2 s
 *                            of settling.
 *   scale_N_shutdown_ms      the time of pgcm_manager_shutdown.
 *   scale_N_leftover_conns   clients with our application_name still on
 *                            PgBouncer (SHOW CLIENTS) 1 s after it.
 *
 * Notes on stderr: probes run in the window and the CPU per probe, nodes
 * not healthy at the end.
 *
 * bench_scale_floor (bench/run runs it right after this program) does the
 * same job with bare libpq on the same PgBouncer: the floor of each figure.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/resource.h>

#include <libpq-fe.h>

#include "common.h"

#define APP_NAME "bench_scale"

static atomic_size_t g_healthy;       /* nodes that turned healthy */
static atomic_uint_fast64_t g_all_us; /* when the last one did */
static atomic_size_t g_unhealthy;     /* unhealthy events seen */
static size_t g_nodes;

static void on_event(const pgcm_event_t *ev, void *user)
{
    (void)user;
    if (ev->type != PGCM_EV_HEALTH_CHANGED)
        return;
    if (ev->new_state == PGCM_NODE_HEALTHY &&
        ev->old_state == PGCM_NODE_CONNECTING) {
        if (atomic_fetch_add(&g_healthy, 1) + 1 == g_nodes)
            atomic_store(&g_all_us, bench_now_us());
    } else if (ev->new_state == PGCM_NODE_UNHEALTHY) {
        atomic_fetch_add(&g_unhealthy, 1);
    }
}

/* Make PgBouncer open min server connections for every alias: it opens
 * them on demand, so run min concurrent transactions per alias. */
static void warm_bouncer(int port, int ndbs, int min)
{
    int total = ndbs * min;
    PGconn **cs = calloc((size_t)total, sizeof(*cs));
    if (cs == NULL)
        bench_die("out of memory");
    for (int i = 0; i < total; i++) {
        char ci[160];
        snprintf(ci, sizeof(ci),
                 "host=127.0.0.1 port=%d user=postgres dbname=db%d "
                 "sslmode=disable application_name=bench_warmup",
                 port, i % ndbs);
        cs[i] = PQconnectdb(ci);
        if (PQstatus(cs[i]) != CONNECTION_OK)
            bench_die("cannot connect through PgBouncer to db%d: %s", i % ndbs,
                      PQerrorMessage(cs[i]));
    }
    for (int i = 0; i < total; i++)
        if (!PQsendQuery(cs[i], "SELECT pg_sleep(0.5)"))
            bench_die("PgBouncer warm-up: %s", PQerrorMessage(cs[i]));
    for (int i = 0; i < total; i++) {
        PGresult *r;
        while ((r = PQgetResult(cs[i])) != NULL)
            PQclear(r);
        PQfinish(cs[i]);
    }
    free(cs);
}

/* How many aliases have min server connections (SHOW POOLS), or -1. */
static int bouncer_ready(int port, int min, char *why, size_t whylen)
{
    PGconn *c = bench_bouncer_admin(port);
    int ready = -1;
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(why, whylen, "%s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    PGresult *r = PQexec(c, "SHOW POOLS");
    int fdb = PQfnumber(r, "database"), fi = PQfnumber(r, "sv_idle"),
        fu = PQfnumber(r, "sv_used"), fa = PQfnumber(r, "sv_active");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && fdb >= 0 && fi >= 0) {
        ready = 0;
        for (int i = 0; i < PQntuples(r); i++) {
            int have = atoi(PQgetvalue(r, i, fi)) +
                       (fu >= 0 ? atoi(PQgetvalue(r, i, fu)) : 0) +
                       (fa >= 0 ? atoi(PQgetvalue(r, i, fa)) : 0);
            if (strncmp(PQgetvalue(r, i, fdb), "db", 2) == 0 && have >= min)
                ready++;
        }
    } else {
        snprintf(why, whylen, "SHOW POOLS: %s", PQresultErrorMessage(r));
    }
    PQclear(r);
    PQfinish(c);
    return ready;
}

/* Warm PgBouncer up until every alias holds min server connections (the
 * servers start backends slowly, and PgBouncer opens them one at a time
 * per pool, so this may take a few warm-ups). */
static void wait_bouncer_pools(int port, int ndbs, int min, int timeout_ms)
{
    uint64_t deadline = bench_now_us() + (uint64_t)timeout_ms * 1000u;
    char why[256] = "";
    int ready = 0;
    while (bench_now_us() < deadline) {
        warm_bouncer(port, ndbs, min);
        for (int i = 0; i < 10; i++) {
            ready = bouncer_ready(port, min, why, sizeof(why));
            if (ready >= ndbs)
                return;
            bench_sleep_ms(200);
        }
    }
    bench_die("PgBouncer on port %d did not open its server connections: "
              "%d of %d aliases ready %s",
              port, ready, ndbs, why);
}

/* Probes run by all nodes so far, and (failures) how many failed. */
static uint64_t sum_probes(pgcm_manager_t *mgr, char **ids, size_t n,
                           uint64_t *failures)
{
    uint64_t total = 0;
    *failures = 0;
    for (size_t i = 0; i < n; i++) {
        pgcm_pool_stats_t s;
        if (pgcm_node_stats(mgr, ids[i], &s) == PGCM_OK) {
            total += s.probes;
            *failures += s.probe_failures;
        }
    }
    return total;
}

/* Say in which states the nodes are, and one not healthy node's last
 * error. */
static void note_states(pgcm_manager_t *mgr, char **ids, size_t n)
{
    size_t states[6] = {0};
    pgcm_health_t h, first = {0};
    for (size_t i = 0; i < n; i++) {
        if (pgcm_node_health(mgr, ids[i], &h) != PGCM_OK)
            continue;
        states[h.state < 6 ? h.state : 0]++;
        if (h.state != PGCM_NODE_HEALTHY && first.last_error[0] == '\0')
            first = h;
    }
    bench_note("now connecting %zu, healthy %zu, degraded %zu, unhealthy "
               "%zu, reconnecting %zu; a node's last error: %s",
               states[0], states[1], states[2], states[3], states[4],
               first.last_error[0] ? first.last_error : "(none)");
}

int main(int argc, char **argv)
{
    int port = 0, ndbs = 10, nodes = 1000, seconds = 10, min_server = 5, opt;
    int interval_ms = 0;
    const bench_int_opt_t ints[] = {{'p', &port},       {'d', &ndbs},
                                    {'n', &nodes},      {'t', &seconds},
                                    {'m', &min_server}, {'i', &interval_ms}};
    bench_set_name("bench_scale");
    while ((opt = getopt(argc, argv, "p:d:n:t:m:i:")) != -1) {
        if (!bench_int_arg(ints, sizeof(ints) / sizeof(ints[0]), opt, optarg))
            bench_die("usage: bench_scale -p PGBOUNCER_PORT [-d DATABASES] "
                      "[-n NODES] [-t SECONDS] [-m MIN_SERVER_CONNS] "
                      "[-i HEALTH_CHECK_INTERVAL_MS]");
    }
    size_t n = (size_t)nodes;
    if (port <= 0 || ndbs < 1 || n < 1 || seconds < 1 || interval_ms < 0)
        bench_die("usage: bench_scale -p PGBOUNCER_PORT [-d DATABASES] "
                  "[-n NODES] [-t SECONDS] [-m MIN_SERVER_CONNS] "
                  "[-i HEALTH_CHECK_INTERVAL_MS]");
    g_nodes = n;
    bench_raise_nofile();
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n + 100)
        bench_die("%zu nodes need %zu file descriptors; the limit is %llu: "
                  "raise it (ulimit -Hn, as root) and run again",
                  n, n + 100, (unsigned long long)rl.rlim_cur);
    wait_bouncer_pools(port, ndbs, min_server, 60000);

    /* One connection of our own: libpq's one-time set-up. */
    char conninfo[160];
    snprintf(conninfo, sizeof(conninfo),
             "host=127.0.0.1 port=%d user=postgres dbname=db0 "
             "sslmode=disable",
             port);
    PGconn *warm = PQconnectdb(conninfo);
    if (PQstatus(warm) != CONNECTION_OK)
        bench_die("cannot connect through PgBouncer: %s", PQerrorMessage(warm));
    PQclear(PQexec(warm, "SELECT 1"));
    PQfinish(warm);

    char **ids = calloc(n, sizeof(*ids));
    char **dbs = calloc((size_t)ndbs, sizeof(*dbs));
    pgcm_node_spec_t *specs = calloc(n, sizeof(*specs));
    if (ids == NULL || dbs == NULL || specs == NULL)
        bench_die("out of memory");
    for (int d = 0; d < ndbs; d++) {
        dbs[d] = malloc(16);
        snprintf(dbs[d], 16, "db%d", d);
    }
    for (size_t i = 0; i < n; i++) {
        ids[i] = malloc(24);
        snprintf(ids[i], 24, "node%04zu", i);
        bench_spec(&specs[i], ids[i], port, dbs[i % (size_t)ndbs]);
    }

    uint64_t rss0 = bench_rss_bytes();
    pgcm_options_t o;
    pgcm_options_init(&o);
    o.application_name = APP_NAME;
    if (interval_ms > 0)
        o.health_check_interval_ms = interval_ms;
    pgcm_manager_t *mgr;
    pgcm_error_t err;
    if (pgcm_manager_new(&o, &mgr, &err) != PGCM_OK)
        bench_die("pgcm_manager_new: %s", err.message);
    uint64_t sub;
    if (pgcm_subscribe(mgr, on_event, NULL, &sub) != PGCM_OK)
        bench_die("pgcm_subscribe failed");

    uint64_t t0 = bench_now_us();
    if (pgcm_manager_start(mgr, specs, n, 30000, &err) != PGCM_OK)
        bench_die("pgcm_manager_start: %s", err.message);
    uint64_t t_ret = bench_now_us();
    uint64_t deadline = t0 + 60u * 1000000u;
    while (atomic_load(&g_all_us) == 0 && bench_now_us() < deadline)
        bench_sleep_ms(1);
    uint64_t t_all = atomic_load(&g_all_us);
    if (t_all == 0) {
        /* say why: the states, and one node's last error; the figure is
         * the 60 s waited, and the other figures are still taken */
        bench_note("only %zu of %zu nodes became healthy within 60 s",
                   atomic_load(&g_healthy), n);
        note_states(mgr, ids, n);
        t_all = deadline;
    } else {
        bench_note("pgcm_manager_start returned after %.1f ms; all %zu "
                   "nodes healthy after %.1f ms",
                   (double)(t_ret - t0) / 1000.0, n,
                   (double)(t_all - t0) / 1000.0);
    }
    bench_figure_n("scale_%zu_ready_ms", n, (double)(t_all - t0) / 1000.0);

    size_t short_idle = bench_wait_idle(mgr, ids, n, 1, 30000);
    if (short_idle > 0)
        bench_note("%zu pools did not settle at one idle connection: the "
                   "memory figure counts what there is",
                   short_idle);
    uint64_t rss1 = bench_rss_bytes();
    bench_note("RSS %.1f MiB before the manager, %.1f MiB with %zu nodes",
               (double)rss0 / 1048576.0, (double)rss1 / 1048576.0, n);
    bench_figure_n(n == 1000 ? "scale_bytes_per_node"
                             : "scale_%zu_bytes_per_node",
                   n, (double)(int64_t)((rss1 - rss0) / n));

    bench_sleep_ms(2000);
    uint64_t f0, f1;
    uint64_t p0 = sum_probes(mgr, ids, n, &f0), c0 = bench_cpu_us();
    uint64_t w0 = bench_now_us();
    bench_sleep_ms(seconds * 1000);
    uint64_t c1 = bench_cpu_us(), w1 = bench_now_us();
    uint64_t p1 = sum_probes(mgr, ids, n, &f1);
    double pct = (double)(c1 - c0) * 100.0 / (double)(w1 - w0);
    size_t bad = bench_wait_healthy(mgr, ids, n, 0);
    bench_note("%llu probes (%llu failed) in %.1f s (%.1f per node per "
               "second), %.1f us of CPU per probe; %zu nodes not healthy at "
               "the end, %zu unhealthy events",
               (unsigned long long)(p1 - p0), (unsigned long long)(f1 - f0),
               (double)(w1 - w0) / 1e6,
               (double)(p1 - p0) / (double)n / ((double)(w1 - w0) / 1e6),
               p1 > p0 ? (double)(c1 - c0) / (double)(p1 - p0) : 0.0, bad,
               atomic_load(&g_unhealthy));
    if (bad > 0)
        note_states(mgr, ids, n);
    bench_figure_n("scale_%zu_probe_cpu_pct", n, pct);
    bench_figure_n("scale_%zu_cpu_us_per_probe", n,
                   p1 > p0 ? (double)(c1 - c0) / (double)(p1 - p0) : 0.0);

    uint64_t s0 = bench_now_us(), sc0 = bench_cpu_us();
    pgcm_manager_shutdown(mgr);
    uint64_t s1 = bench_now_us(), sc1 = bench_cpu_us();
    bench_note("pgcm_manager_shutdown of %zu nodes took %.1f ms (%.1f ms of "
               "CPU)",
               n, (double)(s1 - s0) / 1000.0, (double)(sc1 - sc0) / 1000.0);
    bench_figure_n("scale_%zu_shutdown_ms", n, (double)(s1 - s0) / 1000.0);
    pgcm_manager_free(mgr);
    /* PgBouncer notices a closed client late when its query still waits
     * for a server connection: give it up to 5 s */
    double waited;
    int left = bench_bouncer_wait_gone(port, APP_NAME, 5000, &waited);
    bench_note("clients of ours on PgBouncer %.1f s after the shutdown: %d",
               waited, left);
    bench_figure_n("scale_%zu_leftover_conns", n, left);
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    for (int d = 0; d < ndbs; d++)
        free(dbs[d]);
    free(ids);
    free(dbs);
    free(specs);
    return 0;
}
