/*
 * python_gil.c -- how pool threads take and give back the GIL, how
 * Python references are released after the final callback, and how
 * Python dispatch stops at interpreter exit.
 *
 * POOL THREADS. A pool thread that runs its first Python callback gets a
 * Python thread state of its own (tls_ts) and keeps it until the thread
 * ends: PyGILState_Ensure/Release on a thread without a lasting thread
 * state creates and destroys one per call (about 9 us measured here,
 * against about 80 ns to take and drop the GIL with a kept one).
 * Having taken the GIL, the thread KEEPS it across consecutive Python
 * callbacks: giving it back after each one would let the submitting
 * thread take it at once, and the worker would wait a whole switch
 * interval (5 ms) per callback. It gives the GIL back
 *   - when it goes idle (the idle hook),
 *   - before it runs a callback that is not Python's (the before-callback
 *     hook: that callback might block on something a Python thread must
 *     do), recognised by the release hook the glue gives its objects,
 *   - when it ends (the exit hook, which also frees its thread state),
 *   - when Python dispatch stops.
 * Meanwhile other Python threads still get the GIL whenever the worker
 * runs Python code, by the interpreter's own switch requests.
 *
 * INTERPRETER EXIT. From 3.11 on (and earlier in practice), a thread that
 * takes the GIL while the interpreter finalizes is ended by pthread_exit
 * wherever it stands. So the module's atexit hook (ntpy_stop_dispatch)
 * turns dispatch off, then waits, GIL released, until no pool thread is
 * in Python (in_python == 0) before finalization starts. A pool thread
 * counts itself in before it looks at the flag, and looks again after it
 * got the GIL (the exit hook holds the GIL while it turns the flag off,
 * so a thread that got past the first look takes the GIL only after the
 * flag changed or before the hook ran). Afterwards callbacks return
 * without touching Python, and references still to release are left to
 * the dying process.
 *
 * RELEASES. The core calls the release hook of an object exactly once,
 * on some thread, possibly one that runs a core close path. It never
 * waits for the GIL there: the context is pushed on a lock-free stack and
 * finished (its references dropped) by whoever next holds the GIL -- a
 * trampoline, a glue call, or the main thread through Py_AddPendingCall.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "python_gil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

enum { GIL_KEPT = 1, GIL_WORKER, GIL_ENSURED, GIL_NESTED };

static PyInterpreterState *interp;
static atomic_int dispatch_on = 1;
static atomic_int in_python; /* pool threads holding or taking the GIL */
static pthread_mutex_t drain_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t drain_cond = PTHREAD_COND_INITIALIZER;

static NTPY_TLS PyThreadState *tls_ts; /* this pool thread's state */
static NTPY_TLS bool tls_holds; /* it keeps the GIL between callbacks */
/* Python callbacks running on this pool thread: more than one when a
 * callback's blocking call (which dropped the GIL) runs another callback
 * of ours on the same thread -- an APC during an alertable wait, a cancel
 * callback of close_members. */
static NTPY_TLS int tls_depth;

/* References kept until the core ran the completion actions of the
 * callback that asked for them (at most one per action kind). */
#define KEEP_MAX 8
static NTPY_TLS PyObject *tls_keep[KEEP_MAX];
static NTPY_TLS int tls_keep_how[KEEP_MAX];
static NTPY_TLS int tls_nkeep;

static _Atomic(ntpy_releasable *) releases;
static atomic_int release_call_scheduled;

bool
ntpy_dispatching(void)
{
    return atomic_load_explicit(&dispatch_on, memory_order_relaxed) != 0;
}

/* GIL held. */
static void
drop_kept(void)
{
    while (tls_nkeep > 0) {
        PyObject *o = tls_keep[--tls_nkeep];
        tls_keep[tls_nkeep] = NULL;
        ntpy_unkeep(o, tls_keep_how[tls_nkeep]);
    }
}

void
ntpy_keep_until_return(PyObject *o, int how)
{
    if (tls_nkeep == KEEP_MAX) {
        /* Cannot happen: one reference per action kind. Keep correctness
         * over memory: leak rather than free too early. */
        return;
    }
    tls_keep_how[tls_nkeep] = how;
    tls_keep[tls_nkeep++] = o;
}

static void
leave_python_count(void)
{
    if (atomic_fetch_sub(&in_python, 1) == 1 && !ntpy_dispatching()) {
        pthread_mutex_lock(&drain_lock);
        pthread_cond_broadcast(&drain_cond);
        pthread_mutex_unlock(&drain_lock);
    }
}

/* A pool thread takes the GIL with its lasting thread state. */
static bool
worker_take(void)
{
    atomic_fetch_add(&in_python, 1);
    if (!atomic_load(&dispatch_on)) {
        leave_python_count();
        return false;
    }
    if (tls_ts == NULL) {
        /* Allowed without the GIL (PyGILState_Ensure does the same). */
        tls_ts = PyThreadState_New(interp);
        if (tls_ts == NULL) {
            leave_python_count();
            return false;
        }
    }
    PyEval_RestoreThread(tls_ts);
    if (!atomic_load(&dispatch_on)) {
        PyEval_SaveThread();
        leave_python_count();
        return false;
    }
    tls_holds = true;
    return true;
}

/* A pool thread gives the GIL back. */
static void
worker_give(void)
{
    drop_kept();
    tls_holds = false;
    PyEval_SaveThread();
    leave_python_count();
}

