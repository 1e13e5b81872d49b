/* SPDX-License-Identifier: MIT */
/*
 * localpg.c - throwaway local PostgreSQL servers (see localpg.h): one initdb
 * template per process, data directories copied from it, postmasters started
 * by fork+exec (as `postgres` when root), faults injected by pid, and a
 * registry that atexit() and fatal-signal handlers clean up.
 *
 * The code that runs from a signal handler (process scans, kills, waits,
 * directory removal) uses only system calls and plain string handling: no
 * malloc, no stdio, no locks.
 */
#include "localpg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ipc.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <libpq-fe.h>

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

struct localpg_server {
    localpg_server_t *next;      /* registry link (g_servers) */
    pid_t pid;                   /* postmaster, 0 when not running */
    unsigned long long pid_born; /* its start time, against pid reuse */
    int port;
    int auto_port;         /* port picked here: re-picked if taken at start */
    int port_tries;        /* re-picks so far */
    int frozen;            /* SIGSTOPped by localpg_freeze() */
    int standby;           /* made by pg_basebackup: no ALTER USER */
    int timeout_ms;        /* readiness deadline */
    long log_offset;       /* log size when the postmaster was last spawned */
    char *password;        /* superuser password, or NULL */
    char name[24];         /* sanitized label */
    char dir[LP_PATH_MAX]; /* owns everything below */
    char datadir[LP_PATH_MAX + 16]; /* dir/data */
    char logfile[LP_PATH_MAX + 16]; /* dir/server.log */
    char conninfo[LP_PATH_MAX];     /* TCP, for users */
    char lasterr[512];              /* last lifecycle error */
};

/* Process-wide state; everything below is guarded by g_lock except where
 * the signal handler reads it (g_servers, g_tmpl_dir, g_owner). */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static localpg_server_t *volatile g_servers; /* every server not destroyed */
static volatile pid_t g_owner; /* process that owns the registry */
static unsigned g_seq;         /* directory name counter */
static int g_as_pg;            /* 1: children run as the postgres user */
static uid_t g_pg_uid;
static gid_t g_pg_gid;
static gid_t g_pg_groups[64];
static int g_pg_ngroups;
static int g_keep;  /* $LOCALPG_KEEP: keep dirs for a look */
static int g_debug; /* $LOCALPG_DEBUG: phase timings */
static char g_bindir[LP_PATH_MAX];
static char g_tmpl_dir[LP_PATH_MAX]; /* "" until initdb ran */
static char g_tmpl_data[LP_PATH_MAX + 16];
static char g_scratch[64][LP_PATH_MAX]; /* localpg_make_dir() dirs */
static char g_env_path[LP_PATH_MAX + 32];
static char g_env_tz[128];
static char *g_env[8]; /* environment of every child */
static uint64_t g_rand;

/* /proc scan buffers: one for normal calls (under g_lock), one for the
 * signal handler. */
typedef struct pidpair {
    pid_t pid;
    pid_t ppid;
} pidpair_t;
static pidpair_t g_procs[LP_MAX_PROCS];
static pid_t g_desc[LP_MAX_DESC];
static pidpair_t g_sig_procs[LP_MAX_PROCS];
static pid_t g_sig_desc[LP_MAX_DESC];

static const int g_fatal_signals[] = {SIGINT,  SIGTERM, SIGHUP, SIGQUIT,
                                      SIGABRT, SIGSEGV, SIGBUS};
static volatile sig_atomic_t g_in_signal;

/* ---------------------------------------------------------------------- */
/* Small helpers                                                          */
/* ---------------------------------------------------------------------- */

static void one_line(char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n' || s[i] == '\r' || s[i] == '\t')
            s[i] = ' ';
    while (n > 0 && s[n - 1] == ' ')
        s[--n] = '\0';
}

__attribute__((format(printf, 3, 4))) static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    one_line(err);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Async-signal-safe. */
static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Async-signal-safe bounded string append; returns 0 or -1 if truncated. */
static int cat(char *dst, size_t size, const char *src)
{
    size_t n = strlen(dst);
    while (*src && n + 1 < size)
        dst[n++] = *src++;
    dst[n] = '\0';
    return *src ? -1 : 0;
}

/* Async-signal-safe decimal formatting. */
static void fmt_ulong(char *buf, size_t size, unsigned long v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < (int)sizeof tmp);
    size_t i = 0;
    while (n > 0 && i + 1 < size)
        buf[i++] = tmp[--n];
    buf[i] = '\0';
}

static void proc_path(char *buf, size_t size, pid_t pid, const char *leaf)
{
    char num[24];
    fmt_ulong(num, sizeof num, (unsigned long)pid);
    buf[0] = '\0';
    cat(buf, size, "/proc/");
    cat(buf, size, num);
    cat(buf, size, "/");
    cat(buf, size, leaf);
}

/* Async-signal-safe: read up to size-1 bytes of a small file. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t got = 0;
    while (got + 1 < size) {
        ssize_t n = read(fd, buf + got, size - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return (ssize_t)got;
}

/* With LOCALPG_DEBUG set: "localpg: <ms since the previous call> what". */
static void trace(const char *what)
{
    static int64_t last;
    if (!g_debug)
        return;
    int64_t t = now_ms();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct rusage self, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    fprintf(stderr,
            "localpg: %02ld.%03ld +%4lld ms %s (cpu: self %ld+%ld ms, "
            "children %ld+%ld ms)\n",
            (long)(ts.tv_sec % 60), ts.tv_nsec / 1000000,
            (long long)(last ? t - last : 0), what,
            (long)(self.ru_utime.tv_sec * 1000 + self.ru_utime.tv_usec / 1000),
            (long)(self.ru_stime.tv_sec * 1000 + self.ru_stime.tv_usec / 1000),
            (long)(kids.ru_utime.tv_sec * 1000 + kids.ru_utime.tv_usec / 1000),
            (long)(kids.ru_stime.tv_sec * 1000 + kids.ru_stime.tv_usec / 1000));
    last = t;
}

static uint64_t next_rand(void)
{
    if (g_rand == 0)
        g_rand = ((uint64_t)getpid() << 32) ^ (uint64_t)now_ms() ^
                 (uint64_t)time(NULL) ^ 0x9e3779b97f4a7c15ULL;
    g_rand ^= g_rand << 13;
    g_rand ^= g_rand >> 7;
    g_rand ^= g_rand << 17;
    return g_rand;
}

/* A small growable string for configuration files. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf_t;

__attribute__((format(printf, 2, 3))) static void
sb_printf(sbuf_t *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* Quote a value for postgresql.conf ('...' with '' for '). */
static void sb_conf_quote(sbuf_t *b, const char *v)
{
    sb_printf(b, "'");
    for (; *v; v++) {
        if (*v == '\'')
            sb_printf(b, "''");
        else
            sb_printf(b, "%c", *v);
    }
    sb_printf(b, "'");
}

/* Append key='value' to a libpq conninfo, escaping ' and \. */
static void conninfo_add(char *buf, size_t size, const char *key,
                         const char *val)
{
    size_t n = strlen(buf);
    int w = snprintf(buf + n, size - n, "%s%s='", n ? " " : "", key);
    if (w < 0 || (size_t)w >= size - n)
        return;
    n += (size_t)w;
    for (; *val && n + 3 < size; val++) {
        if (*val == '\'' || *val == '\\')
            buf[n++] = '\\';
        buf[n++] = *val;
    }
    if (n + 1 < size)
        buf[n++] = '\'';
    buf[n] = '\0';
}

