/* SPDX-License-Identifier: MIT */
/*
 * test_tunnel.c - the SSH tunnels (src/pgcm/tunnel.h, issue 13) against a
 * real OpenSSH sshd (tests/tools/sshd.h) and real PostgreSQL servers. The
 * test drives the tunnel registry directly on a libuv loop of its own
 * (tests/tools/tunnelloop.h runs it on a thread; calls are posted to it and
 * waited for), and talks to the servers with plain libpq through the
 * tunnels' local ports.
 *
 * Cases: three tunnels to three servers on one SSH session (one login in
 * sshd's log, PostgreSQL's client sockets belong to sshd, large transfers
 * both ways); TLS to PostgreSQL through a tunnel with the name checked
 * against the node's host; a passphrase-protected key (right, missing,
 * wrong: the passphrase never shows); unknown host key refused, then
 * accepted after the ssh-keyscan the message suggests; accept-new records
 * one key and still refuses a changed one; a wrong key, an unknown user, a
 * missing key file; a refused bastion port; channels the bastion refuses
 * (target down, forwarding forbidden) while the session stays up; sshd
 * frozen, killed, restarted (down within 2 s, then up again, also on
 * demand); the SSH connection blackholed through the fault proxy (down
 * within 2 s, also in the middle of an upload); a probe's check pinging
 * at once; a tunnel closed while its channel carries a query; the
 * registry closed in the middle of a query and of a stuck login; and after
 * every test, no session left on sshd, no connection on PostgreSQL
 * and no handle left on the loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "bastion.h"
#include "faultproxy.h"
#include "fixture.h"
#include "sshd.h"
#include "tls.h"
#include "tunnelloop.h"

/* ---- the loop (tests/tools/tunnelloop.h) ----------------------------- */

static tunnelloop_t *TL; /* the running test's loop and registry */

static void harness_start(void)
{
    assert_null(TL);
    TL = tunnelloop_start(NULL);
    assert_non_null(TL);
}

/* Close the registry, stop the loop and prove it has no handle left. */
static void harness_stop(void)
{
    if (TL == NULL)
        return;
    int rc = tunnelloop_stop(TL);
    TL = NULL;
    assert_int_equal(rc, 0);
}

static pgcm__tunnel_t *tunnel_open(const pgcm_ssh_options_t *ssh,
                                   const char *host, int port)
{
    pgcm__tunnel_t *t = NULL;
    pgcm_error_t err;
    if (tunnelloop_open(TL, ssh, host, port, &t, &err) != PGCM_OK)
        fail_msg("pgcm__tunnel_open: %s", err.message);
    return t;
}

static void tunnel_close(pgcm__tunnel_t *t)
{
    tunnelloop_close_tunnel(TL, t);
}

static void tunnel_reconnect(pgcm__tunnel_t *t)
{
    tunnelloop_reconnect(TL, t);
}

static int local_port(pgcm__tunnel_t *t)
{
    return tunnelloop_local_port(TL, t);
}

static int check(pgcm__tunnel_t *t, pgcm_error_t *err)
{
    return tunnelloop_check(TL, t, err);
}

/* Wait for event ev of t recorded at index >= *since (then *since moves
 * past it); fails the test after timeout_ms. */
static tunnelloop_event_t wait_event(pgcm__tunnel_t *t, pgcm__tunnel_event_t ev,
                                     int *since, int timeout_ms)
{
    tunnelloop_event_t r;
    if (tunnelloop_wait_event(TL, t, ev, since, timeout_ms, &r) < 0)
        fail_msg("no tunnel event %d within %d ms; the tunnel's last: event "
                 "%d (%s): %s",
                 ev, timeout_ms, r.ev, pgcm_err_name(r.code), r.msg);
    return r;
}

static void wait_up(pgcm__tunnel_t *t, int *since)
{
    tunnelloop_event_t r = wait_event(t, PGCM__TUNNEL_UP, since, 15000);
    assert_int_equal(r.code, PGCM_OK);
}

static tunnelloop_event_t wait_down(pgcm__tunnel_t *t, int *since, int code)
{
    tunnelloop_event_t r = wait_event(t, PGCM__TUNNEL_DOWN, since, 15000);
    if (r.code != code)
        fail_msg("tunnel down with %s, expected %s: %s", pgcm_err_name(r.code),
                 pgcm_err_name(code), r.msg);
    if (strncmp(r.msg, "ssh: ", 5) != 0)
        fail_msg("message does not start with \"ssh: \": %s", r.msg);
    return r;
}

/* Wait for t to go down with code, after t0 (fixture_now_ms) by less than
 * 2 s; what (e.g. "bastion frozen") names the fault in the message. */
static tunnelloop_event_t wait_down_within_2s(pgcm__tunnel_t *t, int *since,
                                              int code, int64_t t0,
                                              const char *what)
{
    tunnelloop_event_t r = wait_down(t, since, code);
    int64_t took = r.at_ms - t0;
    print_message("%s: tunnel down after %lld ms\n", what, (long long)took);
    if (took >= 2000)
        fail_msg("%s: the tunnel went down only after %lld ms (limit 2000)",
                 what, (long long)took);
    return r;
}

