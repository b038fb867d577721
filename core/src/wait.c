/*
 * wait.c -- thread-pool waits (SPEC 8): SetThreadpoolWait and friends.
 *
 * A wait object is a callback object (object.h) with one wait block
 * (sync.h) inside, over the one handle it watches, and a reactor timer for
 * its timeout. No thread waits for it. Arming links the block into the
 * handle's waiter list; the call that signals the handle then satisfies
 * the block on the spot (wait_satisfied, under the sync lock), taking the
 * handle for it (an auto-reset event resets, a semaphore count drops) and
 * queueing the callback. Only the timeout goes through the reactor's heap
 * (DESIGN 2), so any number of armed waits costs memory and no thread.
 *
 * LOCK ORDER. Besides the locks of internal.h, each wait has its own
 * set_lock, which serializes everything that starts or ends an arming on
 * the owner's side: set, the release (disarm), the timeout, the start of
 * a callback. It comes before the sync lock (after the cleanup group
 * lock, with which it never nests): set_lock -> sync lock -> pool lock ->
 * reactor lock. wait_satisfied runs under the sync lock, so it never
 * takes set_lock; set_lock is never held while waiting for the reactor
 * (no definitive disarm under it) or while user code runs.
 *
 * ARMINGS. Each set that names a handle starts an arming, numbered by
 * `gen`. It ends exactly once, in one of these ways:
 *   - satisfied when armed: ntp__wait_block_arm returns the result, and
 *     the setter queues WAIT_OBJECT_0 itself;
 *   - satisfied by a signaller: wait_satisfied queues WAIT_OBJECT_0;
 *   - timed out: the owner's ntp__wait_block_disarm returns true, and it
 *     queues WAIT_TIMEOUT (timeout_fire, or the setter for a zero
 *     timeout);
 *   - stopped by a later set, a set to NULL or the release: the disarm
 *     returns true and nothing is queued; the handle was not touched
 *     (CONFORMANCE G58, I92).
 * The block's own state machine decides between the signaller and the
 * owner: disarm returns true to the owner only if no signaller took the
 * block, and if it returns false wait_satisfied has already returned.
 *
 * TIMEOUTS use the reactor's revoke-and-claim protocol (reactor.h) with
 * set_lock as the owner's lock: timeout_fire claims its expiry under
 * set_lock, and every set and the release revoke the timer under it. So
 * an expiry of an earlier arming can never time out a later one. The
 * satisfaction of an arming also revokes its timer (without set_lock,
 * which it may not take): that only spares the reactor a useless expiry,
 * since an expiry of a finished arming finds the block disarmed already
 * and queues nothing.
 *
 * KICKS. Queueing a callback may call for a new worker thread or for the
 * starvation monitor (ntp__kick.spawn/.watch). ntp__pool_kick does both
 * with system calls that can fail and report through ntp__diag, which
 * wait_satisfied may not call: it runs inside the signalling call, under
 * the sync lock, and no hook runs after that lock is dropped. So
 * wait_satisfied wakes an idle worker at once (a condition-variable
 * signal, which is safe under any lock) and defers the rest to the
 * reactor thread through a second timer, kick_rt, armed for "now"
 * (ntp__rtimer_arm may be called under the sync lock). The pool has
 * already counted the worker as being started, so nothing else starts a
 * second one meanwhile.
 *
 * RESULTS. A wait is one-shot, but a re-arm can complete while the run of
 * the previous arming is still queued, so one object can have several
 * runs queued. Each post records its result in a FIFO (a 64-slot bit
 * ring, then two counters that keep the totals but not the order), and
 * each run takes the oldest: WAIT_OBJECT_0 while signals remain, as in
 * Wine. WaitForThreadpoolWaitCallbacks(TRUE) drops the newest entries
 * with the posts it cancels; a cleanup group that cancels posts does not
 * tell us, so a run also drops entries beyond what can still be taken.
 *
 * LIFETIME (object.h for the common part). The wait holds a reference on
 * its handle (sync.h) from the set that names it until the arming has
 * ended and the owner's side has noticed: at once for the first, third
 * and fourth ways above, at the start of the callback (or the next set,
 * or the release) for the second. The release (close or cleanup group)
 * stops the wait through wait_disarm before the object can be freed, and
 * no set is accepted once the object is closed, so a freed wait is never
 * linked. The reactor holds pointers to both timers while they are armed
 * or firing, and their fire() functions read the object before they can
 * take a lock: wait_finalize, just before the memory is freed, disarms
 * both definitively and carries out a kick still deferred. It runs with
 * no lock held and never on the reactor thread (no fire() here frees an
 * object), so its waits cannot deadlock. The object's pool reference,
 * dropped after finalize, keeps the pool alive for every kick.
 */
