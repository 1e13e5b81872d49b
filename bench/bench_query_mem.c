/* SPDX-License-Identifier: MIT */
/*
 * bench_query_mem.c - peak memory of `replmon query` over a large result:
 * starts one PostgreSQL server (localpg), runs the replmon binary on
 * `SELECT g, md5(g::text) FROM generate_series(1, ROWS) g` once per output
 * format with stdout read (and its lines counted) through a pipe, and
 * prints the child's peak RSS (wait4's ru_maxrss) in MB per format and the
 * largest of them:
 *
 *   query_1m_rows_peak_mb_table / _json / _csv, query_1m_rows_peak_mb
 *
 *   bench_query_mem -b REPLMON_BINARY [-n ROWS]
 *
 * A run that exits non-zero or prints fewer lines than rows is an error
 * (exit 1), so a figure is always that of a complete answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "localpg.h"

static void usage(void)
{
    fprintf(stderr, "usage: bench_query_mem -b REPLMON_BINARY [-n ROWS]\n");
    exit(2);
}

typedef struct run_result {
    int exit_code;
    double peak_mb;
    long lines;
    double seconds;
} run_result_t;

/* Run replmon with argv, stdout into a pipe whose lines are counted,
 * stderr into err_path. */
static void run_replmon(char *const *argv, const char *err_path,
                        run_result_t *out)
{
    int fds[2];
    pid_t pid;
    char buf[65536];
    ssize_t n;
    int status;
    struct rusage ru;
    uint64_t t0 = bench_now_us();

    memset(out, 0, sizeof(*out));
    if (pipe(fds) != 0)
        bench_die("pipe: %s", strerror(errno));
    pid = fork();
    if (pid < 0)
        bench_die("fork: %s", strerror(errno));
    if (pid == 0) {
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int devnull = open("/dev/null", O_RDONLY);

        if (e < 0 || devnull < 0)
            _exit(125);
        dup2(devnull, 0);
        dup2(fds[1], 1);
        dup2(e, 2);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    while ((n = read(fds[0], buf, sizeof(buf))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            bench_die("read: %s", strerror(errno));
        }
        for (ssize_t i = 0; i < n; i++)
            out->lines += buf[i] == '\n';
    }
    close(fds[0]);
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR)
            bench_die("wait4: %s", strerror(errno));
    }
    out->seconds = (double)(bench_now_us() - t0) / 1e6;
    out->exit_code =
        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    /* ru_maxrss is in KiB; one decimal of a MB is enough. */
    out->peak_mb = (double)(ru.ru_maxrss * 10 / 1024) / 10.0;
}

int main(int argc, char **argv)
{
    static const char *const formats[] = {"table", "json", "csv"};
    const char *binary = NULL;
    long rows = 1000000;
    int opt;
    char err[512], dir[] = "/tmp/bench-query-mem-XXXXXX";
    char cfg[4096], err_path[4096], sql[256], figure[64];
    double max_mb = 0.0;
    localpg_options_t o;
    localpg_server_t *srv;
    FILE *f;

    bench_set_name("bench_query_mem");
    while ((opt = getopt(argc, argv, "b:n:")) != -1) {
        switch (opt) {
        case 'b':
            binary = optarg;
            break;
        case 'n':
            rows = atol(optarg);
            break;
        default:
            usage();
        }
    }
    if (binary == NULL || rows < 1)
        usage();
    if (access(binary, X_OK) != 0)
        bench_die("%s is not an executable: %s", binary, strerror(errno));
    signal(SIGPIPE, SIG_IGN);

    localpg_options_init(&o);
    o.name = "bench_qmem";
    srv = localpg_start(&o, err, sizeof(err));
    if (srv == NULL)
        bench_die("cannot start PostgreSQL: %s", err);
    if (mkdtemp(dir) == NULL) {
        localpg_destroy(srv);
        bench_die("mkdtemp: %s", strerror(errno));
    }
    snprintf(cfg, sizeof(cfg), "%s/replmon.yaml", dir);
    snprintf(err_path, sizeof(err_path), "%s/stderr", dir);
    f = fopen(cfg, "w");
    if (f == NULL ||
        fprintf(f,
                "nodes:\n"
                "  n1: { host: %s, port: %d, user: postgres, "
                "database: postgres }\n",
                localpg_host(srv), localpg_port(srv)) < 0 ||
        fclose(f) != 0) {
        localpg_destroy(srv);
        bench_die("cannot write %s", cfg);
    }
    snprintf(sql, sizeof(sql),
             "SELECT g, md5(g::text) FROM generate_series(1, %ld) g", rows);

    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        char *args[] = {
            (char *)binary, "query",    "--config",         cfg, "--timeout",
            "5m",           "--format", (char *)formats[i], sql, NULL};
        run_result_t r;

        run_replmon(args, err_path, &r);
        if (r.exit_code != 0 || r.lines < rows) {
            char *text = NULL;
            size_t len = 0;
            FILE *ef = fopen(err_path, "r");

            if (ef != NULL) {
                text = calloc(1, 2048);
                len = text ? fread(text, 1, 2047, ef) : 0;
                fclose(ef);
            }
            (void)len;
            localpg_destroy(srv);
            bench_die("replmon query --format %s: exit %d, %ld lines for %ld "
                      "rows: %s",
                      formats[i], r.exit_code, r.lines, rows, text ? text : "");
        }
        bench_note("--format %s: peak RSS %.1f MB, %ld lines, %.2f s",
                   formats[i], r.peak_mb, r.lines, r.seconds);
        snprintf(figure, sizeof(figure), "query_1m_rows_peak_mb_%s",
                 formats[i]);
        bench_figure(figure, r.peak_mb);
        if (r.peak_mb > max_mb)
            max_mb = r.peak_mb;
    }
    bench_figure("query_1m_rows_peak_mb", max_mb);
    unlink(cfg);
    unlink(err_path);
    rmdir(dir);
    localpg_destroy(srv);
    localpg_cleanup_all();
    return 0;
}
