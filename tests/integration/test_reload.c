/* SPDX-License-Identifier: MIT */
/*
 * test_reload.c - configuration reload (C2, issue 4 item 6) against four
 * real PostgreSQL servers while a continuous query load runs on other
 * threads: pgcm_manager_apply() adds new nodes, drains and closes removed
 * ones, replaces changed ones and leaves untouched ones alone (same backend
 * pids, no new connections, no failed query); an invalid list is rejected
 * whole and changes nothing. The same flow is then driven from YAML text
 * through replmon's configuration library (rm_config_parse_buffer), where
 * an invalid new file is refused by the parser and the running
 * configuration stays. After each test the servers show none of our
 * connections.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fixture.h"

#define NSERVERS 4
#define NLOAD    4

/* alpha, beta, gamma and delta each have a server of their own. */
enum { ALPHA = 0, BETA = 1, GAMMA = 2, DELTA = 3 };
static const char *const ids[NSERVERS] = {"alpha", "beta", "gamma", "delta"};
static localpg_server_t **pg;
/* application_name of replaced nodes, so the teardown sees them too. */
static char app_v2[64];

static int group_setup(void **state)
{
    (void)state;
    pg = fixture_start(NSERVERS, NULL);
    snprintf(app_v2, sizeof app_v2, "%s_v2", fixture_app_name());
    return 0;
}

/* ---- the query load ------------------------------------------------------ */

#define MAX_CODES 16 /* -PGCM_E* fits */
#define MAX_PIDS  32

/* One thread per node id, running pgcm_query in a loop until told to
 * stop. Everything main reads while it runs is atomic or under lock. */
typedef struct load {
    pgcm_manager_t *mgr;
    const char *id;
    pthread_t thread;
    int started;
    atomic_int stop;
    atomic_int ok;
    atomic_int by_code[MAX_CODES]; /* failures by -code */
    atomic_int other_code;         /* failures with an unexpected code */
    atomic_llong max_latency_ms;
    pthread_mutex_t lock;
    char last_app[64];     /* application_name of the last OK answer */
    char first_error[600]; /* first failure's message (not ENOENT) */
    int pids[MAX_PIDS];    /* distinct backend pids that answered */
    int npids;
} load_t;

static load_t loads[NLOAD];

static void *load_main(void *p)
{
    load_t *l = p;
    while (!atomic_load(&l->stop)) {
        pgcm_result_t *r = NULL;
        pgcm_error_t err;
        int64_t t0 = fixture_now_ms();
        int rc = pgcm_query(l->mgr, l->id,
                            "SELECT pg_backend_pid(), "
                            "current_setting('application_name')",
                            0, NULL, NULL, &r, &err);
        long long took = fixture_now_ms() - t0;
        if (took > atomic_load(&l->max_latency_ms))
            atomic_store(&l->max_latency_ms, took);
        if (rc == PGCM_OK) {
            int pid = atoi(pgcm_result_value(r, 0, 0));
            pthread_mutex_lock(&l->lock);
            snprintf(l->last_app, sizeof l->last_app, "%s",
                     pgcm_result_value(r, 0, 1));
            int seen = 0;
            for (int i = 0; i < l->npids; i++)
                seen |= l->pids[i] == pid;
            if (!seen && l->npids < MAX_PIDS)
                l->pids[l->npids++] = pid;
            pthread_mutex_unlock(&l->lock);
            atomic_fetch_add(&l->ok, 1);
        } else {
            if (-rc > 0 && -rc < MAX_CODES)
                atomic_fetch_add(&l->by_code[-rc], 1);
            else
                atomic_fetch_add(&l->other_code, 1);
            pthread_mutex_lock(&l->lock);
            if (rc != PGCM_ENOENT && l->first_error[0] == '\0')
                snprintf(l->first_error, sizeof l->first_error, "%s: %s",
                         pgcm_err_name(rc), err.message);
            pthread_mutex_unlock(&l->lock);
            /* an unknown id answers at once: do not spin */
            fixture_sleep_ms(rc == PGCM_ENOENT ? 5 : 1);
        }
        pgcm_result_free(r);
        fixture_sleep_ms(1);
    }
    return NULL;
}

static void load_start(pgcm_manager_t *mgr)
{
    for (int i = 0; i < NLOAD; i++) {
        load_t *l = &loads[i];
        memset(l, 0, sizeof *l);
        pthread_mutex_init(&l->lock, NULL);
        l->mgr = mgr;
        l->id = ids[i];
        assert_int_equal(pthread_create(&l->thread, NULL, load_main, l), 0);
        l->started = 1;
    }
}

