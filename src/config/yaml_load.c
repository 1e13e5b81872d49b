/* SPDX-License-Identifier: MIT */
/*
 * yaml_load.c - YAML text to a small tree with 1-based line:column marks,
 * using libyaml's event parser (no recursion, so deep nesting cannot
 * overflow the stack; depth is capped). Anchors and aliases are resolved
 * (an alias shares the anchored node; a node aliasing itself is refused).
 * YAML syntax errors become diagnostics with libyaml's problem and mark.
 *
 * `${VAR}` in flow context: YAML forbids '{' and '}' inside plain scalars
 * of flow collections, yet replmon users write
 *     primary: { host: db1, password: ${PG_PASSWORD} }
 * Before parsing, the braces of every `${...}` (and `$${`) are replaced by
 * private-use characters U+E000 and U+E001, one character each so that
 * libyaml's marks (which count characters) stay true, and every scalar
 * gets its braces back after parsing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config_internal.h"

#define PH_OPEN  "\xEE\x80\x80" /* U+E000 stands for '{' */
#define PH_CLOSE "\xEE\x80\x81" /* U+E001 stands for '}' */

/* ---- brace protection -------------------------------------------------- */

/* Whether data holds byte `first` followed by `second`, and then (when
 * third is not 0) by third or third + 1: "${", or the placeholders. */
static int contains(const char *data, size_t len, unsigned char first,
                    unsigned char second, unsigned char third)
{
    const char *end = data + len;
    for (const char *p = data; (p = memchr(p, first, (size_t)(end - p))); p++) {
        if (end - p < (third ? 3 : 2) || (unsigned char)p[1] != second)
            continue;
        if (third == 0 || (unsigned char)p[2] == third ||
            (unsigned char)p[2] == third + 1)
            return 1;
    }
    return 0;
}

static int ref_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int ref_name_char(char c)
{
    return ref_name_start(c) || (c >= '0' && c <= '9');
}

/*
 * data[at] is the '{' of "${". When a well-formed reference follows on
 * the same line (${NAME}, ${NAME:-default}, ${NAME-default}, defaults
 * holding references), mark its braces (and those nested in its default)
 * in mark[] and return the index of its '}'; else return 0 (marks of
 * nested references already made are harmless: they are balanced). Anything
 * else is left for YAML and for the interpolation to report. depth bounds the
 * recursion.
 */
static size_t match_ref(const char *data, size_t len, size_t at,
                        unsigned char *mark, int depth)
{
    size_t j = at + 1;
    if (depth > 16 || j >= len || !ref_name_start(data[j]))
        return 0;
    while (j < len && ref_name_char(data[j]))
        j++;
    if (j < len && data[j] == '}')
        goto found;
    if (j + 1 < len && data[j] == ':' && data[j + 1] == '-')
        j += 2;
    else if (j < len && data[j] == '-')
        j += 1;
    else
        return 0;
    while (j < len && data[j] != '\n' && data[j] != '\r') {
        if (j - at > 4096)
            return 0; /* bounds the work on hostile input */
        if (data[j] == '}')
            goto found;
        if (data[j] == '$' && j + 1 < len && data[j + 1] == '{') {
            size_t end = match_ref(data, len, j + 1, mark, depth + 1);
            if (end == 0)
                return 0;
            j = end + 1;
            continue;
        }
        j++;
    }
    return 0;
found:
    mark[at] = 1;
    mark[j] = 2;
    return j;
}

/* A copy of data with the braces of ${...} references replaced, or NULL
 * (out of memory). When the text has no reference or cannot be protected
 * safely (UTF-16, or it already holds the placeholder characters) it is
 * copied unchanged and *changed is 0. */
