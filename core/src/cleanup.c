/*
 * cleanup.c -- cleanup groups (SPEC 4).
 *
 * LIFETIME: the group is freed by ntp_cleanup_group_close, which refuses a
 * group that still has members, so a member's `group` pointer is valid
 * while the member is in the list. close_members takes the members out of
 * the list under the group lock (so an application close racing with it no
 * longer touches the group), pins each one (its memory stays valid even if
 * the application closes it meanwhile, even inside its own callback), and
 * releases each exactly once through the same atomic `closed` exchange as
 * ntp_*_close: whoever wins releases, the loser does nothing
 * (CONFORMANCE G62).
 */
#include "object.h"

struct ntp_cleanup_group {
    uint32_t tag; /* NTP__TAG_GROUP while alive */
    pthread_mutex_t lock;
    ntp__list members;
    unsigned count;
};

bool
ntp__group_check(const ntp_cleanup_group *g)
{
    return g && g->tag == NTP__TAG_GROUP;
}

ntp_status
ntp_cleanup_group_create(ntp_cleanup_group **out)
{
    if (!out)
        return NTP_EINVAL;
    *out = NULL;
    ntp_cleanup_group *g = ntp__calloc(1, sizeof *g);
    if (!g)
        return NTP_ENOMEM;
    pthread_mutex_init(&g->lock, NULL);
    ntp__list_init(&g->members);
    g->tag = NTP__TAG_GROUP;
    ntp__live_inc();
    *out = g;
    return 0;
}

void
ntp__group_join(ntp_cleanup_group *g, ntp__object *obj)
{
    pthread_mutex_lock(&g->lock);
    ntp__list_push_back(&g->members, &obj->group_node);
    obj->in_group = true;
    g->count++;
    pthread_mutex_unlock(&g->lock);
}

void
ntp__group_leave(ntp_cleanup_group *g, ntp__object *obj)
{
    pthread_mutex_lock(&g->lock);
    if (obj->in_group) {
        ntp__list_remove(&obj->group_node);
        obj->in_group = false;
        g->count--;
    }
    pthread_mutex_unlock(&g->lock);
}

/* Group release waits for queued and running callbacks, disassociated
 * ones included (SPEC 4 step 3, CONFORMANCE F54). */
static bool
member_idle(const ntp__object *obj, uint32_t unused)
{
    (void)unused;
    return obj->pending == 0 && obj->running == 0;
}

#define EACH_MEMBER(it, list)                                                \
    ntp__list_foreach(it##_node, list) for (                                 \
        ntp__object *it = ntp__container_of(it##_node, ntp__object,          \
                                            group_node);                     \
        it; it = NULL)

ntp_status
ntp_cleanup_group_close_members(ntp_cleanup_group *g, bool cancel_pending,
                                void *cleanup_ctx)
{
    if (!ntp__group_check(g))
        return NTP_EINVAL;

    /* 1. Take the members. Refuse if we run inside one of them: waiting for
     *    its callbacks would wait for ourselves (SPEC 4, Rules). */
    ntp__list batch;
    ntp__list_init(&batch);
    ntp_instance *inst = ntp__current_instance;
    pthread_mutex_lock(&g->lock);
    if (inst && inst->obj->group == g && inst->obj->in_group) {
        pthread_mutex_unlock(&g->lock);
        ntp__diag("cleanup group %p: close_members called from a callback "
                  "of one of its members; nothing released",
                  (void *)g);
        return NTP_EDEADLK;
    }
    EACH_MEMBER(obj, &g->members)
    {
        obj->in_group = false;
        pthread_mutex_lock(&obj->pool->lock);
        ntp__object_pin_locked(obj);
        pthread_mutex_unlock(&obj->pool->lock);
    }
    ntp__list_splice(&batch, &g->members);
    g->count = 0;
    pthread_mutex_unlock(&g->lock);

    /* 2. Stop new triggers; with cancel, drop posts not yet started. */
    EACH_MEMBER(obj, &batch)
    {
        if (obj->ops->disarm)
            obj->ops->disarm(obj);
        if (cancel_pending) {
            pthread_mutex_lock(&obj->pool->lock);
            ntp__object_cancel_posts_locked(obj);
            pthread_mutex_unlock(&obj->pool->lock);
        }
    }

    /* 3. Wait for what remains. */
    bool entered = false;
    EACH_MEMBER(obj, &batch)
    {
        pthread_mutex_lock(&obj->pool->lock);
        ntp__object_wait_until_locked(obj, member_idle, 0, &entered);
        pthread_mutex_unlock(&obj->pool->lock);
    }
    if (entered)
        ntp__blocking_leave();

    /* 4. Cancel callbacks: once per member the application did not release
     *    itself, on this thread, after its callbacks returned (G59-G62). */
    if (cancel_pending) {
        EACH_MEMBER(obj, &batch)
        {
            if (obj->cancel_cb && !atomic_load(&obj->closed))
                obj->cancel_cb(obj->ctx, cleanup_ctx);
        }
    }

    /* 5. Release every member we still own, then drop our pins. */
    ntp__list *n;
    while ((n = ntp__list_pop_front(&batch)) != NULL) {
        ntp__object *obj = ntp__container_of(n, ntp__object, group_node);
        if (!atomic_exchange(&obj->closed, true) && obj->ops->disarm)
            obj->ops->disarm(obj);
        ntp__object_unpin(obj);
    }
    return 0;
}

void
ntp_cleanup_group_close(ntp_cleanup_group *g)
{
    if (!g)
        return;
    if (!ntp__group_check(g)) {
        ntp__diag("ntp_cleanup_group_close: not a cleanup group (%p)",
                  (void *)g);
        return;
    }
    pthread_mutex_lock(&g->lock);
    if (g->count > 0) {
        unsigned count = g->count;
        pthread_mutex_unlock(&g->lock);
        ntp__diag("cleanup group %p still has %u members; close them first "
                  "(ntp_cleanup_group_close_members); not closed",
                  (void *)g, count);
        return;
    }
    g->tag = NTP__TAG_DEAD;
    pthread_mutex_unlock(&g->lock);
    pthread_mutex_destroy(&g->lock);
    ntp__live_dec();
    ntp__free(g);
}
