/* SPDX-License-Identifier: MIT */
/*
 * replsql.c - the per-version SQL table. Statements are assembled at compile
 * time from the fragments below so that each version's row reads as the list
 * of what that version adds; the table at the end is the only place that
 * decides which statement a server gets.
 *
 * Rules every statement follows:
 * - the current LSN is recovery-aware (pg_last_wal_receive_lsn() or
 *   pg_last_wal_replay_lsn() on a standby, pg_current_wal_lsn() on a primary):
 *   CASE over two functions that exist on every version is safe because only
 *   the chosen branch runs;
 * - LSNs are returned as text ("X/Y") and subtracted in C or with
 *   pg_wal_lsn_diff(); intervals as float8 seconds;
 * - pg_last_committed_xact() is called only where track_commit_timestamp
 *   is on (a CASE again: it fails otherwise);
 * - pg_subscription is read by named column only: subconninfo is not
 *   readable by ordinary roles, and up to 13 neither is oid (found by the
 *   version matrix, tests/integration/test_versions.c: pg_monitor gets
 *   "permission denied for table pg_subscription" on 12 and 13 too).
 */
#include "replsql.h"

#include "pglogical.h"

/* ---------------------------------------------------------------------- */
/* Fragments                                                              */
/* ---------------------------------------------------------------------- */

#define CUR_LSN                                                                \
    "(CASE WHEN pg_is_in_recovery() "                                          \
    "THEN coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) "      \
    "ELSE pg_current_wal_lsn() END)"

#define THIS_DB                                                                \
    "(SELECT oid FROM pg_database WHERE datname = current_database())"

/* Facts: identical on 10+. */
#define SQL_FACTS                                                              \
    "SELECT current_setting('server_version_num')::int AS version_num, "       \
    "pg_is_in_recovery() AS in_recovery, " CUR_LSN "::text AS current_lsn, "   \
    "current_setting('wal_level') AS wal_level, "                              \
    "(SELECT count(*) FROM pg_publication) AS publications, "                  \
    "(SELECT count(*) FROM pg_subscription WHERE subdbid = " THIS_DB           \
    ") AS subscriptions, "                                                     \
    "(SELECT count(*) FROM pg_replication_slots) AS slots, "                   \
    "(SELECT count(*) FROM pg_replication_slots "                              \
    "WHERE slot_type = 'logical') AS logical_slots, "                          \
    "(SELECT count(*) FROM pg_stat_replication) AS walsenders, "               \
    "(SELECT count(*) FROM pg_stat_wal_receiver) AS walreceivers, "            \
    "pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') "                 \
    "AS can_read_stats, "                                                      \
    "current_database() AS database, current_user AS user_name, "              \
    "(SELECT extversion FROM pg_extension WHERE extname = 'pglogical') "       \
    "AS pglogical_version, "                                                   \
    "(CASE WHEN current_setting('track_commit_timestamp') = 'on' AND NOT "     \
    "pg_is_in_recovery() THEN extract(epoch FROM now() - "                     \
    "(pg_last_committed_xact()).timestamp) END)::float8 "                      \
    "AS last_commit_age_seconds, "                                             \
    "extract(epoch FROM now())::float8 AS server_epoch"

/* Slots: the walsender serving an active slot gives its replay lag. */
#define SLOTS_HEAD                                                             \
    "WITH cur AS (SELECT " CUR_LSN " AS lsn) "                                 \
    "SELECT s.slot_name, s.slot_type, s.plugin, s.database, s.temporary, "     \
    "cur.lsn::text AS current_lsn, "                                           \
    "s.active, s.active_pid, s.restart_lsn::text AS restart_lsn, "             \
    "s.confirmed_flush_lsn::text AS confirmed_flush_lsn, "                     \
    "pg_wal_lsn_diff(cur.lsn, s.restart_lsn)::bigint AS retained_bytes, "      \
    "pg_wal_lsn_diff(cur.lsn, s.confirmed_flush_lsn)::bigint "                 \
    "AS unconfirmed_bytes, "                                                   \
    "age(s.xmin) AS xmin_age, age(s.catalog_xmin) AS catalog_xmin_age, "       \
    "r.application_name AS sender_application_name, "                          \
    "r.state AS sender_state, "                                                \
    "pg_wal_lsn_diff(cur.lsn, r.sent_lsn)::bigint AS unsent_bytes, "           \
    "pg_wal_lsn_diff(r.sent_lsn, r.write_lsn)::bigint AS unacked_bytes, "      \
    "extract(epoch FROM r.replay_lag)::float8 AS replay_lag_seconds"
