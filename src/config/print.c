/* SPDX-License-Identifier: MIT */
/*
 * print.c - the resolved configuration for people and scripts (replmon
 * check-config, R5): YAML that reads back with every default filled in,
 * or JSON (jansson). Every password, SSH passphrase and conninfo password
 * is printed as "********". Fields left to libpq are printed as null with
 * what the PG* environment says. The sections print from the tables of
 * schema.c (keys, types, how an unset value is explained). Both formats
 * are written through one buffer, node by node, so that printing stays
 * linear in time and flat in memory however many nodes there are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "config_internal.h"

/* ---- conninfo masking ---------------------------------------------------- */

static void append(char **buf, size_t *len, size_t *cap, const char *s,
                   size_t n, int *oom)
{
    if (*oom)
        return;
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap * 2 : 128;
        while (c < *len + n + 1)
            c *= 2;
        char *p = realloc(*buf, c);
        if (p == NULL) {
            *oom = 1;
            return;
        }
        *buf = p;
        *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
}

char *rm_config_mask_conninfo(const char *conninfo)
{
    if (conninfo == NULL)
        return NULL;
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    PQfreemem(perr);
    if (opts == NULL)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int oom = 0;
    append(&buf, &len, &cap, "", 0, &oom);
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL)
            continue;
        if (len > 0)
            append(&buf, &len, &cap, " ", 1, &oom);
        append(&buf, &len, &cap, o->keyword, strlen(o->keyword), &oom);
        append(&buf, &len, &cap, "=", 1, &oom);
        const char *val =
            strcmp(o->keyword, "password") == 0 ? RM_CONFIG_MASK : o->val;
        int quote = val[0] == '\0' || strpbrk(val, " \t\n\\'") != NULL;
        if (quote)
            append(&buf, &len, &cap, "'", 1, &oom);
        for (const char *p = val; *p; p++) {
            if (*p == '\\' || *p == '\'')
                append(&buf, &len, &cap, "\\", 1, &oom);
            append(&buf, &len, &cap, p, 1, &oom);
        }
        if (quote)
            append(&buf, &len, &cap, "'", 1, &oom);
    }
    PQconninfoFree(opts);
    if (oom) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- YAML -------------------------------------------------------------- */

/*
 * The YAML text goes through a buffer of our own: a configuration of
 * 370,000 nodes prints 240 MB in about 9 million lines, and stdio's
 * formatting (one fprintf per line) would take longer than checking it.
 */
typedef struct yout {
    FILE *f;
    size_t len;
    int failed; /* a write failed */
    char buf[1 << 16];
} yout_t;

static void y_flush(yout_t *o)
{
    if (o->len > 0 && fwrite(o->buf, 1, o->len, o->f) != o->len)
        o->failed = 1;
    o->len = 0;
}

