/* SPDX-License-Identifier: MIT */
/*
 * tls.c - test CA, server and client certificates made with the openssl
 * command line, and a localpg server configured to use them (tls.h).
 */
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char openssl_cnf[] =
    "# Written by tests/tools/tls.c for throwaway test certificates.\n"
    "[req]\n"
    "distinguished_name = dn\n"
    "prompt = no\n"
    "[dn]\n"
    "CN = unused\n"
    "[v3_ca]\n"
    "basicConstraints = critical, CA:TRUE\n"
    "keyUsage = critical, keyCertSign, cRLSign\n"
    "subjectKeyIdentifier = hash\n"
    "[v3_server]\n"
    "basicConstraints = critical, CA:FALSE\n"
    "keyUsage = critical, digitalSignature, keyEncipherment\n"
    "extendedKeyUsage = serverAuth\n"
    "subjectAltName = DNS:localhost, IP:127.0.0.1\n"
    "subjectKeyIdentifier = hash\n"
    "authorityKeyIdentifier = keyid\n"
    "[v3_wrong_host]\n"
    "basicConstraints = critical, CA:FALSE\n"
    "keyUsage = critical, digitalSignature, keyEncipherment\n"
    "extendedKeyUsage = serverAuth\n"
    "subjectAltName = DNS:wrong-host.invalid\n"
    "subjectKeyIdentifier = hash\n"
    "authorityKeyIdentifier = keyid\n"
    "[v3_client]\n"
    "basicConstraints = critical, CA:FALSE\n"
    "keyUsage = critical, digitalSignature\n"
    "extendedKeyUsage = clientAuth\n"
    "subjectKeyIdentifier = hash\n"
    "authorityKeyIdentifier = keyid\n";

/* One key and certificate: self-signed (a CA) when ca_cert is NULL. */
static int make_cert(const tls_files_t *f, const char *cert, const char *key,
                     const char *subject, const char *extensions,
                     const char *ca_cert, const char *ca_key, char *err,
                     size_t errlen)
{
    char cnf[TLS_PATH_MAX + 16], log[TLS_PATH_MAX + 16];
    snprintf(cnf, sizeof cnf, "%s/openssl.cnf", f->dir);
    snprintf(log, sizeof log, "%s/openssl.log", f->dir);
    const char *argv[32];
    int n = 0;
    argv[n++] = "openssl";
    argv[n++] = "req";
    argv[n++] = "-x509";
    argv[n++] = "-new";
    argv[n++] = "-newkey";
    argv[n++] = "ec";
    argv[n++] = "-pkeyopt";
    argv[n++] = "ec_paramgen_curve:prime256v1";
    argv[n++] = "-nodes";
    argv[n++] = "-keyout";
    argv[n++] = key;
    argv[n++] = "-out";
    argv[n++] = cert;
    argv[n++] = "-days";
    argv[n++] = "3650";
    argv[n++] = "-subj";
    argv[n++] = subject;
    argv[n++] = "-config";
    argv[n++] = cnf;
    argv[n++] = "-extensions";
    argv[n++] = extensions;
    if (ca_cert) {
        argv[n++] = "-CA";
        argv[n++] = ca_cert;
        argv[n++] = "-CAkey";
        argv[n++] = ca_key;
    }
    argv[n] = NULL;
    if (localpg_run(argv, log, 30000, err, errlen) < 0)
        return -1;
    /* Keys stay 0600 (libpq and the server insist); certificates are
     * public. */
    if (chmod(key, 0600) < 0 || chmod(cert, 0644) < 0) {
        snprintf(err, errlen, "tls: cannot set the mode of %s: %s", cert,
                 strerror(errno));
        return -1;
    }
    return 0;
}

