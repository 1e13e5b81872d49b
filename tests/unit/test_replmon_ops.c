/* SPDX-License-Identifier: MIT */
/*
 * test_replmon_ops.c - the pure half of the operations (ops.c): quoting of
 * identifiers and literals, slot names, plans for every operation (the SQL
 * chosen by the subscription's own kind, never by the extension), every
 * refusal (unknown, ambiguous across nodes or kinds, a node that could not
 * be searched, an active slot without --force, the wrong kind, a disabled
 * subscription to refresh, an existing slot, wal_level), --force's steps on
 * 13 and 14+, the typed confirmation, the menus the dashboard shows, the
 * error line naming the missing privilege and the log record (as the
 * structured log writes it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "ops.h"

/* ---------------------------------------------------------------------- */
/* A snapshot to plan against                                             */
/* ---------------------------------------------------------------------- */

static rm_node_t *node_add(rm_snapshot_t *snap, const char *id, int port)
{
    rm_node_t *n;
    size_t k;

    snap->nodes = realloc(snap->nodes, (snap->count + 1) * sizeof(*n));
    n = &snap->nodes[snap->count++];
    memset(n, 0, sizeof(*n));
    snprintf(n->id, sizeof(n->id), "%s", id);
    snprintf(n->host, sizeof(n->host), "127.0.0.1");
    n->port = port;
    n->reachable = 1;
    n->have_facts = 1;
    n->server_version = 150004;
    snprintf(n->database, sizeof(n->database), "app");
    snprintf(n->wal_level, sizeof(n->wal_level), "logical");
    for (k = 0; k < RM_SQL_SECTION_COUNT; k++)
        n->sections[k].state = RM_SECTION_OK;
    return n;
}

static rm_subscription_t *sub_add(rm_node_t *n, const char *name,
                                  rm_sub_kind_t kind, int enabled)
{
    rm_subscription_t *s;

    n->subs = realloc(n->subs, (n->nsubs + 1) * sizeof(*s));
    s = &n->subs[n->nsubs++];
    memset(s, 0, sizeof(*s));
    s->name = strdup(name);
    s->slot_name = strdup(name);
    s->kind = kind;
    s->enabled = enabled;
    s->worker_pid = enabled ? 100 : RM_NONE;
    return s;
}

static rm_slot_t *slot_add(rm_node_t *n, const char *name, const char *type,
                           int active, int64_t pid)
{
    rm_slot_t *s;

    n->slots = realloc(n->slots, (n->nslots + 1) * sizeof(*s));
    s = &n->slots[n->nslots++];
    memset(s, 0, sizeof(*s));
    s->name = strdup(name);
    s->type = strdup(type);
    s->active = active;
    s->active_pid = pid;
    s->temporary = 0;
    return s;
}

/* pub (slots s1, idle, busy), sub1 (native s1, off; pglogical pl), sub2
 * (native dup), sub3 (native dup), and a node "old" on 13. */
static rm_snapshot_t *cluster(void)
{
    rm_snapshot_t *snap = calloc(1, sizeof(*snap));
    rm_node_t *pub, *sub1, *sub2, *sub3, *old;
    rm_slot_t *busy;

    pub = node_add(snap, "pub", 5432);
    slot_add(pub, "s1", "logical", 1, 4001);
    slot_add(pub, "idle", "logical", 0, RM_NONE);
    busy = slot_add(pub, "busy", "physical", 1, 4002);
    busy->sender_application_name = strdup("walreceiver");
    sub1 = node_add(snap, "sub1", 5433);
    sub_add(sub1, "s1", RM_SUB_NATIVE, 1);
    snprintf(sub1->subs[0].publisher, 64, "pub");
    sub_add(sub1, "off", RM_SUB_NATIVE, 0);
    sub_add(sub1, "pl", RM_SUB_PGLOGICAL, 1);
    sub2 = node_add(snap, "sub2", 5434);
    sub_add(sub2, "dup", RM_SUB_NATIVE, 1);
    sub3 = node_add(snap, "sub3", 5435);
    sub_add(sub3, "dup", RM_SUB_NATIVE, 1);
    sub_add(sub3, "both", RM_SUB_NATIVE, 1);
    sub_add(sub3, "both", RM_SUB_PGLOGICAL, 1);
    old = node_add(snap, "old", 5436);
    old->server_version = 130011;
    slot_add(old, "busy13", "logical", 1, 4003);
    slot_add(old, "tmp", "logical", 1, 4004)->temporary = 1;
    return snap;
}

