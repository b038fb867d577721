/*
 * python_gil.h -- the GIL handoff between pool threads and Python
 * (python_gil.c), used by the callback trampolines of python_glue.c.
 */
#ifndef NTPOOL_PYTHON_GIL_H
#define NTPOOL_PYTHON_GIL_H

#include <stdbool.h>

#include "python_glue.h"

/* The glue's thread-local state, in the initial-exec model: a plain
 * %fs-relative load instead of a __tls_get_addr call per access, on the
 * path every callback takes. It is a few hundred bytes, well within the
 * static TLS that glibc keeps for modules loaded by dlopen. */
#define NTPY_TLS _Thread_local __attribute__((tls_model("initial-exec")))

/* How the current thread came to hold the GIL for a callback. */
typedef struct ntpy_gil {
    int how; /* GIL_KEPT, GIL_WORKER or GIL_ENSURED (python_gil.c) */
    PyGILState_STATE state;
} ntpy_gil;

/* Take the GIL to run a callback on this thread. False when Python
 * dispatch has stopped (interpreter exit): the callback must then return
 * without touching Python. */
bool ntpy_gil_enter(ntpy_gil *g);
/* After the callback: a pool thread keeps the GIL for its next callback
 * (it gives it up when it goes idle, ends, or is about to run a callback
 * that is not Python's); any other thread gives it back. */
void ntpy_gil_leave(ntpy_gil *g);

/*
 * Something Python references hang on, released by the core's release
 * hook (which may run on any thread, with or without the GIL): it is
 * queued and finished later by a thread that holds the GIL.
 */
typedef struct ntpy_releasable {
    struct ntpy_releasable *next;
    void (*finish)(struct ntpy_releasable *r); /* called with the GIL */
} ntpy_releasable;

void ntpy_release_later(ntpy_releasable *r);
/* Finish what was queued; the GIL must be held. Cheap when nothing is. */
void ntpy_drain_releases(void);

/* Keep `o` (a reference, stolen) alive until the core has run the
 * completion actions of the callback now running on this thread, which
 * happens after the trampoline returns; then ntpy_unkeep(o, how). */
enum { NTPY_KEEP_REF, NTPY_KEEP_LEAVE, NTPY_KEEP_CS };
void ntpy_keep_until_return(PyObject *o, int how);
void ntpy_unkeep(PyObject *o, int how); /* python_glue.c */
/* A pool thread that holds the GIL ends: free the glue's per-thread
 * objects (python_glue.c). */
void ntpy_glue_thread_exit(void);

/* The release hook the glue gives every object it creates; pool threads
 * recognise Python callbacks by it. */
void ntpy_release_hook(void *ctx);

/* True while Python callbacks may run (until the exit hook ran). */
bool ntpy_dispatching(void);

/* Register the pool thread hooks; from module init. */
int ntpy_gil_init(void);
/* The exit hook (atexit): stop Python dispatch, wait (GIL released, at
 * most `timeout_s`) until no pool thread is in Python, finish releases. */
PyObject *ntpy_stop_dispatch(PyObject *self, PyObject *arg);

#endif /* NTPOOL_PYTHON_GIL_H */
