/* SPDX-License-Identifier: MIT */
/*
 * log.c - replmon's structured log: formatting a line as text or JSON
 * (jansson), masking registered secrets, and the writer thread that drains
 * a bounded queue of formatted lines into stderr or the log file.
 */
#include "log.h"
#include "textwidth.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_CAP   8192 /* lines waiting for the writer */
#define MAX_SECRETS 64
#define MASK        "********"

typedef struct logger {
    pthread_mutex_t mu; /* the queue, the secrets, the state */
    pthread_cond_t cv;
    pthread_mutex_t out_mu; /* out, while the writer writes */
    pthread_t writer;
    int running; /* the writer thread exists */
    int stopping;
    rm_log_format_t format;
    atomic_int level; /* pgcm_log_level_t; ERROR + 1 when closed */
    char *path;       /* NULL: stderr */
    FILE *out;
    char *queue[QUEUE_CAP]; /* ring of formatted lines */
    size_t head, count;
    atomic_uint_fast64_t dropped;
    uint64_t dropped_reported;
    char *secrets[MAX_SECRETS];
    size_t nsecrets;
} logger_t;

static logger_t g_log = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .cv = PTHREAD_COND_INITIALIZER,
    .out_mu = PTHREAD_MUTEX_INITIALIZER,
    .level = PGCM_LOG_ERROR + 1,
};

static atomic_uint_fast64_t g_cid_counter;
static uint64_t g_cid_base;
static pthread_once_t g_cid_once = PTHREAD_ONCE_INIT;

/* ---------------------------------------------------------------------- */
/* Parsing                                                                */
/* ---------------------------------------------------------------------- */

int rm_log_parse_format(const char *text, rm_log_format_t *out)
{
    if (strcmp(text, "text") == 0)
        *out = RM_LOG_TEXT;
    else if (strcmp(text, "json") == 0)
        *out = RM_LOG_JSON;
    else
        return -1;
    return 0;
}

int rm_log_parse_level(const char *text, pgcm_log_level_t *out)
{
    static const struct {
        const char *name;
        pgcm_log_level_t level;
    } names[] = {{"debug", PGCM_LOG_DEBUG},
                 {"info", PGCM_LOG_INFO},
                 {"warn", PGCM_LOG_WARN},
                 {"warning", PGCM_LOG_WARN},
                 {"error", PGCM_LOG_ERROR}};
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(text, names[i].name) == 0) {
            *out = names[i].level;
            return 0;
        }
    }
    return -1;
}

/* ---------------------------------------------------------------------- */
/* Formatting                                                             */
/* ---------------------------------------------------------------------- */

void rm_log_format_time(int64_t time_ms, char *buf, size_t len)
{
    time_t secs = (time_t)(time_ms / 1000);
    int ms = (int)(time_ms % 1000);
    struct tm tm;
    char base[32];

    if (ms < 0) {
        ms += 1000;
        secs--;
    }
    gmtime_r(&secs, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", base, ms);
}

void rm_log_format_cid(uint64_t cid, char *buf, size_t len)
{
    snprintf(buf, len, "%016" PRIx64, cid);
}

char *rm_log_mask(char *s, const char *secret)
{
    size_t slen = secret != NULL ? strlen(secret) : 0;
    size_t mlen = strlen(MASK);
    char *at;

    if (s == NULL || slen < 3)
        return s;
    at = strstr(s, secret);
    while (at != NULL) {
        size_t off = (size_t)(at - s), len = strlen(s);
        char *grown = mlen > slen ? realloc(s, len + (mlen - slen) + 1) : s;

        if (grown == NULL) {
            /* No memory for the mask: blank the secret where it is. */
            memset(at, '*', slen);
            at = strstr(at + slen, secret);
            continue;
        }
        s = grown;
        at = s + off;
        memmove(at + mlen, at + slen, len - off - slen + 1);
        memcpy(at, MASK, mlen);
        at = strstr(at + mlen, secret);
    }
    return s;
}

json_t *rm_log_json_text(const char *s)
{
    json_t *j;
    char *copy, *p;

    if (s == NULL)
        return json_null();
    j = json_string(s);
    if (j != NULL)
        return j;
    copy = strdup(s);
    if (copy == NULL)
        return NULL;
    for (p = copy; *p; p++) {
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    }
    j = json_string(copy);
    free(copy);
    return j;
}

static char *format_json(const rm_log_line_t *l)
{
    char ts[32], cid[24];
    json_t *o = json_object();
    char *line = NULL, *out;
    int bad = o == NULL;

    rm_log_format_time(l->time_ms, ts, sizeof(ts));
    rm_log_format_cid(l->correlation_id, cid, sizeof(cid));
    bad = bad || json_object_set_new(o, "timestamp", json_string(ts)) != 0;
    bad = bad ||
          json_object_set_new(o, "level",
                              json_string(pgcm_log_level_name(l->level))) != 0;
    bad =
        bad || json_object_set_new(o, "event", rm_log_json_text(l->event)) != 0;
    bad = bad || json_object_set_new(o, "node", rm_log_json_text(l->node)) != 0;
    bad = bad || json_object_set_new(o, "correlation_id",
                                     l->correlation_id != 0 ? json_string(cid)
                                                            : json_null()) != 0;
    bad = bad || json_object_set_new(
                     o, "message",
                     rm_log_json_text(l->message ? l->message : "")) != 0;
    bad = bad ||
          json_object_set_new(o, "data",
                              l->data != NULL ? json_incref((json_t *)l->data)
                                              : json_object()) != 0;
    if (!bad)
        line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                 JSON_REAL_PRECISION(9));
    json_decref(o);
    if (line == NULL)
        return NULL;
    out = malloc(strlen(line) + 2);
    if (out != NULL)
        sprintf(out, "%s\n", line);
    free(line);
    return out;
}

