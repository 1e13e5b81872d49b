/* SPDX-License-Identifier: MIT */
/*
 * evaluate.c - the rules that decide a node's status. Each rule adds one
 * reason naming the node, the object and the threshold crossed; the node's
 * status is the worst of its reasons and the overall status the worst of the
 * nodes'. The rules are listed in docs/replmon.1 (STATUS RULES).
 */
#include "evaluate.h"

#include "conflicts.h"
#include "pglogical.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *rm_status_name(rm_status_t s)
{
    switch (s) {
    case RM_STATUS_OK:
        return "OK";
    case RM_STATUS_WARNING:
        return "WARNING";
    case RM_STATUS_CRITICAL:
        return "CRITICAL";
    case RM_STATUS_UNKNOWN:
        return "UNKNOWN";
    }
    return "UNKNOWN";
}

static int rank(rm_status_t s)
{
    switch (s) {
    case RM_STATUS_OK:
        return 0;
    case RM_STATUS_UNKNOWN:
        return 1;
    case RM_STATUS_WARNING:
        return 2;
    case RM_STATUS_CRITICAL:
        return 3;
    }
    return 1;
}

rm_status_t rm_status_worse(rm_status_t a, rm_status_t b)
{
    return rank(a) >= rank(b) ? a : b;
}

void rm_thresholds_default(rm_thresholds_t *t)
{
    memset(t, 0, sizeof(*t));
    t->lag_warning_ms = 10000;
    t->lag_critical_ms = 60000;
    t->lag_warning_bytes = (int64_t)1 << 20;
    t->lag_critical_bytes = (int64_t)16 << 20;
    t->slot_warning_bytes = (int64_t)1 << 30;
    t->slot_critical_bytes = (int64_t)5 << 30;
    t->conflict_rate_warning = 5;
    t->conflict_rate_critical = 20;
}

void rm_format_bytes(int64_t bytes, char *buf, size_t len)
{
    static const char *units[] = {"kB", "MB", "GB", "TB", "PB"};
    double v;
    int u = -1;

    if (bytes == RM_NONE) {
        snprintf(buf, len, "-");
        return;
    }
    if (bytes < 1024 && bytes > -1024) {
        snprintf(buf, len, "%" PRId64 " B", bytes);
        return;
    }
    v = (double)bytes;
    while ((v >= 1024.0 || v <= -1024.0) && u < 4) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, len, "%.1f %s", v, units[u]);
}

void rm_format_seconds(double s, char *buf, size_t len)
{
    long total;

    if (isnan(s)) {
        snprintf(buf, len, "-");
        return;
    }
    if (s < 60.0) {
        snprintf(buf, len, "%.1f s", s);
        return;
    }
    total = (long)s;
    if (total < 3600)
        snprintf(buf, len, "%ldm%02lds", total / 60, total % 60);
    else if (total < 86400)
        snprintf(buf, len, "%ldh%02ldm", total / 3600, (total % 3600) / 60);
    else
        snprintf(buf, len, "%ldd%02ldh", total / 86400, (total % 86400) / 3600);
}

/* ---------------------------------------------------------------------- */

typedef struct judge {
    rm_eval_t *e;
    size_t cap;
    size_t node;
    const char *node_id;
    int oom;
} judge_t;

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void
add(judge_t *j, rm_status_t s, const char *fmt, ...)
{
    rm_reason_t *r;
    va_list ap;

    if (j->e->nreasons == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 8;
        rm_reason_t *grown = realloc(j->e->reasons, cap * sizeof(*grown));

        if (grown == NULL) {
            j->oom = 1;
            return;
        }
        j->e->reasons = grown;
        j->cap = cap;
    }
    r = &j->e->reasons[j->e->nreasons++];
    snprintf(r->node, sizeof(r->node), "%s", j->node_id);
    r->status = s;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof(r->message), fmt, ap);
    va_end(ap);
    j->e->node_status[j->node] = rm_status_worse(j->e->node_status[j->node], s);
}

/* Compare a lag in seconds with the thresholds. */
static void judge_lag(judge_t *j, const rm_thresholds_t *t, double lag,
                      const char *what)
{
    char v[32], lim[32];
    double warn = (double)t->lag_warning_ms / 1000.0;
    double crit = (double)t->lag_critical_ms / 1000.0;

    if (isnan(lag))
        return;
    rm_format_seconds(lag, v, sizeof(v));
    if (crit > 0 && lag >= crit) {
        rm_format_seconds(crit, lim, sizeof(lim));
        add(j, RM_STATUS_CRITICAL, "%s lags %s (critical at %s)", what, v, lim);
    } else if (warn > 0 && lag >= warn) {
        rm_format_seconds(warn, lim, sizeof(lim));
        add(j, RM_STATUS_WARNING, "%s lags %s (warning at %s)", what, v, lim);
    }
}

