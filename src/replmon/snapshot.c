/* SPDX-License-Identifier: MIT */
/*
 * snapshot.c - the snapshot model: LSN arithmetic, names of section and
 * subscription states, node roles, copying and freeing, and the cross-node
 * links (publisher of each subscription, upstream of each standby) with
 * their lag computed from 64-bit LSNs. Pure: no I/O, no library calls.
 */
#include "snapshot.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pglogical.h"

/* ---------------------------------------------------------------------- */
/* LSN arithmetic                                                         */
/* ---------------------------------------------------------------------- */

static int parse_hex32(const char *s, const char **end, uint32_t *out)
{
    uint64_t v = 0;
    int digits = 0;

    for (; *s != '\0'; s++, digits++) {
        int d;

        if (*s >= '0' && *s <= '9')
            d = *s - '0';
        else if (*s >= 'a' && *s <= 'f')
            d = *s - 'a' + 10;
        else if (*s >= 'A' && *s <= 'F')
            d = *s - 'A' + 10;
        else
            break;
        if (digits >= 8)
            return -1;
        v = (v << 4) | (uint64_t)d;
    }
    if (digits == 0)
        return -1;
    *end = s;
    *out = (uint32_t)v;
    return 0;
}

int rm_lsn_parse(const char *text, uint64_t *out)
{
    uint32_t hi, lo;
    const char *p;

    if (text == NULL || parse_hex32(text, &p, &hi) != 0 || *p != '/')
        return -1;
    if (parse_hex32(p + 1, &p, &lo) != 0 || *p != '\0')
        return -1;
    *out = ((uint64_t)hi << 32) | lo;
    return 0;
}

void rm_lsn_format(uint64_t lsn, char *buf, size_t len)
{
    snprintf(buf, len, "%" PRIX32 "/%" PRIX32, (uint32_t)(lsn >> 32),
             (uint32_t)lsn);
}

int64_t rm_lsn_diff(uint64_t a, uint64_t b)
{
    if (a >= b)
        return a - b > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)(a - b);
    return b - a > (uint64_t)INT64_MAX ? -INT64_MAX : -(int64_t)(b - a);
}

/* ---------------------------------------------------------------------- */
/* Small helpers                                                          */
/* ---------------------------------------------------------------------- */

const char *rm_section_state_name(rm_section_state_t s)
{
    switch (s) {
    case RM_SECTION_SKIPPED:
        return "skipped";
    case RM_SECTION_OK:
        return "ok";
    case RM_SECTION_NO_PERMISSION:
        return "no_permission";
    case RM_SECTION_ERROR:
        return "error";
    case RM_SECTION_NOT_WANTED:
        return "not_wanted";
    }
    return "unknown";
}

/* role as an SQL identifier: bare when it is lower-case letters, digits,
 * _ and $ (not first), else in double quotes with " doubled;
 * "<monitoring role>" when unknown (NULL or ""). */
static void quote_role(const char *role, char *buf, size_t len)
{
    size_t i, o = 0;
    int bare;

    if (role == NULL || role[0] == '\0') {
        snprintf(buf, len, "<monitoring role>");
        return;
    }
    bare = !(role[0] >= '0' && role[0] <= '9');

    for (i = 0; role[i] != '\0'; i++) {
        char c = role[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              (c == '$' && i > 0)))
            bare = 0;
    }
    if (bare) {
        snprintf(buf, len, "%s", role);
        return;
    }
    if (len < 3) {
        buf[0] = '\0';
        return;
    }
    buf[o++] = '"';
    for (i = 0; role[i] != '\0' && o + 3 < len; i++) {
        if (role[i] == '"')
            buf[o++] = '"';
        buf[o++] = role[i];
    }
    buf[o++] = '"';
    buf[o] = '\0';
}