#include "object.h"
#include "reactor.h"
#include "sync.h"

#include <string.h>

#define NS_PER_MS 1000000u
#define RING_SLOTS 64u

struct ntp_wait {
    ntp__object base; /* first: the object is freed through it */
    ntp_wait_cb cb;

    /* Written under set_lock; atomic so that a dump (pool lock only) may
     * read them. */
    pthread_mutex_t set_lock;
    ntp_handle *_Atomic handle; /* our reference, or NULL */
    _Atomic bool armed; /* the block may still be linked: stop disarms it */
    uint64_t gen;       /* the current (or last) arming */

    /* The block over `handle`: the owner's while not armed, the sync
     * lock's while armed (sync.h). */
    struct ntp__wait_block block;
    struct ntp__wait_node node;

    ntp__rtimer timeout_rt; /* claimed under set_lock (TIMEOUTS) */
    ntp__rtimer kick_rt;    /* carries out deferred kicks (KICKS) */

    /* Guarded by the pool lock. */
    uint64_t settled_gen;   /* last arming a signaller satisfied */
    uint64_t ring;          /* queued results, bit set = WAIT_TIMEOUT */
    uint32_t ring_head;
    uint32_t ring_len;
    uint32_t over_signals;  /* results beyond the ring */
    uint32_t over_timeouts;
    ntp__kick deferred;     /* spawn/watch left to kick_rt */
    bool kick_armed;
};

/* ------------------------------------------------------------------------ */
/* Results of queued runs (pool lock held)                                   */
/* ------------------------------------------------------------------------ */

static uint32_t
results_locked(const ntp_wait *w)
{
    return w->ring_len + w->over_signals + w->over_timeouts;
}

static void
push_result_locked(ntp_wait *w, bool timeout)
{
    /* Once the ring has overflowed, newer results go to the counters too,
     * so that every ring entry stays older than every counted one. */
    if (w->ring_len < RING_SLOTS && w->over_signals + w->over_timeouts == 0) {
        uint32_t slot = (w->ring_head + w->ring_len) % RING_SLOTS;
        if (timeout) {
            w->ring |= (uint64_t)1 << slot;
        } else {
            w->ring &= ~((uint64_t)1 << slot);
        }
        w->ring_len++;
    } else if (timeout) {
        w->over_timeouts++;
    } else {
        w->over_signals++;
    }
}

/* The oldest result. With none recorded (which the bookkeeping rules
 * out), WAIT_TIMEOUT, as Wine reports a run without a signal. */
static uint32_t
pop_result_locked(ntp_wait *w)
{
    if (w->ring_len > 0) {
        bool timeout = (w->ring >> w->ring_head) & 1;
        w->ring_head = (w->ring_head + 1) % RING_SLOTS;
        w->ring_len--;
        return timeout ? NTP_WAIT_TIMEOUT : NTP_WAIT_OBJECT_0;
    }
    if (w->over_signals > 0) {
        w->over_signals--;
        return NTP_WAIT_OBJECT_0;
    }
    if (w->over_timeouts > 0) {
        w->over_timeouts--;
    }
    return NTP_WAIT_TIMEOUT;
}

/* Forget the results of the n newest posts (they were cancelled). */
static void
drop_newest_locked(ntp_wait *w, uint32_t n)
{
    while (n > 0 && w->over_signals + w->over_timeouts > 0) {
        if (w->over_timeouts > 0) {
            w->over_timeouts--;
        } else {
            w->over_signals--;
        }
        n--;
    }
    w->ring_len -= n < w->ring_len ? n : w->ring_len;
}

