/*
 * stress_legacy.c -- the original thread-pool API in the stress program:
 * QueueUserWorkItem, RegisterWaitForSingleObject / UnregisterWaitEx and
 * timer queues (CreateTimerQueueTimer, Change..., Delete...Timer,
 * DeleteTimerQueueEx), with the three kinds of completion argument (none,
 * wait, an event), from outside and from inside the callbacks.
 *
 * THE LEDGER. Every queued work item runs exactly once (it cannot be
 * cancelled). A registration that deletes itself from its callback, and a
 * one-shot timer that does, call back exactly once. A registered wait
 * never reports more signals than its auto-reset event was set, an
 * ONLYONCE one calls back at most once, an infinite one never times out.
 * A one-shot timer never fires more often than it was armed. After an
 * unregister or delete that waited (NTP_COMPLETION_WAIT, or an event that
 * was then set), no callback of the object runs again: its context is
 * freed right there, so a late callback is a use-after-free for ASan, and
 * the magic check catches it without ASan.
 *
 * OWNERSHIP and LIFETIME of a context (legacy_ctx): a driver owns a slot's
 * registration or timer queue while it holds it (atomic exchange). A
 * context is freed by whoever ends its object with a waiting completion;
 * with no completion (NULL) its callbacks may still be queued, so it goes
 * to the orphan list, freed after the final settle, when no object is
 * left. A self-deleting object's context is freed by its one callback.
 */
#define _GNU_SOURCE
#include "stress.h"

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#define NRW_SLOTS 4
#define NTQ_SLOTS 2
#define TIMERS_PER_QUEUE 4
#define LEGACY_MAGIC 0x1e9ac7u

static atomic_uint_fast64_t qwi_posted, qwi_ran;
static atomic_uint_fast64_t ff_rw_made, ff_rw_fired;
static atomic_uint_fast64_t ff_tqt_made, ff_tqt_fired;
static atomic_uint_fast64_t rw_made, tqt_made, tq_made;
static atomic_uint_fast64_t legacy_callbacks, in_progress_answers;

typedef struct legacy_ctx {
    unsigned magic;
    atomic_uint signalled; /* callbacks with timer_or_wait_fired false */
    atomic_uint timed_out; /* ... and true */
    /* Driver-owned counts, read by the final check after the joins. */
    unsigned sets;           /* registered wait: times its event was set */
    unsigned arms;           /* one-shot timer: creation and changes */
    bool once;               /* ONLYONCE registration */
    bool infinite;           /* registration without timeout */
    bool periodic;           /* timer that may have had a period */
    ntp_handle *event;       /* registration: the auto-reset event */
    ntp_registered_wait *rw; /* registration */
    /* Timer: for the self-deleting ones it is published after create
     * returns, and the callback waits for it. */
    _Atomic(ntp_timer_queue_timer *) tqt;
    struct legacy_ctx *next_orphan;
} legacy_ctx;

typedef struct timer_queue_slot {
    ntp_timer_queue *q; /* NULL: timers of the default queue */
    legacy_ctx *timers[TIMERS_PER_QUEUE];
} timer_queue_slot;

static _Atomic(legacy_ctx *) rw_slots[NRW_SLOTS];
static _Atomic(timer_queue_slot *) tq_slots[NTQ_SLOTS];

static pthread_mutex_t orphans_lock = PTHREAD_MUTEX_INITIALIZER;
static legacy_ctx *orphans;

static legacy_ctx *
ctx_new(void)
{
    legacy_ctx *c = stress_calloc(1, sizeof *c);
    c->magic = LEGACY_MAGIC;
    return c;
}

/* The per-object checks, once no callback of it can run any more. */
static void
ctx_check(legacy_ctx *c)
{
    unsigned sig = atomic_load(&c->signalled);
    unsigned to = atomic_load(&c->timed_out);
    if (c->rw != NULL) {
        CHECK(sig <= c->sets, "a registered wait saw %u signals of %u sets",
              sig, c->sets);
        CHECK(!c->once || sig + to <= 1, "ONLYONCE wait called back %u times",
              sig + to);
        CHECK(!c->infinite || to == 0, "an infinite wait timed out");
    } else {
        CHECK(sig == 0, "a timer-queue timer reported a signal");
        CHECK(c->periodic || to <= c->arms,
              "a one-shot timer armed %u times fired %u times", c->arms, to);
    }
}

static void
ctx_free(legacy_ctx *c)
{
    c->magic = 0;
    free(c);
}

