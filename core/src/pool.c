/*
 * pool.c -- pools: creation, limits, stack sizes, statistics, the default
 * pool, and the pool's own lifetime.
 *
 * LIFETIME: a pool is reference counted under its lock. References are
 * held by its creator (until ntp_pool_close), each bound callback object,
 * each worker and the persistent thread, and the starvation monitor while
 * it watches the pool. Closing never blocks (SPEC 3, CloseThreadpool): it
 * drops the creator's reference and tells idle workers to leave; whoever
 * drops the last reference frees the pool, after unlocking. The default
 * pool's creator reference is never dropped.
 */
#include "object.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_IDLE_TIMEOUT_MS 5000

bool
ntp__pool_check(const ntp_pool *p)
{
    return p && p->tag == NTP__TAG_POOL;
}

static ntp_status
pool_new(ntp_pool **out, bool is_default)
{
    ntp_pool *p = ntp__calloc(1, sizeof *p);
    if (!p)
        return NTP_ENOMEM;
    pthread_mutex_init(&p->lock, NULL);
    ntp__cond_init(&p->work_cond);
    pthread_cond_init(&p->persistent_cond, NULL);
    ntp__runq_init(&p->runq);
    ntp__runq_init(&p->persistent_runq);
    atomic_init(&p->post_seq, 0);
    ntp__list_init(&p->workers);
    ntp__list_init(&p->objects);
    ntp__list_init(&p->monitor_node);
    p->is_default = is_default;
    p->refs = 1;
    p->min_threads = 0;
    p->max_threads = NTP_DEFAULT_MAX_THREADS;
    p->idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
    /* SPEC 3: by default the process's own stack size. */
    pthread_attr_t attr;
    if (pthread_getattr_default_np(&attr) == 0) {
        pthread_attr_getstacksize(&attr, &p->stack_reserve);
        pthread_attr_destroy(&attr);
    }
    p->stack_commit = p->stack_reserve;
    p->tag = NTP__TAG_POOL;
    if (!is_default)
        ntp__live_inc();
    *out = p;
    return 0;
}

ntp_status
ntp_pool_create(ntp_pool **out)
{
    if (!out)
        return NTP_EINVAL;
    *out = NULL;
    return pool_new(out, false);
}

void
ntp__pool_free(ntp_pool *p)
{
    p->tag = NTP__TAG_DEAD;
    pthread_cond_destroy(&p->work_cond);
    pthread_cond_destroy(&p->persistent_cond);
    pthread_mutex_destroy(&p->lock);
    if (!p->is_default)
        ntp__live_dec();
    ntp__free(p);
}

bool
ntp__pool_unref_locked(ntp_pool *p)
{
    if (p->refs == 0)
        abort(); /* a broken invariant, not a caller mistake */
    return --p->refs == 0;
}

void
ntp_pool_close(ntp_pool *p)
{
    if (!p)
        return;
    if (!ntp__pool_check(p)) {
        ntp__diag("ntp_pool_close: not a pool (%p)", (void *)p);
        return;
    }
    if (p->is_default) {
        ntp__diag("ntp_pool_close: the default pool cannot be closed");
        return;
    }
    pthread_mutex_lock(&p->lock);
    if (p->closed) {
        pthread_mutex_unlock(&p->lock);
        ntp__diag("ntp_pool_close: pool %p closed twice", (void *)p);
        return;
    }
    p->closed = true;
    /* Idle workers leave now; busy ones leave when the queue is empty. */
    pthread_cond_broadcast(&p->work_cond);
    if (p->object_count == 0)
        pthread_cond_signal(&p->persistent_cond);
    bool last = ntp__pool_unref_locked(p);
    pthread_mutex_unlock(&p->lock);
    if (last)
        ntp__pool_free(p);
}

static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(ntp_pool *) default_pool;

ntp_pool *
ntp_pool_default(void)
{
    ntp_pool *p = atomic_load_explicit(&default_pool, memory_order_acquire);
    if (p)
        return p;
    /* A mutex rather than pthread_once, so a failed allocation can be
     * retried by the next caller. */
    pthread_mutex_lock(&default_lock);
    p = atomic_load_explicit(&default_pool, memory_order_relaxed);
    if (!p && pool_new(&p, true) == 0)
        atomic_store_explicit(&default_pool, p, memory_order_release);
    pthread_mutex_unlock(&default_lock);
    return p;
}

ntp_status
ntp__pool_resolve(ntp_pool *pool, ntp_pool **out)
{
    if (!pool) {
        pool = ntp_pool_default();
        if (!pool)
            return NTP_ENOMEM;
    } else if (!ntp__pool_check(pool)) {
        return NTP_EINVAL;
    }
    *out = pool;
    return 0;
}

