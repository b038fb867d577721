/*
 * ntpool.h -- the Windows (Vista+) thread pool, on Linux.
 *
 * This is the native C API. Every Win32 thread-pool concept has an ntp_*
 * counterpart here; <ntpool/win32.h> maps the exact Windows names onto it.
 *
 * Conventions (see DESIGN.md and STYLE.md):
 *   - Functions that can fail return ntp_status: 0, or a negative errno
 *     (NTP_EINVAL, NTP_ENOMEM, ...). ntp_strerror() explains one.
 *   - Constructors hand the object back through an out-parameter.
 *   - Functions Windows documents as unable to fail (submit, the
 *     wait-for-callbacks calls, close) return void and never allocate.
 *   - Detectable misuse (NULL, a closed object, the wrong object type) never
 *     crashes: status-returning calls return NTP_EINVAL, void calls report
 *     through the diagnostic handler (ntp_set_diagnostic_handler) and do
 *     nothing.
 *   - Times carry their unit in the name (timeout_ms, due_ms).
 *
 * Each entry below carries tags in the manner of SQLite's header:
 *   WIN32:      the Windows function it mirrors.
 *   THREAD:     which threads may call it.
 *   MAY BLOCK:  it can block the caller.
 *   EXTENSION:  something the Windows API does not have.
 */
#ifndef NTPOOL_H
#define NTPOOL_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Only NTP_EXTERN symbols are exported; the library builds with
 * -fvisibility=hidden. */
#ifndef NTP_EXTERN /* SWIG defines it empty */
#define NTP_EXTERN __attribute__((visibility("default")))
#endif

#define NTP_VERSION_MAJOR 0
#define NTP_VERSION_MINOR 1
#define NTP_VERSION_PATCH 0

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/* 0 on success, a negative errno on failure. */
typedef int ntp_status;

/* One X-macro generates the constants, ntp_strerror and ntp_err_name. */
#define NTP_ERRNO_MAP(XX)                                                    \
    XX(EINVAL, "invalid argument")                                           \
    XX(ENOMEM, "not enough memory")                                          \
    XX(EAGAIN, "resource temporarily unavailable")                           \
    XX(ETIMEDOUT, "timed out")                                               \
    XX(EBADF, "bad handle")                                                  \
    XX(EDEADLK, "operation would deadlock")                                  \
    XX(EBUSY, "object is busy")                                              \
    XX(EPERM, "operation not permitted (not the owner)")                     \
    XX(EOVERFLOW, "count would exceed its maximum")                          \
    XX(ECANCELED, "operation cancelled")                                     \
    XX(EEXIST, "already exists")                                             \
    XX(ENOENT, "no such object")                                             \
    XX(ENOTSUP, "operation not supported")                                   \
    XX(EINTR, "interrupted")                                                 \
    XX(EMFILE, "too many open files")                                        \
    XX(ENOSYS, "function not implemented")                                   \
    XX(ENOSPC, "no space left")                                              \
    XX(ESRCH, "the thread has exited")                                       \
    XX(EINPROGRESS, "done; callbacks still outstanding")

enum {
#define NTP__ERR_ENUM(name, msg) NTP_##name = -name,
    NTP_ERRNO_MAP(NTP__ERR_ENUM)
#undef NTP__ERR_ENUM
};

/* The message for a status ("invalid argument"); never NULL. THREAD: any. */
NTP_EXTERN const char *ntp_strerror(ntp_status status);
/* The symbolic name for a status ("EINVAL", "OK"); never NULL. */
NTP_EXTERN const char *ntp_err_name(ntp_status status);

/*
 * Diagnostics: misuse that a void function cannot return (closing an object
 * twice, a second completion action of one kind, waiting on one's own
 * callback) is reported here. The default handler prints "ntpool: <message>"
 * to stderr. Pass NULL to restore it. The handler may run on any thread and
 * must not call back into ntpool. EXTENSION.
 */
typedef void (*ntp_diagnostic_cb)(const char *message, void *data);
NTP_EXTERN void ntp_set_diagnostic_handler(ntp_diagnostic_cb cb, void *data);

/*
 * Allocator: every allocation ntpool makes goes through these (the model is
 * lua_Alloc). Set it before creating any object; NULL functions restore
 * malloc/free. Tests use it to count allocations and to inject failures.
 * EXTENSION.
 */
typedef void *(*ntp_malloc_fn)(size_t size, void *data);
typedef void (*ntp_free_fn)(void *ptr, void *data);
NTP_EXTERN void ntp_set_allocator(ntp_malloc_fn m, ntp_free_fn f, void *data);

/* Called exactly once, on some thread, after the object is closed and its
 * final callback has returned: the one safe moment to drop what ctx holds. */
typedef void (*ntp_release_cb)(void *ctx);

/*
 * Pool thread hooks, for language bindings: a binding that lets a pool
 * thread keep its interpreter lock across consecutive callbacks must give
 * it up before the thread sleeps, and must free its per-thread interpreter
 * state when the thread ends.
 *   idle: the calling pool thread found its queue empty and is about to wait
 *         for work (called once per idle period, not on spurious wake-ups).
 *   exit: the calling pool thread is about to end.
 * All run on the pool thread (workers and persistent threads of every
 * pool) with no ntpool lock held; they must not block for long. Either may
 * be NULL. Registrations are process-wide and permanent (up to 8; further
 * ones get NTP_ENOSPC), so the code they point to must stay loaded: a
 * module that can be unloaded (a Lua C module, say) must pin itself, e.g.
 * with dlopen(RTLD_NODELETE). The struct is copied. EXTENSION.
 */
typedef struct ntp_thread_hooks {
    void (*idle)(void *arg);
    void (*exit)(void *arg);
    void *arg;
    /* before_callback: the calling pool thread is about to run a callback
     * of an object whose release hook is `release` (NULL if it has none).
     * A binding recognises its own objects by the release hook it gave
     * them, and gives up the interpreter lock it kept before a callback
     * that is not its own (which might block on that lock). May be NULL. */
    void (*before_callback)(void *arg, ntp_release_cb release);
} ntp_thread_hooks;
NTP_EXTERN ntp_status ntp_thread_hooks_register(const ntp_thread_hooks *hooks);

/* ------------------------------------------------------------------------ */
/* Types                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct ntp_pool ntp_pool;
typedef struct ntp_cleanup_group ntp_cleanup_group;
typedef struct ntp_work ntp_work;
typedef struct ntp_instance ntp_instance;
typedef struct ntp_handle ntp_handle;

/* Callback priorities. WIN32: TP_CALLBACK_PRIORITY. */
typedef enum ntp_priority {
    NTP_PRIORITY_HIGH = 0,
    NTP_PRIORITY_NORMAL = 1,
    NTP_PRIORITY_LOW = 2,
    NTP_PRIORITY_COUNT = 3
} ntp_priority;

/*
 * Callbacks. Each runs on a pool thread, with no ntpool lock held. Inside a
 * callback it is legal to submit or close its own object and to use the
 * instance; waiting for its own object's callbacks would wait for itself
 * (ntpool detects that and waits only for the others, with a diagnostic).
 */
typedef void (*ntp_simple_cb)(ntp_instance *inst, void *ctx);
typedef void (*ntp_work_cb)(ntp_instance *inst, void *ctx, ntp_work *work);
/* Called from ntp_cleanup_group_close_members with cancel_pending, on the
 * calling thread, once per member: (the member's ctx, the cleanup ctx). */
typedef void (*ntp_cleanup_cancel_cb)(void *object_ctx, void *cleanup_ctx);

