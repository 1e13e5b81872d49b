/* SPDX-License-Identifier: MIT */
/*
 * serve.h - what replmon answers over HTTP (R6) while something else
 * collects: the last published collection round (snapshot, verdict and its
 * `status --format json` document), the nodes monitored now, each node's
 * live health and pool record read from libpgcm's published snapshot, the
 * acquire and lifetime histograms fed by the log hook, and the process's
 * counters. `replmon serve` publishes from its collector thread; any
 * command that collects (the dashboard's --metrics-listen) can do the same.
 *
 * Endpoints (docs/serve.md):
 *   GET /metrics   Prometheus text format (metrics.h)
 *   GET /healthz   200 while the process runs (503 once it shuts down)
 *   GET /readyz    200 once the first round is published, else 503
 *   GET /node/ID   200 when the node answers, 503 otherwise; ?max_lag=16MB
 *                  and ?max_lag_seconds=30 also turn lag into 503
 *   GET /status    the last round's status document (docs/status-json.md)
 *
 * A request never waits on a node: it reads published state under a mutex
 * held only to take references, and the manager's getters, which never
 * wait for its loop.
 */
#ifndef REPLMON_SERVE_H
#define REPLMON_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "collect.h"
#include "config.h"
#include "eventlog.h"
#include "pgcm.h"

typedef struct rm_serve rm_serve_t;

/* rm_serve_new - empty state (no round yet) for shard/shards (1/1 when
 * not sharded). NULL when out of memory. */
rm_serve_t *rm_serve_new(int shard, int shards);
/* rm_serve_free - stop listening and free s (NULL is fine). */
void rm_serve_free(rm_serve_t *s);

/* rm_serve_log_hook - a pgcm_log_cb with user = the rm_serve_t: feeds the
 * histograms, then writes the record to replmon's log (a query refused
 * with PGCM_EUNAVAIL, a node known to be down, at debug level: every round
 * would repeat it). Give the manager log_level PGCM_LOG_DEBUG (the acquire
 * records are debug). */
void rm_serve_log_hook(const pgcm_log_record_t *rec, void *user);

/* rm_serve_set_manager - the manager whose nodes are served. */
void rm_serve_set_manager(rm_serve_t *s, pgcm_manager_t *mgr);
/* rm_serve_set_event_log - whose counters /metrics reports (NULL: none). */
void rm_serve_set_event_log(rm_serve_t *s, rm_eventlog_t *el);

/* rm_serve_set_nodes - the node ids monitored from now on, in order
 * (copied). Returns 0, or -1 when out of memory (nothing changed). */
int rm_serve_set_nodes(rm_serve_t *s, const char *const *ids, size_t n);

/* rm_serve_publish - a finished round: its conflict rates taken against
 * the round published before it (conflicts.h), judged against t, its status
 * document rendered for /status (cluster may be NULL). Takes snap (also
 * on failure). Returns 0, or -1 when out of memory (the previous round
 * stays). */
int rm_serve_publish(rm_serve_t *s, rm_snapshot_t *snap,
                     const rm_thresholds_t *t, const char *cluster);
/* rm_serve_round_failed - a round could not run (counted). */
void rm_serve_round_failed(rm_serve_t *s);
/* rm_serve_reload_done - a reload was applied (ok) or rejected. */
void rm_serve_reload_done(rm_serve_t *s, int ok);
/* rm_serve_set_draining - from now on /healthz and /readyz answer 503. */
void rm_serve_set_draining(rm_serve_t *s);

/* rm_serve_listen - answer on host:port (port 0: a free one). Returns 0,
 * or -1 with a one-line message in err. */
int rm_serve_listen(rm_serve_t *s, const char *host, int port, char *err,
                    size_t errlen);
/* rm_serve_port - the port listened on, 0 when not listening. */
int rm_serve_port(const rm_serve_t *s);
/* rm_serve_stop_listening - stop answering; waits for requests in flight. */
void rm_serve_stop_listening(rm_serve_t *s);

/* rm_serve_render_metrics - the body of GET /metrics (malloc'd). Returns
 * 0, or -1 when out of memory. */
int rm_serve_render_metrics(rm_serve_t *s, char **out, size_t *len);

#endif /* REPLMON_SERVE_H */
