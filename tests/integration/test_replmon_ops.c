/* SPDX-License-Identifier: MIT */
/*
 * test_replmon_ops.c - the operations and pglogical against real servers:
 * two PostgreSQL 15 servers with pglogical loaded (Debian's
 * postgresql-15-pglogical), "pub" publishing table t natively and
 * providing table pt through pglogical, "sub" subscribing to both (native
 * subscription s, pglogical subscription pgsub). Covers: pause and resume
 * of each kind seen on the server and in `status` (pglogical's function
 * for the pglogical one, ALTER SUBSCRIPTION for the native one on the same
 * node), refresh publication after adding a table, resync of a pglogical
 * table (and the refusal for a table it does not replicate), slot create
 * and drop (logical, physical, --dry-run changing nothing, the active-slot
 * refusal, --force, --node when two nodes have the name, the typed
 * confirmation on a terminal and the refusal without one), a role without
 * privileges getting one clear line, pglogical in `status` (topology,
 * cross-node lag, pglogical: false), and a conflict provoked on purpose
 * (a row the subscriber has, then the publisher inserts) counted in
 * apply_error_count and raising the conflict_rate finding with
 * `status --sample`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "http_get.h"
#include "replmon_json.h"
#include "replmon_run.h"

#include "replmon_fixture.h"

static localpg_server_t *pub, *sub;
static char dir[] = "/tmp/replmon-it-ops-XXXXXX";
static char cfg_path[PATH_MAX], nopgl_cfg_path[PATH_MAX];

static void exec_on(localpg_server_t *s, const char *sql)
{
    free(fixture_exec(s, sql));
}

static int value_is(localpg_server_t *s, const char *sql, const char *want)
{
    char *v = fixture_exec(s, sql);
    int ok = v != NULL && strcmp(v, want) == 0;

    free(v);
    return ok;
}

/* Poll sql on s until its first value equals want (30 s at most). */
static void wait_value(localpg_server_t *s, const char *sql, const char *want)
{
    int64_t deadline = rm_run_now_ms() + 30000;

    while (!value_is(s, sql, want)) {
        if (rm_run_now_ms() > deadline) {
            char *v = fixture_exec(s, sql);

            fail_msg("%s returned %s, want %s", sql, v ? v : "NULL", want);
        }
        usleep(100000);
    }
}

static int setup(void **state)
{
    static const char *const pub_conf[] = {
        "shared_preload_libraries = 'pglogical'", "max_worker_processes = 16",
        NULL};
    /* The launcher restarts a failed apply worker after
     * wal_retrieve_retry_interval: short, so that a conflict repeats. */
    static const char *const sub_conf[] = {
        "shared_preload_libraries = 'pglogical'", "max_worker_processes = 16",
        "wal_retrieve_retry_interval = 500ms", NULL};
    localpg_options_t o;
    char text[2048], sql[1024];

    (void)state;
    localpg_options_init(&o);
    o.conf_lines = pub_conf;
    pub = rm_start_server(&o, "it_ops_pub", 1, "publisher");
    o.conf_lines = sub_conf;
    sub = rm_start_server(&o, "it_ops_sub", 1, "subscriber");

    /* Native: t published as p, subscribed as s. */
    rm_native_replication(pub, sub, "s");
    /* pglogical: pt (and pt_other, in no replication set) provided by
     * pub, subscribed as pgsub. */
    snprintf(sql, sizeof(sql),
             "CREATE EXTENSION pglogical;"
             "SELECT pglogical.create_node('prov', 'host=%s port=%d "
             "dbname=postgres user=postgres');"
             "CREATE TABLE pt (id int PRIMARY KEY, v text);"
             "CREATE TABLE pt_other (id int PRIMARY KEY);"
             "INSERT INTO pt SELECT g, 'p' FROM generate_series(1, 20) g;"
             "INSERT INTO pt_other VALUES (1);"
             "SELECT pglogical.replication_set_add_table('default', 'pt')",
             localpg_host(pub), localpg_port(pub));
    exec_on(pub, sql);
    snprintf(sql, sizeof(sql),
             "CREATE EXTENSION pglogical;"
             "SELECT pglogical.create_node('subn', 'host=%s port=%d "
             "dbname=postgres user=postgres');"
             "CREATE TABLE pt (id int PRIMARY KEY, v text);"
             "CREATE TABLE pt_other (id int PRIMARY KEY);"
             "INSERT INTO pt_other VALUES (42);"
             "SELECT pglogical.create_subscription('pgsub', 'host=%s port=%d "
             "dbname=postgres user=postgres', '{default}')",
             localpg_host(sub), localpg_port(sub), localpg_host(pub),
             localpg_port(pub));
    exec_on(sub, sql);
    wait_value(sub,
               "SELECT count(*) FILTER (WHERE srsubstate <> 'r') = 0 AND "
               "count(*) = 1 FROM pg_subscription_rel",
               "t");
    wait_value(sub,
               "SELECT status FROM pglogical.show_subscription_status('pgsub')",
               "replicating");
    wait_value(sub, "SELECT count(*) FROM pt", "20");

    assert_non_null(mkdtemp(dir));
    snprintf(cfg_path, sizeof(cfg_path), "%s/replmon.yaml", dir);
    snprintf(text, sizeof(text),
             "defaults: { host: 127.0.0.1, user: postgres, database: "
             "postgres }\n"
             "nodes:\n"
             "  pub: { port: %d }\n"
             "  sub: { port: %d }\n",
             localpg_port(pub), localpg_port(sub));
    write_file(cfg_path, text);
    snprintf(nopgl_cfg_path, sizeof(nopgl_cfg_path), "%s/nopgl.yaml", dir);
    strcat(text, "pglogical: false\n");
    write_file(nopgl_cfg_path, text);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    localpg_destroy(sub);
    localpg_destroy(pub);
    rm_remove_dir(dir);
    return 0;
}

