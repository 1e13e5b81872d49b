/* SPDX-License-Identifier: MIT */
/*
 * spec.c - node specifications and manager options: defaults, validation,
 * deep copies, comparison, and turning a spec into the keyword/value arrays
 * libpq's PQconnectStartParams takes. Pure: no loop, no I/O.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void pgcm_node_spec_init(pgcm_node_spec_t *spec)
{
    memset(spec, 0, sizeof(*spec));
    spec->ssl.enabled = PGCM_SSL_DEFAULT;
    spec->ssl.reject_unauthorized = 1;
    spec->ssh.port = 22;
    spec->pool.min = 1;
    spec->pool.max = 10;
    spec->pool.idle_timeout_ms = 10000;
    spec->pool.acquire_timeout_ms = 10000;
    spec->pool.max_lifetime_ms = 1800000;
    spec->pool.leak_threshold_ms = 60000;
}

void pgcm_options_init(pgcm_options_t *o)
{
    memset(o, 0, sizeof(*o));
    o->health_check_interval_ms = 5000;
    o->health_check_timeout_ms = 2000;
    o->liveness_interval_ms = 500;
    o->liveness_timeout_ms = 400;
    o->suspect_probe_timeout_ms = 300;
    o->unhealthy_threshold = 3;
    o->degraded_latency_ms = 1000;
    o->query_timeout_ms = 30000;
    o->connect_timeout_ms = 5000;
    o->shutdown_timeout_ms = 10000;
    o->remove_timeout_ms = 1000;
    o->cancel_grace_ms = 2000;
    o->backoff_initial_ms = 1000;
    o->backoff_max_ms = 30000;
    o->stats_interval_ms = 0;
    o->probe_query = "SELECT 1";
    o->application_name = "replmon";
    o->log_cb = NULL;
    o->log_user = NULL;
    o->log_level = PGCM_LOG_INFO;
}

static int str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

int pgcm_node_spec_equal(const pgcm_node_spec_t *a, const pgcm_node_spec_t *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return str_eq(a->id, b->id) && str_eq(a->conninfo, b->conninfo) &&
           str_eq(a->host, b->host) && a->port == b->port &&
           str_eq(a->database, b->database) && str_eq(a->user, b->user) &&
           str_eq(a->password, b->password) &&
           str_eq(a->application_name, b->application_name) &&
           a->connect_timeout_ms == b->connect_timeout_ms &&
           a->ssl.enabled == b->ssl.enabled &&
           a->ssl.reject_unauthorized == b->ssl.reject_unauthorized &&
           str_eq(a->ssl.ca, b->ssl.ca) && str_eq(a->ssl.cert, b->ssl.cert) &&
           str_eq(a->ssl.key, b->ssl.key) && str_eq(a->ssh.host, b->ssh.host) &&
           a->ssh.port == b->ssh.port && str_eq(a->ssh.user, b->ssh.user) &&
           str_eq(a->ssh.key_path, b->ssh.key_path) &&
           str_eq(a->ssh.known_hosts, b->ssh.known_hosts) &&
           str_eq(a->ssh.passphrase, b->ssh.passphrase) &&
           a->ssh.host_key_check == b->ssh.host_key_check &&
           a->pool.min == b->pool.min && a->pool.max == b->pool.max &&
           a->pool.idle_timeout_ms == b->pool.idle_timeout_ms &&
           a->pool.acquire_timeout_ms == b->pool.acquire_timeout_ms &&
           a->pool.max_lifetime_ms == b->pool.max_lifetime_ms &&
           a->pool.leak_threshold_ms == b->pool.leak_threshold_ms &&
           a->pool.pipeline_depth == b->pool.pipeline_depth;
}

/* Could this conninfo carry a secret (a password keyword, or a URI with
 * user:password@)? */
