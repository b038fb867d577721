/*
 * worker.c -- worker threads: how many to run, waking them, running one
 * callback, retiring, the persistent thread, and blocking accounting.
 *
 * Policy (DESIGN 2, Execution model):
 *   - A post wakes an idle worker if one is waiting and not already
 *     signalled. Otherwise, if fewer than ncpu workers are runnable (not
 *     idle, not marked long-running, not blocked in an ntpool wait) and the
 *     pool is below its maximum, a worker is started. Otherwise the
 *     starvation monitor watches the pool and adds a worker if the queue
 *     stops moving (monitor.c). So a post that finds every worker busy makes
 *     no system call at all.
 *   - Idle workers wait on the pool's condition variable; workers beyond the
 *     minimum exit after idle_timeout_ms without work, and every worker
 *     exits once the pool is closed and its queue is empty.
 *   - The condition variable is signalled after the pool lock is dropped:
 *     measured here, signalling under the lock doubled the wake latency.
 *   - A worker whose queue runs dry after a callback spins for up to
 *     SPIN_NS, without the lock, watching post_seq, before it parks. It
 *     still counts as runnable meanwhile, so a post in that time needs no
 *     wake-up at all: a stream of posts (a timer storm, TrySubmit in a
 *     loop) otherwise costs a futex wake and two context switches per
 *     callback. A pause longer than SPIN_NS (an idle pool) parks as
 *     before, so wake latency is unchanged; the price is up to SPIN_NS of
 *     CPU time (mostly given away in sched_yield) per worker per burst:
 *     measured, 17 us per callback when callbacks come one at a time.
 *   - Posts and runs of one busy work object mostly skip the pool lock. A
 *     post to an object already queued, when the last decision found
 *     nothing to do (posts_quiet), is one atomic add (object.c); a worker
 *     that takes a post of a work object alone in the queue takes a batch
 *     of its posts along and runs them without the lock (Batches, below).
 *
 * LIFETIME: a worker's record lives on its own stack; the worker holds one
 * pool reference from the moment it is counted in `threads` until it
 * unlinks itself, and is the one to free the pool if that was the last
 * reference.
 */
#include "object.h"

#include <limits.h>
#include <sched.h>
#include <string.h>

/* How long a worker spins for new work before it parks: a few wake-ups'
 * worth, short enough to be lost in the noise of an idle pool's CPU use. */
#define SPIN_NS 20000u

static _Thread_local ntp__worker *tls_worker;
static _Thread_local ntp_pool *tls_pool;
static _Thread_local unsigned tls_blocked_depth;
static _Thread_local bool tls_blocked_counted;

unsigned
ntp__ncpu(void)
{
    static atomic_uint cached;
    unsigned n = atomic_load_explicit(&cached, memory_order_relaxed);
    if (n)
        return n;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = (unsigned)CPU_COUNT(&set);
    if (n < 1)
        n = 1;
    atomic_store_explicit(&cached, n, memory_order_relaxed);
    return n;
}

/* After a decision that did something, the next post must decide again;
 * after one that found nothing to do, posts to queued objects may skip the
 * lock until something changes (ntp__pool_unquiet_locked). */
static void
set_quiet(ntp_pool *p, bool quiet)
{
    atomic_store_explicit(&p->posts_quiet, quiet, memory_order_relaxed);
}

void
ntp__pool_unquiet_locked(ntp_pool *p)
{
    set_quiet(p, false);
}

uint64_t
ntp__pool_progress_locked(ntp_pool *p)
{
    uint64_t n = p->dequeues;
    NTP__EACH_WORKER(w, p)
    {
        n += atomic_load_explicit(&w->taken_again, memory_order_relaxed);
    }
    return n;
}