static rm_op_request_t req_for(rm_op_kind_t kind, const char *name)
{
    rm_op_request_t r;

    rm_op_request_init(&r, kind);
    r.name = name;
    return r;
}

/* Plan; assert it worked. */
static void plan_ok(const rm_snapshot_t *snap, const rm_op_request_t *r,
                    rm_op_plan_t *p)
{
    char err[512];
    int rc = rm_op_plan(snap, r, p, err, sizeof(err));

    if (rc != 0)
        fail_msg("refused: %s", err);
}

/* Plan; assert it was refused with a message holding want. */
static void plan_refused(const rm_snapshot_t *snap, const rm_op_request_t *r,
                         const char *want)
{
    rm_op_plan_t p;
    char err[1024];
    int rc = rm_op_plan(snap, r, &p, err, sizeof(err));

    if (rc == 0)
        fail_msg("planned %s, want a refusal with '%s'", p.summary, want);
    assert_int_equal(rc, -1);
    if (strstr(err, want) == NULL)
        fail_msg("refusal '%s' lacks '%s'", err, want);
    rm_op_plan_free(&p);
}

/* ---------------------------------------------------------------------- */

static void test_quoting(void **state)
{
    char *q;

    (void)state;
    q = rm_sql_quote_ident("s1");
    assert_string_equal(q, "\"s1\"");
    free(q);
    q = rm_sql_quote_ident("we\"ird Name");
    assert_string_equal(q, "\"we\"\"ird Name\"");
    free(q);
    q = rm_sql_quote_literal("it's");
    assert_string_equal(q, "'it''s'");
    free(q);
    /* A backslash means the same whatever standard_conforming_strings. */
    q = rm_sql_quote_literal("a\\b'c");
    assert_string_equal(q, "E'a\\\\b''c'");
    free(q);
    q = rm_sql_quote_literal("público.tëst");
    assert_string_equal(q, "'público.tëst'");
    free(q);
    /* An injection attempt stays one literal. */
    q = rm_sql_quote_literal("x'); DROP TABLE t; --");
    assert_string_equal(q, "'x''); DROP TABLE t; --'");
    free(q);
    errno = 0;
    assert_null(rm_sql_quote_ident(""));
    assert_int_equal(errno, EINVAL);
    assert_null(rm_sql_quote_literal("bad\xff"));
    assert_null(rm_sql_quote_literal("\xc0\xaf"));     /* overlong '/' */
    assert_null(rm_sql_quote_literal("\xed\xa0\x80")); /* a surrogate */
    assert_null(rm_sql_quote_ident("line\nbreak"));
    assert_null(rm_sql_quote_ident("esc\x1b[31m"));
    assert_null(rm_sql_quote_literal(NULL));
}

static void test_slot_names(void **state)
{
    char long_name[80];

    (void)state;
    assert_null(rm_slot_name_problem("sub_1"));
    assert_non_null(rm_slot_name_problem(""));
    assert_non_null(rm_slot_name_problem("Upper"));
    assert_non_null(rm_slot_name_problem("with-dash"));
    assert_non_null(rm_slot_name_problem("a'b"));
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    assert_non_null(strstr(rm_slot_name_problem(long_name), "63"));
    long_name[63] = '\0';
    assert_null(rm_slot_name_problem(long_name));
}