static bool conninfo_may_hold_secret(const char *ci)
{
    if (strcasestr(ci, "password") != NULL)
        return true;
    const char *scheme = strstr(ci, "://");
    if (scheme == NULL)
        return false;
    const char *auth_end = strpbrk(scheme + 3, "@/?");
    if (auth_end == NULL || *auth_end != '@')
        return false;
    return memchr(scheme + 3, ':', (size_t)(auth_end - (scheme + 3))) != NULL;
}

/* Copy libpq's one-line parse error into out. libpq quotes the offending
 * token or the whole URI; when the conninfo may hold a password, every
 * quoted part is replaced so that the secret never reaches a message. */
static void redact_conninfo_error(const char *conninfo, const char *pqmsg,
                                  char *out, size_t outlen)
{
    bool redact = conninfo_may_hold_secret(conninfo);
    size_t o = 0;
    bool quoted = false;
    for (const char *p = pqmsg; *p && *p != '\n' && o + 1 < outlen; p++) {
        if (*p == '"') {
            quoted = !quoted;
            if (redact && quoted) {
                const char *mark = "\"(redacted)";
                for (; *mark && o + 1 < outlen; mark++)
                    out[o++] = *mark;
                continue;
            }
        }
        if (!(redact && quoted))
            out[o++] = *p;
    }
    out[o] = '\0';
}

int pgcm__spec_validate(const pgcm_node_spec_t *s, pgcm_error_t *err)
{
    if (s == NULL)
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "node spec is NULL; pass a pgcm_node_spec_t "
                               "filled by pgcm_node_spec_init()");
    if (s->id == NULL || s->id[0] == '\0')
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "node id is NULL or empty; give every node a "
                               "unique non-empty id");
    const char *id = s->id;
    if (strlen(id) > PGCM_ID_MAX)
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "node id '%.40s...' is longer than %d bytes; "
                               "use a shorter id",
                               id, PGCM_ID_MAX);
    for (const char *p = id; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return pgcm__error_set(err, PGCM_EINVAL, NULL,
                                   "node id contains a control character; "
                                   "use printable characters");
    }
    if (s->port < 0 || s->port > 65535)
        return pgcm__error_set(err, PGCM_EINVAL, id,
                               "node '%s': port %d is out of range; use "
                               "1-65535 (0 for libpq's default)",
                               id, s->port);
    if (s->connect_timeout_ms < 0)
        return pgcm__error_set(err, PGCM_EINVAL, id,
                               "node '%s': connect_timeout_ms %d is negative; "
                               "use a positive value (0 for the default)",
                               id, s->connect_timeout_ms);
    const pgcm_pool_options_t *p = &s->pool;
    if (p->min < 0)
        return pgcm__error_set(err, PGCM_EINVAL, id,
                               "node '%s': pool min %d is negative; use 0 or "
                               "more",
                               id, p->min);
    if (p->max < 1)
        return pgcm__error_set(err, PGCM_EINVAL, id,
                               "node '%s': pool max %d must be at least 1", id,
                               p->max);
    if (p->min > p->max)
        return pgcm__error_set(err, PGCM_EINVAL, id,
                               "node '%s': pool min %d is larger than max %d; "
                               "lower min or raise max",
                               id, p->min, p->max);
    struct {
        const char *name;
        int value;
    } positive[] = {
        {"idle_timeout_ms", p->idle_timeout_ms},
        {"acquire_timeout_ms", p->acquire_timeout_ms},
        {"max_lifetime_ms", p->max_lifetime_ms},
        {"leak_threshold_ms", p->leak_threshold_ms},
    };
    for (size_t i = 0; i < sizeof(positive) / sizeof(*positive); i++) {
        if (positive[i].value <= 0)
            return pgcm__error_set(err, PGCM_EINVAL, id,
                                   "node '%s': pool %s %d must be positive "
                                   "(milliseconds)",
                                   id, positive[i].name, positive[i].value);
    }
    if (p->pipeline_depth < -1 || p->pipeline_depth > PGCM_PIPELINE_MAX)
        return pgcm__error_set(err, PGCM_EINVAL, id,
                               "node '%s': pool pipeline_depth %d is out of "
                               "range; use 0 (the manager's), -1 (off) or 2 "
                               "to %d",
                               id, p->pipeline_depth, PGCM_PIPELINE_MAX);
    if (s->ssl.enabled < PGCM_SSL_DEFAULT || s->ssl.enabled > PGCM_SSL_ENABLED)
        return pgcm__error_set(err, PGCM_EINVAL, id,
                               "node '%s': ssl.enabled must be -1 (libpq "
                               "default), 0 or 1",
                               id);
    if (s->ssh.host_key_check != PGCM_HOSTKEY_STRICT &&
        s->ssh.host_key_check != PGCM_HOSTKEY_ACCEPT_NEW)
        return pgcm__error_set(err, PGCM_EINVAL, id,
                               "node '%s': ssh.host_key_check must be 0 "
                               "(strict) or 1 (accept-new)",
                               id);
    if (s->ssh.host != NULL && s->ssh.host[0] != '\0') {
        if (s->ssh.port < 0 || s->ssh.port > 65535)
            return pgcm__error_set(err, PGCM_EINVAL, id,
                                   "node '%s': ssh.port %d is out of range; "
                                   "use 1-65535 (0 for 22)",
                                   id, s->ssh.port);
        if (s->host == NULL || s->host[0] == '\0' || s->host[0] == '/' ||
            strchr(s->host, ',') != NULL)
            return pgcm__error_set(err, PGCM_EINVAL, id,
                                   "node '%s': with ssh.host, host must be "
                                   "the database server's one name or "
                                   "address as the bastion sees it (not a "
                                   "socket directory or a list)",
                                   id);
    }
    if (s->conninfo != NULL) {
        char *perr = NULL;
        PQconninfoOption *opts = PQconninfoParse(s->conninfo, &perr);
        if (opts == NULL) {
            char msg[256];
            redact_conninfo_error(
                s->conninfo, perr ? perr : "out of memory parsing conninfo",
                msg, sizeof(msg));
            PQfreemem(perr);
            return pgcm__error_set(err, PGCM_EINVAL, id,
                                   "node '%s': invalid conninfo: %s", id, msg);
        }
        PQconninfoFree(opts);
    }
    return PGCM_OK;
}

