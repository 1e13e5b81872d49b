/* SPDX-License-Identifier: MIT */
/*
 * opsmenu.c - the dashboard's operations menu (o): its state machine (see
 * model.h) from the object of the selected row to a confirmed plan. Pure:
 * the choices come from ops.h, the plan from the dashboard, which runs it.
 */
#include "tui/model.h"

#include <stdio.h>
#include <string.h>

#include "tui/text.h"

const char *const rm_ops_slot_plugins[RM_OPS_SLOT_KINDS] = {
    "pgoutput", "test_decoding", NULL};

static rm_action_t act(rm_action_kind_t k)
{
    rm_action_t a;

    memset(&a, 0, sizeof(a));
    a.kind = k;
    return a;
}

/* The first available choice, else the first. */
static void select_first(rm_ops_menu_t *m)
{
    size_t i;

    m->sel = 0;
    for (i = 0; i < m->nchoices; i++) {
        if (m->choices[i].available) {
            m->sel = i;
            return;
        }
    }
}

static void opened(rm_ui_t *ui, const char *node, const char *name,
                   int sub_kind)
{
    rm_ops_menu_t *m = &ui->ops;

    m->stage = RM_OPS_MENU;
    snprintf(m->node, sizeof(m->node), "%s", node);
    snprintf(m->name, sizeof(m->name), "%s", name != NULL ? name : "");
    m->sub_kind = sub_kind;
    m->typed[0] = m->input[0] = m->note[0] = '\0';
    m->slot_kind = 0;
    select_first(m);
    ui->modal = RM_MODAL_OPS;
    ui->modal_scroll = 0;
}

int rm_ops_menu_open(rm_ui_t *ui, const rm_snapshot_t *snap, const char *key,
                     char *why, size_t len)
{
    rm_ops_menu_t *m = &ui->ops;
    char k[192];
    size_t i, j;

    rm_ops_menu_close(ui);
    for (i = 0; i < snap->count; i++) {
        const rm_node_t *n = &snap->nodes[i];

        rm_key_node(k, sizeof(k), n->id);
        if (strcmp(k, key) == 0) {
            m->nchoices = rm_ops_for_node(n, m->choices, RM_OP_KIND_COUNT);
            snprintf(m->title, sizeof(m->title), "node %s", n->id);
            opened(ui, n->id, NULL, -1);
            return 0;
        }
        for (j = 0; j < n->nsubs; j++) {
            const rm_subscription_t *s = &n->subs[j];
            char c[192];

            rm_key_sub(k, sizeof(k), "sub", n->id, s);
            rm_key_sub(c, sizeof(c), "confl", n->id, s);
            if (s->name == NULL || (strcmp(k, key) != 0 && strcmp(c, key) != 0))
                continue;
            m->nchoices =
                rm_ops_for_subscription(s, m->choices, RM_OP_KIND_COUNT);
            snprintf(m->title, sizeof(m->title),
                     "%s subscription %s on node %s", rm_sub_kind_name(s->kind),
                     s->name, n->id);
            opened(ui, n->id, s->name, (int)s->kind);
            return 0;
        }
        for (j = 0; j < n->nslots; j++) {
            const rm_slot_t *s = &n->slots[j];

            rm_key_slot(k, sizeof(k), n->id, s->name);
            if (s->name == NULL || strcmp(k, key) != 0)
                continue;
            m->nchoices = rm_ops_for_slot(s, m->choices, RM_OP_KIND_COUNT);
            snprintf(m->title, sizeof(m->title), "slot %s on node %s", s->name,
                     n->id);
            opened(ui, n->id, s->name, -1);
            return 0;
        }
    }
    if (strncmp(key, "node/", 5) == 0 || strncmp(key, "sub/", 4) == 0 ||
        strncmp(key, "slot/", 5) == 0 || strncmp(key, "confl/", 6) == 0)
        snprintf(why, len, "its object is gone since the last round");
    else
        snprintf(why, len,
                 "no operations on this row: select a node, a subscription "
                 "or a slot");
    return -1;
}

void rm_ops_menu_request(const rm_ui_t *ui, rm_op_request_t *req)
{
    const rm_ops_menu_t *m = &ui->ops;
    const rm_op_choice_t *c = &m->choices[m->sel];

    rm_op_request_init(req, c->kind);
    req->node = m->node;
    req->sub_kind = m->sub_kind;
    req->force = c->force;
    if (c->needs_slot) {
        req->name = m->input;
        req->plugin = rm_ops_slot_plugins[m->slot_kind];
    } else {
        req->name = m->name;
    }
    if (c->needs_table)
        req->table = m->input;
}

void rm_ops_menu_planned(rm_ui_t *ui, rm_op_plan_t *plan)
{
    rm_ops_menu_t *m = &ui->ops;

    if (m->have_plan)
        rm_op_plan_free(&m->plan);
    m->plan = *plan;
    memset(plan, 0, sizeof(*plan));
    m->have_plan = 1;
    m->stage = RM_OPS_CONFIRM;
    m->typed[0] = '\0';
    m->note[0] = '\0';
    ui->modal_scroll = 0;
}

void rm_ops_menu_refused(rm_ui_t *ui, const char *why)
{
    rm_ops_menu_t *m = &ui->ops;

    snprintf(m->note, sizeof(m->note), "%s", why);
}

int rm_ops_menu_take(rm_ui_t *ui, rm_op_plan_t *plan)
{
    rm_ops_menu_t *m = &ui->ops;

    if (!m->have_plan)
        return -1;
    *plan = m->plan;
    memset(&m->plan, 0, sizeof(m->plan));
    m->have_plan = 0;
    rm_ops_menu_close(ui);
    return 0;
}

