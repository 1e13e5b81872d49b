/* SPDX-License-Identifier: MIT */
/*
 * collector.c - per-node collection rounds on libpgcm's async calls (see
 * collector.h). Each node has a small state machine: facts, then each
 * section rm_node_plan() asks for, then rm_node_end(); the finished round
 * goes into the node's mailbox, which the UI thread empties into the
 * snapshot it shows.
 */
#include "tui/collector.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct rm_collector rm_collector_t;

typedef struct cnode {
    rm_collector_t *c;
    char id[64];
    char host[256];
    int port;
    /* The round in flight: touched only by whoever runs its step (the UI
     * thread before the first submit, the loop thread after). */
    rm_node_t work;
    int step; /* -1: facts; else index into rm_collect_order */
    int64_t started_ms, started_us;
    /* Under c->mu. */
    int in_flight;
    int removed;
    uint64_t request_id;
    int have_mail;
    rm_node_t mail;
    int64_t mail_started_ms, mail_us;
    /* UI thread only. */
    int64_t last_start_us; /* monotonic, 0: never */
    int run_now;
} cnode_t;

struct rm_collector {
    pgcm_manager_t *mgr;
    pgcm_query_options_t qopts;
    int wake_fd;
    int pglogical; /* RM_PGLOGICAL_* for the rounds (UI thread) */
    pthread_mutex_t mu;
    int stopping;
    cnode_t **nodes; /* display order; snap.nodes[i] is nodes[i]'s */
    size_t count;
    cnode_t **grave; /* removed while a round was in flight */
    size_t ngrave;
    /* UI thread only. */
    rm_snapshot_t snap;
    rm_node_meta_t *meta;
    int *changed;
};

