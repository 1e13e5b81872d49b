/* SPDX-License-Identifier: MIT */
/*
 * output.c - text tables, CSV quoting, and the status and query reports in
 * their table, JSON (jansson) and CSV forms.
 */
#include "output.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgcm.h"

int rm_format_parse(const char *text, rm_format_t *out)
{
    if (text == NULL)
        return -1;
    if (strcmp(text, "table") == 0)
        *out = RM_FORMAT_TABLE;
    else if (strcmp(text, "json") == 0)
        *out = RM_FORMAT_JSON;
    else if (strcmp(text, "csv") == 0)
        *out = RM_FORMAT_CSV;
    else
        return -1;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Text tables                                                            */
/* ---------------------------------------------------------------------- */

struct rm_table {
    size_t ncols;
    char **headers;
    int *right;
    char **cells; /* rows * ncols */
    size_t rows, cap;
};

/* A raw copy of a cell (NULL: ""); it is escaped when printed. */
static char *cell_dup(const char *v)
{
    return strdup(v != NULL ? v : "");
}

rm_table_t *rm_table_new(size_t ncols, const char *const *headers)
{
    rm_table_t *t = calloc(1, sizeof(*t));
    size_t i;

    if (t == NULL)
        return NULL;
    t->ncols = ncols;
    t->headers = calloc(ncols ? ncols : 1, sizeof(char *));
    t->right = calloc(ncols ? ncols : 1, sizeof(int));
    if (t->headers == NULL || t->right == NULL) {
        rm_table_free(t);
        return NULL;
    }
    for (i = 0; i < ncols; i++) {
        t->headers[i] = cell_dup(headers[i]);
        if (t->headers[i] == NULL) {
            rm_table_free(t);
            return NULL;
        }
    }
    return t;
}

void rm_table_align_right(rm_table_t *t, size_t col)
{
    if (col < t->ncols)
        t->right[col] = 1;
}

int rm_table_add(rm_table_t *t, const char *const *cells)
{
    size_t i;

    if (t->rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        char **grown =
            realloc(t->cells, cap * (t->ncols ? t->ncols : 1) * sizeof(char *));

        if (grown == NULL)
            return -1;
        t->cells = grown;
        t->cap = cap;
    }
    for (i = 0; i < t->ncols; i++) {
        char *c = cell_dup(cells[i]);

        if (c == NULL) {
            while (i-- > 0)
                free(t->cells[t->rows * t->ncols + i]);
            return -1;
        }
        t->cells[t->rows * t->ncols + i] = c;
    }
    t->rows++;
    return 0;
}

size_t rm_table_rows(const rm_table_t *t)
{
    return t->rows;
}

static void print_line(const rm_table_t *t, FILE *out, const char *indent,
                       char *const *cells, const size_t *width)
{
    size_t i, last = t->ncols;

    /* Trailing empty cells print nothing, so no trailing blanks. */
    while (last > 0 && cells[last - 1][0] == '\0')
        last--;
    fputs(indent ? indent : "", out);
    for (i = 0; i < last; i++) {
        if (i > 0)
            fputs("  ", out);
        if (!t->right[i] && i + 1 == last)
            rm_text_fputs(out, cells[i]);
        else
            rm_text_put(out, cells[i], width[i],
                        t->right[i] ? RM_ALIGN_RIGHT : RM_ALIGN_LEFT);
    }
    fputc('\n', out);
}

void rm_table_print(const rm_table_t *t, FILE *out, const char *indent)
{
    size_t *width = calloc(t->ncols ? t->ncols : 1, sizeof(size_t));
    size_t r, i;

    if (width == NULL)
        return;
    for (i = 0; i < t->ncols; i++)
        width[i] = rm_display_width(t->headers[i]);
    for (r = 0; r < t->rows; r++) {
        for (i = 0; i < t->ncols; i++) {
            size_t w = rm_display_width(t->cells[r * t->ncols + i]);

            if (w > width[i])
                width[i] = w;
        }
    }
    print_line(t, out, indent, t->headers, width);
    for (r = 0; r < t->rows; r++)
        print_line(t, out, indent, &t->cells[r * t->ncols], width);
    free(width);
}

void rm_table_free(rm_table_t *t)
{
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; t->headers != NULL && i < t->ncols; i++)
        free(t->headers[i]);
    for (i = 0; i < t->rows * t->ncols; i++)
        free(t->cells[i]);
    free(t->headers);
    free(t->right);
    free(t->cells);
    free(t);
}

/* ---------------------------------------------------------------------- */
/* CSV                                                                    */
/* ---------------------------------------------------------------------- */

void rm_csv_field(FILE *out, const char *value, int is_null)
{
    size_t len;
    const char *p;

    if (is_null || value == NULL)
        return;
    len = strlen(value);
    if (len > 0 && strpbrk(value, ",\"\r\n") == NULL && value[0] != ' ' &&
        value[len - 1] != ' ') {
        fputs(value, out);
        return;
    }
    fputc('"', out);
    for (p = value; *p; p++) {
        if (*p == '"')
            fputc('"', out);
        fputc(*p, out);
    }
    fputc('"', out);
}

/* ---------------------------------------------------------------------- */
/* Status: table                                                          */
/* ---------------------------------------------------------------------- */

static const char *yes_no(int v)
{
    return v < 0 ? "-" : v ? "yes" : "no";
}

static const char *or_dash(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : "-";
}

static void fmt_ms(int64_t us, char *buf, size_t len)
{
    snprintf(buf, len, "%.1f ms", (double)us / 1000.0);
}

static void fmt_version(int v, char *buf, size_t len)
{
    if (v <= 0)
        snprintf(buf, len, "-");
    else if (v >= 100000)
        snprintf(buf, len, "%d.%d", v / 10000, v % 10000);
    else
        snprintf(buf, len, "%d.%d.%d", v / 10000, (v / 100) % 100, v % 100);
}

static void fmt_time_utc(int64_t ms, char *buf, size_t len, int iso)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&secs, &tm);
    if (iso)
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    else
        snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d UTC",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
}

static const char *node_state_text(const rm_node_t *n)
{
    if (n->have_health)
        return pgcm_node_state_name(n->health.state);
    return n->reachable ? "up" : "unknown";
}

