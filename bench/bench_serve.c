/* SPDX-License-Identifier: MIT */
/*
 * bench_serve.c - the two figures of `replmon serve` (SPEC.md: /metrics
 * for 100 nodes within 5 ms; and the daemon's own cost).
 *
 *   bench_serve -p PORTS -b REPLMON [-n NODES] [-r SCRAPES] [-t SECONDS]
 *
 * Writes a configuration of NODES (default 100) node ids spread over the
 * servers on PORTS (node i on server i % count, pool min 1, manager
 * defaults), starts the real `replmon serve` binary REPLMON on it with
 * `--interval 1s --listen 127.0.0.1:0`, waits until /metrics shows every
 * node up and two more rounds have completed, lets it settle 2 s, then:
 *
 *   serve_cpu_pct_100    the serve process's CPU time (every thread, from
 *                        /proc/PID/task/ * /schedstat, nanoseconds) over
 *                        SECONDS (default 10) of monitoring with nothing
 *                        scraping, as percent of one core.
 *   serve_scrape_ms_100  median wall time of GET /metrics over SCRAPES
 *                        (default 200) sequential scrapes, each a fresh
 *                        TCP connection (HTTP/1.0), from connect to the
 *                        last byte, in milliseconds.
 *
 * Notes on stderr: the exposition's size and line count, the slowest
 * scrape, rounds completed in the CPU window, and the serve process's exit
 * status after SIGTERM.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "http_get.h"
#include "replmon_run.h"

#define APP_NAME "bench_serve"

static int count_up(const char *text)
{
    const char *p = text;
    int n = 0;

    while ((p = strstr(p, "\nreplmon_node_up{")) != NULL) {
        const char *v = strchr(p + 1, '}');

        if (v != NULL && strncmp(v, "} 1\n", 4) == 0)
            n++;
        p++;
    }
    return n;
}

static double scrape_metric(int port, const char *name)
{
    http_reply_t r;
    double v = NAN;

    if (http_get(port, "/metrics", 5000, &r) == 0 && r.status == 200)
        v = prom_sample(r.body, name);
    http_reply_free(&r);
    return v;
}

int main(int argc, char **argv)
{
    bench_replmon_opts_t target = {.nports = 0};
    int nodes = 100, scrapes = 200, seconds = 10, opt, port = 0, i, status;
    char dir[] = "/tmp/bench-serve-XXXXXX", cfg[64], logf[64], errf[64];
    double *times, rounds0, rounds1;
    uint64_t cpu0, cpu1, t0, t1, worst = 0;
    size_t body_len = 0, lines = 0;
    FILE *f;
    pid_t pid;

    bench_set_name("bench_serve");
    const bench_int_opt_t ints[] = {
        {'n', &nodes}, {'r', &scrapes}, {'t', &seconds}};
    while ((opt = getopt(argc, argv, "p:b:n:r:t:")) != -1) {
        if (!bench_replmon_arg(&target, opt, optarg) &&
            !bench_int_arg(ints, sizeof(ints) / sizeof(ints[0]), opt, optarg))
            bench_die("usage: bench_serve -p PORTS -b REPLMON [-n NODES] "
                      "[-r SCRAPES] [-t SECONDS]");
    }
    if (target.nports < 1 || target.binary == NULL || nodes < 1 ||
        scrapes < 1 || seconds < 1)
        bench_die("usage: bench_serve -p PORTS -b REPLMON [-n NODES] "
                  "[-r SCRAPES] [-t SECONDS]");
    if (mkdtemp(dir) == NULL)
        bench_die("mkdtemp: %s", strerror(errno));
    snprintf(cfg, sizeof(cfg), "%s/serve.yaml", dir);
    snprintf(logf, sizeof(logf), "%s/serve.log", dir);
    snprintf(errf, sizeof(errf), "%s/serve.err", dir);
    f = fopen(cfg, "w");
    if (f == NULL)
        bench_die("cannot write %s: %s", cfg, strerror(errno));
    fprintf(f,
            "defaults: { host: 127.0.0.1, user: postgres, database: "
            "postgres, application_name: %s, ssl: false }\nnodes:\n",
            APP_NAME);
    for (i = 0; i < nodes; i++)
        fprintf(f, "  n%03d: { port: %d }\n", i,
                target.ports[i % target.nports]);
    fclose(f);

    pid = fork();
    if (pid == 0) {
        int fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(target.binary, target.binary, "serve", "--config", cfg,
              "--interval", "1s", "--listen", "127.0.0.1:0", "--log-file", logf,
              (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        bench_die("fork: %s", strerror(errno));
    bench_note("replmon serve (pid %d) monitoring %d nodes over %d servers",
               (int)pid, nodes, target.nports);
    /* The port it chose, from its log. */
    for (t0 = bench_now_us(); port == 0;) {
        char *text = rm_read_file(logf), *at = strstr(text, " port=");

        if (at != NULL && strstr(text, "serve_listening") != NULL)
            port = atoi(at + 6);
        free(text);
        if (port == 0) {
            if (waitpid(pid, &status, WNOHANG) == pid)
                bench_die("replmon serve exited: %s", rm_read_file(errf));
            if (bench_now_us() - t0 > 30000000u)
                bench_die("replmon serve did not listen within 30 s");
            bench_sleep_ms(50);
        }
    }
    /* Every node up, then two more rounds. */
    for (t0 = bench_now_us();;) {
        http_reply_t r;
        int up = 0;

        if (http_get(port, "/metrics", 5000, &r) == 0 && r.status == 200)
            up = count_up(r.body);
        http_reply_free(&r);
        if (up == nodes)
            break;
        if (bench_now_us() - t0 > 60000000u) {
            kill(pid, SIGKILL);
            bench_die("only %d of %d nodes up after 60 s", up, nodes);
        }
        bench_sleep_ms(200);
    }
    rounds0 = scrape_metric(port, "replmon_collect_rounds_total");
    while (scrape_metric(port, "replmon_collect_rounds_total") < rounds0 + 2)
        bench_sleep_ms(100);
    bench_sleep_ms(2000);

    rounds0 = scrape_metric(port, "replmon_collect_rounds_total");
    cpu0 = bench_process_cpu_ns(pid);
    t0 = bench_now_us();
    bench_sleep_ms(seconds * 1000);
    cpu1 = bench_process_cpu_ns(pid);
    t1 = bench_now_us();
    rounds1 = scrape_metric(port, "replmon_collect_rounds_total");
    bench_note("%.0f rounds in %.1f s of monitoring", rounds1 - rounds0,
               (double)(t1 - t0) / 1e6);

    times = calloc((size_t)scrapes, sizeof(*times));
    if (times == NULL)
        bench_die("out of memory");
    for (i = 0; i < scrapes; i++) {
        http_reply_t r;

        if (http_get(port, "/metrics", 5000, &r) != 0 || r.status != 200)
            bench_die("scrape %d failed (status %d)", i, r.status);
        times[i] = (double)r.elapsed_us / 1000.0;
        if ((uint64_t)r.elapsed_us > worst)
            worst = (uint64_t)r.elapsed_us;
        if (i == 0) {
            const char *p;

            body_len = strlen(r.body);
            for (p = r.body; *p; p++)
                lines += *p == '\n';
        }
        http_reply_free(&r);
    }
    bench_note("/metrics: %zu bytes, %zu lines; slowest of %d scrapes %.2f "
               "ms",
               body_len, lines, scrapes, (double)worst / 1000.0);
    bench_figure("serve_scrape_ms_100", bench_median(times, (size_t)scrapes));
    bench_figure("serve_cpu_pct_100",
                 100.0 * (double)(cpu1 - cpu0) / 1e3 / (double)(t1 - t0));
    free(times);

    kill(pid, SIGTERM);
    if (waitpid(pid, &status, 0) == pid)
        bench_note("replmon serve exited with status %d after SIGTERM",
                   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    unlink(cfg);
    unlink(logf);
    unlink(errf);
    rmdir(dir);
    return 0;
}
