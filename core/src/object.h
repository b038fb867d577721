/*
 * object.h -- the base every callback object shares (work, simple callback;
 * timers, waits and I/O objects reuse it), and the pool that runs them.
 *
 * LIFETIME OF A CALLBACK OBJECT (decided here, enforced in object.c):
 *   An object is alive while any of these hold:
 *     - the application has not released it (closed == false). It is
 *       released exactly once: by ntp_*_close, by its cleanup group's
 *       close_members, or (one-shot simple callbacks) by itself after its
 *       callback. Whoever flips `closed` with an atomic exchange owns the
 *       release; a second close is diagnosed.
 *     - it has posts queued (pending > 0) or callbacks running (running >
 *       0): queued posts of a closed object still run (SPEC 2, Closing).
 *     - someone holds a temporary pin on it (pins > 0): a cleanup group
 *       releasing it, a thread inside ntp_*_wait on it.
 *   When the last of these ends (checked under the pool lock in
 *   object_unpin_locked/ntp__object_settle), `freeing` is set once and the
 *   thread that set it destroys the object after dropping the lock: the
 *   release hook runs, the library reference is dropped, the object leaves
 *   its pool, and its memory is freed. Callbacks never see a freed object
 *   because a running callback counts in `running`.
 */
#ifndef NTP_OBJECT_H
#define NTP_OBJECT_H

#include "internal.h"

typedef struct ntp__object ntp__object;

typedef enum ntp__object_kind {
    NTP__KIND_WORK = 1,
    NTP__KIND_SIMPLE,
    NTP__KIND_TIMER,
    NTP__KIND_WAIT,
    NTP__KIND_IO
} ntp__object_kind;

/* What differs between kinds of callback object. */
typedef struct ntp__object_ops {
    ntp__object_kind kind;
    const char *name; /* "work", "simple", ... for messages and dumps */
    /* Run one callback. No lock held. */
    void (*invoke)(ntp__object *obj, ntp_instance *inst);
    /* Stop producing new posts (timers, waits; NULL for work). Called with
     * no lock held when the object is released. */
    void (*disarm)(ntp__object *obj);
    /* Free what the kind owns besides the base. No lock held. May be NULL. */
    void (*finalize)(ntp__object *obj);
    /* For ntp_pool_dump: append the kind's state (", due in 5.000 ms") to
     * the object's line. Pool lock held; reads only what that lock (or an
     * atomic) guards. May be NULL. */
    void (*describe)(ntp__object *obj, FILE *f);
} ntp__object_ops;

struct ntp__object {
    uint32_t tag; /* NTP__TAG_OBJECT while alive */
    const ntp__object_ops *ops;
    ntp_pool *pool;

    /* Copied from the environment at creation (SPEC 2: later edits of the
     * environment do not affect the object). */
    void *ctx;
    ntp_release_cb release;
    ntp_cleanup_cancel_cb cancel_cb;
    ntp_simple_cb finalization_cb;
    void *library;        /* our own dlopen reference, dropped at destroy */
    uint8_t priority;     /* ntp_priority */
    bool runs_long;
    bool persistent;

    /* Cleanup group membership, guarded by group->lock. */
    ntp_cleanup_group *group;
    ntp__list group_node;
    bool in_group;

    atomic_bool closed; /* released by the application (see above) */
    /* A one-shot object created released (ntp__object_prepare_oneshot):
     * nobody else holds it, and the worker destroys it under the pool
     * lock right after its run. Set at creation, then read-only. */
    bool self_released;

    /* Guarded by pool->lock, except `pending` (see below). */
    ntp__list pool_node;  /* in pool->objects */
    ntp__list queue_node; /* in a ready queue list while queued */
    /* In a ready queue list. Written under the pool lock; read without it
     * by ntp__runq_take_again. */
    atomic_bool queued;
    bool freeing;
    /* Posts queued, not started, except those a worker holds in its batch
     * (ntp__worker.batch). Posts may add to it without the lock
     * (ntp__object_submit's fast path): a post that finds it at 0 then
     * takes the lock and puts the object in the ready queue; under the lock
     * the object is in the queue whenever pending > 0, except while such a
     * poster waits for the lock. It goes down only under the lock.
     * On a cache line of its own, wherever the allocator puts the object
     * (64 bytes of padding each side): posting threads write it on every
     * post, while workers read the fields around it on every run. */
    char before_pending_[64];
    _Atomic uint32_t pending;
    char after_pending_[64];
    uint32_t running;     /* callbacks started, not finished */
    uint32_t associated;  /* running and not disassociated */
    uint32_t pins;        /* temporary holds (see above) */
    uint32_t waiters;     /* threads sleeping on `settled` */
    pthread_cond_t settled; /* broadcast when counts drop and waiters > 0 */
    uint64_t runs_total;  /* callbacks run, for dumps */
};

