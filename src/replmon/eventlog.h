/* SPDX-License-Identifier: MIT */
/*
 * eventlog.h - the event table (S5): connection events of the monitored
 * nodes (added, removed, connected, disconnected, every health state
 * change, failure threshold reached, checkout leaks) recorded on one chosen
 * node (event_log: { node: ID }) in seed 004's connection_logs table
 * through its log_connection_event() function, both created when missing
 * with exactly the seed's definitions.
 *
 * It never delays or disturbs monitoring: events are taken from the
 * monitoring manager's loop thread into a bounded queue and written by a
 * thread of their own, through a connection manager of their own (one
 * connection to the event node), so a slow, down or frozen event node only
 * makes events wait. While they cannot be written they wait up to the
 * queue's size; events arriving at a full queue are dropped and counted.
 *
 * One row per event: connection_id is the node id, status the new health
 * state ("healthy", "unhealthy", ...) or what happened ("added",
 * "removed", "connected", "disconnected", "threshold_reached",
 * "checkout_leak"), error_message the error when there is one, metadata a
 * JSON object: event, time (RFC 3339, when it happened), old_state,
 * new_state, consecutive_failures, latency_us, error (code name), instance
 * (this replmon: host name, pid, listen address) and shard.
 */
#ifndef REPLMON_EVENTLOG_H
#define REPLMON_EVENTLOG_H

#include <stddef.h>
#include <stdint.h>

#include "pgcm.h"

typedef struct rm_eventlog rm_eventlog_t;

typedef struct rm_eventlog_options {
    const pgcm_node_spec_t *node; /* the event node (copied) */
    const pgcm_options_t *base;   /* manager settings to start from (the
                                     configuration's), may be NULL */
    size_t queue_size;            /* events kept at most (>= 1) */
    const char *instance;         /* names this replmon in the metadata */
    const char *shard;            /* "K/N", or NULL */
} rm_eventlog_options_t;

/* The seed's definitions, verbatim (seed 004, "Database Changes"). */
extern const char rm_eventlog_table_sql[];
extern const char rm_eventlog_function_sql[];

/* rm_eventlog_start - start the writer and its manager (the event node is
 * connected in the background). Returns 0 and *out, or -1 with a one-line
 * message in err. */
int rm_eventlog_start(const rm_eventlog_options_t *opts, rm_eventlog_t **out,
                      char *err, size_t errlen);

/* rm_eventlog_watch - record the events of this manager from now on. */
int rm_eventlog_watch(rm_eventlog_t *el, pgcm_manager_t *mgr);
/* rm_eventlog_unwatch - stop recording them (before that manager goes). */
void rm_eventlog_unwatch(rm_eventlog_t *el);

/* rm_eventlog_event - queue one event (a pgcm_event_cb). */
void rm_eventlog_event(const pgcm_event_t *ev, void *user);

typedef struct rm_eventlog_stats {
    uint64_t written;  /* rows inserted */
    uint64_t dropped;  /* events dropped at a full queue */
    uint64_t failures; /* write attempts that failed (retried) */
    size_t queued;     /* waiting now */
    int connected;     /* the last write attempt succeeded */
} rm_eventlog_stats_t;

void rm_eventlog_stats(rm_eventlog_t *el, rm_eventlog_stats_t *out);

/* rm_eventlog_stop - stop taking events, give the writer up to drain_ms to
 * write what is queued, then close its connection and free el (NULL is
 * fine). Events still queued are counted as dropped. */
void rm_eventlog_stop(rm_eventlog_t *el, int drain_ms);

#endif /* REPLMON_EVENTLOG_H */
