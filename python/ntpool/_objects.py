"""The idiomatic API: classes over the one-to-one module ntpool._raw.

Every class derives from ntpool._raw.Object (or a sibling C type), which
owns the core pointer and refuses a closed object with ValueError; these
classes add Python signatures (float seconds, keyword-only flags, context
managers) and nothing on the hot paths (Work.submit is the C method).
"""

import os

from . import _raw
from ._time import (INFINITE, due_from_seconds, period_ms, timeout_ms)

WAIT_OBJECT_0 = 0x000
WAIT_ABANDONED = 0x080
WAIT_IO_COMPLETION = 0x0C0
WAIT_TIMEOUT = 0x102

PRIORITY_HIGH = 0
PRIORITY_NORMAL = 1
PRIORITY_LOW = 2

_NO_CONTEXT = _raw.NO_CONTEXT
_UNSET = object()


def _wait_result(r):
    """A wait function's int, as a Python value: True when signalled."""
    if r == WAIT_TIMEOUT:
        return False
    if r == WAIT_ABANDONED:
        raise AbandonedMutexError("the mutex's owner thread exited "
                                  "without releasing it")
    return True


class AbandonedMutexError(RuntimeError):
    """Acquired a mutex whose owner thread exited holding it (the wait
    returned WAIT_ABANDONED: the mutex is now yours, its data suspect)."""


