/*
 * legacy.c -- the original thread-pool API (SPEC 11) over work, wait and
 * timer objects on the process default pool.
 *
 *   QueueUserWorkItem            -> a one-shot simple callback
 *   RegisterWaitForSingleObject  -> a wait object that re-arms itself
 *   timer queues and their timers -> timer objects grouped in a list
 *
 * The WT_* flags become environment settings (env_for_flags): LONGFUNCTION
 * runs long; INPERSISTENTTHREAD, and INWAITTHREAD/INTIMERTHREAD (ntpool
 * runs no user code on its timer thread), use the default pool's
 * persistent thread, so such callbacks run one at a time on a thread that
 * never exits, as on a Windows wait or timer thread.
 *
 * "Callbacks outstanding" (the ERROR_IO_PENDING answer of the unregister
 * and delete calls) is read from the object's own counters: posts queued
 * plus callbacks running, under the pool lock (object.h).
 *
 * LOCK ORDER: a registration's lock and a timer-queue timer's lock serialize
 * re-arming or changing against unregistering or deleting; each is held
 * while calling ntp_wait_set/ntp_timer_set, so it comes before every core
 * lock, and no core lock is held while taking it (callbacks run lock-free).
 * A timer queue's lock guards its list and reference count only; the
 * timer_set of a new timer is done under it (so a concurrent deletion of
 * the queue cannot close the timer in between), which puts it before the
 * core locks too. A timer's lock and its queue's lock are never held
 * together.
 */
#include "object.h"
#include "sync.h"

#include <stdlib.h>

enum {
    TAG_RWAIT = 0x52574149u,  /* "RWAI" */
    TAG_TQUEUE = 0x54515545u, /* "TQUE" */
    TAG_TQTIMER = 0x5451544du /* "TQTM" */
};

#define KNOWN_FLAGS 0x1FFu

/* ------------------------------------------------------------------------ */
/* Shared helpers                                                            */
/* ------------------------------------------------------------------------ */

/* Translate WT_* flags into an environment for the default pool, and apply
 * the max-threads limit in the high bits (it only raises the maximum). */
static ntp_status
env_for_flags(uint32_t flags, ntp_env *env)
{
    if ((flags & 0xFFFFu & ~KNOWN_FLAGS) != 0) {
        return NTP_EINVAL;
    }
    ntp_env_init(env);
    if (flags & NTP_WT_EXECUTELONGFUNCTION) {
        ntp_env_set_runs_long(env);
    }
    if (flags & (NTP_WT_EXECUTEINPERSISTENTTHREAD | NTP_WT_EXECUTEINWAITTHREAD
                 | NTP_WT_EXECUTEINTIMERTHREAD)) {
        ntp_env_set_persistent(env);
    }
    unsigned limit = flags >> 16;
    if (limit > 0) {
        ntp_pool *p = ntp_pool_default();
        ntp_pool_stats stats;
        if (p == NULL) {
            return NTP_ENOMEM;
        }
        if (ntp_pool_stats_get(p, &stats) == 0 && stats.max_threads < limit) {
            ntp_pool_set_max_threads(p, limit);
        }
    }
    return 0;
}

/* Posts queued plus callbacks running of a callback object, not counting
 * the caller's own callback of it when exclude_self. */
static uint32_t
outstanding(ntp__object *obj, bool exclude_self)
{
    ntp_pool *p = obj->pool;
    pthread_mutex_lock(&p->lock);
    uint32_t n = obj->pending + obj->running;
    pthread_mutex_unlock(&p->lock);
    ntp_instance *inst = ntp_instance_current();
    if (exclude_self && inst != NULL && inst->obj == obj && n > 0) {
        n--;
    }
    return n;
}

/* Validate the completion argument of the unregister/delete calls and take
 * a reference on an event, kept until it is set. */
static ntp_status
completion_ref(ntp_handle *completion)
{
    if (completion == NULL || completion == NTP_COMPLETION_WAIT) {
        return 0;
    }
    pthread_mutex_lock(&ntp__sync_lock);
    ntp_status st = ntp__handle_check_locked(completion, NTP_HANDLE_EVENT);
    if (st == 0) {
        ntp__handle_ref_locked(completion);
    }
    pthread_mutex_unlock(&ntp__sync_lock);
    return st;
}

/* Drop the reference completion_ref took, without setting the event. */
static void
completion_unref(ntp_handle *completion)
{
    if (completion != NULL && completion != NTP_COMPLETION_WAIT) {
        ntp__handle_unref(completion);
    }
}

