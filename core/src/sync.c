/*
 * sync.c -- events, semaphores and mutexes, the wait blocks behind every
 * wait, and ntp_wait_for_single / ntp_wait_for_multiple.
 *
 * Everything here runs under the sync lock (sync.h). A wait either finds
 * its handles signalled and takes them on the spot, or links a wait block
 * (on its own stack) into their waiter lists and sleeps on the block's
 * condition variable; whoever signals a handle then satisfies the block,
 * takes the handles for it, and wakes it. A wait never allocates.
 */
#include "sync.h"

#include <errno.h>
#include <stdlib.h>

/* ------------------------------------------------------------------------ */
/* Events                                                                    */
/* ------------------------------------------------------------------------ */

/* Lifetime: handle.c (the common handle rules); an event owns nothing
 * else. */
typedef struct event {
    struct ntp_handle base;
    bool manual;    /* manual-reset: a satisfied wait leaves it set */
    bool signalled; /* guarded by the sync lock */
} event;

static bool
event_signalled(ntp_handle *h, struct ntp__thread *t)
{
    (void)t;
    return ((event *)h)->signalled;
}

static int
event_acquire(ntp_handle *h, struct ntp__thread *t)
{
    event *e = (event *)h;
    (void)t;
    /* An auto-reset event releases exactly one waiter: this one. */
    if (!e->manual) {
        e->signalled = false;
    }
    return NTP_WAIT_OBJECT_0;
}

static const struct ntp__handle_ops event_ops = {
    .kind = NTP_HANDLE_EVENT,
    .name = "event",
    .signalled = event_signalled,
    .acquire = event_acquire,
    .retire = NULL,
};

ntp_status
ntp_event_create(ntp_handle **out, bool manual_reset, bool initial_state)
{
    if (out == NULL) {
        return NTP_EINVAL;
    }
    ntp_handle *h;
    ntp_status st = ntp__handle_new(&h, sizeof(event), &event_ops);
    if (st < 0) {
        return st;
    }
    event *e = (event *)h;
    e->manual = manual_reset;
    e->signalled = initial_state;
    *out = h;
    return 0;
}

ntp_status
ntp_event_set(ntp_handle *h)
{
    pthread_mutex_lock(&ntp__sync_lock);
    ntp_status st = ntp__handle_check_locked(h, NTP_HANDLE_EVENT);
    if (st == 0 && !((event *)h)->signalled) {
        /* Setting a set event changes nothing (SPEC 13.3); otherwise the
         * waiters take it: all of them for a manual-reset event, one for
         * an auto-reset event, whose acquisition resets it. */
        ((event *)h)->signalled = true;
        ntp__handle_wake_locked(h);
        ntp__handle_mirror_update_locked(h);
    }
    pthread_mutex_unlock(&ntp__sync_lock);
    return st;
}

ntp_status
ntp_event_reset(ntp_handle *h)
{
    pthread_mutex_lock(&ntp__sync_lock);
    ntp_status st = ntp__handle_check_locked(h, NTP_HANDLE_EVENT);
    if (st == 0) {
        ((event *)h)->signalled = false;
        ntp__handle_mirror_update_locked(h);
    }
    pthread_mutex_unlock(&ntp__sync_lock);
    return st;
}

