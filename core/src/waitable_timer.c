/*
 * waitable_timer.c -- waitable timer handles (SPEC 13.7): a handle kind
 * (sync.h) whose signalled state is set by a reactor timer.
 *
 * The states, guarded by the sync lock:
 *
 *   INACTIVE  --set (due > now)-->     ACTIVE, nonsignalled
 *   INACTIVE  --set (due "now")-->     signalled; ACTIVE if periodic
 *   ACTIVE    --expiry, one-shot-->    INACTIVE, signalled
 *   ACTIVE    --expiry, periodic-->    ACTIVE, signalled
 *   any       --set-->                 stopped and nonsignalled first
 *   any       --cancel-->              INACTIVE, signalled state kept
 *   signalled --wait satisfied-->      nonsignalled (synchronization
 *                                      timer only; a manual-reset timer
 *                                      stays signalled until set again)
 *
 * LIFETIME: the common handle rules (sync.h), plus: a queued completion
 * APC holds a reference of its own (dropped once it ran, was discarded by
 * its thread's exit, or was removed by set/cancel), and the setting
 * thread's record points at the timer through owner_node until the timer
 * is retired or set again or the thread exits (apc.c). The reactor timer
 * is the one other pointer to the handle. Its expiry function, wtimer_fire, takes
 * the sync lock, and the handle's last reference is dropped under the same
 * lock (ops->retire), so the definitive ntp__rtimer_disarm cannot be used
 * there: it would wait for a wtimer_fire that waits for our lock. Instead
 * retire, set and cancel stop the reactor timer with ntp__rtimer_revoke,
 * under the sync lock, and wtimer_fire takes the sync lock (a global, so
 * no timer memory is touched to reach it) and claims its expiry before
 * it touches the timer at all. A revoked expiry is refused, so once
 * retire has run, the reactor never touches the handle again, and
 * ntp__handle_destroy may free it as soon as the lock is dropped.
 */
#include "reactor.h"
#include "sync.h"

#define NS_PER_MS 1000000u

typedef struct wtimer {
    struct ntp_handle base; /* first: handle.c frees it through this */
    bool manual;            /* notification (manual-reset) timer */
    ntp__rtimer rt;
    /* Guarded by the sync lock. */
    bool signalled;
    bool active;            /* an expiry is armed */
    uint32_t period_ms;     /* 0: one-shot */
    ntp__clock clock;       /* of the armed expiry */
    uint64_t due_ns;        /* the armed expiry, on `clock` */
    /*
     * The completion routine (ntp_waitable_timer_set_apc), guarded by the
     * sync lock. apc_thread is the thread that set the timer with a
     * routine (owner_node links the timer into its apc_timers list), NULL
     * when there is no routine or that thread has exited. `apc` is the one
     * completion APC of this timer (sync.h, struct ntp__apc): queued by
     * an expiry if not queued already, holding a handle reference while
     * queued; removed by set and cancel. The thread's exit cancels the
     * timer (SPEC 13.7, ntp__wtimer_owner_exit_locked).
     */
    ntp_timer_apc_fn apc_fn;
    void *apc_arg;
    struct ntp__thread *apc_thread;
    ntp__list owner_node;
    struct ntp__apc apc;
} wtimer;

static bool
wtimer_signalled(ntp_handle *h, struct ntp__thread *t)
{
    (void)t;
    return ((wtimer *)h)->signalled;
}

static int
wtimer_acquire(ntp_handle *h, struct ntp__thread *t)
{
    wtimer *wt = (wtimer *)h;
    (void)t;
    /* A synchronization timer is reset by the one wait it satisfies. */
    if (!wt->manual) {
        wt->signalled = false;
    }
    return NTP_WAIT_OBJECT_0;
}

/* Forget the completion routine's thread. Sync lock held. */
static void
drop_owner_locked(wtimer *wt)
{
    if (wt->apc_thread != NULL) {
        ntp__list_remove(&wt->owner_node);
        wt->apc_thread = NULL;
    }
    wt->apc_fn = NULL;
    wt->apc_arg = NULL;
}