static void test_pause_resume_by_kind(void **state)
{
    rm_snapshot_t *snap = cluster();
    rm_op_request_t r = req_for(RM_OP_SUB_PAUSE, "s1");
    rm_op_plan_t p;

    (void)state;
    plan_ok(snap, &r, &p);
    assert_string_equal(p.node, "sub1");
    assert_int_equal(p.port, 5433);
    assert_string_equal(p.database, "app");
    assert_int_equal(p.sub_kind, RM_SUB_NATIVE);
    assert_int_equal(p.nsteps, 1);
    assert_int_equal(p.steps[0].kind, RM_STEP_ACTION);
    assert_string_equal(p.steps[0].sql, "ALTER SUBSCRIPTION \"s1\" DISABLE");
    assert_false(p.destructive);
    assert_string_equal(p.summary, "pause native subscription s1 on node sub1");
    assert_string_equal(p.note, "");
    rm_op_plan_free(&p);
    /* pglogical's function for a pglogical subscription, though native
     * ones live on the same node. */
    r = req_for(RM_OP_SUB_PAUSE, "pl");
    plan_ok(snap, &r, &p);
    assert_int_equal(p.sub_kind, RM_SUB_PGLOGICAL);
    assert_string_equal(p.steps[0].sql,
                        "SELECT pglogical.alter_subscription_disable('pl')");
    rm_op_plan_free(&p);
    r = req_for(RM_OP_SUB_RESUME, "pl");
    plan_ok(snap, &r, &p);
    assert_string_equal(p.steps[0].sql,
                        "SELECT pglogical.alter_subscription_enable('pl')");
    rm_op_plan_free(&p);
    r = req_for(RM_OP_SUB_RESUME, "off");
    plan_ok(snap, &r, &p);
    assert_string_equal(p.steps[0].sql, "ALTER SUBSCRIPTION \"off\" ENABLE");
    rm_op_plan_free(&p);
    /* Pausing what is already paused is allowed, with a note. */
    r = req_for(RM_OP_SUB_PAUSE, "off");
    plan_ok(snap, &r, &p);
    assert_non_null(strstr(p.note, "already disabled"));
    rm_op_plan_free(&p);
    r = req_for(RM_OP_SUB_REFRESH, "s1");
    plan_ok(snap, &r, &p);
    assert_string_equal(p.steps[0].sql,
                        "ALTER SUBSCRIPTION \"s1\" REFRESH PUBLICATION");
    rm_op_plan_free(&p);
    rm_snapshot_free(snap);
}

static void test_resync(void **state)
{
    rm_snapshot_t *snap = cluster();
    rm_op_request_t r = req_for(RM_OP_SUB_RESYNC, "pl");
    rm_op_plan_t p;

    (void)state;
    r.table = "public.o'dd";
    plan_ok(snap, &r, &p);
    assert_true(p.destructive);
    assert_string_equal(p.confirm, "public.o'dd");
    assert_int_equal(p.nsteps, 2);
    assert_int_equal(p.steps[0].kind, RM_STEP_CHECK);
    assert_string_equal(
        p.steps[0].sql,
        "SELECT status <> 'unknown' AS ok, status AS detail FROM "
        "pglogical.show_subscription_table('pl', 'public.o''dd'::regclass)");
    assert_non_null(strstr(p.steps[0].refusal, RM_OP_DETAIL));
    assert_non_null(strstr(p.steps[0].refusal, "does not replicate"));
    assert_int_equal(p.steps[1].kind, RM_STEP_ACTION);
    assert_string_equal(p.steps[1].sql,
                        "SELECT pglogical.alter_subscription_resynchronize_"
                        "table('pl', 'public.o''dd'::regclass, true)");
    assert_non_null(strstr(p.consequence, "truncates table public.o'dd"));
    assert_true(rm_op_confirmed(&p, "public.o'dd\n"));
    assert_true(rm_op_confirmed(&p, "  public.o'dd  \r\n"));
    assert_false(rm_op_confirmed(&p, "public.o'd\n"));
    assert_false(rm_op_confirmed(&p, "yes\n"));
    assert_false(rm_op_confirmed(&p, ""));
    rm_op_plan_free(&p);
    r.table = NULL;
    plan_refused(snap, &r, "needs the table");
    rm_snapshot_free(snap);
}

static void test_wrong_kind_and_state(void **state)
{
    rm_snapshot_t *snap = cluster();
    rm_op_request_t r = req_for(RM_OP_SUB_REFRESH, "pl");

    (void)state;
    plan_refused(snap, &r, "refresh is for native subscriptions");
    r = req_for(RM_OP_SUB_RESYNC, "s1");
    r.table = "t";
    plan_refused(snap, &r, "resync is for pglogical subscriptions");
    r = req_for(RM_OP_SUB_REFRESH, "off");
    plan_refused(snap, &r, "resume it first");
    rm_snapshot_free(snap);
}

