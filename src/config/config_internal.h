/* SPDX-License-Identifier: MIT */
/*
 * config_internal.h - private declarations shared by the files of the replmon
 * configuration library: the YAML tree, the string arena, diagnostics
 * helpers, interpolation, units and suggestions. Prefix rm__ for non-static
 * functions that are not part of config.h.
 */
#ifndef REPLMON_CONFIG_INTERNAL_H
#define REPLMON_CONFIG_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* At most this many errors are kept per load; one more says "too many". */
#define RM_DIAGS_MAX_ERRORS 100
/* Deepest YAML nesting accepted (the schema needs 4). */
#define RM_YAML_MAX_DEPTH 64
/* Largest configuration file read. */
#define RM_CONFIG_MAX_FILE (16u * 1024u * 1024u)
/* Node ids and cluster names: like pgcm's PGCM_ID_MAX. */
#define RM_ID_MAX 63

/* ---- YAML tree (yaml_load.c) ----------------------------------------- */

typedef enum rm_ykind {
    RM_Y_SCALAR = 0,
    RM_Y_MAP = 1,
    RM_Y_SEQ = 2
} rm_ykind_t;

typedef struct rm_ynode rm_ynode_t;

typedef struct rm_ypair {
    rm_ynode_t *key;
    rm_ynode_t *value;
} rm_ypair_t;

/*
 * One node of the document. Aliases (*name) point to the anchored node, so
 * a node may be shared by several parents; the tree is freed through the
 * document's arena, never by walking it.
 */
struct rm_ynode {
    rm_ykind_t kind;
    int line;   /* 1-based start mark */
    int column; /* 1-based */
    /* RM_Y_SCALAR */
    char *text; /* NUL-terminated; may hold NUL bytes before len */
    size_t len;
    int plain; /* plain style (unquoted): "", ~ and null mean no value */
    /* RM_Y_MAP */
    rm_ypair_t *pairs;
    size_t npairs;
    /* RM_Y_SEQ */
    rm_ynode_t **items;
    size_t nitems;
    size_t cap;   /* of pairs or items */
    int complete; /* end event seen (an alias to an open node: a cycle) */
    int merges;   /* RM_Y_MAP: holds a merge key (<<), to be resolved */
};

/* Where a document's nodes and texts live (yaml_load.c). */
typedef struct rm_yarena rm_yarena_t;

typedef struct rm_ydoc {
    rm_ynode_t *root;   /* NULL for an empty document */
    rm_yarena_t *arena; /* every node and text, for freeing */
} rm_ydoc_t;

/* rm__yaml_load - parse len bytes into *doc. `${...}` braces in flow
 * context are protected so that `{ password: ${PW} }` parses. Reports
 * syntax errors into d (with file) and returns 0 on success, -1 on a
 * syntax error or other problem (reported), -2 out of memory. On failure
 * *doc is empty. */
int rm__yaml_load(const char *data, size_t len, const char *file,
                  rm_ydoc_t *doc, rm_diags_t *d);
void rm__yaml_free(rm_ydoc_t *doc);
/* rm__yaml_is_null - a plain scalar "", "~", "null" (any case). */
int rm__yaml_is_null(const rm_ynode_t *n);
/* rm__yaml_kind_name - "a mapping", "a list", "a value". */
const char *rm__yaml_kind_name(const rm_ynode_t *n);

/* ---- diagnostics (diags.c) ------------------------------------------- */

/* rm__diag_add - append one diagnostic; message is printf-style. Returns 0,
 * or -1 when out of memory. Beyond RM_DIAGS_MAX_ERRORS errors, further
 * errors are counted but not stored (one "too many errors" note is). */
#if defined(__GNUC__)
__attribute__((format(printf, 7, 8)))
#endif
int rm__diag_add(rm_diags_t *d, rm_diag_severity_t sev, const char *file,
                 int line, int column, const char *key, const char *fmt, ...);
int rm__diag_vadd(rm_diags_t *d, rm_diag_severity_t sev, const char *file,
                  int line, int column, const char *key, const char *fmt,
                  va_list ap);
/* rm__diags_full - whether a further error would only be counted (the
 * cap is reached), so that its message need not be composed. */
int rm__diags_full(const rm_diags_t *d);
/* rm__diags_sort - stable sort by (file, line, column). */
void rm__diags_sort(rm_diags_t *d, size_t from);

/* ---- interpolation (interpolate.c) ------------------------------------ */

/* Result of interpolating one scalar. */
typedef struct rm_interp {
    char *value; /* malloc'd result, NUL-terminated */
    size_t len;
    int refs;      /* number of ${...} references seen (0: plain text) */
    char err[256]; /* on failure: "what; what to do" */
} rm_interp_t;

/* rm__interpolate - expand ${VAR}, ${VAR:-default}, ${VAR-default} and
 * $${ (a literal "${") in in[0..len). Returns 0 and r->value (caller
 * frees), -1 with r->err, or -2 when out of memory. */
int rm__interpolate(const char *in, size_t len, rm_getenv_fn getenv_fn,
                    rm_interp_t *r);

/* ---- units (units.c) -------------------------------------------------- */

/* rm__parse_int - a whole decimal number (optional sign) into *out.
 * Returns 0 or -1 with *why. */
int rm__parse_int(const char *text, int64_t *out, const char **why);
/* rm__parse_bool - true/false/yes/no/on/off (any case). 0 or -1. */
int rm__parse_bool(const char *text, int *out);
/* rm__parse_number - a decimal number (fraction allowed) into *out. */
int rm__parse_number(const char *text, double *out, const char **why);

/* ---- suggestions (suggest.c) ------------------------------------------ */

/* rm__levenshtein - edit distance, ASCII case-insensitive, '_' and '-'
 * equal; strings longer than 64 bytes give a large distance. */
