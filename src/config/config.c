/* SPDX-License-Identifier: MIT */
/*
 * config.c - the rm_config_t object: its string arena (secrets wiped at
 * free), defaults, the implicit cluster, lookups, command-line overrides,
 * the default file path, and the entry points that read a file or a buffer
 * (parse, validate, permission warning) or fall back to the environment.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "config_internal.h"

const char *rm__getenv(rm_getenv_fn getenv_fn, const char *name)
{
    return getenv_fn ? getenv_fn(name) : getenv(name);
}

/* ---- object and arena ---------------------------------------------------- */

rm_config_t *rm__config_new(rm_getenv_fn getenv_fn)
{
    rm_config_t *cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        return NULL;
    cfg->priv = calloc(1, sizeof(*cfg->priv));
    if (cfg->priv == NULL) {
        free(cfg);
        return NULL;
    }
    cfg->priv->getenv_fn = getenv_fn;
    rm__config_defaults(cfg);
    return cfg;
}

void rm__config_defaults(rm_config_t *cfg)
{
    /* The manager's defaults are pgcm's own (the schema's agree: see
     * test_config_schema.c); the rest are the schema's. */
    pgcm_options_init(&cfg->options);
    rm__schema_set_defaults(&rm_schema_thresholds, &cfg->thresholds);
    cfg->pglogical = (int)rm__schema_field(&rm_schema_root, "pglogical")->def;
    cfg->theme.name = rm__schema_field(&rm_schema_theme, "name")->def_text;
    rm__schema_set_defaults(&rm_schema_serve, &cfg->serve);
    rm__schema_set_defaults(&rm_schema_event_log, &cfg->event_log);
}

char *rm__config_strndup(rm_config_t *cfg, const char *s, size_t len)
{
    char *c = rm__arena_alloc(&cfg->priv->strings, len + 1);
    if (c == NULL)
        return NULL;
    memcpy(c, s, len);
    c[len] = '\0';
    return c;
}

char *rm__config_strdup(rm_config_t *cfg, const char *s)
{
    return rm__config_strndup(cfg, s, strlen(s));
}

void *rm__config_alloc(rm_config_t *cfg, size_t size)
{
    struct rm_config_priv *p = cfg->priv;
    if (p->nblocks == p->capblocks) {
        size_t cap = p->capblocks ? p->capblocks * 2 : 16;
        void **a = realloc(p->blocks, cap * sizeof(*a));
        if (a == NULL)
            return NULL;
        p->blocks = a;
        p->capblocks = cap;
    }
    void *b = calloc(1, size ? size : 1);
    if (b == NULL)
        return NULL;
    p->blocks[p->nblocks++] = b;
    return b;
}

void rm_config_free(rm_config_t *cfg)
{
    if (cfg == NULL)
        return;
    struct rm_config_priv *p = cfg->priv;
    if (p != NULL) {
        rm__arena_free(&p->strings); /* wiped: any may be a password */
        for (size_t i = 0; i < p->nblocks; i++)
            free(p->blocks[i]);
        free(p->blocks);
        rm__index_free(&p->node_index);
        free(p);
    }
    free(cfg);
}

/* ---- small helpers ---------------------------------------------------------
 */

const char *rm__id_problem(const char *s, size_t len)
{
    if (len == 0)
        return "is empty";
    if (strlen(s) != len)
        return "contains a NUL character";
    if (len > RM_ID_MAX)
        return "is longer than 63 bytes";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c == 0x7f || c == ',')
            return "contains a space, a comma or a control character";
    }
    return NULL;
}

char *rm__expand_home(const char *path, rm_getenv_fn getenv_fn)
{
    if (path[0] == '~' && (path[1] == '/' || path[1] == '\0')) {
        const char *home = rm__getenv(getenv_fn, "HOME");
        if (home != NULL && home[0] != '\0') {
            size_t hl = strlen(home), pl = strlen(path + 1);
            char *out = malloc(hl + pl + 1);
            if (out == NULL)
                return NULL;
            memcpy(out, home, hl);
            memcpy(out + hl, path + 1, pl + 1);
            return out;
        }
    }
    return strdup(path);
}

