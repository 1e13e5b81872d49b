/* SPDX-License-Identifier: MIT */
/*
 * collect.h - what fills a snapshot (snapshot.h holds the model): the
 * parsing of each section's answer into rm_node_t, and a round of fan-out
 * queries over a manager's nodes (all at once, or one node step by step).
 */
#ifndef REPLMON_COLLECT_H
#define REPLMON_COLLECT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "pgcm.h"
#include "snapshot.h"

/* ---------------------------------------------------------------------- */
/* Parsing (pure: a PGresult in, fields out)                              */
/* ---------------------------------------------------------------------- */

/* Each returns 0, or -1 when out of memory. Columns are looked up by name;
 * a column the statement does not have leaves the field "not reported". */
int rm_parse_facts(const PGresult *res, rm_node_t *node);
int rm_parse_slots(const PGresult *res, rm_node_t *node);
int rm_parse_subscriptions(const PGresult *res, rm_node_t *node);
int rm_parse_standbys(const PGresult *res, rm_node_t *node);
int rm_parse_receiver(const PGresult *res, rm_node_t *node);
/* rm_parse_pglogical - pglogical's subscriptions (pglogical.h's statement),
 * appended to node->subs after the native ones. */
int rm_parse_pglogical(const PGresult *res, rm_node_t *node);

/* ---------------------------------------------------------------------- */
/* Collection                                                             */
/* ---------------------------------------------------------------------- */

/* A node to collect from: its id in the manager, and the host and port it
 * was configured with (for matching a standby's sender_host/port). */
typedef struct rm_target_node {
    const char *id;
    const char *host; /* may be NULL */
    int port;         /* 0 when unknown */
} rm_target_node_t;

typedef struct rm_collect_options {
    int query_timeout_ms;        /* per statement; 0: 5000 */
    volatile sig_atomic_t *stop; /* when it turns non-zero, cancel the
                                    queries in flight and give up */
    uint64_t correlation_id;     /* carried by every query of the round
                                    (pgcm_query_options_t); 0: none */
    int pglogical;               /* RM_PGLOGICAL_* (the config's
                                    pglogical:); 0 is off */
    unsigned skip_sections;      /* RM_SKIP_* (config.h): sections not read
                                    on any node, marked not_wanted */
    rm_rounds_t *rounds; /* earlier rounds (serve, demo, status --sample):
                            used for the lag, then this round is
                            added; NULL for a one-shot round */
} rm_collect_options_t;

/* rm_clock_epoch_ms - the wall clock, Unix milliseconds (what rounds and
 * ages are stamped with). rm_clock_mono_us - a monotonic clock in
 * microseconds (durations, schedules). */
int64_t rm_clock_epoch_ms(void);
int64_t rm_clock_mono_us(void);

/* ---- One node's round, step by step ----------------------------------
 * For a caller that runs its own queries (the dashboard collects every
 * node on its own, so that a hung node delays nobody else):
 *     rm_node_begin(n, target);
 *     run rm_sql_facts() on the node, rm_node_take(n, RM_SQL_FACTS, r);
 *     for each rm_collect_order[k]: sql = rm_node_plan(n, section); when
 *         not NULL run it and rm_node_take(n, section, r) (or
 *         rm_node_fail(n, section, why) when it could not be submitted);
 *     rm_node_end(mgr, n);
 * then put the node into a snapshot and call rm_snapshot_link(). */

#define RM_COLLECT_STEPS 5 /* sections after the facts */
extern const rm_sql_section_t rm_collect_order[RM_COLLECT_STEPS];

/* rm_node_begin - start a round on target t: n (holding nothing) gets the
 * id, host and port and "not reported" values; set n->pglogical_mode
 * (RM_PGLOGICAL_OFF after this) and n->skip_sections (0) before planning. */
void rm_node_begin(rm_node_t *n, const rm_target_node_t *t);
/* rm_node_plan - the statement n needs for section, given its facts; NULL
 * when the section is settled without a query (skipped, empty, not
 * permitted, unsupported version). */
const char *rm_node_plan(rm_node_t *n, rm_sql_section_t section);
/* rm_node_take - record the node's answer to the section's statement.
 * Returns 0, or -1 when out of memory. */
int rm_node_take(rm_node_t *n, rm_sql_section_t section,
                 const pgcm_result_t *r);
/* rm_node_fail - the section's statement could not be submitted. */
void rm_node_fail(rm_node_t *n, rm_sql_section_t section, const char *message);
/* rm_node_end - finish the round: health record and pool stats from mgr
 * (getters, safe on any thread). */
void rm_node_end(pgcm_manager_t *mgr, rm_node_t *n);

/* rm_collect - one round: the facts query on every node in parallel, then
 * one fan-out per section (grouped by the SQL each node's version needs,
 * groups in parallel), then health and pool stats, then
 * rm_snapshot_link_rounds() with opts->rounds (then recorded in it).
 * A node that fails is marked unreachable; the others are still collected.
 * Returns 0 and *out (free with rm_snapshot_free), or -1 with a one-line
 * message in err when the round could not be run at all or was stopped.
 * Blocking. */
int rm_collect(pgcm_manager_t *mgr, const rm_target_node_t *targets,
               size_t count, const rm_collect_options_t *opts,
               rm_snapshot_t **out, char *err, size_t errlen);

#endif /* REPLMON_COLLECT_H */