static json_t *json_sub(json_t *node, const char *name, const char *kind)
{
    size_t i;
    json_t *s;

    json_array_foreach(json_object_get(node, "subscriptions"), i, s)
    {
        if (strcmp(json_string_value(json_object_get(s, "name")), name) == 0 &&
            strcmp(json_string_value(json_object_get(s, "kind")), kind) == 0)
            return s;
    }
    fail_msg("no %s subscription %s in the output", kind, name);
    return NULL;
}

/* The state `status --format json` gives a subscription. */
static char *status_state(const char *name, const char *kind)
{
    const char *args[] = {"status",   "--config", cfg_path,
                          "--format", "json",     NULL};
    rm_run_t r;
    json_t *doc;
    char *state;

    rm_run(args, 30000, &r);
    doc = parse_json(r.out);
    state = strdup(json_string_value(json_object_get(
        json_sub(node_by_id(doc, "id", "sub"), name, kind), "state")));
    json_decref(doc);
    rm_run_free(&r);
    return state;
}

/* Run replmon (60 s at most), expecting exit code want. */
static void run_expect(const char *const *args, int want, rm_run_t *r)
{
    rm_run_expect(args, 60000, want, r);
}

/* ---------------------------------------------------------------------- */

static void test_pause_resume_native_and_pglogical(void **state)
{
    const char *pause_s[] = {"subscription", "pause",  "s",
                             "--config",     cfg_path, NULL};
    const char *resume_s[] = {"subscription", "resume", "s",
                              "--config",     cfg_path, NULL};
    const char *pause_pg[] = {"subscription", "pause",  "pgsub",
                              "--config",     cfg_path, NULL};
    const char *resume_pg[] = {"subscription", "resume", "pgsub",
                               "--config",     cfg_path, NULL};
    rm_run_t r;
    char *st;

    (void)state;
    /* Native, on a node where pglogical is installed too. */
    run_expect(pause_s, 0, &r);
    assert_non_null(
        strstr(r.out, "done: pause native subscription s on node sub"));
    assert_non_null(strstr(r.err, "info operation node=sub: pause native "
                                  "subscription s on node sub: ok "
                                  "op=subscription.pause object=s "
                                  "kind=native"));
    assert_non_null(
        strstr(r.err, "sql=\"ALTER SUBSCRIPTION \\\"s\\\" DISABLE\""));
    assert_non_null(strstr(r.err, "role=postgres outcome=ok"));
    rm_run_free(&r);
    assert_true(value_is(
        sub, "SELECT subenabled FROM pg_subscription WHERE subname = 's'",
        "f"));
    st = status_state("s", "native");
    assert_string_equal(st, "disabled");
    free(st);
    run_expect(resume_s, 0, &r);
    rm_run_free(&r);
    assert_true(value_is(
        sub, "SELECT subenabled FROM pg_subscription WHERE subname = 's'",
        "t"));
    wait_value(sub,
               "SELECT count(*) FROM pg_stat_subscription WHERE subname = 's' "
               "AND pid IS NOT NULL AND relid IS NULL",
               "1");
    st = status_state("s", "native");
    assert_string_equal(st, "streaming");
    free(st);

    /* pglogical: its own function; the native subscription is untouched. */
    run_expect(pause_pg, 0, &r);
    assert_non_null(
        strstr(r.out, "done: pause pglogical subscription pgsub on node sub"));
    assert_non_null(strstr(r.err, "sql=\"SELECT "
                                  "pglogical.alter_subscription_disable('"
                                  "pgsub')\""));
    rm_run_free(&r);
    assert_true(value_is(
        sub, "SELECT status FROM pglogical.show_subscription_status('pgsub')",
        "disabled"));
    assert_true(value_is(
        sub, "SELECT subenabled FROM pg_subscription WHERE subname = 's'",
        "t"));
    st = status_state("pgsub", "pglogical");
    assert_string_equal(st, "disabled");
    free(st);
    run_expect(resume_pg, 0, &r);
    rm_run_free(&r);
    wait_value(sub,
               "SELECT status FROM pglogical.show_subscription_status('pgsub')",
               "replicating");
    st = status_state("pgsub", "pglogical");
    assert_string_equal(st, "streaming");
    free(st);
}

