/* SPDX-License-Identifier: MIT */
/*
 * test_config.c - the YAML configuration format (C1): the original tool's
 * format and ours, defaults merging, both node forms, clusters, thresholds,
 * theme, serve and event_log, the example file, and every validation error
 * with its exact file:line:column, all reported at once; files that are not
 * regular files (FIFOs, sockets, devices, directories) refused at once.
 */
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "test_config_util.h"

/* ---- accepted formats ---------------------------------------------------- */

static const char issue_format[] =
    "nodes:\n"
    "  primary:  { host: db1, port: 5432, database: app, user: monitor, "
    "password: ${PG_PASSWORD} }\n"
    "  replica:  { host: \"${REPLICA_HOST:-db2}\", database: app }\n"
    "clusters:\n"
    "  production: { nodes: [primary, replica], default: true }\n"
    "thresholds:\n"
    "  replication_lag: { warning: 10s, critical: 1m }\n"
    "  slot_retention:  { warning: 1GB, critical: 5GB }\n"
    "  conflict_rate:   { warning: 5, critical: 20 }\n"
    "pglogical: false\n"
    "theme: dark        # or { name: dark, colors: { warning: \"#FFD700\" } "
    "}\n";

static void test_issue_format(void **state)
{
    (void)state;
    env_clear();
    env_set("PG_PASSWORD", "s3cret");
    rm_config_t *cfg = load_ok(issue_format);
    assert_int_equal(cfg->node_count, 2);
    const pgcm_node_spec_t *p = &cfg->nodes[0];
    assert_string_equal(p->id, "primary");
    assert_string_equal(p->host, "db1");
    assert_int_equal(p->port, 5432);
    assert_string_equal(p->database, "app");
    assert_string_equal(p->user, "monitor");
    assert_string_equal(p->password, "s3cret");
    const pgcm_node_spec_t *r = &cfg->nodes[1];
    assert_string_equal(r->id, "replica");
    assert_string_equal(r->host, "db2");
    assert_int_equal(r->port, 0); /* libpq default */
    assert_null(r->user);
    assert_null(r->password);
    /* Pool defaults from pgcm. */
    assert_int_equal(r->pool.min, 1);
    assert_int_equal(r->pool.max, 10);

    assert_int_equal(cfg->cluster_count, 1);
    assert_string_equal(cfg->clusters[0].name, "production");
    assert_int_equal(cfg->clusters[0].node_count, 2);
    assert_true(cfg->clusters[0].is_default);
    assert_false(cfg->clusters[0].implicit);

    assert_int_equal(cfg->thresholds.lag_warning_ms, 10000);
    assert_int_equal(cfg->thresholds.lag_critical_ms, 60000);
    /* Not in the file: the defaults. */
    assert_int_equal(cfg->thresholds.lag_warning_bytes, 1024 * 1024);
    assert_int_equal(cfg->thresholds.lag_critical_bytes, 16 * 1024 * 1024);
    assert_int_equal(cfg->thresholds.slot_warning_bytes, 1073741824LL);
    assert_int_equal(cfg->thresholds.slot_critical_bytes, 5368709120LL);
    assert_true(cfg->thresholds.conflict_rate_warning == 5.0);
    assert_true(cfg->thresholds.conflict_rate_critical == 20.0);
    assert_int_equal(cfg->pglogical, 0);
    assert_string_equal(cfg->theme.name, "dark");
    assert_int_equal(cfg->theme.color_count, 0);
    assert_non_null(cfg->priv);
    rm_config_free(cfg);

    env_set("REPLICA_HOST", "db7");
    cfg = load_ok(issue_format);
    assert_string_equal(cfg->nodes[1].host, "db7");
    rm_config_free(cfg);
}

static void test_manager_section(void **state)
{
    (void)state;
    env_clear();
    rm_config_t *cfg =
        load_ok("manager:\n"
                "  health_check_interval: 2s\n"
                "  health_check_timeout: 500ms\n"
                "  unhealthy_threshold: 5\n"
                "  degraded_latency: 250ms\n"
                "  query_timeout: 1m\n"
                "  connect_timeout: 3\n" /* plain number: seconds */
                "  shutdown_timeout: 0\n"
                "  liveness_interval: 0\n"
                "  liveness_timeout: 300ms\n"
                "  suspect_probe_timeout: 200ms\n"
                "  remove_timeout: 1.5s\n"
                "  cancel_grace: 1s\n"
                "  stats_interval: 10s\n"
                "  backoff: { initial: 500ms, max: 1m }\n"
                "  probe_query: SELECT 2\n"
                "  application_name: mon\n"
                "nodes: { a: { host: h } }\n");
    const pgcm_options_t *o = &cfg->options;
    assert_int_equal(o->health_check_interval_ms, 2000);
    assert_int_equal(o->health_check_timeout_ms, 500);
    assert_int_equal(o->unhealthy_threshold, 5);
    assert_int_equal(o->degraded_latency_ms, 250);
    assert_int_equal(o->query_timeout_ms, 60000);
    assert_int_equal(o->connect_timeout_ms, 3000);
    assert_int_equal(o->shutdown_timeout_ms, 0);
    assert_int_equal(o->liveness_interval_ms, 0);
    assert_int_equal(o->liveness_timeout_ms, 300);
    assert_int_equal(o->suspect_probe_timeout_ms, 200);
    assert_int_equal(o->remove_timeout_ms, 1500);
    assert_int_equal(o->cancel_grace_ms, 1000);
    assert_int_equal(o->stats_interval_ms, 10000);
    assert_int_equal(o->backoff_initial_ms, 500);
    assert_int_equal(o->backoff_max_ms, 60000);
    assert_string_equal(o->probe_query, "SELECT 2");
    assert_string_equal(o->application_name, "mon");
    rm_config_free(cfg);

    /* Without manager:, pgcm's defaults. */
    cfg = load_ok("nodes: { a: {} }\n");
    pgcm_options_t def;
    pgcm_options_init(&def);
    assert_int_equal(cfg->options.health_check_interval_ms,
                     def.health_check_interval_ms);
    assert_int_equal(cfg->options.query_timeout_ms, def.query_timeout_ms);
    assert_string_equal(cfg->options.probe_query, "SELECT 1");
    assert_string_equal(cfg->options.application_name, "replmon");
    rm_config_free(cfg);
}

