/* SPDX-License-Identifier: MIT */
/*
 * pgcm.h - the public API of libpgcm, a multi-node PostgreSQL connection
 * manager: one pool per node, health tracking, parallel fan-out queries,
 * runtime add/remove and a clean shutdown.
 *
 * Threading contract
 * ------------------
 * - Every public function is safe to call from any thread. Calls that act on
 *   nodes post a command to the manager's event-loop thread (a queue plus
 *   uv_async_send) and either wait for it (blocking calls) or return at once
 *   (the *_async variants).
 * - Callbacks run on the manager's loop thread and must not block. A blocking
 *   call made from a callback returns PGCM_EDEADLK instead of deadlocking;
 *   use the *_async variant there. One exception: a request posted at the
 *   very moment the loop finishes shutting down is answered with
 *   PGCM_ESHUTDOWN on the thread that posted it, before the call returns.
 * - Getters (pgcm_node_health, pgcm_node_stats, pgcm_node_list) read a
 *   snapshot the loop publishes and never wait for the loop.
 *
 * Errors
 * ------
 * Functions returning int return PGCM_OK (0) or a negative PGCM_E* code, and
 * fill the optional pgcm_error_t with a message for a person that names the
 * node and the cause. Passwords never appear in messages. If a call that takes
 * a callback returns an error, the callback never fires; otherwise it fires
 * exactly once (also at removal and shutdown, with PGCM_ESHUTDOWN or
 * PGCM_ECANCELED).
 *
 * Ownership
 * ---------
 * The library copies everything it is given. The caller frees what the
 * library returns with the matching *_free function, from any thread. A
 * result handed to a callback belongs to the callback, which must free it.
 */
#ifndef PGCM_H
#define PGCM_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define PGCM_EXTERN    __attribute__((visibility("default")))
#define PGCM_MUSTCHECK __attribute__((warn_unused_result))
#else
#define PGCM_EXTERN
#define PGCM_MUSTCHECK
#endif

#define PGCM_VERSION_MAJOR  0
#define PGCM_VERSION_MINOR  1
#define PGCM_VERSION_PATCH  0
#define PGCM_VERSION_STRING "0.1.0"

/* ---------------------------------------------------------------------- */
/* Errors                                                                 */
/* ---------------------------------------------------------------------- */

/* X-macro list of every error code: name, value, description. */
#define PGCM_ERRNO_MAP(XX)                                                     \
    XX(OK, 0, "success")                                                       \
    XX(EINVAL, -1, "invalid argument")                                         \
    XX(ENOMEM, -2, "out of memory")                                            \
    XX(ETIMEDOUT, -3, "timed out")                                             \
    XX(ECANCELED, -4, "canceled")                                              \
    XX(ECONN, -5, "connection failed")                                         \
    XX(EAUTH, -6, "authentication or configuration rejected by the server")    \
    XX(ESQL, -7, "the server reported an SQL error")                           \
    XX(ESHUTDOWN, -8, "the manager is shutting down or shut down")             \
    XX(EEXIST, -9, "a node with this id already exists")                       \
    XX(ENOENT, -10, "no such node or request")                                 \
    XX(EDEADLK, -11, "blocking call made on the manager's loop thread")        \
    XX(EUNAVAIL, -12, "the node is not available (unhealthy or removed)")      \
    XX(EINTERNAL, -13, "internal error")

typedef enum pgcm_errno {
#define PGCM_ERRNO_ENUM(name, value, text) PGCM_##name = value,
    PGCM_ERRNO_MAP(PGCM_ERRNO_ENUM)
#undef PGCM_ERRNO_ENUM
} pgcm_errno_t;

/* Detailed error: filled by calls that take a pgcm_error_t *; may be NULL. */
typedef struct pgcm_error {
    int code;          /* PGCM_E* (PGCM_OK when nothing failed) */
    char sqlstate[6];  /* SQLSTATE from the server, or "" */
    char node_id[64];  /* node the error concerns, or "" (truncated) */
    char message[512]; /* one line for a person: cause and what to do */
} pgcm_error_t;

/* pgcm_strerror - description of an error code ("unknown error" if none).
 * Thread: any. Returns a static string. */
PGCM_EXTERN const char *pgcm_strerror(int code);
/* pgcm_err_name - the code's name without prefix, e.g. "ETIMEDOUT". */
PGCM_EXTERN const char *pgcm_err_name(int code);

/* ---------------------------------------------------------------------- */
/* Allocator                                                              */
/* ---------------------------------------------------------------------- */

/* pgcm_set_allocator - replace malloc/realloc/free for libpgcm's own memory
 * (libpq and libuv keep theirs). Call before creating any manager; any NULL
 * argument restores the libc function. Thread: not thread-safe; call once at
 * start-up. Returns PGCM_EINVAL if a manager already exists. */
