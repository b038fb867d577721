"""Bad input, property style: every function of both surfaces is called
with wrong types, None, closed objects and out-of-range values. Each call
must end in a clear exception (TypeError, ValueError, OverflowError or an
OSError) or a Windows failure code, never a crash; afterwards the pool
still runs callbacks and nothing is left open.

The calls are generated from a table of signatures, not written one by
one: each argument has a kind, and each kind a set of bad values."""

import inspect
import itertools

import pytest

import ntpool
from ntpool import win32

ACCEPTED = (TypeError, ValueError, OverflowError, OSError, AttributeError)


class Closed:
    """Factories of closed objects of each kind."""

    @staticmethod
    def event():
        e = ntpool.Event()
        e.close()
        return e

    @staticmethod
    def work():
        w = ntpool.Work(lambda i, w: None)
        w.close()
        return w

    @staticmethod
    def timer():
        t = ntpool.Timer(lambda i, t: None)
        t.close()
        return t

    @staticmethod
    def wait():
        w = ntpool.Wait(lambda i, w, r: None)
        w.close()
        return w

    @staticmethod
    def pool():
        p = ntpool.Pool()
        p.close()
        return p

    @staticmethod
    def cs():
        c = ntpool.CriticalSection()
        c.close()
        return c


def stale_instance():
    kept = []
    done = ntpool.Event()
    w = ntpool.Work(lambda i, wk: (kept.append(i), i.set_event_on_return(done)))
    w.submit()
    done.wait(10)
    w.wait()
    w.close()
    done.close()
    return kept[0]


# Bad values by the kind of argument they replace.
BAD = {
    "handle": [None, 0, 1.5, "h", object(), Closed.event, Closed.work],
    "work": [None, 1, "w", Closed.work, Closed.event, Closed.timer],
    "timer": [None, 1, "t", Closed.timer, Closed.work],
    "wait": [None, 1, "w", Closed.wait, Closed.event],
    "pool": [1, "p", Closed.pool, Closed.event],
    "env": [1, "env", object(), Closed.pool],
    "group": [1, "g", Closed.event],
    "cs": [None, 1, "cs", Closed.cs, Closed.event],
    "instance": [None, 1, stale_instance],
    "callable": [None, 1, "f"],
    "callable_or_none": [1, "f"],
    "handle_or_none": [0, 1.5, "h", object(), Closed.event, Closed.work],
    "priority": [None, "high", 1.5],
    "ms": [-1, 2 ** 40, 1.5, "ms", None],
    "count": [-1, 2 ** 40, "n", None, 1.5],
    "filetime": ["soon", 1.5, object()],
    "ctx": [],   # a context can be anything
    "bool": [],  # any truth value is a BOOL, as in pywin32
}


def make_valid():
    """Fresh valid values per kind (closed again after each call)."""
    made = []

    def keep(o):
        made.append(o)
        return o

    values = {
        "handle": lambda: keep(win32.CreateEvent(None, False, False, None)),
        "work": lambda: keep(win32.CreateThreadpoolWork(
            lambda i, c, w: None, None, None)),
        "timer": lambda: keep(win32.CreateThreadpoolTimer(
            lambda i, c, t: None, None, None)),
        "wait": lambda: keep(win32.CreateThreadpoolWait(
            lambda i, c, w, r: None, None, None)),
        "pool": lambda: keep(win32.CreateThreadpool()),
        "env": lambda: win32.InitializeThreadpoolEnvironment(),
        "group": lambda: keep(win32.CreateThreadpoolCleanupGroup()),
        "cs": lambda: win32.InitializeCriticalSection(),
        "instance": stale_instance,
        "callable": lambda: (lambda *a: None),
        "callable_or_none": lambda: None,
        "handle_or_none": lambda: None,
        "priority": lambda: 1,
        "ms": lambda: 0,
        "count": lambda: 1,
        "filetime": lambda: -1,
        "bool": lambda: False,
        "ctx": lambda: None,
    }
    return values, made


