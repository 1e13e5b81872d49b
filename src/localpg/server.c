/* SPDX-License-Identifier: MIT */
/*
 * server.c - one server's life: its configuration files, its port, the
 * start of many at once (template copies in parallel, then one wait for
 * every postmaster), readiness, and the faults and lifecycle calls (kill,
 * freeze, thaw, stop, restart, destroy).
 */
#include "localpg_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <libpq-fe.h>

/* ---------------------------------------------------------------------- */
/* Server preparation                                                     */
/* ---------------------------------------------------------------------- */

static int conf_has_include(const char *datadir)
{
    char path[LP_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/postgresql.conf", datadir);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return 0;
    char line[1024];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, "localpg.conf") != NULL && line[0] != '#';
    fclose(f);
    return found;
}

/* What a standby made from standby_of connects with: TCP (so the primary
 * sees a client address and the standby a sender host and port), the
 * superuser, the standby's name as application_name. */
static void primary_conninfo(const localpg_server_t *s,
                             const localpg_server_t *primary, char *buf,
                             size_t size)
{
    char port[16];
    snprintf(port, sizeof port, "%d", primary->port);
    buf[0] = '\0';
    lp_conninfo_add(buf, size, "host", "127.0.0.1");
    lp_conninfo_add(buf, size, "port", port);
    lp_conninfo_add(buf, size, "user", "postgres");
    lp_conninfo_add(buf, size, "application_name", s->name);
    if (primary->password)
        lp_conninfo_add(buf, size, "password", primary->password);
}

