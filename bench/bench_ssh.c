/* SPDX-License-Identifier: MIT */
/*
 * bench_ssh.c - issue 13: what an SSH tunnel (src/pgcm/tunnel.h) costs
 * against the same PostgreSQL server reached directly, and how fast a
 * node behind a cut bastion turns unhealthy.
 *
 *   bench_ssh [-r ROUNDS] [-t SECONDS]
 *   bench_ssh -p WHAT:COUNT
 *
 * -p is for profilers (perf, valgrind --tool=callgrind, strace -c -f): it
 * prints no figure, only sets things up as below and runs COUNT `SELECT 1`
 * one after the other. WHAT: "ssh", "direct" or "relay" (pgcm_query
 * through a manager with those three nodes, see below), "tunnel" (plain
 * libpq through the tunnel loop), "plain" (plain libpq, direct); or with
 * 64 in flight through pgcm_query_async: "pipe" (on "ssh"), "pipe-direct",
 * "pipe-relay". It notes the time, and the CPU time and wake-ups of this
 * process, sshd and the server, per query; or run it with two counts and
 * subtract.
 *
 * Starts one server of its own (localpg), one OpenSSH sshd on 127.0.0.1
 * (tests/tools/sshd.h) and the fault proxy (tests/tools/faultproxy.h).
 *
 * Through a manager (default options), nodes "direct" and "ssh" on the
 * same server, "ssh" with ssh.host set:
 *   ssh_select1_latency_ratio  median pgcm_query `SELECT 1` on "ssh" /
 *                              on "direct" (blocks of 200 alternating,
 *                              2000 each; ssh_select1_us, direct_select1_us
 *                              are the two medians)
 *   ssh_select1_vs_direct      `SELECT 1` per second with 64 requests in
 *                              flight through pgcm_query_async (pool max
 *                              10) on "ssh" / on "direct", SECONDS (default
 *                              4) each after 1 s of warm-up, back to back;
 *                              median of ROUNDS per-round ratios
 *   relay_select1_latency_ratio, relay_select1_vs_direct
 *                              the same two for a node "relay" reached
 *                              through a plain TCP relay (a second fault
 *                              proxy, passing; no SSH): the floor of any
 *                              hop in the path, a bastion's included (the
 *                              rounds measure the three nodes back to back;
 *                              each throughput round notes the CPU time per
 *                              query of the manager, sshd and the server)
 *   detect_ssh_cut_ms          a third node "cut" whose bastion is reached
 *                              through the fault proxy: after a random
 *                              0-700 ms idle the proxy blackholes, time to
 *                              the health_changed event to unhealthy;
 *                              median of ROUNDS (default 5), the worst as
 *                              detect_ssh_cut_max_ms
 *
 * For context, the tunnel alone under plain libpq (a registry on a loop
 * thread of this program, tests/tools/tunnelloop.h; one poll() thread, 8
 * connections in pipeline mode with 8 queries each) and OpenSSH's own
 * client (`ssh -N -L`) to the same sshd and server:
 * tunnel_select1_latency_ratio, tunnel_select1_vs_direct,
 * openssh_select1_latency_ratio, openssh_select1_vs_direct.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common.h"
#include "faultproxy.h"
#include "localpg.h"
#include "sshd.h"
#include "tunnelloop.h"

#define APP_NAME "bench_ssh"
#define NCONN    8
#define DEPTH    8

static PGconn *connect_port(int port)
{
    char ci[256];
    snprintf(ci, sizeof ci,
             "host=127.0.0.1 port=%d user=postgres dbname=postgres "
             "application_name=" APP_NAME,
             port);
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK)
        bench_die("connect to port %d: %s", port, PQerrorMessage(c));
    return c;
}

static uint64_t select1_us(PGconn *c)
{
    uint64_t t0 = bench_now_us();
    PGresult *r = PQexec(c, "SELECT 1");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        bench_die("SELECT 1: %s", PQerrorMessage(c));
    PQclear(r);
    return bench_now_us() - t0;
}

/* Medians of n round trips each, alternating blocks of 200. */
static void latency(int tunnel_port, int direct_port, double *tun_us,
                    double *dir_us)
{
    enum { N = 2000, BLOCK = 200 };
    static double t[N], d[N];
    PGconn *ct = connect_port(tunnel_port), *cd = connect_port(direct_port);
    for (int i = 0; i < 200; i++) { /* warm up both */
        select1_us(ct);
        select1_us(cd);
    }
    for (int i = 0; i < N; i += BLOCK) {
        for (int k = 0; k < BLOCK; k++)
            t[i + k] = (double)select1_us(ct);
        for (int k = 0; k < BLOCK; k++)
            d[i + k] = (double)select1_us(cd);
    }
    *tun_us = bench_median(t, N);
    *dir_us = bench_median(d, N);
    PQfinish(ct);
    PQfinish(cd);
}