void rm_section_explain(rm_section_t *sec, const char *role)
{
    static const struct {
        const char *what;  /* after "permission denied for " */
        const char *priv;  /* privilege, then " on " the object */
        const char *grant; /* GRANT <grant> <object> TO role */
    } kinds[] = {{"table ", "SELECT", "SELECT ON"},
                 {"relation ", "SELECT", "SELECT ON"}, /* 10 */
                 {"view ", "SELECT", "SELECT ON"},
                 {"function ", "EXECUTE", "EXECUTE ON FUNCTION"},
                 {"schema ", "USAGE", "USAGE ON SCHEMA"}};
    const char *p = strstr(sec->error, "permission denied for ");
    char who[128], name[64];
    size_t i, n;

    sec->view[0] = sec->privilege[0] = sec->grant[0] = '\0';
    if (p == NULL)
        return;
    p += strlen("permission denied for ");
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strncmp(p, kinds[i].what, strlen(kinds[i].what)) != 0)
            continue;
        p += strlen(kinds[i].what);
        for (n = 0; p[n] != '\0' && p[n] != ' ' && p[n] != '\n' &&
                    n + 1 < sizeof(name);
             n++)
            name[n] = p[n];
        name[n] = '\0';
        if (n == 0)
            return;
        quote_role(role, who, sizeof(who));
        snprintf(sec->view, sizeof(sec->view), "%s", name);
        snprintf(sec->privilege, sizeof(sec->privilege), "%s on %s",
                 kinds[i].priv, name);
        snprintf(sec->grant, sizeof(sec->grant), "GRANT %s %s TO %s",
                 kinds[i].grant, name, who);
        return;
    }
}

void rm_section_needs(rm_section_t *sec, const char *view,
                      const char *privilege, const char *role)
{
    char who[128];

    quote_role(role, who, sizeof(who));
    sec->state = RM_SECTION_NO_PERMISSION;
    snprintf(sec->view, sizeof(sec->view), "%s", view);
    snprintf(sec->privilege, sizeof(sec->privilege), "%s", privilege);
    snprintf(sec->grant, sizeof(sec->grant), "GRANT pg_monitor TO %s", who);
    snprintf(sec->error, sizeof(sec->error),
             "%s shows other sessions' details only to members of %s", view,
             privilege);
}

const char *rm_sub_kind_name(rm_sub_kind_t kind)
{
    return kind == RM_SUB_PGLOGICAL ? "pglogical" : "native";
}

const char *rm_subscription_state(const rm_subscription_t *s)
{
    if (s->kind == RM_SUB_PGLOGICAL)
        return rm_pglogical_state(s->pglogical_status);
    if (s->enabled == 0)
        return "disabled";
    if (s->worker_pid == RM_NONE)
        return "down";
    if (s->tables_total != RM_NONE && s->tables_ready != RM_NONE &&
        s->tables_ready < s->tables_total)
        return "syncing";
    return "streaming";
}

int rm_node_roles(const rm_node_t *n)
{
    int roles = 0;

    if (!n->reachable || !n->have_facts)
        return 0;
    roles |= n->in_recovery ? RM_ROLE_STANDBY : RM_ROLE_PRIMARY;
    if ((n->publications > 0 || n->logical_slots > 0) && !n->in_recovery)
        roles |= RM_ROLE_PUBLISHER;
    /* Native subscriptions are counted by the facts, pglogical's are the
     * section's rows. */
    if (n->subscription_count > 0 ||
        (n->nsubs > 0 && n->subs[n->nsubs - 1].kind == RM_SUB_PGLOGICAL))
        roles |= RM_ROLE_SUBSCRIBER;
    return roles;
}

const char *rm_role_name(int role)
{
    /* The flags are the bits from RM_ROLE_PRIMARY up, in this order. */
    static const char *const names[] = {"primary", "standby", "publisher",
                                        "subscriber"};
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (role == RM_ROLE_PRIMARY << i)
            return names[i];
    }
    return NULL;
}