/* The physical slot a standby made from standby_of streams through. */
static const char *standby_slot(const localpg_server_t *s,
                                const localpg_options_t *o, char *buf,
                                size_t size)
{
    if (o->standby_slot != NULL && *o->standby_slot != '\0')
        return o->standby_slot;
    size_t j = 0;
    for (const char *p = s->name; *p && j + 6 < size; p++)
        buf[j++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    buf[j] = '\0';
    lp_cat(buf, size, "_slot");
    return buf;
}

/* Mark a copied data directory as a standby: standby.signal (12+), or
 * recovery.conf with the connection and slot (10, 11). */
static int write_standby_signal(localpg_server_t *s, const localpg_options_t *o,
                                char *err, size_t errlen)
{
    char path[LP_PATH_MAX + 32];
    if (s->tmpl->major >= 12) {
        snprintf(path, sizeof path, "%s/standby.signal", s->datadir);
        return lp_write_file(path, "", 0, O_TRUNC, 0600, 1, err, errlen);
    }
    char info[LP_PATH_MAX * 2], slot[64];
    sbuf_t b = {0};
    primary_conninfo(s, o->standby_of, info, sizeof info);
    lp_sb_printf(&b, "# Written by localpg.\nstandby_mode = 'on'\n"
                     "recovery_target_timeline = 'latest'\n"
                     "primary_conninfo = ");
    lp_sb_conf_quote(&b, info);
    lp_sb_printf(&b, "\nprimary_slot_name = ");
    lp_sb_conf_quote(&b, standby_slot(s, o, slot, sizeof slot));
    lp_sb_printf(&b, "\n");
    explicit_bzero(info, sizeof info);
    int rc = -1;
    snprintf(path, sizeof path, "%s/recovery.conf", s->datadir);
    if (b.oom)
        lp_seterr(err, errlen, "localpg: out of memory");
    else
        rc = lp_write_file(path, b.p, b.len, O_TRUNC, 0600, 1, err, errlen);
    if (b.p)
        explicit_bzero(b.p, b.cap);
    free(b.p);
    return rc;
}

static int write_config(localpg_server_t *s, const localpg_options_t *o,
                        char *err, size_t errlen)
{
    sbuf_t b = {0};
    int maxconn = o->max_connections > 0 ? o->max_connections : 100;
    char path[LP_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/localpg.conf", s->datadir);
    if (s->standby) {
        /* A standby needs max_connections, max_wal_senders, ... at least
         * as high as its primary's: start from the primary's settings
         * (copied by pg_basebackup), and keep its max_connections unless
         * asked otherwise. */
        FILE *f = fopen(path, "re");
        char line[1024];
        lp_sb_printf(&b, "# From the primary:\n");
        while (f && fgets(line, sizeof line, f))
            if (line[0] != '#')
                lp_sb_printf(&b, "%s%s", line, strchr(line, '\n') ? "" : "\n");
        if (f)
            fclose(f);
        maxconn = o->max_connections; /* 0: not set here */
    }
    if (o->standby_of != NULL && s->tmpl->major >= 12) {
        /* 12+: recovery settings are ordinary ones, plus standby.signal. */
        char info[LP_PATH_MAX * 2];
        primary_conninfo(s, o->standby_of, info, sizeof info);
        lp_sb_printf(&b, "# Streaming from the primary:\nprimary_conninfo = ");
        lp_sb_conf_quote(&b, info);
        lp_sb_printf(&b, "\nprimary_slot_name = ");
        lp_sb_conf_quote(&b, standby_slot(s, o, info, sizeof info));
        lp_sb_printf(&b, "\n");
    }
    lp_sb_printf(&b, "# Written by localpg for a throwaway server; later lines "
                     "win.\nlisten_addresses = '127.0.0.1'\n"
                     "unix_socket_directories = ");
    lp_sb_conf_quote(&b, s->dir);
    lp_sb_printf(&b, "\nfsync = off\nsynchronous_commit = off\n"
                     "full_page_writes = off\nshared_buffers = 16MB\n"
                     "huge_pages = off\n"
                     "logging_collector = off\nlog_destination = 'stderr'\n"
                     "log_connections = on\n");
    if (maxconn > 0)
        lp_sb_printf(&b, "max_connections = %d\n", maxconn);
    if (maxconn > 0 && maxconn <= 3)
        lp_sb_printf(&b, "superuser_reserved_connections = 0\n");
    if (o->logical)
        lp_sb_printf(&b, "wal_level = logical\nmax_replication_slots = 20\n"
                         "max_wal_senders = 20\n");
    for (const char *const *l = o->conf_lines; l && *l; l++)
        lp_sb_printf(&b, "%s\n", *l);

    sbuf_t h = {0};
    const char *method = s->password ? s->method : "trust";
    int has_local = 0;
    for (const char *const *l = o->hba_lines; l && *l; l++) {
        const char *p = *l;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, "local", 5) == 0 && (p[5] == ' ' || p[5] == '\t'))
            has_local = 1;
    }
    lp_sb_printf(&h, "# Written by localpg.\n");
    if (!has_local)
        lp_sb_printf(&h, "local all all trust\nlocal replication all trust\n");
    if (o->hba_lines) {
        for (const char *const *l = o->hba_lines; *l; l++)
            lp_sb_printf(&h, "%s\n", *l);
    } else {
        lp_sb_printf(&h,
                     "host all all 127.0.0.1/32 %s\n"
                     "host replication all 127.0.0.1/32 %s\n",
                     method, method);
    }

    int rc = -1;
    if (b.oom || h.oom) {
        lp_seterr(err, errlen, "localpg: out of memory");
        goto out;
    }
    if (lp_write_file(path, b.p, b.len, O_TRUNC, 0600, 1, err, errlen) < 0)
        goto out;
    snprintf(path, sizeof path, "%s/pg_hba.conf", s->datadir);
    if (lp_write_file(path, h.p, h.len, O_TRUNC, 0600, 1, err, errlen) < 0)
        goto out;
    if (o->standby_of != NULL && write_standby_signal(s, o, err, errlen) < 0)
        goto out;
    if (!conf_has_include(s->datadir)) {
        static const char inc[] = "\ninclude = 'localpg.conf'\n";
        snprintf(path, sizeof path, "%s/postgresql.conf", s->datadir);
        if (lp_write_file(path, inc, sizeof inc - 1, O_APPEND, 0600, 1, err,
                          errlen) < 0)
            goto out;
    }
    rc = 0;
out:
    free(b.p);
    free(h.p);
    return rc;
}

