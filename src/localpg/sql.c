/* SPDX-License-Identifier: MIT */
/*
 * sql.c - SQL through a server's Unix socket with local trust (never TCP,
 * so the fixture's own connections never count as TCP attempts): the
 * superuser password, roles, the physical slot of a copied standby,
 * localpg_exec() and the connection count.
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

/* The server's NOTICEs and WARNINGs to our own statements (e.g. "created
 * replication slot") are not the caller's output. */
static void drop_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static PGconn *connect_local(const localpg_server_t *s, const char *dbname,
                             char *err, size_t errlen)
{
    char info[LP_PATH_MAX * 3];
    lp_local_conninfo(s, dbname, info, sizeof info);
    PGconn *c = PQconnectdb(info);
    /* A server with few slots (max_connections 3) may still hold the
     * backend of a connection just closed: it exits a moment after the
     * client hangs up. Such a refusal is retried for up to 3 s. */
    int64_t deadline = lp_now_ms() + 3000;
    while (c != NULL && PQstatus(c) != CONNECTION_OK &&
           strstr(PQerrorMessage(c), "too many clients") != NULL &&
           lp_now_ms() < deadline) {
        PQfinish(c);
        lp_sleep_ms(20);
        c = PQconnectdb(info);
    }
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        lp_seterr(err, errlen, "localpg: cannot connect to %s (port %d): %s",
                  s->name, s->port, c ? PQerrorMessage(c) : "out of memory");
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, drop_notice, NULL);
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

/* Run one statement; 0 or -1 with the server's message. */
static int run(PGconn *c, const localpg_server_t *s, const char *sql, char *err,
               size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    int rc = check_result(s, r, err, errlen);
    PQclear(r);
    return rc;
}

/* ALTER ROLE role PASSWORD password, stored as method says (the default
 * of password_encryption is md5 up to 13). role is a quoted identifier. */
static int store_password(PGconn *c, const localpg_server_t *s,
                          const char *role, const char *password,
                          const char *method, char *err, size_t errlen)
{
    char set[96];
    snprintf(set, sizeof set, "SET password_encryption = '%s'",
             method != NULL && strcmp(method, "md5") == 0 ? "md5"
                                                          : "scram-sha-256");
    if (run(c, s, set, err, errlen) < 0)
        return -1;
    char *lit = PQescapeLiteral(c, password, strlen(password));
    size_t len = (lit ? strlen(lit) : 0) + strlen(role) + 64;
    char *sql = lit ? malloc(len) : NULL;
    int rc = -1;
    if (sql == NULL) {
        lp_seterr(err, errlen, "localpg: out of memory");
    } else {
        snprintf(sql, len, "ALTER ROLE %s PASSWORD %s", role, lit);
        rc = run(c, s, sql, err, errlen);
        explicit_bzero(sql, len);
        free(sql);
    }
    if (lit) {
        explicit_bzero(lit, strlen(lit));
        PQfreemem(lit);
    }
    return rc;
}

int lp_set_password(localpg_server_t *s, char *err, size_t errlen)
{
    PGconn *c = connect_local(s, NULL, err, errlen);
    if (c == NULL)
        return -1;
    int rc =
        store_password(c, s, "postgres", s->password, s->method, err, errlen);
    PQfinish(c);
    return rc;
}

int lp_create_physical_slot(localpg_server_t *s, const char *slot, char *err,
                            size_t errlen)
{
    PGconn *c = connect_local(s, NULL, err, errlen);
    if (c == NULL)
        return -1;
    const char *params[1] = {slot};
    /* true: reserve WAL now, so the copy made after the stop finds it. */
    PGresult *r = PQexecParams(
        c,
        "SELECT pg_create_physical_replication_slot($1, true) WHERE NOT "
        "EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)",
        1, NULL, params, NULL, NULL, 0);
    int rc = check_result(s, r, err, errlen);
    PQclear(r);
    PQfinish(c);
    return rc;
}

int localpg_create_role(localpg_server_t *s, const char *name,
                        const char *password, const char *method,
                        const char *member_of, char *err, size_t errlen)
{
    if (s == NULL || name == NULL || *name == '\0') {
        lp_seterr(err, errlen, "localpg: create_role needs a server and name");
        return -1;
    }
    if (method != NULL && strcmp(method, "md5") != 0 &&
        strcmp(method, "scram-sha-256") != 0) {
        lp_seterr(err, errlen,
                  "localpg: password method '%s' is unknown; use "
                  "scram-sha-256 or md5",
                  method);
        return -1;
    }
    PGconn *c = connect_local(s, NULL, err, errlen);
    if (c == NULL)
        return -1;
    int rc = -1;
    char *role = PQescapeIdentifier(c, name, strlen(name));
    char sql[512];
    if (role == NULL || strlen(role) > 200) {
        lp_seterr(err, errlen, "localpg: role name %s is unusable", name);
        goto out;
    }
    snprintf(sql, sizeof sql, "CREATE ROLE %s LOGIN", role);
    if (run(c, s, sql, err, errlen) < 0)
        goto out;
    if (password != NULL &&
        store_password(c, s, role, password, method, err, errlen) < 0)
        goto out;
    char list[256];
    snprintf(list, sizeof list, "%s", member_of ? member_of : "");
    char *save = NULL;
    for (char *m = strtok_r(list, ", ", &save); m;
         m = strtok_r(NULL, ", ", &save)) {
        char *grant = PQescapeIdentifier(c, m, strlen(m));
        if (grant == NULL || strlen(grant) > 200) {
            PQfreemem(grant);
            lp_seterr(err, errlen, "localpg: role name %s is unusable", m);
            goto out;
        }
        snprintf(sql, sizeof sql, "GRANT %s TO %s", grant, role);
        PQfreemem(grant);
        if (run(c, s, sql, err, errlen) < 0)
            goto out;
    }
    rc = 0;
out:
    PQfreemem(role);
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