ntp_status
ntp_event_pulse(ntp_handle *h)
{
    pthread_mutex_lock(&ntp__sync_lock);
    ntp_status st = ntp__handle_check_locked(h, NTP_HANDLE_EVENT);
    if (st == 0) {
        /* Set, release the waiters that are waiting at this instant and
         * can be released (a wait-all whose other handles are not all
         * signalled stays), then reset: all under one lock hold, so no
         * wait that starts later can see the event set. The mirror is
         * updated only after the reset so poll() never sees the pulse. */
        ((event *)h)->signalled = true;
        ntp__handle_wake_locked(h);
        ((event *)h)->signalled = false;
        ntp__handle_mirror_update_locked(h);
    }
    pthread_mutex_unlock(&ntp__sync_lock);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Semaphores                                                                */
/* ------------------------------------------------------------------------ */

/* Lifetime: handle.c; a semaphore owns nothing else. */
typedef struct semaphore {
    struct ntp_handle base;
    int32_t count; /* 0 <= count <= max, guarded by the sync lock */
    int32_t max;
} semaphore;

static bool
semaphore_signalled(ntp_handle *h, struct ntp__thread *t)
{
    (void)t;
    return ((semaphore *)h)->count > 0;
}

static int
semaphore_acquire(ntp_handle *h, struct ntp__thread *t)
{
    (void)t;
    ((semaphore *)h)->count--;
    return NTP_WAIT_OBJECT_0;
}

static const struct ntp__handle_ops semaphore_ops = {
    .kind = NTP_HANDLE_SEMAPHORE,
    .name = "semaphore",
    .signalled = semaphore_signalled,
    .acquire = semaphore_acquire,
    .retire = NULL,
};

ntp_status
ntp_semaphore_create(ntp_handle **out, int32_t initial, int32_t max)
{
    if (out == NULL || initial < 0 || max <= 0 || initial > max) {
        return NTP_EINVAL;
    }
    ntp_handle *h;
    ntp_status st = ntp__handle_new(&h, sizeof(semaphore), &semaphore_ops);
    if (st < 0) {
        return st;
    }
    semaphore *s = (semaphore *)h;
    s->count = initial;
    s->max = max;
    *out = h;
    return 0;
}

ntp_status
ntp_semaphore_release(ntp_handle *h, int32_t count, int32_t *previous)
{
    pthread_mutex_lock(&ntp__sync_lock);
    ntp_status st = ntp__handle_check_locked(h, NTP_HANDLE_SEMAPHORE);
    semaphore *s = (semaphore *)h;
    int32_t before = 0;
    if (st == 0 && count <= 0) {
        st = NTP_EINVAL;
    }
    /* Written as a subtraction so that it cannot overflow: count > 0 and
     * 0 <= s->count <= s->max. */
    if (st == 0 && count > s->max - s->count) {
        st = NTP_EOVERFLOW; /* ERROR_TOO_MANY_POSTS: nothing changes */
    }
    if (st == 0) {
        before = s->count;
        s->count += count;
        ntp__handle_wake_locked(h);
        ntp__handle_mirror_update_locked(h);
    }
    pthread_mutex_unlock(&ntp__sync_lock);
    if (st == 0 && previous != NULL) {
        *previous = before;
    }
    return st;
}

/* ------------------------------------------------------------------------ */
/* Mutexes                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * The states of a mutex, guarded by the sync lock (T, U are threads):
 *
 *   UNOWNED      --wait by T-->     OWNED(T, 1)    result WAIT_OBJECT_0
 *   OWNED(T, n)  --wait by T-->     OWNED(T, n+1)  (recursion, no block)
 *   OWNED(T, n)  --release by T-->  OWNED(T, n-1)  while n > 1
 *   OWNED(T, 1)  --release by T-->  UNOWNED        next waiter satisfied
 *   OWNED(T, n)  --T exits-->       ABANDONED      next waiter satisfied
 *   ABANDONED    --wait by U-->     OWNED(U, 1)    result WAIT_ABANDONED_0
 *
 * Creation with initial ownership starts in OWNED(creator, 1). A release by
 * anyone but the owner fails with NTP_EPERM and changes nothing. Once the
 * thread that inherited an abandoned mutex releases it, it is an ordinary
 * UNOWNED mutex again (SPEC 13.5).
 */
typedef enum mutex_state {
    MUTEX_UNOWNED,
    MUTEX_OWNED,
    MUTEX_ABANDONED
} mutex_state;

/*
 * Lifetime: handle.c. While OWNED the mutex is linked (owned_node) into
 * its owner's thread record, which is how the owner's exit finds it; the
 * link is cut by the release, by the owner's exit, or, if the last handle
 * reference goes first, by mutex_retire. So neither points at a dead one.
 */
typedef struct mutex {
    struct ntp_handle base;
    mutex_state state;
    struct ntp__thread *owner; /* OWNED only */
    uint32_t recursion;        /* OWNED only: acquisitions not released */
    ntp__list owned_node;      /* in owner->owned_mutexes while OWNED */
} mutex;

static bool
mutex_signalled(ntp_handle *h, struct ntp__thread *t)
{
    mutex *m = (mutex *)h;
    /* Signalled for its owner too: that is what makes it recursive.
     * Recursion is not capped: 2^32 nested acquisitions are not a case we
     * serve (Windows fails at 2^31 with STATUS_MUTANT_LIMIT_EXCEEDED). */
    return m->state != MUTEX_OWNED || (t != NULL && m->owner == t);
}

static int
mutex_acquire(ntp_handle *h, struct ntp__thread *t)
{
    mutex *m = (mutex *)h;
    if (t == NULL) {
        abort(); /* a block without a thread reached a mutex: our bug */
    }
    if (m->state == MUTEX_OWNED) {
        m->recursion++;
        return NTP_WAIT_OBJECT_0;
    }
    int result = m->state == MUTEX_ABANDONED ? NTP_WAIT_ABANDONED_0
                                             : NTP_WAIT_OBJECT_0;
    m->state = MUTEX_OWNED;
    m->owner = t;
    m->recursion = 1;
    ntp__list_push_back(&t->owned_mutexes, &m->owned_node);
    return result;
}

static void
mutex_retire(ntp_handle *h)
{
    mutex *m = (mutex *)h;
    /* Closed while owned: the owner's record must not keep a link to
     * memory about to be freed. */
    if (m->state == MUTEX_OWNED) {
        ntp__list_remove(&m->owned_node);
        m->state = MUTEX_UNOWNED;
        m->owner = NULL;
    }
}

static const struct ntp__handle_ops mutex_ops = {
    .kind = NTP_HANDLE_MUTEX,
    .name = "mutex",
    .signalled = mutex_signalled,
    .acquire = mutex_acquire,
    .retire = mutex_retire,
};

ntp_status
ntp_mutex_create(ntp_handle **out, bool initial_owner)
{
    if (out == NULL) {
        return NTP_EINVAL;
    }
    /* Fetched before anything is allocated or locked: the first call
     * registers the thread's exit destructor. */
    struct ntp__thread *self = initial_owner ? ntp__thread_self() : NULL;
    ntp_handle *h;
    ntp_status st = ntp__handle_new(&h, sizeof(mutex), &mutex_ops);
    if (st < 0) {
        return st;
    }
    mutex *m = (mutex *)h;
    m->state = MUTEX_UNOWNED;
    m->owner = NULL;
    m->recursion = 0;
    ntp__list_init(&m->owned_node);
    if (initial_owner) {
        /* The owner's list is shared with the thread's exit path and with
         * signallers acquiring on its behalf: link under the lock. */
        pthread_mutex_lock(&ntp__sync_lock);
        mutex_acquire(h, self);
        pthread_mutex_unlock(&ntp__sync_lock);
    }
    *out = h;
    return 0;
}

ntp_status
ntp_mutex_release(ntp_handle *h)
{
    struct ntp__thread *self = ntp__thread_self();
    pthread_mutex_lock(&ntp__sync_lock);
    ntp_status st = ntp__handle_check_locked(h, NTP_HANDLE_MUTEX);
    mutex *m = (mutex *)h;
    if (st == 0 && (m->state != MUTEX_OWNED || m->owner != self)) {
        st = NTP_EPERM; /* ERROR_NOT_OWNER */
    }
    if (st == 0 && --m->recursion == 0) {
        m->state = MUTEX_UNOWNED;
        m->owner = NULL;
        ntp__list_remove(&m->owned_node);
        ntp__handle_wake_locked(h);
        ntp__handle_mirror_update_locked(h);
    }
    pthread_mutex_unlock(&ntp__sync_lock);
    return st;
}

void
ntp__sync_thread_exit(struct ntp__thread *t)
{
    pthread_mutex_lock(&ntp__sync_lock);
    ntp__list *n;
    while ((n = ntp__list_pop_front(&t->owned_mutexes)) != NULL) {
        mutex *m = ntp__container_of(n, mutex, owned_node);
        /* OWNED(t, n) -> ABANDONED: the next waiter inherits it with
         * WAIT_ABANDONED_0, and may be waiting already. */
        m->state = MUTEX_ABANDONED;
        m->owner = NULL;
        m->recursion = 0;
        ntp__handle_wake_locked(&m->base);
        ntp__handle_mirror_update_locked(&m->base);
    }
    pthread_mutex_unlock(&ntp__sync_lock);
}

/* ------------------------------------------------------------------------ */
/* Wait blocks                                                               */
/* ------------------------------------------------------------------------ */

void
ntp__wait_block_init(struct ntp__wait_block *b, struct ntp__wait_node *nodes,
                     ntp_handle *const *handles, uint32_t count,
                     bool wait_all, struct ntp__thread *thread)
{
    b->nodes = nodes;
    b->count = count;
    b->wait_all = wait_all;
    b->armed = false;
    b->thread = thread;
    b->result = NTP__WAIT_PENDING;
    b->on_satisfied = NULL;
    b->arg = NULL;
    for (uint32_t i = 0; i < count; i++) {
        nodes[i].block = b;
        nodes[i].handle = handles[i];
        nodes[i].index = i;
        ntp__list_init(&nodes[i].link);
    }
}

/*
 * Validate the handles of a block (SPEC 13.2: 1..64 distinct valid
 * handles; the caller has checked the count). Duplicates are refused
 * because a block holds one node per handle: a handle listed twice would
 * need two acquisitions of one object, which Windows refuses too. A block
 * without a thread cannot own a mutex. Sync lock held.
 */
static ntp_status
check_block_locked(const struct ntp__wait_block *b)
{
    for (uint32_t i = 0; i < b->count; i++) {
        ntp_handle *h = b->nodes[i].handle;
        ntp_status st = ntp__handle_check_locked(h, 0);
        if (st < 0) {
            return st;
        }
        if (b->thread == NULL && h->ops->kind == NTP_HANDLE_MUTEX) {
            return NTP_EINVAL;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (b->nodes[j].handle == h) {
                return NTP_EINVAL;
            }
        }
    }
    return 0;
}

/*
 * If `b` can be satisfied now, take its handles for it, set b->result
 * and return true; otherwise change nothing. Wait-any takes only the
 * lowest signalled index (SPEC 13.2); wait-all takes all of them or
 * none, which the sync lock makes atomic. Sync lock held; the caller
 * updates the fd mirrors.
 */
static bool
try_satisfy(struct ntp__wait_block *b)
{
    if (!b->wait_all) {
        for (uint32_t i = 0; i < b->count; i++) {
            ntp_handle *h = b->nodes[i].handle;
            if (h->ops->signalled(h, b->thread)) {
                b->result = h->ops->acquire(h, b->thread) + (int)i;
                return true;
            }
        }
        return false;
    }
    for (uint32_t i = 0; i < b->count; i++) {
        ntp_handle *h = b->nodes[i].handle;
        if (!h->ops->signalled(h, b->thread)) {
            return false;
        }
    }
    bool abandoned = false;
    for (uint32_t i = 0; i < b->count; i++) {
        ntp_handle *h = b->nodes[i].handle;
        if (h->ops->acquire(h, b->thread) == NTP_WAIT_ABANDONED_0) {
            abandoned = true;
        }
    }
    b->result = abandoned ? NTP_WAIT_ABANDONED_0 : NTP_WAIT_OBJECT_0;
    return true;
}

static void
link_block(struct ntp__wait_block *b)
{
    for (uint32_t i = 0; i < b->count; i++) {
        ntp__list_push_back(&b->nodes[i].handle->waiters, &b->nodes[i].link);
    }
    b->armed = true;
}

static void
unlink_block(struct ntp__wait_block *b)
{
    for (uint32_t i = 0; i < b->count; i++) {
        ntp__list_remove(&b->nodes[i].link);
    }
    b->armed = false;
}

static void
update_mirrors(struct ntp__wait_block *b, ntp_handle *except)
{
    for (uint32_t i = 0; i < b->count; i++) {
        if (b->nodes[i].handle != except) {
            ntp__handle_mirror_update_locked(b->nodes[i].handle);
        }
    }
}

void
ntp__handle_wake_locked(ntp_handle *h)
{
    ntp__list *it = h->waiters.next;
    /* Once h is not signalled for anybody, no block left on it can be
     * satisfied (the invariant in sync.h), so the walk stops there: an
     * auto-reset event or a semaphore at 0 ends it after one taker. */
    while (it != &h->waiters && h->ops->signalled(h, NULL)) {
        /* Completing a block removes only its own node from this list (a
         * block has one node per handle), so `next` stays valid. */
        ntp__list *next = it->next;
        struct ntp__wait_block *b =
            ntp__container_of(it, struct ntp__wait_node, link)->block;
        if (try_satisfy(b)) {
            unlink_block(b);
            update_mirrors(b, h);
            /* Signal via the block: result is set and armed is false, so
             * its owner sees the wait is over. b may belong to a thread
             * that returns as soon as we drop the lock, or to an object
             * on_satisfied hands over: b is not touched after this. */
            if (b->on_satisfied != NULL) {
                b->on_satisfied(b, b->arg);
            } else {
                pthread_cond_signal(&b->cond);
            }
        }
        it = next;
    }
}

int
ntp__wait_block_arm(struct ntp__wait_block *b)
{
    if (b == NULL || b->on_satisfied == NULL || b->count == 0
        || b->count > NTP_MAXIMUM_WAIT_OBJECTS) {
        return NTP_EINVAL;
    }
    pthread_mutex_lock(&ntp__sync_lock);
    int r = b->armed ? NTP_EBUSY : check_block_locked(b);
    if (r == 0) {
        b->result = NTP__WAIT_PENDING;
        if (try_satisfy(b)) {
            r = b->result;
            update_mirrors(b, NULL);
        } else {
            link_block(b);
            r = NTP__WAIT_PENDING;
        }
    }
    pthread_mutex_unlock(&ntp__sync_lock);
    return r;
}

bool
ntp__wait_block_disarm(struct ntp__wait_block *b)
{
    pthread_mutex_lock(&ntp__sync_lock);
    bool was_armed = b->armed;
    if (was_armed) {
        unlink_block(b);
    }
    pthread_mutex_unlock(&ntp__sync_lock);
    return was_armed;
}

/* ------------------------------------------------------------------------ */
/* Waiting                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * The body of both wait functions. `nodes` is the caller's stack array of
 * `count` nodes. Returns a wait result or a negative status.
 *
 * The fast path (everything under one lock hold) takes signalled handles
 * and never sleeps or counts as blocking; a zero timeout ends there. The
 * slow path arms the block, holding a reference on every handle so that
 * closing one meanwhile cannot free it under us, and drops the lock to
 * tell the pool this thread is about to block (ntp__blocking_enter takes
 * the pool lock and must be called with no ntpool lock held, internal.h).
 * Then it retakes the lock and sleeps until a signaller satisfies the
 * block or the deadline passes. A satisfaction that happens while the lock
 * is dropped is not lost: it is recorded in the block, which is checked
 * before every sleep.
 */
static int
wait_common(struct ntp__wait_node *nodes, ntp_handle *const *handles,
            uint32_t count, bool wait_all, uint32_t timeout_ms,
            bool alertable)
{
    /* The deadline is fixed at entry so that spurious wakeups, which loop,
     * do not stretch the wait. */
    uint64_t deadline = ntp__deadline_after_ms(timeout_ms);
    struct ntp__thread *self = ntp__thread_self();
    struct ntp__wait_block b;
    ntp__wait_block_init(&b, nodes, handles, count, wait_all, self);

    pthread_mutex_lock(&ntp__sync_lock);
    ntp_status st = check_block_locked(&b);
    if (st < 0) {
        pthread_mutex_unlock(&ntp__sync_lock);
        return st;
    }
    /* Objects are checked before APCs when both are ready (SPEC 12). */
    if (try_satisfy(&b)) {
        update_mirrors(&b, NULL);
        pthread_mutex_unlock(&ntp__sync_lock);
        return b.result;
    }
    if (alertable && ntp__thread_apc_pending_locked(self)) {
        pthread_mutex_unlock(&ntp__sync_lock);
        ntp__thread_run_apcs(self);
        return NTP_WAIT_IO_COMPLETION;
    }
    if (timeout_ms == 0) {
        pthread_mutex_unlock(&ntp__sync_lock);
        return NTP_WAIT_TIMEOUT;
    }
    for (uint32_t i = 0; i < count; i++) {
        ntp__handle_ref_locked(handles[i]);
    }
    /* The condvar must be ready before the block is visible: a signaller
     * may satisfy it as soon as the lock is dropped. */
    ntp__cond_init(&b.cond);
    link_block(&b);
    pthread_mutex_unlock(&ntp__sync_lock);

    ntp__blocking_enter();

    pthread_mutex_lock(&ntp__sync_lock);
    if (alertable) {
        self->alertable_block = &b;
    }
    while (b.result == NTP__WAIT_PENDING) {
        /* ntp_queue_apc queues onto self->apc_queue and signals b.cond
         * (apc.c); the wait then ends without its objects. */
        if (alertable && ntp__thread_apc_pending_locked(self)) {
            unlink_block(&b);
            b.result = NTP_WAIT_IO_COMPLETION;
            break;
        }
        if (deadline == UINT64_MAX) {
            pthread_cond_wait(&b.cond, &ntp__sync_lock);
            continue;
        }
        struct timespec ts;
        ntp__ns_to_timespec(deadline, &ts);
        int rc = pthread_cond_timedwait(&b.cond, &ntp__sync_lock, &ts);
        /* Satisfied at the last moment counts as satisfied: the result is
         * read under the lock that the signaller held when it set it. */
        if (b.result == NTP__WAIT_PENDING
            && (rc == ETIMEDOUT || ntp__now_ns() >= deadline)) {
            unlink_block(&b);
            b.result = NTP_WAIT_TIMEOUT;
        }
    }
    self->alertable_block = NULL;
    /* The block is unlinked now (by its signaller or above), so these
     * references are the last thing tying this wait to the handles. */
    ntp_handle *dead[NTP_MAXIMUM_WAIT_OBJECTS];
    uint32_t ndead = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (ntp__handle_unref_locked(handles[i])) {
            dead[ndead++] = handles[i];
        }
    }
    pthread_mutex_unlock(&ntp__sync_lock);

    /* Safe: every signaller signals b.cond under the lock we just held
     * after it, so none is still inside pthread_cond_signal. */
    pthread_cond_destroy(&b.cond);
    ntp__blocking_leave();
    for (uint32_t i = 0; i < ndead; i++) {
        ntp__handle_destroy(dead[i]);
    }
    if (b.result == NTP_WAIT_IO_COMPLETION) {
        ntp__thread_run_apcs(self);
    }
    return b.result;
}

int
ntp_wait_for_single(ntp_handle *h, uint32_t timeout_ms, bool alertable)
{
    struct ntp__wait_node node;
    return wait_common(&node, &h, 1, false, timeout_ms, alertable);
}

int
ntp_wait_for_multiple(uint32_t count, ntp_handle *const *handles,
                      bool wait_all, uint32_t timeout_ms, bool alertable)
{
    if (count == 0 || count > NTP_MAXIMUM_WAIT_OBJECTS || handles == NULL) {
        return NTP_EINVAL;
    }
    struct ntp__wait_node nodes[NTP_MAXIMUM_WAIT_OBJECTS];
    return wait_common(nodes, handles, count, wait_all, timeout_ms,
                       alertable);
}
