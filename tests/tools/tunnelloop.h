/* SPDX-License-Identifier: MIT */
/*
 * tunnelloop.h - a libuv loop on a thread of its own that drives one SSH
 * tunnel registry (src/pgcm/tunnel.h) for the tunnel tests and the
 * benchmark, so their own thread is free for blocking libpq calls. Every
 * call posts to the loop and waits for it; the tunnels' events are
 * recorded with the time they arrived.
 */
#ifndef TUNNELLOOP_H
#define TUNNELLOOP_H

#include <stdint.h>

#include "tunnel.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tunnelloop tunnelloop_t;

typedef struct tunnelloop_event {
    pgcm__tunnel_t *t;
    pgcm__tunnel_event_t ev;
    int code;
    char msg[512];
    int64_t at_ms; /* monotonic clock, as tunnelloop_now_ms() */
} tunnelloop_event_t;

/* tunnelloop_start - a loop thread with a new registry (timing NULL: the
 * defaults). NULL if it cannot start. */
tunnelloop_t *tunnelloop_start(const pgcm__tunnel_timing_t *timing);

/* tunnelloop_stop - close the registry, wait for its done callback, stop
 * the thread and close the loop. Returns uv_loop_close()'s result (0: no
 * handle was left behind). NULL is ok (returns 0). */
int tunnelloop_stop(tunnelloop_t *tl);

/* Each of these runs the tunnel.h function of the same name on the loop
 * and returns its result. */
int tunnelloop_open(tunnelloop_t *tl, const pgcm_ssh_options_t *ssh,
                    const char *target_host, int target_port,
                    pgcm__tunnel_t **out, pgcm_error_t *err);
void tunnelloop_close_tunnel(tunnelloop_t *tl, pgcm__tunnel_t *t);
void tunnelloop_reconnect(tunnelloop_t *tl, pgcm__tunnel_t *t);
int tunnelloop_check(tunnelloop_t *tl, pgcm__tunnel_t *t, pgcm_error_t *err);
int tunnelloop_is_up(tunnelloop_t *tl, pgcm__tunnel_t *t);
int tunnelloop_channels(tunnelloop_t *tl, pgcm__tunnel_t *t);
int tunnelloop_local_port(tunnelloop_t *tl, pgcm__tunnel_t *t);
int tunnelloop_sessions(tunnelloop_t *tl);

/* tunnelloop_wait_event - wait up to timeout_ms for event ev of t
 * recorded at index >= *since; on success copy it to out, move *since past
 * it and return 0. On timeout return -1 with t's last event (or ev -1) in
 * out. */
int tunnelloop_wait_event(tunnelloop_t *tl, pgcm__tunnel_t *t,
                          pgcm__tunnel_event_t ev, int *since, int timeout_ms,
                          tunnelloop_event_t *out);
/* tunnelloop_event_count - events ev of t recorded so far. */
int tunnelloop_event_count(tunnelloop_t *tl, pgcm__tunnel_t *t,
                           pgcm__tunnel_event_t ev);
/* tunnelloop_events_mention - 1 if any recorded message contains needle. */
int tunnelloop_events_mention(tunnelloop_t *tl, const char *needle);

/* A monotonic clock in milliseconds. */
int64_t tunnelloop_now_ms(void);

#ifdef __cplusplus
}
#endif

#endif /* TUNNELLOOP_H */
