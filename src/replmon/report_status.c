/* SPDX-License-Identifier: MIT */
/*
 * report_status.c - the status report: for a person (header line, the
 * node, slot, subscription, standby, receiver and cross-node lag tables,
 * the findings) and as JSON (schema_version 1, docs/status-json.md).
 */
#include "report_status.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conflicts.h"
#include "pgcm.h"

/* ---------------------------------------------------------------------- */
/* Table                                                                  */
/* ---------------------------------------------------------------------- */

static const char *yes_no(int v)
{
    return v < 0 ? "-" : v ? "yes" : "no";
}

static const char *or_dash(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : "-";
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
    case RM_SECTION_NOT_WANTED:
        return "not wanted (skip_sections)";
    case RM_SECTION_SKIPPED:
    case RM_SECTION_OK:
        break;
    }
    return NULL;
}

static void print_section_notes(FILE *out, const rm_snapshot_t *snap,
                                rm_sql_section_t s, const char *label)
{
    size_t i;

    for (i = 0; i < snap->count; i++) {
        const char *note = section_note(&snap->nodes[i], s);
        const char *grant = snap->nodes[i].sections[s].grant;

        if (note != NULL) {
            fputs("  ", out);
            rm_text_fputs(out, snap->nodes[i].id);
            fprintf(out, ": %s%s", label, note);
            if (grant[0] != '\0') {
                fputs(": ", out);
                rm_text_fputs(out, grant);
            }
            fputc('\n', out);
        }
    }
}

/* Print a section: its title, its table (or "(none)"), its notes; frees t.
 * Nothing when t is NULL (out of memory). */
static void print_section(FILE *out, const rm_snapshot_t *snap,
                          const char *title, rm_table_t *t,
                          rm_sql_section_t kind)
{
    if (t == NULL)
        return;
    rm_table_print_section(out, title, t);
    print_section_notes(out, snap, kind, "");
    if (kind == RM_SQL_SUBSCRIPTIONS)
        print_section_notes(out, snap, RM_SQL_PGLOGICAL, "pglogical ");
    rm_table_free(t);
}

/* The two texts of a lag: bytes and time behind. A row points its cells
 * at them, then fills them (fmt_lag) before it is added. */
typedef struct lag_text {
    char bytes[32];
    char time[32];
} lag_text_t;

static void fmt_lag(lag_text_t *l, int64_t bytes, double seconds)
{
    rm_format_bytes(bytes, l->bytes, sizeof(l->bytes));
    rm_format_seconds(seconds, l->time, sizeof(l->time));
}

static void print_nodes(FILE *out, const rm_snapshot_t *snap,
                        const rm_eval_t *ev)
{
    static const char *h[] = {"NODE",    "STATUS",  "STATE", "ROLE",
                              "VERSION", "LATENCY", "LSN",   "POOL T/I/A/W",
                              "QUERIES", "ERRORS"};
    rm_table_t *t = rm_table_new_aligned(h, "lllllrllrr");
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i < snap->count; i++) {
        const rm_node_t *n = &snap->nodes[i];
        char roles[64], ver[16], lat[32], pool[48], q[24], e[24];
        const char *cells[] = {n->id,
                               rm_status_name(ev->node_status[i]),
                               node_state_text(n),
                               n->have_facts ? roles : "-",
                               ver,
                               lat,
                               n->have_facts ? or_dash(n->current_lsn) : "-",
                               pool,
                               q,
                               e};

        rm_roles_format(rm_node_roles(n), roles, sizeof(roles));
        fmt_version(n->server_version, ver, sizeof(ver));
        if (n->have_health && n->health.latency_us > 0 &&
            n->health.state != PGCM_NODE_UNHEALTHY)
            rm_fmt_ms(n->health.latency_us, lat, sizeof(lat));
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
        rm_table_add(t, cells);
    }
    rm_table_print(t, out, NULL);
    rm_table_free(t);
}

/* Adds the rows of node n to t. */
typedef void (*node_rows_fn)(rm_table_t *t, const rm_node_t *n);

/* A table of these headers and alignment (rm_table_new_aligned) with the
 * rows of every node of snap, in node order; NULL when out of memory. */
