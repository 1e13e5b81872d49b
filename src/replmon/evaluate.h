/* SPDX-License-Identifier: MIT */
/*
 * evaluate.h - turn a snapshot and the thresholds into OK / WARNING /
 * CRITICAL / UNKNOWN (the monitoring-plugin convention), per node and
 * overall, with one reason per finding.
 */
#ifndef REPLMON_EVALUATE_H
#define REPLMON_EVALUATE_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"
#include "config.h"

typedef enum rm_status {
    RM_STATUS_OK = 0,
    RM_STATUS_WARNING = 1,
    RM_STATUS_CRITICAL = 2,
    RM_STATUS_UNKNOWN = 3
} rm_status_t;

/* "OK", "WARNING", "CRITICAL", "UNKNOWN". */
const char *rm_status_name(rm_status_t s);
/* The worse of two: CRITICAL > WARNING > UNKNOWN > OK. */
rm_status_t rm_status_worse(rm_status_t a, rm_status_t b);

/* rm_thresholds_default - the defaults of the thresholds: section (lag 10 s
 * and 1 min, lag 1 MB and 16 MB, slot retention 1 GB and 5 GB), used when
 * there is no file.
 * A threshold <= 0 disables its check. */
void rm_thresholds_default(rm_thresholds_t *t);

/* One finding. Severity OK marks a note that does not change the status
 * (e.g. a section the role may not read). */
typedef struct rm_reason {
    char node[64];
    rm_status_t status;
    char message[320];
} rm_reason_t;

typedef struct rm_eval {
    rm_status_t status;       /* overall */
    rm_status_t *node_status; /* one per snapshot node */
    size_t count;
    rm_reason_t *reasons;
    size_t nreasons;
} rm_eval_t;

/* rm_evaluate - judge every node. Returns 0, or -1 when out of memory.
 * Free with rm_eval_free. */
int rm_evaluate(const rm_snapshot_t *snap, const rm_thresholds_t *t,
                rm_eval_t *out);
void rm_eval_free(rm_eval_t *e);

/* rm_format_bytes - "512 B", "1.5 kB", "3.2 MB", "1.0 GB" (1024-based, as
 * pg_size_pretty), "-" for RM_NONE. */
void rm_format_bytes(int64_t bytes, char *buf, size_t len);
/* rm_format_seconds - "0.0 s", "12.3 s", "4m05s", "2h10m", "-" for NAN. */
void rm_format_seconds(double s, char *buf, size_t len);

#endif /* REPLMON_EVALUATE_H */
