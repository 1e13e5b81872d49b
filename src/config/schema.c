/* SPDX-License-Identifier: MIT */
/*
 * schema.c - the configuration's schema as data: one table per section of
 * the file (key, type, where the value lives, bounds, default, hint, how
 * an unset value is shown) and the environment variables of the
 * environment-only mode. validate.c checks keys, reads values and
 * suggests from these tables, print.c prints from them, envconfig.c
 * parses the variables with them; docs/configuration.md describes them
 * and test_config_schema.c checks that it does, and that every default and
 * bound agrees with what libpgcm accepts (pgcm's option and spec
 * validation stays the one authority: a bound here only words a message
 * earlier, it never lets through what pgcm refuses).
 */
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "config_internal.h"

#define N(a) (sizeof(a) / sizeof(*(a)))

/* A duration in ms at offset off: key, least value, default. */
#define DURATION(k, off, lo, d)                                                \
    {                                                                          \
        .key = k, .type = RM_F_DURATION, .offset = off, .min = lo,             \
        .max = MS_MAX, .def = d                                                \
    }
/* A whole number at offset off: key, bounds, default, the advice of an
 * out-of-range message. */
#define COUNT(k, off, lo, hi, d, advice)                                       \
    {                                                                          \
        .key = k, .type = RM_F_INT, .offset = off, .min = lo, .max = hi,       \
        .def = d, .hint = advice                                               \
    }

/* Durations kept in an int of milliseconds: at most 24 days. */
#define MS_MAX  INT_MAX

#define OPT(f)  offsetof(pgcm_options_t, f)
#define SPEC(f) offsetof(pgcm_node_spec_t, f)
#define TH(f)   offsetof(rm_thresholds_t, f)

/* ---- manager: pgcm_options_t ------------------------------------------ */

static const rm_field_t backoff_fields[] = {
    DURATION("initial", OPT(backoff_initial_ms), 1, 1000),
    DURATION("max", OPT(backoff_max_ms), 1, 30000),
};

const rm_section_t rm_schema_backoff = {
    .name = "backoff", .fields = backoff_fields, .count = N(backoff_fields)};

/* Positions in manager_fields that node fields refer to. */
enum { MANAGER_CONNECT_TIMEOUT = 8, MANAGER_APPLICATION_NAME = 15 };

static const rm_field_t manager_fields[] = {
    DURATION("health_check_interval", OPT(health_check_interval_ms), 1, 5000),
    DURATION("health_check_timeout", OPT(health_check_timeout_ms), 1, 2000),
    DURATION("liveness_interval", OPT(liveness_interval_ms), 0, 500),
    DURATION("liveness_timeout", OPT(liveness_timeout_ms), 1, 400),
    DURATION("suspect_probe_timeout", OPT(suspect_probe_timeout_ms), 1, 300),
    COUNT("unhealthy_threshold", OPT(unhealthy_threshold), 1, 1000, 3,
          "use a count of consecutive failures between 1 and 1000"),
    DURATION("degraded_latency", OPT(degraded_latency_ms), 1, 1000),
    DURATION("query_timeout", OPT(query_timeout_ms), 1, 30000),
    [MANAGER_CONNECT_TIMEOUT] =
        DURATION("connect_timeout", OPT(connect_timeout_ms), 1, 5000),
    DURATION("shutdown_timeout", OPT(shutdown_timeout_ms), 0, 10000),
    DURATION("remove_timeout", OPT(remove_timeout_ms), 0, 1000),
    DURATION("cancel_grace", OPT(cancel_grace_ms), 1, 2000),
    {.key = "backoff", .type = RM_F_SECTION, .section = &rm_schema_backoff},
    DURATION("stats_interval", OPT(stats_interval_ms), 0, 0),
    {.key = "probe_query",
     .type = RM_F_STRING,
     .offset = OPT(probe_query),
     .def_text = "SELECT 1"},
    [MANAGER_APPLICATION_NAME] = {.key = "application_name",
                                  .type = RM_F_STRING,
                                  .offset = OPT(application_name),
                                  .def_text = "replmon"},
};

const rm_section_t rm_schema_manager = {
    .name = "manager", .fields = manager_fields, .count = N(manager_fields)};

/* ---- a node: pgcm_node_spec_t ------------------------------------------ */

