/* SPDX-License-Identifier: MIT */
/*
 * demo.c - builds and removes the demo cluster with localpg: folder and
 * owner file, servers (publisher first, then its standby, then the
 * subscribers), schema, publication and subscriptions, and the reaping of
 * folders left by crashed runs.
 */
#include "demo.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "localpg.h"

struct rm_demo {
    char dir[PATH_MAX];
    char config[PATH_MAX + 16];
    size_t count;
    const char *ids[RM_DEMO_MAX_NODES];
    localpg_server_t *servers[RM_DEMO_MAX_NODES];
};

/* Tables: created on the publisher and on both subscribers. */
static const char schema_sql[] =
    "CREATE TABLE demo_accounts (id int PRIMARY KEY, balance bigint NOT NULL, "
    "updated_at timestamptz NOT NULL DEFAULT now());"
    "CREATE TABLE demo_events (id bigserial PRIMARY KEY, account_id int NOT "
    "NULL, amount bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT "
    "now());"
    "CREATE TABLE demo_settings (key text PRIMARY KEY, value text NOT NULL)";

static const char seed_sql[] =
    "INSERT INTO demo_accounts (id, balance) "
    "SELECT g, 1000 FROM generate_series(1, 100) AS g;"
    "INSERT INTO demo_settings VALUES ('demo', 'replmon'), ('load', "
    "'every 200 ms');"
    "CREATE PUBLICATION demo_pub FOR TABLE demo_accounts, demo_events, "
    "demo_settings";

/* ---------------------------------------------------------------------- */
/* Folders                                                                */
/* ---------------------------------------------------------------------- */

static const char *parent_of(const char *parent_dir)
{
    const char *p = parent_dir;

    if (p == NULL || p[0] == '\0')
        p = getenv("TMPDIR");
    if (p == NULL || p[0] == '\0')
        p = "/tmp";
    return p;
}

/* Start time of a process in clock ticks since boot (/proc/PID/stat field
 * 22), to tell a live owner from a reused pid; 0 when unknown. */
static unsigned long long proc_start(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long long start = 0;
    FILE *f;
    int field;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    if (fgets(buf, sizeof(buf), f) == NULL) {
        fclose(f);
        return 0;
    }
    fclose(f);
    p = strrchr(buf, ')');
    if (p == NULL)
        return 0;
    /* After ") " comes field 3 (state); field 22 is starttime. */
    for (field = 2; field < 22 && p != NULL; field++)
        p = strchr(p + 1, ' ');
    if (p != NULL)
        start = strtoull(p + 1, NULL, 10);
    return start;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    /* Keep going on errors: remove as much as possible. */
    if (flag == FTW_DP)
        (void)rmdir(path);
    else
        (void)unlink(path);
    return 0;
}

/* Remove a demo folder and everything in it (never following links). */
static void remove_tree(const char *dir)
{
    if (strstr(dir, "/" RM_DEMO_DIR_PREFIX) == NULL)
        return;
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* 1 when the owner recorded in dir/owner.pid is gone, 0 when it lives,
 * -1 when there is no readable owner file. */
static int owner_gone(const char *dir)
{
    char path[PATH_MAX + 16];
    unsigned long long born = 0;
    int pid = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/owner.pid", dir);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    if (fscanf(f, "%d %llu", &pid, &born) < 1 || pid <= 0) {
        fclose(f);
        return -1;
    }
    fclose(f);
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
        return 1;
    return born != 0 && proc_start((pid_t)pid) != born;
}

int rm_demo_reap_stale(const char *parent_dir)
{
    const char *parent = parent_of(parent_dir);
    size_t plen = strlen(RM_DEMO_DIR_PREFIX);
    struct dirent *e;
    int removed = 0;
    DIR *d = opendir(parent);

    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        char dir[PATH_MAX];
        struct stat st;
        int gone;

        if (strncmp(e->d_name, RM_DEMO_DIR_PREFIX, plen) != 0)
            continue;
        if (snprintf(dir, sizeof(dir), "%s/%s", parent, e->d_name) >=
            (int)sizeof(dir))
            continue;
        if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        gone = owner_gone(dir);
        /* No owner file: a crash right after mkdtemp, or a run creating
         * its folder right now; only an old one is stale. */
        if (gone < 0)
            gone = time(NULL) - st.st_mtime > 60;
        if (!gone)
            continue;
        /* Stops the servers whose owner (the dead run) is gone. */
        localpg_reap_stale(dir);
        remove_tree(dir);
        removed++;
    }
    closedir(d);
    return removed;
}