static void test_status_shows_pglogical(void **state)
{
    const char *table[] = {"status", "--config", cfg_path, NULL};
    const char *json[] = {"status",   "--config", cfg_path,
                          "--format", "json",     NULL};
    const char *off[] = {"status",   "--config", nopgl_cfg_path,
                         "--format", "json",     NULL};
    rm_run_t r;
    json_t *doc, *s, *x;
    size_t i;
    int seen = 0;

    (void)state;
    run_expect(table, 0, &r);
    assert_int_equal(rm_count_rows(r.out, " sub pgsub streaming pub "), 1);
    assert_int_equal(rm_count_rows(r.out, "1/1 ready - - pglogical"), 1);
    assert_int_equal(rm_count_rows(r.out, " pub sub pglogical pgsub "), 1);
    assert_int_equal(rm_count_rows(r.out, " pub sub logical s "), 1);
    rm_run_free(&r);
    run_expect(json, 0, &r);
    doc = parse_json(r.out);
    s = json_sub(node_by_id(doc, "id", "sub"), "pgsub", "pglogical");
    assert_string_equal(json_string_value(json_object_get(s, "provider_node")),
                        "prov");
    assert_string_equal(
        json_string_value(json_object_get(s, "replication_sets")), "default");
    assert_string_equal(
        json_string_value(json_object_get(s, "pglogical_status")),
        "replicating");
    assert_string_equal(json_string_value(json_object_get(s, "publisher")),
                        "pub");
    assert_true(json_integer_value(json_object_get(s, "worker_pid")) > 0);
    assert_true(json_integer_value(json_object_get(s, "lag_bytes")) >= 0);
    assert_true(json_is_null(json_object_get(s, "apply_error_count")));
    assert_non_null(json_string_value(
        json_object_get(node_by_id(doc, "id", "pub"), "pglogical_version")));
    json_array_foreach(json_object_get(doc, "cross_node_lag"), i, x)
    {
        if (strcmp(json_string_value(json_object_get(x, "subscription_kind")),
                   "pglogical") == 0) {
            assert_string_equal(json_string_value(json_object_get(x, "kind")),
                                "logical");
            seen = 1;
            assert_string_equal(
                json_string_value(json_object_get(x, "upstream")), "pub");
            assert_string_equal(json_string_value(json_object_get(x, "via")),
                                "pgsub");
        }
    }
    assert_true(seen);
    json_decref(doc);
    rm_run_free(&r);
    /* pglogical: false reads none of it. */
    run_expect(off, 0, &r);
    doc = parse_json(r.out);
    assert_int_equal(json_array_size(json_object_get(
                         node_by_id(doc, "id", "sub"), "subscriptions")),
                     1);
    json_decref(doc);
    rm_run_free(&r);
}

