/* SPDX-License-Identifier: MIT */
/*
 * config.h - replmon's configuration: the YAML file (C1), ${VAR}
 * interpolation, validation with every problem reported at once, the
 * environment-only mode (S2), command-line overrides, and a printable,
 * secret-masked view of the result (R5).
 *
 * Overview
 * --------
 * A configuration is loaded once into an rm_config_t, which is immutable
 * afterwards except for rm_config_apply_overrides(). It holds the nodes as
 * ready-to-use pgcm_node_spec_t values and the pgcm_options_t for the
 * manager; every string they point to is owned by the rm_config_t and stays
 * valid until rm_config_free(). A reload (C2) loads a second rm_config_t and
 * hands its node list to pgcm_manager_apply(); pgcm_node_spec_equal()
 * compares nodes of the two configurations one by one.
 *
 * The keys of every section, their types, bounds, defaults and how they
 * print are data: the schema tables of schema.c (config_internal.h), which
 * the checks, the printing and the environment-only mode all read.
 *
 * Precedence: command-line flags > file > environment. In file mode the
 * environment reaches the configuration only through ${VAR} references and
 * through libpq, which reads PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD,
 * PGSSLMODE, ~/.pgpass ... for every field the file leaves unset (NULL).
 * Without a file, rm_config_from_env() builds one node from the environment.
 * See docs/configuration.md for the keys and their defaults.
 *
 * Problems
 * --------
 * Loading functions collect every problem into an rm_diags_t (errors and
 * warnings), each formatted by rm_diag_format() as
 *     FILE:LINE:COLUMN: KEY.PATH: what is wrong; what to do
 *     FILE:LINE:COLUMN: warning: KEY.PATH: what is wrong; what to do
 * (LINE:COLUMN are 1-based; they are left out when unknown, KEY.PATH when
 * the problem concerns no key). For the environment FILE is "environment", for
 * command-line overrides "command line".
 *
 * Threads
 * -------
 * Every function is reentrant and may run on any thread; none keeps global
 * state. The default getenv lookup is not safe against a concurrent
 * setenv(). A loaded rm_config_t may be read from several threads at once;
 * rm_config_apply_overrides() and rm_config_free() need exclusive access.
 *
 * Return codes are pgcm's: PGCM_OK, PGCM_EINVAL (the configuration has
 * errors: see the diagnostics), PGCM_ENOENT (no such file / cluster),
 * PGCM_ENOMEM.
 */
#ifndef REPLMON_CONFIG_H
#define REPLMON_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pgcm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An environment lookup, as getenv(): the value, or NULL when unset. Every
 * function taking one accepts NULL, meaning getenv(). Tests inject theirs. */
typedef const char *(*rm_getenv_fn)(const char *name);

/* ---------------------------------------------------------------------- */
/* Diagnostics                                                            */
/* ---------------------------------------------------------------------- */

typedef enum rm_diag_severity {
    RM_DIAG_ERROR = 0,  /* the configuration is rejected */
    RM_DIAG_WARNING = 1 /* accepted, but the user should act */
} rm_diag_severity_t;

/* One problem. Strings are owned by the rm_diags_t holding it. */
typedef struct rm_diag {
    rm_diag_severity_t severity;
    char *file;    /* file, buffer name, "environment", "command line" */
    int line;      /* 1-based, 0 when unknown */
    int column;    /* 1-based, 0 when unknown */
    char *key;     /* dotted key path ("nodes.primary.port"), "" if none */
    char *message; /* "what is wrong; what to do", no trailing newline */
} rm_diag_t;

/* A list of problems, in file order (line, then column). Initialise with
 * rm_diags_init() (or = {0}), free with rm_diags_free(). */
typedef struct rm_diags {
    rm_diag_t *items;
    size_t count;    /* items[0..count) */
    size_t errors;   /* how many have RM_DIAG_ERROR */
    size_t warnings; /* how many have RM_DIAG_WARNING */
    size_t cap;      /* internal */
} rm_diags_t;

/* rm_diags_init - make *d an empty list. */
void rm_diags_init(rm_diags_t *d);

/* rm_diags_free - free every diagnostic and reset *d to empty. d may be
 * NULL. */
void rm_diags_free(rm_diags_t *d);

/* rm_diag_format - write one diagnostic as a single line (no newline) into
 * buf, truncated to size. Returns the length the full line needs, as
 * snprintf does. */
size_t rm_diag_format(const rm_diag_t *diag, char *buf, size_t size);

/* rm_diags_print - print every diagnostic to out, one per line, in the
 * format above. Returns the number of lines printed. */
