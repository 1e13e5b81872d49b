/* SPDX-License-Identifier: MIT */
/*
 * common.c - helpers shared by the bench_* programs (see common.h).
 */
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/resource.h>

#include <libpq-fe.h>

static const char *g_name = "bench";

uint64_t bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void bench_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

uint64_t bench_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

uint64_t bench_cpu_user_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)ru.ru_utime.tv_sec * 1000000u +
           (uint64_t)ru.ru_utime.tv_usec;
}

uint64_t bench_process_cpu_ns(int pid)
{
    char path[64];
    struct dirent *e;
    uint64_t total = 0;
    DIR *d;

    snprintf(path, sizeof(path), "/proc/%d/task", pid);
    d = opendir(path);
    if (d == NULL)
        bench_die("cannot read %s: %s", path, strerror(errno));
    while ((e = readdir(d)) != NULL) {
        char stat[320];
        unsigned long long ns = 0;
        FILE *f;

        if (e->d_name[0] == '.')
            continue;
        snprintf(stat, sizeof(stat), "/proc/%d/task/%s/schedstat", pid,
                 e->d_name);
        f = fopen(stat, "r");
        if (f == NULL)
            continue; /* the thread just ended */
        if (fscanf(f, "%llu", &ns) == 1)
            total += ns;
        fclose(f);
    }
    closedir(d);
    return total;
}

uint64_t bench_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, rss = 0;
    if (f == NULL)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &rss) != 2)
        rss = 0;
    fclose(f);
    return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median(double *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The q-quantile of sorted v[0..n), interpolated. */
static double quantile(const double *v, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    double frac = pos - (double)i;
    return i + 1 < n ? v[i] + frac * (v[i + 1] - v[i]) : v[i];
}

double bench_spread(const double *v, size_t n)
{
    if (n < 2)
        return 0;
    double *s = malloc(n * sizeof(*s));
    if (s == NULL)
        return 0;
    memcpy(s, v, n * sizeof(*s));
    qsort(s, n, sizeof(*s), cmp_double);
    double half_iqr = (quantile(s, n, 0.75) - quantile(s, n, 0.25)) / 2;
    free(s);
    return half_iqr;
}

void bench_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

void bench_set_name(const char *name)
{
    g_name = name;
}

/* One line on stderr: the program's name, kind ("" or "error: "), text. */
static void note_line(const char *kind, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: %s", g_name, kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void bench_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    note_line("", fmt, ap);
    va_end(ap);
}

void bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    note_line("error: ", fmt, ap);
    va_end(ap);
    exit(1);
}

static void print_value(double value)
{
    if (value == (double)(long long)value)
        printf("%lld", (long long)value);
    else if (value >= 100)
        printf("%.1f", value);
    else
        printf("%.3f", value);
}

void bench_figure_spread(const char *name, double value, double spread)
{
    printf("%s ", name);
    print_value(value);
    putchar(' ');
    print_value(spread);
    putchar('\n');
    fflush(stdout);
}

void bench_figure(const char *name, double value)
{
    if (value == (double)(long long)value)
        printf("%s %lld\n", name, (long long)value);
    else if (value >= 100)
        printf("%s %.1f\n", name, value);
    else
        printf("%s %.3f\n", name, value);
    fflush(stdout);
}

void bench_figure_n(const char *fmt, size_t n, double value)
{
    char name[96];
    snprintf(name, sizeof(name), fmt, n);
    bench_figure(name, value);
}

int bench_parse_ports(const char *list, int *ports, int max)
{
    int n = 0;
    const char *p = list;
    while (*p != '\0') {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v <= 0 || v > 65535 || n == max ||
            (*end != ',' && *end != '\0'))
            bench_die("bad port list '%s'", list);
        ports[n++] = (int)v;
        p = *end == ',' ? end + 1 : end;
    }
    if (n == 0)
        bench_die("empty port list");
    return n;
}

int bench_int_arg(const bench_int_opt_t *opts, size_t n, int opt,
                  const char *arg)
{
    for (size_t i = 0; i < n; i++) {
        if (opts[i].letter == opt) {
            *opts[i].value = atoi(arg);
            return 1;
        }
    }
    return 0;
}

int bench_replmon_arg(bench_replmon_opts_t *o, int opt, const char *arg)
{
    if (opt == 'p')
        o->nports = bench_parse_ports(arg, o->ports, BENCH_MAX_PORTS);
    else if (opt == 'b')
        o->binary = arg;
    else
        return 0;
    return 1;
}

