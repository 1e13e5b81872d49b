/* SPDX-License-Identifier: MIT */
/*
 * test_replmon_serve.c - the pure parts of replmon serve: histogram
 * buckets and the parsers of libpgcm's acquire and close records (with the
 * library's exact message formats), the node -> histograms table, the
 * Prometheus text rendering (families grouped, HELP and TYPE once, label
 * escaping, cumulative buckets, replication series), and the /node/ID
 * verdict with ?max_lag and ?max_lag_seconds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/histogram.h"
#include "serve/metrics.h"
#include "serve/nodecheck.h"

/* ---- histograms ---------------------------------------------------------- */

static pgcm_log_record_t record(pgcm_log_level_t level, const char *event,
                                const char *message)
{
    pgcm_log_record_t r;

    memset(&r, 0, sizeof(r));
    r.level = level;
    r.event = event;
    r.message = message;
    r.node_id = "n1";
    r.sqlstate = "";
    return r;
}

static pgcm_log_record_t timed(pgcm_log_level_t level, const char *event,
                               const char *message, int64_t duration_us)
{
    pgcm_log_record_t r = record(level, event, message);
    r.duration_us = duration_us;
    return r;
}

static void test_histogram_parsers(void **state)
{
    pgcm_log_record_t r;
    double v = -1;

    (void)state;
    /* pool.c: the wait in duration_us */
    r = timed(PGCM_LOG_DEBUG, "connection_acquired", "after 1234 us", 1234);
    assert_int_equal(rm_histo_parse_acquire(&r, &v), 1);
    assert_true(fabs(v - 0.001234) < 1e-12);
    r = timed(PGCM_LOG_DEBUG, "connection_acquired", "after 0 us", 0);
    assert_int_equal(rm_histo_parse_acquire(&r, &v), 1);
    assert_true(fabs(v) < 1e-12);
    r = timed(PGCM_LOG_DEBUG, "connection_acquired", "no duration", -1);
    assert_int_equal(rm_histo_parse_acquire(&r, &v), 0);
    r = timed(PGCM_LOG_DEBUG, "connection_released",
              "statement done after 12 us", 12);
    assert_int_equal(rm_histo_parse_acquire(&r, &v), 0);

    /* conn.c: the age in duration_us, at info (closed) or warn (discarded) */
    r = timed(PGCM_LOG_INFO, "connection_closed",
              "idle timeout (open 61234 ms)", 61234000);
    assert_int_equal(rm_histo_parse_lifetime(&r, &v), 1);
    assert_true(fabs(v - 61.234) < 1e-9);
    r = timed(PGCM_LOG_WARN, "connection_discarded",
              "cancel not confirmed (open 5 ms)", 5000);
    assert_int_equal(rm_histo_parse_lifetime(&r, &v), 1);
    assert_true(fabs(v - 0.005) < 1e-12);
    /* A connect that never finished is closed at debug: not a lifetime. */
    r = timed(PGCM_LOG_DEBUG, "connection_closed",
              "connection refused (open 3 ms)", 3000);
    assert_int_equal(rm_histo_parse_lifetime(&r, &v), 0);
    r = timed(PGCM_LOG_INFO, "connection_opened", "connected in 3 ms", 3000);
    assert_int_equal(rm_histo_parse_lifetime(&r, &v), 0);
    r = timed(PGCM_LOG_INFO, "connection_closed", "closed", -1);
    assert_int_equal(rm_histo_parse_lifetime(&r, &v), 0);
}

static void test_histogram_buckets(void **state)
{
    rm_histogram_t h;

    (void)state;
    memset(&h, 0, sizeof(h));
    rm_histogram_observe(&h, rm_acquire_bounds, rm_acquire_nbounds, 0.00005);
    rm_histogram_observe(&h, rm_acquire_bounds, rm_acquire_nbounds, 0.0001);
    rm_histogram_observe(&h, rm_acquire_bounds, rm_acquire_nbounds, 0.003);
    rm_histogram_observe(&h, rm_acquire_bounds, rm_acquire_nbounds, 60);
    assert_int_equal(h.buckets[0], 2); /* le 0.0001, bound included */
    assert_int_equal(h.buckets[5], 1); /* le 0.005 */
    assert_int_equal(h.count, 4);      /* 60 s only in +Inf */
    assert_true(fabs(h.sum - 60.00315) < 1e-9);
}

