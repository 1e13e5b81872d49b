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
    unsigned char kind;     /* rm_ykind_t */
    unsigned char plain;    /* RM_Y_SCALAR, plain style (unquoted): "", ~ and
                               null mean no value */
    unsigned char complete; /* end event seen (an alias to an open node: a
                               cycle) */
    unsigned char merges;   /* RM_Y_MAP: holds a merge key (<<), to resolve */
    int line;               /* 1-based start mark */
    int column;             /* 1-based */
    /* One of these by kind (a file has millions of nodes: they share the
     * room; read a field only after checking the kind). */
    union {
        struct {        /* RM_Y_SCALAR */
            char *text; /* NUL-terminated; may hold NUL bytes before len */
            size_t len;
        };
        struct { /* RM_Y_MAP */
            rm_ypair_t *pairs;
            size_t npairs;
        };
        struct { /* RM_Y_SEQ */
            rm_ynode_t **items;
            size_t nitems;
        };
    };
    size_t cap; /* of pairs or items */
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
/* rm__vformat_line - fmt and ap as one line (newlines, carriage returns
 * and tabs made spaces), malloc'd; NULL when out of memory. */
char *rm__vformat_line(const char *fmt, va_list ap);
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

/* ---- skip_sections (validate.c) ------------------------------------- */

/* The section names skip_sections accepts, with their RM_SKIP_* bits. */
typedef struct rm__skip_name {
    const char *name;
    unsigned bit;
} rm__skip_name_t;
#define RM__SKIP_NAME_COUNT 4
extern const rm__skip_name_t rm__skip_names[RM__SKIP_NAME_COUNT];

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

/* ---- the schema (schema.c) ------------------------------------------- */

/* How a value is written and kept. */
typedef enum rm_ftype {
    RM_F_DURATION,   /* int milliseconds: 500ms, 5s, 1m30s; plain: seconds */
    RM_F_DURATION64, /* int64_t milliseconds (thresholds) */
    RM_F_SIZE,       /* int64_t bytes: 512, 1KB, 1.5GB (1024-based) */
    RM_F_NUMBER,     /* double, 0 or more */
    RM_F_INT,        /* int */
    RM_F_INT64,      /* int64_t, a whole number within int's range */
    RM_F_BOOL,       /* int, 0 or 1 */
    RM_F_TRISTATE,   /* int: 1 true, 0 false, -1 null (libpq decides) */
    RM_F_ENUM,       /* int: the position of the word written in .choices */
    RM_F_STRING,     /* const char * */
    RM_F_PATH,       /* const char *, a leading ~/ expanded */
    RM_F_SECRET,     /* const char *, printed masked */
    RM_F_SECTION,    /* a mapping of its own: .section */
    RM_F_OWN         /* read and printed by code of its own */
} rm_ftype_t;

/* null (or empty) means "not set": the value becomes 0 / NULL and the level
 * below decides (libpq, the manager). Without it null keeps the default. */
#define RM_FIELD_UNSET 1u
/* Another spelling of the field before it: read, listed, never printed. */
#define RM_FIELD_ALIAS 2u
/* RM_F_OWN: a libpq conninfo, printed with its password masked (other own
 * fields print as strings). */
#define RM_FIELD_CONNINFO 4u

/* The PG* variable libpq reads for an unset connection field. */
typedef enum rm_libpq_var {
    RM_LIBPQ_NONE = 0,
    RM_LIBPQ_HOST, /* PGHOST, else PGHOSTADDR */
    RM_LIBPQ_PORT,
    RM_LIBPQ_USER,
    RM_LIBPQ_DATABASE,
    RM_LIBPQ_SSLMODE,
    RM_LIBPQ_PASSWORD, /* only whether it is set is kept */
    RM_LIBPQ_COUNT
} rm_libpq_var_t;

/* The variables' names ("PGHOST"), by rm_libpq_var_t. */
extern const char *const rm_schema_libpq_names[RM_LIBPQ_COUNT];
/* rm__libpq_env_slot - where the view keeps variable v's value; NULL for
 * PGPASSWORD (kept as password_set) and RM_LIBPQ_NONE. */
