/* SPDX-License-Identifier: MIT */
/*
 * test_config_units.c - the scalar rules of the configuration: durations,
 * sizes, numbers and booleans, ${VAR} interpolation edge cases, "did you
 * mean" suggestions and the diagnostic line format.
 */
#include "test_config_util.h"

#include "config_internal.h"

static int64_t dur(const char *text, int64_t plain)
{
    int64_t ms = -12345;
    const char *why = NULL;
    int rc = rm_config_parse_duration(text, plain, &ms, &why);
    if (rc != 0)
        print_message("'%s': %s\n", text, why);
    assert_int_equal(rc, 0);
    return ms;
}

static const char *dur_err(const char *text)
{
    int64_t ms;
    const char *why = NULL;
    assert_int_equal(rm_config_parse_duration(text, 1000, &ms, &why), -1);
    assert_non_null(why);
    return why;
}

static void test_durations(void **state)
{
    (void)state;
    assert_int_equal(dur("500ms", 1000), 500);
    assert_int_equal(dur("5s", 1000), 5000);
    assert_int_equal(dur("1m", 1000), 60000);
    assert_int_equal(dur("1h", 1000), 3600000);
    assert_int_equal(dur("1m30s", 1000), 90000);
    assert_int_equal(dur("1h 2m 3s 4ms", 1000), 3723004);
    assert_int_equal(dur("1.5s", 1000), 1500);
    assert_int_equal(dur(".5s", 1000), 500);
    assert_int_equal(dur("2.5ms", 1000), 3); /* rounded to the nearest */
    assert_int_equal(dur(" 10 s ", 1000), 10000);
    assert_int_equal(dur("0", 1000), 0);
    /* A plain number: seconds in the file, milliseconds for S2. */
    assert_int_equal(dur("5", 1000), 5000);
    assert_int_equal(dur("0.25", 1000), 250);
    assert_int_equal(dur("30000", 1), 30000);

    assert_string_equal(dur_err(""),
                        "empty duration; write e.g. 500ms, 5s, 1m or 1h");
    assert_string_equal(dur_err("-5s"),
                        "negative duration; use a positive one such as 5s");
    assert_string_equal(dur_err("5x"),
                        "unknown duration unit; use ms, s, m or h (lower "
                        "case)");
    assert_string_equal(dur_err("5S"),
                        "unknown duration unit; use ms, s, m or h (lower "
                        "case)");
    assert_string_equal(dur_err("5sec"),
                        "unknown duration unit; use ms, s, m or h (lower "
                        "case)");
    assert_string_equal(dur_err("s"),
                        "not a duration; write e.g. 500ms, 5s, 1m or 1h");
    assert_string_equal(dur_err("1m1m"), "a unit appears twice in a "
                                         "duration; write e.g. 1m30s");
    assert_string_equal(dur_err("1m 30"), "a number without a unit inside a "
                                          "duration; write e.g. 1m30s");
    assert_string_equal(dur_err("1.s"),
                        "not a duration; write e.g. 500ms, 5s, 1m or 1h");
    assert_string_equal(dur_err("99999999999999999h"), "duration too large");
    assert_int_equal(rm_config_parse_duration(NULL, 1000, NULL, NULL), -1);
}

static int64_t size(const char *text)
{
    int64_t b = -1;
    const char *why = NULL;
    int rc = rm_config_parse_size(text, &b, &why);
    if (rc != 0)
        print_message("'%s': %s\n", text, why);
    assert_int_equal(rc, 0);
    return b;
}

static void test_sizes(void **state)
{
    (void)state;
    assert_int_equal(size("512"), 512);
    assert_int_equal(size("512B"), 512);
    assert_int_equal(size("1KB"), 1024);
    assert_int_equal(size("1kb"), 1024);
    assert_int_equal(size("1KiB"), 1024);
    assert_int_equal(size("1K"), 1024);
    assert_int_equal(size("10MB"), 10LL * 1024 * 1024);
    assert_int_equal(size("1GB"), 1073741824LL);
    assert_int_equal(size("1.5GB"), 1610612736LL);
    assert_int_equal(size("5 GB"), 5LL * 1073741824LL);
    assert_int_equal(size("1TB"), 1099511627776LL);
    assert_int_equal(size("2TiB"), 2199023255552LL);
    int64_t b;
    const char *why;
    assert_int_equal(rm_config_parse_size("1XB", &b, &why), -1);
    assert_string_equal(why, "unknown size unit; use B, KB, MB, GB or TB "
                             "(1024-based)");
    assert_int_equal(rm_config_parse_size("1PB", &b, &why), -1);
    assert_int_equal(rm_config_parse_size("-1GB", &b, &why), -1);
    assert_string_equal(why, "negative size; use a positive one such as 1GB");
    assert_int_equal(rm_config_parse_size("GB", &b, &why), -1);
    assert_string_equal(why, "not a size; write e.g. 512MB, 1GB or 1TB");
    assert_int_equal(rm_config_parse_size("", &b, &why), -1);
    assert_int_equal(rm_config_parse_size("99999999999TB", &b, &why), -1);
    assert_string_equal(why, "size too large");
    assert_int_equal(rm_config_parse_size(NULL, &b, NULL), -1);
}

