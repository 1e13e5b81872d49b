/* SPDX-License-Identifier: MIT */
/*
 * test_tls.c - libpgcm's TLS options (L2, issue 4 item 5) against real
 * PostgreSQL servers with ssl=on and throwaway certificates (tests/tools/
 * tls.h): verify-full with the right CA and host name (also through a host
 * name that libpgcm resolves itself), a wrong CA, a wrong host name, a
 * missing CA file, reject_unauthorized: false (require, no verification),
 * client certificates with `cert` authentication, and enabled: false
 * against a hostssl-only server. Every connection that succeeds is proved
 * encrypted (or not) with pg_stat_ssl, every failure must leave the node
 * unhealthy with a clear last_error and code, and after each test the
 * servers show none of our connections.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "tls.h"

/* The servers, started once for the whole group:
 *   SRV_SSL   ssl=on, hostssl-only pg_hba (trust), certificate for
 *             localhost / 127.0.0.1 signed by the test CA
 *   SRV_CERT  ssl=on, hostssl with `cert` authentication
 *   SRV_WRONG ssl=on, default pg_hba (TLS optional), certificate made for
 *             wrong-host.invalid (signed by the test CA) */
enum { SRV_SSL = 0, SRV_CERT = 1, SRV_WRONG = 2, NSERVERS = 3 };

static tls_files_t files;
static localpg_server_t *srv[NSERVERS];

static int group_setup(void **state)
{
    (void)state;
    char err[1024];
    if (tls_make_files(NULL, &files, err, sizeof err) < 0)
        fail_msg("%s", err);
    srv[SRV_SSL] =
        tls_start_server(&files, TLS_HBA_SSL_ONLY, NULL, err, sizeof err);
    if (srv[SRV_SSL] == NULL)
        fail_msg("%s", err);
    srv[SRV_CERT] =
        tls_start_server(&files, TLS_HBA_CERT, NULL, err, sizeof err);
    if (srv[SRV_CERT] == NULL)
        fail_msg("%s", err);
    tls_files_t wrong = files;
    memcpy(wrong.server_cert, files.wrong_host_cert, sizeof wrong.server_cert);
    memcpy(wrong.server_key, files.wrong_host_key, sizeof wrong.server_key);
    wrong.own_dir = 0;
    srv[SRV_WRONG] =
        tls_start_server(&wrong, TLS_HBA_DEFAULT, NULL, err, sizeof err);
    if (srv[SRV_WRONG] == NULL)
        fail_msg("%s", err);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NSERVERS; i++) {
        localpg_destroy(srv[i]);
        srv[i] = NULL;
    }
    tls_remove_files(&files);
    return 0;
}

static int test_teardown(void **state)
{
    (void)state;
    fixture_manager_free_all();
    fixture_assert_no_connections(srv, NSERVERS, NULL);
    return 0;
}

/* A spec for server s with TLS options; host is "127.0.0.1" unless given. */
static void tls_spec(int s, const char *id, const char *host, int enabled,
                     int reject_unauthorized, const char *ca, const char *cert,
                     const char *key, pgcm_node_spec_t *spec)
{
    fixture_node_spec(srv[s], id, spec);
    if (host != NULL)
        spec->host = host;
    spec->ssl.enabled = enabled;
    spec->ssl.reject_unauthorized = reject_unauthorized;
    spec->ssl.ca = ca;
    spec->ssl.cert = cert;
    spec->ssl.key = key;
}

/* The node connected: healthy, and its connection is encrypted (or not,
 * when expect_ssl is 0) as the server itself reports. */
