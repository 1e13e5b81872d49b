/* SPDX-License-Identifier: MIT */
/*
 * cmd_ops.c - `replmon subscription pause|resume|refresh NAME`,
 * `replmon subscription resync NAME TABLE` and `replmon slot create|drop
 * NAME`: one collection round to find the object (ops.h plans against it),
 * the plan's checks, a typed confirmation for destructive ones (or --yes),
 * then the statements (ops_exec.h); --dry-run prints them instead. Every
 * operation, refused ones too, leaves one line in the log on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli.h"
#include "ops.h"
#include "ops_exec.h"
#include "textwidth.h"

/* The end of both commands' help. */
#define OPS_HELP_TAIL                                                          \
    "  -h, --help         show this help\n"                                    \
    "\n" RM_COMMON_HELP "\n"                                                   \
    "Each operation is one line of the log (stderr unless --log-file: who,\n"  \
    "what, where, the SQL, the outcome), whatever --log-level, which sets\n"   \
    "the library's lines. Exit status: 0 done (or printed with --dry-run),\n"  \
    "1 refused, failed or not confirmed, 64 usage error, 78 configuration\n"   \
    "error.\n"

static const char subscription_help[] =
    "Usage: replmon subscription pause|resume|refresh NAME [OPTIONS]\n"
    "       replmon subscription resync NAME TABLE [OPTIONS]\n"
    "\n"
    "Act on a subscription, native or pglogical, found on the node that has\n"
    "it. pause and resume use the subscription's own kind: ALTER\n"
    "SUBSCRIPTION ... DISABLE/ENABLE for a native one,\n"
    "pglogical.alter_subscription_disable/enable for a pglogical one.\n"
    "refresh (native) runs ALTER SUBSCRIPTION ... REFRESH PUBLICATION.\n"
    "resync (pglogical) truncates TABLE on the subscriber and copies it again\n"
    "from the provider (pglogical.alter_subscription_resynchronize_table);\n"
    "it is refused for a table the subscription does not replicate.\n"
    "\n"
    "Options:\n"
    "  --node ID          the node to act on (needed when several have NAME)\n"
    "  --kind native|pglogical  which subscription, when a node has both\n"
    "  --dry-run          print the exact SQL; change nothing\n"
    "  --yes              do not ask: resync asks you to type the table's\n"
    "                     name on a terminal, and is refused without --yes\n"
    "                     elsewhere\n" OPS_HELP_TAIL;

static const char slot_help[] =
    "Usage: replmon slot create NAME --logical PLUGIN | --physical "
    "[OPTIONS]\n"
    "       replmon slot drop NAME [--force] [OPTIONS]\n"
    "\n"
    "Create a replication slot (pg_create_logical_replication_slot with an\n"
    "output plugin such as pgoutput, or pg_create_physical_replication_slot)\n"
    "on the node --node names, or drop one (pg_drop_replication_slot) from\n"
    "the node that has it. A slot in use is not dropped unless --force,\n"
    "which first ends its walsender (pg_terminate_backend(active_pid)).\n"
    "\n"
    "Options:\n"
    "  --node ID          the node (create: needed when the cluster has\n"
    "                     several; drop: when several have NAME)\n"
    "  --logical PLUGIN   create a logical slot decoded by PLUGIN\n"
    "  --physical         create a physical slot\n"
    "  --force            drop: end the slot's walsender first\n"
    "  --dry-run          print the exact SQL; change nothing\n"
    "  --yes              do not ask: drop asks you to type the slot's name\n"
    "                     on a terminal, and is refused without --yes\n"
    "                     elsewhere\n" OPS_HELP_TAIL;

enum {
    OPT_NODE = RM_OPT_FIRST_COMMAND,
    OPT_KIND,
    OPT_DRY_RUN,
    OPT_YES,
    OPT_LOGICAL,
    OPT_PHYSICAL,
    OPT_FORCE
};

typedef struct op_args {
    rm_common_t common;
    rm_op_request_t req;
    const char *cmd; /* "subscription pause", ... for messages */
    int dry_run, yes, physical;
} op_args_t;