int rm__config_env_view(rm_config_t *cfg, rm_getenv_fn getenv_fn)
{
    for (int i = RM_LIBPQ_NONE + 1; i < RM_LIBPQ_COUNT; i++) {
        rm_libpq_var_t var = (rm_libpq_var_t)i;
        const char *v = rm__getenv(getenv_fn, rm_schema_libpq_names[var]);
        if (v == NULL && var == RM_LIBPQ_HOST)
            v = rm__getenv(getenv_fn, "PGHOSTADDR");
        const char **dst = rm__libpq_env_slot(&cfg->env, var);
        if (dst == NULL) { /* PGPASSWORD: its value is not kept */
            cfg->env.password_set = v != NULL;
            continue;
        }
        *dst = NULL;
        if (v != NULL && (*dst = rm__config_strdup(cfg, v)) == NULL)
            return -2;
    }
    return 0;
}

/* ---- clusters and lookups ------------------------------------------------ */

const char *rm_pglogical_mode_name(int mode)
{
    switch (mode) {
    case RM_PGLOGICAL_OFF:
        return "false";
    case RM_PGLOGICAL_ON:
        return "true";
    default:
        return "auto";
    }
}

int rm__config_index_nodes(rm_config_t *cfg)
{
    rm_index_t *ix = &cfg->priv->node_index;
    rm__index_free(ix);
    if (rm__index_reserve(ix, cfg->node_count) != 0)
        return -2;
    for (size_t i = 0; i < cfg->node_count; i++) {
        const char *id = cfg->nodes[i].id;
        if (rm__index_add(ix, id, strlen(id), i, NULL) < 0)
            return -2;
    }
    return 0;
}

size_t rm__config_node_pos(const rm_config_t *cfg, const char *id)
{
    size_t pos;
    if (rm__index_get(&cfg->priv->node_index, id, strlen(id), &pos) == 1)
        return pos;
    return (size_t)-1;
}

const pgcm_node_spec_t *rm_config_find_node(const rm_config_t *cfg,
                                            const char *id)
{
    if (cfg == NULL || id == NULL)
        return NULL;
    size_t pos = rm__config_node_pos(cfg, id);
    return pos < cfg->node_count ? &cfg->nodes[pos] : NULL;
}

/* Copy the current node specs into every cluster's spec array. */
static void refresh_cluster_specs(rm_config_t *cfg)
{
    for (size_t c = 0; c < cfg->cluster_count; c++) {
        rm_cluster_t *cl = &cfg->clusters[c];
        pgcm_node_spec_t *specs = (pgcm_node_spec_t *)cl->specs;
        if (specs == cfg->nodes)
            continue; /* the implicit cluster: nodes[] itself */
        const size_t *pos =
            cfg->priv->cluster_pos ? cfg->priv->cluster_pos[c] : NULL;
        for (size_t i = 0; i < cl->node_count; i++)
            specs[i] = cfg->nodes[pos ? pos[i] : i];
    }
}

int rm__config_finish_clusters(rm_config_t *cfg)
{
    if (cfg->priv->node_index.count != cfg->node_count &&
        rm__config_index_nodes(cfg) != 0)
        return -2;
    if (cfg->cluster_count == 0) {
        rm_cluster_t *cl = rm__config_alloc(cfg, sizeof(*cl));
        const char **ids =
            rm__config_alloc(cfg, (cfg->node_count + 1) * sizeof(*ids));
        if (cl == NULL || ids == NULL)
            return -2;
        for (size_t i = 0; i < cfg->node_count; i++)
            ids[i] = cfg->nodes[i].id;
        cl->name = "default";
        cl->node_ids = ids;
        cl->specs = cfg->nodes; /* the same nodes, in the same order */
        cl->node_count = cfg->node_count;
        cl->is_default = 1;
        cl->implicit = 1;
        cfg->clusters = cl;
        cfg->cluster_count = 1;
    }
    /* None marked default: the first one is, as in the original replmon. */
    int have_default = 0;
    for (size_t c = 0; c < cfg->cluster_count; c++)
        have_default |= cfg->clusters[c].is_default;
    if (!have_default)
        cfg->clusters[0].is_default = 1;
    for (size_t c = 0; c < cfg->cluster_count; c++) {
        rm_cluster_t *cl = &cfg->clusters[c];
        if (cl->specs == NULL) {
            cl->specs = rm__config_alloc(cfg, (cl->node_count + 1) *
                                                  sizeof(*cl->specs));
            if (cl->specs == NULL)
                return -2;
        }
    }
    refresh_cluster_specs(cfg);
    return 0;
}

