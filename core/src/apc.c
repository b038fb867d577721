/*
 * apc.c -- per-thread APC queues, thread handles, alertable sleep (SPEC 12).
 *
 * WHERE THE STATE LIVES. A thread's APC queue is part of its per-thread
 * record (struct ntp__thread, sync.h): static thread-local storage,
 * initialised on the thread's first ntpool call and registered with a
 * pthread key destructor (thread.c). That works for every thread, ntpool's
 * or not: the main thread, a pthread_create thread, a pool worker. Only
 * the queued APCs themselves are allocated (user APCs, by ntp_queue_apc)
 * or embedded (a waitable timer's completion APC, in the timer).
 *
 * THREAD HANDLES. Other threads reach a record only through a thread
 * handle (struct thandle below: a waitable handle of kind
 * NTP_HANDLE_THREAD) or through a waitable timer that queues completion
 * routines to it; the record lists both (handles, apc_timers). All those
 * links, and the queue, are guarded by the sync lock.
 *
 * LIFETIME. The record lives exactly as long as its thread. The thread's
 * exit destructor (ntp__apc_thread_exit) runs before the C library frees
 * the TLS and, under the sync lock:
 *   - takes every queued APC off the queue and discards it (a user APC is
 *     freed, a timer APC drops the handle reference it held), never
 *     running it (SPEC 12);
 *   - cuts every thread handle loose (thandle.thread = NULL): the handle
 *     becomes signalled, as a Windows thread handle is once the thread has
 *     ended, and ntp_queue_apc through it fails with NTP_ESRCH;
 *   - cancels every waitable timer that would queue a completion routine
 *     to the thread (SPEC 13.7), which forgets the thread.
 * After that nothing points at the record, so no APC can be queued to a
 * dead thread. The last two steps happen in the same lock hold as the
 * final "queue is empty" check, so nothing slips in between. A thread
 * handle itself follows the common handle rules (sync.h): it outlives its
 * thread until its last reference is dropped; retire unlinks it from a
 * live thread's list.
 *
 * WAKING. A thread in an alertable wait or sleep publishes the block it
 * sleeps on (record.alertable_block, under the sync lock); queuing an APC
 * signals that block's condition variable. The sleeping loops (sync.c
 * wait_common, ntp_sleep_ex here) check for queued APCs under the lock
 * before every sleep, so an APC queued before the block was published is
 * not missed.
 *
 * RUNNING. Only the thread itself pops its queue (ntp__thread_run_apcs),
 * one APC per lock hold, and runs it with no lock held, until the queue is
 * empty: FIFO, and APCs queued while others run are run too. An APC may
 * itself wait alertably and so run the rest of the queue (nested dispatch,
 * as Windows).
 */
#include "sync.h"

#include <sched.h>
#include <time.h>

typedef struct thandle {
    struct ntp_handle base; /* first: handle.c frees it through this */
    /* Guarded by the sync lock. The thread named, NULL once it exited. */
    struct ntp__thread *thread;
    ntp__list thread_node; /* in thread->handles while thread != NULL */
    uint32_t exit_code;    /* the thread's, once it has exited */
} thandle;

static bool
thandle_signalled(ntp_handle *h, struct ntp__thread *t)
{
    (void)t;
    /* A thread handle is signalled once its thread has ended. */
    return ((thandle *)h)->thread == NULL;
}

static int
thandle_acquire(ntp_handle *h, struct ntp__thread *t)
{
    (void)h;
    (void)t;
    return NTP_WAIT_OBJECT_0; /* waiting consumes nothing */
}

static void
thandle_retire(ntp_handle *h)
{
    thandle *th = (thandle *)h;
    if (th->thread != NULL) {
        ntp__list_remove(&th->thread_node);
        th->thread = NULL;
    }
}

static const struct ntp__handle_ops thandle_ops = {
    .kind = NTP_HANDLE_THREAD,
    .name = "thread",
    .signalled = thandle_signalled,
    .acquire = thandle_acquire,
    .retire = thandle_retire,
};