static void assert_mentions(const char *msg, const char *needle)
{
    if (strstr(msg, needle) == NULL)
        fail_msg("message does not mention \"%s\": %s", needle, msg);
}

static void assert_not_mentions(const char *msg, const char *needle)
{
    if (strstr(msg, needle) != NULL)
        fail_msg("message mentions \"%s\": %s", needle, msg);
}

/* ---- the servers ----------------------------------------------------- */

enum { NPG = 3 };

static localpg_server_t **pg;
static sshd_t *sshd;          /* the bastion most tests share */
static char user_key[512];    /* authorized, no passphrase */
static char known_hosts[600]; /* records sshd's host key */

static int group_setup(void **state)
{
    (void)state;
    pg = bastion_targets(NPG);
    sshd = bastion_start(NULL, user_key, sizeof user_key, known_hosts,
                         sizeof known_hosts);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    harness_stop();
    sshd_stop(sshd);
    sshd = NULL;
    fixture_stop_all();
    return 0;
}

static int test_setup(void **state)
{
    (void)state;
    harness_start();
    return 0;
}

/* After every test: nothing on the loop, no session on sshd, nothing of
 * ours on PostgreSQL. */
static int test_teardown(void **state)
{
    (void)state;
    harness_stop();
    bastion_wait_no_sessions(sshd, 3000);
    fixture_assert_no_connections(pg, NPG, NULL);
    return 0;
}

static pgcm_ssh_options_t ssh_options(const sshd_t *d, int port)
{
    pgcm_ssh_options_t o;
    memset(&o, 0, sizeof o);
    o.host = "127.0.0.1";
    o.port = port ? port : sshd_port(d);
    o.user = "root";
    o.key_path = user_key;
    o.known_hosts = known_hosts;
    o.host_key_check = PGCM_HOSTKEY_STRICT;
    return o;
}

/* A new key name of the shared sshd (sshd_make_key: passphrase NULL for
 * none, authorized or not), its path in path. */
static void make_key(const char *name, const char *passphrase, int authorize,
                     char *path, size_t pathlen)
{
    char err[1024];
    if (sshd_make_key(sshd, name, passphrase, authorize, path, pathlen, err,
                      sizeof err) < 0)
        fail_msg("%s", err);
}

/* The options for a bastion of the test's own (bastion_start): its key
 * and known_hosts file. */
static pgcm_ssh_options_t own_bastion_options(const sshd_t *d, const char *key,
                                              const char *kh)
{
    pgcm_ssh_options_t o = ssh_options(d, 0);
    o.key_path = key;
    o.known_hosts = kh;
    return o;
}

/* A tunnel with o to server, up (*since: its event index, from 0). */
static pgcm__tunnel_t *tunnel_up(const pgcm_ssh_options_t *o,
                                 localpg_server_t *server, int *since)
{
    pgcm__tunnel_t *t = tunnel_open(o, "127.0.0.1", localpg_port(server));
    *since = 0;
    wait_up(t, since);
    return t;
}

/* A tunnel with o to server that goes down with code: the down event (the
 * tunnel in *t and its event index in *since when they are not NULL). */
static tunnelloop_event_t tunnel_refused(const pgcm_ssh_options_t *o,
                                         localpg_server_t *server, int code,
                                         pgcm__tunnel_t **t, int *since)
{
    int own_since = 0;
    int *at = since ? since : &own_since;
    pgcm__tunnel_t *opened = tunnel_open(o, "127.0.0.1", localpg_port(server));
    if (t != NULL)
        *t = opened;
    *at = 0;
    return wait_down(opened, at, code);
}

/* A tunnel through the fault proxy in front of the shared sshd. */
typedef struct proxied {
    faultproxy_t *proxy; /* faultproxy_stop it at the end */
    int port;            /* the proxy's */
    pgcm__tunnel_t *t;
    int since; /* t's event index */
} proxied_t;

/* p's tunnel to server through a new proxy (known_hosts file name), up. */
static void proxied_tunnel(proxied_t *p, const char *name,
                           localpg_server_t *server)
{
    char kh[700];
    p->proxy = NULL;
    p->port = bastion_proxy(sshd, &p->proxy, name, kh, sizeof kh);
    pgcm_ssh_options_t o = ssh_options(sshd, p->port);
    o.known_hosts = kh;
    p->t = tunnel_up(&o, server, &p->since);
}

/* ---- libpq through a tunnel ----------------------------------------- */

static PGconn *pq_connect_port(int port, const char *extra)
{
    char ci[1024];
    snprintf(ci, sizeof ci,
             "host=127.0.0.1 port=%d user=postgres dbname=postgres "
             "application_name=%s connect_timeout=10 %s",
             port, fixture_app_name(), extra ? extra : "");
    return PQconnectdb(ci);
}

static PGconn *pq_connect(pgcm__tunnel_t *t)
{
    PGconn *c = pq_connect_port(local_port(t), NULL);
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(c));
        PQfinish(c);
        fail_msg("libpq through the tunnel: %s", msg);
    }
    return c;
}

