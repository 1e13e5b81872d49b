/* SPDX-License-Identifier: MIT */
/*
 * histogram.c - bucket counting, the values taken from libpgcm's acquire and
 * close records (their duration_us), and the node-id -> histograms table
 * (open hashing).
 */
#include "histogram.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

const double rm_acquire_bounds[] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
const size_t rm_acquire_nbounds =
    sizeof(rm_acquire_bounds) / sizeof(rm_acquire_bounds[0]);
const double rm_lifetime_bounds[] = {1,    10,   60,   300,  600,   1200,
                                     1800, 2700, 3600, 7200, 21600, 86400};
const size_t rm_lifetime_nbounds =
    sizeof(rm_lifetime_bounds) / sizeof(rm_lifetime_bounds[0]);

void rm_histogram_observe(rm_histogram_t *h, const double *bounds,
                          size_t nbounds, double v)
{
    size_t i;

    for (i = 0; i < nbounds && i < RM_HISTO_MAX_BUCKETS; i++) {
        if (v <= bounds[i]) {
            h->buckets[i]++;
            break;
        }
    }
    h->count++;
    h->sum += v;
}

int rm_histo_parse_acquire(const pgcm_log_record_t *rec, double *seconds)
{
    if (rec->event == NULL || strcmp(rec->event, "connection_acquired") != 0 ||
        rec->duration_us < 0)
        return 0;
    *seconds = (double)rec->duration_us / 1e6;
    return 1;
}

int rm_histo_parse_lifetime(const pgcm_log_record_t *rec, double *seconds)
{
    /* A connection still connecting is closed at debug level (and its
     * failure was a connection_error); only open ones count. */
    if (rec->event == NULL || rec->level < PGCM_LOG_INFO ||
        (strcmp(rec->event, "connection_closed") != 0 &&
         strcmp(rec->event, "connection_discarded") != 0) ||
        rec->duration_us < 0)
        return 0;
    *seconds = (double)rec->duration_us / 1e6;
    return 1;
}

/* ---------------------------------------------------------------------- */

typedef struct entry {
    struct entry *next;
    rm_histogram_t acquire, lifetime;
    char id[64];
} entry_t;

struct rm_histos {
    pthread_mutex_t mu;
    entry_t **slots;
    size_t nslots, count;
};

static uint64_t hash_id(const char *s)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

rm_histos_t *rm_histos_new(void)
{
    rm_histos_t *hs = calloc(1, sizeof(*hs));

    if (hs == NULL)
        return NULL;
    hs->nslots = 256;
    hs->slots = calloc(hs->nslots, sizeof(*hs->slots));
    if (hs->slots == NULL) {
        free(hs);
        return NULL;
    }
    pthread_mutex_init(&hs->mu, NULL);
    return hs;
}

void rm_histos_free(rm_histos_t *hs)
{
    size_t i;

    if (hs == NULL)
        return;
    for (i = 0; i < hs->nslots; i++) {
        entry_t *e = hs->slots[i];

        while (e != NULL) {
            entry_t *next = e->next;

            free(e);
            e = next;
        }
    }
    free(hs->slots);
    pthread_mutex_destroy(&hs->mu);
    free(hs);
}

static void grow(rm_histos_t *hs)
{
    size_t n = hs->nslots * 2, i;
    entry_t **slots = calloc(n, sizeof(*slots));

    if (slots == NULL)
        return; /* longer chains, still correct */
    for (i = 0; i < hs->nslots; i++) {
        entry_t *e = hs->slots[i];

        while (e != NULL) {
            entry_t *next = e->next;
            size_t s = hash_id(e->id) & (n - 1);

            e->next = slots[s];
            slots[s] = e;
            e = next;
        }
    }
    free(hs->slots);
    hs->slots = slots;
    hs->nslots = n;
}

/* The node's entry (created when create), or NULL. Under mu. */
static entry_t *lookup(rm_histos_t *hs, const char *id, int create)
{
    size_t s = hash_id(id) & (hs->nslots - 1);
    entry_t *e;

    for (e = hs->slots[s]; e != NULL; e = e->next) {
        if (strcmp(e->id, id) == 0)
            return e;
    }
    if (!create || strlen(id) >= sizeof(e->id))
        return NULL;
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    strcpy(e->id, id);
    e->next = hs->slots[s];
    hs->slots[s] = e;
    if (++hs->count > hs->nslots)
        grow(hs);
    return e;
}

void rm_histos_record(rm_histos_t *hs, const pgcm_log_record_t *rec)
{
    double v;
    int acquire;
    entry_t *e;

    if (rec->node_id == NULL)
        return;
    if (rm_histo_parse_acquire(rec, &v))
        acquire = 1;
    else if (rm_histo_parse_lifetime(rec, &v))
        acquire = 0;
    else
        return;
    pthread_mutex_lock(&hs->mu);
    e = lookup(hs, rec->node_id, 1);
    if (e != NULL) {
        if (acquire)
            rm_histogram_observe(&e->acquire, rm_acquire_bounds,
                                 rm_acquire_nbounds, v);
        else
            rm_histogram_observe(&e->lifetime, rm_lifetime_bounds,
                                 rm_lifetime_nbounds, v);
    }
    pthread_mutex_unlock(&hs->mu);
}

void rm_histos_get(rm_histos_t *hs, const char *node_id,
                   rm_histogram_t *acquire, rm_histogram_t *lifetime)
{
    entry_t *e;

    pthread_mutex_lock(&hs->mu);
    e = lookup(hs, node_id, 0);
    if (e != NULL) {
        *acquire = e->acquire;
        *lifetime = e->lifetime;
    } else {
        memset(acquire, 0, sizeof(*acquire));
        memset(lifetime, 0, sizeof(*lifetime));
    }
    pthread_mutex_unlock(&hs->mu);
}

void rm_histos_forget(rm_histos_t *hs, const char *const *ids, size_t n)
{
    size_t i, j;

    pthread_mutex_lock(&hs->mu);
    for (i = 0; i < hs->nslots; i++) {
        entry_t **link = &hs->slots[i];

        while (*link != NULL) {
            entry_t *e = *link;
            int keep = 0;

            for (j = 0; j < n && !keep; j++)
                keep = strcmp(ids[j], e->id) == 0;
            if (keep) {
                link = &e->next;
            } else {
                *link = e->next;
                free(e);
                hs->count--;
            }
        }
    }
    pthread_mutex_unlock(&hs->mu);
}
