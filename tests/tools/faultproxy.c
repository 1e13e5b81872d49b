/* SPDX-License-Identifier: MIT */
/*
 * faultproxy.c - the fault-injecting TCP proxy of faultproxy.h: one poll()
 * thread per proxy, a list of client/server socket pairs, and per direction
 * a queue of chunks stamped with the time they may be forwarded (DELAY).
 */
#include "faultproxy.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#define FP_READ_MAX  65536     /* one read */
#define FP_QUEUE_MAX (1 << 20) /* stop reading a side above this */

typedef struct chunk {
    struct chunk *next;
    int64_t due_ms; /* forward at or after this (DELAY) */
    size_t len, off;
    char data[];
} chunk_t;

/* Bytes read from one side and not yet written to the other. */
typedef struct flow {
    chunk_t *head, *tail;
    size_t bytes;
    int eof;  /* the source side sent FIN */
    int shut; /* FIN passed on to the destination side */
} flow_t;

typedef struct conn {
    struct conn *next;
    int cfd;        /* client side */
    int sfd;        /* server side, -1 until the proxy connects */
    int connecting; /* non-blocking connect to the server in progress */
    int dead;       /* close both sides with RST */
    int ci, si;     /* indexes in the poll array, -1: not polled */
    flow_t up;      /* client -> server */
    flow_t down;    /* server -> client */
} conn_t;

