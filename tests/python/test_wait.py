"""Wait objects on handles and file descriptors."""

import os
import socket

import pytest

import ntpool
from ntpool import win32

from conftest import WAIT


def test_wait_on_event(pool):
    results = []
    done = ntpool.Event()
    event = ntpool.Event()

    def callback(instance, wait, result):
        results.append(result)
        instance.set_event_on_return(done)

    with pool.wait(callback) as wait:
        wait.set(event)
        event.set()
        assert done.wait(WAIT)
        wait.set(event, timeout=0.02)  # not signalled: times out
        assert done.wait(WAIT)
    assert results == [ntpool.WAIT_OBJECT_0, ntpool.WAIT_TIMEOUT]


def test_wait_is_one_shot(pool):
    hits = []
    event = ntpool.Event(manual_reset=True, initial_state=True)
    done = ntpool.Event()

    def callback(instance, wait, result):
        hits.append(result)
        instance.set_event_on_return(done)

    wait = ntpool.Wait(callback, pool=pool)
    wait.set(event)
    assert done.wait(WAIT)
    assert not done.wait(0.1)  # no re-arm, although still signalled
    assert hits == [ntpool.WAIT_OBJECT_0]
    wait.close()


def test_wait_on_pipe_fd(pool):
    r, w = os.pipe()
    done = ntpool.Event()
    got = []
    try:
        def callback(instance, wait, result):
            got.append(os.read(r, 10))
            instance.set_event_on_return(done)

        with ntpool.Wait(callback, pool=pool) as wait:
            wait.set(r)
            os.write(w, b"x")
            assert done.wait(WAIT)
        assert got == [b"x"]
    finally:
        os.close(r)
        os.close(w)


def test_wait_on_socket_object(pool):
    a, b = socket.socketpair()
    done = ntpool.Event()
    with a, b:
        with ntpool.Wait(lambda i, w, r: i.set_event_on_return(done),
                         pool=pool) as wait:
            wait.set(a)  # anything with fileno()
            b.send(b"ping")
            assert done.wait(WAIT)


def test_wait_cancel_with_none(pool):
    hits = []
    event = ntpool.Event()
    wait = ntpool.Wait(lambda i, w, r: hits.append(r), pool=pool)
    wait.set(event)
    wait.set(None)
    event.set()
    wait.wait()
    assert hits == []
    wait.close()


def test_wait_wrong_handle_type(pool):
    wait = ntpool.Wait(lambda i, w, r: None, pool=pool)
    with pytest.raises(TypeError):
        wait.set(3.5)
    wait.close()


def test_win32_wait_signature_and_timeout():
    done = win32.CreateEvent(None, False, False, None)
    event = win32.CreateEvent(None, True, False, None)
    seen = []

    def callback(instance, context, wait, result):
        seen.append((context, result))
        win32.SetEventWhenCallbackReturns(instance, done)

    wait = win32.CreateThreadpoolWait(callback, "c", None)
    win32.SetThreadpoolWait(wait, event, -10 * 10000)  # 10 ms timeout
    assert win32.WaitForSingleObject(done, 10000) == win32.WAIT_OBJECT_0
    assert win32.SetThreadpoolWaitEx(wait, event, None) is False
    win32.SetEvent(event)
    assert win32.WaitForSingleObject(done, 10000) == win32.WAIT_OBJECT_0
    win32.WaitForThreadpoolWaitCallbacks(wait, False)
    win32.CloseThreadpoolWait(wait)
    assert seen == [("c", win32.WAIT_TIMEOUT), ("c", win32.WAIT_OBJECT_0)]
    win32.CloseHandle(event)
    win32.CloseHandle(done)
