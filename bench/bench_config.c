/* SPDX-License-Identifier: MIT */
/*
 * bench_config.c - how long replmon takes to check a large configuration
 * file (issue 8: checks must be linear or n log n in the number of nodes).
 *
 *   bench_config [-n NODES[,NODES...]] [-r ROUNDS] [-d DIR]
 *
 * For each NODES (default 100000,370000) it writes a generated file to DIR
 * (default $TMPDIR or /tmp): a defaults: section, NODES nodes in the
 * mapping form, one line each ("  n000123: { host: db23, port: 5432 }",
 * about 38 bytes a node: 370000 nodes are 14 MB, under the 16 MiB cap),
 * and one cluster listing the first 1000 nodes. It then times
 * rm_config_parse_file on it (read, YAML, interpolation, validation,
 * duplicate checks, clusters: what every command does before it starts),
 * ROUNDS times (default 5), and prints the median in milliseconds as
 * config_check_ms_<NODES/1000>k. Notes on stderr: the CPU time of a check
 * (this process's user + system time, which a loaded machine inflates
 * less than the wall time) and the time of printing the result
 * (rm_config_print, YAML, to /dev/null), which check-config adds.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "config.h"

#define MAX_SIZES      8
#define CLUSTER_NODES  1000
#define DEFAULT_ROUNDS 5

static void write_config(const char *path, size_t nodes)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        bench_die("cannot create %s", path);
    fprintf(f,
            "# bench_config: %zu generated nodes\n"
            "defaults: { database: app, pool: { max: 4 } }\n"
            "nodes:\n",
            nodes);
    for (size_t i = 0; i < nodes; i++)
        fprintf(f, "  n%06zu: { host: db%zu, port: 5432 }\n", i, i % 100);
    size_t listed = nodes < CLUSTER_NODES ? nodes : CLUSTER_NODES;
    fputs("clusters:\n  first:\n", f);
    for (size_t i = 0; i < listed; i++)
        fprintf(f, "    - n%06zu\n", i);
    if (fclose(f) != 0)
        bench_die("cannot write %s", path);
}

/* One check of the file: milliseconds of wall time (and of CPU time in
 * *cpu_ms). Dies unless it loads as written. */
static double check_once(const char *path, size_t nodes, rm_config_t **keep,
                         double *cpu_ms)
{
    rm_diags_t d;
    rm_diags_init(&d);
    rm_config_t *cfg = NULL;
    uint64_t c0 = bench_cpu_us();
    uint64_t t0 = bench_now_us();
    int rc = rm_config_parse_file(path, NULL, &cfg, &d);
    uint64_t t1 = bench_now_us();
    *cpu_ms = (double)(bench_cpu_us() - c0) / 1000.0;
    if (rc != PGCM_OK || cfg == NULL || cfg->node_count != nodes ||
        cfg->cluster_count != 1) {
        rm_diags_print(&d, stderr);
        bench_die("%s did not load as generated (rc %d)", path, rc);
    }
    rm_diags_free(&d);
    if (keep != NULL && *keep == NULL)
        *keep = cfg;
    else
        rm_config_free(cfg);
    return (double)(t1 - t0) / 1000.0;
}

static double print_ms(const rm_config_t *cfg)
{
    FILE *null = fopen("/dev/null", "w");
    if (null == NULL)
        bench_die("cannot open /dev/null");
    uint64_t t0 = bench_now_us();
    int rc = rm_config_print(cfg, RM_PRINT_YAML, null);
    uint64_t t1 = bench_now_us();
    fclose(null);
    if (rc != PGCM_OK)
        bench_die("rm_config_print failed (%d)", rc);
    return (double)(t1 - t0) / 1000.0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_config [-n NODES[,NODES...]] [-r ROUNDS] [-d DIR]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    bench_set_name("bench_config");
    size_t sizes[MAX_SIZES] = {100000, 370000};
    size_t nsizes = 2;
    int rounds = DEFAULT_ROUNDS;
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
    int opt;
    while ((opt = getopt(argc, argv, "n:r:d:h")) != -1) {
        switch (opt) {
        case 'n': {
            nsizes = 0;
            char *list = strdup(optarg);
            if (list == NULL)
                bench_die("out of memory");
            for (char *save = NULL, *tok = strtok_r(list, ",", &save);
                 tok != NULL; tok = strtok_r(NULL, ",", &save)) {
                long v = strtol(tok, NULL, 10);
                if (v < 1 || v > 1000000 || nsizes == MAX_SIZES)
                    bench_die("-n: '%s' is not a node count 1-1000000", tok);
                sizes[nsizes++] = (size_t)v;
            }
            free(list);
            if (nsizes == 0)
                usage();
            break;
        }
        case 'r':
            rounds = atoi(optarg);
            if (rounds < 1 || rounds > 100)
                bench_die("-r: give 1 to 100 rounds");
            break;
        case 'd':
            dir = optarg;
            break;
        default:
            usage();
        }
    }
    for (size_t s = 0; s < nsizes; s++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/bench_config.%ld.%zu.yaml", dir,
                 (long)getpid(), sizes[s]);
        write_config(path, sizes[s]);
        double ms[100], cpu[100];
        rm_config_t *cfg = NULL;
        for (int r = 0; r < rounds; r++)
            ms[r] = check_once(path, sizes[s], &cfg, &cpu[r]);
        double printed = print_ms(cfg);
        rm_config_free(cfg);
        unlink(path);
        double best = ms[0], worst = ms[0];
        for (int r = 1; r < rounds; r++) {
            best = ms[r] < best ? ms[r] : best;
            worst = ms[r] > worst ? ms[r] : worst;
        }
        char name[64];
        if (sizes[s] % 1000 == 0)
            snprintf(name, sizeof(name), "config_check_ms_%zuk",
                     sizes[s] / 1000);
        else
            snprintf(name, sizeof(name), "config_check_ms_%zu", sizes[s]);
        bench_note("%zu nodes: check %.0f-%.0f ms over %d rounds (CPU "
                   "%.0f ms, median); printing the result (YAML) %.0f ms more",
                   sizes[s], best, worst, rounds,
                   bench_median(cpu, (size_t)rounds), printed);
        bench_figure(name, bench_median(ms, (size_t)rounds));
    }
    return 0;
}
