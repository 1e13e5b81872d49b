/* SPDX-License-Identifier: MIT */
/*
 * test_localpg.c - the local server fixture itself: start several servers,
 * kill/restart, freeze/thaw, stop, passwords, configuration and pg_hba
 * lines, logical and standby servers, stale-run reaping, a TLS smoke test,
 * and that nothing (process or directory) is left after destroy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "fixture.h"
#include "localpg.h"
#include "tls.h"

/* A process is gone when it does not exist or is a zombie. */
static int pid_gone(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return 1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p == NULL || p[1] == '\0' || p[2] == 'Z' || p[2] == 'X';
}

/* Children of pid (one level), from /proc. */
static int children_of(pid_t pid, pid_t *out, int max)
{
    int n = 0;
    FILE *ls = popen("ls /proc", "r");
    char name[64];
    while (ls && n < max && fgets(name, sizeof name, ls)) {
        int child = atoi(name);
        if (child <= 0)
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%d/stat", child);
        FILE *f = fopen(path, "re");
        if (f == NULL)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        char *p = strrchr(buf, ')');
        int ppid = 0;
        if (p && sscanf(p + 2, "%*c %d", &ppid) == 1 && ppid == pid)
            out[n++] = child;
    }
    if (ls)
        pclose(ls);
    return n;
}

static int dir_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* SELECT 1 over TCP with the server's conninfo. */
static int select_one(const localpg_server_t *s)
{
    PGconn *c = PQconnectdb(localpg_conninfo(s));
    int ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
        PGresult *r = PQexec(c, "SELECT 1");
        ok = PQresultStatus(r) == PGRES_TUPLES_OK &&
             strcmp(PQgetvalue(r, 0, 0), "1") == 0;
        PQclear(r);
    }
    PQfinish(c);
    return ok;
}

static int teardown(void **state)
{
    (void)state;
    fixture_stop_all();
    return 0;
}

static void test_start_kill_restart_freeze_stop(void **state)
{
    (void)state;
    localpg_server_t **pg = fixture_start(3, NULL);
    pid_t pids[3];
    char dirs[3][256];
    for (int i = 0; i < 3; i++) {
        assert_true(select_one(pg[i]));
        assert_true(localpg_is_running(pg[i]));
        pids[i] = localpg_pid(pg[i]);
        assert_true(pids[i] > 0);
        snprintf(dirs[i], sizeof dirs[i], "%s", localpg_dir(pg[i]));
        assert_true(dir_exists(localpg_datadir(pg[i])));
        for (int j = 0; j < i; j++)
            assert_int_not_equal(localpg_port(pg[i]), localpg_port(pg[j]));
    }

    /* Kill: the postmaster and every child go, connections fail. */
    char *v = fixture_exec(pg[1], "SET synchronous_commit = on; "
                                  "CREATE TABLE survives (x int); "
                                  "INSERT INTO survives VALUES (42)");
    free(v);
    PGconn *held = PQconnectdb(localpg_conninfo(pg[1]));
    assert_int_equal(PQstatus(held), CONNECTION_OK);
    pid_t kids[64];
    int nkids = children_of(pids[1], kids, 64);
    assert_true(nkids >= 4); /* checkpointer, walwriter, ... and `held` */
    assert_int_equal(localpg_kill(pg[1]), 0);
    assert_int_equal(localpg_pid(pg[1]), 0);
    assert_false(localpg_is_running(pg[1]));
    assert_true(pid_gone(pids[1]));
    for (int i = 0; i < nkids; i++)
        assert_true(pid_gone(kids[i]));
    PGresult *r = PQexec(held, "SELECT 1");
    assert_int_not_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    PQfinish(held);
    char err[512];
    assert_int_equal(
        fixture_try_connect(localpg_conninfo(pg[1]), 2000, err, sizeof err), 0);
    assert_int_equal(localpg_kill(pg[1]), -1); /* not running */
    assert_non_null(strstr(localpg_last_error(pg[1]), "not running"));

    /* Restart: same port, crash recovery, committed data is there. */
    int port = localpg_port(pg[1]);
    assert_int_equal(localpg_restart(pg[1]), 0);
    assert_int_equal(localpg_port(pg[1]), port);
    assert_true(select_one(pg[1]));
    fixture_assert_value(pg[1], "SELECT x FROM survives", "42");

    /* Freeze: a connection attempt hangs; thaw: it works again. */
    assert_int_equal(localpg_freeze(pg[2]), 0);
    assert_true(localpg_is_running(pg[2]));
    assert_int_equal(
        fixture_try_connect(localpg_conninfo(pg[2]), 1000, err, sizeof err),
        -1);
    assert_int_equal(localpg_thaw(pg[2]), 0);
    assert_int_equal(
        fixture_try_connect(localpg_conninfo(pg[2]), 5000, err, sizeof err), 1);

    /* Stop: fast shutdown; stopping again is a no-op. */
    assert_int_equal(localpg_stop(pg[0]), 0);
    assert_int_equal(localpg_pid(pg[0]), 0);
    assert_true(pid_gone(pids[0]));
    assert_int_equal(localpg_stop(pg[0]), 0);
    assert_int_equal(
        fixture_try_connect(localpg_conninfo(pg[0]), 2000, err, sizeof err), 0);

    /* Destroy: no process, no directory. */
    pid_t live[3] = {localpg_pid(pg[0]), localpg_pid(pg[1]),
                     localpg_pid(pg[2])};
    pid_t all_kids[3][64];
    int nall[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++)
        if (live[i] > 0)
            nall[i] = children_of(live[i], all_kids[i], 64);
    fixture_stop_all();
    for (int i = 0; i < 3; i++) {
        if (live[i] > 0)
            assert_true(pid_gone(live[i]));
        for (int j = 0; j < nall[i]; j++)
            assert_true(pid_gone(all_kids[i][j]));
        assert_false(dir_exists(dirs[i]));
    }
}

