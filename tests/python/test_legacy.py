"""The original thread-pool API under its Windows names."""

import threading
import time

import ntpool
from ntpool import win32

from conftest import WAIT


def test_queue_user_work_item():
    done = win32.CreateEvent(None, False, False, None)
    got = []

    def func(context):
        got.append(context)
        win32.SetEvent(done)

    assert win32.QueueUserWorkItem(func, "c", win32.WT_EXECUTEDEFAULT)
    assert win32.WaitForSingleObject(done, 10000) == win32.WAIT_OBJECT_0
    assert got == ["c"]
    win32.CloseHandle(done)


def test_register_wait_rearms_until_unregistered():
    event = win32.CreateEvent(None, False, False, None)
    calls = []
    lock = threading.Lock()

    def callback(context, timer_or_wait_fired):
        with lock:
            calls.append((context, timer_or_wait_fired))

    wait = win32.RegisterWaitForSingleObject(event, callback, "ctx",
                                             win32.INFINITE,
                                             win32.WT_EXECUTEDEFAULT)
    for _ in range(3):
        win32.SetEvent(event)
        time.sleep(0.05)
    win32.UnregisterWaitEx(wait, win32.INVALID_HANDLE_VALUE)
    n = len(calls)
    win32.SetEvent(event)
    time.sleep(0.05)
    assert len(calls) == n == 3
    assert all(c == ("ctx", False) for c in calls)  # signalled, not timeout
    win32.CloseHandle(event)


def test_register_wait_timeout_reports_true():
    event = win32.CreateEvent(None, False, False, None)
    done = win32.CreateEvent(None, False, False, None)
    calls = []

    def callback(context, fired):
        calls.append(fired)
        win32.SetEvent(done)

    wait = win32.RegisterWaitForSingleObject(event, callback, None, 10,
                                             win32.WT_EXECUTEONLYONCE)
    assert win32.WaitForSingleObject(done, 10000) == win32.WAIT_OBJECT_0
    win32.UnregisterWaitEx(wait, win32.INVALID_HANDLE_VALUE)
    assert calls == [True]
    win32.CloseHandle(event)
    win32.CloseHandle(done)


def test_unregister_wait_ex_with_event():
    event = win32.CreateEvent(None, False, False, None)
    completion = win32.CreateEvent(None, True, False, None)
    wait = win32.RegisterWaitForSingleObject(event, lambda c, f: None, None,
                                             win32.INFINITE, 0)
    win32.UnregisterWaitEx(wait, completion)
    assert win32.WaitForSingleObject(completion, 10000) == \
        win32.WAIT_OBJECT_0
    win32.CloseHandle(event)
    win32.CloseHandle(completion)


def test_timer_queue_periodic_change_delete():
    queue = win32.CreateTimerQueue()
    hits = []
    timer = win32.CreateTimerQueueTimer(queue, lambda c, f: hits.append(c),
                                        "t", 10, 10, 0)
    time.sleep(0.1)
    win32.ChangeTimerQueueTimer(queue, timer, 1000, 0)  # far and one-shot
    n = len(hits)
    time.sleep(0.05)
    assert len(hits) <= n + 1
    win32.DeleteTimerQueueTimer(queue, timer, win32.INVALID_HANDLE_VALUE)
    win32.DeleteTimerQueueEx(queue, win32.INVALID_HANDLE_VALUE)
    assert n >= 3 and set(hits) == {"t"}


def test_default_timer_queue():
    done = win32.CreateEvent(None, False, False, None)
    timer = win32.CreateTimerQueueTimer(None,
                                        lambda c, f: win32.SetEvent(done),
                                        None, 5, 0, win32.WT_EXECUTEONLYONCE)
    assert win32.WaitForSingleObject(done, 10000) == win32.WAIT_OBJECT_0
    win32.DeleteTimerQueueTimer(None, timer, win32.INVALID_HANDLE_VALUE)
    win32.CloseHandle(done)


def test_bind_io_completion_callback():
    import os
    r, w = os.pipe()
    done = win32.CreateEvent(None, False, False, None)
    got = []

    def completion(error_code, nbytes, overlapped):
        got.append((error_code, nbytes, overlapped.data))
        win32.SetEvent(done)

    assert win32.BindIoCompletionCallback(r, completion, 0)
    ov = win32.OVERLAPPED()
    win32.ReadFile(r, 10, ov)
    os.write(w, b"legacy")
    assert win32.WaitForSingleObject(done, 10000) == win32.WAIT_OBJECT_0
    assert got == [(win32.NO_ERROR, 6, b"legacy")]
    os.close(w)
    win32.CloseHandle(done)


def test_legacy_callback_exception_reported(unraisable):
    done = threading.Event()

    def func(context):
        done.set()
        raise ValueError("legacy")

    win32.QueueUserWorkItem(func, None, 0)
    assert done.wait(WAIT)
    assert unraisable.event.wait(WAIT)
    assert isinstance(unraisable.seen[0].exc_value, ValueError)


def test_legacy_context_released_after_blocking_unregister():
    import gc
    import weakref

    class Ctx:
        pass

    ctx = Ctx()
    ref = weakref.ref(ctx)
    event = win32.CreateEvent(None, False, False, None)
    wait = win32.RegisterWaitForSingleObject(event, lambda c, f: None, ctx,
                                             win32.INFINITE, 0)
    del ctx
    gc.collect()
    assert ref() is not None  # the pool may still call it
    win32.UnregisterWaitEx(wait, win32.INVALID_HANDLE_VALUE)
    gc.collect()
    assert ref() is None
    win32.CloseHandle(event)


def test_deleting_a_queue_closes_its_timers():
    import pytest
    queue = win32.CreateTimerQueue()
    timer = win32.CreateTimerQueueTimer(queue, lambda c, f: None, None,
                                        60000, 0, 0)
    win32.DeleteTimerQueueEx(queue, win32.INVALID_HANDLE_VALUE)
    assert timer.closed and queue.closed
    with pytest.raises(ValueError, match="closed"):
        win32.ChangeTimerQueueTimer(None, timer, 10, 0)
