/* SPDX-License-Identifier: MIT */
/*
 * serve.c - the published state behind the HTTP endpoints and the router.
 * The state a request needs is one reference-counted view (the monitored
 * ids, the last round and the index of each id in that round) swapped
 * under the mutex whenever a round is published or the node list changes;
 * a request takes a reference and renders without holding the lock.
 */
#include "serve.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "conflicts.h"
#include "evaluate.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "nodecheck.h"
#include "output.h"
#include "report_status.h"

/* One published round: the snapshot, its verdict and /status's text. */
typedef struct round {
    atomic_int refs;
    rm_snapshot_t *snap;
    rm_eval_t ev;
    char *status_json;
    size_t status_len;
} round_t;

/* What a request reads. */
typedef struct view {
    atomic_int refs;
    char **ids; /* monitored now */
    size_t n;
    round_t *round; /* NULL before the first round */
    int *facts;     /* facts[i]: index of ids[i] in round->snap, or -1 */
} view_t;

struct rm_serve {
    pthread_mutex_t mu;
    view_t *view;
    pgcm_manager_t *mgr;
    rm_eventlog_t *el;
    rm_histos_t *histos;
    rm_http_t *http;
    int shard, shards;
    atomic_int draining;
    uint64_t rounds, round_failures, reloads_ok, reloads_failed;
    int last_reload_ok;
};

static void round_unref(round_t *r)
{
    if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    rm_eval_free(&r->ev);
    rm_snapshot_free(r->snap);
    free(r->status_json);
    free(r);
}

static void view_unref(view_t *v)
{
    size_t i;

    if (v == NULL || atomic_fetch_sub(&v->refs, 1) != 1)
        return;
    for (i = 0; i < v->n; i++)
        free(v->ids[i]);
    free(v->ids);
    free(v->facts);
    round_unref(v->round);
    free(v);
}

static int cmp_node_ptr(const void *a, const void *b)
{
    const rm_node_t *const *x = a, *const *y = b;

    return strcmp((*x)->id, (*y)->id);
}

/* A new view of ids (copied when copy, else taken) and round (a reference
 * is taken), with the id -> snapshot index map. */
static view_t *view_new(char **ids, size_t n, round_t *round)
{
    view_t *v = calloc(1, sizeof(*v));
    const rm_node_t **sorted = NULL;
    size_t i, m;

    if (v == NULL)
        return NULL;
    atomic_init(&v->refs, 1);
    v->ids = ids;
    v->n = n;
    v->facts = calloc(n ? n : 1, sizeof(*v->facts));
    m = round != NULL ? round->snap->count : 0;
    sorted = calloc(m ? m : 1, sizeof(*sorted));
    if (v->facts == NULL || sorted == NULL) {
        free(sorted);
        free(v->facts);
        free(v);
        return NULL;
    }
    for (i = 0; i < m; i++)
        sorted[i] = &round->snap->nodes[i];
    qsort(sorted, m, sizeof(*sorted), cmp_node_ptr);
    for (i = 0; i < n; i++) {
        rm_node_t key, *kp = &key;
        const rm_node_t **hit;

        snprintf(key.id, sizeof(key.id), "%s", ids[i]);
        hit = m > 0 ? bsearch(&kp, sorted, m, sizeof(*sorted), cmp_node_ptr)
                    : NULL;
        v->facts[i] = hit != NULL ? (int)(*hit - round->snap->nodes) : -1;
    }
    free(sorted);
    if (round != NULL)
        atomic_fetch_add(&round->refs, 1);
    v->round = round;
    return v;
}

static char **copy_ids(const char *const *ids, size_t n)
{
    char **c = calloc(n ? n : 1, sizeof(*c));
    size_t i;

    if (c == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        c[i] = strdup(ids[i]);
        if (c[i] == NULL) {
            while (i > 0)
                free(c[--i]);
            free(c);
            return NULL;
        }
    }
    return c;
}

