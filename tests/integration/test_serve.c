/* SPDX-License-Identifier: MIT */
/*
 * test_serve.c - `replmon serve` against real parts: PostgreSQL servers (a
 * publisher, a subscriber with logical replication, a password-protected
 * node the test kills, one it freezes, and the event-table node), the
 * real promtool and a real Prometheus server scraping it.
 *
 * Covers: /metrics accepted by `promtool check metrics`, carrying every
 * family of the issue and every metric the contrib rules and dashboard
 * use; Prometheus' query API returning replmon_node_up for every node and
 * 0 for a killed one; /node/ID turning 503 within 2 s of a kill and 200
 * after the restart, and 503 for a lagging subscription with ?max_lag;
 * scrapes answering within 100 ms while a node is frozen; JSON logs (every
 * line parses, a round's and a query's correlation id tie their lines,
 * the configured password appears in no log and no /metrics); the event
 * table (rows for a kill and a recovery, drops counted while the event
 * node is down, monitoring of the others unaffected); SIGHUP with a valid
 * and an invalid file; SIGTERM exiting 0 and leaving no connection; three
 * shards over 30 nodes splitting them exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "http_get.h"
#include "localpg.h"
#include "replmon_run.h"
#include "shard.h"

#define PASSWORD_FMT "Vict1m-pw-%d-zq"

enum { PUB, SUB, VICTIM, FROZEN, EVENTS, NSERVERS };
static const char *const ids[NSERVERS] = {"pub", "sub", "victim", "frozen",
                                          "events"};
static localpg_server_t *pg[NSERVERS];
static char password[64];
static char dir[] = "/tmp/replmon-serve-it-XXXXXX";
static char cfg_path[PATH_MAX], log_path[PATH_MAX], out_path[PATH_MAX],
    err_path[PATH_MAX];
static pid_t serve_pid;
static int serve_port;

/* ---- helpers ------------------------------------------------------------- */

/* Run SQL that returns nothing of interest (fails the test on error). */
static void free_exec(localpg_server_t *s, const char *sql)
{
    free(fixture_exec(s, sql));
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, 0600);
}

/* The configuration of the main instance: its nodes (without_frozen
 * leaves that one out), extra node lines, the event table and serve. */
static void write_config(const char *path, const char *extra,
                         int without_frozen)
{
    char text[4096], frozen[128] = "";

    if (!without_frozen)
        snprintf(frozen, sizeof(frozen), "  frozen: { port: %d }\n",
                 localpg_port(pg[FROZEN]));
    snprintf(text, sizeof(text),
             "defaults: { host: 127.0.0.1, user: postgres, database: "
             "postgres, application_name: %s }\n"
             "manager: { application_name: %s }\n"
             "nodes:\n"
             "  pub: { port: %d }\n"
             "  sub: { port: %d }\n"
             "  victim: { port: %d, password: \"%s\" }\n"
             "%s"
             "  events: { port: %d }\n"
             "%s"
             "event_log: { node: events, queue_size: 8 }\n"
             "serve: { listen: \"127.0.0.1:0\", interval: 1s }\n"
             "thresholds: { replication_lag: { warning: 10s, critical: 1m } "
             "}\n",
             fixture_app_name(), fixture_app_name(), localpg_port(pg[PUB]),
             localpg_port(pg[SUB]), localpg_port(pg[VICTIM]), password, frozen,
             localpg_port(pg[EVENTS]), extra != NULL ? extra : "");
    write_file(path, text);
}

/* The port a serve instance logged ("serve_listening", JSON or text). */
static int wait_port(const char *log, int timeout_ms)
{
    int64_t deadline = fixture_now_ms() + timeout_ms;

    while (fixture_now_ms() < deadline) {
        char *text = rm_read_file(log);
        char *at = strstr(text, "serve_listening");
        int port = 0;

        if (at != NULL) {
            char *p = strstr(at, "\"port\":");

            if (p != NULL)
                port = atoi(p + 7);
            else if ((p = strstr(at, " port=")) != NULL)
                port = atoi(p + 6);
        }
        free(text);
        if (port > 0)
            return port;
        fixture_sleep_ms(50);
    }
    return 0;
}

static pid_t start_serve(const char *const *args, const char *log,
                         const char *out, const char *err, int *port)
{
    pid_t pid = rm_spawn(args, out, err, NULL);

    assert_true(pid > 0);
    *port = wait_port(log, 20000);
    if (*port == 0) {
        char *e = rm_read_file(err), *l = rm_read_file(log);

        kill(pid, SIGKILL);
        rm_wait(pid, 5000);
        fail_msg("serve did not start:\n%s\n%s", e, l);
    }
    return pid;
}