static void
wtimer_retire(ntp_handle *h)
{
    wtimer *wt = (wtimer *)h;
    /* Sync lock held: revoke, never wait (see LIFETIME). No completion APC
     * can be queued: a queued one holds a reference. */
    ntp__rtimer_revoke(&wt->rt);
    wt->active = false;
    drop_owner_locked(wt);
}

void
ntp__wtimer_owner_exit_locked(ntp__list *owner_node)
{
    wtimer *wt = ntp__container_of(owner_node, wtimer, owner_node);
    /* The setting thread exits: a timer with a completion routine is
     * cancelled, its signalled state unchanged (SPEC 13.7). Its queued
     * APC, if any, was discarded with the thread's queue just before. */
    ntp__rtimer_revoke(&wt->rt);
    wt->active = false;
    drop_owner_locked(wt);
}

/* Remove a queued completion APC (SetWaitableTimer, CancelWaitableTimer).
 * The caller holds the application's reference, so the APC's is never the
 * last one; should it be, *dead says so and the caller destroys the handle
 * after dropping the lock. Sync lock held. */
static void
cancel_apc_locked(wtimer *wt, bool *dead)
{
    if (ntp__apc_cancel_locked(&wt->apc)
        && ntp__handle_unref_locked(&wt->base)) {
        *dead = true;
    }
}

static const struct ntp__handle_ops wtimer_ops = {
    .kind = NTP_HANDLE_WAITABLE_TIMER,
    .name = "waitable timer",
    .signalled = wtimer_signalled,
    .acquire = wtimer_acquire,
    .retire = wtimer_retire,
};

/* Arm one expiry. Sync lock held (the reactor lock comes after it). */
static void
arm_locked(wtimer *wt, ntp__clock clock, uint64_t due_ns)
{
    wt->clock = clock;
    wt->due_ns = due_ns;
    wt->active = true;
    ntp__rtimer_arm(&wt->rt, clock, due_ns, 0);
}

/*
 * The timer expires: signalled, its waiters satisfied (one of them only,
 * for a synchronization timer: the first acquisition resets it), and the
 * next period armed. Sync lock held.
 */
static void
expire_locked(wtimer *wt, ntp__clock clock, uint64_t due_ns)
{
    if (wt->period_ms > 0) {
        arm_locked(wt, NTP__CLOCK_MONOTONIC,
                   ntp__rtimer_next_period(clock, due_ns,
                                           (uint64_t)wt->period_ms *
                                               NS_PER_MS));
    } else {
        wt->active = false;
    }
    wt->signalled = true;
    ntp__handle_wake_locked(&wt->base);
    ntp__handle_mirror_update_locked(&wt->base);
    /* The completion routine, to the thread that set the timer, unless
     * its APC is still queued from an earlier expiry or the application
     * has closed the timer (nobody could stop it any more). */
    if (wt->apc_thread != NULL && !wt->apc.queued && !wt->base.closed) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        /* FILETIME: 100 ns units since 1601-01-01 UTC. */
        uint64_t ft = (uint64_t)now.tv_sec * 10000000u
                      + (uint64_t)now.tv_nsec / 100u
                      + UINT64_C(116444736000000000);
        wt->apc.timer_fn = wt->apc_fn;
        wt->apc.arg = wt->apc_arg;
        wt->apc.time_low = (uint32_t)ft;
        wt->apc.time_high = (uint32_t)(ft >> 32);
        ntp__handle_ref_locked(&wt->base);
        ntp__apc_queue_locked(wt->apc_thread, &wt->apc);
    }
}

/* On the reactor thread, no lock held. Nothing of the timer is read
 * before the claim succeeds (see LIFETIME). */
static void
wtimer_fire(ntp__rtimer *rt)
{
    pthread_mutex_lock(&ntp__sync_lock);
    if (ntp__rtimer_claim(rt)) {
        wtimer *wt = ntp__container_of(rt, wtimer, rt);
        expire_locked(wt, wt->clock, wt->due_ns);
    }
    pthread_mutex_unlock(&ntp__sync_lock);
}

