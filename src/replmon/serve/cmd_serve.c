/* SPDX-License-Identifier: MIT */
/*
 * cmd_serve.c - `replmon serve`: a headless daemon. A collector thread
 * runs one collection round every interval and publishes it; HTTP
 * (serve.c) answers from what was published; the main thread waits for
 * signals: SIGHUP reloads the configuration through pgcm_manager_apply
 * (an invalid file is logged and the running one stays), SIGTERM and
 * SIGINT stop listening, end the collector, drain the event table and shut
 * the manager down, then exit 0. With --shard K/N only the nodes the
 * rendezvous hash gives to shard K are monitored.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "eventlog.h"
#include "log.h"
#include "serve.h"
#include "shard.h"

#define CMD             "serve"
#define EVENT_DRAIN_MS  2000
#define LISTEN_TEXT_MAX 300

static const char serve_help[] =
    "Usage: replmon serve [OPTIONS]\n"
    "\n"
    "Monitor the selected cluster as a daemon and answer over HTTP:\n"
    "  /metrics   Prometheus metrics of every node, pool and replication "
    "link\n"
    "  /healthz   200 while the process runs\n"
    "  /readyz    200 once the first collection round is done\n"
    "  /node/ID   200 when the node answers, else 503; ?max_lag=16MB and\n"
    "             ?max_lag_seconds=30 also turn lag into 503\n"
    "  /status    the last round as 'replmon status --format json'\n"
    "SIGHUP reloads the configuration (an invalid file is logged and the\n"
    "running one stays); SIGTERM and SIGINT stop cleanly (exit 0).\n"
    "\n"
    "Options:\n"
    "  --listen ADDR:PORT   where to answer (default serve.listen, else\n"
    "                       127.0.0.1:9187; [::1]:PORT for IPv6; port 0: any\n"
    "                       free port, logged)\n"
    "  --interval DURATION  one collection round per (default serve.interval,"
    "\n"
    "                       else 5s)\n"
    "  --shard K/N          monitor only shard K of N (rendezvous hashing of\n"
    "                       node ids; N instances split the nodes)\n"
    "  -h, --help           show this help\n"
    "\n" RM_COMMON_HELP "\n"
    "Exit status: 0 after SIGTERM or SIGINT, 1 when it cannot start, 64\n"
    "usage error, 78 configuration error.\n";

enum { OPT_LISTEN = RM_OPT_FIRST_COMMAND, OPT_INTERVAL, OPT_SHARD };

/* One configuration in use: its session (without a manager) and the ids of
 * its nodes. The collector holds a reference for a whole round. */
typedef struct generation {
    atomic_int refs;
    rm_session_t session;
    const char **ids;
} generation_t;

typedef struct server {
    rm_common_t *common;
    int shard, shards;
    char shard_text[32];
    int interval_given;
    atomic_llong interval_ms;
    pgcm_manager_t *mgr;
    rm_serve_t *serve;
    rm_eventlog_t *el;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    generation_t *gen; /* under mu */
    int wake;          /* under mu: collect now */
    volatile sig_atomic_t stop;
    pthread_t collector;
} server_t;

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void gen_unref(generation_t *g)
{
    if (g == NULL || atomic_fetch_sub(&g->refs, 1) != 1)
        return;
    rm_session_close(&g->session);
    free(g->ids);
    free(g);
}

/* ---------------------------------------------------------------------- */
/* Loading a configuration                                                */
/* ---------------------------------------------------------------------- */

/* Keep the shard's nodes of s. Returns 0, or an exit code. */
static int apply_shard(server_t *sv, rm_session_t *s)
{
    const char **ids;
    size_t i, n = 0;
    int rc;

    if (sv->shards <= 1)
        return 0;
    ids = calloc(s->count ? s->count : 1, sizeof(*ids));
    if (ids == NULL)
        return RM_EXIT_FAILURE;
    for (i = 0; i < s->count; i++) {
        if (rm_shard_of(s->specs[i].id, sv->shards) == sv->shard)
            ids[n++] = s->specs[i].id;
    }
    rc = rm_session_restrict(s, ids, n, CMD);
    free(ids);
    return rc;
}

