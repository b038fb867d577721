"""The Windows names: the thread-pool API with Windows argument order and
callback signatures (context included), the kernel objects with pywin32's
(win32event/win32api) signatures, the original thread-pool API, and the
constants. C written against the Windows thread pool translates to it
line by line::

    def work_callback(instance, context, work):
        SetEventWhenCallbackReturns(instance, context)

    done = CreateEvent(None, False, False, None)
    work = CreateThreadpoolWork(work_callback, done, None)
    SubmitThreadpoolWork(work)
    WaitForSingleObject(done, INFINITE)
    CloseThreadpoolWork(work)

Times follow Windows: milliseconds as ints (INFINITE = 0xFFFFFFFF), and
thread-pool due times as FILETIME ints (negative: relative, in 100 ns
units; positive: absolute; None: no time). Failures that Windows reports
through GetLastError raise ``ntpool.win32.error``, an OSError carrying
``winerror``.
"""

import collections
import errno as _errno
import os
import threading
import time

from . import _raw
from ._time import due_from_filetime

# --------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------

INFINITE = 0xFFFFFFFF
WAIT_OBJECT_0 = 0x000
WAIT_ABANDONED = 0x080
WAIT_ABANDONED_0 = WAIT_ABANDONED
WAIT_IO_COMPLETION = 0x0C0
WAIT_TIMEOUT = 0x102
WAIT_FAILED = 0xFFFFFFFF
MAXIMUM_WAIT_OBJECTS = 64
INVALID_HANDLE_VALUE = -1

TP_CALLBACK_PRIORITY_HIGH = 0
TP_CALLBACK_PRIORITY_NORMAL = 1
TP_CALLBACK_PRIORITY_LOW = 2
TP_CALLBACK_PRIORITY_INVALID = 3

WT_EXECUTEDEFAULT = 0x00000000
WT_EXECUTEINIOTHREAD = 0x00000001
WT_EXECUTEINUITHREAD = 0x00000002
WT_EXECUTEINWAITTHREAD = 0x00000004
WT_EXECUTEONLYONCE = 0x00000008
WT_EXECUTELONGFUNCTION = 0x00000010
WT_EXECUTEINTIMERTHREAD = 0x00000020
WT_EXECUTEINPERSISTENTIOTHREAD = 0x00000040
WT_EXECUTEINPERSISTENTTHREAD = 0x00000080
WT_TRANSFER_IMPERSONATION = 0x00000100


def WT_SET_MAX_THREADPOOL_THREADS(flags, limit):
    return flags | ((limit & 0xFFFF) << 16)


ERROR_SUCCESS = NO_ERROR = 0
ERROR_FILE_NOT_FOUND = 2
ERROR_INVALID_HANDLE = 6
ERROR_NOT_ENOUGH_MEMORY = 8
ERROR_GEN_FAILURE = 31
ERROR_HANDLE_EOF = 38
ERROR_NOT_SUPPORTED = 50
ERROR_INVALID_PARAMETER = 87
ERROR_ALREADY_EXISTS = 183
ERROR_NOT_OWNER = 288
ERROR_TOO_MANY_POSTS = 298
ERROR_OPERATION_ABORTED = 995
ERROR_IO_INCOMPLETE = 996
ERROR_IO_PENDING = 997
ERROR_TIMEOUT = 1460

# The core's errno statuses as Windows error codes (as <ntpool/win32.h>).
_WINERROR = {
    _errno.EINVAL: ERROR_INVALID_PARAMETER,
    _errno.ENOMEM: ERROR_NOT_ENOUGH_MEMORY,
    _errno.EAGAIN: ERROR_NOT_ENOUGH_MEMORY,
    _errno.EBADF: ERROR_INVALID_HANDLE,
    _errno.EPERM: ERROR_NOT_OWNER,
    _errno.EOVERFLOW: ERROR_TOO_MANY_POSTS,
    _errno.ECANCELED: ERROR_OPERATION_ABORTED,
    _errno.EEXIST: ERROR_ALREADY_EXISTS,
    _errno.ENOTSUP: ERROR_NOT_SUPPORTED,
    _errno.ENOSYS: ERROR_NOT_SUPPORTED,
    _errno.EINPROGRESS: ERROR_IO_PENDING,
    _errno.ETIMEDOUT: ERROR_TIMEOUT,
    _errno.ENOENT: ERROR_FILE_NOT_FOUND,
}