/* ------------------------------------------------------------------------ */
/* Callback environment (TP_CALLBACK_ENVIRON)                                */
/* ------------------------------------------------------------------------ */

#define NTP_ENV_RUNS_LONG 0x1u  /* callbacks may not return quickly */
#define NTP_ENV_PERSISTENT 0x2u /* run on the pool's persistent thread */

/*
 * Caller-allocated, like TP_CALLBACK_ENVIRON. Objects copy what they need at
 * creation: later edits do not affect existing objects. The fields are
 * public so the Win32 layer can translate its struct; use the setters.
 */
typedef struct ntp_env {
    unsigned version;                /* 3; 1 (Vista) is also accepted */
    ntp_pool *pool;                  /* NULL: the process default pool */
    ntp_cleanup_group *cleanup_group;
    ntp_cleanup_cancel_cb cancel_cb; /* for the cleanup group */
    void *library;                   /* dlopen handle kept loaded */
    ntp_simple_cb finalization_cb;   /* after each callback, same thread */
    unsigned flags;                  /* NTP_ENV_* */
    int priority;                    /* ntp_priority; checked at creation */
} ntp_env;

/* WIN32: InitializeThreadpoolEnvironment. Default pool, no group, normal
 * priority. THREAD: any. */
NTP_EXTERN void ntp_env_init(ntp_env *env);
/* WIN32: DestroyThreadpoolEnvironment (a no-op kept for symmetry). */
NTP_EXTERN void ntp_env_destroy(ntp_env *env);
/* WIN32: SetThreadpoolCallbackPool. */
NTP_EXTERN void ntp_env_set_pool(ntp_env *env, ntp_pool *pool);
/* WIN32: SetThreadpoolCallbackCleanupGroup. */
NTP_EXTERN void ntp_env_set_cleanup_group(ntp_env *env, ntp_cleanup_group *g,
                                          ntp_cleanup_cancel_cb cancel_cb);
/* WIN32: SetThreadpoolCallbackLibrary. `library` is a dlopen() handle; each
 * object made with this environment holds its own reference to the module
 * (taken at creation, dropped when the object is freed), so the module stays
 * mapped while any of its callbacks can run. */
NTP_EXTERN void ntp_env_set_library(ntp_env *env, void *library);
/* WIN32: SetThreadpoolCallbackPriority. Invalid values are stored and
 * rejected with NTP_EINVAL when an object is created. */
NTP_EXTERN void ntp_env_set_priority(ntp_env *env, int priority);
/* WIN32: SetThreadpoolCallbackRunsLong. */
NTP_EXTERN void ntp_env_set_runs_long(ntp_env *env);
/* WIN32: SetThreadpoolCallbackPersistent. */
NTP_EXTERN void ntp_env_set_persistent(ntp_env *env);
/* The environment's finalization callback (TP_CALLBACK_ENVIRON's
 * FinalizationCallback field, which has no Win32 setter). EXTENSION. */
NTP_EXTERN void ntp_env_set_finalization(ntp_env *env, ntp_simple_cb cb);

/* ------------------------------------------------------------------------ */
/* Pools                                                                     */
/* ------------------------------------------------------------------------ */

#define NTP_DEFAULT_MAX_THREADS 500

/* WIN32: CreateThreadpool. A new private pool (min 0, max 500); it starts no
 * thread until work arrives. THREAD: any. */
NTP_EXTERN ntp_status ntp_pool_create(ntp_pool **out);
/* WIN32: CloseThreadpool. Never blocks. Objects still bound keep working
 * until they are closed; the pool is freed after the last of them and the
 * last worker are gone. NULL is a harmless no-op. */
NTP_EXTERN void ntp_pool_close(ntp_pool *pool);
/* The process default pool, created on first use, never closed. Returns
 * NULL only if it could not be allocated. EXTENSION (Win32 passes NULL). */
NTP_EXTERN ntp_pool *ntp_pool_default(void);
/* WIN32: SetThreadpoolThreadMaximum. 0 is treated as 1; the minimum is
 * lowered to the maximum if needed. Existing threads are not killed: excess
 * workers retire when idle. */
NTP_EXTERN void ntp_pool_set_max_threads(ntp_pool *pool, unsigned max);
/* WIN32: SetThreadpoolThreadMinimum. Starts the missing threads now; if one
 * cannot be started, returns NTP_EAGAIN/NTP_ENOMEM and keeps the old
 * minimum. Raises the maximum to the minimum if needed. Threads kept for
 * the minimum never retire. */
NTP_EXTERN ntp_status ntp_pool_set_min_threads(ntp_pool *pool, unsigned min);
/* WIN32: SetThreadpoolStackInformation / QueryThreadpoolStackInformation.
 * Applies to threads created afterwards. The reserve size becomes the
 * pthread stack size (clamped up to PTHREAD_STACK_MIN when threads are
 * made); commit is stored and reported. */
NTP_EXTERN ntp_status ntp_pool_set_stack(ntp_pool *pool, size_t reserve,
                                         size_t commit);
NTP_EXTERN ntp_status ntp_pool_get_stack(ntp_pool *pool, size_t *reserve,
                                         size_t *commit);
/* How long a worker beyond the minimum stays idle before it exits (default
 * 5000 ms, as Windows/Wine). EXTENSION. */
NTP_EXTERN ntp_status ntp_pool_set_idle_timeout(ntp_pool *pool,
                                                unsigned timeout_ms);

/* A snapshot of a pool's counters. EXTENSION. THREAD: any. */
typedef struct ntp_pool_stats {
    unsigned threads;         /* worker threads alive (not persistent) */
    unsigned idle;            /* of those, waiting for work */
    unsigned running;         /* callbacks running now */
    unsigned long_running;    /* running callbacks marked may-run-long */
    unsigned min_threads, max_threads;
    unsigned persistent_thread; /* 1 if the persistent thread exists */
    unsigned objects;         /* callback objects bound to the pool */
    uint64_t queued[NTP_PRIORITY_COUNT]; /* posts waiting, per priority */
    uint64_t callbacks_run;   /* callbacks completed since creation */
    uint64_t threads_created; /* workers ever started */
    uint64_t threads_retired; /* workers that exited when idle */
    uint64_t starvation_adds; /* workers added by the starvation check */
    uint64_t spawn_failures;  /* worker threads that could not be started */
} ntp_pool_stats;
NTP_EXTERN ntp_status ntp_pool_stats_get(ntp_pool *pool, ntp_pool_stats *out);

/* The `!tp` debugger extension of the seeds: write a pool's threads (idle,
 * or running which callback and for how long), its objects and their state,
 * and its queue per priority to `out`. flags: NTP_DUMP_ONE_LINE (0x1, one
 * line), NTP_DUMP_MEMBERS (0x2, the objects), NTP_DUMP_QUEUE (0x4, the
 * queue), as the seeds define them. EXTENSION. */
#define NTP_DUMP_ONE_LINE 0x1u
#define NTP_DUMP_MEMBERS 0x2u
#define NTP_DUMP_QUEUE 0x4u
NTP_EXTERN ntp_status ntp_pool_dump(ntp_pool *pool, unsigned flags,
                                    FILE *out);

/* ------------------------------------------------------------------------ */
/* Cleanup groups                                                            */
/* ------------------------------------------------------------------------ */

