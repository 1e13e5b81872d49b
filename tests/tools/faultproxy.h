/* SPDX-License-Identifier: MIT */
/*
 * faultproxy.h - a TCP proxy on 127.0.0.1 that injects network faults
 * between a client and one server: pass bytes through, black-hole them (the
 * TCP connection stays open and nothing answers, like a cut cable), delay
 * them, or reset every connection. For the health tests.
 *
 * Each proxy runs its own poll() thread. The mode can be changed from any
 * thread at any time; it applies to existing and new connections at once.
 */
#ifndef FAULTPROXY_H
#define FAULTPROXY_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct faultproxy faultproxy_t;

typedef enum faultproxy_mode {
    /* Forward bytes both ways as they come. */
    FAULTPROXY_PASS = 0,
    /* Forward nothing either way and read nothing: bytes stay in the
     * kernel's buffers (so they flow again, late, on PASS, like a healed
     * partition). New connections are accepted, but the proxy connects to
     * the server only once forwarding resumes, so the server never sees
     * them meanwhile. */
    FAULTPROXY_BLACKHOLE = 1,
    /* Forward each chunk delay_ms after it arrived. */
    FAULTPROXY_DELAY = 2,
    /* Close every connection with a TCP RST (SO_LINGER 0) on both sides,
     * and reset new ones as soon as they are accepted. */
    FAULTPROXY_RESET = 3
} faultproxy_mode_t;

/* faultproxy_start - listen on 127.0.0.1 (a port the kernel picks) and
 * forward to target_host:target_port (a numeric address or a name). Returns
 * the listening port and *out, or -1 with a one-line message in err. */
int faultproxy_start(const char *target_host, int target_port,
                     faultproxy_t **out, char *err, size_t errlen);

/* faultproxy_port - the port clients connect to. */
int faultproxy_port(const faultproxy_t *p);

/* faultproxy_set_mode - switch mode (delay_ms is used by DELAY only). Takes
 * effect before the proxy forwards another byte. Thread: any. */
void faultproxy_set_mode(faultproxy_t *p, faultproxy_mode_t mode, int delay_ms);

/* Shorthands for faultproxy_set_mode(). */
void faultproxy_pass(faultproxy_t *p);
void faultproxy_blackhole(faultproxy_t *p);
void faultproxy_delay(faultproxy_t *p, int delay_ms);
void faultproxy_reset(faultproxy_t *p);

/* faultproxy_mode - the current mode. */
faultproxy_mode_t faultproxy_mode(const faultproxy_t *p);

/* faultproxy_connections - client connections open right now. */
int faultproxy_connections(const faultproxy_t *p);

/* faultproxy_accepted - client connections accepted since the start. */
long faultproxy_accepted(const faultproxy_t *p);

/* faultproxy_stop - close every connection and the listener, join the
 * thread and free p. NULL is ok. */
void faultproxy_stop(faultproxy_t *p);

#ifdef __cplusplus
}
#endif

#endif /* FAULTPROXY_H */