/* SELECT 1 per second with NCONN x DEPTH in flight for secs seconds. */
static double throughput(int port, int secs)
{
    PGconn *c[NCONN];
    int inflight[NCONN];
    for (int i = 0; i < NCONN; i++) {
        c[i] = connect_port(port);
        if (!PQenterPipelineMode(c[i]) || PQsetnonblocking(c[i], 1) != 0)
            bench_die("pipeline mode: %s", PQerrorMessage(c[i]));
        inflight[i] = 0;
    }
    uint64_t done = 0, counted = 0;
    uint64_t start = bench_now_us();
    uint64_t warm_end = start + 1000000;
    uint64_t end = warm_end + (uint64_t)secs * 1000000;
    int stopping = 0;
    for (;;) {
        uint64_t now = bench_now_us();
        if (now >= end)
            stopping = 1;
        int busy = 0;
        struct pollfd p[NCONN];
        for (int i = 0; i < NCONN; i++) {
            while (!stopping && inflight[i] < DEPTH) {
                if (!PQsendQueryParams(c[i], "SELECT 1", 0, NULL, NULL, NULL,
                                       NULL, 0) ||
                    !PQpipelineSync(c[i]))
                    bench_die("send: %s", PQerrorMessage(c[i]));
                inflight[i]++;
            }
            int pending = PQflush(c[i]);
            if (pending < 0)
                bench_die("flush: %s", PQerrorMessage(c[i]));
            busy += inflight[i];
            p[i].fd = PQsocket(c[i]);
            p[i].events = POLLIN | (pending ? POLLOUT : 0);
            p[i].revents = 0;
        }
        if (stopping && busy == 0)
            break;
        if (poll(p, NCONN, 1000) < 0)
            continue;
        for (int i = 0; i < NCONN; i++) {
            if (!(p[i].revents & (POLLIN | POLLERR | POLLHUP)))
                continue;
            if (!PQconsumeInput(c[i]))
                bench_die("read: %s", PQerrorMessage(c[i]));
            while (!PQisBusy(c[i])) {
                PGresult *r = PQgetResult(c[i]);
                if (r == NULL)
                    continue; /* the end of one query's results */
                ExecStatusType st = PQresultStatus(r);
                PQclear(r);
                if (st == PGRES_PIPELINE_SYNC) {
                    inflight[i]--;
                    done++;
                    uint64_t t = bench_now_us();
                    if (t >= warm_end && t < end)
                        counted++;
                    if (inflight[i] == 0)
                        break;
                } else if (st != PGRES_TUPLES_OK) {
                    bench_die("SELECT 1 failed: %s", PQerrorMessage(c[i]));
                }
            }
        }
    }
    for (int i = 0; i < NCONN; i++)
        PQfinish(c[i]);
    (void)done;
    return (double)counted / secs;
}

/* Median over rounds of (rate through port) / (rate direct), each pair
 * measured back to back, alternating which goes first. */
static double throughput_ratio(int port, int direct_port, int rounds, int secs,
                               const char *what)
{
    double ratio[64];
    int n = rounds < 64 ? rounds : 64;
    for (int r = 0; r < n; r++) {
        double d, t;
        if (r % 2 == 0) {
            d = throughput(direct_port, secs);
            t = throughput(port, secs);
        } else {
            t = throughput(port, secs);
            d = throughput(direct_port, secs);
        }
        ratio[r] = t / d;
        bench_note("round %d: direct %.0f/s, %s %.0f/s", r + 1, d, what, t);
    }
    return bench_median(ratio, (size_t)n);
}

