/* SPDX-License-Identifier: MIT */
/*
 * dashboard.h - `replmon watch` and the demo's screen: the UI thread's
 * loop. It polls the keyboard and a wake-up pipe (finished rounds,
 * libpgcm events, signals) with a timeout, starts the collection rounds
 * that are due, takes their results, and redraws; it never waits for a
 * node. Keys act at once; R and SIGHUP reload the configuration (applied
 * on a helper thread, since pgcm_manager_apply drains removed nodes);
 * r retries a node now (pgcm_node_retry); q, Ctrl-C and SIGTERM quit.
 * With a metrics address, every interval's data is also published to
 * replmon serve's endpoints (/metrics, /healthz, /readyz, /node/ID,
 * /status), answered on libmicrohttpd's threads.
 */
#ifndef REPLMON_TUI_DASHBOARD_H
#define REPLMON_TUI_DASHBOARD_H

#include <stdint.h>

#include "cli.h"
#include "tui/eventpane.h"

typedef struct rm_dashboard {
    /* The loaded configuration; its manager is created by the dashboard
     * (rm_session_start) and shut down before it returns. */
    rm_session_t *session;
    /* How to load the configuration again for R and SIGHUP. */
    const rm_common_t *common;
    const char *title; /* the header's cluster name; NULL: the session's */
    int64_t interval_ms;
    int query_timeout_ms;
    /* Called on the UI thread every tick_ms (the demo's write load). */
    void (*tick)(void *user, pgcm_manager_t *mgr);
    int64_t tick_ms;
    void *tick_user;
    /* Optional: the manager's options are adjusted here before it is
     * created (the demo names its application). */
    const char *application_name;
    int health_check_interval_ms; /* 0: the configuration's */
    /* --metrics-listen: answer replmon serve's endpoints (serve/serve.h)
     * on this address and port (0: a free one) from the dashboard's
     * rounds; NULL: do not listen. */
    const char *metrics_host;
    int metrics_port;
} rm_dashboard_t;

/* rm_dashboard_run - run until q, Ctrl-C or SIGTERM. Returns RM_EXIT_OK,
 * or RM_EXIT_FAILURE after printing why (no terminal, no memory, the
 * manager could not start). The manager is shut down on return. */
int rm_dashboard_run(const rm_dashboard_t *d);

#endif /* REPLMON_TUI_DASHBOARD_H */
