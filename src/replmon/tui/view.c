/* SPDX-License-Identifier: MIT */
/*
 * view.c - what each dashboard panel shows (see model.h): the tables of
 * the nodes, topology, subscriptions, slots, standbys and receivers,
 * cross-node lag, conflicts, findings and events panels, built from a
 * snapshot and its evaluation; the details of one object; and the history
 * samples taken after each round. Strings live in an arena freed with the
 * view.
 */
#include "tui/model.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conflicts.h"
#include "tui/text.h"

/* ---------------------------------------------------------------------- */
/* Arena                                                                  */
/* ---------------------------------------------------------------------- */

struct rm_arena_block {
    rm_arena_block_t *next;
    size_t used, cap;
    max_align_t data[];
};

static void *arena_alloc(rm_view_t *v, size_t n)
{
    rm_arena_block_t *b = v->arena;
    void *p;

    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) *
        sizeof(max_align_t);
    if (b == NULL || b->cap - b->used < n) {
        size_t cap = n > 32768 ? n : 32768;

        b = malloc(sizeof(*b) + cap);
        if (b == NULL) {
            v->oom = 1;
            return NULL;
        }
        b->next = v->arena;
        b->used = 0;
        b->cap = cap;
        v->arena = b;
    }
    p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

static const char *astr(rm_view_t *v, const char *s)
{
    size_t n = strlen(s != NULL ? s : "");
    char *p = arena_alloc(v, n + 1);

    if (p == NULL)
        return "";
    memcpy(p, s != NULL ? s : "", n + 1);
    return p;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static const char *
afmt(rm_view_t *v, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return astr(v, buf);
}

void rm_view_free(rm_view_t *v)
{
    rm_arena_block_t *b = v->arena, *next;
    size_t i;

    for (; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    for (i = 0; i < RM_PANEL_COUNT; i++)
        free(v->t[i].rows);
    memset(v, 0, sizeof(*v));
}

/* ---------------------------------------------------------------------- */
/* Keys                                                                   */
/* ---------------------------------------------------------------------- */

void rm_key_node(char *buf, size_t len, const char *node)
{
    snprintf(buf, len, "node/%s", node);
}

void rm_key_sub(char *buf, size_t len, const char *prefix, const char *node,
                const rm_subscription_t *s)
{
    /* A node may have a native and a pglogical subscription of one name. */
    snprintf(buf, len, "%s/%s/%s%s", prefix, node,
             s->kind == RM_SUB_PGLOGICAL ? "pglogical:" : "",
             s->name != NULL ? s->name : "");
}

void rm_key_slot(char *buf, size_t len, const char *node, const char *name)
{
    snprintf(buf, len, "slot/%s/%s", node, name != NULL ? name : "");
}

void rm_key_standby(char *buf, size_t len, const char *node,
                    const rm_standby_t *s)
{
    snprintf(buf, len, "standby/%s/%s/%s", node,
             s->application_name != NULL ? s->application_name : "",
             s->client_addr != NULL ? s->client_addr : "");
}

void rm_key_recv(char *buf, size_t len, const char *node)
{
    snprintf(buf, len, "recv/%s", node);
}

/* ---------------------------------------------------------------------- */
/* Tables                                                                 */
/* ---------------------------------------------------------------------- */

/* Add these columns to t (title, min, right, prio and flex taken; the
 * width measured). */
static void tcols(rm_vtable_t *t, const rm_vcol_t *cols, size_t ncols)
{
    size_t i;

    for (i = 0; i < ncols && t->ncols < RM_VMAX_COLS; i++) {
        rm_vcol_t *c = &t->cols[t->ncols++];

        *c = cols[i];
        c->width = (int)rm_tui_width(c->title, 1);
        if (c->width < c->min)
            c->width = c->min;
    }
}

/* Panel p's table with these columns and the text shown when it has no
 * row. */
static rm_vtable_t *tpanel(rm_view_t *v, rm_panel_t p, const rm_vcol_t *cols,
                           size_t ncols, const char *empty)
{
    rm_vtable_t *t = &v->t[p];

    tcols(t, cols, ncols);
    t->empty = empty;
    return t;
}

#define NCOLS(cols) (sizeof(cols) / sizeof((cols)[0]))

/* The fields of columns several panels share. */
#define COL_SUB  .title = "SUB", .min = 4
#define COL_NODE .title = "NODE", .min = 4
#define COL_LAG  .title = "LAG", .min = 5, .right = 1
#define COL_TIME .title = "TIME", .min = 5, .right = 1, .prio = 1
#define COL_HISTORY(rank)                                                      \
    .title = "HISTORY", .min = 8, .prio = (rank), .flex = 1

static rm_vrow_t *trow(rm_view_t *v, rm_vtable_t *t, const char *key,
                       const char *node)
{
    rm_vrow_t *r;
    size_t i;

    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        rm_vrow_t *rows = realloc(t->rows, cap * sizeof(*rows));

        if (rows == NULL) {
            v->oom = 1;
            return NULL;
        }
        t->rows = rows;
        t->cap = cap;
    }
    r = &t->rows[t->nrows];
    r->key = astr(v, key);
    r->node = node != NULL ? astr(v, node) : NULL;
    r->cells = arena_alloc(v, t->ncols * sizeof(*r->cells));
    if (r->cells == NULL)
        return NULL;
    for (i = 0; i < t->ncols; i++)
        r->cells[i].text = "";
    t->nrows++;
    return r;
}

static void tcell(rm_view_t *v, rm_vrow_t *r, size_t col, const char *text,
                  rm_style_t style)
{
    if (r == NULL)
        return;
    r->cells[col].kind = RM_VCELL_TEXT;
    r->cells[col].text = astr(v, text);
    r->cells[col].style = style;
}

/* Full scales below which a sparkline stays low: jitter is not news. */
#define FLOOR_BYTES   (64.0 * 1024.0)
#define FLOOR_SECONDS 1.0
#define FLOOR_MS      1.0
#define FLOOR_COUNT   10.0

static void tspark(rm_vrow_t *r, size_t col, const rm_series_t *s, double floor,
                   rm_style_t style)
{
    if (r == NULL)
        return;
    r->cells[col].kind = RM_VCELL_SPARK;
    r->cells[col].series = s;
    r->cells[col].floor = floor;
    r->cells[col].style = style;
}

static int ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle), i;

    for (; *hay != '\0'; hay++) {
        for (i = 0; i < n; i++) {
            if (hay[i] == '\0' || tolower((unsigned char)hay[i]) !=
                                      tolower((unsigned char)needle[i]))
                break;
        }
        if (i == n)
            return 1;
    }
    return 0;
}

/* Keep the last row only if it matches the filter; measure it. */
static void tdone(rm_vtable_t *t, const char *filter, int utf8)
{
    rm_vrow_t *r;
    size_t i;
    int match = filter == NULL || filter[0] == '\0';

    if (t->nrows == 0)
        return;
    r = &t->rows[t->nrows - 1];
    for (i = 0; !match && i < t->ncols; i++)
        match = r->cells[i].kind != RM_VCELL_SPARK &&
                ci_contains(r->cells[i].text, filter);
    if (!match) {
        t->nrows--;
        t->filtered++;
        return;
    }
    for (i = 0; i < t->ncols; i++) {
        int w;

        if (r->cells[i].kind == RM_VCELL_SPARK)
            continue;
        w = (int)rm_tui_width(r->cells[i].text, utf8);
        if (r->cells[i].kind == RM_VCELL_BAR)
            w += t->cols[i].min + 1;
        if (w > t->cols[i].width)
            t->cols[i].width = w;
    }
}

/* ---------------------------------------------------------------------- */
/* Formatting                                                             */
/* ---------------------------------------------------------------------- */

static const char *fbytes(rm_view_t *v, int64_t b)
{
    char buf[32];

    rm_format_bytes(b, buf, sizeof(buf));
    return astr(v, buf);
}

static const char *fsecs(rm_view_t *v, double s)
{
    char buf[32];

    rm_format_seconds(s, buf, sizeof(buf));
    return astr(v, buf);
}

/* "12.3 s ago", or "-" when not reported. */
static const char *fago(rm_view_t *v, double s)
{
    char buf[32];

    if (isnan(s))
        return "-";
    rm_format_seconds(s, buf, sizeof(buf));
    return afmt(v, "%s ago", buf);
}

static const char *fms(rm_view_t *v, int64_t ms)
{
    return fsecs(v, (double)ms / 1000.0);
}

/* A short age: "0.4s", "41s", "4m05s", "2h10m". */
static const char *fage(rm_view_t *v, int64_t ms)
{
    if (ms < 10000)
        return afmt(v, "%.1fs", (double)ms / 1000.0);
    if (ms < 60000)
        return afmt(v, "%" PRId64 "s", ms / 1000);
    return fms(v, ms);
}

static const char *flatency(rm_view_t *v, int64_t us)
{
    if (us < 0)
        return "-";
    if (us < 1000)
        return afmt(v, "%.2f ms", (double)us / 1000.0);
    if (us < 1000000)
        return afmt(v, "%.1f ms", (double)us / 1000.0);
    return afmt(v, "%.1f s", (double)us / 1e6);
}

static const char *fint(rm_view_t *v, int64_t x)
{
    if (x == RM_NONE)
        return "-";
    return afmt(v, "%" PRId64, x);
}

static const char *fclock(rm_view_t *v, int64_t ms)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char buf[16];

    if (ms <= 0)
        return "-";
    localtime_r(&secs, &tm);
    strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
    return astr(v, buf);
}

static const char *fversion(rm_view_t *v, int ver)
{
    if (ver <= 0)
        return "-";
    if (ver >= 100000)
        return afmt(v, "%d.%d", ver / 10000, ver % 10000);
    return afmt(v, "%d.%d", ver / 10000, (ver / 100) % 100);
}

static const char *yesno(int b)
{
    return b < 0 ? "-" : b ? "yes" : "no";
}

static const char *sval(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : "-";
}

/* ---------------------------------------------------------------------- */
/* Judgements shared by the panels                                        */
/* ---------------------------------------------------------------------- */

static rm_style_t status_style(rm_status_t s)
{
    switch (s) {
    case RM_STATUS_OK:
        return RM_UI_SUCCESS;
    case RM_STATUS_WARNING:
        return RM_UI_WARNING;
    case RM_STATUS_CRITICAL:
        return RM_UI_CRITICAL | RM_ST_BOLD;
    case RM_STATUS_UNKNOWN:
        return RM_UI_MUTED;
    }
    return RM_UI_FG;
}

static const char *status_short(rm_status_t s)
{
    switch (s) {
    case RM_STATUS_OK:
        return "OK";
    case RM_STATUS_WARNING:
        return "WARN";
    case RM_STATUS_CRITICAL:
        return "CRIT";
    case RM_STATUS_UNKNOWN:
        return "UNKN";
    }
    return "?";
}