/* Stop and join every load thread (also from the teardown). */
static void load_stop(void)
{
    for (int i = 0; i < NLOAD; i++)
        atomic_store(&loads[i].stop, 1);
    for (int i = 0; i < NLOAD; i++) {
        if (loads[i].started) {
            pthread_join(loads[i].thread, NULL);
            pthread_mutex_destroy(&loads[i].lock);
            loads[i].started = 0;
        }
    }
}

static int failures(load_t *l, int code)
{
    return atomic_load(&l->by_code[-code]);
}

static int failures_total(load_t *l)
{
    int n = atomic_load(&l->other_code);
    for (int i = 1; i < MAX_CODES; i++)
        n += atomic_load(&l->by_code[i]);
    return n;
}

/* Wait until node i's load has had `n` more successful queries. */
static void load_wait_ok(int i, int n, int timeout_ms)
{
    int target = atomic_load(&loads[i].ok) + n;
    int64_t deadline = fixture_now_ms() + timeout_ms;
    while (atomic_load(&loads[i].ok) < target) {
        if (fixture_now_ms() > deadline) {
            char first[600];
            pthread_mutex_lock(&loads[i].lock);
            snprintf(first, sizeof first, "%s", loads[i].first_error);
            pthread_mutex_unlock(&loads[i].lock);
            fail_msg("load on %s: %d successful queries, waited for %d; "
                     "first error: %s",
                     ids[i], atomic_load(&loads[i].ok), target, first);
        }
        fixture_sleep_ms(5);
    }
}

/* The failures of node i's load must all have one of the allowed codes. */
static void load_assert_only(int i, const int *allowed, size_t nallowed)
{
    load_t *l = &loads[i];
    int bad = atomic_load(&l->other_code);
    for (int c = 1; c < MAX_CODES; c++) {
        int ok = 0;
        for (size_t k = 0; k < nallowed; k++)
            ok |= allowed[k] == -c;
        if (!ok)
            bad += atomic_load(&l->by_code[c]);
    }
    if (bad != 0)
        fail_msg("load on %s: %d queries failed unexpectedly; first: %s", l->id,
                 bad, l->first_error);
}

/* ---- per-test state ------------------------------------------------------ */

/* The configurations of the running test (the fixture tracks its
 * manager); freed by the teardown if a failed assertion left them behind,
 * so one failure does not cascade. */
static rm_config_t *cfgs[3];

static int test_teardown(void **state)
{
    (void)state;
    load_stop();
    fixture_manager_free_all();
    for (size_t i = 0; i < sizeof cfgs / sizeof *cfgs; i++) {
        rm_config_free(cfgs[i]);
        cfgs[i] = NULL;
    }
    fixture_assert_no_connections(pg, NSERVERS, NULL);
    fixture_assert_no_connections(pg, NSERVERS, app_v2);
    return 0;
}

/* ---- helpers ------------------------------------------------------------- */

#define PIDS_MAX 256

/* The backend pids of application_name app on server s, sorted, as text
 * ("" when none), into out[PIDS_MAX]. Returns out. */
static char *server_pids(localpg_server_t *s, const char *app, char *out)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(string_agg(pid::text, ',' ORDER BY pid), '') "
             "FROM pg_stat_activity WHERE application_name = '%s'",
             app);
    char *v = fixture_exec(s, sql);
    snprintf(out, PIDS_MAX, "%s", v ? v : "");
    free(v);
    return out;
}

/* 1 if pid is one of the comma-separated pids in list. */
static int pid_in_list(int pid, const char *list)
{
    for (const char *p = list; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        if (v == pid)
            return 1;
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
}

static void wait_state(pgcm_manager_t *mgr, const char *id,
                       pgcm_node_state_t want, int timeout_ms)
{
    pgcm_health_t h;
    int64_t deadline = fixture_now_ms() + timeout_ms;
    for (;;) {
        assert_int_equal(pgcm_node_health(mgr, id, &h), PGCM_OK);
        if (h.state == want)
            return;
        if (fixture_now_ms() > deadline)
            fail_msg("node %s is %s after %d ms, expected %s; last error: %s",
                     id, pgcm_node_state_name(h.state), timeout_ms,
                     pgcm_node_state_name(want), h.last_error);
        fixture_sleep_ms(10);
    }
}

/* Wait until the pool of id has `total` open connections, all idle or in
 * use, none connecting (the pool is filled to min). */
static void wait_pool_total(pgcm_manager_t *mgr, const char *id, int total)
{
    pgcm_pool_stats_t st;
    int64_t deadline = fixture_now_ms() + 5000;
    do {
        assert_int_equal(pgcm_node_stats(mgr, id, &st), PGCM_OK);
        if (st.total == total && st.conns_opened == (uint64_t)total)
            return;
        fixture_sleep_ms(10);
    } while (fixture_now_ms() < deadline);
    fail_msg("pool %s: total %d, opened %llu; expected %d", id, st.total,
             (unsigned long long)st.conns_opened, total);
}

static void assert_node_list(pgcm_manager_t *mgr, const char *const *want,
                             size_t n)
{
    char **list = NULL;
    size_t count = 0;
    assert_int_equal(pgcm_node_list(mgr, &list, &count), PGCM_OK);
    char got[256] = "", exp[256] = "";
    for (size_t i = 0; i < count; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s",
                 i ? "," : "", list[i]);
    for (size_t i = 0; i < n; i++)
        snprintf(exp + strlen(exp), sizeof exp - strlen(exp), "%s%s",
                 i ? "," : "", want[i]);
    pgcm_strv_free(list);
    assert_string_equal(got, exp);
}

typedef struct query_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    int status;
} query_wait_t;

