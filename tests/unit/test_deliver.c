/* SPDX-License-Identifier: MIT */
/*
 * test_deliver.c - unit tests for the delivery queue (src/pgcm/deliver.c)
 * on a real libuv loop, no servers: deliveries run after the handler that
 * queued them, in order and once each; the publish hook runs before the
 * first delivery of a round, again only before an item a callback queued
 * since, and at the round's end; completions wake their waiter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deliver.h"

typedef struct recorder {
    deliver_queue_t *q;
    int publishes;          /* before-hook runs */
    int order[16];          /* user tags, in delivery order */
    int publishes_seen[16]; /* publishes when each ran */
    int n;
    int requeue_from; /* a delivery with this tag queues tag + 100 */
} recorder_t;

static recorder_t rec;
static atomic_uint_fast64_t next_id;

static void count_publish(void *data)
{
    (void)data;
    rec.publishes++;
}

static void on_result(pgcm_result_t *r, void *user)
{
    int tag = (int)(intptr_t)user;
    rec.order[rec.n] = tag;
    rec.publishes_seen[rec.n] = rec.publishes;
    rec.n++;
    pgcm_result_free(r);
    if (tag == rec.requeue_from)
        pgcm__deliver_result(rec.q, on_result, (void *)(intptr_t)(tag + 100),
                             pgcm__result_new("n1"));
}

typedef struct fixture {
    uv_loop_t loop;
    deliver_queue_t q;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    if (f == NULL || uv_loop_init(&f->loop) != 0)
        return -1;
    pgcm__deliver_init(&f->q, &f->loop, &next_id);
    f->q.before = count_publish;
    memset(&rec, 0, sizeof(rec));
    rec.q = &f->q;
    rec.requeue_from = -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    pgcm__deliver_close(&f->q);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    pgcm__deliver_free(&f->q);
    int rc = uv_loop_close(&f->loop);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void queue_results(fixture_t *f, int first, int count)
{
    for (int i = 0; i < count; i++)
        pgcm__deliver_result(&f->q, on_result, (void *)(intptr_t)(first + i),
                             pgcm__result_new("n1"));
}

/* Items queued by a handler run after it, in order, once each, with one
 * publish before the first and one at the end of the round. */
static void test_one_publish_for_what_was_queued(void **state)
{
    fixture_t *f = *state;
    queue_results(f, 1, 5);
    assert_int_equal(rec.n, 0); /* nothing runs inside the handler */
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(rec.n, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(rec.order[i], i + 1);
        assert_int_equal(rec.publishes_seen[i], 1);
    }
    /* and at the end of the round (the idle and the check handle may each
     * end one) */
    assert_true(rec.publishes >= 2);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(rec.n, 5); /* once each */
}

/* An item a callback queues runs in the same round, after a publish of
 * what that callback changed; the items queued before it need none. */
static void test_publish_before_an_item_a_callback_queued(void **state)
{
    fixture_t *f = *state;
    rec.requeue_from = 2;
    queue_results(f, 1, 3);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(rec.n, 4);
    int want[] = {1, 2, 3, 102};
    int seen[] = {1, 1, 1, 2};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(rec.order[i], want[i]);
        assert_int_equal(rec.publishes_seen[i], seen[i]);
    }
    assert_true(rec.publishes >= 3); /* and at the end */
}

/* A completion wakes its waiter with the status and the output. */
static void test_completion_wakes_the_waiter(void **state)
{
    fixture_t *f = *state;
    completion_t c;
    pgcm__completion_init(&c);
    int out = 7;
    pgcm_error_t err = {.code = PGCM_ETIMEDOUT};
    pgcm__deliver_completion(&f->q, &c, PGCM_ETIMEDOUT, &out, &err);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    pgcm__completion_wait(&c); /* posted: returns at once */
    assert_int_equal(c.status, PGCM_ETIMEDOUT);
    assert_ptr_equal(c.out, &out);
    assert_int_equal(c.err.code, PGCM_ETIMEDOUT);
    pgcm__completion_destroy(&c);
    assert_true(rec.publishes >= 1); /* before the completion */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_publish_for_what_was_queued,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_publish_before_an_item_a_callback_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_completion_wakes_the_waiter, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