const rm_cluster_t *rm_config_find_cluster(const rm_config_t *cfg,
                                           const char *name)
{
    if (cfg == NULL)
        return NULL;
    for (size_t i = 0; i < cfg->cluster_count; i++) {
        const rm_cluster_t *cl = &cfg->clusters[i];
        if (name == NULL ? cl->is_default : strcmp(cl->name, name) == 0)
            return cl;
    }
    return NULL;
}

static void set_err(pgcm_error_t *err, int code, const char *msg)
{
    if (err == NULL)
        return;
    memset(err, 0, sizeof(*err));
    err->code = code;
    snprintf(err->message, sizeof(err->message), "%s", msg);
}

int rm_config_cluster_nodes(const rm_config_t *cfg, const char *name,
                            const pgcm_node_spec_t **specs, size_t *count,
                            pgcm_error_t *err)
{
    if (specs)
        *specs = NULL;
    if (count)
        *count = 0;
    if (cfg == NULL) {
        set_err(err, PGCM_EINVAL, "no configuration loaded");
        return PGCM_EINVAL;
    }
    const rm_cluster_t *cl = rm_config_find_cluster(cfg, name);
    if (cl == NULL) {
        char names[256] = "";
        size_t o = 0;
        const char *cands[64];
        size_t nc = 0;
        for (size_t i = 0; i < cfg->cluster_count; i++) {
            if (nc < 64)
                cands[nc++] = cfg->clusters[i].name;
            int n = snprintf(names + o, sizeof(names) - o, "%s%s",
                             i ? ", " : "", cfg->clusters[i].name);
            if (n < 0 || (size_t)n >= sizeof(names) - o)
                break;
            o += (size_t)n;
        }
        char msg[512];
        const char *s = rm__suggest(name, cands, nc);
        if (s != NULL)
            snprintf(msg, sizeof(msg),
                     "no cluster named '%.60s'; did you mean '%s'?", name, s);
        else
            snprintf(msg, sizeof(msg),
                     "no cluster named '%.60s'; the clusters are: %s", name,
                     names);
        set_err(err, PGCM_ENOENT, msg);
        return PGCM_ENOENT;
    }
    if (specs)
        *specs = cl->specs;
    if (count)
        *count = cl->node_count;
    if (err)
        memset(err, 0, sizeof(*err));
    return PGCM_OK;
}

/* ---- overrides --------------------------------------------------------- */