static int base_backup(localpg_server_t *s, const localpg_options_t *o,
                       char *err, size_t errlen)
{
    char bin[LP_PATH_MAX + 16], port[16];
    snprintf(bin, sizeof bin, "%s/pg_basebackup", s->tmpl->bindir);
    snprintf(port, sizeof port, "%d", o->standby_of_port);
    const char *argv[] = {bin,
                          "-h",
                          o->standby_of_host,
                          "-p",
                          port,
                          "-U",
                          "postgres",
                          "-D",
                          s->datadir,
                          "-R",
                          "-X",
                          "stream",
                          "--checkpoint=fast",
                          "--no-sync",
                          "-w",
                          NULL};
    char *env[12];
    char pw[512];
    int n = 0;
    for (; lp.env[n]; n++)
        env[n] = lp.env[n];
    if (o->password) {
        snprintf(pw, sizeof pw, "PGPASSWORD=%s", o->password);
        env[n++] = pw;
    }
    env[n] = NULL;
    char log[LP_PATH_MAX + 16];
    snprintf(log, sizeof log, "%s/basebackup.log", s->dir);
    spawn_req_t r = {argv, env, log, s->dir, lp.as_pg, 0};
    int rc = lp_run_wait(&r, s->timeout_ms, err, errlen);
    explicit_bzero(pw, sizeof pw);
    return rc;
}

void lp_free_server(localpg_server_t *s)
{
    if (s == NULL)
        return;
    if (s->password) {
        explicit_bzero(s->password, strlen(s->password));
        free(s->password);
    }
    free(s);
}

/* Kill (if running), remove and free a server; it must be registered. */
void lp_discard_server(localpg_server_t *s)
{
    if (s->pid > 0 && lp_proc_same(s->pid, s->pid_born)) {
        lp_kill_tree(s->pid, lp.procs, lp.desc);
        lp_clear_stale(s->datadir, lp_server_uid());
    }
    s->pid = 0;
    lp_registry_remove(s);
    if (lp.keep)
        fprintf(stderr, "localpg: kept %s (LOCALPG_KEEP)\n", s->dir);
    else
        lp_rm_tree(s->dir);
    lp_free_server(s);
}

static localpg_server_t *prepare_server(const localpg_options_t *o,
                                        const lp_template_t *tmpl,
                                        const char *parent, char *err,
                                        size_t errlen)
{
    localpg_server_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        lp_seterr(err, errlen, "localpg: out of memory");
        return NULL;
    }
    snprintf(s->name, sizeof s->name, "%s", o->name ? o->name : "pg");
    s->timeout_ms =
        o->start_timeout_ms > 0 ? o->start_timeout_ms : LP_DEFAULT_TIMEOUT;
    s->tmpl = tmpl;
    s->standby = o->standby_of_host != NULL || o->standby_of != NULL;
    const char *password = o->password, *method = o->password_method;
    if (o->standby_of != NULL) {
        /* A copy has the primary's users. */
        password = o->standby_of->password;
        method = o->standby_of->method;
    }
    snprintf(s->method, sizeof s->method, "%s",
             method != NULL ? method : "scram-sha-256");
    if (password && (s->password = strdup(password)) == NULL) {
        lp_seterr(err, errlen, "localpg: out of memory");
        free(s);
        return NULL;
    }
    if (lp_make_dir(parent, s->name, s->dir, sizeof s->dir, err, errlen) < 0) {
        lp_free_server(s);
        return NULL;
    }
    lp_registry_add(s);
    snprintf(s->datadir, sizeof s->datadir, "%s/data", s->dir);
    snprintf(s->logfile, sizeof s->logfile, "%s/server.log", s->dir);
    return s;
}

static int pick_port(const localpg_server_t *s);

