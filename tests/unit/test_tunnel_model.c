/* SPDX-License-Identifier: MIT */
/*
 * test_tunnel_model.c - the pure parts of the SSH tunnels
 * (src/pgcm/tunnel_model.c): the liveness rule and its worst case, the
 * session key, base64 and fingerprints as OpenSSH prints them, key types
 * from key blobs, known_hosts names, "~/" paths, private key encryption
 * detection, the messages a person reads, and what the spec accepts with
 * ssh (host_key_check, the target host, ssh.port).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "internal.h"
#include "tunnel.h"

static pgcm__tunnel_timing_t timing(void)
{
    pgcm__tunnel_timing_t t;
    pgcm__tunnel_timing_init(&t);
    return t;
}

static void test_timing_defaults(void **state)
{
    (void)state;
    pgcm__tunnel_timing_t t = timing();
    assert_int_equal(t.ping_idle_ms, 400);
    assert_int_equal(t.reply_timeout_ms, 1000);
    assert_int_equal(t.tick_ms, 100);
    assert_int_equal(t.connect_timeout_ms, 10000);
    /* Worst case for a server that stops after its last byte: it must
     * stay within L5's 2 s. */
    assert_true(t.ping_idle_ms + t.tick_ms + t.reply_timeout_ms + t.tick_ms <
                2000);
}

/* Every row of the table above pgcm__tunnel_liveness. */
static void test_liveness_table(void **state)
{
    (void)state;
    pgcm__tunnel_timing_t t = timing();
    /* no ping in flight */
    assert_int_equal(pgcm__tunnel_liveness(1000, 1000, 0, &t), PGCM__LIVE_OK);
    assert_int_equal(pgcm__tunnel_liveness(1399, 1000, 0, &t), PGCM__LIVE_OK);
    assert_int_equal(pgcm__tunnel_liveness(1400, 1000, 0, &t), PGCM__LIVE_PING);
    assert_int_equal(pgcm__tunnel_liveness(9000, 1000, 0, &t), PGCM__LIVE_PING);
    /* ping in flight, nothing heard since */
    assert_int_equal(pgcm__tunnel_liveness(2399, 1000, 1400, &t),
                     PGCM__LIVE_OK);
    assert_int_equal(pgcm__tunnel_liveness(2400, 1000, 1400, &t),
                     PGCM__LIVE_DEAD);
    /* ping in flight, but bytes arrived after it: silence counts from them */
    assert_int_equal(pgcm__tunnel_liveness(2400, 2000, 1400, &t),
                     PGCM__LIVE_OK);
    assert_int_equal(pgcm__tunnel_liveness(3000, 2000, 1400, &t),
                     PGCM__LIVE_DEAD);
}

/* Replay a frozen server on a tick-driven clock: dead within 2 s of its
 * last byte, and a healthy one is never declared dead. */
static void test_liveness_detection_bound(void **state)
{
    (void)state;
    pgcm__tunnel_timing_t t = timing();
    for (int phase = 0; phase < t.tick_ms; phase += 7) {
        int64_t last_rx = 0, ping = 0, dead_at = -1;
        for (int64_t now = phase; now < 5000; now += t.tick_ms) {
            pgcm__tunnel_liveness_t v =
                pgcm__tunnel_liveness(now, last_rx, ping, &t);
            if (v == PGCM__LIVE_DEAD) {
                dead_at = now;
                break;
            }
            if (v == PGCM__LIVE_PING)
                ping = now;
        }
        assert_true(dead_at > 0);
        assert_true(dead_at - last_rx < 2000);
    }
    /* A server answering each ping within 300 ms lives forever. */
    int64_t last_rx = 0, ping = 0;
    for (int64_t now = 0; now < 60000; now += t.tick_ms) {
        if (ping && now - ping >= 300) {
            last_rx = now;
            ping = 0;
        }
        pgcm__tunnel_liveness_t v =
            pgcm__tunnel_liveness(now, last_rx, ping, &t);
        assert_int_not_equal(v, PGCM__LIVE_DEAD);
        if (v == PGCM__LIVE_PING)
            ping = now;
    }
}

