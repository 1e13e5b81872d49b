/* SPDX-License-Identifier: MIT */
/*
 * test_versions.c - the version matrix: one replicating cluster
 * (tests/tools/cluster.h: publisher, copied standby, subscriber, an
 * inactive slot, a disabled subscription, pg_monitor-only roles) on one
 * PostgreSQL version, or a publisher and a subscriber of two versions, and
 * every section of a collection round checked against what the servers'
 * own views say, as the superuser and as each monitoring role (one with a
 * scram-sha-256 password, one with md5: this libpq against old servers);
 * and, as a role without pg_monitor, UNKNOWN with the GRANT that fixes it
 * where a view is masked, while the readable sections still report.
 *
 * The version comes from the environment (tests/integration/CMakeLists.txt
 * registers one test per version and pair):
 *   REPLMON_TEST_PG_MAJOR=N       everything on N (default 15)
 *   REPLMON_TEST_PG_PAIR=P,S      publisher and standby on P, subscriber S
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "collect.h"
#include "evaluate.h"
#include "fixture.h"

static fixture_cluster_t cl;

static int group_setup(void **state)
{
    (void)state;
    int pub = 15, sub = 15;
    const char *pair = getenv("REPLMON_TEST_PG_PAIR");
    if (pair != NULL && *pair != '\0') {
        if (sscanf(pair, "%d,%d", &pub, &sub) != 2)
            fail_msg("REPLMON_TEST_PG_PAIR=%s is not PUB,SUB (e.g. 17,12)",
                     pair);
    } else if (fixture_test_major() > 0) {
        pub = sub = fixture_test_major();
    }
    print_message("version matrix: publisher and standby on %d, subscriber "
                  "on %d\n",
                  pub, sub);
    fixture_cluster_start(&cl, pub, sub, 1);
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

/* The first value of sql on s (superuser, Unix socket), "" for NULL. */
static void server_value(localpg_server_t *s, const char *sql, char *out,
                         size_t len)
{
    char *v = fixture_exec(s, sql);
    snprintf(out, len, "%s", v ? v : "");
    free(v);
}

static int64_t server_int(localpg_server_t *s, const char *sql)
{
    char v[64];
    server_value(s, sql, v, sizeof v);
    return v[0] ? strtoll(v, NULL, 10) : RM_NONE;
}

/* One round over the cluster as user, through libpgcm over TCP. */
static rm_snapshot_t *collect_as(const char *user, const char *password)
{
    localpg_server_t *servers[3] = {cl.pub, cl.standby, cl.sub};
    static const char *ids[3] = {"pub", "standby", "sub"};
    pgcm_node_spec_t specs[3];
    rm_target_node_t targets[3];
    for (int i = 0; i < 3; i++) {
        fixture_node_spec(servers[i], ids[i], &specs[i]);
        specs[i].user = user;
        specs[i].password = password;
        targets[i].id = ids[i];
        targets[i].host = localpg_host(servers[i]);
        targets[i].port = localpg_port(servers[i]);
    }
    pgcm_manager_t *mgr = fixture_manager_start(NULL, specs, 3);
    for (int i = 0; i < 3; i++) {
        pgcm_health_t h;
        assert_int_equal(pgcm_node_health(mgr, ids[i], &h), PGCM_OK);
        if (h.state != PGCM_NODE_HEALTHY)
            fail_msg("%s as %s is %s: %s", ids[i], user,
                     pgcm_node_state_name(h.state), h.last_error);
    }
    rm_collect_options_t opts;
    memset(&opts, 0, sizeof opts);
    opts.query_timeout_ms = 10000;
    rm_snapshot_t *snap = NULL;
    char err[256];
    if (rm_collect(mgr, targets, 3, &opts, &snap, err, sizeof err) != 0)
        fail_msg("rm_collect as %s: %s", user, err);
    fixture_manager_free(mgr);
    return snap;
}

