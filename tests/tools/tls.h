/* SPDX-License-Identifier: MIT */
/*
 * tls.h - throwaway TLS material for the SSL tests (made with the openssl
 * command line: EC P-256 keys, 10-year certificates) and a helper that
 * starts a localpg server with ssl=on using it.
 *
 * Files (all in one directory):
 *   ca.crt / ca.key                the test CA
 *   server.crt / server.key        CN=localhost, SAN DNS:localhost and
 *                                  IP:127.0.0.1, signed by the CA; the key is
 *                                  0600 and owned by postgres when root
 *   client.crt / client.key        CN=postgres, clientAuth, signed by the CA
 *                                  (key 0600, owned by the caller)
 *   wrong_host.crt / .key          CN/SAN wrong-host.invalid, signed by the
 *                                  CA: fails verify-full against 127.0.0.1
 *   other_ca.crt / other_ca.key    an unrelated CA
 *   other_client.crt / .key        CN=postgres signed by the unrelated CA
 */
#ifndef TLS_H
#define TLS_H

#include <stddef.h>

#include "localpg.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TLS_PATH_MAX 320

typedef struct tls_files {
    char dir[TLS_PATH_MAX];
    char ca_cert[TLS_PATH_MAX], ca_key[TLS_PATH_MAX];
    char server_cert[TLS_PATH_MAX], server_key[TLS_PATH_MAX];
    char client_cert[TLS_PATH_MAX], client_key[TLS_PATH_MAX];
    char wrong_host_cert[TLS_PATH_MAX], wrong_host_key[TLS_PATH_MAX];
    char other_ca_cert[TLS_PATH_MAX], other_ca_key[TLS_PATH_MAX];
    char other_client_cert[TLS_PATH_MAX], other_client_key[TLS_PATH_MAX];
    int own_dir; /* dir was made by tls_make_files (removed by tls_remove) */
} tls_files_t;

/* tls_make_files - write the files above into dir (NULL: a new scratch
 * directory from localpg_make_dir(), removed by tls_remove_files() or at
 * exit). Returns 0, or -1 with a one-line message in err. */
int tls_make_files(const char *dir, tls_files_t *out, char *err, size_t errlen);

/* tls_remove_files - remove the directory if tls_make_files made it. */
void tls_remove_files(tls_files_t *f);

typedef enum tls_hba {
    TLS_HBA_DEFAULT = 0,  /* localpg's default pg_hba: SSL optional */
    TLS_HBA_SSL_ONLY = 1, /* hostssl only (trust; scram-sha-256 with a
                             password): plain TCP is refused */
    TLS_HBA_CERT = 2      /* hostssl with `cert` auth: a client certificate
                             signed by the CA with CN=postgres is required */
} tls_hba_t;

/* tls_start_server - start a localpg server with ssl=on and
 * ssl_cert_file/ssl_key_file/ssl_ca_file from f (server_cert/server_key:
 * copy f and point them at wrong_host_* to serve that one). base (NULL:
 * defaults) supplies the other options; its conf_lines come first, its
 * hba_lines are replaced unless hba is TLS_HBA_DEFAULT. Returns the server,
 * or NULL with a one-line message in err. */
localpg_server_t *tls_start_server(const tls_files_t *f, tls_hba_t hba,
                                   const localpg_options_t *base, char *err,
                                   size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* TLS_H */