/* The section state of a node, when it is not plainly "ok". */
static const char *section_note(const rm_node_t *n, rm_sql_section_t s)
{
    switch (n->sections[s].state) {
    case RM_SECTION_NO_PERMISSION:
        return "no permission";
    case RM_SECTION_ERROR:
        return "error";
    case RM_SECTION_SKIPPED:
    case RM_SECTION_OK:
        break;
    }
    return NULL;
}

static void print_section_notes(FILE *out, const rm_snapshot_t *snap,
                                rm_sql_section_t s)
{
    size_t i;

    for (i = 0; i < snap->count; i++) {
        const char *note = section_note(&snap->nodes[i], s);

        if (note != NULL) {
            fputs("  ", out);
            rm_text_fputs(out, snap->nodes[i].id);
            fprintf(out, ": %s\n", note);
        }
    }
}

/* Print a section: its title, its table (or "(none)"), its notes; frees t. */
static void print_section(FILE *out, const rm_snapshot_t *snap,
                          const char *title, rm_table_t *t,
                          rm_sql_section_t kind)
{
    fprintf(out, "%s\n", title);
    if (rm_table_rows(t) > 0)
        rm_table_print(t, out, "  ");
    else
        fprintf(out, "  (none)\n");
    print_section_notes(out, snap, kind);
    rm_table_free(t);
}

static void print_nodes(FILE *out, const rm_snapshot_t *snap,
                        const rm_eval_t *ev)
{
    static const char *h[] = {"NODE",    "STATUS",  "STATE", "ROLE",
                              "VERSION", "LATENCY", "LSN",   "POOL T/I/A/W",
                              "QUERIES", "ERRORS"};
    rm_table_t *t = rm_table_new(10, h);
    size_t i;

    if (t == NULL)
        return;
    rm_table_align_right(t, 5);
    rm_table_align_right(t, 8);
    rm_table_align_right(t, 9);
    for (i = 0; i < snap->count; i++) {
        const rm_node_t *n = &snap->nodes[i];
        char roles[64], ver[16], lat[32], pool[48], q[24], e[24];
        const char *cells[10];

        rm_roles_format(rm_node_roles(n), roles, sizeof(roles));
        fmt_version(n->server_version, ver, sizeof(ver));
        if (n->have_health && n->health.latency_us > 0 &&
            n->health.state != PGCM_NODE_UNHEALTHY)
            fmt_ms(n->health.latency_us, lat, sizeof(lat));
        else
            snprintf(lat, sizeof(lat), "-");
        if (n->have_stats) {
            snprintf(pool, sizeof(pool), "%d/%d/%d/%d", n->stats.total,
                     n->stats.idle, n->stats.active, n->stats.waiting);
            snprintf(q, sizeof(q), "%" PRIu64, n->stats.queries);
            snprintf(e, sizeof(e), "%" PRIu64, n->stats.errors);
        } else {
            snprintf(pool, sizeof(pool), "-");
            snprintf(q, sizeof(q), "-");
            snprintf(e, sizeof(e), "-");
        }
        cells[0] = n->id;
        cells[1] = rm_status_name(ev->node_status[i]);
        cells[2] = node_state_text(n);
        cells[3] = n->have_facts ? roles : "-";
        cells[4] = ver;
        cells[5] = lat;
        cells[6] = n->have_facts ? or_dash(n->current_lsn) : "-";
        cells[7] = pool;
        cells[8] = q;
        cells[9] = e;
        rm_table_add(t, cells);
    }
    rm_table_print(t, out, NULL);
    rm_table_free(t);
}

static void print_slots(FILE *out, const rm_snapshot_t *snap)
{
    static const char *h[] = {"NODE",     "SLOT",     "TYPE",
                              "ACTIVE",   "RETAINED", "WAL_STATUS",
                              "CONSUMER", "SENDER",   "LAG_TIME"};
    rm_table_t *t = rm_table_new(9, h);
    size_t i, j;

    if (t == NULL)
        return;
    rm_table_align_right(t, 4);
    rm_table_align_right(t, 8);
    for (i = 0; i < snap->count; i++) {
        const rm_node_t *n = &snap->nodes[i];

        for (j = 0; j < n->nslots; j++) {
            const rm_slot_t *s = &n->slots[j];
            char ret[32], lag[32];
            const char *cells[9];

            rm_format_bytes(s->retained_bytes, ret, sizeof(ret));
            rm_format_seconds(s->replay_lag_seconds, lag, sizeof(lag));
            cells[0] = n->id;
            cells[1] = or_dash(s->name);
            cells[2] = or_dash(s->type);
            cells[3] = yes_no(s->active);
            cells[4] = ret;
            cells[5] = or_dash(s->wal_status);
            cells[6] = or_dash(s->sender_application_name);
            cells[7] = or_dash(s->sender_state);
            cells[8] = lag;
            rm_table_add(t, cells);
        }
    }
    print_section(out, snap, "\nREPLICATION SLOTS", t, RM_SQL_SLOTS);
}

static void print_subscriptions(FILE *out, const rm_snapshot_t *snap)
{
    static const char *h[] = {"NODE",      "SUBSCRIPTION", "STATE",
                              "PUBLISHER", "LAG",          "LAG_TIME",
                              "LAST_MSG",  "TABLES",       "ERRORS"};
    rm_table_t *t = rm_table_new(9, h);
    size_t i, j;

    if (t == NULL)
        return;
    rm_table_align_right(t, 4);
    rm_table_align_right(t, 5);
    rm_table_align_right(t, 6);
    for (i = 0; i < snap->count; i++) {
        const rm_node_t *n = &snap->nodes[i];

        for (j = 0; j < n->nsubs; j++) {
            const rm_subscription_t *s = &n->subs[j];
            char lag[32], lagt[32], age[32], tables[64], errs[96];
            const char *cells[9];

            rm_format_bytes(s->lag_bytes, lag, sizeof(lag));
            rm_format_seconds(s->lag_seconds, lagt, sizeof(lagt));
            rm_format_seconds(s->last_msg_age_seconds, age, sizeof(age));
            if (s->tables_total != RM_NONE && s->tables_ready != RM_NONE)
                snprintf(tables, sizeof(tables),
                         "%" PRId64 "/%" PRId64 " ready", s->tables_ready,
                         s->tables_total);
            else
                snprintf(tables, sizeof(tables), "-");
            if (s->apply_error_count != RM_NONE)
                snprintf(
                    errs, sizeof(errs), "%" PRId64 " apply, %" PRId64 " sync",
                    s->apply_error_count,
                    s->sync_error_count == RM_NONE ? 0 : s->sync_error_count);
            else
                snprintf(errs, sizeof(errs), "-");
            cells[0] = n->id;
            cells[1] = or_dash(s->name);
            cells[2] = rm_subscription_state(s);
            cells[3] = or_dash(s->publisher);
            cells[4] = lag;
            cells[5] = lagt;
            cells[6] = age;
            cells[7] = tables;
            cells[8] = errs;
            rm_table_add(t, cells);
        }
    }
    print_section(out, snap, "\nSUBSCRIPTIONS", t, RM_SQL_SUBSCRIPTIONS);
}