static void test_finding_the_object(void **state)
{
    rm_snapshot_t *snap = cluster();
    rm_op_request_t r = req_for(RM_OP_SUB_PAUSE, "dup");
    rm_op_plan_t p;

    (void)state;
    plan_refused(snap, &r,
                 "exists on several nodes (sub2, sub3): choose one "
                 "with --node");
    r.node = "sub3";
    plan_ok(snap, &r, &p);
    assert_string_equal(p.node, "sub3");
    rm_op_plan_free(&p);
    r.node = "nope";
    plan_refused(snap, &r,
                 "--node nope: no such node in the cluster (nodes: "
                 "pub, sub1, sub2, sub3, old)");
    r = req_for(RM_OP_SUB_PAUSE, "both");
    plan_refused(snap, &r, "a native and a pglogical subscription named both");
    r.sub_kind = RM_SUB_PGLOGICAL;
    plan_ok(snap, &r, &p);
    assert_int_equal(p.sub_kind, RM_SUB_PGLOGICAL);
    rm_op_plan_free(&p);
    r = req_for(RM_OP_SUB_PAUSE, "ghost");
    plan_refused(snap, &r,
                 "no subscription named ghost on the monitored "
                 "nodes (there are: s1 on sub1");
    r.node = "sub2";
    plan_refused(snap, &r,
                 "no subscription named ghost on node sub2 (there "
                 "are: dup on sub2)");
    /* The name of a slot is not a subscription's. */
    r = req_for(RM_OP_SLOT_DROP, "off");
    plan_refused(snap, &r, "no slot named off");
    r = req_for(RM_OP_SUB_PAUSE, "");
    plan_refused(snap, &r, "needs the subscription's name");

    /* A node that could not be searched might have it too. */
    snap->nodes[2].reachable = 0;
    snprintf(snap->nodes[2].error, 512, "node 'sub2': connection refused");
    r = req_for(RM_OP_SUB_PAUSE, "dup");
    plan_refused(snap, &r,
                 "subscription dup is on node sub3, but a node that could not "
                 "be searched may have one too (sub2: unreachable "
                 "(connection refused)): name the node with --node sub3 or "
                 "the kind with --kind native");
    r.node = "sub3";
    plan_ok(snap, &r, &p);
    rm_op_plan_free(&p);
    r = req_for(RM_OP_SUB_PAUSE, "ghost");
    plan_refused(snap, &r, "not searched: sub2: unreachable");
    /* An unreadable pglogical section does not hide native ones, but is
     * said when it might. */
    snap->nodes[2].reachable = 1;
    snap->nodes[3].sections[RM_SQL_PGLOGICAL].state = RM_SECTION_NO_PERMISSION;
    snprintf(snap->nodes[3].sections[RM_SQL_PGLOGICAL].error, 512,
             "node 'sub3': ERROR:  permission denied for schema pglogical");
    r = req_for(RM_OP_SUB_PAUSE, "s1");
    plan_refused(snap, &r,
                 "sub3: its pglogical subscriptions could not be read "
                 "(permission denied for schema pglogical; reading them needs "
                 "USAGE on schema pglogical and SELECT on its tables)");
    r.sub_kind = RM_SUB_NATIVE;
    plan_ok(snap, &r, &p);
    assert_string_equal(p.node, "sub1");
    rm_op_plan_free(&p);
    rm_snapshot_free(snap);
}