static void test_histos_table(void **state)
{
    rm_histos_t *hs = rm_histos_new();
    rm_histogram_t a, l;
    pgcm_log_record_t r;
    char id[16];
    const char *keep[] = {"n7"};

    (void)state;
    assert_non_null(hs);
    for (int i = 0; i < 600; i++) { /* past the first table size */
        snprintf(id, sizeof(id), "n%d", i);
        r = timed(PGCM_LOG_DEBUG, "connection_acquired", "after 100 us", 100);
        r.node_id = id;
        rm_histos_record(hs, &r);
        if (i == 7) {
            r = timed(PGCM_LOG_INFO, "connection_closed",
                      "lifetime reached (open 1800000 ms)", 1800000000LL);
            r.node_id = id;
            rm_histos_record(hs, &r);
            rm_histos_record(hs, &r);
        }
    }
    r = record(PGCM_LOG_INFO, "state_changed", "healthy -> unhealthy");
    rm_histos_record(hs, &r);
    rm_histos_get(hs, "n7", &a, &l);
    assert_int_equal(a.count, 1);
    assert_int_equal(a.buckets[0], 1);
    assert_int_equal(l.count, 2);
    assert_true(fabs(l.sum - 3600) < 1e-9);
    rm_histos_get(hs, "n599", &a, &l);
    assert_int_equal(a.count, 1);
    rm_histos_forget(hs, keep, 1);
    rm_histos_get(hs, "n599", &a, &l);
    assert_int_equal(a.count, 0);
    rm_histos_get(hs, "n7", &a, &l);
    assert_int_equal(l.count, 2);
    rm_histos_free(hs);
}

/* ---- metrics ------------------------------------------------------------- */

static rm_slot_t slots[2];
static rm_subscription_t subs[1];
static rm_standby_t standbys[1];
static rm_node_t facts[2];

static void fill_facts(void)
{
    memset(facts, 0, sizeof(facts));
    memset(slots, 0, sizeof(slots));
    memset(subs, 0, sizeof(subs));
    memset(standbys, 0, sizeof(standbys));
    snprintf(facts[0].id, sizeof(facts[0].id), "pub");
    facts[0].reachable = facts[0].have_facts = 1;
    facts[0].server_version = 150004;
    facts[0].publications = 1;
    facts[0].logical_slots = 1;
    slots[0].name = "sub_slot";
    slots[0].type = "logical";
    slots[0].active = 0;
    slots[0].retained_bytes = 4096;
    slots[0].wal_status = "unreserved";
    slots[0].safe_wal_size = RM_NONE;
    slots[1].name = "phys";
    slots[1].type = "physical";
    slots[1].active = 1;
    slots[1].retained_bytes = 0;
    slots[1].wal_status = NULL;
    slots[1].safe_wal_size = 1024;
    facts[0].slots = slots;
    facts[0].nslots = 2;
    standbys[0].application_name = "standby1";
    standbys[0].replay_bytes = 0;
    standbys[0].replay_lag_seconds = NAN;
    facts[0].standbys = standbys;
    facts[0].nstandbys = 1;

    snprintf(facts[1].id, sizeof(facts[1].id), "we\"ird\\node");
    facts[1].reachable = facts[1].have_facts = 1;
    facts[1].server_version = 100023;
    facts[1].subscription_count = 1;
    subs[0].name = "s";
    subs[0].enabled = 1;
    subs[0].worker_pid = 42;
    subs[0].tables_total = subs[0].tables_ready = RM_NONE;
    snprintf(subs[0].publisher, sizeof(subs[0].publisher), "pub");
    subs[0].lag_bytes = 2 * 1024 * 1024;
    subs[0].lag_seconds = 1.5;
    subs[0].last_msg_age_seconds = NAN;
    subs[0].apply_error_count = RM_NONE;
    subs[0].sync_error_count = 3;
    facts[1].subs = subs;
    facts[1].nsubs = 1;
    facts[1].receiver.lag_bytes = RM_NONE;
}

static char *render(rm_metrics_node_t *nodes, size_t n)
{
    rm_metrics_process_t p;
    char *out = NULL;
    size_t len = 0;

    memset(&p, 0, sizeof(p));
    p.version = "9.9.9";
    p.shard = 2;
    p.shards = 3;
    p.last_round_seconds = 0.012;
    p.last_round_timestamp = 1704890096.789;
    p.last_reload_ok = 1;
    p.event_log_enabled = 1;
    p.event_log_dropped = 5;
    assert_int_equal(rm_metrics_render(&p, nodes, n, &out, &len), 0);
    assert_int_equal(strlen(out), len);
    return out;
}

