/* SPDX-License-Identifier: MIT */
/*
 * test_replmon_snapshot.c - the pure parts of the snapshot model built
 * directly, without a server or a PGresult: what a section that cannot be
 * read says (the view, the missing privilege, the GRANT that fixes it),
 * and the lag in time: a downstream that stopped replying, a standby's
 * replay delay that must not count the primary's idle time (from earlier
 * rounds, else the upstream walsender), the rounds history itself.
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

#include "snapshot.h"

static void explain(const char *error, const char *role, rm_section_t *sec)
{
    memset(sec, 0, sizeof(*sec));
    sec->state = RM_SECTION_NO_PERMISSION;
    snprintf(sec->error, sizeof(sec->error), "%s", error);
    rm_section_explain(sec, role);
}

static void test_explain_permission_errors(void **state)
{
    rm_section_t sec;

    (void)state;
    /* 11+ says table, 10 says relation. */
    explain("node 'sub': ERROR: permission denied for table pg_subscription",
            "mon", &sec);
    assert_string_equal(sec.view, "pg_subscription");
    assert_string_equal(sec.privilege, "SELECT on pg_subscription");
    assert_string_equal(sec.grant, "GRANT SELECT ON pg_subscription TO mon");
    explain("ERROR:  permission denied for relation pg_authid", "mon", &sec);
    assert_string_equal(sec.grant, "GRANT SELECT ON pg_authid TO mon");
    explain("permission denied for view v", "mon", &sec);
    assert_string_equal(sec.grant, "GRANT SELECT ON v TO mon");
    explain("permission denied for function pg_ls_waldir", "Mon\"itor", &sec);
    assert_string_equal(sec.privilege, "EXECUTE on pg_ls_waldir");
    assert_string_equal(sec.grant, "GRANT EXECUTE ON FUNCTION pg_ls_waldir TO "
                                   "\"Mon\"\"itor\"");
    explain("permission denied for schema app", "m2", &sec);
    assert_string_equal(sec.grant, "GRANT USAGE ON SCHEMA app TO m2");
    /* Unknown role: a placeholder, never an empty name. */
    explain("permission denied for table t", "", &sec);
    assert_string_equal(sec.grant, "GRANT SELECT ON t TO <monitoring role>");
    /* Not about a privilege: nothing to grant. */
    explain("canceling statement due to statement timeout", "mon", &sec);
    assert_string_equal(sec.view, "");
    assert_string_equal(sec.privilege, "");
    assert_string_equal(sec.grant, "");
}

static void test_masked_stats_view(void **state)
{
    rm_section_t sec;

    (void)state;
    memset(&sec, 0, sizeof(sec));
    rm_section_needs(&sec, "pg_stat_replication", "pg_read_all_stats",
                     "watcher");
    assert_int_equal(sec.state, RM_SECTION_NO_PERMISSION);
    assert_string_equal(sec.view, "pg_stat_replication");
    assert_string_equal(sec.privilege, "pg_read_all_stats");
    assert_string_equal(sec.grant, "GRANT pg_monitor TO watcher");
    assert_non_null(strstr(sec.error, "pg_stat_replication"));
    assert_string_equal(rm_section_state_name(RM_SECTION_NOT_WANTED),
                        "not_wanted");
}

static void test_downstream_lag(void **state)
{
    const char *m;

    (void)state;
    /* Replying: the walsender's replay_lag. */
    assert_true(rm_downstream_lag(0.25, 0.1, 8192, 8192, &m) == 0.25);
    assert_string_equal(m, RM_LAG_REPLAY_LAG);
    /* Caught up and idle: NULL replay_lag, nothing behind: 0. */
    assert_true(rm_downstream_lag(NAN, 9.0, 0, 0, &m) == 0.0);
    assert_string_equal(m, RM_LAG_CAUGHT_UP);
    /* Idle, replying every 10 s, nothing unacknowledged: the reply age is
     * no lag. */
    assert_true(rm_downstream_lag(NAN, 9.0, 0, 0, &m) == 0.0);
    /* Frozen with 6 MB sent and unacknowledged: the walsender's replay_lag
     * froze at 0.002 s; the age of the last reply is the lag. */
    assert_true(rm_downstream_lag(0.002, 42.0, 6 << 20, 6 << 20, &m) == 42.0);
    assert_string_equal(m, RM_LAG_REPLY_AGE);
    /* Just sent, reply not due yet. */
    assert_true(rm_downstream_lag(0.002, 0.5, 4096, 4096, &m) == 0.002);
    assert_string_equal(m, RM_LAG_REPLAY_LAG);
    /* Before 12 there is no reply time: replay_lag as it is. */
    assert_true(rm_downstream_lag(3.0, NAN, 6 << 20, 6 << 20, &m) == 3.0);
    /* Nothing known. */
    assert_true(isnan(rm_downstream_lag(NAN, NAN, RM_NONE, 100, &m)));
    assert_null(m);
}