static char *protect_braces(const char *data, size_t len, size_t *out_len,
                            int *changed)
{
    int skip =
        (len >= 2 &&
         (((unsigned char)data[0] == 0xFE && (unsigned char)data[1] == 0xFF) ||
          ((unsigned char)data[0] == 0xFF &&
           (unsigned char)data[1] == 0xFE))) ||
        /* U+E000 or U+E001 already there */
        contains(data, len, 0xEE, 0x80, 0x80) ||
        !contains(data, len, '$', '{', 0);
    *changed = !skip;
    char *out = malloc((skip ? len : len * 3) + 1);
    unsigned char *mark = skip ? NULL : calloc(len + 1, 1);
    if (out == NULL || (!skip && mark == NULL)) {
        free(out);
        free(mark);
        return NULL;
    }
    if (skip) {
        memcpy(out, data, len);
        *out_len = len;
        out[len] = '\0';
        return out;
    }
    for (size_t i = 0; i + 1 < len; i++) {
        const char *dollar = memchr(data + i, '$', len - 1 - i);
        if (dollar == NULL)
            break;
        i = (size_t)(dollar - data);
        if (data[i + 1] == '{' && !mark[i + 1]) {
            size_t end = match_ref(data, len, i + 1, mark, 0);
            if (end != 0)
                i = end;
        }
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (mark[i] == 1) {
            memcpy(out + o, PH_OPEN, 3);
            o += 3;
        } else if (mark[i] == 2) {
            memcpy(out + o, PH_CLOSE, 3);
            o += 3;
        } else {
            out[o++] = data[i];
        }
    }
    free(mark);
    out[o] = '\0';
    *out_len = o;
    return out;
}

/* Put the braces back, in place. */
static void restore_braces(char *s, size_t *len)
{
    const char *first = memchr(s, 0xEE, *len);
    if (first == NULL)
        return;
    size_t o = (size_t)(first - s);
    for (size_t i = o; i < *len; i++) {
        if (i + 2 < *len && (unsigned char)s[i] == 0xEE &&
            (unsigned char)s[i + 1] == 0x80 &&
            ((unsigned char)s[i + 2] == 0x80 ||
             (unsigned char)s[i + 2] == 0x81)) {
            s[o++] = (unsigned char)s[i + 2] == 0x80 ? '{' : '}';
            i += 2;
        } else {
            s[o++] = s[i];
        }
    }
    s[o] = '\0';
    *len = o;
}

/* ---- arena ------------------------------------------------------------- */

/* Nodes are carved out of large blocks and their texts out of a byte
 * arena: a big file has millions of them, and one allocation each (and a
 * list to free them by) cost more than the parsing. */
#define ARENA_NODES 1024 /* nodes per block */

typedef struct node_block {
    struct node_block *next;
    size_t used;
    rm_ynode_t nodes[ARENA_NODES];
} node_block_t;

struct rm_yarena {
    node_block_t *nodes; /* newest first */
    rm_arena_t texts;
};

static rm_ynode_t *arena_node(rm_yarena_t *a)
{
    node_block_t *b = a->nodes;
    if (b == NULL || b->used == ARENA_NODES) {
        b = malloc(sizeof(*b));
        if (b == NULL)
            return NULL;
        b->used = 0;
        b->next = a->nodes;
        a->nodes = b;
    }
    rm_ynode_t *n = &b->nodes[b->used++];
    memset(n, 0, sizeof(*n));
    return n;
}

/* ---- tree ---------------------------------------------------------------- */

void rm__yaml_free(rm_ydoc_t *doc)
{
    if (doc == NULL || doc->arena == NULL)
        return;
    rm_yarena_t *a = doc->arena;
    for (node_block_t *b = a->nodes, *next; b != NULL; b = next) {
        next = b->next;
        for (size_t i = 0; i < b->used; i++) {
            if (b->nodes[i].kind == RM_Y_MAP)
                free(b->nodes[i].pairs);
            else if (b->nodes[i].kind == RM_Y_SEQ)
                free(b->nodes[i].items);
        }
        free(b);
    }
    rm__arena_free(&a->texts); /* wiped: values may be passwords */
    free(a);
    doc->arena = NULL;
    doc->root = NULL;
}

int rm__yaml_is_null(const rm_ynode_t *n)
{
    if (n == NULL)
        return 1;
    if (n->kind != RM_Y_SCALAR || !n->plain)
        return 0;
    return n->len == 0 || strcmp(n->text, "~") == 0 ||
           strcmp(n->text, "null") == 0 || strcmp(n->text, "Null") == 0 ||
           strcmp(n->text, "NULL") == 0;
}