static void test_node_keys_and_defaults(void **state)
{
    (void)state;
    env_clear();
    env_set("HOME", "/home/op");
    rm_config_t *cfg = load_ok(
        "defaults:\n"
        "  port: 6432\n"
        "  user: monitor\n"
        "  database: app\n"
        "  application_name: rm-default\n"
        "  connect_timeout: 2s\n"
        "  pool: { min: 2, max: 8, idle_timeout: 30s, acquire_timeout: 5s,"
        " lifetime: 1h, leak_threshold: 2m }\n"
        "  ssl: { ca: ~/ca.crt, reject_unauthorized: false }\n"
        "  ssh: { host: bastion, user: tun, key_path: ~/.ssh/id,"
        " host_key_check: accept-new }\n"
        "nodes:\n"
        "  a:\n"
        "    host: h1\n"
        "  b:\n"
        "    host: h2\n"
        "    port: 5433\n"
        "    pool: { max: 20 }\n"
        "    ssl: { enabled: false }\n"
        "    ssh: false\n"
        "  c:\n"
        "    conninfo: host=h3 dbname=other\n"
        "    pool: { max_lifetime: 10m }\n"
        "    ssh: { port: 2222, known_hosts: /etc/kh, passphrase: "
        "${PP:-x}, host_key_check: Strict }\n");
    assert_int_equal(cfg->node_count, 3);
    const pgcm_node_spec_t *a = rm_config_find_node(cfg, "a");
    const pgcm_node_spec_t *b = rm_config_find_node(cfg, "b");
    const pgcm_node_spec_t *c = rm_config_find_node(cfg, "c");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_null(rm_config_find_node(cfg, "zz"));

    assert_string_equal(a->host, "h1");
    assert_int_equal(a->port, 6432);
    assert_string_equal(a->user, "monitor");
    assert_string_equal(a->database, "app");
    assert_string_equal(a->application_name, "rm-default");
    assert_int_equal(a->connect_timeout_ms, 2000);
    assert_int_equal(a->pool.min, 2);
    assert_int_equal(a->pool.max, 8);
    assert_int_equal(a->pool.idle_timeout_ms, 30000);
    assert_int_equal(a->pool.acquire_timeout_ms, 5000);
    assert_int_equal(a->pool.max_lifetime_ms, 3600000);
    assert_int_equal(a->pool.leak_threshold_ms, 120000);
    /* An ssl mapping turns TLS on unless it says enabled: false. */
    assert_int_equal(a->ssl.enabled, PGCM_SSL_ENABLED);
    assert_int_equal(a->ssl.reject_unauthorized, 0);
    assert_string_equal(a->ssl.ca, "/home/op/ca.crt");
    assert_string_equal(a->ssh.host, "bastion");
    assert_string_equal(a->ssh.user, "tun");
    assert_string_equal(a->ssh.key_path, "/home/op/.ssh/id");
    assert_int_equal(a->ssh.port, 22);
    assert_int_equal(a->ssh.host_key_check, PGCM_HOSTKEY_ACCEPT_NEW);

    /* b's own keys win; nested sections merge key by key. */
    assert_int_equal(b->port, 5433);
    assert_int_equal(b->pool.min, 2);
    assert_int_equal(b->pool.max, 20);
    assert_int_equal(b->ssl.enabled, PGCM_SSL_DISABLED);
    assert_string_equal(b->ssl.ca, "/home/op/ca.crt");
    assert_null(b->ssh.host); /* ssh: false drops the defaults' tunnel */
    assert_int_equal(b->ssh.host_key_check, PGCM_HOSTKEY_STRICT);

    /* A node with conninfo does not take the defaults' connection fields. */
    assert_string_equal(c->conninfo, "host=h3 dbname=other");
    assert_null(c->host);
    assert_int_equal(c->port, 0);
    assert_null(c->user);
    assert_null(c->database);
    assert_int_equal(c->ssl.enabled, PGCM_SSL_DEFAULT);
    assert_int_equal(c->pool.max_lifetime_ms, 600000);
    assert_int_equal(c->pool.max, 8); /* pool still from defaults */
    assert_string_equal(c->ssh.host, "bastion");
    assert_int_equal(c->ssh.port, 2222);
    assert_string_equal(c->ssh.known_hosts, "/etc/kh");
    assert_string_equal(c->ssh.passphrase, "x");
    assert_int_equal(c->ssh.host_key_check, PGCM_HOSTKEY_STRICT);
    rm_config_free(cfg);

    /* Without the key: strict. */
    cfg = load_ok("nodes:\n  a: { ssh: { host: bastion } }\n");
    assert_int_equal(cfg->nodes[0].ssh.host_key_check, PGCM_HOSTKEY_STRICT);
    rm_config_free(cfg);
}

static void test_ssl_forms(void **state)
{
    (void)state;
    env_clear();
    rm_config_t *cfg = load_ok("nodes:\n"
                               "  a: { ssl: true }\n"
                               "  b: { ssl: false }\n"
                               "  c: { ssl: { enabled: true, cert: /c, key: "
                               "/k } }\n"
                               "  d: {}\n"
                               "  e: { ssl: null }\n");
    assert_int_equal(cfg->nodes[0].ssl.enabled, PGCM_SSL_ENABLED);
    assert_int_equal(cfg->nodes[1].ssl.enabled, PGCM_SSL_DISABLED);
    assert_int_equal(cfg->nodes[2].ssl.enabled, PGCM_SSL_ENABLED);
    assert_int_equal(cfg->nodes[2].ssl.reject_unauthorized, 1);
    assert_string_equal(cfg->nodes[2].ssl.cert, "/c");
    assert_string_equal(cfg->nodes[2].ssl.key, "/k");
    assert_int_equal(cfg->nodes[3].ssl.enabled, PGCM_SSL_DEFAULT);
    assert_int_equal(cfg->nodes[4].ssl.enabled, PGCM_SSL_DEFAULT);
    rm_config_free(cfg);
}

static void test_sequence_form_equals_mapping_form(void **state)
{
    (void)state;
    env_clear();
    rm_config_t *m = load_ok("nodes:\n"
                             "  a: { host: h1, port: 5432 }\n"
                             "  b: { host: h2, pool: { max: 3 } }\n");
    rm_config_t *s = load_ok("nodes:\n"
                             "  - id: a\n"
                             "    host: h1\n"
                             "    port: 5432\n"
                             "  - name: b\n"
                             "    host: h2\n"
                             "    pool: { max: 3 }\n");
    assert_int_equal(m->node_count, 2);
    assert_int_equal(s->node_count, 2);
    for (size_t i = 0; i < 2; i++)
        assert_true(pgcm_node_spec_equal(&m->nodes[i], &s->nodes[i]));
    rm_config_free(m);
    rm_config_free(s);
}

static void test_reload_diff_support(void **state)
{
    (void)state;
    env_clear();
    const char *v1 = "nodes:\n  a: { host: h1 }\n  b: { host: h2 }\n";
    const char *v2 = "nodes:\n  a: { host: h1 }\n  b: { host: h2, port: 5433 "
                     "}\n  c: { host: h3 }\n";
    rm_config_t *c1 = load_ok(v1);
    rm_config_t *c1b = load_ok(v1);
    rm_config_t *c2 = load_ok(v2);
    /* Same text: equal node by node, though the strings are distinct. */
    for (size_t i = 0; i < c1->node_count; i++) {
        assert_ptr_not_equal(c1->nodes[i].host, c1b->nodes[i].host);
        assert_true(pgcm_node_spec_equal(&c1->nodes[i], &c1b->nodes[i]));
    }
    assert_true(pgcm_node_spec_equal(rm_config_find_node(c1, "a"),
                                     rm_config_find_node(c2, "a")));
    assert_false(pgcm_node_spec_equal(rm_config_find_node(c1, "b"),
                                      rm_config_find_node(c2, "b")));
    assert_null(rm_config_find_node(c1, "c"));
    rm_config_free(c1);
    rm_config_free(c1b);
    rm_config_free(c2);
}

