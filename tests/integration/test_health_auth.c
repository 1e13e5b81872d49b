/* SPDX-License-Identifier: MIT */
/*
 * test_health_auth.c - libpgcm's node health (issue 3) when a live server
 * refuses us: a wrong password (scram) is reported as an authentication
 * error with the server's message and SQLSTATE, never with the password,
 * and retried at the slowest pace (the server log shows no storm of
 * attempts), while the right password connects; a server at
 * max_connections gives a connection error (not an authentication one) with
 * the server's "too many clients", and the node recovers by itself once
 * connections free up. Default manager options; after each test the
 * servers show none of our connections.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "fixture.h"
#include "health_events.h"

#define RIGHT_PW    "Right-pw-7c1e9a"
#define WRONG_PW    "Wrong-pw-40d2b8"
#define MAXCONN     5
#define TCP_ATTEMPT "connection received: host=127.0.0.1"

static localpg_server_t *pwpg;   /* password (scram) required on TCP */
static localpg_server_t *fullpg; /* max_connections 5, none reserved */

static hrec_t rec = {.lock = PTHREAD_MUTEX_INITIALIZER};
static PGconn *fillers[4 * MAXCONN];
static int nfillers;

static int group_setup(void **state)
{
    (void)state;
    localpg_options_t o;
    localpg_options_init(&o);
    o.name = "pw";
    o.password = RIGHT_PW;
    pwpg = fixture_start(1, &o)[0];
    static const char *const full_conf[] = {
        "superuser_reserved_connections = 0", NULL};
    localpg_options_init(&o);
    o.name = "full";
    o.max_connections = MAXCONN;
    o.conf_lines = full_conf;
    fullpg = fixture_start(1, &o)[0];
    return 0;
}

static int test_setup(void **state)
{
    (void)state;
    hrec_reset(&rec);
    return 0;
}

static void close_fillers(void)
{
    for (int i = 0; i < nfillers; i++)
        PQfinish(fillers[i]);
    nfillers = 0;
}

static int test_teardown(void **state)
{
    (void)state;
    fixture_manager_free_all();
    close_fillers();
    localpg_server_t *all[] = {pwpg, fullpg};
    fixture_assert_no_connections(all, 2, NULL);
    return 0;
}

static pgcm_manager_t *new_manager(void)
{
    pgcm_manager_t *mgr = fixture_manager_new(NULL);
    uint64_t sub;
    assert_int_equal(pgcm_subscribe(mgr, hrec_on_event, &rec, &sub), PGCM_OK);
    return mgr;
}

/* Start one node that the server refuses: the call returns quickly and
 * the node is unhealthy, straight from connecting (it never connected, so
 * no node_disconnected), with threshold_reached carrying `code`. */
static void start_refused(pgcm_manager_t *mgr, const pgcm_node_spec_t *spec,
                          int code, pgcm_health_t *h)
{
    pgcm_error_t err;
    int64_t t0 = fixture_now_ms();
    int rc = pgcm_manager_start(mgr, spec, 1, 5000, &err);
    int64_t took = fixture_now_ms() - t0;
    HREC_CHECK(&rec, 0, rc == PGCM_OK, "pgcm_manager_start: %s (%s)",
               pgcm_err_name(rc), err.message);
    print_message("%s: pgcm_manager_start returned after %lld ms\n", spec->id,
                  (long long)took);
    HREC_CHECK(&rec, 0, took < 2000, "pgcm_manager_start took %lld ms",
               (long long)took);
    assert_int_equal(pgcm_node_health(mgr, spec->id, h), PGCM_OK);
    HREC_CHECK(&rec, 0, h->state == PGCM_NODE_UNHEALTHY,
               "%s is %s, expected unhealthy", spec->id,
               pgcm_node_state_name(h->state));
    long down = hrec_wait(&rec, 0, PGCM_EV_HEALTH_CHANGED, spec->id,
                          PGCM_NODE_UNHEALTHY, 1000);
    HREC_CHECK(&rec, 0, down >= 0, "no health_changed to unhealthy");
    hev_t e = hrec_get(&rec, (size_t)down);
    HREC_CHECK(&rec, 0, e.old_state == PGCM_NODE_CONNECTING,
               "expected connecting -> unhealthy");
    HREC_CHECK(&rec, 0, e.error_code == code,
               "health_changed carries %s, expected %s",
               pgcm_err_name(e.error_code), pgcm_err_name(code));
    long thr =
        hrec_wait(&rec, 0, PGCM_EV_THRESHOLD_REACHED, spec->id, -1, 1000);
    HREC_CHECK(&rec, 0, thr > down, "no threshold_reached");
    e = hrec_get(&rec, (size_t)thr);
    HREC_CHECK(&rec, 0, e.error_code == code,
               "threshold_reached carries %s, expected %s",
               pgcm_err_name(e.error_code), pgcm_err_name(code));
    HREC_CHECK(&rec, 0,
               hrec_count(&rec, 0, PGCM_EV_NODE_DISCONNECTED, spec->id) == 0,
               "node_disconnected for a node that never connected");
}

