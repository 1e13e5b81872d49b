/* SPDX-License-Identifier: MIT */
/*
 * collect.c - what fills a snapshot (snapshot.h): one collection round over
 * a manager's nodes, the facts query everywhere, then one fan-out per
 * section with the statement each node's version needs (replsql.c), and the
 * parsing of the answers into rm_node_t.
 */
#include "collect.h"

#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "fanout_wait.h"
#include "pglogical.h"

/* ---------------------------------------------------------------------- */
/* Field access by column name                                            */
/* ---------------------------------------------------------------------- */

/* A column's value, or NULL when the column is absent or SQL NULL. */
static const char *val(const PGresult *res, int row, const char *col)
{
    int c = PQfnumber(res, col);

    if (c < 0 || PQgetisnull(res, row, c))
        return NULL;
    return PQgetvalue(res, row, c);
}

/* strdup of a value; *ok cleared when out of memory. */
static char *dup_val(const PGresult *res, int row, const char *col, int *ok)
{
    const char *v = val(res, row, col);
    char *copy;

    if (v == NULL)
        return NULL;
    copy = strdup(v);
    if (copy == NULL)
        *ok = 0;
    return copy;
}

static void copy_val(const PGresult *res, int row, const char *col, char *buf,
                     size_t len)
{
    const char *v = val(res, row, col);

    snprintf(buf, len, "%s", v != NULL ? v : "");
}

static int64_t i64_val(const PGresult *res, int row, const char *col)
{
    const char *v = val(res, row, col);
    char *end;
    long long x;

    if (v == NULL)
        return RM_NONE;
    x = strtoll(v, &end, 10);
    if (end == v)
        return RM_NONE;
    return (int64_t)x;
}

static double f64_val(const PGresult *res, int row, const char *col)
{
    const char *v = val(res, row, col);
    char *end;
    double x;

    if (v == NULL)
        return NAN;
    x = strtod(v, &end);
    return end == v ? NAN : x;
}

static int bool_val(const PGresult *res, int row, const char *col)
{
    const char *v = val(res, row, col);

    if (v == NULL)
        return -1;
    return v[0] == 't' ? 1 : 0;
}

/* ---------------------------------------------------------------------- */
/* Parsing                                                                */
/* ---------------------------------------------------------------------- */

int rm_parse_facts(const PGresult *res, rm_node_t *n)
{
    if (PQntuples(res) < 1)
        return 0;
    n->have_facts = 1;
    n->in_recovery = bool_val(res, 0, "in_recovery") == 1;
    copy_val(res, 0, "current_lsn", n->current_lsn, sizeof(n->current_lsn));
    copy_val(res, 0, "wal_level", n->wal_level, sizeof(n->wal_level));
    copy_val(res, 0, "database", n->database, sizeof(n->database));
    copy_val(res, 0, "pglogical_version", n->pglogical_version,
             sizeof(n->pglogical_version));
    copy_val(res, 0, "user_name", n->user, sizeof(n->user));
    n->publications = i64_val(res, 0, "publications");
    n->subscription_count = i64_val(res, 0, "subscriptions");
    n->slot_count = i64_val(res, 0, "slots");
    n->logical_slots = i64_val(res, 0, "logical_slots");
    n->walsenders = i64_val(res, 0, "walsenders");
    n->walreceivers = i64_val(res, 0, "walreceivers");
    n->can_read_stats = bool_val(res, 0, "can_read_stats") == 1;
    n->server_epoch = f64_val(res, 0, "server_epoch");
    n->last_commit_age_seconds = f64_val(res, 0, "last_commit_age_seconds");
    if (n->server_version == 0) {
        int64_t v = i64_val(res, 0, "version_num");
        n->server_version = v == RM_NONE ? 0 : (int)v;
    }
    return 0;
}