static void assert_line(const char *text, const char *line)
{
    char want[512];

    snprintf(want, sizeof(want), "\n%s\n", line);
    if (strstr(text, want) == NULL)
        fail_msg("missing line: %s", line);
}

static void test_metrics_render(void **state)
{
    rm_metrics_node_t nodes[3];
    char *text;

    (void)state;
    fill_facts();
    memset(nodes, 0, sizeof(nodes));
    nodes[0].id = "pub";
    nodes[0].have_health = nodes[0].have_stats = 1;
    nodes[0].health.state = PGCM_NODE_HEALTHY;
    nodes[0].health.last_ok_ms = 1;
    nodes[0].health.latency_us = 1500;
    nodes[0].stats.idle = 2;
    nodes[0].stats.active = 1;
    nodes[0].stats.max = 10;
    nodes[0].stats.queries = 77;
    nodes[0].stats.connect_errors = 2;
    nodes[0].stats.probe_failures = 4;
    nodes[0].facts = &facts[0];
    nodes[0].status = 2;
    rm_histogram_observe(&nodes[0].acquire, rm_acquire_bounds,
                         rm_acquire_nbounds, 0.0002);
    rm_histogram_observe(&nodes[0].acquire, rm_acquire_bounds,
                         rm_acquire_nbounds, 0.02);
    nodes[1].id = facts[1].id;
    nodes[1].have_health = 1;
    nodes[1].health.state = PGCM_NODE_DEGRADED;
    nodes[1].facts = &facts[1];
    nodes[1].status = 1;
    nodes[2].id = "gone";
    nodes[2].status = -1; /* not known to the manager, no round yet */

    text = render(nodes, 3);
    assert_line(text, "replmon_build_info{version=\"9.9.9\"} 1");
    assert_line(text, "replmon_shard_info{shard=\"2\",shards=\"3\"} 1");
    assert_line(text, "replmon_nodes 3");
    assert_line(text, "replmon_collect_duration_seconds 0.012");
    assert_line(text, "replmon_collect_timestamp_seconds 1704890096.789");
    assert_line(text, "replmon_event_log_dropped_total 5");
    assert_line(text, "replmon_node_up{node=\"pub\"} 1");
    assert_line(text, "replmon_node_up{node=\"we\\\"ird\\\\node\"} 1");
    assert_line(text, "replmon_node_up{node=\"gone\"} 0");
    assert_line(text, "replmon_node_state{node=\"pub\",state=\"healthy\"} 1");
    assert_line(text, "replmon_node_state{node=\"pub\",state=\"unhealthy\"} 0");
    assert_line(text,
                "replmon_node_state{node=\"gone\",state=\"disconnected\"} 1");
    assert_line(text, "replmon_node_status{node=\"pub\"} 2");
    assert_null(strstr(text, "replmon_node_status{node=\"gone\"}"));
    assert_line(text, "replmon_node_info{node=\"pub\",server_version=\"15.4\","
                      "roles=\"primary,publisher\"} 1");
    assert_line(text, "replmon_probe_latency_seconds{node=\"pub\"} 0.0015");
    assert_line(text,
                "replmon_pool_connections{node=\"pub\",state=\"idle\"} 2");
    assert_line(text,
                "replmon_pool_connections{node=\"pub\",state=\"active\"} 1");
    assert_line(text, "replmon_queries_total{node=\"pub\"} 77");
    assert_line(text, "replmon_connection_errors_total{node=\"pub\"} 2");
    assert_line(text, "replmon_health_check_failures_total{node=\"pub\"} 4");
    /* Cumulative buckets, +Inf equal to the count. */
    assert_line(text, "replmon_connection_acquire_seconds_bucket{node=\"pub\","
                      "le=\"0.0001\"} 0");
    assert_line(text, "replmon_connection_acquire_seconds_bucket{node=\"pub\","
                      "le=\"0.00025\"} 1");
    assert_line(text, "replmon_connection_acquire_seconds_bucket{node=\"pub\","
                      "le=\"0.025\"} 2");
    assert_line(text, "replmon_connection_acquire_seconds_bucket{node=\"pub\","
                      "le=\"+Inf\"} 2");
    assert_line(text,
                "replmon_connection_acquire_seconds_count{node=\"pub\"} 2");
    assert_line(text,
                "replmon_connection_lifetime_seconds_count{node=\"gone\"} 0");
    /* Replication. */
    assert_line(text, "replmon_slot_retained_bytes{node=\"pub\",slot=\"sub_"
                      "slot\",slot_type=\"logical\"} 4096");
    assert_line(text, "replmon_slot_active{node=\"pub\",slot=\"sub_slot\","
                      "slot_type=\"logical\"} 0");
    assert_line(text, "replmon_slot_wal_status{node=\"pub\",slot=\"sub_slot\","
                      "wal_status=\"unreserved\"} 1");
    assert_line(text, "replmon_slot_wal_status{node=\"pub\",slot=\"sub_slot\","
                      "wal_status=\"reserved\"} 0");
    assert_null(strstr(text, "replmon_slot_wal_status{node=\"pub\",slot="
                             "\"phys\""));
    assert_line(text, "replmon_slot_safe_wal_size_bytes{node=\"pub\",slot="
                      "\"phys\",slot_type=\"physical\"} 1024");
    assert_line(text, "replmon_subscription_lag_bytes{node=\"we\\\"ird\\\\"
                      "node\",subscription=\"s\",kind=\"native\",upstream="
                      "\"pub\"} 2097152");
    assert_line(text, "replmon_subscription_lag_seconds{node=\"we\\\"ird\\\\"
                      "node\",subscription=\"s\",kind=\"native\",upstream="
                      "\"pub\"} 1.5");
    assert_line(text, "replmon_subscription_state{node=\"we\\\"ird\\\\node\","
                      "subscription=\"s\",kind=\"native\",state="
                      "\"streaming\"} 1");
    assert_line(text, "replmon_subscription_sync_errors_total{node=\"we\\\""
                      "ird\\\\node\",subscription=\"s\",kind=\"native\","
                      "upstream=\"pub\"} 3");
    assert_line(text, "replmon_standby_lag_bytes{node=\"pub\",downstream="
                      "\"standby1\"} 0");
    assert_line(text, "replmon_standby_lag_seconds{node=\"pub\",downstream="
                      "\"standby1\"} 0");
    assert_line(text, "replmon_cross_node_lag_bytes{upstream=\"pub\","
                      "downstream=\"we\\\"ird\\\\node\",type=\"logical\","
                      "subscription=\"s\"} 2097152");

    /* Every family: HELP then TYPE once, all its samples together. */
    {
        char *copy = strdup(text), *save = NULL, *line;
        char names[128][96];
        size_t nnames = 0, i;
        char current[96] = "";

        for (line = strtok_r(copy, "\n", &save); line != NULL;
             line = strtok_r(NULL, "\n", &save)) {
            char name[96];

            if (strncmp(line, "# HELP ", 7) == 0) {
                sscanf(line + 7, "%95s", name);
                for (i = 0; i < nnames; i++)
                    assert_string_not_equal(names[i], name);
                assert_true(nnames < 128);
                snprintf(names[nnames++], sizeof(names[0]), "%s", name);
                snprintf(current, sizeof(current), "%s", name);
                continue;
            }
            if (strncmp(line, "# TYPE ", 7) == 0) {
                sscanf(line + 7, "%95s", name);
                assert_string_equal(name, current);
                continue;
            }
            /* A sample belongs to the current family. */
            assert_true(strncmp(line, current, strlen(current)) == 0);
        }
        free(copy);
    }
    free(text);
}

