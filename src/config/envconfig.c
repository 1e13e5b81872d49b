/* SPDX-License-Identifier: MIT */
/*
 * envconfig.c - environment-only mode (S2): with no configuration file,
 * one node whose connection fields stay NULL so that libpq reads PGHOST,
 * PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGSSLMODE and ~/.pgpass itself,
 * plus the ChatGenius seed's variables: POSTGRES_MAX_CONNECTIONS,
 * POSTGRES_IDLE_TIMEOUT and POSTGRES_HEALTH_CHECK_INTERVAL (plain numbers
 * are milliseconds, as in the seed; "30s" works too), SSH_HOST, SSH_USER
 * and SSH_KEY_PATH.
 */
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

static const char *const where = "environment";

/* The variable's value, or NULL when unset or empty. */
static const char *env(rm_getenv_fn fn, const char *name)
{
    const char *v = rm__getenv(fn, name);
    return (v != NULL && v[0] != '\0') ? v : NULL;
}

static int env_duration(rm_diags_t *d, rm_getenv_fn fn, const char *name,
                        int *dst)
{
    const char *v = env(fn, name);
    if (v == NULL)
        return 0;
    int64_t ms;
    const char *why;
    if (rm_config_parse_duration(v, 1, &ms, &why) != 0) {
        rm__diag_add(d, RM_DIAG_ERROR, where, 0, 0, name,
                     "'%.40s': %s (a plain number means milliseconds)", v, why);
        return -1;
    }
    if (ms <= 0 || ms > 0x7fffffff) {
        rm__diag_add(d, RM_DIAG_ERROR, where, 0, 0, name,
                     "'%.40s' is out of range; give a positive number of "
                     "milliseconds such as 30000, or a duration such as 30s",
                     v);
        return -1;
    }
    *dst = (int)ms;
    return 0;
}

int rm_config_from_env(rm_getenv_fn getenv_fn, rm_config_t **out,
                       rm_diags_t *diags)
{
    if (out == NULL)
        return PGCM_EINVAL;
    *out = NULL;
    rm_diags_t local;
    rm_diags_init(&local);
    rm_diags_t *d = diags ? diags : &local;
    size_t first = d->count, errors_before = d->errors;

    rm_config_t *cfg = rm__config_new(getenv_fn);
    if (cfg == NULL)
        return PGCM_ENOMEM;
    cfg->env_only = 1;
    pgcm_node_spec_t *spec = rm__config_alloc(cfg, sizeof(*spec));
    if (spec == NULL)
        goto oom;
    pgcm_node_spec_init(spec);

    /* The node's id: PGHOST when it reads as one host name. */
    const char *host = env(getenv_fn, "PGHOST");
    if (host != NULL && host[0] != '/' &&
        rm__id_problem(host, strlen(host)) == NULL) {
        spec->id = rm__config_strdup(cfg, host);
    } else {
        spec->id = rm__config_strdup(cfg, "default");
        cfg->priv->id_from_env_default = 1;
    }
    if (spec->id == NULL)
        goto oom;

    const char *v = env(getenv_fn, "POSTGRES_MAX_CONNECTIONS");
    if (v != NULL) {
        int64_t n;
        const char *why;
        if (rm__parse_int(v, &n, &why) != 0 || n < 1 || n > 10000) {
            rm__diag_add(d, RM_DIAG_ERROR, where, 0, 0,
                         "POSTGRES_MAX_CONNECTIONS",
                         "'%.40s' is not a connection count; use a whole "
                         "number from 1 to 10000",
                         v);
        } else {
            spec->pool.max = (int)n;
            if (spec->pool.min > spec->pool.max)
                spec->pool.min = spec->pool.max;
        }
    }
    env_duration(d, getenv_fn, "POSTGRES_IDLE_TIMEOUT",
                 &spec->pool.idle_timeout_ms);
    env_duration(d, getenv_fn, "POSTGRES_HEALTH_CHECK_INTERVAL",
                 &cfg->options.health_check_interval_ms);

    const char *ssh_host = env(getenv_fn, "SSH_HOST");
    if (ssh_host != NULL) {
        spec->ssh.host = rm__config_strdup(cfg, ssh_host);
        if (spec->ssh.host == NULL)
            goto oom;
        const char *user = env(getenv_fn, "SSH_USER");
        if (user != NULL &&
            (spec->ssh.user = rm__config_strdup(cfg, user)) == NULL)
            goto oom;
        const char *key = env(getenv_fn, "SSH_KEY_PATH");
        if (key != NULL) {
            char *e = rm__expand_home(key, getenv_fn);
            if (e == NULL)
                goto oom;
            spec->ssh.key_path = rm__config_strdup(cfg, e);
            free(e);
            if (spec->ssh.key_path == NULL)
                goto oom;
        }
    } else {
        const char *orphans[] = {"SSH_USER", "SSH_KEY_PATH"};
        for (size_t i = 0; i < 2; i++) {
            if (env(getenv_fn, orphans[i]) != NULL)
                rm__diag_add(d, RM_DIAG_WARNING, where, 0, 0, orphans[i],
                             "ignored because SSH_HOST is not set; set "
                             "SSH_HOST to reach the server through an SSH "
                             "tunnel");
        }
    }
    cfg->nodes = spec;
    cfg->node_count = 1;
    if (rm__config_env_view(cfg, getenv_fn) != 0 ||
        rm__config_finish_clusters(cfg) != 0)
        goto oom;
    rm__diags_sort(d, first);
    if (d->errors > errors_before) {
        rm_config_free(cfg);
        rm_diags_free(&local);
        return PGCM_EINVAL;
    }
    rm_diags_free(&local);
    *out = cfg;
    return PGCM_OK;
oom:
    rm_config_free(cfg);
    rm_diags_free(&local);
    return PGCM_ENOMEM;
}