void
ntp__pool_decide_locked(ntp_pool *p, ntp__kick *k)
{
    if (p->idle > p->wakes_pending) {
        p->wakes_pending++;
        k->signal = true;
        set_quiet(p, false);
        return;
    }
    if (p->threads >= p->max_threads) {
        set_quiet(p, true);
        return; /* at the maximum: the queue waits, as on Windows */
    }
    /* Signalled workers are about to run: they count as runnable. */
    long runnable = (long)p->threads - (p->idle - p->wakes_pending) -
                    p->long_running - p->blocked;
    if (runnable < (long)ntp__ncpu()) {
        p->threads++;
        p->refs++; /* the new worker's reference */
        p->threads_created++;
        k->spawn++;
        set_quiet(p, false);
        return;
    }
    if (!p->watched) {
        p->watched = true;
        p->refs++; /* the monitor's reference */
        p->dequeues_seen = ntp__pool_progress_locked(p);
        k->watch = true;
    }
    /* Every worker busy, none to add, the monitor watching: further posts
     * change nothing until a worker frees up, blocks or leaves, the limits
     * change or the monitor stops watching. */
    set_quiet(p, true);
}

/* The queue depth per priority, for the timeline. Pool lock held. Its cost
 * is bounded: past the first 64 objects of a priority, each counts as one
 * post (a storm of timers queues many objects with one post each). */
static NTP__COLD void
trace_queue_locked(ntp_pool *p)
{
    uint64_t v = 0;
    for (int prio = 0; prio < NTP_PRIORITY_COUNT; prio++) {
        uint64_t n = ntp__runq_posts(&p->runq, prio, 64);
        v |= (n > 0x1fffff ? 0x1fffff : n) << (21 * prio);
    }
    ntp__trace_record(NTP__TRACE_QUEUE_DEPTH, NULL, p, 0, (int64_t)v);
}

void
ntp__pool_post_locked(ntp_pool *p, ntp__object *obj, ntp__kick *k)
{
    if (obj->persistent) {
        ntp__runq_post(&p->persistent_runq, obj);
        if (p->persistent_idle) {
            p->persistent_idle = false;
            k->signal_persistent = true;
        }
        return;
    }
    ntp__runq_post(&p->runq, obj);
    ntp__pool_posted_locked(p, k);
}

void
ntp__pool_posted_locked(ntp_pool *p, ntp__kick *k)
{
    atomic_fetch_add_explicit(&p->post_seq, 1, memory_order_relaxed);
    if (NTP__TRACING())
        trace_queue_locked(p);
    ntp__pool_decide_locked(p, k);
}

void
ntp__pool_kick(ntp_pool *p, const ntp__kick *k)
{
    if (k->signal)
        pthread_cond_signal(&p->work_cond);
    if (k->signal_persistent)
        pthread_cond_signal(&p->persistent_cond);
    for (unsigned i = 0; i < k->spawn; i++) {
        ntp_status st = ntp__worker_spawn(p);
        if (st < 0) {
            /* Undo the count. The queued work is not lost: running workers
             * take it, or the next post, or the starvation monitor, which
             * we ask to watch the pool so that it retries the spawn every
             * interval while the queue is stuck (a pool whose only worker
             * could not start would otherwise wait for the next post). */
            bool watch = false;
            pthread_mutex_lock(&p->lock);
            p->threads--;
            p->threads_created--;
            p->spawn_failures++;
            ntp__pool_unquiet_locked(p);
            bool last = ntp__pool_unref_locked(p);
            if (!last && !p->watched && !ntp__runq_empty(&p->runq)) {
                p->watched = true;
                p->refs++; /* the monitor's reference */
                p->dequeues_seen = ntp__pool_progress_locked(p);
                watch = true;
            }
            pthread_mutex_unlock(&p->lock);
            ntp__diag("could not start a worker thread: %s",
                      ntp_strerror(st));
            if (last)
                ntp__pool_free(p);
            else if (watch)
                ntp__monitor_watch(p);
        }
    }
    if (k->watch)
        ntp__monitor_watch(p);
}

/* Free the object this worker retired last, if any. No lock held: the
 * allocator is user code (ntp_set_allocator). */
static void
free_retired(ntp__worker *self)
{
    if (self->retired) {
        ntp__object_free_oneshot(self->retired);
        self->retired = NULL;
    }
}

