/* SPDX-License-Identifier: MIT */
/*
 * fixture.h - cmocka helpers for the integration tests: start real local
 * PostgreSQL servers (localpg), describe them as pgcm node specs, start and
 * track managers so a failed assertion leaves none behind, prove that no
 * connection of ours is left, and poll for conditions with a deadline.
 *
 * Include <stdarg.h>, <stddef.h>, <stdint.h>, <setjmp.h> and <cmocka.h>
 * first, as cmocka requires. Every fixture_* function that can fail fails
 * the current test (cmocka's fail_msg) with a one-line reason; a missing
 * PostgreSQL installation is a failure, never a skip.
 *
 * Usage:
 *
 *     localpg_server_t **pg = fixture_start(3, NULL);
 *     pgcm_node_spec_t spec;
 *     fixture_node_spec(pg[0], "n0", &spec);
 *     pgcm_manager_t *mgr = fixture_manager_start(NULL, &spec, 1);
 *     ... pgcm calls ...
 *     fixture_manager_free(mgr);
 *     fixture_assert_no_connections(pg, 3, fixture_app_name());
 *   and in the teardowns:
 *     fixture_manager_free_all();   (per test: what a failure left)
 *     fixture_stop_all();           (per group)
 *
 * Most groups share one set of servers and end every test the same way:
 *
 *     static int group_setup(void **state)
 *     {
 *         (void)state;
 *         pg = fixture_start_nodes(3, NULL, ids, specs);
 *         return 0;
 *     }
 *     static int test_teardown(void **state)
 *     {
 *         (void)state;
 *         fixture_test_end(pg, 3);
 *         return 0;
 *     }
 *     ... cmocka_run_group_tests(tests, group_setup, fixture_group_teardown);
 */
#ifndef FIXTURE_H
#define FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include <pgcm.h>

#include "faultproxy.h"
#include "localpg.h"

