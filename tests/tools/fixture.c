/* SPDX-License-Identifier: MIT */
/*
 * fixture.c - the integration-test fixture of fixture.h: batches of local
 * servers started through localpg, node specs for libpgcm, and polling
 * helpers that fail the current cmocka test with a reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fixture.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

/* Every batch fixture_start() returned, until fixture_stop_all(). */
typedef struct batch {
    struct batch *next;
    int n;
    localpg_server_t *servers[];
} batch_t;

static batch_t *g_batches;

const int fixture_pg_majors[] = {10, 11, 12, 13, 14, 15, 16, 17, 18};
const int fixture_pg_major_count =
    (int)(sizeof fixture_pg_majors / sizeof fixture_pg_majors[0]);

/* Whether dir holds an executable postgres. */
static int has_postgres(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/postgres", dir);
    return access(path, X_OK) == 0;
}

/* The major version of the default bin directory, from its path
 * (/usr/lib/postgresql/15/bin), 0 when the path does not say. */
static int default_major(const char **dir)
{
    char err[256];
    *dir = localpg_find_bindir(err, sizeof err);
    const char *v = *dir ? strstr(*dir, "/postgresql/") : NULL;
    return v ? atoi(v + strlen("/postgresql/")) : 0;
}

const char *fixture_pg_bindir(int major)
{
    static char found[32][PATH_MAX];
    if (major <= 0 || major >= 32)
        return NULL;
    if (found[major][0])
        return found[major];
    const char *dflt;
    if (default_major(&dflt) == major) {
        snprintf(found[major], sizeof found[major], "%s", dflt);
        return found[major];
    }
    const char *env = getenv("REPLMON_PG_CACHE");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    char caches[3][PATH_MAX];
    int n = 0;
    if (env && *env)
        snprintf(caches[n++], PATH_MAX, "%s", env);
    snprintf(caches[n++], PATH_MAX, "/var/cache/replmon/pg");
    if (xdg && *xdg)
        snprintf(caches[n++], PATH_MAX, "%s/replmon/pg", xdg);
    else if (home && *home)
        snprintf(caches[n++], PATH_MAX, "%s/.cache/replmon/pg", home);
    for (int i = 0; i < n; i++) {
        char dir[PATH_MAX + 32];
        snprintf(dir, sizeof dir, "%s/%d/native/bin", caches[i], major);
        size_t len = strlen(dir);
        if (len < sizeof found[major] && has_postgres(dir)) {
            memcpy(found[major], dir, len + 1);
            return found[major];
        }
    }
    return NULL;
}

const char *fixture_require_pg(int major)
{
    const char *dir = fixture_pg_bindir(major);
    if (dir != NULL)
        return dir;
    const char *req = getenv("REPLMON_PG_VERSIONS_REQUIRED");
    if (req && *req && strcmp(req, "0") != 0)
        fail_msg("fixture: PostgreSQL %d is not installed; run "
                 "scripts/pg-versions",
                 major);
    fprintf(stderr,
            "fixture: PostgreSQL %d is not installed, skipping (run "
            "scripts/pg-versions)\n",
            major);
    skip();
    return NULL;
}

int fixture_test_major(void)
{
    const char *v = getenv("REPLMON_TEST_PG_MAJOR");
    return v && *v ? atoi(v) : 0;
}

localpg_server_t **fixture_start(int n, const localpg_options_t *opts)
{
    char err[1024];
    localpg_options_t o;
    if (opts != NULL)
        o = *opts;
    else
        localpg_options_init(&o);
    if (o.bindir == NULL && o.standby_of == NULL && fixture_test_major() > 0)
        o.bindir = fixture_require_pg(fixture_test_major());
    batch_t *b =
        calloc(1, sizeof *b + (size_t)(n > 0 ? n : 1) * sizeof b->servers[0]);
    if (b == NULL)
        fail_msg("fixture: out of memory");
    if (localpg_start_many(&o, n, b->servers, err, sizeof err) < 0) {
        free(b);
        fail_msg("fixture: cannot start %d PostgreSQL server(s): %s", n, err);
    }
    b->n = n;
    b->next = g_batches;
    g_batches = b;
    return b->servers;
}

void fixture_stop_all(void)
{
    while (g_batches) {
        batch_t *b = g_batches;
        g_batches = b->next;
        for (int i = 0; i < b->n; i++)
            localpg_destroy(b->servers[i]);
        free(b);
    }
}