/* After the data directory exists: configuration, log file, port. */
static int finish_server(localpg_server_t *s, const localpg_options_t *o,
                         int index, char *err, size_t errlen)
{
    if (write_config(s, o, err, errlen) < 0 ||
        lp_write_file(s->logfile, "", 0, O_APPEND, 0600, 1, err, errlen) < 0)
        return -1;
    s->auto_port = o->port <= 0;
    s->port = s->auto_port ? pick_port(s) : o->port + index;
    if (s->port <= 0) {
        lp_seterr(err, errlen,
                  "localpg: no free TCP port on 127.0.0.1; free some ports or "
                  "pass one in opts.port");
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Ports, start and readiness                                             */
/* ---------------------------------------------------------------------- */

static int port_registered(int port, const localpg_server_t *except)
{
    for (localpg_server_t *p = lp.servers; p; p = p->next)
        if (p != except && p->port == port)
            return 1;
    return 0;
}

static int port_bindable(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* A free port below the ephemeral range, so that no outgoing connection
 * takes it while a killed server is down; else one the kernel picks. */
static int pick_port(const localpg_server_t *s)
{
    char buf[64];
    long low = 32768;
    if (lp_read_small("/proc/sys/net/ipv4/ip_local_port_range", buf,
                      sizeof buf) > 0)
        low = strtol(buf, NULL, 10);
    if (low > 12000) {
        long lo = low - 10000 > 20000 ? 20000 : low - 10000;
        long span = low - lo;
        for (int i = 0; i < 200; i++) {
            int p = (int)(lo + (long)(lp_next_rand() % (uint64_t)span));
            if (!port_registered(p, s) && port_bindable(p))
                return p;
        }
    }
    for (int i = 0; i < 50; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        struct sockaddr_in a;
        socklen_t len = sizeof a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int p = -1;
        if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
            getsockname(fd, (struct sockaddr *)&a, &len) == 0)
            p = ntohs(a.sin_port);
        close(fd);
        if (p > 0 && !port_registered(p, s))
            return p;
    }
    return -1;
}

static void build_conninfo(localpg_server_t *s)
{
    snprintf(s->conninfo, sizeof s->conninfo,
             "host=127.0.0.1 port=%d user=postgres dbname=postgres", s->port);
    if (s->password)
        lp_conninfo_add(s->conninfo, sizeof s->conninfo, "password",
                        s->password);
}

static int spawn_postmaster(localpg_server_t *s, char *err, size_t errlen)
{
    char bin[LP_PATH_MAX + 16], port[16];
    snprintf(bin, sizeof bin, "%s/postgres", s->tmpl->bindir);
    snprintf(port, sizeof port, "%d", s->port);
    const char *argv[] = {bin, "-D", s->datadir, "-p", port, NULL};
    spawn_req_t r = {argv, lp.env, s->logfile, s->dir, lp.as_pg, 1};
    s->log_offset = lp_file_size(s->logfile);
    pid_t pid = lp_spawn(&r, err, errlen);
    if (pid < 0)
        return -1;
    s->pid = pid;
    s->pid_born = 0;
    lp_proc_stat(pid, NULL, NULL, &s->pid_born);
    s->frozen = 0;
    return 0;
}

static int log_says_port_taken(const localpg_server_t *s)
{
    char tail[2048];
    lp_log_tail(s->logfile, s->log_offset, tail, sizeof tail);
    return strstr(tail, "could not bind") != NULL ||
           strstr(tail, "Address already in use") != NULL ||
           strstr(tail, "could not create any TCP/IP sockets") != NULL;
}

/* Whether postmaster.pid says "ready" or "standby" (line 8), as pg_ctl
 * reads it: much cheaper to poll than a connection. */
static int pidfile_ready(const localpg_server_t *s)
{
    char path[LP_PATH_MAX + 32], buf[1024];
    snprintf(path, sizeof path, "%s/postmaster.pid", s->datadir);
    if (lp_read_small(path, buf, sizeof buf) <= 0)
        return 0;
    char *p = buf;
    for (int line = 1; line < 8 && p; line++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return p && (strncmp(p, "ready", 5) == 0 || strncmp(p, "standby", 7) == 0);
}

/* Wait until every server of v answers on its socket; re-pick a port that
 * was taken between our check and the postmaster's bind. */
static int wait_ready(localpg_server_t **v, int n, char *err, size_t errlen)
{
    unsigned char *ready = calloc((size_t)n, 1);
    if (ready == NULL) {
        lp_seterr(err, errlen, "localpg: out of memory");
        return -1;
    }
    int64_t start = lp_now_ms();
    int left = n, delay = 1;
    int64_t next_ping = 0;
    char info[LP_PATH_MAX * 3];
    while (left > 0) {
        for (int i = 0; i < n; i++) {
            localpg_server_t *s = v[i];
            if (ready[i])
                continue;
            int st;
            if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
                s->pid = 0;
                if (s->auto_port && s->port_tries < LP_PORT_TRIES &&
                    log_says_port_taken(s)) {
                    s->port_tries++;
                    s->port = pick_port(s);
                    if (s->port > 0 && spawn_postmaster(s, err, errlen) == 0)
                        continue;
                }
                char report[1300];
                lp_log_report(s->logfile, s->log_offset, report, sizeof report);
                lp_seterr(err, errlen,
                          "localpg: postgres %s (port %d) exited during start "
                          "(%s %d): %s",
                          s->name, s->port, WIFEXITED(st) ? "exit" : "signal",
                          WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
                          report);
                free(ready);
                return -1;
            }
            /* The pid file is cheap; a connection now and then as well, in
             * case a server never writes the status line. */
            if (!pidfile_ready(s) && lp_now_ms() < next_ping)
                goto not_yet;
            lp_local_conninfo(s, NULL, info, sizeof info);
            if (PQping(info) == PQPING_OK) {
                if (lp.debug) {
                    char what[LP_PATH_MAX + 16];
                    snprintf(what, sizeof what, "ready: %s", s->dir);
                    lp_trace(what);
                }
                ready[i] = 1;
                left--;
                continue;
            }
        not_yet:
            if (lp_now_ms() - start > s->timeout_ms) {
                char report[1300];
                lp_log_report(s->logfile, s->log_offset, report, sizeof report);
                lp_seterr(err, errlen,
                          "localpg: postgres %s (port %d) not ready within %d "
                          "ms (raise start_timeout_ms if the machine is slow): "
                          "%s",
                          s->name, s->port, s->timeout_ms, report);
                free(ready);
                return -1;
            }
        }
        if (lp_now_ms() >= next_ping)
            next_ping = lp_now_ms() + 100;
        if (left > 0) {
            lp_sleep_ms(delay);
            if (delay < 5)
                delay++;
        }
    }
    free(ready);
    for (int i = 0; i < n; i++) {
        build_conninfo(v[i]);
        if (v[i]->password && !v[i]->standby &&
            lp_set_password(v[i], err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Public API                                                             */
/* ---------------------------------------------------------------------- */

void localpg_options_init(localpg_options_t *opts)
{
    if (opts)
        memset(opts, 0, sizeof *opts);
}

static int stop_locked(localpg_server_t *s);

/* Check the options that cannot be told from the files alone. */
static int check_options(const localpg_options_t *o, int n, char *err,
                         size_t errlen)
{
    if (o->password_method != NULL &&
        strcmp(o->password_method, "scram-sha-256") != 0 &&
        strcmp(o->password_method, "md5") != 0) {
        lp_seterr(err, errlen,
                  "localpg: password_method '%s' is unknown; use "
                  "scram-sha-256 or md5",
                  o->password_method);
        return -1;
    }
    if (o->standby_of_host && o->standby_of_port <= 0) {
        lp_seterr(err, errlen,
                  "localpg: standby_of_host needs standby_of_port");
        return -1;
    }
    if (o->standby_of != NULL) {
        const localpg_server_t *p = o->standby_of;
        if (n != 1 || o->standby_of_host != NULL) {
            lp_seterr(err, errlen,
                      "localpg: standby_of makes one standby at a time and "
                      "excludes standby_of_host");
            return -1;
        }
        if (!lp_registry_has(p) || p->pid <= 0 ||
            !lp_proc_same(p->pid, p->pid_born) || p->frozen) {
            lp_seterr(err, errlen,
                      "localpg: standby_of needs a running primary (thaw or "
                      "restart it first)");
            return -1;
        }
    }
    return 0;
}

/* Before a standby_of copy: the slot on the primary, then a clean stop so
 * that the copy is consistent; the primary is started again once the copy
 * is done (restart_primary). */
static int stop_primary(localpg_server_t *s, const localpg_options_t *o,
                        char *err, size_t errlen)
{
    char slot[64];
    if (lp_create_physical_slot(o->standby_of,
                                standby_slot(s, o, slot, sizeof slot), err,
                                errlen) < 0)
        return -1;
    if (stop_locked(o->standby_of) < 0) {
        lp_seterr(err, errlen, "%s", o->standby_of->lasterr);
        return -1;
    }
    s->copy_src = o->standby_of->datadir;
    s->copy_flags = LP_COPY_ALL_FORKS | LP_COPY_NO_SLOTS;
    return 0;
}

/* Start a stopped server again on the same port: whoever connects (its
 * subscribers, standbys, tests) knows this one. */
static int start_again(localpg_server_t *p, char *err, size_t errlen)
{
    int saved_auto = p->auto_port;
    p->auto_port = 0;
    int rc = spawn_postmaster(p, err, errlen);
    if (rc == 0)
        rc = wait_ready(&p, 1, err, errlen);
    p->auto_port = saved_auto;
    return rc;
}

static int start_many_locked(const localpg_options_t *opts, int n,
                             localpg_server_t **out, char *err, size_t errlen)
{
    char parent[PATH_MAX];
    if (check_options(opts, n, err, errlen) < 0 ||
        lp_init_process(err, errlen) < 0 ||
        lp_resolve_parent(opts->parent_dir, parent, sizeof parent, err,
                          errlen) < 0)
        return -1;
    static int reaped;
    if (!reaped) {
        reaped = 1;
        /* Leftovers of crashed runs, before we add our own. */
        pthread_mutex_unlock(&lp.lock);
        localpg_reap_stale(parent);
        pthread_mutex_lock(&lp.lock);
    }
    lp_trace("start: init and reap");
    localpg_server_t *primary = opts->standby_of;
    const lp_template_t *tmpl =
        primary != NULL
            ? primary->tmpl
            : lp_ensure_template(parent, opts->bindir,
                                 opts->standby_of_host == NULL, err, errlen);
    if (tmpl == NULL)
        return -1;
    lp_trace("template ready");
    int rc = -1, primary_down = 0;
    for (int i = 0; i < n; i++) {
        out[i] = prepare_server(opts, tmpl, parent, err, errlen);
        if (out[i] == NULL)
            goto fail;
        out[i]->copy_src = tmpl->data;
    }
    if (primary != NULL) {
        if (stop_primary(out[0], opts, err, errlen) < 0)
            goto fail;
        primary_down = 1;
    }

    /* Copies in worker threads (one per CPU); each postmaster starts as
     * soon as its data directory is complete. */
    copy_job_t job = {.m = PTHREAD_MUTEX_INITIALIZER,
                      .cv = PTHREAD_COND_INITIALIZER,
                      .v = out,
                      .n = n};
    pthread_t workers[16];
    int nworkers = 0;
    job.done = calloc((size_t)n, sizeof *job.done);
    job.errs = calloc((size_t)n, sizeof *job.errs);
    if (job.done == NULL || job.errs == NULL) {
        lp_seterr(err, errlen, "localpg: out of memory");
        goto copies_done;
    }
    if (opts->standby_of_host == NULL) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        int want = (int)(cpus < 1 ? 1 : cpus > 16 ? 16 : cpus);
        if (want > n)
            want = n;
        for (; nworkers < want; nworkers++)
            if (pthread_create(&workers[nworkers], NULL, lp_copy_worker, &job))
                break;
        if (nworkers == 0) {
            lp_seterr(err, errlen, "localpg: cannot start a copy thread");
            goto copies_done;
        }
    }
    for (int i = 0; i < n; i++) {
        if (opts->standby_of_host) {
            if (base_backup(out[i], opts, err, errlen) < 0)
                goto copies_done;
        } else {
            pthread_mutex_lock(&job.m);
            while (job.done[i] == 0)
                pthread_cond_wait(&job.cv, &job.m);
            pthread_mutex_unlock(&job.m);
            if (job.done[i] < 0) {
                lp_seterr(err, errlen, "%s", job.errs[i]);
                goto copies_done;
            }
        }
        if (primary_down) {
            primary_down = 0;
            if (start_again(primary, err, errlen) < 0)
                goto copies_done;
        }
        if (finish_server(out[i], opts, i, err, errlen) < 0 ||
            spawn_postmaster(out[i], err, errlen) < 0)
            goto copies_done;
    }
    rc = 0;
copies_done:
    if (nworkers > 0) {
        /* On failure, let the workers run out of indexes quickly. */
        pthread_mutex_lock(&job.m);
        if (rc < 0)
            job.next = n;
        pthread_mutex_unlock(&job.m);
    }
    for (int i = 0; i < nworkers; i++)
        pthread_join(workers[i], NULL);
    free(job.done);
    free(job.errs);
    if (rc < 0)
        goto fail;
    lp_trace("data directories copied, postmasters spawned");
    if (wait_ready(out, n, err, errlen) < 0)
        goto fail;
    lp_trace("servers ready");
    return 0;
fail:
    if (primary_down) {
        /* Never leave the primary stopped; the first error is the one to
         * report. */
        char ignored[256];
        start_again(primary, ignored, sizeof ignored);
    }
    for (int i = 0; i < n; i++) {
        if (out[i])
            lp_discard_server(out[i]);
        out[i] = NULL;
    }
    return -1;
}

int localpg_start_many(const localpg_options_t *opts, int n,
                       localpg_server_t **out, char *err, size_t errlen)
{
    localpg_options_t defaults;
    if (opts == NULL) {
        localpg_options_init(&defaults);
        opts = &defaults;
    }
    if (n <= 0 || n > LP_MAX_SERVERS_MANY || out == NULL) {
        lp_seterr(err, errlen,
                  "localpg: start_many needs 1..%d servers and an "
                  "output array",
                  LP_MAX_SERVERS_MANY);
        return -1;
    }
    for (int i = 0; i < n; i++)
        out[i] = NULL;
    pthread_mutex_lock(&lp.lock);
    int rc = start_many_locked(opts, n, out, err, errlen);
    pthread_mutex_unlock(&lp.lock);
    return rc;
}

localpg_server_t *localpg_start(const localpg_options_t *opts, char *err,
                                size_t errlen)
{
    localpg_server_t *s = NULL;
    if (localpg_start_many(opts, 1, &s, err, errlen) < 0)
        return NULL;
    return s;
}

int localpg_port(const localpg_server_t *s)
{
    return s ? s->port : 0;
}

const char *localpg_host(const localpg_server_t *s)
{
    (void)s;
    return "127.0.0.1";
}

const char *localpg_datadir(const localpg_server_t *s)
{
    return s ? s->datadir : NULL;
}

const char *localpg_dir(const localpg_server_t *s)
{
    return s ? s->dir : NULL;
}

const char *localpg_logfile(const localpg_server_t *s)
{
    return s ? s->logfile : NULL;
}

pid_t localpg_pid(const localpg_server_t *s)
{
    return s ? s->pid : 0;
}

const char *localpg_conninfo(const localpg_server_t *s)
{
    return s ? s->conninfo : NULL;
}

const char *localpg_password(const localpg_server_t *s)
{
    return s ? s->password : NULL;
}

int localpg_major(const localpg_server_t *s)
{
    return s ? s->tmpl->major : 0;
}

const char *localpg_bindir(const localpg_server_t *s)
{
    return s ? s->tmpl->bindir : NULL;
}

const char *localpg_last_error(const localpg_server_t *s)
{
    return s ? s->lasterr : "";
}

int localpg_is_running(const localpg_server_t *s)
{
    return s && s->pid > 0 && lp_proc_same(s->pid, s->pid_born) &&
           !lp_proc_gone(s->pid);
}

/* Common prologue of the lifecycle calls: lock, check the server. */
static int lifecycle_begin(localpg_server_t *s, int need_running)
{
    if (s == NULL)
        return -1;
    pthread_mutex_lock(&lp.lock);
    s->lasterr[0] = '\0';
    if (!lp_registry_has(s)) {
        pthread_mutex_unlock(&lp.lock);
        return -1;
    }
    if (need_running && (s->pid <= 0 || !lp_proc_same(s->pid, s->pid_born))) {
        lp_seterr(s->lasterr, sizeof s->lasterr,
                  "localpg: server %s (port %d) is not running; restart it "
                  "first",
                  s->name, s->port);
        pthread_mutex_unlock(&lp.lock);
        return -1;
    }
    return 0;
}

static void kill_locked(localpg_server_t *s)
{
    if (s->pid > 0 && lp_proc_same(s->pid, s->pid_born))
        lp_kill_tree(s->pid, lp.procs, lp.desc);
    else if (s->pid > 0)
        waitpid(s->pid, NULL, WNOHANG);
    s->pid = 0;
    s->frozen = 0;
    lp_clear_stale(s->datadir, lp_server_uid());
}

int localpg_kill(localpg_server_t *s)
{
    if (lifecycle_begin(s, 1) < 0)
        return -1;
    kill_locked(s);
    pthread_mutex_unlock(&lp.lock);
    return 0;
}

int localpg_freeze(localpg_server_t *s)
{
    if (lifecycle_begin(s, 1) < 0)
        return -1;
    if (!s->frozen)
        lp_stop_tree(s->pid, lp.procs, lp.desc, LP_MAX_DESC);
    s->frozen = 1;
    pthread_mutex_unlock(&lp.lock);
    return 0;
}

static void thaw_locked(localpg_server_t *s)
{
    int np = lp_scan_procs(lp.procs, LP_MAX_PROCS);
    int n = lp_descendants(s->pid, lp.procs, np, lp.desc, LP_MAX_DESC);
    for (int i = 0; i < n; i++)
        kill(lp.desc[i], SIGCONT);
    kill(s->pid, SIGCONT);
    s->frozen = 0;
}

int localpg_thaw(localpg_server_t *s)
{
    if (lifecycle_begin(s, 1) < 0)
        return -1;
    thaw_locked(s);
    pthread_mutex_unlock(&lp.lock);
    return 0;
}

/* Fast shutdown (SIGINT), SIGKILL if it takes longer than the bound. */
static int stop_locked(localpg_server_t *s)
{
    if (s->pid <= 0)
        return 0;
    if (!lp_proc_same(s->pid, s->pid_born)) {
        kill_locked(s);
        return 0;
    }
    if (s->frozen)
        thaw_locked(s);
    kill(s->pid, SIGINT);
    int64_t deadline = lp_now_ms() + LP_STOP_TIMEOUT;
    int delay = 1;
    for (;;) {
        int st;
        pid_t r = waitpid(s->pid, &st, WNOHANG);
        if (r == s->pid || (r < 0 && errno == ECHILD && lp_proc_gone(s->pid)))
            break;
        if (lp_now_ms() > deadline) {
            kill_locked(s);
            lp_seterr(
                s->lasterr, sizeof s->lasterr,
                "localpg: server %s (port %d) ignored a fast shutdown for "
                "%d ms and was killed",
                s->name, s->port, LP_STOP_TIMEOUT);
            return -1;
        }
        lp_sleep_ms(delay);
        if (delay < 10)
            delay++;
    }
    s->pid = 0;
    s->frozen = 0;
    lp_clear_stale(s->datadir, lp_server_uid());
    return 0;
}

int localpg_stop(localpg_server_t *s)
{
    if (lifecycle_begin(s, 0) < 0)
        return -1;
    int rc = stop_locked(s);
    pthread_mutex_unlock(&lp.lock);
    return rc;
}

int localpg_restart(localpg_server_t *s)
{
    if (lifecycle_begin(s, 0) < 0)
        return -1;
    int rc = stop_locked(s);
    char err[sizeof s->lasterr];
    err[0] = '\0';
    if (rc == 0) {
        rc = start_again(s, err, sizeof err);
        if (rc < 0) {
            kill_locked(s);
            snprintf(s->lasterr, sizeof s->lasterr, "%s", err);
        }
    }
    pthread_mutex_unlock(&lp.lock);
    return rc;
}

void localpg_destroy(localpg_server_t *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&lp.lock);
    if (lp_registry_has(s) && getpid() == lp.owner)
        lp_discard_server(s);
    pthread_mutex_unlock(&lp.lock);
}