/* How a node's health state is shown: a symbol (UTF-8 or ASCII), a word
 * and a style. */
typedef struct state_look {
    const char *utf8, *ascii, *word;
    rm_style_t style;
} state_look_t;

static const char *state_label(rm_view_t *v, const rm_node_t *n, int utf8,
                               rm_style_t *st)
{
    static const state_look_t looks[] = {
        [PGCM_NODE_CONNECTING] = {"\u25cc", ".", "connecting", RM_UI_WARNING},
        [PGCM_NODE_HEALTHY] = {"\u25cf", "o", "healthy", RM_UI_SUCCESS},
        [PGCM_NODE_DEGRADED] = {"\u25b2", "!", "degraded",
                                RM_UI_WARNING | RM_ST_BOLD},
        [PGCM_NODE_UNHEALTHY] = {"\u2716", "x", "UNHEALTHY",
                                 RM_UI_CRITICAL | RM_ST_BOLD},
        [PGCM_NODE_RECONNECTING] = {"\u21bb", "~", "reconnecting",
                                    RM_UI_CRITICAL},
        [PGCM_NODE_DISCONNECTED] = {"\u2716", "x", "DISCONNECTED",
                                    RM_UI_CRITICAL | RM_ST_BOLD},
    };
    const state_look_t *look = &looks[PGCM_NODE_DISCONNECTED];

    if (!n->have_health) {
        *st = RM_UI_MUTED;
        return utf8 ? "? unknown" : "? unknown";
    }
    if ((size_t)n->health.state < sizeof(looks) / sizeof(looks[0]))
        look = &looks[n->health.state];
    *st = look->style;
    return afmt(v, "%s %s", utf8 ? look->utf8 : look->ascii, look->word);
}

/* The roles its last facts gave, also when it is unreachable now. */
static int last_roles(const rm_node_t *n)
{
    rm_node_t facts = *n;

    facts.reachable = 1;
    return rm_node_roles(&facts);
}

/* Age of the node's data, and whether it is stale. */
static int64_t data_age_ms(const rm_view_input_t *in, size_t i)
{
    int64_t ref = in->meta[i].ok_ms > 0 ? in->meta[i].ok_ms : in->started_ms;

    return in->now_ms > ref ? in->now_ms - ref : 0;
}

static int is_stale(const rm_view_input_t *in, size_t i)
{
    return data_age_ms(in, i) > RM_STALE_INTERVALS * in->interval_ms;
}

static rm_style_t lag_style(const rm_thresholds_t *t, double secs)
{
    if (isnan(secs))
        return RM_UI_FG;
    if (t->lag_critical_ms > 0 && secs * 1000.0 >= (double)t->lag_critical_ms)
        return RM_UI_CRITICAL | RM_ST_BOLD;
    if (t->lag_warning_ms > 0 && secs * 1000.0 >= (double)t->lag_warning_ms)
        return RM_UI_WARNING;
    return RM_UI_FG;
}

static rm_style_t retain_style(const rm_thresholds_t *t, int64_t bytes)
{
    if (bytes == RM_NONE)
        return RM_UI_FG;
    if (t->slot_critical_bytes > 0 && bytes >= t->slot_critical_bytes)
        return RM_UI_CRITICAL | RM_ST_BOLD;
    if (t->slot_warning_bytes > 0 && bytes >= t->slot_warning_bytes)
        return RM_UI_WARNING;
    return RM_UI_FG;
}

static rm_style_t sub_state_style(const char *state)
{
    if (strcmp(state, "streaming") == 0)
        return RM_UI_SUCCESS;
    if (strcmp(state, "down") == 0)
        return RM_UI_CRITICAL | RM_ST_BOLD;
    return RM_UI_WARNING;
}

static const char *sub_state_label(const char *state, int utf8)
{
    if (strcmp(state, "down") == 0)
        return utf8 ? "\u2716 down" : "x down";
    return state;
}

static const rm_series_t *series(const rm_view_input_t *in, const char *key)
{
    return in->history != NULL ? rm_history_get(in->history, key) : NULL;
}

/* Stale rows turn grey, except the cells that carry a state. */
static rm_style_t grey(int stale, rm_style_t st)
{
    return stale ? RM_UI_MUTED : st;
}

/* The row (keyed by key) of node n's object called name, with its name
 * and node cells: the first two of the subscription, slot and conflict
 * panels. NULL when out of memory. */
static rm_vrow_t *named_row(rm_view_t *v, rm_vtable_t *t, const char *key,
                            const rm_node_t *n, const char *name, int stale)
{
    rm_vrow_t *r = trow(v, t, key, n->id);

    tcell(v, r, 0, sval(name), grey(stale, RM_UI_FG));
    tcell(v, r, 1, n->id, grey(stale, RM_UI_FG));
    return r;
}

/* ---------------------------------------------------------------------- */
/* Panels                                                                 */
/* ---------------------------------------------------------------------- */

static void build_nodes(rm_view_t *v, const rm_view_input_t *in,
                        const char *filter)
{
    static const rm_vcol_t cols[] = {
        {.title = "NODE", .min = 6},
        {.title = "STATE", .min = 9},
        {.title = "ROLE", .min = 4, .prio = 4},
        {.title = "VER", .min = 3, .prio = 6},
        {.title = "LATENCY", .min = 7, .right = 1, .prio = 2},
        {.title = "POOL T/I/A/W", .min = 7, .prio = 2},
        {.title = "FAIL", .min = 4, .right = 1, .prio = 5},
        {.title = "NEXT RETRY", .min = 10, .prio = 4},
        {.title = "AGE", .min = 3, .right = 1, .prio = 1},
        {.title = "LAST ERROR", .min = 10, .prio = 3, .flex = 1},
    };
    rm_vtable_t *t = tpanel(v, RM_PANEL_NODES, cols, NCOLS(cols),
                            "no nodes in the configuration");
    size_t i;

    for (i = 0; i < in->snap->count; i++) {
        const rm_node_t *n = &in->snap->nodes[i];
        const rm_node_meta_t *m = &in->meta[i];
        int stale = is_stale(in, i);
        rm_status_t ns = in->ev != NULL && i < in->ev->count
                             ? in->ev->node_status[i]
                             : RM_STATUS_UNKNOWN;
        char key[160], roles[64];
        rm_style_t st;
        const char *label = state_label(v, n, in->utf8, &st);
        const char *err = "";
        rm_vrow_t *r;

        rm_key_node(key, sizeof(key), n->id);
        r = trow(v, t, key, n->id);
        if (r == NULL)
            return;
        tcell(v, r, 0, n->id, grey(stale, status_style(ns)));
        tcell(v, r, 1, label, st);
        if (n->have_facts) {
            rm_roles_format(last_roles(n), roles, sizeof(roles));
            tcell(v, r, 2, roles, grey(stale || !n->reachable, RM_UI_FG));
        } else {
            tcell(v, r, 2, "-", RM_UI_MUTED);
        }
        tcell(v, r, 3, fversion(v, n->server_version), grey(stale, RM_UI_FG));
        if (n->have_health && n->health.last_ok_ms > 0 &&
            n->health.state != PGCM_NODE_UNHEALTHY &&
            n->health.state != PGCM_NODE_RECONNECTING)
            tcell(v, r, 4, flatency(v, n->health.latency_us),
                  grey(stale, n->health.state == PGCM_NODE_DEGRADED
                                  ? RM_UI_WARNING
                                  : RM_UI_FG));
        else
            tcell(v, r, 4, "-", RM_UI_MUTED);
        if (n->have_stats)
            tcell(v, r, 5,
                  afmt(v, "%d/%d/%d/%d", n->stats.total, n->stats.idle,
                       n->stats.active, n->stats.waiting),
                  grey(stale, n->stats.waiting > 0 ? RM_UI_WARNING : RM_UI_FG));
        else
            tcell(v, r, 5, "-", RM_UI_MUTED);
        if (n->have_health) {
            tcell(v, r, 6, afmt(v, "%d", n->health.consecutive_failures),
                  n->health.consecutive_failures > 0 ? RM_UI_WARNING
                                                     : grey(stale, RM_UI_FG));
            if (n->health.next_retry_ms > in->now_ms)
                tcell(v, r, 7,
                      afmt(v, "in %s",
                           fage(v, n->health.next_retry_ms - in->now_ms)),
                      RM_UI_WARNING);
            if (n->health.consecutive_failures > 0 ||
                n->health.state != PGCM_NODE_HEALTHY)
                err = n->health.last_error;
        }
        if (m->error[0] != '\0')
            err = m->error;
        if (m->ok_ms > 0)
            tcell(v, r, 8,
                  stale ? afmt(v, "stale %s", fage(v, data_age_ms(in, i)))
                        : fage(v, data_age_ms(in, i)),
                  stale ? RM_UI_MUTED | RM_ST_BOLD : RM_UI_FG);
        else
            tcell(v, r, 8, stale ? "no data" : "-", RM_UI_MUTED);
        tcell(v, r, 9, err, RM_UI_CRITICAL);
        tdone(t, filter, in->utf8);
    }
}

static void build_subscriptions(rm_view_t *v, const rm_view_input_t *in,
                                const char *filter)
{
    static const rm_vcol_t cols[] = {
        {COL_SUB},
        {COL_NODE},
        {.title = "STATE", .min = 6},
        {.title = "PUBLISHER", .min = 6, .prio = 4},
        {COL_LAG},
        {COL_TIME},
        {.title = "LAST", .min = 5, .right = 1, .prio = 3},
        {.title = "TABLES", .min = 6, .prio = 5},
        {.title = "ERRORS", .min = 6, .prio = 5},
        {COL_HISTORY(2)},
        {.title = "KIND", .min = 4, .prio = 6},
    };
    rm_vtable_t *t = tpanel(v, RM_PANEL_SUBSCRIPTIONS, cols, NCOLS(cols),
                            "no subscriptions on the monitored nodes");
    size_t i, j;

    for (i = 0; i < in->snap->count; i++) {
        const rm_node_t *n = &in->snap->nodes[i];
        int stale = is_stale(in, i);

        for (j = 0; j < n->nsubs; j++) {
            const rm_subscription_t *s = &n->subs[j];
            const char *state = rm_subscription_state(s);
            char key[192];
            rm_vrow_t *r;

            v->subs++;
            rm_key_sub(key, sizeof(key), "sub", n->id, s);
            r = named_row(v, t, key, n, s->name, stale);
            if (r == NULL)
                return;
            tcell(v, r, 2, sub_state_label(state, in->utf8),
                  grey(stale, sub_state_style(state)));
            tcell(v, r, 3, s->publisher[0] ? s->publisher : "?",
                  grey(stale, s->publisher[0] ? RM_UI_FG : RM_UI_MUTED));
            tcell(v, r, 4, fbytes(v, s->lag_bytes),
                  grey(stale, lag_style(in->thresholds, s->lag_seconds)));
            tcell(v, r, 5, fsecs(v, s->lag_seconds),
                  grey(stale, lag_style(in->thresholds, s->lag_seconds)));
            tcell(v, r, 6, fsecs(v, s->last_msg_age_seconds),
                  grey(stale, RM_UI_FG));
            if (s->tables_total != RM_NONE)
                tcell(v, r, 7,
                      afmt(v, "%" PRId64 "/%" PRId64,
                           s->tables_ready == RM_NONE ? 0 : s->tables_ready,
                           s->tables_total),
                      grey(stale, s->tables_ready < s->tables_total
                                      ? RM_UI_WARNING
                                      : RM_UI_FG));
            if (s->apply_error_count != RM_NONE)
                tcell(v, r, 8,
                      afmt(v, "%" PRId64 "/%" PRId64, s->apply_error_count,
                           s->sync_error_count == RM_NONE
                               ? 0
                               : s->sync_error_count),
                      grey(stale,
                           s->apply_error_count > 0 || s->sync_error_count > 0
                               ? RM_UI_WARNING
                               : RM_UI_FG));
            else
                tcell(v, r, 8, "-", RM_UI_MUTED);
            tspark(r, 9, series(in, key), FLOOR_BYTES,
                   grey(stale, RM_UI_PRIMARY));
            tcell(v, r, 10, rm_sub_kind_name(s->kind),
                  grey(stale, RM_UI_MUTED));
            tdone(t, filter, in->utf8);
        }
    }
}