/* WIN32: CreateThreadpoolCleanupGroup. */
NTP_EXTERN ntp_status ntp_cleanup_group_create(ntp_cleanup_group **out);
/*
 * WIN32: CloseThreadpoolCleanupGroupMembers. Releases every object that is
 * a member at the time of the call: with cancel_pending, queued callbacks
 * that have not started are dropped; then it waits for the rest (running
 * ones, and with !cancel_pending the queued ones too, disassociated
 * callbacks included); then, with cancel_pending, calls the environment's
 * cancel callback once per member the application did not close itself;
 * then releases each member. The group can be reused.
 * Returns NTP_EDEADLK, releasing nothing, when called from a callback of one
 * of the group's own members (it would wait for itself). MAY BLOCK.
 */
NTP_EXTERN ntp_status ntp_cleanup_group_close_members(ntp_cleanup_group *g,
                                                      bool cancel_pending,
                                                      void *cleanup_ctx);
/* WIN32: CloseThreadpoolCleanupGroup. The group must have no members:
 * closing a non-empty group is refused with a diagnostic (its members keep
 * working). NULL is a harmless no-op. */
NTP_EXTERN void ntp_cleanup_group_close(ntp_cleanup_group *g);

/* ------------------------------------------------------------------------ */
/* Work objects and simple callbacks                                         */
/* ------------------------------------------------------------------------ */

/* WIN32: CreateThreadpoolWork. env NULL: the default environment.
 * NTP_EINVAL for a NULL callback or a bad environment (version, priority,
 * closed pool or group). */
NTP_EXTERN ntp_status ntp_work_create(ntp_work **out, ntp_work_cb cb,
                                      void *ctx, const ntp_env *env);
/* WIN32: SubmitThreadpoolWork. One post = one callback; posts of one object
 * may run concurrently. Never allocates, never fails. THREAD: any,
 * including the object's own callback. */
NTP_EXTERN void ntp_work_submit(ntp_work *work);
/* WIN32: WaitForThreadpoolWorkCallbacks. Waits until the object has no
 * outstanding callbacks; with cancel_pending, posts not yet started are
 * dropped first. Disassociated callbacks are not waited for. The object
 * stays usable. MAY BLOCK. */
NTP_EXTERN void ntp_work_wait(ntp_work *work, bool cancel_pending);
/* WIN32: CloseThreadpoolWork. Never blocks: queued posts still run and the
 * object is freed after the last one returns (then the release hook runs).
 * Legal from the object's own callback. NULL is a harmless no-op. */
NTP_EXTERN void ntp_work_close(ntp_work *work);
/* The release hook, called once after the final callback. Set it before
 * the object is closed. EXTENSION. */
NTP_EXTERN ntp_status ntp_work_set_release(ntp_work *work,
                                           ntp_release_cb release);
/* The context the object was created with. EXTENSION. */
NTP_EXTERN void *ntp_work_context(ntp_work *work);

/* WIN32: TrySubmitThreadpoolCallback. Runs cb(inst, ctx) once on a worker.
 * Allocates a one-shot object, so it can fail (NTP_ENOMEM, NTP_EINVAL).
 * `release`, if given, runs once after the callback (or after it was
 * cancelled by its cleanup group). */
NTP_EXTERN ntp_status ntp_try_submit(ntp_simple_cb cb, void *ctx,
                                     const ntp_env *env);
NTP_EXTERN ntp_status ntp_try_submit_ex(ntp_simple_cb cb, void *ctx,
                                        const ntp_env *env,
                                        ntp_release_cb release);

/* ------------------------------------------------------------------------ */
/* Callback instances                                                        */
/* ------------------------------------------------------------------------ */

/*
 * An instance is valid only during its callback and only on the thread
 * running it; calls from elsewhere are refused with NTP_EINVAL (or a
 * diagnostic for the void calls).
 *
 * Completion actions run on the callback's thread after it returns, in this
 * order: finalization callback, leave critical section, release mutex,
 * release semaphore, set event, free library. All run even if one fails.
 * They run before the invocation stops counting as outstanding, so a thread
 * returning from a wait-for-callbacks call sees them done. One action of
 * each kind per instance: a second request returns NTP_EEXIST and keeps the
 * first.
 */
typedef struct ntp_cs ntp_cs;
/* WIN32: SetEventWhenCallbackReturns. */
NTP_EXTERN ntp_status ntp_instance_set_event_on_return(ntp_instance *inst,
                                                       ntp_handle *event);
/* WIN32: ReleaseSemaphoreWhenCallbackReturns. */
NTP_EXTERN ntp_status ntp_instance_release_semaphore_on_return(
    ntp_instance *inst, ntp_handle *sem, uint32_t count);
/* WIN32: ReleaseMutexWhenCallbackReturns. */
NTP_EXTERN ntp_status ntp_instance_release_mutex_on_return(ntp_instance *inst,
                                                           ntp_handle *mutex);
/* WIN32: LeaveCriticalSectionWhenCallbackReturns. */
NTP_EXTERN ntp_status ntp_instance_leave_cs_on_return(ntp_instance *inst,
                                                      ntp_cs *cs);
/* WIN32: FreeLibraryWhenCallbackReturns. `library` is a dlopen() handle;
 * dlclose() is called once after the callback returns. */
NTP_EXTERN ntp_status ntp_instance_free_library_on_return(ntp_instance *inst,
                                                          void *library);
/* WIN32: CallbackMayRunLong. Marks the callback long-running (always) and
 * returns true if another worker is idle or can be started (starting one
 * when work is queued), false if the pool is at its maximum with no idle
 * worker. Returns true at once for runs-long objects. */
NTP_EXTERN bool ntp_instance_may_run_long(ntp_instance *inst);
/* WIN32: DisassociateCurrentThreadFromCallback. The callback stops counting
 * for its object's wait-for-callbacks waiters (the cleanup group still
 * waits for it). Calling it twice is harmless. */
NTP_EXTERN void ntp_instance_disassociate(ntp_instance *inst);
/* The instance of the callback running on this thread, or NULL.
 * EXTENSION. */
NTP_EXTERN ntp_instance *ntp_instance_current(void);

/* ------------------------------------------------------------------------ */
/* Timers                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * Due times (what a Win32 FILETIME due time says, with the unit in the
 * name): none, relative (on CLOCK_MONOTONIC: does not follow wall-clock
 * changes) or absolute (Unix time on CLOCK_REALTIME: follows them, and a
 * time already past expires at once). A relative due time of zero means
 * "now" (SPEC 1.2). Build them with the helpers below. EXTENSION.
 */
typedef enum ntp_due_kind {
    NTP_DUE_NONE = 0,     /* no due time: stop the timer */
    NTP_DUE_RELATIVE = 1, /* ns from now */
    NTP_DUE_ABSOLUTE = 2  /* ns since 1970-01-01 00:00 UTC */
} ntp_due_kind;
typedef struct ntp_due {
    int kind; /* ntp_due_kind */
    uint64_t ns;
} ntp_due;
/* No due time (a NULL FILETIME). */
NTP_EXTERN ntp_due ntp_due_none(void);
/* ms / ns from now (a negative FILETIME); 0 is "now". */
NTP_EXTERN ntp_due ntp_due_in_ms(uint64_t ms);
NTP_EXTERN ntp_due ntp_due_in_ns(uint64_t ns);
/* At an absolute wall-clock time, in ns since the Unix epoch (a positive
 * FILETIME; earlier times are simply in the past). */
NTP_EXTERN ntp_due ntp_due_at_unix_ns(uint64_t ns);

typedef struct ntp_timer ntp_timer;
/* Runs on a pool thread once per expiry, with no ntpool lock held. It may
 * set, wait for (others only) or close its own timer. */
