/* SPDX-License-Identifier: MIT */
/*
 * test_strmap.c - unit tests for the string-keyed hash map used for node
 * ids (pgcm__strmap_* in src/pgcm/strmap.c): put/get/del, overwrite (which
 * must adopt the new borrowed key), reuse of tombstones, growth to 10000
 * keys, deleting everything and inserting again, bounded memory under
 * insert/delete churn, and out-of-memory during growth.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

#define NKEYS 10000

/* Keys are borrowed by the map: they live here for the whole binary. */
static char keys[NKEYS][24];
static int values[NKEYS];

static int make_keys(void **state)
{
    (void)state;
    for (int i = 0; i < NKEYS; i++) {
        snprintf(keys[i], sizeof(keys[i]), "node-%d", i);
        values[i] = i;
    }
    return 0;
}

/* The map under test: freed by the teardown even when a test fails half
 * way, so a failure is not followed by a leak report. */
static strmap_t map;

static strmap_t *fresh_map(void)
{
    pgcm__strmap_free(&map);
    return &map;
}

static int free_map(void **state)
{
    (void)state;
    pgcm__strmap_free(&map);
    return 0;
}

static int is_pow2(size_t n)
{
    return n != 0 && (n & (n - 1)) == 0;
}

/* Structural invariants the probing relies on. */
static void assert_shape(const strmap_t *m)
{
    if (m->cap == 0) {
        assert_int_equal(m->count, 0);
        assert_int_equal(m->used, 0);
        return;
    }
    assert_true(is_pow2(m->cap));
    assert_true(m->count <= m->used);
    /* at least a quarter of the slots are empty, so probes end */
    assert_true(m->used * 4 < m->cap * 3 + 4);
    assert_true(m->used < m->cap);
}

static void test_empty_map(void **state)
{
    (void)state;
    strmap_t *m = fresh_map();
    assert_null(pgcm__strmap_get(m, "x"));
    assert_null(pgcm__strmap_del(m, "x"));
    assert_int_equal(m->count, 0);
    assert_int_equal(m->cap, 0);
    pgcm__strmap_free(m);
    pgcm__strmap_free(m); /* twice is harmless */
    assert_null(m->slots);
}

static void test_put_get_del(void **state)
{
    (void)state;
    strmap_t *m = fresh_map();
    assert_int_equal(pgcm__strmap_put(m, keys[0], &values[0]), PGCM_OK);
    assert_int_equal(pgcm__strmap_put(m, keys[1], &values[1]), PGCM_OK);
    assert_int_equal(pgcm__strmap_put(m, "", &values[2]), PGCM_OK);
    assert_int_equal(m->count, 3);
    assert_shape(m);

    assert_ptr_equal(pgcm__strmap_get(m, keys[0]), &values[0]);
    assert_ptr_equal(pgcm__strmap_get(m, keys[1]), &values[1]);
    assert_ptr_equal(pgcm__strmap_get(m, ""), &values[2]);
    assert_null(pgcm__strmap_get(m, keys[2]));
    assert_null(pgcm__strmap_get(m, "node-"));
    assert_null(pgcm__strmap_get(m, "node-00"));

    /* looked up by content, not by pointer */
    char copy[24];
    strcpy(copy, keys[1]);
    assert_ptr_equal(pgcm__strmap_get(m, copy), &values[1]);

    assert_ptr_equal(pgcm__strmap_del(m, copy), &values[1]);
    assert_null(pgcm__strmap_get(m, keys[1]));
    assert_null(pgcm__strmap_del(m, keys[1])); /* already gone */
    assert_null(pgcm__strmap_del(m, "never there"));
    assert_int_equal(m->count, 2);
    assert_ptr_equal(pgcm__strmap_get(m, keys[0]), &values[0]);
    assert_ptr_equal(pgcm__strmap_get(m, ""), &values[2]);

    assert_ptr_equal(pgcm__strmap_del(m, ""), &values[2]);
    assert_ptr_equal(pgcm__strmap_del(m, keys[0]), &values[0]);
    assert_int_equal(m->count, 0);
    assert_null(pgcm__strmap_get(m, keys[0]));
    pgcm__strmap_free(m);
    assert_int_equal(m->cap, 0);
    assert_int_equal(m->count, 0);
}

