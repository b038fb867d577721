/*
 * timer.c -- thread-pool timers (SPEC 7) and the due-time helpers shared
 * with waitable timers.
 *
 * A timer is a callback object (object.h) with a reactor timer inside.
 * Setting it arms the reactor timer; when that expires, timer_fire runs on
 * the reactor thread, queues one callback to the timer's pool and re-arms
 * a periodic timer. Every change of the setting and every expiry happen
 * under the pool lock, and the reactor timer is stopped there with
 * ntp__rtimer_revoke (reactor.h), so:
 *   - setting never blocks: an expiry of the previous setting that the
 *     reactor has already taken but not yet acted on is revoked, and its
 *     fire() does nothing when it gets the lock;
 *   - once a set or the object's disarm has returned, the previous setting
 *     queues no further callback and re-arms nothing.
 *
 * LIFETIME (object.h for the common part). The reactor holds a pointer to
 * the timer while it is armed and while timer_fire runs. timer_fire reads
 * the object before it can take the pool lock, so the memory must outlive
 * any fire() in progress: that is the job of timer_finalize, which runs in
 * ntp__object_destroy just before the memory is freed and disarms
 * definitively (waiting for a fire() in progress). It is called with no
 * lock held, never on the reactor thread, so the wait cannot deadlock.
 * The pool outlives the object (the object holds a pool reference until
 * after finalize), which is what lets timer_fire kick the pool after
 * dropping its lock.
 */
#include "object.h"
#include "reactor.h"

#define NS_PER_MS 1000000u

struct ntp_timer {
    ntp__object base; /* first: the object is freed through it */
    ntp_timer_cb cb;
    ntp__rtimer rt;
    /* Guarded by the pool lock. */
    bool is_set;       /* IsThreadpoolTimerSet: last set had a due time */
    uint32_t period_ms;
    uint32_t window_ms;
    ntp__clock clock;  /* of the pending expiry */
    uint64_t due_ns;   /* the pending expiry, on `clock` */
};

/* ------------------------------------------------------------------------ */
/* Due times                                                                 */
/* ------------------------------------------------------------------------ */

ntp_due
ntp_due_none(void)
{
    ntp_due d = {NTP_DUE_NONE, 0};
    return d;
}

ntp_due
ntp_due_in_ns(uint64_t ns)
{
    ntp_due d = {NTP_DUE_RELATIVE, ns};
    return d;
}

ntp_due
ntp_due_in_ms(uint64_t ms)
{
    /* Saturate: UINT64_MAX ns is 584 years, as good as never. */
    return ntp_due_in_ns(ms > UINT64_MAX / NS_PER_MS ? UINT64_MAX
                                                     : ms * NS_PER_MS);
}

ntp_due
ntp_due_at_unix_ns(uint64_t ns)
{
    ntp_due d = {NTP_DUE_ABSOLUTE, ns};
    return d;
}

/* ------------------------------------------------------------------------ */
/* The object kind                                                           */
/* ------------------------------------------------------------------------ */

static void
timer_invoke(ntp__object *obj, ntp_instance *inst)
{
    ntp_timer *t = (ntp_timer *)obj;
    t->cb(inst, obj->ctx, t);
}

/* Arm the reactor timer for one expiry. Pool lock held (the reactor lock
 * comes after it). */
static void
arm_locked(ntp_timer *t, ntp__clock clock, uint64_t due_ns)
{
    t->clock = clock;
    t->due_ns = due_ns;
    ntp__rtimer_arm(&t->rt, clock, due_ns,
                    (uint64_t)t->window_ms * NS_PER_MS);
}

/*
 * An expiry, on the reactor thread with no lock held. The object's memory
 * is valid here (timer_finalize waits for us); its state is read only
 * under the pool lock, after the claim: a refused claim means the setting
 * this expiry belonged to was replaced or stopped meanwhile.
 */