/* Set a completion event and drop our reference. The application should
 * keep the event open until it is set (SPEC 11); if it closed it anyway
 * the set fails quietly and our reference frees the object. */
static void
completion_signal(ntp_handle *event)
{
    if (event != NULL) {
        (void)ntp_event_set(event);
        ntp__handle_unref(event);
    }
}

/* ------------------------------------------------------------------------ */
/* QueueUserWorkItem                                                         */
/* ------------------------------------------------------------------------ */

/* LIFETIME: allocated by ntp_queue_user_work_item, freed by the simple
 * callback's release hook, which runs once after the callback. */
typedef struct work_item {
    ntp_thread_start_fn fn;
    void *ctx;
} work_item;

static void
work_item_run(ntp_instance *inst, void *ctx)
{
    (void)inst;
    work_item *wi = ctx;
    (void)wi->fn(wi->ctx);
    ntp__apc_run_pending();
}

static void
work_item_release(void *ctx)
{
    ntp__free(ctx);
}

ntp_status
ntp_queue_user_work_item(ntp_thread_start_fn fn, void *ctx, uint32_t flags)
{
    if (fn == NULL) {
        return NTP_EINVAL;
    }
    ntp_env env;
    ntp_status st = env_for_flags(flags, &env);
    if (st < 0) {
        return st;
    }
    work_item *wi = ntp__malloc(sizeof *wi);
    if (wi == NULL) {
        return NTP_ENOMEM;
    }
    wi->fn = fn;
    wi->ctx = ctx;
    st = ntp_try_submit_ex(work_item_run, wi, &env, work_item_release);
    if (st < 0) {
        ntp__free(wi); /* the release hook runs only after a submission */
    }
    return st;
}

/* ------------------------------------------------------------------------ */
/* RegisterWaitForSingleObject                                               */
/* ------------------------------------------------------------------------ */

/*
 * LIFETIME: allocated by ntp_register_wait with its wait object, whose
 * context it is. ntp_unregister_wait_ex closes the wait object; the wait's
 * release hook (rwait_release) runs once after its final callback and
 * frees the registration, after setting the completion event. So a
 * callback never sees a freed registration. The registration holds a
 * reference on the waited handle until then.
 */
struct ntp_registered_wait {
    uint32_t tag;
    pthread_mutex_t lock; /* see LOCK ORDER */
    ntp_wait *wait;
    ntp_handle *h;
    ntp_wait_or_timer_fn cb;
    void *ctx;
    uint32_t timeout_ms;
    bool once;
    bool unregistered;      /* guarded by lock */
    ntp_handle *completion; /* set by unregister before the close */
};

static void
rwait_cb(ntp_instance *inst, void *ctx, ntp_wait *w, uint32_t result)
{
    (void)inst;
    ntp_registered_wait *rw = ctx;
    /* Re-armed before the callback runs, as a Windows wait thread goes
     * back to waiting as soon as it has queued the callback. */
    if (!rw->once) {
        pthread_mutex_lock(&rw->lock);
        if (!rw->unregistered) {
            ntp_wait_set(w, rw->h, rw->timeout_ms);
        }
        pthread_mutex_unlock(&rw->lock);
    }
    rw->cb(rw->ctx, result == NTP_WAIT_TIMEOUT);
    ntp__apc_run_pending();
}

static void
rwait_release(void *ctx)
{
    ntp_registered_wait *rw = ctx;
    ntp_handle *event = rw->completion;
    ntp__handle_unref(rw->h);
    pthread_mutex_destroy(&rw->lock);
    rw->tag = NTP__TAG_DEAD;
    ntp__free(rw);
    ntp__live_dec();
    completion_signal(event);
}

