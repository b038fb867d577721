/*
 * sync.h -- waitable handles, wait blocks and the per-thread record: the
 * internal interface of handle.c, sync.c and thread.c.
 *
 * THE SYNC LOCK. One process-wide mutex, ntp__sync_lock, guards the state
 * of every handle (event flag, semaphore count, mutex owner, reference
 * count, waiter list, fd mirror) and of every wait block. One lock makes a
 * wait-all atomic for free: under it, either every handle of the block is
 * signalled and all are taken, or none is touched. Its place in the lock
 * order (internal.h): after the cleanup group lock, before the pool lock.
 * So a thread holding a pool lock must not call anything here that takes
 * the sync lock, and nothing here may call ntp__blocking_enter/leave or
 * ntp__diag (the diagnostic handler is user code) with the sync lock held.
 *
 * LIFETIME OF A HANDLE (decided here, enforced in handle.c):
 *   A handle is freed when its reference count, guarded by the sync lock,
 *   drops to zero. The application owns one reference from creation until
 *   ntp_handle_close, which also marks the handle `closed` (every later
 *   call on it fails with NTP_EBADF, a second close included). A thread
 *   sleeping in a wait holds one more reference on each handle it waits
 *   on, so closing a handle that is being waited on (undefined on Windows)
 *   leaves the object alive until those waits end. The owner of an armed
 *   wait block (thread-pool waits) must hold its own reference for as long
 *   as the block can be linked: see ntp__wait_block_arm.
 *   Whoever drops the last reference gets `true` from
 *   ntp__handle_unref_locked; the handle's tag is then already
 *   NTP__TAG_DEAD and its kind has let go of its links (ops->retire), and
 *   that thread calls ntp__handle_destroy once it has dropped the lock
 *   (closing the fd mirror and freeing are not done under the lock).
 *
 * A WAIT BLOCK describes one wait: the handles, any-or-all, the thread the
 * wait acquires for, and the result. It has a node per handle, linked into
 * that handle's waiter list while the block is armed. A block is never
 * allocated: a thread in ntp_wait_for_* builds it on its own stack (musl's
 * pthread_cond_timedwait waiters), a thread-pool wait object embeds one.
 * Signalling functions change a handle's state under the sync lock, then
 * walk its waiter list and satisfy every block they can, acquiring on the
 * block's behalf so that the side effect of the wait (auto-reset, count
 * minus one, ownership) happens exactly once, for the satisfied block.
 *
 * Invariant: an armed block is never satisfiable. Blocks are satisfied
 * eagerly, at arming time and by every state change of one of their
 * handles, so a handle that is not signalled for anybody can stop a walk.
 */
#ifndef NTP_SYNC_H
#define NTP_SYNC_H

#include "internal.h"

#include <limits.h>

extern pthread_mutex_t ntp__sync_lock;

struct ntp__thread;
struct ntp__wait_block;

/* ------------------------------------------------------------------------ */
/* Handles (handle.c)                                                        */
/* ------------------------------------------------------------------------ */

/*
 * What differs between kinds of handle. Events, semaphores and mutexes
 * live in sync.c; waitable timers, thread handles and fd handles (later
 * issues) add their own ops and embed struct ntp_handle as their first
 * member. Every function is called with the sync lock held.
 */
struct ntp__handle_ops {
    ntp_handle_kind kind;
    const char *name; /* "event", ... for messages */
    /* Would a wait by thread `t` be satisfied now? `t` is NULL for the fd
     * mirror and for thread-pool waits, which own nothing: then a mutex
     * counts as signalled only while nobody owns it. */
    bool (*signalled)(ntp_handle *h, struct ntp__thread *t);
    /* The side effect of a satisfied wait, for thread `t` (SPEC 13.1).
     * Only called when signalled(h, t). Returns NTP_WAIT_OBJECT_0, or
     * NTP_WAIT_ABANDONED_0 for an abandoned mutex. Must not update the fd
     * mirror: the caller does, once its whole operation is done. */
    int (*acquire)(ntp_handle *h, struct ntp__thread *t);
    /* The last reference is gone: unlink the handle from anything else
     * that points at it (a mutex from its owner's list). May be NULL. */
    void (*retire)(ntp_handle *h);
    /* Called without the sync lock by ntp__handle_destroy, just before the
     * memory is freed: release what the kind owns (a file's descriptor).
     * May be NULL. */
    void (*destroy)(ntp_handle *h);
};