/*
 * Batches. A worker that takes a post of a work object alone in the queue
 * (nothing else at its priority or above) takes up to BATCH_MAX more of its
 * posts at the same time, into self->batch, and runs them one after the
 * other without the pool lock: one lock round trip and one touch of the
 * object's pending count (which posting threads write) per batch instead of
 * per callback. It leaves at least one post queued, and a share for each
 * other worker, so the object stays in the queue and the others still run
 * it in parallel. Posts in a batch have not started: a cancelling wait
 * drops them (ntp__pool_drop_batches_locked). They go back to the queue
 * whenever a worker finds the queue empty, when the starvation monitor
 * finds the pool stuck, and when the callback of the batch's worker blocks
 * in an ntpool wait: a batch never holds back a post that a free or added
 * worker could run (a callback may wait, by any means, for another run of
 * its own object). The batch stops early, giving the rest
 * back, as soon as another object is posted at this priority or above (the
 * order of callbacks stays the queue's, CONFORMANCE B23), or when a run
 * changed what the lock guards (disassociated, marked long-running).
 */
#define BATCH_MAX 64u

/* How many posts of obj to take along with the one just taken. Pool lock
 * held. */
static uint32_t
batch_size_locked(const ntp_pool *p, const ntp__worker *self,
                  const ntp__object *obj)
{
    if (obj->ops->kind != NTP__KIND_WORK || self->persistent ||
        obj->runs_long || NTP__TRACING() || !ntp__runq_alone(&p->runq, obj))
        return 0;
    uint32_t k = atomic_load(&obj->pending);
    uint32_t m = k > 1 ? (k - 1) / (p->threads > 0 ? p->threads : 1) : 0;
    return m < BATCH_MAX ? m : BATCH_MAX;
}

/* Take one post from this worker's batch; false if it is empty (used up,
 * or taken back by another thread under the lock). */
static bool
take_from_batch(ntp__worker *self)
{
    uint32_t b = atomic_load_explicit(&self->batch, memory_order_relaxed);
    while (b > 0) {
        if (atomic_compare_exchange_weak_explicit(&self->batch, &b, b - 1,
                                                  memory_order_relaxed,
                                                  memory_order_relaxed))
            return true;
    }
    return false;
}

/* Give the rest of w's batch back to its object's pending count, putting
 * the object back in the queue if it had left. Pool lock held. */
static void
give_back_locked(ntp_pool *p, ntp__worker *w)
{
    uint32_t n = atomic_exchange(&w->batch, 0);
    if (n == 0)
        return;
    atomic_fetch_add(&w->current->pending, n);
    (void)ntp__runq_link(&p->runq, w->current);
}

uint32_t
ntp__pool_batched_locked(ntp_pool *p, const ntp__object *obj)
{
    uint32_t n = 0;
    NTP__EACH_WORKER(w, p)
    {
        if (w->current == obj)
            n += atomic_load(&w->batch);
    }
    return n;
}

bool
ntp__pool_any_batch_locked(ntp_pool *p)
{
    NTP__EACH_WORKER(w, p)
    {
        if (atomic_load(&w->batch) > 0)
            return true;
    }
    return false;
}

uint32_t
ntp__pool_drop_batches_locked(ntp_pool *p, const ntp__object *obj)
{
    uint32_t n = 0;
    NTP__EACH_WORKER(w, p)
    {
        if (w->current == obj)
            n += atomic_exchange(&w->batch, 0);
    }
    return n;
}

void
ntp__pool_unbatch_locked(ntp_pool *p, const ntp__object *obj)
{
    NTP__EACH_WORKER(w, p)
    {
        if (w->current != NULL && (obj == NULL || w->current == obj))
            give_back_locked(p, w);
    }
}

/*
 * May the worker that just ran obj run the next post of its batch? Only
 * when the run ended as it began: still associated, not marked
 * long-running (those change counts the lock guards), and obj still alone
 * in the queue.
 */
static bool
may_run_again(const ntp_pool *p, const ntp__object *obj,
              const ntp_instance *inst)
{
    return inst->associated && !inst->marked_long &&
           ntp__runq_alone(&p->runq, obj);
}

/* Run one post of obj, and its batch (see above) if it takes one. Called
 * and returns with the pool lock held. */
