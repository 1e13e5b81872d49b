/* SPDX-License-Identifier: MIT */
/*
 * test_config_env.c - environment-only mode (S2), the default file path,
 * rm_config_load's choice between file and environment, command-line
 * overrides, and the precedence flags > file > environment.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "test_config_util.h"

static rm_config_t *env_ok(void)
{
    rm_config_t *cfg = NULL;
    rm_diags_t d;
    rm_diags_init(&d);
    int rc = rm_config_from_env(fake_getenv, &cfg, &d);
    dump_diags(&d);
    assert_int_equal(rc, PGCM_OK);
    assert_non_null(cfg);
    assert_int_equal(d.errors, 0);
    rm_diags_free(&d);
    return cfg;
}

static void test_env_only_defaults(void **state)
{
    (void)state;
    env_clear();
    rm_config_t *cfg = env_ok();
    assert_true(cfg->env_only);
    assert_null(cfg->path);
    assert_int_equal(cfg->node_count, 1);
    const pgcm_node_spec_t *n = &cfg->nodes[0];
    pgcm_node_spec_t def;
    pgcm_node_spec_init(&def);
    assert_string_equal(n->id, "default");
    /* Everything left to libpq. */
    assert_null(n->host);
    assert_int_equal(n->port, 0);
    assert_null(n->user);
    assert_null(n->database);
    assert_null(n->password);
    assert_null(n->conninfo);
    assert_int_equal(n->ssl.enabled, PGCM_SSL_DEFAULT);
    assert_null(n->ssh.host);
    assert_int_equal(n->pool.max, def.pool.max);
    assert_int_equal(n->pool.idle_timeout_ms, def.pool.idle_timeout_ms);
    assert_int_equal(cfg->options.health_check_interval_ms, 5000);
    assert_int_equal(cfg->cluster_count, 1);
    assert_string_equal(cfg->clusters[0].name, "default");
    const pgcm_node_spec_t *specs;
    size_t count;
    assert_int_equal(rm_config_cluster_nodes(cfg, NULL, &specs, &count, NULL),
                     PGCM_OK);
    assert_int_equal(count, 1);
    assert_null(cfg->env.host);
    assert_false(cfg->env.password_set);
    rm_config_free(cfg);
}

static void test_env_only_variables(void **state)
{
    (void)state;
    env_clear();
    env_set("PGHOST", "db9.example.com");
    env_set("PGPORT", "6543");
    env_set("PGUSER", "mon");
    env_set("PGDATABASE", "app");
    env_set("PGPASSWORD", "pw");
    env_set("PGSSLMODE", "verify-full");
    env_set("POSTGRES_MAX_CONNECTIONS", "20");
    env_set("POSTGRES_IDLE_TIMEOUT", "30000");
    env_set("POSTGRES_HEALTH_CHECK_INTERVAL", "60000");
    env_set("SSH_HOST", "remote-host");
    env_set("SSH_PORT", "2222");
    env_set("SSH_USER", "tunnel-user");
    env_set("SSH_KEY_PATH", "~/.ssh/id_rsa");
    env_set("HOME", "/home/op");
    rm_config_t *cfg = env_ok();
    const pgcm_node_spec_t *n = &cfg->nodes[0];
    assert_string_equal(n->id, "db9.example.com");
    /* libpq reads PG* itself: the spec stays NULL, the view records. */
    assert_null(n->host);
    assert_int_equal(n->port, 0);
    assert_null(n->user);
    assert_null(n->database);
    assert_null(n->password);
    assert_string_equal(cfg->env.host, "db9.example.com");
    assert_string_equal(cfg->env.port, "6543");
    assert_string_equal(cfg->env.user, "mon");
    assert_string_equal(cfg->env.database, "app");
    assert_string_equal(cfg->env.sslmode, "verify-full");
    assert_true(cfg->env.password_set);
    /* The seed's variables (milliseconds). */
    assert_int_equal(n->pool.max, 20);
    assert_int_equal(n->pool.idle_timeout_ms, 30000);
    assert_int_equal(cfg->options.health_check_interval_ms, 60000);
    assert_string_equal(n->ssh.host, "remote-host");
    assert_string_equal(n->ssh.user, "tunnel-user");
    assert_string_equal(n->ssh.key_path, "/home/op/.ssh/id_rsa");
    assert_int_equal(n->ssh.port, 2222);
    assert_int_equal(n->ssh.host_key_check, PGCM_HOSTKEY_STRICT);
    rm_config_free(cfg);

    /* Durations with units work too; a socket directory is not an id. */
    env_clear();
    env_set("PGHOST", "/var/run/postgresql");
    env_set("POSTGRES_IDLE_TIMEOUT", "30s");
    env_set("POSTGRES_HEALTH_CHECK_INTERVAL", "1m");
    env_set("POSTGRES_MAX_CONNECTIONS", "");
    cfg = env_ok();
    assert_string_equal(cfg->nodes[0].id, "default");
    assert_int_equal(cfg->nodes[0].pool.idle_timeout_ms, 30000);
    assert_int_equal(cfg->options.health_check_interval_ms, 60000);
    assert_int_equal(cfg->nodes[0].pool.max, 10); /* empty: unset */
    assert_string_equal(cfg->env.host, "/var/run/postgresql");
    rm_config_free(cfg);

    /* Several hosts are not one id either; PGHOSTADDR fills the view. */
    env_clear();
    env_set("PGHOSTADDR", "10.0.0.1");
    cfg = env_ok();
    assert_string_equal(cfg->nodes[0].id, "default");
    assert_string_equal(cfg->env.host, "10.0.0.1");
    rm_config_free(cfg);
    env_clear();
    env_set("PGHOST", "a,b");
    cfg = env_ok();
    assert_string_equal(cfg->nodes[0].id, "default");
    rm_config_free(cfg);
}

