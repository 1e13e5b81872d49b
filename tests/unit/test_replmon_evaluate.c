/* SPDX-License-Identifier: MIT */
/*
 * test_replmon_evaluate.c - the status rules: unreachable nodes, slot
 * retention and wal_status, inactive slots, disabled and down
 * subscriptions (native and pglogical), lag thresholds, error counters and
 * the conflict rate, pglogical expected but missing, sections the role may not
 * read, the order of severities, and the human formats of bytes and time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "evaluate.h"

static rm_snapshot_t *snap_new(size_t n)
{
    rm_snapshot_t *s = calloc(1, sizeof(*s));
    size_t i;

    s->nodes = calloc(n, sizeof(rm_node_t));
    s->count = n;
    for (i = 0; i < n; i++) {
        rm_node_t *node = &s->nodes[i];
        size_t k;

        snprintf(node->id, sizeof(node->id), "n%zu", i);
        node->reachable = 1;
        node->have_facts = 1;
        node->server_version = 150004;
        node->can_read_stats = 1;
        node->have_health = 1;
        node->health.state = PGCM_NODE_HEALTHY;
        for (k = 0; k < RM_SQL_SECTION_COUNT; k++)
            node->sections[k].state = RM_SECTION_OK;
        node->receiver.lag_bytes = RM_NONE;
    }
    return s;
}

static rm_slot_t *slot_add(rm_node_t *n, const char *name, int64_t retained,
                           int active, const char *wal_status)
{
    rm_slot_t *s;

    n->slots = realloc(n->slots, (n->nslots + 1) * sizeof(*s));
    s = &n->slots[n->nslots++];
    memset(s, 0, sizeof(*s));
    s->name = strdup(name);
    s->type = strdup("logical");
    s->retained_bytes = retained;
    s->active = active;
    s->temporary = 0;
    s->wal_status = wal_status ? strdup(wal_status) : NULL;
    s->conflicting = -1;
    s->replay_lag_seconds = NAN;
    s->inactive_seconds = NAN;
    return s;
}

static rm_subscription_t *sub_add(rm_node_t *n, const char *name, int enabled,
                                  int64_t worker_pid, double lag_seconds)
{
    rm_subscription_t *s;

    n->subs = realloc(n->subs, (n->nsubs + 1) * sizeof(*s));
    s = &n->subs[n->nsubs++];
    memset(s, 0, sizeof(*s));
    s->name = strdup(name);
    s->slot_name = strdup(name);
    s->enabled = enabled;
    s->worker_pid = worker_pid;
    s->tables_total = 1;
    s->tables_ready = 1;
    s->apply_error_count = 0;
    s->sync_error_count = 0;
    for (size_t k = 0; k < RM_CONFL_COUNT; k++)
        s->confl[k] = RM_NONE;
    s->conflict_rate_per_min = NAN;
    s->lag_seconds = lag_seconds;
    s->lag_bytes = 0;
    snprintf(s->publisher, sizeof(s->publisher), "pub");
    return s;
}

/* Whether a reason of this severity on this node mentions text. */
static int found(const rm_eval_t *ev, const char *node, rm_status_t st,
                 const char *text)
{
    size_t i;

    for (i = 0; i < ev->nreasons; i++) {
        if (strcmp(ev->reasons[i].node, node) == 0 &&
            ev->reasons[i].status == st &&
            strstr(ev->reasons[i].message, text) != NULL)
            return 1;
    }
    return 0;
}

static void test_all_ok(void **state)
{
    rm_snapshot_t *s = snap_new(2);
    rm_thresholds_t t;
    rm_eval_t ev;

    (void)state;
    rm_thresholds_default(&t);
    slot_add(&s->nodes[0], "a", 1024, 1, "reserved");
    sub_add(&s->nodes[1], "a", 1, 99, 0.2);
    assert_int_equal(rm_evaluate(s, &t, &ev), 0);
    assert_int_equal(ev.status, RM_STATUS_OK);
    assert_int_equal(ev.nreasons, 0);
    assert_int_equal(ev.node_status[0], RM_STATUS_OK);
    rm_eval_free(&ev);
    rm_snapshot_free(s);
}

