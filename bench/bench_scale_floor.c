/* SPDX-License-Identifier: MIT */
/*
 * bench_scale_floor.c - the floor beside bench_scale: a bare libpq client
 * doing libpgcm's job for N nodes behind the same PgBouncer, and what that
 * PgBouncer can serve at all.
 *
 *   bench_scale_floor -p PGBOUNCER_PORT [-d DATABASES] [-n NODES]
 *                     [-t SECONDS] [-b PGBOUNCER_PID]
 *
 * bench/run runs it right after bench_scale with the same PgBouncer,
 * aliases, NODES and SECONDS, so the library's manager is gone (its
 * process has exited) and the two do not compete. No libpgcm at work: one
 * thread, non-blocking libpq, one epoll loop, no pool; only pgcm_options_init
 * is read, for the library's heartbeat interval and deadline. Connection i goes
 * to alias db(i % DATABASES) with bench_spec's conninfo (127.0.0.1, user
 * postgres, TLS off), application_name bench_scale_libpq.
 *
 * First it waits (up to 10 s) until bench_scale's own clients have left
 * PgBouncer, and says how many did not. Then (N is NODES):
 *
 *   scale_N_bouncer_select1_per_s
 *                           PgBouncer's capacity: 200 connections of
 *                           its own over the aliases, 64 `SELECT 1` kept
 *                           in flight (each answer sends the next on the
 *                           connection idle longest), answers per second
 *                           over 3 s after 0.5 s of warm-up. A note puts it
 *                           beside the rate N nodes need.
 *   libpq_scale_N_ready_ms  N connections, at most 128 handshakes at once
 *                           (the library's limit), a `SELECT 1` on each as
 *                           soon as it is up: time until the last answer.
 *   libpq_scale_N_bytes_per_conn
 *                           (RSS with the N idle connections - RSS before
 *                           them, after malloc_trim) / N: libpq's memory
 *                           per connection, most of it PGconn and its
 *                           input and output buffers.
 *   libpq_scale_N_probe_cpu_pct, libpq_scale_N_cpu_us_per_probe
 *                           the heartbeat: a `SELECT 1` on every
 *                           connection liveness_interval_ms (500) after
 *                           its last answer, the first ones spread evenly
 *                           over one interval, one in flight per
 *                           connection; an answer later than
 *                           liveness_timeout_ms (400) is late, still
 *                           consumed. (The library's heartbeat is an empty
 *                           query, its full probe a `SELECT 1`: through
 *                           PgBouncer each is a round trip to a server.)
 *                           This process's CPU (getrusage) over
 *                           SECONDS after 1 s of settling, as percent of
 *                           one core, and per round trip answered.
 *   libpq_scale_N_shutdown_ms
 *                           PQfinish of the N connections, as they are at
 *                           the end of the window (heartbeats in flight,
 *                           as the library's are at its shutdown).
 *   libpq_scale_N_leftover_conns
 *                           our clients still listed by PgBouncer (SHOW
 *                           CLIENTS) after it, polled for up to 5 s.
 *
 * Notes on stderr: round trips per node per second achieved against
 * those asked, and how many were late; in the capacity run and in the
 * heartbeat window, how busy the machine's cores were (/proc/stat) and,
 * with -b, PgBouncer's CPU (/proc/PID/task/ * /schedstat) as percent of
 * one core (PgBouncer runs on one thread).
 */
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/epoll.h>
#include <sys/resource.h>

#include <libpq-fe.h>

#include "common.h"

#define APP_NAME        "bench_scale_libpq"
#define LIBRARY_APP     "bench_scale" /* bench_scale's clients */
#define SQL             "SELECT 1"
#define MAX_HANDSHAKES  128 /* at once, as the library */
#define BOUNCER_CONNS   200
#define BOUNCER_FLIGHT  64
#define BOUNCER_WARM_MS 500
#define BOUNCER_SECS    3

typedef struct floor_conn {
    PGconn *pg;
    int fd;           /* the socket registered with epoll, or -1 */
    uint32_t events;  /* the events it is registered for */
    bool connecting;  /* handshake not finished */
    bool busy;        /* a query in flight */
    uint64_t sent_us; /* when it was sent */
} floor_conn_t;

