/* SPDX-License-Identifier: MIT */
/*
 * ops_exec.c - an operation's plan run on its node: the role and the
 * client_encoding first (the quoting in ops.c assumes an encoding whose
 * bytes below 0x80 are always ASCII), then the checks, then the actions,
 * each a pgcm_query on the node; a failure becomes one line naming the
 * node, the role and, for a missing privilege, which one.
 */
#include "ops_exec.h"

#include "log.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static void result_init(rm_op_result_t *res)
{
    char role[sizeof(res->role)];

    snprintf(role, sizeof(role), "%s", res->role);
    memset(res, 0, sizeof(*res));
    snprintf(res->role, sizeof(res->role), "%s", role);
    res->outcome = RM_OP_OK;
}

/* One statement; on failure res says so (FAILED, the line). */
static int run(pgcm_manager_t *mgr, const rm_op_plan_t *plan, const char *sql,
               int timeout_ms, pgcm_result_t **out, rm_op_result_t *res)
{
    pgcm_query_options_t qo;
    pgcm_error_t err;
    int rc;

    memset(&qo, 0, sizeof(qo));
    memset(&err, 0, sizeof(err));
    qo.timeout_ms = timeout_ms;
    *out = NULL;
    rc = pgcm_query(mgr, plan->node, sql, 0, NULL, &qo, out, &err);
    if (rc == PGCM_OK)
        return 0;
    pgcm_result_free(*out);
    *out = NULL;
    res->outcome = RM_OP_FAILED;
    snprintf(res->sqlstate, sizeof(res->sqlstate), "%s", err.sqlstate);
    if (rc == PGCM_ESQL) {
        rm_op_error_line(plan, res->role, err.sqlstate, err.message,
                         res->message, sizeof(res->message));
    } else {
        char why[600];

        snprintf(why, sizeof(why), "%s%s%s", pgcm_strerror(rc),
                 err.message[0] ? ": " : "", err.message);
        rm_op_error_line(plan, res->role, NULL, why, res->message,
                         sizeof(res->message));
    }
    return -1;
}

static const char *value(const pgcm_result_t *r, int col)
{
    if (r == NULL || pgcm_result_ntuples(r) < 1 ||
        pgcm_result_nfields(r) <= col || pgcm_result_isnull(r, 0, col))
        return NULL;
    return pgcm_result_value(r, 0, col);
}

/* Client encodings in which a byte below 0x80 can be the second byte of a
 * character (libpq's PQescape* handle them; our pure quoting does not).
 * No server encoding is one of them. */
static int encoding_unsafe(const char *enc)
{
    static const char *const unsafe[] = {
        "SJIS", "SHIFT_JIS_2004", "BIG5", "GBK", "UHC", "GB18030"};
    size_t i;

    for (i = 0; enc != NULL && i < sizeof(unsafe) / sizeof(unsafe[0]); i++) {
        if (strcasecmp(enc, unsafe[i]) == 0)
            return 1;
    }
    return 0;
}

static int identify(pgcm_manager_t *mgr, const rm_op_plan_t *plan,
                    int timeout_ms, rm_op_result_t *res)
{
    pgcm_result_t *r;
    const char *enc;

    if (run(mgr, plan,
            "SELECT current_user::text AS role, "
            "current_setting('client_encoding') AS encoding",
            timeout_ms, &r, res) != 0)
        return -1;
    snprintf(res->role, sizeof(res->role), "%s",
             value(r, 0) ? value(r, 0) : "");
    enc = value(r, 1);
    if (encoding_unsafe(enc)) {
        res->outcome = RM_OP_REFUSED;
        snprintf(res->message, sizeof(res->message),
                 "node %s: the connection's client_encoding is %s, in which "
                 "replmon cannot quote names safely; set PGCLIENTENCODING=UTF8 "
                 "(or client_encoding in the node's options) and run it again",
                 plan->node, enc);
        pgcm_result_free(r);
        return -1;
    }
    pgcm_result_free(r);
    return 0;
}

/* The refusal with the check's detail where RM_OP_DETAIL is. */
static void refusal_text(const char *refusal, const char *detail, char *buf,
                         size_t len)
{
    const char *at = strstr(refusal, RM_OP_DETAIL);

    if (at == NULL) {
        snprintf(buf, len, "%s", refusal);
        return;
    }
    snprintf(buf, len, "%.*s%s%s", (int)(at - refusal), refusal,
             detail ? detail : "null", at + strlen(RM_OP_DETAIL));
}

