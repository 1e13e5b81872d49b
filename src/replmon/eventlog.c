/* SPDX-License-Identifier: MIT */
/*
 * eventlog.c - the connection_logs writer: a bounded ring of events filled
 * from the monitoring manager's event callback, and a thread that creates
 * the seed's table and function when missing and calls
 * log_connection_event() once per event through a manager of its own,
 * retrying with a capped backoff while the event node cannot take them.
 */
#include "eventlog.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "log.h"

/* Seed 004, "Database Changes", verbatim. */
const char rm_eventlog_table_sql[] =
    "-- Connection monitoring table\n"
    "CREATE TABLE connection_logs (\n"
    "    id SERIAL PRIMARY KEY,\n"
    "    connection_id TEXT NOT NULL,\n"
    "    status TEXT NOT NULL,\n"
    "    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,\n"
    "    error_message TEXT,\n"
    "    metadata JSONB\n"
    ");";

const char rm_eventlog_function_sql[] =
    "-- Connection monitoring function\n"
    "CREATE OR REPLACE FUNCTION log_connection_event(\n"
    "    p_connection_id TEXT,\n"
    "    p_status TEXT,\n"
    "    p_error_message TEXT DEFAULT NULL,\n"
    "    p_metadata JSONB DEFAULT '{}'::JSONB\n"
    ") RETURNS VOID AS $$\n"
    "BEGIN\n"
    "    INSERT INTO connection_logs (connection_id, status, error_message, "
    "metadata)\n"
    "    VALUES (p_connection_id, p_status, p_error_message, p_metadata);\n"
    "END;\n"
    "$$ LANGUAGE plpgsql;";

#define WRITE_SQL        "SELECT log_connection_event($1, $2, $3, $4::jsonb)"
#define WRITE_TIMEOUT_MS 5000
#define RETRY_FIRST_MS   500
#define RETRY_MAX_MS     10000

typedef struct item {
    char node[64];
    char status[32];
    char *error;    /* NULL: none */
    char *metadata; /* JSON text */
} item_t;

struct rm_eventlog {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    item_t *ring;
    size_t cap, head, count;
    uint64_t written, dropped, failures;
    int connected; /* last attempt succeeded */
    int accepting; /* events are taken */
    int stopping;  /* the writer should end */
    int64_t drain_until_ms;
    pthread_t thread;
    int thread_started;
    pgcm_manager_t *mgr; /* ours: the event node only */
    char node_id[64];
    char *instance, *shard;
    pgcm_manager_t *watched;
    uint64_t sub_id;
    int schema_ready;
};

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void item_clear(item_t *it)
{
    free(it->error);
    free(it->metadata);
    memset(it, 0, sizeof(*it));
}

static void log_hook(const pgcm_log_record_t *rec, void *user)
{
    (void)user;
    rm_log_pgcm_from(rec, "eventlog");
}

/* ---------------------------------------------------------------------- */
/* Taking events                                                          */
/* ---------------------------------------------------------------------- */

static const char *status_of(const pgcm_event_t *ev)
{
    switch (ev->type) {
    case PGCM_EV_NODE_ADDED:
        return "added";
    case PGCM_EV_NODE_REMOVED:
        return "removed";
    case PGCM_EV_NODE_CONNECTED:
        return "connected";
    case PGCM_EV_NODE_DISCONNECTED:
        return "disconnected";
    case PGCM_EV_HEALTH_CHANGED:
        return pgcm_node_state_name(ev->new_state);
    case PGCM_EV_THRESHOLD_REACHED:
        return "threshold_reached";
    case PGCM_EV_CHECKOUT_LEAK:
        return "checkout_leak";
    case PGCM_EV_TUNNEL_UP:
        return "tunnel_up";
    case PGCM_EV_TUNNEL_DOWN:
        return "tunnel_down";
    case PGCM_EV_POOL_STATS:
        break;
    }
    return NULL;
}