static void print_standbys(FILE *out, const rm_snapshot_t *snap)
{
    static const char *h[] = {"NODE", "STANDBY", "CLIENT",  "STATE",
                              "SYNC", "LAG",     "LAG_TIME"};
    rm_table_t *t = rm_table_new(7, h);
    size_t i, j;

    if (t == NULL)
        return;
    rm_table_align_right(t, 5);
    rm_table_align_right(t, 6);
    for (i = 0; i < snap->count; i++) {
        const rm_node_t *n = &snap->nodes[i];

        for (j = 0; j < n->nstandbys; j++) {
            const rm_standby_t *s = &n->standbys[j];
            char lag[32], lagt[32];
            const char *cells[7];
            double secs = s->replay_lag_seconds;

            if (isnan(secs) && s->replay_bytes == 0)
                secs = 0.0;
            rm_format_bytes(s->replay_bytes, lag, sizeof(lag));
            rm_format_seconds(secs, lagt, sizeof(lagt));
            cells[0] = n->id;
            cells[1] = or_dash(s->application_name);
            cells[2] = or_dash(s->client_addr);
            cells[3] = or_dash(s->state);
            cells[4] = or_dash(s->sync_state);
            cells[5] = lag;
            cells[6] = lagt;
            rm_table_add(t, cells);
        }
    }
    print_section(out, snap, "\nSTANDBYS (as their primary sees them)", t,
                  RM_SQL_STANDBYS);
}

static void print_receivers(FILE *out, const rm_snapshot_t *snap)
{
    static const char *h[] = {"NODE",     "RECEIVER", "UPSTREAM", "RECEIVED",
                              "REPLAYED", "BACKLOG",  "DELAY",    "PAUSED"};
    rm_table_t *t = rm_table_new(8, h);
    size_t i;

    if (t == NULL)
        return;
    rm_table_align_right(t, 5);
    rm_table_align_right(t, 6);
    for (i = 0; i < snap->count; i++) {
        const rm_node_t *n = &snap->nodes[i];
        const rm_receiver_t *r = &n->receiver;
        char backlog[32], delay[32];
        const char *cells[8];

        if (!r->present)
            continue;
        rm_format_bytes(r->replay_backlog_bytes, backlog, sizeof(backlog));
        rm_format_seconds(r->replay_delay_seconds, delay, sizeof(delay));
        cells[0] = n->id;
        cells[1] =
            n->sections[RM_SQL_RECEIVER].state == RM_SECTION_NO_PERMISSION
                ? "no permission"
            : r->status ? r->status
                        : "not running";
        cells[2] = or_dash(r->primary);
        cells[3] = or_dash(r->receive_lsn);
        cells[4] = or_dash(r->replay_lsn);
        cells[5] = backlog;
        cells[6] = delay;
        cells[7] = yes_no(r->paused);
        rm_table_add(t, cells);
    }
    if (rm_table_rows(t) > 0) {
        fprintf(out, "\nSTANDBY RECEIVERS (as the standbys see themselves)\n");
        rm_table_print(t, out, "  ");
    }
    rm_table_free(t);
}

static void print_cross(FILE *out, const rm_snapshot_t *snap)
{
    static const char *h[] = {"UPSTREAM", "DOWNSTREAM", "KIND",
                              "VIA",      "LAG",        "LAG_TIME"};
    rm_table_t *t = rm_table_new(6, h);
    size_t i, j;

    if (t == NULL)
        return;
    rm_table_align_right(t, 4);
    rm_table_align_right(t, 5);
    for (i = 0; i < snap->count; i++) {
        const rm_node_t *n = &snap->nodes[i];

        for (j = 0; j < n->nsubs; j++) {
            const rm_subscription_t *s = &n->subs[j];
            char lag[32], lagt[32];
            const char *cells[6];

            if (s->publisher[0] == '\0')
                continue;
            rm_format_bytes(s->lag_bytes, lag, sizeof(lag));
            rm_format_seconds(s->lag_seconds, lagt, sizeof(lagt));
            cells[0] = s->publisher;
            cells[1] = n->id;
            cells[2] = "logical";
            cells[3] = or_dash(s->name);
            cells[4] = lag;
            cells[5] = lagt;
            rm_table_add(t, cells);
        }
        if (n->receiver.present && n->receiver.primary[0] != '\0') {
            char lag[32], lagt[32];
            const char *cells[6];

            rm_format_bytes(n->receiver.lag_bytes, lag, sizeof(lag));
            rm_format_seconds(n->receiver.replay_delay_seconds, lagt,
                              sizeof(lagt));
            cells[0] = n->receiver.primary;
            cells[1] = n->id;
            cells[2] = "physical";
            cells[3] = or_dash(n->receiver.slot_name);
            cells[4] = lag;
            cells[5] = lagt;
            rm_table_add(t, cells);
        }
    }
    fprintf(out, "\nCROSS-NODE LAG (upstream's current LSN - what the "
                 "downstream received)\n");
    if (rm_table_rows(t) > 0)
        rm_table_print(t, out, "  ");
    else
        fprintf(out, "  (none)\n");
    rm_table_free(t);
}

