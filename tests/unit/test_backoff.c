/* SPDX-License-Identifier: MIT */
/*
 * test_backoff.c - unit tests for the reconnect delay (pgcm__backoff_ms in
 * src/pgcm/backoff.c) and the jitter source (pgcm__random01): exponential
 * growth from the initial delay, the cap, the +-20% jitter band, the floor
 * of initial/2, clamping of out-of-range arguments, and no integer overflow
 * for large attempts or caps.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"

/* Run body in a child process, so that a sanitizer abort (undefined
 * behaviour) fails this one test instead of ending the whole binary. body
 * returns 0 when every check held. */
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

/* base = min(initial * 2^attempt, max), computed without overflow. */
static int64_t ref_base(int attempt, int64_t initial, int64_t max)
{
    int64_t base = initial;
    for (int i = 0; i < attempt && base < max; i++)
        base = base > max / 2 ? max : base * 2;
    return base < max ? base : max;
}

static void test_first_attempt_is_initial_with_jitter(void **state)
{
    (void)state;
    assert_int_equal(pgcm__backoff_ms(0, 0.5, 1000, 30000), 1000);
    assert_int_equal(pgcm__backoff_ms(0, 0.0, 1000, 30000), 800);
    int64_t hi = pgcm__backoff_ms(0, 0.999999, 1000, 30000);
    assert_in_range(hi, 1199, 1200);
    assert_true(hi < 1200); /* draw in [0,1): +20% is never reached */
    assert_int_equal(pgcm__backoff_ms(0, 0.25, 1000, 30000), 900);
    assert_int_equal(pgcm__backoff_ms(0, 0.75, 1000, 30000), 1100);
}

static void test_doubles_per_attempt_until_cap(void **state)
{
    (void)state;
    const int64_t expect[] = {1000,  2000,  4000,  8000,  16000,
                              30000, 30000, 30000, 30000, 30000};
    for (int a = 0; a < (int)(sizeof(expect) / sizeof(*expect)); a++)
        assert_int_equal(pgcm__backoff_ms(a, 0.5, 1000, 30000), expect[a]);

    /* a cap that is not a power-of-two multiple of initial */
    assert_int_equal(pgcm__backoff_ms(0, 0.5, 1000, 3000), 1000);
    assert_int_equal(pgcm__backoff_ms(1, 0.5, 1000, 3000), 2000);
    assert_int_equal(pgcm__backoff_ms(2, 0.5, 1000, 3000), 3000);
    assert_int_equal(pgcm__backoff_ms(3, 0.5, 1000, 3000), 3000);
}

static void test_never_above_max(void **state)
{
    (void)state;
    /* at the cap, +20% jitter would exceed max: it is cut to max */
    assert_int_equal(pgcm__backoff_ms(20, 0.999999, 1000, 30000), 30000);
    assert_int_equal(pgcm__backoff_ms(20, 0.6, 1000, 30000), 30000);
    /* -20% jitter at the cap still applies (spreads synchronized nodes) */
    assert_int_equal(pgcm__backoff_ms(20, 0.0, 1000, 30000), 24000);
    /* max == initial */
    assert_int_equal(pgcm__backoff_ms(5, 0.999999, 1000, 1000), 1000);
    assert_int_equal(pgcm__backoff_ms(5, 0.0, 1000, 1000), 800);
}

static void test_band_sweep(void **state)
{
    (void)state;
    const int64_t initials[] = {1, 2, 7, 10, 100, 1000, 5000, 60000};
    const int64_t maxes[] = {1, 10, 1000, 3000, 30000, 600000, INT_MAX};
    const double draws[] = {0.0, 0.001, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999999};
    for (size_t i = 0; i < sizeof(initials) / sizeof(*initials); i++) {
        for (size_t m = 0; m < sizeof(maxes) / sizeof(*maxes); m++) {
            int64_t init = initials[i];
            int64_t max = maxes[m] < init ? init : maxes[m];
            for (int a = 0; a <= 64; a++) {
                int64_t base = ref_base(a, init, max);
                int64_t prev = -1;
                for (size_t d = 0; d < sizeof(draws) / sizeof(*draws); d++) {
                    int64_t v =
                        pgcm__backoff_ms(a, draws[d], initials[i], maxes[m]);
                    /* never above max, never below initial/2 */
                    assert_true(v <= max);
                    assert_true(v >= init / 2);
                    /* within the +-20% band around base */
                    assert_true((double)v >= 0.8 * (double)base - 1.0);
                    assert_true((double)v <= 1.2 * (double)base);
                    /* a larger draw never gives a shorter delay */
                    assert_true(v >= prev);
                    prev = v;
                }
            }
        }
    }
}

static void test_monotonic_in_attempt(void **state)
{
    (void)state;
    for (double draw = 0.0; draw < 1.0; draw += 0.125) {
        int64_t prev = 0;
        for (int a = 0; a < 40; a++) {
            int64_t v = pgcm__backoff_ms(a, draw, 250, 45000);
            assert_true(v >= prev);
            prev = v;
        }
        assert_int_equal(prev, (int64_t)(45000 * (0.8 + 0.4 * draw)) > 45000
                                   ? 45000
                                   : (int64_t)(45000 * (0.8 + 0.4 * draw)));
    }
}