static rm_table_t *node_table(const rm_snapshot_t *snap,
                              const char *const *headers, const char *align,
                              node_rows_fn rows)
{
    rm_table_t *t = rm_table_new_aligned(headers, align);
    size_t i;

    for (i = 0; t != NULL && i < snap->count; i++)
        rows(t, &snap->nodes[i]);
    return t;
}

static void slot_rows(rm_table_t *t, const rm_node_t *n)
{
    size_t j;

    for (j = 0; j < n->nslots; j++) {
        const rm_slot_t *s = &n->slots[j];
        char retained[32], lag_time[32];
        const char *cells[] = {n->id,
                               or_dash(s->name),
                               or_dash(s->type),
                               yes_no(s->active),
                               retained,
                               or_dash(s->wal_status),
                               or_dash(s->sender_application_name),
                               or_dash(s->sender_state),
                               lag_time};

        rm_format_bytes(s->retained_bytes, retained, sizeof(retained));
        rm_format_seconds(s->replay_lag_seconds, lag_time, sizeof(lag_time));
        rm_table_add(t, cells);
    }
}

static void print_slots(FILE *out, const rm_snapshot_t *snap)
{
    static const char *h[] = {"NODE",     "SLOT",     "TYPE",
                              "ACTIVE",   "RETAINED", "WAL_STATUS",
                              "CONSUMER", "SENDER",   "LAG_TIME"};

    print_section(out, snap, "\nREPLICATION SLOTS",
                  node_table(snap, h, "llllrlllr", slot_rows), RM_SQL_SLOTS);
}

/* "N/M ready", or "-" when not reported. */
static void fmt_tables(const rm_subscription_t *s, char *buf, size_t len)
{
    if (s->tables_total != RM_NONE && s->tables_ready != RM_NONE)
        snprintf(buf, len, "%" PRId64 "/%" PRId64 " ready", s->tables_ready,
                 s->tables_total);
    else
        snprintf(buf, len, "-");
}

/* "A apply, S sync[, C conflicts]", or "-" when not reported. */
static void fmt_errors(const rm_subscription_t *s, char *buf, size_t len)
{
    int64_t confl = RM_NONE;
    size_t k;

    for (k = 0; k < RM_CONFL_COUNT; k++) {
        if (s->confl[k] != RM_NONE)
            confl = (confl == RM_NONE ? 0 : confl) + s->confl[k];
    }
    if (s->apply_error_count != RM_NONE && confl != RM_NONE)
        snprintf(buf, len,
                 "%" PRId64 " apply, %" PRId64 " sync, %" PRId64 " conflicts",
                 s->apply_error_count,
                 s->sync_error_count == RM_NONE ? 0 : s->sync_error_count,
                 confl);
    else if (s->apply_error_count != RM_NONE)
        snprintf(buf, len, "%" PRId64 " apply, %" PRId64 " sync",
                 s->apply_error_count,
                 s->sync_error_count == RM_NONE ? 0 : s->sync_error_count);
    else
        snprintf(buf, len, "-");
}

static void subscription_rows(rm_table_t *t, const rm_node_t *n)
{
    size_t j;

    for (j = 0; j < n->nsubs; j++) {
        const rm_subscription_t *s = &n->subs[j];
        lag_text_t l;
        char age[32], tables[64], errs[128], rate[32];
        const char *cells[] = {n->id,
                               or_dash(s->name),
                               rm_subscription_state(s),
                               or_dash(s->publisher),
                               l.bytes,
                               l.time,
                               age,
                               tables,
                               errs,
                               rate,
                               rm_sub_kind_name(s->kind)};

        fmt_lag(&l, s->lag_bytes, s->lag_seconds);
        rm_format_seconds(s->last_msg_age_seconds, age, sizeof(age));
        fmt_tables(s, tables, sizeof(tables));
        fmt_errors(s, errs, sizeof(errs));
        if (isnan(s->conflict_rate_per_min))
            snprintf(rate, sizeof(rate), "-");
        else
            snprintf(rate, sizeof(rate), "%.1f", s->conflict_rate_per_min);
        rm_table_add(t, cells);
    }
}

static void print_subscriptions(FILE *out, const rm_snapshot_t *snap)
{
    static const char *h[] = {"NODE",   "SUBSCRIPTION", "STATE",    "PUBLISHER",
                              "LAG",    "LAG_TIME",     "LAST_MSG", "TABLES",
                              "ERRORS", "PER_MIN",      "KIND"};

    print_section(out, snap, "\nSUBSCRIPTIONS",
                  node_table(snap, h, "llllrrrllrl", subscription_rows),
                  RM_SQL_SUBSCRIPTIONS);
}