static char *metadata_of(const rm_eventlog_t *el, const pgcm_event_t *ev)
{
    char when[32];
    json_t *m = json_object();
    char *text;

    if (m == NULL)
        return NULL;
    rm_log_format_time(ev->time_ms, when, sizeof(when));
    json_object_set_new(m, "event",
                        json_string(pgcm_event_type_name(ev->type)));
    json_object_set_new(m, "time", json_string(when));
    if (ev->type == PGCM_EV_HEALTH_CHANGED) {
        json_object_set_new(m, "old_state",
                            json_string(pgcm_node_state_name(ev->old_state)));
        json_object_set_new(m, "new_state",
                            json_string(pgcm_node_state_name(ev->new_state)));
    }
    if (ev->health != NULL) {
        json_object_set_new(m, "consecutive_failures",
                            json_integer(ev->health->consecutive_failures));
        if (ev->health->last_ok_ms != 0)
            json_object_set_new(m, "latency_us",
                                json_integer(ev->health->latency_us));
    }
    if (ev->error_code != 0)
        json_object_set_new(m, "error",
                            json_string(pgcm_err_name(ev->error_code)));
    json_object_set_new(m, "instance", rm_log_json_text(el->instance));
    if (el->shard != NULL)
        json_object_set_new(m, "shard", json_string(el->shard));
    text = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(m);
    return text;
}

void rm_eventlog_event(const pgcm_event_t *ev, void *user)
{
    rm_eventlog_t *el = user;
    const char *status = status_of(ev);
    item_t it;

    if (status == NULL || ev->node_id == NULL)
        return;
    memset(&it, 0, sizeof(it));
    snprintf(it.node, sizeof(it.node), "%s", ev->node_id);
    snprintf(it.status, sizeof(it.status), "%s", status);
    if (ev->message != NULL && ev->message[0] != '\0' &&
        (ev->type == PGCM_EV_NODE_DISCONNECTED ||
         ev->type == PGCM_EV_THRESHOLD_REACHED ||
         (ev->type == PGCM_EV_HEALTH_CHANGED && ev->error_code != 0)))
        it.error = strdup(ev->message);
    it.metadata = metadata_of(el, ev);
    pthread_mutex_lock(&el->mu);
    if (!el->accepting) {
        pthread_mutex_unlock(&el->mu);
        item_clear(&it);
        return;
    }
    if (el->count == el->cap || it.metadata == NULL) {
        el->dropped++;
        pthread_mutex_unlock(&el->mu);
        item_clear(&it);
        return;
    }
    el->ring[(el->head + el->count) % el->cap] = it;
    el->count++;
    pthread_cond_signal(&el->cv);
    pthread_mutex_unlock(&el->mu);
}

/* ---------------------------------------------------------------------- */
/* Writing                                                                */
/* ---------------------------------------------------------------------- */

static void error_text(int rc, const pgcm_error_t *e, char *buf, size_t len)
{
    snprintf(buf, len, "%s", e->message[0] ? e->message : pgcm_strerror(rc));
}

/* Create the table and the function when missing, in one transaction
 * under an advisory lock (so that several replmon instances agree). */
static int ensure_schema(rm_eventlog_t *el, int timeout_ms, char *why,
                         size_t whylen)
{
    static const char check_sql[] =
        "SELECT to_regclass('connection_logs') IS NULL, NOT EXISTS (SELECT "
        "1 FROM pg_proc p WHERE p.proname = 'log_connection_event' AND "
        "pg_function_is_visible(p.oid))";
    pgcm_query_options_t q;
    pgcm_checkout_t *co = NULL;
    pgcm_result_t *r = NULL;
    pgcm_error_t e;
    int rc, need_table = 0, need_function = 0;

    memset(&q, 0, sizeof(q));
    memset(&e, 0, sizeof(e));
    q.timeout_ms = timeout_ms;
    rc = pgcm_checkout(el->mgr, el->node_id, timeout_ms, &co, &e);
    if (rc != PGCM_OK) {
        error_text(rc, &e, why, whylen);
        return -1;
    }
    rc = pgcm_checkout_query(co,
                             "BEGIN; SELECT pg_advisory_xact_lock("
                             "hashtext('replmon.connection_logs'))",
                             0, NULL, &q, NULL, &e);
    if (rc == PGCM_OK)
        rc = pgcm_checkout_query(co, check_sql, 0, NULL, &q, &r, &e);
    if (rc == PGCM_OK) {
        need_table = strcmp(pgcm_result_value(r, 0, 0), "t") == 0;
        need_function = strcmp(pgcm_result_value(r, 0, 1), "t") == 0;
    }
    pgcm_result_free(r);
    if (rc == PGCM_OK && need_table)
        rc = pgcm_checkout_query(co, rm_eventlog_table_sql, 0, NULL, &q, NULL,
                                 &e);
    if (rc == PGCM_OK && need_function)
        rc = pgcm_checkout_query(co, rm_eventlog_function_sql, 0, NULL, &q,
                                 NULL, &e);
    if (rc == PGCM_OK)
        rc = pgcm_checkout_query(co, "COMMIT", 0, NULL, &q, NULL, &e);
    /* A failure leaves the transaction open: the connection is closed. */
    pgcm_checkout_release(co, rc != PGCM_OK);
    if (rc != PGCM_OK) {
        error_text(rc, &e, why, whylen);
        return -1;
    }
    if (need_table || need_function)
        rm_log(PGCM_LOG_INFO, "event_log_created", el->node_id, 0, NULL,
               "created %s%s%s on the event node",
               need_table ? "table "
                            "connection_logs"
                          : "",
               need_table && need_function ? " and " : "",
               need_function ? "function log_connection_event()" : "");
    return 0;
}