static void test_freeze_survives_kill(void **state)
{
    (void)state;
    /* A frozen server can be killed and restarted. */
    localpg_server_t **pg = fixture_start(1, NULL);
    pid_t pm = localpg_pid(pg[0]);
    assert_int_equal(localpg_freeze(pg[0]), 0);
    assert_int_equal(localpg_freeze(pg[0]), 0); /* twice is fine */
    assert_int_equal(localpg_kill(pg[0]), 0);
    assert_true(pid_gone(pm));
    assert_int_equal(localpg_restart(pg[0]), 0);
    assert_true(select_one(pg[0]));
    /* A frozen server stops cleanly too (thawed first). */
    assert_int_equal(localpg_freeze(pg[0]), 0);
    assert_int_equal(localpg_stop(pg[0]), 0);
    assert_int_equal(localpg_restart(pg[0]), 0);
    assert_true(select_one(pg[0]));
}

static void test_password(void **state)
{
    (void)state;
    localpg_options_t o;
    localpg_options_init(&o);
    o.name = "pw";
    o.password = "s3cret 'quoted' \\ pass";
    localpg_server_t **pg = fixture_start(1, &o);
    assert_string_equal(localpg_password(pg[0]), o.password);
    assert_non_null(strstr(localpg_conninfo(pg[0]), "password="));
    assert_true(select_one(pg[0]));

    char info[256], err[512];
    snprintf(info, sizeof info,
             "host=127.0.0.1 port=%d user=postgres dbname=postgres "
             "password=wrong sslmode=disable",
             localpg_port(pg[0]));
    assert_int_equal(fixture_try_connect(info, 5000, err, sizeof err), 0);
    assert_non_null(strstr(err, "password authentication failed"));
    /* The fixture's own way in (the Unix socket) needs no password. */
    fixture_assert_value(pg[0], "SELECT current_user", "postgres");
}

