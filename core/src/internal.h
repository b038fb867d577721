/*
 * internal.h -- what the core's files share and nobody else sees.
 *
 * LOCK ORDER (a thread holding a lock may only take locks further down):
 *   0. the original API's locks (legacy.c: a registration's or a timer-
 *      queue timer's lock, then its queue's), taken with no core lock held.
 *   1. cleanup group lock (ntp_cleanup_group.lock)
 *   2. a wait object's set_lock (wait.c): serializes arming and disarming
 *      of one wait; never held while waiting for the reactor thread; an
 *      I/O object's op_lock (io.c) sits at the same level.
 *   3. the sync lock (ntp__sync_lock): the state of every waitable handle
 *      and every wait block. A wait satisfied by a signalling call may post
 *      a callback to a pool while this lock is held, hence it comes before
 *      the pool lock.
 *   4. pool lock (ntp_pool.lock): the ready queue, worker bookkeeping and
 *      the counters of every callback object bound to the pool. Only one
 *      pool lock at a time.
 *   5. leaf locks: the reactor lock (timer heap, fd watches; the reactor
 *      posts expiries after dropping it; ntp__rfd_rearm may be called with
 *      the sync lock held), the starvation monitor, allocator/diagnostic
 *      state, critical-section internals, the trace locks (trace.c).
 * Blocking accounting (ntp__blocking_enter/leave) takes the pool lock of
 * the calling worker: call it with no ntpool lock held.
 * No ntpool lock is ever held while a user callback runs (callbacks, cancel
 * callbacks, release hooks, the diagnostic handler all run lock-free).
 */
#ifndef NTP_INTERNAL_H
#define NTP_INTERNAL_H

#include "ntpool.h"
#include "list.h"

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

/* ---- allocation (alloc.c): every allocation goes through the hook. ---- */
void *ntp__malloc(size_t size);
void *ntp__calloc(size_t n, size_t size);
void ntp__free(void *p);

/* ---- internal threads (spawn.c) ---- */
/* Start a detached thread with asynchronous signals blocked and, if `stack`
 * is nonzero, that stack size; `name` (may be NULL) names it for debuggers.
 * Returns 0 or the pthread_create error number. */
int ntp__spawn_detached(void *(*fn)(void *), void *arg, size_t stack,
                        const char *name);
/* Tests set this to make the next N spawns fail with EAGAIN. */
extern atomic_int ntp__spawn_failures_to_inject;

/* ---- pool thread hooks (hooks.c); call with no lock held ---- */
bool ntp__thread_hooks_any(void);
void ntp__thread_hooks_idle(void);
void ntp__thread_hooks_exit(void);
void ntp__thread_hooks_before_callback(ntp_release_cb release);

/* ---- tracing (trace.c) ---- */
typedef enum ntp__trace_type {
    NTP__TRACE_CALLBACK_BEGIN = 1, /* value: unused */
    NTP__TRACE_CALLBACK_END,
    NTP__TRACE_ACTION,       /* value: NTP__TRACE_ACTION_* */
    NTP__TRACE_TIMER_FIRED,  /* an expiry queued a callback */
    NTP__TRACE_WAIT_FIRED,   /* value: the wait result */
    NTP__TRACE_WORKER_START, /* value: the pool's threads afterwards */
    NTP__TRACE_WORKER_EXIT,
    NTP__TRACE_QUEUE_DEPTH   /* value: high | normal << 21 | low << 42 */
} ntp__trace_type;
enum {
    NTP__TRACE_ACTION_CS,
    NTP__TRACE_ACTION_MUTEX,
    NTP__TRACE_ACTION_SEMAPHORE,
    NTP__TRACE_ACTION_EVENT,
    NTP__TRACE_ACTION_LIBRARY
};
extern atomic_bool ntp__trace_on;
/* The whole cost of a trace point while tracing is off. Building with
 * -DNTP_TRACE_POINTS=0 compiles every trace point out (ntp_trace_start then
 * records nothing): only to measure what they cost when off, which the
 * README's benchmark section reports. */
#ifndef NTP_TRACE_POINTS
#define NTP_TRACE_POINTS 1
#endif
#if NTP_TRACE_POINTS
#define NTP__TRACING()                                                       \
    __builtin_expect(                                                        \
        atomic_load_explicit(&ntp__trace_on, memory_order_relaxed), 0)
#else
#define NTP__TRACING() 0
#endif
/* For the bodies of trace points: out of line, so that the hot path keeps
 * only the flag's load and branch. */
#define NTP__COLD __attribute__((noinline))
void ntp__trace_record(ntp__trace_type type, const void *obj,
                       const void *pool, unsigned kind, int64_t value);

/* ---- diagnostics (diag.c) ---- */
void ntp__diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- live-object accounting for ntp_debug_live_objects (diag.c) ---- */
void ntp__live_inc(void);
void ntp__live_dec(void);
/* Queued posts dropped by cancel_pending, for ntp_debug_cancelled_posts. */
void ntp__cancelled_add(uint32_t n);

/* ---- time (clock.c) ---- */
/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t ntp__now_ns(void);
/* CLOCK_MONOTONIC_COARSE (a few ms of resolution, a fraction of the cost):
 * for bookkeeping shown in dumps, read on hot paths. */
uint64_t ntp__coarse_now_ns(void);
/* An absolute CLOCK_MONOTONIC deadline `ms` from now, for timed waits;
 * NTP_INFINITE gives UINT64_MAX. */
uint64_t ntp__deadline_after_ms(uint32_t ms);
/* Fill a timespec for pthread_cond_timedwait on a condvar that was
 * initialised with CLOCK_MONOTONIC (see ntp__cond_init). */
void ntp__ns_to_timespec(uint64_t ns, struct timespec *ts);
/* Initialise a condition variable that measures timeouts on
 * CLOCK_MONOTONIC, so wall-clock changes do not stretch waits. */
void ntp__cond_init(pthread_cond_t *c);

/* ---- thread identity ---- */
/* The kernel thread id of the caller (cached per thread, never 0). */
unsigned long ntp__thread_id(void);

/*
 * ---- blocking accounting (worker.c) ----
 * A pool counts its workers blocked inside ntpool's own blocking calls
 * (waits, wait-for-callbacks, close_members) as not runnable, so it can
 * start another worker for queued callbacks while they block. Every blocking
 * call brackets the part where it actually sleeps with these two; on a
 * non-worker thread they cost one thread-local read.
 */
void ntp__blocking_enter(void);
void ntp__blocking_leave(void);

/* Type tags: the first field of every public object, checked on entry. */
enum {
    NTP__TAG_POOL = 0x504f4f4cu,   /* "POOL" */
    NTP__TAG_GROUP = 0x47525550u,  /* "GRUP" */
    NTP__TAG_OBJECT = 0x4f424a54u, /* "OBJT": work, simple, later timer... */
    NTP__TAG_HANDLE = 0x48444c45u, /* "HDLE" */
    NTP__TAG_DEAD = 0xdeadbeefu    /* written just before free */
};

#endif /* NTP_INTERNAL_H */
