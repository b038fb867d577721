"""Python references held for the core are released exactly once after
close; unclosed objects warn; nothing leaks over many cycles."""

import gc
import sys
import time
import tracemalloc
import warnings
import weakref

import pytest

import ntpool
from ntpool import win32

from conftest import WAIT


class Token:
    pass


def wait_until(predicate, timeout=WAIT):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        gc.collect()
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.mark.parametrize("make", [
    lambda cb, pool: ntpool.Work(lambda i, w: cb(), pool=pool),
    lambda cb, pool: ntpool.Timer(lambda i, t: cb(), pool=pool),
    lambda cb, pool: ntpool.Wait(lambda i, w, r: cb(), pool=pool),
], ids=["work", "timer", "wait"])
def test_gc_callback_released_after_close(pool, make):
    token = Token()
    ref = weakref.ref(token)
    obj = make(token.__init__, pool)  # the callback refers to token
    objref = weakref.ref(obj)
    del token
    gc.collect()
    assert ref() is not None  # held for the core while open
    obj.close()
    del obj
    assert wait_until(lambda: ref() is None and objref() is None)


def test_gc_self_referencing_callback_collected(pool):
    holder = {}

    def callback(instance, work):
        holder["work"]  # the callback refers to its own object

    holder["work"] = work = ntpool.Work(callback, pool=pool)
    ref = weakref.ref(work)
    work.submit()
    work.wait()
    work.close()
    del work, holder["work"]
    assert wait_until(lambda: ref() is None)


def test_gc_win32_context_released(pool):
    ctx = Token()
    ref = weakref.ref(ctx)
    work = win32.CreateThreadpoolWork(lambda i, c, w: None, ctx, None)
    win32.SubmitThreadpoolWork(work)
    win32.WaitForThreadpoolWorkCallbacks(work, False)
    del ctx
    gc.collect()
    assert ref() is not None
    win32.CloseThreadpoolWork(work)
    assert wait_until(lambda: ref() is None)


def test_gc_try_submit_releases_after_run(pool):
    token = Token()
    ref = weakref.ref(token)
    done = ntpool.Event()
    ntpool.try_submit(lambda i, t=token: i.set_event_on_return(done),
                      pool=pool)
    del token
    assert done.wait(WAIT)
    assert wait_until(lambda: ref() is None)


def test_gc_unclosed_handle_warns():
    with pytest.warns(ResourceWarning, match="unclosed"):
        e = ntpool.Event()
        del e
        gc.collect()


def test_gc_unclosed_pool_warns():
    with pytest.warns(ResourceWarning):
        p = ntpool.Pool()
        del p
        gc.collect()


def test_gc_default_pool_never_warns():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = ntpool.default_pool()
        assert p is ntpool.default_pool()


def test_gc_no_leak_over_cycles(pool):
    def cycle():
        e = ntpool.Event()
        w = ntpool.Work(lambda i, wk: i.set_event_on_return(e), pool=pool)
        t = ntpool.Timer(lambda i, tm: None, pool=pool)
        w.submit()
        e.wait(WAIT)
        w.wait()
        for o in (w, t, e):
            o.close()

    for _ in range(200):  # warm up caches and free lists
        cycle()
    gc.collect()
    time.sleep(0.05)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(2000):
        cycle()
    gc.collect()
    time.sleep(0.05)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    # A leak of one small object per cycle would be > 100 kB here.
    assert after - before < 64 * 1024, after - before


def test_gc_instance_not_kept_by_pool(pool):
    kept = []
    done = ntpool.Event()

    def callback(instance, work):
        kept.append(instance)
        instance.set_event_on_return(done)

    with ntpool.Work(callback, pool=pool) as w:
        w.submit()
        assert done.wait(WAIT)
    assert sys.getrefcount(kept[0]) <= 3  # the list, the call, maybe a cache
