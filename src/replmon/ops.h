/* SPDX-License-Identifier: MIT */
/*
 * ops.h - operations on what the monitor shows (R8): pause, resume and
 * refresh a subscription, resync one pglogical table, create and drop a
 * replication slot. This half is pure (no I/O), so the command line and the
 * dashboard share it and unit tests cover it whole:
 *
 *   - rm_ops_for_subscription / _slot / _node: the operations an object
 *     offers right now, for a menu (the dashboard's `o`);
 *   - rm_op_plan: a request resolved against a snapshot (which node holds
 *     the object, and of which kind: a native or a pglogical subscription
 *     is paused by its own kind, never by whether the extension is
 *     installed), what is unsafe refused (an active slot without force, a
 *     table the subscription does not replicate), and the exact SQL;
 *   - rm_sql_quote_ident / rm_sql_quote_literal: quoting for the SQL;
 *   - rm_op_error_line: one line for a person when it fails (naming the
 *     privilege when one is missing); rm_op_log_message / _data / _level:
 *     what the structured log (log.h) gets for every operation (who,
 *     what, where, the SQL, the outcome).
 *
 * ops_exec.h runs a plan through a libpgcm manager.
 *
 * Plans as a state machine (each operation, whatever its kind):
 *
 *     request --rm_op_plan--> planned | refused (err: why, one line)
 *     planned --rm_op_check--> checked | refused (a CHECK step said no)
 *     checked --confirmation (destructive only: the user types
 *               plan->confirm)--> confirmed | abandoned
 *     confirmed --rm_op_execute--> done | failed (the step that failed;
 *               the ones before it stay done)
 *
 * --dry-run stops at checked and prints the ACTION and WAIT steps.
 */
#ifndef REPLMON_OPS_H
#define REPLMON_OPS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "collect.h"
#include "pgcm.h"

typedef enum rm_op_kind {
    RM_OP_SUB_PAUSE = 0, /* native ALTER SUBSCRIPTION DISABLE, pglogical
                            alter_subscription_disable */
    RM_OP_SUB_RESUME,    /* ... ENABLE, alter_subscription_enable */
    RM_OP_SUB_REFRESH,   /* native only: REFRESH PUBLICATION */
    RM_OP_SUB_RESYNC,    /* pglogical only: truncate one table and copy
                            it again from the provider */
    RM_OP_SLOT_CREATE,   /* logical (with an output plugin) or physical */
    RM_OP_SLOT_DROP,     /* refused while active unless force */
    RM_OP_KIND_COUNT
} rm_op_kind_t;

/* rm_op_kind_name - "subscription pause", "slot drop", ... (as typed on
 * the command line). */
const char *rm_op_kind_name(rm_op_kind_t kind);
/* rm_op_kind_id - "subscription.pause", "slot.drop", ... (for logs). */
const char *rm_op_kind_id(rm_op_kind_t kind);

/* What to do. Strings are borrowed. */
typedef struct rm_op_request {
    rm_op_kind_t kind;
    const char *name;   /* the subscription or the slot */
    const char *table;  /* RM_OP_SUB_RESYNC: the table, as regclass text
                           ("public.t", "t", "\"Mixed Case\"") */
    const char *node;   /* the node to act on; NULL: the one that has the
                           object (create: the only node) */
    const char *plugin; /* RM_OP_SLOT_CREATE: the output plugin of a
                           logical slot; NULL: a physical slot */
    int force;          /* RM_OP_SLOT_DROP: end the slot's walsender first
                           (pg_terminate_backend) */
    int sub_kind;       /* -1: either kind; else rm_sub_kind_t */
} rm_op_request_t;

/* rm_op_request_init - kind, nothing else given, sub_kind -1. */
void rm_op_request_init(rm_op_request_t *req, rm_op_kind_t kind);

/* Where a CHECK step's refusal takes the check's detail (a byte no quoted
 * name can hold, so a name is never read as a placeholder). */
