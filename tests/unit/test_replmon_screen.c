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
#include "textwidth.h"
#include "tui/canvas.h"
#include "tui/eventpane.h"
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
    rm_node_meta_t meta[128];
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
    for (int c = 0; c < RM_CONFL_COUNT; c++)
        s->confl[c] = RM_NONE; /* before 18 */
    s->conflict_rate_per_min = NAN;
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

/* The row of text at y. */
static const char *row(const world_t *w, int y)
{
    static char line[4096];

    rm_canvas_row(&w->canvas, y, line, sizeof(line));
    return line;
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                  */
/* ---------------------------------------------------------------------- */

static void test_wide_layout(void **state)
{
    world_t *w = world_new();

    (void)state;
    draw(w, 120, 40);
    /* The summary line answers "is anything wrong". */
    assert_screen(w, "cluster demo");
    assert_screen(w, "4 nodes: 2 ok 1 WARN 1 CRIT 1 stale");
    assert_screen(w, "2 subs 2 slots 1 standby");
    assert_screen(w, "refresh 1s");
    assert_screen(w, "\u25cf live");
    assert_int_equal(RM_ST_ROLE(style_of(w, "1 CRIT")), RM_UI_CRITICAL);
    /* Every panel of the wide layout. */
    assert_screen(w, "Nodes [n]");
    assert_screen(w, "Topology [t]");
    assert_screen(w, "Subscriptions [s]");
    assert_screen(w, "Slots [l]");
    assert_screen(w, "Findings [f]");
    assert_screen(w, "Events [e]");
    /* Nodes: state in colour and in words, role, version, latency, pool,
     * failures, next retry, age, last error. */
    assert_screen(w, "NODE");
    assert_screen(w, "POOL T/I/A/W");
    assert_screen(w, "NEXT RETRY");
    assert_screen(w, "LAST ERROR");
    assert_screen(w, "\u25cf healthy");
    assert_int_equal(RM_ST_ROLE(style_of(w, "\u25cf healthy")), RM_UI_SUCCESS);
    assert_screen(w, "\u2716 UNHEALTHY");
    assert_int_equal(RM_ST_ROLE(style_of(w, "\u2716 UNHEALTHY")),
                     RM_UI_CRITICAL);
    assert_screen(w, "primary,publisher");
    assert_screen(w, "15.18");
    assert_screen(w, "0.20 ms");
    assert_screen(w, "2/2/0/0");
    assert_screen(w, "in 4.0s");
    assert_screen(w, "stale 41s");
    assert_int_equal(RM_ST_ROLE(style_of(w, "stale 41s")), RM_UI_MUTED);
    assert_screen(w, "connection");
    /* Topology: physical and logical edges with their lag. */
    assert_screen(w, "\u251c\u2550 physical 0 B \u2550\u25b6 standby");
    assert_screen(w, "\u2514\u2500 logical demo_sub_2 6.0 MB \u2500\u25b6 "
                     "subscriber2");
    /* Subscriptions with their history; slots with the bar. */
    assert_screen(w, "\u2716 down");
    assert_screen(w, "HISTORY");
    assert_screen(w, "\u2588");
    assert_screen(w, "9.4 kB");
    assert_screen(w, "of 5.0 GB crit");
    /* Findings worst first, events newest first. */
    assert_screen(w, "CRIT  subscriber2  unreachable: connection refused");
    assert_screen(w, "degraded -> unhealthy");
    {
        int xc, yc, xw, yw;

        assert_int_equal(
            rm_canvas_find(&w->canvas, "CRIT  subscriber2", &xc, &yc), 0);
        assert_int_equal(
            rm_canvas_find(&w->canvas, "WARN  publisher", &xw, &yw), 0);
        assert_true(yc < yw);
    }
    /* The key bar names every panel. */
    assert_screen(w, "[n]odes [t]opology [s]ubs s[l]ots stand[b]ys [x]lag "
                     "[c]onflicts [f]indings [e]vents");
    world_free(w);
}

static void test_narrow_layout(void **state)
{
    world_t *w = world_new();
    int y, boxes = 0;

    (void)state;
    draw(w, 80, 24);
    /* One panel under the summary, the worst finding, the key bar. */
    for (y = 0; y < 24; y++)
        boxes += strncmp(row(w, y), "\u250c", 3) == 0;
    assert_int_equal(boxes, 1);
    assert_true(strncmp(row(w, 1), "\u250c Nodes [n]", 13) == 0);
    assert_true(strstr(row(w, 0), "\u25cf live") != NULL);
    assert_true(strstr(row(w, 22), "CRIT") != NULL);
    assert_true(strstr(row(w, 22), "subscriber2 unreachable: connection "
                                   "refused") != NULL);
    assert_true(strstr(row(w, 22), "+1 more [f]") != NULL);
    assert_true(strstr(row(w, 23), "q:quit") != NULL);
    assert_screen(w, "\u2716 UNHEALTHY");
    assert_screen(w, "stale 41s");
    /* The narrow nodes panel keeps state, latency, pool and age. */
    assert_screen(w, "LATENCY");
    assert_screen(w, "AGE");
    /* Nothing drawn past the edge. */
    for (y = 0; y < 24; y++)
        assert_true(rm_tui_width(row(w, y), 1) <= 80);
    /* Too small for anything: one line says so. */
    draw(w, 30, 8);
    assert_screen(w, "replmon: the terminal is 30x8;");
    world_free(w);
}

static void test_panel_keys(void **state)
{
    static const char keys[] = "ntslbxcfe";
    world_t *w = world_new();
    rm_action_t a;
    size_t i;

    (void)state;
    draw(w, 80, 24);
    for (i = 0; i < RM_PANEL_COUNT; i++) {
        char title[64];

        a = key(w, (uint32_t)keys[i]);
        assert_int_equal(a.kind, RM_ACT_REDRAW);
        assert_int_equal(w->ui.focus, (rm_panel_t)i);
        assert_int_equal(rm_panel_key((rm_panel_t)i), keys[i]);
        draw(w, 80, 24);
        snprintf(title, sizeof(title), "%s [%c]", rm_panel_title(i), keys[i]);
        assert_screen(w, title);
        /* The same panel by number. */
        key(w, 'n');
        key(w, (uint32_t)('1' + i));
        assert_int_equal(w->ui.focus, (rm_panel_t)i);
    }
    /* o is the operations menu now: on an event row it opens nothing. */
    a = key(w, 'o');
    assert_int_equal(a.kind, RM_ACT_OPS_OPEN);
    assert_int_equal(w->ui.focus, RM_PANEL_EVENTS);
    assert_int_equal(w->ui.modal, RM_MODAL_NONE);
    /* Tab and Shift-Tab go round. */
    key(w, 'n');
    for (i = 1; i <= RM_PANEL_COUNT; i++) {
        code(w, RM_K_TAB);
        assert_int_equal(w->ui.focus, (rm_panel_t)(i % RM_PANEL_COUNT));
    }
    code(w, RM_K_BTAB);
    assert_int_equal(w->ui.focus, RM_PANEL_EVENTS);
    /* In the wide layout the focused replication panel takes the place
     * beside the topology. */
    key(w, 'b');
    draw(w, 120, 40);
    assert_screen(w, "Standbys [b]");
    assert_not_screen(w, "Subscriptions [s]");
    assert_screen(w, "\u2192 walreceiver@127.0.0.1");
    assert_screen(w, "\u2190 publisher");
    key(w, 'x');
    draw(w, 120, 40);
    assert_screen(w, "Cross-node lag [x]");
    assert_screen(w, "UPSTREAM");
    assert_screen(w, "physical");
    key(w, 'c');
    draw(w, 120, 40);
    assert_screen(w, "Conflicts [c]");
    assert_screen(w, "CONFLICTS");
    /* Back on the nodes, the conflicts panel stays beside the topology. */
    key(w, 'n');
    draw(w, 120, 40);
    assert_screen(w, "Conflicts [c]");
    world_free(w);
}

static void test_selection_and_live_details(void **state)
{
    world_t *w = world_new();
    rm_action_t a;

    (void)state;
    draw(w, 120, 40);
    assert_int_equal(w->ui.pos[RM_PANEL_NODES].sel, 0);
    key(w, 'j');
    code(w, RM_K_DOWN);
    assert_int_equal(w->ui.pos[RM_PANEL_NODES].sel, 2);
    key(w, 'k');
    assert_int_equal(w->ui.pos[RM_PANEL_NODES].sel, 1);
    key(w, 'G');
    assert_int_equal(w->ui.pos[RM_PANEL_NODES].sel, 3);
    code(w, RM_K_HOME);
    assert_int_equal(w->ui.pos[RM_PANEL_NODES].sel, 0);
    code(w, RM_K_UP); /* stays in range */
    assert_int_equal(w->ui.pos[RM_PANEL_NODES].sel, 0);
    key(w, 'j');
    a = code(w, RM_K_ENTER);
    assert_int_equal(a.kind, RM_ACT_REDRAW);
    assert_int_equal(w->ui.modal, RM_MODAL_DETAILS);
    draw(w, 120, 40);
    assert_screen(w, "Node standby");
    assert_screen(w, "0.20 ms");
    /* The details follow the data: a new round changes them. */
    w->snap.nodes[1].health.latency_us = 1500;
    draw(w, 120, 40);
    assert_screen(w, "Node standby");
    assert_screen(w, "1.5 ms");
    /* The selection follows its object when rows move. */
    code(w, RM_K_ESC);
    assert_int_equal(w->ui.modal, RM_MODAL_NONE);
    {
        rm_node_t tmp = w->snap.nodes[0];

        w->snap.nodes[0] = w->snap.nodes[1];
        w->snap.nodes[1] = tmp;
        draw(w, 120, 40);
        assert_int_equal(w->ui.pos[RM_PANEL_NODES].sel, 0);
        tmp = w->snap.nodes[0];
        w->snap.nodes[0] = w->snap.nodes[1];
        w->snap.nodes[1] = tmp;
        draw(w, 120, 40);
        assert_int_equal(w->ui.pos[RM_PANEL_NODES].sel, 1);
    }
    /* A subscription's details: state, worker, lag history with min and
     * max. */
    key(w, 's');
    key(w, 'j');
    code(w, RM_K_ENTER);
    draw(w, 120, 40);
    assert_screen(w, "Subscription demo_sub_2");
    assert_screen(w, "not running");
    assert_screen(w, "lag history");
    assert_screen(w, "min 0 B, max 5.5 MB over the last 30s (30 samples)");
    code(w, RM_K_ESC);
    /* A slot's details. */
    key(w, 'l');
    key(w, 'j');
    code(w, RM_K_ENTER);
    draw(w, 120, 40);
    assert_screen(w, "Slot demo_sub_2");
    assert_screen(w, "pgoutput");
    assert_screen(w, "retention history");
    /* Gone: the box says so. */
    free(w->snap.nodes[0].slots[1].name);
    w->snap.nodes[0].slots[1].name = strdup("renamed");
    draw(w, 120, 40);
    assert_screen(w, "this object is no longer reported");
    code(w, RM_K_ENTER); /* Enter closes too */
    assert_int_equal(w->ui.modal, RM_MODAL_NONE);
    /* A finding's details: its whole text. */
    key(w, 'f');
    code(w, RM_K_ENTER);
    draw(w, 80, 24);
    assert_screen(w, "Finding");
    assert_screen(w, "unreachable: connection refused");
    world_free(w);
}

static void test_help(void **state)
{
    world_t *w = world_new();
    const rm_key_help_t *keys;
    size_t n, i;

    (void)state;
    draw(w, 120, 40);
    assert_int_equal(key(w, '?').kind, RM_ACT_REDRAW);
    assert_int_equal(w->ui.modal, RM_MODAL_HELP);
    draw(w, 120, 40);
    assert_screen(w, "replmon watch - keys");
    keys = rm_key_help(&n);
    for (i = 0; i < n; i++)
        assert_screen(w, keys[i].keys);
    assert_screen(w, "green: healthy, OK");
    /* At 80x24 it scrolls. */
    draw(w, 80, 24);
    assert_true(w->ui.modal_rows > w->ui.modal_height);
    key(w, 'j');
    assert_int_equal(w->ui.modal_scroll, 1);
    code(w, RM_K_PGDN);
    code(w, RM_K_PGDN);
    draw(w, 80, 24);
    assert_int_equal(w->ui.modal_scroll,
                     (size_t)(w->ui.modal_rows - w->ui.modal_height));
    code(w, RM_K_ESC);
    assert_int_equal(w->ui.modal, RM_MODAL_NONE);
    key(w, 'h');
    assert_int_equal(w->ui.modal, RM_MODAL_HELP);
    key(w, '?');
    assert_int_equal(w->ui.modal, RM_MODAL_NONE);
    world_free(w);
}

static void type(world_t *w, const char *text)
{
    for (; *text; text++)
        key(w, (uint32_t)(unsigned char)*text);
}

static void test_filter(void **state)
{
    world_t *w = world_new();

    (void)state;
    draw(w, 120, 40);
    key(w, '/');
    assert_true(w->ui.filtering);
    type(w, "sub_2");
    draw(w, 120, 40);
    /* Live while typing; the prompt at the bottom. */
    assert_screen(w, "filter: /sub_2_");
    assert_screen(w, "filter: sub_2");
    assert_not_screen(w, "demo_sub_1  subscriber1");
    assert_screen(w, "demo_sub_2  subscriber2");
    assert_screen(w, "Nodes [n]  4 hidden by the filter");
    code(w, RM_K_BACKSPACE);
    code(w, RM_K_BACKSPACE);
    type(w, "_1");
    code(w, RM_K_ENTER);
    assert_false(w->ui.filtering);
    assert_string_equal(w->ui.filter, "sub_1");
    draw(w, 120, 40);
    assert_screen(w, "demo_sub_1  subscriber1");
    assert_not_screen(w, "demo_sub_2  subscriber2");
    /* Keys act again; Esc at the prompt cancels the edit. */
    key(w, '/');
    type(w, "xyz");
    code(w, RM_K_ESC);
    assert_string_equal(w->ui.filter, "sub_1");
    /* Case does not matter; Esc clears. */
    key(w, '/');
    code(w, RM_K_CTRL_U);
    type(w, "SUBSCRIBER2");
    code(w, RM_K_ENTER);
    draw(w, 120, 40);
    assert_screen(w, "\u2716 UNHEALTHY");
    assert_not_screen(w, "\u25cf healthy");
    assert_int_equal(code(w, RM_K_ESC).kind, RM_ACT_REDRAW);
    assert_string_equal(w->ui.filter, "");
    draw(w, 120, 40);
    assert_screen(w, "\u25cf healthy");
    world_free(w);
}

static void test_pause_and_interval(void **state)
{
    world_t *w = world_new();
    rm_action_t a;

    (void)state;
    draw(w, 120, 40);
    a = key(w, 'p');
    assert_int_equal(a.kind, RM_ACT_PAUSE);
    assert_true(w->ui.paused);
    w->in.paused = 1;
    draw(w, 120, 40);
    assert_screen(w, "\u23f8 paused");
    key(w, ' ');
    assert_false(w->ui.paused);
    /* + refreshes less often, - more often, within the steps. */
    a = key(w, '+');
    assert_int_equal(a.kind, RM_ACT_INTERVAL);
    assert_int_equal(w->ui.interval_ms, 2000);
    key(w, '-');
    key(w, '-');
    assert_int_equal(w->ui.interval_ms, 500);
    assert_int_equal(key(w, '-').kind, RM_ACT_NONE);
    assert_int_equal(w->ui.interval_ms, 500);
    for (int i = 0; i < 20; i++)
        key(w, '+');
    assert_int_equal(w->ui.interval_ms, 60000);
    /* From a value between two steps, to the nearest one that way. */
    rm_ui_init(&w->ui, 1500);
    key(w, '+');
    assert_int_equal(w->ui.interval_ms, 2000);
    rm_ui_init(&w->ui, 1500);
    key(w, '-');
    assert_int_equal(w->ui.interval_ms, 1000);
    world_free(w);
}

static void test_actions(void **state)
{
    world_t *w = world_new();
    rm_action_t a;

    (void)state;
    draw(w, 120, 40);
    key(w, 'G');
    a = key(w, 'r');
    assert_int_equal(a.kind, RM_ACT_RETRY);
    assert_string_equal(a.node, "subscriber2");
    /* From any panel: the row's node. */
    key(w, 's');
    a = key(w, 'r');
    assert_int_equal(a.kind, RM_ACT_RETRY);
    assert_string_equal(a.node, "subscriber1");
    /* And from a node's details. */
    key(w, 'n');
    code(w, RM_K_ENTER);
    a = key(w, 'r');
    assert_int_equal(a.kind, RM_ACT_RETRY);
    assert_string_equal(a.node, "subscriber2");
    assert_int_equal(key(w, 'R').kind, RM_ACT_RELOAD);
    assert_int_equal(key(w, 'q').kind, RM_ACT_QUIT); /* also in a box */
    code(w, RM_K_ESC);
    assert_int_equal(key(w, 'R').kind, RM_ACT_RELOAD);
    assert_int_equal(key(w, 'q').kind, RM_ACT_QUIT);
    assert_int_equal(code(w, RM_K_CTRL_C).kind, RM_ACT_QUIT);
    assert_int_equal(code(w, RM_K_RESIZE).kind, RM_ACT_REDRAW);
    /* Ctrl-C quits even while typing a filter; q there is text. */
    key(w, '/');
    assert_int_equal(key(w, 'q').kind, RM_ACT_REDRAW);
    assert_int_equal(code(w, RM_K_CTRL_C).kind, RM_ACT_QUIT);
    world_free(w);
}

static void test_stale_after_two_intervals(void **state)
{
    world_t *w = world_new();

    (void)state;
    /* 1.9 intervals old: fresh; 2.1: stale and grey. */
    w->meta[2].ok_ms = NOW - 1900;
    draw(w, 120, 40);
    assert_screen(w, "1.9s");
    assert_int_equal(RM_ST_ROLE(style_of(w, "subscriber1")), RM_UI_SUCCESS);
    w->meta[2].ok_ms = NOW - 2100;
    draw(w, 120, 40);
    assert_screen(w, "stale 2.1s");
    assert_int_equal(RM_ST_ROLE(style_of(w, "subscriber1 ")), RM_UI_MUTED);
    assert_screen(w, "2 stale");
    /* The interval decides: at 5 s the same age is fresh. */
    w->in.interval_ms = 5000;
    draw(w, 120, 40);
    assert_not_screen(w, "stale 2.1s");
    /* Before any round: no data, counted stale after two intervals. */
    w->meta[2].ok_ms = 0;
    w->in.interval_ms = 1000;
    draw(w, 120, 40);
    assert_screen(w, "no data");
    world_free(w);
}

static void test_hostile_names_are_escaped(void **state)
{
    world_t *w = world_new();
    int x0, y0, x1, y1, y;

    (void)state;
    snprintf(w->snap.nodes[1].id, sizeof(w->snap.nodes[1].id), "ev\x1b[31mil");
    snprintf(w->snap.nodes[2].id, sizeof(w->snap.nodes[2].id), "\u8282\u70b9");
    free(w->snap.nodes[2].subs[0].name);
    w->snap.nodes[2].subs[0].name = strdup("abc\u202edef");
    draw(w, 120, 40);
    assert_screen(w, "ev\\x1b[31mil");
    assert_screen(w, "abc\\u202edef");
    for (y = 0; y < w->canvas.h; y++) {
        for (int x = 0; x < w->canvas.w; x++) {
            uint32_t cp = rm_canvas_at(&w->canvas, x, y)->cp;

            assert_true(cp != 0x1b && cp != 0x202e);
        }
    }
    /* A wide name takes two columns a glyph: the next column lines up. */
    assert_int_equal(rm_canvas_find(&w->canvas, "\u8282\u70b9", &x0, &y0), 0);
    assert_int_equal(rm_canvas_find(&w->canvas, "publisher  ", &x1, &y1), 0);
    {
        int s0, s1, yy;

        assert_int_equal(rm_canvas_find(&w->canvas, "\u25cf healthy", &s0, &yy),
                         0);
        for (s1 = 0; s1 < w->canvas.w; s1++) {
            if (rm_canvas_at(&w->canvas, s1, y0)->cp == 0x25cf)
                break;
        }
        assert_int_equal(s0, s1);
    }
    /* ASCII only, when the locale is not UTF-8. */
    w->in.utf8 = 0;
    draw(w, 120, 40);
    for (y = 0; y < w->canvas.h; y++) {
        for (int x = 0; x < w->canvas.w; x++)
            assert_true(rm_canvas_at(&w->canvas, x, y)->cp < 0x80);
    }
    assert_screen(w, "x UNHEALTHY");
    assert_screen(w, "o healthy");
    assert_screen(w, "\\u8282\\u70b9");
    assert_screen(w, "|= physical 0 B => ev\\x1b[31mil");
    assert_screen(w, "`- logical demo_sub_2 6.0 MB -> subscriber2");
    assert_screen(w, "* live");
    world_free(w);
}

static void test_scrolling_many_nodes(void **state)
{
    world_t *w = world_new();
    int i;

    (void)state;
    for (i = 0; i < 96; i++) {
        char id[32];

        snprintf(id, sizeof(id), "node%03d", i);
        node_add(w, id, 6000 + i);
    }
    rm_eval_free(&w->ev);
    assert_int_equal(rm_evaluate(&w->snap, &w->th, &w->ev), 0);
    draw(w, 80, 24);
    assert_screen(w, "1-18 of 100");
    code(w, RM_K_PGDN);
    draw(w, 80, 24);
    assert_int_equal(w->ui.pos[RM_PANEL_NODES].sel, 17);
    code(w, RM_K_END);
    draw(w, 80, 24);
    assert_screen(w, "node095");
    assert_screen(w, "83-100 of 100");
    key(w, 'g');
    draw(w, 80, 24);
    assert_screen(w, "1-18 of 100");
    world_free(w);
}

static void test_slot_bar_thresholds(void **state)
{
    world_t *w = world_new();

    (void)state;
    w->th.slot_critical_bytes = 10 * 1024 * 1024;
    draw(w, 120, 40);
    assert_screen(w, "of 10.0 MB crit");
    assert_int_equal(RM_ST_ROLE(style_of(w, "6.3 MB")), RM_UI_FG);
    w->th.slot_warning_bytes = 1024 * 1024;
    draw(w, 120, 40);
    assert_int_equal(RM_ST_ROLE(style_of(w, "6.3 MB")), RM_UI_WARNING);
    /* 0 switches a threshold off: the bar is against the other one. */
    w->th.slot_critical_bytes = 0;
    draw(w, 120, 40);
    assert_screen(w, "of 1.0 MB warn");
    w->th.slot_warning_bytes = 0;
    draw(w, 120, 40);
    assert_not_screen(w, "of 1.0 MB warn");
    world_free(w);
}

static void test_conflicts_rate(void **state)
{
    world_t *w = world_new();
    rm_subscription_t *s = &w->snap.nodes[2].subs[0];
    int changed[4] = {0, 0, 1, 0};
    int k;

    (void)state;
    /* 12 errors in the last minute: above the warning rate of 5. */
    for (k = 0; k <= 6; k++) {
        s->apply_error_count = 2 * k;
        w->meta[2].attempt_ms = NOW + k * 10000;
        rm_history_sample(w->hist, &w->snap, w->meta, changed);
    }
    w->in.now_ms = NOW + 60000;
    w->meta[2].ok_ms = NOW + 59900;
    rm_history_rates(w->hist, &w->snap, w->in.now_ms);
    assert_true(fabs(s->conflict_rate_per_min - 12.0) < 1e-9);
    key(w, 'c');
    draw(w, 120, 40);
    assert_screen(w, "PER MIN");
    assert_screen(w, "12.0");
    assert_int_equal(RM_ST_ROLE(style_of(w, "12.0")), RM_UI_WARNING);
    /* Before 15 the counters do not exist. */
    s->apply_error_count = RM_NONE;
    s->sync_error_count = RM_NONE;
    draw(w, 120, 40);
    assert_screen(w, "(15+)");
    /* pglogical keeps no counters; its edge says pglogical. */
    s->kind = RM_SUB_PGLOGICAL;
    draw(w, 120, 40);
    assert_screen(w, "(no counters)");
    assert_screen(w, "pglogical demo_sub_1");
    world_free(w);
}

static void test_history_and_sparklines(void **state)
{
    rm_history_t *h = rm_history_new(4);
    const rm_series_t *s;
    char out[256];
    double lo, hi;
    int i;

    (void)state;
    for (i = 0; i < 6; i++)
        assert_int_equal(rm_history_add(h, "a", 1000 * i, i), 0);
    rm_history_add(h, "a", 5000, 99); /* not newer: ignored */
    s = rm_history_get(h, "a");
    assert_int_equal(rm_series_count(s), 4);
    assert_true(rm_series_value(s, 0) == 2);
    assert_true(rm_series_value(s, 3) == 5);
    assert_int_equal(rm_series_span_ms(s), 3000);
    assert_int_equal(rm_series_minmax(s, 3000, &lo, &hi), 3);
    assert_true(lo == 3 && hi == 5);
    assert_null(rm_history_get(h, "b"));
    /* Many keys: the table grows. */
    for (i = 0; i < 200; i++) {
        char k[16];

        snprintf(k, sizeof(k), "k%d", i);
        rm_history_add(h, k, 100, i);
    }
    assert_int_equal(rm_history_size(h), 201);
    assert_true(rm_series_value(rm_history_get(h, "k150"), 0) == 150);
    rm_history_prune(h, 1000);
    assert_int_equal(rm_history_size(h), 1);
    rm_history_free(h);

    /* Eight levels; gaps are blanks; fewer samples align right. */
    h = rm_history_new(16);
    for (i = 0; i < 8; i++)
        rm_history_add(h, "s", i + 1, i + 1);
    s = rm_history_get(h, "s");
    rm_sparkline(s, 8, 1, 0, out, sizeof(out));
    assert_string_equal(out, "\u2581\u2582\u2583\u2584\u2585\u2586\u2587"
                             "\u2588");
    rm_sparkline(s, 10, 0, 0, out, sizeof(out));
    assert_int_equal(strlen(out), 10);
    assert_true(out[0] == ' ' && out[1] == ' ' && out[9] == '#');
    rm_history_add(h, "s", 20, NAN);
    rm_sparkline(s, 3, 1, 0, out, sizeof(out));
    assert_string_equal(out, "\u2587\u2588 ");
    /* A floor keeps jitter low. */
    rm_sparkline(s, 2, 1, 1000, out, sizeof(out));
    assert_string_equal(out, "\u2581 ");
    rm_sparkline(NULL, 3, 1, 0, out, sizeof(out));
    assert_string_equal(out, "   ");
    /* A counter's growth per minute; a reset counts as no growth. */
    rm_history_add(h, "c", 0, 10);
    rm_history_add(h, "c", 30000, 20);
    rm_history_add(h, "c", 60000, 5);
    assert_true(
        fabs(rm_series_rate_per_min(rm_history_get(h, "c"), 60000, 60000) -
             10.0) < 1e-9);
    assert_true(isnan(rm_series_rate_per_min(NULL, 0, 60000)));
    rm_history_free(h);
}

static void test_theme(void **state)
{
    rm_palette_t p;
    rm_theme_color_t over[2] = {{"warning", "#123456"}, {"muted", "gray"}};
    rm_theme_t theme = {"light", over, 2};
    rm_color_t c;

    (void)state;
    rm_palette_resolve(NULL, &p);
    assert_string_equal(p.name, "dark");
    assert_int_equal(p.color[RM_UI_WARNING].r, 0xFF);
    assert_int_equal(p.color[RM_UI_WARNING].g, 0xD7);
    assert_int_equal(p.color[RM_UI_BG].r, 0);
    rm_palette_resolve(&(rm_theme_t){"light", NULL, 0}, &p);
    assert_string_equal(p.name, "light");
    assert_int_equal(p.color[RM_UI_BG].r, 0xFF);
    assert_int_equal(p.color[RM_UI_CRITICAL].r, 0xDC);
    rm_palette_resolve(&theme, &p);
    assert_string_equal(p.name, "custom");
    assert_int_equal(p.color[RM_UI_WARNING].b, 0x56);
    assert_int_equal(p.color[RM_UI_MUTED].kind, RM_COLOR_INDEX);
    assert_int_equal(p.color[RM_UI_MUTED].index, 8);
    /* The nearest colour a terminal has. */
    rm_color_parse("#FFD700", &c);
    assert_int_equal(rm_color_on_terminal(&c, 256), 220);
    assert_int_equal(rm_color_on_terminal(&c, 8), 3);
    rm_color_parse("#808080", &c);
    assert_int_equal(rm_color_on_terminal(&c, 16), 8);
    rm_color_parse("#fff", &c);
    assert_int_equal(c.r, 255);
    rm_color_parse("bright-red", &c);
    assert_int_equal(rm_color_on_terminal(&c, 256), 9);
    assert_int_equal(rm_color_on_terminal(&c, 8), 1);
    rm_color_parse("default", &c);
    assert_int_equal(rm_color_on_terminal(&c, 256), -1);
    assert_int_equal(rm_color_parse("200", &c), 0);
    assert_int_equal(c.index, 200);
    assert_int_equal(rm_color_parse("#12345", &c), -1);
    assert_int_equal(rm_color_parse("purple", &c), -1);
    assert_int_equal(rm_color_parse("256", &c), -1);
    assert_string_equal(rm_ui_role_name(RM_UI_SECONDARY), "secondary");
}

static void test_event_pane(void **state)
{
    rm_eventpane_t *log = rm_eventpane_new(3);
    rm_event_entry_t e[4];
    pgcm_health_t h;
    pgcm_event_t ev;

    (void)state;
    memset(&h, 0, sizeof(h));
    memset(&ev, 0, sizeof(ev));
    ev.type = PGCM_EV_HEALTH_CHANGED;
    ev.node_id = "n1";
    ev.time_ms = 1000;
    ev.old_state = PGCM_NODE_HEALTHY;
    ev.new_state = PGCM_NODE_DEGRADED;
    ev.message = "probe timeout";
    ev.health = &h;
    rm_eventpane_pgcm(log, &ev);
    ev.type = PGCM_EV_POOL_STATS; /* not shown */
    rm_eventpane_pgcm(log, &ev);
    ev.type = PGCM_EV_NODE_DISCONNECTED;
    ev.message = "connection refused";
    rm_eventpane_pgcm(log, &ev);
    rm_eventpane_add(log, 3000, RM_EVL_INFO, NULL, "configuration reloaded: %d",
                     1);
    assert_int_equal(rm_eventpane_seq(log), 3);
    assert_int_equal(rm_eventpane_copy(log, e, 4), 3);
    assert_string_equal(e[0].text, "configuration reloaded: 1");
    assert_true(e[0].own);
    assert_string_equal(e[1].text, "disconnected: connection refused");
    assert_int_equal(e[1].level, RM_EVL_CRITICAL);
    assert_string_equal(e[2].text, "healthy -> degraded (probe timeout)");
    assert_int_equal(e[2].level, RM_EVL_WARNING);
    assert_string_equal(e[2].node, "n1");
    /* The oldest goes when it is full. */
    rm_eventpane_add(log, 4000, RM_EVL_WARNING, "n2", "retrying");
    assert_int_equal(rm_eventpane_copy(log, e, 4), 3);
    assert_string_equal(e[0].text, "retrying");
    assert_string_equal(e[2].text, "disconnected: connection refused");
    rm_eventpane_free(log);
}

static void test_text_rules(void **state)
{
    rm_canvas_t c;
    char line[256];

    (void)state;
    assert_int_equal(rm_tui_width("abc", 1), 3);
    assert_int_equal(rm_tui_width("\u8282", 1), 2);
    assert_int_equal(rm_tui_width("e\u0301", 1), 1);
    assert_int_equal(rm_tui_width("a\tb", 1), 4);
    assert_int_equal(rm_tui_width("\u202e", 1), 6);
    assert_int_equal(rm_tui_width("\u00e9", 0), 6);
    assert_int_equal(rm_tui_width("\xff", 1), 4); /* invalid byte: \xff */
    assert_int_equal(rm_canvas_init(&c, 10, 2, 1), 0);
    rm_canvas_field(&c, 0, 0, 6, "abcdefgh", RM_UI_FG, 0);
    rm_canvas_row(&c, 0, line, sizeof(line));
    assert_string_equal(line, "abcde\u2026");
    rm_canvas_field(&c, 0, 1, 6, "42", RM_UI_FG, 1);
    rm_canvas_row(&c, 1, line, sizeof(line));
    assert_string_equal(line, "    42");
    /* A wide glyph that does not fit leaves a blank. */
    rm_canvas_clear(&c);
    rm_canvas_text(&c, 0, 0, 3, "a\u8282\u8282", RM_UI_FG);
    rm_canvas_row(&c, 0, line, sizeof(line));
    assert_string_equal(line, "a\u8282");
    rm_canvas_free(&c);
}

/* Select the row of panel p whose key is k (j from the top). */
static void select_row(world_t *w, uint32_t panel_key, const char *k)
{
    rm_panel_t p;

    key(w, panel_key);
    p = w->ui.focus;
    draw(w, 120, 40);
    key(w, 'g');
    for (size_t i = 0; i < w->view.t[p].nrows; i++) {
        if (strcmp(w->ui.pos[p].key, k) == 0)
            return;
        key(w, 'j');
    }
    fail_msg("no row %s in panel %d", k, (int)p);
}

/* o on the selected row, opened as the dashboard does. */
static void open_ops(world_t *w)
{
    rm_action_t a = key(w, 'o');
    char why[256];

    assert_int_equal(a.kind, RM_ACT_OPS_OPEN);
    assert_int_equal(
        rm_ops_menu_open(&w->ui, &w->snap, a.key, why, sizeof(why)), 0);
    assert_int_equal(w->ui.modal, RM_MODAL_OPS);
    draw(w, 120, 40);
}

/* RM_ACT_OPS_PLAN as the dashboard carries it out. */
static void plan(world_t *w)
{
    rm_op_request_t req;
    rm_op_plan_t p;
    char err[512];

    rm_ops_menu_request(&w->ui, &req);
    memset(&p, 0, sizeof(p));
    if (rm_op_plan(&w->snap, &req, &p, err, sizeof(err)) != 0)
        fail_msg("plan refused: %s", err);
    rm_ops_menu_planned(&w->ui, &p);
    assert_null(p.summary); /* taken */
    draw(w, 120, 40);
}

static void test_operations_menu(void **state)
{
    world_t *w = world_new();
    rm_op_request_t req;
    rm_op_plan_t taken;
    rm_action_t a;
    char why[256];

    (void)state;
    /* A slot: drop, asking for its name. */
    select_row(w, 'l', "slot/publisher/demo_sub_2");
    open_ops(w);
    assert_screen(w, "Operations: slot demo_sub_2 on node publisher");
    assert_screen(w, "drop (asks for the name)");
    assert_int_equal(code(w, RM_K_ENTER).kind, RM_ACT_OPS_PLAN);
    rm_ops_menu_request(&w->ui, &req);
    assert_int_equal(req.kind, RM_OP_SLOT_DROP);
    assert_string_equal(req.name, "demo_sub_2");
    assert_string_equal(req.node, "publisher");
    assert_int_equal(req.force, 0);
    plan(w);
    assert_int_equal(w->ui.ops.stage, RM_OPS_CONFIRM);
    assert_screen(w, "SELECT pg_drop_replication_slot('demo_sub_2')");
    assert_screen(w, "type demo_sub_2 and Enter");
    assert_screen(w, "consequence");
    /* The wrong name: nothing to run, it says so, still confirming. */
    type(w, "demo_sub_1");
    draw(w, 120, 40);
    assert_screen(w, "type demo_sub_2 and Enter: demo_sub_1");
    a = code(w, RM_K_ENTER);
    assert_int_equal(a.kind, RM_ACT_REDRAW);
    assert_int_equal(w->ui.modal, RM_MODAL_OPS);
    assert_int_equal(w->ui.ops.stage, RM_OPS_CONFIRM);
    draw(w, 120, 40);
    assert_screen(w, "'demo_sub_1' is not demo_sub_2: nothing was done");
    /* Keys that would act elsewhere are typed here (q does not quit). */
    type(w, "q");
    assert_string_equal(w->ui.ops.typed, "q");
    code(w, RM_K_BACKSPACE);
    /* The right name: run it. */
    type(w, "demo_sub_2");
    assert_int_equal(code(w, RM_K_ENTER).kind, RM_ACT_OPS_RUN);
    assert_int_equal(rm_ops_menu_take(&w->ui, &taken), 0);
    assert_int_equal(w->ui.modal, RM_MODAL_NONE);
    assert_int_equal(taken.kind, RM_OP_SLOT_DROP);
    assert_string_equal(taken.object, "demo_sub_2");
    rm_op_plan_free(&taken);
    assert_int_equal(rm_ops_menu_take(&w->ui, &taken), -1);

    /* A subscription: an unavailable choice says why; Esc closes. */
    select_row(w, 's', "sub/subscriber1/demo_sub_1");
    open_ops(w);
    assert_screen(w, "Operations: native subscription demo_sub_1 on node "
                     "subscriber1");
    assert_screen(w, "resume - already enabled");
    assert_screen(w, "refresh publication");
    key(w, 'j');
    assert_int_equal(code(w, RM_K_ENTER).kind, RM_ACT_REDRAW);
    draw(w, 120, 40);
    assert_screen(w, "resume: already enabled");
    key(w, 'k');
    /* Pause is not destructive: Enter runs it, Esc abandons it. */
    assert_int_equal(code(w, RM_K_ENTER).kind, RM_ACT_OPS_PLAN);
    plan(w);
    assert_screen(w, "ALTER SUBSCRIPTION \"demo_sub_1\" DISABLE");
    assert_screen(w, "Enter runs it, Esc cancels");
    assert_int_equal(code(w, RM_K_ESC).kind, RM_ACT_OPS_ABANDON);
    assert_int_equal(w->ui.modal, RM_MODAL_NONE);
    assert_int_equal(w->ui.ops.have_plan, 1); /* for the log */
    rm_ops_menu_close(&w->ui);
    assert_int_equal(w->ui.ops.have_plan, 0);
    draw(w, 120, 40);
    assert_not_screen(w, "Operations:");
    /* Esc in the menu closes it without an action for the log. */
    open_ops(w);
    assert_int_equal(code(w, RM_K_ESC).kind, RM_ACT_REDRAW);
    assert_int_equal(w->ui.modal, RM_MODAL_NONE);

    /* A node: create a slot, its name typed, Tab for the kind. */
    select_row(w, 'n', "node/publisher");
    open_ops(w);
    assert_screen(w, "create a slot...");
    assert_int_equal(code(w, RM_K_ENTER).kind, RM_ACT_REDRAW);
    assert_int_equal(w->ui.ops.stage, RM_OPS_INPUT);
    assert_int_equal(code(w, RM_K_ENTER).kind, RM_ACT_REDRAW);
    draw(w, 120, 40);
    assert_screen(w, "type the slot's name first");
    type(w, "new_slot");
    code(w, RM_K_TAB);
    draw(w, 120, 40);
    assert_screen(w, "logical, plugin test_decoding (Tab changes)");
    code(w, RM_K_TAB);
    draw(w, 120, 40);
    assert_screen(w, "physical (Tab changes)");
    code(w, RM_K_TAB);
    assert_int_equal(code(w, RM_K_ENTER).kind, RM_ACT_OPS_PLAN);
    rm_ops_menu_request(&w->ui, &req);
    assert_int_equal(req.kind, RM_OP_SLOT_CREATE);
    assert_string_equal(req.name, "new_slot");
    assert_string_equal(req.plugin, "pgoutput");
    /* A refused plan stays in the menu and says why. */
    rm_ops_menu_refused(&w->ui, "slot new_slot exists on node publisher");
    draw(w, 120, 40);
    assert_screen(w, "slot new_slot exists on node publisher");
    assert_int_equal(code(w, RM_K_ESC).kind, RM_ACT_REDRAW);
    assert_int_equal(w->ui.ops.stage, RM_OPS_MENU);
    code(w, RM_K_ESC);
    assert_int_equal(w->ui.modal, RM_MODAL_NONE);

    /* Rows without operations, and objects gone. */
    assert_int_equal(
        rm_ops_menu_open(&w->ui, &w->snap, "finding/3", why, sizeof(why)), -1);
    assert_non_null(strstr(why, "no operations on this row"));
    assert_int_equal(rm_ops_menu_open(&w->ui, &w->snap, "slot/publisher/gone",
                                      why, sizeof(why)),
                     -1);
    assert_non_null(strstr(why, "gone"));
    assert_int_equal(w->ui.modal, RM_MODAL_NONE);
    world_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wide_layout),
        cmocka_unit_test(test_narrow_layout),
        cmocka_unit_test(test_panel_keys),
        cmocka_unit_test(test_selection_and_live_details),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_pause_and_interval),
        cmocka_unit_test(test_actions),
        cmocka_unit_test(test_stale_after_two_intervals),
        cmocka_unit_test(test_hostile_names_are_escaped),
        cmocka_unit_test(test_scrolling_many_nodes),
        cmocka_unit_test(test_slot_bar_thresholds),
        cmocka_unit_test(test_conflicts_rate),
        cmocka_unit_test(test_history_and_sparklines),
        cmocka_unit_test(test_theme),
        cmocka_unit_test(test_event_pane),
        cmocka_unit_test(test_text_rules),
        cmocka_unit_test(test_operations_menu),
    };

    setenv("TZ", "UTC", 1);
    setenv("LC_ALL", "C.UTF-8", 1);
    rm_text_locale_init(); /* as main() does: widths need UTF-8 */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