const char *rm__yaml_kind_name(const rm_ynode_t *n)
{
    if (n == NULL)
        return "nothing";
    switch (n->kind) {
    case RM_Y_MAP:
        return "a mapping";
    case RM_Y_SEQ:
        return "a list";
    default:
        return "a single value";
    }
}

typedef struct frame {
    rm_ynode_t *node;
    rm_ynode_t *pending_key; /* MAP: key waiting for its value */
    rm_ynode_t *last_key;    /* MAP: key of the latest value */
} frame_t;

typedef struct anchor {
    char *name;
    rm_ynode_t *node;
} anchor_t;

typedef struct loader {
    rm_ydoc_t *doc;
    frame_t stack[RM_YAML_MAX_DEPTH + 1];
    size_t depth;
    anchor_t *anchors;
    size_t nanchors, capanchors;
    rm_index_t anchor_index; /* name -> the latest anchor of that name */
    rm_ynode_t **merge_maps; /* mappings holding <<, in the order met */
    size_t nmerge_maps, capmerge_maps;
    const char *file;
    rm_diags_t *d;
    int oom;
} loader_t;

static rm_ynode_t *new_node(loader_t *l, rm_ykind_t kind, yaml_mark_t mark)
{
    rm_ynode_t *n = arena_node(l->doc->arena);
    if (n == NULL) {
        l->oom = 1;
        return NULL;
    }
    n->kind = kind;
    n->line = (int)mark.line + 1;
    n->column = (int)mark.column + 1;
    return n;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 4;
    while (c < need)
        c *= 2;
    void *p = realloc(*arr, c * elem);
    if (p == NULL)
        return -1;
    *arr = p;
    *cap = c;
    return 0;
}

static int is_merge_key(const rm_ynode_t *k)
{
    return k->kind == RM_Y_SCALAR && k->plain && k->len == 2 &&
           memcmp(k->text, "<<", 2) == 0;
}

/* Attach n to the open collection (or make it the root). */
static int attach(loader_t *l, rm_ynode_t *n)
{
    if (l->depth == 0) {
        if (l->doc->root == NULL)
            l->doc->root = n;
        return 0;
    }
    frame_t *f = &l->stack[l->depth - 1];
    rm_ynode_t *p = f->node;
    if (p->kind == RM_Y_SEQ) {
        if (grow((void **)&p->items, &p->cap, p->nitems + 1,
                 sizeof(*p->items)) != 0)
            return -1;
        p->items[p->nitems++] = n;
        return 0;
    }
    if (f->pending_key == NULL) {
        f->pending_key = n;
        return 0;
    }
    if (grow((void **)&p->pairs, &p->cap, p->npairs + 1, sizeof(*p->pairs)) !=
        0)
        return -1;
    p->pairs[p->npairs].key = f->pending_key;
    p->pairs[p->npairs].value = n;
    p->npairs++;
    if (!p->merges && is_merge_key(f->pending_key)) {
        /* A source is complete before it is aliased, so its own merges
         * are met (and resolved) before those of the mappings using it. */
        if (grow((void **)&l->merge_maps, &l->capmerge_maps, l->nmerge_maps + 1,
                 sizeof(*l->merge_maps)) != 0)
            return -1;
        p->merges = 1;
        l->merge_maps[l->nmerge_maps++] = p;
    }
    f->last_key = f->pending_key;
    f->pending_key = NULL;
    return 0;
}

static int add_anchor(loader_t *l, const yaml_char_t *name, rm_ynode_t *n)
{
    if (name == NULL)
        return 0;
    if (grow((void **)&l->anchors, &l->capanchors, l->nanchors + 1,
             sizeof(*l->anchors)) != 0)
        return -1;
    char *copy = strdup((const char *)name);
    if (copy == NULL)
        return -1;
    l->anchors[l->nanchors].name = copy;
    l->anchors[l->nanchors].node = n;
    if (rm__index_set(&l->anchor_index, copy, strlen(copy), l->nanchors) != 0) {
        free(copy);
        return -1;
    }
    l->nanchors++;
    return 0;
}

