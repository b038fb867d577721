"""A tour of ntpool from Python: the seed scenarios, told in plain words.

    python3 examples/tour.py [trace.json]

With a path, everything the pools do is recorded there (Chrome Trace
Event JSON) and drawn next to it as an SVG timeline (one lane per pool
thread, one bar per callback).
"""

import os
import sys
import tempfile
import threading
import time

import ntpool
from ntpool import win32


def say(text):
    print("   " + text, flush=True)


def step(n, title):
    print("\n%d. %s" % (n, title), flush=True)


def tour():
    print("A tour of ntpool %s from Python %s: the Windows thread pool on "
          "Linux." % (ntpool.__version__, sys.version.split()[0]))

    step(1, "A private pool (CreateThreadpool), at most 4 threads")
    pool = ntpool.Pool(min_threads=1, max_threads=4)
    s = pool.stats()
    say("the minimum starts its thread at once: %d thread, at most %d"
        % (s["threads"], s["max_threads"]))

    step(2, "An asynchronous callback (TrySubmitThreadpoolCallback)")
    done = ntpool.Event()

    def hello(instance):
        say("callback: hello from pool thread %d (main is %d)"
            % (threading.get_native_id(), main_tid))
        instance.set_event_on_return(done)

    main_tid = threading.get_native_id()
    ntpool.try_submit(hello, pool=pool)
    done.wait()
    say("main: the event was set after the callback returned")

    step(3, "A work object (CreateThreadpoolWork), posted 5 times")
    runs = []
    with pool.work(lambda instance, work: runs.append(1)) as work:
        for _ in range(5):
            work.submit()
        work.wait()
    say("5 posts gave %d runs; wait() returned when all had run" % len(runs))

    step(4, "A periodic timer (SetThreadpoolTimer), every 20 ms")
    ticks = []
    start = time.monotonic()
    timer = pool.timer(lambda instance, t: ticks.append(time.monotonic()))
    timer.set(0.02, period=0.02, window=0.005)
    time.sleep(0.15)
    timer.set(None)
    timer.wait(cancel_pending=True)
    timer.close()
    say("%d ticks in 150 ms, at %s ms" % (
        len(ticks), ", ".join("%.0f" % ((t - start) * 1000) for t in ticks)))

    step(5, "A wait on a kernel object (SetThreadpoolWait)")
    event = ntpool.Event()
    fired = ntpool.Event()
    results = []

    def on_wait(instance, wait, result):
        results.append("WAIT_OBJECT_0" if result == ntpool.WAIT_OBJECT_0
                       else "WAIT_TIMEOUT")
        instance.set_event_on_return(fired)

    with pool.wait(on_wait) as wait:
        wait.set(event)
        event.set()
        fired.wait()
        wait.set(event, timeout=0.03)  # nobody sets it this time
        fired.wait()
    say("first the event was signalled (%s), then the wait timed out (%s)"
        % tuple(results))

    step(6, "I/O completion (CreateThreadpoolIo) on a file")
    got = ntpool.Semaphore(0, 10)
    completions = []

    def on_io(instance, io, overlapped):
        completions.append((overlapped.nbytes, overlapped.data))
        instance.release_semaphore_on_return(got)

    with tempfile.TemporaryFile() as f:
        with ntpool.IO(f, on_io, pool=pool) as io:
            io.write(b"written by a pool thread", offset=0)
            got.wait()
            io.read(100, offset=0)
            got.wait()
    say("the write completed with %d bytes; the read gave back %r"
        % (completions[0][0], completions[1][1]))

    step(7, "Completion actions (...WhenCallbackReturns)")
    sem = ntpool.Semaphore(0, 10)
    mutex = ntpool.Mutex()
    cs = ntpool.CriticalSection()
    seen = []

    def actions(instance, work):
        cs.enter()
        instance.leave_critical_section_on_return(cs)
        mutex.wait()
        instance.release_mutex_on_return(mutex)
        instance.release_semaphore_on_return(sem, 2)
        seen.append(sem.wait(0))

    with pool.work(actions) as work:
        work.submit()
        sem.wait()
    say("inside the callback the semaphore was not released yet (%s);"
        % seen[0])
    say("after it returned: semaphore +2, mutex free (%s), critical "
        "section free (%s)" % (mutex.wait(0), cs.try_enter()))
    mutex.release()
    cs.leave()

    step(8, "A cleanup group (CloseThreadpoolCleanupGroupMembers)")
    group = ntpool.CleanupGroup()
    cancelled = []
    env = ntpool.Environment(pool=pool, cleanup_group=group,
                             cancel_callback=lambda o, c: cancelled.append(c))
    members = [ntpool.Timer(lambda i, t: None, env=env) for _ in range(3)]
    for t in members:
        t.set(60)  # a minute away: still pending when the group closes
    group.close_members(cancel_pending=True, context="tour")
    group.close()
    say("3 armed timers released at once; the cancel callback ran %d times;"
        " all closed: %s" % (len(cancelled), all(t.closed for t in members)))

    step(9, "CallbackMayRunLong on a full pool")
    small = ntpool.Pool(max_threads=1)
    answers = []
    gate = ntpool.Event(manual_reset=True)

    def long_one(instance, work):
        answers.append(instance.may_run_long())
        gate.wait(1)

    with small.work(long_one) as w:
        w.submit()
        w.submit()
        time.sleep(0.05)
        gate.set()
    say("on a pool of one busy thread, may_run_long() answers %s: no other "
        "thread could take the next callback" % answers[0])
    small.close()

    step(10, "The same in Windows words (ntpool.win32)")
    done = win32.CreateEvent(None, False, False, None)

    def work_callback(instance, context, work):
        win32.SetEventWhenCallbackReturns(instance, context)

    work = win32.CreateThreadpoolWork(work_callback, done, None)
    win32.SubmitThreadpoolWork(work)
    r = win32.WaitForSingleObject(done, win32.INFINITE)
    win32.WaitForThreadpoolWorkCallbacks(work, False)
    win32.CloseThreadpoolWork(work)
    win32.CloseHandle(done)
    say("WaitForSingleObject returned %s" %
        ("WAIT_OBJECT_0" if r == win32.WAIT_OBJECT_0 else r))

    step(11, "What the pool looks like (the !tp dump)")
    for line in pool.dump(one_line=True).splitlines():
        say(line)
    s = pool.stats()
    say("%d callbacks ran on this pool, on %d threads started"
        % (s["callbacks_run"], s["threads_created"]))
    for o in (event, fired, got, sem, mutex, done):
        if not o.closed:
            o.close()
    cs.close()
    pool.close()


def main(argv):
    if len(argv) > 1:
        path = argv[1]
        with ntpool.trace(path):
            tour()
        from ntpool.trace import load, render_svg
        svg = os.path.splitext(path)[0] + ".svg"
        with open(svg, "w", encoding="utf-8") as out:
            render_svg(load(path), out,
                       title="make demo: the Python tour, one lane per "
                             "pool thread")
        print("\nTimeline: %s (trace: %s)" % (svg, path))
    else:
        tour()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