/* Ended with no completion: callbacks may still be queued. */
static void
orphan(legacy_ctx *c)
{
    pthread_mutex_lock(&orphans_lock);
    c->next_orphan = orphans;
    orphans = c;
    pthread_mutex_unlock(&orphans_lock);
}

static void
note_answer(ntp_status st, const char *what)
{
    CHECK(st == 0 || st == NTP_EINPROGRESS, "%s: %s", what, ntp_strerror(st));
    if (st == NTP_EINPROGRESS)
        atomic_fetch_add(&in_progress_answers, 1);
}

/* The completion argument of an unregister or delete: 0 none, 1 wait,
 * 2 an event (made here; wait_completion waits for it and closes it). */
static ntp_handle *
completion_for(unsigned mode)
{
    ntp_handle *ev = NULL;
    if (mode == 0)
        return NULL;
    if (mode == 1)
        return NTP_COMPLETION_WAIT;
    MUST(ntp_event_create(&ev, true, false));
    return ev;
}

static void
wait_completion(ntp_handle *completion)
{
    if (completion == NULL || completion == NTP_COMPLETION_WAIT)
        return;
    CHECK(ntp_wait_for_single(completion, NTP_INFINITE, false)
              == NTP_WAIT_OBJECT_0,
          "completion event not set");
    MUST(ntp_handle_close(completion));
}

static uint32_t
random_flags(rng *r)
{
    static const uint32_t flags[] = {
        NTP_WT_EXECUTEDEFAULT, NTP_WT_EXECUTELONGFUNCTION,
        NTP_WT_EXECUTEINPERSISTENTTHREAD, NTP_WT_EXECUTEINWAITTHREAD};
    return flags[rng_below(r, 4)];
}

/* ---- callbacks ---- */

static void
wait_or_timer_cb(void *p, bool fired)
{
    legacy_ctx *c = p;
    CHECK(c->magic == LEGACY_MAGIC, "callback after the object's end");
    atomic_fetch_add(fired ? &c->timed_out : &c->signalled, 1);
    atomic_fetch_add(&legacy_callbacks, 1);
}

static uint32_t
work_item_cb(void *p)
{
    legacy_ctx *c = p;
    CHECK(c->magic == LEGACY_MAGIC, "work item run twice");
    ctx_free(c);
    atomic_fetch_add(&qwi_ran, 1);
    return 0;
}

/* A one-shot registration on an always-set event that unregisters itself:
 * its own callback does not count as outstanding (CONFORMANCE K125). */
static void
self_unregistering_cb(void *p, bool fired)
{
    legacy_ctx *c = p;
    CHECK(c->magic == LEGACY_MAGIC, "self-unregistering wait ran twice");
    CHECK(!fired, "a wait on a set event timed out");
    CHECK(ntp_unregister_wait(c->rw) == 0, "unregistering from inside");
    ctx_free(c);
    atomic_fetch_add(&ff_rw_fired, 1);
}

/* A one-shot timer that deletes itself: its own callback counts as
 * outstanding (CONFORMANCE K133), so the answer is NTP_EINPROGRESS. */
static void
self_deleting_cb(void *p, bool fired)
{
    legacy_ctx *c = p;
    CHECK(c->magic == LEGACY_MAGIC, "self-deleting timer ran twice");
    CHECK(fired, "a timer callback reported a signal");
    ntp_timer_queue_timer *t;
    while ((t = atomic_load(&c->tqt)) == NULL)
        sched_yield(); /* the creating driver publishes it at once */
    CHECK(ntp_timer_queue_timer_delete(NULL, t, NULL) == NTP_EINPROGRESS,
          "deleting a timer from inside");
    ctx_free(c);
    atomic_fetch_add(&ff_tqt_fired, 1);
}

/* ---- registered waits ---- */

static legacy_ctx *
registration_new(rng *r)
{
    static const uint32_t once_timeouts[] = {0, 1, 5, NTP_INFINITE};
    static const uint32_t rearm_timeouts[] = {1, 5, NTP_INFINITE};
    legacy_ctx *c = ctx_new();
    c->once = rng_below(r, 2);
    /* A re-arming wait with timeout 0 would call back without pause. */
    uint32_t timeout = c->once ? once_timeouts[rng_below(r, 4)]
                               : rearm_timeouts[rng_below(r, 3)];
    c->infinite = timeout == NTP_INFINITE;
    MUST(ntp_event_create(&c->event, false, false));
    uint32_t flags = random_flags(r);
    if (c->once)
        flags |= NTP_WT_EXECUTEONLYONCE;
    MUST(ntp_register_wait(&c->rw, c->event, wait_or_timer_cb, c, timeout,
                           flags));
    atomic_fetch_add(&rw_made, 1);
    return c;
}

