/* SPDX-License-Identifier: MIT */
/*
 * cmd_demo.c - `replmon demo`: create the demo cluster and monitor it
 * through libpgcm with a small write load on the publisher (one statement
 * every 200 ms): on a terminal with the dashboard (`replmon watch` on the
 * demo's configuration file), otherwise (or with --duration) by printing
 * the status every interval. Ends after --duration, on q in the dashboard,
 * or on Ctrl-C / SIGTERM (SIGHUP too when printing), and always shuts the
 * manager down and removes the cluster.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "demo.h"
#include "evaluate.h"
#include "report_status.h"
#include "tui/dashboard.h"

#define CMD                  "demo"
#define WRITE_EVERY_MS       200
#define MAX_WRITES_IN_FLIGHT 4
#define EVENT_LINES          6

static const char demo_help[] =
    "Usage: replmon demo [OPTIONS]\n"
    "\n"
    "Start a throwaway local cluster in a temporary folder - a publisher, two\n"
    "subscribers with logical replication of three tables, a physical\n"
    "standby of the publisher and a small write load - and monitor it. On a\n"
    "terminal it is the dashboard of 'replmon watch' (q quits); otherwise\n"
    "(or with --duration) a status snapshot is printed every interval.\n"
    "Everything is stopped and removed on exit, Ctrl-C, SIGTERM and errors;\n"
    "leftovers of a crashed run are removed by the next one. As root the\n"
    "servers run as the postgres user.\n"
    "\n"
    "Options:\n"
    "  --duration DURATION  stop after this long (e.g. 20, 20s, 2m; a plain\n"
    "                       number is seconds); default: until Ctrl-C\n"
    "  --interval DURATION  refresh interval (default: 1s on the dashboard,\n"
    "                       2s between snapshots)\n"
    "  --no-standby         do not create the physical standby\n"
    "  -h, --help           show this help\n"
    "\n" RM_LOG_HELP "\n"
    "Exit status: 0 after the duration or a stop request, 1 when the\n"
    "cluster cannot be created, 64 usage error.\n";

enum { OPT_DURATION = RM_OPT_FIRST_COMMAND, OPT_INTERVAL, OPT_NO_STANDBY };

/* The write load's counters, updated on the manager's loop thread. */
typedef struct load {
    atomic_int in_flight;
    atomic_uint_fast64_t ok;
    atomic_uint_fast64_t failed;
    pthread_mutex_t mu;
    char last_error[512];
} load_t;

/* The latest events, newest last. */
typedef struct events {
    pthread_mutex_t mu;
    char lines[EVENT_LINES][200];
    size_t count; /* total seen */
} events_t;

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_write_done(pgcm_result_t *r, void *user)
{
    load_t *l = user;

    if (pgcm_result_status(r) == PGCM_OK) {
        atomic_fetch_add(&l->ok, 1);
    } else {
        const pgcm_error_t *e = pgcm_result_error(r);

        atomic_fetch_add(&l->failed, 1);
        pthread_mutex_lock(&l->mu);
        snprintf(l->last_error, sizeof(l->last_error), "%s",
                 e != NULL && e->message[0]
                     ? e->message
                     : pgcm_strerror(pgcm_result_status(r)));
        pthread_mutex_unlock(&l->mu);
    }
    atomic_fetch_sub(&l->in_flight, 1);
    pgcm_result_free(r);
}

static void submit_write(pgcm_manager_t *mgr, load_t *l, uint64_t tick)
{
    char id[16];
    const char *params[1];
    pgcm_error_t err;

    if (atomic_load(&l->in_flight) >= MAX_WRITES_IN_FLIGHT)
        return;
    snprintf(id, sizeof(id), "%" PRIu64, tick % 100 + 1);
    params[0] = id;
    atomic_fetch_add(&l->in_flight, 1);
    memset(&err, 0, sizeof(err));
    if (pgcm_query_async(mgr, RM_DEMO_PUBLISHER, RM_DEMO_WRITE_SQL, 1, params,
                         NULL, on_write_done, l, NULL, &err) != PGCM_OK) {
        atomic_fetch_sub(&l->in_flight, 1);
        atomic_fetch_add(&l->failed, 1);
        pthread_mutex_lock(&l->mu);
        snprintf(l->last_error, sizeof(l->last_error), "%s", err.message);
        pthread_mutex_unlock(&l->mu);
    }
}