struct ntp_handle {
    uint32_t tag; /* NTP__TAG_HANDLE while alive, NTP__TAG_DEAD after */
    const struct ntp__handle_ops *ops;
    /* The rest is guarded by the sync lock. */
    long refs;
    bool closed;          /* the application's reference was dropped */
    bool mirror_set;      /* the eventfd currently holds a count */
    int mirror_fd;        /* -1 until ntp_handle_get_fd asks for it */
    ntp__list waiters;    /* struct ntp__wait_node.link of armed blocks */
};

/*
 * Allocate a handle of `size` bytes (>= sizeof(struct ntp_handle); the
 * kind's struct starts with one) with one reference, owned by the caller,
 * and count it as a live object. The kind fills in its own fields before
 * anyone else can see the handle.
 */
ntp_status ntp__handle_new(ntp_handle **out, size_t size,
                           const struct ntp__handle_ops *ops);

/*
 * Check that `h` is a live, open handle of kind `kind` (0: any kind).
 * NULL -> NTP_EINVAL; not a handle, freed, closed or of another kind ->
 * NTP_EBADF. Sync lock held. A handle whose memory was freed and reused
 * cannot be told apart from garbage: the check catches what it can.
 */
ntp_status ntp__handle_check_locked(ntp_handle *h, int kind);

/* Reference counting. ntp__handle_ref validates like the check above and
 * takes the sync lock; the _locked forms expect it held. */
ntp_status ntp__handle_ref(ntp_handle *h);
void ntp__handle_ref_locked(ntp_handle *h);
/* Returns true when this was the last reference: call ntp__handle_destroy
 * after dropping the sync lock. */
bool ntp__handle_unref_locked(ntp_handle *h);
/* Takes the sync lock; destroys the handle if that was the last
 * reference. */
void ntp__handle_unref(ntp_handle *h);
void ntp__handle_destroy(ntp_handle *h);

/* Make the fd mirror (if there is one) agree with signalled(h, NULL): a
 * count of 1 while signalled, drained while not. Every function that
 * changes a handle's state calls it before it drops the sync lock. */
void ntp__handle_mirror_update_locked(ntp_handle *h);

/*
 * Satisfy the blocks waiting on `h` that can be satisfied now, in list
 * order, after its state changed towards signalled (SetEvent, a release,
 * an abandonment, a timer expiry). Each satisfied block is acquired for,
 * unlinked from all its handles and completed (its thread woken or its
 * on_satisfied called). The fd mirrors of the block's other handles are
 * updated; h's own mirror is left to the caller (PulseEvent must not make
 * it flicker).
 */
void ntp__handle_wake_locked(ntp_handle *h);

/* How many blocks are armed on `h`, or a negative status. Takes the sync
 * lock. For white-box tests that must know a thread is asleep. */
int ntp__handle_waiter_count(ntp_handle *h);

/* ------------------------------------------------------------------------ */
/* Wait blocks (sync.c)                                                      */
/* ------------------------------------------------------------------------ */

/* A block's result while nobody has satisfied it (or timed it out). */
#define NTP__WAIT_PENDING INT_MIN

struct ntp__wait_node {
    ntp__list link; /* in handle->waiters while the block is armed */
    struct ntp__wait_block *block;
    ntp_handle *handle;
    uint32_t index;
};

typedef void (*ntp__wait_satisfied_fn)(struct ntp__wait_block *b,
                                       void *arg);

/*
 * The states of a block, guarded by the sync lock once it is armed:
 *
 *   IDLE     (armed false, result PENDING)  after ntp__wait_block_init
 *   IDLE     --arm, satisfiable-->   DONE    taken at once, never linked
 *   IDLE     --arm-->                ARMED   (armed true) linked
 *   ARMED    --a signaller-->        DONE    taken, unlinked, owner told
 *   ARMED    --timeout/disarm/APC--> DONE or IDLE, unlinked by the owner
 *   DONE     (armed false, result set); an owner may re-init or re-arm
 *
 * Only the thread that moves a block out of ARMED unlinks it, always under
 * the sync lock, so a block is never unlinked twice or left linked.
 */