static int write_item(rm_eventlog_t *el, const item_t *it, int timeout_ms,
                      int *schema_gone, char *why, size_t whylen)
{
    const char *params[4] = {it->node, it->status, it->error, it->metadata};
    pgcm_query_options_t q;
    pgcm_result_t *r = NULL;
    pgcm_error_t e;
    int rc;

    memset(&q, 0, sizeof(q));
    memset(&e, 0, sizeof(e));
    q.timeout_ms = timeout_ms;
    rc = pgcm_query(el->mgr, el->node_id, WRITE_SQL, 4, params, &q, &r, &e);
    pgcm_result_free(r);
    if (rc == PGCM_OK)
        return 0;
    /* undefined_table, undefined_function: someone dropped them. */
    *schema_gone =
        strcmp(e.sqlstate, "42P01") == 0 || strcmp(e.sqlstate, "42883") == 0;
    error_text(rc, &e, why, whylen);
    return -1;
}

static void wait_ms_locked(rm_eventlog_t *el, int ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&el->cv, &el->mu, &ts);
}

static void *writer_main(void *arg)
{
    rm_eventlog_t *el = arg;
    int retry_ms = RETRY_FIRST_MS;

    pthread_mutex_lock(&el->mu);
    for (;;) {
        item_t it;
        char why[512];
        int timeout_ms = WRITE_TIMEOUT_MS, rc, gone = 0;

        while (el->count == 0 && !el->stopping)
            pthread_cond_wait(&el->cv, &el->mu);
        if (el->stopping) {
            int64_t left = el->drain_until_ms - mono_ms();

            if (el->count == 0 || left <= 0)
                break;
            if (left < timeout_ms)
                timeout_ms = (int)left;
        }
        it = el->ring[el->head]; /* stays queued until written */
        pthread_mutex_unlock(&el->mu);
        rc = 0;
        if (!el->schema_ready) {
            rc = ensure_schema(el, timeout_ms, why, sizeof(why));
            el->schema_ready = rc == 0;
        }
        if (rc == 0)
            rc = write_item(el, &it, timeout_ms, &gone, why, sizeof(why));
        if (gone)
            el->schema_ready = 0;
        pthread_mutex_lock(&el->mu);
        if (rc == 0) {
            item_clear(&el->ring[el->head]);
            el->head = (el->head + 1) % el->cap;
            el->count--;
            el->written++;
            if (!el->connected)
                rm_log(PGCM_LOG_INFO, "event_log_writing", el->node_id, 0, NULL,
                       "recording events in connection_logs (%zu "
                       "queued)",
                       el->count);
            el->connected = 1;
            retry_ms = RETRY_FIRST_MS;
            continue;
        }
        el->failures++;
        if (el->connected || el->failures == 1)
            rm_log(PGCM_LOG_WARN, "event_log_unavailable", el->node_id, 0, NULL,
                   "cannot record events in connection_logs, keeping up to "
                   "%zu and retrying: %s",
                   el->cap, why);
        el->connected = 0;
        if (!el->stopping) {
            wait_ms_locked(el, retry_ms);
            retry_ms =
                retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retry_ms * 2;
        }
    }
    pthread_mutex_unlock(&el->mu);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Lifecycle                                                              */
/* ---------------------------------------------------------------------- */

int rm_eventlog_start(const rm_eventlog_options_t *opts, rm_eventlog_t **out,
                      char *err, size_t errlen)
{
    rm_eventlog_t *el = calloc(1, sizeof(*el));
    pgcm_options_t mo;
    pgcm_node_spec_t spec = *opts->node;
    pgcm_error_t e;

    *out = NULL;
    if (el == NULL || opts->queue_size == 0 ||
        (el->ring = calloc(opts->queue_size, sizeof(*el->ring))) == NULL) {
        free(el);
        snprintf(err, errlen, "out of memory for the event queue");
        return -1;
    }
    pthread_mutex_init(&el->mu, NULL);
    pthread_cond_init(&el->cv, NULL);
    el->cap = opts->queue_size;
    el->accepting = 1;
    snprintf(el->node_id, sizeof(el->node_id), "%s", spec.id);
    el->instance = strdup(opts->instance != NULL ? opts->instance : "replmon");
    el->shard = opts->shard != NULL ? strdup(opts->shard) : NULL;
    if (opts->base != NULL)
        mo = *opts->base;
    else
        pgcm_options_init(&mo);
    mo.log_cb = log_hook;
    mo.log_user = NULL;
    mo.log_level = rm_log_level();
    spec.pool.min = 1;
    spec.pool.max = 1;
    spec.pool.acquire_timeout_ms = WRITE_TIMEOUT_MS;
    memset(&e, 0, sizeof(e));
    if (pgcm_manager_new(&mo, &el->mgr, &e) != PGCM_OK ||
        pgcm_manager_start(el->mgr, &spec, 1, 0, &e) != PGCM_OK) {
        snprintf(err, errlen, "cannot start the event table's connection: %s",
                 e.message[0] ? e.message : "out of memory");
        el->thread_started = 0;
        rm_eventlog_stop(el, 0);
        return -1;
    }
    if (pthread_create(&el->thread, NULL, writer_main, el) != 0) {
        snprintf(err, errlen, "cannot start the event table's writer thread");
        rm_eventlog_stop(el, 0);
        return -1;
    }
    el->thread_started = 1;
    *out = el;
    return 0;
}

int rm_eventlog_watch(rm_eventlog_t *el, pgcm_manager_t *mgr)
{
    int rc = pgcm_subscribe(mgr, rm_eventlog_event, el, &el->sub_id);

    if (rc == PGCM_OK)
        el->watched = mgr;
    return rc;
}

void rm_eventlog_unwatch(rm_eventlog_t *el)
{
    if (el == NULL || el->watched == NULL)
        return;
    pgcm_unsubscribe(el->watched, el->sub_id);
    el->watched = NULL;
}

void rm_eventlog_stats(rm_eventlog_t *el, rm_eventlog_stats_t *out)
{
    pthread_mutex_lock(&el->mu);
    out->written = el->written;
    out->dropped = el->dropped;
    out->failures = el->failures;
    out->queued = el->count;
    out->connected = el->connected;
    pthread_mutex_unlock(&el->mu);
}

void rm_eventlog_stop(rm_eventlog_t *el, int drain_ms)
{
    if (el == NULL)
        return;
    rm_eventlog_unwatch(el);
    pthread_mutex_lock(&el->mu);
    el->accepting = 0;
    el->stopping = 1;
    el->drain_until_ms = mono_ms() + drain_ms;
    pthread_cond_broadcast(&el->cv);
    pthread_mutex_unlock(&el->mu);
    if (el->thread_started)
        pthread_join(el->thread, NULL);
    if (el->count > 0)
        rm_log(PGCM_LOG_WARN, "event_log_dropped", el->node_id, 0, NULL,
               "%zu events could not be recorded before the end", el->count);
    while (el->count > 0) {
        item_clear(&el->ring[el->head]);
        el->head = (el->head + 1) % el->cap;
        el->count--;
        el->dropped++;
    }
    pgcm_manager_free(el->mgr);
    free(el->ring);
    free(el->instance);
    free(el->shard);
    pthread_cond_destroy(&el->cv);
    pthread_mutex_destroy(&el->mu);
    free(el);
}