static void test_conf_and_hba_lines(void **state)
{
    (void)state;
    const char *conf[] = {"work_mem = '7MB'", "application_name = 'conf'",
                          NULL};
    const char *hba[] = {"host all all 127.0.0.1/32 reject", NULL};
    localpg_options_t o;
    localpg_options_init(&o);
    o.conf_lines = conf;
    o.hba_lines = hba;
    o.max_connections = 3;
    localpg_server_t **pg = fixture_start(1, &o);

    fixture_assert_value(pg[0], "SHOW work_mem", "7MB");
    fixture_assert_value(pg[0], "SHOW max_connections", "3");
    fixture_assert_value(pg[0], "SHOW fsync", "off");
    fixture_assert_value(pg[0], "SHOW listen_addresses", "127.0.0.1");
    char err[512];
    assert_int_equal(
        fixture_try_connect(localpg_conninfo(pg[0]), 5000, err, sizeof err), 0);
    assert_non_null(strstr(err, "rejects connection"));

    /* Errors name the server and carry the server's message. */
    assert_int_equal(
        localpg_exec(pg[0], NULL, "SELECT nonsense", NULL, err, sizeof err),
        -1);
    assert_non_null(strstr(err, "nonsense"));
    assert_null(strchr(err, '\n'));
}

static void test_log_counts_tcp_connections(void **state)
{
    (void)state;
    localpg_server_t **pg = fixture_start(1, NULL);
    const char *needle = "connection received: host=127.0.0.1";
    int before = fixture_log_count(pg[0], needle);
    assert_true(before >= 0);
    assert_true(select_one(pg[0]));
    assert_true(select_one(pg[0]));
    /* Our own exec goes through the socket and does not count. */
    free(fixture_exec(pg[0], "SELECT 1"));
    assert_int_equal(fixture_log_count(pg[0], needle), before + 2);
    assert_true(fixture_log_count(pg[0], "host=[local]") > 0);
}

static int standby_has_table(void *user)
{
    localpg_server_t *s = user;
    char *v = NULL;
    char err[256];
    if (localpg_exec(s, NULL,
                     "SELECT count(*) FROM pg_class WHERE relname = "
                     "'from_primary'",
                     &v, err, sizeof err) < 0)
        return 0;
    int ok = v && strcmp(v, "1") == 0;
    free(v);
    return ok;
}

static void test_logical_and_standby(void **state)
{
    (void)state;
    localpg_options_t o;
    localpg_options_init(&o);
    o.name = "primary";
    o.logical = 1;
    o.password = "repl pw";
    localpg_server_t **pg = fixture_start(1, &o);
    fixture_assert_value(pg[0], "SHOW wal_level", "logical");
    fixture_assert_value(pg[0], "SHOW max_replication_slots", "20");

    localpg_options_t so;
    localpg_options_init(&so);
    so.name = "standby";
    so.standby_of_host = localpg_host(pg[0]);
    so.standby_of_port = localpg_port(pg[0]);
    so.password = o.password; /* for pg_basebackup and streaming */
    localpg_server_t **sb = fixture_start(1, &so);
    assert_int_not_equal(localpg_port(sb[0]), localpg_port(pg[0]));
    fixture_assert_value(sb[0], "SELECT pg_is_in_recovery()", "t");
    free(fixture_exec(pg[0], "CREATE TABLE from_primary (x int)"));
    assert_true(fixture_wait_for(standby_has_table, sb[0], 10000));
    fixture_assert_value(pg[0], "SELECT count(*) FROM pg_stat_replication",
                         "1");
    /* The standby keeps the primary's password and needs it over TCP. */
    assert_true(select_one(sb[0]));
    /* It survives a kill and comes back as a standby. */
    assert_int_equal(localpg_kill(sb[0]), 0);
    assert_int_equal(localpg_restart(sb[0]), 0);
    fixture_assert_value(sb[0], "SELECT pg_is_in_recovery()", "t");
}

static void test_missing_binaries_is_an_error(void **state)
{
    (void)state;
    /* Checked in a child: the bin directory is found once per process. */
    fflush(NULL);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        setenv("LOCALPG_BINDIR", "/nonexistent/bin", 1);
        char err[512];
        localpg_options_t o;
        localpg_options_init(&o);
        localpg_server_t *s = localpg_start(&o, err, sizeof err);
        _exit(s == NULL && strstr(err, "LOCALPG_BINDIR") != NULL &&
                      strchr(err, '\n') == NULL
                  ? 0
                  : 1);
    }
    int st;
    assert_int_equal(waitpid(child, &st, 0), child);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* A standby made by copying a stopped primary (no pg_basebackup), on the
 * oldest and the newest version: 10 has recovery.conf and 16 MB WAL
 * segments, 12+ standby.signal; it streams through its physical slot. */