PGCM_EXTERN int pgcm_set_allocator(void *(*malloc_fn)(size_t),
                                   void *(*realloc_fn)(void *, size_t),
                                   void (*free_fn)(void *));

/* ---------------------------------------------------------------------- */
/* Node specification                                                     */
/* ---------------------------------------------------------------------- */

typedef enum pgcm_ssl_mode_choice {
    PGCM_SSL_DEFAULT = -1, /* leave it to libpq (PGSSLMODE, else prefer) */
    PGCM_SSL_DISABLED = 0, /* sslmode=disable */
    PGCM_SSL_ENABLED = 1   /* require, or verify-full if reject_unauthorized */
} pgcm_ssl_mode_choice_t;

typedef struct pgcm_ssl_options {
    int enabled;             /* pgcm_ssl_mode_choice_t */
    int reject_unauthorized; /* 1: sslmode=verify-full; 0: sslmode=require */
    const char *ca;          /* sslrootcert path, or NULL */
    const char *cert;        /* sslcert path (client certificate), or NULL */
    const char *key;         /* sslkey path, or NULL */
} pgcm_ssl_options_t;

/* How the bastion's host key is checked against known_hosts. */
typedef enum pgcm_host_key_check {
    PGCM_HOSTKEY_STRICT = 0,    /* the key must be recorded already */
    PGCM_HOSTKEY_ACCEPT_NEW = 1 /* an unknown host's key is recorded; a
                                   changed key is still refused */
} pgcm_host_key_check_t;

/* SSH tunnel: with host set, the node is reached through that SSH server
 * (a bastion). The node's host and port are then the target as the bastion
 * sees them (one name or address, not a socket path or a list); libpq
 * connects to a loopback listener of the library and TLS still checks the
 * node's host name. Nodes with equal ssh options share one SSH session.
 * The bastion's host key must be in known_hosts (or host_key_check
 * accept-new); authentication is by public key (key_path, default the
 * first of ~/.ssh/id_ed25519, id_ecdsa, id_rsa). Failures of this hop
 * start "ssh: " in the node's last error; PGCM_EV_TUNNEL_UP/DOWN tell when
 * the session comes and goes. */
typedef struct pgcm_ssh_options {
    const char *host; /* NULL: no tunnel */
    int port;         /* default 22 */
    const char *user;
    const char *key_path;
    const char *known_hosts; /* NULL: ~/.ssh/known_hosts */
    const char *passphrase;  /* key passphrase, or NULL (a secret) */
    int host_key_check; /* PGCM_HOSTKEY_STRICT (0) or PGCM_HOSTKEY_ACCEPT_NEW
                           (1) */
} pgcm_ssh_options_t;

typedef struct pgcm_pool_options {
    int min;                /* connections kept open (default 1, >= 0) */
    int max;                /* upper bound (default 10, >= 1, >= min) */
    int idle_timeout_ms;    /* idle beyond this and above min: closed (10000) */
    int acquire_timeout_ms; /* wait for a connection at most (10000) */
    int max_lifetime_ms;    /* recycle after this, +-10% jitter (1800000) */
    int leak_threshold_ms;  /* warn when a checkout is held longer (60000) */
    int pipeline_depth;     /* this node's pipelining: 0 the manager's
                               pgcm_options_t.pipeline_depth (default), -1
                               off, 2..PGCM_PIPELINE_MAX on (1: off) */
} pgcm_pool_options_t;

/* The largest pipeline_depth (requests in flight on one connection). */
#define PGCM_PIPELINE_MAX 256

/*
 * A node: how to reach one PostgreSQL server and how to pool it. Strings are
 * borrowed for the duration of the call that takes the spec and copied by the
 * library. Initialise with pgcm_node_spec_init(), then set what you need.
 *
 * When conninfo (a libpq key=value string or postgresql:// URI) is given, it
 * is the base and the individual fields set here override it. Unset fields
 * (NULL, or 0 for port) fall back to libpq's defaults: PG* environment
 * variables and ~/.pgpass work as they do for psql.
 */
typedef struct pgcm_node_spec {
    const char *id;       /* unique, non-empty, at most 63 bytes */
    const char *conninfo; /* optional base connection string */
    const char *host;     /* name, address or socket directory */
    int port;             /* 0: libpq default */
    const char *database;
    const char *user;
    const char *password;         /* a secret: never logged */
    const char *application_name; /* NULL: the manager's (default "replmon") */
    int connect_timeout_ms;       /* 0: the manager's connect_timeout_ms */
    pgcm_ssl_options_t ssl;
    pgcm_ssh_options_t ssh;
    pgcm_pool_options_t pool;
} pgcm_node_spec_t;

