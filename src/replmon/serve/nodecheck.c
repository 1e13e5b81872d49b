/* SPDX-License-Identifier: MIT */
/*
 * nodecheck.c - /node/ID: parsing ?max_lag and ?max_lag_seconds with the
 * configuration's unit parsers, a node's lag from its last facts, and the
 * 200/503 verdict with its JSON body.
 */
#include "nodecheck.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "evaluate.h"
#include "log.h"

int rm_node_check_parse(const char *max_lag, const char *max_lag_seconds,
                        rm_node_check_params_t *out, char *why, size_t whylen)
{
    const char *reason;

    out->max_lag_bytes = -1;
    out->max_lag_seconds = NAN;
    if (max_lag != NULL) {
        int64_t bytes;

        if (rm_config_parse_size(max_lag, &bytes, &reason) != 0) {
            snprintf(why, whylen, "max_lag=%.64s: %s", max_lag, reason);
            return -1;
        }
        out->max_lag_bytes = bytes;
    }
    if (max_lag_seconds != NULL) {
        int64_t ms;

        if (rm_config_parse_duration(max_lag_seconds, 1000, &ms, &reason) !=
            0) {
            snprintf(why, whylen, "max_lag_seconds=%.64s: %s", max_lag_seconds,
                     reason);
            return -1;
        }
        out->max_lag_seconds = (double)ms / 1000.0;
    }
    return 0;
}

static void take_bytes(rm_node_lag_t *l, int64_t v)
{
    if (v != RM_NONE && (l->bytes == RM_NONE || v > l->bytes))
        l->bytes = v;
}

static void take_seconds(rm_node_lag_t *l, double v)
{
    if (!isnan(v) && (isnan(l->seconds) || v > l->seconds))
        l->seconds = v;
}

void rm_node_lag_of(const rm_node_t *f, rm_node_lag_t *out)
{
    size_t i;

    out->bytes = RM_NONE;
    out->seconds = NAN;
    out->replicates = 0;
    if (f == NULL || !f->reachable || !f->have_facts)
        return;
    for (i = 0; i < f->nsubs; i++) {
        out->replicates = 1;
        take_bytes(out, f->subs[i].lag_bytes);
        take_seconds(out, f->subs[i].lag_seconds);
    }
    if (f->in_recovery) {
        const rm_receiver_t *r = &f->receiver;
        int behind =
            (r->lag_bytes != RM_NONE && r->lag_bytes > 0) ||
            (r->replay_backlog_bytes != RM_NONE && r->replay_backlog_bytes > 0);

        out->replicates = 1;
        take_bytes(out, r->lag_bytes);
        if (behind)
            take_seconds(out, r->replay_delay_seconds);
        else if (r->lag_bytes != RM_NONE || r->replay_backlog_bytes != RM_NONE)
            take_seconds(out, 0.0);
    }
}

int rm_node_check(const char *id, const pgcm_health_t *health,
                  const rm_node_t *facts, const rm_node_check_params_t *p,
                  json_t **body)
{
    rm_node_lag_t lag;
    char reason[256], v[32], lim[32];
    int status = 200;
    json_t *o;

    rm_node_lag_of(facts, &lag);
    if (health == NULL) {
        status = 503;
        snprintf(reason, sizeof(reason), "the node is not monitored");
    } else if (health->state != PGCM_NODE_HEALTHY &&
               health->state != PGCM_NODE_DEGRADED) {
        status = 503;
        snprintf(reason, sizeof(reason), "%s%s%.200s",
                 pgcm_node_state_name(health->state),
                 health->last_error[0] ? ": " : "", health->last_error);
    } else if (p->max_lag_bytes >= 0 && lag.bytes != RM_NONE &&
               lag.bytes > p->max_lag_bytes) {
        status = 503;
        rm_format_bytes(lag.bytes, v, sizeof(v));
        rm_format_bytes(p->max_lag_bytes, lim, sizeof(lim));
        snprintf(reason, sizeof(reason), "replication lags %s (max_lag %s)", v,
                 lim);
    } else if (!isnan(p->max_lag_seconds) && !isnan(lag.seconds) &&
               lag.seconds > p->max_lag_seconds) {
        status = 503;
        rm_format_seconds(lag.seconds, v, sizeof(v));
        rm_format_seconds(p->max_lag_seconds, lim, sizeof(lim));
        snprintf(reason, sizeof(reason),
                 "replication lags %s (max_lag_seconds %s)", v, lim);
    } else if (lag.replicates &&
               ((p->max_lag_bytes >= 0 && lag.bytes == RM_NONE) ||
                (!isnan(p->max_lag_seconds) && isnan(lag.seconds)))) {
        snprintf(reason, sizeof(reason),
                 "%s; its lag could not be measured (is its upstream "
                 "monitored?)",
                 pgcm_node_state_name(health->state));
    } else {
        snprintf(reason, sizeof(reason), "%s",
                 pgcm_node_state_name(health->state));
    }
    o = json_object();
    if (o != NULL) {
        char roles[96];

        rm_roles_format(facts != NULL ? rm_node_roles(facts) : 0, roles,
                        sizeof(roles));
        json_object_set_new(o, "node", rm_log_json_text(id));
        json_object_set_new(o, "status", json_integer(status));
        json_object_set_new(
            o, "state",
            health != NULL ? json_string(pgcm_node_state_name(health->state))
                           : json_null());
        json_object_set_new(o, "roles", json_string(roles));
        json_object_set_new(o, "reason", rm_log_json_text(reason));
        json_object_set_new(o, "latency_seconds",
                            health != NULL && health->last_ok_ms != 0
                                ? json_real((double)health->latency_us / 1e6)
                                : json_null());
        json_object_set_new(o, "lag_bytes",
                            lag.bytes != RM_NONE ? json_integer(lag.bytes)
                                                 : json_null());
        json_object_set_new(o, "lag_seconds",
                            !isnan(lag.seconds) ? json_real(lag.seconds)
                                                : json_null());
        json_object_set_new(o, "max_lag_bytes",
                            p->max_lag_bytes >= 0
                                ? json_integer(p->max_lag_bytes)
                                : json_null());
        json_object_set_new(o, "max_lag_seconds",
                            !isnan(p->max_lag_seconds)
                                ? json_real(p->max_lag_seconds)
                                : json_null());
    }
    *body = o;
    return status;
}