static void test_unreachable_is_critical(void **state)
{
    rm_snapshot_t *s = snap_new(2);
    rm_thresholds_t t;
    rm_eval_t ev;

    (void)state;
    rm_thresholds_default(&t);
    s->nodes[1].reachable = 0;
    s->nodes[1].health.state = PGCM_NODE_UNHEALTHY;
    snprintf(s->nodes[1].error, sizeof(s->nodes[1].error),
             "connection refused");
    assert_int_equal(rm_evaluate(s, &t, &ev), 0);
    assert_int_equal(ev.status, RM_STATUS_CRITICAL);
    assert_int_equal(ev.node_status[0], RM_STATUS_OK);
    assert_int_equal(ev.node_status[1], RM_STATUS_CRITICAL);
    assert_true(found(&ev, "n1", RM_STATUS_CRITICAL, "connection refused"));
    rm_eval_free(&ev);
    rm_snapshot_free(s);
}

static void test_answered_without_facts_is_unknown(void **state)
{
    rm_snapshot_t *s = snap_new(2);
    rm_thresholds_t t;
    rm_eval_t ev;

    (void)state;
    rm_thresholds_default(&t);
    /* A 9.6 server: it answers, but the facts query fails. */
    s->nodes[0].have_facts = 0;
    s->nodes[0].server_version = 90624;
    snprintf(s->nodes[0].error, sizeof(s->nodes[0].error),
             "function pg_current_wal_lsn() does not exist");
    /* A revoked catalog. */
    s->nodes[1].have_facts = 0;
    s->nodes[1].sections[RM_SQL_FACTS].state = RM_SECTION_NO_PERMISSION;
    snprintf(s->nodes[1].error, sizeof(s->nodes[1].error),
             "permission denied for table pg_publication");
    assert_int_equal(rm_evaluate(s, &t, &ev), 0);
    assert_int_equal(ev.status, RM_STATUS_UNKNOWN);
    assert_true(found(&ev, "n0", RM_STATUS_UNKNOWN,
                      "PostgreSQL 9.6 is not supported: replmon needs 10"));
    assert_true(found(&ev, "n1", RM_STATUS_UNKNOWN,
                      "cannot read the node's role: no permission: "
                      "permission denied"));
    rm_eval_free(&ev);
    rm_snapshot_free(s);
}

static void test_slot_rules(void **state)
{
    rm_snapshot_t *s = snap_new(1);
    rm_thresholds_t t;
    rm_eval_t ev;
    rm_node_t *n = &s->nodes[0];

    (void)state;
    rm_thresholds_default(&t);
    t.slot_warning_bytes = 1000;
    t.slot_critical_bytes = 5000;
    slot_add(n, "small", 999, 1, "reserved");
    slot_add(n, "warm", 1000, 1, "reserved");
    slot_add(n, "hot", 6000, 1, "reserved");
    slot_add(n, "idle", 10, 0, NULL);
    slot_add(n, "ext", 10, 1, "extended");
    slot_add(n, "unres", 10, 1, "unreserved");
    slot_add(n, "lost", 10, 1, "lost");
    slot_add(n, "tmp", 10, 0, NULL)->temporary = 1;
    slot_add(n, "conf", 10, 1, NULL)->conflicting = 1;
    assert_int_equal(rm_evaluate(s, &t, &ev), 0);
    assert_int_equal(ev.status, RM_STATUS_CRITICAL);
    assert_false(found(&ev, "n0", RM_STATUS_WARNING, "slot small"));
    assert_true(found(&ev, "n0", RM_STATUS_WARNING, "slot warm retains"));
    assert_true(found(&ev, "n0", RM_STATUS_CRITICAL, "slot hot retains"));
    assert_true(found(&ev, "n0", RM_STATUS_WARNING, "slot idle is inactive"));
    assert_true(found(&ev, "n0", RM_STATUS_WARNING, "slot ext holds WAL"));
    assert_true(found(&ev, "n0", RM_STATUS_CRITICAL, "slot unres will lose"));
    assert_true(found(&ev, "n0", RM_STATUS_CRITICAL, "slot lost lost"));
    assert_false(found(&ev, "n0", RM_STATUS_WARNING, "slot tmp"));
    assert_true(found(&ev, "n0", RM_STATUS_CRITICAL, "slot conf was"));
    rm_eval_free(&ev);

    /* A threshold of 0 disables the check. */
    t.slot_warning_bytes = 0;
    t.slot_critical_bytes = 0;
    assert_int_equal(rm_evaluate(s, &t, &ev), 0);
    assert_false(found(&ev, "n0", RM_STATUS_CRITICAL, "slot hot retains"));
    rm_eval_free(&ev);
    rm_snapshot_free(s);
}