/* ---- wrong password ------------------------------------------------------ */

static void test_wrong_password(void **state)
{
    (void)state;
    pgcm_node_spec_t bad;
    fixture_node_spec(pwpg, "locked", &bad);
    bad.password = WRONG_PW;
    pgcm_manager_t *mgr = new_manager();
    hrec_set_secret(&rec, 0, WRONG_PW);
    hrec_set_secret(&rec, 1, RIGHT_PW);
    int log_before = fixture_log_count(pwpg, TCP_ATTEMPT);
    assert_true(log_before >= 0);

    pgcm_health_t h;
    start_refused(mgr, &bad, PGCM_EAUTH, &h);
    int64_t started = hwall_ms();
    HREC_CHECK(&rec, 0, h.last_error_code == PGCM_EAUTH,
               "last_error_code %s, expected EAUTH (%s)",
               pgcm_err_name(h.last_error_code), h.last_error);
    HREC_CHECK(&rec, 0,
               strstr(h.last_error, "password authentication failed") != NULL,
               "last_error lacks the server's message: %s", h.last_error);
    assert_string_equal(h.last_sqlstate, "28P01");
    assert_null(strstr(h.last_error, WRONG_PW));
    long thr = hrec_find(&rec, 0, PGCM_EV_THRESHOLD_REACHED, "locked", -1);
    assert_non_null(strstr(hrec_get(&rec, (size_t)thr).message,
                           "password authentication failed"));
    /* A configuration error is retried only at the slowest pace (30 s). */
    int64_t wait_ms = h.next_retry_ms - started;
    print_message("wrong password: next attempt in %lld ms\n",
                  (long long)wait_ms);
    HREC_CHECK(&rec, 0, wait_ms >= 20000,
               "next attempt after a wrong password in %lld ms; expected "
               "the slowest pace (backoff_max_ms, 30 s)",
               (long long)wait_ms);

    /* Work on it fails at once, with the reason and without the secret. */
    pgcm_result_t *r = NULL;
    pgcm_error_t err;
    assert_int_equal(
        pgcm_query(mgr, "locked", "SELECT 1", 0, NULL, NULL, &r, &err),
        PGCM_EUNAVAIL);
    pgcm_result_free(r);
    assert_non_null(strstr(err.message, "locked"));
    assert_null(strstr(err.message, WRONG_PW));

    /* No storm: over 5 s the server sees one attempt, at most a few. */
    fixture_sleep_ms(5000);
    int attempts = fixture_log_count(pwpg, TCP_ATTEMPT) - log_before;
    int retries = hrec_count(&rec, 0, PGCM_EV_HEALTH_CHANGED, "locked") - 1;
    print_message("wrong password: %d connection attempts in the server log "
                  "over ~5 s, %d state changes after the first\n",
                  attempts, retries);
    HREC_CHECK(&rec, 0, attempts >= 1 && attempts <= 3,
               "%d connection attempts in the server log over 5 s; expected "
               "1 to 3 (retried at the slowest pace)",
               attempts);
    assert_int_equal(pgcm_node_health(mgr, "locked", &h), PGCM_OK);
    assert_int_equal(h.state, PGCM_NODE_UNHEALTHY);
    assert_int_equal(h.last_error_code, PGCM_EAUTH);

    /* The right password connects. */
    pgcm_node_spec_t good;
    fixture_node_spec(pwpg, "unlocked", &good);
    assert_string_equal(good.password, RIGHT_PW);
    size_t mark = hrec_mark(&rec);
    assert_int_equal(pgcm_node_add(mgr, &good, &err), PGCM_OK);
    long up = hrec_wait(&rec, mark, PGCM_EV_HEALTH_CHANGED, "unlocked",
                        PGCM_NODE_HEALTHY, 3000);
    HREC_CHECK(&rec, mark, up >= 0, "the right password did not connect");
    HREC_CHECK(&rec, mark,
               hrec_wait(&rec, (size_t)up, PGCM_EV_NODE_CONNECTED, "unlocked",
                         -1, 1000) > up,
               "no node_connected");
    assert_int_equal(
        pgcm_query(mgr, "unlocked", "SELECT 1", 0, NULL, NULL, &r, &err),
        PGCM_OK);
    pgcm_result_free(r);
    assert_int_equal(pgcm_node_health(mgr, "locked", &h), PGCM_OK);
    assert_int_equal(h.state, PGCM_NODE_UNHEALTHY);
    fixture_manager_free(mgr);
    HREC_CHECK(&rec, 0, !rec.secret_seen, "a password appeared in %s",
               rec.secret_where);
}

