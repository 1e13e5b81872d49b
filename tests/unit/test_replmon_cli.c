/* SPDX-License-Identifier: MIT */
/*
 * test_replmon_cli.c - argument handling of every subcommand without a
 * server: --help exits 0, unknown or malformed flags exit 64 with one line
 * on stderr naming the cause and the fix, and the common flags parse.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Run a subcommand with stdout and stderr captured into files; returns its
 * exit code and the stderr text in err (static). */
static char err_text[4096];
static char out_text[16384];

static void slurp(FILE *f, char *buf, size_t len)
{
    size_t n;

    rewind(f);
    n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
}

static int run(int (*cmd)(int, char **), const char *const *args)
{
    char *argv[32];
    int argc = 0, rc, saved_out, saved_err;
    FILE *o = tmpfile(), *e = tmpfile();

    while (args[argc] != NULL) {
        argv[argc] = (char *)args[argc];
        argc++;
    }
    argv[argc] = NULL;
    fflush(stdout);
    fflush(stderr);
    saved_out = dup(STDOUT_FILENO);
    saved_err = dup(STDERR_FILENO);
    dup2(fileno(o), STDOUT_FILENO);
    dup2(fileno(e), STDERR_FILENO);
    rc = cmd(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved_out);
    close(saved_err);
    slurp(o, out_text, sizeof(out_text));
    slurp(e, err_text, sizeof(err_text));
    fclose(o);
    fclose(e);
    return rc;
}

/* Exactly one line, naming the command and pointing at --help. */
static void assert_one_line_usage(const char *cmd, const char *cause)
{
    char expect[64];

    snprintf(expect, sizeof(expect), "replmon %s: ", cmd);
    assert_non_null(strstr(err_text, expect));
    assert_non_null(strstr(err_text, cause));
    snprintf(expect, sizeof(expect), "run 'replmon %s --help'", cmd);
    assert_non_null(strstr(err_text, expect));
    assert_non_null(strchr(err_text, '\n'));
    assert_int_equal(strchr(err_text, '\n')[1], '\0');
}

static void test_help(void **state)
{
    const char *status[] = {"status", "--help", NULL};
    const char *query[] = {"query", "-h", NULL};
    const char *demo[] = {"demo", "--help", NULL};
    const char *check[] = {"check-config", "--help", NULL};

    (void)state;
    assert_int_equal(run(rm_cmd_status, status), 0);
    assert_non_null(strstr(out_text, "Usage: replmon status"));
    assert_non_null(strstr(out_text, "--cluster NAME"));
    assert_int_equal(run(rm_cmd_query, query), 0);
    assert_non_null(strstr(out_text, "Usage: replmon query"));
    assert_non_null(strstr(out_text, "--healthy"));
    assert_int_equal(run(rm_cmd_demo, demo), 0);
    assert_non_null(strstr(out_text, "Usage: replmon demo"));
    assert_non_null(strstr(out_text, "--duration"));
    assert_int_equal(run(rm_cmd_check_config, check), 0);
    assert_non_null(strstr(out_text, "Usage: replmon check-config"));
    assert_string_equal(err_text, "");
}

