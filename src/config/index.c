/* SPDX-License-Identifier: MIT */
/*
 * index.c - a string-to-number hash index for the configuration's lookups
 * that must stay linear in the size of the file: node ids, cluster names,
 * YAML anchors and the keys of a mapping being merged. Keys are borrowed
 * (pointer and length, so they may hold NUL bytes); open addressing with
 * linear probing, FNV-1a, no deletion.
 */
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

struct rm_index_slot {
    const char *key; /* NULL: empty */
    size_t len;
    size_t value;
    uint32_t hash;
};

static uint32_t hash_bytes(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static struct rm_index_slot *find_slot(const rm_index_t *ix, const char *key,
                                       size_t len, uint32_t h)
{
    size_t mask = ix->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct rm_index_slot *s = &ix->slots[i];
        if (s->key == NULL ||
            (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0))
            return s;
    }
}

static int grow(rm_index_t *ix)
{
    size_t ncap = ix->cap ? ix->cap * 2 : 16;
    struct rm_index_slot *ns = calloc(ncap, sizeof(*ns));
    if (ns == NULL)
        return -1;
    for (size_t i = 0; i < ix->cap; i++) {
        struct rm_index_slot *s = &ix->slots[i];
        if (s->key == NULL)
            continue;
        size_t j = s->hash & (ncap - 1);
        while (ns[j].key != NULL)
            j = (j + 1) & (ncap - 1);
        ns[j] = *s;
    }
    free(ix->slots);
    ix->slots = ns;
    ix->cap = ncap;
    return 0;
}

int rm__index_reserve(rm_index_t *ix, size_t n)
{
    while ((n + 1) * 4 >= ix->cap * 3) {
        if (grow(ix) != 0)
            return -1;
    }
    return 0;
}

int rm__index_get(const rm_index_t *ix, const char *key, size_t len,
                  size_t *value)
{
    if (ix->count == 0)
        return 0;
    const struct rm_index_slot *s =
        find_slot(ix, key, len, hash_bytes(key, len));
    if (s->key == NULL)
        return 0;
    if (value != NULL)
        *value = s->value;
    return 1;
}

/* Insert key, or find it; replace tells whether an existing value is
 * overwritten. Returns 1 (it was there: *old holds its previous value), 0
 * (inserted), -1 (out of memory). */
static int put(rm_index_t *ix, const char *key, size_t len, size_t value,
               int replace, size_t *old)
{
    if (rm__index_reserve(ix, ix->count + 1) != 0)
        return -1;
    uint32_t h = hash_bytes(key, len);
    struct rm_index_slot *s = find_slot(ix, key, len, h);
    if (s->key != NULL) {
        if (old != NULL)
            *old = s->value;
        if (replace)
            s->value = value;
        return 1;
    }
    s->key = key;
    s->len = len;
    s->value = value;
    s->hash = h;
    ix->count++;
    return 0;
}

int rm__index_add(rm_index_t *ix, const char *key, size_t len, size_t value,
                  size_t *existing)
{
    return put(ix, key, len, value, 0, existing);
}

int rm__index_set(rm_index_t *ix, const char *key, size_t len, size_t value)
{
    return put(ix, key, len, value, 1, NULL) < 0 ? -1 : 0;
}

void rm__index_free(rm_index_t *ix)
{
    if (ix == NULL)
        return;
    free(ix->slots);
    memset(ix, 0, sizeof(*ix));
}
