/* SPDX-License-Identifier: MIT */
/*
 * print.c - the resolved configuration for people and scripts (replmon
 * check-config, R5): YAML that reads back with every default filled in,
 * or JSON (jansson). Every password, SSH passphrase and conninfo password
 * is printed as "********". Fields left to libpq are printed as null with
 * what the PG* environment says. Both formats are written through one
 * buffer, node by node, so that printing stays linear in time and flat in
 * memory however many nodes there are.
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

static void y_str(yout_t *o, int ind, const char *key, const char *v,
                  const char *env_name, const char *env_value,
                  const char *libpq_default)
{
    y_key(o, ind, key);
    if (v != NULL) {
        yq(o, v, 1);
        y_char(o, '\n');
        return;
    }
    y_puts(o, "null");
    if (env_name != NULL && env_value != NULL) {
        y_puts(o, "  # libpq uses ");
        y_puts(o, env_name);
        y_char(o, '=');
        comment_text(o, env_value);
    } else if (libpq_default != NULL) {
        y_puts(o, "  # ");
        y_puts(o, libpq_default);
    }
    y_char(o, '\n');
}

static void y_secret(yout_t *o, int ind, const char *key, const char *v)
{
    y_key(o, ind, key);
    y_puts(o, v != NULL ? "\"" RM_CONFIG_MASK "\"\n" : "null\n");
}

static void y_num(yout_t *o, int ind, const char *key, long long v)
{
    y_key(o, ind, key);
    y_int(o, v);
    y_char(o, '\n');
}

static void y_ms(yout_t *o, int ind, const char *key, long long ms)
{
    y_key(o, ind, key);
    y_int(o, ms);
    y_put(o, "ms\n", 3);
}

static void y_bool(yout_t *o, int ind, const char *key, int b)
{
    y_key(o, ind, key);
    y_puts(o, b ? "true\n" : "false\n");
}

/* Which connection fields a node's conninfo sets (one parse for all). */
typedef struct conninfo_sets {
    int host, port, dbname, user, password;
} conninfo_sets_t;

static conninfo_sets_t conninfo_sets(const char *conninfo)
{
    conninfo_sets_t set = {0};
    if (conninfo == NULL)
        return set;
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    PQfreemem(perr);
    if (opts == NULL)
        return set;
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL)
            continue;
        const char *k = o->keyword;
        set.host |= strcmp(k, "host") == 0 || strcmp(k, "hostaddr") == 0;
        set.port |= strcmp(k, "port") == 0;
        set.dbname |= strcmp(k, "dbname") == 0;
        set.user |= strcmp(k, "user") == 0;
        set.password |= strcmp(k, "password") == 0;
    }
    PQconninfoFree(opts);
    return set;
}

