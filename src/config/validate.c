/* SPDX-License-Identifier: MIT */
/*
 * validate.c - the schema: walks the YAML tree of a configuration file,
 * interpolates every value before typing it, fills the rm_config_t
 * (manager options, node defaults merged into every node, clusters,
 * thresholds, pglogical, theme) and reports every problem it finds, with
 * its line:column and key path, without stopping at the first.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_internal.h"

#define PATH_MAX_LEN 256

typedef struct vctx {
    rm_config_t *cfg;
    rm_diags_t *d;
    const char *file;
    rm_getenv_fn getenv_fn;
    rm_secret_note_t *secret;
    int oom;
    /* Sections whose keys an unknown key may belong to ("under ssl:"). */
    const struct section_hint *hints;
    size_t nhints;
    int allow_x_keys; /* the root allows x-... keys (anchors) */
    /* For the clusters' node lists, made once for the whole file: every
     * node id (suggestions), and per node the cluster that last listed it
     * (stamp, 1-based) and where (a node listed twice in one cluster). */
    const char **node_ids;
    size_t *listed_by;
    const rm_ynode_t **listed_at;
    size_t cluster_stamp;
} vctx_t;

typedef struct section_hint {
    const char *section;
    const char *const *keys;
    size_t n;
} section_hint_t;

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void
verr(vctx_t *c, const rm_ynode_t *at, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (rm__diag_vadd(c->d, RM_DIAG_ERROR, c->file, at ? at->line : 0,
                      at ? at->column : 0, path, fmt, ap) != 0)
        c->oom = 1;
    va_end(ap);
}

/* A printable, bounded copy of s for messages. */
static const char *shown(const char *s, char *buf, size_t size)
{
    size_t n = 0;
    for (; *s && n + 4 < size; s++)
        buf[n++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
    if (*s)
        memcpy(buf + n, "...", 3), n += 3;
    buf[n] = '\0';
    return buf;
}

/* How a value is shown in messages: as written in the file, never as
 * expanded from the environment (which may hold secrets). */
static const char *val_shown(const rm_ynode_t *v, int refs, char *buf,
                             size_t size)
{
    char raw[80];
    shown(v->kind == RM_Y_SCALAR ? v->text : "", raw, sizeof(raw));
    snprintf(buf, size, "'%s'%s", raw, refs ? " (after interpolation)" : "");
    return buf;
}

/* Append n bytes of s to out[0..*o), cut at PATH_MAX_LEN - 1. */
static void path_add(char *out, size_t *o, const char *s, size_t n)
{
    if (n > PATH_MAX_LEN - 1 - *o)
        n = PATH_MAX_LEN - 1 - *o;
    memcpy(out + *o, s, n);
    *o += n;
}

/* out = parent.key (every key path is made this way, so it is cheap).
 * Paths longer than PATH_MAX_LEN are cut; they stay recognisable. */
static void join(char *out, const char *parent, const char *key)
{
    char k[80];
    shown(key, k, sizeof(k));
    size_t o = 0;
    if (parent[0] != '\0') {
        path_add(out, &o, parent, strlen(parent));
        path_add(out, &o, ".", 1);
    }
    path_add(out, &o, k, strlen(k));
    out[o] = '\0';
}

static const char *key_text(const rm_ynode_t *k)
{
    return (k != NULL && k->kind == RM_Y_SCALAR) ? k->text : NULL;
}

/* ---- keys: unknown, duplicate, not a name ---------------------------- */

typedef struct key_ref {
    const char *text;
    size_t len;
    size_t idx;
} key_ref_t;

static int key_ref_cmp(const void *pa, const void *pb)
{
    const key_ref_t *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->text, b->text, n);
    if (c != 0)
        return c;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return a->idx < b->idx ? -1 : (a->idx > b->idx);
}

/* Report duplicate keys of map (what: "key" or "node" ...). */
static void check_duplicates(vctx_t *c, const rm_ynode_t *map, const char *path,
                             const char *what)
{
    if (map->npairs < 2)
        return;
    key_ref_t *refs = malloc(map->npairs * sizeof(*refs));
    if (refs == NULL) {
        c->oom = 1;
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < map->npairs; i++) {
        const rm_ynode_t *k = map->pairs[i].key;
        if (k->kind != RM_Y_SCALAR)
            continue;
        refs[n].text = k->text;
        refs[n].len = k->len;
        refs[n].idx = i;
        n++;
    }
    qsort(refs, n, sizeof(*refs), key_ref_cmp);
    size_t f = 0; /* the first of the current run of equal keys */
    for (size_t i = 1; i < n; i++) {
        if (refs[i].len != refs[f].len ||
            memcmp(refs[i].text, refs[f].text, refs[i].len) != 0) {
            f = i;
            continue;
        }
        const rm_ynode_t *first = map->pairs[refs[f].idx].key;
        const rm_ynode_t *dup = map->pairs[refs[i].idx].key;
        char p[PATH_MAX_LEN];
        join(p, path, dup->text);
        verr(c, dup, p,
             "duplicate %s (first defined at %d:%d); %s names must be "
             "unique: remove or rename one",
             what, first->line, first->column, what);
    }
    free(refs);
}

static void unknown_key(vctx_t *c, const rm_ynode_t *k, const char *path,
                        const char *const *known, size_t nknown)
{
    static const struct {
        const char *alias;
        const char *key;
    } hints[] = {
        {"dbname", "database"}, {"db", "database"},
        {"username", "user"},   {"hostname", "host"},
        {"pass", "password"},   {"sslmode", "ssl"},
        {"tls", "ssl"},         {"passwd", "password"},
        {"tunnel", "ssh"},      {"max_connections", "pool"},
    };
    char p[PATH_MAX_LEN];
    join(p, path, k->text);
    if (rm__diags_full(c->d)) {
        /* Counted, not shown: spare the suggestions. */
        verr(c, k, p, "unknown key");
        return;
    }
    const char *s = rm__suggest(k->text, known, nknown);
    for (size_t i = 0; s == NULL && i < sizeof(hints) / sizeof(*hints); i++) {
        if (strcasecmp(k->text, hints[i].alias) == 0) {
            for (size_t j = 0; j < nknown; j++) {
                if (strcmp(known[j], hints[i].key) == 0)
                    s = known[j];
            }
        }
    }
    if (s != NULL) {
        verr(c, k, p, "unknown key; did you mean '%s'?", s);
        return;
    }
    for (size_t i = 0; i < c->nhints; i++) {
        const section_hint_t *h = &c->hints[i];
        s = rm__suggest(k->text, h->keys, h->n);
        if (s != NULL) {
            verr(c, k, p, "unknown key here; did you mean '%s' under %s:?", s,
                 h->section);
            return;
        }
    }
    char list[512];
    size_t o = 0;
    list[0] = '\0';
    for (size_t i = 0; i < nknown && o + 1 < sizeof(list); i++) {
        int n = snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "",
                         known[i]);
        if (n < 0)
            break;
        o += (size_t)n;
    }
    verr(c, k, p, "unknown key; the keys allowed here are: %s", list);
}

/* 0 when v is a mapping; otherwise report what was found and what to
 * write instead, and return -1. */
static int expect_map(vctx_t *c, const rm_ynode_t *v, const char *path,
                      const char *what_to_do)
{
    if (v->kind == RM_Y_MAP)
        return 0;
    verr(c, v, path, "expected a mapping, found %s; %s", rm__yaml_kind_name(v),
         what_to_do);
    return -1;
}

static int is_known(const char *k, const char *const *known, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(k, known[i]) == 0)
            return 1;
    }
    return 0;
}

/* Report every key of map that is not a plain known name (with a
 * suggestion), and duplicate keys. The callers then look up known keys
 * only, so an unknown key is reported once and otherwise ignored. */