static void test_interpolation_before_typing(void **state)
{
    (void)state;
    env_clear();
    const char *text = "manager:\n"
                       "  health_check_interval: ${HCI:-3s}\n"
                       "  unhealthy_threshold: \"${THR:-4}\"\n"
                       "nodes:\n"
                       "  a: { port: ${PORT:-5432}, ssl: ${TLS:-false} }\n"
                       "pglogical: ${PGL:-true}\n";
    rm_config_t *cfg = load_ok(text);
    assert_int_equal(cfg->nodes[0].port, 5432);
    assert_int_equal(cfg->nodes[0].ssl.enabled, PGCM_SSL_DISABLED);
    assert_int_equal(cfg->options.health_check_interval_ms, 3000);
    assert_int_equal(cfg->options.unhealthy_threshold, 4);
    assert_int_equal(cfg->pglogical, 1);
    rm_config_free(cfg);

    env_set("PORT", "6000");
    env_set("HCI", "750ms");
    env_set("THR", "7");
    env_set("TLS", "yes");
    env_set("PGL", "off");
    cfg = load_ok(text);
    assert_int_equal(cfg->nodes[0].port, 6000);
    assert_int_equal(cfg->nodes[0].ssl.enabled, PGCM_SSL_ENABLED);
    assert_int_equal(cfg->options.health_check_interval_ms, 750);
    assert_int_equal(cfg->options.unhealthy_threshold, 7);
    assert_int_equal(cfg->pglogical, RM_PGLOGICAL_OFF);
    rm_config_free(cfg);

    env_set("PGL", "AUTO");
    cfg = load_ok(text);
    assert_int_equal(cfg->pglogical, RM_PGLOGICAL_AUTO);
    rm_config_free(cfg);

    /* Empty after interpolation: not given. */
    env_set("PORT", "");
    cfg = load_ok("nodes:\n  a: { port: \"${PORT}\", host: ${PORT} }\n");
    assert_int_equal(cfg->nodes[0].port, 0);
    assert_int_equal(cfg->pglogical, RM_PGLOGICAL_AUTO); /* the default */
    assert_null(cfg->nodes[0].host);
    rm_config_free(cfg);

    /* A literal ${ and a value that looks like a reference. */
    env_set("V", "${NOT_EXPANDED}");
    cfg = load_ok("nodes:\n  a: { password: \"$${LIT}\", user: ${V}, "
                  "database: a$b$$c }\n");
    assert_string_equal(cfg->nodes[0].password, "${LIT}");
    assert_string_equal(cfg->nodes[0].user, "${NOT_EXPANDED}");
    assert_string_equal(cfg->nodes[0].database, "a$b$$c");
    rm_config_free(cfg);

    /* Keys are not interpolated. */
    cfg = load_ok("nodes:\n  \"${X}\": { host: h }\n");
    assert_string_equal(cfg->nodes[0].id, "${X}");
    rm_config_free(cfg);
}

static void test_unset_variable_error(void **state)
{
    (void)state;
    env_clear();
    rm_config_t *cfg = NULL;
    rm_diags_t d;
    assert_int_equal(parse_text(issue_format, &cfg, &d), PGCM_EINVAL);
    assert_null(cfg);
    assert_int_equal(d.errors, 1);
    assert_diag(&d, "t.yaml:2:78: nodes.primary.password: environment "
                    "variable PG_PASSWORD is not set; set it, or give a "
                    "default with ${PG_PASSWORD:-value}");
    rm_diags_free(&d);
}

static void test_example_file_parses(void **state)
{
    (void)state;
    char path[4096];
    const char *here = __FILE__;
    const char *slash = strrchr(here, '/');
    assert_non_null(slash);
    snprintf(path, sizeof(path), "%.*s/../../examples/replmon.yaml",
             (int)(slash - here), here);
    env_clear();
    env_set("HOME", "/home/op");
    rm_config_t *cfg = NULL;
    rm_diags_t d;
    rm_diags_init(&d);
    int rc = rm_config_parse_file(path, fake_getenv, &cfg, &d);
    dump_diags(&d);
    assert_int_equal(rc, PGCM_OK);
    assert_int_equal(d.errors, 0);
    assert_true(cfg->node_count >= 5);
    assert_true(cfg->cluster_count >= 2);
    const pgcm_node_spec_t *specs = NULL;
    size_t n = 0;
    assert_int_equal(rm_config_cluster_nodes(cfg, NULL, &specs, &n, NULL),
                     PGCM_OK);
    assert_int_equal(n, 4);
    assert_string_equal(specs[0].id, "primary");
    const pgcm_node_spec_t *sec = rm_config_find_node(cfg, "secure");
    assert_non_null(sec);
    assert_int_equal(sec->ssl.enabled, PGCM_SSL_ENABLED);
    assert_string_equal(sec->ssl.ca, "/home/op/.postgresql/root.crt");
    const pgcm_node_spec_t *bb = rm_config_find_node(cfg, "behind-bastion");
    assert_non_null(bb);
    assert_string_equal(bb->ssh.host, "bastion.example.com");
    assert_string_equal(cfg->theme.name, "dark");
    assert_int_equal(cfg->theme.color_count, 2);
    assert_string_equal(cfg->theme.colors[0].role, "warning");
    assert_string_equal(cfg->theme.colors[0].color, "#FFD700");
    assert_string_equal(cfg->path, path);
    rm_config_free(cfg);
    rm_diags_free(&d);
}

/* ---- clusters ---------------------------------------------------------- */

static void test_clusters(void **state)
{
    (void)state;
    env_clear();
    rm_config_t *cfg = load_ok("nodes: { a: {}, b: {}, c: {} }\n"
                               "clusters:\n"
                               "  one: { nodes: [c, a] }\n"
                               "  two: [b]\n"
                               "  three: { nodes: [a, b, c], default: true "
                               "}\n");
    assert_int_equal(cfg->cluster_count, 3);
    const pgcm_node_spec_t *specs;
    size_t n;
    pgcm_error_t err;
    assert_int_equal(rm_config_cluster_nodes(cfg, "one", &specs, &n, &err),
                     PGCM_OK);
    assert_int_equal(n, 2);
    assert_string_equal(specs[0].id, "c");
    assert_string_equal(specs[1].id, "a");
    assert_int_equal(rm_config_cluster_nodes(cfg, NULL, &specs, &n, &err),
                     PGCM_OK);
    assert_int_equal(n, 3);
    assert_string_equal(rm_config_find_cluster(cfg, NULL)->name, "three");
    assert_int_equal(rm_config_cluster_nodes(cfg, "on", &specs, &n, &err),
                     PGCM_ENOENT);
    assert_null(specs);
    assert_int_equal(err.code, PGCM_ENOENT);
    assert_string_equal(err.message,
                        "no cluster named 'on'; did you mean 'one'?");
    rm_config_free(cfg);

    /* Several clusters, none marked default: the first one is used. */
    cfg = load_ok("nodes: { a: {}, b: {} }\n"
                  "clusters: { x: [b], y: [a] }\n");
    assert_int_equal(rm_config_cluster_nodes(cfg, NULL, &specs, &n, &err),
                     PGCM_OK);
    assert_int_equal(n, 1);
    assert_string_equal(specs[0].id, "b");
    assert_string_equal(rm_config_find_cluster(cfg, NULL)->name, "x");
    rm_config_free(cfg);

    /* One cluster: it is the default. */
    cfg = load_ok("nodes: { a: {}, b: {} }\nclusters: { only: [b] }\n");
    assert_int_equal(rm_config_cluster_nodes(cfg, NULL, &specs, &n, &err),
                     PGCM_OK);
    assert_int_equal(n, 1);
    assert_string_equal(specs[0].id, "b");
    rm_config_free(cfg);

    /* No clusters: the implicit "default" with every node. */
    cfg = load_ok("nodes: { a: {}, b: {} }\n");
    assert_int_equal(cfg->cluster_count, 1);
    assert_string_equal(cfg->clusters[0].name, "default");
    assert_true(cfg->clusters[0].implicit);
    assert_int_equal(rm_config_cluster_nodes(cfg, "default", &specs, &n, NULL),
                     PGCM_OK);
    assert_int_equal(n, 2);
    assert_true(pgcm_node_spec_equal(&specs[1], &cfg->nodes[1]));
    rm_config_free(cfg);
}

