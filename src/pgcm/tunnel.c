/* SPDX-License-Identifier: MIT */
/*
 * tunnel.c - SSH tunnels on the loop (tunnel.h): the registry, one libssh2
 * session per bastion (socket, key exchange, host key check,
 * authentication, health), a loopback listener per tunnel, and the
 * channels that carry each accepted connection, pumped both ways.
 *
 * libssh2 in non-blocking mode has one rule that shapes the pump: when a
 * call returns EAGAIN after sending part of a packet, the next sending call
 * on that session must be the same call with the same arguments (anything
 * else fails with LIBSSH2_ERROR_BAD_USE). So the session remembers the one
 * operation that owns a partly sent packet (`blocked`), retries it first,
 * and starts nothing else until it went out. It also keeps one channel open
 * in flight per session (its state lives in the session), so opens queue.
 *
 * What a query costs here is mostly libssh2's per packet (an HMAC context,
 * random padding, the cipher: about 20,000 instructions each way) and the
 * system calls around it, so the pump keeps the latter few: readiness only
 * marks a session due and one pump per loop iteration (a check handle,
 * after every callback of the iteration) moves the bytes of all its
 * connections; the packets it makes leave in one send; and a recv that
 * can only say EAGAIN is not made (sess_io_t).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <libssh2.h>
#include <uv.h>

#include "internal.h"
#include "tunnel.h"

#define LINK_BUF      32768 /* bytes buffered per direction per connection */
#define LINK_READ_MIN 2048  /* stop reading libpq when less room is left */
#define PUMP_ROUNDS   1000  /* rounds per pump call before yielding */
#define OUT_BUF       65536 /* session bytes gathered per pump (two packets) */
#define PING_NAME     "PGCM_PING"
#define MSG_MAX       512

typedef struct session session_t;
typedef struct link link_t;
typedef struct auth_job auth_job_t;

/* What libssh2's I/O callbacks see (their `abstract`), allocated with each
 * libssh2 session: it outlives the session_t's use of that libssh2 session
 * when an authentication step still runs on the thread pool.
 *
 * While the session is up (`up`, only then, and only the loop thread calls
 * libssh2) the callbacks save system calls, without which every packet
 * cost one send and every read one more recv that only said EAGAIN:
 * - Sends are gathered in `out` and go to the socket in one send at the
 *   end of the pump (session_flush), so the packets of every channel that
 *   had bytes in one loop iteration leave together and sshd reads them
 *   with one wake-up. A send that finds `out` full flushes it first; one that
 *   still finds no room gets EAGAIN (libssh2's partly sent packet, as from
 *   a full socket).
 * - A recv that came back short or with EAGAIN left the socket empty
 *   (`drained`): the next recv says EAGAIN without asking the kernel,
 *   until the poll reports the socket readable again or a tick passes
 *   (the poll is level-triggered and watches reading whenever a channel
 *   exists, so bytes that arrive meanwhile are never missed). libssh2
 *   reads until EAGAIN after every packet and before every channel write.
 */
typedef struct sess_io {
    atomic_int dead;             /* fail every send and recv */
    _Atomic uint64_t last_rx_ms; /* the last byte from the server */
    int up;                      /* the session is up: gather, trust drained */
    int drained;                 /* the last recv left the socket empty */
    size_t out_len;              /* bytes in out, not yet sent */
    char out[OUT_BUF];
} sess_io_t;

/*
 * A session's states. Every transition:
 *
 *   from        | on                                   | to
 *   ------------+--------------------------------------+-------------
 *   DOWN        | start (open, reconnect, a connection | RESOLVING
 *               |   arriving after a non-config error) |
 *   RESOLVING   | addresses                            | CONNECTING
 *   CONNECTING  | connected                            | HANDSHAKE
 *   CONNECTING  | refused, next address left           | CONNECTING
 *   HANDSHAKE   | keys exchanged, host key accepted    | AUTH_LIST
 *   AUTH_LIST   | publickey offered                    | AUTH_KEY
 *   AUTH_LIST   | no authentication needed             | CONTROL
 *   AUTH_KEY    | key accepted                         | CONTROL
 *   CONTROL     | control channel open or refused      | UP
 *   any but DOWN| failure, deadline, lost, dead        | DOWN
 *   any         | last tunnel closed, registry closed  | freed
 *
 * Failures record down_code and down_msg and report PGCM__TUNNEL_DOWN to
 * every tunnel on the session; reaching UP reports PGCM__TUNNEL_UP.
 */
typedef enum sess_state {
    S_DOWN,
    S_RESOLVING, /* uv_getaddrinfo in flight */
    S_CONNECTING,
    S_HANDSHAKE,
    S_AUTH_LIST,
    S_AUTH_KEY,
    S_CONTROL, /* opening the control channel (the ping carrier) */
    S_UP
} sess_state_t;

/* The operations that can own a partly sent packet. */
typedef enum op_kind {
    OP_NONE,
    OP_OPEN,  /* direct-tcpip open of s->opening */
    OP_READ,  /* channel read of a link (its window adjust) */
    OP_WRITE, /* channel write of a link's buffered bytes */
    OP_PING,  /* env request on the ping carrier */
    OP_FREE,  /* close and free of a link's channel */
    OP_DRAIN  /* zero-byte read on a channel */
} op_kind_t;

typedef enum link_state {
    L_WAITING, /* accepted while the session is not up */
    L_QUEUED,  /* waiting for its turn to open a channel */
    L_OPENING, /* the session's one channel open in flight */
    L_OPEN,    /* carrying bytes both ways */
    L_CLOSING, /* channel being closed and freed */
    L_DONE     /* channel gone; freed once the client handle closed */
} link_state_t;

typedef struct tevent {
    list_node_t node;
    pgcm__tunnel_event_t ev;
    int code;
    char msg[MSG_MAX];
} tevent_t;

struct pgcm__tunnels {
    uv_loop_t *loop;
    pgcm__tunnel_timing_t timing;
    list_node_t sessions; /* live sessions (not closing) */
    list_node_t tunnels;  /* open tunnels (not closed) */
    uv_timer_t kick;      /* delivers queued events */
    uv_check_t check;     /* pumps sessions due (pump_soon) */
    int handles;          /* uv handles and requests not finished */
    int closing;
    void (*done)(void *arg);
    void *done_arg;
};

struct pgcm__tunnel {
    list_node_t node; /* in reg->tunnels */
    pgcm__tunnels_t *reg;
    session_t *s;
    char *target_host;
    int target_port;
    pgcm__tunnel_cb cb;
    void *owner;
    int fd; /* the listening socket */
    uv_poll_t listener;
    int port;
    int closed;
    int links;          /* links alive (accepted, not yet freed) */
    list_node_t events; /* tevent_t not yet delivered */
    int problem_code;   /* pgcm__tunnel_problem, PGCM_OK when none */
    char problem_msg[MSG_MAX];
};

/* The session socket's poll handle, allocated apart: it closes
 * asynchronously while the session may already use a new socket. */
typedef struct sess_poll {
    uv_poll_t handle;
    session_t *s; /* NULL once detached */
    pgcm__tunnels_t *reg;
    int events;
} sess_poll_t;

/* A name lookup, allocated apart: it may finish after the session ended. */
typedef struct resolve_req {
    uv_getaddrinfo_t req;
    session_t *s; /* NULL once detached */
    pgcm__tunnels_t *reg;
} resolve_req_t;

struct session {
    list_node_t node; /* in reg->sessions */
    pgcm__tunnels_t *reg;
    pgcm_ssh_options_t opts; /* owned copies, as given (the session key) */
    char *host;              /* opts.host */
    int port;                /* opts.port or 22 */
    char user[128];
    char key_path[PATH_MAX];
    char known_hosts[PATH_MAX];
    char bastion[300]; /* "host:port" for messages */
    int refs;          /* open tunnels on it */
    sess_state_t state;
    int closing;
    int down_code;
    char down_msg[MSG_MAX];
    int key_encrypted; /* pgcm__ssh_key_text_encrypted of the key file */

    list_node_t links;      /* link_t of every tunnel on the session */
    list_node_t open_queue; /* link_t in L_QUEUED, FIFO */
    link_t *opening;        /* the link whose channel open is in flight */

    resolve_req_t *resolve;
    struct addrinfo *addrs, *next_addr;
    int connect_errno;
    int fd;
    sess_poll_t *poll;
    LIBSSH2_SESSION *ssh;
    sess_io_t *io;        /* with ssh */
    auth_job_t *auth_job; /* an authentication step on the thread pool */
    LIBSSH2_CHANNEL *ctl;

    uv_timer_t timer; /* health tick and establishment deadline */
    uint64_t deadline_ms;
    uint64_t ping_sent_ms; /* 0: no ping in flight */
    LIBSSH2_CHANNEL *ping_ch;
    int force_ping;

    op_kind_t blocked; /* the operation owning a partly sent packet */
    link_t *blocked_link;
    LIBSSH2_CHANNEL *drain_ch; /* the channel of a blocked OP_DRAIN */
    uint64_t blocked_since_ms; /* when the socket stopped taking bytes */
    uint64_t out_since_ms;     /* when io->out last found the socket full */
    int pumping, pump_again;
    int pump_due; /* readiness seen this loop iteration: pump in on_check */
    int rx_ready; /* the socket (or libssh2's buffer) may hold bytes no
                     call has read yet: set by readiness, a tick, and any
                     call that stops reading at the packet it waited for
                     (opens, pings, closes); cleared by channel reads,
                     which read until EAGAIN */
};

struct link {
    list_node_t node;  /* in s->links */
    list_node_t qnode; /* in s->open_queue while L_QUEUED */
    pgcm__tunnels_t *reg;
    session_t *s;      /* NULL once the session let go of it */
    pgcm__tunnel_t *t; /* NULL once the tunnel closed */
    link_state_t state;
    LIBSSH2_CHANNEL *ch;
    char target_host[256];
    int target_port;
    int origin_port;
    int fd; /* libpq's connection */
    uv_poll_t poll;
    int poll_events;
    int client_open;  /* the socket is open and watched */
    int client_eof;   /* libpq closed its side */
    int writing;      /* down[down_off..down_len) waits for the socket */
    int abandoned;    /* open in flight but nobody wants the channel */
    int handle_alive; /* client handle initialised and not yet closed */
    size_t up_len, up_off;
    size_t down_len, down_off;
    char up[LINK_BUF];   /* libpq -> channel */
    char down[LINK_BUF]; /* channel -> libpq */
};