static void on_event(const pgcm_event_t *ev, void *user)
{
    events_t *e = user;
    char when[16], line[200];
    time_t secs = (time_t)(ev->time_ms / 1000);
    struct tm tm;

    if (ev->type == PGCM_EV_POOL_STATS)
        return;
    localtime_r(&secs, &tm);
    strftime(when, sizeof(when), "%H:%M:%S", &tm);
    if (ev->type == PGCM_EV_HEALTH_CHANGED)
        snprintf(line, sizeof(line), "%s  %-11s %s: %s -> %s%s%.100s", when,
                 ev->node_id ? ev->node_id : "-",
                 pgcm_event_type_name(ev->type),
                 pgcm_node_state_name(ev->old_state),
                 pgcm_node_state_name(ev->new_state),
                 ev->message && ev->message[0] ? " - " : "",
                 ev->message ? ev->message : "");
    else
        snprintf(line, sizeof(line), "%s  %-11s %s%s%.120s", when,
                 ev->node_id ? ev->node_id : "-",
                 pgcm_event_type_name(ev->type),
                 ev->message && ev->message[0] ? ": " : "",
                 ev->message ? ev->message : "");
    pthread_mutex_lock(&e->mu);
    if (e->count >= EVENT_LINES)
        memmove(e->lines[0], e->lines[1],
                sizeof(e->lines[0]) * (EVENT_LINES - 1));
    snprintf(e->lines[e->count >= EVENT_LINES ? EVENT_LINES - 1 : e->count],
             sizeof(e->lines[0]), "%s", line);
    e->count++;
    pthread_mutex_unlock(&e->mu);
}

static int parse_seconds_flag(const char *flag, const char *arg,
                              int64_t *ms_out)
{
    const char *why = NULL;

    if (rm_config_parse_duration(arg, 1000, ms_out, &why) != 0 ||
        *ms_out <= 0) {
        rm_usage_error(CMD, "%s '%s' is not a positive duration (%s)", flag,
                       arg, why ? why : "use e.g. 20, 20s or 2m");
        return -1;
    }
    return 0;
}

static void render(FILE *out, const rm_demo_t *demo, const rm_snapshot_t *snap,
                   const rm_eval_t *ev, const rm_status_context_t *ctx,
                   load_t *load, events_t *events, int64_t elapsed_ms,
                   int64_t duration_ms)
{
    size_t i, n;
    char last_error[512];

    fprintf(out, "replmon demo - %zu nodes in %s - running %" PRId64 " s",
            rm_demo_count(demo), rm_demo_dir(demo), elapsed_ms / 1000);
    if (duration_ms > 0)
        fprintf(out, " of %" PRId64 " s", duration_ms / 1000);
    fprintf(out, " - snapshot\n");
    pthread_mutex_lock(&load->mu);
    snprintf(last_error, sizeof(last_error), "%s", load->last_error);
    pthread_mutex_unlock(&load->mu);
    fprintf(out,
            "write load on %s: %" PRIuFAST64 " statements ok, %" PRIuFAST64
            " failed%s%s\n\n",
            RM_DEMO_PUBLISHER, atomic_load(&load->ok),
            atomic_load(&load->failed), last_error[0] ? " - last error: " : "",
            last_error);
    rm_print_status_table(out, snap, ev, ctx);
    fprintf(out, "\nRECENT EVENTS\n");
    pthread_mutex_lock(&events->mu);
    n = events->count < EVENT_LINES ? events->count : EVENT_LINES;
    for (i = 0; i < n; i++)
        fprintf(out, "  %s\n", events->lines[i]);
    if (n == 0)
        fprintf(out, "  (none)\n");
    pthread_mutex_unlock(&events->mu);
    fputs("\n", out);
    fflush(out);
}

static void dashboard_tick(void *user, pgcm_manager_t *mgr)
{
    load_t *l = user;

    submit_write(mgr, l, atomic_load(&l->ok) + atomic_load(&l->failed));
}

/* The dashboard on the demo's cluster, through its configuration file (so
 * that R reloads it). Returns an exit code. */