void bench_spec(pgcm_node_spec_t *spec, const char *id, int port,
                const char *db)
{
    pgcm_node_spec_init(spec);
    spec->id = id;
    spec->host = "127.0.0.1";
    spec->port = port;
    spec->user = "postgres";
    spec->database = db ? db : "postgres";
    spec->ssl.enabled = PGCM_SSL_DISABLED;
}

/* Whether node id is there yet (arg: what the waiter asked for). */
typedef int (*node_ready_fn)(pgcm_manager_t *mgr, const char *id, int arg);

/* Poll every 5 ms until ready holds for every listed node, or timeout_ms
 * passes; returns the number of nodes it does not hold for. */
static size_t wait_nodes(pgcm_manager_t *mgr, char **ids, size_t n,
                         int timeout_ms, node_ready_fn ready, int arg)
{
    uint64_t deadline = bench_now_us() + (uint64_t)timeout_ms * 1000u;
    size_t left = n;
    for (;;) {
        left = 0;
        for (size_t i = 0; i < n; i++)
            left += !ready(mgr, ids[i], arg);
        if (left == 0 || bench_now_us() >= deadline)
            return left;
        bench_sleep_ms(5);
    }
}

static int node_healthy(pgcm_manager_t *mgr, const char *id, int unused)
{
    pgcm_health_t h;
    (void)unused;
    return pgcm_node_health(mgr, id, &h) == PGCM_OK &&
           h.state == PGCM_NODE_HEALTHY;
}

/* At least conns idle connections and nothing else open. */
static int node_idle(pgcm_manager_t *mgr, const char *id, int conns)
{
    pgcm_pool_stats_t s;
    return pgcm_node_stats(mgr, id, &s) == PGCM_OK && s.idle >= conns &&
           s.total == s.idle;
}

size_t bench_wait_healthy(pgcm_manager_t *mgr, char **ids, size_t n,
                          int timeout_ms)
{
    return wait_nodes(mgr, ids, n, timeout_ms, node_healthy, 0);
}

size_t bench_wait_idle(pgcm_manager_t *mgr, char **ids, size_t n, int conns,
                       int timeout_ms)
{
    return wait_nodes(mgr, ids, n, timeout_ms, node_idle, conns);
}

int bench_count_backends(int port, const char *app)
{
    char conninfo[128];
    snprintf(conninfo, sizeof(conninfo),
             "host=127.0.0.1 port=%d user=postgres dbname=postgres "
             "sslmode=disable application_name=bench_count",
             port);
    PGconn *c = PQconnectdb(conninfo);
    int n = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        const char *params[1] = {app};
        PGresult *r = PQexecParams(c,
                                   "SELECT count(*) FROM pg_stat_activity "
                                   "WHERE application_name = $1",
                                   1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            n = atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    PQfinish(c);
    return n;
}

PGconn *bench_bouncer_admin(int port)
{
    char conninfo[160];
    snprintf(conninfo, sizeof(conninfo),
             "host=127.0.0.1 port=%d user=postgres dbname=pgbouncer "
             "sslmode=disable",
             port);
    return PQconnectdb(conninfo);
}

int bench_bouncer_clients(int port, const char *app)
{
    PGconn *c = bench_bouncer_admin(port);
    int n = -1;
    PGresult *r =
        PQstatus(c) == CONNECTION_OK ? PQexec(c, "SHOW CLIENTS") : NULL;
    int fa = r ? PQfnumber(r, "application_name") : -1;
    if (r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK && fa >= 0) {
        n = 0;
        for (int i = 0; i < PQntuples(r); i++)
            n += strcmp(PQgetvalue(r, i, fa), app) == 0;
    }
    PQclear(r);
    PQfinish(c);
    return n;
}

int bench_bouncer_wait_gone(int port, const char *app, int timeout_ms,
                            double *waited_s)
{
    uint64_t t0 = bench_now_us();
    int left = bench_bouncer_clients(port, app);
    while (left != 0 && bench_now_us() - t0 < (uint64_t)timeout_ms * 1000u) {
        bench_sleep_ms(100);
        left = bench_bouncer_clients(port, app);
    }
    *waited_s = (double)(bench_now_us() - t0) / 1e6;
    return left;
}