static void copied_standby(int major)
{
    localpg_options_t o;
    localpg_options_init(&o);
    o.name = "primary";
    o.logical = 1;
    o.password = "copy pw";
    o.bindir = fixture_require_pg(major);
    localpg_server_t **pg = fixture_start(1, &o);
    assert_int_equal(localpg_major(pg[0]), major);
    assert_string_equal(localpg_bindir(pg[0]), o.bindir);
    char *v = fixture_exec(pg[0], "SELECT current_setting('server_version_num')"
                                  "::int / 10000");
    assert_int_equal(atoi(v), major);
    free(v);
    free(fixture_exec(pg[0], "CREATE TABLE before_copy (x int)"));

    localpg_options_t so;
    localpg_options_init(&so);
    so.name = "Copy";
    so.standby_of = pg[0];
    localpg_server_t **sb = fixture_start(1, &so);
    assert_int_equal(localpg_major(sb[0]), major);
    assert_string_equal(localpg_password(sb[0]), o.password);
    fixture_assert_value(sb[0], "SELECT pg_is_in_recovery()", "t");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", localpg_datadir(sb[0]),
             major >= 12 ? "standby.signal" : "recovery.conf");
    assert_int_equal(access(path, F_OK), 0);
    /* The primary came back on its port, the slot is the standby's and
     * only the primary has it. */
    assert_true(select_one(pg[0]));
    fixture_wait_value(pg[0],
                       "SELECT string_agg(slot_name || ':' || active, ',') "
                       "FROM pg_replication_slots",
                       "copy_slot:true", 10000);
    fixture_assert_value(sb[0], "SELECT count(*) FROM pg_replication_slots",
                         "0");
    fixture_wait_value(pg[0],
                       "SELECT application_name || ' ' || state || ' ' || "
                       "host(client_addr) FROM pg_stat_replication",
                       "Copy streaming 127.0.0.1", 10000);
    free(fixture_exec(pg[0], "CREATE TABLE from_primary (x int)"));
    assert_true(fixture_wait_for(standby_has_table, sb[0], 10000));
    fixture_assert_value(sb[0],
                         "SELECT count(*) FROM pg_class WHERE relname = "
                         "'before_copy'",
                         "1");

    /* The standby's own options are refused where they make no sense. */
    char err[512];
    localpg_server_t *two[2];
    assert_int_equal(localpg_start_many(&so, 2, two, err, sizeof err), -1);
    assert_non_null(strstr(err, "one standby at a time"));
    assert_int_equal(localpg_stop(pg[0]), 0);
    assert_null(localpg_start(&so, err, sizeof err));
    assert_non_null(strstr(err, "running primary"));
}

static void test_copied_standby_oldest(void **state)
{
    (void)state;
    copied_standby(fixture_pg_majors[0]);
}

static void test_copied_standby_newest(void **state)
{
    (void)state;
    copied_standby(fixture_pg_majors[fixture_pg_major_count - 1]);
}

/* Roles whose passwords are stored as scram-sha-256 or md5, checked over
 * TCP by this libpq, on the oldest version (where md5 is the default). */