class error(OSError):
    """A failure Windows reports through GetLastError: ``winerror`` is the
    Windows code, ``funcname`` the function (as pywintypes.error)."""

    def __init__(self, winerror, funcname, strerror, errno=None):
        super().__init__(errno if errno is not None else 0, strerror)
        self.winerror = winerror
        self.funcname = funcname

    def __str__(self):
        return "(%d, %r, %r)" % (self.winerror, self.funcname, self.strerror)


_last_error = threading.local()


def GetLastError():
    """The Windows error code of this thread's last failed call."""
    return getattr(_last_error, "value", 0)


def SetLastError(code):
    _last_error.value = code


def winerror_of_status(status):
    """A negative errno status (as callbacks and I/O results carry it) as
    a Windows error code; 0 stays NO_ERROR."""
    if status == 0:
        return NO_ERROR
    return _WINERROR.get(-status, ERROR_GEN_FAILURE)


def _fail(funcname, exc):
    """Raise `exc` (an OSError from the core) as win32.error."""
    code = _WINERROR.get(exc.errno, ERROR_GEN_FAILURE)
    SetLastError(code)
    raise error(code, funcname, exc.strerror, exc.errno) from None


def _call(funcname, fn, *args):
    try:
        return fn(*args)
    except error:
        raise
    except OSError as exc:
        _fail(funcname, exc)


def _bool_call(funcname, fn, *args):
    """For the functions that report failure as FALSE + last error."""
    try:
        fn(*args)
    except OSError as exc:
        SetLastError(_WINERROR.get(exc.errno, ERROR_GEN_FAILURE))
        return False
    return True


# --------------------------------------------------------------------------
# Pools, cleanup groups, environments
# --------------------------------------------------------------------------

TP_POOL_STACK_INFORMATION = collections.namedtuple(
    "TP_POOL_STACK_INFORMATION", "StackReserve StackCommit")


def CreateThreadpool(reserved=None):
    return _call("CreateThreadpool", _raw.ntp_pool_create)


def CloseThreadpool(pool):
    _raw.ntp_pool_close(pool)


def SetThreadpoolThreadMaximum(pool, maximum):
    _raw.ntp_pool_set_max_threads(pool, maximum)


def SetThreadpoolThreadMinimum(pool, minimum):
    return _bool_call("SetThreadpoolThreadMinimum",
                      _raw.ntp_pool_set_min_threads, pool, minimum)


def SetThreadpoolStackInformation(pool, info):
    """info: TP_POOL_STACK_INFORMATION (or a (reserve, commit) pair)."""
    reserve, commit = info
    return _bool_call("SetThreadpoolStackInformation",
                      _raw.ntp_pool_set_stack, pool, reserve, commit)


def QueryThreadpoolStackInformation(pool):
    reserve, commit = _call("QueryThreadpoolStackInformation",
                            _raw.ntp_pool_get_stack, pool)
    return TP_POOL_STACK_INFORMATION(reserve, commit)


def CreateThreadpoolCleanupGroup():
    return _call("CreateThreadpoolCleanupGroup",
                 _raw.ntp_cleanup_group_create)


def CloseThreadpoolCleanupGroupMembers(group, cancel_pending,
                                       cleanup_context):
    _call("CloseThreadpoolCleanupGroupMembers",
          _raw.ntp_cleanup_group_close_members, group, bool(cancel_pending),
          cleanup_context)


def CloseThreadpoolCleanupGroup(group):
    _raw.ntp_cleanup_group_close(group)


def InitializeThreadpoolEnvironment():
    """A new callback environment (TP_CALLBACK_ENVIRON), default pool."""
    return _raw.ntp_env_init()


DestroyThreadpoolEnvironment = _raw.ntp_env_destroy
SetThreadpoolCallbackPool = _raw.ntp_env_set_pool
SetThreadpoolCallbackRunsLong = _raw.ntp_env_set_runs_long
SetThreadpoolCallbackPersistent = _raw.ntp_env_set_persistent
SetThreadpoolCallbackLibrary = _raw.ntp_env_set_library
SetThreadpoolCallbackPriority = _raw.ntp_env_set_priority


def SetThreadpoolCallbackCleanupGroup(env, group, cancel_callback):
    """cancel_callback(object_context, cleanup_context), called by
    CloseThreadpoolCleanupGroupMembers(..., TRUE, ...) per member."""
    _raw.ntp_env_set_cleanup_group(env, group, cancel_callback)


