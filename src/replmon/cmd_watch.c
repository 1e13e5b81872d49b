/* SPDX-License-Identifier: MIT */
/*
 * cmd_watch.c - `replmon watch` (and bare `replmon` on a terminal): the
 * live dashboard on the selected cluster. Parses the flags, loads the
 * configuration and hands over to the dashboard (tui/dashboard.c).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "tui/dashboard.h"

#define CMD "watch"

static const char watch_help[] =
    "Usage: replmon watch [OPTIONS]\n"
    "       replmon [OPTIONS]          (the same, on a terminal)\n"
    "\n"
    "The live dashboard of the selected cluster: every node's state,\n"
    "latency, pool and failures, the topology with the lag on each edge,\n"
    "subscriptions, slots, standbys and their receivers, the cross-node lag,\n"
    "conflicts, the findings of 'replmon status' and the events, refreshed\n"
    "every interval. A node that hangs never freezes the screen: its last\n"
    "data stays, with its age, and turns grey once older than two\n"
    "intervals.\n"
    "\n"
    "Keys: n t s l b x c f e (or 1-9, Tab) panels, j/k move, Enter details,\n"
    "/ filter, p pause, + - interval, r retry the node, o operations on\n"
    "the selected node, subscription or slot, R reload the configuration\n"
    "(also SIGHUP), ? help, q quit. See replmon(1).\n"
    "\n"
    "Options:\n"
    "  --interval DURATION  refresh interval (default 1s; 500ms, 2s, ...)\n"
    "  --metrics-listen ADDR:PORT\n"
    "                       also answer replmon serve's endpoints (/metrics,\n"
    "                       /healthz, /readyz, /node/ID, /status) there,\n"
    "                       from the dashboard's rounds (port 0: a free one)\n"
    "  -h, --help           show this help\n"
    "\n" RM_COMMON_HELP "\n"
    "Log lines go to --log-file only: the terminal is the dashboard's.\n"
    "\n"
    "Environment: NO_COLOR (any value) draws without colour; the theme\n"
    "comes from the configuration's theme: (dark or light).\n"
    "\n"
    "Exit status: 0 after q, Ctrl-C or SIGTERM, 1 when the dashboard cannot\n"
    "run (no terminal), 64 usage error, 78 configuration error.\n";

enum { OPT_INTERVAL = RM_OPT_FIRST_COMMAND, OPT_METRICS_LISTEN };

int rm_cmd_watch(int argc, char **argv)
{
    static const struct option longopts[] = {
        RM_COMMON_LONG_OPTIONS,
        {"interval", required_argument, NULL, OPT_INTERVAL},
        {"metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    rm_common_t common;
    rm_session_t session;
    rm_dashboard_t d;
    int64_t interval_ms = 1000;
    char metrics_host[256] = "";
    int metrics_port = -1, opt, rc;

    rm_common_init(&common);
    rm_getopt_reset();
    while ((opt = getopt_long(argc, argv, RM_COMMON_SHORT, longopts, NULL)) !=
           -1) {
        const char *why = NULL;

        if (opt == 'h') {
            fputs(watch_help, stdout);
            return RM_EXIT_OK;
        }
        if (opt == OPT_INTERVAL) {
            if (rm_config_parse_duration(optarg, 1000, &interval_ms, &why) !=
                    0 ||
                interval_ms < 100 || interval_ms > 3600000)
                return rm_usage_error(
                    CMD,
                    "--interval '%s' is not a duration between 100ms and 1h "
                    "(%s)",
                    optarg, why ? why : "use e.g. 500ms, 1s or 5s");
            continue;
        }
        if (opt == OPT_METRICS_LISTEN) {
            if (rm_config_parse_listen(optarg, metrics_host,
                                       sizeof(metrics_host), &metrics_port,
                                       &why) != 0)
                return rm_usage_error(CMD, "--metrics-listen '%s': %s", optarg,
                                      why ? why : "use ADDR:PORT");
            continue;
        }
        if (opt == '?' || opt == ':')
            return rm_getopt_error(CMD, opt, argv);
        if (rm_common_option(&common, CMD, opt, optarg) < 0)
            return RM_EXIT_USAGE;
    }
    if (optind < argc)
        return rm_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO)) {
        fprintf(stderr,
                "replmon watch: the dashboard needs a terminal (%s is "
                "not one); for a report run 'replmon status'\n",
                !isatty(STDOUT_FILENO) ? "standard output" : "standard input");
        return RM_EXIT_FAILURE;
    }
    /* The terminal is the screen's: log lines go to a --log-file or
     * nowhere. */
    if (common.log.path != NULL &&
        rm_common_log_open(&common, CMD, PGCM_LOG_ERROR) != 0)
        return RM_EXIT_FAILURE;
    rc = rm_session_load(&session, &common, CMD);
    if (rc != 0)
        return rc;
    memset(&d, 0, sizeof(d));
    d.session = &session;
    d.common = &common;
    d.interval_ms = interval_ms;
    d.query_timeout_ms = (int)common.timeout_ms;
    if (metrics_port >= 0) {
        d.metrics_host = metrics_host;
        d.metrics_port = metrics_port;
    }
    rc = rm_dashboard_run(&d);
    rm_session_close(&session);
    return rc;
}