static http_reply_t get(int port, const char *path)
{
    http_reply_t r;

    http_get(port, path, 5000, &r);
    return r;
}

static int get_status(int port, const char *path)
{
    http_reply_t r = get(port, path);
    int status = r.status;

    http_reply_free(&r);
    return status;
}

static double metric(int port, const char *series)
{
    http_reply_t r = get(port, "/metrics");
    double v = r.status == 200 ? prom_sample(r.body, series) : NAN;

    http_reply_free(&r);
    return v;
}

typedef struct wait_metric {
    int port;
    const char *series;
    double min, max;
} wait_metric_t;

static int metric_in_range(void *user)
{
    wait_metric_t *w = user;
    double v = metric(w->port, w->series);

    if (!isnan(v) && v >= w->min && v <= w->max)
        return 1;
    fixture_sleep_ms(90);
    return 0;
}

static void wait_for_metric(int port, const char *series, double min,
                            double max, int timeout_ms)
{
    wait_metric_t w = {port, series, min, max};

    if (!fixture_wait_for(metric_in_range, &w, timeout_ms))
        fail_msg("%s stayed outside [%g, %g] for %d ms (last %g)", series, min,
                 max, timeout_ms, metric(port, series));
}

typedef struct wait_status {
    int port;
    const char *path;
    int want;
} wait_status_t;

static int status_is(void *user)
{
    wait_status_t *w = user;

    if (get_status(w->port, w->path) == w->want)
        return 1;
    fixture_sleep_ms(40);
    return 0;
}

/* Wait until GET path answers want; returns the ms it took, or fails. */
static int64_t wait_for_status(int port, const char *path, int want,
                               int timeout_ms)
{
    wait_status_t w = {port, path, want};
    int64_t start = fixture_now_ms();

    if (!fixture_wait_for(status_is, &w, timeout_ms))
        fail_msg("GET %s did not answer %d within %d ms (now %d)", path, want,
                 timeout_ms, get_status(port, path));
    return fixture_now_ms() - start;
}

/* ---- setup --------------------------------------------------------------- */

static int group_setup(void **state)
{
    localpg_options_t o;
    char err[512], sql[512];
    const char *args[] = {"serve",  "--config",    cfg_path, "--log-format",
                          "json",   "--log-level", "debug",  "--log-file",
                          log_path, NULL};
    int i;

    (void)state;
    snprintf(password, sizeof(password), PASSWORD_FMT, (int)getpid());
    for (i = 0; i < NSERVERS; i++) {
        localpg_options_init(&o);
        o.name = ids[i];
        o.logical = i == PUB;
        o.password = i == VICTIM ? password : NULL;
        pg[i] = localpg_start(&o, err, sizeof(err));
        if (pg[i] == NULL)
            fail_msg("%s: %s", ids[i], err);
    }
    free_exec(pg[PUB], "CREATE TABLE t (id int PRIMARY KEY, v text);"
                       "INSERT INTO t SELECT g, 'x' FROM "
                       "generate_series(1, 10) g;"
                       "CREATE PUBLICATION p FOR TABLE t");
    free_exec(pg[SUB], "CREATE TABLE t (id int PRIMARY KEY, v text)");
    snprintf(sql, sizeof(sql),
             "CREATE SUBSCRIPTION s CONNECTION 'host=127.0.0.1 port=%d "
             "user=postgres dbname=postgres' PUBLICATION p",
             localpg_port(pg[PUB]));
    free_exec(pg[SUB], sql);
    assert_non_null(mkdtemp(dir));
    snprintf(cfg_path, sizeof(cfg_path), "%s/replmon.yaml", dir);
    snprintf(log_path, sizeof(log_path), "%s/serve.log", dir);
    snprintf(out_path, sizeof(out_path), "%s/serve.out", dir);
    snprintf(err_path, sizeof(err_path), "%s/serve.err", dir);
    write_config(cfg_path, NULL, 0);
    serve_pid = start_serve(args, log_path, out_path, err_path, &serve_port);
    wait_for_status(serve_port, "/readyz", 200, 20000);
    /* The subscription streams (its lag is measured). */
    wait_for_metric(serve_port,
                    "replmon_subscription_state{node=\"sub\",subscription="
                    "\"s\",kind=\"native\",state=\"streaming\"}",
                    1, 1, 30000);
    return 0;
}

static int group_teardown(void **state)
{
    char cmd[PATH_MAX + 16];
    int i;

    (void)state;
    if (serve_pid > 0) {
        kill(serve_pid, SIGKILL);
        rm_wait(serve_pid, 5000);
    }
    for (i = 0; i < NSERVERS; i++)
        localpg_destroy(pg[i]);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}