/* The first value of a one-row query (static buffer). */
static const char *pq_value(PGconn *c, const char *sql)
{
    static char out[256];
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(c));
        PQclear(r);
        fail_msg("%s: %s", sql, msg);
    }
    snprintf(out, sizeof out, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return out;
}

/* A new connection through t answers sql with want; closed again. */
static void assert_tunnel_answers(pgcm__tunnel_t *t, const char *sql,
                                  const char *want)
{
    PGconn *c = pq_connect(t);
    assert_string_equal(pq_value(c, sql), want);
    PQfinish(c);
}

/* A string of n times ch (malloc'd). */
static char *big_text(size_t n, char ch)
{
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, ch, n);
    big[n] = '\0';
    return big;
}

/* libpq's connection failed with the tunnel's own message (the
 * ErrorResponse the tunnel writes in place of the server's). Only without
 * an SSLRequest first: libpq ignores the text of an error answering one
 * (it comes from a server not yet authenticated), hence sslmode=disable. */
static void assert_libpq_told(PGconn *c, const char *needle)
{
    const char *m = PQerrorMessage(c);
    if (strstr(m, needle) == NULL || strstr(m, "FATAL") == NULL)
        fail_msg("libpq's error does not say \"%s\": %s", needle, m);
}

/* A connection through t (sslmode=disable, see above) fails, and libpq
 * tells the tunnel's message with needle. */
static void assert_tunnel_refuses(pgcm__tunnel_t *t, const char *needle)
{
    PGconn *c = pq_connect_port(local_port(t), "sslmode=disable");
    assert_int_equal(PQstatus(c), CONNECTION_BAD);
    assert_libpq_told(c, needle);
    PQfinish(c);
}

/* The server's view of our connection: its client port must belong to
 * sshd (the bastion opened it), never to us. */
static void assert_through_sshd(PGconn *c, const sshd_t *d)
{
    int client_port =
        atoi(pq_value(c, "SELECT client_port FROM pg_stat_activity WHERE pid = "
                         "pg_backend_pid()"));
    assert_true(client_port > 0);
    assert_string_equal(pq_value(c, "SELECT inet_client_addr()::text"),
                        "127.0.0.1/32");
    if (!sshd_owns_tcp_port(d, client_port))
        fail_msg("PostgreSQL's client port %d is not a socket of sshd "
                 "(pid %d)",
                 client_port, (int)sshd_pid(d));
}

/* ---- tests ----------------------------------------------------------- */

/* Three nodes behind one bastion: one session (one login), each tunnel
 * reaches its own server, traffic provably through sshd, several
 * connections per tunnel multiplexed, megabytes both ways. */
static void test_three_tunnels_one_session(void **state)
{
    (void)state;
    int logins0 = sshd_login_count(sshd);
    pgcm_ssh_options_t o = ssh_options(sshd, 0);
    pgcm__tunnel_t *t[NPG];
    int since[NPG] = {0};
    for (int i = 0; i < NPG; i++)
        t[i] = tunnel_open(&o, "127.0.0.1", localpg_port(pg[i]));
    for (int i = 0; i < NPG; i++)
        wait_up(t[i], &since[i]);
    assert_int_equal(tunnelloop_sessions(TL), 1);

    PGconn *c[NPG][2];
    for (int i = 0; i < NPG; i++) {
        for (int k = 0; k < 2; k++) {
            c[i][k] = pq_connect(t[i]);
            char port[16];
            snprintf(port, sizeof port, "%d", localpg_port(pg[i]));
            assert_string_equal(pq_value(c[i][k], "SHOW port"), port);
            assert_through_sshd(c[i][k], sshd);
        }
        assert_int_equal(tunnelloop_channels(TL, t[i]), 2);
    }
    /* A direct connection's client port is ours, not sshd's. */
    PGconn *direct = pq_connect_port(localpg_port(pg[0]), NULL);
    assert_int_equal(PQstatus(direct), CONNECTION_OK);
    int direct_port = atoi(
        pq_value(direct, "SELECT client_port FROM pg_stat_activity WHERE pid = "
                         "pg_backend_pid()"));
    assert_false(sshd_owns_tcp_port(sshd, direct_port));
    PQfinish(direct);

    /* 4 MB down, 2 MB up, on every connection of the first tunnel. */
    for (int k = 0; k < 2; k++) {
        PGresult *r = PQexec(c[0][k], "SELECT repeat('x', 4194304)");
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        assert_int_equal(PQgetlength(r, 0, 0), 4194304);
        PQclear(r);
        char *big = big_text(2 * 1024 * 1024, 'y');
        const char *params[1] = {big};
        r = PQexecParams(c[0][k], "SELECT length($1::text)", 1, NULL, params,
                         NULL, NULL, 0);
        free(big);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        assert_string_equal(PQgetvalue(r, 0, 0), "2097152");
        PQclear(r);
    }
    /* Interleaved statements on all six connections. */
    for (int round = 0; round < 20; round++)
        for (int i = 0; i < NPG; i++)
            for (int k = 0; k < 2; k++)
                assert_string_equal(pq_value(c[i][k], "SELECT 40 + 2"), "42");

    /* A tunnel opened on the session already up is told so, and works. */
    int slate;
    pgcm__tunnel_t *late = tunnel_up(&o, pg[1], &slate);
    assert_tunnel_answers(late, "SELECT 5", "5");
    tunnel_close(late);

    assert_int_equal(sshd_login_count(sshd) - logins0, 1);
    assert_int_equal(sshd_session_count(sshd), 1);
    for (int i = 0; i < NPG; i++)
        for (int k = 0; k < 2; k++)
            PQfinish(c[i][k]);
    /* Closing two tunnels keeps the session for the third. */
    tunnel_close(t[0]);
    tunnel_close(t[1]);
    assert_int_equal(tunnelloop_sessions(TL), 1);
    assert_tunnel_answers(t[2], "SELECT 1", "1");
    tunnel_close(t[2]);
    assert_int_equal(tunnelloop_sessions(TL), 0);
    bastion_wait_no_sessions(sshd, 3000);
    assert_int_equal(sshd_login_count(sshd) - logins0, 1);
}

