/* SPDX-License-Identifier: MIT */
/*
 * model.h - the dashboard's screen model, apart from any terminal:
 *
 *   - rm_ui_t, the UI state (focused panel, selections, modal, filter,
 *     pause, refresh interval) and rm_ui_key(), what a key does to it: a
 *     pure function that returns the action the dashboard must take (quit,
 *     reload, retry a node, change the interval);
 *   - rm_view_build(), what each panel shows: tables of rows built from a
 *     snapshot, its evaluation, the history, the events and the thresholds;
 *   - rm_screen_render(), the whole screen (header, panels at 120x40 or one
 *     at a time at 80x24, details and help boxes, key bar) into a canvas.
 *
 * Layout. Wide (at least 110x30): a header, the nodes panel across the
 * top, then topology beside the replication panel (subscriptions, or
 * standbys, cross-node lag or conflicts when one of those was chosen
 * last), the slots across, findings beside events, and the key bar.
 * Narrow: one panel at a time under the header, the worst finding always
 * on the line above the key bar. Every panel is one key away in both.
 */
#ifndef REPLMON_TUI_MODEL_H
#define REPLMON_TUI_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "collect.h"
#include "config.h"
#include "evaluate.h"
#include "ops.h"
#include "tui/canvas.h"
#include "tui/eventpane.h"
#include "tui/history.h"

/* ---------------------------------------------------------------------- */
/* Panels                                                                 */
/* ---------------------------------------------------------------------- */

typedef enum rm_panel {
    RM_PANEL_NODES = 0,
    RM_PANEL_TOPOLOGY,
    RM_PANEL_SUBSCRIPTIONS,
    RM_PANEL_SLOTS,
    RM_PANEL_STANDBYS,
    RM_PANEL_LAG,
    RM_PANEL_CONFLICTS,
    RM_PANEL_FINDINGS,
    RM_PANEL_EVENTS,
    RM_PANEL_COUNT
} rm_panel_t;

/* "Nodes", "Topology", ... and the key that focuses the panel. */
const char *rm_panel_title(rm_panel_t p);
char rm_panel_key(rm_panel_t p);

/* The refresh intervals + and - step through. */
#define RM_INTERVAL_STEPS 8
extern const int64_t rm_interval_steps_ms[RM_INTERVAL_STEPS];
/* rm_interval_index - the step nearest to ms. */
int rm_interval_index(int64_t ms);

/* Data older than this many intervals is stale. */
#define RM_STALE_INTERVALS 2

/* ---------------------------------------------------------------------- */
/* Inputs                                                                 */
/* ---------------------------------------------------------------------- */

/* What the dashboard knows about each node's collection. */
typedef struct rm_node_meta {
    int64_t ok_ms;      /* start of the last round that read the node's
                           facts (Unix ms), 0 = never */
    int64_t attempt_ms; /* start of the last round that finished, 0 */
    int64_t round_us;   /* how long that round took */
    int in_flight;      /* a round is running now */
    int64_t in_flight_since_ms;
    char error[512]; /* why the last round failed, "" when it did not */
} rm_node_meta_t;

typedef struct rm_view_input {
    const rm_snapshot_t *snap;  /* nodes in configuration order */
    const rm_eval_t *ev;        /* its evaluation */
    const rm_node_meta_t *meta; /* snap->count entries */
    const rm_thresholds_t *thresholds;
    const rm_history_t *history; /* may be NULL */
    const rm_event_entry_t *events;
    size_t nevents;      /* newest first */
    const char *cluster; /* shown in the header, or NULL */
    int64_t now_ms;      /* Unix ms: ages, the clock */
    int64_t started_ms;  /* when the dashboard started (ages before any
                            round finished) */
    int64_t interval_ms; /* refresh interval */
    int paused;          /* data is not being refreshed */
    const char *message; /* one line for the key bar, or NULL */
    rm_event_level_t message_level;
    int utf8; /* Unicode glyphs allowed */
} rm_view_input_t;

/* Keys of the series the history keeps (and the rows' object keys):
 * "node/ID", "sub/NODE/NAME", "subtime/NODE/NAME", "confl/NODE/NAME" (a
 * pglogical subscription's NAME is "pglogical:NAME"), "slot/NODE/NAME",
 * "standby/NODE/APP/ADDR", "recv/NODE", "lat/NODE". */
void rm_key_node(char *buf, size_t len, const char *node);
void rm_key_sub(char *buf, size_t len, const char *prefix, const char *node,
                const rm_subscription_t *s);