size_t rm_diags_print(const rm_diags_t *d, FILE *out);

/* ---------------------------------------------------------------------- */
/* The configuration                                                      */
/* ---------------------------------------------------------------------- */

/* A cluster: a named subset of the nodes (clusters: section), or the
 * implicit cluster "default" holding every node when there is none. */
typedef struct rm_cluster {
    const char *name;
    const char *const *node_ids;   /* node_count ids, in file order */
    const pgcm_node_spec_t *specs; /* node_count specs, same order */
    size_t node_count;
    int is_default; /* default: true, else the first / implicit cluster */
    int implicit;   /* 1 for the implicit "default" cluster */
} rm_cluster_t;

/* thresholds: section (status exit codes and dashboard colours); the
 * defaults are the schema's (docs/configuration.md). */
typedef struct rm_thresholds {
    int64_t lag_warning_ms;        /* replication_lag.warning */
    int64_t lag_critical_ms;       /* replication_lag.critical */
    int64_t lag_warning_bytes;     /* replication_lag_bytes.warning */
    int64_t lag_critical_bytes;    /* replication_lag_bytes.critical */
    int64_t slot_warning_bytes;    /* slot_retention.warning */
    int64_t slot_critical_bytes;   /* slot_retention.critical */
    double conflict_rate_warning;  /* conflict_rate.warning, per minute */
    double conflict_rate_critical; /* conflict_rate.critical */
} rm_thresholds_t;

/* skip_sections: the status sections a configuration does not want (never
 * read, never a finding), as bits; the names are those of `replmon status`
 * ("slots", "subscriptions", "standbys", "receiver"). */
#define RM_SKIP_SLOTS         0x1u
#define RM_SKIP_SUBSCRIPTIONS 0x2u
#define RM_SKIP_STANDBYS      0x4u
#define RM_SKIP_RECEIVER      0x8u

/* pglogical: whether to read pglogical's catalogs. OFF never; ON on every
 * node (a node without the extension gets a note saying so); AUTO where a
 * round finds the extension installed (checked again every round). */
#define RM_PGLOGICAL_OFF  0 /* pglogical: false */
#define RM_PGLOGICAL_ON   1 /* pglogical: true */
#define RM_PGLOGICAL_AUTO 2 /* pglogical: auto (the default) */

/* rm_pglogical_mode_name - "false", "true" or "auto". */
const char *rm_pglogical_mode_name(int mode);

/* One colour override of the theme: role -> colour text as written
 * ("#FFD700", "#fd0", a curses colour name such as "yellow", or 0-255).
 * The roles are the original replmon's eight: background, foreground,
 * primary, secondary, success, warning, critical, muted. */
typedef struct rm_theme_color {
    const char *role;
    const char *color;
} rm_theme_color_t;

typedef struct rm_theme {
    const char *name;               /* "dark" (default) or "light" */
    const rm_theme_color_t *colors; /* color_count overrides, file order */
    size_t color_count;
} rm_theme_t;

/* What libpq will use for a field the configuration leaves NULL, for
 * printing only (the spec keeps NULL so that libpq decides). Each is the
 * environment variable's value, or NULL when unset. */
typedef struct rm_env_view {
    const char *host;     /* PGHOST (or PGHOSTADDR) */
    const char *port;     /* PGPORT */
    const char *user;     /* PGUSER */
    const char *database; /* PGDATABASE */
    const char *sslmode;  /* PGSSLMODE */
    int password_set;     /* PGPASSWORD is set (its value is not kept) */
} rm_env_view_t;

/* serve: section (replmon serve and the metrics endpoint). */
typedef struct rm_serve_settings {
    const char *listen;  /* serve.listen, "ADDR:PORT" ("127.0.0.1:9187") */
    int64_t interval_ms; /* serve.interval: one collection round per (5s) */
} rm_serve_settings_t;

/* event_log: section (S5): connection events recorded in a table. */
typedef struct rm_event_log_settings {
    const char *node;   /* event_log.node: id of the node holding the
                           connection_logs table; NULL: no event table */
    int64_t queue_size; /* event_log.queue_size: events kept while that
                           node cannot take them; more are dropped (1000) */
} rm_event_log_settings_t;

/* A loaded configuration. All fields are read-only for the caller; every
 * pointer is owned by the object and valid until rm_config_free(). */
