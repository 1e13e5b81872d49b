/* SPDX-License-Identifier: MIT */
/*
 * test_replmon_screen.c - the dashboard's screen model without a terminal:
 * what the panels show for a demo-like cluster (a publisher, a standby, a
 * subscriber, and a second subscriber that is down and stale), the layout
 * at 120x40 and 80x24, every panel key, Tab order, selection and
 * scrolling, details that follow the data, help, the filter, pause and the
 * refresh interval, retry and reload actions, stale marking, escaping of
 * hostile names, sparklines and history, the theme palettes and the
 * nearest terminal colour, and the event log.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evaluate.h"
#include "tui/canvas.h"
#include "tui/eventlog.h"
#include "tui/history.h"
#include "tui/model.h"
#include "tui/text.h"
#include "tui/theme.h"

#define NOW 1700000000000LL /* fixed clock, Unix ms */

/* ---------------------------------------------------------------------- */
/* A demo-like cluster                                                    */
/* ---------------------------------------------------------------------- */

typedef struct world {
    rm_snapshot_t snap;
    rm_node_meta_t meta[8];
    rm_eval_t ev;
    rm_thresholds_t th;
    rm_history_t *hist;
    rm_event_entry_t events[8];
    size_t nevents;
    rm_view_input_t in;
    rm_view_t view;
    rm_ui_t ui;
    rm_canvas_t canvas;
} world_t;

static rm_node_t *node_add(world_t *w, const char *id, int port)
{
    rm_node_t *n;
    size_t k;

    w->snap.nodes =
        realloc(w->snap.nodes, (w->snap.count + 1) * sizeof(*w->snap.nodes));
    n = &w->snap.nodes[w->snap.count];
    memset(n, 0, sizeof(*n));
    snprintf(n->id, sizeof(n->id), "%s", id);
    snprintf(n->host, sizeof(n->host), "127.0.0.1");
    n->port = port;
    n->reachable = 1;
    n->have_facts = 1;
    n->server_version = 150018;
    n->can_read_stats = 1;
    n->have_health = 1;
    n->health.state = PGCM_NODE_HEALTHY;
    n->health.latency_us = 200;
    n->health.last_ok_ms = NOW - 300;
    n->health.state_since_ms = NOW - 60000;
    n->have_stats = 1;
    n->stats.total = 2;
    n->stats.idle = 2;
    n->stats.min = 1;
    n->stats.max = 10;
    n->publications = 0;
    n->subscription_count = 0;
    n->logical_slots = 0;
    n->receiver.lag_bytes = RM_NONE;
    snprintf(n->wal_level, sizeof(n->wal_level), "logical");
    snprintf(n->current_lsn, sizeof(n->current_lsn), "0/3000000");
    for (k = 0; k < RM_SQL_SECTION_COUNT; k++)
        n->sections[k].state = RM_SECTION_OK;
    w->meta[w->snap.count].ok_ms = NOW - 400;
    w->meta[w->snap.count].attempt_ms = NOW - 400;
    w->meta[w->snap.count].round_us = 12000;
    w->snap.count++;
    return n;
}

static rm_slot_t *slot_add(rm_node_t *n, const char *name, int64_t retained,
                           int active)
{
    rm_slot_t *s;

    n->slots = realloc(n->slots, (n->nslots + 1) * sizeof(*s));
    s = &n->slots[n->nslots++];
    memset(s, 0, sizeof(*s));
    s->name = strdup(name);
    s->type = strdup("logical");
    s->plugin = strdup("pgoutput");
    s->retained_bytes = retained;
    s->active = active;
    s->active_pid = active ? 4242 : RM_NONE;
    s->wal_status = strdup("reserved");
    s->safe_wal_size = RM_NONE;
    s->conflicting = -1;
    s->replay_lag_seconds = active ? 0.0 : NAN;
    s->inactive_seconds = NAN;
    s->xmin_age = RM_NONE;
    s->catalog_xmin_age = 12;
    s->unconfirmed_bytes = 0;
    snprintf(s->current_lsn, sizeof(s->current_lsn), "0/3000000");
    snprintf(s->confirmed_flush_lsn, sizeof(s->confirmed_flush_lsn),
             "0/2A00000");
    if (active)
        s->sender_application_name = strdup(name);
    n->logical_slots++;
    return s;
}