/* Queue one run, WAIT_TIMEOUT or WAIT_OBJECT_0. Pool lock held. */
static void
post_locked(ntp_wait *w, bool timeout, ntp__kick *k)
{
    push_result_locked(w, timeout);
    ntp__pool_post_locked(w->base.pool, &w->base, k);
    if (NTP__TRACING())
        ntp__trace_record(NTP__TRACE_WAIT_FIRED, w, w->base.pool,
                          NTP__KIND_WAIT,
                          timeout ? NTP_WAIT_TIMEOUT : NTP_WAIT_OBJECT_0);
}

/* Post one run from a thread that holds no lock but set_lock. */
static void
post(ntp_wait *w, bool timeout, ntp__kick *k)
{
    pthread_mutex_lock(&w->base.pool->lock);
    post_locked(w, timeout, k);
    pthread_mutex_unlock(&w->base.pool->lock);
}

/* ------------------------------------------------------------------------ */
/* The object kind                                                           */
/* ------------------------------------------------------------------------ */

static void
wait_invoke(ntp__object *obj, ntp_instance *inst)
{
    ntp_wait *w = (ntp_wait *)obj;
    ntp_handle *drop = NULL;
    pthread_mutex_lock(&w->set_lock);
    pthread_mutex_lock(&obj->pool->lock);
    /* An arming satisfied by a signaller ended under the sync lock, where
     * its reference could not be dropped (sync.h): drop it now, unless a
     * set has already done so or started another arming. */
    if (w->handle != NULL && w->settled_gen == w->gen) {
        drop = w->handle;
        w->handle = NULL;
        w->armed = false;
    }
    /* Results of posts a cleanup group cancelled are the newest; no more
     * can be taken than the posts still queued plus the runs started. */
    while (results_locked(w) > obj->pending + obj->running) {
        (void)pop_result_locked(w);
    }
    uint32_t result = pop_result_locked(w);
    pthread_mutex_unlock(&obj->pool->lock);
    pthread_mutex_unlock(&w->set_lock);
    if (drop != NULL) {
        ntp__handle_unref(drop);
    }
    w->cb(inst, obj->ctx, w, result);
}

/*
 * A signaller satisfied the block: the sync lock is held, and this is the
 * whole contract of sync.h's seam. Take the pool lock (it comes after),
 * queue the run, wake an idle worker now and leave thread creation and the
 * starvation monitor to kick_fire (see KICKS).
 */
static void
wait_satisfied(struct ntp__wait_block *b, void *arg)
{
    ntp_wait *w = arg;
    ntp_pool *p = w->base.pool;
    ntp__kick k = {0};
    bool arm_kick = false;
    (void)b;
    (void)ntp__rtimer_revoke(&w->timeout_rt);
    pthread_mutex_lock(&p->lock);
    /* w->gen was written before the block was armed, and is rewritten
     * only after a disarm, which waits for us on the sync lock. */
    w->settled_gen = w->gen;
    post_locked(w, false, &k);
    if (k.spawn > 0 || k.watch) {
        w->deferred.spawn += k.spawn;
        w->deferred.watch = w->deferred.watch || k.watch;
        arm_kick = !w->kick_armed;
        w->kick_armed = true;
    }
    pthread_mutex_unlock(&p->lock);
    if (k.signal) {
        pthread_cond_signal(&p->work_cond);
    }
    if (k.signal_persistent) {
        pthread_cond_signal(&p->persistent_cond);
    }
    if (arm_kick) {
        ntp__rtimer_arm(&w->kick_rt, NTP__CLOCK_MONOTONIC, ntp__now_ns(), 0);
    }
}

/* On the reactor thread, no lock held: the deferred part of the kicks of
 * wait_satisfied. The memory is valid (wait_finalize waits for us). */
static void
kick_fire(ntp__rtimer *rt)
{
    ntp_wait *w = ntp__container_of(rt, ntp_wait, kick_rt);
    ntp_pool *p = w->base.pool;
    pthread_mutex_lock(&p->lock);
    ntp__kick k = w->deferred;
    memset(&w->deferred, 0, sizeof w->deferred);
    w->kick_armed = false;
    pthread_mutex_unlock(&p->lock);
    ntp__pool_kick(p, &k);
}