/* pgcm_node_spec_init - fill *spec with defaults (all strings NULL, pool
 * defaults as documented above). Thread: any. */
PGCM_EXTERN void pgcm_node_spec_init(pgcm_node_spec_t *spec);

/* pgcm_node_spec_equal - 1 if two specs describe the same connection and
 * pool settings (used to decide which nodes a reload replaces), else 0. */
PGCM_EXTERN int pgcm_node_spec_equal(const pgcm_node_spec_t *a,
                                     const pgcm_node_spec_t *b);

/* ---------------------------------------------------------------------- */
/* Manager                                                                */
/* ---------------------------------------------------------------------- */

typedef struct pgcm_manager_s pgcm_manager_t;

/* ---- Log hook ----------------------------------------------------------
 * What the library does and why, one record per happening: every connection
 * opened, failed, closed or discarded (with the reason), every health check
 * and state change, every cancel, nodes added and removed. */

typedef enum pgcm_log_level {
    PGCM_LOG_DEBUG = 0, /* health checks, acquire/release: many per second */
    PGCM_LOG_INFO = 1,  /* connections opened and closed, nodes, states */
    PGCM_LOG_WARN = 2,  /* connect failures, discards, leaks, timeouts */
    PGCM_LOG_ERROR = 3  /* a node found unhealthy */
} pgcm_log_level_t;

/* pgcm_log_level_name - "debug", "info", "warn", "error". */
PGCM_EXTERN const char *pgcm_log_level_name(pgcm_log_level_t level);

typedef struct pgcm_log_record {
    pgcm_log_level_t level;
    int64_t time_ms;         /* Unix epoch milliseconds */
    const char *node_id;     /* NULL when not about one node */
    const char *event;       /* snake_case: node_added, node_removed,
                                connection_opened, connection_error (a connect
                                that failed), connection_closed (reason in
                                message), connection_discarded, connection_acquired,
                                connection_released, health_check, state_changed,
                                cancel_sent, query_failed, checkout_leak,
                                retry_requested */
    const char *message;     /* for a person; never contains a secret */
    uint64_t correlation_id; /* the request's or batch's id (or the caller's
                                pgcm_query_options_t.correlation_id), the
                                probe cycle's id; 0 if none */
    int error_code;          /* PGCM_* code, 0 when none */
    const char *sqlstate;    /* "" when none */
    int64_t duration_us;     /* how long it took, -1 when it has no duration:
                                connection_acquired: the wait for a
                                connection; connection_released: the
                                statement; connection_opened: the connect;
                                connection_closed/_discarded: the
                                connection's age; health_check: the
                                probe's latency */
} pgcm_log_record_t;

/* Fires on the loop thread; must not block and must not call pgcm
 * functions. Every pointer in rec is borrowed for the call. */
typedef void (*pgcm_log_cb)(const pgcm_log_record_t *rec, void *user);

typedef struct pgcm_options {
    int health_check_interval_ms; /* full probe cadence (5000) */
    int health_check_timeout_ms;  /* one probe's deadline (2000) */
    int liveness_interval_ms;     /* idle-node heartbeat, 0 disables (500) */
    int liveness_timeout_ms;      /* heartbeat deadline (400): past it the
                                     heartbeat fails; its connection waits
                                     on for the late answer (up to
                                     health_check_timeout_ms) rather than
                                     being closed */
    int suspect_probe_timeout_ms; /* probe deadline while suspect (300) */
    int unhealthy_threshold;      /* consecutive failures (3) */
    int degraded_latency_ms;      /* probe slower than this: degraded (1000) */
    int query_timeout_ms;         /* default per-query timeout (30000) */
    int connect_timeout_ms;       /* default connect timeout (5000), from
                                     the start of the handshake: at most 128
                                     connections of a manager connect at
                                     once, the others wait their turn */
    int shutdown_timeout_ms;      /* drain in-flight work at most (10000) */
    int remove_timeout_ms;        /* drain a removed node at most (1000) */
    int cancel_grace_ms;          /* after a cancel, wait this for the
                                     server's answer before discarding (2000) */
    int backoff_initial_ms;       /* first reconnect delay (1000) */
    int backoff_max_ms;           /* reconnect delay cap (30000) */
    int stats_interval_ms;        /* POOL_STATS events; 0: health interval */
    const char *probe_query;      /* "SELECT 1" */
    const char *application_name; /* default for nodes ("replmon") */
    pgcm_log_cb log_cb;           /* NULL: no log records */
    void *log_user;
    pgcm_log_level_t log_level; /* least level delivered (PGCM_LOG_INFO) */
    /* 0 or 1: no pipelining (default); 2 to PGCM_PIPELINE_MAX: every
     * node's pool may send up to this many requests at once on one
     * connection in libpq pipeline mode (see "Pipelining" below); a node's
     * pool.pipeline_depth overrides it */
    int pipeline_depth;
} pgcm_options_t;