static void test_same_session(void **state)
{
    (void)state;
    pgcm_ssh_options_t a, b;
    memset(&a, 0, sizeof a);
    a.host = "bastion";
    a.port = 22;
    a.user = "jump";
    a.key_path = "/k";
    b = a;
    b.port = 0; /* 0 means 22 */
    assert_true(pgcm__ssh_options_same_session(&a, &b));
    b = a;
    b.host = "other";
    assert_false(pgcm__ssh_options_same_session(&a, &b));
    b = a;
    b.port = 2222;
    assert_false(pgcm__ssh_options_same_session(&a, &b));
    b = a;
    b.user = "someone";
    assert_false(pgcm__ssh_options_same_session(&a, &b));
    b = a;
    b.key_path = "/other";
    assert_false(pgcm__ssh_options_same_session(&a, &b));
    b = a;
    b.passphrase = "x";
    assert_false(pgcm__ssh_options_same_session(&a, &b));
    b = a;
    b.known_hosts = "/kh";
    assert_false(pgcm__ssh_options_same_session(&a, &b));
    b = a;
    b.host_key_check = PGCM_HOSTKEY_ACCEPT_NEW;
    assert_false(pgcm__ssh_options_same_session(&a, &b));
    b = a;
    b.user = NULL;
    assert_false(pgcm__ssh_options_same_session(&a, &b));
}

