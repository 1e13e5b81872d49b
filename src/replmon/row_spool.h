/* SPDX-License-Identifier: MIT */
/*
 * row_spool.h - rows kept aside to be printed later, in order, in bounded
 * memory: `query` streams the rows of the node it prints first and keeps
 * every other node's rows here until their turn. A spool holds its
 * newest rows in a small buffer (16 KiB) and moves full buffers to one
 * temporary file that all spools share (unlinked at once, in $TMPDIR or
 * /tmp, created on first need). A spool with no file stays in memory: the
 * table sample uses that.
 *
 * A row is a tag (the caller's number, e.g. a node index) and n values,
 * each a byte string or SQL NULL. Reading gives the rows back in order,
 * values NUL-terminated, valid until the next read of that spool.
 */
#ifndef REPLMON_ROW_SPOOL_H
#define REPLMON_ROW_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The shared temporary file. */
typedef struct rm_spool_file rm_spool_file_t;

typedef struct rm_spool_extent {
    off_t offset;
    size_t len;
} rm_spool_extent_t;

typedef struct rm_row_spool {
    char *buf; /* rows not yet in the file */
    size_t len, cap;
    rm_spool_extent_t *extents; /* rows moved to the file, in order */
    size_t nextents, extents_cap;
    size_t rows;  /* rows put */
    size_t bytes; /* their encoded size, file and buffer */
    /* reading */
    int reading;        /* put is over */
    size_t read_extent; /* next extent to load; nextents: then buf */
    char *chunk;        /* the extent just loaded */
    size_t chunk_cap;
    const char *data; /* what is being read: chunk or buf */
    size_t data_len, data_pos;
    const char **values; /* the row just read */
    int values_cap;
} rm_row_spool_t;

/* rm_spool_file_new - the shared file's handle, in dir (NULL: $TMPDIR,
 * else /tmp); no file is created until a spool needs one. NULL when out
 * of memory. */
rm_spool_file_t *rm_spool_file_new(const char *dir);
/* rm_spool_file_dir - the directory it uses (for error messages). */
const char *rm_spool_file_dir(const rm_spool_file_t *f);
/* rm_spool_file_bytes - bytes written to the file so far. */
uint64_t rm_spool_file_bytes(const rm_spool_file_t *f);
void rm_spool_file_free(rm_spool_file_t *f);

void rm_row_spool_init(rm_row_spool_t *s);
void rm_row_spool_free(rm_row_spool_t *s);

/* rm_row_spool_put - append a row. values[i] NULL is SQL NULL; lengths
 * may be NULL (strlen). f NULL keeps everything in memory. Returns 0, or
 * -1 with errno set (ENOMEM, or the temporary file's error). */
int rm_row_spool_put(rm_spool_file_t *f, rm_row_spool_t *s, uint32_t tag, int n,
                     const char *const *values, const int *lengths);

/* rm_row_spool_get - the next row in put order: 1 and *tag, *n, *values;
 * 0 when there is none left; -1 with errno on a read error. Rows may not
 * be put once reading started. */
int rm_row_spool_get(rm_spool_file_t *f, rm_row_spool_t *s, uint32_t *tag,
                     int *n, const char *const **values);

#endif /* REPLMON_ROW_SPOOL_H */