static void on_query(pgcm_result_t *r, void *user)
{
    query_wait_t *w = user;
    pthread_mutex_lock(&w->lock);
    w->status = pgcm_result_status(r);
    w->done = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pgcm_result_free(r);
}

/* SELECT pg_sleep(30) on node id, its answer to w, running on server
 * when this returns. */
static void start_sleep(pgcm_manager_t *mgr, const char *id,
                        localpg_server_t *server, query_wait_t *w)
{
    pgcm_error_t err;
    w->done = 0;
    int rc = pgcm_query_async(mgr, id, "SELECT pg_sleep(30)", 0, NULL, NULL,
                              on_query, w, NULL, &err);
    if (rc != PGCM_OK)
        fail_msg("SELECT pg_sleep(30) on %s: %s", id, err.message);
    fixture_wait_active(server, "SELECT pg_sleep(30)%", 1, 3000);
}

/* Wait for an async query at most timeout_ms; 1 if it completed. */
static int wait_query(query_wait_t *w, int timeout_ms)
{
    int64_t deadline = fixture_now_ms() + timeout_ms;
    pthread_mutex_lock(&w->lock);
    while (!w->done && fixture_now_ms() < deadline) {
        pthread_mutex_unlock(&w->lock);
        fixture_sleep_ms(10);
        pthread_mutex_lock(&w->lock);
    }
    int done = w->done;
    pthread_mutex_unlock(&w->lock);
    return done;
}

/* What must not change when an apply is rejected (or is a no-op). Every
 * pool is full by then (min == max, and at least one connection idle
 * between a load thread's queries), so it never opens or closes a
 * connection by itself. */
typedef struct snapshot {
    char pids[NSERVERS][2 * PIDS_MAX]; /* per server: app:pid,... */
    uint64_t opened[NSERVERS];         /* conns_opened per live node, or 0 */
    int64_t since[NSERVERS];           /* health.state_since_ms, or 0 */
} snapshot_t;

static void snapshot_take(pgcm_manager_t *mgr, snapshot_t *s)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(string_agg(application_name || ':' || pid, ',' "
             "ORDER BY application_name, pid), '') FROM pg_stat_activity "
             "WHERE application_name IN ('%s', '%s')",
             fixture_app_name(), app_v2);
    for (int i = 0; i < NSERVERS; i++) {
        char *v = fixture_exec(pg[i], sql);
        snprintf(s->pids[i], sizeof s->pids[i], "%s", v ? v : "");
        free(v);
        pgcm_pool_stats_t st;
        s->opened[i] =
            pgcm_node_stats(mgr, ids[i], &st) == PGCM_OK ? st.conns_opened : 0;
        pgcm_health_t h;
        s->since[i] =
            pgcm_node_health(mgr, ids[i], &h) == PGCM_OK ? h.state_since_ms : 0;
    }
}

static void snapshot_assert_same(pgcm_manager_t *mgr, const snapshot_t *before,
                                 const char *what)
{
    snapshot_t now;
    snapshot_take(mgr, &now);
    for (int i = 0; i < NSERVERS; i++) {
        if (strcmp(before->pids[i], now.pids[i]) != 0)
            fail_msg("%s: backends on %s's server changed: %s -> %s", what,
                     ids[i], before->pids[i], now.pids[i]);
        if (before->opened[i] != now.opened[i])
            fail_msg("%s: %s opened connections: %llu -> %llu", what, ids[i],
                     (unsigned long long)before->opened[i],
                     (unsigned long long)now.opened[i]);
        if (before->since[i] != now.since[i])
            fail_msg("%s: %s changed state (since %lld -> %lld)", what, ids[i],
                     (long long)before->since[i], (long long)now.since[i]);
    }
}

/* An apply that must be rejected whole: an error naming `needle`, and
 * nothing changed (node list, backends, connections opened). */