/* Text lines show data as key=value: strings as a terminal may show them
 * (textwidth.c's rule: control, escape and bidi characters escaped; quoted
 * when they hold a blank or a quote), other values as JSON. */
static void text_data(FILE *f, const json_t *data)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)data, key, v)
    {
        fprintf(f, " %s=", key);
        if (json_is_string(v)) {
            const char *t = json_string_value(v);

            if (t[0] == '\0' || strpbrk(t, " \t\"=\n") != NULL) {
                char *q = json_dumps(v, JSON_ENCODE_ANY);

                fputs(q != NULL ? q : "\"\"", f);
                free(q);
            } else {
                rm_text_fputs(f, t);
            }
        } else {
            char *j = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT |
                                        JSON_REAL_PRECISION(9));

            fputs(j != NULL ? j : "null", f);
            free(j);
        }
    }
}

static char *format_text(const rm_log_line_t *l)
{
    char ts[32], cid[24], *out = NULL;
    size_t len = 0;
    FILE *f;

    rm_log_format_time(l->time_ms, ts, sizeof(ts));
    f = open_memstream(&out, &len);
    if (f == NULL)
        return NULL;
    fprintf(f, "%s %s %s", ts, pgcm_log_level_name(l->level),
            l->event ? l->event : "-");
    if (l->node != NULL) {
        fputs(" node=", f);
        rm_text_fputs(f, l->node);
    }
    if (l->correlation_id != 0) {
        rm_log_format_cid(l->correlation_id, cid, sizeof(cid));
        fprintf(f, " cid=%s", cid);
    }
    if (l->message != NULL && l->message[0] != '\0') {
        fputs(": ", f); /* escaped: one line per record, nothing spoofed */
        rm_text_fputs(f, l->message);
    }
    if (l->data != NULL)
        text_data(f, l->data);
    fputc('\n', f);
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

char *rm_log_format_line(rm_log_format_t format, const rm_log_line_t *line)
{
    return format == RM_LOG_JSON ? format_json(line) : format_text(line);
}

/* ---------------------------------------------------------------------- */
/* The writer                                                             */
/* ---------------------------------------------------------------------- */

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *writer_main(void *arg)
{
    char *batch[256];
    size_t n, i;

    (void)arg;
    pthread_mutex_lock(&g_log.mu);
    for (;;) {
        uint64_t dropped;

        while (g_log.count == 0 && !g_log.stopping)
            pthread_cond_wait(&g_log.cv, &g_log.mu);
        if (g_log.count == 0 && g_log.stopping)
            break;
        for (n = 0; n < sizeof(batch) / sizeof(batch[0]) && g_log.count > 0;
             n++) {
            batch[n] = g_log.queue[g_log.head];
            g_log.head = (g_log.head + 1) % QUEUE_CAP;
            g_log.count--;
        }
        dropped = atomic_load(&g_log.dropped);
        pthread_mutex_unlock(&g_log.mu);
        pthread_mutex_lock(&g_log.out_mu);
        for (i = 0; i < n; i++) {
            fputs(batch[i], g_log.out);
            free(batch[i]);
        }
        if (dropped != g_log.dropped_reported) {
            char msg[128];
            rm_log_line_t l = {
                wall_ms(), PGCM_LOG_WARN, "log_lines_dropped", NULL, 0,
                msg,       NULL};
            char *line;

            snprintf(msg, sizeof(msg),
                     "%" PRIu64 " log lines dropped so far: the log queue "
                     "was full",
                     dropped);
            line = rm_log_format_line(g_log.format, &l);
            if (line != NULL)
                fputs(line, g_log.out);
            free(line);
            g_log.dropped_reported = dropped;
        }
        fflush(g_log.out);
        pthread_mutex_unlock(&g_log.out_mu);
        pthread_mutex_lock(&g_log.mu);
    }
    pthread_mutex_unlock(&g_log.mu);
    return NULL;
}

static FILE *open_log_file(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    FILE *f;

    if (fd < 0) {
        snprintf(err, errlen, "cannot open the log file %s: %s", path,
                 strerror(errno));
        return NULL;
    }
    f = fdopen(fd, "a");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open the log file %s: %s", path,
                 strerror(errno));
        close(fd);
    }
    return f;
}