/*
 * Pipelining (pipeline_depth >= 2)
 * --------------------------------
 * Off by default. When on, a node's pool sends a queued request on an idle
 * connection or, when none is idle, behind the requests already running on
 * its least loaded busy connection (libpq pipeline mode), up to
 * pipeline_depth on one connection; it still opens connections up to max
 * while requests have to queue. Each request has its own sync point, so
 * an error fails only that request. Never pipelined: checkouts and
 * statements on a checkout, streamed statements (on_row), health probes;
 * these wait for an idle connection, and while one of them waits no new
 * request is pipelined, so that busy connections drain for it.
 *
 * What a pipelined request may wait behind: the requests sent before it on
 * the same connection (at most pipeline_depth - 1), however long they run,
 * even when another connection becomes idle meanwhile. Its timeout_ms
 * counts from when it was sent, so that wait is part of it. Use pipelining
 * for short statements.
 *
 * What a pipelined request must be: one statement (pipeline mode uses the
 * extended query protocol: "SELECT 1; SELECT 2" fails with a syntax error,
 * SQLSTATE 42601) that leaves no transaction open. A request that opens
 * one (BEGIN, START TRANSACTION) succeeds, but the requests pipelined
 * behind it on its connection fail with PGCM_ECONN and the connection is
 * discarded, which rolls back what they did inside that transaction.
 *
 * Timeouts and cancels keep their guarantees: the request is answered at
 * once (PGCM_ETIMEDOUT / PGCM_ECANCELED), no new request is sent on its
 * connection, and the cancel is sent to the server only once the requests
 * ahead of it have been answered, so it can reach only that statement or
 * one behind it. A request behind it that fails because of that cancel
 * (SQLSTATE 57014: its statement was rolled back) is sent again, once, on
 * another connection; the others are answered as usual. The connection is
 * reused once its pipeline is empty and the cancel settled, else discarded
 * after cancel_grace_ms, failing what is still on it with PGCM_ECONN. A
 * connection that breaks fails every request on it with PGCM_ECONN.
 */

/* pgcm_options_init - fill *opts with the defaults shown above. */
PGCM_EXTERN void pgcm_options_init(pgcm_options_t *opts);

/* pgcm_manager_new - create a manager and start its loop thread. It has no
 * nodes yet. opts may be NULL for defaults; it is copied.
 * Returns PGCM_OK and *out, or PGCM_EINVAL / PGCM_ENOMEM. Thread: any.
 * Free with pgcm_manager_free(). */
PGCM_EXTERN PGCM_MUSTCHECK int pgcm_manager_new(const pgcm_options_t *opts,
                                                pgcm_manager_t **out,
                                                pgcm_error_t *err);

/* pgcm_manager_start - add many nodes in parallel (initialize, L10) and wait
 * up to wait_ms (0: do not wait) until every node has either connected or
 * failed its first attempt. Unreachable nodes do not fail the call: they are
 * reported unhealthy and retried in the background. Fails only on invalid
 * specs or duplicate ids (then no node of the list is added).
 * Thread: any, but not the loop thread (PGCM_EDEADLK). */
PGCM_EXTERN PGCM_MUSTCHECK int pgcm_manager_start(pgcm_manager_t *mgr,
                                                  const pgcm_node_spec_t *nodes,
                                                  size_t count, int wait_ms,
                                                  pgcm_error_t *err);

/* pgcm_manager_apply - make the node list equal to `nodes` as a difference
 * (configuration reload, C2): new ids are added, missing ids removed (drained
 * and closed), ids whose spec changed are replaced, the rest keep their pools.
 * The whole list is validated first: on any error nothing changes.
 * Optional counters report what happened. Blocking; thread: not the loop. */
PGCM_EXTERN PGCM_MUSTCHECK int
pgcm_manager_apply(pgcm_manager_t *mgr, const pgcm_node_spec_t *nodes,
                   size_t count, size_t *added, size_t *removed,
                   size_t *replaced, pgcm_error_t *err);

/* pgcm_manager_shutdown - stop probes, refuse new work (PGCM_ESHUTDOWN),
 * wait for in-flight queries up to shutdown_timeout_ms, then cancel what is
 * left, close every connection and stop the loop thread. Idempotent.
 * Blocking; thread: not the loop. */
PGCM_EXTERN int pgcm_manager_shutdown(pgcm_manager_t *mgr);

/* pgcm_manager_free - shut down if still running, then free. mgr may be NULL.
 * No callback fires after it returns. Thread: not the loop. */
PGCM_EXTERN void pgcm_manager_free(pgcm_manager_t *mgr);