/* 12+: when the downstream last replied (a stopped one stops replying). */
#define SLOTS_12                                                               \
    ", extract(epoch FROM now() - r.reply_time)::float8 AS reply_age_seconds"
#define SLOTS_13 ", s.wal_status, s.safe_wal_size"
#define SLOTS_16 ", s.conflicting"
#define SLOTS_17                                                               \
    ", extract(epoch FROM now() - s.inactive_since)::float8 "                  \
    "AS inactive_seconds, s.invalidation_reason, s.failover, s.synced"
#define SLOTS_TAIL                                                             \
    " FROM pg_replication_slots s CROSS JOIN cur "                             \
    "LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid "                 \
    "ORDER BY s.slot_name"

#define SQL_SLOTS_10 SLOTS_HEAD SLOTS_TAIL
#define SQL_SLOTS_12 SLOTS_HEAD SLOTS_12 SLOTS_TAIL
#define SQL_SLOTS_13 SLOTS_HEAD SLOTS_12 SLOTS_13 SLOTS_TAIL
#define SQL_SLOTS_14 SQL_SLOTS_13
#define SQL_SLOTS_16 SLOTS_HEAD SLOTS_12 SLOTS_13 SLOTS_16 SLOTS_TAIL
#define SQL_SLOTS_17 SLOTS_HEAD SLOTS_12 SLOTS_13 SLOTS_16 SLOTS_17 SLOTS_TAIL

/*
 * Subscriptions. The apply worker is the pg_stat_subscription row with
 * relid IS NULL (<= 15), also leader_pid IS NULL (16: parallel apply
 * workers), worker_type = 'apply' (17+). A disabled or crashed subscription
 * has no such row. Up to 13 pg_subscription.oid is not granted to public,
 * so the worker is joined by name and the table counts use the view's
 * subid (pg_stat_subscription has a row with the subid and a NULL pid for
 * a subscription without a worker, up to 16).
 */
#define SUBS_COMMON                                                            \
    "SELECT s.subname, s.subenabled AS enabled, s.subslotname AS slot_name, "  \
    "array_to_string(s.subpublications, ',') AS publications, "                \
    "w.pid AS worker_pid, w.received_lsn::text AS received_lsn, "              \
    "w.latest_end_lsn::text AS latest_end_lsn, "                               \
    "extract(epoch FROM now() - w.last_msg_receipt_time)::float8 "             \
    "AS last_msg_age_seconds, "                                                \
    "extract(epoch FROM w.last_msg_receipt_time - w.last_msg_send_time)"       \
    "::float8 AS transit_seconds, "                                            \
    "extract(epoch FROM now() - w.latest_end_time)::float8 "                   \
    "AS latest_end_age_seconds"
#define SUBS_TABLES(subid)                                                     \
    ", (SELECT count(*) FROM pg_subscription_rel r WHERE r.srsubid = " subid   \
    ") AS tables_total, "                                                      \
    "(SELECT count(*) FROM pg_subscription_rel r WHERE r.srsubid = " subid     \
    " AND r.srsubstate = 'r') AS tables_ready, "                               \
    "(SELECT count(*) FROM pg_stat_subscription t WHERE t.subid = " subid      \
    " AND t.relid IS NOT NULL) AS sync_workers"
#define SUBS_TAIL " WHERE s.subdbid = " THIS_DB " ORDER BY s.subname"

#define SQL_SUBS_10                                                            \
    SUBS_COMMON SUBS_TABLES(                                                   \
        "w.subid") " FROM pg_subscription s LEFT JOIN pg_stat_subscription w " \
                   "ON w.subname = s.subname AND w.relid IS NULL" SUBS_TAIL
#define SQL_SUBS_14                                                            \
    SUBS_COMMON SUBS_TABLES(                                                   \
        "s.oid") " FROM pg_subscription s LEFT JOIN pg_stat_subscription w "   \
                 "ON w.subid = s.oid AND w.relid IS NULL" SUBS_TAIL
#define SUBS_STATS_COLS ", e.apply_error_count, e.sync_error_count"
/* 18: the conflict counters (rm_confl_t's order). */
#define SUBS_CONFL_COLS                                                        \
    ", e.confl_insert_exists, e.confl_update_origin_differs, "                 \
    "e.confl_update_exists, e.confl_update_missing, "                          \
    "e.confl_delete_origin_differs, e.confl_delete_missing, "                  \
    "e.confl_multiple_unique_conflicts"
#define SUBS_STATS_JOIN                                                        \
    " LEFT JOIN pg_stat_subscription_stats e ON e.subid = s.oid"