static void test_roles_scram_and_md5(void **state)
{
    (void)state;
    static const char *const hba[] = {"host all md5_role 127.0.0.1/32 md5",
                                      "host all all 127.0.0.1/32 scram-sha-256",
                                      NULL};
    localpg_options_t o;
    localpg_options_init(&o);
    o.bindir = fixture_require_pg(fixture_pg_majors[0]);
    o.hba_lines = hba;
    localpg_server_t **pg = fixture_start(1, &o);
    char err[512];
    assert_int_equal(localpg_create_role(pg[0], "scram_role", "s pw",
                                         "scram-sha-256", "pg_monitor", err,
                                         sizeof err),
                     0);
    assert_int_equal(localpg_create_role(pg[0], "md5_role", "m pw", "md5", NULL,
                                         err, sizeof err),
                     0);
    fixture_assert_value(pg[0],
                         "SELECT string_agg(rolname || '=' || "
                         "left(rolpassword, 3), ',' ORDER BY rolname) "
                         "FROM pg_authid WHERE rolname LIKE '%_role'",
                         "md5_role=md5,scram_role=SCR");
    fixture_assert_value(pg[0],
                         "SELECT pg_has_role('scram_role', 'pg_monitor', "
                         "'USAGE')",
                         "t");
    char info[256];
    snprintf(info, sizeof info,
             "host=127.0.0.1 port=%d dbname=postgres user=scram_role "
             "password='s pw'",
             localpg_port(pg[0]));
    assert_int_equal(fixture_try_connect(info, 5000, err, sizeof err), 1);
    snprintf(info, sizeof info,
             "host=127.0.0.1 port=%d dbname=postgres user=md5_role "
             "password='m pw'",
             localpg_port(pg[0]));
    assert_int_equal(fixture_try_connect(info, 5000, err, sizeof err), 1);
    snprintf(info, sizeof info,
             "host=127.0.0.1 port=%d dbname=postgres user=md5_role "
             "password=wrong",
             localpg_port(pg[0]));
    assert_int_equal(fixture_try_connect(info, 5000, err, sizeof err), 0);
    assert_non_null(strstr(err, "password authentication failed"));
    assert_int_equal(
        localpg_create_role(pg[0], "x", "p", "plain", NULL, err, sizeof err),
        -1);
    assert_non_null(strstr(err, "scram-sha-256 or md5"));
}

static void test_many_distinct(void **state)
{
    (void)state;
    localpg_server_t **pg = fixture_start(4, NULL);
    for (int i = 0; i < 4; i++) {
        assert_true(select_one(pg[i]));
        for (int j = 0; j < i; j++) {
            assert_int_not_equal(localpg_port(pg[i]), localpg_port(pg[j]));
            assert_string_not_equal(localpg_dir(pg[i]), localpg_dir(pg[j]));
        }
        /* The socket path must fit sun_path. */
        assert_true(strlen(localpg_dir(pg[i])) + 16 <= 107);
    }
}

static void test_forked_child_leaves_servers_alone(void **state)
{
    (void)state;
    localpg_server_t **pg = fixture_start(1, NULL);
    fflush(NULL);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        /* Runs the inherited atexit handlers: they must not touch the
         * parent's servers. */
        localpg_cleanup_all();
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(child, &st, 0), child);
    assert_true(localpg_is_running(pg[0]));
    assert_true(select_one(pg[0]));
}

static void test_reap_stale(void **state)
{
    (void)state;
    char parent[] = "/tmp/lpreap-XXXXXX";
    assert_non_null(mkdtemp(parent));
    assert_int_equal(chmod(parent, 0755), 0);
    localpg_options_t o;
    localpg_options_init(&o);
    o.parent_dir = parent;
    localpg_server_t **pg = fixture_start(1, &o);
    char dir[256];
    snprintf(dir, sizeof dir, "%s", localpg_dir(pg[0]));
    pid_t pm = localpg_pid(pg[0]);

    /* Nothing is stale while we own it. */
    assert_int_equal(localpg_reap_stale(parent), 0);
    assert_true(localpg_is_running(pg[0]));

    /* Pretend its owner died: a pid that has exited. */
    pid_t dead = fork();
    assert_true(dead >= 0);
    if (dead == 0)
        _exit(0);
    assert_int_equal(waitpid(dead, NULL, 0), dead);
    char path[300], line[32];
    snprintf(path, sizeof path, "%s/owner.pid", dir);
    FILE *f = fopen(path, "we");
    assert_non_null(f);
    snprintf(line, sizeof line, "%d 1\n", (int)dead);
    fputs(line, f);
    fclose(f);

    assert_int_equal(localpg_reap_stale(parent), 1);
    assert_true(pid_gone(pm));
    assert_false(dir_exists(dir));
    fixture_stop_all(); /* destroying a reaped server is harmless */
    assert_int_equal(rmdir(parent), 0);
}

