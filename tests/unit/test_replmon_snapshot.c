/* SPDX-License-Identifier: MIT */
/*
 * test_replmon_snapshot.c - the pure parts of the snapshot model built
 * directly, without a server or a PGresult: what a section that cannot be
 * read says (the view, the missing privilege, the GRANT that fixes it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"

static void explain(const char *error, const char *role, rm_section_t *sec)
{
    memset(sec, 0, sizeof(*sec));
    sec->state = RM_SECTION_NO_PERMISSION;
    snprintf(sec->error, sizeof(sec->error), "%s", error);
    rm_section_explain(sec, role);
}

static void test_explain_permission_errors(void **state)
{
    rm_section_t sec;

    (void)state;
    /* 11+ says table, 10 says relation. */
    explain("node 'sub': ERROR: permission denied for table pg_subscription",
            "mon", &sec);
    assert_string_equal(sec.view, "pg_subscription");
    assert_string_equal(sec.privilege, "SELECT on pg_subscription");
    assert_string_equal(sec.grant, "GRANT SELECT ON pg_subscription TO mon");
    explain("ERROR:  permission denied for relation pg_authid", "mon", &sec);
    assert_string_equal(sec.grant, "GRANT SELECT ON pg_authid TO mon");
    explain("permission denied for view v", "mon", &sec);
    assert_string_equal(sec.grant, "GRANT SELECT ON v TO mon");
    explain("permission denied for function pg_ls_waldir", "Mon\"itor", &sec);
    assert_string_equal(sec.privilege, "EXECUTE on pg_ls_waldir");
    assert_string_equal(sec.grant,
                        "GRANT EXECUTE ON FUNCTION pg_ls_waldir TO "
                        "\"Mon\"\"itor\"");
    explain("permission denied for schema app", "m2", &sec);
    assert_string_equal(sec.grant, "GRANT USAGE ON SCHEMA app TO m2");
    /* Unknown role: a placeholder, never an empty name. */
    explain("permission denied for table t", "", &sec);
    assert_string_equal(sec.grant, "GRANT SELECT ON t TO <monitoring role>");
    /* Not about a privilege: nothing to grant. */
    explain("canceling statement due to statement timeout", "mon", &sec);
    assert_string_equal(sec.view, "");
    assert_string_equal(sec.privilege, "");
    assert_string_equal(sec.grant, "");
}

static void test_masked_stats_view(void **state)
{
    rm_section_t sec;

    (void)state;
    memset(&sec, 0, sizeof(sec));
    rm_section_needs(&sec, "pg_stat_replication", "pg_read_all_stats",
                     "watcher");
    assert_int_equal(sec.state, RM_SECTION_NO_PERMISSION);
    assert_string_equal(sec.view, "pg_stat_replication");
    assert_string_equal(sec.privilege, "pg_read_all_stats");
    assert_string_equal(sec.grant, "GRANT pg_monitor TO watcher");
    assert_non_null(strstr(sec.error, "pg_stat_replication"));
    assert_string_equal(rm_section_state_name(RM_SECTION_NOT_WANTED),
                        "not_wanted");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_explain_permission_errors),
        cmocka_unit_test(test_masked_stats_view),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