/*
 * The timeout of an arming, on the reactor thread with no lock held. A
 * refused claim means the arming was replaced or stopped (TIMEOUTS). The
 * handle is not consumed: a timeout only unlinks the block.
 */
static void
timeout_fire(ntp__rtimer *rt)
{
    ntp_wait *w = ntp__container_of(rt, ntp_wait, timeout_rt);
    ntp__kick k = {0};
    ntp_handle *drop = NULL;
    pthread_mutex_lock(&w->set_lock);
    if (ntp__rtimer_claim(rt) && w->armed) {
        w->armed = false;
        if (ntp__wait_block_disarm(&w->block)) {
            post(w, true, &k);
        }
        /* Timed out or satisfied, the arming is over either way. */
        drop = w->handle;
        w->handle = NULL;
    }
    pthread_mutex_unlock(&w->set_lock);
    ntp__pool_kick(w->base.pool, &k);
    if (drop != NULL) {
        ntp__handle_unref(drop);
    }
}

/* End the current arming, if any, without consuming its handle. Returns
 * true if it was still pending. The handle reference goes to *drop, for
 * the caller to drop once it has let go of set_lock. set_lock held. */
static bool
stop_locked(ntp_wait *w, ntp_handle **drop)
{
    bool pending = false;
    (void)ntp__rtimer_revoke(&w->timeout_rt);
    if (w->armed) {
        w->armed = false;
        pending = ntp__wait_block_disarm(&w->block);
    }
    *drop = w->handle;
    w->handle = NULL;
    return pending;
}

/* The application released the wait (close, or its cleanup group). No
 * lock held. After this, no callback is queued for an arming made
 * before. */
static void
wait_disarm(ntp__object *obj)
{
    ntp_wait *w = (ntp_wait *)obj;
    ntp_handle *drop;
    pthread_mutex_lock(&w->set_lock);
    (void)stop_locked(w, &drop);
    pthread_mutex_unlock(&w->set_lock);
    if (drop != NULL) {
        ntp__handle_unref(drop);
    }
}

/* Just before the memory goes (see LIFETIME): no lock held. */
static void
wait_finalize(ntp__object *obj)
{
    ntp_wait *w = (ntp_wait *)obj;
    ntp_handle *drop = NULL;
    /* The release stopped the wait already; this only guards against a
     * path that forgot to, since a linked block would dangle. */
    pthread_mutex_lock(&w->set_lock);
    (void)stop_locked(w, &drop);
    pthread_mutex_unlock(&w->set_lock);
    ntp__rtimer_disarm(&w->timeout_rt);
    ntp__rtimer_disarm(&w->kick_rt);
    pthread_mutex_lock(&obj->pool->lock);
    ntp__kick k = w->deferred;
    memset(&w->deferred, 0, sizeof w->deferred);
    pthread_mutex_unlock(&obj->pool->lock);
    ntp__pool_kick(obj->pool, &k);
    if (drop != NULL) {
        ntp__handle_unref(drop);
    }
    pthread_mutex_destroy(&w->set_lock);
}

/* The dump's view: armed on which handle, and results queued. */
static void
wait_describe(ntp__object *obj, FILE *f)
{
    ntp_wait *w = (ntp_wait *)obj;
    ntp_handle *h = atomic_load_explicit(&w->handle, memory_order_relaxed);
    if (atomic_load_explicit(&w->armed, memory_order_relaxed) && h)
        fprintf(f, ", armed on handle %p", (void *)h);
    else
        fprintf(f, ", not armed");
    if (w->ring_len + w->over_signals + w->over_timeouts)
        fprintf(f, ", %u results queued",
                w->ring_len + w->over_signals + w->over_timeouts);
}

static const ntp__object_ops wait_ops = {
    .kind = NTP__KIND_WAIT,
    .name = "wait",
    .invoke = wait_invoke,
    .disarm = wait_disarm,
    .finalize = wait_finalize,
    .describe = wait_describe,
};

