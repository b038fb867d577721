"""The GIL handoff: callbacks hold the GIL only while Python code runs,
every blocking call releases it."""

import threading
import time

import ntpool
from ntpool import win32

from conftest import WAIT


def test_gil_main_thread_wait_lets_callback_run(pool):
    """The deadlock guard: a Python callback plus a main-thread wait()."""
    done = ntpool.Event()
    with ntpool.Work(lambda i, w: i.set_event_on_return(done),
                     pool=pool) as work:
        work.submit()
        assert done.wait(WAIT)
        work.wait()


def test_gil_busy_main_thread_does_not_starve_callbacks(pool):
    """A main thread computing in pure Python still lets callbacks run
    (the interpreter's switch interval hands the GIL over)."""
    ran = threading.Event()
    with ntpool.Work(lambda i, w: ran.set(), pool=pool) as work:
        work.submit()
        end = time.monotonic() + WAIT
        while not ran.is_set() and time.monotonic() < end:
            sum(range(1000))  # busy, holding the GIL between checks
        assert ran.is_set()


def test_gil_blocked_callback_lets_others_run(pool):
    """A callback blocked in an ntpool wait drops the GIL."""
    gate = ntpool.Event(manual_reset=True)
    second = ntpool.Event()

    def blocker(instance, work):
        instance.may_run_long()
        gate.wait(WAIT)

    with ntpool.Work(blocker, pool=pool) as b, \
            ntpool.Work(lambda i, w: second.set(), pool=pool) as s:
        b.submit()
        time.sleep(0.02)
        s.submit()
        assert second.wait(WAIT)
        gate.set()


def test_gil_callbacks_from_many_python_threads(pool):
    count = [0]
    lock = threading.Lock()

    def callback(instance, work):
        with lock:
            count[0] += 1

    work = ntpool.Work(callback, pool=pool)

    def submitter():
        for _ in range(2000):
            work.submit()

    threads = [threading.Thread(target=submitter) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    work.wait()
    work.close()
    assert count[0] == 8000


def test_gil_callback_waits_on_event_set_by_main(pool):
    """Classic handoff: the callback blocks until the main thread, which
    needs the GIL to run, sets the event."""
    go = win32.CreateEvent(None, False, False, None)
    done = win32.CreateEvent(None, False, False, None)

    def callback(instance, context, work):
        assert win32.WaitForSingleObject(go, 10000) == win32.WAIT_OBJECT_0
        win32.SetEventWhenCallbackReturns(instance, done)

    work = win32.CreateThreadpoolWork(callback, None, None)
    win32.SubmitThreadpoolWork(work)
    time.sleep(0.02)
    win32.SetEvent(go)
    assert win32.WaitForSingleObject(done, 10000) == win32.WAIT_OBJECT_0
    win32.WaitForThreadpoolWorkCallbacks(work, False)
    win32.CloseThreadpoolWork(work)
    win32.CloseHandle(go)
    win32.CloseHandle(done)


def test_gil_idle_worker_gives_gil_back(pool):
    """After its callbacks, a pool thread goes idle without the GIL: a
    Python thread can then run without waiting for a switch interval."""
    done = ntpool.Event()
    with ntpool.Work(lambda i, w: i.set_event_on_return(done),
                     pool=pool) as work:
        work.submit()
        assert done.wait(WAIT)
    time.sleep(0.05)
    start = time.perf_counter()
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()
    assert time.perf_counter() - start < 1.0


def test_gil_apc_to_a_pool_thread_in_an_alertable_wait(pool):
    """A callback that sleeps alertably runs an APC queued to its own pool
    thread: the APC takes the GIL the callback's wait dropped, and gives
    it back."""
    got = []
    done = ntpool.Event()

    def callback(instance, work):
        me = ntpool.current_thread()
        ntpool.queue_user_apc(lambda: got.append(threading.get_ident()), me)
        got.append(ntpool.sleep_ex(WAIT, alertable=True))
        me.close()
        instance.set_event_on_return(done)

    with ntpool.Work(callback, pool=pool) as work:
        work.submit()
        assert done.wait(WAIT)
    assert got[1] == ntpool.WAIT_IO_COMPLETION
    assert isinstance(got[0], int)


def test_gil_cancel_callback_runs_inside_a_callback(pool):
    """close_members called from a callback (of another group) runs the
    cancel callbacks on that pool thread, nested in the first callback."""
    group = ntpool.CleanupGroup()
    cancelled = []
    env = ntpool.Environment(pool=pool, cleanup_group=group,
                             cancel_callback=lambda o, c: cancelled.append(c))
    member = ntpool.Timer(lambda i, t: None, env=env)
    member.set(60)
    done = ntpool.Event()

    def callback(instance, work):
        group.close_members(cancel_pending=True, context="nested")
        instance.set_event_on_return(done)

    with ntpool.Work(callback, pool=pool) as work:
        work.submit()
        assert done.wait(WAIT)
    group.close()
    assert cancelled == ["nested"] and member.closed