/* ---- /metrics ------------------------------------------------------------ */

static void test_metrics_promtool(void **state)
{
    static const char *const families[] = {
        "replmon_node_up",
        "replmon_node_state",
        "replmon_probe_latency_seconds",
        "replmon_pool_connections",
        "replmon_queries_total",
        "replmon_connection_errors_total",
        "replmon_health_check_failures_total",
        "replmon_connection_acquire_seconds",
        "replmon_connection_lifetime_seconds",
        "replmon_slot_retained_bytes",
        "replmon_slot_active",
        "replmon_subscription_lag_bytes",
        "replmon_subscription_lag_seconds",
        "replmon_standby_lag_bytes",
        "replmon_cross_node_lag_bytes",
        "replmon_collect_duration_seconds",
        "replmon_event_log_dropped_total"};
    http_reply_t r = get(serve_port, "/metrics");
    char path[PATH_MAX], help[128];
    const char *argv[] = {"/bin/sh", "-c", NULL, NULL};
    char cmd[3 * PATH_MAX];
    char *promtool_out;
    size_t i;

    (void)state;
    assert_int_equal(r.status, 200);
    snprintf(path, sizeof(path), "%s/metrics.txt", dir);
    write_file(path, r.body);
    snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s' > '%s.out' 2>&1",
             path, path);
    argv[2] = cmd;
    if (localpg_run(argv, NULL, 30000, cmd, sizeof(cmd)) != 0) {
        snprintf(path + strlen(path), sizeof(path) - strlen(path), ".out");
        fail_msg("promtool check metrics failed: %s", rm_read_file(path));
    }
    snprintf(path + strlen(path), sizeof(path) - strlen(path), ".out");
    promtool_out = rm_read_file(path);
    assert_string_equal(promtool_out, ""); /* no lint finding either */
    free(promtool_out);
    for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        snprintf(help, sizeof(help), "# HELP %s ", families[i]);
        if (strstr(r.body, help) == NULL)
            fail_msg("family %s missing", families[i]);
    }
    for (i = 0; i < NSERVERS; i++) {
        char series[128];

        snprintf(series, sizeof(series), "replmon_node_up{node=\"%s\"}",
                 ids[i]);
        assert_true(prom_sample(r.body, series) == 1.0);
    }
    assert_true(prom_sample(r.body,
                            "replmon_subscription_lag_bytes{node=\"sub\","
                            "subscription=\"s\",kind=\"native\","
                            "upstream=\"pub\"}") >= 0);
    assert_true(prom_sample(r.body,
                            "replmon_slot_active{node=\"pub\",slot=\"s\","
                            "slot_type=\"logical\"}") == 1.0);
    assert_true(prom_sample(r.body,
                            "replmon_cross_node_lag_bytes{upstream=\"pub\","
                            "downstream=\"sub\",type=\"logical\","
                            "subscription=\"s\"}") >= 0);
    assert_true(prom_sample(r.body, "replmon_event_log_enabled") == 1.0);
    /* Acquisitions were counted one by one, as the pool counted them. */
    assert_true(prom_sample(r.body,
                            "replmon_connection_acquire_seconds_count{node="
                            "\"pub\"}") > 0);
    assert_null(strstr(r.body, password));
    http_reply_free(&r);
}

/* Every replmon_* name the contrib rules and dashboard use exists. */
static void check_names_in(const char *file, const char *exposition)
{
    char path[PATH_MAX];
    char *text, *p;
    int checked = 0;

    snprintf(path, sizeof(path), "%s/%s", REPLMON_SOURCE_DIR, file);
    text = rm_read_file(path);
    assert_true(strlen(text) > 0);
    for (p = strstr(text, "replmon_"); p != NULL;
         p = strstr(p + 1, "replmon_")) {
        char name[128], help[160];
        size_t n = 0;

        if (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_' ||
                         p[-1] == '-' || p[-1] == '/'))
            continue;
        while (n + 1 < sizeof(name) &&
               (isalnum((unsigned char)p[n]) || p[n] == '_'))
            name[n] = p[n], n++;
        name[n] = '\0';
        if (strcmp(name, "replmon_") == 0)
            continue;
        /* Histogram series are named after their family. */
        for (const char *suffix = "_bucket"; suffix != NULL;
             suffix = strcmp(suffix, "_bucket") == 0 ? "_sum"
                      : strcmp(suffix, "_sum") == 0  ? "_count"
                                                     : NULL) {
            size_t sl = strlen(suffix);

            if (n > sl && strcmp(name + n - sl, suffix) == 0) {
                name[n - sl] = '\0';
                break;
            }
        }
        snprintf(help, sizeof(help), "# HELP %s ", name);
        if (strstr(exposition, help) == NULL)
            fail_msg("%s uses %s, which /metrics does not have", file, name);
        checked++;
    }
    assert_true(checked >= 10);
    free(text);
}

