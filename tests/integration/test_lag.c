/* SPDX-License-Identifier: MIT */
/*
 * test_lag.c - lag that tells the truth, on real servers (PostgreSQL 15, or
 * REPLMON_TEST_PG_MAJOR):
 *   - a standby paused for 2 s after the primary was idle: its replay delay
 *     does not count the idle time (from the rounds replmon keeps, and in
 *     one round from the primary's walsender or commit timestamps), and
 *     says which method gave it;
 *   - a frozen standby and a frozen apply worker with megabytes
 *     outstanding: the byte thresholds trip, and the time lag is the age of
 *     the last reply (12+), not the walsender's frozen replay_lag.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "collect.h"
#include "evaluate.h"
#include "fixture.h"

static int major;
static rm_rounds_t *h; /* the running test's rounds */

static int group_setup(void **state)
{
    (void)state;
    major = fixture_test_major() > 0 ? fixture_test_major() : 15;
    return 0;
}

static int test_teardown(void **state)
{
    (void)state;
    fixture_manager_free_all();
    fixture_stop_all();
    rm_rounds_free(h);
    h = NULL;
    return 0;
}

/* A manager over n servers as postgres (their ids in ids). */
static pgcm_manager_t *manager_for(localpg_server_t *const *servers,
                                   const char *const *ids, size_t n,
                                   rm_target_node_t *targets)
{
    pgcm_node_spec_t specs[4];
    for (size_t i = 0; i < n; i++) {
        fixture_node_spec(servers[i], ids[i], &specs[i]);
        targets[i].id = ids[i];
        targets[i].host = localpg_host(servers[i]);
        targets[i].port = localpg_port(servers[i]);
    }
    return fixture_manager_start(NULL, specs, n);
}

static rm_snapshot_t *collect(pgcm_manager_t *mgr,
                              const rm_target_node_t *targets, size_t n,
                              rm_rounds_t *history, int timeout_ms)
{
    rm_collect_options_t opts;
    memset(&opts, 0, sizeof opts);
    opts.query_timeout_ms = timeout_ms;
    opts.rounds = history;
    rm_snapshot_t *snap = NULL;
    char err[256];
    if (rm_collect(mgr, targets, n, &opts, &snap, err, sizeof err) != 0)
        fail_msg("rm_collect: %s", err);
    return snap;
}

static const rm_node_t *node(const rm_snapshot_t *snap, const char *id)
{
    const rm_node_t *n = rm_snapshot_node(snap, id);
    if (n == NULL)
        fail_msg("no node %s in the snapshot", id);
    return n;
}

/* The finding of node whose message contains needle, or NULL. */
static const rm_reason_t *finding(const rm_eval_t *ev, const char *id,
                                  const char *needle)
{
    for (size_t i = 0; i < ev->nreasons; i++)
        if (strcmp(ev->reasons[i].node, id) == 0 &&
            strstr(ev->reasons[i].message, needle))
            return &ev->reasons[i];
    return NULL;
}

static double server_seconds(localpg_server_t *s, const char *sql)
{
    char *v = fixture_exec(s, sql);
    double d = v ? atof(v) : NAN;
    free(v);
    return d;
}

/* ---- a paused standby after idle time -------------------------------- */