static void check_keys(vctx_t *c, const rm_ynode_t *map, const char *path,
                       const char *const *known, size_t nknown)
{
    for (size_t i = 0; i < map->npairs; i++) {
        const rm_ynode_t *k = map->pairs[i].key;
        if (k->kind != RM_Y_SCALAR) {
            verr(c, k, path,
                 "a key is %s; keys must be plain names such as 'host'",
                 rm__yaml_kind_name(k));
            continue;
        }
        if (c->allow_x_keys && strncmp(k->text, "x-", 2) == 0)
            continue; /* x-...: free for anchors, ignored */
        if (strlen(k->text) != k->len || !is_known(k->text, known, nknown))
            unknown_key(c, k, path, known, nknown);
    }
    check_duplicates(c, map, path, "key");
}

#define NKEYS(a) (sizeof(a) / sizeof(*(a)))

/* ---- scalar values ------------------------------------------------------- */

/*
 * The interpolated text of a value. Returns 1 and *out (malloc'd) when
 * there is a value, 0 when it is null or empty (not given), -1 when it is
 * wrong (reported). expect names the type for messages ("a number").
 */
static int scalar_text(vctx_t *c, const rm_ynode_t *v, const char *path,
                       const char *expect, char **out, int *refs)
{
    *out = NULL;
    if (refs)
        *refs = 0;
    if (v->kind != RM_Y_SCALAR) {
        verr(c, v, path, "expected %s, found %s; write a single value", expect,
             rm__yaml_kind_name(v));
        return -1;
    }
    if (rm__yaml_is_null(v))
        return 0;
    rm_interp_t r;
    int rc = rm__interpolate(v->text, v->len, c->getenv_fn, &r);
    if (rc == -2) {
        c->oom = 1;
        return -1;
    }
    if (rc == -1) {
        verr(c, v, path, "%s", r.err);
        return -1;
    }
    if (refs)
        *refs = r.refs;
    if (strlen(r.value) != r.len) {
        verr(c, v, path, "the value contains a NUL character; remove it");
        free(r.value);
        return -1;
    }
    if (r.len == 0) {
        free(r.value);
        return 0;
    }
    *out = r.value;
    return 1;
}

/* The text of a scalar as written (no interpolation): 1 and *out
 * (malloc'd), 0 for null, -1 when not a scalar or holding NUL (reported). */
static int literal_text(vctx_t *c, const rm_ynode_t *v, const char *path,
                        const char *expect, char **out)
{
    *out = NULL;
    if (v->kind != RM_Y_SCALAR) {
        verr(c, v, path, "expected %s, found %s; write a single value", expect,
             rm__yaml_kind_name(v));
        return -1;
    }
    if (rm__yaml_is_null(v))
        return 0;
    if (strlen(v->text) != v->len) {
        verr(c, v, path, "the value contains a NUL character; remove it");
        return -1;
    }
    *out = strdup(v->text);
    if (*out == NULL) {
        c->oom = 1;
        return -1;
    }
    return 1;
}

/* A string setting, copied into the config. secret: a password (notes a
 * plaintext one); path_like: "~/" expanded. */
static int get_str(vctx_t *c, const rm_ynode_t *v, const char *path,
                   const char **dst, int secret, int path_like)
{
    char *t;
    int refs;
    int rc = scalar_text(c, v, path, "a string", &t, &refs);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        *dst = NULL;
        return 0;
    }
    if (path_like) {
        char *e = rm__expand_home(t, c->getenv_fn);
        free(t);
        if (e == NULL) {
            c->oom = 1;
            return -1;
        }
        t = e;
    }
    if (secret && refs == 0 && !c->secret->found) {
        c->secret->found = 1;
        c->secret->line = v->line;
        c->secret->column = v->column;
        snprintf(c->secret->key, sizeof(c->secret->key), "%s", path);
    }
    const char *s = rm__config_strdup(c->cfg, t);
    explicit_bzero(t, strlen(t));
    free(t);
    if (s == NULL) {
        c->oom = 1;
        return -1;
    }
    *dst = s;
    return 0;
}

static int get_int(vctx_t *c, const rm_ynode_t *v, const char *path, int *dst,
                   int min, int max, const char *hint)
{
    char *t;
    int refs = 0;
    int rc = scalar_text(c, v, path, "a whole number", &t, &refs);
    if (rc <= 0)
        return rc;
    int64_t n;
    const char *why;
    char b[128];
    if (rm__parse_int(t, &n, &why) != 0) {
        verr(c, v, path, "%s is %s; %s", val_shown(v, refs, b, sizeof(b)),
             strcmp(why, "number too large") == 0 ? "too large"
                                                  : "not a whole number",
             hint);
        free(t);
        return -1;
    }
    free(t);
    if (n < min || n > max) {
        if (refs > 0) /* never echo what came from the environment */
            verr(c, v, path, "%s is out of range; %s",
                 val_shown(v, refs, b, sizeof(b)), hint);
        else
            verr(c, v, path, "%lld is out of range; %s", (long long)n, hint);
        return -1;
    }
    *dst = (int)n;
    return 1;
}

static int get_bool(vctx_t *c, const rm_ynode_t *v, const char *path, int *dst)
{
    char *t;
    int refs = 0;
    int rc = scalar_text(c, v, path, "true or false", &t, &refs);
    if (rc <= 0)
        return rc;
    char b[128];
    if (rm__parse_bool(t, dst) != 0) {
        verr(c, v, path, "%s is not a boolean; write true or false",
             val_shown(v, refs, b, sizeof(b)));
        free(t);
        return -1;
    }
    free(t);
    return 1;
}

/* A duration in ms (plain numbers: seconds). min_ms: 0 or 1. */
static int get_duration64(vctx_t *c, const rm_ynode_t *v, const char *path,
                          int64_t *dst, int64_t min_ms, int64_t max_ms)
{
    char *t;
    int refs = 0;
    int rc = scalar_text(c, v, path, "a duration such as 5s", &t, &refs);
    if (rc <= 0)
        return rc;
    int64_t ms;
    const char *why;
    char b[128];
    if (rm_config_parse_duration(t, 1000, &ms, &why) != 0) {
        verr(c, v, path, "%s: %s", val_shown(v, refs, b, sizeof(b)), why);
        free(t);
        return -1;
    }
    if (ms < min_ms) {
        verr(c, v, path,
             "%s is zero; give a positive duration such as 500ms or 5s",
             val_shown(v, refs, b, sizeof(b)));
        free(t);
        return -1;
    }
    if (ms > max_ms) {
        verr(c, v, path, "%s is too long; the most is %lld days",
             val_shown(v, refs, b, sizeof(b)), (long long)(max_ms / 86400000));
        free(t);
        return -1;
    }
    free(t);
    *dst = ms;
    return 1;
}

static int get_duration(vctx_t *c, const rm_ynode_t *v, const char *path,
                        int *dst, int min_ms)
{
    int64_t ms;
    int rc = get_duration64(c, v, path, &ms, min_ms, INT_MAX);
    if (rc > 0)
        *dst = (int)ms;
    return rc;
}

static int get_size(vctx_t *c, const rm_ynode_t *v, const char *path,
                    int64_t *dst)
{
    char *t;
    int refs = 0;
    int rc = scalar_text(c, v, path, "a size such as 1GB", &t, &refs);
    if (rc <= 0)
        return rc;
    int64_t bytes;
    const char *why;
    char b[128];
    if (rm_config_parse_size(t, &bytes, &why) != 0) {
        verr(c, v, path, "%s: %s", val_shown(v, refs, b, sizeof(b)), why);
        free(t);
        return -1;
    }
    if (bytes <= 0) {
        verr(c, v, path, "%s is zero; give a positive size such as 1GB",
             val_shown(v, refs, b, sizeof(b)));
        free(t);
        return -1;
    }
    free(t);
    *dst = bytes;
    return 1;
}