static void build_slots(rm_view_t *v, const rm_view_input_t *in,
                        const char *filter)
{
    static const rm_vcol_t cols[] = {
        {.title = "SLOT", .min = 4},
        {COL_NODE},
        {.title = "TYPE", .min = 4, .prio = 4},
        {.title = "ACTIVE", .min = 6, .prio = 1},
        {.title = "RETAINED", .min = 8, .right = 1},
        {.title = "", .min = 10, .prio = 3, .flex = 1}, /* the bar */
        {.title = "WAL_STATUS", .min = 6, .prio = 2},
        {.title = "SAFE", .min = 4, .right = 1, .prio = 5},
        {.title = "CONSUMER", .min = 8, .prio = 5, .flex = 1},
    };
    rm_vtable_t *t = tpanel(v, RM_PANEL_SLOTS, cols, NCOLS(cols),
                            "no replication slots on the monitored nodes");
    const rm_thresholds_t *th = in->thresholds;
    int64_t scale = th->slot_critical_bytes > 0  ? th->slot_critical_bytes
                    : th->slot_warning_bytes > 0 ? th->slot_warning_bytes
                                                 : 0;
    size_t i, j;

    for (i = 0; i < in->snap->count; i++) {
        const rm_node_t *n = &in->snap->nodes[i];
        int stale = is_stale(in, i);

        for (j = 0; j < n->nslots; j++) {
            const rm_slot_t *s = &n->slots[j];
            const char *ws = s->wal_status;
            rm_style_t wst = RM_UI_FG;
            char key[192];
            rm_vrow_t *r;

            v->slots++;
            rm_key_slot(key, sizeof(key), n->id, s->name);
            r = named_row(v, t, key, n, s->name, stale);
            if (r == NULL)
                return;
            tcell(v, r, 2, sval(s->type), grey(stale, RM_UI_FG));
            tcell(v, r, 3, yesno(s->active),
                  grey(stale, s->active == 0 && s->temporary != 1
                                  ? RM_UI_WARNING
                                  : RM_UI_FG));
            tcell(v, r, 4, fbytes(v, s->retained_bytes),
                  grey(stale, retain_style(th, s->retained_bytes)));
            if (scale > 0 && s->retained_bytes != RM_NONE) {
                r->cells[5].kind = RM_VCELL_BAR;
                r->cells[5].fraction =
                    (double)s->retained_bytes / (double)scale;
                r->cells[5].text =
                    afmt(v, "of %s %s", fbytes(v, scale),
                         th->slot_critical_bytes > 0 ? "crit" : "warn");
                r->cells[5].style =
                    grey(stale, retain_style(th, s->retained_bytes));
            }
            if (ws != NULL &&
                (strcmp(ws, "lost") == 0 || strcmp(ws, "unreserved") == 0))
                wst = RM_UI_CRITICAL | RM_ST_BOLD;
            else if (ws != NULL && strcmp(ws, "extended") == 0)
                wst = RM_UI_WARNING;
            tcell(v, r, 6, sval(ws), grey(stale, wst));
            tcell(v, r, 7,
                  s->safe_wal_size == RM_NONE ? "-"
                                              : fbytes(v, s->safe_wal_size),
                  grey(stale, RM_UI_FG));
            tcell(v, r, 8,
                  s->sender_application_name != NULL
                      ? s->sender_application_name
                  : s->active_pid != RM_NONE
                      ? afmt(v, "pid %" PRId64, s->active_pid)
                      : "-",
                  grey(stale, RM_UI_FG));
            tdone(t, filter, in->utf8);
        }
    }
}

static void build_standbys(rm_view_t *v, const rm_view_input_t *in,
                           const char *filter)
{
    static const rm_vcol_t cols[] = {
        {COL_NODE},
        {.title = "SENDS TO / RECEIVES FROM", .min = 8},
        {.title = "STATE", .min = 5},
        {.title = "SYNC", .min = 4, .prio = 4},
        {COL_LAG},
        {COL_TIME},
        {.title = "BACKLOG", .min = 7, .right = 1, .prio = 5},
        {COL_HISTORY(2)},
    };
    rm_vtable_t *t =
        tpanel(v, RM_PANEL_STANDBYS, cols, NCOLS(cols),
               "no standbys: no walsender and no WAL receiver on the "
               "monitored nodes");
    const char *to = in->utf8 ? "\u2192" : "->";
    const char *from = in->utf8 ? "\u2190" : "<-";
    size_t i, j;

    for (i = 0; i < in->snap->count; i++) {
        const rm_node_t *n = &in->snap->nodes[i];
        const rm_receiver_t *rc = &n->receiver;
        int stale = is_stale(in, i);
        char key[192];
        rm_vrow_t *r;

        for (j = 0; j < n->nstandbys; j++) {
            const rm_standby_t *s = &n->standbys[j];
            double lag = s->replay_lag_seconds;

            if (isnan(lag) && s->replay_bytes == 0)
                lag = 0.0;
            v->standbys++;
            rm_key_standby(key, sizeof(key), n->id, s);
            r = trow(v, t, key, n->id);
            if (r == NULL)
                return;
            tcell(v, r, 0, n->id, grey(stale, RM_UI_FG));
            tcell(v, r, 1,
                  afmt(v, "%s %s@%s", to, sval(s->application_name),
                       sval(s->client_addr)),
                  grey(stale, RM_UI_FG));
            tcell(v, r, 2, sval(s->state),
                  grey(stale,
                       s->state != NULL && strcmp(s->state, "streaming") == 0
                           ? RM_UI_SUCCESS
                           : RM_UI_WARNING));
            tcell(v, r, 3, sval(s->sync_state), grey(stale, RM_UI_FG));
            tcell(v, r, 4, fbytes(v, s->replay_bytes),
                  grey(stale, lag_style(in->thresholds, lag)));
            tcell(v, r, 5, fsecs(v, lag),
                  grey(stale, lag_style(in->thresholds, lag)));
            tcell(v, r, 6, fbytes(v, s->pending_bytes), grey(stale, RM_UI_FG));
            tspark(r, 7, series(in, key), FLOOR_BYTES,
                   grey(stale, RM_UI_PRIMARY));
            tdone(t, filter, in->utf8);
        }
        if (rc->present) {
            int streaming =
                rc->status != NULL && strcmp(rc->status, "streaming") == 0;

            rm_key_recv(key, sizeof(key), n->id);
            r = trow(v, t, key, n->id);
            if (r == NULL)
                return;
            tcell(v, r, 0, n->id, grey(stale, RM_UI_FG));
            if (rc->primary[0] != '\0')
                tcell(v, r, 1, afmt(v, "%s %s", from, rc->primary),
                      grey(stale, RM_UI_FG));
            else if (rc->sender_host != NULL)
                tcell(v, r, 1,
                      rc->sender_port != RM_NONE
                          ? afmt(v, "%s %s:%" PRId64 " (not monitored)", from,
                                 rc->sender_host, rc->sender_port)
                          : afmt(v, "%s %s (not monitored)", from,
                                 rc->sender_host),
                      grey(stale, RM_UI_MUTED));
            else
                tcell(v, r, 1, afmt(v, "%s ?", from), RM_UI_MUTED);
            tcell(v, r, 2, sval(rc->status),
                  grey(stale, streaming ? RM_UI_SUCCESS : RM_UI_WARNING));
            tcell(v, r, 3, rc->paused == 1 ? "PAUSED" : "",
                  grey(stale, RM_UI_WARNING));
            tcell(v, r, 4, fbytes(v, rc->lag_bytes),
                  grey(stale,
                       lag_style(in->thresholds, rc->replay_delay_seconds)));
            tcell(v, r, 5, fsecs(v, rc->replay_delay_seconds),
                  grey(stale,
                       lag_style(in->thresholds, rc->replay_delay_seconds)));
            tcell(v, r, 6, fbytes(v, rc->replay_backlog_bytes),
                  grey(stale, RM_UI_FG));
            tspark(r, 7, series(in, key), FLOOR_BYTES,
                   grey(stale, RM_UI_PRIMARY));
            tdone(t, filter, in->utf8);
        }
    }
}

/* An upstream -> downstream edge: a standby's receiver or a
 * subscription. */
typedef struct edge {
    const char *up; /* node id, or NULL when not among the nodes */
    const char *up_note;
    const char *down;
    int logical;
    const char *kind; /* "physical", "logical" or "pglogical" */
    const char *via;
    int64_t lag;
    double secs;
    char key[192];
    int stale;
} edge_t;

