/* SPDX-License-Identifier: MIT */
/*
 * replsql.h - every version-specific SQL statement replmon sends, in one
 * table with one row per PostgreSQL major version (10 to 18). A row is chosen
 * from the server's PQserverVersion(); a newer server uses the newest row.
 * Statements never use CASE over a column that may not exist: a column that a
 * version lacks is simply absent from that version's statement, and the
 * collector treats an absent column as "not reported".
 */
#ifndef REPLMON_REPLSQL_H
#define REPLMON_REPLSQL_H

#include <stddef.h>

/* Oldest supported server (PQserverVersion form). */
#define RM_SQL_MIN_VERSION 100000

/* The sections of a collection round; each is one fan-out query. */
typedef enum rm_sql_section {
    RM_SQL_FACTS = 0,     /* role, current LSN, counts, privileges */
    RM_SQL_SLOTS,         /* pg_replication_slots + their walsender */
    RM_SQL_SUBSCRIPTIONS, /* pg_subscription + apply worker + errors */
    RM_SQL_STANDBYS,      /* physical walsenders (pg_stat_replication) */
    RM_SQL_RECEIVER,      /* a standby's own WAL receiver and replay */
    RM_SQL_PGLOGICAL,     /* pglogical's subscriptions (pglogical.h) */
    RM_SQL_SECTION_COUNT
} rm_sql_section_t;

/* One row of the table: the statements for one major version. */
typedef struct rm_sql_row {
    int major;                             /* 10 .. 18 */
    const char *sql[RM_SQL_SECTION_COUNT]; /* never NULL */
} rm_sql_row_t;

/* rm_sql_row_for_version - the row for a PQserverVersion() value
 * (e.g. 150004), or NULL when the version is unknown (0) or older than 10.
 * Versions newer than the table use its last row. */
const rm_sql_row_t *rm_sql_row_for_version(int server_version);

/* rm_sql_for - shorthand: the statement of one section, or NULL. */
const char *rm_sql_for(int server_version, rm_sql_section_t section);

/* rm_sql_facts - the facts statement, which is the same on every supported
 * version; it is run first, before the version is known. */
const char *rm_sql_facts(void);

/* rm_sql_section_name - "facts", "slots", "subscriptions", ... */
const char *rm_sql_section_name(rm_sql_section_t section);

/* rm_sql_table - the whole table, for tests and documentation. */
const rm_sql_row_t *rm_sql_table(size_t *count);

/* rm_sql_newest_major - the newest major version the table knows. */
int rm_sql_newest_major(void);

#endif /* REPLMON_REPLSQL_H */