static int get_number(vctx_t *c, const rm_ynode_t *v, const char *path,
                      double *dst)
{
    char *t;
    int refs = 0;
    int rc = scalar_text(c, v, path, "a number", &t, &refs);
    if (rc <= 0)
        return rc;
    const char *why;
    char b[128];
    if (rm__parse_number(t, dst, &why) != 0) {
        verr(c, v, path, "%s is %s; write a number such as 5 or 0.5",
             val_shown(v, refs, b, sizeof(b)), why);
        free(t);
        return -1;
    }
    if (*dst < 0) {
        verr(c, v, path, "%s is negative; use 0 or more",
             val_shown(v, refs, b, sizeof(b)));
        free(t);
        return -1;
    }
    free(t);
    return 1;
}

/* ---- manager ------------------------------------------------------------- */

static const char *const ssl_keys[] = {"enabled", "reject_unauthorized", "ca",
                                       "cert", "key"};
static const char *const ssh_keys[] = {"host",     "port",        "user",
                                       "key_path", "known_hosts", "passphrase"};
static const char *const pool_keys[] = {
    "min",      "max",          "idle_timeout",   "acquire_timeout",
    "lifetime", "max_lifetime", "leak_threshold",
};
static const char *const manager_keys[] = {
    "health_check_interval",
    "health_check_timeout",
    "liveness_interval",
    "liveness_timeout",
    "suspect_probe_timeout",
    "unhealthy_threshold",
    "degraded_latency",
    "query_timeout",
    "connect_timeout",
    "shutdown_timeout",
    "remove_timeout",
    "cancel_grace",
    "backoff",
    "stats_interval",
    "probe_query",
    "application_name",
};

static void do_backoff(vctx_t *c, const rm_ynode_t *v, const char *path)
{
    static const char *const keys[] = {"initial", "max"};
    if (rm__yaml_is_null(v))
        return;
    if (expect_map(c, v, path, "write backoff: { initial: 1s, max: 30s }"))
        return;
    check_keys(c, v, path, keys, NKEYS(keys));
    pgcm_options_t *o = &c->cfg->options;
    const rm_ynode_t *max_at = NULL;
    int got = 0;
    for (size_t i = 0; i < v->npairs; i++) {
        const char *k = key_text(v->pairs[i].key);
        const rm_ynode_t *val = v->pairs[i].value;
        char p[PATH_MAX_LEN];
        if (k == NULL)
            continue;
        join(p, path, k);
        if (strcmp(k, "initial") == 0) {
            got |= get_duration(c, val, p, &o->backoff_initial_ms, 1) > 0;
        } else if (strcmp(k, "max") == 0) {
            if (get_duration(c, val, p, &o->backoff_max_ms, 1) > 0)
                max_at = val;
        }
    }
    (void)got;
    if (o->backoff_max_ms < o->backoff_initial_ms) {
        char p[PATH_MAX_LEN];
        join(p, path, max_at ? "max" : "initial");
        verr(c, max_at ? max_at : v, p,
             "max (%dms) is below initial (%dms); raise max or lower initial",
             o->backoff_max_ms, o->backoff_initial_ms);
    }
}

static void do_manager(vctx_t *c, const rm_ynode_t *v)
{
    const char *path = "manager";
    if (rm__yaml_is_null(v))
        return;
    if (expect_map(c, v, path,
                   "write manager: followed by indented settings such as "
                   "health_check_interval: 5s"))
        return;
    check_keys(c, v, path, manager_keys, NKEYS(manager_keys));
    pgcm_options_t *o = &c->cfg->options;
    struct {
        const char *key;
        int *dst;
        int min;
    } durations[] = {
        {"health_check_interval", &o->health_check_interval_ms, 1},
        {"health_check_timeout", &o->health_check_timeout_ms, 1},
        {"liveness_interval", &o->liveness_interval_ms, 0},
        {"liveness_timeout", &o->liveness_timeout_ms, 1},
        {"suspect_probe_timeout", &o->suspect_probe_timeout_ms, 1},
        {"degraded_latency", &o->degraded_latency_ms, 1},
        {"query_timeout", &o->query_timeout_ms, 1},
        {"connect_timeout", &o->connect_timeout_ms, 1},
        {"shutdown_timeout", &o->shutdown_timeout_ms, 0},
        {"remove_timeout", &o->remove_timeout_ms, 0},
        {"cancel_grace", &o->cancel_grace_ms, 1},
        {"stats_interval", &o->stats_interval_ms, 0},
    };
    for (size_t i = 0; i < v->npairs; i++) {
        const char *k = key_text(v->pairs[i].key);
        const rm_ynode_t *val = v->pairs[i].value;
        if (k == NULL)
            continue;
        char p[PATH_MAX_LEN];
        join(p, path, k);
        int handled = 0;
        for (size_t j = 0; j < NKEYS(durations); j++) {
            if (strcmp(k, durations[j].key) == 0) {
                get_duration(c, val, p, durations[j].dst, durations[j].min);
                handled = 1;
            }
        }
        if (handled)
            continue;
        if (strcmp(k, "unhealthy_threshold") == 0) {
            get_int(c, val, p, &o->unhealthy_threshold, 1, 1000,
                    "use a count of consecutive failures between 1 and 1000");
        } else if (strcmp(k, "backoff") == 0) {
            do_backoff(c, val, p);
        } else if (strcmp(k, "probe_query") == 0) {
            const char *s = NULL;
            if (get_str(c, val, p, &s, 0, 0) == 0 && s != NULL)
                o->probe_query = s;
        } else if (strcmp(k, "application_name") == 0) {
            const char *s = NULL;
            if (get_str(c, val, p, &s, 0, 0) == 0 && s != NULL)
                o->application_name = s;
        }
    }
}

/* ---- node settings ---------------------------------------------------- */

/* Where cross-checked settings were given, for the messages. */
typedef struct marks {
    const rm_ynode_t *min, *max, *ssh;
    char min_path[PATH_MAX_LEN], max_path[PATH_MAX_LEN];
    char ssh_path[PATH_MAX_LEN];
    int min_local, max_local, ssh_local; /* set in this node, not defaults */
} marks_t;

static const char *const node_keys[] = {
    "host",
    "port",
    "database",
    "user",
    "password",
    "application_name",
    "connect_timeout",
    "conninfo",
    "ssl",
    "ssh",
    "pool",
};
static const char *const node_seq_keys[] = {
    "id",
    "name",
    "host",
    "port",
    "database",
    "user",
    "password",
    "application_name",
    "connect_timeout",
    "conninfo",
    "ssl",
    "ssh",
    "pool",
};

static void do_pool(vctx_t *c, const rm_ynode_t *v, const char *path,
                    pgcm_pool_options_t *pool, marks_t *m)
{
    if (rm__yaml_is_null(v))
        return;
    if (expect_map(c, v, path, "write pool: { min: 1, max: 10 }"))
        return;
    check_keys(c, v, path, pool_keys, NKEYS(pool_keys));
    const rm_ynode_t *lifetime_at = NULL;
    for (size_t i = 0; i < v->npairs; i++) {
        const char *k = key_text(v->pairs[i].key);
        const rm_ynode_t *val = v->pairs[i].value;
        if (k == NULL)
            continue;
        char p[PATH_MAX_LEN];
        join(p, path, k);
        if (strcmp(k, "min") == 0) {
            if (get_int(c, val, p, &pool->min, 0, 10000,
                        "use 0 to 10000 connections") > 0) {
                m->min = val;
                m->min_local = 1;
                snprintf(m->min_path, sizeof(m->min_path), "%s", p);
            }
        } else if (strcmp(k, "max") == 0) {
            if (get_int(c, val, p, &pool->max, 1, 10000,
                        "use 1 to 10000 connections") > 0) {
                m->max = val;
                m->max_local = 1;
                snprintf(m->max_path, sizeof(m->max_path), "%s", p);
            }
        } else if (strcmp(k, "idle_timeout") == 0) {
            get_duration(c, val, p, &pool->idle_timeout_ms, 1);
        } else if (strcmp(k, "acquire_timeout") == 0) {
            get_duration(c, val, p, &pool->acquire_timeout_ms, 1);
        } else if (strcmp(k, "lifetime") == 0 ||
                   strcmp(k, "max_lifetime") == 0) {
            if (lifetime_at != NULL) {
                verr(c, v->pairs[i].key, p,
                     "lifetime and max_lifetime are the same setting (first "
                     "given at %d:%d); keep one",
                     lifetime_at->line, lifetime_at->column);
                continue;
            }
            lifetime_at = v->pairs[i].key;
            get_duration(c, val, p, &pool->max_lifetime_ms, 1);
        } else if (strcmp(k, "leak_threshold") == 0) {
            get_duration(c, val, p, &pool->leak_threshold_ms, 1);
        }
    }
}