static size_t collect_edges(rm_view_t *v, const rm_view_input_t *in,
                            edge_t **out)
{
    size_t n = 0, cap = 0, i, j;
    edge_t *e = NULL;

    for (i = 0; i < in->snap->count; i++) {
        const rm_node_t *nd = &in->snap->nodes[i];
        size_t want = n + nd->nsubs + 1;

        if (want > cap) {
            edge_t *grown;

            cap = want * 2;
            grown = realloc(e, cap * sizeof(*e));
            if (grown == NULL) {
                v->oom = 1;
                break;
            }
            e = grown;
        }
        if (nd->receiver.present) {
            edge_t *x = &e[n++];

            memset(x, 0, sizeof(*x));
            x->up = nd->receiver.primary[0] ? nd->receiver.primary : NULL;
            x->up_note = nd->receiver.sender_host != NULL
                             ? afmt(v, "%s:%" PRId64, nd->receiver.sender_host,
                                    nd->receiver.sender_port == RM_NONE
                                        ? 0
                                        : nd->receiver.sender_port)
                             : "upstream not monitored";
            x->down = nd->id;
            x->kind = "physical";
            x->via = nd->receiver.slot_name;
            x->lag = nd->receiver.lag_bytes;
            x->secs = nd->receiver.replay_delay_seconds;
            rm_key_recv(x->key, sizeof(x->key), nd->id);
            x->stale = is_stale(in, i);
        }
        for (j = 0; j < nd->nsubs; j++) {
            const rm_subscription_t *s = &nd->subs[j];
            edge_t *x = &e[n++];

            memset(x, 0, sizeof(*x));
            x->up = s->publisher[0] ? s->publisher : NULL;
            x->up_note =
                s->link_note[0] ? s->link_note : "publisher not monitored";
            x->down = nd->id;
            x->logical = 1;
            x->kind = s->kind == RM_SUB_PGLOGICAL ? "pglogical" : "logical";
            x->via = s->name;
            x->lag = s->lag_bytes;
            x->secs = s->lag_seconds;
            rm_key_sub(x->key, sizeof(x->key), "sub", nd->id, s);
            x->stale = is_stale(in, i);
        }
    }
    *out = e;
    return n;
}

static void build_lag(rm_view_t *v, const rm_view_input_t *in,
                      const char *filter, const edge_t *e, size_t ne)
{
    static const rm_vcol_t cols[] = {
        {.title = "UPSTREAM", .min = 8},
        {.title = "DOWNSTREAM", .min = 10},
        {.title = "KIND", .min = 4, .prio = 2},
        {.title = "VIA", .min = 3, .prio = 3},
        {COL_LAG},
        {COL_TIME},
        {COL_HISTORY(4)},
    };
    rm_vtable_t *t = tpanel(v, RM_PANEL_LAG, cols, NCOLS(cols),
                            "no replication between the monitored nodes");
    size_t i;

    for (i = 0; i < ne; i++) {
        rm_vrow_t *r = trow(v, t, e[i].key, e[i].down);

        if (r == NULL)
            return;
        tcell(v, r, 0, e[i].up ? e[i].up : afmt(v, "? (%s)", e[i].up_note),
              grey(e[i].stale, e[i].up ? RM_UI_FG : RM_UI_MUTED));
        tcell(v, r, 1, e[i].down, grey(e[i].stale, RM_UI_FG));
        tcell(v, r, 2, e[i].kind, grey(e[i].stale, RM_UI_FG));
        tcell(v, r, 3, sval(e[i].via), grey(e[i].stale, RM_UI_FG));
        tcell(v, r, 4, fbytes(v, e[i].lag),
              grey(e[i].stale, lag_style(in->thresholds, e[i].secs)));
        tcell(v, r, 5, fsecs(v, e[i].secs),
              grey(e[i].stale, lag_style(in->thresholds, e[i].secs)));
        tspark(r, 6, series(in, e[i].key), FLOOR_BYTES,
               grey(e[i].stale, RM_UI_PRIMARY));
        tdone(t, filter, in->utf8);
    }
}

static void topo_line(rm_view_t *v, rm_vtable_t *t, const char *filter,
                      int utf8, const char *key, const char *node,
                      const char *text, rm_style_t st)
{
    rm_vrow_t *r = trow(v, t, key, node);

    if (r == NULL)
        return;
    tcell(v, r, 0, text, st);
    tdone(t, filter, utf8);
}

static void topo_edges(rm_view_t *v, const rm_view_input_t *in,
                       const char *filter, const edge_t *e, size_t ne,
                       const char *up, int unknown)
{
    rm_vtable_t *t = &v->t[RM_PANEL_TOPOLOGY];
    size_t i, last = ne;
    int utf8 = in->utf8;

    for (i = 0; i < ne; i++) {
        if (unknown ? e[i].up == NULL
                    : e[i].up != NULL && strcmp(e[i].up, up) == 0)
            last = i;
    }
    for (i = 0; i < ne; i++) {
        const char *branch, *line, *head;
        rm_style_t st;

        if (unknown ? e[i].up != NULL
                    : e[i].up == NULL || strcmp(e[i].up, up) != 0)
            continue;
        branch = i == last ? (utf8 ? "\u2514" : "`") : (utf8 ? "\u251c" : "|");
        line = e[i].logical ? (utf8 ? "\u2500" : "-") : (utf8 ? "\u2550" : "=");
        head = utf8 ? "\u25b6" : ">";
        st = grey(e[i].stale, lag_style(in->thresholds, e[i].secs));
        topo_line(v, t, filter, utf8, e[i].key, e[i].down,
                  afmt(v, "  %s%s %s%s%s %s %s%s %s%s", branch, line, e[i].kind,
                       e[i].logical && e[i].via ? " " : "",
                       e[i].logical && e[i].via ? e[i].via : "",
                       fbytes(v, e[i].lag), line, head, e[i].down,
                       unknown ? afmt(v, "  (%s)", e[i].up_note) : ""),
                  st);
    }
}

static void build_topology(rm_view_t *v, const rm_view_input_t *in,
                           const char *filter, const edge_t *e, size_t ne)
{
    static const rm_vcol_t cols[] = {
        {.title = "", .min = 10, .flex = 1},
    };
    rm_vtable_t *t =
        tpanel(v, RM_PANEL_TOPOLOGY, cols, NCOLS(cols), "no nodes");
    size_t i, j, unknown = 0;

    t->noheader = 1;
    /* Upstreams in node order, each with its downstreams. */
    for (i = 0; i < in->snap->count; i++) {
        const rm_node_t *n = &in->snap->nodes[i];
        size_t down = 0, phys = 0;
        char key[160];
        rm_style_t st;

        for (j = 0; j < ne; j++) {
            if (e[j].up != NULL && strcmp(e[j].up, n->id) == 0) {
                down++;
                phys += !e[j].logical;
            }
        }
        if (down == 0 && n->nstandbys == 0)
            continue;
        state_label(v, n, in->utf8, &st);
        rm_key_node(key, sizeof(key), n->id);
        topo_line(v, t, filter, in->utf8, key, n->id, n->id,
                  grey(is_stale(in, i), st));
        topo_edges(v, in, filter, e, ne, n->id, 0);
        /* Walsenders of this node that no monitored standby accounts
         * for. */
        if (n->nstandbys > phys) {
            for (j = 0; j < n->nstandbys && phys == 0; j++) {
                const rm_standby_t *s = &n->standbys[j];

                rm_key_standby(key, sizeof(key), n->id, s);
                topo_line(v, t, filter, in->utf8, key, n->id,
                          afmt(v,
                               "  %s%s physical %s %s%s %s@%s (not "
                               "monitored)",
                               in->utf8 ? "\u2502" : ":",
                               in->utf8 ? "\u2550\u2550" : "==",
                               fbytes(v, s->replay_bytes),
                               in->utf8 ? "\u2550\u2550" : "==",
                               in->utf8 ? "\u25b6" : ">",
                               sval(s->application_name), sval(s->client_addr)),
                          RM_UI_MUTED);
            }
            if (phys > 0)
                topo_line(v, t, filter, in->utf8, key, n->id,
                          afmt(v, "  + %zu standby(s) not among the nodes",
                               n->nstandbys - phys),
                          RM_UI_MUTED);
        }
    }
    for (j = 0; j < ne; j++)
        unknown += e[j].up == NULL;
    if (unknown > 0) {
        topo_line(v, t, filter, in->utf8, "node/?", NULL,
                  "? (upstream not among the nodes)", RM_UI_MUTED);
        topo_edges(v, in, filter, e, ne, NULL, 1);
    }
    /* Nodes that replicate with no other node. */
    for (i = 0; i < in->snap->count; i++) {
        const rm_node_t *n = &in->snap->nodes[i];
        int linked = n->nstandbys > 0;
        char key[160];
        rm_style_t st;

        for (j = 0; j < ne && !linked; j++)
            linked = strcmp(e[j].down, n->id) == 0 ||
                     (e[j].up != NULL && strcmp(e[j].up, n->id) == 0);
        if (linked)
            continue;
        state_label(v, n, in->utf8, &st);
        rm_key_node(key, sizeof(key), n->id);
        topo_line(v, t, filter, in->utf8, key, n->id,
                  afmt(v, "%s  (no replication with the other nodes)", n->id),
                  grey(is_stale(in, i), st));
    }
}

static void build_conflicts(rm_view_t *v, const rm_view_input_t *in,
                            const char *filter)
{
    static const rm_vcol_t cols[] = {
        {COL_SUB},
        {COL_NODE},
        {.title = "CONFLICTS", .min = 6, .right = 1},
        {.title = "APPLY ERR", .min = 6, .right = 1, .prio = 3},
        {.title = "SYNC ERR", .min = 6, .right = 1, .prio = 3},
        {.title = "PER MIN", .min = 7, .right = 1},
        {.title = "STATE", .min = 5, .prio = 2},
        {COL_HISTORY(1)},
    };
    rm_vtable_t *t = tpanel(v, RM_PANEL_CONFLICTS, cols, NCOLS(cols),
                            "no subscriptions on the monitored nodes");
    const rm_thresholds_t *th = in->thresholds;
    size_t i, j;

    for (i = 0; i < in->snap->count; i++) {
        const rm_node_t *n = &in->snap->nodes[i];
        int stale = is_stale(in, i);

        for (j = 0; j < n->nsubs; j++) {
            const rm_subscription_t *s = &n->subs[j];
            const char *state = rm_subscription_state(s);
            int64_t count = rm_subscription_conflicts(s);
            double rate = s->conflict_rate_per_min;
            char key[192], ekey[192];
            rm_style_t rst = RM_UI_FG;
            rm_vrow_t *r;

            rm_key_sub(key, sizeof(key), "sub", n->id, s);
            rm_key_sub(ekey, sizeof(ekey), "confl", n->id, s);
            r = named_row(v, t, key, n, s->name, stale);
            if (r == NULL)
                return;
            if (count == RM_NONE) {
                /* pglogical keeps no counters; native ones from 15 on. */
                tcell(v, r, 2,
                      s->kind == RM_SUB_PGLOGICAL ? "(no counters)" : "(15+)",
                      RM_UI_MUTED);
            } else {
                tcell(v, r, 2, fint(v, count),
                      grey(stale, count > 0 ? RM_UI_WARNING : RM_UI_FG));
                tcell(v, r, 3, fint(v, s->apply_error_count),
                      grey(stale, s->apply_error_count > 0 ? RM_UI_WARNING
                                                           : RM_UI_FG));
                tcell(v, r, 4, fint(v, s->sync_error_count),
                      grey(stale,
                           s->sync_error_count > 0 ? RM_UI_WARNING : RM_UI_FG));
            }
            if (!isnan(rate)) {
                if (th->conflict_rate_critical > 0 &&
                    rate >= th->conflict_rate_critical)
                    rst = RM_UI_CRITICAL | RM_ST_BOLD;
                else if (th->conflict_rate_warning > 0 &&
                         rate >= th->conflict_rate_warning)
                    rst = RM_UI_WARNING;
            }
            tcell(v, r, 5, isnan(rate) ? "-" : afmt(v, "%.1f", rate),
                  grey(stale, rst));
            tcell(v, r, 6, sub_state_label(state, in->utf8),
                  grey(stale, sub_state_style(state)));
            tspark(r, 7, series(in, ekey), FLOOR_COUNT,
                   grey(stale, RM_UI_WARNING));
            tdone(t, filter, in->utf8);
        }
    }
}