/* ---- /node/ID ------------------------------------------------------------ */

static void test_node_check_params(void **state)
{
    rm_node_check_params_t p;
    char why[256];

    (void)state;
    assert_int_equal(rm_node_check_parse(NULL, NULL, &p, why, sizeof(why)), 0);
    assert_true(p.max_lag_bytes == -1 && isnan(p.max_lag_seconds));
    assert_int_equal(rm_node_check_parse("16MB", "30", &p, why, sizeof(why)),
                     0);
    assert_int_equal(p.max_lag_bytes, 16 * 1024 * 1024);
    assert_true(p.max_lag_seconds == 30.0);
    assert_int_equal(rm_node_check_parse("0", "1m30s", &p, why, sizeof(why)),
                     0);
    assert_int_equal(p.max_lag_bytes, 0);
    assert_true(p.max_lag_seconds == 90.0);
    assert_int_equal(rm_node_check_parse("lots", NULL, &p, why, sizeof(why)),
                     -1);
    assert_string_equal(why, "max_lag=lots: not a size; write e.g. 512MB, 1GB "
                             "or 1TB");
    assert_int_equal(rm_node_check_parse(NULL, "soon", &p, why, sizeof(why)),
                     -1);
    assert_non_null(strstr(why, "max_lag_seconds=soon: "));
}

