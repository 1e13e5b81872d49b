/* SPDX-License-Identifier: MIT */
/*
 * cluster.c - the replicating test cluster of cluster.h: servers through
 * the fixture (so fixture_stop_all() also removes them), roles, the
 * publication and slots, the subscriptions, and the waits until
 * replication has settled.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

static const char *const cluster_hba[] = {
    "host all mon_md5 127.0.0.1/32 md5",
    "host all all 127.0.0.1/32 scram-sha-256",
    "host replication all 127.0.0.1/32 scram-sha-256", NULL};

static localpg_server_t *start_one(const char *name, int major)
{
    localpg_options_t o;
    localpg_options_init(&o);
    o.name = name;
    o.logical = 1;
    o.password = CLUSTER_SUPER_PW;
    o.hba_lines = cluster_hba;
    o.bindir = fixture_require_pg(major);
    return fixture_start(1, &o)[0];
}

static void add_roles(localpg_server_t *s)
{
    char err[512];
    if (localpg_create_role(s, "mon_scram", CLUSTER_MON_PW, "scram-sha-256",
                            "pg_monitor", err, sizeof err) != 0 ||
        localpg_create_role(s, "mon_md5", CLUSTER_MON_PW, "md5", "pg_monitor",
                            err, sizeof err) != 0 ||
        localpg_create_role(s, "plain", CLUSTER_MON_PW, NULL, NULL, err,
                            sizeof err) != 0)
        fail_msg("cluster: %s", err);
}

void fixture_cluster_start(fixture_cluster_t *c, int pub_major, int sub_major,
                           int with_standby)
{
    char sql[512];
    memset(c, 0, sizeof *c);
    c->pub_major = pub_major;
    c->sub_major = sub_major;
    c->pub = start_one("pub", pub_major);
    c->sub = start_one("sub", sub_major);
    add_roles(c->pub);
    add_roles(c->sub);
    if (with_standby) {
        /* Before the subscriptions: making it stops pub for a moment. */
        localpg_options_t so;
        localpg_options_init(&so);
        so.name = "standby";
        so.standby_of = c->pub;
        so.hba_lines = cluster_hba;
        c->standby = fixture_start(1, &so)[0];
    }
    free(fixture_exec(
        c->pub, "CREATE TABLE t (id int PRIMARY KEY, v text);"
                "INSERT INTO t SELECT g, 'x' FROM generate_series(1, 100) g;"
                "CREATE PUBLICATION p FOR TABLE t"));
    free(fixture_exec(c->pub, "SELECT pg_create_logical_replication_slot("
                              "'idle_slot', 'pgoutput')"));
    free(fixture_exec(c->sub, "CREATE TABLE t (id int PRIMARY KEY, v text)"));
    snprintf(sql, sizeof sql,
             "CREATE SUBSCRIPTION s CONNECTION 'host=127.0.0.1 port=%d "
             "user=postgres password=''%s'' dbname=postgres' PUBLICATION p",
             localpg_port(c->pub), CLUSTER_SUPER_PW);
    free(fixture_exec(c->sub, sql));
    snprintf(sql, sizeof sql,
             "CREATE SUBSCRIPTION s_off CONNECTION 'host=127.0.0.1 port=%d "
             "user=postgres password=''%s'' dbname=postgres' PUBLICATION p "
             "WITH (connect = false, slot_name = 'idle_slot')",
             localpg_port(c->pub), CLUSTER_SUPER_PW);
    free(fixture_exec(c->sub, sql));

    /* Initial copy done, its sync slots gone (named differently by
     * version), the apply worker and the standby streaming. */
    fixture_wait_value(c->sub,
                       "SELECT count(*) FILTER (WHERE srsubstate <> 'r') = 0 "
                       "AND count(*) = 1 FROM pg_subscription_rel",
                       "t", 30000);
    fixture_wait_value(c->pub,
                       "SELECT count(*) FROM pg_replication_slots WHERE "
                       "slot_name NOT IN ('s', 'idle_slot', 'standby_slot')",
                       "0", 30000);
    fixture_wait_value(c->sub,
                       "SELECT count(*) FROM pg_stat_subscription WHERE "
                       "subname = 's' AND relid IS NULL AND pid IS NOT NULL",
                       "1", 30000);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_stat_replication WHERE state = "
             "'streaming' AND application_name IN ('s'%s)",
             with_standby ? ", 'standby'" : "");
    fixture_wait_value(c->pub, sql, with_standby ? "2" : "1", 30000);
}
