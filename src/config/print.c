/* SPDX-License-Identifier: MIT */
/*
 * print.c - the resolved configuration for people and scripts (replmon
 * check-config, R5): YAML that reads back with every default filled in,
 * or JSON (jansson). Every password, SSH passphrase and conninfo password
 * is printed as "********". Fields left to libpq are printed as null with
 * what the PG* environment says.
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

/* A double-quoted YAML string; values (not keys) escape "${" as "$${"
 * since the reader interpolates values. */
static void yq(FILE *f, const char *s, int is_value)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else if (is_value && *p == '$' && p[1] == '{')
            fputs("$$", f);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* A comment-safe copy of an environment value. */
static void comment_text(FILE *f, const char *s)
{
    for (size_t i = 0; s[i] && i < 200; i++) {
        unsigned char ch = (unsigned char)s[i];
        fputc(ch < 0x20 || ch == 0x7f ? '?' : ch, f);
    }
}

static void y_str(FILE *f, int ind, const char *key, const char *v,
                  const char *env_name, const char *env_value,
                  const char *libpq_default)
{
    fprintf(f, "%*s%s: ", ind, "", key);
    if (v != NULL) {
        yq(f, v, 1);
        fputc('\n', f);
        return;
    }
    fputs("null", f);
    if (env_name != NULL && env_value != NULL) {
        fprintf(f, "  # libpq uses %s=", env_name);
        comment_text(f, env_value);
    } else if (libpq_default != NULL) {
        fprintf(f, "  # %s", libpq_default);
    }
    fputc('\n', f);
}

static void y_secret(FILE *f, int ind, const char *key, const char *v)
{
    fprintf(f, "%*s%s: %s\n", ind, "", key,
            v != NULL ? "\"" RM_CONFIG_MASK "\"" : "null");
}

static void y_ms(FILE *f, int ind, const char *key, long long ms)
{
    fprintf(f, "%*s%s: %lldms\n", ind, "", key, ms);
}

static void y_bool(FILE *f, int ind, const char *key, int b)
{
    fprintf(f, "%*s%s: %s\n", ind, "", key, b ? "true" : "false");
}

/* Whether a conninfo gives a value for keyword. */
static int conninfo_sets(const char *conninfo, const char *keyword)
{
    if (conninfo == NULL)
        return 0;
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    PQfreemem(perr);
    if (opts == NULL)
        return 0;
    int set = 0;
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (strcmp(o->keyword, keyword) == 0 && o->val != NULL)
            set = 1;
    }
    PQconninfoFree(opts);
    return set;
}