static void test_subscription_rules(void **state)
{
    rm_snapshot_t *s = snap_new(1);
    rm_thresholds_t t;
    rm_eval_t ev;
    rm_node_t *n = &s->nodes[0];
    rm_subscription_t *sub;

    (void)state;
    rm_thresholds_default(&t); /* 10 s / 1 min */
    sub_add(n, "fine", 1, 10, 9.9);
    sub_add(n, "slow", 1, 11, 10.0);
    sub_add(n, "slower", 1, 12, 60.0);
    sub_add(n, "off", 0, RM_NONE, NAN);
    sub_add(n, "down", 1, RM_NONE, NAN);
    sub = sub_add(n, "errs", 1, 13, 0.0);
    sub->apply_error_count = 3;
    sub = sub_add(n, "lost", 1, 14, NAN);
    sub->publisher[0] = '\0';
    snprintf(sub->link_note, sizeof(sub->link_note), "no monitored node");
    assert_int_equal(rm_evaluate(s, &t, &ev), 0);
    assert_int_equal(ev.status, RM_STATUS_CRITICAL);
    assert_false(found(&ev, "n0", RM_STATUS_WARNING, "subscription fine"));
    assert_true(found(&ev, "n0", RM_STATUS_WARNING,
                      "subscription slow lags 10.0 s (warning at 10.0 s)"));
    assert_true(found(&ev, "n0", RM_STATUS_CRITICAL,
                      "subscription slower lags 1m00s (critical at 1m00s)"));
    assert_true(
        found(&ev, "n0", RM_STATUS_WARNING, "subscription off is disabled"));
    assert_true(found(&ev, "n0", RM_STATUS_CRITICAL,
                      "subscription down is enabled but its apply worker"));
    assert_true(found(&ev, "n0", RM_STATUS_WARNING, "3 apply and 0 sync"));
    assert_true(found(&ev, "n0", RM_STATUS_OK, "cross-node lag unknown"));
    rm_eval_free(&ev);
    rm_snapshot_free(s);
}

