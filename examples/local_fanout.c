/* SPDX-License-Identifier: MIT */
/*
 * local_fanout.c - a short, complete libpgcm program: start three throwaway
 * PostgreSQL servers on 127.0.0.1, add them to a manager, run one query on
 * every node in parallel, print each node's result and its pool stats, then
 * shut down and remove the servers.
 *
 *   examples/local_fanout [NODES]     (default 3)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "localpg.h"
#include "pgcm.h"

#define MAX_NODES 16

static void print_event(const pgcm_event_t *ev, void *user)
{
    (void)user;
    if (ev->type == PGCM_EV_HEALTH_CHANGED)
        printf("event: %-8s %s -> %s\n", ev->node_id,
               pgcm_node_state_name(ev->old_state),
               pgcm_node_state_name(ev->new_state));
}

int main(int argc, char **argv)
{
    int count = argc > 1 ? atoi(argv[1]) : 3;
    if (count < 1 || count > MAX_NODES) {
        fprintf(stderr, "local_fanout: NODES must be 1-%d; try 3\n", MAX_NODES);
        return 64;
    }
    localpg_server_t *servers[MAX_NODES] = {0};
    pgcm_node_spec_t specs[MAX_NODES];
    char ids[MAX_NODES][16];
    char err[512];
    int status = 1;
    pgcm_manager_t *mgr = NULL;
    pgcm_error_t e;

    for (int i = 0; i < count; i++) {
        localpg_options_t o;
        localpg_options_init(&o);
        o.name = "example";
        servers[i] = localpg_start(&o, err, sizeof(err));
        if (servers[i] == NULL) {
            fprintf(stderr, "local_fanout: %s\n", err);
            goto out;
        }
        snprintf(ids[i], sizeof(ids[i]), "node%d", i + 1);
        pgcm_node_spec_init(&specs[i]);
        specs[i].id = ids[i];
        specs[i].host = localpg_host(servers[i]);
        specs[i].port = localpg_port(servers[i]);
        specs[i].user = "postgres";
        specs[i].database = "postgres";
        specs[i].pool.min = 2;
        printf("started %s on %s:%d\n", ids[i], specs[i].host, specs[i].port);
    }

    if (pgcm_manager_new(NULL, &mgr, &e) != PGCM_OK) {
        fprintf(stderr, "local_fanout: %s\n", e.message);
        goto out;
    }
    uint64_t sub;
    if (pgcm_subscribe(mgr, print_event, NULL, &sub) != PGCM_OK ||
        pgcm_manager_start(mgr, specs, (size_t)count, 5000, &e) != PGCM_OK) {
        fprintf(stderr, "local_fanout: %s\n", e.message);
        goto out;
    }

    const char *sql = "SELECT current_setting('port') AS port, "
                      "pg_backend_pid() AS backend_pid, $1::text AS greeting, "
                      "version() AS version";
    const char *params[] = {"hello from libpgcm"};
    pgcm_batch_t *batch = NULL;
    if (pgcm_query_many(mgr, NULL, sql, 1, params, NULL, &batch, &e) !=
        PGCM_OK) {
        fprintf(stderr, "local_fanout: %s\n", e.message);
        goto out;
    }
    printf("\nfan-out over %zu nodes: %zu succeeded in %.2f ms\n",
           pgcm_batch_count(batch), pgcm_batch_succeeded(batch),
           (double)pgcm_batch_elapsed_us(batch) / 1000.0);
    printf("%-8s %-6s %-8s %-12s %-20s %s\n", "node", "status", "port",
           "backend", "greeting", "elapsed");
    for (size_t i = 0; i < pgcm_batch_count(batch); i++) {
        const pgcm_result_t *r = pgcm_batch_result(batch, i);
        if (pgcm_result_status(r) != PGCM_OK) {
            printf("%-8s %-6s %s\n", pgcm_result_node_id(r), "error",
                   pgcm_result_error(r)->message);
            continue;
        }
        printf("%-8s %-6s %-8s %-12s %-20s %.2f ms\n", pgcm_result_node_id(r),
               "ok", pgcm_result_value(r, 0, 0), pgcm_result_value(r, 0, 1),
               pgcm_result_value(r, 0, 2),
               (double)pgcm_result_elapsed_us(r) / 1000.0);
    }
    pgcm_batch_free(batch);

    printf("\n%-8s %-9s %-10s %5s %5s %6s %7s %7s\n", "node", "state",
           "latency", "total", "idle", "active", "queries", "opened");
    for (int i = 0; i < count; i++) {
        pgcm_health_t h;
        pgcm_pool_stats_t s;
        if (pgcm_node_health(mgr, ids[i], &h) != PGCM_OK ||
            pgcm_node_stats(mgr, ids[i], &s) != PGCM_OK)
            continue;
        printf("%-8s %-9s %7.2f ms %5d %5d %6d %7llu %7llu\n", ids[i],
               pgcm_node_state_name(h.state), (double)h.latency_us / 1000.0,
               s.total, s.idle, s.active, (unsigned long long)s.queries,
               (unsigned long long)s.conns_opened);
    }
    status = 0;

out:
    pgcm_manager_free(mgr);
    for (int i = 0; i < count; i++) {
        if (servers[i] != NULL && status == 0)
            printf("%s: %d connections of ours left after shutdown\n", ids[i],
                   localpg_count_connections(servers[i], "replmon"));
        localpg_destroy(servers[i]);
    }
    return status;
}