static int64_t now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int parse_action(int slot, const char *word, rm_op_kind_t *out)
{
    static const struct {
        int slot;
        const char *word;
        rm_op_kind_t kind;
    } actions[] = {
        {0, "pause", RM_OP_SUB_PAUSE},     {0, "resume", RM_OP_SUB_RESUME},
        {0, "refresh", RM_OP_SUB_REFRESH}, {0, "resync", RM_OP_SUB_RESYNC},
        {1, "create", RM_OP_SLOT_CREATE},  {1, "drop", RM_OP_SLOT_DROP}};
    size_t i;

    for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
        if (actions[i].slot == slot && strcmp(actions[i].word, word) == 0) {
            *out = actions[i].kind;
            return 0;
        }
    }
    return -1;
}

/* Parse argv into a; returns 0, -1 for --help (printed), or an exit code. */
static int parse(int argc, char **argv, int slot, op_args_t *a)
{
    static const struct option longopts[] = {
        RM_COMMON_LONG_OPTIONS,
        {"node", required_argument, NULL, OPT_NODE},
        {"kind", required_argument, NULL, OPT_KIND},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"yes", no_argument, NULL, OPT_YES},
        {"logical", required_argument, NULL, OPT_LOGICAL},
        {"physical", no_argument, NULL, OPT_PHYSICAL},
        {"force", no_argument, NULL, OPT_FORCE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *group = slot ? "slot" : "subscription";
    const char *kind_arg = NULL;
    int opt, npos;
    rm_op_kind_t kind;

    memset(a, 0, sizeof(*a));
    rm_common_init(&a->common);
    rm_op_request_init(&a->req, RM_OP_SUB_PAUSE);
    a->cmd = group;
    rm_getopt_reset();
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        int handled;

        switch (opt) {
        case 'h':
            fputs(slot ? slot_help : subscription_help, stdout);
            return -1;
        case OPT_NODE:
            a->req.node = optarg;
            continue;
        case OPT_KIND:
            kind_arg = optarg;
            continue;
        case OPT_DRY_RUN:
            a->dry_run = 1;
            continue;
        case OPT_YES:
            a->yes = 1;
            continue;
        case OPT_LOGICAL:
            a->req.plugin = optarg;
            continue;
        case OPT_PHYSICAL:
            a->physical = 1;
            continue;
        case OPT_FORCE:
            a->req.force = 1;
            continue;
        case '?':
        case ':':
            return rm_getopt_error(group, opt, argv);
        default:
            break;
        }
        handled = rm_common_option(&a->common, group, opt, optarg);
        if (handled < 0)
            return RM_EXIT_USAGE;
    }
    npos = argc - optind;
    if (npos < 1)
        return rm_usage_error(group, "an action is needed (%s)",
                              slot ? "create or drop"
                                   : "pause, resume, refresh or resync");
    if (parse_action(slot, argv[optind], &kind) != 0)
        return rm_usage_error(group, "unknown action '%s' (%s)", argv[optind],
                              slot ? "create or drop"
                                   : "pause, resume, refresh or resync");
    a->req.kind = kind;
    a->cmd = rm_op_kind_name(kind);
    if (npos < 2)
        return rm_usage_error(a->cmd, "the %s's name is needed", group);
    a->req.name = argv[optind + 1];
    if (kind == RM_OP_SUB_RESYNC) {
        if (npos < 3)
            return rm_usage_error(a->cmd, "the table to resync is needed: "
                                          "'replmon subscription resync NAME "
                                          "TABLE'");
        a->req.table = argv[optind + 2];
    }
    if (npos > (kind == RM_OP_SUB_RESYNC ? 3 : 2))
        return rm_usage_error(
            a->cmd, "unexpected argument '%s'",
            argv[optind + (kind == RM_OP_SUB_RESYNC ? 3 : 2)]);
    if (kind_arg != NULL) {
        if (slot)
            return rm_usage_error(a->cmd, "--kind is for subscriptions");
        if (strcmp(kind_arg, "native") == 0)
            a->req.sub_kind = RM_SUB_NATIVE;
        else if (strcmp(kind_arg, "pglogical") == 0)
            a->req.sub_kind = RM_SUB_PGLOGICAL;
        else
            return rm_usage_error(
                a->cmd, "--kind '%s' is not native or pglogical", kind_arg);
    }
    if (kind == RM_OP_SLOT_CREATE) {
        if ((a->req.plugin != NULL) == a->physical)
            return rm_usage_error(a->cmd,
                                  "say which slot: --logical PLUGIN (e.g. "
                                  "pgoutput) or --physical");
        if (a->req.plugin != NULL && a->req.plugin[0] == '\0')
            return rm_usage_error(a->cmd, "--logical needs a plugin name");
    } else if (a->req.plugin != NULL || a->physical) {
        return rm_usage_error(a->cmd,
                              "--logical and --physical are for slot create");
    }
    if (a->req.force && kind != RM_OP_SLOT_DROP)
        return rm_usage_error(a->cmd, "--force is for slot drop");
    if (slot) {
        const char *why = rm_slot_name_problem(a->req.name);

        if (why != NULL)
            return rm_usage_error(a->cmd, "'%s' is not a slot name: %s",
                                  a->req.name, why);
    }
    return 0;
}