/* TLS to PostgreSQL inside the tunnel: libpq connects to 127.0.0.1 (our
 * listener) and checks the certificate against the node's host name. */
static void test_tls_through_tunnel(void **state)
{
    (void)state;
    tls_files_t files;
    localpg_server_t *ssl = bastion_tls_server(&files);
    pgcm_ssh_options_t o = ssh_options(sshd, 0);
    int since;
    pgcm__tunnel_t *t = tunnel_up(&o, ssl, &since);
    char extra[900];
    snprintf(extra, sizeof extra,
             "host=localhost hostaddr=127.0.0.1 sslmode=verify-full "
             "sslrootcert=%s",
             files.ca_cert);
    PGconn *c = pq_connect_port(local_port(t), extra);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("TLS through the tunnel: %s", PQerrorMessage(c));
    assert_string_equal(
        pq_value(c, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"),
        "t");
    assert_through_sshd(c, sshd);
    PQfinish(c);
    /* The name is what is checked: another name fails verify-full. */
    snprintf(extra, sizeof extra,
             "host=wrong-host.invalid hostaddr=127.0.0.1 sslmode=verify-full "
             "sslrootcert=%s",
             files.ca_cert);
    c = pq_connect_port(local_port(t), extra);
    assert_int_equal(PQstatus(c), CONNECTION_BAD);
    assert_non_null(strstr(PQerrorMessage(c), "wrong-host.invalid"));
    PQfinish(c);
    tunnel_close(t);
    harness_stop();
    localpg_destroy(ssl);
    tls_remove_files(&files);
}

/* A passphrase-protected key: works with it; without it or with a wrong
 * one, a configuration error that says so and never shows a passphrase. */
static void test_passphrase_key(void **state)
{
    (void)state;
    static const char phrase[] = "correct-Horse-7";
    char key[512];
    make_key("id_pass", phrase, 1, key, sizeof key);
    pgcm_ssh_options_t o = ssh_options(sshd, 0);
    o.key_path = key;
    o.passphrase = phrase;
    int since;
    pgcm__tunnel_t *t = tunnel_up(&o, pg[0], &since);
    assert_tunnel_answers(t, "SELECT 7", "7");

    pgcm_ssh_options_t missing = o;
    missing.passphrase = NULL;
    tunnelloop_event_t r =
        tunnel_refused(&missing, pg[0], PGCM_EAUTH, NULL, NULL);
    assert_mentions(r.msg, "protected by a passphrase");
    assert_mentions(r.msg, "ssh.passphrase");
    assert_mentions(r.msg, key);

    pgcm_ssh_options_t wrong = o;
    wrong.passphrase = "Wrong-phrase-99";
    pgcm__tunnel_t *t3;
    r = tunnel_refused(&wrong, pg[0], PGCM_EAUTH, &t3, NULL);
    assert_mentions(r.msg, "wrong ssh.passphrase");
    assert_not_mentions(r.msg, "Wrong-phrase-99");
    assert_not_mentions(r.msg, phrase);
    pgcm_error_t chk;
    assert_int_equal(check(t3, &chk), PGCM_EAUTH);
    assert_string_equal(chk.message, r.msg);
    /* No event of the whole test shows either passphrase. */
    assert_false(tunnelloop_events_mention(TL, phrase));
    assert_false(tunnelloop_events_mention(TL, "Wrong-phrase"));
}

/* Unknown host key: refused with the key type, the fingerprint and the
 * fix; the suggested ssh-keyscan then makes it work. A missing
 * known_hosts file is the same case. */
static void test_unknown_host_key(void **state)
{
    (void)state;
    char kh[700];
    snprintf(kh, sizeof kh, "%s/known_hosts_empty", sshd_dir(sshd));
    unlink(kh);
    for (int round = 0; round < 2; round++) {
        /* round 0: the file does not exist; round 1: it is empty */
        if (round == 1) {
            FILE *f = fopen(kh, "w");
            assert_non_null(f);
            fputs("# nothing here yet\n", f);
            fclose(f);
        }
        pgcm_ssh_options_t o = ssh_options(sshd, 0);
        o.known_hosts = kh;
        pgcm__tunnel_t *t;
        tunnelloop_event_t r = tunnel_refused(&o, pg[0], PGCM_EAUTH, &t, NULL);
        assert_mentions(r.msg, "not known");
        assert_mentions(r.msg, "127.0.0.1:");
        assert_mentions(r.msg, "ssh-ed25519");
        assert_mentions(r.msg, sshd_host_fingerprint(sshd));
        char fix[800];
        snprintf(fix, sizeof fix, "ssh-keyscan -p %d 127.0.0.1 >> %s",
                 sshd_port(sshd), kh);
        assert_mentions(r.msg, fix);
        assert_mentions(r.msg, "accept-new");
        /* A connection arriving now is closed: configuration errors wait
         * for the owner's (slow) reconnect, no login is attempted. */
        int conns = sshd_log_count(sshd, "Connection from");
        assert_tunnel_refuses(t, "ssh: the host key of bastion");
        assert_int_equal(sshd_log_count(sshd, "Connection from"), conns);
        tunnel_close(t);
    }
    /* Do what the message says. */
    char port[16], err[1024];
    snprintf(port, sizeof port, "%d", sshd_port(sshd));
    const char *argv[] = {"ssh-keyscan", "-p", port, "127.0.0.1", NULL};
    if (localpg_run(argv, kh, 30000, err, sizeof err) < 0)
        fail_msg("ssh-keyscan: %s", err);
    pgcm_ssh_options_t o = ssh_options(sshd, 0);
    o.known_hosts = kh;
    int since;
    assert_tunnel_answers(tunnel_up(&o, pg[0], &since), "SELECT 1", "1");
}

/* The one line of file path into line; fails if there are more or none. */
static void read_only_line(const char *path, char *line, size_t len)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s: %s", path, strerror(errno));
    char more[64];
    int got = fgets(line, (int)len, f) != NULL;
    int extra = got && fgets(more, sizeof more, f) != NULL;
    fclose(f);
    if (!got || extra)
        fail_msg("%s has %s lines, want exactly one", path,
                 got ? "more" : "no");
}