static void pump(session_t *s);
static void pump_soon(session_t *s);
static void session_start(session_t *s);
static void session_fail(session_t *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void session_step(session_t *s);
static void link_close_client(link_t *l);
static void link_maybe_free(link_t *l);
static void link_detach_tunnel(link_t *l);
static void link_refuse(link_t *l, int code, const char *msg);

/* snprintf for messages, which may be cut at MSG_MAX on purpose. */
static void msgf(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void msgf(char *out, size_t outlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, outlen, fmt, ap);
    va_end(ap);
}

/* ---- libssh2 glue --------------------------------------------------- */

static pthread_once_t ssh2_once = PTHREAD_ONCE_INIT;
static int ssh2_init_rc;

static void ssh2_init(void)
{
    ssh2_init_rc = libssh2_init(0);
}

static LIBSSH2_ALLOC_FUNC(ssh_alloc)
{
    (void)abstract;
    return pgcm__malloc(count);
}

static LIBSSH2_REALLOC_FUNC(ssh_realloc)
{
    (void)abstract;
    return pgcm__realloc(ptr, count);
}

static LIBSSH2_FREE_FUNC(ssh_free)
{
    (void)abstract;
    pgcm__free(ptr);
}

/* The tunnels' clock (milliseconds, monotonic): also read on the thread
 * pool, where the loop's cached time is not ours to read. */
static uint64_t now_ms(void)
{
    return pgcm__mono_us() / 1000;
}

/* Every byte from the server passes here: that is the liveness evidence. */
static LIBSSH2_RECV_FUNC(ssh_recv)
{
    sess_io_t *io = *abstract;
    if (atomic_load(&io->dead))
        return -ECONNRESET;
    if (io->up && io->drained)
        return -EAGAIN;
    ssize_t n = recv(socket, buffer, length, flags);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            io->drained = io->up;
        return -errno;
    }
    if (n > 0) {
        atomic_store_explicit(&io->last_rx_ms, now_ms(), memory_order_relaxed);
        if ((size_t)n < length)
            io->drained = io->up;
    }
    return n;
}

/* Give io->out to the socket: 0 (what the socket did not take stays), or
 * -errno when the connection is gone. */
static int out_send(sess_io_t *io, libssh2_socket_t fd)
{
    size_t off = 0;
    int rc = 0;
    while (off < io->out_len) {
        ssize_t n = send(fd, io->out + off, io->out_len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                rc = -errno;
            break;
        }
    }
    if (off > 0) {
        memmove(io->out, io->out + off, io->out_len - off);
        io->out_len -= off;
    }
    return rc;
}

static LIBSSH2_SEND_FUNC(ssh_send)
{
    sess_io_t *io = *abstract;
    if (atomic_load(&io->dead))
        return -ECONNRESET;
    if (!io->up) {
        ssize_t n = send(socket, buffer, length, flags | MSG_NOSIGNAL);
        return n < 0 ? -errno : n;
    }
    if (length > sizeof io->out - io->out_len) {
        int rc = out_send(io, socket);
        if (rc < 0)
            return rc;
    }
    size_t room = sizeof io->out - io->out_len;
    size_t n = length < room ? length : room;
    if (n == 0)
        return -EAGAIN;
    memcpy(io->out + io->out_len, buffer, n);
    io->out_len += n;
    return (ssize_t)n;
}

static const char *ssh_errmsg(session_t *s)
{
    char *msg = NULL;
    if (s->ssh == NULL)
        return "no session";
    libssh2_session_last_error(s->ssh, &msg, NULL, 0);
    return msg != NULL && msg[0] ? msg : "unknown libssh2 error";
}

/* Errors that end a channel but not its session. */
static int channel_level_error(int rc)
{
    return rc == LIBSSH2_ERROR_CHANNEL_CLOSED ||
           rc == LIBSSH2_ERROR_CHANNEL_EOF_SENT ||
           rc == LIBSSH2_ERROR_CHANNEL_FAILURE ||
           rc == LIBSSH2_ERROR_CHANNEL_UNKNOWN ||
           rc == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED ||
           rc == LIBSSH2_ERROR_CHANNEL_WINDOW_EXCEEDED ||
           rc == LIBSSH2_ERROR_CHANNEL_PACKET_EXCEEDED;
}

/* After an EAGAIN: does a partly sent packet wait (the op is `blocked`)? */
static int outbound_blocked(session_t *s)
{
    return (libssh2_session_block_directions(s->ssh) &
            LIBSSH2_SESSION_BLOCK_OUTBOUND) != 0;
}

static void set_blocked(session_t *s, op_kind_t op, link_t *l);

/* After an EAGAIN from op: if it left a packet half sent, op is blocked. */
static void note_blocked(session_t *s, op_kind_t op, link_t *l)
{
    if (outbound_blocked(s))
        set_blocked(s, op, l);
}

static void set_blocked(session_t *s, op_kind_t op, link_t *l)
{
    if (s->blocked_since_ms == 0)
        s->blocked_since_ms = now_ms();
    s->blocked = op;
    s->blocked_link = l;
}

/* A session-level libssh2 failure while up. */
static void session_lost(session_t *s, int rc, const char *during)
{
    if (rc == LIBSSH2_ERROR_SOCKET_DISCONNECT ||
        rc == LIBSSH2_ERROR_SOCKET_RECV)
        session_fail(s, PGCM_ECONN,
                     "ssh: lost the session to bastion %s (%s): the "
                     "connection was closed or reset",
                     s->bastion, during);
    else
        session_fail(s, PGCM_ECONN,
                     "ssh: lost the session to bastion %s (%s): %s", s->bastion,
                     during, ssh_errmsg(s));
}

/* ---- registry and events -------------------------------------------- */

void pgcm__tunnels_set_timing(pgcm__tunnels_t *reg,
                              const pgcm__tunnel_timing_t *timing)
{
    reg->timing = *timing;
}

pgcm__tunnels_t *pgcm__tunnels_new(uv_loop_t *loop)
{
    pthread_once(&ssh2_once, ssh2_init);
    if (ssh2_init_rc != 0)
        return NULL;
    pgcm__tunnels_t *reg = pgcm__calloc(1, sizeof(*reg));
    if (reg == NULL)
        return NULL;
    reg->loop = loop;
    pgcm__tunnel_timing_init(&reg->timing);
    list_init(&reg->sessions);
    list_init(&reg->tunnels);
    uv_timer_init(loop, &reg->kick);
    reg->kick.data = reg;
    uv_check_init(loop, &reg->check);
    reg->check.data = reg;
    reg->handles = 2;
    return reg;
}

static void reg_handle_done(pgcm__tunnels_t *reg)
{
    reg->handles--;
    if (reg->closing && reg->handles == 0) {
        void (*done)(void *) = reg->done;
        void *arg = reg->done_arg;
        pgcm__free(reg);
        if (done != NULL)
            done(arg);
    }
}

static void kick_closed(uv_handle_t *h)
{
    reg_handle_done(h->data);
}

int pgcm__tunnels_sessions(const pgcm__tunnels_t *reg)
{
    int n = 0;
    for (list_node_t *p = reg->sessions.next; p != &reg->sessions; p = p->next)
        if (LIST_ENTRY(p, session_t, node)->state != S_DOWN)
            n++;
    return n;
}

/* Deliver one event at a time, rescanning after each callback: a callback
 * may close or open any tunnel. */
static void on_kick(uv_timer_t *h)
{
    pgcm__tunnels_t *reg = h->data;
    for (;;) {
        pgcm__tunnel_t *t = NULL;
        for (list_node_t *p = reg->tunnels.next; p != &reg->tunnels;
             p = p->next) {
            pgcm__tunnel_t *c = LIST_ENTRY(p, pgcm__tunnel_t, node);
            if (!list_empty(&c->events)) {
                t = c;
                break;
            }
        }
        if (t == NULL)
            return;
        tevent_t *e = LIST_ENTRY(list_first(&t->events), tevent_t, node);
        list_remove(&e->node);
        t->cb(t, e->ev, e->code, e->msg, t->owner);
        pgcm__free(e);
    }
}

static void queue_event(pgcm__tunnel_t *t, pgcm__tunnel_event_t ev, int code,
                        const char *msg)
{
    if (t == NULL || t->closed || t->cb == NULL)
        return;
    tevent_t *e = pgcm__calloc(1, sizeof(*e));
    if (e == NULL)
        return;
    e->ev = ev;
    e->code = code;
    snprintf(e->msg, sizeof e->msg, "%s", msg ? msg : "");
    list_push_back(&t->events, &e->node);
    if (!uv_is_active((uv_handle_t *)&t->reg->kick))
        uv_timer_start(&t->reg->kick, on_kick, 0, 0);
}

/* What pgcm__tunnel_problem reports (code PGCM_OK clears it). */
static void tunnel_note_problem(pgcm__tunnel_t *t, int code, const char *msg)
{
    if (t == NULL)
        return;
    t->problem_code = code;
    snprintf(t->problem_msg, sizeof t->problem_msg, "%s", msg ? msg : "");
}

static void session_announce(session_t *s, pgcm__tunnel_event_t ev, int code,
                             const char *msg)
{
    pgcm__tunnels_t *reg = s->reg;
    for (list_node_t *p = reg->tunnels.next; p != &reg->tunnels; p = p->next) {
        pgcm__tunnel_t *t = LIST_ENTRY(p, pgcm__tunnel_t, node);
        if (t->s == s) {
            tunnel_note_problem(t, ev == PGCM__TUNNEL_DOWN ? code : PGCM_OK,
                                msg);
            queue_event(t, ev, code, msg);
        }
    }
}

/* ---- the session socket --------------------------------------------- */

static void poll_closed(uv_handle_t *h)
{
    sess_poll_t *p = h->data;
    pgcm__tunnels_t *reg = p->reg;
    pgcm__free(p);
    reg_handle_done(reg);
}

static void on_poll(uv_poll_t *h, int status, int events);

static int poll_open(session_t *s)
{
    sess_poll_t *p = pgcm__calloc(1, sizeof(*p));
    if (p == NULL)
        return UV_ENOMEM;
    int rc = uv_poll_init_socket(s->reg->loop, &p->handle, s->fd);
    if (rc < 0) {
        pgcm__free(p);
        return rc;
    }
    p->handle.data = p;
    p->s = s;
    p->reg = s->reg;
    s->reg->handles++;
    s->poll = p;
    return 0;
}

/* Watch h for events (none: stop), remembering them in *current. */
static void poll_watch(uv_poll_t *h, int *current, int events, uv_poll_cb cb)
{
    if (*current == events)
        return;
    if (events == 0)
        uv_poll_stop(h);
    else
        uv_poll_start(h, events, cb);
    *current = events;
}

