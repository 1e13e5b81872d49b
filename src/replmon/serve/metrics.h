/* SPDX-License-Identifier: MIT */
/*
 * metrics.h - /metrics in the Prometheus text exposition format 0.0.4
 * (S3, R6): what replmon knows about every node, its pool and its
 * replication, drawn from one view (the last collection round plus each
 * node's health and pool record as libpgcm publishes them), and the
 * process's own counters. Names follow Prometheus conventions: base units
 * (seconds, bytes), counters end in _total, labels node, slot,
 * subscription, upstream, downstream. Pure: a view in, text out.
 * The families and their meaning are listed in docs/serve.md.
 */
#ifndef REPLMON_METRICS_H
#define REPLMON_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "collect.h"
#include "histogram.h"
#include "pgcm.h"

/* One monitored node. */
typedef struct rm_metrics_node {
    const char *id;
    int have_health, have_stats; /* health and stats are valid */
    pgcm_health_t health;        /* live, from pgcm_node_health */
    pgcm_pool_stats_t stats;     /* live, from pgcm_node_stats */
    const rm_node_t *facts;      /* this node in the last round, or NULL */
    int status;                  /* rm_status_t of the last round, -1 none */
    rm_histogram_t acquire, lifetime;
} rm_metrics_node_t;

/* The process. Times are Unix epoch seconds; NAN (doubles) when none. */
typedef struct rm_metrics_process {
    const char *version;
    int shard, shards; /* 1/1 without --shard */
    uint64_t rounds, round_failures;
    double last_round_seconds;   /* duration of the last round */
    double last_round_timestamp; /* when it began */
    uint64_t reloads_ok, reloads_failed;
    int last_reload_ok;
    int event_log_enabled;
    uint64_t event_log_written, event_log_dropped, event_log_failures;
    uint64_t event_log_queued;
    uint64_t log_dropped;
} rm_metrics_process_t;

/* rm_metrics_render - the whole exposition for these nodes (in this
 * order) into a malloc'd buffer *out of *len bytes (NUL-terminated).
 * Returns 0, or -1 when out of memory. */
int rm_metrics_render(const rm_metrics_process_t *proc,
                      const rm_metrics_node_t *nodes, size_t n, char **out,
                      size_t *len);

/* The Content-Type of the text format. */
#define RM_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif /* REPLMON_METRICS_H */