static void test_out_of_range_arguments_are_clamped(void **state)
{
    (void)state;
    /* negative attempt: as attempt 0 */
    assert_int_equal(pgcm__backoff_ms(-1, 0.5, 1000, 30000), 1000);
    assert_int_equal(pgcm__backoff_ms(INT_MIN, 0.5, 1000, 30000), 1000);
    /* draw below 0: as 0; draw at or above 1: just below 1 */
    assert_int_equal(pgcm__backoff_ms(0, -0.5, 1000, 30000), 800);
    assert_int_equal(pgcm__backoff_ms(0, -1e300, 1000, 30000), 800);
    assert_int_equal(pgcm__backoff_ms(0, 1.0, 1000, 30000),
                     pgcm__backoff_ms(0, 0.999999, 1000, 30000));
    assert_int_equal(pgcm__backoff_ms(0, 7.5, 1000, 30000),
                     pgcm__backoff_ms(0, 0.999999, 1000, 30000));
    assert_true(pgcm__backoff_ms(0, 1.0, 1000, 30000) < 1200);
    /* initial below 1: as 1 */
    assert_in_range(pgcm__backoff_ms(0, 0.5, 0, 30000), 0, 1);
    assert_in_range(pgcm__backoff_ms(0, 0.5, -100, 30000), 0, 1);
    assert_int_equal(pgcm__backoff_ms(10, 0.5, 0, 30000), 1024);
    /* max below initial: as initial */
    assert_int_equal(pgcm__backoff_ms(0, 0.5, 1000, 10), 1000);
    assert_int_equal(pgcm__backoff_ms(9, 0.999999, 1000, 10), 1000);
    assert_int_equal(pgcm__backoff_ms(9, 0.0, 1000, -5), 800);
}

static void test_huge_attempt_is_fast_and_capped(void **state)
{
    (void)state;
    assert_int_equal(pgcm__backoff_ms(INT_MAX, 0.5, 1000, 30000), 30000);
    assert_int_equal(pgcm__backoff_ms(INT_MAX, 0.0, 1, INT_MAX),
                     (int64_t)(0.8 * INT_MAX));
    /* the values manager options can hold (int milliseconds) */
    for (int a = 0; a < 100; a++) {
        int64_t v = pgcm__backoff_ms(a, 0.999999, INT_MAX, INT_MAX);
        assert_true(v <= INT_MAX);
        assert_true(v >= (int64_t)(0.8 * INT_MAX));
    }
}

/* The arguments are int64_t: a large cap must not overflow the doubling or
 * the jitter multiplication (signed overflow is undefined behaviour). */
static int body_large_cap_no_overflow(void)
{
    int bad = 0;
    const int64_t max = INT64_MAX / 4;
    for (int a = 0; a < 200; a++) {
        int64_t base = ref_base(a, 1000, max);
        int64_t lo = pgcm__backoff_ms(a, 0.0, 1000, max);
        int64_t hi = pgcm__backoff_ms(a, 0.999999, 1000, max);
        if (lo > max || hi > max || lo < 500 || hi < lo ||
            (double)lo < 0.8 * (double)base - 1.0) {
            fprintf(stderr, "attempt %d: lo %lld hi %lld, want [%.0f, %lld]\n",
                    a, (long long)lo, (long long)hi, 0.8 * (double)base,
                    (long long)max);
            bad = 1;
        }
    }
    int64_t top = pgcm__backoff_ms(100, 0.5, 1000, INT64_MAX);
    if (top < INT64_MAX / 2) {
        fprintf(stderr, "attempt 100, max INT64_MAX: %lld\n", (long long)top);
        bad = 1;
    }
    return bad;
}

static void test_large_cap_no_overflow(void **state)
{
    (void)state;
    expect_child_ok(body_large_cap_no_overflow, "backoff with a large cap");
}

static void test_random01_range_and_spread(void **state)
{
    (void)state;
    double sum = 0.0, lo = 1.0, hi = 0.0;
    const int n = 20000;
    for (int i = 0; i < n; i++) {
        double r = pgcm__random01();
        assert_true(r >= 0.0);
        assert_true(r < 1.0);
        sum += r;
        lo = r < lo ? r : lo;
        hi = r > hi ? r : hi;
    }
    /* uniform: mean 0.5 (sd of the mean ~0.002), covering the interval */
    assert_true(sum / n > 0.47 && sum / n < 0.53);
    assert_true(lo < 0.01);
    assert_true(hi > 0.99);
}

static void test_random_jitter_spreads_delays(void **state)
{
    (void)state;
    /* Many nodes failing together must not retry in step. */
    int64_t lo = INT64_MAX, hi = 0;
    for (int i = 0; i < 1000; i++) {
        int64_t v = pgcm__backoff_ms(3, pgcm__random01(), 1000, 30000);
        assert_in_range(v, 6400, 9599);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    assert_true(hi - lo > 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_attempt_is_initial_with_jitter),
        cmocka_unit_test(test_doubles_per_attempt_until_cap),
        cmocka_unit_test(test_never_above_max),
        cmocka_unit_test(test_band_sweep),
        cmocka_unit_test(test_monotonic_in_attempt),
        cmocka_unit_test(test_out_of_range_arguments_are_clamped),
        cmocka_unit_test(test_huge_attempt_is_fast_and_capped),
        cmocka_unit_test(test_large_cap_no_overflow),
        cmocka_unit_test(test_random01_range_and_spread),
        cmocka_unit_test(test_random_jitter_spreads_delays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
