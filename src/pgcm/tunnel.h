/* SPDX-License-Identifier: MIT */
/*
 * tunnel.h - SSH tunnels to nodes behind a bastion (libssh2), private to
 * libpgcm. A leaf of the loop side: it knows libuv and libssh2 only, never
 * nodes, pools or connections, and reports through one callback per tunnel.
 *
 * Shape:
 * - A registry per manager (pgcm__tunnels_t) on the manager's loop.
 * - One SSH session per bastion: every tunnel whose pgcm_ssh_options_t is
 *   equal (host, port, user, key, passphrase, known_hosts, host key check)
 *   shares it, refcounted; closing the last tunnel ends the session.
 * - A tunnel per node: a listener on 127.0.0.1 at an ephemeral port
 *   (pgcm__tunnel_local_port). Each connection accepted there (libpq's)
 *   becomes a `direct-tcpip` channel to the node's host and port as the
 *   bastion sees them, pumped by the loop both ways.
 * - Everything is non-blocking on the loop: name lookup (uv_getaddrinfo),
 *   TCP connect, key exchange, host key check, authentication, channels.
 *   The only synchronous I/O is reading the small local files (known_hosts,
 *   the private key) and appending to known_hosts for accept-new; the key
 *   authentication step (libssh2 decrypts the private key there, which
 *   costs a bcrypt derivation for a passphrase) runs on libuv's thread
 *   pool.
 *
 * Health: while a session is up, a ping (an `env` channel request, which
 * every server answers, usually with a refusal) goes out whenever the
 * server has been silent for ping_idle_ms; a ping unanswered and the server
 * silent for reply_timeout_ms ends the session (PGCM_ETIMEDOUT). With the
 * defaults a frozen or cut-off bastion is detected within about 1.6 s; a
 * closed connection at once. A lost or failed session is rebuilt by the
 * owner (pgcm__tunnel_reconnect, the node's backoff) or on demand when a
 * connection arrives at the listener (unless the failure was a
 * configuration error: those wait for pgcm__tunnel_reconnect).
 *
 * Callbacks run on the loop, never inside a pgcm__tunnel_* or
 * pgcm__tunnels_* call (they are delivered from a zero-delay timer), and
 * never after pgcm__tunnel_close() of that tunnel. A callback may call any
 * function here, including closing its own tunnel.
 *
 * Messages start with "ssh: ", name the hop (the bastion, or the bastion's
 * channel to the target) and the fix, and never contain the passphrase.
 */
#ifndef PGCM_TUNNEL_H
#define PGCM_TUNNEL_H

#include <stddef.h>
#include <stdint.h>

#include "pgcm.h"

struct uv_loop_s;

typedef struct pgcm__tunnels pgcm__tunnels_t;
typedef struct pgcm__tunnel pgcm__tunnel_t;

typedef enum pgcm__tunnel_event {
    /* The session is authenticated: connections go through. */
    PGCM__TUNNEL_UP,
    /* The session could not be made or was lost. code: PGCM_ECONN
     * (unreachable, closed), PGCM_ETIMEDOUT (no answer), PGCM_EAUTH (a
     * configuration error: host key, key file, passphrase, refused user).
     * Connections through the tunnel were closed. */
    PGCM__TUNNEL_DOWN,
    /* The bastion refused a channel to the target (target down, or
     * forwarding to it forbidden). code PGCM_ECONN. That one accepted
     * connection was closed; the session stays up. */
    PGCM__TUNNEL_CHANNEL_REFUSED
} pgcm__tunnel_event_t;

/* One event for the tunnel's owner. message is borrowed for the call. */
typedef void (*pgcm__tunnel_cb)(pgcm__tunnel_t *t, pgcm__tunnel_event_t ev,
                                int code, const char *message, void *owner);

/* Timing of a registry (milliseconds). */
typedef struct pgcm__tunnel_timing {
    int ping_idle_ms;       /* ping after this much silence (400) */
    int reply_timeout_ms;   /* dead: ping unanswered this long (1000) */
    int tick_ms;            /* health timer period (100) */
    int connect_timeout_ms; /* lookup + TCP + key exchange + auth (10000) */
} pgcm__tunnel_timing_t;

/* pgcm__tunnel_timing_init - the defaults above. */
void pgcm__tunnel_timing_init(pgcm__tunnel_timing_t *t);

/* pgcm__tunnels_new - a registry on loop (which must outlive it). Returns
 * NULL when out of memory. Loop thread only, like everything below. */
pgcm__tunnels_t *pgcm__tunnels_new(struct uv_loop_s *loop);

/* pgcm__tunnels_set_timing - for sessions made from now on. */
void pgcm__tunnels_set_timing(pgcm__tunnels_t *reg,
                              const pgcm__tunnel_timing_t *timing);

/* pgcm__tunnels_close - close every tunnel (no callback of theirs fires any
 * more), end every session, then call done(arg) once all handles are
 * closed, from a close callback (never before this returns); reg is freed
 * right after done returns. */
void pgcm__tunnels_close(pgcm__tunnels_t *reg, void (*done)(void *arg),
                         void *arg);

/* pgcm__tunnels_sessions - SSH sessions alive (connecting or up). */
int pgcm__tunnels_sessions(const pgcm__tunnels_t *reg);

/* pgcm__tunnel_open - a tunnel to target_host:target_port (as the bastion
 * sees them) through the session for *ssh, made or shared. The listener is
 * open when this returns (pgcm__tunnel_local_port); the session comes up
 * asynchronously: PGCM__TUNNEL_UP or _DOWN follows (also when the session
 * was already up). Strings are copied. Returns PGCM_OK and *out, or
 * PGCM_EINVAL (missing host/target, message in err), PGCM_ENOMEM, or
 * PGCM_ECONN (the listener could not be opened); then no callback fires. */
