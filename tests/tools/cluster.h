/* SPDX-License-Identifier: MIT */
/*
 * cluster.h - a replicating cluster for the version-matrix and lag tests,
 * on any PostgreSQL from 10 on (the publisher's and the subscriber's
 * versions may differ):
 *
 *   pub      primary, wal_level logical, table t in publication p, an
 *            inactive logical slot idle_slot
 *   standby  physical standby of pub (a copy of it, localpg standby_of),
 *            streaming through the physical slot standby_slot
 *   sub      subscriber: subscription s (enabled, streaming t from pub)
 *            and subscription s_off (disabled, on idle_slot)
 *
 * Every server requires a password on TCP: the superuser postgres and
 * mon_scram (scram-sha-256) and mon_md5 (md5), both members of pg_monitor
 * only, and plain, a member of nothing. Include the cmocka headers first; failures fail the current test.
 */
#ifndef CLUSTER_H
#define CLUSTER_H

#include "localpg.h"

#define CLUSTER_SUPER_PW "super pw"
#define CLUSTER_MON_PW   "mon pw"

typedef struct fixture_cluster {
    localpg_server_t *pub, *standby, *sub;
    int pub_major, sub_major;
} fixture_cluster_t;

/* fixture_cluster_start - build the cluster above with pub (and standby)
 * on pub_major and sub on sub_major (fixture_require_pg: a missing version
 * fails or skips the test), and wait until s has copied t, its sync slots
 * are gone, and the standby streams. with_standby 0 leaves the standby
 * out. The servers are the fixture's: fixture_stop_all() removes them. */
void fixture_cluster_start(fixture_cluster_t *c, int pub_major, int sub_major,
                           int with_standby);

#endif /* CLUSTER_H */