# The surfaces' functions and the kinds of their arguments.
SIGNATURES = {
    win32.SetEvent: ["handle"],
    win32.ResetEvent: ["handle"],
    win32.PulseEvent: ["handle"],
    win32.ReleaseSemaphore: ["handle", "count"],
    win32.ReleaseMutex: ["handle"],
    win32.CancelWaitableTimer: ["handle"],
    win32.CloseHandle: ["handle"],
    win32.WaitForSingleObject: ["handle", "ms"],
    win32.WaitForSingleObjectEx: ["handle", "ms", "bool"],
    win32.SubmitThreadpoolWork: ["work"],
    win32.WaitForThreadpoolWorkCallbacks: ["work", "bool"],
    win32.CloseThreadpoolWork: ["work"],
    win32.SetThreadpoolTimer: ["timer", "filetime", "ms", "ms"],
    win32.IsThreadpoolTimerSet: ["timer"],
    win32.WaitForThreadpoolTimerCallbacks: ["timer", "bool"],
    win32.CloseThreadpoolTimer: ["timer"],
    win32.SetThreadpoolWait: ["wait", "handle_or_none", "filetime"],
    win32.WaitForThreadpoolWaitCallbacks: ["wait", "bool"],
    win32.CloseThreadpoolWait: ["wait"],
    win32.SetThreadpoolThreadMaximum: ["pool", "count"],
    win32.SetThreadpoolThreadMinimum: ["pool", "count"],
    win32.CloseThreadpool: ["pool"],
    win32.SetThreadpoolCallbackPool: ["env", "pool"],
    # An invalid priority is stored; creating an object with it fails.
    win32.SetThreadpoolCallbackPriority: ["env", "priority"],
    win32.SetThreadpoolCallbackCleanupGroup: ["env", "group",
                                              "callable_or_none"],
    win32.CloseThreadpoolCleanupGroupMembers: ["group", "bool", "ctx"],
    win32.CreateThreadpoolWork: ["callable", "ctx", "env"],
    win32.CreateThreadpoolTimer: ["callable", "ctx", "env"],
    win32.CreateThreadpoolWait: ["callable", "ctx", "env"],
    win32.TrySubmitThreadpoolCallback: ["callable", "ctx", "env"],
    win32.EnterCriticalSection: ["cs"],
    win32.LeaveCriticalSection: ["cs"],
    win32.TryEnterCriticalSection: ["cs"],
    win32.SetEventWhenCallbackReturns: ["instance", "handle"],
    win32.ReleaseSemaphoreWhenCallbackReturns: ["instance", "handle",
                                                "count"],
    win32.ReleaseMutexWhenCallbackReturns: ["instance", "handle"],
    win32.LeaveCriticalSectionWhenCallbackReturns: ["instance", "cs"],
    win32.CallbackMayRunLong: ["instance"],
    win32.DisassociateCurrentThreadFromCallback: ["instance"],
    win32.QueueUserAPC: ["callable", "handle", "ctx"],
    win32.QueueUserWorkItem: ["callable", "ctx", "count"],
    win32.RegisterWaitForSingleObject: ["handle", "callable", "ctx", "ms",
                                        "count"],
    win32.SleepEx: ["ms", "bool"],
}


# close() is idempotent, as file.close(): closing a closed object again
# is not an error for these.
IDEMPOTENT_ON_CLOSED = {win32.CloseHandle, win32.CloseThreadpoolWork,
                        win32.CloseThreadpoolTimer, win32.CloseThreadpoolWait,
                        win32.CloseThreadpool}
CLOSED_FACTORIES = {Closed.event, Closed.work, Closed.timer, Closed.wait,
                    Closed.pool, Closed.cs}


def cases():
    for fn, kinds in SIGNATURES.items():
        for pos, kind in enumerate(kinds):
            for bad in BAD[kind]:
                if fn in IDEMPOTENT_ON_CLOSED and pos == 0 and \
                        bad in CLOSED_FACTORIES and \
                        bad.__name__ == kind.replace("handle", "event"):
                    continue
                label = getattr(bad, "__name__", repr(bad))[:20]
                yield pytest.param(fn, kinds, pos, bad,
                                   id="%s-arg%d-%s" % (fn.__name__, pos,
                                                       label))


@pytest.mark.parametrize("fn, kinds, pos, bad", list(cases()))
def test_misuse_clear_error(fn, kinds, pos, bad):
    values, made = make_valid()
    args = [values[k]() for k in kinds]
    args[pos] = bad() if inspect.isfunction(bad) or isinstance(
        bad, staticmethod) else bad
    win32.SetLastError(0)
    try:
        result = fn(*args)
    except ACCEPTED as exc:
        assert str(exc)  # a message a person can read
    else:
        # Where Windows reports misuse with a code instead (FALSE,
        # WAIT_FAILED) the last error says why.
        assert result in (False, win32.WAIT_FAILED), result
        assert win32.GetLastError() != 0
    finally:
        for o in made:
            try:
                o.close()
            except Exception:
                pass


def test_misuse_pool_still_works_afterwards():
    done = ntpool.Event()
    assert ntpool.try_submit(lambda i: i.set_event_on_return(done))
    assert done.wait(10)
    done.close()