/* "replmon CMD: [what]MESSAGE" on out, the message escaped for the
 * terminal (names and server messages may hold anything). */
static void say(FILE *out, const char *cmd, const char *what,
                const char *message)
{
    fprintf(out, "replmon %s: %s", cmd, what);
    rm_text_fputs(out, message);
    fputc('\n', out);
}

/* The log line for this attempt. */
static void log_op(const op_args_t *a, const rm_op_plan_t *plan,
                   const char *node, const char *role, rm_op_outcome_t outcome,
                   const char *detail, int64_t started)
{
    rm_op_record_t rec;
    char os_user[128];

    rm_op_os_user(os_user, sizeof(os_user));
    memset(&rec, 0, sizeof(rec));
    rec.req = &a->req;
    rec.plan = plan;
    rec.node = node != NULL && node[0] ? node : NULL;
    rec.os_user = os_user;
    rec.role = role != NULL && role[0] ? role : NULL;
    rec.outcome = outcome;
    rec.detail = detail;
    rec.elapsed_ms = now_ms() - started;
    if (rm_op_log(&rec) != 0)
        fprintf(stderr, "replmon %s: cannot write the operation's log line\n",
                a->cmd);
}

static void print_dry_run(const rm_op_plan_t *plan)
{
    const char *line, *next;
    size_t i;

    fputs("-- dry run: ", stdout);
    rm_text_fputs(stdout, plan->summary);
    printf(" (nothing is changed)\n-- on ");
    rm_text_fputs(stdout, plan->host);
    printf(":%d, database ", plan->port);
    rm_text_fputs(stdout, plan->database);
    fputc('\n', stdout);
    for (i = 0; i < plan->nsteps; i++) {
        const rm_op_step_t *st = &plan->steps[i];

        if (st->kind == RM_STEP_CHECK)
            continue;
        if (st->kind == RM_STEP_WAIT)
            printf("-- repeated every 100 ms until true (at most 5 s):\n");
        if (st->retry_in_use)
            printf("-- one request, sent again while the slot is in use "
                   "again (at most 5 s):\n");
        /* The exact SQL, a statement a line (the statements of a step
         * but the last end with ';' already); only characters a terminal
         * would act on (none in a plain name) are shown escaped. */
        for (line = st->sql; line != NULL; line = next) {
            char *copy;

            next = strchr(line, '\n');
            copy = next != NULL ? strndup(line, (size_t)(next - line))
                                : strdup(line);
            if (next != NULL)
                next++;
            rm_text_fputs(stdout, copy != NULL ? copy : "");
            fputs(next == NULL ? ";\n" : "\n", stdout);
            free(copy);
        }
    }
}

/* Ask for the typed confirmation; 1 confirmed, 0 not, -1 cannot ask. */
static int confirm(const op_args_t *a, const rm_op_plan_t *plan)
{
    char line[512];

    if (a->yes)
        return 1;
    if (!isatty(STDIN_FILENO))
        return -1;
    say(stderr, a->cmd, "", plan->consequence);
    fputs("Type '", stderr);
    rm_text_fputs(stderr, plan->confirm);
    fprintf(stderr, "' to %s, anything else to stop: ",
            plan->kind == RM_OP_SUB_RESYNC ? "resync it" : "drop it");
    fflush(stderr);
    if (fgets(line, sizeof(line), stdin) == NULL)
        return 0;
    return rm_op_confirmed(plan, line);
}

