/* SPDX-License-Identifier: MIT */
/*
 * tmuxterm.c - drive a private tmux server (see tmuxterm.h): every call is
 * one `tmux -L <socket> ...` process with its output read through a pipe.
 */
#include "tmuxterm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct tmuxterm {
    char socket[64];
    char conf[128];
    /* The control-mode client, when tmuxterm_control() started one. */
    pid_t ctl_pid;
    FILE *ctl_in;  /* commands */
    FILE *ctl_out; /* replies and notifications */
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run tmux -L socket ARGS...; its stdout into *out (malloc'd) if out is
 * not NULL. Returns tmux's exit status, or -1. */
static int run(tmuxterm_t *t, char **out, const char *const *args)
{
    const char *argv[32];
    int fds[2], status, n = 0, i;
    size_t len = 0, cap = 0;
    char *buf = NULL;
    pid_t pid;

    argv[n++] = "tmux";
    argv[n++] = "-L";
    argv[n++] = t->socket;
    for (i = 0; args[i] != NULL && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    if (pipe(fds) != 0)
        return -1;
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);

        dup2(devnull, 0);
        dup2(fds[1], 1);
        dup2(devnull, 2);
        close(fds[0]);
        close(fds[1]);
        execvp("tmux", (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    for (;;) {
        ssize_t r;

        if (len + 4096 > cap) {
            char *grown = realloc(buf, cap + 65536);

            if (grown == NULL)
                break;
            buf = grown;
            cap += 65536;
        }
        r = read(fds[0], buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (out != NULL) {
        if (buf == NULL)
            buf = calloc(1, 1);
        else
            buf[len] = '\0';
        *out = buf;
    } else {
        free(buf);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

tmuxterm_t *tmuxterm_start(const char *cmd, int w, int h,
                           const char *const *env, char *err, size_t errlen)
{
    static int counter;
    tmuxterm_t *t = calloc(1, sizeof(*t));
    char ws[16], hs[16], *envs[16];
    const char *args[48];
    FILE *f;
    int n = 0, i, rc;

    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(t->socket, sizeof(t->socket), "replmon-test-%d-%d", (int)getpid(),
             counter++);
    snprintf(t->conf, sizeof(t->conf), "/tmp/%s.conf", t->socket);
    f = fopen(t->conf, "w");
    if (f == NULL) {
        snprintf(err, errlen, "cannot write %s: %s", t->conf, strerror(errno));
        free(t);
        return NULL;
    }
    fputs("set -g status off\n"
          "set -g remain-on-exit on\n"
          "set -g default-terminal tmux-256color\n"
          "set -g history-limit 0\n"
          "set -s escape-time 0\n",
          f);
    fclose(f);
    snprintf(ws, sizeof(ws), "%d", w);
    snprintf(hs, sizeof(hs), "%d", h);
    args[n++] = "-f";
    args[n++] = t->conf;
    args[n++] = "new-session";
    args[n++] = "-d";
    args[n++] = "-s";
    args[n++] = "w";
    args[n++] = "-x";
    args[n++] = ws;
    args[n++] = "-y";
    args[n++] = hs;
    for (i = 0; env != NULL && env[i] != NULL && i < 16; i++) {
        envs[i] = (char *)env[i];
        args[n++] = "-e";
        args[n++] = envs[i];
    }
    args[n++] = cmd;
    args[n] = NULL;
    rc = run(t, NULL, args);
    if (rc != 0) {
        snprintf(err, errlen,
                 "cannot start tmux (exit %d): install Debian's tmux "
                 "(scripts/setup)",
                 rc);
        unlink(t->conf);
        free(t);
        return NULL;
    }
    {
        /* Clients (a control client too) must not resize the window. */
        const char *manual[] = {"set", "-g", "window-size", "manual", NULL};

        run(t, NULL, manual);
    }
    return t;
}

int tmuxterm_control(tmuxterm_t *t)
{
    int in[2], out[2];
    pid_t pid;

    if (pipe(in) != 0)
        return -1;
    if (pipe(out) != 0) {
        close(in[0]);
        close(in[1]);
        return -1;
    }
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);

        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(devnull, 2);
        close(in[1]);
        close(out[0]);
        execlp("tmux", "tmux", "-L", t->socket, "-C", "attach", "-t", "w",
               (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    t->ctl_pid = pid;
    t->ctl_in = fdopen(in[1], "w");
    t->ctl_out = fdopen(out[0], "r");
    return t->ctl_in != NULL && t->ctl_out != NULL ? 0 : -1;
}

/* One command through the control client: its output lines (between
 * %begin and %end) into *out when out is not NULL. Returns 0, or -1 on
 * %error or a broken client. Notifications (%output ...) are skipped. */
static int control(tmuxterm_t *t, const char *cmd, char **out)
{
    char line[8192];
    size_t len = 0, cap = 0;
    char *buf = NULL;
    int inside = 0, rc = -1;

    if (fprintf(t->ctl_in, "%s\n", cmd) < 0 || fflush(t->ctl_in) != 0)
        return -1;
    while (fgets(line, sizeof(line), t->ctl_out) != NULL) {
        if (!inside) {
            if (strncmp(line, "%begin ", 7) == 0)
                inside = 1;
            continue;
        }
        if (strncmp(line, "%end ", 5) == 0 ||
            strncmp(line, "%error ", 7) == 0) {
            rc = line[1] == 'e' && line[2] == 'n' ? 0 : -1;
            break;
        }
        if (out != NULL) {
            size_t n = strlen(line);

            if (len + n + 1 > cap) {
                char *grown = realloc(buf, cap + n + 65536);

                if (grown == NULL)
                    break;
                buf = grown;
                cap += n + 65536;
            }
            memcpy(buf + len, line, n);
            len += n;
            buf[len] = '\0';
        }
    }
    if (out != NULL) {
        if (buf == NULL)
            buf = calloc(1, 1);
        *out = buf;
    } else {
        free(buf);
    }
    return rc;
}

char *tmuxterm_capture(tmuxterm_t *t)
{
    const char *args[] = {"capture-pane", "-p", "-t", "w", NULL};
    char *out = NULL;

    if (t->ctl_in != NULL) {
        if (control(t, "capture-pane -p -t w", &out) != 0) {
            free(out);
            return NULL;
        }
        return out;
    }
    if (run(t, &out, args) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

char *tmuxterm_capture_styled(tmuxterm_t *t)
{
    const char *args[] = {"capture-pane", "-p", "-e", "-t", "w", NULL};
    char *out = NULL;

    if (run(t, &out, args) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

int tmuxterm_keys(tmuxterm_t *t, const char *keys)
{
    const char *args[24];
    char copy[512], *save = NULL, *k;
    int n = 0;

    if (t->ctl_in != NULL) {
        char cmd[600];

        snprintf(cmd, sizeof(cmd), "send-keys -t w %s", keys);
        return control(t, cmd, NULL);
    }
    snprintf(copy, sizeof(copy), "%s", keys);
    args[n++] = "send-keys";
    args[n++] = "-t";
    args[n++] = "w";
    for (k = strtok_r(copy, " ", &save); k != NULL && n < 23;
         k = strtok_r(NULL, " ", &save))
        args[n++] = k;
    args[n] = NULL;
    return run(t, NULL, args) == 0 ? 0 : -1;
}

int tmuxterm_type(tmuxterm_t *t, const char *text)
{
    const char *args[] = {"send-keys", "-t", "w", "-l", text, NULL};

    return run(t, NULL, args) == 0 ? 0 : -1;
}

int tmuxterm_resize(tmuxterm_t *t, int w, int h)
{
    char ws[16], hs[16];
    const char *args[] = {"resize-window", "-t", "w", "-x", ws, "-y", hs, NULL};

    snprintf(ws, sizeof(ws), "%d", w);
    snprintf(hs, sizeof(hs), "%d", h);
    return run(t, NULL, args) == 0 ? 0 : -1;
}

static int wait_for(tmuxterm_t *t, const char *text, int timeout_ms,
                    int present)
{
    int64_t deadline = now_ms() + timeout_ms;

    for (;;) {
        char *screen = tmuxterm_capture(t);
        int found = screen != NULL && strstr(screen, text) != NULL;

        free(screen);
        if (found == present)
            return 1;
        if (now_ms() >= deadline)
            return 0;
        /* A control-mode capture is cheap: poll closely. */
        usleep(t->ctl_in != NULL ? 500 : 10000);
    }
}

int tmuxterm_wait(tmuxterm_t *t, const char *text, int timeout_ms)
{
    return wait_for(t, text, timeout_ms, 1);
}

int tmuxterm_wait_gone(tmuxterm_t *t, const char *text, int timeout_ms)
{
    return wait_for(t, text, timeout_ms, 0);
}

char *tmuxterm_line_with(tmuxterm_t *t, const char *text)
{
    char *screen = tmuxterm_capture(t), *line, *save = NULL, *found = NULL;

    if (screen == NULL)
        return NULL;
    for (line = strtok_r(screen, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (strstr(line, text) != NULL) {
            found = strdup(line);
            break;
        }
    }
    free(screen);
    return found;
}

static int display(tmuxterm_t *t, const char *format, char *buf, size_t len)
{
    const char *args[] = {"display-message", "-p", "-t", "w", format, NULL};
    char *out = NULL;
    int rc = run(t, &out, args);

    snprintf(buf, len, "%s", out != NULL ? out : "");
    free(out);
    return rc;
}

pid_t tmuxterm_pid(tmuxterm_t *t)
{
    char buf[64], path[96], kids[256];
    FILE *f;
    pid_t pane;

    if (display(t, "#{pane_pid}", buf, sizeof(buf)) != 0)
        return -1;
    pane = (pid_t)atoi(buf);
    if (pane <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pane,
             (int)pane);
    f = fopen(path, "r");
    if (f == NULL)
        return pane;
    if (fgets(kids, sizeof(kids), f) != NULL && atoi(kids) > 0)
        pane = (pid_t)atoi(kids);
    fclose(f);
    return pane;
}

int tmuxterm_exit_status(tmuxterm_t *t)
{
    char buf[64];
    int dead, status;

    if (display(t, "#{pane_dead} #{pane_dead_status}", buf, sizeof(buf)) != 0)
        return -1;
    if (sscanf(buf, "%d %d", &dead, &status) != 2 || !dead)
        return -1;
    return status;
}

void tmuxterm_stop(tmuxterm_t *t)
{
    const char *args[] = {"kill-server", NULL};

    if (t == NULL)
        return;
    if (t->ctl_in != NULL) {
        fclose(t->ctl_in);
        t->ctl_in = NULL;
    }
    run(t, NULL, args);
    if (t->ctl_out != NULL)
        fclose(t->ctl_out);
    if (t->ctl_pid > 0)
        waitpid(t->ctl_pid, NULL, 0);
    unlink(t->conf);
    free(t);
}
