/* SPDX-License-Identifier: MIT */
/*
 * test_tunnel_nodes.c - nodes behind a bastion through the public API
 * (issue 13, S1): specs with ssh.host, a real OpenSSH sshd
 * (tests/tools/sshd.h) and real PostgreSQL servers.
 *
 * Cases: three nodes behind one sshd healthy on one SSH session (one login
 * in sshd's log, the servers' client sockets belong to sshd), with
 * tunnel_up events; TLS verify-full through a tunnel against the node's
 * host name; an unknown host key makes the node unhealthy with a
 * configuration error naming the hop; sshd killed: unhealthy within 2 s
 * with an "ssh: " last error and tunnel_down, then, sshd restarted,
 * healthy again with no call from the user; the SSH connection blackholed
 * through the fault proxy: unhealthy within 2 s; a node removed while its
 * tunnel carries a query; and after every test (shutdown), no connection on
 * PostgreSQL and no session on sshd.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bastion.h"
#include "faultproxy.h"
#include "fixture.h"
#include "health_events.h"
#include "sshd.h"
#include "tls.h"

enum { NPG = 3 };

static localpg_server_t **pg;
static sshd_t *sshd;
static char user_key[512];
static char known_hosts[600];
static hrec_t rec = {.lock = PTHREAD_MUTEX_INITIALIZER};
static pgcm_manager_t *current; /* the running test's (fixture-tracked) */
static char ids[8][16];

static int group_setup(void **state)
{
    (void)state;
    pg = bastion_targets(NPG);
    sshd = bastion_start(NULL, user_key, sizeof user_key, known_hosts,
                         sizeof known_hosts);
    for (int i = 0; i < 8; i++)
        snprintf(ids[i], sizeof ids[i], "n%d", i);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    sshd_stop(sshd);
    sshd = NULL;
    fixture_stop_all();
    return 0;
}

/* Shutdown leaves nothing: no backend of ours, no session on sshd. */
static void end_manager(void)
{
    if (current == NULL)
        return;
    fixture_manager_free(current);
    current = NULL;
    bastion_wait_no_sessions(sshd, 3000);
    fixture_assert_no_connections(pg, NPG, NULL);
}

static int test_teardown(void **state)
{
    (void)state;
    end_manager();
    fixture_manager_free_all(); /* what a failure before current= left */
    return 0;
}

/* A node id on server through the bastion at ssh_port (0: the shared
 * sshd's) with known_hosts kh (NULL: the shared sshd's). */
static void tunnel_spec_to(const localpg_server_t *server, const char *id,
                           int ssh_port, const char *kh, pgcm_node_spec_t *spec)
{
    fixture_node_spec(server, id, spec);
    spec->ssh.host = "127.0.0.1";
    spec->ssh.port = ssh_port ? ssh_port : sshd_port(sshd);
    spec->ssh.user = "root";
    spec->ssh.key_path = user_key;
    spec->ssh.known_hosts = kh ? kh : known_hosts;
}

/* Node ids[i] on server pg[s], as tunnel_spec_to. */
static void tunnel_spec(int s, int i, int ssh_port, const char *kh,
                        pgcm_node_spec_t *spec)
{
    tunnel_spec_to(pg[s], ids[i], ssh_port, kh, spec);
}

/* The fault (the caller's, just before) made node id unhealthy within 2 s
 * of t0 (hwall_ms), by the events since mark; what names the fault. */
static void expect_down_within_2s(size_t mark, int64_t t0, const char *id,
                                  const char *what)
{
    int64_t took = hrec_expect_down(&rec, mark, id, t0, 2000, 5000);
    print_message("%s: node unhealthy after %lld ms\n", what, (long long)took);
}

/* A manager with opts (NULL: defaults) recording its events in rec,
 * started with nodes[0..count); waits up to 10 s for the first attempts. */
static pgcm_manager_t *start_manager(const pgcm_options_t *opts,
                                     const pgcm_node_spec_t *nodes,
                                     size_t count)
{
    hrec_reset(&rec);
    pgcm_error_t err;
    assert_null(current);
    current = fixture_manager_new(opts);
    uint64_t sub;
    assert_int_equal(pgcm_subscribe(current, hrec_on_event, &rec, &sub),
                     PGCM_OK);
    if (pgcm_manager_start(current, nodes, count, 10000, &err) != PGCM_OK)
        fail_msg("pgcm_manager_start: %s", err.message);
    return current;
}

static void wait_healthy(pgcm_manager_t *mgr, const char *id, int timeout_ms)
{
    int64_t deadline = fixture_now_ms() + timeout_ms;
    pgcm_health_t h;
    for (;;) {
        assert_int_equal(pgcm_node_health(mgr, id, &h), PGCM_OK);
        if (h.state == PGCM_NODE_HEALTHY)
            return;
        if (fixture_now_ms() > deadline)
            HREC_FAIL(&rec, 0, "node %s is %s after %d ms; last error: %s", id,
                      pgcm_node_state_name(h.state), timeout_ms, h.last_error);
        fixture_sleep_ms(10);
    }
}