/* The node of the latest anchor called name (YAML lets an anchor be
 * redefined), or NULL. */
static rm_ynode_t *find_anchor(loader_t *l, const yaml_char_t *name)
{
    size_t i;
    if (rm__index_get(&l->anchor_index, (const char *)name,
                      strlen((const char *)name), &i) == 1)
        return l->anchors[i].node;
    return NULL;
}

/* The key path of the open collections, for syntax errors. */
static void stack_path(const loader_t *l, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < l->depth && o + 1 < size; i++) {
        const frame_t *f = &l->stack[i];
        int n = 0;
        if (f->node->kind == RM_Y_SEQ) {
            size_t idx = f->node->nitems;
            if (i + 1 < l->depth && idx > 0)
                idx--; /* the open item */
            n = snprintf(buf + o, size - o, "[%zu]", idx);
        } else {
            /* Outer maps: the key whose value is open; the innermost: a
             * key still waiting for its value. */
            const rm_ynode_t *k =
                i + 1 < l->depth ? f->last_key : f->pending_key;
            if (i + 1 < l->depth && f->pending_key != NULL)
                k = f->pending_key; /* a complex key being parsed */
            if (k != NULL && k->kind == RM_Y_SCALAR)
                n = snprintf(buf + o, size - o, "%s%.60s", o ? "." : "",
                             k->text);
        }
        if (n < 0)
            break;
        o += (size_t)n;
        if (o >= size)
            o = size - 1;
    }
    /* Keys may hold anything: keep the line printable. */
    for (char *p = buf; *p; p++) {
        if ((unsigned char)*p < 0x20)
            *p = '?';
    }
}