static rm_node_t *add_node(rm_snapshot_t *snap, const char *id, int standby,
                           const char *lsn)
{
    rm_node_t *n;

    snap->nodes = realloc(snap->nodes, (snap->count + 1) * sizeof(rm_node_t));
    n = &snap->nodes[snap->count++];
    memset(n, 0, sizeof(*n));
    snprintf(n->id, sizeof(n->id), "%s", id);
    snprintf(n->host, sizeof(n->host), "127.0.0.1");
    n->port = 5432 + (int)snap->count;
    n->reachable = n->have_facts = 1;
    n->in_recovery = standby;
    snprintf(n->current_lsn, sizeof(n->current_lsn), "%s", lsn);
    n->receiver.lag_bytes = RM_NONE;
    n->last_commit_age_seconds = NAN; /* track_commit_timestamp off */
    return n;
}

/* A primary with one physical walsender serving slot sb_slot, and its
 * standby whose replay stopped at replay while it received receive. */
static rm_snapshot_t *paused_standby(const char *primary_lsn,
                                     const char *receive, const char *replay,
                                     double walsender_replay_lag)
{
    rm_snapshot_t *snap = calloc(1, sizeof(*snap));
    rm_node_t *p = add_node(snap, "p", 0, primary_lsn);
    rm_node_t *s;

    /* p is filled before the standby is added (which may move it). */

    p->slots = calloc(1, sizeof(rm_slot_t));
    p->nslots = 1;
    p->slots[0].name = strdup("sb_slot");
    p->slots[0].type = strdup("physical");
    p->slots[0].active_pid = 4242;
    p->slots[0].replay_lag_seconds = NAN;
    p->slots[0].reply_age_seconds = NAN;
    p->slots[0].inactive_seconds = NAN;
    p->standbys = calloc(1, sizeof(rm_standby_t));
    p->nstandbys = 1;
    p->standbys[0].pid = 4242;
    p->standbys[0].replay_bytes = 4096;
    p->standbys[0].unacked_bytes = 0; /* received and acknowledged */
    p->standbys[0].replay_lag_seconds = walsender_replay_lag;
    p->standbys[0].reply_age_seconds = 0.2;
    s = add_node(snap, "s", 1, receive);
    s->receiver.present = 1;
    s->receiver.slot_name = strdup("sb_slot");
    snprintf(s->receiver.receive_lsn, 24, "%s", receive);
    snprintf(s->receiver.replay_lsn, 24, "%s", replay);
    s->receiver.replay_backlog_bytes = 4096;
    /* What the standby says: now - its last replayed commit, which was
     * before 10 idle minutes. */
    s->receiver.replay_delay_seconds = 567.0;
    s->receiver.latest_end_age_seconds = NAN;
    s->receiver.last_msg_age_seconds = NAN;
    s->receiver.sender_port = RM_NONE;
    return snap;
}

