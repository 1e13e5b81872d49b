/* SPDX-License-Identifier: MIT */
/*
 * strmap.c - a small open-addressing hash map from borrowed C strings to
 * pointers, used for node ids. Linear probing, FNV-1a, tombstones.
 */
#include <string.h>

#include "internal.h"

struct strmap_slot {
    const char *key; /* NULL: empty; TOMBSTONE: deleted */
    void *value;
    uint32_t hash;
};

static const char tombstone_mark;
#define TOMBSTONE (&tombstone_mark)

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static struct strmap_slot *find_slot(const strmap_t *m, const char *key,
                                     uint32_t h)
{
    if (m->cap == 0)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct strmap_slot *s = &m->slots[i];
        if (s->key == NULL)
            return NULL;
        if (s->key != TOMBSTONE && s->hash == h && strcmp(s->key, key) == 0)
            return s;
    }
}

void *pgcm__strmap_get(const strmap_t *m, const char *key)
{
    struct strmap_slot *s = find_slot(m, key, hash_str(key));
    return s ? s->value : NULL;
}

static int grow(strmap_t *m)
{
    /* Size for the live entries only: when tombstones fill the table, this
     * rehashes at the same size instead of growing without bound. */
    size_t ncap = 16;
    while ((m->count + 1) * 2 >= ncap)
        ncap *= 2;
    struct strmap_slot *ns = pgcm__calloc(ncap, sizeof(*ns));
    if (ns == NULL)
        return PGCM_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        struct strmap_slot *s = &m->slots[i];
        if (s->key == NULL || s->key == TOMBSTONE)
            continue;
        size_t j = s->hash & (ncap - 1);
        while (ns[j].key != NULL)
            j = (j + 1) & (ncap - 1);
        ns[j] = *s;
    }
    pgcm__free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    m->used = m->count;
    return PGCM_OK;
}

int pgcm__strmap_put(strmap_t *m, const char *key, void *value)
{
    uint32_t h = hash_str(key);
    struct strmap_slot *s = find_slot(m, key, h);
    if (s != NULL) {
        s->value = value;
        s->key = key;
        return PGCM_OK;
    }
    if ((m->used + 1) * 4 >= m->cap * 3) {
        int rc = grow(m);
        if (rc != PGCM_OK)
            return rc;
    }
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    while (m->slots[i].key != NULL && m->slots[i].key != TOMBSTONE)
        i = (i + 1) & mask;
    if (m->slots[i].key == NULL)
        m->used++;
    m->slots[i].key = key;
    m->slots[i].value = value;
    m->slots[i].hash = h;
    m->count++;
    return PGCM_OK;
}

void *pgcm__strmap_del(strmap_t *m, const char *key)
{
    struct strmap_slot *s = find_slot(m, key, hash_str(key));
    if (s == NULL)
        return NULL;
    void *v = s->value;
    s->key = TOMBSTONE;
    s->value = NULL;
    m->count--;
    return v;
}

void pgcm__strmap_free(strmap_t *m)
{
    pgcm__free(m->slots);
    memset(m, 0, sizeof(*m));
}