void rm_key_slot(char *buf, size_t len, const char *node, const char *name);
void rm_key_standby(char *buf, size_t len, const char *node,
                    const rm_standby_t *s);
void rm_key_recv(char *buf, size_t len, const char *node);

/* The window the conflict rate is measured over. */
#define RM_RATE_WINDOW_MS 60000

/* rm_history_rates - set every subscription's conflict_rate_per_min from
 * its conflict count's history (rm_subscription_conflicts): the growth per
 * minute over the last RM_RATE_WINDOW_MS, NAN without two samples. What
 * rm_evaluate then judges against conflict_rate, as status --sample and
 * serve do between two rounds. */
void rm_history_rates(const rm_history_t *h, rm_snapshot_t *snap,
                      int64_t now_ms);

/* rm_history_sample - add what the rounds of the nodes with changed[i]
 * set measured (lag, retention, latency, error counters) to h, at each
 * node's round start. Returns 0 or -1 (no memory). */
int rm_history_sample(rm_history_t *h, const rm_snapshot_t *snap,
                      const rm_node_meta_t *meta, const int *changed);

/* ---------------------------------------------------------------------- */
/* Views: what each panel shows                                           */
/* ---------------------------------------------------------------------- */

typedef enum rm_vcell_kind {
    RM_VCELL_TEXT = 0,
    RM_VCELL_SPARK, /* a sparkline of `series` as wide as the column */
    RM_VCELL_BAR    /* a bar of `fraction` (0..1) then `text` */
} rm_vcell_kind_t;

typedef struct rm_vcell {
    rm_vcell_kind_t kind;
    const char *text;
    rm_style_t style;
    const rm_series_t *series; /* SPARK */
    double floor;              /* SPARK: the least full scale */
    double fraction;           /* BAR */
} rm_vcell_t;

#define RM_VMAX_COLS 12

typedef struct rm_vcol {
    const char *title;
    int width; /* widest of title and cells */
    int min;   /* narrowest it may become */
    int right; /* aligned right */
    int prio;  /* 0: always shown; the highest is dropped first */
    int flex;  /* takes the width left over */
} rm_vcol_t;

typedef struct rm_vrow {
    const char *key;  /* the object shown, for selection and details */
    const char *node; /* the node it belongs to (for r), or NULL */
    rm_vcell_t *cells;
} rm_vrow_t;

typedef struct rm_vtable {
    rm_vcol_t cols[RM_VMAX_COLS];
    size_t ncols;
    int noheader;
    rm_vrow_t *rows;
    size_t nrows, cap;
    const char *empty; /* shown when there is no row */
    size_t filtered;   /* rows the filter hid */
} rm_vtable_t;

typedef struct rm_arena_block rm_arena_block_t;

typedef struct rm_view {
    rm_vtable_t t[RM_PANEL_COUNT];
    /* The header. */
    size_t nodes, ok, warning, critical, unknown, stale;
    size_t subs, slots, standbys;
    rm_status_t overall;
    /* The worst finding (NULL: none) and how many others there are. */
    const char *worst;
    const char *worst_node;
    rm_status_t worst_status;
    size_t findings;
    rm_arena_block_t *arena;
    int oom;
} rm_view_t;

/* rm_view_build - fill v (zeroed or freed before) from in, keeping the
 * rows that match filter (case-insensitive substring of a row's text;
 * NULL or "": all). Returns 0, or -1 when out of memory (v then holds
 * what was built and must still be freed). */
int rm_view_build(rm_view_t *v, const rm_view_input_t *in, const char *filter);
void rm_view_free(rm_view_t *v);

/* rm_details_build - the details of the object `key` seen from panel p
 * (a node, subscription, slot, standby, receiver, finding or event) into
 * table t (two columns, no header), using v for findings and events. If
 * the object is gone, one row says so. Returns 0 or -1 (no memory). */
int rm_details_build(rm_view_t *v, rm_vtable_t *t, const rm_view_input_t *in,
                     rm_panel_t p, const char *key, char *title,
                     size_t titlelen);

/* A run of text in one style, for the header and the bottom lines. */
typedef struct rm_seg {
    const char *text;
    rm_style_t style;
} rm_seg_t;

#define RM_MAX_SEGS 48

/* rm_header_build - the summary line ("is anything wrong"): cluster, node
 * counts by status, objects, refresh interval, clock, live or paused, the
 * filter. level 0 is the long form; 1 and 2 are shorter, for narrow
 * screens. Returns the number of segments. */
size_t rm_header_build(rm_view_t *v, const rm_view_input_t *in,
                       const char *filter, int level, rm_seg_t *segs,
                       size_t max);

