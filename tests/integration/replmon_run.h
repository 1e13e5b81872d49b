/* SPDX-License-Identifier: MIT */
/*
 * replmon_run.h - run the built `replmon` binary from an integration test:
 * find it relative to the test binary (<build>/tests/integration/it_x ->
 * <build>/src/replmon/replmon), run it with captured stdout and stderr and
 * a deadline, or start it in the background and wait for a line.
 */
#ifndef REPLMON_RUN_H
#define REPLMON_RUN_H

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct rm_run {
    int code;  /* exit code, 128 + signal when killed, -1 on timeout */
    char *out; /* everything written to stdout (malloc'd) */
    char *err; /* everything written to stderr (malloc'd) */
} rm_run_t;

static inline const char *replmon_binary(void)
{
    static char path[PATH_MAX];
    char exe[PATH_MAX];
    ssize_t n;

    if (path[0] != '\0')
        return path;
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    /* <build>/tests/integration/it_x: up three levels is <build>. */
    snprintf(path, sizeof(path), "%s/src/replmon/replmon",
             dirname(dirname(dirname(exe))));
    return path;
}

static inline int64_t rm_run_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline char *rm_read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long len;

    if (f == NULL)
        return strdup("");
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    buf = malloc((size_t)len + 1);
    len = (long)fread(buf, 1, (size_t)len, f);
    buf[len] = '\0';
    fclose(f);
    return buf;
}

/* Start replmon with args (NULL-terminated, without the program name),
 * stdout and stderr into the given files, optional extra environment
 * "NAME=value" entries. Returns the pid. */
static inline pid_t rm_spawn(const char *const *args, const char *out_path,
                             const char *err_path, const char *const *env)
{
    const char *argv[64];
    pid_t pid;
    int i;

    argv[0] = replmon_binary();
    for (i = 0; args[i] != NULL && i < 62; i++)
        argv[i + 1] = args[i];
    argv[i + 1] = NULL;
    pid = fork();
    if (pid == 0) {
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int devnull = open("/dev/null", O_RDONLY);

        if (o < 0 || e < 0 || devnull < 0)
            _exit(125);
        dup2(devnull, 0);
        dup2(o, 1);
        dup2(e, 2);
        for (i = 0; env != NULL && env[i] != NULL; i++)
            putenv((char *)env[i]);
        /* A new process group, so signals to the test do not reach it. */
        setpgid(0, 0);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Wait for pid up to timeout_ms; kills it on timeout. Returns the exit
 * code as rm_run_t.code. */
static inline int rm_wait(pid_t pid, int timeout_ms)
{
    int64_t deadline = rm_run_now_ms() + timeout_ms;
    int status;

    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);

        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return -1;
        if (rm_run_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        usleep(20000);
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

/* Run replmon to completion (at most timeout_ms). */
static inline void rm_run(const char *const *args, int timeout_ms, rm_run_t *r)
{
    char out_path[] = "/tmp/replmon-it-out-XXXXXX";
    char err_path[] = "/tmp/replmon-it-err-XXXXXX";
    int fo = mkstemp(out_path), fe = mkstemp(err_path);
    pid_t pid;

    close(fo);
    close(fe);
    pid = rm_spawn(args, out_path, err_path, NULL);
    r->code = rm_wait(pid, timeout_ms);
    r->out = rm_read_file(out_path);
    r->err = rm_read_file(err_path);
    unlink(out_path);
    unlink(err_path);
}

static inline void rm_run_free(rm_run_t *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

/* Wait until the file contains text; 1 if it did within timeout_ms. */
static inline int rm_wait_for_text(const char *path, const char *text,
                                   int timeout_ms)
{
    int64_t deadline = rm_run_now_ms() + timeout_ms;

    while (rm_run_now_ms() < deadline) {
        char *buf = rm_read_file(path);
        int found = strstr(buf, text) != NULL;

        free(buf);
        if (found)
            return 1;
        usleep(50000);
    }
    return 0;
}

/* Number of lines of s that contain text. */
static inline int rm_count_lines(const char *s, const char *text)
{
    int n = 0;
    const char *line = s;

    while (line != NULL && *line != '\0') {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char *copy = strndup(line, len);

        n += strstr(copy, text) != NULL;
        free(copy);
        line = end ? end + 1 : NULL;
    }
    return n;
}

/* A copy of s with every run of blanks collapsed to one space. */
static inline char *rm_squeeze(const char *s)
{
    char *out = malloc(strlen(s) + 1), *o = out;

    for (; *s != '\0'; s++) {
        if (*s == ' ' && o > out && o[-1] == ' ')
            continue;
        *o++ = *s;
    }
    *o = '\0';
    return out;
}

/* Number of lines containing text, blanks runs counting as one space in
 * both (so table alignment does not matter). */
static inline int rm_count_rows(const char *s, const char *text)
{
    char *a = rm_squeeze(s), *b = rm_squeeze(text);
    int n = rm_count_lines(a, b);

    free(a);
    free(b);
    return n;
}

#endif /* REPLMON_RUN_H */