int rm_op_check(pgcm_manager_t *mgr, const rm_op_plan_t *plan, int timeout_ms,
                rm_op_result_t *res)
{
    int64_t start = mono_ms();
    size_t i;
    int rc = 0;

    res->role[0] = '\0';
    result_init(res);
    if (identify(mgr, plan, timeout_ms, res) != 0)
        rc = -1;
    for (i = 0; rc == 0 && i < plan->nsteps; i++) {
        const rm_op_step_t *st = &plan->steps[i];
        pgcm_result_t *r;
        const char *ok;

        if (st->kind != RM_STEP_CHECK)
            continue;
        if (run(mgr, plan, st->sql, timeout_ms, &r, res) != 0) {
            rc = -1;
            break;
        }
        ok = value(r, 0);
        if (ok == NULL || ok[0] != 't') {
            res->outcome = RM_OP_REFUSED;
            refusal_text(st->refusal ? st->refusal : "a check failed",
                         value(r, 1), res->message, sizeof(res->message));
            rc = -1;
        }
        pgcm_result_free(r);
    }
    res->elapsed_ms = mono_ms() - start;
    return rc;
}

/* Run a WAIT step until its value is true, up to 5 s. */
static int wait_step(pgcm_manager_t *mgr, const rm_op_plan_t *plan,
                     const rm_op_step_t *st, int timeout_ms,
                     rm_op_result_t *res)
{
    int64_t deadline = mono_ms() + 5000;

    for (;;) {
        pgcm_result_t *r;
        const char *v;
        int done;

        if (run(mgr, plan, st->sql, timeout_ms, &r, res) != 0)
            return -1;
        v = value(r, 0);
        done = v != NULL && v[0] == 't';
        pgcm_result_free(r);
        if (done)
            return 0;
        if (mono_ms() > deadline) {
            res->outcome = RM_OP_FAILED;
            snprintf(res->message, sizeof(res->message),
                     "%s failed: slot %s is still there 5 s after its "
                     "session was told to end",
                     plan->summary ? plan->summary : "the operation",
                     plan->object ? plan->object : "?");
            return -1;
        }
        sleep_ms(100);
    }
}

/* Run an ACTION step, again while it meets an object in use when it may. */
static int action_step(pgcm_manager_t *mgr, const rm_op_plan_t *plan,
                       const rm_op_step_t *st, int timeout_ms,
                       rm_op_result_t *res)
{
    int64_t deadline = mono_ms() + 5000;

    for (;;) {
        pgcm_result_t *r = NULL;
        int rc = run(mgr, plan, st->sql, timeout_ms, &r, res);

        pgcm_result_free(r);
        if (rc == 0 || !st->retry_in_use ||
            strcmp(res->sqlstate, "55006") != 0 || mono_ms() > deadline)
            return rc;
        res->outcome = RM_OP_OK;
        res->sqlstate[0] = '\0';
        res->message[0] = '\0';
        sleep_ms(50);
    }
}

int rm_op_execute(pgcm_manager_t *mgr, const rm_op_plan_t *plan, int timeout_ms,
                  rm_op_result_t *res)
{
    int64_t start = mono_ms();
    size_t i;
    int rc = 0;

    result_init(res);
    if (res->role[0] == '\0' && identify(mgr, plan, timeout_ms, res) != 0)
        rc = -1;
    for (i = 0; rc == 0 && i < plan->nsteps; i++) {
        const rm_op_step_t *st = &plan->steps[i];

        if (st->kind == RM_STEP_CHECK)
            continue;
        if (st->kind == RM_STEP_WAIT)
            rc = wait_step(mgr, plan, st, timeout_ms, res);
        else
            rc = action_step(mgr, plan, st, timeout_ms, res);
        if (rc == 0)
            res->steps_done++;
    }
    res->elapsed_ms = mono_ms() - start;
    return rc;
}

void rm_op_os_user(char *buf, size_t len)
{
    struct passwd pw, *found = NULL;
    char scratch[1024];
    const char *env;

    if (getpwuid_r(geteuid(), &pw, scratch, sizeof(scratch), &found) == 0 &&
        found != NULL && found->pw_name != NULL) {
        snprintf(buf, len, "%s", found->pw_name);
        return;
    }
    env = getenv("USER");
    if (env != NULL && env[0] != '\0')
        snprintf(buf, len, "%s", env);
    else
        snprintf(buf, len, "%u", (unsigned)geteuid());
}

int rm_op_log(const rm_op_record_t *rec)
{
    char *message = rm_op_log_message(rec);
    json_t *data = rm_op_log_data(rec);

    if (message == NULL || data == NULL) {
        free(message);
        json_decref(data);
        return -1;
    }
    rm_log(rm_op_log_level(rec->outcome), "operation", rm_op_log_node(rec), 0,
           data, "%s", message);
    free(message);
    return 0;
}
