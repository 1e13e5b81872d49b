/* SPDX-License-Identifier: MIT */
/*
 * test_config_print.c - secrets: the printed configuration (YAML and JSON)
 * masks every password, passphrase and conninfo password; the YAML print
 * reads back to the same nodes; a group/world-readable file holding a
 * plaintext password gives a warning naming the file and the fix.
 */
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "test_config_util.h"

static const char secrets_yaml[] =
    "defaults:\n"
    "  password: default-secret-1\n"
    "nodes:\n"
    "  a: { host: h1, password: node-secret-2 }\n"
    "  b:\n"
    "    host: h2\n"
    "    ssh: { host: bastion, passphrase: ssh-secret-3 }\n"
    "  c: { conninfo: \"host=h3 password=conn-secret-4 dbname=x\" }\n"
    "  d: { conninfo: \"postgresql://u:uri-secret-5@h4/db\" }\n"
    "  e: { password: \"${PW}\" }\n";

static const char *const secrets[] = {"default-secret-1", "node-secret-2",
                                      "ssh-secret-3",     "conn-secret-4",
                                      "uri-secret-5",     "env-secret-6"};

static void test_print_masks_secrets(void **state)
{
    (void)state;
    env_clear();
    env_set("PW", "env-secret-6");
    env_set("PGPASSWORD", "pg-env-secret-7");
    rm_config_t *cfg = load_ok(secrets_yaml);
    assert_string_equal(cfg->nodes[0].password, "node-secret-2");
    for (int fmt = 0; fmt < 2; fmt++) {
        char *out = print_to_string(cfg, (rm_print_format_t)fmt);
        for (size_t i = 0; i < sizeof(secrets) / sizeof(*secrets); i++) {
            if (strstr(out, secrets[i]) != NULL) {
                print_message("%s leaked in:\n%s\n", secrets[i], out);
                fail();
            }
        }
        assert_null(strstr(out, "pg-env-secret-7"));
        assert_non_null(strstr(out, RM_CONFIG_MASK));
        if (fmt == RM_PRINT_YAML) {
            assert_non_null(strstr(out, "    password: \"********\"\n"));
            assert_non_null(strstr(out, "      passphrase: \"********\"\n"));
            assert_non_null(strstr(out, "    conninfo: \"password=******** "
                                        "dbname=x host=h3\"\n"));
            assert_non_null(strstr(out, "    conninfo: \"user=u "
                                        "password=******** dbname=db "
                                        "host=h4\"\n"));
        }
        free(out);
    }
    rm_config_free(cfg);
}

static void test_print_json(void **state)
{
    (void)state;
    env_clear();
    env_set("PGHOST", "envhost");
    rm_config_t *cfg =
        load_ok("manager: { query_timeout: 2s }\n"
                "nodes:\n"
                "  a: { host: h1, port: 5433, password: p }\n"
                "  b: { ssl: true, ssh: { host: bh, host_key_check: "
                "accept-new } }\n"
                "clusters: { x: { nodes: [a, b], default: "
                "true } }\n"
                "thresholds: { slot_retention: { warning: "
                "1KB, critical: 2KB } }\n"
                "theme: { name: light, colors: { success: green } "
                "}\n");
    char *out = print_to_string(cfg, RM_PRINT_JSON);
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    if (j == NULL)
        print_message("bad JSON (%s):\n%s\n", jerr.text, out);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(j, "manager"), "query_timeout_ms")),
                     2000);
    json_t *nodes = json_object_get(j, "nodes");
    assert_int_equal(json_array_size(nodes), 2);
    json_t *a = json_array_get(nodes, 0);
    assert_string_equal(json_string_value(json_object_get(a, "id")), "a");
    assert_int_equal(json_integer_value(json_object_get(a, "port")), 5433);
    assert_string_equal(json_string_value(json_object_get(a, "password")),
                        RM_CONFIG_MASK);
    json_t *b = json_array_get(nodes, 1);
    assert_true(json_is_null(json_object_get(b, "host")));
    assert_true(json_is_null(json_object_get(b, "password")));
    assert_true(
        json_is_true(json_object_get(json_object_get(b, "ssl"), "enabled")));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(b, "ssh"), "host_key_check")),
                        "accept-new");
    assert_true(json_is_null(json_object_get(a, "ssh")));
    json_t *cl = json_array_get(json_object_get(j, "clusters"), 0);
    assert_string_equal(json_string_value(json_object_get(cl, "name")), "x");
    assert_true(json_is_true(json_object_get(cl, "default")));
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(j, "thresholds"), "slot_retention"),
            "critical_bytes")),
        2048);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "env"), "PGHOST")),
        "envhost");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(j, "theme"), "colors"), "success")),
        "green");
    json_decref(j);
    free(out);
    rm_config_free(cfg);
}