void
ntp_pool_set_max_threads(ntp_pool *p, unsigned max)
{
    if (!ntp__pool_check(p)) {
        ntp__diag("ntp_pool_set_max_threads: not a pool (%p)", (void *)p);
        return;
    }
    if (max == 0)
        max = 1; /* CONFORMANCE A5 */
    pthread_mutex_lock(&p->lock);
    p->max_threads = max;
    ntp__pool_unquiet_locked(p);
    if (p->min_threads > max)
        p->min_threads = max;
    /* Idle workers above the new maximum leave (running ones are never
     * interrupted, SPEC 3). */
    if (p->threads > max)
        pthread_cond_broadcast(&p->work_cond);
    pthread_mutex_unlock(&p->lock);
}

uint64_t
ntp__pool_queued_locked(ntp_pool *p, int prio)
{
    uint64_t n = ntp__runq_posts(&p->runq, prio, UINT32_MAX) +
                 ntp__runq_posts(&p->persistent_runq, prio, UINT32_MAX);
    NTP__EACH_WORKER(w, p)
    {
        if (w->current != NULL && w->current->priority == prio)
            n += atomic_load(&w->batch);
    }
    return n;
}

ntp_status
ntp_pool_set_min_threads(ntp_pool *p, unsigned min)
{
    if (!ntp__pool_check(p))
        return NTP_EINVAL;
    pthread_mutex_lock(&p->lock);
    unsigned old_min = p->min_threads, old_max = p->max_threads;
    p->min_threads = min;
    ntp__pool_unquiet_locked(p);
    if (p->max_threads < min)
        p->max_threads = min;
    unsigned missing = p->threads < min ? min - p->threads : 0;
    p->threads += missing;
    p->refs += missing;
    p->threads_created += missing;
    pthread_mutex_unlock(&p->lock);

    ntp_status result = 0;
    for (unsigned i = 0; i < missing; i++) {
        ntp_status st = ntp__worker_spawn(p);
        if (st < 0) {
            /* Take back the count of every thread not started and the new
             * minimum (SPEC 3: the old minimum is kept on failure). The
             * threads that did start retire when idle. */
            unsigned not_started = missing - i;
            pthread_mutex_lock(&p->lock);
            p->threads -= not_started;
            p->refs -= not_started;
            p->threads_created -= not_started;
            p->min_threads = old_min;
            p->max_threads = old_max;
            ntp__pool_unquiet_locked(p);
            pthread_mutex_unlock(&p->lock);
            result = st == NTP_ENOMEM ? NTP_ENOMEM : NTP_EAGAIN;
            break;
        }
    }
    return result;
}

ntp_status
ntp_pool_set_stack(ntp_pool *p, size_t reserve, size_t commit)
{
    if (!ntp__pool_check(p))
        return NTP_EINVAL;
    pthread_mutex_lock(&p->lock);
    p->stack_reserve = reserve; /* stored unvalidated (CONFORMANCE A12) */
    p->stack_commit = commit;
    pthread_mutex_unlock(&p->lock);
    return 0;
}

ntp_status
ntp_pool_get_stack(ntp_pool *p, size_t *reserve, size_t *commit)
{
    if (!ntp__pool_check(p) || !reserve || !commit)
        return NTP_EINVAL;
    pthread_mutex_lock(&p->lock);
    *reserve = p->stack_reserve;
    *commit = p->stack_commit;
    pthread_mutex_unlock(&p->lock);
    return 0;
}

ntp_status
ntp_pool_set_idle_timeout(ntp_pool *p, unsigned timeout_ms)
{
    if (!ntp__pool_check(p))
        return NTP_EINVAL;
    pthread_mutex_lock(&p->lock);
    p->idle_timeout_ms = timeout_ms;
    pthread_cond_broadcast(&p->work_cond); /* idle workers re-read it */
    pthread_mutex_unlock(&p->lock);
    return 0;
}

ntp_status
ntp_pool_stats_get(ntp_pool *p, ntp_pool_stats *out)
{
    if (!ntp__pool_check(p) || !out)
        return NTP_EINVAL;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&p->lock);
    out->threads = p->threads;
    out->idle = p->idle;
    out->running = p->running;
    out->long_running = p->long_running;
    out->min_threads = p->min_threads;
    out->max_threads = p->max_threads;
    out->persistent_thread = p->persistent_started ? 1 : 0;
    out->objects = p->object_count;
    for (int i = 0; i < NTP_PRIORITY_COUNT; i++)
        out->queued[i] = ntp__pool_queued_locked(p, i);
    out->callbacks_run = p->callbacks_run;
    out->threads_created = p->threads_created;
    out->threads_retired = p->threads_retired;
    out->starvation_adds = p->starvation_adds;
    out->spawn_failures = p->spawn_failures;
    pthread_mutex_unlock(&p->lock);
    return 0;
}