typedef void (*ntp_timer_cb)(ntp_instance *inst, void *ctx, ntp_timer *timer);

/* WIN32: CreateThreadpoolTimer. The timer starts unset. env NULL: the
 * default environment. NTP_EINVAL for a NULL callback or a bad
 * environment; NTP_ENOMEM/NTP_EAGAIN/NTP_EMFILE if the timer thread
 * (started by the first timer) cannot be. THREAD: any. */
NTP_EXTERN ntp_status ntp_timer_create(ntp_timer **out, ntp_timer_cb cb,
                                       void *ctx, const ntp_env *env);
/*
 * WIN32: SetThreadpoolTimer. Replaces any previous setting.
 *   due: none stops the timer (no new callbacks; queued ones still run);
 *        relative 0 queues a callback at once, from the caller; otherwise
 *        the timer expires at the due time, never earlier.
 *   period_ms: 0 one-shot; else every period_ms after the due time (no
 *        drift; missed periods are skipped, not fired in a burst). Each
 *        expiry queues its own callback, so slow callbacks can overlap.
 *   window_ms: the expiry may be delayed by up to this much so that
 *        timers whose windows overlap share one wake-up.
 * Never allocates, never fails, never blocks. Setting a closed timer is
 * ignored with a diagnostic. THREAD: any, including the timer's own
 * callback.
 */
NTP_EXTERN void ntp_timer_set(ntp_timer *timer, ntp_due due,
                              uint32_t period_ms, uint32_t window_ms);
/* WIN32: SetThreadpoolTimerEx. As ntp_timer_set; returns true if the
 * previous setting was still pending and this call cancelled it before it
 * expired (a periodic timer counts as pending between expiries), false if
 * the timer was not set or had already expired (its callback may be
 * running or about to start). */
NTP_EXTERN bool ntp_timer_set_ex(ntp_timer *timer, ntp_due due,
                                 uint32_t period_ms, uint32_t window_ms);
/* WIN32: IsThreadpoolTimerSet. true if the last set passed a due time
 * other than none: it stays true after a one-shot timer fired
 * (CONFORMANCE N1). false for a fresh timer. */
NTP_EXTERN bool ntp_timer_is_set(ntp_timer *timer);
/* WIN32: WaitForThreadpoolTimerCallbacks. As ntp_work_wait; does not stop
 * the timer (later expiries still queue callbacks). MAY BLOCK. */
NTP_EXTERN void ntp_timer_wait(ntp_timer *timer, bool cancel_pending);
/* WIN32: CloseThreadpoolTimer. Stops the timer and releases it; never
 * blocks. Callbacks already queued still run; the object is freed after
 * the last one returns (then the release hook runs). Legal from the
 * timer's own callback. NULL is a harmless no-op. To be sure no callback
 * runs any more: set none, wait, close (SPEC 7). */
NTP_EXTERN void ntp_timer_close(ntp_timer *timer);
/* The release hook, called once after the final callback. Set it before
 * the timer is closed. EXTENSION. */
NTP_EXTERN ntp_status ntp_timer_set_release(ntp_timer *timer,
                                            ntp_release_cb release);
/* The context the timer was created with. EXTENSION. */
NTP_EXTERN void *ntp_timer_context(ntp_timer *timer);

/* ------------------------------------------------------------------------ */
/* Waits                                                                     */
/* ------------------------------------------------------------------------ */

/*
 * A wait object queues its callback once when a handle is signalled or a
 * timeout passes (SetThreadpoolWait). No thread waits for it: the call
 * that signals the handle queues the callback itself, and timeouts share
 * the timer thread, so any number of waits can be armed at once.
 */
typedef struct ntp_wait ntp_wait;
/* Runs on a pool thread once per completed wait, with no ntpool lock held.
 * result is NTP_WAIT_OBJECT_0 (the handle was signalled and taken, as by
 * ntp_wait_for_single: an auto-reset event was reset, a semaphore count
 * used) or NTP_WAIT_TIMEOUT (the handle was not touched). It may set
 * (re-arm), wait for (others only) or close its own wait. */
typedef void (*ntp_wait_cb)(ntp_instance *inst, void *ctx, ntp_wait *wait,
                            uint32_t result);

/* WIN32: CreateThreadpoolWait. The wait starts unset. env NULL: the
 * default environment. NTP_EINVAL for a NULL callback or a bad
 * environment; NTP_ENOMEM/NTP_EAGAIN/NTP_EMFILE if the timer thread
 * (started by the first wait or timer) cannot be. THREAD: any. */
NTP_EXTERN ntp_status ntp_wait_create(ntp_wait **out, ntp_wait_cb cb,
                                      void *ctx, const ntp_env *env);
/*
 * WIN32: SetThreadpoolWait. Stops any previous wait (a pending one ends
 * without a callback and without consuming its handle), then:
 *   h NULL: nothing more; the timeout is ignored. Queued callbacks still
 *        run.
 *   otherwise: waits once for h. When h is signalled (it is taken for the
 *        wait) or the timeout passes, one callback is queued and the wait
 *        is over: set it again for another, typically from the callback.
 *        A handle already signalled queues its callback at once.
 *   timeout_ms: NTP_INFINITE never times out; 0 tests h and, if it is not
 *        signalled, queues an NTP_WAIT_TIMEOUT callback at once.
 * Mutexes cannot be waited for this way (SPEC 8: the owner would be a pool
 * thread). A mutex, a closed or invalid handle, or a closed wait is refused
 * with a diagnostic and the call changes nothing. Keep h open while the
 * wait is set (closing it then is undefined on Windows; here the object
 * lives on, but nothing can signal it any more). Never allocates, never
 * fails, never blocks. THREAD: any, including the wait's own callback.
 */
NTP_EXTERN void ntp_wait_set(ntp_wait *wait, ntp_handle *h,
                             uint32_t timeout_ms);
/* As ntp_wait_set, with the timeout given as a due time (what the FILETIME
 * of SetThreadpoolWait says): none never times out; relative counts on
 * CLOCK_MONOTONIC, 0 meaning "test now"; absolute is Unix time on
 * CLOCK_REALTIME (follows clock changes; a time already past times out at
 * once unless h is signalled). EXTENSION. */
NTP_EXTERN void ntp_wait_set_due(ntp_wait *wait, ntp_handle *h,
                                 ntp_due timeout);
/* WIN32: SetThreadpoolWaitEx. As ntp_wait_set_due; returns true if the
 * previous wait was still pending and this call cancelled it, false if
 * the wait was not set or had already completed (its callback may be
 * queued or running), or if the call was refused. */
NTP_EXTERN bool ntp_wait_set_ex(ntp_wait *wait, ntp_handle *h,
                                ntp_due timeout);
/* WIN32: WaitForThreadpoolWaitCallbacks. As ntp_work_wait; does not stop a
 * pending wait, which can still complete and queue a callback afterwards
 * (CONFORMANCE I95). MAY BLOCK. */
NTP_EXTERN void ntp_wait_wait(ntp_wait *wait, bool cancel_pending);
/* WIN32: CloseThreadpoolWait. Stops a pending wait (its handle is not
 * consumed) and releases the object; never blocks. Callbacks already
 * queued still run; the object is freed after the last one returns (then
 * the release hook runs). Legal from the wait's own callback. NULL is a
 * harmless no-op. To be sure no callback runs any more: set NULL, wait,
 * close, then close the handle (SPEC 8). */