/* rm_keybar_build - the key hints, the focused panel's highlighted; level
 * 0 names everything, 1 shortens the other keys' names, 2 leaves the panel
 * names out, 3 keeps the keys only. */
size_t rm_keybar_build(rm_view_t *v, rm_panel_t focus, int level,
                       rm_seg_t *segs, size_t max);

/* rm_findings_line - the worst finding and how many more there are. */
size_t rm_findings_line(rm_view_t *v, rm_seg_t *segs, size_t max);

/* rm_help_build - the help box: every key, and what the colours and
 * symbols mean. */
int rm_help_build(rm_view_t *v, rm_vtable_t *t, int utf8);

/* ---------------------------------------------------------------------- */
/* UI state and keys                                                      */
/* ---------------------------------------------------------------------- */

typedef enum rm_modal {
    RM_MODAL_NONE = 0,
    RM_MODAL_HELP,
    RM_MODAL_DETAILS,
    RM_MODAL_OPS /* the operations menu (rm_ops_menu_t) */
} rm_modal_t;

/* The operations menu on one object (opsmenu.c), as a state machine:
 *
 *   o on a row --rm_ops_menu_open--> MENU (the object's choices)
 *   MENU --Enter on a choice that needs a table or a slot name--> INPUT
 *   MENU, INPUT --Enter--> RM_ACT_OPS_PLAN: the dashboard plans the
 *        request (rm_ops_menu_request, rm_op_plan) and calls
 *        rm_ops_menu_planned (CONFIRM) or rm_ops_menu_refused (back, the
 *        reason shown)
 *   CONFIRM --Enter (destructive: after typing plan.confirm exactly)-->
 *        RM_ACT_OPS_RUN: the dashboard takes the plan (rm_ops_menu_take)
 *        and runs it off the UI thread; a wrong name stays in CONFIRM,
 *        says so and changes nothing
 *   CONFIRM --Esc--> RM_ACT_OPS_ABANDON (logged; rm_ops_menu_close)
 *   MENU, INPUT --Esc--> back, then closed */
typedef enum rm_ops_stage {
    RM_OPS_MENU = 0,
    RM_OPS_INPUT,
    RM_OPS_CONFIRM
} rm_ops_stage_t;

/* The slot kinds a create offers (Tab in INPUT): logical with these
 * plugins, then physical (NULL). */
#define RM_OPS_SLOT_KINDS 3
extern const char *const rm_ops_slot_plugins[RM_OPS_SLOT_KINDS];

typedef struct rm_ops_menu {
    rm_ops_stage_t stage;
    char title[224]; /* "slot s1 on node pub" */
    char node[64];   /* the object's node */
    char name[128];  /* the subscription or slot; "" for a node */
    int sub_kind;    /* rm_sub_kind_t, -1 */
    rm_op_choice_t choices[RM_OP_KIND_COUNT];
    size_t nchoices, sel;
    char typed[128]; /* INPUT: the table or slot name; CONFIRM: the name */
    char input[128]; /* what INPUT gave */
    int slot_kind;   /* create: index into rm_ops_slot_plugins */
    char note[640];  /* why a choice or a plan was refused, a wrong name */
    int have_plan;
    rm_op_plan_t plan;
} rm_ops_menu_t;

typedef struct rm_ui_pos {
    size_t sel; /* selected row */
    size_t top; /* first row shown */
    char key[192];
} rm_ui_pos_t;

typedef struct rm_ui {
    rm_panel_t focus;
    rm_panel_t repl; /* the replication panel the wide layout shows */
    rm_ui_pos_t pos[RM_PANEL_COUNT];
    rm_modal_t modal;
    rm_panel_t detail_panel;
    char detail_key[192];
    size_t modal_scroll;
    int filtering; /* typing a filter at the prompt */
    char filter[64];
    char edit[64]; /* the prompt's text */
    int paused;
    int64_t interval_ms; /* the refresh interval */
    int interval_index;  /* the step of rm_interval_steps_ms nearest */
    /* Set by rm_screen_render for the keys: rows a page moves. */
    int page_rows;
    int modal_rows;   /* lines of the open modal */
    int modal_height; /* lines it shows */
    rm_ops_menu_t ops;
} rm_ui_t;

/* rm_ui_init - nodes focused, nothing selected, live, interval_ms. */
void rm_ui_init(rm_ui_t *ui, int64_t interval_ms);

