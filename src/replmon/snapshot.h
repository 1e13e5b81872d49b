/* SPDX-License-Identifier: MIT */
/*
 * snapshot.h - the snapshot model: the facts replmon gathers about each
 * node (role, slots, subscriptions, standbys, the standby's own receiver)
 * and the pure computations over them: LSN arithmetic, roles, subscription
 * states, and the cross-node links computed after a round (which publisher
 * serves which subscription, which primary feeds which standby, and the lag
 * between them in bytes from 64-bit LSNs). collect.h fills it from servers;
 * evaluate.h, the reports and the dashboard read it.
 *
 * Numbers the server did not report are RM_NONE (integers) or NAN (doubles);
 * booleans are -1 when unknown.
 */
#ifndef REPLMON_SNAPSHOT_H
#define REPLMON_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "pgcm.h"
#include "replsql.h"

#define RM_NONE INT64_MIN

/* ---------------------------------------------------------------------- */
/* LSN arithmetic                                                         */
/* ---------------------------------------------------------------------- */

/* rm_lsn_parse - "16/B374D848" to 0x16B374D848. Returns 0 on success, -1 for
 * NULL or malformed text. */
int rm_lsn_parse(const char *text, uint64_t *out);
/* rm_lsn_format - the "X/Y" text of an LSN into buf (at least 18 bytes). */
void rm_lsn_format(uint64_t lsn, char *buf, size_t len);
/* rm_lsn_diff - a - b in bytes, saturated to the int64 range. */
int64_t rm_lsn_diff(uint64_t a, uint64_t b);

/* ---------------------------------------------------------------------- */
/* What one node reports                                                  */
/* ---------------------------------------------------------------------- */

/* Outcome of one section's query on one node. */
typedef enum rm_section_state {
    RM_SECTION_SKIPPED = 0, /* not applicable (e.g. receiver on a primary) */
    RM_SECTION_OK,
    RM_SECTION_NO_PERMISSION, /* the monitoring role lacks the privilege */
    RM_SECTION_ERROR,         /* failed; message in rm_section_t.error */
    RM_SECTION_NOT_WANTED     /* the configuration's skip_sections: not read */
} rm_section_state_t;

/* A section that could not be read says what failed and how to fix it:
 * view, privilege and grant are "" when unknown (an error that is not about
 * a privilege). */
typedef struct rm_section {
    rm_section_state_t state;
    char error[512];
    char view[64];      /* e.g. "pg_stat_replication", "pg_subscription" */
    char privilege[96]; /* what the role lacks, e.g. "pg_read_all_stats" */
    char grant[256];    /* what gives it: "GRANT pg_monitor TO mon" */
} rm_section_t;

const char *rm_section_state_name(rm_section_state_t s); /* "ok", ... */

/* rm_section_explain - fill sec->view, privilege and grant for role from
 * sec->error when it is PostgreSQL's "permission denied for table X" (or
 * relation, view, function, schema): SELECT on X, GRANT SELECT ON X TO
 * role. Leaves them "" for any other error. Pure. */
void rm_section_explain(rm_section_t *sec, const char *role);

/* rm_section_needs - mark sec as not permitted because the rows of view are
 * masked without privilege (granted by pg_monitor, e.g. pg_read_all_stats):
 * state, error, view, privilege and "GRANT pg_monitor TO role". Pure. */
void rm_section_needs(rm_section_t *sec, const char *view,
                      const char *privilege, const char *role);

typedef struct rm_slot {
    char *name, *type, *plugin, *database;
    int temporary, active; /* -1 unknown */
    int64_t active_pid;
    char current_lsn[24]; /* the node's LSN when read */
    char restart_lsn[24], confirmed_flush_lsn[24];
    int64_t retained_bytes;    /* current LSN - restart_lsn */
    int64_t unconfirmed_bytes; /* current LSN - confirmed_flush_lsn */
    int64_t xmin_age, catalog_xmin_age;
    char *wal_status;              /* 13+: reserved/extended/unreserved/lost */
    int64_t safe_wal_size;         /* 13+ */
    int conflicting;               /* 16+, -1 unknown */
    double inactive_seconds;       /* 17+ */
    char *invalidation_reason;     /* 17+ */
    char *sender_application_name; /* walsender serving the slot */
    char *sender_state;
    int64_t unsent_bytes;
    int64_t unacked_bytes;     /* walsender sent_lsn - the downstream's
                                  acknowledged write_lsn */
    double replay_lag_seconds; /* the walsender's replay_lag */
    double reply_age_seconds;  /* 12+: since the downstream's last reply */
} rm_slot_t;