static void
run_one_locked(ntp_pool *p, ntp__worker *self, ntp__object *obj)
{
    uint32_t batch = batch_size_locked(p, self, obj);
    if (batch > 0) {
        /* pending stays above 0: only lock holders lower it. */
        atomic_fetch_sub(&obj->pending, batch);
        atomic_store_explicit(&self->batch, batch, memory_order_relaxed);
    }
    bool counted_long = obj->runs_long && !self->persistent;
    p->dequeues++;
    if (NTP__TRACING() && !self->persistent)
        trace_queue_locked(p);
    p->running++;
    if (counted_long)
        p->long_running++;
    obj->running++;
    obj->associated++;
    self->current = obj;
    pthread_mutex_unlock(&p->lock);
    free_retired(self);

    /* Between the runs of a batch, the object's counts stay as they are: it
     * keeps running (running, associated) and the lock is not taken. */
    uint64_t ran = 0;
    ntp_instance inst;
    for (;;) {
        atomic_store_explicit(&self->current_since_ns, ntp__coarse_now_ns(),
                              memory_order_relaxed); /* for dumps only */
        ntp__instance_begin(&inst, obj, p, self->persistent, counted_long,
                            ran > 0);
        obj->ops->invoke(obj, &inst);
        ntp__instance_end(&inst);
        ran++;
        if (atomic_load_explicit(&self->batch, memory_order_relaxed) == 0 ||
            !may_run_again(p, obj, &inst) || !take_from_batch(self))
            break;
        /* The starvation monitor watches this counter for progress; only
         * this thread writes it. */
        atomic_store_explicit(
            &self->taken_again,
            atomic_load_explicit(&self->taken_again, memory_order_relaxed) + 1,
            memory_order_relaxed);
    }

    /* A one-shot simple callback releases itself once it has run; it stays
     * alive until `running` drops below. One created released has nothing
     * to do here: it is retired below. */
    if (obj->ops->kind == NTP__KIND_SIMPLE && !obj->self_released)
        ntp__object_close(obj);

    pthread_mutex_lock(&p->lock);
    give_back_locked(p, self); /* what the batch did not run */
    self->current = NULL;
    p->running--;
    p->callbacks_run += ran;
    obj->runs_total += ran;
    if (inst.counted_long)
        p->long_running--;
    obj->running--;
    if (inst.associated)
        obj->associated--;
    /* Every wait on an object (object.c, cleanup.c, io.c) needs its queue
     * empty: while posts remain, waking the waiters would only put them
     * back to sleep, at the price of a futex wake per callback. */
    if (obj->waiters && obj->pending == 0)
        pthread_cond_broadcast(&obj->settled);
    if (ntp__object_settle_locked(obj)) {
        if (ntp__object_retire_locked(obj)) {
            /* Freed the next time this worker drops the lock anyway. */
            self->retired = obj;
            return;
        }
        pthread_mutex_unlock(&p->lock);
        ntp__object_destroy(obj); /* our pool reference keeps p alive */
        pthread_mutex_lock(&p->lock);
    }
}

/* Spin for up to SPIN_NS with the lock dropped, until something is posted.
 * Returns true if something was (the caller looks at the queue again).
 * Pool lock held on entry and return. */
static bool
spin_for_work(ntp_pool *p)
{
    unsigned seen = atomic_load_explicit(&p->post_seq, memory_order_relaxed);
    pthread_mutex_unlock(&p->lock);
    uint64_t start = ntp__now_ns();
    bool posted = false;
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(&p->post_seq, memory_order_relaxed) !=
            seen) {
            posted = true;
            break;
        }
        /* Yield rather than pause: with more runnable threads than CPUs
         * (a poster and the workers on a small machine) a busy spin would
         * take the CPU from the very thread that posts. */
        sched_yield();
        if (i % 8 == 0 && ntp__now_ns() - start >= SPIN_NS)
            break;
    }
    pthread_mutex_lock(&p->lock);
    return posted;
}

/* Wait for work. Returns true if the idle timeout passed with nothing to
 * do. Pool lock held. */
