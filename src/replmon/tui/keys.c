/* SPDX-License-Identifier: MIT */
/*
 * keys.c - the dashboard's UI state and what each key does to it (see
 * model.h). No I/O: rm_ui_key() returns the action for the dashboard to
 * carry out.
 */
#include "tui/model.h"

#include <string.h>

#include "tui/text.h"

static const rm_key_help_t help[] = {
    {"n t s l b x c f e", "nodes, topology, subscriptions, slots, standbys "
                          "and receivers, cross-node lag, conflicts, "
                          "findings, events"},
    {"o", "operations on the selected node, subscription or slot (pause, "
          "resume, refresh, resync, create or drop a slot), logged in the "
          "events panel"},
    {"1 ... 9", "the panels in that order"},
    {"Tab, Shift-Tab", "next, previous panel"},
    {"j k, Down Up", "move the selection"},
    {"PgDn PgUp, g G", "a page down or up, the first or last row"},
    {"Enter", "details of the selected node, subscription, slot, standby, "
              "finding or event (updated every round)"},
    {"/", "filter the rows of every panel (Enter keeps it, Esc cancels)"},
    {"Esc", "close the box on top, or clear the filter"},
    {"p, Space", "pause or resume the refresh"},
    {"+ -", "refresh less or more often"},
    {"r", "retry the selected row's node now"},
    {"R", "reload the configuration (as SIGHUP does)"},
    {"? h", "this help"},
    {"q, Ctrl-C", "quit"},
};

const rm_key_help_t *rm_key_help(size_t *count)
{
    *count = sizeof(help) / sizeof(help[0]);
    return help;
}

void rm_ui_init(rm_ui_t *ui, int64_t interval_ms)
{
    memset(ui, 0, sizeof(*ui));
    ui->focus = RM_PANEL_NODES;
    ui->repl = RM_PANEL_SUBSCRIPTIONS;
    ui->interval_ms = interval_ms > 0 ? interval_ms : 1000;
    ui->interval_index = rm_interval_index(ui->interval_ms);
    ui->page_rows = 10;
}

void rm_ui_sync(rm_ui_t *ui, const rm_view_t *v)
{
    size_t p, i;

    for (p = 0; p < RM_PANEL_COUNT; p++) {
        const rm_vtable_t *t = &v->t[p];
        rm_ui_pos_t *pos = &ui->pos[p];
        int found = 0;

        if (t->nrows == 0) {
            pos->sel = 0;
            pos->top = 0;
            pos->key[0] = '\0';
            continue;
        }
        for (i = 0; pos->key[0] != '\0' && i < t->nrows; i++) {
            if (strcmp(t->rows[i].key, pos->key) == 0) {
                pos->sel = i;
                found = 1;
                break;
            }
        }
        if (!found && pos->sel >= t->nrows)
            pos->sel = t->nrows - 1;
        snprintf(pos->key, sizeof(pos->key), "%s", t->rows[pos->sel].key);
    }
}

static int is_repl_panel(rm_panel_t p)
{
    return p == RM_PANEL_SUBSCRIPTIONS || p == RM_PANEL_STANDBYS ||
           p == RM_PANEL_LAG || p == RM_PANEL_CONFLICTS;
}

static rm_action_t act(rm_action_kind_t k)
{
    rm_action_t a;

    memset(&a, 0, sizeof(a));
    a.kind = k;
    return a;
}

static rm_action_t focus(rm_ui_t *ui, rm_panel_t p)
{
    ui->focus = p;
    if (is_repl_panel(p))
        ui->repl = p;
    return act(RM_ACT_REDRAW);
}

static rm_action_t move(rm_ui_t *ui, const rm_view_t *v, long delta, int to_end)
{
    const rm_vtable_t *t = &v->t[ui->focus];
    rm_ui_pos_t *pos = &ui->pos[ui->focus];
    long sel = (long)pos->sel + delta;

    if (t->nrows == 0)
        return act(RM_ACT_NONE);
    if (to_end < 0)
        sel = 0;
    else if (to_end > 0)
        sel = (long)t->nrows - 1;
    if (sel < 0)
        sel = 0;
    if (sel >= (long)t->nrows)
        sel = (long)t->nrows - 1;
    pos->sel = (size_t)sel;
    snprintf(pos->key, sizeof(pos->key), "%s", t->rows[pos->sel].key);
    return act(RM_ACT_REDRAW);
}