#define SQL_SUBS_15                                                            \
    SUBS_COMMON SUBS_TABLES("s.oid") SUBS_STATS_COLS                           \
        " FROM pg_subscription s LEFT JOIN pg_stat_subscription w "            \
        "ON w.subid = s.oid AND w.relid IS NULL" SUBS_STATS_JOIN SUBS_TAIL
#define SQL_SUBS_16                                                            \
    SUBS_COMMON SUBS_TABLES("s.oid") SUBS_STATS_COLS                           \
        " FROM pg_subscription s LEFT JOIN pg_stat_subscription w "            \
        "ON w.subid = s.oid AND w.relid IS NULL AND w.leader_pid IS "          \
        "NULL" SUBS_STATS_JOIN SUBS_TAIL
#define SQL_SUBS_17                                                            \
    SUBS_COMMON SUBS_TABLES("s.oid") SUBS_STATS_COLS                           \
        " FROM pg_subscription s LEFT JOIN pg_stat_subscription w "            \
        "ON w.subid = s.oid AND w.worker_type = 'apply'" SUBS_STATS_JOIN       \
            SUBS_TAIL

#define SQL_SUBS_18                                                            \
    SUBS_COMMON SUBS_TABLES("s.oid") SUBS_STATS_COLS SUBS_CONFL_COLS           \
        " FROM pg_subscription s LEFT JOIN pg_stat_subscription w "            \
        "ON w.subid = s.oid AND w.worker_type = 'apply'" SUBS_STATS_JOIN       \
            SUBS_TAIL

/* Physical walsenders: datname IS NULL; base backups are not standbys. */
#define STANDBYS_HEAD                                                          \
    "WITH cur AS (SELECT " CUR_LSN " AS lsn) "                                 \
    "SELECT r.pid, r.application_name, host(r.client_addr) AS client_addr, "   \
    "r.client_port, r.state, r.sync_state, r.sent_lsn::text AS sent_lsn, "     \
    "r.write_lsn::text AS write_lsn, r.flush_lsn::text AS flush_lsn, "         \
    "r.replay_lsn::text AS replay_lsn, "                                       \
    "pg_wal_lsn_diff(cur.lsn, r.sent_lsn)::bigint AS pending_bytes, "          \
    "pg_wal_lsn_diff(r.sent_lsn, r.write_lsn)::bigint AS unacked_bytes, "      \
    "pg_wal_lsn_diff(cur.lsn, r.replay_lsn)::bigint AS replay_bytes, "         \
    "extract(epoch FROM r.write_lag)::float8 AS write_lag_seconds, "           \
    "extract(epoch FROM r.flush_lag)::float8 AS flush_lag_seconds, "           \
    "extract(epoch FROM r.replay_lag)::float8 AS replay_lag_seconds"
#define STANDBYS_12                                                            \
    ", extract(epoch FROM now() - r.reply_time)::float8 AS reply_age_seconds"
#define STANDBYS_TAIL                                                          \
    " FROM pg_stat_replication r JOIN pg_stat_activity a ON a.pid = r.pid "    \
    "CROSS JOIN cur WHERE a.datname IS NULL AND coalesce(r.application_name, " \
    "'') NOT IN ('pg_basebackup', 'pg_rewind') "                               \
    "ORDER BY r.application_name, r.pid"

#define SQL_STANDBYS_10 STANDBYS_HEAD STANDBYS_TAIL
#define SQL_STANDBYS_12 STANDBYS_HEAD STANDBYS_12 STANDBYS_TAIL

/* The standby's own view. received_lsn was renamed flushed_lsn in 13;
 * sender_host/port appeared in 11. One row, only while in recovery. */
#define RECEIVER_HEAD                                                          \
    "SELECT w.status, w.slot_name, "                                           \
    "extract(epoch FROM now() - w.last_msg_receipt_time)::float8 "             \
    "AS last_msg_age_seconds, "                                                \
    "extract(epoch FROM now() - w.latest_end_time)::float8 "                   \
    "AS latest_end_age_seconds, "                                              \
    "pg_last_wal_receive_lsn()::text AS receive_lsn, "                         \
    "pg_last_wal_replay_lsn()::text AS replay_lsn, "                           \
    "pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())"     \
    "::bigint AS replay_backlog_bytes, "                                       \
    "(CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() "         \
    "THEN 0 ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) " \
    "END)::float8 AS replay_delay_seconds, "                                   \
    "pg_is_wal_replay_paused() AS paused"