void rm_ops_menu_close(rm_ui_t *ui)
{
    rm_ops_menu_t *m = &ui->ops;

    if (m->have_plan)
        rm_op_plan_free(&m->plan);
    m->have_plan = 0;
    m->stage = RM_OPS_MENU;
    m->typed[0] = m->note[0] = '\0';
    if (ui->modal == RM_MODAL_OPS)
        ui->modal = RM_MODAL_NONE;
}

/* Typing into m->typed (INPUT and a destructive CONFIRM). Returns 1 when
 * the key was one. */
static int typing_key(rm_ops_menu_t *m, rm_key_t key)
{
    switch (key.code) {
    case RM_K_CHAR:
        rm_tui_edit_append(m->typed, sizeof(m->typed), key.ch);
        return 1;
    case RM_K_BACKSPACE:
        rm_tui_edit_backspace(m->typed);
        return 1;
    case RM_K_CTRL_U:
        m->typed[0] = '\0';
        return 1;
    default:
        return 0;
    }
}

static rm_action_t menu_key(rm_ui_t *ui, rm_key_t key)
{
    rm_ops_menu_t *m = &ui->ops;
    const rm_op_choice_t *c = m->nchoices ? &m->choices[m->sel] : NULL;
    int down =
        key.code == RM_K_DOWN || (key.code == RM_K_CHAR && key.ch == 'j');
    int up = key.code == RM_K_UP || (key.code == RM_K_CHAR && key.ch == 'k');

    if (key.code == RM_K_ESC || (key.code == RM_K_CHAR && key.ch == 'q')) {
        rm_ops_menu_close(ui);
        return act(RM_ACT_REDRAW);
    }
    if (down || up) {
        if (down && m->sel + 1 < m->nchoices)
            m->sel++;
        if (up && m->sel > 0)
            m->sel--;
        m->note[0] = '\0';
        return act(RM_ACT_REDRAW);
    }
    if (key.code != RM_K_ENTER || c == NULL)
        return act(RM_ACT_NONE);
    if (!c->available) {
        snprintf(m->note, sizeof(m->note), "%s: %s", c->label, c->why);
        return act(RM_ACT_REDRAW);
    }
    m->note[0] = '\0';
    if (c->needs_table || c->needs_slot) {
        m->stage = RM_OPS_INPUT;
        m->typed[0] = '\0';
        return act(RM_ACT_REDRAW);
    }
    return act(RM_ACT_OPS_PLAN);
}

static rm_action_t input_key(rm_ui_t *ui, rm_key_t key)
{
    rm_ops_menu_t *m = &ui->ops;
    const rm_op_choice_t *c = &m->choices[m->sel];

    if (key.code == RM_K_ESC) {
        m->stage = RM_OPS_MENU;
        m->note[0] = '\0';
        return act(RM_ACT_REDRAW);
    }
    if (key.code == RM_K_TAB && c->needs_slot) {
        m->slot_kind = (m->slot_kind + 1) % RM_OPS_SLOT_KINDS;
        return act(RM_ACT_REDRAW);
    }
    if (key.code == RM_K_ENTER) {
        const char *p = m->typed;

        while (*p == ' ')
            p++;
        if (*p == '\0') {
            snprintf(m->note, sizeof(m->note), "type the %s first, or Esc",
                     c->needs_table ? "table" : "slot's name");
            return act(RM_ACT_REDRAW);
        }
        snprintf(m->input, sizeof(m->input), "%s", p);
        m->note[0] = '\0';
        return act(RM_ACT_OPS_PLAN);
    }
    if (typing_key(m, key)) {
        m->note[0] = '\0';
        return act(RM_ACT_REDRAW);
    }
    return act(RM_ACT_NONE);
}

static rm_action_t confirm_key(rm_ui_t *ui, rm_key_t key)
{
    rm_ops_menu_t *m = &ui->ops;

    if (key.code == RM_K_ESC) {
        /* Not confirmed: the dashboard logs it and closes the menu. */
        ui->modal = RM_MODAL_NONE;
        return act(RM_ACT_OPS_ABANDON);
    }
    if (key.code == RM_K_ENTER) {
        if (m->plan.destructive && !rm_op_confirmed(&m->plan, m->typed)) {
            snprintf(m->note, sizeof(m->note),
                     "'%s' is not %s: nothing was done; type %s exactly, or "
                     "Esc",
                     m->typed, m->plan.confirm, m->plan.confirm);
            m->typed[0] = '\0';
            return act(RM_ACT_REDRAW);
        }
        return act(RM_ACT_OPS_RUN);
    }
    if (m->plan.destructive && typing_key(m, key)) {
        m->note[0] = '\0';
        return act(RM_ACT_REDRAW);
    }
    if (key.code == RM_K_DOWN ||
        (!m->plan.destructive && key.code == RM_K_CHAR && key.ch == 'j'))
        ui->modal_scroll++;
    else if ((key.code == RM_K_UP ||
              (!m->plan.destructive && key.code == RM_K_CHAR &&
               key.ch == 'k')) &&
             ui->modal_scroll > 0)
        ui->modal_scroll--;
    else
        return act(RM_ACT_NONE);
    return act(RM_ACT_REDRAW);
}

rm_action_t rm_ops_menu_key(rm_ui_t *ui, rm_key_t key)
{
    switch (ui->ops.stage) {
    case RM_OPS_MENU:
        return menu_key(ui, key);
    case RM_OPS_INPUT:
        return input_key(ui, key);
    case RM_OPS_CONFIRM:
    default:
        if (!ui->ops.have_plan) {
            rm_ops_menu_close(ui);
            return act(RM_ACT_REDRAW);
        }
        return confirm_key(ui, key);
    }
}