/* Which replication a subscription belongs to: the native one
 * (pg_subscription) or pglogical's (pglogical.subscription). Operations
 * pick their SQL by this, never by whether the extension is installed. */
typedef enum rm_sub_kind {
    RM_SUB_NATIVE = 0,
    RM_SUB_PGLOGICAL = 1
} rm_sub_kind_t;

/* "native" or "pglogical". */
const char *rm_sub_kind_name(rm_sub_kind_t kind);

/* PostgreSQL 18's conflict counters (pg_stat_subscription_stats.confl_*),
 * in the view's order; conflicts.h says which of them raise an error. */
typedef enum rm_confl {
    RM_CONFL_INSERT_EXISTS = 0,
    RM_CONFL_UPDATE_ORIGIN_DIFFERS,
    RM_CONFL_UPDATE_EXISTS,
    RM_CONFL_UPDATE_MISSING,
    RM_CONFL_DELETE_ORIGIN_DIFFERS,
    RM_CONFL_DELETE_MISSING,
    RM_CONFL_MULTIPLE_UNIQUE_CONFLICTS,
    RM_CONFL_COUNT
} rm_confl_t;

typedef struct rm_subscription {
    char *name, *slot_name;
    char *publications; /* native: publications; pglogical: replication
                           sets; comma-separated */
    rm_sub_kind_t kind;
    char *provider_node;    /* pglogical: the provider's pglogical node */
    char *pglogical_status; /* pglogical: replicating, initializing, down,
                               disabled or unknown */
    int enabled;            /* -1 unknown */
    int64_t worker_pid;     /* RM_NONE: no apply worker */
    char received_lsn[24], latest_end_lsn[24];
    double last_msg_age_seconds, transit_seconds, latest_end_age_seconds;
    int64_t tables_total, tables_ready, sync_workers;
    int64_t apply_error_count, sync_error_count; /* 15+ */
    int64_t confl[RM_CONFL_COUNT];               /* 18+, by rm_confl_t */
    /* Filled by rm_snapshot_rates() (conflicts.h) from an earlier round. */
    double conflict_rate_per_min; /* NAN: unknown */
    /* Filled by rm_snapshot_link(). */
    char publisher[64];     /* node id of the publisher, "" unknown */
    char link_note[128];    /* why the publisher is unknown */
    int64_t lag_bytes;      /* publisher current LSN - received_lsn (the
                               slot's confirmed_flush_lsn without a worker) */
    double lag_seconds;     /* rm_downstream_lag() of the slot's walsender;
                               without one, the slot's inactive time (17+) */
    const char *lag_method; /* RM_LAG_*, NULL when lag_seconds is NAN */
} rm_subscription_t;

/* "disabled", "down" (enabled, no apply worker), "syncing" (tables not yet
 * ready) or "streaming"; for pglogical from its own status (replicating:
 * streaming, initializing: syncing), "unknown" when it reports that. */
const char *rm_subscription_state(const rm_subscription_t *s);

typedef struct rm_standby {
    int64_t pid;
    char *application_name, *client_addr, *state, *sync_state;
    int64_t client_port;
    char sent_lsn[24], write_lsn[24], flush_lsn[24], replay_lsn[24];
    int64_t pending_bytes; /* current - sent */
    int64_t replay_bytes;  /* current - replay: the lag in bytes */
    int64_t unacked_bytes; /* sent - write: sent, not acknowledged */
    double write_lag_seconds, flush_lag_seconds, replay_lag_seconds;
    double reply_age_seconds; /* 12+ */
    /* Filled by rm_snapshot_link(). */
    double lag_seconds;     /* rm_downstream_lag() */
    const char *lag_method; /* RM_LAG_*, NULL when lag_seconds is NAN */
} rm_standby_t;

/* A standby's own WAL receiver and replay position (one row). */
typedef struct rm_receiver {
    int present; /* a row was returned */
    char *status, *slot_name, *sender_host;
    int64_t sender_port; /* 11+ */
    double last_msg_age_seconds;
    double latest_end_age_seconds; /* since the upstream's WAL end last
                                      moved (latest_end_time) */
    char receive_lsn[24], replay_lsn[24], received_lsn[24], written_lsn[24];
    int64_t replay_backlog_bytes;
    double replay_delay_seconds; /* as read: now - the last replayed
                                    commit, 0 with nothing to replay; then
                                    rm_snapshot_link() puts the best
                                    figure it has (replay_delay_method) */
    int paused;                  /* -1 unknown */
    /* Filled by rm_snapshot_link(). */
    char primary[64];                /* node id of the upstream, "" unknown */
    int64_t lag_bytes;               /* upstream current LSN - receive LSN */
    const char *replay_delay_method; /* RM_LAG_*, NULL when NAN */
} rm_receiver_t;