/* One value of a query on node id (static buffer). */
static const char *query_value(pgcm_manager_t *mgr, const char *id,
                               const char *sql)
{
    static char out[256];
    pgcm_result_t *r = NULL;
    pgcm_error_t err;
    if (pgcm_query(mgr, id, sql, 0, NULL, NULL, &r, &err) != PGCM_OK)
        fail_msg("query on %s: %s", id, err.message);
    snprintf(out, sizeof out, "%s", pgcm_result_value(r, 0, 0));
    pgcm_result_free(r);
    return out;
}

/* The server's client socket for this node's connection belongs to sshd. */
static void assert_through_sshd(pgcm_manager_t *mgr, const char *id,
                                const sshd_t *d)
{
    int port =
        atoi(query_value(mgr, id,
                         "SELECT client_port FROM pg_stat_activity WHERE pid = "
                         "pg_backend_pid()"));
    if (!sshd_owns_tcp_port(d, port))
        fail_msg("node %s: the server's client port %d is not sshd's", id,
                 port);
}

static void test_three_nodes_one_session(void **state)
{
    (void)state;
    int logins0 = sshd_login_count(sshd);
    pgcm_node_spec_t specs[NPG];
    for (int i = 0; i < NPG; i++)
        tunnel_spec(i, i, 0, NULL, &specs[i]);
    pgcm_manager_t *mgr = start_manager(NULL, specs, NPG);
    for (int i = 0; i < NPG; i++) {
        wait_healthy(mgr, ids[i], 10000);
        char port[16];
        snprintf(port, sizeof port, "%d", localpg_port(pg[i]));
        assert_string_equal(query_value(mgr, ids[i], "SHOW port"), port);
        assert_through_sshd(mgr, ids[i], sshd);
        HREC_CHECK(&rec, 0,
                   hrec_find(&rec, 0, PGCM_EV_TUNNEL_UP, ids[i], -1) >= 0,
                   "node %s: no tunnel_up event", ids[i]);
    }
    /* A fan-out over all three. */
    pgcm_batch_t *b = NULL;
    pgcm_error_t err;
    pgcm_target_t all = {PGCM_TARGET_ALL, NULL, 0};
    assert_int_equal(
        pgcm_query_many(mgr, &all, "SELECT 1", 0, NULL, NULL, &b, &err),
        PGCM_OK);
    assert_int_equal(pgcm_batch_count(b), NPG);
    for (size_t i = 0; i < NPG; i++)
        assert_int_equal(pgcm_result_status(pgcm_batch_result(b, i)), PGCM_OK);
    pgcm_batch_free(b);
    assert_int_equal(sshd_login_count(sshd) - logins0, 1);
    assert_int_equal(sshd_session_count(sshd), 1);
    end_manager();
    assert_int_equal(sshd_login_count(sshd) - logins0, 1);
}

