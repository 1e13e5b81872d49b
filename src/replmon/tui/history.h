/* SPDX-License-Identifier: MIT */
/*
 * history.h - time series the dashboard keeps between rounds (lag of each
 * subscription and standby, retention of each slot, latency of each node,
 * error counters), keyed by a string such as "sub/subscriber1/demo_sub_1",
 * each a ring of the last `capacity` samples; and their sparklines
 * (`▁▂▃▄▅▆▇█`, or `.:-=+*#` in ASCII). Pure; one thread.
 */
#ifndef REPLMON_TUI_HISTORY_H
#define REPLMON_TUI_HISTORY_H

#include <stddef.h>
#include <stdint.h>

typedef struct rm_series rm_series_t;
typedef struct rm_history rm_history_t;

/* rm_history_new - samples kept per series (at least 2). NULL: no
 * memory. */
rm_history_t *rm_history_new(size_t capacity);
void rm_history_free(rm_history_t *h);

/* rm_history_add - append (t_ms, v) to the series named key (created on
 * first use). v may be NAN (a gap: not reported). A sample not newer than
 * the last one is ignored. Returns 0, or -1 when out of memory. */
int rm_history_add(rm_history_t *h, const char *key, int64_t t_ms, double v);

/* rm_history_get - the series, or NULL when none was added. */
const rm_series_t *rm_history_get(const rm_history_t *h, const char *key);

/* rm_history_prune - forget series whose last sample is older than
 * before_ms (objects that went away). */
void rm_history_prune(rm_history_t *h, int64_t before_ms);

/* rm_history_size - how many series are kept. */
size_t rm_history_size(const rm_history_t *h);

/* Samples, oldest first: i in [0, rm_series_count). */
size_t rm_series_count(const rm_series_t *s);
double rm_series_value(const rm_series_t *s, size_t i);
int64_t rm_series_time(const rm_series_t *s, size_t i);

/* rm_series_span_ms - time between the oldest and newest sample. */
int64_t rm_series_span_ms(const rm_series_t *s);

/* rm_series_minmax - min and max of the samples not older than since_ms
 * (NAN ignored). Returns the number of samples used. */
size_t rm_series_minmax(const rm_series_t *s, int64_t since_ms, double *min,
                        double *max);

/* rm_series_rate_per_min - growth of a counter per minute over the
 * samples of the last window_ms (a decrease, a reset, counts as 0).
 * NAN when fewer than two samples span the window. */
double rm_series_rate_per_min(const rm_series_t *s, int64_t now_ms,
                              int64_t window_ms);

/* rm_sparkline - the last `width` samples as one glyph each, scaled from 0
 * (or the minimum, when one is negative) to the maximum of those samples,
 * or to floor when that is larger (so that a few bytes of jitter do not
 * draw full bars); a gap is a blank; fewer samples are right-aligned. s
 * may be NULL (all blank). Writes UTF-8 (or ASCII) to out,
 * NUL-terminated. */
void rm_sparkline(const rm_series_t *s, int width, int utf8, double floor,
                  char *out, size_t outlen);

#endif /* REPLMON_TUI_HISTORY_H */