static void test_print_yaml_reads_back(void **state)
{
    (void)state;
    env_clear();
    env_set("HOME", "/home/op");
    const char *text =
        "manager: { health_check_interval: 1500ms, probe_query: \"SELECT "
        "'x'\" , backoff: { initial: 2s, max: 1m } }\n"
        "defaults: { pool: { min: 0, max: 4, lifetime: 10m } }\n"
        "nodes:\n"
        "  a: { host: h1, port: 5433, user: u, database: \"we\\\"ird\" }\n"
        "  b: { host: \"$${not_a_var}\", ssl: { enabled: true, ca: ~/ca } }\n"
        "  c: { conninfo: \"host=h3 dbname=x\", application_name: app }\n"
        "  d: { ssh: { host: bastion, port: 2222, user: t, key_path: /k,"
        " host_key_check: accept-new } }\n"
        "  e: { ssl: false, connect_timeout: 3s }\n"
        "clusters: { main: { nodes: [a, b, c, d, e], default: true }, "
        "small: [e] }\n"
        "thresholds: { replication_lag: { warning: 1s, critical: 2s }, "
        "replication_lag_bytes: { warning: 3MB, critical: 9MB }, "
        "conflict_rate: { warning: 0.5, critical: 1.25 } }\n"
        "pglogical: true\n"
        "skip_sections: [receiver, slots]\n"
        "theme: { name: light, colors: { warning: \"#FFD700\" } }\n"
        "serve: { listen: \"[::1]:9300\", interval: 2s }\n"
        "event_log: { node: e, queue_size: 50 }\n";
    rm_config_t *c1 = load_ok(text);
    char *out = print_to_string(c1, RM_PRINT_YAML);
    rm_config_t *c2 = NULL;
    rm_diags_t d;
    int rc = parse_text(out, &c2, &d);
    if (rc != PGCM_OK) {
        print_message("printed YAML does not parse:\n%s\n", out);
        dump_diags(&d);
    }
    assert_int_equal(rc, PGCM_OK);
    rm_diags_free(&d);
    assert_int_equal(c2->node_count, c1->node_count);
    for (size_t i = 0; i < c1->node_count; i++) {
        if (!pgcm_node_spec_equal(&c1->nodes[i], &c2->nodes[i])) {
            print_message("node %s differs after a round trip:\n%s\n",
                          c1->nodes[i].id, out);
            fail();
        }
    }
    assert_string_equal(c2->nodes[1].host, "${not_a_var}");
    assert_string_equal(c2->nodes[0].database, "we\"ird");
    assert_non_null(strstr(out, "      host_key_check: accept-new\n"));
    assert_int_equal(c2->nodes[3].ssh.host_key_check, PGCM_HOSTKEY_ACCEPT_NEW);
    assert_memory_equal(&c1->options, &c2->options,
                        offsetof(pgcm_options_t, probe_query));
    assert_string_equal(c2->options.probe_query, "SELECT 'x'");
    assert_memory_equal(&c1->thresholds, &c2->thresholds,
                        sizeof(c1->thresholds));
    assert_int_equal(c2->pglogical, 1);
    assert_int_equal(c2->skip_sections, RM_SKIP_RECEIVER | RM_SKIP_SLOTS);
    assert_non_null(strstr(out, "skip_sections: [slots, receiver]\n"));
    assert_int_equal(c2->cluster_count, 2);
    assert_string_equal(rm_config_find_cluster(c2, NULL)->name, "main");
    assert_string_equal(c2->theme.colors[0].color, "#FFD700");
    assert_string_equal(c2->serve.listen, "[::1]:9300");
    assert_int_equal(c2->serve.interval_ms, 2000);
    assert_string_equal(c2->event_log.node, "e");
    assert_int_equal(c2->event_log.queue_size, 50);
    free(out);
    rm_config_free(c1);
    rm_config_free(c2);
}