static void test_conflict_rate_rules(void **state)
{
    rm_snapshot_t *s = snap_new(1);
    rm_thresholds_t t;
    rm_eval_t ev;
    rm_node_t *n = &s->nodes[0];
    rm_subscription_t *sub;

    (void)state;
    rm_thresholds_default(&t); /* 5 and 20 a minute */
    sub = sub_add(n, "calm", 1, 10, 0.0);
    sub->apply_error_count = 7; /* long ago: no new error in the sample */
    sub->conflict_rate_per_min = 0.0;
    sub = sub_add(n, "busy", 1, 11, 0.0);
    sub->apply_error_count = 9;
    sub->conflict_rate_per_min = 6.0;
    sub = sub_add(n, "storm", 1, 12, 0.0);
    sub->apply_error_count = 40;
    sub->sync_error_count = 2;
    sub->confl[RM_CONFL_UPDATE_MISSING] = 5;
    sub->confl[RM_CONFL_INSERT_EXISTS] = 40;
    sub->conflict_rate_per_min = 120.0;
    assert_int_equal(rm_evaluate(s, &t, &ev), 0);
    assert_int_equal(ev.status, RM_STATUS_CRITICAL);
    assert_true(found(&ev, "n0", RM_STATUS_OK,
                      "subscription calm: 0.0 conflicts and errors a minute "
                      "now; 7 apply and 0 sync errors since"));
    assert_false(found(&ev, "n0", RM_STATUS_WARNING, "subscription calm"));
    assert_true(found(&ev, "n0", RM_STATUS_WARNING,
                      "subscription busy has 6.0 conflicts and errors a "
                      "minute (warning at 5;"));
    assert_true(found(&ev, "n0", RM_STATUS_CRITICAL,
                      "subscription storm has 120.0 conflicts and errors a "
                      "minute (critical at 20; 40 apply and 2 sync errors "
                      "and 5 conflicts without error since"));
    rm_eval_free(&ev);

    /* A threshold of 0 disables its check. */
    t.conflict_rate_warning = 0;
    t.conflict_rate_critical = 0;
    assert_int_equal(rm_evaluate(s, &t, &ev), 0);
    assert_int_equal(ev.status, RM_STATUS_OK);
    rm_eval_free(&ev);
    rm_snapshot_free(s);
}

static void test_pglogical_rules(void **state)
{
    rm_snapshot_t *s = snap_new(2);
    rm_thresholds_t t;
    rm_eval_t ev;
    rm_subscription_t *sub;

    (void)state;
    rm_thresholds_default(&t);
    s->nodes[0].pglogical_mode = RM_PGLOGICAL_ON; /* expected, missing */
    snprintf(s->nodes[0].database, sizeof(s->nodes[0].database), "app");
    s->nodes[1].pglogical_mode = RM_PGLOGICAL_ON;
    snprintf(s->nodes[1].pglogical_version, 16, "2.4.2");
    sub = sub_add(&s->nodes[1], "pl_down", 1, RM_NONE, NAN);
    sub->kind = RM_SUB_PGLOGICAL;
    sub->pglogical_status = strdup("down");
    sub->apply_error_count = sub->sync_error_count = RM_NONE;
    sub = sub_add(&s->nodes[1], "pl_off", 0, RM_NONE, NAN);
    sub->kind = RM_SUB_PGLOGICAL;
    sub->pglogical_status = strdup("disabled");
    sub = sub_add(&s->nodes[1], "pl_odd", 1, 5, 0.0);
    sub->kind = RM_SUB_PGLOGICAL;
    sub->pglogical_status = strdup("unknown");
    assert_int_equal(rm_evaluate(s, &t, &ev), 0);
    assert_true(found(&ev, "n0", RM_STATUS_OK,
                      "pglogical: the extension is not installed in database "
                      "app (the configuration says pglogical: true)"));
    assert_true(found(&ev, "n1", RM_STATUS_CRITICAL,
                      "pglogical subscription pl_down is enabled but its "
                      "apply worker is not running"));
    assert_true(found(&ev, "n1", RM_STATUS_WARNING,
                      "pglogical subscription pl_off is disabled"));
    assert_true(found(&ev, "n1", RM_STATUS_WARNING,
                      "pglogical subscription pl_odd: pglogical reports its "
                      "status as unknown"));
    assert_false(found(&ev, "n1", RM_STATUS_OK, "pglogical: the extension"));
    rm_eval_free(&ev);
    rm_snapshot_free(s);
}

