/* SPDX-License-Identifier: MIT */
/*
 * test_replmon_shard.c - --shard K/N: parsing, every node in exactly one
 * shard, a fair spread, and minimal movement when N changes (going from N
 * to N+1 moves nodes only into the new shard; going back moves only those).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "serve/shard.h"

#define NODES 1000

static char ids[NODES][32];

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < NODES; i++)
        snprintf(ids[i], sizeof(ids[i]), "node-%03d", i);
    return 0;
}

static void test_parse(void **state)
{
    static const struct {
        const char *text;
        const char *why;
    } bad[] = {
        {"3", "write K/N, e.g. 1/3 for the first of three shards"},
        {"a/3", "K and N must be whole numbers, e.g. 1/3"},
        {"1/", "K and N must be whole numbers, e.g. 1/3"},
        {"-1/3", "K and N must be whole numbers, e.g. 1/3"},
        {"1/0", "N must be from 1 to 1024"},
        {"1/5000", "N must be from 1 to 1024"},
        {"0/3", "K must be from 1 to N (shards are numbered from 1)"},
        {"4/3", "K must be from 1 to N (shards are numbered from 1)"},
    };
    const char *why = NULL;
    int k = 0, n = 0;

    (void)state;
    assert_int_equal(rm_shard_parse("2/3", &k, &n, &why), 0);
    assert_int_equal(k, 2);
    assert_int_equal(n, 3);
    assert_int_equal(rm_shard_parse("1/1", &k, &n, &why), 0);
    assert_int_equal(rm_shard_parse("1024/1024", &k, &n, &why), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(rm_shard_parse(bad[i].text, &k, &n, &why), -1);
        assert_string_equal(why, bad[i].why);
    }
}

/* Three shards over 30 nodes: each node in exactly one, none empty. */
static void test_thirty_nodes_three_shards(void **state)
{
    int per[4] = {0};

    (void)state;
    for (int i = 0; i < 30; i++) {
        int owners = 0;

        for (int k = 1; k <= 3; k++)
            owners += rm_shard_of(ids[i], 3) == k;
        assert_int_equal(owners, 1);
        per[rm_shard_of(ids[i], 3)]++;
    }
    assert_int_equal(per[1] + per[2] + per[3], 30);
    for (int k = 1; k <= 3; k++)
        assert_true(per[k] >= 4);
}

static void test_spread(void **state)
{
    (void)state;
    for (int n = 1; n <= 8; n++) {
        int per[9] = {0};

        for (int i = 0; i < NODES; i++) {
            int s = rm_shard_of(ids[i], n);

            assert_true(s >= 1 && s <= n);
            per[s]++;
        }
        for (int k = 1; k <= n; k++) {
            /* Within 25% of a fair share. */
            assert_true(per[k] * 4 * n >= 3 * NODES);
            assert_true(per[k] * 4 * n <= 5 * NODES);
        }
    }
}

static void test_minimal_movement(void **state)
{
    (void)state;
    for (int n = 1; n < 8; n++) {
        int moved = 0;

        for (int i = 0; i < NODES; i++) {
            int before = rm_shard_of(ids[i], n);
            int after = rm_shard_of(ids[i], n + 1);

            if (before != after) {
                /* Only into the new shard. */
                assert_int_equal(after, n + 1);
                moved++;
            }
        }
        /* About NODES / (n + 1) move, never more than needed. */
        assert_true(moved * 4 * (n + 1) >= 3 * NODES);
        assert_true(moved * 4 * (n + 1) <= 5 * NODES);
    }
    /* Deterministic: a pure function of the id. */
    assert_int_equal(rm_shard_of("primary", 5), rm_shard_of("primary", 5));
    assert_int_equal(rm_shard_of("x", 0), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_thirty_nodes_three_shards),
        cmocka_unit_test(test_spread),
        cmocka_unit_test(test_minimal_movement),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
