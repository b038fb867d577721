"""ntpool.Executor: a concurrent.futures.Executor over an ntpool pool."""

import concurrent.futures as _cf
import threading

from . import _raw
from ._objects import Pool, default_pool, _env_of

__all__ = ["Executor"]


class Executor(_cf.Executor):
    """Runs callables on an ntpool pool (the default pool unless ``pool``
    is given; with ``max_workers``, a private pool of that many threads,
    closed at shutdown).

    submit() returns real ``concurrent.futures.Future`` objects, so
    ``concurrent.futures.wait``/``as_completed`` and asyncio's
    ``wrap_future`` work with them.
    """

    def __init__(self, *, pool=None, max_workers=None):
        if pool is not None and max_workers is not None:
            raise TypeError("give pool= or max_workers=, not both")
        if max_workers is not None:
            if max_workers <= 0:
                raise ValueError("max_workers must be greater than 0")
            pool = Pool(max_threads=max_workers)
            self._own_pool = pool
        else:
            self._own_pool = None
            if pool is None:
                pool = default_pool()
        self._pool = pool
        self._env = _env_of(pool, None)
        self._lock = threading.Lock()
        self._pending = set()   # futures not finished yet
        self._idle = threading.Condition(self._lock)
        self._shutdown = False

    def submit(self, fn, /, *args, **kwargs):
        future = _cf.Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after "
                                   "shutdown")
            self._pending.add(future)

        def run(instance):
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        result = fn(*args, **kwargs)
                    except BaseException as exc:
                        future.set_exception(exc)
                    else:
                        future.set_result(result)
            finally:
                with self._lock:
                    self._pending.discard(future)
                    if not self._pending:
                        self._idle.notify_all()

        try:
            _raw.ntp_try_submit(run, _raw.NO_CONTEXT, self._env)
        except BaseException:
            with self._lock:
                self._pending.discard(future)
            raise
        return future

    def shutdown(self, wait=True, *, cancel_futures=False):
        with self._lock:
            self._shutdown = True
            if cancel_futures:
                for f in list(self._pending):
                    f.cancel()  # a queued one then returns at once
            if wait:
                while self._pending:
                    self._idle.wait()
        if wait and self._own_pool is not None:
            self._own_pool.close()