static bool
wait_for_work(ntp_pool *p)
{
    uint64_t start = ntp__now_ns();
    bool timed_out = false;
    p->idle++;
    ntp__pool_unquiet_locked(p);
    for (;;) {
        /* Re-read the timeout each time: ntp_pool_set_idle_timeout wakes
         * idle workers so a shorter timeout applies at once. */
        struct timespec ts;
        ntp__ns_to_timespec(start + (uint64_t)p->idle_timeout_ms * 1000000u,
                            &ts);
        int rc = pthread_cond_timedwait(&p->work_cond, &p->lock, &ts);
        if (p->wakes_pending > 0) {
            p->wakes_pending--; /* whoever wakes takes one signal */
            break;
        }
        if (!ntp__runq_empty(&p->runq) || p->closed ||
            p->threads > p->max_threads)
            break;
        if (rc == ETIMEDOUT ||
            ntp__now_ns() - start >= (uint64_t)p->idle_timeout_ms * 1000000u) {
            timed_out = true;
            break;
        }
    }
    p->idle--;
    return timed_out;
}

static void *
worker_main(void *arg)
{
    ntp_pool *p = arg;
    ntp__worker self;
    memset(&self, 0, sizeof self);
    self.tid = ntp__thread_id();
    tls_worker = &self;
    tls_pool = p;

    bool announced_idle = false; /* idle hooks ran since the last callback */
    bool spun = false;           /* spun since the last callback */
    pthread_mutex_lock(&p->lock);
    ntp__list_push_back(&p->workers, &self.node);
    if (NTP__TRACING())
        ntp__trace_record(NTP__TRACE_WORKER_START, NULL, p, 0, p->threads);
    for (;;) {
        ntp__object *obj = ntp__runq_take(&p->runq);
        if (!obj && ntp__pool_any_batch_locked(p)) {
            /* Nothing queued, but busy workers hold posts in batches: they
             * come back to the queue, for this worker to run. */
            ntp__pool_unbatch_locked(p, NULL);
            obj = ntp__runq_take(&p->runq);
        }
        if (obj) {
            announced_idle = false;
            spun = false;
            run_one_locked(p, &self, obj);
            continue;
        }
        /* Excess workers (the maximum was lowered) and the workers of a
         * closed pool leave as soon as there is nothing to do. */
        if (p->closed || p->threads > p->max_threads)
            break;
        if (!spun) {
            spun = true;
            if (self.retired) {
                pthread_mutex_unlock(&p->lock);
                free_retired(&self);
                pthread_mutex_lock(&p->lock);
            }
            spin_for_work(p);
            continue; /* look at the queue (and the pool) again */
        }
        if (!announced_idle && ntp__thread_hooks_any()) {
            announced_idle = true;
            pthread_mutex_unlock(&p->lock);
            ntp__thread_hooks_idle();
            pthread_mutex_lock(&p->lock);
            continue; /* work may have come meanwhile */
        }
        bool timed_out = wait_for_work(p);
        if (!ntp__runq_empty(&p->runq))
            continue;
        if (timed_out && p->threads > p->min_threads) {
            p->threads_retired++;
            break;
        }
    }
    p->threads--;
    ntp__pool_unquiet_locked(p);
    if (NTP__TRACING())
        ntp__trace_record(NTP__TRACE_WORKER_EXIT, NULL, p, 0, p->threads);
    /* Its lock-free takes stay counted once it is gone. */
    p->dequeues += atomic_load_explicit(&self.taken_again,
                                        memory_order_relaxed);
    ntp__list_remove(&self.node);
    tls_worker = NULL;
    tls_pool = NULL;
    bool last = ntp__pool_unref_locked(p);
    pthread_mutex_unlock(&p->lock);
    free_retired(&self);
    if (last)
        ntp__pool_free(p);
    ntp__thread_hooks_exit();
    return NULL;
}

/*
 * The persistent thread runs the callbacks of persistent objects (SPEC 5,
 * SetThreadpoolCallbackPersistent). It never retires; it exits only when
 * the pool is closed and has no objects left, dropping its reference.
 */