typedef struct rm_config {
    const char *path; /* the file it came from, NULL in env-only mode */
    int env_only;     /* 1: built by rm_config_from_env() (S2) */

    pgcm_options_t options;  /* manager: section over pgcm defaults */
    pgcm_node_spec_t *nodes; /* node_count nodes in file order, with
                                defaults: applied */
    size_t node_count;

    rm_cluster_t *clusters; /* cluster_count >= 1 (implicit "default") */
    size_t cluster_count;

    rm_thresholds_t thresholds;
    unsigned skip_sections; /* skip_sections: ([]), RM_SKIP_* bits */
    int pglogical;          /* pglogical: RM_PGLOGICAL_* (auto) */
    rm_theme_t theme;
    rm_serve_settings_t serve;
    rm_event_log_settings_t event_log;

    rm_env_view_t env; /* PG* variables at load time, for printing */

    struct rm_config_priv *priv; /* internal */
} rm_config_t;

/* rm_config_parse_file - read and validate a YAML configuration file.
 * ${VAR} references are looked up with getenv_fn (NULL: getenv). A file
 * that holds a plaintext password and is readable by group or others adds
 * a warning. Every problem goes to diags (may be NULL; then the problems
 * are lost). Returns PGCM_OK and *out (free with rm_config_free), or
 * PGCM_ENOENT (cannot open/read the file; one diagnostic says why),
 * PGCM_EINVAL (errors in diags), PGCM_ENOMEM; *out is NULL on failure.
 * Warnings alone do not fail. */
int rm_config_parse_file(const char *path, rm_getenv_fn getenv_fn,
                         rm_config_t **out, rm_diags_t *diags);

/* rm_config_parse_buffer - as rm_config_parse_file, from len bytes at data
 * (need not be NUL-terminated; may contain anything). name is used as FILE
 * in diagnostics (NULL: "<memory>"). No permission check is made. */
int rm_config_parse_buffer(const char *data, size_t len, const char *name,
                           rm_getenv_fn getenv_fn, rm_config_t **out,
                           rm_diags_t *diags);

/* rm_config_from_env - environment-only mode (S2): one node, with host,
 * port, user, database, password and sslmode left NULL/default for libpq to
 * read from PG* variables (recorded in cfg->env for printing), plus the
 * ChatGenius seed's variables (POSTGRES_MAX_CONNECTIONS, ..., SSH_KEY_PATH),
 * each setting the field the schema binds it to, with that field's type
 * and bounds (a plain duration is milliseconds); docs/configuration.md
 * lists them.
 * The node's id is PGHOST when that is a usable id (at most 63 bytes, not a
 * socket directory, a single host), else "default"; its cluster is the
 * implicit "default". Returns as rm_config_parse_file (PGCM_EINVAL when a
 * variable is malformed; FILE in its diagnostic is "environment"). */
int rm_config_from_env(rm_getenv_fn getenv_fn, rm_config_t **out,
                       rm_diags_t *diags);

/* rm_config_load - what the command does: with path != NULL parse that
 * file (missing: PGCM_ENOENT); with path == NULL parse
 * rm_config_default_path() if that file exists, else fall back to
 * rm_config_from_env(). Returns as rm_config_parse_file. */
int rm_config_load(const char *path, rm_getenv_fn getenv_fn, rm_config_t **out,
                   rm_diags_t *diags);

/* rm_config_default_path - $XDG_CONFIG_HOME/replmon/config.yaml when
 * XDG_CONFIG_HOME is set and absolute, else $HOME/.config/replmon/
 * config.yaml (HOME from the password database when unset). Returns a
 * malloc'd string the caller frees, or NULL when no home is known or on
 * allocation failure. */
char *rm_config_default_path(rm_getenv_fn getenv_fn);

/* rm_config_free - free a configuration and every string it owns (secrets
 * are wiped first). cfg may be NULL. */
void rm_config_free(rm_config_t *cfg);

/* ---------------------------------------------------------------------- */
/* Command-line overrides (flags > file > environment)                    */
/* ---------------------------------------------------------------------- */

/* Flag values; NULL / 0 means "not given". */
typedef struct rm_overrides {
    const char *node_id;  /* apply to this node only; NULL: every node */
    const char *host;     /* --host */
    int port;             /* --port, 1..65535; 0: not given */
    const char *database; /* --database */
    const char *user;     /* --user */
    const char *password; /* --password (a secret, copied and wiped) */
} rm_overrides_t;

/* rm_config_apply_overrides - set the given fields on the selected nodes,
 * replacing what the file or environment said (the strings are copied into
 * cfg). In env-only mode, a --host also renames the node whose id was
 * "default" to that host when it is a usable id. Returns PGCM_OK,
 * PGCM_EINVAL (port out of range, empty string; a diagnostic with FILE
 * "command line"), PGCM_ENOENT (unknown node_id, with a suggestion) or
 * PGCM_ENOMEM; on failure cfg is unchanged. Not thread-safe for cfg. */
