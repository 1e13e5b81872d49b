/* SPDX-License-Identifier: MIT */
/*
 * template.c - the PostgreSQL bin directory (LOCALPG_BINDIR, Debian's
 * /usr/lib/postgresql/N/bin, PATH) and the initdb template every data
 * directory is copied from.
 */
#include "localpg_internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------------- */
/* Process-wide initialisation                                            */
/* ---------------------------------------------------------------------- */

static int bindir_ok(const char *dir)
{
    char p[LP_PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/postgres", dir);
    if (access(p, X_OK) != 0)
        return 0;
    snprintf(p, sizeof p, "%s/initdb", dir);
    return access(p, X_OK) == 0;
}

const char *lp_find_bindir_locked(char *err, size_t errlen)
{
    if (lp.bindir[0])
        return lp.bindir;
    const char *env = getenv("LOCALPG_BINDIR");
    if (env && *env) {
        if (strlen(env) < sizeof lp.bindir && bindir_ok(env)) {
            snprintf(lp.bindir, sizeof lp.bindir, "%s", env);
            return lp.bindir;
        }
        lp_seterr(err, errlen,
                  "localpg: LOCALPG_BINDIR=%s holds no postgres and initdb; "
                  "point it at a PostgreSQL bin directory or unset it",
                  env);
        return NULL;
    }
    if (bindir_ok("/usr/lib/postgresql/15/bin")) {
        snprintf(lp.bindir, sizeof lp.bindir, "/usr/lib/postgresql/15/bin");
        return lp.bindir;
    }
    /* The newest other version under /usr/lib/postgresql. */
    DIR *d = opendir("/usr/lib/postgresql");
    long best = -1;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char *end;
            long v = strtol(e->d_name, &end, 10);
            char p[LP_PATH_MAX];
            if (*end || v <= best)
                continue;
            snprintf(p, sizeof p, "/usr/lib/postgresql/%ld/bin", v);
            if (bindir_ok(p))
                best = v;
        }
        closedir(d);
    }
    if (best >= 0) {
        snprintf(lp.bindir, sizeof lp.bindir, "/usr/lib/postgresql/%ld/bin",
                 best);
        return lp.bindir;
    }
    const char *path = getenv("PATH");
    if (path) {
        char copy[4096];
        snprintf(copy, sizeof copy, "%s", path);
        char *save = NULL;
        for (char *dir = strtok_r(copy, ":", &save); dir;
             dir = strtok_r(NULL, ":", &save)) {
            if (*dir == '/' && strlen(dir) < sizeof lp.bindir &&
                bindir_ok(dir)) {
                snprintf(lp.bindir, sizeof lp.bindir, "%s", dir);
                return lp.bindir;
            }
        }
    }
    lp_seterr(
        err, errlen,
        "localpg: PostgreSQL server binaries (postgres, initdb) not found "
        "in /usr/lib/postgresql/*/bin or PATH; install postgresql-15 "
        "(scripts/setup) or set LOCALPG_BINDIR");
    return NULL;
}

/* initdb once per process into a template directory. */
int lp_ensure_template(const char *parent, char *err, size_t errlen)
{
    if (lp.tmpl_data[0])
        return 0;
    char dir[LP_PATH_MAX];
    if (lp_make_dir(parent, "template", dir, sizeof dir, err, errlen) < 0)
        return -1;
    snprintf(lp.tmpl_dir, sizeof lp.tmpl_dir, "%s", dir);
    char data[LP_PATH_MAX + 8], log[LP_PATH_MAX + 16], initdb[LP_PATH_MAX + 8];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(log, sizeof log, "%s/initdb.log", dir);
    snprintf(initdb, sizeof initdb, "%s/initdb", lp.bindir);
    /* 1 MB WAL segments keep each copy small (about 25 MB in all). */
    const char *argv[] = {initdb,
                          "-D",
                          data,
                          "-A",
                          "trust",
                          "-U",
                          "postgres",
                          "-E",
                          "UTF8",
                          "--locale=C",
                          "--no-sync",
                          "--no-instructions",
                          "--wal-segsize=1",
                          NULL};
    spawn_req_t r = {argv, lp.env, log, dir, lp.as_pg, 0};
    if (lp_run_wait(&r, 120000, err, errlen) < 0)
        goto fail;
    static const char inc[] =
        "\n# localpg: per-server settings; the port is on the command line\n"
        "include = 'localpg.conf'\n";
    char conf[LP_PATH_MAX + 32];
    snprintf(conf, sizeof conf, "%s/postgresql.conf", data);
    if (lp_write_file(conf, inc, sizeof inc - 1, O_APPEND, 0600, 1, err,
                      errlen) < 0)
        goto fail;
    snprintf(lp.tmpl_data, sizeof lp.tmpl_data, "%s", data);
    return 0;
fail:
    lp_rm_tree(lp.tmpl_dir);
    lp.tmpl_dir[0] = '\0';
    return -1;
}

const char *localpg_find_bindir(char *err, size_t errlen)
{
    pthread_mutex_lock(&lp.lock);
    const char *d = lp_find_bindir_locked(err, errlen);
    pthread_mutex_unlock(&lp.lock);
    return d;
}