ntp_status
ntp_thread_current(ntp_handle **out)
{
    if (out == NULL) {
        return NTP_EINVAL;
    }
    struct ntp__thread *self = ntp__thread_self();
    ntp_handle *h;
    ntp_status st = ntp__handle_new(&h, sizeof(thandle), &thandle_ops);
    if (st < 0) {
        return st;
    }
    thandle *th = (thandle *)h;
    pthread_mutex_lock(&ntp__sync_lock);
    th->thread = self;
    ntp__list_push_back(&self->handles, &th->thread_node);
    pthread_mutex_unlock(&ntp__sync_lock);
    *out = h;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Queues                                                                    */
/* ------------------------------------------------------------------------ */

void
ntp__apc_queue_locked(struct ntp__thread *t, struct ntp__apc *a)
{
    a->queued = true;
    ntp__list_push_back(&t->apc_queue, &a->link);
    if (t->alertable_block != NULL) {
        pthread_cond_signal(&t->alertable_block->cond);
    }
}

bool
ntp__apc_cancel_locked(struct ntp__apc *a)
{
    if (!a->queued) {
        return false;
    }
    ntp__list_remove(&a->link);
    a->queued = false;
    return true;
}

bool
ntp__thread_apc_pending_locked(struct ntp__thread *t)
{
    return !ntp__list_empty(&t->apc_queue);
}

/* Take the first APC off t's queue into *copy; the caller then owns what
 * it holds (a user APC's memory, a timer APC's handle reference). false
 * when the queue is empty. Sync lock held. */
static bool
pop_locked(struct ntp__thread *t, struct ntp__apc *copy, struct ntp__apc **node)
{
    ntp__list *n = ntp__list_pop_front(&t->apc_queue);
    if (n == NULL) {
        return false;
    }
    struct ntp__apc *a = ntp__container_of(n, struct ntp__apc, link);
    a->queued = false;
    *copy = *a;
    *node = a;
    return true;
}

void
ntp__thread_run_apcs(struct ntp__thread *t)
{
    for (;;) {
        struct ntp__apc call, *node;
        pthread_mutex_lock(&ntp__sync_lock);
        bool got = pop_locked(t, &call, &node);
        pthread_mutex_unlock(&ntp__sync_lock);
        if (!got) {
            return;
        }
        if (call.heap) {
            ntp__free(node);
            call.fn(call.arg);
        } else {
            /* A timer's APC: its node may be queued again by the next
             * expiry as soon as the lock is dropped; we use the copy. */
            call.timer_fn(call.arg, call.time_low, call.time_high);
            ntp__handle_unref(call.hold);
        }
    }
}

void
ntp__apc_thread_exit(struct ntp__thread *t)
{
    pthread_mutex_lock(&ntp__sync_lock);
    for (;;) {
        struct ntp__apc call, *node;
        if (!pop_locked(t, &call, &node)) {
            break; /* with the lock held: see LIFETIME */
        }
        pthread_mutex_unlock(&ntp__sync_lock);
        /* Discarded, never run. */
        if (call.heap) {
            ntp__free(node);
        } else {
            ntp__handle_unref(call.hold);
        }
        pthread_mutex_lock(&ntp__sync_lock);
    }
    ntp__list *n;
    while ((n = ntp__list_pop_front(&t->handles)) != NULL) {
        thandle *th = ntp__container_of(n, thandle, thread_node);
        th->thread = NULL;
        th->exit_code = t->exit_code;
        ntp__handle_wake_locked(&th->base);
        ntp__handle_mirror_update_locked(&th->base);
    }
    while (!ntp__list_empty(&t->apc_timers)) {
        ntp__wtimer_owner_exit_locked(t->apc_timers.next);
    }
    pthread_mutex_unlock(&ntp__sync_lock);
}

void
ntp__thread_set_exit_code(uint32_t code)
{
    struct ntp__thread *self = ntp__thread_self();
    pthread_mutex_lock(&ntp__sync_lock);
    self->exit_code = code;
    pthread_mutex_unlock(&ntp__sync_lock);
}

ntp_status
ntp__thread_handle_exit_code(ntp_handle *h, uint32_t *code)
{
    pthread_mutex_lock(&ntp__sync_lock);
    ntp_status st = ntp__handle_check_locked(h, NTP_HANDLE_THREAD);
    if (st == 0) {
        thandle *th = (thandle *)h;
        if (th->thread != NULL) {
            st = NTP_EBUSY;
        } else {
            *code = th->exit_code;
        }
    }
    pthread_mutex_unlock(&ntp__sync_lock);
    return st;
}

ntp_status
ntp_queue_apc(ntp_handle *thread, ntp_apc_fn fn, void *arg)
{
    if (thread == NULL || fn == NULL) {
        return NTP_EINVAL;
    }
    struct ntp__thread *self =
        thread == NTP_CURRENT_THREAD ? ntp__thread_self() : NULL;
    struct ntp__apc *a = ntp__calloc(1, sizeof *a);
    if (a == NULL) {
        return NTP_ENOMEM;
    }
    ntp__list_init(&a->link);
    a->heap = true;
    a->fn = fn;
    a->arg = arg;

    ntp_status st = 0;
    struct ntp__thread *t = self;
    pthread_mutex_lock(&ntp__sync_lock);
    if (t == NULL) {
        st = ntp__handle_check_locked(thread, NTP_HANDLE_THREAD);
        if (st == 0) {
            t = ((thandle *)thread)->thread;
            if (t == NULL) {
                st = NTP_ESRCH; /* ERROR_GEN_FAILURE (CONFORMANCE K142) */
            }
        }
    }
    if (st == 0) {
        ntp__apc_queue_locked(t, a);
    }
    pthread_mutex_unlock(&ntp__sync_lock);
    if (st < 0) {
        ntp__free(a);
    }
    return st;
}

/* ------------------------------------------------------------------------ */
/* Sleeping                                                                  */
/* ------------------------------------------------------------------------ */

/* Sleep, not alertable, until the CLOCK_MONOTONIC deadline (UINT64_MAX:
 * forever). Signals do not cut it short. */
static void
sleep_until(uint64_t deadline)
{
    for (;;) {
        struct timespec ts;
        if (deadline == UINT64_MAX) {
            ts.tv_sec = 86400;
            ts.tv_nsec = 0;
            nanosleep(&ts, NULL);
            continue;
        }
        if (ntp__now_ns() >= deadline) {
            return;
        }
        ntp__ns_to_timespec(deadline, &ts);
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    }
}

int
ntp_sleep_ex(uint32_t timeout_ms, bool alertable)
{
    uint64_t deadline = ntp__deadline_after_ms(timeout_ms);
    if (!alertable) {
        if (timeout_ms == 0) {
            sched_yield();
            return 0;
        }
        ntp__blocking_enter();
        sleep_until(deadline);
        ntp__blocking_leave();
        return 0;
    }

    struct ntp__thread *self = ntp__thread_self();
    pthread_mutex_lock(&ntp__sync_lock);
    if (ntp__thread_apc_pending_locked(self)) {
        pthread_mutex_unlock(&ntp__sync_lock);
        ntp__thread_run_apcs(self);
        return NTP_WAIT_IO_COMPLETION;
    }
    pthread_mutex_unlock(&ntp__sync_lock);
    if (timeout_ms == 0) {
        sched_yield();
        return 0;
    }

    /* A block over no handle: only its condition variable is used, as the
     * place where queued APCs wake us. */
    struct ntp__wait_block b;
    ntp__wait_block_init(&b, NULL, NULL, 0, false, self);
    ntp__cond_init(&b.cond);
    ntp__blocking_enter();
    pthread_mutex_lock(&ntp__sync_lock);
    self->alertable_block = &b;
    bool ran = false;
    for (;;) {
        if (ntp__thread_apc_pending_locked(self)) {
            ran = true;
            break;
        }
        if (deadline == UINT64_MAX) {
            pthread_cond_wait(&b.cond, &ntp__sync_lock);
            continue;
        }
        if (ntp__now_ns() >= deadline) {
            break;
        }
        struct timespec ts;
        ntp__ns_to_timespec(deadline, &ts);
        pthread_cond_timedwait(&b.cond, &ntp__sync_lock, &ts);
    }
    self->alertable_block = NULL;
    pthread_mutex_unlock(&ntp__sync_lock);
    /* Safe: queuers signal b.cond under the lock we just held after them. */
    pthread_cond_destroy(&b.cond);
    ntp__blocking_leave();
    if (ran) {
        ntp__thread_run_apcs(self);
        return NTP_WAIT_IO_COMPLETION;
    }
    return 0;
}

void
ntp__apc_run_pending(void)
{
    struct ntp__thread *self = ntp__thread_self();
    pthread_mutex_lock(&ntp__sync_lock);
    bool pending = ntp__thread_apc_pending_locked(self);
    pthread_mutex_unlock(&ntp__sync_lock);
    if (pending) {
        ntp__thread_run_apcs(self);
    }
}

int
ntp__thread_handle_in_alertable_wait(ntp_handle *h)
{
    pthread_mutex_lock(&ntp__sync_lock);
    int r = ntp__handle_check_locked(h, NTP_HANDLE_THREAD);
    if (r == 0) {
        struct ntp__thread *t = ((thandle *)h)->thread;
        r = t != NULL && t->alertable_block != NULL;
    }
    pthread_mutex_unlock(&ntp__sync_lock);
    return r;
}