ntp_status
ntp_wait_create(ntp_wait **out, ntp_wait_cb cb, void *ctx,
                const ntp_env *env)
{
    if (out == NULL) {
        return NTP_EINVAL;
    }
    *out = NULL;
    if (cb == NULL) {
        return NTP_EINVAL;
    }
    /* The only step that can fail for want of resources: after it,
     * setting the wait never can (SPEC 2). */
    ntp_status st = ntp__reactor_start();
    if (st < 0) {
        return st;
    }
    ntp_wait *w = ntp__calloc(1, sizeof *w);
    if (w == NULL) {
        return NTP_ENOMEM;
    }
    w->cb = cb;
    pthread_mutex_init(&w->set_lock, NULL);
    ntp__rtimer_init(&w->timeout_rt, timeout_fire);
    ntp__rtimer_init(&w->kick_rt, kick_fire);
    st = ntp__object_init(&w->base, &wait_ops, ctx, env);
    if (st < 0) {
        pthread_mutex_destroy(&w->set_lock);
        ntp__free(w);
        return st;
    }
    *out = w;
    ntp__object_unpin(&w->base); /* the creation pin */
    return 0;
}

static bool
check_wait(ntp_wait *w, const char *fn)
{
    if (ntp__object_check(w, NTP__KIND_WAIT)) {
        return true;
    }
    ntp__diag("%s: not a wait object (%p)", fn, (void *)w);
    return false;
}

/*
 * Start an arming on h, whose reference the caller hands over. Returns
 * the handle to drop once set_lock is released (the arming ended at once)
 * or NULL, and in *err a failure of ntp__wait_block_arm for the caller to
 * report. set_lock held, the previous arming stopped.
 */
static ntp_handle *
arm_locked(ntp_wait *w, ntp_handle *h, ntp_due timeout, ntp__kick *k,
           int *err)
{
    ntp_handle *handles[1] = {h};
    w->gen++;
    w->handle = h;
    ntp__wait_block_init(&w->block, &w->node, handles, 1, false, NULL);
    w->block.on_satisfied = wait_satisfied;
    w->block.arg = w;
    int r = ntp__wait_block_arm(&w->block);
    if (r >= 0) {
        /* Signalled already: taken for us, not linked, and on_satisfied
         * is not called, so the run is ours to queue. */
        post(w, false, k);
    } else if (r != NTP__WAIT_PENDING) {
        *err = r; /* closed since we took our reference */
    } else if (timeout.kind == NTP_DUE_RELATIVE && timeout.ns == 0) {
        /* "Test now" (SPEC 1.2): not signalled when armed. If a signaller
         * took the block in between, it queued the run itself. */
        if (ntp__wait_block_disarm(&w->block)) {
            post(w, true, k);
        }
    } else {
        w->armed = true;
        if (timeout.kind == NTP_DUE_ABSOLUTE) {
            ntp__rtimer_arm(&w->timeout_rt, NTP__CLOCK_REALTIME, timeout.ns,
                            0);
        } else if (timeout.kind == NTP_DUE_RELATIVE) {
            uint64_t now = ntp__now_ns();
            uint64_t due = timeout.ns > UINT64_MAX - now ? UINT64_MAX
                                                         : now + timeout.ns;
            ntp__rtimer_arm(&w->timeout_rt, NTP__CLOCK_MONOTONIC, due, 0);
        }
        return NULL;
    }
    w->handle = NULL;
    return h;
}

/*
 * SetThreadpoolWait[Ex]. Returns whether the previous arming was still
 * pending and got cancelled. A call that is refused (bad handle, mutex,
 * closed wait, bad due kind) changes nothing.
 */