int rm_config_apply_overrides(rm_config_t *cfg, const rm_overrides_t *ov,
                              rm_diags_t *diags)
{
    static const char *const where = "command line";
    if (cfg == NULL || ov == NULL)
        return PGCM_EINVAL;
    pgcm_node_spec_t *target = NULL;
    if (ov->node_id != NULL) {
        target = (pgcm_node_spec_t *)rm_config_find_node(cfg, ov->node_id);
        if (target == NULL) {
            const char **ids = malloc((cfg->node_count + 1) * sizeof(*ids));
            const char *s = NULL;
            if (ids != NULL) {
                for (size_t i = 0; i < cfg->node_count; i++)
                    ids[i] = cfg->nodes[i].id;
                s = rm__suggest(ov->node_id, ids, cfg->node_count);
                free(ids);
            }
            if (s != NULL)
                rm__diag_add(diags, RM_DIAG_ERROR, where, 0, 0, "--node",
                             "no node named '%.60s'; did you mean '%s'?",
                             ov->node_id, s);
            else
                rm__diag_add(diags, RM_DIAG_ERROR, where, 0, 0, "--node",
                             "no node named '%.60s'; use one of the ids "
                             "under nodes:",
                             ov->node_id);
            return PGCM_ENOENT;
        }
    }
    int bad = 0;
    if (ov->port < 0 || ov->port > 65535) {
        rm__diag_add(diags, RM_DIAG_ERROR, where, 0, 0, "--port",
                     "%d is out of range; use a port between 1 and 65535",
                     ov->port);
        bad = 1;
    }
    struct {
        const char *flag;
        const char *value;
    } strs[] = {{"--host", ov->host},
                {"--database", ov->database},
                {"--user", ov->user},
                {"--password", ov->password}};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (strs[i].value != NULL && strs[i].value[0] == '\0') {
            rm__diag_add(diags, RM_DIAG_ERROR, where, 0, 0, strs[i].flag,
                         "empty value; give a value or leave the flag out");
            bad = 1;
        }
    }
    if (bad)
        return PGCM_EINVAL;
    const char *host = NULL, *db = NULL, *user = NULL, *pw = NULL;
    if ((ov->host && (host = rm__config_strdup(cfg, ov->host)) == NULL) ||
        (ov->database && (db = rm__config_strdup(cfg, ov->database)) == NULL) ||
        (ov->user && (user = rm__config_strdup(cfg, ov->user)) == NULL) ||
        (ov->password && (pw = rm__config_strdup(cfg, ov->password)) == NULL))
        return PGCM_ENOMEM;
    for (size_t i = 0; i < cfg->node_count; i++) {
        pgcm_node_spec_t *s = &cfg->nodes[i];
        if (target != NULL && s != target)
            continue;
        if (host)
            s->host = host;
        if (ov->port > 0)
            s->port = ov->port;
        if (db)
            s->database = db;
        if (user)
            s->user = user;
        if (pw)
            s->password = pw;
    }
    /* Env-only mode: "default" becomes the host the user named. */
    if (cfg->env_only && cfg->priv->id_from_env_default && host != NULL &&
        cfg->node_count == 1 && rm__id_problem(host, strlen(host)) == NULL &&
        host[0] != '/') {
        rm_index_t renamed = {0};
        if (rm__index_add(&renamed, host, strlen(host), 0, NULL) < 0)
            return PGCM_ENOMEM;
        rm__index_free(&cfg->priv->node_index);
        cfg->priv->node_index = renamed;
        cfg->nodes[0].id = host;
        for (size_t c = 0; c < cfg->cluster_count; c++) {
            rm_cluster_t *cl = &cfg->clusters[c];
            const char **ids = (const char **)cl->node_ids;
            for (size_t k = 0; k < cl->node_count; k++)
                ids[k] = host;
        }
        cfg->priv->id_from_env_default = 0;
    }
    refresh_cluster_specs(cfg);
    return PGCM_OK;
}

/* ---- default path ------------------------------------------------------ */

static char *join3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc + 1);
    return s;
}

char *rm_config_default_path(rm_getenv_fn getenv_fn)
{
    const char *xdg = rm__getenv(getenv_fn, "XDG_CONFIG_HOME");
    if (xdg != NULL && xdg[0] == '/')
        return join3(xdg, "/replmon/", "config.yaml");
    const char *home = rm__getenv(getenv_fn, "HOME");
    if (home != NULL && home[0] != '\0')
        return join3(home, "/.config/replmon/", "config.yaml");
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) == 0 && res != NULL &&
        pw.pw_dir != NULL && pw.pw_dir[0] != '\0')
        return join3(pw.pw_dir, "/.config/replmon/", "config.yaml");
    return NULL;
}

/* ---- conninfo ------------------------------------------------------------ */

static int is_conninfo_keyword(const char *w, size_t n)
{
    char *perr = NULL;
    PQconninfoOption *all = PQconninfoParse("", &perr);
    PQfreemem(perr);
    if (all == NULL)
        return 0;
    int found = 0;
    for (PQconninfoOption *o = all; o->keyword != NULL; o++) {
        if (strlen(o->keyword) == n && strncmp(o->keyword, w, n) == 0) {
            found = 1;
            break;
        }
    }
    PQconninfoFree(all);
    return found;
}

/* Whether raw contains the n bytes at w. */
static int contains_word(const char *raw, const char *w, size_t n)
{
    size_t rl = strlen(raw);
    for (size_t i = 0; i + n <= rl; i++) {
        if (memcmp(raw + i, w, n) == 0)
            return 1;
    }
    return 0;
}