/* Compare a lag in bytes with the thresholds. */
static void judge_lag_bytes(judge_t *j, const rm_thresholds_t *t, int64_t bytes,
                            const char *what)
{
    char v[32], lim[32];

    if (bytes == RM_NONE)
        return;
    rm_format_bytes(bytes, v, sizeof(v));
    if (t->lag_critical_bytes > 0 && bytes >= t->lag_critical_bytes) {
        rm_format_bytes(t->lag_critical_bytes, lim, sizeof(lim));
        add(j, RM_STATUS_CRITICAL, "%s is %s behind (critical at %s)", what, v,
            lim);
    } else if (t->lag_warning_bytes > 0 && bytes >= t->lag_warning_bytes) {
        rm_format_bytes(t->lag_warning_bytes, lim, sizeof(lim));
        add(j, RM_STATUS_WARNING, "%s is %s behind (warning at %s)", what, v,
            lim);
    }
}

static void judge_slot(judge_t *j, const rm_thresholds_t *t, const rm_slot_t *s)
{
    const char *name = s->name ? s->name : "?";
    char v[32], lim[32];

    if (s->retained_bytes != RM_NONE) {
        rm_format_bytes(s->retained_bytes, v, sizeof(v));
        if (t->slot_critical_bytes > 0 &&
            s->retained_bytes >= t->slot_critical_bytes) {
            rm_format_bytes(t->slot_critical_bytes, lim, sizeof(lim));
            add(j, RM_STATUS_CRITICAL,
                "slot %s retains %s of WAL (critical at %s)", name, v, lim);
        } else if (t->slot_warning_bytes > 0 &&
                   s->retained_bytes >= t->slot_warning_bytes) {
            rm_format_bytes(t->slot_warning_bytes, lim, sizeof(lim));
            add(j, RM_STATUS_WARNING,
                "slot %s retains %s of WAL (warning at %s)", name, v, lim);
        }
    }
    if (s->wal_status != NULL) {
        if (strcmp(s->wal_status, "lost") == 0)
            add(j, RM_STATUS_CRITICAL,
                "slot %s lost required WAL (wal_status lost): drop and "
                "recreate it",
                name);
        else if (strcmp(s->wal_status, "unreserved") == 0)
            add(j, RM_STATUS_CRITICAL,
                "slot %s will lose required WAL at the next checkpoint "
                "(wal_status unreserved)",
                name);
        else if (strcmp(s->wal_status, "extended") == 0)
            add(j, RM_STATUS_WARNING,
                "slot %s holds WAL beyond max_wal_size (wal_status extended)",
                name);
    }
    if (s->conflicting == 1)
        add(j, RM_STATUS_CRITICAL,
            "slot %s was invalidated by a recovery conflict", name);
    if (s->active == 0 && s->temporary != 1) {
        rm_format_bytes(s->retained_bytes, v, sizeof(v));
        add(j, RM_STATUS_WARNING, "slot %s is inactive and retains %s of WAL",
            name, v);
    }
}

/* The conflict_rate threshold on a rate measured between two rounds; the
 * counts since the statistics were reset only warn when no rate is known
 * (an error long ago says nothing about now once a rate says so). */
