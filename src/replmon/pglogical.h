/* SPDX-License-Identifier: MIT */
/*
 * pglogical.h - pglogical as replmon sees it: detection per node (the
 * facts statement reads the extension's version in the node's database
 * every round, so an extension created or dropped later is noticed), the
 * statement that reads its subscriptions from
 * pglogical.show_subscription_status() with their provider node,
 * replication sets, status, apply worker and table sync states, and how
 * its status maps onto the states native subscriptions have.
 *
 * pglogical keeps no conflict or error counters (it writes conflicts to
 * the server log only), so its subscriptions report none; their lag is
 * measured on the provider, through the slot show_subscription_status()
 * names (rm_snapshot_link).
 */
#ifndef REPLMON_PGLOGICAL_H
#define REPLMON_PGLOGICAL_H

struct rm_node;

/*
 * The subscriptions of the node's pglogical node. provider_dsn is never
 * read: it may hold the provider's password. The apply worker is the
 * background worker pglogical names "pglogical apply DBOID:SUBID" (its
 * application_name is visible to every role). Tables are the rows of
 * pglogical.local_sync_status that name one; 'r' is ready.
 */
#define RM_PGLOGICAL_SQL                                                       \
    "SELECT s.subscription_name AS subname, s.status AS pglogical_status, "    \
    "s.provider_node, s.slot_name, "                                           \
    "array_to_string(s.replication_sets, ',') AS publications, "               \
    "sub.sub_enabled AS enabled, a.pid AS worker_pid, "                        \
    "(SELECT count(*) FROM pglogical.local_sync_status l "                     \
    "WHERE l.sync_subid = sub.sub_id AND l.sync_relname IS NOT NULL) "         \
    "AS tables_total, "                                                        \
    "(SELECT count(*) FROM pglogical.local_sync_status l "                     \
    "WHERE l.sync_subid = sub.sub_id AND l.sync_relname IS NOT NULL "          \
    "AND l.sync_status = 'r') AS tables_ready "                                \
    "FROM pglogical.show_subscription_status() s "                             \
    "LEFT JOIN pglogical.subscription sub "                                    \
    "ON sub.sub_name = s.subscription_name "                                   \
    "LEFT JOIN pg_stat_activity a ON a.application_name = "                    \
    "'pglogical apply ' || (SELECT oid FROM pg_database "                      \
    "WHERE datname = current_database())::text || ':' || sub.sub_id::text "    \
    "ORDER BY s.subscription_name"

/* rm_pglogical_planned - whether the node's round reads pglogical: its
 * mode (RM_PGLOGICAL_*) is not off and its facts found the extension. */
int rm_pglogical_planned(const struct rm_node *n);

/* rm_pglogical_missing - pglogical: true, but the extension is not
 * installed in the node's database (the node gets a note). */
int rm_pglogical_missing(const struct rm_node *n);

/* rm_pglogical_state - the state vocabulary of native subscriptions for
 * a pglogical status: replicating -> "streaming", initializing ->
 * "syncing", "down", "disabled"; anything else (unknown, NULL) ->
 * "unknown". */
const char *rm_pglogical_state(const char *status);

#endif /* REPLMON_PGLOGICAL_H */