int tls_make_files(const char *dir, tls_files_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (dir) {
        snprintf(out->dir, sizeof out->dir, "%s", dir);
    } else {
        if (localpg_make_dir("tls", NULL, out->dir, sizeof out->dir, err,
                             errlen) < 0)
            return -1;
        out->own_dir = 1;
    }
    /* The server reads the CA and its own files: the directory must be
     * traversable by postgres. */
    if (chmod(out->dir, 0755) < 0) {
        snprintf(err, errlen, "tls: cannot chmod %s: %s", out->dir,
                 strerror(errno));
        goto fail;
    }
#define TLS_PATH(field, leaf)                                                  \
    snprintf(out->field, sizeof out->field, "%.*s/" leaf,                      \
             (int)(sizeof out->field - sizeof leaf - 1), out->dir)
    TLS_PATH(ca_cert, "ca.crt");
    TLS_PATH(ca_key, "ca.key");
    TLS_PATH(server_cert, "server.crt");
    TLS_PATH(server_key, "server.key");
    TLS_PATH(client_cert, "client.crt");
    TLS_PATH(client_key, "client.key");
    TLS_PATH(wrong_host_cert, "wrong_host.crt");
    TLS_PATH(wrong_host_key, "wrong_host.key");
    TLS_PATH(other_ca_cert, "other_ca.crt");
    TLS_PATH(other_ca_key, "other_ca.key");
    TLS_PATH(other_client_cert, "other_client.crt");
    TLS_PATH(other_client_key, "other_client.key");
#undef TLS_PATH

    char cnf[TLS_PATH_MAX + 16];
    snprintf(cnf, sizeof cnf, "%s/openssl.cnf", out->dir);
    FILE *fp = fopen(cnf, "we");
    if (fp == NULL || fputs(openssl_cnf, fp) < 0) {
        snprintf(err, errlen, "tls: cannot write %s: %s", cnf, strerror(errno));
        if (fp)
            fclose(fp);
        goto fail;
    }
    fclose(fp);

    if (make_cert(out, out->ca_cert, out->ca_key, "/CN=replmon test CA",
                  "v3_ca", NULL, NULL, err, errlen) < 0 ||
        make_cert(out, out->server_cert, out->server_key, "/CN=localhost",
                  "v3_server", out->ca_cert, out->ca_key, err, errlen) < 0 ||
        make_cert(out, out->client_cert, out->client_key, "/CN=postgres",
                  "v3_client", out->ca_cert, out->ca_key, err, errlen) < 0 ||
        make_cert(out, out->wrong_host_cert, out->wrong_host_key,
                  "/CN=wrong-host.invalid", "v3_wrong_host", out->ca_cert,
                  out->ca_key, err, errlen) < 0 ||
        make_cert(out, out->other_ca_cert, out->other_ca_key,
                  "/CN=unrelated test CA", "v3_ca", NULL, NULL, err,
                  errlen) < 0 ||
        make_cert(out, out->other_client_cert, out->other_client_key,
                  "/CN=postgres", "v3_client", out->other_ca_cert,
                  out->other_ca_key, err, errlen) < 0)
        goto fail;
    /* The server's keys belong to the user the server runs as. */
    if (localpg_chown(out->server_key) < 0 ||
        localpg_chown(out->wrong_host_key) < 0) {
        snprintf(err, errlen, "tls: cannot give %s to postgres: %s",
                 out->server_key, strerror(errno));
        goto fail;
    }
    return 0;
fail:
    tls_remove_files(out);
    return -1;
}

void tls_remove_files(tls_files_t *f)
{
    if (f && f->own_dir && f->dir[0]) {
        localpg_remove_dir(f->dir);
        f->dir[0] = '\0';
        f->own_dir = 0;
    }
}

/* A postgresql.conf line: key = 'value'. */
static char *conf_line(const char *key, const char *value)
{
    size_t len = strlen(key) + 2 * strlen(value) + 8;
    char *s = malloc(len);
    if (s == NULL)
        return NULL;
    size_t n = (size_t)snprintf(s, len, "%s = '", key);
    for (const char *v = value; *v; v++) {
        if (*v == '\'')
            s[n++] = '\'';
        s[n++] = *v;
    }
    s[n++] = '\'';
    s[n] = '\0';
    return s;
}

localpg_server_t *tls_start_server(const tls_files_t *f, tls_hba_t hba,
                                   const localpg_options_t *base, char *err,
                                   size_t errlen)
{
    localpg_options_t o;
    if (base)
        o = *base;
    else
        localpg_options_init(&o);
    if (o.name == NULL)
        o.name = "tls";

    size_t nbase = 0;
    while (o.conf_lines && o.conf_lines[nbase])
        nbase++;
    const char **conf = calloc(nbase + 5, sizeof *conf);
    char *own[3] = {conf_line("ssl_cert_file", f->server_cert),
                    conf_line("ssl_key_file", f->server_key),
                    conf_line("ssl_ca_file", f->ca_cert)};
    localpg_server_t *s = NULL;
    if (conf == NULL || !own[0] || !own[1] || !own[2]) {
        snprintf(err, errlen, "tls: out of memory");
        goto out;
    }
    size_t n = 0;
    for (size_t i = 0; i < nbase; i++)
        conf[n++] = o.conf_lines[i];
    conf[n++] = "ssl = on";
    for (int i = 0; i < 3; i++)
        conf[n++] = own[i];
    conf[n] = NULL;
    o.conf_lines = conf;

    const char *method = o.password ? "scram-sha-256" : "trust";
    char line1[128], line2[128];
    const char *hba_lines[3] = {line1, line2, NULL};
    if (hba == TLS_HBA_SSL_ONLY || hba == TLS_HBA_CERT) {
        if (hba == TLS_HBA_CERT)
            method = "cert";
        snprintf(line1, sizeof line1, "hostssl all all 127.0.0.1/32 %s",
                 method);
        snprintf(line2, sizeof line2, "hostssl replication all 127.0.0.1/32 %s",
                 method);
        o.hba_lines = hba_lines;
    }
    s = localpg_start(&o, err, errlen);
out:
    for (int i = 0; i < 3; i++)
        free(own[i]);
    free(conf);
    return s;
}
