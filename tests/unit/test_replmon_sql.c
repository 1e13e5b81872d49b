/* SPDX-License-Identifier: MIT */
/*
 * test_replmon_sql.c - the per-version SQL table: which row each server
 * version gets, and that each row asks only for what its version has
 * (wal_status from 13, error counts from 15, leader_pid in 16, worker_type
 * from 17, conflict counters from 18, flushed_lsn from 13, no
 * pg_subscription.oid before 14, ...), and pglogical's statement.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "replsql.h"

static int has(int version, rm_sql_section_t s, const char *needle)
{
    const char *sql = rm_sql_for(version, s);

    assert_non_null(sql);
    return strstr(sql, needle) != NULL;
}

static void test_row_selection(void **state)
{
    (void)state;
    assert_null(rm_sql_row_for_version(0));
    assert_null(rm_sql_row_for_version(90624));
    assert_int_equal(rm_sql_row_for_version(100000)->major, 10);
    assert_int_equal(rm_sql_row_for_version(100023)->major, 10);
    assert_int_equal(rm_sql_row_for_version(110022)->major, 11);
    assert_int_equal(rm_sql_row_for_version(150004)->major, 15);
    assert_int_equal(rm_sql_row_for_version(170002)->major, 17);
    assert_int_equal(rm_sql_row_for_version(180001)->major, 18);
    /* Newer than the table: its newest row. */
    assert_int_equal(rm_sql_row_for_version(190000)->major, 18);
    assert_int_equal(rm_sql_newest_major(), 18);
    assert_null(rm_sql_for(90600, RM_SQL_SLOTS));
    assert_null(rm_sql_for(150000, RM_SQL_SECTION_COUNT));
}

static void test_one_row_per_major(void **state)
{
    size_t n, i, s;
    const rm_sql_row_t *rows = rm_sql_table(&n);

    (void)state;
    assert_int_equal(n, 9); /* 10 to 18 */
    for (i = 0; i < n; i++) {
        assert_int_equal(rows[i].major, (int)(10 + i));
        for (s = 0; s < RM_SQL_SECTION_COUNT; s++) {
            assert_non_null(rows[i].sql[s]);
            /* Named columns only, never a CASE over the version. */
            assert_null(strstr(rows[i].sql[s], "SELECT *"));
            assert_null(strstr(rows[i].sql[s], "server_version_num') >="));
            assert_null(strstr(rows[i].sql[s], "subconninfo"));
        }
        assert_string_equal(rows[i].sql[RM_SQL_FACTS], rm_sql_facts());
    }
}

static void test_slot_columns_by_version(void **state)
{
    (void)state;
    assert_false(has(120000, RM_SQL_SLOTS, "wal_status"));
    assert_true(has(130000, RM_SQL_SLOTS, "wal_status"));
    assert_true(has(130000, RM_SQL_SLOTS, "safe_wal_size"));
    assert_false(has(150000, RM_SQL_SLOTS, "conflicting"));
    assert_true(has(160000, RM_SQL_SLOTS, "conflicting"));
    assert_false(has(160000, RM_SQL_SLOTS, "inactive_since"));
    assert_true(has(170000, RM_SQL_SLOTS, "inactive_since"));
    assert_true(has(170000, RM_SQL_SLOTS, "invalidation_reason"));
}

static void test_subscription_worker_filter(void **state)
{
    (void)state;
    /* The apply worker row. */
    assert_true(has(150000, RM_SQL_SUBSCRIPTIONS, "w.relid IS NULL"));
    assert_false(has(150000, RM_SQL_SUBSCRIPTIONS, "leader_pid"));
    assert_true(has(160000, RM_SQL_SUBSCRIPTIONS, "w.leader_pid IS NULL"));
    assert_true(has(170000, RM_SQL_SUBSCRIPTIONS, "worker_type = 'apply'"));
    assert_false(has(170000, RM_SQL_SUBSCRIPTIONS, "relid IS NULL AND"));
    /* Error counters exist from 15. */
    assert_false(has(140000, RM_SQL_SUBSCRIPTIONS, "apply_error_count"));
    assert_true(has(150000, RM_SQL_SUBSCRIPTIONS, "apply_error_count"));
    assert_true(
        has(150000, RM_SQL_SUBSCRIPTIONS, "pg_stat_subscription_stats"));
    /* Conflict counters from 18, all of them. */
    assert_false(has(170000, RM_SQL_SUBSCRIPTIONS, "confl_"));
    assert_true(has(180000, RM_SQL_SUBSCRIPTIONS, "e.confl_insert_exists"));
    assert_true(
        has(180000, RM_SQL_SUBSCRIPTIONS, "e.confl_multiple_unique_conflicts"));
    assert_true(has(180000, RM_SQL_SUBSCRIPTIONS, "worker_type = 'apply'"));
    /* pg_subscription.oid is not granted to public before 14. */
    assert_false(has(100000, RM_SQL_SUBSCRIPTIONS, "s.oid"));
    assert_false(has(110000, RM_SQL_SUBSCRIPTIONS, "s.oid"));
    assert_false(has(120000, RM_SQL_SUBSCRIPTIONS, "s.oid"));
    assert_false(has(130000, RM_SQL_SUBSCRIPTIONS, "s.oid"));
    assert_true(has(140000, RM_SQL_SUBSCRIPTIONS, "s.oid"));
    /* Subscriptions of this database only (pg_subscription is shared). */
    assert_true(has(100000, RM_SQL_SUBSCRIPTIONS, "subdbid"));
}