/* ---------------------------------------------------------------------- */
/* Nodes                                                                  */
/* ---------------------------------------------------------------------- */

typedef enum pgcm_node_state {
    PGCM_NODE_CONNECTING = 0,   /* added, first attempt not decided yet */
    PGCM_NODE_HEALTHY = 1,      /* last probe succeeded, latency fine */
    PGCM_NODE_DEGRADED = 2,     /* failures below threshold, or slow */
    PGCM_NODE_UNHEALTHY = 3,    /* threshold reached; waiting to retry */
    PGCM_NODE_RECONNECTING = 4, /* a reconnect attempt is in progress */
    PGCM_NODE_DISCONNECTED = 5  /* removed or shut down */
} pgcm_node_state_t;

/* pgcm_node_state_name - "connecting", "healthy", ... (static string). */
PGCM_EXTERN const char *pgcm_node_state_name(pgcm_node_state_t state);

/* A node's health record (L3). Times are Unix epoch milliseconds, 0 = never. */
typedef struct pgcm_health {
    pgcm_node_state_t state;
    int64_t state_since_ms; /* when the current state began */
    int64_t last_check_ms;  /* last completed probe */
    int64_t last_ok_ms;     /* last successful probe */
    int64_t latency_us;     /* last successful probe's round trip */
    int consecutive_failures;
    int retry_attempt;     /* reconnect attempts since unhealthy */
    int64_t next_retry_ms; /* next reconnect attempt, 0 = none */
    int last_error_code;   /* PGCM_E* of the last failure */
    char last_sqlstate[6];
    char last_error[256]; /* last failure, for a person */
    int server_version;   /* PQserverVersion, 0 = unknown */
} pgcm_health_t;

/* Pool statistics and counters (L13). */
typedef struct pgcm_pool_stats {
    int total; /* pool connections, connecting ones included (<= max) */
    int idle;
    int active;  /* running a query or a probe, or checked out */
    int waiting; /* requests queued for a connection */
    int min, max;
    int probe_conns;   /* dedicated probe connections beyond max (0 or 1),
                          opened when every pool connection is busy */
    uint64_t queries;  /* queries completed (success or error) */
    uint64_t errors;   /* queries that failed */
    uint64_t timeouts; /* queries that hit their timeout */
    uint64_t conns_opened;
    uint64_t conns_closed;
    uint64_t connect_errors;  /* connection attempts that failed */
    uint64_t acquires;        /* connections handed out */
    uint64_t acquire_wait_us; /* total time waited for them */
    uint64_t acquire_wait_max_us;
    uint64_t acquire_timeouts;
    uint64_t probes;
    uint64_t probe_failures;
    uint64_t lifetime_us_total; /* summed lifetime of closed connections */
    /* queries sent behind another one on the same connection
     * (pipelining) */
    uint64_t pipelined;
    /* pipelined queries sent again after a cancel of the one ahead of them
     * hit them */
    uint64_t requeued;
} pgcm_pool_stats_t;

/* pgcm_node_add - add one node at runtime (L9). The node is probed at once;
 * the call returns when it is registered, without waiting to connect.
 * PGCM_EEXIST for a duplicate id, PGCM_EINVAL for an invalid spec,
 * PGCM_ESHUTDOWN after shutdown. Blocking (fast); thread: not the loop. */
PGCM_EXTERN PGCM_MUSTCHECK int pgcm_node_add(pgcm_manager_t *mgr,
                                             const pgcm_node_spec_t *spec,
                                             pgcm_error_t *err);

/* pgcm_node_remove - remove a node: refuse new work on it, let in-flight
 * queries finish for at most remove_timeout_ms, cancel the rest (they
 * complete with PGCM_ESHUTDOWN), close its pool. Returns when its
 * connections are closed. PGCM_ENOENT for an unknown id.
 * Blocking; thread: not the loop. */
PGCM_EXTERN PGCM_MUSTCHECK int
pgcm_node_remove(pgcm_manager_t *mgr, const char *node_id, pgcm_error_t *err);

typedef void (*pgcm_done_cb)(int status, void *user);

/* pgcm_node_remove_async - as pgcm_node_remove; done(status, user) fires on
 * the loop thread once the pool is closed. Thread: any. */
PGCM_EXTERN PGCM_MUSTCHECK int
pgcm_node_remove_async(pgcm_manager_t *mgr, const char *node_id,
                       pgcm_done_cb done, void *user, pgcm_error_t *err);

/* pgcm_node_list - the current node ids, in the order they were added.
 * *ids is a NULL-terminated array the caller frees with pgcm_strv_free().
 * Reads the snapshot; thread: any. */
PGCM_EXTERN PGCM_MUSTCHECK int pgcm_node_list(pgcm_manager_t *mgr, char ***ids,
                                              size_t *count);