/* Server times (ms of the day) of the TCP connection attempts in s's log,
 * skipping the first `skip`; returns how many (at most max). The log lines
 * start with PostgreSQL's default prefix, "YYYY-MM-DD HH:MM:SS.mmm TZ". */
static int log_attempt_times(const localpg_server_t *s, int skip,
                             int64_t *times, int max)
{
    FILE *f = fopen(localpg_logfile(s), "r");
    if (f == NULL)
        fail_msg("cannot read %s", localpg_logfile(s));
    char line[1024];
    int seen = 0, n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        if (strstr(line, TCP_ATTEMPT) == NULL)
            continue;
        if (seen++ < skip)
            continue;
        int hh, mm, ss, ms;
        if (sscanf(line, "%*d-%*d-%*d %d:%d:%d.%d", &hh, &mm, &ss, &ms) != 4)
            fail_msg("unexpected log line: %s", line);
        times[n++] = ((int64_t)hh * 3600 + mm * 60 + ss) * 1000 + ms;
    }
    fclose(f);
    return n;
}

/* The pace of those retries is the backoff's cap: with backoff_max_ms at
 * 1 s, the server log shows one attempt a second, evenly spaced. */
static void test_wrong_password_retried_at_backoff_max(void **state)
{
    (void)state;
    pgcm_node_spec_t bad;
    fixture_node_spec(pwpg, "locked", &bad);
    bad.password = WRONG_PW;
    pgcm_options_t o;
    pgcm_options_init(&o);
    o.backoff_initial_ms = 100;
    o.backoff_max_ms = 1000;
    pgcm_manager_t *mgr = fixture_manager_new(&o);
    pgcm_error_t err;
    uint64_t sub;
    assert_int_equal(pgcm_subscribe(mgr, hrec_on_event, &rec, &sub), PGCM_OK);
    hrec_set_secret(&rec, 0, WRONG_PW);
    int log_before = fixture_log_count(pwpg, TCP_ATTEMPT);
    assert_true(log_before >= 0);
    assert_int_equal(pgcm_manager_start(mgr, &bad, 1, 5000, &err), PGCM_OK);
    fixture_sleep_ms(3600);
    fixture_manager_free(mgr);

    int64_t at[32];
    int n = log_attempt_times(pwpg, log_before, at, 32);
    int64_t retries[32];
    int r = hrec_retry_times(&rec, 0, "locked", retries, 32);
    print_message("wrong password, backoff_max 1 s: %d attempts in the "
                  "server log over 3.6 s, gaps:",
                  n);
    for (int i = 1; i < n; i++)
        print_message(" %lld", (long long)(at[i] - at[i - 1]));
    print_message(" ms; %d reconnect attempts reported\n", r);
    /* Spaced by the cap, never faster: how long an attempt itself takes
     * (scram on a loaded host) only stretches the gaps. */
    HREC_CHECK(&rec, 0, n >= 2 && n <= 5,
               "%d attempts over 3.6 s at a 1 s pace; expected 2 to 5", n);
    for (int i = 1; i < n; i++)
        HREC_CHECK(&rec, 0, at[i] - at[i - 1] >= 850,
                   "attempts %d and %d %lld ms apart in the server log; "
                   "expected at least 1000",
                   i - 1, i, (long long)(at[i] - at[i - 1]));
    /* Each attempt is reported (unhealthy -> reconnecting -> unhealthy),
     * and begins backoff_max_ms after the previous one failed. */
    HREC_CHECK(&rec, 0, r >= n - 1 && r <= n,
               "%d reconnect attempts reported, %d retries in the log", r,
               n - 1);
    size_t end = hrec_mark(&rec);
    int64_t failed_at = 0;
    for (size_t i = 0; i < end; i++) {
        hev_t e = hrec_get(&rec, i);
        if (e.type != PGCM_EV_HEALTH_CHANGED)
            continue;
        if (e.new_state == PGCM_NODE_UNHEALTHY) {
            HREC_CHECK(&rec, 0, e.error_code == PGCM_EAUTH,
                       "attempt failed with %s, expected EAUTH",
                       pgcm_err_name(e.error_code));
            failed_at = e.time_ms;
        } else if (e.new_state == PGCM_NODE_RECONNECTING) {
            int64_t gap = e.time_ms - failed_at;
            HREC_CHECK(&rec, 0, gap >= 950 && gap <= 1500,
                       "reconnect attempt [%zu] %lld ms after the previous "
                       "failure; expected backoff_max_ms, 1000",
                       i, (long long)gap);
        }
    }
    HREC_CHECK(&rec, 0, !rec.secret_seen, "a password appeared in %s",
               rec.secret_where);
}

