/* SPDX-License-Identifier: MIT */
/*
 * tmuxterm.h - a real terminal for tests and benchmarks: a tmux server of
 * our own (its own socket, `tmux -L <unique>`, no user configuration, no
 * status line) running one command in a window of a given size; keys sent
 * with send-keys, the screen read with capture-pane, polled with a
 * deadline. Stopping kills only that server. Needs Debian's tmux.
 */
#ifndef TMUXTERM_H
#define TMUXTERM_H

#include <stddef.h>
#include <sys/types.h>

typedef struct tmuxterm tmuxterm_t;

/* tmuxterm_start - run cmd (through /bin/sh -c) in a w x h window with
 * env ("NAME=value" entries, NULL-terminated, may be NULL) added. The pane
 * stays after the command ends (its exit status is then readable).
 * Returns NULL with a one-line reason in err. */
tmuxterm_t *tmuxterm_start(const char *cmd, int w, int h,
                           const char *const *env, char *err, size_t errlen);

/* tmuxterm_control - from now on, send keys and capture the screen through
 * one tmux control-mode client (`tmux -C attach`) instead of one tmux
 * process per call: a round trip costs well under a millisecond, for
 * measuring latencies. Returns 0 or -1. */
int tmuxterm_control(tmuxterm_t *t);

/* tmuxterm_capture - the screen as text, one line per row (malloc'd), or
 * NULL when tmux cannot be asked. */
char *tmuxterm_capture(tmuxterm_t *t);

/* tmuxterm_capture_styled - the same with the colours and attributes as
 * escape sequences (capture-pane -e). */
char *tmuxterm_capture_styled(tmuxterm_t *t);

/* tmuxterm_keys - send tmux key names, one per argument string separated
 * by blanks ("Enter", "Escape", "Tab", "BTab", "C-c", "j"). */
int tmuxterm_keys(tmuxterm_t *t, const char *keys);

/* tmuxterm_type - send text literally. */
int tmuxterm_type(tmuxterm_t *t, const char *text);

/* tmuxterm_resize - make the window w x h. */
int tmuxterm_resize(tmuxterm_t *t, int w, int h);

/* tmuxterm_wait - poll the screen every few ms until it contains text
 * (then return 1) or timeout_ms passed (then 0). */
int tmuxterm_wait(tmuxterm_t *t, const char *text, int timeout_ms);

/* tmuxterm_wait_gone - until the screen no longer contains text. */
int tmuxterm_wait_gone(tmuxterm_t *t, const char *text, int timeout_ms);

/* tmuxterm_line_with - the first line of the screen containing text
 * (malloc'd), or NULL. */
char *tmuxterm_line_with(tmuxterm_t *t, const char *text);

/* tmuxterm_pid - the pid of the command (the shell's child when cmd runs
 * a program under sh), or -1. */
pid_t tmuxterm_pid(tmuxterm_t *t);

/* tmuxterm_exit_status - the pane's exit status once its command ended,
 * -1 while it runs. */
int tmuxterm_exit_status(tmuxterm_t *t);

/* tmuxterm_stop - kill our tmux server (and what runs in it) and free t.
 * t may be NULL. */
void tmuxterm_stop(tmuxterm_t *t);

#endif /* TMUXTERM_H */
