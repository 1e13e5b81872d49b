/* SPDX-License-Identifier: MIT */
/*
 * ops.c - the pure half of the operations: which operations an object
 * offers, a request resolved against a snapshot into a plan of SQL steps
 * (or refused), SQL quoting, and the lines for a person and for the log.
 * Nothing here talks to a server; ops_exec.c runs the plans.
 */
#include "ops.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------------- */
/* Names                                                                  */
/* ---------------------------------------------------------------------- */

static const struct {
    const char *name, *id;
} kinds[RM_OP_KIND_COUNT] = {
    {"subscription pause", "subscription.pause"},
    {"subscription resume", "subscription.resume"},
    {"subscription refresh", "subscription.refresh"},
    {"subscription resync", "subscription.resync"},
    {"slot create", "slot.create"},
    {"slot drop", "slot.drop"},
};

const char *rm_op_kind_name(rm_op_kind_t kind)
{
    return (int)kind >= 0 && kind < RM_OP_KIND_COUNT ? kinds[kind].name
                                                     : "unknown";
}

const char *rm_op_kind_id(rm_op_kind_t kind)
{
    return (int)kind >= 0 && kind < RM_OP_KIND_COUNT ? kinds[kind].id
                                                     : "unknown";
}

const char *rm_op_outcome_name(rm_op_outcome_t o)
{
    switch (o) {
    case RM_OP_OK:
        return "ok";
    case RM_OP_DRY_RUN:
        return "dry-run";
    case RM_OP_REFUSED:
        return "refused";
    case RM_OP_FAILED:
        return "failed";
    case RM_OP_ABANDONED:
        return "abandoned";
    }
    return "unknown";
}

static int is_sub_op(rm_op_kind_t k)
{
    return k == RM_OP_SUB_PAUSE || k == RM_OP_SUB_RESUME ||
           k == RM_OP_SUB_REFRESH || k == RM_OP_SUB_RESYNC;
}

void rm_op_request_init(rm_op_request_t *req, rm_op_kind_t kind)
{
    memset(req, 0, sizeof(*req));
    req->kind = kind;
    req->sub_kind = -1;
}

/* ---------------------------------------------------------------------- */
/* Quoting                                                                */
/* ---------------------------------------------------------------------- */

/* One UTF-8 character at p: its length (1 to 4) and code point, or 0 for
 * an invalid sequence (overlong, surrogate, beyond U+10FFFF, cut). */
static size_t utf8_decode(const unsigned char *p, uint32_t *cp)
{
    unsigned c = p[0];
    size_t n, i;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        n = 1, *cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 2, *cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 3, *cp = c & 0x07;
    else
        return 0;
    for (i = 1; i <= n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 2 && *cp < 0x800) || (n == 3 && *cp < 0x10000) ||
        (*cp >= 0xD800 && *cp <= 0xDFFF) || *cp > 0x10FFFF)
        return 0;
    return n + 1;
}

/* Valid UTF-8 without C0 controls or DEL (a name is never multi-line). */
static int text_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    if (s == NULL || *s == '\0')
        return 0;
    while (*p != '\0') {
        uint32_t cp;
        size_t n = utf8_decode(p, &cp);

        if (n == 0 || cp < 0x20 || cp == 0x7F)
            return 0;
        p += n;
    }
    return 1;
}

/* s between quote characters q, q doubled (and \ doubled when esc). */
static char *quote_with(const char *s, char q, int esc, const char *prefix)
{
    size_t len = strlen(prefix) + 3, i;
    char *out, *o;

    if (!text_ok(s)) {
        errno = EINVAL;
        return NULL;
    }
    for (i = 0; s[i] != '\0'; i++)
        len += (s[i] == q || (esc && s[i] == '\\')) ? 2 : 1;
    out = malloc(len);
    if (out == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    o = out;
    o += sprintf(o, "%s%c", prefix, q);
    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] == q || (esc && s[i] == '\\'))
            *o++ = s[i];
        *o++ = s[i];
    }
    *o++ = q;
    *o = '\0';
    return out;
}

char *rm_sql_quote_ident(const char *s)
{
    return quote_with(s, '"', 0, "");
}

char *rm_sql_quote_literal(const char *s)
{
    int backslash = s != NULL && strchr(s, '\\') != NULL;

    return quote_with(s, '\'', backslash, backslash ? "E" : "");
}

