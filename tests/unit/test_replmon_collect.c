/* SPDX-License-Identifier: MIT */
/*
 * test_replmon_collect.c - parsing of each section's answer (collect.c: by
 * column name, absent columns left "not reported") and, on nodes built from
 * such answers, the snapshot model (snapshot.c): LSN arithmetic, roles, and
 * the cross-node links: which publisher serves a subscription and the lag
 * publisher current LSN - subscriber received_lsn; which primary feeds a
 * standby.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "collect.h"
#include "replmon_pgresult.h"

static void test_lsn_parse_format(void **state)
{
    uint64_t v;
    char buf[32];

    (void)state;
    assert_int_equal(rm_lsn_parse("0/0", &v), 0);
    assert_true(v == 0);
    assert_int_equal(rm_lsn_parse("16/B374D848", &v), 0);
    assert_true(v == 0x16B374D848ULL);
    assert_int_equal(rm_lsn_parse("ffffffff/FFFFFFFF", &v), 0);
    assert_true(v == UINT64_MAX);
    rm_lsn_format(0x16B374D848ULL, buf, sizeof(buf));
    assert_string_equal(buf, "16/B374D848");
    rm_lsn_format(0, buf, sizeof(buf));
    assert_string_equal(buf, "0/0");
    /* Malformed. */
    assert_int_equal(rm_lsn_parse(NULL, &v), -1);
    assert_int_equal(rm_lsn_parse("", &v), -1);
    assert_int_equal(rm_lsn_parse("16", &v), -1);
    assert_int_equal(rm_lsn_parse("/1", &v), -1);
    assert_int_equal(rm_lsn_parse("1/", &v), -1);
    assert_int_equal(rm_lsn_parse("1/2x", &v), -1);
    assert_int_equal(rm_lsn_parse("123456789/0", &v), -1);
    assert_int_equal(rm_lsn_parse("g/0", &v), -1);
}

static void test_lsn_diff(void **state)
{
    uint64_t a, b;

    (void)state;
    assert_int_equal(rm_lsn_parse("1/0", &a), 0);
    assert_int_equal(rm_lsn_parse("0/FFFFFFFF", &b), 0);
    /* Crossing the 32-bit boundary: 1 byte, not 2^32 - 1. */
    assert_true(rm_lsn_diff(a, b) == 1);
    assert_true(rm_lsn_diff(b, a) == -1);
    assert_true(rm_lsn_diff(a, a) == 0);
    assert_true(rm_lsn_diff(UINT64_MAX, 0) == INT64_MAX);
    assert_true(rm_lsn_diff(0, UINT64_MAX) == -INT64_MAX);
}

static void test_parse_facts(void **state)
{
    const char *names = "version_num,in_recovery,current_lsn,wal_level,"
                        "publications,subscriptions,slots,logical_slots,"
                        "walsenders,walreceivers,can_read_stats,database,"
                        "pglogical_version,server_epoch";
    const char *row[] = {"150004", "f",   "0/3000148", "logical",     "1",
                         "0",      "2",   "2",         "3",           "0",
                         "t",      "app", "2.4.2",     "1700000000.5"};
    PGresult *res = pgres_new(names, NULL);
    rm_node_t n;
    char roles[64];

    (void)state;
    memset(&n, 0, sizeof(n));
    n.reachable = 1;
    pgres_row(res, row);
    assert_int_equal(rm_parse_facts(res, &n), 0);
    assert_true(n.have_facts);
    assert_int_equal(n.server_version, 150004);
    assert_false(n.in_recovery);
    assert_string_equal(n.current_lsn, "0/3000148");
    assert_string_equal(n.wal_level, "logical");
    assert_true(n.publications == 1 && n.logical_slots == 2);
    assert_true(n.walsenders == 3);
    assert_true(n.can_read_stats);
    assert_string_equal(n.database, "app");
    assert_string_equal(n.pglogical_version, "2.4.2");
    assert_int_equal(rm_node_roles(&n), RM_ROLE_PRIMARY | RM_ROLE_PUBLISHER);
    rm_roles_format(rm_node_roles(&n), roles, sizeof(roles));
    assert_string_equal(roles, "primary,publisher");

    /* A standby with copied publications is not a publisher. */
    n.in_recovery = 1;
    n.subscription_count = 1;
    rm_roles_format(rm_node_roles(&n), roles, sizeof(roles));
    assert_string_equal(roles, "standby,subscriber");
    n.reachable = 0;
    rm_roles_format(rm_node_roles(&n), roles, sizeof(roles));
    assert_string_equal(roles, "unknown");
    PQclear(res);
}