static void test_listen(void **state)
{
    static const struct {
        const char *text;
        const char *host;
        int port;
    } good[] = {{"127.0.0.1:9187", "127.0.0.1", 9187},
                {"0.0.0.0:0", "0.0.0.0", 0},
                {"localhost:65535", "localhost", 65535},
                {"[::1]:9300", "::1", 9300},
                {"[::]:80", "::", 80}};
    static const struct {
        const char *text;
        const char *why;
    } bad[] = {
        {"", "no address given; write ADDR:PORT such as 127.0.0.1:9187"},
        {"9187", "no port; write ADDR:PORT such as 127.0.0.1:9187"},
        {":9187", "no address before the port; write 127.0.0.1:PORT for "
                  "this machine only or 0.0.0.0:PORT for every interface"},
        {"127.0.0.1:", "the port is not a number from 0 to 65535"},
        {"127.0.0.1:65536", "the port is not a number from 0 to 65535"},
        {"127.0.0.1: 80", "the port is not a number from 0 to 65535"},
        {"127.0.0.1:+80", "the port is not a number from 0 to 65535"},
        {"::1:9187", "put an IPv6 address in brackets, as [::1]:9187"},
        {"[::1]9187", "an IPv6 address goes in brackets before the port, as "
                      "[::1]:9187"},
        {"a b:1", "the address holds a space, '/' or a control character"},
    };
    char host[64];
    const char *why;
    int port;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
        port = -1;
        assert_int_equal(rm_config_parse_listen(good[i].text, host,
                                                sizeof(host), &port, &why),
                         0);
        assert_string_equal(host, good[i].host);
        assert_int_equal(port, good[i].port);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        why = NULL;
        assert_int_equal(rm_config_parse_listen(bad[i].text, host, sizeof(host),
                                                &port, &why),
                         -1);
        assert_string_equal(why, bad[i].why);
    }
    assert_int_equal(
        rm_config_parse_listen("127.0.0.1:1", host, 4, &port, &why), -1);
    assert_string_equal(why, "the address is too long");
}

static void test_numbers_and_booleans(void **state)
{
    (void)state;
    int64_t v;
    const char *why;
    assert_int_equal(rm__parse_int("42", &v, &why), 0);
    assert_int_equal(v, 42);
    assert_int_equal(rm__parse_int("-7", &v, &why), 0);
    assert_int_equal(v, -7);
    assert_int_equal(rm__parse_int("+7", &v, &why), 0);
    assert_int_equal(rm__parse_int("4.2", &v, &why), -1);
    assert_int_equal(rm__parse_int("0x10", &v, &why), -1);
    assert_int_equal(rm__parse_int("", &v, &why), -1);
    assert_int_equal(rm__parse_int("99999999999999999999", &v, &why), -1);
    assert_string_equal(why, "number too large");
    double d;
    assert_int_equal(rm__parse_number("2.5", &d, &why), 0);
    assert_true(d == 2.5);
    assert_int_equal(rm__parse_number("-1", &d, &why), 0);
    assert_true(d == -1.0);
    assert_int_equal(rm__parse_number("1e3", &d, &why), -1);
    assert_int_equal(rm__parse_number("nan", &d, &why), -1);
    int b;
    const char *yes[] = {"true", "True", "YES", "on"};
    const char *no[] = {"false", "FALSE", "no", "Off"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(rm__parse_bool(yes[i], &b), 0);
        assert_int_equal(b, 1);
        assert_int_equal(rm__parse_bool(no[i], &b), 0);
        assert_int_equal(b, 0);
    }
    assert_int_equal(rm__parse_bool("1", &b), -1);
    assert_int_equal(rm__parse_bool("maybe", &b), -1);
}

/* ---- interpolation ---------------------------------------------------- */