int rm_log_open(const rm_log_options_t *opts, char *err, size_t errlen)
{
    FILE *out = stderr;
    char *path = NULL;

    if (opts->path != NULL) {
        path = strdup(opts->path);
        if (path == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        out = open_log_file(path, err, errlen);
        if (out == NULL) {
            free(path);
            return -1;
        }
    }
    rm_log_close();
    pthread_mutex_lock(&g_log.mu);
    g_log.format = opts->format;
    g_log.path = path;
    g_log.out = out;
    g_log.stopping = 0;
    g_log.head = g_log.count = 0;
    g_log.dropped_reported = atomic_load(&g_log.dropped);
    if (pthread_create(&g_log.writer, NULL, writer_main, NULL) != 0) {
        pthread_mutex_unlock(&g_log.mu);
        if (out != stderr)
            fclose(out);
        free(path);
        g_log.path = NULL;
        g_log.out = NULL;
        snprintf(err, errlen, "cannot start the log writer thread");
        return -1;
    }
    g_log.running = 1;
    atomic_store(&g_log.level, (int)opts->level);
    pthread_mutex_unlock(&g_log.mu);
    return 0;
}

int rm_log_reopen(char *err, size_t errlen)
{
    FILE *f, *old;

    pthread_mutex_lock(&g_log.mu);
    if (!g_log.running || g_log.path == NULL) {
        pthread_mutex_unlock(&g_log.mu);
        return 0;
    }
    f = open_log_file(g_log.path, err, errlen);
    pthread_mutex_unlock(&g_log.mu);
    if (f == NULL)
        return -1;
    /* The writer holds out_mu while it writes a batch. */
    pthread_mutex_lock(&g_log.out_mu);
    old = g_log.out;
    g_log.out = f;
    pthread_mutex_unlock(&g_log.out_mu);
    fclose(old);
    return 0;
}

void rm_log_close(void)
{
    pthread_mutex_lock(&g_log.mu);
    if (!g_log.running) {
        pthread_mutex_unlock(&g_log.mu);
        return;
    }
    atomic_store(&g_log.level, PGCM_LOG_ERROR + 1);
    g_log.stopping = 1;
    pthread_cond_broadcast(&g_log.cv);
    pthread_mutex_unlock(&g_log.mu);
    pthread_join(g_log.writer, NULL);
    pthread_mutex_lock(&g_log.mu);
    g_log.running = 0;
    if (g_log.out != NULL) {
        fflush(g_log.out);
        if (g_log.out != stderr)
            fclose(g_log.out);
    }
    g_log.out = NULL;
    free(g_log.path);
    g_log.path = NULL;
    pthread_mutex_unlock(&g_log.mu);
}

int rm_log_enabled(pgcm_log_level_t level)
{
    return (int)level >= atomic_load(&g_log.level);
}

pgcm_log_level_t rm_log_level(void)
{
    int l = atomic_load(&g_log.level);

    return l > PGCM_LOG_ERROR ? PGCM_LOG_ERROR : (pgcm_log_level_t)l;
}

uint64_t rm_log_dropped(void)
{
    return atomic_load(&g_log.dropped);
}

void rm_log_add_secret(const char *secret)
{
    char *copy;

    if (secret == NULL || strlen(secret) < 3)
        return;
    pthread_mutex_lock(&g_log.mu);
    for (size_t i = 0; i < g_log.nsecrets; i++) {
        if (strcmp(g_log.secrets[i], secret) == 0) {
            pthread_mutex_unlock(&g_log.mu);
            return;
        }
    }
    if (g_log.nsecrets < MAX_SECRETS && (copy = strdup(secret)) != NULL)
        g_log.secrets[g_log.nsecrets++] = copy;
    pthread_mutex_unlock(&g_log.mu);
}

void rm_log_forget_secrets(void)
{
    pthread_mutex_lock(&g_log.mu);
    for (size_t i = 0; i < g_log.nsecrets; i++) {
        explicit_bzero(g_log.secrets[i], strlen(g_log.secrets[i]));
        free(g_log.secrets[i]);
    }
    g_log.nsecrets = 0;
    pthread_mutex_unlock(&g_log.mu);
}

static void cid_init(void)
{
    uint64_t r = 0;

    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
        r = (uint64_t)getpid() << 32 ^ (uint64_t)wall_ms();
    /* Top bit set: libpgcm's own ids count up from 1. Low 24 bits free
     * for the counter so that ids of one process sort by creation. */
    g_cid_base = (r | UINT64_C(0x8000000000000000)) & ~UINT64_C(0xffffff);
}

uint64_t rm_log_correlation_id(void)
{
    pthread_once(&g_cid_once, cid_init);
    return g_cid_base +
           ((atomic_fetch_add(&g_cid_counter, 1) + 1) & UINT64_C(0xffffff));
}

/* Mask the secrets, queue the line. Takes ownership of line. */
static void enqueue(char *line)
{
    if (line == NULL)
        return;
    pthread_mutex_lock(&g_log.mu);
    for (size_t i = 0; i < g_log.nsecrets; i++)
        line = rm_log_mask(line, g_log.secrets[i]);
    if (!g_log.running || g_log.stopping) {
        pthread_mutex_unlock(&g_log.mu);
        free(line);
        return;
    }
    if (g_log.count == QUEUE_CAP) {
        pthread_mutex_unlock(&g_log.mu);
        atomic_fetch_add(&g_log.dropped, 1);
        free(line);
        return;
    }
    g_log.queue[(g_log.head + g_log.count) % QUEUE_CAP] = line;
    g_log.count++;
    pthread_cond_signal(&g_log.cv);
    pthread_mutex_unlock(&g_log.mu);
}

void rm_log(pgcm_log_level_t level, const char *event, const char *node,
            uint64_t cid, json_t *data, const char *fmt, ...)
{
    char message[1024];
    rm_log_line_t l;
    va_list ap;

    if (!rm_log_enabled(level)) {
        json_decref(data);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    l.time_ms = wall_ms();
    l.level = level;
    l.event = event;
    l.node = node;
    l.correlation_id = cid;
    l.message = message;
    l.data = data;
    enqueue(rm_log_format_line(g_log.format, &l));
    json_decref(data);
}

void rm_log_pgcm(const pgcm_log_record_t *rec, void *user)
{
    (void)user;
    rm_log_pgcm_from(rec, "pgcm");
}

void rm_log_pgcm_from(const pgcm_log_record_t *rec, const char *source)
{
    rm_log_line_t l;
    json_t *data;

    if (!rm_log_enabled(rec->level))
        return;
    data = json_object();
    if (data != NULL) {
        json_object_set_new(data, "source", json_string(source));
        if (rec->error_code != 0)
            json_object_set_new(data, "error",
                                json_string(pgcm_err_name(rec->error_code)));
        if (rec->sqlstate != NULL && rec->sqlstate[0] != '\0')
            json_object_set_new(data, "sqlstate",
                                rm_log_json_text(rec->sqlstate));
    }
    l.time_ms = rec->time_ms;
    l.level = rec->level;
    l.event = rec->event;
    l.node = rec->node_id;
    l.correlation_id = rec->correlation_id;
    l.message = rec->message;
    l.data = data;
    enqueue(rm_log_format_line(g_log.format, &l));
    json_decref(data);
}