# --------------------------------------------------------------------------
# Work, timers, waits
# --------------------------------------------------------------------------

def CreateThreadpoolWork(callback, context, env=None):
    """callback(instance, context, work)."""
    return _call("CreateThreadpoolWork", _raw.ntp_work_create, callback,
                 context, env)


SubmitThreadpoolWork = _raw.ntp_work_submit  # the C wrapper: no frame


def TrySubmitThreadpoolCallback(callback, context, env=None):
    """callback(instance, context), once. FALSE (and the last error) if
    it could not be queued."""
    return _bool_call("TrySubmitThreadpoolCallback", _raw.ntp_try_submit,
                      callback, context, env)


def WaitForThreadpoolWorkCallbacks(work, cancel_pending):
    _raw.ntp_work_wait(work, bool(cancel_pending))


def CloseThreadpoolWork(work):
    _raw.ntp_work_close(work)


def CreateThreadpoolTimer(callback, context, env=None):
    """callback(instance, context, timer)."""
    return _call("CreateThreadpoolTimer", _raw.ntp_timer_create, callback,
                 context, env)


def SetThreadpoolTimer(timer, due, period_ms=0, window_ms=0):
    """due: None stops the timer; an int FILETIME (negative: relative, in
    100 ns units; positive: absolute)."""
    _raw.ntp_timer_set(timer, due_from_filetime(due), period_ms, window_ms)


def SetThreadpoolTimerEx(timer, due, period_ms=0, window_ms=0):
    """As SetThreadpoolTimer; TRUE if the timer was set before."""
    return _raw.ntp_timer_set_ex(timer, due_from_filetime(due), period_ms,
                                 window_ms)


IsThreadpoolTimerSet = _raw.ntp_timer_is_set


def WaitForThreadpoolTimerCallbacks(timer, cancel_pending):
    _raw.ntp_timer_wait(timer, bool(cancel_pending))


def CloseThreadpoolTimer(timer):
    _raw.ntp_timer_close(timer)


def CreateThreadpoolWait(callback, context, env=None):
    """callback(instance, context, wait, wait_result)."""
    return _call("CreateThreadpoolWait", _raw.ntp_wait_create, callback,
                 context, env)


def SetThreadpoolWait(wait, handle, timeout=None):
    """handle None cancels; timeout None waits forever, else an int
    FILETIME as for timers (0: time out at once)."""
    _raw.ntp_wait_set_ex(wait, handle, due_from_filetime(timeout))


def SetThreadpoolWaitEx(wait, handle, timeout=None, reserved=None):
    """As SetThreadpoolWait; TRUE if the wait was set before."""
    return _raw.ntp_wait_set_ex(wait, handle, due_from_filetime(timeout))


def WaitForThreadpoolWaitCallbacks(wait, cancel_pending):
    _raw.ntp_wait_wait(wait, bool(cancel_pending))


def CloseThreadpoolWait(wait):
    _raw.ntp_wait_close(wait)


# --------------------------------------------------------------------------
# I/O
# --------------------------------------------------------------------------

OVERLAPPED = _raw.Overlapped

# The I/O object bound to each descriptor, so that ReadFile/WriteFile on
# the descriptor complete to it, as on Windows.
_io_by_fd = {}
_bound_fds = set()  # BindIoCompletionCallback: ReadFile announces itself
_io_lock = threading.Lock()


def _fd_of(handle):
    if isinstance(handle, int):
        return handle
    return handle.fileno()


def _bind(fd, io):
    with _io_lock:
        _io_by_fd[fd] = io


def _io_for(handle, funcname):
    fd = _fd_of(handle)
    with _io_lock:
        io = _io_by_fd.get(fd)
        bound = fd in _bound_fds
    if io is None or io.closed:
        SetLastError(ERROR_INVALID_HANDLE)
        raise error(ERROR_INVALID_HANDLE, funcname,
                    "no thread-pool I/O object is bound to this handle")
    return io, bound