static void print_node_yaml(const rm_config_t *cfg, const pgcm_node_spec_t *s,
                            FILE *f)
{
    const rm_env_view_t *e = &cfg->env;
    fprintf(f, "  ");
    yq(f, s->id, 0);
    fputs(":\n", f);
    /* A field the node's conninfo sets comes from there, not from PG*. */
    int ci_host = conninfo_sets(s->conninfo, "host") ||
                  conninfo_sets(s->conninfo, "hostaddr");
    int ci_port = conninfo_sets(s->conninfo, "port");
    int ci_db = conninfo_sets(s->conninfo, "dbname");
    int ci_user = conninfo_sets(s->conninfo, "user");
    int ci_pw = conninfo_sets(s->conninfo, "password");
    static const char from_ci[] = "from conninfo";
    if (ci_host)
        y_str(f, 4, "host", s->host, NULL, NULL, from_ci);
    else
        y_str(f, 4, "host", s->host, "PGHOST", e->host,
              "libpq default (local socket)");
    if (s->port > 0)
        fprintf(f, "    port: %d\n", s->port);
    else if (ci_port)
        y_str(f, 4, "port", NULL, NULL, NULL, from_ci);
    else if (e->port != NULL)
        y_str(f, 4, "port", NULL, "PGPORT", e->port, NULL);
    else
        y_str(f, 4, "port", NULL, NULL, NULL, "libpq default (5432)");
    if (ci_db)
        y_str(f, 4, "database", s->database, NULL, NULL, from_ci);
    else
        y_str(f, 4, "database", s->database, "PGDATABASE", e->database,
              "libpq default (the user name)");
    if (ci_user)
        y_str(f, 4, "user", s->user, NULL, NULL, from_ci);
    else
        y_str(f, 4, "user", s->user, "PGUSER", e->user,
              "libpq default (the login name)");
    if (s->password != NULL)
        y_secret(f, 4, "password", s->password);
    else if (ci_pw)
        y_str(f, 4, "password", NULL, NULL, NULL, from_ci);
    else if (e->password_set)
        y_str(f, 4, "password", NULL, "PGPASSWORD", RM_CONFIG_MASK, NULL);
    else
        y_str(f, 4, "password", NULL, NULL, NULL, "libpq: ~/.pgpass or none");
    y_str(f, 4, "application_name", s->application_name, NULL, NULL,
          cfg->options.application_name ? "the manager's application_name"
                                        : NULL);
    if (s->connect_timeout_ms > 0)
        y_ms(f, 4, "connect_timeout", s->connect_timeout_ms);
    else
        fprintf(f, "    connect_timeout: null  # the manager's (%dms)\n",
                cfg->options.connect_timeout_ms);
    if (s->conninfo != NULL) {
        char *m = rm_config_mask_conninfo(s->conninfo);
        fputs("    conninfo: ", f);
        if (m != NULL && strstr(m, "password=") == NULL) {
            /* Nothing to hide: print it as written. */
            free(m);
            m = strdup(s->conninfo);
        }
        if (m != NULL)
            yq(f, m, 1);
        else
            fputs("\"" RM_CONFIG_MASK "\"", f);
        fputc('\n', f);
        free(m);
    } else {
        fputs("    conninfo: null\n", f);
    }
    fputs("    ssl:\n", f);
    if (s->ssl.enabled == PGCM_SSL_DEFAULT)
        y_str(f, 6, "enabled", NULL, "PGSSLMODE", e->sslmode,
              "libpq decides (sslmode=prefer)");
    else
        y_bool(f, 6, "enabled", s->ssl.enabled == PGCM_SSL_ENABLED);
    y_bool(f, 6, "reject_unauthorized", s->ssl.reject_unauthorized);
    y_str(f, 6, "ca", s->ssl.ca, NULL, NULL, NULL);
    y_str(f, 6, "cert", s->ssl.cert, NULL, NULL, NULL);
    y_str(f, 6, "key", s->ssl.key, NULL, NULL, NULL);
    if (s->ssh.host == NULL) {
        fputs("    ssh: false\n", f);
    } else {
        fputs("    ssh:\n", f);
        y_str(f, 6, "host", s->ssh.host, NULL, NULL, NULL);
        fprintf(f, "      port: %d\n", s->ssh.port);
        y_str(f, 6, "user", s->ssh.user, NULL, NULL, "the login name");
        y_str(f, 6, "key_path", s->ssh.key_path, NULL, NULL, NULL);
        y_str(f, 6, "known_hosts", s->ssh.known_hosts, NULL, NULL,
              "~/.ssh/known_hosts");
        y_secret(f, 6, "passphrase", s->ssh.passphrase);
    }
    fputs("    pool:\n", f);
    fprintf(f, "      min: %d\n      max: %d\n", s->pool.min, s->pool.max);
    y_ms(f, 6, "idle_timeout", s->pool.idle_timeout_ms);
    y_ms(f, 6, "acquire_timeout", s->pool.acquire_timeout_ms);
    y_ms(f, 6, "lifetime", s->pool.max_lifetime_ms);
    y_ms(f, 6, "leak_threshold", s->pool.leak_threshold_ms);
}

