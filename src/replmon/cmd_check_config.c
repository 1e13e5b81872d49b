/* SPDX-License-Identifier: MIT */
/*
 * cmd_check_config.c - `replmon check-config`: load the configuration the
 * flags select, print every problem one per line on stderr, and print the
 * resolved configuration (defaults filled in, secrets masked) on stdout.
 * Exit 0 when it is usable (warnings allowed), 1 when it has errors.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define CMD "check-config"

static const char check_help[] =
    "Usage: replmon check-config [OPTIONS]\n"
    "\n"
    "Validate the configuration and print it resolved: every default\n"
    "filled in, durations in milliseconds, sizes in bytes, and every\n"
    "password masked. All problems are printed, one per line, as\n"
    "FILE:LINE:COLUMN: KEY: what is wrong; what to do.\n"
    "\n"
    "Options:\n"
    "  --format yaml|json   output format (default yaml)\n"
    "  -h, --help           show this help\n"
    "\n" RM_COMMON_HELP "\n"
    "Exit status: 0 valid (warnings allowed), 1 errors, 64 usage error.\n";

enum { OPT_FORMAT = RM_OPT_FIRST_COMMAND };

int rm_cmd_check_config(int argc, char **argv)
{
    static const struct option longopts[] = {
        RM_COMMON_LONG_OPTIONS,
        {"format", required_argument, NULL, OPT_FORMAT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    rm_print_format_t format = RM_PRINT_YAML;
    rm_common_t common;
    rm_config_t *cfg = NULL;
    rm_diags_t diags;
    const rm_cluster_t *cluster;
    const char *source;
    int opt, rc;
    size_t i;

    rm_common_init(&common);
    rm_getopt_reset();
    while ((opt = getopt_long(argc, argv, RM_COMMON_SHORT, longopts, NULL)) !=
           -1) {
        if (opt == 'h') {
            fputs(check_help, stdout);
            return RM_EXIT_OK;
        }
        if (opt == OPT_FORMAT) {
            if (strcmp(optarg, "yaml") == 0)
                format = RM_PRINT_YAML;
            else if (strcmp(optarg, "json") == 0)
                format = RM_PRINT_JSON;
            else
                return rm_usage_error(CMD, "--format '%s' is not yaml or json",
                                      optarg);
            continue;
        }
        if (opt == '?' || opt == ':')
            return rm_getopt_error(CMD, opt, argv);
        if (rm_common_option(&common, CMD, opt, optarg) <= 0)
            return RM_EXIT_USAGE;
    }
    if (optind < argc)
        return rm_usage_error(CMD, "unexpected argument '%s'", argv[optind]);

    if (rm_common_log_open(&common, CMD, PGCM_LOG_ERROR) != 0)
        return RM_EXIT_FAILURE;
    rm_diags_init(&diags);
    rc = rm_common_load_config(&common, &cfg, &diags);
    rm_diags_print(&diags, stderr);
    if (rc != PGCM_OK) {
        if (rc == PGCM_ENOMEM)
            fprintf(stderr, "replmon check-config: out of memory\n");
        else
            fprintf(stderr,
                    "replmon check-config: %zu error%s, %zu warning%s; the "
                    "configuration cannot be used\n",
                    diags.errors, diags.errors == 1 ? "" : "s", diags.warnings,
                    diags.warnings == 1 ? "" : "s");
        rm_diags_free(&diags);
        rm_config_free(cfg);
        return RM_EXIT_FAILURE;
    }
    cluster = rm_config_find_cluster(cfg, common.cluster);
    if (cluster == NULL) {
        pgcm_error_t err;
        const pgcm_node_spec_t *specs;
        size_t n;

        memset(&err, 0, sizeof(err));
        rc = rm_config_cluster_nodes(cfg, common.cluster, &specs, &n, &err);
        fprintf(stderr, "replmon check-config: %s\n",
                err.message[0] ? err.message : "no such cluster");
        rm_diags_free(&diags);
        rm_config_free(cfg);
        return RM_EXIT_FAILURE;
    }
    source = cfg->path != NULL ? cfg->path : "the environment (no file)";
    if (format == RM_PRINT_YAML) {
        printf("# replmon check-config: %s is valid (%zu warning%s)\n", source,
               diags.warnings, diags.warnings == 1 ? "" : "s");
        printf("# %zu node%s, %zu cluster%s; selected cluster: %s (",
               cfg->node_count, cfg->node_count == 1 ? "" : "s",
               cfg->cluster_count, cfg->cluster_count == 1 ? "" : "s",
               cluster->name);
        for (i = 0; i < cluster->node_count; i++)
            printf("%s%s", i ? ", " : "", cluster->node_ids[i]);
        printf(")\n");
    }
    rm_diags_free(&diags);
    rc = rm_config_print(cfg, format, stdout);
    rm_config_free(cfg);
    if (rc != PGCM_OK || fflush(stdout) != 0) {
        fprintf(stderr,
                "replmon check-config: cannot print the "
                "configuration: %s\n",
                pgcm_strerror(rc != PGCM_OK ? rc : PGCM_EINVAL));
        return RM_EXIT_FAILURE;
    }
    return RM_EXIT_OK;
}