static void do_ssl(vctx_t *c, const rm_ynode_t *v, const char *path,
                   pgcm_ssl_options_t *ssl)
{
    if (v->kind == RM_Y_SCALAR) {
        /* ssl: true / false / null */
        int b;
        int rc = get_bool(c, v, path, &b);
        if (rc > 0)
            ssl->enabled = b ? PGCM_SSL_ENABLED : PGCM_SSL_DISABLED;
        else if (rc == 0)
            ssl->enabled = PGCM_SSL_DEFAULT;
        return;
    }
    if (expect_map(c, v, path,
                   "write ssl: true, or ssl: { enabled: true, ca: FILE }"))
        return;
    check_keys(c, v, path, ssl_keys, NKEYS(ssl_keys));
    /* A mapping turns TLS on unless it says enabled: false (as pg does). */
    ssl->enabled = PGCM_SSL_ENABLED;
    for (size_t i = 0; i < v->npairs; i++) {
        const char *k = key_text(v->pairs[i].key);
        const rm_ynode_t *val = v->pairs[i].value;
        if (k == NULL)
            continue;
        char p[PATH_MAX_LEN];
        join(p, path, k);
        int b;
        if (strcmp(k, "enabled") == 0) {
            int rc = get_bool(c, val, p, &b);
            if (rc > 0)
                ssl->enabled = b ? PGCM_SSL_ENABLED : PGCM_SSL_DISABLED;
            else if (rc == 0)
                ssl->enabled = PGCM_SSL_DEFAULT;
        } else if (strcmp(k, "reject_unauthorized") == 0) {
            if (get_bool(c, val, p, &b) > 0)
                ssl->reject_unauthorized = b;
        } else if (strcmp(k, "ca") == 0) {
            get_str(c, val, p, &ssl->ca, 0, 1);
        } else if (strcmp(k, "cert") == 0) {
            get_str(c, val, p, &ssl->cert, 0, 1);
        } else if (strcmp(k, "key") == 0) {
            get_str(c, val, p, &ssl->key, 0, 1);
        }
    }
}

static void do_ssh(vctx_t *c, const rm_ynode_t *v, const char *path,
                   pgcm_ssh_options_t *ssh, marks_t *m)
{
    if (v->kind == RM_Y_SCALAR) {
        int b;
        /* ssh: null / false: no tunnel (overrides defaults:). */
        if (rm__yaml_is_null(v) ||
            (rm__parse_bool(v->text, &b) == 0 && b == 0)) {
            memset(ssh, 0, sizeof(*ssh));
            ssh->port = 22;
            m->ssh = NULL;
            return;
        }
        verr(c, v, path,
             "expected a mapping, found a single value; write ssh: { host: "
             "bastion, user: me, key_path: ~/.ssh/id_ed25519 }, or ssh: "
             "false for no tunnel");
        return;
    }
    if (expect_map(c, v, path,
                   "write ssh: { host: bastion, user: me, key_path: FILE }"))
        return;
    check_keys(c, v, path, ssh_keys, NKEYS(ssh_keys));
    m->ssh = v;
    m->ssh_local = 1;
    snprintf(m->ssh_path, sizeof(m->ssh_path), "%s", path);
    for (size_t i = 0; i < v->npairs; i++) {
        const char *k = key_text(v->pairs[i].key);
        const rm_ynode_t *val = v->pairs[i].value;
        if (k == NULL)
            continue;
        char p[PATH_MAX_LEN];
        join(p, path, k);
        if (strcmp(k, "host") == 0) {
            get_str(c, val, p, &ssh->host, 0, 0);
        } else if (strcmp(k, "port") == 0) {
            get_int(c, val, p, &ssh->port, 1, 65535,
                    "use a port between 1 and 65535");
        } else if (strcmp(k, "user") == 0) {
            get_str(c, val, p, &ssh->user, 0, 0);
        } else if (strcmp(k, "key_path") == 0) {
            get_str(c, val, p, &ssh->key_path, 0, 1);
        } else if (strcmp(k, "known_hosts") == 0) {
            get_str(c, val, p, &ssh->known_hosts, 0, 1);
        } else if (strcmp(k, "passphrase") == 0) {
            get_str(c, val, p, &ssh->passphrase, 1, 0);
        }
    }
}

static void do_conninfo(vctx_t *c, const rm_ynode_t *v, const char *path,
                        pgcm_node_spec_t *spec)
{
    char *t;
    int refs;
    int rc = scalar_text(c, v, path, "a connection string", &t, &refs);
    if (rc < 0)
        return;
    if (rc == 0) {
        spec->conninfo = NULL;
        return;
    }
    int has_password = 0;
    char *msg = rm__conninfo_check(t, v->text, &has_password);
    if (msg != NULL) {
        verr(c, v, path,
             "invalid connection string: %s; write libpq key=value pairs "
             "(host=db1 dbname=app) or a postgresql:// URI",
             msg);
        free(msg);
    } else {
        if (has_password && refs == 0 && !c->secret->found) {
            c->secret->found = 1;
            c->secret->line = v->line;
            c->secret->column = v->column;
            snprintf(c->secret->key, sizeof(c->secret->key), "%s", path);
        }
        spec->conninfo = rm__config_strdup(c->cfg, t);
        if (spec->conninfo == NULL)
            c->oom = 1;
    }
    explicit_bzero(t, strlen(t));
    free(t);
}

/* Apply one settings mapping (defaults:, or one node) onto spec. */
static void apply_settings(vctx_t *c, const rm_ynode_t *map, const char *path,
                           pgcm_node_spec_t *spec, marks_t *m, int seq_form)
{
    static const section_hint_t hints[] = {
        {"ssl", ssl_keys, NKEYS(ssl_keys)},
        {"ssh", ssh_keys, NKEYS(ssh_keys)},
        {"pool", pool_keys, NKEYS(pool_keys)},
    };
    c->hints = hints;
    c->nhints = NKEYS(hints);
    if (seq_form)
        check_keys(c, map, path, node_seq_keys, NKEYS(node_seq_keys));
    else
        check_keys(c, map, path, node_keys, NKEYS(node_keys));
    c->hints = NULL;
    c->nhints = 0;
    for (size_t i = 0; i < map->npairs; i++) {
        const char *k = key_text(map->pairs[i].key);
        const rm_ynode_t *v = map->pairs[i].value;
        if (k == NULL)
            continue;
        char p[PATH_MAX_LEN];
        join(p, path, k);
        if (strcmp(k, "host") == 0) {
            get_str(c, v, p, &spec->host, 0, 0);
        } else if (strcmp(k, "port") == 0) {
            int port = spec->port;
            int rc = get_int(c, v, p, &port, 1, 65535,
                             "use a port between 1 and 65535");
            if (rc > 0)
                spec->port = port;
            else if (rc == 0)
                spec->port = 0;
        } else if (strcmp(k, "database") == 0) {
            get_str(c, v, p, &spec->database, 0, 0);
        } else if (strcmp(k, "user") == 0) {
            get_str(c, v, p, &spec->user, 0, 0);
        } else if (strcmp(k, "password") == 0) {
            get_str(c, v, p, &spec->password, 1, 0);
        } else if (strcmp(k, "application_name") == 0) {
            get_str(c, v, p, &spec->application_name, 0, 0);
        } else if (strcmp(k, "connect_timeout") == 0) {
            int ms = 0;
            int rc = get_duration(c, v, p, &ms, 1);
            if (rc > 0)
                spec->connect_timeout_ms = ms;
            else if (rc == 0)
                spec->connect_timeout_ms = 0;
        } else if (strcmp(k, "conninfo") == 0) {
            do_conninfo(c, v, p, spec);
        } else if (strcmp(k, "ssl") == 0) {
            do_ssl(c, v, p, &spec->ssl);
        } else if (strcmp(k, "ssh") == 0) {
            do_ssh(c, v, p, &spec->ssh, m);
        } else if (strcmp(k, "pool") == 0) {
            do_pool(c, v, p, &spec->pool, m);
        }
    }
}

