/*
 * work.c -- work objects (SPEC 6) and one-shot simple callbacks
 * (TrySubmitThreadpoolCallback).
 *
 * LIFETIME: a work object follows object.h. A simple callback is a one-shot
 * object that releases itself after its callback ran (worker.c), or is
 * released by its cleanup group if cancelled first; either way it is freed
 * by the common path, which runs its release hook once. One with no cleanup
 * group, library or persistent flag (the usual TrySubmit) is created
 * released (ntp__object_prepare_oneshot): the worker that runs it retires
 * it as its run ends, under the pool lock it already holds, and frees it
 * after unlocking, or destroys it through the common path if it has a
 * release hook.
 */
#include "object.h"

struct ntp_work {
    ntp__object base; /* first: the object is freed through it */
    ntp_work_cb cb;
};

typedef struct ntp__simple {
    ntp__object base;
    ntp_simple_cb cb;
} ntp__simple;

static void
work_invoke(ntp__object *obj, ntp_instance *inst)
{
    ntp_work *w = (ntp_work *)obj;
    w->cb(inst, obj->ctx, w);
}

static void
simple_invoke(ntp__object *obj, ntp_instance *inst)
{
    ((ntp__simple *)obj)->cb(inst, obj->ctx);
}

static const ntp__object_ops work_ops = {
    .kind = NTP__KIND_WORK, .name = "work", .invoke = work_invoke};

static const ntp__object_ops simple_ops = {
    .kind = NTP__KIND_SIMPLE, .name = "simple callback",
    .invoke = simple_invoke};

ntp_status
ntp_work_create(ntp_work **out, ntp_work_cb cb, void *ctx,
                const ntp_env *env)
{
    if (!out)
        return NTP_EINVAL;
    *out = NULL;
    if (!cb)
        return NTP_EINVAL;
    ntp_work *w = ntp__calloc(1, sizeof *w);
    if (!w)
        return NTP_ENOMEM;
    w->cb = cb;
    ntp_status st = ntp__object_init(&w->base, &work_ops, ctx, env);
    if (st < 0) {
        ntp__free(w);
        return st;
    }
    *out = w;
    ntp__object_unpin(&w->base); /* the creation pin */
    return 0;
}

static bool
check_work(ntp_work *w, const char *fn)
{
    if (ntp__object_check(w, NTP__KIND_WORK))
        return true;
    ntp__diag("%s: not a work object (%p)", fn, (void *)w);
    return false;
}

void
ntp_work_submit(ntp_work *w)
{
    if (check_work(w, "ntp_work_submit"))
        ntp__object_submit(&w->base);
}

void
ntp_work_wait(ntp_work *w, bool cancel_pending)
{
    if (check_work(w, "ntp_work_wait"))
        ntp__object_wait(&w->base, cancel_pending);
}

void
ntp_work_close(ntp_work *w)
{
    if (w && check_work(w, "ntp_work_close"))
        ntp__object_close(&w->base);
}

ntp_status
ntp_work_set_release(ntp_work *w, ntp_release_cb release)
{
    if (!ntp__object_check(w, NTP__KIND_WORK) ||
        atomic_load(&w->base.closed))
        return NTP_EINVAL;
    /* Written under the pool lock; read when the object is destroyed,
     * which is decided under the same lock. */
    pthread_mutex_lock(&w->base.pool->lock);
    w->base.release = release;
    pthread_mutex_unlock(&w->base.pool->lock);
    return 0;
}

void *
ntp_work_context(ntp_work *w)
{
    return ntp__object_check(w, NTP__KIND_WORK) ? w->base.ctx : NULL;
}

/* A simple callback that only the pool will ever hold: the fast life of
 * ntp__object_prepare_oneshot applies (object.h). */
static bool
oneshot_env(const ntp_env *env)
{
    return !env || (!env->cleanup_group && !env->library &&
                    !(env->flags & NTP_ENV_PERSISTENT));
}

ntp_status
ntp_try_submit_ex(ntp_simple_cb cb, void *ctx, const ntp_env *env,
                  ntp_release_cb release)
{
    if (!cb)
        return NTP_EINVAL;
    ntp__simple *s;
    if (oneshot_env(env)) {
        ntp_status st = ntp__env_validate(env);
        ntp_pool *p = NULL;
        if (st == 0)
            st = ntp__pool_resolve(env ? env->pool : NULL, &p);
        if (st < 0)
            return st;
        s = ntp__calloc(1, sizeof *s);
        if (!s)
            return NTP_ENOMEM;
        s->cb = cb;
        s->base.release = release;
        ntp__object_prepare_oneshot(&s->base, &simple_ops, ctx, env, p);
        /* Counted and posted in one critical section; from the unlock on,
         * the worker that runs it owns it and retires it. */
        ntp__kick k = {0};
        pthread_mutex_lock(&p->lock);
        st = ntp__object_attach_oneshot_locked(&s->base);
        if (st == 0)
            ntp__pool_post_locked(p, &s->base, &k);
        pthread_mutex_unlock(&p->lock);
        if (st < 0) {
            ntp__object_free_oneshot(&s->base);
            return st;
        }
        ntp__pool_kick(p, &k);
        return 0;
    }
    s = ntp__calloc(1, sizeof *s);
    if (!s)
        return NTP_ENOMEM;
    s->cb = cb;
    s->base.release = release;
    ntp_status st = ntp__object_init(&s->base, &simple_ops, ctx, env);
    if (st < 0) {
        ntp__free(s);
        return st;
    }
    /* It joined its group in init. If the group released it since, it was
     * cancelled (its cancel callback ran): it must not run, and posting a
     * closed object is refused quietly here. */
    ntp_pool *p = s->base.pool;
    ntp__kick k = {0};
    pthread_mutex_lock(&p->lock);
    if (!atomic_load(&s->base.closed))
        ntp__pool_post_locked(p, &s->base, &k);
    pthread_mutex_unlock(&p->lock);
    ntp__pool_kick(p, &k);
    ntp__object_unpin(&s->base); /* the creation pin */
    return 0;
}

ntp_status
ntp_try_submit(ntp_simple_cb cb, void *ctx, const ntp_env *env)
{
    return ntp_try_submit_ex(cb, ctx, env, NULL);
}
