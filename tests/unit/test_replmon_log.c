/* SPDX-License-Identifier: MIT */
/*
 * test_replmon_log.c - replmon's structured log: RFC 3339 timestamps, the
 * JSON and text line formats, secret masking, correlation ids, level and
 * format names, and the writer (lines reach the file in order, a secret
 * never does, the level filters, the pgcm hook carries the record).
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

#include <jansson.h>

#include "log.h"

static void test_time(void **state)
{
    char buf[32];

    (void)state;
    rm_log_format_time(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    rm_log_format_time(1704890096789LL, buf, sizeof(buf));
    assert_string_equal(buf, "2024-01-10T12:34:56.789Z");
    rm_log_format_time(1704890096007LL, buf, sizeof(buf));
    assert_string_equal(buf, "2024-01-10T12:34:56.007Z");
}

static void test_json_line(void **state)
{
    json_t *data = json_pack("{s:s,s:i}", "error", "ETIMEDOUT", "n", 3);
    rm_log_line_t l = {1704890096789LL,
                       PGCM_LOG_WARN,
                       "health_check",
                       "pub",
                       0x8000000000000abcULL,
                       "probe \"x\"\nfailed",
                       data};
    char *line = rm_log_format_line(RM_LOG_JSON, &l);
    json_error_t jerr;
    json_t *doc;
    size_t len, i;
    static const char *const order[] = {
        "{\"timestamp\":",      ",\"level\":",   ",\"event\":", ",\"node\":",
        ",\"correlation_id\":", ",\"message\":", ",\"data\":"};
    const char *at;

    (void)state;
    assert_non_null(line);
    len = strlen(line);
    assert_true(len > 0 && line[len - 1] == '\n');
    assert_true(strchr(line, '\n') == line + len - 1); /* one line */
    doc = json_loads(line, 0, &jerr);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "timestamp")),
                        "2024-01-10T12:34:56.789Z");
    assert_string_equal(json_string_value(json_object_get(doc, "level")),
                        "warn");
    assert_string_equal(json_string_value(json_object_get(doc, "event")),
                        "health_check");
    assert_string_equal(json_string_value(json_object_get(doc, "node")), "pub");
    assert_string_equal(
        json_string_value(json_object_get(doc, "correlation_id")),
        "8000000000000abc");
    assert_string_equal(json_string_value(json_object_get(doc, "message")),
                        "probe \"x\"\nfailed");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(doc, "data"), "n")),
        3);
    json_decref(doc);
    /* Fields in the documented order. */
    for (i = 0, at = line; i < sizeof(order) / sizeof(order[0]); i++) {
        at = strstr(at, order[i]);
        assert_non_null(at);
    }
    free(line);

    /* No node, no id, no data: null, null, {}. */
    l.node = NULL;
    l.correlation_id = 0;
    l.data = NULL;
    line = rm_log_format_line(RM_LOG_JSON, &l);
    doc = json_loads(line, 0, &jerr);
    assert_true(json_is_null(json_object_get(doc, "node")));
    assert_true(json_is_null(json_object_get(doc, "correlation_id")));
    assert_int_equal(json_object_size(json_object_get(doc, "data")), 0);
    json_decref(doc);
    free(line);
    json_decref(data);
}

static void test_text_line(void **state)
{
    json_t *data = json_pack("{s:s,s:s,s:i}", "error", "ECONN", "why",
                             "two words", "n", 2);
    rm_log_line_t l = {
        1704890096789LL,         PGCM_LOG_INFO, "state_changed", "sub", 0x10,
        "healthy\n-> unhealthy", data};
    char *line = rm_log_format_line(RM_LOG_TEXT, &l);

    (void)state;
    /* one line per record: a newline is shown escaped, as are control,
     * escape and bidi characters (textwidth.c's rule) */
    assert_string_equal(line, "2024-01-10T12:34:56.789Z info state_changed "
                              "node=sub cid=0000000000000010: healthy\\n-> "
                              "unhealthy error=ECONN why=\"two words\" n=2\n");
    free(line);
    l.message = "evil\x1b[2J\xe2\x80\xaename";
    line = rm_log_format_line(RM_LOG_TEXT, &l);
    assert_null(strchr(line, '\x1b'));
    assert_null(strstr(line, "\xe2\x80\xae"));
    assert_non_null(strstr(line, "evil\\x1b[2J\\u202ename"));
    free(line);
    l.message = "healthy\n-> unhealthy";
    l.node = NULL;
    l.correlation_id = 0;
    l.message = "";
    l.data = NULL;
    line = rm_log_format_line(RM_LOG_TEXT, &l);
    assert_string_equal(line, "2024-01-10T12:34:56.789Z info state_changed\n");
    free(line);
    json_decref(data);
}