static void
registration_end(legacy_ctx *c, unsigned mode)
{
    ntp_handle *completion = completion_for(mode);
    note_answer(ntp_unregister_wait_ex(c->rw, completion), "unregister");
    /* The registration holds its own reference to the event. */
    MUST(ntp_handle_close(c->event));
    c->event = NULL;
    if (completion == NULL) {
        orphan(c);
        return;
    }
    wait_completion(completion);
    ctx_check(c);
    ctx_free(c);
}

/* Returns false if the registration ended. */
static bool
registration_op(legacy_ctx *c, rng *r)
{
    switch (rng_below(r, 6)) {
    case 0:
    case 1:
    case 2:
        c->sets++;
        MUST(ntp_event_set(c->event));
        return true;
    case 3:
        registration_end(c, rng_below(r, 3));
        return false;
    default:
        return true;
    }
}

/* ---- timer queues ---- */

static legacy_ctx *
queue_timer_new(timer_queue_slot *s, rng *r)
{
    legacy_ctx *c = ctx_new();
    c->periodic = rng_below(r, 3) == 0;
    uint32_t period = c->periodic ? 1 + rng_below(r, 3) : 0;
    uint32_t flags = random_flags(r);
    if (!c->periodic && rng_below(r, 2))
        flags |= NTP_WT_EXECUTEONLYONCE;
    c->arms = c->periodic ? 0 : 1;
    ntp_timer_queue_timer *t = NULL;
    MUST(ntp_timer_queue_timer_create(&t, s->q, wait_or_timer_cb, c,
                                      rng_below(r, 6), period, flags));
    atomic_store(&c->tqt, t);
    atomic_fetch_add(&tqt_made, 1);
    return c;
}

static void
queue_timer_end(timer_queue_slot *s, legacy_ctx *c, unsigned mode)
{
    ntp_handle *completion = completion_for(mode);
    note_answer(
        ntp_timer_queue_timer_delete(s->q, atomic_load(&c->tqt), completion),
        "DeleteTimerQueueTimer");
    if (completion == NULL) {
        orphan(c);
        return;
    }
    wait_completion(completion);
    ctx_check(c);
    ctx_free(c);
}

static timer_queue_slot *
timer_queue_new(rng *r)
{
    timer_queue_slot *s = stress_calloc(1, sizeof *s);
    if (rng_below(r, 3)) {
        MUST(ntp_timer_queue_create(&s->q));
        atomic_fetch_add(&tq_made, 1);
    }
    return s;
}

/* Delete the queue with its timers (or, for the default queue, each
 * timer), with one completion for all of them. */
static void
timer_queue_end(timer_queue_slot *s, unsigned mode)
{
    if (s->q == NULL) {
        for (int i = 0; i < TIMERS_PER_QUEUE; i++)
            if (s->timers[i])
                queue_timer_end(s, s->timers[i], mode);
        free(s);
        return;
    }
    ntp_handle *completion = completion_for(mode);
    note_answer(ntp_timer_queue_delete_ex(s->q, completion),
                "DeleteTimerQueueEx");
    wait_completion(completion);
    for (int i = 0; i < TIMERS_PER_QUEUE; i++) {
        legacy_ctx *c = s->timers[i];
        if (c == NULL)
            continue;
        if (completion == NULL) {
            orphan(c);
        } else {
            ctx_check(c);
            ctx_free(c);
        }
    }
    free(s);
}

/* Returns false if the queue was deleted. */
static bool
timer_queue_op(timer_queue_slot *s, rng *r)
{
    unsigned i = rng_below(r, TIMERS_PER_QUEUE);
    legacy_ctx *c = s->timers[i];
    switch (rng_below(r, 8)) {
    case 0:
    case 1:
        if (c == NULL)
            s->timers[i] = queue_timer_new(s, r);
        return true;
    case 2:
    case 3:
        if (c == NULL)
            return true;
        /* A one-shot stays one-shot, so "fired <= armed" holds. */
        if (!c->periodic)
            c->arms++;
        MUST(ntp_timer_queue_timer_change(
            s->q, atomic_load(&c->tqt), rng_below(r, 6),
            c->periodic ? 1 + rng_below(r, 3) : 0));
        return true;
    case 4:
        if (c != NULL) {
            queue_timer_end(s, c, rng_below(r, 3));
            s->timers[i] = NULL;
        }
        return true;
    case 5:
        if (rng_below(r, 3) == 0) {
            timer_queue_end(s, rng_below(r, 3));
            return false;
        }
        return true;
    default:
        return true;
    }
}

/* ---- fire and forget ---- */