ntp_status
ntp_register_wait(ntp_registered_wait **out, ntp_handle *h,
                  ntp_wait_or_timer_fn cb, void *ctx, uint32_t timeout_ms,
                  uint32_t flags)
{
    if (out == NULL || cb == NULL) {
        return NTP_EINVAL;
    }
    ntp_env env;
    ntp_status st = env_for_flags(flags, &env);
    if (st < 0) {
        return st;
    }
    int kind = ntp_handle_kind_of(h);
    if (kind < 0) {
        return kind;
    }
    if (kind == NTP_HANDLE_MUTEX) {
        return NTP_ENOTSUP;
    }
    ntp_registered_wait *rw = ntp__calloc(1, sizeof *rw);
    if (rw == NULL) {
        return NTP_ENOMEM;
    }
    st = ntp__handle_ref(h);
    if (st < 0) {
        ntp__free(rw);
        return st;
    }
    rw->tag = TAG_RWAIT;
    pthread_mutex_init(&rw->lock, NULL);
    rw->h = h;
    rw->cb = cb;
    rw->ctx = ctx;
    rw->timeout_ms = timeout_ms;
    rw->once = (flags & NTP_WT_EXECUTEONLYONCE) != 0;
    st = ntp_wait_create(&rw->wait, rwait_cb, rw, &env);
    if (st < 0) {
        ntp__handle_unref(h);
        pthread_mutex_destroy(&rw->lock);
        ntp__free(rw);
        return st;
    }
    ntp__live_inc();
    (void)ntp_wait_set_release(rw->wait, rwait_release);
    /* Stored before the first callback can run (CONFORMANCE K124). */
    *out = rw;
    pthread_mutex_lock(&rw->lock);
    ntp_wait_set(rw->wait, h, timeout_ms);
    pthread_mutex_unlock(&rw->lock);
    return 0;
}

ntp_status
ntp_unregister_wait_ex(ntp_registered_wait *rw, ntp_handle *completion)
{
    if (rw == NULL || rw->tag != TAG_RWAIT) {
        return NTP_EINVAL;
    }
    ntp_status st = completion_ref(completion);
    if (st < 0) {
        return st;
    }
    pthread_mutex_lock(&rw->lock);
    if (rw->unregistered) {
        pthread_mutex_unlock(&rw->lock);
        completion_unref(completion);
        return NTP_EINVAL;
    }
    rw->unregistered = true;
    /* No new callback from here on; queued ones still run (SPEC 11). */
    ntp_wait_set(rw->wait, NULL, 0);
    pthread_mutex_unlock(&rw->lock);

    bool wait = completion == NTP_COMPLETION_WAIT;
    if (!wait) {
        rw->completion = completion; /* read by the release hook */
    }
    /* The caller's own callback does not count: UnregisterWait from inside
     * it succeeds (CONFORMANCE K125). */
    uint32_t n = outstanding((ntp__object *)rw->wait, true);
    if (wait) {
        ntp_wait_wait(rw->wait, false);
        n = 0;
    }
    ntp_wait_close(rw->wait); /* rw may be freed from here on */
    return n > 0 ? NTP_EINPROGRESS : 0;
}

ntp_status
ntp_unregister_wait(ntp_registered_wait *rw)
{
    return ntp_unregister_wait_ex(rw, NULL);
}

/* ------------------------------------------------------------------------ */
/* Timer queues                                                              */
/* ------------------------------------------------------------------------ */

/*
 * LIFETIME of a queue: a reference count under its lock, held by the
 * application (from creation to ntp_timer_queue_delete_ex) and by each of
 * its timers until that timer's release hook. The last one frees the queue
 * and sets the deletion's completion event: that is the moment when every
 * callback of every timer has returned. The default queue is static and
 * never freed.
 *
 * LIFETIME of a timer: allocated with its ntp_timer, whose context it is;
 * deleting it (alone or with its queue) closes the ntp_timer, and the
 * timer's release hook (tqt_release), after its final callback, sets its
 * own completion event, drops its queue reference and frees it.
 */
struct ntp_timer_queue {
    uint32_t tag;
    pthread_mutex_t lock;
    bool is_default;
    bool deleted;           /* guarded by lock */
    unsigned refs;          /* guarded by lock */
    ntp__list timers;       /* guarded by lock: live timers, node */
    ntp_handle *completion; /* set by delete_ex before its last unref */
};

struct ntp_timer_queue_timer {
    uint32_t tag;
    pthread_mutex_t lock; /* see LOCK ORDER */
    ntp_timer *timer;
    ntp_timer_queue *queue;
    ntp__list node; /* in queue->timers until deleted; queue->lock */
    bool in_queue;  /* node is in queue->timers; guarded by queue->lock */
    ntp_wait_or_timer_fn cb;
    void *ctx;
    uint32_t period_ms;     /* guarded by lock */
    bool deleted;           /* guarded by lock */
    ntp_handle *completion; /* set by delete before the close */
};

static ntp_timer_queue default_queue;
static pthread_once_t default_queue_once = PTHREAD_ONCE_INIT;