static int watch_demo(const rm_demo_t *demo, int64_t interval_ms)
{
    rm_common_t common;
    rm_session_t session;
    rm_dashboard_t d;
    load_t load;
    int rc;

    rm_common_init(&common);
    common.config_path = rm_demo_config_path(demo);
    rc = rm_session_load(&session, &common, CMD);
    if (rc != 0)
        return rc;
    memset(&load, 0, sizeof(load));
    pthread_mutex_init(&load.mu, NULL);
    memset(&d, 0, sizeof(d));
    d.session = &session;
    d.common = &common;
    d.title = "demo";
    d.interval_ms = interval_ms;
    d.query_timeout_ms = 5000;
    d.tick = dashboard_tick;
    d.tick_ms = WRITE_EVERY_MS;
    d.tick_user = &load;
    d.application_name = "replmon-demo";
    d.health_check_interval_ms = 1000;
    rc = rm_dashboard_run(&d);
    rm_session_close(&session);
    pthread_mutex_destroy(&load.mu);
    return rc;
}

/* Monitor until the duration ends or a stop is requested. Returns 0, or 1
 * when monitoring could not run. */
static int monitor(const rm_demo_t *demo, int64_t duration_ms,
                   int64_t interval_ms)
{
    pgcm_node_spec_t specs[RM_DEMO_MAX_NODES];
    rm_target_node_t targets[RM_DEMO_MAX_NODES];
    pgcm_options_t opts;
    pgcm_manager_t *mgr = NULL;
    pgcm_error_t err;
    rm_thresholds_t thresholds;
    rm_status_context_t ctx;
    rm_collect_options_t copts;
    load_t load;
    events_t events;
    uint64_t sub_id = 0, tick = 0;
    int64_t start, next_write, next_snap;
    size_t i, n = rm_demo_count(demo);
    int rc = 0, subscribed = 0;

    memset(&load, 0, sizeof(load));
    memset(&events, 0, sizeof(events));
    memset(&copts, 0, sizeof(copts));
    pthread_mutex_init(&load.mu, NULL);
    pthread_mutex_init(&events.mu, NULL);
    for (i = 0; i < n; i++)
        rm_demo_node_spec(demo, i, &specs[i]);
    rm_fill_targets(specs, n, targets);
    pgcm_options_init(&opts);
    opts.application_name = "replmon-demo";
    opts.health_check_interval_ms = 1000;
    opts.log_cb = rm_log_pgcm;
    opts.log_level = rm_log_level();
    memset(&err, 0, sizeof(err));
    if (pgcm_manager_new(&opts, &mgr, &err) != PGCM_OK) {
        fprintf(stderr,
                "replmon demo: cannot create the connection "
                "manager: %s\n",
                err.message);
        rc = 1;
        goto out;
    }
    subscribed = pgcm_subscribe(mgr, on_event, &events, &sub_id) == PGCM_OK;
    if (pgcm_manager_start(mgr, specs, n, 5000, &err) != PGCM_OK) {
        fprintf(stderr, "replmon demo: cannot start monitoring: %s\n",
                err.message);
        rc = 1;
        goto out;
    }
    rm_thresholds_default(&thresholds);
    memset(&ctx, 0, sizeof(ctx));
    ctx.cluster = "demo";
    ctx.thresholds = &thresholds;
    copts.query_timeout_ms = 5000;
    copts.stop = &rm_stop_signal;
    /* The rounds give standbys' replay delay without the idle time. */
    copts.rounds = rm_rounds_new(64);
    if (copts.rounds == NULL) {
        fprintf(stderr, "replmon demo: out of memory\n");
        rc = 1;
        goto out;
    }
    start = mono_ms();
    next_write = start;
    next_snap = start;
    while (!rm_stop_signal) {
        int64_t now = mono_ms();

        if (now >= next_write) {
            submit_write(mgr, &load, tick++);
            next_write += WRITE_EVERY_MS;
            if (next_write < now)
                next_write = now + WRITE_EVERY_MS;
        }
        if (now >= next_snap) {
            rm_snapshot_t *snap = NULL;
            rm_eval_t ev;
            char why[256];

            copts.correlation_id = rm_log_correlation_id();
            if (rm_collect(mgr, targets, n, &copts, &snap, why, sizeof(why)) !=
                0) {
                if (rm_stop_signal)
                    break;
                fprintf(stderr, "replmon demo: %s\n", why);
                rc = 1;
                break;
            }
            if (rm_evaluate(snap, &thresholds, &ev) != 0) {
                rm_snapshot_free(snap);
                fprintf(stderr, "replmon demo: out of memory\n");
                rc = 1;
                break;
            }
            render(stdout, demo, snap, &ev, &ctx, &load, &events,
                   mono_ms() - start, duration_ms);
            rm_eval_free(&ev);
            rm_snapshot_free(snap);
            next_snap += interval_ms;
            now = mono_ms();
            if (next_snap < now)
                next_snap = now + interval_ms;
        }
        if (duration_ms > 0 && mono_ms() - start >= duration_ms)
            break;
        {
            int64_t wake = next_write < next_snap ? next_write : next_snap;
            int64_t wait = wake - mono_ms();
            struct timespec ts;

            if (duration_ms > 0 && start + duration_ms - mono_ms() < wait)
                wait = start + duration_ms - mono_ms();
            if (wait > 0) {
                ts.tv_sec = (time_t)(wait / 1000);
                ts.tv_nsec = (long)(wait % 1000) * 1000000L;
                nanosleep(&ts, NULL); /* a stop signal ends it early */
            }
        }
    }
out:
    if (mgr != NULL) {
        if (subscribed)
            pgcm_unsubscribe(mgr, sub_id);
        pgcm_manager_free(mgr);
    }
    rm_rounds_free(copts.rounds);
    pthread_mutex_destroy(&load.mu);
    pthread_mutex_destroy(&events.mu);
    return rc;
}