int rm_parse_slots(const PGresult *res, rm_node_t *n)
{
    int rows = PQntuples(res), i, ok = 1;

    if (rows == 0)
        return 0;
    n->slots = calloc((size_t)rows, sizeof(*n->slots));
    if (n->slots == NULL)
        return -1;
    n->nslots = (size_t)rows;
    for (i = 0; i < rows; i++) {
        rm_slot_t *s = &n->slots[i];

        s->name = dup_val(res, i, "slot_name", &ok);
        s->type = dup_val(res, i, "slot_type", &ok);
        s->plugin = dup_val(res, i, "plugin", &ok);
        s->database = dup_val(res, i, "database", &ok);
        s->temporary = bool_val(res, i, "temporary");
        s->active = bool_val(res, i, "active");
        s->active_pid = i64_val(res, i, "active_pid");
        copy_val(res, i, "current_lsn", s->current_lsn, sizeof(s->current_lsn));
        copy_val(res, i, "restart_lsn", s->restart_lsn, sizeof(s->restart_lsn));
        copy_val(res, i, "confirmed_flush_lsn", s->confirmed_flush_lsn,
                 sizeof(s->confirmed_flush_lsn));
        s->retained_bytes = i64_val(res, i, "retained_bytes");
        s->unconfirmed_bytes = i64_val(res, i, "unconfirmed_bytes");
        s->xmin_age = i64_val(res, i, "xmin_age");
        s->catalog_xmin_age = i64_val(res, i, "catalog_xmin_age");
        s->wal_status = dup_val(res, i, "wal_status", &ok);
        s->safe_wal_size = i64_val(res, i, "safe_wal_size");
        s->conflicting = bool_val(res, i, "conflicting");
        s->inactive_seconds = f64_val(res, i, "inactive_seconds");
        s->invalidation_reason = dup_val(res, i, "invalidation_reason", &ok);
        s->sender_application_name =
            dup_val(res, i, "sender_application_name", &ok);
        s->sender_state = dup_val(res, i, "sender_state", &ok);
        s->unsent_bytes = i64_val(res, i, "unsent_bytes");
        s->unacked_bytes = i64_val(res, i, "unacked_bytes");
        s->replay_lag_seconds = f64_val(res, i, "replay_lag_seconds");
        s->reply_age_seconds = f64_val(res, i, "reply_age_seconds");
    }
    return ok ? 0 : -1;
}

/* Room for rows more subscriptions after the node's (native ones come
 * first, pglogical's after them); each starts "not reported". */
static rm_subscription_t *subs_append(rm_node_t *n, int rows)
{
    rm_subscription_t *grown;
    size_t i, j;

    grown = realloc(n->subs, (n->nsubs + (size_t)rows) * sizeof(*grown));
    if (grown == NULL)
        return NULL;
    n->subs = grown;
    for (i = n->nsubs; i < n->nsubs + (size_t)rows; i++) {
        rm_subscription_t *s = &grown[i];

        memset(s, 0, sizeof(*s));
        s->enabled = -1;
        s->worker_pid = s->tables_total = s->tables_ready = RM_NONE;
        s->sync_workers = s->apply_error_count = s->sync_error_count = RM_NONE;
        for (j = 0; j < RM_CONFL_COUNT; j++)
            s->confl[j] = RM_NONE;
        s->last_msg_age_seconds = s->transit_seconds = NAN;
        s->latest_end_age_seconds = s->conflict_rate_per_min = NAN;
        s->lag_bytes = RM_NONE;
        s->lag_seconds = NAN;
    }
    grown = &n->subs[n->nsubs];
    n->nsubs += (size_t)rows;
    return grown;
}

