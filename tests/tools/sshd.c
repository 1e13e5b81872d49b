/* SPDX-License-Identifier: MIT */
/*
 * sshd.c - the OpenSSH server fixture of sshd.h: scratch directory, keys
 * made with ssh-keygen, a private sshd_config, the server process and its
 * process tree (found through /proc), its log and its sockets.
 */
#include "sshd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "localpg.h"

#define SSHD_BIN "/usr/sbin/sshd"

struct sshd {
    sshd_t *next; /* in g_all */
    char dir[PATH_MAX];
    char config[PATH_MAX + 32];
    char log[PATH_MAX + 32];
    char host_key[PATH_MAX + 32];
    char authorized[PATH_MAX + 32];
    char host_pub[1024];
    char host_fp[128];
    char extra[4096];
    int port;
    pid_t pid;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static sshd_t *g_all;
static int g_atexit;

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the process tree ----------------------------------------------- */

/* Parent pid and state of pid from /proc, or -1. */
static int proc_stat(pid_t pid, pid_t *ppid, char *state)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *rp = strrchr(buf, ')'); /* the name may hold spaces and ')' */
    int pp = 0;
    char st = '?';
    if (rp == NULL || sscanf(rp + 1, " %c %d", &st, &pp) != 2)
        return -1;
    *ppid = pp;
    *state = st;
    return 0;
}

/* Every live process under root (root included), up to max. */
static int tree(pid_t root, pid_t *out, int max)
{
    int n = 0;
    pid_t ppid;
    char st;
    if (root <= 0 || proc_stat(root, &ppid, &st) < 0 || st == 'Z')
        return 0;
    out[n++] = root;
    for (int i = 0; i < n; i++) {
        DIR *d = opendir("/proc");
        if (d == NULL)
            break;
        struct dirent *e;
        while ((e = readdir(d)) != NULL && n < max) {
            char *end;
            long pid = strtol(e->d_name, &end, 10);
            if (*end != '\0' || pid <= 0)
                continue;
            if (proc_stat((pid_t)pid, &ppid, &st) == 0 && ppid == out[i] &&
                st != 'Z')
                out[n++] = (pid_t)pid;
        }
        closedir(d);
    }
    return n;
}

static void signal_tree(pid_t root, int sig)
{
    pid_t pids[256];
    int n = tree(root, pids, 256);
    for (int i = 0; i < n; i++)
        kill(pids[i], sig);
}

static int kill_tree(sshd_t *s)
{
    if (s->pid <= 0)
        return 0;
    pid_t pids[256];
    int n = tree(s->pid, pids, 256);
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
    waitpid(s->pid, NULL, 0);
    /* The per-connection processes were reparented; wait until gone. */
    long long deadline = now_ms() + 5000;
    for (int i = 1; i < n; i++) {
        pid_t ppid;
        char st;
        while (proc_stat(pids[i], &ppid, &st) == 0 && st != 'Z' &&
               now_ms() < deadline)
            sleep_ms(5);
    }
    s->pid = 0;
    return 0;
}

static void kill_all_at_exit(void)
{
    pthread_mutex_lock(&g_lock);
    for (sshd_t *s = g_all; s != NULL; s = s->next)
        signal_tree(s->pid, SIGKILL);
    pthread_mutex_unlock(&g_lock);
}

/* ---- files ---------------------------------------------------------- */

