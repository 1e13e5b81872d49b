/* SPDX-License-Identifier: MIT */
/*
 * report_status.h - the status report of a snapshot and its evaluation:
 * for a person (tables) and as JSON (schema in docs/status-json.md).
 */
#ifndef REPLMON_REPORT_STATUS_H
#define REPLMON_REPORT_STATUS_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "evaluate.h"
#include "output.h"
#include "snapshot.h"

typedef struct rm_status_context {
    const char *cluster;               /* NULL: none */
    const rm_thresholds_t *thresholds; /* the thresholds used */
    int64_t sample_ms; /* status --sample: time between the two rounds the
                          rates come from; 0: one round, no rates */
} rm_status_context_t;

/* rm_print_status_table - the report for a person: a header line with the
 * overall status, the node table, slots, subscriptions, standbys, the
 * standbys' receivers, the cross-node lag and the findings. */
void rm_print_status_table(FILE *out, const rm_snapshot_t *snap,
                           const rm_eval_t *ev, const rm_status_context_t *ctx);

/* rm_status_json - the report as JSON (schema_version 1, documented in
 * docs/status-json.md). Returns a new reference, or NULL when out of
 * memory. */
json_t *rm_status_json(const rm_snapshot_t *snap, const rm_eval_t *ev,
                       const rm_status_context_t *ctx);

#endif /* REPLMON_REPORT_STATUS_H */
