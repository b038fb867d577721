"""I/O completion objects over pipes, sockets and files."""

import os
import socket
import tempfile

import pytest

import ntpool
from ntpool import win32

from conftest import WAIT


def collect(pool):
    results = []
    done = ntpool.Semaphore(0, 1000)

    def callback(instance, io, overlapped):
        results.append((overlapped.result, overlapped.nbytes,
                        overlapped.data))
        instance.release_semaphore_on_return(done)

    return results, done, callback


def test_io_pipe_read_write(pool):
    r, w = os.pipe()
    results, done, callback = collect(pool)
    with ntpool.IO(r, callback, pool=pool) as reader, \
            ntpool.IO(w, callback, pool=pool) as writer:
        ov = reader.read(16)
        assert not ov.done
        writer.write(b"hello")
        assert done.wait(WAIT) and done.wait(WAIT)
        assert ov.done and ov.data == b"hello" and ov.nbytes == 5
    assert sorted(results) == [(0, 5, b"hello"), (0, 5, b"hello")]
    os.close(r)
    os.close(w)


def test_io_file_at_offsets(pool):
    results, done, callback = collect(pool)
    with tempfile.TemporaryFile() as f:
        with ntpool.IO(f, callback, pool=pool) as io:
            io.write(b"abcdef", offset=0)
            assert done.wait(WAIT)
            io.write(b"XY", offset=2)
            assert done.wait(WAIT)
            ov = io.read(6, offset=0)
            assert done.wait(WAIT)
            assert ov.data == b"abXYef"
            ov = io.read(10, offset=6)  # at end of file
            assert done.wait(WAIT)
            assert ov.nbytes == 0 and ov.data == b""


def test_io_cancel_pending_read(pool):
    a, b = socket.socketpair()
    results, done, callback = collect(pool)
    with a, b:
        with ntpool.IO(a, callback, pool=pool) as io:
            ov = io.read(10)
            io.cancel()
            assert done.wait(WAIT)
            assert ov.result == -125  # -ECANCELED
            assert ov.nbytes == 0


def test_io_close_with_operation_in_flight(pool):
    r, w = os.pipe()
    results, done, callback = collect(pool)
    io = ntpool.IO(r, callback, pool=pool)
    ov = io.read(10)
    io.close()  # cancels the read; no callback after close
    io.wait() if not io.closed else None
    os.close(r)
    os.close(w)
    assert not ov.done or ov.result != 0


def test_io_bad_fd(pool):
    with pytest.raises(ValueError):
        ntpool.IO(-1, lambda i, io, ov: None, pool=pool)
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError) as info:
        ntpool.IO(r, lambda i, io, ov: None, pool=pool)  # closed fd
    assert info.value.errno == 9
    with pytest.raises(TypeError):
        ntpool.IO("not a file", lambda i, io, ov: None, pool=pool)


def test_win32_io_start_read_callback():
    r, w = os.pipe()
    done = win32.CreateEvent(None, False, False, None)
    got = []

    def callback(instance, context, overlapped, io_result, nbytes, io):
        got.append((context, io_result, nbytes, overlapped.data))
        win32.SetEventWhenCallbackReturns(instance, done)

    io = win32.CreateThreadpoolIo(r, callback, "ctx", None)
    ov = win32.OVERLAPPED()
    win32.StartThreadpoolIo(io)
    assert win32.ReadFile(r, 8, ov) == (win32.ERROR_IO_PENDING, None)
    with pytest.raises(win32.error) as info:
        win32.GetOverlappedResult(r, ov, False)
    assert info.value.winerror == win32.ERROR_IO_INCOMPLETE
    os.write(w, b"data")
    assert win32.WaitForSingleObject(done, 10000) == win32.WAIT_OBJECT_0
    assert win32.GetOverlappedResult(r, ov, True) == 4
    win32.WaitForThreadpoolIoCallbacks(io, False)
    win32.CloseThreadpoolIo(io)
    assert got == [("ctx", win32.NO_ERROR, 4, b"data")]
    os.close(r)
    os.close(w)
    win32.CloseHandle(done)


def test_win32_cancel_io_ex_reports_aborted():
    a, b = socket.socketpair()
    done = win32.CreateEvent(None, False, False, None)
    got = []

    def callback(instance, context, overlapped, io_result, nbytes, io):
        got.append(io_result)
        win32.SetEventWhenCallbackReturns(instance, done)

    with a, b:
        io = win32.CreateThreadpoolIo(a, callback, None, None)
        ov = win32.OVERLAPPED()
        win32.StartThreadpoolIo(io)
        win32.ReadFile(a, 8, ov)
        win32.CancelIoEx(a, ov)
        assert win32.WaitForSingleObject(done, 10000) == win32.WAIT_OBJECT_0
        win32.CloseThreadpoolIo(io)
    assert got == [win32.ERROR_OPERATION_ABORTED]
    win32.CloseHandle(done)