rm_collector_t *rm_collector_new(pgcm_manager_t *mgr, int query_timeout_ms,
                                 int pglogical, int wake_fd)
{
    rm_collector_t *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->mgr = mgr;
    c->qopts.timeout_ms = query_timeout_ms > 0 ? query_timeout_ms : 5000;
    c->wake_fd = wake_fd;
    c->pglogical = pglogical;
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void rm_collector_set_pglogical(rm_collector_t *c, int pglogical)
{
    c->pglogical = pglogical;
}

static void wake(rm_collector_t *c)
{
    char b = 'c';
    ssize_t w;

    if (c->wake_fd < 0)
        return;
    do {
        w = write(c->wake_fd, &b, 1);
    } while (w < 0 && errno == EINTR);
    /* EAGAIN: the pipe is full, the UI thread will wake anyway. */
}

/* ---------------------------------------------------------------------- */
/* Rounds                                                                 */
/* ---------------------------------------------------------------------- */

static void on_result(pgcm_result_t *r, void *user);

static void finish(cnode_t *n)
{
    rm_collector_t *c = n->c;

    rm_node_end(c->mgr, &n->work);
    pthread_mutex_lock(&c->mu);
    if (n->have_mail)
        rm_node_clear(&n->mail);
    n->mail = n->work;
    memset(&n->work, 0, sizeof(n->work));
    n->have_mail = 1;
    n->mail_started_ms = n->started_ms;
    n->mail_us = rm_clock_mono_us() - n->started_us;
    n->in_flight = 0;
    n->request_id = 0;
    pthread_mutex_unlock(&c->mu);
    wake(c);
}

/* Submit the next statement the node needs, or finish the round. */
static void advance(cnode_t *n)
{
    rm_collector_t *c = n->c;

    for (;;) {
        rm_sql_section_t sec;
        const char *sql;
        pgcm_error_t err;
        uint64_t id = 0;
        int stopping, rc;

        n->step++;
        pthread_mutex_lock(&c->mu);
        stopping = c->stopping;
        pthread_mutex_unlock(&c->mu);
        if (n->step >= RM_COLLECT_STEPS || stopping) {
            finish(n);
            return;
        }
        sec = rm_collect_order[n->step];
        sql = rm_node_plan(&n->work, sec);
        if (sql == NULL)
            continue;
        memset(&err, 0, sizeof(err));
        rc = pgcm_query_async(c->mgr, n->id, sql, 0, NULL, &c->qopts, on_result,
                              n, &id, &err);
        if (rc == PGCM_OK) {
            /* The answer may already have come back (and the round moved
             * on); a stale id only makes a cancel at stop miss. */
            pthread_mutex_lock(&c->mu);
            if (n->in_flight && n->request_id == 0)
                n->request_id = id;
            pthread_mutex_unlock(&c->mu);
            return;
        }
        rm_node_fail(&n->work, sec,
                     err.message[0] ? err.message : pgcm_strerror(rc));
    }
}

static void on_result(pgcm_result_t *r, void *user)
{
    cnode_t *n = user;
    rm_sql_section_t sec =
        n->step < 0 ? RM_SQL_FACTS : rm_collect_order[n->step];

    pthread_mutex_lock(&n->c->mu);
    n->request_id = 0;
    pthread_mutex_unlock(&n->c->mu);
    if (rm_node_take(&n->work, sec, r) != 0)
        rm_node_fail(&n->work, sec, "out of memory while reading the answer");
    pgcm_result_free(r);
    advance(n);
}

/* Start a round on n (UI thread; n->in_flight is already set). */
static void begin(cnode_t *n)
{
    rm_collector_t *c = n->c;
    rm_target_node_t t = {n->id, n->host[0] ? n->host : NULL, n->port};
    pgcm_error_t err;
    uint64_t id = 0;
    int rc;

    rm_node_begin(&n->work, &t);
    n->work.pglogical_mode = c->pglogical;
    n->step = -1;
    n->started_ms = rm_clock_epoch_ms();
    n->started_us = rm_clock_mono_us();
    n->last_start_us = n->started_us;
    memset(&err, 0, sizeof(err));
    rc = pgcm_query_async(c->mgr, n->id, rm_sql_facts(), 0, NULL, &c->qopts,
                          on_result, n, &id, &err);
    if (rc != PGCM_OK) {
        rm_node_fail(&n->work, RM_SQL_FACTS,
                     err.message[0] ? err.message : pgcm_strerror(rc));
        advance(n);
        return;
    }
    pthread_mutex_lock(&c->mu);
    if (n->in_flight && n->request_id == 0)
        n->request_id = id;
    pthread_mutex_unlock(&c->mu);
}

int64_t rm_collector_tick(rm_collector_t *c, int64_t interval_ms)
{
    int64_t now = rm_clock_mono_us(), next = interval_ms * 1000;
    cnode_t **start;
    size_t i, ns = 0;

    start = calloc(c->count ? c->count : 1, sizeof(*start));
    if (start == NULL)
        return interval_ms;
    pthread_mutex_lock(&c->mu);
    for (i = 0; i < c->count && !c->stopping; i++) {
        cnode_t *n = c->nodes[i];
        int64_t due = n->last_start_us + interval_ms * 1000;

        if (n->in_flight)
            continue;
        if (n->last_start_us == 0 || n->run_now || now >= due) {
            n->in_flight = 1;
            n->run_now = 0;
            start[ns++] = n;
        } else if (due - now < next) {
            next = due - now;
        }
    }
    pthread_mutex_unlock(&c->mu);
    for (i = 0; i < ns; i++)
        begin(start[i]);
    free(start);
    return (next + 999) / 1000;
}

void rm_collector_run_now(rm_collector_t *c, const char *id)
{
    size_t i;

    for (i = 0; i < c->count; i++) {
        if (strcmp(c->nodes[i]->id, id) == 0)
            c->nodes[i]->run_now = 1;
    }
}

/* ---------------------------------------------------------------------- */
/* Targets                                                                */
/* ---------------------------------------------------------------------- */

static void cnode_free(cnode_t *n)
{
    rm_node_clear(&n->work);
    rm_node_clear(&n->mail);
    free(n);
}

/* Index of the old node with this id, or c->count. */
static size_t old_index(const rm_collector_t *c, const char *id)
{
    size_t j;

    for (j = 0; j < c->count; j++) {
        if (strcmp(c->nodes[j]->id, id) == 0)
            return j;
    }
    return c->count;
}

int rm_collector_set_targets(rm_collector_t *c, const rm_target_node_t *t,
                             size_t n)
{
    cnode_t **nodes = calloc(n ? n : 1, sizeof(*nodes));
    rm_node_t *recs = calloc(n ? n : 1, sizeof(*recs));
    rm_node_meta_t *meta = calloc(n ? n : 1, sizeof(*meta));
    int *changed = calloc(n ? n : 1, sizeof(*changed));
    int *kept = calloc(c->count ? c->count : 1, sizeof(*kept));
    cnode_t **grave = calloc(c->ngrave + c->count + 1, sizeof(*grave));
    size_t i, j, ng = 0;

    if (nodes == NULL || recs == NULL || meta == NULL || changed == NULL ||
        kept == NULL || grave == NULL)
        goto oom;
    /* First every allocation, so that a failure changes nothing. */
    for (i = 0; i < n; i++) {
        if (old_index(c, t[i].id) < c->count)
            continue;
        nodes[i] = calloc(1, sizeof(**nodes));
        if (nodes[i] == NULL)
            goto oom;
        nodes[i]->c = c;
        snprintf(nodes[i]->id, sizeof(nodes[i]->id), "%s", t[i].id);
        snprintf(recs[i].id, sizeof(recs[i].id), "%s", t[i].id);
        recs[i].receiver.lag_bytes = RM_NONE;
        snprintf(recs[i].error, sizeof(recs[i].error), "not collected yet");
    }
    pthread_mutex_lock(&c->mu);
    for (i = 0; i < n; i++) {
        j = old_index(c, t[i].id);
        if (j < c->count) {
            /* Kept: its data and its round go on. */
            nodes[i] = c->nodes[j];
            recs[i] = c->snap.nodes[j];
            meta[i] = c->meta[j];
            kept[j] = 1;
        }
        snprintf(nodes[i]->host, sizeof(nodes[i]->host), "%s",
                 t[i].host != NULL ? t[i].host : "");
        nodes[i]->port = t[i].port;
        snprintf(recs[i].host, sizeof(recs[i].host), "%s", nodes[i]->host);
        recs[i].port = t[i].port;
    }
    for (j = 0; j < c->ngrave; j++)
        grave[ng++] = c->grave[j];
    for (j = 0; j < c->count; j++) {
        cnode_t *old = c->nodes[j];

        if (kept[j])
            continue;
        rm_node_clear(&c->snap.nodes[j]);
        if (old->in_flight) {
            old->removed = 1;
            grave[ng++] = old;
        } else {
            cnode_free(old);
        }
    }
    free(c->grave);
    c->grave = grave;
    c->ngrave = ng;
    free(c->nodes);
    c->nodes = nodes;
    c->count = n;
    pthread_mutex_unlock(&c->mu);
    free(c->snap.nodes);
    c->snap.nodes = recs;
    c->snap.count = n;
    free(c->meta);
    c->meta = meta;
    free(c->changed);
    c->changed = changed;
    free(kept);
    return 0;

oom:
    for (i = 0; nodes != NULL && i < n; i++)
        free(nodes[i]);
    free(nodes);
    free(recs);
    free(meta);
    free(changed);
    free(kept);
    free(grave);
    return -1;
}

/* ---------------------------------------------------------------------- */
/* Taking finished rounds                                                 */
/* ---------------------------------------------------------------------- */

static void take(rm_collector_t *c, size_t i, rm_node_t *mail,
                 int64_t started_ms, int64_t us)
{
    rm_node_t *cur = &c->snap.nodes[i];
    rm_node_meta_t *m = &c->meta[i];

    m->attempt_ms = started_ms;
    m->round_us = us;
    c->changed[i] = 1;
    if (!mail->reachable && m->ok_ms > 0) {
        /* Keep the last good data, now stale, and say why. */
        cur->reachable = 0;
        cur->elapsed_us = mail->elapsed_us;
        snprintf(cur->error, sizeof(cur->error), "%s", mail->error);
        snprintf(m->error, sizeof(m->error), "%s", mail->error);
        rm_node_clear(mail);
        return;
    }
    rm_node_clear(cur);
    *cur = *mail;
    memset(mail, 0, sizeof(*mail));
    if (cur->have_facts) {
        m->ok_ms = started_ms;
        m->error[0] = '\0';
    } else {
        snprintf(m->error, sizeof(m->error), "%s", cur->error);
    }
}

size_t rm_collector_update(rm_collector_t *c)
{
    size_t i, changed = 0, j;

    memset(c->changed, 0, (c->count ? c->count : 1) * sizeof(*c->changed));
    pthread_mutex_lock(&c->mu);
    for (i = 0; i < c->count; i++) {
        cnode_t *n = c->nodes[i];

        if (n->have_mail) {
            take(c, i, &n->mail, n->mail_started_ms, n->mail_us);
            n->have_mail = 0;
            changed++;
        }
        c->meta[i].in_flight = n->in_flight;
        if (n->in_flight)
            c->meta[i].in_flight_since_ms = n->started_ms;
    }
    /* Removed nodes whose last round has ended. */
    for (i = 0, j = 0; i < c->ngrave; i++) {
        if (c->grave[i]->in_flight)
            c->grave[j++] = c->grave[i];
        else
            cnode_free(c->grave[i]);
    }
    c->ngrave = j;
    pthread_mutex_unlock(&c->mu);
    for (i = 0; i < c->count; i++) {
        rm_node_t *nd = &c->snap.nodes[i];

        nd->have_health =
            pgcm_node_health(c->mgr, nd->id, &nd->health) == PGCM_OK;
        nd->have_stats = pgcm_node_stats(c->mgr, nd->id, &nd->stats) == PGCM_OK;
        if (nd->have_health && nd->server_version == 0)
            nd->server_version = nd->health.server_version;
        /* A round refused because the node is down says only that; the
         * health record knows why it is down. */
        if (!nd->reachable && nd->have_health &&
            (nd->health.state == PGCM_NODE_UNHEALTHY ||
             nd->health.state == PGCM_NODE_RECONNECTING) &&
            nd->health.last_error[0] != '\0') {
            snprintf(nd->error, sizeof(nd->error), "%s", nd->health.last_error);
            snprintf(c->meta[i].error, sizeof(c->meta[i].error), "%s",
                     nd->health.last_error);
        }
    }
    rm_snapshot_link(&c->snap);
    return changed;
}

rm_snapshot_t *rm_collector_snapshot(rm_collector_t *c)
{
    return &c->snap;
}

const rm_node_meta_t *rm_collector_meta(const rm_collector_t *c)
{
    return c->meta;
}

const int *rm_collector_changed(const rm_collector_t *c)
{
    return c->changed;
}

void rm_collector_stop(rm_collector_t *c)
{
    uint64_t *ids;
    size_t i, n = 0;

    ids = calloc(c->count + c->ngrave + 1, sizeof(*ids));
    pthread_mutex_lock(&c->mu);
    c->stopping = 1;
    for (i = 0; ids != NULL && i < c->count; i++) {
        if (c->nodes[i]->in_flight && c->nodes[i]->request_id != 0)
            ids[n++] = c->nodes[i]->request_id;
    }
    for (i = 0; ids != NULL && i < c->ngrave; i++) {
        if (c->grave[i]->request_id != 0)
            ids[n++] = c->grave[i]->request_id;
    }
    pthread_mutex_unlock(&c->mu);
    for (i = 0; i < n; i++)
        pgcm_cancel(c->mgr, ids[i]);
    free(ids);
}

void rm_collector_free(rm_collector_t *c)
{
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < c->count; i++) {
        cnode_free(c->nodes[i]);
        rm_node_clear(&c->snap.nodes[i]);
    }
    for (i = 0; i < c->ngrave; i++)
        cnode_free(c->grave[i]);
    free(c->nodes);
    free(c->grave);
    free(c->snap.nodes);
    free(c->meta);
    free(c->changed);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