bool
ntpy_gil_enter(ntpy_gil *g)
{
    if (tls_depth > 0) {
        /* Nested: the callback below us dropped the GIL in a blocking
         * call (Py_BEGIN_ALLOW_THREADS saved tls_ts); take it with the
         * same state and give it back at the end, as that call expects. */
        if (!ntpy_dispatching())
            return false;
        PyEval_RestoreThread(tls_ts);
        tls_depth++;
        g->how = GIL_NESTED;
        return true;
    }
    if (tls_holds) {
        if (!ntpy_dispatching()) { /* dispatch stopped meanwhile */
            worker_give();
            return false;
        }
        g->how = GIL_KEPT;
    } else if (tls_ts != NULL || PyGILState_GetThisThreadState() == NULL) {
        /* A pool thread (it has, or is about to get, its own state). */
        if (!worker_take())
            return false;
        g->how = GIL_WORKER;
    } else {
        /* A Python thread running a callback of ours: an APC during an
         * alertable wait. It has its thread state already. */
        if (!ntpy_dispatching())
            return false;
        g->state = PyGILState_Ensure();
        g->how = GIL_ENSURED;
        return true;
    }
    /* The actions of this thread's previous callback have run by now. */
    drop_kept();
    ntpy_drain_releases();
    tls_depth++;
    return true;
}

void
ntpy_gil_leave(ntpy_gil *g)
{
    switch (g->how) {
    case GIL_ENSURED:
        PyGILState_Release(g->state);
        return;
    case GIL_NESTED:
        tls_depth--;
        PyEval_SaveThread();
        return;
    default:
        tls_depth--;
        if (!ntpy_dispatching())
            worker_give();
    }
}

/* ---- pool thread hooks --------------------------------------------------- */

static void
hook_idle(void *arg)
{
    (void)arg;
    if (tls_holds)
        worker_give();
}

static void
hook_before_callback(void *arg, ntp_release_cb release)
{
    (void)arg;
    if (tls_holds && release != ntpy_release_hook)
        worker_give();
}

static void
hook_exit(void *arg)
{
    (void)arg;
    if (tls_ts == NULL)
        return;
    if (!tls_holds && !worker_take()) {
        /* Dispatch stopped: the interpreter frees the state itself. */
        tls_ts = NULL;
        return;
    }
    drop_kept();
    ntpy_glue_thread_exit();
    PyThreadState_Clear(tls_ts);
    PyThreadState_DeleteCurrent(); /* and drops the GIL */
    tls_ts = NULL;
    tls_holds = false;
    leave_python_count();
}

/* ---- releases -------------------------------------------------------------- */

static int
drain_pending_call(void *arg)
{
    (void)arg;
    atomic_store(&release_call_scheduled, 0);
    ntpy_drain_releases();
    return 0;
}

void
ntpy_release_later(ntpy_releasable *r)
{
    ntpy_releasable *head = atomic_load(&releases);
    do {
        r->next = head;
    } while (!atomic_compare_exchange_weak(&releases, &head, r));
    /* Someone holding the GIL will come by; make sure of it when the
     * process is otherwise quiet. Py_AddPendingCall needs no GIL. */
    if (ntpy_dispatching() && !atomic_exchange(&release_call_scheduled, 1)) {
        if (Py_AddPendingCall(drain_pending_call, NULL) != 0)
            atomic_store(&release_call_scheduled, 0);
    }
}

void
ntpy_drain_releases(void)
{
    if (atomic_load_explicit(&releases, memory_order_relaxed) == NULL)
        return;
    ntpy_releasable *r = atomic_exchange(&releases, NULL);
    while (r != NULL) {
        ntpy_releasable *next = r->next;
        r->finish(r);
        r = next;
    }
}

void
ntpy_release_hook(void *ctx)
{
    ntpy_release_later((ntpy_releasable *)ctx);
}

/* ---- exit ---------------------------------------------------------------- */

PyObject *
ntpy_stop_dispatch(PyObject *self, PyObject *arg)
{
    (void)self;
    double timeout_s = PyFloat_AsDouble(arg);
    if (timeout_s == -1.0 && PyErr_Occurred())
        return NULL;
    atomic_store(&dispatch_on, 0);
    ntpy_drain_releases();

    bool drained;
    Py_BEGIN_ALLOW_THREADS
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)timeout_s;
    until.tv_nsec += (long)((timeout_s - (double)(time_t)timeout_s) * 1e9);
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&drain_lock);
    while (atomic_load(&in_python) > 0) {
        if (pthread_cond_timedwait(&drain_cond, &drain_lock, &until) != 0)
            break;
    }
    drained = atomic_load(&in_python) == 0;
    pthread_mutex_unlock(&drain_lock);
    Py_END_ALLOW_THREADS

    ntpy_drain_releases();
    return PyBool_FromLong(drained);
}

int
ntpy_gil_init(void)
{
    interp = PyInterpreterState_Get();
    static const ntp_thread_hooks hooks = {
        .idle = hook_idle,
        .exit = hook_exit,
        .arg = NULL,
        .before_callback = hook_before_callback,
    };
    ntp_status st = ntp_thread_hooks_register(&hooks);
    if (st < 0) {
        ntpy_raise_status(st);
        return -1;
    }
    return 0;
}