/* accept-new records an unknown key (one line, the right key), and a
 * changed key is refused afterwards in both modes, naming the new key. */
static void test_accept_new_and_changed_key(void **state)
{
    (void)state;
    char err[1024], key[512], unused[700];
    sshd_t *d = bastion_start(NULL, key, sizeof key, unused, sizeof unused);
    char dir[700], kh[800];
    snprintf(dir, sizeof dir, "%s/home_ssh", sshd_dir(d));
    snprintf(kh, sizeof kh, "%s/known_hosts", dir); /* dir made for us */
    pgcm_ssh_options_t o = own_bastion_options(d, key, kh);
    o.host_key_check = PGCM_HOSTKEY_ACCEPT_NEW;
    int since;
    pgcm__tunnel_t *t = tunnel_up(&o, pg[1], &since);
    PGconn *c = pq_connect(t);
    assert_through_sshd(c, d);
    PQfinish(c);
    tunnel_close(t);

    char line[2048], expect[1200];
    read_only_line(kh, line, sizeof line);
    snprintf(expect, sizeof expect, "[127.0.0.1]:%d %s", sshd_port(d),
             sshd_host_key(d));
    assert_int_equal(strncmp(line, expect, strlen(expect)), 0);
    struct stat st;
    assert_int_equal(stat(kh, &st), 0);
    assert_int_equal(st.st_mode & 077, 0);

    /* The bastion gets a new key. */
    if (sshd_new_host_key(d, err, sizeof err) < 0 ||
        sshd_restart(d, err, sizeof err) < 0)
        fail_msg("%s", err);
    for (int mode = 0; mode < 2; mode++) {
        o.host_key_check = mode ? PGCM_HOSTKEY_STRICT : PGCM_HOSTKEY_ACCEPT_NEW;
        t = tunnel_open(&o, "127.0.0.1", localpg_port(pg[1]));
        tunnelloop_event_t r = wait_down(t, &since, PGCM_EAUTH);
        assert_mentions(r.msg, "CHANGED");
        assert_mentions(r.msg, sshd_host_fingerprint(d));
        assert_mentions(r.msg, "ssh-keygen -R");
        tunnel_close(t);
    }
    read_only_line(kh, line, sizeof line); /* still one line */
    harness_stop();
    sshd_stop(d);
}