#define RM_OP_DETAIL "\001"

typedef enum rm_op_step_kind {
    RM_STEP_CHECK = 0, /* read-only; its one row (ok boolean, detail text)
                          must say ok, else the plan is refused with
                          refusal (RM_OP_DETAIL in it: the detail); runs
                          before the confirmation, and in a dry run */
    RM_STEP_ACTION,    /* changes the server; one request, which may hold
                          several statements (one a line) */
    RM_STEP_WAIT       /* read-only; run again every 100 ms (up to 5 s)
                          until its one value is true */
} rm_op_step_kind_t;

typedef struct rm_op_step {
    rm_op_step_kind_t kind;
    char *sql;
    char *refusal;    /* CHECK: why, with RM_OP_DETAIL once */
    int retry_in_use; /* ACTION: run again (every 50 ms, up to 5 s) while
                         it fails with 55006 object_in_use (a slot's
                         consumer came back between the statements) */
} rm_op_step_t;

#define RM_OP_MAX_STEPS 4

typedef struct rm_op_plan {
    rm_op_kind_t kind;
    int sub_kind;   /* subscription operations: rm_sub_kind_t; -1 */
    char node[64];  /* where: the node's id, */
    char host[256]; /* its host and port as configured, */
    int port;
    char database[64];  /* and the database it was read in */
    int server_version; /* PQserverVersion of the node */
    char *object;       /* the subscription or slot */
    char *table;        /* resync: the table as given */
    int force;          /* drop: the walsender is ended first */
    int destructive;    /* drop, resync: typed confirmation */
    char *confirm;      /* what the user types to confirm: the slot's
                           name, the table's for a resync */
    char *summary;      /* "pause native subscription s on node sub" */
    char *consequence;  /* destructive: what it does, for the prompt */
    char note[320];     /* something to tell first, or "" */
    rm_op_step_t steps[RM_OP_MAX_STEPS];
    size_t nsteps;
} rm_op_plan_t;

/* rm_op_plan - resolve req against snap (its nodes, subscriptions and
 * slots as last collected) into *plan. Refuses, with one line in err
 * naming the cause and the fix: an unknown or ambiguous object (the
 * message lists the nodes that have it: use --node), a node that could
 * not be searched, an operation the object's kind does not have, a slot
 * name PostgreSQL would reject, an existing slot, an active or temporary
 * slot without force, a refresh of a disabled subscription. Returns 0 and *plan
 * (free with rm_op_plan_free), -1 refused (err; plan->node still names the node
 * when the object was found, else ""), -2 out of memory. Pure. */
int rm_op_plan(const rm_snapshot_t *snap, const rm_op_request_t *req,
               rm_op_plan_t *plan, char *err, size_t errlen);
void rm_op_plan_free(rm_op_plan_t *plan);

/* rm_op_confirmed - whether what the user typed (a trailing newline and
 * surrounding blanks ignored) is plan->confirm exactly. */
int rm_op_confirmed(const rm_op_plan_t *plan, const char *typed);

/* ---------------------------------------------------------------------- */
/* The operations an object offers (a menu)                               */
/* ---------------------------------------------------------------------- */

typedef struct rm_op_choice {
    rm_op_kind_t kind;
    const char *label; /* "pause", "resume", "refresh publication",
                          "resync a table...", "drop", "create a
                          slot..." */
    int destructive;   /* asks for typed confirmation */
    int force;         /* drop of an active slot: ends its walsender */
    int needs_table;   /* resync: ask which table */
    int needs_slot;    /* create: ask the name and the plugin (or
                          physical) */
    int available;     /* 0: shown, not offered; why says why */
    char why[128];
} rm_op_choice_t;

/* Each fills out[0..max) and returns how many choices there are (at most
 * RM_OP_KIND_COUNT). A request for a choice: rm_op_request_init(kind),
 * node = the object's node id, name = its name (force, table, plugin as
 * the choice asks), sub_kind = its kind. */