static void test_slot_drop(void **state)
{
    rm_snapshot_t *snap = cluster();
    rm_op_request_t r = req_for(RM_OP_SLOT_DROP, "idle");
    rm_op_plan_t p;

    (void)state;
    plan_ok(snap, &r, &p);
    assert_string_equal(p.node, "pub");
    assert_true(p.destructive);
    assert_false(p.force);
    assert_string_equal(p.confirm, "idle");
    assert_int_equal(p.nsteps, 1);
    assert_string_equal(p.steps[0].sql,
                        "SELECT pg_drop_replication_slot('idle')");
    rm_op_plan_free(&p);

    /* Active: refused, naming the walsender; --force ends it first, by
     * slot name (the pid may have changed), waiting for it on 14+. */
    r = req_for(RM_OP_SLOT_DROP, "busy");
    plan_refused(snap, &r,
                 "slot busy on node pub is active (walsender pid 4002, "
                 "walreceiver): refusing to drop it; stop its consumer first, "
                 "or pass --force");
    r.force = 1;
    plan_ok(snap, &r, &p);
    assert_true(p.force);
    /* One request, so a consumer reconnecting at once finds no slot. */
    assert_int_equal(p.nsteps, 1);
    assert_int_equal(p.steps[0].kind, RM_STEP_ACTION);
    assert_true(p.steps[0].retry_in_use);
    assert_string_equal(p.steps[0].sql,
                        "SELECT pg_terminate_backend(active_pid, 5000) FROM "
                        "pg_replication_slots WHERE slot_name = 'busy' AND "
                        "active_pid IS NOT NULL;\n"
                        "SELECT pg_drop_replication_slot('busy')");
    assert_non_null(strstr(p.summary, "ending its walsender first"));
    rm_op_plan_free(&p);
    /* 13: pg_terminate_backend has no timeout. */
    r = req_for(RM_OP_SLOT_DROP, "busy13");
    r.force = 1;
    plan_ok(snap, &r, &p);
    assert_string_equal(p.node, "old");
    assert_non_null(strstr(p.steps[0].sql, "pg_terminate_backend(active_pid)"));
    rm_op_plan_free(&p);
    /* A temporary slot goes with its session: no drop statement. */
    r = req_for(RM_OP_SLOT_DROP, "tmp");
    plan_refused(snap, &r, "is temporary: it goes away with the session");
    r.force = 1;
    plan_ok(snap, &r, &p);
    assert_int_equal(p.nsteps, 2);
    assert_null(strstr(p.steps[0].sql, "pg_drop_replication_slot"));
    assert_int_equal(p.steps[1].kind, RM_STEP_WAIT);
    assert_string_equal(p.steps[1].sql,
                        "SELECT NOT EXISTS (SELECT 1 FROM pg_replication_slots "
                        "WHERE slot_name = 'tmp')");
    rm_op_plan_free(&p);
    /* The subscription reading from a slot is named in the consequence. */
    r = req_for(RM_OP_SLOT_DROP, "s1");
    r.force = 1;
    plan_ok(snap, &r, &p);
    assert_non_null(strstr(p.consequence, "s1 on sub1"));
    rm_op_plan_free(&p);
    r = req_for(RM_OP_SLOT_DROP, "Bad-Name");
    plan_refused(snap, &r, "'Bad-Name' is not a slot name");
    rm_snapshot_free(snap);
}

static void test_slot_create(void **state)
{
    rm_snapshot_t *snap = cluster();
    rm_op_request_t r = req_for(RM_OP_SLOT_CREATE, "new_one");
    rm_op_plan_t p;

    (void)state;
    r.plugin = "pgoutput";
    plan_refused(snap, &r,
                 "slot create needs --node: the cluster has 5 nodes "
                 "(pub, sub1, sub2, sub3, old)");
    r.node = "pub";
    plan_ok(snap, &r, &p);
    assert_false(p.destructive);
    assert_string_equal(
        p.steps[0].sql,
        "SELECT pg_create_logical_replication_slot('new_one', 'pgoutput')");
    assert_string_equal(p.summary,
                        "create logical slot new_one (plugin pgoutput) on "
                        "node pub");
    rm_op_plan_free(&p);
    r.plugin = NULL;
    plan_ok(snap, &r, &p);
    assert_string_equal(
        p.steps[0].sql,
        "SELECT pg_create_physical_replication_slot('new_one')");
    rm_op_plan_free(&p);
    r.name = "idle";
    plan_refused(snap, &r,
                 "node pub already has a slot named idle (logical, "
                 "inactive)");
    r.name = "new_one";
    r.plugin = "test_decoding";
    snprintf(snap->nodes[0].wal_level, 16, "replica");
    plan_refused(snap, &r,
                 "has wal_level = replica: a logical slot needs "
                 "wal_level = logical");
    snap->nodes[0].reachable = 0;
    snprintf(snap->nodes[0].error, 512, "timeout");
    plan_refused(snap, &r, "node pub: unreachable (timeout)");
    rm_snapshot_free(snap);
}

