/* SPDX-License-Identifier: MIT */
/*
 * envconfig.c - environment-only mode (S2): with no configuration file,
 * one node whose connection fields stay NULL so that libpq reads PGHOST,
 * PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGSSLMODE and ~/.pgpass itself,
 * plus the ChatGenius seed's variables, which the schema binds to fields
 * (rm_schema_env in schema.c: POSTGRES_MAX_CONNECTIONS, ..., SSH_KEY_PATH;
 * their types and bounds are the fields'; a plain duration is
 * milliseconds, as in the seed, and "30s" works too).
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

/* Set binding b's field in base from the variable's value v. Returns 0
 * (set, or a problem reported), -2 out of memory. */
static int env_set_field(rm_config_t *cfg, rm_diags_t *d, rm_getenv_fn fn,
                         const rm_env_binding_t *b, const char *v, void *base)
{
    const rm_field_t *f = b->field;
    char *at = (char *)base + f->offset;
    int64_t n;
    const char *why;
    switch (f->type) {
    case RM_F_INT:
        if (rm__parse_int(v, &n, &why) != 0 || n < f->min || n > f->max) {
            rm__diag_add(d, RM_DIAG_ERROR, where, 0, 0, b->var,
                         "'%.40s' is not %s; use a whole number from %lld to "
                         "%lld",
                         v, b->what, (long long)f->min, (long long)f->max);
            return 0;
        }
        *(int *)(void *)at = (int)n;
        return 0;
    case RM_F_DURATION:
        /* A plain number is milliseconds here, as in the seed. */
        if (rm_config_parse_duration(v, 1, &n, &why) != 0) {
            rm__diag_add(d, RM_DIAG_ERROR, where, 0, 0, b->var,
                         "'%.40s': %s (a plain number means milliseconds)", v,
                         why);
            return 0;
        }
        if (n < f->min || n > f->max) {
            rm__diag_add(d, RM_DIAG_ERROR, where, 0, 0, b->var,
                         "'%.40s' is out of range; give a positive number of "
                         "milliseconds such as 30000, or a duration such as "
                         "30s",
                         v);
            return 0;
        }
        *(int *)(void *)at = (int)n;
        return 0;
    case RM_F_STRING:
    case RM_F_PATH:
    case RM_F_SECRET: {
        char *e = f->type == RM_F_PATH ? rm__expand_home(v, fn) : strdup(v);
        if (e == NULL)
            return -2;
        const char *s = rm__config_strdup(cfg, e);
        explicit_bzero(e, strlen(e));
        free(e);
        if (s == NULL)
            return -2;
        *(const char **)(void *)at = s;
        return 0;
    }
    default:
        return 0; /* no variable is bound to other types */
    }
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

    /* The variables of the schema, in its order. */
    for (size_t i = 0; i < rm_schema_env_count; i++) {
        const rm_env_binding_t *b = &rm_schema_env[i];
        const char *v = env(getenv_fn, b->var);
        if (v == NULL)
            continue;
        if (b->needs != NULL && env(getenv_fn, b->needs) == NULL) {
            rm__diag_add(d, RM_DIAG_WARNING, where, 0, 0, b->var,
                         "ignored because %s is not set; set %s %s", b->needs,
                         b->needs, b->needs_hint);
            continue;
        }
        void *base = b->manager ? (void *)&cfg->options : (void *)spec;
        if (env_set_field(cfg, d, getenv_fn, b, v, base) != 0)
            goto oom;
    }
    if (spec->pool.min > spec->pool.max)
        spec->pool.min = spec->pool.max;
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
