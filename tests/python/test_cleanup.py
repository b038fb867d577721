"""Cleanup groups and environments."""

import threading

import ntpool
from ntpool import win32

from conftest import WAIT


def test_cleanup_group_close_members_waits_and_releases(pool):
    group = ntpool.CleanupGroup()
    env = ntpool.Environment(pool=pool, cleanup_group=group)
    runs = []
    works = [ntpool.Work(lambda i, w: runs.append(w), env=env)
             for _ in range(3)]
    for w in works:
        w.submit()
    group.close_members()
    assert len(runs) == 3
    assert all(w.closed for w in works)  # released by the group
    group.close()


def test_cleanup_group_cancel_calls_cancel_callback(pool):
    pool.max_threads = 1
    gate = ntpool.Event(manual_reset=True)
    started = ntpool.Event()
    cancelled = []
    group = ntpool.CleanupGroup()

    def cancel(object_context, cleanup_context):
        cancelled.append((object_context, cleanup_context))

    env = ntpool.Environment(pool=pool, cleanup_group=group,
                             cancel_callback=cancel)

    def blocker(instance, work):
        started.set()
        gate.wait(WAIT)

    first = ntpool.Work(blocker, env=env)
    first.submit()
    assert started.wait(WAIT)
    queued = ntpool.Work(lambda i, w: None, env=env)
    queued.submit()
    threading.Timer(0.05, gate.set).start()
    group.close_members(cancel_pending=True, context="cleanup")
    # Once per member the application did not close, with the object's
    # context (for the idiomatic API, the object itself).
    assert sorted(map(id, (o for o, _ in cancelled))) == \
        sorted([id(first), id(queued)])
    assert all(c == "cleanup" for _, c in cancelled)
    assert first.closed and queued.closed
    group.close()


def test_environment_priority_order(pool):
    pool.max_threads = 1
    gate = ntpool.Event(manual_reset=True)
    started = ntpool.Event()
    order = []

    def blocker(instance, work):
        started.set()
        gate.wait(WAIT)

    high = ntpool.Environment(pool=pool, priority=ntpool.PRIORITY_HIGH)
    low = ntpool.Environment(pool=pool, priority=ntpool.PRIORITY_LOW)
    b = ntpool.Work(blocker, pool=pool)
    b.submit()
    assert started.wait(WAIT)
    lw = ntpool.Work(lambda i, w: order.append("low"), env=low)
    hw = ntpool.Work(lambda i, w: order.append("high"), env=high)
    lw.submit()
    hw.submit()
    gate.set()
    for w in (b, lw, hw):
        w.wait()
        w.close()
    assert order == ["high", "low"]


def test_environment_properties(pool):
    group = ntpool.CleanupGroup()
    env = ntpool.Environment(pool=pool, cleanup_group=group, runs_long=True,
                             priority=ntpool.PRIORITY_LOW)
    assert env.pool is pool and env.cleanup_group is group
    assert env.runs_long and not env.persistent
    assert env.priority == ntpool.PRIORITY_LOW
    group.close()


def test_bad_priority_rejected():
    import pytest
    with pytest.raises(ValueError):
        ntpool.Environment(priority=7)


def test_win32_cleanup_group_with_context(pool):
    group = win32.CreateThreadpoolCleanupGroup()
    env = win32.InitializeThreadpoolEnvironment()
    win32.SetThreadpoolCallbackPool(env, pool)
    seen = []
    win32.SetThreadpoolCallbackCleanupGroup(
        env, group, lambda octx, cctx: seen.append((octx, cctx)))
    timer = win32.CreateThreadpoolTimer(lambda i, c, t: None, "timer-ctx",
                                        env)
    win32.SetThreadpoolTimer(timer, -100 * 10000000, 0, 0)  # far away
    win32.CloseThreadpoolCleanupGroupMembers(group, True, "cleanup-ctx")
    assert timer.closed
    win32.CloseThreadpoolCleanupGroup(group)
    win32.DestroyThreadpoolEnvironment(env)
    assert seen == [("timer-ctx", "cleanup-ctx")]
