/* SPDX-License-Identifier: MIT */
/*
 * alloc.c - libpgcm's allocator hooks (pgcm_set_allocator), the small
 * allocation helpers every other file uses, and the spare-block lists the
 * loop reuses on its hot paths. Secrets are wiped before free.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void *(*malloc_hook)(size_t) = malloc;
static void *(*realloc_hook)(void *, size_t) = realloc;
static void (*free_hook)(void *) = free;
static atomic_int live_managers;

int pgcm_set_allocator(void *(*malloc_fn)(size_t),
                       void *(*realloc_fn)(void *, size_t),
                       void (*free_fn)(void *))
{
    if (atomic_load(&live_managers) > 0)
        return PGCM_EINVAL;
    if (malloc_fn == NULL || realloc_fn == NULL || free_fn == NULL) {
        malloc_hook = malloc;
        realloc_hook = realloc;
        free_hook = free;
    } else {
        malloc_hook = malloc_fn;
        realloc_hook = realloc_fn;
        free_hook = free_fn;
    }
    return PGCM_OK;
}

void pgcm__manager_count(int delta)
{
    atomic_fetch_add(&live_managers, delta);
}

void *pgcm__malloc(size_t n)
{
    return malloc_hook(n ? n : 1);
}

void *pgcm__calloc(size_t count, size_t n)
{
    if (n != 0 && count > SIZE_MAX / n)
        return NULL;
    size_t total = count * n;
    void *p = malloc_hook(total != 0 ? total : 1);
    if (p != NULL)
        memset(p, 0, total);
    return p;
}

void *pgcm__realloc(void *p, size_t n)
{
    return realloc_hook(p, n ? n : 1);
}

void pgcm__free(void *p)
{
    if (p != NULL)
        free_hook(p);
}

char *pgcm__strdup(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = pgcm__malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

void pgcm__spare_init(pgcm_spare_t *s, size_t max)
{
    list_init(&s->blocks);
    s->count = 0;
    s->max = max;
}

void *pgcm__spare_take(pgcm_spare_t *s)
{
    if (s->count == 0)
        return NULL;
    list_node_t *b = list_first(&s->blocks);
    list_remove(b);
    s->count--;
    return b;
}

void pgcm__spare_give(pgcm_spare_t *s, void *block)
{
    if (s->count >= s->max) {
        pgcm__free(block);
        return;
    }
    list_push_front(&s->blocks, block);
    s->count++;
}

void pgcm__spare_free(pgcm_spare_t *s)
{
    void *b;
    while ((b = pgcm__spare_take(s)) != NULL)
        pgcm__free(b);
}

void pgcm__free_secret(char *s)
{
    if (s == NULL)
        return;
    explicit_bzero(s, strlen(s));
    pgcm__free(s);
}