/* Slots as PG 12 reports them: no wal_status, conflicting, ... */
static void test_parse_slots_old_version(void **state)
{
    const char *names = "slot_name,slot_type,plugin,database,temporary,"
                        "current_lsn,active,active_pid,restart_lsn,"
                        "confirmed_flush_lsn,retained_bytes,"
                        "unconfirmed_bytes,xmin_age,catalog_xmin_age,"
                        "sender_application_name,sender_state,unsent_bytes,"
                        "replay_lag_seconds";
    const char *r1[] = {
        "sub_a", "logical", "pgoutput",  "app",       "f",        "0/5000000",
        "t",     "4242",    "0/4000000", "0/4800000", "16777216", "8388608",
        NULL,    "12",      "sub_a",     "streaming", "0",        "0.25"};
    const char *r2[] = {"phys", "physical", NULL, NULL, "f",  "0/5000000",
                        "f",    NULL,       NULL, NULL, NULL, NULL,
                        NULL,   NULL,       NULL, NULL, NULL, NULL};
    PGresult *res = pgres_new(names, NULL);
    rm_snapshot_t *snap;
    rm_node_t *n = calloc(1, sizeof(*n));

    (void)state;
    pgres_row(res, r1);
    pgres_row(res, r2);
    assert_int_equal(rm_parse_slots(res, n), 0);
    assert_int_equal(n->nslots, 2);
    assert_string_equal(n->slots[0].name, "sub_a");
    assert_int_equal(n->slots[0].active, 1);
    assert_true(n->slots[0].active_pid == 4242);
    assert_true(n->slots[0].retained_bytes == 16777216);
    assert_true(n->slots[0].xmin_age == RM_NONE);
    assert_true(n->slots[0].catalog_xmin_age == 12);
    assert_true(fabs(n->slots[0].replay_lag_seconds - 0.25) < 1e-9);
    /* Columns this version lacks: not reported. */
    assert_null(n->slots[0].wal_status);
    assert_int_equal(n->slots[0].conflicting, -1);
    assert_true(isnan(n->slots[0].inactive_seconds));
    assert_true(n->slots[0].safe_wal_size == RM_NONE);
    assert_int_equal(n->slots[1].active, 0);
    assert_null(n->slots[1].plugin);
    assert_true(n->slots[1].retained_bytes == RM_NONE);
    PQclear(res);
    snap = calloc(1, sizeof(*snap));
    snap->nodes = n;
    snap->count = 1;
    snap->collected_ms = 1234;
    /* A deep copy: the same values in strings of its own. */
    {
        rm_snapshot_t *copy = rm_snapshot_copy(snap);

        assert_non_null(copy);
        assert_int_equal(copy->count, 1);
        assert_true(copy->collected_ms == 1234);
        assert_int_equal(copy->nodes[0].nslots, 2);
        assert_string_equal(copy->nodes[0].slots[0].name, "sub_a");
        assert_ptr_not_equal(copy->nodes[0].slots[0].name, n->slots[0].name);
        assert_string_equal(copy->nodes[0].slots[0].sender_state, "streaming");
        assert_null(copy->nodes[0].slots[1].plugin);
        rm_snapshot_free(snap); /* each frees its own strings (ASan) */
        assert_string_equal(copy->nodes[0].slots[0].plugin, "pgoutput");
        rm_snapshot_free(copy);
    }
    rm_snapshot_free(NULL);
}

