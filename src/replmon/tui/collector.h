/* SPDX-License-Identifier: MIT */
/*
 * collector.h - the dashboard's collection: every node runs its own rounds
 * (facts, then the sections its version and role need, as collect.h's
 * step functions say) through libpgcm's async calls, one round in flight
 * per node, started again an interval after the previous one started. A
 * node that hangs delays nobody: the other nodes go on, the UI thread
 * never waits, and the hung node's last good data stays on screen with its
 * age until it answers or fails.
 *
 * Threads: rounds advance in libpgcm's callbacks (its loop thread); every
 * function here is called from the one UI thread. A finished round writes
 * one byte to wake_fd so that the UI thread's poll() wakes up.
 */
#ifndef REPLMON_TUI_COLLECTOR_H
#define REPLMON_TUI_COLLECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "collect.h"
#include "pgcm.h"
#include "tui/model.h"

typedef struct rm_collector rm_collector_t;

/* rm_collector_new - collect from mgr's nodes with this per-statement
 * timeout (ms), reading pglogical's catalogs as pglogical says
 * (RM_PGLOGICAL_*, the configuration's pglogical:). NULL: no memory. */
rm_collector_t *rm_collector_new(pgcm_manager_t *mgr, int query_timeout_ms,
                                 int pglogical, int wake_fd);

/* rm_collector_set_pglogical - the pglogical mode of the rounds started
 * from now on (after a reload). */
void rm_collector_set_pglogical(rm_collector_t *c, int pglogical);

/* rm_collector_set_targets - the nodes to collect, in display order: nodes
 * kept keep their data and their round in flight; removed nodes are
 * forgotten once their round ends. Returns 0 or -1 (no memory; nothing
 * changed). */
int rm_collector_set_targets(rm_collector_t *c, const rm_target_node_t *t,
                             size_t n);

/* rm_collector_tick - start a round on every node that has none in flight
 * and started its last one at least interval_ms ago. Returns the ms until
 * the next node is due (at most interval_ms). */
int64_t rm_collector_tick(rm_collector_t *c, int64_t interval_ms);

/* rm_collector_run_now - make node id due at the next tick. */
void rm_collector_run_now(rm_collector_t *c, const char *id);

/* rm_collector_update - take the rounds that finished into the snapshot
 * (a node that failed keeps its last good sections, marked unreachable),
 * refresh every node's health record and pool stats from the manager,
 * and link the nodes (rm_snapshot_link). Returns how many nodes have a
 * new round; rm_collector_changed() tells which. */
size_t rm_collector_update(rm_collector_t *c);

/* The current data: valid until the next update or set_targets. The UI
 * thread may fill the snapshot's derived fields (conflict rates). */
rm_snapshot_t *rm_collector_snapshot(rm_collector_t *c);
const rm_node_meta_t *rm_collector_meta(const rm_collector_t *c);
const int *rm_collector_changed(const rm_collector_t *c);

/* rm_collector_stop - start no more rounds and cancel those in flight. */
void rm_collector_stop(rm_collector_t *c);

/* rm_collector_free - free everything. Call after pgcm_manager_free() (no
 * callback may fire any more). c may be NULL. */
void rm_collector_free(rm_collector_t *c);

#endif /* REPLMON_TUI_COLLECTOR_H */