static void print_yaml(const rm_config_t *cfg, FILE *f)
{
    const pgcm_options_t *o = &cfg->options;
    if (cfg->env_only) {
        fputs("# replmon configuration from the environment (no file); "
              "secrets masked\n",
              f);
    } else {
        fputs("# replmon configuration resolved from ", f);
        comment_text(f, cfg->path ? cfg->path : "memory");
        fputs("; secrets masked\n", f);
    }
    fputs("manager:\n", f);
    y_ms(f, 2, "health_check_interval", o->health_check_interval_ms);
    y_ms(f, 2, "health_check_timeout", o->health_check_timeout_ms);
    y_ms(f, 2, "liveness_interval", o->liveness_interval_ms);
    y_ms(f, 2, "liveness_timeout", o->liveness_timeout_ms);
    y_ms(f, 2, "suspect_probe_timeout", o->suspect_probe_timeout_ms);
    fprintf(f, "  unhealthy_threshold: %d\n", o->unhealthy_threshold);
    y_ms(f, 2, "degraded_latency", o->degraded_latency_ms);
    y_ms(f, 2, "query_timeout", o->query_timeout_ms);
    y_ms(f, 2, "connect_timeout", o->connect_timeout_ms);
    y_ms(f, 2, "shutdown_timeout", o->shutdown_timeout_ms);
    y_ms(f, 2, "remove_timeout", o->remove_timeout_ms);
    y_ms(f, 2, "cancel_grace", o->cancel_grace_ms);
    fputs("  backoff:\n", f);
    y_ms(f, 4, "initial", o->backoff_initial_ms);
    y_ms(f, 4, "max", o->backoff_max_ms);
    y_ms(f, 2, "stats_interval", o->stats_interval_ms);
    y_str(f, 2, "probe_query", o->probe_query, NULL, NULL, NULL);
    y_str(f, 2, "application_name", o->application_name, NULL, NULL, NULL);

    fputs("nodes:\n", f);
    for (size_t i = 0; i < cfg->node_count; i++)
        print_node_yaml(cfg, &cfg->nodes[i], f);

    int explicit_clusters = 0;
    for (size_t i = 0; i < cfg->cluster_count; i++)
        explicit_clusters |= !cfg->clusters[i].implicit;
    if (explicit_clusters) {
        fputs("clusters:\n", f);
        for (size_t i = 0; i < cfg->cluster_count; i++) {
            const rm_cluster_t *cl = &cfg->clusters[i];
            fputs("  ", f);
            yq(f, cl->name, 0);
            fputs(":\n    nodes: [", f);
            for (size_t k = 0; k < cl->node_count; k++) {
                if (k)
                    fputs(", ", f);
                yq(f, cl->node_ids[k], 1);
            }
            fputs("]\n", f);
            y_bool(f, 4, "default", cl->is_default);
        }
    } else {
        fputs("# clusters: none; every node is in the implicit cluster "
              "\"default\"\n",
              f);
    }
    const rm_thresholds_t *t = &cfg->thresholds;
    fputs("thresholds:\n", f);
    fprintf(f, "  replication_lag: { warning: %lldms, critical: %lldms }\n",
            (long long)t->lag_warning_ms, (long long)t->lag_critical_ms);
    fprintf(
        f, "  slot_retention: { warning: %lldB, critical: %lldB }  # bytes\n",
        (long long)t->slot_warning_bytes, (long long)t->slot_critical_bytes);
    fprintf(f, "  conflict_rate: { warning: %.15g, critical: %.15g }\n",
            t->conflict_rate_warning, t->conflict_rate_critical);
    fprintf(f, "pglogical: %s\n", rm_pglogical_mode_name(cfg->pglogical));
    fputs("theme:\n  name: ", f);
    yq(f, cfg->theme.name ? cfg->theme.name : "dark", 1);
    fputc('\n', f);
    if (cfg->theme.color_count > 0) {
        fputs("  colors:\n", f);
        for (size_t i = 0; i < cfg->theme.color_count; i++) {
            fputs("    ", f);
            yq(f, cfg->theme.colors[i].role, 0);
            fputs(": ", f);
            yq(f, cfg->theme.colors[i].color, 1);
            fputc('\n', f);
        }
    }
    fputs("serve:\n", f);
    y_str(f, 2, "listen", cfg->serve.listen, NULL, NULL, NULL);
    y_ms(f, 2, "interval", cfg->serve.interval_ms);
    fputs("event_log:\n", f);
    y_str(f, 2, "node", cfg->event_log.node, NULL, NULL, "no event table");
    fprintf(f, "  queue_size: %lld\n", (long long)cfg->event_log.queue_size);
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

static json_t *jsecret(const char *s)
{
    return s ? json_string(RM_CONFIG_MASK) : json_null();
}

static int jset(json_t *o, const char *k, json_t *v)
{
    if (v == NULL)
        return -1;
    return json_object_set_new(o, k, v);
}

static json_t *node_json(const rm_config_t *cfg, const pgcm_node_spec_t *s)
{
    (void)cfg;
    json_t *n = json_object();
    json_t *ssl = json_object();
    json_t *pool = json_object();
    int rc = 0;
    if (n == NULL || ssl == NULL || pool == NULL) {
        json_decref(n);
        json_decref(ssl);
        json_decref(pool);
        return NULL;
    }
    rc |= jset(n, "id", jstr(s->id));
    rc |= jset(n, "host", jstr(s->host));
    rc |= jset(n, "port", s->port > 0 ? json_integer(s->port) : json_null());
    rc |= jset(n, "database", jstr(s->database));
    rc |= jset(n, "user", jstr(s->user));
    rc |= jset(n, "password", jsecret(s->password));
    rc |= jset(n, "application_name", jstr(s->application_name));
    rc |= jset(n, "connect_timeout_ms",
               s->connect_timeout_ms > 0 ? json_integer(s->connect_timeout_ms)
                                         : json_null());
    if (s->conninfo != NULL) {
        char *m = rm_config_mask_conninfo(s->conninfo);
        if (m != NULL && strstr(m, "password=") == NULL) {
            free(m);
            m = strdup(s->conninfo);
        }
        rc |= jset(n, "conninfo", jstr(m ? m : RM_CONFIG_MASK));
        free(m);
    } else {
        rc |= jset(n, "conninfo", json_null());
    }
    rc |= jset(ssl, "enabled",
               s->ssl.enabled == PGCM_SSL_DEFAULT
                   ? json_null()
                   : json_boolean(s->ssl.enabled == PGCM_SSL_ENABLED));
    rc |= jset(ssl, "reject_unauthorized",
               json_boolean(s->ssl.reject_unauthorized));
    rc |= jset(ssl, "ca", jstr(s->ssl.ca));
    rc |= jset(ssl, "cert", jstr(s->ssl.cert));
    rc |= jset(ssl, "key", jstr(s->ssl.key));
    rc |= jset(n, "ssl", ssl);
    if (s->ssh.host != NULL) {
        json_t *ssh = json_object();
        if (ssh == NULL) {
            json_decref(n);
            json_decref(pool);
            return NULL;
        }
        rc |= jset(ssh, "host", jstr(s->ssh.host));
        rc |= jset(ssh, "port", json_integer(s->ssh.port));
        rc |= jset(ssh, "user", jstr(s->ssh.user));
        rc |= jset(ssh, "key_path", jstr(s->ssh.key_path));
        rc |= jset(ssh, "known_hosts", jstr(s->ssh.known_hosts));
        rc |= jset(ssh, "passphrase", jsecret(s->ssh.passphrase));
        rc |= jset(n, "ssh", ssh);
    } else {
        rc |= jset(n, "ssh", json_null());
    }
    rc |= jset(pool, "min", json_integer(s->pool.min));
    rc |= jset(pool, "max", json_integer(s->pool.max));
    rc |= jset(pool, "idle_timeout_ms", json_integer(s->pool.idle_timeout_ms));
    rc |= jset(pool, "acquire_timeout_ms",
               json_integer(s->pool.acquire_timeout_ms));
    rc |= jset(pool, "lifetime_ms", json_integer(s->pool.max_lifetime_ms));
    rc |= jset(pool, "leak_threshold_ms",
               json_integer(s->pool.leak_threshold_ms));
    rc |= jset(n, "pool", pool);
    if (rc != 0) {
        json_decref(n);
        return NULL;
    }
    return n;
}

static json_t *config_json(const rm_config_t *cfg)
{
    const pgcm_options_t *o = &cfg->options;
    json_t *root = json_object();
    json_t *mgr = json_object();
    json_t *backoff = json_object();
    json_t *nodes = json_array();
    json_t *clusters = json_array();
    json_t *th = json_object();
    json_t *theme = json_object();
    json_t *colors = json_object();
    json_t *env = json_object();
    int rc = 0;
    if (!root || !mgr || !backoff || !nodes || !clusters || !th || !theme ||
        !colors || !env) {
        json_decref(root);
        json_decref(mgr);
        json_decref(backoff);
        json_decref(nodes);
        json_decref(clusters);
        json_decref(th);
        json_decref(theme);
        json_decref(colors);
        json_decref(env);
        return NULL;
    }
    rc |= jset(root, "source", jstr(cfg->path));
    rc |= jset(root, "env_only", json_boolean(cfg->env_only));
    struct {
        const char *k;
        int v;
    } m[] = {
        {"health_check_interval_ms", o->health_check_interval_ms},
        {"health_check_timeout_ms", o->health_check_timeout_ms},
        {"liveness_interval_ms", o->liveness_interval_ms},
        {"liveness_timeout_ms", o->liveness_timeout_ms},
        {"suspect_probe_timeout_ms", o->suspect_probe_timeout_ms},
        {"unhealthy_threshold", o->unhealthy_threshold},
        {"degraded_latency_ms", o->degraded_latency_ms},
        {"query_timeout_ms", o->query_timeout_ms},
        {"connect_timeout_ms", o->connect_timeout_ms},
        {"shutdown_timeout_ms", o->shutdown_timeout_ms},
        {"remove_timeout_ms", o->remove_timeout_ms},
        {"cancel_grace_ms", o->cancel_grace_ms},
        {"stats_interval_ms", o->stats_interval_ms},
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(*m); i++)
        rc |= jset(mgr, m[i].k, json_integer(m[i].v));
    rc |= jset(backoff, "initial_ms", json_integer(o->backoff_initial_ms));
    rc |= jset(backoff, "max_ms", json_integer(o->backoff_max_ms));
    rc |= jset(mgr, "backoff", backoff);
    rc |= jset(mgr, "probe_query", jstr(o->probe_query));
    rc |= jset(mgr, "application_name", jstr(o->application_name));
    rc |= jset(root, "manager", mgr);

    for (size_t i = 0; i < cfg->node_count; i++) {
        json_t *n = node_json(cfg, &cfg->nodes[i]);
        rc |= n ? json_array_append_new(nodes, n) : -1;
    }
    rc |= jset(root, "nodes", nodes);

    for (size_t i = 0; i < cfg->cluster_count; i++) {
        const rm_cluster_t *cl = &cfg->clusters[i];
        json_t *c = json_object();
        json_t *ids = json_array();
        if (c == NULL || ids == NULL) {
            json_decref(c);
            json_decref(ids);
            rc = -1;
            continue;
        }
        for (size_t k = 0; k < cl->node_count; k++)
            rc |= json_array_append_new(ids, jstr(cl->node_ids[k]));
        rc |= jset(c, "name", jstr(cl->name));
        rc |= jset(c, "nodes", ids);
        rc |= jset(c, "default", json_boolean(cl->is_default));
        rc |= jset(c, "implicit", json_boolean(cl->implicit));
        rc |= json_array_append_new(clusters, c);
    }
    rc |= jset(root, "clusters", clusters);

    const rm_thresholds_t *t = &cfg->thresholds;
    rc |=
        jset(th, "replication_lag",
             json_pack("{s:I,s:I}", "warning_ms", (json_int_t)t->lag_warning_ms,
                       "critical_ms", (json_int_t)t->lag_critical_ms));
    rc |= jset(th, "slot_retention",
               json_pack("{s:I,s:I}", "warning_bytes",
                         (json_int_t)t->slot_warning_bytes, "critical_bytes",
                         (json_int_t)t->slot_critical_bytes));
    rc |= jset(th, "conflict_rate",
               json_pack("{s:f,s:f}", "warning", t->conflict_rate_warning,
                         "critical", t->conflict_rate_critical));
    rc |= jset(root, "thresholds", th);
    rc |= jset(root, "pglogical",
               cfg->pglogical == RM_PGLOGICAL_AUTO
                   ? json_string("auto")
                   : json_boolean(cfg->pglogical == RM_PGLOGICAL_ON));
    rc |= jset(theme, "name", jstr(cfg->theme.name));
    for (size_t i = 0; i < cfg->theme.color_count; i++)
        rc |= jset(colors, cfg->theme.colors[i].role,
                   jstr(cfg->theme.colors[i].color));
    rc |= jset(theme, "colors", colors);
    rc |= jset(root, "theme", theme);
    rc |= jset(root, "serve",
               json_pack("{s:o,s:I}", "listen", jstr(cfg->serve.listen),
                         "interval_ms", (json_int_t)cfg->serve.interval_ms));
    rc |= jset(root, "event_log",
               json_pack("{s:o,s:I}", "node", jstr(cfg->event_log.node),
                         "queue_size", (json_int_t)cfg->event_log.queue_size));

    const rm_env_view_t *e = &cfg->env;
    rc |= jset(env, "PGHOST", jstr(e->host));
    rc |= jset(env, "PGPORT", jstr(e->port));
    rc |= jset(env, "PGUSER", jstr(e->user));
    rc |= jset(env, "PGDATABASE", jstr(e->database));
    rc |= jset(env, "PGSSLMODE", jstr(e->sslmode));
    rc |= jset(env, "PGPASSWORD",
               e->password_set ? json_string(RM_CONFIG_MASK) : json_null());
    rc |= jset(root, "env", env);
    if (rc != 0) {
        json_decref(root);
        return NULL;
    }
    return root;
}

int rm_config_print(const rm_config_t *cfg, rm_print_format_t format, FILE *out)
{
    if (cfg == NULL || out == NULL)
        return PGCM_EINVAL;
    if (format == RM_PRINT_JSON) {
        json_t *j = config_json(cfg);
        if (j == NULL)
            return PGCM_ENOMEM;
        int rc = json_dumpf(j, out, JSON_INDENT(2));
        json_decref(j);
        fputc('\n', out);
        if (rc != 0)
            return PGCM_EINVAL;
    } else {
        print_yaml(cfg, out);
    }
    return ferror(out) ? PGCM_EINVAL : PGCM_OK;
}