localpg_server_t **fixture_start_nodes(int n, const localpg_options_t *opts,
                                       const char *const *ids,
                                       pgcm_node_spec_t *specs)
{
    localpg_server_t **servers = fixture_start(n, opts);
    for (int i = 0; i < n; i++)
        fixture_node_spec(servers[i], ids[i], &specs[i]);
    return servers;
}

int fixture_group_teardown(void **state)
{
    (void)state;
    fixture_stop_all();
    return 0;
}

/* Managers made through the fixture and not freed yet. */
#define FIXTURE_MAX_MANAGERS 16
static pgcm_manager_t *g_managers[FIXTURE_MAX_MANAGERS];

pgcm_manager_t *fixture_manager_new(const pgcm_options_t *opts)
{
    pgcm_manager_t *mgr = NULL;
    pgcm_error_t err;
    int rc = pgcm_manager_new(opts, &mgr, &err);
    if (rc != PGCM_OK)
        fail_msg("fixture: pgcm_manager_new: %s (%s)", err.message,
                 pgcm_strerror(rc));
    for (int i = 0; i < FIXTURE_MAX_MANAGERS; i++) {
        if (g_managers[i] == NULL) {
            g_managers[i] = mgr;
            return mgr;
        }
    }
    pgcm_manager_free(mgr);
    fail_msg("fixture: more than %d managers at once", FIXTURE_MAX_MANAGERS);
    return NULL;
}

pgcm_manager_t *fixture_manager_start(const pgcm_options_t *opts,
                                      const pgcm_node_spec_t *specs,
                                      size_t count)
{
    pgcm_manager_t *mgr = fixture_manager_new(opts);
    pgcm_error_t err;
    if (pgcm_manager_start(mgr, specs, count, 5000, &err) != PGCM_OK)
        fail_msg("pgcm_manager_start: %s", err.message);
    return mgr;
}

void fixture_manager_free(pgcm_manager_t *mgr)
{
    if (mgr == NULL)
        return;
    for (int i = 0; i < FIXTURE_MAX_MANAGERS; i++)
        if (g_managers[i] == mgr)
            g_managers[i] = NULL;
    pgcm_manager_free(mgr);
}

void fixture_manager_free_all(void)
{
    for (int i = 0; i < FIXTURE_MAX_MANAGERS; i++) {
        if (g_managers[i] != NULL) {
            pgcm_manager_free(g_managers[i]);
            g_managers[i] = NULL;
        }
    }
}

int fixture_manager_teardown(void **state)
{
    (void)state;
    fixture_manager_free_all();
    return 0;
}

void fixture_test_end(localpg_server_t *const *servers, int n)
{
    fixture_manager_free_all();
    for (int i = 0; i < n; i++) {
        if (localpg_pid(servers[i]) == 0 && localpg_restart(servers[i]) != 0)
            fail_msg("fixture: cannot restart the server on port %d: %s",
                     localpg_port(servers[i]), localpg_last_error(servers[i]));
    }
    fixture_assert_no_connections(servers, n, NULL);
}

const char *fixture_app_name(void)
{
    static char name[32];
    if (name[0] == '\0')
        snprintf(name, sizeof name, "pgcm_test_%d", (int)getpid());
    return name;
}

void fixture_node_spec(const localpg_server_t *s, const char *id,
                       pgcm_node_spec_t *spec)
{
    pgcm_node_spec_init(spec);
    spec->id = id;
    spec->host = localpg_host(s);
    spec->port = localpg_port(s);
    spec->user = "postgres";
    spec->database = "postgres";
    spec->password = localpg_password(s);
    spec->application_name = fixture_app_name();
}

void fixture_assert_no_connections(localpg_server_t *const *servers, int n,
                                   const char *app_name)
{
    if (app_name == NULL)
        app_name = fixture_app_name();
    int64_t deadline = fixture_now_ms() + 3000;
    char report[512];
    for (;;) {
        int left = 0;
        size_t used = 0;
        report[0] = '\0';
        for (int i = 0; i < n; i++) {
            if (servers[i] == NULL || !localpg_is_running(servers[i]))
                continue;
            int c = localpg_count_connections(servers[i], app_name);
            if (c > 0) {
                left += c;
                int w = snprintf(report + used, sizeof report - used,
                                 "%s%d on port %d", used ? ", " : "", c,
                                 localpg_port(servers[i]));
                if (w > 0 && (size_t)w < sizeof report - used)
                    used += (size_t)w;
            }
        }
        if (left == 0)
            return;
        if (fixture_now_ms() > deadline)
            fail_msg("fixture: connections with application_name %s still "
                     "open after 3 s: %s",
                     app_name, report);
        fixture_sleep_ms(20);
    }
}