/*
 * A ready queue: one FIFO of objects per priority. An object sits in it at
 * most once, with its pending count; the worker that takes a post puts the
 * object back at the tail if more remain, so objects take turns (CONFORMANCE
 * B23). The lists and `objects` (how many objects each list holds) change
 * only under the pool lock; `objects` is also read without it, by a worker
 * that wants to know whether the object it runs is alone (queue.c). There
 * is no count of posts to keep up to date on every post: the posts queued
 * are the sum of the pending counts of the objects in the lists
 * (ntp__runq_posts), which only statistics, dumps and tracing ask for.
 */
typedef struct ntp__runq {
    ntp__list fifo[NTP_PRIORITY_COUNT];
    _Atomic uint32_t objects[NTP_PRIORITY_COUNT];
} ntp__runq;

void ntp__runq_init(ntp__runq *q);
bool ntp__runq_empty(const ntp__runq *q);
/* Add one post of obj. */
void ntp__runq_post(ntp__runq *q, ntp__object *obj);
/* Take one post from the highest non-empty priority; NULL if none. */
ntp__object *ntp__runq_take(ntp__runq *q);
/* Without the lock: add one post to obj. False if obj had none: then the
 * caller must take the lock and call ntp__runq_link. */
bool ntp__runq_post_fast(ntp__object *obj);
/* Put obj in the queue if it has posts and is not there. True if it was
 * put there. */
bool ntp__runq_link(ntp__runq *q, ntp__object *obj);
/* Is obj the only object with posts at its priority, with nothing queued
 * above it? Then running more posts of obj before the queue's next one
 * cannot change the order of callbacks. Exact under the pool lock; without
 * it, a hint that a worker running a batch reads between two runs. */
bool ntp__runq_alone(const ntp__runq *q, const ntp__object *obj);
/* Drop every queued post of obj; returns how many were dropped. */
uint32_t ntp__runq_cancel(ntp__runq *q, ntp__object *obj);
/* The posts queued at one priority: the pending counts of the objects in
 * its list, the first `max_objects` of them counted exactly and each other
 * one as a single post (tracing, which asks on every post, bounds its cost
 * that way); UINT32_MAX for all exactly. */
uint64_t ntp__runq_posts(const ntp__runq *q, int prio, uint32_t max_objects);

/* A worker thread's record lives on its own stack (a worker costs no
 * allocation), linked into pool->workers while the thread runs. */
typedef struct ntp__worker {
    ntp__list node;
    unsigned long tid;
    bool persistent;
    ntp__object *current; /* callback running now, NULL when idle */
    _Atomic uint64_t current_since_ns; /* for dumps: relaxed */
    /* Posts of `current` this worker took out of its pending count under
     * the lock, to run one after the other without the lock (worker.c,
     * batches). Not started yet: the worker takes one at a time with a
     * compare-and-swap; a cancelling wait, the starvation monitor and the
     * worker's own blocking take them all back (exchange to 0) under the
     * lock. */
    _Atomic uint32_t batch;
    /* Posts this worker ran from its batch: written by the worker only,
     * read by the starvation monitor, which adds them to pool->dequeues to
     * see progress (ntp__pool_progress_locked). */
    _Atomic uint64_t taken_again;
    /* An object this worker destroyed under the pool lock
     * (ntp__object_retire_locked), whose memory it frees as soon as it
     * drops the lock: no allocator call runs under an ntpool lock. */
    ntp__object *retired;
} ntp__worker;

/* NTP__EACH_WORKER(w, p) { ... }: for each worker w of pool p. Pool lock
 * held. */