/* Either kind's rows, appended to the node's subscriptions. */
static int parse_subs(const PGresult *res, rm_node_t *n, rm_sub_kind_t kind)
{
    static const char *const confl_cols[RM_CONFL_COUNT] = {
        "confl_insert_exists",
        "confl_update_origin_differs",
        "confl_update_exists",
        "confl_update_missing",
        "confl_delete_origin_differs",
        "confl_delete_missing",
        "confl_multiple_unique_conflicts"};
    int rows = PQntuples(res), i, ok = 1;
    rm_subscription_t *subs;
    size_t k;

    if (rows == 0)
        return 0;
    if ((subs = subs_append(n, rows)) == NULL)
        return -1;
    for (i = 0; i < rows; i++) {
        rm_subscription_t *s = &subs[i];

        s->kind = kind;
        s->name = dup_val(res, i, "subname", &ok);
        s->slot_name = dup_val(res, i, "slot_name", &ok);
        s->publications = dup_val(res, i, "publications", &ok);
        s->enabled = bool_val(res, i, "enabled");
        s->worker_pid = i64_val(res, i, "worker_pid");
        s->tables_total = i64_val(res, i, "tables_total");
        s->tables_ready = i64_val(res, i, "tables_ready");
        if (kind == RM_SUB_PGLOGICAL) {
            s->provider_node = dup_val(res, i, "provider_node", &ok);
            s->pglogical_status = dup_val(res, i, "pglogical_status", &ok);
            continue;
        }
        copy_val(res, i, "received_lsn", s->received_lsn,
                 sizeof(s->received_lsn));
        copy_val(res, i, "latest_end_lsn", s->latest_end_lsn,
                 sizeof(s->latest_end_lsn));
        s->last_msg_age_seconds = f64_val(res, i, "last_msg_age_seconds");
        s->transit_seconds = f64_val(res, i, "transit_seconds");
        s->latest_end_age_seconds = f64_val(res, i, "latest_end_age_seconds");
        s->sync_workers = i64_val(res, i, "sync_workers");
        s->apply_error_count = i64_val(res, i, "apply_error_count");
        s->sync_error_count = i64_val(res, i, "sync_error_count");
        for (k = 0; k < RM_CONFL_COUNT; k++)
            s->confl[k] = i64_val(res, i, confl_cols[k]);
    }
    return ok ? 0 : -1;
}

int rm_parse_subscriptions(const PGresult *res, rm_node_t *n)
{
    return parse_subs(res, n, RM_SUB_NATIVE);
}

int rm_parse_pglogical(const PGresult *res, rm_node_t *n)
{
    return parse_subs(res, n, RM_SUB_PGLOGICAL);
}

int rm_parse_standbys(const PGresult *res, rm_node_t *n)
{
    int rows = PQntuples(res), i, ok = 1;

    if (rows == 0)
        return 0;
    n->standbys = calloc((size_t)rows, sizeof(*n->standbys));
    if (n->standbys == NULL)
        return -1;
    n->nstandbys = (size_t)rows;
    for (i = 0; i < rows; i++) {
        rm_standby_t *s = &n->standbys[i];

        s->pid = i64_val(res, i, "pid");
        s->application_name = dup_val(res, i, "application_name", &ok);
        s->client_addr = dup_val(res, i, "client_addr", &ok);
        s->client_port = i64_val(res, i, "client_port");
        s->state = dup_val(res, i, "state", &ok);
        s->sync_state = dup_val(res, i, "sync_state", &ok);
        copy_val(res, i, "sent_lsn", s->sent_lsn, sizeof(s->sent_lsn));
        copy_val(res, i, "write_lsn", s->write_lsn, sizeof(s->write_lsn));
        copy_val(res, i, "flush_lsn", s->flush_lsn, sizeof(s->flush_lsn));
        copy_val(res, i, "replay_lsn", s->replay_lsn, sizeof(s->replay_lsn));
        s->pending_bytes = i64_val(res, i, "pending_bytes");
        s->unacked_bytes = i64_val(res, i, "unacked_bytes");
        s->replay_bytes = i64_val(res, i, "replay_bytes");
        s->write_lag_seconds = f64_val(res, i, "write_lag_seconds");
        s->flush_lag_seconds = f64_val(res, i, "flush_lag_seconds");
        s->replay_lag_seconds = f64_val(res, i, "replay_lag_seconds");
        s->reply_age_seconds = f64_val(res, i, "reply_age_seconds");
        s->lag_seconds = NAN;
    }
    return ok ? 0 : -1;
}

