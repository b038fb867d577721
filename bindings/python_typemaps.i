/*
 * python_typemaps.i -- the Python half of bindings/ntpool.i.
 *
 * Generates ntpool._raw (Python proxy) over the C module ntpool._ntpool.
 * SWIG writes the one-to-one wrappers of the calls that take and return
 * plain values and objects; python_glue.c writes the ones that take
 * callbacks, close objects or keep Python values for the core, and adds
 * them, with its types, to the same module (ntpy_glue_init below).
 */

%{
#include "python_glue.h"
%}

/* ---- hand-written in python_glue.c ------------------------------------- */
%ignore ntp_work_create;
%ignore ntp_timer_create;
%ignore ntp_wait_create;
%ignore ntp_io_create;
%ignore ntp_try_submit;
%ignore ntp_wait_set;
%ignore ntp_wait_set_due;
%ignore ntp_wait_set_ex;
%ignore ntp_cleanup_group_close_members;
%ignore ntp_wait_for_multiple;
%ignore ntp_queue_apc;
%ignore ntp_queue_user_work_item;
%ignore ntp_register_wait;
%ignore ntp_unregister_wait;
%ignore ntp_unregister_wait_ex;
%ignore ntp_timer_queue_timer_create;
%ignore ntp_timer_queue_timer_delete;
%ignore ntp_timer_queue_delete;
%ignore ntp_timer_queue_delete_ex;
%ignore ntp_pool_close;
%ignore ntp_cleanup_group_close;
%ignore ntp_work_close;
%ignore ntp_timer_close;
%ignore ntp_wait_close;
%ignore ntp_io_close;
%ignore ntp_handle_close;
%ignore ntp_pool_default;
%ignore ntp_io_read;
%ignore ntp_io_write;
%ignore ntp_io_cancel_ops;
%ignore ntp_overlapped_result;
%ignore ntp_env;
%ignore ntp_env_init;
%ignore ntp_env_destroy;
%ignore ntp_env_set_pool;
%ignore ntp_env_set_cleanup_group;
%ignore ntp_env_set_priority;
%ignore ntp_env_set_runs_long;
%ignore ntp_env_set_persistent;
%ignore ntp_env_set_library;
%ignore ntp_instance_set_event_on_return;
%ignore ntp_instance_release_semaphore_on_return;
%ignore ntp_instance_release_mutex_on_return;
%ignore ntp_instance_leave_cs_on_return;
%ignore ntp_instance_free_library_on_return;
%ignore ntp_instance_may_run_long;
%ignore ntp_instance_disassociate;
%ignore ntp_cs_init;
%ignore ntp_cs_destroy;
/* Needs a C callback; the win32 layer queues an APC from Python. */
%ignore ntp_waitable_timer_set_apc;
%ignore ntp_bind_io_completion_callback;
%ignore ntp_pool_stats;

/* ---- the GIL -------------------------------------------------------------
 * threads="1" drops the GIL around every call. These never block, and a
 * submit that dropped the GIL would hand it to a waiting worker and then
 * wait a whole switch interval to get it back. */
%nothread ntp_work_submit;
%nothread ntp_timer_set;
%nothread ntp_timer_set_ex;
%nothread ntp_timer_is_set;
%nothread ntp_event_set;
%nothread ntp_event_reset;
%nothread ntp_event_pulse;
%nothread ntp_semaphore_release;
%nothread ntp_mutex_release;
%nothread ntp_cs_try_enter;
%nothread ntp_cs_leave;
%nothread ntp_io_start;
%nothread ntp_io_cancel;
%nothread ntp_strerror;
%nothread ntp_err_name;
%nothread ntp_due_none;
%nothread ntp_due_in_ms;
%nothread ntp_due_in_ns;
%nothread ntp_due_at_unix_ns;
%nothread ntp_pool_stats_get;
%nothread ntp_handle_kind_of;
%nothread ntp_handle_get_fd;
%nothread ntp_debug_live_objects;
%nothread ntp_debug_cancelled_posts;
%nothread ntp_pool_set_max_threads;
%nothread ntp_event_create;
%nothread ntp_semaphore_create;
%nothread ntp_mutex_create;
%nothread ntp_waitable_timer_create;
%nothread ntp_waitable_timer_set;
%nothread ntp_waitable_timer_cancel;
%nothread ntp_thread_current;
%nothread ntp_fd_handle_create;
%nothread ntp_cleanup_group_create;
%nothread ntp_pool_create;
%nothread ntp_timer_queue_create;
%nothread ntp_timer_queue_timer_change;