static const rm_node_t *node(const rm_snapshot_t *snap, const char *id)
{
    const rm_node_t *n = rm_snapshot_node(snap, id);
    if (n == NULL)
        fail_msg("no node %s in the snapshot", id);
    return n;
}

static void expect_str(const char *what, const char *got, const char *want)
{
    if (got == NULL || strcmp(got, want) != 0)
        fail_msg("%s is %s, the server says %s", what, got ? got : "NULL",
                 want);
}

static void expect_int(const char *what, int64_t got, int64_t want)
{
    if (got != want)
        fail_msg("%s is %lld, the server says %lld", what, (long long)got,
                 (long long)want);
}

/* Every section of n read without an error; the receiver only on a
 * standby, pglogical's never (not installed). */
static void expect_sections_ok(const rm_node_t *n, const char *user)
{
    if (!n->reachable || !n->have_facts)
        fail_msg("%s as %s: no facts: %s", n->id, user, n->error);
    for (int s = 0; s < RM_SQL_SECTION_COUNT; s++) {
        rm_section_state_t want = RM_SECTION_OK;
        if (s == RM_SQL_RECEIVER && !n->in_recovery)
            want = RM_SECTION_SKIPPED;
        /* pglogical: auto, and these servers do not have the extension. */
        if (s == RM_SQL_PGLOGICAL)
            want = RM_SECTION_SKIPPED;
        if (n->sections[s].state != want)
            fail_msg("%s as %s (PostgreSQL %d): section %s is %s, want %s: %s",
                     n->id, user, n->server_version / 10000,
                     rm_sql_section_name((rm_sql_section_t)s),
                     rm_section_state_name(n->sections[s].state),
                     rm_section_state_name(want), n->sections[s].error);
    }
}

/* ---- per section -------------------------------------------------------- */

static void check_facts(const rm_node_t *n, localpg_server_t *s,
                        int in_recovery, const char *roles)
{
    char v[64], r[64];
    int64_t num = server_int(s, "SHOW server_version_num");
    expect_int("server_version", n->server_version, num);
    expect_int("sql_major", n->sql_major,
               num / 10000 > rm_sql_newest_major() ? rm_sql_newest_major()
                                                   : num / 10000);
    expect_int("in_recovery", n->in_recovery, in_recovery);
    server_value(s, "SHOW wal_level", v, sizeof v);
    expect_str("wal_level", n->wal_level, v);
    uint64_t lsn;
    assert_int_equal(rm_lsn_parse(n->current_lsn, &lsn), 0);
    rm_roles_format(rm_node_roles(n), r, sizeof r);
    expect_str("roles", r, roles);
    expect_int("slot count", n->slot_count,
               server_int(s, "SELECT count(*) FROM pg_replication_slots"));
    assert_int_equal(n->can_read_stats, 1);
}

static const rm_slot_t *find_slot(const rm_node_t *n, const char *name)
{
    for (size_t i = 0; i < n->nslots; i++)
        if (n->slots[i].name && strcmp(n->slots[i].name, name) == 0)
            return &n->slots[i];
    fail_msg("%s has no slot %s in the snapshot", n->id, name);
    return NULL;
}

