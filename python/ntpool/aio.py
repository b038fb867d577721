"""asyncio helpers.

``await aio.wait(handle, timeout=None)`` waits for an ntpool handle (or
anything with ``fileno()``) through the event loop, by watching the
handle's file descriptor: no thread is parked per wait.

``await aio.run(func, *args, pool=None)`` runs ``func(*args)`` on a pool
thread and returns its result.
"""

import asyncio

from . import _raw
from ._objects import WAIT_ABANDONED, WAIT_OBJECT_0, default_pool, _env_of

__all__ = ["wait", "run"]


def _try_acquire(handle):
    """Take the signal if it is there (resets an auto-reset event, takes a
    semaphore count or the mutex), as WaitForSingleObject(h, 0)."""
    r = _raw.ntp_wait_for_single(handle, 0, False)
    if r == WAIT_OBJECT_0 or r == WAIT_ABANDONED:
        return True
    return False


async def wait(handle, timeout=None):
    """Wait until ``handle`` is signalled (True) or ``timeout`` seconds
    pass (False). For an ntpool handle the signal is acquired as by
    WaitForSingleObject; for a file object, readable means signalled."""
    loop = asyncio.get_running_loop()
    is_handle = isinstance(handle, _raw.Object)
    if is_handle and _try_acquire(handle):
        return True
    fd = handle.fileno()
    deadline = None if timeout is None else loop.time() + timeout
    while True:
        ready = loop.create_future()

        def on_readable():
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, on_readable)
        try:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            try:
                await asyncio.wait_for(ready, remaining)
            except asyncio.TimeoutError:
                return False
        finally:
            loop.remove_reader(fd)
        # Readable: a file is ready; a handle may have been taken by
        # another waiter meanwhile, then wait again.
        if not is_handle or _try_acquire(handle):
            return True


async def run(func, *args, pool=None):
    """``func(*args)`` on a pool thread (the default pool unless ``pool``);
    its result, or its exception raised here."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def deliver(ok, value):
        if not future.done():
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def call(instance):
        try:
            result = func(*args)
        except BaseException as exc:
            ok, value = False, exc
        else:
            ok, value = True, result
        try:
            loop.call_soon_threadsafe(deliver, ok, value)
        except RuntimeError:
            pass  # the loop closed meanwhile: nobody waits any more

    _raw.ntp_try_submit(call, _raw.NO_CONTEXT,
                        _env_of(pool if pool is not None else default_pool(),
                                None))
    return await future