int pgcm__options_validate(const pgcm_options_t *o, pgcm_error_t *err)
{
    struct {
        const char *name;
        int value;
        int min;
    } checks[] = {
        {"health_check_interval_ms", o->health_check_interval_ms, 1},
        {"health_check_timeout_ms", o->health_check_timeout_ms, 1},
        {"liveness_interval_ms", o->liveness_interval_ms, 0},
        {"liveness_timeout_ms", o->liveness_timeout_ms, 1},
        {"suspect_probe_timeout_ms", o->suspect_probe_timeout_ms, 1},
        {"unhealthy_threshold", o->unhealthy_threshold, 1},
        {"degraded_latency_ms", o->degraded_latency_ms, 1},
        {"query_timeout_ms", o->query_timeout_ms, 1},
        {"connect_timeout_ms", o->connect_timeout_ms, 1},
        {"shutdown_timeout_ms", o->shutdown_timeout_ms, 0},
        {"remove_timeout_ms", o->remove_timeout_ms, 0},
        {"cancel_grace_ms", o->cancel_grace_ms, 1},
        {"backoff_initial_ms", o->backoff_initial_ms, 1},
        {"backoff_max_ms", o->backoff_max_ms, 1},
        {"stats_interval_ms", o->stats_interval_ms, 0},
    };
    for (size_t i = 0; i < sizeof(checks) / sizeof(*checks); i++) {
        if (checks[i].value < checks[i].min)
            return pgcm__error_set(err, PGCM_EINVAL, NULL,
                                   "option %s is %d; it must be at least %d",
                                   checks[i].name, checks[i].value,
                                   checks[i].min);
    }
    if (o->pipeline_depth < 0 || o->pipeline_depth > PGCM_PIPELINE_MAX)
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "option pipeline_depth is %d; use 0 (off) or "
                               "2 to %d requests per connection",
                               o->pipeline_depth, PGCM_PIPELINE_MAX);
    if (o->backoff_max_ms < o->backoff_initial_ms)
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "option backoff_max_ms (%d) is below "
                               "backoff_initial_ms (%d); raise it",
                               o->backoff_max_ms, o->backoff_initial_ms);
    if ((int)o->log_level < PGCM_LOG_DEBUG ||
        (int)o->log_level > PGCM_LOG_ERROR)
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "option log_level is %d; use PGCM_LOG_DEBUG "
                               "(0) to PGCM_LOG_ERROR (3)",
                               (int)o->log_level);
    if (o->probe_query != NULL && o->probe_query[0] == '\0')
        return pgcm__error_set(err, PGCM_EINVAL, NULL,
                               "option probe_query is empty; use e.g. "
                               "\"SELECT 1\" or NULL for the default");
    return PGCM_OK;
}