static void test_env_only_errors(void **state)
{
    (void)state;
    env_clear();
    env_set("POSTGRES_MAX_CONNECTIONS", "lots");
    env_set("POSTGRES_IDLE_TIMEOUT", "-5");
    env_set("POSTGRES_HEALTH_CHECK_INTERVAL", "5x");
    env_set("SSH_USER", "someone");
    rm_config_t *cfg = NULL;
    rm_diags_t d;
    rm_diags_init(&d);
    assert_int_equal(rm_config_from_env(fake_getenv, &cfg, &d), PGCM_EINVAL);
    assert_null(cfg);
    assert_int_equal(d.errors, 3);
    assert_int_equal(d.warnings, 1);
    assert_diag(&d, "environment: POSTGRES_MAX_CONNECTIONS: 'lots' is not a "
                    "connection count; use a whole number from 1 to 10000");
    assert_diag(&d, "environment: POSTGRES_IDLE_TIMEOUT: '-5': negative "
                    "duration; use a positive one such as 5s (a plain number "
                    "means milliseconds)");
    assert_diag(&d, "environment: POSTGRES_HEALTH_CHECK_INTERVAL: '5x': "
                    "unknown duration unit; use ms, s, m or h (lower case) "
                    "(a plain number means milliseconds)");
    assert_diag(&d, "environment: warning: SSH_USER: ignored because SSH_HOST "
                    "is not set; set SSH_HOST to reach the server through an "
                    "SSH tunnel");
    rm_diags_free(&d);

    /* SSH_PORT: a port, and only with SSH_HOST. */
    env_clear();
    env_set("SSH_HOST", "bastion");
    env_set("SSH_PORT", "70000");
    rm_diags_init(&d);
    assert_int_equal(rm_config_from_env(fake_getenv, &cfg, &d), PGCM_EINVAL);
    assert_int_equal(d.errors, 1);
    assert_diag(&d, "environment: SSH_PORT: '70000' is not a port; use a "
                    "whole number from 1 to 65535");
    rm_diags_free(&d);
    env_clear();
    env_set("SSH_PORT", "2222");
    rm_diags_init(&d);
    assert_int_equal(rm_config_from_env(fake_getenv, &cfg, &d), PGCM_OK);
    assert_int_equal(cfg->nodes[0].ssh.port, 22);
    assert_diag(&d, "environment: warning: SSH_PORT: ignored because SSH_HOST "
                    "is not set; set SSH_HOST to reach the server through an "
                    "SSH tunnel");
    rm_config_free(cfg);
    rm_diags_free(&d);

    env_clear();
    env_set("POSTGRES_IDLE_TIMEOUT", "0");
    env_set("POSTGRES_MAX_CONNECTIONS", "0");
    rm_diags_init(&d);
    assert_int_equal(rm_config_from_env(fake_getenv, &cfg, &d), PGCM_EINVAL);
    assert_diag(&d, "environment: POSTGRES_IDLE_TIMEOUT: '0' is out of range; "
                    "give a positive number of milliseconds such as 30000, or "
                    "a duration such as 30s");
    assert_diag(&d, "environment: POSTGRES_MAX_CONNECTIONS: '0' is not a "
                    "connection count; use a whole number from 1 to 10000");
    rm_diags_free(&d);
    /* Without a list, errors still fail. */
    assert_int_equal(rm_config_from_env(fake_getenv, &cfg, NULL), PGCM_EINVAL);
    assert_null(cfg);
}

