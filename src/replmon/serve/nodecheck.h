/* SPDX-License-Identifier: MIT */
/*
 * nodecheck.h - the verdict of GET /node/ID, in the manner of Patroni's
 * health endpoints: 200 when the node answers (healthy or degraded), 503
 * otherwise; with ?max_lag=16MB (a size, as in the configuration) or
 * ?max_lag_seconds=30 (a duration; a plain number is seconds) a node whose
 * replication lags more is 503 too. A node's lag is the largest of its
 * subscriptions' (publisher's current LSN minus received LSN, and the
 * walsender's replay_lag) and, on a standby, of its WAL receiver's (the
 * primary's current LSN minus the received LSN, and the replay delay while
 * WAL is still to be replayed; a standby that has replayed everything does
 * not lag, however old its last transaction). A lag nobody could measure
 * does not fail the check; the body says so. Pure functions.
 */
#ifndef REPLMON_NODECHECK_H
#define REPLMON_NODECHECK_H

#include <stdint.h>

#include <jansson.h>

#include "collect.h"
#include "pgcm.h"

typedef struct rm_node_check_params {
    int64_t max_lag_bytes;  /* -1: no byte limit */
    double max_lag_seconds; /* NAN: no time limit */
} rm_node_check_params_t;

/* rm_node_check_parse - the query arguments (each may be NULL). Returns 0,
 * or -1 with a one-line reason in why. */
int rm_node_check_parse(const char *max_lag, const char *max_lag_seconds,
                        rm_node_check_params_t *out, char *why, size_t whylen);

typedef struct rm_node_lag {
    int64_t bytes;  /* RM_NONE: not measured */
    double seconds; /* NAN: not measured */
    int replicates; /* 1: a subscriber or a standby (a lag applies) */
} rm_node_lag_t;

/* rm_node_lag_of - the node's lag from its facts (NULL: not measured). */
void rm_node_lag_of(const rm_node_t *facts, rm_node_lag_t *out);

/* rm_node_check - the HTTP status (200 or 503) and a JSON body for the
 * node: health NULL when the manager does not know it. *body is a new
 * reference (NULL when out of memory). */
int rm_node_check(const char *id, const pgcm_health_t *health,
                  const rm_node_t *facts, const rm_node_check_params_t *p,
                  json_t **body);

#endif /* REPLMON_NODECHECK_H */