static const rm_field_t ssl_fields[] = {
    {.key = "enabled",
     .type = RM_F_TRISTATE,
     .offset = SPEC(ssl.enabled),
     .def = PGCM_SSL_DEFAULT,
     .libpq = RM_LIBPQ_SSLMODE,
     .unset_note = "libpq decides (sslmode=prefer)"},
    {.key = "reject_unauthorized",
     .type = RM_F_BOOL,
     .offset = SPEC(ssl.reject_unauthorized),
     .def = 1},
    {.key = "ca",
     .type = RM_F_PATH,
     .offset = SPEC(ssl.ca),
     .flags = RM_FIELD_UNSET},
    {.key = "cert",
     .type = RM_F_PATH,
     .offset = SPEC(ssl.cert),
     .flags = RM_FIELD_UNSET},
    {.key = "key",
     .type = RM_F_PATH,
     .offset = SPEC(ssl.key),
     .flags = RM_FIELD_UNSET},
};

const rm_section_t rm_schema_ssl = {
    .name = "ssl", .fields = ssl_fields, .count = N(ssl_fields)};

/* Positions in ssh_fields and pool_fields used below. */
enum { SSH_HOST = 0, SSH_PORT = 1, SSH_USER = 2, SSH_KEY_PATH = 3 };
enum { POOL_MAX = 1, POOL_IDLE_TIMEOUT = 2 };

static const char *const host_key_checks[] = {[PGCM_HOSTKEY_STRICT] = "strict",
                                              [PGCM_HOSTKEY_ACCEPT_NEW] =
                                                  "accept-new",
                                              NULL};

static const rm_field_t ssh_fields[] = {
    [SSH_HOST] = {.key = "host",
                  .type = RM_F_STRING,
                  .offset = SPEC(ssh.host),
                  .flags = RM_FIELD_UNSET},
    [SSH_PORT] = COUNT("port", SPEC(ssh.port), 1, 65535, 22,
                       "use a port between 1 and 65535"),
    [SSH_USER] = {.key = "user",
                  .type = RM_F_STRING,
                  .offset = SPEC(ssh.user),
                  .flags = RM_FIELD_UNSET,
                  .unset_note = "the login name"},
    [SSH_KEY_PATH] = {.key = "key_path",
                      .type = RM_F_PATH,
                      .offset = SPEC(ssh.key_path),
                      .flags = RM_FIELD_UNSET},
    {.key = "known_hosts",
     .type = RM_F_PATH,
     .offset = SPEC(ssh.known_hosts),
     .flags = RM_FIELD_UNSET,
     .unset_note = "~/.ssh/known_hosts"},
    /* by position: PGCM_HOSTKEY_STRICT, PGCM_HOSTKEY_ACCEPT_NEW */
    {.key = "host_key_check",
     .type = RM_F_ENUM,
     .offset = SPEC(ssh.host_key_check),
     .choices = host_key_checks,
     .def = PGCM_HOSTKEY_STRICT,
     .hint = "strict, the default, refuses a bastion whose key is not in "
             "known_hosts; accept-new records an unknown one"},
    {.key = "passphrase",
     .type = RM_F_SECRET,
     .offset = SPEC(ssh.passphrase),
     .flags = RM_FIELD_UNSET},
};

const rm_section_t rm_schema_ssh = {.name = "ssh",
                                    .fields = ssh_fields,
                                    .count = N(ssh_fields),
                                    .present_if = &ssh_fields[SSH_HOST]};

static const rm_field_t pool_fields[] = {
    COUNT("min", SPEC(pool.min), 0, 10000, 1, "use 0 to 10000 connections"),
    [POOL_MAX] = COUNT("max", SPEC(pool.max), 1, 10000, 10,
                       "use 1 to 10000 connections"),
    [POOL_IDLE_TIMEOUT] =
        DURATION("idle_timeout", SPEC(pool.idle_timeout_ms), 1, 10000),
    DURATION("acquire_timeout", SPEC(pool.acquire_timeout_ms), 1, 10000),
    DURATION("lifetime", SPEC(pool.max_lifetime_ms), 1, 1800000),
    {.key = "max_lifetime",
     .type = RM_F_DURATION,
     .offset = SPEC(pool.max_lifetime_ms),
     .flags = RM_FIELD_ALIAS,
     .min = 1,
     .max = MS_MAX,
     .def = 1800000},
    DURATION("leak_threshold", SPEC(pool.leak_threshold_ms), 1, 60000),
};