void rm_history_rates(const rm_history_t *h, rm_snapshot_t *snap,
                      int64_t now_ms)
{
    char key[192];
    size_t i, j;

    for (i = 0; i < snap->count; i++) {
        rm_node_t *n = &snap->nodes[i];

        for (j = 0; j < n->nsubs; j++) {
            rm_key_sub(key, sizeof(key), "confl", n->id, &n->subs[j]);
            n->subs[j].conflict_rate_per_min = rm_series_rate_per_min(
                rm_history_get(h, key), now_ms, RM_RATE_WINDOW_MS);
        }
    }
}

static int finding_rank(rm_status_t s)
{
    switch (s) {
    case RM_STATUS_CRITICAL:
        return 0;
    case RM_STATUS_WARNING:
        return 1;
    case RM_STATUS_UNKNOWN:
        return 2;
    case RM_STATUS_OK:
        return 3;
    }
    return 3;
}

static void build_findings(rm_view_t *v, const rm_view_input_t *in,
                           const char *filter)
{
    static const rm_vcol_t cols[] = {
        {.title = "SEV", .min = 4},
        {.title = "NODE", .min = 4, .prio = 1},
        {.title = "FINDING", .min = 10, .flex = 1},
    };
    rm_vtable_t *t = tpanel(v, RM_PANEL_FINDINGS, cols, NCOLS(cols),
                            "none: every check passed");
    int rank;
    size_t i;

    if (in->ev == NULL)
        return;
    for (rank = 0; rank < 4; rank++) {
        for (i = 0; i < in->ev->nreasons; i++) {
            const rm_reason_t *re = &in->ev->reasons[i];
            rm_vrow_t *r;

            if (finding_rank(re->status) != rank)
                continue;
            if (re->status != RM_STATUS_OK) {
                if (v->worst == NULL) {
                    v->worst = astr(v, re->message);
                    v->worst_node = astr(v, re->node);
                    v->worst_status = re->status;
                }
                v->findings++;
            }
            r = trow(v, t, afmt(v, "finding/%zu", i), re->node);
            if (r == NULL)
                return;
            tcell(v, r, 0,
                  re->status == RM_STATUS_OK ? "NOTE"
                                             : status_short(re->status),
                  re->status == RM_STATUS_OK ? RM_UI_MUTED
                                             : status_style(re->status));
            tcell(v, r, 1, re->node, RM_UI_FG);
            tcell(v, r, 2, re->message,
                  re->status == RM_STATUS_OK ? RM_UI_MUTED : RM_UI_FG);
            tdone(t, filter, in->utf8);
        }
    }
}

static void build_events(rm_view_t *v, const rm_view_input_t *in,
                         const char *filter)
{
    static const rm_vcol_t cols[] = {
        {.title = "TIME", .min = 8},
        {.title = "FROM", .min = 4, .prio = 2},
        {.title = "NODE", .min = 4, .prio = 1},
        {.title = "EVENT", .min = 10, .flex = 1},
    };
    rm_vtable_t *t =
        tpanel(v, RM_PANEL_EVENTS, cols, NCOLS(cols), "no events yet");
    size_t i;

    for (i = 0; i < in->nevents; i++) {
        const rm_event_entry_t *e = &in->events[i];
        rm_style_t st = e->level == RM_EVL_CRITICAL  ? RM_UI_CRITICAL
                        : e->level == RM_EVL_WARNING ? RM_UI_WARNING
                                                     : RM_UI_FG;
        rm_vrow_t *r =
            trow(v, t, afmt(v, "event/%zu", i), e->node[0] ? e->node : NULL);

        if (r == NULL)
            return;
        tcell(v, r, 0, fclock(v, e->time_ms), RM_UI_MUTED);
        tcell(v, r, 1, e->own ? "replmon" : "pgcm", RM_UI_MUTED);
        tcell(v, r, 2, e->node[0] ? e->node : "-", RM_UI_FG);
        tcell(v, r, 3, e->text, st);
        tdone(t, filter, in->utf8);
    }
}

int rm_view_build(rm_view_t *v, const rm_view_input_t *in, const char *filter)
{
    edge_t *edges = NULL;
    size_t i, ne;

    memset(v, 0, sizeof(*v));
    v->nodes = in->snap->count;
    v->overall = in->ev != NULL ? in->ev->status : RM_STATUS_UNKNOWN;
    for (i = 0; i < in->snap->count; i++) {
        rm_status_t s = in->ev != NULL && i < in->ev->count
                            ? in->ev->node_status[i]
                            : RM_STATUS_UNKNOWN;

        v->ok += s == RM_STATUS_OK;
        v->warning += s == RM_STATUS_WARNING;
        v->critical += s == RM_STATUS_CRITICAL;
        v->unknown += s == RM_STATUS_UNKNOWN;
        v->stale += is_stale(in, i);
    }
    build_nodes(v, in, filter);
    ne = collect_edges(v, in, &edges);
    build_topology(v, in, filter, edges, ne);
    build_subscriptions(v, in, filter);
    build_slots(v, in, filter);
    build_standbys(v, in, filter);
    build_lag(v, in, filter, edges, ne);
    build_conflicts(v, in, filter);
    build_findings(v, in, filter);
    build_events(v, in, filter);
    free(edges);
    return v->oom ? -1 : 0;
}

/* ---------------------------------------------------------------------- */
/* History samples                                                        */
/* ---------------------------------------------------------------------- */

int rm_history_sample(rm_history_t *h, const rm_snapshot_t *snap,
                      const rm_node_meta_t *meta, const int *changed)
{
    char key[192];
    size_t i, j;
    int rc = 0;

    for (i = 0; i < snap->count; i++) {
        const rm_node_t *n = &snap->nodes[i];
        int64_t t = meta[i].attempt_ms;

        if (!changed[i] || t <= 0)
            continue;
        snprintf(key, sizeof(key), "lat/%s", n->id);
        rc |= rm_history_add(h, key, t,
                             n->have_health && n->health.last_ok_ms > 0
                                 ? (double)n->health.latency_us / 1000.0
                                 : NAN);
        if (!n->reachable)
            continue; /* what it showed before is not measured again */
        for (j = 0; j < n->nsubs; j++) {
            const rm_subscription_t *s = &n->subs[j];
            int64_t confl = rm_subscription_conflicts(s);

            rm_key_sub(key, sizeof(key), "sub", n->id, s);
            rc |= rm_history_add(
                h, key, t,
                s->lag_bytes == RM_NONE ? NAN : (double)s->lag_bytes);
            rm_key_sub(key, sizeof(key), "subtime", n->id, s);
            rc |= rm_history_add(h, key, t, s->lag_seconds);
            if (confl != RM_NONE) {
                rm_key_sub(key, sizeof(key), "confl", n->id, s);
                rc |= rm_history_add(h, key, t, (double)confl);
            }
        }
        for (j = 0; j < n->nslots; j++) {
            const rm_slot_t *s = &n->slots[j];

            rm_key_slot(key, sizeof(key), n->id, s->name);
            rc |= rm_history_add(
                h, key, t,
                s->retained_bytes == RM_NONE ? NAN : (double)s->retained_bytes);
        }
        for (j = 0; j < n->nstandbys; j++) {
            const rm_standby_t *s = &n->standbys[j];

            rm_key_standby(key, sizeof(key), n->id, s);
            rc |= rm_history_add(
                h, key, t,
                s->replay_bytes == RM_NONE ? NAN : (double)s->replay_bytes);
        }
        if (n->receiver.present) {
            rm_key_recv(key, sizeof(key), n->id);
            rc |= rm_history_add(h, key, t,
                                 n->receiver.lag_bytes == RM_NONE
                                     ? NAN
                                     : (double)n->receiver.lag_bytes);
        }
    }
    return rc != 0 ? -1 : 0;
}

/* ---------------------------------------------------------------------- */
/* Details                                                                */
/* ---------------------------------------------------------------------- */

typedef struct dt {
    rm_view_t *v;
    rm_vtable_t *t;
    int utf8;
} dt_t;

static rm_vrow_t *dline(dt_t *d, const char *label, const char *value,
                        rm_style_t st)
{
    rm_vrow_t *r = trow(d->v, d->t, "", NULL);

    if (r == NULL)
        return NULL;
    tcell(d->v, r, 0, label, RM_UI_SECONDARY);
    tcell(d->v, r, 1, value, st);
    tdone(d->t, NULL, d->utf8);
    return r;
}

/* A history line: the sparkline, then min and max over what it shows. */
/* What a history line measures. */
enum { UNIT_SECONDS = 0, UNIT_BYTES, UNIT_COUNT };

/* A history line: the sparkline, then min and max over what it shows. */
static void dspark(dt_t *d, const char *label, const rm_series_t *s, int unit,
                   int64_t now_ms)
{
    static const double floors[] = {FLOOR_SECONDS, FLOOR_BYTES, FLOOR_COUNT};
    rm_vrow_t *r;
    double lo, hi;
    size_t used;
    char a[32], b[32];

    used = rm_series_minmax(s, 0, &lo, &hi);
    if (used == 0) {
        dline(d, label, "no samples yet", RM_UI_MUTED);
        return;
    }
    if (unit == UNIT_BYTES) {
        rm_format_bytes((int64_t)lo, a, sizeof(a));
        rm_format_bytes((int64_t)hi, b, sizeof(b));
    } else if (unit == UNIT_SECONDS) {
        rm_format_seconds(lo, a, sizeof(a));
        rm_format_seconds(hi, b, sizeof(b));
    } else {
        snprintf(a, sizeof(a), "%.0f", lo);
        snprintf(b, sizeof(b), "%.0f", hi);
    }
    dline(d, label,
          afmt(d->v, "min %s, max %s over the last %s (%zu samples)", a, b,
               fage(d->v, now_ms - rm_series_time(s, 0)), used),
          RM_UI_FG);
    r = dline(d, "", "", RM_UI_FG);
    tspark(r, 1, s, floors[unit], RM_UI_PRIMARY);
}

