"""ntpool: the Windows (Vista and later) thread pool, on Linux.

Two surfaces over one C core:

- this package's idiomatic API: ``Pool``, ``Work``, ``Timer``, ``Wait``,
  ``IO``, ``CleanupGroup``, ``Environment``, ``Event``, ``Semaphore``,
  ``Mutex``, ``CriticalSection``, ``WaitableTimer``; float seconds,
  keyword-only flags, context managers, callbacks that get the object last;
- ``ntpool.win32``: the Windows names, argument order and callback
  signatures (context included), so Windows code translates line by line.

Plus ``ntpool.Executor`` (a ``concurrent.futures.Executor``), ``ntpool.aio``
(asyncio helpers) and ``ntpool.trace`` (a timeline of every callback).

Callbacks run on pool threads and hold the GIL only while Python code runs;
every blocking call releases it. An exception in a callback goes to
``sys.unraisablehook`` (or the pool's ``error_handler``).
"""

import atexit as _atexit

from . import _raw
from ._objects import *  # noqa: F401,F403
from ._objects import __all__ as _objects_all
from .futures import Executor
from .trace import tracing as trace  # noqa: F401  (ntpool.trace(path))

__version__ = "0.1.0"

# How long interpreter exit waits for Python callbacks that are running
# (queued ones are dropped). A callback still running after that is ended
# by the interpreter like a daemon thread.
EXIT_TIMEOUT = 10.0


def _stop_dispatch():
    _raw._stop_dispatch(EXIT_TIMEOUT)


# Registered at import, so it runs after the atexit hooks of code that
# imported ntpool later (atexit is last-in first-out): their callbacks
# still run. It must run before finalization: see bindings/python_gil.c.
_atexit.register(_stop_dispatch)

__all__ = list(_objects_all) + ["Executor", "trace", "EXIT_TIMEOUT"]