static void test_paused_standby_after_idle(void **state)
{
    (void)state;
    static const char *const conf[] = {"track_commit_timestamp = on", NULL};
    localpg_options_t o;
    localpg_options_init(&o);
    o.name = "primary";
    o.conf_lines = conf;
    o.bindir = fixture_require_pg(major);
    localpg_server_t *pri = fixture_start(1, &o)[0];
    free(fixture_exec(pri, "CREATE TABLE w (x int)"));
    localpg_options_init(&o);
    o.name = "standby";
    o.standby_of = pri;
    localpg_server_t *sb = fixture_start(1, &o)[0];
    /* A commit the standby replays (the copy replayed none). */
    free(fixture_exec(pri, "INSERT INTO w VALUES (1)"));
    fixture_wait_value(sb, "SELECT count(*) FROM w", "1", 20000);

    localpg_server_t *servers[2] = {pri, sb};
    static const char *const ids[2] = {"primary", "standby"};
    rm_target_node_t targets[2];
    pgcm_manager_t *mgr = manager_for(servers, ids, 2, targets);
    h = rm_rounds_new(64);
    assert_non_null(h);

    /* The primary is idle for 6 s while replmon keeps rounds... */
    int64_t idle_until = fixture_now_ms() + 6000;
    while (fixture_now_ms() < idle_until) {
        rm_snapshot_free(collect(mgr, targets, 2, h, 5000));
        fixture_sleep_ms(300);
    }
    /* ... then the standby's replay is paused and the primary commits. */
    free(fixture_exec(sb, "SELECT pg_wal_replay_pause()"));
    free(fixture_exec(pri, "INSERT INTO w VALUES (2)"));
    int64_t written = fixture_now_ms();
    while (fixture_now_ms() < written + 2000) {
        rm_snapshot_free(collect(mgr, targets, 2, h, 5000));
        fixture_sleep_ms(300);
    }
    /* What the standby alone says counts the idle time. */
    double last_commit = server_seconds(sb, "SELECT extract(epoch FROM now() - "
                                            "pg_last_xact_replay_timestamp())");
    assert_true(last_commit >= 7.5);

    rm_snapshot_t *snap = collect(mgr, targets, 2, h, 5000);
    const rm_receiver_t *r = &node(snap, "standby")->receiver;
    double waited = (double)(fixture_now_ms() - written) / 1000.0;
    print_message("rounds: replay delay %.2f s by %s (waited %.2f s, last "
                  "replayed commit %.2f s ago)\n",
                  r->replay_delay_seconds, r->replay_delay_method, waited,
                  last_commit);
    assert_int_equal(r->paused, 1);
    assert_true(r->replay_backlog_bytes > 0);
    assert_string_equal(r->replay_delay_method, RM_LAG_ROUNDS);
    /* Within one round (300 ms plus a round) of the truth. */
    assert_true(r->replay_delay_seconds >= 1.0);
    assert_true(r->replay_delay_seconds <= waited + 0.1);
    rm_thresholds_t t;
    rm_thresholds_default(&t);
    rm_eval_t ev;
    assert_int_equal(rm_evaluate(snap, &t, &ev), 0);
    assert_non_null(finding(&ev, "standby", "WAL replay is paused"));
    assert_null(finding(&ev, "standby", "replay on this standby lags"));
    rm_eval_free(&ev);
    rm_snapshot_free(snap);

    /* One round alone (status): replay is paused, so the walsender's
     * figure has stopped; the primary's last commit (commit timestamps)
     * and the receiver's latest_end_time both say about 2 s, never the
     * idle time. */
    snap = collect(mgr, targets, 2, NULL, 5000);
    r = &node(snap, "standby")->receiver;
    print_message("one round: replay delay %.2f s by %s\n",
                  r->replay_delay_seconds, r->replay_delay_method);
    assert_non_null(r->replay_delay_method);
    assert_true(strcmp(r->replay_delay_method, RM_LAG_PRIMARY_COMMIT) == 0 ||
                strcmp(r->replay_delay_method, RM_LAG_LATEST_END) == 0);
    assert_true(r->replay_delay_seconds >= 1.0);
    assert_true(r->replay_delay_seconds < 5.0);
    rm_snapshot_free(snap);

    /* Resumed: nothing to replay, 0. */
    free(fixture_exec(sb, "SELECT pg_wal_replay_resume()"));
    fixture_wait_value(sb, "SELECT count(*) FROM w", "2", 20000);
    snap = collect(mgr, targets, 2, NULL, 5000);
    r = &node(snap, "standby")->receiver;
    assert_true(r->replay_delay_seconds == 0.0);
    assert_string_equal(r->replay_delay_method, RM_LAG_CAUGHT_UP);
    rm_snapshot_free(snap);
}

/* ---- frozen downstreams with megabytes outstanding --------------------- */

/* About 6 MB of WAL on pub, in table t (published to sub). */
static void write_megabytes(localpg_server_t *pub)
{
    free(fixture_exec(pub, "INSERT INTO t SELECT g, repeat('x', 500) FROM "
                           "generate_series(1000, 11000) g"));
}

/* A downstream frozen with about 6 MB outstanding: the bytes trip the
 * default warning on node id (the finding starts with what), and from 12
 * on its time lag is the age of its last reply. Frees snap. */