/* ---- errors ----------------------------------------------------------------
 */

static void expect_errors(const char *text, const char *const *lines, size_t n)
{
    rm_config_t *cfg = NULL;
    rm_diags_t d;
    assert_int_equal(parse_text(text, &cfg, &d), PGCM_EINVAL);
    assert_null(cfg);
    for (size_t i = 0; i < n; i++)
        assert_diag(&d, lines[i]);
    if (d.errors != n) {
        print_message("expected %zu errors, got %zu\n", n, d.errors);
        dump_diags(&d);
    }
    assert_int_equal(d.errors, n);
    rm_diags_free(&d);
}

#define EXPECT(text, ...)                                                      \
    do {                                                                       \
        const char *const lines_[] = {__VA_ARGS__};                            \
        expect_errors((text), lines_, sizeof(lines_) / sizeof(*lines_));       \
    } while (0)

static void test_ssh_host_key_check_values(void **state)
{
    (void)state;
    env_clear();
    EXPECT("nodes:\n"
           "  a: { ssh: { host: b, host_key_check: accept_new } }\n"
           "  b: { ssh: { host: b, host_key_check: yes } }\n"
           "  c: { ssh: { host: b, host_key_check: [strict] } }\n",
           "t.yaml:2:40: nodes.a.ssh.host_key_check: 'accept_new' is not "
           "strict or accept-new; did you mean 'accept-new'? (strict, the "
           "default, refuses a bastion whose key is not in known_hosts; "
           "accept-new records an unknown one)",
           "t.yaml:3:40: nodes.b.ssh.host_key_check: 'yes' is not strict or "
           "accept-new; write one of them (strict, the default, refuses a "
           "bastion whose key is not in known_hosts; accept-new records an "
           "unknown one)",
           "t.yaml:4:40: nodes.c.ssh.host_key_check: expected strict or "
           "accept-new, found a list; write a single value");
}

static void test_all_errors_at_once(void **state)
{
    (void)state;
    env_clear();
    EXPECT("manager:\n"
           "  health_check_intervl: 5s\n"
           "  query_timeout: 5x\n"
           "nodes:\n"
           "  a: { port: 70000 }\n"
           "  b: { pool: { min: 5, max: 2 } }\n"
           "clusters:\n"
           "  c1: { nodes: [a, zz] }\n",
           "t.yaml:2:3: manager.health_check_intervl: unknown key; did you "
           "mean 'health_check_interval'?",
           "t.yaml:3:18: manager.query_timeout: '5x': unknown duration "
           "unit; use ms, s, m or h (lower case)",
           "t.yaml:5:14: nodes.a.port: 70000 is out of range; use a port "
           "between 1 and 65535",
           "t.yaml:6:29: nodes.b.pool.max: pool min (5) is greater than max "
           "(2); lower min or raise max",
           "t.yaml:8:20: clusters.c1.nodes[1]: unknown node 'zz'; define it "
           "under nodes: or remove it from the cluster");

    /* And in file order. */
    rm_config_t *cfg = NULL;
    rm_diags_t d;
    parse_text("nodes:\n  b: { port: 0 }\n  a: { port: -1 }\n"
               "manager: { query_timeout: 0 }\n",
               &cfg, &d);
    assert_int_equal(d.errors, 3);
    for (size_t i = 1; i < d.count; i++)
        assert_true(d.items[i - 1].line <= d.items[i].line);
    assert_int_equal(d.items[0].line, 2);
    assert_int_equal(d.items[2].line, 4);
    rm_diags_free(&d);
}

static void test_unknown_keys_and_suggestions(void **state)
{
    (void)state;
    env_clear();
    EXPECT("manager: { healthCheckInterval: 1s }\n"
           "nodes:\n"
           "  a: { dbname: app, hots: h, rejectUnauthorized: true }\n"
           "  b: { ssl: { rejectUnauthorized: true } }\n"
           "  c: { pool: { maxx: 3 } }\n"
           "nodez: {}\n"
           "something_else: 1\n",
           "t.yaml:1:12: manager.healthCheckInterval: unknown key; did you "
           "mean 'health_check_interval'?",
           "t.yaml:3:8: nodes.a.dbname: unknown key; did you mean "
           "'database'?",
           "t.yaml:3:21: nodes.a.hots: unknown key; did you mean 'host'?",
           "t.yaml:3:30: nodes.a.rejectUnauthorized: unknown key here; did "
           "you mean 'reject_unauthorized' under ssl:?",
           "t.yaml:4:15: nodes.b.ssl.rejectUnauthorized: unknown key; did "
           "you mean 'reject_unauthorized'?",
           "t.yaml:5:16: nodes.c.pool.maxx: unknown key; did you mean "
           "'max'?",
           "t.yaml:6:1: nodez: unknown key; did you mean 'nodes'?",
           "t.yaml:7:1: something_else: unknown key; the keys allowed here "
           "are: nodes, clusters, thresholds, pglogical, theme, manager, "
           "defaults, serve, event_log, skip_sections");
}

static void test_serve_and_event_log(void **state)
{
    (void)state;
    env_clear();
    rm_config_t *cfg = load_ok("nodes: { a: {}, ops: {} }\n");
    assert_string_equal(cfg->serve.listen, "127.0.0.1:9187");
    assert_int_equal(cfg->serve.interval_ms, 5000);
    assert_null(cfg->event_log.node);
    assert_int_equal(cfg->event_log.queue_size, 1000);
    rm_config_free(cfg);

    env_set("LISTEN", "[::1]:9300");
    cfg = load_ok("nodes: { a: {}, ops: {} }\n"
                  "serve: { listen: ${LISTEN}, interval: 1.5 }\n"
                  "event_log: { node: ops, queue_size: 20 }\n");
    assert_string_equal(cfg->serve.listen, "[::1]:9300");
    assert_int_equal(cfg->serve.interval_ms, 1500);
    assert_string_equal(cfg->event_log.node, "ops");
    assert_int_equal(cfg->event_log.queue_size, 20);
    rm_config_free(cfg);

    EXPECT("nodes: { a: {}, ops: {} }\n"
           "serve: { listen: 9187, interval: 0, port: 1 }\n"
           "event_log: { node: opz, queue_size: 0 }\n",
           "t.yaml:2:18: serve.listen: '9187': no port; write ADDR:PORT such "
           "as 127.0.0.1:9187",
           "t.yaml:2:34: serve.interval: '0' is zero; give a positive "
           "duration such as 500ms or 5s",
           "t.yaml:2:37: serve.port: unknown key; the keys allowed here are: "
           "listen, interval",
           "t.yaml:3:20: event_log.node: 'opz' is not a node of nodes:; did "
           "you mean 'ops'?",
           "t.yaml:3:37: event_log.queue_size: 0 is out of range; use a "
           "number of events from 1 to 1000000");
    EXPECT("nodes: { a: {} }\n"
           "event_log: { node: elsewhere }\n",
           "t.yaml:2:20: event_log.node: 'elsewhere' is not a node of nodes:; "
           "name the node that holds the connection_logs table");
}