static char *interp(const char *in)
{
    rm_interp_t r;
    int rc = rm__interpolate(in, strlen(in), fake_getenv, &r);
    if (rc != 0)
        print_message("'%s': %s\n", in, r.err);
    assert_int_equal(rc, 0);
    return r.value;
}

static void expect_interp(const char *in, const char *out)
{
    char *v = interp(in);
    assert_string_equal(v, out);
    free(v);
}

static void expect_interp_err(const char *in, const char *err)
{
    rm_interp_t r;
    assert_int_equal(rm__interpolate(in, strlen(in), fake_getenv, &r), -1);
    assert_null(r.value);
    assert_string_equal(r.err, err);
}

static void test_interpolation(void **state)
{
    (void)state;
    env_clear();
    env_set("A", "alpha");
    env_set("E", "");
    env_set("REF", "${A}");
    expect_interp("plain", "plain");
    expect_interp("", "");
    expect_interp("${A}", "alpha");
    expect_interp("x${A}y${A}", "xalphayalpha");
    expect_interp("${E}", "");
    /* :- uses the default when unset or empty; - only when unset. */
    expect_interp("${U:-d}", "d");
    expect_interp("${E:-d}", "d");
    expect_interp("${A:-d}", "alpha");
    expect_interp("${U-d}", "d");
    expect_interp("${E-d}", "");
    expect_interp("${U:-}", "");
    expect_interp("${U:-a b: c}", "a b: c");
    /* Nested defaults, expanded only when used. */
    expect_interp("${U:-${A}}", "alpha");
    expect_interp("${U:-${U2:-deep}}", "deep");
    expect_interp("${A:-${UNSET_BUT_UNUSED}}", "alpha");
    /* Literals. */
    expect_interp("$${A}", "${A}");
    expect_interp("$${", "${");
    expect_interp("a$$b", "a$$b");
    expect_interp("$A $", "$A $");
    expect_interp("$", "$");
    expect_interp("}{", "}{");
    expect_interp("${U:-$${x}}", "${x}");
    /* A value is inserted as it is, never expanded again. */
    expect_interp("${REF}", "${A}");

    rm_interp_t r;
    assert_int_equal(rm__interpolate("${A}${U:-x}", 11, fake_getenv, &r), 0);
    assert_int_equal(r.refs, 2);
    free(r.value);
    assert_int_equal(rm__interpolate("plain $${A}", 11, fake_getenv, &r), 0);
    assert_int_equal(r.refs, 0);
    free(r.value);
    /* Only len bytes are read. */
    assert_int_equal(rm__interpolate("${A}garbage", 4, fake_getenv, &r), 0);
    assert_string_equal(r.value, "alpha");
    free(r.value);

    expect_interp_err("${U}", "environment variable U is not set; set it, or "
                              "give a default with ${U:-value}");
    expect_interp_err("${U:-${V}}", "environment variable V is not set; set "
                                    "it, or give a default with ${V:-value}");
    expect_interp_err("${A", "unterminated '${A' (no closing '}'); close it, "
                             "or write '$${' for a literal '${'");
    expect_interp_err("${A:-x", "unterminated '${A' (no closing '}'); close "
                                "it, or write '$${' for a literal '${'");
    expect_interp_err("${", "'${' is not followed by a variable name; write "
                            "${NAME} (letters, digits and '_'), or '$${' for "
                            "a literal '${'");
    expect_interp_err("${}", "'${' is not followed by a variable name; write "
                             "${NAME} (letters, digits and '_'), or '$${' for "
                             "a literal '${'");
    expect_interp_err("${9}",
                      "'${' is not followed by a valid variable name; names "
                      "are letters, digits and '_' and do not start with a "
                      "digit; write '$${' for a literal '${'");
    expect_interp_err("${A:?no}", "unsupported form '${A:...'; use ${NAME}, "
                                  "${NAME:-default} or ${NAME-default}, or "
                                  "'$${' for a literal '${'");
    expect_interp_err("${A B}", "unsupported form '${A ...'; use ${NAME}, "
                                "${NAME:-default} or ${NAME-default}, or "
                                "'$${' for a literal '${'");
    /* The syntax of an unused default is still checked. */
    expect_interp_err("${A:-${}}", "'${' is not followed by a variable name; "
                                   "write ${NAME} (letters, digits and '_'), "
                                   "or '$${' for a literal '${'");
    /* Deep nesting is refused, not a stack overflow. */
    char deep[2048] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "${U:-");
    strcat(deep, "x");
    for (int i = 0; i < 40; i++)
        strcat(deep, "}");
    expect_interp_err(deep, "defaults nested more than 16 deep; simplify the "
                            "${VAR:-default} chain");
    /* A long name. */
    char name[400] = "${";
    memset(name + 2, 'N', 300);
    strcpy(name + 302, "}");
    expect_interp_err(name, "variable name longer than 255 characters; use a "
                            "shorter name");
}

