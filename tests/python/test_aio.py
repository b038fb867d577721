"""asyncio helpers: await a handle through its fd, run in a pool."""

import asyncio
import os

import pytest

import ntpool
from ntpool import aio


def test_aio_wait_event():
    async def main():
        e = ntpool.Event()
        loop = asyncio.get_running_loop()
        loop.call_later(0.02, e.set)
        assert await aio.wait(e, timeout=10)
        assert not await aio.wait(e, timeout=0.02)  # auto-reset: consumed
        e.close()

    asyncio.run(main())


def test_aio_wait_many_without_threads():
    async def main():
        events = [ntpool.Event(manual_reset=True) for _ in range(200)]
        waits = [asyncio.ensure_future(aio.wait(e, timeout=10))
                 for e in events]
        await asyncio.sleep(0.01)
        import threading
        threads_before = threading.active_count()
        for e in events:
            e.set()
        assert all(await asyncio.gather(*waits))
        assert threading.active_count() == threads_before
        for e in events:
            e.close()

    asyncio.run(main())


def test_aio_wait_semaphore_fairly_taken():
    async def main():
        s = ntpool.Semaphore(0, 10)
        a = asyncio.ensure_future(aio.wait(s, timeout=10))
        b = asyncio.ensure_future(aio.wait(s, timeout=0.2))
        await asyncio.sleep(0.01)
        s.release(1)
        results = await asyncio.gather(a, b)
        assert sorted(results) == [False, True]  # one count, one winner
        s.close()

    asyncio.run(main())


def test_aio_wait_file():
    async def main():
        r, w = os.pipe()
        rf = os.fdopen(r, "rb", buffering=0)
        asyncio.get_running_loop().call_later(0.01, os.write, w, b"x")
        assert await aio.wait(rf, timeout=10)
        rf.close()
        os.close(w)

    asyncio.run(main())


def test_aio_run_result_and_exception():
    async def main():
        assert await aio.run(pow, 3, 4) == 81
        with pytest.raises(KeyError):
            await aio.run({}.__getitem__, "missing")
        pool = ntpool.Pool(max_threads=1)
        assert await aio.run(sum, [1, 2], pool=pool) == 3
        pool.close()

    asyncio.run(main())
