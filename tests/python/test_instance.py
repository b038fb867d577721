"""Callback instances: the five completion actions, may_run_long,
disassociate, validity."""

import ctypes
import ctypes.util
import threading

import pytest

import ntpool
from ntpool import win32

from conftest import WAIT


def run_once(pool, body):
    """Run body(instance) in a work callback; return when it returned."""
    done = threading.Event()
    errors = []

    def callback(instance, work):
        try:
            body(instance)
        except BaseException as exc:  # reported to the test below
            errors.append(exc)
        finally:
            done.set()

    with ntpool.Work(callback, pool=pool) as work:
        work.submit()
        assert done.wait(WAIT)
    if errors:
        raise errors[0]


def test_instance_set_event_on_return(pool):
    event = ntpool.Event()
    observed = []

    def body(instance):
        instance.set_event_on_return(event)
        observed.append(event.wait(0))  # not yet: only after return

    run_once(pool, body)
    assert observed == [False]
    assert event.wait(WAIT)
    event.close()


def test_instance_release_semaphore_and_mutex_on_return(pool):
    sem = ntpool.Semaphore(0, 10)
    mutex = ntpool.Mutex()

    def body(instance):
        assert mutex.wait(0)
        instance.release_mutex_on_return(mutex)
        instance.release_semaphore_on_return(sem, 3)

    run_once(pool, body)
    assert sem.release(1) == 3
    assert mutex.wait(WAIT)  # released by the pool thread after return
    mutex.release()
    sem.close()
    mutex.close()


def test_instance_leave_critical_section_on_return(pool):
    cs = ntpool.CriticalSection()

    def body(instance):
        cs.enter()
        instance.leave_critical_section_on_return(cs)

    run_once(pool, body)
    assert cs.try_enter()
    cs.leave()
    cs.close()


def test_instance_free_library_on_return(pool):
    path = ctypes.util.find_library("m") or "libm.so.6"
    lib = ctypes.CDLL(path)  # one reference of our own

    def body(instance):
        extra = ctypes.CDLL(path)  # one more, freed after return
        instance.free_library_on_return(extra)

    run_once(pool, body)
    assert lib.cos  # our own reference still works


def test_instance_used_after_return_raises(pool):
    kept = []
    run_once(pool, kept.append)
    instance = kept[0]
    assert not instance.valid
    with pytest.raises(ValueError, match="after its callback returned"):
        instance.may_run_long()
    with pytest.raises(ValueError):
        instance.set_event_on_return(ntpool.Event())


def test_instance_second_action_of_a_kind_raises(pool):
    a, b = ntpool.Event(), ntpool.Event()

    def body(instance):
        instance.set_event_on_return(a)
        with pytest.raises(FileExistsError):
            instance.set_event_on_return(b)

    run_once(pool, body)
    assert a.wait(WAIT)
    assert not b.wait(0)


def test_instance_may_run_long_and_disassociate(pool):
    answers = []

    def body(instance):
        answers.append(instance.may_run_long())
        instance.disassociate()

    run_once(pool, body)
    assert answers == [True]


def test_instance_action_keeps_handle_alive(pool):
    """Closing the event inside the callback after asking for it does not
    free it under the pending action."""
    survived = []

    def body(instance):
        e = ntpool.Event()
        instance.set_event_on_return(e)
        e.close()  # deferred until the action ran
        survived.append(e)

    run_once(pool, body)
    pool.min_threads = 0
    assert survived[0].closed


def test_win32_completion_actions_order(pool):
    env = win32.InitializeThreadpoolEnvironment()
    win32.SetThreadpoolCallbackPool(env, pool)
    done = win32.CreateEvent(None, False, False, None)
    sem = win32.CreateSemaphore(None, 0, 5, None)
    cs = win32.InitializeCriticalSection()

    def callback(instance, context, work):
        win32.EnterCriticalSection(cs)
        win32.LeaveCriticalSectionWhenCallbackReturns(instance, cs)
        win32.ReleaseSemaphoreWhenCallbackReturns(instance, sem, 2)
        win32.SetEventWhenCallbackReturns(instance, done)
        win32.SetEventWhenCallbackReturns(instance, done)  # second: ignored

    work = win32.CreateThreadpoolWork(callback, None, env)
    win32.SubmitThreadpoolWork(work)
    assert win32.WaitForSingleObject(done, 10000) == win32.WAIT_OBJECT_0
    # The event is set last of these three: the others are done by now.
    assert win32.TryEnterCriticalSection(cs)
    win32.LeaveCriticalSection(cs)
    assert win32.ReleaseSemaphore(sem, 1) == 2
    win32.WaitForThreadpoolWorkCallbacks(work, False)
    win32.CloseThreadpoolWork(work)
    win32.DeleteCriticalSection(cs)
    win32.CloseHandle(done)
    win32.CloseHandle(sem)
