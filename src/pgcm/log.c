/* SPDX-License-Identifier: MIT */
/*
 * log.c - the log hook (pgcm_options_t.log_cb): one record per happening on
 * the loop, filtered by the manager's log_level before anything is
 * formatted. Messages come from the library's own text and libpq's error
 * text, which never carries a password (see spec.c and error.c).
 */
#include <stdio.h>

#include "env.h"

const char *pgcm_log_level_name(pgcm_log_level_t level)
{
    switch (level) {
    case PGCM_LOG_DEBUG:
        return "debug";
    case PGCM_LOG_INFO:
        return "info";
    case PGCM_LOG_WARN:
        return "warn";
    case PGCM_LOG_ERROR:
        return "error";
    }
    return "unknown";
}

void pgcm__log_emit(const pgcm_options_t *opts, pgcm_log_level_t level,
                    const char *node_id, const char *event,
                    uint64_t correlation_id, int error_code,
                    const char *sqlstate, int64_t duration_us, const char *fmt,
                    ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    pgcm_log_record_t rec = {
        .level = level,
        .time_ms = pgcm__wall_ms(),
        .node_id = node_id,
        .event = event,
        .message = message,
        .correlation_id = correlation_id,
        .error_code = error_code,
        .sqlstate = sqlstate ? sqlstate : "",
        .duration_us = duration_us,
    };
    opts->log_cb(&rec, opts->log_user);
}