void rm_roles_format(int roles, char *buf, size_t len)
{
    size_t used = 0;
    int role;

    if (len == 0)
        return;
    buf[0] = '\0';
    for (role = RM_ROLE_PRIMARY; role <= RM_ROLE_LAST; role <<= 1) {
        if (roles & role) {
            int w = snprintf(buf + used, len - used, "%s%s", used ? "," : "",
                             rm_role_name(role));
            if (w < 0 || (size_t)w >= len - used)
                return;
            used += (size_t)w;
        }
    }
    if (used == 0)
        snprintf(buf, len, "unknown");
}

static void free_slot(rm_slot_t *s)
{
    free(s->name);
    free(s->type);
    free(s->plugin);
    free(s->database);
    free(s->wal_status);
    free(s->invalidation_reason);
    free(s->sender_application_name);
    free(s->sender_state);
}

static void free_sub(rm_subscription_t *s)
{
    free(s->name);
    free(s->slot_name);
    free(s->publications);
    free(s->provider_node);
    free(s->pglogical_status);
}

static void free_standby(rm_standby_t *s)
{
    free(s->application_name);
    free(s->client_addr);
    free(s->state);
    free(s->sync_state);
}

void rm_receiver_clear(rm_receiver_t *r)
{
    free(r->status);
    free(r->slot_name);
    free(r->sender_host);
    memset(r, 0, sizeof(*r));
}

void rm_node_clear(rm_node_t *n)
{
    size_t i;

    for (i = 0; i < n->nslots; i++)
        free_slot(&n->slots[i]);
    free(n->slots);
    n->slots = NULL;
    n->nslots = 0;
    for (i = 0; i < n->nsubs; i++)
        free_sub(&n->subs[i]);
    free(n->subs);
    n->subs = NULL;
    n->nsubs = 0;
    for (i = 0; i < n->nstandbys; i++)
        free_standby(&n->standbys[i]);
    free(n->standbys);
    n->standbys = NULL;
    n->nstandbys = 0;
    rm_receiver_clear(&n->receiver);
}

rm_node_t *rm_snapshot_node(const rm_snapshot_t *snap, const char *id)
{
    size_t i;

    for (i = 0; i < snap->count; i++)
        if (strcmp(snap->nodes[i].id, id) == 0)
            return &snap->nodes[i];
    return NULL;
}

void rm_snapshot_free(rm_snapshot_t *snap)
{
    size_t i;

    if (snap == NULL)
        return;
    for (i = 0; i < snap->count; i++)
        rm_node_clear(&snap->nodes[i]);
    free(snap->nodes);
    free(snap);
}

/* A copy of string *s into *s (NULL stays NULL); *ok cleared when out of
 * memory. */
static void dup_field(char **s, int *ok)
{
    if (*s == NULL)
        return;
    *s = strdup(*s);
    if (*s == NULL)
        *ok = 0;
}

static int copy_node(rm_node_t *dst, const rm_node_t *src)
{
    size_t i;
    int ok = 1;

    *dst = *src;
    dst->slots = NULL;
    dst->subs = NULL;
    dst->standbys = NULL;
    dst->nslots = dst->nsubs = dst->nstandbys = 0;
    memset(&dst->receiver, 0, sizeof(dst->receiver));
    if (src->nslots > 0) {
        dst->slots = calloc(src->nslots, sizeof(*dst->slots));
        if (dst->slots == NULL)
            return -1;
        for (i = 0; i < src->nslots; i++) {
            rm_slot_t *s = &dst->slots[i];

            *s = src->slots[i];
            dup_field(&s->name, &ok);
            dup_field(&s->type, &ok);
            dup_field(&s->plugin, &ok);
            dup_field(&s->database, &ok);
            dup_field(&s->wal_status, &ok);
            dup_field(&s->invalidation_reason, &ok);
            dup_field(&s->sender_application_name, &ok);
            dup_field(&s->sender_state, &ok);
            dst->nslots++;
        }
    }
    if (src->nsubs > 0) {
        dst->subs = calloc(src->nsubs, sizeof(*dst->subs));
        if (dst->subs == NULL)
            return -1;
        for (i = 0; i < src->nsubs; i++) {
            rm_subscription_t *s = &dst->subs[i];

            *s = src->subs[i];
            dup_field(&s->name, &ok);
            dup_field(&s->slot_name, &ok);
            dup_field(&s->publications, &ok);
            dup_field(&s->provider_node, &ok);
            dup_field(&s->pglogical_status, &ok);
            dst->nsubs++;
        }
    }
    if (src->nstandbys > 0) {
        dst->standbys = calloc(src->nstandbys, sizeof(*dst->standbys));
        if (dst->standbys == NULL)
            return -1;
        for (i = 0; i < src->nstandbys; i++) {
            rm_standby_t *s = &dst->standbys[i];

            *s = src->standbys[i];
            dup_field(&s->application_name, &ok);
            dup_field(&s->client_addr, &ok);
            dup_field(&s->state, &ok);
            dup_field(&s->sync_state, &ok);
            dst->nstandbys++;
        }
    }
    dst->receiver = src->receiver;
    dup_field(&dst->receiver.status, &ok);
    dup_field(&dst->receiver.slot_name, &ok);
    dup_field(&dst->receiver.sender_host, &ok);
    return ok ? 0 : -1;
}

