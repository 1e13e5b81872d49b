/* SPDX-License-Identifier: MIT */
/*
 * internal.h - libpgcm's private structures and pgcm__ prototypes.
 *
 * Ownership map (who may touch what):
 * - The loop thread alone touches nodes, connections, requests and pools.
 * - Other threads reach the loop only through the command queue (cmd_*),
 *   guarded by mgr->cmd_lock, and read the published snapshots (node->pub,
 *   mgr->nodes_by_id) under mgr->snap_lock.
 *
 * Pure logic (backoff, health transitions, spec handling, conninfo building,
 * error text) is in files that do not include uv.h and is unit-tested alone.
 */
#ifndef PGCM_INTERNAL_H
#define PGCM_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "pgcm.h"
#include "list.h"

/* ---- allocation (alloc.c) -------------------------------------------- */
void *pgcm__malloc(size_t n);
void *pgcm__calloc(size_t count, size_t n);
void *pgcm__realloc(void *p, size_t n);
void pgcm__free(void *p);
char *pgcm__strdup(const char *s);   /* NULL -> NULL */
void pgcm__free_secret(char *s);     /* wipe, then free */
void pgcm__manager_count(int delta); /* live managers, for set_allocator */

/* Spare blocks of one size, kept by the one thread that uses them (a
 * loop) for its next allocation of that size: a block given back is
 * linked through its first bytes (it must hold a list_node_t), the most
 * recent first, and at most `max` are kept; the rest are freed. */
typedef struct pgcm_spare {
    list_node_t blocks;
    size_t count, max;
} pgcm_spare_t;

void pgcm__spare_init(pgcm_spare_t *s, size_t max);
void *pgcm__spare_take(pgcm_spare_t *s);             /* NULL: none kept */
void pgcm__spare_give(pgcm_spare_t *s, void *block); /* kept or freed */
void pgcm__spare_free(pgcm_spare_t *s);              /* free those kept */