def _start_op(funcname, op, handle, overlapped, arg):
    """ReadFile/WriteFile: a handle bound by BindIoCompletionCallback
    announces its own operations (the caller of CreateThreadpoolIo calls
    StartThreadpoolIo itself, as on Windows)."""
    io, bound = _io_for(handle, funcname)
    if bound:
        _raw.ntp_io_start(io)
    try:
        op(io, overlapped, arg)
    except OSError as exc:
        if bound:
            _raw.ntp_io_cancel(io)
        _fail(funcname, exc)
    SetLastError(ERROR_IO_PENDING)


def CreateThreadpoolIo(fd_or_file, callback, context, env=None):
    """callback(instance, context, overlapped, io_result, nbytes, io):
    io_result is a Windows error code (NO_ERROR, ERROR_OPERATION_ABORTED,
    ERROR_HANDLE_EOF...)."""

    def completion(instance, context, overlapped, status, nbytes, io):
        callback(instance, context, overlapped, winerror_of_status(status),
                 nbytes, io)

    io = _call("CreateThreadpoolIo", _raw.ntp_io_create, fd_or_file,
               completion, context, env)
    _bind(_fd_of(fd_or_file), io)
    return io


StartThreadpoolIo = _raw.ntp_io_start
CancelThreadpoolIo = _raw.ntp_io_cancel


def WaitForThreadpoolIoCallbacks(io, cancel_pending):
    _raw.ntp_io_wait(io, bool(cancel_pending))


def CloseThreadpoolIo(io):
    _raw.ntp_io_close(io)


def ReadFile(handle, size, overlapped):
    """Start an asynchronous read of up to ``size`` bytes on a handle bound
    to an I/O object (CreateThreadpoolIo or BindIoCompletionCallback), as
    pywin32's ReadFile: returns (ERROR_IO_PENDING, None); the bytes come
    in ``overlapped.data`` when the completion callback runs."""
    _start_op("ReadFile", _raw.ntp_io_read, handle, overlapped, size)
    return ERROR_IO_PENDING, None


def WriteFile(handle, data, overlapped):
    """Start an asynchronous write; returns (ERROR_IO_PENDING, 0)."""
    _start_op("WriteFile", _raw.ntp_io_write, handle, overlapped, data)
    return ERROR_IO_PENDING, 0


def CancelIoEx(handle, overlapped=None):
    _call("CancelIoEx", _raw.ntp_io_cancel_ops,
          _io_for(handle, "CancelIoEx")[0], overlapped)


def CancelIo(handle):
    CancelIoEx(handle, None)


def GetOverlappedResult(handle, overlapped, wait):
    """The bytes transferred; raises error(ERROR_IO_INCOMPLETE) if not
    done and not waiting."""
    try:
        return _raw.ntp_overlapped_result(overlapped, bool(wait))
    except OSError as exc:
        if exc.errno == _errno.EBUSY:
            SetLastError(ERROR_IO_INCOMPLETE)
            raise error(ERROR_IO_INCOMPLETE, "GetOverlappedResult",
                        "overlapped I/O event is not in a signaled state") \
                from None
        _fail("GetOverlappedResult", exc)


# --------------------------------------------------------------------------
# Callback instances
# --------------------------------------------------------------------------

def _void_action(method, *args):
    """The ...WhenCallbackReturns functions return nothing on Windows; a
    second request of one kind is diagnosed by the core and ignored."""
    try:
        method(*args)
    except OSError as exc:
        if exc.errno != _errno.EEXIST:
            raise


def CallbackMayRunLong(instance):
    return instance.may_run_long()


def DisassociateCurrentThreadFromCallback(instance):
    instance.disassociate()


def SetEventWhenCallbackReturns(instance, event):
    _void_action(instance.set_event_on_return, event)


def ReleaseSemaphoreWhenCallbackReturns(instance, semaphore, count):
    _void_action(instance.release_semaphore_on_return, semaphore, count)


def ReleaseMutexWhenCallbackReturns(instance, mutex):
    _void_action(instance.release_mutex_on_return, mutex)


def LeaveCriticalSectionWhenCallbackReturns(instance, cs):
    _void_action(instance.leave_critical_section_on_return, cs)


def FreeLibraryWhenCallbackReturns(instance, library):
    _void_action(instance.free_library_on_return, library)


# --------------------------------------------------------------------------
# Kernel objects (pywin32 signatures)
# --------------------------------------------------------------------------

def _no_name(funcname, name):
    if name is not None:
        # Handles are process-local here: a name would be ignored, so it
        # is refused (as <ntpool/win32.h> does).
        SetLastError(ERROR_NOT_SUPPORTED)
        raise error(ERROR_NOT_SUPPORTED, funcname,
                    "named kernel objects are not supported")