struct ntp__wait_block {
    struct ntp__wait_node *nodes; /* count of them, the caller's storage */
    uint32_t count;
    bool wait_all;
    bool armed; /* the nodes are linked into their handles' lists */
    /* Whom acquisitions are for: the mutex owner. NULL for thread-pool
     * waits, which may therefore not wait on mutexes. */
    struct ntp__thread *thread;
    /* NTP__WAIT_PENDING until satisfied, then NTP_WAIT_OBJECT_0 + i or
     * NTP_WAIT_ABANDONED_0 + i (wait-any), NTP_WAIT_OBJECT_0 or
     * NTP_WAIT_ABANDONED_0 (wait-all). A sleeping wait writes
     * NTP_WAIT_TIMEOUT or NTP_WAIT_IO_COMPLETION itself. */
    int result;
    /* NULL: a thread sleeps on `cond` (with the sync lock as its mutex)
     * and is signalled. Otherwise this is called instead (see below). */
    ntp__wait_satisfied_fn on_satisfied;
    void *arg;
    pthread_cond_t cond; /* initialised only by sleeping waits */
};

/* Fill in a block over `count` handles, using the caller's `nodes` (count
 * of them). Does not validate and does not link. Leaves on_satisfied NULL
 * and does not touch `cond`. No lock needed: nobody else sees it yet. */
void ntp__wait_block_init(struct ntp__wait_block *b,
                          struct ntp__wait_node *nodes,
                          ntp_handle *const *handles, uint32_t count,
                          bool wait_all, struct ntp__thread *thread);

/*
 * THE THREAD-POOL WAIT SEAM (SetThreadpoolWait, RegisterWaitForSingleObject
 * build on this): a block satisfied without a sleeping thread.
 *
 * ntp__wait_block_arm(b): b->on_satisfied must be set (NTP_EINVAL if not);
 * b is typically a single-handle block with thread NULL. Takes the sync
 * lock (so the caller holds no pool lock). Validates the handles
 * (NTP_EINVAL/NTP_EBADF). If the block can be satisfied at once it is
 * acquired for, not linked, on_satisfied is NOT called, and the result is
 * returned (>= 0). Otherwise the block is linked and NTP__WAIT_PENDING is
 * returned. Arming a block that is still armed returns NTP_EBUSY.
 * A mutex in a block with thread NULL is refused with NTP_EINVAL; the
 * public check with its diagnostic belongs to SetThreadpoolWait (SPEC 8,
 * 13.5: ownership would go to a pool thread that never releases it).
 *
 * While armed, a signalling call on any thread may satisfy the block: it
 * acquires, sets b->result, unlinks the block (armed = false), then calls
 * b->on_satisfied(b, b->arg) WITH THE SYNC LOCK HELD and never touches b
 * afterwards. on_satisfied may take a pool lock (the pool lock comes after
 * the sync lock) to post a callback; it must not take the sync lock or a
 * cleanup group lock, call any public ntp_* function, arm or disarm any
 * block, call ntp__diag or run user code.
 *
 * ntp__wait_block_disarm(b): takes the sync lock; if b is still armed,
 * unlinks it and returns true (it will never be satisfied); otherwise
 * returns false, and then on_satisfied has already returned: the result
 * is in b->result. Either way b is the owner's again when it returns.
 *
 * References: the block takes none. The owner holds a reference on each
 * handle (ntp__handle_ref) from before arming until the block is
 * satisfied or disarmed, and drops it with ntp__handle_unref afterwards,
 * with no lock held (never from on_satisfied). The timeout of a
 * thread-pool wait is the owner's business (disarm, then report
 * NTP_WAIT_TIMEOUT if disarm returned true).
 */
int ntp__wait_block_arm(struct ntp__wait_block *b);
bool ntp__wait_block_disarm(struct ntp__wait_block *b);

/* Called by thread.c when a thread exits: every mutex it still owns
 * becomes abandoned and is handed to its next waiter. Takes the sync
 * lock. */
void ntp__sync_thread_exit(struct ntp__thread *t);

/* ------------------------------------------------------------------------ */
/* The per-thread record (thread.c)                                          */
/* ------------------------------------------------------------------------ */

/*
 * One per thread that touched a sync object, in static thread-local
 * storage, so getting it never allocates. Other threads reach it through
 * mutex owners, thread handles (apc.c) and waitable timers that queue
 * completion routines to it; those links are guarded by the sync lock and
 * are all cut by the thread's exit destructor, which runs before the
 * thread's TLS is freed. So the record never dangles.
 */