/* The spec's strings, in the order they are laid out after the struct. */
static size_t spec_strings(pgcm_node_spec_t *d, const char ***out)
{
    out[0] = &d->id;
    out[1] = &d->conninfo;
    out[2] = &d->host;
    out[3] = &d->database;
    out[4] = &d->user;
    out[5] = &d->password;
    out[6] = &d->application_name;
    out[7] = &d->ssl.ca;
    out[8] = &d->ssl.cert;
    out[9] = &d->ssl.key;
    out[10] = &d->ssh.host;
    out[11] = &d->ssh.user;
    out[12] = &d->ssh.key_path;
    out[13] = &d->ssh.known_hosts;
    out[14] = &d->ssh.passphrase;
    return 15;
}

/* One allocation: the struct, then its strings (a node keeps its spec for
 * life, and at 10,000 nodes fifteen small blocks a node add up). */
pgcm_node_spec_t *pgcm__spec_dup(const pgcm_node_spec_t *s)
{
    pgcm_node_spec_t probe = *s;
    const char **fields[15];
    size_t nfields = spec_strings(&probe, fields);
    size_t total = sizeof(*s);
    for (size_t i = 0; i < nfields; i++)
        total += *fields[i] ? strlen(*fields[i]) + 1 : 0;
    pgcm_node_spec_t *d = pgcm__malloc(total);
    if (d == NULL)
        return NULL;
    *d = *s;
    spec_strings(d, fields);
    char *text = (char *)(d + 1);
    for (size_t i = 0; i < nfields; i++) {
        if (*fields[i] == NULL)
            continue;
        size_t len = strlen(*fields[i]) + 1;
        *fields[i] = memcpy(text, *fields[i], len);
        text += len;
    }
    return d;
}

/* The secrets (password, conninfo, ssh passphrase) are wiped first. */
void pgcm__spec_free(pgcm_node_spec_t *d)
{
    if (d == NULL)
        return;
    const char *secrets[] = {d->conninfo, d->password, d->ssh.passphrase};
    for (size_t i = 0; i < sizeof(secrets) / sizeof(*secrets); i++) {
        if (secrets[i] != NULL)
            explicit_bzero((char *)secrets[i], strlen(secrets[i]));
    }
    pgcm__free(d);
}

/* ---- conninfo -------------------------------------------------------- */