static void dlatency(dt_t *d, const rm_series_t *s, int64_t now_ms)
{
    rm_vrow_t *r;
    double lo, hi;
    size_t used = rm_series_minmax(s, 0, &lo, &hi);

    if (used == 0)
        return;
    dline(d, "latency history",
          afmt(d->v, "min %.2f ms, max %.2f ms over the last %s", lo, hi,
               fage(d->v, now_ms - rm_series_time(s, 0))),
          RM_UI_FG);
    r = dline(d, "", "", RM_UI_FG);
    tspark(r, 1, s, FLOOR_MS, RM_UI_PRIMARY);
}

static void details_node(dt_t *d, const rm_view_input_t *in, size_t i)
{
    rm_view_t *v = d->v;
    const rm_node_t *n = &in->snap->nodes[i];
    const rm_node_meta_t *m = &in->meta[i];
    const pgcm_health_t *h = &n->health;
    const pgcm_pool_stats_t *ps = &n->stats;
    char key[160], roles[64];
    rm_style_t st = RM_UI_FG;
    const char *label = state_label(v, n, in->utf8, &st);
    size_t k;

    dline(d, "state", label, st);
    if (n->have_health) {
        dline(d, "since",
              afmt(v, "%s (%s ago)", fclock(v, h->state_since_ms),
                   fms(v, in->now_ms - h->state_since_ms)),
              RM_UI_FG);
        dline(d, "last probe ok",
              h->last_ok_ms > 0
                  ? afmt(v, "%s (%s ago)", fclock(v, h->last_ok_ms),
                         fms(v, in->now_ms - h->last_ok_ms))
                  : "never",
              RM_UI_FG);
        dline(d, "latency", flatency(v, h->latency_us), RM_UI_FG);
    }
    snprintf(key, sizeof(key), "lat/%s", n->id);
    dlatency(d, series(in, key), in->now_ms);
    if (n->have_health) {
        dline(d, "failures",
              afmt(v, "%d in a row, retry attempt %d%s%s",
                   h->consecutive_failures, h->retry_attempt,
                   h->next_retry_ms > in->now_ms ? ", next retry in " : "",
                   h->next_retry_ms > in->now_ms
                       ? fms(v, h->next_retry_ms - in->now_ms)
                       : ""),
              h->consecutive_failures > 0 ? RM_UI_WARNING : RM_UI_FG);
        dline(d, "last error",
              h->last_error[0]
                  ? afmt(v, "%s%s%s%s", h->last_error,
                         h->last_sqlstate[0] ? " [SQLSTATE " : "",
                         h->last_sqlstate, h->last_sqlstate[0] ? "]" : "")
                  : "none",
              h->last_error[0] ? RM_UI_CRITICAL : RM_UI_FG);
    }
    dline(d, "collected",
          m->ok_ms > 0 ? afmt(v, "%s ago%s, round took %.1f ms",
                              fms(v, data_age_ms(in, i)),
                              is_stale(in, i) ? " (STALE)" : "",
                              (double)m->round_us / 1000.0)
                       : "no successful round yet",
          is_stale(in, i) ? RM_UI_MUTED | RM_ST_BOLD : RM_UI_FG);
    if (m->error[0] != '\0')
        dline(d, "last round", m->error, RM_UI_CRITICAL);
    if (m->in_flight && in->now_ms - m->in_flight_since_ms > in->interval_ms)
        dline(d, "round running",
              afmt(v, "for %s", fms(v, in->now_ms - m->in_flight_since_ms)),
              RM_UI_WARNING);
    dline(d, "address",
          afmt(v, "%s:%d%s%s", n->host[0] ? n->host : "(libpq default)",
               n->port, n->database[0] ? ", database " : "", n->database),
          RM_UI_FG);
    if (n->have_facts) {
        rm_roles_format(last_roles(n), roles, sizeof(roles));
        dline(d, "server",
              afmt(v, "PostgreSQL %s, %s, wal_level %s",
                   fversion(v, n->server_version), roles, sval(n->wal_level)),
              RM_UI_FG);
        dline(d, "current LSN", sval(n->current_lsn), RM_UI_FG);
        dline(d, "objects",
              afmt(v,
                   "%zu slots, %zu subscriptions, %zu walsenders, "
                   "%s publications",
                   n->nslots, n->nsubs, n->nstandbys, fint(v, n->publications)),
              RM_UI_FG);
    }
    for (k = RM_SQL_SLOTS; k < RM_SQL_SECTION_COUNT; k++) {
        const rm_section_t *sec = &n->sections[k];

        if (sec->state == RM_SECTION_ERROR ||
            sec->state == RM_SECTION_NO_PERMISSION)
            dline(d, rm_sql_section_name((rm_sql_section_t)k),
                  afmt(v, "%s: %s", rm_section_state_name(sec->state),
                       sec->error),
                  RM_UI_WARNING);
    }
    if (n->have_stats) {
        dline(d, "pool",
              afmt(v,
                   "%d total, %d idle, %d active, %d waiting (min %d, "
                   "max %d, %d probe)",
                   ps->total, ps->idle, ps->active, ps->waiting, ps->min,
                   ps->max, ps->probe_conns),
              RM_UI_FG);
        dline(d, "queries",
              afmt(v,
                   "%" PRIu64 " done, %" PRIu64 " failed, %" PRIu64
                   " timed out",
                   ps->queries, ps->errors, ps->timeouts),
              RM_UI_FG);
        dline(d, "connections",
              afmt(v,
                   "%" PRIu64 " opened, %" PRIu64 " closed, %" PRIu64
                   " failed to connect",
                   ps->conns_opened, ps->conns_closed, ps->connect_errors),
              RM_UI_FG);
        dline(d, "acquires",
              afmt(v,
                   "%" PRIu64 ", waited %.2f ms on average (max %.2f ms), "
                   "%" PRIu64 " timed out",
                   ps->acquires,
                   ps->acquires ? (double)ps->acquire_wait_us /
                                      (double)ps->acquires / 1000.0
                                : 0.0,
                   (double)ps->acquire_wait_max_us / 1000.0,
                   ps->acquire_timeouts),
              RM_UI_FG);
        dline(d, "probes",
              afmt(v, "%" PRIu64 ", %" PRIu64 " failed", ps->probes,
                   ps->probe_failures),
              RM_UI_FG);
    }
}

/* The PostgreSQL 18 counters that are not zero: " (2 update_missing, ...)". */
static const char *confl_detail(rm_view_t *v, const rm_subscription_t *s)
{
    char buf[400] = "";
    size_t used = 0;
    int c;

    for (c = 0; c < RM_CONFL_COUNT; c++) {
        if (s->confl[c] == RM_NONE || s->confl[c] == 0)
            continue;
        used += (size_t)snprintf(buf + used, sizeof(buf) - used,
                                 "%s%" PRId64 " %s", used ? ", " : " (",
                                 s->confl[c], rm_confl_name((rm_confl_t)c));
        if (used >= sizeof(buf))
            break;
    }
    if (used > 0 && used + 1 < sizeof(buf))
        strcat(buf, ")");
    return astr(v, buf);
}

static void details_sub(dt_t *d, const rm_view_input_t *in, size_t i,
                        const rm_subscription_t *s)
{
    rm_view_t *v = d->v;
    const rm_node_t *n = &in->snap->nodes[i];
    const char *state = rm_subscription_state(s);
    char key[192];
    int64_t count;

    dline(d, "node", n->id, RM_UI_FG);
    dline(d, "kind", rm_sub_kind_name(s->kind), RM_UI_FG);
    dline(d, "state", sub_state_label(state, in->utf8), sub_state_style(state));
    dline(d, "enabled", yesno(s->enabled), RM_UI_FG);
    dline(d, "apply worker",
          s->worker_pid != RM_NONE ? afmt(v, "pid %" PRId64, s->worker_pid)
                                   : "not running",
          s->worker_pid != RM_NONE ? RM_UI_FG : RM_UI_WARNING);
    dline(d, "publications", sval(s->publications), RM_UI_FG);
    dline(d, "slot", sval(s->slot_name), RM_UI_FG);
    dline(d, "publisher",
          s->publisher[0] ? s->publisher
                          : afmt(v, "unknown (%s)", sval(s->link_note)),
          s->publisher[0] ? RM_UI_FG : RM_UI_MUTED);
    dline(d, "received LSN", sval(s->received_lsn), RM_UI_FG);
    dline(d, "latest end LSN", sval(s->latest_end_lsn), RM_UI_FG);
    dline(d, "lag", fbytes(v, s->lag_bytes),
          lag_style(in->thresholds, s->lag_seconds));
    rm_key_sub(key, sizeof(key), "sub", n->id, s);
    dspark(d, "lag history", series(in, key), UNIT_BYTES, in->now_ms);
    dline(d, "lag time", fsecs(v, s->lag_seconds),
          lag_style(in->thresholds, s->lag_seconds));
    rm_key_sub(key, sizeof(key), "subtime", n->id, s);
    dspark(d, "lag time history", series(in, key), UNIT_SECONDS, in->now_ms);
    dline(d, "last message", fago(v, s->last_msg_age_seconds), RM_UI_FG);
    dline(d, "transit", fsecs(v, s->transit_seconds), RM_UI_FG);
    if (s->tables_total != RM_NONE)
        dline(d, "tables",
              afmt(v, "%s of %" PRId64 " ready, %s sync workers",
                   fint(v, s->tables_ready), s->tables_total,
                   fint(v, s->sync_workers)),
              s->tables_ready < s->tables_total ? RM_UI_WARNING : RM_UI_FG);
    count = rm_subscription_conflicts(s);
    dline(d, "conflicts",
          count == RM_NONE
              ? (s->kind == RM_SUB_PGLOGICAL
                     ? "pglogical keeps no counters"
                     : "not reported (PostgreSQL 15 or newer)")
              : afmt(v, "%" PRId64 "%s%s", count,
                     isnan(s->conflict_rate_per_min)
                         ? ""
                         : afmt(v, ", %.1f a minute", s->conflict_rate_per_min),
                     confl_detail(v, s)),
          count != RM_NONE && count > 0 ? RM_UI_WARNING : RM_UI_FG);
    if (s->apply_error_count != RM_NONE)
        dline(d, "errors",
              afmt(v, "%" PRId64 " apply, %s sync", s->apply_error_count,
                   fint(v, s->sync_error_count)),
              s->apply_error_count > 0 || s->sync_error_count > 0
                  ? RM_UI_WARNING
                  : RM_UI_FG);
    rm_key_sub(key, sizeof(key), "confl", n->id, s);
    dspark(d, "conflict history", series(in, key), UNIT_COUNT, in->now_ms);
}