/* NAME_select1_latency_ratio and NAME_select1_vs_direct through port. */
static void context_figures(const char *name, int port, int direct_port,
                            int rounds, int secs)
{
    char fig[64];
    double via_us, dir_us;
    latency(port, direct_port, &via_us, &dir_us);
    snprintf(fig, sizeof fig, "%s_select1_latency_ratio", name);
    bench_figure(fig, via_us / dir_us);
    snprintf(fig, sizeof fig, "%s_select1_vs_direct", name);
    bench_figure(fig, throughput_ratio(port, direct_port, rounds, secs, name));
}

static int accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* OpenSSH's client forwarding lport to the server: `ssh -N -L`. */
static pid_t start_openssh(int sshd_port, const char *key, const char *kh,
                           int lport, int pg_port)
{
    char fwd[64], port[16], khopt[700], keyopt[700];
    snprintf(fwd, sizeof fwd, "%d:127.0.0.1:%d", lport, pg_port);
    snprintf(port, sizeof port, "%d", sshd_port);
    snprintf(khopt, sizeof khopt, "UserKnownHostsFile=%s", kh);
    snprintf(keyopt, sizeof keyopt, "%s", key);
    pid_t pid = fork();
    if (pid < 0)
        bench_die("fork: %m");
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        execlp("ssh", "ssh", "-N", "-o", "BatchMode=yes", "-o",
               "ExitOnForwardFailure=yes", "-o", "StrictHostKeyChecking=yes",
               "-o", khopt, "-i", keyopt, "-p", port, "-L", fwd,
               "root@127.0.0.1", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500 && !accepts(lport); i++)
        bench_sleep_ms(20);
    if (!accepts(lport))
        bench_die("ssh -L did not start listening on %d", lport);
    return pid;
}

/* CPU time and times scheduled in (schedstat) of every thread of pid. */
typedef struct sched_use {
    uint64_t cpu_ns, slices;
} sched_use_t;

static void sched_add(int pid, sched_use_t *u)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return; /* it just ended */
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char stat[320];
        unsigned long long ns = 0, wait = 0, slices = 0;
        snprintf(stat, sizeof stat, "/proc/%d/task/%s/schedstat", pid,
                 e->d_name);
        FILE *f = fopen(stat, "r");
        if (f == NULL)
            continue;
        if (fscanf(f, "%llu %llu %llu", &ns, &wait, &slices) == 3) {
            u->cpu_ns += ns;
            u->slices += slices;
        }
        fclose(f);
    }
    closedir(d);
}

static int parent_of(int pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')'); /* the name may hold anything */
    int ppid = -1;
    if (rp == NULL || sscanf(rp + 1, " %*c %d", &ppid) != 1)
        return -1;
    return ppid;
}

/* The same for root and every process below it (sshd's session
 * processes). */
static sched_use_t sched_tree(int root)
{
    sched_use_t u = {0, 0};
    DIR *d = opendir("/proc");
    if (d == NULL)
        return u;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int pid = atoi(e->d_name);
        if (pid <= 0)
            continue;
        int p = pid;
        for (int depth = 0; p > 1 && p != root && depth < 64; depth++)
            p = parent_of(p);
        if (p == root)
            sched_add(pid, &u);
    }
    closedir(d);
    return u;
}

static int g_sshd_pid, g_pg_pid; /* for the CPU notes */

/* Microseconds per query from b to e; 0 when a process of the tree ended
 * in between and took its time with it. */
static double us_per(uint64_t b, uint64_t e, double queries)
{
    return e >= b ? (double)(e - b) / 1000.0 / queries : 0;
}

/* ---- through a manager ------------------------------------------------ */

typedef struct flow {
    pgcm_manager_t *mgr;
    const char *node;
    atomic_uint_fast64_t done;
    atomic_int stop;
    atomic_int in_flight;
} flow_t;

static void flow_submit(flow_t *f);

