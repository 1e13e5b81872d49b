/* SPDX-License-Identifier: MIT */
/*
 * test_config_schema.c - the configuration's schema (schema.c) against the
 * authorities it must agree with: every default and bound of the manager's
 * and the pools' fields is what libpgcm sets and accepts (through its
 * public API: pgcm_options_init, pgcm_manager_new, pgcm_node_spec_init,
 * pgcm_manager_start); docs/configuration.md lists every key with the same
 * default and bounds; every key of a table is read into the field it
 * names; and the tables are well formed.
 */
#include <limits.h>

#include "test_config_util.h"

#include "config_internal.h"

static const rm_section_t *const all_sections[] = {
    &rm_schema_root,     &rm_schema_manager,   &rm_schema_backoff,
    &rm_schema_node,     &rm_schema_node_list, &rm_schema_ssl,
    &rm_schema_ssh,      &rm_schema_pool,      &rm_schema_thresholds,
    &rm_schema_cluster,  &rm_schema_theme,     &rm_schema_serve,
    &rm_schema_event_log};

#define NSECTIONS       (sizeof(all_sections) / sizeof(*all_sections))

#define INT_AT(base, f) ((int *)(void *)((char *)(base) + (f)->offset))

static void test_tables_are_well_formed(void **state)
{
    (void)state;
    for (size_t s = 0; s < NSECTIONS; s++) {
        const rm_section_t *sec = all_sections[s];
        const char *keys[RM_SCHEMA_MAX_KEYS + 1];
        size_t n = rm__schema_keys(sec, keys, RM_SCHEMA_MAX_KEYS + 1);
        assert_true(n <= RM_SCHEMA_MAX_KEYS);
        for (size_t i = 0; i < sec->count; i++) {
            const rm_field_t *f = &sec->fields[i];
            assert_non_null(f->key); /* no hole in a designated table */
            assert_true((f->type == RM_F_SECTION) == (f->section != NULL));
            if (f->flags & RM_FIELD_ALIAS) {
                assert_true(i > 0);
                assert_int_equal(f->offset, sec->fields[i - 1].offset);
                assert_int_equal(f->type, sec->fields[i - 1].type);
            }
            if (f->type == RM_F_INT || f->type == RM_F_INT64 ||
                f->type == RM_F_DURATION || f->type == RM_F_DURATION64 ||
                f->type == RM_F_SIZE) {
                assert_true(f->min <= f->max);
                /* A default outside the bounds: only "unset" (0). */
                assert_true((f->def >= f->min && f->def <= f->max) ||
                            (f->def == 0 && (f->flags & RM_FIELD_UNSET)));
            }
        }
        for (size_t i = 0; i < n; i++) {
            for (size_t j = i + 1; j < n; j++)
                assert_string_not_equal(keys[i], keys[j]);
        }
        for (size_t i = 0; i < sec->nhints; i++)
            assert_non_null(sec->hints[i]->section);
    }
    for (size_t i = 0; i < rm_schema_env_count; i++) {
        const rm_env_binding_t *b = &rm_schema_env[i];
        const rm_section_t *in =
            b->manager ? &rm_schema_manager : &rm_schema_node;
        /* The field is the manager's, or a node's (one level down). */
        int found = 0;
        for (size_t k = 0; k < in->count; k++) {
            const rm_field_t *f = &in->fields[k];
            found |= f == b->field;
            for (size_t m = 0; f->section && m < f->section->count; m++)
                found |= &f->section->fields[m] == b->field;
        }
        assert_true(found);
        for (size_t j = i + 1; j < rm_schema_env_count; j++)
            assert_string_not_equal(b->var, rm_schema_env[j].var);
    }
}

/* ---- against libpgcm ----------------------------------------------------- */

/* Whether pgcm_manager_new takes options o. */
static int manager_accepts(const pgcm_options_t *o)
{
    pgcm_manager_t *mgr = NULL;
    pgcm_error_t err;
    int rc = pgcm_manager_new(o, &mgr, &err);
    if (rc == PGCM_OK)
        pgcm_manager_free(mgr);
    else
        assert_int_equal(rc, PGCM_EINVAL);
    return rc == PGCM_OK;
}

/* The manager's options with field f (of the manager or of backoff) at v,
 * the other options at their defaults, backoff kept consistent. */