char *fixture_exec(localpg_server_t *s, const char *sql)
{
    char err[1024];
    char *out = NULL;
    if (localpg_exec(s, NULL, sql, &out, err, sizeof err) < 0)
        fail_msg("fixture: %s", err);
    return out;
}

void fixture_assert_value(localpg_server_t *s, const char *sql,
                          const char *want)
{
    char *v = fixture_exec(s, sql);
    if (v != NULL && strcmp(v, want) == 0) {
        free(v);
        return;
    }
    char got[128];
    snprintf(got, sizeof got, "%s", v ? v : "NULL");
    free(v);
    fail_msg("fixture: %s returned %s, want %s", sql, got, want);
}

void fixture_wait_value(localpg_server_t *s, const char *sql, const char *want,
                        int timeout_ms)
{
    int64_t deadline = fixture_now_ms() + timeout_ms;
    for (;;) {
        char *v = fixture_exec(s, sql);
        int ok = v != NULL && strcmp(v, want) == 0;
        if (ok) {
            free(v);
            return;
        }
        if (fixture_now_ms() > deadline) {
            char last[128];
            snprintf(last, sizeof last, "%s", v ? v : "NULL");
            free(v);
            fail_msg("fixture: %s returned %s after %d ms, want %s", sql, last,
                     timeout_ms, want);
        }
        free(v);
        fixture_sleep_ms(100);
    }
}

int64_t fixture_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fixture_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int fixture_wait_for(int (*pred)(void *user), void *user, int timeout_ms)
{
    int64_t deadline = fixture_now_ms() + timeout_ms;
    for (;;) {
        if (pred(user))
            return 1;
        if (fixture_now_ms() >= deadline)
            return 0;
        fixture_sleep_ms(10);
    }
}

int fixture_try_connect(const char *conninfo, int timeout_ms, char *err,
                        size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    PGconn *c = PQconnectStart(conninfo);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return 0;
    }
    int64_t deadline = fixture_now_ms() + timeout_ms;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    int rc = -1;
    for (;;) {
        if (PQstatus(c) == CONNECTION_BAD || st == PGRES_POLLING_FAILED) {
            snprintf(err, errlen, "%s", PQerrorMessage(c));
            rc = 0;
            break;
        }
        if (st == PGRES_POLLING_OK) {
            rc = 1;
            break;
        }
        int64_t left = deadline - fixture_now_ms();
        if (left <= 0) {
            snprintf(err, errlen, "still connecting after %d ms", timeout_ms);
            break;
        }
        /* The socket can change between calls: ask again every time. */
        struct pollfd p = {PQsocket(c),
                           st == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            rc = 0;
            break;
        }
        if (r > 0)
            st = PQconnectPoll(c);
    }
    if (err)
        for (char *p = err; *p; p++)
            if (*p == '\n')
                *p = ' ';
    PQfinish(c);
    return rc;
}

int fixture_count_active(localpg_server_t *s, const char *like)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
             "'%s' AND state = 'active' AND query LIKE '%s'",
             fixture_app_name(), like);
    char *v = fixture_exec(s, sql);
    int n = v ? atoi(v) : -1;
    free(v);
    return n;
}

void fixture_wait_active(localpg_server_t *s, const char *like, int want,
                         int timeout_ms)
{
    int64_t deadline = fixture_now_ms() + timeout_ms;
    int seen;
    while ((seen = fixture_count_active(s, like)) != want) {
        if (fixture_now_ms() > deadline)
            fail_msg("fixture: %d statement(s) like '%s' active on port %d "
                     "after %d ms, want %d",
                     seen, like, localpg_port(s), timeout_ms, want);
        fixture_sleep_ms(10);
    }
}

int fixture_proxy_start(const char *host, int port, faultproxy_t **proxy)
{
    char err[512];
    int proxy_port = faultproxy_start(host, port, proxy, err, sizeof err);
    if (proxy_port < 0)
        fail_msg("fixture: fault proxy to %s:%d: %s", host, port, err);
    return proxy_port;
}

int fixture_log_count(const localpg_server_t *s, const char *needle)
{
    if (s == NULL || needle == NULL || *needle == '\0')
        return -1;
    FILE *f = fopen(localpg_logfile(s), "re");
    if (f == NULL)
        return -1;
    int count = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) >= 0)
        if (strstr(line, needle))
            count++;
    free(line);
    fclose(f);
    return count;
}
