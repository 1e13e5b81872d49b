/* SPDX-License-Identifier: MIT */
/*
 * test_config_util.h - helpers shared by the test_config*.c unit tests: a
 * fake environment for the getenv injection, parsing a string, and
 * asserting that an exact diagnostic line was reported.
 */
#ifndef TEST_CONFIG_UTIL_H
#define TEST_CONFIG_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>

#include <cmocka.h>

#include "config.h"

#define FAKE_ENV_MAX 32

static const char *fake_env_names[FAKE_ENV_MAX];
static const char *fake_env_values[FAKE_ENV_MAX];
static size_t fake_env_count;

static inline void env_clear(void)
{
    fake_env_count = 0;
}

static inline void env_set(const char *name, const char *value)
{
    for (size_t i = 0; i < fake_env_count; i++) {
        if (strcmp(fake_env_names[i], name) == 0) {
            fake_env_values[i] = value;
            return;
        }
    }
    assert_true(fake_env_count < FAKE_ENV_MAX);
    fake_env_names[fake_env_count] = name;
    fake_env_values[fake_env_count] = value;
    fake_env_count++;
}

static inline const char *fake_getenv(const char *name)
{
    for (size_t i = 0; i < fake_env_count; i++) {
        if (strcmp(fake_env_names[i], name) == 0)
            return fake_env_values[i];
    }
    return NULL;
}

/* Parse text as file "t.yaml" with the fake environment. */
static inline int parse_text(const char *text, rm_config_t **cfg, rm_diags_t *d)
{
    rm_diags_init(d);
    return rm_config_parse_buffer(text, strlen(text), "t.yaml", fake_getenv,
                                  cfg, d);
}

/* Print every diagnostic (for a failing test's output). */
static inline void dump_diags(const rm_diags_t *d)
{
    for (size_t i = 0; i < d->count; i++) {
        char line[1024];
        rm_diag_format(&d->items[i], line, sizeof(line));
        print_message("  diag: %s\n", line);
    }
}

/* Whether a diagnostic formats exactly as line. */
static inline int has_diag(const rm_diags_t *d, const char *line)
{
    for (size_t i = 0; i < d->count; i++) {
        char buf[1024];
        rm_diag_format(&d->items[i], buf, sizeof(buf));
        if (strcmp(buf, line) == 0)
            return 1;
    }
    return 0;
}

#define assert_diag(d, line)                                                   \
    do {                                                                       \
        if (!has_diag((d), (line))) {                                          \
            print_message("expected diagnostic: %s\n", (line));                \
            dump_diags(d);                                                     \
            fail();                                                            \
        }                                                                      \
    } while (0)

/* Whether some diagnostic contains the substring. */
static inline int diag_contains(const rm_diags_t *d, const char *part)
{
    for (size_t i = 0; i < d->count; i++) {
        char buf[1024];
        rm_diag_format(&d->items[i], buf, sizeof(buf));
        if (strstr(buf, part) != NULL)
            return 1;
    }
    return 0;
}

#define assert_diag_contains(d, part)                                          \
    do {                                                                       \
        if (!diag_contains((d), (part))) {                                     \
            print_message("expected a diagnostic containing: %s\n", (part));   \
            dump_diags(d);                                                     \
            fail();                                                            \
        }                                                                      \
    } while (0)

/* Parse text that must load; returns the config. */
static inline rm_config_t *load_ok(const char *text)
{
    rm_config_t *cfg = NULL;
    rm_diags_t d;
    int rc = parse_text(text, &cfg, &d);
    if (rc != PGCM_OK) {
        print_message("parse failed (%d):\n", rc);
        dump_diags(&d);
    }
    assert_int_equal(rc, PGCM_OK);
    assert_non_null(cfg);
    assert_int_equal(d.errors, 0);
    rm_diags_free(&d);
    return cfg;
}

/* Print cfg into a malloc'd string. */
static inline char *print_to_string(const rm_config_t *cfg,
                                    rm_print_format_t fmt)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(rm_config_print(cfg, fmt, f), PGCM_OK);
    fclose(f);
    return buf;
}

#endif /* TEST_CONFIG_UTIL_H */