static void options_with(pgcm_options_t *o, const rm_field_t *f, int v)
{
    pgcm_options_init(o);
    *INT_AT(o, f) = v;
    if (o->backoff_max_ms < o->backoff_initial_ms) {
        if (f->offset == offsetof(pgcm_options_t, backoff_max_ms))
            o->backoff_initial_ms = v;
        else
            o->backoff_max_ms = v;
    }
}

static void check_manager_field(const rm_field_t *f)
{
    pgcm_options_t def, o;
    pgcm_options_init(&def);
    if (f->type == RM_F_STRING) {
        const char *pgcm_def =
            *(const char **)(void *)((char *)&def + f->offset);
        assert_string_equal(f->def_text, pgcm_def);
        return;
    }
    if (f->def != *INT_AT(&def, f))
        fail_msg("manager.%s: the schema's default %lld, pgcm's %d", f->key,
                 (long long)f->def, *INT_AT(&def, f));
    const int64_t ok[] = {f->def, f->min, f->max};
    for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
        options_with(&o, f, (int)ok[i]);
        if (!manager_accepts(&o))
            fail_msg("manager.%s: pgcm refuses %lld, which the schema "
                     "accepts",
                     f->key, (long long)ok[i]);
    }
    /* The lower bound is pgcm's: one less is refused. */
    options_with(&o, f, (int)f->min - 1);
    if (manager_accepts(&o))
        fail_msg("manager.%s: pgcm accepts %lld, below the schema's bound",
                 f->key, (long long)f->min - 1);
}

static void test_manager_fields_agree_with_pgcm(void **state)
{
    (void)state;
    size_t checked = 0;
    for (size_t i = 0; i < rm_schema_manager.count; i++) {
        const rm_field_t *f = &rm_schema_manager.fields[i];
        if (f->type == RM_F_SECTION) {
            for (size_t k = 0; k < f->section->count; k++, checked++)
                check_manager_field(&f->section->fields[k]);
        } else {
            check_manager_field(f);
            checked++;
        }
    }
    /* Every option of pgcm_options_t a file can set: 15 numbers and 2
     * strings (the log hook is for programs). */
    assert_int_equal(checked, 17);
}

/* Whether pgcm takes spec: pgcm_manager_start with the spec twice fails
 * with PGCM_EINVAL for an invalid spec, else with PGCM_EEXIST for the
 * duplicate id; either way no node is added, nothing connects. */
static int spec_accepted(pgcm_manager_t *mgr, const pgcm_node_spec_t *spec)
{
    pgcm_node_spec_t two[2] = {*spec, *spec};
    pgcm_error_t err;
    int rc = pgcm_manager_start(mgr, two, 2, 0, &err);
    assert_true(rc == PGCM_EINVAL || rc == PGCM_EEXIST);
    return rc == PGCM_EEXIST;
}

static void spec_with(pgcm_node_spec_t *s, const rm_field_t *f, int v)
{
    pgcm_node_spec_init(s);
    s->id = "schema-test";
    s->host = "/nonexistent/replmon-schema-test";
    *INT_AT(s, f) = v;
    if (s->pool.min > s->pool.max) {
        if (f->offset == offsetof(pgcm_node_spec_t, pool.max))
            s->pool.min = v;
        else
            s->pool.max = v;
    }
}

