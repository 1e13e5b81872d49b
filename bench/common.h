/* SPDX-License-Identifier: MIT */
/*
 * common.h - helpers shared by the bench_* programs: clocks, CPU and memory
 * readings, medians, figure output, command-line port lists and whole-number
 * options, node specs and PgBouncer's admin console.
 *
 * Output convention: every figure is one "name value [spread]" line on
 * stdout (spread: half the interquartile range of the rounds the figure
 * is the median of, in the figure's unit; absent for a single reading);
 * progress and notes go to stderr (prefixed with the program's name).
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "pgcm.h"

#define BENCH_MAX_PORTS 16

/* Monotonic clock in microseconds. */
uint64_t bench_now_us(void);
/* Sleep for ms milliseconds. */
void bench_sleep_ms(int ms);
/* User + system CPU time of this process so far, in microseconds. */
uint64_t bench_cpu_us(void);
/* User CPU time alone of this process so far, in microseconds (the rest of
 * bench_cpu_us() is the kernel's: system calls, wake-ups). */
uint64_t bench_cpu_user_us(void);
/* CPU time of every thread of process pid so far, in nanoseconds
 * (/proc/PID/task/ * /schedstat; dies when pid is not there). */
uint64_t bench_process_cpu_ns(int pid);
/* Resident set size of this process in bytes (/proc/self/statm). */
uint64_t bench_rss_bytes(void);
/* Median of v[0..n) (sorts v in place); 0 for n == 0. */
double bench_median(double *v, size_t n);
/* Half the interquartile range of v[0..n) (v is left as it was); 0 for
 * fewer than 2 values: the spread printed beside a median. */
double bench_spread(const double *v, size_t n);
/* Raise RLIMIT_NOFILE to its hard limit (for many connections). */
void bench_raise_nofile(void);

/* Set the program name used in notes. */
void bench_set_name(const char *name);
/* A progress or diagnostic line on stderr. */
void bench_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A one-line error on stderr, then exit(1). */
void bench_die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
/* One figure on stdout: "name value", flushed at once. */
void bench_figure(const char *name, double value);
/* One figure with its spread: "name value spread". */
void bench_figure_spread(const char *name, double value, double spread);
/* One figure whose name is fmt with n in it ("scale_%zu_ready_ms"). */
void bench_figure_n(const char *fmt, size_t n, double value);

/* Parse "p1,p2,..." into ports; returns the count (dies on bad input). */
int bench_parse_ports(const char *list, int *ports, int max);

/* An option that takes a whole number: its letter and where it goes. */
typedef struct bench_int_opt {
    int letter;
    int *value;
} bench_int_opt_t;
/* Take getopt's option opt (its argument arg, read with atoi) into the
 * one of opts[0..n) with that letter: returns 1, or 0 when none has it.
 * Range checks are the program's. */
int bench_int_arg(const bench_int_opt_t *opts, size_t n, int opt,
                  const char *arg);

/* What the programs that run the replmon binary are given: -p PORTS (the
 * shared servers) and -b REPLMON (the binary). */
typedef struct bench_replmon_opts {
    int ports[BENCH_MAX_PORTS];
    int nports; /* 0 until -p */
    const char *binary;
} bench_replmon_opts_t;
/* Take getopt's option opt (its argument arg) into o when it is -p or -b:
 * returns 1, or 0 for another option (dies on a bad port list). */
int bench_replmon_arg(bench_replmon_opts_t *o, int opt, const char *arg);

/* A spec for node `id` on 127.0.0.1:port, user postgres, database
 * postgres (or `db` when not NULL), TLS off. id and db are borrowed. */
void bench_spec(pgcm_node_spec_t *spec, const char *id, int port,
                const char *db);

/* Wait until every listed node is healthy, or timeout_ms passes.
 * Returns the number of nodes still not healthy. */
size_t bench_wait_healthy(pgcm_manager_t *mgr, char **ids, size_t n,
                          int timeout_ms);
/* Wait until every listed node has at least `conns` idle connections and
 * nothing else open, or timeout_ms passes. Returns the number short. */
size_t bench_wait_idle(pgcm_manager_t *mgr, char **ids, size_t n, int conns,
                       int timeout_ms);

/* Count backends whose application_name is app on 127.0.0.1:port, or -1. */
int bench_count_backends(int port, const char *app);

/* A connection to the admin console of the PgBouncer on 127.0.0.1:port
 * (check PQstatus). */
PGconn *bench_bouncer_admin(int port);
/* Clients with application_name app on that PgBouncer (SHOW CLIENTS), or
 * -1 when the console cannot say. */
int bench_bouncer_clients(int port, const char *app);
/* Poll that count every 100 ms until it is 0 or timeout_ms has passed;
 * returns the last count and (waited_s) how long it waited. */
int bench_bouncer_wait_gone(int port, const char *app, int timeout_ms,
                            double *waited_s);

#endif /* BENCH_COMMON_H */