void rm_print_status_table(FILE *out, const rm_snapshot_t *snap,
                           const rm_eval_t *ev, const rm_status_context_t *ctx)
{
    char when[48];
    size_t i;

    fmt_time_utc(snap->collected_ms, when, sizeof(when), 0);
    fprintf(out, "replmon status: %s - ", rm_status_name(ev->status));
    if (ctx != NULL && ctx->cluster) {
        fputs("cluster ", out);
        rm_text_fputs(out, ctx->cluster);
        fputs(", ", out);
    }
    fprintf(out, "%zu node%s, %s, collected in %.1f ms\n\n", snap->count,
            snap->count == 1 ? "" : "s", when,
            (double)snap->elapsed_us / 1000.0);
    print_nodes(out, snap, ev);
    print_slots(out, snap);
    print_subscriptions(out, snap);
    print_standbys(out, snap);
    print_receivers(out, snap);
    print_cross(out, snap);
    fprintf(out, "\nFINDINGS\n");
    if (ev->nreasons == 0)
        fprintf(out, "  none: every check passed\n");
    for (i = 0; i < ev->nreasons; i++) {
        const rm_reason_t *r = &ev->reasons[i];

        fprintf(out, "  %-8s  ",
                r->status == RM_STATUS_OK ? "NOTE" : rm_status_name(r->status));
        rm_text_fputs(out, r->node);
        fputs(": ", out);
        rm_text_fputs(out, r->message);
        fputc('\n', out);
    }
}

/* ---------------------------------------------------------------------- */
/* Status: JSON                                                           */
/* ---------------------------------------------------------------------- */

static json_t *j_i64(int64_t v)
{
    return v == RM_NONE ? json_null() : json_integer((json_int_t)v);
}

static json_t *j_f64(double v)
{
    return isnan(v) || isinf(v) ? json_null() : json_real(v);
}

static json_t *j_str(const char *s)
{
    return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

static json_t *j_bool(int v)
{
    return v < 0 ? json_null() : json_boolean(v);
}

static json_t *j_ms(int64_t epoch_ms)
{
    char buf[48];

    if (epoch_ms <= 0)
        return json_null();
    fmt_time_utc(epoch_ms, buf, sizeof(buf), 1);
    return json_string(buf);
}

/* json_object_set_new that records a failure instead of ignoring it. */
static void put(json_t *obj, const char *key, json_t *value, int *oom)
{
    if (value == NULL || json_object_set_new(obj, key, value) != 0)
        *oom = 1;
}

static void push(json_t *arr, json_t *value, int *oom)
{
    if (value == NULL || json_array_append_new(arr, value) != 0)
        *oom = 1;
}

static json_t *slot_json(const rm_slot_t *s, int *oom)
{
    json_t *o = json_object();

    if (o == NULL) {
        *oom = 1;
        return NULL;
    }
    put(o, "name", j_str(s->name), oom);
    put(o, "type", j_str(s->type), oom);
    put(o, "plugin", j_str(s->plugin), oom);
    put(o, "database", j_str(s->database), oom);
    put(o, "active", j_bool(s->active), oom);
    put(o, "temporary", j_bool(s->temporary), oom);
    put(o, "active_pid", j_i64(s->active_pid), oom);
    put(o, "restart_lsn", j_str(s->restart_lsn), oom);
    put(o, "confirmed_flush_lsn", j_str(s->confirmed_flush_lsn), oom);
    put(o, "retained_bytes", j_i64(s->retained_bytes), oom);
    put(o, "unconfirmed_bytes", j_i64(s->unconfirmed_bytes), oom);
    put(o, "wal_status", j_str(s->wal_status), oom);
    put(o, "safe_wal_size_bytes", j_i64(s->safe_wal_size), oom);
    put(o, "conflicting", j_bool(s->conflicting), oom);
    put(o, "inactive_seconds", j_f64(s->inactive_seconds), oom);
    put(o, "invalidation_reason", j_str(s->invalidation_reason), oom);
    put(o, "xmin_age", j_i64(s->xmin_age), oom);
    put(o, "catalog_xmin_age", j_i64(s->catalog_xmin_age), oom);
    put(o, "consumer", j_str(s->sender_application_name), oom);
    put(o, "sender_state", j_str(s->sender_state), oom);
    put(o, "unsent_bytes", j_i64(s->unsent_bytes), oom);
    put(o, "replay_lag_seconds", j_f64(s->replay_lag_seconds), oom);
    return o;
}

static json_t *sub_json(const rm_subscription_t *s, int *oom)
{
    json_t *o = json_object();

    if (o == NULL) {
        *oom = 1;
        return NULL;
    }
    put(o, "name", j_str(s->name), oom);
    put(o, "state", json_string(rm_subscription_state(s)), oom);
    put(o, "enabled", j_bool(s->enabled), oom);
    put(o, "slot", j_str(s->slot_name), oom);
    put(o, "publications", j_str(s->publications), oom);
    put(o, "worker_pid", j_i64(s->worker_pid), oom);
    put(o, "received_lsn", j_str(s->received_lsn), oom);
    put(o, "latest_end_lsn", j_str(s->latest_end_lsn), oom);
    put(o, "publisher", j_str(s->publisher), oom);
    put(o, "publisher_note", j_str(s->link_note), oom);
    put(o, "lag_bytes", j_i64(s->lag_bytes), oom);
    put(o, "lag_seconds", j_f64(s->lag_seconds), oom);
    put(o, "last_msg_age_seconds", j_f64(s->last_msg_age_seconds), oom);
    put(o, "transit_seconds", j_f64(s->transit_seconds), oom);
    put(o, "tables_total", j_i64(s->tables_total), oom);
    put(o, "tables_ready", j_i64(s->tables_ready), oom);
    put(o, "sync_workers", j_i64(s->sync_workers), oom);
    put(o, "apply_error_count", j_i64(s->apply_error_count), oom);
    put(o, "sync_error_count", j_i64(s->sync_error_count), oom);
    return o;
}

static json_t *standby_json(const rm_standby_t *s, int *oom)
{
    json_t *o = json_object();

    if (o == NULL) {
        *oom = 1;
        return NULL;
    }
    put(o, "application_name", j_str(s->application_name), oom);
    put(o, "client_addr", j_str(s->client_addr), oom);
    put(o, "client_port", j_i64(s->client_port), oom);
    put(o, "pid", j_i64(s->pid), oom);
    put(o, "state", j_str(s->state), oom);
    put(o, "sync_state", j_str(s->sync_state), oom);
    put(o, "sent_lsn", j_str(s->sent_lsn), oom);
    put(o, "write_lsn", j_str(s->write_lsn), oom);
    put(o, "flush_lsn", j_str(s->flush_lsn), oom);
    put(o, "replay_lsn", j_str(s->replay_lsn), oom);
    put(o, "pending_bytes", j_i64(s->pending_bytes), oom);
    put(o, "lag_bytes", j_i64(s->replay_bytes), oom);
    put(o, "write_lag_seconds", j_f64(s->write_lag_seconds), oom);
    put(o, "flush_lag_seconds", j_f64(s->flush_lag_seconds), oom);
    put(o, "replay_lag_seconds", j_f64(s->replay_lag_seconds), oom);
    put(o, "reply_age_seconds", j_f64(s->reply_age_seconds), oom);
    return o;
}

static json_t *receiver_json(const rm_node_t *n, int *oom)
{
    const rm_receiver_t *r = &n->receiver;
    json_t *o;

    if (!r->present)
        return json_null();
    o = json_object();
    if (o == NULL) {
        *oom = 1;
        return NULL;
    }
    put(o, "status", j_str(r->status), oom);
    put(o, "upstream", j_str(r->primary), oom);
    put(o, "sender_host", j_str(r->sender_host), oom);
    put(o, "sender_port", j_i64(r->sender_port), oom);
    put(o, "slot", j_str(r->slot_name), oom);
    put(o, "receive_lsn", j_str(r->receive_lsn), oom);
    put(o, "replay_lsn", j_str(r->replay_lsn), oom);
    put(o, "written_lsn", j_str(r->written_lsn), oom);
    put(o, "flushed_lsn", j_str(r->received_lsn), oom);
    put(o, "replay_backlog_bytes", j_i64(r->replay_backlog_bytes), oom);
    put(o, "replay_delay_seconds", j_f64(r->replay_delay_seconds), oom);
    put(o, "last_msg_age_seconds", j_f64(r->last_msg_age_seconds), oom);
    put(o, "paused", j_bool(r->paused), oom);
    put(o, "lag_bytes", j_i64(r->lag_bytes), oom);
    return o;
}

static json_t *roles_json(int roles, int *oom)
{
    static const struct {
        int flag;
        const char *name;
    } names[] = {{RM_ROLE_PRIMARY, "primary"},
                 {RM_ROLE_STANDBY, "standby"},
                 {RM_ROLE_PUBLISHER, "publisher"},
                 {RM_ROLE_SUBSCRIBER, "subscriber"}};
    json_t *a = json_array();
    size_t i;

    if (a == NULL) {
        *oom = 1;
        return NULL;
    }
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (roles & names[i].flag)
            push(a, json_string(names[i].name), oom);
    }
    return a;
}