typedef struct floor floor_t;
/* Called when connection i's query has been answered (its results read
 * to the end), at now_us. */
typedef void (*answer_fn)(floor_t *f, size_t i, uint64_t now_us);

struct floor {
    int ep;
    int port, ndbs;
    floor_conn_t *c;
    size_t n;
    size_t started, connecting; /* handshakes begun, and still going */
    answer_fn on_answer;
    void *ctx;
};

/* (Re-)register connection i's current socket for events: libpq may
 * replace the socket during the handshake. */
static void watch(floor_t *f, size_t i, uint32_t events)
{
    floor_conn_t *c = &f->c[i];
    int fd = PQsocket(c->pg);
    struct epoll_event ev = {.events = events, .data.u64 = i};
    if (fd < 0)
        bench_die("connection %zu has no socket: %s", i, PQerrorMessage(c->pg));
    if (fd == c->fd && epoll_ctl(f->ep, EPOLL_CTL_MOD, fd, &ev) == 0) {
        c->events = events;
        return;
    }
    if (c->fd >= 0 && c->fd != fd)
        epoll_ctl(f->ep, EPOLL_CTL_DEL, c->fd, NULL); /* may be closed */
    if (epoll_ctl(f->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        bench_die("epoll_ctl: %s", strerror(errno));
    c->fd = fd;
    c->events = events;
}

static void send_query(floor_t *f, size_t i, uint64_t now_us)
{
    floor_conn_t *c = &f->c[i];
    if (!PQsendQuery(c->pg, SQL))
        bench_die("libpq (connection %zu): %s", i, PQerrorMessage(c->pg));
    c->busy = true;
    c->sent_us = now_us;
    int r = PQflush(c->pg);
    if (r < 0)
        bench_die("libpq (connection %zu): %s", i, PQerrorMessage(c->pg));
    uint32_t want = r == 1 ? EPOLLIN | EPOLLOUT : EPOLLIN;
    if (want != c->events)
        watch(f, i, want);
}

static void start_handshake(floor_t *f, size_t i)
{
    char ci[192];
    snprintf(ci, sizeof(ci),
             "host=127.0.0.1 port=%d user=postgres dbname=db%zu "
             "sslmode=disable application_name=" APP_NAME,
             f->port, i % (size_t)f->ndbs);
    floor_conn_t *c = &f->c[i];
    c->pg = PQconnectStart(ci);
    if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD)
        bench_die("cannot start a connection through PgBouncer: %s",
                  c->pg ? PQerrorMessage(c->pg) : "out of memory");
    c->connecting = true;
    f->started++;
    f->connecting++;
    /* before the first PQconnectPoll, wait as if it said WRITING */
    watch(f, i, EPOLLOUT);
}

static void on_handshake(floor_t *f, size_t i, uint64_t now_us)
{
    floor_conn_t *c = &f->c[i];
    switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_READING:
        watch(f, i, EPOLLIN);
        break;
    case PGRES_POLLING_WRITING:
        watch(f, i, EPOLLOUT);
        break;
    case PGRES_POLLING_OK:
        c->connecting = false;
        f->connecting--;
        if (PQsetnonblocking(c->pg, 1) != 0)
            bench_die("PQsetnonblocking: %s", PQerrorMessage(c->pg));
        send_query(f, i, now_us);
        break;
    default:
        bench_die("cannot connect through PgBouncer to db%zu: %s",
                  i % (size_t)f->ndbs, PQerrorMessage(c->pg));
    }
}

