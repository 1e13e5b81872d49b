/* SPDX-License-Identifier: MIT */
/*
 * pglogical.c - whether a node's round reads pglogical, and how pglogical's
 * subscription status reads in replmon's states. The statement itself is
 * RM_PGLOGICAL_SQL (pglogical.h), the parser rm_parse_pglogical
 * (collect.c) beside the other sections' parsers.
 */
#include "pglogical.h"

#include <string.h>

#include "collect.h"
#include "config.h"

int rm_pglogical_planned(const rm_node_t *n)
{
    return n->pglogical_mode != RM_PGLOGICAL_OFF &&
           n->pglogical_version[0] != '\0';
}

int rm_pglogical_missing(const rm_node_t *n)
{
    return n->have_facts && n->pglogical_mode == RM_PGLOGICAL_ON &&
           n->pglogical_version[0] == '\0';
}

const char *rm_pglogical_state(const char *status)
{
    static const struct {
        const char *pglogical, *state;
    } map[] = {{"replicating", "streaming"},
               {"initializing", "syncing"},
               {"down", "down"},
               {"disabled", "disabled"}};
    size_t i;

    for (i = 0; status != NULL && i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(status, map[i].pglogical) == 0)
            return map[i].state;
    }
    return "unknown";
}