static void
timer_fire(ntp__rtimer *rt)
{
    ntp_timer *t = ntp__container_of(rt, ntp_timer, rt);
    ntp_pool *p = t->base.pool;
    ntp__kick k = {0};
    pthread_mutex_lock(&p->lock);
    if (!ntp__rtimer_claim(rt) || atomic_load(&t->base.closed)) {
        pthread_mutex_unlock(&p->lock);
        return;
    }
    ntp__pool_post_locked(p, &t->base, &k);
    if (NTP__TRACING())
        ntp__trace_record(NTP__TRACE_TIMER_FIRED, t, p, NTP__KIND_TIMER, 0);
    if (t->period_ms > 0) {
        arm_locked(t, NTP__CLOCK_MONOTONIC,
                   ntp__rtimer_next_period(t->clock, t->due_ns,
                                           (uint64_t)t->period_ms *
                                               NS_PER_MS));
    }
    pthread_mutex_unlock(&p->lock);
    ntp__pool_kick(p, &k);
}

/* The application released the timer (close, or its cleanup group). No
 * lock held. After this no expiry queues a callback: one the reactor
 * took already finds its claim revoked. */
static void
timer_disarm(ntp__object *obj)
{
    ntp_timer *t = (ntp_timer *)obj;
    pthread_mutex_lock(&obj->pool->lock);
    ntp__rtimer_revoke(&t->rt);
    pthread_mutex_unlock(&obj->pool->lock);
}

/* Just before the memory goes (see LIFETIME): no lock held. */
static void
timer_finalize(ntp__object *obj)
{
    ntp_timer *t = (ntp_timer *)obj;
    ntp__rtimer_disarm(&t->rt);
}

/* The dump's view (pool lock held): armed or not, when it is next due,
 * its period and window. */
