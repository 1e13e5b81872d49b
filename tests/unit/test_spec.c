/* SPDX-License-Identifier: MIT */
/*
 * test_spec.c - unit tests for node specs and manager options
 * (src/pgcm/spec.c) and the allocator hooks (src/pgcm/alloc.c):
 * pgcm_node_spec_init/pgcm_options_init defaults, pgcm__spec_validate and
 * pgcm__options_validate on every bad input, pgcm_node_spec_equal,
 * pgcm__spec_dup/free (deep copies, out-of-memory paths, secrets wiped),
 * pgcm__conninfo_build (base conninfo or URI overridden by fields,
 * application_name, hostaddr, keepalives, sslmode mapping, certificates,
 * connect_timeout rounding), pgcm__conninfo_host_to_resolve, and that a
 * password never shows in an error message.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"

#define SECRET "s3cr3t-pw"

/* ---- test allocator ------------------------------------------------------ */

/* Counts live blocks, fails on demand, and notices secrets freed without
 * being wiped. */

typedef struct block_hdr {
    size_t size;
    size_t pad;
} block_hdr_t;

static long live_blocks;
static long budget = -1;     /* allocations left before failing; -1: no limit */
static long unwiped_secrets; /* blocks freed still holding SECRET */
static long total_allocations; /* since install */

static void *t_malloc(size_t n)
{
    if (budget == 0)
        return NULL;
    if (budget > 0)
        budget--;
    block_hdr_t *h = malloc(sizeof(*h) + n);
    if (h == NULL)
        return NULL;
    h->size = n;
    live_blocks++;
    total_allocations++;
    return h + 1;
}

static void t_free(void *p)
{
    if (p == NULL)
        return;
    block_hdr_t *h = (block_hdr_t *)p - 1;
    if (memmem(p, h->size, SECRET, strlen(SECRET)) != NULL)
        unwiped_secrets++;
    live_blocks--;
    free(h);
}

static void *t_realloc(void *p, size_t n)
{
    if (p == NULL)
        return t_malloc(n);
    block_hdr_t *old = (block_hdr_t *)p - 1;
    void *q = t_malloc(n);
    if (q == NULL)
        return NULL;
    memcpy(q, p, old->size < n ? old->size : n);
    t_free(p);
    return q;
}

static int install_allocator(void **state)
{
    (void)state;
    live_blocks = 0;
    budget = -1;
    unwiped_secrets = 0;
    total_allocations = 0;
    return pgcm_set_allocator(t_malloc, t_realloc, t_free) == PGCM_OK ? 0 : -1;
}

static int restore_allocator(void **state)
{
    (void)state;
    budget = -1;
    int rc = pgcm_set_allocator(NULL, NULL, NULL);
    if (live_blocks != 0) {
        fprintf(stderr, "%ld pgcm block(s) still live\n", live_blocks);
        return -1;
    }
    return rc == PGCM_OK ? 0 : -1;
}

#define ALLOC_TEST(f)                                                          \
    cmocka_unit_test_setup_teardown(f, install_allocator, restore_allocator)

/* Report a bad case and go on, so that one run lists every bad case;
 * the test fails at its end when `bad` is not 0. */
#define REPORT(...)                                                            \
    do {                                                                       \
        print_error(__VA_ARGS__);                                              \
        print_error("\n");                                                     \
        bad++;                                                                 \
    } while (0)

/* Run body in a child process, so that a sanitizer abort (undefined
 * behaviour) fails this one test instead of ending the whole binary. */