static json_t *node_json(const rm_node_t *n, rm_status_t status, int *oom)
{
    json_t *o = json_object(), *sec, *arr, *h;
    size_t i;

    if (o == NULL) {
        *oom = 1;
        return NULL;
    }
    put(o, "id", json_string(n->id), oom);
    put(o, "status", json_string(rm_status_name(status)), oom);
    put(o, "state", json_string(node_state_text(n)), oom);
    put(o, "reachable", json_boolean(n->reachable), oom);
    put(o, "error", n->have_facts ? json_null() : j_str(n->error), oom);
    put(o, "roles", roles_json(rm_node_roles(n), oom), oom);
    put(o, "server_version",
        n->server_version > 0 ? json_integer(n->server_version) : json_null(),
        oom);
    put(o, "sql_row",
        n->sql_major > 0 ? json_integer(n->sql_major) : json_null(), oom);
    put(o, "in_recovery",
        n->have_facts ? json_boolean(n->in_recovery) : json_null(), oom);
    put(o, "current_lsn", n->have_facts ? j_str(n->current_lsn) : json_null(),
        oom);
    put(o, "wal_level", n->have_facts ? j_str(n->wal_level) : json_null(), oom);
    put(o, "database", n->have_facts ? j_str(n->database) : json_null(), oom);
    put(o, "latency_ms",
        n->have_health && n->health.latency_us > 0
            ? json_real((double)n->health.latency_us / 1000.0)
            : json_null(),
        oom);
    if (n->have_health) {
        h = json_object();
        if (h != NULL) {
            put(h, "consecutive_failures",
                json_integer(n->health.consecutive_failures), oom);
            put(h, "retry_attempt", json_integer(n->health.retry_attempt), oom);
            put(h, "last_check", j_ms(n->health.last_check_ms), oom);
            put(h, "last_ok", j_ms(n->health.last_ok_ms), oom);
            put(h, "state_since", j_ms(n->health.state_since_ms), oom);
            put(h, "next_retry", j_ms(n->health.next_retry_ms), oom);
            put(h, "last_error", j_str(n->health.last_error), oom);
            put(h, "last_sqlstate", j_str(n->health.last_sqlstate), oom);
        }
        put(o, "health", h, oom);
    } else {
        put(o, "health", json_null(), oom);
    }
    if (n->have_stats) {
        json_t *p = json_object();

        if (p == NULL) {
            *oom = 1;
        } else {
            put(p, "total", json_integer(n->stats.total), oom);
            put(p, "idle", json_integer(n->stats.idle), oom);
            put(p, "active", json_integer(n->stats.active), oom);
            put(p, "waiting", json_integer(n->stats.waiting), oom);
            put(p, "min", json_integer(n->stats.min), oom);
            put(p, "max", json_integer(n->stats.max), oom);
            put(p, "queries", json_integer((json_int_t)n->stats.queries), oom);
            put(p, "errors", json_integer((json_int_t)n->stats.errors), oom);
            put(p, "timeouts", json_integer((json_int_t)n->stats.timeouts),
                oom);
            put(p, "connections_opened",
                json_integer((json_int_t)n->stats.conns_opened), oom);
            put(p, "connections_closed",
                json_integer((json_int_t)n->stats.conns_closed), oom);
            put(o, "pool", p, oom);
        }
    } else {
        put(o, "pool", json_null(), oom);
    }
    sec = json_object();
    if (sec == NULL) {
        *oom = 1;
    } else {
        for (i = RM_SQL_SLOTS; i < RM_SQL_SECTION_COUNT; i++) {
            json_t *s = json_object();

            if (s == NULL) {
                *oom = 1;
                continue;
            }
            put(s, "state",
                json_string(rm_section_state_name(n->sections[i].state)), oom);
            put(s, "error", j_str(n->sections[i].error), oom);
            put(sec, rm_sql_section_name((rm_sql_section_t)i), s, oom);
        }
        put(o, "sections", sec, oom);
    }
    arr = json_array();
    for (i = 0; arr != NULL && i < n->nslots; i++)
        push(arr, slot_json(&n->slots[i], oom), oom);
    put(o, "slots", arr, oom);
    arr = json_array();
    for (i = 0; arr != NULL && i < n->nsubs; i++)
        push(arr, sub_json(&n->subs[i], oom), oom);
    put(o, "subscriptions", arr, oom);
    arr = json_array();
    for (i = 0; arr != NULL && i < n->nstandbys; i++)
        push(arr, standby_json(&n->standbys[i], oom), oom);
    put(o, "standbys", arr, oom);
    put(o, "receiver", receiver_json(n, oom), oom);
    return o;
}