int rm_parse_receiver(const PGresult *res, rm_node_t *n)
{
    rm_receiver_t *r = &n->receiver;
    int ok = 1;

    rm_receiver_clear(r);
    r->primary[0] = '\0';
    r->lag_bytes = RM_NONE;
    r->sender_port = RM_NONE;
    r->replay_backlog_bytes = RM_NONE;
    r->last_msg_age_seconds = NAN;
    r->latest_end_age_seconds = NAN;
    r->replay_delay_seconds = NAN;
    r->paused = -1;
    if (PQntuples(res) < 1)
        return 0;
    r->present = 1;
    r->status = dup_val(res, 0, "status", &ok);
    r->slot_name = dup_val(res, 0, "slot_name", &ok);
    r->sender_host = dup_val(res, 0, "sender_host", &ok);
    r->sender_port = i64_val(res, 0, "sender_port");
    r->last_msg_age_seconds = f64_val(res, 0, "last_msg_age_seconds");
    r->latest_end_age_seconds = f64_val(res, 0, "latest_end_age_seconds");
    copy_val(res, 0, "receive_lsn", r->receive_lsn, sizeof(r->receive_lsn));
    copy_val(res, 0, "replay_lsn", r->replay_lsn, sizeof(r->replay_lsn));
    copy_val(res, 0, "received_lsn", r->received_lsn, sizeof(r->received_lsn));
    copy_val(res, 0, "written_lsn", r->written_lsn, sizeof(r->written_lsn));
    r->replay_backlog_bytes = i64_val(res, 0, "replay_backlog_bytes");
    r->replay_delay_seconds = f64_val(res, 0, "replay_delay_seconds");
    r->paused = bool_val(res, 0, "paused");
    return ok ? 0 : -1;
}

/* ---------------------------------------------------------------------- */
/* Fan-out rounds                                                         */
/* ---------------------------------------------------------------------- */

/* One batch in flight: the nodes it targets and, once done, its answers. */
typedef struct batch_job {
    rm_fanout_wait_t *wg;
    const char *sql;
    const char **ids;
    size_t nids;
    pgcm_batch_t *batch;
    uint64_t request_id;
    int submit_error;
    char submit_message[512];
} batch_job_t;

static void on_batch_done(pgcm_batch_t *batch, void *user)
{
    batch_job_t *job = user;

    job->batch = batch;
    rm_fanout_wait_done(job->wg);
}

int64_t rm_clock_epoch_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rm_clock_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static rm_node_t *find_node(rm_snapshot_t *snap, const char *id)
{
    size_t i;

    for (i = 0; i < snap->count; i++) {
        if (strcmp(snap->nodes[i].id, id) == 0)
            return &snap->nodes[i];
    }
    return NULL;
}

/*
 * Run one section on every node that has a statement for it (sql[i] not
 * NULL): nodes sharing a statement form one batch, all batches run at once.
 * Each answer goes to rm_node_take; a batch that cannot be submitted marks
 * its nodes' section as failed.
 */