static void standby_rows(rm_table_t *t, const rm_node_t *n)
{
    size_t j;

    for (j = 0; j < n->nstandbys; j++) {
        const rm_standby_t *s = &n->standbys[j];
        lag_text_t l;
        const char *cells[] = {n->id,
                               or_dash(s->application_name),
                               or_dash(s->client_addr),
                               or_dash(s->state),
                               or_dash(s->sync_state),
                               l.bytes,
                               l.time};

        fmt_lag(&l, s->replay_bytes, s->lag_seconds);
        rm_table_add(t, cells);
    }
}

static void print_standbys(FILE *out, const rm_snapshot_t *snap)
{
    static const char *h[] = {"NODE", "STANDBY", "CLIENT",  "STATE",
                              "SYNC", "LAG",     "LAG_TIME"};

    print_section(out, snap, "\nSTANDBYS (as their primary sees them)",
                  node_table(snap, h, "lllllrr", standby_rows),
                  RM_SQL_STANDBYS);
}

/* The RECEIVER cell. */
static const char *receiver_status(const rm_node_t *n)
{
    if (n->sections[RM_SQL_RECEIVER].state == RM_SECTION_NO_PERMISSION)
        return "no permission";
    return n->receiver.status ? n->receiver.status : "not running";
}

/* A standby's own view of its WAL receiver: one row, when it has one. */
static void receiver_rows(rm_table_t *t, const rm_node_t *n)
{
    const rm_receiver_t *r = &n->receiver;
    lag_text_t l; /* the backlog and the delay */
    const char *cells[] = {n->id,
                           receiver_status(n),
                           or_dash(r->primary),
                           or_dash(r->receive_lsn),
                           or_dash(r->replay_lsn),
                           l.bytes,
                           l.time,
                           or_dash(r->replay_delay_method),
                           yes_no(r->paused)};

    if (!r->present)
        return;
    fmt_lag(&l, r->replay_backlog_bytes, r->replay_delay_seconds);
    rm_table_add(t, cells);
}

static void print_receivers(FILE *out, const rm_snapshot_t *snap)
{
    static const char *h[] = {"NODE",     "RECEIVER", "UPSTREAM",
                              "RECEIVED", "REPLAYED", "BACKLOG",
                              "DELAY",    "DELAY_BY", "PAUSED"};
    rm_table_t *t = node_table(snap, h, "lllllrrll", receiver_rows);

    if (t == NULL)
        return;
    if (rm_table_rows(t) > 0) {
        fprintf(out, "\nSTANDBY RECEIVERS (as the standbys see themselves)\n");
        rm_table_print(t, out, "  ");
    }
    rm_table_free(t);
}

/* One row of the cross-node lag table. */
static void add_link(rm_table_t *t, const char *upstream,
                     const char *downstream, const char *kind, const char *via,
                     int64_t bytes, double seconds)
{
    lag_text_t l;
    const char *cells[] = {upstream,     downstream, kind,
                           or_dash(via), l.bytes,    l.time};

    fmt_lag(&l, bytes, seconds);
    rm_table_add(t, cells);
}

/* The links into node n from upstreams of known name: its subscriptions,
 * then its WAL receiver. */
static void link_rows(rm_table_t *t, const rm_node_t *n)
{
    const rm_receiver_t *r = &n->receiver;
    size_t j;

    for (j = 0; j < n->nsubs; j++) {
        const rm_subscription_t *s = &n->subs[j];

        if (s->publisher[0] != '\0')
            add_link(t, s->publisher, n->id,
                     s->kind == RM_SUB_PGLOGICAL ? "pglogical" : "logical",
                     s->name, s->lag_bytes, s->lag_seconds);
    }
    if (r->present && r->primary[0] != '\0')
        add_link(t, r->primary, n->id, "physical", r->slot_name, r->lag_bytes,
                 r->replay_delay_seconds);
}