static void assert_apply_rejected(pgcm_manager_t *mgr,
                                  const pgcm_node_spec_t *list, size_t n,
                                  const char *needle,
                                  const char *const *running, size_t nrunning)
{
    static snapshot_t before;
    snapshot_take(mgr, &before);
    size_t added = 99, removed = 99, replaced = 99;
    pgcm_error_t err;
    int rc =
        pgcm_manager_apply(mgr, list, n, &added, &removed, &replaced, &err);
    if (rc == PGCM_OK)
        fail_msg("apply of an invalid list (%s) succeeded: added %zu, "
                 "removed %zu, replaced %zu",
                 needle, added, removed, replaced);
    assert_int_equal(err.code, rc);
    if (strstr(err.message, needle) == NULL)
        fail_msg("apply error does not mention \"%s\": %s", needle,
                 err.message);
    /* give a wrongly started change time to show */
    fixture_sleep_ms(200);
    assert_node_list(mgr, running, nrunning);
    snapshot_assert_same(mgr, &before, needle);
}

/* The nodes after beta was removed, gamma changed to a pool of 2..2 and
 * delta added: that list, beta gone with none of its connections left,
 * delta healthy, delta and gamma answering the load with full pools. */
static const char *const after_change[] = {"alpha", "gamma", "delta"};

static void assert_alpha_gamma_delta(pgcm_manager_t *mgr)
{
    assert_node_list(mgr, after_change, 3);
    pgcm_health_t h;
    assert_int_equal(pgcm_node_health(mgr, "beta", &h), PGCM_ENOENT);
    wait_state(mgr, "delta", PGCM_NODE_HEALTHY, 5000);
    load_wait_ok(DELTA, 30, 5000);
    load_wait_ok(GAMMA, 30, 5000);
    fixture_assert_no_connections(&pg[BETA], 1, NULL);
    pgcm_pool_stats_t st;
    assert_int_equal(pgcm_node_stats(mgr, "gamma", &st), PGCM_OK);
    assert_int_equal(st.min, 2);
    assert_int_equal(st.max, 2);
    wait_pool_total(mgr, "gamma", 2);
    wait_pool_total(mgr, "delta", 2);
}

/* ---- library-level reload ------------------------------------------------ */