static void check_slots(const rm_node_t *n, localpg_server_t *s)
{
    char v[512], what[96];
    int major = localpg_major(s);
    server_value(s,
                 "SELECT string_agg(slot_name || ':' || slot_type || ':' || "
                 "active || ':' || temporary, ',' ORDER BY slot_name) FROM "
                 "pg_replication_slots",
                 v, sizeof v);
    char got[512] = "";
    for (size_t i = 0; i < n->nslots; i++) {
        const rm_slot_t *sl = &n->slots[i];
        char one[128];
        snprintf(one, sizeof one, "%s%s:%s:%s:%s", i ? "," : "", sl->name,
                 sl->type, sl->active == 1 ? "true" : "false",
                 sl->temporary == 1 ? "true" : "false");
        strncat(got, one, sizeof got - strlen(got) - 1);
    }
    expect_str("slots", got, v);

    const rm_slot_t *idle = find_slot(n, "idle_slot");
    expect_str("idle_slot plugin", idle->plugin, "pgoutput");
    expect_str("idle_slot database", idle->database, "postgres");
    server_value(s,
                 "SELECT restart_lsn || ' ' || confirmed_flush_lsn FROM "
                 "pg_replication_slots WHERE slot_name = 'idle_slot'",
                 v, sizeof v);
    snprintf(got, sizeof got, "%s %s", idle->restart_lsn,
             idle->confirmed_flush_lsn);
    expect_str("idle_slot restart and confirmed LSN", got, v);
    assert_true(idle->retained_bytes >= 0 && idle->retained_bytes != RM_NONE);
    assert_true(idle->catalog_xmin_age != RM_NONE);
    if (major >= 13) {
        server_value(s,
                     "SELECT wal_status FROM pg_replication_slots WHERE "
                     "slot_name = 'idle_slot'",
                     v, sizeof v);
        expect_str("idle_slot wal_status", idle->wal_status, v);
    } else {
        assert_null(idle->wal_status);
    }
    expect_int("idle_slot conflicting", idle->conflicting,
               major >= 16 ? 0 : -1);
    assert_true(major >= 17 ? !isnan(idle->inactive_seconds)
                            : isnan(idle->inactive_seconds));

    /* The walsenders serving the active slots. */
    const rm_slot_t *sub = find_slot(n, "s");
    const rm_slot_t *phys = find_slot(n, "standby_slot");
    snprintf(what, sizeof what, "slot s sender");
    expect_str(what, sub->sender_application_name, "s");
    expect_str("slot s sender state", sub->sender_state, "streaming");
    expect_str("standby_slot type", phys->type, "physical");
    expect_str("standby_slot sender", phys->sender_application_name, "standby");
    expect_int("standby_slot active pid", phys->active_pid,
               server_int(s, "SELECT active_pid FROM pg_replication_slots "
                             "WHERE slot_name = 'standby_slot'"));
}

static const rm_subscription_t *find_sub(const rm_node_t *n, const char *name)
{
    for (size_t i = 0; i < n->nsubs; i++)
        if (n->subs[i].name && strcmp(n->subs[i].name, name) == 0)
            return &n->subs[i];
    fail_msg("%s has no subscription %s in the snapshot", n->id, name);
    return NULL;
}

static void check_subscriptions(const rm_node_t *n, localpg_server_t *s)
{
    int major = localpg_major(s);
    expect_int("subscriptions", (int64_t)n->nsubs,
               server_int(s, "SELECT count(*) FROM pg_subscription"));
    const rm_subscription_t *on = find_sub(n, "s");
    const rm_subscription_t *off = find_sub(n, "s_off");
    expect_int("s enabled", on->enabled, 1);
    expect_str("s state", rm_subscription_state(on), "streaming");
    expect_int("s worker pid", on->worker_pid,
               server_int(s, "SELECT pid FROM pg_stat_subscription WHERE "
                             "subname = 's' AND relid IS NULL"));
    expect_str("s slot", on->slot_name, "s");
    expect_str("s publications", on->publications, "p");
    expect_int("s tables", on->tables_total, 1);
    expect_int("s tables ready", on->tables_ready, 1);
    expect_int("s sync workers", on->sync_workers, 0);
    assert_true(on->received_lsn[0] != '\0');
    expect_str("s publisher", on->publisher, "pub");
    assert_true(on->lag_bytes != RM_NONE && on->lag_bytes >= 0);
    expect_int("s apply errors", on->apply_error_count,
               major >= 15 ? 0 : RM_NONE);

    expect_int("s_off enabled", off->enabled, 0);
    expect_str("s_off state", rm_subscription_state(off), "disabled");
    expect_int("s_off worker", off->worker_pid, RM_NONE);
    expect_str("s_off slot", off->slot_name, "idle_slot");
    expect_int("s_off tables", off->tables_total, 0);
    expect_str("s_off publisher", off->publisher, "pub");
    assert_true(off->lag_bytes != RM_NONE && off->lag_bytes >= 0);
}