static int params_set(conninfo_params_t *p, const char *key, const char *value,
                      bool copy)
{
    if (value == NULL)
        return PGCM_OK;
    const char *v = value;
    if (copy) {
        if (p->nowned >= CONNINFO_MAX_OWNED)
            return PGCM_EINVAL;
        char *c = pgcm__strdup(value);
        if (c == NULL)
            return PGCM_ENOMEM;
        p->owned[p->nowned++] = c;
        v = c;
    }
    for (int i = 0; i < p->count; i++) {
        if (strcmp(p->keys[i], key) == 0) {
            p->values[i] = v;
            return PGCM_OK;
        }
    }
    if (p->count >= CONNINFO_MAX_PARAMS)
        return PGCM_EINVAL;
    p->keys[p->count] = key;
    p->values[p->count] = v;
    p->count++;
    p->keys[p->count] = NULL;
    p->values[p->count] = NULL;
    return PGCM_OK;
}

static int params_set_int(conninfo_params_t *p, const char *key, int value)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%d", value);
    return params_set(p, key, buf, true);
}

/* libpq pairs host and hostaddr lists entry by entry and tries each in
 * turn: with several resolved addresses, repeat the host name (kept for TLS
 * name checks) once per address. */
static int repeat_host_for_addresses(conninfo_params_t *p, const char *addrs)
{
    const char *host = NULL;
    for (int i = 0; i < p->count; i++) {
        if (strcmp(p->keys[i], "host") == 0)
            host = p->values[i];
    }
    if (host == NULL)
        host = getenv("PGHOST");
    if (host == NULL || strchr(host, ',') != NULL)
        return PGCM_OK;
    size_t k = 1;
    for (const char *c = addrs; *c; c++)
        k += *c == ',';
    size_t len = strlen(host);
    char *list = pgcm__malloc(k * (len + 1));
    if (list == NULL)
        return PGCM_ENOMEM;
    char *w = list;
    for (size_t i = 0; i < k; i++) {
        memcpy(w, host, len);
        w += len;
        *w++ = i + 1 < k ? ',' : '\0';
    }
    int rc = params_set(p, "host", list, true);
    pgcm__free(list);
    return rc;
}

void pgcm__conninfo_free(conninfo_params_t *p)
{
    for (int i = 0; i < p->nowned; i++)
        pgcm__free_secret(p->owned[i]);
    memset(p, 0, sizeof(*p));
}