int pgcm__tunnel_open(pgcm__tunnels_t *reg, const pgcm_ssh_options_t *ssh,
                      const char *target_host, int target_port,
                      pgcm__tunnel_cb cb, void *owner, pgcm__tunnel_t **out,
                      pgcm_error_t *err);

/* pgcm__tunnel_local_port - the listener's port on 127.0.0.1. */
int pgcm__tunnel_local_port(const pgcm__tunnel_t *t);

/* pgcm__tunnel_check - for the node's probe, before it connects: PGCM_OK
 * when the session is up (and then a ping goes out at once if none is in
 * flight, so a dead bastion is noticed within reply_timeout_ms) or being
 * made (a connection made now waits for it); otherwise the code and
 * message of the last failure in err (may be NULL). */
int pgcm__tunnel_check(pgcm__tunnel_t *t, pgcm_error_t *err);

/* pgcm__tunnel_problem - why the last connection through t failed on the
 * SSH hop, if it did: the code and message (in err, may be NULL) of the
 * last session failure or channel refusal since t last carried a
 * connection or its session last came up; PGCM_OK when there is none (a
 * failure then came from the server itself). For the node's last error. */
int pgcm__tunnel_problem(const pgcm__tunnel_t *t, pgcm_error_t *err);

/* pgcm__tunnel_is_up - 1 when the tunnel's session is up. */
int pgcm__tunnel_is_up(const pgcm__tunnel_t *t);

/* pgcm__tunnel_reconnect - rebuild the session if it is down (the owner's
 * backoff decides when); a no-op while it is up or being made. */
void pgcm__tunnel_reconnect(pgcm__tunnel_t *t);

/* pgcm__tunnel_channels - connections currently carried by t. */
int pgcm__tunnel_channels(const pgcm__tunnel_t *t);

/* pgcm__tunnel_close - close the listener and every connection through t;
 * no callback fires after this. The session ends with its last tunnel. t
 * is freed later on the loop: do not use it after this call. */
void pgcm__tunnel_close(pgcm__tunnel_t *t);

/* ---- pure parts (tunnel_model.c): no loop, no I/O -------------------- */

/* Liveness of an up session, decided on every health tick. Times are in
 * milliseconds on one monotonic clock; ping_sent_ms is 0 when no ping is
 * in flight. */
typedef enum pgcm__tunnel_liveness {
    PGCM__LIVE_OK,   /* nothing to do */
    PGCM__LIVE_PING, /* silent for ping_idle_ms: send a ping */
    PGCM__LIVE_DEAD  /* a ping is unanswered and the server silent for
                        reply_timeout_ms: the session is dead */
} pgcm__tunnel_liveness_t;

pgcm__tunnel_liveness_t
pgcm__tunnel_liveness(int64_t now_ms, int64_t last_rx_ms, int64_t ping_sent_ms,
                      const pgcm__tunnel_timing_t *timing);

/* The session key: two option sets share a session when this returns 1.
 * NULL strings equal only NULL; port 0 means 22. */
int pgcm__ssh_options_same_session(const pgcm_ssh_options_t *a,
                                   const pgcm_ssh_options_t *b);

/* Standard base64 of len bytes into out (NUL-terminated), without the
 * trailing '=' padding when pad is 0 (as OpenSSH prints fingerprints).
 * Returns the length written, or -1 if outlen is too small. */
int pgcm__base64_encode(const unsigned char *in, size_t len, int pad, char *out,
                        size_t outlen);

/* "SHA256:<base64 without padding>" of a 32-byte digest. */
void pgcm__ssh_fingerprint(const unsigned char sha256[32], char *out,
                           size_t outlen);

/* The key type a public key blob names (its first string, e.g.
 * "ssh-ed25519"), copied into out; "unknown" if the blob is malformed. */
void pgcm__ssh_key_blob_type(const unsigned char *blob, size_t len, char *out,
                             size_t outlen);

/* How known_hosts names a host: "host" on port 22, else "[host]:port". */
void pgcm__known_hosts_name(const char *host, int port, char *out,
                            size_t outlen);

/* path with a leading "~/" replaced by home/ (other paths as they are).
 * Returns 0, or -1 if out is too small. */
int pgcm__expand_home(const char *path, const char *home, char *out,
                      size_t outlen);

/* Whether the text of a private key file is encrypted with a passphrase:
 * 1 yes, 0 no, -1 not a format recognised here (PEM with Proc-Type
 * ENCRYPTED, PKCS#8 ENCRYPTED PRIVATE KEY, OpenSSH openssh-key-v1 with a
 * cipher other than "none"). */
int pgcm__ssh_key_text_encrypted(const char *text, size_t len);

/* Messages (one line, "ssh: ..."). bastion is "host:port". */
void pgcm__ssh_msg_hostkey_unknown(char *out, size_t outlen, const char *host,
                                   int port, const char *key_type,
                                   const char *fingerprint,
                                   const char *known_hosts);
void pgcm__ssh_msg_hostkey_changed(char *out, size_t outlen, const char *host,
                                   int port, const char *key_type,
                                   const char *fingerprint,
                                   const char *known_hosts);
/* A channel the bastion refused: reason is libssh2's or the server's
 * ("connect failed", "administratively prohibited", ...). */
void pgcm__ssh_msg_channel_refused(char *out, size_t outlen,
                                   const char *bastion, const char *target,
                                   int target_port, const char *reason);

#endif /* PGCM_TUNNEL_H */