static void test_contrib_uses_real_metrics(void **state)
{
    http_reply_t r = get(serve_port, "/metrics");
    json_error_t jerr;
    char path[PATH_MAX];
    json_t *dash;

    (void)state;
    assert_int_equal(r.status, 200);
    check_names_in("contrib/prometheus/replmon-rules.yml", r.body);
    check_names_in("contrib/grafana/replmon-dashboard.json", r.body);
    snprintf(path, sizeof(path), "%s/contrib/grafana/replmon-dashboard.json",
             REPLMON_SOURCE_DIR);
    dash = json_load_file(path, 0, &jerr);
    if (dash == NULL)
        fail_msg("dashboard: line %d: %s", jerr.line, jerr.text);
    assert_true(json_array_size(json_object_get(dash, "panels")) >= 10);
    json_decref(dash);
    http_reply_free(&r);
}

/* ---- endpoints ----------------------------------------------------------- */

static void test_endpoints(void **state)
{
    http_reply_t r;
    json_error_t jerr;
    json_t *doc;

    (void)state;
    assert_int_equal(get_status(serve_port, "/healthz"), 200);
    assert_int_equal(get_status(serve_port, "/readyz"), 200);
    assert_int_equal(get_status(serve_port, "/nope"), 404);
    assert_int_equal(get_status(serve_port, "/node/nope"), 404);
    assert_int_equal(get_status(serve_port, "/node/pub?max_lag=lots"), 400);
    r = get(serve_port, "/node/pub");
    assert_int_equal(r.status, 200);
    doc = json_loads(r.body, 0, &jerr);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "state")),
                        "healthy");
    json_decref(doc);
    http_reply_free(&r);
    /* /status: the status command's document (schema_version 1). */
    r = get(serve_port, "/status");
    assert_int_equal(r.status, 200);
    doc = json_loads(r.body, 0, &jerr);
    assert_non_null(doc);
    assert_int_equal(json_integer_value(json_object_get(doc, "schema_version")),
                     1);
    assert_int_equal(json_array_size(json_object_get(doc, "nodes")), NSERVERS);
    json_decref(doc);
    http_reply_free(&r);
}

static void test_max_lag(void **state)
{
    (void)state;
    assert_int_equal(get_status(serve_port, "/node/sub?max_lag=16MB"), 200);
    free_exec(pg[SUB], "ALTER SUBSCRIPTION s DISABLE");
    free_exec(pg[PUB], "INSERT INTO t SELECT g, repeat('y', 500) FROM "
                       "generate_series(100, 2100) g");
    /* The next rounds see the lag: 503 with a small max_lag only. */
    wait_for_status(serve_port, "/node/sub?max_lag=64kB", 503, 15000);
    assert_int_equal(get_status(serve_port, "/node/sub"), 200);
    assert_int_equal(get_status(serve_port, "/node/sub?max_lag=1GB"), 200);
    assert_int_equal(get_status(serve_port, "/node/pub?max_lag=64kB"), 200);
    free_exec(pg[SUB], "ALTER SUBSCRIPTION s ENABLE");
    wait_for_status(serve_port, "/node/sub?max_lag=64kB", 200, 30000);
}

static int count_rows(const char *where)
{
    char sql[512], *v;
    int n;

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM connection_logs WHERE %s",
             where);
    v = fixture_exec(pg[EVENTS], sql);
    n = v != NULL ? atoi(v) : -1;
    free(v);
    return n;
}

typedef struct rows_wait {
    const char *where;
} rows_wait_t;

static int rows_exist(void *user)
{
    rows_wait_t *w = user;

    if (count_rows(w->where) > 0)
        return 1;
    fixture_sleep_ms(100);
    return 0;
}