def CreateEvent(sa, manual_reset, initial_state, name):
    _no_name("CreateEvent", name)
    return _call("CreateEvent", _raw.ntp_event_create, bool(manual_reset),
                 bool(initial_state))


def SetEvent(handle):
    _call("SetEvent", _raw.ntp_event_set, handle)


def ResetEvent(handle):
    _call("ResetEvent", _raw.ntp_event_reset, handle)


def PulseEvent(handle):
    _call("PulseEvent", _raw.ntp_event_pulse, handle)


def CreateSemaphore(sa, initial, maximum, name):
    _no_name("CreateSemaphore", name)
    return _call("CreateSemaphore", _raw.ntp_semaphore_create, initial,
                 maximum)


def ReleaseSemaphore(handle, count):
    """Returns the previous count."""
    return _call("ReleaseSemaphore", _raw.ntp_semaphore_release, handle,
                 count)


def CreateMutex(sa, initial_owner, name):
    _no_name("CreateMutex", name)
    return _call("CreateMutex", _raw.ntp_mutex_create, bool(initial_owner))


def ReleaseMutex(handle):
    _call("ReleaseMutex", _raw.ntp_mutex_release, handle)


def CreateWaitableTimer(sa, manual_reset, name):
    _no_name("CreateWaitableTimer", name)
    return _call("CreateWaitableTimer", _raw.ntp_waitable_timer_create,
                 bool(manual_reset))


def SetWaitableTimer(handle, due, period_ms, func=None, arg=None,
                     resume=False):
    """due: an int FILETIME (negative: relative). func(arg, low, high), if
    given, runs as an APC on this thread when it waits alertably."""
    if due is None:
        raise TypeError("SetWaitableTimer needs a due time")
    d = due_from_filetime(due)
    if func is None:
        _call("SetWaitableTimer", _raw.ntp_waitable_timer_set, handle, d,
              period_ms)
    else:
        _call("SetWaitableTimer", _raw.ntp_waitable_timer_set_apc, handle, d,
              period_ms, func, arg)
    if resume:
        SetLastError(ERROR_NOT_SUPPORTED)  # succeeds, as on Windows


def CancelWaitableTimer(handle):
    _call("CancelWaitableTimer", _raw.ntp_waitable_timer_cancel, handle)


def InitializeCriticalSection():
    """A new critical section (Python cannot lay one out in place)."""
    return _raw.CriticalSection()


EnterCriticalSection = _raw.ntp_cs_enter
TryEnterCriticalSection = _raw.ntp_cs_try_enter


def LeaveCriticalSection(cs):
    _raw.ntp_cs_leave(cs)


def DeleteCriticalSection(cs):
    cs.delete()


def _wait_code(funcname, r):
    if r < 0:
        SetLastError(_WINERROR.get(-r, ERROR_GEN_FAILURE))
        return WAIT_FAILED
    return r


def WaitForSingleObject(handle, ms):
    return WaitForSingleObjectEx(handle, ms, False)


def WaitForSingleObjectEx(handle, ms, alertable):
    if handle is None:  # NULL
        SetLastError(ERROR_INVALID_HANDLE)
        return WAIT_FAILED
    return _wait_code("WaitForSingleObjectEx",
                      _raw.ntp_wait_for_single(handle, ms, bool(alertable)))


def WaitForMultipleObjects(handles, wait_all, ms):
    return WaitForMultipleObjectsEx(handles, wait_all, ms, False)


def WaitForMultipleObjectsEx(handles, wait_all, ms, alertable):
    try:
        return _raw.ntp_wait_for_multiple(list(handles), bool(wait_all), ms,
                                          bool(alertable))
    except OSError as exc:
        SetLastError(_WINERROR.get(exc.errno, ERROR_GEN_FAILURE))
        return WAIT_FAILED


def SignalObjectAndWait(to_signal, to_wait, ms, alertable):
    """Signal one object (event, semaphore by one, or mutex), then wait
    for another. (Not one atomic step here: a waiter of `to_signal` may
    run before this thread waits, which a correct program allows.)"""
    kind = _raw.ntp_handle_kind_of(to_signal)
    if kind == _raw.NTP_HANDLE_EVENT:
        SetEvent(to_signal)
    elif kind == _raw.NTP_HANDLE_SEMAPHORE:
        ReleaseSemaphore(to_signal, 1)
    elif kind == _raw.NTP_HANDLE_MUTEX:
        ReleaseMutex(to_signal)
    else:
        SetLastError(ERROR_INVALID_HANDLE)
        return WAIT_FAILED
    return WaitForSingleObjectEx(to_wait, ms, alertable)