static void test_duplicates(void **state)
{
    (void)state;
    env_clear();
    EXPECT("nodes:\n"
           "  a: { host: h1 }\n"
           "  a: { host: h2 }\n"
           "  b: { host: x, host: y }\n",
           "t.yaml:3:3: nodes.a: duplicate node 'a' (first defined at 2:3); "
           "node ids must be unique: rename one",
           "t.yaml:4:17: nodes.b.host: duplicate key (first defined at "
           "4:8); key names must be unique: remove or rename one");
    EXPECT("nodes:\n"
           "  - id: a\n"
           "  - { name: a }\n"
           "  - { id: b, name: c }\n"
           "  - { host: h }\n"
           "  - 5\n",
           "t.yaml:3:13: nodes.a: duplicate node 'a' (first defined at "
           "2:9); node ids must be unique: rename one",
           "t.yaml:4:20: nodes[2]: id 'b' and name 'c' differ; a node has "
           "one id: keep one of them",
           "t.yaml:5:5: nodes[3]: a node without an id; add id: NAME (a "
           "unique name such as primary)",
           "t.yaml:6:5: nodes[4]: expected a mapping with id: and the "
           "node's settings, found a single value");
    EXPECT("nodes: { a: {} }\n"
           "clusters:\n"
           "  x: [a]\n"
           "  x: [a]\n"
           "manager: {}\n"
           "manager: {}\n",
           "t.yaml:4:3: clusters.x: duplicate cluster (first defined at "
           "3:3); cluster names must be unique: remove or rename one",
           "t.yaml:6:1: manager: duplicate key (first defined at 5:1); key "
           "names must be unique: remove or rename one");
}

static void test_cluster_errors(void **state)
{
    (void)state;
    env_clear();
    EXPECT("nodes: { primary: {}, replica: {} }\n"
           "clusters:\n"
           "  p: { nodes: [primary, replca], default: true }\n"
           "  q: { nodes: [primary, primary], default: true }\n"
           "  r: { nodes: [] }\n"
           "  s: { default: false }\n"
           "  t: { nodes: primary }\n"
           "  u: { nodes: [replica], defualt: true }\n",
           "t.yaml:3:25: clusters.p.nodes[1]: unknown node 'replca'; did "
           "you mean 'replica'?",
           "t.yaml:4:25: clusters.q.nodes[1]: node 'primary' is listed twice "
           "(first at 4:16); remove one",
           "t.yaml:4:44: clusters.q.default: a second default cluster ('p' "
           "is the default, at 3:43); keep default: true on one cluster only",
           "t.yaml:5:15: clusters.r.nodes: an empty cluster; list at least "
           "one node id, e.g. [primary]",
           "t.yaml:6:6: clusters.s: a cluster without nodes; add nodes: [id, "
           "...]",
           "t.yaml:7:15: clusters.t.nodes: expected a list of node ids, found "
           "a single value; write nodes: [primary, replica]",
           "t.yaml:8:26: clusters.u.defualt: unknown key; did you mean "
           "'default'?");
}

static void test_value_errors(void **state)
{
    (void)state;
    env_clear();
    EXPECT("manager:\n"
           "  health_check_interval: 0\n"
           "  health_check_timeout: -1s\n"
           "  connect_timeout: 5S\n"
           "  unhealthy_threshold: 0\n"
           "  degraded_latency: { a: 1 }\n"
           "  backoff: { initial: 10s, max: 2s }\n"
           "  query_timeout: 30d\n"
           "nodes:\n"
           "  a:\n"
           "    port: abc\n"
           "    ssl: { enabled: maybe }\n"
           "    pool: { min: -1, max: 0, idle_timeout: 0ms }\n"
           "    ssh: { port: 0, user: x }\n"
           "    host: [a, b]\n"
           "    conninfo: \"host=a bogus=1\"\n",
           "t.yaml:2:26: manager.health_check_interval: '0' is zero; give a "
           "positive duration such as 500ms or 5s",
           "t.yaml:3:25: manager.health_check_timeout: '-1s': negative "
           "duration; use a positive one such as 5s",
           "t.yaml:4:20: manager.connect_timeout: '5S': unknown duration "
           "unit; use ms, s, m or h (lower case)",
           "t.yaml:5:24: manager.unhealthy_threshold: 0 is out of range; use "
           "a count of consecutive failures between 1 and 1000",
           "t.yaml:6:21: manager.degraded_latency: expected a duration such "
           "as 5s, found a mapping; write a single value",
           "t.yaml:7:33: manager.backoff.max: max (2000ms) is below initial "
           "(10000ms); raise max or lower initial",
           "t.yaml:8:18: manager.query_timeout: '30d': unknown duration "
           "unit; use ms, s, m or h (lower case)",
           "t.yaml:11:11: nodes.a.port: 'abc' is not a whole number; use a "
           "port between 1 and 65535",
           "t.yaml:12:21: nodes.a.ssl.enabled: 'maybe' is not a boolean; "
           "write true or false",
           "t.yaml:13:18: nodes.a.pool.min: -1 is out of range; use 0 to "
           "10000 connections",
           "t.yaml:13:27: nodes.a.pool.max: 0 is out of range; use 1 to "
           "10000 connections",
           "t.yaml:13:44: nodes.a.pool.idle_timeout: '0ms' is zero; give a "
           "positive duration such as 500ms or 5s",
           "t.yaml:14:10: nodes.a.ssh: an ssh tunnel without a host; add "
           "host: (the SSH server to go through), or write ssh: false for "
           "no tunnel",
           "t.yaml:14:18: nodes.a.ssh.port: 0 is out of range; use a port "
           "between 1 and 65535",
           "t.yaml:15:11: nodes.a.host: expected a string, found a list; "
           "write a single value",
           "t.yaml:16:15: nodes.a.conninfo: invalid connection string: "
           "invalid connection option \"bogus\"; write libpq key=value pairs "
           "(host=db1 dbname=app) or a postgresql:// URI");
    /* A too-long duration for an int field. */
    EXPECT("nodes: { a: {} }\nmanager: { query_timeout: 600h }\n",
           "t.yaml:2:27: manager.query_timeout: '600h' is too long; the most "
           "is 24 days");
}

