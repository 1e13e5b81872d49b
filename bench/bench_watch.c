/* SPDX-License-Identifier: MIT */
/*
 * bench_watch.c - the dashboard's costs: `replmon watch` in a real terminal
 * (tmux, 120x40) over NODES nodes, refreshed every second.
 *
 *   bench_watch -p PORTS -b REPLMON [-n NODES] [-t SECONDS] [-k KEYS]
 *
 * Node 0 is on a server of this program's own (so that it can be frozen);
 * the others are spread over the shared servers in PORTS (as bench_scale
 * spreads its nodes over PgBouncer's aliases). Then:
 *
 *   watch_cpu_pct_100  CPU time of the replmon process (utime + stime from
 *                      /proc/PID/stat) over SECONDS (default 10) once every
 *                      node is healthy and 3 s have passed, as percent of
 *                      one core.
 *   watch_key_ms       with node 0 frozen (SIGSTOP, its rounds hanging),
 *                      the median of KEYS (default 21) key presses of the
 *                      time from sending the key (tmux send-keys) to a
 *                      captured screen that shows the panel it switches to
 *                      (x and s alternately: the replication panel's title),
 *                      sent and captured through one tmux control-mode
 *                      client. Includes tmux's own round trips; their
 *                      median for a bare capture is printed as a note.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "localpg.h"
#include "tmuxterm.h"

#define APP_NAME "bench_watch"

/* utime + stime of pid in seconds, or -1. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[2048], *p;
    unsigned long utime, stime;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command name, which is in parentheses. */
    p = strrchr(buf, ')');
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_watch -p PORTS -b REPLMON [-n NODES] "
                    "[-t SECONDS] [-k KEYS]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const char *const env[] = {"LANG=C.UTF-8", "LC_ALL=C.UTF-8", NULL};
    bench_replmon_opts_t target = {.nports = 0};
    int nodes = 100, secs = 10, keys = 21;
    char dir[] = "/tmp/bench-watch-XXXXXX", cfg[128], cmd[512], err[512];
    char want[64];
    localpg_options_t o;
    localpg_server_t *own;
    tmuxterm_t *t;
    double *lat, *bare, cpu0, cpu1;
    uint64_t w0, w1;
    pid_t pid;
    FILE *f;
    int opt, i;

    bench_set_name("bench_watch");
    const bench_int_opt_t ints[] = {{'n', &nodes}, {'t', &secs}, {'k', &keys}};
    while ((opt = getopt(argc, argv, "p:b:n:t:k:")) != -1) {
        if (!bench_replmon_arg(&target, opt, optarg) &&
            !bench_int_arg(ints, sizeof(ints) / sizeof(ints[0]), opt, optarg))
            usage();
    }
    if (target.nports == 0 || target.binary == NULL || nodes < 2 || secs < 1 ||
        keys < 1)
        usage();
    if (mkdtemp(dir) == NULL)
        bench_die("mkdtemp failed");
    localpg_options_init(&o);
    o.name = "bench_watch";
    own = localpg_start(&o, err, sizeof(err));
    if (own == NULL)
        bench_die("cannot start a server: %s", err);

    snprintf(cfg, sizeof(cfg), "%s/watch.yaml", dir);
    f = fopen(cfg, "w");
    if (f == NULL)
        bench_die("cannot write %s", cfg);
    fprintf(f,
            "manager: { application_name: %s }\n"
            "defaults: { host: 127.0.0.1, user: postgres, database: "
            "postgres, ssl: false }\n"
            "nodes:\n"
            "  n000: { port: %d }\n",
            APP_NAME, localpg_port(own));
    for (i = 1; i < nodes; i++)
        fprintf(f, "  n%03d: { port: %d }\n", i,
                target.ports[i % target.nports]);
    fclose(f);

    snprintf(cmd, sizeof(cmd),
             "exec %s watch --config %s --interval 1s --timeout 2s",
             target.binary, cfg);
    t = tmuxterm_start(cmd, 120, 40, env, err, sizeof(err));
    if (t == NULL)
        bench_die("%s", err);
    snprintf(want, sizeof(want), "%d nodes: %d ok", nodes, nodes);
    if (!tmuxterm_wait(t, want, 60000)) {
        char *screen = tmuxterm_capture(t);

        bench_note("screen:\n%s", screen ? screen : "");
        free(screen);
        tmuxterm_stop(t);
        bench_die("the dashboard did not show %s within 60 s", want);
    }
    pid = tmuxterm_pid(t);
    bench_sleep_ms(3000);
    cpu0 = proc_cpu_s(pid);
    w0 = bench_now_us();
    bench_sleep_ms(secs * 1000);
    cpu1 = proc_cpu_s(pid);
    w1 = bench_now_us();
    if (cpu0 < 0 || cpu1 < 0)
        bench_die("cannot read the CPU time of pid %d", (int)pid);
    bench_note("replmon watch (pid %d): %.3f s of CPU in %.1f s over %d nodes",
               (int)pid, cpu1 - cpu0, (double)(w1 - w0) / 1e6, nodes);
    bench_figure("watch_cpu_pct_100",
                 (cpu1 - cpu0) * 100.0 / ((double)(w1 - w0) / 1e6));

    /* Keys while node 0 hangs, through one tmux control client. */
    if (tmuxterm_control(t) != 0)
        bench_die("cannot attach a tmux control client");
    if (localpg_freeze(own) != 0)
        bench_die("freeze: %s", localpg_last_error(own));
    bench_sleep_ms(1500);
    lat = calloc((size_t)keys, sizeof(*lat));
    bare = calloc((size_t)keys, sizeof(*bare));
    for (i = 0; i < keys; i++) {
        const char *key = i % 2 == 0 ? "x" : "s";
        const char *title =
            i % 2 == 0 ? "Cross-node lag [x]" : "Subscriptions [s]";
        uint64_t sent = bench_now_us();
        char *screen;

        tmuxterm_keys(t, key);
        if (!tmuxterm_wait(t, title, 10000)) {
            localpg_thaw(own);
            tmuxterm_stop(t);
            bench_die("key %s: the screen did not change within 10 s", key);
        }
        lat[i] = (double)(bench_now_us() - sent) / 1000.0;
        sent = bench_now_us();
        screen = tmuxterm_capture(t);
        free(screen);
        bare[i] = (double)(bench_now_us() - sent) / 1000.0;
        bench_sleep_ms(150);
    }
    bench_note("a bare tmux capture takes %.1f ms (median)",
               bench_median(bare, (size_t)keys));
    bench_figure("watch_key_ms", bench_median(lat, (size_t)keys));
    bench_note("slowest key %.1f ms, fastest %.1f ms", lat[keys - 1], lat[0]);
    localpg_thaw(own);
    tmuxterm_keys(t, "q");
    if (!tmuxterm_wait_gone(t, "Nodes [n]", 20000))
        bench_note("replmon did not leave the screen within 20 s of q");
    tmuxterm_stop(t);
    localpg_destroy(own);
    unlink(cfg);
    rmdir(dir);
    free(lat);
    free(bare);
    return 0;
}
