/* SPDX-License-Identifier: MIT */
/*
 * row_spool.c - rows kept aside in a bounded buffer per spool and one
 * shared, unlinked temporary file (row_spool.h). A row is encoded as
 * u32 tag, u32 n, then per value u32 length (UINT32_MAX: NULL), the bytes
 * and a NUL; a row is never split between two extents of the file.
 */
#include "row_spool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPOOL_BUF  (16 * 1024)
#define NULL_VALUE UINT32_MAX

struct rm_spool_file {
    char dir[PATH_MAX];
    int fd; /* -1 until needed */
    off_t end;
};

rm_spool_file_t *rm_spool_file_new(const char *dir)
{
    rm_spool_file_t *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return NULL;
    if (dir == NULL || dir[0] == '\0')
        dir = getenv("TMPDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
    snprintf(f->dir, sizeof(f->dir), "%s", dir);
    f->fd = -1;
    return f;
}

const char *rm_spool_file_dir(const rm_spool_file_t *f)
{
    return f->dir;
}

uint64_t rm_spool_file_bytes(const rm_spool_file_t *f)
{
    return (uint64_t)f->end;
}

void rm_spool_file_free(rm_spool_file_t *f)
{
    if (f == NULL)
        return;
    if (f->fd >= 0)
        close(f->fd);
    free(f);
}

static int file_open(rm_spool_file_t *f)
{
    char path[PATH_MAX + 32];
    int saved;

    if (f->fd >= 0)
        return 0;
    if (snprintf(path, sizeof(path), "%s/replmon-rows-XXXXXX", f->dir) >=
        (int)sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    f->fd = mkostemp(path, O_CLOEXEC);
    if (f->fd < 0)
        return -1;
    /* Nobody else needs the name: the file goes away with the process. */
    saved = unlink(path) != 0 ? errno : 0;
    if (saved != 0) {
        close(f->fd);
        f->fd = -1;
        errno = saved;
        return -1;
    }
    return 0;
}

void rm_row_spool_init(rm_row_spool_t *s)
{
    memset(s, 0, sizeof(*s));
}

void rm_row_spool_free(rm_row_spool_t *s)
{
    free(s->buf);
    free(s->extents);
    free(s->chunk);
    free(s->values);
    rm_row_spool_init(s);
}

/* Move the buffer to the end of the file as one extent. */
static int flush(rm_spool_file_t *f, rm_row_spool_t *s)
{
    size_t done = 0;

    if (s->len == 0)
        return 0;
    if (file_open(f) != 0)
        return -1;
    if (s->nextents == s->extents_cap) {
        size_t cap = s->extents_cap ? s->extents_cap * 2 : 16;
        rm_spool_extent_t *grown = realloc(s->extents, cap * sizeof(*grown));

        if (grown == NULL) {
            errno = ENOMEM;
            return -1;
        }
        s->extents = grown;
        s->extents_cap = cap;
    }
    while (done < s->len) {
        ssize_t w =
            pwrite(f->fd, s->buf + done, s->len - done, f->end + (off_t)done);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = ENOSPC;
            return -1;
        }
        done += (size_t)w;
    }
    s->extents[s->nextents].offset = f->end;
    s->extents[s->nextents].len = s->len;
    s->nextents++;
    f->end += (off_t)s->len;
    s->len = 0;
    /* A big row grew the buffer: give the memory back. */
    if (s->cap > 2 * SPOOL_BUF) {
        free(s->buf);
        s->buf = NULL;
        s->cap = 0;
    }
    return 0;
}

static void put_u32(char *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}

static uint32_t get_u32(const char *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

int rm_row_spool_put(rm_spool_file_t *f, rm_row_spool_t *s, uint32_t tag, int n,
                     const char *const *values, const int *lengths)
{
    size_t size = 8, i;
    char *p;

    if (s->reading || n < 0) {
        errno = EINVAL;
        return -1;
    }
    for (i = 0; i < (size_t)n; i++) {
        size += 4;
        if (values[i] != NULL)
            size += (lengths ? (size_t)lengths[i] : strlen(values[i])) + 1;
    }
    if (f != NULL && s->len > 0 && s->len + size > SPOOL_BUF &&
        flush(f, s) != 0)
        return -1;
    if (s->len + size > s->cap) {
        size_t cap = s->cap ? s->cap : (f != NULL ? SPOOL_BUF : 4096);
        char *grown;

        while (cap < s->len + size)
            cap *= 2;
        grown = realloc(s->buf, cap);
        if (grown == NULL) {
            errno = ENOMEM;
            return -1;
        }
        s->buf = grown;
        s->cap = cap;
    }
    p = s->buf + s->len;
    put_u32(p, tag);
    put_u32(p + 4, (uint32_t)n);
    p += 8;
    for (i = 0; i < (size_t)n; i++) {
        size_t len;

        if (values[i] == NULL) {
            put_u32(p, NULL_VALUE);
            p += 4;
            continue;
        }
        len = lengths ? (size_t)lengths[i] : strlen(values[i]);
        put_u32(p, (uint32_t)len);
        memcpy(p + 4, values[i], len);
        p[4 + len] = '\0';
        p += 4 + len + 1;
    }
    s->len += size;
    s->bytes += size;
    s->rows++;
    if (f != NULL && s->len >= SPOOL_BUF)
        return flush(f, s);
    return 0;
}

/* Load the next extent, or switch to the buffer. 1 when there is data to
 * read, 0 at the end, -1 on error. */
static int load_next(rm_spool_file_t *f, rm_row_spool_t *s)
{
    const rm_spool_extent_t *e;
    size_t done = 0;

    if (s->read_extent > s->nextents)
        return 0;
    if (s->read_extent == s->nextents) {
        s->read_extent++;
        s->data = s->buf;
        s->data_len = s->len;
        s->data_pos = 0;
        return s->len > 0;
    }
    e = &s->extents[s->read_extent++];
    if (e->len > s->chunk_cap) {
        char *grown = realloc(s->chunk, e->len);

        if (grown == NULL) {
            errno = ENOMEM;
            return -1;
        }
        s->chunk = grown;
        s->chunk_cap = e->len;
    }
    while (done < e->len) {
        ssize_t r = pread(f->fd, s->chunk + done, e->len - done,
                          e->offset + (off_t)done);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO;
            return -1;
        }
        done += (size_t)r;
    }
    s->data = s->chunk;
    s->data_len = e->len;
    s->data_pos = 0;
    return 1;
}

int rm_row_spool_get(rm_spool_file_t *f, rm_row_spool_t *s, uint32_t *tag,
                     int *n, const char *const **values)
{
    const char *p;
    uint32_t count, i;

    s->reading = 1;
    while (s->data == NULL || s->data_pos >= s->data_len) {
        int rc = load_next(f, s);

        if (rc <= 0)
            return rc;
    }
    p = s->data + s->data_pos;
    *tag = get_u32(p);
    count = get_u32(p + 4);
    p += 8;
    if ((int)count > s->values_cap) {
        const char **grown = realloc(s->values, count * sizeof(*grown));

        if (grown == NULL) {
            errno = ENOMEM;
            return -1;
        }
        s->values = grown;
        s->values_cap = (int)count;
    }
    for (i = 0; i < count; i++) {
        uint32_t len = get_u32(p);

        p += 4;
        if (len == NULL_VALUE) {
            s->values[i] = NULL;
            continue;
        }
        s->values[i] = p;
        p += len + 1;
    }
    s->data_pos = (size_t)(p - s->data);
    *n = (int)count;
    *values = s->values;
    return 1;
}
