/* SPDX-License-Identifier: MIT */
/*
 * eventpane.h - the dashboard's event pane: the last events of libpgcm
 * (state changes, connects, disconnects, nodes added and removed) and of
 * replmon itself (reloads, retries, collection failures), newest first.
 * Thread-safe: libpgcm's events arrive on its loop thread.
 */
#ifndef REPLMON_TUI_EVENTPANE_H
#define REPLMON_TUI_EVENTPANE_H

#include <stddef.h>
#include <stdint.h>

#include "pgcm.h"

typedef enum rm_event_level {
    RM_EVL_INFO = 0,
    RM_EVL_WARNING,
    RM_EVL_CRITICAL
} rm_event_level_t;

typedef struct rm_event_entry {
    int64_t time_ms; /* Unix epoch ms */
    rm_event_level_t level;
    int own; /* 1: replmon's, 0: libpgcm's */
    char node[64];
    char text[320];
} rm_event_entry_t;

typedef struct rm_eventpane rm_eventpane_t;

/* rm_eventpane_new - keep the last capacity events. NULL: no memory. */
rm_eventpane_t *rm_eventpane_new(size_t capacity);
void rm_eventpane_free(rm_eventpane_t *log);

/* rm_eventpane_add - one event of replmon's own (node may be NULL). */
#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
void rm_eventpane_add(rm_eventpane_t *log, int64_t time_ms,
                     rm_event_level_t level, const char *node,
                     const char *fmt, ...);

/* rm_eventpane_pgcm - record a libpgcm event (POOL_STATS are skipped).
 * Usable as the body of a pgcm_event_cb. */
void rm_eventpane_pgcm(rm_eventpane_t *log, const pgcm_event_t *ev);

/* rm_eventpane_copy - up to max entries, newest first. Returns how many. */
size_t rm_eventpane_copy(rm_eventpane_t *log, rm_event_entry_t *out,
                         size_t max);

/* rm_eventpane_seq - how many events were ever added (changes when a new
 * one arrives). */
uint64_t rm_eventpane_seq(rm_eventpane_t *log);

#endif /* REPLMON_TUI_EVENTPANE_H */