PGCM_EXTERN void pgcm_strv_free(char **strv);

/* pgcm_node_retry - probe the node now; an unhealthy node reconnects now
 * instead of waiting for its backoff (an operator's "retry"). PGCM_OK,
 * PGCM_ENOENT (unknown id), PGCM_ESHUTDOWN, PGCM_EINVAL. Does not wait.
 * Thread: any (the loop thread included). */
PGCM_EXTERN int pgcm_node_retry(pgcm_manager_t *mgr, const char *node_id);

/* pgcm_node_health / pgcm_node_stats - copy the node's published record.
 * PGCM_ENOENT for an unknown id. Never waits for the loop; thread: any. */
PGCM_EXTERN PGCM_MUSTCHECK int
pgcm_node_health(pgcm_manager_t *mgr, const char *node_id, pgcm_health_t *out);
PGCM_EXTERN PGCM_MUSTCHECK int pgcm_node_stats(pgcm_manager_t *mgr,
                                               const char *node_id,
                                               pgcm_pool_stats_t *out);

/* ---------------------------------------------------------------------- */
/* Results                                                                */
/* ---------------------------------------------------------------------- */

typedef struct pgcm_result_s pgcm_result_t;

/* Accessors; the result must not be freed while strings from it are used.
 * All are thread-safe on a result no other thread is freeing. */
PGCM_EXTERN const char *pgcm_result_node_id(const pgcm_result_t *r);
/* PGCM_OK, or the error code; details in pgcm_result_error(). */
PGCM_EXTERN int pgcm_result_status(const pgcm_result_t *r);
PGCM_EXTERN const pgcm_error_t *pgcm_result_error(const pgcm_result_t *r);
/* Wall time from submission to completion, in microseconds. */
PGCM_EXTERN int64_t pgcm_result_elapsed_us(const pgcm_result_t *r);
/* The libpq result (last statement's), or NULL on error. Owned by r. */
PGCM_EXTERN const PGresult *pgcm_result_pg(const pgcm_result_t *r);
/* Shorthands over the PGresult: 0 / NULL when there is none. */
PGCM_EXTERN int pgcm_result_ntuples(const pgcm_result_t *r);
PGCM_EXTERN int pgcm_result_nfields(const pgcm_result_t *r);
PGCM_EXTERN const char *pgcm_result_fname(const pgcm_result_t *r, int col);
PGCM_EXTERN const char *pgcm_result_value(const pgcm_result_t *r, int row,
                                          int col);
PGCM_EXTERN int pgcm_result_isnull(const pgcm_result_t *r, int row, int col);
/* Command tag, e.g. "SELECT 1" or "INSERT 0 3"; "" if none. */
PGCM_EXTERN const char *pgcm_result_cmd_status(const pgcm_result_t *r);
/* Server version of the node that answered (PQserverVersion), 0 if none. */
PGCM_EXTERN int pgcm_result_server_version(const pgcm_result_t *r);
/* pgcm_result_free - free r (NULL is fine). Thread: any. */
PGCM_EXTERN void pgcm_result_free(pgcm_result_t *r);

/* A fan-out's results: one per targeted node, in the order of the target
 * list (or node order for ALL/HEALTHY). */
typedef struct pgcm_batch_s pgcm_batch_t;
PGCM_EXTERN size_t pgcm_batch_count(const pgcm_batch_t *b);
PGCM_EXTERN const pgcm_result_t *pgcm_batch_result(const pgcm_batch_t *b,
                                                   size_t i);
/* Number of results whose status is PGCM_OK. */
PGCM_EXTERN size_t pgcm_batch_succeeded(const pgcm_batch_t *b);
/* Wall time of the whole batch, microseconds. */
PGCM_EXTERN int64_t pgcm_batch_elapsed_us(const pgcm_batch_t *b);
PGCM_EXTERN void pgcm_batch_free(pgcm_batch_t *b);

/* ---------------------------------------------------------------------- */
/* Queries                                                                */
/* ---------------------------------------------------------------------- */

/* pgcm_row_cb - one row of a streamed statement (see on_row below). row is
 * a PGRES_SINGLE_TUPLE result with one row, borrowed for the call. Return 0
 * to go on, non-zero to stop the statement (it is cancelled and the request
 * ends PGCM_ECANCELED). */
typedef int (*pgcm_row_cb)(const char *node_id, const PGresult *row,
                           void *user);

/* Per-call options; pass NULL for defaults. Zero-initialise, then set what
 * you need. */