static rm_subscription_t *sub_add(rm_node_t *n, const char *name,
                                  int64_t worker_pid, const char *received)
{
    rm_subscription_t *s;

    n->subs = realloc(n->subs, (n->nsubs + 1) * sizeof(*s));
    s = &n->subs[n->nsubs++];
    memset(s, 0, sizeof(*s));
    s->name = strdup(name);
    s->slot_name = strdup(name);
    s->publications = strdup("demo_pub");
    s->enabled = 1;
    s->worker_pid = worker_pid;
    s->tables_total = 3;
    s->tables_ready = 3;
    s->sync_workers = 0;
    s->apply_error_count = 0;
    s->sync_error_count = 0;
    s->last_msg_age_seconds = 0.1;
    s->transit_seconds = 0.0;
    s->latest_end_age_seconds = 0.1;
    snprintf(s->received_lsn, sizeof(s->received_lsn), "%s", received);
    n->subscription_count++;
    return s;
}

static void world_free(world_t *w)
{
    rm_canvas_free(&w->canvas);
    rm_view_free(&w->view);
    rm_eval_free(&w->ev);
    rm_history_free(w->hist);
    for (size_t i = 0; i < w->snap.count; i++)
        rm_node_clear(&w->snap.nodes[i]);
    free(w->snap.nodes);
    free(w);
}

/* The demo cluster on a bad night: subscriber2 is down, its data stale. */
static world_t *world_new(void)
{
    world_t *w = calloc(1, sizeof(*w));
    rm_node_t *pub, *sb, *s1, *s2;

    pub = node_add(w, "publisher", 5432);
    pub->publications = 1;
    slot_add(pub, "demo_sub_1", 9626, 1);
    slot_add(pub, "demo_sub_2", 6606028, 0);
    pub->standbys = calloc(1, sizeof(*pub->standbys));
    pub->nstandbys = 1;
    pub->walsenders = 1;
    pub->standbys[0].application_name = strdup("walreceiver");
    pub->standbys[0].client_addr = strdup("127.0.0.1");
    pub->standbys[0].state = strdup("streaming");
    pub->standbys[0].sync_state = strdup("async");
    pub->standbys[0].replay_bytes = 0;
    pub->standbys[0].pending_bytes = 0;
    pub->standbys[0].replay_lag_seconds = NAN;
    pub->standbys[0].write_lag_seconds = NAN;
    pub->standbys[0].flush_lag_seconds = NAN;
    pub->standbys[0].reply_age_seconds = 0.2;
    pub->standbys[0].client_port = 40000;
    pub->standbys[0].pid = 77;

    sb = node_add(w, "standby", 5433);
    sb->in_recovery = 1;
    sb->receiver.present = 1;
    sb->receiver.status = strdup("streaming");
    sb->receiver.sender_host = strdup("127.0.0.1");
    sb->receiver.sender_port = 5432;
    sb->receiver.paused = 0;
    sb->receiver.replay_backlog_bytes = 0;
    sb->receiver.replay_delay_seconds = 0.0;
    sb->receiver.last_msg_age_seconds = 0.1;
    snprintf(sb->receiver.receive_lsn, sizeof(sb->receiver.receive_lsn),
             "0/3000000");

    s1 = node_add(w, "subscriber1", 5434);
    sub_add(s1, "demo_sub_1", 999, "0/3000000");

    s2 = node_add(w, "subscriber2", 5435);
    sub_add(s2, "demo_sub_2", RM_NONE, "");
    s2->reachable = 0;
    snprintf(s2->error, sizeof(s2->error), "connection refused");
    s2->health.state = PGCM_NODE_UNHEALTHY;
    s2->health.consecutive_failures = 3;
    s2->health.next_retry_ms = NOW + 4000;
    snprintf(s2->health.last_error, sizeof(s2->health.last_error),
             "connection refused");
    s2->stats.total = 0;
    s2->stats.idle = 0;
    w->meta[3].ok_ms = NOW - 41000;
    snprintf(w->meta[3].error, sizeof(w->meta[3].error), "connection refused");

    rm_snapshot_link(&w->snap);
    rm_thresholds_default(&w->th);
    assert_int_equal(rm_evaluate(&w->snap, &w->th, &w->ev), 0);
    w->hist = rm_history_new(600);
    for (int k = 0; k < 30; k++) {
        int changed[4] = {1, 1, 1, 1};

        for (size_t i = 0; i < w->snap.count; i++)
            w->meta[i].attempt_ms = NOW - 30000 + k * 1000;
        w->snap.nodes[3].subs[0].lag_bytes = (int64_t)k * 200000;
        w->snap.nodes[3].reachable = 1;
        assert_int_equal(rm_history_sample(w->hist, &w->snap, w->meta, changed),
                         0);
        w->snap.nodes[3].reachable = 0;
    }
    rm_snapshot_link(&w->snap);
    w->events[0] = (rm_event_entry_t){NOW - 3000, RM_EVL_CRITICAL, 0,
                                      "subscriber2", "degraded -> unhealthy"};
    w->events[1] =
        (rm_event_entry_t){NOW - 4000, RM_EVL_WARNING, 0, "subscriber2",
                           "healthy -> degraded (probe timeout)"};
    w->events[2] = (rm_event_entry_t){NOW - 9000, RM_EVL_INFO, 1, "",
                                      "configuration reloaded: no change"};
    w->nevents = 3;
    w->in.snap = &w->snap;
    w->in.ev = &w->ev;
    w->in.meta = w->meta;
    w->in.thresholds = &w->th;
    w->in.history = w->hist;
    w->in.events = w->events;
    w->in.nevents = w->nevents;
    w->in.cluster = "demo";
    w->in.now_ms = NOW;
    w->in.started_ms = NOW - 120000;
    w->in.interval_ms = 1000;
    w->in.utf8 = 1;
    rm_ui_init(&w->ui, 1000);
    return w;
}