static void print_cross(FILE *out, const rm_snapshot_t *snap)
{
    static const char *h[] = {"UPSTREAM", "DOWNSTREAM", "KIND",
                              "VIA",      "LAG",        "LAG_TIME"};
    rm_table_t *t = node_table(snap, h, "llllrr", link_rows);

    if (t == NULL)
        return;
    rm_table_print_section(out,
                           "\nCROSS-NODE LAG (upstream's current LSN - what "
                           "the downstream received)",
                           t);
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
/* JSON                                                                   */
/* ---------------------------------------------------------------------- */

static json_t *j_i64(int64_t v)
{
    return v == RM_NONE ? json_null() : json_integer((json_int_t)v);
}

static json_t *j_f64(double v)
{
    return isnan(v) || isinf(v) ? json_null() : json_real(v);
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

/* j, or NULL with *oom set when it could not be made. */
static json_t *json_made(json_t *j, int *oom)
{
    if (j == NULL)
        *oom = 1;
    return j;
}

static json_t *slot_json(const rm_slot_t *s, int *oom)
{
    json_t *o = json_made(json_object(), oom);

    if (o == NULL)
        return NULL;
    rm_json_put(o, "name", rm_json_text(s->name), oom);
    rm_json_put(o, "type", rm_json_text(s->type), oom);
    rm_json_put(o, "plugin", rm_json_text(s->plugin), oom);
    rm_json_put(o, "database", rm_json_text(s->database), oom);
    rm_json_put(o, "active", j_bool(s->active), oom);
    rm_json_put(o, "temporary", j_bool(s->temporary), oom);
    rm_json_put(o, "active_pid", j_i64(s->active_pid), oom);
    rm_json_put(o, "restart_lsn", rm_json_text(s->restart_lsn), oom);
    rm_json_put(o, "confirmed_flush_lsn", rm_json_text(s->confirmed_flush_lsn),
                oom);
    rm_json_put(o, "retained_bytes", j_i64(s->retained_bytes), oom);
    rm_json_put(o, "unconfirmed_bytes", j_i64(s->unconfirmed_bytes), oom);
    rm_json_put(o, "wal_status", rm_json_text(s->wal_status), oom);
    rm_json_put(o, "safe_wal_size_bytes", j_i64(s->safe_wal_size), oom);
    rm_json_put(o, "conflicting", j_bool(s->conflicting), oom);
    rm_json_put(o, "inactive_seconds", j_f64(s->inactive_seconds), oom);
    rm_json_put(o, "invalidation_reason", rm_json_text(s->invalidation_reason),
                oom);
    rm_json_put(o, "xmin_age", j_i64(s->xmin_age), oom);
    rm_json_put(o, "catalog_xmin_age", j_i64(s->catalog_xmin_age), oom);
    rm_json_put(o, "consumer", rm_json_text(s->sender_application_name), oom);
    rm_json_put(o, "sender_state", rm_json_text(s->sender_state), oom);
    rm_json_put(o, "unsent_bytes", j_i64(s->unsent_bytes), oom);
    rm_json_put(o, "unacked_bytes", j_i64(s->unacked_bytes), oom);
    rm_json_put(o, "replay_lag_seconds", j_f64(s->replay_lag_seconds), oom);
    rm_json_put(o, "reply_age_seconds", j_f64(s->reply_age_seconds), oom);
    return o;
}

static json_t *sub_json(const rm_subscription_t *s, int *oom)
{
    json_t *o = json_made(json_object(), oom), *confl;
    size_t k;

    if (o == NULL)
        return NULL;
    rm_json_put(o, "name", rm_json_text(s->name), oom);
    rm_json_put(o, "kind", json_string(rm_sub_kind_name(s->kind)), oom);
    rm_json_put(o, "state", json_string(rm_subscription_state(s)), oom);
    rm_json_put(o, "enabled", j_bool(s->enabled), oom);
    rm_json_put(o, "slot", rm_json_text(s->slot_name), oom);
    if (s->kind == RM_SUB_PGLOGICAL) {
        rm_json_put(o, "publications", json_null(), oom);
        rm_json_put(o, "replication_sets", rm_json_text(s->publications), oom);
    } else {
        rm_json_put(o, "publications", rm_json_text(s->publications), oom);
        rm_json_put(o, "replication_sets", json_null(), oom);
    }
    rm_json_put(o, "provider_node", rm_json_text(s->provider_node), oom);
    rm_json_put(o, "pglogical_status", rm_json_text(s->pglogical_status), oom);
    rm_json_put(o, "worker_pid", j_i64(s->worker_pid), oom);
    rm_json_put(o, "received_lsn", rm_json_text(s->received_lsn), oom);
    rm_json_put(o, "latest_end_lsn", rm_json_text(s->latest_end_lsn), oom);
    rm_json_put(o, "publisher", rm_json_text(s->publisher), oom);
    rm_json_put(o, "publisher_note", rm_json_text(s->link_note), oom);
    rm_json_put(o, "lag_bytes", j_i64(s->lag_bytes), oom);
    rm_json_put(o, "lag_seconds", j_f64(s->lag_seconds), oom);
    rm_json_put(o, "lag_method", rm_json_text(s->lag_method), oom);
    rm_json_put(o, "last_msg_age_seconds", j_f64(s->last_msg_age_seconds), oom);
    rm_json_put(o, "transit_seconds", j_f64(s->transit_seconds), oom);
    rm_json_put(o, "tables_total", j_i64(s->tables_total), oom);
    rm_json_put(o, "tables_ready", j_i64(s->tables_ready), oom);
    rm_json_put(o, "sync_workers", j_i64(s->sync_workers), oom);
    rm_json_put(o, "apply_error_count", j_i64(s->apply_error_count), oom);
    rm_json_put(o, "sync_error_count", j_i64(s->sync_error_count), oom);
    confl = json_object();
    for (k = 0; confl != NULL && k < RM_CONFL_COUNT; k++)
        rm_json_put(confl, rm_confl_name((rm_confl_t)k), j_i64(s->confl[k]),
                    oom);
    rm_json_put(o, "conflicts", confl, oom);
    rm_json_put(o, "conflict_count", j_i64(rm_subscription_conflicts(s)), oom);
    rm_json_put(o, "conflict_rate_per_min", j_f64(s->conflict_rate_per_min),
                oom);
    return o;
}

static json_t *standby_json(const rm_standby_t *s, int *oom)
{
    json_t *o = json_made(json_object(), oom);

    if (o == NULL)
        return NULL;
    rm_json_put(o, "application_name", rm_json_text(s->application_name), oom);
    rm_json_put(o, "client_addr", rm_json_text(s->client_addr), oom);
    rm_json_put(o, "client_port", j_i64(s->client_port), oom);
    rm_json_put(o, "pid", j_i64(s->pid), oom);
    rm_json_put(o, "state", rm_json_text(s->state), oom);
    rm_json_put(o, "sync_state", rm_json_text(s->sync_state), oom);
    rm_json_put(o, "sent_lsn", rm_json_text(s->sent_lsn), oom);
    rm_json_put(o, "write_lsn", rm_json_text(s->write_lsn), oom);
    rm_json_put(o, "flush_lsn", rm_json_text(s->flush_lsn), oom);
    rm_json_put(o, "replay_lsn", rm_json_text(s->replay_lsn), oom);
    rm_json_put(o, "pending_bytes", j_i64(s->pending_bytes), oom);
    rm_json_put(o, "lag_bytes", j_i64(s->replay_bytes), oom);
    rm_json_put(o, "unacked_bytes", j_i64(s->unacked_bytes), oom);
    rm_json_put(o, "lag_seconds", j_f64(s->lag_seconds), oom);
    rm_json_put(o, "lag_method", rm_json_text(s->lag_method), oom);
    rm_json_put(o, "write_lag_seconds", j_f64(s->write_lag_seconds), oom);
    rm_json_put(o, "flush_lag_seconds", j_f64(s->flush_lag_seconds), oom);
    rm_json_put(o, "replay_lag_seconds", j_f64(s->replay_lag_seconds), oom);
    rm_json_put(o, "reply_age_seconds", j_f64(s->reply_age_seconds), oom);
    return o;
}

static json_t *receiver_json(const rm_node_t *n, int *oom)
{
    const rm_receiver_t *r = &n->receiver;
    json_t *o;

    if (!r->present)
        return json_null();
    o = json_made(json_object(), oom);
    if (o == NULL)
        return NULL;
    rm_json_put(o, "status", rm_json_text(r->status), oom);
    rm_json_put(o, "upstream", rm_json_text(r->primary), oom);
    rm_json_put(o, "sender_host", rm_json_text(r->sender_host), oom);
    rm_json_put(o, "sender_port", j_i64(r->sender_port), oom);
    rm_json_put(o, "slot", rm_json_text(r->slot_name), oom);
    rm_json_put(o, "receive_lsn", rm_json_text(r->receive_lsn), oom);
    rm_json_put(o, "replay_lsn", rm_json_text(r->replay_lsn), oom);
    rm_json_put(o, "written_lsn", rm_json_text(r->written_lsn), oom);
    rm_json_put(o, "flushed_lsn", rm_json_text(r->received_lsn), oom);
    rm_json_put(o, "replay_backlog_bytes", j_i64(r->replay_backlog_bytes), oom);
    rm_json_put(o, "replay_delay_seconds", j_f64(r->replay_delay_seconds), oom);
    rm_json_put(o, "replay_delay_method", rm_json_text(r->replay_delay_method),
                oom);
    rm_json_put(o, "last_msg_age_seconds", j_f64(r->last_msg_age_seconds), oom);
    rm_json_put(o, "latest_end_age_seconds", j_f64(r->latest_end_age_seconds),
                oom);
    rm_json_put(o, "paused", j_bool(r->paused), oom);
    rm_json_put(o, "lag_bytes", j_i64(r->lag_bytes), oom);
    return o;
}

static json_t *roles_json(int roles, int *oom)
{
    json_t *a = json_made(json_array(), oom);
    int role;

    if (a == NULL)
        return NULL;
    for (role = RM_ROLE_PRIMARY; role <= RM_ROLE_LAST; role <<= 1) {
        if (roles & role)
            rm_json_push(a, json_string(rm_role_name(role)), oom);
    }
    return a;
}

static json_t *node_json(const rm_node_t *n, rm_status_t status, int *oom)
{
    json_t *o = json_made(json_object(), oom), *sec, *arr, *h;
    size_t i;

    if (o == NULL)
        return NULL;
    rm_json_put(o, "id", json_string(n->id), oom);
    rm_json_put(o, "status", json_string(rm_status_name(status)), oom);
    rm_json_put(o, "state", json_string(node_state_text(n)), oom);
    rm_json_put(o, "reachable", json_boolean(n->reachable), oom);
    rm_json_put(o, "error",
                n->have_facts ? json_null() : rm_json_text(n->error), oom);
    rm_json_put(o, "roles", roles_json(rm_node_roles(n), oom), oom);
    rm_json_put(o, "server_version",
                n->server_version > 0 ? json_integer(n->server_version)
                                      : json_null(),
                oom);
    rm_json_put(o, "sql_row",
                n->sql_major > 0 ? json_integer(n->sql_major) : json_null(),
                oom);
    rm_json_put(o, "in_recovery",
                n->have_facts ? json_boolean(n->in_recovery) : json_null(),
                oom);
    rm_json_put(o, "current_lsn",
                n->have_facts ? rm_json_text(n->current_lsn) : json_null(),
                oom);
    rm_json_put(o, "wal_level",
                n->have_facts ? rm_json_text(n->wal_level) : json_null(), oom);
    rm_json_put(o, "database",
                n->have_facts ? rm_json_text(n->database) : json_null(), oom);
    rm_json_put(o, "pglogical_version",
                n->have_facts && n->pglogical_version[0]
                    ? rm_json_text(n->pglogical_version)
                    : json_null(),
                oom);
    rm_json_put(o, "latency_ms",
                n->have_health && n->health.latency_us > 0
                    ? json_real((double)n->health.latency_us / 1000.0)
                    : json_null(),
                oom);
    if (n->have_health) {
        h = json_object();
        if (h != NULL) {
            rm_json_put(h, "consecutive_failures",
                        json_integer(n->health.consecutive_failures), oom);
            rm_json_put(h, "retry_attempt",
                        json_integer(n->health.retry_attempt), oom);
            rm_json_put(h, "last_check", j_ms(n->health.last_check_ms), oom);
            rm_json_put(h, "last_ok", j_ms(n->health.last_ok_ms), oom);
            rm_json_put(h, "state_since", j_ms(n->health.state_since_ms), oom);
            rm_json_put(h, "next_retry", j_ms(n->health.next_retry_ms), oom);
            rm_json_put(h, "last_error", rm_json_text(n->health.last_error),
                        oom);
            rm_json_put(h, "last_sqlstate",
                        rm_json_text(n->health.last_sqlstate), oom);
        }
        rm_json_put(o, "health", h, oom);
    } else {
        rm_json_put(o, "health", json_null(), oom);
    }
    if (n->have_stats) {
        json_t *p = json_made(json_object(), oom);

        if (p != NULL) {
            rm_json_put(p, "total", json_integer(n->stats.total), oom);
            rm_json_put(p, "idle", json_integer(n->stats.idle), oom);
            rm_json_put(p, "active", json_integer(n->stats.active), oom);
            rm_json_put(p, "waiting", json_integer(n->stats.waiting), oom);
            rm_json_put(p, "min", json_integer(n->stats.min), oom);
            rm_json_put(p, "max", json_integer(n->stats.max), oom);
            rm_json_put(p, "queries",
                        json_integer((json_int_t)n->stats.queries), oom);
            rm_json_put(p, "errors", json_integer((json_int_t)n->stats.errors),
                        oom);
            rm_json_put(p, "timeouts",
                        json_integer((json_int_t)n->stats.timeouts), oom);
            rm_json_put(p, "connections_opened",
                        json_integer((json_int_t)n->stats.conns_opened), oom);
            rm_json_put(p, "connections_closed",
                        json_integer((json_int_t)n->stats.conns_closed), oom);
            rm_json_put(o, "pool", p, oom);
        }
    } else {
        rm_json_put(o, "pool", json_null(), oom);
    }
    sec = json_made(json_object(), oom);
    if (sec != NULL) {
        for (i = RM_SQL_SLOTS; i < RM_SQL_SECTION_COUNT; i++) {
            json_t *s = json_made(json_object(), oom);

            if (s == NULL)
                continue;
            rm_json_put(
                s, "state",
                json_string(rm_section_state_name(n->sections[i].state)), oom);
            rm_json_put(s, "error", rm_json_text(n->sections[i].error), oom);
            rm_json_put(s, "view", rm_json_text(n->sections[i].view), oom);
            rm_json_put(s, "privilege", rm_json_text(n->sections[i].privilege),
                        oom);
            rm_json_put(s, "grant", rm_json_text(n->sections[i].grant), oom);
            rm_json_put(sec, rm_sql_section_name((rm_sql_section_t)i), s, oom);
        }
        rm_json_put(o, "sections", sec, oom);
    }
    arr = json_array();
    for (i = 0; arr != NULL && i < n->nslots; i++)
        rm_json_push(arr, slot_json(&n->slots[i], oom), oom);
    rm_json_put(o, "slots", arr, oom);
    arr = json_array();
    for (i = 0; arr != NULL && i < n->nsubs; i++)
        rm_json_push(arr, sub_json(&n->subs[i], oom), oom);
    rm_json_put(o, "subscriptions", arr, oom);
    arr = json_array();
    for (i = 0; arr != NULL && i < n->nstandbys; i++)
        rm_json_push(arr, standby_json(&n->standbys[i], oom), oom);
    rm_json_put(o, "standbys", arr, oom);
    rm_json_put(o, "receiver", receiver_json(n, oom), oom);
    return o;
}

static json_t *cross_json(const rm_snapshot_t *snap, int *oom)
{
    json_t *arr = json_made(json_array(), oom);
    size_t i, j;

    if (arr == NULL)
        return NULL;
    for (i = 0; i < snap->count; i++) {
        const rm_node_t *n = &snap->nodes[i];

        for (j = 0; j < n->nsubs; j++) {
            const rm_subscription_t *s = &n->subs[j];
            json_t *o;

            if (s->publisher[0] == '\0')
                continue;
            o = json_made(json_object(), oom);
            if (o == NULL)
                continue;
            rm_json_put(o, "kind", json_string("logical"), oom);
            rm_json_put(o, "subscription_kind",
                        json_string(rm_sub_kind_name(s->kind)), oom);
            rm_json_put(o, "upstream", json_string(s->publisher), oom);
            rm_json_put(o, "downstream", json_string(n->id), oom);
            rm_json_put(o, "via", rm_json_text(s->name), oom);
            rm_json_put(o, "lag_bytes", j_i64(s->lag_bytes), oom);
            rm_json_put(o, "lag_seconds", j_f64(s->lag_seconds), oom);
            rm_json_put(o, "lag_method", rm_json_text(s->lag_method), oom);
            rm_json_push(arr, o, oom);
        }
        if (n->receiver.present && n->receiver.primary[0] != '\0') {
            json_t *o = json_made(json_object(), oom);

            if (o == NULL)
                continue;
            rm_json_put(o, "kind", json_string("physical"), oom);
            rm_json_put(o, "subscription_kind", json_null(), oom);
            rm_json_put(o, "upstream", json_string(n->receiver.primary), oom);
            rm_json_put(o, "downstream", json_string(n->id), oom);
            rm_json_put(o, "via", rm_json_text(n->receiver.slot_name), oom);
            rm_json_put(o, "lag_bytes", j_i64(n->receiver.lag_bytes), oom);
            rm_json_put(o, "lag_seconds",
                        j_f64(n->receiver.replay_delay_seconds), oom);
            rm_json_put(o, "lag_method",
                        rm_json_text(n->receiver.replay_delay_method), oom);
            rm_json_push(arr, o, oom);
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
    rm_json_put(doc, "schema_version", json_integer(1), &oom);
    rm_json_put(doc, "replmon_version", json_string(PGCM_VERSION_STRING), &oom);
    rm_json_put(doc, "status", json_string(rm_status_name(ev->status)), &oom);
    rm_json_put(doc, "exit_code", json_integer((int)ev->status), &oom);
    rm_json_put(doc, "cluster",
                ctx != NULL && ctx->cluster ? json_string(ctx->cluster)
                                            : json_null(),
                &oom);
    rm_json_put(doc, "collected_at", j_ms(snap->collected_ms), &oom);
    rm_json_put(doc, "elapsed_ms", json_real((double)snap->elapsed_us / 1000.0),
                &oom);
    rm_json_put(doc, "sample_seconds",
                ctx != NULL && ctx->sample_ms > 0
                    ? json_real((double)ctx->sample_ms / 1000.0)
                    : json_null(),
                &oom);
    th = json_object();
    if (th != NULL && ctx != NULL && ctx->thresholds != NULL) {
        const rm_thresholds_t *t = ctx->thresholds;

        rm_json_put(th, "replication_lag_warning_seconds",
                    json_real((double)t->lag_warning_ms / 1000.0), &oom);
        rm_json_put(th, "replication_lag_critical_seconds",
                    json_real((double)t->lag_critical_ms / 1000.0), &oom);
        rm_json_put(th, "replication_lag_warning_bytes",
                    json_integer((json_int_t)t->lag_warning_bytes), &oom);
        rm_json_put(th, "replication_lag_critical_bytes",
                    json_integer((json_int_t)t->lag_critical_bytes), &oom);
        rm_json_put(th, "slot_retention_warning_bytes",
                    json_integer((json_int_t)t->slot_warning_bytes), &oom);
        rm_json_put(th, "slot_retention_critical_bytes",
                    json_integer((json_int_t)t->slot_critical_bytes), &oom);
        rm_json_put(th, "conflict_rate_warning_per_min",
                    json_real(t->conflict_rate_warning), &oom);
        rm_json_put(th, "conflict_rate_critical_per_min",
                    json_real(t->conflict_rate_critical), &oom);
    }
    rm_json_put(doc, "thresholds", th, &oom);
    arr = json_array();
    for (i = 0; arr != NULL && i < ev->nreasons; i++) {
        json_t *r = json_made(json_object(), &oom);

        if (r == NULL)
            continue;
        rm_json_put(r, "node", json_string(ev->reasons[i].node), &oom);
        rm_json_put(r, "severity",
                    json_string(ev->reasons[i].status == RM_STATUS_OK
                                    ? "NOTE"
                                    : rm_status_name(ev->reasons[i].status)),
                    &oom);
        rm_json_put(r, "message", json_string(ev->reasons[i].message), &oom);
        rm_json_push(arr, r, &oom);
    }
    rm_json_put(doc, "findings", arr, &oom);
    arr = json_array();
    for (i = 0; arr != NULL && i < snap->count; i++)
        rm_json_push(arr, node_json(&snap->nodes[i], ev->node_status[i], &oom),
                     &oom);
    rm_json_put(doc, "nodes", arr, &oom);
    rm_json_put(doc, "cross_node_lag", cross_json(snap, &oom), &oom);
    if (oom) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}
