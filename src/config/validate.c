/* SPDX-License-Identifier: MIT */
/*
 * validate.c - the checks: walks the YAML tree of a configuration file,
 * interpolates every value before typing it, fills the rm_config_t
 * (manager options, node defaults merged into every node, clusters,
 * thresholds, pglogical, theme) and reports every problem it finds, with
 * its line:column and key path, without stopping at the first. Which keys
 * a section has, their types, bounds and hints come from the tables of
 * schema.c; what is here is how values are read and the rules that tie
 * several together.
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
    int allow_x_keys; /* the root allows x-... keys (anchors) */
    /* For the clusters' node lists, made once for the whole file: every
     * node id (suggestions), and per node the cluster that last listed it
     * (stamp, 1-based) and where (a node listed twice in one cluster). */
    const char **node_ids;
    size_t *listed_by;
    const rm_ynode_t **listed_at;
    size_t cluster_stamp;
} vctx_t;

/* One problem at node at (NULL: no position) of the document. */
static void vdiag(vctx_t *c, rm_diag_severity_t sev, const rm_ynode_t *at,
                  const char *path, const char *fmt, va_list ap)
{
    if (rm__diag_vadd(c->d, sev, c->file, at ? at->line : 0,
                      at ? at->column : 0, path, fmt, ap) != 0)
        c->oom = 1;
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void
verr(vctx_t *c, const rm_ynode_t *at, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdiag(c, RM_DIAG_ERROR, at, path, fmt, ap);
    va_end(ap);
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void
vwarn(vctx_t *c, const rm_ynode_t *at, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdiag(c, RM_DIAG_WARNING, at, path, fmt, ap);
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

/* The key of sec (or of sec->more) that people write word for, or NULL
 * ("dbname" is written for database). */
static const char *also_known_as(const rm_section_t *sec, const char *word)
{
    for (; sec != NULL; sec = sec->more) {
        for (size_t i = 0; i < sec->count; i++) {
            const rm_field_t *f = &sec->fields[i];
            for (size_t j = 0; f->also != NULL && f->also[j] != NULL; j++) {
                if (strcasecmp(word, f->also[j]) == 0)
                    return f->key;
            }
        }
    }
    return NULL;
}

static void unknown_key(vctx_t *c, const rm_ynode_t *k, const char *path,
                        const rm_section_t *sec)
{
    char p[PATH_MAX_LEN];
    join(p, path, k->text);
    if (rm__diags_full(c->d)) {
        /* Counted, not shown: spare the suggestions. */
        verr(c, k, p, "unknown key");
        return;
    }
    const char *known[RM_SCHEMA_MAX_KEYS];
    size_t nknown = rm__schema_keys(sec, known, RM_SCHEMA_MAX_KEYS);
    const char *s = rm__suggest(k->text, known, nknown);
    if (s == NULL)
        s = also_known_as(sec, k->text);
    if (s != NULL) {
        verr(c, k, p, "unknown key; did you mean '%s'?", s);
        return;
    }
    for (size_t i = 0; i < sec->nhints; i++) {
        const rm_field_t *h = sec->hints[i];
        const char *below[RM_SCHEMA_MAX_KEYS];
        size_t nbelow = rm__schema_keys(h->section, below, RM_SCHEMA_MAX_KEYS);
        s = rm__suggest(k->text, below, nbelow);
        if (s != NULL) {
            verr(c, k, p, "unknown key here; did you mean '%s' under %s:?", s,
                 h->key);
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

/* 0 when v is a list; otherwise report that a list of items was expected,
 * what was found and what to write instead, and return -1. */
static int expect_list(vctx_t *c, const rm_ynode_t *v, const char *path,
                       const char *items, const char *what_to_do)
{
    if (v->kind == RM_Y_SEQ)
        return 0;
    verr(c, v, path, "expected a list of %s, found %s; %s", items,
         rm__yaml_kind_name(v), what_to_do);
    return -1;
}

/* Report the name v holds as none of those allowed: "BEFORE'name'AFTER;"
 * (the name as val_shown shows it), then "did you mean 'NEAR'?" when one
 * is near (NULL: none), else fix. */
static void no_such_name(vctx_t *c, const rm_ynode_t *v, const char *path,
                         int refs, const char *before, const char *after,
                         const char *near, const char *fix)
{
    char b[128];
    val_shown(v, refs, b, sizeof(b));
    if (near != NULL)
        verr(c, v, path, "%s%s%s; did you mean '%s'?", before, b, after, near);
    else
        verr(c, v, path, "%s%s%s; %s", before, b, after, fix);
}

/* Report every key of map that is not a plain key of sec (with a
 * suggestion), and duplicate keys. The readers then take known keys only,
 * so an unknown key is reported once and otherwise ignored. */
static void check_keys(vctx_t *c, const rm_ynode_t *map, const char *path,
                       const rm_section_t *sec)
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
        if (strlen(k->text) != k->len || rm__schema_field(sec, k->text) == NULL)
            unknown_key(c, k, path, sec);
    }
    check_duplicates(c, map, path, "key");
}

#define NKEYS(a) (sizeof(a) / sizeof(*(a)))

/* ---- scalar values ------------------------------------------------------- */

/* Whether v is a single value: 1, 0 when it is null, -1 when it is not
 * (reported; expect names the type for the message). */
static int single_value(vctx_t *c, const rm_ynode_t *v, const char *path,
                        const char *expect)
{
    if (v->kind != RM_Y_SCALAR) {
        verr(c, v, path, "expected %s, found %s; write a single value", expect,
             rm__yaml_kind_name(v));
        return -1;
    }
    return !rm__yaml_is_null(v);
}

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
    int single = single_value(c, v, path, expect);
    if (single <= 0)
        return single;
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
    int single = single_value(c, v, path, expect);
    if (single <= 0)
        return single;
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

/* Report the value of v as wrong: as shown in messages (val_shown), then
 * the rest of the message (fmt); frees text, returns -1. */
#if defined(__GNUC__)
__attribute__((format(printf, 6, 7)))
#endif
static int
reject(vctx_t *c, const rm_ynode_t *v, const char *path, int refs, char *text,
       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *rest = rm__vformat_line(fmt, ap);
    va_end(ap);
    char b[128];
    if (rest != NULL)
        verr(c, v, path, "%s%s", val_shown(v, refs, b, sizeof(b)), rest);
    else
        c->oom = 1;
    free(rest);
    free(text);
    return -1;
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
    if (rm__parse_int(t, &n, &why) != 0)
        return reject(c, v, path, refs, t, " is %s; %s",
                      strcmp(why, "number too large") == 0
                          ? "too large"
                          : "not a whole number",
                      hint);
    free(t);
    if (n < min || n > max) {
        if (refs > 0) /* never echo what came from the environment */
            return reject(c, v, path, refs, NULL, " is out of range; %s", hint);
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
    if (rm__parse_bool(t, dst) != 0)
        return reject(c, v, path, refs, t,
                      " is not a boolean; write true or false");
    free(t);
    return 1;
}

/* One of the words of field f (any case): its position into *dst. */
static int get_choice(vctx_t *c, const rm_ynode_t *v, const char *path,
                      const rm_field_t *f, int *dst)
{
    char words[128] = "";
    size_t n = 0, len = 0;
    for (; f->choices[n] != NULL; n++)
        len += (size_t)snprintf(words + len, sizeof(words) - len, "%s%s",
                                n == 0              ? ""
                                : f->choices[n + 1] ? ", "
                                                    : " or ",
                                f->choices[n]);
    char *t;
    int refs = 0;
    int rc = scalar_text(c, v, path, words, &t, &refs);
    if (rc <= 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(t, f->choices[i]) == 0) {
            *dst = (int)i;
            free(t);
            return 1;
        }
    }
    const char *near = rm__suggest(t, f->choices, n);
    if (near != NULL)
        return reject(c, v, path, refs, t,
                      " is not %s; did you mean '%s'? (%s)", words, near,
                      f->hint);
    return reject(c, v, path, refs, t, " is not %s; write one of them (%s)",
                  words, f->hint);
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
    if (rm_config_parse_duration(t, 1000, &ms, &why) != 0)
        return reject(c, v, path, refs, t, ": %s", why);
    if (ms < min_ms)
        return reject(c, v, path, refs, t,
                      " is zero; give a positive duration such as 500ms or 5s");
    if (ms > max_ms)
        return reject(c, v, path, refs, t,
                      " is too long; the most is %lld days",
                      (long long)(max_ms / 86400000));
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

/* A size in bytes; 0 is allowed only with allow_zero (a threshold that is
 * switched off). */
static int get_size(vctx_t *c, const rm_ynode_t *v, const char *path,
                    int64_t *dst, int allow_zero)
{
    char *t;
    int refs = 0;
    int rc = scalar_text(c, v, path, "a size such as 1GB", &t, &refs);
    if (rc <= 0)
        return rc;
    int64_t bytes;
    const char *why;
    if (rm_config_parse_size(t, &bytes, &why) != 0)
        return reject(c, v, path, refs, t, ": %s", why);
    if (bytes < 0 || (bytes == 0 && !allow_zero))
        return reject(c, v, path, refs, t,
                      " is zero; give a positive size such as 1GB");
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
    if (rm__parse_number(t, dst, &why) != 0)
        return reject(c, v, path, refs, t,
                      " is %s; write a number such as 5 or 0.5", why);
    if (*dst < 0)
        return reject(c, v, path, refs, t, " is negative; use 0 or more");
    free(t);
    return 1;
}

/* ---- reading a section from its table ------------------------------------ */

#define AT(base, f, type) ((type *)(void *)((char *)(base) + (f)->offset))

/*
 * Read the value v of field f (key path `path`) into the object at base.
 * Returns 1 (set), 0 (null or empty: unset or default kept, as the field
 * says), -1 (wrong, reported).
 */
static int read_value(vctx_t *c, const rm_field_t *f, const rm_ynode_t *v,
                      const char *path, void *base)
{
    int unset = (f->flags & RM_FIELD_UNSET) != 0;
    int rc = -1;
    switch (f->type) {
    case RM_F_DURATION:
    case RM_F_INT: {
        int n = 0;
        rc = f->type == RM_F_INT
                 ? get_int(c, v, path, &n, (int)f->min, (int)f->max, f->hint)
                 : get_duration(c, v, path, &n, (int)f->min);
        if (rc > 0 || (rc == 0 && unset))
            *AT(base, f, int) = n;
        break;
    }
    case RM_F_INT64: {
        int n = 0;
        rc = get_int(c, v, path, &n, (int)f->min, (int)f->max, f->hint);
        if (rc > 0)
            *AT(base, f, int64_t) = n;
        break;
    }
    case RM_F_DURATION64:
        rc = get_duration64(c, v, path, AT(base, f, int64_t), f->min, f->max);
        break;
    case RM_F_SIZE:
        rc = get_size(c, v, path, AT(base, f, int64_t), f->min <= 0);
        break;
    case RM_F_NUMBER:
        rc = get_number(c, v, path, AT(base, f, double));
        break;
    case RM_F_BOOL:
    case RM_F_TRISTATE: {
        int b = 0;
        rc = get_bool(c, v, path, &b);
        if (rc > 0)
            *AT(base, f, int) = b;
        else if (rc == 0 && f->type == RM_F_TRISTATE)
            *AT(base, f, int) = -1;
        break;
    }
    case RM_F_ENUM:
        rc = get_choice(c, v, path, f, AT(base, f, int));
        break;
    case RM_F_STRING:
    case RM_F_PATH:
    case RM_F_SECRET: {
        const char *s = NULL;
        if (get_str(c, v, path, &s, f->type == RM_F_SECRET,
                    f->type == RM_F_PATH) != 0)
            break;
        rc = s != NULL;
        if (s != NULL || unset)
            *AT(base, f, const char *) = s;
        break;
    }
    case RM_F_SECTION:
    case RM_F_OWN:
        break; /* the caller's */
    }
    return rc;
}

/* Reads a field of type RM_F_SECTION or RM_F_OWN. */
typedef void (*read_own_fn)(vctx_t *c, const rm_field_t *f, const rm_ynode_t *v,
                            const char *path, void *base, void *arg);

/*
 * Read the pairs of map (its keys checked already) whose key is a field of
 * sec into base, in file order (a key given twice: the last wins). given
 * (may be NULL) receives, per field of sec, the value node taken. Sections
 * and fields of their own go to own.
 */
static void read_section(vctx_t *c, const rm_ynode_t *map, const char *path,
                         const rm_section_t *sec, void *base,
                         const rm_ynode_t **given, read_own_fn own, void *arg)
{
    /* The key node that first gave a setting with several spellings. */
    const rm_ynode_t *spelled[RM_SCHEMA_MAX_KEYS] = {0};
    for (size_t i = 0; i < map->npairs; i++) {
        const char *k = key_text(map->pairs[i].key);
        const rm_ynode_t *v = map->pairs[i].value;
        if (k == NULL)
            continue;
        const rm_field_t *f = rm__schema_field(sec, k);
        if (f == NULL || f < sec->fields || f >= sec->fields + sec->count)
            continue; /* unknown (reported), or not this section's */
        char p[PATH_MAX_LEN];
        join(p, path, k);
        const rm_field_t *first = rm__schema_spelling_of(sec, f);
        if (first != NULL) {
            size_t g = (size_t)(first - sec->fields);
            if (spelled[g] != NULL) {
                verr(c, map->pairs[i].key, p,
                     "%s and %s are the same setting (first given at %d:%d); "
                     "keep one",
                     first->key, first[1].key, spelled[g]->line,
                     spelled[g]->column);
                continue;
            }
            spelled[g] = map->pairs[i].key;
        }
        if (f->type == RM_F_SECTION || f->type == RM_F_OWN) {
            if (own != NULL)
                own(c, f, v, p, base, arg);
            continue;
        }
        if (read_value(c, f, v, p, base) > 0 && given != NULL)
            given[f - sec->fields] = v;
    }
}

/* Whether v is a mapping of section sec to read: 1 (its keys checked), 0
 * (null: nothing to read), -1 (not a mapping: reported, with what to
 * write instead). */
static int section_map(vctx_t *c, const rm_ynode_t *v, const char *path,
                       const rm_section_t *sec, const char *what_to_do)
{
    if (rm__yaml_is_null(v))
        return 0;
    if (expect_map(c, v, path, what_to_do) != 0)
        return -1;
    check_keys(c, v, path, sec);
    return 1;
}

/* v read as a mapping of section sec (section_map, then read_section);
 * returns what section_map does. */
static int read_map(vctx_t *c, const rm_ynode_t *v, const char *path,
                    const rm_section_t *sec, void *base, const char *what_to_do,
                    const rm_ynode_t **given, read_own_fn own, void *arg)
{
    int rc = section_map(c, v, path, sec, what_to_do);
    if (rc > 0)
        read_section(c, v, path, sec, base, given, own, arg);
    return rc;
}

/* The one setting of a section that is read by hand: its key, its reader
 * (given the object the section fills). */
typedef struct own_key {
    const char *key;
    void (*read)(vctx_t *c, const rm_ynode_t *v, const char *path, void *base);
} own_key_t;

/* A read_own_fn for a section with one such setting (arg: its own_key_t). */
static void read_own_key(vctx_t *c, const rm_field_t *f, const rm_ynode_t *v,
                         const char *path, void *base, void *arg)
{
    const own_key_t *own = arg;
    if (strcmp(f->key, own->key) == 0)
        own->read(c, v, path, base);
}

/* ---- manager ------------------------------------------------------------- */

static void do_backoff(vctx_t *c, const rm_ynode_t *v, const char *path,
                       void *options)
{
    pgcm_options_t *o = options;
    const rm_ynode_t *given[RM_SCHEMA_MAX_KEYS] = {0};
    if (read_map(c, v, path, &rm_schema_backoff, o,
                 "write backoff: { initial: 1s, max: 30s }", given, NULL,
                 NULL) <= 0)
        return;
    const rm_ynode_t *max_at = given[1];
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
    own_key_t backoff = {"backoff", do_backoff};
    read_map(c, v, "manager", &rm_schema_manager, &c->cfg->options,
             "write manager: followed by indented settings such as "
             "health_check_interval: 5s",
             NULL, read_own_key, &backoff);
}

/* ---- node settings ---------------------------------------------------- */

/* Where cross-checked settings were given, for the messages. */
typedef struct marks {
    const rm_ynode_t *min, *max, *ssh;
    char min_path[PATH_MAX_LEN], max_path[PATH_MAX_LEN];
    char ssh_path[PATH_MAX_LEN];
    int min_local, max_local, ssh_local; /* set in this node, not defaults */
} marks_t;

static void do_pool(vctx_t *c, const rm_ynode_t *v, const char *path,
                    pgcm_node_spec_t *spec, marks_t *m)
{
    const rm_ynode_t *given[RM_SCHEMA_MAX_KEYS] = {0};
    if (read_map(c, v, path, &rm_schema_pool, spec,
                 "write pool: { min: 1, max: 10 }", given, NULL, NULL) <= 0)
        return;
    const rm_field_t *min = rm__schema_field(&rm_schema_pool, "min");
    const rm_field_t *max = rm__schema_field(&rm_schema_pool, "max");
    if (given[min - rm_schema_pool.fields] != NULL) {
        m->min = given[min - rm_schema_pool.fields];
        m->min_local = 1;
        join(m->min_path, path, min->key);
    }
    if (given[max - rm_schema_pool.fields] != NULL) {
        m->max = given[max - rm_schema_pool.fields];
        m->max_local = 1;
        join(m->max_path, path, max->key);
    }
}

static void do_ssl(vctx_t *c, const rm_ynode_t *v, const char *path,
                   pgcm_node_spec_t *spec)
{
    pgcm_ssl_options_t *ssl = &spec->ssl;
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
    if (section_map(c, v, path, &rm_schema_ssl,
                    "write ssl: true, or ssl: { enabled: true, ca: FILE }") <=
        0)
        return;
    /* A mapping turns TLS on unless it says enabled: false (as pg does). */
    ssl->enabled = PGCM_SSL_ENABLED;
    read_section(c, v, path, &rm_schema_ssl, spec, NULL, NULL, NULL);
}

static void do_ssh(vctx_t *c, const rm_ynode_t *v, const char *path,
                   pgcm_node_spec_t *spec, marks_t *m)
{
    pgcm_ssh_options_t *ssh = &spec->ssh;
    if (v->kind == RM_Y_SCALAR) {
        int b;
        /* ssh: null / false: no tunnel (overrides defaults:). */
        if (rm__yaml_is_null(v) ||
            (rm__parse_bool(v->text, &b) == 0 && b == 0)) {
            pgcm_node_spec_t fresh;
            pgcm_node_spec_init(&fresh);
            *ssh = fresh.ssh;
            m->ssh = NULL;
            return;
        }
        verr(c, v, path,
             "expected a mapping, found a single value; write ssh: { host: "
             "bastion, user: me, key_path: ~/.ssh/id_ed25519 }, or ssh: "
             "false for no tunnel");
        return;
    }
    if (section_map(c, v, path, &rm_schema_ssh,
                    "write ssh: { host: bastion, user: me, key_path: FILE }") <=
        0)
        return;
    m->ssh = v;
    m->ssh_local = 1;
    snprintf(m->ssh_path, sizeof(m->ssh_path), "%s", path);
    read_section(c, v, path, &rm_schema_ssh, spec, NULL, NULL, NULL);
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

static void read_node_own(vctx_t *c, const rm_field_t *f, const rm_ynode_t *v,
                          const char *path, void *base, void *marks)
{
    pgcm_node_spec_t *spec = base;
    if (f->section == &rm_schema_ssl)
        do_ssl(c, v, path, spec);
    else if (f->section == &rm_schema_ssh)
        do_ssh(c, v, path, spec, marks);
    else if (f->section == &rm_schema_pool)
        do_pool(c, v, path, spec, marks);
    else if (strcmp(f->key, "conninfo") == 0)
        do_conninfo(c, v, path, spec);
}

/* Apply one settings mapping (defaults:, or one node) onto spec. */
static void apply_settings(vctx_t *c, const rm_ynode_t *map, const char *path,
                           pgcm_node_spec_t *spec, marks_t *m, int seq_form)
{
    check_keys(c, map, path, seq_form ? &rm_schema_node_list : &rm_schema_node);
    read_section(c, map, path, &rm_schema_node, spec, NULL, read_node_own, m);
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
    if (expect_list(c, seq, path, "node ids",
                    "write nodes: [primary, replica]") != 0)
        return;
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
            no_such_name(c, item, p, refs, "unknown node ", "", s,
                         "define it under nodes: or remove it from the "
                         "cluster");
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
            check_keys(c, val, p, &rm_schema_cluster);
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

/* One threshold, { warning: VALUE, critical: VALUE } (the fields of pair,
 * in that order): critical must be at least warning. */
static void threshold_pair(vctx_t *c, const rm_field_t *pair_field,
                           const rm_ynode_t *v, const char *path, void *base,
                           void *arg)
{
    (void)arg;
    const rm_section_t *pair = pair_field->section;
    const rm_ynode_t *given[RM_SCHEMA_MAX_KEYS] = {0};
    if (read_map(c, v, path, pair, base,
                 "write { warning: VALUE, critical: VALUE }", given, NULL,
                 NULL) <= 0)
        return;
    const rm_field_t *warn = &pair->fields[0], *crit = &pair->fields[1];
    const rm_ynode_t *warn_at = given[0], *crit_at = given[1];
    int bad;
    char msg[128];
    if (warn->type == RM_F_NUMBER) {
        double w = *AT(base, warn, double), cr = *AT(base, crit, double);
        bad = w > cr && cr > 0; /* 0 switches the check off */
        snprintf(msg, sizeof(msg), "critical (%g) is below warning (%g)", cr,
                 w);
    } else {
        int64_t w = *AT(base, warn, int64_t), cr = *AT(base, crit, int64_t);
        const char *unit = warn->type == RM_F_DURATION64 ? "ms" : " bytes";
        bad = w > cr && cr > 0; /* 0 switches the check off */
        snprintf(msg, sizeof(msg),
                 "critical (%lld%s) is below warning (%lld%s)", (long long)cr,
                 unit, (long long)w, unit);
    }
    if (bad) {
        const rm_ynode_t *at = crit_at ? crit_at : warn_at ? warn_at : v;
        char p[PATH_MAX_LEN];
        join(p, path, crit_at ? crit->key : warn->key);
        verr(c, at, p, "%s; make critical at least warning", msg);
    }
}

static void do_thresholds(vctx_t *c, const rm_ynode_t *v)
{
    read_map(c, v, "thresholds", &rm_schema_thresholds, &c->cfg->thresholds,
             "write thresholds: { replication_lag: { warning: 10s, "
             "critical: 1m } }",
             NULL, threshold_pair, NULL);
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

/* The dashboard's themes and colour roles (those of the original replmon). */
static const char *const theme_names[] = {"dark", "light"};
static const char *const theme_roles[] = {"background", "foreground", "primary",
                                          "secondary",  "success",    "warning",
                                          "critical",   "muted"};

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
    for (size_t i = 0; i < NKEYS(theme_names); i++) {
        if (strcmp(name, theme_names[i]) == 0) {
            c->cfg->theme.name = theme_names[i];
            return;
        }
    }
    /* The original replmon falls back to dark with a warning: its files
     * must load unchanged. */
    vwarn(c, v, path,
          "%s is not a theme; dark is used (the themes are dark "
          "and light)",
          val_shown(v, 0, b, sizeof(b)));
    c->cfg->theme.name = "dark";
}

static int theme_role_ok(const char *role)
{
    for (size_t i = 0; i < NKEYS(theme_roles); i++) {
        if (strcmp(role, theme_roles[i]) == 0)
            return 1;
    }
    return 0;
}

static void do_theme(vctx_t *c, const rm_ynode_t *v)
{
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
    check_keys(c, v, path, &rm_schema_theme);
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
                if (!theme_role_ok(ck->text)) {
                    const char *near =
                        rm__suggest(ck->text, theme_roles, NKEYS(theme_roles));
                    char b[128];
                    verr(c, ck, cp,
                         "'%s' is not a colour role; %s%s%sthe roles are "
                         "background, foreground, primary, secondary, "
                         "success, warning, critical and muted",
                         shown(ck->text, b, sizeof(b)),
                         near ? "did you mean " : "", near ? near : "",
                         near ? "? " : "");
                    continue;
                }
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

/* serve.listen: an ADDR:PORT to listen on. */
static void serve_listen(vctx_t *c, const rm_ynode_t *val, const char *p,
                         void *settings)
{
    rm_serve_settings_t *serve = settings;
    const char *s = NULL, *why;
    char host[256], b[128];
    int port;
    if (get_str(c, val, p, &s, 0, 0) != 0 || s == NULL)
        return;
    if (rm_config_parse_listen(s, host, sizeof(host), &port, &why) != 0) {
        verr(c, val, p, "%s: %s", val_shown(val, 0, b, sizeof(b)), why);
        return;
    }
    serve->listen = s;
}

static void do_serve(vctx_t *c, const rm_ynode_t *v)
{
    own_key_t listen = {"listen", serve_listen};
    read_map(c, v, "serve", &rm_schema_serve, &c->cfg->serve,
             "write serve: { listen: 127.0.0.1:9187, interval: 5s }", NULL,
             read_own_key, &listen);
}

/* event_log.node: one of the nodes (the one holding connection_logs). */
static void event_log_node(vctx_t *c, const rm_ynode_t *val, const char *p,
                           void *settings)
{
    rm_event_log_settings_t *log = settings;
    const char *s = NULL;
    if (get_str(c, val, p, &s, 0, 0) != 0 || s == NULL)
        return;
    if (rm_config_find_node(c->cfg, s) != NULL) {
        log->node = s;
        return;
    }
    const char **ids = calloc(c->cfg->node_count + 1, sizeof(*ids));
    const char *near = NULL;
    if (ids != NULL) {
        for (size_t j = 0; j < c->cfg->node_count; j++)
            ids[j] = c->cfg->nodes[j].id;
        near = rm__suggest(s, ids, c->cfg->node_count);
    }
    no_such_name(c, val, p, 0, "", " is not a node of nodes:", near,
                 "name the node that holds the connection_logs table");
    free(ids);
}

static void do_event_log(vctx_t *c, const rm_ynode_t *v)
{
    own_key_t node = {"node", event_log_node};
    read_map(c, v, "event_log", &rm_schema_event_log, &c->cfg->event_log,
             "write event_log: { node: ID } naming the node that "
             "holds the connection_logs table",
             NULL, read_own_key, &node);
}

/* ---- skip_sections ------------------------------------------------------- */

const rm__skip_name_t rm__skip_names[RM__SKIP_NAME_COUNT] = {
    {"slots", RM_SKIP_SLOTS},
    {"subscriptions", RM_SKIP_SUBSCRIPTIONS},
    {"standbys", RM_SKIP_STANDBYS},
    {"receiver", RM_SKIP_RECEIVER}};
#define skip_names rm__skip_names

static void do_skip_sections(vctx_t *c, const rm_ynode_t *v)
{
    const char *path = "skip_sections";
    if (rm__yaml_is_null(v))
        return;
    if (expect_list(c, v, path, "section names",
                    "write skip_sections: [standbys, receiver]") != 0)
        return;
    const char *names[NKEYS(skip_names)];
    for (size_t i = 0; i < NKEYS(skip_names); i++)
        names[i] = skip_names[i].name;
    for (size_t i = 0; i < v->nitems; i++) {
        const rm_ynode_t *item = v->items[i];
        char p[PATH_MAX_LEN];
        snprintf(p, sizeof(p), "%s[%zu]", path, i);
        char *name;
        int refs = 0;
        int rc = scalar_text(c, item, p, "a section name", &name, &refs);
        if (rc <= 0) {
            if (rc == 0)
                verr(c, item, p,
                     "an empty section name; write one of slots, "
                     "subscriptions, standbys, receiver");
            continue;
        }
        unsigned bit = 0;
        for (size_t j = 0; j < NKEYS(skip_names); j++)
            if (strcmp(name, skip_names[j].name) == 0)
                bit = skip_names[j].bit;
        if (bit == 0) {
            const char *s = rm__suggest(name, names, NKEYS(names));
            no_such_name(c, item, p, refs, "unknown section ", "", s,
                         "the sections are slots, subscriptions, standbys, "
                         "receiver");
        }
        c->cfg->skip_sections |= bit;
        free(name);
    }
}

/* ---- root ------------------------------------------------------------------
 */

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
    c.allow_x_keys = 1;
    check_keys(&c, root, "", &rm_schema_root);
    c.allow_x_keys = 0;

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
    if ((v = find_key(root, "skip_sections")) != NULL)
        do_skip_sections(&c, v);
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
