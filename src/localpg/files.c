/* SPDX-License-Identifier: MIT */
/*
 * files.c - directories and files: recursive removal (async-signal-safe),
 * writes owned by the postgres user, the parallel copies of a template data
 * directory, the parent directory check and the owned scratch directories
 * of localpg_make_dir().
 */
#include "localpg_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static unsigned g_seq; /* directory name counter */

/* ---------------------------------------------------------------------- */
/* Files and directories                                                  */
/* ---------------------------------------------------------------------- */

int lp_is_dot(const char *n)
{
    return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

/* Async-signal-safe recursive removal of dirfd/name. */
static void rm_at(int dirfd, const char *name, int depth)
{
    if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
        return;
    if (depth > 32)
        return;
    int fd =
        openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    for (int pass = 0; pass < 8; pass++) {
        long buf[1024];
        int any = 0;
        if (lseek(fd, 0, SEEK_SET) < 0)
            break;
        for (;;) {
            long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
            if (n <= 0)
                break;
            for (long off = 0; off < n;) {
                struct lp_dirent64 *d =
                    (struct lp_dirent64 *)(void *)((char *)buf + off);
                off += d->reclen;
                if (lp_is_dot(d->name))
                    continue;
                any = 1;
                if (d->type == DT_DIR)
                    rm_at(fd, d->name, depth + 1);
                else if (unlinkat(fd, d->name, 0) < 0 && errno == EISDIR)
                    rm_at(fd, d->name, depth + 1);
            }
        }
        if (!any)
            break;
    }
    close(fd);
    unlinkat(dirfd, name, AT_REMOVEDIR);
}

void lp_rm_tree(const char *path)
{
    if (path[0] != '\0')
        rm_at(AT_FDCWD, path, 0);
}

/* Give a path to the user the servers run as (no-op unless root). */
int lp_chown_pg(const char *path)
{
    if (!lp.as_pg)
        return 0;
    return lchown(path, lp.pg_uid, lp.pg_gid);
}

int lp_write_file(const char *path, const char *data, size_t len, int flags,
                  mode_t mode, int give_to_pg, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, mode);
    if (fd < 0) {
        lp_seterr(err, errlen, "localpg: cannot write %s: %s", path,
                  strerror(errno));
        return -1;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            lp_seterr(err, errlen, "localpg: cannot write %s: %s", path,
                      strerror(errno));
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    if (give_to_pg && lp.as_pg && fchown(fd, lp.pg_uid, lp.pg_gid) < 0) {
        lp_seterr(err, errlen, "localpg: cannot chown %s to postgres: %s", path,
                  strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static int fix_mode(int fd, mode_t mode)
{
    return (mode & 0777 & lp.umask) ? fchmod(fd, mode & 07777) : 0;
}

static int copy_file_at(int sdir, int ddir, const char *name,
                        const struct stat *st, char *err, size_t errlen)
{
    int in = -1;
    if (st->st_size > 0 &&
        (in = openat(sdir, name, O_RDONLY | O_CLOEXEC)) < 0) {
        lp_seterr(err, errlen, "localpg: cannot read template file %s: %s",
                  name, strerror(errno));
        return -1;
    }
    int out = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                     st->st_mode & 0777);
    if (out < 0) {
        lp_seterr(err, errlen, "localpg: cannot create %s: %s", name,
                  strerror(errno));
        if (in >= 0)
            close(in);
        return -1;
    }
    off_t left = st->st_size;
    int rc = 0;
    while (left > 0) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            /* Fall back to read/write (other filesystems, old kernels). */
            char buf[65536];
            for (;;) {
                ssize_t r = read(in, buf, sizeof buf);
                if (r < 0 && errno == EINTR)
                    continue;
                if (r <= 0) {
                    rc = r < 0 ? -1 : 0;
                    break;
                }
                if (write(out, buf, (size_t)r) != r) {
                    rc = -1;
                    break;
                }
            }
            break;
        }
        if (n == 0)
            break;
        left -= n;
    }
    if (rc == 0 && fix_mode(out, st->st_mode) < 0)
        rc = -1;
    if (rc < 0)
        lp_seterr(err, errlen, "localpg: cannot copy template file %s: %s",
                  name, strerror(errno));
    if (in >= 0)
        close(in);
    close(out);
    return rc;
}

/* Copy the contents of directory sdir into ddir (both open); top: sdir is
 * the data directory itself. */
static int copy_dir(int sdir, int ddir, int top, int flags, char *err,
                    size_t errlen)
{
    int dup_fd = dup(sdir);
    if (dup_fd < 0)
        return -1;
    DIR *d = fdopendir(dup_fd);
    if (d == NULL) {
        close(dup_fd);
        lp_seterr(err, errlen, "localpg: cannot list the template: %s",
                  strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (lp_is_dot(n))
            continue;
        if (top && (strcmp(n, "postmaster.pid") == 0 ||
                    strcmp(n, "postmaster.opts") == 0))
            continue;
        /* Free-space-map and visibility-map forks are optional: PostgreSQL
         * checks smgrexists() and recreates them on demand. Skipping them
         * saves a quarter of the files, and file creation is what a copy
         * costs. */
        size_t len = strlen(n);
        if (!(flags & LP_COPY_ALL_FORKS) && len > 4 &&
            (strcmp(n + len - 4, "_fsm") == 0 ||
             strcmp(n + len - 3, "_vm") == 0))
            continue;
        /* A standby made by copying starts without its primary's slots,
         * as one made by pg_basebackup does. */
        int empty =
            top && (flags & LP_COPY_NO_SLOTS) && strcmp(n, "pg_replslot") == 0;
        struct stat st;
        if (fstatat(sdir, n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            lp_seterr(err, errlen, "localpg: cannot stat template file %s: %s",
                      n, strerror(errno));
            rc = -1;
        } else if (S_ISDIR(st.st_mode)) {
            if (mkdirat(ddir, n, st.st_mode & 0777) < 0) {
                lp_seterr(err, errlen, "localpg: cannot create %s: %s", n,
                          strerror(errno));
                rc = -1;
                break;
            }
            int s2 = openat(sdir, n, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            int d2 = openat(ddir, n, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (s2 < 0 || d2 < 0 || fix_mode(d2, st.st_mode) < 0) {
                lp_seterr(err, errlen, "localpg: cannot open %s: %s", n,
                          strerror(errno));
                rc = -1;
            } else if (!empty) {
                rc = copy_dir(s2, d2, 0, flags, err, errlen);
            }
            if (s2 >= 0)
                close(s2);
            if (d2 >= 0)
                close(d2);
        } else if (S_ISREG(st.st_mode)) {
            rc = copy_file_at(sdir, ddir, n, &st, err, errlen);
        } else if (S_ISLNK(st.st_mode)) {
            char target[LP_PATH_MAX * 4];
            ssize_t tlen = readlinkat(sdir, n, target, sizeof target - 1);
            if (tlen >= 0)
                target[tlen] = '\0';
            if (tlen < 0 || symlinkat(target, ddir, n) < 0) {
                lp_seterr(err, errlen, "localpg: cannot copy link %s: %s", n,
                          strerror(errno));
                rc = -1;
            }
        }
    }
    closedir(d);
    return rc;
}

int lp_copy_tree(const char *src, const char *dst, int flags, char *err,
                 size_t errlen)
{
    if (mkdir(dst, 0700) < 0) {
        lp_seterr(err, errlen, "localpg: cannot create %s: %s", dst,
                  strerror(errno));
        return -1;
    }
    int s = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int d = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = -1;
    if (s < 0 || d < 0)
        lp_seterr(err, errlen, "localpg: cannot open %s or %s: %s", src, dst,
                  strerror(errno));
    else
        rc = copy_dir(s, d, 1, flags, err, errlen);
    if (s >= 0)
        close(s);
    if (d >= 0)
        close(d);
    return rc;
}

void *lp_copy_worker(void *arg)
{
    copy_job_t *j = arg;
    /* Per thread on Linux (raw syscalls; glibc does not broadcast them). */
    if (lp.as_pg) {
        setfsgid(lp.pg_gid);
        setfsuid(lp.pg_uid);
    }
    for (;;) {
        pthread_mutex_lock(&j->m);
        int i = j->next++;
        pthread_mutex_unlock(&j->m);
        if (i >= j->n)
            break;
        const localpg_server_t *s = j->v[i];
        int rc = s == NULL || s->copy_src == NULL
                     ? -1
                     : lp_copy_tree(s->copy_src, s->datadir, s->copy_flags,
                                    j->errs[i], sizeof j->errs[i]);
        pthread_mutex_lock(&j->m);
        j->done[i] = rc == 0 ? 1 : -1;
        pthread_cond_broadcast(&j->cv);
        pthread_mutex_unlock(&j->m);
    }
    return NULL;
}

int lp_resolve_parent(const char *want, char *out, size_t outlen, char *err,
                      size_t errlen)
{
    const char *p = want;
    if (p == NULL || *p == '\0')
        p = getenv("TMPDIR");
    if (p == NULL || *p == '\0')
        p = "/tmp";
    char real[PATH_MAX];
    if (realpath(p, real) == NULL) {
        lp_seterr(err, errlen,
                  "localpg: parent directory %s is unusable: %s; create it or "
                  "set TMPDIR",
                  p, strerror(errno));
        return -1;
    }
    if (lp.as_pg) {
        /* Every component must be traversable by postgres. */
        char part[PATH_MAX];
        snprintf(part, sizeof part, "%s", real);
        for (;;) {
            struct stat st;
            if (stat(part, &st) == 0 && !(st.st_mode & S_IXOTH) &&
                !(st.st_uid == lp.pg_uid && (st.st_mode & S_IXUSR)) &&
                !(st.st_gid == lp.pg_gid && (st.st_mode & S_IXGRP))) {
                lp_seterr(
                    err, errlen,
                    "localpg: %s is not traversable by the postgres "
                    "user; chmod o+x it or choose another parent_dir/TMPDIR",
                    part);
                return -1;
            }
            char *slash = strrchr(part, '/');
            if (slash == NULL || slash == part)
                break;
            *slash = '\0';
        }
    }
    snprintf(out, outlen, "%s", real);
    return 0;
}

/* Make <parent>/localpg-<name>-<pid>-<n>-XXXXXX with owner.pid. */
int lp_make_dir(const char *parent, const char *name, char *out, size_t outlen,
                char *err, size_t errlen)
{
    char clean[17];
    size_t j = 0;
    for (const char *p = name && *name ? name : "pg"; *p && j < 16; p++)
        clean[j++] =
            (char)((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                           (*p >= '0' && *p <= '9') || *p == '_'
                       ? *p
                       : '_');
    clean[j] = '\0';
    int w = snprintf(out, outlen, "%s/localpg-%s-%d-%u-XXXXXX", parent, clean,
                     (int)getpid(), ++g_seq);
    if (w < 0 || (size_t)w >= outlen ||
        (size_t)w + LP_SOCK_LEAF_LEN > LP_SOCK_PATH_MAX) {
        lp_seterr(err, errlen,
                  "localpg: directory name under %s is too long for a Unix "
                  "socket path; use a shorter TMPDIR, parent_dir or name",
                  parent);
        return -1;
    }
    if (mkdtemp(out) == NULL) {
        lp_seterr(err, errlen, "localpg: cannot create a directory in %s: %s",
                  parent, strerror(errno));
        return -1;
    }
    unsigned long long born = 0;
    lp_proc_stat(getpid(), NULL, NULL, &born);
    char path[LP_PATH_MAX + 16], line[64];
    snprintf(path, sizeof path, "%s/owner.pid", out);
    int n = snprintf(line, sizeof line, "%d %llu\n", (int)getpid(), born);
    int rc =
        lp_write_file(path, line, (size_t)n, O_TRUNC, 0644, 0, err, errlen);
    if (rc < 0 || lp_chown_pg(out) < 0) {
        if (rc == 0)
            lp_seterr(err, errlen, "localpg: cannot chown %s to postgres: %s",
                      out, strerror(errno));
        lp_rm_tree(out);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Scratch directories                                                    */
/* ---------------------------------------------------------------------- */

int localpg_make_dir(const char *name, const char *parent_dir, char *out,
                     size_t outlen, char *err, size_t errlen)
{
    pthread_mutex_lock(&lp.lock);
    char parent[PATH_MAX];
    int rc = -1;
    if (lp_init_process(err, errlen) == 0 &&
        lp_resolve_parent(parent_dir, parent, sizeof parent, err, errlen) == 0)
        rc = lp_make_dir(parent, name, out, outlen, err, errlen);
    for (int i = 0; rc == 0 && i < 64; i++) {
        if (lp.scratch[i][0] == '\0') {
            snprintf(lp.scratch[i], sizeof lp.scratch[i], "%s", out);
            break;
        }
    }
    pthread_mutex_unlock(&lp.lock);
    return rc;
}

void localpg_remove_dir(const char *path)
{
    if (path == NULL || strstr(path, "/localpg-") == NULL)
        return;
    pthread_mutex_lock(&lp.lock);
    for (int i = 0; i < 64; i++)
        if (strcmp(lp.scratch[i], path) == 0)
            lp.scratch[i][0] = '\0';
    pthread_mutex_unlock(&lp.lock);
    if (lp.keep) {
        fprintf(stderr, "localpg: kept %s (LOCALPG_KEEP)\n", path);
        return;
    }
    lp_rm_tree(path);
}

int localpg_chown(const char *path)
{
    pthread_mutex_lock(&lp.lock);
    int rc = lp_init_process(NULL, 0) == 0 ? lp_chown_pg(path) : -1;
    pthread_mutex_unlock(&lp.lock);
    return rc;
}