/* ---- errors (error.c) ------------------------------------------------ */
/* Fill err (may be NULL) and return code. node may be NULL. */
int pgcm__error_set(pgcm_error_t *err, int code, const char *node,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void pgcm__error_clear(pgcm_error_t *err);
/* Read a libpq error message: copy its first meaningful line without the
 * "SEVERITY:  SQLSTATE: " verbose prefix into msg and the SQLSTATE (or "")
 * into sqlstate. */
void pgcm__pq_error_parse(const char *pqmsg, char *msg, size_t msglen,
                          char sqlstate[6]);
/* "SEVERITY: primary message" and the SQLSTATE from an error result's
 * fields; false when it has none (a result libpq made up itself). */
bool pgcm__pq_result_error(const PGresult *r, char *msg, size_t msglen,
                           char sqlstate[6]);
/* Classify a failed connection attempt: PGCM_EAUTH for authentication and
 * configuration errors that retrying will not fix, else PGCM_ECONN. */
int pgcm__classify_connect_error(const char *sqlstate, const char *msg);

/* ---- time (time.c) --------------------------------------------------- */
int64_t pgcm__wall_ms(void);  /* Unix epoch milliseconds */
uint64_t pgcm__mono_us(void); /* monotonic microseconds */
/* CLOCK_MONOTONIC now + ms, for pthread_cond_timedwait on a monotonic
 * condition variable. */
struct timespec pgcm__mono_deadline(int ms);

/* ---- backoff (backoff.c), pure ---------------------------------------- */
/* Delay before reconnect attempt `attempt` (0-based): initial * 2^attempt
 * capped at max, then jittered by +-20% with draw in [0,1), never above
 * max and never below initial/2. */
int64_t pgcm__backoff_ms(int attempt, double draw, int64_t initial_ms,
                         int64_t max_ms);
/* A number in [0,1) from a per-thread xorshift generator. */
double pgcm__random01(void);

/* ---- health state machine (health.c), pure --------------------------- */
typedef enum health_input {
    HEALTH_PROBE_OK,      /* probe succeeded within the latency limit */
    HEALTH_PROBE_SLOW,    /* probe succeeded but slower than the limit */
    HEALTH_PROBE_FAILED,  /* probe failed: connect error, timeout, error */
    HEALTH_CONFIG_ERROR,  /* authentication/configuration rejected */
    HEALTH_RETRY_STARTED, /* a reconnect attempt begins */
    HEALTH_REMOVED        /* removed or shut down */
} health_input_t;

typedef struct health_core {
    pgcm_node_state_t state;
    int consecutive_failures;
    int retry_attempt;
} health_core_t;

/* What a transition asks the caller to announce. */
enum {
    HEALTH_OUT_CHANGED = 1 << 0,       /* state changed */
    HEALTH_OUT_THRESHOLD = 1 << 1,     /* failures reached the threshold */
    HEALTH_OUT_CONNECTED = 1 << 2,     /* node became reachable */
    HEALTH_OUT_DISCONNECTED = 1 << 3,  /* node became unreachable */
    HEALTH_OUT_SCHEDULE_RETRY = 1 << 4 /* arm the backoff timer */
};

/* Apply one input; returns HEALTH_OUT_* flags. threshold >= 1. */
int pgcm__health_step(health_core_t *h, health_input_t in, int threshold);
const char *pgcm__health_input_name(health_input_t in);

/* ---- probe schedule (schedule.c), pure --------------------------------- */
typedef enum sched_kind {
    SCHED_NONE = 0,
    SCHED_FULL,          /* the probe query, every health_check_interval */
    SCHED_SUSPECT_PROBE, /* after a failure: fast cadence, short deadline */
    SCHED_RETRY_PROBE,   /* a reconnect attempt while unhealthy */
    SCHED_LIVENESS,      /* the empty-query heartbeat */
    SCHED_BEAT_MISSED    /* a full probe in flight stood in for the
                            heartbeat and went unanswered: a failure now */
} sched_kind_t;

typedef enum sched_phase {
    SCHED_NORMAL,  /* full probes and heartbeats */
    SCHED_SUSPECT, /* a failure was seen: suspect probes until decided */
    SCHED_RETRY    /* unhealthy: waiting for the backoff */
} sched_phase_t;

typedef struct sched_state {
    sched_phase_t phase;
    uint64_t next_full_us;
    uint64_t suspect_at_us;
    uint64_t retry_at_us;
    uint64_t last_heard_us; /* last sign of life from the server */
    sched_kind_t check;     /* full/suspect/retry probe in flight, or NONE */
    bool beat_in_flight;
    bool connecting; /* never connected yet: no heartbeats */
} sched_state_t;

typedef struct sched_timing {
    int health_check_interval_ms;
    int liveness_interval_ms; /* 0: no heartbeats */
    int liveness_timeout_ms;
    int suspect_gap_ms; /* between suspect probes */
} sched_timing_t;

typedef struct sched_next {
    sched_kind_t kind; /* due now, or NONE */
    uint64_t at_us;    /* NONE: when to look again (UINT64_MAX: never) */
} sched_next_t;

enum { SCHED_ABANDON_CHECK = 1 << 0 }; /* close the full probe in flight */

void pgcm__sched_init(sched_state_t *s, uint64_t now);
sched_next_t pgcm__sched_next(const sched_state_t *s, const sched_timing_t *t,
                              uint64_t now);
void pgcm__sched_started(sched_state_t *s, sched_kind_t kind);
/* A probe of `kind` ended; returns SCHED_* flags. */
int pgcm__sched_done(sched_state_t *s, const sched_timing_t *t,
                     sched_kind_t kind, bool ok, uint64_t now);
/* A failure seen outside a probe (a user connection broke). */
int pgcm__sched_suspect(sched_state_t *s, uint64_t now);
/* The health machine asked for a reconnect attempt at `at`. */
void pgcm__sched_retry_at(sched_state_t *s, uint64_t at);
/* The node became reachable (first time or again). */
void pgcm__sched_connected(sched_state_t *s);
void pgcm__sched_heard(sched_state_t *s, uint64_t now);
/* Whatever is next in the current phase is due now (pgcm_node_retry). */
void pgcm__sched_now(sched_state_t *s, uint64_t now);
const char *pgcm__sched_kind_name(sched_kind_t kind);

/* ---- node specs and conninfo (spec.c), pure -------------------------- */
#define PGCM_ID_MAX 63

/* Check a spec; PGCM_OK or PGCM_EINVAL with the reason in err. */
int pgcm__spec_validate(const pgcm_node_spec_t *spec, pgcm_error_t *err);
/* Deep copy in one block (the strings after the struct); NULL on ENOMEM.
 * Free with pgcm__spec_free, which wipes the secrets first. */
pgcm_node_spec_t *pgcm__spec_dup(const pgcm_node_spec_t *spec);
void pgcm__spec_free(pgcm_node_spec_t *spec);
/* Validate manager options; PGCM_OK or PGCM_EINVAL. */
int pgcm__options_validate(const pgcm_options_t *o, pgcm_error_t *err);

/* libpq keyword/value arrays built from a spec (owned by the struct). */
#define CONNINFO_MAX_PARAMS 64
#define CONNINFO_MAX_OWNED  (2 * CONNINFO_MAX_PARAMS)
typedef struct conninfo_params {
    const char *keys[CONNINFO_MAX_PARAMS + 1];
    const char *values[CONNINFO_MAX_PARAMS + 1];
    char *owned[CONNINFO_MAX_OWNED]; /* strings to free */
    int count;
    int nowned;
} conninfo_params_t;

/* Build the parameters for PQconnectStartParams: the conninfo base (if
 * any), overridden by the spec's fields, plus application_name, keepalives
 * and, when hostaddr is not NULL, that resolved address. Returns PGCM_OK or
 * PGCM_EINVAL (bad conninfo, message in err). */
int pgcm__conninfo_build(const pgcm_node_spec_t *spec,
                         const char *default_app_name, const char *hostaddr,
                         conninfo_params_t *out, pgcm_error_t *err);
void pgcm__conninfo_free(conninfo_params_t *p);
/* The host name the spec (or its conninfo) names, if it is a single DNS
 * name that needs resolving (not an address, not a socket path, not a
 * list); malloc'd, or NULL. */
char *pgcm__conninfo_host_to_resolve(const pgcm_node_spec_t *spec);

/* ---- string map (strmap.c) ------------------------------------------- */
typedef struct strmap {
    struct strmap_slot *slots;
    size_t cap;   /* power of two or 0 */
    size_t count; /* live entries */
    size_t used;  /* live + tombstones */
} strmap_t;
void *pgcm__strmap_get(const strmap_t *m, const char *key);
int pgcm__strmap_put(strmap_t *m, const char *key, void *value); /* key
                                                     borrowed: must outlive */
void *pgcm__strmap_del(strmap_t *m, const char *key);
void pgcm__strmap_free(strmap_t *m);

/* ---- results (result.c) ---------------------------------------------- */
struct pgcm_result_s {
    char *node_id;
    int status;
    pgcm_error_t error;
    PGresult *pg;
    int64_t elapsed_us;
    int server_version;
};

struct pgcm_batch_s {
    size_t count;
    pgcm_result_t **results;
    /* The parts' results, one block with their node ids after them:
     * each part's result is its record, results[i] == &records[i] (NULL
     * when there are no parts). One allocation for the fan-out instead of one
     * a node, taken on the loop thread and given back by the caller's. */
    pgcm_result_t *records;
    int64_t elapsed_us;
};

pgcm_result_t *pgcm__result_new(const char *node_id);
/* Set r up as a fresh success for node_id, which r borrows (it lives at
 * least as long as r). */
void pgcm__result_init(pgcm_result_t *r, char *node_id);
pgcm_result_t *pgcm__result_error(const char *node_id, int code,
                                  const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* PGCM_INTERNAL_H */
