/* SPDX-License-Identifier: MIT */
/*
 * localpg_internal.h - what the files of localpg share: the server struct,
 * the process-wide state (one struct, lp), and the functions each file
 * offers the others. The files, one layer each:
 *
 *   util.c      strings, clocks, log excerpts for error messages
 *   proc.c      processes: /proc scans, trees of a postmaster, kill, spawn
 *   registry.c  the registry of servers, process set-up, cleanup at exit
 *               and from fatal signals, removal of crashed runs' leftovers
 *   files.c     directories and files: removal, writes, template copies
 *   template.c  the PostgreSQL bin directory and the initdb template
 *   server.c    one server: configuration, port, start, readiness, faults
 *   sql.c       SQL through the server's Unix socket
 *
 * Functions marked async-signal-safe run from the fatal-signal handler:
 * they use only system calls and plain string handling (no malloc, no
 * stdio, no locks).
 */
#ifndef LOCALPG_INTERNAL_H
#define LOCALPG_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "localpg.h"

#define LP_PATH_MAX         256   /* any path we build */
#define LP_SOCK_PATH_MAX    107   /* sun_path minus the terminating NUL */
#define LP_SOCK_LEAF_LEN    16    /* "/.s.PGSQL.65535" plus one */
#define LP_DEFAULT_TIMEOUT  30000 /* ms to wait for readiness */
#define LP_STOP_TIMEOUT     15000 /* ms for a fast shutdown, then SIGKILL */
#define LP_KILL_WAIT        10000 /* ms for killed processes to go away */
#define LP_PORT_TRIES       8     /* re-picks of a port taken meanwhile */
#define LP_MAX_PROCS        16384 /* processes seen in one /proc scan */
#define LP_MAX_DESC         8192  /* descendants of one postmaster */
#define LP_MAX_SERVERS_MANY 1024  /* localpg_start_many() bound */
#define LP_MAX_SCRATCH      64    /* localpg_make_dir() dirs at once */
#define LP_MAX_TEMPLATES    16    /* bin directories used by one process */

/* One initdb result per bin directory, copied for every server made with
 * that bin directory. */
typedef struct lp_template {
    char bindir[LP_PATH_MAX];
    int major;                   /* PostgreSQL major version, e.g. 15 */
    char dir[LP_PATH_MAX];       /* "" until initdb ran */
    char data[LP_PATH_MAX + 16]; /* dir/data */
} lp_template_t;

struct localpg_server {
    localpg_server_t *next;      /* registry link (lp.servers) */
    pid_t pid;                   /* postmaster, 0 when not running */
    unsigned long long pid_born; /* its start time, against pid reuse */
    int port;
    int auto_port;  /* port picked here: re-picked if taken at start */
    int port_tries; /* re-picks so far */
    int frozen;     /* SIGSTOPped by localpg_freeze() */
    int standby;    /* a copy of a primary: no ALTER USER */
    int timeout_ms; /* readiness deadline */
    const lp_template_t *tmpl; /* its bin directory and major version */
    const char *copy_src;      /* data directory to copy from */
    int copy_flags;            /* LP_COPY_* */
    long log_offset;       /* log size when the postmaster was last spawned */
    char *password;        /* superuser password, or NULL */
    char method[16];       /* how it is stored: scram-sha-256 or md5 */
    char name[24];         /* sanitized label */
    char dir[LP_PATH_MAX]; /* owns everything below */
    char datadir[LP_PATH_MAX + 16]; /* dir/data */
    char logfile[LP_PATH_MAX + 16]; /* dir/server.log */
    char conninfo[LP_PATH_MAX];     /* TCP, for users */
    char lasterr[512];              /* last lifecycle error */
};

/* /proc scan entry. */
typedef struct pidpair {
    pid_t pid;
    pid_t ppid;
} pidpair_t;

/* Process-wide state (registry.c defines it); everything is guarded by
 * lp.lock except where the signal handler reads it (servers, templates,
 * scratch, owner, keep, the sig_ buffers). */
