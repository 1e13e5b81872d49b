/* SPDX-License-Identifier: MIT */
/*
 * test_wheel.c - unit tests for the timing wheel of src/pgcm/wheel.c (every
 * node's next probe): entries fire at their millisecond and not before, in
 * filing order within a slot; moving and cancelling; a time already run is
 * clamped to the next millisecond; entries more than a turn out wait for
 * their turn; a long gap runs each slot once; the next wake-up time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wheel.h"

typedef struct item {
    int value;
    wheel_entry_t entry;
} item_t;

static void never(wheel_entry_t *e)
{
    (void)e;
}

static void items_init(item_t *items, int n)
{
    for (int i = 0; i < n; i++) {
        items[i].value = i;
        pgcm__wheel_entry_init(&items[i].entry, never);
    }
}

/* Collect up to now_ms; the values that came due, in order, into out
 * (detaching them, as the driver does before firing). */
static int collect(timer_wheel_t *w, uint64_t now_ms, int *out, int max)
{
    list_node_t due;
    list_init(&due);
    pgcm__wheel_collect(w, now_ms, &due);
    int n = 0;
    while (!list_empty(&due)) {
        list_node_t *pos = list_first(&due);
        list_remove(pos);
        wheel_entry_t *e = LIST_ENTRY(pos, wheel_entry_t, link);
        assert_true(n < max);
        out[n++] = LIST_ENTRY(e, item_t, entry)->value;
    }
    return n;
}

static void test_fires_at_its_millisecond(void **state)
{
    (void)state;
    timer_wheel_t w;
    assert_true(pgcm__wheel_init(&w, 1000));
    item_t it[3];
    items_init(it, 3);
    pgcm__wheel_add(&w, &it[0].entry, 1500);
    pgcm__wheel_add(&w, &it[1].entry, 1010);
    pgcm__wheel_add(&w, &it[2].entry, 1500);
    assert_true(pgcm__wheel_entry_set(&it[0].entry));
    assert_int_equal(pgcm__wheel_next_ms(&w), 1010);
    int got[4];
    assert_int_equal(collect(&w, 1009, got, 4), 0);
    assert_int_equal(collect(&w, 1010, got, 4), 1);
    assert_int_equal(got[0], 1);
    assert_false(pgcm__wheel_entry_set(&it[1].entry));
    assert_int_equal(pgcm__wheel_next_ms(&w), 1500);
    assert_int_equal(collect(&w, 1499, got, 4), 0);
    /* one slot: in the order they were filed */
    assert_int_equal(collect(&w, 1600, got, 4), 2);
    assert_int_equal(got[0], 0);
    assert_int_equal(got[1], 2);
    assert_int_equal(w.count, 0);
    assert_int_equal(pgcm__wheel_next_ms(&w), UINT64_MAX);
    pgcm__wheel_free(&w);
}

static void test_move_and_cancel(void **state)
{
    (void)state;
    timer_wheel_t w;
    assert_true(pgcm__wheel_init(&w, 0));
    item_t it[2];
    items_init(it, 2);
    pgcm__wheel_add(&w, &it[0].entry, 400);
    pgcm__wheel_add(&w, &it[1].entry, 400);
    pgcm__wheel_add(&w, &it[0].entry, 100); /* moved */
    assert_int_equal(w.count, 2);
    pgcm__wheel_remove(&w, &it[1].entry);
    pgcm__wheel_remove(&w, &it[1].entry); /* twice: nothing */
    assert_false(pgcm__wheel_entry_set(&it[1].entry));
    assert_int_equal(w.count, 1);
    int got[2];
    assert_int_equal(collect(&w, 1000, got, 2), 1);
    assert_int_equal(got[0], 0);
    /* the emptied slot was given up: nothing to wake for */
    assert_int_equal(pgcm__wheel_next_ms(&w), UINT64_MAX);
    pgcm__wheel_free(&w);
}