/* Cross-field checks on a merged node (or on defaults:). */
static void check_node(vctx_t *c, const pgcm_node_spec_t *s, const marks_t *m,
                       int is_defaults)
{
    if (s->pool.min > s->pool.max &&
        (is_defaults || m->min_local || m->max_local)) {
        int use_max = m->max_local || !m->min_local;
        const rm_ynode_t *at = use_max ? m->max : m->min;
        const char *p = use_max ? m->max_path : m->min_path;
        verr(c, at, p,
             "pool min (%d) is greater than max (%d); lower min or raise max",
             s->pool.min, s->pool.max);
    }
    if (m->ssh != NULL && s->ssh.host == NULL &&
        (is_defaults || m->ssh_local)) {
        verr(c, m->ssh, m->ssh_path,
             "an ssh tunnel without a host; add host: (the SSH server to "
             "go through), or write ssh: false for no tunnel");
    }
}

/* ---- nodes ----------------------------------------------------------- */

/* The nodes taken so far, in room for every entry of the nodes: section
 * (specs is owned by the configuration). */
typedef struct node_list {
    pgcm_node_spec_t *specs;
    const rm_ynode_t **where; /* the id's node, for duplicate messages */
    size_t n, cap;
} node_list_t;

static void add_node(vctx_t *c, node_list_t *nl, const pgcm_node_spec_t *tmpl,
                     const marks_t *tmarks, const char *id,
                     const rm_ynode_t *id_at, const rm_ynode_t *settings,
                     const char *path, int seq_form)
{
    const char *problem = rm__id_problem(id, strlen(id));
    if (problem != NULL) {
        verr(c, id_at, path,
             "node id %s; use 1 to 63 characters without spaces or commas",
             problem);
        return;
    }
    /* The id is copied first: the index keeps it. A duplicate's copy
     * stays unused in the configuration's arena. */
    const char *own_id = rm__config_strdup(c->cfg, id);
    size_t first;
    int seen = own_id == NULL ? -1
                              : rm__index_add(&c->cfg->priv->node_index, own_id,
                                              strlen(own_id), nl->n, &first);
    if (seen < 0) {
        c->oom = 1;
        return;
    }
    if (seen) {
        verr(c, id_at, path,
             "duplicate node '%s' (first defined at %d:%d); node ids "
             "must be unique: rename one",
             id, nl->where[first]->line, nl->where[first]->column);
        return;
    }
    pgcm_node_spec_t spec = *tmpl;
    marks_t m = *tmarks;
    m.min_local = m.max_local = m.ssh_local = 0;
    spec.id = own_id;
    if (settings != NULL && settings->kind == RM_Y_MAP) {
        /* A node with its own conninfo takes its connection from it: the
         * connection fields of defaults: would silently override it. */
        for (size_t i = 0; i < settings->npairs; i++) {
            const char *k = key_text(settings->pairs[i].key);
            if (k != NULL && strcmp(k, "conninfo") == 0 &&
                !rm__yaml_is_null(settings->pairs[i].value)) {
                pgcm_node_spec_t fresh;
                pgcm_node_spec_init(&fresh);
                spec.host = NULL;
                spec.port = 0;
                spec.database = NULL;
                spec.user = NULL;
                spec.password = NULL;
                spec.ssl = fresh.ssl;
                break;
            }
        }
    }
    if (settings != NULL && !rm__yaml_is_null(settings)) {
        if (settings->kind != RM_Y_MAP) {
            verr(c, settings, path,
                 "expected a mapping of connection settings, found %s; "
                 "write e.g. { host: db1, port: 5432, database: app }",
                 rm__yaml_kind_name(settings));
        } else {
            apply_settings(c, settings, path, &spec, &m, seq_form);
        }
    }
    check_node(c, &spec, &m, 0);
    nl->specs[nl->n] = spec;
    nl->where[nl->n] = id_at;
    nl->n++;
}

static void do_nodes(vctx_t *c, const rm_ynode_t *v, const rm_ynode_t *root,
                     const pgcm_node_spec_t *tmpl, const marks_t *tmarks)
{
    node_list_t nl = {0};
    if (v == NULL || rm__yaml_is_null(v)) {
        verr(c, v ? v : root, "nodes",
             "no nodes defined; add a nodes: section mapping each node id "
             "to its settings, e.g. nodes: { primary: { host: db1 } }");
        return;
    }
    size_t entries = v->kind == RM_Y_MAP   ? v->npairs
                     : v->kind == RM_Y_SEQ ? v->nitems
                                           : 0;
    if (entries > 0) {
        nl.specs = rm__config_alloc(c->cfg, entries * sizeof(*nl.specs));
        nl.where = malloc(entries * sizeof(*nl.where));
        if (nl.specs == NULL || nl.where == NULL ||
            rm__index_reserve(&c->cfg->priv->node_index, entries) != 0) {
            free(nl.where);
            c->oom = 1;
            return;
        }
        nl.cap = entries;
    }
    if (v->kind == RM_Y_MAP) {
        for (size_t i = 0; i < v->npairs; i++) {
            const rm_ynode_t *k = v->pairs[i].key;
            if (k->kind != RM_Y_SCALAR) {
                verr(c, k, "nodes",
                     "a node id is %s; ids must be plain names such as "
                     "'primary'",
                     rm__yaml_kind_name(k));
                continue;
            }
            char p[PATH_MAX_LEN];
            join(p, "nodes", k->text);
            if (strlen(k->text) != k->len) {
                verr(c, k, p, "node id contains a NUL character; rename it");
                continue;
            }
            add_node(c, &nl, tmpl, tmarks, k->text, k, v->pairs[i].value, p, 0);
        }
    } else if (v->kind == RM_Y_SEQ) {
        for (size_t i = 0; i < v->nitems; i++) {
            const rm_ynode_t *item = v->items[i];
            char p[PATH_MAX_LEN];
            snprintf(p, sizeof(p), "nodes[%zu]", i);
            if (item->kind != RM_Y_MAP) {
                verr(c, item, p,
                     "expected a mapping with id: and the node's settings, "
                     "found %s",
                     rm__yaml_kind_name(item));
                continue;
            }
            const rm_ynode_t *idv = NULL, *namev = NULL;
            for (size_t j = 0; j < item->npairs; j++) {
                const char *k = key_text(item->pairs[j].key);
                if (k == NULL)
                    continue;
                if (strcmp(k, "id") == 0 && idv == NULL)
                    idv = item->pairs[j].value;
                else if (strcmp(k, "name") == 0 && namev == NULL)
                    namev = item->pairs[j].value;
            }
            char *id = NULL, *name = NULL;
            int bad = 0;
            /* Ids are names, taken as written (never interpolated), as
             * the keys of the mapping form. */
            if (idv && literal_text(c, idv, p, "a node id", &id) < 0)
                bad = 1;
            if (namev && literal_text(c, namev, p, "a node name", &name) < 0)
                bad = 1;
            if (!bad && id && name && strcmp(id, name) != 0) {
                verr(c, namev, p,
                     "id '%.63s' and name '%.63s' differ; a node has one id: "
                     "keep one of them",
                     id, name);
                bad = 1;
            }
            const char *use = id ? id : name;
            const rm_ynode_t *at = id ? idv : namev;
            if (!bad && use == NULL) {
                verr(c, item, p,
                     "a node without an id; add id: NAME (a unique name "
                     "such as primary)");
                bad = 1;
            }
            if (!bad) {
                char np[PATH_MAX_LEN];
                join(np, "nodes", use);
                add_node(c, &nl, tmpl, tmarks, use, at, item, np, 1);
            }
            free(id);
            free(name);
        }
    } else {
        verr(c, v, "nodes",
             "expected a mapping of node ids to settings, found %s; write "
             "e.g. nodes: { primary: { host: db1 } }",
             rm__yaml_kind_name(v));
    }
    if (nl.n == 0 && v->kind != RM_Y_SCALAR &&
        ((v->kind == RM_Y_MAP && v->npairs == 0) ||
         (v->kind == RM_Y_SEQ && v->nitems == 0))) {
        verr(c, v, "nodes",
             "no nodes defined; add at least one node, e.g. primary: { "
             "host: db1 }");
    }
    if (nl.n > 0) {
        c->cfg->nodes = nl.specs;
        c->cfg->node_count = nl.n;
    }
    free(nl.where);
}

