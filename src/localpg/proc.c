/* SPDX-License-Identifier: MIT */
/*
 * proc.c - process control: /proc scans, the process tree of a postmaster
 * (stop, kill, wait until gone), what a killed server leaves behind, and
 * fork+exec of servers and helper programs as the postgres user. The tree
 * and cleanup functions are async-signal-safe: the fatal-signal handler
 * (registry.c) calls them.
 */
#include "localpg_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* ---------------------------------------------------------------------- */
/* Processes                                                              */
/* ---------------------------------------------------------------------- */

/* Async-signal-safe: state, parent and start time of a process; -1 if it
 * does not exist. */
int lp_proc_stat(pid_t pid, char *state, pid_t *ppid, unsigned long long *born)
{
    char path[48], buf[1024];
    lp_proc_path(path, sizeof path, pid, "stat");
    if (lp_read_small(path, buf, sizeof buf) <= 0)
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
int lp_proc_gone(pid_t pid)
{
    char st = 0;
    if (lp_proc_stat(pid, &st, NULL, NULL) < 0)
        return 1;
    return st == 'Z' || st == 'X';
}

/* The process pid is still the one born at `born`. */
int lp_proc_same(pid_t pid, unsigned long long born)
{
    unsigned long long b = 0;
    if (pid <= 0 || lp_proc_stat(pid, NULL, NULL, &b) < 0)
        return 0;
    return born == 0 || b == born;
}

/* Async-signal-safe: every (pid, ppid) in /proc. */
int lp_scan_procs(pidpair_t *v, int max)
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
            if (lp_proc_stat(pid, NULL, &ppid, NULL) == 0) {
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
int lp_descendants(pid_t root, const pidpair_t *procs, int nprocs, pid_t *out,
                   int max)
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
int lp_stop_tree(pid_t pm, pidpair_t *procs, pid_t *out, int max)
{
    kill(pm, SIGSTOP);
    int n = -1;
    for (int round = 0; round < 10; round++) {
        int np = lp_scan_procs(procs, LP_MAX_PROCS);
        int m = lp_descendants(pm, procs, np, out, max);
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
        if (r == pm || (r < 0 && errno == ECHILD && lp_proc_gone(pm)))
            break;
        if (waited >= timeout_ms)
            return;
        lp_sleep_ms(2);
        waited += 2;
    }
    for (int i = 0; i < n; i++) {
        while (!lp_proc_gone(desc[i]) && waited < timeout_ms) {
            lp_sleep_ms(2);
            waited += 2;
        }
    }
}

/* Async-signal-safe: SIGKILL a postmaster and all its descendants and wait
 * until they are gone. */
void lp_kill_tree(pid_t pm, pidpair_t *procs, pid_t *desc)
{
    int n = lp_stop_tree(pm, procs, desc, LP_MAX_DESC);
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
void lp_clear_stale(const char *datadir, uid_t uid)
{
    char path[LP_PATH_MAX + 32] = "", buf[1024];
    lp_cat(path, sizeof path, datadir);
    lp_cat(path, sizeof path, "/postmaster.pid");
    if (lp_read_small(path, buf, sizeof buf) > 0) {
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

uid_t lp_server_uid(void)
{
    return lp.as_pg ? lp.pg_uid : geteuid();
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

/* fork+exec; returns the pid or -1. Only async-signal-safe calls between
 * fork and exec: other threads may hold locks. */
pid_t lp_spawn(const spawn_req_t *r, char *err, size_t errlen)
{
    int outfd = open(r->out ? r->out : "/dev/null",
                     O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (outfd < 0) {
        lp_seterr(err, errlen, "localpg: cannot open %s: %s",
                  r->out ? r->out : "/dev/null", strerror(errno));
        return -1;
    }
    if (r->as_pg && r->out && fchown(outfd, lp.pg_uid, lp.pg_gid) < 0) {
        lp_seterr(err, errlen, "localpg: cannot chown %s to postgres: %s",
                  r->out, strerror(errno));
        close(outfd);
        return -1;
    }
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (nullfd < 0) {
        lp_seterr(err, errlen, "localpg: cannot open /dev/null: %s",
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
            (syscall(SYS_setgroups, (size_t)lp.pg_ngroups, lp.pg_groups) < 0 ||
             syscall(SYS_setgid, lp.pg_gid) < 0 ||
             syscall(SYS_setuid, lp.pg_uid) < 0)) {
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
        lp_seterr(err, errlen, "localpg: fork failed: %s", strerror(saved));
        return -1;
    }
    return pid;
}

/* Run a program to completion; 0 if it exits 0, else -1 with a message. */
int lp_run_wait(const spawn_req_t *r, int timeout_ms, char *err, size_t errlen)
{
    long from = r->out ? lp_file_size(r->out) : 0;
    pid_t pid = lp_spawn(r, err, errlen);
    if (pid < 0)
        return -1;
    int64_t deadline = lp_now_ms() + timeout_ms;
    int status = 0, delay = 1;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            lp_seterr(err, errlen, "localpg: lost child %s: %s", r->argv[0],
                      strerror(errno));
            return -1;
        }
        if (lp_now_ms() > deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            lp_seterr(err, errlen, "localpg: %s did not finish within %d ms",
                      r->argv[0], timeout_ms);
            return -1;
        }
        lp_sleep_ms(delay);
        if (delay < 20)
            delay *= 2;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    char tail[600] = "";
    if (r->out)
        lp_log_tail(r->out, from, tail, sizeof tail);
    if (WIFEXITED(status))
        lp_seterr(err, errlen, "localpg: %s failed (exit %d): %s", r->argv[0],
                  WEXITSTATUS(status), tail);
    else
        lp_seterr(err, errlen, "localpg: %s died of signal %d: %s", r->argv[0],
                  WTERMSIG(status), tail);
    return -1;
}

/* Whether /proc/<pid>/cmdline is a postgres started with -D datadir. */
int lp_is_postmaster_of(pid_t pid, const char *datadir)
{
    char path[48], buf[4096];
    lp_proc_path(path, sizeof path, pid, "cmdline");
    ssize_t n = lp_read_small(path, buf, sizeof buf);
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

/* ---------------------------------------------------------------------- */
/* Helper programs                                                        */
/* ---------------------------------------------------------------------- */

int localpg_run(const char *const *argv, const char *logfile, int timeout_ms,
                char *err, size_t errlen)
{
    if (argv == NULL || argv[0] == NULL) {
        lp_seterr(err, errlen, "localpg: run needs a program");
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
            lp_seterr(err, errlen, "localpg: %s not found in PATH; install it",
                      argv[0]);
            return -1;
        }
    }
    size_t n = 0;
    while (argv[n])
        n++;
    const char **v = calloc(n + 1, sizeof *v);
    if (v == NULL) {
        lp_seterr(err, errlen, "localpg: out of memory");
        return -1;
    }
    v[0] = prog;
    for (size_t i = 1; i < n; i++)
        v[i] = argv[i];
    pthread_mutex_lock(&lp.lock);
    int rc = lp_init_process(err, errlen);
    if (rc == 0) {
        spawn_req_t r = {v, lp.env, logfile, NULL, 0, 0};
        rc = lp_run_wait(&r, timeout_ms > 0 ? timeout_ms : 60000, err, errlen);
    }
    pthread_mutex_unlock(&lp.lock);
    free(v);
    return rc;
}
