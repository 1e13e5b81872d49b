/* SPDX-License-Identifier: MIT */
/*
 * cli.c - the plumbing every subcommand shares: common flags (the log flags
 * among them), usage errors, configuration loading and cluster selection,
 * the manager session and the SIGINT/SIGTERM stop flag.
 */
#include "cli.h"

#include "fanout_wait.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

volatile sig_atomic_t rm_stop_signal = 0;

void rm_common_init(rm_common_t *c)
{
    memset(c, 0, sizeof(*c));
    c->timeout_ms = 5000;
    c->log.format = RM_LOG_TEXT;
    c->log.level = PGCM_LOG_ERROR;
}

int rm_common_log_open(rm_common_t *c, const char *cmd,
                       pgcm_log_level_t default_level)
{
    char err[512];

    if (!c->log_level_given)
        c->log.level = default_level;
    if (rm_log_open(&c->log, err, sizeof(err)) != 0) {
        fprintf(stderr, "replmon %s: %s; give a writable --log-file\n", cmd,
                err);
        return RM_EXIT_FAILURE;
    }
    return 0;
}

int rm_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "replmon%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "; run 'replmon%s%s --help' for the usage\n",
            cmd ? " " : "", cmd ? cmd : "");
    return RM_EXIT_USAGE;
}

int rm_getopt_error(const char *cmd, int ret, char *const *argv)
{
    const char *opt = argv[optind - 1];
    char name[64];
    size_t len;

    if (ret == ':') {
        if (optopt != 0 && optopt < 256)
            return rm_usage_error(cmd, "option '-%c' needs a value", optopt);
        return rm_usage_error(cmd, "option '%s' needs a value", opt);
    }
    if (optopt != 0 && optopt < 256)
        return rm_usage_error(cmd, "unknown option '-%c'", optopt);
    len = strcspn(opt, "=");
    if (len >= sizeof(name))
        len = sizeof(name) - 1;
    memcpy(name, opt, len);
    name[len] = '\0';
    if (strchr(opt, '=') != NULL && strncmp(opt, "--", 2) == 0) {
        /* --flag=value for a flag that takes no value is also '?'. */
        return rm_usage_error(cmd, "unknown option or unexpected value '%s'",
                              opt);
    }
    return rm_usage_error(cmd, "unknown option '%s'", name);
}

void rm_getopt_reset(void)
{
    optind = 0; /* glibc: full reinitialisation */
    opterr = 0;
}

static int parse_port(const char *arg, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || v < 1 || v > 65535)
        return -1;
    *out = (int)v;
    return 0;
}

int rm_common_option(rm_common_t *c, const char *cmd, int opt, const char *arg)
{
    int64_t ms;
    const char *why = NULL;

    switch (opt) {
    case 'c':
    case RM_OPT_CONFIG:
        c->config_path = arg;
        return 1;
    case RM_OPT_CLUSTER:
        c->cluster = arg;
        return 1;
    case RM_OPT_HOST:
        if (arg[0] == '\0') {
            rm_usage_error(cmd, "--host needs a host name, address or "
                                "socket directory");
            return -1;
        }
        c->host = arg;
        return 1;
    case RM_OPT_PORT:
        if (parse_port(arg, &c->port) != 0) {
            rm_usage_error(cmd, "--port '%s' is not a port number (1-65535)",
                           arg);
            return -1;
        }
        return 1;
    case 'd':
    case RM_OPT_DATABASE:
        c->database = arg;
        return 1;
    case 'u':
    case RM_OPT_USER:
        c->user = arg;
        return 1;
    case RM_OPT_PASSWORD:
        if (c->password == NULL)
            fprintf(stderr,
                    "replmon%s%s: warning: --password shows in 'ps' to every "
                    "user of this machine; PGPASSWORD or ~/.pgpass keep it "
                    "private\n",
                    cmd ? " " : "", cmd ? cmd : "");
        c->password = arg;
        rm_log_add_secret(arg);
        return 1;
    case RM_OPT_PGLOGICAL:
        c->pglogical = 1;
        return 1;
    case RM_OPT_TIMEOUT:
        if (rm_config_parse_duration(arg, 1000, &ms, &why) != 0 || ms <= 0 ||
            ms > INT_MAX) {
            rm_usage_error(cmd, "--timeout '%s' is not a duration (%s)", arg,
                           why ? why : "use e.g. 500ms, 5s or 1m");
            return -1;
        }
        c->timeout_ms = ms;
        return 1;
    case RM_OPT_LOG_FORMAT:
        if (rm_log_parse_format(arg, &c->log.format) != 0) {
            rm_usage_error(cmd, "--log-format '%s' is not text or json", arg);
            return -1;
        }
        return 1;
    case RM_OPT_LOG_LEVEL:
        if (rm_log_parse_level(arg, &c->log.level) != 0) {
            rm_usage_error(cmd,
                           "--log-level '%s' is not debug, info, warn or "
                           "error",
                           arg);
            return -1;
        }
        c->log_level_given = 1;
        return 1;
    case RM_OPT_LOG_FILE:
        if (arg[0] == '\0') {
            rm_usage_error(cmd, "--log-file needs a file name");
            return -1;
        }
        c->log.path = arg;
        return 1;
    default:
        return 0;
    }
}