/* ---- clusters ---------------------------------------------------------- */

/* The node list of cluster cl: its ids, and their positions in the
 * configuration's nodes into *pos. */
static void cluster_nodes(vctx_t *c, const rm_ynode_t *seq, const char *path,
                          rm_cluster_t *cl, size_t **pos_out)
{
    if (seq->kind != RM_Y_SEQ) {
        verr(c, seq, path,
             "expected a list of node ids, found %s; write nodes: [primary, "
             "replica]",
             rm__yaml_kind_name(seq));
        return;
    }
    if (seq->nitems == 0) {
        verr(c, seq, path,
             "an empty cluster; list at least one node id, e.g. [primary]");
        return;
    }
    const char **ids = rm__config_alloc(c->cfg, seq->nitems * sizeof(*ids));
    size_t *positions =
        rm__config_alloc(c->cfg, seq->nitems * sizeof(*positions));
    size_t nodes = c->cfg->node_count;
    if (ids == NULL || positions == NULL ||
        (c->listed_by == NULL && nodes > 0 &&
         ((c->listed_by = calloc(nodes, sizeof(size_t))) == NULL ||
          (c->listed_at = calloc(nodes, sizeof(void *))) == NULL))) {
        c->oom = 1;
        return;
    }
    size_t stamp = ++c->cluster_stamp;
    size_t n = 0;
    for (size_t i = 0; i < seq->nitems; i++) {
        const rm_ynode_t *item = seq->items[i];
        char p[PATH_MAX_LEN];
        snprintf(p, sizeof(p), "%s[%zu]", path, i);
        char *id;
        int refs = 0;
        int rc = scalar_text(c, item, p, "a node id", &id, &refs);
        if (rc < 0)
            continue;
        if (rc == 0) {
            verr(c, item, p, "an empty node id; write the id of a node");
            continue;
        }
        size_t pos = rm__config_node_pos(c->cfg, id);
        char b[128];
        if (pos >= nodes) {
            const char *s = NULL;
            if (!rm__diags_full(c->d) && c->node_ids == NULL &&
                (c->node_ids = malloc((nodes + 1) * sizeof(char *))) != NULL) {
                for (size_t j = 0; j < nodes; j++)
                    c->node_ids[j] = c->cfg->nodes[j].id;
            }
            /* Only for a message that is kept: each search reads every id. */
            if (!rm__diags_full(c->d) && c->node_ids != NULL)
                s = rm__suggest(id, c->node_ids, nodes);
            if (s != NULL)
                verr(c, item, p, "unknown node %s; did you mean '%s'?",
                     val_shown(item, refs, b, sizeof(b)), s);
            else
                verr(c, item, p,
                     "unknown node %s; define it under nodes: or remove it "
                     "from the cluster",
                     val_shown(item, refs, b, sizeof(b)));
            free(id);
            continue;
        }
        free(id);
        const pgcm_node_spec_t *node = &c->cfg->nodes[pos];
        if (c->listed_by[pos] == stamp) {
            const rm_ynode_t *first = c->listed_at[pos];
            verr(c, item, p,
                 "node '%s' is listed twice (first at %d:%d); remove one",
                 node->id, first->line, first->column);
            continue;
        }
        c->listed_by[pos] = stamp;
        c->listed_at[pos] = item;
        ids[n] = node->id;
        positions[n] = pos;
        n++;
    }
    *pos_out = positions;
    cl->node_ids = ids;
    cl->node_count = n;
}

static void do_clusters(vctx_t *c, const rm_ynode_t *v)
{
    static const char *const keys[] = {"nodes", "default"};
    const char *path = "clusters";
    if (rm__yaml_is_null(v))
        return;
    if (expect_map(c, v, path,
                   "write clusters: { production: { nodes: [primary, "
                   "replica], default: true } }"))
        return;
    check_duplicates(c, v, path, "cluster");
    if (v->npairs == 0)
        return;
    rm_cluster_t *cls = rm__config_alloc(c->cfg, v->npairs * sizeof(*cls));
    size_t **pos = rm__config_alloc(c->cfg, v->npairs * sizeof(*pos));
    if (cls == NULL || pos == NULL) {
        c->oom = 1;
        return;
    }
    size_t n = 0;
    const rm_ynode_t *default_at = NULL;
    const char *default_name = NULL;
    rm_index_t names = {0}; /* the names taken so far */
    for (size_t i = 0; i < v->npairs; i++) {
        const rm_ynode_t *k = v->pairs[i].key;
        const rm_ynode_t *val = v->pairs[i].value;
        if (k->kind != RM_Y_SCALAR) {
            verr(c, k, path,
                 "a cluster name is %s; names must be plain such as "
                 "'production'",
                 rm__yaml_kind_name(k));
            continue;
        }
        char p[PATH_MAX_LEN];
        join(p, path, k->text);
        const char *problem = rm__id_problem(k->text, k->len);
        if (problem != NULL) {
            verr(c, k, p,
                 "cluster name %s; use 1 to 63 characters without spaces or "
                 "commas",
                 problem);
            continue;
        }
        int seen = rm__index_add(&names, k->text, k->len, n, NULL);
        if (seen < 0) {
            c->oom = 1;
            break;
        }
        if (seen)
            continue; /* reported by check_duplicates */
        rm_cluster_t *cl = &cls[n];
        cl->name = rm__config_strdup(c->cfg, k->text);
        if (cl->name == NULL) {
            c->oom = 1;
            break;
        }
        if (val->kind == RM_Y_SEQ) {
            cluster_nodes(c, val, p, cl, &pos[n]); /* shorthand: [a, b] */
        } else if (expect_map(c, val, p,
                              "write { nodes: [primary, replica], default: "
                              "true } or a list of node ids") == 0) {
            check_keys(c, val, p, keys, NKEYS(keys));
            const rm_ynode_t *nodes = NULL;
            for (size_t j = 0; j < val->npairs; j++) {
                const char *kk = key_text(val->pairs[j].key);
                const rm_ynode_t *vv = val->pairs[j].value;
                if (kk == NULL)
                    continue;
                char pp[PATH_MAX_LEN];
                join(pp, p, kk);
                if (strcmp(kk, "nodes") == 0 && nodes == NULL) {
                    nodes = vv;
                    cluster_nodes(c, vv, pp, cl, &pos[n]);
                } else if (strcmp(kk, "default") == 0) {
                    int b = 0;
                    if (get_bool(c, vv, pp, &b) > 0 && b) {
                        if (default_at != NULL) {
                            verr(c, vv, pp,
                                 "a second default cluster ('%s' is the "
                                 "default, at %d:%d); keep default: true on "
                                 "one cluster only",
                                 default_name, default_at->line,
                                 default_at->column);
                        } else {
                            default_at = vv;
                            default_name = cl->name;
                            cl->is_default = 1;
                        }
                    }
                }
            }
            if (nodes == NULL) {
                verr(c, val, p,
                     "a cluster without nodes; add nodes: [id, ...]");
            }
        }
        n++;
    }
    rm__index_free(&names);
    c->cfg->priv->cluster_pos = pos;
    c->cfg->clusters = cls;
    c->cfg->cluster_count = n;
}