static void test_interpolation_errors(void **state)
{
    (void)state;
    env_clear();
    EXPECT("nodes:\n"
           "  a: { host: \"${UNSET\" }\n"
           "  b: { host: \"${}\" }\n"
           "  c: { host: \"${1X}\" }\n"
           "  d: { host: \"${X:?oops}\" }\n"
           "  e: { port: \"${NOPORT}\" }\n",
           "t.yaml:2:14: nodes.a.host: unterminated '${UNSET' (no closing "
           "'}'); close it, or write '$${' for a literal '${'",
           "t.yaml:3:14: nodes.b.host: '${' is not followed by a variable "
           "name; write ${NAME} (letters, digits and '_'), or '$${' for a "
           "literal '${'",
           "t.yaml:4:14: nodes.c.host: '${' is not followed by a valid "
           "variable name; names are letters, digits and '_' and do not "
           "start with a digit; write '$${' for a literal '${'",
           "t.yaml:5:14: nodes.d.host: unsupported form '${X:...'; use "
           "${NAME}, ${NAME:-default} or ${NAME-default}, or '$${' for a "
           "literal '${'",
           "t.yaml:6:14: nodes.e.port: environment variable NOPORT is not "
           "set; set it, or give a default with ${NOPORT:-value}");
    /* Sequence-form ids are names, never interpolated. */
    env_set("ID", "secret-id");
    rm_config_t *cfg = load_ok("nodes:\n  - id: ${ID}\n");
    assert_string_equal(cfg->nodes[0].id, "${ID}");
    rm_config_free(cfg);
    /* An option name that came from the environment is not echoed. */
    env_set("OPT", "hunter2");
    EXPECT("nodes:\n  a: { conninfo: \"${OPT}=1 typo=2\" }\n",
           "t.yaml:2:18: nodes.a.conninfo: invalid connection string: "
           "invalid connection option \"...\"; write libpq key=value pairs "
           "(host=db1 dbname=app) or a postgresql:// URI");
    env_set("P", "70000");
    EXPECT("nodes:\n  a: { port: ${P} }\n",
           "t.yaml:2:14: nodes.a.port: '${P}' (after interpolation) is out of "
           "range; use a port between 1 and 65535");
    /* A bad value from the environment is shown as written, not
     * expanded. */
    env_set("P", "hunter2");
    EXPECT("nodes:\n  a: { port: ${P} }\n",
           "t.yaml:2:14: nodes.a.port: '${P}' (after interpolation) is not a "
           "whole number; use a port between 1 and 65535");
}

static void test_threshold_and_theme_errors(void **state)
{
    (void)state;
    env_clear();
    EXPECT("nodes: { a: {} }\n"
           "thresholds:\n"
           "  replication_lag: { warning: 1m, critical: 10s }\n"
           "  slot_retention: { warning: 1XB, critical: 0 }\n"
           "  conflict_rate: { warning: -1, critical: lots }\n"
           "  lag: {}\n"
           "pglogical: maybe\n"
           "theme: { name: \"dark mode\", colors: { warning: purple, muted: "
           "\"#12345\", ok: red } }\n",
           "t.yaml:3:45: thresholds.replication_lag.critical: critical "
           "(10000ms) is below warning (60000ms); make critical at least "
           "warning",
           "t.yaml:4:30: thresholds.slot_retention.warning: '1XB': unknown "
           "size unit; use B, KB, MB, GB or TB (1024-based)",
           "t.yaml:5:29: thresholds.conflict_rate.warning: '-1' is negative; "
           "use 0 or more",
           "t.yaml:5:43: thresholds.conflict_rate.critical: 'lots' is not a "
           "number; write a number such as 5 or 0.5",
           "t.yaml:6:3: thresholds.lag: unknown key; the keys allowed here "
           "are: replication_lag, slot_retention, conflict_rate, "
           "replication_lag_bytes",
           "t.yaml:7:12: pglogical: 'maybe' is not true, false or auto; "
           "write one of them (auto, the default, reads pglogical where it "
           "is installed)",
           "t.yaml:8:16: theme.name: 'dark mode' is not a theme name; use "
           "dark or light (letters, digits, '-' and '_')",
           "t.yaml:8:48: theme.colors.warning: 'purple' is not a colour; "
           "write \"#RRGGBB\" (quoted), a curses colour name such as yellow, "
           "or 0-255",
           "t.yaml:8:63: theme.colors.muted: '#12345' is not a colour; write "
           "\"#RRGGBB\" (quoted), a curses colour name such as yellow, or "
           "0-255",
           "t.yaml:8:73: theme.colors.ok: 'ok' is not a colour role; the "
           "roles are background, foreground, primary, secondary, success, "
           "warning, critical and muted");

    /* 0 switches a check off, also below the other level. */
    rm_config_t *cfg =
        load_ok("nodes: { a: {} }\n"
                "thresholds:\n"
                "  replication_lag: { warning: 10s, critical: 0 }\n"
                "  slot_retention: { warning: 0, critical: 0 }\n"
                "  conflict_rate: { warning: 5, critical: 0 }\n");
    assert_int_equal(cfg->thresholds.lag_warning_ms, 10000);
    assert_int_equal(cfg->thresholds.lag_critical_ms, 0);
    assert_int_equal(cfg->thresholds.slot_warning_bytes, 0);
    assert_int_equal(cfg->thresholds.slot_critical_bytes, 0);
    assert_true(cfg->thresholds.conflict_rate_critical == 0);
    rm_config_free(cfg);

    cfg = load_ok("nodes: { a: {} }\n"
                  "thresholds: { replication_lag_bytes: { "
                  "warning: 512KB, critical: 2MB } }\n");
    assert_int_equal(cfg->thresholds.lag_warning_bytes, 512 * 1024);
    assert_int_equal(cfg->thresholds.lag_critical_bytes, 2 * 1024 * 1024);
    rm_config_free(cfg);
    EXPECT("nodes: { a: {} }\n"
           "thresholds: { replication_lag_bytes: { warning: 2MB, critical: "
           "1MB } }\n",
           "t.yaml:2:64: thresholds.replication_lag_bytes.critical: critical "
           "(1048576 bytes) is below warning (2097152 bytes); make critical at "
           "least warning");

    cfg = load_ok("nodes: { a: {} }\n"
                  "theme: { name: light, colors: { warning: "
                  "\"#FFD700\", critical: bright-red, success: 34, "
                  "muted: \"#abc\" } }\n");
    assert_string_equal(cfg->theme.name, "light");
    assert_int_equal(cfg->theme.color_count, 4);
    assert_string_equal(cfg->theme.colors[1].role, "critical");
    assert_string_equal(cfg->theme.colors[1].color, "bright-red");
    rm_config_free(cfg);

    /* An unknown theme loads with a warning and dark, as in the original. */
    rm_diags_t d;
    assert_int_equal(
        parse_text("nodes: { a: {} }\ntheme: solarized\n", &cfg, &d), PGCM_OK);
    assert_int_equal(d.errors, 0);
    assert_diag(&d, "t.yaml:2:8: warning: theme: 'solarized' is not a theme; "
                    "dark is used (the themes are dark and light)");
    assert_string_equal(cfg->theme.name, "dark");
    rm_diags_free(&d);
    rm_config_free(cfg);
}

static void test_skip_sections(void **state)
{
    (void)state;
    env_clear();
    rm_config_t *cfg = load_ok("nodes: { a: {} }\n");
    assert_int_equal(cfg->skip_sections, 0);
    rm_config_free(cfg);
    cfg = load_ok("nodes: { a: {} }\nskip_sections: [standbys, receiver]\n");
    assert_int_equal(cfg->skip_sections, RM_SKIP_STANDBYS | RM_SKIP_RECEIVER);
    rm_config_free(cfg);
    EXPECT("nodes: { a: {} }\n"
           "skip_sections: [subscription, wal]\n",
           "t.yaml:2:17: skip_sections[0]: unknown section 'subscription'; "
           "did you mean 'subscriptions'?",
           "t.yaml:2:31: skip_sections[1]: unknown section 'wal'; the "
           "sections are slots, subscriptions, standbys, receiver");
    EXPECT("nodes: { a: {} }\n"
           "skip_sections: standbys\n",
           "t.yaml:2:16: skip_sections: expected a list of section names, "
           "found a single value; write skip_sections: [standbys, receiver]");
}

