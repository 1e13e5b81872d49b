/* SPDX-License-Identifier: MIT */
/*
 * fuzz_config.c - libFuzzer target over the configuration library: parse
 * (libyaml + brace protection), interpolate, validate, print, look up and
 * override; plus the interpolation and unit parsers on the raw bytes.
 * Checks invariants: a load succeeds exactly when no error was reported,
 * every diagnostic formats to one line, and printing never shows a secret.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "fuzz-secret-pw"

/* A fixed environment, so that runs are reproducible. */
static const char *fuzz_getenv(const char *name)
{
    static const char *const vars[][2] = {
        {"PG_PASSWORD", SECRET}, {"PORT", "5432"}, {"EMPTY", ""},
        {"HOME", "/home/fuzz"},  {"HOST", "db1"},  {"PGHOST", "envhost"},
        {"NUM", "12"},           {"DUR", "1m30s"}, {"BRACE", "}{${X}"},
    };
    for (size_t i = 0; i < sizeof(vars) / sizeof(*vars); i++) {
        if (strcmp(name, vars[i][0]) == 0)
            return vars[i][1];
    }
    return NULL;
}

static int holds(const char *text, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++) {
        if (memcmp(text + i, needle, n) == 0)
            return 1;
    }
    return 0;
}

static int str_holds(const char *s, const char *needle)
{
    return s != NULL && strstr(s, needle) != NULL;
}

/* Whether the fuzz secret also reached a field that is printed in clear
 * (e.g. host: ${PG_PASSWORD}); then seeing it printed is no leak. */
static int secret_in_clear_field(const rm_config_t *cfg)
{
    const pgcm_options_t *o = &cfg->options;
    if (str_holds(o->probe_query, SECRET) ||
        str_holds(o->application_name, SECRET) ||
        str_holds(cfg->theme.name, SECRET))
        return 1;
    for (size_t i = 0; i < cfg->theme.color_count; i++) {
        if (str_holds(cfg->theme.colors[i].color, SECRET) ||
            str_holds(cfg->theme.colors[i].role, SECRET))
            return 1;
    }
    for (size_t i = 0; i < cfg->cluster_count; i++) {
        if (str_holds(cfg->clusters[i].name, SECRET))
            return 1;
    }
    for (size_t i = 0; i < cfg->node_count; i++) {
        const pgcm_node_spec_t *s = &cfg->nodes[i];
        const char *clear[] = {s->id,
                               s->host,
                               s->database,
                               s->user,
                               s->application_name,
                               s->ssl.ca,
                               s->ssl.cert,
                               s->ssl.key,
                               s->ssh.host,
                               s->ssh.user,
                               s->ssh.key_path,
                               s->ssh.known_hosts};
        for (size_t k = 0; k < sizeof(clear) / sizeof(*clear); k++) {
            if (str_holds(clear[k], SECRET))
                return 1;
        }
        /* conninfo prints with only its password masked. */
        char *m = rm_config_mask_conninfo(s->conninfo);
        int in = str_holds(m, SECRET);
        free(m);
        if (in)
            return 1;
    }
    return 0;
}

static void exercise_config(rm_config_t *cfg)
{
    for (int fmt = 0; fmt < 2; fmt++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (f == NULL)
            continue;
        (void)rm_config_print(cfg, (rm_print_format_t)fmt, f);
        fclose(f);
        if (buf != NULL && holds(buf, len, SECRET) &&
            !secret_in_clear_field(cfg))
            abort(); /* a password printed in clear */
        free(buf);
    }
    const pgcm_node_spec_t *specs = NULL;
    size_t count = 0;
    pgcm_error_t err;
    if (rm_config_cluster_nodes(cfg, NULL, &specs, &count, &err) == PGCM_OK) {
        for (size_t i = 0; i < count; i++) {
            if (rm_config_find_node(cfg, specs[i].id) == NULL)
                abort();
            if (!pgcm_node_spec_equal(&specs[i],
                                      rm_config_find_node(cfg, specs[i].id)))
                abort();
        }
    }
    for (size_t i = 0; i < cfg->cluster_count; i++) {
        if (rm_config_find_cluster(cfg, cfg->clusters[i].name) == NULL)
            abort();
    }
    (void)rm_config_cluster_nodes(cfg, "no-such-cluster", &specs, &count, &err);
    rm_diags_t d;
    rm_diags_init(&d);
    rm_overrides_t ov = {.host = "flaghost", .port = 6543, .user = "u"};
    if (rm_config_apply_overrides(cfg, &ov, &d) != PGCM_OK)
        abort();
    for (size_t i = 0; i < cfg->node_count; i++) {
        if (cfg->nodes[i].port != 6543)
            abort();
    }
    rm_diags_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    rm_diags_t d;
    rm_diags_init(&d);
    rm_config_t *cfg = NULL;
    int rc = rm_config_parse_buffer((const char *)data, size, "fuzz.yaml",
                                    fuzz_getenv, &cfg, &d);
    if ((rc == PGCM_OK) != (cfg != NULL))
        abort();
    if (rc == PGCM_OK && d.errors != 0)
        abort();
    if (rc == PGCM_EINVAL && d.errors == 0)
        abort();
    for (size_t i = 0; i < d.count; i++) {
        char line[1024];
        rm_diag_format(&d.items[i], line, sizeof(line));
        if (strchr(line, '\n') != NULL || d.items[i].message[0] == '\0')
            abort();
        /* Messages show values as written, never expanded. */
        if (holds(line, strlen(line), SECRET) &&
            !holds((const char *)data, size, SECRET))
            abort();
    }
    if (cfg != NULL) {
        exercise_config(cfg);
        rm_config_free(cfg);
    }
    rm_diags_free(&d);

    /* The scalar-level functions on the raw bytes. */
    rm_interp_t r;
    if (rm__interpolate((const char *)data, size, fuzz_getenv, &r) == 0)
        free(r.value);
    char text[256];
    size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    int64_t v;
    double dv;
    int b;
    const char *why;
    (void)rm_config_parse_duration(text, 1000, &v, &why);
    (void)rm_config_parse_size(text, &v, &why);
    (void)rm__parse_int(text, &v, &why);
    (void)rm__parse_number(text, &dv, &why);
    (void)rm__parse_bool(text, &b);
    char *masked = rm_config_mask_conninfo(text);
    free(masked);
    return 0;
}