static void
default_queue_init(void)
{
    default_queue.tag = TAG_TQUEUE;
    pthread_mutex_init(&default_queue.lock, NULL);
    default_queue.is_default = true;
    default_queue.refs = 1; /* never counted, never freed */
    ntp__list_init(&default_queue.timers);
}

static ntp_timer_queue *
resolve_queue(ntp_timer_queue *q)
{
    if (q == NULL) {
        pthread_once(&default_queue_once, default_queue_init);
        return &default_queue;
    }
    return q->tag == TAG_TQUEUE ? q : NULL;
}

static void
queue_unref(ntp_timer_queue *q)
{
    pthread_mutex_lock(&q->lock);
    bool last = --q->refs == 0;
    pthread_mutex_unlock(&q->lock);
    if (last) {
        ntp_handle *event = q->completion;
        pthread_mutex_destroy(&q->lock);
        q->tag = NTP__TAG_DEAD;
        ntp__free(q);
        ntp__live_dec();
        completion_signal(event);
    }
}

ntp_status
ntp_timer_queue_create(ntp_timer_queue **out)
{
    if (out == NULL) {
        return NTP_EINVAL;
    }
    ntp_timer_queue *q = ntp__calloc(1, sizeof *q);
    if (q == NULL) {
        return NTP_ENOMEM;
    }
    q->tag = TAG_TQUEUE;
    pthread_mutex_init(&q->lock, NULL);
    q->refs = 1;
    ntp__list_init(&q->timers);
    ntp__live_inc();
    *out = q;
    return 0;
}

static void
tqt_cb(ntp_instance *inst, void *ctx, ntp_timer *timer)
{
    (void)inst;
    (void)timer;
    ntp_timer_queue_timer *t = ctx;
    t->cb(t->ctx, true); /* always TRUE for timers (CONFORMANCE K127) */
    ntp__apc_run_pending();
}

static void
tqt_release(void *ctx)
{
    ntp_timer_queue_timer *t = ctx;
    ntp_handle *event = t->completion;
    ntp_timer_queue *q = t->queue;
    pthread_mutex_destroy(&t->lock);
    t->tag = NTP__TAG_DEAD;
    ntp__free(t);
    ntp__live_dec();
    completion_signal(event);
    if (q != NULL && !q->is_default) {
        queue_unref(q);
    }
}

ntp_status
ntp_timer_queue_timer_create(ntp_timer_queue_timer **out, ntp_timer_queue *q,
                             ntp_wait_or_timer_fn cb, void *ctx,
                             uint32_t due_ms, uint32_t period_ms,
                             uint32_t flags)
{
    if (out == NULL || cb == NULL) {
        return NTP_EINVAL;
    }
    ntp_timer_queue *queue = resolve_queue(q);
    if (queue == NULL) {
        return NTP_EINVAL;
    }
    if ((flags & NTP_WT_EXECUTEONLYONCE) && period_ms != 0) {
        return NTP_EINVAL; /* "Period must be zero" (SPEC 11) */
    }
    ntp_env env;
    ntp_status st = env_for_flags(flags, &env);
    if (st < 0) {
        return st;
    }
    ntp_timer_queue_timer *t = ntp__calloc(1, sizeof *t);
    if (t == NULL) {
        return NTP_ENOMEM;
    }
    t->tag = TAG_TQTIMER;
    pthread_mutex_init(&t->lock, NULL);
    t->cb = cb;
    t->ctx = ctx;
    t->period_ms = period_ms;
    ntp__list_init(&t->node);
    st = ntp_timer_create(&t->timer, tqt_cb, t, &env);
    if (st < 0) {
        pthread_mutex_destroy(&t->lock);
        ntp__free(t);
        return st;
    }
    ntp__live_inc();
    (void)ntp_timer_set_release(t->timer, tqt_release);

    pthread_mutex_lock(&queue->lock);
    if (queue->deleted) {
        pthread_mutex_unlock(&queue->lock);
        /* Never set: closing it frees it at once, without a queue ref. */
        ntp_timer_close(t->timer);
        return NTP_EINVAL;
    }
    if (!queue->is_default) {
        queue->refs++; /* the default queue is never freed */
    }
    t->queue = queue;
    ntp__list_push_back(&queue->timers, &t->node);
    t->in_queue = true;
    *out = t;
    ntp_timer_set(t->timer, ntp_due_in_ms(due_ms), period_ms, 0);
    pthread_mutex_unlock(&queue->lock);
    return 0;
}