rm_snapshot_t *rm_snapshot_copy(const rm_snapshot_t *snap)
{
    rm_snapshot_t *copy = calloc(1, sizeof(*copy));
    size_t i;

    if (copy == NULL)
        return NULL;
    copy->collected_ms = snap->collected_ms;
    copy->elapsed_us = snap->elapsed_us;
    if (snap->count > 0) {
        copy->nodes = calloc(snap->count, sizeof(*copy->nodes));
        if (copy->nodes == NULL) {
            free(copy);
            return NULL;
        }
    }
    for (i = 0; i < snap->count; i++) {
        int rc = copy_node(&copy->nodes[i], &snap->nodes[i]);

        copy->count++; /* freed whole, or partly filled, by the free */
        if (rc != 0) {
            rm_snapshot_free(copy);
            return NULL;
        }
    }
    return copy;
}

/* ---------------------------------------------------------------------- */
/* Cross-node links                                                       */
/* ---------------------------------------------------------------------- */

static int is_loopback(const char *h)
{
    return strcmp(h, "127.0.0.1") == 0 || strcmp(h, "localhost") == 0 ||
           strcmp(h, "::1") == 0;
}

static int hosts_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL || a[0] == '\0' || b[0] == '\0')
        return 0;
    if (strcmp(a, b) == 0)
        return 1;
    return is_loopback(a) && is_loopback(b);
}

static int64_t clamped_lag(const char *upstream, const char *downstream)
{
    uint64_t up, down;
    int64_t d;

    if (rm_lsn_parse(upstream, &up) != 0 ||
        rm_lsn_parse(downstream, &down) != 0)
        return RM_NONE;
    d = rm_lsn_diff(up, down);
    return d < 0 ? 0 : d;
}