static void test_past_time_is_the_next_millisecond(void **state)
{
    (void)state;
    timer_wheel_t w;
    assert_true(pgcm__wheel_init(&w, 5000));
    item_t it[1];
    items_init(it, 1);
    pgcm__wheel_add(&w, &it[0].entry, 10); /* long run */
    assert_int_equal(it[0].entry.due_ms, 5001);
    assert_int_equal(pgcm__wheel_next_ms(&w), 5001);
    int got[1];
    assert_int_equal(collect(&w, 5001, got, 1), 1);
    pgcm__wheel_free(&w);
}

static void test_beyond_a_turn_waits_for_its_turn(void **state)
{
    (void)state;
    timer_wheel_t w;
    assert_true(pgcm__wheel_init(&w, 0));
    item_t it[2];
    items_init(it, 2);
    uint64_t far = 3 * WHEEL_SLOTS + 7; /* same slot as 7 */
    pgcm__wheel_add(&w, &it[0].entry, far);
    pgcm__wheel_add(&w, &it[1].entry, 7);
    int got[2];
    assert_int_equal(collect(&w, 7, got, 2), 1);
    assert_int_equal(got[0], 1);
    /* each turn the slot comes round, the far entry is not yet due */
    for (uint64_t turn = 1; turn < 3; turn++) {
        assert_int_equal(pgcm__wheel_next_ms(&w), turn * WHEEL_SLOTS + 7);
        assert_int_equal(collect(&w, turn * WHEEL_SLOTS + 7, got, 2), 0);
    }
    assert_int_equal(collect(&w, far - 1, got, 2), 0);
    assert_int_equal(collect(&w, far, got, 2), 1);
    assert_int_equal(got[0], 0);
    pgcm__wheel_free(&w);
}

static void test_long_gap_runs_every_slot_once(void **state)
{
    (void)state;
    timer_wheel_t w;
    assert_true(pgcm__wheel_init(&w, 100));
    enum { N = 200 };
    item_t it[N];
    items_init(it, N);
    /* spread over two turns, every 83 ms */
    for (int i = 0; i < N; i++)
        pgcm__wheel_add(&w, &it[i].entry, 101 + 83u * i);
    int got[N];
    /* a gap of more than a turn: everything due comes out, once */
    uint64_t now = 101 + 83u * 150;
    int n = collect(&w, now, got, N);
    assert_int_equal(n, 151);
    int seen[N] = {0};
    for (int i = 0; i < n; i++) {
        assert_true(got[i] <= 150);
        seen[got[i]]++;
    }
    for (int i = 0; i <= 150; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(w.count, N - 151);
    assert_int_equal(pgcm__wheel_next_ms(&w), 101 + 83u * 151);
    assert_int_equal(collect(&w, 1000000, got, N), N - 151);
    pgcm__wheel_free(&w);
}

static void test_slot_boundaries(void **state)
{
    (void)state;
    /* entries in the first and last slot and in every 64-slot word
     * boundary are found and collected */
    timer_wheel_t w;
    assert_true(pgcm__wheel_init(&w, WHEEL_SLOTS - 2));
    item_t it[4];
    items_init(it, 4);
    uint64_t base = WHEEL_SLOTS - 2;
    uint64_t at[4] = {base + 1, base + 2, base + 65, base + WHEEL_SLOTS};
    for (int i = 0; i < 4; i++)
        pgcm__wheel_add(&w, &it[i].entry, at[i]);
    int got[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pgcm__wheel_next_ms(&w), at[i]);
        assert_int_equal(collect(&w, at[i], got, 4), 1);
        assert_int_equal(got[0], i);
    }
    pgcm__wheel_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fires_at_its_millisecond),
        cmocka_unit_test(test_move_and_cancel),
        cmocka_unit_test(test_past_time_is_the_next_millisecond),
        cmocka_unit_test(test_beyond_a_turn_waits_for_its_turn),
        cmocka_unit_test(test_long_gap_runs_every_slot_once),
        cmocka_unit_test(test_slot_boundaries),
    };
    return cmocka_run_group_tests_name("wheel", tests, NULL, NULL);
}
