/* SPDX-License-Identifier: MIT */
/*
 * histogram.h - the per-node histograms of /metrics (S3): connection
 * acquisition time and connection lifetime, with Prometheus' cumulative
 * buckets. libpgcm's pgcm_pool_stats_t keeps only totals and a maximum, so
 * the values come one by one from its log hook: a connection_acquired
 * record says "after N us" (the wait of that acquisition, in
 * microseconds), a connection_closed or connection_discarded record at info
 * level or above (a connection that had been open) says "(open N ms" (its
 * age from the start of its connect, in milliseconds). The manager must
 * deliver debug records for the acquisitions (serve sets log_level debug
 * and filters what it writes itself).
 *
 * rm_histos_t maps node ids to their two histograms; it is fed on the
 * manager's loop thread and read by the HTTP thread, under its own mutex
 * held only for an update or a copy.
 */
#ifndef REPLMON_HISTOGRAM_H
#define REPLMON_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "pgcm.h"

#define RM_HISTO_MAX_BUCKETS 16

typedef struct rm_histogram {
    uint64_t buckets[RM_HISTO_MAX_BUCKETS]; /* not cumulative: one count per
                                               bound, le bound[i] */
    uint64_t count;                         /* every observation (+Inf) */
    double sum;
} rm_histogram_t;

/* Upper bounds, in seconds, ascending. */
extern const double rm_acquire_bounds[];
extern const size_t rm_acquire_nbounds;
extern const double rm_lifetime_bounds[];
extern const size_t rm_lifetime_nbounds;

/* rm_histogram_observe - count v (seconds) into the first bucket whose
 * bound is >= v (none: only +Inf). */
void rm_histogram_observe(rm_histogram_t *h, const double *bounds,
                          size_t nbounds, double v);

/* rm_histo_parse_acquire - the wait of a connection_acquired record:
 * 1 and *seconds, or 0 when rec is not one (or its message does not say). */
int rm_histo_parse_acquire(const pgcm_log_record_t *rec, double *seconds);
/* rm_histo_parse_lifetime - the age of a closed connection: 1 and
 * *seconds, or 0 when rec is not the close of an open connection. */
int rm_histo_parse_lifetime(const pgcm_log_record_t *rec, double *seconds);

typedef struct rm_histos rm_histos_t;

rm_histos_t *rm_histos_new(void);
void rm_histos_free(rm_histos_t *hs);

/* rm_histos_record - feed one log record (any record; the others are
 * ignored). Thread: any (the loop thread). */
void rm_histos_record(rm_histos_t *hs, const pgcm_log_record_t *rec);

/* rm_histos_get - copy a node's histograms; zeros for a node never seen. */
void rm_histos_get(rm_histos_t *hs, const char *node_id,
                   rm_histogram_t *acquire, rm_histogram_t *lifetime);

/* rm_histos_forget - drop the nodes not in ids[0..n) (after a reload). */
void rm_histos_forget(rm_histos_t *hs, const char *const *ids, size_t n);

#endif /* REPLMON_HISTOGRAM_H */
