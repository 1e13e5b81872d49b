/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what the subcommands share: the common flags (--config,
 * --cluster, --host, --port, --database, --user, --timeout and the log
 * flags --log-format, --log-level, --log-file), one-line usage errors
 * (exit 64), opening the structured log, loading the configuration and
 * selecting a cluster, the manager session (its log hook feeds the log),
 * and the stop flag set by SIGINT/SIGTERM.
 */
#ifndef REPLMON_CLI_H
#define REPLMON_CLI_H

#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "collect.h"
#include "config.h"
#include "log.h"
#include "pgcm.h"

#define RM_EXIT_OK          0
#define RM_EXIT_FAILURE     1
#define RM_EXIT_PARTIAL     2  /* query: at least one node failed */
#define RM_EXIT_USAGE       64 /* EX_USAGE */
#define RM_EXIT_CONFIG      78 /* EX_CONFIG */
#define RM_EXIT_INTERRUPTED 130

/* Option codes of the common long options (no short forms). */
enum {
    RM_OPT_CONFIG = 1000,
    RM_OPT_CLUSTER,
    RM_OPT_HOST,
    RM_OPT_PORT,
    RM_OPT_DATABASE,
    RM_OPT_USER,
    RM_OPT_TIMEOUT,
    RM_OPT_LOG_FORMAT,
    RM_OPT_LOG_LEVEL,
    RM_OPT_LOG_FILE,
    RM_OPT_PASSWORD,
    RM_OPT_PGLOGICAL,
    RM_OPT_FIRST_COMMAND /* subcommands number theirs from here */
};

/* The log flags alone (for commands without the connection flags). */
#define RM_LOG_LONG_OPTIONS                                                    \
    {"log-format", required_argument, NULL, RM_OPT_LOG_FORMAT},                \
        {"log-level", required_argument, NULL, RM_OPT_LOG_LEVEL},              \
    {                                                                          \
        "log-file", required_argument, NULL, RM_OPT_LOG_FILE                   \
    }

#define RM_COMMON_LONG_OPTIONS                                                 \
    {"config", required_argument, NULL, RM_OPT_CONFIG},                        \
        {"cluster", required_argument, NULL, RM_OPT_CLUSTER},                  \
        {"host", required_argument, NULL, RM_OPT_HOST},                        \
        {"port", required_argument, NULL, RM_OPT_PORT},                        \
        {"database", required_argument, NULL, RM_OPT_DATABASE},                \
        {"user", required_argument, NULL, RM_OPT_USER},                        \
        {"timeout", required_argument, NULL, RM_OPT_TIMEOUT},                  \
        {"password", required_argument, NULL, RM_OPT_PASSWORD},                \
        {"pglogical", no_argument, NULL, RM_OPT_PGLOGICAL},                    \
        RM_LOG_LONG_OPTIONS

/* getopt_long's optstring for a command with the common flags: -h, and
 * the original replmon's -c, -d, -u for --config, --database, --user. */
#define RM_COMMON_SHORT ":hc:d:u:"

/* The --help text of the common flags. */
#define RM_COMMON_HELP                                                         \
    "Selection and connection:\n"                                              \
    "  -c, --config FILE  configuration file (default: "                       \
    "$XDG_CONFIG_HOME/replmon/\n"                                              \
    "                     config.yaml, else the PG* environment)\n"            \
    "  --cluster NAME     cluster of the file (default: the default "          \
    "cluster)\n"                                                               \
    "  --host HOST        one-node run without a file (or override every "     \
    "node)\n"                                                                  \
    "  --port PORT        port for that node\n"                                \
    "  -d, --database NAME  database for that node\n"                          \
    "  -u, --user NAME    user for that node\n"                                \
    "  --password PW      password for every node (shows in ps: prefer "       \
    "PGPASSWORD\n"                                                             \
    "                     or ~/.pgpass)\n"                                     \
    "  --pglogical        as pglogical: true in the file\n"                    \
    "  --timeout DURATION connect and per-query timeout (default 5s; "         \
    "500ms, 5s, 1m)\n"                                                         \
    "\n" RM_LOG_HELP

/* The --help text of the log flags. */
#define RM_LOG_HELP                                                            \
    "Logging (lines of the library and of replmon, secrets masked):\n"         \
    "  --log-format text|json  one line per event (default text)\n"            \
    "  --log-level LEVEL  debug, info, warn or error (default: error; info "   \
    "for\n"                                                                    \
    "                     serve)\n"                                            \
    "  --log-file FILE    append to FILE (default: stderr)\n"

typedef struct rm_common {
    const char *config_path;
    const char *cluster;
    const char *host;
    int port; /* 0: not given */
    const char *database;
    const char *user;
    const char *password; /* --password, or NULL */
    int pglogical;        /* --pglogical */
    int64_t timeout_ms;   /* 5000 unless --timeout */
    rm_log_options_t log;
    int log_level_given; /* --log-level was given */
} rm_common_t;

void rm_common_init(rm_common_t *c);

/* rm_common_option - handle a common option code (the long ones' codes,
 * or 'c', 'd', 'u'). Returns 1 if handled, 0 if opt is not a common
 * option, -1 after printing a usage error. */
int rm_common_option(rm_common_t *c, const char *cmd, int opt, const char *arg);

/* rm_common_log_open - open the structured log as the log flags say, at
 * default_level unless --log-level was given. Returns 0, or RM_EXIT_FAILURE
 * after printing why (a log file that cannot be opened). */
int rm_common_log_open(rm_common_t *c, const char *cmd,
                       pgcm_log_level_t default_level);

