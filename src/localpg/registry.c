/* SPDX-License-Identifier: MIT */
/*
 * registry.c - the process-wide state and the registry of servers: set-up
 * once per process (the postgres user, the children's environment), the
 * cleanup that atexit() and the fatal-signal handlers run (by pid, never by
 * name), and the removal of leftovers of crashed runs.
 */
#include "localpg_internal.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

lp_state_t lp = {.lock = PTHREAD_MUTEX_INITIALIZER, .umask = 077};

static const int g_fatal_signals[] = {SIGINT,  SIGTERM, SIGHUP, SIGQUIT,
                                      SIGABRT, SIGSEGV, SIGBUS};
static volatile sig_atomic_t g_in_signal;

/* ---------------------------------------------------------------------- */
/* Registry, cleanup and signal handlers                                  */
/* ---------------------------------------------------------------------- */

void lp_registry_add(localpg_server_t *s)
{
    s->next = lp.servers;
    lp.servers = s;
}

int lp_registry_remove(localpg_server_t *s)
{
    for (localpg_server_t *volatile *pp = &lp.servers; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            return 1;
        }
    }
    return 0;
}

int lp_registry_has(const localpg_server_t *s)
{
    for (localpg_server_t *p = lp.servers; p; p = p->next)
        if (p == s)
            return 1;
    return 0;
}

/* Async-signal-safe: kill every registered server and remove the dirs. */
static void cleanup_from_signal(void)
{
    for (localpg_server_t *s = lp.servers; s; s = s->next) {
        if (s->pid > 0 && lp_proc_same(s->pid, s->pid_born)) {
            lp_kill_tree(s->pid, lp.sig_procs, lp.sig_desc);
            lp_clear_stale(s->datadir, lp_server_uid());
        }
        if (!lp.keep)
            lp_rm_tree(s->dir);
    }
    lp_remove_templates(0);
    if (!lp.keep) {
        for (int i = 0; i < 64; i++)
            lp_rm_tree(lp.scratch[i]);
    }
}

static void on_fatal_signal(int sig)
{
    int saved = errno;
    if (getpid() == lp.owner && !g_in_signal) {
        g_in_signal = 1;
        cleanup_from_signal();
    }
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    errno = saved;
    raise(sig); /* delivered with the default action once we return */
}

static void cleanup_at_exit(void)
{
    localpg_cleanup_all();
}

static void install_handlers(void)
{
    atexit(cleanup_at_exit);
    for (size_t i = 0; i < sizeof g_fatal_signals / sizeof g_fatal_signals[0];
         i++) {
        struct sigaction cur, sa;
        if (sigaction(g_fatal_signals[i], NULL, &cur) < 0)
            continue;
        /* Leave the signal alone if someone else (the program, a
         * sanitizer, a test framework) already handles or ignores it. */
        if ((cur.sa_flags & SA_SIGINFO) || cur.sa_handler != SIG_DFL)
            continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_fatal_signal;
        sigfillset(&sa.sa_mask);
        sigaction(g_fatal_signals[i], &sa, NULL);
    }
}

/* Once per process (again after a fork): owner, user, environment,
 * handlers. A forked child forgets the parent's registry without touching
 * the parent's servers. */
int lp_init_process(char *err, size_t errlen)
{
    pid_t me = getpid();
    if (lp.owner == me)
        return 0;
    if (lp.owner != 0) {
        while (lp.servers) {
            localpg_server_t *s = lp.servers;
            lp.servers = s->next;
            free(s->password);
            free(s);
        }
        lp.ntemplates = 0; /* the parent's, left alone */
        for (int i = 0; i < 64; i++)
            lp.scratch[i][0] = '\0';
        lp.bindir[0] = '\0';
    }
    if (lp_find_bindir_locked(err, errlen) == NULL)
        return -1;
    lp.as_pg = geteuid() == 0;
    if (lp.as_pg) {
        struct passwd pw, *res = NULL;
        char buf[4096];
        if (getpwnam_r("postgres", &pw, buf, sizeof buf, &res) != 0 ||
            res == NULL) {
            lp_seterr(err, errlen,
                      "localpg: running as root but there is no 'postgres' "
                      "user to run the servers; install postgresql-15 or run "
                      "as an ordinary user");
            return -1;
        }
        lp.pg_uid = pw.pw_uid;
        lp.pg_gid = pw.pw_gid;
        lp.pg_ngroups = (int)(sizeof lp.pg_groups / sizeof lp.pg_groups[0]);
        if (getgrouplist("postgres", lp.pg_gid, lp.pg_groups, &lp.pg_ngroups) <
            0) {
            lp.pg_groups[0] = lp.pg_gid;
            lp.pg_ngroups = 1;
        }
    }
    /* The umask, without the race of umask(umask(0)). */
    char status[4096];
    if (lp_read_small("/proc/self/status", status, sizeof status) > 0) {
        const char *u = strstr(status, "Umask:");
        if (u)
            lp.umask = (mode_t)strtol(u + 6, NULL, 8);
    }
    const char *keep = getenv("LOCALPG_KEEP");
    lp.keep = keep && *keep && strcmp(keep, "0") != 0;
    const char *debug = getenv("LOCALPG_DEBUG");
    lp.debug = debug && *debug && strcmp(debug, "0") != 0;

    /* A clean environment for children: PG* variables set for the tests
     * (PGSSLMODE, PGOPTIONS, ...) must not reach initdb or the servers. */
    int n = 0;
    snprintf(lp.env_path, sizeof lp.env_path, "PATH=%s:/usr/bin:/bin",
             lp.bindir);
    lp.env[n++] = lp.env_path;
    lp.env[n++] = (char *)"LC_ALL=C";
    lp.env[n++] = (char *)"LANG=C";
    const char *tz = getenv("TZ");
    if (tz && strlen(tz) + 4 < sizeof lp.env_tz) {
        snprintf(lp.env_tz, sizeof lp.env_tz, "TZ=%s", tz);
        lp.env[n++] = lp.env_tz;
    }
    lp.env[n] = NULL;

    lp.owner = me;
    install_handlers();
    return 0;
}

