"""Work objects and try_submit, both surfaces."""

import threading
import time

import pytest

import ntpool
from ntpool import win32

from conftest import WAIT


def test_work_submit_wait(pool):
    seen = []
    lock = threading.Lock()

    def callback(instance, work):
        with lock:
            seen.append((type(instance).__name__, work))

    with pool.work(callback) as work:
        for _ in range(100):
            work.submit()
        work.wait()
    assert len(seen) == 100
    assert all(name == "Instance" and w is work for name, w in seen)
    assert work.closed


def test_work_runs_on_pool_threads(pool):
    threads = set()
    done = ntpool.Event()

    def callback(instance, work):
        threads.add(threading.get_ident())
        instance.set_event_on_return(done)

    with ntpool.Work(callback, pool=pool) as work:
        work.submit()
        assert done.wait(WAIT)
    assert threading.get_ident() not in threads


def test_work_wait_cancel_pending(pool):
    pool.max_threads = 1
    gate = ntpool.Event(manual_reset=True)
    started = ntpool.Event()
    runs = []

    def callback(instance, work):
        runs.append(1)
        started.set()
        gate.wait(WAIT)

    work = ntpool.Work(callback, pool=pool)
    for _ in range(5):
        work.submit()
    assert started.wait(WAIT)
    canceller = threading.Thread(target=work.wait,
                                 kwargs={"cancel_pending": True})
    canceller.start()
    time.sleep(0.1)  # let it drop the queued posts first
    gate.set()
    canceller.join(WAIT)
    assert not canceller.is_alive()
    assert len(runs) < 5  # the queued posts were dropped
    work.close()


def test_work_close_inside_callback(pool):
    done = ntpool.Event()

    def callback(instance, work):
        work.close()
        instance.set_event_on_return(done)

    work = ntpool.Work(callback, pool=pool)
    work.submit()
    assert done.wait(WAIT)
    assert work.closed
    with pytest.raises(ValueError, match="closed"):
        work.submit()


def test_work_closed_object_raises(pool):
    work = ntpool.Work(lambda i, w: None, pool=pool)
    work.close()
    work.close()  # idempotent
    for call in (work.submit, work.wait):
        with pytest.raises(ValueError, match="operation on closed Work"):
            call()


def test_work_callback_must_be_callable(pool):
    with pytest.raises(TypeError, match="callable"):
        ntpool.Work(42, pool=pool)


def test_work_env_and_pool_exclusive(pool):
    with pytest.raises(TypeError):
        ntpool.Work(lambda i, w: None, pool=pool, env=ntpool.Environment())


def test_try_submit(pool):
    done = ntpool.Event()
    got = []

    def callback(instance):
        got.append(instance.valid)
        instance.set_event_on_return(done)

    assert ntpool.try_submit(callback, pool=pool) is True
    assert done.wait(WAIT)
    assert got == [True]


def test_win32_work_context_and_signature():
    done = win32.CreateEvent(None, False, False, None)
    seen = []

    def work_callback(instance, context, work):
        seen.append((context, work))
        win32.SetEventWhenCallbackReturns(instance, done)

    ctx = object()
    work = win32.CreateThreadpoolWork(work_callback, ctx, None)
    win32.SubmitThreadpoolWork(work)
    assert win32.WaitForSingleObject(done, 10000) == win32.WAIT_OBJECT_0
    win32.WaitForThreadpoolWorkCallbacks(work, False)
    win32.CloseThreadpoolWork(work)
    assert seen == [(ctx, work)]
    win32.CloseHandle(done)


def test_win32_try_submit():
    done = win32.CreateEvent(None, False, False, None)
    got = []

    def simple(instance, context):
        got.append(context)
        win32.SetEventWhenCallbackReturns(instance, done)

    assert win32.TrySubmitThreadpoolCallback(simple, "ctx", None) is True
    assert win32.WaitForSingleObject(done, 10000) == win32.WAIT_OBJECT_0
    assert got == ["ctx"]
    win32.CloseHandle(done)


def test_work_many_submits_exact_count(pool):
    count = [0]
    lock = threading.Lock()

    def callback(instance, work):
        with lock:
            count[0] += 1

    with ntpool.Work(callback, pool=pool) as work:
        for _ in range(20000):
            work.submit()
    assert count[0] == 20000


def test_work_callback_may_wait_for_its_own_other_runs():
    """One run waits (threading.Event, which ntpool does not see) for every
    other run of the same object. The pool may take several posts of a busy
    object at once for one worker; those must still reach another worker,
    or this would hang."""
    n = 40
    others = []
    lock = threading.Lock()
    all_others = threading.Event()
    first = []

    def callback(instance, work):
        with lock:
            is_first = not first
            first.append(1)
        if is_first:
            assert all_others.wait(WAIT)
            return
        with lock:
            others.append(1)
            if len(others) == n - 1:
                all_others.set()

    pool = ntpool.Pool(max_threads=2)
    try:
        with ntpool.Work(callback, pool=pool) as work:
            for _ in range(n):
                work.submit()
            work.wait()
        assert len(first) == n and len(others) == n - 1
    finally:
        pool.close()
