/* SPDX-License-Identifier: MIT */
/*
 * test_replmon_row_spool.c - rows kept aside (row_spool.h): in memory and
 * through the shared temporary file, in order, NULL apart from "", rows
 * bigger than the buffer, several spools interleaved in one file, and the
 * error when the temporary directory cannot be written.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "row_spool.h"

static void put_row(rm_spool_file_t *f, rm_row_spool_t *s, uint32_t tag,
                    const char *a, const char *b)
{
    const char *v[2] = {a, b};

    assert_int_equal(rm_row_spool_put(f, s, tag, 2, v, NULL), 0);
}

static void expect_row(rm_spool_file_t *f, rm_row_spool_t *s, uint32_t tag,
                       const char *a, const char *b)
{
    uint32_t t;
    int n;
    const char *const *v;

    assert_int_equal(rm_row_spool_get(f, s, &t, &n, &v), 1);
    assert_int_equal(t, tag);
    assert_int_equal(n, 2);
    if (a == NULL)
        assert_null(v[0]);
    else
        assert_string_equal(v[0], a);
    if (b == NULL)
        assert_null(v[1]);
    else
        assert_string_equal(v[1], b);
}

static void test_memory(void **state)
{
    rm_row_spool_t s;
    uint32_t t;
    int n;
    const char *const *v;

    (void)state;
    rm_row_spool_init(&s);
    put_row(NULL, &s, 1, "a", "");
    put_row(NULL, &s, 2, NULL, "b");
    {
        /* Explicit lengths: only that many bytes are kept. */
        const char *vals[1] = {"xyz"};
        int lens[1] = {2};

        assert_int_equal(rm_row_spool_put(NULL, &s, 3, 1, vals, lens), 0);
    }
    assert_int_equal(s.rows, 3);
    expect_row(NULL, &s, 1, "a", "");
    expect_row(NULL, &s, 2, NULL, "b");
    assert_int_equal(rm_row_spool_get(NULL, &s, &t, &n, &v), 1);
    assert_int_equal(n, 1);
    assert_string_equal(v[0], "xy");
    assert_int_equal(rm_row_spool_get(NULL, &s, &t, &n, &v), 0);
    assert_int_equal(rm_row_spool_get(NULL, &s, &t, &n, &v), 0);
    /* No more rows once reading started. */
    errno = 0;
    assert_int_equal(rm_row_spool_put(NULL, &s, 4, 1, v, NULL), -1);
    assert_int_equal(errno, EINVAL);
    rm_row_spool_free(&s);
}

static void test_empty(void **state)
{
    rm_row_spool_t s;
    rm_spool_file_t *f = rm_spool_file_new(NULL);
    uint32_t t;
    int n;
    const char *const *v;

    (void)state;
    rm_row_spool_init(&s);
    assert_int_equal(rm_row_spool_get(f, &s, &t, &n, &v), 0);
    rm_row_spool_free(&s);
    assert_int_equal(rm_spool_file_bytes(f), 0);
    rm_spool_file_free(f);
}

/* Two spools interleaved in one file, far past their buffers, with a row
 * bigger than a buffer in the middle. */
static void test_file(void **state)
{
    rm_spool_file_t *f = rm_spool_file_new(NULL);
    rm_row_spool_t a, b;
    char key[32], val[64], *big = malloc(100000);
    int i;

    (void)state;
    assert_non_null(f);
    memset(big, 'z', 99999);
    big[99999] = '\0';
    rm_row_spool_init(&a);
    rm_row_spool_init(&b);
    for (i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "%d", i);
        snprintf(val, sizeof(val), "value of row %d", i);
        put_row(f, &a, 7, key, val);
        put_row(f, &b, 8, val, i % 3 == 0 ? NULL : key);
        if (i == 2500)
            put_row(f, &a, 9, big, "after big");
    }
    /* Most of it went to the file; each buffer holds at most 16 KiB. */
    assert_true(rm_spool_file_bytes(f) > 150000);
    assert_true(a.len <= 16 * 1024 && b.len <= 16 * 1024);
    for (i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "%d", i);
        snprintf(val, sizeof(val), "value of row %d", i);
        expect_row(f, &a, 7, key, val);
        if (i == 2500)
            expect_row(f, &a, 9, big, "after big");
    }
    for (i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "%d", i);
        snprintf(val, sizeof(val), "value of row %d", i);
        expect_row(f, &b, 8, val, i % 3 == 0 ? NULL : key);
    }
    {
        uint32_t t;
        int n;
        const char *const *v;

        assert_int_equal(rm_row_spool_get(f, &a, &t, &n, &v), 0);
        assert_int_equal(rm_row_spool_get(f, &b, &t, &n, &v), 0);
    }
    rm_row_spool_free(&a);
    rm_row_spool_free(&b);
    rm_spool_file_free(f);
    free(big);
}

static void test_unwritable_dir(void **state)
{
    rm_spool_file_t *f = rm_spool_file_new("/nonexistent/replmon-test");
    rm_row_spool_t s;
    char val[1024];
    int i, rc = 0;

    (void)state;
    assert_string_equal(rm_spool_file_dir(f), "/nonexistent/replmon-test");
    memset(val, 'v', sizeof(val) - 1);
    val[sizeof(val) - 1] = '\0';
    rm_row_spool_init(&s);
    /* Fine while the rows fit the buffer; the first move to the file
     * fails with the directory's error. */
    for (i = 0; i < 100 && rc == 0; i++) {
        const char *v[1] = {val};

        errno = 0;
        rc = rm_row_spool_put(f, &s, 0, 1, v, NULL);
    }
    assert_int_equal(rc, -1);
    assert_int_equal(errno, ENOENT);
    assert_true(i > 10);
    rm_row_spool_free(&s);
    rm_spool_file_free(f);
}

static void test_tmpdir(void **state)
{
    rm_spool_file_t *f;

    (void)state;
    setenv("TMPDIR", "/var/tmp", 1);
    f = rm_spool_file_new(NULL);
    assert_string_equal(rm_spool_file_dir(f), "/var/tmp");
    rm_spool_file_free(f);
    setenv("TMPDIR", "", 1);
    f = rm_spool_file_new(NULL);
    assert_string_equal(rm_spool_file_dir(f), "/tmp");
    rm_spool_file_free(f);
    unsetenv("TMPDIR");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory), cmocka_unit_test(test_empty),
        cmocka_unit_test(test_file),   cmocka_unit_test(test_unwritable_dir),
        cmocka_unit_test(test_tmpdir),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