/* ---------------------------------------------------------------------- */
/* Stop requests                                                          */
/* ---------------------------------------------------------------------- */

static void on_stop(int sig)
{
    rm_stop_signal = sig;
}

void rm_stop_handlers_install(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    size_t i;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: sleeps end early. A second signal gets the default
     * action, so a stuck shutdown can still be interrupted. */
    sa.sa_flags = SA_RESETHAND;
    for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
}

typedef struct batch_wait {
    rm_fanout_wait_t fanout;
    pgcm_batch_t *batch;
} batch_wait_t;

static void on_batch(pgcm_batch_t *batch, void *user)
{
    batch_wait_t *w = user;

    w->batch = batch;
    rm_fanout_wait_done(&w->fanout);
}

int rm_wait_batch(pgcm_manager_t *mgr, const pgcm_target_t *target,
                  const char *sql, int nparams, const char *const *params,
                  const pgcm_query_options_t *opts, pgcm_batch_t **out,
                  pgcm_error_t *err)
{
    batch_wait_t w;
    uint64_t id = 0;
    int rc, cancelled;

    *out = NULL;
    w.batch = NULL;
    if (rm_fanout_wait_init(&w.fanout, 1) != 0)
        return PGCM_ENOMEM;
    rm_fanout_wait_expect(&w.fanout);
    rc = pgcm_query_many_async(mgr, target, sql, nparams, params, opts,
                               on_batch, &w, &id, err);
    rm_fanout_wait_submitted(&w.fanout, rc, id);
    if (rc != PGCM_OK) {
        rm_fanout_wait_destroy(&w.fanout);
        return rc;
    }
    cancelled = rm_fanout_wait_all(&w.fanout, mgr, &rm_stop_signal);
    rm_fanout_wait_destroy(&w.fanout);
    *out = w.batch;
    return cancelled ? PGCM_ECANCELED : PGCM_OK;
}

/* ---------------------------------------------------------------------- */
/* Configuration                                                          */
/* ---------------------------------------------------------------------- */

void rm_register_secrets(const rm_config_t *cfg)
{
    size_t i;

    rm_log_add_secret(getenv("PGPASSWORD"));
    for (i = 0; cfg != NULL && i < cfg->node_count; i++) {
        const pgcm_node_spec_t *n = &cfg->nodes[i];

        rm_log_add_secret(n->password);
        rm_log_add_secret(n->ssh.passphrase);
        if (n->conninfo != NULL) {
            PQconninfoOption *opts = PQconninfoParse(n->conninfo, NULL);
            PQconninfoOption *o;

            for (o = opts; o != NULL && o->keyword != NULL; o++) {
                if (strcmp(o->keyword, "password") == 0)
                    rm_log_add_secret(o->val);
            }
            PQconninfoFree(opts);
        }
    }
}