static void details_slot(dt_t *d, const rm_view_input_t *in, size_t i,
                         const rm_slot_t *s)
{
    rm_view_t *v = d->v;
    const rm_node_t *n = &in->snap->nodes[i];
    char key[192];

    dline(d, "node", n->id, RM_UI_FG);
    dline(d, "type",
          afmt(v, "%s%s%s%s", sval(s->type), s->plugin ? " (" : "",
               s->plugin ? s->plugin : "", s->plugin ? ")" : ""),
          RM_UI_FG);
    dline(d, "database", sval(s->database), RM_UI_FG);
    dline(d, "active",
          s->active == 1 && s->active_pid != RM_NONE
              ? afmt(v, "yes, pid %" PRId64, s->active_pid)
              : yesno(s->active),
          s->active == 0 ? RM_UI_WARNING : RM_UI_FG);
    dline(d, "temporary", yesno(s->temporary), RM_UI_FG);
    dline(d, "current LSN", sval(s->current_lsn), RM_UI_FG);
    dline(d, "restart LSN", sval(s->restart_lsn), RM_UI_FG);
    dline(d, "confirmed flush", sval(s->confirmed_flush_lsn), RM_UI_FG);
    dline(d, "retained", fbytes(v, s->retained_bytes),
          retain_style(in->thresholds, s->retained_bytes));
    rm_key_slot(key, sizeof(key), n->id, s->name);
    dspark(d, "retention history", series(in, key), UNIT_BYTES, in->now_ms);
    dline(d, "unconfirmed", fbytes(v, s->unconfirmed_bytes), RM_UI_FG);
    dline(d, "wal_status", sval(s->wal_status), RM_UI_FG);
    dline(d, "safe_wal_size",
          s->safe_wal_size == RM_NONE ? "-" : fbytes(v, s->safe_wal_size),
          RM_UI_FG);
    dline(d, "xmin age",
          afmt(v, "%s (catalog %s)", fint(v, s->xmin_age),
               fint(v, s->catalog_xmin_age)),
          RM_UI_FG);
    if (s->conflicting >= 0)
        dline(d, "conflicting", yesno(s->conflicting),
              s->conflicting ? RM_UI_CRITICAL : RM_UI_FG);
    if (!isnan(s->inactive_seconds))
        dline(d, "inactive for", fsecs(v, s->inactive_seconds), RM_UI_FG);
    if (s->invalidation_reason != NULL)
        dline(d, "invalidated", s->invalidation_reason, RM_UI_CRITICAL);
    dline(d, "consumer",
          s->sender_application_name
              ? afmt(v, "%s (%s), %s unsent, replay lag %s",
                     s->sender_application_name, sval(s->sender_state),
                     fbytes(v, s->unsent_bytes),
                     fsecs(v, s->replay_lag_seconds))
              : "none",
          RM_UI_FG);
}

static void details_standby(dt_t *d, const rm_view_input_t *in, size_t i,
                            const rm_standby_t *s)
{
    rm_view_t *v = d->v;
    const rm_node_t *n = &in->snap->nodes[i];
    char key[192];

    dline(d, "primary", n->id, RM_UI_FG);
    dline(d, "client",
          afmt(v, "%s:%s (pid %s)", sval(s->client_addr),
               fint(v, s->client_port), fint(v, s->pid)),
          RM_UI_FG);
    dline(d, "state", afmt(v, "%s, %s", sval(s->state), sval(s->sync_state)),
          RM_UI_FG);
    dline(d, "sent / write / flush / replay",
          afmt(v, "%s / %s / %s / %s", sval(s->sent_lsn), sval(s->write_lsn),
               sval(s->flush_lsn), sval(s->replay_lsn)),
          RM_UI_FG);
    dline(d, "lag",
          afmt(v, "%s behind, %s not sent", fbytes(v, s->replay_bytes),
               fbytes(v, s->pending_bytes)),
          RM_UI_FG);
    dline(d, "write / flush / replay lag",
          afmt(v, "%s / %s / %s", fsecs(v, s->write_lag_seconds),
               fsecs(v, s->flush_lag_seconds), fsecs(v, s->replay_lag_seconds)),
          lag_style(in->thresholds, s->replay_lag_seconds));
    dline(d, "last reply", fago(v, s->reply_age_seconds), RM_UI_FG);
    rm_key_standby(key, sizeof(key), n->id, s);
    dspark(d, "lag history", series(in, key), UNIT_BYTES, in->now_ms);
}

static void details_receiver(dt_t *d, const rm_view_input_t *in, size_t i)
{
    rm_view_t *v = d->v;
    const rm_node_t *n = &in->snap->nodes[i];
    const rm_receiver_t *r = &n->receiver;
    char key[192];

    dline(d, "standby", n->id, RM_UI_FG);
    dline(d, "upstream", r->primary[0] ? r->primary : "not among the nodes",
          RM_UI_FG);
    dline(d, "sender",
          afmt(v, "%s:%s", sval(r->sender_host), fint(v, r->sender_port)),
          RM_UI_FG);
    dline(d, "status", sval(r->status), RM_UI_FG);
    dline(d, "slot", sval(r->slot_name), RM_UI_FG);
    dline(d, "received / replayed",
          afmt(v, "%s / %s", sval(r->receive_lsn), sval(r->replay_lsn)),
          RM_UI_FG);
    dline(d, "lag (upstream LSN - received)", fbytes(v, r->lag_bytes),
          RM_UI_FG);
    rm_key_recv(key, sizeof(key), n->id);
    dspark(d, "lag history", series(in, key), UNIT_BYTES, in->now_ms);
    dline(d, "replay backlog", fbytes(v, r->replay_backlog_bytes), RM_UI_FG);
    dline(d, "replay delay", fsecs(v, r->replay_delay_seconds),
          lag_style(in->thresholds, r->replay_delay_seconds));
    dline(d, "last message", fago(v, r->last_msg_age_seconds), RM_UI_FG);
    dline(d, "paused", yesno(r->paused),
          r->paused == 1 ? RM_UI_WARNING : RM_UI_FG);
}

/* Details of a row that is only text (a finding, an event): its cells. */
static void details_row(dt_t *d, const rm_vtable_t *src, const char *key)
{
    size_t r, c;

    for (r = 0; r < src->nrows; r++) {
        if (strcmp(src->rows[r].key, key) != 0)
            continue;
        for (c = 0; c < src->ncols; c++)
            dline(d, src->cols[c].title, src->rows[r].cells[c].text,
                  src->rows[r].cells[c].style);
        return;
    }
    dline(d, "", "no longer listed", RM_UI_MUTED);
}

/* The two columns, without a header, of the details, help and the ops
 * box. */
static void dtable_init(rm_vtable_t *t)
{
    static const rm_vcol_t cols[] = {{.title = "", .min = 8},
                                     {.title = "", .min = 20, .flex = 1}};

    memset(t, 0, sizeof(*t));
    tcols(t, cols, NCOLS(cols));
    t->noheader = 1;
}

int rm_details_build(rm_view_t *v, rm_vtable_t *t, const rm_view_input_t *in,
                     rm_panel_t p, const char *key, char *title,
                     size_t titlelen)
{
    dt_t d = {v, t, in->utf8};
    char k[192];
    size_t i, j;

    dtable_init(t);
    snprintf(title, titlelen, "Details");
    if (strncmp(key, "finding/", 8) == 0 || strncmp(key, "event/", 6) == 0) {
        snprintf(title, titlelen, "%s",
                 p == RM_PANEL_EVENTS ? "Event" : "Finding");
        details_row(&d, &v->t[p], key);
        return v->oom ? -1 : 0;
    }
    for (i = 0; i < in->snap->count; i++) {
        const rm_node_t *n = &in->snap->nodes[i];

        rm_key_node(k, sizeof(k), n->id);
        if (strcmp(k, key) == 0) {
            snprintf(title, titlelen, "Node %s", n->id);
            details_node(&d, in, i);
            return v->oom ? -1 : 0;
        }
        for (j = 0; j < n->nsubs; j++) {
            rm_key_sub(k, sizeof(k), "sub", n->id, &n->subs[j]);
            if (strcmp(k, key) == 0) {
                snprintf(title, titlelen, "Subscription %s",
                         sval(n->subs[j].name));
                details_sub(&d, in, i, &n->subs[j]);
                return v->oom ? -1 : 0;
            }
        }
        for (j = 0; j < n->nslots; j++) {
            rm_key_slot(k, sizeof(k), n->id, n->slots[j].name);
            if (strcmp(k, key) == 0) {
                snprintf(title, titlelen, "Slot %s", sval(n->slots[j].name));
                details_slot(&d, in, i, &n->slots[j]);
                return v->oom ? -1 : 0;
            }
        }
        for (j = 0; j < n->nstandbys; j++) {
            rm_key_standby(k, sizeof(k), n->id, &n->standbys[j]);
            if (strcmp(k, key) == 0) {
                snprintf(title, titlelen, "Standby %s",
                         sval(n->standbys[j].application_name));
                details_standby(&d, in, i, &n->standbys[j]);
                return v->oom ? -1 : 0;
            }
        }
        rm_key_recv(k, sizeof(k), n->id);
        if (n->receiver.present && strcmp(k, key) == 0) {
            snprintf(title, titlelen, "WAL receiver of %s", n->id);
            details_receiver(&d, in, i);
            return v->oom ? -1 : 0;
        }
    }
    dline(&d, "", "this object is no longer reported", RM_UI_MUTED);
    return v->oom ? -1 : 0;
}

/* ---------------------------------------------------------------------- */
/* Header, key bar, findings line, help                                   */
/* ---------------------------------------------------------------------- */

static size_t seg(rm_seg_t *segs, size_t n, size_t max, const char *text,
                  rm_style_t st)
{
    if (n < max) {
        segs[n].text = text;
        segs[n].style = st;
        n++;
    }
    return n;
}

static const char *finterval(rm_view_t *v, int64_t ms)
{
    if (ms % 1000 != 0)
        return afmt(v, "%" PRId64 "ms", ms);
    if (ms >= 60000 && ms % 60000 == 0)
        return afmt(v, "%" PRId64 "m", ms / 60000);
    return afmt(v, "%" PRId64 "s", ms / 1000);
}

