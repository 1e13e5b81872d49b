/* SPDX-License-Identifier: MIT */
/*
 * result.c - query results (one node's outcome, with its libpq PGresult)
 * and batches (one result per node of a fan-out), and their accessors.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* One allocation: the node id lives right after the struct, and the error
 * record already names the node. The error's text buffers are not cleared
 * beyond their terminators: most results succeed, and the record is 600
 * bytes. */
pgcm_result_t *pgcm__result_new(const char *node_id)
{
    const char *id = node_id ? node_id : "";
    size_t len = strlen(id);
    pgcm_result_t *r = pgcm__malloc(sizeof(*r) + len + 1);
    if (r == NULL)
        return NULL;
    pgcm__result_init(r, memcpy((char *)(r + 1), id, len + 1));
    return r;
}

void pgcm__result_init(pgcm_result_t *r, char *node_id)
{
    r->node_id = node_id;
    r->status = PGCM_OK;
    r->pg = NULL;
    r->elapsed_us = 0;
    r->server_version = 0;
    pgcm__error_clear(&r->error);
    size_t len = strlen(node_id);
    size_t keep =
        len < sizeof(r->error.node_id) - 1 ? len : sizeof(r->error.node_id) - 1;
    memcpy(r->error.node_id, node_id, keep);
    r->error.node_id[keep] = '\0';
}

pgcm_result_t *pgcm__result_error(const char *node_id, int code,
                                  const char *fmt, ...)
{
    pgcm_result_t *r = pgcm__result_new(node_id);
    if (r == NULL)
        return NULL;
    r->status = code;
    r->error.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error.message, sizeof(r->error.message), fmt, ap);
    va_end(ap);
    return r;
}

const char *pgcm_result_node_id(const pgcm_result_t *r)
{
    return r ? r->node_id : "";
}

int pgcm_result_status(const pgcm_result_t *r)
{
    return r ? r->status : PGCM_EINVAL;
}

const pgcm_error_t *pgcm_result_error(const pgcm_result_t *r)
{
    return r ? &r->error : NULL;
}

int64_t pgcm_result_elapsed_us(const pgcm_result_t *r)
{
    return r ? r->elapsed_us : 0;
}

const PGresult *pgcm_result_pg(const pgcm_result_t *r)
{
    return r ? r->pg : NULL;
}

int pgcm_result_ntuples(const pgcm_result_t *r)
{
    return r && r->pg ? PQntuples(r->pg) : 0;
}

int pgcm_result_nfields(const pgcm_result_t *r)
{
    return r && r->pg ? PQnfields(r->pg) : 0;
}

const char *pgcm_result_fname(const pgcm_result_t *r, int col)
{
    return r && r->pg ? PQfname(r->pg, col) : NULL;
}

const char *pgcm_result_value(const pgcm_result_t *r, int row, int col)
{
    if (r == NULL || r->pg == NULL || row < 0 || col < 0 ||
        row >= PQntuples(r->pg) || col >= PQnfields(r->pg))
        return NULL;
    return PQgetvalue(r->pg, row, col);
}

int pgcm_result_isnull(const pgcm_result_t *r, int row, int col)
{
    if (r == NULL || r->pg == NULL || row < 0 || col < 0 ||
        row >= PQntuples(r->pg) || col >= PQnfields(r->pg))
        return 1;
    return PQgetisnull(r->pg, row, col);
}

const char *pgcm_result_cmd_status(const pgcm_result_t *r)
{
    return r && r->pg ? PQcmdStatus(r->pg) : "";
}

int pgcm_result_server_version(const pgcm_result_t *r)
{
    return r ? r->server_version : 0;
}

void pgcm_result_free(pgcm_result_t *r)
{
    if (r == NULL)
        return;
    PQclear(r->pg);
    pgcm__free(r);
}

size_t pgcm_batch_count(const pgcm_batch_t *b)
{
    return b ? b->count : 0;
}

const pgcm_result_t *pgcm_batch_result(const pgcm_batch_t *b, size_t i)
{
    return b && i < b->count ? b->results[i] : NULL;
}

size_t pgcm_batch_succeeded(const pgcm_batch_t *b)
{
    size_t k = 0;
    for (size_t i = 0; b && i < b->count; i++)
        k += b->results[i] && b->results[i]->status == PGCM_OK;
    return k;
}

int64_t pgcm_batch_elapsed_us(const pgcm_batch_t *b)
{
    return b ? b->elapsed_us : 0;
}

void pgcm_batch_free(pgcm_batch_t *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->count; i++) {
        pgcm_result_t *r = b->results[i];
        if (b->records != NULL && r == &b->records[i])
            PQclear(r->pg); /* the record goes with the block */
        else
            pgcm_result_free(r);
    }
    pgcm__free(b->records);
    pgcm__free(b->results);
    pgcm__free(b);
}