struct ntp__thread {
    unsigned long tid;  /* kernel thread id, for messages */
    bool initialised;   /* the lists below have been initialised */
    bool registered;    /* the exit destructor will run for this thread */
    /* Guarded by the sync lock: the mutexes this thread owns (their
     * owned_node), abandoned when it exits. */
    ntp__list owned_mutexes;
    /*
     * APCs (apc.c), all guarded by the sync lock:
     *   apc_queue: struct ntp__apc.link, FIFO; only this thread pops it,
     *       in an alertable wait; discarded, never run, at thread exit.
     *   handles: the thread handles that name this thread (their
     *       thread_node); at exit each is cut loose and becomes signalled.
     *   apc_timers: waitable timers set by this thread with a completion
     *       routine (their owner_node); cancelled at exit (SPEC 13.7).
     *   alertable_block: the block this thread sleeps on during an
     *       alertable wait or sleep (NULL otherwise): queuing an APC
     *       signals its cond.
     */
    ntp__list apc_queue;
    ntp__list handles;
    ntp__list apc_timers;
    struct ntp__wait_block *alertable_block;
    /* What the thread's handles report once it has exited
     * (GetExitCodeThread); set by the thread itself before it ends. */
    uint32_t exit_code;
};

/* The caller's record, initialised and registered for the exit destructor
 * on first use. Never NULL, never allocates. */
struct ntp__thread *ntp__thread_self(void);

/* ------------------------------------------------------------------------ */
/* APCs (apc.c)                                                              */
/* ------------------------------------------------------------------------ */

/*
 * One queued APC. A user APC (ntp_queue_apc) is allocated by the queuing
 * call and freed by whoever takes it off the queue (the target thread after
 * running it, or the thread's exit, which discards it). A waitable timer's
 * completion APC is embedded in the timer: it is queued at most once at a
 * time (an expiry while it is still queued changes nothing, as the kernel
 * APC object of a Windows timer), and while queued it holds a reference on
 * the timer's handle (`hold`), dropped after it ran or was discarded or
 * cancelled.
 */
struct ntp__apc {
    ntp__list link;   /* in the target's apc_queue while queued */
    bool queued;
    bool heap;        /* a user APC: free it once taken off the queue */
    ntp_apc_fn fn;                 /* user APC: fn(arg) */
    ntp_timer_apc_fn timer_fn;     /* timer APC: timer_fn(arg, lo, hi) */
    void *arg;
    uint32_t time_low, time_high;  /* timer APC: the expiry's FILETIME */
    ntp_handle *hold; /* timer APC: the reference held while queued */
};

/* Queue `a` at the tail of t's queue and wake t if it sleeps alertably.
 * a->hold, if any, must already carry its reference. Sync lock held. */
void ntp__apc_queue_locked(struct ntp__thread *t, struct ntp__apc *a);
/* Take a still-queued `a` off its queue (SetWaitableTimer and
 * CancelWaitableTimer remove the timer's pending APC). Returns true if it
 * was queued: the caller then drops a->hold's reference. Sync lock held. */
bool ntp__apc_cancel_locked(struct ntp__apc *a);
/* True when `t` has APCs queued. Sync lock held. */
bool ntp__thread_apc_pending_locked(struct ntp__thread *t);
/* Run the caller's queued APCs, FIFO, one at a time, until the queue is
 * empty (APCs queued meanwhile included), with no lock held. */
void ntp__thread_run_apcs(struct ntp__thread *t);
/* Run the caller's queued APCs, if any (the original API does so after
 * each callback, as Vista and later do: CONFORMANCE K123). Takes the sync
 * lock once when none are queued. */
void ntp__apc_run_pending(void);
/* 1 if the thread named by thread handle h sleeps in an alertable wait
 * now, 0 if not, or a negative status. Takes the sync lock. For white-box
 * tests that must know a thread is asleep. */
int ntp__thread_handle_in_alertable_wait(ntp_handle *h);
/* The thread is exiting (its pthread key destructor): discard its APCs,
 * cut its thread handles loose (they become signalled) and cancel the
 * waitable timers that would queue completion routines to it. Takes the
 * sync lock. */
void ntp__apc_thread_exit(struct ntp__thread *t);
/* The exit code the caller's thread handles will report (CreateThread
 * threads set their start routine's result before they end). */
void ntp__thread_set_exit_code(uint32_t code);
/* The exit code of the thread named by thread handle h: 0 and *code once it
 * has exited, NTP_EBUSY while it runs, or NTP_EINVAL/NTP_EBADF. Takes the
 * sync lock. */
ntp_status ntp__thread_handle_exit_code(ntp_handle *h, uint32_t *code);
/* waitable_timer.c: the thread that set the timer whose owner_node this is
 * is exiting: stop the timer (its signalled state is kept) and forget the
 * thread. Unlinks the node. Sync lock held. */
void ntp__wtimer_owner_exit_locked(ntp__list *owner_node);

#endif /* NTP_SYNC_H */