static int run_section(pgcm_manager_t *mgr, rm_snapshot_t *snap,
                       rm_sql_section_t section, const char **sql,
                       const pgcm_query_options_t *qopts,
                       volatile sig_atomic_t *stop)
{
    size_t n = snap->count, i, j, njobs = 0;
    batch_job_t *jobs = calloc(n ? n : 1, sizeof(*jobs));
    const char **ids = calloc(n ? n : 1, sizeof(*ids));
    rm_fanout_wait_t wg;
    int oom = 0, cancelled;

    if (jobs == NULL || ids == NULL || rm_fanout_wait_init(&wg, n) != 0) {
        free(jobs);
        free(ids);
        return -1;
    }
    /* Group the nodes by statement; ids[] is laid out group after group. */
    {
        size_t placed = 0;

        for (i = 0; i < n; i++) {
            int seen = 0;

            if (sql[i] == NULL)
                continue;
            for (j = 0; j < njobs; j++)
                seen |= strcmp(jobs[j].sql, sql[i]) == 0;
            if (seen)
                continue;
            jobs[njobs].sql = sql[i];
            jobs[njobs].ids = &ids[placed];
            for (j = i; j < n; j++) {
                if (sql[j] != NULL && strcmp(sql[j], sql[i]) == 0)
                    jobs[njobs].ids[jobs[njobs].nids++] = snap->nodes[j].id;
            }
            placed += jobs[njobs].nids;
            njobs++;
        }
    }
    for (j = 0; j < njobs; j++) {
        pgcm_target_t target = {PGCM_TARGET_LIST, jobs[j].ids, jobs[j].nids};
        pgcm_error_t err;
        int rc;

        jobs[j].wg = &wg;
        memset(&err, 0, sizeof(err));
        rm_fanout_wait_expect(&wg);
        rc = pgcm_query_many_async(mgr, &target, jobs[j].sql, 0, NULL, qopts,
                                   on_batch_done, &jobs[j], &jobs[j].request_id,
                                   &err);
        rm_fanout_wait_submitted(&wg, rc, jobs[j].request_id);
        if (rc != PGCM_OK) {
            jobs[j].submit_error = rc;
            snprintf(jobs[j].submit_message, sizeof(jobs[j].submit_message),
                     "%s", err.message[0] ? err.message : pgcm_strerror(rc));
        }
    }
    cancelled = rm_fanout_wait_all(&wg, mgr, stop);
    rm_fanout_wait_destroy(&wg);

    for (j = 0; j < njobs; j++) {
        if (jobs[j].batch == NULL) {
            for (i = 0; i < jobs[j].nids; i++) {
                rm_node_t *node = find_node(snap, jobs[j].ids[i]);

                if (node != NULL)
                    rm_node_fail(node, section, jobs[j].submit_message);
            }
            continue;
        }
        for (i = 0; i < pgcm_batch_count(jobs[j].batch); i++) {
            const pgcm_result_t *r = pgcm_batch_result(jobs[j].batch, i);
            rm_node_t *node = find_node(snap, pgcm_result_node_id(r));

            if (node != NULL && rm_node_take(node, section, r) != 0)
                oom = 1;
        }
        pgcm_batch_free(jobs[j].batch);
    }
    free(jobs);
    free(ids);
    if (cancelled)
        return 1;
    return oom ? -1 : 0;
}

static void result_error_text(const pgcm_result_t *r, char *buf, size_t len)
{
    const pgcm_error_t *e = pgcm_result_error(r);
    int code = pgcm_result_status(r);

    if (e != NULL && e->message[0] != '\0')
        snprintf(buf, len, "%s", e->message);
    else
        snprintf(buf, len, "%s", pgcm_strerror(code));
}

static int is_permission_error(const pgcm_result_t *r)
{
    const pgcm_error_t *e = pgcm_result_error(r);

    return e != NULL && strcmp(e->sqlstate, "42501") == 0;
}

static int take_facts(rm_node_t *node, const pgcm_result_t *r)
{
    rm_section_t *sec = &node->sections[RM_SQL_FACTS];

    node->elapsed_us = pgcm_result_elapsed_us(r);
    if (pgcm_result_status(r) != PGCM_OK) {
        /* An SQL error means the server answered: it is reachable, but
         * what it is cannot be told (too old, a revoked catalog...). */
        node->reachable = pgcm_result_status(r) == PGCM_ESQL;
        node->server_version = pgcm_result_server_version(r);
        sec->state = is_permission_error(r) ? RM_SECTION_NO_PERMISSION
                                            : RM_SECTION_ERROR;
        result_error_text(r, node->error, sizeof(node->error));
        snprintf(sec->error, sizeof(sec->error), "%s", node->error);
        rm_section_explain(sec, node->user);
        return 0;
    }
    node->reachable = 1;
    node->have_facts = 1;
    node->server_version = pgcm_result_server_version(r);
    sec->state = RM_SECTION_OK;
    return rm_parse_facts(pgcm_result_pg(r), node);
}

int rm_node_take(rm_node_t *node, rm_sql_section_t section,
                 const pgcm_result_t *r)
{
    rm_section_t *sec = &node->sections[section];
    const PGresult *res;
    int rc = 0;

    if (section == RM_SQL_FACTS)
        return take_facts(node, r);
    if (pgcm_result_status(r) != PGCM_OK) {
        sec->state = is_permission_error(r) ? RM_SECTION_NO_PERMISSION
                                            : RM_SECTION_ERROR;
        result_error_text(r, sec->error, sizeof(sec->error));
        rm_section_explain(sec, node->user);
        return 0;
    }
    res = pgcm_result_pg(r);
    sec->state = RM_SECTION_OK;
    switch (section) {
    case RM_SQL_SLOTS:
        rc = rm_parse_slots(res, node);
        break;
    case RM_SQL_SUBSCRIPTIONS:
        rc = rm_parse_subscriptions(res, node);
        break;
    case RM_SQL_STANDBYS:
        rc = rm_parse_standbys(res, node);
        break;
    case RM_SQL_PGLOGICAL:
        rc = rm_parse_pglogical(res, node);
        break;
    case RM_SQL_RECEIVER:
        rc = rm_parse_receiver(res, node);
        /* Without pg_read_all_stats the receiver's row is masked; the
         * replay position functions still answer. */
        if (!node->can_read_stats)
            rm_section_needs(sec, "pg_stat_wal_receiver", "pg_read_all_stats",
                             node->user);
        break;
    case RM_SQL_FACTS:
    case RM_SQL_SECTION_COUNT:
        break;
    }
    return rc;
}