static void test_overwrite(void **state)
{
    (void)state;
    strmap_t *m = fresh_map();
    assert_int_equal(pgcm__strmap_put(m, keys[5], &values[5]), PGCM_OK);
    size_t used = m->used;
    assert_int_equal(pgcm__strmap_put(m, keys[5], &values[6]), PGCM_OK);
    assert_int_equal(m->count, 1);
    assert_int_equal(m->used, used);
    assert_ptr_equal(pgcm__strmap_get(m, keys[5]), &values[6]);

    /* a NULL value is stored too (get cannot tell it from absent) */
    assert_int_equal(pgcm__strmap_put(m, keys[5], NULL), PGCM_OK);
    assert_int_equal(m->count, 1);
    assert_null(pgcm__strmap_get(m, keys[5]));
    assert_null(pgcm__strmap_del(m, keys[5]));
    assert_int_equal(m->count, 0);
    pgcm__strmap_free(m);
}

/* The key is borrowed: an overwrite with another buffer holding the same
 * text must switch to that buffer, so the first may be freed (as when a
 * node is replaced by a new spec with the same id). ASan catches a read of
 * the freed one. */
static void test_overwrite_adopts_new_key(void **state)
{
    (void)state;
    strmap_t *m = fresh_map();
    char *old_key = strdup("replaced-node");
    char *new_key = strdup("replaced-node");
    assert_non_null(old_key);
    assert_non_null(new_key);
    assert_int_equal(pgcm__strmap_put(m, old_key, &values[1]), PGCM_OK);
    for (int i = 0; i < 40; i++) /* neighbours, and a growth */
        assert_int_equal(pgcm__strmap_put(m, keys[i], &values[i]), PGCM_OK);
    assert_int_equal(pgcm__strmap_put(m, new_key, &values[2]), PGCM_OK);
    memset(old_key, 'X', strlen(old_key));
    free(old_key);
    assert_ptr_equal(pgcm__strmap_get(m, "replaced-node"), &values[2]);
    for (int i = 40; i < 200; i++) /* rehashing reads every key */
        assert_int_equal(pgcm__strmap_put(m, keys[i], &values[i]), PGCM_OK);
    assert_ptr_equal(pgcm__strmap_get(m, "replaced-node"), &values[2]);
    assert_ptr_equal(pgcm__strmap_del(m, "replaced-node"), &values[2]);
    assert_int_equal(m->count, 200);
    pgcm__strmap_free(m);
    free(new_key);
}

/* A deleted slot leaves a tombstone; putting the same keys back reuses
 * tombstones instead of consuming empty slots, and lookups past a
 * tombstone still work. */
static void test_tombstone_reuse(void **state)
{
    (void)state;
    strmap_t *m = fresh_map();
    for (int i = 0; i < 10; i++)
        assert_int_equal(pgcm__strmap_put(m, keys[i], &values[i]), PGCM_OK);
    size_t cap = m->cap, used = m->used;
    assert_int_equal(used, 10);

    for (int i = 0; i < 10; i += 2)
        assert_ptr_equal(pgcm__strmap_del(m, keys[i]), &values[i]);
    assert_int_equal(m->count, 5);
    assert_int_equal(m->used, 10); /* tombstones still count as used */
    for (int i = 1; i < 10; i += 2)
        assert_ptr_equal(pgcm__strmap_get(m, keys[i]), &values[i]);

    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 10; i += 2)
            assert_int_equal(pgcm__strmap_put(m, keys[i], &values[i]), PGCM_OK);
        assert_int_equal(m->count, 10);
        /* no growth round after round: deleted slots are taken again */
        assert_int_equal(m->cap, cap);
        assert_true(m->used <= used + 1);
        for (int i = 0; i < 10; i++)
            assert_ptr_equal(pgcm__strmap_get(m, keys[i]), &values[i]);
        for (int i = 0; i < 10; i += 2)
            assert_ptr_equal(pgcm__strmap_del(m, keys[i]), &values[i]);
    }
    assert_shape(m);
    pgcm__strmap_free(m);
}