static rm_action_t filter_key(rm_ui_t *ui, rm_key_t key)
{
    switch (key.code) {
    case RM_K_ESC:
        /* Cancel: the filter before '/' comes back. */
        ui->filtering = 0;
        return act(RM_ACT_REDRAW);
    case RM_K_ENTER:
        snprintf(ui->filter, sizeof(ui->filter), "%s", ui->edit);
        ui->filtering = 0;
        return act(RM_ACT_REDRAW);
    case RM_K_BACKSPACE:
        rm_tui_edit_backspace(ui->edit);
        return act(RM_ACT_REDRAW);
    case RM_K_CTRL_U:
        ui->edit[0] = '\0';
        return act(RM_ACT_REDRAW);
    case RM_K_CHAR:
        rm_tui_edit_append(ui->edit, sizeof(ui->edit), key.ch);
        return act(RM_ACT_REDRAW);
    default:
        return act(RM_ACT_NONE);
    }
}

static rm_action_t scroll_modal(rm_ui_t *ui, long delta)
{
    long max = (long)ui->modal_rows - (long)ui->modal_height, s;

    if (max < 0)
        max = 0;
    s = (long)ui->modal_scroll + delta;
    if (s < 0)
        s = 0;
    if (s > max)
        s = max;
    ui->modal_scroll = (size_t)s;
    return act(RM_ACT_REDRAW);
}

static rm_action_t retry(rm_ui_t *ui, const rm_view_t *v, rm_panel_t p,
                         const char *key)
{
    const rm_vtable_t *t = &v->t[p];
    rm_action_t a = act(RM_ACT_NONE);
    size_t i;

    (void)ui;
    for (i = 0; i < t->nrows; i++) {
        if (strcmp(t->rows[i].key, key) == 0 && t->rows[i].node != NULL) {
            a.kind = RM_ACT_RETRY;
            snprintf(a.node, sizeof(a.node), "%s", t->rows[i].node);
            break;
        }
    }
    return a;
}

/* Keys that work the same with or without a box on top. */
static int common_key(rm_ui_t *ui, rm_key_t key, rm_action_t *out)
{
    if (key.code != RM_K_CHAR)
        return 0;
    switch (key.ch) {
    case 'p':
    case ' ':
        ui->paused = !ui->paused;
        *out = act(RM_ACT_PAUSE);
        return 1;
    case '+':
    case '=':
    case '-':
    case '_': {
        int up = key.ch == '+' || key.ch == '=';
        int i = ui->interval_index + (up ? 1 : -1);

        /* From a value between two steps, the first press goes to the
         * nearest step in that direction. */
        if (up && rm_interval_steps_ms[ui->interval_index] > ui->interval_ms)
            i = ui->interval_index;
        if (!up && rm_interval_steps_ms[ui->interval_index] < ui->interval_ms)
            i = ui->interval_index;
        if (i < 0)
            i = 0;
        if (i >= RM_INTERVAL_STEPS)
            i = RM_INTERVAL_STEPS - 1;
        if (rm_interval_steps_ms[i] == ui->interval_ms) {
            *out = act(RM_ACT_NONE);
            return 1;
        }
        ui->interval_index = i;
        ui->interval_ms = rm_interval_steps_ms[i];
        *out = act(RM_ACT_INTERVAL);
        return 1;
    }
    case 'R':
        *out = act(RM_ACT_RELOAD);
        return 1;
    case 'q':
        *out = act(RM_ACT_QUIT);
        return 1;
    default:
        return 0;
    }
}