def Sleep(ms):
    _raw.ntp_sleep_ex(ms, False)


def SleepEx(ms, alertable):
    return _raw.ntp_sleep_ex(ms, bool(alertable))


def QueueUserAPC(func, thread_handle, data):
    """func(data) runs on the thread during its next alertable wait."""
    _call("QueueUserAPC", _raw.ntp_queue_apc, func, thread_handle, data)
    return True


def GetCurrentThread():
    """The pseudo-handle of the calling thread (for QueueUserAPC)."""
    return _raw.CURRENT_THREAD


def GetCurrentThreadId():
    return threading.get_native_id()


def GetCurrentProcessId():
    return os.getpid()


def CloseHandle(handle):
    """Close any handle ntpool made (events, semaphores, mutexes, waitable
    timers, thread handles)."""
    _call("CloseHandle", _raw.ntp_handle_close, handle)


def GetTickCount64():
    return time.monotonic_ns() // 1000000


def GetTickCount():
    return GetTickCount64() & 0xFFFFFFFF


def GetSystemTimeAsFileTime():
    from ._time import filetime_now
    return filetime_now()


# --------------------------------------------------------------------------
# The original thread-pool API
# --------------------------------------------------------------------------

def QueueUserWorkItem(func, context, flags):
    """func(context) on a pool thread."""
    return _bool_call("QueueUserWorkItem", _raw.ntp_queue_user_work_item,
                      func, context, flags)


def RegisterWaitForSingleObject(handle, callback, context, ms, flags):
    """callback(context, timer_or_wait_fired); re-armed after each call
    unless WT_EXECUTEONLYONCE. Returns the wait handle."""
    return _call("RegisterWaitForSingleObject", _raw.ntp_register_wait,
                 handle, callback, context, ms, flags)


def UnregisterWait(wait_handle):
    _call("UnregisterWait", _raw.ntp_unregister_wait, wait_handle)


def UnregisterWaitEx(wait_handle, completion):
    """completion: None (return at once), INVALID_HANDLE_VALUE (wait for
    running callbacks) or an event (set once they are done)."""
    _call("UnregisterWaitEx", _raw.ntp_unregister_wait_ex, wait_handle,
          completion)


def CreateTimerQueue():
    return _call("CreateTimerQueue", _raw.ntp_timer_queue_create)


def CreateTimerQueueTimer(queue, callback, context, due_ms, period_ms,
                          flags):
    """callback(context, True); queue None is the default timer queue."""
    return _call("CreateTimerQueueTimer", _raw.ntp_timer_queue_timer_create,
                 queue, callback, context, due_ms, period_ms, flags)


def ChangeTimerQueueTimer(queue, timer, due_ms, period_ms):
    _call("ChangeTimerQueueTimer", _raw.ntp_timer_queue_timer_change, queue,
          timer, due_ms, period_ms)


def DeleteTimerQueueTimer(queue, timer, completion):
    _call("DeleteTimerQueueTimer", _raw.ntp_timer_queue_timer_delete, queue,
          timer, completion)


def DeleteTimerQueueEx(queue, completion):
    _call("DeleteTimerQueueEx", _raw.ntp_timer_queue_delete_ex, queue,
          completion)


def DeleteTimerQueue(queue):
    _call("DeleteTimerQueue", _raw.ntp_timer_queue_delete, queue)


def BindIoCompletionCallback(fd_or_file, callback, flags):
    """callback(error_code, nbytes, overlapped) for every completion of
    ReadFile/WriteFile on the descriptor (no StartThreadpoolIo needed)."""

    def completion(status, nbytes, overlapped):
        callback(winerror_of_status(status), nbytes, overlapped)

    io = _call("BindIoCompletionCallback",
               _raw.ntp_bind_io_completion_callback, fd_or_file, completion,
               flags)
    fd = _fd_of(fd_or_file)
    _bind(fd, io)
    with _io_lock:
        _bound_fds.add(fd)
    return True