char *rm__conninfo_check(const char *conninfo, const char *raw,
                         int *has_password)
{
    *has_password = 0;
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    if (opts != NULL) {
        for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
            if (strcmp(o->keyword, "password") == 0 && o->val != NULL &&
                o->val[0] != '\0')
                *has_password = 1;
        }
        PQconninfoFree(opts);
        PQfreemem(perr);
        return NULL;
    }
    const char *src = perr ? perr : "out of memory";
    size_t n = strlen(src);
    char *msg = malloc(2 * n + 8) /* "..." may be longer than what it hides */;
    if (msg == NULL) {
        PQfreemem(perr);
        return NULL;
    }
    /* libpq quotes parts of the string, which may be a password: show a
     * quoted part only when it is a keyword, punctuation, or the name in
     * 'invalid connection option "x"'. */
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '"') {
            const char *end = strchr(src + i + 1, '"');
            if (end != NULL) {
                const char *w = src + i + 1;
                size_t wl = (size_t)(end - w);
                int punct = wl > 0;
                for (size_t k = 0; k < wl; k++)
                    punct &= strchr("=&?/:@'\\", w[k]) != NULL;
                int named = i >= 7 && strncmp(src + i - 7, "option ", 7) == 0 &&
                            raw != NULL && wl > 0 && contains_word(raw, w, wl);
                if (named || punct || is_conninfo_keyword(w, wl)) {
                    memcpy(msg + o, src + i, wl + 2);
                    o += wl + 2;
                } else {
                    memcpy(msg + o, "\"...\"", 5);
                    o += 5;
                }
                i += wl + 1;
                continue;
            }
        }
        msg[o++] = src[i];
    }
    msg[o] = '\0';
    while (o > 0 && (msg[o - 1] == '\n' || msg[o - 1] == ' '))
        msg[--o] = '\0';
    PQfreemem(perr);
    return msg;
}

/* ---- entry points -------------------------------------------------------- */

static int finish_load(rm_config_t *cfg, rm_diags_t *d, size_t first,
                       size_t errors_before, rm_config_t **out)
{
    rm__diags_sort(d, first);
    if (d->errors > errors_before) {
        rm_config_free(cfg);
        return PGCM_EINVAL;
    }
    *out = cfg;
    return PGCM_OK;
}

/* Parse with a private diagnostics list when the caller gave none, so that
 * errors still fail the load. */
static int parse_common(const char *data, size_t len, const char *name,
                        const char *path, rm_getenv_fn getenv_fn,
                        rm_config_t **out, rm_diags_t *diags,
                        rm_secret_note_t *secret)
{
    rm_diags_t local;
    rm_diags_init(&local);
    rm_diags_t *d = diags ? diags : &local;
    size_t first = d->count;
    size_t errors_before = d->errors;
    rm_config_t *cfg = rm__config_new(getenv_fn);
    if (cfg == NULL) {
        rm_diags_free(&local);
        return PGCM_ENOMEM;
    }
    if (path != NULL && (cfg->path = rm__config_strdup(cfg, path)) == NULL) {
        rm_config_free(cfg);
        rm_diags_free(&local);
        return PGCM_ENOMEM;
    }
    rm_ydoc_t doc;
    int rc = rm__yaml_load(data, len, name, &doc, d);
    if (rc == -2) {
        rm_config_free(cfg);
        rm_diags_free(&local);
        return PGCM_ENOMEM;
    }
    if (rc == 0) {
        rc = rm__config_from_tree(cfg, &doc, name, d, secret);
        rm__yaml_free(&doc);
        if (rc == 0 && rm__config_env_view(cfg, getenv_fn) != 0)
            rc = -2;
        if (rc == -2) {
            rm_config_free(cfg);
            rm_diags_free(&local);
            return PGCM_ENOMEM;
        }
    }
    rc = finish_load(cfg, d, first, errors_before, out);
    rm_diags_free(&local);
    return rc;
}

int rm_config_parse_buffer(const char *data, size_t len, const char *name,
                           rm_getenv_fn getenv_fn, rm_config_t **out,
                           rm_diags_t *diags)
{
    if (out == NULL)
        return PGCM_EINVAL;
    *out = NULL;
    if (data == NULL && len > 0)
        return PGCM_EINVAL;
    rm_secret_note_t secret;
    memset(&secret, 0, sizeof(secret));
    return parse_common(data ? data : "", len, name ? name : "<memory>", NULL,
                        getenv_fn, out, diags, &secret);
}

