/* SPDX-License-Identifier: MIT */
/*
 * bastion.h - cmocka helpers for the SSH tunnel tests (test_tunnel.c,
 * test_tunnel_nodes.c): a real sshd (sshd.h) as a bastion, the fault proxy
 * in front of one with a known_hosts file for the proxy's port, servers
 * for the tunnels to reach, the wait
 * for a bastion's sessions to end, and a TLS-only PostgreSQL server to
 * reach through a tunnel. Each fails the current test (cmocka's fail_msg)
 * with the cause.
 *
 * Include <stdarg.h>, <stddef.h>, <stdint.h>, <setjmp.h> and <cmocka.h>
 * first, as cmocka requires.
 */
#ifndef BASTION_H
#define BASTION_H

#include <stddef.h>

#include "faultproxy.h"
#include "localpg.h"
#include "sshd.h"
#include "tls.h"

#ifdef __cplusplus
extern "C" {
#endif

/* bastion_targets - fixture_start n PostgreSQL servers for the tunnels to
 * reach, whose backends notice at once that their client (sshd) went away,
 * even inside pg_sleep(), so that closed tunnels leave nothing behind. */
localpg_server_t **bastion_targets(int n);

/* bastion_start - sshd_start_ready(conf, ...): an sshd with extra config
 * lines conf (NULL: none), its authorized key's path in key and a
 * known_hosts file recording it in kh. */
sshd_t *bastion_start(const char *const *conf, char *key, size_t keylen,
                      char *kh, size_t khlen);

/* bastion_proxy - the fault proxy in front of d (in *proxy), and a fresh
 * known_hosts file sshd_dir(d)/name (its path in kh) recording d's host key
 * for the proxy's port. Returns the proxy's port. */
int bastion_proxy(sshd_t *d, faultproxy_t **proxy, const char *name, char *kh,
                  size_t khlen);

/* bastion_wait_no_sessions - wait up to timeout_ms until d serves no
 * client connection; fail with the count otherwise. */
void bastion_wait_no_sessions(const sshd_t *d, int timeout_ms);

/* bastion_tls_server - fresh TLS files (tls_make_files, into *files) and a
 * server that accepts hostssl only (TLS_HBA_SSL_ONLY) with them. Destroy it
 * with localpg_destroy, then tls_remove_files(files). */
localpg_server_t *bastion_tls_server(tls_files_t *files);

#ifdef __cplusplus
}
#endif

#endif /* BASTION_H */