int rm_config_apply_overrides(rm_config_t *cfg, const rm_overrides_t *ov,
                              rm_diags_t *diags);

/* ---------------------------------------------------------------------- */
/* Lookups                                                                */
/* ---------------------------------------------------------------------- */

/* rm_config_cluster_nodes - the nodes of a cluster, ready for
 * pgcm_manager_start()/pgcm_manager_apply(). name NULL selects the default
 * cluster (default: true, else the first cluster of the file, as the
 * original replmon does, else the implicit one). *specs points into cfg
 * (valid until rm_config_free). Returns PGCM_OK, PGCM_ENOENT (no such
 * cluster; err->message suggests the closest name) or PGCM_EINVAL (no
 * configuration). err may be NULL. */
int rm_config_cluster_nodes(const rm_config_t *cfg, const char *name,
                            const pgcm_node_spec_t **specs, size_t *count,
                            pgcm_error_t *err);

/* rm_config_find_cluster - the cluster named name (NULL: the default, as
 * above), or NULL. */
const rm_cluster_t *rm_config_find_cluster(const rm_config_t *cfg,
                                           const char *name);

/* rm_config_find_node - the node with this id, or NULL. */
const pgcm_node_spec_t *rm_config_find_node(const rm_config_t *cfg,
                                            const char *id);

/* ---------------------------------------------------------------------- */
/* Printing (check-config, R5)                                            */
/* ---------------------------------------------------------------------- */

typedef enum rm_print_format {
    RM_PRINT_YAML = 0, /* YAML that rm_config_parse_* reads back */
    RM_PRINT_JSON = 1  /* one JSON object */
} rm_print_format_t;

/* The mask printed instead of every secret. */
#define RM_CONFIG_MASK "********"

/* rm_config_print - write the resolved configuration (every default
 * filled in, durations in ms, sizes in bytes) to out. Every password, SSH
 * passphrase and the password of a conninfo is printed as RM_CONFIG_MASK
 * (a conninfo with a password is shown in libpq's key=value form, one
 * without as written). Fields left to libpq are printed as null with what
 * the environment says in a comment (YAML) or an "env" object (JSON). The
 * YAML reads back to the same configuration (secrets aside). Returns
 * PGCM_OK or PGCM_ENOMEM / PGCM_EINVAL (write error). Thread: any. */
int rm_config_print(const rm_config_t *cfg, rm_print_format_t format,
                    FILE *out);

/* rm_config_mask_conninfo - a copy of a libpq conninfo or URI with its
 * password replaced by RM_CONFIG_MASK, in key=value form. Returns a
 * malloc'd string the caller frees, or NULL when conninfo does not parse
 * or on allocation failure. */
char *rm_config_mask_conninfo(const char *conninfo);

/* ---------------------------------------------------------------------- */
/* Units (also for command-line flags)                                    */
/* ---------------------------------------------------------------------- */

/* rm_config_parse_duration - "500ms", "5s", "1m", "1h", combinations
 * ("1m30s"), decimals ("1.5s"); a plain number is plain_unit_ms
 * milliseconds each (1000 in the file: seconds). Result in *ms_out,
 * rounded to the nearest millisecond. Returns 0, or -1 with a static
 * reason in *why ("unknown unit 'x'; use ms, s, m or h", ...). */
int rm_config_parse_duration(const char *text, int64_t plain_unit_ms,
                             int64_t *ms_out, const char **why);

/* rm_config_parse_size - "512", "512B", "1KB", "10MB", "1.5GB", "1TB"
 * (1024-based; KiB..TiB accepted as the same; case-insensitive); a plain
 * number is bytes. Returns 0 and *bytes_out, or -1 with *why. */
int rm_config_parse_size(const char *text, int64_t *bytes_out,
                         const char **why);

/* rm_config_parse_listen - "ADDR:PORT" of a listening socket: an IPv4
 * address or a host name ("127.0.0.1:9187", "localhost:9187"), or an IPv6
 * address in brackets ("[::1]:9187"); port 0-65535 (0: any free port).
 * Writes ADDR without brackets to host_out (host_len bytes). Returns 0, or
 * -1 with a static reason in *why. */
int rm_config_parse_listen(const char *text, char *host_out, size_t host_len,
                           int *port_out, const char **why);

#ifdef __cplusplus
}
#endif

#endif /* REPLMON_CONFIG_H */
