/* SPDX-License-Identifier: MIT */
/*
 * util.c - localpg's small helpers: error strings, clocks, bounded string
 * building (async-signal-safe where the signal handler needs it), a growable
 * buffer for configuration files, and excerpts of a server log for error
 * messages.
 */
#include "localpg_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/resource.h>
#include <sys/stat.h>

static uint64_t g_rand;

/* ---------------------------------------------------------------------- */
/* Small helpers                                                          */
/* ---------------------------------------------------------------------- */

void lp_one_line(char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n' || s[i] == '\r' || s[i] == '\t')
            s[i] = ' ';
    while (n > 0 && s[n - 1] == ' ')
        s[--n] = '\0';
}

__attribute__((format(printf, 3, 4))) void lp_seterr(char *err, size_t errlen,
                                                     const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    lp_one_line(err);
}

int64_t lp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Async-signal-safe. */
void lp_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Async-signal-safe bounded string append; returns 0 or -1 if truncated. */
int lp_cat(char *dst, size_t size, const char *src)
{
    size_t n = strlen(dst);
    while (*src && n + 1 < size)
        dst[n++] = *src++;
    dst[n] = '\0';
    return *src ? -1 : 0;
}

/* Async-signal-safe decimal formatting. */
void lp_fmt_ulong(char *buf, size_t size, unsigned long v)
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

void lp_proc_path(char *buf, size_t size, pid_t pid, const char *leaf)
{
    char num[24];
    lp_fmt_ulong(num, sizeof num, (unsigned long)pid);
    buf[0] = '\0';
    lp_cat(buf, size, "/proc/");
    lp_cat(buf, size, num);
    lp_cat(buf, size, "/");
    lp_cat(buf, size, leaf);
}

/* Async-signal-safe: read up to size-1 bytes of a small file. */
ssize_t lp_read_small(const char *path, char *buf, size_t size)
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
void lp_trace(const char *what)
{
    static int64_t last;
    if (!lp.debug)
        return;
    int64_t t = lp_now_ms();
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

uint64_t lp_next_rand(void)
{
    if (g_rand == 0)
        g_rand = ((uint64_t)getpid() << 32) ^ (uint64_t)lp_now_ms() ^
                 (uint64_t)time(NULL) ^ 0x9e3779b97f4a7c15ULL;
    g_rand ^= g_rand << 13;
    g_rand ^= g_rand >> 7;
    g_rand ^= g_rand << 17;
    return g_rand;
}

__attribute__((format(printf, 2, 3))) void lp_sb_printf(sbuf_t *b,
                                                        const char *fmt, ...)
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
void lp_sb_conf_quote(sbuf_t *b, const char *v)
{
    lp_sb_printf(b, "'");
    for (; *v; v++) {
        if (*v == '\'')
            lp_sb_printf(b, "''");
        else
            lp_sb_printf(b, "%c", *v);
    }
    lp_sb_printf(b, "'");
}

/* Append key='value' to a libpq conninfo, escaping ' and \. */
void lp_conninfo_add(char *buf, size_t size, const char *key, const char *val)
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
void lp_log_tail(const char *path, long from, char *out, size_t outlen)
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
    lp_one_line(out);
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
                lp_cat(out, outlen, " ");
                lp_cat(out, outlen, d ? d + 2 : line);
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
    lp_one_line(out);
}

/* "<cause>; log <path>: <last lines>" for a failed server start. */
void lp_log_report(const char *path, long from, char *out, size_t outlen)
{
    char cause[512], tail[700];
    log_cause(path, from, cause, sizeof cause);
    lp_log_tail(path, from, tail, sizeof tail);
    if (cause[0])
        snprintf(out, outlen, "%s; log %s ends: %s", cause, path, tail);
    else
        snprintf(out, outlen, "log %s ends: %s", path, tail);
}

long lp_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}