ntp_status
ntp_waitable_timer_create(ntp_handle **out, bool manual_reset)
{
    if (out == NULL) {
        return NTP_EINVAL;
    }
    /* Start the timer thread now, so that setting the timer never fails
     * for want of it. */
    ntp_status st = ntp__reactor_start();
    if (st < 0) {
        return st;
    }
    ntp_handle *h;
    st = ntp__handle_new(&h, sizeof(wtimer), &wtimer_ops);
    if (st < 0) {
        return st;
    }
    wtimer *wt = (wtimer *)h;
    wt->manual = manual_reset;
    wt->signalled = false;
    wt->active = false;
    wt->period_ms = 0;
    ntp__rtimer_init(&wt->rt, wtimer_fire);
    wt->apc_fn = NULL;
    wt->apc_arg = NULL;
    wt->apc_thread = NULL;
    ntp__list_init(&wt->owner_node);
    ntp__list_init(&wt->apc.link);
    wt->apc.queued = false;
    wt->apc.heap = false;
    wt->apc.hold = h;
    *out = h;
    return 0;
}

ntp_status
ntp_waitable_timer_set(ntp_handle *h, ntp_due due, int32_t period_ms)
{
    return ntp_waitable_timer_set_apc(h, due, period_ms, NULL, NULL);
}

ntp_status
ntp_waitable_timer_set_apc(ntp_handle *h, ntp_due due, int32_t period_ms,
                           ntp_timer_apc_fn fn, void *arg)
{
    if (period_ms < 0
        || (due.kind != NTP_DUE_RELATIVE && due.kind != NTP_DUE_ABSOLUTE)) {
        return NTP_EINVAL;
    }
    struct ntp__thread *self = fn != NULL ? ntp__thread_self() : NULL;
    bool dead = false;
    pthread_mutex_lock(&ntp__sync_lock);
    ntp_status st = ntp__handle_check_locked(h, NTP_HANDLE_WAITABLE_TIMER);
    if (st == 0) {
        wtimer *wt = (wtimer *)h;
        /* A pending completion APC is cancelled; the routine and its
         * thread are replaced (SPEC 13.7). */
        cancel_apc_locked(wt, &dead);
        drop_owner_locked(wt);
        if (fn != NULL) {
            wt->apc_fn = fn;
            wt->apc_arg = arg;
            wt->apc_thread = self;
            ntp__list_push_back(&self->apc_timers, &wt->owner_node);
        }
        /* Stopped first, without signalling, and nonsignalled (SPEC
         * 13.7); an expiry the reactor already took is revoked. */
        ntp__rtimer_revoke(&wt->rt);
        wt->active = false;
        wt->signalled = false;
        wt->period_ms = (uint32_t)period_ms;
        uint64_t now = ntp__now_ns();
        if (due.kind == NTP_DUE_ABSOLUTE) {
            arm_locked(wt, NTP__CLOCK_REALTIME, due.ns);
        } else if (due.ns > 0) {
            arm_locked(wt, NTP__CLOCK_MONOTONIC,
                       due.ns > UINT64_MAX - now ? UINT64_MAX
                                                 : now + due.ns);
        } else {
            /* Due "now": it expires before we return, so a wait right
             * after the set finds it signalled. */
            expire_locked(wt, NTP__CLOCK_MONOTONIC, now);
        }
        ntp__handle_mirror_update_locked(h);
    }
    pthread_mutex_unlock(&ntp__sync_lock);
    if (dead) {
        ntp__handle_destroy(h);
    }
    return st;
}

ntp_status
ntp_waitable_timer_cancel(ntp_handle *h)
{
    bool dead = false;
    pthread_mutex_lock(&ntp__sync_lock);
    ntp_status st = ntp__handle_check_locked(h, NTP_HANDLE_WAITABLE_TIMER);
    if (st == 0) {
        wtimer *wt = (wtimer *)h;
        /* Inactive, its queued completion APC removed; a signalled timer
         * stays signalled and waiters keep waiting (SPEC 13.7). */
        ntp__rtimer_revoke(&wt->rt);
        wt->active = false;
        cancel_apc_locked(wt, &dead);
    }
    pthread_mutex_unlock(&ntp__sync_lock);
    if (dead) {
        ntp__handle_destroy(h);
    }
    return st;
}