static void flow_result(pgcm_result_t *r, void *user)
{
    flow_t *f = user;
    if (pgcm_result_status(r) == PGCM_OK)
        atomic_fetch_add_explicit(&f->done, 1, memory_order_relaxed);
    pgcm_result_free(r);
    if (atomic_load(&f->stop))
        atomic_fetch_sub(&f->in_flight, 1);
    else
        flow_submit(f);
}

static void flow_submit(flow_t *f)
{
    if (pgcm_query_async(f->mgr, f->node, "SELECT 1", 0, NULL, NULL,
                         flow_result, f, NULL, NULL) != PGCM_OK)
        atomic_fetch_sub(&f->in_flight, 1);
}

/* SELECT 1 per second on node with 64 requests always in flight; notes
 * the CPU time per query of this process (the manager), sshd and the
 * server meanwhile. */
static double mgr_throughput(pgcm_manager_t *mgr, const char *node, int secs)
{
    flow_t f = {.mgr = mgr, .node = node};
    atomic_init(&f.done, 0);
    atomic_init(&f.stop, 0);
    atomic_init(&f.in_flight, 64);
    for (int i = 0; i < 64; i++)
        flow_submit(&f);
    bench_sleep_ms(1000);
    uint64_t d0 = atomic_load(&f.done);
    sched_use_t self0 = {0, 0}, self1 = {0, 0};
    sched_add(getpid(), &self0);
    sched_use_t sshd0 = sched_tree(g_sshd_pid), pg0 = sched_tree(g_pg_pid);
    bench_sleep_ms(secs * 1000);
    uint64_t d1 = atomic_load(&f.done);
    sched_add(getpid(), &self1);
    sched_use_t sshd1 = sched_tree(g_sshd_pid), pg1 = sched_tree(g_pg_pid);
    double q = d1 > d0 ? (double)(d1 - d0) : 1;
    bench_note("  %s: CPU per query: manager %.1f us, sshd %.1f us, server "
               "%.1f us",
               node, us_per(self0.cpu_ns, self1.cpu_ns, q),
               us_per(sshd0.cpu_ns, sshd1.cpu_ns, q),
               us_per(pg0.cpu_ns, pg1.cpu_ns, q));
    atomic_store(&f.stop, 1);
    while (atomic_load(&f.in_flight) > 0)
        bench_sleep_ms(5);
    return (double)(d1 - d0) / secs;
}

static uint64_t mgr_select1_us(pgcm_manager_t *mgr, const char *node)
{
    uint64_t t0 = bench_now_us();
    pgcm_result_t *r = NULL;
    pgcm_error_t err;
    if (pgcm_query(mgr, node, "SELECT 1", 0, NULL, NULL, &r, &err) != PGCM_OK)
        bench_die("SELECT 1 on %s: %s", node, err.message);
    pgcm_result_free(r);
    return bench_now_us() - t0;
}

static _Atomic uint64_t g_unhealthy_us;

static void on_event(const pgcm_event_t *ev, void *user)
{
    (void)user;
    if (ev->type == PGCM_EV_HEALTH_CHANGED && ev->node_id != NULL &&
        strcmp(ev->node_id, "cut") == 0 && ev->new_state == PGCM_NODE_UNHEALTHY)
        atomic_store(&g_unhealthy_us, bench_now_us());
}

static void wait_healthy_or_die(pgcm_manager_t *mgr, const char *node)
{
    char *ids[1] = {(char *)node};
    if (bench_wait_healthy(mgr, ids, 1, 30000) != 0) {
        pgcm_health_t h;
        if (pgcm_node_health(mgr, node, &h) != PGCM_OK)
            bench_die("node %s not found", node);
        bench_die("node %s not healthy: %s", node, h.last_error);
    }
}

