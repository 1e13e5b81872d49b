/* SPDX-License-Identifier: MIT */
/*
 * sshd.h - a real OpenSSH server for the tunnel tests: /usr/sbin/sshd on
 * 127.0.0.1 at a free port, with its own host key, sshd_config and
 * authorized_keys in a scratch directory, logging at VERBOSE to a file, so
 * a test can count logins, see its sessions and prove that a TCP
 * connection belongs to sshd.
 *
 * Runs as root (sshd's privilege separation needs it): the test user is
 * root, allowed by public key only (PermitRootLogin prohibit-password),
 * with StrictModes and PAM off and TCP forwarding on. Keys are made with
 * ssh-keygen (ed25519). Every sshd started is stopped by pid (the listener
 * and every process under it), at sshd_stop() or at exit.
 */
#ifndef SSHD_H
#define SSHD_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sshd sshd_t;

/* sshd_start - a scratch directory, a host key, a config (plus the
 * NULL-terminated extra_config lines, may be NULL) and a running sshd
 * that answers SSH on its port. Returns NULL with a one-line message in
 * err if anything fails (nothing is left behind). */
sshd_t *sshd_start(const char *const *extra_config, char *err, size_t errlen);

/* sshd_start_ready - sshd_start, then an authorized ed25519 key without a
 * passphrase (its path to key) and a known_hosts file recording the host
 * key for sshd's port (its path to known_hosts), both in sshd's
 * directory. NULL with the cause in err. */
sshd_t *sshd_start_ready(const char *const *extra_config, char *key,
                         size_t keylen, char *known_hosts, size_t khlen,
                         char *err, size_t errlen);

/* sshd_free_port - a port on 127.0.0.1 that nothing listens on (bound
 * once, then released), or -1. */
int sshd_free_port(void);

int sshd_port(const sshd_t *s);
const char *sshd_dir(const sshd_t *s);
const char *sshd_logfile(const sshd_t *s);
pid_t sshd_pid(const sshd_t *s); /* the listener, 0 when stopped */
/* The host public key as known_hosts wants it: "ssh-ed25519 AAAA...". */
const char *sshd_host_key(const sshd_t *s);
/* The host key's fingerprint as ssh-keygen -l prints it: "SHA256:...". */
const char *sshd_host_fingerprint(const sshd_t *s);

/* sshd_make_key - ssh-keygen an ed25519 key dir/name (passphrase NULL or
 * "": none); authorize: add the public key to authorized_keys. Writes the
 * private key's path to path. Returns 0, or -1 with the cause in err. */
int sshd_make_key(sshd_t *s, const char *name, const char *passphrase,
                  int authorize, char *path, size_t pathlen, char *err,
                  size_t errlen);
/* sshd_make_slow_key - the same with `rounds` rounds of the passphrase's
 * key derivation (ssh-keygen -a; 16 by default): a key that takes long to
 * decrypt. */
int sshd_make_slow_key(sshd_t *s, const char *name, const char *passphrase,
                       int rounds, int authorize, char *path, size_t pathlen,
                       char *err, size_t errlen);

/* sshd_add_known_host - append "[127.0.0.1]:port <host key>" to file (port:
 * the one clients connect to, e.g. a proxy's). Returns 0 or -1. */
int sshd_add_known_host(const sshd_t *s, const char *file, int port);

/* sshd_new_host_key - replace the host key (takes effect at the next
 * start: sshd_restart). Returns 0, or -1 with the cause in err. */
int sshd_new_host_key(sshd_t *s, char *err, size_t errlen);

/* sshd_kill - SIGKILL the listener and every process under it and wait
 * until they are gone. Returns 0 or -1. */
int sshd_kill(sshd_t *s);
/* sshd_freeze / sshd_thaw - SIGSTOP / SIGCONT the whole tree. */
int sshd_freeze(sshd_t *s);
int sshd_thaw(sshd_t *s);

/* sshd_restart - start sshd again (same port, config, keys) after a kill;
 * a running one is killed first. Returns 0, or -1 with the cause in err. */
int sshd_restart(sshd_t *s, char *err, size_t errlen);

/* sshd_login_count - successful logins in the log ("Accepted publickey"). */
int sshd_login_count(const sshd_t *s);
/* sshd_log_count - lines of the log that contain needle. */
int sshd_log_count(const sshd_t *s, const char *needle);
/* sshd_session_count - client connections sshd serves right now (its
 * per-connection processes). */
int sshd_session_count(const sshd_t *s);
/* sshd_owns_tcp_port - 1 if a process of this sshd has a TCP socket whose
 * local port is local_port on 127.0.0.1 (e.g. the client side of its
 * connection to PostgreSQL, which the server sees as client_port), else 0. */
int sshd_owns_tcp_port(const sshd_t *s, int local_port);

/* sshd_stop - kill it, remove the directory and free s. NULL is ok. */
void sshd_stop(sshd_t *s);

#ifdef __cplusplus
}
#endif

#endif /* SSHD_H */