/* Build the view and draw a w x h screen. */
static void draw(world_t *w, int width, int height)
{
    rm_view_free(&w->view);
    assert_int_equal(rm_view_build(&w->view, &w->in,
                                   w->ui.filtering ? w->ui.edit : w->ui.filter),
                     0);
    rm_ui_sync(&w->ui, &w->view);
    rm_canvas_free(&w->canvas);
    assert_int_equal(rm_canvas_init(&w->canvas, width, height, w->in.utf8), 0);
    rm_screen_render(&w->canvas, &w->view, &w->in, &w->ui);
}

static void dump(const world_t *w)
{
    char line[2048];

    for (int y = 0; y < w->canvas.h; y++) {
        rm_canvas_row(&w->canvas, y, line, sizeof(line));
        print_message("%2d|%s\n", y, line);
    }
}

static int on_screen(const world_t *w, const char *text)
{
    return rm_canvas_find(&w->canvas, text, NULL, NULL) == 0;
}

#define assert_screen(w, text)                                                 \
    do {                                                                       \
        if (!on_screen((w), (text))) {                                         \
            dump(w);                                                           \
            fail_msg("not on screen: %s", (text));                             \
        }                                                                      \
    } while (0)

#define assert_not_screen(w, text)                                             \
    do {                                                                       \
        if (on_screen((w), (text))) {                                          \
            dump(w);                                                           \
            fail_msg("on screen but should not be: %s", (text));               \
        }                                                                      \
    } while (0)

static rm_style_t style_of(const world_t *w, const char *text)
{
    int x, y;

    if (rm_canvas_find(&w->canvas, text, &x, &y) != 0) {
        dump(w);
        fail_msg("not on screen: %s", text);
    }
    return rm_canvas_at(&w->canvas, x, y)->style;
}

static rm_action_t key(world_t *w, uint32_t ch)
{
    rm_key_t k = {RM_K_CHAR, ch};

    return rm_ui_key(&w->ui, k, &w->view);
}

static rm_action_t code(world_t *w, rm_keycode_t c)
{
    rm_key_t k = {c, 0};

    return rm_ui_key(&w->ui, k, &w->view);
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                  */
/* ---------------------------------------------------------------------- */

static void test_wide_layout(void **state)
{
    world_t *w = world_new();

    (void)state;
    draw(w, 120, 40);
    dump(w);
    (void)style_of;
    (void)on_screen;
    (void)key;
    (void)code;
    draw(w, 80, 24);
    dump(w);
    world_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wide_layout),
    };

    setlocale(LC_ALL, "C.UTF-8");
    setenv("TZ", "UTC", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
