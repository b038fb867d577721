/*
 * monitor.c -- the starvation check (DESIGN 2): one process-wide thread,
 * started on first need, that looks at pools whose workers were all busy
 * when work was posted. If such a pool's queue has not moved for one
 * interval and the pool is below its maximum, it starts another worker, so
 * callbacks that block in foreign calls (sleep, read, a lock) cannot starve
 * the pool. It sleeps without a timeout when no pool is watched.
 *
 * LIFETIME: a watched pool holds one reference for the monitor (taken by
 * ntp__pool_decide_locked), dropped here when the watch ends.
 */
#include "object.h"

#define STARVATION_INTERVAL_MS 50

static pthread_mutex_t mon_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t mon_cond;
static ntp__list watched = {&watched, &watched};
static bool mon_started;

/* Look at one pool; true if it stays watched. No lock held on entry. */
static bool
check_pool(ntp_pool *p)
{
    ntp__kick k = {0};
    bool keep = true;
    pthread_mutex_lock(&p->lock);
    /* Posts in workers' batches are queued work too (worker.c). */
    if ((ntp__runq_empty(&p->runq) && !ntp__pool_any_batch_locked(p)) ||
        p->threads >= p->max_threads) {
        keep = false;
    } else if (p->idle > p->wakes_pending) {
        ntp__pool_decide_locked(p, &k); /* a worker is free: wake it */
    } else if (ntp__pool_progress_locked(p) == p->dequeues_seen) {
        /* Queued work made no progress for a whole interval. Posts held in
         * the batches of stuck workers go back to the queue for the new
         * worker (worker.c, batches). */
        ntp__pool_unbatch_locked(p, NULL);
        p->threads++;
        p->refs++;
        p->threads_created++;
        p->starvation_adds++;
        k.spawn = 1;
    }
    p->dequeues_seen = ntp__pool_progress_locked(p);
    bool last = false;
    if (!keep) {
        p->watched = false;
        ntp__pool_unquiet_locked(p);
        last = ntp__pool_unref_locked(p);
    }
    pthread_mutex_unlock(&p->lock);
    ntp__pool_kick(p, &k);
    if (last)
        ntp__pool_free(p);
    return keep;
}

static void *
monitor_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mon_lock);
    for (;;) {
        while (ntp__list_empty(&watched))
            pthread_cond_wait(&mon_cond, &mon_lock);

        /* Sleep one whole interval; new watches do not shorten it. */
        struct timespec ts;
        ntp__ns_to_timespec(ntp__deadline_after_ms(STARVATION_INTERVAL_MS),
                            &ts);
        while (pthread_cond_timedwait(&mon_cond, &mon_lock, &ts) != ETIMEDOUT)
            ;

        ntp__list batch;
        ntp__list_init(&batch);
        ntp__list_splice(&batch, &watched);
        pthread_mutex_unlock(&mon_lock);

        ntp__list *n;
        while ((n = ntp__list_pop_front(&batch)) != NULL) {
            ntp_pool *p = ntp__container_of(n, ntp_pool, monitor_node);
            if (check_pool(p)) {
                pthread_mutex_lock(&mon_lock);
                ntp__list_push_back(&watched, n);
                pthread_mutex_unlock(&mon_lock);
            }
        }
        pthread_mutex_lock(&mon_lock);
    }
    return NULL;
}

void
ntp__monitor_watch(ntp_pool *p)
{
    pthread_mutex_lock(&mon_lock);
    if (!mon_started) {
        ntp__cond_init(&mon_cond);
        int rc = ntp__spawn_detached(monitor_main, NULL, 0, "ntp-monitor");
        if (rc != 0) {
            pthread_mutex_unlock(&mon_lock);
            ntp__diag("could not start the starvation monitor: %s",
                      ntp_strerror(-rc));
            pthread_mutex_lock(&p->lock);
            p->watched = false;
            ntp__pool_unquiet_locked(p);
            bool last = ntp__pool_unref_locked(p);
            pthread_mutex_unlock(&p->lock);
            if (last)
                ntp__pool_free(p);
            return;
        }
        mon_started = true;
    }
    ntp__list_push_back(&watched, &p->monitor_node);
    pthread_cond_signal(&mon_cond);
    pthread_mutex_unlock(&mon_lock);
}
