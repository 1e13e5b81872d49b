/* SPDX-License-Identifier: MIT */
/*
 * bench_servers.c - start N throwaway PostgreSQL servers (localpg) for
 * bench/run, write their ports to a file, and keep them until stdin reaches
 * EOF or a SIGTERM/SIGINT/SIGHUP arrives; then stop them all and remove
 * their directories. bench/run feeds stdin from a pipe it holds open, so
 * the servers go away with it however it ends.
 *
 *   bench_servers -n COUNT [-c MAX_CONNECTIONS] -o PORTS_FILE
 *
 * PORTS_FILE receives "p1,p2,...\n" once every server accepts connections
 * (written to a temporary name, then renamed).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "localpg.h"

#define MAX_SERVERS 16

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_servers -n COUNT [-c MAX_CONNECTIONS] "
                    "-o PORTS_FILE\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int n = 0, maxconn = 0, opt;
    const char *out = NULL;
    bench_set_name("bench_servers");
    while ((opt = getopt(argc, argv, "n:c:o:")) != -1) {
        switch (opt) {
        case 'n':
            n = atoi(optarg);
            break;
        case 'c':
            maxconn = atoi(optarg);
            break;
        case 'o':
            out = optarg;
            break;
        default:
            usage();
        }
    }
    if (n < 1 || n > MAX_SERVERS || out == NULL)
        usage();

    /* Our own handlers: localpg then leaves these signals alone, and we
     * stop the servers from the main flow, not from a handler. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    localpg_options_t o;
    localpg_options_init(&o);
    o.name = "bench";
    o.max_connections = maxconn;
    /* Benchmarks measure the client: keep the servers' disk out of it. */
    static const char *const conf[] = {"fsync = off",
                                       "synchronous_commit = off",
                                       "full_page_writes = off", NULL};
    o.conf_lines = conf;
    localpg_server_t *srv[MAX_SERVERS] = {0};
    char err[512];
    int rc = -1;
    for (int attempt = 1; attempt <= 3 && rc != 0 && !g_stop; attempt++) {
        rc = localpg_start_many(&o, n, srv, err, sizeof(err));
        if (rc != 0)
            bench_note("starting %d servers failed (attempt %d): %s", n,
                       attempt, err);
    }
    if (rc != 0) {
        localpg_cleanup_all();
        bench_die("could not start %d PostgreSQL servers: %s", n, err);
    }

    char tmp[4096], line[256] = "";
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%d",
                                i ? "," : "", localpg_port(srv[i]));
    snprintf(tmp, sizeof(tmp), "%s.tmp", out);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fprintf(f, "%s\n", line) < 0 || fclose(f) != 0 ||
        rename(tmp, out) != 0) {
        localpg_cleanup_all();
        bench_die("cannot write %s: %s", out, strerror(errno));
    }
    bench_note("%d servers up on ports %s", n, line);

    /* Wait for EOF on stdin or a signal. */
    while (!g_stop) {
        struct pollfd p = {.fd = 0, .events = POLLIN};
        int r = poll(&p, 1, 1000);
        if (r < 0 && errno != EINTR)
            break;
        if (r > 0) {
            char buf[256];
            ssize_t k = read(0, buf, sizeof(buf));
            if (k <= 0)
                break;
        }
    }
    for (int i = 0; i < n; i++)
        localpg_destroy(srv[i]);
    localpg_cleanup_all();
    bench_note("servers stopped");
    return 0;
}