static void test_base64(void **state)
{
    (void)state;
    char out[64];
    static const struct {
        const char *in;
        const char *pad;
        const char *nopad;
    } v[] = {{"", "", ""},
             {"f", "Zg==", "Zg"},
             {"fo", "Zm8=", "Zm8"},
             {"foo", "Zm9v", "Zm9v"},
             {"foob", "Zm9vYg==", "Zm9vYg"},
             {"fooba", "Zm9vYmE=", "Zm9vYmE"},
             {"foobar", "Zm9vYmFy", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        size_t n = strlen(v[i].in);
        assert_int_equal(pgcm__base64_encode((const unsigned char *)v[i].in, n,
                                             1, out, sizeof out),
                         (int)strlen(v[i].pad));
        assert_string_equal(out, v[i].pad);
        pgcm__base64_encode((const unsigned char *)v[i].in, n, 0, out,
                            sizeof out);
        assert_string_equal(out, v[i].nopad);
    }
    assert_int_equal(
        pgcm__base64_encode((const unsigned char *)"foobar", 6, 1, out, 8), -1);
}

/* SHA-256 of "abc", as ssh-keygen -l would print it. */
static void test_fingerprint(void **state)
{
    (void)state;
    static const unsigned char digest[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
        0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
        0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    char out[80];
    pgcm__ssh_fingerprint(digest, out, sizeof out);
    assert_string_equal(out,
                        "SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0");
}

static void test_key_blob_type(void **state)
{
    (void)state;
    unsigned char blob[64];
    memcpy(blob, "\0\0\0\x0bssh-ed25519\0\0\0\x20", 19);
    memset(blob + 19, 7, 32);
    char out[64];
    pgcm__ssh_key_blob_type(blob, 51, out, sizeof out);
    assert_string_equal(out, "ssh-ed25519");
    pgcm__ssh_key_blob_type(blob, 10, out, sizeof out); /* cut short */
    assert_string_equal(out, "unknown");
    pgcm__ssh_key_blob_type(NULL, 0, out, sizeof out);
    assert_string_equal(out, "unknown");
    memcpy(blob, "\0\0\0\x05\x01\x02xyz", 9); /* not text */
    pgcm__ssh_key_blob_type(blob, 9, out, sizeof out);
    assert_string_equal(out, "unknown");
}

static void test_known_hosts_name_and_home(void **state)
{
    (void)state;
    char out[128];
    pgcm__known_hosts_name("bastion.example", 22, out, sizeof out);
    assert_string_equal(out, "bastion.example");
    pgcm__known_hosts_name("bastion.example", 0, out, sizeof out);
    assert_string_equal(out, "bastion.example");
    pgcm__known_hosts_name("10.0.0.1", 2222, out, sizeof out);
    assert_string_equal(out, "[10.0.0.1]:2222");

    assert_int_equal(
        pgcm__expand_home("~/.ssh/known_hosts", "/home/me", out, sizeof out),
        0);
    assert_string_equal(out, "/home/me/.ssh/known_hosts");
    assert_int_equal(pgcm__expand_home("/etc/k", "/home/me", out, sizeof out),
                     0);
    assert_string_equal(out, "/etc/k");
    assert_int_equal(pgcm__expand_home("~other/k", "/home/me", out, sizeof out),
                     0);
    assert_string_equal(out, "~other/k");
    assert_int_equal(pgcm__expand_home("~/k", "/home/me", out, 5), -1);
}

/* The first lines of real ssh-keygen output are all the detector needs. */
static void test_key_encryption_detection(void **state)
{
    (void)state;
    static const char plain[] = "-----BEGIN OPENSSH PRIVATE KEY-----\n"
                                "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAA"
                                "AAAAABAAAAMwAAAAtzc2gtZW\n"
                                "QyNTUxOQAAACCvV4JWw2qdm1Fpep2FgSx7M3yggGWfDuQr"
                                "ytCNN08wiQAAAJAcCzL6HAsy\n";
    static const char encrypted[] = "-----BEGIN OPENSSH PRIVATE KEY-----\n"
                                    "b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAA"
                                    "AGYmNyeXB0AAAAGAAAABDq2wruhT\n"
                                    "7a6Pd4N0WExs3AAAAAEAAAAAEAAAAzAAAAC3NzaC1l"
                                    "ZDI1NTE5AAAAICsuM1MDJ3GxPJem\n";
    static const char pem_plain[] = "-----BEGIN RSA PRIVATE KEY-----\n"
                                    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n";
    static const char pem_encrypted[] =
        "-----BEGIN RSA PRIVATE KEY-----\n"
        "Proc-Type: 4,ENCRYPTED\n"
        "DEK-Info: AES-128-CBC,8A3B1F2C9D0E4F5A6B7C8D9E0F1A2B3C\n\n";
    static const char pkcs8_encrypted[] =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHzBJBgkqhkiG9w0BBQ0w\n";
    static const char pkcs8_plain[] =
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n";
    static const char garbage[] = "not a key at all\n";
    static const char bad_openssh[] = "-----BEGIN OPENSSH PRIVATE KEY-----\n"
                                      "aGVsbG8gd29ybGQ=\n";
    assert_int_equal(pgcm__ssh_key_text_encrypted(plain, strlen(plain)), 0);
    assert_int_equal(pgcm__ssh_key_text_encrypted(encrypted, strlen(encrypted)),
                     1);
    assert_int_equal(pgcm__ssh_key_text_encrypted(pem_plain, strlen(pem_plain)),
                     0);
    assert_int_equal(
        pgcm__ssh_key_text_encrypted(pem_encrypted, strlen(pem_encrypted)), 1);
    assert_int_equal(
        pgcm__ssh_key_text_encrypted(pkcs8_encrypted, strlen(pkcs8_encrypted)),
        1);
    assert_int_equal(
        pgcm__ssh_key_text_encrypted(pkcs8_plain, strlen(pkcs8_plain)), 0);
    assert_int_equal(pgcm__ssh_key_text_encrypted(garbage, strlen(garbage)),
                     -1);
    assert_int_equal(
        pgcm__ssh_key_text_encrypted(bad_openssh, strlen(bad_openssh)), -1);
    assert_int_equal(pgcm__ssh_key_text_encrypted("", 0), -1);
}

static void test_messages(void **state)
{
    (void)state;
    char m[512];
    pgcm__ssh_msg_hostkey_unknown(m, sizeof m, "jump.example", 2222,
                                  "ssh-ed25519", "SHA256:abc",
                                  "/home/me/.ssh/known_hosts");
    assert_string_equal(
        m, "ssh: the host key of bastion jump.example:2222 is not known "
           "(ssh-ed25519 SHA256:abc, not in /home/me/.ssh/known_hosts); "
           "check that fingerprint, then record the key with `ssh-keyscan -p "
           "2222 jump.example >> /home/me/.ssh/known_hosts`, or set "
           "ssh.host_key_check: accept-new");
    pgcm__ssh_msg_hostkey_changed(m, sizeof m, "jump.example", 22,
                                  "ecdsa-sha2-nistp256", "SHA256:xyz", "/kh");
    assert_non_null(strstr(m, "ssh: the host key of bastion jump.example:22 "
                              "has CHANGED (it offers ecdsa-sha2-nistp256 "
                              "SHA256:xyz, /kh records another)"));
    assert_non_null(strstr(m, "`ssh-keygen -R 'jump.example' -f /kh`"));
    pgcm__ssh_msg_hostkey_changed(m, sizeof m, "10.1.1.1", 2200, "ssh-rsa",
                                  "SHA256:q", "/kh");
    assert_non_null(strstr(m, "ssh-keygen -R '[10.1.1.1]:2200'"));
    assert_non_null(strstr(m, "ssh-keyscan -p 2200 10.1.1.1 >> /kh"));

    pgcm__ssh_msg_channel_refused(m, sizeof m, "jump:22", "10.0.0.5", 5432,
                                  "connect failed");
    assert_string_equal(m, "ssh: the bastion jump:22 could not open a channel "
                           "to 10.0.0.5:5432: connect failed; is that server "
                           "up and reachable from the bastion?");
    pgcm__ssh_msg_channel_refused(m, sizeof m, "jump:22", "db", 5432,
                                  "administratively prohibited");
    assert_non_null(strstr(m, "AllowTcpForwarding, PermitOpen"));
    /* Always one line, cut rather than overflowing. */
    char small[40];
    pgcm__ssh_msg_hostkey_unknown(small, sizeof small, "h", 22, "t", "f", "k");
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_null(strchr(m, '\n'));
}

/* The spec accepts exactly the two host key modes. */
static void test_spec_host_key_check(void **state)
{
    (void)state;
    pgcm_node_spec_t s;
    pgcm_node_spec_init(&s);
    s.id = "n1";
    s.host = "db";
    assert_int_equal(s.ssh.host_key_check, PGCM_HOSTKEY_STRICT);
    pgcm_error_t err;
    assert_int_equal(pgcm__spec_validate(&s, &err), PGCM_OK);
    s.ssh.host_key_check = PGCM_HOSTKEY_ACCEPT_NEW;
    assert_int_equal(pgcm__spec_validate(&s, &err), PGCM_OK);
    s.ssh.host_key_check = 2;
    assert_int_equal(pgcm__spec_validate(&s, &err), PGCM_EINVAL);
    assert_non_null(strstr(err.message, "host_key_check"));
    pgcm_node_spec_t a, b;
    pgcm_node_spec_init(&a);
    pgcm_node_spec_init(&b);
    b.ssh.host_key_check = PGCM_HOSTKEY_ACCEPT_NEW;
    assert_false(pgcm_node_spec_equal(&a, &b));
}

/* With ssh.host, the node's host is the target as the bastion sees it: one
 * name or address. */
static void test_spec_ssh_target(void **state)
{
    (void)state;
    pgcm_node_spec_t s;
    pgcm_node_spec_init(&s);
    s.id = "n1";
    s.host = "10.0.0.5";
    s.ssh.host = "bastion";
    pgcm_error_t err;
    assert_int_equal(pgcm__spec_validate(&s, &err), PGCM_OK);
    s.host = "db.internal";
    assert_int_equal(pgcm__spec_validate(&s, &err), PGCM_OK);
    static const char *const bad[] = {NULL, "", "/var/run/postgresql",
                                      "db1,db2"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        s.host = bad[i];
        assert_int_equal(pgcm__spec_validate(&s, &err), PGCM_EINVAL);
        assert_non_null(strstr(err.message, "as the bastion sees it"));
    }
    s.host = "db";
    s.ssh.port = 70000;
    assert_int_equal(pgcm__spec_validate(&s, &err), PGCM_EINVAL);
    assert_non_null(strstr(err.message, "ssh.port"));
    s.ssh.port = 0; /* 22 */
    assert_int_equal(pgcm__spec_validate(&s, &err), PGCM_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timing_defaults),
        cmocka_unit_test(test_liveness_table),
        cmocka_unit_test(test_liveness_detection_bound),
        cmocka_unit_test(test_same_session),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_key_blob_type),
        cmocka_unit_test(test_known_hosts_name_and_home),
        cmocka_unit_test(test_key_encryption_detection),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_spec_host_key_check),
        cmocka_unit_test(test_spec_ssh_target),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