static void test_replay_delay_without_idle_time(void **state)
{
    rm_snapshot_t *snap;
    const rm_receiver_t *r;

    (void)state;
    /* Nothing to replay: 0, whatever the last commit's age. */
    snap = paused_standby("0/3000000", "0/2000000", "0/2000000", NAN);
    rm_snapshot_link(snap);
    r = &snap->nodes[1].receiver;
    assert_string_equal(r->primary, "p");
    assert_true(r->replay_delay_seconds == 0.0);
    assert_string_equal(r->replay_delay_method, RM_LAG_CAUGHT_UP);
    rm_snapshot_free(snap);

    /* Paused for 2 s after a long idle time: the walsender's figure (its
     * LSN-to-time samples start when the WAL was written), not the age of
     * the last replayed commit. */
    snap = paused_standby("0/2001000", "0/2001000", "0/2000000", 2.0);
    rm_snapshot_link(snap);
    r = &snap->nodes[1].receiver;
    assert_true(r->replay_delay_seconds == 2.0);
    assert_string_equal(r->replay_delay_method, RM_LAG_WALSENDER);
    assert_true(snap->nodes[0].standbys[0].lag_seconds == 2.0);
    assert_string_equal(snap->nodes[0].standbys[0].lag_method,
                        RM_LAG_REPLAY_LAG);
    rm_snapshot_free(snap);

    /* No walsender figure (its samples were cleared while idle), but the
     * upstream tracks commit timestamps: its last commit, 2.5 s ago, is
     * not replayed here. */
    snap = paused_standby("0/2001000", "0/2001000", "0/2000000", NAN);
    snap->nodes[0].last_commit_age_seconds = 2.5;
    rm_snapshot_link(snap);
    r = &snap->nodes[1].receiver;
    assert_true(r->replay_delay_seconds == 2.5);
    assert_string_equal(r->replay_delay_method, RM_LAG_PRIMARY_COMMIT);
    rm_snapshot_free(snap);

    /* Paused: the walsender's figure stopped moving with replay (it says
     * 0.005 s); the receiver saw the upstream's WAL end move 2 s ago, so
     * what is not replayed is at least that old. */
    snap = paused_standby("0/2001000", "0/2001000", "0/2000000", 0.005);
    snap->nodes[1].receiver.paused = 1;
    snap->nodes[1].receiver.latest_end_age_seconds = 2.0;
    rm_snapshot_link(snap);
    r = &snap->nodes[1].receiver;
    assert_true(r->replay_delay_seconds == 2.0);
    assert_string_equal(r->replay_delay_method, RM_LAG_LATEST_END);
    /* The larger lower bound wins, never above the upper bound. */
    snap->nodes[0].last_commit_age_seconds = 3.0;
    snap->nodes[1].receiver.replay_delay_seconds = 567.0;
    rm_snapshot_link(snap);
    assert_true(r->replay_delay_seconds == 3.0);
    assert_string_equal(r->replay_delay_method, RM_LAG_PRIMARY_COMMIT);
    snap->nodes[1].receiver.latest_end_age_seconds = 900.0;
    snap->nodes[1].receiver.replay_delay_seconds = 567.0;
    rm_snapshot_link(snap);
    assert_true(r->replay_delay_seconds == 567.0);
    rm_snapshot_free(snap);

    /* Neither: the last replayed commit's age, the upper bound. */
    snap = paused_standby("0/2001000", "0/2001000", "0/2000000", NAN);
    rm_snapshot_link(snap);
    r = &snap->nodes[1].receiver;
    assert_true(r->replay_delay_seconds == 567.0);
    assert_string_equal(r->replay_delay_method, RM_LAG_LAST_COMMIT);
    rm_snapshot_free(snap);

    /* The upstream is not monitored: the last commit's age, said to be
     * an upper bound. */
    snap = paused_standby("0/2001000", "0/2001000", "0/2000000", 2.0);
    snprintf(snap->nodes[0].id, sizeof(snap->nodes[0].id), "elsewhere");
    free(snap->nodes[0].slots[0].name);
    snap->nodes[0].slots[0].name = strdup("other");
    snap->nodes[0].nstandbys = 0;
    free(snap->nodes[0].standbys);
    snap->nodes[0].standbys = NULL;
    snap->nodes[1].receiver.sender_port = 1;
    rm_snapshot_link(snap);
    r = &snap->nodes[1].receiver;
    assert_string_equal(r->primary, "");
    assert_true(r->replay_delay_seconds == 567.0);
    assert_string_equal(r->replay_delay_method, RM_LAG_LAST_COMMIT);
    rm_snapshot_free(snap);
}