#define NTP__EACH_WORKER(w, p)                                               \
    ntp__list_foreach(w##_node, &(p)->workers) for (                         \
        ntp__worker *w = ntp__container_of(w##_node, ntp__worker, node); w;  \
        w = NULL)

struct ntp_pool {
    uint32_t tag; /* NTP__TAG_POOL while alive */
    pthread_mutex_t lock;
    bool is_default;
    bool closed;       /* ntp_pool_close was called */
    unsigned refs;     /* creator + objects + threads + monitor watch */

    unsigned min_threads, max_threads;
    unsigned idle_timeout_ms;
    size_t stack_reserve, stack_commit;

    ntp__runq runq;            /* served by the workers */
    ntp__runq persistent_runq; /* served by the persistent thread */

    /* Workers (the persistent thread is not counted here). */
    unsigned threads;      /* alive or being started */
    unsigned idle;         /* waiting on work_cond */
    unsigned wakes_pending; /* signals sent to idle workers, not yet taken */
    unsigned running;      /* callbacks running (persistent thread too) */
    unsigned long_running; /* of those, marked may-run-long */
    unsigned blocked;      /* workers blocked in ntpool calls */
    /* Bumped (under the lock) by every post to runq that takes the lock;
     * read without the lock by a worker spinning before it parks
     * (worker.c). Posts without the lock go only to objects already
     * queued, which no spinning worker waits for. */
    atomic_uint post_seq;
    /* True when a post to an already-queued object would leave the
     * workers as they are (ntp__pool_decide_locked found nothing to do and
     * said so): then such a post needs no lock (ntp__object_submit).
     * Written under the lock, cleared whenever that may stop being true. */
    atomic_bool posts_quiet;
    pthread_cond_t work_cond;
    ntp__list workers;

    bool persistent_started;
    bool persistent_idle;
    pthread_cond_t persistent_cond;

    ntp__list objects; /* bound callback objects */
    unsigned object_count;

    /* Starvation monitor (monitor.c). */
    bool watched;
    uint64_t dequeues;       /* posts taken under the lock, ever */
    uint64_t dequeues_seen;  /* ntp__pool_progress at the monitor's look */
    ntp__list monitor_node;  /* in the monitor's list while watched */

    /* Statistics. */
    uint64_t callbacks_run, threads_created, threads_retired;
    uint64_t starvation_adds;
    uint64_t spawn_failures; /* worker threads that could not start */
};

/*
 * The callback instance: one per callback run, on the running worker's
 * stack. Fields other than `tag` are touched only by the thread running the
 * callback (instance functions refuse other threads before reading them).
 */
enum {
    NTP__ACTION_EVENT = 1u << 0,
    NTP__ACTION_SEMAPHORE = 1u << 1,
    NTP__ACTION_MUTEX = 1u << 2,
    NTP__ACTION_CS = 1u << 3,
    NTP__ACTION_LIBRARY = 1u << 4
};

struct ntp_instance {
    ntp__object *obj;
    ntp_pool *pool;
    bool associated;    /* counts in obj->associated */
    bool marked_long;   /* may_run_long was called (or runs-long object) */
    bool counted_long;  /* counted in pool->long_running */
    bool on_persistent; /* running on the persistent thread */
    unsigned actions;   /* NTP__ACTION_* requested */
    ntp_handle *event;
    ntp_handle *semaphore;
    uint32_t semaphore_count;
    ntp_handle *mutex;
    ntp_cs *cs;
    void *library;
};

/* ---- what a post needs done once the pool lock is dropped ---- */
typedef struct ntp__kick {
    bool signal;            /* wake one idle worker */
    bool signal_persistent; /* wake the persistent thread */
    bool watch;             /* hand the pool to the starvation monitor */
    unsigned spawn;         /* start this many workers */
} ntp__kick;

/* ---- pool.c ---- */
/* The pool for an environment's pool field (NULL: the default pool). */
ntp_status ntp__pool_resolve(ntp_pool *pool, ntp_pool **out);
/* Drop one reference, pool lock held. True if it was the last: the caller
 * must call ntp__pool_free after unlocking. */
bool ntp__pool_unref_locked(ntp_pool *p);
void ntp__pool_free(ntp_pool *p);
bool ntp__pool_check(const ntp_pool *p);

/* ---- worker.c ---- */
unsigned ntp__ncpu(void);
/* Queue one post of obj and decide who runs it. Pool lock held. */
void ntp__pool_post_locked(ntp_pool *p, ntp__object *obj, ntp__kick *k);
/* Decide whether queued work needs a woken or a new worker. Lock held. */
void ntp__pool_decide_locked(ntp_pool *p, ntp__kick *k);
/* Something changed that a post's decision depends on (a worker left or
 * went idle, the limits changed, the monitor stopped watching): the next
 * post takes the lock and decides again. Pool lock held. */
void ntp__pool_unquiet_locked(ntp_pool *p);
/* What follows a post to the pool's queue: spinning workers see it, the
 * timeline records it, the workers are decided on. Pool lock held. */
void ntp__pool_posted_locked(ntp_pool *p, ntp__kick *k);
/* Posts taken from the pool's queue, ever, with or without the lock: what
 * the starvation monitor watches. Pool lock held. */
uint64_t ntp__pool_progress_locked(ntp_pool *p);
/* Posts queued at one priority, both queues. Pool lock held. */
uint64_t ntp__pool_queued_locked(ntp_pool *p, int prio);
/* The posts of obj that workers hold in their batches. Pool lock held. */
uint32_t ntp__pool_batched_locked(ntp_pool *p, const ntp__object *obj);
/* Give every post in the batches of the workers running obj (every
 * worker's, for NULL) back to the pending counts they came from. Pool lock
 * held. */
void ntp__pool_unbatch_locked(ntp_pool *p, const ntp__object *obj);
/* Does any worker hold posts in a batch? Pool lock held. */
bool ntp__pool_any_batch_locked(ntp_pool *p);
/* Empty the batches of the workers running obj; returns how many posts
 * they held (a cancelling wait drops them). Pool lock held. */
uint32_t ntp__pool_drop_batches_locked(ntp_pool *p, const ntp__object *obj);
/* Carry out a kick. No lock held; the caller holds a pool reference. */
void ntp__pool_kick(ntp_pool *p, const ntp__kick *k);
/* Start the pool's persistent thread if it is not running. */
ntp_status ntp__persistent_start(ntp_pool *p);
/* Start one worker (threads and refs already counted by the caller). */
ntp_status ntp__worker_spawn(ntp_pool *p);

/* ---- monitor.c ---- */
/* Watch a pool for starvation. The caller set p->watched and took a pool
 * reference for the monitor under the pool lock, and has dropped it. */
void ntp__monitor_watch(ntp_pool *p);

/* ---- object.c ---- */
ntp_status ntp__object_init(ntp__object *obj, const ntp__object_ops *ops,
                            void *ctx, const ntp_env *env);
/*
 * The fast life of a one-shot object that nobody but the pool ever holds
 * (a simple callback with no cleanup group, no library and no persistent
 * flag; the caller checks that). It starts released, with no pin, and is
 * counted in its pool but not linked into p->objects:
 *   prepare (no lock): what ntp__object_init does for it, for pool p;
 *   attach (pool lock held, the caller posts it in the same critical
 *     section): NTP_EINVAL if the pool is closed (SPEC 3), then the caller
 *     undoes the prepare with ntp__object_free_oneshot;
 *   retire (pool lock held, by the worker that ran it, in the critical
 *     section that ends the run, once ntp__object_settle_locked said it
 *     must be destroyed): false, doing nothing, if it has a release hook,
 *     a finalizer or a library reference, which need the common
 *     ntp__object_destroy; the caller holds another pool reference, so
 *     the object's cannot be the last;
 *   free (no lock): after a retire, or a refused attach.
 * So a TrySubmit takes the pool lock twice (post, end of run) instead of
 * eight times.
 */
void ntp__object_prepare_oneshot(ntp__object *obj, const ntp__object_ops *ops,
                                 void *ctx, const ntp_env *env, ntp_pool *p);
ntp_status ntp__object_attach_oneshot_locked(ntp__object *obj);
bool ntp__object_retire_locked(ntp__object *obj);
void ntp__object_free_oneshot(ntp__object *obj);
/* True if p is a live object of this kind (NULL and other tags: false). */
bool ntp__object_check(const void *p, ntp__object_kind kind);
void ntp__object_submit(ntp__object *obj);
void ntp__object_wait(ntp__object *obj, bool cancel_pending);
/* The application's release (ntp_*_close, or a group releasing it). */
void ntp__object_close(ntp__object *obj);
/* Called after a count dropped, pool lock held: true if the object must be
 * destroyed now (by the caller, after unlocking). */
bool ntp__object_settle_locked(ntp__object *obj);
void ntp__object_destroy(ntp__object *obj);
void ntp__object_pin_locked(ntp__object *obj);
/* Unpin; destroys the object if that was the last hold. No lock held. */
void ntp__object_unpin(ntp__object *obj);
/* Remove from the cleanup group, if still a member. No lock held. */
void ntp__object_leave_group(ntp__object *obj);
/* The ready queue the object's posts go to. */
ntp__runq *ntp__object_runq(ntp__object *obj);
/* Drop every queued post of obj (cancel_pending); returns how many, and
 * counts them for ntp_debug_cancelled_posts. Pool lock held. */
uint32_t ntp__object_cancel_posts_locked(ntp__object *obj);
/* Sleep on obj->settled until done(obj, arg); pool lock held, object
 * pinned. Sets *entered once blocking accounting was entered (the caller
 * leaves it after unlocking). */
void ntp__object_wait_until_locked(ntp__object *obj,
                                   bool (*done)(const ntp__object *,
                                                uint32_t),
                                   uint32_t arg, bool *entered);

/* ---- instance.c ---- */
extern _Thread_local ntp_instance *ntp__current_instance;
/* `again`: the worker ran a callback of the same object just before, so
 * the before_callback hook already heard of it (and would decide the same). */
void ntp__instance_begin(ntp_instance *inst, ntp__object *obj,
                         ntp_pool *p, bool on_persistent, bool counted_long,
                         bool again);
/* Run the finalization callback and the completion actions. */
void ntp__instance_end(ntp_instance *inst);

/* ---- env.c ---- */
ntp_status ntp__env_validate(const ntp_env *env);

/* ---- cleanup.c ---- */
bool ntp__group_check(const ntp_cleanup_group *g);
/* Add obj to g (creation) / remove it if still a member (its release). */
void ntp__group_join(ntp_cleanup_group *g, ntp__object *obj);
void ntp__group_leave(ntp_cleanup_group *g, ntp__object *obj);

#endif /* NTP_OBJECT_H */