static void test_mask(void **state)
{
    char *s;

    (void)state;
    s = rm_log_mask(strdup("pw=hunter2 and hunter2hunter2"), "hunter2");
    assert_string_equal(s, "pw=******** and ****************");
    free(s);
    s = rm_log_mask(strdup("a-long-secret-value!"), "long-secret-value");
    assert_string_equal(s, "a-********!");
    free(s);
    s = rm_log_mask(strdup("ab"), "ab"); /* too short to mask */
    assert_string_equal(s, "ab");
    free(s);
    assert_null(rm_log_mask(NULL, "secret"));
}

static void test_names_and_ids(void **state)
{
    pgcm_log_level_t level;
    rm_log_format_t format;
    uint64_t a, b;
    char buf[24];

    (void)state;
    assert_int_equal(rm_log_parse_level("debug", &level), 0);
    assert_int_equal(level, PGCM_LOG_DEBUG);
    assert_int_equal(rm_log_parse_level("warning", &level), 0);
    assert_int_equal(level, PGCM_LOG_WARN);
    assert_int_equal(rm_log_parse_level("error", &level), 0);
    assert_int_equal(level, PGCM_LOG_ERROR);
    assert_int_equal(rm_log_parse_level("loud", &level), -1);
    assert_int_equal(rm_log_parse_format("json", &format), 0);
    assert_int_equal(format, RM_LOG_JSON);
    assert_int_equal(rm_log_parse_format("xml", &format), -1);
    a = rm_log_correlation_id();
    b = rm_log_correlation_id();
    assert_true(a != b);
    assert_true(a >> 63 == 1 && b >> 63 == 1);
    rm_log_format_cid(0xabcULL, buf, sizeof(buf));
    assert_string_equal(buf, "0000000000000abc");
}

static void test_writer(void **state)
{
    char path[] = "/tmp/replmon-log-test-XXXXXX";
    int fd = mkstemp(path);
    rm_log_options_t o = {RM_LOG_JSON, PGCM_LOG_INFO, path};
    pgcm_log_record_t rec = {PGCM_LOG_WARN,
                             1704890096789LL,
                             "n1",
                             "connection_error",
                             "password hunter2secret rejected",
                             42,
                             PGCM_EAUTH,
                             "28P01",
                             -1};
    char err[256], line[4096];
    FILE *f;
    int n = 0;

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(rm_log_open(&o, err, sizeof(err)), 0);
    rm_log_add_secret("hunter2secret");
    assert_true(rm_log_enabled(PGCM_LOG_INFO));
    assert_false(rm_log_enabled(PGCM_LOG_DEBUG));
    rm_log(PGCM_LOG_DEBUG, "hidden", NULL, 0, NULL, "not written");
    for (int i = 0; i < 100; i++)
        rm_log(PGCM_LOG_INFO, "tick", "n1", 7, json_pack("{s:i}", "i", i),
               "tick %d", i);
    rm_log_pgcm(&rec, NULL);
    rm_log(PGCM_LOG_ERROR, "oops", NULL, 0, NULL, "with hunter2secret in it");
    rm_log_close();
    rm_log_forget_secrets();
    rm_log(PGCM_LOG_ERROR, "after", NULL, 0, NULL, "closed: not written");

    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        json_error_t jerr;
        json_t *doc = json_loads(line, 0, &jerr);
        const char *event;

        assert_non_null(doc);
        assert_null(strstr(line, "hunter2secret"));
        event = json_string_value(json_object_get(doc, "event"));
        if (n < 100) {
            assert_string_equal(event, "tick");
            assert_int_equal(json_integer_value(json_object_get(
                                 json_object_get(doc, "data"), "i")),
                             n);
        } else if (n == 100) {
            json_t *data = json_object_get(doc, "data");

            assert_string_equal(event, "connection_error");
            assert_string_equal(
                json_string_value(json_object_get(doc, "correlation_id")),
                "000000000000002a");
            assert_string_equal(
                json_string_value(json_object_get(data, "source")), "pgcm");
            assert_string_equal(
                json_string_value(json_object_get(data, "error")), "EAUTH");
            assert_string_equal(
                json_string_value(json_object_get(data, "sqlstate")), "28P01");
            assert_string_equal(
                json_string_value(json_object_get(doc, "message")),
                "password ******** rejected");
        } else {
            assert_string_equal(event, "oops");
        }
        json_decref(doc);
        n++;
    }
    fclose(f);
    unlink(path);
    assert_int_equal(n, 102);
    assert_int_equal(rm_log_dropped(), 0);
}

static void test_open_error(void **state)
{
    rm_log_options_t o = {RM_LOG_TEXT, PGCM_LOG_INFO,
                          "/nonexistent-dir/replmon.log"};
    char err[256];

    (void)state;
    assert_int_equal(rm_log_open(&o, err, sizeof(err)), -1);
    assert_string_equal(err, "cannot open the log file "
                             "/nonexistent-dir/replmon.log: No such file or "
                             "directory");
    assert_false(rm_log_enabled(PGCM_LOG_ERROR));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time),          cmocka_unit_test(test_json_line),
        cmocka_unit_test(test_text_line),     cmocka_unit_test(test_mask),
        cmocka_unit_test(test_names_and_ids), cmocka_unit_test(test_writer),
        cmocka_unit_test(test_open_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