static void judge_conflicts(judge_t *j, const rm_thresholds_t *t,
                            const rm_subscription_t *s, const char *what)
{
    int64_t apply = s->apply_error_count == RM_NONE ? 0 : s->apply_error_count;
    int64_t sync = s->sync_error_count == RM_NONE ? 0 : s->sync_error_count;
    int64_t others = 0;
    double rate = s->conflict_rate_per_min;
    char counts[160];
    size_t i;

    for (i = 0; i < RM_CONFL_COUNT; i++) {
        if (s->confl[i] != RM_NONE && !rm_confl_raises_error((rm_confl_t)i))
            others += s->confl[i];
    }
    if (others > 0)
        snprintf(counts, sizeof(counts),
                 "%" PRId64 " apply and %" PRId64 " sync errors and %" PRId64
                 " conflicts without error",
                 apply, sync, others);
    else
        snprintf(counts, sizeof(counts),
                 "%" PRId64 " apply and %" PRId64 " sync errors", apply, sync);
    if (!isnan(rate)) {
        if (t->conflict_rate_critical > 0 && rate >= t->conflict_rate_critical)
            add(j, RM_STATUS_CRITICAL,
                "%s has %.1f conflicts and errors a minute (critical at %g; "
                "%s since its statistics were reset)",
                what, rate, t->conflict_rate_critical, counts);
        else if (t->conflict_rate_warning > 0 &&
                 rate >= t->conflict_rate_warning)
            add(j, RM_STATUS_WARNING,
                "%s has %.1f conflicts and errors a minute (warning at %g; "
                "%s since its statistics were reset)",
                what, rate, t->conflict_rate_warning, counts);
        else if (apply + sync + others > 0)
            add(j, RM_STATUS_OK,
                "%s: %.1f conflicts and errors a minute now; %s since its "
                "statistics were reset",
                what, rate, counts);
        return;
    }
    if (apply + sync + others > 0)
        add(j, RM_STATUS_WARNING, "%s has %s since its statistics were reset",
            what, counts);
}

static void judge_subscription(judge_t *j, const rm_thresholds_t *t,
                               const rm_subscription_t *s)
{
    const char *name = s->name ? s->name : "?";
    const char *state = rm_subscription_state(s);
    char what[128];

    snprintf(what, sizeof(what), "%ssubscription %s",
             s->kind == RM_SUB_PGLOGICAL ? "pglogical " : "", name);
    if (strcmp(state, "disabled") == 0) {
        add(j, RM_STATUS_WARNING, "%s is disabled", what);
        return;
    }
    if (strcmp(state, "down") == 0)
        add(j, RM_STATUS_CRITICAL,
            "%s is enabled but its apply worker is not running", what);
    else if (strcmp(state, "unknown") == 0)
        add(j, RM_STATUS_WARNING, "%s: pglogical reports its status as %s",
            what, s->pglogical_status ? s->pglogical_status : "unknown");
    judge_lag(j, t, s->lag_seconds, what);
    judge_lag_bytes(j, t, s->lag_bytes, what);
    judge_conflicts(j, t, s, what);
    if (s->publisher[0] == '\0' && s->link_note[0] != '\0')
        add(j, RM_STATUS_OK, "%s: cross-node lag unknown (%s)", what,
            s->link_note);
}

static void judge_standby(judge_t *j, const rm_thresholds_t *t,
                          const rm_standby_t *s)
{
    const char *name = s->application_name ? s->application_name : "?";
    const char *method;
    char what[128];

    if (s->state != NULL && strcmp(s->state, "streaming") != 0)
        add(j, RM_STATUS_WARNING, "standby %s is in state %s", name, s->state);
    snprintf(what, sizeof(what), "standby %s", name);
    judge_lag(j, t,
              rm_downstream_lag(s->replay_lag_seconds, s->reply_age_seconds,
                                s->unacked_bytes, s->replay_bytes, &method),
              what);
    judge_lag_bytes(j, t, s->replay_bytes, what);
}

static void judge_receiver(judge_t *j, const rm_thresholds_t *t,
                           const rm_node_t *n)
{
    const rm_receiver_t *r = &n->receiver;

    if (!r->present)
        return;
    if (n->can_read_stats &&
        (r->status == NULL || strcmp(r->status, "streaming") != 0))
        add(j, RM_STATUS_WARNING,
            "WAL receiver is %s: the standby is not streaming from its "
            "primary",
            r->status ? r->status : "not running");
    if (r->paused == 1)
        add(j, RM_STATUS_WARNING, "WAL replay is paused");
    judge_lag(j, t, r->replay_delay_seconds, "replay on this standby");
    /* What the upstream has that this standby has not replayed. */
    if (r->lag_bytes != RM_NONE && r->replay_backlog_bytes != RM_NONE)
        judge_lag_bytes(j, t, r->lag_bytes + r->replay_backlog_bytes,
                        "replay on this standby");
    else
        judge_lag_bytes(j, t, r->replay_backlog_bytes,
                        "replay on this standby");
}

