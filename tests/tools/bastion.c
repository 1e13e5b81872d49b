/* SPDX-License-Identifier: MIT */
/*
 * bastion.c - the cmocka helpers of bastion.h for the SSH tunnel tests:
 * sshd, the fault proxy and TLS servers started so that a failure fails
 * the test with the cause.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bastion.h"

#include <stdio.h>
#include <unistd.h>

#include "fixture.h"

localpg_server_t **bastion_targets(int n)
{
    static const char *const conf[] = {
        "client_connection_check_interval = 100ms", NULL};
    localpg_options_t o;
    localpg_options_init(&o);
    o.conf_lines = conf;
    return fixture_start(n, &o);
}

sshd_t *bastion_start(const char *const *conf, char *key, size_t keylen,
                      char *kh, size_t khlen)
{
    char err[1024];
    sshd_t *d = sshd_start_ready(conf, key, keylen, kh, khlen, err, sizeof err);
    if (d == NULL)
        fail_msg("bastion: %s", err);
    return d;
}

int bastion_proxy(sshd_t *d, faultproxy_t **proxy, const char *name, char *kh,
                  size_t khlen)
{
    int port = fixture_proxy_start("127.0.0.1", sshd_port(d), proxy);
    snprintf(kh, khlen, "%s/%s", sshd_dir(d), name);
    unlink(kh);
    if (sshd_add_known_host(d, kh, port) < 0)
        fail_msg("bastion: cannot write %s", kh);
    return port;
}

void bastion_wait_no_sessions(const sshd_t *d, int timeout_ms)
{
    int64_t deadline = fixture_now_ms() + timeout_ms;
    while (sshd_session_count(d) > 0 && fixture_now_ms() < deadline)
        fixture_sleep_ms(20);
    int left = sshd_session_count(d);
    if (left != 0)
        fail_msg("bastion: sshd still serves %d session(s) after %d ms", left,
                 timeout_ms);
}

localpg_server_t *bastion_tls_server(tls_files_t *files)
{
    char err[1024];
    if (tls_make_files(NULL, files, err, sizeof err) < 0)
        fail_msg("bastion: TLS files: %s", err);
    localpg_server_t *s =
        tls_start_server(files, TLS_HBA_SSL_ONLY, NULL, err, sizeof err);
    if (s == NULL) {
        tls_remove_files(files);
        fail_msg("bastion: TLS server: %s", err);
    }
    return s;
}