static bool
wait_set(ntp_wait *w, ntp_handle *h, ntp_due timeout, const char *fn)
{
    if (!check_wait(w, fn)) {
        return false;
    }
    if (h != NULL && timeout.kind != NTP_DUE_NONE
        && timeout.kind != NTP_DUE_RELATIVE
        && timeout.kind != NTP_DUE_ABSOLUTE) {
        ntp__diag("%s: wait %p: bad timeout kind %d; ignored", fn, (void *)w,
                  timeout.kind);
        return false;
    }
    if (h != NULL) {
        ntp_status st = ntp__handle_ref(h);
        if (st < 0) {
            ntp__diag("%s: wait %p: handle %p: %s; ignored", fn, (void *)w,
                      (void *)h, ntp_strerror(st));
            return false;
        }
        /* Our reference keeps h, and its immutable ops, alive. */
        if (h->ops->kind == NTP_HANDLE_MUTEX) {
            ntp__handle_unref(h);
            ntp__diag("%s: wait %p: a mutex cannot be the target of a "
                      "thread-pool wait (its owner would be a pool thread); "
                      "ignored",
                      fn, (void *)w);
            return false;
        }
    }

    /* Pinned until we are done: arming on a signalled handle queues the
     * callback at once, and that callback may close the wait (a one-shot
     * pattern) and free it, and with it maybe the pool, before we kick. */
    ntp_pool *p = w->base.pool;
    pthread_mutex_lock(&p->lock);
    ntp__object_pin_locked(&w->base);
    pthread_mutex_unlock(&p->lock);

    ntp__kick k = {0};
    ntp_handle *old = NULL;
    ntp_handle *ended = NULL;
    bool closed = false;
    bool was_pending = false;
    int err = 0;
    pthread_mutex_lock(&w->set_lock);
    /* The release flips `closed` before it takes set_lock to disarm, so
     * an arming made here while it reads false is stopped by it. */
    if (atomic_load(&w->base.closed)) {
        closed = true;
        ended = h;
    } else {
        was_pending = stop_locked(w, &old);
        if (h != NULL) {
            ended = arm_locked(w, h, timeout, &k, &err);
        }
    }
    pthread_mutex_unlock(&w->set_lock);

    ntp__pool_kick(p, &k); /* our pin keeps w, and w the pool */
    if (old != NULL) {
        ntp__handle_unref(old);
    }
    if (ended != NULL) {
        ntp__handle_unref(ended);
    }
    if (closed) {
        ntp__diag("%s: wait %p was closed; ignored", fn, (void *)w);
    } else if (err < 0) {
        ntp__diag("%s: wait %p: handle %p: %s; not armed", fn, (void *)w,
                  (void *)h, ntp_strerror(err));
    }
    ntp__object_unpin(&w->base);
    return was_pending;
}

static ntp_due
due_of_ms(uint32_t timeout_ms)
{
    return timeout_ms == NTP_INFINITE ? ntp_due_none()
                                      : ntp_due_in_ms(timeout_ms);
}

void
ntp_wait_set(ntp_wait *w, ntp_handle *h, uint32_t timeout_ms)
{
    (void)wait_set(w, h, due_of_ms(timeout_ms), "ntp_wait_set");
}

void
ntp_wait_set_due(ntp_wait *w, ntp_handle *h, ntp_due timeout)
{
    (void)wait_set(w, h, timeout, "ntp_wait_set_due");
}

bool
ntp_wait_set_ex(ntp_wait *w, ntp_handle *h, ntp_due timeout)
{
    return wait_set(w, h, timeout, "ntp_wait_set_ex");
}

void
ntp_wait_wait(ntp_wait *w, bool cancel_pending)
{
    if (!check_wait(w, "ntp_wait_wait")) {
        return;
    }
    if (cancel_pending) {
        /* Cancelled here rather than by ntp__object_wait, so the results
         * of the dropped posts (the newest ones) go with them. An armed
         * wait stays armed (CONFORMANCE I95). */
        ntp_pool *p = w->base.pool;
        pthread_mutex_lock(&p->lock);
        uint32_t dropped = ntp__object_cancel_posts_locked(&w->base);
        drop_newest_locked(w, dropped);
        pthread_mutex_unlock(&p->lock);
    }
    ntp__object_wait(&w->base, false);
}

void
ntp_wait_close(ntp_wait *w)
{
    if (w != NULL && check_wait(w, "ntp_wait_close")) {
        ntp__object_close(&w->base);
    }
}

ntp_status
ntp_wait_set_release(ntp_wait *w, ntp_release_cb release)
{
    if (!ntp__object_check(w, NTP__KIND_WAIT)
        || atomic_load(&w->base.closed)) {
        return NTP_EINVAL;
    }
    /* Written under the pool lock; read when the object is destroyed,
     * which is decided under the same lock. */
    pthread_mutex_lock(&w->base.pool->lock);
    w->base.release = release;
    pthread_mutex_unlock(&w->base.pool->lock);
    return 0;
}

void *
ntp_wait_context(ntp_wait *w)
{
    return ntp__object_check(w, NTP__KIND_WAIT) ? w->base.ctx : NULL;
}