static int run_op(int argc, char **argv, int slot)
{
    rm_collect_options_t copts;
    rm_session_t session;
    rm_snapshot_t *snap = NULL;
    rm_op_plan_t plan;
    rm_op_result_t res;
    op_args_t a;
    char err[768];
    int64_t started = now_ms();
    pgcm_log_level_t lib_level;
    int rc, c;

    rc = parse(argc, argv, slot, &a);
    if (rc == -1)
        return RM_EXIT_OK;
    if (rc != 0)
        return rc;
    /* Operations are always logged (info); --log-level sets what the
     * library's own lines are (error by default, as for status). */
    lib_level = a.common.log_level_given ? a.common.log.level : PGCM_LOG_ERROR;
    if (!a.common.log_level_given || a.common.log.level > PGCM_LOG_INFO) {
        a.common.log.level = PGCM_LOG_INFO;
        a.common.log_level_given = 1;
    }
    if (rm_common_log_open(&a.common, a.cmd, PGCM_LOG_INFO) != 0)
        return RM_EXIT_FAILURE;
    rm_stop_handlers_install();
    rc = rm_session_load(&session, &a.common, a.cmd);
    if (rc != 0)
        return rc;
    session.log_cb = rm_log_pgcm;
    session.log_user = NULL;
    session.log_level = lib_level;
    if (a.req.node != NULL &&
        (rc = rm_session_restrict(&session, &a.req.node, 1, a.cmd)) != 0) {
        rm_session_close(&session);
        return rc;
    }
    if (rm_session_start(&session, (int)a.common.timeout_ms, a.cmd) != 0) {
        rm_session_close(&session);
        return RM_EXIT_FAILURE;
    }
    memset(&copts, 0, sizeof(copts));
    copts.query_timeout_ms = (int)a.common.timeout_ms;
    copts.stop = &rm_stop_signal;
    copts.pglogical = session.cfg->pglogical;
    if (rm_collect(session.mgr, session.targets, session.count, &copts, &snap,
                   err, sizeof(err)) != 0) {
        rm_session_close(&session);
        say(stderr, a.cmd, "", err);
        return rm_stop_signal ? RM_EXIT_INTERRUPTED : RM_EXIT_FAILURE;
    }
    rc = rm_op_plan(snap, &a.req, &plan, err, sizeof(err));
    rm_snapshot_free(snap);
    if (rc != 0) {
        say(stderr, a.cmd, "", err);
        log_op(&a, NULL, plan.node, NULL, RM_OP_REFUSED, err, started);
        rm_session_close(&session);
        return RM_EXIT_FAILURE;
    }
    if (plan.note[0] != '\0')
        say(stderr, a.cmd, "note: ", plan.note);
    memset(&res, 0, sizeof(res));
    if (rm_op_check(session.mgr, &plan, (int)a.common.timeout_ms, &res) != 0) {
        say(stderr, a.cmd, "", res.message);
        log_op(&a, &plan, NULL, res.role, res.outcome, res.message, started);
        rc = RM_EXIT_FAILURE;
        goto out;
    }
    if (a.dry_run) {
        print_dry_run(&plan);
        log_op(&a, &plan, NULL, res.role, RM_OP_DRY_RUN, NULL, started);
        rc = RM_EXIT_OK;
        goto out;
    }
    if (plan.destructive) {
        c = confirm(&a, &plan);
        if (c <= 0) {
            const char *why = c < 0 ? "refused: it is destructive and stdin "
                                      "is not a terminal to confirm on; pass "
                                      "--yes to confirm from a script"
                                    : "not confirmed: nothing was changed";

            snprintf(err, sizeof(err), "%s %s", plan.summary, why);
            say(stderr, a.cmd, "", err);
            log_op(&a, &plan, NULL, res.role,
                   c < 0 ? RM_OP_REFUSED : RM_OP_ABANDONED, err, started);
            rc = RM_EXIT_FAILURE;
            goto out;
        }
    }
    if (rm_op_execute(session.mgr, &plan, (int)a.common.timeout_ms, &res) !=
        0) {
        say(stderr, a.cmd, "", res.message);
        log_op(&a, &plan, NULL, res.role, res.outcome, res.message, started);
        rc = RM_EXIT_FAILURE;
        goto out;
    }
    say(stdout, a.cmd, "done: ", plan.summary);
    log_op(&a, &plan, NULL, res.role, RM_OP_OK, NULL, started);
    rc = RM_EXIT_OK;
out:
    rm_op_plan_free(&plan);
    rm_session_close(&session);
    if (fflush(stdout) != 0 && rc == RM_EXIT_OK)
        rc = RM_EXIT_FAILURE;
    return rc;
}

int rm_cmd_subscription(int argc, char **argv)
{
    return run_op(argc, argv, 0);
}

int rm_cmd_slot(int argc, char **argv)
{
    return run_op(argc, argv, 1);
}