typedef struct pgcm_query_options {
    int timeout_ms;     /* 0: the manager's query_timeout_ms. On expiry the
                           statement is cancelled on the server and the result is
                           PGCM_ETIMEDOUT. Cancels never hit another statement:
                           a connection whose statement was cancelled (timeout or
                           pgcm_cancel) is reused only once the server has
                           processed the cancel request, which costs that
                           connection one cancel round trip (a TCP connect to the
                           server, about a millisecond on a LAN); if the server
                           does not confirm within cancel_grace_ms, or the cancel
                           could not be sent, the connection is discarded. */
    pgcm_row_cb on_row; /* NULL: rows are kept in the result. Else libpq's
                           single-row mode: on_row(node_id, row, row_user)
                           fires on the loop thread for every row, in order
                           for one node (the nodes of a fan-out interleave),
                           and the final result has 0 rows but its fields
                           (pgcm_result_nfields/fname) and cmd_status. It
                           must not block for long: it holds up the loop
                           (and so every node; a slow writer is
                           back-pressure on the servers). */
    void *row_user;
    uint64_t correlation_id; /* 0: the request's own id. Carried in every
                                log record the request causes. */
} pgcm_query_options_t;

typedef void (*pgcm_query_cb)(pgcm_result_t *result, void *user);
typedef void (*pgcm_batch_cb)(pgcm_batch_t *batch, void *user);

/* pgcm_query - run one statement on one node (L7). params are text values
 * for $1..$n (NULL entries are SQL NULL). With nparams == 0 the simple
 * protocol is used and several statements may be sent; the last result is
 * kept. A statement left inside a transaction (BEGIN without COMMIT) makes
 * the connection be closed afterwards, never reused: use pgcm_checkout()
 * for transactions.
 * Returns the outcome: PGCM_OK, or PGCM_ESQL (SQLSTATE in err->sqlstate),
 * PGCM_ETIMEDOUT, PGCM_ECANCELED, PGCM_ECONN, PGCM_EUNAVAIL (node
 * unhealthy), PGCM_ENOENT (unknown node), PGCM_ESHUTDOWN, PGCM_EINVAL,
 * PGCM_EDEADLK (called on the loop thread). *out (may be NULL) receives the
 * result, owned by the caller, whenever the request reached the loop (also
 * on failure, with the same status and error); otherwise NULL.
 * Blocking; thread: not the loop. */
PGCM_EXTERN PGCM_MUSTCHECK int
pgcm_query(pgcm_manager_t *mgr, const char *node_id, const char *sql,
           int nparams, const char *const *params,
           const pgcm_query_options_t *opts, pgcm_result_t **out,
           pgcm_error_t *err);

/* pgcm_query_async - as pgcm_query; cb(result, user) fires once on the loop
 * thread and owns result. *request_id (optional) can be passed to
 * pgcm_cancel(). Thread: any. */
PGCM_EXTERN PGCM_MUSTCHECK int
pgcm_query_async(pgcm_manager_t *mgr, const char *node_id, const char *sql,
                 int nparams, const char *const *params,
                 const pgcm_query_options_t *opts, pgcm_query_cb cb, void *user,
                 uint64_t *request_id, pgcm_error_t *err);

typedef enum pgcm_target_kind {
    PGCM_TARGET_ALL = 0,     /* every node */
    PGCM_TARGET_HEALTHY = 1, /* nodes healthy or degraded right now */
    PGCM_TARGET_LIST = 2     /* node_ids[0..node_count) */
} pgcm_target_kind_t;

typedef struct pgcm_target {
    pgcm_target_kind_t kind;
    const char *const *node_ids; /* for PGCM_TARGET_LIST */
    size_t node_count;
} pgcm_target_t;

/* pgcm_query_many - run one statement on many nodes in parallel (L8). One
 * result per node; an unknown id in a LIST gives that entry PGCM_ENOENT, a
 * node that fails gives its own error, the others succeed. Total time is
 * about the slowest node's. target NULL means ALL. Returns PGCM_OK and
 * *out (owned by the caller) whenever the batch ran, whatever the nodes
 * answered (see pgcm_batch_succeeded); an error code (EINVAL, ESHUTDOWN,
 * EDEADLK, ENOMEM) and *out NULL when it could not run.
 * Blocking; thread: not the loop. */
PGCM_EXTERN PGCM_MUSTCHECK int
pgcm_query_many(pgcm_manager_t *mgr, const pgcm_target_t *target,
                const char *sql, int nparams, const char *const *params,
                const pgcm_query_options_t *opts, pgcm_batch_t **out,
                pgcm_error_t *err);

/* pgcm_query_many_async - as pgcm_query_many; cb(batch, user) fires once on
 * the loop thread when every node has answered and owns batch.
 * *request_id (optional) identifies the batch for pgcm_cancel(). */
PGCM_EXTERN PGCM_MUSTCHECK int
pgcm_query_many_async(pgcm_manager_t *mgr, const pgcm_target_t *target,
                      const char *sql, int nparams, const char *const *params,
                      const pgcm_query_options_t *opts, pgcm_batch_cb cb,
                      void *user, uint64_t *request_id, pgcm_error_t *err);