static PGresult *subs_result(void)
{
    return pgres_new("subname,enabled,slot_name,publications,worker_pid,"
                     "received_lsn,latest_end_lsn,last_msg_age_seconds,"
                     "transit_seconds,latest_end_age_seconds,tables_total,"
                     "tables_ready,sync_workers,apply_error_count,"
                     "sync_error_count",
                     NULL);
}

static void test_parse_subscriptions_and_state(void **state)
{
    const char *streaming[] = {"s1",        "t",         "s1",  "pub",   "77",
                               "0/4F00000", "0/4F00000", "0.5", "0.001", "0.5",
                               "3",         "3",         "0",   "0",     "2"};
    const char *disabled[] = {"s2", "f",  "s2", "pub", NULL, NULL, NULL, NULL,
                              NULL, NULL, "3",  "3",   "0",  "0",  "0"};
    const char *down[] = {"s3", "t",  NULL, "pub", NULL, NULL, NULL, NULL,
                          NULL, NULL, "3",  "3",   "0",  NULL, NULL};
    const char *syncing[] = {"s4",  "t",   "s4",  "pub", "78",
                             "0/1", "0/1", "0.1", "0",   "0.1",
                             "3",   "1",   "2",   "0",   "0"};
    PGresult *res = subs_result();
    rm_node_t n;
    size_t i;

    (void)state;
    memset(&n, 0, sizeof(n));
    pgres_row(res, streaming);
    pgres_row(res, disabled);
    pgres_row(res, down);
    pgres_row(res, syncing);
    assert_int_equal(rm_parse_subscriptions(res, &n), 0);
    assert_int_equal(n.nsubs, 4);
    assert_string_equal(rm_subscription_state(&n.subs[0]), "streaming");
    assert_string_equal(rm_subscription_state(&n.subs[1]), "disabled");
    assert_string_equal(rm_subscription_state(&n.subs[2]), "down");
    assert_string_equal(rm_subscription_state(&n.subs[3]), "syncing");
    assert_true(n.subs[0].sync_error_count == 2);
    assert_true(n.subs[2].apply_error_count == RM_NONE);
    assert_null(n.subs[2].slot_name);
    assert_true(n.subs[0].lag_bytes == RM_NONE);
    PQclear(res);
    for (i = 0; i < n.nsubs; i++) {
        free(n.subs[i].name);
        free(n.subs[i].slot_name);
        free(n.subs[i].publications);
    }
    free(n.subs);
}

/* A snapshot: a publisher with slots, subscribers, a standby. */
static rm_node_t *add_node(rm_snapshot_t *snap, const char *id, int port,
                           int in_recovery, const char *lsn)
{
    rm_node_t *n;

    snap->nodes = realloc(snap->nodes, (snap->count + 1) * sizeof(*n));
    n = &snap->nodes[snap->count++];
    memset(n, 0, sizeof(*n));
    snprintf(n->id, sizeof(n->id), "%s", id);
    snprintf(n->host, sizeof(n->host), "127.0.0.1");
    n->port = port;
    n->reachable = 1;
    n->in_recovery = in_recovery;
    snprintf(n->current_lsn, sizeof(n->current_lsn), "%s", lsn);
    n->receiver.lag_bytes = RM_NONE;
    return n;
}

static void give_slot(rm_node_t *n, const char *name, const char *type,
                      const char *cur, const char *lag)
{
    const char *names = "slot_name,slot_type,current_lsn,replay_lag_seconds";
    const char *row[] = {name, type, cur, lag};
    PGresult *res = pgres_new(names, NULL);
    rm_node_t tmp;

    memset(&tmp, 0, sizeof(tmp));
    pgres_row(res, row);
    assert_int_equal(rm_parse_slots(res, &tmp), 0);
    n->slots = realloc(n->slots, (n->nslots + 1) * sizeof(rm_slot_t));
    n->slots[n->nslots++] = tmp.slots[0];
    free(tmp.slots);
    PQclear(res);
}