static void expect_child_ok(int (*body)(void), const char *what)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(body());
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("%s: child %s %d", what,
                 WIFEXITED(status) ? "exited with" : "killed by signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

/* ---- helpers ------------------------------------------------------------- */

static pgcm_node_spec_t spec_n1(void)
{
    pgcm_node_spec_t s;
    pgcm_node_spec_init(&s);
    s.id = "n1";
    return s;
}

static const char *param(const conninfo_params_t *p, const char *key)
{
    for (int i = 0; i < p->count; i++) {
        if (strcmp(p->keys[i], key) == 0)
            return p->values[i];
    }
    return NULL;
}

/* The arrays PQconnectStartParams reads: NULL-terminated, every key once,
 * every value set. */
static void assert_wellformed(const conninfo_params_t *p)
{
    assert_in_range(p->count, 0, CONNINFO_MAX_PARAMS);
    assert_null(p->keys[p->count]);
    assert_null(p->values[p->count]);
    for (int i = 0; i < p->count; i++) {
        assert_non_null(p->keys[i]);
        assert_non_null(p->values[i]);
        for (int j = i + 1; j < p->count; j++) {
            if (strcmp(p->keys[i], p->keys[j]) == 0)
                fail_msg("key %s appears twice", p->keys[i]);
        }
    }
}

static void build_ok(const pgcm_node_spec_t *s, const char *app,
                     const char *hostaddr, conninfo_params_t *out)
{
    pgcm_error_t err;
    memset(&err, 0, sizeof(err));
    int rc = pgcm__conninfo_build(s, app, hostaddr, out, &err);
    if (rc != PGCM_OK)
        fail_msg("pgcm__conninfo_build: %d %s", rc, err.message);
    assert_wellformed(out);
}

/* ---- defaults ------------------------------------------------------------ */

static void test_spec_init_defaults(void **state)
{
    (void)state;
    pgcm_node_spec_t s;
    memset(&s, 0xA5, sizeof(s)); /* init must not rely on zeroed memory */
    pgcm_node_spec_init(&s);
    assert_null(s.id);
    assert_null(s.conninfo);
    assert_null(s.host);
    assert_int_equal(s.port, 0);
    assert_null(s.database);
    assert_null(s.user);
    assert_null(s.password);
    assert_null(s.application_name);
    assert_int_equal(s.connect_timeout_ms, 0);
    assert_int_equal(s.ssl.enabled, PGCM_SSL_DEFAULT);
    assert_int_equal(s.ssl.reject_unauthorized, 1);
    assert_null(s.ssl.ca);
    assert_null(s.ssl.cert);
    assert_null(s.ssl.key);
    assert_null(s.ssh.host);
    assert_int_equal(s.ssh.port, 22);
    assert_null(s.ssh.user);
    assert_null(s.ssh.key_path);
    assert_null(s.ssh.known_hosts);
    assert_null(s.ssh.passphrase);
    assert_int_equal(s.pool.min, 1);
    assert_int_equal(s.pool.max, 10);
    assert_int_equal(s.pool.idle_timeout_ms, 10000);
    assert_int_equal(s.pool.acquire_timeout_ms, 10000);
    assert_int_equal(s.pool.max_lifetime_ms, 1800000);
    assert_int_equal(s.pool.leak_threshold_ms, 60000);

    /* the defaults plus an id form a valid spec */
    s.id = "n1";
    pgcm_error_t err;
    assert_int_equal(pgcm__spec_validate(&s, &err), PGCM_OK);
}

static void test_options_init_defaults(void **state)
{
    (void)state;
    pgcm_options_t o;
    memset(&o, 0x5A, sizeof(o));
    pgcm_options_init(&o);
    assert_int_equal(o.health_check_interval_ms, 5000);
    assert_int_equal(o.health_check_timeout_ms, 2000);
    assert_int_equal(o.liveness_interval_ms, 500);
    assert_int_equal(o.liveness_timeout_ms, 400);
    assert_int_equal(o.suspect_probe_timeout_ms, 300);
    assert_int_equal(o.unhealthy_threshold, 3);
    assert_int_equal(o.degraded_latency_ms, 1000);
    assert_int_equal(o.query_timeout_ms, 30000);
    assert_int_equal(o.connect_timeout_ms, 5000);
    assert_int_equal(o.shutdown_timeout_ms, 10000);
    assert_int_equal(o.remove_timeout_ms, 1000);
    assert_int_equal(o.cancel_grace_ms, 2000);
    assert_int_equal(o.backoff_initial_ms, 1000);
    assert_int_equal(o.backoff_max_ms, 30000);
    assert_int_equal(o.stats_interval_ms, 0);
    assert_string_equal(o.probe_query, "SELECT 1");
    assert_string_equal(o.application_name, "replmon");

    pgcm_error_t err;
    assert_int_equal(pgcm__options_validate(&o, &err), PGCM_OK);
}

/* ---- spec validation ----------------------------------------------------- */

static char long_id_64[65];
static char long_id_200[201];
static char id_63[64];

/* Bad input number i applied to a valid spec; returns the text the error
 * message must contain, or NULL past the last case. *id_ok tells whether
 * the id is valid (then err->node_id names it). */
static const char *bad_spec(int i, pgcm_node_spec_t *s, int *id_ok)
{
    memset(long_id_64, 'x', 64);
    memset(long_id_200, 'y', 200);
    *s = spec_n1();
    *id_ok = 0;
    switch (i) {
    case 0:
        s->id = NULL;
        return "NULL or empty";
    case 1:
        s->id = "";
        return "NULL or empty";
    case 2:
        s->id = long_id_64;
        return "longer than 63 bytes";
    case 3:
        s->id = long_id_200;
        return "longer than 63 bytes";
    case 4:
        s->id = "a\x01z";
        return "control character";
    case 5:
        s->id = "tab\there";
        return "control character";
    case 6:
        s->id = "line\nbreak";
        return "control character";
    case 7:
        s->id = "\x1f";
        return "control character";
    case 8:
        s->id = "esc\x1b[31m";
        return "control character";
    case 9:
        s->id = "cr\rhere";
        return "control character";
    }
    *id_ok = 1;
    switch (i) {
    case 10:
        s->port = -1;
        return "port -1 is out of range";
    case 11:
        s->port = 65536;
        return "port 65536 is out of range";
    case 12:
        s->port = INT_MIN;
        return "out of range";
    case 13:
        s->port = INT_MAX;
        return "out of range";
    case 14:
        s->connect_timeout_ms = -1;
        return "connect_timeout_ms -1 is negative";
    case 15:
        s->connect_timeout_ms = INT_MIN;
        return "is negative";
    case 16:
        s->pool.min = -1;
        return "pool min -1 is negative";
    case 17:
        s->pool.max = 0;
        s->pool.min = 0;
        return "pool max 0 must be at least 1";
    case 18:
        s->pool.max = -3;
        return "pool max -3";
    case 19:
        s->pool.min = 5;
        s->pool.max = 4;
        return "pool min 5 is larger than max 4";
    case 20:
        s->pool.idle_timeout_ms = 0;
        return "pool idle_timeout_ms 0 must be positive";
    case 21:
        s->pool.idle_timeout_ms = -1;
        return "pool idle_timeout_ms -1 must be positive";
    case 22:
        s->pool.acquire_timeout_ms = 0;
        return "pool acquire_timeout_ms 0 must be positive";
    case 23:
        s->pool.acquire_timeout_ms = -5;
        return "pool acquire_timeout_ms -5";
    case 24:
        s->pool.max_lifetime_ms = 0;
        return "pool max_lifetime_ms 0 must be positive";
    case 25:
        s->pool.max_lifetime_ms = INT_MIN;
        return "pool max_lifetime_ms";
    case 26:
        s->pool.leak_threshold_ms = 0;
        return "pool leak_threshold_ms 0 must be positive";
    case 27:
        s->pool.leak_threshold_ms = -1;
        return "pool leak_threshold_ms -1";
    case 28:
        s->ssl.enabled = 2;
        return "ssl.enabled must be -1";
    case 29:
        s->ssl.enabled = -2;
        return "ssl.enabled must be -1";
    /* conninfo: libpq's own reason is part of the message */
    case 30:
        s->conninfo = "host=db port";
        return "invalid conninfo: missing \"=\" after \"port\" in connection "
               "info string";
    case 31:
        s->conninfo = "host='db";
        return "invalid conninfo: unterminated quoted string";
    case 32:
        s->conninfo = "host=db bogus=1";
        return "invalid conninfo: invalid connection option \"bogus\"";
    case 33:
        s->conninfo = "postgresql://h/db?nosuch=1";
        return "invalid conninfo: invalid URI query parameter: \"nosuch\"";
    case 34:
        s->conninfo = "postgresql://[::1/db";
        return "invalid conninfo: end of string reached";
    case 35:
        s->conninfo = "postgresql://h/db?sslmode";
        return "invalid conninfo: missing key/value separator";
    }
    return NULL;
}

static void test_validate_rejects_bad_specs(void **state)
{
    (void)state;
    pgcm_node_spec_t s;
    int id_ok, n = 0;
    const char *want;
    for (int i = 0; (want = bad_spec(i, &s, &id_ok)) != NULL; i++, n++) {
        pgcm_error_t err;
        memset(&err, 0x7E, sizeof(err));
        int rc = pgcm__spec_validate(&s, &err);
        if (rc != PGCM_EINVAL)
            fail_msg("bad spec case %d (want \"%s\"): rc %d", i, want, rc);
        assert_int_equal(err.code, PGCM_EINVAL);
        assert_string_equal(err.sqlstate, "");
        assert_non_null(memchr(err.message, '\0', sizeof(err.message)));
        if (strstr(err.message, want) == NULL)
            fail_msg("bad spec case %d: message \"%s\" lacks \"%s\"", i,
                     err.message, want);
        /* one line for a person, with no libpq newline left over */
        assert_null(strchr(err.message, '\n'));
        if (id_ok) {
            assert_string_equal(err.node_id, "n1");
            assert_non_null(strstr(err.message, "node 'n1'"));
        } else {
            assert_string_equal(err.node_id, "");
        }
        /* err is optional */
        assert_int_equal(pgcm__spec_validate(&s, NULL), PGCM_EINVAL);
    }
    assert_int_equal(n, 36);
}

/* DEL (0x7f) is a control character too (iscntrl), and as unwelcome in
 * an id that ends up in logs and metrics labels as the C0 ones. */
static void test_validate_rejects_del_in_id(void **state)
{
    (void)state;
    pgcm_node_spec_t s = spec_n1();
    s.id = "del\x7fhere";
    pgcm_error_t err;
    memset(&err, 0, sizeof(err));
    assert_int_equal(pgcm__spec_validate(&s, &err), PGCM_EINVAL);
    assert_non_null(strstr(err.message, "control character"));
}

static void test_validate_null_spec(void **state)
{
    (void)state;
    pgcm_error_t err;
    assert_int_equal(pgcm__spec_validate(NULL, &err), PGCM_EINVAL);
    assert_int_equal(err.code, PGCM_EINVAL);
    assert_non_null(strstr(err.message, "NULL"));
    assert_int_equal(pgcm__spec_validate(NULL, NULL), PGCM_EINVAL);
}

static void test_validate_long_id_message(void **state)
{
    (void)state;
    char id[301];
    for (int i = 0; i < 300; i++)
        id[i] = (char)('a' + i % 26);
    id[300] = '\0';
    pgcm_node_spec_t s = spec_n1();
    s.id = id;
    pgcm_error_t err;
    assert_int_equal(pgcm__spec_validate(&s, &err), PGCM_EINVAL);
    /* the message quotes the start of the id, not all of it */
    assert_non_null(
        strstr(err.message, "'abcdefghijklmnopqrstuvwxyzabcdefghijklmn..."));
    assert_null(strstr(err.message, id));
    assert_true(strlen(err.message) < 200);
}

static void test_validate_accepts_boundaries(void **state)
{
    (void)state;
    memset(id_63, 'z', 63);
    id_63[63] = '\0';
    pgcm_error_t err;
    int bad = 0;
    for (int i = 0;; i++) {
        pgcm_node_spec_t s = spec_n1();
        switch (i) {
        case 0:
            s.id = id_63;
            break;
        case 1:
            s.id = "n\xc3\xb6"
                   "de-\xe2\x9c\x93"; /* UTF-8 is not control */
            break;
        case 2:
            s.id = "a b~!@#$%^&*()_+{}|:\"<>?";
            break;
        case 3:
            s.port = 1;
            break;
        case 4:
            s.port = 65535;
            break;
        case 5:
            s.port = 0;
            break;
        case 6:
            s.connect_timeout_ms = 0;
            break;
        case 7:
            s.connect_timeout_ms = INT_MAX;
            break;
        case 8:
            s.pool.min = 0;
            s.pool.max = 1;
            break;
        case 9:
            s.pool.min = 7;
            s.pool.max = 7;
            break;
        case 10:
            s.pool.idle_timeout_ms = 1;
            s.pool.acquire_timeout_ms = 1;
            s.pool.max_lifetime_ms = 1;
            s.pool.leak_threshold_ms = 1;
            break;
        case 11:
            s.pool.idle_timeout_ms = INT_MAX;
            s.pool.acquire_timeout_ms = INT_MAX;
            s.pool.max_lifetime_ms = INT_MAX;
            s.pool.leak_threshold_ms = INT_MAX;
            s.pool.max = INT_MAX;
            break;
        case 12:
            s.ssl.enabled = PGCM_SSL_DISABLED;
            break;
        case 13:
            s.ssl.enabled = PGCM_SSL_ENABLED;
            s.ssl.reject_unauthorized = 0;
            break;
        case 14:
            s.conninfo = "";
            break;
        case 15:
            s.conninfo = "host=db port=5433 dbname=app user=me "
                         "password='it\\'s' sslmode=require";
            break;
        case 16:
            s.conninfo = "postgresql://me:pw@db.example.com:5433/app?"
                         "sslmode=verify-full&application_name=x";
            break;
        case 17:
            s.conninfo = "postgres://[2001:db8::1]:5432/app";
            break;
        default:
            assert_int_equal(bad, 0);
            return;
        }
        int rc = pgcm__spec_validate(&s, &err);
        if (rc != PGCM_OK)
            REPORT("good spec case %d rejected: %s", i, err.message);
    }
}

/* ---- options validation -------------------------------------------------- */

static const char *bad_options(int i, pgcm_options_t *o)
{
    pgcm_options_init(o);
    switch (i) {
    case 0:
        o->health_check_interval_ms = 0;
        return "option health_check_interval_ms is 0; it must be at least 1";
    case 1:
        o->health_check_timeout_ms = 0;
        return "option health_check_timeout_ms is 0";
    case 2:
        o->liveness_interval_ms = -1;
        return "option liveness_interval_ms is -1; it must be at least 0";
    case 3:
        o->liveness_timeout_ms = 0;
        return "option liveness_timeout_ms is 0";
    case 4:
        o->suspect_probe_timeout_ms = 0;
        return "option suspect_probe_timeout_ms is 0";
    case 5:
        o->unhealthy_threshold = 0;
        return "option unhealthy_threshold is 0";
    case 6:
        o->unhealthy_threshold = -3;
        return "option unhealthy_threshold is -3";
    case 7:
        o->degraded_latency_ms = 0;
        return "option degraded_latency_ms is 0";
    case 8:
        o->query_timeout_ms = 0;
        return "option query_timeout_ms is 0";
    case 9:
        o->connect_timeout_ms = -1;
        return "option connect_timeout_ms is -1";
    case 10:
        o->shutdown_timeout_ms = -1;
        return "option shutdown_timeout_ms is -1; it must be at least 0";
    case 11:
        o->remove_timeout_ms = -1;
        return "option remove_timeout_ms is -1";
    case 12:
        o->cancel_grace_ms = 0;
        return "option cancel_grace_ms is 0";
    case 13:
        o->backoff_initial_ms = 0;
        return "option backoff_initial_ms is 0";
    case 14:
        o->backoff_max_ms = 0;
        return "option backoff_max_ms is 0";
    case 15:
        o->stats_interval_ms = -1;
        return "option stats_interval_ms is -1";
    case 16:
        o->backoff_initial_ms = 5000;
        o->backoff_max_ms = 4999;
        return "backoff_max_ms (4999) is below backoff_initial_ms (5000)";
    case 17:
        o->probe_query = "";
        return "option probe_query is empty";
    case 18:
        o->health_check_interval_ms = INT_MIN;
        return "option health_check_interval_ms is -2147483648";
    }
    return NULL;
}

static void test_options_validate_rejects(void **state)
{
    (void)state;
    pgcm_options_t o;
    const char *want;
    int n = 0;
    for (int i = 0; (want = bad_options(i, &o)) != NULL; i++, n++) {
        pgcm_error_t err;
        memset(&err, 0x7E, sizeof(err));
        if (pgcm__options_validate(&o, &err) != PGCM_EINVAL)
            fail_msg("bad options case %d (want \"%s\") accepted", i, want);
        assert_int_equal(err.code, PGCM_EINVAL);
        assert_string_equal(err.node_id, "");
        if (strstr(err.message, want) == NULL)
            fail_msg("bad options case %d: message \"%s\" lacks \"%s\"", i,
                     err.message, want);
        assert_int_equal(pgcm__options_validate(&o, NULL), PGCM_EINVAL);
    }
    assert_int_equal(n, 19);
}

static void test_options_validate_accepts_boundaries(void **state)
{
    (void)state;
    pgcm_options_t o;
    pgcm_error_t err;
    pgcm_options_init(&o);
    o.liveness_interval_ms = 0; /* disables liveness */
    o.shutdown_timeout_ms = 0;
    o.remove_timeout_ms = 0;
    o.stats_interval_ms = 0;
    o.unhealthy_threshold = 1;
    o.health_check_interval_ms = 1;
    o.backoff_initial_ms = 1;
    o.backoff_max_ms = 1; /* equal is fine */
    o.probe_query = NULL; /* the default */
    o.application_name = NULL;
    assert_int_equal(pgcm__options_validate(&o, &err), PGCM_OK);

    pgcm_options_init(&o);
    o.backoff_initial_ms = INT_MAX;
    o.backoff_max_ms = INT_MAX;
    o.query_timeout_ms = INT_MAX;
    o.probe_query = "SELECT pg_is_in_recovery()";
    assert_int_equal(pgcm__options_validate(&o, &err), PGCM_OK);
}

/* ---- equality ------------------------------------------------------------ */

static pgcm_node_spec_t full_spec(void)
{
    pgcm_node_spec_t s = spec_n1();
    s.conninfo = "sslmode=prefer";
    s.host = "db.example.com";
    s.port = 5433;
    s.database = "app";
    s.user = "me";
    s.password = SECRET;
    s.application_name = "tool";
    s.connect_timeout_ms = 3000;
    s.ssl.enabled = PGCM_SSL_ENABLED;
    s.ssl.reject_unauthorized = 1;
    s.ssl.ca = "/etc/ca.pem";
    s.ssl.cert = "/etc/client.pem";
    s.ssl.key = "/etc/client.key";
    s.ssh.host = "bastion";
    s.ssh.port = 2222;
    s.ssh.user = "jump";
    s.ssh.key_path = "/home/me/.ssh/id";
    s.ssh.known_hosts = "/home/me/.ssh/known_hosts";
    s.ssh.passphrase = "pass-" SECRET;
    s.pool.min = 2;
    s.pool.max = 8;
    s.pool.idle_timeout_ms = 5000;
    s.pool.acquire_timeout_ms = 6000;
    s.pool.max_lifetime_ms = 700000;
    s.pool.leak_threshold_ms = 9000;
    return s;
}

/* Change field i (twice per string field: to another value and to NULL);
 * returns 0 past the last. */
static int mutate_field(int i, pgcm_node_spec_t *s)
{
    const char **strs[] = {
        &s->id,
        &s->conninfo,
        &s->host,
        &s->database,
        &s->user,
        &s->password,
        &s->application_name,
        &s->ssl.ca,
        &s->ssl.cert,
        &s->ssl.key,
        &s->ssh.host,
        &s->ssh.user,
        &s->ssh.key_path,
        &s->ssh.known_hosts,
        &s->ssh.passphrase,
    };
    int nstr = (int)(sizeof(strs) / sizeof(*strs));
    if (i < nstr) {
        *strs[i] = "something else";
        return 1;
    }
    i -= nstr;
    if (i < nstr) {
        *strs[i] = NULL;
        return 1;
    }
    i -= nstr;
    int *ints[] = {
        &s->port,
        &s->connect_timeout_ms,
        &s->ssl.enabled,
        &s->ssl.reject_unauthorized,
        &s->ssh.port,
        &s->pool.min,
        &s->pool.max,
        &s->pool.idle_timeout_ms,
        &s->pool.acquire_timeout_ms,
        &s->pool.max_lifetime_ms,
        &s->pool.leak_threshold_ms,
    };
    if (i < (int)(sizeof(ints) / sizeof(*ints))) {
        *ints[i] += 1;
        return 1;
    }
    return 0;
}

static void test_equal(void **state)
{
    (void)state;
    pgcm_node_spec_t a = full_spec(), b = full_spec();
    assert_int_equal(pgcm_node_spec_equal(&a, &a), 1);
    assert_int_equal(pgcm_node_spec_equal(&a, &b), 1);

    /* compared by content, not by pointer */
    char host[] = "db.example.com", pw[] = SECRET;
    b.host = host;
    b.password = pw;
    assert_int_equal(pgcm_node_spec_equal(&a, &b), 1);

    /* any single difference makes them different, both ways round */
    int n = 0;
    for (int i = 0;; i++) {
        b = full_spec();
        if (!mutate_field(i, &b))
            break;
        if (pgcm_node_spec_equal(&a, &b) != 0 ||
            pgcm_node_spec_equal(&b, &a) != 0)
            fail_msg("field change %d not noticed by pgcm_node_spec_equal", i);
        n++;
    }
    assert_int_equal(n, 15 * 2 + 11);

    /* NULL vs "" are different */
    pgcm_node_spec_t c = spec_n1(), d = spec_n1();
    assert_int_equal(pgcm_node_spec_equal(&c, &d), 1);
    d.host = "";
    assert_int_equal(pgcm_node_spec_equal(&c, &d), 0);

    assert_int_equal(pgcm_node_spec_equal(NULL, NULL), 1);
    assert_int_equal(pgcm_node_spec_equal(&a, NULL), 0);
    assert_int_equal(pgcm_node_spec_equal(NULL, &a), 0);
}

/* ---- dup / free ---------------------------------------------------------- */

static void test_dup_is_deep(void **state)
{
    (void)state;
    pgcm_node_spec_t s = full_spec();
    /* strings in writable buffers, scribbled on after the copy */
    char id[] = "node-7", host[] = "db.example.com", pw[] = SECRET;
    s.id = id;
    s.host = host;
    s.password = pw;

    pgcm_node_spec_t *d = pgcm__spec_dup(&s);
    assert_non_null(d);
    assert_int_equal(pgcm_node_spec_equal(&s, d), 1);
    const char *const orig[] = {
        s.id,
        s.conninfo,
        s.host,
        s.database,
        s.user,
        s.password,
        s.application_name,
        s.ssl.ca,
        s.ssl.cert,
        s.ssl.key,
        s.ssh.host,
        s.ssh.user,
        s.ssh.key_path,
        s.ssh.known_hosts,
        s.ssh.passphrase,
    };
    const char *const copy[] = {
        d->id,
        d->conninfo,
        d->host,
        d->database,
        d->user,
        d->password,
        d->application_name,
        d->ssl.ca,
        d->ssl.cert,
        d->ssl.key,
        d->ssh.host,
        d->ssh.user,
        d->ssh.key_path,
        d->ssh.known_hosts,
        d->ssh.passphrase,
    };
    for (size_t i = 0; i < sizeof(orig) / sizeof(*orig); i++) {
        assert_non_null(copy[i]);
        assert_ptr_not_equal(copy[i], orig[i]);
        assert_string_equal(copy[i], orig[i]);
    }
    memset(id, 'X', sizeof(id) - 1);
    memset(host, 'X', sizeof(host) - 1);
    memset(pw, 'X', sizeof(pw) - 1);
    assert_string_equal(d->id, "node-7");
    assert_string_equal(d->host, "db.example.com");
    assert_string_equal(d->password, SECRET);
    assert_int_equal(d->pool.max_lifetime_ms, 700000);
    assert_int_equal(d->ssh.port, 2222);
    pgcm__spec_free(d);
    assert_int_equal(live_blocks, 0);
    /* password, conninfo and ssh passphrase are wiped before free */
    assert_int_equal(unwiped_secrets, 0);
}

static void test_dup_keeps_nulls(void **state)
{
    (void)state;
    pgcm_node_spec_t s = spec_n1();
    pgcm_node_spec_t *d = pgcm__spec_dup(&s);
    assert_non_null(d);
    assert_int_equal(pgcm_node_spec_equal(&s, d), 1);
    assert_null(d->host);
    assert_null(d->password);
    assert_null(d->conninfo);
    assert_null(d->ssh.passphrase);
    assert_int_equal(live_blocks, 1); /* the struct, its strings after it */
    pgcm__spec_free(d);
    pgcm__spec_free(NULL);
}

static void test_dup_out_of_memory(void **state)
{
    (void)state;
    pgcm_node_spec_t s = full_spec();
    int failures = 0, successes = 0;
    for (long b = 0; b < 40; b++) {
        budget = b;
        pgcm_node_spec_t *d = pgcm__spec_dup(&s);
        budget = -1;
        if (d == NULL) {
            failures++;
        } else {
            successes++;
            assert_int_equal(pgcm_node_spec_equal(&s, d), 1);
            pgcm__spec_free(d);
        }
        /* nothing leaks on any failure path */
        assert_int_equal(live_blocks, 0);
    }
    assert_int_equal(failures, 1); /* one block: the struct and its strings */
    assert_int_equal(successes, 40 - 1);
    assert_int_equal(unwiped_secrets, 0);
}

static void test_set_allocator(void **state)
{
    (void)state;
    /* installed by the fixture: pgcm allocations go through it */
    long before = total_allocations;
    char *p = pgcm__strdup("abc");
    assert_int_equal(total_allocations, before + 1);
    assert_int_equal(live_blocks, 1);
    pgcm__free(p);
    assert_int_equal(live_blocks, 0);
    assert_null(pgcm__strdup(NULL));

    /* refused while a manager exists, and nothing changes */
    pgcm__manager_count(1);
    assert_int_equal(pgcm_set_allocator(NULL, NULL, NULL), PGCM_EINVAL);
    p = pgcm__strdup("still hooked");
    assert_int_equal(live_blocks, 1);
    pgcm__free(p);
    pgcm__manager_count(-1);

    /* any NULL restores libc */
    assert_int_equal(pgcm_set_allocator(t_malloc, NULL, t_free), PGCM_OK);
    before = total_allocations;
    p = pgcm__strdup("libc");
    assert_int_equal(total_allocations, before);
    pgcm__free(p);
    assert_int_equal(pgcm_set_allocator(t_malloc, t_realloc, t_free), PGCM_OK);

    /* realloc goes through the hook too */
    p = pgcm__malloc(4);
    memcpy(p, "abc", 4);
    p = pgcm__realloc(p, 4096);
    assert_string_equal(p, "abc");
    assert_int_equal(live_blocks, 1);
    pgcm__free(p);
    pgcm__free(NULL);

    /* calloc zeroes and refuses overflowing sizes */
    unsigned char *z = pgcm__calloc(16, 4);
    for (int i = 0; i < 64; i++)
        assert_int_equal(z[i], 0);
    pgcm__free(z);
    assert_null(pgcm__calloc(SIZE_MAX / 2, 4));
    assert_int_equal(live_blocks, 0);
}

/* ---- conninfo_build ------------------------------------------------------ */

static void test_build_minimal(void **state)
{
    (void)state;
    pgcm_node_spec_t s = spec_n1();
    conninfo_params_t p;
    build_ok(&s, "replmon", NULL, &p);
    assert_string_equal(param(&p, "application_name"), "replmon");
    assert_string_equal(param(&p, "keepalives"), "1");
    assert_string_equal(param(&p, "keepalives_idle"), "10");
    assert_string_equal(param(&p, "keepalives_interval"), "5");
    assert_string_equal(param(&p, "keepalives_count"), "3");
    /* unset fields are left to libpq (PG* variables, .pgpass) */
    const char *absent[] = {"host",    "port",           "dbname",
                            "user",    "password",       "hostaddr",
                            "sslmode", "sslrootcert",    "sslcert",
                            "sslkey",  "connect_timeout"};
    for (size_t i = 0; i < sizeof(absent) / sizeof(*absent); i++) {
        if (param(&p, absent[i]) != NULL)
            fail_msg("%s set to \"%s\" for an empty spec", absent[i],
                     param(&p, absent[i]));
    }
    assert_int_equal(p.count, 5);
    pgcm__conninfo_free(&p);
    assert_int_equal(p.count, 0);
    pgcm__conninfo_free(&p); /* twice is harmless */

    /* no default application name: none is sent */
    build_ok(&s, NULL, NULL, &p);
    assert_null(param(&p, "application_name"));
    pgcm__conninfo_free(&p);
    assert_int_equal(live_blocks, 0);
}

static void test_build_fields(void **state)
{
    (void)state;
    pgcm_node_spec_t s = spec_n1();
    s.host = "db.example.com";
    s.port = 5433;
    s.database = "app";
    s.user = "me";
    s.password = SECRET;
    s.application_name = "tool";
    conninfo_params_t p;
    build_ok(&s, "replmon", NULL, &p);
    assert_string_equal(param(&p, "host"), "db.example.com");
    assert_string_equal(param(&p, "port"), "5433");
    assert_string_equal(param(&p, "dbname"), "app");
    assert_string_equal(param(&p, "user"), "me");
    assert_string_equal(param(&p, "password"), SECRET);
    assert_string_equal(param(&p, "application_name"), "tool");
    /* the values are copies, not the caller's strings */
    assert_ptr_not_equal(param(&p, "host"), s.host);
    assert_ptr_not_equal(param(&p, "password"), s.password);
    pgcm__conninfo_free(&p);
    assert_int_equal(live_blocks, 0);
    assert_int_equal(unwiped_secrets, 0); /* the password copy is wiped */

    s.port = 0; /* libpq's default */
    build_ok(&s, "replmon", NULL, &p);
    assert_null(param(&p, "port"));
    pgcm__conninfo_free(&p);
}

static void test_build_conninfo_base_overridden(void **state)
{
    (void)state;
    pgcm_node_spec_t s = spec_n1();
    s.conninfo = "host=base-host port=1111 dbname=basedb user=baseuser "
                 "password=basepw sslmode=prefer connect_timeout=7 "
                 "target_session_attrs=read-write options='-c x=1'";
    conninfo_params_t p;

    /* the base alone */
    build_ok(&s, "replmon", NULL, &p);
    assert_string_equal(param(&p, "host"), "base-host");
    assert_string_equal(param(&p, "port"), "1111");
    assert_string_equal(param(&p, "dbname"), "basedb");
    assert_string_equal(param(&p, "user"), "baseuser");
    assert_string_equal(param(&p, "password"), "basepw");
    assert_string_equal(param(&p, "sslmode"), "prefer");
    assert_string_equal(param(&p, "connect_timeout"), "7");
    assert_string_equal(param(&p, "target_session_attrs"), "read-write");
    assert_string_equal(param(&p, "options"), "-c x=1");
    pgcm__conninfo_free(&p);

    /* fields win over the base; the rest of the base stays */
    s.host = "field-host";
    s.port = 2222;
    s.database = "fielddb";
    s.user = "fielduser";
    s.password = "fieldpw";
    s.connect_timeout_ms = 4000;
    s.ssl.enabled = PGCM_SSL_DISABLED;
    build_ok(&s, "replmon", NULL, &p);
    assert_string_equal(param(&p, "host"), "field-host");
    assert_string_equal(param(&p, "port"), "2222");
    assert_string_equal(param(&p, "dbname"), "fielddb");
    assert_string_equal(param(&p, "user"), "fielduser");
    assert_string_equal(param(&p, "password"), "fieldpw");
    assert_string_equal(param(&p, "connect_timeout"), "4");
    assert_string_equal(param(&p, "sslmode"), "disable");
    assert_string_equal(param(&p, "target_session_attrs"), "read-write");
    pgcm__conninfo_free(&p);
    assert_int_equal(live_blocks, 0);
}

static void test_build_uri_base(void **state)
{
    (void)state;
    pgcm_node_spec_t s = spec_n1();
    s.conninfo = "postgresql://uriuser:uripw@uri-host:6543/uridb?"
                 "sslmode=require&application_name=uriapp";
    conninfo_params_t p;
    build_ok(&s, "replmon", NULL, &p);
    assert_string_equal(param(&p, "host"), "uri-host");
    assert_string_equal(param(&p, "port"), "6543");
    assert_string_equal(param(&p, "dbname"), "uridb");
    assert_string_equal(param(&p, "user"), "uriuser");
    assert_string_equal(param(&p, "password"), "uripw");
    assert_string_equal(param(&p, "sslmode"), "require");
    assert_string_equal(param(&p, "application_name"), "uriapp");
    pgcm__conninfo_free(&p);

    s.conninfo = "postgresql://[2001:db8::7]:5432/x";
    s.user = "override";
    build_ok(&s, "replmon", NULL, &p);
    assert_string_equal(param(&p, "host"), "2001:db8::7");
    assert_string_equal(param(&p, "user"), "override");
    pgcm__conninfo_free(&p);
    assert_int_equal(live_blocks, 0);
}

static void test_build_application_name(void **state)
{
    (void)state;
    conninfo_params_t p;
    pgcm_node_spec_t s = spec_n1();

    /* 1. the manager's default */
    build_ok(&s, "replmon", NULL, &p);
    assert_string_equal(param(&p, "application_name"), "replmon");
    pgcm__conninfo_free(&p);

    /* 2. the conninfo's own beats the default */
    s.conninfo = "application_name=from-conninfo";
    build_ok(&s, "replmon", NULL, &p);
    assert_string_equal(param(&p, "application_name"), "from-conninfo");
    pgcm__conninfo_free(&p);

    s.conninfo = "postgresql:///db?application_name=from-uri";
    build_ok(&s, "replmon", NULL, &p);
    assert_string_equal(param(&p, "application_name"), "from-uri");
    pgcm__conninfo_free(&p);

    /* a conninfo without one still gets the default */
    s.conninfo = "dbname=x";
    build_ok(&s, "replmon", NULL, &p);
    assert_string_equal(param(&p, "application_name"), "replmon");
    pgcm__conninfo_free(&p);

    /* 3. the spec's field beats both */
    s.conninfo = "application_name=from-conninfo";
    s.application_name = "from-spec";
    build_ok(&s, "replmon", NULL, &p);
    assert_string_equal(param(&p, "application_name"), "from-spec");
    pgcm__conninfo_free(&p);
    assert_int_equal(live_blocks, 0);
}

static void test_build_hostaddr(void **state)
{
    (void)state;
    conninfo_params_t p;
    pgcm_node_spec_t s = spec_n1();
    s.host = "db.example.com";

    build_ok(&s, "replmon", "192.0.2.10", &p);
    /* host stays for TLS verification and .pgpass; hostaddr skips DNS */
    assert_string_equal(param(&p, "host"), "db.example.com");
    assert_string_equal(param(&p, "hostaddr"), "192.0.2.10");
    pgcm__conninfo_free(&p);

    build_ok(&s, "replmon", "2001:db8::10", &p);
    assert_string_equal(param(&p, "hostaddr"), "2001:db8::10");
    pgcm__conninfo_free(&p);

    /* the resolved address replaces a conninfo's hostaddr */
    s.conninfo = "hostaddr=198.51.100.1";
    build_ok(&s, "replmon", "192.0.2.10", &p);
    assert_string_equal(param(&p, "hostaddr"), "192.0.2.10");
    pgcm__conninfo_free(&p);

    /* no resolved address: the conninfo's is kept */
    build_ok(&s, "replmon", NULL, &p);
    assert_string_equal(param(&p, "hostaddr"), "198.51.100.1");
    pgcm__conninfo_free(&p);
    assert_int_equal(live_blocks, 0);
}

static void test_build_ssl_mapping(void **state)
{
    (void)state;
    const struct {
        int enabled, reject;
        const char *base;
        const char *sslmode; /* NULL: not set */
    } cases[] = {
        {PGCM_SSL_DEFAULT, 1, NULL, NULL},
        {PGCM_SSL_DEFAULT, 0, NULL, NULL},
        {PGCM_SSL_DEFAULT, 1, "sslmode=verify-ca", "verify-ca"},
        {PGCM_SSL_DISABLED, 1, NULL, "disable"},
        {PGCM_SSL_DISABLED, 0, NULL, "disable"},
        {PGCM_SSL_DISABLED, 1, "sslmode=require", "disable"},
        {PGCM_SSL_ENABLED, 1, NULL, "verify-full"},
        {PGCM_SSL_ENABLED, 0, NULL, "require"},
        {PGCM_SSL_ENABLED, 7, NULL, "verify-full"}, /* any non-zero */
        {PGCM_SSL_ENABLED, 0, "sslmode=disable", "require"},
        {PGCM_SSL_ENABLED, 1, "sslmode=prefer", "verify-full"},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        pgcm_node_spec_t s = spec_n1();
        s.ssl.enabled = cases[i].enabled;
        s.ssl.reject_unauthorized = cases[i].reject;
        s.conninfo = cases[i].base;
        conninfo_params_t p;
        build_ok(&s, "replmon", NULL, &p);
        const char *got = param(&p, "sslmode");
        if (cases[i].sslmode == NULL
                ? got != NULL
                : got == NULL || strcmp(got, cases[i].sslmode) != 0)
            REPORT("ssl case %zu (enabled %d reject %d base %s): sslmode "
                   "%s, want %s",
                   i, cases[i].enabled, cases[i].reject,
                   cases[i].base ? cases[i].base : "-", got ? got : "(unset)",
                   cases[i].sslmode ? cases[i].sslmode : "(unset)");
        pgcm__conninfo_free(&p);
    }
    assert_int_equal(bad, 0);
    assert_int_equal(live_blocks, 0);
}

static void test_build_ssl_files(void **state)
{
    (void)state;
    pgcm_node_spec_t s = spec_n1();
    s.ssl.enabled = PGCM_SSL_ENABLED;
    s.ssl.ca = "/etc/ssl/root.crt";
    s.ssl.cert = "/etc/ssl/client.crt";
    s.ssl.key = "/etc/ssl/client.key";
    conninfo_params_t p;
    build_ok(&s, "replmon", NULL, &p);
    assert_string_equal(param(&p, "sslrootcert"), "/etc/ssl/root.crt");
    assert_string_equal(param(&p, "sslcert"), "/etc/ssl/client.crt");
    assert_string_equal(param(&p, "sslkey"), "/etc/ssl/client.key");
    pgcm__conninfo_free(&p);

    /* fields override the conninfo's files; unset ones keep them */
    s.conninfo = "sslrootcert=/a/root sslcert=/a/cert sslkey=/a/key";
    s.ssl.cert = NULL;
    build_ok(&s, "replmon", NULL, &p);
    assert_string_equal(param(&p, "sslrootcert"), "/etc/ssl/root.crt");
    assert_string_equal(param(&p, "sslcert"), "/a/cert");
    assert_string_equal(param(&p, "sslkey"), "/etc/ssl/client.key");
    pgcm__conninfo_free(&p);

    /* files without ssl.enabled: passed on, sslmode left to libpq */
    s = spec_n1();
    s.ssl.ca = "/etc/ssl/root.crt";
    build_ok(&s, "replmon", NULL, &p);
    assert_string_equal(param(&p, "sslrootcert"), "/etc/ssl/root.crt");
    assert_null(param(&p, "sslmode"));
    pgcm__conninfo_free(&p);
    assert_int_equal(live_blocks, 0);
}

static void test_build_connect_timeout_rounding(void **state)
{
    (void)state;
    /* whole seconds, rounded up, at least 2 (libpq's minimum) */
    const struct {
        int ms;
        const char *want;
    } cases[] = {
        {1, "2"},      {500, "2"},        {999, "2"},  {1000, "2"},
        {1001, "2"},   {1999, "2"},       {2000, "2"}, {2001, "3"},
        {2999, "3"},   {3000, "3"},       {5000, "5"}, {30500, "31"},
        {60000, "60"}, {3600000, "3600"},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        pgcm_node_spec_t s = spec_n1();
        s.connect_timeout_ms = cases[i].ms;
        conninfo_params_t p;
        build_ok(&s, "replmon", NULL, &p);
        const char *got = param(&p, "connect_timeout");
        if (got == NULL || strcmp(got, cases[i].want) != 0)
            REPORT("connect_timeout_ms %d -> %s, want %s", cases[i].ms,
                   got ? got : "(unset)", cases[i].want);
        pgcm__conninfo_free(&p);
    }
    assert_int_equal(bad, 0);

    /* 0: not set here (the caller's manager default applies); the
     * conninfo's own value is kept */
    pgcm_node_spec_t s = spec_n1();
    s.conninfo = "connect_timeout=9";
    conninfo_params_t p;
    build_ok(&s, "replmon", NULL, &p);
    assert_string_equal(param(&p, "connect_timeout"), "9");
    pgcm__conninfo_free(&p);
    assert_int_equal(live_blocks, 0);
}

/* connect_timeout_ms accepted by validation (any non-negative int) must
 * not overflow while being rounded to seconds. */
static int body_connect_timeout_int_max(void)
{
    pgcm_node_spec_t s = spec_n1();
    s.connect_timeout_ms = INT_MAX;
    pgcm_error_t err;
    if (pgcm__spec_validate(&s, &err) != PGCM_OK)
        return 2;
    conninfo_params_t p;
    if (pgcm__conninfo_build(&s, "replmon", NULL, &p, &err) != PGCM_OK)
        return 3;
    const char *got = param(&p, "connect_timeout");
    int ok = got != NULL && strcmp(got, "2147484") == 0;
    if (!ok)
        fprintf(stderr, "connect_timeout_ms INT_MAX -> %s, want 2147484\n",
                got ? got : "(unset)");
    pgcm__conninfo_free(&p);
    return ok ? 0 : 1;
}

static void test_build_connect_timeout_int_max(void **state)
{
    (void)state;
    expect_child_ok(body_connect_timeout_int_max, "connect_timeout_ms INT_MAX");
}

static void test_build_bad_conninfo(void **state)
{
    (void)state;
    pgcm_node_spec_t s = spec_n1();
    s.conninfo = "host=db port";
    conninfo_params_t p;
    memset(&p, 0x55, sizeof(p));
    pgcm_error_t err;
    assert_int_equal(pgcm__conninfo_build(&s, "replmon", NULL, &p, &err),
                     PGCM_EINVAL);
    assert_int_equal(err.code, PGCM_EINVAL);
    assert_string_equal(err.node_id, "n1");
    assert_non_null(strstr(err.message, "node 'n1'"));
    assert_non_null(strstr(err.message, "invalid conninfo"));
    /* out is left empty, so freeing it is safe */
    assert_int_equal(p.count, 0);
    assert_int_equal(p.nowned, 0);
    pgcm__conninfo_free(&p);
    assert_int_equal(pgcm__conninfo_build(&s, "replmon", NULL, &p, NULL),
                     PGCM_EINVAL);
    assert_int_equal(live_blocks, 0);
}

/* Every parameter at once, from a conninfo naming many keywords and a
 * spec overriding all it can. */
static void test_build_everything(void **state)
{
    (void)state;
    pgcm_node_spec_t s = full_spec();
    s.conninfo =
        "host=h hostaddr=192.0.2.1 port=1 dbname=d user=u password=p "
        "passfile=/pf connect_timeout=3 client_encoding=UTF8 options=-cx=1 "
        "application_name=a fallback_application_name=f keepalives=0 "
        "keepalives_idle=1 keepalives_interval=1 keepalives_count=1 "
        "tcp_user_timeout=1000 sslmode=allow sslcompression=0 sslcert=/c "
        "sslkey=/k sslrootcert=/r sslcrl=/crl sslcrldir=/crld sslsni=1 "
        "requirepeer=postgres ssl_min_protocol_version=TLSv1.2 "
        "ssl_max_protocol_version=TLSv1.3 gssencmode=disable krbsrvname=pg "
        "gsslib=gssapi target_session_attrs=any service=svc "
        "channel_binding=prefer "
        "replication=0";
    conninfo_params_t p;
    build_ok(&s, "replmon", "192.0.2.99", &p);
    assert_string_equal(param(&p, "host"), "db.example.com");
    assert_string_equal(param(&p, "hostaddr"), "192.0.2.99");
    assert_string_equal(param(&p, "password"), SECRET);
    assert_string_equal(param(&p, "sslmode"), "verify-full");
    assert_string_equal(param(&p, "sslrootcert"), "/etc/ca.pem");
    assert_string_equal(param(&p, "connect_timeout"), "3");
    assert_string_equal(param(&p, "keepalives"), "1");
    assert_string_equal(param(&p, "gssencmode"), "disable");
    assert_string_equal(param(&p, "fallback_application_name"), "f");
    pgcm__conninfo_free(&p);
    assert_int_equal(live_blocks, 0);
    assert_int_equal(unwiped_secrets, 0);
}

static void test_build_out_of_memory(void **state)
{
    (void)state;
    pgcm_node_spec_t s = full_spec();
    s.conninfo = "host=x port=1 options=-cx=1 target_session_attrs=any";
    int failures = 0;
    for (long b = 0; b < 60; b++) {
        conninfo_params_t p;
        pgcm_error_t err;
        budget = b;
        int rc = pgcm__conninfo_build(&s, "replmon", "192.0.2.1", &p, &err);
        budget = -1;
        if (rc == PGCM_OK) {
            assert_wellformed(&p);
            pgcm__conninfo_free(&p);
        } else {
            failures++;
            assert_int_equal(rc, PGCM_ENOMEM);
            assert_int_equal(err.code, PGCM_ENOMEM);
            assert_non_null(strstr(err.message, "out of memory"));
            assert_int_equal(p.count, 0);
        }
        assert_int_equal(live_blocks, 0);
    }
    assert_true(failures >= 10);
    assert_int_equal(unwiped_secrets, 0);
}

/* ---- host_to_resolve ----------------------------------------------------- */

static void test_host_to_resolve(void **state)
{
    (void)state;
    const struct {
        const char *host, *conninfo, *want;
    } cases[] = {
        /* DNS names are resolved (by the loop, asynchronously) */
        {"db.example.com", NULL, "db.example.com"},
        {"localhost", NULL, "localhost"},
        {"db-1", NULL, "db-1"},
        /* addresses are not */
        {"127.0.0.1", NULL, NULL},
        {"192.0.2.254", NULL, NULL},
        {"::1", NULL, NULL},
        {"2001:db8::1", NULL, NULL},
        {"::ffff:192.0.2.1", NULL, NULL},
        /* nor socket directories (and abstract sockets) */
        {"/var/run/postgresql", NULL, NULL},
        {"/tmp", NULL, NULL},
        {"@pgsock", NULL, NULL},
        /* nor lists, which libpq walks itself */
        {"a.example.com,b.example.com", NULL, NULL},
        {"a,b", NULL, NULL},
        /* nor nothing */
        {"", NULL, NULL},
        {NULL, NULL, NULL},
        /* the conninfo's host when the field is unset */
        {NULL, "host=db.example.com port=5432", "db.example.com"},
        {NULL, "host=10.1.2.3", NULL},
        {NULL, "host=/var/run/postgresql", NULL},
        {NULL, "host=a,b", NULL},
        {NULL, "host=''", NULL},
        {NULL, "dbname=x", NULL},
        {NULL, "postgresql://db.example.com:5432/app", "db.example.com"},
        {NULL, "postgresql://[::1]:5432/app", NULL},
        {NULL, "postgresql://192.0.2.1/app", NULL},
        {NULL, "postgresql://a:1,b:2/app", NULL},
        {NULL, "postgresql:///app?host=/tmp", NULL},
        {NULL, "postgresql:///app", NULL},
        /* the field wins over the conninfo */
        {"10.0.0.1", "host=db.example.com", NULL},
        {"db.example.com", "host=10.0.0.1", "db.example.com"},
        {"/tmp", "host=db.example.com", NULL},
        /* an explicit hostaddr needs no lookup */
        {NULL, "host=db.example.com hostaddr=10.0.0.1", NULL},
        {"db.example.com", "hostaddr=10.0.0.1", NULL},
        {NULL, "postgresql://db.example.com/app?hostaddr=10.0.0.1", NULL},
        {NULL, "host=db.example.com hostaddr=''", "db.example.com"},
        /* an unparsable conninfo does not hide the field */
        {"db.example.com", "host=x port", "db.example.com"},
        {NULL, "host=x port", NULL},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        pgcm_node_spec_t s = spec_n1();
        s.host = cases[i].host;
        s.conninfo = cases[i].conninfo;
        char *got = pgcm__conninfo_host_to_resolve(&s);
        int ok = cases[i].want == NULL
                     ? got == NULL
                     : got != NULL && strcmp(got, cases[i].want) == 0;
        if (!ok)
            REPORT("host_to_resolve case %zu (host %s, conninfo %s): got "
                   "%s, want %s",
                   i, cases[i].host ? cases[i].host : "NULL",
                   cases[i].conninfo ? cases[i].conninfo : "NULL",
                   got ? got : "NULL", cases[i].want ? cases[i].want : "NULL");
        if (got != NULL)
            assert_ptr_not_equal(got, cases[i].host);
        pgcm__free(got);
        assert_int_equal(live_blocks, 0);
    }
    assert_int_equal(bad, 0);
}

/* libpq falls back to PGHOST and PGHOSTADDR, so host_to_resolve does too:
 * these tests set them and put back what was there. */
static char *saved_pghost, *saved_pghostaddr;

static void save_env(const char *name, char **slot)
{
    const char *v = getenv(name);
    *slot = v ? strdup(v) : NULL;
    unsetenv(name);
}

static void restore_env(const char *name, char **slot)
{
    if (*slot != NULL)
        setenv(name, *slot, 1);
    else
        unsetenv(name);
    free(*slot);
    *slot = NULL;
}

static int clear_pg_env(void **state)
{
    save_env("PGHOST", &saved_pghost);
    save_env("PGHOSTADDR", &saved_pghostaddr);
    return install_allocator(state);
}

static int restore_pg_env(void **state)
{
    restore_env("PGHOST", &saved_pghost);
    restore_env("PGHOSTADDR", &saved_pghostaddr);
    return restore_allocator(state);
}

#define ENV_TEST(f)                                                            \
    cmocka_unit_test_setup_teardown(f, clear_pg_env, restore_pg_env)

static int resolve_is(const char *host, const char *conninfo, const char *want)
{
    pgcm_node_spec_t s = spec_n1();
    s.host = host;
    s.conninfo = conninfo;
    char *got = pgcm__conninfo_host_to_resolve(&s);
    int ok = want == NULL ? got == NULL : got != NULL && strcmp(got, want) == 0;
    if (!ok)
        print_error("host_to_resolve (host %s, conninfo %s, PGHOST %s, "
                    "PGHOSTADDR %s): got %s, want %s\n",
                    host ? host : "NULL", conninfo ? conninfo : "NULL",
                    getenv("PGHOST") ? getenv("PGHOST") : "unset",
                    getenv("PGHOSTADDR") ? getenv("PGHOSTADDR") : "unset",
                    got ? got : "NULL", want ? want : "NULL");
    pgcm__free(got);
    return ok ? 0 : 1;
}

static void test_host_to_resolve_pghost(void **state)
{
    (void)state;
    int bad = 0;
    setenv("PGHOST", "env.example.com", 1);
    /* nothing names a host: the environment's name is resolved */
    bad += resolve_is(NULL, NULL, "env.example.com");
    bad += resolve_is(NULL, "dbname=x", "env.example.com");
    bad += resolve_is(NULL, "postgresql:///app", "env.example.com");
    /* the spec's or the conninfo's host wins over PGHOST */
    bad += resolve_is("db.example.com", NULL, "db.example.com");
    bad += resolve_is("10.0.0.1", NULL, NULL);
    bad += resolve_is("/tmp", NULL, NULL);
    bad += resolve_is(NULL, "host=ci.example.com", "ci.example.com");
    bad += resolve_is(NULL, "host=/var/run/postgresql", NULL);

    /* PGHOST that needs no lookup */
    const char *no_lookup[] = {"192.0.2.5", "::1", "/var/run/postgresql",
                               "a.example.com,b.example.com", ""};
    for (size_t i = 0; i < sizeof(no_lookup) / sizeof(*no_lookup); i++) {
        setenv("PGHOST", no_lookup[i], 1);
        bad += resolve_is(NULL, NULL, NULL);
    }
    assert_int_equal(bad, 0);
    assert_int_equal(live_blocks, 0);
}

/* PGHOSTADDR, like hostaddr in a conninfo, makes a lookup pointless:
 * libpq connects to it whatever the conninfo says, as long as the conninfo
 * has no hostaddr of its own. */
static void test_host_to_resolve_pghostaddr(void **state)
{
    (void)state;
    int bad = 0;
    setenv("PGHOST", "env.example.com", 1);
    setenv("PGHOSTADDR", "192.0.2.7", 1);
    bad += resolve_is(NULL, NULL, NULL);
    bad += resolve_is("db.example.com", NULL, NULL);
    bad += resolve_is(NULL, "dbname=x", NULL);
    bad += resolve_is("db.example.com", "dbname=x", NULL);
    bad += resolve_is(NULL, "host=ci.example.com", NULL);
    setenv("PGHOSTADDR", "", 1); /* empty: as unset */
    bad += resolve_is(NULL, NULL, "env.example.com");
    assert_int_equal(bad, 0);
}

/* ---- secrets never in messages ------------------------------------------- */

/* 1 (and a report) when the message or node id shows the password. */
static int shows_secret(const pgcm_error_t *err, const char *func,
                        const char *ctx)
{
    if (strstr(err->message, SECRET) == NULL &&
        strstr(err->node_id, SECRET) == NULL)
        return 0;
    print_error("%s, conninfo %s: password in error message: \"%s\"\n", func,
                ctx, err->message);
    return 1;
}

/* Both functions on one spec whose conninfo does not parse: neither
 * message may show the password; returns how many did. */
static int secret_leaks(const char *conninfo)
{
    pgcm_node_spec_t s = spec_n1();
    s.password = SECRET;
    s.conninfo = conninfo;
    pgcm_error_t err;
    int leaks = 0;

    memset(&err, 0, sizeof(err));
    assert_int_equal(pgcm__spec_validate(&s, &err), PGCM_EINVAL);
    leaks += shows_secret(&err, "pgcm__spec_validate", conninfo);

    conninfo_params_t p;
    memset(&err, 0, sizeof(err));
    assert_int_equal(pgcm__conninfo_build(&s, "replmon", NULL, &p, &err),
                     PGCM_EINVAL);
    leaks += shows_secret(&err, "pgcm__conninfo_build", conninfo);
    return leaks;
}

/* key=value conninfos that hold the password and have a syntax error */
static void test_password_not_in_messages_keyword_value(void **state)
{
    (void)state;
    const char *const conninfos[] = {
        "host=db password=" SECRET " port",
        "password=" SECRET " host='db",
        "password='" SECRET,
        "password=" SECRET " bogus=1",
        "password=" SECRET " =x",
        "user=me password = " SECRET " dbname",
        "host=db password='" SECRET "' sslmode",
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(conninfos) / sizeof(*conninfos); i++)
        bad += secret_leaks(conninfos[i]);

    /* and no validation error about a field quotes the spec's password */
    pgcm_node_spec_t s;
    int id_ok;
    for (int i = 0; bad_spec(i, &s, &id_ok) != NULL; i++) {
        s.password = SECRET;
        pgcm_error_t err;
        memset(&err, 0, sizeof(err));
        (void)pgcm__spec_validate(&s, &err);
        bad += shows_secret(&err, "pgcm__spec_validate", "(field error)");
    }
    assert_int_equal(bad, 0);
}

/* URI conninfos that hold the password (postgresql://user:password@... or
 * ?password=...) and have a syntax error: libpq quotes the URI, or the
 * token around the error, in its message. */
static void test_password_not_in_messages_uri(void **state)
{
    (void)state;
    const char *const conninfos[] = {
        "postgresql://me:" SECRET "@[::1/app",
        "postgresql://me:" SECRET "@db/app?sslmode",
        "postgresql://me:" SECRET "@db/app?nosuch=1",
        "postgresql://me:" SECRET "%zz@db/app",
        "postgresql://db/app?password=" SECRET "&x",
        "postgresql://db/app?password=" SECRET "%zz",
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(conninfos) / sizeof(*conninfos); i++)
        bad += secret_leaks(conninfos[i]);
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_init_defaults),
        cmocka_unit_test(test_options_init_defaults),
        cmocka_unit_test(test_validate_rejects_bad_specs),
        cmocka_unit_test(test_validate_rejects_del_in_id),
        cmocka_unit_test(test_validate_null_spec),
        cmocka_unit_test(test_validate_long_id_message),
        cmocka_unit_test(test_validate_accepts_boundaries),
        cmocka_unit_test(test_options_validate_rejects),
        cmocka_unit_test(test_options_validate_accepts_boundaries),
        cmocka_unit_test(test_equal),
        ALLOC_TEST(test_dup_is_deep),
        ALLOC_TEST(test_dup_keeps_nulls),
        ALLOC_TEST(test_dup_out_of_memory),
        ALLOC_TEST(test_set_allocator),
        ALLOC_TEST(test_build_minimal),
        ALLOC_TEST(test_build_fields),
        ALLOC_TEST(test_build_conninfo_base_overridden),
        ALLOC_TEST(test_build_uri_base),
        ALLOC_TEST(test_build_application_name),
        ALLOC_TEST(test_build_hostaddr),
        ALLOC_TEST(test_build_ssl_mapping),
        ALLOC_TEST(test_build_ssl_files),
        ALLOC_TEST(test_build_connect_timeout_rounding),
        cmocka_unit_test(test_build_connect_timeout_int_max),
        ALLOC_TEST(test_build_bad_conninfo),
        ALLOC_TEST(test_build_everything),
        ALLOC_TEST(test_build_out_of_memory),
        ENV_TEST(test_host_to_resolve),
        ENV_TEST(test_host_to_resolve_pghost),
        ENV_TEST(test_host_to_resolve_pghostaddr),
        cmocka_unit_test(test_password_not_in_messages_keyword_value),
        cmocka_unit_test(test_password_not_in_messages_uri),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
