/* SPDX-License-Identifier: MIT */
/*
 * localpg.h - throwaway local PostgreSQL servers on 127.0.0.1: create (initdb
 * once per process and bin directory, then copy the template data
 * directory), start on a free port, stop, restart, make standbys (a copy of
 * a stopped primary, or pg_basebackup), add roles, and inject real faults
 * (SIGKILL, SIGSTOP/SIGCONT). Any PostgreSQL from 10 on, one bin directory
 * per server if need be.
 *
 * Used by the test fixture (tests/tools), the benchmarks (bench/) and
 * `replmon demo`. Not part of libpgcm's public API.
 *
 * When the process runs as root, initdb and the servers run as the
 * `postgres` user and every directory made here is owned by it.
 *
 * Every server started is remembered in a process-wide registry:
 * localpg_cleanup_all() stops them all (by pid, never by name) and removes
 * their directories; it is registered with atexit() and for SIGINT, SIGTERM,
 * SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS (only for those signals whose
 * disposition is still the default when the first server starts: a handler
 * the program, a sanitizer or a test framework installed is left alone), so
 * a failing or interrupted test still leaves nothing behind. Postmasters
 * started from the main thread also get PR_SET_PDEATHSIG(SIGKILL), so even a
 * SIGKILLed test takes its servers with it. A crashed earlier run's
 * leftovers (directories whose owner pid is gone) are removed by
 * localpg_reap_stale(), which the first start runs on its parent directory.
 *
 * The fixture itself always reaches a server through the Unix socket in
 * localpg_dir() with `local ... trust` (never through TCP), so its own
 * connections show up in the server log as "host=[local]" and never count
 * as TCP connection attempts. The server log has log_connections=on.
 *
 * Server settings (before opts->conf_lines, which win): listen_addresses
 * 127.0.0.1, the Unix socket in localpg_dir(), fsync, synchronous_commit and
 * full_page_writes off, shared_buffers 16MB, log_connections on, logging to
 * localpg_logfile(); wal_level replica (logical with opts->logical). initdb
 * ran with -U postgres -E UTF8 --locale=C -A trust and, from 11 on, 1 MB
 * WAL segments (wal_segment_size is 1MB, so WAL file names advance 16 times
 * faster than usual; 10 has 16 MB built in). Copies of the template leave
 * out the free-space and visibility map forks, which PostgreSQL recreates
 * on demand.
 *
 * Environment: LOCALPG_BINDIR overrides the default PostgreSQL bin
 * directory (opts->bindir overrides it per server);
 * LOCALPG_KEEP=1 keeps the directories (logs, data) after the servers are
 * killed, for a look after a failure; LOCALPG_DEBUG=1 prints the time and
 * CPU each start phase took. Children get a clean environment, so
 * PG* variables set by tests never reach initdb or the servers.
 *
 * Threading: calls are serialized by an internal mutex and may block for
 * seconds (process start and stop). Do not call from a libpgcm callback.
 */
#ifndef LOCALPG_H
#define LOCALPG_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct localpg_server localpg_server_t;

typedef struct localpg_options {
    const char *name;              /* label for logs and dir names ("pg") */
    const char *parent_dir;        /* NULL: $TMPDIR or /tmp */
    int port;                      /* 0: pick a free port */
    const char *const *conf_lines; /* extra postgresql.conf lines, NULL-term */
    const char *const *hba_lines;  /* if set, replaces pg_hba.conf entirely
                                      (but `local all all trust` lines are
                                      kept first unless one of these lines
                                      is a `local` line itself) */
    int logical;                   /* wal_level=logical, slots and senders */
    int max_connections;           /* 0: 100 (<= 3: no superuser
                                      reserved connections) */
    const char *password;          /* if set: superuser password, and hba
                                      default becomes password_method on
                                      TCP */
    const char *password_method;   /* how the password is stored and
                                      checked: "scram-sha-256" (NULL) or
                                      "md5" */
    const char *bindir;            /* PostgreSQL bin directory (initdb,
                                      postgres); NULL: localpg_find_bindir() */
    localpg_server_t *standby_of;  /* if set: a streaming standby of this
                                      running server, made by stopping it,
                                      copying its data directory (without
                                      its slots) and starting it again; it
                                      streams over TCP through a physical
                                      slot. One at a time (n == 1); bindir,
                                      password and logical are the
                                      primary's. */
    const char *standby_slot;      /* the slot for standby_of, created if
                                      missing; NULL: "<name>_slot" */
    const char *standby_of_host;   /* if set, pg_basebackup -R from here
                                      (needs pg_basebackup in bindir) */
    int standby_of_port;
    int start_timeout_ms; /* 0: 30000 */
} localpg_options_t;

/* localpg_options_init - defaults (everything 0 / NULL). */
void localpg_options_init(localpg_options_t *opts);

/* localpg_find_bindir - the default directory holding initdb/postgres
 * (LOCALPG_BINDIR, else PG 15: /usr/lib/postgresql/15/bin, else the newest
 * installed, else PATH). Returns a static string or NULL with a message in
 * err. */
const char *localpg_find_bindir(char *err, size_t errlen);

/* localpg_start - create a data directory and start a server. Blocks until
 * it accepts connections. Returns NULL and a one-line message in err on
 * failure (nothing is left behind). The superuser is "postgres", database
 * "postgres". */
localpg_server_t *localpg_start(const localpg_options_t *opts, char *err,
                                size_t errlen);

