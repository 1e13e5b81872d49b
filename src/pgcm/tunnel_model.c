/* SPDX-License-Identifier: MIT */
/*
 * tunnel_model.c - the pure parts of the SSH tunnels (tunnel.h): the
 * liveness rule, the session key, fingerprints and key types as OpenSSH
 * prints them, known_hosts names, private key encryption detection and the
 * messages a person reads. No loop, no I/O.
 */
#include <stdio.h>
#include <string.h>

#include "tunnel.h"

void pgcm__tunnel_timing_init(pgcm__tunnel_timing_t *t)
{
    t->ping_idle_ms = 400;
    t->reply_timeout_ms = 1000;
    t->tick_ms = 100;
    t->connect_timeout_ms = 10000;
}

/*
 * The liveness rule, applied on every health tick of an up session:
 *
 *   ping in flight | server silent since max(ping, last byte) | verdict
 *   ---------------+-------------------------------------------+--------
 *   no             | < ping_idle_ms                            | OK
 *   no             | >= ping_idle_ms                           | PING
 *   yes            | < reply_timeout_ms                        | OK
 *   yes            | >= reply_timeout_ms                       | DEAD
 *
 * Any byte from the server counts as life (data, window adjusts, the ping's
 * answer), so a busy session is never pinged and a slow answer behind a
 * large transfer is not mistaken for death. Worst case for a server that
 * stops answering right after its last byte: ping_idle + tick + reply
 * timeout + tick (400 + 100 + 1000 + 100 = 1.6 s with the defaults).
 */
pgcm__tunnel_liveness_t
pgcm__tunnel_liveness(int64_t now_ms, int64_t last_rx_ms, int64_t ping_sent_ms,
                      const pgcm__tunnel_timing_t *timing)
{
    if (ping_sent_ms > 0) {
        int64_t since = ping_sent_ms > last_rx_ms ? ping_sent_ms : last_rx_ms;
        return now_ms - since >= timing->reply_timeout_ms ? PGCM__LIVE_DEAD
                                                          : PGCM__LIVE_OK;
    }
    return now_ms - last_rx_ms >= timing->ping_idle_ms ? PGCM__LIVE_PING
                                                       : PGCM__LIVE_OK;
}

