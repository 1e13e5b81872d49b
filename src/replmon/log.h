/* SPDX-License-Identifier: MIT */
/*
 * log.h - replmon's structured log (S4): one line per happening, as text
 * or as JSON (jansson), fed by libpgcm's log hook and by replmon's own
 * events (rounds, reloads, HTTP requests, the event table). Every line
 * carries a correlation id when it belongs to a request, a batch, a probe
 * cycle or a collection round, so that one grep follows it.
 *
 * JSON lines:
 *   {"timestamp":"2024-01-10T12:34:56.789Z","level":"info",
 *    "event":"state_changed","node":"pub","correlation_id":"8000...",
 *    "message":"healthy -> unhealthy: ...","data":{"source":"pgcm",...}}
 * node and correlation_id are null when the line has none.
 * Text lines:
 *   2024-01-10T12:34:56.789Z info state_changed node=pub cid=8000...: msg
 *
 * Lines are written by a thread of the log's own from a bounded queue, so
 * the library's loop thread never waits for a slow disk or a full pipe;
 * when the queue is full, lines are dropped and counted (a warning line
 * says how many once the writer catches up). Secrets registered with
 * rm_log_add_secret() are masked wherever they would appear.
 *
 * The log is process-wide (one command per process). Until rm_log_open()
 * and after rm_log_close() nothing is written. Thread: every function may
 * be called from any thread.
 */
#ifndef REPLMON_LOG_H
#define REPLMON_LOG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pgcm.h"

typedef enum rm_log_format { RM_LOG_TEXT = 0, RM_LOG_JSON = 1 } rm_log_format_t;

typedef struct rm_log_options {
    rm_log_format_t format;
    pgcm_log_level_t level; /* least level written */
    const char *path;       /* appended to; NULL: stderr */
} rm_log_options_t;

/* rm_log_parse_format - "text" or "json". Returns 0, or -1. */
int rm_log_parse_format(const char *text, rm_log_format_t *out);
/* rm_log_parse_level - "debug", "info", "warn" (or "warning"), "error".
 * Returns 0, or -1. */
int rm_log_parse_level(const char *text, pgcm_log_level_t *out);

/* rm_log_open - start writing lines as opts says (a second call replaces
 * the first). Returns 0, or -1 with "cannot open FILE: why" in err. */
int rm_log_open(const rm_log_options_t *opts, char *err, size_t errlen);
/* rm_log_reopen - close and open the log file again (after a rotation);
 * stderr stays. Returns 0, or -1 with err (the old file is kept). */
int rm_log_reopen(char *err, size_t errlen);
/* rm_log_close - write what is queued, stop the writer, close the file. */
void rm_log_close(void);

/* rm_log_enabled - whether a line of this level would be written. */
int rm_log_enabled(pgcm_log_level_t level);
/* rm_log_level - the least level written (PGCM_LOG_ERROR when closed). */
pgcm_log_level_t rm_log_level(void);
/* rm_log_dropped - lines dropped so far because the queue was full. */
uint64_t rm_log_dropped(void);

/* rm_log_add_secret - mask this text (a password) as "********" wherever
 * it would appear in a line; texts shorter than 3 bytes are ignored. */
void rm_log_add_secret(const char *secret);
/* rm_log_forget_secrets - drop every registered secret (wiped). */
void rm_log_forget_secrets(void);

/* rm_log_correlation_id - a new id for a request, batch or round: unique
 * in this process and distinct from libpgcm's own request ids (its top bit
 * is set). */
uint64_t rm_log_correlation_id(void);
/* rm_log_format_cid - the id as 16 hex digits (buf of at least 17). */
void rm_log_format_cid(uint64_t cid, char *buf, size_t len);

/* rm_log - one line of replmon's own. node and data may be NULL; data, a
 * JSON object, is stolen (decref'd here). */
#if defined(__GNUC__)
__attribute__((format(printf, 6, 7)))
#endif
void rm_log(pgcm_log_level_t level, const char *event, const char *node,
            uint64_t cid, json_t *data, const char *fmt, ...);

/* rm_log_pgcm - a pgcm_log_cb: writes the library's record (data has
 * "source":"pgcm" and the error code's name and SQLSTATE when set).
 * user is ignored. */
void rm_log_pgcm(const pgcm_log_record_t *rec, void *user);
/* rm_log_pgcm_from - as rm_log_pgcm with another "source" in data (e.g.
 * "eventlog" for the event table's own connection manager). */
void rm_log_pgcm_from(const pgcm_log_record_t *rec, const char *source);

/* rm_log_json_text - a JSON string of s with bytes that are not UTF-8
 * shown as '?' (json_null() for NULL); NULL only when out of memory. */
json_t *rm_log_json_text(const char *s);

/* ---- formatting (pure, for tests) ------------------------------------ */

typedef struct rm_log_line {
    int64_t time_ms; /* Unix epoch milliseconds */
    pgcm_log_level_t level;
    const char *event;
    const char *node;        /* NULL: none */
    uint64_t correlation_id; /* 0: none */
    const char *message;
    const json_t *data; /* an object, or NULL */
} rm_log_line_t;

/* rm_log_format_time - RFC 3339 UTC with milliseconds,
 * "2024-01-10T12:34:56.789Z" (buf of at least 25). */
void rm_log_format_time(int64_t time_ms, char *buf, size_t len);

/* rm_log_format_line - the line (with its newline) in this format,
 * malloc'd, or NULL when out of memory. */
char *rm_log_format_line(rm_log_format_t format, const rm_log_line_t *line);

/* rm_log_mask - replace every occurrence of secret in s (in place, s is
 * realloc'd when needed) by "********". Returns s (or a new pointer). */
char *rm_log_mask(char *s, const char *secret);

#endif /* REPLMON_LOG_H */
