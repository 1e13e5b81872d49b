/* SPDX-License-Identifier: MIT */
/*
 * history.c - rings of samples keyed by name, and sparklines (see
 * history.h). The keys live in an open-addressing hash table that grows
 * at half load.
 */
#include "tui/history.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct rm_series {
    char *key;
    int64_t *t;
    double *v;
    size_t cap;  /* samples kept */
    size_t head; /* index of the oldest sample */
    size_t count;
};

struct rm_history {
    size_t capacity; /* samples per series */
    rm_series_t **slots;
    size_t nslots; /* power of two */
    size_t used;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

rm_history_t *rm_history_new(size_t capacity)
{
    rm_history_t *h = calloc(1, sizeof(*h));

    if (h == NULL)
        return NULL;
    h->capacity = capacity < 2 ? 2 : capacity;
    h->nslots = 64;
    h->slots = calloc(h->nslots, sizeof(*h->slots));
    if (h->slots == NULL) {
        free(h);
        return NULL;
    }
    return h;
}

static void series_free(rm_series_t *s)
{
    if (s == NULL)
        return;
    free(s->key);
    free(s->t);
    free(s->v);
    free(s);
}

void rm_history_free(rm_history_t *h)
{
    size_t i;

    if (h == NULL)
        return;
    for (i = 0; i < h->nslots; i++)
        series_free(h->slots[i]);
    free(h->slots);
    free(h);
}

static size_t find_slot(rm_series_t *const *slots, size_t nslots,
                        const char *key)
{
    size_t i = (size_t)hash(key) & (nslots - 1);

    while (slots[i] != NULL && strcmp(slots[i]->key, key) != 0)
        i = (i + 1) & (nslots - 1);
    return i;
}

static int grow(rm_history_t *h)
{
    size_t n = h->nslots * 2, i;
    rm_series_t **slots = calloc(n, sizeof(*slots));

    if (slots == NULL)
        return -1;
    for (i = 0; i < h->nslots; i++) {
        if (h->slots[i] != NULL)
            slots[find_slot(slots, n, h->slots[i]->key)] = h->slots[i];
    }
    free(h->slots);
    h->slots = slots;
    h->nslots = n;
    return 0;
}

const rm_series_t *rm_history_get(const rm_history_t *h, const char *key)
{
    return h->slots[find_slot(h->slots, h->nslots, key)];
}

int rm_history_add(rm_history_t *h, const char *key, int64_t t_ms, double v)
{
    size_t i = find_slot(h->slots, h->nslots, key), at;
    rm_series_t *s = h->slots[i];

    if (s == NULL) {
        if ((h->used + 1) * 2 > h->nslots) {
            if (grow(h) != 0)
                return -1;
            i = find_slot(h->slots, h->nslots, key);
        }
        s = calloc(1, sizeof(*s));
        if (s == NULL)
            return -1;
        s->cap = h->capacity;
        s->key = strdup(key);
        s->t = calloc(h->capacity, sizeof(*s->t));
        s->v = calloc(h->capacity, sizeof(*s->v));
        if (s->key == NULL || s->t == NULL || s->v == NULL) {
            series_free(s);
            return -1;
        }
        h->slots[i] = s;
        h->used++;
    }
    if (s->count > 0 && rm_series_time(s, s->count - 1) >= t_ms)
        return 0;
    if (s->count < s->cap) {
        at = (s->head + s->count) % s->cap;
        s->count++;
    } else {
        at = s->head;
        s->head = (s->head + 1) % s->cap;
    }
    s->t[at] = t_ms;
    s->v[at] = v;
    return 0;
}

void rm_history_prune(rm_history_t *h, int64_t before_ms)
{
    size_t i, n = h->nslots;
    rm_series_t **keep = calloc(n, sizeof(*keep));

    if (keep == NULL)
        return; /* kept for now; pruned on a later call */
    h->used = 0;
    for (i = 0; i < n; i++) {
        rm_series_t *s = h->slots[i];

        if (s == NULL)
            continue;
        if (rm_series_time(s, s->count - 1) < before_ms) {
            series_free(s);
            continue;
        }
        keep[find_slot(keep, n, s->key)] = s;
        h->used++;
    }
    free(h->slots);
    h->slots = keep;
}

size_t rm_history_size(const rm_history_t *h)
{
    return h->used;
}

size_t rm_series_count(const rm_series_t *s)
{
    return s != NULL ? s->count : 0;
}

double rm_series_value(const rm_series_t *s, size_t i)
{
    return s->v[(s->head + i) % s->cap];
}

int64_t rm_series_time(const rm_series_t *s, size_t i)
{
    return s->t[(s->head + i) % s->cap];
}

int64_t rm_series_span_ms(const rm_series_t *s)
{
    if (s == NULL || s->count < 2)
        return 0;
    return rm_series_time(s, s->count - 1) - rm_series_time(s, 0);
}

size_t rm_series_minmax(const rm_series_t *s, int64_t since_ms, double *min,
                        double *max)
{
    size_t i, used = 0;

    *min = NAN;
    *max = NAN;
    for (i = 0; s != NULL && i < s->count; i++) {
        double v = rm_series_value(s, i);

        if (rm_series_time(s, i) < since_ms || isnan(v))
            continue;
        if (used == 0 || v < *min)
            *min = v;
        if (used == 0 || v > *max)
            *max = v;
        used++;
    }
    return used;
}

double rm_series_rate_per_min(const rm_series_t *s, int64_t now_ms,
                              int64_t window_ms)
{
    double grown = 0, prev = NAN;
    int64_t first_t = 0, last_t = 0;
    size_t i, used = 0;

    for (i = 0; s != NULL && i < s->count; i++) {
        double v = rm_series_value(s, i);
        int64_t t = rm_series_time(s, i);

        if (t < now_ms - window_ms || isnan(v))
            continue;
        if (used == 0)
            first_t = t;
        else if (v > prev)
            grown += v - prev;
        prev = v;
        last_t = t;
        used++;
    }
    if (used < 2 || last_t <= first_t)
        return NAN;
    return grown * 60000.0 / (double)(last_t - first_t);
}

void rm_sparkline(const rm_series_t *s, int width, int utf8, double floor,
                  char *out, size_t outlen)
{
    static const char *const blocks[8] = {"\u2581", "\u2582", "\u2583",
                                          "\u2584", "\u2585", "\u2586",
                                          "\u2587", "\u2588"};
    static const char ascii[] = ".:-=+*#";
    size_t n = rm_series_count(s), from, i, o = 0;
    double lo = 0, hi = 0;
    int k, have = 0;

    if (outlen == 0)
        return;
    if (width < 0)
        width = 0;
    from = n > (size_t)width ? n - (size_t)width : 0;
    for (i = from; i < n; i++) {
        double v = rm_series_value(s, i);

        if (isnan(v))
            continue;
        if (!have || v < lo)
            lo = v;
        if (!have || v > hi)
            hi = v;
        have = 1;
    }
    if (lo > 0)
        lo = 0;
    if (hi - lo < floor)
        hi = lo + floor;
    for (k = 0; k < width - (int)(n - from); k++) {
        if (o + 1 < outlen)
            out[o++] = ' ';
    }
    for (i = from; i < n; i++) {
        double v = rm_series_value(s, i);
        int levels = utf8 ? 8 : 7, lv;
        const char *g;
        char one[2] = {0, 0};
        size_t gl;

        if (isnan(v)) {
            g = " ";
        } else {
            lv = hi > lo ? (int)ceil((v - lo) / (hi - lo) * levels) - 1 : 0;
            if (lv < 0)
                lv = 0;
            if (lv >= levels)
                lv = levels - 1;
            if (utf8) {
                g = blocks[lv];
            } else {
                one[0] = ascii[lv];
                g = one;
            }
        }
        gl = strlen(g);
        if (o + gl >= outlen)
            break;
        memcpy(out + o, g, gl);
        o += gl;
    }
    out[o] = '\0';
}