static int make_folder(rm_demo_t *d, const char *parent_dir, char *err,
                       size_t errlen)
{
    const char *parent = parent_of(parent_dir);
    char path[PATH_MAX + 16];
    FILE *f;

    if (snprintf(d->dir, sizeof(d->dir), "%s/" RM_DEMO_DIR_PREFIX "XXXXXX",
                 parent) >= (int)sizeof(d->dir)) {
        snprintf(err, errlen,
                 "the temporary folder %s has too long a path; "
                 "set TMPDIR to a shorter one",
                 parent);
        return -1;
    }
    if (mkdtemp(d->dir) == NULL) {
        snprintf(err, errlen,
                 "cannot create a folder in %s: %s; set TMPDIR "
                 "to a writable folder",
                 parent, strerror(errno));
        d->dir[0] = '\0';
        return -1;
    }
    /* The servers may run as another user (postgres, when we are root):
     * they must be able to traverse the folder. */
    if (chmod(d->dir, 0711) != 0) {
        snprintf(err, errlen, "cannot set the mode of %s: %s", d->dir,
                 strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/owner.pid", d->dir);
    f = fopen(path, "w");
    if (f == NULL ||
        fprintf(f, "%d %llu\n", (int)getpid(), proc_start(getpid())) < 0 ||
        fclose(f) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Servers and replication                                                */
/* ---------------------------------------------------------------------- */

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
progress(const rm_demo_options_t *o, const char *fmt, ...)
{
    va_list ap;

    if (o->progress == NULL)
        return;
    fputs("replmon demo: ", o->progress);
    va_start(ap, fmt);
    vfprintf(o->progress, fmt, ap);
    va_end(ap);
    fputc('\n', o->progress);
    fflush(o->progress);
}

static int stopped(const rm_demo_options_t *o, char *err, size_t errlen)
{
    if (o->stop != NULL && *o->stop) {
        snprintf(err, errlen, "interrupted while creating the cluster");
        return 1;
    }
    return 0;
}

static localpg_server_t *start_server(rm_demo_t *d, const rm_demo_options_t *o,
                                      const char *id, int logical,
                                      const localpg_server_t *primary,
                                      char *err, size_t errlen)
{
    static const char *const conf[] = {
        "max_replication_slots = 10", "max_wal_senders = 10",
        "wal_sender_timeout = 10s", "wal_receiver_status_interval = 1s", NULL};
    localpg_options_t lo;
    localpg_server_t *s;
    char why[512];

    localpg_options_init(&lo);
    lo.name = id;
    lo.parent_dir = d->dir;
    lo.logical = logical;
    lo.conf_lines = conf;
    if (primary != NULL) {
        lo.standby_of_host = localpg_host(primary);
        lo.standby_of_port = localpg_port(primary);
    }
    why[0] = '\0';
    s = localpg_start(&lo, why, sizeof(why));
    if (s == NULL) {
        snprintf(err, errlen, "cannot start the %s server: %s", id, why);
        return NULL;
    }
    d->ids[d->count] = id;
    d->servers[d->count++] = s;
    progress(o, "%-11s 127.0.0.1:%d  pid %d  %s", id, localpg_port(s),
             (int)localpg_pid(s), localpg_datadir(s));
    return s;
}

static int exec_sql(localpg_server_t *s, const char *id, const char *sql,
                    char *err, size_t errlen)
{
    char why[512];

    why[0] = '\0';
    if (localpg_exec(s, NULL, sql, NULL, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "setting up %s failed: %s", id, why);
        return -1;
    }
    return 0;
}

/* Write <dir>/replmon.yaml naming every node, as cluster "demo". */
static int write_config(rm_demo_t *d, char *err, size_t errlen)
{
    FILE *f;
    size_t i;
    int bad;

    snprintf(d->config, sizeof(d->config), "%s/replmon.yaml", d->dir);
    f = fopen(d->config, "w");
    if (f == NULL) {
        snprintf(err, errlen, "cannot write %s: %s", d->config,
                 strerror(errno));
        d->config[0] = '\0';
        return -1;
    }
    fprintf(f, "# Written by replmon demo; removed with the demo cluster.\n"
               "defaults: { host: 127.0.0.1, user: postgres, database: "
               "postgres }\n"
               "nodes:\n");
    for (i = 0; i < d->count; i++)
        fprintf(f, "  %s: { port: %d }\n", d->ids[i],
                localpg_port(d->servers[i]));
    fprintf(f, "clusters:\n  demo: { nodes: [");
    for (i = 0; i < d->count; i++)
        fprintf(f, "%s%s", i ? ", " : "", d->ids[i]);
    fprintf(f, "], default: true }\n");
    bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        snprintf(err, errlen, "cannot write %s", d->config);
        return -1;
    }
    return 0;
}

int rm_demo_create(const rm_demo_options_t *opts, rm_demo_t **out, char *err,
                   size_t errlen)
{
    static const char *const sub_ids[] = {"subscriber1", "subscriber2"};
    rm_demo_t *d;
    localpg_server_t *pub;
    size_t i;
    int reaped;

    *out = NULL;
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    reaped = rm_demo_reap_stale(opts->parent_dir);
    if (reaped > 0)
        progress(opts, "removed %d folder%s left by an earlier run", reaped,
                 reaped == 1 ? "" : "s");
    if (make_folder(d, opts->parent_dir, err, errlen) != 0)
        goto fail;
    progress(opts, "creating the cluster in %s", d->dir);

    pub = start_server(d, opts, RM_DEMO_PUBLISHER, 1, NULL, err, errlen);
    if (pub == NULL || stopped(opts, err, errlen) ||
        exec_sql(pub, RM_DEMO_PUBLISHER, schema_sql, err, errlen) != 0 ||
        exec_sql(pub, RM_DEMO_PUBLISHER, seed_sql, err, errlen) != 0)
        goto fail;
    if (opts->with_standby &&
        (stopped(opts, err, errlen) ||
         start_server(d, opts, "standby", 0, pub, err, errlen) == NULL))
        goto fail;
    for (i = 0; i < 2; i++) {
        char sql[512];
        localpg_server_t *sub;

        if (stopped(opts, err, errlen))
            goto fail;
        sub = start_server(d, opts, sub_ids[i], 0, NULL, err, errlen);
        if (sub == NULL ||
            exec_sql(sub, sub_ids[i], schema_sql, err, errlen) != 0)
            goto fail;
        /* Alone in its statement: CREATE SUBSCRIPTION creates the slot on
         * the publisher and cannot run in a transaction block. */
        snprintf(sql, sizeof(sql),
                 "CREATE SUBSCRIPTION demo_sub_%zu CONNECTION 'host=%s "
                 "port=%d user=postgres dbname=postgres' PUBLICATION demo_pub",
                 i + 1, localpg_host(pub), localpg_port(pub));
        if (exec_sql(sub, sub_ids[i], sql, err, errlen) != 0)
            goto fail;
    }
    if (write_config(d, err, errlen) != 0)
        goto fail;
    progress(opts,
             "replication set up: publication demo_pub, subscriptions "
             "demo_sub_1 and demo_sub_2%s",
             opts->with_standby ? ", standby streaming" : "");
    *out = d;
    return 0;
fail:
    rm_demo_destroy(d);
    return -1;
}

size_t rm_demo_count(const rm_demo_t *d)
{
    return d->count;
}

const char *rm_demo_dir(const rm_demo_t *d)
{
    return d->dir;
}

const char *rm_demo_config_path(const rm_demo_t *d)
{
    return d->config;
}

const char *rm_demo_node_id(const rm_demo_t *d, size_t i)
{
    return i < d->count ? d->ids[i] : NULL;
}

pid_t rm_demo_pid(const rm_demo_t *d, size_t i)
{
    return i < d->count ? localpg_pid(d->servers[i]) : 0;
}

int rm_demo_port(const rm_demo_t *d, size_t i)
{
    return i < d->count ? localpg_port(d->servers[i]) : 0;
}

void rm_demo_node_spec(const rm_demo_t *d, size_t i, pgcm_node_spec_t *spec)
{
    pgcm_node_spec_init(spec);
    if (i >= d->count)
        return;
    spec->id = d->ids[i];
    spec->host = localpg_host(d->servers[i]);
    spec->port = localpg_port(d->servers[i]);
    spec->user = "postgres";
    spec->database = "postgres";
    spec->ssl.enabled = PGCM_SSL_DISABLED;
}

size_t rm_demo_destroy(rm_demo_t *d)
{
    size_t n;

    if (d == NULL)
        return 0;
    n = d->count;
    /* Subscribers first, so that none of them retries against a stopped
     * publisher while the others shut down. */
    while (d->count > 0) {
        d->count--;
        localpg_destroy(d->servers[d->count]);
        d->servers[d->count] = NULL;
    }
    if (d->dir[0] != '\0')
        remove_tree(d->dir);
    free(d);
    return n;
}