static void check_standbys(const rm_node_t *n, localpg_server_t *s)
{
    expect_int("physical walsenders", (int64_t)n->nstandbys, 1);
    const rm_standby_t *sb = &n->standbys[0];
    expect_str("standby application_name", sb->application_name, "standby");
    expect_int("standby pid", sb->pid,
               server_int(s, "SELECT pid FROM pg_stat_replication WHERE "
                             "application_name = 'standby'"));
    expect_str("standby state", sb->state, "streaming");
    expect_str("standby sync_state", sb->sync_state, "async");
    expect_str("standby client_addr", sb->client_addr, "127.0.0.1");
    assert_true(sb->replay_lsn[0] != '\0');
    assert_true(sb->replay_bytes != RM_NONE && sb->replay_bytes >= 0);
    assert_true(localpg_major(s) >= 12 ? !isnan(sb->reply_age_seconds)
                                       : isnan(sb->reply_age_seconds));
}

static void check_receiver(const rm_node_t *n, localpg_server_t *s)
{
    const rm_receiver_t *r = &n->receiver;
    int major = localpg_major(s);
    assert_true(r->present);
    expect_str("receiver status", r->status, "streaming");
    expect_str("receiver slot", r->slot_name, "standby_slot");
    if (major >= 11) {
        expect_str("receiver sender_host", r->sender_host, "127.0.0.1");
        expect_int("receiver sender_port", r->sender_port,
                   localpg_port(cl.pub));
    } else {
        expect_int("receiver sender_port", r->sender_port, RM_NONE);
    }
    expect_str("receiver upstream", r->primary, "pub");
    assert_true(r->lag_bytes != RM_NONE && r->lag_bytes >= 0);
    expect_int("receiver paused", r->paused, 0);
    assert_true(r->replay_backlog_bytes != RM_NONE);
    assert_true(r->written_lsn[0] != '\0' || major < 13);
    char v[64];
    server_value(s, "SELECT status FROM pg_stat_wal_receiver", v, sizeof v);
    expect_str("receiver status (server)", r->status, v);
}

/* The findings: the inactive slot on pub and the disabled subscription on
 * sub, each a WARNING, nothing else; never a note that a section could not
 * be read. */
static void check_findings(const rm_snapshot_t *snap, const char *user)
{
    rm_thresholds_t t;
    rm_thresholds_default(&t);
    rm_eval_t ev;
    assert_int_equal(rm_evaluate(snap, &t, &ev), 0);
    int slot_warning = 0, sub_warning = 0;
    for (size_t i = 0; i < ev.nreasons; i++) {
        const rm_reason_t *r = &ev.reasons[i];
        if (strcmp(r->node, "pub") == 0 && r->status == RM_STATUS_WARNING &&
            strstr(r->message, "slot idle_slot is inactive"))
            slot_warning++;
        else if (strcmp(r->node, "sub") == 0 &&
                 r->status == RM_STATUS_WARNING &&
                 strstr(r->message, "subscription s_off is disabled"))
            sub_warning++;
        else
            fail_msg("as %s: unexpected finding on %s: %s %s", user, r->node,
                     rm_status_name(r->status), r->message);
    }
    assert_int_equal(slot_warning, 1);
    assert_int_equal(sub_warning, 1);
    assert_int_equal(ev.status, RM_STATUS_WARNING);
    rm_eval_free(&ev);
}