/* The last lines of a log, joined by " | ", for error messages. */
static void log_tail(const char *path, long from, char *out, size_t outlen)
{
    out[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(out, outlen, "(no log at %s)", path);
        return;
    }
    struct stat st;
    char buf[4096];
    long start = 0;
    if (fstat(fd, &st) == 0 && st.st_size > (off_t)sizeof buf - 1)
        start = (long)st.st_size - (long)sizeof buf + 1;
    if (start < from)
        start = from;
    ssize_t n = pread(fd, buf, sizeof buf - 1, start);
    close(fd);
    if (n <= 0) {
        snprintf(out, outlen, "(log %s is empty)", path);
        return;
    }
    buf[n] = '\0';
    /* Keep the last 6 non-empty lines. */
    char *lines[6];
    int count = 0;
    char *save = NULL;
    for (char *l = strtok_r(buf, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        if (*l == '\0')
            continue;
        if (count == 6) {
            memmove(lines, lines + 1, sizeof lines[0] * 5);
            count = 5;
        }
        lines[count++] = l;
    }
    size_t used = 0;
    for (int i = 0; i < count && used + 4 < outlen; i++) {
        int w = snprintf(out + used, outlen - used, "%s%s", i ? " | " : "",
                         lines[i]);
        if (w < 0)
            break;
        used += (size_t)w;
        if (used >= outlen)
            used = outlen - 1;
    }
    one_line(out);
}

/* The first FATAL/PANIC/ERROR line of a log from offset `from` (with its
 * DETAIL line), skipping the "starting up" answers to our own pings; "" if
 * none. */
static void log_cause(const char *path, long from, char *out, size_t outlen)
{
    out[0] = '\0';
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return;
    if (from > 0)
        fseek(f, from, SEEK_SET);
    char line[1024];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        if (found) {
            if (strstr(line, "DETAIL:") || strstr(line, "HINT:")) {
                const char *d = strstr(line, "  ");
                cat(out, outlen, " ");
                cat(out, outlen, d ? d + 2 : line);
            }
            break;
        }
        if ((strstr(line, "FATAL:") || strstr(line, "PANIC:") ||
             strstr(line, "ERROR:")) &&
            !strstr(line, "is starting up") &&
            !strstr(line, "is shutting down")) {
            const char *m = strstr(line, "FATAL:");
            if (!m)
                m = strstr(line, "PANIC:");
            if (!m)
                m = strstr(line, "ERROR:");
            snprintf(out, outlen, "%s", m);
            found = 1;
        }
    }
    fclose(f);
    one_line(out);
}