/* ---- suggestions ------------------------------------------------------- */

static void test_suggestions(void **state)
{
    (void)state;
    assert_int_equal(rm__levenshtein("", ""), 0);
    assert_int_equal(rm__levenshtein("host", "host"), 0);
    assert_int_equal(rm__levenshtein("hots", "host"), 1); /* transposed */
    assert_int_equal(rm__levenshtein("kitten", "sitting"), 3);
    assert_int_equal(rm__levenshtein("HOST", "host"), 0);
    assert_int_equal(rm__levenshtein("key-path", "key_path"), 0);
    static const char *const keys[] = {"health_check_interval",
                                       "health_check_timeout",
                                       "query_timeout",
                                       "max",
                                       "min",
                                       "host"};
    const size_t n = sizeof(keys) / sizeof(*keys);
    assert_string_equal(rm__suggest("health_check_intervl", keys, n),
                        "health_check_interval");
    assert_string_equal(rm__suggest("healthCheckTimeout", keys, n),
                        "health_check_timeout");
    assert_string_equal(rm__suggest("HEALTH-CHECK-INTERVAL", keys, n),
                        "health_check_interval");
    assert_string_equal(rm__suggest("querytimeout", keys, n), "query_timeout");
    assert_string_equal(rm__suggest("maxx", keys, n), "max");
    assert_string_equal(rm__suggest("hots", keys, n), "host");
    assert_null(rm__suggest("banana", keys, n));
    assert_null(rm__suggest("x", keys, n));
    assert_null(rm__suggest("", keys, n));
    assert_null(rm__suggest(NULL, keys, n));
    assert_null(rm__suggest("host", keys, 0));
}

/* The edit distance as the textbook does it (optimal string alignment,
 * ASCII case folded, '-' as '_'), to check the bit-vector one against. */
static char ref_fold(char c)
{
    if (c >= 'A' && c <= 'Z')
        return (char)(c - 'A' + 'a');
    return c == '-' ? '_' : c;
}

static size_t ref_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    static size_t d[70][70];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = ref_fold(a[i - 1]) == ref_fold(b[j - 1]) ? 0 : 1;
            size_t best = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ref_fold(a[i - 1]) == ref_fold(b[j - 2]) &&
                ref_fold(a[i - 2]) == ref_fold(b[j - 1]) &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

static void random_word(char *out, size_t max_len, unsigned *seed)
{
    static const char alphabet[] = "abcAB_-x1";
    size_t n = (size_t)rand_r(seed) % (max_len + 1);
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[(size_t)rand_r(seed) % (sizeof(alphabet) - 1)];
    out[n] = '\0';
}

static void test_distance_matches_reference(void **state)
{
    (void)state;
    unsigned seed = 12345;
    char a[65], b[65];
    for (int round = 0; round < 20000; round++) {
        /* Mostly short words (many ties and transpositions), some long. */
        size_t max = round % 10 == 0 ? 64 : 9;
        random_word(a, max, &seed);
        random_word(b, max, &seed);
        size_t want = ref_distance(a, b), got = rm__levenshtein(a, b);
        if (want != got) {
            print_message("distance('%s', '%s'): %zu, want %zu\n", a, b, got,
                          want);
            fail();
        }
    }
    memset(a, 'a', 64);
    a[64] = '\0';
    assert_int_equal(rm__levenshtein(a, a), 0);
    assert_int_equal(rm__levenshtein(a, ""), 64);
    char longer[70];
    memset(longer, 'a', 65);
    longer[65] = '\0';
    assert_true(rm__levenshtein(longer, "a") > 1000);
}

/* The suggestion as it was specified: the first candidate that differs
 * only in case, '_' and '-', else the first closest one if close enough. */