static void test_print_env_only(void **state)
{
    (void)state;
    env_clear();
    env_set("PGHOST", "db9");
    env_set("PGPASSWORD", "pg-env-secret");
    env_set("PGSSLMODE", "require");
    rm_config_t *cfg = NULL;
    assert_int_equal(rm_config_from_env(fake_getenv, &cfg, NULL), PGCM_OK);
    char *out = print_to_string(cfg, RM_PRINT_YAML);
    assert_non_null(strstr(out, "# replmon configuration from the "
                                "environment (no file); secrets masked\n"));
    assert_non_null(strstr(out, "  \"db9\":\n"));
    assert_non_null(strstr(out, "    host: null  # libpq uses PGHOST=db9\n"));
    assert_non_null(
        strstr(out, "    password: null  # libpq uses PGPASSWORD=********\n"));
    assert_non_null(
        strstr(out, "      enabled: null  # libpq uses PGSSLMODE=require\n"));
    assert_null(strstr(out, "pg-env-secret"));
    assert_non_null(strstr(out, "\npglogical: auto\n")); /* the default */
    free(out);
    out = print_to_string(cfg, RM_PRINT_JSON);
    assert_null(strstr(out, "pg-env-secret"));
    assert_non_null(strstr(out, "\"env_only\": true"));
    assert_non_null(strstr(out, "\"pglogical\": \"auto\""));
    free(out);
    rm_config_free(cfg);
}

static void test_mask_conninfo(void **state)
{
    (void)state;
    char *m = rm_config_mask_conninfo("host=h password=secret user=u");
    assert_string_equal(m, "user=u password=******** host=h");
    free(m);
    m = rm_config_mask_conninfo("password='se cret' host=h");
    assert_string_equal(m, "password=******** host=h");
    free(m);
    m = rm_config_mask_conninfo("postgresql://u:secret@h:5433/db?"
                                "application_name=a%20b");
    assert_string_equal(m, "user=u password=******** dbname=db host=h "
                           "port=5433 application_name='a b'");
    free(m);
    m = rm_config_mask_conninfo("postgresql://h/db?password=secret");
    assert_null(strstr(m, "secret"));
    free(m);
    m = rm_config_mask_conninfo("host=h");
    assert_string_equal(m, "host=h");
    free(m);
    assert_null(rm_config_mask_conninfo("bogus=1"));
    assert_null(rm_config_mask_conninfo(NULL));
}

static void test_conninfo_errors_hide_values(void **state)
{
    (void)state;
    env_clear();
    env_set("CI", "host=h hunter2 x");
    rm_config_t *cfg = NULL;
    rm_diags_t d;
    assert_int_equal(
        parse_text("nodes: { a: { conninfo: \"${CI}\" } }\n", &cfg, &d),
        PGCM_EINVAL);
    assert_diag(&d, "t.yaml:1:25: nodes.a.conninfo: invalid connection "
                    "string: missing \"=\" after \"...\" in connection info "
                    "string; write libpq key=value pairs (host=db1 "
                    "dbname=app) or a postgresql:// URI");
    rm_diags_free(&d);
}