static void test_apply_while_queries_run(void **state)
{
    (void)state;
    pgcm_node_spec_t specs[NSERVERS];
    for (int i = 0; i < NSERVERS; i++)
        fixture_node_spec(pg[i], ids[i], &specs[i]);
    /* Pools are full from the start (min == max), so they never need to
     * open a connection: any new one would be a reload's doing. */
    for (int i = 0; i < NSERVERS; i++) {
        specs[i].pool.min = 2;
        specs[i].pool.max = 2;
    }
    specs[GAMMA].pool.min = 1;
    specs[GAMMA].pool.max = 4;

    pgcm_error_t err;
    pgcm_manager_t *mgr = fixture_manager_start(NULL, specs, 3);
    for (int i = ALPHA; i <= GAMMA; i++)
        wait_state(mgr, ids[i], PGCM_NODE_HEALTHY, 5000);
    wait_pool_total(mgr, "alpha", 2);
    char alpha_pids[PIDS_MAX], pids_now[PIDS_MAX];
    server_pids(pg[ALPHA], fixture_app_name(), alpha_pids);
    assert_non_null(strchr(alpha_pids, ','));

    load_start(mgr);
    for (int i = ALPHA; i <= GAMMA; i++)
        load_wait_ok(i, 30, 5000);

    /* A long statement on beta, which the reload removes. */
    /* static: a failed assertion leaves the callback to the teardown */
    static query_wait_t slow = {PTHREAD_MUTEX_INITIALIZER,
                                PTHREAD_COND_INITIALIZER, 0, 0};
    start_sleep(mgr, "beta", pg[BETA], &slow);

    /* The new list: alpha as it was, beta gone, gamma changed, delta new. */
    pgcm_node_spec_t next[3] = {specs[ALPHA], specs[GAMMA], specs[DELTA]};
    next[1].pool.min = 2;
    next[1].pool.max = 2;
    next[1].application_name = app_v2;
    size_t added = 0, removed = 0, replaced = 0;
    int alpha_ok_before = atomic_load(&loads[ALPHA].ok);
    int64_t t0 = fixture_now_ms();
    int rc =
        pgcm_manager_apply(mgr, next, 3, &added, &removed, &replaced, &err);
    int64_t took = fixture_now_ms() - t0;
    if (rc != PGCM_OK)
        fail_msg("apply: %s", err.message);
    assert_int_equal(added, 1);
    assert_int_equal(removed, 1);
    assert_int_equal(replaced, 1);
    /* beta's statement was drained for remove_timeout_ms (1 s), then
     * cancelled: apply returns once beta's connections are closed. */
    assert_true(took >= 900);
    assert_true(took < 5000);
    assert_int_equal(wait_query(&slow, 3000), 1);
    assert_int_equal(slow.status, PGCM_ESHUTDOWN);
    /* alpha answered all along, also while apply waited for beta. */
    assert_true(atomic_load(&loads[ALPHA].ok) >= alpha_ok_before + 3);

    /* The new node list, the new nodes working under load, gamma's new
     * settings in force. */
    assert_alpha_gamma_delta(mgr);
    wait_state(mgr, "gamma", PGCM_NODE_HEALTHY, 5000);
    load_wait_ok(ALPHA, 30, 5000);

    /* gamma's old connections are gone. */
    pgcm_pool_stats_t st;
    pthread_mutex_lock(&loads[GAMMA].lock);
    assert_string_equal(loads[GAMMA].last_app, app_v2);
    pthread_mutex_unlock(&loads[GAMMA].lock);
    fixture_assert_no_connections(&pg[GAMMA], 1, NULL);
    assert_true(strlen(server_pids(pg[GAMMA], app_v2, pids_now)) > 0);

    /* alpha kept its pool: the same two backends, nothing opened or
     * closed, every answer from one of them. */
    assert_string_equal(server_pids(pg[ALPHA], fixture_app_name(), pids_now),
                        alpha_pids);
    assert_int_equal(pgcm_node_stats(mgr, "alpha", &st), PGCM_OK);
    assert_int_equal(st.conns_opened, 2);
    assert_int_equal(st.conns_closed, 0);
    pthread_mutex_lock(&loads[ALPHA].lock);
    for (int i = 0; i < loads[ALPHA].npids; i++) {
        if (!pid_in_list(loads[ALPHA].pids[i], alpha_pids))
            fail_msg("alpha answered from backend %d, not one of %s",
                     loads[ALPHA].pids[i], alpha_pids);
    }
    pthread_mutex_unlock(&loads[ALPHA].lock);

    /* Applying the same list again changes nothing. */
    static snapshot_t same;
    snapshot_take(mgr, &same);
    added = removed = replaced = 99;
    assert_int_equal(
        pgcm_manager_apply(mgr, next, 3, &added, &removed, &replaced, &err),
        PGCM_OK);
    assert_int_equal(added + removed + replaced, 0);
    fixture_sleep_ms(200);
    snapshot_assert_same(mgr, &same, "identical apply");

    /* Invalid lists are rejected whole, with the load still running. Each
     * would otherwise change something (remove delta, replace alpha, add
     * epsilon on beta's old server). */
    pgcm_node_spec_t bad[4];
    bad[0] = next[0];
    bad[0].application_name = app_v2; /* alpha changed */
    bad[1] = next[1];
    fixture_node_spec(pg[BETA], "epsilon", &bad[2]);
    bad[3] = bad[2];
    /* a duplicate id */
    assert_apply_rejected(mgr, bad, 4, "epsilon", after_change, 3);
    /* pool.max 0 */
    fixture_node_spec(pg[BETA], "zeta", &bad[3]);
    bad[3].pool.max = 0;
    bad[3].pool.min = 0;
    assert_apply_rejected(mgr, bad, 4, "zeta", after_change, 3);
    /* min above max */
    bad[3].pool.max = 2;
    bad[3].pool.min = 5;
    assert_apply_rejected(mgr, bad, 4, "zeta", after_change, 3);
    /* no id */
    bad[3].pool.min = 1;
    bad[3].id = NULL;
    assert_apply_rejected(mgr, bad, 4, "id", after_change, 3);
    pgcm_health_t h;
    assert_int_equal(pgcm_node_health(mgr, "epsilon", &h), PGCM_ENOENT);
    fixture_assert_no_connections(&pg[BETA], 1, NULL);
    fixture_assert_no_connections(&pg[BETA], 1, app_v2);
    load_wait_ok(ALPHA, 20, 5000);
    load_wait_ok(DELTA, 20, 5000);

    load_stop();
    /* alpha never failed, and the reload never stalled it (the bound is
     * loose for a loaded 2-core machine; a stall would be the drain's 1 s
     * or more on top of scheduling). */
    if (failures_total(&loads[ALPHA]) != 0)
        fail_msg("alpha: %d queries failed during the reload; first: %s",
                 failures_total(&loads[ALPHA]), loads[ALPHA].first_error);
    assert_true(atomic_load(&loads[ALPHA].max_latency_ms) < 5000);
    /* beta: finished, or refused once removed; never hung. */
    const int beta_ok[] = {PGCM_ESHUTDOWN, PGCM_ENOENT};
    load_assert_only(BETA, beta_ok, 2);
    assert_true(failures(&loads[BETA], PGCM_ENOENT) > 0);
    assert_true(atomic_load(&loads[BETA].max_latency_ms) < 6000);
    /* gamma: replaced under load; a drained statement may at most be cut
     * at the drain deadline. */
    const int gamma_ok[] = {PGCM_ESHUTDOWN};
    load_assert_only(GAMMA, gamma_ok, 1);
    assert_true(atomic_load(&loads[GAMMA].max_latency_ms) < 6000);
    /* delta: unknown until added, then fine. */
    const int delta_ok[] = {PGCM_ENOENT};
    load_assert_only(DELTA, delta_ok, 1);
    fixture_manager_free(mgr);
}