static void test_menus(void **state)
{
    rm_snapshot_t *snap = cluster();
    rm_op_choice_t c[RM_OP_KIND_COUNT];
    size_t n;

    (void)state;
    n = rm_ops_for_subscription(&snap->nodes[1].subs[0], c, RM_OP_KIND_COUNT);
    assert_int_equal(n, 3);
    assert_int_equal(c[0].kind, RM_OP_SUB_PAUSE);
    assert_true(c[0].available);
    assert_int_equal(c[1].kind, RM_OP_SUB_RESUME);
    assert_false(c[1].available);
    assert_string_equal(c[1].why, "already enabled");
    assert_int_equal(c[2].kind, RM_OP_SUB_REFRESH);
    assert_false(c[2].destructive);
    n = rm_ops_for_subscription(&snap->nodes[1].subs[1], c, RM_OP_KIND_COUNT);
    assert_false(c[0].available); /* off: pause not offered */
    assert_true(c[1].available);
    assert_false(c[2].available);
    assert_non_null(strstr(c[2].why, "resume it first"));
    n = rm_ops_for_subscription(&snap->nodes[1].subs[2], c, RM_OP_KIND_COUNT);
    assert_int_equal(n, 3);
    assert_int_equal(c[2].kind, RM_OP_SUB_RESYNC);
    assert_true(c[2].destructive);
    assert_true(c[2].needs_table);
    n = rm_ops_for_slot(&snap->nodes[0].slots[2], c, RM_OP_KIND_COUNT);
    assert_int_equal(n, 1);
    assert_int_equal(c[0].kind, RM_OP_SLOT_DROP);
    assert_true(c[0].force);
    assert_true(c[0].destructive);
    n = rm_ops_for_slot(&snap->nodes[0].slots[1], c, RM_OP_KIND_COUNT);
    assert_false(c[0].force);
    n = rm_ops_for_node(&snap->nodes[0], c, RM_OP_KIND_COUNT);
    assert_int_equal(n, 1);
    assert_true(c[0].needs_slot);
    assert_true(c[0].available);
    /* Fewer slots than choices: the count still says how many. */
    assert_int_equal(rm_ops_for_subscription(&snap->nodes[1].subs[0], c, 1), 3);
    assert_string_equal(rm_op_kind_name(RM_OP_SLOT_DROP), "slot drop");
    assert_string_equal(rm_op_kind_id(RM_OP_SUB_RESYNC), "subscription.resync");
    rm_snapshot_free(snap);
}

static void test_error_lines(void **state)
{
    rm_snapshot_t *snap = cluster();
    rm_op_request_t r = req_for(RM_OP_SUB_PAUSE, "s1");
    rm_op_plan_t p;
    char line[768];

    (void)state;
    plan_ok(snap, &r, &p);
    rm_op_error_line(&p, "mon", "42501",
                     "node 'sub1': ERROR:  must be owner of subscription s1\n",
                     line, sizeof(line));
    assert_string_equal(line,
                        "permission denied on node sub1 for role mon: ALTER "
                        "SUBSCRIPTION needs the subscription's owner (or a "
                        "superuser) (ALTER SUBSCRIPTION s1 OWNER TO mon); the "
                        "server said: must be owner of subscription s1");
    rm_op_error_line(&p, "mon", "55000", "ERROR:  something\nDETAIL:  more",
                     line, sizeof(line));
    assert_string_equal(line, "pause native subscription s1 on node sub1 "
                              "failed (role mon): something DETAIL: more "
                              "[SQLSTATE 55000]");
    rm_op_plan_free(&p);
    r = req_for(RM_OP_SLOT_CREATE, "x");
    r.node = "pub";
    plan_ok(snap, &r, &p);
    rm_op_error_line(&p, "mon", "42501",
                     "must be superuser or replication role to use "
                     "replication slots",
                     line, sizeof(line));
    assert_non_null(strstr(line, "REPLICATION attribute"));
    assert_non_null(strstr(line, "ALTER ROLE mon REPLICATION"));
    rm_op_plan_free(&p);
    r = req_for(RM_OP_SLOT_DROP, "busy");
    r.force = 1;
    plan_ok(snap, &r, &p);
    rm_op_error_line(&p, NULL, "42501",
                     "permission denied to terminate process", line,
                     sizeof(line));
    assert_non_null(strstr(line, "for role ?"));
    assert_non_null(strstr(line, "GRANT pg_signal_backend TO ROLE"));
    rm_op_plan_free(&p);
    r = req_for(RM_OP_SUB_PAUSE, "pl");
    plan_ok(snap, &r, &p);
    rm_op_error_line(&p, "mon", "42501", "permission denied for schema x", line,
                     sizeof(line));
    assert_non_null(strstr(line, "GRANT USAGE ON SCHEMA pglogical TO mon"));
    rm_op_plan_free(&p);
    rm_snapshot_free(snap);
}