/* localpg_start_many - start n servers (1..1024) with the same options at
 * once: data directories first, then every postmaster, then one wait for
 * them all; much faster than n localpg_start() calls. out[0..n) receives
 * the servers. With opts->port set, server i gets port + i. Returns 0, or
 * -1 with a message in err and nothing left behind (out all NULL). */
int localpg_start_many(const localpg_options_t *opts, int n,
                       localpg_server_t **out, char *err, size_t errlen);

/* Accessors. */
int localpg_port(const localpg_server_t *s);
const char *localpg_host(const localpg_server_t *s); /* "127.0.0.1" */
const char *localpg_datadir(const localpg_server_t *s);
const char *localpg_dir(const localpg_server_t *s); /* owns datadir,
                                                       logs, certs */
const char *localpg_logfile(const localpg_server_t *s);
pid_t localpg_pid(const localpg_server_t *s); /* postmaster, or 0 */
/* A libpq conninfo for the superuser: "host=127.0.0.1 port=N user=postgres
 * dbname=postgres" (plus password if one was set). Static per server. */
const char *localpg_conninfo(const localpg_server_t *s);
const char *localpg_password(const localpg_server_t *s); /* or NULL */
/* The PostgreSQL major version (10, 11, ... 18) and bin directory. */
int localpg_major(const localpg_server_t *s);
const char *localpg_bindir(const localpg_server_t *s);
/* 1 if the postmaster is alive (frozen counts as alive), else 0. */
int localpg_is_running(const localpg_server_t *s);
/* The message of the last failed kill/freeze/thaw/stop/restart, or "". */
const char *localpg_last_error(const localpg_server_t *s);

/* Faults and lifecycle. Each returns 0 or -1 with a message in
 * localpg_last_error(s). kill, freeze and thaw need a running server; stop
 * of a stopped server is a no-op; restart stops a running one first. kill
 * waits until the postmaster and every child are gone (and removes the
 * shared memory segment SIGKILL leaves behind); restart then does crash
 * recovery. Freeze stops every process of the server, so TCP connects still
 * complete (the kernel's backlog) but nothing answers. */
int localpg_kill(localpg_server_t *s);    /* SIGKILL postmaster + children */
int localpg_freeze(localpg_server_t *s);  /* SIGSTOP postmaster + children */
int localpg_thaw(localpg_server_t *s);    /* SIGCONT them */
int localpg_stop(localpg_server_t *s);    /* fast shutdown, wait for exit */
int localpg_restart(localpg_server_t *s); /* start again: same dir, port */
/* Stop (if running), remove the directory, forget and free s. NULL is ok. */
void localpg_destroy(localpg_server_t *s);

/* localpg_exec - run SQL as superuser on the server (blocking libpq),
 * optionally in database dbname (NULL: postgres). If out is not NULL, the
 * first column of the first row (or NULL) is returned malloc'd in *out.
 * Returns 0, or -1 with the server's message in err. */
int localpg_exec(localpg_server_t *s, const char *dbname, const char *sql,
                 char **out, char *err, size_t errlen);

/* localpg_create_role - CREATE ROLE name LOGIN, with password stored the
 * way method says ("scram-sha-256" when NULL, or "md5"; no password when
 * password is NULL), then GRANT each role of the comma-separated member_of
 * (e.g. "pg_monitor"; NULL: none) to it. Returns 0, or -1 with the server's
 * message in err. */
int localpg_create_role(localpg_server_t *s, const char *name,
                        const char *password, const char *method,
                        const char *member_of, char *err, size_t errlen);

/* localpg_count_connections - how many backends have this application_name
 * (pg_stat_activity), or -1 on error. Used to prove nothing leaked. */
int localpg_count_connections(localpg_server_t *s, const char *app_name);

/* localpg_cleanup_all - stop and remove every server still registered.
 * Async-signal-tolerant enough for the installed handlers. */
void localpg_cleanup_all(void);

/* localpg_reap_stale - remove leftovers of earlier crashed runs under
 * parent_dir (NULL: $TMPDIR or /tmp) whose owner process is gone: stop their
 * servers by the pid in postmaster.pid and delete their directories.
 * Returns how many were removed. */
int localpg_reap_stale(const char *parent_dir);

/* localpg_make_dir - a scratch directory <parent>/localpg-<name>-... (for
 * certificates and other files the servers read), owned by postgres when
 * root. Removed by localpg_remove_dir(), else by localpg_cleanup_all() (so
 * at exit), or by localpg_reap_stale() after a crash. Writes its path to
 * out. Returns 0, or -1 with a message in err. */
int localpg_make_dir(const char *name, const char *parent_dir, char *out,
                     size_t outlen, char *err, size_t errlen);
/* localpg_remove_dir - remove a directory made by localpg_make_dir(). */
void localpg_remove_dir(const char *path);
/* localpg_chown - give path to the user the servers run as (postgres when
 * root; a no-op otherwise). Returns 0 or -1 (errno). */
int localpg_chown(const char *path);
/* localpg_run - run a program (argv[0] a path or looked up in PATH) with
 * the clean environment, stdout and stderr appended to logfile (NULL:
 * discarded), as the calling user; kill it after timeout_ms (0: 60000).
 * Returns 0 if it exited 0, else -1 with the cause and the end of its
 * output in err. */
int localpg_run(const char *const *argv, const char *logfile, int timeout_ms,
                char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* LOCALPG_H */
