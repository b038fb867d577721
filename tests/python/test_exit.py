"""Interpreter exit with callbacks queued, running, timers armed, waits
and I/O pending: exit status kept, no hang, no crash. Each scenario runs
in fresh interpreters, several times (races differ from run to run)."""

import subprocess
import sys
import textwrap

import pytest

RUNS = 8
DEADLINE = 30  # seconds for one interpreter, start-up included

PRELUDE = """
import os, sys, threading, time
import ntpool
from ntpool import win32
"""

SCENARIOS = {
    "queued_work": """
        pool = ntpool.Pool(max_threads=1)
        w = ntpool.Work(lambda i, w: time.sleep(0.001), pool=pool)
        for _ in range(10000):
            w.submit()
    """,
    "running_callbacks": """
        started = threading.Event()
        def cb(i, w):
            started.set()
            time.sleep(0.2)
        w = ntpool.Work(cb)
        for _ in range(4):
            w.submit()
        started.wait(10)
    """,
    "busy_python_callbacks": """
        def cb(i, w):
            sum(range(100000))
        w = ntpool.Work(cb)
        for _ in range(200):
            w.submit()
        time.sleep(0.01)
    """,
    "periodic_timers": """
        ts = [ntpool.Timer(lambda i, t: None) for _ in range(20)]
        for t in ts:
            t.set(0.001, period=0.001)
        time.sleep(0.05)
    """,
    "pending_waits": """
        events = [ntpool.Event() for _ in range(50)]
        waits = [ntpool.Wait(lambda i, w, r: None) for _ in events]
        for w, e in zip(waits, events):
            w.set(e, timeout=0.01 * (events.index(e) % 3))
    """,
    "pending_io": """
        r, wfd = os.pipe()
        io = ntpool.IO(r, lambda i, io, ov: None)
        ovs = [io.read(10) for _ in range(5)]
        os.write(wfd, b"x" * 12)
    """,
    "win32_everything": """
        e = win32.CreateEvent(None, True, False, None)
        def cb(inst, ctx, work):
            win32.WaitForSingleObject(ctx, 50)
        work = win32.CreateThreadpoolWork(cb, e, None)
        for _ in range(100):
            win32.SubmitThreadpoolWork(work)
        t = win32.CreateThreadpoolTimer(lambda i, c, t: None, None, None)
        win32.SetThreadpoolTimer(t, -10000, 1, 0)
        q = win32.CreateTimerQueue()
        win32.CreateTimerQueueTimer(q, lambda c, f: None, None, 1, 1, 0)
        win32.RegisterWaitForSingleObject(e, lambda c, f: None, None, 5, 0)
        win32.QueueUserWorkItem(lambda c: time.sleep(0.05), None, 0)
        time.sleep(0.02)
    """,
    "executor_and_exception": """
        ex = ntpool.Executor()
        fs = [ex.submit(time.sleep, 0.01) for _ in range(100)]
        def boom(i, w):
            raise RuntimeError("at exit")
        w = ntpool.Work(boom)
        for _ in range(50):
            w.submit()
    """,
    "sys_exit_code": """
        w = ntpool.Work(lambda i, w: time.sleep(0.01))
        for _ in range(100):
            w.submit()
        sys.exit(7)
    """,
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_exit_with_pending_callbacks(name):
    code = PRELUDE + textwrap.dedent(SCENARIOS[name])
    expected = 7 if name == "sys_exit_code" else 0
    for run in range(RUNS):
        proc = subprocess.run([sys.executable, "-c", code],
                              capture_output=True, text=True,
                              timeout=DEADLINE)
        assert proc.returncode == expected, (
            "run %d: status %d\n%s" % (run, proc.returncode, proc.stderr))
        assert "Fatal Python error" not in proc.stderr
        assert "Segmentation fault" not in proc.stderr