static int write_file(const char *path, const char *text, int append)
{
    FILE *f = fopen(path, append ? "ae" : "we");
    if (f == NULL)
        return -1;
    int rc = fputs(text, f) < 0 ? -1 : 0;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

static int read_first_line(const char *path, char *out, size_t outlen)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    char *r = fgets(out, (int)outlen, f);
    fclose(f);
    if (r == NULL)
        return -1;
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

static int keygen(const char *path, const char *passphrase, int rounds,
                  char *err, size_t errlen)
{
    char pub[PATH_MAX + 8], a[16];
    snprintf(pub, sizeof pub, "%s.pub", path);
    snprintf(a, sizeof a, "%d", rounds > 0 ? rounds : 16);
    unlink(path);
    unlink(pub);
    const char *argv[] = {
        "ssh-keygen", "-q",        "-t", "ed25519",
        "-a",         a,           "-N", passphrase ? passphrase : "",
        "-C",         "pgcm-test", "-f", path,
        NULL};
    if (localpg_run(argv, NULL, 30000, err, errlen) < 0)
        return -1;
    return 0;
}

/* The host key's public line and fingerprint (ssh-keygen -l). */
static int load_host_key(sshd_t *s, char *err, size_t errlen)
{
    char pub[PATH_MAX + 40];
    snprintf(pub, sizeof pub, "%s.pub", s->host_key);
    char line[1024];
    if (read_first_line(pub, line, sizeof line) < 0) {
        seterr(err, errlen, "sshd: cannot read %s", pub);
        return -1;
    }
    /* "type base64 comment" -> "type base64" */
    char *sp = strchr(line, ' ');
    if (sp != NULL && (sp = strchr(sp + 1, ' ')) != NULL)
        *sp = '\0';
    snprintf(s->host_pub, sizeof s->host_pub, "%s", line);
    char out[PATH_MAX + 40];
    snprintf(out, sizeof out, "%s/fingerprint", s->dir);
    unlink(out);
    const char *argv[] = {"ssh-keygen", "-l", "-E", "sha256", "-f", pub, NULL};
    if (localpg_run(argv, out, 30000, err, errlen) < 0)
        return -1;
    if (read_first_line(out, line, sizeof line) < 0) {
        seterr(err, errlen, "sshd: ssh-keygen -l printed nothing");
        return -1;
    }
    /* "256 SHA256:xxxx pgcm-test (ED25519)" */
    char bits[16], fp[128];
    if (sscanf(line, "%15s %127s", bits, fp) != 2) {
        seterr(err, errlen, "sshd: cannot parse '%s'", line);
        return -1;
    }
    snprintf(s->host_fp, sizeof s->host_fp, "%s", fp);
    return 0;
}

int sshd_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int write_config(sshd_t *s)
{
    char text[6 * PATH_MAX + 8192];
    snprintf(text, sizeof text,
             "Port %d\n"
             "ListenAddress 127.0.0.1\n"
             "HostKey %s\n"
             "PidFile %s/sshd.pid\n"
             "AuthorizedKeysFile %s\n"
             "StrictModes no\n"
             "UsePAM no\n"
             "PermitRootLogin prohibit-password\n"
             "PubkeyAuthentication yes\n"
             "PasswordAuthentication no\n"
             "KbdInteractiveAuthentication no\n"
             "AllowTcpForwarding yes\n"
             "UseDNS no\n"
             "MaxStartups 100\n"
             "MaxSessions 100\n"
             "LogLevel VERBOSE\n"
             "%s",
             s->port, s->host_key, s->dir, s->authorized, s->extra);
    return write_file(s->config, text, 0);
}

/* Does the port answer with an SSH banner? */
static int answers_ssh(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    int ok = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        struct pollfd p = {fd, POLLIN, 0};
        char buf[8];
        if (poll(&p, 1, 2000) == 1 && read(fd, buf, 4) == 4 &&
            memcmp(buf, "SSH-", 4) == 0)
            ok = 1;
    }
    close(fd);
    return ok;
}

static int tail_log(const sshd_t *s, char *out, size_t outlen)
{
    FILE *f = fopen(s->log, "re");
    out[0] = '\0';
    if (f == NULL)
        return -1;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0])
            snprintf(out, outlen, "%s", line);
    }
    fclose(f);
    return 0;
}