/* ---- statuses --------------------------------------------------------------
 * 0 -> None; a failure raises OSError(errno, "EINVAL: ...") (the builtin
 * subclass where there is one: TimeoutError, PermissionError...). */
%typemap(out) ntp_status
%{
    if ($1 < 0) {
        ntpy_raise_status($1);
        SWIG_fail;
    }
    /* Nothing yet: out-parameters become the result (argout below); a
     * call without any returns None (ret). Not None here: SWIG 4.3 turns
     * None plus an output of a non-void function into a list. */
    $result = NULL;
%}
%typemap(ret) ntp_status
%{
    if ($result == NULL) {
        $result = Py_None;
        Py_INCREF(Py_None);
    }
%}

/* ---- objects ---------------------------------------------------------------
 * An ntpool object argument: open, of the right kind, counted busy for the
 * duration of the call (a close meanwhile waits for it). None is NULL
 * only where the C API gives NULL a meaning (the default pool or timer
 * queue, no cleanup group); elsewhere it is a TypeError. */
%define NTPY_OBJECT(TYPE, KIND, ALLOW_NONE)
%typemap(in) TYPE * (PyObject *held = NULL)
%{
    $1 = ($1_ltype)ntpy_enter($input, KIND, ALLOW_NONE, &held);
    if ($1 == NULL && PyErr_Occurred())
        SWIG_fail;
%}
%typemap(freearg) TYPE *
%{
    ntpy_leave(held$argnum);
%}
%typemap(in, numinputs=0) TYPE **out (TYPE *tmp = NULL)
%{
    $1 = &tmp;
%}
%typemap(argout) TYPE **out
{
    {
        PyObject *o = ntpy_wrap(KIND, (void *)*$1);
        if (o == NULL)
            SWIG_fail;
        %append_output(o);
    }
}
%enddef

NTPY_OBJECT(ntp_pool, NTPY_POOL, 1)
NTPY_OBJECT(ntp_cleanup_group, NTPY_GROUP, 1)
NTPY_OBJECT(ntp_work, NTPY_WORK, 0)
NTPY_OBJECT(ntp_timer, NTPY_TIMER, 0)
NTPY_OBJECT(ntp_wait, NTPY_WAIT, 0)
NTPY_OBJECT(ntp_io, NTPY_IO, 0)
NTPY_OBJECT(ntp_handle, NTPY_HANDLE, 0)
NTPY_OBJECT(ntp_registered_wait, NTPY_REGWAIT, 0)
NTPY_OBJECT(ntp_timer_queue, NTPY_TQUEUE, 1)
NTPY_OBJECT(ntp_timer_queue_timer, NTPY_TQTIMER, 0)

%typemap(in) const ntp_io * (PyObject *held = NULL)
%{
    $1 = ($1_ltype)ntpy_enter($input, NTPY_IO, 0, &held);
    if ($1 == NULL)
        SWIG_fail;
%}
%typemap(freearg) const ntp_io *
%{
    ntpy_leave(held$argnum);
%}

%typemap(in) ntp_cs *
%{
    if (ntpy_cs_arg($input, &$1) < 0)
        SWIG_fail;
%}

/* ---- values ---------------------------------------------------------------- */
/* Windows' BOOLs are ints: any truth value will do, as in pywin32. */
%typemap(in) bool
%{
    {
        int truth = PyObject_IsTrue($input);
        if (truth < 0)
            SWIG_fail;
        $1 = truth != 0;
    }
%}
%typemap(typecheck) bool = int;

%typemap(in) ntp_due
%{
    if (ntpy_due_arg($input, &$1) < 0)
        SWIG_fail;
%}
%typemap(out) ntp_due
%{
    $result = ntpy_due_value($1);
    if ($result == NULL)
        SWIG_fail;
%}

/* A file descriptor: an int or anything with fileno(). */
%typemap(in) int fd
%{
    $1 = PyObject_AsFileDescriptor($input);
    if ($1 < 0)
        SWIG_fail;
%}