static view_t *current_view(rm_serve_t *s)
{
    view_t *v;

    pthread_mutex_lock(&s->mu);
    v = s->view;
    if (v != NULL)
        atomic_fetch_add(&v->refs, 1);
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* ---------------------------------------------------------------------- */
/* State                                                                  */
/* ---------------------------------------------------------------------- */

rm_serve_t *rm_serve_new(int shard, int shards)
{
    rm_serve_t *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->histos = rm_histos_new();
    s->view = view_new(calloc(1, sizeof(char *)), 0, NULL);
    if (s->histos == NULL || s->view == NULL) {
        rm_histos_free(s->histos);
        view_unref(s->view);
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->shard = shard > 0 ? shard : 1;
    s->shards = shards > 0 ? shards : 1;
    s->last_reload_ok = 1;
    return s;
}

void rm_serve_free(rm_serve_t *s)
{
    if (s == NULL)
        return;
    rm_serve_stop_listening(s);
    view_unref(s->view);
    rm_histos_free(s->histos);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void rm_serve_log_hook(const pgcm_log_record_t *rec, void *user)
{
    rm_serve_t *s = user;

    rm_histos_record(s->histos, rec);
    if (rec->error_code == PGCM_EUNAVAIL && rec->level > PGCM_LOG_DEBUG &&
        strcmp(rec->event, "query_failed") == 0) {
        /* A round's query refused because the node is known to be down:
         * its state_changed line said so once; not again every round. */
        pgcm_log_record_t quiet = *rec;

        quiet.level = PGCM_LOG_DEBUG;
        rm_log_pgcm(&quiet, NULL);
        return;
    }
    rm_log_pgcm(rec, NULL);
}

void rm_serve_set_manager(rm_serve_t *s, pgcm_manager_t *mgr)
{
    pthread_mutex_lock(&s->mu);
    s->mgr = mgr;
    pthread_mutex_unlock(&s->mu);
}

void rm_serve_set_event_log(rm_serve_t *s, rm_eventlog_t *el)
{
    pthread_mutex_lock(&s->mu);
    s->el = el;
    pthread_mutex_unlock(&s->mu);
}

int rm_serve_set_nodes(rm_serve_t *s, const char *const *ids, size_t n)
{
    char **copy = copy_ids(ids, n);
    view_t *v, *old;

    if (copy == NULL)
        return -1;
    pthread_mutex_lock(&s->mu);
    v = view_new(copy, n, s->view->round);
    if (v == NULL) {
        pthread_mutex_unlock(&s->mu);
        for (size_t i = 0; i < n; i++)
            free(copy[i]);
        free(copy);
        return -1;
    }
    old = s->view;
    s->view = v;
    pthread_mutex_unlock(&s->mu);
    view_unref(old);
    rm_histos_forget(s->histos, ids, n);
    return 0;
}

static int render_status(round_t *r, const rm_thresholds_t *t,
                         const char *cluster)
{
    rm_status_context_t ctx;
    json_t *doc;
    FILE *f;
    int rc;

    ctx.cluster = cluster;
    ctx.thresholds = t;
    doc = rm_status_json(r->snap, &r->ev, &ctx);
    if (doc == NULL)
        return -1;
    f = open_memstream(&r->status_json, &r->status_len);
    if (f == NULL) {
        json_decref(doc);
        return -1;
    }
    rc = rm_print_json(f, doc, 15);
    json_decref(doc);
    if (fclose(f) != 0 || rc != 0)
        return -1;
    return 0;
}

int rm_serve_publish(rm_serve_t *s, rm_snapshot_t *snap,
                     const rm_thresholds_t *t, const char *cluster)
{
    round_t *r = calloc(1, sizeof(*r)), *prev;
    view_t *v, *old;
    char **ids;

    if (r == NULL) {
        rm_snapshot_free(snap);
        return -1;
    }
    atomic_init(&r->refs, 1);
    r->snap = snap;
    /* Conflict rates since the round published before this one. */
    pthread_mutex_lock(&s->mu);
    prev = s->view->round;
    if (prev != NULL)
        atomic_fetch_add(&prev->refs, 1);
    pthread_mutex_unlock(&s->mu);
    rm_snapshot_rates(prev != NULL ? prev->snap : NULL, snap);
    round_unref(prev);
    if (rm_evaluate(snap, t, &r->ev) != 0) {
        rm_snapshot_free(snap);
        free(r);
        return -1;
    }
    if (render_status(r, t, cluster) != 0) {
        round_unref(r);
        return -1;
    }
    pthread_mutex_lock(&s->mu);
    ids = copy_ids((const char *const *)s->view->ids, s->view->n);
    v = ids != NULL ? view_new(ids, s->view->n, r) : NULL;
    if (v == NULL) {
        pthread_mutex_unlock(&s->mu);
        if (ids != NULL) {
            for (size_t i = 0; i < s->view->n; i++)
                free(ids[i]);
            free(ids);
        }
        round_unref(r);
        return -1;
    }
    old = s->view;
    s->view = v;
    s->rounds++;
    pthread_mutex_unlock(&s->mu);
    round_unref(r); /* the view holds it now */
    view_unref(old);
    return 0;
}

void rm_serve_round_failed(rm_serve_t *s)
{
    pthread_mutex_lock(&s->mu);
    s->round_failures++;
    pthread_mutex_unlock(&s->mu);
}

void rm_serve_reload_done(rm_serve_t *s, int ok)
{
    pthread_mutex_lock(&s->mu);
    if (ok)
        s->reloads_ok++;
    else
        s->reloads_failed++;
    s->last_reload_ok = ok;
    pthread_mutex_unlock(&s->mu);
}

void rm_serve_set_draining(rm_serve_t *s)
{
    atomic_store(&s->draining, 1);
}

/* ---------------------------------------------------------------------- */
/* Rendering                                                              */
/* ---------------------------------------------------------------------- */

int rm_serve_render_metrics(rm_serve_t *s, char **out, size_t *len)
{
    rm_metrics_process_t p;
    rm_metrics_node_t *nodes;
    rm_eventlog_stats_t es;
    pgcm_manager_t *mgr;
    rm_eventlog_t *el;
    view_t *v;
    size_t i;
    int rc;

    memset(&p, 0, sizeof(p));
    memset(&es, 0, sizeof(es));
    pthread_mutex_lock(&s->mu);
    v = s->view;
    atomic_fetch_add(&v->refs, 1);
    mgr = s->mgr;
    el = s->el;
    p.rounds = s->rounds;
    p.round_failures = s->round_failures;
    p.reloads_ok = s->reloads_ok;
    p.reloads_failed = s->reloads_failed;
    p.last_reload_ok = s->last_reload_ok;
    pthread_mutex_unlock(&s->mu);
    p.version = PGCM_VERSION_STRING;
    p.shard = s->shard;
    p.shards = s->shards;
    p.last_round_seconds = NAN;
    p.last_round_timestamp = NAN;
    if (v->round != NULL) {
        p.last_round_seconds = (double)v->round->snap->elapsed_us / 1e6;
        p.last_round_timestamp = (double)v->round->snap->collected_ms / 1e3;
    }
    if (el != NULL) {
        rm_eventlog_stats(el, &es);
        p.event_log_enabled = 1;
        p.event_log_written = es.written;
        p.event_log_dropped = es.dropped;
        p.event_log_failures = es.failures;
        p.event_log_queued = es.queued;
    }
    p.log_dropped = rm_log_dropped();
    nodes = calloc(v->n ? v->n : 1, sizeof(*nodes));
    if (nodes == NULL) {
        view_unref(v);
        return -1;
    }
    for (i = 0; i < v->n; i++) {
        rm_metrics_node_t *m = &nodes[i];

        m->id = v->ids[i];
        m->status = -1;
        if (mgr != NULL) {
            m->have_health =
                pgcm_node_health(mgr, m->id, &m->health) == PGCM_OK;
            m->have_stats = pgcm_node_stats(mgr, m->id, &m->stats) == PGCM_OK;
        }
        if (v->facts[i] >= 0) {
            m->facts = &v->round->snap->nodes[v->facts[i]];
            m->status = (int)v->round->ev.node_status[v->facts[i]];
        }
        rm_histos_get(s->histos, m->id, &m->acquire, &m->lifetime);
    }
    rc = rm_metrics_render(&p, nodes, v->n, out, len);
    free(nodes);
    view_unref(v);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Endpoints                                                              */
/* ---------------------------------------------------------------------- */

static void set_json(rm_http_response_t *resp, int status, json_t *doc)
{
    char *text = doc != NULL
                     ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                                           JSON_REAL_PRECISION(15))
                     : NULL;
    size_t len = text != NULL ? strlen(text) : 0;

    json_decref(doc);
    resp->body = text != NULL ? malloc(len + 2) : NULL;
    if (resp->body == NULL) {
        free(text);
        rm_http_set_text(resp, 500, "out of memory\n");
        return;
    }
    memcpy(resp->body, text, len);
    memcpy(resp->body + len, "\n", 2);
    free(text);
    resp->len = len + 1;
    resp->status = status;
    resp->content_type = "application/json";
}

static void serve_node(rm_serve_t *s, const rm_http_request_t *req,
                       const char *id, rm_http_response_t *resp)
{
    rm_node_check_params_t params;
    pgcm_health_t health;
    char why[256];
    view_t *v;
    json_t *body = NULL;
    size_t i;
    int status, have = 0;

    if (rm_node_check_parse(rm_http_query(req, "max_lag"),
                            rm_http_query(req, "max_lag_seconds"), &params, why,
                            sizeof(why)) != 0) {
        set_json(resp, 400,
                 json_pack("{s:o,s:i,s:o}", "node", rm_log_json_text(id),
                           "status", 400, "reason", rm_log_json_text(why)));
        return;
    }
    v = current_view(s);
    for (i = 0; i < v->n && strcmp(v->ids[i], id) != 0; i++)
        ;
    if (i == v->n) {
        view_unref(v);
        snprintf(why, sizeof(why),
                 "no node '%.64s' is monitored here (see /metrics for the "
                 "nodes)",
                 id);
        set_json(resp, 404,
                 json_pack("{s:o,s:i,s:o}", "node", rm_log_json_text(id),
                           "status", 404, "reason", rm_log_json_text(why)));
        return;
    }
    pthread_mutex_lock(&s->mu);
    if (s->mgr != NULL)
        have = pgcm_node_health(s->mgr, id, &health) == PGCM_OK;
    pthread_mutex_unlock(&s->mu);
    status = rm_node_check(
        id, have ? &health : NULL,
        v->facts[i] >= 0 ? &v->round->snap->nodes[v->facts[i]] : NULL, &params,
        &body);
    view_unref(v);
    set_json(resp, status, body);
}

static void serve_status(rm_serve_t *s, rm_http_response_t *resp)
{
    view_t *v = current_view(s);

    if (v->round == NULL) {
        view_unref(v);
        set_json(resp, 503,
                 json_pack("{s:s}", "error",
                           "no collection round has finished yet"));
        return;
    }
    resp->body = malloc(v->round->status_len + 1);
    if (resp->body == NULL) {
        view_unref(v);
        rm_http_set_text(resp, 500, "out of memory\n");
        return;
    }
    memcpy(resp->body, v->round->status_json, v->round->status_len + 1);
    resp->len = v->round->status_len;
    resp->status = 200;
    resp->content_type = "application/json";
    view_unref(v);
}

static const char index_text[] =
    "replmon serve\n"
    "\n"
    "  /metrics                  Prometheus metrics\n"
    "  /healthz                  200 while the process runs\n"
    "  /readyz                   200 once the first collection round is "
    "done\n"
    "  /node/ID                  200 when the node answers, else 503\n"
    "  /node/ID?max_lag=16MB     ... and 503 when it lags more\n"
    "  /node/ID?max_lag_seconds=30\n"
    "  /status                   the last round as `replmon status --format "
    "json`\n";

static int64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void route(const rm_http_request_t *req, rm_http_response_t *resp,
                  void *user)
{
    rm_serve_t *s = user;
    const char *path = req->path;
    int64_t start = mono_us();

    if (strcmp(path, "/metrics") == 0) {
        if (rm_serve_render_metrics(s, &resp->body, &resp->len) == 0) {
            resp->status = 200;
            resp->content_type = RM_METRICS_CONTENT_TYPE;
        } else {
            rm_http_set_text(resp, 500, "out of memory\n");
        }
    } else if (strcmp(path, "/healthz") == 0) {
        if (atomic_load(&s->draining))
            rm_http_set_text(resp, 503, "shutting down\n");
        else
            rm_http_set_text(resp, 200, "ok\n");
    } else if (strcmp(path, "/readyz") == 0) {
        view_t *v = current_view(s);

        if (atomic_load(&s->draining))
            rm_http_set_text(resp, 503, "shutting down\n");
        else if (v->round == NULL)
            rm_http_set_text(resp, 503,
                             "waiting for the first collection round\n");
        else
            rm_http_set_text(resp, 200, "ready\n");
        view_unref(v);
    } else if (strncmp(path, "/node/", 6) == 0 && path[6] != '\0') {
        serve_node(s, req, path + 6, resp);
    } else if (strcmp(path, "/status") == 0) {
        serve_status(s, resp);
    } else if (strcmp(path, "/") == 0) {
        rm_http_set_text(resp, 200, index_text);
    } else {
        rm_http_set_text(resp, 404,
                         "not found; try /metrics, /healthz, /readyz, "
                         "/node/ID or /status\n");
    }
    if (rm_log_enabled(PGCM_LOG_DEBUG))
        rm_log(PGCM_LOG_DEBUG, "http_request", NULL, rm_log_correlation_id(),
               json_pack("{s:s,s:o,s:i,s:I,s:f}", "method", req->method, "path",
                         rm_log_json_text(path), "status", resp->status,
                         "bytes", (json_int_t)resp->len, "duration_seconds",
                         (double)(mono_us() - start) / 1e6),
               "%s %s: %d", req->method, path, resp->status);
}

int rm_serve_listen(rm_serve_t *s, const char *host, int port, char *err,
                    size_t errlen)
{
    rm_http_t *h;

    if (rm_http_start(host, port, route, s, &h, err, errlen) != 0)
        return -1;
    pthread_mutex_lock(&s->mu);
    s->http = h;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int rm_serve_port(const rm_serve_t *s)
{
    return s->http != NULL ? rm_http_port(s->http) : 0;
}

void rm_serve_stop_listening(rm_serve_t *s)
{
    rm_http_t *h;

    pthread_mutex_lock(&s->mu);
    h = s->http;
    s->http = NULL;
    pthread_mutex_unlock(&s->mu);
    rm_http_stop(h);
}
