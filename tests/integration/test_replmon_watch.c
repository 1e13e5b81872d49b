/* SPDX-License-Identifier: MIT */
/*
 * test_replmon_watch.c - `replmon watch` in a real terminal (tmux) against
 * real servers: a publisher, a subscriber with logical replication and a
 * spare node. The node rows and every panel appear; each panel key,
 * details, help, the filter, pause, the interval keys and a resize to 80x24
 * and back; a killed server's row turns unhealthy within 3 s and healthy
 * again after a restart and r; a frozen server does not delay a key (each
 * switches the panel within 1 s); SIGHUP with a valid and an invalid file
 * (and R); colour, and none with NO_COLOR; q exits 0, gives the terminal
 * back as it was and leaves no connection on the servers. Also bare
 * `replmon` with and without a terminal, the original tool's flags, and
 * `replmon demo` on a terminal. An operation from the dashboard: o on a
 * slot, drop, a wrong name (the slot stays on the server), the right one
 * (it is gone) and the outcome in the events panel. With --metrics-listen,
 * replmon serve's endpoints answer from the dashboard's rounds while it runs.
 *
 * The screen is polled with deadlines, never read after fixed sleeps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "http_get.h"
#include "localpg.h"
#include "replmon_run.h"
#include "tmuxterm.h"

#include "replmon_fixture.h"

#define APPEAR_MS 30000 /* first rows (servers and tmux on a busy machine) */
#define KEY_MS    5000  /* a key's effect, when nothing is broken */

static localpg_server_t *pub, *sub, *spare;
static char dir[] = "/tmp/replmon-it-watch-XXXXXX";

/* The fixture's exec (it fails the test on an error). */
static void exec_or_fail(localpg_server_t *s, const char *sql)
{
    free(fixture_exec(s, sql));
}

/* Write a configuration naming the given nodes (of pub, sub, spare). */
static void write_config(const char *path, int with_spare, const char *extra)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fprintf(f,
            "manager: { application_name: %s, health_check_interval: 1s }\n"
            "defaults: { host: 127.0.0.1, user: postgres, database: postgres "
            "}\n"
            "nodes:\n"
            "  pub: { port: %d }\n"
            "  sub: { port: %d }\n",
            fixture_app_name(), localpg_port(pub), localpg_port(sub));
    if (with_spare)
        fprintf(f, "  spare: { port: %d }\n", localpg_port(spare));
    if (extra != NULL)
        fputs(extra, f);
    fclose(f);
}

static void config_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s.yaml", dir, name);
}

