/* SPDX-License-Identifier: MIT */
/*
 * test_replmon_demo.c - `replmon demo` as a user runs it, in a private
 * TMPDIR: a run killed with SIGKILL leaves its folder, the next run
 * (`demo --duration 20` without a terminal) removes it, prints a snapshot
 * every interval with real replication data and then leaves no server and
 * no folder behind; Ctrl-C (SIGINT) also ends the demo cleanly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replmon_run.h"

static char tmpdir[] = "/tmp/replmon-it-demo-XXXXXX";
static char tmpenv[PATH_MAX + 8];
static char crashed_dir[PATH_MAX];
static pid_t crashed_pids[8];
static int ncrashed;

static int setup(void **state)
{
    (void)state;
    if (mkdtemp(tmpdir) == NULL || chmod(tmpdir, 0711) != 0)
        return -1;
    snprintf(tmpenv, sizeof(tmpenv), "TMPDIR=%s", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rmdir(tmpdir);
    return 0;
}

/* The demo folder and server pids from the demo's progress lines. */
static int parse_demo(const char *out, char *folder, size_t len, pid_t *pids,
                      int max)
{
    const char *p = strstr(out, "creating the cluster in ");
    int n = 0;

    if (p == NULL)
        return -1;
    p += strlen("creating the cluster in ");
    snprintf(folder, len, "%.*s", (int)strcspn(p, "\n"), p);
    for (p = strstr(out, "  pid "); p != NULL && n < max;
         p = strstr(p + 1, "  pid "))
        pids[n++] = (pid_t)atoi(p + 6);
    return n;
}

/* A process is gone when it does not exist or is a zombie. */
static int gone(pid_t pid)
{
    char path[64], buf[512], *s;
    FILE *f;

    if (kill(pid, 0) != 0 && errno == ESRCH)
        return 1;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 1;
    s = fgets(buf, sizeof(buf), f);
    fclose(f);
    s = s ? strrchr(buf, ')') : NULL;
    return s != NULL && s[2] == 'Z';
}

static void assert_all_gone(const pid_t *pids, int n)
{
    int64_t deadline = rm_run_now_ms() + 10000;
    int i;

    for (i = 0; i < n; i++) {
        while (!gone(pids[i]) && rm_run_now_ms() < deadline)
            usleep(50000);
        if (!gone(pids[i]))
            fail_msg("server pid %d is still running", (int)pids[i]);
    }
}