size_t rm_header_build(rm_view_t *v, const rm_view_input_t *in,
                       const char *filter, int level, rm_seg_t *segs,
                       size_t max)
{
    size_t n = 0;
    int compact = level > 0;
    const char *gap = compact ? " " : "  ";

    n = seg(segs, n, max, " replmon ", RM_UI_PRIMARY | RM_ST_BOLD);
    if (in->cluster != NULL)
        n = seg(segs, n, max,
                compact ? afmt(v, "%s ", in->cluster)
                        : afmt(v, " cluster %s ", in->cluster),
                RM_UI_FG | RM_ST_BOLD);
    n = seg(segs, n, max,
            afmt(v, "%s%zu node%s%s", gap, v->nodes, v->nodes == 1 ? "" : "s",
                 compact ? " " : ": "),
            RM_UI_FG);
    if (v->ok > 0)
        n = seg(segs, n, max, afmt(v, "%zu ok ", v->ok), RM_UI_SUCCESS);
    if (v->warning > 0)
        n = seg(segs, n, max, afmt(v, "%zu WARN ", v->warning),
                RM_UI_WARNING | RM_ST_BOLD);
    if (v->critical > 0)
        n = seg(segs, n, max, afmt(v, "%zu CRIT ", v->critical),
                RM_UI_CRITICAL | RM_ST_BOLD);
    if (v->unknown > 0)
        n = seg(segs, n, max, afmt(v, "%zu unknown ", v->unknown), RM_UI_MUTED);
    if (v->stale > 0)
        n = seg(segs, n, max, afmt(v, "%zu stale ", v->stale),
                RM_UI_MUTED | RM_ST_BOLD);
    if (level < 2) {
        n = seg(segs, n, max, compact ? " " : "| ", RM_UI_MUTED);
        n = seg(segs, n, max,
                afmt(v, "%zu sub%s %zu slot%s%s ", v->subs,
                     v->subs == 1 ? "" : "s", v->slots,
                     v->slots == 1 ? "" : "s",
                     compact ? ""
                             : afmt(v, " %zu standby%s", v->standbys,
                                    v->standbys == 1 ? "" : "s")),
                RM_UI_FG);
    }
    n = seg(segs, n, max, compact ? " " : "| ", RM_UI_MUTED);
    n = seg(segs, n, max,
            afmt(v, "%s%s  %s  ", compact ? "" : "refresh ",
                 finterval(v, in->interval_ms), fclock(v, in->now_ms)),
            RM_UI_FG);
    if (in->paused)
        n = seg(segs, n, max, in->utf8 ? "\u23f8 paused" : "|| paused",
                RM_UI_WARNING | RM_ST_BOLD);
    else
        n = seg(segs, n, max, in->utf8 ? "\u25cf live" : "* live",
                RM_UI_SUCCESS);
    if (filter != NULL && filter[0] != '\0')
        n = seg(segs, n, max, afmt(v, "  filter: %s", filter),
                RM_UI_PRIMARY | RM_ST_BOLD);
    return n;
}

size_t rm_keybar_build(rm_view_t *v, rm_panel_t focus, int level,
                       rm_seg_t *segs, size_t max)
{
    static const char *const labels[RM_PANEL_COUNT] = {
        "[n]odes", "[t]opology",  "[s]ubs",     "s[l]ots", "stand[b]ys",
        "[x]lag",  "[c]onflicts", "[f]indings", "[e]vents"};
    static const char *const tail[3][7] = {
        {"[/]filter", "[p]ause", "[+/-]interval", "[r]etry", "[R]eload",
         "[?]help", "[q]uit"},
        {"/filter", "p:pause", "+-:interval", "r:retry", "R:reload", "?:help",
         "q:quit"},
        {"/", "p", "+-", "r", "R", "?help", "q"}};
    /* By level: whether the panels are named, and the tail's form. */
    static const int names[4] = {1, 1, 0, 0}, form[4] = {0, 2, 1, 2};
    size_t n = 0, i;

    if (level < 0)
        level = 0;
    if (level > 3)
        level = 3;
    n = seg(segs, n, max, " ", RM_UI_SECONDARY);
    for (i = 0; i < RM_PANEL_COUNT; i++) {
        const char *text = names[level]
                               ? labels[i]
                               : afmt(v, "%c", rm_panel_key((rm_panel_t)i));

        n = seg(segs, n, max, text,
                i == (size_t)focus ? RM_UI_PRIMARY | RM_ST_REVERSE
                                   : RM_UI_SECONDARY);
        n = seg(segs, n, max, " ", RM_UI_SECONDARY);
    }
    n = seg(segs, n, max, " ", RM_UI_SECONDARY);
    for (i = 0; i < 7; i++) {
        n = seg(segs, n, max, tail[form[level]][i], RM_UI_SECONDARY);
        n = seg(segs, n, max, " ", RM_UI_SECONDARY);
    }
    return n;
}

size_t rm_findings_line(rm_view_t *v, rm_seg_t *segs, size_t max)
{
    size_t n = 0;

    if (v->worst == NULL)
        return seg(segs, n, max, " OK  no findings: every check passed",
                   RM_UI_SUCCESS);
    n = seg(segs, n, max, afmt(v, " %s ", status_short(v->worst_status)),
            status_style(v->worst_status) | RM_ST_REVERSE);
    n = seg(segs, n, max, afmt(v, " %s %s", v->worst_node, v->worst),
            status_style(v->worst_status));
    if (v->findings > 1)
        n = seg(segs, n, max, afmt(v, "  +%zu more [f]", v->findings - 1),
                RM_UI_SECONDARY);
    return n;
}

int rm_help_build(rm_view_t *v, rm_vtable_t *t, int utf8)
{
    dt_t d = {v, t, utf8};
    const rm_key_help_t *keys;
    size_t n, i;

    dtable_init(t);
    keys = rm_key_help(&n);
    for (i = 0; i < n; i++)
        dline(&d, keys[i].keys, keys[i].what, RM_UI_FG);
    dline(&d, "", "", RM_UI_FG);
    dline(&d, utf8 ? "\u25cf healthy" : "o healthy", "green: healthy, OK",
          RM_UI_SUCCESS);
    dline(&d, utf8 ? "\u25b2 degraded" : "! degraded",
          "yellow: degraded, connecting, WARNING", RM_UI_WARNING);
    dline(&d, utf8 ? "\u2716 UNHEALTHY" : "x UNHEALTHY",
          "red: unhealthy, reconnecting, CRITICAL", RM_UI_CRITICAL);
    dline(&d, "stale",
          "grey: data older than two refresh intervals, or "
          "unknown",
          RM_UI_MUTED);
    dline(&d, "AGE", "time since the node's last successful collection",
          RM_UI_FG);
    dline(&d, "HISTORY",
          "lag (or errors) over the last minutes, one mark a "
          "round; Enter shows min and max",
          RM_UI_FG);
    return v->oom ? -1 : 0;
}

/* The lines of sql (several statements, one a line), each a row. */
static void dsql(dt_t *d, const char *label, const char *sql)
{
    const char *p = sql != NULL ? sql : "";

    do {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        char *line = arena_alloc(d->v, n + 1);

        if (line == NULL)
            return;
        memcpy(line, p, n);
        line[n] = '\0';
        dline(d, label, line, RM_UI_PRIMARY);
        label = "";
        p = nl != NULL ? nl + 1 : p + n;
    } while (*p != '\0');
}

int rm_ops_box_build(rm_view_t *v, rm_vtable_t *t, const rm_ui_t *ui, int utf8)
{
    dt_t d = {v, t, utf8};
    const rm_ops_menu_t *m = &ui->ops;
    const rm_op_choice_t *c = m->nchoices ? &m->choices[m->sel] : NULL;
    const char *cursor = utf8 ? "\u2588" : "_";
    size_t i;

    dtable_init(t);
    if (m->stage == RM_OPS_MENU) {
        for (i = 0; i < m->nchoices; i++) {
            const rm_op_choice_t *o = &m->choices[i];
            const char *mark = i == m->sel ? (utf8 ? "\u25b6" : ">") : "";

            if (o->available)
                dline(&d, mark,
                      afmt(v, "%s%s", o->label,
                           o->destructive ? " (asks for the name)" : ""),
                      i == m->sel ? RM_UI_PRIMARY | RM_ST_BOLD : RM_UI_FG);
            else
                dline(&d, mark, afmt(v, "%s - %s", o->label, o->why),
                      RM_UI_MUTED);
        }
        if (m->nchoices == 0)
            dline(&d, "", "no operation for this object", RM_UI_MUTED);
    } else if (m->stage == RM_OPS_INPUT && c != NULL) {
        dline(&d, "operation", c->label, RM_UI_FG);
        if (c->needs_slot) {
            const char *plugin = rm_ops_slot_plugins[m->slot_kind];

            dline(&d, "kind",
                  plugin != NULL
                      ? afmt(v, "logical, plugin %s (Tab changes)", plugin)
                      : "physical (Tab changes)",
                  RM_UI_FG);
        }
        dline(&d, c->needs_table ? "table" : "slot name",
              afmt(v, "%s%s", m->typed, cursor), RM_UI_PRIMARY | RM_ST_BOLD);
    } else if (m->stage == RM_OPS_CONFIRM && m->have_plan) {
        const rm_op_plan_t *p = &m->plan;

        dline(&d, "operation", p->summary ? p->summary : "", RM_UI_FG);
        dline(&d, "where",
              afmt(v, "%s:%d/%s (node %s)", p->host, p->port, p->database,
                   p->node),
              RM_UI_FG);
        if (p->note[0] != '\0')
            dline(&d, "note", p->note, RM_UI_WARNING);
        if (p->consequence != NULL)
            dline(&d, "consequence", p->consequence,
                  RM_UI_WARNING | RM_ST_BOLD);
        for (i = 0; i < p->nsteps; i++) {
            const rm_op_step_t *st = &p->steps[i];

            dsql(&d,
                 st->kind == RM_STEP_CHECK    ? "checks"
                 : st->kind == RM_STEP_ACTION ? "SQL"
                                              : "waits for",
                 st->sql);
        }
        if (p->destructive)
            dline(&d, "confirm",
                  afmt(v, "type %s and Enter: %s%s", p->confirm, m->typed,
                       cursor),
                  RM_UI_PRIMARY | RM_ST_BOLD);
        else
            dline(&d, "", "Enter runs it, Esc cancels", RM_UI_PRIMARY);
    }
    if (m->note[0] != '\0') {
        dline(&d, "", "", RM_UI_FG);
        dline(&d, "", m->note, RM_UI_CRITICAL);
    }
    return v->oom ? -1 : 0;
}

/* ---------------------------------------------------------------------- */
/* Panel names and keys                                                   */
/* ---------------------------------------------------------------------- */

const char *rm_panel_title(rm_panel_t p)
{
    static const char *const titles[RM_PANEL_COUNT] = {
        "Nodes",          "Topology",  "Subscriptions", "Slots", "Standbys",
        "Cross-node lag", "Conflicts", "Findings",      "Events"};

    return (unsigned)p < RM_PANEL_COUNT ? titles[p] : "";
}

char rm_panel_key(rm_panel_t p)
{
    static const char keys[RM_PANEL_COUNT] = {'n', 't', 's', 'l', 'b',
                                              'x', 'c', 'f', 'e'};

    return (unsigned)p < RM_PANEL_COUNT ? keys[p] : '?';
}

const int64_t rm_interval_steps_ms[RM_INTERVAL_STEPS] = {
    500, 1000, 2000, 3000, 5000, 10000, 30000, 60000};

int rm_interval_index(int64_t ms)
{
    int i, best = 0;

    for (i = 0; i < RM_INTERVAL_STEPS; i++) {
        if (llabs(rm_interval_steps_ms[i] - ms) <
            llabs(rm_interval_steps_ms[best] - ms))
            best = i;
    }
    return best;
}
