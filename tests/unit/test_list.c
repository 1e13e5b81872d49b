/* SPDX-License-Identifier: MIT */
/*
 * test_list.c - unit tests for the intrusive circular doubly linked lists
 * of src/pgcm/list.h (pool idle/busy lists, waiter queues): empty lists,
 * FIFO and LIFO pushes, first/last, removal (detaching the entry), length,
 * LIST_ENTRY, and LIST_FOREACH_SAFE while removing the current entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "internal.h"

typedef struct item {
    int value;
    list_node_t link;
} item_t;

static int value_at(const list_node_t *n)
{
    return LIST_ENTRY(n, item_t, link)->value;
}

/* The values from head to tail, and the same backwards. */
static void assert_order(const list_node_t *head, const int *want, size_t n)
{
    assert_int_equal(list_length(head), n);
    size_t i = 0;
    for (const list_node_t *p = head->next; p != head; p = p->next, i++) {
        assert_int_equal(value_at(p), want[i]);
        assert_ptr_equal(p->next->prev, p);
    }
    assert_int_equal(i, n);
    for (const list_node_t *p = head->prev; p != head; p = p->prev)
        assert_int_equal(value_at(p), want[--i]);
}

static void test_empty(void **state)
{
    (void)state;
    list_node_t head;
    list_init(&head);
    assert_true(list_empty(&head));
    assert_false(list_linked(&head));
    assert_null(list_first(&head));
    assert_null(list_last(&head));
    assert_int_equal(list_length(&head), 0);
}

static void test_push_back_is_fifo(void **state)
{
    (void)state;
    list_node_t head;
    item_t it[4];
    list_init(&head);
    for (int i = 0; i < 4; i++) {
        it[i].value = i;
        list_init(&it[i].link);
        assert_false(list_linked(&it[i].link));
        list_push_back(&head, &it[i].link);
        assert_true(list_linked(&it[i].link));
    }
    const int want[] = {0, 1, 2, 3};
    assert_order(&head, want, 4);
    assert_false(list_empty(&head));
    assert_ptr_equal(list_first(&head), &it[0].link);
    assert_ptr_equal(list_last(&head), &it[3].link);
    assert_ptr_equal(LIST_ENTRY(list_first(&head), item_t, link), &it[0]);
}

static void test_push_front_is_lifo(void **state)
{
    (void)state;
    list_node_t head;
    item_t it[4];
    list_init(&head);
    for (int i = 0; i < 4; i++) {
        it[i].value = i;
        list_push_front(&head, &it[i].link);
    }
    const int want[] = {3, 2, 1, 0};
    assert_order(&head, want, 4);
    assert_ptr_equal(list_first(&head), &it[3].link);
    assert_ptr_equal(list_last(&head), &it[0].link);
}

static void test_remove(void **state)
{
    (void)state;
    list_node_t head;
    item_t it[5];
    list_init(&head);
    for (int i = 0; i < 5; i++) {
        it[i].value = i;
        list_push_back(&head, &it[i].link);
    }
    list_remove(&it[2].link); /* middle */
    assert_false(list_linked(&it[2].link));
    list_remove(&it[0].link); /* first */
    list_remove(&it[4].link); /* last */
    const int want[] = {1, 3};
    assert_order(&head, want, 2);

    /* a removed entry can be pushed again, elsewhere */
    list_push_front(&head, &it[4].link);
    const int want2[] = {4, 1, 3};
    assert_order(&head, want2, 3);

    list_remove(&it[1].link);
    list_remove(&it[3].link);
    list_remove(&it[4].link);
    assert_true(list_empty(&head));
    assert_null(list_first(&head));
}

static void test_insert_after(void **state)
{
    (void)state;
    list_node_t head;
    item_t a = {1, {0}}, b = {2, {0}}, c = {3, {0}};
    list_init(&head);
    list_push_back(&head, &a.link);
    list_push_back(&head, &c.link);
    list_insert_after(&a.link, &b.link);
    const int want[] = {1, 2, 3};
    assert_order(&head, want, 3);
}

static void test_foreach_safe_removing(void **state)
{
    (void)state;
    list_node_t head, *pos, *tmp;
    item_t it[10];
    list_init(&head);
    for (int i = 0; i < 10; i++) {
        it[i].value = i;
        list_push_back(&head, &it[i].link);
    }
    /* remove the odd ones while walking */
    int seen = 0;
    LIST_FOREACH_SAFE(pos, tmp, &head)
    {
        assert_int_equal(value_at(pos), seen);
        if (value_at(pos) % 2)
            list_remove(pos);
        seen++;
    }
    assert_int_equal(seen, 10);
    const int want[] = {0, 2, 4, 6, 8};
    assert_order(&head, want, 5);

    /* remove everything while walking */
    seen = 0;
    LIST_FOREACH_SAFE(pos, tmp, &head)
    {
        list_remove(pos);
        seen++;
    }
    assert_int_equal(seen, 5);
    assert_true(list_empty(&head));

    /* walking an empty list does nothing */
    LIST_FOREACH_SAFE(pos, tmp, &head)
    {
        fail_msg("visited an entry of an empty list");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_push_back_is_fifo),
        cmocka_unit_test(test_push_front_is_lifo),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_insert_after),
        cmocka_unit_test(test_foreach_safe_removing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