static int dir_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int entries_in(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* The demo's stdout (text) says it stopped its `servers` servers and
 * removed its folder: the folder it named is gone, and every server pid
 * too. Frees text and etext (its stderr), removes out and err (their
 * files), and then nothing is left in tmpdir. */
static void assert_demo_cleaned_up(char *text, char *etext, const char *out,
                                   const char *err, int servers)
{
    char folder[PATH_MAX], stopped[64];
    pid_t pids[8];
    int n = parse_demo(text, folder, sizeof(folder), pids, 8);

    assert_int_equal(n, servers);
    snprintf(stopped, sizeof(stopped), "stopped %d servers and removed",
             servers);
    assert_non_null(strstr(text, stopped));
    assert_false(dir_exists(folder));
    assert_all_gone(pids, n);
    free(text);
    free(etext);
    unlink(out);
    unlink(err);
    assert_int_equal(entries_in(tmpdir), 0);
}

static void temp_paths(char *out, char *err, size_t len, const char *tag)
{
    snprintf(out, len, "%s.%s.out", tmpdir, tag);
    snprintf(err, len, "%s.%s.err", tmpdir, tag);
}

/* A demo killed with SIGKILL cannot clean up: its folder stays. */
static void test_crashed_run_leaves_folder(void **state)
{
    const char *args[] = {"demo", "--interval", "1", "--no-standby", NULL};
    const char *env[] = {tmpenv, NULL};
    char out[PATH_MAX + 16], err[PATH_MAX + 16], *text;
    pid_t pid;

    (void)state;
    temp_paths(out, err, sizeof(out), "crash");
    pid = rm_spawn(args, out, err, env);
    if (!rm_wait_for_text(out, "replmon status:", 90000)) {
        kill(pid, SIGKILL);
        rm_wait(pid, 5000);
        text = rm_read_file(err);
        fail_msg("the demo did not start: %s", text);
    }
    text = rm_read_file(out);
    ncrashed =
        parse_demo(text, crashed_dir, sizeof(crashed_dir), crashed_pids, 8);
    free(text);
    assert_int_equal(ncrashed, 3);
    kill(pid, SIGKILL);
    assert_int_equal(rm_wait(pid, 10000), 128 + SIGKILL);
    assert_true(dir_exists(crashed_dir));
    unlink(out);
    unlink(err);
}

/* What CI runs: no terminal, --duration; snapshots, then nothing left. */
static void test_duration_run_reaps_and_cleans_up(void **state)
{
    const char *args[] = {"demo", "--duration", "20", "--interval", "2", NULL};
    const char *env[] = {tmpenv, NULL};
    char out[PATH_MAX + 16], err[PATH_MAX + 16];
    char *text, *etext;
    pid_t pid;
    int code, snapshots;
    const char *w;

    (void)state;
    temp_paths(out, err, sizeof(out), "duration");
    pid = rm_spawn(args, out, err, env);
    code = rm_wait(pid, 120000);
    text = rm_read_file(out);
    etext = rm_read_file(err);
    if (code != 0)
        fail_msg("exit %d\n%s\n%s", code, text, etext);

    /* The crashed run's folder and servers are gone. */
    assert_non_null(strstr(text, "removed 1 folder left by an earlier run"));
    assert_false(dir_exists(crashed_dir));
    assert_all_gone(crashed_pids, ncrashed);

    /* A snapshot about every 2 s for 20 s, with real data. */
    snapshots = rm_count_lines(text, "replmon status: ");
    /* At least 6: a loaded CI machine may stretch a collection round. */
    if (snapshots < 6 || snapshots > 12)
        fail_msg("%d snapshots in 20 s at 2 s intervals", snapshots);
    assert_int_equal(rm_count_lines(text, "\033["), 0);
    assert_true(rm_count_rows(text, " publisher demo_sub_1 logical yes ") >= 5);
    assert_true(rm_count_rows(text, " subscriber1 demo_sub_1 streaming "
                                    "publisher ") >= 5);
    assert_true(rm_count_rows(text, " subscriber2 demo_sub_2 streaming "
                                    "publisher ") >= 5);
    assert_true(rm_count_rows(text, " publisher subscriber1 logical "
                                    "demo_sub_1 ") >= 5);
    assert_true(rm_count_rows(text, " standby streaming publisher ") >= 5);
    assert_true(rm_count_rows(text, "publisher OK healthy primary,publisher") >=
                5);
    w = strstr(text, "write load on publisher: ");
    assert_non_null(w);
    w = strstr(w + 1, "write load on publisher: ");
    assert_non_null(w);
    /* The second snapshot has seen writes. */
    assert_true(atoi(w + strlen("write load on publisher: ")) > 0);

    /* Then everything is removed. */
    assert_demo_cleaned_up(text, etext, out, err, 4);
}

/* Ctrl-C: the manager is shut down, the servers stopped, the folder gone. */
static void test_ctrl_c(void **state)
{
    const char *args[] = {"demo", "--no-standby", NULL};
    const char *env[] = {tmpenv, NULL};
    char out[PATH_MAX + 16], err[PATH_MAX + 16];
    char *text, *etext;
    pid_t pid;
    int code;

    (void)state;
    temp_paths(out, err, sizeof(out), "sigint");
    pid = rm_spawn(args, out, err, env);
    if (!rm_wait_for_text(out, "replmon status:", 90000)) {
        kill(pid, SIGKILL);
        rm_wait(pid, 5000);
        fail_msg("the demo did not start");
    }
    kill(pid, SIGINT);
    code = rm_wait(pid, 30000);
    text = rm_read_file(out);
    etext = rm_read_file(err);
    if (code != 0)
        fail_msg("exit %d after SIGINT\n%s\n%s", code, text, etext);
    assert_demo_cleaned_up(text, etext, out, err, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crashed_run_leaves_folder),
        cmocka_unit_test(test_duration_run_reaps_and_cleans_up),
        cmocka_unit_test(test_ctrl_c),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