static void on_io(floor_t *f, size_t i, uint32_t events, uint64_t now_us)
{
    floor_conn_t *c = &f->c[i];
    if (c->connecting) {
        on_handshake(f, i, now_us);
        return;
    }
    if (events & EPOLLOUT) {
        int r = PQflush(c->pg);
        if (r < 0)
            bench_die("libpq (connection %zu): %s", i, PQerrorMessage(c->pg));
        if (r == 0)
            watch(f, i, EPOLLIN);
    }
    if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        return;
    if (!PQconsumeInput(c->pg))
        bench_die("libpq (connection %zu to db%zu): %s", i, i % (size_t)f->ndbs,
                  PQerrorMessage(c->pg));
    while (c->busy && !PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (r == NULL) {
            c->busy = false;
            f->on_answer(f, i, now_us);
            break;
        }
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            bench_die("SELECT 1 on connection %zu failed: %s", i,
                      PQresultErrorMessage(r));
        PQclear(r);
    }
}

/* Wait up to timeout_ms for events and handle them; returns the time
 * after the wait. */
static uint64_t floor_poll(floor_t *f, int timeout_ms)
{
    struct epoll_event ev[512];
    int k = epoll_wait(f->ep, ev, 512, timeout_ms);
    if (k < 0 && errno != EINTR)
        bench_die("epoll_wait: %s", strerror(errno));
    uint64_t now = bench_now_us();
    for (int j = 0; j < k; j++)
        on_io(f, (size_t)ev[j].data.u64, ev[j].events, now);
    return now;
}

/* Bookkeeping for n connections (every page touched, so that the memory
 * figure counts libpq's alone). */
static void floor_init(floor_t *f, int port, int ndbs, size_t n)
{
    memset(f, 0, sizeof(*f));
    f->ep = epoll_create1(EPOLL_CLOEXEC);
    if (f->ep < 0)
        bench_die("epoll_create1: %s", strerror(errno));
    f->port = port;
    f->ndbs = ndbs;
    f->n = n;
    f->c = malloc(n * sizeof(*f->c));
    if (f->c == NULL)
        bench_die("out of memory");
    for (size_t i = 0; i < n; i++)
        f->c[i] = (floor_conn_t){.fd = -1};
}

static void count_answer(floor_t *f, size_t i, uint64_t now_us)
{
    (void)i;
    (void)now_us;
    (*(size_t *)f->ctx)++;
}

/* Open every connection, at most MAX_HANDSHAKES at once, with one
 * `SELECT 1` on each as soon as it is up; returns when all have answered
 * (dies after 60 s). */
static void floor_open(floor_t *f)
{
    size_t answered = 0;
    f->on_answer = count_answer;
    f->ctx = &answered;
    uint64_t deadline = bench_now_us() + 60000000u;
    while (answered < f->n) {
        while (f->connecting < MAX_HANDSHAKES && f->started < f->n)
            start_handshake(f, f->started);
        if (floor_poll(f, 1000) > deadline)
            bench_die("only %zu of %zu connections answered within 60 s "
                      "(%zu still connecting)",
                      answered, f->n, f->connecting);
    }
}

static void floor_close(floor_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        PQfinish(f->c[i].pg);
    close(f->ep);
    free(f->c);
}

/* ---- PgBouncer's capacity ---------------------------------------------- */

typedef struct {
    size_t *idle; /* ring of idle connections, oldest first */
    size_t head, count;
    bool sending;     /* keep BOUNCER_FLIGHT in flight */
    uint64_t answers; /* since the start */
} capacity_t;

static void capacity_answer(floor_t *f, size_t i, uint64_t now_us)
{
    capacity_t *cap = f->ctx;
    cap->answers++;
    cap->idle[(cap->head + cap->count++) % f->n] = i;
    if (!cap->sending)
        return;
    size_t next = cap->idle[cap->head];
    cap->head = (cap->head + 1) % f->n;
    cap->count--;
    send_query(f, next, now_us);
}

/* CPU readings around a window: PgBouncer's (when its pid is known) and
 * the whole machine's (/proc/stat), to say who was busy. */
typedef struct {
    int pid; /* PgBouncer's, or 0 */
    uint64_t wall_us, bouncer_ns, busy_ticks, all_ticks;
} meter_t;

/* The machine's busy and total CPU ticks so far (all cores). */
static void machine_ticks(uint64_t *busy, uint64_t *all)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    *busy = *all = 0;
    if (f == NULL)
        return;
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
               &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
        for (int i = 0; i < 8; i++)
            *all += v[i];
        *busy = *all - v[3] - v[4]; /* not idle, not waiting for I/O */
    }
    fclose(f);
}

