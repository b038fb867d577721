"""ntpool.Executor is a real concurrent.futures.Executor."""

import asyncio
import concurrent.futures as cf
import threading
import time

import pytest

import ntpool

from conftest import WAIT


def test_executor_submit_returns_real_future():
    with ntpool.Executor() as ex:
        f = ex.submit(pow, 2, 10)
        assert isinstance(f, cf.Future)
        assert f.result(WAIT) == 1024


def test_executor_map_and_exceptions():
    with ntpool.Executor(max_workers=2) as ex:
        assert list(ex.map(lambda x: x * x, range(50))) == \
            [x * x for x in range(50)]
        f = ex.submit(lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            f.result(WAIT)


def test_executor_runs_on_pool_threads():
    pool = ntpool.Pool(max_threads=2)
    with ntpool.Executor(pool=pool) as ex:
        idents = {ex.submit(threading.get_ident).result(WAIT)
                  for _ in range(20)}
    assert threading.get_ident() not in idents
    assert len(idents) <= 2
    pool.close()


def test_executor_works_with_wait_and_as_completed():
    with ntpool.Executor() as ex:
        fs = [ex.submit(time.sleep, 0.01) for _ in range(5)]
        done, not_done = cf.wait(fs, timeout=WAIT)
        assert len(done) == 5 and not not_done
        assert len(list(cf.as_completed(fs, timeout=WAIT))) == 5


def test_executor_shutdown_cancel_futures():
    ex = ntpool.Executor(max_workers=1)
    gate = threading.Event()
    started = threading.Event()

    def first_task():
        started.set()
        return gate.wait(WAIT)

    first = ex.submit(first_task)
    assert started.wait(WAIT)  # running: shutdown cannot cancel it
    rest = [ex.submit(lambda: None) for _ in range(10)]
    threading.Timer(0.05, gate.set).start()
    ex.shutdown(wait=True, cancel_futures=True)
    assert first.result() is True
    assert any(f.cancelled() for f in rest)
    with pytest.raises(RuntimeError):
        ex.submit(lambda: None)


def test_executor_with_asyncio_wrap_future():
    async def main():
        with ntpool.Executor() as ex:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(ex, sum, [1, 2, 3])

    assert asyncio.run(main()) == 6


def test_executor_bad_arguments():
    with pytest.raises(ValueError):
        ntpool.Executor(max_workers=0)
    with pytest.raises(TypeError):
        ntpool.Executor(pool=ntpool.default_pool(), max_workers=2)