static void link_subscription(rm_snapshot_t *snap, rm_subscription_t *sub)
{
    const rm_node_t *pub = NULL;
    const rm_slot_t *slot = NULL;
    size_t i, j, found = 0;

    sub->publisher[0] = '\0';
    sub->link_note[0] = '\0';
    sub->lag_bytes = RM_NONE;
    sub->lag_seconds = NAN;
    sub->lag_method = NULL;
    if (sub->slot_name == NULL) {
        snprintf(sub->link_note, sizeof(sub->link_note),
                 "subscription has no slot");
        return;
    }
    for (i = 0; i < snap->count; i++) {
        const rm_node_t *n = &snap->nodes[i];

        if (!n->reachable || n->in_recovery)
            continue;
        for (j = 0; j < n->nslots; j++) {
            const rm_slot_t *s = &n->slots[j];

            if (s->name != NULL && strcmp(s->name, sub->slot_name) == 0 &&
                s->type != NULL && strcmp(s->type, "logical") == 0) {
                found++;
                pub = n;
                slot = s;
            }
        }
    }
    if (found == 0) {
        snprintf(sub->link_note, sizeof(sub->link_note),
                 "no monitored node has slot %.80s", sub->slot_name);
        return;
    }
    if (found > 1) {
        snprintf(sub->link_note, sizeof(sub->link_note),
                 "slot %.80s exists on several nodes", sub->slot_name);
        return;
    }
    snprintf(sub->publisher, sizeof(sub->publisher), "%s", pub->id);
    /* Without an apply worker (disabled, crashed) there is no received_lsn:
     * what the subscriber confirmed through the slot is how far it got. */
    sub->lag_bytes = clamped_lag(
        slot->current_lsn[0] ? slot->current_lsn : pub->current_lsn,
        sub->received_lsn[0] ? sub->received_lsn : slot->confirmed_flush_lsn);
    if (slot->sender_state != NULL || !isnan(slot->replay_lag_seconds)) {
        /* A walsender serves the slot: the apply worker is connected. */
        sub->lag_seconds = rm_downstream_lag(
            slot->replay_lag_seconds, slot->reply_age_seconds,
            slot->unacked_bytes, sub->lag_bytes, &sub->lag_method);
    } else if (sub->lag_bytes == 0) {
        sub->lag_seconds = 0.0;
        sub->lag_method = RM_LAG_CAUGHT_UP;
    } else if (!isnan(slot->inactive_seconds)) {
        /* Nobody has read the slot since it went inactive. */
        sub->lag_seconds = slot->inactive_seconds;
        sub->lag_method = RM_LAG_INACTIVE;
    }
}

static void link_receiver(rm_snapshot_t *snap, rm_node_t *standby)
{
    rm_receiver_t *r = &standby->receiver;
    const rm_node_t *up = NULL;
    size_t i, j, found = 0;

    r->primary[0] = '\0';
    r->lag_bytes = RM_NONE;
    if (!r->present)
        return;
    if (r->sender_host != NULL && r->sender_port != RM_NONE) {
        for (i = 0; i < snap->count; i++) {
            const rm_node_t *n = &snap->nodes[i];

            if (n == standby || n->port != (int)r->sender_port ||
                !hosts_equal(n->host, r->sender_host))
                continue;
            found++;
            up = n;
        }
    }
    if (found != 1 && r->slot_name != NULL) {
        found = 0;
        for (i = 0; i < snap->count; i++) {
            const rm_node_t *n = &snap->nodes[i];

            if (n == standby || !n->reachable)
                continue;
            for (j = 0; j < n->nslots; j++) {
                const rm_slot_t *s = &n->slots[j];

                if (s->name != NULL && strcmp(s->name, r->slot_name) == 0 &&
                    s->type != NULL && strcmp(s->type, "physical") == 0) {
                    found++;
                    up = n;
                }
            }
        }
    }
    if (found != 1)
        return;
    snprintf(r->primary, sizeof(r->primary), "%s", up->id);
    if (up->reachable)
        r->lag_bytes = clamped_lag(up->current_lsn, r->receive_lsn);
}

/* The upstream's walsender row for a standby: the one serving its slot,
 * else the upstream's only physical walsender. */
static const rm_standby_t *walsender_of(const rm_node_t *up,
                                        const rm_receiver_t *r)
{
    size_t i, j;

    if (r->slot_name != NULL) {
        for (i = 0; i < up->nslots; i++) {
            const rm_slot_t *s = &up->slots[i];

            if (s->name == NULL || strcmp(s->name, r->slot_name) != 0 ||
                s->active_pid == RM_NONE)
                continue;
            for (j = 0; j < up->nstandbys; j++)
                if (up->standbys[j].pid == s->active_pid)
                    return &up->standbys[j];
            return NULL;
        }
    }
    return up->nstandbys == 1 ? &up->standbys[0] : NULL;
}