static void test_refresh_after_adding_a_table(void **state)
{
    const char *refresh[] = {"subscription", "refresh", "s",
                             "--config",     cfg_path,  NULL};
    rm_run_t r;

    (void)state;
    exec_on(pub, "CREATE TABLE t_new (id int PRIMARY KEY);"
                 "INSERT INTO t_new SELECT generate_series(1, 7);"
                 "ALTER PUBLICATION p ADD TABLE t_new");
    exec_on(sub, "CREATE TABLE t_new (id int PRIMARY KEY)");
    run_expect(refresh, 0, &r);
    assert_non_null(strstr(r.out, "done: refresh the publications of native "
                                  "subscription s on node sub"));
    assert_non_null(strstr(r.err, "REFRESH PUBLICATION"));
    rm_run_free(&r);
    wait_value(sub, "SELECT count(*) FROM t_new", "7");
    wait_value(sub,
               "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate = "
               "'r'",
               "2");
}

static void test_resync_pglogical_table(void **state)
{
    const char *noyes[] = {"subscription", "resync", "pgsub", "pt",
                           "--config",     cfg_path, NULL};
    const char *yes[] = {"subscription", "resync", "pgsub", "public.pt",
                         "--config",     cfg_path, "--yes", NULL};
    const char *other[] = {"subscription", "resync", "pgsub", "pt_other",
                           "--config",     cfg_path, "--yes", NULL};
    const char *native[] = {"subscription", "resync", "s",     "t",
                            "--config",     cfg_path, "--yes", NULL};
    rm_run_t r;

    (void)state;
    /* A row only the subscriber has: the resync replaces it with the
     * provider's copy. */
    exec_on(sub, "INSERT INTO pt VALUES (1000, 'local only')");
    /* Destructive without a terminal and without --yes: refused. */
    run_expect(noyes, 1, &r);
    assert_non_null(strstr(r.err, "stdin is not a terminal"));
    assert_non_null(strstr(r.err, "outcome=refused"));
    rm_run_free(&r);
    assert_true(value_is(sub, "SELECT count(*) FROM pt", "21"));
    run_expect(yes, 0, &r);
    assert_non_null(strstr(r.out, "done: resync pglogical subscription pgsub "
                                  "table public.pt on node sub"));
    assert_non_null(strstr(r.err, "alter_subscription_resynchronize_table("
                                  "'pgsub', 'public.pt'::regclass, true)"));
    rm_run_free(&r);
    wait_value(sub, "SELECT count(*) FROM pt", "20");
    wait_value(sub,
               "SELECT status FROM pglogical.show_subscription_table('pgsub', "
               "'pt')",
               "replicating");
    /* Not replicated by the subscription: refused before anything is
     * truncated. */
    run_expect(other, 1, &r);
    assert_non_null(strstr(r.err, "does not replicate table pt_other"));
    rm_run_free(&r);
    assert_true(value_is(sub, "SELECT id FROM pt_other", "42"));
    /* Native subscriptions have refresh instead. */
    run_expect(native, 1, &r);
    assert_non_null(strstr(r.err, "resync is for pglogical subscriptions"));
    rm_run_free(&r);
}

static int slot_exists(localpg_server_t *s, const char *name)
{
    char sql[256];

    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_replication_slots WHERE slot_name = "
             "'%s'",
             name);
    return value_is(s, sql, "1");
}

