/* SPDX-License-Identifier: MIT */
/*
 * dashboard.c - the UI thread's loop (see dashboard.h): poll, collect,
 * evaluate, build the view, draw; keys, signals, reloads and retries.
 */
#include "tui/dashboard.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "evaluate.h"
#include "ops_exec.h"
#include "serve/serve.h"
#include "tui/collector.h"
#include "tui/history.h"
#include "tui/model.h"
#include "tui/term.h"
#include "tui/theme.h"

#define HISTORY_SAMPLES 720 /* 6 min at 0.5 s, 12 min at 1 s */
#define EVENTS_KEPT     500
#define MESSAGE_MS      8000 /* how long a message stays on the key bar */
#define DRAW_EVERY_MS   100  /* at most this often for data alone */
#define PRUNE_AFTER_MS  (15 * 60 * 1000) /* history of what went away */

static volatile sig_atomic_t g_quit, g_reload;
static int g_wake_fd = -1;

static void on_signal(int sig)
{
    int saved = errno;
    char b = 's';

    if (sig == SIGHUP)
        g_reload = 1;
    else
        g_quit = sig;
    if (g_wake_fd >= 0 && write(g_wake_fd, &b, 1) < 0) {
        /* full: the loop wakes anyway */
    }
    errno = saved;
}

static void install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    /* A second SIGINT or SIGTERM kills at once, in case shutting down
     * hangs. */
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ---------------------------------------------------------------------- */
/* Reload on a helper thread                                              */
/* ---------------------------------------------------------------------- */

typedef struct reload {
    pthread_t thread;
    int running;
    /* Set by the helper, read after it wrote to the wake pipe. */
    volatile int done;
    rm_session_t next;
    int rc;
    size_t added, removed, replaced;
    pgcm_error_t err;
    pgcm_manager_t *mgr;
    int wake_fd;
} reload_t;