static int not_regular(const char *path, rm_diags_t *diags)
{
    rm__diag_add(diags, RM_DIAG_ERROR, path, 0, 0, "",
                 "not a regular file; give the path of a YAML file");
    return PGCM_ENOENT;
}

int rm_config_parse_file(const char *path, rm_getenv_fn getenv_fn,
                         rm_config_t **out, rm_diags_t *diags)
{
    if (out == NULL || path == NULL)
        return PGCM_EINVAL;
    *out = NULL;
    /* Only a regular file is read: opening a FIFO blocks until a writer
     * comes, a device may do anything, a socket cannot be opened. So the
     * path is looked at before it is opened, and opened without blocking
     * (should it have been replaced by a FIFO in between), and what was
     * opened is looked at again. Symbolic links are followed, as ever. */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return not_regular(path, diags);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        rm__diag_add(diags, RM_DIAG_ERROR, path, 0, 0, "",
                     "cannot open the configuration file: %s; %s", strerror(e),
                     e == ENOENT ? "check the path given with --config, or "
                                   "create the file"
                                 : "check the file's permissions");
        return PGCM_ENOENT;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return not_regular(path, diags);
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags != -1)
        (void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    if ((unsigned long long)st.st_size > RM_CONFIG_MAX_FILE) {
        rm__diag_add(diags, RM_DIAG_ERROR, path, 0, 0, "",
                     "the file is larger than 16 MiB; is it really a "
                     "replmon configuration?");
        close(fd);
        return PGCM_EINVAL;
    }
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *data = malloc(cap);
    if (data == NULL) {
        close(fd);
        return PGCM_ENOMEM;
    }
    for (;;) {
        if (len == cap) {
            if (cap > RM_CONFIG_MAX_FILE) {
                free(data);
                close(fd);
                rm__diag_add(diags, RM_DIAG_ERROR, path, 0, 0, "",
                             "the file is larger than 16 MiB; is it really "
                             "a replmon configuration?");
                return PGCM_EINVAL;
            }
            char *bigger = realloc(data, cap * 2);
            if (bigger == NULL) {
                free(data);
                close(fd);
                return PGCM_ENOMEM;
            }
            data = bigger;
            cap *= 2;
        }
        ssize_t r = read(fd, data + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(data);
            close(fd);
            rm__diag_add(diags, RM_DIAG_ERROR, path, 0, 0, "",
                         "cannot read the configuration file: %s; check "
                         "the file",
                         strerror(e));
            return PGCM_ENOENT;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);

    rm_secret_note_t secret;
    memset(&secret, 0, sizeof(secret));
    size_t first = diags ? diags->count : 0;
    int rc =
        parse_common(data, len, path, path, getenv_fn, out, diags, &secret);
    explicit_bzero(data, len);
    free(data);
    if (secret.found && (st.st_mode & 077) != 0) {
        rm__diag_add(diags, RM_DIAG_WARNING, path, secret.line, secret.column,
                     secret.key,
                     "the file holds a plaintext password and is readable by "
                     "group or others (mode %04o); run 'chmod 600 %s', or "
                     "move the secret to the environment with ${VAR}",
                     (unsigned)(st.st_mode & 07777), path);
        if (diags != NULL)
            rm__diags_sort(diags, first);
    }
    return rc;
}

int rm_config_load(const char *path, rm_getenv_fn getenv_fn, rm_config_t **out,
                   rm_diags_t *diags)
{
    if (out == NULL)
        return PGCM_EINVAL;
    *out = NULL;
    if (path != NULL)
        return rm_config_parse_file(path, getenv_fn, out, diags);
    char *def = rm_config_default_path(getenv_fn);
    if (def != NULL) {
        struct stat st;
        if (stat(def, &st) == 0) {
            int rc = rm_config_parse_file(def, getenv_fn, out, diags);
            free(def);
            return rc;
        }
        free(def);
    }
    return rm_config_from_env(getenv_fn, out, diags);
}