static void test_slot_create_and_drop(void **state)
{
    const char *dry_create[] = {
        "slot", "create",    "ops_logical", "--config",  cfg_path, "--node",
        "pub",  "--logical", "pgoutput",    "--dry-run", NULL};
    const char *create_l[] = {"slot",     "create", "ops_logical", "--config",
                              cfg_path,   "--node", "pub",         "--logical",
                              "pgoutput", NULL};
    const char *create_p[] = {"slot",     "create",     "ops_physical",
                              "--config", cfg_path,     "--node",
                              "pub",      "--physical", NULL};
    const char *no_node[] = {"slot",   "create",     "x", "--config",
                             cfg_path, "--physical", NULL};
    const char *dry_drop[] = {"slot",   "drop",      "ops_logical", "--config",
                              cfg_path, "--dry-run", NULL};
    const char *drop_l[] = {"slot",   "drop",  "ops_logical", "--config",
                            cfg_path, "--yes", NULL};
    const char *drop_p[] = {
        "slot", "drop", "ops_physical", "--config", cfg_path, "--yes", NULL};
    rm_run_t r;

    (void)state;
    run_expect(dry_create, 0, &r);
    assert_non_null(strstr(r.out, "SELECT pg_create_logical_replication_slot("
                                  "'ops_logical', 'pgoutput');\n"));
    assert_non_null(strstr(r.out, "-- dry run: create logical slot"));
    assert_non_null(strstr(r.err, "outcome=dry-run"));
    rm_run_free(&r);
    assert_false(slot_exists(pub, "ops_logical"));
    run_expect(create_l, 0, &r);
    rm_run_free(&r);
    assert_true(value_is(pub,
                         "SELECT plugin FROM pg_replication_slots WHERE "
                         "slot_name = 'ops_logical'",
                         "pgoutput"));
    run_expect(create_p, 0, &r);
    rm_run_free(&r);
    assert_true(value_is(pub,
                         "SELECT slot_type FROM pg_replication_slots WHERE "
                         "slot_name = 'ops_physical'",
                         "physical"));
    run_expect(create_p, 1, &r);
    assert_non_null(strstr(r.err, "already has a slot named ops_physical"));
    rm_run_free(&r);
    run_expect(no_node, 1, &r);
    assert_non_null(strstr(r.err, "slot create needs --node: the cluster has "
                                  "2 nodes (pub, sub)"));
    rm_run_free(&r);
    run_expect(dry_drop, 0, &r);
    assert_non_null(
        strstr(r.out, "SELECT pg_drop_replication_slot('ops_logical');\n"));
    rm_run_free(&r);
    assert_true(slot_exists(pub, "ops_logical"));
    run_expect(drop_l, 0, &r);
    assert_non_null(strstr(r.err, "op=slot.drop object=ops_logical"));
    rm_run_free(&r);
    assert_false(slot_exists(pub, "ops_logical"));
    run_expect(drop_p, 0, &r);
    rm_run_free(&r);
    assert_false(slot_exists(pub, "ops_physical"));
}

static void test_slot_name_on_two_nodes(void **state)
{
    const char *drop[] = {"slot",   "drop",  "twin", "--config",
                          cfg_path, "--yes", NULL};
    const char *drop_sub[] = {"slot",  "drop",   "twin", "--config", cfg_path,
                              "--yes", "--node", "sub",  NULL};
    rm_run_t r;

    (void)state;
    exec_on(pub, "SELECT pg_create_physical_replication_slot('twin')");
    exec_on(sub, "SELECT pg_create_physical_replication_slot('twin')");
    run_expect(drop, 1, &r);
    assert_non_null(strstr(r.err, "slot twin exists on several nodes (pub, "
                                  "sub): choose one with --node"));
    rm_run_free(&r);
    run_expect(drop_sub, 0, &r);
    rm_run_free(&r);
    assert_false(slot_exists(sub, "twin"));
    assert_true(slot_exists(pub, "twin"));
    exec_on(pub, "SELECT pg_drop_replication_slot('twin')");
}