/* Authentication errors, each with its own message. */
static void test_wrong_key_user_and_file(void **state)
{
    (void)state;
    char other[512];
    make_key("id_other", NULL, 0, other, sizeof other);
    pgcm_ssh_options_t o = ssh_options(sshd, 0);
    o.key_path = other;
    pgcm__tunnel_t *t;
    int since;
    tunnelloop_event_t r = tunnel_refused(&o, pg[0], PGCM_EAUTH, &t, &since);
    assert_mentions(r.msg, "refused the key");
    assert_mentions(r.msg, other);
    assert_mentions(r.msg, "user 'root'");
    assert_mentions(r.msg, "authorized_keys");

    pgcm_ssh_options_t u = ssh_options(sshd, 0);
    u.user = "nosuchuser";
    r = tunnel_refused(&u, pg[0], PGCM_EAUTH, NULL, NULL);
    assert_mentions(r.msg, "user 'nosuchuser'");

    pgcm_ssh_options_t m = ssh_options(sshd, 0);
    char missing[700];
    snprintf(missing, sizeof missing, "%s/no_such_key", sshd_dir(sshd));
    m.key_path = missing;
    r = tunnel_refused(&m, pg[0], PGCM_EAUTH, NULL, NULL);
    assert_mentions(r.msg, "cannot read the private key");
    assert_mentions(r.msg, missing);
    assert_mentions(r.msg, "No such file");

    /* Reconnect retries a configuration error (the owner's slow pace). */
    int logins = sshd_log_count(sshd, "Connection from");
    tunnel_reconnect(t);
    r = wait_down(t, &since, PGCM_EAUTH);
    assert_mentions(r.msg, "refused the key");
    assert_int_equal(sshd_log_count(sshd, "Connection from"), logins + 1);
}

/* Nothing listens on the bastion's port. */
static void test_unreachable_bastion(void **state)
{
    (void)state;
    int port = sshd_free_port();
    pgcm_ssh_options_t o = ssh_options(sshd, port);
    pgcm__tunnel_t *t;
    int since;
    int64_t t0 = fixture_now_ms();
    tunnelloop_event_t r = tunnel_refused(&o, pg[0], PGCM_ECONN, &t, &since);
    assert_true(r.at_ms - t0 < 2000);
    char hop[64];
    snprintf(hop, sizeof hop, "bastion 127.0.0.1:%d", port);
    assert_mentions(r.msg, hop);
    assert_mentions(r.msg, "Connection refused");
    pgcm_error_t chk;
    assert_int_equal(check(t, &chk), PGCM_ECONN);
    /* Not a configuration error: a connection arriving retries at once. */
    assert_tunnel_refuses(t, "ssh: cannot connect to bastion");
    wait_down(t, &since, PGCM_ECONN);
}

/* The bastion refuses a channel: that connection is closed, the owner is
 * told why, and the session carries on for the others. */
static void test_channel_refused(void **state)
{
    (void)state;
    pgcm_ssh_options_t o = ssh_options(sshd, 0);
    int dead_port = sshd_free_port();
    pgcm__tunnel_t *bad = tunnel_open(&o, "127.0.0.1", dead_port);
    pgcm__tunnel_t *good = tunnel_open(&o, "127.0.0.1", localpg_port(pg[2]));
    int sb = 0, sg = 0;
    wait_up(bad, &sb);
    wait_up(good, &sg);
    assert_tunnel_refuses(bad, "could not open a channel to 127.0.0.1:");
    tunnelloop_event_t r =
        wait_event(bad, PGCM__TUNNEL_CHANNEL_REFUSED, &sb, 5000);
    assert_int_equal(r.code, PGCM_ECONN);
    char want[200];
    snprintf(want, sizeof want,
             "ssh: the bastion 127.0.0.1:%d could not open a channel to "
             "127.0.0.1:%d: ",
             sshd_port(sshd), dead_port);
    assert_mentions(r.msg, want);
    assert_mentions(r.msg, "connect failed");
    assert_true(tunnelloop_is_up(TL, bad));
    assert_tunnel_answers(good, "SELECT 3", "3");
    assert_int_equal(tunnelloop_event_count(TL, bad, PGCM__TUNNEL_DOWN), 0);
    harness_stop();

    /* Forwarding forbidden by the bastion's configuration. */
    const char *const conf[] = {"PermitOpen 127.0.0.1:9", NULL};
    char key[512], kh[700];
    sshd_t *d = bastion_start(conf, key, sizeof key, kh, sizeof kh);
    harness_start();
    pgcm_ssh_options_t p = own_bastion_options(d, key, kh);
    int st;
    pgcm__tunnel_t *t = tunnel_up(&p, pg[0], &st);
    assert_tunnel_refuses(t, "administratively prohibited");
    r = wait_event(t, PGCM__TUNNEL_CHANNEL_REFUSED, &st, 5000);
    assert_mentions(r.msg, "administratively prohibited");
    assert_mentions(r.msg, "PermitOpen");
    harness_stop();
    sshd_stop(d);
}

/* Wait until libpq's connection c is found broken (its socket reports the
 * end); returns the milliseconds it took or fails after timeout_ms. */
static int64_t wait_broken(PGconn *c, int timeout_ms)
{
    int64_t t0 = fixture_now_ms();
    for (;;) {
        struct pollfd p = {PQsocket(c), POLLIN, 0};
        if (poll(&p, 1, 20) > 0) {
            if (!PQconsumeInput(c))
                return fixture_now_ms() - t0;
            PGresult *r;
            while (!PQisBusy(c) && (r = PQgetResult(c)) != NULL) {
                ExecStatusType st = PQresultStatus(r);
                PQclear(r);
                if (st == PGRES_FATAL_ERROR)
                    return fixture_now_ms() - t0;
            }
            if (PQstatus(c) == CONNECTION_BAD)
                return fixture_now_ms() - t0;
        }
        if (fixture_now_ms() - t0 > timeout_ms)
            fail_msg("libpq's connection still alive after %d ms", timeout_ms);
    }
}