/* ---- max_connections ----------------------------------------------------- */

/* Open libpq connections until the server refuses; returns its message. */
static void fill_server(char *why, size_t whylen)
{
    char info[512];
    snprintf(info, sizeof info,
             "%s application_name=health_filler connect_timeout=10",
             localpg_conninfo(fullpg));
    why[0] = '\0';
    while (nfillers < (int)(sizeof fillers / sizeof *fillers)) {
        PGconn *c = PQconnectdb(info);
        if (PQstatus(c) != CONNECTION_OK) {
            snprintf(why, whylen, "%s", PQerrorMessage(c));
            PQfinish(c);
            return;
        }
        fillers[nfillers++] = c;
    }
}

static void test_server_at_max_connections(void **state)
{
    (void)state;
    char why[512];
    fill_server(why, sizeof why);
    print_message("max_connections: the test holds %d connections; the next "
                  "got: %s",
                  nfillers, why);
    assert_int_equal(nfillers, MAXCONN);
    assert_non_null(strstr(why, "too many clients"));

    pgcm_node_spec_t s;
    fixture_node_spec(fullpg, "full", &s);
    pgcm_manager_t *mgr = new_manager();
    pgcm_health_t h;
    start_refused(mgr, &s, PGCM_ECONN, &h);
    int64_t started = hwall_ms();
    HREC_CHECK(&rec, 0, h.last_error_code == PGCM_ECONN,
               "last_error_code %s, expected ECONN (%s)",
               pgcm_err_name(h.last_error_code), h.last_error);
    HREC_CHECK(&rec, 0, strstr(h.last_error, "too many clients") != NULL,
               "last_error lacks the server's message: %s", h.last_error);
    assert_string_equal(h.last_sqlstate, "53300");
    /* A full server is transient: the normal backoff, 1 s first. */
    int64_t wait_ms = h.next_retry_ms - started;
    HREC_CHECK(&rec, 0, wait_ms <= 1500,
               "next attempt at a full server in %lld ms; expected the "
               "first backoff step (1 s +- 20%%)",
               (long long)wait_ms);

    /* Still refused while full: the node stays unhealthy. */
    fixture_sleep_ms(1500);
    assert_int_equal(pgcm_node_health(mgr, "full", &h), PGCM_OK);
    HREC_CHECK(
        &rec, 0,
        h.state == PGCM_NODE_UNHEALTHY || h.state == PGCM_NODE_RECONNECTING,
        "full is %s while the server is full", pgcm_node_state_name(h.state));

    size_t mark = hrec_mark(&rec);
    int64_t freed = hwall_ms();
    close_fillers();
    int64_t up_at = hrec_expect_up(&rec, mark, "full", 10000);
    print_message("max_connections: healthy %lld ms after the test closed its "
                  "connections\n",
                  (long long)(up_at - freed));
    pgcm_result_t *r = NULL;
    pgcm_error_t err;
    assert_int_equal(
        pgcm_query(mgr, "full", "SELECT 1", 0, NULL, NULL, &r, &err), PGCM_OK);
    pgcm_result_free(r);
    fixture_manager_free(mgr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wrong_password, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(
            test_wrong_password_retried_at_backoff_max, test_setup,
            test_teardown),
        cmocka_unit_test_setup_teardown(test_server_at_max_connections,
                                        test_setup, test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, fixture_group_teardown);
}
