/* SPDX-License-Identifier: MIT */
/*
 * demo.h - the throwaway cluster of `replmon demo`: a publisher, two
 * subscribers with logical replication of three tables, and optionally a
 * physical standby of the publisher, all on 127.0.0.1 in one temporary
 * folder (<TMPDIR>/replmon-demo-XXXXXX, with an owner.pid file) that is
 * removed again on destroy. A later run removes the folders of runs whose
 * owner died (rm_demo_reap_stale).
 */
#ifndef REPLMON_DEMO_H
#define REPLMON_DEMO_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "pgcm.h"

#define RM_DEMO_MAX_NODES  4
#define RM_DEMO_DIR_PREFIX "replmon-demo-"
#define RM_DEMO_PUBLISHER  "publisher"

typedef struct rm_demo rm_demo_t;

typedef struct rm_demo_options {
    int with_standby;            /* add a physical standby of the publisher */
    const char *parent_dir;      /* NULL: $TMPDIR or /tmp */
    FILE *progress;              /* one line per step, or NULL */
    volatile sig_atomic_t *stop; /* checked between steps, may be NULL */
} rm_demo_options_t;

/* rm_demo_create - reap stale demo folders, make the folder, start the
 * servers and set up replication. Returns 0 and *out, or -1 with a
 * one-line message in err; on failure nothing is left behind. */
int rm_demo_create(const rm_demo_options_t *opts, rm_demo_t **out, char *err,
                   size_t errlen);

size_t rm_demo_count(const rm_demo_t *d);
/* The folder, and the configuration file written in it that points the
 * other commands at the demo (`replmon --config PATH status`). */
const char *rm_demo_dir(const rm_demo_t *d);
const char *rm_demo_config_path(const rm_demo_t *d);
const char *rm_demo_node_id(const rm_demo_t *d, size_t i);
pid_t rm_demo_pid(const rm_demo_t *d, size_t i);
int rm_demo_port(const rm_demo_t *d, size_t i);

/* rm_demo_node_spec - a libpgcm spec for node i (strings owned by d). */
void rm_demo_node_spec(const rm_demo_t *d, size_t i, pgcm_node_spec_t *spec);

/* The write load: one statement with $1 = an account id (1..100). */
#define RM_DEMO_WRITE_SQL                                                      \
    "WITH u AS (UPDATE demo_accounts SET balance = balance + 1, "              \
    "updated_at = now() WHERE id = $1::int RETURNING id) "                     \
    "INSERT INTO demo_events (account_id, amount) SELECT id, 1 FROM u"

/* rm_demo_destroy - stop every server, remove the folder, free d. Returns
 * the number of servers stopped. d may be NULL. */
size_t rm_demo_destroy(rm_demo_t *d);

/* rm_demo_reap_stale - remove demo folders under parent_dir (NULL: $TMPDIR
 * or /tmp) whose owner process is gone, stopping their servers first.
 * Returns how many folders were removed. */
int rm_demo_reap_stale(const char *parent_dir);

#endif /* REPLMON_DEMO_H */