/* ---- thresholds, pglogical, theme --------------------------------------- */

static const char *const threshold_keys[] = {"replication_lag",
                                             "slot_retention", "conflict_rate"};

static void threshold_pair(vctx_t *c, const rm_ynode_t *v, const char *path,
                           int kind, void *warn, void *crit)
{
    static const char *const keys[] = {"warning", "critical"};
    if (rm__yaml_is_null(v))
        return;
    if (expect_map(c, v, path, "write { warning: VALUE, critical: VALUE }"))
        return;
    check_keys(c, v, path, keys, NKEYS(keys));
    const rm_ynode_t *crit_at = NULL, *warn_at = NULL;
    for (size_t i = 0; i < v->npairs; i++) {
        const char *k = key_text(v->pairs[i].key);
        const rm_ynode_t *val = v->pairs[i].value;
        if (k == NULL)
            continue;
        char p[PATH_MAX_LEN];
        join(p, path, k);
        int is_warn = strcmp(k, "warning") == 0;
        if (!is_warn && strcmp(k, "critical") != 0)
            continue;
        void *dst = is_warn ? warn : crit;
        int rc;
        if (kind == 0)
            rc = get_duration64(c, val, p, dst, 1, INT64_C(1) << 50);
        else if (kind == 1)
            rc = get_size(c, val, p, dst);
        else
            rc = get_number(c, val, p, dst);
        if (rc > 0) {
            if (is_warn)
                warn_at = val;
            else
                crit_at = val;
        }
    }
    int bad;
    char msg[128];
    if (kind == 2) {
        double w = *(double *)warn, cr = *(double *)crit;
        bad = w > cr;
        snprintf(msg, sizeof(msg), "critical (%g) is below warning (%g)", cr,
                 w);
    } else {
        int64_t w = *(int64_t *)warn, cr = *(int64_t *)crit;
        bad = w > cr;
        snprintf(msg, sizeof(msg),
                 "critical (%lld%s) is below warning "
                 "(%lld%s)",
                 (long long)cr, kind == 0 ? "ms" : " bytes", (long long)w,
                 kind == 0 ? "ms" : " bytes");
    }
    if (bad) {
        const rm_ynode_t *at = crit_at ? crit_at : warn_at ? warn_at : v;
        char p[PATH_MAX_LEN];
        join(p, path, crit_at ? "critical" : "warning");
        verr(c, at, p, "%s; make critical at least warning", msg);
    }
}

static void do_thresholds(vctx_t *c, const rm_ynode_t *v)
{
    const char *path = "thresholds";
    if (rm__yaml_is_null(v))
        return;
    if (expect_map(c, v, path,
                   "write thresholds: { replication_lag: { warning: 10s, "
                   "critical: 1m } }"))
        return;
    check_keys(c, v, path, threshold_keys, NKEYS(threshold_keys));
    rm_thresholds_t *t = &c->cfg->thresholds;
    for (size_t i = 0; i < v->npairs; i++) {
        const char *k = key_text(v->pairs[i].key);
        if (k == NULL)
            continue;
        char p[PATH_MAX_LEN];
        join(p, path, k);
        if (strcmp(k, "replication_lag") == 0)
            threshold_pair(c, v->pairs[i].value, p, 0, &t->lag_warning_ms,
                           &t->lag_critical_ms);
        else if (strcmp(k, "slot_retention") == 0)
            threshold_pair(c, v->pairs[i].value, p, 1, &t->slot_warning_bytes,
                           &t->slot_critical_bytes);
        else if (strcmp(k, "conflict_rate") == 0)
            threshold_pair(c, v->pairs[i].value, p, 2,
                           &t->conflict_rate_warning,
                           &t->conflict_rate_critical);
    }
}

/* pglogical: true, false (any boolean spelling) or auto. */
static void get_pglogical(vctx_t *c, const rm_ynode_t *v, int *dst)
{
    char *t;
    int refs = 0, b;
    char shown[128];

    if (scalar_text(c, v, "pglogical", "true, false or auto", &t, &refs) <= 0)
        return;
    if (strcasecmp(t, "auto") == 0)
        *dst = RM_PGLOGICAL_AUTO;
    else if (rm__parse_bool(t, &b) == 0)
        *dst = b ? RM_PGLOGICAL_ON : RM_PGLOGICAL_OFF;
    else
        verr(c, v, "pglogical",
             "%s is not true, false or auto; write one "
             "of them (auto, the default, reads pglogical where it is "
             "installed)",
             val_shown(v, refs, shown, sizeof(shown)));
    free(t);
}

static int color_ok(const char *s)
{
    static const char *const names[] = {"default", "black", "red",     "green",
                                        "yellow",  "blue",  "magenta", "cyan",
                                        "white",   "gray",  "grey"};
    size_t n = strlen(s);
    if (s[0] == '#' && (n == 4 || n == 7)) {
        for (size_t i = 1; i < n; i++) {
            char ch = s[i];
            if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                  (ch >= 'A' && ch <= 'F')))
                return 0;
        }
        return 1;
    }
    const char *base = s;
    if (strncasecmp(s, "bright", 6) == 0 && (s[6] == '-' || s[6] == '_'))
        base = s + 7;
    for (size_t i = 0; i < NKEYS(names); i++) {
        if (strcasecmp(base, names[i]) == 0)
            return 1;
    }
    int64_t v;
    const char *why;
    return rm__parse_int(s, &v, &why) == 0 && v >= 0 && v <= 255;
}

static int theme_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
            return 0;
    }
    return 1;
}

static void theme_name(vctx_t *c, const rm_ynode_t *v, const char *path)
{
    const char *name = NULL;
    if (get_str(c, v, path, &name, 0, 0) != 0 || name == NULL)
        return;
    char b[128];
    if (!theme_name_ok(name)) {
        verr(c, v, path,
             "%s is not a theme name; use dark or light (letters, digits, "
             "'-' and '_')",
             val_shown(v, 0, b, sizeof(b)));
        return;
    }
    c->cfg->theme.name = name;
}

static void do_theme(vctx_t *c, const rm_ynode_t *v)
{
    static const char *const keys[] = {"name", "colors"};
    const char *path = "theme";
    if (rm__yaml_is_null(v))
        return;
    if (v->kind == RM_Y_SCALAR) {
        theme_name(c, v, path);
        return;
    }
    if (expect_map(c, v, path,
                   "write theme: dark, or theme: { name: dark, colors: { "
                   "warning: \"#FFD700\" } }"))
        return;
    check_keys(c, v, path, keys, NKEYS(keys));
    for (size_t i = 0; i < v->npairs; i++) {
        const char *k = key_text(v->pairs[i].key);
        const rm_ynode_t *val = v->pairs[i].value;
        if (k == NULL)
            continue;
        char p[PATH_MAX_LEN];
        join(p, path, k);
        if (strcmp(k, "name") == 0) {
            theme_name(c, val, p);
        } else if (strcmp(k, "colors") == 0 && !rm__yaml_is_null(val)) {
            if (expect_map(c, val, p, "write colors: { warning: \"#FFD700\" }"))
                continue;
            check_duplicates(c, val, p, "colour");
            rm_theme_color_t *cols =
                rm__config_alloc(c->cfg, (val->npairs + 1) * sizeof(*cols));
            if (cols == NULL) {
                c->oom = 1;
                return;
            }
            size_t n = 0;
            for (size_t j = 0; j < val->npairs; j++) {
                const rm_ynode_t *ck = val->pairs[j].key;
                if (ck->kind != RM_Y_SCALAR || strlen(ck->text) != ck->len ||
                    ck->len == 0) {
                    verr(c, ck, p,
                         "a colour role must be a plain name such as "
                         "warning");
                    continue;
                }
                char cp[PATH_MAX_LEN];
                join(cp, p, ck->text);
                const char *colr = NULL;
                if (get_str(c, val->pairs[j].value, cp, &colr, 0, 0) != 0 ||
                    colr == NULL)
                    continue;
                char b[128];
                if (!color_ok(colr)) {
                    verr(c, val->pairs[j].value, cp,
                         "%s is not a colour; write \"#RRGGBB\" (quoted), "
                         "a curses colour name such as yellow, or 0-255",
                         val_shown(val->pairs[j].value, 0, b, sizeof(b)));
                    continue;
                }
                cols[n].role = rm__config_strdup(c->cfg, ck->text);
                if (cols[n].role == NULL) {
                    c->oom = 1;
                    return;
                }
                cols[n].color = colr;
                n++;
            }
            c->cfg->theme.colors = cols;
            c->cfg->theme.color_count = n;
        }
    }
}