static void test_tls_through_tunnel(void **state)
{
    (void)state;
    tls_files_t files;
    localpg_server_t *ssl = bastion_tls_server(&files);
    pgcm_node_spec_t spec;
    tunnel_spec_to(ssl, "tls", 0, NULL, &spec);
    spec.host = "localhost"; /* the certificate's name, as sshd sees it */
    spec.ssl.enabled = PGCM_SSL_ENABLED;
    spec.ssl.reject_unauthorized = 1;
    spec.ssl.ca = files.ca_cert;
    pgcm_manager_t *mgr = start_manager(NULL, &spec, 1);
    wait_healthy(mgr, "tls", 10000);
    assert_string_equal(
        query_value(mgr, "tls",
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"),
        "t");
    assert_through_sshd(mgr, "tls", sshd);
    end_manager();
    localpg_destroy(ssl);
    tls_remove_files(&files);
}

/* An unknown host key: a configuration error that names the hop. */
static void test_unknown_host_key(void **state)
{
    (void)state;
    char kh[700];
    snprintf(kh, sizeof kh, "%s/known_hosts_none", sshd_dir(sshd));
    unlink(kh);
    pgcm_node_spec_t spec;
    tunnel_spec(0, 0, 0, kh, &spec);
    pgcm_manager_t *mgr = start_manager(NULL, &spec, 1);
    int64_t deadline = fixture_now_ms() + 10000;
    pgcm_health_t h;
    do {
        assert_int_equal(pgcm_node_health(mgr, ids[0], &h), PGCM_OK);
        fixture_sleep_ms(10);
    } while (h.state != PGCM_NODE_UNHEALTHY && fixture_now_ms() < deadline);
    assert_int_equal(h.state, PGCM_NODE_UNHEALTHY);
    assert_int_equal(h.last_error_code, PGCM_EAUTH);
    if (strncmp(h.last_error, "ssh: the host key of bastion", 28) != 0)
        fail_msg("last error: %s", h.last_error);
    assert_non_null(strstr(h.last_error, sshd_host_fingerprint(sshd)));
    /* configuration errors retry at the slowest pace */
    assert_true(h.next_retry_ms - hwall_ms() > 20000);
}

/* sshd killed: unhealthy within 2 s, the last error names the hop; sshd
 * back: healthy again with no call from the user. */
static void test_bastion_killed_and_back(void **state)
{
    (void)state;
    char err[1024], key[512], kh[700];
    sshd_t *d = bastion_start(NULL, key, sizeof key, kh, sizeof kh);
    pgcm_node_spec_t spec;
    tunnel_spec(1, 1, sshd_port(d), kh, &spec);
    spec.ssh.key_path = key;
    pgcm_manager_t *mgr = start_manager(NULL, &spec, 1);
    wait_healthy(mgr, ids[1], 10000);
    assert_through_sshd(mgr, ids[1], d);
    fixture_sleep_ms(300);

    size_t mark = hrec_mark(&rec);
    int64_t t0 = hwall_ms();
    sshd_kill(d);
    expect_down_within_2s(mark, t0, ids[1], "bastion killed");
    HREC_CHECK(&rec, mark,
               hrec_find(&rec, mark, PGCM_EV_TUNNEL_DOWN, ids[1], -1) >= 0,
               "no tunnel_down event");
    pgcm_health_t h;
    assert_int_equal(pgcm_node_health(mgr, ids[1], &h), PGCM_OK);
    if (strncmp(h.last_error, "ssh: ", 5) != 0)
        fail_msg("last error does not name the SSH hop: %s", h.last_error);

    mark = hrec_mark(&rec);
    if (sshd_restart(d, err, sizeof err) < 0)
        fail_msg("%s", err);
    hrec_expect_up(&rec, mark, ids[1], 20000);
    assert_through_sshd(mgr, ids[1], d);
    end_manager();
    sshd_stop(d);
}

/* The SSH connection blackholed: unhealthy within 2 s. */
static void test_bastion_cut_off(void **state)
{
    (void)state;
    faultproxy_t *proxy = NULL;
    char kh[700];
    int pport =
        bastion_proxy(sshd, &proxy, "known_hosts_nodes_proxy", kh, sizeof kh);
    pgcm_node_spec_t spec;
    tunnel_spec(2, 2, pport, kh, &spec);
    pgcm_manager_t *mgr = start_manager(NULL, &spec, 1);
    wait_healthy(mgr, ids[2], 10000);
    fixture_sleep_ms(300);
    size_t mark = hrec_mark(&rec);
    int64_t t0 = hwall_ms();
    faultproxy_blackhole(proxy);
    expect_down_within_2s(mark, t0, ids[2], "bastion cut off");
    faultproxy_pass(proxy);
    mark = hrec_mark(&rec);
    hrec_expect_up(&rec, mark, ids[2], 20000);
    end_manager();
    faultproxy_stop(proxy);
}

static int64_t g_result_at;
static int g_result_status;

static void on_result(pgcm_result_t *r, void *user)
{
    (void)user;
    g_result_status = pgcm_result_status(r);
    g_result_at = fixture_now_ms();
    pgcm_result_free(r);
}

/* A node removed while its tunnel carries a query: the query ends, the
 * removal completes, the server's backend goes away. */
static void test_remove_during_query(void **state)
{
    (void)state;
    pgcm_node_spec_t specs[2];
    tunnel_spec(0, 3, 0, NULL, &specs[0]);
    tunnel_spec(1, 4, 0, NULL, &specs[1]);
    pgcm_options_t o;
    pgcm_options_init(&o);
    o.remove_timeout_ms = 300;
    pgcm_manager_t *mgr = start_manager(&o, specs, 2);
    pgcm_error_t err;
    wait_healthy(mgr, ids[3], 10000);
    wait_healthy(mgr, ids[4], 10000);
    g_result_at = 0;
    assert_int_equal(pgcm_query_async(mgr, ids[3], "SELECT pg_sleep(30)", 0,
                                      NULL, NULL, on_result, NULL, NULL, &err),
                     PGCM_OK);
    fixture_wait_active(pg[0], "SELECT pg_sleep%", 1, 5000);
    int64_t t0 = fixture_now_ms();
    assert_int_equal(pgcm_node_remove(mgr, ids[3], &err), PGCM_OK);
    int64_t took = fixture_now_ms() - t0;
    print_message("removed under a query in %lld ms\n", (long long)took);
    assert_true(took < 2000);
    int64_t deadline = fixture_now_ms() + 2000;
    while (g_result_at == 0 && fixture_now_ms() < deadline)
        fixture_sleep_ms(5);
    assert_true(g_result_at != 0);
    assert_int_not_equal(g_result_status, PGCM_OK);
    fixture_assert_no_connections(&pg[0], 1, NULL);
    /* The other node keeps the shared session. */
    assert_string_equal(query_value(mgr, ids[4], "SELECT 4"), "4");
    assert_int_equal(sshd_session_count(sshd), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_three_nodes_one_session, test_teardown),
        cmocka_unit_test_teardown(test_tls_through_tunnel, test_teardown),
        cmocka_unit_test_teardown(test_unknown_host_key, test_teardown),
        cmocka_unit_test_teardown(test_bastion_killed_and_back, test_teardown),
        cmocka_unit_test_teardown(test_bastion_cut_off, test_teardown),
        cmocka_unit_test_teardown(test_remove_during_query, test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