static generation_t *gen_from(rm_session_t *s)
{
    generation_t *g = calloc(1, sizeof(*g));
    size_t i;

    if (g == NULL)
        return NULL;
    g->ids = calloc(s->count ? s->count : 1, sizeof(*g->ids));
    if (g->ids == NULL) {
        free(g);
        return NULL;
    }
    for (i = 0; i < s->count; i++)
        g->ids[i] = s->specs[i].id;
    atomic_init(&g->refs, 1);
    g->session = *s;
    return g;
}

static void log_diags(const rm_diags_t *d)
{
    size_t i;

    for (i = 0; i < d->count; i++) {
        char line[1024];

        rm_diag_format(&d->items[i], line, sizeof(line));
        rm_log(d->items[i].severity == RM_DIAG_ERROR ? PGCM_LOG_ERROR
                                                     : PGCM_LOG_WARN,
               "config_problem", NULL, 0, NULL, "%s", line);
    }
}

/* ---------------------------------------------------------------------- */
/* The collector                                                          */
/* ---------------------------------------------------------------------- */

static void *collector_main(void *arg)
{
    server_t *sv = arg;
    int first = 1;
    /* The rounds give standbys' replay delay without the primary's idle
     * time; without memory for them, every round stands alone. */
    rm_rounds_t *history = rm_rounds_new(64);

    pthread_mutex_lock(&sv->mu);
    while (!sv->stop) {
        generation_t *g = sv->gen;
        rm_collect_options_t copts;
        rm_snapshot_t *snap = NULL;
        char err[256];
        int64_t began = mono_ms(), next;

        atomic_fetch_add(&g->refs, 1);
        sv->wake = 0;
        pthread_mutex_unlock(&sv->mu);
        memset(&copts, 0, sizeof(copts));
        copts.query_timeout_ms = (int)sv->common->timeout_ms;
        copts.stop = &sv->stop;
        copts.correlation_id = rm_log_correlation_id();
        copts.pglogical = g->session.cfg->pglogical;
        copts.skip_sections = g->session.cfg->skip_sections;
        copts.rounds = history;
        rm_log(PGCM_LOG_DEBUG, "collect_started", NULL, copts.correlation_id,
               NULL, "collection round over %zu nodes", g->session.count);
        if (rm_collect(sv->mgr, g->session.targets, g->session.count, &copts,
                       &snap, err, sizeof(err)) != 0) {
            if (!sv->stop) {
                rm_serve_round_failed(sv->serve);
                rm_log(PGCM_LOG_WARN, "collect_failed", NULL,
                       copts.correlation_id, NULL, "collection round: %s", err);
            }
        } else {
            double secs = (double)snap->elapsed_us / 1e6;

            rm_log(first ? PGCM_LOG_INFO : PGCM_LOG_DEBUG, "collect_finished",
                   NULL, copts.correlation_id,
                   json_pack("{s:I,s:f}", "nodes", (json_int_t)snap->count,
                             "duration_seconds", secs),
                   "collection round over %zu nodes in %.1f ms%s", snap->count,
                   secs * 1000.0, first ? "; ready" : "");
            if (rm_serve_publish(sv->serve, snap, &g->session.cfg->thresholds,
                                 g->session.cluster) != 0) {
                rm_serve_round_failed(sv->serve);
                rm_log(PGCM_LOG_ERROR, "collect_failed", NULL,
                       copts.correlation_id, NULL,
                       "out of memory publishing the round");
            }
            first = 0;
        }
        gen_unref(g);
        pthread_mutex_lock(&sv->mu);
        next = began + atomic_load(&sv->interval_ms);
        while (!sv->stop && !sv->wake && mono_ms() < next) {
            struct timespec ts;
            int64_t left = next - mono_ms();

            clock_gettime(CLOCK_REALTIME, &ts);
            if (left > 200)
                left = 200; /* the stop flag is also set without a signal */
            ts.tv_nsec += (long)left * 1000000L;
            while (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&sv->cv, &sv->mu, &ts);
        }
    }
    pthread_mutex_unlock(&sv->mu);
    rm_rounds_free(history);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Reload (SIGHUP)                                                        */
/* ---------------------------------------------------------------------- */

static void reload(server_t *sv)
{
    rm_session_t ns;
    rm_diags_t diags;
    pgcm_error_t perr;
    generation_t *g, *old;
    size_t added = 0, removed = 0, replaced = 0;
    const rm_config_t *was;
    char err[640];
    int rc;

    rm_log(PGCM_LOG_INFO, "config_reload", NULL, 0, NULL,
           "SIGHUP: reloading the configuration");
    if (rm_log_reopen(err, sizeof(err)) != 0)
        rm_log(PGCM_LOG_ERROR, "log_reopen_failed", NULL, 0, NULL,
               "%s; still writing to the old file", err);
    rm_diags_init(&diags);
    rc = rm_session_load_into(&ns, sv->common, &diags, err, sizeof(err));
    log_diags(&diags);
    rm_diags_free(&diags);
    if (rc == 0)
        rc = apply_shard(sv, &ns);
    if (rc != 0) {
        rm_log(PGCM_LOG_ERROR, "config_reload_failed", NULL, 0, NULL,
               "%s; the running configuration stays",
               rc == RM_EXIT_CONFIG || rc == RM_EXIT_USAGE ? err
                                                           : "out of memory");
        rm_serve_reload_done(sv->serve, 0);
        return;
    }
    memset(&perr, 0, sizeof(perr));
    rc = pgcm_manager_apply(sv->mgr, ns.specs, ns.count, &added, &removed,
                            &replaced, &perr);
    if (rc != PGCM_OK) {
        rm_log(PGCM_LOG_ERROR, "config_reload_failed", NULL, 0, NULL,
               "the new node list was refused: %s; the running "
               "configuration stays",
               perr.message[0] ? perr.message : pgcm_strerror(rc));
        rm_session_close(&ns);
        rm_serve_reload_done(sv->serve, 0);
        return;
    }
    g = gen_from(&ns);
    if (g == NULL || rm_serve_set_nodes(sv->serve, g->ids, ns.count) != 0) {
        /* The manager has the new nodes already; say so and go on. */
        rm_log(PGCM_LOG_ERROR, "config_reload_failed", NULL, 0, NULL,
               "out of memory after applying the new node list");
        if (g != NULL)
            gen_unref(g);
        else
            rm_session_close(&ns);
        rm_serve_reload_done(sv->serve, 0);
        return;
    }
    pthread_mutex_lock(&sv->mu);
    old = sv->gen;
    was = old->session.cfg;
    sv->gen = g;
    sv->wake = 1;
    pthread_cond_broadcast(&sv->cv);
    if (!sv->interval_given)
        atomic_store(&sv->interval_ms, ns.cfg->serve.interval_ms);
    if (strcmp(was->serve.listen, ns.cfg->serve.listen) != 0)
        rm_log(PGCM_LOG_WARN, "config_needs_restart", NULL, 0, NULL,
               "serve.listen changed to %s: it takes effect at the next "
               "start",
               ns.cfg->serve.listen);
    if ((was->event_log.node == NULL) != (ns.cfg->event_log.node == NULL) ||
        (was->event_log.node != NULL &&
         strcmp(was->event_log.node, ns.cfg->event_log.node) != 0) ||
        was->event_log.queue_size != ns.cfg->event_log.queue_size)
        rm_log(PGCM_LOG_WARN, "config_needs_restart", NULL, 0, NULL,
               "event_log changed: it takes effect at the next start");
    pthread_mutex_unlock(&sv->mu);
    gen_unref(old);
    rm_serve_reload_done(sv->serve, 1);
    rm_log(PGCM_LOG_INFO, "config_reloaded", NULL, 0,
           json_pack("{s:I,s:I,s:I,s:I}", "nodes", (json_int_t)ns.count,
                     "added", (json_int_t)added, "removed", (json_int_t)removed,
                     "replaced", (json_int_t)replaced),
           "configuration reloaded: %zu nodes (%zu added, %zu removed, %zu "
           "replaced)",
           ns.count, added, removed, replaced);
}

/* ---------------------------------------------------------------------- */
/* The command                                                            */
/* ---------------------------------------------------------------------- */

static void watch_events(pgcm_manager_t *mgr, void *user)
{
    server_t *sv = user;

    if (sv->el != NULL && rm_eventlog_watch(sv->el, mgr) != PGCM_OK)
        rm_log(PGCM_LOG_ERROR, "event_log_unavailable", NULL, 0, NULL,
               "cannot subscribe to the manager's events");
}

static int start_event_log(server_t *sv, const rm_config_t *cfg,
                           const char *listen)
{
    rm_eventlog_options_t eo;
    char host[256], instance[LISTEN_TEXT_MAX + 300], err[512];

    if (cfg->event_log.node == NULL)
        return 0;
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    snprintf(instance, sizeof(instance), "%s pid %ld %s", host, (long)getpid(),
             listen);
    memset(&eo, 0, sizeof(eo));
    eo.node = rm_config_find_node(cfg, cfg->event_log.node);
    eo.base = &cfg->options;
    eo.queue_size = (size_t)cfg->event_log.queue_size;
    eo.instance = instance;
    eo.shard = sv->shards > 1 ? sv->shard_text : NULL;
    if (rm_eventlog_start(&eo, &sv->el, err, sizeof(err)) != 0) {
        fprintf(stderr, "replmon %s: %s\n", CMD, err);
        return RM_EXIT_FAILURE;
    }
    rm_log(PGCM_LOG_INFO, "event_log_started", cfg->event_log.node, 0, NULL,
           "recording connection events in connection_logs (queue of %lld)",
           (long long)cfg->event_log.queue_size);
    return 0;
}

static int parse_options(int argc, char **argv, rm_common_t *common,
                         server_t *sv, const char **listen)
{
    static const struct option longopts[] = {
        RM_COMMON_LONG_OPTIONS,
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"interval", required_argument, NULL, OPT_INTERVAL},
        {"shard", required_argument, NULL, OPT_SHARD},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int opt;

    rm_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        const char *why = NULL;
        char host[256];
        int64_t ms;
        int port;

        switch (opt) {
        case 'h':
            fputs(serve_help, stdout);
            return -1;
        case OPT_LISTEN:
            if (rm_config_parse_listen(optarg, host, sizeof(host), &port,
                                       &why) != 0)
                return rm_usage_error(CMD, "--listen '%s': %s", optarg, why);
            *listen = optarg;
            continue;
        case OPT_INTERVAL:
            if (rm_config_parse_duration(optarg, 1000, &ms, &why) != 0 ||
                ms <= 0 || ms > INT_MAX)
                return rm_usage_error(CMD,
                                      "--interval '%s' is not a duration "
                                      "(%s)",
                                      optarg,
                                      why ? why : "use e.g. 1s, 5s or 1m");
            atomic_store(&sv->interval_ms, ms);
            sv->interval_given = 1;
            continue;
        case OPT_SHARD:
            if (rm_shard_parse(optarg, &sv->shard, &sv->shards, &why) != 0)
                return rm_usage_error(CMD, "--shard '%s': %s", optarg, why);
            continue;
        case '?':
        case ':':
            return rm_getopt_error(CMD, opt, argv);
        default:
            break;
        }
        if (rm_common_option(common, CMD, opt, optarg) <= 0)
            return RM_EXIT_USAGE;
    }
    if (optind < argc)
        return rm_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    return 0;
}