const char *rm_slot_name_problem(const char *name)
{
    size_t i, n = name != NULL ? strlen(name) : 0;

    if (n == 0)
        return "a slot name cannot be empty";
    if (n > 63)
        return "a slot name is at most 63 characters";
    for (i = 0; i < n; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return "a slot name may contain only lower case letters, digits "
                   "and underscores";
    }
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Small helpers                                                          */
/* ---------------------------------------------------------------------- */

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static char *
fmt(const char *f, ...)
{
    va_list ap;
    char *out = NULL;
    int n;

    va_start(ap, f);
    n = vasprintf(&out, f, ap);
    va_end(ap);
    return n < 0 ? NULL : out;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int
refuse(char *err, size_t errlen, const char *f, ...)
{
    va_list ap;

    va_start(ap, f);
    vsnprintf(err, errlen, f, ap);
    va_end(ap);
    return -1;
}

/* Append ", id" (or "id" first) to a bounded list. */
static void list_add(char *buf, size_t len, const char *id)
{
    size_t used = strlen(buf);

    if (used + 1 >= len)
        return;
    snprintf(buf + used, len - used, "%s%s", used ? ", " : "", id);
}

static int add_step(rm_op_plan_t *p, rm_op_step_kind_t kind, char *sql,
                    char *refusal)
{
    if (sql == NULL || p->nsteps == RM_OP_MAX_STEPS) {
        free(sql);
        free(refusal);
        return -2;
    }
    p->steps[p->nsteps].kind = kind;
    p->steps[p->nsteps].sql = sql;
    p->steps[p->nsteps].refusal = refusal;
    p->steps[p->nsteps].retry_in_use = 0;
    p->nsteps++;
    return 0;
}

void rm_op_plan_free(rm_op_plan_t *plan)
{
    size_t i;

    if (plan == NULL)
        return;
    for (i = 0; i < plan->nsteps; i++) {
        free(plan->steps[i].sql);
        free(plan->steps[i].refusal);
    }
    free(plan->object);
    free(plan->table);
    free(plan->confirm);
    free(plan->summary);
    free(plan->consequence);
    memset(plan, 0, sizeof(*plan));
}

int rm_op_confirmed(const rm_op_plan_t *plan, const char *typed)
{
    size_t len;

    if (plan->confirm == NULL || typed == NULL)
        return 0;
    while (*typed == ' ' || *typed == '\t')
        typed++;
    len = strlen(typed);
    while (len > 0 && (typed[len - 1] == '\n' || typed[len - 1] == '\r' ||
                       typed[len - 1] == ' ' || typed[len - 1] == '\t'))
        len--;
    return len == strlen(plan->confirm) &&
           memcmp(typed, plan->confirm, len) == 0;
}

/* ---------------------------------------------------------------------- */
/* Finding the object                                                     */
/* ---------------------------------------------------------------------- */

/* A server message without libpgcm's "node 'X': " and libpq's "ERROR:"
 * in front (the lines that show it name the node). */
static const char *server_text(const char *message)
{
    if (message != NULL && strncmp(message, "node '", 6) == 0 &&
        strstr(message, "': ") != NULL)
        message = strstr(message, "': ") + 3;
    if (message != NULL && strncmp(message, "ERROR:", 6) == 0)
        message += 6;
    while (message != NULL && *message == ' ')
        message++;
    return message;
}

/* What of a node is searched: its slots, its native or its pglogical
 * subscriptions. */
enum { PART_SLOTS = 0, PART_NATIVE, PART_PGLOGICAL };

/* Why that part of a node cannot be searched (into why, and 1), or 0. */
static int unsearchable(const rm_node_t *n, int part, char *why, size_t len)
{
    const rm_section_t *sec = NULL;
    const char *what = NULL, *need = "";

    if (!n->reachable) {
        snprintf(why, len, "unreachable (%.120s)", server_text(n->error));
        return 1;
    }
    if (!n->have_facts) {
        snprintf(why, len, "its role could not be read (%.120s)",
                 server_text(n->error));
        return 1;
    }
    if (part == PART_SLOTS &&
        n->sections[RM_SQL_SLOTS].state != RM_SECTION_OK) {
        sec = &n->sections[RM_SQL_SLOTS];
        what = "slots";
    } else if (part == PART_NATIVE &&
               n->sections[RM_SQL_SUBSCRIPTIONS].state != RM_SECTION_OK) {
        sec = &n->sections[RM_SQL_SUBSCRIPTIONS];
        what = "subscriptions";
    } else if (part == PART_PGLOGICAL &&
               (n->sections[RM_SQL_PGLOGICAL].state == RM_SECTION_ERROR ||
                n->sections[RM_SQL_PGLOGICAL].state ==
                    RM_SECTION_NO_PERMISSION)) {
        sec = &n->sections[RM_SQL_PGLOGICAL];
        what = "pglogical subscriptions";
        if (sec->state == RM_SECTION_NO_PERMISSION)
            need = "; reading them needs USAGE on schema pglogical and "
                   "SELECT on its tables";
    }
    if (sec == NULL)
        return 0;
    snprintf(why, len, "its %s could not be read (%.120s%s)", what,
             sec->error[0] ? server_text(sec->error)
                           : rm_section_state_name(sec->state),
             need);
    return 1;
}

typedef struct match {
    const rm_node_t *node;
    const rm_subscription_t *sub;
    const rm_slot_t *slot;
} match_t;

/* The nodes to search: all, or the one req->node names. */
static int pick_nodes(const rm_snapshot_t *snap, const rm_op_request_t *req,
                      size_t *from, size_t *to, char *err, size_t errlen)
{
    char known[256] = "";
    size_t i;

    *from = 0;
    *to = snap->count;
    if (req->node == NULL)
        return 0;
    for (i = 0; i < snap->count; i++) {
        if (strcmp(snap->nodes[i].id, req->node) == 0) {
            *from = i;
            *to = i + 1;
            return 0;
        }
        list_add(known, sizeof(known), snap->nodes[i].id);
    }
    return refuse(err, errlen,
                  "--node %s: no such node in the cluster "
                  "(nodes: %s)",
                  req->node, known[0] ? known : "none");
}

static const char *what_name(const rm_op_request_t *req)
{
    if (req->sub_kind == RM_SUB_NATIVE)
        return "native subscription";
    if (req->sub_kind == RM_SUB_PGLOGICAL)
        return "pglogical subscription";
    return is_sub_op(req->kind) ? "subscription" : "slot";
}

/* Whether an object of node n is the one wanted; if not, its name joins
 * the list of the others (for the message when nothing matches). */
static int named(const char *name, const char *wanted, const rm_node_t *n,
                 char *others, size_t len)
{
    char item[160];

    if (name == NULL)
        return 0;
    if (strcmp(name, wanted) == 0)
        return 1;
    snprintf(item, sizeof(item), "%s on %s", name, n->id);
    list_add(others, len, item);
    return 0;
}

/*
 * Find the one subscription or slot req names. Refuses when there is none,
 * when several nodes (or both kinds on one node) have it, and when a node
 * that could not be searched might have it too (unless --node named it).
 */
static int find_object(const rm_snapshot_t *snap, const rm_op_request_t *req,
                       match_t *out, char *err, size_t errlen)
{
    int subs = is_sub_op(req->kind);
    const char *what = what_name(req);
    char where[256] = "", lost[512] = "", others[256] = "";
    size_t from, to, i, j, found = 0, nodes_with = 0;

    if (pick_nodes(snap, req, &from, &to, err, errlen) != 0)
        return -1;
    memset(out, 0, sizeof(*out));
    for (i = from; i < to; i++) {
        const rm_node_t *n = &snap->nodes[i];
        int readable[3] = {0, 0, 0}, part, p;
        size_t here = 0;

        /* Search what can be read; say what could not. */
        for (p = PART_SLOTS; p <= PART_PGLOGICAL; p++) {
            char why[320], item[400];

            if ((p == PART_SLOTS) == subs ||
                (p == PART_NATIVE && req->sub_kind == RM_SUB_PGLOGICAL) ||
                (p == PART_PGLOGICAL && req->sub_kind == RM_SUB_NATIVE))
                continue;
            if (!unsearchable(n, p, why, sizeof(why))) {
                readable[p] = 1;
                continue;
            }
            snprintf(item, sizeof(item), "%s: %s", n->id, why);
            list_add(lost, sizeof(lost), item);
            if (!n->reachable || !n->have_facts)
                break; /* the same reason for every part */
        }
        for (j = 0; subs && j < n->nsubs; j++) {
            const rm_subscription_t *s = &n->subs[j];

            part = s->kind == RM_SUB_PGLOGICAL ? PART_PGLOGICAL : PART_NATIVE;
            if (!readable[part] ||
                (req->sub_kind >= 0 && (int)s->kind != req->sub_kind) ||
                !named(s->name, req->name, n, others, sizeof(others)))
                continue;
            out->node = n;
            out->sub = s;
            here++;
        }
        for (j = 0; !subs && readable[PART_SLOTS] && j < n->nslots; j++) {
            const rm_slot_t *s = &n->slots[j];

            if (!named(s->name, req->name, n, others, sizeof(others)))
                continue;
            out->node = n;
            out->slot = s;
            here++;
        }
        if (here > 1)
            return refuse(err, errlen,
                          "node %s has a native and a pglogical "
                          "subscription named %s: choose one with --kind "
                          "native or --kind pglogical",
                          n->id, req->name);
        if (here == 1) {
            list_add(where, sizeof(where), n->id);
            nodes_with++;
        }
        found += here;
    }
    if (nodes_with > 1)
        return refuse(err, errlen,
                      "%s %s exists on several nodes (%s): choose one with "
                      "--node",
                      what, req->name, where);
    if (found == 0 && lost[0] != '\0')
        return refuse(err, errlen,
                      "no %s named %s on the nodes that could be searched; "
                      "not searched: %s",
                      what, req->name, lost);
    if (found == 0)
        return refuse(err, errlen, "no %s named %s on %s%s%s%s%s", what,
                      req->name,
                      req->node != NULL ? "node " : "the monitored nodes",
                      req->node != NULL ? req->node : "",
                      others[0] ? " (there are: " : "", others[0] ? others : "",
                      others[0] ? ")" : "");
    if (lost[0] != '\0' && req->node == NULL)
        return refuse(
            err, errlen,
            "%s %s is on node %s, but a node that could not be "
            "searched may have one too (%s): name the node with "
            "--node %s%s%s",
            what, req->name, out->node->id, lost, out->node->id,
            subs && req->sub_kind < 0 ? " or the kind with --kind " : "",
            subs && req->sub_kind < 0 ? rm_sub_kind_name(out->sub->kind) : "");
    return 0;
}

/* The node a slot is created on: --node, else the only node. */
static int find_create_node(const rm_snapshot_t *snap,
                            const rm_op_request_t *req, const rm_node_t **out,
                            char *err, size_t errlen)
{
    char ids[256] = "", why[320];
    size_t from, to, i;
    const rm_node_t *n;

    if (pick_nodes(snap, req, &from, &to, err, errlen) != 0)
        return -1;
    if (to - from != 1) {
        for (i = 0; i < snap->count; i++)
            list_add(ids, sizeof(ids), snap->nodes[i].id);
        return refuse(err, errlen,
                      "slot create needs --node: the cluster has %zu nodes "
                      "(%s)",
                      snap->count, ids[0] ? ids : "none");
    }
    n = &snap->nodes[from];
    if (unsearchable(n, PART_SLOTS, why, sizeof(why)))
        return refuse(err, errlen,
                      "node %s: %s; a slot can be created once it answers",
                      n->id, why);
    for (i = 0; i < n->nslots; i++) {
        if (n->slots[i].name != NULL &&
            strcmp(n->slots[i].name, req->name) == 0)
            return refuse(err, errlen,
                          "node %s already has a slot named %s (%s, %s): "
                          "choose another name or drop that one first",
                          n->id, req->name,
                          n->slots[i].type ? n->slots[i].type : "?",
                          n->slots[i].active == 1 ? "active" : "inactive");
    }
    *out = n;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* The SQL of each operation                                              */
/* ---------------------------------------------------------------------- */

static int plan_subscription(rm_op_plan_t *p, const rm_op_request_t *req,
                             const rm_subscription_t *s, char *err,
                             size_t errlen)
{
    int pgl = s->kind == RM_SUB_PGLOGICAL;
    char *id = NULL, *lit = NULL, *tbl = NULL;
    int rc = 0;

    p->sub_kind = (int)s->kind;
    if (req->kind == RM_OP_SUB_REFRESH && pgl)
        return refuse(err, errlen,
                      "subscription refresh is for native subscriptions: "
                      "pglogical subscription %s follows its replication "
                      "sets (resync one table with 'replmon subscription "
                      "resync %s TABLE')",
                      s->name, s->name);
    if (req->kind == RM_OP_SUB_RESYNC && !pgl)
        return refuse(err, errlen,
                      "subscription resync is for pglogical subscriptions: "
                      "for native subscription %s use 'replmon subscription "
                      "refresh %s' (it copies the tables the publication "
                      "gained)",
                      s->name, s->name);
    if (req->kind == RM_OP_SUB_REFRESH && s->enabled == 0)
        return refuse(err, errlen,
                      "subscription %s is disabled, and PostgreSQL refreshes "
                      "only enabled subscriptions: resume it first ('replmon "
                      "subscription resume %s')",
                      s->name, s->name);
    if ((id = rm_sql_quote_ident(s->name)) == NULL ||
        (lit = rm_sql_quote_literal(s->name)) == NULL) {
        rc = errno == ENOMEM ? -2
                             : refuse(err, errlen,
                                      "subscription name %s cannot be quoted "
                                      "(not UTF-8, or a control character)",
                                      s->name);
        goto out;
    }
    switch (req->kind) {
    case RM_OP_SUB_PAUSE:
    case RM_OP_SUB_RESUME: {
        int pause = req->kind == RM_OP_SUB_PAUSE;

        rc = add_step(p, RM_STEP_ACTION,
                      pgl ? fmt("SELECT pglogical.alter_subscription_%s(%s)",
                                pause ? "disable" : "enable", lit)
                          : fmt("ALTER SUBSCRIPTION %s %s", id,
                                pause ? "DISABLE" : "ENABLE"),
                      NULL);
        if (s->enabled == (pause ? 0 : 1))
            snprintf(p->note, sizeof(p->note),
                     "subscription %s was already %s at the last collection",
                     s->name, pause ? "disabled" : "enabled");
        break;
    }
    case RM_OP_SUB_REFRESH:
        rc = add_step(p, RM_STEP_ACTION,
                      fmt("ALTER SUBSCRIPTION %s REFRESH PUBLICATION", id),
                      NULL);
        break;
    case RM_OP_SUB_RESYNC:
        if (req->table == NULL || req->table[0] == '\0') {
            rc = refuse(err, errlen,
                        "subscription resync needs the table: 'replmon "
                        "subscription resync %s TABLE'",
                        s->name);
            break;
        }
        if ((tbl = rm_sql_quote_literal(req->table)) == NULL) {
            rc = errno == ENOMEM ? -2
                                 : refuse(err, errlen,
                                          "table name %s cannot be quoted "
                                          "(not UTF-8, or a control "
                                          "character)",
                                          req->table);
            break;
        }
        /* Resynchronising a table the subscription does not replicate
         * would still truncate it and copy it whole: refused. */
        rc = add_step(
            p, RM_STEP_CHECK,
            fmt("SELECT status <> 'unknown' AS ok, status AS detail FROM "
                "pglogical.show_subscription_table(%s, %s::regclass)",
                lit, tbl),
            fmt("pglogical subscription %s does not replicate table %s "
                "(pglogical reports its status as " RM_OP_DETAIL
                "): add it to one of the subscription's replication sets on "
                "the provider first",
                s->name, req->table));
        if (rc == 0)
            rc = add_step(p, RM_STEP_ACTION,
                          fmt("SELECT pglogical.alter_subscription_"
                              "resynchronize_table(%s, %s::regclass, true)",
                              lit, tbl),
                          NULL);
        if (rc == 0) {
            p->destructive = 1;
            p->table = strdup(req->table);
            p->confirm = strdup(req->table);
            p->consequence =
                fmt("this truncates table %s on node %s and copies it again "
                    "from the provider of pglogical subscription %s; rows only "
                    "the subscriber has are lost",
                    req->table, p->node, s->name);
            if (p->table == NULL || p->confirm == NULL ||
                p->consequence == NULL)
                rc = -2;
        }
        break;
    default:
        break;
    }
    if (rc == 0) {
        p->summary =
            fmt("%s %s subscription %s%s%s on node %s",
                req->kind == RM_OP_SUB_PAUSE     ? "pause"
                : req->kind == RM_OP_SUB_RESUME  ? "resume"
                : req->kind == RM_OP_SUB_REFRESH ? "refresh the publications of"
                                                 : "resync",
                rm_sub_kind_name(s->kind), s->name,
                req->kind == RM_OP_SUB_RESYNC ? " table " : "",
                req->kind == RM_OP_SUB_RESYNC ? req->table : "", p->node);
        if (p->summary == NULL)
            rc = -2;
    }
out:
    free(id);
    free(lit);
    free(tbl);
    return rc;
}

/* Subscriptions (on any node) that read from this slot of node. */
static void slot_consumers(const rm_snapshot_t *snap, const rm_node_t *node,
                           const char *slot, char *buf, size_t len)
{
    size_t i, j;

    buf[0] = '\0';
    for (i = 0; i < snap->count; i++) {
        const rm_node_t *n = &snap->nodes[i];

        for (j = 0; j < n->nsubs; j++) {
            const rm_subscription_t *s = &n->subs[j];
            char item[160];

            if (s->slot_name == NULL || strcmp(s->slot_name, slot) != 0 ||
                strcmp(s->publisher, node->id) != 0)
                continue;
            snprintf(item, sizeof(item), "%s on %s", s->name ? s->name : "?",
                     n->id);
            list_add(buf, len, item);
        }
    }
}

static int plan_slot_drop(rm_op_plan_t *p, const rm_snapshot_t *snap,
                          const rm_op_request_t *req, const rm_node_t *n,
                          const rm_slot_t *s, char *err, size_t errlen)
{
    char *lit = rm_sql_quote_literal(s->name), pid[160] = "", users[256];
    int rc = 0;

    if (lit == NULL)
        return errno == ENOMEM
                   ? -2
                   : refuse(err, errlen, "slot name %s cannot be quoted",
                            s->name);
    if (s->active_pid != RM_NONE)
        snprintf(pid, sizeof(pid), " (walsender pid %" PRId64 "%s%s)",
                 s->active_pid, s->sender_application_name ? ", " : "",
                 s->sender_application_name ? s->sender_application_name : "");
    if (s->temporary == 1 && !req->force) {
        free(lit);
        return refuse(err, errlen,
                      "slot %s on node %s is temporary: it goes away with the "
                      "session that made it%s; pass --force to end that "
                      "session",
                      s->name, n->id, pid);
    }
    if (s->active == 1 && !req->force) {
        free(lit);
        return refuse(err, errlen,
                      "slot %s on node %s is active%s: refusing to drop it; "
                      "stop its consumer first, or pass --force to end the "
                      "walsender and drop it",
                      s->name, n->id, pid);
    }
    slot_consumers(snap, n, s->name, users, sizeof(users));
    p->destructive = 1;
    p->force = req->force && s->active == 1;
    if (p->force) {
        /* By slot name, not by the pid seen earlier: the walsender may
         * have changed since. From 14 the call waits for it to exit. The
         * drop goes in the same request, so that a consumer that
         * reconnects at once (a subscription retries after
         * wal_retrieve_retry_interval) finds no slot; if it was quicker
         * still, the request runs again. */
        char *terminate = fmt("SELECT pg_terminate_backend(active_pid%s) FROM "
                              "pg_replication_slots WHERE slot_name = %s AND "
                              "active_pid IS NOT NULL",
                              p->server_version >= 140000 ? ", 5000" : "", lit);

        if (terminate == NULL)
            rc = -2;
        else if (s->temporary == 1)
            /* A temporary slot goes away with its session. */
            rc = add_step(p, RM_STEP_ACTION, terminate, NULL);
        else {
            rc = add_step(
                p, RM_STEP_ACTION,
                fmt("%s;\nSELECT pg_drop_replication_slot(%s)", terminate, lit),
                NULL);
            free(terminate);
            if (rc == 0)
                p->steps[p->nsteps - 1].retry_in_use = 1;
        }
        if (rc == 0 && s->temporary == 1)
            rc = add_step(p, RM_STEP_WAIT,
                          fmt("SELECT NOT EXISTS (SELECT 1 FROM "
                              "pg_replication_slots WHERE slot_name = %s)",
                              lit),
                          NULL);
    } else {
        rc = add_step(p, RM_STEP_ACTION,
                      fmt("SELECT pg_drop_replication_slot(%s)", lit), NULL);
    }
    free(lit);
    if (rc != 0)
        return rc;
    p->confirm = strdup(s->name);
    p->summary =
        fmt("drop %s slot %s on node %s%s", s->type ? s->type : "replication",
            s->name, n->id, p->force ? ", ending its walsender first" : "");
    p->consequence =
        fmt("this drops slot %s on node %s%s%s%s; the WAL it retains is "
            "released and its consumer%s%s cannot resume from it",
            s->name, n->id, p->force ? " after ending its walsender" : "",
            p->force ? pid : "", s->temporary == 1 ? " (temporary)" : "",
            users[0] ? " " : "", users[0] ? users : "");
    if (p->confirm == NULL || p->summary == NULL || p->consequence == NULL)
        return -2;
    return 0;
}

static int plan_slot_create(rm_op_plan_t *p, const rm_op_request_t *req,
                            const rm_node_t *n, char *err, size_t errlen)
{
    char *name = rm_sql_quote_literal(req->name), *plugin = NULL;
    int rc;

    if (name == NULL)
        return -2; /* the name was checked: only ENOMEM is left */
    if (req->plugin != NULL) {
        if (strcmp(n->wal_level, "") != 0 &&
            strcmp(n->wal_level, "logical") != 0) {
            free(name);
            return refuse(err, errlen,
                          "node %s has wal_level = %s: a logical slot needs "
                          "wal_level = logical (set it and restart the "
                          "server)",
                          n->id, n->wal_level);
        }
        if ((plugin = rm_sql_quote_literal(req->plugin)) == NULL) {
            free(name);
            return errno == ENOMEM
                       ? -2
                       : refuse(err, errlen, "plugin name %s cannot be quoted",
                                req->plugin);
        }
        rc = add_step(p, RM_STEP_ACTION,
                      fmt("SELECT pg_create_logical_replication_slot(%s, %s)",
                          name, plugin),
                      NULL);
        p->summary = fmt("create logical slot %s (plugin %s) on node %s",
                         req->name, req->plugin, n->id);
    } else {
        rc = add_step(
            p, RM_STEP_ACTION,
            fmt("SELECT pg_create_physical_replication_slot(%s)", name), NULL);
        p->summary =
            fmt("create physical slot %s on node %s", req->name, n->id);
    }
    free(name);
    free(plugin);
    if (rc == 0 && p->summary == NULL)
        rc = -2;
    return rc;
}

int rm_op_plan(const rm_snapshot_t *snap, const rm_op_request_t *req,
               rm_op_plan_t *plan, char *err, size_t errlen)
{
    const rm_node_t *n = NULL;
    match_t m;
    int rc;

    memset(plan, 0, sizeof(*plan));
    plan->kind = req->kind;
    plan->sub_kind = -1;
    err[0] = '\0';
    if ((int)req->kind < 0 || req->kind >= RM_OP_KIND_COUNT)
        return refuse(err, errlen, "unknown operation");
    if (req->name == NULL || req->name[0] == '\0')
        return refuse(err, errlen, "%s needs the %s's name",
                      rm_op_kind_name(req->kind),
                      is_sub_op(req->kind) ? "subscription" : "slot");
    if (!is_sub_op(req->kind)) {
        const char *why = rm_slot_name_problem(req->name);

        if (why != NULL)
            return refuse(err, errlen, "'%s' is not a slot name: %s", req->name,
                          why);
    }
    if (req->kind == RM_OP_SLOT_CREATE)
        rc = find_create_node(snap, req, &n, err, errlen);
    else {
        rc = find_object(snap, req, &m, err, errlen);
        n = m.node;
    }
    if (rc != 0)
        return rc;
    snprintf(plan->node, sizeof(plan->node), "%s", n->id);
    snprintf(plan->host, sizeof(plan->host), "%s", n->host);
    plan->port = n->port;
    snprintf(plan->database, sizeof(plan->database), "%s", n->database);
    plan->server_version = n->server_version;
    plan->object = strdup(req->name);
    if (plan->object == NULL)
        return -2;
    if (is_sub_op(req->kind))
        rc = plan_subscription(plan, req, m.sub, err, errlen);
    else if (req->kind == RM_OP_SLOT_DROP)
        rc = plan_slot_drop(plan, snap, req, n, m.slot, err, errlen);
    else
        rc = plan_slot_create(plan, req, n, err, errlen);
    if (rc != 0) {
        char node[sizeof(plan->node)];

        /* A refused plan still names the node it was about. */
        memcpy(node, plan->node, sizeof(node));
        rm_op_plan_free(plan);
        memcpy(plan->node, node, sizeof(node));
    }
    if (rc == -2)
        snprintf(err, errlen, "out of memory");
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Menus                                                                  */
/* ---------------------------------------------------------------------- */

static size_t choice(rm_op_choice_t *out, size_t max, size_t n,
                     rm_op_kind_t kind, const char *label, int available,
                     const char *why)
{
    if (n < max) {
        memset(&out[n], 0, sizeof(out[n]));
        out[n].kind = kind;
        out[n].label = label;
        out[n].available = available;
        out[n].destructive =
            kind == RM_OP_SLOT_DROP || kind == RM_OP_SUB_RESYNC;
        out[n].needs_table = kind == RM_OP_SUB_RESYNC;
        out[n].needs_slot = kind == RM_OP_SLOT_CREATE;
        snprintf(out[n].why, sizeof(out[n].why), "%s", why ? why : "");
    }
    return n + 1;
}

size_t rm_ops_for_subscription(const rm_subscription_t *s, rm_op_choice_t *out,
                               size_t max)
{
    size_t n = 0;

    n = choice(out, max, n, RM_OP_SUB_PAUSE, "pause", s->enabled != 0,
               s->enabled == 0 ? "already disabled" : NULL);
    n = choice(out, max, n, RM_OP_SUB_RESUME, "resume", s->enabled != 1,
               s->enabled == 1 ? "already enabled" : NULL);
    if (s->kind == RM_SUB_NATIVE)
        n = choice(out, max, n, RM_OP_SUB_REFRESH, "refresh publication",
                   s->enabled != 0,
                   s->enabled == 0 ? "disabled: resume it first" : NULL);
    else
        n = choice(out, max, n, RM_OP_SUB_RESYNC, "resync a table...", 1, NULL);
    return n;
}

size_t rm_ops_for_slot(const rm_slot_t *s, rm_op_choice_t *out, size_t max)
{
    size_t n;

    if (s->active == 1) {
        n = choice(out, max, 0, RM_OP_SLOT_DROP,
                   "drop (ends its walsender first)", 1, NULL);
        if (n <= max)
            out[n - 1].force = 1;
        return n;
    }
    return choice(out, max, 0, RM_OP_SLOT_DROP, "drop", 1, NULL);
}

size_t rm_ops_for_node(const rm_node_t *n, rm_op_choice_t *out, size_t max)
{
    int ok = n->reachable && n->have_facts;

    return choice(out, max, 0, RM_OP_SLOT_CREATE, "create a slot...", ok,
                  ok ? NULL : "the node does not answer");
}

/* ---------------------------------------------------------------------- */
/* Lines                                                                  */
/* ---------------------------------------------------------------------- */

/* Which step of the plan an error came from decides the privilege. */
static void privilege_for(const rm_op_plan_t *p, const char *role,
                          int terminate, char *need, size_t nlen, char *fix,
                          size_t flen)
{
    const char *r = role != NULL && role[0] ? role : "ROLE";

    if (terminate) {
        snprintf(need, nlen,
                 "ending another role's walsender needs membership in "
                 "pg_signal_backend (a superuser's walsender: superuser)");
        snprintf(fix, flen, "GRANT pg_signal_backend TO %s", r);
    } else if (p->kind == RM_OP_SLOT_CREATE || p->kind == RM_OP_SLOT_DROP) {
        snprintf(need, nlen,
                 "replication slots need the REPLICATION attribute (or "
                 "superuser)");
        snprintf(fix, flen, "ALTER ROLE %s REPLICATION", r);
    } else if (p->sub_kind == RM_SUB_PGLOGICAL) {
        snprintf(need, nlen,
                 "pglogical's functions need USAGE on schema pglogical and "
                 "the privileges on the tables they change");
        snprintf(fix, flen, "GRANT USAGE ON SCHEMA pglogical TO %s", r);
    } else {
        snprintf(need, nlen,
                 "ALTER SUBSCRIPTION needs the subscription's owner (or a "
                 "superuser)");
        snprintf(fix, flen, "ALTER SUBSCRIPTION %s OWNER TO %s",
                 p->object ? p->object : "?", r);
    }
}

void rm_op_error_line(const rm_op_plan_t *plan, const char *role,
                      const char *sqlstate, const char *message, char *buf,
                      size_t len)
{
    char msg[400], need[200], fix[160];
    size_t i, k;
    int terminate = 0;

    /* The server's message on one line. */
    message = server_text(message);
    for (i = 0, k = 0;
         message != NULL && message[i] != '\0' && k + 1 < sizeof(msg); i++) {
        char c = message[i];

        if (c == '\n' || c == '\r' || c == '\t')
            c = ' ';
        if (c == ' ' && (k == 0 || msg[k - 1] == ' '))
            continue;
        msg[k++] = c;
    }
    while (k > 0 && msg[k - 1] == ' ')
        k--;
    msg[k] = '\0';
    if (sqlstate != NULL && strcmp(sqlstate, "42501") == 0) {
        terminate = strstr(msg, "terminate") != NULL;
        privilege_for(plan, role, terminate, need, sizeof(need), fix,
                      sizeof(fix));
        snprintf(buf, len,
                 "permission denied on node %s for role %s: %s (%s); the "
                 "server said: %s",
                 plan->node, role != NULL && role[0] ? role : "?", need, fix,
                 msg);
        return;
    }
    snprintf(buf, len, "%s failed%s%s%s: %s%s%s%s",
             plan->summary ? plan->summary : rm_op_kind_name(plan->kind),
             role != NULL && role[0] ? " (role " : "",
             role != NULL && role[0] ? role : "",
             role != NULL && role[0] ? ")" : "", msg[0] ? msg : "no message",
             sqlstate != NULL && sqlstate[0] ? " [SQLSTATE " : "",
             sqlstate != NULL && sqlstate[0] ? sqlstate : "",
             sqlstate != NULL && sqlstate[0] ? "]" : "");
}

/* A code point a terminal would act on or reorder text by: C0 and C1
 * controls, DEL, the bidirectional controls. */
static int cp_unsafe(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x061C ||
           cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

/* A copy of s in which what a terminal would act on is written out
 * (\n, \xNN, \uXXXX; invalid UTF-8 as \xNN), so a log line stays one
 * line and shows as it is, in text and in JSON alike. NULL: NULL. */
static char *safe_text(const char *s)
{
    const unsigned char *v = (const unsigned char *)s;
    size_t i, n, len = 0, cap;
    char *out;
    uint32_t cp;

    if (s == NULL)
        return NULL;
    cap = strlen(s) * 6 + 1; /* at most \u202e (6) for 3 bytes */
    out = malloc(cap);
    if (out == NULL)
        return NULL;
    for (i = 0; v[i] != '\0'; i += n ? n : 1) {
        n = utf8_decode(&v[i], &cp);
        if (n == 0)
            len += (size_t)snprintf(out + len, cap - len, "\\x%02x", v[i]);
        else if (cp == '\n')
            len += (size_t)snprintf(out + len, cap - len, "\\n");
        else if (cp < 0x80 && cp_unsafe(cp))
            len +=
                (size_t)snprintf(out + len, cap - len, "\\x%02x", (unsigned)cp);
        else if (cp_unsafe(cp))
            len +=
                (size_t)snprintf(out + len, cap - len, "\\u%04x", (unsigned)cp);
        else {
            memcpy(out + len, &v[i], n);
            len += n;
        }
    }
    out[len] = '\0';
    return out;
}

/* obj[key] = the safe copy of value (nothing when value is NULL). */
static void put_text(json_t *obj, const char *key, const char *value, int *oom)
{
    char *safe;

    if (value == NULL || *oom)
        return;
    safe = safe_text(value);
    if (safe == NULL || json_object_set_new(obj, key, json_string(safe)) != 0)
        *oom = 1;
    free(safe);
}

pgcm_log_level_t rm_op_log_level(rm_op_outcome_t outcome)
{
    switch (outcome) {
    case RM_OP_OK:
    case RM_OP_DRY_RUN:
        return PGCM_LOG_INFO;
    case RM_OP_FAILED:
        return PGCM_LOG_ERROR;
    default:
        return PGCM_LOG_WARN;
    }
}

const char *rm_op_log_node(const rm_op_record_t *rec)
{
    if (rec->plan != NULL && rec->plan->node[0] != '\0')
        return rec->plan->node;
    if (rec->node != NULL)
        return rec->node;
    return rec->req != NULL ? rec->req->node : NULL;
}

char *rm_op_log_message(const rm_op_record_t *rec)
{
    const rm_op_plan_t *p = rec->plan;
    char *what, *line;

    if (p != NULL && p->summary != NULL)
        what = safe_text(p->summary);
    else
        what = safe_text(
            rec->req != NULL && rec->req->name != NULL ? rec->req->name : "?");
    if (what == NULL)
        return NULL;
    if (p != NULL && p->summary != NULL)
        line = fmt("%s: %s", what, rm_op_outcome_name(rec->outcome));
    else
        line = fmt("%s %s: %s",
                   rm_op_kind_name(rec->req != NULL ? rec->req->kind
                                                    : RM_OP_KIND_COUNT),
                   what, rm_op_outcome_name(rec->outcome));
    free(what);
    return line;
}

json_t *rm_op_log_data(const rm_op_record_t *rec)
{
    const rm_op_plan_t *p = rec->plan;
    const rm_op_request_t *q = rec->req;
    json_t *d = json_object();
    char where[400], *sql = NULL;
    int oom = d == NULL;
    size_t i;

    if (oom)
        return NULL;
    put_text(d, "op",
             rm_op_kind_id(p != NULL   ? p->kind
                           : q != NULL ? q->kind
                                       : RM_OP_KIND_COUNT),
             &oom);
    put_text(d, "object",
             p != NULL && p->object ? p->object
             : q                    ? q->name
                                    : NULL,
             &oom);
    put_text(d, "table",
             p != NULL && p->table ? p->table
             : q                   ? q->table
                                   : NULL,
             &oom);
    if (p != NULL && p->sub_kind >= 0)
        put_text(d, "kind", rm_sub_kind_name((rm_sub_kind_t)p->sub_kind), &oom);
    if (p != NULL && p->force && !oom &&
        json_object_set_new(d, "force", json_true()) != 0)
        oom = 1;
    if (p != NULL && p->host[0] != '\0') {
        snprintf(where, sizeof(where), "%s:%d/%s", p->host, p->port,
                 p->database);
        put_text(d, "where", where, &oom);
    }
    put_text(d, "os_user", rec->os_user, &oom);
    put_text(d, "role", rec->role, &oom);
    put_text(d, "outcome", rm_op_outcome_name(rec->outcome), &oom);
    for (i = 0; p != NULL && i < p->nsteps && !oom; i++) {
        char *grown;

        if (p->steps[i].kind == RM_STEP_CHECK)
            continue;
        grown = fmt("%s%s%s", sql ? sql : "", sql ? "; " : "", p->steps[i].sql);
        free(sql);
        sql = grown;
        if (sql == NULL)
            oom = 1;
    }
    for (i = 0; sql != NULL && sql[i] != '\0'; i++) {
        if (sql[i] == '\n') /* a step's statements: one line */
            sql[i] = ' ';
    }
    put_text(d, "sql", sql, &oom);
    free(sql);
    put_text(d, "detail", rec->detail, &oom);
    if (!oom &&
        json_object_set_new(d, "elapsed_ms",
                            json_integer((json_int_t)rec->elapsed_ms)) != 0)
        oom = 1;
    if (oom) {
        json_decref(d);
        return NULL;
    }
    return d;
}