const rm_section_t rm_schema_pool = {
    .name = "pool", .fields = pool_fields, .count = N(pool_fields)};

static const char *const host_also[] = {"hostname", NULL};
static const char *const database_also[] = {"dbname", "db", NULL};
static const char *const user_also[] = {"username", NULL};
static const char *const password_also[] = {"pass", "passwd", NULL};
static const char *const ssl_also[] = {"sslmode", "tls", NULL};
static const char *const ssh_also[] = {"tunnel", NULL};
static const char *const pool_also[] = {"max_connections", NULL};

/* Positions in node_fields of the sections, for the hints below. */
enum { NODE_SSL = 8, NODE_SSH = 9, NODE_POOL = 10 };

static const rm_field_t node_fields[] = {
    {.key = "host",
     .type = RM_F_STRING,
     .offset = SPEC(host),
     .flags = RM_FIELD_UNSET,
     .also = host_also,
     .libpq = RM_LIBPQ_HOST,
     .conninfo = RM_CI_HOST,
     .unset_note = "libpq default (local socket)"},
    {.key = "port",
     .type = RM_F_INT,
     .offset = SPEC(port),
     .flags = RM_FIELD_UNSET,
     .min = 1,
     .max = 65535,
     .hint = "use a port between 1 and 65535",
     .libpq = RM_LIBPQ_PORT,
     .conninfo = RM_CI_PORT,
     .unset_note = "libpq default (5432)"},
    {.key = "database",
     .type = RM_F_STRING,
     .offset = SPEC(database),
     .flags = RM_FIELD_UNSET,
     .also = database_also,
     .libpq = RM_LIBPQ_DATABASE,
     .conninfo = RM_CI_DBNAME,
     .unset_note = "libpq default (the user name)"},
    {.key = "user",
     .type = RM_F_STRING,
     .offset = SPEC(user),
     .flags = RM_FIELD_UNSET,
     .also = user_also,
     .libpq = RM_LIBPQ_USER,
     .conninfo = RM_CI_USER,
     .unset_note = "libpq default (the login name)"},
    {.key = "password",
     .type = RM_F_SECRET,
     .offset = SPEC(password),
     .flags = RM_FIELD_UNSET,
     .also = password_also,
     .libpq = RM_LIBPQ_PASSWORD,
     .conninfo = RM_CI_PASSWORD,
     .unset_note = "libpq: ~/.pgpass or none"},
    {.key = "application_name",
     .type = RM_F_STRING,
     .offset = SPEC(application_name),
     .flags = RM_FIELD_UNSET,
     .inherits = &manager_fields[MANAGER_APPLICATION_NAME]},
    {.key = "connect_timeout",
     .type = RM_F_DURATION,
     .offset = SPEC(connect_timeout_ms),
     .flags = RM_FIELD_UNSET,
     .min = 1,
     .max = MS_MAX,
     .inherits = &manager_fields[MANAGER_CONNECT_TIMEOUT]},
    {.key = "conninfo",
     .type = RM_F_OWN,
     .offset = SPEC(conninfo),
     .flags = RM_FIELD_UNSET | RM_FIELD_CONNINFO},
    [NODE_SSL] = {.key = "ssl",
                  .type = RM_F_SECTION,
                  .section = &rm_schema_ssl,
                  .also = ssl_also},
    [NODE_SSH] = {.key = "ssh",
                  .type = RM_F_SECTION,
                  .section = &rm_schema_ssh,
                  .also = ssh_also},
    [NODE_POOL] = {.key = "pool",
                   .type = RM_F_SECTION,
                   .section = &rm_schema_pool,
                   .also = pool_also},
};

/* An unknown key of a node may belong one level down. */
static const rm_field_t *const node_hints[] = {
    &node_fields[NODE_SSL], &node_fields[NODE_SSH], &node_fields[NODE_POOL]};

const rm_section_t rm_schema_node = {.name = "node",
                                     .fields = node_fields,
                                     .count = N(node_fields),
                                     .hints = node_hints,
                                     .nhints = N(node_hints)};