static void poll_set(session_t *s, int events)
{
    if (s->poll != NULL)
        poll_watch(&s->poll->handle, &s->poll->events, events, on_poll);
}

/* Close the poll handle (which stops it at once), then the socket. */
static void socket_close(session_t *s)
{
    if (s->poll != NULL) {
        s->poll->s = NULL;
        uv_close((uv_handle_t *)&s->poll->handle, poll_closed);
        s->poll = NULL;
    }
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
}

/* Wait for what libssh2 is blocked on (both when it does not say). */
static void wait_for_libssh2(session_t *s)
{
    int dir = libssh2_session_block_directions(s->ssh);
    int events = 0;
    if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
        events |= UV_READABLE;
    if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
        events |= UV_WRITABLE;
    poll_set(s, events ? events : UV_READABLE);
}

/* ---- session teardown ----------------------------------------------- */

/* Let go of every link: channels are freed with the session, clients
 * closed (libpq sees the connection end). */
static void links_drop(session_t *s)
{
    while (!list_empty(&s->links)) {
        link_t *l = LIST_ENTRY(list_first(&s->links), link_t, node);
        list_remove(&l->node);
        if (list_linked(&l->qnode))
            list_remove(&l->qnode);
        l->ch = NULL;
        l->s = NULL;
        /* A connection still waiting for its channel learns why. */
        if (s->down_code != 0 &&
            (l->state == L_WAITING || l->state == L_QUEUED ||
             l->state == L_OPENING))
            link_refuse(l, s->down_code, s->down_msg);
        l->state = L_DONE;
        link_detach_tunnel(l);
        link_close_client(l);
        link_maybe_free(l);
    }
    s->opening = NULL;
}

/* Free a libssh2 session for good: its I/O fails from now on, so nothing
 * in the free waits for the server. */
static void ssh_session_end(LIBSSH2_SESSION *ssh, sess_io_t *io)
{
    atomic_store(&io->dead, 1);
    for (int i = 0; i < 8; i++)
        if (libssh2_session_free(ssh) != LIBSSH2_ERROR_EAGAIN)
            break;
    pgcm__free(io);
}

/*
 * Authentication on the thread pool. libssh2 reads and decrypts the
 * private key inside libssh2_userauth_publickey_fromfile (twice: for the
 * public key, then to sign), and a passphrase-protected OpenSSH key costs
 * a bcrypt key derivation each time (about 0.15 s of CPU with ssh-keygen's
 * default 16 rounds): each call of that step runs on a libuv worker, while
 * the loop leaves this session alone (no poll, no other call). A call that
 * returns EAGAIN resumes when the socket is ready, with another job.
 */
struct auth_job {
    uv_work_t req;
    session_t *s; /* NULL once orphaned (the session gave up on it) */
    pgcm__tunnels_t *reg;
    LIBSSH2_SESSION *ssh;
    sess_io_t *io;
    int fd; /* an orphan's socket, closed when it ends (else -1) */
    char *user, *key_path, *passphrase; /* copies: s may go meanwhile */
    int rc;
};

static void auth_job_free(auth_job_t *j)
{
    pgcm__free(j->user);
    pgcm__free(j->key_path);
    pgcm__free_secret(j->passphrase);
    pgcm__free(j);
}

/* The session ends while its job runs: hand the job the libssh2 session
 * and the socket, make their I/O fail so the call returns soon. */
static void auth_job_orphan(session_t *s)
{
    auth_job_t *j = s->auth_job;
    s->auth_job = NULL;
    j->s = NULL;
    atomic_store(&s->io->dead, 1);
    s->ssh = NULL;
    s->io = NULL;
    j->fd = s->fd;
    s->fd = -1; /* socket_close still closes the poll handle */
}

static void auth_failed(session_t *s, int rc);
static void session_step(session_t *s);

static void auth_job_run(uv_work_t *req)
{
    auth_job_t *j = req->data;
    j->rc = libssh2_userauth_publickey_fromfile_ex(
        j->ssh, j->user, (unsigned)strlen(j->user), NULL, j->key_path,
        j->passphrase ? j->passphrase : "");
}

static void wait_for_libssh2(session_t *s);

static void auth_job_done(uv_work_t *req, int status)
{
    auth_job_t *j = req->data;
    session_t *s = j->s;
    pgcm__tunnels_t *reg = j->reg;
    (void)status;
    if (s == NULL) {
        ssh_session_end(j->ssh, j->io);
        if (j->fd >= 0)
            close(j->fd);
        auth_job_free(j);
        reg_handle_done(reg);
        return;
    }
    s->auth_job = NULL;
    int rc = j->rc;
    auth_job_free(j);
    if (rc == LIBSSH2_ERROR_EAGAIN)
        wait_for_libssh2(s); /* the next step, when the socket is ready */
    else if (rc != 0)
        auth_failed(s, rc);
    else {
        s->state = S_CONTROL;
        session_step(s);
    }
    reg_handle_done(reg);
}

/* Run the next authentication step on the thread pool. */
static void auth_job_start(session_t *s)
{
    auth_job_t *j = pgcm__calloc(1, sizeof(*j));
    if (j == NULL || (j->user = pgcm__strdup(s->user)) == NULL ||
        (j->key_path = pgcm__strdup(s->key_path)) == NULL ||
        (s->opts.passphrase != NULL &&
         (j->passphrase = pgcm__strdup(s->opts.passphrase)) == NULL)) {
        if (j != NULL)
            auth_job_free(j);
        session_fail(s, PGCM_ENOMEM, "ssh: out of memory");
        return;
    }
    j->req.data = j;
    j->s = s;
    j->reg = s->reg;
    j->ssh = s->ssh;
    j->io = s->io;
    j->fd = -1;
    poll_set(s, 0); /* the loop keeps off this session meanwhile */
    if (uv_queue_work(s->reg->loop, &j->req, auth_job_run, auth_job_done) < 0) {
        auth_job_free(j);
        session_fail(s, PGCM_EINTERNAL, "ssh: cannot queue the authentication");
        return;
    }
    s->reg->handles++;
    s->auth_job = j;
}

/* End the libssh2 session and the socket. graceful: say goodbye first (one
 * try; a session that cannot take it is cut). */
static void io_teardown(session_t *s, int graceful)
{
    links_drop(s);
    if (s->auth_job != NULL)
        auth_job_orphan(s); /* the job frees ssh and the socket when done */
    if (s->ssh != NULL) {
        if (graceful && s->state == S_UP && s->blocked == OP_NONE) {
            libssh2_session_disconnect(s->ssh, "closing");
            out_send(s->io, s->fd); /* one try */
        }
        ssh_session_end(s->ssh, s->io);
        s->ssh = NULL;
        s->io = NULL;
    }
    s->ctl = NULL;
    s->ping_ch = NULL;
    s->ping_sent_ms = 0;
    s->force_ping = 0;
    s->blocked = OP_NONE;
    s->blocked_link = NULL;
    s->drain_ch = NULL;
    s->blocked_since_ms = 0;
    s->out_since_ms = 0;
    s->pump_due = 0;
    socket_close(s);
    if (s->resolve != NULL) {
        s->resolve->s = NULL;
        uv_cancel((uv_req_t *)&s->resolve->req);
        s->resolve = NULL;
    }
    if (s->addrs != NULL) {
        uv_freeaddrinfo(s->addrs);
        s->addrs = NULL;
        s->next_addr = NULL;
    }
}

static void session_fail(session_t *s, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->down_msg, sizeof s->down_msg, fmt, ap);
    va_end(ap);
    s->down_code = code;
    io_teardown(s, 0);
    s->state = S_DOWN;
    uv_timer_stop(&s->timer);
    session_announce(s, PGCM__TUNNEL_DOWN, code, s->down_msg);
}

/* s and its copies of the options (the passphrase wiped). */
static void session_free_memory(session_t *s)
{
    pgcm__free(s->host);
    pgcm__free((char *)s->opts.user);
    pgcm__free((char *)s->opts.key_path);
    pgcm__free((char *)s->opts.known_hosts);
    pgcm__free_secret((char *)s->opts.passphrase);
    pgcm__free(s);
}

static void session_freed(uv_handle_t *h)
{
    session_t *s = h->data;
    pgcm__tunnels_t *reg = s->reg;
    session_free_memory(s);
    reg_handle_done(reg);
}

/* The last tunnel is gone (or the registry closes): end it for good. */
static void session_close(session_t *s)
{
    if (s->closing)
        return;
    s->closing = 1;
    list_remove(&s->node);
    io_teardown(s, 1);
    s->state = S_DOWN;
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, session_freed);
}

/* ---- session establishment ------------------------------------------ */

static void home_dir(char *out, size_t outlen)
{
    const char *home = getenv("HOME");
    if (home != NULL && home[0] != '\0') {
        snprintf(out, outlen, "%s", home);
        return;
    }
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &res) == 0 && res)
        snprintf(out, outlen, "%s", pw.pw_dir);
    else
        snprintf(out, outlen, "/");
}

static void current_user(char *out, size_t outlen)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &res) == 0 && res)
        snprintf(out, outlen, "%s", pw.pw_name);
    else
        snprintf(out, outlen, "root");
}

static void on_tick(uv_timer_t *h);

static session_t *session_new(pgcm__tunnels_t *reg, const pgcm_ssh_options_t *o)
{
    session_t *s = pgcm__calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->reg = reg;
    s->fd = -1;
    list_init(&s->node);
    list_init(&s->links);
    list_init(&s->open_queue);
    s->opts = *o;
    s->host = pgcm__strdup(o->host);
    s->opts.host = s->host;
    s->opts.user = pgcm__strdup(o->user);
    s->opts.key_path = pgcm__strdup(o->key_path);
    s->opts.known_hosts = pgcm__strdup(o->known_hosts);
    s->opts.passphrase = pgcm__strdup(o->passphrase);
    if (s->host == NULL || (o->user && !s->opts.user) ||
        (o->key_path && !s->opts.key_path) ||
        (o->known_hosts && !s->opts.known_hosts) ||
        (o->passphrase && !s->opts.passphrase)) {
        session_free_memory(s);
        return NULL;
    }
    s->port = o->port > 0 ? o->port : 22;
    snprintf(s->bastion, sizeof s->bastion, "%s:%d", s->host, s->port);

    char home[PATH_MAX];
    home_dir(home, sizeof home);
    if (o->user != NULL && o->user[0] != '\0')
        snprintf(s->user, sizeof s->user, "%s", o->user);
    else
        current_user(s->user, sizeof s->user);
    pgcm__expand_home(o->known_hosts && o->known_hosts[0]
                          ? o->known_hosts
                          : "~/.ssh/known_hosts",
                      home, s->known_hosts, sizeof s->known_hosts);
    if (o->key_path != NULL && o->key_path[0] != '\0') {
        pgcm__expand_home(o->key_path, home, s->key_path, sizeof s->key_path);
    } else {
        /* As ssh does without -i: the first default key that exists. */
        static const char *const defaults[] = {
            "~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa"};
        for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++) {
            pgcm__expand_home(defaults[i], home, s->key_path,
                              sizeof s->key_path);
            if (access(s->key_path, R_OK) == 0)
                break;
            if (i + 1 < sizeof defaults / sizeof *defaults)
                continue;
            pgcm__expand_home(defaults[0], home, s->key_path,
                              sizeof s->key_path);
        }
    }
    uv_timer_init(reg->loop, &s->timer);
    s->timer.data = s;
    reg->handles++;
    list_push_back(&reg->sessions, &s->node);
    return s;
}