static void test_usage_errors(void **state)
{
    const char *unknown[] = {"status", "--frobnicate", NULL};
    const char *novalue[] = {"status", "--config", NULL};
    const char *badfmt[] = {"status", "--format", "csv", NULL};
    const char *badport[] = {"query", "--port", "99999", "select 1", NULL};
    const char *badtime[] = {"query", "--timeout", "soon", "select 1", NULL};
    const char *nosql[] = {"query", "--healthy", NULL};
    const char *both[] = {"query", "--healthy", "--node",
                          "a",     "select 1",  NULL};
    const char *emptysql[] = {"query", "", NULL};
    const char *qfmt[] = {"query", "--format", "xml", "select 1", NULL};
    const char *extra[] = {"status", "surplus", NULL};
    const char *dur[] = {"demo", "--duration", "-3", NULL};
    const char *dur2[] = {"demo", "--duration", "10parsecs", NULL};
    const char *demo_unknown[] = {"demo", "--host", "x", NULL};
    const char *ccfmt[] = {"check-config", "--format", "toml", NULL};
    const char *shortopt[] = {"status", "-x", NULL};

    (void)state;
    assert_int_equal(run(rm_cmd_status, unknown), 64);
    assert_one_line_usage("status", "unknown option '--frobnicate'");
    assert_int_equal(run(rm_cmd_status, novalue), 64);
    assert_one_line_usage("status", "'--config' needs a value");
    assert_int_equal(run(rm_cmd_status, badfmt), 64);
    assert_one_line_usage("status", "--format 'csv' is not table or json");
    assert_int_equal(run(rm_cmd_query, badport), 64);
    assert_one_line_usage("query", "--port '99999' is not a port number");
    assert_int_equal(run(rm_cmd_query, badtime), 64);
    assert_one_line_usage("query", "--timeout 'soon' is not a duration");
    assert_int_equal(run(rm_cmd_query, nosql), 64);
    assert_one_line_usage("query", "the SQL statement is missing");
    assert_int_equal(run(rm_cmd_query, both), 64);
    assert_one_line_usage("query", "--healthy and --node exclude each other");
    assert_int_equal(run(rm_cmd_query, emptysql), 64);
    assert_one_line_usage("query", "the SQL statement is empty");
    assert_int_equal(run(rm_cmd_query, qfmt), 64);
    assert_one_line_usage("query", "not table, json or csv");
    assert_int_equal(run(rm_cmd_status, extra), 64);
    assert_one_line_usage("status", "unexpected argument 'surplus'");
    assert_int_equal(run(rm_cmd_demo, dur), 64);
    assert_one_line_usage("demo", "--duration '-3'");
    assert_int_equal(run(rm_cmd_demo, dur2), 64);
    assert_one_line_usage("demo", "--duration '10parsecs'");
    assert_int_equal(run(rm_cmd_demo, demo_unknown), 64);
    assert_one_line_usage("demo", "unknown option '--host'");
    assert_int_equal(run(rm_cmd_check_config, ccfmt), 64);
    assert_one_line_usage("check-config", "--format 'toml' is not yaml");
    assert_int_equal(run(rm_cmd_status, shortopt), 64);
    assert_one_line_usage("status", "unknown option '-x'");
}

static void test_common_options(void **state)
{
    rm_common_t c;

    (void)state;
    rm_common_init(&c);
    assert_true(c.timeout_ms == 5000);
    assert_int_equal(rm_common_option(&c, "t", RM_OPT_CONFIG, "f.yaml"), 1);
    assert_int_equal(rm_common_option(&c, "t", RM_OPT_CLUSTER, "prod"), 1);
    assert_int_equal(rm_common_option(&c, "t", RM_OPT_HOST, "db1"), 1);
    assert_int_equal(rm_common_option(&c, "t", RM_OPT_PORT, "6543"), 1);
    assert_int_equal(rm_common_option(&c, "t", RM_OPT_DATABASE, "app"), 1);
    assert_int_equal(rm_common_option(&c, "t", RM_OPT_USER, "mon"), 1);
    assert_int_equal(rm_common_option(&c, "t", RM_OPT_TIMEOUT, "1500ms"), 1);
    assert_string_equal(c.config_path, "f.yaml");
    assert_string_equal(c.cluster, "prod");
    assert_string_equal(c.host, "db1");
    assert_int_equal(c.port, 6543);
    assert_string_equal(c.database, "app");
    assert_string_equal(c.user, "mon");
    assert_true(c.timeout_ms == 1500);
    /* A plain number of seconds. */
    assert_int_equal(rm_common_option(&c, "t", RM_OPT_TIMEOUT, "2"), 1);
    assert_true(c.timeout_ms == 2000);
    assert_int_equal(rm_common_option(&c, "t", 'z', "x"), 0);
}

static void test_missing_config_file(void **state)
{
    const char *status[] = {"status", "--config", "/nonexistent/replmon.yaml",
                            NULL};
    const char *query[] = {"query", "--config", "/nonexistent/replmon.yaml",
                           "select 1", NULL};
    const char *check[] = {"check-config", "--config",
                           "/nonexistent/replmon.yaml", NULL};

    (void)state;
    /* status: UNKNOWN (3), as monitoring plugins expect. */
    assert_int_equal(run(rm_cmd_status, status), 3);
    assert_non_null(strstr(err_text, "/nonexistent/replmon.yaml"));
    assert_int_equal(run(rm_cmd_query, query), RM_EXIT_CONFIG);
    assert_int_equal(run(rm_cmd_check_config, check), 1);
    assert_non_null(strstr(err_text, "/nonexistent/replmon.yaml"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_common_options),
        cmocka_unit_test(test_missing_config_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