static void test_kill_restart_and_event_rows(void **state)
{
    rows_wait_t down = {"connection_id = 'victim' AND status IN "
                        "('disconnected', 'unhealthy')"};
    rows_wait_t up = {"connection_id = 'victim' AND status = 'healthy' AND "
                      "created_at > (SELECT max(created_at) FROM "
                      "connection_logs WHERE connection_id = 'victim' AND "
                      "status = 'unhealthy')"};
    char *def;
    int64_t took;

    (void)state;
    /* The table and the function are the seed's. */
    def = fixture_exec(pg[EVENTS], "SELECT string_agg(column_name || ' ' || "
                                   "data_type, ', ' ORDER BY ordinal_position) "
                                   "FROM information_schema.columns WHERE "
                                   "table_name = 'connection_logs'");
    assert_string_equal(def, "id integer, connection_id text, status text, "
                             "created_at timestamp with time zone, "
                             "error_message text, metadata jsonb");
    free(def);
    def = fixture_exec(pg[EVENTS], "SELECT pg_get_function_arguments("
                                   "'log_connection_event'::regproc)");
    assert_string_equal(def, "p_connection_id text, p_status text, "
                             "p_error_message text DEFAULT NULL::text, "
                             "p_metadata jsonb DEFAULT '{}'::jsonb");
    free(def);

    assert_int_equal(get_status(serve_port, "/node/victim"), 200);
    if (localpg_kill(pg[VICTIM]) != 0)
        fail_msg("kill: %s", localpg_last_error(pg[VICTIM]));
    took = wait_for_status(serve_port, "/node/victim", 503, 2000);
    print_message("/node/victim turned 503 %lld ms after the kill\n",
                  (long long)took);
    if (!fixture_wait_for(rows_exist, &down, 10000))
        fail_msg("no connection_logs row for the kill");
    if (localpg_restart(pg[VICTIM]) != 0)
        fail_msg("restart: %s", localpg_last_error(pg[VICTIM]));
    wait_for_status(serve_port, "/node/victim", 200, 40000);
    if (!fixture_wait_for(rows_exist, &up, 10000))
        fail_msg("no connection_logs row for the recovery");
    def = fixture_exec(pg[EVENTS], "SELECT metadata->>'event' FROM "
                                   "connection_logs WHERE connection_id = "
                                   "'victim' AND status = 'unhealthy' LIMIT 1");
    assert_string_equal(def, "health_changed");
    free(def);
}

static void test_event_node_down(void **state)
{
    char series[128];
    int64_t took;

    (void)state;
    if (localpg_stop(pg[EVENTS]) != 0)
        fail_msg("stop: %s", localpg_last_error(pg[EVENTS]));
    /* Monitoring of the others goes on as before. */
    if (localpg_kill(pg[VICTIM]) != 0)
        fail_msg("kill: %s", localpg_last_error(pg[VICTIM]));
    took = wait_for_status(serve_port, "/node/victim", 503, 2000);
    print_message("with the event node down, /node/victim turned 503 %lld ms "
                  "after the kill\n",
                  (long long)took);
    assert_int_equal(get_status(serve_port, "/node/pub"), 200);
    /* Reconnect attempts of two nodes overflow a queue of 8. */
    wait_for_metric(serve_port, "replmon_event_log_dropped_total", 1, 1e9,
                    30000);
    snprintf(series, sizeof(series), "replmon_node_up{node=\"pub\"}");
    assert_true(metric(serve_port, series) == 1.0);
    assert_true(metric(serve_port, "replmon_event_log_queued") == 8.0);
    if (localpg_restart(pg[VICTIM]) != 0 || localpg_restart(pg[EVENTS]) != 0)
        fail_msg("restart failed");
    wait_for_status(serve_port, "/node/victim", 200, 40000);
    /* The queue drains once the event node is back. */
    wait_for_metric(serve_port, "replmon_event_log_queued", 0, 0, 40000);
}

static void test_frozen_node_scrapes(void **state)
{
    int64_t until, worst = 0;
    int n = 0;

    (void)state;
    if (localpg_freeze(pg[FROZEN]) != 0)
        fail_msg("freeze: %s", localpg_last_error(pg[FROZEN]));
    until = fixture_now_ms() + 4000;
    while (fixture_now_ms() < until) {
        http_reply_t r;

        http_get(serve_port, "/metrics", 2000, &r);
        assert_int_equal(r.status, 200);
        if (r.elapsed_us > worst)
            worst = r.elapsed_us;
        http_reply_free(&r);
        fixture_sleep_ms(50);
        n++;
    }
    print_message("%d scrapes while frozen, slowest %.1f ms\n", n,
                  (double)worst / 1000.0);
    assert_true(worst < 100000);
    assert_int_equal(get_status(serve_port, "/node/frozen"), 503);
    if (localpg_thaw(pg[FROZEN]) != 0)
        fail_msg("thaw: %s", localpg_last_error(pg[FROZEN]));
    wait_for_status(serve_port, "/node/frozen", 200, 40000);
}

/* ---- a real Prometheus server -------------------------------------------- */

typedef struct prom {
    pid_t pid;
    int port;
    char dir[512];
} prom_t;