static void check_all_as(const char *user, const char *password)
{
    rm_snapshot_t *snap = collect_as(user, password);
    const rm_node_t *pub = node(snap, "pub");
    const rm_node_t *sb = node(snap, "standby");
    const rm_node_t *sub = node(snap, "sub");
    expect_sections_ok(pub, user);
    expect_sections_ok(sb, user);
    expect_sections_ok(sub, user);
    check_facts(pub, cl.pub, 0, "primary,publisher");
    check_facts(sb, cl.standby, 1, "standby");
    check_facts(sub, cl.sub, 0, "primary,subscriber");
    check_slots(pub, cl.pub);
    check_subscriptions(sub, cl.sub);
    check_standbys(pub, cl.pub);
    check_receiver(sb, cl.standby);
    check_findings(snap, user);
    rm_snapshot_free(snap);
}

/* ---- tests -------------------------------------------------------------- */

static void test_superuser(void **state)
{
    (void)state;
    check_all_as("postgres", CLUSTER_SUPER_PW);
}

static void test_monitor_role_scram(void **state)
{
    (void)state;
    check_all_as("mon_scram", CLUSTER_MON_PW);
}

static void test_monitor_role_md5(void **state)
{
    (void)state;
    char v[64];
    server_value(cl.pub,
                 "SELECT left(rolpassword, 3) FROM pg_authid WHERE rolname = "
                 "'mon_md5'",
                 v, sizeof v);
    assert_string_equal(v, "md5");
    check_all_as("mon_md5", CLUSTER_MON_PW);
}

/* A role without pg_monitor: what it cannot read makes its node UNKNOWN
 * with the GRANT that fixes it, and what it can read still reports its
 * findings (the disabled subscription). */
static void test_plain_role(void **state)
{
    (void)state;
    rm_snapshot_t *snap = collect_as("plain", CLUSTER_MON_PW);
    const rm_node_t *pub = node(snap, "pub");
    const rm_node_t *sb = node(snap, "standby");
    const rm_node_t *sub = node(snap, "sub");
    expect_str("pub standbys view", pub->sections[RM_SQL_STANDBYS].view,
               "pg_stat_replication");
    expect_str("pub standbys grant", pub->sections[RM_SQL_STANDBYS].grant,
               "GRANT pg_monitor TO plain");
    expect_str("standby receiver grant", sb->sections[RM_SQL_RECEIVER].grant,
               "GRANT pg_monitor TO plain");
    expect_int("sub subscriptions section",
               sub->sections[RM_SQL_SUBSCRIPTIONS].state, RM_SECTION_OK);
    check_subscriptions(sub, cl.sub);
    rm_thresholds_t t;
    rm_thresholds_default(&t);
    rm_eval_t ev;
    assert_int_equal(rm_evaluate(snap, &t, &ev), 0);
    int unknown_pub = 0, unknown_sb = 0, disabled = 0;
    for (size_t i = 0; i < ev.nreasons; i++) {
        const rm_reason_t *r = &ev.reasons[i];
        if (r->status == RM_STATUS_UNKNOWN && strcmp(r->node, "pub") == 0 &&
            strstr(r->message, "GRANT pg_monitor TO plain"))
            unknown_pub++;
        if (r->status == RM_STATUS_UNKNOWN && strcmp(r->node, "standby") == 0 &&
            strstr(r->message, "GRANT pg_monitor TO plain"))
            unknown_sb++;
        if (r->status == RM_STATUS_WARNING && strcmp(r->node, "sub") == 0 &&
            strstr(r->message, "subscription s_off is disabled"))
            disabled++;
    }
    assert_int_equal(unknown_pub, 1);
    assert_int_equal(unknown_sb, 1);
    assert_int_equal(disabled, 1);
    expect_int("standby status", ev.node_status[1], RM_STATUS_UNKNOWN);
    rm_eval_free(&ev);
    rm_snapshot_free(snap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_superuser, fixture_manager_teardown),
        cmocka_unit_test_teardown(test_monitor_role_scram,
                                  fixture_manager_teardown),
        cmocka_unit_test_teardown(test_monitor_role_md5,
                                  fixture_manager_teardown),
        cmocka_unit_test_teardown(test_plain_role, fixture_manager_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, fixture_group_teardown);
}