struct faultproxy {
    pthread_t thread;
    int lfd;  /* listener on 127.0.0.1 */
    int wake; /* eventfd: mode changed or stop */
    int port;
    struct sockaddr_storage target;
    socklen_t target_len;
    atomic_int mode;
    atomic_int delay_ms;
    atomic_int stop;
    atomic_int nconns;
    atomic_long accepted;
    conn_t *conns; /* owned by the thread */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void rst_close(int fd)
{
    if (fd < 0)
        return;
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

static void flow_free(flow_t *f)
{
    while (f->head) {
        chunk_t *c = f->head;
        f->head = c->next;
        free(c);
    }
    f->tail = NULL;
    f->bytes = 0;
}

static void conn_free(faultproxy_t *p, conn_t *c, int rst)
{
    if (rst) {
        rst_close(c->cfd);
        rst_close(c->sfd);
    } else {
        close(c->cfd);
        if (c->sfd >= 0)
            close(c->sfd);
    }
    flow_free(&c->up);
    flow_free(&c->down);
    free(c);
    atomic_fetch_sub(&p->nconns, 1);
}

/* Read what src has into f; 0 ok (maybe nothing), -1: the pair is dead. */
static int flow_read(int src, flow_t *f, int64_t due)
{
    char buf[FP_READ_MAX];
    ssize_t n = recv(src, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0
                                                                         : -1;
    if (n == 0) {
        f->eof = 1;
        return 0;
    }
    chunk_t *c = malloc(sizeof *c + (size_t)n);
    if (c == NULL)
        return -1;
    c->next = NULL;
    c->due_ms = due;
    c->len = (size_t)n;
    c->off = 0;
    memcpy(c->data, buf, (size_t)n);
    if (f->tail)
        f->tail->next = c;
    else
        f->head = c;
    f->tail = c;
    f->bytes += (size_t)n;
    return 0;
}

/* Write the chunks of f that are due to dst; -1: the pair is dead. */
static int flow_write(int dst, flow_t *f, int64_t now, int ignore_due)
{
    while (f->head && (ignore_due || f->head->due_ms <= now)) {
        chunk_t *c = f->head;
        ssize_t n = send(dst, c->data + c->off, c->len - c->off,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
                       ? 0
                       : -1;
        c->off += (size_t)n;
        f->bytes -= (size_t)n;
        if (c->off < c->len)
            return 0;
        f->head = c->next;
        if (f->head == NULL)
            f->tail = NULL;
        free(c);
    }
    return 0;
}

static int flow_due(const flow_t *f, int64_t now, int ignore_due)
{
    return f->head && (ignore_due || f->head->due_ms <= now);
}

static void start_connect(faultproxy_t *p, conn_t *c)
{
    int fd = socket(p->target.ss_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        c->dead = 1;
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&p->target, p->target_len) == 0) {
        c->connecting = 0;
    } else if (errno == EINPROGRESS) {
        c->connecting = 1;
    } else {
        close(fd);
        c->dead = 1;
        return;
    }
    c->sfd = fd;
}

static void accept_all(faultproxy_t *p, int mode)
{
    for (;;) {
        int fd = accept4(p->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        atomic_fetch_add(&p->accepted, 1);
        if (mode == FAULTPROXY_RESET) {
            rst_close(fd);
            continue;
        }
        conn_t *c = calloc(1, sizeof *c);
        if (c == NULL) {
            rst_close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->cfd = fd;
        c->sfd = -1;
        c->ci = c->si = -1;
        c->next = p->conns;
        p->conns = c;
        atomic_fetch_add(&p->nconns, 1);
    }
}

static void *proxy_main(void *arg)
{
    faultproxy_t *p = arg;
    struct pollfd *pfd = NULL;
    size_t cap = 0;
    while (!atomic_load(&p->stop)) {
        int mode = atomic_load(&p->mode);
        int delay = atomic_load(&p->delay_ms);
        int forwarding = mode == FAULTPROXY_PASS || mode == FAULTPROXY_DELAY;
        int ignore_due = mode == FAULTPROXY_PASS;
        int64_t now = now_ms();

        if (mode == FAULTPROXY_RESET) {
            while (p->conns) {
                conn_t *c = p->conns;
                p->conns = c->next;
                conn_free(p, c, 1);
            }
        }

        /* The poll array: wake, listener, then two per forwarding pair. */
        size_t need = 2 + 2 * (size_t)atomic_load(&p->nconns);
        if (need > cap) {
            struct pollfd *np = realloc(pfd, need * 2 * sizeof *np);
            if (np == NULL)
                break;
            pfd = np;
            cap = need * 2;
        }
        nfds_t n = 0;
        pfd[n++] = (struct pollfd){p->wake, POLLIN, 0};
        pfd[n++] = (struct pollfd){p->lfd, POLLIN, 0};
        int timeout = -1;
        for (conn_t *c = p->conns; c; c = c->next) {
            c->ci = c->si = -1;
            if (!forwarding)
                continue; /* black hole: do not even look */
            if (c->sfd < 0 && !c->dead)
                start_connect(p, c);
            if (c->dead)
                continue;
            short ce = 0, se = 0;
            if (!c->up.eof && c->up.bytes < FP_QUEUE_MAX)
                ce |= POLLIN;
            if (c->connecting) {
                se |= POLLOUT;
            } else {
                if (!c->down.eof && c->down.bytes < FP_QUEUE_MAX)
                    se |= POLLIN;
                if (flow_due(&c->up, now, ignore_due))
                    se |= POLLOUT;
                if (flow_due(&c->down, now, ignore_due))
                    ce |= POLLOUT;
            }
            const flow_t *flows[2] = {&c->up, &c->down};
            for (int i = 0; i < 2; i++) {
                if (flows[i]->head && !flow_due(flows[i], now, ignore_due)) {
                    int64_t wait = flows[i]->head->due_ms - now;
                    if (timeout < 0 || wait < timeout)
                        timeout = (int)wait;
                }
            }
            c->ci = (int)n;
            pfd[n++] = (struct pollfd){c->cfd, ce, 0};
            c->si = (int)n;
            pfd[n++] = (struct pollfd){c->sfd, se, 0};
        }

        int rc = poll(pfd, n, timeout);
        if (rc < 0 && errno != EINTR)
            break;
        if (pfd[0].revents & POLLIN) {
            uint64_t v;
            ssize_t ignored = read(p->wake, &v, sizeof v);
            (void)ignored;
        }
        if (atomic_load(&p->stop))
            break;
        /* The mode may have changed during poll: act on the new one, with
         * its delay (set before the mode, so read after it). */
        mode = atomic_load(&p->mode);
        delay = atomic_load(&p->delay_ms);
        if (pfd[1].revents & POLLIN)
            accept_all(p, mode);
        if (mode != FAULTPROXY_PASS && mode != FAULTPROXY_DELAY)
            continue;
        ignore_due = mode == FAULTPROXY_PASS;
        now = now_ms();
        int64_t due = now + (mode == FAULTPROXY_DELAY ? delay : 0);

        for (conn_t **pp = &p->conns; *pp;) {
            conn_t *c = *pp;
            /* A switch away from forwarding wins at once: the rest of
             * this round's events wait for the next round. */
            if (atomic_load(&p->mode) != mode)
                break;
            if (c->ci >= 0 && !c->dead) {
                short cr = pfd[c->ci].revents, sr = pfd[c->si].revents;
                if (c->connecting && sr) {
                    int soerr = 0;
                    socklen_t len = sizeof soerr;
                    if (getsockopt(c->sfd, SOL_SOCKET, SO_ERROR, &soerr, &len) <
                            0 ||
                        soerr != 0)
                        c->dead = 1;
                    else
                        c->connecting = 0;
                    sr = 0;
                }
                if (!c->dead && (cr & (POLLIN | POLLHUP | POLLERR)) &&
                    flow_read(c->cfd, &c->up, due) < 0)
                    c->dead = 1;
                if (!c->dead && !c->connecting &&
                    (sr & (POLLIN | POLLHUP | POLLERR)) &&
                    flow_read(c->sfd, &c->down, due) < 0)
                    c->dead = 1;
                if (!c->dead && !c->connecting &&
                    (flow_write(c->sfd, &c->up, now, ignore_due) < 0 ||
                     flow_write(c->cfd, &c->down, now, ignore_due) < 0))
                    c->dead = 1;
                /* Pass a FIN on once everything before it is through. */
                if (!c->dead && !c->connecting && c->up.eof && !c->up.head &&
                    !c->up.shut) {
                    shutdown(c->sfd, SHUT_WR);
                    c->up.shut = 1;
                }
                if (!c->dead && !c->connecting && c->down.eof &&
                    !c->down.head && !c->down.shut) {
                    shutdown(c->cfd, SHUT_WR);
                    c->down.shut = 1;
                }
            }
            if (c->dead || (c->up.shut && c->down.shut)) {
                *pp = c->next;
                conn_free(p, c, c->dead);
            } else {
                pp = &c->next;
            }
        }
    }
    free(pfd);
    return NULL;
}

int faultproxy_start(const char *target_host, int target_port,
                     faultproxy_t **out, char *err, size_t errlen)
{
    *out = NULL;
    faultproxy_t *p = calloc(1, sizeof *p);
    if (p == NULL) {
        snprintf(err, errlen, "faultproxy: out of memory");
        return -1;
    }
    p->lfd = p->wake = -1;

    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    char port[16];
    snprintf(port, sizeof port, "%d", target_port);
    int gai = getaddrinfo(target_host ? target_host : "127.0.0.1", port, &hints,
                          &res);
    if (gai != 0 || res == NULL) {
        snprintf(err, errlen,
                 "faultproxy: cannot resolve %s: %s; pass a numeric address",
                 target_host ? target_host : "127.0.0.1", gai_strerror(gai));
        free(p);
        return -1;
    }
    memcpy(&p->target, res->ai_addr, res->ai_addrlen);
    p->target_len = res->ai_addrlen;
    freeaddrinfo(res);

    p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    p->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (p->lfd < 0 || p->wake < 0 ||
        bind(p->lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(p->lfd, 128) < 0 ||
        getsockname(p->lfd, (struct sockaddr *)&a, &alen) < 0) {
        snprintf(err, errlen, "faultproxy: cannot listen on 127.0.0.1: %s",
                 strerror(errno));
        goto fail;
    }
    p->port = ntohs(a.sin_port);
    atomic_init(&p->mode, FAULTPROXY_PASS);
    atomic_init(&p->delay_ms, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->nconns, 0);
    atomic_init(&p->accepted, 0);
    int rc = pthread_create(&p->thread, NULL, proxy_main, p);
    if (rc != 0) {
        snprintf(err, errlen, "faultproxy: cannot start a thread: %s",
                 strerror(rc));
        goto fail;
    }
    *out = p;
    return p->port;
fail:
    if (p->lfd >= 0)
        close(p->lfd);
    if (p->wake >= 0)
        close(p->wake);
    free(p);
    return -1;
}

int faultproxy_port(const faultproxy_t *p)
{
    return p ? p->port : -1;
}

void faultproxy_set_mode(faultproxy_t *p, faultproxy_mode_t mode, int delay_ms)
{
    if (p == NULL)
        return;
    atomic_store(&p->delay_ms, delay_ms < 0 ? 0 : delay_ms);
    atomic_store(&p->mode, (int)mode);
    uint64_t one = 1;
    ssize_t ignored = write(p->wake, &one, sizeof one);
    (void)ignored;
}

void faultproxy_pass(faultproxy_t *p)
{
    faultproxy_set_mode(p, FAULTPROXY_PASS, 0);
}

void faultproxy_blackhole(faultproxy_t *p)
{
    faultproxy_set_mode(p, FAULTPROXY_BLACKHOLE, 0);
}

void faultproxy_delay(faultproxy_t *p, int delay_ms)
{
    faultproxy_set_mode(p, FAULTPROXY_DELAY, delay_ms);
}

void faultproxy_reset(faultproxy_t *p)
{
    faultproxy_set_mode(p, FAULTPROXY_RESET, 0);
}

faultproxy_mode_t faultproxy_mode(const faultproxy_t *p)
{
    return p ? (faultproxy_mode_t)atomic_load(&p->mode) : FAULTPROXY_PASS;
}

int faultproxy_connections(const faultproxy_t *p)
{
    return p ? atomic_load(&p->nconns) : 0;
}

long faultproxy_accepted(const faultproxy_t *p)
{
    return p ? atomic_load(&p->accepted) : 0;
}

void faultproxy_stop(faultproxy_t *p)
{
    if (p == NULL)
        return;
    atomic_store(&p->stop, 1);
    uint64_t one = 1;
    ssize_t ignored = write(p->wake, &one, sizeof one);
    (void)ignored;
    pthread_join(p->thread, NULL);
    while (p->conns) {
        conn_t *c = p->conns;
        p->conns = c->next;
        conn_free(p, c, 0);
    }
    close(p->lfd);
    close(p->wake);
    free(p);
}