ntp_status
ntp_timer_queue_timer_change(ntp_timer_queue *q, ntp_timer_queue_timer *t,
                             uint32_t due_ms, uint32_t period_ms)
{
    (void)q; /* Windows accepts any queue here (CONFORMANCE K134) */
    if (t == NULL || t->tag != TAG_TQTIMER) {
        return NTP_EINVAL;
    }
    pthread_mutex_lock(&t->lock);
    if (t->deleted) {
        pthread_mutex_unlock(&t->lock);
        return NTP_EINVAL;
    }
    /* Stop it first, learning whether it was still pending: a one-shot
     * that has already expired is left alone (SPEC 11), and stopping it
     * changed nothing. A periodic timer is pending between expiries. */
    bool pending = ntp_timer_set_ex(t->timer, ntp_due_none(), 0, 0);
    if (pending || t->period_ms != 0) {
        t->period_ms = period_ms;
        ntp_timer_set(t->timer, ntp_due_in_ms(due_ms), period_ms, 0);
    }
    pthread_mutex_unlock(&t->lock);
    return 0;
}

/* Stop a timer for good. Returns false if it was already deleted. */
static bool
tqt_stop(ntp_timer_queue_timer *t)
{
    pthread_mutex_lock(&t->lock);
    bool first = !t->deleted;
    if (first) {
        t->deleted = true;
        ntp_timer_set(t->timer, ntp_due_none(), 0, 0);
    }
    pthread_mutex_unlock(&t->lock);
    return first;
}

ntp_status
ntp_timer_queue_timer_delete(ntp_timer_queue *q, ntp_timer_queue_timer *t,
                             ntp_handle *completion)
{
    (void)q; /* Windows accepts any queue here (CONFORMANCE K134) */
    if (t == NULL || t->tag != TAG_TQTIMER) {
        return NTP_EINVAL;
    }
    ntp_status st = completion_ref(completion);
    if (st < 0) {
        return st;
    }
    /* Out of its queue first, so that a deletion of the queue racing with
     * this one cannot also take it. */
    ntp_timer_queue *queue = t->queue;
    pthread_mutex_lock(&queue->lock);
    bool linked = t->in_queue;
    if (linked) {
        ntp__list_remove(&t->node);
        t->in_queue = false;
    }
    pthread_mutex_unlock(&queue->lock);
    if (!linked || !tqt_stop(t)) {
        completion_unref(completion);
        return NTP_EINVAL;
    }
    bool wait = completion == NTP_COMPLETION_WAIT;
    if (!wait) {
        t->completion = completion; /* read by the release hook */
    }
    /* The caller's own callback counts: deleting from inside it answers
     * ERROR_IO_PENDING (CONFORMANCE K133). */
    uint32_t n = outstanding((ntp__object *)t->timer, false);
    if (wait) {
        ntp_timer_wait(t->timer, false);
        n = 0;
    }
    ntp_timer_close(t->timer); /* t may be freed from here on */
    return n > 0 ? NTP_EINPROGRESS : 0;
}

ntp_status
ntp_timer_queue_delete_ex(ntp_timer_queue *q, ntp_handle *completion)
{
    /* NULL, the default queue, cannot be deleted (CONFORMANCE K126). */
    if (q == NULL || q->tag != TAG_TQUEUE || q->is_default) {
        return NTP_EINVAL;
    }
    ntp_status st = completion_ref(completion);
    if (st < 0) {
        return st;
    }
    ntp__list timers;
    ntp__list_init(&timers);
    pthread_mutex_lock(&q->lock);
    bool first = !q->deleted;
    if (first) {
        q->deleted = true;
        for (ntp__list *l = q->timers.next; l != &q->timers; l = l->next) {
            ntp__container_of(l, ntp_timer_queue_timer, node)->in_queue =
                false;
        }
        ntp__list_splice(&timers, &q->timers);
    }
    pthread_mutex_unlock(&q->lock);
    if (!first) {
        completion_unref(completion);
        return NTP_EINVAL;
    }
    bool wait = completion == NTP_COMPLETION_WAIT;
    if (!wait) {
        q->completion = completion; /* read by the last queue_unref */
    }

    /* The timers are ours now (a concurrent delete of one of them finds
     * it out of the queue and is refused). Stop them all, then count or wait, then close. */
    uint32_t n = 0;
    for (ntp__list *l = timers.next; l != &timers; l = l->next) {
        ntp_timer_queue_timer *t =
            ntp__container_of(l, ntp_timer_queue_timer, node);
        (void)tqt_stop(t);
    }
    for (ntp__list *l = timers.next; l != &timers; l = l->next) {
        ntp_timer_queue_timer *t =
            ntp__container_of(l, ntp_timer_queue_timer, node);
        if (wait) {
            ntp_timer_wait(t->timer, false);
        } else {
            n += outstanding((ntp__object *)t->timer, false);
        }
    }
    ntp__list *l;
    while ((l = ntp__list_pop_front(&timers)) != NULL) {
        ntp_timer_queue_timer *t =
            ntp__container_of(l, ntp_timer_queue_timer, node);
        ntp_timer_close(t->timer); /* t may be freed from here on */
    }
    queue_unref(q); /* the application's reference */
    if (completion == NULL) {
        return 0; /* Vista and later answer TRUE (CONFORMANCE K126) */
    }
    return n > 0 ? NTP_EINPROGRESS : 0;
}