static void print_node_yaml(const rm_config_t *cfg, const pgcm_node_spec_t *s,
                            yout_t *o)
{
    const rm_env_view_t *e = &cfg->env;
    y_put(o, "  ", 2);
    yq(o, s->id, 0);
    y_put(o, ":\n", 2);
    /* A field the node's conninfo sets comes from there, not from PG*. */
    conninfo_sets_t ci = conninfo_sets(s->conninfo);
    static const char from_ci[] = "from conninfo";
    if (ci.host)
        y_str(o, 4, "host", s->host, NULL, NULL, from_ci);
    else
        y_str(o, 4, "host", s->host, "PGHOST", e->host,
              "libpq default (local socket)");
    if (s->port > 0)
        y_num(o, 4, "port", s->port);
    else if (ci.port)
        y_str(o, 4, "port", NULL, NULL, NULL, from_ci);
    else if (e->port != NULL)
        y_str(o, 4, "port", NULL, "PGPORT", e->port, NULL);
    else
        y_str(o, 4, "port", NULL, NULL, NULL, "libpq default (5432)");
    if (ci.dbname)
        y_str(o, 4, "database", s->database, NULL, NULL, from_ci);
    else
        y_str(o, 4, "database", s->database, "PGDATABASE", e->database,
              "libpq default (the user name)");
    if (ci.user)
        y_str(o, 4, "user", s->user, NULL, NULL, from_ci);
    else
        y_str(o, 4, "user", s->user, "PGUSER", e->user,
              "libpq default (the login name)");
    if (s->password != NULL)
        y_secret(o, 4, "password", s->password);
    else if (ci.password)
        y_str(o, 4, "password", NULL, NULL, NULL, from_ci);
    else if (e->password_set)
        y_str(o, 4, "password", NULL, "PGPASSWORD", RM_CONFIG_MASK, NULL);
    else
        y_str(o, 4, "password", NULL, NULL, NULL, "libpq: ~/.pgpass or none");
    y_str(o, 4, "application_name", s->application_name, NULL, NULL,
          cfg->options.application_name ? "the manager's application_name"
                                        : NULL);
    if (s->connect_timeout_ms > 0) {
        y_ms(o, 4, "connect_timeout", s->connect_timeout_ms);
    } else {
        y_puts(o, "    connect_timeout: null  # the manager's (");
        y_int(o, cfg->options.connect_timeout_ms);
        y_put(o, "ms)\n", 4);
    }
    if (s->conninfo != NULL) {
        char *m = rm_config_mask_conninfo(s->conninfo);
        y_puts(o, "    conninfo: ");
        if (m != NULL && strstr(m, "password=") == NULL) {
            /* Nothing to hide: print it as written. */
            free(m);
            m = strdup(s->conninfo);
        }
        if (m != NULL)
            yq(o, m, 1);
        else
            y_puts(o, "\"" RM_CONFIG_MASK "\"");
        y_char(o, '\n');
        free(m);
    } else {
        y_puts(o, "    conninfo: null\n");
    }
    y_puts(o, "    ssl:\n");
    if (s->ssl.enabled == PGCM_SSL_DEFAULT)
        y_str(o, 6, "enabled", NULL, "PGSSLMODE", e->sslmode,
              "libpq decides (sslmode=prefer)");
    else
        y_bool(o, 6, "enabled", s->ssl.enabled == PGCM_SSL_ENABLED);
    y_bool(o, 6, "reject_unauthorized", s->ssl.reject_unauthorized);
    y_str(o, 6, "ca", s->ssl.ca, NULL, NULL, NULL);
    y_str(o, 6, "cert", s->ssl.cert, NULL, NULL, NULL);
    y_str(o, 6, "key", s->ssl.key, NULL, NULL, NULL);
    if (s->ssh.host == NULL) {
        y_puts(o, "    ssh: false\n");
    } else {
        y_puts(o, "    ssh:\n");
        y_str(o, 6, "host", s->ssh.host, NULL, NULL, NULL);
        y_num(o, 6, "port", s->ssh.port);
        y_str(o, 6, "user", s->ssh.user, NULL, NULL, "the login name");
        y_str(o, 6, "key_path", s->ssh.key_path, NULL, NULL, NULL);
        y_str(o, 6, "known_hosts", s->ssh.known_hosts, NULL, NULL,
              "~/.ssh/known_hosts");
        y_secret(o, 6, "passphrase", s->ssh.passphrase);
    }
    y_puts(o, "    pool:\n");
    y_num(o, 6, "min", s->pool.min);
    y_num(o, 6, "max", s->pool.max);
    y_ms(o, 6, "idle_timeout", s->pool.idle_timeout_ms);
    y_ms(o, 6, "acquire_timeout", s->pool.acquire_timeout_ms);
    y_ms(o, 6, "lifetime", s->pool.max_lifetime_ms);
    y_ms(o, 6, "leak_threshold", s->pool.leak_threshold_ms);
}

/* A number as %.15g writes it (the thresholds' rates). */
static void y_double(yout_t *o, double v)
{
    char b[64];
    int n = snprintf(b, sizeof(b), "%.15g", v);
    if (n > 0)
        y_put(o, b, (size_t)n < sizeof(b) ? (size_t)n : sizeof(b) - 1);
}