static void test_apply_to_empty_and_back(void **state)
{
    (void)state;
    /* An empty list removes everything; the same manager then takes a new
     * list; a list that is invalid in its last entry adds nothing. */
    pgcm_node_spec_t specs[NSERVERS];
    for (int i = 0; i < NSERVERS; i++)
        fixture_node_spec(pg[i], ids[i], &specs[i]);
    pgcm_error_t err;
    pgcm_manager_t *mgr = fixture_manager_start(NULL, specs, 2);
    size_t added, removed, replaced;
    assert_int_equal(
        pgcm_manager_apply(mgr, NULL, 0, &added, &removed, &replaced, &err),
        PGCM_OK);
    assert_int_equal(added, 0);
    assert_int_equal(removed, 2);
    assert_int_equal(replaced, 0);
    assert_node_list(mgr, NULL, 0);
    fixture_assert_no_connections(pg, NSERVERS, NULL);

    pgcm_node_spec_t bad[2] = {specs[GAMMA], specs[DELTA]};
    bad[1].port = 70000;
    assert_apply_rejected(mgr, bad, 2, "70000", NULL, 0);

    assert_int_equal(pgcm_manager_apply(mgr, &specs[GAMMA], 2, &added, &removed,
                                        &replaced, &err),
                     PGCM_OK);
    assert_int_equal(added, 2);
    assert_int_equal(removed, 0);
    assert_int_equal(replaced, 0);
    wait_state(mgr, "gamma", PGCM_NODE_HEALTHY, 5000);
    wait_state(mgr, "delta", PGCM_NODE_HEALTHY, 5000);
    pgcm_result_t *r = NULL;
    assert_int_equal(pgcm_query(mgr, "delta", "SELECT current_setting('port')",
                                0, NULL, NULL, &r, &err),
                     PGCM_OK);
    assert_int_equal(atoi(pgcm_result_value(r, 0, 0)), localpg_port(pg[DELTA]));
    pgcm_result_free(r);
    fixture_manager_free(mgr);
}

typedef struct done_wait {
    atomic_int done;
    atomic_int status;
} done_wait_t;

static void on_removed(int status, void *user)
{
    done_wait_t *w = user;
    atomic_store(&w->status, status);
    atomic_store(&w->done, 1);
}

static void test_apply_adds_id_still_draining(void **state)
{
    (void)state;
    /* A node removed with pgcm_node_remove_async is still draining (a
     * statement runs) when a reload lists its id again: that id is not in
     * the node list, so the reload adds it, and says so. */
    pgcm_node_spec_t spec;
    fixture_node_spec(pg[GAMMA], "gamma", &spec);
    pgcm_error_t err;
    pgcm_manager_t *mgr = fixture_manager_start(NULL, &spec, 1);
    static query_wait_t slow = {PTHREAD_MUTEX_INITIALIZER,
                                PTHREAD_COND_INITIALIZER, 0, 0};
    start_sleep(mgr, "gamma", pg[GAMMA], &slow);
    static done_wait_t removed_cb;
    atomic_store(&removed_cb.done, 0);
    assert_int_equal(
        pgcm_node_remove_async(mgr, "gamma", on_removed, &removed_cb, &err),
        PGCM_OK);
    /* the removal has begun (the id is gone) but the node still drains */
    int64_t deadline = fixture_now_ms() + 3000;
    pgcm_health_t h;
    while (pgcm_node_health(mgr, "gamma", &h) == PGCM_OK &&
           fixture_now_ms() < deadline)
        fixture_sleep_ms(5);
    assert_int_equal(pgcm_node_health(mgr, "gamma", &h), PGCM_ENOENT);
    assert_int_equal(atomic_load(&removed_cb.done), 0);

    size_t added = 99, removed = 99, replaced = 99;
    assert_int_equal(
        pgcm_manager_apply(mgr, &spec, 1, &added, &removed, &replaced, &err),
        PGCM_OK);
    const char *one[] = {"gamma"};
    assert_node_list(mgr, one, 1);
    wait_state(mgr, "gamma", PGCM_NODE_HEALTHY, 5000);
    assert_int_equal(wait_query(&slow, 5000), 1);
    assert_int_equal(slow.status, PGCM_ESHUTDOWN);
    deadline = fixture_now_ms() + 3000;
    while (!atomic_load(&removed_cb.done) && fixture_now_ms() < deadline)
        fixture_sleep_ms(10);
    assert_int_equal(atomic_load(&removed_cb.done), 1);
    assert_int_equal(atomic_load(&removed_cb.status), PGCM_OK);
    if (added != 1 || removed != 0 || replaced != 0)
        fail_msg("apply of a list naming an id that is not in the node list "
                 "(still draining): added %zu removed %zu replaced %zu, "
                 "expected 1 0 0",
                 added, removed, replaced);
    fixture_manager_free(mgr);
}