/* A bastion that freezes, dies, comes back. */
static void test_bastion_frozen_killed_restarted(void **state)
{
    (void)state;
    char err[1024], key[512], kh[700];
    sshd_t *d = bastion_start(NULL, key, sizeof key, kh, sizeof kh);
    pgcm_ssh_options_t o = own_bastion_options(d, key, kh);
    int since;
    pgcm__tunnel_t *t = tunnel_up(&o, pg[1], &since);
    PGconn *c = pq_connect(t);
    assert_string_equal(pq_value(c, "SELECT 1"), "1");

    /* Frozen: nothing answers, TCP stays up. */
    sshd_freeze(d);
    tunnelloop_event_t r = wait_down_within_2s(
        t, &since, PGCM_ETIMEDOUT, fixture_now_ms(), "bastion frozen");
    assert_mentions(r.msg, "stopped answering");
    wait_broken(c, 2000);
    PQfinish(c);
    sshd_thaw(d);
    tunnel_reconnect(t);
    wait_up(t, &since);
    c = pq_connect(t);
    assert_string_equal(pq_value(c, "SELECT 2"), "2");

    /* Killed: the connection ends at once. */
    PQsendQuery(c, "SELECT pg_sleep(30)");
    int64_t t0 = fixture_now_ms();
    sshd_kill(d);
    r = wait_down_within_2s(t, &since, PGCM_ECONN, t0, "bastion killed");
    assert_mentions(r.msg, "lost the session to bastion");
    wait_broken(c, 2000);
    PQfinish(c);
    /* While it is down, a reconnect fails clearly (refused)... */
    tunnel_reconnect(t);
    r = wait_down(t, &since, PGCM_ECONN);
    assert_mentions(r.msg, "Connection refused");
    /* ...and once it is back, a connection arriving rebuilds the session
     * on demand, with no call from the owner. */
    if (sshd_restart(d, err, sizeof err) < 0)
        fail_msg("%s", err);
    c = pq_connect(t);
    assert_string_equal(pq_value(c, "SELECT 3"), "3");
    assert_through_sshd(c, d);
    PQfinish(c);
    wait_up(t, &since);
    harness_stop();
    sshd_stop(d);
}

/* The SSH connection blackholed (a cut cable): down within 2 s, then up
 * again once the network heals and the owner reconnects. */
static void test_blackholed_bastion(void **state)
{
    (void)state;
    proxied_t via;
    proxied_tunnel(&via, "known_hosts_proxy", pg[2]);
    pgcm__tunnel_t *t = via.t;
    PGconn *c = pq_connect(t);
    assert_string_equal(pq_value(c, "SELECT 1"), "1");
    fixture_sleep_ms(300);

    faultproxy_blackhole(via.proxy);
    tunnelloop_event_t r = wait_down_within_2s(
        t, &via.since, PGCM_ETIMEDOUT, fixture_now_ms(), "bastion cut off");
    char hop[64];
    snprintf(hop, sizeof hop, "bastion 127.0.0.1:%d", via.port);
    assert_mentions(r.msg, hop);
    pgcm_error_t chk;
    assert_int_equal(check(t, &chk), PGCM_ETIMEDOUT);
    wait_broken(c, 2000);
    PQfinish(c);

    faultproxy_pass(via.proxy);
    tunnel_reconnect(t);
    wait_up(t, &via.since);
    c = pq_connect(t);
    assert_string_equal(pq_value(c, "SELECT 2"), "2");

    /* Cut in the middle of a 32 MB upload: the socket stops taking bytes
     * (a packet half sent, no ping can go out), still down within 2 s. */
    char *big = big_text(32 * 1024 * 1024, 'z');
    const char *params[1] = {big};
    assert_int_equal(PQsetnonblocking(c, 1), 0);
    assert_int_equal(PQsendQueryParams(c, "SELECT length($1::text)", 1, NULL,
                                       params, NULL, NULL, 0),
                     1);
    faultproxy_blackhole(via.proxy);
    int64_t t0 = fixture_now_ms();
    while (PQflush(c) == 1 && fixture_now_ms() - t0 < 3000) {
        struct pollfd p = {PQsocket(c), POLLOUT, 0};
        poll(&p, 1, 20);
        if (tunnelloop_event_count(TL, t, PGCM__TUNNEL_DOWN) >= 2)
            break;
    }
    wait_down_within_2s(t, &via.since, PGCM_ETIMEDOUT, t0,
                        "bastion cut off during an upload");
    free(big);
    PQfinish(c);
    faultproxy_pass(via.proxy);
    harness_stop();
    faultproxy_stop(via.proxy);
}

/* pgcm__tunnel_check on an up session sends a ping at once, so even an
 * idle session is found dead within the reply timeout. */
static void test_check_pings(void **state)
{
    (void)state;
    proxied_t via;
    proxied_tunnel(&via, "known_hosts_proxy2", pg[2]);
    pgcm__tunnel_t *t = via.t;
    pgcm_error_t chk;
    assert_int_equal(check(t, &chk), PGCM_OK);
    faultproxy_blackhole(via.proxy);
    assert_int_equal(check(t, &chk), PGCM_OK); /* not known yet */
    wait_down_within_2s(t, &via.since, PGCM_ETIMEDOUT, fixture_now_ms(),
                        "checked, then cut");
    harness_stop();
    faultproxy_stop(via.proxy);
}