static void meter_start(meter_t *m, int pid)
{
    m->pid = pid;
    m->wall_us = bench_now_us();
    m->bouncer_ns = pid ? bench_process_cpu_ns(pid) : 0;
    machine_ticks(&m->busy_ticks, &m->all_ticks);
}

/* "; PgBouncer used X% of one core, the machine's N cores Y% busy" */
static void meter_say(const meter_t *m, char *out, size_t len)
{
    uint64_t wall = bench_now_us() - m->wall_us, busy, all;
    machine_ticks(&busy, &all);
    int k = 0;
    out[0] = '\0';
    if (m->pid != 0 && wall > 0)
        k = snprintf(out, len, "; PgBouncer used %.0f%% of one core",
                     (double)(bench_process_cpu_ns(m->pid) - m->bouncer_ns) /
                         10.0 / (double)wall);
    if (all > m->all_ticks && k >= 0 && (size_t)k < len)
        snprintf(out + k, len - (size_t)k,
                 "%s the machine's %ld cores %.0f%% busy", k > 0 ? "," : ";",
                 sysconf(_SC_NPROCESSORS_ONLN),
                 (double)(busy - m->busy_ticks) * 100.0 /
                     (double)(all - m->all_ticks));
}

/* `SELECT 1` answered per second by PgBouncer and its servers with
 * BOUNCER_FLIGHT in flight over BOUNCER_CONNS connections; who was busy
 * meanwhile goes to busy (see meter_say; pid 0: PgBouncer's not known). */
static double bouncer_capacity(int port, int ndbs, int pid, char *busy,
                               size_t busylen)
{
    floor_t f;
    floor_init(&f, port, ndbs, BOUNCER_CONNS);
    floor_open(&f);
    capacity_t cap = {.idle = malloc(f.n * sizeof(size_t)), .sending = true};
    if (cap.idle == NULL)
        bench_die("out of memory");
    for (size_t i = BOUNCER_FLIGHT; i < f.n; i++)
        cap.idle[cap.count++] = i;
    f.on_answer = capacity_answer;
    f.ctx = &cap;
    uint64_t now = bench_now_us();
    for (size_t i = 0; i < BOUNCER_FLIGHT; i++)
        send_query(&f, i, now);
    uint64_t warm_end = now + BOUNCER_WARM_MS * 1000u;
    while (now < warm_end)
        now = floor_poll(&f, 100);
    uint64_t w0 = now, a0 = cap.answers, end = now + BOUNCER_SECS * 1000000u;
    meter_t m;
    meter_start(&m, pid);
    while (now < end)
        now = floor_poll(&f, 100);
    uint64_t w1 = now, a1 = cap.answers;
    meter_say(&m, busy, busylen);
    cap.sending = false; /* drain, then close idle connections */
    uint64_t deadline = now + 10000000u;
    while (cap.count < f.n && now < deadline)
        now = floor_poll(&f, 100);
    floor_close(&f);
    free(cap.idle);
    return (double)(a1 - a0) * 1e6 / (double)(w1 - w0);
}

/* ---- the heartbeat ------------------------------------------------------ */

typedef struct {
    uint64_t interval_us, timeout_us;
    /* connections waiting for their next heartbeat, in the order it is
     * due (answer time + interval grows with the answers) */
    size_t *due_conn;
    uint64_t *due_us;
    size_t head, count;
    uint64_t answers; /* heartbeats answered */
    uint64_t late;    /* of those, later than the deadline */
} beat_t;

static void beat_answer(floor_t *f, size_t i, uint64_t now_us)
{
    beat_t *b = f->ctx;
    b->answers++;
    b->late += now_us - f->c[i].sent_us > b->timeout_us;
    size_t at = (b->head + b->count++) % f->n;
    b->due_conn[at] = i;
    b->due_us[at] = now_us + b->interval_us;
}

