/* SPDX-License-Identifier: MIT */
/*
 * test_replmon_conflicts.c - what counts as a subscription's conflicts
 * (errors, and on 18 the conflicts that raise none, without counting the
 * erroring ones twice) and their rate between two rounds: by the node's own
 * clock, matched by node, kind and name, unknown after a statistics reset,
 * for a first round, for pglogical and for rounds too close together.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conflicts.h"

static rm_snapshot_t *snap_new(int64_t collected_ms, double epoch)
{
    rm_snapshot_t *s = calloc(1, sizeof(*s));

    s->nodes = calloc(2, sizeof(rm_node_t));
    s->count = 2;
    s->collected_ms = collected_ms;
    snprintf(s->nodes[0].id, 64, "a");
    snprintf(s->nodes[1].id, 64, "b");
    s->nodes[0].server_epoch = epoch;
    s->nodes[1].server_epoch = NAN; /* not read: the rounds' times */
    return s;
}

static rm_subscription_t *sub_add(rm_node_t *n, const char *name,
                                  rm_sub_kind_t kind, int64_t apply,
                                  int64_t sync)
{
    rm_subscription_t *s;
    size_t k;

    n->subs = realloc(n->subs, (n->nsubs + 1) * sizeof(*s));
    s = &n->subs[n->nsubs++];
    memset(s, 0, sizeof(*s));
    s->name = strdup(name);
    s->kind = kind;
    s->apply_error_count = apply;
    s->sync_error_count = sync;
    for (k = 0; k < RM_CONFL_COUNT; k++)
        s->confl[k] = RM_NONE;
    s->conflict_rate_per_min = NAN;
    return s;
}

static void test_conflict_count(void **state)
{
    rm_subscription_t s;
    size_t k;

    (void)state;
    memset(&s, 0, sizeof(s));
    for (k = 0; k < RM_CONFL_COUNT; k++)
        s.confl[k] = RM_NONE;
    s.apply_error_count = s.sync_error_count = RM_NONE; /* 14, pglogical */
    assert_true(rm_subscription_conflicts(&s) == RM_NONE);
    s.apply_error_count = 3;
    s.sync_error_count = 1;
    assert_true(rm_subscription_conflicts(&s) == 4); /* 15-17 */
    /* 18: insert_exists raised the 3 apply errors; update_missing and
     * delete_origin_differs were only counted. */
    s.confl[RM_CONFL_INSERT_EXISTS] = 3;
    s.confl[RM_CONFL_UPDATE_MISSING] = 5;
    s.confl[RM_CONFL_DELETE_ORIGIN_DIFFERS] = 2;
    s.confl[RM_CONFL_MULTIPLE_UNIQUE_CONFLICTS] = 0;
    assert_true(rm_subscription_conflicts(&s) == 11);
    assert_true(rm_confl_raises_error(RM_CONFL_INSERT_EXISTS));
    assert_true(rm_confl_raises_error(RM_CONFL_UPDATE_EXISTS));
    assert_true(rm_confl_raises_error(RM_CONFL_MULTIPLE_UNIQUE_CONFLICTS));
    assert_false(rm_confl_raises_error(RM_CONFL_UPDATE_ORIGIN_DIFFERS));
    assert_false(rm_confl_raises_error(RM_CONFL_DELETE_MISSING));
    assert_string_equal(rm_confl_name(RM_CONFL_INSERT_EXISTS), "insert_exists");
    assert_string_equal(rm_confl_name(RM_CONFL_MULTIPLE_UNIQUE_CONFLICTS),
                        "multiple_unique_conflicts");
    assert_string_equal(rm_confl_name(RM_CONFL_COUNT), "unknown");
}

static void test_rates_between_rounds(void **state)
{
    rm_snapshot_t *prev = snap_new(1000000, 5000.0);
    rm_snapshot_t *cur = snap_new(1006000, 5005.0); /* 5 s by the server */

    (void)state;
    sub_add(&prev->nodes[0], "s", RM_SUB_NATIVE, 2, 0);
    sub_add(&cur->nodes[0], "s", RM_SUB_NATIVE, 4, 1); /* +3 in 5 s */
    /* Same name, other kind: not the same subscription. */
    sub_add(&prev->nodes[0], "p", RM_SUB_NATIVE, 0, 0);
    sub_add(&cur->nodes[0], "p", RM_SUB_PGLOGICAL, RM_NONE, RM_NONE);
    /* Statistics reset between the rounds. */
    sub_add(&prev->nodes[0], "reset", RM_SUB_NATIVE, 9, 0);
    sub_add(&cur->nodes[0], "reset", RM_SUB_NATIVE, 1, 0);
    /* New in this round. */
    sub_add(&cur->nodes[0], "new", RM_SUB_NATIVE, 1, 0);
    /* Node b has no server clock: the rounds' 6 s. */
    sub_add(&prev->nodes[1], "s", RM_SUB_NATIVE, 0, 0);
    sub_add(&cur->nodes[1], "s", RM_SUB_NATIVE, 0, 0);
    sub_add(&cur->nodes[1], "q", RM_SUB_NATIVE, 6, 0);
    sub_add(&prev->nodes[1], "q", RM_SUB_NATIVE, 0, 0);
    cur->nodes[0].subs[0].conflict_rate_per_min = 99.0; /* overwritten */
    rm_snapshot_rates(prev, cur);
    assert_true(fabs(cur->nodes[0].subs[0].conflict_rate_per_min - 36.0) <
                1e-9);
    assert_true(isnan(cur->nodes[0].subs[1].conflict_rate_per_min));
    assert_true(isnan(cur->nodes[0].subs[2].conflict_rate_per_min));
    assert_true(isnan(cur->nodes[0].subs[3].conflict_rate_per_min));
    assert_true(cur->nodes[1].subs[0].conflict_rate_per_min == 0.0);
    assert_true(fabs(cur->nodes[1].subs[1].conflict_rate_per_min - 60.0) <
                1e-9);

    /* No earlier round, or one too close: unknown. */
    rm_snapshot_rates(NULL, cur);
    assert_true(isnan(cur->nodes[0].subs[0].conflict_rate_per_min));
    cur->nodes[0].server_epoch = 5000.05;
    rm_snapshot_rates(prev, cur);
    assert_true(isnan(cur->nodes[0].subs[0].conflict_rate_per_min));
    rm_snapshot_free(prev);
    rm_snapshot_free(cur);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conflict_count),
        cmocka_unit_test(test_rates_between_rounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