static void test_node_fields_agree_with_pgcm(void **state)
{
    (void)state;
    pgcm_manager_t *mgr = NULL;
    assert_int_equal(pgcm_manager_new(NULL, &mgr, NULL), PGCM_OK);
    pgcm_node_spec_t s, def;
    pgcm_node_spec_init(&def);
    /* The probe itself tells an invalid spec from a valid one. */
    spec_with(&s, rm__schema_field(&rm_schema_pool, "max"), 0);
    assert_false(spec_accepted(mgr, &s));
    spec_with(&s, rm__schema_field(&rm_schema_pool, "max"), 10);
    assert_true(spec_accepted(mgr, &s));

    const rm_section_t *checked[] = {&rm_schema_node, &rm_schema_pool,
                                     &rm_schema_ssl};
    for (size_t c = 0; c < sizeof(checked) / sizeof(*checked); c++) {
        const rm_section_t *sec = checked[c];
        for (size_t i = 0; i < sec->count; i++) {
            const rm_field_t *f = &sec->fields[i];
            if (f->type != RM_F_INT && f->type != RM_F_DURATION &&
                f->type != RM_F_BOOL && f->type != RM_F_TRISTATE)
                continue;
            if (f->def != *INT_AT(&def, f))
                fail_msg("%s.%s: the schema's default %lld, pgcm's %d",
                         sec->name, f->key, (long long)f->def,
                         *INT_AT(&def, f));
            int64_t ok[3] = {f->def, f->min, f->max};
            size_t nok =
                f->type == RM_F_BOOL || f->type == RM_F_TRISTATE ? 1 : 3;
            for (size_t k = 0; k < nok; k++) {
                spec_with(&s, f, (int)ok[k]);
                if (!spec_accepted(mgr, &s))
                    fail_msg("%s.%s: pgcm refuses %lld, which the schema "
                             "accepts",
                             sec->name, f->key, (long long)ok[k]);
            }
            if (nok == 1)
                continue;
            /* One below: pgcm's bound too, or the unset value (0). */
            spec_with(&s, f, (int)f->min - 1);
            int unset = (f->flags & RM_FIELD_UNSET) != 0;
            if (spec_accepted(mgr, &s) != unset)
                fail_msg("%s.%s: pgcm %s %lld", sec->name, f->key,
                         unset ? "refuses the unset value" : "accepts",
                         (long long)f->min - 1);
        }
    }
    /* ssh: probed without a host (a spec with one would open a tunnel):
     * the port's default, and host_key_check's values. */
    const rm_field_t *ssh_port = rm__schema_field(&rm_schema_ssh, "port");
    assert_int_equal(ssh_port->def, def.ssh.port);
    /* host_key_check: every word's position is a value pgcm accepts, and
     * the one past them is refused. */
    const rm_field_t *hkc = rm__schema_field(&rm_schema_ssh, "host_key_check");
    assert_int_equal(hkc->type, RM_F_ENUM);
    assert_int_equal(hkc->def, def.ssh.host_key_check);
    assert_string_equal(hkc->choices[PGCM_HOSTKEY_STRICT], "strict");
    assert_string_equal(hkc->choices[PGCM_HOSTKEY_ACCEPT_NEW], "accept-new");
    int words = 0;
    for (; hkc->choices[words] != NULL; words++) {
        spec_with(&s, hkc, words);
        assert_true(spec_accepted(mgr, &s));
    }
    spec_with(&s, hkc, words);
    assert_false(spec_accepted(mgr, &s));
    pgcm_manager_free(mgr);
}

/* Every key of the manager and pool tables, written with its default,
 * loads into the field the table names: the configuration then equals
 * pgcm's defaults. */
static void test_every_key_is_read(void **state)
{
    (void)state;
    env_clear();
    char text[4096];
    size_t o = 0;
    o += (size_t)snprintf(text + o, sizeof(text) - o, "manager:\n");
    for (size_t i = 0; i < rm_schema_manager.count; i++) {
        const rm_field_t *f = &rm_schema_manager.fields[i];
        if (f->type == RM_F_SECTION) {
            o +=
                (size_t)snprintf(text + o, sizeof(text) - o, "  %s:\n", f->key);
            for (size_t k = 0; k < f->section->count; k++)
                o += (size_t)snprintf(text + o, sizeof(text) - o,
                                      "    %s: %lldms\n",
                                      f->section->fields[k].key,
                                      (long long)f->section->fields[k].def);
        } else if (f->type == RM_F_STRING) {
            o += (size_t)snprintf(text + o, sizeof(text) - o, "  %s: \"%s\"\n",
                                  f->key, f->def_text);
        } else {
            o += (size_t)snprintf(text + o, sizeof(text) - o, "  %s: %lld%s\n",
                                  f->key, (long long)f->def,
                                  f->type == RM_F_DURATION ? "ms" : "");
        }
    }
    o += (size_t)snprintf(text + o, sizeof(text) - o,
                          "nodes:\n  a:\n"
                          "    pool:\n");
    for (size_t i = 0; i < rm_schema_pool.count; i++) {
        const rm_field_t *f = &rm_schema_pool.fields[i];
        if (f->flags & RM_FIELD_ALIAS)
            continue;
        o += (size_t)snprintf(text + o, sizeof(text) - o, "      %s: %lld%s\n",
                              f->key, (long long)f->def,
                              f->type == RM_F_DURATION ? "ms" : "");
    }
    rm_config_t *cfg = load_ok(text);
    pgcm_options_t def;
    pgcm_options_init(&def);
    assert_memory_equal(&cfg->options, &def,
                        offsetof(pgcm_options_t, probe_query));
    assert_string_equal(cfg->options.probe_query, def.probe_query);
    assert_string_equal(cfg->options.application_name, def.application_name);
    pgcm_node_spec_t spec;
    pgcm_node_spec_init(&spec);
    assert_memory_equal(&cfg->nodes[0].pool, &spec.pool, sizeof(spec.pool));
    rm_config_free(cfg);

    /* Each one, set apart from its default, reaches its field. */
    for (size_t i = 0; i < rm_schema_manager.count; i++) {
        const rm_field_t *f = &rm_schema_manager.fields[i];
        if (f->type != RM_F_DURATION && f->type != RM_F_INT)
            continue;
        snprintf(text, sizeof(text), "manager: { %s: 7%s }\nnodes: { a: {} }\n",
                 f->key, f->type == RM_F_DURATION ? "ms" : "");
        cfg = load_ok(text);
        assert_int_equal(*INT_AT(&cfg->options, f), 7);
        rm_config_free(cfg);
    }
}