/* ---- configuration-level reload (replmon_config) ------------------------- */

static rm_config_t *parse_ok(const char *yaml, const char *name)
{
    rm_diags_t d;
    rm_diags_init(&d);
    rm_config_t *cfg = NULL;
    int rc = rm_config_parse_buffer(yaml, strlen(yaml), name, NULL, &cfg, &d);
    if (rc != PGCM_OK || d.errors != 0) {
        char line[512] = "";
        if (d.count > 0)
            rm_diag_format(&d.items[0], line, sizeof line);
        rm_diags_free(&d);
        fail_msg("%s does not parse (%s): %s", name, pgcm_err_name(rc), line);
    }
    rm_diags_free(&d);
    assert_non_null(cfg);
    return cfg;
}

/* An invalid configuration: refused with every problem reported as
 * NAME:LINE:COLUMN: ..., each line containing its needle. */
static void parse_refused(const char *yaml, const char *name,
                          const char *const *needles)
{
    rm_diags_t d;
    rm_diags_init(&d);
    int rc =
        rm_config_parse_buffer(yaml, strlen(yaml), name, NULL, &cfgs[2], &d);
    assert_int_equal(rc, PGCM_EINVAL);
    assert_null(cfgs[2]);
    size_t n = 0;
    while (needles[n] != NULL)
        n++;
    assert_true(d.errors >= n);
    for (size_t k = 0; k < n; k++) {
        int found = 0;
        char all[2048] = "";
        for (size_t i = 0; i < d.count && !found; i++) {
            char line[512];
            rm_diag_format(&d.items[i], line, sizeof line);
            snprintf(all + strlen(all), sizeof all - strlen(all), "\n  %s",
                     line);
            found = strncmp(line, name, strlen(name)) == 0 &&
                    d.items[i].line > 0 && strstr(line, needles[k]) != NULL;
        }
        if (!found)
            fail_msg("%s: no diagnostic with a position mentions \"%s\":%s",
                     name, needles[k], all);
    }
    rm_diags_free(&d);
}