/* "<cause>; log <path>: <last lines>" for a failed server start. */
static void log_report(const char *path, long from, char *out, size_t outlen)
{
    char cause[512], tail[700];
    log_cause(path, from, cause, sizeof cause);
    log_tail(path, from, tail, sizeof tail);
    if (cause[0])
        snprintf(out, outlen, "%s; log %s ends: %s", cause, path, tail);
    else
        snprintf(out, outlen, "log %s ends: %s", path, tail);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* ---------------------------------------------------------------------- */
/* Files and directories                                                  */
/* ---------------------------------------------------------------------- */

struct lp_dirent64 {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
};

static int is_dot(const char *n)
{
    return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

/* Async-signal-safe recursive removal of dirfd/name. */
static void rm_at(int dirfd, const char *name, int depth)
{
    if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
        return;
    if (depth > 32)
        return;
    int fd =
        openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    for (int pass = 0; pass < 8; pass++) {
        long buf[1024];
        int any = 0;
        if (lseek(fd, 0, SEEK_SET) < 0)
            break;
        for (;;) {
            long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
            if (n <= 0)
                break;
            for (long off = 0; off < n;) {
                struct lp_dirent64 *d =
                    (struct lp_dirent64 *)(void *)((char *)buf + off);
                off += d->reclen;
                if (is_dot(d->name))
                    continue;
                any = 1;
                if (d->type == DT_DIR)
                    rm_at(fd, d->name, depth + 1);
                else if (unlinkat(fd, d->name, 0) < 0 && errno == EISDIR)
                    rm_at(fd, d->name, depth + 1);
            }
        }
        if (!any)
            break;
    }
    close(fd);
    unlinkat(dirfd, name, AT_REMOVEDIR);
}

static void rm_tree(const char *path)
{
    if (path[0] != '\0')
        rm_at(AT_FDCWD, path, 0);
}

/* Give a path to the user the servers run as (no-op unless root). */
static int chown_pg(const char *path)
{
    if (!g_as_pg)
        return 0;
    return lchown(path, g_pg_uid, g_pg_gid);
}

static int write_file(const char *path, const char *data, size_t len, int flags,
                      mode_t mode, int give_to_pg, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, mode);
    if (fd < 0) {
        seterr(err, errlen, "localpg: cannot write %s: %s", path,
               strerror(errno));
        return -1;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            seterr(err, errlen, "localpg: cannot write %s: %s", path,
                   strerror(errno));
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    if (give_to_pg && g_as_pg && fchown(fd, g_pg_uid, g_pg_gid) < 0) {
        seterr(err, errlen, "localpg: cannot chown %s to postgres: %s", path,
               strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* Template copies run in worker threads that, when we are root, take the
 * postgres user as their filesystem identity (setfsuid is per thread), so
 * every file is created with the right owner: no chown per file. Modes are
 * given at creation; fchmod only when the umask may have removed bits. */
static mode_t g_umask = 077; /* read from /proc/self/status at init */

static int fix_mode(int fd, mode_t mode)
{
    return (mode & 0777 & g_umask) ? fchmod(fd, mode & 07777) : 0;
}

static int copy_file_at(int sdir, int ddir, const char *name,
                        const struct stat *st, char *err, size_t errlen)
{
    int in = -1;
    if (st->st_size > 0 &&
        (in = openat(sdir, name, O_RDONLY | O_CLOEXEC)) < 0) {
        seterr(err, errlen, "localpg: cannot read template file %s: %s", name,
               strerror(errno));
        return -1;
    }
    int out = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                     st->st_mode & 0777);
    if (out < 0) {
        seterr(err, errlen, "localpg: cannot create %s: %s", name,
               strerror(errno));
        if (in >= 0)
            close(in);
        return -1;
    }
    off_t left = st->st_size;
    int rc = 0;
    while (left > 0) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            /* Fall back to read/write (other filesystems, old kernels). */
            char buf[65536];
            for (;;) {
                ssize_t r = read(in, buf, sizeof buf);
                if (r < 0 && errno == EINTR)
                    continue;
                if (r <= 0) {
                    rc = r < 0 ? -1 : 0;
                    break;
                }
                if (write(out, buf, (size_t)r) != r) {
                    rc = -1;
                    break;
                }
            }
            break;
        }
        if (n == 0)
            break;
        left -= n;
    }
    if (rc == 0 && fix_mode(out, st->st_mode) < 0)
        rc = -1;
    if (rc < 0)
        seterr(err, errlen, "localpg: cannot copy template file %s: %s", name,
               strerror(errno));
    if (in >= 0)
        close(in);
    close(out);
    return rc;
}

/* Copy the contents of directory sdir into ddir (both open). */
static int copy_dir(int sdir, int ddir, int top, char *err, size_t errlen)
{
    int dup_fd = dup(sdir);
    if (dup_fd < 0)
        return -1;
    DIR *d = fdopendir(dup_fd);
    if (d == NULL) {
        close(dup_fd);
        seterr(err, errlen, "localpg: cannot list the template: %s",
               strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (is_dot(n))
            continue;
        if (top && (strcmp(n, "postmaster.pid") == 0 ||
                    strcmp(n, "postmaster.opts") == 0))
            continue;
        /* Free-space-map and visibility-map forks are optional: PostgreSQL
         * checks smgrexists() and recreates them on demand. Skipping them
         * saves a quarter of the files, and file creation is what a copy
         * costs. */
        size_t len = strlen(n);
        if (len > 4 && (strcmp(n + len - 4, "_fsm") == 0 ||
                        strcmp(n + len - 3, "_vm") == 0))
            continue;
        struct stat st;
        if (fstatat(sdir, n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            seterr(err, errlen, "localpg: cannot stat template file %s: %s", n,
                   strerror(errno));
            rc = -1;
        } else if (S_ISDIR(st.st_mode)) {
            if (mkdirat(ddir, n, st.st_mode & 0777) < 0) {
                seterr(err, errlen, "localpg: cannot create %s: %s", n,
                       strerror(errno));
                rc = -1;
                break;
            }
            int s2 = openat(sdir, n, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            int d2 = openat(ddir, n, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (s2 < 0 || d2 < 0 || fix_mode(d2, st.st_mode) < 0) {
                seterr(err, errlen, "localpg: cannot open %s: %s", n,
                       strerror(errno));
                rc = -1;
            } else {
                rc = copy_dir(s2, d2, 0, err, errlen);
            }
            if (s2 >= 0)
                close(s2);
            if (d2 >= 0)
                close(d2);
        } else if (S_ISREG(st.st_mode)) {
            rc = copy_file_at(sdir, ddir, n, &st, err, errlen);
        } else if (S_ISLNK(st.st_mode)) {
            char target[LP_PATH_MAX * 4];
            ssize_t tlen = readlinkat(sdir, n, target, sizeof target - 1);
            if (tlen >= 0)
                target[tlen] = '\0';
            if (tlen < 0 || symlinkat(target, ddir, n) < 0) {
                seterr(err, errlen, "localpg: cannot copy link %s: %s", n,
                       strerror(errno));
                rc = -1;
            }
        }
    }
    closedir(d);
    return rc;
}

/* Copy directory src to a new directory dst (mode 0700). Call with the
 * filesystem identity of the user the servers run as. */
static int copy_tree(const char *src, const char *dst, char *err, size_t errlen)
{
    if (mkdir(dst, 0700) < 0) {
        seterr(err, errlen, "localpg: cannot create %s: %s", dst,
               strerror(errno));
        return -1;
    }
    int s = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int d = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = -1;
    if (s < 0 || d < 0)
        seterr(err, errlen, "localpg: cannot open %s or %s: %s", src, dst,
               strerror(errno));
    else
        rc = copy_dir(s, d, 1, err, errlen);
    if (s >= 0)
        close(s);
    if (d >= 0)
        close(d);
    return rc;
}

/* Parallel template copies: workers take the next index, the caller waits
 * for each in order and starts its postmaster at once. */
typedef struct copy_job {
    pthread_mutex_t m;
    pthread_cond_t cv;
    localpg_server_t **v;
    int n;
    int next;          /* next index to copy */
    signed char *done; /* 0 pending, 1 copied, -1 failed */
    char (*errs)[256];
} copy_job_t;

static void *copy_worker(void *arg)
{
    copy_job_t *j = arg;
    /* Per thread on Linux (raw syscalls; glibc does not broadcast them). */
    if (g_as_pg) {
        setfsgid(g_pg_gid);
        setfsuid(g_pg_uid);
    }
    for (;;) {
        pthread_mutex_lock(&j->m);
        int i = j->next++;
        pthread_mutex_unlock(&j->m);
        if (i >= j->n)
            break;
        int rc = j->v[i] == NULL ? -1
                                 : copy_tree(g_tmpl_data, j->v[i]->datadir,
                                             j->errs[i], sizeof j->errs[i]);
        pthread_mutex_lock(&j->m);
        j->done[i] = rc == 0 ? 1 : -1;
        pthread_cond_broadcast(&j->cv);
        pthread_mutex_unlock(&j->m);
    }
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Processes                                                              */
/* ---------------------------------------------------------------------- */

/* Async-signal-safe: state, parent and start time of a process; -1 if it
 * does not exist. */
static int proc_stat(pid_t pid, char *state, pid_t *ppid,
                     unsigned long long *born)
{
    char path[48], buf[1024];
    proc_path(path, sizeof path, pid, "stat");
    if (read_small(path, buf, sizeof buf) <= 0)
        return -1;
    char *p = strrchr(buf, ')');
    if (p == NULL || p[1] == '\0')
        return -1;
    p += 2; /* field 3, state */
    if (state)
        *state = *p;
    /* Walk fields 3..22: ppid is 4, starttime 22. */
    int field = 3;
    while (*p && field < 22) {
        while (*p && *p != ' ')
            p++;
        while (*p == ' ')
            p++;
        field++;
        if (field == 4 && ppid)
            *ppid = (pid_t)strtol(p, NULL, 10);
    }
    if (born)
        *born = field == 22 ? strtoull(p, NULL, 10) : 0;
    return 0;
}

/* Gone: no such process, or a zombie nobody has reaped yet. */
static int proc_gone(pid_t pid)
{
    char st = 0;
    if (proc_stat(pid, &st, NULL, NULL) < 0)
        return 1;
    return st == 'Z' || st == 'X';
}

/* The process pid is still the one born at `born`. */
static int proc_same(pid_t pid, unsigned long long born)
{
    unsigned long long b = 0;
    if (pid <= 0 || proc_stat(pid, NULL, NULL, &b) < 0)
        return 0;
    return born == 0 || b == born;
}

/* Async-signal-safe: every (pid, ppid) in /proc. */
static int scan_procs(pidpair_t *v, int max)
{
    int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int n = 0;
    long buf[1024];
    for (;;) {
        long got = syscall(SYS_getdents64, fd, buf, sizeof buf);
        if (got <= 0)
            break;
        for (long off = 0; off < got && n < max;) {
            struct lp_dirent64 *d =
                (struct lp_dirent64 *)(void *)((char *)buf + off);
            off += d->reclen;
            if (d->name[0] < '1' || d->name[0] > '9')
                continue;
            pid_t pid = (pid_t)strtol(d->name, NULL, 10);
            pid_t ppid = 0;
            if (proc_stat(pid, NULL, &ppid, NULL) == 0) {
                v[n].pid = pid;
                v[n].ppid = ppid;
                n++;
            }
        }
    }
    close(fd);
    return n;
}

/* Descendants of root (breadth first) among procs. */
static int descendants(pid_t root, const pidpair_t *procs, int nprocs,
                       pid_t *out, int max)
{
    int n = 0;
    for (int i = -1; i < n; i++) {
        pid_t parent = i < 0 ? root : out[i];
        for (int j = 0; j < nprocs && n < max; j++)
            if (procs[j].ppid == parent)
                out[n++] = procs[j].pid;
    }
    return n;
}

/* Async-signal-safe: SIGSTOP the postmaster, then every descendant, until a
 * scan finds no new one (a stopped process forks no more). Fills out. */
static int stop_tree(pid_t pm, pidpair_t *procs, pid_t *out, int max)
{
    kill(pm, SIGSTOP);
    int n = -1;
    for (int round = 0; round < 10; round++) {
        int np = scan_procs(procs, LP_MAX_PROCS);
        int m = descendants(pm, procs, np, out, max);
        for (int i = 0; i < m; i++)
            kill(out[i], SIGSTOP);
        if (m == n)
            break;
        n = m;
    }
    return n < 0 ? 0 : n;
}

/* Async-signal-safe: wait (bounded) until the postmaster is reaped or gone
 * and every listed descendant is gone. */
static void wait_tree_gone(pid_t pm, const pid_t *desc, int n, int timeout_ms)
{
    int waited = 0;
    for (;;) {
        int st;
        pid_t r = waitpid(pm, &st, WNOHANG);
        if (r == pm || (r < 0 && errno == ECHILD && proc_gone(pm)))
            break;
        if (waited >= timeout_ms)
            return;
        sleep_ms(2);
        waited += 2;
    }
    for (int i = 0; i < n; i++) {
        while (!proc_gone(desc[i]) && waited < timeout_ms) {
            sleep_ms(2);
            waited += 2;
        }
    }
}

/* Async-signal-safe: SIGKILL a postmaster and all its descendants and wait
 * until they are gone. */
static void kill_tree(pid_t pm, pidpair_t *procs, pid_t *desc)
{
    int n = stop_tree(pm, procs, desc, LP_MAX_DESC);
    kill(pm, SIGKILL);
    for (int i = 0; i < n; i++)
        kill(desc[i], SIGKILL);
    kill(pm, SIGCONT);
    for (int i = 0; i < n; i++)
        kill(desc[i], SIGCONT);
    wait_tree_gone(pm, desc, n, LP_KILL_WAIT);
}

/* Async-signal-safe: after every process of a data directory is gone,
 * remove its System V shared memory segment (PostgreSQL leaves it behind on
 * SIGKILL) and its stale postmaster.pid. */
static void clear_stale(const char *datadir, uid_t uid)
{
    char path[LP_PATH_MAX + 32] = "", buf[1024];
    cat(path, sizeof path, datadir);
    cat(path, sizeof path, "/postmaster.pid");
    if (read_small(path, buf, sizeof buf) > 0) {
        /* Line 7: "<key> <id>". */
        char *p = buf;
        for (int line = 1; line < 7 && p; line++) {
            p = strchr(p, '\n');
            if (p)
                p++;
        }
        if (p) {
            char *end;
            long key = strtol(p, &end, 10);
            long id = strtol(end, NULL, 10);
            struct shmid_ds ds;
            if (key > 0 && id >= 0 && shmctl((int)id, IPC_STAT, &ds) == 0 &&
                ds.shm_nattch == 0 && ds.shm_perm.uid == uid &&
                ds.shm_perm.__key == (key_t)key)
                shmctl((int)id, IPC_RMID, NULL);
        }
    }
    unlink(path);
}

static uid_t server_uid(void)
{
    return g_as_pg ? g_pg_uid : geteuid();
}

/* Close every descriptor from `from` up (in a forked child). */
static void close_from(int from)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)from, ~0U, 0) == 0)
        return;
#endif
    for (int fd = from; fd < 65536; fd++)
        close(fd);
}

typedef struct spawn_req {
    const char *const *argv; /* argv[0] is an absolute path */
    char *const *envp;
    const char *out; /* stdout+stderr (appended), NULL: /dev/null */
    const char *cwd; /* NULL: unchanged */
    int as_pg;       /* drop to the postgres user */
    int new_session; /* setsid() */
} spawn_req_t;

/* fork+exec; returns the pid or -1. Only async-signal-safe calls between
 * fork and exec: other threads may hold locks. */
static pid_t spawn(const spawn_req_t *r, char *err, size_t errlen)
{
    int outfd = open(r->out ? r->out : "/dev/null",
                     O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (outfd < 0) {
        seterr(err, errlen, "localpg: cannot open %s: %s",
               r->out ? r->out : "/dev/null", strerror(errno));
        return -1;
    }
    if (r->as_pg && r->out && fchown(outfd, g_pg_uid, g_pg_gid) < 0) {
        seterr(err, errlen, "localpg: cannot chown %s to postgres: %s", r->out,
               strerror(errno));
        close(outfd);
        return -1;
    }
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (nullfd < 0) {
        seterr(err, errlen, "localpg: cannot open /dev/null: %s",
               strerror(errno));
        close(outfd);
        return -1;
    }
    pid_t parent = getpid();
    /* The parent-death signal fires when the forking *thread* ends, so it
     * is only safe from the main thread. */
    int main_thread = (pid_t)syscall(SYS_gettid) == parent;
    pid_t pid = fork();
    if (pid == 0) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        for (int sig = 1; sig < NSIG; sig++)
            if (sig != SIGKILL && sig != SIGSTOP)
                sigaction(sig, &dfl, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (r->new_session)
            setsid();
        if (dup2(nullfd, 0) < 0 || dup2(outfd, 1) < 0 || dup2(outfd, 2) < 0)
            _exit(126);
        close_from(3);
        /* Raw system calls: the child of a threaded process must not rely
         * on glibc's all-threads setxid machinery. */
        if (r->as_pg &&
            (syscall(SYS_setgroups, (size_t)g_pg_ngroups, g_pg_groups) < 0 ||
             syscall(SYS_setgid, g_pg_gid) < 0 ||
             syscall(SYS_setuid, g_pg_uid) < 0)) {
            static const char m[] = "localpg: cannot become postgres\n";
            ssize_t ignored = write(2, m, sizeof m - 1);
            (void)ignored;
            _exit(126);
        }
        if (main_thread) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(126);
        }
        if (r->cwd && chdir(r->cwd) < 0)
            _exit(126);
        execve(r->argv[0], (char *const *)r->argv, r->envp);
        static const char m[] = "localpg: exec failed\n";
        ssize_t ignored = write(2, m, sizeof m - 1);
        (void)ignored;
        _exit(127);
    }
    int saved = errno;
    close(outfd);
    close(nullfd);
    if (pid < 0) {
        seterr(err, errlen, "localpg: fork failed: %s", strerror(saved));
        return -1;
    }
    return pid;
}

/* Run a program to completion; 0 if it exits 0, else -1 with a message. */
static int run_wait(const spawn_req_t *r, int timeout_ms, char *err,
                    size_t errlen)
{
    long from = r->out ? file_size(r->out) : 0;
    pid_t pid = spawn(r, err, errlen);
    if (pid < 0)
        return -1;
    int64_t deadline = now_ms() + timeout_ms;
    int status = 0, delay = 1;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            seterr(err, errlen, "localpg: lost child %s: %s", r->argv[0],
                   strerror(errno));
            return -1;
        }
        if (now_ms() > deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            seterr(err, errlen, "localpg: %s did not finish within %d ms",
                   r->argv[0], timeout_ms);
            return -1;
        }
        sleep_ms(delay);
        if (delay < 20)
            delay *= 2;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    char tail[600] = "";
    if (r->out)
        log_tail(r->out, from, tail, sizeof tail);
    if (WIFEXITED(status))
        seterr(err, errlen, "localpg: %s failed (exit %d): %s", r->argv[0],
               WEXITSTATUS(status), tail);
    else
        seterr(err, errlen, "localpg: %s died of signal %d: %s", r->argv[0],
               WTERMSIG(status), tail);
    return -1;
}

/* ---------------------------------------------------------------------- */
/* Registry, cleanup and signal handlers                                  */
/* ---------------------------------------------------------------------- */

static void registry_add(localpg_server_t *s)
{
    s->next = g_servers;
    g_servers = s;
}

static int registry_remove(localpg_server_t *s)
{
    for (localpg_server_t *volatile *pp = &g_servers; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            return 1;
        }
    }
    return 0;
}

static int registry_has(const localpg_server_t *s)
{
    for (localpg_server_t *p = g_servers; p; p = p->next)
        if (p == s)
            return 1;
    return 0;
}

/* Async-signal-safe: kill every registered server and remove the dirs. */
static void cleanup_from_signal(void)
{
    for (localpg_server_t *s = g_servers; s; s = s->next) {
        if (s->pid > 0 && proc_same(s->pid, s->pid_born)) {
            kill_tree(s->pid, g_sig_procs, g_sig_desc);
            clear_stale(s->datadir, server_uid());
        }
        if (!g_keep)
            rm_tree(s->dir);
    }
    if (!g_keep) {
        rm_tree(g_tmpl_dir);
        for (int i = 0; i < 64; i++)
            rm_tree(g_scratch[i]);
    }
}

static void on_fatal_signal(int sig)
{
    int saved = errno;
    if (getpid() == g_owner && !g_in_signal) {
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

static const char *find_bindir_locked(char *err, size_t errlen)
{
    if (g_bindir[0])
        return g_bindir;
    const char *env = getenv("LOCALPG_BINDIR");
    if (env && *env) {
        if (strlen(env) < sizeof g_bindir && bindir_ok(env)) {
            snprintf(g_bindir, sizeof g_bindir, "%s", env);
            return g_bindir;
        }
        seterr(err, errlen,
               "localpg: LOCALPG_BINDIR=%s holds no postgres and initdb; "
               "point it at a PostgreSQL bin directory or unset it",
               env);
        return NULL;
    }
    if (bindir_ok("/usr/lib/postgresql/15/bin")) {
        snprintf(g_bindir, sizeof g_bindir, "/usr/lib/postgresql/15/bin");
        return g_bindir;
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
        snprintf(g_bindir, sizeof g_bindir, "/usr/lib/postgresql/%ld/bin",
                 best);
        return g_bindir;
    }
    const char *path = getenv("PATH");
    if (path) {
        char copy[4096];
        snprintf(copy, sizeof copy, "%s", path);
        char *save = NULL;
        for (char *dir = strtok_r(copy, ":", &save); dir;
             dir = strtok_r(NULL, ":", &save)) {
            if (*dir == '/' && strlen(dir) < sizeof g_bindir &&
                bindir_ok(dir)) {
                snprintf(g_bindir, sizeof g_bindir, "%s", dir);
                return g_bindir;
            }
        }
    }
    seterr(err, errlen,
           "localpg: PostgreSQL server binaries (postgres, initdb) not found "
           "in /usr/lib/postgresql/*/bin or PATH; install postgresql-15 "
           "(scripts/setup) or set LOCALPG_BINDIR");
    return NULL;
}

/* Once per process (again after a fork): owner, user, environment,
 * handlers. A forked child forgets the parent's registry without touching
 * the parent's servers. */
static int init_process(char *err, size_t errlen)
{
    pid_t me = getpid();
    if (g_owner == me)
        return 0;
    if (g_owner != 0) {
        while (g_servers) {
            localpg_server_t *s = g_servers;
            g_servers = s->next;
            free(s->password);
            free(s);
        }
        g_tmpl_dir[0] = g_tmpl_data[0] = '\0';
        for (int i = 0; i < 64; i++)
            g_scratch[i][0] = '\0';
        g_bindir[0] = '\0';
    }
    if (find_bindir_locked(err, errlen) == NULL)
        return -1;
    g_as_pg = geteuid() == 0;
    if (g_as_pg) {
        struct passwd pw, *res = NULL;
        char buf[4096];
        if (getpwnam_r("postgres", &pw, buf, sizeof buf, &res) != 0 ||
            res == NULL) {
            seterr(err, errlen,
                   "localpg: running as root but there is no 'postgres' "
                   "user to run the servers; install postgresql-15 or run "
                   "as an ordinary user");
            return -1;
        }
        g_pg_uid = pw.pw_uid;
        g_pg_gid = pw.pw_gid;
        g_pg_ngroups = (int)(sizeof g_pg_groups / sizeof g_pg_groups[0]);
        if (getgrouplist("postgres", g_pg_gid, g_pg_groups, &g_pg_ngroups) <
            0) {
            g_pg_groups[0] = g_pg_gid;
            g_pg_ngroups = 1;
        }
    }
    /* The umask, without the race of umask(umask(0)). */
    char status[4096];
    if (read_small("/proc/self/status", status, sizeof status) > 0) {
        const char *u = strstr(status, "Umask:");
        if (u)
            g_umask = (mode_t)strtol(u + 6, NULL, 8);
    }
    const char *keep = getenv("LOCALPG_KEEP");
    g_keep = keep && *keep && strcmp(keep, "0") != 0;
    const char *debug = getenv("LOCALPG_DEBUG");
    g_debug = debug && *debug && strcmp(debug, "0") != 0;

    /* A clean environment for children: PG* variables set for the tests
     * (PGSSLMODE, PGOPTIONS, ...) must not reach initdb or the servers. */
    int n = 0;
    snprintf(g_env_path, sizeof g_env_path, "PATH=%s:/usr/bin:/bin", g_bindir);
    g_env[n++] = g_env_path;
    g_env[n++] = (char *)"LC_ALL=C";
    g_env[n++] = (char *)"LANG=C";
    const char *tz = getenv("TZ");
    if (tz && strlen(tz) + 4 < sizeof g_env_tz) {
        snprintf(g_env_tz, sizeof g_env_tz, "TZ=%s", tz);
        g_env[n++] = g_env_tz;
    }
    g_env[n] = NULL;

    g_owner = me;
    install_handlers();
    return 0;
}

/* The parent directory to use, absolute, checked for the postgres user. */
static int resolve_parent(const char *want, char *out, size_t outlen, char *err,
                          size_t errlen)
{
    const char *p = want;
    if (p == NULL || *p == '\0')
        p = getenv("TMPDIR");
    if (p == NULL || *p == '\0')
        p = "/tmp";
    char real[PATH_MAX];
    if (realpath(p, real) == NULL) {
        seterr(err, errlen,
               "localpg: parent directory %s is unusable: %s; create it or "
               "set TMPDIR",
               p, strerror(errno));
        return -1;
    }
    if (g_as_pg) {
        /* Every component must be traversable by postgres. */
        char part[PATH_MAX];
        snprintf(part, sizeof part, "%s", real);
        for (;;) {
            struct stat st;
            if (stat(part, &st) == 0 && !(st.st_mode & S_IXOTH) &&
                !(st.st_uid == g_pg_uid && (st.st_mode & S_IXUSR)) &&
                !(st.st_gid == g_pg_gid && (st.st_mode & S_IXGRP))) {
                seterr(err, errlen,
                       "localpg: %s is not traversable by the postgres "
                       "user; chmod o+x it or choose another parent_dir/TMPDIR",
                       part);
                return -1;
            }
            char *slash = strrchr(part, '/');
            if (slash == NULL || slash == part)
                break;
            *slash = '\0';
        }
    }
    snprintf(out, outlen, "%s", real);
    return 0;
}

/* Make <parent>/localpg-<name>-<pid>-<n>-XXXXXX with owner.pid. */
static int make_dir(const char *parent, const char *name, char *out,
                    size_t outlen, char *err, size_t errlen)
{
    char clean[17];
    size_t j = 0;
    for (const char *p = name && *name ? name : "pg"; *p && j < 16; p++)
        clean[j++] =
            (char)((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                           (*p >= '0' && *p <= '9') || *p == '_'
                       ? *p
                       : '_');
    clean[j] = '\0';
    int w = snprintf(out, outlen, "%s/localpg-%s-%d-%u-XXXXXX", parent, clean,
                     (int)getpid(), ++g_seq);
    if (w < 0 || (size_t)w >= outlen ||
        (size_t)w + LP_SOCK_LEAF_LEN > LP_SOCK_PATH_MAX) {
        seterr(err, errlen,
               "localpg: directory name under %s is too long for a Unix "
               "socket path; use a shorter TMPDIR, parent_dir or name",
               parent);
        return -1;
    }
    if (mkdtemp(out) == NULL) {
        seterr(err, errlen, "localpg: cannot create a directory in %s: %s",
               parent, strerror(errno));
        return -1;
    }
    unsigned long long born = 0;
    proc_stat(getpid(), NULL, NULL, &born);
    char path[LP_PATH_MAX + 16], line[64];
    snprintf(path, sizeof path, "%s/owner.pid", out);
    int n = snprintf(line, sizeof line, "%d %llu\n", (int)getpid(), born);
    int rc = write_file(path, line, (size_t)n, O_TRUNC, 0644, 0, err, errlen);
    if (rc < 0 || chown_pg(out) < 0) {
        if (rc == 0)
            seterr(err, errlen, "localpg: cannot chown %s to postgres: %s", out,
                   strerror(errno));
        rm_tree(out);
        return -1;
    }
    return 0;
}

/* initdb once per process into a template directory. */
static int ensure_template(const char *parent, char *err, size_t errlen)
{
    if (g_tmpl_data[0])
        return 0;
    char dir[LP_PATH_MAX];
    if (make_dir(parent, "template", dir, sizeof dir, err, errlen) < 0)
        return -1;
    snprintf(g_tmpl_dir, sizeof g_tmpl_dir, "%s", dir);
    char data[LP_PATH_MAX + 8], log[LP_PATH_MAX + 16], initdb[LP_PATH_MAX + 8];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(log, sizeof log, "%s/initdb.log", dir);
    snprintf(initdb, sizeof initdb, "%s/initdb", g_bindir);
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
    spawn_req_t r = {argv, g_env, log, dir, g_as_pg, 0};
    if (run_wait(&r, 120000, err, errlen) < 0)
        goto fail;
    static const char inc[] =
        "\n# localpg: per-server settings; the port is on the command line\n"
        "include = 'localpg.conf'\n";
    char conf[LP_PATH_MAX + 32];
    snprintf(conf, sizeof conf, "%s/postgresql.conf", data);
    if (write_file(conf, inc, sizeof inc - 1, O_APPEND, 0600, 1, err, errlen) <
        0)
        goto fail;
    snprintf(g_tmpl_data, sizeof g_tmpl_data, "%s", data);
    return 0;
fail:
    rm_tree(g_tmpl_dir);
    g_tmpl_dir[0] = '\0';
    return -1;
}

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
        sb_printf(&b, "# From the primary:\n");
        while (f && fgets(line, sizeof line, f))
            if (line[0] != '#')
                sb_printf(&b, "%s%s", line, strchr(line, '\n') ? "" : "\n");
        if (f)
            fclose(f);
        maxconn = o->max_connections; /* 0: not set here */
    }
    sb_printf(&b, "# Written by localpg for a throwaway server; later lines "
                  "win.\nlisten_addresses = '127.0.0.1'\n"
                  "unix_socket_directories = ");
    sb_conf_quote(&b, s->dir);
    sb_printf(&b, "\nfsync = off\nsynchronous_commit = off\n"
                  "full_page_writes = off\nshared_buffers = 16MB\n"
                  "huge_pages = off\n"
                  "logging_collector = off\nlog_destination = 'stderr'\n"
                  "log_connections = on\n");
    if (maxconn > 0)
        sb_printf(&b, "max_connections = %d\n", maxconn);
    if (maxconn > 0 && maxconn <= 3)
        sb_printf(&b, "superuser_reserved_connections = 0\n");
    if (o->logical)
        sb_printf(&b, "wal_level = logical\nmax_replication_slots = 20\n"
                      "max_wal_senders = 20\n");
    for (const char *const *l = o->conf_lines; l && *l; l++)
        sb_printf(&b, "%s\n", *l);

    sbuf_t h = {0};
    const char *method = o->password ? "scram-sha-256" : "trust";
    int has_local = 0;
    for (const char *const *l = o->hba_lines; l && *l; l++) {
        const char *p = *l;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, "local", 5) == 0 && (p[5] == ' ' || p[5] == '\t'))
            has_local = 1;
    }
    sb_printf(&h, "# Written by localpg.\n");
    if (!has_local)
        sb_printf(&h, "local all all trust\nlocal replication all trust\n");
    if (o->hba_lines) {
        for (const char *const *l = o->hba_lines; *l; l++)
            sb_printf(&h, "%s\n", *l);
    } else {
        sb_printf(&h,
                  "host all all 127.0.0.1/32 %s\n"
                  "host replication all 127.0.0.1/32 %s\n",
                  method, method);
    }

    int rc = -1;
    if (b.oom || h.oom) {
        seterr(err, errlen, "localpg: out of memory");
        goto out;
    }
    if (write_file(path, b.p, b.len, O_TRUNC, 0600, 1, err, errlen) < 0)
        goto out;
    snprintf(path, sizeof path, "%s/pg_hba.conf", s->datadir);
    if (write_file(path, h.p, h.len, O_TRUNC, 0600, 1, err, errlen) < 0)
        goto out;
    if (!conf_has_include(s->datadir)) {
        static const char inc[] = "\ninclude = 'localpg.conf'\n";
        snprintf(path, sizeof path, "%s/postgresql.conf", s->datadir);
        if (write_file(path, inc, sizeof inc - 1, O_APPEND, 0600, 1, err,
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
    snprintf(bin, sizeof bin, "%s/pg_basebackup", g_bindir);
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
    for (; g_env[n]; n++)
        env[n] = g_env[n];
    if (o->password) {
        snprintf(pw, sizeof pw, "PGPASSWORD=%s", o->password);
        env[n++] = pw;
    }
    env[n] = NULL;
    char log[LP_PATH_MAX + 16];
    snprintf(log, sizeof log, "%s/basebackup.log", s->dir);
    spawn_req_t r = {argv, env, log, s->dir, g_as_pg, 0};
    int rc = run_wait(&r, s->timeout_ms, err, errlen);
    explicit_bzero(pw, sizeof pw);
    return rc;
}

static void free_server(localpg_server_t *s)
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
static void discard_server(localpg_server_t *s)
{
    if (s->pid > 0 && proc_same(s->pid, s->pid_born)) {
        kill_tree(s->pid, g_procs, g_desc);
        clear_stale(s->datadir, server_uid());
    }
    s->pid = 0;
    registry_remove(s);
    if (g_keep)
        fprintf(stderr, "localpg: kept %s (LOCALPG_KEEP)\n", s->dir);
    else
        rm_tree(s->dir);
    free_server(s);
}

static localpg_server_t *prepare_server(const localpg_options_t *o,
                                        const char *parent, char *err,
                                        size_t errlen)
{
    localpg_server_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        seterr(err, errlen, "localpg: out of memory");
        return NULL;
    }
    snprintf(s->name, sizeof s->name, "%s", o->name ? o->name : "pg");
    s->timeout_ms =
        o->start_timeout_ms > 0 ? o->start_timeout_ms : LP_DEFAULT_TIMEOUT;
    s->standby = o->standby_of_host != NULL;
    if (o->password && (s->password = strdup(o->password)) == NULL) {
        seterr(err, errlen, "localpg: out of memory");
        free(s);
        return NULL;
    }
    if (make_dir(parent, s->name, s->dir, sizeof s->dir, err, errlen) < 0) {
        free_server(s);
        return NULL;
    }
    registry_add(s);
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
        write_file(s->logfile, "", 0, O_APPEND, 0600, 1, err, errlen) < 0)
        return -1;
    s->auto_port = o->port <= 0;
    s->port = s->auto_port ? pick_port(s) : o->port + index;
    if (s->port <= 0) {
        seterr(err, errlen,
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
    for (localpg_server_t *p = g_servers; p; p = p->next)
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
    if (read_small("/proc/sys/net/ipv4/ip_local_port_range", buf, sizeof buf) >
        0)
        low = strtol(buf, NULL, 10);
    if (low > 12000) {
        long lo = low - 10000 > 20000 ? 20000 : low - 10000;
        long span = low - lo;
        for (int i = 0; i < 200; i++) {
            int p = (int)(lo + (long)(next_rand() % (uint64_t)span));
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
        conninfo_add(s->conninfo, sizeof s->conninfo, "password", s->password);
}

/* The fixture's own way in: the Unix socket, local trust, and explicit
 * settings so that PG* variables set by tests do not interfere. */
static void local_conninfo(const localpg_server_t *s, const char *dbname,
                           char *buf, size_t size)
{
    buf[0] = '\0';
    conninfo_add(buf, size, "host", s->dir);
    conninfo_add(buf, size, "hostaddr", "");
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    conninfo_add(buf, size, "port", port);
    conninfo_add(buf, size, "user", "postgres");
    conninfo_add(buf, size, "dbname", dbname ? dbname : "postgres");
    conninfo_add(buf, size, "connect_timeout", "10");
    conninfo_add(buf, size, "sslmode", "disable");
    conninfo_add(buf, size, "gssencmode", "disable");
    conninfo_add(buf, size, "channel_binding", "disable");
    conninfo_add(buf, size, "target_session_attrs", "any");
    conninfo_add(buf, size, "options", "");
    conninfo_add(buf, size, "application_name", "localpg");
}

static int spawn_postmaster(localpg_server_t *s, char *err, size_t errlen)
{
    char bin[LP_PATH_MAX + 16], port[16];
    snprintf(bin, sizeof bin, "%s/postgres", g_bindir);
    snprintf(port, sizeof port, "%d", s->port);
    const char *argv[] = {bin, "-D", s->datadir, "-p", port, NULL};
    spawn_req_t r = {argv, g_env, s->logfile, s->dir, g_as_pg, 1};
    s->log_offset = file_size(s->logfile);
    pid_t pid = spawn(&r, err, errlen);
    if (pid < 0)
        return -1;
    s->pid = pid;
    s->pid_born = 0;
    proc_stat(pid, NULL, NULL, &s->pid_born);
    s->frozen = 0;
    return 0;
}

static int log_says_port_taken(const localpg_server_t *s)
{
    char tail[2048];
    log_tail(s->logfile, s->log_offset, tail, sizeof tail);
    return strstr(tail, "could not bind") != NULL ||
           strstr(tail, "Address already in use") != NULL ||
           strstr(tail, "could not create any TCP/IP sockets") != NULL;
}

static int set_password(localpg_server_t *s, char *err, size_t errlen);

/* Whether postmaster.pid says "ready" or "standby" (line 8), as pg_ctl
 * reads it: much cheaper to poll than a connection. */
static int pidfile_ready(const localpg_server_t *s)
{
    char path[LP_PATH_MAX + 32], buf[1024];
    snprintf(path, sizeof path, "%s/postmaster.pid", s->datadir);
    if (read_small(path, buf, sizeof buf) <= 0)
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
        seterr(err, errlen, "localpg: out of memory");
        return -1;
    }
    int64_t start = now_ms();
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
                log_report(s->logfile, s->log_offset, report, sizeof report);
                seterr(err, errlen,
                       "localpg: postgres %s (port %d) exited during start "
                       "(%s %d): %s",
                       s->name, s->port, WIFEXITED(st) ? "exit" : "signal",
                       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), report);
                free(ready);
                return -1;
            }
            /* The pid file is cheap; a connection now and then as well, in
             * case a server never writes the status line. */
            if (!pidfile_ready(s) && now_ms() < next_ping)
                goto not_yet;
            local_conninfo(s, NULL, info, sizeof info);
            if (PQping(info) == PQPING_OK) {
                if (g_debug) {
                    char what[LP_PATH_MAX + 16];
                    snprintf(what, sizeof what, "ready: %s", s->dir);
                    trace(what);
                }
                ready[i] = 1;
                left--;
                continue;
            }
        not_yet:
            if (now_ms() - start > s->timeout_ms) {
                char report[1300];
                log_report(s->logfile, s->log_offset, report, sizeof report);
                seterr(err, errlen,
                       "localpg: postgres %s (port %d) not ready within %d "
                       "ms (raise start_timeout_ms if the machine is slow): "
                       "%s",
                       s->name, s->port, s->timeout_ms, report);
                free(ready);
                return -1;
            }
        }
        if (now_ms() >= next_ping)
            next_ping = now_ms() + 100;
        if (left > 0) {
            sleep_ms(delay);
            if (delay < 5)
                delay++;
        }
    }
    free(ready);
    for (int i = 0; i < n; i++) {
        build_conninfo(v[i]);
        if (v[i]->password && !v[i]->standby &&
            set_password(v[i], err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* SQL through the local socket                                           */
/* ---------------------------------------------------------------------- */

static PGconn *connect_local(const localpg_server_t *s, const char *dbname,
                             char *err, size_t errlen)
{
    char info[LP_PATH_MAX * 3];
    local_conninfo(s, dbname, info, sizeof info);
    PGconn *c = PQconnectdb(info);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        seterr(err, errlen, "localpg: cannot connect to %s (port %d): %s",
               s->name, s->port, c ? PQerrorMessage(c) : "out of memory");
        PQfinish(c);
        return NULL;
    }
    return c;
}

static int check_result(const localpg_server_t *s, PGresult *r, char *err,
                        size_t errlen)
{
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return 0;
    seterr(err, errlen, "localpg: SQL failed on %s (port %d): %s", s->name,
           s->port, r ? PQresultErrorMessage(r) : "out of memory");
    return -1;
}

static int set_password(localpg_server_t *s, char *err, size_t errlen)
{
    PGconn *c = connect_local(s, NULL, err, errlen);
    if (c == NULL)
        return -1;
    char *lit = PQescapeLiteral(c, s->password, strlen(s->password));
    int rc = -1;
    if (lit) {
        size_t len = strlen(lit) + 64;
        char *sql = malloc(len);
        if (sql) {
            snprintf(sql, len, "ALTER USER postgres PASSWORD %s", lit);
            PGresult *r = PQexec(c, sql);
            rc = check_result(s, r, err, errlen);
            PQclear(r);
            explicit_bzero(sql, len);
            free(sql);
        }
        explicit_bzero(lit, strlen(lit));
        PQfreemem(lit);
    }
    if (rc < 0 && lit == NULL)
        seterr(err, errlen, "localpg: out of memory");
    PQfinish(c);
    return rc;
}

int localpg_exec(localpg_server_t *s, const char *dbname, const char *sql,
                 char **out, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    if (s == NULL || sql == NULL) {
        seterr(err, errlen, "localpg: exec needs a server and SQL");
        return -1;
    }
    PGconn *c = connect_local(s, dbname, err, errlen);
    if (c == NULL)
        return -1;
    PGresult *r = PQexec(c, sql);
    int rc = check_result(s, r, err, errlen);
    if (rc == 0 && out && PQresultStatus(r) == PGRES_TUPLES_OK &&
        PQntuples(r) > 0 && PQnfields(r) > 0 && !PQgetisnull(r, 0, 0)) {
        *out = strdup(PQgetvalue(r, 0, 0));
        if (*out == NULL) {
            seterr(err, errlen, "localpg: out of memory");
            rc = -1;
        }
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}

int localpg_count_connections(localpg_server_t *s, const char *app_name)
{
    if (s == NULL || app_name == NULL)
        return -1;
    PGconn *c = connect_local(s, NULL, NULL, 0);
    if (c == NULL)
        return -1;
    const char *params[1] = {app_name};
    PGresult *r = PQexecParams(c,
                               "SELECT count(*) FROM pg_stat_activity "
                               "WHERE application_name = $1",
                               1, NULL, params, NULL, NULL, 0);
    int n = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return n;
}

/* ---------------------------------------------------------------------- */
/* Public API                                                             */
/* ---------------------------------------------------------------------- */

void localpg_options_init(localpg_options_t *opts)
{
    if (opts)
        memset(opts, 0, sizeof *opts);
}

const char *localpg_find_bindir(char *err, size_t errlen)
{
    pthread_mutex_lock(&g_lock);
    const char *d = find_bindir_locked(err, errlen);
    pthread_mutex_unlock(&g_lock);
    return d;
}

static int start_many_locked(const localpg_options_t *opts, int n,
                             localpg_server_t **out, char *err, size_t errlen)
{
    char parent[PATH_MAX];
    if (init_process(err, errlen) < 0 ||
        resolve_parent(opts->parent_dir, parent, sizeof parent, err, errlen) <
            0)
        return -1;
    static int reaped;
    if (!reaped) {
        reaped = 1;
        /* Leftovers of crashed runs, before we add our own. */
        pthread_mutex_unlock(&g_lock);
        localpg_reap_stale(parent);
        pthread_mutex_lock(&g_lock);
    }
    trace("start: init and reap");
    if (opts->standby_of_host == NULL &&
        ensure_template(parent, err, errlen) < 0)
        return -1;
    trace("template ready");
    if (opts->standby_of_host && opts->standby_of_port <= 0) {
        seterr(err, errlen, "localpg: standby_of_host needs standby_of_port");
        return -1;
    }
    int rc = -1;
    for (int i = 0; i < n; i++)
        if ((out[i] = prepare_server(opts, parent, err, errlen)) == NULL)
            goto fail;

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
        seterr(err, errlen, "localpg: out of memory");
        goto copies_done;
    }
    if (opts->standby_of_host == NULL) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        int want = (int)(cpus < 1 ? 1 : cpus > 16 ? 16 : cpus);
        if (want > n)
            want = n;
        for (; nworkers < want; nworkers++)
            if (pthread_create(&workers[nworkers], NULL, copy_worker, &job))
                break;
        if (nworkers == 0) {
            seterr(err, errlen, "localpg: cannot start a copy thread");
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
                seterr(err, errlen, "%s", job.errs[i]);
                goto copies_done;
            }
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
    trace("data directories copied, postmasters spawned");
    if (wait_ready(out, n, err, errlen) < 0)
        goto fail;
    trace("servers ready");
    return 0;
fail:
    for (int i = 0; i < n; i++) {
        if (out[i])
            discard_server(out[i]);
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
        seterr(err, errlen,
               "localpg: start_many needs 1..%d servers and an "
               "output array",
               LP_MAX_SERVERS_MANY);
        return -1;
    }
    for (int i = 0; i < n; i++)
        out[i] = NULL;
    pthread_mutex_lock(&g_lock);
    int rc = start_many_locked(opts, n, out, err, errlen);
    pthread_mutex_unlock(&g_lock);
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

const char *localpg_last_error(const localpg_server_t *s)
{
    return s ? s->lasterr : "";
}

int localpg_is_running(const localpg_server_t *s)
{
    return s && s->pid > 0 && proc_same(s->pid, s->pid_born) &&
           !proc_gone(s->pid);
}

/* Common prologue of the lifecycle calls: lock, check the server. */
static int lifecycle_begin(localpg_server_t *s, int need_running)
{
    if (s == NULL)
        return -1;
    pthread_mutex_lock(&g_lock);
    s->lasterr[0] = '\0';
    if (!registry_has(s)) {
        pthread_mutex_unlock(&g_lock);
        return -1;
    }
    if (need_running && (s->pid <= 0 || !proc_same(s->pid, s->pid_born))) {
        seterr(s->lasterr, sizeof s->lasterr,
               "localpg: server %s (port %d) is not running; restart it "
               "first",
               s->name, s->port);
        pthread_mutex_unlock(&g_lock);
        return -1;
    }
    return 0;
}

static void kill_locked(localpg_server_t *s)
{
    if (s->pid > 0 && proc_same(s->pid, s->pid_born))
        kill_tree(s->pid, g_procs, g_desc);
    else if (s->pid > 0)
        waitpid(s->pid, NULL, WNOHANG);
    s->pid = 0;
    s->frozen = 0;
    clear_stale(s->datadir, server_uid());
}

int localpg_kill(localpg_server_t *s)
{
    if (lifecycle_begin(s, 1) < 0)
        return -1;
    kill_locked(s);
    pthread_mutex_unlock(&g_lock);
    return 0;
}

int localpg_freeze(localpg_server_t *s)
{
    if (lifecycle_begin(s, 1) < 0)
        return -1;
    if (!s->frozen)
        stop_tree(s->pid, g_procs, g_desc, LP_MAX_DESC);
    s->frozen = 1;
    pthread_mutex_unlock(&g_lock);
    return 0;
}

static void thaw_locked(localpg_server_t *s)
{
    int np = scan_procs(g_procs, LP_MAX_PROCS);
    int n = descendants(s->pid, g_procs, np, g_desc, LP_MAX_DESC);
    for (int i = 0; i < n; i++)
        kill(g_desc[i], SIGCONT);
    kill(s->pid, SIGCONT);
    s->frozen = 0;
}

int localpg_thaw(localpg_server_t *s)
{
    if (lifecycle_begin(s, 1) < 0)
        return -1;
    thaw_locked(s);
    pthread_mutex_unlock(&g_lock);
    return 0;
}

/* Fast shutdown (SIGINT), SIGKILL if it takes longer than the bound. */
static int stop_locked(localpg_server_t *s)
{
    if (s->pid <= 0)
        return 0;
    if (!proc_same(s->pid, s->pid_born)) {
        kill_locked(s);
        return 0;
    }
    if (s->frozen)
        thaw_locked(s);
    kill(s->pid, SIGINT);
    int64_t deadline = now_ms() + LP_STOP_TIMEOUT;
    int delay = 1;
    for (;;) {
        int st;
        pid_t r = waitpid(s->pid, &st, WNOHANG);
        if (r == s->pid || (r < 0 && errno == ECHILD && proc_gone(s->pid)))
            break;
        if (now_ms() > deadline) {
            kill_locked(s);
            seterr(s->lasterr, sizeof s->lasterr,
                   "localpg: server %s (port %d) ignored a fast shutdown for "
                   "%d ms and was killed",
                   s->name, s->port, LP_STOP_TIMEOUT);
            return -1;
        }
        sleep_ms(delay);
        if (delay < 10)
            delay++;
    }
    s->pid = 0;
    s->frozen = 0;
    clear_stale(s->datadir, server_uid());
    return 0;
}

int localpg_stop(localpg_server_t *s)
{
    if (lifecycle_begin(s, 0) < 0)
        return -1;
    int rc = stop_locked(s);
    pthread_mutex_unlock(&g_lock);
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
        /* The same port: whoever connects knows this one. */
        int saved_auto = s->auto_port;
        s->auto_port = 0;
        rc = spawn_postmaster(s, err, sizeof err);
        if (rc == 0)
            rc = wait_ready(&s, 1, err, sizeof err);
        s->auto_port = saved_auto;
        if (rc < 0) {
            kill_locked(s);
            snprintf(s->lasterr, sizeof s->lasterr, "%s", err);
        }
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

void localpg_destroy(localpg_server_t *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&g_lock);
    if (registry_has(s) && getpid() == g_owner)
        discard_server(s);
    pthread_mutex_unlock(&g_lock);
}

int localpg_log_count(const localpg_server_t *s, const char *needle)
{
    if (s == NULL || needle == NULL || *needle == '\0')
        return -1;
    FILE *f = fopen(s->logfile, "re");
    if (f == NULL)
        return -1;
    int count = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) >= 0)
        if (strstr(line, needle))
            count++;
    free(line);
    fclose(f);
    return count;
}

void localpg_cleanup_all(void)
{
    if (g_owner == 0 || getpid() != g_owner)
        return;
    /* At exit another thread may still hold the lock: wait a little, then
     * clean up anyway (best effort beats leaving servers behind). */
    int locked = 0;
    for (int i = 0; i < 400 && !locked; i++) {
        locked = pthread_mutex_trylock(&g_lock) == 0;
        if (!locked)
            sleep_ms(5);
    }
    while (g_servers)
        discard_server(g_servers);
    if (g_tmpl_dir[0] && !g_keep)
        rm_tree(g_tmpl_dir);
    g_tmpl_dir[0] = g_tmpl_data[0] = '\0';
    for (int i = 0; i < 64; i++) {
        if (g_scratch[i][0] && !g_keep)
            rm_tree(g_scratch[i]);
        g_scratch[i][0] = '\0';
    }
    if (locked)
        pthread_mutex_unlock(&g_lock);
}

/* Whether /proc/<pid>/cmdline is a postgres started with -D datadir. */
static int is_postmaster_of(pid_t pid, const char *datadir)
{
    char path[48], buf[4096];
    proc_path(path, sizeof path, pid, "cmdline");
    ssize_t n = read_small(path, buf, sizeof buf);
    if (n <= 0)
        return 0;
    const char *arg0 = buf;
    const char *base = strrchr(arg0, '/');
    base = base ? base + 1 : arg0;
    if (strcmp(base, "postgres") != 0 && strcmp(base, "postmaster") != 0)
        return 0;
    for (const char *p = buf; p < buf + n; p += strlen(p) + 1) {
        const char *next = p + strlen(p) + 1;
        if (strcmp(p, "-D") == 0 && next < buf + n)
            return strcmp(next, datadir) == 0;
    }
    return 0;
}

/* Whether the owner named in dir/owner.pid is gone. -1: no owner.pid. */
static int owner_gone(const char *dir)
{
    char path[PATH_MAX + 16], buf[128];
    snprintf(path, sizeof path, "%s/owner.pid", dir);
    if (read_small(path, buf, sizeof buf) <= 0)
        return -1;
    char *end;
    long pid = strtol(buf, &end, 10);
    unsigned long long born = strtoull(end, NULL, 10);
    if (pid <= 0)
        return -1;
    if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
        return 1;
    unsigned long long b = 0;
    if (proc_stat((pid_t)pid, NULL, NULL, &b) < 0)
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
    pthread_mutex_lock(&g_lock);
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
        if (read_small(pidfile, buf, sizeof buf) > 0) {
            pid_t pm = (pid_t)strtol(buf, NULL, 10);
            if (pm > 0 && is_postmaster_of(pm, data)) {
                kill_tree(pm, g_procs, g_desc);
                clear_stale(data, st.st_uid);
            }
        }
        rm_tree(dir);
        removed++;
    }
    closedir(d);
    pthread_mutex_unlock(&g_lock);
    return removed;
}

/* ---------------------------------------------------------------------- */
/* Scratch directories and helper programs                                */
/* ---------------------------------------------------------------------- */

int localpg_make_dir(const char *name, const char *parent_dir, char *out,
                     size_t outlen, char *err, size_t errlen)
{
    pthread_mutex_lock(&g_lock);
    char parent[PATH_MAX];
    int rc = -1;
    if (init_process(err, errlen) == 0 &&
        resolve_parent(parent_dir, parent, sizeof parent, err, errlen) == 0)
        rc = make_dir(parent, name, out, outlen, err, errlen);
    for (int i = 0; rc == 0 && i < 64; i++) {
        if (g_scratch[i][0] == '\0') {
            snprintf(g_scratch[i], sizeof g_scratch[i], "%s", out);
            break;
        }
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

void localpg_remove_dir(const char *path)
{
    if (path == NULL || strstr(path, "/localpg-") == NULL)
        return;
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < 64; i++)
        if (strcmp(g_scratch[i], path) == 0)
            g_scratch[i][0] = '\0';
    pthread_mutex_unlock(&g_lock);
    if (g_keep) {
        fprintf(stderr, "localpg: kept %s (LOCALPG_KEEP)\n", path);
        return;
    }
    rm_tree(path);
}

int localpg_chown(const char *path)
{
    pthread_mutex_lock(&g_lock);
    int rc = init_process(NULL, 0) == 0 ? chown_pg(path) : -1;
    pthread_mutex_unlock(&g_lock);
    return rc;
}

int localpg_run(const char *const *argv, const char *logfile, int timeout_ms,
                char *err, size_t errlen)
{
    if (argv == NULL || argv[0] == NULL) {
        seterr(err, errlen, "localpg: run needs a program");
        return -1;
    }
    char prog[PATH_MAX];
    if (strchr(argv[0], '/')) {
        snprintf(prog, sizeof prog, "%s", argv[0]);
    } else {
        /* Look it up in our PATH before fork (execvp is not safe there). */
        const char *path = getenv("PATH");
        char copy[4096];
        snprintf(copy, sizeof copy, "%s",
                 path && *path ? path : "/usr/bin:/bin");
        prog[0] = '\0';
        char *save = NULL;
        for (char *dir = strtok_r(copy, ":", &save); dir;
             dir = strtok_r(NULL, ":", &save)) {
            char cand[PATH_MAX];
            if (snprintf(cand, sizeof cand, "%s/%s", dir, argv[0]) <
                    (int)sizeof cand &&
                access(cand, X_OK) == 0) {
                snprintf(prog, sizeof prog, "%s", cand);
                break;
            }
        }
        if (prog[0] == '\0') {
            seterr(err, errlen, "localpg: %s not found in PATH; install it",
                   argv[0]);
            return -1;
        }
    }
    size_t n = 0;
    while (argv[n])
        n++;
    const char **v = calloc(n + 1, sizeof *v);
    if (v == NULL) {
        seterr(err, errlen, "localpg: out of memory");
        return -1;
    }
    v[0] = prog;
    for (size_t i = 1; i < n; i++)
        v[i] = argv[i];
    pthread_mutex_lock(&g_lock);
    int rc = init_process(err, errlen);
    if (rc == 0) {
        spawn_req_t r = {v, g_env, logfile, NULL, 0, 0};
        rc = run_wait(&r, timeout_ms > 0 ? timeout_ms : 60000, err, errlen);
    }
    pthread_mutex_unlock(&g_lock);
    free(v);
    return rc;
}