/* pgcm_cancel - cancel a query or a whole batch: queued parts complete with
 * PGCM_ECANCELED at once, running statements are cancelled on their servers
 * and complete with PGCM_ECANCELED. PGCM_ENOENT when the request already
 * finished. Does not wait. Thread: any (the loop thread included). */
PGCM_EXTERN int pgcm_cancel(pgcm_manager_t *mgr, uint64_t request_id);

/* ---------------------------------------------------------------------- */
/* Checkout (transactions, L15)                                           */
/* ---------------------------------------------------------------------- */

typedef struct pgcm_checkout_s pgcm_checkout_t;

/* pgcm_checkout - take one connection of a node for exclusive use (for a
 * transaction). Waits up to timeout_ms (0: the pool's acquire_timeout_ms);
 * PGCM_ETIMEDOUT when none frees up. A PGCM_EV_CHECKOUT_LEAK event fires if
 * it is held longer than the pool's leak_threshold_ms.
 * Blocking; thread: not the loop. */
PGCM_EXTERN PGCM_MUSTCHECK int
pgcm_checkout(pgcm_manager_t *mgr, const char *node_id, int timeout_ms,
              pgcm_checkout_t **out, pgcm_error_t *err);

/* pgcm_checkout_query - run a statement on the checked-out connection, as
 * pgcm_query. Calls on one checkout must not overlap. */
PGCM_EXTERN PGCM_MUSTCHECK int
pgcm_checkout_query(pgcm_checkout_t *co, const char *sql, int nparams,
                    const char *const *params, const pgcm_query_options_t *opts,
                    pgcm_result_t **out, pgcm_error_t *err);

/* pgcm_checkout_release - give the connection back and free co. A
 * connection left inside a transaction, or with discard != 0, is closed
 * instead of reused. Thread: any (does not wait). */
PGCM_EXTERN void pgcm_checkout_release(pgcm_checkout_t *co, int discard);

/* ---------------------------------------------------------------------- */
/* Events (L12)                                                           */
/* ---------------------------------------------------------------------- */

typedef enum pgcm_event_type {
    PGCM_EV_NODE_ADDED = 0,
    PGCM_EV_NODE_REMOVED,
    PGCM_EV_NODE_CONNECTED,    /* first connection after being down/new */
    PGCM_EV_NODE_DISCONNECTED, /* node lost (error in message) */
    PGCM_EV_HEALTH_CHANGED,    /* old_state -> new_state */
    PGCM_EV_THRESHOLD_REACHED, /* consecutive failures hit the threshold */
    PGCM_EV_POOL_STATS,        /* periodic, per node */
    PGCM_EV_CHECKOUT_LEAK,     /* a checkout held past leak threshold */
    PGCM_EV_TUNNEL_UP,         /* the node's SSH session is up */
    PGCM_EV_TUNNEL_DOWN        /* it failed or was lost (code, message) */
} pgcm_event_type_t;

/* pgcm_event_type_name - "node_added", "health_changed", ... */
PGCM_EXTERN const char *pgcm_event_type_name(pgcm_event_type_t type);

/* An event; every pointer is borrowed for the duration of the callback. */
typedef struct pgcm_event {
    pgcm_event_type_t type;
    const char *node_id;
    int64_t time_ms;                /* Unix epoch milliseconds */
    pgcm_node_state_t old_state;    /* HEALTH_CHANGED */
    pgcm_node_state_t new_state;    /* HEALTH_CHANGED */
    const pgcm_health_t *health;    /* the node's record after the event */
    const pgcm_pool_stats_t *stats; /* POOL_STATS (and others: current) */
    int error_code;                 /* DISCONNECTED, THRESHOLD_REACHED */
    const char *message;            /* for a person, or "" */
} pgcm_event_t;

typedef void (*pgcm_event_cb)(const pgcm_event_t *ev, void *user);

/* pgcm_subscribe - call cb(ev, user) on the loop thread for every event
 * from now on. *sub_id identifies the subscription. Thread: any. */
PGCM_EXTERN PGCM_MUSTCHECK int pgcm_subscribe(pgcm_manager_t *mgr,
                                              pgcm_event_cb cb, void *user,
                                              uint64_t *sub_id);

/* pgcm_unsubscribe - stop delivering to sub_id. After it returns the
 * callback does not fire again, unless called from within that callback on
 * the loop thread (then the current call simply finishes). Thread: any. */
PGCM_EXTERN int pgcm_unsubscribe(pgcm_manager_t *mgr, uint64_t sub_id);

#ifdef __cplusplus
}
#endif

#endif /* PGCM_H */