static void give_sub(rm_node_t *n, const char *name, const char *slot,
                     const char *received)
{
    const char *row[] = {name,     "t",      slot,  "pub", "1",
                         received, received, "0.1", "0",   "0.1",
                         "1",      "1",      "0",   "0",   "0"};
    PGresult *res = subs_result();
    rm_node_t tmp;

    memset(&tmp, 0, sizeof(tmp));
    pgres_row(res, row);
    assert_int_equal(rm_parse_subscriptions(res, &tmp), 0);
    n->subs = realloc(n->subs, (n->nsubs + 1) * sizeof(rm_subscription_t));
    n->subs[n->nsubs++] = tmp.subs[0];
    free(tmp.subs);
    PQclear(res);
}

static void give_receiver(rm_node_t *n, const char *host, const char *port,
                          const char *slot, const char *receive)
{
    const char *names = "status,slot_name,sender_host,sender_port,"
                        "receive_lsn,replay_lsn,replay_backlog_bytes,"
                        "replay_delay_seconds,paused";
    const char *row[] = {"streaming", slot, host, port, receive,
                         receive,     "0",  "0",  "f"};
    PGresult *res = pgres_new(names, NULL);

    pgres_row(res, row);
    assert_int_equal(rm_parse_receiver(res, n), 0);
    PQclear(res);
}

static void test_link_logical(void **state)
{
    rm_snapshot_t *snap = calloc(1, sizeof(*snap));
    rm_node_t *pub, *s1, *s2;

    (void)state;
    pub = add_node(snap, "pub", 5432, 0, "1/00000010");
    give_slot(pub, "sub_a", "logical", "1/00000010", "1.5");
    give_slot(pub, "sub_b", "logical", "1/00000010", NULL);
    give_slot(pub, "sub_c", "logical", "1/00000010", NULL);
    snprintf(pub->slots[2].confirmed_flush_lsn, 24, "0/FFFFFF00");
    s1 = add_node(snap, "s1", 5433, 0, "0/100");
    give_sub(s1, "sub_a", "sub_a", "0/FFFFFFF0");
    give_sub(s1, "orphan", "nowhere", "0/1");
    s2 = add_node(snap, "s2", 5434, 0, "0/100");
    /* Received ahead of the (earlier) publisher reading: clamped to 0. */
    give_sub(s2, "sub_b", "sub_b", "1/00000020");
    /* Disabled: no worker, no received_lsn; the slot tells how far. */
    give_sub(s2, "sub_c", "sub_c", NULL);
    rm_snapshot_link(snap);

    s1 = &snap->nodes[1];
    s2 = &snap->nodes[2];
    assert_string_equal(s1->subs[0].publisher, "pub");
    /* 1/00000010 - 0/FFFFFFF0 = 0x20 bytes, across the 32-bit boundary. */
    assert_true(s1->subs[0].lag_bytes == 0x20);
    assert_true(fabs(s1->subs[0].lag_seconds - 1.5) < 1e-9);
    assert_string_equal(s1->subs[1].publisher, "");
    assert_non_null(strstr(s1->subs[1].link_note, "no monitored node"));
    assert_true(s1->subs[1].lag_bytes == RM_NONE);
    assert_string_equal(s2->subs[0].publisher, "pub");
    assert_true(s2->subs[0].lag_bytes == 0);
    /* No walsender lag but caught up: 0 s. */
    assert_true(s2->subs[0].lag_seconds == 0.0);
    assert_string_equal(s2->subs[1].publisher, "pub");
    assert_true(s2->subs[1].lag_bytes == 0x110);
    assert_true(isnan(s2->subs[1].lag_seconds));
    rm_snapshot_free(snap);
}

