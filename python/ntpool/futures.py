"""ntpool.Executor: a concurrent.futures.Executor over an ntpool pool."""

import collections
import concurrent.futures as _cf

from ._objects import Pool, Work, default_pool

__all__ = ["Executor"]


class Executor(_cf.Executor):
    """Runs callables on an ntpool pool (the default pool unless ``pool``
    is given; with ``max_workers``, a private pool of that many threads,
    closed at shutdown).

    submit() returns real ``concurrent.futures.Future`` objects, so
    ``concurrent.futures.wait``/``as_completed`` and asyncio's
    ``wrap_future``/``run_in_executor`` work with them.

    How: one work object, posted once per task, and a FIFO of tasks; each
    callback takes the oldest task. So submitting allocates nothing in the
    pool and shutdown(wait=True) is WaitForThreadpoolWorkCallbacks.
    """

    def __init__(self, *, pool=None, max_workers=None):
        if pool is not None and max_workers is not None:
            raise TypeError("give pool= or max_workers=, not both")
        self._own_pool = None
        if max_workers is not None:
            if max_workers <= 0:
                raise ValueError("max_workers must be greater than 0")
            pool = self._own_pool = Pool(max_threads=max_workers)
        elif pool is None:
            pool = default_pool()
        # deque.append and popleft are atomic: no lock on the hot path.
        self._tasks = collections.deque()
        self._work = Work(self._run_one, pool=pool)
        self._submit = self._work.submit
        self._shutdown = False

    def _run_one(self, instance, work):
        future, fn, args, kwargs = self._tasks.popleft()
        if not future.set_running_or_notify_cancel():
            return
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            future.set_exception(exc)
            self = None  # break the frame's reference cycle via exc
        else:
            future.set_result(result)

    def submit(self, fn, /, *args, **kwargs):
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        future = _cf.Future()
        self._tasks.append((future, fn, args, kwargs))
        self._submit()
        return future

    submit.__doc__ = _cf.Executor.submit.__doc__

    def shutdown(self, wait=True, *, cancel_futures=False):
        self._shutdown = True
        if cancel_futures:
            # Cancel what has not started; each of their posts still runs
            # and finds its future cancelled (set_running_or_notify_cancel).
            for task in list(self._tasks):
                task[0].cancel()
        if wait:
            self._work.wait()
        # Closing never blocks: posts already made still run (Windows'
        # CloseThreadpoolWork), then the object and a private pool go.
        self._work.close()
        if self._own_pool is not None:
            self._own_pool.close()

    shutdown.__doc__ = _cf.Executor.shutdown.__doc__