static int str_same(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static int port_or_22(int port)
{
    return port > 0 ? port : 22;
}

int pgcm__ssh_options_same_session(const pgcm_ssh_options_t *a,
                                   const pgcm_ssh_options_t *b)
{
    return str_same(a->host, b->host) &&
           port_or_22(a->port) == port_or_22(b->port) &&
           str_same(a->user, b->user) && str_same(a->key_path, b->key_path) &&
           str_same(a->passphrase, b->passphrase) &&
           str_same(a->known_hosts, b->known_hosts) &&
           a->host_key_check == b->host_key_check;
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int pgcm__base64_encode(const unsigned char *in, size_t len, int pad, char *out,
                        size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        size_t n = len - i >= 3 ? 3 : len - i;
        if (n > 1)
            v |= (unsigned)in[i + 1] << 8;
        if (n > 2)
            v |= in[i + 2];
        size_t chars = pad ? 4 : n + 1;
        if (o + chars + 1 > outlen)
            return -1;
        for (size_t k = 0; k < 4; k++) {
            if (k <= n)
                out[o++] = b64_alphabet[(v >> (18 - 6 * k)) & 63];
            else if (pad)
                out[o++] = '=';
        }
    }
    if (o + 1 > outlen)
        return -1;
    out[o] = '\0';
    return (int)o;
}

void pgcm__ssh_fingerprint(const unsigned char sha256[32], char *out,
                           size_t outlen)
{
    char b64[48];
    pgcm__base64_encode(sha256, 32, 0, b64, sizeof b64);
    snprintf(out, outlen, "SHA256:%s", b64);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

void pgcm__ssh_key_blob_type(const unsigned char *blob, size_t len, char *out,
                             size_t outlen)
{
    snprintf(out, outlen, "unknown");
    if (blob == NULL || len < 4)
        return;
    uint32_t n = get_u32(blob);
    if (n == 0 || n > 64 || n > len - 4)
        return;
    for (uint32_t i = 0; i < n; i++) {
        unsigned char c = blob[4 + i];
        if (c <= ' ' || c >= 127)
            return;
    }
    snprintf(out, outlen, "%.*s", (int)n, (const char *)blob + 4);
}

void pgcm__known_hosts_name(const char *host, int port, char *out,
                            size_t outlen)
{
    if (port_or_22(port) == 22)
        snprintf(out, outlen, "%s", host);
    else
        snprintf(out, outlen, "[%s]:%d", host, port);
}

int pgcm__expand_home(const char *path, const char *home, char *out,
                      size_t outlen)
{
    int n;
    if (path[0] == '~' && path[1] == '/' && home != NULL)
        n = snprintf(out, outlen, "%s%s", home, path + 1);
    else
        n = snprintf(out, outlen, "%s", path);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static int b64_value(unsigned char c)
{
    const char *p = c ? strchr(b64_alphabet, c) : NULL;
    return p ? (int)(p - b64_alphabet) : -1;
}

/* Decode base64 from text (skipping line breaks) until out is full or a
 * character outside the alphabet. Returns the bytes written. */
static size_t b64_decode_prefix(const char *text, size_t len,
                                unsigned char *out, size_t outlen)
{
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len && o < outlen; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n' || c == '\r')
            continue;
        int v = b64_value(c);
        if (v < 0)
            break;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return o;
}

static const char *find_in(const char *text, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (memcmp(text + i, needle, n) == 0)
            return text + i;
    return NULL;
}

int pgcm__ssh_key_text_encrypted(const char *text, size_t len)
{
    static const char openssh_begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
    const char *p = find_in(text, len, openssh_begin);
    if (p != NULL) {
        p += sizeof openssh_begin - 1;
        while (p < text + len && (*p == '\n' || *p == '\r'))
            p++;
        /* "openssh-key-v1\0", then the cipher name as an SSH string. */
        unsigned char head[64];
        size_t n =
            b64_decode_prefix(p, (size_t)(text + len - p), head, sizeof head);
        static const char magic[] = "openssh-key-v1";
        if (n < sizeof magic + 4 || memcmp(head, magic, sizeof magic) != 0)
            return -1;
        uint32_t clen = get_u32(head + sizeof magic);
        if (clen == 0 || clen > n - sizeof magic - 4)
            return -1;
        const char *cipher = (const char *)head + sizeof magic + 4;
        return !(clen == 4 && memcmp(cipher, "none", 4) == 0);
    }
    if (find_in(text, len, "-----BEGIN ENCRYPTED PRIVATE KEY-----"))
        return 1;
    if (find_in(text, len, "PRIVATE KEY-----") != NULL)
        return find_in(text, len, "Proc-Type: 4,ENCRYPTED") != NULL;
    return -1;
}

void pgcm__ssh_msg_hostkey_unknown(char *out, size_t outlen, const char *host,
                                   int port, const char *key_type,
                                   const char *fingerprint,
                                   const char *known_hosts)
{
    snprintf(out, outlen,
             "ssh: the host key of bastion %s:%d is not known (%s %s, not in "
             "%s); check that fingerprint, then record the key with "
             "`ssh-keyscan -p %d %s >> %s`, or set ssh.host_key_check: "
             "accept-new",
             host, port_or_22(port), key_type, fingerprint, known_hosts,
             port_or_22(port), host, known_hosts);
}

void pgcm__ssh_msg_hostkey_changed(char *out, size_t outlen, const char *host,
                                   int port, const char *key_type,
                                   const char *fingerprint,
                                   const char *known_hosts)
{
    char name[300];
    pgcm__known_hosts_name(host, port, name, sizeof name);
    snprintf(out, outlen,
             "ssh: the host key of bastion %s:%d has CHANGED (it offers %s "
             "%s, %s records another): refused, this may be an attack; if "
             "the change is expected, remove the old key with `ssh-keygen -R "
             "'%s' -f %s` and record the new one with `ssh-keyscan -p %d %s "
             ">> %s`",
             host, port_or_22(port), key_type, fingerprint, known_hosts, name,
             known_hosts, port_or_22(port), host, known_hosts);
}

void pgcm__ssh_msg_channel_refused(char *out, size_t outlen,
                                   const char *bastion, const char *target,
                                   int target_port, const char *reason)
{
    const char *hint = "is that server up and reachable from the bastion?";
    if (strstr(reason, "prohibited") != NULL)
        hint = "the bastion's sshd does not allow forwarding there "
               "(AllowTcpForwarding, PermitOpen)";
    snprintf(out, outlen,
             "ssh: the bastion %s could not open a channel to %s:%d: %s; %s",
             bastion, target, target_port, reason, hint);
}