/* ---- default path and load ------------------------------------------- */

static void test_default_path(void **state)
{
    (void)state;
    env_clear();
    env_set("XDG_CONFIG_HOME", "/xdg");
    env_set("HOME", "/home/op");
    char *p = rm_config_default_path(fake_getenv);
    assert_string_equal(p, "/xdg/replmon/config.yaml");
    free(p);
    /* A relative XDG_CONFIG_HOME is ignored, as the XDG spec says. */
    env_set("XDG_CONFIG_HOME", "relative/dir");
    p = rm_config_default_path(fake_getenv);
    assert_string_equal(p, "/home/op/.config/replmon/config.yaml");
    free(p);
    env_set("XDG_CONFIG_HOME", "");
    p = rm_config_default_path(fake_getenv);
    assert_string_equal(p, "/home/op/.config/replmon/config.yaml");
    free(p);
    /* No HOME: the password database (a container may have no entry for
     * our uid; then there is no default path). */
    env_clear();
    p = rm_config_default_path(fake_getenv);
    if (p != NULL)
        assert_non_null(strstr(p, "/.config/replmon/config.yaml"));
    free(p);
}

static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config_env.XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_load_file_or_environment(void **state)
{
    (void)state;
    make_tmpdir();
    char dir[512], file[600];
    snprintf(dir, sizeof(dir), "%s/replmon", tmpdir);
    snprintf(file, sizeof(file), "%s/config.yaml", dir);
    env_clear();
    env_set("XDG_CONFIG_HOME", tmpdir);
    env_set("PGHOST", "envhost");

    /* No file at the default path: environment-only mode. */
    rm_config_t *cfg = NULL;
    rm_diags_t d;
    rm_diags_init(&d);
    assert_int_equal(rm_config_load(NULL, fake_getenv, &cfg, &d), PGCM_OK);
    assert_true(cfg->env_only);
    assert_string_equal(cfg->nodes[0].id, "envhost");
    rm_config_free(cfg);

    /* A file at the default path is read. */
    assert_int_equal(mkdir(dir, 0700), 0);
    write_file(file, "nodes: { filenode: { host: fromfile } }\n", 0600);
    assert_int_equal(rm_config_load(NULL, fake_getenv, &cfg, &d), PGCM_OK);
    assert_false(cfg->env_only);
    assert_string_equal(cfg->path, file);
    assert_string_equal(cfg->nodes[0].id, "filenode");
    rm_config_free(cfg);

    /* --config names a file; a missing one is an error, not env mode. */
    char missing[700];
    snprintf(missing, sizeof(missing), "%s/nope.yaml", tmpdir);
    assert_int_equal(rm_config_load(missing, fake_getenv, &cfg, &d),
                     PGCM_ENOENT);
    assert_null(cfg);
    assert_int_equal(d.errors, 1);
    rm_diags_free(&d);

    unlink(file);
    rmdir(dir);
    rmdir(tmpdir);
}

/* ---- precedence -------------------------------------------------------- */

static void test_precedence_file_over_environment(void **state)
{
    (void)state;
    env_clear();
    env_set("PGHOST", "envhost");
    env_set("PGPORT", "7777");
    env_set("POSTGRES_MAX_CONNECTIONS", "50");
    env_set("SSH_HOST", "envbastion");
    rm_config_t *cfg = load_ok("nodes:\n"
                               "  a: { host: filehost }\n"
                               "  b: { database: x }\n");
    /* The file's host wins over PGHOST. */
    assert_string_equal(cfg->nodes[0].host, "filehost");
    /* What the file leaves unset stays NULL: libpq takes PGHOST/PGPORT. */
    assert_null(cfg->nodes[1].host);
    assert_int_equal(cfg->nodes[1].port, 0);
    assert_string_equal(cfg->env.host, "envhost");
    assert_string_equal(cfg->env.port, "7777");
    /* The S2 variables are for environment-only mode only. */
    assert_int_equal(cfg->nodes[0].pool.max, 10);
    assert_null(cfg->nodes[0].ssh.host);
    rm_config_free(cfg);
}

