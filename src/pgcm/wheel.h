/* SPDX-License-Identifier: MIT */
/*
 * wheel.h - a timing wheel: many one-shot deadlines (every node's next
 * probe, every connection's deadline) behind one libuv timer. libuv keeps
 * its timers in a binary heap, and with 10,000 nodes each re-arm of a
 * timer walked and swapped some fourteen levels of it; a wheel files an
 * entry under its due millisecond in O(1) and takes it out in O(1).
 *
 * WHEEL_SLOTS slots of one millisecond each; an entry due further out
 * than one turn waits in its slot for the turn it is due in. A bitmap of
 * the slots in use finds the next one to wake for, so an idle wheel does
 * not tick. Times are the loop's (uv_now, milliseconds).
 *
 * Loop thread only. The wheel owns its slot array; the entries are their
 * owners', who cancel them before freeing them.
 */
#ifndef PGCM_WHEEL_H
#define PGCM_WHEEL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "list.h"

#define WHEEL_SLOTS 8192 /* a turn: 8.192 s */

struct wheel_entry;
typedef void (*wheel_fire_cb)(struct wheel_entry *e);

typedef struct wheel_entry {
    list_node_t link; /* in its slot while set */
    uint64_t due_ms;  /* loop time it fires at */
    bool in_slot;     /* filed (else detached, or collected to fire) */
    wheel_fire_cb fire;
} wheel_entry_t;

typedef struct timer_wheel {
    /* Slot heads, allocated by pgcm__wheel_init; a head is valid only
     * while its bit is set (it is initialised when its slot is first
     * used). */
    list_node_t *slots;
    uint64_t used[WHEEL_SLOTS / 64]; /* a bit per slot holding entries */
    uint64_t cursor_ms;              /* every slot up to it has been run */
    size_t count;                    /* entries set */
    /* the driver (pgcm__wheel_start): one libuv timer */
    uv_timer_t timer;
    uv_loop_t *loop;
    uint64_t armed_ms; /* when the timer fires; UINT64_MAX: not armed */
    bool closed;       /* pgcm__wheel_close was called: never armed again */
} timer_wheel_t;

/* ---- the wheel itself: pure, clock given (unit-tested) ------------------ */

/* An empty wheel whose slots up to now_ms count as run; false: out of
 * memory for its slot array (nothing to free). */
bool pgcm__wheel_init(timer_wheel_t *w, uint64_t now_ms);
/* Frees the slot array; every entry must have been cancelled. */
void pgcm__wheel_free(timer_wheel_t *w);

void pgcm__wheel_entry_init(wheel_entry_t *e, wheel_fire_cb fire);
/* Set: filed, or collected and about to fire. */
static inline bool pgcm__wheel_entry_set(const wheel_entry_t *e)
{
    return list_linked(&e->link);
}

/* File e (moving it if set) to fire at due_ms, or at the first
 * millisecond not yet run if due_ms is earlier. */
void pgcm__wheel_add(timer_wheel_t *w, wheel_entry_t *e, uint64_t due_ms);
/* Take e out (nothing if it is not set). The driver's timer stays armed:
 * waking once for nothing is cheaper than re-arming it at every cancel. */
void pgcm__wheel_remove(timer_wheel_t *w, wheel_entry_t *e);
/* Move every entry due by now_ms onto due (in slot order, each slot's in
 * the order they were filed) and count the slots up to now_ms as run. */
void pgcm__wheel_collect(timer_wheel_t *w, uint64_t now_ms, list_node_t *due);
/* The earliest time after the cursor at which a slot in use comes round
 * (an entry there may be due only a turn or more later); UINT64_MAX when
 * the wheel is empty. */
uint64_t pgcm__wheel_next_ms(const timer_wheel_t *w);

/* ---- the driver: the loop's timer runs what is due ---------------------- */

/* Init the wheel, its slot array and its timer on loop (a handle the
 * owner closes with pgcm__wheel_close). false: out of memory, and nothing
 * to close. */
bool pgcm__wheel_start(timer_wheel_t *w, uv_loop_t *loop);
/* e fires delay_ms from the loop's now (0: at the next millisecond). */
void pgcm__wheel_set(timer_wheel_t *w, wheel_entry_t *e, uint64_t delay_ms);
/* Close the timer handle (the slots are freed by pgcm__wheel_free once
 * the loop has closed it). */
void pgcm__wheel_close(timer_wheel_t *w);

#endif /* PGCM_WHEEL_H */