static void test_link_ambiguous_and_standby_slots(void **state)
{
    rm_snapshot_t *snap = calloc(1, sizeof(*snap));
    rm_node_t *a, *b, *st, *sub;

    (void)state;
    a = add_node(snap, "a", 5432, 0, "0/10");
    give_slot(a, "dup", "logical", "0/10", NULL);
    b = add_node(snap, "b", 5433, 0, "0/10");
    give_slot(b, "dup", "logical", "0/10", NULL);
    /* A synced slot on a standby (PG 17) does not count. */
    st = add_node(snap, "st", 5435, 1, "0/10");
    give_slot(st, "only_on_standby", "logical", "0/10", NULL);
    sub = add_node(snap, "sub", 5434, 0, "0/1");
    give_sub(sub, "x", "dup", "0/5");
    give_sub(sub, "y", "only_on_standby", "0/5");
    rm_snapshot_link(snap);
    sub = &snap->nodes[3];
    assert_string_equal(sub->subs[0].publisher, "");
    assert_non_null(strstr(sub->subs[0].link_note, "several nodes"));
    assert_string_equal(sub->subs[1].publisher, "");
    rm_snapshot_free(snap);
}

static void test_link_physical(void **state)
{
    rm_snapshot_t *snap = calloc(1, sizeof(*snap));
    rm_node_t *pri, *other, *sb1, *sb2, *sb3;

    (void)state;
    pri = add_node(snap, "primary", 5432, 0, "0/3000000");
    give_slot(pri, "standby_slot", "physical", "0/3000000", NULL);
    other = add_node(snap, "other", 6000, 0, "0/9000000");
    (void)other;
    /* By sender host and port ("localhost" and 127.0.0.1 are the same). */
    sb1 = add_node(snap, "sb1", 5440, 1, "0/2FFFF00");
    give_receiver(sb1, "localhost", "5432", NULL, "0/2FFFF00");
    /* By slot name when the sender is unknown (PG 10). */
    sb2 = add_node(snap, "sb2", 5441, 1, "0/2000000");
    give_receiver(sb2, NULL, NULL, "standby_slot", "0/2000000");
    /* Neither: unknown upstream. */
    sb3 = add_node(snap, "sb3", 5442, 1, "0/1");
    give_receiver(sb3, "10.0.0.9", "5432", NULL, "0/1");
    rm_snapshot_link(snap);
    sb1 = &snap->nodes[2];
    sb2 = &snap->nodes[3];
    sb3 = &snap->nodes[4];
    assert_string_equal(sb1->receiver.primary, "primary");
    assert_true(sb1->receiver.lag_bytes == 0x100);
    assert_string_equal(sb2->receiver.primary, "primary");
    assert_true(sb2->receiver.lag_bytes == 0x1000000);
    assert_string_equal(sb3->receiver.primary, "");
    assert_true(sb3->receiver.lag_bytes == RM_NONE);
    rm_snapshot_free(snap);
}

/* Native subscriptions first (PG 18 with conflict counters), then
 * pglogical's appended; the pglogical one links through its slot on the
 * provider, its lag from the slot's confirmed_flush_lsn. */
