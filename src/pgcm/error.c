/* SPDX-License-Identifier: MIT */
/*
 * error.c - error codes and their names (from PGCM_ERRNO_MAP), the
 * pgcm_error_t helpers, and reading libpq's error text: the SQLSTATE and the
 * first line, and whether a failed connection is a configuration problem.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *pgcm_strerror(int code)
{
    switch (code) {
#define PGCM_STRERROR_CASE(name, value, text)                                  \
    case value:                                                                \
        return text;
        PGCM_ERRNO_MAP(PGCM_STRERROR_CASE)
#undef PGCM_STRERROR_CASE
    }
    return "unknown error";
}

const char *pgcm_err_name(int code)
{
    switch (code) {
#define PGCM_ERRNAME_CASE(name, value, text)                                   \
    case value:                                                                \
        return #name;
        PGCM_ERRNO_MAP(PGCM_ERRNAME_CASE)
#undef PGCM_ERRNAME_CASE
    }
    return "EUNKNOWN";
}

void pgcm__error_clear(pgcm_error_t *err)
{
    if (err != NULL)
        memset(err, 0, sizeof(*err));
}

int pgcm__error_set(pgcm_error_t *err, int code, const char *node,
                    const char *fmt, ...)
{
    if (err == NULL)
        return code;
    memset(err, 0, sizeof(*err));
    err->code = code;
    if (node != NULL)
        snprintf(err->node_id, sizeof(err->node_id), "%s", node);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return code;
}

/* Is s[0..4] an SQLSTATE (five digits or upper-case letters)? */
static bool looks_like_sqlstate(const char *s)
{
    for (int i = 0; i < 5; i++) {
        if (!(isdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])))
            return false;
    }
    return s[5] == ':';
}

void pgcm__pq_error_parse(const char *pqmsg, char *msg, size_t msglen,
                          char sqlstate[6])
{
    sqlstate[0] = '\0';
    if (msglen == 0)
        return;
    msg[0] = '\0';
    if (pqmsg == NULL || *pqmsg == '\0')
        return;

    /* libpq prefixes connection errors with 'connection to server at ...
     * failed: ' and, with PQERRORS_VERBOSE, puts "SEVERITY:  SQLSTATE: "
     * before the text and a LOCATION line after it. Keep one line. */
    size_t o = 0;
    const char *p = pqmsg;
    while (*p != '\0' && *p != '\n' && o + 1 < msglen) {
        /* "FATAL:  28P01: " -> "FATAL:  " and remember 28P01 */
        if (p[0] == ' ' && p[1] == ' ' && looks_like_sqlstate(p + 2)) {
            if (sqlstate[0] == '\0') {
                memcpy(sqlstate, p + 2, 5);
                sqlstate[5] = '\0';
            }
            msg[o++] = ' ';
            p += 2 + 6;
            while (*p == ' ')
                p++;
            continue;
        }
        msg[o++] = *p++;
    }
    /* If the first line was only a prefix ("...failed: "), add the next. */
    if (*p == '\n' && o > 0 && msg[o - 1] == ' ' && p[1] != '\0') {
        p++;
        while (*p != '\0' && *p != '\n' && o + 1 < msglen)
            msg[o++] = *p++;
    }
    while (o > 0 && (msg[o - 1] == ' ' || msg[o - 1] == '\n'))
        o--;
    msg[o] = '\0';
}

int pgcm__classify_connect_error(const char *sqlstate, const char *msg)
{
    if (sqlstate != NULL && sqlstate[0] != '\0') {
        /* 28xxx invalid authorization, 3D000 unknown database, 42501 no
         * privilege to connect, 0A000 unsupported (e.g. replication). */
        if (strncmp(sqlstate, "28", 2) == 0 || strcmp(sqlstate, "3D000") == 0 ||
            strcmp(sqlstate, "42501") == 0)
            return PGCM_EAUTH;
        return PGCM_ECONN;
    }
    if (msg == NULL)
        return PGCM_ECONN;
    /* Client-side configuration failures have no SQLSTATE. */
    static const char *const config_markers[] = {
        "no password supplied",
        "password authentication failed",
        "no pg_hba.conf entry",
        "certificate verify failed",
        "certificate does not match",
        "server does not support SSL",
        "SSL certificate",
        "could not read root certificate",
        "could not open certificate",
        "could not load private key",
        "root certificate file",
        "invalid sslmode",
        "does not exist",
        "server certificate for",
        "sslmode value",
    };
    for (size_t i = 0; i < sizeof(config_markers) / sizeof(*config_markers);
         i++) {
        if (strstr(msg, config_markers[i]) != NULL)
            return PGCM_EAUTH;
    }
    return PGCM_ECONN;
}
