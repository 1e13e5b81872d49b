/* SPDX-License-Identifier: MIT */
/*
 * http_get.h - a minimal HTTP/1.0 GET client for the integration tests
 * (replmon serve's endpoints, Prometheus' API): one request per TCP
 * connection to 127.0.0.1, read until the server closes, with a deadline;
 * the status code and the body are returned and the time it took. Also
 * reading one sample out of a Prometheus text exposition.
 */
#ifndef HTTP_GET_H
#define HTTP_GET_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline int64_t http_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

typedef struct http_reply {
    int status;         /* 0 when no answer */
    char *body;         /* malloc'd, NUL-terminated ("" when none) */
    int64_t elapsed_us; /* connect to the end of the answer */
} http_reply_t;

static inline void http_reply_free(http_reply_t *r)
{
    free(r->body);
    r->body = NULL;
}

/* GET path (with its query string) from 127.0.0.1:port within
 * timeout_ms. Returns 0 with *r filled, or -1 (r->status 0) on a
 * connection failure or timeout. */
static inline int http_get(int port, const char *path, int timeout_ms,
                           http_reply_t *r)
{
    struct sockaddr_in sa;
    int64_t start = http_now_us(), deadline = start + timeout_ms * 1000LL;
    char req[2048], *buf = NULL;
    size_t len = 0, cap = 0, sent = 0, reqlen;
    int fd, rc = -1;

    memset(r, 0, sizeof(*r));
    reqlen = (size_t)snprintf(req, sizeof(req),
                              "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n"
                              "User-Agent: replmon-test\r\n\r\n",
                              path, port);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto out;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 &&
        errno != EINPROGRESS)
        goto out;
    for (;;) {
        struct pollfd p = {fd, (short)(sent < reqlen ? POLLOUT : POLLIN), 0};
        int64_t left = (deadline - http_now_us()) / 1000;
        ssize_t n;

        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            goto out;
        if (sent < reqlen) {
            n = send(fd, req + sent, reqlen - sent, MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN)
                goto out;
            if (n > 0)
                sent += (size_t)n;
            continue;
        }
        if (cap - len < 65536) {
            char *grown = realloc(buf, cap + 262144);

            if (grown == NULL)
                goto out;
            buf = grown;
            cap += 262144;
        }
        n = recv(fd, buf + len, cap - len - 1, 0);
        if (n < 0 && errno == EAGAIN)
            continue;
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (buf == NULL)
        goto out;
    buf[len] = '\0';
    if (sscanf(buf, "HTTP/%*d.%*d %d", &r->status) != 1)
        goto out;
    {
        char *body = strstr(buf, "\r\n\r\n");

        r->body = strdup(body != NULL ? body + 4 : "");
    }
    r->elapsed_us = http_now_us() - start;
    rc = 0;
out:
    if (rc != 0) {
        r->status = 0;
        if (r->body == NULL)
            r->body = strdup("");
    }
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* A free TCP port on 127.0.0.1 (bound and released; good enough for a
 * test that starts its server at once). */
static inline int http_free_port(void)
{
    struct sockaddr_in sa;
    socklen_t slen = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &slen) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* The value of the sample whose name and labels are exactly `series`
 * (e.g. replmon_node_up{node="pub"}, or replmon_nodes) in a Prometheus
 * text exposition, or NAN when there is none. */
static inline double prom_sample(const char *text, const char *series)
{
    char want[512];
    const char *at;

    snprintf(want, sizeof(want), "\n%s ", series);
    at = strstr(text, want);
    if (at == NULL)
        return NAN;
    return strtod(at + strlen(want), NULL);
}

#endif /* HTTP_GET_H */