void localpg_cleanup_all(void)
{
    if (lp.owner == 0 || getpid() != lp.owner)
        return;
    /* At exit another thread may still hold the lock: wait a little, then
     * clean up anyway (best effort beats leaving servers behind). */
    int locked = 0;
    for (int i = 0; i < 400 && !locked; i++) {
        locked = pthread_mutex_trylock(&lp.lock) == 0;
        if (!locked)
            lp_sleep_ms(5);
    }
    while (lp.servers)
        lp_discard_server(lp.servers);
    lp_remove_templates(1);
    for (int i = 0; i < 64; i++) {
        if (lp.scratch[i][0] && !lp.keep)
            lp_rm_tree(lp.scratch[i]);
        lp.scratch[i][0] = '\0';
    }
    if (locked)
        pthread_mutex_unlock(&lp.lock);
}

/* Whether the owner named in dir/owner.pid is gone. -1: no owner.pid. */
static int owner_gone(const char *dir)
{
    char path[PATH_MAX + 16], buf[128];
    snprintf(path, sizeof path, "%s/owner.pid", dir);
    if (lp_read_small(path, buf, sizeof buf) <= 0)
        return -1;
    char *end;
    long pid = strtol(buf, &end, 10);
    unsigned long long born = strtoull(end, NULL, 10);
    if (pid <= 0)
        return -1;
    if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
        return 1;
    unsigned long long b = 0;
    if (lp_proc_stat((pid_t)pid, NULL, NULL, &b) < 0)
        return 1;
    return born != 0 && b != born;
}

int localpg_reap_stale(const char *parent_dir)
{
    char parent[PATH_MAX];
    const char *p = parent_dir && *parent_dir ? parent_dir : getenv("TMPDIR");
    if (p == NULL || *p == '\0')
        p = "/tmp";
    if (realpath(p, parent) == NULL)
        return 0;
    DIR *d = opendir(parent);
    if (d == NULL)
        return 0;
    pthread_mutex_lock(&lp.lock);
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "localpg-", 8) != 0)
            continue;
        char dir[PATH_MAX], data[PATH_MAX + 8], pidfile[PATH_MAX + 32];
        if (snprintf(dir, sizeof dir, "%s/%s", parent, e->d_name) >=
            (int)sizeof dir)
            continue;
        struct stat st;
        if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
            continue;
        int gone = owner_gone(dir);
        /* No owner.pid: a crash between mkdtemp and its write, or a
         * directory being made right now; only old ones are stale. */
        if (gone < 0)
            gone = time(NULL) - st.st_mtime > 60;
        if (!gone)
            continue;
        snprintf(data, sizeof data, "%s/data", dir);
        snprintf(pidfile, sizeof pidfile, "%s/postmaster.pid", data);
        char buf[64];
        if (lp_read_small(pidfile, buf, sizeof buf) > 0) {
            pid_t pm = (pid_t)strtol(buf, NULL, 10);
            if (pm > 0 && lp_is_postmaster_of(pm, data)) {
                lp_kill_tree(pm, lp.procs, lp.desc);
                lp_clear_stale(data, st.st_uid);
            }
        }
        lp_rm_tree(dir);
        removed++;
    }
    closedir(d);
    pthread_mutex_unlock(&lp.lock);
    return removed;
}