typedef struct rm_node {
    char id[64];
    char host[256]; /* from the spec, for matching upstreams */
    int port;
    /* From the library. */
    int have_health, have_stats;
    pgcm_health_t health;
    pgcm_pool_stats_t stats;
    /* Facts round. */
    int reachable;      /* the node answered the facts query */
    int have_facts;     /* ... and its answer could be used */
    char error[512];    /* why not */
    int64_t elapsed_us; /* facts query round trip */
    int server_version; /* PQserverVersion of the answer */
    char user[64];      /* the role replmon is connected as (current_user) */
    int sql_major;      /* row of the SQL table used, 0 none */
    int in_recovery;
    char current_lsn[24];
    char wal_level[16];
    char database[64];
    int64_t publications, subscription_count, slot_count, logical_slots;
    int64_t walsenders, walreceivers;
    int can_read_stats;
    double server_epoch;
    /* pglogical (the facts tell whether the extension is installed in the
     * node's database; its section then reads the subscriptions). */
    int pglogical_mode;         /* RM_PGLOGICAL_* (config.h) for this round */
    unsigned skip_sections;     /* RM_SKIP_* (config.h): sections this round
                                   does not read (set before planning) */
    char pglogical_version[16]; /* the extension's version, "" none */
    double last_commit_age_seconds; /* primary with track_commit_timestamp:
                                       since its last commit */
    /* Sections. */
    rm_section_t sections[RM_SQL_SECTION_COUNT]; /* by rm_sql_section_t */
    rm_slot_t *slots;
    size_t nslots;
    rm_subscription_t *subs;
    size_t nsubs;
    rm_standby_t *standbys;
    size_t nstandbys;
    rm_receiver_t receiver;
} rm_node_t;

/* Role flags of a node, derived from its facts. */
#define RM_ROLE_PRIMARY    0x1
#define RM_ROLE_STANDBY    0x2
#define RM_ROLE_PUBLISHER  0x4
#define RM_ROLE_SUBSCRIBER 0x8
#define RM_ROLE_LAST       RM_ROLE_SUBSCRIBER
int rm_node_roles(const rm_node_t *n);
/* rm_role_name - "primary", "standby", "publisher" or "subscriber" for
 * one role flag (in that order from RM_ROLE_PRIMARY up to RM_ROLE_LAST);
 * NULL for anything else. */
const char *rm_role_name(int role);
/* rm_roles_format - "primary,publisher" into buf; "unknown" when 0. */
void rm_roles_format(int roles, char *buf, size_t len);

typedef struct rm_snapshot {
    rm_node_t *nodes;
    size_t count;
    int64_t collected_ms; /* Unix epoch ms when the round began */
    int64_t elapsed_us;   /* the whole round */
} rm_snapshot_t;

void rm_snapshot_free(rm_snapshot_t *snap);
/* rm_node_clear - free the slots, subscriptions, standbys and receiver n
 * owns (the other fields stay). */
void rm_node_clear(rm_node_t *n);
/* rm_snapshot_node - the node with this id, or NULL. */
rm_node_t *rm_snapshot_node(const rm_snapshot_t *snap, const char *id);
/* rm_receiver_clear - free a receiver's strings and zero it. */
void rm_receiver_clear(rm_receiver_t *r);
/* rm_snapshot_copy - a deep copy of snap (free with rm_snapshot_free), or
 * NULL when out of memory. */
rm_snapshot_t *rm_snapshot_copy(const rm_snapshot_t *snap);

/* ---------------------------------------------------------------------- */
/* Lag in time                                                            */
/* ---------------------------------------------------------------------- */

/* How a lag in seconds was found (the *_method fields; JSON and output
 * print these strings):
 *   caught_up             nothing outstanding: 0
 *   replay_lag            the walsender's replay_lag, from the primary's
 *                         own LSN-to-time samples, so idle time never counts
 *   reply_age             the downstream stopped replying with WAL sent to
 *                         it: the age of its last reply
 *   inactive              no walsender: the slot's inactive time (17+)
 *   rounds                earlier rounds: since the upstream was first seen
 *                         past the standby's replay LSN
 *   walsender             the upstream walsender's figure for this standby
 *   primary_commit        the upstream's last commit (track_commit_timestamp)
 *                         is not replayed: at least its age
 *   latest_end            the standby's receiver: at least the time since
 *                         the upstream's WAL end last moved
 *   last_replayed_commit  now - the last replayed commit's time: an upper
 *                         bound that counts idle time, the last resort */