/* The manager figures (see the top of the file). */
static void manager_figures(int pg_port, const pgcm_ssh_options_t *ssh,
                            int proxy_port, faultproxy_t *proxy, int relay_port,
                            int rounds, int secs)
{
    pgcm_node_spec_t spec[4];
    bench_spec(&spec[0], "direct", pg_port, NULL);
    bench_spec(&spec[1], "ssh", pg_port, NULL);
    spec[1].ssh = *ssh;
    bench_spec(&spec[2], "cut", pg_port, NULL);
    spec[2].ssh = *ssh;
    spec[2].ssh.port = proxy_port;
    bench_spec(&spec[3], "relay", relay_port, NULL);
    for (int i = 0; i < 4; i++)
        spec[i].application_name = APP_NAME;
    pgcm_manager_t *mgr = NULL;
    pgcm_error_t err;
    uint64_t sub;
    if (pgcm_manager_new(NULL, &mgr, &err) != PGCM_OK ||
        pgcm_subscribe(mgr, on_event, NULL, &sub) != PGCM_OK ||
        pgcm_manager_start(mgr, spec, 4, 10000, &err) != PGCM_OK)
        bench_die("manager: %s", err.message);
    for (int i = 0; i < 4; i++)
        wait_healthy_or_die(mgr, spec[i].id);

    enum { N = 2000, BLOCK = 200 };
    static double t[N], d[N], y[N];
    for (int i = 0; i < 200; i++) {
        mgr_select1_us(mgr, "ssh");
        mgr_select1_us(mgr, "direct");
        mgr_select1_us(mgr, "relay");
    }
    for (int i = 0; i < N; i += BLOCK) {
        for (int k = 0; k < BLOCK; k++)
            t[i + k] = (double)mgr_select1_us(mgr, "ssh");
        for (int k = 0; k < BLOCK; k++)
            d[i + k] = (double)mgr_select1_us(mgr, "direct");
        for (int k = 0; k < BLOCK; k++)
            y[i + k] = (double)mgr_select1_us(mgr, "relay");
    }
    double tun_us = bench_median(t, N), dir_us = bench_median(d, N);
    double relay_us = bench_median(y, N);
    bench_figure("ssh_select1_latency_ratio", tun_us / dir_us);
    bench_figure("ssh_select1_us", tun_us);
    bench_figure("direct_select1_us", dir_us);
    bench_figure("relay_select1_latency_ratio", relay_us / dir_us);

    double ratio[64], relay_ratio[64];
    int n = rounds < 64 ? rounds : 64;
    for (int r = 0; r < n; r++) {
        double dr, tr, yr;
        if (r % 2 == 0) {
            dr = mgr_throughput(mgr, "direct", secs);
            tr = mgr_throughput(mgr, "ssh", secs);
            yr = mgr_throughput(mgr, "relay", secs);
        } else {
            yr = mgr_throughput(mgr, "relay", secs);
            tr = mgr_throughput(mgr, "ssh", secs);
            dr = mgr_throughput(mgr, "direct", secs);
        }
        ratio[r] = tr / dr;
        relay_ratio[r] = yr / dr;
        bench_note("round %d: direct %.0f/s, ssh node %.0f/s, relay %.0f/s",
                   r + 1, dr, tr, yr);
    }
    bench_figure("ssh_select1_vs_direct", bench_median(ratio, (size_t)n));
    bench_figure("relay_select1_vs_direct",
                 bench_median(relay_ratio, (size_t)n));

    double det[64], worst = 0;
    srand((unsigned)getpid());
    for (int r = 0; r < n; r++) {
        wait_healthy_or_die(mgr, "cut");
        bench_sleep_ms(300 + rand() % 700);
        atomic_store(&g_unhealthy_us, 0);
        uint64_t t0 = bench_now_us();
        faultproxy_blackhole(proxy);
        while (atomic_load(&g_unhealthy_us) == 0 &&
               bench_now_us() - t0 < 10000000)
            bench_sleep_ms(2);
        uint64_t at = atomic_load(&g_unhealthy_us);
        if (at == 0)
            bench_die("node cut: not unhealthy within 10 s of the cut");
        det[r] = (double)(at - t0) / 1000.0;
        if (det[r] > worst)
            worst = det[r];
        bench_note("cut %d: unhealthy after %.0f ms", r + 1, det[r]);
        faultproxy_pass(proxy); /* the node comes back by itself */
    }
    bench_figure("detect_ssh_cut_ms", bench_median(det, (size_t)n));
    bench_figure("detect_ssh_cut_max_ms", worst);
    pgcm_manager_free(mgr);
}

