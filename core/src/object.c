/*
 * object.c -- what every callback object does the same way: creation from
 * an environment, posting, waiting for callbacks, release and destruction.
 * The lifetime rules are written at the top of object.h.
 */
#include "object.h"

#include <dlfcn.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>

bool
ntp__object_check(const void *p, ntp__object_kind kind)
{
    const ntp__object *obj = p;
    return obj && obj->tag == NTP__TAG_OBJECT && obj->ops->kind == kind;
}

/* Take a reference of our own on the module behind a dlopen handle, so the
 * module stays mapped while the object can still run callbacks, whatever
 * the caller does with its handle (SPEC 5, SetThreadpoolCallbackLibrary). */
static ntp_status
library_ref(void *library, void **out)
{
    struct link_map *lm = NULL;
    if (dlinfo(library, RTLD_DI_LINKMAP, &lm) != 0 || !lm)
        return NTP_EINVAL;
    void *h = dlopen(lm->l_name[0] ? lm->l_name : NULL,
                     RTLD_LAZY | RTLD_NOLOAD);
    if (!h)
        return NTP_EINVAL;
    *out = h;
    return 0;
}

ntp_status
ntp__object_init(ntp__object *obj, const ntp__object_ops *ops, void *ctx,
                 const ntp_env *env)
{
    ntp_status st = ntp__env_validate(env);
    if (st < 0)
        return st;
    ntp_pool *p;
    st = ntp__pool_resolve(env ? env->pool : NULL, &p);
    if (st < 0)
        return st;

    obj->ops = ops;
    obj->ctx = ctx;
    obj->priority = env ? (uint8_t)env->priority : NTP_PRIORITY_NORMAL;
    obj->runs_long = env && (env->flags & NTP_ENV_RUNS_LONG);
    obj->persistent = env && (env->flags & NTP_ENV_PERSISTENT);
    obj->cancel_cb = env ? env->cancel_cb : NULL;
    obj->finalization_cb = env ? env->finalization_cb : NULL;
    ntp__list_init(&obj->group_node);
    ntp__list_init(&obj->pool_node);
    ntp__list_init(&obj->queue_node);
    atomic_init(&obj->closed, false);
    /* The creation pin: held until the create function returns, so a
     * cleanup group releasing the new member at once (a race SPEC 4 leaves
     * to the caller) cannot free it under our feet. */
    obj->pins = 1;

    if (env && env->library) {
        st = library_ref(env->library, &obj->library);
        if (st < 0)
            return st;
    }

    pthread_mutex_lock(&p->lock);
    if (p->closed) {
        /* SPEC 3: creating objects on a closed pool is a caller error. */
        pthread_mutex_unlock(&p->lock);
        if (obj->library)
            dlclose(obj->library);
        return NTP_EINVAL;
    }
    p->refs++;
    p->object_count++;
    ntp__list_push_back(&p->objects, &obj->pool_node);
    pthread_mutex_unlock(&p->lock);
    obj->pool = p;
    pthread_cond_init(&obj->settled, NULL);

    if (obj->persistent) {
        st = ntp__persistent_start(p);
        if (st < 0) {
            pthread_mutex_lock(&p->lock);
            ntp__list_remove(&obj->pool_node);
            p->object_count--;
            bool last = ntp__pool_unref_locked(p);
            pthread_mutex_unlock(&p->lock);
            pthread_cond_destroy(&obj->settled);
            if (obj->library)
                dlclose(obj->library);
            if (last)
                ntp__pool_free(p);
            return st;
        }
    }

    obj->tag = NTP__TAG_OBJECT;
    ntp__live_inc();
    if (env && env->cleanup_group) {
        obj->group = env->cleanup_group;
        ntp__group_join(env->cleanup_group, obj);
    }
    return 0;
}