static void test_precedence_flags_over_file(void **state)
{
    (void)state;
    env_clear();
    env_set("PGHOST", "envhost");
    rm_config_t *cfg = load_ok("nodes:\n"
                               "  a: { host: filehost, port: 5432, user: u, "
                               "database: d }\n"
                               "  b: { host: other }\n");
    rm_diags_t d;
    rm_diags_init(&d);
    rm_overrides_t ov = {.host = "flaghost", .port = 6000};
    assert_int_equal(rm_config_apply_overrides(cfg, &ov, &d), PGCM_OK);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(cfg->nodes[i].host, "flaghost");
        assert_int_equal(cfg->nodes[i].port, 6000);
    }
    assert_string_equal(cfg->nodes[0].user, "u"); /* not given: kept */
    /* The cluster's copies follow. */
    const pgcm_node_spec_t *specs;
    size_t n;
    assert_int_equal(rm_config_cluster_nodes(cfg, NULL, &specs, &n, NULL),
                     PGCM_OK);
    assert_string_equal(specs[1].host, "flaghost");
    assert_true(pgcm_node_spec_equal(&specs[0], &cfg->nodes[0]));

    /* One node only. */
    rm_overrides_t one = {.node_id = "b", .database = "db2", .user = "u2"};
    assert_int_equal(rm_config_apply_overrides(cfg, &one, &d), PGCM_OK);
    assert_string_equal(cfg->nodes[1].database, "db2");
    assert_string_equal(cfg->nodes[1].user, "u2");
    assert_string_equal(cfg->nodes[0].database, "d");

    /* --password (the original replmon's flag) wins over the file. */
    rm_overrides_t pw = {.password = "flagsecret"};
    assert_int_equal(rm_config_apply_overrides(cfg, &pw, &d), PGCM_OK);
    assert_string_equal(cfg->nodes[0].password, "flagsecret");
    assert_string_equal(cfg->nodes[1].password, "flagsecret");

    /* Bad overrides change nothing. */
    rm_overrides_t bad = {.node_id = "bb"};
    assert_int_equal(rm_config_apply_overrides(cfg, &bad, &d), PGCM_ENOENT);
    assert_diag(&d, "command line: --node: no node named 'bb'; did you mean "
                    "'b'?");
    rm_overrides_t badport = {.port = 70000, .host = "zz"};
    assert_int_equal(rm_config_apply_overrides(cfg, &badport, &d), PGCM_EINVAL);
    assert_diag(&d, "command line: --port: 70000 is out of range; use a port "
                    "between 1 and 65535");
    rm_overrides_t empty = {.user = ""};
    assert_int_equal(rm_config_apply_overrides(cfg, &empty, &d), PGCM_EINVAL);
    assert_diag(&d, "command line: --user: empty value; give a value or leave "
                    "the flag out");
    assert_string_equal(cfg->nodes[0].host, "flaghost");
    assert_int_equal(rm_config_apply_overrides(cfg, NULL, &d), PGCM_EINVAL);
    rm_diags_free(&d);
    rm_config_free(cfg);
}

static void test_precedence_flags_over_environment(void **state)
{
    (void)state;
    env_clear();
    env_set("PGPORT", "7777");
    env_set("PGUSER", "envuser");
    rm_config_t *cfg = env_ok();
    assert_string_equal(cfg->nodes[0].id, "default");
    rm_overrides_t ov = {.host = "db5", .port = 5433, .user = "flaguser"};
    assert_int_equal(rm_config_apply_overrides(cfg, &ov, NULL), PGCM_OK);
    const pgcm_node_spec_t *n = &cfg->nodes[0];
    assert_string_equal(n->host, "db5");
    assert_int_equal(n->port, 5433);
    assert_string_equal(n->user, "flaguser");
    assert_null(n->database); /* still libpq's (PGDATABASE) */
    /* In env-only mode the node takes the host's name. */
    assert_string_equal(n->id, "db5");
    assert_string_equal(cfg->clusters[0].node_ids[0], "db5");
    assert_string_equal(cfg->clusters[0].specs[0].id, "db5");
    assert_non_null(rm_config_find_node(cfg, "db5"));
    rm_config_free(cfg);

    /* A named env node keeps its name. */
    env_set("PGHOST", "named");
    cfg = env_ok();
    assert_int_equal(rm_config_apply_overrides(cfg, &ov, NULL), PGCM_OK);
    assert_string_equal(cfg->nodes[0].id, "named");
    assert_string_equal(cfg->nodes[0].host, "db5");
    rm_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_only_defaults),
        cmocka_unit_test(test_env_only_variables),
        cmocka_unit_test(test_env_only_errors),
        cmocka_unit_test(test_default_path),
        cmocka_unit_test(test_load_file_or_environment),
        cmocka_unit_test(test_precedence_file_over_environment),
        cmocka_unit_test(test_precedence_flags_over_file),
        cmocka_unit_test(test_precedence_flags_over_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