#define RECEIVER_10 ", w.received_lsn::text AS received_lsn"
#define RECEIVER_11 ", w.sender_host, w.sender_port"
#define RECEIVER_13                                                            \
    ", w.flushed_lsn::text AS received_lsn, w.written_lsn::text AS "           \
    "written_lsn"
#define RECEIVER_TAIL                                                          \
    " FROM (SELECT 1) AS one LEFT JOIN pg_stat_wal_receiver w ON true "        \
    "WHERE pg_is_in_recovery()"

#define SQL_RECEIVER_10 RECEIVER_HEAD RECEIVER_10 RECEIVER_TAIL
#define SQL_RECEIVER_11 RECEIVER_HEAD RECEIVER_10 RECEIVER_11 RECEIVER_TAIL
#define SQL_RECEIVER_13 RECEIVER_HEAD RECEIVER_13 RECEIVER_11 RECEIVER_TAIL

/* ---------------------------------------------------------------------- */
/* The table                                                              */
/* ---------------------------------------------------------------------- */

#define PGL RM_PGLOGICAL_SQL /* the same on every version */

static const rm_sql_row_t sql_table[] = {
    /* major, facts, slots, subscriptions, standbys, receiver, pglogical */
    {10,
     {SQL_FACTS, SQL_SLOTS_10, SQL_SUBS_10, SQL_STANDBYS_10, SQL_RECEIVER_10,
      PGL}},
    {11,
     {SQL_FACTS, SQL_SLOTS_10, SQL_SUBS_10, SQL_STANDBYS_10, SQL_RECEIVER_11,
      PGL}},
    {12,
     {SQL_FACTS, SQL_SLOTS_12, SQL_SUBS_10, SQL_STANDBYS_12, SQL_RECEIVER_11,
      PGL}},
    {13,
     {SQL_FACTS, SQL_SLOTS_13, SQL_SUBS_10, SQL_STANDBYS_12, SQL_RECEIVER_13,
      PGL}},
    {14,
     {SQL_FACTS, SQL_SLOTS_14, SQL_SUBS_14, SQL_STANDBYS_12, SQL_RECEIVER_13,
      PGL}},
    {15,
     {SQL_FACTS, SQL_SLOTS_14, SQL_SUBS_15, SQL_STANDBYS_12, SQL_RECEIVER_13,
      PGL}},
    {16,
     {SQL_FACTS, SQL_SLOTS_16, SQL_SUBS_16, SQL_STANDBYS_12, SQL_RECEIVER_13,
      PGL}},
    {17,
     {SQL_FACTS, SQL_SLOTS_17, SQL_SUBS_17, SQL_STANDBYS_12, SQL_RECEIVER_13,
      PGL}},
    {18,
     {SQL_FACTS, SQL_SLOTS_17, SQL_SUBS_18, SQL_STANDBYS_12, SQL_RECEIVER_13,
      PGL}},
};

#define SQL_TABLE_LEN (sizeof(sql_table) / sizeof(sql_table[0]))

const rm_sql_row_t *rm_sql_row_for_version(int server_version)
{
    int major;
    size_t i;

    if (server_version < RM_SQL_MIN_VERSION)
        return NULL;
    major = server_version / 10000;
    for (i = SQL_TABLE_LEN; i-- > 0;) {
        if (sql_table[i].major <= major)
            return &sql_table[i];
    }
    return NULL;
}

const char *rm_sql_for(int server_version, rm_sql_section_t section)
{
    const rm_sql_row_t *row = rm_sql_row_for_version(server_version);

    if (row == NULL || (int)section < 0 || section >= RM_SQL_SECTION_COUNT)
        return NULL;
    return row->sql[section];
}

const char *rm_sql_facts(void)
{
    return SQL_FACTS;
}

const char *rm_sql_section_name(rm_sql_section_t section)
{
    switch (section) {
    case RM_SQL_FACTS:
        return "facts";
    case RM_SQL_SLOTS:
        return "slots";
    case RM_SQL_SUBSCRIPTIONS:
        return "subscriptions";
    case RM_SQL_STANDBYS:
        return "standbys";
    case RM_SQL_RECEIVER:
        return "receiver";
    case RM_SQL_PGLOGICAL:
        return "pglogical";
    case RM_SQL_SECTION_COUNT:
        break;
    }
    return "unknown";
}

const rm_sql_row_t *rm_sql_table(size_t *count)
{
    if (count != NULL)
        *count = SQL_TABLE_LEN;
    return sql_table;
}

int rm_sql_newest_major(void)
{
    return sql_table[SQL_TABLE_LEN - 1].major;
}