NTP_EXTERN void ntp_wait_close(ntp_wait *wait);
/* The release hook, called once after the final callback. Set it before
 * the wait is closed. EXTENSION. */
NTP_EXTERN ntp_status ntp_wait_set_release(ntp_wait *wait,
                                           ntp_release_cb release);
/* The context the wait was created with. EXTENSION. */
NTP_EXTERN void *ntp_wait_context(ntp_wait *wait);

/*
 * A handle of kind NTP_HANDLE_FD over a file descriptor: signalled while
 * fd is readable (data, end of file, hang-up or error: a read would not
 * block). Waiting on it (ntp_wait_set, ntp_wait_for_single/multiple)
 * consumes nothing, like a manual-reset event: the waiter reads. The
 * handle watches a duplicate of fd of its own, so the caller keeps
 * ownership of fd (the open file stays open until the handle is closed
 * and no wait holds it any more). Regular files are always readable.
 * NTP_EBADF for a bad fd, NTP_EMFILE/NTP_ENOMEM/NTP_EAGAIN when out of
 * resources. Close it with ntp_handle_close. EXTENSION. THREAD: any.
 */
NTP_EXTERN ntp_status ntp_fd_handle_create(ntp_handle **out, int fd);

/* ------------------------------------------------------------------------ */
/* I/O completion objects                                                    */
/* ------------------------------------------------------------------------ */

/*
 * An I/O object binds a file descriptor to a pool: ntpool performs reads
 * and writes on it and delivers each completion to the object's callback
 * on a worker, as a Windows TP_IO delivers the completions of overlapped
 * ReadFile/WriteFile calls. Pipes, sockets and other pollable fds are made
 * non-blocking and served through the reactor's epoll set, in the order
 * the operations were issued; regular files go to a process-wide io_uring
 * when the kernel allows it, else pread/pwrite on a pool thread.
 *
 * An operation is described by a caller-owned ntp_overlapped (OVERLAPPED),
 * which with its buffer must stay valid until the operation's callback has
 * run (or, with no callback because the completion was cancelled by
 * ntp_io_wait(io, true), until ntp_overlapped_result reports it done).
 */
typedef struct ntp_io ntp_io;
typedef struct ntp_overlapped {
    uint64_t offset;    /* file offset, or NTP_IO_STREAM: current position
                           (and the only choice for pipes and sockets) */
    ntp_handle *event;  /* optional: set when the operation completes
                           (OVERLAPPED.hEvent) */
    void *user;         /* the caller's */
    /* ntpool's (read them with ntp_overlapped_result): */
    _Atomic int status_;
    size_t bytes_;
    struct ntp_overlapped *next_;
    ntp_io *io_;
    void *buf_;
    size_t len_;
    int op_;
} ntp_overlapped;
#define NTP_IO_STREAM UINT64_MAX

/* result: 0 or a negative errno (NTP_ECANCELED for a cancelled operation);
 * nbytes: bytes transferred (0 at end of file). */
typedef void (*ntp_io_cb)(ntp_instance *inst, void *ctx, ntp_overlapped *ov,
                          ntp_status result, size_t nbytes, ntp_io *io);

/* WIN32: CreateThreadpoolIo. NTP_EBADF for a bad fd, NTP_EEXIST if the fd
 * is bound to another I/O object already. The fd stays the caller's: close
 * it only after the last operation on it has completed. */
NTP_EXTERN ntp_status ntp_io_create(ntp_io **out, int fd, ntp_io_cb cb,
                                    void *ctx, const ntp_env *env);
/* WIN32: StartThreadpoolIo. Announce one operation; call before each. A
 * completion that was not announced is dropped with a diagnostic. */
NTP_EXTERN void ntp_io_start(ntp_io *io);
/* WIN32: CancelThreadpoolIo. Withdraw one announcement, after an operation
 * that failed to start (ntp_io_read/write returned an error). */
NTP_EXTERN void ntp_io_cancel(ntp_io *io);
/* WIN32: ReadFile / WriteFile on the bound fd, with an OVERLAPPED. Returns
 * 0 when the operation is under way (its completion comes to the callback
 * even if it finished at once), or an error when it could not start (then
 * call ntp_io_cancel). THREAD: any. */
NTP_EXTERN ntp_status ntp_io_read(ntp_io *io, ntp_overlapped *ov, void *buf,
                                  size_t len);
NTP_EXTERN ntp_status ntp_io_write(ntp_io *io, ntp_overlapped *ov,
                                   const void *buf, size_t len);
/* WIN32: CancelIoEx (ov NULL: every operation of the io, CancelIo). Each
 * operation still waiting for its fd completes with NTP_ECANCELED and 0
 * bytes; NTP_ENOENT if there was none (ERROR_NOT_FOUND). A file read or
 * write already running on a pool thread is not interrupted. */
NTP_EXTERN ntp_status ntp_io_cancel_ops(ntp_io *io, ntp_overlapped *ov);
/* WIN32: GetOverlappedResult. 0 and *nbytes when the operation completed
 * (its result otherwise); NTP_EBUSY (ERROR_IO_INCOMPLETE) if it has not
 * and wait is false. MAY BLOCK if wait. */
NTP_EXTERN ntp_status ntp_overlapped_result(ntp_overlapped *ov,
                                            size_t *nbytes, bool wait);
/* WIN32: WaitForThreadpoolIoCallbacks. Waits for the queued and running
 * callbacks and for announced operations that have not completed; with
 * cancel_pending, drops the queued callbacks and the completions still
 * expected (the operations themselves go on). MAY BLOCK. */
NTP_EXTERN void ntp_io_wait(ntp_io *io, bool cancel_pending);
/* WIN32: CloseThreadpoolIo. Freed after the last outstanding callback and
 * the last operation in flight. */
NTP_EXTERN void ntp_io_close(ntp_io *io);
NTP_EXTERN ntp_status ntp_io_set_release(ntp_io *io, ntp_release_cb release);
/* How the object does its operations: "epoll" (pollable fds), "io_uring"
 * (regular files), or "threads" (regular files without io_uring: liburing
 * absent, the kernel refusing a ring, or NTP_IO_BACKEND=fallback in the
 * environment at creation). NULL for a bad object. EXTENSION. */
NTP_EXTERN const char *ntp_io_backend(const ntp_io *io);

/* ------------------------------------------------------------------------ */
/* Synchronization objects: waitable handles                                 */
/* ------------------------------------------------------------------------ */

/* Wait results (the Win32 values). Wait functions return one of these, or a
 * negative ntp_status on failure. */
#define NTP_WAIT_OBJECT_0 0x000
#define NTP_WAIT_ABANDONED_0 0x080
#define NTP_WAIT_IO_COMPLETION 0x0C0
#define NTP_WAIT_TIMEOUT 0x102
#define NTP_INFINITE 0xFFFFFFFFu
#define NTP_MAXIMUM_WAIT_OBJECTS 64

/* The kinds of waitable handle. */
typedef enum ntp_handle_kind {
    NTP_HANDLE_EVENT = 1,
    NTP_HANDLE_SEMAPHORE,
    NTP_HANDLE_MUTEX,
    NTP_HANDLE_WAITABLE_TIMER, /* issue: timers and waits */
    NTP_HANDLE_THREAD,
    NTP_HANDLE_FD
} ntp_handle_kind;

/* WIN32: CreateEvent. Manual-reset events stay set until reset; auto-reset
 * events release exactly one waiter, then reset themselves. */
NTP_EXTERN ntp_status ntp_event_create(ntp_handle **out, bool manual_reset,
                                       bool initial_state);