static json_t *cross_json(const rm_snapshot_t *snap, int *oom)
{
    json_t *arr = json_array();
    size_t i, j;

    if (arr == NULL) {
        *oom = 1;
        return NULL;
    }
    for (i = 0; i < snap->count; i++) {
        const rm_node_t *n = &snap->nodes[i];

        for (j = 0; j < n->nsubs; j++) {
            const rm_subscription_t *s = &n->subs[j];
            json_t *o;

            if (s->publisher[0] == '\0')
                continue;
            o = json_object();
            if (o == NULL) {
                *oom = 1;
                continue;
            }
            put(o, "kind", json_string("logical"), oom);
            put(o, "upstream", json_string(s->publisher), oom);
            put(o, "downstream", json_string(n->id), oom);
            put(o, "via", j_str(s->name), oom);
            put(o, "lag_bytes", j_i64(s->lag_bytes), oom);
            put(o, "lag_seconds", j_f64(s->lag_seconds), oom);
            push(arr, o, oom);
        }
        if (n->receiver.present && n->receiver.primary[0] != '\0') {
            json_t *o = json_object();

            if (o == NULL) {
                *oom = 1;
                continue;
            }
            put(o, "kind", json_string("physical"), oom);
            put(o, "upstream", json_string(n->receiver.primary), oom);
            put(o, "downstream", json_string(n->id), oom);
            put(o, "via", j_str(n->receiver.slot_name), oom);
            put(o, "lag_bytes", j_i64(n->receiver.lag_bytes), oom);
            put(o, "lag_seconds", j_f64(n->receiver.replay_delay_seconds), oom);
            push(arr, o, oom);
        }
    }
    return arr;
}

json_t *rm_status_json(const rm_snapshot_t *snap, const rm_eval_t *ev,
                       const rm_status_context_t *ctx)
{
    json_t *doc = json_object(), *arr, *th;
    int oom = 0;
    size_t i;

    if (doc == NULL)
        return NULL;
    put(doc, "schema_version", json_integer(1), &oom);
    put(doc, "replmon_version", json_string(PGCM_VERSION_STRING), &oom);
    put(doc, "status", json_string(rm_status_name(ev->status)), &oom);
    put(doc, "exit_code", json_integer((int)ev->status), &oom);
    put(doc, "cluster",
        ctx != NULL && ctx->cluster ? json_string(ctx->cluster) : json_null(),
        &oom);
    put(doc, "collected_at", j_ms(snap->collected_ms), &oom);
    put(doc, "elapsed_ms", json_real((double)snap->elapsed_us / 1000.0), &oom);
    th = json_object();
    if (th != NULL && ctx != NULL && ctx->thresholds != NULL) {
        const rm_thresholds_t *t = ctx->thresholds;

        put(th, "replication_lag_warning_seconds",
            json_real((double)t->lag_warning_ms / 1000.0), &oom);
        put(th, "replication_lag_critical_seconds",
            json_real((double)t->lag_critical_ms / 1000.0), &oom);
        put(th, "slot_retention_warning_bytes",
            json_integer((json_int_t)t->slot_warning_bytes), &oom);
        put(th, "slot_retention_critical_bytes",
            json_integer((json_int_t)t->slot_critical_bytes), &oom);
    }
    put(doc, "thresholds", th, &oom);
    arr = json_array();
    for (i = 0; arr != NULL && i < ev->nreasons; i++) {
        json_t *r = json_object();

        if (r == NULL) {
            oom = 1;
            continue;
        }
        put(r, "node", json_string(ev->reasons[i].node), &oom);
        put(r, "severity",
            json_string(ev->reasons[i].status == RM_STATUS_OK
                            ? "NOTE"
                            : rm_status_name(ev->reasons[i].status)),
            &oom);
        put(r, "message", json_string(ev->reasons[i].message), &oom);
        push(arr, r, &oom);
    }
    put(doc, "findings", arr, &oom);
    arr = json_array();
    for (i = 0; arr != NULL && i < snap->count; i++)
        push(arr, node_json(&snap->nodes[i], ev->node_status[i], &oom), &oom);
    put(doc, "nodes", arr, &oom);
    put(doc, "cross_node_lag", cross_json(snap, &oom), &oom);
    if (oom) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

int rm_print_json(FILE *out, const json_t *doc, int precision)
{
    size_t flags = JSON_INDENT(2);

    if (precision > 0 && precision <= 31)
        flags |= JSON_REAL_PRECISION(precision);
    if (json_dumpf(doc, out, flags) != 0)
        return -1;
    fputc('\n', out);
    return ferror(out) ? -1 : 0;
}

/* ---------------------------------------------------------------------- */
/* Query report                                                           */
/* ---------------------------------------------------------------------- */

/* A result column identified by name and by which occurrence of that name
 * it is (so "SELECT 1, 1" keeps both ?column? columns). */
typedef struct colkey {
    const char *name;
    int occurrence;
} colkey_t;

static int column_of(const PGresult *res, const colkey_t *k)
{
    int c, seen = 0;

    for (c = 0; c < PQnfields(res); c++) {
        if (strcmp(PQfname(res, c), k->name) == 0 && seen++ == k->occurrence)
            return c;
    }
    return -1;
}

/* The merged column list of every answer that has columns, in order of
 * first appearance. */
static colkey_t *merge_columns(const rm_query_report_t *rep, size_t *count)
{
    colkey_t *keys = NULL;
    size_t n = 0, cap = 0, a, k;
    int c;

    for (a = 0; a < rep->count; a++) {
        const PGresult *res = rep->answers[a].res;

        if (res == NULL)
            continue;
        for (c = 0; c < PQnfields(res); c++) {
            colkey_t key;
            int d, found = 0;

            key.name = PQfname(res, c);
            key.occurrence = 0;
            for (d = 0; d < c; d++)
                key.occurrence += strcmp(PQfname(res, d), key.name) == 0;
            for (k = 0; k < n && !found; k++)
                found = strcmp(keys[k].name, key.name) == 0 &&
                        keys[k].occurrence == key.occurrence;
            if (found)
                continue;
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                colkey_t *grown = realloc(keys, ncap * sizeof(*grown));

                if (grown == NULL) {
                    free(keys);
                    *count = 0;
                    return NULL;
                }
                keys = grown;
                cap = ncap;
            }
            keys[n++] = key;
        }
    }
    *count = n;
    return keys;
}