static void test_type_and_structure_errors(void **state)
{
    (void)state;
    env_clear();
    EXPECT("- a\n- b\n",
           "t.yaml:1:1: the configuration is a list; it must be a mapping of "
           "sections (nodes:, clusters:, manager:, ...)");
    EXPECT("", "t.yaml: nodes: the file defines no nodes; add a nodes: "
               "section mapping each node id to its settings, e.g. nodes: { "
               "primary: { host: db1 } }");
    EXPECT("manager: {}\n",
           "t.yaml:1:1: nodes: no nodes defined; add a nodes: section "
           "mapping each node id to its settings, e.g. nodes: { primary: { "
           "host: db1 } }");
    EXPECT("nodes: {}\n", "t.yaml:1:8: nodes: no nodes defined; add at least "
                          "one node, e.g. primary: { host: db1 }");
    EXPECT("nodes: 5\n",
           "t.yaml:1:8: nodes: expected a mapping of node ids to settings, "
           "found a single value; write e.g. nodes: { primary: { host: db1 } "
           "}");
    EXPECT("nodes:\n  a: [1]\n  \"bad id\": {}\n  ? [x]\n  : {}\n",
           "t.yaml:2:6: nodes.a: expected a mapping of connection settings, "
           "found a list; write e.g. { host: db1, port: 5432, database: app "
           "}",
           "t.yaml:3:3: nodes.bad id: node id contains a space, a comma or a "
           "control character; use 1 to 63 characters without spaces or "
           "commas",
           "t.yaml:4:5: nodes: a node id is a list; ids must be plain names "
           "such as 'primary'");
    EXPECT("nodes: { a: {} }\nmanager: 5\ndefaults: [1]\n",
           "t.yaml:2:10: manager: expected a mapping, found a single value; "
           "write manager: followed by indented settings such as "
           "health_check_interval: 5s",
           "t.yaml:3:11: defaults: expected a mapping, found a list; write "
           "defaults: followed by indented node settings such as port: 5432");
    /* A pool min > max in defaults is reported once, at defaults. */
    EXPECT("defaults: { pool: { min: 4, max: 2 } }\n"
           "nodes: { a: {}, b: {} }\n",
           "t.yaml:1:34: defaults.pool.max: pool min (4) is greater than max "
           "(2); lower min or raise max");
    EXPECT("nodes: { a: { pool: { lifetime: 1h, max_lifetime: 2h } } }\n",
           "t.yaml:1:37: nodes.a.pool.max_lifetime: lifetime and "
           "max_lifetime are the same setting (first given at 1:23); keep "
           "one");
}

static void test_yaml_errors(void **state)
{
    (void)state;
    env_clear();
    EXPECT("nodes:\n  a: { host: x\n  b: 1\n",
           "t.yaml:3:4: nodes.a: YAML syntax error: did not find expected "
           "',' or '}' (while parsing a flow mapping at 2:6); check "
           "indentation (spaces, not tabs), quotes and brackets");
    EXPECT("nodes:\n\ta: 1\n",
           "t.yaml:2:1: nodes: YAML syntax error: found character that cannot "
           "start any token (while scanning for the next token at 2:1); "
           "check indentation (spaces, not tabs), quotes and brackets");
    EXPECT("nodes: { a: {} }\n---\nnodes: { b: {} }\n",
           "t.yaml:2:1: a second YAML document; a configuration is one "
           "document: remove the '---' and what follows, or merge it into "
           "the first");
    EXPECT("nodes:\n  a: *nope\n",
           "t.yaml:2:6: nodes.a: alias '*nope' names no anchor; define "
           "'&nope' before using it");
    EXPECT("nodes: &n\n  a: *n\n",
           "t.yaml:2:6: nodes.a: alias '*n' is used inside its own anchor; "
           "remove the cycle");
    EXPECT("nodes:\n  a: {host: \"\xff\"}\n",
           "t.yaml:2:14: cannot read the text: invalid leading UTF-8 octet; "
           "save the file as UTF-8 without control characters");
    /* Nesting beyond the cap is refused, not a stack overflow. */
    char deep[300];
    memset(deep, '[', 200);
    deep[200] = '\0';
    rm_config_t *cfg = NULL;
    rm_diags_t d;
    assert_int_equal(parse_text(deep, &cfg, &d), PGCM_EINVAL);
    assert_diag_contains(&d, "nested more than 64 levels deep");
    rm_diags_free(&d);
    /* Aliases work and NUL bytes are refused, not truncated. */
    cfg = load_ok("nodes:\n  a: &s { host: db1 }\n  b: *s\n");
    assert_int_equal(cfg->node_count, 2);
    assert_string_equal(cfg->nodes[1].host, "db1");
    rm_config_free(cfg);
    static const char nul[] = "nodes:\n  a: { host: \"x\\0y\" }\n";
    EXPECT(nul, "t.yaml:2:14: nodes.a.host: the value contains a NUL "
                "character; remove it");
    static const char raw_nul[] = "nodes:\n  a: {}\0garbage";
    assert_int_equal(rm_config_parse_buffer(raw_nul, sizeof(raw_nul) - 1,
                                            "t.yaml", fake_getenv, &cfg, &d),
                     PGCM_EINVAL);
    assert_null(cfg);
    rm_diags_free(&d);
}

static void test_error_cap(void **state)
{
    (void)state;
    env_clear();
    size_t cap = 64 * 1024;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t o = (size_t)snprintf(text, cap, "nodes:\n");
    for (int i = 0; i < 150; i++)
        o += (size_t)snprintf(text + o, cap - o, "  n%d: { port: 0 }\n", i);
    rm_config_t *cfg = NULL;
    rm_diags_t d;
    assert_int_equal(parse_text(text, &cfg, &d), PGCM_EINVAL);
    assert_int_equal(d.errors, 150);
    assert_int_equal(d.count, 101);
    char line[512];
    rm_diag_format(&d.items[100], line, sizeof(line));
    assert_string_equal(line, "t.yaml: too many errors; fix the ones above "
                              "and run again to see the rest");
    rm_diags_free(&d);
    free(text);
}

static void test_flow_braces_in_values(void **state)
{
    (void)state;
    env_clear();
    env_set("A", "va");
    /* ${...} inside flow mappings, nested defaults, and real braces. */
    rm_config_t *cfg =
        load_ok("nodes:\n"
                "  a: { host: ${A}, user: ${B:-${A}}, database: ${C:-x}y }\n"
                "  b: {host: $${lit}}\n"
                "  c: { application_name: \"{braces}\" }\n");
    assert_string_equal(cfg->nodes[0].host, "va");
    assert_string_equal(cfg->nodes[0].user, "va");
    assert_string_equal(cfg->nodes[0].database, "xy");
    assert_string_equal(cfg->nodes[1].host, "${lit}");
    assert_string_equal(cfg->nodes[2].application_name, "{braces}");
    rm_config_free(cfg);
    /* The private-use characters that stand for braces while parsing are
     * left alone when the file holds them itself. */
    cfg = load_ok("nodes: { a: { application_name: \"x\xEE\x80\x80y\" } }\n");
    assert_string_equal(cfg->nodes[0].application_name, "x\xEE\x80\x80y");
    rm_config_free(cfg);
}

