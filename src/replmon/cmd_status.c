/* SPDX-License-Identifier: MIT */
/*
 * cmd_status.c - `replmon status`: one collection round over the selected
 * cluster (two with --sample, for the rates between them), judged against
 * the thresholds, printed as a table or JSON; the exit code is the overall
 * status (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "conflicts.h"
#include "evaluate.h"
#include "report_status.h"

#define CMD "status"

static const char status_help[] =
    "Usage: replmon status [OPTIONS]\n"
    "\n"
    "One-shot report for every node of the selected cluster: state, latency,\n"
    "role, pool statistics, replication slots, subscriptions, standbys and\n"
    "the cross-node lag, judged against the configured thresholds.\n"
    "\n"
    "Options:\n"
    "  --format table|json  output format (default table; JSON schema in\n"
    "                       docs/status-json.md)\n"
    "  --sample DURATION    collect twice, DURATION apart (e.g. 5s), and\n"
    "                       judge the conflict and error rate between the\n"
    "                       two rounds against thresholds.conflict_rate\n"
    "  -h, --help           show this help\n"
    "\n" RM_COMMON_HELP "\n"
    "Exit status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (also when the\n"
    "configuration cannot be used), 64 usage error.\n";

enum { OPT_FORMAT = RM_OPT_FIRST_COMMAND, OPT_SAMPLE };

/* Sleep ms, ending early on a stop request. Returns 0, or -1 if stopped. */
static int sleep_unless_stopped(int64_t ms)
{
    while (ms > 0 && !rm_stop_signal) {
        int64_t step = ms < 100 ? ms : 100;
        struct timespec ts = {0, (long)step * 1000000L};

        nanosleep(&ts, NULL);
        ms -= step;
    }
    return rm_stop_signal ? -1 : 0;
}

int rm_cmd_status(int argc, char **argv)
{
    static const struct option longopts[] = {
        RM_COMMON_LONG_OPTIONS,
        {"format", required_argument, NULL, OPT_FORMAT},
        {"sample", required_argument, NULL, OPT_SAMPLE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    rm_format_t format = RM_FORMAT_TABLE;
    rm_collect_options_t copts;
    rm_status_context_t ctx;
    rm_common_t common;
    rm_session_t session;
    rm_snapshot_t *snap = NULL, *first = NULL;
    rm_eval_t ev;
    int64_t sample_ms = 0;
    const char *why = NULL;
    char err[256];
    int opt, rc;

    rm_common_init(&common);
    rm_getopt_reset();
    while ((opt = getopt_long(argc, argv, RM_COMMON_SHORT, longopts, NULL)) !=
           -1) {
        int handled;

        if (opt == 'h') {
            fputs(status_help, stdout);
            return RM_EXIT_OK;
        }
        if (opt == OPT_FORMAT) {
            if (rm_format_parse(optarg, &format) != 0 ||
                format == RM_FORMAT_CSV)
                return rm_usage_error(CMD, "--format '%s' is not table or json",
                                      optarg);
            continue;
        }
        if (opt == OPT_SAMPLE) {
            if (rm_config_parse_duration(optarg, 1000, &sample_ms, &why) != 0 ||
                sample_ms < 100 || sample_ms > INT_MAX)
                return rm_usage_error(CMD,
                                      "--sample '%s' is not a duration of "
                                      "100ms or more (%s)",
                                      optarg, why ? why : "use e.g. 5s");
            continue;
        }
        if (opt == '?' || opt == ':')
            return rm_getopt_error(CMD, opt, argv);
        handled = rm_common_option(&common, CMD, opt, optarg);
        if (handled < 0)
            return RM_EXIT_USAGE;
    }
    if (optind < argc)
        return rm_usage_error(CMD, "unexpected argument '%s'", argv[optind]);

    if (rm_common_log_open(&common, CMD, PGCM_LOG_ERROR) != 0)
        return (int)RM_STATUS_UNKNOWN;
    rm_stop_handlers_install();
    rc = rm_session_load(&session, &common, CMD);
    if (rc == RM_EXIT_CONFIG)
        return (int)RM_STATUS_UNKNOWN;
    if (rc != 0)
        return rc;
    if (rm_session_start(&session, (int)common.timeout_ms, CMD) != 0) {
        rm_session_close(&session);
        return (int)RM_STATUS_UNKNOWN;
    }
    memset(&copts, 0, sizeof(copts));
    copts.query_timeout_ms = (int)common.timeout_ms;
    copts.stop = &rm_stop_signal;
    copts.correlation_id = rm_log_correlation_id();
    copts.pglogical = session.cfg->pglogical;
    rm_log(PGCM_LOG_INFO, "collect_started", NULL, copts.correlation_id, NULL,
           "collection round%s over %zu nodes",
           sample_ms > 0 ? "s (sampled)" : "", session.count);
    copts.skip_sections = session.cfg->skip_sections;
    rc = 0;
    if (sample_ms > 0) {
        /* Two rounds: the second gets standbys' replay delay from the
         * first ("rounds"), whatever the primary's idle time. */
        copts.rounds = rm_rounds_new(2);
        rc = rm_collect(session.mgr, session.targets, session.count, &copts,
                        &first, err, sizeof(err));
        if (rc == 0 && sleep_unless_stopped(sample_ms) != 0) {
            snprintf(err, sizeof(err), "interrupted");
            rc = -1;
        }
    }
    if (rc == 0)
        rc = rm_collect(session.mgr, session.targets, session.count, &copts,
                        &snap, err, sizeof(err));
    if (rc == 0 && first != NULL) {
        rm_snapshot_rates(first, snap);
        sample_ms = snap->collected_ms - first->collected_ms;
    }
    rm_snapshot_free(first);
    rm_rounds_free(copts.rounds);
    if (rc != 0) {
        rm_session_close(&session);
        if (rm_stop_signal) {
            fprintf(stderr, "replmon status: interrupted\n");
            return RM_EXIT_INTERRUPTED;
        }
        fprintf(stderr, "replmon status: %s\n", err);
        return (int)RM_STATUS_UNKNOWN;
    }
    if (rm_evaluate(snap, &session.cfg->thresholds, &ev) != 0) {
        rm_snapshot_free(snap);
        rm_session_close(&session);
        fprintf(stderr, "replmon status: out of memory\n");
        return (int)RM_STATUS_UNKNOWN;
    }
    rm_log(PGCM_LOG_INFO, "collect_finished", NULL, copts.correlation_id,
           json_pack("{s:s,s:f}", "status", rm_status_name(ev.status),
                     "duration_seconds", (double)snap->elapsed_us / 1e6),
           "collection round done in %.1f ms: %s",
           (double)snap->elapsed_us / 1000.0, rm_status_name(ev.status));
    memset(&ctx, 0, sizeof(ctx));
    ctx.cluster = session.cluster;
    ctx.thresholds = &session.cfg->thresholds;
    ctx.sample_ms = sample_ms;
    if (format == RM_FORMAT_JSON) {
        json_t *doc = rm_status_json(snap, &ev, &ctx);

        if (doc == NULL || rm_print_json(stdout, doc, 15) != 0) {
            fprintf(stderr, "replmon status: cannot write the JSON report\n");
            ev.status = RM_STATUS_UNKNOWN;
        }
        json_decref(doc);
    } else {
        rm_print_status_table(stdout, snap, &ev, &ctx);
    }
    rc = (int)ev.status;
    rm_eval_free(&ev);
    rm_snapshot_free(snap);
    rm_session_close(&session);
    if (fflush(stdout) != 0)
        return (int)RM_STATUS_UNKNOWN;
    return rc;
}