static const char *answer_status_text(const rm_query_answer_t *a)
{
    return a->status == PGCM_OK ? "ok" : "error";
}

static void answer_error_text(const rm_query_answer_t *a, char *buf, size_t len)
{
    if (a->status == PGCM_OK) {
        snprintf(buf, len, "%s",
                 a->res != NULL ? PQcmdStatus((PGresult *)a->res) : "");
        return;
    }
    if (a->sqlstate != NULL && a->sqlstate[0] != '\0')
        snprintf(buf, len, "%s (SQLSTATE %s)",
                 a->error != NULL && a->error[0] ? a->error
                                                 : pgcm_strerror(a->status),
                 a->sqlstate);
    else
        snprintf(buf, len, "%s",
                 a->error != NULL && a->error[0] ? a->error
                                                 : pgcm_strerror(a->status));
}

static void print_query_table(FILE *out, const rm_query_report_t *rep)
{
    size_t nkeys = 0, a, k;
    colkey_t *keys = merge_columns(rep, &nkeys);
    size_t failed = 0;
    static const char *sh[] = {"NODE", "STATUS", "ROWS", "TIME", "RESULT"};
    rm_table_t *summary = rm_table_new(5, sh);

    if (nkeys > 0) {
        const char **headers = calloc(nkeys + 1, sizeof(*headers));
        const char **cells = calloc(nkeys + 1, sizeof(*cells));
        rm_table_t *t = NULL;

        if (headers != NULL && cells != NULL) {
            headers[0] = "node";
            for (k = 0; k < nkeys; k++)
                headers[k + 1] = keys[k].name;
            t = rm_table_new(nkeys + 1, headers);
        }
        for (a = 0; t != NULL && a < rep->count; a++) {
            const PGresult *res = rep->answers[a].res;
            int row;

            if (res == NULL)
                continue;
            for (row = 0; row < PQntuples(res); row++) {
                cells[0] = rep->answers[a].node_id;
                for (k = 0; k < nkeys; k++) {
                    int c = column_of(res, &keys[k]);

                    cells[k + 1] = c < 0 || PQgetisnull(res, row, c)
                                       ? ""
                                       : PQgetvalue(res, row, c);
                }
                rm_table_add(t, cells);
            }
        }
        if (t != NULL) {
            rm_table_print(t, out, NULL);
            fprintf(out, "(%zu row%s)\n\n", rm_table_rows(t),
                    rm_table_rows(t) == 1 ? "" : "s");
        }
        rm_table_free(t);
        free(headers);
        free(cells);
    }
    free(keys);
    if (summary == NULL)
        return;
    rm_table_align_right(summary, 2);
    rm_table_align_right(summary, 3);
    for (a = 0; a < rep->count; a++) {
        const rm_query_answer_t *ans = &rep->answers[a];
        char rows[24], time[32], result[600];
        const char *cells[5];

        if (ans->status == PGCM_OK && ans->res != NULL)
            snprintf(rows, sizeof(rows), "%d", PQntuples(ans->res));
        else
            snprintf(rows, sizeof(rows), "-");
        fmt_ms(ans->elapsed_us, time, sizeof(time));
        answer_error_text(ans, result, sizeof(result));
        failed += ans->status != PGCM_OK;
        cells[0] = ans->node_id;
        cells[1] = answer_status_text(ans);
        cells[2] = rows;
        cells[3] = time;
        cells[4] = result;
        rm_table_add(summary, cells);
    }
    rm_table_print(summary, out, NULL);
    rm_table_free(summary);
    fprintf(out, "%zu node%s, %zu ok, %zu failed, %.1f ms\n", rep->count,
            rep->count == 1 ? "" : "s", rep->count - failed, failed,
            (double)rep->elapsed_us / 1000.0);
}

/* A value as JSON according to its column type. */
static json_t *value_json(const PGresult *res, int row, int col)
{
    const char *v;
    Oid type;

    if (PQgetisnull(res, row, col))
        return json_null();
    v = PQgetvalue(res, row, col);
    type = PQftype(res, col);
    switch (type) {
    case 16: /* bool */
        return json_boolean(v[0] == 't');
    case 20: /* int8 */
    case 21: /* int2 */
    case 23: /* int4 */
    case 26: /* oid */
    {
        char *end;
        long long x = strtoll(v, &end, 10);

        return *end == '\0' ? json_integer((json_int_t)x) : json_string(v);
    }
    case 700:   /* float4 */
    case 701: { /* float8 */
        char *end;
        double x = strtod(v, &end);

        if (*end != '\0' || isnan(x) || isinf(x))
            return json_string(v);
        return json_real(x);
    }
    case 114:    /* json */
    case 3802: { /* jsonb */
        json_t *parsed = json_loads(v, JSON_DECODE_ANY, NULL);

        return parsed != NULL ? parsed : json_string(v);
    }
    default:
        return json_string(v);
    }
}