/* ---- serve and event_log ---------------------------------------------------
 */

static void do_serve(vctx_t *c, const rm_ynode_t *v)
{
    static const char *const keys[] = {"listen", "interval"};
    const char *path = "serve";
    if (rm__yaml_is_null(v))
        return;
    if (expect_map(c, v, path,
                   "write serve: { listen: 127.0.0.1:9187, interval: 5s }"))
        return;
    check_keys(c, v, path, keys, NKEYS(keys));
    for (size_t i = 0; i < v->npairs; i++) {
        const char *k = key_text(v->pairs[i].key);
        const rm_ynode_t *val = v->pairs[i].value;
        if (k == NULL)
            continue;
        char p[PATH_MAX_LEN];
        join(p, path, k);
        if (strcmp(k, "listen") == 0) {
            const char *s = NULL, *why;
            char host[256], b[128];
            int port;
            if (get_str(c, val, p, &s, 0, 0) != 0 || s == NULL)
                continue;
            if (rm_config_parse_listen(s, host, sizeof(host), &port, &why) !=
                0) {
                verr(c, val, p, "%s: %s", val_shown(val, 0, b, sizeof(b)), why);
                continue;
            }
            c->cfg->serve.listen = s;
        } else if (strcmp(k, "interval") == 0) {
            get_duration64(c, val, p, &c->cfg->serve.interval_ms, 1, 86400000);
        }
    }
}

static void do_event_log(vctx_t *c, const rm_ynode_t *v)
{
    static const char *const keys[] = {"node", "queue_size"};
    const char *path = "event_log";
    if (rm__yaml_is_null(v))
        return;
    if (expect_map(c, v, path,
                   "write event_log: { node: ID } naming the node that "
                   "holds the connection_logs table"))
        return;
    check_keys(c, v, path, keys, NKEYS(keys));
    for (size_t i = 0; i < v->npairs; i++) {
        const char *k = key_text(v->pairs[i].key);
        const rm_ynode_t *val = v->pairs[i].value;
        if (k == NULL)
            continue;
        char p[PATH_MAX_LEN];
        join(p, path, k);
        if (strcmp(k, "node") == 0) {
            const char *s = NULL;
            if (get_str(c, val, p, &s, 0, 0) != 0 || s == NULL)
                continue;
            if (rm_config_find_node(c->cfg, s) == NULL) {
                const char **ids = calloc(c->cfg->node_count + 1, sizeof(*ids));
                const char *near = NULL;
                char b[128];
                if (ids != NULL) {
                    for (size_t j = 0; j < c->cfg->node_count; j++)
                        ids[j] = c->cfg->nodes[j].id;
                    near = rm__suggest(s, ids, c->cfg->node_count);
                }
                if (near != NULL)
                    verr(c, val, p,
                         "%s is not a node of nodes:; did you mean '%s'?",
                         val_shown(val, 0, b, sizeof(b)), near);
                else
                    verr(c, val, p,
                         "%s is not a node of nodes:; name the node that "
                         "holds the connection_logs table",
                         val_shown(val, 0, b, sizeof(b)));
                free(ids);
                continue;
            }
            c->cfg->event_log.node = s;
        } else if (strcmp(k, "queue_size") == 0) {
            int n;
            if (get_int(c, val, p, &n, 1, 1000000,
                        "use a number of events from 1 to 1000000") > 0)
                c->cfg->event_log.queue_size = n;
        }
    }
}

/* ---- root ------------------------------------------------------------------
 */

static const char *const root_keys[] = {"nodes",     "clusters", "thresholds",
                                        "pglogical", "theme",    "manager",
                                        "defaults",  "serve",    "event_log"};

static const rm_ynode_t *find_key(const rm_ynode_t *map, const char *key)
{
    for (size_t i = 0; i < map->npairs; i++) {
        const char *k = key_text(map->pairs[i].key);
        if (k != NULL && strcmp(k, key) == 0)
            return map->pairs[i].value;
    }
    return NULL;
}

int rm__config_from_tree(rm_config_t *cfg, const rm_ydoc_t *doc,
                         const char *file, rm_diags_t *d,
                         rm_secret_note_t *secret)
{
    vctx_t c = {.cfg = cfg,
                .d = d,
                .file = file,
                .getenv_fn = cfg->priv->getenv_fn,
                .secret = secret};
    const rm_ynode_t *root = doc->root;
    if (root == NULL || rm__yaml_is_null(root)) {
        verr(&c, NULL, "nodes",
             "the file defines no nodes; add a nodes: section mapping each "
             "node id to its settings, e.g. nodes: { primary: { host: db1 } "
             "}");
        return c.oom ? -2 : 0;
    }
    if (root->kind != RM_Y_MAP) {
        verr(&c, root, "",
             "the configuration is %s; it must be a mapping of sections "
             "(nodes:, clusters:, manager:, ...)",
             rm__yaml_kind_name(root));
        return c.oom ? -2 : 0;
    }
    static const section_hint_t root_hints[] = {
        {"manager", manager_keys, NKEYS(manager_keys)},
        {"defaults", node_keys, NKEYS(node_keys)},
        {"thresholds", threshold_keys, NKEYS(threshold_keys)},
    };
    c.hints = root_hints;
    c.nhints = NKEYS(root_hints);
    c.allow_x_keys = 1;
    check_keys(&c, root, "", root_keys, NKEYS(root_keys));
    c.allow_x_keys = 0;
    c.hints = NULL;
    c.nhints = 0;

    const rm_ynode_t *v;
    if ((v = find_key(root, "manager")) != NULL)
        do_manager(&c, v);

    /* defaults: a node template every node starts from. */
    pgcm_node_spec_t tmpl;
    pgcm_node_spec_init(&tmpl);
    marks_t tmarks;
    memset(&tmarks, 0, sizeof(tmarks));
    if ((v = find_key(root, "defaults")) != NULL && !rm__yaml_is_null(v)) {
        if (expect_map(&c, v, "defaults",
                       "write defaults: followed by indented node settings "
                       "such as port: 5432") == 0) {
            apply_settings(&c, v, "defaults", &tmpl, &tmarks, 0);
            check_node(&c, &tmpl, &tmarks, 1);
        }
    }
    do_nodes(&c, find_key(root, "nodes"), root, &tmpl, &tmarks);
    if ((v = find_key(root, "clusters")) != NULL)
        do_clusters(&c, v);
    if ((v = find_key(root, "thresholds")) != NULL)
        do_thresholds(&c, v);
    if ((v = find_key(root, "pglogical")) != NULL)
        get_pglogical(&c, v, &cfg->pglogical);
    if ((v = find_key(root, "theme")) != NULL)
        do_theme(&c, v);
    if ((v = find_key(root, "serve")) != NULL)
        do_serve(&c, v);
    if ((v = find_key(root, "event_log")) != NULL)
        do_event_log(&c, v);
    free(c.node_ids);
    free(c.listed_by);
    free(c.listed_at);
    if (!c.oom && rm__config_finish_clusters(cfg) != 0)
        c.oom = 1;
    return c.oom ? -2 : 0;
}