#define RM_LAG_CAUGHT_UP      "caught_up"
#define RM_LAG_REPLAY_LAG     "replay_lag"
#define RM_LAG_REPLY_AGE      "reply_age"
#define RM_LAG_INACTIVE       "inactive"
#define RM_LAG_ROUNDS         "rounds"
#define RM_LAG_WALSENDER      "walsender"
#define RM_LAG_PRIMARY_COMMIT "primary_commit"
#define RM_LAG_LATEST_END     "latest_end"
#define RM_LAG_LAST_COMMIT    "last_replayed_commit"

/* A downstream that has not replied for this long while WAL it was sent is
 * unacknowledged has stopped replying: a live one replies as soon as it
 * writes what it received. */
#define RM_REPLY_OVERDUE_SECONDS 1.0

/* rm_downstream_lag - the time lag of a downstream (standby or
 * subscription) served by a walsender, from the walsender's row:
 * replay_lag (NAN: NULL), reply_age (NAN before 12), unacked_bytes (sent -
 * write, RM_NONE unknown) and behind_bytes (what the downstream has not
 * replayed or confirmed, RM_NONE unknown). When WAL sent to it is
 * unacknowledged and its last reply is older than
 * RM_REPLY_OVERDUE_SECONDS, the age of that reply (RM_LAG_REPLY_AGE; the
 * walsender's replay_lag stops moving when replies stop); else replay_lag
 * (RM_LAG_REPLAY_LAG); else 0 when nothing is behind (RM_LAG_CAUGHT_UP);
 * else NAN and *method NULL. Pure. */
double rm_downstream_lag(double replay_lag, double reply_age,
                         int64_t unacked_bytes, int64_t behind_bytes,
                         const char **method);

/* What replmon remembers of earlier rounds (watch, serve): per node, the
 * current LSN each round read and when. */
typedef struct rm_rounds rm_rounds_t;

/* rm_rounds_new - keep up to samples rounds per node (>= 2). NULL when
 * out of memory. */
rm_rounds_t *rm_rounds_new(size_t samples);
void rm_rounds_free(rm_rounds_t *h);

/* rm_rounds_record - remember every reachable node's current LSN at
 * snap->collected_ms (call after rm_snapshot_link_rounds() for that
 * round). Returns 0, or -1 when out of memory. */
int rm_rounds_record(rm_rounds_t *h, const rm_snapshot_t *snap);

/* rm_rounds_first_past - the time (Unix ms) of the earliest remembered
 * round in which node id's LSN was past lsn. Returns 1 and *at_ms, or 0
 * when no remembered round was past it. */
int rm_rounds_first_past(const rm_rounds_t *h, const char *id, uint64_t lsn,
                         int64_t *at_ms);

/* ---------------------------------------------------------------------- */
/* Cross-node links                                                       */
/* ---------------------------------------------------------------------- */

/* rm_snapshot_link - compute cross-node facts: for every subscription the
 * node that holds its slot (a logical slot of that name on exactly one
 * primary) and the lag publisher current LSN - received_lsn, clamped at 0
 * (the slot's confirmed_flush_lsn when no apply worker runs); for every
 * standby its upstream (by sender host/port, else by slot name)
 * and the lag upstream current LSN - receive LSN; the lag in time of every
 * subscription and standby (rm_downstream_lag()), and every standby's own
 * replay delay: 0 with nothing to replay, else from the earlier rounds
 * (NULL: none), else the upstream walsender's figure for it (unless
 * replay is paused: it then stops moving), else the larger of two lower
 * bounds, the age of the upstream's last commit (track_commit_timestamp)
 * when the standby has not replayed it and the time since the upstream's
 * WAL end last moved, else the last replayed commit's age as read (an
 * upper bound, which also caps the lower bounds). */
void rm_snapshot_link_rounds(rm_snapshot_t *snap, const rm_rounds_t *rounds);
/* rm_snapshot_link - rm_snapshot_link_rounds(snap, NULL): one round. */
void rm_snapshot_link(rm_snapshot_t *snap);

#endif /* REPLMON_SNAPSHOT_H */