static void test_replay_delay_from_rounds(void **state)
{
    rm_rounds_t *h = rm_rounds_new(3);
    rm_snapshot_t *snap;
    int64_t at;
    int i;

    (void)state;
    assert_non_null(h);
    /* Rounds at t = 1000, 3000, 5000, 7000 ms; the primary was idle at
     * 0/2000000 then wrote at 0/2001000 from the third round on. The
     * history keeps 3 rounds. */
    for (i = 0; i < 4; i++) {
        snap = paused_standby(i < 2 ? "0/2000000" : "0/2001000", "0/2000000",
                              "0/2000000", NAN);
        snap->collected_ms = 1000 + 2000 * i;
        rm_snapshot_link_rounds(snap, h);
        assert_int_equal(rm_rounds_record(h, snap), 0);
        rm_snapshot_free(snap);
    }
    assert_int_equal(rm_rounds_first_past(h, "p", 0x2000000, &at), 1);
    assert_int_equal(at, 5000);
    assert_int_equal(rm_rounds_first_past(h, "p", 0x2001000, &at), 0);
    assert_int_equal(rm_rounds_first_past(h, "nobody", 0, &at), 0);

    /* Round 5 at 9000 ms: the standby received 0/2001000 but replays
     * nothing (paused since before 5000 ms): 4 s, the idle rounds before
     * do not count; the walsender's 0.1 s is not used. */
    snap = paused_standby("0/2001000", "0/2001000", "0/2000000", 0.1);
    snap->collected_ms = 9000;
    rm_snapshot_link_rounds(snap, h);
    assert_true(snap->nodes[1].receiver.replay_delay_seconds == 4.0);
    assert_string_equal(snap->nodes[1].receiver.replay_delay_method,
                        RM_LAG_ROUNDS);
    rm_snapshot_free(snap);
    rm_rounds_free(h);
}

static void test_subscription_time_lag(void **state)
{
    rm_snapshot_t *snap = calloc(1, sizeof(*snap));
    rm_node_t *pub, *sub;
    rm_subscription_t *s;

    (void)state;
    add_node(snap, "pub", 0, "0/1600000");
    add_node(snap, "sub", 0, "0/10"); /* may move the nodes */
    pub = &snap->nodes[0];
    sub = &snap->nodes[1];
    pub->slots = calloc(2, sizeof(rm_slot_t));
    pub->nslots = 2;
    /* Frozen apply worker: 6 MB sent and not acknowledged, last reply 30 s
     * ago, the walsender's replay_lag frozen at 0. */
    pub->slots[0].name = strdup("frozen");
    pub->slots[0].type = strdup("logical");
    pub->slots[0].sender_state = strdup("streaming");
    pub->slots[0].unacked_bytes = 6 << 20;
    pub->slots[0].replay_lag_seconds = 0.0;
    pub->slots[0].reply_age_seconds = 30.0;
    pub->slots[0].inactive_seconds = NAN;
    /* No walsender (the subscriber is gone), 17+: inactive for 90 s. */
    pub->slots[1].name = strdup("gone");
    pub->slots[1].type = strdup("logical");
    pub->slots[1].replay_lag_seconds = NAN;
    pub->slots[1].reply_age_seconds = NAN;
    pub->slots[1].inactive_seconds = 90.0;
    snprintf(pub->slots[1].confirmed_flush_lsn, 24, "0/1000000");
    sub->subs = calloc(2, sizeof(rm_subscription_t));
    sub->nsubs = 2;
    sub->subs[0].name = strdup("frozen");
    sub->subs[0].slot_name = strdup("frozen");
    sub->subs[0].enabled = 1;
    snprintf(sub->subs[0].received_lsn, 24, "0/1000000");
    sub->subs[1].name = strdup("gone");
    sub->subs[1].slot_name = strdup("gone");
    sub->subs[1].enabled = 1;
    sub->subs[1].worker_pid = RM_NONE;
    rm_snapshot_link(snap);
    s = &snap->nodes[1].subs[0];
    assert_true(s->lag_bytes == 0x600000);
    assert_true(s->lag_seconds == 30.0);
    assert_string_equal(s->lag_method, RM_LAG_REPLY_AGE);
    s = &snap->nodes[1].subs[1];
    assert_true(s->lag_bytes == 0x600000);
    assert_true(s->lag_seconds == 90.0);
    assert_string_equal(s->lag_method, RM_LAG_INACTIVE);
    rm_snapshot_free(snap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_explain_permission_errors),
        cmocka_unit_test(test_masked_stats_view),
        cmocka_unit_test(test_downstream_lag),
        cmocka_unit_test(test_replay_delay_without_idle_time),
        cmocka_unit_test(test_replay_delay_from_rounds),
        cmocka_unit_test(test_subscription_time_lag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