rm_action_t rm_ui_key(rm_ui_t *ui, rm_key_t key, const rm_view_t *v)
{
    rm_action_t a;
    const rm_vtable_t *t = &v->t[ui->focus];

    if (key.code == RM_K_RESIZE)
        return act(RM_ACT_REDRAW);
    if (key.code == RM_K_CTRL_C)
        return act(RM_ACT_QUIT);
    if (ui->filtering)
        return filter_key(ui, key);
    if (ui->modal == RM_MODAL_OPS)
        return rm_ops_menu_key(ui, key);
    if (ui->modal != RM_MODAL_NONE) {
        switch (key.code) {
        case RM_K_ESC:
        case RM_K_ENTER:
            ui->modal = RM_MODAL_NONE;
            return act(RM_ACT_REDRAW);
        case RM_K_DOWN:
            return scroll_modal(ui, 1);
        case RM_K_UP:
            return scroll_modal(ui, -1);
        case RM_K_PGDN:
            return scroll_modal(ui, ui->modal_height > 1 ? ui->modal_height - 1
                                                         : 1);
        case RM_K_PGUP:
            return scroll_modal(
                ui, -(ui->modal_height > 1 ? ui->modal_height - 1 : 1));
        case RM_K_CHAR:
            if (key.ch == 'j')
                return scroll_modal(ui, 1);
            if (key.ch == 'k')
                return scroll_modal(ui, -1);
            if (key.ch == '?' || key.ch == 'h') {
                ui->modal =
                    ui->modal == RM_MODAL_HELP ? RM_MODAL_NONE : RM_MODAL_HELP;
                ui->modal_scroll = 0;
                return act(RM_ACT_REDRAW);
            }
            if (key.ch == 'r' && ui->modal == RM_MODAL_DETAILS)
                return retry(ui, v, ui->detail_panel, ui->detail_key);
            if (common_key(ui, key, &a))
                return a;
            return act(RM_ACT_NONE);
        default:
            return act(RM_ACT_NONE);
        }
    }
    switch (key.code) {
    case RM_K_TAB:
        return focus(ui, (rm_panel_t)((ui->focus + 1) % RM_PANEL_COUNT));
    case RM_K_BTAB:
        return focus(ui, (rm_panel_t)((ui->focus + RM_PANEL_COUNT - 1) %
                                      RM_PANEL_COUNT));
    case RM_K_DOWN:
        return move(ui, v, 1, 0);
    case RM_K_UP:
        return move(ui, v, -1, 0);
    case RM_K_PGDN:
        return move(ui, v, ui->page_rows > 1 ? ui->page_rows : 1, 0);
    case RM_K_PGUP:
        return move(ui, v, -(ui->page_rows > 1 ? ui->page_rows : 1), 0);
    case RM_K_HOME:
        return move(ui, v, 0, -1);
    case RM_K_END:
        return move(ui, v, 0, 1);
    case RM_K_ENTER:
        if (t->nrows == 0)
            return act(RM_ACT_NONE);
        ui->modal = RM_MODAL_DETAILS;
        ui->detail_panel = ui->focus;
        snprintf(ui->detail_key, sizeof(ui->detail_key), "%s",
                 t->rows[ui->pos[ui->focus].sel].key);
        ui->modal_scroll = 0;
        return act(RM_ACT_REDRAW);
    case RM_K_ESC:
        if (ui->filter[0] == '\0')
            return act(RM_ACT_NONE);
        ui->filter[0] = '\0';
        return act(RM_ACT_REDRAW);
    case RM_K_CHAR:
        break;
    default:
        return act(RM_ACT_NONE);
    }
    if (common_key(ui, key, &a))
        return a;
    if (key.ch >= '1' && key.ch <= '9' &&
        key.ch - '1' < (uint32_t)RM_PANEL_COUNT)
        return focus(ui, (rm_panel_t)(key.ch - '1'));
    for (int p = 0; p < RM_PANEL_COUNT; p++) {
        if ((uint32_t)rm_panel_key((rm_panel_t)p) == key.ch)
            return focus(ui, (rm_panel_t)p);
    }
    switch (key.ch) {
    case 'o':
        if (t->nrows == 0)
            return act(RM_ACT_NONE);
        a = act(RM_ACT_OPS_OPEN);
        a.panel = ui->focus;
        snprintf(a.key, sizeof(a.key), "%s",
                 t->rows[ui->pos[ui->focus].sel].key);
        return a;
    case 'j':
        return move(ui, v, 1, 0);
    case 'k':
        return move(ui, v, -1, 0);
    case 'g':
        return move(ui, v, 0, -1);
    case 'G':
        return move(ui, v, 0, 1);
    case '?':
    case 'h':
        ui->modal = RM_MODAL_HELP;
        ui->modal_scroll = 0;
        return act(RM_ACT_REDRAW);
    case '/':
        ui->filtering = 1;
        snprintf(ui->edit, sizeof(ui->edit), "%s", ui->filter);
        return act(RM_ACT_REDRAW);
    case 'r':
        if (t->nrows == 0)
            return act(RM_ACT_NONE);
        return retry(ui, v, ui->focus, t->rows[ui->pos[ui->focus].sel].key);
    default:
        return act(RM_ACT_NONE);
    }
}