typedef struct profile_mark {
    uint64_t t0;
    sched_use_t self, sshd, pg;
} profile_mark_t;

static profile_mark_t profile_start(void)
{
    profile_mark_t m = {.t0 = bench_now_us()};
    sched_add(getpid(), &m.self);
    m.sshd = sched_tree(g_sshd_pid);
    m.pg = sched_tree(g_pg_pid);
    return m;
}

/* Per query since m: wall time, and CPU time and wake-ups (times
 * scheduled in) of this process's threads, of sshd's processes and of the
 * server's. */
static void profile_note(const char *what, int count, const profile_mark_t *m)
{
    profile_mark_t e = profile_start();
    double n = count;
    bench_note("%s: %d queries, per query: %.1f us; this process %.1f us "
               "CPU, %.2f wake-ups; sshd %.1f us, %.2f; server %.1f us, %.2f",
               what, count, (double)(e.t0 - m->t0) / n,
               us_per(m->self.cpu_ns, e.self.cpu_ns, n),
               (double)(e.self.slices - m->self.slices) / n,
               us_per(m->sshd.cpu_ns, e.sshd.cpu_ns, n),
               (double)(e.sshd.slices - m->sshd.slices) / n,
               us_per(m->pg.cpu_ns, e.pg.cpu_ns, n),
               1000.0 * us_per(m->pg.slices, e.pg.slices, n));
}

/* -p WHAT:COUNT (see the top of the file). */
static void profile_run(const char *what, int count, int pg_port,
                        int relay_port, int tport,
                        const pgcm_ssh_options_t *ssh)
{
    profile_mark_t m;
    if (strcmp(what, "tunnel") == 0 || strcmp(what, "plain") == 0) {
        PGconn *c = connect_port(what[0] == 't' ? tport : pg_port);
        m = profile_start();
        for (int i = 0; i < count; i++)
            select1_us(c);
        profile_note(what, count, &m);
        PQfinish(c);
        return;
    }
    pgcm_node_spec_t spec[3];
    bench_spec(&spec[0], "direct", pg_port, NULL);
    bench_spec(&spec[1], "ssh", pg_port, NULL);
    spec[1].ssh = *ssh;
    bench_spec(&spec[2], "relay", relay_port, NULL);
    pgcm_manager_t *mgr = NULL;
    pgcm_error_t err;
    if (pgcm_manager_new(NULL, &mgr, &err) != PGCM_OK ||
        pgcm_manager_start(mgr, spec, 3, 10000, &err) != PGCM_OK)
        bench_die("manager: %s", err.message);
    for (int i = 0; i < 3; i++)
        wait_healthy_or_die(mgr, spec[i].id);
    m = profile_start();
    if (strncmp(what, "pipe", 4) == 0) {
        flow_t f = {.mgr = mgr, .node = what[4] == '-' ? what + 5 : "ssh"};
        atomic_init(&f.done, 0);
        atomic_init(&f.stop, 0);
        atomic_init(&f.in_flight, 64);
        for (int i = 0; i < 64; i++)
            flow_submit(&f);
        while (atomic_load(&f.done) < (uint64_t)count)
            bench_sleep_ms(1);
        atomic_store(&f.stop, 1);
        while (atomic_load(&f.in_flight) > 0)
            bench_sleep_ms(1);
    } else if (strcmp(what, "ssh") == 0 || strcmp(what, "direct") == 0 ||
               strcmp(what, "relay") == 0) {
        for (int i = 0; i < count; i++)
            mgr_select1_us(mgr, what);
    } else {
        bench_die("-p %s: WHAT is ssh, direct, relay, tunnel, plain, pipe, "
                  "pipe-direct or pipe-relay",
                  what);
    }
    profile_note(what, count, &m);
    pgcm_manager_free(mgr);
}

static void usage(void)
{
    bench_die("usage: bench_ssh [-r ROUNDS] [-t SECONDS] | -p WHAT:COUNT");
}

