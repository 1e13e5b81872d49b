/* SPDX-License-Identifier: MIT */
/*
 * conflicts.h - what replmon counts as a subscription's conflicts, and
 * their rate between two collection rounds (which the conflict_rate
 * threshold judges).
 *
 * The count is the apply and sync errors (PostgreSQL 15+) plus, on 18+,
 * the conflicts that do not raise an error (update_origin_differs,
 * update_missing, delete_origin_differs, delete_missing: applied or
 * skipped, only counted). The conflicts that raise an error
 * (insert_exists, update_exists, multiple_unique_conflicts) are already
 * in apply_error_count and are not added twice. pglogical keeps no
 * counters: its subscriptions have no count.
 */
#ifndef REPLMON_CONFLICTS_H
#define REPLMON_CONFLICTS_H

#include <stdint.h>

#include "collect.h"

/* rm_confl_name - "insert_exists", "update_origin_differs", ... (the
 * column name without "confl_"). */
const char *rm_confl_name(rm_confl_t c);

/* rm_confl_raises_error - 1 for the conflicts that stop the apply with an
 * error (and so count in apply_error_count too). */
int rm_confl_raises_error(rm_confl_t c);

/* rm_subscription_conflicts - the count above, or RM_NONE when the server
 * reports no counter (before 15, pglogical). */
int64_t rm_subscription_conflicts(const rm_subscription_t *s);

/* rm_snapshot_rates - for every subscription of cur that prev has too (same
 * node id, kind and name, counted in both), set conflict_rate_per_min: the
 * count's increase per minute between the two rounds, timed by the node's
 * own clock (server_epoch of both rounds; the rounds' start times when a
 * round lacks it). NAN when the count went down (statistics reset), the
 * rounds are not at least 100 ms apart, or either round lacks the count.
 * prev may be NULL (every rate NAN). Pure. */
void rm_snapshot_rates(const rm_snapshot_t *prev, rm_snapshot_t *cur);

#endif /* REPLMON_CONFLICTS_H */