void
ntp__object_prepare_oneshot(ntp__object *obj, const ntp__object_ops *ops,
                            void *ctx, const ntp_env *env, ntp_pool *p)
{
    obj->ops = ops;
    obj->ctx = ctx;
    obj->pool = p;
    obj->priority = env ? (uint8_t)env->priority : NTP_PRIORITY_NORMAL;
    obj->runs_long = env && (env->flags & NTP_ENV_RUNS_LONG);
    obj->cancel_cb = env ? env->cancel_cb : NULL;
    obj->finalization_cb = env ? env->finalization_cb : NULL;
    ntp__list_init(&obj->group_node);
    ntp__list_init(&obj->queue_node);
    /* Not linked into p->objects: it is only ever queued or running, and
     * dumps show it there. Linking and unlinking it touched the lines of
     * its neighbours, recently written by the other side, inside both
     * critical sections of every TrySubmit. */
    ntp__list_init(&obj->pool_node);
    /* Released from the start: no handle to it ever leaves the call. */
    atomic_init(&obj->closed, true);
    obj->self_released = true;
    pthread_cond_init(&obj->settled, NULL);
    obj->tag = NTP__TAG_OBJECT;
    ntp__live_inc();
}

ntp_status
ntp__object_attach_oneshot_locked(ntp__object *obj)
{
    ntp_pool *p = obj->pool;
    if (p->closed)
        return NTP_EINVAL; /* SPEC 3, as in ntp__object_init */
    p->refs++;
    p->object_count++;
    return 0;
}

bool
ntp__object_retire_locked(ntp__object *obj)
{
    if (!obj->self_released || obj->release || obj->ops->finalize ||
        obj->library)
        return false;
    ntp_pool *p = obj->pool;
    p->object_count--;
    if (p->closed && p->object_count == 0)
        pthread_cond_signal(&p->persistent_cond); /* it may leave now */
    if (ntp__pool_unref_locked(p))
        abort(); /* the caller's reference is still there */
    return true;
}

void
ntp__object_free_oneshot(ntp__object *obj)
{
    pthread_cond_destroy(&obj->settled);
    obj->tag = NTP__TAG_DEAD;
    ntp__live_dec();
    ntp__free(obj); /* the base is the first member of every kind */
}

void
ntp__object_submit(ntp__object *obj)
{
    ntp_pool *p = obj->pool;
    ntp__kick k = {0};
    /* The fast path, when the last decision about the workers said another
     * post changes nothing (posts_quiet): the post is one atomic add to the
     * object's pending count. Only a post that finds no other takes the
     * lock, to put the object in the queue and decide again. Tracing
     * records the queue depth of every post: it takes the lock. */
    if (!obj->persistent && !NTP__TRACING() &&
        atomic_load_explicit(&p->posts_quiet, memory_order_relaxed) &&
        !atomic_load_explicit(&obj->closed, memory_order_relaxed)) {
        if (ntp__runq_post_fast(obj))
            return;
        pthread_mutex_lock(&p->lock);
        if (ntp__runq_link(&p->runq, obj))
            ntp__pool_posted_locked(p, &k);
        pthread_mutex_unlock(&p->lock);
        ntp__pool_kick(p, &k);
        return;
    }
    pthread_mutex_lock(&p->lock);
    if (atomic_load(&obj->closed)) {
        pthread_mutex_unlock(&p->lock);
        ntp__diag("%s %p: posted after it was closed; ignored",
                  obj->ops->name, (void *)obj);
        return;
    }
    ntp__pool_post_locked(p, obj, &k);
    pthread_mutex_unlock(&p->lock);
    ntp__pool_kick(p, &k);
}

bool
ntp__object_settle_locked(ntp__object *obj)
{
    if (obj->freeing || obj->pending || obj->running || obj->pins ||
        !atomic_load(&obj->closed))
        return false;
    obj->freeing = true;
    return true;
}

void
ntp__object_pin_locked(ntp__object *obj)
{
    obj->pins++;
}

void
ntp__object_unpin(ntp__object *obj)
{
    ntp_pool *p = obj->pool;
    pthread_mutex_lock(&p->lock);
    obj->pins--;
    bool destroy = ntp__object_settle_locked(obj);
    pthread_mutex_unlock(&p->lock);
    if (destroy)
        ntp__object_destroy(obj);
}

