"""Timer objects: one-shot, periodic, stop, absolute, FILETIME."""

import datetime
import time

import ntpool
from ntpool import win32

from conftest import WAIT


def test_timer_one_shot(pool):
    fired = []
    done = ntpool.Event()

    def callback(instance, timer):
        fired.append(time.monotonic())
        instance.set_event_on_return(done)

    with pool.timer(callback) as timer:
        start = time.monotonic()
        timer.set(0.05)
        assert timer.is_set()
        assert done.wait(WAIT)
        timer.wait()
        # Windows: still TRUE after a one-shot expired (CONFORMANCE 68)
        assert timer.is_set()
        timer.set(None)
        assert not timer.is_set()
    assert len(fired) == 1
    assert fired[0] - start >= 0.045


def test_timer_periodic_and_stop(pool):
    ticks = []

    def callback(instance, timer):
        ticks.append(1)

    timer = ntpool.Timer(callback, pool=pool)
    timer.set(0.01, period=0.01)
    time.sleep(0.2)
    timer.set(None)
    timer.wait(cancel_pending=True)
    n = len(ticks)
    time.sleep(0.05)
    assert len(ticks) == n  # stopped
    assert 5 <= n <= 25
    timer.close()


def test_timer_set_ex_reports_previous_state(pool):
    timer = ntpool.Timer(lambda i, t: None, pool=pool)
    assert timer.set_ex(10) is False
    assert timer.set_ex(10) is True
    assert timer.set_ex(None) is True
    assert not timer.is_set()
    timer.close()


def test_timer_absolute_datetime(pool):
    done = ntpool.Event()
    timer = ntpool.Timer(lambda i, t: i.set_event_on_return(done), pool=pool)
    timer.set(datetime.datetime.now() + datetime.timedelta(milliseconds=50))
    assert done.wait(WAIT)
    timer.close()


def test_timer_bad_due_type(pool):
    import pytest
    timer = ntpool.Timer(lambda i, t: None, pool=pool)
    with pytest.raises(TypeError):
        timer.set("soon")
    with pytest.raises(ValueError):
        timer.set(1, period=-1)
    timer.close()


def test_win32_timer_filetime_relative_and_absolute():
    done = win32.CreateEvent(None, False, False, None)
    seen = []

    def callback(instance, context, timer):
        seen.append(context)
        win32.SetEventWhenCallbackReturns(instance, done)

    timer = win32.CreateThreadpoolTimer(callback, "ctx", None)
    win32.SetThreadpoolTimer(timer, -20 * 10000, 0, 0)  # 20 ms, relative
    assert win32.WaitForSingleObject(done, 10000) == win32.WAIT_OBJECT_0
    due = win32.GetSystemTimeAsFileTime() + 20 * 10000  # absolute
    win32.SetThreadpoolTimer(timer, due, 0, 0)
    assert win32.IsThreadpoolTimerSet(timer)
    assert win32.WaitForSingleObject(done, 10000) == win32.WAIT_OBJECT_0
    win32.SetThreadpoolTimer(timer, None, 0, 0)
    win32.WaitForThreadpoolTimerCallbacks(timer, True)
    win32.CloseThreadpoolTimer(timer)
    assert seen == ["ctx", "ctx"]
    win32.CloseHandle(done)