static void test_reload_from_yaml(void **state)
{
    (void)state;
    const char *app = fixture_app_name();
    int port[NSERVERS];
    for (int i = 0; i < NSERVERS; i++)
        port[i] = localpg_port(pg[i]);

    char a[2048];
    snprintf(a, sizeof a,
             "# the running configuration\n"
             "manager:\n"
             "  remove_timeout: 1s\n"
             "nodes:\n"
             "  alpha: { host: 127.0.0.1, port: %d, database: postgres, "
             "user: postgres, application_name: %s, pool: { min: 2, max: 2 } "
             "}\n"
             "  beta:  { host: 127.0.0.1, port: %d, database: postgres, "
             "user: postgres, application_name: %s }\n"
             "  gamma: { host: 127.0.0.1, port: %d, database: postgres, "
             "user: postgres, application_name: %s, pool: { max: 4 } }\n"
             "clusters:\n"
             "  production: { nodes: [alpha, beta, gamma], default: true }\n",
             port[ALPHA], app, port[BETA], app, port[GAMMA], app);
    cfgs[0] = parse_ok(a, "a.yaml");

    const pgcm_node_spec_t *specs = NULL;
    size_t count = 0;
    pgcm_error_t err;
    assert_int_equal(
        rm_config_cluster_nodes(cfgs[0], NULL, &specs, &count, &err), PGCM_OK);
    assert_int_equal(count, 3);
    assert_int_equal(cfgs[0]->options.remove_timeout_ms, 1000);
    pgcm_manager_t *mgr =
        fixture_manager_start(&cfgs[0]->options, specs, count);
    for (int i = ALPHA; i <= GAMMA; i++)
        wait_state(mgr, ids[i], PGCM_NODE_HEALTHY, 5000);
    wait_pool_total(mgr, "alpha", 2);
    char alpha_pids[PIDS_MAX], pids_now[PIDS_MAX];
    server_pids(pg[ALPHA], app, alpha_pids);
    load_start(mgr);
    for (int i = ALPHA; i <= GAMMA; i++)
        load_wait_ok(i, 30, 5000);

    /* B says the same about alpha in another way (through defaults:),
     * drops beta, changes gamma's pool (min 1 max 4 -> min 2 max 2) and
     * adds delta. */
    char b[2048];
    snprintf(b, sizeof b,
             "manager:\n"
             "  remove_timeout: 1s\n"
             "defaults:\n"
             "  host: 127.0.0.1\n"
             "  database: postgres\n"
             "  user: postgres\n"
             "  application_name: %s\n"
             "  pool: { min: 2, max: 2 }\n"
             "nodes:\n"
             "  alpha:\n"
             "    port: %d\n"
             "  gamma:\n"
             "    port: %d\n"
             "    pool:\n"
             "      max: 2\n"
             "  delta: { port: \"%d\" }\n",
             app, port[ALPHA], port[GAMMA], port[DELTA]);
    cfgs[1] = parse_ok(b, "b.yaml");
    assert_int_equal(cfgs[1]->node_count, 3);
    size_t added = 0, removed = 0, replaced = 0;
    int rc = pgcm_manager_apply(mgr, cfgs[1]->nodes, cfgs[1]->node_count,
                                &added, &removed, &replaced, &err);
    if (rc != PGCM_OK)
        fail_msg("apply b.yaml: %s", err.message);
    assert_int_equal(added, 1);
    assert_int_equal(removed, 1);
    assert_int_equal(replaced, 1);
    /* The manager copied what it needs: the old configuration can go. */
    rm_config_free(cfgs[0]);
    cfgs[0] = NULL;

    assert_alpha_gamma_delta(mgr);
    pgcm_pool_stats_t st;
    assert_int_equal(pgcm_node_stats(mgr, "alpha", &st), PGCM_OK);
    assert_int_equal(st.conns_opened, 2);
    assert_int_equal(st.conns_closed, 0);
    assert_string_equal(server_pids(pg[ALPHA], app, pids_now), alpha_pids);

    /* C is invalid: the parser refuses it with every problem, and the
     * running configuration stays. */
    static snapshot_t before;
    snapshot_take(mgr, &before);
    char c[2048];
    snprintf(c, sizeof c,
             "defaults:\n"
             "  host: 127.0.0.1\n"
             "  user: postgres\n"
             "nodes:\n"
             "  alpha: { port: %d, pool: { min: 5, max: 2 } }\n"
             "  delta: { port: 70000 }\n"
             "  epsilon: { prot: %d }\n"
             "clusters:\n"
             "  production: { nodes: [alpha, zz] }\n",
             port[ALPHA], port[BETA]);
    const char *c_needles[] = {"nodes.alpha.pool", "nodes.delta.port",
                               "nodes.epsilon.prot", "zz", NULL};
    parse_refused(c, "c.yaml", c_needles);
    /* Broken YAML: refused at the parser, with a position. */
    const char *broken = "nodes:\n"
                         "  alpha: { port: 5432\n"
                         "  beta: [\n";
    const char *broken_needles[] = {"", NULL};
    parse_refused(broken, "broken.yaml", broken_needles);
    fixture_sleep_ms(200);
    assert_node_list(mgr, after_change, 3);
    snapshot_assert_same(mgr, &before, "rejected configuration");

    load_stop();
    if (failures_total(&loads[ALPHA]) != 0)
        fail_msg("alpha: %d queries failed during the reload; first: %s",
                 failures_total(&loads[ALPHA]), loads[ALPHA].first_error);
    const int beta_ok[] = {PGCM_ESHUTDOWN, PGCM_ENOENT};
    load_assert_only(BETA, beta_ok, 2);
    assert_true(atomic_load(&loads[BETA].max_latency_ms) < 6000);
    const int gamma_ok[] = {PGCM_ESHUTDOWN};
    load_assert_only(GAMMA, gamma_ok, 1);
    const int delta_ok[] = {PGCM_ENOENT};
    load_assert_only(DELTA, delta_ok, 1);
    fixture_manager_free(mgr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_apply_while_queries_run, test_teardown),
        cmocka_unit_test_teardown(test_apply_to_empty_and_back, test_teardown),
        cmocka_unit_test_teardown(test_apply_adds_id_still_draining,
                                  test_teardown),
        cmocka_unit_test_teardown(test_reload_from_yaml, test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, fixture_group_teardown);
}
