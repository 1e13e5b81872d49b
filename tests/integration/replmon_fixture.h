/* SPDX-License-Identifier: MIT */
/*
 * replmon_fixture.h - cmocka helpers the tests of the replmon binary share
 * for their set-up and their runs: start a server they watch, the native
 * logical replication between two of them, remove the scratch directory
 * of configuration files, run replmon expecting an exit code, and check
 * what it wrote. Each
 * failure fails the test (cmocka's fail_msg) with the cause: include
 * <cmocka.h>, "fixture.h" and "replmon_run.h" first.
 */
#ifndef REPLMON_FIXTURE_H
#define REPLMON_FIXTURE_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* localpg_start a server named name, with wal_level logical if logical
 * and base's other options (NULL: the defaults), or the test fails naming
 * the server (what, e.g. "publisher") and the cause. */
static inline localpg_server_t *rm_start_server(const localpg_options_t *base,
                                                const char *name, int logical,
                                                const char *what)
{
    localpg_options_t o;
    char err[512];
    localpg_server_t *s;

    if (base != NULL)
        o = *base;
    else
        localpg_options_init(&o);
    o.name = name;
    o.logical = logical;
    s = localpg_start(&o, err, sizeof(err));
    if (s == NULL)
        fail_msg("%s: %s", what, err);
    return s;
}

/* Native logical replication: table t (id, v) with rows 1..10 on pub,
 * published as p, and the same empty table on sub subscribed to it as
 * subscription. */
static inline void rm_native_replication(localpg_server_t *pub,
                                         localpg_server_t *sub,
                                         const char *subscription)
{
    char sql[512];

    free(fixture_exec(pub, "CREATE TABLE t (id int PRIMARY KEY, v text);"
                           "INSERT INTO t SELECT g, 'x' FROM "
                           "generate_series(1, 10) g;"
                           "CREATE PUBLICATION p FOR TABLE t"));
    free(fixture_exec(sub, "CREATE TABLE t (id int PRIMARY KEY, v text)"));
    snprintf(sql, sizeof(sql),
             "CREATE SUBSCRIPTION %s CONNECTION 'host=%s port=%d "
             "user=postgres dbname=postgres' PUBLICATION p",
             subscription, localpg_host(pub), localpg_port(pub));
    free(fixture_exec(sub, sql));
}

/* Remove the files of the scratch directory dir (no subdirectories), then
 * dir; says so on the test's output when something stays. */
static inline void rm_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    if (rmdir(dir) != 0)
        print_message("could not remove %s\n", dir);
}

/* Run replmon with args (at most timeout_ms) into r; unless it exits
 * want, fail with the command (a --password value masked), its exit code
 * and what it wrote. */
static inline void rm_run_expect(const char *const *args, int timeout_ms,
                                 int want, rm_run_t *r)
{
    char cmd[512] = "replmon";
    size_t i;

    rm_run(args, timeout_ms, r);
    if (r->code == want)
        return;
    for (i = 0; args[i] != NULL && strlen(cmd) < sizeof(cmd) - 1; i++) {
        int secret = i > 0 && strcmp(args[i - 1], "--password") == 0;

        snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), " %s",
                 secret ? "********" : args[i]);
    }
    fail_msg("%s: exit %d, want %d\nstdout: %s\nstderr: %s", cmd, r->code, want,
             r->out, r->err);
}

/* Each of the NULL-terminated needles is in text (present 1) or none is
 * (present 0); else fail naming the first one that is not so, with text. */
static inline void rm_assert_mentions(const char *text, int present,
                                      const char *const *needles)
{
    size_t i;

    for (i = 0; needles[i] != NULL; i++)
        if ((strstr(text, needles[i]) != NULL) != present)
            fail_msg("the output %s \"%s\":\n%s",
                     present ? "does not say" : "says", needles[i], text);
}

#endif /* REPLMON_FIXTURE_H */