/* WIN32: SetEvent / ResetEvent / PulseEvent. NTP_EBADF for a handle that is
 * not an event. PulseEvent releases the waiters waiting at that instant
 * (manual: all releasable; auto: at most one), then resets. */
NTP_EXTERN ntp_status ntp_event_set(ntp_handle *event);
NTP_EXTERN ntp_status ntp_event_reset(ntp_handle *event);
NTP_EXTERN ntp_status ntp_event_pulse(ntp_handle *event);

/* WIN32: CreateSemaphore. 0 <= initial <= max, max > 0, else NTP_EINVAL. */
NTP_EXTERN ntp_status ntp_semaphore_create(ntp_handle **out, int32_t initial,
                                           int32_t max);
/* WIN32: ReleaseSemaphore. count > 0 (else NTP_EINVAL). If the count would
 * pass the maximum nothing changes and NTP_EOVERFLOW is returned
 * (ERROR_TOO_MANY_POSTS). *previous (optional) gets the count before the
 * call, on success only. */
NTP_EXTERN ntp_status ntp_semaphore_release(ntp_handle *sem, int32_t count,
                                            int32_t *previous);

/* WIN32: CreateMutex. Recursive, owned by a thread. If the owner thread
 * exits without releasing it, the next waiter gets it with
 * NTP_WAIT_ABANDONED_0. */
NTP_EXTERN ntp_status ntp_mutex_create(ntp_handle **out, bool initial_owner);
/* WIN32: ReleaseMutex. NTP_EPERM (ERROR_NOT_OWNER) if the caller does not
 * own it. */
NTP_EXTERN ntp_status ntp_mutex_release(ntp_handle *mutex);

/* WIN32: CreateWaitableTimer. Inactive and nonsignalled. A manual-reset
 * (notification) timer stays signalled once expired until it is set
 * again; a synchronization timer is reset by the one wait it satisfies.
 * Can fail if the timer thread cannot be started. */
NTP_EXTERN ntp_status ntp_waitable_timer_create(ntp_handle **out,
                                                bool manual_reset);
/* WIN32: SetWaitableTimer, without a completion routine (for one, see
 * ntp_waitable_timer_set_apc). Stops the timer and makes it nonsignalled first, then
 * activates it: due relative 0 expires at once; period_ms 0 is one-shot,
 * > 0 re-expires every period_ms. NTP_EINVAL for period_ms < 0 or a due
 * time of none; NTP_EBADF for a handle that is not a waitable timer.
 * fResume has no equivalent (waking a suspended machine). */
NTP_EXTERN ntp_status ntp_waitable_timer_set(ntp_handle *timer, ntp_due due,
                                             int32_t period_ms);
/* WIN32: CancelWaitableTimer. Makes the timer inactive without changing
 * its signalled state. */
NTP_EXTERN ntp_status ntp_waitable_timer_cancel(ntp_handle *timer);

/* WIN32: CloseHandle. The object is destroyed with its last reference.
 * Closing a handle that a thread is waiting on is undefined on Windows; here
 * the object lives until the waits end. */
NTP_EXTERN ntp_status ntp_handle_close(ntp_handle *h);
/* Which kind of handle this is, or a negative status. EXTENSION. */
NTP_EXTERN int ntp_handle_kind_of(ntp_handle *h);
/*
 * A pollable file descriptor mirroring the handle's signalled state: it is
 * readable while the object is signalled. Reading it is not waiting: poll
 * it, then call ntp_wait_for_single(h, 0) to take the object (that is what
 * consumes an auto-reset event or a semaphore count). Made on first request,
 * owned by the handle (do not close it). EXTENSION.
 */
NTP_EXTERN ntp_status ntp_handle_get_fd(ntp_handle *h, int *fd);

/*
 * WIN32: WaitForSingleObject[Ex]. Returns NTP_WAIT_OBJECT_0,
 * NTP_WAIT_ABANDONED_0, NTP_WAIT_TIMEOUT, NTP_WAIT_IO_COMPLETION (alertable
 * waits that ran APCs) or a negative status. timeout_ms: 0 tests and
 * returns; NTP_INFINITE never times out. MAY BLOCK.
 */
NTP_EXTERN int ntp_wait_for_single(ntp_handle *h, uint32_t timeout_ms,
                                   bool alertable);
/*
 * WIN32: WaitForMultipleObjects[Ex]. 1..64 distinct handles. wait_all
 * false: NTP_WAIT_OBJECT_0 + i for the lowest signalled index (only that
 * object is taken). wait_all true: returns when all are signalled at once
 * and takes them atomically (never a partial acquire). Abandoned mutexes
 * give NTP_WAIT_ABANDONED_0 (+ i). MAY BLOCK.
 */
NTP_EXTERN int ntp_wait_for_multiple(uint32_t count, ntp_handle *const *handles,
                                     bool wait_all, uint32_t timeout_ms,
                                     bool alertable);

/*
 * Critical sections: caller-allocated (do not move or copy one), recursive,
 * process-local. The fields are private.
 */
struct ntp_cs {
    pthread_mutex_t lock_;
    unsigned long owner_;     /* owning thread id, 0 if none (atomic) */
    unsigned recursion_;      /* entries by the owner */
    unsigned magic_;
};
/* WIN32: InitializeCriticalSection. */
NTP_EXTERN void ntp_cs_init(ntp_cs *cs);
/* WIN32: DeleteCriticalSection. */
NTP_EXTERN void ntp_cs_destroy(ntp_cs *cs);
/* WIN32: EnterCriticalSection. MAY BLOCK. */
NTP_EXTERN void ntp_cs_enter(ntp_cs *cs);
/* WIN32: TryEnterCriticalSection. true if entered (or re-entered). */
NTP_EXTERN bool ntp_cs_try_enter(ntp_cs *cs);
/* WIN32: LeaveCriticalSection. Leaving one the caller does not own is
 * refused with NTP_EPERM and a diagnostic (Windows would corrupt it). */
NTP_EXTERN ntp_status ntp_cs_leave(ntp_cs *cs);

/* ------------------------------------------------------------------------ */
/* APCs and alertable waits                                                  */
/* ------------------------------------------------------------------------ */

/*
 * Every thread has a FIFO queue of asynchronous procedure calls. A queued
 * APC runs only on its thread, and only when that thread waits alertably:
 * ntp_sleep_ex(.., true), ntp_wait_for_single/multiple(.., true). Such a
 * wait runs every queued APC (FIFO, APCs queued meanwhile included), then
 * returns NTP_WAIT_IO_COMPLETION without waiting any further. An APC queued
 * while its thread sleeps alertably wakes it. When an object is already
 * signalled at the start of an alertable wait, the object wins and the
 * APCs stay queued (SPEC 12). Non-alertable waits never run APCs. APCs
 * still queued when their thread exits are discarded, never run.
 *
 * Any thread can be a target, ntpool's or not (the main thread, a
 * pthread_create thread): its APC state lives in thread-local storage,
 * set up on its first ntpool call, and is torn down by a pthread key
 * destructor when the thread exits. Pool workers are poor targets (an idle
 * worker may exit); use the pool's persistent thread (SPEC 12).
 */
typedef void (*ntp_apc_fn)(void *arg);
/* A waitable timer's completion routine: arg, then the expiry time as a
 * Windows FILETIME (100 ns units since 1601-01-01 UTC), low and high
 * halves. The same shape as PTIMERAPCROUTINE. */
typedef void (*ntp_timer_apc_fn)(void *arg, uint32_t time_low,
                                 uint32_t time_high);

