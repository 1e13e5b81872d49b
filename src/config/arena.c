/* SPDX-License-Identifier: MIT */
/*
 * arena.c - byte storage for the many small strings of a configuration
 * (scalar texts of the YAML tree, the strings an rm_config_t owns): carved
 * out of large blocks, one allocation per block instead of one per string,
 * and wiped before it is freed, since any of them may be a password.
 */
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

#define ARENA_BLOCK 65536 /* bytes per block; longer requests get their own */

struct rm_arena_block {
    struct rm_arena_block *next;
    size_t used, cap;
    char bytes[];
};

char *rm__arena_alloc(rm_arena_t *a, size_t n)
{
    struct rm_arena_block *b = a->blocks;
    if (b == NULL || b->cap - b->used < n) {
        size_t cap = n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK;
        struct rm_arena_block *nb = malloc(sizeof(*nb) + cap);
        if (nb == NULL)
            return NULL;
        nb->used = 0;
        nb->cap = cap;
        if (cap == n && b != NULL) {
            /* Behind the first block, which keeps its room. */
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            a->blocks = nb;
        }
        b = nb;
    }
    char *p = b->bytes + b->used;
    b->used += n;
    return p;
}

void rm__arena_free(rm_arena_t *a)
{
    for (struct rm_arena_block *b = a->blocks, *next; b != NULL; b = next) {
        next = b->next;
        explicit_bzero(b->bytes, b->used);
        free(b);
    }
    a->blocks = NULL;
}
