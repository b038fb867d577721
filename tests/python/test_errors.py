"""Exceptions in callbacks, wrong types, closed objects: a clear error,
the interpreter and the pool alive."""

import pytest

import ntpool
from ntpool import _raw, win32

from conftest import WAIT


def test_callback_exception_goes_to_unraisablehook(pool, unraisable):
    done = ntpool.Event()

    def callback(instance, work):
        instance.set_event_on_return(done)
        raise ZeroDivisionError("in a callback")

    with ntpool.Work(callback, pool=pool) as work:
        work.submit()
        assert done.wait(WAIT)
    assert unraisable.event.wait(WAIT)
    info = unraisable.seen[0]
    assert isinstance(info.exc_value, ZeroDivisionError)
    assert info.object is callback
    # The pool keeps working.
    assert ntpool.try_submit(lambda i: i.set_event_on_return(done),
                             pool=pool)
    assert done.wait(WAIT)


def test_pool_error_handler(unraisable):
    got = []
    done = ntpool.Event()
    with ntpool.Pool(error_handler=got.append) as pool:
        def callback(instance, work):
            instance.set_event_on_return(done)
            raise KeyError("x")

        with ntpool.Work(callback, pool=pool) as work:
            work.submit()
            assert done.wait(WAIT)
    assert len(got) == 1 and isinstance(got[0], KeyError)
    assert got[0].__traceback__ is not None
    assert unraisable.seen == []


def test_failing_error_handler_falls_back(unraisable):
    def bad_handler(exc):
        raise RuntimeError("handler failed")

    done = ntpool.Event()
    with ntpool.Pool(error_handler=bad_handler) as pool:
        with ntpool.Work(lambda i, w: (i.set_event_on_return(done), 1 / 0),
                         pool=pool) as work:
            work.submit()
            assert done.wait(WAIT)
    assert unraisable.event.wait(WAIT)
    assert isinstance(unraisable.seen[0].exc_value, RuntimeError)


def test_system_exit_in_callback_does_not_exit(pool, unraisable):
    done = ntpool.Event()

    def callback(instance, work):
        instance.set_event_on_return(done)
        raise SystemExit(3)

    with ntpool.Work(callback, pool=pool) as work:
        work.submit()
        assert done.wait(WAIT)
    assert unraisable.event.wait(WAIT)


def test_wrong_object_kind_is_type_error(pool):
    work = ntpool.Work(lambda i, w: None, pool=pool)
    event = ntpool.Event()
    with pytest.raises(TypeError, match="expected an ntpool Work"):
        _raw.ntp_work_submit(event)
    with pytest.raises(TypeError, match="expected an ntpool Handle"):
        _raw.ntp_event_set(work)
    with pytest.raises(TypeError):
        win32.SetEvent("not a handle")
    # NULL is a handle Windows refuses, with a code rather than a raise.
    assert win32.WaitForSingleObject(None, 0) == win32.WAIT_FAILED
    assert win32.GetLastError() == win32.ERROR_INVALID_HANDLE
    work.close()
    event.close()


def test_closed_handle_is_value_error():
    event = ntpool.Event()
    event.close()
    with pytest.raises(ValueError, match="closed"):
        event.set()
    with pytest.raises(ValueError, match="closed"):
        win32.WaitForSingleObject(event, 0)


def test_status_errors_are_oserror_subclasses():
    with pytest.raises(OSError) as info:
        _raw.ntp_semaphore_create(5, 1)  # initial above maximum
    assert info.value.errno == 22
    with pytest.raises(win32.error) as info:
        win32.CreateSemaphore(None, 5, 1, None)
    assert info.value.winerror == win32.ERROR_INVALID_PARAMETER


def test_out_of_range_values():
    with pytest.raises(OverflowError):
        _raw.ntp_wait_for_single(_raw.CURRENT_THREAD, 2 ** 40, False)
    with pytest.raises(OSError) as info:
        ntpool.Semaphore(-1, 5)
    assert info.value.errno == 22
    e = ntpool.Event()
    with pytest.raises(TypeError):
        e.wait("forever")
    with pytest.raises(ValueError):
        e.wait(float("nan"))
    e.close()


def test_waiting_for_own_callbacks_inside_callback(pool):
    """WaitForThreadpoolWorkCallbacks on its own object from its callback
    would wait for itself: ntpool waits for the others only (with a
    diagnostic), so it returns."""
    done = ntpool.Event()

    def callback(instance, work):
        work.wait()
        instance.set_event_on_return(done)

    with ntpool.Work(callback, pool=pool) as work:
        work.submit()
        assert done.wait(WAIT)


def test_close_members_from_own_member_raises(pool):
    group = ntpool.CleanupGroup()
    env = ntpool.Environment(pool=pool, cleanup_group=group)
    errors = []
    done = ntpool.Event()

    def callback(instance, work):
        try:
            group.close_members()
        except OSError as exc:
            errors.append(exc)
        instance.set_event_on_return(done)

    w = ntpool.Work(callback, env=env)
    w.submit()
    assert done.wait(WAIT)
    group.close_members()
    group.close()
    assert len(errors) == 1 and errors[0].errno == 35  # EDEADLK


def test_exception_in_callback_on_win32_pool(unraisable):
    """A pool object from CreateThreadpool has no error_handler: the
    exception still reaches sys.unraisablehook."""
    pool = win32.CreateThreadpool()
    env = win32.InitializeThreadpoolEnvironment()
    win32.SetThreadpoolCallbackPool(env, pool)

    def callback(instance, context, work):
        raise LookupError("win32 pool")

    work = win32.CreateThreadpoolWork(callback, None, env)
    win32.SubmitThreadpoolWork(work)
    win32.WaitForThreadpoolWorkCallbacks(work, False)
    win32.CloseThreadpoolWork(work)
    win32.CloseThreadpool(pool)
    assert unraisable.event.wait(WAIT)
    assert isinstance(unraisable.seen[0].exc_value, LookupError)
