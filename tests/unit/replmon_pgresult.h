/* SPDX-License-Identifier: MIT */
/*
 * replmon_pgresult.h - build PGresults in unit tests with libpq's own
 * constructors (PQmakeEmptyPGresult, PQsetResultAttrs, PQsetvalue), so the
 * replmon parsers and reports run on real libpq objects without a server.
 */
#ifndef REPLMON_PGRESULT_H
#define REPLMON_PGRESULT_H

#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#define TEXTOID    25
#define INT4OID    23
#define INT8OID    20
#define BOOLOID    16
#define FLOAT8OID  701
#define NUMERICOID 1700
#define JSONBOID   3802

/* A result with columns "a,b,c" (comma-separated names), all of type
 * `type` unless types is given (one per column). */
static inline PGresult *pgres_new(const char *names, const Oid *types)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc attrs[64];
    char *copy = strdup(names), *save = NULL, *tok;
    int n = 0;

    for (tok = strtok_r(copy, ",", &save); tok != NULL && n < 64;
         tok = strtok_r(NULL, ",", &save)) {
        memset(&attrs[n], 0, sizeof(attrs[n]));
        attrs[n].name = tok;
        attrs[n].typid = types != NULL ? types[n] : TEXTOID;
        attrs[n].typlen = -1;
        attrs[n].atttypmod = -1;
        n++;
    }
    PQsetResultAttrs(res, n, attrs);
    free(copy);
    return res;
}

/* Append a row; values[i] NULL is SQL NULL. */
static inline void pgres_row(PGresult *res, const char *const *values)
{
    int row = PQntuples(res), c;

    for (c = 0; c < PQnfields(res); c++)
        PQsetvalue(res, row, c, (char *)values[c],
                   values[c] != NULL ? (int)strlen(values[c]) : -1);
}

#endif /* REPLMON_PGRESULT_H */