/* The calling thread, for ntp_queue_apc only: what GetCurrentThread's
 * pseudo-handle means there. It is not a real handle (do not wait on or
 * close it); ntp_thread_current gives a real one. EXTENSION. */
#define NTP_CURRENT_THREAD ((ntp_handle *)(intptr_t)-2)

/*
 * A new handle of kind NTP_HANDLE_THREAD naming the calling thread, usable
 * from any thread with ntp_queue_apc and waitable: it becomes signalled
 * when the thread exits (then APCs to it are refused with NTP_ESRCH). Each
 * call makes a new handle; close each with ntp_handle_close. WIN32:
 * DuplicateHandle(GetCurrentThread()) / OpenThread. NTP_EINVAL for NULL,
 * NTP_ENOMEM. THREAD: any.
 */
NTP_EXTERN ntp_status ntp_thread_current(ntp_handle **out);

/*
 * WIN32: QueueUserAPC. Appends fn(arg) to the APC queue of `thread` (a
 * thread handle, or NTP_CURRENT_THREAD) and wakes the thread if it is in an
 * alertable wait. NTP_EINVAL for a NULL fn or handle, NTP_EBADF for a
 * handle that is not an open thread handle, NTP_ESRCH when the thread has
 * exited (ERROR_GEN_FAILURE), NTP_ENOMEM. THREAD: any.
 */
NTP_EXTERN ntp_status ntp_queue_apc(ntp_handle *thread, ntp_apc_fn fn,
                                    void *arg);

/*
 * WIN32: SleepEx. Sleeps for timeout_ms (NTP_INFINITE: forever). Returns
 * 0 when the time elapsed, NTP_WAIT_IO_COMPLETION when alertable and APCs
 * ran (queued ones run at once, without sleeping). ntp_sleep_ex(0, false)
 * yields the processor. On a pool worker the sleep counts as blocking.
 * MAY BLOCK.
 */
NTP_EXTERN int ntp_sleep_ex(uint32_t timeout_ms, bool alertable);

/*
 * WIN32: SetWaitableTimer with a completion routine. As
 * ntp_waitable_timer_set; in addition, on each expiry fn(arg, expiry
 * FILETIME) is queued as an APC to the calling thread, to run at its next
 * alertable wait. At most one such APC per timer is queued at a time (an
 * expiry while the previous one is still queued queues nothing more).
 * Setting or cancelling the timer again removes a queued completion APC.
 * When the calling thread exits, the timer is cancelled (its signalled
 * state is kept). fn NULL: exactly ntp_waitable_timer_set.
 */
NTP_EXTERN ntp_status ntp_waitable_timer_set_apc(ntp_handle *timer,
                                                 ntp_due due,
                                                 int32_t period_ms,
                                                 ntp_timer_apc_fn fn,
                                                 void *arg);

/* ------------------------------------------------------------------------ */
/* The original thread-pool API                                              */
/* ------------------------------------------------------------------------ */

/*
 * QueueUserWorkItem, RegisterWaitForSingleObject and timer queues, as a
 * thin layer over work, wait and timer objects on the process default
 * pool (SPEC 11). Flags are the WT_* values:
 *   DEFAULT, INIOTHREAD (ignored since Vista), INUITHREAD (obsolete),
 *   INPERSISTENTIOTHREAD (obsolete), TRANSFER_IMPERSONATION (ignored):
 *       a normal worker;
 *   LONGFUNCTION: the callback runs long (the pool adds threads sooner);
 *   INPERSISTENTTHREAD: the default pool's persistent thread, which never
 *       exits (for callbacks that rely on APCs);
 *   INWAITTHREAD (waits), INTIMERTHREAD (timer queues): ntpool has no wait
 *       or timer thread that runs user code; these run on the persistent
 *       thread too, one at a time, as callbacks sharing a wait or timer
 *       thread do on Windows;
 *   ONLYONCE: see each function.
 * The bits above 0xFFFF carry NTP_WT_SET_MAX_THREADPOOL_THREADS: a limit
 * that raises (never lowers) the default pool's maximum. Other bits:
 * NTP_EINVAL. After each callback, APCs queued to the worker run (Vista
 * and later do so, CONFORMANCE K123).
 */
#define NTP_WT_EXECUTEDEFAULT 0x00000000u
#define NTP_WT_EXECUTEINIOTHREAD 0x00000001u
#define NTP_WT_EXECUTEINUITHREAD 0x00000002u
#define NTP_WT_EXECUTEINWAITTHREAD 0x00000004u
#define NTP_WT_EXECUTEONLYONCE 0x00000008u
#define NTP_WT_EXECUTELONGFUNCTION 0x00000010u
#define NTP_WT_EXECUTEINTIMERTHREAD 0x00000020u
#define NTP_WT_EXECUTEINPERSISTENTIOTHREAD 0x00000040u
#define NTP_WT_EXECUTEINPERSISTENTTHREAD 0x00000080u
#define NTP_WT_TRANSFER_IMPERSONATION 0x00000100u
#define NTP_WT_SET_MAX_THREADPOOL_THREADS(flags, limit)                      \
    ((flags) |= ((uint32_t)(limit) << 16))

/* LPTHREAD_START_ROUTINE: the return value is ignored. */
typedef uint32_t (*ntp_thread_start_fn)(void *ctx);
/* WAITORTIMERCALLBACK: timer_or_wait_fired is true for a timeout (and
 * always for timer-queue timers), false when the handle was signalled. */
typedef void (*ntp_wait_or_timer_fn)(void *ctx, bool timer_or_wait_fired);

/* The `completion` argument of the unregister/delete calls: NULL returns
 * at once; NTP_COMPLETION_WAIT (INVALID_HANDLE_VALUE) blocks until every
 * callback has returned; an event handle is set once they all have. */
#define NTP_COMPLETION_WAIT ((ntp_handle *)(intptr_t)-1)

/* WIN32: QueueUserWorkItem. fn(ctx) once on the default pool. Allocates:
 * NTP_ENOMEM; NTP_EINVAL for a NULL fn or unknown flags. A queued item
 * cannot be cancelled. THREAD: any. */
NTP_EXTERN ntp_status ntp_queue_user_work_item(ntp_thread_start_fn fn,
                                               void *ctx, uint32_t flags);

typedef struct ntp_registered_wait ntp_registered_wait;
/*
 * WIN32: RegisterWaitForSingleObject. Waits for h (signalled: cb(ctx,
 * false); timeout_ms passed: cb(ctx, true)); NTP_INFINITE never times
 * out, 0 tests at once. Without NTP_WT_EXECUTEONLYONCE the wait re-arms
 * itself, with a fresh timeout, as each callback is about to run, until
 * unregistered (a handle that stays signalled then gives a flood of
 * callbacks, as on Windows); with it there is one callback. Taking the
 * handle has the side effects of a wait (SPEC 13.1). *out is stored before
 * any callback can run. Every registration must end with
 * ntp_unregister_wait[_ex], ONLYONCE ones included. Mutexes are refused
 * with NTP_ENOTSUP (the pool thread that took one could never release it).
 * NTP_EINVAL for NULL out/cb or unknown flags, NTP_EBADF for a bad handle,
 * NTP_ENOMEM. THREAD: any.
 */
NTP_EXTERN ntp_status ntp_register_wait(ntp_registered_wait **out,
                                        ntp_handle *h, ntp_wait_or_timer_fn cb,
                                        void *ctx, uint32_t timeout_ms,
                                        uint32_t flags);