static void
timer_describe(ntp__object *obj, FILE *f)
{
    ntp_timer *t = (ntp_timer *)obj;
    if (!t->is_set) {
        fprintf(f, ", not set");
        return;
    }
    struct timespec ts;
    clock_gettime(t->clock == NTP__CLOCK_REALTIME ? CLOCK_REALTIME
                                                  : CLOCK_MONOTONIC,
                  &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    if (t->due_ns > now)
        fprintf(f, ", set: due in %.3f ms", (double)(t->due_ns - now) / 1e6);
    else
        fprintf(f, ", set: expired");
    if (t->clock == NTP__CLOCK_REALTIME)
        fprintf(f, " (absolute time)");
    if (t->period_ms)
        fprintf(f, ", period %u ms", t->period_ms);
    if (t->window_ms)
        fprintf(f, ", window %u ms", t->window_ms);
}

static const ntp__object_ops timer_ops = {
    .kind = NTP__KIND_TIMER,
    .name = "timer",
    .invoke = timer_invoke,
    .disarm = timer_disarm,
    .finalize = timer_finalize,
    .describe = timer_describe,
};

ntp_status
ntp_timer_create(ntp_timer **out, ntp_timer_cb cb, void *ctx,
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
     * setting the timer never can (SPEC 2). */
    ntp_status st = ntp__reactor_start();
    if (st < 0) {
        return st;
    }
    ntp_timer *t = ntp__calloc(1, sizeof *t);
    if (t == NULL) {
        return NTP_ENOMEM;
    }
    t->cb = cb;
    ntp__rtimer_init(&t->rt, timer_fire);
    st = ntp__object_init(&t->base, &timer_ops, ctx, env);
    if (st < 0) {
        ntp__free(t);
        return st;
    }
    *out = t;
    ntp__object_unpin(&t->base); /* the creation pin */
    return 0;
}

static bool
check_timer(ntp_timer *t, const char *fn)
{
    if (ntp__object_check(t, NTP__KIND_TIMER)) {
        return true;
    }
    ntp__diag("%s: not a timer (%p)", fn, (void *)t);
    return false;
}

/*
 * SetThreadpoolTimer[Ex]. Returns whether the previous setting was still
 * pending (ntp__rtimer_revoke's answer). Everything happens under the pool
 * lock, so two sets, or a set and an expiry, are ordered by it.
 */
static bool
timer_set(ntp_timer *t, ntp_due due, uint32_t period_ms, uint32_t window_ms,
          const char *fn)
{
    if (!check_timer(t, fn)) {
        return false;
    }
    if (due.kind != NTP_DUE_NONE && due.kind != NTP_DUE_RELATIVE
        && due.kind != NTP_DUE_ABSOLUTE) {
        ntp__diag("%s: timer %p: bad due time kind %d; ignored", fn,
                  (void *)t, due.kind);
        return false;
    }
    ntp_pool *p = t->base.pool;
    ntp__kick k = {0};
    bool pinned = false;
    pthread_mutex_lock(&p->lock);
    if (atomic_load(&t->base.closed)) {
        pthread_mutex_unlock(&p->lock);
        ntp__diag("%s: timer %p was closed; ignored", fn, (void *)t);
        return false;
    }
    bool was_pending = ntp__rtimer_revoke(&t->rt);
    t->period_ms = period_ms;
    t->window_ms = window_ms;
    t->is_set = due.kind != NTP_DUE_NONE;
    if (due.kind == NTP_DUE_ABSOLUTE) {
        arm_locked(t, NTP__CLOCK_REALTIME, due.ns);
    } else if (due.kind == NTP_DUE_RELATIVE && due.ns > 0) {
        uint64_t now = ntp__now_ns();
        uint64_t due_ns = due.ns > UINT64_MAX - now ? UINT64_MAX
                                                    : now + due.ns;
        arm_locked(t, NTP__CLOCK_MONOTONIC, due_ns);
    } else if (due.kind == NTP_DUE_RELATIVE) {
        /* "Now": the caller queues the first callback itself, and a
         * periodic timer is next due one period later (CONFORMANCE M).
         * That callback may close the timer (a one-shot pattern) and free
         * it, and with it maybe the pool, before we kick: pin it until
         * the kick is done. */
        ntp__object_pin_locked(&t->base);
        pinned = true;
        ntp__pool_post_locked(p, &t->base, &k);
        if (period_ms > 0) {
            arm_locked(t, NTP__CLOCK_MONOTONIC,
                       ntp__rtimer_next_period(NTP__CLOCK_MONOTONIC,
                                               ntp__now_ns(),
                                               (uint64_t)period_ms *
                                                   NS_PER_MS));
        }
    }
    pthread_mutex_unlock(&p->lock);
    /* The timer holds a pool reference, and we hold the timer (a pin) if
     * we queued anything. */
    ntp__pool_kick(p, &k);
    if (pinned)
        ntp__object_unpin(&t->base);
    return was_pending;
}

void
ntp_timer_set(ntp_timer *t, ntp_due due, uint32_t period_ms,
              uint32_t window_ms)
{
    (void)timer_set(t, due, period_ms, window_ms, "ntp_timer_set");
}

bool
ntp_timer_set_ex(ntp_timer *t, ntp_due due, uint32_t period_ms,
                 uint32_t window_ms)
{
    return timer_set(t, due, period_ms, window_ms, "ntp_timer_set_ex");
}

bool
ntp_timer_is_set(ntp_timer *t)
{
    if (!check_timer(t, "ntp_timer_is_set")) {
        return false;
    }
    pthread_mutex_lock(&t->base.pool->lock);
    bool set = t->is_set;
    pthread_mutex_unlock(&t->base.pool->lock);
    return set;
}

void
ntp_timer_wait(ntp_timer *t, bool cancel_pending)
{
    if (check_timer(t, "ntp_timer_wait")) {
        ntp__object_wait(&t->base, cancel_pending);
    }
}

void
ntp_timer_close(ntp_timer *t)
{
    if (t == NULL || !check_timer(t, "ntp_timer_close")) {
        return;
    }
    ntp__object_close(&t->base);
}

ntp_status
ntp_timer_set_release(ntp_timer *t, ntp_release_cb release)
{
    if (!ntp__object_check(t, NTP__KIND_TIMER)
        || atomic_load(&t->base.closed)) {
        return NTP_EINVAL;
    }
    /* Written under the pool lock; read when the object is destroyed,
     * which is decided under the same lock. */
    pthread_mutex_lock(&t->base.pool->lock);
    t->base.release = release;
    pthread_mutex_unlock(&t->base.pool->lock);
    return 0;
}

void *
ntp_timer_context(ntp_timer *t)
{
    return ntp__object_check(t, NTP__KIND_TIMER) ? t->base.ctx : NULL;
}