static void print_yaml(const rm_config_t *cfg, yout_t *f)
{
    const pgcm_options_t *o = &cfg->options;
    if (cfg->env_only) {
        y_puts(f, "# replmon configuration from the environment (no file); "
                  "secrets masked\n");
    } else {
        y_puts(f, "# replmon configuration resolved from ");
        comment_text(f, cfg->path ? cfg->path : "memory");
        y_puts(f, "; secrets masked\n");
    }
    y_puts(f, "manager:\n");
    y_ms(f, 2, "health_check_interval", o->health_check_interval_ms);
    y_ms(f, 2, "health_check_timeout", o->health_check_timeout_ms);
    y_ms(f, 2, "liveness_interval", o->liveness_interval_ms);
    y_ms(f, 2, "liveness_timeout", o->liveness_timeout_ms);
    y_ms(f, 2, "suspect_probe_timeout", o->suspect_probe_timeout_ms);
    y_num(f, 2, "unhealthy_threshold", o->unhealthy_threshold);
    y_ms(f, 2, "degraded_latency", o->degraded_latency_ms);
    y_ms(f, 2, "query_timeout", o->query_timeout_ms);
    y_ms(f, 2, "connect_timeout", o->connect_timeout_ms);
    y_ms(f, 2, "shutdown_timeout", o->shutdown_timeout_ms);
    y_ms(f, 2, "remove_timeout", o->remove_timeout_ms);
    y_ms(f, 2, "cancel_grace", o->cancel_grace_ms);
    y_puts(f, "  backoff:\n");
    y_ms(f, 4, "initial", o->backoff_initial_ms);
    y_ms(f, 4, "max", o->backoff_max_ms);
    y_ms(f, 2, "stats_interval", o->stats_interval_ms);
    y_str(f, 2, "probe_query", o->probe_query, NULL, NULL, NULL);
    y_str(f, 2, "application_name", o->application_name, NULL, NULL, NULL);

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
    const rm_thresholds_t *t = &cfg->thresholds;
    y_puts(f, "thresholds:\n  replication_lag: { warning: ");
    y_int(f, t->lag_warning_ms);
    y_puts(f, "ms, critical: ");
    y_int(f, t->lag_critical_ms);
    y_puts(f, "ms }\n  slot_retention: { warning: ");
    y_int(f, t->slot_warning_bytes);
    y_puts(f, "B, critical: ");
    y_int(f, t->slot_critical_bytes);
    y_puts(f, "B }  # bytes\n  conflict_rate: { warning: ");
    y_double(f, t->conflict_rate_warning);
    y_puts(f, ", critical: ");
    y_double(f, t->conflict_rate_critical);
    y_puts(f, " }\n");
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
    y_str(f, 2, "listen", cfg->serve.listen, NULL, NULL, NULL);
    y_ms(f, 2, "interval", cfg->serve.interval_ms);
    y_puts(f, "event_log:\n");
    y_str(f, 2, "node", cfg->event_log.node, NULL, NULL, "no event table");
    y_num(f, 2, "queue_size", cfg->event_log.queue_size);
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

static json_t *manager_json(const pgcm_options_t *o)
{
    json_t *mgr = json_object();
    json_t *backoff = json_object();
    if (mgr == NULL || backoff == NULL) {
        json_decref(mgr);
        json_decref(backoff);
        return NULL;
    }
    int rc = 0;
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
    if (rc != 0) {
        json_decref(mgr);
        return NULL;
    }
    return mgr;
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

static json_t *thresholds_json(const rm_thresholds_t *t)
{
    json_t *th = json_object();
    if (th == NULL)
        return NULL;
    int rc = 0;
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
    if (rc != 0) {
        json_decref(th);
        return NULL;
    }
    return th;
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
    rc |= jset(env, "PGHOST", jstr(e->host));
    rc |= jset(env, "PGPORT", jstr(e->port));
    rc |= jset(env, "PGUSER", jstr(e->user));
    rc |= jset(env, "PGDATABASE", jstr(e->database));
    rc |= jset(env, "PGSSLMODE", jstr(e->sslmode));
    rc |= jset(env, "PGPASSWORD",
               e->password_set ? json_string(RM_CONFIG_MASK) : json_null());
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
    rc |= j_member(o, "manager", manager_json(&cfg->options), 0);
    y_puts(o, ",\n  \"nodes\": [");
    for (size_t i = 0; i < cfg->node_count && rc == 0; i++) {
        y_puts(o, i ? ",\n    " : "\n    ");
        rc |= j_value(o, node_json(cfg, &cfg->nodes[i]), 2);
    }
    y_puts(o, cfg->node_count ? "\n  ]" : "]");
    y_puts(o, ",\n  \"clusters\": [");
    for (size_t i = 0; i < cfg->cluster_count && rc == 0; i++) {
        y_puts(o, i ? ",\n    " : "\n    ");
        rc |= j_value(o, cluster_json(&cfg->clusters[i]), 2);
    }
    y_puts(o, cfg->cluster_count ? "\n  ]" : "]");
    rc |= j_member(o, "thresholds", thresholds_json(&cfg->thresholds), 0);
    rc |= j_member(o, "pglogical",
                   cfg->pglogical == RM_PGLOGICAL_AUTO
                       ? json_string("auto")
                       : json_boolean(cfg->pglogical == RM_PGLOGICAL_ON),
                   0);
    rc |= j_member(o, "theme", theme_json(&cfg->theme), 0);
    rc |= j_member(o, "serve",
                   json_pack("{s:o,s:I}", "listen", jstr(cfg->serve.listen),
                             "interval_ms", (json_int_t)cfg->serve.interval_ms),
                   0);
    rc |=
        j_member(o, "event_log",
                 json_pack("{s:o,s:I}", "node", jstr(cfg->event_log.node),
                           "queue_size", (json_int_t)cfg->event_log.queue_size),
                 0);
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