/* Start the server process and wait until it answers (10 s). */
static int spawn(sshd_t *s, char *err, size_t errlen)
{
    if (mkdir("/run/sshd", 0755) < 0 && errno != EEXIST) {
        seterr(err, errlen, "sshd: cannot create /run/sshd: %s",
               strerror(errno));
        return -1;
    }
    if (access(SSHD_BIN, X_OK) < 0) {
        seterr(err, errlen,
               "sshd: %s is missing; install openssh-server (scripts/setup)",
               SSHD_BIN);
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        seterr(err, errlen, "sshd: fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        int null = open("/dev/null", O_RDWR);
        int out = open(s->log, O_WRONLY | O_APPEND | O_CREAT, 0600);
        if (null >= 0)
            dup2(null, 0);
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
        }
        /* Default signal dispositions and mask for the server. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < 32; sig++)
            signal(sig, SIG_DFL);
        execl(SSHD_BIN, SSHD_BIN, "-D", "-f", s->config, "-E", s->log,
              (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    long long deadline = now_ms() + 10000;
    for (;;) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            s->pid = 0;
            char last[512];
            tail_log(s, last, sizeof last);
            seterr(err, errlen, "sshd exited at start (status %d): %s",
                   WIFEXITED(status) ? WEXITSTATUS(status) : -1, last);
            return -1;
        }
        if (answers_ssh(s->port))
            return 0;
        if (now_ms() > deadline) {
            kill_tree(s);
            seterr(err, errlen, "sshd did not answer on port %d within 10 s",
                   s->port);
            return -1;
        }
        sleep_ms(20);
    }
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[PATH_MAX + 256];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

sshd_t *sshd_start(const char *const *extra_config, char *err, size_t errlen)
{
    sshd_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        seterr(err, errlen, "sshd: out of memory");
        return NULL;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(s->dir, sizeof s->dir, "%s/pgcm-sshd-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(s->dir) == NULL) {
        seterr(err, errlen, "sshd: mkdtemp: %s", strerror(errno));
        free(s);
        return NULL;
    }
    snprintf(s->config, sizeof s->config, "%s/sshd_config", s->dir);
    snprintf(s->log, sizeof s->log, "%s/sshd.log", s->dir);
    snprintf(s->host_key, sizeof s->host_key, "%s/host_ed25519", s->dir);
    snprintf(s->authorized, sizeof s->authorized, "%s/authorized_keys", s->dir);
    size_t used = 0;
    for (int i = 0; extra_config && extra_config[i]; i++) {
        int w = snprintf(s->extra + used, sizeof s->extra - used, "%s\n",
                         extra_config[i]);
        if (w > 0 && (size_t)w < sizeof s->extra - used)
            used += (size_t)w;
    }
    if (write_file(s->authorized, "", 0) < 0 ||
        keygen(s->host_key, NULL, 0, err, errlen) < 0 ||
        load_host_key(s, err, errlen) < 0)
        goto fail;
    for (int attempt = 0;; attempt++) {
        s->port = sshd_free_port();
        if (s->port < 0 || write_config(s) < 0) {
            seterr(err, errlen, "sshd: cannot pick a port or write %s",
                   s->config);
            goto fail;
        }
        if (spawn(s, err, errlen) == 0)
            break;
        if (attempt >= 4 || strstr(err, "in use") == NULL)
            goto fail;
    }
    pthread_mutex_lock(&g_lock);
    s->next = g_all;
    g_all = s;
    if (!g_atexit) {
        g_atexit = 1;
        atexit(kill_all_at_exit);
    }
    pthread_mutex_unlock(&g_lock);
    return s;
fail:
    remove_dir(s->dir);
    free(s);
    return NULL;
}

sshd_t *sshd_start_ready(const char *const *extra_config, char *key,
                         size_t keylen, char *known_hosts, size_t khlen,
                         char *err, size_t errlen)
{
    sshd_t *s = sshd_start(extra_config, err, errlen);
    if (s == NULL)
        return NULL;
    snprintf(known_hosts, khlen, "%s/known_hosts", s->dir);
    if (sshd_make_key(s, "id_user", NULL, 1, key, keylen, err, errlen) < 0 ||
        sshd_add_known_host(s, known_hosts, s->port) < 0) {
        if (err[0] == '\0')
            seterr(err, errlen, "sshd: cannot write %s", known_hosts);
        sshd_stop(s);
        return NULL;
    }
    return s;
}

int sshd_port(const sshd_t *s)
{
    return s->port;
}

const char *sshd_dir(const sshd_t *s)
{
    return s->dir;
}

const char *sshd_logfile(const sshd_t *s)
{
    return s->log;
}

pid_t sshd_pid(const sshd_t *s)
{
    return s->pid;
}

const char *sshd_host_key(const sshd_t *s)
{
    return s->host_pub;
}

const char *sshd_host_fingerprint(const sshd_t *s)
{
    return s->host_fp;
}

int sshd_make_key(sshd_t *s, const char *name, const char *passphrase,
                  int authorize, char *path, size_t pathlen, char *err,
                  size_t errlen)
{
    return sshd_make_slow_key(s, name, passphrase, 0, authorize, path, pathlen,
                              err, errlen);
}

int sshd_make_slow_key(sshd_t *s, const char *name, const char *passphrase,
                       int rounds, int authorize, char *path, size_t pathlen,
                       char *err, size_t errlen)
{
    snprintf(path, pathlen, "%s/%s", s->dir, name);
    if (keygen(path, passphrase, rounds, err, errlen) < 0)
        return -1;
    if (!authorize)
        return 0;
    char pub[PATH_MAX + 8], line[1024];
    snprintf(pub, sizeof pub, "%s.pub", path);
    if (read_first_line(pub, line, sizeof line) < 0) {
        seterr(err, errlen, "sshd: cannot read %s", pub);
        return -1;
    }
    strncat(line, "\n", sizeof line - strlen(line) - 1);
    if (write_file(s->authorized, line, 1) < 0) {
        seterr(err, errlen, "sshd: cannot write %s", s->authorized);
        return -1;
    }
    return 0;
}

int sshd_add_known_host(const sshd_t *s, const char *file, int port)
{
    char line[1200];
    snprintf(line, sizeof line, "[127.0.0.1]:%d %s\n", port, s->host_pub);
    return write_file(file, line, 1);
}

int sshd_new_host_key(sshd_t *s, char *err, size_t errlen)
{
    if (keygen(s->host_key, NULL, 0, err, errlen) < 0)
        return -1;
    return load_host_key(s, err, errlen);
}

int sshd_kill(sshd_t *s)
{
    return kill_tree(s);
}

int sshd_freeze(sshd_t *s)
{
    signal_tree(s->pid, SIGSTOP);
    return 0;
}

int sshd_thaw(sshd_t *s)
{
    signal_tree(s->pid, SIGCONT);
    return 0;
}

int sshd_restart(sshd_t *s, char *err, size_t errlen)
{
    kill_tree(s);
    if (write_config(s) < 0) {
        seterr(err, errlen, "sshd: cannot write %s", s->config);
        return -1;
    }
    /* The old listener's port may linger for a moment. */
    long long deadline = now_ms() + 5000;
    for (;;) {
        if (spawn(s, err, errlen) == 0)
            return 0;
        if (strstr(err, "in use") == NULL || now_ms() > deadline)
            return -1;
        sleep_ms(100);
    }
}

int sshd_log_count(const sshd_t *s, const char *needle)
{
    FILE *f = fopen(s->log, "re");
    if (f == NULL)
        return -1;
    int n = 0;
    char line[2048];
    while (fgets(line, sizeof line, f) != NULL)
        if (strstr(line, needle) != NULL)
            n++;
    fclose(f);
    return n;
}

int sshd_login_count(const sshd_t *s)
{
    return sshd_log_count(s, "Accepted publickey for");
}

int sshd_session_count(const sshd_t *s)
{
    pid_t pids[256];
    int n = tree(s->pid, pids, 256);
    int sessions = 0;
    for (int i = 1; i < n; i++) {
        pid_t ppid;
        char st;
        if (proc_stat(pids[i], &ppid, &st) == 0 && ppid == s->pid)
            sessions++;
    }
    return sessions;
}

/* Inodes of TCP sockets with local port `port` (IPv4, /proc/net/tcp). */
static int socket_inodes(int port, unsigned long *out, int max)
{
    FILE *f = fopen("/proc/net/tcp", "re");
    if (f == NULL)
        return 0;
    char line[512];
    int n = 0;
    if (fgets(line, sizeof line, f) == NULL) { /* header */
        fclose(f);
        return 0;
    }
    while (n < max && fgets(line, sizeof line, f) != NULL) {
        unsigned laddr, lport, raddr, rport, st;
        unsigned long inode;
        if (sscanf(line,
                   " %*d: %8X:%4X %8X:%4X %2X %*X:%*X %*X:%*X %*X %*d %*d "
                   "%lu",
                   &laddr, &lport, &raddr, &rport, &st, &inode) == 6 &&
            (int)lport == port && inode != 0)
            out[n++] = inode;
    }
    fclose(f);
    return n;
}

int sshd_owns_tcp_port(const sshd_t *s, int local_port)
{
    unsigned long inodes[16];
    int ni = socket_inodes(local_port, inodes, 16);
    if (ni == 0)
        return 0;
    pid_t pids[256];
    int n = tree(s->pid, pids, 256);
    for (int i = 0; i < n; i++) {
        char dir[64];
        snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pids[i]);
        DIR *d = opendir(dir);
        if (d == NULL)
            continue;
        struct dirent *e;
        int found = 0;
        while (!found && (e = readdir(d)) != NULL) {
            char p[400], target[128];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            ssize_t len = readlink(p, target, sizeof target - 1);
            if (len <= 0)
                continue;
            target[len] = '\0';
            unsigned long inode;
            if (sscanf(target, "socket:[%lu]", &inode) != 1)
                continue;
            for (int k = 0; k < ni; k++)
                if (inodes[k] == inode)
                    found = 1;
        }
        closedir(d);
        if (found)
            return 1;
    }
    return 0;
}

void sshd_stop(sshd_t *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&g_lock);
    for (sshd_t **pp = &g_all; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    pthread_mutex_unlock(&g_lock);
    kill_tree(s);
    remove_dir(s->dir);
    free(s);
}