/* rm_usage_error - print "replmon CMD: MESSAGE; run 'replmon CMD --help'"
 * as one line on stderr and return RM_EXIT_USAGE. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int rm_usage_error(const char *cmd, const char *fmt, ...);

/* rm_getopt_error - the usage error for getopt_long's '?' or ':' result
 * (opterr must be 0 and optstring begin with ':'). */
int rm_getopt_error(const char *cmd, int ret, char *const *argv);

/* rm_getopt_reset - prepare getopt_long for a fresh argument vector. */
void rm_getopt_reset(void);

/* ---------------------------------------------------------------------- */
/* Stop requests                                                          */
/* ---------------------------------------------------------------------- */

/* Set to the signal number by SIGINT, SIGTERM or SIGHUP once
 * rm_stop_handlers_install() ran; a second signal kills at once. */
extern volatile sig_atomic_t rm_stop_signal;
void rm_stop_handlers_install(void);

/* rm_wait_batch - run pgcm_query_many_async and wait for it, cancelling it
 * when a stop is requested. Returns PGCM_OK and *out, the submit error, or
 * PGCM_ECANCELED (then *out may still hold the cancelled batch). */
int rm_wait_batch(pgcm_manager_t *mgr, const pgcm_target_t *target,
                  const char *sql, int nparams, const char *const *params,
                  const pgcm_query_options_t *opts, pgcm_batch_t **out,
                  pgcm_error_t *err);

/* ---------------------------------------------------------------------- */
/* Configuration and manager                                              */
/* ---------------------------------------------------------------------- */

typedef struct rm_session {
    rm_config_t *cfg;
    const char *cluster;           /* selected cluster's name, or NULL */
    const pgcm_node_spec_t *specs; /* into cfg */
    size_t count;
    rm_target_node_t *targets;     /* count entries, for rm_collect */
    pgcm_node_spec_t *owned_specs; /* specs after rm_session_restrict */
    pgcm_manager_t *mgr;
    /* The manager's log hook, set between load and start: NULL means
     * rm_log_pgcm at rm_log_level(); else log_cb(log_user) at log_level. */
    pgcm_log_cb log_cb;
    void *log_user;
    pgcm_log_level_t log_level;
    /* Called by rm_session_start between creating the manager and starting
     * its nodes (e.g. to subscribe to their first events); may be NULL. */
    void (*before_start)(pgcm_manager_t *mgr, void *user);
    void *before_start_user;
    int no_wait; /* start the nodes without waiting for them */
} rm_session_t;

/* rm_common_load_config - the configuration the flags select (a file, the
 * default file, or the environment when --host/--port/--database/--user
 * are given without --config) with the flag overrides (--password
 * included) and --pglogical applied. Problems go to diags. Returns
 * PGCM_OK and *out, RM_LOAD_EOVERRIDE when a flag's value is invalid, or
 * what rm_config_load returns. */
#define RM_LOAD_EOVERRIDE (-100)
int rm_common_load_config(const rm_common_t *c, rm_config_t **out,
                          rm_diags_t *diags);

/* rm_session_load - load the configuration the flags select (a file, the
 * default file, or the environment when --host/--port/--database/--user
 * are given without --config), print its diagnostics, apply the flag
 * overrides and select the cluster. Every password of the configuration is
 * registered with rm_log_add_secret. Returns 0, or an exit code
 * (RM_EXIT_CONFIG, RM_EXIT_USAGE) after printing why. */
int rm_session_load(rm_session_t *s, const rm_common_t *c, const char *cmd);

/* rm_session_load_into - as rm_session_load, printing nothing: the
 * configuration's problems go to diags and the one-line reason into err.
 * Returns 0, RM_EXIT_CONFIG, RM_EXIT_USAGE or RM_EXIT_FAILURE. */
int rm_session_load_into(rm_session_t *s, const rm_common_t *c,
                         rm_diags_t *diags, char *err, size_t errlen);

/* rm_session_restrict - keep only the nodes named in ids (from the whole
 * configuration, in the order given). Returns 0 or RM_EXIT_USAGE after
 * printing which id is unknown. */
int rm_session_restrict(rm_session_t *s, const char *const *ids, size_t n,
                        const char *cmd);

/* rm_session_start - create the manager and start the selected nodes,
 * waiting up to wait_ms for their first connection attempts (not at all
 * with s->no_wait; wait_ms still bounds the connect timeout). Returns 0 or
 * RM_EXIT_FAILURE after printing why. */
int rm_session_start(rm_session_t *s, int wait_ms, const char *cmd);

/* rm_session_close - shut the manager down and free everything. */
void rm_session_close(rm_session_t *s);

/* rm_register_secrets - rm_log_add_secret for every password and SSH
 * passphrase of cfg (a conninfo's password included). */
void rm_register_secrets(const rm_config_t *cfg);

/* rm_fill_targets - targets[i] for specs[i]: id, host and port (spec, else
 * PGHOST/PGPORT, else 5432). */
void rm_fill_targets(const pgcm_node_spec_t *specs, size_t n,
                     rm_target_node_t *targets);

/* ---------------------------------------------------------------------- */
/* Subcommands (argv[0] is the subcommand's name)                         */
/* ---------------------------------------------------------------------- */

int rm_cmd_watch(int argc, char **argv);
int rm_cmd_demo(int argc, char **argv);
int rm_cmd_status(int argc, char **argv);
int rm_cmd_query(int argc, char **argv);
int rm_cmd_check_config(int argc, char **argv);
int rm_cmd_serve(int argc, char **argv);
int rm_cmd_subscription(int argc, char **argv); /* cmd_ops.c */
int rm_cmd_slot(int argc, char **argv);         /* cmd_ops.c */

#endif /* REPLMON_CLI_H */