int pgcm__conninfo_build(const pgcm_node_spec_t *s, const char *default_app,
                         const char *hostaddr, conninfo_params_t *out,
                         pgcm_error_t *err)
{
    memset(out, 0, sizeof(*out));
    int rc = PGCM_OK;

    if (s->conninfo != NULL) {
        char *perr = NULL;
        PQconninfoOption *opts = PQconninfoParse(s->conninfo, &perr);
        if (opts == NULL) {
            PQfreemem(perr);
            return pgcm__error_set(err, PGCM_EINVAL, s->id,
                                   "node '%s': invalid conninfo", s->id);
        }
        for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
            if (o->val == NULL)
                continue;
            /* keywords are static strings inside libpq */
            if ((rc = params_set(out, o->keyword, o->val, true)) != PGCM_OK)
                break;
        }
        PQconninfoFree(opts);
        if (rc != PGCM_OK)
            goto fail;
    }

    char port[16];
    snprintf(port, sizeof(port), "%d", s->port);
    const char *app = s->application_name ? s->application_name : NULL;
    if (app == NULL) {
        /* keep a conninfo's own application_name, else the default */
        bool has = false;
        for (int i = 0; i < out->count; i++)
            has |= strcmp(out->keys[i], "application_name") == 0;
        if (!has)
            app = default_app;
    }
    if ((rc = params_set(out, "host", s->host, true)) ||
        (rc = params_set(out, "port", s->port > 0 ? port : NULL, true)) ||
        (rc = params_set(out, "dbname", s->database, true)) ||
        (rc = params_set(out, "user", s->user, true)) ||
        (rc = params_set(out, "password", s->password, true)) ||
        (rc = params_set(out, "application_name", app, true)) ||
        (rc = params_set(out, "hostaddr", hostaddr, true)))
        goto fail;
    if (hostaddr != NULL && strchr(hostaddr, ',') != NULL &&
        (rc = repeat_host_for_addresses(out, hostaddr)) != PGCM_OK)
        goto fail;

    /* Our own timer enforces the connect timeout; libpq's is a backstop
     * in whole seconds (minimum 2 in libpq). */
    int64_t cto_s = s->connect_timeout_ms > 0
                        ? ((int64_t)s->connect_timeout_ms + 999) / 1000
                        : 0;
    if (cto_s > 0 && (rc = params_set_int(out, "connect_timeout",
                                          cto_s < 2 ? 2 : (int)cto_s)))
        goto fail;

    /* L16: TCP keepalives so that dead peers are noticed by the kernel. */
    if ((rc = params_set(out, "keepalives", "1", false)) ||
        (rc = params_set(out, "keepalives_idle", "10", false)) ||
        (rc = params_set(out, "keepalives_interval", "5", false)) ||
        (rc = params_set(out, "keepalives_count", "3", false)))
        goto fail;

    if (s->ssl.enabled == PGCM_SSL_DISABLED) {
        rc = params_set(out, "sslmode", "disable", false);
    } else if (s->ssl.enabled == PGCM_SSL_ENABLED) {
        rc = params_set(out, "sslmode",
                        s->ssl.reject_unauthorized ? "verify-full" : "require",
                        false);
    }
    /* "Encrypted, not verified": libpq turns require into verify-ca as soon
     * as a root certificate file exists (the given ca, or
     * ~/.postgresql/root.crt), so point it at a file that cannot exist. */
    const char *rootcert = s->ssl.ca;
    if (s->ssl.enabled == PGCM_SSL_ENABLED && !s->ssl.reject_unauthorized)
        rootcert = "/nonexistent/libpgcm-tls-not-verified";
    if (rc || (rc = params_set(out, "sslrootcert", rootcert, true)) ||
        (rc = params_set(out, "sslcert", s->ssl.cert, true)) ||
        (rc = params_set(out, "sslkey", s->ssl.key, true)))
        goto fail;
    return PGCM_OK;

fail:
    pgcm__conninfo_free(out);
    if (rc == PGCM_ENOMEM)
        return pgcm__error_set(err, rc, s->id, "node '%s': out of memory",
                               s->id);
    return pgcm__error_set(err, PGCM_EINVAL, s->id,
                           "node '%s': too many connection parameters", s->id);
}

static bool is_address(const char *h)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

char *pgcm__conninfo_host_to_resolve(const pgcm_node_spec_t *s)
{
    const char *host = s->host;
    char *from_conninfo = NULL;
    bool has_hostaddr = false;
    if (s->conninfo != NULL) {
        PQconninfoOption *opts = PQconninfoParse(s->conninfo, NULL);
        for (PQconninfoOption *o = opts; o && o->keyword; o++) {
            if (strcmp(o->keyword, "hostaddr") == 0 && o->val && *o->val)
                has_hostaddr = true;
            if (host == NULL && strcmp(o->keyword, "host") == 0 && o->val)
                from_conninfo = pgcm__strdup(o->val);
        }
        if (opts)
            PQconninfoFree(opts);
        if (host == NULL)
            host = from_conninfo;
    }
    /* libpq falls back to the environment, as psql does; a DNS name there
     * must be resolved by us too, or libpq would block the loop on it. */
    if (host == NULL)
        host = getenv("PGHOST");
    if (!has_hostaddr) {
        const char *env_addr = getenv("PGHOSTADDR");
        has_hostaddr = env_addr != NULL && env_addr[0] != '\0';
    }
    char *result = NULL;
    if (host != NULL && !has_hostaddr && host[0] != '\0' && host[0] != '/' &&
        host[0] != '@' && strchr(host, ',') == NULL && !is_address(host))
        result = pgcm__strdup(host);
    pgcm__free(from_conninfo);
    return result;
}