/*
 * WIN32: UnregisterWaitEx. Ends the registration: no new callback is
 * queued; already queued ones still run. completion (see
 * NTP_COMPLETION_WAIT): NULL returns at once; NTP_COMPLETION_WAIT waits for
 * every callback (called from the wait's own callback, it waits for the
 * others only, with a diagnostic, instead of deadlocking); an event is set
 * once every callback has returned. Returns 0, or NTP_EINPROGRESS when
 * callbacks were still queued or running (other than the caller's own):
 * the registration IS ended (ERROR_IO_PENDING, not a failure; never
 * unregister it again). NTP_EINVAL for NULL, NTP_EBADF for a completion
 * handle that is not an event (the registration is then left alone).
 * MAY BLOCK (NTP_COMPLETION_WAIT only).
 */
NTP_EXTERN ntp_status ntp_unregister_wait_ex(ntp_registered_wait *wait,
                                             ntp_handle *completion);
/* WIN32: UnregisterWait. ntp_unregister_wait_ex(wait, NULL). */
NTP_EXTERN ntp_status ntp_unregister_wait(ntp_registered_wait *wait);

typedef struct ntp_timer_queue ntp_timer_queue;
typedef struct ntp_timer_queue_timer ntp_timer_queue_timer;
/* WIN32: CreateTimerQueue. NTP_EINVAL, NTP_ENOMEM. The default queue is
 * NULL in the calls below; it exists always and cannot be deleted. */
NTP_EXTERN ntp_status ntp_timer_queue_create(ntp_timer_queue **out);
/*
 * WIN32: CreateTimerQueueTimer. A timer in q (NULL: the default queue)
 * calling cb(ctx, true) on the default pool due_ms from now, then every
 * period_ms (0: once). Each expiry queues its own callback, so slow
 * callbacks overlap. due_ms 0 queues the first callback at once.
 * NTP_WT_EXECUTEONLYONCE requires period_ms 0 (NTP_EINVAL otherwise).
 * NTP_EINVAL for NULL out/cb, unknown flags or a deleted queue;
 * NTP_ENOMEM/NTP_EAGAIN. Every timer must end with
 * ntp_timer_queue_timer_delete or with its queue. THREAD: any.
 */
NTP_EXTERN ntp_status ntp_timer_queue_timer_create(
    ntp_timer_queue_timer **out, ntp_timer_queue *q, ntp_wait_or_timer_fn cb,
    void *ctx, uint32_t due_ms, uint32_t period_ms, uint32_t flags);
/* WIN32: ChangeTimerQueueTimer. Next expiry due_ms from now, then every
 * period_ms (0: once). A one-shot timer that has already expired is left
 * alone (and 0 is returned, as Windows reports success). Legal from the
 * timer's own callback. q is ignored (Windows accepts any queue). NTP_EINVAL
 * for a NULL or deleted timer. */
NTP_EXTERN ntp_status ntp_timer_queue_timer_change(ntp_timer_queue *q,
                                                   ntp_timer_queue_timer *t,
                                                   uint32_t due_ms,
                                                   uint32_t period_ms);
/* WIN32: DeleteTimerQueueTimer. Stops and deletes t; completion as in
 * ntp_unregister_wait_ex. Returns 0, or NTP_EINPROGRESS when callbacks
 * were queued or running, the caller's own included (the timer IS deleted;
 * from its own callback no further callback runs). q is ignored. NTP_EINVAL
 * for a NULL or deleted timer, NTP_EBADF for a completion handle that is
 * not an event. MAY BLOCK (NTP_COMPLETION_WAIT only). */
NTP_EXTERN ntp_status ntp_timer_queue_timer_delete(ntp_timer_queue *q,
                                                   ntp_timer_queue_timer *t,
                                                   ntp_handle *completion);
/* WIN32: DeleteTimerQueueEx. Deletes every timer of q, then q;
 * completion as above, covering the callbacks of all of them. Returns 0
 * (with NULL always, as Vista and later), or NTP_EINPROGRESS with an event
 * when callbacks were outstanding (the queue IS deleted). NTP_EINVAL for
 * NULL (the default queue cannot be deleted) or a deleted queue,
 * NTP_EBADF for a completion handle that is not an event. MAY BLOCK
 * (NTP_COMPLETION_WAIT only). */
NTP_EXTERN ntp_status ntp_timer_queue_delete_ex(ntp_timer_queue *q,
                                                ntp_handle *completion);
/* WIN32: DeleteTimerQueue. ntp_timer_queue_delete_ex(q, NULL). */
NTP_EXTERN ntp_status ntp_timer_queue_delete(ntp_timer_queue *q);

/* A bound fd's completion routine: the LPOVERLAPPED_COMPLETION_ROUTINE of
 * BindIoCompletionCallback, plus a context: (ctx, the operation's result,
 * 0 or a negative status, bytes transferred, its overlapped). */
typedef void (*ntp_io_completion_fn)(void *ctx, ntp_status result,
                                     size_t nbytes, ntp_overlapped *ov);
/*
 * WIN32: BindIoCompletionCallback. Binds fd to the default pool: every
 * completion of an operation on it runs fn(ctx, ...) on a worker. *out is
 * the I/O object doing it: issue each operation as ReadFile/WriteFile on a
 * bound handle does, with ntp_io_start then ntp_io_read/ntp_io_write
 * (ntp_io_cancel if that fails). Windows has no unbind; here closing *out
 * with ntp_io_close ends the binding (EXTENSION). flags must be 0.
 * NTP_EINVAL for NULL out/fn, flags != 0 or an fd bound already
 * (ERROR_INVALID_PARAMETER, CONFORMANCE K138); NTP_EBADF for a bad fd;
 * NTP_ENOMEM. THREAD: any.
 */
NTP_EXTERN ntp_status ntp_bind_io_completion_callback(ntp_io **out, int fd,
                                                      ntp_io_completion_fn fn,
                                                      void *ctx,
                                                      uint32_t flags);

/* ------------------------------------------------------------------------ */
/* Debugging                                                                 */
/* ------------------------------------------------------------------------ */

/* How many ntpool objects (pools, groups, callback objects, handles) are
 * alive, the default pool excepted. For "no leaks" checks in tests.
 * EXTENSION; no API/ABI stability guaranteed. */
NTP_EXTERN long ntp_debug_live_objects(void);
/* How many queued posts (of every kind of object) were dropped so far by
 * cancel_pending in the wait-for-callbacks calls and in
 * ntp_cleanup_group_close_members: with the callbacks that ran, they
 * account for every post. For stress tests. EXTENSION. */
NTP_EXTERN uint64_t ntp_debug_cancelled_posts(void);

/* ------------------------------------------------------------------------ */
/* Tracing                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * Record what every pool does from now on -- each callback's start and end
 * on its worker thread with its object and kind, worker creation and exit,
 * queue depth per priority, timer and wait firings, completion actions --
 * and write it to `path` as Chrome Trace Event JSON when tracing stops
 * (open it in Perfetto or chrome://tracing). One trace at a time: NTP_EBUSY
 * while one runs; the file is created at once (errors: NTP_ENOENT,
 * NTP_EPERM, NTP_EINVAL). Off, tracing costs one predictable branch per
 * trace point. EXTENSION.
 */
NTP_EXTERN ntp_status ntp_trace_start(const char *path);
/* Stop recording and write the file. NTP_ENOENT if no trace runs. */
NTP_EXTERN ntp_status ntp_trace_stop(void);

#ifdef __cplusplus
}
#endif
#endif /* NTPOOL_H */
