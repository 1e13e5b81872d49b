/* SPDX-License-Identifier: MIT */
/*
 * test_errors.c - unit tests for error codes and libpq error text
 * (src/pgcm/error.c): pgcm_strerror and pgcm_err_name for every code of
 * PGCM_ERRNO_MAP and unknown ones, pgcm__error_set/clear, reading libpq
 * messages with pgcm__pq_error_parse (verbose "SEVERITY:  SQLSTATE: "
 * prefixes, connection prefixes, hints and LOCATION lines, no SQLSTATE,
 * empty and NULL input, small buffers) and classifying failed connections
 * with pgcm__classify_connect_error.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

#define REPORT(...)                                                            \
    do {                                                                       \
        print_error(__VA_ARGS__);                                              \
        print_error("\n");                                                     \
        bad++;                                                                 \
    } while (0)

/* ---- codes --------------------------------------------------------------- */

static const struct {
    int code;
    const char *name;
    const char *text;
} codes[] = {
#define CODE_ROW(name, value, text) {value, #name, text},
    PGCM_ERRNO_MAP(CODE_ROW)
#undef CODE_ROW
};
#define N_CODES (sizeof(codes) / sizeof(*codes))

static void test_strerror_and_name_every_code(void **state)
{
    (void)state;
    assert_int_equal(N_CODES, 14);
    for (size_t i = 0; i < N_CODES; i++) {
        assert_string_equal(pgcm_strerror(codes[i].code), codes[i].text);
        assert_string_equal(pgcm_err_name(codes[i].code), codes[i].name);
        /* the enum agrees with the map */
        assert_int_equal(codes[i].code, -(int)i);
        /* names and texts are distinct */
        for (size_t j = i + 1; j < N_CODES; j++) {
            assert_string_not_equal(codes[i].name, codes[j].name);
            assert_string_not_equal(codes[i].text, codes[j].text);
        }
    }
    assert_string_equal(pgcm_err_name(PGCM_OK), "OK");
    assert_string_equal(pgcm_strerror(PGCM_OK), "success");
    assert_string_equal(pgcm_err_name(PGCM_ETIMEDOUT), "ETIMEDOUT");
    assert_string_equal(pgcm_strerror(PGCM_ETIMEDOUT), "timed out");
    assert_string_equal(pgcm_err_name(PGCM_EAUTH), "EAUTH");
    assert_string_equal(pgcm_err_name(PGCM_EINTERNAL), "EINTERNAL");
}

static void test_strerror_unknown(void **state)
{
    (void)state;
    const int unknown[] = {1, 13, -14, -100, 12345, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(*unknown); i++) {
        assert_string_equal(pgcm_strerror(unknown[i]), "unknown error");
        assert_string_equal(pgcm_err_name(unknown[i]), "EUNKNOWN");
    }
}

/* ---- pgcm_error_t helpers ------------------------------------------------ */