/* The list form (nodes: [ { id: a, host: h } ]): the id, then a node's
 * keys. */
static const rm_field_t node_list_fields[] = {
    {.key = "id", .type = RM_F_OWN},
    {.key = "name", .type = RM_F_OWN},
};

const rm_section_t rm_schema_node_list = {.name = "node",
                                          .fields = node_list_fields,
                                          .count = N(node_list_fields),
                                          .more = &rm_schema_node,
                                          .hints = node_hints,
                                          .nhints = N(node_hints)};

/* ---- thresholds: rm_thresholds_t -------------------------------------- */

/* A threshold of 0 switches its check off (docs/replmon.1, STATUS RULES):
 * the minimum is 0, and a critical of 0 may be below the warning. */
static const rm_field_t lag_fields[] = {
    {.key = "warning",
     .type = RM_F_DURATION64,
     .offset = TH(lag_warning_ms),
     .min = 0,
     .max = INT64_C(1) << 50,
     .def = 10000},
    {.key = "critical",
     .type = RM_F_DURATION64,
     .offset = TH(lag_critical_ms),
     .min = 0,
     .max = INT64_C(1) << 50,
     .def = 60000},
};

static const rm_field_t lag_bytes_fields[] = {
    {.key = "warning",
     .type = RM_F_SIZE,
     .offset = TH(lag_warning_bytes),
     .min = 0,
     .max = INT64_MAX,
     .def = INT64_C(1) << 20},
    {.key = "critical",
     .type = RM_F_SIZE,
     .offset = TH(lag_critical_bytes),
     .min = 0,
     .max = INT64_MAX,
     .def = INT64_C(16) << 20},
};

static const rm_field_t slot_fields[] = {
    {.key = "warning",
     .type = RM_F_SIZE,
     .offset = TH(slot_warning_bytes),
     .min = 0,
     .max = INT64_MAX,
     .def = INT64_C(1) << 30},
    {.key = "critical",
     .type = RM_F_SIZE,
     .offset = TH(slot_critical_bytes),
     .min = 0,
     .max = INT64_MAX,
     .def = INT64_C(5) << 30},
};

static const rm_field_t rate_fields[] = {
    {.key = "warning",
     .type = RM_F_NUMBER,
     .offset = TH(conflict_rate_warning),
     .def = 5},
    {.key = "critical",
     .type = RM_F_NUMBER,
     .offset = TH(conflict_rate_critical),
     .def = 20},
};

static const rm_section_t lag_section = {.name = "replication_lag",
                                         .fields = lag_fields,
                                         .count = N(lag_fields),
                                         .flow = 1};
static const rm_section_t lag_bytes_section = {.name = "replication_lag_bytes",
                                               .fields = lag_bytes_fields,
                                               .count = N(lag_bytes_fields),
                                               .flow = 1,
                                               .note = "bytes"};
static const rm_section_t slot_section = {.name = "slot_retention",
                                          .fields = slot_fields,
                                          .count = N(slot_fields),
                                          .flow = 1,
                                          .note = "bytes"};
static const rm_section_t rate_section = {.name = "conflict_rate",
                                          .fields = rate_fields,
                                          .count = N(rate_fields),
                                          .flow = 1};

static const rm_field_t threshold_fields[] = {
    {.key = "replication_lag", .type = RM_F_SECTION, .section = &lag_section},
    {.key = "slot_retention", .type = RM_F_SECTION, .section = &slot_section},
    {.key = "conflict_rate", .type = RM_F_SECTION, .section = &rate_section},
    {.key = "replication_lag_bytes",
     .type = RM_F_SECTION,
     .section = &lag_bytes_section},
};

const rm_section_t rm_schema_thresholds = {.name = "thresholds",
                                           .fields = threshold_fields,
                                           .count = N(threshold_fields)};

/* ---- serve and event_log ---------------------------------------------------
 */

#define SERVE(f) offsetof(rm_serve_settings_t, f)
#define EVLOG(f) offsetof(rm_event_log_settings_t, f)

static const rm_field_t serve_fields[] = {
    /* An ADDR:PORT, checked by rm_config_parse_listen. */
    {.key = "listen",
     .type = RM_F_OWN,
     .offset = SERVE(listen),
     .def_text = "127.0.0.1:9187"},
    {.key = "interval",
     .type = RM_F_DURATION64,
     .offset = SERVE(interval_ms),
     .min = 1,
     .max = 86400000,
     .def = 5000},
};