int main(int argc, char **argv)
{
    int rounds = 5, secs = 4, opt, profile_count = 0;
    char profile_what[16] = "";
    bench_set_name("bench_ssh");
    while ((opt = getopt(argc, argv, "r:t:p:")) != -1) {
        if (opt == 'r')
            rounds = atoi(optarg);
        else if (opt == 't')
            secs = atoi(optarg);
        else if (opt == 'p') {
            const char *colon = strchr(optarg, ':');
            if (colon == NULL || colon - optarg >= (long)sizeof profile_what ||
                (profile_count = atoi(colon + 1)) < 1)
                usage();
            memcpy(profile_what, optarg, (size_t)(colon - optarg));
            profile_what[colon - optarg] = '\0';
        } else
            usage();
    }
    if (rounds < 1 || secs < 1)
        usage();

    char err[1024];
    localpg_options_t lo;
    localpg_options_init(&lo);
    lo.name = "bench_ssh";
    localpg_server_t *pg = localpg_start(&lo, err, sizeof err);
    if (pg == NULL)
        bench_die("%s", err);
    char key[600], kh[600];
    sshd_t *sshd =
        sshd_start_ready(NULL, key, sizeof key, kh, sizeof kh, err, sizeof err);
    if (sshd == NULL)
        bench_die("%s", err);
    faultproxy_t *proxy = NULL;
    int pport =
        faultproxy_start("127.0.0.1", sshd_port(sshd), &proxy, err, sizeof err);
    if (pport < 0)
        bench_die("%s", err);
    if (sshd_add_known_host(sshd, kh, pport) < 0)
        bench_die("cannot write %s", kh);

    tunnelloop_t *tl = tunnelloop_start(NULL);
    if (tl == NULL)
        bench_die("cannot start the tunnel loop");
    pgcm_ssh_options_t o;
    memset(&o, 0, sizeof o);
    o.host = "127.0.0.1";
    o.port = sshd_port(sshd);
    o.user = "root";
    o.key_path = key;
    o.known_hosts = kh;
    pgcm__tunnel_t *t = NULL;
    pgcm_error_t perr;
    if (tunnelloop_open(tl, &o, "127.0.0.1", localpg_port(pg), &t, &perr) !=
        PGCM_OK)
        bench_die("%s", perr.message);
    int since = 0;
    tunnelloop_event_t ev;
    if (tunnelloop_wait_event(tl, t, PGCM__TUNNEL_UP, &since, 15000, &ev) < 0)
        bench_die("the tunnel did not come up: %s", ev.msg);
    int tport = tunnelloop_local_port(tl, t);

    /* The floor of any hop: a plain TCP relay (the fault proxy passing)
     * between the manager and the server, no SSH. */
    faultproxy_t *relay = NULL;
    int relay_port = faultproxy_start("127.0.0.1", localpg_port(pg), &relay,
                                      err, sizeof err);
    if (relay_port < 0)
        bench_die("%s", err);
    g_sshd_pid = sshd_pid(sshd);
    g_pg_pid = localpg_pid(pg);
    if (profile_count > 0) {
        profile_run(profile_what, profile_count, localpg_port(pg), relay_port,
                    tport, &o);
        tunnelloop_stop(tl);
        faultproxy_stop(relay);
        faultproxy_stop(proxy);
        sshd_stop(sshd);
        localpg_destroy(pg);
        return 0;
    }
    manager_figures(localpg_port(pg), &o, pport, proxy, relay_port, rounds,
                    secs);
    faultproxy_stop(relay);

    context_figures("tunnel", tport, localpg_port(pg), rounds, secs);

    /* The same through OpenSSH's client, for context. */
    int lport = sshd_free_port();
    if (lport < 0)
        bench_die("cannot pick a free port");
    pid_t ossh =
        start_openssh(sshd_port(sshd), key, kh, lport, localpg_port(pg));
    context_figures("openssh", lport, localpg_port(pg), rounds, secs);
    kill(ossh, SIGTERM);
    waitpid(ossh, NULL, 0);

    if (tunnelloop_stop(tl) != 0)
        bench_note("the loop had handles left");
    faultproxy_stop(proxy);
    sshd_stop(sshd);
    localpg_destroy(pg);
    return 0;
}