static void test_drop_active_slot(void **state)
{
    const char *refused[] = {"slot",   "drop",  "s_drop", "--config",
                             cfg_path, "--yes", NULL};
    const char *dry[] = {"slot",   "drop",    "s_drop",    "--config",
                         cfg_path, "--force", "--dry-run", NULL};
    const char *force[] = {"slot",   "drop",    "s_drop", "--config",
                           cfg_path, "--force", "--yes",  NULL};
    char sql[512];
    rm_run_t r;

    (void)state;
    snprintf(sql, sizeof(sql),
             "CREATE SUBSCRIPTION s_drop CONNECTION 'host=%s port=%d "
             "user=postgres dbname=postgres' PUBLICATION p WITH (copy_data = "
             "false)",
             localpg_host(pub), localpg_port(pub));
    exec_on(sub, sql);
    wait_value(pub,
               "SELECT active FROM pg_replication_slots WHERE slot_name = "
               "'s_drop'",
               "t");
    run_expect(refused, 1, &r);
    assert_non_null(strstr(r.err, "slot s_drop on node pub is active "
                                  "(walsender pid "));
    assert_non_null(strstr(r.err, "pass --force"));
    rm_run_free(&r);
    run_expect(dry, 0, &r);
    assert_non_null(strstr(r.out, "SELECT pg_terminate_backend(active_pid, "
                                  "5000) FROM pg_replication_slots WHERE "
                                  "slot_name = 's_drop' AND active_pid IS "
                                  "NOT NULL;\nSELECT "
                                  "pg_drop_replication_slot('s_drop');\n"));
    rm_run_free(&r);
    assert_true(value_is(pub,
                         "SELECT active FROM pg_replication_slots WHERE "
                         "slot_name = 's_drop'",
                         "t"));
    run_expect(force, 0, &r);
    assert_non_null(strstr(r.out, "done: drop logical slot s_drop on node "
                                  "pub, ending its walsender first"));
    assert_non_null(strstr(r.err, "force=true"));
    rm_run_free(&r);
    assert_false(slot_exists(pub, "s_drop"));
    exec_on(sub, "ALTER SUBSCRIPTION s_drop DISABLE");
    exec_on(sub, "ALTER SUBSCRIPTION s_drop SET (slot_name = NONE)");
    exec_on(sub, "DROP SUBSCRIPTION s_drop");
}

/* Run replmon with a terminal as its stdin, answering the confirmation
 * prompt with answer. Returns the exit code; *out gets what it wrote. */