static void test_growth_to_10000(void **state)
{
    (void)state;
    strmap_t *m = fresh_map();
    size_t prev_cap = 0;
    int growths = 0;
    for (int i = 0; i < NKEYS; i++) {
        assert_int_equal(pgcm__strmap_put(m, keys[i], &values[i]), PGCM_OK);
        if (m->cap != prev_cap) {
            growths++;
            prev_cap = m->cap;
        }
        if (i % 997 == 0) {
            assert_shape(m);
            /* everything inserted so far is still there */
            for (int j = 0; j <= i; j += 13)
                assert_ptr_equal(pgcm__strmap_get(m, keys[j]), &values[j]);
        }
    }
    assert_int_equal(m->count, NKEYS);
    assert_shape(m);
    assert_true(m->cap >= NKEYS * 4 / 3);
    assert_true(m->cap <= 32768); /* no more than needed, within 2x */
    assert_true(growths >= 10);
    for (int i = 0; i < NKEYS; i++)
        assert_ptr_equal(pgcm__strmap_get(m, keys[i]), &values[i]);
    assert_null(pgcm__strmap_get(m, "node-10000"));
    assert_null(pgcm__strmap_get(m, "node--1"));

    /* delete every even key */
    for (int i = 0; i < NKEYS; i += 2)
        assert_ptr_equal(pgcm__strmap_del(m, keys[i]), &values[i]);
    assert_int_equal(m->count, NKEYS / 2);
    for (int i = 0; i < NKEYS; i++) {
        if (i % 2)
            assert_ptr_equal(pgcm__strmap_get(m, keys[i]), &values[i]);
        else
            assert_null(pgcm__strmap_get(m, keys[i]));
    }
    pgcm__strmap_free(m);
}

static void test_delete_all_then_reinsert(void **state)
{
    (void)state;
    strmap_t *m = fresh_map();
    for (int i = 0; i < NKEYS; i++)
        assert_int_equal(pgcm__strmap_put(m, keys[i], &values[i]), PGCM_OK);
    size_t cap = m->cap;

    for (int round = 0; round < 3; round++) {
        int shift = round == 0 ? 0 : 1; /* values put back below */
        /* delete in an order unrelated to insertion */
        for (int i = 0; i < NKEYS; i++) {
            int k = (int)(((long)i * 7919) % NKEYS);
            assert_ptr_equal(pgcm__strmap_del(m, keys[k]),
                             &values[(k + shift) % NKEYS]);
        }
        assert_int_equal(m->count, 0);
        for (int i = 0; i < NKEYS; i += 101)
            assert_null(pgcm__strmap_get(m, keys[i]));
        assert_shape(m);

        /* the same keys again, with other values */
        for (int i = NKEYS - 1; i >= 0; i--)
            assert_int_equal(
                pgcm__strmap_put(m, keys[i], &values[(i + 1) % NKEYS]),
                PGCM_OK);
        assert_int_equal(m->count, NKEYS);
        for (int i = 0; i < NKEYS; i++)
            assert_ptr_equal(pgcm__strmap_get(m, keys[i]),
                             &values[(i + 1) % NKEYS]);
        /* the tombstones were reused: no growth for the same key set */
        assert_int_equal(m->cap, cap);
        assert_shape(m);
    }
    pgcm__strmap_free(m);
}

/* Many deletes then inserts of new keys: a map holding a handful of live
 * entries (nodes added and removed over a long run, reloads) must not
 * keep doubling its table because of tombstones. */