const rm_section_t rm_schema_serve = {
    .name = "serve", .fields = serve_fields, .count = N(serve_fields)};

static const rm_field_t event_log_fields[] = {
    /* The id of one of the nodes. */
    {.key = "node",
     .type = RM_F_OWN,
     .offset = EVLOG(node),
     .flags = RM_FIELD_UNSET,
     .unset_note = "no event table"},
    {.key = "queue_size",
     .type = RM_F_INT64,
     .offset = EVLOG(queue_size),
     .min = 1,
     .max = 1000000,
     .def = 1000,
     .hint = "use a number of events from 1 to 1000000"},
};

const rm_section_t rm_schema_event_log = {.name = "event_log",
                                          .fields = event_log_fields,
                                          .count = N(event_log_fields)};

/* ---- clusters, theme, the root ------------------------------------------- */

static const rm_field_t cluster_fields[] = {
    {.key = "nodes", .type = RM_F_OWN},
    {.key = "default", .type = RM_F_BOOL},
};

const rm_section_t rm_schema_cluster = {
    .name = "cluster", .fields = cluster_fields, .count = N(cluster_fields)};

static const rm_field_t theme_fields[] = {
    {.key = "name", .type = RM_F_OWN, .def_text = "dark"},
    {.key = "colors", .type = RM_F_OWN},
};

const rm_section_t rm_schema_theme = {
    .name = "theme", .fields = theme_fields, .count = N(theme_fields)};

enum { ROOT_THRESHOLDS = 2, ROOT_MANAGER = 5, ROOT_DEFAULTS = 6 };

static const rm_field_t root_fields[] = {
    {.key = "nodes", .type = RM_F_OWN},
    {.key = "clusters", .type = RM_F_OWN},
    [ROOT_THRESHOLDS] = {.key = "thresholds",
                         .type = RM_F_SECTION,
                         .section = &rm_schema_thresholds},
    /* true, false or auto: read by code of its own */
    {.key = "pglogical",
     .type = RM_F_OWN,
     .offset = offsetof(rm_config_t, pglogical),
     .def = RM_PGLOGICAL_AUTO},
    {.key = "theme", .type = RM_F_OWN},
    [ROOT_MANAGER] = {.key = "manager",
                      .type = RM_F_SECTION,
                      .section = &rm_schema_manager},
    [ROOT_DEFAULTS] = {.key = "defaults",
                       .type = RM_F_SECTION,
                       .section = &rm_schema_node},
    {.key = "serve", .type = RM_F_SECTION, .section = &rm_schema_serve},
    {.key = "event_log", .type = RM_F_SECTION, .section = &rm_schema_event_log},
    /* a list of section names: read by code of its own */
    {.key = "skip_sections",
     .type = RM_F_OWN,
     .offset = offsetof(rm_config_t, skip_sections)},
};

/* An unknown top-level key may be a setting written one level too high. */
static const rm_field_t *const root_hints[] = {&root_fields[ROOT_MANAGER],
                                               &root_fields[ROOT_DEFAULTS],
                                               &root_fields[ROOT_THRESHOLDS]};

const rm_section_t rm_schema_root = {.name = "configuration",
                                     .fields = root_fields,
                                     .count = N(root_fields),
                                     .hints = root_hints,
                                     .nhints = N(root_hints)};

/* ---- environment-only mode -------------------------------------------- */

const rm_env_binding_t rm_schema_env[] = {
    {.var = "POSTGRES_MAX_CONNECTIONS",
     .field = &pool_fields[POOL_MAX],
     .what = "a connection count"},
    {.var = "POSTGRES_IDLE_TIMEOUT", .field = &pool_fields[POOL_IDLE_TIMEOUT]},
    {.var = "POSTGRES_HEALTH_CHECK_INTERVAL",
     .manager = 1,
     .field = &manager_fields[0]},
    {.var = "SSH_HOST", .field = &ssh_fields[SSH_HOST]},
    {.var = "SSH_PORT",
     .field = &ssh_fields[SSH_PORT],
     .what = "a port",
     .needs = "SSH_HOST",
     .needs_hint = "to reach the server through an SSH tunnel"},
    {.var = "SSH_USER",
     .field = &ssh_fields[SSH_USER],
     .needs = "SSH_HOST",
     .needs_hint = "to reach the server through an SSH tunnel"},
    {.var = "SSH_KEY_PATH",
     .field = &ssh_fields[SSH_KEY_PATH],
     .needs = "SSH_HOST",
     .needs_hint = "to reach the server through an SSH tunnel"},
};