/* Whether the configuration's skip_sections (RM_SKIP_* bits) leaves the
 * section out. */
static int not_wanted(unsigned skip, rm_sql_section_t section)
{
    switch (section) {
    case RM_SQL_SLOTS:
        return (skip & RM_SKIP_SLOTS) != 0;
    case RM_SQL_SUBSCRIPTIONS:
    case RM_SQL_PGLOGICAL: /* pglogical's subscriptions are subscriptions */
        return (skip & RM_SKIP_SUBSCRIPTIONS) != 0;
    case RM_SQL_STANDBYS:
        return (skip & RM_SKIP_STANDBYS) != 0;
    case RM_SQL_RECEIVER:
        return (skip & RM_SKIP_RECEIVER) != 0;
    case RM_SQL_FACTS:
    case RM_SQL_SECTION_COUNT:
        break;
    }
    return 0;
}

void rm_node_fail(rm_node_t *node, rm_sql_section_t section,
                  const char *message)
{
    rm_section_t *sec = &node->sections[section];

    sec->state = RM_SECTION_ERROR;
    snprintf(sec->error, sizeof(sec->error), "%s", message);
    if (section == RM_SQL_FACTS)
        snprintf(node->error, sizeof(node->error), "%s", message);
}

const char *rm_node_plan(rm_node_t *n, rm_sql_section_t section)
{
    rm_section_t *sec = &n->sections[section];
    const char *sql;

    if (not_wanted(n->skip_sections, section)) {
        sec->state = RM_SECTION_NOT_WANTED;
        return NULL;
    }
    if (!n->reachable || !n->have_facts) {
        sec->state = RM_SECTION_SKIPPED;
        return NULL;
    }
    sql = rm_sql_for(n->server_version, section);
    if (sql == NULL) {
        sec->state = RM_SECTION_ERROR;
        snprintf(sec->error, sizeof(sec->error),
                 "server version %d is not supported (PostgreSQL 10 or newer "
                 "is needed)",
                 n->server_version);
        return NULL;
    }
    n->sql_major = rm_sql_row_for_version(n->server_version)->major;
    switch (section) {
    case RM_SQL_SUBSCRIPTIONS:
        if (n->subscription_count == 0) {
            sec->state = RM_SECTION_OK;
            return NULL;
        }
        break;
    case RM_SQL_STANDBYS:
        if (n->walsenders == 0) {
            sec->state = RM_SECTION_OK;
            return NULL;
        }
        if (!n->can_read_stats) {
            rm_section_needs(sec, "pg_stat_replication", "pg_read_all_stats",
                             n->user);
            return NULL;
        }
        break;
    case RM_SQL_RECEIVER:
        if (!n->in_recovery) {
            sec->state = RM_SECTION_SKIPPED;
            return NULL;
        }
        break;
    case RM_SQL_PGLOGICAL:
        if (!rm_pglogical_planned(n)) {
            sec->state = RM_SECTION_SKIPPED;
            return NULL;
        }
        break;
    case RM_SQL_SLOTS:
        /* The facts counted them: no slot, no query (a node without
         * replication costs one statement a round). */
        if (n->slot_count == 0) {
            sec->state = RM_SECTION_OK;
            return NULL;
        }
        break;
    case RM_SQL_FACTS:
    case RM_SQL_SECTION_COUNT:
        break;
    }
    return sql;
}