size_t rm__levenshtein(const char *a, const char *b);
/* rm__suggest - the candidate closest to word, or NULL when none is close
 * enough (distance <= max(1, len/3), or a case/underscore-only
 * difference, e.g. "healthCheckInterval"). */
const char *rm__suggest(const char *word, const char *const *candidates,
                        size_t n);

/* ---- byte arena (arena.c) -------------------------------------------- */

/* Storage for many small strings, freed (and wiped) all at once.
 * Initialise with = {0}. */
typedef struct rm_arena {
    struct rm_arena_block *blocks;
} rm_arena_t;

/* rm__arena_alloc - n bytes (no alignment), or NULL when out of memory. */
char *rm__arena_alloc(rm_arena_t *a, size_t n);
/* rm__arena_free - wipe and free everything; a is empty again. */
void rm__arena_free(rm_arena_t *a);

/* ---- string index (index.c) ------------------------------------------ */

/* A hash index from borrowed byte strings to size_t values (node ids to
 * their position, anchors to their node...). Initialise with = {0}. */
typedef struct rm_index {
    struct rm_index_slot *slots;
    size_t cap, count;
} rm_index_t;

/* rm__index_get - 1 and *value (may be NULL) when key is in ix, else 0. */
int rm__index_get(const rm_index_t *ix, const char *key, size_t len,
                  size_t *value);
/* rm__index_add - insert key -> value unless key is there already. Returns
 * 0 (inserted), 1 (already there: *existing, may be NULL, holds its value,
 * which is kept), -1 (out of memory). The key must outlive the index. */
int rm__index_add(rm_index_t *ix, const char *key, size_t len, size_t value,
                  size_t *existing);
/* rm__index_set - insert or replace key -> value. 0 or -1 (OOM). */
int rm__index_set(rm_index_t *ix, const char *key, size_t len, size_t value);
/* rm__index_reserve - room for n keys without rehashing. 0 or -1 (OOM). */
int rm__index_reserve(rm_index_t *ix, size_t n);
void rm__index_free(rm_index_t *ix);

/* ---- the configuration object (config.c) ----------------------------- */

/* Where a node's settings came from, for cross-field checks. */
struct rm_config_priv {
    rm_arena_t strings; /* every string the config owns (wiped at free) */
    void **blocks;      /* arrays the config owns */
    size_t nblocks, capblocks;
    rm_getenv_fn getenv_fn;
    int id_from_env_default; /* env-only node named "default" */
    rm_index_t node_index;   /* node id -> position in nodes[] */
    /* Per cluster, the positions in nodes[] of its node_ids; NULL (the
     * implicit cluster) means nodes[] itself. */
    size_t **cluster_pos;
};

/* rm__config_new - an empty configuration with pgcm defaults. */
rm_config_t *rm__config_new(rm_getenv_fn getenv_fn);
/* rm__config_strdup - copy len bytes of s into the config; NULL on OOM. */
char *rm__config_strndup(rm_config_t *cfg, const char *s, size_t len);
char *rm__config_strdup(rm_config_t *cfg, const char *s);
/* rm__config_alloc - zeroed block owned by the config; NULL on OOM. */
void *rm__config_alloc(rm_config_t *cfg, size_t size);
/* rm__config_default_thresholds - fill the documented defaults. */
void rm__config_defaults(rm_config_t *cfg);
/* rm__config_env_view - record PG* variables for printing. */
int rm__config_env_view(rm_config_t *cfg, rm_getenv_fn getenv_fn);
/* rm__config_index_nodes - (re)build priv->node_index from cfg->nodes
 * (the first of duplicate ids wins). Returns 0 or -2 (OOM). */
int rm__config_index_nodes(rm_config_t *cfg);
/* rm__config_node_pos - the position of node id in cfg->nodes, or
 * (size_t)-1. */
size_t rm__config_node_pos(const rm_config_t *cfg, const char *id);
/* rm__config_finish_clusters - the implicit "default" cluster of all
 * nodes when there is no cluster; indexes the nodes and fills every
 * cluster's specs. Returns 0 or -2 (OOM). */
int rm__config_finish_clusters(rm_config_t *cfg);
/* rm__id_problem - NULL when s is a usable node id / cluster name, else
 * a static "what is wrong" text. */
const char *rm__id_problem(const char *s, size_t len);
/* rm__expand_home - "~/x" -> "$HOME/x" (malloc'd), else a copy. */
char *rm__expand_home(const char *path, rm_getenv_fn getenv_fn);
/* rm__getenv - getenv_fn or getenv. */
const char *rm__getenv(rm_getenv_fn getenv_fn, const char *name);

/* ---- validation (validate.c) ----------------------------------------- */

/* rm__config_from_tree - build cfg from a parsed document, reporting every
 * problem into d. *plaintext_secret is set to 1 and *secret_line etc. to
 * the first secret written as plain text. Returns 0 (maybe with errors in
 * d: the caller checks d->errors), -2 out of memory. */
typedef struct rm_secret_note {
    int found;
    int line, column;
    char key[256];
} rm_secret_note_t;

int rm__config_from_tree(rm_config_t *cfg, const rm_ydoc_t *doc,
                         const char *file, rm_diags_t *d,
                         rm_secret_note_t *secret);

/* rm__conninfo_check - NULL when conninfo parses, else a malloc'd message
 * from libpq with the quoted parts that could be secrets hidden (only
 * keywords, punctuation, and an option name written literally in raw, the
 * text before interpolation, are shown). *has_password tells whether it
 * holds a password. */
char *rm__conninfo_check(const char *conninfo, const char *raw,
                         int *has_password);

#endif /* REPLMON_CONFIG_INTERNAL_H */