static void test_error_set_and_clear(void **state)
{
    (void)state;
    pgcm_error_t err;
    memset(&err, 0x41, sizeof(err));
    assert_int_equal(pgcm__error_set(&err, PGCM_ECONN, "node-a",
                                     "node '%s': %s (%d)", "node-a", "refused",
                                     7),
                     PGCM_ECONN);
    assert_int_equal(err.code, PGCM_ECONN);
    assert_string_equal(err.node_id, "node-a");
    assert_string_equal(err.sqlstate, "");
    assert_string_equal(err.message, "node 'node-a': refused (7)");

    /* NULL node: empty node id */
    assert_int_equal(pgcm__error_set(&err, PGCM_EINVAL, NULL, "x"),
                     PGCM_EINVAL);
    assert_string_equal(err.node_id, "");

    /* NULL err: only the code comes back */
    assert_int_equal(pgcm__error_set(NULL, PGCM_ENOMEM, "n", "%s", "m"),
                     PGCM_ENOMEM);

    /* long node ids and messages are truncated, always terminated */
    char id[200], msg[2000];
    memset(id, 'i', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    memset(msg, 'm', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    pgcm__error_set(&err, PGCM_ESQL, id, "%s", msg);
    assert_int_equal(strlen(err.node_id), sizeof(err.node_id) - 1);
    assert_int_equal(strlen(err.message), sizeof(err.message) - 1);
    assert_int_equal(strncmp(err.node_id, id, sizeof(err.node_id) - 1), 0);

    pgcm__error_clear(&err);
    assert_int_equal(err.code, PGCM_OK);
    assert_string_equal(err.message, "");
    assert_string_equal(err.node_id, "");
    assert_string_equal(err.sqlstate, "");
    pgcm__error_clear(NULL);
}

/* ---- pgcm__pq_error_parse ------------------------------------------------ */

typedef struct parse_case {
    int line;
    const char *in;
    const char *msg;
    const char *sqlstate;
} parse_case_t;

/* Message shapes libpq produces (PQerrorMessage, PQresultErrorMessage),
 * with PQERRORS_DEFAULT and PQERRORS_VERBOSE. */
static const parse_case_t parse_cases[] = {
    /* verbose, connection failure reported by the server */
    {__LINE__,
     "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  "
     "28P01: password authentication failed for user \"x\"\n"
     "LOCATION:  auth_failed, auth.c:323\n",
     "connection to server at \"127.0.0.1\", port 5432 failed: FATAL: "
     "password authentication failed for user \"x\"",
     "28P01"},
    {__LINE__,
     "connection to server at \"db\" (192.0.2.1), port 5432 failed: FATAL:  "
     "3D000: database \"nope\" does not exist\n"
     "LOCATION:  InitPostgres, postinit.c:941\n",
     "connection to server at \"db\" (192.0.2.1), port 5432 failed: FATAL: "
     "database \"nope\" does not exist",
     "3D000"},
    {__LINE__,
     "connection to server on socket \"/tmp/.s.PGSQL.5432\" failed: "
     "FATAL:  53300: sorry, too many clients already\n",
     "connection to server on socket \"/tmp/.s.PGSQL.5432\" failed: FATAL: "
     "sorry, too many clients already",
     "53300"},
    {__LINE__, "FATAL:  57P03: the database system is starting up\n",
     "FATAL: the database system is starting up", "57P03"},
    {__LINE__,
     "FATAL:  28000: no pg_hba.conf entry for host \"192.0.2.9\", user "
     "\"x\", database \"y\", no encryption\n",
     "FATAL: no pg_hba.conf entry for host \"192.0.2.9\", user \"x\", "
     "database \"y\", no encryption",
     "28000"},
    /* verbose, a query error with a LINE, caret and LOCATION */
    {__LINE__,
     "ERROR:  42P01: relation \"nope\" does not exist\n"
     "LINE 1: SELECT * FROM nope\n"
     "                      ^\n"
     "LOCATION:  parserOpenTable, parse_relation.c:1392\n",
     "ERROR: relation \"nope\" does not exist", "42P01"},
    {__LINE__, "ERROR:  57014: canceling statement due to user request\n",
     "ERROR: canceling statement due to user request", "57014"},
    {__LINE__,
     "ERROR:  22012: division by zero\nLOCATION:  int4div, int.c:841\n",
     "ERROR: division by zero", "22012"},
    /* default verbosity: no SQLSTATE in the text; libpq's padding goes */
    {__LINE__,
     "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  "
     "password authentication failed for user \"x\"\n",
     "connection to server at \"127.0.0.1\", port 5432 failed: FATAL: "
     "password authentication failed for user \"x\"",
     ""},
    {__LINE__, "ERROR:  relation \"nope\" does not exist\nLINE 1: x\n",
     "ERROR: relation \"nope\" does not exist", ""},
    /* client-side failures: no SQLSTATE; hints on the next line dropped */
    {__LINE__,
     "connection to server at \"127.0.0.1\", port 1 failed: Connection "
     "refused\n\tIs the server running on that host and accepting TCP/IP "
     "connections?\n",
     "connection to server at \"127.0.0.1\", port 1 failed: Connection "
     "refused",
     ""},
    {__LINE__,
     "connection to server on socket \"/tmp/.s.PGSQL.5432\" failed: No such "
     "file or directory\n\tIs the server running locally and accepting "
     "connections on that socket?\n",
     "connection to server on socket \"/tmp/.s.PGSQL.5432\" failed: No such "
     "file or directory",
     ""},
    {__LINE__,
     "could not translate host name \"nohost\" to address: Name or service "
     "not known\n",
     "could not translate host name \"nohost\" to address: Name or service "
     "not known",
     ""},
    {__LINE__, "timeout expired\n", "timeout expired", ""},
    {__LINE__,
     "server closed the connection unexpectedly\n\tThis probably means the "
     "server terminated abnormally\n\tbefore or while processing the "
     "request.\n",
     "server closed the connection unexpectedly", ""},
    {__LINE__,
     "connection to server at \"db\" (192.0.2.1), port 5432 failed: "
     "fe_sendauth: no password supplied\n",
     "connection to server at \"db\" (192.0.2.1), port 5432 failed: "
     "fe_sendauth: no password supplied",
     ""},
    /* several hosts tried: the first one's line */
    {__LINE__,
     "connection to server at \"a\" (192.0.2.1), port 5432 failed: "
     "Connection refused\n\tIs the server running on that host and "
     "accepting TCP/IP connections?\nconnection to server at \"b\" "
     "(192.0.2.2), port 5432 failed: FATAL:  53300: sorry, too many clients "
     "already\n",
     "connection to server at \"a\" (192.0.2.1), port 5432 failed: "
     "Connection refused",
     ""},
    /* no trailing newline; trailing blanks trimmed */
    {__LINE__, "FATAL:  28P01: bad password", "FATAL: bad password", "28P01"},
    {__LINE__, "something went wrong   \n", "something went wrong", ""},
    /* things that only look a bit like a SQLSTATE stay */
    {__LINE__, "ERROR:  abcde: lower case\n", "ERROR: abcde: lower case", ""},
    {__LINE__, "ERROR:  ABCDEF: six\n", "ERROR: ABCDEF: six", ""},
    {__LINE__, "ERROR:  ABCD: four\n", "ERROR: ABCD: four", ""},
    {__LINE__, "ERROR: 28P01: one space\n", "ERROR: 28P01: one space", ""},
    /* the first SQLSTATE is the one reported */
    {__LINE__, "FATAL:  28P01: first  53300: second\n", "FATAL: first second",
     "28P01"},
    /* nothing meaningful */
    {__LINE__, "\n", "", ""},
    {__LINE__, "   \n", "", ""},
    {__LINE__, "", "", ""},
};

static void test_parse_shapes(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(*parse_cases); i++) {
        const parse_case_t *c = &parse_cases[i];
        char msg[512], sqlstate[6];
        memset(msg, 'Z', sizeof(msg));
        memset(sqlstate, 'Z', sizeof(sqlstate));
        pgcm__pq_error_parse(c->in, msg, sizeof(msg), sqlstate);
        if (memchr(sqlstate, '\0', sizeof(sqlstate)) == NULL ||
            strcmp(sqlstate, c->sqlstate) != 0 || strcmp(msg, c->msg) != 0)
            REPORT("parse case at line %d:\n  want [%s] sqlstate [%s]\n  got "
                   " [%s] sqlstate [%.6s]",
                   c->line, c->msg, c->sqlstate, msg, sqlstate);
        /* never more than one line, never the SQLSTATE itself */
        if (strchr(msg, '\n') != NULL)
            REPORT("parse case at line %d: newline in [%s]", c->line, msg);
        if (c->sqlstate[0] != '\0' && strstr(msg, c->sqlstate) != NULL)
            REPORT("parse case at line %d: SQLSTATE left in [%s]", c->line,
                   msg);
    }
    assert_int_equal(bad, 0);
}

/* libpq (and some poolers) may end the first line right after the
 * "...failed: " prefix and put the server's message on the next line; the
 * function then appends that line, which must be read like the first: the
 * SQLSTATE taken out and recorded. */
static void test_parse_prefix_only_first_line(void **state)
{
    (void)state;
    char msg[512], sqlstate[6];
    pgcm__pq_error_parse("connection to server at \"db\" (192.0.2.1), port "
                         "5432 failed: \nFATAL:  28P01: password "
                         "authentication failed for user \"x\"\n"
                         "LOCATION:  auth_failed, auth.c:323\n",
                         msg, sizeof(msg), sqlstate);
    assert_string_equal(msg, "connection to server at \"db\" (192.0.2.1), "
                             "port 5432 failed: FATAL: password "
                             "authentication failed for user \"x\"");
    assert_string_equal(sqlstate, "28P01");

    /* without a SQLSTATE the next line is simply appended */
    pgcm__pq_error_parse("connection to server at \"db\" (192.0.2.1), port "
                         "5432 failed: \nserver closed the connection\n",
                         msg, sizeof(msg), sqlstate);
    assert_string_equal(msg, "connection to server at \"db\" (192.0.2.1), "
                             "port 5432 failed: server closed the connection");
    assert_string_equal(sqlstate, "");

    /* a prefix with nothing after it */
    pgcm__pq_error_parse("connection to server at \"db\", port 5432 failed: "
                         "\n",
                         msg, sizeof(msg), sqlstate);
    assert_string_equal(msg,
                        "connection to server at \"db\", port 5432 failed:");
}

static void test_parse_null_and_empty(void **state)
{
    (void)state;
    char msg[64], sqlstate[6];
    memset(msg, 'Z', sizeof(msg));
    memcpy(sqlstate, "ZZZZZ", 6);
    pgcm__pq_error_parse(NULL, msg, sizeof(msg), sqlstate);
    assert_string_equal(msg, "");
    assert_string_equal(sqlstate, "");

    memset(msg, 'Z', sizeof(msg));
    memcpy(sqlstate, "ZZZZZ", 6);
    pgcm__pq_error_parse("", msg, sizeof(msg), sqlstate);
    assert_string_equal(msg, "");
    assert_string_equal(sqlstate, "");

    /* a zero-sized buffer is not written to */
    memset(msg, 'Z', sizeof(msg));
    memcpy(sqlstate, "ZZZZZ", 6);
    pgcm__pq_error_parse("FATAL:  28P01: x", msg, 0, sqlstate);
    assert_int_equal(msg[0], 'Z');
    pgcm__pq_error_parse("FATAL:  28P01: x", NULL, 0, sqlstate);
}

/* The message is cut to the buffer, always terminated, never written
 * past msglen. */
static void test_parse_truncation(void **state)
{
    (void)state;
    const char *in = "connection to server at \"127.0.0.1\", port 5432 "
                     "failed: FATAL:  28P01: password authentication failed "
                     "for user \"x\"\nLOCATION:  auth_failed, auth.c:323\n";
    const char *full = "connection to server at \"127.0.0.1\", port 5432 "
                       "failed: FATAL: password authentication failed for "
                       "user \"x\"";
    for (size_t len = 1; len <= strlen(full) + 8; len++) {
        char buf[256], sqlstate[6];
        memset(buf, 'Z', sizeof(buf));
        pgcm__pq_error_parse(in, buf, len, sqlstate);
        /* bytes past the buffer untouched */
        for (size_t k = len; k < sizeof(buf); k++) {
            if (buf[k] != 'Z')
                fail_msg("msglen %zu: byte %zu written", len, k);
        }
        size_t n = strnlen(buf, len);
        assert_true(n < len); /* terminated inside the buffer */
        /* a prefix of the full message (blanks at the cut trimmed) */
        assert_int_equal(strncmp(buf, full, n), 0);
        if (len > strlen(full))
            assert_string_equal(buf, full);
    }

    char one[1] = {'Z'};
    char sqlstate[6];
    pgcm__pq_error_parse(in, one, 1, sqlstate);
    assert_int_equal(one[0], '\0');

    char small[8];
    pgcm__pq_error_parse("FATAL:  28P01: password authentication failed", small,
                         sizeof(small), sqlstate);
    assert_string_equal(small, "FATAL:");
    assert_string_equal(sqlstate, "28P01");
}

/* The SQLSTATE does not depend on how much of the text fits: a small
 * message buffer (health.last_error is 256 bytes, and a host name alone
 * may be 253) must not turn an authentication failure (EAUTH, retried
 * slowly) into a plain connection failure. */
static void test_parse_sqlstate_survives_small_buffer(void **state)
{
    (void)state;
    const char *in = "connection to server at \"127.0.0.1\", port 5432 "
                     "failed: FATAL:  28P01: password authentication failed "
                     "for user \"x\"\nLOCATION:  auth_failed, auth.c:323\n";
    const size_t lens[] = {1, 16, 40, 56};
    int bad = 0;
    for (size_t i = 0; i < sizeof(lens) / sizeof(*lens); i++) {
        char buf[64], sqlstate[6];
        pgcm__pq_error_parse(in, buf, lens[i], sqlstate);
        if (strcmp(sqlstate, "28P01") != 0)
            REPORT("msglen %zu: sqlstate [%s], want [28P01]", lens[i],
                   sqlstate);
    }
    assert_int_equal(bad, 0);
}

/* ---- pgcm__classify_connect_error ---------------------------------------- */

static void test_classify_by_sqlstate(void **state)
{
    (void)state;
    const struct {
        const char *sqlstate;
        int want;
    } cases[] = {
        /* retrying will not fix these */
        {"28P01", PGCM_EAUTH}, /* invalid_password */
        {"28000", PGCM_EAUTH}, /* invalid_authorization_specification */
        {"3D000", PGCM_EAUTH}, /* invalid_catalog_name */
        {"42501", PGCM_EAUTH}, /* insufficient_privilege (CONNECT) */
        /* these pass */
        {"53300", PGCM_ECONN}, /* too_many_connections */
        {"57P03", PGCM_ECONN}, /* cannot_connect_now */
        {"57P01", PGCM_ECONN}, /* admin_shutdown */
        {"08006", PGCM_ECONN}, /* connection_failure */
        {"08001", PGCM_ECONN}, /* sqlclient_unable_to_establish_sqlconnection */
        {"53200", PGCM_ECONN}, /* out_of_memory */
        {"XX000", PGCM_ECONN}, /* internal_error */
        {"3D001", PGCM_ECONN}, /* not 3D000 */
        {"42502", PGCM_ECONN}, /* not 42501 */
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        int got = pgcm__classify_connect_error(cases[i].sqlstate, "whatever");
        if (got != cases[i].want)
            REPORT("sqlstate %s -> %s, want %s", cases[i].sqlstate,
                   pgcm_err_name(got), pgcm_err_name(cases[i].want));
    }
    assert_int_equal(bad, 0);

    /* the SQLSTATE decides, whatever the text says */
    assert_int_equal(
        pgcm__classify_connect_error("53300", "password authentication failed"),
        PGCM_ECONN);
    assert_int_equal(pgcm__classify_connect_error("28P01", "timeout expired"),
                     PGCM_EAUTH);
    assert_int_equal(pgcm__classify_connect_error("28P01", NULL), PGCM_EAUTH);
}

/* error.c's own comment lists 0A000 (feature_not_supported, e.g. a
 * replication connection the server refuses) with the configuration
 * errors retrying will not fix. */
static void test_classify_feature_not_supported(void **state)
{
    (void)state;
    assert_int_equal(pgcm__classify_connect_error("0A000", "unsupported"),
                     PGCM_EAUTH);
}

static void test_classify_by_text(void **state)
{
    (void)state;
    const struct {
        const char *msg;
        int want;
    } cases[] = {
        {"connection to server at \"db\" (192.0.2.1), port 5432 failed: "
         "fe_sendauth: no password supplied",
         PGCM_EAUTH},
        {"connection to server at \"db\", port 5432 failed: FATAL:  password "
         "authentication failed for user \"x\"",
         PGCM_EAUTH},
        {"FATAL:  no pg_hba.conf entry for host \"192.0.2.9\", user \"x\"",
         PGCM_EAUTH},
        {"FATAL:  database \"nope\" does not exist", PGCM_EAUTH},
        {"FATAL:  role \"nobody\" does not exist", PGCM_EAUTH},
        {"server does not support SSL, but SSL was required", PGCM_EAUTH},
        {"SSL error: certificate verify failed", PGCM_EAUTH},
        {"server certificate for \"db\" does not match host name \"x\"",
         PGCM_EAUTH},
        {"root certificate file \"/root/.postgresql/root.crt\" does not "
         "exist",
         PGCM_EAUTH},
        {"could not read root certificate file \"/x\": No such file",
         PGCM_EAUTH},
        {"could not open certificate file \"/c\": Permission denied",
         PGCM_EAUTH},
        {"could not load private key file \"/k\": bad decrypt", PGCM_EAUTH},
        {"invalid sslmode value: \"bogus\"", PGCM_EAUTH},
        /* transient: retry */
        {"connection to server at \"127.0.0.1\", port 1 failed: Connection "
         "refused",
         PGCM_ECONN},
        {"could not translate host name \"nohost\" to address: Name or "
         "service not known",
         PGCM_ECONN},
        {"could not translate host name \"db\" to address: Temporary failure "
         "in name resolution",
         PGCM_ECONN},
        {"timeout expired", PGCM_ECONN},
        {"server closed the connection unexpectedly", PGCM_ECONN},
        {"FATAL:  sorry, too many clients already", PGCM_ECONN},
        {"FATAL:  the database system is starting up", PGCM_ECONN},
        {"FATAL:  the database system is shutting down", PGCM_ECONN},
        {"connection to server on socket \"/tmp/.s.PGSQL.5432\" failed: No "
         "such file or directory",
         PGCM_ECONN},
        {"could not connect to server: Network is unreachable", PGCM_ECONN},
        {"", PGCM_ECONN},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        int got = pgcm__classify_connect_error("", cases[i].msg);
        int got_null = pgcm__classify_connect_error(NULL, cases[i].msg);
        if (got != cases[i].want || got_null != cases[i].want)
            REPORT("text [%s] -> %s/%s, want %s", cases[i].msg,
                   pgcm_err_name(got), pgcm_err_name(got_null),
                   pgcm_err_name(cases[i].want));
    }
    assert_int_equal(bad, 0);
    assert_int_equal(pgcm__classify_connect_error(NULL, NULL), PGCM_ECONN);
    assert_int_equal(pgcm__classify_connect_error("", NULL), PGCM_ECONN);
}

/* parse then classify, as node.c does with PQerrorMessage */
static void test_parse_then_classify(void **state)
{
    (void)state;
    char msg[256], sqlstate[6];
    pgcm__pq_error_parse("connection to server at \"127.0.0.1\", port 5432 "
                         "failed: FATAL:  28P01: password authentication "
                         "failed for user \"x\"\nLOCATION:  x\n",
                         msg, sizeof(msg), sqlstate);
    assert_int_equal(pgcm__classify_connect_error(sqlstate, msg), PGCM_EAUTH);

    pgcm__pq_error_parse("connection to server at \"127.0.0.1\", port 5432 "
                         "failed: FATAL:  57P03: the database system is "
                         "starting up\n",
                         msg, sizeof(msg), sqlstate);
    assert_int_equal(pgcm__classify_connect_error(sqlstate, msg), PGCM_ECONN);

    pgcm__pq_error_parse("connection to server at \"127.0.0.1\", port 5432 "
                         "failed: FATAL:  password authentication failed for "
                         "user \"x\"\n",
                         msg, sizeof(msg), sqlstate);
    assert_int_equal(pgcm__classify_connect_error(sqlstate, msg), PGCM_EAUTH);

    pgcm__pq_error_parse("connection to server at \"127.0.0.1\", port 1 "
                         "failed: Connection refused\n\tIs the server "
                         "running on that host?\n",
                         msg, sizeof(msg), sqlstate);
    assert_int_equal(pgcm__classify_connect_error(sqlstate, msg), PGCM_ECONN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_and_name_every_code),
        cmocka_unit_test(test_strerror_unknown),
        cmocka_unit_test(test_error_set_and_clear),
        cmocka_unit_test(test_parse_shapes),
        cmocka_unit_test(test_parse_prefix_only_first_line),
        cmocka_unit_test(test_parse_null_and_empty),
        cmocka_unit_test(test_parse_truncation),
        cmocka_unit_test(test_parse_sqlstate_survives_small_buffer),
        cmocka_unit_test(test_classify_by_sqlstate),
        cmocka_unit_test(test_classify_feature_not_supported),
        cmocka_unit_test(test_classify_by_text),
        cmocka_unit_test(test_parse_then_classify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