/* The standby's own replay delay, from the best source there is. */
static void replay_delay(rm_snapshot_t *snap, rm_node_t *standby,
                         const rm_rounds_t *history)
{
    rm_receiver_t *r = &standby->receiver;
    const rm_node_t *up = NULL;
    const rm_standby_t *ws;
    const char *method = NULL;
    double upper, best = NAN;
    uint64_t replay, receive;
    int64_t at_ms;

    r->replay_delay_method =
        isnan(r->replay_delay_seconds) ? NULL : RM_LAG_LAST_COMMIT;
    if (rm_lsn_parse(r->replay_lsn, &replay) != 0)
        return;
    if (rm_lsn_parse(r->receive_lsn, &receive) == 0 && receive <= replay) {
        r->replay_delay_seconds = 0.0;
        r->replay_delay_method = RM_LAG_CAUGHT_UP;
        return;
    }
    if (r->primary[0] != '\0')
        up = rm_snapshot_node(snap, r->primary);
    if (up == NULL || !up->reachable)
        return;
    /* Earlier rounds: since when the upstream has been past the replay
     * position (within one round of the truth). */
    if (history != NULL &&
        rm_rounds_first_past(history, up->id, replay, &at_ms) == 1) {
        r->replay_delay_seconds =
            at_ms < snap->collected_ms
                ? (double)(snap->collected_ms - at_ms) / 1000.0
                : 0.0;
        r->replay_delay_method = RM_LAG_ROUNDS;
        return;
    }
    /* The walsender's replay_lag moves only when replay does. */
    ws = walsender_of(up, r);
    if (r->paused != 1 && ws != NULL && !isnan(ws->lag_seconds)) {
        r->replay_delay_seconds = ws->lag_seconds;
        r->replay_delay_method = RM_LAG_WALSENDER;
        return;
    }
    /* Lower bounds: the upstream committed after the last commit replayed
     * here, so the first commit not replayed is at least as old as its
     * last one; the WAL not replayed arrived before the upstream's WAL end
     * last moved. The larger one, capped by the upper bound. */
    upper = r->replay_delay_seconds;
    if (!isnan(up->last_commit_age_seconds) &&
        (isnan(upper) || up->last_commit_age_seconds < upper)) {
        best = up->last_commit_age_seconds;
        method = RM_LAG_PRIMARY_COMMIT;
    }
    if (!isnan(r->latest_end_age_seconds) &&
        (isnan(best) || r->latest_end_age_seconds > best)) {
        best = r->latest_end_age_seconds;
        method = RM_LAG_LATEST_END;
    }
    if (method == NULL)
        return;
    if (!isnan(upper) && best > upper)
        best = upper;
    r->replay_delay_seconds = best < 0 ? 0.0 : best;
    r->replay_delay_method = method;
}

void rm_snapshot_link_rounds(rm_snapshot_t *snap, const rm_rounds_t *history)
{
    size_t i, j;

    for (i = 0; i < snap->count; i++) {
        rm_node_t *n = &snap->nodes[i];

        for (j = 0; j < n->nstandbys; j++) {
            rm_standby_t *s = &n->standbys[j];

            s->lag_seconds = rm_downstream_lag(
                s->replay_lag_seconds, s->reply_age_seconds, s->unacked_bytes,
                s->replay_bytes, &s->lag_method);
        }
    }
    for (i = 0; i < snap->count; i++) {
        rm_node_t *n = &snap->nodes[i];

        for (j = 0; j < n->nsubs; j++)
            link_subscription(snap, &n->subs[j]);
        if (n->in_recovery) {
            link_receiver(snap, n);
            if (n->receiver.present)
                replay_delay(snap, n, history);
        }
    }
}

void rm_snapshot_link(rm_snapshot_t *snap)
{
    rm_snapshot_link_rounds(snap, NULL);
}

/* ---------------------------------------------------------------------- */
/* Lag in time                                                            */
/* ---------------------------------------------------------------------- */