const char **rm__libpq_env_slot(rm_env_view_t *e, rm_libpq_var_t v);
/* rm__libpq_env_value - variable v's value as recorded in e (PGPASSWORD:
 * RM_CONFIG_MASK when set), or NULL when unset. */
const char *rm__libpq_env_value(const rm_env_view_t *e, rm_libpq_var_t v);

/* Conninfo keywords that set a connection field (bits). */
#define RM_CI_HOST     1u /* host or hostaddr */
#define RM_CI_PORT     2u
#define RM_CI_DBNAME   4u
#define RM_CI_USER     8u
#define RM_CI_PASSWORD 16u

typedef struct rm_section rm_section_t;

/* One key of a section. */
typedef struct rm_field {
    const char *key;
    rm_ftype_t type;
    size_t offset;    /* of the value in the section's object: pgcm_options_t,
                         pgcm_node_spec_t, rm_thresholds_t, rm_config_t */
    unsigned flags;   /* RM_FIELD_* */
    int64_t min, max; /* accepted (numbers, durations, sizes) */
    int64_t def;      /* the default (ms, bytes, count, 0/1) */
    const char *def_text;        /* the default of a string */
    const char *hint;            /* RM_F_INT: what to write when out of range */
    const char *const *also;     /* what people write instead ("dbname"),
                                    suggested as this key; NULL-terminated */
    const rm_section_t *section; /* RM_F_SECTION */
    const char *const *choices;  /* RM_F_ENUM: the words, NULL-terminated */
    /* Printing an unset value: "null  # ..." */
    rm_libpq_var_t libpq;            /* "libpq uses PGHOST=..." */
    unsigned conninfo;               /* RM_CI_*: "from conninfo" */
    const struct rm_field *inherits; /* "the manager's ..." */
    const char *unset_note;          /* otherwise */
} rm_field_t;

struct rm_section {
    const char *name;
    const rm_field_t *fields; /* in the order of messages and printing */
    size_t count;
    const rm_section_t *more; /* keys accepted after these */
    /* The sections an unknown key here may belong to ("did you mean 'ca'
     * under ssl:?"), in the order they are tried. */
    const rm_field_t *const *hints;
    size_t nhints;
    const rm_field_t *present_if; /* unset: printed as false / null */
    int flow;                     /* printed on one line: { a: 1, b: 2 } */
    const char *note;             /* comment after a flow line */
};

extern const rm_section_t rm_schema_root, rm_schema_manager, rm_schema_backoff,
    rm_schema_node, rm_schema_node_list, rm_schema_ssl, rm_schema_ssh,
    rm_schema_pool, rm_schema_thresholds, rm_schema_cluster, rm_schema_theme,
    rm_schema_serve, rm_schema_event_log;

/* A variable of the environment-only mode and the field it sets. */
typedef struct rm_env_binding {
    const char *var;
    int manager; /* the field is the manager's (else the node's) */
    const rm_field_t *field;
    const char *what;       /* RM_F_INT: "a connection count" */
    const char *needs;      /* ignored (with a warning) unless this is set */
    const char *needs_hint; /* why that one is needed */
} rm_env_binding_t;

extern const rm_env_binding_t rm_schema_env[];
extern const size_t rm_schema_env_count;

/* rm__schema_field - the field called key in s (or s->more), or NULL. */
const rm_field_t *rm__schema_field(const rm_section_t *s, const char *key);
/* rm__schema_keys - the keys of s (and s->more) into keys[0..max). */
size_t rm__schema_keys(const rm_section_t *s, const char **keys, size_t max);
/* rm__schema_spelling_of - the first spelling of the setting f is one of,
 * or NULL when it has only one (pool lifetime / max_lifetime). */
const rm_field_t *rm__schema_spelling_of(const rm_section_t *s,
                                         const rm_field_t *f);
/* rm__schema_set_defaults - write the default of every field of s (and
 * of its sections) into the object at base. */
void rm__schema_set_defaults(const rm_section_t *s, void *base);
/* At most this many keys in a section (with its more). */
#define RM_SCHEMA_MAX_KEYS 32

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