static void test_parse_pglogical_and_confl(void **state)
{
    const char *native[] = {"ns", "t", "ns", "pub", "5", "0/1", "0/1", "0",
                            "0",  "0", "1",  "1",   "0", "4",   "1",   "4",
                            NULL, "0", "2",  "0",   "0", "0"};
    const char *pl_names = "subname,pglogical_status,provider_node,slot_name,"
                           "publications,enabled,worker_pid,tables_total,"
                           "tables_ready";
    const char *pl_ok[] = {"pgsub",
                           "replicating",
                           "provider",
                           "pgl_postgres_provider_pgsub",
                           "default,ddl",
                           "t",
                           "4242",
                           "2",
                           "2"};
    const char *pl_init[] = {
        "pginit", "initializing", "provider", "pgl_x", "default",
        "t",      "4243",         "2",        "1"};
    const char *pl_down[] = {"pgdown", "down", "provider", "pgl_y", "default",
                             "t",      NULL,   "0",        "0"};
    PGresult *res = pgres_new(
        "subname,enabled,slot_name,publications,worker_pid,received_lsn,"
        "latest_end_lsn,last_msg_age_seconds,transit_seconds,"
        "latest_end_age_seconds,tables_total,tables_ready,sync_workers,"
        "apply_error_count,sync_error_count,confl_insert_exists,"
        "confl_update_origin_differs,confl_update_exists,confl_update_missing,"
        "confl_delete_origin_differs,confl_delete_missing,"
        "confl_multiple_unique_conflicts",
        NULL);
    PGresult *pl = pgres_new(pl_names, NULL);
    rm_snapshot_t *snap = calloc(1, sizeof(*snap));
    rm_node_t *prov, *n;

    (void)state;
    prov = add_node(snap, "prov", 5432, 0, "0/3000000");
    give_slot(prov, "pgl_postgres_provider_pgsub", "logical", "0/3000000",
              "0.25");
    snprintf(prov->slots[0].confirmed_flush_lsn, 24, "0/2FFFF00");
    n = add_node(snap, "sub", 5433, 0, "0/100");
    n->have_facts = 1;
    pgres_row(res, native);
    assert_int_equal(rm_parse_subscriptions(res, n), 0);
    pgres_row(pl, pl_ok);
    pgres_row(pl, pl_init);
    pgres_row(pl, pl_down);
    assert_int_equal(rm_parse_pglogical(pl, n), 0);
    assert_int_equal(n->nsubs, 4);
    assert_int_equal(n->subs[0].kind, RM_SUB_NATIVE);
    assert_string_equal(rm_sub_kind_name(n->subs[0].kind), "native");
    assert_true(n->subs[0].confl[RM_CONFL_INSERT_EXISTS] == 4);
    assert_true(n->subs[0].confl[RM_CONFL_UPDATE_ORIGIN_DIFFERS] == RM_NONE);
    assert_true(n->subs[0].confl[RM_CONFL_UPDATE_EXISTS] == 0);
    assert_true(n->subs[0].confl[RM_CONFL_UPDATE_MISSING] == 2);
    assert_true(isnan(n->subs[0].conflict_rate_per_min));
    assert_int_equal(n->subs[1].kind, RM_SUB_PGLOGICAL);
    assert_string_equal(rm_sub_kind_name(n->subs[1].kind), "pglogical");
    assert_string_equal(n->subs[1].provider_node, "provider");
    assert_string_equal(n->subs[1].publications, "default,ddl");
    assert_true(n->subs[1].worker_pid == 4242);
    assert_true(n->subs[1].apply_error_count == RM_NONE);
    assert_true(n->subs[1].confl[RM_CONFL_INSERT_EXISTS] == RM_NONE);
    assert_true(isnan(n->subs[1].last_msg_age_seconds));
    assert_string_equal(rm_subscription_state(&n->subs[1]), "streaming");
    assert_string_equal(rm_subscription_state(&n->subs[2]), "syncing");
    assert_string_equal(rm_subscription_state(&n->subs[3]), "down");
    /* A subscriber through pglogical alone, too. */
    n->subscription_count = 0;
    assert_true(rm_node_roles(n) & RM_ROLE_SUBSCRIBER);
    rm_snapshot_link(snap);
    n = &snap->nodes[1];
    assert_string_equal(n->subs[1].publisher, "prov");
    assert_true(n->subs[1].lag_bytes == 0x100);
    assert_true(fabs(n->subs[1].lag_seconds - 0.25) < 1e-9);
    PQclear(res);
    PQclear(pl);
    {
        rm_snapshot_t *copy = rm_snapshot_copy(snap);

        assert_non_null(copy);
        assert_int_equal(copy->count, snap->count);
        assert_int_equal(copy->nodes[1].nsubs, n->nsubs);
        assert_string_equal(copy->nodes[1].subs[1].name, n->subs[1].name);
        assert_string_equal(copy->nodes[1].subs[1].publisher, "prov");
        assert_int_equal(copy->nodes[1].subs[1].kind, n->subs[1].kind);
        rm_snapshot_free(copy);
    }
    rm_snapshot_free(snap); /* frees the pglogical strings too (ASan) */
}