class _Closing:
    """Context manager: close() on exit."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --------------------------------------------------------------------------
# Pools, environments, cleanup groups
# --------------------------------------------------------------------------

class Pool(_raw.Object, _Closing):
    """A private thread pool (CreateThreadpool).

    ``error_handler``, if set, receives each exception a callback of this
    pool raises (else it goes to ``sys.unraisablehook``).
    """

    error_handler = None

    def __init__(self, *, min_threads=None, max_threads=None,
                 error_handler=None):
        self._adopt(_raw.ntp_pool_create())
        self.error_handler = error_handler
        if max_threads is not None:
            self.max_threads = max_threads
        if min_threads is not None:
            self.min_threads = min_threads

    @property
    def max_threads(self):
        return self.stats()["max_threads"]

    @max_threads.setter
    def max_threads(self, n):
        if n < 1:
            raise ValueError("max_threads must be at least 1")
        _raw.ntp_pool_set_max_threads(self, n)

    @property
    def min_threads(self):
        return self.stats()["min_threads"]

    @min_threads.setter
    def min_threads(self, n):
        if n < 0:
            raise ValueError("min_threads must not be negative")
        _raw.ntp_pool_set_min_threads(self, n)

    def stats(self):
        """A snapshot of the pool's counters, as a dict (threads, idle,
        running, queued per priority, callbacks_run, ...)."""
        return _raw.ntp_pool_stats_get(self)

    def dump(self, *, one_line=False, members=True, queue=True):
        """The ``!tp`` debugger extension's view of the pool, as text: one
        line of counters (one_line), or the threads with, as asked, the
        member objects and their state and the queue per priority."""
        if one_line:
            flags = 1
        else:
            flags = (2 if members else 0) | (4 if queue else 0)
        return _raw.ntp_pool_dump(self, flags)

    # Shorthands that create objects bound to this pool.
    def work(self, callback):
        return Work(callback, pool=self)

    def timer(self, callback):
        return Timer(callback, pool=self)

    def wait(self, callback):
        return Wait(callback, pool=self)

    def io(self, file, callback):
        return IO(file, callback, pool=self)

    def try_submit(self, callback):
        return try_submit(callback, pool=self)


_default_pool = None


def default_pool():
    """The process default pool (created on first use, never closed)."""
    global _default_pool
    if _default_pool is None:
        p = Pool.__new__(Pool)
        p._adopt(_raw.ntp_pool_default())
        _default_pool = p
    return _default_pool


class CleanupGroup(_raw.Object, _Closing):
    """CreateThreadpoolCleanupGroup. Objects join it through an
    Environment; close_members() releases them all at once."""

    def __init__(self):
        self._adopt(_raw.ntp_cleanup_group_create())

    def close_members(self, *, cancel_pending=False, context=None):
        """Wait for the members' callbacks (dropping the queued ones with
        cancel_pending, which then calls the environment's
        cancel_callback per member), then release every member."""
        _raw.ntp_cleanup_group_close_members(self, bool(cancel_pending),
                                             context)

    def __exit__(self, *exc):
        if not self.closed:
            self.close_members()
            self.close()


class Environment:
    """A callback environment (TP_CALLBACK_ENVIRON): the pool, cleanup
    group, priority and flags that objects made with it get. Objects copy
    it when they are created."""

    def __init__(self, *, pool=None, cleanup_group=None,
                 cancel_callback=None, priority=PRIORITY_NORMAL,
                 runs_long=False, persistent=False, library=None):
        self._env = _raw.ntp_env_init()
        if pool is not None:
            _raw.ntp_env_set_pool(self._env, pool)
        if cleanup_group is not None or cancel_callback is not None:
            _raw.ntp_env_set_cleanup_group(self._env, cleanup_group,
                                           cancel_callback)
        if priority not in (PRIORITY_HIGH, PRIORITY_NORMAL, PRIORITY_LOW):
            raise ValueError("priority must be PRIORITY_HIGH, "
                             "PRIORITY_NORMAL or PRIORITY_LOW")
        _raw.ntp_env_set_priority(self._env, priority)
        if runs_long:
            _raw.ntp_env_set_runs_long(self._env)
        if persistent:
            _raw.ntp_env_set_persistent(self._env)
        if library is not None:
            _raw.ntp_env_set_library(self._env, library)

    pool = property(lambda self: self._env.pool)
    cleanup_group = property(lambda self: self._env.cleanup_group)
    cancel_callback = property(lambda self: self._env.cancel_callback)
    priority = property(lambda self: self._env.priority)
    runs_long = property(lambda self: self._env.runs_long)
    persistent = property(lambda self: self._env.persistent)
    library = property(lambda self: self._env.library)

    def __repr__(self):
        return ("Environment(pool=%r, cleanup_group=%r, priority=%d, "
                "runs_long=%r, persistent=%r)"
                % (self.pool, self.cleanup_group, self.priority,
                   self.runs_long, self.persistent))


def _env_of(pool, env):
    """The raw environment for (pool=, env=) keyword arguments."""
    if env is not None:
        if pool is not None:
            raise TypeError("give pool= or env=, not both")
        if isinstance(env, Environment):
            return env._env
        if isinstance(env, _raw.Env):
            return env
        raise TypeError("env must be an ntpool.Environment, not %s"
                        % type(env).__name__)
    if pool is None:
        return None
    raw = _raw.ntp_env_init()
    _raw.ntp_env_set_pool(raw, pool)
    return raw


# --------------------------------------------------------------------------
# Callback objects
# --------------------------------------------------------------------------

class _CallbackObject(_raw.Object):
    """Work, Timer, Wait and IO: context managers whose exit waits for
    the outstanding callbacks, then closes (as Executor.__exit__)."""

    _wait_fn = None

    def wait(self, *, cancel_pending=False):
        """Wait for the callbacks queued or running (WaitFor...Callbacks);
        with cancel_pending, drop the queued ones first."""
        type(self)._wait_fn(self, bool(cancel_pending))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self.closed:
            self.wait()
            self.close()


class Work(_CallbackObject):
    """A work object (CreateThreadpoolWork): submit() it any number of
    times; each post runs ``callback(instance, work)`` on a pool thread."""

    def __init__(self, callback, *, pool=None, env=None):
        self._adopt(_raw.ntp_work_create(callback, _NO_CONTEXT,
                                         _env_of(pool, env)))

    submit = _raw.Object._submit_work
    _wait_fn = staticmethod(_raw.ntp_work_wait)


def try_submit(callback, *, pool=None, env=None):
    """Run ``callback(instance)`` once on a pool thread
    (TrySubmitThreadpoolCallback). Returns False if it could not be
    queued (out of memory)."""
    try:
        _raw.ntp_try_submit(callback, _NO_CONTEXT, _env_of(pool, env))
    except MemoryError:
        return False
    except OSError as e:
        import errno
        if e.errno == errno.ENOMEM:
            return False
        raise
    return True


class Timer(_CallbackObject):
    """A timer object (CreateThreadpoolTimer): ``callback(instance,
    timer)`` runs when it expires."""

    def __init__(self, callback, *, pool=None, env=None):
        self._adopt(_raw.ntp_timer_create(callback, _NO_CONTEXT,
                                          _env_of(pool, env)))

    def set(self, due, *, period=0, window=0):
        """Arm the timer: ``due`` is seconds from now, a datetime (absolute
        time) or None (stop); ``period`` repeats it every so many seconds;
        ``window`` lets ntpool delay it that much to coalesce expirations."""
        _raw.ntp_timer_set(self, due_from_seconds(due), period_ms(period),
                           period_ms(window, "window"))

    def set_ex(self, due, *, period=0, window=0):
        """As set(); returns True if the timer was armed before (its
        pending expiration was cancelled)."""
        return _raw.ntp_timer_set_ex(self, due_from_seconds(due),
                                     period_ms(period),
                                     period_ms(window, "window"))

    def is_set(self):
        return _raw.ntp_timer_is_set(self)

    _wait_fn = staticmethod(_raw.ntp_timer_wait)


class Wait(_CallbackObject):
    """A wait object (CreateThreadpoolWait): ``callback(instance, wait,
    result)`` runs when the handle is signalled (result WAIT_OBJECT_0) or
    the timeout passes (WAIT_TIMEOUT). One-shot: set() it again."""

    def __init__(self, callback, *, pool=None, env=None):
        self._adopt(_raw.ntp_wait_create(callback, _NO_CONTEXT,
                                         _env_of(pool, env)))

    _fd_handle = None

    def set(self, handle, *, timeout=None):
        """Wait for ``handle`` (an ntpool handle, or anything with
        fileno(): readable counts as signalled); None cancels."""
        fd_handle = None
        if handle is not None and not isinstance(handle, _raw.Object):
            handle = fd_handle = FileHandle(handle)
        due = None if timeout is None else due_from_seconds(timeout)
        _raw.ntp_wait_set_due(self, handle, due)
        # The handle made for a file lives as long as the wait uses it.
        old, self._fd_handle = self._fd_handle, fd_handle
        if old is not None:
            old.close()

    def close(self):
        super().close()
        if self._fd_handle is not None:
            self._fd_handle.close()
            self._fd_handle = None

    _wait_fn = staticmethod(_raw.ntp_wait_wait)


class IO(_CallbackObject):
    """An I/O completion object (CreateThreadpoolIo) over a file, pipe or
    socket (anything with fileno(), or an fd): read() and write() start
    asynchronous operations; each completion runs ``callback(instance,
    io, overlapped)`` with ``overlapped.result`` (0, or a negative errno),
    ``overlapped.nbytes`` and ``overlapped.data``."""

    def __init__(self, file, callback, *, pool=None, env=None):
        self._file = file  # keep the Python file (and so its fd) open
        self._adopt(_raw.ntp_io_create(file, callback, _NO_CONTEXT,
                                       _env_of(pool, env)))

    def _start(self, op, ov, arg):
        _raw.ntp_io_start(self)
        try:
            op(self, ov, arg)
        except BaseException:
            _raw.ntp_io_cancel(self)  # no completion will come
            raise
        return ov

    def read(self, size, *, offset=None):
        """Start reading up to ``size`` bytes (at ``offset``, or at the
        stream position); returns its Overlapped."""
        return self._start(_raw.ntp_io_read, Overlapped(offset=offset), size)

    def write(self, data, *, offset=None):
        """Start writing ``data``; returns its Overlapped."""
        return self._start(_raw.ntp_io_write, Overlapped(offset=offset),
                           data)

    def cancel(self, overlapped=None):
        """Cancel the operations in flight (CancelIoEx); each still
        completes, with result -ECANCELED."""
        _raw.ntp_io_cancel_ops(self, overlapped)

    @property
    def backend(self):
        return _raw.ntp_io_backend(self)

    _wait_fn = staticmethod(_raw.ntp_io_wait)


Overlapped = _raw.Overlapped
Instance = _raw.Instance

# --------------------------------------------------------------------------
# Kernel objects
# --------------------------------------------------------------------------


class _Handle(_raw.Object, _Closing):
    """A waitable kernel object."""

    def wait(self, timeout=None, *, alertable=False):
        """WaitForSingleObject: True when signalled, False on timeout."""
        r = _raw.ntp_wait_for_single(self, timeout_ms(timeout),
                                     bool(alertable))
        if r == WAIT_IO_COMPLETION:
            return False
        return _wait_result(r)

    def fileno(self):
        """A file descriptor readable while the object is signalled, for
        select/selectors/asyncio (made on first use)."""
        return _raw.ntp_handle_get_fd(self)


class Event(_Handle):
    """A Windows event: auto-reset (one waiter released per set) unless
    manual_reset."""

    def __init__(self, *, manual_reset=False, initial_state=False):
        self._adopt(_raw.ntp_event_create(bool(manual_reset),
                                          bool(initial_state)))
        self.manual_reset = bool(manual_reset)

    def set(self):
        _raw.ntp_event_set(self)

    def reset(self):
        _raw.ntp_event_reset(self)

    def pulse(self):
        _raw.ntp_event_pulse(self)

    def is_set(self):
        """True if the event is signalled now. Windows can only ask by
        waiting, which resets an auto-reset event; its signal is put
        back, so asking changes nothing a waiter can tell."""
        signalled = _wait_result(_raw.ntp_wait_for_single(self, 0, False))
        if signalled and not self.manual_reset:
            _raw.ntp_event_set(self)
        return signalled


class Semaphore(_Handle):
    def __init__(self, initial=0, maximum=0x7FFFFFFF):
        self._adopt(_raw.ntp_semaphore_create(initial, maximum))

    def release(self, count=1):
        """Add ``count``; returns the previous count."""
        return _raw.ntp_semaphore_release(self, count)

    def __enter__(self):
        self.wait()
        return self

    def __exit__(self, *exc):
        self.release()


class Mutex(_Handle):
    """A recursive mutex owned by a thread; waiting acquires it."""

    def __init__(self, *, initial_owner=False):
        self._adopt(_raw.ntp_mutex_create(bool(initial_owner)))

    def release(self):
        _raw.ntp_mutex_release(self)

    acquire = _Handle.wait

    def __enter__(self):
        self.wait()
        return self

    def __exit__(self, *exc):
        self.release()


class WaitableTimer(_Handle):
    """A waitable timer: signalled when due (and every period after)."""

    def __init__(self, *, manual_reset=False):
        self._adopt(_raw.ntp_waitable_timer_create(bool(manual_reset)))

    def set(self, due, *, period=0):
        _raw.ntp_waitable_timer_set(self, due_from_seconds(due),
                                    period_ms(period))

    def cancel(self):
        _raw.ntp_waitable_timer_cancel(self)


class FileHandle(_Handle):
    """A handle over a file descriptor, signalled while it is readable
    (for Wait objects and wait_for_multiple)."""

    def __init__(self, file):
        self._file = file
        self._adopt(_raw.ntp_fd_handle_create(file))


class CriticalSection(_raw.CriticalSection):
    """A critical section (recursive, owned by a thread)."""

    def enter(self):
        _raw.ntp_cs_enter(self)

    def try_enter(self):
        return _raw.ntp_cs_try_enter(self)

    def leave(self):
        _raw.ntp_cs_leave(self)

    def __enter__(self):
        self.enter()
        return self

    def __exit__(self, *exc):
        self.leave()

    close = _raw.CriticalSection.delete


def wait_for_multiple(handles, *, wait_all=False, timeout=None,
                      alertable=False):
    """WaitForMultipleObjects: WAIT_OBJECT_0 + index of the signalled
    handle (with wait_all, all of them, acquired atomically),
    WAIT_TIMEOUT, WAIT_ABANDONED + index, or WAIT_IO_COMPLETION."""
    made = []
    raw = []
    for h in handles:
        if not isinstance(h, _raw.Object):
            h = FileHandle(h)
            made.append(h)
        raw.append(h)
    try:
        return _raw.ntp_wait_for_multiple(raw, bool(wait_all),
                                          timeout_ms(timeout),
                                          bool(alertable))
    finally:
        for h in made:
            h.close()


def sleep_ex(seconds, *, alertable=False):
    """SleepEx: 0 after the time, WAIT_IO_COMPLETION if an APC ran."""
    return _raw.ntp_sleep_ex(timeout_ms(seconds), bool(alertable))


def current_thread():
    """A real, waitable handle to the calling thread (for APCs)."""
    t = _Handle.__new__(_Handle)
    t._adopt(_raw.ntp_thread_current())
    return t


def queue_user_apc(func, thread=None, *args):
    """Queue ``func(*args)`` to run on ``thread`` (default: this one)
    during its next alertable wait (sleep_ex or a wait with
    alertable=True)."""
    target = _raw.CURRENT_THREAD if thread is None else thread
    _raw.ntp_queue_apc(lambda packed: func(*packed), target, args)


__all__ = [
    "WAIT_OBJECT_0", "WAIT_ABANDONED", "WAIT_IO_COMPLETION", "WAIT_TIMEOUT",
    "INFINITE", "PRIORITY_HIGH", "PRIORITY_NORMAL", "PRIORITY_LOW",
    "AbandonedMutexError", "Pool", "default_pool", "CleanupGroup",
    "Environment", "Work", "try_submit", "Timer", "Wait", "IO", "Overlapped",
    "Instance", "Event", "Semaphore", "Mutex", "WaitableTimer", "FileHandle",
    "CriticalSection", "wait_for_multiple", "sleep_ex", "current_thread",
    "queue_user_apc",
]