int rm_cmd_demo(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"duration", required_argument, NULL, OPT_DURATION},
        {"interval", required_argument, NULL, OPT_INTERVAL},
        {"no-standby", no_argument, NULL, OPT_NO_STANDBY},
        {"help", no_argument, NULL, 'h'},
        RM_LOG_LONG_OPTIONS,
        {NULL, 0, NULL, 0}};
    int64_t duration_ms = 0, interval_ms = 0;
    rm_demo_options_t dopts;
    rm_demo_t *demo = NULL;
    rm_common_t common;
    char err[768];
    int opt, tty, rc;
    size_t stopped;

    memset(&dopts, 0, sizeof(dopts));
    dopts.with_standby = 1;
    rm_common_init(&common);
    rm_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(demo_help, stdout);
            return RM_EXIT_OK;
        case OPT_DURATION:
            if (parse_seconds_flag("--duration", optarg, &duration_ms) != 0)
                return RM_EXIT_USAGE;
            break;
        case OPT_INTERVAL:
            if (parse_seconds_flag("--interval", optarg, &interval_ms) != 0)
                return RM_EXIT_USAGE;
            break;
        case OPT_NO_STANDBY:
            dopts.with_standby = 0;
            break;
        case RM_OPT_LOG_FORMAT:
        case RM_OPT_LOG_LEVEL:
        case RM_OPT_LOG_FILE:
            if (rm_common_option(&common, CMD, opt, optarg) < 0)
                return RM_EXIT_USAGE;
            break;
        default:
            return rm_getopt_error(CMD, opt, argv);
        }
    }
    if (optind < argc)
        return rm_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    tty = isatty(STDOUT_FILENO) && isatty(STDIN_FILENO) && duration_ms == 0;
    /* On the dashboard the terminal is the screen's: log lines go to a
     * --log-file or nowhere. */
    if ((!tty || common.log.path != NULL) &&
        rm_common_log_open(&common, CMD, PGCM_LOG_ERROR) != 0)
        return RM_EXIT_FAILURE;

    /* Installed before localpg's, which then leaves these signals to us:
     * a stop request ends the loop and the cleanup below runs. */
    rm_stop_handlers_install();
    dopts.progress = stdout;
    dopts.stop = &rm_stop_signal;
    if (rm_demo_create(&dopts, &demo, err, sizeof(err)) != 0) {
        if (rm_stop_signal) {
            fprintf(stderr, "replmon demo: interrupted; nothing was left "
                            "behind\n");
            return RM_EXIT_OK;
        }
        fprintf(stderr, "replmon demo: %s\n", err);
        return RM_EXIT_FAILURE;
    }
    printf("replmon demo: while it runs, try: replmon --config %s status\n",
           rm_demo_config_path(demo));
    fflush(stdout);
    if (tty)
        rc = watch_demo(demo, interval_ms > 0 ? interval_ms : 1000);
    else
        rc = monitor(demo, duration_ms, interval_ms > 0 ? interval_ms : 2000);
    {
        char dir[4096];

        snprintf(dir, sizeof(dir), "%s", rm_demo_dir(demo));
        stopped = rm_demo_destroy(demo);
        fprintf(stdout, "replmon demo: stopped %zu servers and removed %s\n",
                stopped, dir);
        fflush(stdout);
    }
    return rc == 0 ? RM_EXIT_OK : RM_EXIT_FAILURE;
}