static void judge_node(judge_t *j, const rm_thresholds_t *t, const rm_node_t *n)
{
    size_t i;

    if (!n->reachable) {
        add(j, RM_STATUS_CRITICAL, "unreachable: %s", n->error);
        return;
    }
    if (!n->have_facts) {
        if (n->server_version > 0 && n->server_version < RM_SQL_MIN_VERSION)
            add(j, RM_STATUS_UNKNOWN,
                "PostgreSQL %d.%d is not supported: replmon needs 10 or "
                "newer (%s)",
                n->server_version / 10000, (n->server_version / 100) % 100,
                n->error);
        else if (n->sections[RM_SQL_FACTS].grant[0] != '\0')
            add(j, RM_STATUS_UNKNOWN,
                "cannot read the node's role: no permission: %s; %s", n->error,
                n->sections[RM_SQL_FACTS].grant);
        else
            add(j, RM_STATUS_UNKNOWN, "cannot read the node's role: %s%s",
                n->sections[RM_SQL_FACTS].state == RM_SECTION_NO_PERMISSION
                    ? "no permission: "
                    : "",
                n->error);
        return;
    }
    if (n->have_health) {
        if (n->health.state == PGCM_NODE_DEGRADED)
            add(j, RM_STATUS_WARNING, "degraded: %s",
                n->health.last_error[0] ? n->health.last_error
                                        : "slow health checks");
        else if (n->health.state == PGCM_NODE_UNHEALTHY ||
                 n->health.state == PGCM_NODE_RECONNECTING)
            add(j, RM_STATUS_WARNING, "health checks failing: %s",
                n->health.last_error[0] ? n->health.last_error : "no detail");
    }
    /* A section that cannot be read could hide a finding: UNKNOWN, with
     * what failed and what fixes it (skip_sections says it is not
     * wanted). */
    for (i = RM_SQL_SLOTS; i < RM_SQL_SECTION_COUNT; i++) {
        const rm_section_t *sec = &n->sections[i];
        const char *name = rm_sql_section_name((rm_sql_section_t)i);

        if (sec->state != RM_SECTION_ERROR &&
            sec->state != RM_SECTION_NO_PERMISSION)
            continue;
        if (sec->grant[0] != '\0')
            add(j, RM_STATUS_UNKNOWN,
                "%s: cannot read %s: the role %s lacks %s; %s (or add %s to "
                "skip_sections)",
                name, sec->view, n->user[0] ? n->user : "replmon uses",
                sec->privilege, sec->grant, name);
        else
            add(j, RM_STATUS_UNKNOWN, "%s: %s%s", name,
                sec->state == RM_SECTION_NO_PERMISSION ? "no permission: " : "",
                sec->error);
    }
    if (rm_pglogical_missing(n))
        add(j, RM_STATUS_OK,
            "pglogical: the extension is not installed in database %s "
            "(the configuration says pglogical: true)",
            n->database[0] ? n->database : "?");
    for (i = 0; i < n->nslots; i++)
        judge_slot(j, t, &n->slots[i]);
    for (i = 0; i < n->nsubs; i++)
        judge_subscription(j, t, &n->subs[i]);
    for (i = 0; i < n->nstandbys; i++)
        judge_standby(j, t, &n->standbys[i]);
    if (n->sections[RM_SQL_RECEIVER].state == RM_SECTION_OK ||
        n->sections[RM_SQL_RECEIVER].state == RM_SECTION_NO_PERMISSION)
        judge_receiver(j, t, n);
}

int rm_evaluate(const rm_snapshot_t *snap, const rm_thresholds_t *t,
                rm_eval_t *out)
{
    judge_t j;
    size_t i;

    memset(out, 0, sizeof(*out));
    memset(&j, 0, sizeof(j));
    j.e = out;
    out->count = snap->count;
    out->node_status =
        calloc(snap->count ? snap->count : 1, sizeof(*out->node_status));
    if (out->node_status == NULL)
        return -1;
    out->status = RM_STATUS_OK;
    if (snap->count == 0) {
        out->status = RM_STATUS_UNKNOWN;
        return 0;
    }
    for (i = 0; i < snap->count; i++) {
        j.node = i;
        j.node_id = snap->nodes[i].id;
        out->node_status[i] = RM_STATUS_OK;
        judge_node(&j, t, &snap->nodes[i]);
        out->status = rm_status_worse(out->status, out->node_status[i]);
    }
    if (j.oom) {
        rm_eval_free(out);
        return -1;
    }
    return 0;
}

void rm_eval_free(rm_eval_t *e)
{
    if (e == NULL)
        return;
    free(e->node_status);
    free(e->reasons);
    memset(e, 0, sizeof(*e));
}
