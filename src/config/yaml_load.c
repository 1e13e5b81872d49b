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

static int contains(const char *data, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++) {
        if (memcmp(data + i, needle, n) == 0)
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
 * (out of memory). When the text cannot be protected safely (UTF-16, or it
 * already holds the placeholder characters) it is copied unchanged. */
static char *protect_braces(const char *data, size_t len, size_t *out_len)
{
    int skip =
        (len >= 2 &&
         (((unsigned char)data[0] == 0xFE && (unsigned char)data[1] == 0xFF) ||
          ((unsigned char)data[0] == 0xFF &&
           (unsigned char)data[1] == 0xFE))) ||
        contains(data, len, PH_OPEN) || contains(data, len, PH_CLOSE);
    char *out = malloc(len * 3 + 1);
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
        if (data[i] == '$' && data[i + 1] == '{' && !mark[i + 1]) {
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
    size_t o = 0;
    for (size_t i = 0; i < *len; i++) {
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

/* ---- tree ---------------------------------------------------------------- */

void rm__yaml_free(rm_ydoc_t *doc)
{
    if (doc == NULL)
        return;
    rm_ynode_t *n = doc->all;
    while (n != NULL) {
        rm_ynode_t *next = n->next;
        free(n->text);
        free(n->pairs);
        free(n->items);
        free(n);
        n = next;
    }
    doc->all = NULL;
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
    const char *file;
    rm_diags_t *d;
    int oom;
} loader_t;

static rm_ynode_t *new_node(loader_t *l, rm_ykind_t kind, yaml_mark_t mark)
{
    rm_ynode_t *n = calloc(1, sizeof(*n));
    if (n == NULL) {
        l->oom = 1;
        return NULL;
    }
    n->kind = kind;
    n->line = (int)mark.line + 1;
    n->column = (int)mark.column + 1;
    n->next = l->doc->all;
    l->doc->all = n;
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
    l->nanchors++;
    return 0;
}

static rm_ynode_t *find_anchor(loader_t *l, const yaml_char_t *name)
{
    for (size_t i = l->nanchors; i > 0; i--) {
        if (strcmp(l->anchors[i - 1].name, (const char *)name) == 0)
            return l->anchors[i - 1].node;
    }
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

static int is_merge_key(const rm_ynode_t *k)
{
    return k->kind == RM_Y_SCALAR && k->plain && k->len == 2 &&
           memcmp(k->text, "<<", 2) == 0;
}

static int same_key(const rm_ynode_t *a, const rm_ynode_t *b)
{
    return a->kind == RM_Y_SCALAR && b->kind == RM_Y_SCALAR &&
           a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
}

static int has_key(const rm_ypair_t *pairs, size_t n, const rm_ynode_t *k)
{
    for (size_t i = 0; i < n; i++) {
        if (same_key(pairs[i].key, k))
            return 1;
    }
    return 0;
}

/*
 * Resolve YAML merge keys, as js-yaml (which the original tool's users
 * wrote for) does: "<<: *a" or "<<: [*a, *b]" inserts, where the "<<"
 * stands, the pairs of those mappings whose keys the mapping does not
 * give itself (earlier sources win). Nodes are handled oldest first, so a
 * source (always complete, thus older) is already resolved.
 */
static int flatten_merges(rm_ydoc_t *doc, const char *file, rm_diags_t *d)
{
    size_t n = 0;
    for (rm_ynode_t *x = doc->all; x != NULL; x = x->next)
        n++;
    rm_ynode_t **order = malloc((n ? n : 1) * sizeof(*order));
    if (order == NULL)
        return -2;
    size_t k = n;
    for (rm_ynode_t *x = doc->all; x != NULL; x = x->next)
        order[--k] = x;
    size_t total = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rm_ynode_t *m = order[i];
        if (m->kind != RM_Y_MAP)
            continue;
        int merges = 0;
        for (size_t j = 0; j < m->npairs; j++)
            merges |= is_merge_key(m->pairs[j].key);
        if (!merges)
            continue;
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
                    if (has_key(m->pairs, m->npairs, sp.key) ||
                        has_key(out, nout, sp.key))
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
        if (rc != 0) {
            free(out);
            break;
        }
        free(m->pairs);
        m->pairs = out;
        m->npairs = nout;
        m->cap = cap;
    }
    free(order);
    return rc;
}

int rm__yaml_load(const char *data, size_t len, const char *file,
                  rm_ydoc_t *doc, rm_diags_t *d)
{
    memset(doc, 0, sizeof(*doc));
    size_t plen = 0;
    char *buf = protect_braces(data, len, &plen);
    if (buf == NULL)
        return -2;

    loader_t l;
    memset(&l, 0, sizeof(l));
    l.doc = doc;
    l.file = file;
    l.d = d;

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        free(buf);
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
            n->text = malloc(n->len + 1);
            if (n->text == NULL) {
                l.oom = 1;
                break;
            }
            memcpy(n->text, ev.data.scalar.value, n->len);
            n->text[n->len] = '\0';
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
    free(buf);
    if (rc == 0)
        rc = flatten_merges(doc, file, d);
    if (rc != 0)
        rm__yaml_free(doc);
    return rc;
}