static void prom_start(prom_t *p, int target_port)
{
    char conf[PATH_MAX], data[PATH_MAX], logf[PATH_MAX], cfg_arg[PATH_MAX + 16],
        data_arg[PATH_MAX + 24], listen_arg[64], text[512];

    snprintf(p->dir, sizeof(p->dir), "%s/prometheus", dir);
    mkdir(p->dir, 0700);
    snprintf(conf, sizeof(conf), "%s/prometheus.yml", p->dir);
    snprintf(data, sizeof(data), "%s/data", p->dir);
    snprintf(logf, sizeof(logf), "%s/prometheus.log", p->dir);
    snprintf(text, sizeof(text),
             "global: { scrape_interval: 1s, evaluation_interval: 1s }\n"
             "scrape_configs:\n"
             "  - job_name: replmon\n"
             "    static_configs: [ { targets: ['127.0.0.1:%d'] } ]\n",
             target_port);
    write_file(conf, text);
    p->port = http_free_port();
    snprintf(cfg_arg, sizeof(cfg_arg), "--config.file=%s", conf);
    snprintf(data_arg, sizeof(data_arg), "--storage.tsdb.path=%s", data);
    snprintf(listen_arg, sizeof(listen_arg),
             "--web.listen-address=127.0.0.1:%d", p->port);
    p->pid = fork();
    if (p->pid == 0) {
        int fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        if (fd < 0)
            _exit(125);
        dup2(fd, 1);
        dup2(fd, 2);
        setpgid(0, 0);
        execlp("prometheus", "prometheus", cfg_arg, data_arg, listen_arg,
               "--log.level=warn", (char *)NULL);
        _exit(127);
    }
    assert_true(p->pid > 0);
    {
        int64_t deadline = fixture_now_ms() + 60000;

        while (get_status(p->port, "/-/ready") != 200) {
            if (fixture_now_ms() > deadline || waitpid(p->pid, NULL, WNOHANG))
                fail_msg("Prometheus did not become ready: %s",
                         rm_read_file(logf));
            fixture_sleep_ms(200);
        }
    }
}

static void prom_stop(prom_t *p)
{
    if (p->pid <= 0)
        return;
    kill(p->pid, SIGTERM);
    if (rm_wait(p->pid, 20000) < 0)
        fprintf(stderr, "Prometheus did not stop on SIGTERM\n");
    p->pid = 0;
}

/* replmon_node_up per node as Prometheus' API returns it (-1: absent). */
static double prom_node_up(const prom_t *p, const char *node)
{
    http_reply_t r;
    json_error_t jerr;
    json_t *doc, *res, *item;
    size_t i;
    double v = -1;

    http_get(p->port, "/api/v1/query?query=replmon_node_up", 5000, &r);
    doc = r.status == 200 ? json_loads(r.body, 0, &jerr) : NULL;
    http_reply_free(&r);
    if (doc == NULL)
        return -1;
    res = json_object_get(json_object_get(doc, "data"), "result");
    json_array_foreach(res, i, item)
    {
        const char *n = json_string_value(
            json_object_get(json_object_get(item, "metric"), "node"));

        if (n != NULL && strcmp(n, node) == 0)
            v = atof(json_string_value(
                json_array_get(json_object_get(item, "value"), 1)));
    }
    json_decref(doc);
    return v;
}

typedef struct prom_wait {
    const prom_t *p;
    const char *node;
    double want;
} prom_wait_t;

static int prom_has(void *user)
{
    prom_wait_t *w = user;

    if (prom_node_up(w->p, w->node) == w->want)
        return 1;
    fixture_sleep_ms(250);
    return 0;
}

static void test_prometheus_scrapes(void **state)
{
    prom_t p;
    int i;

    (void)state;
    memset(&p, 0, sizeof(p));
    prom_start(&p, serve_port);
    for (i = 0; i < NSERVERS; i++) {
        prom_wait_t w = {&p, ids[i], 1.0};

        if (!fixture_wait_for(prom_has, &w, 30000)) {
            prom_stop(&p);
            fail_msg("Prometheus has no replmon_node_up 1 for %s", ids[i]);
        }
    }
    if (localpg_kill(pg[VICTIM]) != 0) {
        prom_stop(&p);
        fail_msg("kill: %s", localpg_last_error(pg[VICTIM]));
    }
    {
        prom_wait_t w = {&p, "victim", 0.0};

        if (!fixture_wait_for(prom_has, &w, 30000)) {
            prom_stop(&p);
            fail_msg("Prometheus never saw replmon_node_up 0 for victim");
        }
    }
    assert_true(prom_node_up(&p, "pub") == 1.0);
    prom_stop(&p);
    if (localpg_restart(pg[VICTIM]) != 0)
        fail_msg("restart: %s", localpg_last_error(pg[VICTIM]));
    wait_for_status(serve_port, "/node/victim", 200, 40000);
}

