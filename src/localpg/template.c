/* SPDX-License-Identifier: MIT */
/*
 * template.c - the PostgreSQL bin directory (LOCALPG_BINDIR, Debian's
 * /usr/lib/postgresql/N/bin, PATH) and the initdb templates, one per bin
 * directory, that data directories are copied from.
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

/* The major version of the server in bindir, from `postgres -V`
 * ("postgres (PostgreSQL) 10.23"), written to log; 0 when unknown. */
static int server_major(const char *bindir, const char *dir, const char *log,
                        char *err, size_t errlen)
{
    char postgres[LP_PATH_MAX + 16], out[256];
    snprintf(postgres, sizeof postgres, "%s/postgres", bindir);
    const char *argv[] = {postgres, "-V", NULL};
    spawn_req_t r = {argv, lp.env, log, dir, lp.as_pg, 0};
    if (lp_run_wait(&r, 30000, err, errlen) < 0)
        return 0;
    if (lp_read_small(log, out, sizeof out) <= 0)
        return 0;
    const char *v = strstr(out, "(PostgreSQL) ");
    int major = v ? atoi(v + 13) : 0;
    if (major < 10)
        lp_seterr(err, errlen,
                  "localpg: %s/postgres -V says \"%s\": PostgreSQL 10 or "
                  "newer is needed",
                  bindir, out);
    return major >= 10 ? major : 0;
}

/* Fill t for t->bindir: its directory and major version, then (with
 * initdb) the template data directory. */
static int make_template(lp_template_t *t, const char *parent, int initdb,
                         char *err, size_t errlen)
{
    char log[LP_PATH_MAX + 16];
    if (t->dir[0] == '\0') {
        char dir[LP_PATH_MAX];
        if (lp_make_dir(parent, "template", dir, sizeof dir, err, errlen) < 0)
            return -1;
        snprintf(t->dir, sizeof t->dir, "%s", dir);
        snprintf(log, sizeof log, "%s/version.log", dir);
        if ((t->major = server_major(t->bindir, dir, log, err, errlen)) == 0)
            goto fail;
    }
    if (!initdb || t->data[0])
        return 0;
    char data[LP_PATH_MAX + 8], initdb_bin[LP_PATH_MAX + 8];
    snprintf(data, sizeof data, "%s/data", t->dir);
    snprintf(log, sizeof log, "%s/initdb.log", t->dir);
    snprintf(initdb_bin, sizeof initdb_bin, "%s/initdb", t->bindir);
    /* 1 MB WAL segments keep each copy small (about 25 MB in all); 10 has
     * its segment size built in (16 MB). */
    const char *argv[16] = {initdb_bin, "-D",         data,       "-A",
                            "trust",    "-U",         "postgres", "-E",
                            "UTF8",     "--locale=C", "--no-sync"};
    int argc = 11;
    if (t->major >= 11)
        argv[argc++] = "--wal-segsize=1";
    if (t->major >= 14)
        argv[argc++] = "--no-instructions";
    argv[argc] = NULL;
    spawn_req_t r = {argv, lp.env, log, t->dir, lp.as_pg, 0};
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
    snprintf(t->data, sizeof t->data, "%s", data);
    return 0;
fail:
    lp_rm_tree(t->dir);
    t->dir[0] = t->data[0] = '\0';
    t->major = 0;
    return -1;
}

const lp_template_t *lp_ensure_template(const char *parent, const char *bindir,
                                        int initdb, char *err, size_t errlen)
{
    if (bindir == NULL || *bindir == '\0')
        bindir = lp.bindir;
    lp_template_t *t = NULL;
    for (int i = 0; i < lp.ntemplates && t == NULL; i++)
        if (strcmp(lp.templates[i].bindir, bindir) == 0)
            t = &lp.templates[i];
    if (t == NULL) {
        if (strlen(bindir) >= LP_PATH_MAX || !bindir_ok(bindir)) {
            lp_seterr(err, errlen,
                      "localpg: bin directory %s holds no postgres and "
                      "initdb; install that version (scripts/pg-versions) "
                      "or fix the path",
                      bindir);
            return NULL;
        }
        if (lp.ntemplates == LP_MAX_TEMPLATES) {
            lp_seterr(err, errlen,
                      "localpg: more than %d bin directories in one process",
                      LP_MAX_TEMPLATES);
            return NULL;
        }
        t = &lp.templates[lp.ntemplates];
        memset(t, 0, sizeof *t);
        snprintf(t->bindir, sizeof t->bindir, "%s", bindir);
        lp.ntemplates++;
    }
    return make_template(t, parent, initdb, err, errlen) == 0 ? t : NULL;
}

void lp_remove_templates(int forget)
{
    for (int i = 0; i < lp.ntemplates; i++) {
        if (lp.templates[i].dir[0] && !lp.keep)
            lp_rm_tree(lp.templates[i].dir);
        if (forget)
            lp.templates[i].dir[0] = lp.templates[i].data[0] = '\0';
    }
    if (forget)
        lp.ntemplates = 0;
}

const char *localpg_find_bindir(char *err, size_t errlen)
{
    pthread_mutex_lock(&lp.lock);
    const char *d = lp_find_bindir_locked(err, errlen);
    pthread_mutex_unlock(&lp.lock);
    return d;
}