/* Line:column of a byte offset (reader errors carry no mark). */
static void offset_mark(const char *buf, size_t len, size_t off, int *line,
                        int *col)
{
    int ln = 1, c = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        unsigned char ch = (unsigned char)buf[i];
        if (ch == '\n') {
            ln++;
            c = 1;
        } else if ((ch & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = ln;
    *col = c;
}

static void report_parser_error(loader_t *l, yaml_parser_t *p, const char *buf,
                                size_t len)
{
    char path[256];
    stack_path(l, path, sizeof(path));
    const char *problem = p->problem ? p->problem : "unknown problem";
    if (p->error == YAML_READER_ERROR) {
        int line, col;
        offset_mark(buf, len, p->problem_offset, &line, &col);
        rm__diag_add(l->d, RM_DIAG_ERROR, l->file, line, col, path,
                     "cannot read the text: %s; save the file as UTF-8 "
                     "without control characters",
                     problem);
        return;
    }
    int line = (int)p->problem_mark.line + 1;
    int col = (int)p->problem_mark.column + 1;
    if (p->context != NULL) {
        rm__diag_add(l->d, RM_DIAG_ERROR, l->file, line, col, path,
                     "YAML syntax error: %s (%s at %d:%d); check "
                     "indentation (spaces, not tabs), quotes and brackets",
                     problem, p->context, (int)p->context_mark.line + 1,
                     (int)p->context_mark.column + 1);
    } else {
        rm__diag_add(l->d, RM_DIAG_ERROR, l->file, line, col, path,
                     "YAML syntax error: %s; check indentation (spaces, "
                     "not tabs), quotes and brackets",
                     problem);
    }
}

/* ---- merge keys ("<<: *base") ---------------------------------------- */

#define MERGE_MAX_KEYS  5000    /* keys of one map built by merging */
#define MERGE_MAX_TOTAL 100000u /* merged pairs in a whole document */

/* Add the scalar key k to the keys of a mapping being merged. Returns 1
 * when it is there already, 0 when added (or not a scalar: such keys never
 * match), -1 out of memory. */
static int note_key(rm_index_t *keys, const rm_ynode_t *k)
{
    if (k->kind != RM_Y_SCALAR)
        return 0;
    return rm__index_add(keys, k->text, k->len, 0, NULL);
}

/*
 * Resolve YAML merge keys, as js-yaml (which the original tool's users
 * wrote for) does: "<<: *a" or "<<: [*a, *b]" inserts, where the "<<"
 * stands, the pairs of those mappings whose keys the mapping does not
 * give itself (earlier sources win). maps[0..n) are the mappings holding
 * a merge key, each source before the mappings that use it, so a source
 * is already resolved when it is merged.
 */
static int flatten_merges(rm_ynode_t *const *maps, size_t n, const char *file,
                          rm_diags_t *d)
{
    size_t total = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rm_ynode_t *m = maps[i];
        /* Every key the mapping has so far: its own, then those merged. */
        rm_index_t keys = {0};
        for (size_t j = 0; j < m->npairs && rc == 0; j++) {
            if (note_key(&keys, m->pairs[j].key) < 0)
                rc = -2;
        }
        rm_ypair_t *out = NULL;
        size_t nout = 0, cap = 0;
        for (size_t j = 0; j < m->npairs && rc == 0; j++) {
            rm_ypair_t pj = m->pairs[j];
            if (!is_merge_key(pj.key)) {
                if (grow((void **)&out, &cap, nout + 1, sizeof(*out)) != 0) {
                    rc = -2;
                    break;
                }
                out[nout++] = pj;
                continue;
            }
            rm_ynode_t *v = pj.value;
            size_t nsrc = v->kind == RM_Y_SEQ ? v->nitems : 1;
            for (size_t s = 0; s < nsrc && rc == 0; s++) {
                rm_ynode_t *src = v->kind == RM_Y_SEQ ? v->items[s] : v;
                if (src->kind != RM_Y_MAP) {
                    rm__diag_add(d, RM_DIAG_ERROR, file, src->line, src->column,
                                 "<<",
                                 "a merge key needs a mapping or a list of "
                                 "mappings, found %s; write <<: *anchor",
                                 rm__yaml_kind_name(src));
                    rc = -1;
                    break;
                }
                for (size_t q = 0; q < src->npairs; q++) {
                    rm_ypair_t sp = src->pairs[q];
                    int known = note_key(&keys, sp.key);
                    if (known < 0) {
                        rc = -2;
                        break;
                    }
                    if (known)
                        continue;
                    if (nout >= MERGE_MAX_KEYS || ++total > MERGE_MAX_TOTAL) {
                        rm__diag_add(d, RM_DIAG_ERROR, file, m->line, m->column,
                                     "",
                                     "merge keys (<<) produce too many keys; "
                                     "simplify the anchors");
                        rc = -1;
                        break;
                    }
                    if (grow((void **)&out, &cap, nout + 1, sizeof(*out)) !=
                        0) {
                        rc = -2;
                        break;
                    }
                    out[nout++] = sp;
                }
            }
        }
        rm__index_free(&keys);
        if (rc != 0) {
            free(out);
            break;
        }
        free(m->pairs);
        m->pairs = out;
        m->npairs = nout;
        m->cap = cap;
    }
    return rc;
}

int rm__yaml_load(const char *data, size_t len, const char *file,
                  rm_ydoc_t *doc, rm_diags_t *d)
{
    memset(doc, 0, sizeof(*doc));
    doc->arena = calloc(1, sizeof(*doc->arena));
    if (doc->arena == NULL)
        return -2;
    size_t plen = 0;
    int protected = 0;
    char *buf = protect_braces(data, len, &plen, &protected);
    if (buf == NULL) {
        rm__yaml_free(doc);
        return -2;
    }

    loader_t l;
    memset(&l, 0, sizeof(l));
    l.doc = doc;
    l.file = file;
    l.d = d;

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        free(buf);
        rm__yaml_free(doc);
        return -2;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, plen);

    int rc = 0;
    int documents = 0;
    int done = 0;
    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            if (parser.error == YAML_MEMORY_ERROR) {
                rc = -2;
            } else {
                report_parser_error(&l, &parser, buf, plen);
                rc = -1;
            }
            break;
        }
        rm_ynode_t *n = NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            documents++;
            if (documents > 1) {
                rm__diag_add(d, RM_DIAG_ERROR, file,
                             (int)ev.start_mark.line + 1,
                             (int)ev.start_mark.column + 1, "",
                             "a second YAML document; a configuration is one "
                             "document: remove the '---' and what follows, "
                             "or merge it into the first");
                rc = -1;
                done = 1;
            }
            break;
        case YAML_SCALAR_EVENT:
            n = new_node(&l, RM_Y_SCALAR, ev.start_mark);
            if (n == NULL)
                break;
            n->len = ev.data.scalar.length;
            n->text = rm__arena_alloc(&doc->arena->texts, n->len + 1);
            if (n->text == NULL) {
                l.oom = 1;
                break;
            }
            memcpy(n->text, ev.data.scalar.value, n->len);
            n->text[n->len] = '\0';
            if (protected)
                restore_braces(n->text, &n->len);
            n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
            n->complete = 1;
            if (attach(&l, n) != 0 ||
                add_anchor(&l, ev.data.scalar.anchor, n) != 0)
                l.oom = 1;
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (l.depth >= RM_YAML_MAX_DEPTH) {
                char path[256];
                stack_path(&l, path, sizeof(path));
                rm__diag_add(d, RM_DIAG_ERROR, file,
                             (int)ev.start_mark.line + 1,
                             (int)ev.start_mark.column + 1, path,
                             "nested more than %d levels deep; a replmon "
                             "configuration needs at most 4",
                             RM_YAML_MAX_DEPTH);
                rc = -1;
                done = 1;
                break;
            }
            n = new_node(
                &l, ev.type == YAML_SEQUENCE_START_EVENT ? RM_Y_SEQ : RM_Y_MAP,
                ev.start_mark);
            if (n == NULL)
                break;
            if (attach(&l, n) != 0 ||
                add_anchor(&l,
                           ev.type == YAML_SEQUENCE_START_EVENT
                               ? ev.data.sequence_start.anchor
                               : ev.data.mapping_start.anchor,
                           n) != 0) {
                l.oom = 1;
                break;
            }
            l.stack[l.depth].node = n;
            l.stack[l.depth].pending_key = NULL;
            l.stack[l.depth].last_key = NULL;
            l.depth++;
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (l.depth > 0) {
                l.stack[l.depth - 1].node->complete = 1;
                l.depth--;
            }
            break;
        case YAML_ALIAS_EVENT: {
            rm_ynode_t *target = find_anchor(&l, ev.data.alias.anchor);
            char path[256];
            if (target == NULL || !target->complete)
                stack_path(&l, path, sizeof(path));
            if (target == NULL) {
                rm__diag_add(d, RM_DIAG_ERROR, file,
                             (int)ev.start_mark.line + 1,
                             (int)ev.start_mark.column + 1, path,
                             "alias '*%.60s' names no anchor; define "
                             "'&%.60s' before using it",
                             (const char *)ev.data.alias.anchor,
                             (const char *)ev.data.alias.anchor);
                rc = -1;
                done = 1;
            } else if (!target->complete) {
                rm__diag_add(d, RM_DIAG_ERROR, file,
                             (int)ev.start_mark.line + 1,
                             (int)ev.start_mark.column + 1, path,
                             "alias '*%.60s' is used inside its own anchor; "
                             "remove the cycle",
                             (const char *)ev.data.alias.anchor);
                rc = -1;
                done = 1;
            } else if (attach(&l, target) != 0) {
                l.oom = 1;
            }
            break;
        }
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (l.oom) {
            rc = -2;
            break;
        }
    }
    yaml_parser_delete(&parser);
    for (size_t i = 0; i < l.nanchors; i++)
        free(l.anchors[i].name);
    free(l.anchors);
    rm__index_free(&l.anchor_index);
    explicit_bzero(buf, plen);
    free(buf);
    if (rc == 0)
        rc = flatten_merges(l.merge_maps, l.nmerge_maps, file, d);
    free(l.merge_maps);
    if (rc != 0)
        rm__yaml_free(doc);
    return rc;
}
