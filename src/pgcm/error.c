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

/* Every call that takes an error record clears it first: the code and
 * the strings' terminators, not the 580 bytes behind them. */
void pgcm__error_clear(pgcm_error_t *err)
{
    if (err != NULL) {
        err->code = PGCM_OK;
        err->sqlstate[0] = '\0';
        err->node_id[0] = '\0';
        err->message[0] = '\0';
    }
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

/* Find the first "  SQLSTATE:" marker in the first two lines of msg. */
static void find_sqlstate(const char *pqmsg, char sqlstate[6])
{
    int lines = 0;
    for (const char *p = pqmsg; *p != '\0' && lines < 2; p++) {
        if (*p == '\n') {
            lines++;
            continue;
        }
        if (p[0] == ' ' && p[1] == ' ' && p[2] != '\0' &&
            looks_like_sqlstate(p + 2)) {
            memcpy(sqlstate, p + 2, 5);
            sqlstate[5] = '\0';
            return;
        }
    }
}

/* Copy one line of libpq text from *pp into msg at *o, dropping the
 * "SQLSTATE: " that verbose errors put after the severity. */
static void copy_line(const char **pp, char *msg, size_t msglen, size_t *o)
{
    const char *p = *pp;
    while (*p != '\0' && *p != '\n') {
        if (p[0] == ' ' && p[1] == ' ' && p[2] != '\0' &&
            looks_like_sqlstate(p + 2)) {
            p += 2 + 6;
            while (*p == ' ')
                p++;
            if (*o + 1 < msglen && (*o == 0 || msg[*o - 1] != ' '))
                msg[(*o)++] = ' ';
            continue;
        }
        /* libpq pads ("ERROR:  text", tabs in hints): one space will do */
        if ((*p == ' ' || *p == '\t') && *o > 0 && msg[*o - 1] == ' ') {
            p++;
            continue;
        }
        if (*o + 1 < msglen)
            msg[(*o)++] = *p == '\t' ? ' ' : *p;
        p++;
    }
    *pp = p;
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
    /* The SQLSTATE is found on its own, so that a short buffer never
     * loses it (classification depends on it). */
    find_sqlstate(pqmsg, sqlstate);

    /* libpq prefixes connection errors with 'connection to server at ...
     * failed: ' and, with PQERRORS_VERBOSE, puts "SEVERITY:  SQLSTATE: "
     * before the text and a LOCATION line after it. Keep one line; if the
     * first is only the prefix, join the next one to it. */
    size_t o = 0;
    const char *p = pqmsg;
    copy_line(&p, msg, msglen, &o);
    if (*p == '\n' && o > 0 && msg[o - 1] == ' ' && p[1] != '\0') {
        p++;
        copy_line(&p, msg, msglen, &o);
    }
    while (o > 0 && (msg[o - 1] == ' ' || msg[o - 1] == '\n'))
        o--;
    msg[o] = '\0';
}

bool pgcm__pq_result_error(const PGresult *r, char *msg, size_t msglen,
                           char sqlstate[6])
{
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY);
    const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (primary == NULL || state == NULL)
        return false;
    snprintf(msg, msglen, "%s: %s", sev ? sev : "ERROR", primary);
    snprintf(sqlstate, 6, "%s", state);
    return true;
}

int pgcm__classify_connect_error(const char *sqlstate, const char *msg)
{
    if (sqlstate != NULL && sqlstate[0] != '\0') {
        /* 28xxx invalid authorization, 3D000 unknown database, 42501 no
         * privilege to connect, 0A000 a feature the server refuses at
         * login (e.g. an unsupported protocol): none is fixed by retrying. */
        if (strncmp(sqlstate, "28", 2) == 0 || strcmp(sqlstate, "3D000") == 0 ||
            strcmp(sqlstate, "42501") == 0 || strcmp(sqlstate, "0A000") == 0)
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
        "alert unknown ca",
        "alert bad certificate",
        "alert certificate",
        "certificate required",
    };
    for (size_t i = 0; i < sizeof(config_markers) / sizeof(*config_markers);
         i++) {
        if (strstr(msg, config_markers[i]) != NULL)
            return PGCM_EAUTH;
    }
    return PGCM_ECONN;
}