static void try_connect(session_t *s);

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    resolve_req_t *r = req->data;
    session_t *s = r->s;
    pgcm__tunnels_t *reg = r->reg;
    pgcm__free(r);
    if (s == NULL) {
        if (res != NULL)
            uv_freeaddrinfo(res);
        reg_handle_done(reg);
        return;
    }
    s->resolve = NULL;
    if (status < 0) {
        session_fail(s, PGCM_ECONN,
                     "ssh: cannot resolve the bastion's name '%s': %s; check "
                     "ssh.host",
                     s->host, uv_strerror(status));
    } else {
        s->addrs = res;
        s->next_addr = res;
        s->connect_errno = 0;
        try_connect(s);
    }
    reg_handle_done(reg);
}

static void session_start(session_t *s)
{
    if (s->closing || s->state != S_DOWN)
        return;
    pgcm__tunnels_t *reg = s->reg;
    resolve_req_t *r = pgcm__calloc(1, sizeof(*r));
    if (r == NULL) {
        session_fail(s, PGCM_ENOMEM, "ssh: out of memory");
        return;
    }
    r->s = s;
    r->reg = reg;
    r->req.data = r;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    s->state = S_RESOLVING;
    s->deadline_ms = now_ms() + (uint64_t)reg->timing.connect_timeout_ms;
    uv_timer_start(&s->timer, on_tick, (uint64_t)reg->timing.tick_ms,
                   (uint64_t)reg->timing.tick_ms);
    int rc =
        uv_getaddrinfo(reg->loop, &r->req, on_resolved, s->host, port, &hints);
    if (rc < 0) {
        pgcm__free(r);
        session_fail(s, PGCM_ECONN,
                     "ssh: cannot resolve the bastion's name '%s': %s; check "
                     "ssh.host",
                     s->host, uv_strerror(rc));
        return;
    }
    reg->handles++;
    s->resolve = r;
}

static void addr_string(const struct addrinfo *ai, char *out, size_t outlen)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ai->ai_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, ip,
                  sizeof ip);
    else if (ai->ai_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr,
                  ip, sizeof ip);
    snprintf(out, outlen, "%s", ip);
}

/* Start a non-blocking connect to the next address, or fail with the last
 * address's error. */
static void try_connect(session_t *s)
{
    while (s->next_addr != NULL) {
        struct addrinfo *ai = s->next_addr;
        s->next_addr = ai->ai_next;
        int fd = socket(ai->ai_family,
                        SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            s->connect_errno = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
            errno != EINPROGRESS) {
            s->connect_errno = errno;
            close(fd);
            continue;
        }
        s->fd = fd;
        if (poll_open(s) < 0) {
            close(fd);
            s->fd = -1;
            session_fail(s, PGCM_ENOMEM, "ssh: out of memory");
            return;
        }
        s->state = S_CONNECTING;
        poll_set(s, UV_WRITABLE);
        return;
    }
    char addr[INET6_ADDRSTRLEN] = "";
    for (struct addrinfo *ai = s->addrs; ai != NULL; ai = ai->ai_next)
        addr_string(ai, addr, sizeof addr);
    session_fail(s, PGCM_ECONN,
                 "ssh: cannot connect to bastion %s (%s): %s; is sshd running "
                 "there, and are ssh.host and ssh.port right?",
                 s->bastion, addr,
                 strerror(s->connect_errno ? s->connect_errno : ECONNREFUSED));
}

/* Map libssh2's host key type to known_hosts' key mask. */
static int knownhost_key_mask(int hostkey_type)
{
    switch (hostkey_type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA:
        return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
    case LIBSSH2_HOSTKEY_TYPE_DSS:
        return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
        return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
        return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
        return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
    case LIBSSH2_HOSTKEY_TYPE_ED25519:
        return LIBSSH2_KNOWNHOST_KEY_ED25519;
    default:
        return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
    }
}

/* Read known_hosts into kh line by line, skipping lines libssh2 cannot
 * parse (markers, key types it does not know), as ssh does. Returns 0, 1
 * when the file does not exist, or -1 with errno. */
static int known_hosts_load(session_t *s, LIBSSH2_KNOWNHOSTS *kh)
{
    FILE *f = fopen(s->known_hosts, "re");
    if (f == NULL)
        return errno == ENOENT ? 1 : -1;
    char line[16384];
    while (fgets(line, sizeof line, f) != NULL) {
        size_t n = strlen(line);
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == '\0' || *p == '@')
            continue;
        libssh2_knownhost_readline(kh, line, n, LIBSSH2_KNOWNHOST_FILE_OPENSSH);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        errno = EIO;
        return -1;
    }
    return 0;
}

/* 1 if the comma-separated list has name as one of its items. */
static int csv_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0)
            return 1;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return 0;
}

/* Offer the host key algorithms known_hosts has for this bastion first,
 * so a bastion with several keys shows the one recorded (as ssh does). */
static void prefer_known_key_types(session_t *s)
{
    static const struct {
        int mask;
        const char *methods;
    } types[] = {
        {LIBSSH2_KNOWNHOST_KEY_ED25519, "ssh-ed25519"},
        {LIBSSH2_KNOWNHOST_KEY_ECDSA_256, "ecdsa-sha2-nistp256"},
        {LIBSSH2_KNOWNHOST_KEY_ECDSA_384, "ecdsa-sha2-nistp384"},
        {LIBSSH2_KNOWNHOST_KEY_ECDSA_521, "ecdsa-sha2-nistp521"},
        {LIBSSH2_KNOWNHOST_KEY_SSHRSA, "rsa-sha2-512,rsa-sha2-256,ssh-rsa"},
        {LIBSSH2_KNOWNHOST_KEY_SSHDSS, "ssh-dss"},
    };
    LIBSSH2_KNOWNHOSTS *kh = libssh2_knownhost_init(s->ssh);
    if (kh == NULL)
        return;
    const char **algs = NULL;
    int nalgs = 0;
    char pref[1024] = "";
    size_t used = 0;
    if (known_hosts_load(s, kh) != 0)
        goto out;
    nalgs =
        libssh2_session_supported_algs(s->ssh, LIBSSH2_METHOD_HOSTKEY, &algs);
    if (nalgs <= 0)
        goto out;
    /* A key of another type never matches: MISMATCH means "has one". */
    static const char probe[] = {0};
    int known[sizeof types / sizeof *types] = {0};
    int any = 0;
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        int r = libssh2_knownhost_checkp(
            kh, s->host, s->port, probe, sizeof probe,
            LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
                types[i].mask,
            NULL);
        known[i] = r == LIBSSH2_KNOWNHOST_CHECK_MISMATCH;
        any |= known[i];
    }
    if (!any)
        goto out;
    /* Known types first, then every other supported algorithm. */
    for (int pass = 0; pass < 2; pass++) {
        for (int a = 0; a < nalgs; a++) {
            int is_known = 0;
            for (size_t i = 0; i < sizeof types / sizeof *types; i++)
                if (known[i] && csv_has(types[i].methods, algs[a]))
                    is_known = 1;
            if (is_known != (pass == 0))
                continue;
            int w = snprintf(pref + used, sizeof pref - used, "%s%s",
                             used ? "," : "", algs[a]);
            if (w < 0 || (size_t)w >= sizeof pref - used)
                goto out;
            used += (size_t)w;
        }
    }
    libssh2_session_method_pref(s->ssh, LIBSSH2_METHOD_HOSTKEY, pref);
out:
    if (algs != NULL)
        libssh2_free(s->ssh, algs);
    libssh2_knownhost_free(kh);
}

static void connect_done(session_t *s)
{
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        soerr = errno;
    if (soerr == EINPROGRESS || soerr == EALREADY)
        return;
    if (soerr != 0) {
        s->connect_errno = soerr;
        socket_close(s);
        try_connect(s);
        return;
    }
    s->io = pgcm__calloc(1, sizeof(*s->io));
    s->ssh =
        s->io ? libssh2_session_init_ex(ssh_alloc, ssh_free, ssh_realloc, s->io)
              : NULL;
    if (s->ssh == NULL) {
        pgcm__free(s->io);
        s->io = NULL;
        session_fail(s, PGCM_ENOMEM, "ssh: out of memory");
        return;
    }
    libssh2_session_set_blocking(s->ssh, 0);
    libssh2_session_callback_set(s->ssh, LIBSSH2_CALLBACK_RECV,
                                 (void *)ssh_recv);
    libssh2_session_callback_set(s->ssh, LIBSSH2_CALLBACK_SEND,
                                 (void *)ssh_send);
    prefer_known_key_types(s);
    s->state = S_HANDSHAKE;
    session_step(s);
}