static void test_section_state_names(void **state)
{
    (void)state;
    assert_string_equal(rm_section_state_name(RM_SECTION_OK), "ok");
    assert_string_equal(rm_section_state_name(RM_SECTION_SKIPPED), "skipped");
    assert_string_equal(rm_section_state_name(RM_SECTION_NO_PERMISSION),
                        "no_permission");
    assert_string_equal(rm_section_state_name(RM_SECTION_ERROR), "error");
}

/* Which sections a node's facts ask for (the dashboard's per-node
 * rounds and rm_collect both plan this way). */
static void test_plan_by_facts(void **state)
{
    rm_target_node_t t = {"n1", "127.0.0.1", 5432};
    rm_node_t n;

    (void)state;
    rm_node_begin(&n, &t);
    assert_string_equal(n.id, "n1");
    assert_int_equal(n.receiver.lag_bytes, RM_NONE);
    /* No facts: nothing more is asked. */
    assert_null(rm_node_plan(&n, RM_SQL_SLOTS));
    assert_int_equal(n.sections[RM_SQL_SLOTS].state, RM_SECTION_SKIPPED);
    n.reachable = 1;
    n.have_facts = 1;
    n.server_version = 150004;
    n.slot_count = 0;
    n.subscription_count = 0;
    n.walsenders = 0;
    n.can_read_stats = 1;
    /* A primary without slots, subscriptions or walsenders: one
     * statement a round, the facts. */
    assert_null(rm_node_plan(&n, RM_SQL_SLOTS));
    assert_int_equal(n.sections[RM_SQL_SLOTS].state, RM_SECTION_OK);
    assert_null(rm_node_plan(&n, RM_SQL_SUBSCRIPTIONS));
    assert_null(rm_node_plan(&n, RM_SQL_STANDBYS));
    assert_null(rm_node_plan(&n, RM_SQL_RECEIVER));
    assert_int_equal(n.sections[RM_SQL_RECEIVER].state, RM_SECTION_SKIPPED);
    n.slot_count = 2;
    n.walsenders = 1;
    assert_non_null(rm_node_plan(&n, RM_SQL_SLOTS));
    assert_non_null(rm_node_plan(&n, RM_SQL_STANDBYS));
    n.in_recovery = 1;
    assert_non_null(rm_node_plan(&n, RM_SQL_RECEIVER));
    rm_node_fail(&n, RM_SQL_FACTS, "cannot submit");
    assert_string_equal(n.error, "cannot submit");
    assert_int_equal(n.sections[RM_SQL_FACTS].state, RM_SECTION_ERROR);
    rm_node_clear(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lsn_parse_format),
        cmocka_unit_test(test_lsn_diff),
        cmocka_unit_test(test_parse_facts),
        cmocka_unit_test(test_parse_slots_old_version),
        cmocka_unit_test(test_parse_subscriptions_and_state),
        cmocka_unit_test(test_link_logical),
        cmocka_unit_test(test_link_ambiguous_and_standby_slots),
        cmocka_unit_test(test_link_physical),
        cmocka_unit_test(test_parse_pglogical_and_confl),
        cmocka_unit_test(test_section_state_names),
        cmocka_unit_test(test_plan_by_facts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
