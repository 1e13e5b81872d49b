/* SPDX-License-Identifier: MIT */
/*
 * sql.c - SQL through a server's Unix socket with local trust (never TCP,
 * so the fixture's own connections never count as TCP attempts): the
 * superuser password, localpg_exec() and the connection count.
 */
#include "localpg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

/* ---------------------------------------------------------------------- */
/* SQL through the local socket                                           */
/* ---------------------------------------------------------------------- */

/* The fixture's own way in: the Unix socket, local trust, and explicit
 * settings so that PG* variables set by tests do not interfere. */
void lp_local_conninfo(const localpg_server_t *s, const char *dbname, char *buf,
                       size_t size)
{
    buf[0] = '\0';
    lp_conninfo_add(buf, size, "host", s->dir);
    lp_conninfo_add(buf, size, "hostaddr", "");
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    lp_conninfo_add(buf, size, "port", port);
    lp_conninfo_add(buf, size, "user", "postgres");
    lp_conninfo_add(buf, size, "dbname", dbname ? dbname : "postgres");
    lp_conninfo_add(buf, size, "connect_timeout", "10");
    lp_conninfo_add(buf, size, "sslmode", "disable");
    lp_conninfo_add(buf, size, "gssencmode", "disable");
    lp_conninfo_add(buf, size, "channel_binding", "disable");
    lp_conninfo_add(buf, size, "target_session_attrs", "any");
    lp_conninfo_add(buf, size, "options", "");
    lp_conninfo_add(buf, size, "application_name", "localpg");
}

static PGconn *connect_local(const localpg_server_t *s, const char *dbname,
                             char *err, size_t errlen)
{
    char info[LP_PATH_MAX * 3];
    lp_local_conninfo(s, dbname, info, sizeof info);
    PGconn *c = PQconnectdb(info);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        lp_seterr(err, errlen, "localpg: cannot connect to %s (port %d): %s",
                  s->name, s->port, c ? PQerrorMessage(c) : "out of memory");
        PQfinish(c);
        return NULL;
    }
    return c;
}

static int check_result(const localpg_server_t *s, PGresult *r, char *err,
                        size_t errlen)
{
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return 0;
    lp_seterr(err, errlen, "localpg: SQL failed on %s (port %d): %s", s->name,
              s->port, r ? PQresultErrorMessage(r) : "out of memory");
    return -1;
}

int lp_set_password(localpg_server_t *s, char *err, size_t errlen)
{
    PGconn *c = connect_local(s, NULL, err, errlen);
    if (c == NULL)
        return -1;
    char *lit = PQescapeLiteral(c, s->password, strlen(s->password));
    int rc = -1;
    if (lit) {
        size_t len = strlen(lit) + 64;
        char *sql = malloc(len);
        if (sql) {
            snprintf(sql, len, "ALTER USER postgres PASSWORD %s", lit);
            PGresult *r = PQexec(c, sql);
            rc = check_result(s, r, err, errlen);
            PQclear(r);
            explicit_bzero(sql, len);
            free(sql);
        }
        explicit_bzero(lit, strlen(lit));
        PQfreemem(lit);
    }
    if (rc < 0 && lit == NULL)
        lp_seterr(err, errlen, "localpg: out of memory");
    PQfinish(c);
    return rc;
}

int localpg_exec(localpg_server_t *s, const char *dbname, const char *sql,
                 char **out, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    if (s == NULL || sql == NULL) {
        lp_seterr(err, errlen, "localpg: exec needs a server and SQL");
        return -1;
    }
    PGconn *c = connect_local(s, dbname, err, errlen);
    if (c == NULL)
        return -1;
    PGresult *r = PQexec(c, sql);
    int rc = check_result(s, r, err, errlen);
    if (rc == 0 && out && PQresultStatus(r) == PGRES_TUPLES_OK &&
        PQntuples(r) > 0 && PQnfields(r) > 0 && !PQgetisnull(r, 0, 0)) {
        *out = strdup(PQgetvalue(r, 0, 0));
        if (*out == NULL) {
            lp_seterr(err, errlen, "localpg: out of memory");
            rc = -1;
        }
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}

int localpg_count_connections(localpg_server_t *s, const char *app_name)
{
    if (s == NULL || app_name == NULL)
        return -1;
    PGconn *c = connect_local(s, NULL, NULL, 0);
    if (c == NULL)
        return -1;
    const char *params[1] = {app_name};
    PGresult *r = PQexecParams(c,
                               "SELECT count(*) FROM pg_stat_activity "
                               "WHERE application_name = $1",
                               1, NULL, params, NULL, NULL, 0);
    int n = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return n;
}
