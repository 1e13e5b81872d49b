/* SPDX-License-Identifier: MIT */
/*
 * wheel.c - the timing wheel of wheel.h: O(1) filing and cancelling of
 * one-shot deadlines, and the one libuv timer that wakes for the next slot
 * in use.
 */
#include "wheel.h"

#include <string.h>

#include "internal.h"

#define SLOT_MASK ((uint64_t)WHEEL_SLOTS - 1)

static size_t slot_of(uint64_t ms)
{
    return (size_t)(ms & SLOT_MASK);
}

static bool slot_used(const timer_wheel_t *w, size_t s)
{
    return (w->used[s / 64] >> (s % 64)) & 1u;
}

/* Give slot s up once its last entry has left. */
static void release_if_empty(timer_wheel_t *w, size_t s)
{
    if (list_empty(&w->slots[s]))
        w->used[s / 64] &= ~((uint64_t)1 << (s % 64));
}

bool pgcm__wheel_init(timer_wheel_t *w, uint64_t now_ms)
{
    memset(w->used, 0, sizeof(w->used));
    w->cursor_ms = now_ms;
    w->count = 0;
    w->loop = NULL;
    w->armed_ms = UINT64_MAX;
    w->closed = false;
    /* not cleared: a head is initialised when its slot is first used */
    w->slots = pgcm__malloc(WHEEL_SLOTS * sizeof(*w->slots));
    return w->slots != NULL;
}

void pgcm__wheel_free(timer_wheel_t *w)
{
    pgcm__free(w->slots);
    w->slots = NULL;
}

void pgcm__wheel_entry_init(wheel_entry_t *e, wheel_fire_cb fire)
{
    list_init(&e->link);
    e->due_ms = 0;
    e->in_slot = false;
    e->fire = fire;
}

void pgcm__wheel_remove(timer_wheel_t *w, wheel_entry_t *e)
{
    if (!list_linked(&e->link))
        return;
    list_remove(&e->link);
    if (!e->in_slot)
        return; /* collected, waiting to fire */
    e->in_slot = false;
    w->count--;
    release_if_empty(w, slot_of(e->due_ms));
}

void pgcm__wheel_add(timer_wheel_t *w, wheel_entry_t *e, uint64_t due_ms)
{
    pgcm__wheel_remove(w, e);
    if (due_ms <= w->cursor_ms)
        due_ms = w->cursor_ms + 1; /* slots up to the cursor have run */
    e->due_ms = due_ms;
    size_t s = slot_of(due_ms);
    if (!slot_used(w, s)) {
        list_init(&w->slots[s]);
        w->used[s / 64] |= (uint64_t)1 << (s % 64);
    }
    list_push_back(&w->slots[s], &e->link);
    e->in_slot = true;
    w->count++;
}

/* Move the entries of slot s due by now_ms onto due. */
static void collect_slot(timer_wheel_t *w, size_t s, uint64_t now_ms,
                         list_node_t *due)
{
    list_node_t *head = &w->slots[s];
    list_node_t *pos = head->next;
    while (pos != head) {
        list_node_t *next = pos->next;
        wheel_entry_t *e = LIST_ENTRY(pos, wheel_entry_t, link);
        if (e->due_ms <= now_ms) {
            list_remove(pos);
            e->in_slot = false;
            w->count--;
            list_push_back(due, pos);
        }
        pos = next;
    }
    release_if_empty(w, s);
}

/* The offset (from slot `first`, counting round) of the first slot in use
 * at offset k or later and before limit; limit if there is none. Whole
 * empty 64-slot words are skipped at once. */
static uint64_t next_used(const timer_wheel_t *w, size_t first, uint64_t k,
                          uint64_t limit)
{
    while (k < limit) {
        size_t s = (first + (size_t)k) & SLOT_MASK;
        uint64_t word = w->used[s / 64] >> (s % 64);
        if (word != 0) {
            k += (unsigned)__builtin_ctzll(word);
            return k < limit ? k : limit;
        }
        k += 64 - s % 64;
    }
    return limit;
}

void pgcm__wheel_collect(timer_wheel_t *w, uint64_t now_ms, list_node_t *due)
{
    if (now_ms <= w->cursor_ms)
        return;
    if (w->count > 0) {
        /* the slots from cursor + 1 to now_ms, each once: a whole turn at
         * the most, starting at the oldest */
        uint64_t span = now_ms - w->cursor_ms;
        if (span > WHEEL_SLOTS)
            span = WHEEL_SLOTS;
        size_t first = slot_of(w->cursor_ms + 1);
        for (uint64_t k = next_used(w, first, 0, span); k < span;
             k = next_used(w, first, k + 1, span))
            collect_slot(w, (first + (size_t)k) & SLOT_MASK, now_ms, due);
    }
    w->cursor_ms = now_ms;
}

uint64_t pgcm__wheel_next_ms(const timer_wheel_t *w)
{
    if (w->count == 0)
        return UINT64_MAX;
    uint64_t k = next_used(w, slot_of(w->cursor_ms + 1), 0, WHEEL_SLOTS);
    return k < WHEEL_SLOTS ? w->cursor_ms + 1 + k : UINT64_MAX;
}

/* ---- the driver ---------------------------------------------------------- */

static void on_wheel_timer(uv_timer_t *t);

/* Wake at loop time at_ms (UINT64_MAX: not at all). */
static void arm_at(timer_wheel_t *w, uint64_t at_ms)
{
    if (w->closed)
        return; /* closed from inside a callback it ran (the last node's) */
    w->armed_ms = at_ms;
    if (at_ms == UINT64_MAX) {
        uv_timer_stop(&w->timer);
        return;
    }
    uint64_t now = uv_now(w->loop);
    uv_timer_start(&w->timer, on_wheel_timer, at_ms > now ? at_ms - now : 0, 0);
}

static void on_wheel_timer(uv_timer_t *t)
{
    timer_wheel_t *w = t->data;
    list_node_t due;
    list_init(&due);
    pgcm__wheel_collect(w, uv_now(w->loop), &due);
    w->armed_ms = UINT64_MAX;
    /* An entry may cancel, move or file others as it fires, these still
     * waiting on `due` among them: each is taken off before it fires. */
    while (!list_empty(&due)) {
        wheel_entry_t *e = LIST_ENTRY(list_first(&due), wheel_entry_t, link);
        list_remove(&e->link);
        e->fire(e);
    }
    /* from the bitmap: what fired may have armed for later */
    arm_at(w, pgcm__wheel_next_ms(w));
}

bool pgcm__wheel_start(timer_wheel_t *w, uv_loop_t *loop)
{
    if (!pgcm__wheel_init(w, uv_now(loop)))
        return false;
    w->loop = loop;
    uv_timer_init(loop, &w->timer);
    w->timer.data = w;
    return true;
}

void pgcm__wheel_set(timer_wheel_t *w, wheel_entry_t *e, uint64_t delay_ms)
{
    uint64_t now = uv_now(w->loop);
    if (w->count == 0 && w->cursor_ms < now)
        w->cursor_ms = now; /* nothing filed: nothing to run up to now */
    pgcm__wheel_add(w, e, now + delay_ms);
    if (e->due_ms < w->armed_ms)
        arm_at(w, e->due_ms);
}

void pgcm__wheel_close(timer_wheel_t *w)
{
    w->closed = true;
    uv_close((uv_handle_t *)&w->timer, NULL);
}