static void test_anchors_and_merge_keys(void **state)
{
    (void)state;
    env_clear();
    rm_config_t *cfg = load_ok("x-base: &base { port: 6432, user: mon, pool: "
                               "{ max: 4 } }\n"
                               "x-tls: &tls { ssl: true }\n"
                               "nodes:\n"
                               "  a: { <<: *base, host: h1 }\n"
                               "  b: { host: h2, <<: [*tls, *base], port: "
                               "7000 }\n"
                               "  c: *base\n");
    assert_int_equal(cfg->node_count, 3);
    assert_int_equal(cfg->nodes[0].port, 6432);
    assert_string_equal(cfg->nodes[0].user, "mon");
    assert_int_equal(cfg->nodes[0].pool.max, 4);
    assert_string_equal(cfg->nodes[0].host, "h1");
    /* The mapping's own keys win, wherever they stand. */
    assert_int_equal(cfg->nodes[1].port, 7000);
    assert_int_equal(cfg->nodes[1].ssl.enabled, PGCM_SSL_ENABLED);
    assert_string_equal(cfg->nodes[1].user, "mon");
    assert_int_equal(cfg->nodes[2].port, 6432);
    rm_config_free(cfg);
    EXPECT("nodes: { a: { <<: 5 } }\n",
           "t.yaml:1:19: <<: a merge key needs a mapping or a list of "
           "mappings, found a single value; write <<: *anchor");
    /* x- keys are free only at the top. */
    EXPECT("x-a: 1\nnodes: { a: { x-b: 1 } }\n",
           "t.yaml:2:15: nodes.a.x-b: unknown key; the keys allowed here are: "
           "host, port, database, user, password, application_name, "
           "connect_timeout, conninfo, ssl, ssh, pool");
}

static void test_file_errors(void **state)
{
    (void)state;
    rm_config_t *cfg = (rm_config_t *)1;
    rm_diags_t d;
    rm_diags_init(&d);
    assert_int_equal(rm_config_parse_file("/nonexistent/replmon.yaml",
                                          fake_getenv, &cfg, &d),
                     PGCM_ENOENT);
    assert_null(cfg);
    assert_diag(&d, "/nonexistent/replmon.yaml: cannot open the "
                    "configuration file: No such file or directory; check "
                    "the path given with --config, or create the file");
    rm_diags_free(&d);
    rm_diags_init(&d);
    assert_int_equal(rm_config_parse_file("/", fake_getenv, &cfg, &d),
                     PGCM_ENOENT);
    assert_diag(&d, "/: not a regular file; give the path of a YAML file");
    rm_diags_free(&d);
    /* No diagnostics list: errors still fail the load. */
    assert_int_equal(
        rm_config_parse_buffer("nodes: 1", 8, NULL, fake_getenv, &cfg, NULL),
        PGCM_EINVAL);
    assert_null(cfg);
    rm_diags_free(NULL);
    rm_config_free(NULL);
}

/* ---- files that are not regular files (issue 8, defect 3) -------------- */

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_config: a configuration file check "
                              "blocked for 5 s; it must refuse at once\n";
    if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
        _exit(3);
    _exit(2);
}

/* Check path as --config would: it must fail at once, with the one-line
 * error that directories get. */
static void expect_not_regular(const char *path)
{
    rm_config_t *cfg = (rm_config_t *)1;
    rm_diags_t d;
    rm_diags_init(&d);
    alarm(5); /* a regression blocks: end the test rather than hang */
    int rc = rm_config_parse_file(path, fake_getenv, &cfg, &d);
    alarm(0);
    assert_int_equal(rc, PGCM_ENOENT);
    assert_null(cfg);
    char want[600];
    snprintf(want, sizeof(want),
             "%s: not a regular file; give the path of a YAML file", path);
    assert_int_equal(d.count, 1);
    assert_diag(&d, want);
    rm_diags_free(&d);
}

static void test_special_files(void **state)
{
    (void)state;
    env_clear();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);

    char dir[] = "/tmp/test_config_files.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char fifo[256], sock[256], link_fifo[256], regular[256], link_reg[256];
    snprintf(fifo, sizeof(fifo), "%s/f.yaml", dir);
    snprintf(sock, sizeof(sock), "%s/s.yaml", dir);
    snprintf(link_fifo, sizeof(link_fifo), "%s/to-fifo.yaml", dir);
    snprintf(regular, sizeof(regular), "%s/ok.yaml", dir);
    snprintf(link_reg, sizeof(link_reg), "%s/to-ok.yaml", dir);

    /* A FIFO nobody writes to: opening it for reading would block. */
    assert_int_equal(mkfifo(fifo, 0600), 0);
    expect_not_regular(fifo);
    assert_int_equal(symlink(fifo, link_fifo), 0);
    expect_not_regular(link_fifo);

    /* A listening unix socket. */
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    assert_true(strlen(sock) < sizeof(sun.sun_path));
    memcpy(sun.sun_path, sock, strlen(sock) + 1);
    assert_int_equal(bind(s, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(listen(s, 1), 0);
    expect_not_regular(sock);
    close(s);

    /* Character devices (an endless one too) and a directory. */
    expect_not_regular("/dev/null");
    expect_not_regular("/dev/zero");
    expect_not_regular(dir);

    /* A symbolic link to a regular file is still followed. */
    FILE *f = fopen(regular, "w");
    assert_non_null(f);
    fputs("nodes: { a: { host: h } }\n", f);
    fclose(f);
    assert_int_equal(symlink(regular, link_reg), 0);
    rm_config_t *cfg = NULL;
    rm_diags_t d;
    rm_diags_init(&d);
    assert_int_equal(rm_config_parse_file(link_reg, fake_getenv, &cfg, &d),
                     PGCM_OK);
    assert_int_equal(cfg->node_count, 1);
    rm_config_free(cfg);
    rm_diags_free(&d);

    unlink(link_reg);
    unlink(regular);
    unlink(link_fifo);
    unlink(fifo);
    unlink(sock);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_format),
        cmocka_unit_test(test_manager_section),
        cmocka_unit_test(test_skip_sections),
        cmocka_unit_test(test_node_keys_and_defaults),
        cmocka_unit_test(test_ssh_host_key_check_values),
        cmocka_unit_test(test_ssl_forms),
        cmocka_unit_test(test_sequence_form_equals_mapping_form),
        cmocka_unit_test(test_reload_diff_support),
        cmocka_unit_test(test_interpolation_before_typing),
        cmocka_unit_test(test_unset_variable_error),
        cmocka_unit_test(test_example_file_parses),
        cmocka_unit_test(test_clusters),
        cmocka_unit_test(test_all_errors_at_once),
        cmocka_unit_test(test_unknown_keys_and_suggestions),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_cluster_errors),
        cmocka_unit_test(test_value_errors),
        cmocka_unit_test(test_interpolation_errors),
        cmocka_unit_test(test_threshold_and_theme_errors),
        cmocka_unit_test(test_type_and_structure_errors),
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_error_cap),
        cmocka_unit_test(test_flow_braces_in_values),
        cmocka_unit_test(test_anchors_and_merge_keys),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_serve_and_event_log),
        cmocka_unit_test(test_special_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