#ifdef __cplusplus
extern "C" {
#endif

/* fixture_start - start n servers at once (localpg_start_many) with opts
 * (NULL: defaults). Without opts->bindir, REPLMON_TEST_PG_MAJOR (e.g. 10)
 * picks the version (fixture_pg_bindir), else the default one (15).
 * Returns an array of n servers, owned by the fixture until
 * fixture_stop_all(). Fails the test if they cannot start. */
localpg_server_t **fixture_start(int n, const localpg_options_t *opts);

/* The PostgreSQL majors the version matrix covers, oldest first, and how
 * many there are. */
extern const int fixture_pg_majors[];
extern const int fixture_pg_major_count;

/* fixture_pg_bindir - the bin directory of PostgreSQL `major`: the default
 * localpg one when it is that version (Debian's 15), else
 * <cache>/<major>/native/bin as scripts/pg-versions installs it, the cache
 * being $REPLMON_PG_CACHE, /var/cache/replmon/pg or
 * ${XDG_CACHE_HOME:-$HOME/.cache}/replmon/pg. NULL when not installed. */
const char *fixture_pg_bindir(int major);

/* fixture_require_pg - fixture_pg_bindir(major), or, when it is missing,
 * fail the test if REPLMON_PG_VERSIONS_REQUIRED is set (scripts/test sets
 * it) and skip it otherwise, saying to run scripts/pg-versions. */
const char *fixture_require_pg(int major);

/* fixture_test_major - REPLMON_TEST_PG_MAJOR as a number, 0 when unset. */
int fixture_test_major(void);

/* fixture_start_nodes - fixture_start(n, opts), then fixture_node_spec()
 * of server i into specs[i] with id ids[i] (borrowed, as there). */
localpg_server_t **fixture_start_nodes(int n, const localpg_options_t *opts,
                                       const char *const *ids,
                                       pgcm_node_spec_t *specs);

/* fixture_stop_all - destroy every server fixture_start() started (SIGKILL
 * and remove; fast). Safe to call more than once. */
void fixture_stop_all(void);

/* fixture_group_teardown - a cmocka group teardown: fixture_stop_all(). */
int fixture_group_teardown(void **state);

/* fixture_manager_teardown - a cmocka test teardown:
 * fixture_manager_free_all(). */
int fixture_manager_teardown(void **state);

/* fixture_test_end - the end of a test on servers[0..n): free every
 * tracked manager (fixture_manager_free_all), restart a server the test
 * killed (failing the test with localpg's reason if it cannot), then
 * fixture_assert_no_connections(servers, n, NULL). */
void fixture_test_end(localpg_server_t *const *servers, int n);

/* fixture_app_name - "pgcm_test_<pid>": the application_name of every spec
 * fixture_node_spec() fills, unique to this test process. */
const char *fixture_app_name(void);

/* fixture_node_spec - pgcm_node_spec_init(spec), then host 127.0.0.1, the
 * server's port, user and database postgres, its password if any, and
 * fixture_app_name(). id is borrowed (keep it alive while spec is used). */
void fixture_node_spec(const localpg_server_t *s, const char *id,
                       pgcm_node_spec_t *spec);

/* fixture_manager_new - pgcm_manager_new(opts) (NULL: defaults), failing
 * the test on error. The manager is tracked until fixture_manager_free(). */
pgcm_manager_t *fixture_manager_new(const pgcm_options_t *opts);

/* fixture_manager_start - fixture_manager_new(opts), then
 * pgcm_manager_start with specs[0..count) and a 5 s wait for the first
 * attempts; fails the test with the library's message on error. */
pgcm_manager_t *fixture_manager_start(const pgcm_options_t *opts,
                                      const pgcm_node_spec_t *specs,
                                      size_t count);

/* fixture_manager_free - pgcm_manager_free(mgr) and stop tracking it.
 * NULL is ok. */
void fixture_manager_free(pgcm_manager_t *mgr);

/* fixture_manager_free_all - free every tracked manager: what a failed
 * assertion left behind, so that one failure does not cascade. Call it
 * first in a test teardown. */
void fixture_manager_free_all(void);

/* fixture_assert_no_connections - poll pg_stat_activity on each server for
 * up to 3 s until no backend has application_name app_name (NULL:
 * fixture_app_name()); fail the test with the counts otherwise. Servers that
 * are not running are skipped; thaw frozen ones first. */
void fixture_assert_no_connections(localpg_server_t *const *servers, int n,
                                   const char *app_name);

/* fixture_exec - localpg_exec on the postgres database; fails the test on
 * error. Returns the first column of the first row (malloc'd) or NULL. */
char *fixture_exec(localpg_server_t *s, const char *sql);

/* fixture_assert_value - run sql on s (fixture_exec); fail the test
 * unless its first value is want, saying what it was. */
void fixture_assert_value(localpg_server_t *s, const char *sql,
                          const char *want);

/* fixture_wait_value - run sql on s (fixture_exec) until its first value is
 * want, for up to timeout_ms; fail the test with the last value otherwise. */
void fixture_wait_value(localpg_server_t *s, const char *sql, const char *want,
                        int timeout_ms);

/* fixture_wait_active - poll fixture_count_active(s, like) for up to
 * timeout_ms until it is want; fail the test with the last count
 * otherwise. */
void fixture_wait_active(localpg_server_t *s, const char *like, int want,
                         int timeout_ms);

/* fixture_proxy_start - faultproxy_start(host, port, proxy), failing the
 * test with its message on error. Returns the proxy's port. */
int fixture_proxy_start(const char *host, int port, faultproxy_t **proxy);

/* fixture_log_count - how many lines of the server log contain needle
 * (e.g. "connection received: host=127.0.0.1"), or -1 on error. */
int fixture_log_count(const localpg_server_t *s, const char *needle);

/* fixture_count_active - how many backends with fixture_app_name() run a
 * statement whose text matches the SQL LIKE pattern `like` on s (-1 when
 * the count cannot be read). */
int fixture_count_active(localpg_server_t *s, const char *like);

/* fixture_now_ms - a monotonic clock in milliseconds. */
int64_t fixture_now_ms(void);

/* fixture_sleep_ms - sleep, even when interrupted by signals. */
void fixture_sleep_ms(int ms);

/* fixture_wait_for - call pred(user) every 10 ms until it returns non-zero
 * (then return 1) or timeout_ms passes (then return 0). */
int fixture_wait_for(int (*pred)(void *user), void *user, int timeout_ms);

/* fixture_try_connect - open a libpq connection (non-blocking, own
 * deadline: libpq's connect_timeout cannot go below 2 s) and close it.
 * Returns 1 if it connected, 0 if it failed (reason in err), -1 if it was
 * still pending after timeout_ms. */
int fixture_try_connect(const char *conninfo, int timeout_ms, char *err,
                        size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* FIXTURE_H */