typedef struct lp_state {
    pthread_mutex_t lock;
    localpg_server_t *volatile servers; /* every server not destroyed */
    volatile pid_t owner;               /* process that owns the registry */
    int as_pg; /* 1: children run as the postgres user */
    uid_t pg_uid;
    gid_t pg_gid;
    gid_t pg_groups[64];
    int pg_ngroups;
    mode_t umask;             /* read from /proc/self/status at init */
    int keep;                 /* $LOCALPG_KEEP: keep dirs for a look */
    int debug;                /* $LOCALPG_DEBUG: phase timings */
    char bindir[LP_PATH_MAX]; /* the default, localpg_find_bindir() */
    lp_template_t templates[LP_MAX_TEMPLATES];
    int ntemplates;
    char scratch[LP_MAX_SCRATCH][LP_PATH_MAX]; /* localpg_make_dir() */
    char env_path[LP_PATH_MAX + 32];
    char env_tz[128];
    char *env[8]; /* environment of every child */
    /* /proc scan buffers: one for normal calls (under lock), one for the
     * signal handler. */
    pidpair_t procs[LP_MAX_PROCS];
    pid_t desc[LP_MAX_DESC];
    pidpair_t sig_procs[LP_MAX_PROCS];
    pid_t sig_desc[LP_MAX_DESC];
} lp_state_t;

extern lp_state_t lp;

/* ---- util.c ---------------------------------------------------------- */

/* A small growable string for configuration files. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf_t;

void lp_one_line(char *s); /* newlines and tabs to spaces, trim the end */
__attribute__((format(printf, 3, 4))) void lp_seterr(char *err, size_t errlen,
                                                     const char *fmt, ...);
int64_t lp_now_ms(void);  /* monotonic */
void lp_sleep_ms(int ms); /* async-signal-safe */
/* Async-signal-safe bounded append; 0, or -1 when truncated. */
int lp_cat(char *dst, size_t size, const char *src);
void lp_fmt_ulong(char *buf, size_t size, unsigned long v); /* a-s-safe */
/* "/proc/<pid>/<leaf>" (async-signal-safe). */
void lp_proc_path(char *buf, size_t size, pid_t pid, const char *leaf);
/* Read up to size-1 bytes of a small file (async-signal-safe). */
ssize_t lp_read_small(const char *path, char *buf, size_t size);
void lp_trace(const char *what); /* LOCALPG_DEBUG phase timings */
uint64_t lp_next_rand(void);
__attribute__((format(printf, 2, 3))) void lp_sb_printf(sbuf_t *b,
                                                        const char *fmt, ...);
void lp_sb_conf_quote(sbuf_t *b, const char *v); /* '...' for .conf */
/* Append key='value' to a libpq conninfo, escaping ' and \. */
void lp_conninfo_add(char *buf, size_t size, const char *key, const char *val);
/* The last lines of a log from offset `from`, joined by " | ". */
void lp_log_tail(const char *path, long from, char *out, size_t outlen);
/* "<first FATAL/ERROR>; log <path> ends: <last lines>". */
void lp_log_report(const char *path, long from, char *out, size_t outlen);
long lp_file_size(const char *path);

/* ---- proc.c ---------------------------------------------------------- */

/* Async-signal-safe: state, parent and start time of a process; -1 if it
 * does not exist. */
int lp_proc_stat(pid_t pid, char *state, pid_t *ppid, unsigned long long *born);
int lp_proc_gone(pid_t pid); /* no such process, or a zombie */
int lp_proc_same(pid_t pid, unsigned long long born); /* not reused */
int lp_scan_procs(pidpair_t *v, int max);             /* a-s-safe */
int lp_descendants(pid_t root, const pidpair_t *procs, int nprocs, pid_t *out,
                   int max);
/* Async-signal-safe: SIGSTOP a postmaster and all its descendants. */
int lp_stop_tree(pid_t pm, pidpair_t *procs, pid_t *out, int max);
/* Async-signal-safe: SIGKILL them and wait until they are gone. */
void lp_kill_tree(pid_t pm, pidpair_t *procs, pid_t *desc);
/* Async-signal-safe: remove the shared memory and postmaster.pid a killed
 * server left behind. */
void lp_clear_stale(const char *datadir, uid_t uid);
uid_t lp_server_uid(void);
/* Whether /proc/<pid>/cmdline is a postgres started with -D datadir. */
int lp_is_postmaster_of(pid_t pid, const char *datadir);