static int run_on_terminal(const char *const *args, const char *answer,
                           char *out, size_t outlen)
{
    const char *argv[32];
    int master, status, i;
    size_t used = 0;
    pid_t pid;
    int answered = 0;
    int64_t deadline = rm_run_now_ms() + 60000;

    argv[0] = replmon_binary();
    for (i = 0; args[i] != NULL && i < 30; i++)
        argv[i + 1] = args[i];
    argv[i + 1] = NULL;
    pid = forkpty(&master, NULL, NULL, NULL);
    assert_true(pid >= 0);
    if (pid == 0) {
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    out[0] = '\0';
    for (;;) {
        struct pollfd p = {master, POLLIN, 0};
        ssize_t n;

        if (rm_run_now_ms() > deadline) {
            kill(pid, SIGKILL);
            break;
        }
        if (poll(&p, 1, 100) <= 0)
            continue;
        n = read(master, out + used, outlen - used - 1);
        if (n <= 0)
            break; /* EIO once the child closed the terminal */
        used += (size_t)n;
        out[used] = '\0';
        if (!answered && strstr(out, "anything else to stop: ") != NULL) {
            answered = 1;
            if (write(master, answer, strlen(answer)) < 0)
                break;
        }
    }
    close(master);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_typed_confirmation_on_a_terminal(void **state)
{
    const char *drop[] = {"slot", "drop", "typed", "--config", cfg_path, NULL};
    char out[8192];
    int code;

    (void)state;
    exec_on(pub, "SELECT pg_create_physical_replication_slot('typed')");
    code = run_on_terminal(drop, "yes\n", out, sizeof(out));
    if (code != 1)
        fail_msg("exit %d, want 1: %s", code, out);
    assert_non_null(strstr(out, "this drops slot typed on node pub"));
    assert_non_null(strstr(out, "Type 'typed' to drop it"));
    assert_non_null(strstr(out, "not confirmed: nothing was changed"));
    assert_non_null(strstr(out, "outcome=abandoned"));
    assert_true(slot_exists(pub, "typed"));
    code = run_on_terminal(drop, "typed\n", out, sizeof(out));
    if (code != 0)
        fail_msg("exit %d, want 0: %s", code, out);
    assert_non_null(strstr(out, "done: drop physical slot typed on node pub"));
    assert_false(slot_exists(pub, "typed"));
}

static void test_role_without_privileges(void **state)
{
    const char *pause[] = {"subscription", "pause",  "s",      "--config",
                           cfg_path,       "--user", "nopriv", NULL};
    const char *create[] = {"slot",   "create", "nopriv_slot", "--config",
                            cfg_path, "--node", "pub",         "--physical",
                            "--user", "nopriv", NULL};
    rm_run_t r;

    (void)state;
    exec_on(pub, "CREATE ROLE nopriv LOGIN");
    exec_on(sub, "CREATE ROLE nopriv LOGIN");
    /* The role cannot read pglogical: the native subscription is found,
     * but the node might have a pglogical one too. */
    run_expect(pause, 1, &r);
    assert_non_null(strstr(r.err, "name the node with --node sub or the kind "
                                  "with --kind native"));
    assert_non_null(strstr(r.err, "permission denied for schema pglogical"));
    rm_run_free(&r);
    {
        const char *pause_native[] = {
            "subscription", "pause",  "s",      "--config", cfg_path,
            "--user",       "nopriv", "--kind", "native",   NULL};

        run_expect(pause_native, 1, &r);
    }
    assert_int_equal(rm_count_lines(r.err, "replmon subscription pause: "), 1);
    assert_non_null(strstr(r.err, "replmon subscription pause: permission "
                                  "denied on node sub for role nopriv: ALTER "
                                  "SUBSCRIPTION needs the subscription's "
                                  "owner (or a superuser) (ALTER SUBSCRIPTION "
                                  "s OWNER TO nopriv); the server said: must "
                                  "be owner of subscription s\n"));
    assert_non_null(strstr(r.err, "role=nopriv outcome=failed"));
    rm_run_free(&r);
    assert_true(value_is(
        sub, "SELECT subenabled FROM pg_subscription WHERE subname = 's'",
        "t"));
    run_expect(create, 1, &r);
    assert_non_null(strstr(r.err, "permission denied on node pub for role "
                                  "nopriv: replication slots need the "
                                  "REPLICATION attribute (or superuser) "
                                  "(ALTER ROLE nopriv REPLICATION)"));
    rm_run_free(&r);
    assert_false(slot_exists(pub, "nopriv_slot"));
}

/* Start `replmon serve` (1 s rounds) and poll its /status until a finding
 * holds text (30 s at most); stop it. Returns 1 if one did. */
static int serve_reports(const char *text)
{
    char log[PATH_MAX], out[PATH_MAX], err[PATH_MAX];
    const char *args[] = {"serve",       "--config",   cfg_path, "--listen",
                          "127.0.0.1:0", "--interval", "1s",     "--log-file",
                          log,           NULL};
    int64_t deadline;
    int port = 0, seen = 0;
    pid_t pid;

    snprintf(log, sizeof(log), "%s/serve.log", dir);
    snprintf(out, sizeof(out), "%s/serve.out", dir);
    snprintf(err, sizeof(err), "%s/serve.err", dir);
    pid = rm_spawn(args, out, err, NULL);
    assert_true(pid > 0);
    deadline = rm_run_now_ms() + 30000;
    while (port == 0 && rm_run_now_ms() < deadline) {
        char *t = rm_read_file(log), *at = strstr(t, "serve_listening");

        if (at != NULL && (at = strstr(at, " port=")) != NULL)
            port = atoi(at + 6);
        free(t);
        usleep(50000);
    }
    while (port > 0 && !seen && rm_run_now_ms() < deadline) {
        http_reply_t h;

        if (http_get(port, "/status", 5000, &h) == 0 && h.status == 200)
            seen = strstr(h.body, text) != NULL;
        http_reply_free(&h);
        if (!seen)
            usleep(200000);
    }
    kill(pid, SIGTERM);
    assert_int_equal(rm_wait(pid, 15000), 0);
    unlink(log);
    unlink(out);
    unlink(err);
    return seen;
}

static void test_conflict_counted_and_rate_judged(void **state)
{
    const char *sample[] = {"status", "--config", cfg_path, "--sample",
                            "3s",     "--format", "json",   NULL};
    const char *sample_table[] = {"status",   "--config", cfg_path,
                                  "--sample", "2s",       NULL};
    const char *once[] = {"status", "--config", cfg_path, NULL};
    rm_run_t r;
    json_t *doc, *s, *f;
    size_t i;
    int seen = 0;

    (void)state;
    /* The subscriber has row 500; the publisher then inserts it: the
     * apply worker fails on the unique key, again and again. */
    exec_on(sub, "INSERT INTO t VALUES (500, 'subscriber')");
    exec_on(pub, "INSERT INTO t VALUES (500, 'publisher')");
    wait_value(sub,
               "SELECT apply_error_count >= 2 FROM pg_stat_subscription_stats "
               "WHERE subname = 's'",
               "t");
    /* One round: the count since the reset warns. */
    rm_run(once, 60000, &r);
    assert_true(r.code >= 1);
    assert_non_null(strstr(r.out, "subscription s has "));
    assert_non_null(strstr(r.out, "apply and 0 sync errors since its "
                                  "statistics were reset"));
    rm_run_free(&r);
    /* Two rounds: the rate, against conflict_rate (5 and 20 a minute). */
    rm_run_expect(sample, 60000, 2, &r);
    doc = parse_json(r.out);
    assert_true(json_real_value(json_object_get(doc, "sample_seconds")) >= 3.0);
    s = json_sub(node_by_id(doc, "id", "sub"), "s", "native");
    assert_true(json_integer_value(json_object_get(s, "apply_error_count")) >=
                2);
    assert_true(json_integer_value(json_object_get(s, "conflict_count")) >= 2);
    assert_true(json_real_value(json_object_get(s, "conflict_rate_per_min")) >=
                20.0);
    json_array_foreach(json_object_get(doc, "findings"), i, f)
    {
        const char *m = json_string_value(json_object_get(f, "message"));

        if (strstr(m, "subscription s has ") != NULL &&
            strstr(m, "conflicts and errors a minute (critical at 20;") !=
                NULL) {
            seen = 1;
            assert_string_equal(
                json_string_value(json_object_get(f, "severity")), "CRITICAL");
        }
    }
    if (!seen)
        fail_msg("no conflict_rate finding: %s", r.out);
    json_decref(doc);
    rm_run_free(&r);
    rm_run_expect(sample_table, 60000, 2, &r);
    assert_non_null(strstr(r.out, "CRITICAL  sub: subscription s has "));
    rm_run_free(&r);
    /* serve judges the rate between its rounds. */
    assert_true(
        serve_reports("conflicts and errors a minute (critical at 20;"));
    /* Resolved: the apply goes on, the rate falls to 0 and stops raising
     * the finding (the old count is only a note). */
    exec_on(sub, "DELETE FROM t WHERE id = 500");
    wait_value(sub, "SELECT v FROM t WHERE id = 500", "publisher");
    rm_run(sample_table, 60000, &r);
    if (strstr(r.out, "conflicts and errors a minute (critical") != NULL) {
        print_message("%s\n", strstr(r.out, "FINDINGS"));
        fail_msg("still critical after the conflict was resolved");
    }
    assert_non_null(strstr(r.out, "NOTE      sub: subscription s: 0.0 "
                                  "conflicts and errors a minute now"));
    rm_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pause_resume_native_and_pglogical),
        cmocka_unit_test(test_status_shows_pglogical),
        cmocka_unit_test(test_refresh_after_adding_a_table),
        cmocka_unit_test(test_resync_pglogical_table),
        cmocka_unit_test(test_slot_create_and_drop),
        cmocka_unit_test(test_slot_name_on_two_nodes),
        cmocka_unit_test(test_drop_active_slot),
        cmocka_unit_test(test_typed_confirmation_on_a_terminal),
        cmocka_unit_test(test_role_without_privileges),
        cmocka_unit_test(test_conflict_counted_and_rate_judged),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