/* Wait for signals until SIGTERM or SIGINT; SIGHUP reloads. */
static int wait_for_stop(server_t *sv, const sigset_t *sigs)
{
    for (;;) {
        int sig = sigwaitinfo(sigs, NULL);

        if (sig < 0) {
            if (errno == EINTR)
                continue;
            return SIGTERM;
        }
        if (sig == SIGHUP) {
            reload(sv);
            continue;
        }
        return sig;
    }
}

int rm_cmd_serve(int argc, char **argv)
{
    rm_common_t common;
    server_t sv;
    rm_session_t session;
    sigset_t sigs;
    const char *listen = NULL;
    char host[256], err[512];
    int port, rc, sig, collector_started = 0;

    memset(&sv, 0, sizeof(sv));
    sv.shard = sv.shards = 1;
    atomic_init(&sv.interval_ms, 0);
    rm_common_init(&common);
    rc = parse_options(argc, argv, &common, &sv, &listen);
    if (rc < 0)
        return RM_EXIT_OK; /* --help */
    if (rc != 0)
        return rc;
    snprintf(sv.shard_text, sizeof(sv.shard_text), "%d/%d", sv.shard,
             sv.shards);
    sv.common = &common;

    /* Every thread started from here on (log writer, manager loop, HTTP,
     * collector, event table) inherits the blocked signals: only
     * sigwaitinfo below sees them. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (rm_common_log_open(&common, CMD, PGCM_LOG_INFO) != 0)
        return RM_EXIT_FAILURE;
    rc = rm_session_load(&session, &common, CMD);
    if (rc == 0)
        rc = apply_shard(&sv, &session);
    if (rc != 0) {
        rm_session_close(&session);
        return rc;
    }
    if (listen == NULL)
        listen = session.cfg->serve.listen;
    if (!sv.interval_given)
        atomic_store(&sv.interval_ms, session.cfg->serve.interval_ms);
    if (rm_config_parse_listen(listen, host, sizeof(host), &port, NULL) != 0) {
        rm_session_close(&session);
        return rm_usage_error(CMD, "serve.listen '%s' is not ADDR:PORT",
                              listen);
    }
    pthread_mutex_init(&sv.mu, NULL);
    pthread_cond_init(&sv.cv, NULL);
    sv.serve = rm_serve_new(sv.shard, sv.shards);
    if (sv.serve == NULL ||
        rm_serve_listen(sv.serve, host, port, err, sizeof(err)) != 0) {
        fprintf(stderr, "replmon %s: %s; give another --listen\n", CMD,
                sv.serve == NULL ? "out of memory" : err);
        rm_serve_free(sv.serve);
        rm_session_close(&session);
        return RM_EXIT_FAILURE;
    }
    rm_log(PGCM_LOG_INFO, "serve_listening", NULL, 0,
           json_pack("{s:s,s:i}", "address", host, "port",
                     rm_serve_port(sv.serve)),
           "listening on %s%s%s:%d (%zu nodes, shard %s, a round every "
           "%lld ms)",
           strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
           rm_serve_port(sv.serve), session.count, sv.shard_text,
           (long long)atomic_load(&sv.interval_ms));
    rc = start_event_log(&sv, session.cfg, listen);
    if (rc == 0) {
        session.log_cb = rm_serve_log_hook;
        session.log_user = sv.serve;
        session.log_level = PGCM_LOG_DEBUG; /* acquire records: histograms */
        session.before_start = watch_events;
        session.before_start_user = &sv;
        if (rm_session_start(&session, (int)common.timeout_ms, CMD) != 0)
            rc = RM_EXIT_FAILURE;
    }
    if (rc == 0) {
        sv.mgr = session.mgr;
        session.mgr = NULL; /* the server owns it from here */
        sv.gen = gen_from(&session);
        if (sv.gen == NULL)
            rc = RM_EXIT_FAILURE;
        else
            memset(&session, 0, sizeof(session)); /* sv.gen has it */
        if (rc == 0 && rm_serve_set_nodes(sv.serve, sv.gen->ids,
                                          sv.gen->session.count) != 0)
            rc = RM_EXIT_FAILURE;
    }
    if (rc == 0) {
        rm_serve_set_manager(sv.serve, sv.mgr);
        rm_serve_set_event_log(sv.serve, sv.el);
        if (pthread_create(&sv.collector, NULL, collector_main, &sv) != 0)
            rc = RM_EXIT_FAILURE;
        else
            collector_started = 1;
    }
    if (rc == 0) {
        sig = wait_for_stop(&sv, &sigs);
        /* A second SIGINT or SIGTERM ends the process at once. */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        sigdelset(&sigs, SIGHUP);
        pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
        rm_log(PGCM_LOG_INFO, "serve_stopping", NULL, 0, NULL,
               "%s: stopping (a second one ends at once)", strsignal(sig));
    } else {
        fprintf(stderr, "replmon %s: cannot start monitoring\n", CMD);
    }

    rm_serve_set_draining(sv.serve);
    rm_serve_stop_listening(sv.serve);
    if (collector_started) {
        pthread_mutex_lock(&sv.mu);
        sv.stop = 1;
        pthread_cond_broadcast(&sv.cv);
        pthread_mutex_unlock(&sv.mu);
        pthread_join(sv.collector, NULL);
    }
    rm_serve_set_event_log(sv.serve, NULL);
    rm_eventlog_stop(sv.el, EVENT_DRAIN_MS);
    rm_serve_set_manager(sv.serve, NULL);
    pgcm_manager_free(sv.mgr);
    gen_unref(sv.gen);
    rm_session_close(&session);
    rm_serve_free(sv.serve);
    pthread_cond_destroy(&sv.cv);
    pthread_mutex_destroy(&sv.mu);
    if (rc == 0)
        rm_log(PGCM_LOG_INFO, "serve_stopped", NULL, 0, NULL,
               "every connection closed");
    return rc == 0 ? RM_EXIT_OK : rc;
}