static void test_receiver_columns(void **state)
{
    (void)state;
    assert_true(has(100000, RM_SQL_RECEIVER, "w.received_lsn"));
    assert_false(has(100000, RM_SQL_RECEIVER, "sender_host"));
    assert_true(has(110000, RM_SQL_RECEIVER, "sender_host"));
    assert_true(has(130000, RM_SQL_RECEIVER, "w.flushed_lsn"));
    assert_false(has(130000, RM_SQL_RECEIVER, "w.received_lsn"));
    assert_false(has(110000, RM_SQL_STANDBYS, "reply_time"));
    assert_true(has(120000, RM_SQL_STANDBYS, "reply_time"));
    /* The walsender's last reply, for a downstream that stopped replying. */
    assert_false(has(110000, RM_SQL_SLOTS, "reply_time"));
    assert_true(has(120000, RM_SQL_SLOTS, "reply_time"));
    assert_true(has(170000, RM_SQL_SLOTS, "reply_time"));
    assert_true(has(100000, RM_SQL_SLOTS, "unacked_bytes"));
    assert_true(has(100000, RM_SQL_STANDBYS, "unacked_bytes"));
}

static void test_recovery_aware_lsn(void **state)
{
    static const rm_sql_section_t lsn_sections[] = {RM_SQL_FACTS, RM_SQL_SLOTS,
                                                    RM_SQL_STANDBYS};
    size_t i;

    (void)state;
    /* pg_current_wal_lsn() fails on a standby: it is only ever reached
     * through the pg_is_in_recovery() branch. */
    for (i = 0; i < 3; i++) {
        const char *sql = rm_sql_for(150000, lsn_sections[i]);
        const char *cur = strstr(sql, "pg_current_wal_lsn()");
        const char *guard = strstr(sql, "WHEN pg_is_in_recovery()");

        assert_non_null(cur);
        assert_non_null(guard);
        assert_true(guard < cur);
        assert_non_null(strstr(sql, "pg_last_wal_receive_lsn()"));
    }
    assert_null(
        strstr(rm_sql_for(150000, RM_SQL_RECEIVER), "pg_current_wal_lsn"));
}

static void test_pglogical_statement(void **state)
{
    (void)state;
    /* Detection is in the facts, re-read every round. */
    assert_non_null(strstr(rm_sql_facts(), "extname = 'pglogical'"));
    /* The same statement on every version; never the provider's DSN (it
     * may hold a password). */
    assert_string_equal(rm_sql_for(100000, RM_SQL_PGLOGICAL),
                        rm_sql_for(180000, RM_SQL_PGLOGICAL));
    assert_true(has(150000, RM_SQL_PGLOGICAL, "show_subscription_status()"));
    assert_false(has(150000, RM_SQL_PGLOGICAL, "dsn"));
    assert_true(has(150000, RM_SQL_PGLOGICAL, "'pglogical apply '"));
}

static void test_section_names(void **state)
{
    (void)state;
    assert_string_equal(rm_sql_section_name(RM_SQL_FACTS), "facts");
    assert_string_equal(rm_sql_section_name(RM_SQL_SLOTS), "slots");
    assert_string_equal(rm_sql_section_name(RM_SQL_SUBSCRIPTIONS),
                        "subscriptions");
    assert_string_equal(rm_sql_section_name(RM_SQL_STANDBYS), "standbys");
    assert_string_equal(rm_sql_section_name(RM_SQL_RECEIVER), "receiver");
    assert_string_equal(rm_sql_section_name(RM_SQL_PGLOGICAL), "pglogical");
    assert_string_equal(rm_sql_section_name(RM_SQL_SECTION_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_row_selection),
        cmocka_unit_test(test_one_row_per_major),
        cmocka_unit_test(test_slot_columns_by_version),
        cmocka_unit_test(test_subscription_worker_filter),
        cmocka_unit_test(test_receiver_columns),
        cmocka_unit_test(test_recovery_aware_lsn),
        cmocka_unit_test(test_pglogical_statement),
        cmocka_unit_test(test_section_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