static void expect_frozen(rm_snapshot_t *snap, const char *id, const char *what,
                          int64_t bytes, double seconds, const char *method)
{
    assert_true(bytes >= 4 << 20);
    if (major >= 12) {
        assert_string_equal(method, RM_LAG_REPLY_AGE);
        assert_true(seconds >= 2.0);
    }
    rm_thresholds_t t;
    rm_thresholds_default(&t);
    rm_eval_t ev;
    assert_int_equal(rm_evaluate(snap, &t, &ev), 0);
    const rm_reason_t *f = finding(&ev, id, what);
    assert_non_null(f);
    assert_non_null(strstr(f->message, "behind (warning at 1.0 MB)"));
    assert_int_equal(f->status, RM_STATUS_WARNING);
    rm_eval_free(&ev);
    rm_snapshot_free(snap);
}

static void test_frozen_standby(void **state)
{
    (void)state;
    fixture_cluster_t cl;
    fixture_cluster_start(&cl, major, major, 1);
    localpg_server_t *servers[2] = {cl.pub, cl.standby};
    static const char *const ids[2] = {"pub", "standby"};
    rm_target_node_t targets[2];
    pgcm_manager_t *mgr = manager_for(servers, ids, 2, targets);

    assert_int_equal(localpg_freeze(cl.standby), 0);
    write_megabytes(cl.pub);
    fixture_sleep_ms(2500);
    rm_snapshot_t *snap = collect(mgr, targets, 2, NULL, 1500);
    assert_int_equal(localpg_thaw(cl.standby), 0);
    const rm_node_t *pub = node(snap, "pub");
    assert_int_equal(pub->nstandbys, 1);
    const rm_standby_t *s = &pub->standbys[0];
    print_message("frozen standby: %lld bytes behind, %lld unacknowledged, "
                  "time lag %.2f s by %s (replay_lag %.3f s)\n",
                  (long long)s->replay_bytes, (long long)s->unacked_bytes,
                  s->lag_seconds, s->lag_method ? s->lag_method : "-",
                  s->replay_lag_seconds);
    expect_frozen(snap, "pub", "standby standby is", s->replay_bytes,
                  s->lag_seconds, s->lag_method);
}

static void test_frozen_apply_worker(void **state)
{
    (void)state;
    fixture_cluster_t cl;
    fixture_cluster_start(&cl, major, major, 0);
    localpg_server_t *servers[2] = {cl.pub, cl.sub};
    static const char *const ids[2] = {"pub", "sub"};
    rm_target_node_t targets[2];
    pgcm_manager_t *mgr = manager_for(servers, ids, 2, targets);

    /* The apply worker is a child of our own subscriber: stopped by pid. */
    char *v = fixture_exec(cl.sub, "SELECT pid FROM pg_stat_subscription "
                                   "WHERE subname = 's' AND relid IS NULL");
    assert_non_null(v);
    pid_t worker = (pid_t)atoi(v);
    free(v);
    assert_true(worker > 0);
    assert_int_equal(kill(worker, SIGSTOP), 0);
    write_megabytes(cl.pub);
    fixture_sleep_ms(2500);
    /* The frozen worker is the subscriber's: its views still answer. */
    rm_snapshot_t *snap = collect(mgr, targets, 2, NULL, 5000);
    kill(worker, SIGCONT);
    const rm_node_t *sub = node(snap, "sub");
    const rm_subscription_t *s = NULL;
    for (size_t i = 0; i < sub->nsubs; i++)
        if (strcmp(sub->subs[i].name, "s") == 0)
            s = &sub->subs[i];
    assert_non_null(s);
    print_message("frozen apply worker: %lld bytes behind, time lag %.2f s "
                  "by %s\n",
                  (long long)s->lag_bytes, s->lag_seconds,
                  s->lag_method ? s->lag_method : "-");
    expect_frozen(snap, "sub", "subscription s is", s->lag_bytes,
                  s->lag_seconds, s->lag_method);
    /* Thawed, it catches up: no byte finding any more. */
    fixture_wait_value(cl.sub, "SELECT count(*) > 10000 FROM t", "t", 30000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_paused_standby_after_idle,
                                  test_teardown),
        cmocka_unit_test_teardown(test_frozen_standby, test_teardown),
        cmocka_unit_test_teardown(test_frozen_apply_worker, test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