static void *
persistent_main(void *arg)
{
    ntp_pool *p = arg;
    ntp__worker self;
    memset(&self, 0, sizeof self);
    self.tid = ntp__thread_id();
    self.persistent = true;
    tls_worker = &self;
    tls_pool = p;

    bool announced_idle = false;
    pthread_mutex_lock(&p->lock);
    ntp__list_push_back(&p->workers, &self.node);
    for (;;) {
        ntp__object *obj = ntp__runq_take(&p->persistent_runq);
        if (obj) {
            announced_idle = false;
            run_one_locked(p, &self, obj);
            continue;
        }
        if (p->closed && p->object_count == 0)
            break;
        if (!announced_idle && ntp__thread_hooks_any()) {
            announced_idle = true;
            pthread_mutex_unlock(&p->lock);
            ntp__thread_hooks_idle();
            pthread_mutex_lock(&p->lock);
            continue;
        }
        p->persistent_idle = true;
        pthread_cond_wait(&p->persistent_cond, &p->lock);
        p->persistent_idle = false;
    }
    ntp__list_remove(&self.node);
    p->persistent_started = false;
    tls_worker = NULL;
    tls_pool = NULL;
    bool last = ntp__pool_unref_locked(p);
    pthread_mutex_unlock(&p->lock);
    free_retired(&self);
    if (last)
        ntp__pool_free(p);
    ntp__thread_hooks_exit();
    return NULL;
}

static ntp_status
start_thread(ntp_pool *p, void *(*fn)(void *), const char *name)
{
    pthread_mutex_lock(&p->lock);
    size_t stack = p->stack_reserve;
    pthread_mutex_unlock(&p->lock);
    int rc = ntp__spawn_detached(fn, p, stack, name);
    return rc == 0 ? 0 : -rc;
}

ntp_status
ntp__worker_spawn(ntp_pool *p)
{
    return start_thread(p, worker_main, "ntp-worker");
}

ntp_status
ntp__persistent_start(ntp_pool *p)
{
    pthread_mutex_lock(&p->lock);
    if (p->persistent_started) {
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    p->persistent_started = true;
    p->refs++;
    pthread_mutex_unlock(&p->lock);

    ntp_status st = start_thread(p, persistent_main, "ntp-persistent");
    if (st < 0) {
        pthread_mutex_lock(&p->lock);
        p->persistent_started = false;
        bool last = ntp__pool_unref_locked(p);
        pthread_mutex_unlock(&p->lock);
        if (last)
            ntp__pool_free(p);
    }
    return st;
}

/*
 * Blocking accounting. A worker that sleeps in an ntpool wait stops counting
 * as runnable, and if work is queued another worker is woken or started at
 * once instead of waiting for the starvation monitor. Long-running callbacks
 * are already not counted, and the persistent thread is never counted.
 */
void
ntp__blocking_enter(void)
{
    ntp__worker *w = tls_worker;
    if (!w || w->persistent)
        return;
    if (tls_blocked_depth++ > 0)
        return;
    ntp_instance *inst = ntp__current_instance;
    if (inst && inst->counted_long)
        return;
    ntp_pool *p = tls_pool;
    ntp__kick k = {0};
    pthread_mutex_lock(&p->lock);
    p->blocked++;
    tls_blocked_counted = true;
    /* What this worker's batch holds would wait for the blocked callback:
     * it goes back to the queue, where other workers can run it. */
    give_back_locked(p, w);
    if (!ntp__runq_empty(&p->runq))
        ntp__pool_decide_locked(p, &k);
    pthread_mutex_unlock(&p->lock);
    ntp__pool_kick(p, &k);
}

void
ntp__blocking_leave(void)
{
    ntp__worker *w = tls_worker;
    if (!w || w->persistent || tls_blocked_depth == 0)
        return;
    if (--tls_blocked_depth > 0 || !tls_blocked_counted)
        return;
    tls_blocked_counted = false;
    ntp_pool *p = tls_pool;
    pthread_mutex_lock(&p->lock);
    p->blocked--;
    pthread_mutex_unlock(&p->lock);
}