static void *apply_thread(void *arg)
{
    reload_t *r = arg;
    char b = 'r';

    memset(&r->err, 0, sizeof(r->err));
    r->rc = pgcm_manager_apply(r->mgr, r->next.specs, r->next.count, &r->added,
                               &r->removed, &r->replaced, &r->err);
    __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
    if (write(r->wake_fd, &b, 1) < 0) {
        /* full: the loop wakes anyway */
    }
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Operations on a helper thread                                          */
/* ---------------------------------------------------------------------- */

/* One operation from the menu: rm_op_check and rm_op_execute block, so
 * they run here, never on the UI thread. */
typedef struct op_job {
    pthread_t thread;
    int running;
    volatile int done; /* set by the helper, read after the wake byte */
    rm_op_plan_t plan;
    /* The request, for the log, with strings of its own. */
    rm_op_request_t req;
    char node[64], name[128], table[128], plugin[64];
    rm_op_result_t res;
    pgcm_manager_t *mgr;
    int timeout_ms;
    int wake_fd;
} op_job_t;

static void *op_thread(void *arg)
{
    op_job_t *j = arg;
    char b = 'o';

    if (rm_op_check(j->mgr, &j->plan, j->timeout_ms, &j->res) == 0)
        rm_op_execute(j->mgr, &j->plan, j->timeout_ms, &j->res);
    __atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
    if (write(j->wake_fd, &b, 1) < 0) {
        /* full: the loop wakes anyway */
    }
    return NULL;
}

/* A copy of req whose strings are j's. */
static void job_request(op_job_t *j, const rm_op_request_t *req)
{
    j->req = *req;
    snprintf(j->node, sizeof(j->node), "%s", req->node ? req->node : "");
    snprintf(j->name, sizeof(j->name), "%s", req->name ? req->name : "");
    snprintf(j->table, sizeof(j->table), "%s", req->table ? req->table : "");
    snprintf(j->plugin, sizeof(j->plugin), "%s",
             req->plugin ? req->plugin : "");
    j->req.node = req->node ? j->node : NULL;
    j->req.name = req->name ? j->name : NULL;
    j->req.table = req->table ? j->table : NULL;
    j->req.plugin = req->plugin ? j->plugin : NULL;
}

/* ---------------------------------------------------------------------- */
/* The loop                                                               */
/* ---------------------------------------------------------------------- */

typedef struct dash {
    const rm_dashboard_t *d;
    rm_session_t *s;
    rm_term_t *term;
    rm_collector_t *col;
    rm_eventpane_t *pane; /* the events panel's entries */
    rm_history_t *hist;
    rm_thresholds_t thresholds;
    rm_palette_t palette;
    rm_ui_t ui;
    rm_eval_t ev;
    int have_ev;
    rm_event_entry_t *events;
    size_t nevents;
    uint64_t events_seq; /* of the copy in events */
    int64_t pruned_ms;   /* last rm_history_prune */
    reload_t reload;
    op_job_t op;
    int wake[2];
    int64_t started_ms;
    int64_t paused_at_ms;
    char message[512];
    rm_event_level_t message_level;
    int64_t message_until;
    rm_serve_t *serve;      /* --metrics-listen, else NULL */
    int64_t published_mono; /* ms of the last rm_serve_publish, 0 none */
    int publish_pending;    /* a round finished since then */
} dash_t;

static void say(dash_t *x, rm_event_level_t level, const char *node,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A message on the key bar, also logged in the events pane. */
static void say(dash_t *x, rm_event_level_t level, const char *node,
                const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(x->message, sizeof(x->message), fmt, ap);
    va_end(ap);
    x->message_level = level;
    x->message_until = (rm_clock_mono_us() / 1000) + MESSAGE_MS;
    rm_eventpane_add(x->pane, rm_clock_epoch_ms(), level, node, "%s",
                     x->message);
}

static void on_pgcm_event(const pgcm_event_t *ev, void *user);
static void serve_nodes(dash_t *x);

/* Before the nodes start: their first events go to the events pane. */
static void subscribe(pgcm_manager_t *mgr, void *user)
{
    uint64_t sub_id;

    if (pgcm_subscribe(mgr, on_pgcm_event, user, &sub_id) != PGCM_OK)
        rm_eventpane_add(((dash_t *)user)->pane, rm_clock_epoch_ms(),
                         RM_EVL_WARNING, NULL,
                         "cannot subscribe to libpgcm's events");
}

static void on_pgcm_event(const pgcm_event_t *ev, void *user)
{
    dash_t *x = user;
    char b = 'e';

    if (ev->type == PGCM_EV_POOL_STATS)
        return;
    rm_eventpane_pgcm(x->pane, ev);
    if (write(x->wake[1], &b, 1) < 0) {
        /* full: the loop wakes anyway */
    }
}

/* The one line a failed reload shows: the first problem of the file (and
 * how many more there are), or the reason the load gives. */
static void reload_problem(const rm_diags_t *d, const char *err, char *why,
                           size_t len)
{
    size_t i;

    snprintf(why, len, "%s", err);
    for (i = 0; i < d->count; i++) {
        char line[600];

        if (d->items[i].severity != RM_DIAG_ERROR)
            continue;
        rm_diag_format(&d->items[i], line, sizeof(line));
        if (d->errors > 1)
            snprintf(why, len, "%s (and %zu more problems)", line,
                     d->errors - 1);
        else
            snprintf(why, len, "%s", line);
        return;
    }
}

static void start_reload(dash_t *x)
{
    char why[700], err[640];
    rm_diags_t diags;
    int rc;

    if (x->d->common == NULL) {
        say(x, RM_EVL_WARNING, NULL, "nothing to reload");
        return;
    }
    if (x->reload.running) {
        say(x, RM_EVL_WARNING, NULL,
            "a reload is still being applied; try again in a moment");
        return;
    }
    rm_diags_init(&diags);
    rc = rm_session_load_into(&x->reload.next, x->d->common, &diags, err,
                              sizeof(err));
    if (rc != 0)
        reload_problem(&diags, err, why, sizeof(why));
    rm_diags_free(&diags);
    if (rc != 0) {
        say(x, RM_EVL_CRITICAL, NULL,
            "reload failed, the old configuration keeps running: %s", why);
        return;
    }
    x->reload.mgr = x->s->mgr;
    x->reload.wake_fd = x->wake[1];
    x->reload.done = 0;
    if (pthread_create(&x->reload.thread, NULL, apply_thread, &x->reload) !=
        0) {
        rm_session_close(&x->reload.next);
        say(x, RM_EVL_CRITICAL, NULL,
            "reload failed: cannot start a thread to apply it");
        return;
    }
    x->reload.running = 1;
    say(x, RM_EVL_INFO, NULL, "reloading %s",
        x->reload.next.cfg->path != NULL ? x->reload.next.cfg->path
                                         : "the environment");
}

static void finish_reload(dash_t *x)
{
    reload_t *r = &x->reload;
    rm_session_t *s = x->s;

    if (!r->running || !__atomic_load_n(&r->done, __ATOMIC_ACQUIRE))
        return;
    pthread_join(r->thread, NULL);
    r->running = 0;
    if (r->rc != PGCM_OK) {
        say(x, RM_EVL_CRITICAL, NULL,
            "reload failed, the old configuration keeps running: %s",
            r->err.message[0] ? r->err.message : pgcm_strerror(r->rc));
        rm_session_close(&r->next);
        return;
    }
    if (rm_collector_set_targets(x->col, r->next.targets, r->next.count) != 0) {
        say(x, RM_EVL_CRITICAL, NULL,
            "reload applied, but the dashboard ran out of memory to show "
            "it");
        rm_session_close(&r->next);
        return;
    }
    /* The manager copied the specs: the old configuration can go. */
    r->next.mgr = s->mgr;
    s->mgr = NULL;
    rm_session_close(s);
    *s = r->next;
    memset(&r->next, 0, sizeof(r->next));
    x->thresholds = s->cfg->thresholds;
    rm_collector_set_pglogical(x->col, s->cfg->pglogical);
    rm_palette_resolve(&s->cfg->theme, &x->palette);
    rm_term_palette(x->term, &x->palette);
    serve_nodes(x);
    say(x, RM_EVL_INFO, NULL,
        "configuration reloaded: %zu node%s added, %zu removed, %zu "
        "replaced",
        r->added, r->added == 1 ? "" : "s", r->removed, r->replaced);
}

/* The node ids the endpoints serve: the session's, in order. */
static void serve_nodes(dash_t *x)
{
    const char **ids;
    size_t i;

    if (x->serve == NULL)
        return;
    ids = calloc(x->s->count ? x->s->count : 1, sizeof(*ids));
    if (ids != NULL) {
        for (i = 0; i < x->s->count; i++)
            ids[i] = x->s->targets[i].id;
    }
    if (ids == NULL || rm_serve_set_nodes(x->serve, ids, x->s->count) != 0)
        say(x, RM_EVL_WARNING, NULL,
            "out of memory: the metrics keep the previous nodes");
    free(ids);
}

/* Publish the dashboard's data to the endpoints once an interval: first
 * when every node has finished a round (or after two intervals), then at
 * most once an interval while rounds finish. */
static void publish(dash_t *x)
{
    const rm_snapshot_t *cur = rm_collector_snapshot(x->col);
    const rm_node_meta_t *meta = rm_collector_meta(x->col);
    int64_t now = rm_clock_mono_us() / 1000, slowest_us = 0;
    rm_snapshot_t *copy;
    size_t i;

    if (x->serve == NULL || !x->publish_pending)
        return;
    if (x->published_mono == 0) {
        int all = 1;

        for (i = 0; i < cur->count; i++)
            if (meta[i].attempt_ms == 0)
                all = 0;
        if (!all && rm_clock_epoch_ms() - x->started_ms < 2 * x->ui.interval_ms)
            return;
    } else if (now - x->published_mono < x->ui.interval_ms) {
        return;
    }
    copy = rm_snapshot_copy(cur);
    if (copy == NULL) {
        rm_serve_round_failed(x->serve);
        return;
    }
    copy->collected_ms = rm_clock_epoch_ms();
    for (i = 0; i < cur->count; i++)
        if (meta[i].round_us > slowest_us)
            slowest_us = meta[i].round_us;
    copy->elapsed_us = slowest_us;
    if (rm_serve_publish(x->serve, copy, &x->thresholds, x->s->cluster) != 0)
        rm_serve_round_failed(x->serve);
    x->published_mono = now;
    x->publish_pending = 0;
}

static void collect(dash_t *x)
{
    rm_snapshot_t *snap;
    int64_t now = rm_clock_epoch_ms();

    if (rm_collector_update(x->col) > 0 || !x->have_ev) {
        x->publish_pending = 1;
        snap = rm_collector_snapshot(x->col);
        rm_history_sample(x->hist, snap, rm_collector_meta(x->col),
                          rm_collector_changed(x->col));
    }
    /* Forget the history of objects gone for a while (dropped slots,
     * removed nodes); live series get a sample every interval. */
    if (now - x->pruned_ms > 60000) {
        int64_t keep = 3 * x->ui.interval_ms > PRUNE_AFTER_MS
                           ? 3 * x->ui.interval_ms
                           : PRUNE_AFTER_MS;

        rm_history_prune(x->hist, now - keep);
        x->pruned_ms = now;
    }
    snap = rm_collector_snapshot(x->col);
    rm_history_rates(x->hist, snap, now);
    if (x->have_ev)
        rm_eval_free(&x->ev);
    x->have_ev = rm_evaluate(snap, &x->thresholds, &x->ev) == 0;
    publish(x);
}

static void drain(int fd)
{
    char buf[256];

    while (read(fd, buf, sizeof(buf)) > 0) {
    }
}

static int draw(dash_t *x, rm_view_t *view, rm_canvas_t *canvas)
{
    rm_view_input_t in;
    int w, h;

    /* New events (libpgcm's, or a message of ours), unless paused. */
    if (!x->ui.paused && rm_eventpane_seq(x->pane) != x->events_seq) {
        x->events_seq = rm_eventpane_seq(x->pane);
        x->nevents = rm_eventpane_copy(x->pane, x->events, EVENTS_KEPT);
    }
    memset(&in, 0, sizeof(in));
    in.snap = rm_collector_snapshot(x->col);
    in.ev = x->have_ev ? &x->ev : NULL;
    in.meta = rm_collector_meta(x->col);
    in.thresholds = &x->thresholds;
    in.history = x->hist;
    in.events = x->events;
    in.nevents = x->nevents;
    in.cluster = x->d->title != NULL ? x->d->title : x->s->cluster;
    in.now_ms = x->ui.paused ? x->paused_at_ms : rm_clock_epoch_ms();
    in.started_ms = x->started_ms;
    in.interval_ms = x->ui.interval_ms;
    in.paused = x->ui.paused;
    in.utf8 = rm_term_utf8(x->term);
    if (x->message[0] != '\0' &&
        (rm_clock_mono_us() / 1000) < x->message_until) {
        in.message = x->message;
        in.message_level = x->message_level;
    }
    rm_view_free(view);
    if (rm_view_build(view, &in, x->ui.filtering ? x->ui.edit : x->ui.filter) !=
        0)
        return -1;
    rm_ui_sync(&x->ui, view);
    rm_term_size(x->term, &w, &h);
    if (canvas->w != w || canvas->h != h || canvas->cells == NULL) {
        rm_canvas_free(canvas);
        if (rm_canvas_init(canvas, w, h, in.utf8) != 0)
            return -1;
    }
    rm_screen_render(canvas, view, &in, &x->ui);
    rm_term_draw(x->term, canvas);
    return 0;
}

static rm_event_level_t outcome_level(rm_op_outcome_t o)
{
    switch (o) {
    case RM_OP_OK:
    case RM_OP_DRY_RUN:
        return RM_EVL_INFO;
    case RM_OP_FAILED:
        return RM_EVL_CRITICAL;
    default:
        return RM_EVL_WARNING;
    }
}

/* An operation's outcome: into the structured log (rm_op_log) and the
 * events pane. */
static void op_record(dash_t *x, const rm_op_request_t *req,
                      const rm_op_plan_t *plan, const char *role,
                      rm_op_outcome_t outcome, const char *detail,
                      int64_t elapsed_ms)
{
    rm_op_record_t rec;
    char os_user[128], *msg;

    rm_op_os_user(os_user, sizeof(os_user));
    memset(&rec, 0, sizeof(rec));
    rec.req = req;
    rec.plan = plan;
    rec.node = plan != NULL ? plan->node : req->node;
    rec.os_user = os_user;
    rec.role = role != NULL && role[0] != '\0' ? role : NULL;
    rec.outcome = outcome;
    rec.detail = detail != NULL && detail[0] != '\0' ? detail : NULL;
    rec.elapsed_ms = elapsed_ms;
    rm_op_log(&rec);
    msg = rm_op_log_message(&rec);
    say(x, outcome_level(outcome), rm_op_log_node(&rec), "%s%s%s",
        msg != NULL ? msg : rm_op_outcome_name(outcome),
        rec.detail != NULL ? ": " : "", rec.detail != NULL ? rec.detail : "");
    free(msg);
}

static void plan_op(dash_t *x)
{
    rm_op_request_t req;
    rm_op_plan_t plan;
    char err[640];
    int rc;

    rm_ops_menu_request(&x->ui, &req);
    memset(&plan, 0, sizeof(plan));
    rc = rm_op_plan(rm_collector_snapshot(x->col), &req, &plan, err,
                    sizeof(err));
    if (rc == 0) {
        rm_ops_menu_planned(&x->ui, &plan);
        return;
    }
    if (rc == -2)
        snprintf(err, sizeof(err), "out of memory");
    rm_ops_menu_refused(&x->ui, err);
    op_record(x, &req, rc == -1 && plan.node[0] ? &plan : NULL, NULL,
              RM_OP_REFUSED, err, 0);
    rm_op_plan_free(&plan);
}

static void start_op(dash_t *x)
{
    op_job_t *j = &x->op;
    rm_op_request_t req;

    if (j->running) {
        rm_ops_menu_refused(&x->ui, "an operation is still running: wait for "
                                    "its outcome in the events panel");
        return;
    }
    rm_ops_menu_request(&x->ui, &req);
    job_request(j, &req);
    if (rm_ops_menu_take(&x->ui, &j->plan) != 0)
        return;
    memset(&j->res, 0, sizeof(j->res));
    j->mgr = x->s->mgr;
    j->timeout_ms = x->d->query_timeout_ms;
    j->wake_fd = x->wake[1];
    j->done = 0;
    if (pthread_create(&j->thread, NULL, op_thread, j) != 0) {
        op_record(x, &j->req, &j->plan, NULL, RM_OP_FAILED,
                  "cannot start a thread to run it", 0);
        rm_op_plan_free(&j->plan);
        return;
    }
    j->running = 1;
    say(x, RM_EVL_INFO, j->plan.node, "%s: running", j->plan.summary);
}

/* The outcome of the operation run, once it is done (wait: wait for it). */
static void finish_op(dash_t *x, int wait)
{
    op_job_t *j = &x->op;

    if (!j->running || (!wait && !__atomic_load_n(&j->done, __ATOMIC_ACQUIRE)))
        return;
    pthread_join(j->thread, NULL);
    j->running = 0;
    op_record(x, &j->req, &j->plan, j->res.role, j->res.outcome,
              j->res.outcome == RM_OP_OK ? NULL : j->res.message,
              j->res.elapsed_ms);
    /* Show the change at once. */
    rm_collector_run_now(x->col, j->plan.node);
    rm_op_plan_free(&j->plan);
}

static void abandon_op(dash_t *x)
{
    rm_op_request_t req;

    rm_ops_menu_request(&x->ui, &req);
    if (x->ui.ops.have_plan)
        op_record(x, &req, &x->ui.ops.plan, NULL, RM_OP_ABANDONED,
                  "not confirmed", 0);
    rm_ops_menu_close(&x->ui);
}

/* Carry out what a key asks for. Returns 1 to quit. */
static int act(dash_t *x, const rm_action_t *a)
{
    int rc;

    switch (a->kind) {
    case RM_ACT_QUIT:
        return 1;
    case RM_ACT_RELOAD:
        start_reload(x);
        break;
    case RM_ACT_RETRY:
        rc = pgcm_node_retry(x->s->mgr, a->node);
        rm_collector_run_now(x->col, a->node);
        if (rc == PGCM_OK)
            say(x, RM_EVL_INFO, a->node, "retrying %s now", a->node);
        else
            say(x, RM_EVL_WARNING, a->node, "cannot retry %s: %s", a->node,
                pgcm_strerror(rc));
        break;
    case RM_ACT_INTERVAL:
        say(x, RM_EVL_INFO, NULL, "refreshing every %.1f s",
            (double)x->ui.interval_ms / 1000.0);
        break;
    case RM_ACT_OPS_OPEN: {
        char why[256];

        if (rm_ops_menu_open(&x->ui, rm_collector_snapshot(x->col), a->key, why,
                             sizeof(why)) != 0)
            say(x, RM_EVL_WARNING, NULL, "%s", why);
        break;
    }
    case RM_ACT_OPS_PLAN:
        plan_op(x);
        break;
    case RM_ACT_OPS_RUN:
        start_op(x);
        break;
    case RM_ACT_OPS_ABANDON:
        abandon_op(x);
        break;
    case RM_ACT_PAUSE:
        if (x->ui.paused)
            x->paused_at_ms = rm_clock_epoch_ms();
        say(x, RM_EVL_INFO, NULL, "%s",
            x->ui.paused ? "paused: the screen keeps what it shows; p "
                           "resumes"
                         : "resumed");
        break;
    default:
        break;
    }
    return 0;
}

static int loop(dash_t *x)
{
    rm_view_t view;
    rm_canvas_t canvas;
    int64_t next_tick = 0, last_draw = 0, next_second;
    int quit = 0, dirty = 1, news = 1, rc = RM_EXIT_OK;

    memset(&view, 0, sizeof(view));
    memset(&canvas, 0, sizeof(canvas));
    while (!quit && !g_quit) {
        struct pollfd fds[2];
        int64_t now = (rm_clock_mono_us() / 1000), timeout,
                due = x->ui.interval_ms;
        rm_key_t k;

        if (g_reload) {
            g_reload = 0;
            start_reload(x);
            dirty = 1;
        }
        if (x->reload.running && x->reload.done) {
            finish_reload(x);
            dirty = 1;
        }
        if (x->op.running && __atomic_load_n(&x->op.done, __ATOMIC_ACQUIRE)) {
            finish_op(x, 0);
            dirty = 1;
        }
        if (!x->ui.paused)
            due = rm_collector_tick(x->col, x->ui.interval_ms);
        if (x->d->tick != NULL && now >= next_tick) {
            x->d->tick(x->d->tick_user, x->s->mgr);
            next_tick = now + x->d->tick_ms;
        }
        /* Rounds finish one node at a time: take them and redraw at most
         * every DRAW_EVERY_MS, so that a hundred nodes cost one redraw. */
        now = (rm_clock_mono_us() / 1000);
        if (dirty || (news && now - last_draw >= DRAW_EVERY_MS)) {
            if (!x->ui.paused && (news || dirty))
                collect(x);
            if (draw(x, &view, &canvas) != 0) {
                rc = RM_EXIT_FAILURE;
                break;
            }
            last_draw = now;
            dirty = 0;
            news = 0;
        }
        /* Sleep until a key, a finished round, an event or a signal, or
         * until the next round, a second after the last redraw (the clock
         * and the ages), the demo's next write, or the held back
         * redraw. */
        next_second = last_draw + 1000 - now;
        timeout = due < next_second ? due : next_second;
        if (x->d->tick != NULL && next_tick - now < timeout)
            timeout = next_tick - now;
        if (news && last_draw + DRAW_EVERY_MS - now < timeout)
            timeout = last_draw + DRAW_EVERY_MS - now;
        if (timeout < 1)
            timeout = 1;
        fds[0].fd = STDIN_FILENO;
        fds[0].events = POLLIN;
        fds[1].fd = x->wake[0];
        fds[1].events = POLLIN;
        fds[0].revents = fds[1].revents = 0;
        if (poll(fds, 2, (int)timeout) < 0 && errno != EINTR)
            break;
        if (fds[0].revents & (POLLHUP | POLLERR | POLLNVAL))
            break; /* the terminal went away */
        if (fds[1].revents & POLLIN) {
            drain(x->wake[0]);
            news = 1;
        }
        /* Keys first, each drawn at once (with the data as it is). */
        while (!quit && rm_term_key(x->term, &k)) {
            rm_action_t a;

            if (k.code == RM_K_NONE)
                continue;
            a = rm_ui_key(&x->ui, k, &view);
            quit = act(x, &a);
            if (!quit && a.kind != RM_ACT_NONE) {
                if (a.kind == RM_ACT_PAUSE && !x->ui.paused)
                    collect(x);
                if (draw(x, &view, &canvas) != 0) {
                    rc = RM_EXIT_FAILURE;
                    quit = 1;
                }
                last_draw = (rm_clock_mono_us() / 1000);
            }
        }
        /* A timeout: a round is due (started above, drawn when it ends),
         * or the clock and the ages need a redraw. */
        if (fds[0].revents == 0 && fds[1].revents == 0 &&
            (rm_clock_mono_us() / 1000) - last_draw >= 990)
            dirty = 1;
    }
    rm_view_free(&view);
    rm_canvas_free(&canvas);
    return rc;
}

int rm_dashboard_run(const rm_dashboard_t *d)
{
    dash_t x;
    char err[256];
    int rc = RM_EXIT_FAILURE, flags, i;

    memset(&x, 0, sizeof(x));
    x.d = d;
    x.s = d->session;
    x.wake[0] = x.wake[1] = -1;
    x.started_ms = rm_clock_epoch_ms();
    x.thresholds = x.s->cfg->thresholds;
    rm_palette_resolve(&x.s->cfg->theme, &x.palette);
    rm_ui_init(&x.ui, d->interval_ms);
    if (pipe(x.wake) != 0) {
        fprintf(stderr, "replmon watch: cannot create a pipe: %s\n",
                strerror(errno));
        return RM_EXIT_FAILURE;
    }
    for (i = 0; i < 2; i++) {
        flags = fcntl(x.wake[i], F_GETFL);
        fcntl(x.wake[i], F_SETFL, flags | O_NONBLOCK);
        fcntl(x.wake[i], F_SETFD, FD_CLOEXEC);
    }
    x.pane = rm_eventpane_new(EVENTS_KEPT);
    x.hist = rm_history_new(HISTORY_SAMPLES);
    x.events = calloc(EVENTS_KEPT, sizeof(*x.events));
    if (x.pane == NULL || x.hist == NULL || x.events == NULL) {
        fprintf(stderr, "replmon watch: out of memory\n");
        goto out;
    }
    g_quit = 0;
    g_reload = 0;
    g_wake_fd = x.wake[1];
    install_signals();
    /* The manager: events subscribed before the nodes start, which are
     * not waited for (the screen shows them connecting). */
    if (d->application_name != NULL)
        x.s->cfg->options.application_name = d->application_name;
    if (d->health_check_interval_ms > 0)
        x.s->cfg->options.health_check_interval_ms =
            d->health_check_interval_ms;
    x.s->before_start = subscribe;
    x.s->before_start_user = &x;
    x.s->no_wait = 1;
    if (d->metrics_host != NULL) {
        x.serve = rm_serve_new(1, 1);
        if (x.serve == NULL) {
            fprintf(stderr, "replmon watch: out of memory\n");
            goto out;
        }
        if (rm_serve_listen(x.serve, d->metrics_host, d->metrics_port, err,
                            sizeof(err)) != 0) {
            fprintf(stderr,
                    "replmon watch: %s; give another --metrics-listen\n", err);
            goto out;
        }
        /* The acquire and lifetime histograms come from the log hook. */
        x.s->log_cb = rm_serve_log_hook;
        x.s->log_user = x.serve;
        x.s->log_level = PGCM_LOG_DEBUG;
    }
    if (rm_session_start(x.s, d->query_timeout_ms, "watch") != 0)
        goto out;
    if (x.serve != NULL) {
        rm_serve_set_manager(x.serve, x.s->mgr);
        serve_nodes(&x);
    }
    x.col = rm_collector_new(x.s->mgr, d->query_timeout_ms, x.s->cfg->pglogical,
                             x.wake[1]);
    if (x.col == NULL ||
        rm_collector_set_targets(x.col, x.s->targets, x.s->count) != 0) {
        fprintf(stderr, "replmon watch: out of memory\n");
        goto out;
    }
    x.term = rm_term_open(
        &x.palette, getenv("NO_COLOR") != NULL && getenv("NO_COLOR")[0] != '\0',
        err, sizeof(err));
    if (x.term == NULL) {
        fprintf(stderr, "replmon watch: %s\n", err);
        goto out;
    }
    rc = loop(&x);
out:
    /* The terminal first, so that it is back at once even when the
     * shutdown waits for a hung node. */
    rm_term_close(x.term);
    if (x.serve != NULL) {
        rm_serve_set_draining(x.serve);
        rm_serve_stop_listening(x.serve);
        rm_serve_set_manager(x.serve, NULL);
    }
    if (x.col != NULL)
        rm_collector_stop(x.col);
    if (x.reload.running) {
        pthread_join(x.reload.thread, NULL);
        rm_session_close(&x.reload.next);
    }
    /* An operation under way ends (its statements have timeouts) and is
     * logged before the manager goes. */
    finish_op(&x, 1);
    rm_ops_menu_close(&x.ui);
    if (x.s->mgr != NULL)
        pgcm_manager_shutdown(x.s->mgr);
    rm_collector_free(x.col);
    /* Its log hook is the manager's: freed once no callback can fire. */
    rm_serve_free(x.serve);
    g_wake_fd = -1;
    if (x.have_ev)
        rm_eval_free(&x.ev);
    rm_history_free(x.hist);
    rm_eventpane_free(x.pane);
    free(x.events);
    close(x.wake[0]);
    close(x.wake[1]);
    if (rc == RM_EXIT_OK && g_quit != 0 && g_quit != SIGINT &&
        g_quit != SIGTERM)
        rc = RM_EXIT_FAILURE;
    return rc;
}