void rm_fill_targets(const pgcm_node_spec_t *specs, size_t n,
                     rm_target_node_t *targets)
{
    const char *env_host = getenv("PGHOST");
    const char *env_port = getenv("PGPORT");
    size_t i;

    for (i = 0; i < n; i++) {
        targets[i].id = specs[i].id;
        targets[i].host = specs[i].host ? specs[i].host : env_host;
        targets[i].port = specs[i].port;
        if (targets[i].port == 0 && env_port != NULL)
            targets[i].port = atoi(env_port);
        if (targets[i].port == 0)
            targets[i].port = 5432;
    }
}

static int inline_flags(const rm_common_t *c)
{
    return c->host != NULL || c->port != 0 || c->database != NULL ||
           c->user != NULL;
}

int rm_common_load_config(const rm_common_t *c, rm_config_t **out,
                          rm_diags_t *diags)
{
    int rc;

    *out = NULL;
    if (c->config_path != NULL)
        rc = rm_config_parse_file(c->config_path, NULL, out, diags);
    else if (inline_flags(c))
        rc = rm_config_from_env(NULL, out, diags);
    else
        rc = rm_config_load(NULL, NULL, out, diags);
    if (rc != PGCM_OK)
        return rc;
    if (inline_flags(c) || c->password != NULL) {
        rm_overrides_t ov;

        memset(&ov, 0, sizeof(ov));
        ov.host = c->host;
        ov.port = c->port;
        ov.database = c->database;
        ov.user = c->user;
        ov.password = c->password;
        rc = rm_config_apply_overrides(*out, &ov, diags);
        if (rc != PGCM_OK) {
            rm_config_free(*out);
            *out = NULL;
            return rc == PGCM_ENOMEM ? rc : RM_LOAD_EOVERRIDE;
        }
    }
    if (c->pglogical)
        (*out)->pglogical = 1;
    return PGCM_OK;
}

int rm_session_load_into(rm_session_t *s, const rm_common_t *c,
                         rm_diags_t *diags, char *err, size_t errlen)
{
    pgcm_error_t perr;
    int rc;

    memset(s, 0, sizeof(*s));
    rc = rm_common_load_config(c, &s->cfg, diags);
    if (rc == RM_LOAD_EOVERRIDE) {
        snprintf(err, errlen, "the connection flags are invalid (see above)");
        return RM_EXIT_USAGE;
    }
    if (rc != PGCM_OK) {
        snprintf(err, errlen, "%s",
                 rc == PGCM_ENOMEM
                     ? "out of memory while loading the configuration"
                     : "the configuration has errors (listed above); fix "
                       "them and check with 'replmon check-config'");
        return RM_EXIT_CONFIG;
    }
    rm_register_secrets(s->cfg);
    memset(&perr, 0, sizeof(perr));
    rc = rm_config_cluster_nodes(s->cfg, c->cluster, &s->specs, &s->count,
                                 &perr);
    if (rc != PGCM_OK) {
        snprintf(err, errlen, "%s",
                 perr.message[0] ? perr.message : pgcm_strerror(rc));
        rm_session_close(s);
        return RM_EXIT_USAGE;
    }
    {
        const rm_cluster_t *cl = rm_config_find_cluster(s->cfg, c->cluster);

        s->cluster = cl != NULL && !cl->implicit ? cl->name : NULL;
    }
    s->targets = calloc(s->count ? s->count : 1, sizeof(*s->targets));
    if (s->targets == NULL) {
        rm_session_close(s);
        snprintf(err, errlen, "out of memory");
        return RM_EXIT_FAILURE;
    }
    rm_fill_targets(s->specs, s->count, s->targets);
    return 0;
}