typedef struct spawn_req {
    const char *const *argv; /* argv[0] is an absolute path */
    char *const *envp;
    const char *out; /* stdout+stderr (appended), NULL: /dev/null */
    const char *cwd; /* NULL: unchanged */
    int as_pg;       /* drop to the postgres user */
    int new_session; /* setsid() */
} spawn_req_t;

/* fork+exec; the pid or -1 with a message. */
pid_t lp_spawn(const spawn_req_t *r, char *err, size_t errlen);
/* Run to completion: 0 if it exits 0, else -1 with the end of its output. */
int lp_run_wait(const spawn_req_t *r, int timeout_ms, char *err, size_t errlen);

/* ---- registry.c ------------------------------------------------------ */

void lp_registry_add(localpg_server_t *s);
int lp_registry_remove(localpg_server_t *s);
int lp_registry_has(const localpg_server_t *s);
/* Once per process (again after a fork): owner, user, environment,
 * handlers. Call with lp.lock held. */
int lp_init_process(char *err, size_t errlen);

/* ---- files.c --------------------------------------------------------- */

struct lp_dirent64 {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
};

int lp_is_dot(const char *n);
void lp_rm_tree(const char *path); /* async-signal-safe */
int lp_chown_pg(const char *path); /* to postgres when root */
int lp_write_file(const char *path, const char *data, size_t len, int flags,
                  mode_t mode, int give_to_pg, char *err, size_t errlen);
/* Copy data directory src to a new directory dst (mode 0700), without
 * postmaster.pid and, unless LP_COPY_ALL_FORKS, without the free-space and
 * visibility map forks (PostgreSQL recreates them); LP_COPY_NO_SLOTS leaves
 * pg_replslot empty. Call with the filesystem identity of the user the
 * servers run as. */
#define LP_COPY_ALL_FORKS 0x1
#define LP_COPY_NO_SLOTS  0x2
int lp_copy_tree(const char *src, const char *dst, int flags, char *err,
                 size_t errlen);

/* Parallel copies (v[i]->copy_src to v[i]->datadir): workers take the next
 * index, the caller waits for each in order and starts its postmaster at
 * once. */
typedef struct copy_job {
    pthread_mutex_t m;
    pthread_cond_t cv;
    localpg_server_t **v;
    int n;
    int next;          /* next index to copy */
    signed char *done; /* 0 pending, 1 copied, -1 failed */
    char (*errs)[256];
} copy_job_t;
void *lp_copy_worker(void *arg); /* pthread start routine, arg a job */

/* The parent directory to use, absolute, checked for the postgres user. */
int lp_resolve_parent(const char *want, char *out, size_t outlen, char *err,
                      size_t errlen);
/* Make <parent>/localpg-<name>-<pid>-<n>-XXXXXX with owner.pid. */
int lp_make_dir(const char *parent, const char *name, char *out, size_t outlen,
                char *err, size_t errlen);

/* ---- template.c ------------------------------------------------------ */

const char *lp_find_bindir_locked(char *err, size_t errlen);
/* The template of a bin directory (NULL: the default one), made under
 * parent the first time: its major version always, its initdb data
 * directory when initdb is set. NULL with a message in err when the
 * directory holds no PostgreSQL 10+ or initdb fails. */
const lp_template_t *lp_ensure_template(const char *parent, const char *bindir,
                                        int initdb, char *err, size_t errlen);
/* Remove every template directory (async-signal-safe unless forget). */
void lp_remove_templates(int forget);

/* ---- server.c -------------------------------------------------------- */

void lp_free_server(localpg_server_t *s);
/* Kill (if running), remove and free a server; it must be registered. */
void lp_discard_server(localpg_server_t *s);

/* ---- sql.c ----------------------------------------------------------- */

/* The fixture's own way in: the Unix socket, local trust. */
void lp_local_conninfo(const localpg_server_t *s, const char *dbname, char *buf,
                       size_t size);
/* ALTER USER postgres PASSWORD s->password, stored as s->method says. */
int lp_set_password(localpg_server_t *s, char *err, size_t errlen);
/* pg_create_physical_replication_slot(slot, true) unless it exists. */
int lp_create_physical_slot(localpg_server_t *s, const char *slot, char *err,
                            size_t errlen);

#endif /* LOCALPG_INTERNAL_H */