static void test_standby_and_receiver_rules(void **state)
{
    rm_snapshot_t *s = snap_new(2);
    rm_thresholds_t t;
    rm_eval_t ev, ev2;
    rm_node_t *pri = &s->nodes[0], *sb = &s->nodes[1];

    (void)state;
    rm_thresholds_default(&t);
    pri->standbys = calloc(2, sizeof(rm_standby_t));
    pri->nstandbys = 2;
    pri->standbys[0].application_name = strdup("walreceiver");
    pri->standbys[0].state = strdup("streaming");
    pri->standbys[0].replay_bytes = 0;
    pri->standbys[0].replay_lag_seconds = NAN; /* caught up: NULL lag */
    pri->standbys[1].application_name = strdup("late");
    pri->standbys[1].state = strdup("catchup");
    pri->standbys[1].replay_bytes = 100;
    pri->standbys[1].replay_lag_seconds = 75.0;
    sb->in_recovery = 1;
    sb->receiver.present = 1;
    sb->receiver.status = NULL; /* no WAL receiver */
    sb->receiver.paused = 1;
    sb->receiver.replay_delay_seconds = 11.0;
    assert_int_equal(rm_evaluate(s, &t, &ev), 0);
    assert_false(found(&ev, "n0", RM_STATUS_WARNING, "walreceiver"));
    assert_true(found(&ev, "n0", RM_STATUS_WARNING,
                      "standby late is in state catchup"));
    assert_true(found(&ev, "n0", RM_STATUS_CRITICAL, "standby late lags"));
    assert_true(
        found(&ev, "n1", RM_STATUS_WARNING, "WAL receiver is not running"));
    assert_true(found(&ev, "n1", RM_STATUS_WARNING, "replay is paused"));
    assert_true(found(&ev, "n1", RM_STATUS_WARNING, "replay on this standby"));
    rm_eval_free(&ev);

    /* Without pg_read_all_stats the receiver status is masked: no
     * warning about its state, but the node is UNKNOWN, with the fix; the
     * replay positions (readable by all) are still judged. */
    sb->can_read_stats = 0;
    snprintf(sb->user, sizeof(sb->user), "mon");
    rm_section_needs(&sb->sections[RM_SQL_RECEIVER], "pg_stat_wal_receiver",
                     "pg_read_all_stats", sb->user);
    sb->receiver.paused = 0;
    sb->receiver.replay_delay_seconds = 0;
    assert_int_equal(rm_evaluate(s, &t, &ev), 0);
    assert_int_equal(ev.node_status[1], RM_STATUS_UNKNOWN);
    assert_true(found(&ev, "n1", RM_STATUS_UNKNOWN,
                      "receiver: cannot read pg_stat_wal_receiver: the role "
                      "mon lacks pg_read_all_stats; GRANT pg_monitor TO mon "
                      "(or add receiver to skip_sections)"));
    assert_false(found(&ev, "n1", RM_STATUS_WARNING, "WAL receiver"));
    sb->receiver.paused = 1;
    assert_int_equal(rm_evaluate(s, &t, &ev2), 0);
    assert_true(found(&ev2, "n1", RM_STATUS_WARNING, "replay is paused"));
    rm_eval_free(&ev2);
    rm_eval_free(&ev);

    /* Not wanted (skip_sections): neither read nor a finding. */
    sb->receiver.paused = 0;
    memset(&sb->sections[RM_SQL_RECEIVER], 0, sizeof(rm_section_t));
    sb->sections[RM_SQL_RECEIVER].state = RM_SECTION_NOT_WANTED;
    rm_receiver_clear(&sb->receiver);
    assert_int_equal(rm_evaluate(s, &t, &ev), 0);
    assert_int_equal(ev.node_status[1], RM_STATUS_OK);
    for (size_t i = 0; i < ev.nreasons; i++)
        assert_string_not_equal(ev.reasons[i].node, "n1");
    rm_eval_free(&ev);
    rm_snapshot_free(s);
}