int rm_session_load(rm_session_t *s, const rm_common_t *c, const char *cmd)
{
    rm_diags_t diags;
    char err[640];
    int rc;

    rm_diags_init(&diags);
    rc = rm_session_load_into(s, c, &diags, err, sizeof(err));
    rm_diags_print(&diags, stderr);
    rm_diags_free(&diags);
    if (rc == RM_EXIT_USAGE)
        return rm_usage_error(cmd, "%s", err);
    if (rc != 0)
        fprintf(stderr, "replmon %s: %s\n", cmd, err);
    return rc;
}

int rm_session_restrict(rm_session_t *s, const char *const *ids, size_t n,
                        const char *cmd)
{
    pgcm_node_spec_t *specs = calloc(n ? n : 1, sizeof(*specs));
    rm_target_node_t *targets = calloc(n ? n : 1, sizeof(*targets));
    size_t i, j;

    if (specs == NULL || targets == NULL) {
        free(specs);
        free(targets);
        fprintf(stderr, "replmon %s: out of memory\n", cmd);
        return RM_EXIT_FAILURE;
    }
    for (i = 0; i < n; i++) {
        const pgcm_node_spec_t *spec = rm_config_find_node(s->cfg, ids[i]);

        for (j = 0; j < i; j++) {
            if (strcmp(ids[j], ids[i]) == 0) {
                free(specs);
                free(targets);
                return rm_usage_error(cmd, "--node %s is given twice", ids[i]);
            }
        }
        if (spec == NULL) {
            char known[400] = "";
            size_t k, used = 0;

            for (k = 0; k < s->cfg->node_count && used < sizeof(known); k++)
                used +=
                    (size_t)snprintf(known + used, sizeof(known) - used, "%s%s",
                                     k ? ", " : "", s->cfg->nodes[k].id);
            free(specs);
            free(targets);
            return rm_usage_error(cmd,
                                  "--node %s: no such node in the "
                                  "configuration (nodes: %s)",
                                  ids[i], known);
        }
        specs[i] = *spec;
    }
    free(s->targets);
    s->targets = targets;
    free(s->owned_specs);
    s->owned_specs = specs;
    s->specs = specs;
    s->count = n;
    rm_fill_targets(s->specs, s->count, s->targets);
    return 0;
}

int rm_session_start(rm_session_t *s, int wait_ms, const char *cmd)
{
    pgcm_options_t opts = s->cfg->options;
    pgcm_error_t err;
    int rc;

    memset(&err, 0, sizeof(err));
    if (opts.connect_timeout_ms <= 0 || opts.connect_timeout_ms > wait_ms)
        opts.connect_timeout_ms = wait_ms;
    opts.log_cb = s->log_cb != NULL ? s->log_cb : rm_log_pgcm;
    opts.log_user = s->log_cb != NULL ? s->log_user : NULL;
    opts.log_level = s->log_cb != NULL ? s->log_level : rm_log_level();
    rc = pgcm_manager_new(&opts, &s->mgr, &err);
    if (rc != PGCM_OK) {
        fprintf(stderr,
                "replmon %s: cannot create the connection manager: "
                "%s\n",
                cmd, err.message[0] ? err.message : pgcm_strerror(rc));
        return RM_EXIT_FAILURE;
    }
    if (s->before_start != NULL)
        s->before_start(s->mgr, s->before_start_user);
    rc = pgcm_manager_start(s->mgr, s->specs, s->count,
                            s->no_wait ? 0 : wait_ms, &err);
    if (rc != PGCM_OK) {
        fprintf(stderr, "replmon %s: cannot start the nodes: %s\n", cmd,
                err.message[0] ? err.message : pgcm_strerror(rc));
        return RM_EXIT_FAILURE;
    }
    return 0;
}

void rm_session_close(rm_session_t *s)
{
    if (s->mgr != NULL)
        pgcm_manager_free(s->mgr);
    s->mgr = NULL;
    free(s->owned_specs);
    s->owned_specs = NULL;
    free(s->targets);
    s->targets = NULL;
    rm_config_free(s->cfg);
    s->cfg = NULL;
}