static void y_put(yout_t *o, const char *s, size_t n)
{
    if (n > sizeof(o->buf) - o->len) {
        y_flush(o);
        if (n > sizeof(o->buf)) {
            if (fwrite(s, 1, n, o->f) != n)
                o->failed = 1;
            return;
        }
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void y_puts(yout_t *o, const char *s)
{
    y_put(o, s, strlen(s));
}

static void y_char(yout_t *o, char c)
{
    if (o->len == sizeof(o->buf))
        y_flush(o);
    o->buf[o->len++] = c;
}

static void y_int(yout_t *o, long long v)
{
    char digits[24];
    size_t n = sizeof(digits);
    unsigned long long u =
        v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        digits[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        digits[--n] = '-';
    y_put(o, digits + n, sizeof(digits) - n);
}

/* "<ind spaces>key: " */
static void y_key(yout_t *o, int ind, const char *key)
{
    static const char spaces[] = "        ";
    y_put(o, spaces,
          (size_t)ind < sizeof(spaces) - 1 ? (size_t)ind : sizeof(spaces) - 1);
    y_puts(o, key);
    y_put(o, ": ", 2);
}

/* A double-quoted YAML string; values (not keys) escape "${" as "$${"
 * since the reader interpolates values. */
static void yq(yout_t *o, const char *s, int is_value)
{
    static const char hex[] = "0123456789abcdef";
    y_char(o, '"');
    const unsigned char *p = (const unsigned char *)s;
    for (;;) {
        /* The run of characters that need no escape, in one piece. */
        const unsigned char *run = p;
        while (*p >= 0x20 && *p != 0x7f && *p != '"' && *p != '\\' &&
               !(is_value && *p == '$' && p[1] == '{'))
            p++;
        y_put(o, (const char *)run, (size_t)(p - run));
        if (*p == '\0')
            break;
        if (*p == '"' || *p == '\\') {
            y_char(o, '\\');
            y_char(o, (char)*p);
        } else if (*p == '\n') {
            y_put(o, "\\n", 2);
        } else if (*p == '\t') {
            y_put(o, "\\t", 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            char esc[4] = {'\\', 'x', hex[*p >> 4], hex[*p & 15]};
            y_put(o, esc, 4);
        } else { /* "${" in a value */
            y_put(o, "$$", 2);
        }
        p++;
    }
    y_char(o, '"');
}

/* A comment-safe copy of an environment value. */
static void comment_text(yout_t *o, const char *s)
{
    for (size_t i = 0; s[i] && i < 200; i++) {
        unsigned char ch = (unsigned char)s[i];
        y_char(o, ch < 0x20 || ch == 0x7f ? '?' : (char)ch);
    }
}

static void y_bool(yout_t *o, int ind, const char *key, int b)
{
    y_key(o, ind, key);
    y_puts(o, b ? "true\n" : "false\n");
}

/* A number as %.15g writes it (the thresholds' rates). */
static void y_double(yout_t *o, double v)
{
    char b[64];
    int n = snprintf(b, sizeof(b), "%.15g", v);
    if (n > 0)
        y_put(o, b, (size_t)n < sizeof(b) ? (size_t)n : sizeof(b) - 1);
}

/* Which connection fields a node's conninfo sets (RM_CI_* bits). */
static unsigned conninfo_sets(const char *conninfo)
{
    unsigned set = 0;
    if (conninfo == NULL)
        return set;
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    PQfreemem(perr);
    if (opts == NULL)
        return set;
    static const struct {
        const char *keyword;
        unsigned bit;
    } keywords[] = {{"host", RM_CI_HOST}, {"hostaddr", RM_CI_HOST},
                    {"port", RM_CI_PORT}, {"dbname", RM_CI_DBNAME},
                    {"user", RM_CI_USER}, {"password", RM_CI_PASSWORD}};
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        for (size_t i = 0;
             o->val != NULL && i < sizeof(keywords) / sizeof(*keywords); i++) {
            if (strcmp(o->keyword, keywords[i].keyword) == 0)
                set |= keywords[i].bit;
        }
    }
    PQconninfoFree(opts);
    return set;
}

/* How a conninfo is shown: masked in libpq's key=value form when it holds
 * a password, else as written. Returns a malloc'd string, or NULL. */
static char *conninfo_shown(const char *conninfo)
{
    char *m = rm_config_mask_conninfo(conninfo);
    if (m != NULL && strstr(m, "password=") == NULL) {
        /* Nothing to hide: print it as written. */
        free(m);
        m = strdup(conninfo);
    }
    return m;
}

#define FIELD_AT(base, f, type)                                                \
    ((const type *)(const void *)((const char *)(base) + (f)->offset))

/* What a printed field needs besides its value. */
typedef struct pctx {
    const rm_config_t *cfg;
    unsigned conninfo; /* RM_CI_* set by the node's conninfo */
} pctx_t;

/* "null", and what decides instead, as a comment. */
static void y_unset(yout_t *o, const pctx_t *x, const rm_field_t *f)
{
    y_puts(o, "null");
    const char *env_value = NULL;
    if (f->libpq != RM_LIBPQ_NONE)
        env_value = rm__libpq_env_value(&x->cfg->env, f->libpq);
    if (f->conninfo & x->conninfo) {
        y_puts(o, "  # from conninfo");
    } else if (env_value != NULL) {
        y_puts(o, "  # libpq uses ");
        y_puts(o, rm_schema_libpq_names[f->libpq]);
        y_char(o, '=');
        comment_text(o, env_value);
    } else if (f->inherits != NULL && f->inherits->type == RM_F_DURATION) {
        y_puts(o, "  # the manager's (");
        y_int(o, *FIELD_AT(&x->cfg->options, f->inherits, int));
        y_puts(o, "ms)");
    } else if (f->inherits != NULL) {
        if (*FIELD_AT(&x->cfg->options, f->inherits, char *) != NULL) {
            y_puts(o, "  # the manager's ");
            y_puts(o, f->inherits->key);
        }
    } else if (f->unset_note != NULL) {
        y_puts(o, "  # ");
        y_puts(o, f->unset_note);
    }
    y_char(o, '\n');
}

/* A value of a flow line: 10000ms, 1073741824B, 0.5. */
static void y_flow_value(yout_t *o, const rm_field_t *f, const void *base)
{
    if (f->type == RM_F_NUMBER) {
        y_double(o, *FIELD_AT(base, f, double));
        return;
    }
    y_int(o, *FIELD_AT(base, f, int64_t));
    y_puts(o, f->type == RM_F_DURATION64 ? "ms" : "B");
}

static void y_field(yout_t *o, const pctx_t *x, int ind, const rm_field_t *f,
                    const void *base);

/* A section: "key:" and its fields one level down, or on one line, or
 * "key: false" when the field it needs is unset. */
static void y_section(yout_t *o, const pctx_t *x, int ind, const char *key,
                      const rm_section_t *s, const void *base)
{
    if (s->present_if != NULL &&
        *FIELD_AT(base, s->present_if, char *) == NULL) {
        y_key(o, ind, key);
        y_puts(o, "false\n");
        return;
    }
    if (s->flow) {
        y_key(o, ind, key);
        y_puts(o, "{ ");
        for (size_t i = 0; i < s->count; i++) {
            if (i > 0)
                y_puts(o, ", ");
            y_puts(o, s->fields[i].key);
            y_puts(o, ": ");
            y_flow_value(o, &s->fields[i], base);
        }
        y_puts(o, " }");
        if (s->note != NULL) {
            y_puts(o, "  # ");
            y_puts(o, s->note);
        }
        y_char(o, '\n');
        return;
    }
    y_key(o, ind, key);
    o->len--; /* "key:" ends the line */
    y_char(o, '\n');
    for (size_t i = 0; i < s->count; i++) {
        if (!(s->fields[i].flags & RM_FIELD_ALIAS))
            y_field(o, x, ind + 2, &s->fields[i], base);
    }
}

static void y_field(yout_t *o, const pctx_t *x, int ind, const rm_field_t *f,
                    const void *base)
{
    int unset = (f->flags & RM_FIELD_UNSET) != 0;
    if (f->type == RM_F_SECTION) {
        y_section(o, x, ind, f->key, f->section, base);
        return;
    }
    y_key(o, ind, f->key);
    switch (f->type) {
    case RM_F_DURATION:
    case RM_F_INT: {
        int v = *FIELD_AT(base, f, int);
        if (v == 0 && unset) {
            y_unset(o, x, f);
            return;
        }
        y_int(o, v);
        y_puts(o, f->type == RM_F_DURATION ? "ms\n" : "\n");
        return;
    }
    case RM_F_BOOL:
        y_puts(o, *FIELD_AT(base, f, int) ? "true\n" : "false\n");
        return;
    case RM_F_TRISTATE: {
        int v = *FIELD_AT(base, f, int);
        if (v < 0)
            y_unset(o, x, f);
        else
            y_puts(o, v ? "true\n" : "false\n");
        return;
    }
    case RM_F_ENUM:
        y_puts(o, f->choices[*FIELD_AT(base, f, int)]);
        y_char(o, '\n');
        return;
    case RM_F_STRING:
    case RM_F_PATH:
    case RM_F_SECRET:
    case RM_F_OWN: {
        const char *s = *FIELD_AT(base, f, char *);
        if (s == NULL) {
            y_unset(o, x, f);
            return;
        }
        if (f->type == RM_F_SECRET) {
            y_puts(o, "\"" RM_CONFIG_MASK "\"");
        } else if (f->flags & RM_FIELD_CONNINFO) {
            char *shown = conninfo_shown(s);
            if (shown != NULL)
                yq(o, shown, 1);
            else
                y_puts(o, "\"" RM_CONFIG_MASK "\"");
            free(shown);
        } else {
            yq(o, s, 1);
        }
        y_char(o, '\n');
        return;
    }
    case RM_F_INT64:
        y_int(o, *FIELD_AT(base, f, int64_t));
        y_char(o, '\n');
        return;
    case RM_F_DURATION64:
    case RM_F_SIZE:
    case RM_F_NUMBER:
        y_flow_value(o, f, base);
        y_char(o, '\n');
        return;
    case RM_F_SECTION:
        return;
    }
}

/* The fields of s, one level below the section's name. */
static void y_fields(yout_t *o, const pctx_t *x, int ind, const rm_section_t *s,
                     const void *base)
{
    for (size_t i = 0; i < s->count; i++) {
        if (!(s->fields[i].flags & RM_FIELD_ALIAS))
            y_field(o, x, ind, &s->fields[i], base);
    }
}

static void print_node_yaml(const rm_config_t *cfg, const pgcm_node_spec_t *s,
                            yout_t *o)
{
    y_put(o, "  ", 2);
    yq(o, s->id, 0);
    y_put(o, ":\n", 2);
    /* A field the node's conninfo sets comes from there, not from PG*. */
    pctx_t x = {.cfg = cfg, .conninfo = conninfo_sets(s->conninfo)};
    y_fields(o, &x, 4, &rm_schema_node, s);
}

static void print_yaml(const rm_config_t *cfg, yout_t *f)
{
    pctx_t x = {.cfg = cfg};
    if (cfg->env_only) {
        y_puts(f, "# replmon configuration from the environment (no file); "
                  "secrets masked\n");
    } else {
        y_puts(f, "# replmon configuration resolved from ");
        comment_text(f, cfg->path ? cfg->path : "memory");
        y_puts(f, "; secrets masked\n");
    }
    y_puts(f, "manager:\n");
    y_fields(f, &x, 2, &rm_schema_manager, &cfg->options);

    y_puts(f, "nodes:\n");
    for (size_t i = 0; i < cfg->node_count; i++)
        print_node_yaml(cfg, &cfg->nodes[i], f);

    int explicit_clusters = 0;
    for (size_t i = 0; i < cfg->cluster_count; i++)
        explicit_clusters |= !cfg->clusters[i].implicit;
    if (explicit_clusters) {
        y_puts(f, "clusters:\n");
        for (size_t i = 0; i < cfg->cluster_count; i++) {
            const rm_cluster_t *cl = &cfg->clusters[i];
            y_puts(f, "  ");
            yq(f, cl->name, 0);
            y_puts(f, ":\n    nodes: [");
            for (size_t k = 0; k < cl->node_count; k++) {
                if (k)
                    y_puts(f, ", ");
                yq(f, cl->node_ids[k], 1);
            }
            y_puts(f, "]\n");
            y_bool(f, 4, "default", cl->is_default);
        }
    } else {
        y_puts(f, "# clusters: none; every node is in the implicit cluster "
                  "\"default\"\n");
    }
    y_puts(f, "thresholds:\n");
    y_fields(f, &x, 2, &rm_schema_thresholds, &cfg->thresholds);
    y_puts(f, "skip_sections: [");
    for (size_t i = 0, n = 0; i < RM__SKIP_NAME_COUNT; i++) {
        if (cfg->skip_sections & rm__skip_names[i].bit) {
            if (n++)
                y_puts(f, ", ");
            y_puts(f, rm__skip_names[i].name);
        }
    }
    y_puts(f, "]\n");
    y_puts(f, "pglogical: ");
    y_puts(f, rm_pglogical_mode_name(cfg->pglogical));
    y_char(f, '\n');
    y_puts(f, "theme:\n  name: ");
    yq(f, cfg->theme.name ? cfg->theme.name : "dark", 1);
    y_char(f, '\n');
    if (cfg->theme.color_count > 0) {
        y_puts(f, "  colors:\n");
        for (size_t i = 0; i < cfg->theme.color_count; i++) {
            y_puts(f, "    ");
            yq(f, cfg->theme.colors[i].role, 0);
            y_puts(f, ": ");
            yq(f, cfg->theme.colors[i].color, 1);
            y_char(f, '\n');
        }
    }
    y_puts(f, "serve:\n");
    y_fields(f, &x, 2, &rm_schema_serve, &cfg->serve);
    y_puts(f, "event_log:\n");
    y_fields(f, &x, 2, &rm_schema_event_log, &cfg->event_log);
}

/* ---- JSON ------------------------------------------------------------- */

/* A JSON string, or null; bytes that are not UTF-8 become '?'. */
static json_t *jstr(const char *s)
{
    if (s == NULL)
        return json_null();
    json_t *j = json_string(s);
    if (j != NULL)
        return j;
    char *c = strdup(s);
    if (c == NULL)
        return NULL;
    for (char *p = c; *p; p++) {
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    }
    j = json_string(c);
    free(c);
    return j;
}

static int jset(json_t *o, const char *k, json_t *v)
{
    if (v == NULL)
        return -1;
    return json_object_set_new(o, k, v);
}

static json_t *j_section(const rm_section_t *s, const void *base);

/* A conninfo as shown: masked when it holds a password. */
static json_t *j_conninfo(const char *ci)
{
    if (ci == NULL)
        return json_null();
    char *shown = conninfo_shown(ci);
    json_t *j = jstr(shown ? shown : RM_CONFIG_MASK);
    free(shown);
    return j;
}

/* A field's value; durations, sizes and unset numbers as the JSON names
 * them (*_ms, *_bytes, null). */
static json_t *j_field(const rm_field_t *f, const void *base)
{
    int unset = (f->flags & RM_FIELD_UNSET) != 0;
    switch (f->type) {
    case RM_F_DURATION:
    case RM_F_INT: {
        int v = *FIELD_AT(base, f, int);
        return v == 0 && unset ? json_null() : json_integer(v);
    }
    case RM_F_DURATION64:
    case RM_F_SIZE:
    case RM_F_INT64:
        return json_integer((json_int_t)*FIELD_AT(base, f, int64_t));
    case RM_F_NUMBER:
        return json_real(*FIELD_AT(base, f, double));
    case RM_F_BOOL:
        return json_boolean(*FIELD_AT(base, f, int));
    case RM_F_TRISTATE: {
        int v = *FIELD_AT(base, f, int);
        return v < 0 ? json_null() : json_boolean(v);
    }
    case RM_F_ENUM:
        return jstr(f->choices[*FIELD_AT(base, f, int)]);
    case RM_F_STRING:
    case RM_F_PATH:
        return jstr(*FIELD_AT(base, f, char *));
    case RM_F_OWN:
        if (!(f->flags & RM_FIELD_CONNINFO))
            return jstr(*FIELD_AT(base, f, char *));
        return j_conninfo(*FIELD_AT(base, f, char *));
    case RM_F_SECRET:
        return *FIELD_AT(base, f, char *) ? json_string(RM_CONFIG_MASK)
                                          : json_null();
    case RM_F_SECTION:
        if (f->section->present_if != NULL &&
            *FIELD_AT(base, f->section->present_if, char *) == NULL)
            return json_null();
        return j_section(f->section, base);
    }
    return NULL;
}

/* The fields of s into o (an object). Returns 0 or -1. */
static int j_fields(json_t *o, const rm_section_t *s, const void *base)
{
    int rc = 0;
    for (size_t i = 0; i < s->count; i++) {
        const rm_field_t *f = &s->fields[i];
        if (f->flags & RM_FIELD_ALIAS)
            continue;
        char name[80];
        const char *suffix =
            f->type == RM_F_DURATION || f->type == RM_F_DURATION64 ? "_ms"
            : f->type == RM_F_SIZE                                 ? "_bytes"
                                                                   : "";
        snprintf(name, sizeof(name), "%s%s", f->key, suffix);
        rc |= jset(o, name, j_field(f, base));
    }
    return rc;
}

static json_t *j_section(const rm_section_t *s, const void *base)
{
    json_t *o = json_object();
    if (o != NULL && j_fields(o, s, base) != 0) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

static json_t *node_json(const pgcm_node_spec_t *s)
{
    json_t *n = json_object();
    if (n == NULL)
        return NULL;
    if (jset(n, "id", jstr(s->id)) != 0 ||
        j_fields(n, &rm_schema_node, s) != 0) {
        json_decref(n);
        return NULL;
    }
    return n;
}

static json_t *cluster_json(const rm_cluster_t *cl)
{
    json_t *c = json_object();
    json_t *ids = json_array();
    if (c == NULL || ids == NULL) {
        json_decref(c);
        json_decref(ids);
        return NULL;
    }
    int rc = 0;
    for (size_t k = 0; k < cl->node_count; k++)
        rc |= json_array_append_new(ids, jstr(cl->node_ids[k]));
    rc |= jset(c, "name", jstr(cl->name));
    rc |= jset(c, "nodes", ids);
    rc |= jset(c, "default", json_boolean(cl->is_default));
    rc |= jset(c, "implicit", json_boolean(cl->implicit));
    if (rc != 0) {
        json_decref(c);
        return NULL;
    }
    return c;
}

static json_t *theme_json(const rm_theme_t *theme)
{
    json_t *j = json_object();
    json_t *colors = json_object();
    if (j == NULL || colors == NULL) {
        json_decref(j);
        json_decref(colors);
        return NULL;
    }
    int rc = jset(j, "name", jstr(theme->name));
    for (size_t i = 0; i < theme->color_count; i++)
        rc |= jset(colors, theme->colors[i].role, jstr(theme->colors[i].color));
    rc |= jset(j, "colors", colors);
    if (rc != 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static json_t *env_json(const rm_env_view_t *e)
{
    json_t *env = json_object();
    if (env == NULL)
        return NULL;
    int rc = 0;
    for (int v = RM_LIBPQ_NONE + 1; v < RM_LIBPQ_COUNT; v++)
        rc |= jset(env, rm_schema_libpq_names[v],
                   jstr(rm__libpq_env_value(e, (rm_libpq_var_t)v)));
    if (rc != 0) {
        json_decref(env);
        return NULL;
    }
    return env;
}

/*
 * The JSON document is written piece by piece, as jansson's JSON_INDENT(2)
 * lays out the whole object, so that a large configuration never exists
 * twice in memory (a JSON tree of 370,000 nodes takes over a gigabyte).
 */

/* Write v (taken over) as jansson does at nesting depth `depth`: every
 * line after the first is indented by 2 * depth more spaces (strings hold
 * no raw newline: jansson escapes it). Returns 0 or -1. */
static int j_value(yout_t *o, json_t *v, int depth)
{
    if (v == NULL)
        return -1;
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    json_decref(v);
    if (s == NULL)
        return -1;
    static const char spaces[] = "        ";
    for (const char *p = s;;) {
        const char *nl = strchr(p, '\n');
        if (nl == NULL) {
            y_puts(o, p);
            break;
        }
        y_put(o, p, (size_t)(nl - p) + 1);
        y_put(o, spaces, (size_t)(2 * depth));
        p = nl + 1;
    }
    free(s);
    return 0;
}

/* A member of the root object: `  "key": VALUE`, after a comma unless it
 * is the first. */
static int j_member(yout_t *o, const char *key, json_t *v, int first)
{
    y_puts(o, first ? "\n  \"" : ",\n  \"");
    y_puts(o, key);
    y_puts(o, "\": ");
    return j_value(o, v, 1);
}

static int print_json(const rm_config_t *cfg, yout_t *o)
{
    int rc = 0;
    y_char(o, '{');
    rc |= j_member(o, "source", jstr(cfg->path), 1);
    rc |= j_member(o, "env_only", json_boolean(cfg->env_only), 0);
    rc |=
        j_member(o, "manager", j_section(&rm_schema_manager, &cfg->options), 0);
    y_puts(o, ",\n  \"nodes\": [");
    for (size_t i = 0; i < cfg->node_count && rc == 0; i++) {
        y_puts(o, i ? ",\n    " : "\n    ");
        rc |= j_value(o, node_json(&cfg->nodes[i]), 2);
    }
    y_puts(o, cfg->node_count ? "\n  ]" : "]");
    y_puts(o, ",\n  \"clusters\": [");
    for (size_t i = 0; i < cfg->cluster_count && rc == 0; i++) {
        y_puts(o, i ? ",\n    " : "\n    ");
        rc |= j_value(o, cluster_json(&cfg->clusters[i]), 2);
    }
    y_puts(o, cfg->cluster_count ? "\n  ]" : "]");
    rc |= j_member(o, "thresholds",
                   j_section(&rm_schema_thresholds, &cfg->thresholds), 0);
    json_t *skip = json_array();
    for (size_t i = 0; skip != NULL && i < RM__SKIP_NAME_COUNT; i++)
        if (cfg->skip_sections & rm__skip_names[i].bit)
            rc |= json_array_append_new(skip, jstr(rm__skip_names[i].name));
    rc |= j_member(o, "skip_sections", skip, 0);
    rc |= j_member(o, "pglogical",
                   cfg->pglogical == RM_PGLOGICAL_AUTO
                       ? json_string("auto")
                       : json_boolean(cfg->pglogical == RM_PGLOGICAL_ON),
                   0);
    rc |= j_member(o, "theme", theme_json(&cfg->theme), 0);
    rc |= j_member(o, "serve", j_section(&rm_schema_serve, &cfg->serve), 0);
    rc |= j_member(o, "event_log",
                   j_section(&rm_schema_event_log, &cfg->event_log), 0);
    rc |= j_member(o, "env", env_json(&cfg->env), 0);
    y_puts(o, "\n}\n");
    return rc;
}

int rm_config_print(const rm_config_t *cfg, rm_print_format_t format, FILE *out)
{
    if (cfg == NULL || out == NULL)
        return PGCM_EINVAL;
    yout_t *y = malloc(sizeof(*y));
    if (y == NULL)
        return PGCM_ENOMEM;
    y->f = out;
    y->len = 0;
    y->failed = 0;
    int rc = PGCM_OK;
    if (format == RM_PRINT_JSON) {
        if (print_json(cfg, y) != 0)
            rc = PGCM_ENOMEM;
    } else {
        print_yaml(cfg, y);
    }
    y_flush(y);
    if (rc == PGCM_OK && (y->failed || ferror(out)))
        rc = PGCM_EINVAL;
    free(y);
    return rc;
}
