"""Kernel objects: events, semaphores, mutexes, critical sections,
waitable timers, wait_for_multiple, APCs."""

import threading
import time

import pytest

import ntpool
from ntpool import win32

from conftest import WAIT


def test_event_auto_and_manual():
    auto = ntpool.Event()
    auto.set()
    assert auto.is_set()  # asking keeps the signal
    assert auto.wait(0)
    assert not auto.wait(0)  # consumed by the wait
    manual = ntpool.Event(manual_reset=True, initial_state=True)
    assert manual.wait(0) and manual.wait(0)
    manual.reset()
    assert not manual.is_set()
    auto.close()
    manual.close()


def test_event_wait_timeout_releases_gil():
    e = ntpool.Event()
    ticks = []
    t = threading.Thread(target=lambda: [ticks.append(1) for _ in range(1000)])
    start = time.monotonic()
    t.start()
    assert e.wait(0.1) is False
    t.join()
    assert time.monotonic() - start >= 0.09
    assert len(ticks) == 1000
    e.close()


def test_semaphore_release_returns_previous():
    s = ntpool.Semaphore(0, 5)
    assert s.release(2) == 0
    assert s.release() == 2
    with pytest.raises(OSError):
        s.release(5)  # would exceed the maximum
    assert s.wait(0) and s.wait(0) and s.wait(0)
    assert not s.wait(0)
    s.close()


def test_win32_release_semaphore_int():
    s = win32.CreateSemaphore(None, 1, 10, None)
    prev = win32.ReleaseSemaphore(s, 2)
    assert prev == 1 and type(prev) is int
    with pytest.raises(win32.error) as info:
        win32.ReleaseSemaphore(s, 100)
    assert info.value.winerror == win32.ERROR_TOO_MANY_POSTS
    assert win32.GetLastError() == win32.ERROR_TOO_MANY_POSTS
    win32.CloseHandle(s)


def test_mutex_ownership():
    m = ntpool.Mutex(initial_owner=True)
    m.release()
    with pytest.raises(PermissionError):
        m.release()  # not the owner any more
    with m:
        with m:  # recursive
            pass
    m.close()


def test_mutex_abandoned():
    m = ntpool.Mutex()

    def take_and_exit():
        assert m.wait(WAIT)

    t = threading.Thread(target=take_and_exit)
    t.start()
    t.join()
    with pytest.raises(ntpool.AbandonedMutexError):
        m.wait(WAIT)
    m.release()  # it was acquired all the same
    m.close()


def test_critical_section():
    cs = ntpool.CriticalSection()
    with cs:
        assert cs.try_enter()
        cs.leave()
    results = []

    def other():
        results.append(cs.try_enter())
        if results[-1]:
            cs.leave()

    cs.enter()
    t = threading.Thread(target=other)
    t.start()
    t.join()
    cs.leave()
    assert results == [False]
    cs.close()
    with pytest.raises(ValueError):
        cs.enter()


def test_wait_for_multiple_any_and_all():
    a, b = ntpool.Event(), ntpool.Event(manual_reset=True)
    assert ntpool.wait_for_multiple([a, b], timeout=0) == ntpool.WAIT_TIMEOUT
    b.set()
    assert ntpool.wait_for_multiple([a, b]) == ntpool.WAIT_OBJECT_0 + 1
    assert ntpool.wait_for_multiple([a, b], wait_all=True,
                                    timeout=0.01) == ntpool.WAIT_TIMEOUT
    a.set()
    assert ntpool.wait_for_multiple([a, b], wait_all=True) == \
        ntpool.WAIT_OBJECT_0
    assert not a.is_set()  # acquired atomically with b
    with pytest.raises(ValueError):
        ntpool.wait_for_multiple([])
    a.close()
    b.close()


def test_waitable_timer():
    t = ntpool.WaitableTimer(manual_reset=True)
    start = time.monotonic()
    t.set(0.05)
    assert t.wait(WAIT)
    assert time.monotonic() - start >= 0.045
    t.cancel()
    t.close()


def test_apc_and_sleep_ex():
    got = []
    ntpool.queue_user_apc(got.append, None, "hello")
    assert got == []  # only during an alertable wait
    assert ntpool.sleep_ex(WAIT, alertable=True) == ntpool.WAIT_IO_COMPLETION
    assert got == ["hello"]
    assert ntpool.sleep_ex(0.01) == 0


def test_apc_to_another_thread():
    got = []
    ready = threading.Event()
    holder = {}

    def target():
        holder["h"] = ntpool.current_thread()
        ready.set()
        holder["r"] = ntpool.sleep_ex(WAIT, alertable=True)

    t = threading.Thread(target=target)
    t.start()
    ready.wait(WAIT)
    ntpool.queue_user_apc(lambda: got.append(threading.get_ident()),
                          holder["h"])
    t.join(WAIT)
    assert holder["r"] == ntpool.WAIT_IO_COMPLETION
    assert got == [t.ident]
    holder["h"].close()


def test_win32_waitable_timer_completion_routine():
    calls = []
    timer = win32.CreateWaitableTimer(None, False, None)
    win32.SetWaitableTimer(timer, -10 * 10000, 0,
                           lambda arg, lo, hi: calls.append(arg), "a")
    assert win32.SleepEx(10000, True) == win32.WAIT_IO_COMPLETION
    assert calls == ["a"]
    win32.CloseHandle(timer)


def test_win32_signal_object_and_wait():
    a = win32.CreateEvent(None, False, False, None)
    b = win32.CreateEvent(None, False, True, None)
    assert win32.SignalObjectAndWait(a, b, 0, False) == win32.WAIT_OBJECT_0
    assert win32.WaitForSingleObject(a, 0) == win32.WAIT_OBJECT_0
    win32.CloseHandle(a)
    win32.CloseHandle(b)


def test_win32_named_objects_refused():
    with pytest.raises(win32.error) as info:
        win32.CreateMutex(None, False, "Global\\x")
    assert info.value.winerror == win32.ERROR_NOT_SUPPORTED


def test_event_fileno_is_readable_when_set():
    import select
    e = ntpool.Event(manual_reset=True)
    fd = e.fileno()
    assert select.select([fd], [], [], 0)[0] == []
    e.set()
    assert select.select([fd], [], [], WAIT)[0] == [fd]
    e.close()


def test_close_while_another_thread_waits_is_deferred():
    """close() during a call that dropped the GIL is carried out when the
    call returns; the object is closed for Python at once."""
    e = ntpool.Event()
    result = []
    t = threading.Thread(target=lambda: result.append(e.wait(0.3)))
    t.start()
    time.sleep(0.05)
    e.close()
    assert e.closed
    with pytest.raises(ValueError):
        e.set()
    t.join(WAIT)
    assert result == [False]  # the wait itself ran to its timeout