size_t rm_ops_for_subscription(const rm_subscription_t *s, rm_op_choice_t *out,
                               size_t max);
size_t rm_ops_for_slot(const rm_slot_t *s, rm_op_choice_t *out, size_t max);
size_t rm_ops_for_node(const rm_node_t *n, rm_op_choice_t *out, size_t max);

/* ---------------------------------------------------------------------- */
/* SQL quoting                                                            */
/* ---------------------------------------------------------------------- */

/* rm_sql_quote_ident - s as a quoted identifier ("a""b"); rm_sql_quote_literal
 * - s as a string literal ('it''s', or E'a\\b' when s has a backslash, so
 * that it means the same whatever standard_conforming_strings says). Both
 * need valid UTF-8 without control characters; the statement must go to
 * a server whose client_encoding keeps ASCII bytes ASCII (every server
 * encoding does; ops_exec checks). Return a malloc'd string, or NULL with
 * errno EINVAL (s is empty, invalid UTF-8 or has a control character) or
 * ENOMEM. */
char *rm_sql_quote_ident(const char *s);
char *rm_sql_quote_literal(const char *s);

/* rm_slot_name_problem - NULL when PostgreSQL accepts name as a slot name
 * (1 to 63 of a-z, 0-9 and _), else why not. */
const char *rm_slot_name_problem(const char *name);

/* ---------------------------------------------------------------------- */
/* Lines for a person and for the log                                     */
/* ---------------------------------------------------------------------- */

/* rm_op_error_line - one line for a statement of plan that failed with
 * sqlstate and the server's message, run as role (NULL: unknown): on node
 * X, what failed, and for a missing privilege (42501) which one and the
 * GRANT or ALTER ROLE that gives it. */
void rm_op_error_line(const rm_op_plan_t *plan, const char *role,
                      const char *sqlstate, const char *message, char *buf,
                      size_t len);

typedef enum rm_op_outcome {
    RM_OP_OK = 0,   /* done */
    RM_OP_DRY_RUN,  /* checked and printed, nothing changed */
    RM_OP_REFUSED,  /* nothing was changed: why in detail */
    RM_OP_FAILED,   /* a statement failed: detail */
    RM_OP_ABANDONED /* not confirmed */
} rm_op_outcome_t;

/* "ok", "dry-run", "refused", "failed", "abandoned". */
const char *rm_op_outcome_name(rm_op_outcome_t o);

/* One operation, for the log. Strings are borrowed; plan may be NULL for a
 * request refused before it had one (then req says what, and node where
 * when known). */
typedef struct rm_op_record {
    const rm_op_request_t *req;
    const rm_op_plan_t *plan;
    const char *node;    /* without a plan: the node, NULL unknown */
    const char *os_user; /* who: the OS user */
    const char *role;    /* and the database role, NULL unknown */
    rm_op_outcome_t outcome;
    const char *detail; /* why refused, the error, or NULL */
    int64_t elapsed_ms;
} rm_op_record_t;

/* The record as the structured log takes it (event "operation"): its
 * level (info for ok and dry-run, warn for refused and abandoned, error
 * for failed), its node (NULL: none known), its message ("pause native
 * subscription s on node sub: ok", malloc'd) and its data (a new JSON
 * object: op, object, table, kind, force, where "HOST:PORT/DB", os_user,
 * role, outcome, sql (the ACTION and WAIT steps, "; "-separated), detail,
 * elapsed_ms). Strings in both have what a terminal would act on written
 * out (\n, \xNN, \uXXXX), so a line stays one line. NULL when out of
 * memory. */
pgcm_log_level_t rm_op_log_level(rm_op_outcome_t outcome);
const char *rm_op_log_node(const rm_op_record_t *rec);
char *rm_op_log_message(const rm_op_record_t *rec);
json_t *rm_op_log_data(const rm_op_record_t *rec);

#endif /* REPLMON_OPS_H */