static int check(const pgcm_health_t *h, const rm_node_t *f,
                 const char *max_lag, const char *max_secs, char *reason,
                 size_t len)
{
    rm_node_check_params_t p;
    char why[256];
    json_t *body = NULL;
    int status;

    assert_int_equal(
        rm_node_check_parse(max_lag, max_secs, &p, why, sizeof(why)), 0);
    status = rm_node_check("x", h, f, &p, &body);
    assert_non_null(body);
    assert_int_equal(json_integer_value(json_object_get(body, "status")),
                     status);
    snprintf(reason, len, "%s",
             json_string_value(json_object_get(body, "reason")));
    json_decref(body);
    return status;
}

static void test_node_check(void **state)
{
    pgcm_health_t h;
    rm_node_t standby;
    char reason[256];

    (void)state;
    fill_facts();
    memset(&h, 0, sizeof(h));
    h.state = PGCM_NODE_HEALTHY;
    /* The subscriber lags 2 MB and 1.5 s. */
    assert_int_equal(check(&h, &facts[1], NULL, NULL, reason, sizeof(reason)),
                     200);
    assert_int_equal(check(&h, &facts[1], "16MB", "30", reason, sizeof(reason)),
                     200);
    assert_int_equal(check(&h, &facts[1], "1MB", NULL, reason, sizeof(reason)),
                     503);
    assert_string_equal(reason, "replication lags 2.0 MB (max_lag 1.0 MB)");
    assert_int_equal(check(&h, &facts[1], NULL, "1", reason, sizeof(reason)),
                     503);
    assert_string_equal(reason,
                        "replication lags 1.5 s (max_lag_seconds 1.0 s)");
    /* A publisher has no lag: max_lag never fails it. */
    assert_int_equal(check(&h, &facts[0], "0", "0", reason, sizeof(reason)),
                     200);
    /* Degraded still answers; unhealthy and unknown do not. */
    h.state = PGCM_NODE_DEGRADED;
    assert_int_equal(check(&h, &facts[0], NULL, NULL, reason, sizeof(reason)),
                     200);
    h.state = PGCM_NODE_UNHEALTHY;
    snprintf(h.last_error, sizeof(h.last_error), "connection refused");
    assert_int_equal(check(&h, &facts[0], NULL, NULL, reason, sizeof(reason)),
                     503);
    assert_string_equal(reason, "unhealthy: connection refused");
    assert_int_equal(check(NULL, NULL, NULL, NULL, reason, sizeof(reason)),
                     503);
    assert_string_equal(reason, "the node is not monitored");
    /* A subscriber whose publisher is not monitored: lag unknown. */
    h.state = PGCM_NODE_HEALTHY;
    subs[0].lag_bytes = RM_NONE;
    assert_int_equal(check(&h, &facts[1], "1MB", NULL, reason, sizeof(reason)),
                     200);
    assert_non_null(strstr(reason, "could not be measured"));

    /* A standby: behind by bytes, or caught up with an old last commit. */
    memset(&standby, 0, sizeof(standby));
    standby.reachable = standby.have_facts = 1;
    standby.in_recovery = 1;
    standby.receiver.present = 1;
    standby.receiver.lag_bytes = 0;
    standby.receiver.replay_backlog_bytes = 0;
    standby.receiver.replay_delay_seconds = 3600; /* idle primary */
    assert_int_equal(check(&h, &standby, "1kB", "30", reason, sizeof(reason)),
                     200);
    standby.receiver.lag_bytes = 8192;
    assert_int_equal(check(&h, &standby, NULL, "30", reason, sizeof(reason)),
                     503);
    assert_int_equal(check(&h, &standby, "1kB", NULL, reason, sizeof(reason)),
                     503);
    assert_string_equal(reason, "replication lags 8.0 kB (max_lag 1.0 kB)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram_parsers),
        cmocka_unit_test(test_histogram_buckets),
        cmocka_unit_test(test_histos_table),
        cmocka_unit_test(test_metrics_render),
        cmocka_unit_test(test_node_check_params),
        cmocka_unit_test(test_node_check),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