/* The thresholds' defaults are the table's. */
static void test_threshold_defaults(void **state)
{
    (void)state;
    env_clear();
    rm_config_t *cfg = load_ok("nodes: { a: {} }\n");
    for (size_t i = 0; i < rm_schema_thresholds.count; i++) {
        const rm_section_t *pair = rm_schema_thresholds.fields[i].section;
        for (size_t k = 0; k < pair->count; k++) {
            const rm_field_t *f = &pair->fields[k];
            const char *at = (const char *)&cfg->thresholds + f->offset;
            if (f->type == RM_F_NUMBER)
                assert_true(*(const double *)(const void *)at ==
                            (double)f->def);
            else
                assert_int_equal(*(const int64_t *)(const void *)at, f->def);
        }
    }
    rm_config_free(cfg);
}

/* ---- against docs/configuration.md --------------------------------------- */

static char *read_docs(void)
{
    /* This file is tests/unit/test_config_schema.c of the source tree. */
    char path[4096];
    snprintf(path, sizeof(path), "%s", __FILE__);
    char *cut = strstr(path, "tests/unit/test_config_schema.c");
    assert_non_null(cut);
    snprintf(cut, sizeof(path) - (size_t)(cut - path), "docs/configuration.md");
    FILE *f = fopen(path, "r");
    if (f == NULL)
        print_message("cannot read %s\n", path);
    assert_non_null(f);
    static char buf[1 << 17];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* The first backquoted word of s into out; returns what follows it. */
static const char *quoted(const char *s, char *out, size_t size)
{
    out[0] = '\0';
    const char *a = strchr(s, '`');
    if (a == NULL)
        return NULL;
    const char *b = strchr(a + 1, '`');
    if (b == NULL)
        return NULL;
    snprintf(out, size, "%.*s", (int)(b - a - 1), a + 1);
    return b + 1;
}

typedef struct doc_row {
    char key[64], alias[64], type[128], def[64], def2[64];
} doc_row_t;

/* The rows of the first table after marker (a line of the docs). */
static size_t doc_table(const char *docs, const char *marker, doc_row_t *rows,
                        size_t max)
{
    const char *p = strstr(docs, marker);
    if (p == NULL)
        print_message("docs/configuration.md has no '%s'\n", marker);
    assert_non_null(p);
    p = strstr(p, "\n|");
    assert_non_null(p);
    size_t n = 0;
    for (p++; *p == '|' && n < max; p = strchr(p, '\n') + 1) {
        const char *end = strchr(p, '\n');
        char line[512];
        snprintf(line, sizeof(line), "%.*s", (int)(end - p), p);
        char *cols[8];
        size_t ncols = 0;
        for (char *save = NULL, *c = strtok_r(line, "|", &save);
             c != NULL && ncols < 8; c = strtok_r(NULL, "|", &save))
            cols[ncols++] = c;
        if (ncols < 2 || strchr(cols[0], '`') == NULL)
            continue; /* the header and the ---- line */
        doc_row_t *r = &rows[n++];
        memset(r, 0, sizeof(*r));
        const char *after = quoted(cols[0], r->key, sizeof(r->key));
        if (after != NULL && strstr(after, "(or ") != NULL)
            quoted(after, r->alias, sizeof(r->alias));
        snprintf(r->type, sizeof(r->type), "%s", cols[1]);
        if (ncols > 2) {
            after = quoted(cols[2], r->def, sizeof(r->def));
            if (after != NULL && strstr(after, " / ") != NULL)
                quoted(after, r->def2, sizeof(r->def2));
        }
    }
    return n;
}

/* The field a documented key names ("backoff.initial" one level down). */
static const rm_field_t *doc_field(const rm_section_t *sec, const char *key)
{
    char first[64];
    snprintf(first, sizeof(first), "%s", key);
    char *dot = strchr(first, '.');
    if (dot != NULL)
        *dot = '\0';
    const rm_field_t *f = rm__schema_field(sec, first);
    if (f != NULL && dot != NULL) {
        assert_non_null(f->section);
        f = rm__schema_field(f->section, dot + 1);
    }
    if (f == NULL)
        print_message("documented key %s is not in the %s table\n", key,
                      sec->name);
    assert_non_null(f);
    return f;
}

/* A documented default, as the field keeps it. */
static int64_t doc_value(const rm_field_t *f, const char *text)
{
    int64_t v = 0;
    const char *why = NULL;
    int rc = 0;
    if (f->type == RM_F_DURATION || f->type == RM_F_DURATION64) {
        rc = rm_config_parse_duration(text, 1000, &v, &why);
    } else if (f->type == RM_F_SIZE) {
        rc = rm_config_parse_size(text, &v, &why);
    } else if (f->type == RM_F_BOOL) {
        int b = 0;
        rc = rm__parse_bool(text, &b);
        v = b;
    } else if (f->type == RM_F_ENUM) {
        rc = -1;
        for (int64_t i = 0; f->choices[i] != NULL; i++) {
            if (strcmp(f->choices[i], text) == 0) {
                v = i;
                rc = 0;
            }
        }
    } else if (f->type == RM_F_NUMBER) {
        double d = 0;
        rc = rm__parse_number(text, &d, &why);
        v = (int64_t)d;
    } else {
        rc = rm__parse_int(text, &v, &why);
    }
    if (rc != 0)
        print_message("documented default of %s: '%s'\n", f->key, text);
    assert_int_equal(rc, 0);
    return v;
}

/* The documented type agrees with the bounds: "duration > 0" (min 1),
 * "duration >= 0" (min 0), "integer 1-1000" (1..1000). */
static void check_doc_type(const rm_field_t *f, const char *type)
{
    long long lo, hi;
    const char *d = strstr(type, "duration");
    const char *i = strstr(type, "integer");
    if (d != NULL) {
        assert_true(f->type == RM_F_DURATION || f->type == RM_F_DURATION64);
        if (strstr(d, ">= 0") != NULL)
            assert_int_equal(f->min, 0);
        else if (strstr(d, "> 0") != NULL)
            assert_int_equal(f->min, 1);
        else
            fail_msg("%s: the type '%s' gives no bound", f->key, type);
    } else if (i != NULL && sscanf(i, "integer %lld-%lld", &lo, &hi) == 2) {
        assert_true(f->type == RM_F_INT || f->type == RM_F_INT64);
        assert_int_equal(f->min, lo);
        assert_int_equal(f->max, hi);
    } else if (strstr(type, "size > 0") != NULL) {
        assert_int_equal(f->type, RM_F_SIZE);
        assert_int_equal(f->min, 1);
    } else if (strstr(type, "number >= 0") != NULL) {
        assert_int_equal(f->type, RM_F_NUMBER);
    } else if (f->type == RM_F_ENUM) {
        /* "`strict` or `accept-new`": every word, in backquotes. */
        for (size_t k = 0; f->choices[k] != NULL; k++) {
            char quoted[64];
            snprintf(quoted, sizeof(quoted), "`%s`", f->choices[k]);
            if (strstr(type, quoted) == NULL)
                fail_msg("%s: the type '%s' lacks %s", f->key, type, quoted);
        }
    } else if (strstr(type, "boolean") != NULL) {
        assert_true(f->type == RM_F_BOOL || f->type == RM_F_TRISTATE);
    } else if (strstr(type, "string") != NULL || strstr(type, "path")) {
        assert_true(f->type == RM_F_STRING || f->type == RM_F_PATH ||
                    f->type == RM_F_SECRET || f->type == RM_F_OWN);
    }
}

/* Every key of sec (one level down too when deep) is a row, and every
 * row's type and default (when check_defaults) agree with the table. */
static void check_doc_section(const char *docs, const char *marker,
                              const rm_section_t *sec, int deep,
                              int check_defaults)
{
    doc_row_t rows[40];
    size_t n = doc_table(docs, marker, rows, 40);
    assert_true(n > 0);
    size_t documented = 0;
    for (size_t r = 0; r < n; r++) {
        const rm_field_t *f = doc_field(sec, rows[r].key);
        documented += 1 + (rows[r].alias[0] != '\0');
        if (rows[r].alias[0] != '\0')
            assert_ptr_equal(
                rm__schema_spelling_of(sec, doc_field(sec, rows[r].alias)), f);
        if (f->section != NULL) {
            /* "replication_lag.warning / .critical": both of the pair. */
            continue;
        }
        check_doc_type(f, rows[r].type);
        if (!check_defaults || rows[r].def[0] == '\0')
            continue;
        if (f->type == RM_F_STRING || f->type == RM_F_PATH ||
            f->type == RM_F_OWN) {
            if (f->def_text != NULL)
                assert_string_equal(rows[r].def, f->def_text);
        } else if (doc_value(f, rows[r].def) != f->def) {
            fail_msg("docs: %s.%s defaults to %s, the schema to %lld",
                     sec->name, f->key, rows[r].def, (long long)f->def);
        }
    }
    size_t fields = 0;
    for (size_t i = 0; i < sec->count; i++) {
        const rm_field_t *f = &sec->fields[i];
        if (f->type == RM_F_SECTION && deep)
            fields += f->section->count;
        else
            fields++;
    }
    if (documented != fields)
        print_message("%s: %zu keys documented, %zu in the table\n", sec->name,
                      documented, fields);
    assert_int_equal(documented, fields);
}

static void test_docs_agree(void **state)
{
    (void)state;
    const char *docs = read_docs();
    check_doc_section(docs, "### `manager:`", &rm_schema_manager, 1, 1);
    check_doc_section(docs, "Per-node keys (all optional):", &rm_schema_node, 0,
                      0);
    check_doc_section(docs, "`ssl:` — ", &rm_schema_ssl, 0, 0);
    check_doc_section(docs, "`ssh:` — ", &rm_schema_ssh, 0, 1);
    check_doc_section(docs, "\n`pool:`\n", &rm_schema_pool, 0, 1);
    check_doc_section(docs, "### `serve:`", &rm_schema_serve, 0, 1);
    check_doc_section(docs, "### `event_log:`", &rm_schema_event_log, 0, 1);

    /* Thresholds: "`replication_lag.warning` / `.critical` | duration > 0 |
     * `10s` / `1m`". */
    doc_row_t rows[8];
    size_t n = doc_table(docs, "### `thresholds:`", rows, 8);
    assert_int_equal(n, rm_schema_thresholds.count);
    for (size_t r = 0; r < n; r++) {
        const rm_field_t *warn = doc_field(&rm_schema_thresholds, rows[r].key);
        const rm_field_t *pair =
            rm__schema_field(&rm_schema_thresholds, strtok(rows[r].key, "."));
        const rm_field_t *crit = rm__schema_field(pair->section, "critical");
        check_doc_type(warn, rows[r].type);
        assert_int_equal(doc_value(warn, rows[r].def), warn->def);
        assert_int_equal(doc_value(crit, rows[r].def2), crit->def);
    }

    /* The environment-only mode's variables. */
    doc_row_t vars[10];
    n = doc_table(docs, "| Variable | Sets |", vars, 10);
    assert_int_equal(n, rm_schema_env_count);
    for (size_t r = 0; r < n; r++)
        assert_string_equal(vars[r].key, rm_schema_env[r].var);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables_are_well_formed),
        cmocka_unit_test(test_manager_fields_agree_with_pgcm),
        cmocka_unit_test(test_node_fields_agree_with_pgcm),
        cmocka_unit_test(test_every_key_is_read),
        cmocka_unit_test(test_threshold_defaults),
        cmocka_unit_test(test_docs_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
