/* SPDX-License-Identifier: MIT */
/*
 * test_config_scale.c - large configurations (issue 8): a file of 200,000
 * nodes is checked in time linear in its size (the checks that compared
 * every node with every earlier one took minutes here, beyond ctest's
 * timeout), and its duplicates, unknown ids and cross-field errors are
 * still reported with the right line, suggestion and position.
 */
#include "test_config_util.h"

#define NODES  200000
#define LOADED 100000
#define MERGED 40000

/* A growing text buffer. */
typedef struct text {
    char *p;
    size_t len, cap;
} text_t;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
add(text_t *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        assert_true(n >= 0);
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        t->cap = t->cap ? t->cap * 2 : 1 << 20;
        t->p = realloc(t->p, t->cap);
        assert_non_null(t->p);
    }
}

static int line_no; /* the line the next add_line writes */

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int
add_line(text_t *t, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    add(t, "%s\n", line);
    return line_no++;
}

static void test_many_nodes_mapping_form(void **state)
{
    (void)state;
    env_clear();
    text_t t = {0};
    line_no = 1;
    add_line(&t, "nodes:");
    int dup_line = 0, pool_line = 0;
    for (int i = 0; i < NODES; i++) {
        if (i == 150000) {
            /* The first node again, in the middle of the file. */
            dup_line = add_line(&t, "  n000000: { host: again }");
        }
        if (i == 100000)
            pool_line =
                add_line(&t, "  n%06d: { pool: { min: 5, max: 2 } }", i);
        else
            add_line(&t, "  n%06d: { host: h%d, port: 5432 }", i, i % 100);
    }
    int last_dup_line = add_line(&t, "  n%06d: { host: last }", NODES - 1);
    add_line(&t, "clusters:");
    int cluster_line = add_line(&t, "  c: [n%06d, n1999999, n000007, n%06d]",
                                NODES - 1, NODES - 1);

    rm_config_t *cfg = NULL;
    rm_diags_t d;
    rm_diags_init(&d);
    assert_int_equal(
        rm_config_parse_buffer(t.p, t.len, "t.yaml", fake_getenv, &cfg, &d),
        PGCM_EINVAL);
    char want[512];
    snprintf(want, sizeof(want),
             "t.yaml:%d:3: nodes.n000000: duplicate node 'n000000' (first "
             "defined at 2:3); node ids must be unique: rename one",
             dup_line);
    assert_diag(&d, want);
    snprintf(want, sizeof(want),
             "t.yaml:%d:3: nodes.n%06d: duplicate node 'n%06d' (first "
             "defined at %d:3); node ids must be unique: rename one",
             last_dup_line, NODES - 1, NODES - 1, last_dup_line - 1);
    assert_diag(&d, want);
    snprintf(want, sizeof(want),
             "t.yaml:%d:35: nodes.n100000.pool.max: pool min (5) is greater "
             "than max (2); lower min or raise max",
             pool_line);
    assert_diag(&d, want);
    snprintf(want, sizeof(want),
             "t.yaml:%d:16: clusters.c[1]: unknown node 'n1999999'; did you "
             "mean 'n199999'?",
             cluster_line);
    assert_diag(&d, want);
    snprintf(want, sizeof(want),
             "t.yaml:%d:35: clusters.c[3]: node 'n199999' is listed twice "
             "(first at %d:7); remove one",
             cluster_line, cluster_line);
    assert_diag(&d, want);
    if (d.errors != 5)
        dump_diags(&d);
    assert_int_equal(d.errors, 5);
    assert_null(cfg);
    rm_diags_free(&d);
    free(t.p);
}

static void test_many_nodes_load(void **state)
{
    (void)state;
    env_clear();
    text_t t = {0};
    add(&t, "defaults: { port: 6432 }\nnodes:\n");
    for (int i = 0; i < LOADED; i++)
        add(&t, "  - { id: n%06d, host: h%d }\n", i, i % 100);
    add(&t, "clusters:\n  odd: [");
    for (int i = 1; i < LOADED; i += 2)
        add(&t, "%sn%06d", i > 1 ? ", " : "", i);
    add(&t, "]\n  all: { default: true, nodes: [");
    for (int i = 0; i < LOADED; i++)
        add(&t, "%sn%06d", i > 0 ? ", " : "", i);
    add(&t, "] }\n");

    rm_config_t *cfg = NULL;
    rm_diags_t d;
    rm_diags_init(&d);
    int rc =
        rm_config_parse_buffer(t.p, t.len, "t.yaml", fake_getenv, &cfg, &d);
    if (rc != PGCM_OK)
        dump_diags(&d);
    assert_int_equal(rc, PGCM_OK);
    rm_diags_free(&d);
    assert_int_equal(cfg->node_count, LOADED);
    assert_string_equal(cfg->nodes[12345].id, "n012345");
    assert_int_equal(cfg->nodes[12345].port, 6432);
    const pgcm_node_spec_t *n = rm_config_find_node(cfg, "n099999");
    assert_ptr_equal(n, &cfg->nodes[LOADED - 1]);
    assert_null(rm_config_find_node(cfg, "n100000"));

    const pgcm_node_spec_t *specs;
    size_t count;
    assert_int_equal(rm_config_cluster_nodes(cfg, "odd", &specs, &count, NULL),
                     PGCM_OK);
    assert_int_equal(count, LOADED / 2);
    assert_string_equal(specs[0].id, "n000001");
    assert_string_equal(specs[count - 1].id, "n099999");
    assert_string_equal(specs[1000].host, "h1");
    assert_int_equal(rm_config_cluster_nodes(cfg, NULL, &specs, &count, NULL),
                     PGCM_OK);
    assert_int_equal(count, LOADED);
    assert_string_equal(specs[LOADED - 1].id, "n099999");

    /* An override reaches every node and every cluster's copy. */
    rm_overrides_t ov = {.port = 7000};
    assert_int_equal(rm_config_apply_overrides(cfg, &ov, NULL), PGCM_OK);
    assert_int_equal(rm_config_find_node(cfg, "n000002")->port, 7000);
    assert_int_equal(rm_config_cluster_nodes(cfg, "odd", &specs, &count, NULL),
                     PGCM_OK);
    assert_int_equal(specs[count - 1].port, 7000);

    rm_config_free(cfg);
    free(t.p);
}

/* Aliases and merge keys by the ten thousand (merges are capped at
 * 100,000 merged keys a file). */
static void test_many_anchors(void **state)
{
    (void)state;
    env_clear();
    text_t t = {0};
    add(&t, "x-base: &base { port: 6000, user: mon }\nnodes:\n");
    for (int i = 0; i < MERGED; i++)
        add(&t, "  n%06d: &a%d { <<: *base, host: h%d }\n", i, i, i % 10);
    add(&t, "  last: *a%d\n", MERGED - 1);
    rm_config_t *cfg = load_ok(t.p);
    assert_int_equal(cfg->node_count, MERGED + 1);
    assert_int_equal(cfg->nodes[MERGED].port, 6000);
    assert_string_equal(cfg->nodes[MERGED].host, "h9");
    assert_string_equal(cfg->nodes[777].user, "mon");
    rm_config_free(cfg);
    free(t.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_nodes_mapping_form),
        cmocka_unit_test(test_many_nodes_load),
        cmocka_unit_test(test_many_anchors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