static void test_section_error_unknown_and_degraded(void **state)
{
    rm_snapshot_t *s = snap_new(2);
    rm_thresholds_t t;
    rm_eval_t ev;

    (void)state;
    rm_thresholds_default(&t);
    s->nodes[0].sections[RM_SQL_SLOTS].state = RM_SECTION_ERROR;
    snprintf(s->nodes[0].sections[RM_SQL_SLOTS].error, 64, "timed out");
    assert_int_equal(rm_evaluate(s, &t, &ev), 0);
    assert_int_equal(ev.status, RM_STATUS_UNKNOWN);
    assert_true(found(&ev, "n0", RM_STATUS_UNKNOWN, "slots: timed out"));
    rm_eval_free(&ev);

    /* WARNING outranks UNKNOWN. */
    s->nodes[1].health.state = PGCM_NODE_DEGRADED;
    assert_int_equal(rm_evaluate(s, &t, &ev), 0);
    assert_int_equal(ev.status, RM_STATUS_WARNING);
    assert_true(found(&ev, "n1", RM_STATUS_WARNING, "degraded"));
    rm_eval_free(&ev);
    rm_snapshot_free(s);

    /* No node at all: UNKNOWN. */
    s = snap_new(0);
    assert_int_equal(rm_evaluate(s, &t, &ev), 0);
    assert_int_equal(ev.status, RM_STATUS_UNKNOWN);
    rm_eval_free(&ev);
    rm_snapshot_free(s);
}

static void test_status_order_and_names(void **state)
{
    (void)state;
    assert_int_equal(rm_status_worse(RM_STATUS_OK, RM_STATUS_UNKNOWN),
                     RM_STATUS_UNKNOWN);
    assert_int_equal(rm_status_worse(RM_STATUS_UNKNOWN, RM_STATUS_WARNING),
                     RM_STATUS_WARNING);
    assert_int_equal(rm_status_worse(RM_STATUS_CRITICAL, RM_STATUS_WARNING),
                     RM_STATUS_CRITICAL);
    assert_int_equal(rm_status_worse(RM_STATUS_CRITICAL, RM_STATUS_UNKNOWN),
                     RM_STATUS_CRITICAL);
    assert_string_equal(rm_status_name(RM_STATUS_OK), "OK");
    assert_string_equal(rm_status_name(RM_STATUS_WARNING), "WARNING");
    assert_string_equal(rm_status_name(RM_STATUS_CRITICAL), "CRITICAL");
    assert_string_equal(rm_status_name(RM_STATUS_UNKNOWN), "UNKNOWN");
    /* The exit codes of the monitoring-plugin convention. */
    assert_int_equal(RM_STATUS_OK, 0);
    assert_int_equal(RM_STATUS_WARNING, 1);
    assert_int_equal(RM_STATUS_CRITICAL, 2);
    assert_int_equal(RM_STATUS_UNKNOWN, 3);
}

static void test_formats(void **state)
{
    char b[32];

    (void)state;
    rm_format_bytes(0, b, sizeof(b));
    assert_string_equal(b, "0 B");
    rm_format_bytes(1023, b, sizeof(b));
    assert_string_equal(b, "1023 B");
    rm_format_bytes(1536, b, sizeof(b));
    assert_string_equal(b, "1.5 kB");
    rm_format_bytes((int64_t)5 << 30, b, sizeof(b));
    assert_string_equal(b, "5.0 GB");
    rm_format_bytes(RM_NONE, b, sizeof(b));
    assert_string_equal(b, "-");
    rm_format_seconds(NAN, b, sizeof(b));
    assert_string_equal(b, "-");
    rm_format_seconds(0.04, b, sizeof(b));
    assert_string_equal(b, "0.0 s");
    rm_format_seconds(59.94, b, sizeof(b));
    assert_string_equal(b, "59.9 s");
    rm_format_seconds(245, b, sizeof(b));
    assert_string_equal(b, "4m05s");
    rm_format_seconds(7800, b, sizeof(b));
    assert_string_equal(b, "2h10m");
    rm_format_seconds(90000, b, sizeof(b));
    assert_string_equal(b, "1d01h");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_ok),
        cmocka_unit_test(test_unreachable_is_critical),
        cmocka_unit_test(test_answered_without_facts_is_unknown),
        cmocka_unit_test(test_slot_rules),
        cmocka_unit_test(test_subscription_rules),
        cmocka_unit_test(test_conflict_rate_rules),
        cmocka_unit_test(test_pglogical_rules),
        cmocka_unit_test(test_standby_and_receiver_rules),
        cmocka_unit_test(test_section_error_unknown_and_degraded),
        cmocka_unit_test(test_status_order_and_names),
        cmocka_unit_test(test_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