static void assert_connected(pgcm_manager_t *mgr, const char *id,
                             int expect_ssl)
{
    pgcm_health_t h;
    assert_int_equal(pgcm_node_health(mgr, id, &h), PGCM_OK);
    if (h.state != PGCM_NODE_HEALTHY)
        fail_msg("node %s is %s, expected healthy; last error: %s", id,
                 pgcm_node_state_name(h.state), h.last_error);
    pgcm_result_t *r = NULL;
    pgcm_error_t err;
    int rc = pgcm_query(mgr, id,
                        "SELECT ssl, current_user, inet_client_addr()::text, "
                        "coalesce(version, ''), coalesce(cipher, '') "
                        "FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                        0, NULL, NULL, &r, &err);
    if (rc != PGCM_OK)
        fail_msg("query on %s: %s", id, err.message);
    assert_int_equal(pgcm_result_ntuples(r), 1);
    assert_string_equal(pgcm_result_value(r, 0, 0), expect_ssl ? "t" : "f");
    assert_string_equal(pgcm_result_value(r, 0, 1), "postgres");
    /* over TCP from 127.0.0.1, never the Unix socket */
    assert_string_equal(pgcm_result_value(r, 0, 2), "127.0.0.1/32");
    if (expect_ssl) {
        assert_non_null(strstr(pgcm_result_value(r, 0, 3), "TLS"));
        assert_true(strlen(pgcm_result_value(r, 0, 4)) > 0);
    }
    pgcm_result_free(r);
}

/* The node failed its first attempt clearly: unhealthy (waiting, state
 * reached quickly), last_error_code `code`, last_error containing every
 * needle; a query on it fails at once with PGCM_EUNAVAIL and names the node
 * and the cause. */
static void assert_refused(pgcm_manager_t *mgr, const char *id, int code,
                           const char *const *needles)
{
    pgcm_health_t h;
    int64_t deadline = fixture_now_ms() + 8000;
    for (;;) {
        assert_int_equal(pgcm_node_health(mgr, id, &h), PGCM_OK);
        if (h.state == PGCM_NODE_UNHEALTHY || fixture_now_ms() > deadline)
            break;
        fixture_sleep_ms(20);
    }
    if (h.state != PGCM_NODE_UNHEALTHY)
        fail_msg("node %s is %s, expected unhealthy; last error (%s): %s", id,
                 pgcm_node_state_name(h.state),
                 pgcm_err_name(h.last_error_code), h.last_error);
    if (h.last_error_code != code)
        fail_msg("node %s: last_error_code %s, expected %s; last error: %s", id,
                 pgcm_err_name(h.last_error_code), pgcm_err_name(code),
                 h.last_error);
    for (size_t i = 0; needles[i] != NULL; i++) {
        if (strstr(h.last_error, needles[i]) == NULL)
            fail_msg("node %s: last error does not mention \"%s\": %s", id,
                     needles[i], h.last_error);
    }
    assert_true(h.next_retry_ms > 0);
    assert_int_equal(h.last_ok_ms, 0);

    pgcm_result_t *r = NULL;
    pgcm_error_t err;
    int64_t t0 = fixture_now_ms();
    assert_int_equal(pgcm_query(mgr, id, "SELECT 1", 0, NULL, NULL, &r, &err),
                     PGCM_EUNAVAIL);
    assert_true(fixture_now_ms() - t0 < 1000);
    assert_non_null(strstr(err.message, id));
    if (strstr(err.message, needles[0]) == NULL)
        fail_msg("query error does not mention \"%s\": %s", needles[0],
                 err.message);
    pgcm_result_free(r);

    pgcm_pool_stats_t st;
    assert_int_equal(pgcm_node_stats(mgr, id, &st), PGCM_OK);
    assert_int_equal(st.conns_opened, 0);
    assert_true(st.connect_errors >= 1);
}

/* ---- verify-full ------------------------------------------------------- */

static void test_verify_full_by_host_name(void **state)
{
    (void)state;
    /* "localhost" is resolved by libpgcm (uv_getaddrinfo) and passed as
     * hostaddr, while host stays "localhost" for libpq's name check. */
    pgcm_node_spec_t spec;
    tls_spec(SRV_SSL, "byname", "localhost", PGCM_SSL_ENABLED, 1, files.ca_cert,
             NULL, NULL, &spec);
    pgcm_manager_t *mgr = fixture_manager_start(NULL, &spec, 1);
    assert_connected(mgr, "byname", 1);

    /* Several connections, all verified and encrypted. */
    pgcm_batch_t *b = NULL;
    pgcm_error_t err;
    const char *four[] = {"byname", "byname", "byname", "byname"};
    pgcm_target_t t = {PGCM_TARGET_LIST, four, 4};
    assert_int_equal(
        pgcm_query_many(mgr, &t,
                        "SELECT ssl, pg_sleep(0.1) FROM pg_stat_ssl "
                        "WHERE pid = pg_backend_pid()",
                        0, NULL, NULL, &b, &err),
        PGCM_OK);
    assert_int_equal(pgcm_batch_succeeded(b), 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(pgcm_result_value(pgcm_batch_result(b, i), 0, 0),
                            "t");
    pgcm_batch_free(b);
    pgcm_pool_stats_t st;
    assert_int_equal(pgcm_node_stats(mgr, "byname", &st), PGCM_OK);
    assert_true(st.conns_opened >= 2);
    assert_int_equal(st.connect_errors, 0);
    char *n = fixture_exec(srv[SRV_SSL],
                           "SELECT count(*) FROM pg_stat_ssl s JOIN "
                           "pg_stat_activity a USING (pid) WHERE a.usename = "
                           "'postgres' AND a.client_addr IS NOT NULL AND "
                           "NOT s.ssl");
    assert_string_equal(n, "0");
    free(n);
    fixture_manager_free(mgr);
}

static void test_verify_full_by_address(void **state)
{
    (void)state;
    /* The certificate's IP:127.0.0.1 SAN matches an address host. */
    pgcm_node_spec_t spec;
    tls_spec(SRV_SSL, "byaddr", NULL, PGCM_SSL_ENABLED, 1, files.ca_cert, NULL,
             NULL, &spec);
    pgcm_manager_t *mgr = fixture_manager_start(NULL, &spec, 1);
    assert_connected(mgr, "byaddr", 1);
    fixture_manager_free(mgr);
}

static void test_verify_full_wrong_ca(void **state)
{
    (void)state;
    pgcm_node_spec_t spec;
    tls_spec(SRV_SSL, "wrongca", "localhost", PGCM_SSL_ENABLED, 1,
             files.other_ca_cert, NULL, NULL, &spec);
    int64_t t0 = fixture_now_ms();
    pgcm_manager_t *mgr = fixture_manager_start(NULL, &spec, 1);
    /* A verification failure is decisive at once, not after retries. */
    assert_true(fixture_now_ms() - t0 < 3000);
    const char *needles[] = {"certificate", NULL};
    assert_refused(mgr, "wrongca", PGCM_EAUTH, needles);
    pgcm_health_t h;
    assert_int_equal(pgcm_node_health(mgr, "wrongca", &h), PGCM_OK);
    assert_non_null(strstr(h.last_error, "verify failed"));
    /* Retrying will not fix it: the slowest pace (backoff_max, 30 s). */
    assert_true(h.next_retry_ms - h.last_check_ms >= 20000);
    fixture_manager_free(mgr);
}

static void test_verify_full_server_cert_for_another_name(void **state)
{
    (void)state;
    /* The server presents a certificate (from the right CA) made for
     * wrong-host.invalid; we connect to 127.0.0.1 and to localhost. */
    pgcm_node_spec_t specs[2];
    tls_spec(SRV_WRONG, "byaddr", NULL, PGCM_SSL_ENABLED, 1, files.ca_cert,
             NULL, NULL, &specs[0]);
    tls_spec(SRV_WRONG, "byname", "localhost", PGCM_SSL_ENABLED, 1,
             files.ca_cert, NULL, NULL, &specs[1]);
    pgcm_manager_t *mgr = fixture_manager_start(NULL, specs, 2);
    const char *addr_needles[] = {"does not match host name", "127.0.0.1",
                                  "wrong-host.invalid", NULL};
    assert_refused(mgr, "byaddr", PGCM_EAUTH, addr_needles);
    const char *name_needles[] = {"does not match host name", "localhost",
                                  "wrong-host.invalid", NULL};
    assert_refused(mgr, "byname", PGCM_EAUTH, name_needles);
    fixture_manager_free(mgr);
}

static void test_verify_full_host_name_not_in_certificate(void **state)
{
    (void)state;
    /* The right server certificate, but we call the server by a name it
     * is not made for: hostaddr from the conninfo reaches 127.0.0.1 while
     * host is the name checked (libpgcm must not resolve it itself). */
    pgcm_node_spec_t spec;
    tls_spec(SRV_SSL, "othername", "db.example.invalid", PGCM_SSL_ENABLED, 1,
             files.ca_cert, NULL, NULL, &spec);
    spec.conninfo = "hostaddr=127.0.0.1";
    pgcm_manager_t *mgr = fixture_manager_start(NULL, &spec, 1);
    const char *needles[] = {"does not match host name", "db.example.invalid",
                             NULL};
    assert_refused(mgr, "othername", PGCM_EAUTH, needles);

    /* Control: the same route with the certificate's name works. */
    pgcm_node_spec_t ok;
    tls_spec(SRV_SSL, "rightname", "localhost", PGCM_SSL_ENABLED, 1,
             files.ca_cert, NULL, NULL, &ok);
    ok.conninfo = "hostaddr=127.0.0.1";
    pgcm_error_t err;
    assert_int_equal(pgcm_node_add(mgr, &ok, &err), PGCM_OK);
    pgcm_health_t h;
    int64_t deadline = fixture_now_ms() + 5000;
    do {
        fixture_sleep_ms(20);
        assert_int_equal(pgcm_node_health(mgr, "rightname", &h), PGCM_OK);
    } while (h.state == PGCM_NODE_CONNECTING && fixture_now_ms() < deadline);
    assert_connected(mgr, "rightname", 1);
    fixture_manager_free(mgr);
}

static void test_verify_full_missing_ca_file(void **state)
{
    (void)state;
    char missing[TLS_PATH_MAX + 32];
    snprintf(missing, sizeof missing, "%s/no-such-ca.crt", files.dir);
    pgcm_node_spec_t spec;
    tls_spec(SRV_SSL, "noca", NULL, PGCM_SSL_ENABLED, 1, missing, NULL, NULL,
             &spec);
    pgcm_manager_t *mgr = fixture_manager_start(NULL, &spec, 1);
    const char *needles[] = {"root certificate", "no-such-ca.crt", NULL};
    assert_refused(mgr, "noca", PGCM_EAUTH, needles);
    fixture_manager_free(mgr);
}

/* ---- reject_unauthorized: false ------------------------------------------ */

static void test_require_without_ca(void **state)
{
    (void)state;
    /* Encrypted without any verification: no CA at all, and a server
     * certificate made for another name. */
    pgcm_node_spec_t specs[2];
    tls_spec(SRV_SSL, "noca", NULL, PGCM_SSL_ENABLED, 0, NULL, NULL, NULL,
             &specs[0]);
    tls_spec(SRV_WRONG, "wrongname", "localhost", PGCM_SSL_ENABLED, 0, NULL,
             NULL, NULL, &specs[1]);
    pgcm_manager_t *mgr = fixture_manager_start(NULL, specs, 2);
    assert_connected(mgr, "noca", 1);
    assert_connected(mgr, "wrongname", 1);
    fixture_manager_free(mgr);
}

static void test_require_with_right_ca_ignores_host_name(void **state)
{
    (void)state;
    pgcm_node_spec_t spec;
    tls_spec(SRV_WRONG, "wrongname", NULL, PGCM_SSL_ENABLED, 0, files.ca_cert,
             NULL, NULL, &spec);
    pgcm_manager_t *mgr = fixture_manager_start(NULL, &spec, 1);
    assert_connected(mgr, "wrongname", 1);
    fixture_manager_free(mgr);
}

static void test_require_with_wrong_ca_does_not_verify(void **state)
{
    (void)state;
    /* reject_unauthorized: false means "encrypted, not verified" (as
     * node-postgres' rejectUnauthorized: false), even when a ca is
     * configured that would not verify the server. */
    pgcm_node_spec_t spec;
    tls_spec(SRV_SSL, "wrongca", NULL, PGCM_SSL_ENABLED, 0, files.other_ca_cert,
             NULL, NULL, &spec);
    pgcm_manager_t *mgr = fixture_manager_start(NULL, &spec, 1);
    assert_connected(mgr, "wrongca", 1);
    fixture_manager_free(mgr);
}

/* ---- client certificates ------------------------------------------------- */

static void test_client_certificate_used(void **state)
{
    (void)state;
    pgcm_node_spec_t spec;
    tls_spec(SRV_CERT, "withcert", "localhost", PGCM_SSL_ENABLED, 1,
             files.ca_cert, files.client_cert, files.client_key, &spec);
    pgcm_manager_t *mgr = fixture_manager_start(NULL, &spec, 1);
    assert_connected(mgr, "withcert", 1);
    /* The server saw our certificate. */
    pgcm_result_t *r = NULL;
    pgcm_error_t err;
    assert_int_equal(pgcm_query(mgr, "withcert",
                                "SELECT client_dn, issuer_dn FROM pg_stat_ssl "
                                "WHERE pid = pg_backend_pid()",
                                0, NULL, NULL, &r, &err),
                     PGCM_OK);
    assert_string_equal(pgcm_result_value(r, 0, 0), "/CN=postgres");
    assert_string_equal(pgcm_result_value(r, 0, 1), "/CN=replmon test CA");
    pgcm_result_free(r);
    fixture_manager_free(mgr);
}

static void test_client_certificate_missing(void **state)
{
    (void)state;
    pgcm_node_spec_t spec;
    tls_spec(SRV_CERT, "nocert", "localhost", PGCM_SSL_ENABLED, 1,
             files.ca_cert, NULL, NULL, &spec);
    pgcm_manager_t *mgr = fixture_manager_start(NULL, &spec, 1);
    const char *needles[] = {"certificate", NULL};
    assert_refused(mgr, "nocert", PGCM_EAUTH, needles);
    pgcm_health_t h;
    assert_int_equal(pgcm_node_health(mgr, "nocert", &h), PGCM_OK);
    assert_string_equal(h.last_sqlstate, "28000");
    fixture_manager_free(mgr);
}

static void test_client_certificate_from_unrelated_ca(void **state)
{
    (void)state;
    /* A client certificate the server's CA did not sign: refused by the
     * server during the handshake; a configuration problem, not an outage. */
    pgcm_node_spec_t spec;
    tls_spec(SRV_CERT, "othercert", "localhost", PGCM_SSL_ENABLED, 1,
             files.ca_cert, files.other_client_cert, files.other_client_key,
             &spec);
    pgcm_manager_t *mgr = fixture_manager_start(NULL, &spec, 1);
    const char *needles[] = {"unknown ca", NULL};
    assert_refused(mgr, "othercert", PGCM_EAUTH, needles);
    fixture_manager_free(mgr);
}

/* ---- enabled: false ------------------------------------------------------ */

static void test_disabled_against_hostssl_only(void **state)
{
    (void)state;
    pgcm_node_spec_t spec;
    tls_spec(SRV_SSL, "plain", NULL, PGCM_SSL_DISABLED, 1, files.ca_cert, NULL,
             NULL, &spec);
    pgcm_manager_t *mgr = fixture_manager_start(NULL, &spec, 1);
    const char *needles[] = {"no pg_hba.conf entry", "no encryption", NULL};
    assert_refused(mgr, "plain", PGCM_EAUTH, needles);
    pgcm_health_t h;
    assert_int_equal(pgcm_node_health(mgr, "plain", &h), PGCM_OK);
    assert_string_equal(h.last_sqlstate, "28000");
    fixture_manager_free(mgr);
}

static void test_disabled_and_default_modes(void **state)
{
    (void)state;
    /* Where TLS is optional: enabled: false really is plain TCP, and the
     * default (libpq's prefer) negotiates TLS. */
    pgcm_node_spec_t specs[2];
    tls_spec(SRV_WRONG, "plain", NULL, PGCM_SSL_DISABLED, 1, NULL, NULL, NULL,
             &specs[0]);
    tls_spec(SRV_WRONG, "prefer", NULL, PGCM_SSL_DEFAULT, 1, NULL, NULL, NULL,
             &specs[1]);
    pgcm_manager_t *mgr = fixture_manager_start(NULL, specs, 2);
    assert_connected(mgr, "plain", 0);
    assert_connected(mgr, "prefer", 1);
    fixture_manager_free(mgr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_verify_full_by_host_name, test_teardown),
        cmocka_unit_test_teardown(test_verify_full_by_address, test_teardown),
        cmocka_unit_test_teardown(test_verify_full_wrong_ca, test_teardown),
        cmocka_unit_test_teardown(test_verify_full_server_cert_for_another_name,
                                  test_teardown),
        cmocka_unit_test_teardown(test_verify_full_host_name_not_in_certificate,
                                  test_teardown),
        cmocka_unit_test_teardown(test_verify_full_missing_ca_file,
                                  test_teardown),
        cmocka_unit_test_teardown(test_require_without_ca, test_teardown),
        cmocka_unit_test_teardown(test_require_with_right_ca_ignores_host_name,
                                  test_teardown),
        cmocka_unit_test_teardown(test_require_with_wrong_ca_does_not_verify,
                                  test_teardown),
        cmocka_unit_test_teardown(test_client_certificate_used, test_teardown),
        cmocka_unit_test_teardown(test_client_certificate_missing,
                                  test_teardown),
        cmocka_unit_test_teardown(test_client_certificate_from_unrelated_ca,
                                  test_teardown),
        cmocka_unit_test_teardown(test_disabled_against_hostssl_only,
                                  test_teardown),
        cmocka_unit_test_teardown(test_disabled_and_default_modes,
                                  test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