void
ntp__object_destroy(ntp__object *obj)
{
    ntp_pool *p = obj->pool;
    /* The release hook is the one safe moment for a binding to drop what
     * ctx holds: no callback of this object can run any more. */
    if (obj->release)
        obj->release(obj->ctx);
    if (obj->ops->finalize)
        obj->ops->finalize(obj);
    if (obj->library)
        dlclose(obj->library);

    pthread_mutex_lock(&p->lock);
    ntp__list_remove(&obj->pool_node);
    p->object_count--;
    if (p->closed && p->object_count == 0)
        pthread_cond_signal(&p->persistent_cond); /* it may leave now */
    bool last = ntp__pool_unref_locked(p);
    pthread_mutex_unlock(&p->lock);

    pthread_cond_destroy(&obj->settled);
    obj->tag = NTP__TAG_DEAD;
    ntp__live_dec();
    ntp__free(obj); /* the base is the first member of every kind */
    if (last)
        ntp__pool_free(p);
}

void
ntp__object_leave_group(ntp__object *obj)
{
    ntp_cleanup_group *g = obj->group;
    if (g)
        ntp__group_leave(g, obj);
}

void
ntp__object_close(ntp__object *obj)
{
    /*
     * Pin before flipping `closed`: once it is set, a callback of ours
     * finishing on a worker may find the object closed and idle and
     * destroy it, while we still read it below (group, ops). The pin keeps
     * it alive until we are done; the unpin destroys it if it is idle.
     */
    ntp_pool *p = obj->pool;
    pthread_mutex_lock(&p->lock);
    ntp__object_pin_locked(obj);
    pthread_mutex_unlock(&p->lock);
    if (atomic_exchange(&obj->closed, true)) {
        ntp__diag("%s %p closed twice", obj->ops->name, (void *)obj);
    } else {
        /* We won the release: leave the group (SPEC 4: the matching close
         * removes the member), stop new triggers; free when idle. */
        ntp__object_leave_group(obj);
        if (obj->ops->disarm)
            obj->ops->disarm(obj);
    }
    ntp__object_unpin(obj);
}

ntp__runq *
ntp__object_runq(ntp__object *obj)
{
    return obj->persistent ? &obj->pool->persistent_runq : &obj->pool->runq;
}

uint32_t
ntp__object_cancel_posts_locked(ntp__object *obj)
{
    uint32_t dropped = ntp__runq_cancel(ntp__object_runq(obj), obj) +
                       ntp__pool_drop_batches_locked(obj->pool, obj);
    ntp__cancelled_add(dropped);
    /* Another thread may be waiting for this object's callbacks with none
     * running: the queue emptied here is all it waited for. */
    if (dropped && obj->waiters)
        pthread_cond_broadcast(&obj->settled);
    return dropped;
}

/*
 * Wait, pool lock held, until `done(obj)` holds; sleeps on obj->settled.
 * The object is pinned by the caller. Blocking accounting is entered the
 * first time we must actually sleep, with the lock dropped (lock order).
 */
void
ntp__object_wait_until_locked(ntp__object *obj,
                              bool (*done)(const ntp__object *, uint32_t),
                              uint32_t arg, bool *entered)
{
    ntp_pool *p = obj->pool;
    while (!done(obj, arg)) {
        if (!*entered) {
            pthread_mutex_unlock(&p->lock);
            ntp__blocking_enter();
            *entered = true;
            pthread_mutex_lock(&p->lock);
            continue;
        }
        obj->waiters++;
        pthread_cond_wait(&obj->settled, &p->lock);
        obj->waiters--;
    }
}

/* WaitFor*Callbacks: nothing queued, nothing associated but ourselves. */
static bool
callbacks_done(const ntp__object *obj, uint32_t self)
{
    return obj->pending == 0 && obj->associated <= self;
}

void
ntp__object_wait(ntp__object *obj, bool cancel_pending)
{
    ntp_pool *p = obj->pool;
    ntp_instance *inst = ntp__current_instance;
    uint32_t self = inst && inst->obj == obj && inst->associated ? 1 : 0;
    if (self)
        ntp__diag("%s %p: waiting for its own callbacks from inside one; "
                  "waiting for the others only",
                  obj->ops->name, (void *)obj);
    bool entered = false;
    pthread_mutex_lock(&p->lock);
    if (cancel_pending)
        ntp__object_cancel_posts_locked(obj);
    obj->pins++;
    ntp__object_wait_until_locked(obj, callbacks_done, self, &entered);
    obj->pins--;
    bool destroy = ntp__object_settle_locked(obj);
    pthread_mutex_unlock(&p->lock);
    if (entered)
        ntp__blocking_leave();
    if (destroy)
        ntp__object_destroy(obj);
}
