/* SPDX-License-Identifier: MIT */
/*
 * eventlog.h - the dashboard's event pane: the last events of libpgcm
 * (state changes, connects, disconnects, nodes added and removed) and of
 * replmon itself (reloads, retries, collection failures), newest first.
 * Thread-safe: libpgcm's events arrive on its loop thread.
 */
#ifndef REPLMON_TUI_EVENTLOG_H
#define REPLMON_TUI_EVENTLOG_H

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

typedef struct rm_eventlog rm_eventlog_t;

/* rm_eventlog_new - keep the last capacity events. NULL: no memory. */
rm_eventlog_t *rm_eventlog_new(size_t capacity);
void rm_eventlog_free(rm_eventlog_t *log);

/* rm_eventlog_add - one event of replmon's own (node may be NULL). */
#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
void rm_eventlog_add(rm_eventlog_t *log, int64_t time_ms,
                     rm_event_level_t level, const char *node,
                     const char *fmt, ...);

/* rm_eventlog_pgcm - record a libpgcm event (POOL_STATS are skipped).
 * Usable as the body of a pgcm_event_cb. */
void rm_eventlog_pgcm(rm_eventlog_t *log, const pgcm_event_t *ev);

/* rm_eventlog_copy - up to max entries, newest first. Returns how many. */
size_t rm_eventlog_copy(rm_eventlog_t *log, rm_event_entry_t *out, size_t max);

/* rm_eventlog_seq - how many events were ever added (changes when a new
 * one arrives). */
uint64_t rm_eventlog_seq(rm_eventlog_t *log);

#endif /* REPLMON_TUI_EVENTLOG_H */