static void test_tls_smoke(void **state)
{
    (void)state;
    tls_files_t f;
    char err[1024];
    if (tls_make_files(NULL, &f, err, sizeof err) < 0)
        fail_msg("%s", err);
    localpg_server_t *s =
        tls_start_server(&f, TLS_HBA_SSL_ONLY, NULL, err, sizeof err);
    if (s == NULL)
        fail_msg("%s", err);
    char info[1024];
    snprintf(info, sizeof info,
             "host=127.0.0.1 port=%d user=postgres dbname=postgres "
             "sslmode=require",
             localpg_port(s));
    PGconn *c = PQconnectdb(info);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    assert_int_equal(PQsslInUse(c), 1);
    PGresult *r =
        PQexec(c, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    PQfinish(c);

    /* hostssl only: plain TCP is refused. */
    snprintf(info, sizeof info,
             "host=127.0.0.1 port=%d user=postgres dbname=postgres "
             "sslmode=disable",
             localpg_port(s));
    assert_int_equal(fixture_try_connect(info, 5000, err, sizeof err), 0);

    /* verify-full against the CA and the name localhost passes; against
     * the unrelated CA it fails. */
    snprintf(info, sizeof info,
             "host=localhost hostaddr=127.0.0.1 port=%d user=postgres "
             "dbname=postgres sslmode=verify-full sslrootcert=%s",
             localpg_port(s), f.ca_cert);
    assert_int_equal(fixture_try_connect(info, 5000, err, sizeof err), 1);
    snprintf(info, sizeof info,
             "host=localhost hostaddr=127.0.0.1 port=%d user=postgres "
             "dbname=postgres sslmode=verify-full sslrootcert=%s",
             localpg_port(s), f.other_ca_cert);
    assert_int_equal(fixture_try_connect(info, 5000, err, sizeof err), 0);
    localpg_destroy(s);

    /* cert auth: the client certificate gets in, no certificate does not. */
    s = tls_start_server(&f, TLS_HBA_CERT, NULL, err, sizeof err);
    if (s == NULL)
        fail_msg("%s", err);
    snprintf(info, sizeof info,
             "host=127.0.0.1 port=%d user=postgres dbname=postgres "
             "sslmode=require sslcert=%s sslkey=%s",
             localpg_port(s), f.client_cert, f.client_key);
    if (fixture_try_connect(info, 5000, err, sizeof err) != 1)
        fail_msg("client certificate refused: %s", err);
    snprintf(info, sizeof info,
             "host=127.0.0.1 port=%d user=postgres dbname=postgres "
             "sslmode=require sslcert=/nonexistent sslkey=/nonexistent",
             localpg_port(s));
    assert_int_equal(fixture_try_connect(info, 5000, err, sizeof err), 0);
    localpg_destroy(s);
    tls_remove_files(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_start_kill_restart_freeze_stop,
                                  teardown),
        cmocka_unit_test_teardown(test_freeze_survives_kill, teardown),
        cmocka_unit_test_teardown(test_password, teardown),
        cmocka_unit_test_teardown(test_conf_and_hba_lines, teardown),
        cmocka_unit_test_teardown(test_log_counts_tcp_connections, teardown),
        cmocka_unit_test_teardown(test_logical_and_standby, teardown),
        cmocka_unit_test_teardown(test_copied_standby_oldest, teardown),
        cmocka_unit_test_teardown(test_copied_standby_newest, teardown),
        cmocka_unit_test_teardown(test_roles_scram_and_md5, teardown),
        cmocka_unit_test_teardown(test_many_distinct, teardown),
        cmocka_unit_test_teardown(test_forked_child_leaves_servers_alone,
                                  teardown),
        cmocka_unit_test_teardown(test_reap_stale, teardown),
        cmocka_unit_test_teardown(test_tls_smoke, teardown),
        cmocka_unit_test(test_missing_binaries_is_an_error),
    };
    return cmocka_run_group_tests_name("localpg", tests, NULL, NULL);
}