static void usage(void)
{
    bench_die("usage: bench_scale_floor -p PGBOUNCER_PORT [-d DATABASES] "
              "[-n NODES] [-t SECONDS] [-b PGBOUNCER_PID]");
}

/* Wait up to 10 s for bench_scale's clients to leave PgBouncer. */
static void wait_library_gone(int port)
{
    double waited;
    int left = bench_bouncer_wait_gone(port, LIBRARY_APP, 10000, &waited);
    if (left < 0)
        bench_die("cannot read SHOW CLIENTS on PgBouncer's port %d: is it "
                  "running, with user postgres in admin_users?",
                  port);
    if (left > 0)
        bench_note("%d clients of bench_scale still on PgBouncer %.1f s "
                   "after it exited: the floor competes with them",
                   left, waited);
    else if (waited > 0.2)
        bench_note("bench_scale's clients left PgBouncer %.1f s after "
                   "this program started",
                   waited);
}

int main(int argc, char **argv)
{
    int port = 0, ndbs = 10, nodes = 1000, seconds = 10, bouncer_pid = 0, opt;
    const bench_int_opt_t ints[] = {{'p', &port},
                                    {'d', &ndbs},
                                    {'n', &nodes},
                                    {'t', &seconds},
                                    {'b', &bouncer_pid}};
    bench_set_name("bench_scale_floor");
    while ((opt = getopt(argc, argv, "p:d:n:t:b:")) != -1) {
        if (!bench_int_arg(ints, sizeof(ints) / sizeof(ints[0]), opt, optarg))
            usage();
    }
    size_t n = (size_t)nodes;
    if (port <= 0 || ndbs < 1 || n < 1 || seconds < 1 || bouncer_pid < 0)
        usage();
    bench_raise_nofile();
    struct rlimit rl;
    size_t fds = (n > BOUNCER_CONNS ? n : BOUNCER_CONNS) + 100;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < fds)
        bench_die("%zu connections need %zu file descriptors; the limit is "
                  "%llu: raise it (ulimit -Hn, as root) and run again",
                  n, fds, (unsigned long long)rl.rlim_cur);
    pgcm_options_t o;
    pgcm_options_init(&o);
    if (o.liveness_interval_ms <= 0)
        bench_die("the library's default liveness_interval_ms is %d: no "
                  "heartbeat to measure",
                  o.liveness_interval_ms);
    wait_library_gone(port);

    /* PgBouncer's capacity (its connections also do libpq's one-time
     * set-up before the memory reading) */
    char meanwhile[128];
    double cap =
        bouncer_capacity(port, ndbs, bouncer_pid, meanwhile, sizeof(meanwhile));
    double need = (double)n * 1000.0 / o.liveness_interval_ms;
    bench_note("%zu nodes at a heartbeat every %d ms need %.0f round "
               "trips/s; this PgBouncer serves %.0f/s (`SELECT 1`, %d in "
               "flight over %d connections%s)",
               n, o.liveness_interval_ms, need, cap, BOUNCER_FLIGHT,
               BOUNCER_CONNS, meanwhile);
    bench_figure_n("scale_%zu_bouncer_select1_per_s", n, cap);

    /* ready and memory */
    floor_t f;
    floor_init(&f, port, ndbs, n);
    beat_t b = {.interval_us = (uint64_t)o.liveness_interval_ms * 1000u,
                .timeout_us = (uint64_t)o.liveness_timeout_ms * 1000u,
                .due_conn = malloc(n * sizeof(size_t)),
                .due_us = malloc(n * sizeof(uint64_t))};
    if (b.due_conn == NULL || b.due_us == NULL)
        bench_die("out of memory");
    memset(b.due_conn, 0, n * sizeof(size_t));
    memset(b.due_us, 0, n * sizeof(uint64_t));
    malloc_trim(0);
    uint64_t rss0 = bench_rss_bytes();
    uint64_t t0 = bench_now_us();
    floor_open(&f);
    uint64_t t1 = bench_now_us();
    uint64_t rss1 = bench_rss_bytes();
    bench_note("floor: %zu connections opened and answered in %.1f ms; "
               "RSS %.1f MiB before them, %.1f MiB with them",
               n, (double)(t1 - t0) / 1000.0, (double)rss0 / 1048576.0,
               (double)rss1 / 1048576.0);
    bench_figure_n("libpq_scale_%zu_ready_ms", n, (double)(t1 - t0) / 1000.0);
    bench_figure_n("libpq_scale_%zu_bytes_per_conn", n,
                   (double)(int64_t)((rss1 - rss0) / n));

    /* the heartbeat: first ones spread over one interval */
    uint64_t start = bench_now_us();
    for (size_t i = 0; i < n; i++) {
        b.due_conn[i] = i;
        b.due_us[i] = start + b.interval_us * i / n;
    }
    b.count = n;
    f.on_answer = beat_answer;
    f.ctx = &b;
    uint64_t now = start, settled = start + 1000000u, end = UINT64_MAX;
    uint64_t w0 = 0, a0 = 0, l0 = 0, c0 = 0;
    meter_t m;
    while (now < end) {
        while (b.count > 0 && b.due_us[b.head] <= now) {
            send_query(&f, b.due_conn[b.head], now);
            b.head = (b.head + 1) % n;
            b.count--;
        }
        uint64_t until = w0 == 0 ? settled : end;
        if (b.count > 0 && b.due_us[b.head] < until)
            until = b.due_us[b.head];
        now = floor_poll(&f, (int)((until - now + 999) / 1000));
        if (w0 == 0 && now >= settled) {
            w0 = now;
            end = now + (uint64_t)seconds * 1000000u;
            a0 = b.answers;
            l0 = b.late;
            c0 = bench_cpu_us();
            meter_start(&m, bouncer_pid);
        }
    }
    uint64_t c1 = bench_cpu_us();
    meter_say(&m, meanwhile, sizeof(meanwhile));
    uint64_t answers = b.answers - a0, late = b.late - l0;
    double window_s = (double)(now - w0) / 1e6;
    size_t overdue = 0, in_flight = 0;
    for (size_t i = 0; i < n; i++) {
        in_flight += f.c[i].busy;
        overdue += f.c[i].busy && now - f.c[i].sent_us > b.timeout_us;
    }
    double pct = (double)(c1 - c0) * 100.0 / (double)(now - w0);
    double per = answers > 0 ? (double)(c1 - c0) / (double)answers : 0;
    bench_note("floor: %llu round trips in %.1f s (%.2f per node per second "
               "of the %.2f asked; %.0f/s), %llu later than %d ms and %zu "
               "in flight at the end (%zu of them overdue), %.1f us of CPU "
               "each%s",
               (unsigned long long)answers, window_s,
               (double)answers / (double)n / window_s,
               1000.0 / o.liveness_interval_ms, (double)answers / window_s,
               (unsigned long long)late, o.liveness_timeout_ms, in_flight,
               overdue, per, meanwhile);
    bench_figure_n("libpq_scale_%zu_probe_cpu_pct", n, pct);
    bench_figure_n("libpq_scale_%zu_cpu_us_per_probe", n, per);

    /* shutdown, heartbeats in flight as they are */
    uint64_t s0 = bench_now_us(), sc0 = bench_cpu_us();
    floor_close(&f);
    uint64_t s1 = bench_now_us(), sc1 = bench_cpu_us();
    free(b.due_conn);
    free(b.due_us);
    bench_note("floor: PQfinish of %zu connections took %.1f ms (%.1f ms "
               "of CPU)",
               n, (double)(s1 - s0) / 1000.0, (double)(sc1 - sc0) / 1000.0);
    bench_figure_n("libpq_scale_%zu_shutdown_ms", n,
                   (double)(s1 - s0) / 1000.0);
    double waited;
    int left = bench_bouncer_wait_gone(port, APP_NAME, 5000, &waited);
    bench_note("floor: its clients on PgBouncer %.1f s after the "
               "shutdown: %d",
               waited, left);
    bench_figure_n("libpq_scale_%zu_leftover_conns", n, left);
    return 0;
}
