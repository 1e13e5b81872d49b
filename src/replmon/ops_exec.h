/* SPDX-License-Identifier: MIT */
/*
 * ops_exec.h - running an operation's plan (ops.h) on its node through a
 * libpgcm manager: its read-only checks first (and who the statements run
 * as), then, once confirmed, its actions in order; plus the line the log
 * gets for it.
 *
 * Blocking (pgcm_query). The dashboard calls these from a thread of its
 * own, never from its UI loop or a libpgcm callback.
 */
#ifndef REPLMON_OPS_EXEC_H
#define REPLMON_OPS_EXEC_H

#include <stdint.h>
#include <stdio.h>

#include "ops.h"
#include "pgcm.h"

typedef struct rm_op_result {
    rm_op_outcome_t outcome; /* RM_OP_OK, RM_OP_REFUSED (a check said no or
                                the connection is unsafe for the quoting),
                                RM_OP_FAILED (a statement failed) */
    char role[64];           /* the database role the statements ran as
                                (current_user), "" unknown */
    char sqlstate[6];        /* of the failed statement, "" */
    char message[768];       /* one line: why refused or failed */
    size_t steps_done;       /* ACTION and WAIT steps completed */
    int64_t elapsed_ms;      /* of this call */
} rm_op_result_t;

/* rm_op_check - on the plan's node: read the role and check that the
 * connection's client_encoding keeps quoted names intact, then run the
 * CHECK steps. Changes nothing. Returns 0 (res->outcome RM_OP_OK) or -1
 * (REFUSED or FAILED, res->message says why). timeout_ms per statement
 * (0: the manager's). */
int rm_op_check(pgcm_manager_t *mgr, const rm_op_plan_t *plan, int timeout_ms,
                rm_op_result_t *res);

/* rm_op_execute - run the ACTION and WAIT steps in order, stopping at the
 * first that fails (the ones before it stay done: res->steps_done). The
 * role is kept from rm_op_check's res, or read again. Returns 0 or -1 as
 * rm_op_check. */
int rm_op_execute(pgcm_manager_t *mgr, const rm_op_plan_t *plan, int timeout_ms,
                  rm_op_result_t *res);

/* rm_op_os_user - the name of the effective OS user (the password
 * database, else $USER, else the uid as digits), in buf. */
void rm_op_os_user(char *buf, size_t len);

/* rm_op_log - rec into the structured log (log.h; event "operation", at
 * rm_op_log_level: the log must be open at info or below for every
 * operation to be written, as cmd_ops.c opens it). Returns 0, or -1 when
 * out of memory. */
int rm_op_log(const rm_op_record_t *rec);

#endif /* REPLMON_OPS_EXEC_H */
