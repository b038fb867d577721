"""The one-to-one layer (ntpool._raw) and the two public surfaces agree:
the same object kinds, the same checks, the same results."""

import pytest

import ntpool
from ntpool import _raw, win32


def test_layers_objects_are_the_same_kind():
    assert isinstance(ntpool.Event(), _raw.Object)
    raw = _raw.ntp_event_create(False, False)
    w32 = win32.CreateEvent(None, False, False, None)
    assert raw.kind == w32.kind == ntpool.Event().kind == "Handle"
    # A handle from any layer works with the functions of the others.
    idiom = ntpool.Event()
    win32.SetEvent(idiom)
    assert _raw.ntp_wait_for_single(idiom, 0, False) == ntpool.WAIT_OBJECT_0
    _raw.ntp_event_set(w32)
    assert ntpool.wait_for_multiple([w32]) == ntpool.WAIT_OBJECT_0
    for h in (raw, w32, idiom):
        h.close()


def test_layers_same_errors_for_a_closed_object():
    for close, make in ((win32.CloseHandle,
                         lambda: win32.CreateEvent(None, 0, 0, None)),
                        (lambda e: e.close(), ntpool.Event),
                        (_raw.ntp_handle_close,
                         lambda: _raw.ntp_event_create(0, 0))):
        h = make()
        close(h)
        with pytest.raises(ValueError, match="closed"):
            _raw.ntp_event_set(h)
        with pytest.raises(ValueError, match="closed"):
            win32.SetEvent(h)


def test_layers_semaphore_previous_count():
    s1 = _raw.ntp_semaphore_create(0, 10)
    s2 = win32.CreateSemaphore(None, 0, 10, None)
    s3 = ntpool.Semaphore(0, 10)
    assert _raw.ntp_semaphore_release(s1, 3) == win32.ReleaseSemaphore(
        s2, 3) == s3.release(3) == 0
    assert _raw.ntp_semaphore_release(s1, 1) == win32.ReleaseSemaphore(
        s2, 1) == s3.release(1) == 3
    for s in (s1, s2, s3):
        s.close()


def test_layers_status_names():
    assert _raw.ntp_err_name(_raw.NTP_EINVAL) == "EINVAL"
    assert _raw.ntp_strerror(_raw.NTP_ETIMEDOUT) == "timed out"
    assert win32.winerror_of_status(_raw.NTP_EINVAL) == \
        win32.ERROR_INVALID_PARAMETER


def test_layers_dump_and_stats():
    pool = ntpool.Pool(max_threads=1)
    gate = ntpool.Event(manual_reset=True)
    started = ntpool.Event()

    def blocker(instance, work):
        started.set()
        gate.wait(10)

    work = pool.work(blocker)
    timer = pool.timer(lambda i, t: None)
    wait = pool.wait(lambda i, w, r: None)
    work.submit()
    work.submit()
    assert started.wait(10)
    timer.set(30, period=0.5)
    wait.set(gate)
    stats = pool.stats()
    assert stats["max_threads"] == 1 and stats["objects"] == 3
    assert stats["running"] == 1 and stats["queued"][ntpool.PRIORITY_NORMAL] == 1

    text = pool.dump()
    assert "running work" in text  # the thread and what it runs
    assert "set: due in 29" in text and "period 500 ms" in text
    assert "armed on handle" in text
    assert "queue normal: work" in text
    assert pool.dump(one_line=True).count("\n") == 1
    assert "objects:" not in pool.dump(members=False)
    gate.set()
    for o in (work, timer, wait):
        o.wait(cancel_pending=True)
        o.close()
    gate.close()
    started.close()
    pool.close()