static void test_churn_memory_stays_bounded(void **state)
{
    (void)state;
    strmap_t *m = fresh_map();
    const int live = 8;
    size_t max_cap = 0;
    for (int i = 0; i < 20 * NKEYS; i++) {
        int k = i % NKEYS;
        int old = (i - live) % NKEYS;
        if (i >= live)
            assert_ptr_equal(pgcm__strmap_del(m, keys[old]), &values[old]);
        assert_int_equal(pgcm__strmap_put(m, keys[k], &values[k]), PGCM_OK);
        assert_true(m->count <= (size_t)live);
        max_cap = m->cap > max_cap ? m->cap : max_cap;
    }
    for (int i = 20 * NKEYS - live; i < 20 * NKEYS; i++)
        assert_ptr_equal(pgcm__strmap_get(m, keys[i % NKEYS]),
                         &values[i % NKEYS]);
    assert_shape(m);
    if (max_cap > 256)
        fail_msg("8 live keys after 200000 put/del: the table grew to %zu "
                 "slots",
                 max_cap);
    pgcm__strmap_free(m);
}

/* ---- out of memory ------------------------------------------------------- */

static long budget = -1;

static void *t_malloc(size_t n)
{
    if (budget == 0)
        return NULL;
    if (budget > 0)
        budget--;
    return malloc(n);
}

static void *t_realloc(void *p, size_t n)
{
    if (budget == 0)
        return NULL;
    if (budget > 0)
        budget--;
    return realloc(p, n);
}

static void test_out_of_memory(void **state)
{
    (void)state;
    assert_int_equal(pgcm_set_allocator(t_malloc, t_realloc, free), PGCM_OK);
    strmap_t *m = fresh_map();

    /* the first put allocates the table */
    budget = 0;
    assert_int_equal(pgcm__strmap_put(m, keys[0], &values[0]), PGCM_ENOMEM);
    assert_int_equal(m->count, 0);
    assert_int_equal(m->cap, 0);
    assert_null(pgcm__strmap_get(m, keys[0]));

    /* fill up to the first growth, then fail it: nothing is lost */
    budget = -1;
    int n = 0;
    size_t cap;
    do {
        assert_int_equal(pgcm__strmap_put(m, keys[n], &values[n]), PGCM_OK);
        n++;
        cap = m->cap;
        budget = 0;
        int rc = pgcm__strmap_put(m, keys[n], &values[n]);
        budget = -1;
        if (rc == PGCM_ENOMEM)
            break;
        assert_int_equal(rc, PGCM_OK);
        n++;
    } while (n < 1000);
    assert_true(n < 1000);
    assert_int_equal(m->cap, cap);
    assert_int_equal(m->count, (size_t)n);
    assert_null(pgcm__strmap_get(m, keys[n]));
    for (int i = 0; i < n; i++)
        assert_ptr_equal(pgcm__strmap_get(m, keys[i]), &values[i]);

    /* an overwrite needs no memory */
    budget = 0;
    assert_int_equal(pgcm__strmap_put(m, keys[0], &values[9]), PGCM_OK);
    budget = -1;
    assert_ptr_equal(pgcm__strmap_get(m, keys[0]), &values[9]);

    /* and once memory is back the put succeeds */
    assert_int_equal(pgcm__strmap_put(m, keys[n], &values[n]), PGCM_OK);
    assert_ptr_equal(pgcm__strmap_get(m, keys[n]), &values[n]);
    pgcm__strmap_free(m);
    assert_int_equal(pgcm_set_allocator(NULL, NULL, NULL), PGCM_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_empty_map, free_map),
        cmocka_unit_test_teardown(test_put_get_del, free_map),
        cmocka_unit_test_teardown(test_overwrite, free_map),
        cmocka_unit_test_teardown(test_overwrite_adopts_new_key, free_map),
        cmocka_unit_test_teardown(test_tombstone_reuse, free_map),
        cmocka_unit_test_teardown(test_growth_to_10000, free_map),
        cmocka_unit_test_teardown(test_delete_all_then_reinsert, free_map),
        cmocka_unit_test_teardown(test_churn_memory_stays_bounded, free_map),
        cmocka_unit_test_teardown(test_out_of_memory, free_map),
    };
    return cmocka_run_group_tests(tests, make_keys, NULL);
}