typedef enum rm_keycode {
    RM_K_NONE = 0,
    RM_K_CHAR, /* ch: a printable character (ASCII or UTF-8 code point) */
    RM_K_UP,
    RM_K_DOWN,
    RM_K_LEFT,
    RM_K_RIGHT,
    RM_K_PGUP,
    RM_K_PGDN,
    RM_K_HOME,
    RM_K_END,
    RM_K_ENTER,
    RM_K_ESC,
    RM_K_TAB,
    RM_K_BTAB,
    RM_K_BACKSPACE,
    RM_K_CTRL_C,
    RM_K_CTRL_U,
    RM_K_RESIZE
} rm_keycode_t;

typedef struct rm_key {
    rm_keycode_t code;
    uint32_t ch;
} rm_key_t;

typedef enum rm_action_kind {
    RM_ACT_NONE = 0, /* nothing changed */
    RM_ACT_REDRAW,   /* the UI state changed */
    RM_ACT_QUIT,
    RM_ACT_RELOAD,
    RM_ACT_RETRY,      /* node: the node to retry now */
    RM_ACT_INTERVAL,   /* ui->interval_index changed */
    RM_ACT_PAUSE,      /* ui->paused changed */
    RM_ACT_OPS_OPEN,   /* o: open the operations menu on panel's row key */
    RM_ACT_OPS_PLAN,   /* plan rm_ops_menu_request() */
    RM_ACT_OPS_RUN,    /* run ui->ops.plan (rm_ops_menu_take) */
    RM_ACT_OPS_ABANDON /* not confirmed: log it, rm_ops_menu_close */
} rm_action_kind_t;

typedef struct rm_action {
    rm_action_kind_t kind;
    char node[64];
    rm_panel_t panel; /* RM_ACT_OPS_OPEN */
    char key[192];
} rm_action_t;

/* rm_ui_sync - after rm_view_build: keep each panel's selection on the
 * same object (by key) or in range when it went away. */
void rm_ui_sync(rm_ui_t *ui, const rm_view_t *v);

/* rm_ui_key - apply one key to ui, given the view on screen. Pure. */
rm_action_t rm_ui_key(rm_ui_t *ui, rm_key_t key, const rm_view_t *v);

/* rm_ops_menu_open - the operations menu on the object of row key (a
 * node, a subscription, a slot or a subscription's conflicts) as snap
 * has it: MENU with its choices (rm_ops_for_*), the first available one
 * selected. Returns 0, or -1 with why (the row has no operations, or its
 * object is gone). */
int rm_ops_menu_open(rm_ui_t *ui, const rm_snapshot_t *snap, const char *key,
                     char *why, size_t len);
/* rm_ops_menu_request - the request of the selected choice (strings
 * borrowed from ui->ops). */
void rm_ops_menu_request(const rm_ui_t *ui, rm_op_request_t *req);
/* rm_ops_menu_planned - show plan (ownership taken): CONFIRM. */
void rm_ops_menu_planned(rm_ui_t *ui, rm_op_plan_t *plan);
/* rm_ops_menu_refused - the plan was refused: back to where it was asked
 * (MENU or INPUT), why shown. */
void rm_ops_menu_refused(rm_ui_t *ui, const char *why);
/* rm_ops_menu_take - move the confirmed plan to *plan (the caller frees
 * it) and close the menu. Returns 0, or -1 when there is none. */
int rm_ops_menu_take(rm_ui_t *ui, rm_op_plan_t *plan);
/* rm_ops_menu_close - close the menu and free its plan. */
void rm_ops_menu_close(rm_ui_t *ui);
/* rm_ops_menu_key - a key while the menu is open (rm_ui_key calls it). */
rm_action_t rm_ops_menu_key(rm_ui_t *ui, rm_key_t key);
/* rm_ops_box_build - what the menu's box shows (two columns, no header):
 * the choices, what is typed, or the plan's summary, consequence, note and
 * exact SQL. Returns 0 or -1 (no memory). */
int rm_ops_box_build(rm_view_t *v, rm_vtable_t *t, const rm_ui_t *ui, int utf8);

/* The keys, as the help box and the man page list them. */
typedef struct rm_key_help {
    const char *keys;
    const char *what;
} rm_key_help_t;
const rm_key_help_t *rm_key_help(size_t *count);

/* ---------------------------------------------------------------------- */
/* Rendering                                                              */
/* ---------------------------------------------------------------------- */

/* rm_screen_render - draw everything for ui into c (its size is the
 * terminal's). Updates ui's scroll positions and page sizes. Pure apart
 * from that. */
void rm_screen_render(rm_canvas_t *c, rm_view_t *v, const rm_view_input_t *in,
                      rm_ui_t *ui);

#endif /* REPLMON_TUI_MODEL_H */
