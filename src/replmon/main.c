/* SPDX-License-Identifier: MIT */
/*
 * main.c - replmon's entry point: global --help and --version (-V, or -v
 * as in the original replmon), and dispatch to the subcommands (watch,
 * demo, status, query, check-config, serve, subscription, slot). Options
 * may come before the subcommand (`replmon --config f.yaml status`) or
 * after it. Without a command, replmon is `watch` on a terminal and
 * `status` elsewhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "pgcm.h"
#include "textwidth.h"

static const char main_help[] =
    "Usage: replmon [OPTIONS] [COMMAND [COMMAND OPTIONS]]\n"
    "\n"
    "Monitor replicating PostgreSQL clusters (logical and physical) across\n"
    "many nodes at once.\n"
    "\n"
    "Commands:\n"
    "  watch         the live dashboard (the default on a terminal; without\n"
    "                one, replmon alone runs status)\n"
    "  demo          start a throwaway local cluster (a publisher, two\n"
    "                subscribers, a standby) and watch it; removed on exit\n"
    "  status        one-shot report of every node; exit 0 OK, 1 WARNING,\n"
    "                2 CRITICAL, 3 UNKNOWN\n"
    "  query         run one statement on all, healthy or chosen nodes\n"
    "  check-config  validate and print the configuration, secrets masked\n"
    "  serve         run as a daemon: Prometheus /metrics, health endpoints\n"
    "                (/healthz, /readyz, /node/ID, /status), JSON logs\n"
    "  subscription  pause, resume or refresh a subscription, resync a\n"
    "                pglogical table\n"
    "  slot          create or drop a replication slot\n"
    "\n"
    "Options:\n"
    "  -h, --help     show this help ('replmon COMMAND --help' for a "
    "command)\n"
    "  -V, -v, --version  print the version\n"
    "\n"
    "Options of the commands (-c/--config, --cluster, --host, -d, -u, ...)\n"
    "may also be given before COMMAND. See replmon(1).\n";

typedef int (*command_fn)(int argc, char **argv);

static const struct {
    const char *name;
    command_fn fn;
} commands[] = {{"watch", rm_cmd_watch},
                {"demo", rm_cmd_demo},
                {"status", rm_cmd_status},
                {"query", rm_cmd_query},
                {"check-config", rm_cmd_check_config},
                {"serve", rm_cmd_serve},
                {"subscription", rm_cmd_subscription},
                {"slot", rm_cmd_slot}};

/* Options before the command that take a value, so that their value is not
 * mistaken for the command. */
static int takes_value(const char *arg)
{
    static const char *const with_value[] = {
        "--config",   "--cluster",    "--host",      "--port",     "--database",
        "--user",     "--timeout",    "--format",    "--node",     "--interval",
        "--duration", "--log-format", "--log-level", "--log-file", "--listen",
        "--shard",    "--sample",     "--kind",      "--logical",  "--password",
        "-c",         "-d",           "-u"};
    size_t i;

    if (strchr(arg, '=') != NULL)
        return 0;
    for (i = 0; i < sizeof(with_value) / sizeof(with_value[0]); i++) {
        if (strcmp(arg, with_value[i]) == 0)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    char **args;
    const char *name;
    int cmd_at = -1, i, n, rc, implicit = 0;
    size_t c;

    /* Display widths need a UTF-8 LC_CTYPE (C.UTF-8 when the environment
     * has none); set before any thread starts. */
    rm_text_locale_init();
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--") == 0)
            break;
        if (a[0] != '-') {
            cmd_at = i;
            break;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(main_help, stdout);
            return RM_EXIT_OK;
        }
        if (strcmp(a, "-V") == 0 || strcmp(a, "-v") == 0 ||
            strcmp(a, "--version") == 0) {
            printf("replmon %s (libpgcm %s, libpq %d)\n", PGCM_VERSION_STRING,
                   PGCM_VERSION_STRING, PQlibVersion());
            return RM_EXIT_OK;
        }
        if (takes_value(a))
            i++;
    }
    if (cmd_at < 0) {
        /* No command: the dashboard on a terminal, else the report. */
        implicit = 1;
        if (isatty(STDOUT_FILENO) && isatty(STDIN_FILENO)) {
            name = "watch";
        } else {
            name = "status";
            fprintf(stderr, "replmon: no command and no terminal, so this is "
                            "'replmon status' (the dashboard is 'replmon "
                            "watch' on a terminal)\n");
        }
    } else {
        name = argv[cmd_at];
    }
    for (c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
        if (strcmp(name, commands[c].name) == 0)
            break;
    }
    if (c == sizeof(commands) / sizeof(commands[0]))
        return rm_usage_error(NULL,
                              "unknown command '%s' (commands: watch, demo, "
                              "status, query, check-config, serve, "
                              "subscription, slot)",
                              name);
    /* The command sees: NAME, the options given before it, the rest. */
    args = calloc((size_t)argc + 2, sizeof(*args));
    if (args == NULL) {
        fprintf(stderr, "replmon: out of memory\n");
        return RM_EXIT_FAILURE;
    }
    n = 0;
    args[n++] = (char *)commands[c].name;
    if (implicit) {
        for (i = 1; i < argc; i++)
            args[n++] = argv[i];
    } else {
        for (i = 1; i < cmd_at; i++)
            args[n++] = argv[i];
        for (i = cmd_at + 1; i < argc; i++)
            args[n++] = argv[i];
    }
    args[n] = NULL;
    rc = commands[c].fn(n, args);
    rm_log_close();
    rm_log_forget_secrets();
    free(args);
    return rc;
}