/* ---- logs ---------------------------------------------------------------- */

static void test_json_logs(void **state)
{
    char *text = rm_read_file(log_path), *save = NULL, *line;
    char round_cid[32] = "";
    int lines = 0, round_lines = 0, acquired = 0;
    char *stderr_text = rm_read_file(err_path);

    (void)state;
    assert_null(strstr(text, password));
    assert_null(strstr(stderr_text, password));
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        json_error_t jerr;
        json_t *doc = json_loads(line, 0, &jerr);
        const char *event, *cid, *ts;

        if (doc == NULL)
            fail_msg("not a JSON line: %s", line);
        lines++;
        ts = json_string_value(json_object_get(doc, "timestamp"));
        assert_non_null(ts);
        assert_int_equal(strlen(ts), 24); /* 2024-01-10T12:34:56.789Z */
        assert_int_equal(ts[23], 'Z');
        assert_non_null(json_string_value(json_object_get(doc, "level")));
        assert_true(json_is_object(json_object_get(doc, "data")));
        event = json_string_value(json_object_get(doc, "event"));
        cid = json_string_value(json_object_get(doc, "correlation_id"));
        if (round_cid[0] == '\0' && strcmp(event, "collect_started") == 0)
            snprintf(round_cid, sizeof(round_cid), "%s", cid);
        if (round_cid[0] != '\0' && cid != NULL &&
            strcmp(cid, round_cid) == 0) {
            round_lines++;
            acquired += strcmp(event, "connection_acquired") == 0;
        }
        json_decref(doc);
    }
    print_message("%d JSON lines; the first round's id ties %d of them "
                  "(%d acquisitions)\n",
                  lines, round_lines, acquired);
    assert_true(lines > 50);
    /* The round's queries on every node carry its id. */
    assert_true(acquired >= NSERVERS);
    free(text);
    free(stderr_text);
}