static const char *ref_suggest(const char *word, const char *const *cands,
                               size_t n)
{
    char sw[65], sc[65];
    size_t len = strlen(word);
    if (len == 0 || len > 64)
        return NULL;
    size_t o = 0;
    for (const char *p = word; *p; p++) {
        char f = ref_fold(*p);
        if (f != '_' && f != ' ' && f != '.')
            sw[o++] = f;
    }
    sw[o] = '\0';
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        o = 0;
        for (const char *p = cands[i]; *p && o < 64; p++) {
            char f = ref_fold(*p);
            if (f != '_' && f != ' ' && f != '.')
                sc[o++] = f;
        }
        sc[o] = '\0';
        if (sw[0] != '\0' && strcmp(sw, sc) == 0)
            return cands[i];
        size_t d = ref_distance(word, cands[i]);
        if (d < best_d) {
            best_d = d;
            best = cands[i];
        }
    }
    size_t limit = len / 3 < 1 ? 1 : len / 3 > 4 ? 4 : len / 3;
    if (best == NULL)
        return NULL;
    size_t longest = len > strlen(best) ? len : strlen(best);
    return best_d <= limit && best_d < longest ? best : NULL;
}

static void test_suggest_matches_reference(void **state)
{
    (void)state;
    unsigned seed = 777;
    char words[40][65];
    const char *cands[40];
    for (int round = 0; round < 3000; round++) {
        size_t n = (size_t)rand_r(&seed) % 40;
        for (size_t i = 0; i < n; i++) {
            random_word(words[i], 10, &seed);
            cands[i] = words[i];
        }
        char w[65];
        random_word(w, 10, &seed);
        const char *want = ref_suggest(w, cands, n);
        const char *got = rm__suggest(w, cands, n);
        if (want != got) {
            print_message("suggest('%s'): %s, want %s\n", w,
                          got ? got : "(none)", want ? want : "(none)");
            fail();
        }
    }
}

/* ---- diagnostics ------------------------------------------------------- */

static void test_diag_format(void **state)
{
    (void)state;
    rm_diags_t d;
    rm_diags_init(&d);
    rm__diag_add(&d, RM_DIAG_ERROR, "f.yaml", 3, 7, "nodes.a.port",
                 "%d is out of range; use 1-65535", 70000);
    rm__diag_add(&d, RM_DIAG_WARNING, "f.yaml", 0, 0, "", "loose %s", "perms");
    rm__diag_add(&d, RM_DIAG_ERROR, "environment", 0, 0, "PGX", "bad\nvalue");
    rm__diag_add(&d, RM_DIAG_ERROR, "f.yaml", 2, 0, "k", "no column");
    assert_int_equal(d.count, 4);
    assert_int_equal(d.errors, 3);
    assert_int_equal(d.warnings, 1);
    char line[256];
    rm_diag_format(&d.items[0], line, sizeof(line));
    assert_string_equal(line,
                        "f.yaml:3:7: nodes.a.port: 70000 is out of range; "
                        "use 1-65535");
    rm_diag_format(&d.items[1], line, sizeof(line));
    assert_string_equal(line, "f.yaml: warning: loose perms");
    rm_diag_format(&d.items[2], line, sizeof(line));
    assert_string_equal(line, "environment: PGX: bad value"); /* one line */
    rm_diag_format(&d.items[3], line, sizeof(line));
    assert_string_equal(line, "f.yaml:2: k: no column");
    /* Truncation reports the needed length, as snprintf. */
    char small[8];
    size_t need = rm_diag_format(&d.items[0], small, sizeof(small));
    assert_int_equal(need, strlen("f.yaml:3:7: nodes.a.port: 70000 is out "
                                  "of range; use 1-65535"));
    assert_string_equal(small, "f.yaml:");

    /* Sorting puts them in file order, stably. */
    rm__diags_sort(&d, 0);
    assert_string_equal(d.items[0].file, "environment");
    assert_int_equal(d.items[1].line, 0);
    assert_int_equal(d.items[2].line, 2);
    assert_int_equal(d.items[3].line, 3);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(rm_diags_print(&d, f), 4);
    fclose(f);
    assert_string_equal(buf, "environment: PGX: bad value\n"
                             "f.yaml: warning: loose perms\n"
                             "f.yaml:2: k: no column\n"
                             "f.yaml:3:7: nodes.a.port: 70000 is out of "
                             "range; use 1-65535\n");
    free(buf);
    assert_int_equal(rm_diags_print(NULL, stdout), 0);
    rm_diags_free(&d);
    assert_int_equal(d.count, 0);
    /* A NULL list swallows diagnostics. */
    assert_int_equal(rm__diag_add(NULL, RM_DIAG_ERROR, "f", 1, 1, "", "x"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_listen),
        cmocka_unit_test(test_numbers_and_booleans),
        cmocka_unit_test(test_interpolation),
        cmocka_unit_test(test_suggestions),
        cmocka_unit_test(test_distance_matches_reference),
        cmocka_unit_test(test_suggest_matches_reference),
        cmocka_unit_test(test_diag_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