const size_t rm_schema_env_count = N(rm_schema_env);

/* ---- what libpq reads from the environment --------------------------------
 */

const char *const rm_schema_libpq_names[RM_LIBPQ_COUNT] = {
    [RM_LIBPQ_HOST] = "PGHOST",       [RM_LIBPQ_PORT] = "PGPORT",
    [RM_LIBPQ_USER] = "PGUSER",       [RM_LIBPQ_DATABASE] = "PGDATABASE",
    [RM_LIBPQ_SSLMODE] = "PGSSLMODE", [RM_LIBPQ_PASSWORD] = "PGPASSWORD",
};

const char **rm__libpq_env_slot(rm_env_view_t *e, rm_libpq_var_t v)
{
    switch (v) {
    case RM_LIBPQ_HOST:
        return &e->host;
    case RM_LIBPQ_PORT:
        return &e->port;
    case RM_LIBPQ_USER:
        return &e->user;
    case RM_LIBPQ_DATABASE:
        return &e->database;
    case RM_LIBPQ_SSLMODE:
        return &e->sslmode;
    default:
        return NULL;
    }
}

const char *rm__libpq_env_value(const rm_env_view_t *e, rm_libpq_var_t v)
{
    if (v == RM_LIBPQ_PASSWORD)
        return e->password_set ? RM_CONFIG_MASK : NULL;
    const char **slot = rm__libpq_env_slot((rm_env_view_t *)e, v);
    return slot ? *slot : NULL;
}

/* ---- lookups ----------------------------------------------------------- */

const rm_field_t *rm__schema_field(const rm_section_t *s, const char *key)
{
    for (; s != NULL; s = s->more) {
        for (size_t i = 0; i < s->count; i++) {
            if (strcmp(s->fields[i].key, key) == 0)
                return &s->fields[i];
        }
    }
    return NULL;
}

size_t rm__schema_keys(const rm_section_t *s, const char **keys, size_t max)
{
    size_t n = 0;
    for (; s != NULL; s = s->more) {
        for (size_t i = 0; i < s->count && n < max; i++)
            keys[n++] = s->fields[i].key;
    }
    return n;
}

const rm_field_t *rm__schema_spelling_of(const rm_section_t *s,
                                         const rm_field_t *f)
{
    const rm_field_t *end = s->fields + s->count;
    if (f->flags & RM_FIELD_ALIAS) {
        const rm_field_t *first = f;
        while (first > s->fields && (first->flags & RM_FIELD_ALIAS))
            first--;
        return first;
    }
    if (f + 1 < end && (f[1].flags & RM_FIELD_ALIAS))
        return f;
    return NULL;
}

void rm__schema_set_defaults(const rm_section_t *s, void *base)
{
    for (size_t i = 0; i < s->count; i++) {
        const rm_field_t *f = &s->fields[i];
        char *at = (char *)base + f->offset;
        switch (f->type) {
        case RM_F_DURATION:
        case RM_F_INT:
        case RM_F_BOOL:
        case RM_F_TRISTATE:
        case RM_F_ENUM:
            *(int *)(void *)at = (int)f->def;
            break;
        case RM_F_DURATION64:
        case RM_F_SIZE:
        case RM_F_INT64:
            *(int64_t *)(void *)at = f->def;
            break;
        case RM_F_NUMBER:
            *(double *)(void *)at = (double)f->def;
            break;
        case RM_F_STRING:
        case RM_F_PATH:
        case RM_F_SECRET:
            *(const char **)(void *)at = f->def_text;
            break;
        case RM_F_SECTION:
            rm__schema_set_defaults(f->section, base);
            break;
        case RM_F_OWN: /* a string, when it has a default */
            if (f->def_text != NULL)
                *(const char **)(void *)at = f->def_text;
            break;
        }
    }
}