/* pglogical's subscriptions are appended to the native ones. */
const rm_sql_section_t rm_collect_order[RM_COLLECT_STEPS] = {
    RM_SQL_SUBSCRIPTIONS, RM_SQL_PGLOGICAL, RM_SQL_SLOTS, RM_SQL_STANDBYS,
    RM_SQL_RECEIVER};

void rm_node_begin(rm_node_t *n, const rm_target_node_t *t)
{
    memset(n, 0, sizeof(*n));
    snprintf(n->id, sizeof(n->id), "%s", t->id);
    snprintf(n->host, sizeof(n->host), "%s", t->host != NULL ? t->host : "");
    n->port = t->port;
    n->receiver.lag_bytes = RM_NONE;
    snprintf(n->error, sizeof(n->error), "no answer from the node");
}

void rm_node_end(pgcm_manager_t *mgr, rm_node_t *n)
{
    if (n->have_facts)
        n->error[0] = '\0';
    n->have_health = pgcm_node_health(mgr, n->id, &n->health) == PGCM_OK;
    n->have_stats = pgcm_node_stats(mgr, n->id, &n->stats) == PGCM_OK;
    if (n->have_health && n->server_version == 0)
        n->server_version = n->health.server_version;
}

int rm_collect(pgcm_manager_t *mgr, const rm_target_node_t *targets,
               size_t count, const rm_collect_options_t *opts,
               rm_snapshot_t **out, char *err, size_t errlen)
{
    pgcm_query_options_t qopts;
    rm_snapshot_t *snap;
    const char **sql = NULL;
    volatile sig_atomic_t *stop = opts != NULL ? opts->stop : NULL;
    int64_t start;
    size_t i, k;
    int rc;

    *out = NULL;
    snap = calloc(1, sizeof(*snap));
    if (snap == NULL ||
        (count > 0 &&
         (snap->nodes = calloc(count, sizeof(rm_node_t))) == NULL) ||
        (sql = calloc(count ? count : 1, sizeof(*sql))) == NULL) {
        free(sql);
        rm_snapshot_free(snap);
        snprintf(err, errlen, "out of memory while collecting");
        return -1;
    }
    snap->count = count;
    snap->collected_ms = rm_clock_epoch_ms();
    start = rm_clock_mono_us();
    memset(&qopts, 0, sizeof(qopts));
    qopts.timeout_ms = opts != NULL && opts->query_timeout_ms > 0
                           ? opts->query_timeout_ms
                           : 5000;
    qopts.correlation_id = opts != NULL ? opts->correlation_id : 0;
    for (i = 0; i < count; i++) {
        rm_node_begin(&snap->nodes[i], &targets[i]);
        snap->nodes[i].pglogical_mode =
            opts != NULL ? opts->pglogical : RM_PGLOGICAL_OFF;
        snap->nodes[i].skip_sections = opts != NULL ? opts->skip_sections : 0;
        sql[i] = rm_sql_facts();
    }
    rc = run_section(mgr, snap, RM_SQL_FACTS, sql, &qopts, stop);
    for (k = 0; rc == 0 && k < RM_COLLECT_STEPS; k++) {
        for (i = 0; i < count; i++)
            sql[i] = rm_node_plan(&snap->nodes[i], rm_collect_order[k]);
        rc = run_section(mgr, snap, rm_collect_order[k], sql, &qopts, stop);
    }
    if (rc != 0) {
        free(sql);
        rm_snapshot_free(snap);
        snprintf(err, errlen, "%s",
                 rc > 0 ? "interrupted" : "out of memory while collecting");
        return -1;
    }
    for (i = 0; i < count; i++)
        rm_node_end(mgr, &snap->nodes[i]);
    rm_snapshot_link_rounds(snap, opts != NULL ? opts->rounds : NULL);
    if (opts != NULL && opts->rounds != NULL &&
        rm_rounds_record(opts->rounds, snap) != 0) {
        free(sql);
        rm_snapshot_free(snap);
        snprintf(err, errlen, "out of memory while collecting");
        return -1;
    }
    snap->elapsed_us = rm_clock_mono_us() - start;
    free(sql);
    *out = snap;
    return 0;
}