static void test_query_correlation(void **state)
{
    const char *args[] = {"query", "--config",    cfg_path, "--log-format",
                          "json",  "--log-level", "debug",  "--node",
                          "pub",   "--node",      "victim", "SELECT 1 AS one",
                          NULL};
    rm_run_t r;
    char *save = NULL, *line, cid[32] = "";
    int acquired = 0, released = 0, finished = 0;

    (void)state;
    rm_run(args, 30000, &r);
    if (r.code != 0)
        fail_msg("exit %d\n%s\n%s", r.code, r.out, r.err);
    assert_null(strstr(r.err, password));
    for (line = strtok_r(r.err, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        json_error_t jerr;
        json_t *doc = json_loads(line, 0, &jerr);
        const char *event, *c;

        if (doc == NULL)
            fail_msg("not a JSON line: %s", line);
        event = json_string_value(json_object_get(doc, "event"));
        c = json_string_value(json_object_get(doc, "correlation_id"));
        if (strcmp(event, "query_started") == 0)
            snprintf(cid, sizeof(cid), "%s", c);
        if (cid[0] != '\0' && c != NULL && strcmp(c, cid) == 0) {
            acquired += strcmp(event, "connection_acquired") == 0;
            released += strcmp(event, "connection_released") == 0;
            finished += strcmp(event, "query_finished") == 0;
        }
        json_decref(doc);
    }
    assert_true(cid[0] != '\0');
    assert_int_equal(acquired, 2);
    assert_int_equal(released, 2);
    assert_int_equal(finished, 1);
    rm_run_free(&r);
}

/* ---- reload and stop ----------------------------------------------------- */

static void test_sighup(void **state)
{
    char extra[128];

    (void)state;
    snprintf(extra, sizeof(extra), "  extra: { port: %d }\n",
             localpg_port(pg[PUB]));
    write_config(cfg_path, extra, 1);
    kill(serve_pid, SIGHUP);
    wait_for_metric(serve_port,
                    "replmon_config_reloads_total{result=\"success\"}", 1, 1,
                    10000);
    wait_for_metric(serve_port, "replmon_node_up{node=\"extra\"}", 1, 1, 10000);
    assert_true(isnan(metric(serve_port, "replmon_node_up{node=\"frozen\"}")));
    assert_int_equal(get_status(serve_port, "/node/frozen"), 404);

    /* An invalid file: logged, the running configuration stays. */
    write_file(cfg_path, "nodes: [\n");
    kill(serve_pid, SIGHUP);
    wait_for_metric(serve_port,
                    "replmon_config_reloads_total{result=\"failure\"}", 1, 1,
                    10000);
    assert_true(metric(serve_port, "replmon_config_last_reload_successful") ==
                0.0);
    assert_true(metric(serve_port, "replmon_node_up{node=\"extra\"}") == 1.0);
    assert_int_equal(get_status(serve_port, "/healthz"), 200);
    assert_true(rm_wait_for_text(log_path, "config_reload_failed", 5000));
    write_config(cfg_path, extra, 1);
}

static void test_sigterm_leaves_no_connection(void **state)
{
    int code;

    (void)state;
    kill(serve_pid, SIGTERM);
    code = rm_wait(serve_pid, 20000);
    serve_pid = 0;
    assert_int_equal(code, 0);
    assert_true(rm_wait_for_text(log_path, "serve_stopped", 1000));
    fixture_assert_no_connections(pg, NSERVERS, fixture_app_name());
}

/* ---- shards -------------------------------------------------------------- */

#define SHARD_NODES 30

static void test_three_shards(void **state)
{
    char text[8192], path[PATH_MAX], logs[3][PATH_MAX], outs[3][PATH_MAX],
        errs[3][PATH_MAX], shard[3][8];
    pid_t pids[3];
    int ports[3], seen[SHARD_NODES] = {0}, per[3] = {0};
    size_t used;
    int i, k;

    (void)state;
    used = (size_t)snprintf(text, sizeof(text),
                            "defaults: { host: 127.0.0.1, port: %d, user: "
                            "postgres, database: postgres, application_name: "
                            "%s, pool: { min: 0, max: 2 } }\nnodes:\n",
                            localpg_port(pg[PUB]), fixture_app_name());
    for (i = 0; i < SHARD_NODES; i++)
        used += (size_t)snprintf(text + used, sizeof(text) - used,
                                 "  n%02d: {}\n", i);
    snprintf(path, sizeof(path), "%s/shards.yaml", dir);
    write_file(path, text);
    for (k = 0; k < 3; k++) {
        const char *args[] = {"serve",       "--config",   path,
                              "--shard",     shard[k],     "--listen",
                              "127.0.0.1:0", "--interval", "1s",
                              "--log-file",  logs[k],      NULL};

        snprintf(shard[k], sizeof(shard[k]), "%d/3", k + 1);
        snprintf(logs[k], sizeof(logs[k]), "%s/shard%d.log", dir, k + 1);
        snprintf(outs[k], sizeof(outs[k]), "%s/shard%d.out", dir, k + 1);
        snprintf(errs[k], sizeof(errs[k]), "%s/shard%d.err", dir, k + 1);
        pids[k] = start_serve(args, logs[k], outs[k], errs[k], &ports[k]);
    }
    for (k = 0; k < 3; k++) {
        http_reply_t r;
        char series[64];

        wait_for_status(ports[k], "/readyz", 200, 20000);
        r = get(ports[k], "/metrics");
        assert_int_equal(r.status, 200);
        snprintf(series, sizeof(series),
                 "replmon_shard_info{shard=\"%d\",shards=\"3\"}", k + 1);
        assert_true(prom_sample(r.body, series) == 1.0);
        for (i = 0; i < SHARD_NODES; i++) {
            snprintf(series, sizeof(series), "replmon_node_up{node=\"n%02d\"}",
                     i);
            if (!isnan(prom_sample(r.body, series))) {
                char id[8];

                snprintf(id, sizeof(id), "n%02d", i);
                seen[i]++;
                per[k]++;
                /* The shard the rendezvous hash names. */
                assert_int_equal(rm_shard_of(id, 3), k + 1);
            }
        }
        http_reply_free(&r);
    }
    for (k = 0; k < 3; k++) {
        kill(pids[k], SIGTERM);
        assert_int_equal(rm_wait(pids[k], 20000), 0);
    }
    print_message("shards hold %d, %d and %d of %d nodes\n", per[0], per[1],
                  per[2], SHARD_NODES);
    for (i = 0; i < SHARD_NODES; i++)
        assert_int_equal(seen[i], 1); /* every node in exactly one shard */
    for (k = 0; k < 3; k++)
        assert_true(per[k] > 0);
    fixture_assert_no_connections(pg, NSERVERS, fixture_app_name());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_promtool),
        cmocka_unit_test(test_contrib_uses_real_metrics),
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_query_correlation),
        cmocka_unit_test(test_max_lag),
        cmocka_unit_test(test_kill_restart_and_event_rows),
        cmocka_unit_test(test_event_node_down),
        cmocka_unit_test(test_frozen_node_scrapes),
        cmocka_unit_test(test_prometheus_scrapes),
        cmocka_unit_test(test_json_logs),
        cmocka_unit_test(test_sighup),
        cmocka_unit_test(test_sigterm_leaves_no_connection),
        cmocka_unit_test(test_three_shards),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