/* ---- permission warning ------------------------------------------------ */

static char tmpdir[256];

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static int load_file(const char *path, rm_diags_t *d)
{
    rm_config_t *cfg = NULL;
    rm_diags_init(d);
    int rc = rm_config_parse_file(path, fake_getenv, &cfg, d);
    rm_config_free(cfg);
    return rc;
}

static void test_plaintext_password_warning(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config_print.XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    char path[512];
    snprintf(path, sizeof(path), "%s/replmon.yaml", tmpdir);
    env_clear();
    env_set("PW", "from-env");
    rm_diags_t d;
    char expect[2048];

    /* Plaintext password, mode 0644: a warning, not an error. */
    write_file(path, "nodes:\n  a: { host: h, password: plain }\n", 0644);
    assert_int_equal(load_file(path, &d), PGCM_OK);
    assert_int_equal(d.errors, 0);
    assert_int_equal(d.warnings, 1);
    snprintf(expect, sizeof(expect),
             "%s:2:27: warning: nodes.a.password: the file holds a plaintext "
             "password and is readable by group or others (mode 0644); run "
             "'chmod 600 %s', or move the secret to the environment with "
             "${VAR}",
             path, path);
    assert_diag(&d, expect);
    rm_diags_free(&d);

    /* Group-readable only is enough. */
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(load_file(path, &d), PGCM_OK);
    assert_int_equal(d.warnings, 1);
    rm_diags_free(&d);

    /* chmod 600: no warning. */
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(load_file(path, &d), PGCM_OK);
    assert_int_equal(d.warnings, 0);
    rm_diags_free(&d);

    /* A password from ${...}: no warning even when readable. */
    write_file(path, "nodes:\n  a: { password: \"${PW}\" }\n", 0644);
    assert_int_equal(load_file(path, &d), PGCM_OK);
    assert_int_equal(d.warnings, 0);
    rm_diags_free(&d);

    /* Plaintext in a conninfo, in defaults:, or an SSH passphrase. */
    const char *texts[] = {
        "nodes:\n  a: { conninfo: \"host=h password=x\" }\n",
        "defaults: { password: x }\nnodes:\n  a: {}\n",
        "nodes:\n  a: { ssh: { host: b, passphrase: x } }\n",
    };
    const char *keys[] = {"nodes.a.conninfo", "defaults.password",
                          "nodes.a.ssh.passphrase"};
    for (size_t i = 0; i < 3; i++) {
        write_file(path, texts[i], 0604);
        assert_int_equal(load_file(path, &d), PGCM_OK);
        assert_int_equal(d.warnings, 1);
        assert_non_null(strstr(d.items[0].key, keys[i]));
        assert_non_null(strstr(d.items[0].message, "(mode 0604)"));
        rm_diags_free(&d);
    }
    /* No password at all: nothing to warn about. */
    write_file(path, "nodes:\n  a: { conninfo: \"host=h\" }\n", 0666);
    assert_int_equal(load_file(path, &d), PGCM_OK);
    assert_int_equal(d.warnings, 0);
    rm_diags_free(&d);
    /* A file with errors still gets the warning, beside the errors. */
    write_file(path, "nodes:\n  a: { password: x, port: 0 }\n", 0644);
    assert_int_equal(load_file(path, &d), PGCM_EINVAL);
    assert_int_equal(d.warnings, 1);
    assert_int_equal(d.errors, 1);
    rm_diags_free(&d);

    unlink(path);
    rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_print_masks_secrets),
        cmocka_unit_test(test_print_json),
        cmocka_unit_test(test_print_yaml_reads_back),
        cmocka_unit_test(test_print_env_only),
        cmocka_unit_test(test_mask_conninfo),
        cmocka_unit_test(test_conninfo_errors_hide_values),
        cmocka_unit_test(test_plaintext_password_warning),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
