/* SPDX-License-Identifier: MIT */
/*
 * list.h - intrusive circular doubly linked lists (after libuv's queue.h).
 * A list head and its entries are the same struct; an empty list points to
 * itself. Nothing here allocates.
 */
#ifndef PGCM_LIST_H
#define PGCM_LIST_H

#include <stddef.h>

typedef struct list_node {
    struct list_node *next;
    struct list_node *prev;
} list_node_t;

#define LIST_ENTRY(ptr, type, field)                                           \
    ((type *)((char *)(ptr)-offsetof(type, field)))

static inline void list_init(list_node_t *head)
{
    head->next = head;
    head->prev = head;
}

static inline int list_empty(const list_node_t *head)
{
    return head->next == head;
}

/* An entry that was list_init'ed or removed is detached. */
static inline int list_linked(const list_node_t *n)
{
    return n->next != n;
}

static inline void list_insert_after(list_node_t *at, list_node_t *n)
{
    n->next = at->next;
    n->prev = at;
    at->next->prev = n;
    at->next = n;
}

/* Push at the front (most recent end of a LIFO). */
static inline void list_push_front(list_node_t *head, list_node_t *n)
{
    list_insert_after(head, n);
}

/* Push at the back (FIFO tail). */
static inline void list_push_back(list_node_t *head, list_node_t *n)
{
    list_insert_after(head->prev, n);
}

static inline void list_remove(list_node_t *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n;
    n->prev = n;
}

static inline list_node_t *list_first(const list_node_t *head)
{
    return list_empty(head) ? NULL : head->next;
}

static inline list_node_t *list_last(const list_node_t *head)
{
    return list_empty(head) ? NULL : head->prev;
}

static inline size_t list_length(const list_node_t *head)
{
    size_t n = 0;
    for (const list_node_t *p = head->next; p != head; p = p->next)
        n++;
    return n;
}

/* Iterate safely against removal of the current entry. */
#define LIST_FOREACH_SAFE(pos, tmp, head)                                      \
    for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head);           \
         (pos) = (tmp), (tmp) = (pos)->next)

#endif /* PGCM_LIST_H */