static void
fire_and_forget(rng *r)
{
    legacy_ctx *c = ctx_new();
    switch (rng_below(r, 3)) {
    case 0: {
        atomic_fetch_add(&qwi_posted, 1);
        MUST(ntp_queue_user_work_item(work_item_cb, c, random_flags(r)));
        break;
    }
    case 1:
        atomic_fetch_add(&ff_rw_made, 1);
        MUST(ntp_register_wait(&c->rw, stress_signalled_event,
                               self_unregistering_cb, c, NTP_INFINITE,
                               NTP_WT_EXECUTEONLYONCE | random_flags(r)));
        break;
    default: {
        atomic_fetch_add(&ff_tqt_made, 1);
        ntp_timer_queue_timer *t = NULL;
        MUST(ntp_timer_queue_timer_create(
            &t, NULL, self_deleting_cb, c, rng_below(r, 4), 0,
            NTP_WT_EXECUTEONLYONCE | random_flags(r)));
        atomic_store(&c->tqt, t); /* c may be freed from here on */
        break;
    }
    }
}

/* ---- the part's entry points ---- */

void
stress_legacy_op(rng *r)
{
    unsigned what = rng_below(r, 4);
    if (what == 0) {
        fire_and_forget(r);
    } else if (what == 1) {
        unsigned s = rng_below(r, NRW_SLOTS);
        legacy_ctx *c = atomic_exchange(&rw_slots[s], NULL);
        if (c == NULL)
            c = registration_new(r);
        if (registration_op(c, r)) {
            legacy_ctx *expected = NULL;
            if (!atomic_compare_exchange_strong(&rw_slots[s], &expected, c))
                registration_end(c, rng_below(r, 3));
        }
    } else {
        unsigned s = rng_below(r, NTQ_SLOTS);
        timer_queue_slot *q = atomic_exchange(&tq_slots[s], NULL);
        if (q == NULL)
            q = timer_queue_new(r);
        if (timer_queue_op(q, r)) {
            timer_queue_slot *expected = NULL;
            if (!atomic_compare_exchange_strong(&tq_slots[s], &expected, q))
                timer_queue_end(q, rng_below(r, 3));
        }
    }
}

void
stress_legacy_drain(void)
{
    for (unsigned s = 0; s < NRW_SLOTS; s++) {
        legacy_ctx *c = atomic_exchange(&rw_slots[s], NULL);
        if (c)
            registration_end(c, 1);
    }
    for (unsigned s = 0; s < NTQ_SLOTS; s++) {
        timer_queue_slot *q = atomic_exchange(&tq_slots[s], NULL);
        if (q)
            timer_queue_end(q, 1);
    }
}

bool
stress_legacy_settled(void)
{
    return qwi_ran == qwi_posted && ff_rw_fired == ff_rw_made
           && ff_tqt_fired == ff_tqt_made;
}

/* After the final settle: no object is left, so no callback can run. */
void
stress_legacy_check(void)
{
    CHECK(qwi_ran == qwi_posted, "work items posted %" PRIu64 ", ran %" PRIu64,
          (uint64_t)qwi_posted, (uint64_t)qwi_ran);
    CHECK(ff_rw_fired == ff_rw_made,
          "self-unregistering waits made %" PRIu64 ", fired %" PRIu64,
          (uint64_t)ff_rw_made, (uint64_t)ff_rw_fired);
    CHECK(ff_tqt_fired == ff_tqt_made,
          "self-deleting timers made %" PRIu64 ", fired %" PRIu64,
          (uint64_t)ff_tqt_made, (uint64_t)ff_tqt_fired);
    pthread_mutex_lock(&orphans_lock);
    legacy_ctx *c = orphans;
    orphans = NULL;
    pthread_mutex_unlock(&orphans_lock);
    while (c != NULL) {
        legacy_ctx *next = c->next_orphan;
        ctx_check(c);
        ctx_free(c);
        c = next;
    }
}

void
stress_legacy_report(void)
{
    printf("stress: original API: %" PRIu64 " work items; %" PRIu64
           " registered waits + %" PRIu64 " self-unregistering; %" PRIu64
           " timer queues, %" PRIu64 " timers + %" PRIu64
           " self-deleting; %" PRIu64 " wait/timer callbacks; %" PRIu64
           " ERROR_IO_PENDING answers\n",
           (uint64_t)qwi_posted, (uint64_t)rw_made, (uint64_t)ff_rw_made,
           (uint64_t)tq_made, (uint64_t)tqt_made, (uint64_t)ff_tqt_made,
           (uint64_t)legacy_callbacks, (uint64_t)in_progress_answers);
}