static int setup(void **state)
{
    (void)state;
    if (mkdtemp(dir) == NULL)
        fail_msg("mkdtemp: %s", strerror(errno));
    pub = rm_start_server(NULL, "watch_pub", 1, "publisher");
    sub = rm_start_server(NULL, "watch_sub", 0, "subscriber");
    rm_native_replication(pub, sub, "s1");
    spare = rm_start_server(NULL, "watch_spare", 0, "spare");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (spare != NULL && localpg_is_running(spare))
        localpg_thaw(spare);
    localpg_destroy(spare);
    localpg_destroy(sub);
    localpg_destroy(pub);
    rm_remove_dir(dir);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* The dashboard in tmux                                                  */
/* ---------------------------------------------------------------------- */

/* Start `replmon ARGS` in a w x h terminal. After it ends, the pane
 * shows its exit status and the terminal's modes. */
static tmuxterm_t *start_watch(const char *args, int w, int h, int no_color)
{
    static const char *env_color[] = {"LANG=C.UTF-8", "LC_ALL=C.UTF-8",
                                      "TZ=UTC", NULL};
    static const char *env_mono[] = {"LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TZ=UTC",
                                     "NO_COLOR=1", NULL};
    char cmd[2048], err[256];
    tmuxterm_t *t;

    snprintf(cmd, sizeof(cmd),
             "%s %s; echo \"replmon-exit=$?\"; printf 'modes:'; "
             "stty -a | tr ' ;' '\\n\\n' | "
             "grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; "
             "echo; exec sleep 600",
             replmon_binary(), args);
    t = tmuxterm_start(cmd, w, h, no_color ? env_mono : env_color, err,
                       sizeof(err));
    if (t == NULL)
        fail_msg("%s", err);
    return t;
}

static void dump(tmuxterm_t *t)
{
    char *screen = tmuxterm_capture(t);

    print_message("---- screen ----\n%s\n----------------\n",
                  screen ? screen : "(none)");
    free(screen);
}

/* Fail the test with the screen shown first, then the terminal stopped. */
static void fail_on_screen(tmuxterm_t *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fail_on_screen(tmuxterm_t *t, const char *fmt, ...)
{
    char why[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    dump(t);
    tmuxterm_stop(t);
    fail_msg("%s", why);
}

/* Wait up to timeout_ms until the screen shows text (gone: until it no
 * longer does); key names the key pressed just before (NULL: none) for the
 * message. */
static void wait_screen(tmuxterm_t *t, const char *key, const char *text,
                        int gone, int timeout_ms)
{
    char after[64] = "";

    if (gone ? tmuxterm_wait_gone(t, text, timeout_ms)
             : tmuxterm_wait(t, text, timeout_ms))
        return;
    if (key != NULL)
        snprintf(after, sizeof(after), "after key %s, ", key);
    fail_on_screen(t, "%sthe screen %s \"%s\" %s %d ms", after,
                   gone ? "still shows" : "did not show", text,
                   gone ? "after" : "within", timeout_ms);
}

static void expect(tmuxterm_t *t, const char *text, int timeout_ms)
{
    wait_screen(t, NULL, text, 0, timeout_ms);
}

static void expect_gone(tmuxterm_t *t, const char *text, int timeout_ms)
{
    wait_screen(t, NULL, text, 1, timeout_ms);
}

/* Key (tmux's name for it), then the screen shows text within KEY_MS. */
static void press(tmuxterm_t *t, const char *key, const char *text)
{
    tmuxterm_keys(t, key);
    wait_screen(t, key, text, 0, KEY_MS);
}

/* Key, then text leaves the screen within KEY_MS. */
static void press_gone(tmuxterm_t *t, const char *key, const char *text)
{
    tmuxterm_keys(t, key);
    wait_screen(t, key, text, 1, KEY_MS);
}

/* Type the filter text: / opens it, Enter applies it. */
static void set_filter(tmuxterm_t *t, const char *text)
{
    char shown[128];

    press(t, "/", "filter: /");
    tmuxterm_type(t, text);
    snprintf(shown, sizeof(shown), "filter: %s", text);
    press(t, "Enter", shown);
}

/* Whether a row of the nodes panel (starting "│ ID " or "│▶ID ") shows
 * text. */
static int row_shows(tmuxterm_t *t, const char *id, const char *text)
{
    char *screen = tmuxterm_capture(t), *line, *save = NULL;
    char a[96], b[96];
    int found = 0;

    if (screen == NULL)
        return 0;
    snprintf(a, sizeof(a), "\u2502 %s ", id);
    snprintf(b, sizeof(b), "\u2502\u25b6%s ", id);
    for (line = strtok_r(screen, "\n", &save); line != NULL && !found;
         line = strtok_r(NULL, "\n", &save)) {
        if ((strncmp(line, a, strlen(a)) == 0 ||
             strncmp(line, b, strlen(b)) == 0) &&
            strstr(line, text) != NULL)
            found = 1;
    }
    free(screen);
    return found;
}

/* Wait until the row of node id shows text; returns the ms it took or -1
 * after timeout_ms. */
static int64_t wait_row(tmuxterm_t *t, const char *id, const char *text,
                        int timeout_ms)
{
    int64_t start = fixture_now_ms();

    while (fixture_now_ms() - start < timeout_ms) {
        if (row_shows(t, id, text))
            return fixture_now_ms() - start;
        fixture_sleep_ms(10);
    }
    return -1;
}

static void expect_row(tmuxterm_t *t, const char *id, const char *text,
                       int timeout_ms)
{
    if (wait_row(t, id, text, timeout_ms) < 0)
        fail_on_screen(t, "row %s did not show \"%s\" within %d ms", id, text,
                       timeout_ms);
}

/* q: exit 0, the terminal's modes back (line editing, echo), no
 * connection of ours left on the servers. */
static void quit_cleanly(tmuxterm_t *t)
{
    localpg_server_t *all[3] = {pub, sub, spare};

    tmuxterm_keys(t, "q");
    expect(t, "replmon-exit=", 20000);
    expect(t, "modes:", 5000);
    if (tmuxterm_wait(t, "replmon-exit=0", 1000) == 0 ||
        tmuxterm_wait(t, "modes:icanon echo", 1000) == 0)
        fail_on_screen(t, "replmon did not exit 0 with the terminal restored");
    /* The alternate screen is gone: the dashboard is no longer shown. */
    expect_gone(t, "Nodes [n]", 2000);
    tmuxterm_stop(t);
    fixture_assert_no_connections(all, 3, fixture_app_name());
}

/* Whether an SGR sequence of the screen sets a foreground or background
 * colour (30-38, 40-48, 90-97, 100-107); 39 and 49 are the defaults. */
static int has_colour(const char *styled)
{
    const char *p = styled;

    while ((p = strstr(p, "\033[")) != NULL) {
        const char *q = p + 2;

        while (*q != '\0' && *q != 'm' &&
               (*q == ';' || (*q >= '0' && *q <= '9'))) {
            long v = strtol(q, (char **)&q, 10);

            if ((v >= 30 && v <= 38) || (v >= 40 && v <= 48) ||
                (v >= 90 && v <= 97) || (v >= 100 && v <= 107))
                return 1;
            if (*q == ';')
                q++;
        }
        p = q;
    }
    return 0;
}

static void wait_all_healthy(tmuxterm_t *t, int with_spare)
{
    expect_row(t, "pub", "\u25cf healthy", APPEAR_MS);
    expect_row(t, "sub", "\u25cf healthy", APPEAR_MS);
    if (with_spare)
        expect_row(t, "spare", "\u25cf healthy", APPEAR_MS);
}

/* Write the configuration `name` (write_config with with_spare and
 * extra), start `replmon COMMAND <its path> FLAGS` in a w x h terminal
 * (start_watch) and wait until its nodes are healthy. */
static tmuxterm_t *start_on_config(const char *name, int with_spare,
                                   const char *extra, const char *command,
                                   const char *flags, int w, int h,
                                   int no_color)
{
    char cfg[PATH_MAX], args[2 * PATH_MAX];
    tmuxterm_t *t;

    config_path(cfg, sizeof(cfg), name);
    write_config(cfg, with_spare, extra);
    snprintf(args, sizeof(args), "%s %s %s", command, cfg, flags);
    t = start_watch(args, w, h, no_color);
    wait_all_healthy(t, with_spare);
    return t;
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                  */
/* ---------------------------------------------------------------------- */

static void test_panels_keys_and_resize(void **state)
{
    static const struct {
        const char *key, *title;
    } panels[] = {{"t", "Topology [t]"},       {"s", "Subscriptions [s]"},
                  {"l", "Slots [l]"},          {"b", "Standbys [b]"},
                  {"x", "Cross-node lag [x]"}, {"c", "Conflicts [c]"},
                  {"f", "Findings [f]"},       {"e", "Events [e]"},
                  {"n", "Nodes [n]"},          {"Tab", "Topology [t]"},
                  {"BTab", "Nodes [n]"},       {"BTab", "Events [e]"}};
    char title[96], *styled;
    tmuxterm_t *t;
    size_t i;

    (void)state;
    t = start_on_config("panels", 1, NULL, "watch --config", "--timeout 2s",
                        120, 40, 0);
    /* The wide layout: every main panel at once, the summary on top. */
    expect(t, "3 nodes: 3 ok", KEY_MS);
    expect(t, "\u25cf live", KEY_MS);
    expect(t, "Topology [t]", KEY_MS);
    expect(t, "Subscriptions [s]", KEY_MS);
    expect(t, "Slots [l]", KEY_MS);
    expect(t, "Findings [f]", KEY_MS);
    expect(t, "Events [e]", KEY_MS);
    expect(t, "\u2500 logical s1", KEY_MS);
    expect(t, "streaming", KEY_MS);
    expect(t, "primary,publisher", KEY_MS);
    /* States in colour: 256-colour escapes on the screen. */
    styled = tmuxterm_capture_styled(t);
    assert_non_null(styled);
    assert_true(has_colour(styled));
    assert_non_null(strstr(styled, "\033[38;5;"));
    free(styled);

    /* 80x24: one panel at a time, every one a key away. */
    tmuxterm_resize(t, 80, 24);
    expect_gone(t, "Topology [t]", KEY_MS);
    expect(t, "\u250c Nodes [n]", KEY_MS);
    for (i = 0; i < sizeof(panels) / sizeof(panels[0]); i++) {
        snprintf(title, sizeof(title), "\u250c %s", panels[i].title);
        press(t, panels[i].key, title);
    }
    /* Details of the selected node, live; help; Esc closes both. */
    press(t, "n", "\u250c Nodes [n]");
    press(t, "Enter", "Node pub");
    expect(t, "last probe ok", KEY_MS);
    press_gone(t, "Escape", "Node pub");
    press(t, "?", "replmon watch - keys");
    press_gone(t, "Escape", "replmon watch - keys");
    /* The filter. */
    set_filter(t, "spare");
    expect(t, "2 hidden by the filter", KEY_MS);
    press_gone(t, "Escape", "hidden by the filter");
    /* Pause, interval. */
    press(t, "p", "paused");
    press(t, "p", "\u25cf live");
    press(t, "+", "refreshing every 2.0 s");
    expect(t, " 2s ", KEY_MS);
    press(t, "-", "refreshing every 1.0 s");
    /* Back to 120x40: the wide layout again. */
    tmuxterm_resize(t, 120, 40);
    expect(t, "Topology [t]", KEY_MS);
    expect(t, "Slots [l]", KEY_MS);
    quit_cleanly(t);
}

static void test_killed_node_turns_unhealthy_and_back(void **state)
{
    tmuxterm_t *t;
    int64_t start, took;

    (void)state;
    t = start_on_config("kill", 1, NULL, "watch --config", "--timeout 2s", 120,
                        40, 0);
    start = fixture_now_ms();
    if (localpg_kill(spare) != 0)
        fail_msg("kill: %s", localpg_last_error(spare));
    /* Unhealthy (or already trying again) within 3 s. */
    while ((took = fixture_now_ms() - start) < 3000) {
        if (row_shows(t, "spare", "UNHEALTHY") ||
            row_shows(t, "spare", "reconnecting"))
            break;
        fixture_sleep_ms(10);
    }
    if (took >= 3000)
        fail_on_screen(t, "the killed node's row did not turn unhealthy "
                          "within 3 s");
    print_message("killed node shown unhealthy after %lld ms\n",
                  (long long)took);
    expect(t, "CRIT", KEY_MS);
    if (localpg_restart(spare) != 0)
        fail_msg("restart: %s", localpg_last_error(spare));
    /* r on its row retries now instead of after the backoff. */
    tmuxterm_keys(t, "G");
    press(t, "r", "retrying spare now");
    expect_row(t, "spare", "\u25cf healthy", 15000);
    quit_cleanly(t);
}

static void test_frozen_node_does_not_freeze_keys(void **state)
{
    static const char *const keys[] = {"s", "l", "e", "n"};
    static const char *const titles[] = {
        "\u250c Subscriptions [s]", "\u250c Slots [l]", "\u250c Events [e]",
        "\u250c Nodes [n]"};
    tmuxterm_t *t;
    int64_t worst = 0, start;
    int i;

    (void)state;
    t = start_on_config("freeze", 1, NULL, "watch --config", "--timeout 3s", 80,
                        24, 0);
    if (localpg_freeze(spare) != 0)
        fail_msg("freeze: %s", localpg_last_error(spare));
    /* Keys while the node hangs, over longer than the query timeout. */
    start = fixture_now_ms();
    for (i = 0; fixture_now_ms() - start < 7000 || i < 8; i++) {
        int64_t sent = fixture_now_ms(), took;

        tmuxterm_keys(t, keys[i % 4]);
        if (!tmuxterm_wait(t, titles[i % 4], 1000)) {
            localpg_thaw(spare);
            fail_on_screen(t,
                           "key %s did not switch the panel within 1 s while "
                           "a node was frozen",
                           keys[i % 4]);
        }
        took = fixture_now_ms() - sent;
        if (took > worst)
            worst = took;
        fixture_sleep_ms(200);
    }
    print_message("slowest key while frozen: %lld ms\n", (long long)worst);
    /* The frozen node is marked (stale or unhealthy); the others stay
     * fresh. */
    press(t, "n", "\u250c Nodes [n]");
    if (wait_row(t, "spare", "stale", 10000) < 0 &&
        wait_row(t, "spare", "UNHEALTHY", 1000) < 0) {
        localpg_thaw(spare);
        fail_on_screen(t, "the frozen node is shown neither stale nor "
                          "unhealthy");
    }
    assert_false(row_shows(t, "pub", "stale"));
    assert_false(row_shows(t, "sub", "stale"));
    if (localpg_thaw(spare) != 0)
        fail_msg("thaw: %s", localpg_last_error(spare));
    tmuxterm_keys(t, "G");
    tmuxterm_keys(t, "r");
    expect_row(t, "spare", "\u25cf healthy", 20000);
    quit_cleanly(t);
}

static void test_sighup_reload(void **state)
{
    char cfg[PATH_MAX];
    tmuxterm_t *t;
    pid_t pid;

    (void)state;
    t = start_on_config("reload", 0, NULL, "watch --config", "--timeout 2s",
                        120, 40, 0);
    config_path(cfg, sizeof(cfg), "reload");
    expect(t, "2 nodes", KEY_MS);
    pid = tmuxterm_pid(t);
    assert_true(pid > 0);
    /* A valid file with one more node: added, the others untouched. */
    write_config(cfg, 1, NULL);
    assert_int_equal(kill(pid, SIGHUP), 0);
    expect(t, "configuration reloaded: 1 node added, 0 removed, 0 replaced",
           KEY_MS * 2);
    expect_row(t, "spare", "\u25cf healthy", APPEAR_MS);
    expect(t, "3 nodes", KEY_MS);
    /* An invalid file: the error is shown, the old one keeps running. */
    write_config(cfg, 1, "colour: blue\n");
    assert_int_equal(kill(pid, SIGHUP), 0);
    expect(t, "reload failed, the old configuration keeps running", KEY_MS);
    expect(t, "colour", KEY_MS);
    expect(t, "3 nodes", KEY_MS);
    assert_true(row_shows(t, "spare", "healthy"));
    /* R does the same. */
    tmuxterm_keys(t, "Escape");
    write_config(cfg, 0, NULL);
    tmuxterm_keys(t, "R");
    expect(t, "configuration reloaded: 0 nodes added, 1 removed", KEY_MS * 2);
    expect(t, "2 nodes", KEY_MS);
    quit_cleanly(t);
}

static void test_no_colour(void **state)
{
    char *styled;
    tmuxterm_t *t;

    (void)state;
    /* Bare replmon on a terminal is the dashboard; -c is --config. */
    t = start_on_config("mono", 1, "theme: light\n", "-c", "--timeout 2s", 100,
                        30, 1);
    styled = tmuxterm_capture_styled(t);
    assert_non_null(styled);
    assert_false(has_colour(styled));
    /* States still stand out: bold, underline, dim. */
    assert_non_null(strstr(styled, "\033[1m"));
    free(styled);
    /* Ctrl-C quits too, with exit 0. */
    tmuxterm_keys(t, "C-c");
    expect(t, "replmon-exit=0", 20000);
    expect(t, "modes:icanon echo", 5000);
    tmuxterm_stop(t);
}

static void test_without_a_terminal(void **state)
{
    char cfg[PATH_MAX];
    rm_run_t r;

    (void)state;
    config_path(cfg, sizeof(cfg), "plain");
    write_config(cfg, 0, NULL);
    /* Bare replmon: the status report, and a note saying so. */
    {
        const char *args[] = {"--config", cfg, NULL};

        rm_run_expect(args, 60000, 0, &r);
        assert_non_null(strstr(r.err, "no command and no terminal, so this "
                                      "is 'replmon status'"));
        assert_non_null(strstr(r.out, "replmon status: OK"));
        rm_run_free(&r);
    }
    {
        const char *args[] = {"watch", "-c", cfg, NULL};

        rm_run_expect(args, 60000, 1, &r);
        assert_non_null(strstr(r.err, "replmon watch: the dashboard needs a "
                                      "terminal"));
        rm_run_free(&r);
    }
    /* The original tool's flags. */
    {
        const char *args[] = {"-v", NULL};

        rm_run_expect(args, 10000, 0, &r);
        assert_non_null(strstr(r.out, "replmon 0."));
        rm_run_free(&r);
    }
    {
        char port[16];
        const char *args[] = {
            "status",     "--host",      "127.0.0.1", "--port",   port,
            "-d",         "postgres",    "-u",        "postgres", "--password",
            "not-needed", "--pglogical", NULL};

        snprintf(port, sizeof(port), "%d", localpg_port(pub));
        rm_run_expect(args, 60000, 0, &r);
        assert_non_null(strstr(r.err, "warning: --password shows in 'ps'"));
        assert_null(strstr(r.out, "not-needed"));
        assert_null(strstr(r.err, "not-needed"));
        rm_run_free(&r);
    }
    {
        const char *args[] = {"watch", "--interval", "0", NULL};

        rm_run_expect(args, 10000, 64, &r);
        assert_non_null(strstr(r.err, "--interval '0' is not a duration"));
        rm_run_free(&r);
    }
    {
        const char *args[] = {"watch", "--metrics-listen", "nowhere", NULL};

        rm_run_expect(args, 10000, 64, &r);
        assert_non_null(strstr(r.err, "--metrics-listen 'nowhere'"));
        rm_run_free(&r);
    }
}

/* How many slots named name pub has. */
static int pub_slots(const char *name)
{
    char sql[256], *v;
    int n;

    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_replication_slots WHERE slot_name = "
             "'%s'",
             name);
    v = fixture_exec(pub, sql);
    n = v != NULL ? atoi(v) : -1;
    free(v);
    return n;
}

static void test_drop_slot_from_the_dashboard(void **state)
{
    int64_t start;
    tmuxterm_t *t;

    (void)state;
    exec_or_fail(pub, "SELECT pg_create_logical_replication_slot("
                      "'watch_drop_me', 'pgoutput')");
    assert_int_equal(pub_slots("watch_drop_me"), 1);
    t = start_on_config("ops", 0, NULL, "watch --config", "--timeout 2s", 120,
                        40, 0);
    /* The slot alone in the slots panel, so that it is the one selected. */
    tmuxterm_keys(t, "l");
    expect(t, "watch_drop_me", APPEAR_MS);
    set_filter(t, "watch_drop_me");
    press(t, "o", "Operations: slot watch_drop_me on node pub");
    expect(t, "drop (asks for the name)", KEY_MS);
    press(t, "Enter", "type watch_drop_me and Enter");
    expect(t, "pg_drop_replication_slot('watch_drop_me')", KEY_MS);
    /* A wrong name: nothing happens on the server. */
    tmuxterm_type(t, "watch_drop_you");
    press(t, "Enter",
          "'watch_drop_you' is not watch_drop_me: nothing was done");
    assert_int_equal(pub_slots("watch_drop_me"), 1);
    /* The right one: the slot is gone, and the events panel says so. */
    tmuxterm_type(t, "watch_drop_me");
    press_gone(t, "Enter", "Operations: slot watch_drop_me");
    start = fixture_now_ms();
    while (pub_slots("watch_drop_me") != 0) {
        if (fixture_now_ms() - start > KEY_MS)
            fail_on_screen(t, "slot watch_drop_me is still on the server");
        fixture_sleep_ms(50);
    }
    press_gone(t, "Escape", "filter: watch_drop_me");
    press(t, "e", "drop logical slot watch_drop_me on node pub: ok");
    expect_gone(t, "\u2502 watch_drop_me ", KEY_MS);
    quit_cleanly(t);
}

/* GET path until its status is want and its body has text (NULL: any);
 * fails after timeout_ms. */
static void expect_http(int port, const char *path, int want, const char *text,
                        int timeout_ms)
{
    int64_t start = fixture_now_ms();
    http_reply_t r;

    for (;;) {
        http_get(port, path, 2000, &r);
        if (r.status == want && (text == NULL || strstr(r.body, text) != NULL))
            break;
        if (fixture_now_ms() - start > timeout_ms)
            fail_msg("GET %s: status %d, not %d with \"%s\" within %d ms:\n%s",
                     path, r.status, want, text ? text : "", timeout_ms,
                     r.body ? r.body : "");
        http_reply_free(&r);
        fixture_sleep_ms(100);
    }
    http_reply_free(&r);
}

static void test_metrics_listen(void **state)
{
    char flags[96];
    int port = http_free_port();
    http_reply_t r;
    tmuxterm_t *t;

    (void)state;
    assert_true(port > 0);
    snprintf(flags, sizeof(flags), "--timeout 2s --metrics-listen 127.0.0.1:%d",
             port);
    t = start_on_config("metrics", 1, NULL, "watch --config", flags, 120, 40,
                        0);
    /* The same endpoints as replmon serve, from the dashboard's rounds. */
    expect_http(port, "/healthz", 200, NULL, KEY_MS);
    expect_http(port, "/readyz", 200, NULL, APPEAR_MS);
    expect_http(port, "/metrics", 200, "\nreplmon_node_up{node=\"spare\"} 1",
                APPEAR_MS);
    http_get(port, "/metrics", 2000, &r);
    assert_int_equal(r.status, 200);
    assert_true(prom_sample(r.body, "replmon_node_up{node=\"pub\"}") == 1.0);
    assert_true(prom_sample(r.body, "replmon_node_up{node=\"sub\"}") == 1.0);
    assert_non_null(strstr(r.body, "replmon_subscription_lag_bytes{"));
    http_reply_free(&r);
    expect_http(port, "/node/pub", 200, NULL, KEY_MS);
    expect_http(port, "/node/nosuch", 404, NULL, KEY_MS);
    expect_http(port, "/status", 200, "\"s1\"", KEY_MS);
    /* The dashboard still answers its keys. */
    press(t, "l", "Slots [l]");
    quit_cleanly(t);
    /* Gone with the dashboard. */
    assert_int_equal(http_get(port, "/healthz", 1000, &r), -1);
    http_reply_free(&r);
}

static void test_demo_on_a_terminal(void **state)
{
    tmuxterm_t *t;

    (void)state;
    t = start_watch("demo --no-standby", 120, 40, 0);
    expect(t, "cluster demo", 120000);
    expect_row(t, "publisher", "\u25cf healthy", APPEAR_MS);
    expect_row(t, "subscriber2", "\u25cf healthy", APPEAR_MS);
    expect(t, "demo_sub_2", KEY_MS);
    tmuxterm_keys(t, "q");
    expect(t, "replmon demo: stopped 3 servers and removed", 60000);
    expect(t, "replmon-exit=0", 10000);
    tmuxterm_stop(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_panels_keys_and_resize),
        cmocka_unit_test(test_killed_node_turns_unhealthy_and_back),
        cmocka_unit_test(test_frozen_node_does_not_freeze_keys),
        cmocka_unit_test(test_sighup_reload),
        cmocka_unit_test(test_no_colour),
        cmocka_unit_test(test_without_a_terminal),
        cmocka_unit_test(test_drop_slot_from_the_dashboard),
        cmocka_unit_test(test_metrics_listen),
        cmocka_unit_test(test_demo_on_a_terminal),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