%typemap(in, numinputs=0) ntp_pool_stats *out (ntp_pool_stats tmp)
%{
    $1 = &tmp;
%}
%typemap(argout) ntp_pool_stats *out
{
    {
        PyObject *o = ntpy_stats_value($1);
        if (o == NULL)
            SWIG_fail;
        %append_output(o);
    }
}

%typemap(in, numinputs=0) int32_t *previous (int32_t tmp = 0)
%{
    $1 = &tmp;
%}
%typemap(argout) int32_t *previous
{
    %append_output(PyLong_FromLong(*$1));
}

%typemap(in, numinputs=0) size_t *reserve (size_t tmp = 0),
                          size_t *commit (size_t tmp = 0)
%{
    $1 = &tmp;
%}
%typemap(argout) size_t *reserve, size_t *commit
{
    %append_output(PyLong_FromSize_t(*$1));
}

%typemap(in, numinputs=0) int *fd (int tmp = -1)
%{
    $1 = &tmp;
%}
%typemap(argout) int *fd
{
    %append_output(PyLong_FromLong(*$1));
}

/* Windows' DWORDs: accept any non-negative int up to 2**32 - 1, and
 * INFINITE. */
%typemap(in) uint32_t
%{
    {
        unsigned long v = PyLong_AsUnsignedLong($input);
        if (v == (unsigned long)-1 && PyErr_Occurred())
            SWIG_fail;
        if (v > 0xFFFFFFFFul) {
            PyErr_SetString(PyExc_OverflowError, "value does not fit a DWORD");
            SWIG_fail;
        }
        $1 = (uint32_t)v;
    }
%}
%typemap(typecheck) uint32_t = unsigned int;

/* SWIG 4.4 moved Python modules to multi-phase initialization: this code
 * then runs in the module's exec function, which returns an int, and the
 * GIL slot comes from SWIGPYTHON_NOGIL (setup.py defines it). Before 4.4
 * it runs in the single-phase PyInit function. */
%init %{
    if (ntpy_glue_init(m) < 0) {
#if SWIG_VERSION >= 0x040400
        return -1;
#else
        return NULL;
#endif
    }
#if SWIG_VERSION < 0x040400 && defined(Py_GIL_DISABLED)
    /* Free-threaded builds: the glue's shared state is atomics and its own
     * locks; nothing relies on the GIL for exclusion. */
    PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED);
#endif
%}

/* The hand-written functions, under the same one-to-one names. */
%pythoncode %{
from ._ntpool import (
    Object, Instance, Env, CriticalSection, Overlapped, NO_CONTEXT,
    CURRENT_THREAD, ntp_work_create, ntp_timer_create, ntp_wait_create,
    ntp_io_create, ntp_try_submit, ntp_wait_set, ntp_wait_set_due,
    ntp_wait_set_ex, ntp_cleanup_group_close_members, ntp_wait_for_multiple,
    ntp_queue_apc, ntp_queue_user_work_item, ntp_register_wait,
    ntp_unregister_wait, ntp_unregister_wait_ex, ntp_timer_queue_timer_create,
    ntp_timer_queue_timer_delete, ntp_timer_queue_delete,
    ntp_timer_queue_delete_ex, ntp_pool_close, ntp_cleanup_group_close,
    ntp_work_close, ntp_timer_close, ntp_wait_close, ntp_io_close,
    ntp_handle_close, ntp_pool_default, ntp_pool_dump, ntp_io_read,
    ntp_io_write, ntp_io_cancel_ops, ntp_overlapped_result, ntp_env_init,
    ntp_env_destroy, ntp_env_set_pool, ntp_env_set_cleanup_group,
    ntp_env_set_priority, ntp_env_set_runs_long, ntp_env_set_persistent,
    ntp_env_set_library, ntp_instance_set_event_on_return,
    ntp_instance_release_semaphore_on_return,
    ntp_instance_release_mutex_on_return, ntp_instance_leave_cs_on_return,
    ntp_instance_free_library_on_return, ntp_instance_may_run_long,
    ntp_instance_disassociate, ntp_waitable_timer_set_apc,
    ntp_bind_io_completion_callback, _stop_dispatch,
)
%}