json_t *rm_query_json(const rm_query_report_t *rep)
{
    json_t *doc = json_object(), *params, *nodes;
    size_t a, failed = 0;
    int oom = 0, i;

    if (doc == NULL)
        return NULL;
    put(doc, "sql", json_string(rep->sql ? rep->sql : ""), &oom);
    params = json_array();
    for (i = 0; params != NULL && i < rep->nparams; i++)
        push(params, rep->params[i] ? json_string(rep->params[i]) : json_null(),
             &oom);
    put(doc, "params", params, &oom);
    put(doc, "target", json_string(rep->target ? rep->target : "all"), &oom);
    put(doc, "elapsed_us", json_integer((json_int_t)rep->elapsed_us), &oom);
    nodes = json_array();
    for (a = 0; nodes != NULL && a < rep->count; a++) {
        const rm_query_answer_t *ans = &rep->answers[a];
        json_t *o = json_object(), *cols, *rows, *err;
        const PGresult *res = ans->res;
        int r, c;

        if (o == NULL) {
            oom = 1;
            break;
        }
        failed += ans->status != PGCM_OK;
        put(o, "node", json_string(ans->node_id), &oom);
        put(o, "status", json_string(answer_status_text(ans)), &oom);
        put(o, "elapsed_us", json_integer((json_int_t)ans->elapsed_us), &oom);
        put(o, "server_version",
            ans->server_version > 0 ? json_integer(ans->server_version)
                                    : json_null(),
            &oom);
        if (ans->status != PGCM_OK || res == NULL) {
            err = json_object();
            if (err != NULL) {
                put(err, "code", json_string(pgcm_err_name(ans->status)), &oom);
                put(err, "sqlstate", j_str(ans->sqlstate), &oom);
                put(err, "message",
                    json_string(ans->error && ans->error[0]
                                    ? ans->error
                                    : pgcm_strerror(ans->status)),
                    &oom);
            }
            put(o, "error", err, &oom);
            put(o, "command", json_null(), &oom);
            put(o, "columns", json_array(), &oom);
            put(o, "rows", json_array(), &oom);
            push(nodes, o, &oom);
            continue;
        }
        put(o, "error", json_null(), &oom);
        put(o, "command", json_string(PQcmdStatus((PGresult *)res)), &oom);
        cols = json_array();
        for (c = 0; cols != NULL && c < PQnfields(res); c++) {
            json_t *col = json_object();

            if (col == NULL) {
                oom = 1;
                break;
            }
            put(col, "name", json_string(PQfname(res, c)), &oom);
            put(col, "type_oid", json_integer((json_int_t)PQftype(res, c)),
                &oom);
            push(cols, col, &oom);
        }
        put(o, "columns", cols, &oom);
        rows = json_array();
        for (r = 0; rows != NULL && r < PQntuples(res); r++) {
            json_t *row = json_array();

            if (row == NULL) {
                oom = 1;
                break;
            }
            for (c = 0; c < PQnfields(res); c++)
                push(row, value_json(res, r, c), &oom);
            push(rows, row, &oom);
        }
        put(o, "rows", rows, &oom);
        push(nodes, o, &oom);
    }
    put(doc, "nodes", nodes, &oom);
    put(doc, "succeeded", json_integer((json_int_t)(rep->count - failed)),
        &oom);
    put(doc, "failed", json_integer((json_int_t)failed), &oom);
    if (oom) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

static void print_query_csv(FILE *out, FILE *err, const rm_query_report_t *rep)
{
    size_t nkeys = 0, a, k;
    colkey_t *keys = merge_columns(rep, &nkeys);

    fputs("node", out);
    for (k = 0; k < nkeys; k++) {
        fputc(',', out);
        rm_csv_field(out, keys[k].name, 0);
    }
    fputc('\n', out);
    for (a = 0; a < rep->count; a++) {
        const rm_query_answer_t *ans = &rep->answers[a];
        const PGresult *res = ans->res;
        char text[600];
        int row;

        answer_error_text(ans, text, sizeof(text));
        fputs("replmon: node ", err);
        rm_text_fputs(err, ans->node_id);
        fprintf(err, ": %s, %d rows, %.1f ms%s", answer_status_text(ans),
                res != NULL && ans->status == PGCM_OK ? PQntuples(res) : 0,
                (double)ans->elapsed_us / 1000.0, text[0] ? ": " : "");
        rm_text_fputs(err, text);
        fputc('\n', err);
        if (res == NULL || ans->status != PGCM_OK)
            continue;
        for (row = 0; row < PQntuples(res); row++) {
            rm_csv_field(out, ans->node_id, 0);
            for (k = 0; k < nkeys; k++) {
                int c = column_of(res, &keys[k]);

                fputc(',', out);
                if (c >= 0)
                    rm_csv_field(out, PQgetvalue(res, row, c),
                                 PQgetisnull(res, row, c));
            }
            fputc('\n', out);
        }
    }
    free(keys);
}

size_t rm_print_query(FILE *out, FILE *err, rm_format_t format,
                      const rm_query_report_t *rep)
{
    size_t a, failed = 0;

    for (a = 0; a < rep->count; a++)
        failed += rep->answers[a].status != PGCM_OK;
    switch (format) {
    case RM_FORMAT_TABLE:
        print_query_table(out, rep);
        break;
    case RM_FORMAT_CSV:
        print_query_csv(out, err, rep);
        break;
    case RM_FORMAT_JSON: {
        json_t *doc = rm_query_json(rep);

        if (doc == NULL) {
            fprintf(err, "replmon: out of memory while building the JSON "
                         "report\n");
            return rep->count ? rep->count : 1;
        }
        /* Full precision: float columns keep their exact value. */
        rm_print_json(out, doc, 0);
        json_decref(doc);
        break;
    }
    }
    return failed;
}