/* Append one line for the new key to known_hosts (accept-new). */
static int known_hosts_append(session_t *s, LIBSSH2_KNOWNHOSTS *kh,
                              const char *key, size_t keylen, int mask)
{
    char name[300];
    pgcm__known_hosts_name(s->host, s->port, name, sizeof name);
    struct libssh2_knownhost *node = NULL;
    if (libssh2_knownhost_addc(kh, name, NULL, key, keylen, NULL, 0,
                               LIBSSH2_KNOWNHOST_TYPE_PLAIN |
                                   LIBSSH2_KNOWNHOST_KEYENC_RAW | mask,
                               &node) != 0) {
        errno = EINVAL;
        return -1;
    }
    char line[16384];
    size_t n = 0;
    if (libssh2_knownhost_writeline(kh, node, line, sizeof line, &n,
                                    LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0) {
        errno = EINVAL;
        return -1;
    }
    /* Make ~/.ssh if needed (only the last component, as ssh does). */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", s->known_hosts);
    char *slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            return -1;
    }
    int fd =
        open(s->known_hosts, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    /* Start on a new line if the file does not end with one. */
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        int rfd = open(s->known_hosts, O_RDONLY | O_CLOEXEC);
        char last = '\n';
        if (rfd >= 0) {
            if (pread(rfd, &last, 1, st.st_size - 1) != 1)
                last = '\n';
            close(rfd);
        }
        if (last != '\n' && write(fd, "\n", 1) != 1)
            rc = -1;
    }
    if (rc == 0 && write(fd, line, n) != (ssize_t)n)
        rc = -1;
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* Verify the bastion's host key against known_hosts. Returns 0, or fails
 * the session (-1). */
static int check_host_key(session_t *s)
{
    size_t keylen = 0;
    int type = 0;
    const char *key = libssh2_session_hostkey(s->ssh, &keylen, &type);
    if (key == NULL) {
        session_fail(s, PGCM_ECONN, "ssh: bastion %s sent no host key",
                     s->bastion);
        return -1;
    }
    char fp[64] = "SHA256:?";
    const char *hash =
        libssh2_hostkey_hash(s->ssh, LIBSSH2_HOSTKEY_HASH_SHA256);
    if (hash != NULL)
        pgcm__ssh_fingerprint((const unsigned char *)hash, fp, sizeof fp);
    char ktype[80];
    pgcm__ssh_key_blob_type((const unsigned char *)key, keylen, ktype,
                            sizeof ktype);
    int mask = knownhost_key_mask(type);

    LIBSSH2_KNOWNHOSTS *kh = libssh2_knownhost_init(s->ssh);
    if (kh == NULL) {
        session_fail(s, PGCM_ENOMEM, "ssh: out of memory");
        return -1;
    }
    int loaded = known_hosts_load(s, kh);
    if (loaded < 0) {
        int e = errno;
        libssh2_knownhost_free(kh);
        session_fail(s, PGCM_EAUTH,
                     "ssh: cannot read %s: %s; fix it or point "
                     "ssh.known_hosts at another file",
                     s->known_hosts, strerror(e));
        return -1;
    }
    int r = libssh2_knownhost_checkp(kh, s->host, s->port, key, keylen,
                                     LIBSSH2_KNOWNHOST_TYPE_PLAIN |
                                         LIBSSH2_KNOWNHOST_KEYENC_RAW | mask,
                                     NULL);
    char msg[MSG_MAX];
    int rc = 0;
    if (r == LIBSSH2_KNOWNHOST_CHECK_MATCH) {
        rc = 0;
    } else if (r == LIBSSH2_KNOWNHOST_CHECK_MISMATCH) {
        pgcm__ssh_msg_hostkey_changed(msg, sizeof msg, s->host, s->port, ktype,
                                      fp, s->known_hosts);
        rc = -1;
    } else if (r == LIBSSH2_KNOWNHOST_CHECK_NOTFOUND &&
               s->opts.host_key_check == PGCM_HOSTKEY_ACCEPT_NEW) {
        if (known_hosts_append(s, kh, key, keylen, mask) < 0) {
            msgf(msg, sizeof msg,
                 "ssh: cannot record the host key of bastion %s (%s %s) "
                 "in %s: %s",
                 s->bastion, ktype, fp, s->known_hosts, strerror(errno));
            rc = -1;
        }
    } else if (r == LIBSSH2_KNOWNHOST_CHECK_NOTFOUND) {
        pgcm__ssh_msg_hostkey_unknown(msg, sizeof msg, s->host, s->port, ktype,
                                      fp, s->known_hosts);
        rc = -1;
    } else {
        msgf(msg, sizeof msg,
             "ssh: cannot check the host key of bastion %s (%s %s) "
             "against %s: %s",
             s->bastion, ktype, fp, s->known_hosts, ssh_errmsg(s));
        rc = -1;
    }
    libssh2_knownhost_free(kh);
    if (rc < 0)
        session_fail(s, PGCM_EAUTH, "%s", msg);
    return rc;
}

/* Read the private key file once before authenticating, to tell a missing
 * file, a missing passphrase and a wrong one apart. Returns 0 or fails the
 * session (-1). */
static int check_key_file(session_t *s)
{
    FILE *f = fopen(s->key_path, "re");
    if (f == NULL) {
        session_fail(s, PGCM_EAUTH,
                     "ssh: cannot read the private key %s: %s; check "
                     "ssh.key_path",
                     s->key_path, strerror(errno));
        return -1;
    }
    char text[16384];
    size_t n = fread(text, 1, sizeof text, f);
    fclose(f);
    s->key_encrypted = pgcm__ssh_key_text_encrypted(text, n);
    explicit_bzero(text, sizeof text);
    if (s->key_encrypted == 1 &&
        (s->opts.passphrase == NULL || s->opts.passphrase[0] == '\0')) {
        session_fail(s, PGCM_EAUTH,
                     "ssh: the private key %s is protected by a passphrase: "
                     "set ssh.passphrase",
                     s->key_path);
        return -1;
    }
    return 0;
}

static void auth_failed(session_t *s, int rc)
{
    if (rc == LIBSSH2_ERROR_FILE) {
        if (s->key_encrypted == 1)
            session_fail(s, PGCM_EAUTH,
                         "ssh: cannot decrypt the private key %s: wrong "
                         "ssh.passphrase",
                         s->key_path);
        else
            session_fail(s, PGCM_EAUTH,
                         "ssh: cannot use the private key %s: %s; use a "
                         "key made by ssh-keygen (ed25519, ecdsa or rsa)",
                         s->key_path, ssh_errmsg(s));
    } else if (rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED ||
               rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED) {
        session_fail(s, PGCM_EAUTH,
                     "ssh: bastion %s refused the key %s for user '%s'; is "
                     "its public key in that user's authorized_keys on the "
                     "bastion, and may the user log in?",
                     s->bastion, s->key_path, s->user);
    } else if (rc == LIBSSH2_ERROR_SOCKET_DISCONNECT ||
               rc == LIBSSH2_ERROR_SOCKET_RECV ||
               rc == LIBSSH2_ERROR_SOCKET_SEND) {
        session_fail(s, PGCM_ECONN,
                     "ssh: bastion %s closed the connection during "
                     "authentication of user '%s'",
                     s->bastion, s->user);
    } else {
        session_fail(s, PGCM_EAUTH,
                     "ssh: authentication of user '%s' on bastion %s "
                     "failed: %s",
                     s->user, s->bastion, ssh_errmsg(s));
    }
}

static void session_up(session_t *s)
{
    s->state = S_UP;
    s->down_code = 0;
    s->down_msg[0] = '\0';
    atomic_store(&s->io->last_rx_ms, now_ms());
    s->ping_sent_ms = 0;
    s->rx_ready = 1;
    s->io->up = 1; /* from now on only this thread calls libssh2 */
    s->io->drained = 0;
    s->out_since_ms = 0;
    session_announce(s, PGCM__TUNNEL_UP, PGCM_OK, "");
    for (list_node_t *p = s->links.next; p != &s->links; p = p->next) {
        link_t *l = LIST_ENTRY(p, link_t, node);
        if (l->state == L_WAITING) {
            l->state = L_QUEUED;
            list_push_back(&s->open_queue, &l->qnode);
        }
    }
    pump(s);
}

/* Advance the establishment as far as libssh2 goes without blocking. */
static void session_step(session_t *s)
{
    int rc;
    switch (s->state) {
    case S_HANDSHAKE:
        rc = libssh2_session_handshake(s->ssh, s->fd);
        if (rc == LIBSSH2_ERROR_EAGAIN) {
            wait_for_libssh2(s);
            return;
        }
        if (rc != 0) {
            if (rc == LIBSSH2_ERROR_KEX_FAILURE)
                session_fail(s, PGCM_EAUTH,
                             "ssh: key exchange with bastion %s failed: %s "
                             "(no algorithm in common?)",
                             s->bastion, ssh_errmsg(s));
            else if (rc == LIBSSH2_ERROR_BANNER_RECV ||
                     rc == LIBSSH2_ERROR_BANNER_SEND)
                session_fail(s, PGCM_ECONN,
                             "ssh: %s did not answer as an SSH server (%s); "
                             "check ssh.host and ssh.port",
                             s->bastion, ssh_errmsg(s));
            else
                session_fail(s, PGCM_ECONN,
                             "ssh: key exchange with bastion %s failed: %s",
                             s->bastion, ssh_errmsg(s));
            return;
        }
        if (check_host_key(s) < 0)
            return;
        s->state = S_AUTH_LIST;
        /* fall through */
    case S_AUTH_LIST: {
        const char *methods =
            libssh2_userauth_list(s->ssh, s->user, (unsigned)strlen(s->user));
        if (methods == NULL) {
            if (libssh2_userauth_authenticated(s->ssh)) {
                s->state = S_CONTROL;
                session_step(s);
                return;
            }
            rc = libssh2_session_last_errno(s->ssh);
            if (rc == LIBSSH2_ERROR_EAGAIN) {
                wait_for_libssh2(s);
                return;
            }
            auth_failed(s, rc);
            return;
        }
        if (strstr(methods, "publickey") == NULL) {
            session_fail(s, PGCM_EAUTH,
                         "ssh: bastion %s does not accept public keys for "
                         "user '%s' (it offers: %s)",
                         s->bastion, s->user, methods);
            return;
        }
        if (check_key_file(s) < 0)
            return;
        s->state = S_AUTH_KEY;
    }
        /* fall through */
    case S_AUTH_KEY:
        if (s->auth_job == NULL)
            auth_job_start(s); /* its end steps on */
        return;
    case S_CONTROL: {
        LIBSSH2_CHANNEL *ch = libssh2_channel_open_session(s->ssh);
        if (ch == NULL) {
            rc = libssh2_session_last_errno(s->ssh);
            if (rc == LIBSSH2_ERROR_EAGAIN) {
                wait_for_libssh2(s);
                return;
            }
            if (rc != LIBSSH2_ERROR_CHANNEL_FAILURE) {
                session_lost(s, rc, "opening the control channel");
                return;
            }
            /* Refused (MaxSessions 0 and the like): pings ride on the
             * connections' channels instead. */
        }
        s->ctl = ch;
        session_up(s);
        return;
    }
    default:
        return;
    }
}

/* ---- links: the accepted connections -------------------------------- */

/*
 * libpq's side of a link is a plain non-blocking socket watched by a
 * uv_poll_t, read with recv and written with send(MSG_NOSIGNAL): a write to
 * a socket libpq already closed must fail with EPIPE, never raise SIGPIPE
 * in the embedding process (libuv's stream writes would).
 */

static void link_handle_closed(uv_handle_t *h)
{
    link_t *l = h->data;
    l->handle_alive = 0;
    link_maybe_free(l);
}

/* The tunnel no longer counts l (it closed, or l ended). */
static void link_detach_tunnel(link_t *l)
{
    if (l->t != NULL) {
        l->t->links--;
        l->t = NULL;
    }
}

/* Free l once its client handle and its channel are gone. */
static void link_maybe_free(link_t *l)
{
    if (l->handle_alive || l->client_open || l->ch != NULL ||
        l->state == L_OPENING)
        return;
    if (list_linked(&l->node))
        list_remove(&l->node);
    if (list_linked(&l->qnode))
        list_remove(&l->qnode);
    link_detach_tunnel(l);
    pgcm__tunnels_t *reg = l->reg;
    pgcm__free(l);
    reg_handle_done(reg);
}

static void link_close_client(link_t *l)
{
    if (!l->client_open)
        return;
    l->client_open = 0;
    l->writing = 0;
    uv_close((uv_handle_t *)&l->poll, link_handle_closed); /* stops it */
    close(l->fd);
    l->fd = -1;
}

/* Stop carrying l: close the libpq side now and let the pump free the
 * channel (or free it when its open completes). The caller pumps. */
static void link_abort(link_t *l)
{
    link_close_client(l);
    switch (l->state) {
    case L_WAITING:
    case L_QUEUED:
        if (list_linked(&l->qnode))
            list_remove(&l->qnode);
        l->state = L_DONE;
        break;
    case L_OPENING:
        l->abandoned = 1;
        break;
    case L_OPEN:
        l->state = L_CLOSING;
        break;
    default:
        break;
    }
    link_maybe_free(l);
}

static void link_on_poll(uv_poll_t *h, int status, int events);

/* Watch libpq's socket for what l can take now: reading while there is
 * room for it, writing while server bytes wait. */
static void link_watch(link_t *l)
{
    if (!l->client_open)
        return;
    int events = 0;
    if (!l->client_eof && sizeof l->up - l->up_len >= LINK_READ_MIN)
        events |= UV_READABLE;
    if (l->writing)
        events |= UV_WRITABLE;
    poll_watch(&l->poll, &l->poll_events, events, link_on_poll);
}

/* Send what is left of l->down; 0 when all is out or still pending, -1
 * when libpq's socket is gone (then l is closing). */
static int link_flush(link_t *l)
{
    while (l->down_off < l->down_len) {
        ssize_t n = send(l->fd, l->down + l->down_off,
                         l->down_len - l->down_off, MSG_NOSIGNAL);
        if (n > 0) {
            l->down_off += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            l->writing = 1;
            link_watch(l);
            return 0;
        }
        if (n < 0 && errno == EINTR)
            continue;
        /* EPIPE, ECONNRESET: libpq has gone. */
        l->down_len = l->down_off = 0;
        l->writing = 0;
        if (l->state == L_OPEN)
            l->state = L_CLOSING;
        link_close_client(l);
        return -1;
    }
    l->down_len = l->down_off = 0;
    l->writing = 0;
    if (l->state != L_OPEN)
        link_close_client(l); /* the server's last bytes are out */
    else
        link_watch(l);
    return 0;
}

/* Hand the bytes just read from the channel to libpq. */
static void link_write_client(link_t *l)
{
    l->down_off = 0;
    link_flush(l);
}

/*
 * Tell libpq why its connection cannot be carried, the way a server that
 * cannot start a backend does: a PostgreSQL ErrorResponse (FATAL, SQLSTATE
 * 28000 for configuration errors, else 08001, and the message) in place of
 * the server's first byte. Waiting for the answer to its startup packet,
 * libpq reports that text ("FATAL: ssh: ...") rather than "server closed
 * the connection unexpectedly"; answering an SSLRequest, it says only that
 * the server sent an error (it does not trust a server not yet
 * authenticated). Only for a connection that never received a byte from
 * the server; best effort (one non-blocking send of a few hundred bytes
 * into an empty socket).
 */
static void link_refuse(link_t *l, int code, const char *msg)
{
    if (!l->client_open || l->writing)
        return;
    const char *sqlstate = code == PGCM_EAUTH ? "28000" : "08001";
    size_t mlen = strnlen(msg, MSG_MAX);
    unsigned char *b = (unsigned char *)l->down;
    size_t n = 5; /* 'E' and the length, filled in below */
    b[0] = 'E';
    const char *fields[][2] = {
        {"S", "FATAL"}, {"V", "FATAL"}, {"C", sqlstate}, {"M", NULL}};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        const char *v = fields[i][1] ? fields[i][1] : msg;
        size_t vlen = fields[i][1] ? strlen(v) : mlen;
        b[n++] = (unsigned char)fields[i][0][0];
        memcpy(b + n, v, vlen);
        n += vlen;
        b[n++] = '\0';
    }
    b[n++] = '\0';
    uint32_t len = (uint32_t)(n - 1);
    b[1] = (unsigned char)(len >> 24);
    b[2] = (unsigned char)(len >> 16);
    b[3] = (unsigned char)(len >> 8);
    b[4] = (unsigned char)len;
    ssize_t w = send(l->fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
    l->down_len = l->down_off = 0;
}

/* libpq's socket: bytes to forward, the end of the connection, or room to
 * write. */
static void link_on_poll(uv_poll_t *h, int status, int events)
{
    link_t *l = h->data;
    session_t *s = l->s;
    if (status < 0)
        events = UV_READABLE | (l->writing ? UV_WRITABLE : 0);
    if ((events & UV_WRITABLE) && l->writing) {
        if (link_flush(l) < 0) {
            if (s != NULL)
                pump_soon(s);
            link_maybe_free(l);
            return;
        }
    }
    if (!(events & UV_READABLE) || !l->client_open || l->client_eof)
        goto out;
    size_t room = sizeof l->up - l->up_len;
    if (room == 0)
        goto out;
    ssize_t n = recv(l->fd, l->up + l->up_len, room, 0);
    if (n > 0) {
        l->up_len += (size_t)n;
        link_watch(l);
        goto out;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        goto out;
    /* libpq closed the connection (or it broke): flush what it sent last
     * (its Terminate message) into the channel, then close the channel. */
    l->client_eof = 1;
    if (l->state == L_OPEN) {
        link_close_client(l);
    } else {
        link_abort(l);
        if (s != NULL)
            pump_soon(s);
        return; /* l may be gone */
    }
out:
    if (s != NULL && (l->state == L_OPEN || l->state == L_CLOSING))
        pump_soon(s);
}

/* The last ready libpq connection on t's listener, as a new link. */
static void accept_one(pgcm__tunnel_t *t, int fd)
{
    link_t *l = pgcm__calloc(1, sizeof(*l));
    if (l == NULL) {
        close(fd);
        return;
    }
    pgcm__tunnels_t *reg = t->reg;
    session_t *s = t->s;
    l->reg = reg;
    l->fd = fd;
    list_init(&l->node);
    list_init(&l->qnode);
    if (uv_poll_init_socket(reg->loop, &l->poll, fd) < 0) {
        close(fd);
        pgcm__free(l);
        return;
    }
    l->poll.data = l;
    l->handle_alive = 1;
    l->client_open = 1;
    reg->handles++;
    l->t = t;
    t->links++;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in peer;
    socklen_t plen = sizeof peer;
    if (getpeername(fd, (struct sockaddr *)&peer, &plen) == 0 &&
        peer.sin_family == AF_INET)
        l->origin_port = ntohs(peer.sin_port);
    snprintf(l->target_host, sizeof l->target_host, "%s", t->target_host);
    l->target_port = t->target_port;
    l->s = s;
    list_push_back(&s->links, &l->node);
    link_watch(l);

    if (s->state == S_UP) {
        l->state = L_QUEUED;
        list_push_back(&s->open_queue, &l->qnode);
        pump(s);
    } else if (s->state == S_DOWN) {
        /* A configuration error waits for pgcm__tunnel_reconnect (the
         * node's slowest retry pace); anything else is retried now. */
        if (s->down_code == PGCM_EAUTH) {
            link_refuse(l, s->down_code, s->down_msg);
            l->state = L_DONE;
            link_abort(l);
            return;
        }
        l->state = L_WAITING;
        session_start(s);
    } else {
        l->state = L_WAITING;
    }
}

static void on_listener(uv_poll_t *h, int status, int events)
{
    pgcm__tunnel_t *t = h->data;
    (void)status;
    (void)events;
    while (!t->closed) {
        int fd = accept4(t->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or an error the next readiness retries */
        accept_one(t, fd);
    }
}

/* ---- the pump -------------------------------------------------------- */

/* One step of a link's channel open (the session's only open in flight).
 * Returns 1 on progress. */
static int op_open(session_t *s)
{
    link_t *l = s->opening;
    LIBSSH2_CHANNEL *ch = libssh2_channel_direct_tcpip_ex(
        s->ssh, l->target_host, l->target_port, "127.0.0.1", l->origin_port);
    if (ch == NULL) {
        int rc = libssh2_session_last_errno(s->ssh);
        if (rc == LIBSSH2_ERROR_EAGAIN) {
            note_blocked(s, OP_OPEN, l);
            return 0;
        }
        s->opening = NULL;
        s->rx_ready = 1;
        if (rc != LIBSSH2_ERROR_CHANNEL_FAILURE) {
            session_lost(s, rc, "opening a channel");
            return 0;
        }
        /* libssh2: "Channel open failure (connect failed)". */
        char reason[200];
        const char *m = ssh_errmsg(s);
        const char *lp = strchr(m, '(');
        const char *rp = lp ? strrchr(lp, ')') : NULL;
        if (lp != NULL && rp != NULL && rp > lp + 1)
            snprintf(reason, sizeof reason, "%.*s", (int)(rp - lp - 1), lp + 1);
        else
            snprintf(reason, sizeof reason, "%s", m);
        char msg[MSG_MAX];
        pgcm__ssh_msg_channel_refused(msg, sizeof msg, s->bastion,
                                      l->target_host, l->target_port, reason);
        tunnel_note_problem(l->t, PGCM_ECONN, msg);
        queue_event(l->t, PGCM__TUNNEL_CHANNEL_REFUSED, PGCM_ECONN, msg);
        link_refuse(l, PGCM_ECONN, msg);
        l->state = L_DONE;
        link_close_client(l);
        link_maybe_free(l);
        return 1;
    }
    s->opening = NULL;
    s->rx_ready = 1;
    l->ch = ch;
    tunnel_note_problem(l->t, PGCM_OK, ""); /* the hop works */
    if (l->abandoned || !l->client_open) {
        l->state = L_CLOSING;
    } else {
        l->state = L_OPEN;
    }
    return 1;
}

/* A link's channel close and free. */
static int op_free(session_t *s, link_t *l)
{
    if (s->ping_ch == l->ch && s->ping_ch != NULL) {
        s->ping_ch = NULL; /* that ping is abandoned */
        s->ping_sent_ms = 0;
    }
    int rc = libssh2_channel_free(l->ch);
    if (rc == LIBSSH2_ERROR_EAGAIN) {
        note_blocked(s, OP_FREE, l);
        return 0;
    }
    l->ch = NULL;
    l->state = L_DONE;
    s->rx_ready = 1;
    if (!l->writing)
        link_close_client(l);
    link_maybe_free(l);
    return 1;
}

/* Channel -> libpq for one link. */
static int op_read(session_t *s, link_t *l)
{
    ssize_t n = libssh2_channel_read(l->ch, l->down, sizeof l->down);
    s->rx_ready = 0; /* libssh2 reads the socket until EAGAIN first */
    if (n > 0) {
        l->down_len = (size_t)n;
        link_write_client(l);
        return 1;
    }
    if (n == LIBSSH2_ERROR_EAGAIN || n == 0) {
        if (n == LIBSSH2_ERROR_EAGAIN && outbound_blocked(s)) {
            set_blocked(s, OP_READ, l);
            return 0;
        }
        if (libssh2_channel_eof(l->ch)) {
            /* The server side ended: close libpq's side once the last
             * bytes are written, and the channel. */
            l->state = L_CLOSING;
            if (!l->writing)
                link_close_client(l);
            return 1;
        }
        return 0;
    }
    if (channel_level_error((int)n)) {
        l->state = L_CLOSING;
        if (!l->writing)
            link_close_client(l);
        return 1;
    }
    session_lost(s, (int)n, "reading a channel");
    return 0;
}

/* libpq -> channel for one link. */
static int op_write(session_t *s, link_t *l)
{
    ssize_t n =
        libssh2_channel_write(l->ch, l->up + l->up_off, l->up_len - l->up_off);
    if (n > 0) {
        l->up_off += (size_t)n;
        if (l->up_off == l->up_len) {
            l->up_off = 0;
            l->up_len = 0;
            link_watch(l);
        }
        return 1;
    }
    if (n == LIBSSH2_ERROR_EAGAIN) {
        note_blocked(s, OP_WRITE, l);
        return 0;
    }
    if (n == 0)
        return 0; /* the server's window is full */
    if (channel_level_error((int)n)) {
        l->state = L_CLOSING;
        link_close_client(l);
        return 1;
    }
    session_lost(s, (int)n, "writing a channel");
    return 0;
}

/* The ping in flight: returns 1 when answered. */
static int op_ping(session_t *s)
{
    int rc = libssh2_channel_setenv_ex(s->ping_ch, PING_NAME,
                                       sizeof PING_NAME - 1, "1", 1);
    if (rc == LIBSSH2_ERROR_EAGAIN) {
        note_blocked(s, OP_PING, NULL);
        return 0;
    }
    s->ping_sent_ms = 0;
    s->ping_ch = NULL;
    s->rx_ready = 1;
    if (rc == 0 || channel_level_error(rc))
        return 1; /* answered (a refusal is the usual answer) */
    session_lost(s, rc, "waiting for a keepalive answer");
    return 0;
}

/* Read the transport when nothing else did (a 0-byte read only drains). */
static void op_drain(session_t *s, LIBSSH2_CHANNEL *ch)
{
    char none[1];
    ssize_t n = libssh2_channel_read(ch, none, 0);
    s->rx_ready = 0;
    if (n == LIBSSH2_ERROR_EAGAIN && outbound_blocked(s)) {
        set_blocked(s, OP_DRAIN, NULL);
        s->drain_ch = ch;
    } else if (n < 0 && n != LIBSSH2_ERROR_EAGAIN &&
               !channel_level_error((int)n))
        session_lost(s, (int)n, "reading");
    else if (ch == s->ctl && libssh2_channel_eof(ch))
        s->ctl = NULL; /* closed by the server; freed with the session */
}

static LIBSSH2_CHANNEL *any_channel(session_t *s)
{
    if (s->ctl != NULL)
        return s->ctl;
    for (list_node_t *p = s->links.next; p != &s->links; p = p->next) {
        link_t *l = LIST_ENTRY(p, link_t, node);
        if (l->state == L_OPEN && !l->client_eof)
            return l->ch;
    }
    return NULL;
}

/* Retry the operation that owns a partly sent packet. */
static void run_blocked(session_t *s)
{
    op_kind_t op = s->blocked;
    link_t *l = s->blocked_link;
    s->blocked = OP_NONE;
    s->blocked_link = NULL;
    switch (op) {
    case OP_OPEN:
        op_open(s);
        break;
    case OP_READ:
        if (l->down_len == 0 && !l->writing)
            op_read(s, l);
        else
            op_drain(s, l->ch);
        break;
    case OP_WRITE:
        op_write(s, l);
        break;
    case OP_PING:
        op_ping(s);
        break;
    case OP_FREE:
        op_free(s, l);
        break;
    case OP_DRAIN:
        op_drain(s, s->drain_ch);
        break;
    default:
        break;
    }
}

#define STOP_IF_HALTED(s)                                                      \
    do {                                                                       \
        if ((s)->state != S_UP || (s)->blocked != OP_NONE)                     \
            return progress;                                                   \
    } while (0)

static int link_step(session_t *s, link_t *l)
{
    int progress = 0;
    if (l->state == L_CLOSING) {
        if (l->up_off < l->up_len && l->client_eof && l->ch != NULL &&
            !l->abandoned) {
            /* libpq's last bytes (Terminate) go out before the close. */
            progress |= op_write(s, l);
            STOP_IF_HALTED(s);
            if (l->up_off < l->up_len)
                return progress;
        }
        return progress | op_free(s, l);
    }
    if (l->state != L_OPEN)
        return 0;
    if (l->client_eof) {
        /* Flush what libpq sent last, then close. */
        if (l->up_off < l->up_len) {
            progress |= op_write(s, l);
            STOP_IF_HALTED(s);
            if (l->up_off < l->up_len)
                return progress;
        }
        l->state = L_CLOSING;
        return 1 | op_free(s, l);
    }
    if (l->down_len == 0 && !l->writing &&
        (s->rx_ready || libssh2_poll_channel_read(l->ch, 0) ||
         libssh2_channel_eof(l->ch))) {
        progress |= op_read(s, l);
        STOP_IF_HALTED(s);
        if (l->state != L_OPEN)
            return progress;
    }
    if (l->up_off < l->up_len) {
        progress |= op_write(s, l);
        STOP_IF_HALTED(s);
    }
    return progress;
}

/* Health, after every pump: apply the liveness rule. Something we sent
 * that the server must answer is either the ping in flight or, while the
 * socket takes nothing (a packet half sent, or gathered bytes left in
 * io->out), those bytes: either way a server silent for reply_timeout_ms
 * since is dead. */
static void health_check(session_t *s)
{
    uint64_t now = now_ms();
    uint64_t awaiting = s->ping_sent_ms;
    if (awaiting == 0 && s->blocked != OP_NONE)
        awaiting = s->blocked_since_ms;
    if (awaiting == 0 && s->io->out_len > 0)
        awaiting = s->out_since_ms;
    pgcm__tunnel_liveness_t v = pgcm__tunnel_liveness(
        (int64_t)now,
        (int64_t)atomic_load_explicit(&s->io->last_rx_ms, memory_order_relaxed),
        (int64_t)awaiting, &s->reg->timing);
    if (v == PGCM__LIVE_DEAD) {
        session_fail(s, PGCM_ETIMEDOUT,
                     "ssh: bastion %s stopped answering (no reply to a "
                     "keepalive within %d ms): the session is dropped",
                     s->bastion, s->reg->timing.reply_timeout_ms);
        return;
    }
    if ((v == PGCM__LIVE_PING || s->force_ping) && s->ping_sent_ms == 0 &&
        s->blocked == OP_NONE) {
        s->force_ping = 0;
        LIBSSH2_CHANNEL *ch = any_channel(s);
        if (ch != NULL) {
            s->ping_ch = ch;
            s->ping_sent_ms = now > 0 ? now : 1;
            op_ping(s);
        }
    }
}

static int pump_round(session_t *s)
{
    int progress = 0;
    if (s->blocked != OP_NONE) {
        run_blocked(s);
        STOP_IF_HALTED(s);
        s->blocked_since_ms = 0;
        progress = 1;
    }
    if (s->opening == NULL && !list_empty(&s->open_queue)) {
        link_t *l = LIST_ENTRY(list_first(&s->open_queue), link_t, qnode);
        list_remove(&l->qnode);
        l->state = L_OPENING;
        s->opening = l;
    }
    if (s->opening != NULL) {
        progress |= op_open(s);
        STOP_IF_HALTED(s);
    }
    list_node_t *next;
    for (list_node_t *p = s->links.next; p != &s->links; p = next) {
        next = p->next;
        progress |= link_step(s, LIST_ENTRY(p, link_t, node));
        STOP_IF_HALTED(s);
    }
    if (s->ping_sent_ms != 0) {
        progress |= op_ping(s);
        STOP_IF_HALTED(s);
    }
    if (s->rx_ready) {
        LIBSSH2_CHANNEL *ch = any_channel(s);
        if (ch != NULL)
            op_drain(s, ch);
    }
    return progress;
}

/* Give the socket what the pump gathered (sess_io_t). Returns 0, or -1
 * when the connection is gone (the session failed). */
static int session_flush(session_t *s)
{
    sess_io_t *io = s->io;
    size_t before = io->out_len;
    if (before == 0)
        return 0;
    int rc = out_send(io, s->fd);
    if (rc < 0) {
        session_fail(s, PGCM_ECONN,
                     "ssh: lost the session to bastion %s (sending): %s",
                     s->bastion,
                     rc == -EPIPE || rc == -ECONNRESET
                         ? "the connection was closed or reset"
                         : strerror(-rc));
        return -1;
    }
    /* Bytes left: the socket is full; since when it last took nothing. */
    if (io->out_len == 0)
        s->out_since_ms = 0;
    else if (s->out_since_ms == 0 || io->out_len < before)
        s->out_since_ms = now_ms();
    return 0;
}

/* Move bytes until nothing moves, send what that gathered; then watch the
 * socket for what is left to send and for what libssh2 waits on. Reading
 * is watched only while some channel exists to read through (without
 * one, libssh2 offers no call that reads). */
static void pump(session_t *s)
{
    if (s->state != S_UP)
        return;
    if (s->pumping) {
        s->pump_again = 1;
        return;
    }
    s->pump_due = 0;
    if (session_flush(s) < 0) /* room for a packet a blocked call retries */
        return;
    s->pumping = 1;
    int rounds = 0;
    do {
        s->pump_again = 0;
        if (pump_round(s))
            s->pump_again = 1;
        if (s->state != S_UP || s->blocked != OP_NONE)
            break;
    } while (s->pump_again && ++rounds < PUMP_ROUNDS);
    s->pumping = 0;
    if (s->state == S_UP)
        health_check(s);
    if (s->state != S_UP || session_flush(s) < 0)
        return;
    int events = s->blocked != OP_NONE || s->io->out_len > 0 ? UV_WRITABLE : 0;
    int readable = s->ctl != NULL || s->opening != NULL;
    for (list_node_t *p = s->links.next; p != &s->links && !readable;
         p = p->next)
        readable = LIST_ENTRY(p, link_t, node)->ch != NULL;
    poll_set(s, events | (readable ? UV_READABLE : 0));
}

/*
 * Readiness callbacks (the session socket's, libpq's sockets') do not pump
 * at once: they mark the session due and the registry's check handle
 * pumps it after every callback of this loop iteration ran, before the
 * loop waits again. One pump then moves the bytes of every connection
 * that had some, and its packets leave in one send. Only the poll phase
 * defers: a check handle started elsewhere would wait for the next
 * readiness.
 */
static void on_check(uv_check_t *h)
{
    pgcm__tunnels_t *reg = h->data;
    uv_check_stop(h);
    for (list_node_t *p = reg->sessions.next; p != &reg->sessions;
         p = p->next) {
        session_t *s = LIST_ENTRY(p, session_t, node);
        if (s->pump_due)
            pump(s); /* clears pump_due */
    }
}

static void pump_soon(session_t *s)
{
    if (s->state != S_UP || s->closing)
        return;
    s->pump_due = 1;
    if (!uv_is_active((uv_handle_t *)&s->reg->check))
        uv_check_start(&s->reg->check, on_check);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    sess_poll_t *p = h->data;
    session_t *s = p->s;
    if (s == NULL)
        return;
    switch (s->state) {
    case S_CONNECTING:
        connect_done(s);
        break;
    case S_HANDSHAKE:
    case S_AUTH_LIST:
    case S_AUTH_KEY:
    case S_CONTROL:
        session_step(s);
        break;
    case S_UP:
        if (status < 0 || (events & UV_READABLE)) {
            s->rx_ready = 1;
            s->io->drained = 0;
        }
        pump_soon(s);
        break;
    default:
        break;
    }
}

static const char *phase_name(sess_state_t st)
{
    switch (st) {
    case S_RESOLVING:
        return "name lookup";
    case S_CONNECTING:
        return "TCP connect";
    case S_HANDSHAKE:
        return "key exchange";
    case S_AUTH_LIST:
    case S_AUTH_KEY:
        return "authentication";
    default:
        return "opening the control channel";
    }
}

static void on_tick(uv_timer_t *h)
{
    session_t *s = h->data;
    if (s->state == S_UP) {
        s->rx_ready = 1; /* a read per tick, whatever the poll said */
        s->io->drained = 0;
        pump(s);
        return;
    }
    if (s->state != S_DOWN && now_ms() >= s->deadline_ms)
        session_fail(s, PGCM_ETIMEDOUT,
                     "ssh: bastion %s did not complete the login within %d "
                     "ms (stuck in %s); is it reachable?",
                     s->bastion, s->reg->timing.connect_timeout_ms,
                     phase_name(s->state));
}

/* ---- tunnels --------------------------------------------------------- */

static void tunnel_freed(uv_handle_t *h)
{
    pgcm__tunnel_t *t = h->data;
    pgcm__tunnels_t *reg = t->reg;
    while (!list_empty(&t->events)) {
        tevent_t *e = LIST_ENTRY(list_first(&t->events), tevent_t, node);
        list_remove(&e->node);
        pgcm__free(e);
    }
    pgcm__free(t->target_host);
    pgcm__free(t);
    reg_handle_done(reg);
}

int pgcm__tunnel_open(pgcm__tunnels_t *reg, const pgcm_ssh_options_t *ssh,
                      const char *target_host, int target_port,
                      pgcm__tunnel_cb cb, void *owner, pgcm__tunnel_t **out,
                      pgcm_error_t *err)
{
    *out = NULL;
    if (reg->closing)
        return pgcm__error_set(err, PGCM_ESHUTDOWN, NULL,
                               "ssh: the tunnels are shutting down");
    if (ssh == NULL || ssh->host == NULL || ssh->host[0] == '\0')
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "ssh: no bastion host (ssh.host) given");
    if (ssh->port < 0 || ssh->port > 65535)
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "ssh: ssh.port %d is not a TCP port", ssh->port);
    if (target_host == NULL || target_host[0] == '\0' || target_port <= 0 ||
        target_port > 65535 || strlen(target_host) >= 256)
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "ssh: a tunnel needs the node's host and port "
                               "as the bastion sees them");
    pgcm__tunnel_t *t = pgcm__calloc(1, sizeof(*t));
    if (t == NULL || (t->target_host = pgcm__strdup(target_host)) == NULL) {
        pgcm__free(t);
        return pgcm__error_set(err, PGCM_ENOMEM, NULL, "ssh: out of memory");
    }
    t->reg = reg;
    t->target_port = target_port;
    t->cb = cb;
    t->owner = owner;
    list_init(&t->node);
    list_init(&t->events);

    /* The listener: 127.0.0.1, a port the kernel picks. */
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    int rc = 0;
    t->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (t->fd < 0 || bind(t->fd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
        listen(t->fd, 128) < 0 ||
        getsockname(t->fd, (struct sockaddr *)&addr, &alen) < 0)
        rc = -errno;
    else
        rc = uv_poll_init_socket(reg->loop, &t->listener, t->fd);
    if (rc < 0) {
        if (t->fd >= 0)
            close(t->fd);
        pgcm__free(t->target_host);
        pgcm__free(t);
        return pgcm__error_set(err, PGCM_ECONN, NULL,
                               "ssh: cannot listen on 127.0.0.1 for the "
                               "tunnel: %s",
                               uv_strerror(rc));
    }
    t->listener.data = t;
    reg->handles++;
    t->port = ntohs(addr.sin_port);

    session_t *s = NULL;
    for (list_node_t *p = reg->sessions.next; p != &reg->sessions;
         p = p->next) {
        session_t *c = LIST_ENTRY(p, session_t, node);
        if (pgcm__ssh_options_same_session(&c->opts, ssh)) {
            s = c;
            break;
        }
    }
    if (s == NULL && (s = session_new(reg, ssh)) == NULL) {
        t->closed = 1;
        uv_close((uv_handle_t *)&t->listener, tunnel_freed);
        close(t->fd);
        return pgcm__error_set(err, PGCM_ENOMEM, NULL, "ssh: out of memory");
    }
    uv_poll_start(&t->listener, UV_READABLE, on_listener);
    s->refs++;
    t->s = s;
    list_push_back(&reg->tunnels, &t->node);
    if (s->state == S_UP)
        queue_event(t, PGCM__TUNNEL_UP, PGCM_OK, "");
    else if (s->state == S_DOWN)
        session_start(s); /* a new node tries at once */
    *out = t;
    return PGCM_OK;
}

int pgcm__tunnel_local_port(const pgcm__tunnel_t *t)
{
    return t->port;
}

int pgcm__tunnel_problem(const pgcm__tunnel_t *t, pgcm_error_t *err)
{
    if (t->problem_code == PGCM_OK)
        return PGCM_OK;
    return pgcm__error_set(err, t->problem_code, NULL, "%s", t->problem_msg);
}

int pgcm__tunnel_is_up(const pgcm__tunnel_t *t)
{
    return t->s->state == S_UP;
}

int pgcm__tunnel_channels(const pgcm__tunnel_t *t)
{
    return t->links;
}

int pgcm__tunnel_check(pgcm__tunnel_t *t, pgcm_error_t *err)
{
    session_t *s = t->s;
    if (s->state == S_UP) {
        if (s->ping_sent_ms == 0) {
            s->force_ping = 1;
            pump(s);
        }
        return PGCM_OK;
    }
    if (s->state == S_DOWN && s->down_code != 0)
        return pgcm__error_set(err, s->down_code, NULL, "%s", s->down_msg);
    return PGCM_OK;
}

void pgcm__tunnel_reconnect(pgcm__tunnel_t *t)
{
    if (!t->closed && t->s->state == S_DOWN)
        session_start(t->s);
}

void pgcm__tunnel_close(pgcm__tunnel_t *t)
{
    if (t->closed)
        return;
    t->closed = 1;
    list_remove(&t->node);
    while (!list_empty(&t->events)) {
        tevent_t *e = LIST_ENTRY(list_first(&t->events), tevent_t, node);
        list_remove(&e->node);
        pgcm__free(e);
    }
    session_t *s = t->s;
    list_node_t *next;
    for (list_node_t *p = s->links.next; p != &s->links; p = next) {
        next = p->next;
        link_t *l = LIST_ENTRY(p, link_t, node);
        if (l->t == t) {
            link_detach_tunnel(l);
            link_abort(l);
        }
    }
    uv_close((uv_handle_t *)&t->listener, tunnel_freed); /* stops it */
    close(t->fd);
    if (--s->refs == 0)
        session_close(s);
    else
        pump(s);
}

void pgcm__tunnels_close(pgcm__tunnels_t *reg, void (*done)(void *arg),
                         void *arg)
{
    if (reg->closing)
        return;
    reg->closing = 1;
    reg->done = done;
    reg->done_arg = arg;
    while (!list_empty(&reg->tunnels))
        pgcm__tunnel_close(
            LIST_ENTRY(list_first(&reg->tunnels), pgcm__tunnel_t, node));
    while (!list_empty(&reg->sessions))
        session_close(LIST_ENTRY(list_first(&reg->sessions), session_t, node));
    uv_timer_stop(&reg->kick);
    uv_close((uv_handle_t *)&reg->kick, kick_closed);
    uv_close((uv_handle_t *)&reg->check, kick_closed); /* stops it */
}