static void test_log_record(void **state)
{
    rm_snapshot_t *snap = cluster();
    rm_op_request_t r = req_for(RM_OP_SLOT_DROP, "busy");
    rm_log_line_t line;
    rm_op_record_t rec;
    rm_op_plan_t p;
    json_t *data;
    char *msg, *text;

    (void)state;
    r.force = 1;
    plan_ok(snap, &r, &p);
    memset(&rec, 0, sizeof(rec));
    rec.req = &r;
    rec.plan = &p;
    rec.os_user = "alice";
    rec.role = "postgres";
    rec.outcome = RM_OP_OK;
    rec.elapsed_ms = 12;
    assert_int_equal(rm_op_log_level(RM_OP_OK), PGCM_LOG_INFO);
    assert_string_equal(rm_op_log_node(&rec), "pub");
    msg = rm_op_log_message(&rec);
    data = rm_op_log_data(&rec);
    /* As the structured log writes it (log.h's text form). */
    memset(&line, 0, sizeof(line));
    line.time_ms = 1704890096789; /* 2024-01-10T12:34:56.789Z */
    line.level = rm_op_log_level(rec.outcome);
    line.event = "operation";
    line.node = rm_op_log_node(&rec);
    line.message = msg;
    line.data = data;
    text = rm_log_format_line(RM_LOG_TEXT, &line);
    assert_string_equal(
        text,
        "2024-01-10T12:34:56.789Z info operation node=pub: drop physical "
        "slot busy on node pub, ending its walsender first: ok "
        "op=slot.drop object=busy force=true where=127.0.0.1:5432/app "
        "os_user=alice role=postgres outcome=ok sql=\"SELECT "
        "pg_terminate_backend(active_pid, 5000) FROM pg_replication_slots "
        "WHERE slot_name = 'busy' AND active_pid IS NOT NULL; SELECT "
        "pg_drop_replication_slot('busy')\" elapsed_ms=12\n");
    free(text);
    free(msg);
    json_decref(data);
    rm_op_plan_free(&p);

    /* Refused before a plan; what came from outside is written out. */
    r = req_for(RM_OP_SUB_PAUSE, "evil\x1b[2J\"x\xe2\x80\xae");
    rec.plan = NULL;
    rec.node = NULL;
    rec.role = NULL;
    rec.outcome = RM_OP_REFUSED;
    rec.detail = "no subscription\nnamed that";
    assert_int_equal(rm_op_log_level(RM_OP_REFUSED), PGCM_LOG_WARN);
    assert_null(rm_op_log_node(&rec));
    msg = rm_op_log_message(&rec);
    assert_string_equal(msg,
                        "subscription pause evil\\x1b[2J\"x\\u202e: refused");
    free(msg);
    data = rm_op_log_data(&rec);
    assert_string_equal(json_string_value(json_object_get(data, "object")),
                        "evil\\x1b[2J\"x\\u202e");
    assert_string_equal(json_string_value(json_object_get(data, "detail")),
                        "no subscription\\nnamed that");
    assert_null(json_object_get(data, "role"));
    assert_null(json_object_get(data, "where"));
    assert_string_equal(json_string_value(json_object_get(data, "outcome")),
                        "refused");
    json_decref(data);
    rec.outcome = RM_OP_FAILED;
    rec.node = "sub1";
    assert_int_equal(rm_op_log_level(RM_OP_FAILED), PGCM_LOG_ERROR);
    assert_string_equal(rm_op_log_node(&rec), "sub1");
    assert_string_equal(rm_op_outcome_name(RM_OP_DRY_RUN), "dry-run");
    assert_string_equal(rm_op_outcome_name(RM_OP_ABANDONED), "abandoned");
    rm_snapshot_free(snap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_slot_names),
        cmocka_unit_test(test_pause_resume_by_kind),
        cmocka_unit_test(test_resync),
        cmocka_unit_test(test_wrong_kind_and_state),
        cmocka_unit_test(test_finding_the_object),
        cmocka_unit_test(test_slot_drop),
        cmocka_unit_test(test_slot_create),
        cmocka_unit_test(test_menus),
        cmocka_unit_test(test_error_lines),
        cmocka_unit_test(test_log_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