ntp_status
ntp_timer_queue_delete(ntp_timer_queue *q)
{
    return ntp_timer_queue_delete_ex(q, NULL);
}

/* ------------------------------------------------------------------------ */
/* BindIoCompletionCallback                                                  */
/* ------------------------------------------------------------------------ */

/*
 * LIFETIME: a binding is allocated with its I/O object, whose context it
 * is, and listed (by fd) in `bindings` so that binding an fd twice is
 * refused. Windows never unbinds; here the application may close the I/O
 * object, and its release hook (after the final callback) unlists and
 * frees the binding, after which the fd may be bound again. The list's
 * lock is taken with no other lock held, and held across ntp_io_create so
 * that two concurrent binds of one fd cannot both succeed.
 */
typedef struct binding {
    ntp__list node; /* in bindings, under bindings_lock */
    int fd;
    ntp_io_completion_fn fn;
    void *ctx;
    void (*on_release)(void *); /* may be NULL */
    void *release_ctx;
} binding;

static pthread_mutex_t bindings_lock = PTHREAD_MUTEX_INITIALIZER;
static ntp__list bindings = {&bindings, &bindings};

static void
binding_cb(ntp_instance *inst, void *ctx, ntp_overlapped *ov,
           ntp_status result, size_t nbytes, ntp_io *io)
{
    (void)inst;
    (void)io;
    binding *b = ctx;
    b->fn(b->ctx, result, nbytes, ov);
    ntp__apc_run_pending();
}

static void
binding_release(void *ctx)
{
    binding *b = ctx;
    pthread_mutex_lock(&bindings_lock);
    ntp__list_remove(&b->node);
    pthread_mutex_unlock(&bindings_lock);
    if (b->on_release) {
        b->on_release(b->release_ctx);
    }
    ntp__free(b);
}

ntp_status
ntp_bind_io_completion_callback(ntp_io **out, int fd, ntp_io_completion_fn fn,
                                void *ctx, uint32_t flags)
{
    return ntp__bind_io_completion_callback(out, fd, fn, ctx, flags, NULL,
                                            NULL);
}

ntp_status
ntp__bind_io_completion_callback(ntp_io **out, int fd,
                                 ntp_io_completion_fn fn, void *ctx,
                                 uint32_t flags, void (*on_release)(void *),
                                 void *release_ctx)
{
    if (out == NULL || fn == NULL || flags != 0) {
        return NTP_EINVAL;
    }
    if (fd < 0) {
        return NTP_EBADF;
    }
    binding *b = ntp__calloc(1, sizeof *b);
    if (b == NULL) {
        return NTP_ENOMEM;
    }
    b->fd = fd;
    b->fn = fn;
    b->ctx = ctx;
    b->on_release = on_release;
    b->release_ctx = release_ctx;
    ntp__list_init(&b->node);
    pthread_mutex_lock(&bindings_lock);
    ntp_status st = 0;
    for (ntp__list *l = bindings.next; l != &bindings; l = l->next) {
        if (ntp__container_of(l, binding, node)->fd == fd) {
            st = NTP_EINVAL; /* bound already (CONFORMANCE K138) */
            break;
        }
    }
    ntp_io *io = NULL;
    if (st == 0) {
        st = ntp_io_create(&io, fd, binding_cb, b, NULL);
    }
    if (st == 0) {
        ntp__list_push_back(&bindings, &b->node);
        (void)ntp_io_set_release(io, binding_release);
    }
    pthread_mutex_unlock(&bindings_lock);
    if (st < 0) {
        ntp__free(b);
        return st;
    }
    *out = io;
    return 0;
}
