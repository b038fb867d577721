"""Python callbacks: ntpool against concurrent.futures.ThreadPoolExecutor
and a hand-written threading + queue.SimpleQueue pool, in the same run.

    python3 bench/python_bench.py [--n 200000] [--runs 5] [--out FILE]

(with ntpool importable: `pip install .` first, or `make bench-python`).
Throughput: N trivial callbacks (one atomic counter step) posted from one
thread until all have run. Latency: submit to the first line of the
callback on an idle pool, median and p99 over --samples submissions. Each
case runs --runs times, interleaved with the others (the machine is shared
and noisy); the table shows medians and ratios, which are the result.
"""

import argparse
import concurrent.futures as cf
import itertools
import os
import platform
import queue
import statistics
import sys
import threading
import time

import ntpool
from ntpool import win32


# --------------------------------------------------------------------------
# Throughput cases: each runs n trivial callbacks and returns the seconds.
# Every case runs a Python function that takes one step of an
# itertools.count (atomic under the GIL), so all pay for one Python frame.
# --------------------------------------------------------------------------

def tp_win32_submit(n):
    counter = itertools.count()
    step = counter.__next__

    def callback(instance, context, work):
        step()

    work = win32.CreateThreadpoolWork(callback, None, None)
    submit = win32.SubmitThreadpoolWork
    start = time.perf_counter()
    for _ in range(n):
        submit(work)
    win32.WaitForThreadpoolWorkCallbacks(work, False)
    elapsed = time.perf_counter() - start
    win32.CloseThreadpoolWork(work)
    assert next(counter) == n
    return elapsed


def tp_work_submit(n):
    counter = itertools.count()
    step = counter.__next__
    work = ntpool.Work(lambda instance, work: step())
    submit = work.submit
    start = time.perf_counter()
    for _ in range(n):
        submit()
    work.wait()
    elapsed = time.perf_counter() - start
    work.close()
    assert next(counter) == n
    return elapsed


def tp_try_submit(n):
    counter = itertools.count()
    step = counter.__next__
    done = threading.Event()

    def callback(instance):
        if step() == n - 1:
            done.set()

    try_submit = ntpool.try_submit
    start = time.perf_counter()
    for _ in range(n):
        try_submit(callback)
    done.wait()
    return time.perf_counter() - start


def _executor_case(make_executor, n):
    counter = itertools.count()
    step = counter.__next__

    def task():
        step()

    start = time.perf_counter()
    with make_executor() as ex:
        submit = ex.submit
        for _ in range(n):
            submit(task)
    elapsed = time.perf_counter() - start
    assert next(counter) == n
    return elapsed


def tp_executor(n):
    return _executor_case(ntpool.Executor, n)


def tp_threadpoolexecutor(n):
    return _executor_case(cf.ThreadPoolExecutor, n)


class SimpleQueuePool:
    """The pool a Python programmer writes by hand: threads that take
    callables from a queue.SimpleQueue."""

    def __init__(self, nthreads):
        self.q = queue.SimpleQueue()
        self.threads = [threading.Thread(target=self._run)
                        for _ in range(nthreads)]
        for t in self.threads:
            t.start()

    def _run(self):
        get = self.q.get
        while True:
            fn = get()
            if fn is None:
                return
            fn()

    def close(self):
        for _ in self.threads:
            self.q.put(None)
        for t in self.threads:
            t.join()


def tp_simplequeue(n):
    counter = itertools.count()
    step = counter.__next__

    def task():
        step()

    pool = SimpleQueuePool(os.cpu_count() or 2)
    put = pool.q.put
    start = time.perf_counter()
    for _ in range(n):
        put(task)
    pool.close()
    elapsed = time.perf_counter() - start
    assert next(counter) == n
    return elapsed


THROUGHPUT = [
    ("ntpool SubmitThreadpoolWork (win32)", tp_win32_submit),
    ("ntpool Work.submit", tp_work_submit),
    ("ntpool try_submit", tp_try_submit),
    ("ntpool.Executor", tp_executor),
    ("ThreadPoolExecutor", tp_threadpoolexecutor),
    ("threading + SimpleQueue pool", tp_simplequeue),
]


# --------------------------------------------------------------------------
# Latency: submit to the callback's first line, on an idle pool.
# --------------------------------------------------------------------------

def _latency(submit_one, samples):
    """submit_one(record) submits a callback that calls record(); returns
    the sorted latencies in microseconds."""
    out = []
    done = threading.Event()
    stamp = [0]

    def record():
        out.append((time.perf_counter_ns() - stamp[0]) / 1000.0)
        done.set()

    for _ in range(samples):
        time.sleep(0.0005)  # let the pool go idle
        done.clear()
        stamp[0] = time.perf_counter_ns()
        submit_one(record)
        done.wait()
    return sorted(out)


def lat_ntpool(samples):
    holder = {}
    work = ntpool.Work(lambda i, w: holder["fn"]())

    def submit_one(record):
        holder["fn"] = record
        work.submit()

    try:
        return _latency(submit_one, samples)
    finally:
        work.wait()
        work.close()


def lat_tpe(samples):
    with cf.ThreadPoolExecutor() as ex:
        return _latency(ex.submit, samples)


def lat_simplequeue(samples):
    pool = SimpleQueuePool(os.cpu_count() or 2)
    try:
        return _latency(pool.q.put, samples)
    finally:
        pool.close()


LATENCY = [
    ("ntpool Work.submit", lat_ntpool),
    ("ThreadPoolExecutor", lat_tpe),
    ("threading + SimpleQueue pool", lat_simplequeue),
]


def percentile(sorted_values, p):
    i = min(len(sorted_values) - 1, int(round(p / 100.0 * len(sorted_values))))
    return sorted_values[i]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--out", help="write the table (Markdown) here too")
    args = ap.parse_args(argv)

    rates = {name: [] for name, _ in THROUGHPUT}
    for _ in range(args.runs):  # interleaved: noise hits every case alike
        for name, fn in THROUGHPUT:
            rates[name].append(args.n / fn(args.n))
    lat = {name: [] for name, _ in LATENCY}
    for _ in range(max(1, args.runs // 2)):
        for name, fn in LATENCY:
            lat[name].append(fn(args.samples))

    med = {name: statistics.median(v) for name, v in rates.items()}
    tpe = med["ThreadPoolExecutor"]
    sq = med["threading + SimpleQueue pool"]
    lines = [
        "Python %s (%s), %d CPUs, n=%d, %d interleaved runs (medians)"
        % (platform.python_version(), sys.executable, os.cpu_count() or 0,
           args.n, args.runs),
        "",
        "| throughput | callbacks/s | ns per callback | vs ThreadPoolExecutor "
        "| vs SimpleQueue pool |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, _ in THROUGHPUT:
        r = med[name]
        lines.append("| %s | %.0f | %.0f | %.2fx | %.2fx |"
                     % (name, r, 1e9 / r, r / tpe, r / sq))
    lines += ["", "| submit-to-start latency, idle pool | median us | p99 us |",
              "|---|---:|---:|"]
    for name, _ in LATENCY:
        merged = sorted(itertools.chain.from_iterable(lat[name]))
        lines.append("| %s | %.1f | %.1f |" % (name, percentile(merged, 50),
                                              percentile(merged, 99)))
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
