/*
 * python_glue.h -- what the SWIG wrapper (python_typemaps.i) needs of the
 * hand-written Python glue (python_glue.c).
 *
 * The glue owns every Python object that stands for an ntpool object
 * (ntpool._ntpool.Object and its relatives), so it alone knows whether
 * one is open, closed, or in use by a call that dropped the GIL. The
 * typemaps turn such an object into the core pointer with ntpy_enter and
 * give it back with ntpy_leave once the call has returned.
 */
#ifndef NTPOOL_PYTHON_GLUE_H
#define NTPOOL_PYTHON_GLUE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "ntpool.h"

/* What an ntpool._ntpool.Object stands for. */
enum ntpy_kind {
    NTPY_POOL = 1,
    NTPY_GROUP,
    NTPY_WORK,
    NTPY_TIMER,
    NTPY_WAIT,
    NTPY_IO,
    NTPY_HANDLE,
    NTPY_REGWAIT, /* RegisterWaitForSingleObject */
    NTPY_TQUEUE,  /* CreateTimerQueue */
    NTPY_TQTIMER, /* CreateTimerQueueTimer */
    NTPY_KIND_COUNT
};

/*
 * The core pointer of `o`, an open object of `kind` (None gives NULL when
 * allow_none). On success *held is `o` with a use counted, to be handed to
 * ntpy_leave after the call (a close requested meanwhile waits for it);
 * on failure returns NULL with a TypeError/ValueError set.
 */
void *ntpy_enter(PyObject *o, int kind, int allow_none, PyObject **held);
void ntpy_leave(PyObject *held);

/* A new Object of `kind` owning `ptr` (for constructors' out-params). */
PyObject *ntpy_wrap(int kind, void *ptr);

/* The other argument types. Each returns -1 with an exception set. */
int ntpy_instance_arg(PyObject *o, ntp_instance **out);
int ntpy_env_arg(PyObject *o, const ntp_env **out);
int ntpy_cs_arg(PyObject *o, ntp_cs **out);
int ntpy_due_arg(PyObject *o, ntp_due *out);
int ntpy_library_arg(PyObject *o, void **out);
PyObject *ntpy_due_value(ntp_due due);
PyObject *ntpy_stats_value(const ntp_pool_stats *s);

/* Raise OSError(errno, "EINVAL: invalid argument") for a failed status;
 * OSError picks the builtin subclass (TimeoutError, ...) itself. */
void ntpy_raise_status(ntp_status status);

/* Module set-up, from the SWIG %init block: types, hand-written
 * functions, pool thread hooks. Returns -1 with an exception set. */
int ntpy_glue_init(PyObject *module);

#endif /* NTPOOL_PYTHON_GLUE_H */