/* A connection through a new tunnel (in *t) of the shared sshd to pg[0],
 * its SELECT pg_sleep(30) running on the server. */
static PGconn *sleeping_query(pgcm__tunnel_t **t)
{
    pgcm_ssh_options_t o = ssh_options(sshd, 0);
    int since;
    *t = tunnel_up(&o, pg[0], &since);
    PGconn *c = pq_connect(*t);
    assert_int_equal(PQsendQuery(c, "SELECT pg_sleep(30)"), 1);
    fixture_wait_active(pg[0], "SELECT pg_sleep%", 1, 5000);
    return c;
}

/* Closing a tunnel while its channel carries a query: libpq's connection
 * ends at once and the server's backend goes away. */
static void test_close_during_query(void **state)
{
    (void)state;
    pgcm__tunnel_t *t;
    PGconn *c = sleeping_query(&t);
    tunnel_close(t);
    int64_t ms = wait_broken(c, 2000);
    print_message("tunnel closed under a query: libpq saw it after %lld ms\n",
                  (long long)ms);
    PQfinish(c);
    fixture_assert_no_connections(pg, NPG, NULL);
}

/* Closing the registry in the middle of everything: a query running
 * through one tunnel, a session stuck in its key exchange (a blackholed
 * bastion) and a connection waiting for it. Nothing hangs, nothing stays. */
static void test_registry_close_midway(void **state)
{
    (void)state;
    faultproxy_t *proxy = NULL;
    char kh[700];
    int pport =
        bastion_proxy(sshd, &proxy, "known_hosts_proxy3", kh, sizeof kh);
    faultproxy_blackhole(proxy);
    pgcm_ssh_options_t stuck = ssh_options(sshd, pport);
    stuck.known_hosts = kh;
    pgcm__tunnel_t *ts = tunnel_open(&stuck, "127.0.0.1", localpg_port(pg[1]));
    pgcm__tunnel_t *t;
    PGconn *c = sleeping_query(&t);
    /* libpq connects to the stuck tunnel's listener and waits. */
    char ci[256];
    snprintf(ci, sizeof ci,
             "host=127.0.0.1 port=%d user=postgres dbname=postgres "
             "application_name=%s",
             local_port(ts), fixture_app_name());
    PGconn *w = PQconnectStart(ci);
    assert_non_null(w);
    for (int i = 0; i < 20 && PQconnectPoll(w) != PGRES_POLLING_FAILED; i++)
        fixture_sleep_ms(5);
    assert_int_equal(tunnelloop_sessions(TL), 2);
    int64_t t0 = fixture_now_ms();
    harness_stop();
    print_message("registry closed midway in %lld ms\n",
                  (long long)(fixture_now_ms() - t0));
    wait_broken(c, 2000);
    PQfinish(c);
    PQfinish(w);
    fixture_assert_no_connections(pg, NPG, NULL);
    faultproxy_stop(proxy);
}

/* A session closed while the thread pool decrypts its key to sign: the
 * job finishes on its own and frees the libssh2 session and the socket;
 * nothing is left (the teardown checks the loop's handles, sshd's sessions
 * and, under ASan, the memory). */
static void test_closed_while_authenticating(void **state)
{
    (void)state;
    char key[512], err[1024];
    /* 100 rounds: each decryption of the key takes a while */
    if (sshd_make_slow_key(sshd, "id_slow", "slow-Phrase-1", 100, 1, key,
                           sizeof key, err, sizeof err) < 0)
        fail_msg("%s", err);
    pgcm_ssh_options_t o = ssh_options(sshd, 0);
    o.key_path = key;
    o.passphrase = "slow-Phrase-1";
    int asked = sshd_log_count(sshd, "Postponed publickey");
    pgcm__tunnel_t *t = tunnel_open(&o, "127.0.0.1", localpg_port(pg[0]));
    /* sshd answered the key query: we now decrypt the key again to sign */
    int64_t deadline = fixture_now_ms() + 60000;
    while (sshd_log_count(sshd, "Postponed publickey") == asked) {
        if (fixture_now_ms() > deadline)
            fail_msg("sshd never saw the key");
        fixture_sleep_ms(2);
    }
    tunnel_close(t);
    assert_int_equal(tunnelloop_sessions(TL), 0);
    int64_t t0 = fixture_now_ms();
    harness_stop(); /* waits for the orphaned job */
    print_message("closed while signing: the registry closed after %lld ms\n",
                  (long long)(fixture_now_ms() - t0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_three_tunnels_one_session,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_tls_through_tunnel, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_passphrase_key, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_closed_while_authenticating,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_host_key, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_accept_new_and_changed_key,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_user_and_file,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_bastion, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_channel_refused, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_bastion_frozen_killed_restarted,
                                        test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_blackholed_bastion, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_check_pings, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_close_during_query, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_registry_close_midway, test_setup,
                                        test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