double rm_downstream_lag(double replay_lag, double reply_age,
                         int64_t unacked_bytes, int64_t behind_bytes,
                         const char **method)
{
    if (unacked_bytes != RM_NONE && unacked_bytes > 0 && !isnan(reply_age) &&
        reply_age >= RM_REPLY_OVERDUE_SECONDS) {
        *method = RM_LAG_REPLY_AGE;
        return isnan(replay_lag) || replay_lag < reply_age ? reply_age
                                                           : replay_lag;
    }
    if (!isnan(replay_lag)) {
        *method = RM_LAG_REPLAY_LAG;
        return replay_lag;
    }
    if (behind_bytes == 0) {
        *method = RM_LAG_CAUGHT_UP;
        return 0.0;
    }
    *method = NULL;
    return NAN;
}

/* One node's remembered rounds: a ring of (time, LSN), oldest at head. */
typedef struct history_node {
    char id[64];
    int64_t *at_ms;
    uint64_t *lsn;
    size_t count, head;
} history_node_t;

struct rm_rounds {
    size_t samples;
    history_node_t *nodes;
    size_t count;
};

rm_rounds_t *rm_rounds_new(size_t samples)
{
    rm_rounds_t *h = calloc(1, sizeof(*h));

    if (h != NULL)
        h->samples = samples < 2 ? 2 : samples;
    return h;
}

void rm_rounds_free(rm_rounds_t *h)
{
    size_t i;

    if (h == NULL)
        return;
    for (i = 0; i < h->count; i++) {
        free(h->nodes[i].at_ms);
        free(h->nodes[i].lsn);
    }
    free(h->nodes);
    free(h);
}

/* The index of node id in h, or h->count. */
static size_t history_find(const rm_rounds_t *h, const char *id)
{
    size_t i;

    for (i = 0; i < h->count; i++)
        if (strcmp(h->nodes[i].id, id) == 0)
            break;
    return i;
}

/* Node id's ring, added when new; NULL when out of memory. */
static history_node_t *history_node(rm_rounds_t *h, const char *id)
{
    history_node_t *grown;
    size_t i = history_find(h, id);

    if (i < h->count)
        return &h->nodes[i];
    grown = realloc(h->nodes, (h->count + 1) * sizeof(*grown));
    if (grown == NULL)
        return NULL;
    h->nodes = grown;
    memset(&grown[h->count], 0, sizeof(grown[0]));
    snprintf(grown[h->count].id, sizeof(grown[0].id), "%s", id);
    grown[h->count].at_ms = calloc(h->samples, sizeof(int64_t));
    grown[h->count].lsn = calloc(h->samples, sizeof(uint64_t));
    if (grown[h->count].at_ms == NULL || grown[h->count].lsn == NULL) {
        free(grown[h->count].at_ms);
        free(grown[h->count].lsn);
        return NULL;
    }
    return &h->nodes[h->count++];
}

int rm_rounds_record(rm_rounds_t *h, const rm_snapshot_t *snap)
{
    size_t i;

    for (i = 0; i < snap->count; i++) {
        const rm_node_t *n = &snap->nodes[i];
        history_node_t *hn;
        uint64_t lsn;
        size_t at;

        if (!n->reachable || !n->have_facts ||
            rm_lsn_parse(n->current_lsn, &lsn) != 0)
            continue;
        hn = history_node(h, n->id);
        if (hn == NULL)
            return -1;
        if (hn->count == h->samples) {
            hn->head = (hn->head + 1) % h->samples; /* forget the oldest */
            hn->count--;
        }
        at = (hn->head + hn->count) % h->samples;
        hn->at_ms[at] = snap->collected_ms;
        hn->lsn[at] = lsn;
        hn->count++;
    }
    return 0;
}

int rm_rounds_first_past(const rm_rounds_t *h, const char *id, uint64_t lsn,
                         int64_t *at_ms)
{
    size_t n = history_find(h, id), i;
    const history_node_t *hn = n < h->count ? &h->nodes[n] : NULL;

    for (i = 0; hn != NULL && i < hn->count; i++) {
        size_t k = (hn->head + i) % h->samples;

        if (hn->lsn[k] > lsn) {
            *at_ms = hn->at_ms[k];
            return 1;
        }
    }
    return 0;
}
