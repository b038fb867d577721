local win32 = require "ntpool.win32"
local H = require "helper"

describe("ntpool.win32", function()
  after_each(function() collectgarbage() end)

  it("work with a context, Windows order", function()
    local pool = win32.CreateThreadpool(nil)
    win32.SetThreadpoolThreadMaximum(pool, 2)
    local env = win32.InitializeThreadpoolEnvironment()
    win32.SetThreadpoolCallbackPool(env, pool)
    local got = {}
    local work = win32.CreateThreadpoolWork(function(inst, ctx, w)
      got[#got + 1] = ctx
    end, "ctx", env)
    win32.SubmitThreadpoolWork(work)
    win32.WaitForThreadpoolWorkCallbacks(work, false)
    win32.CloseThreadpoolWork(work)
    win32.DestroyThreadpoolEnvironment(env)
    win32.CloseThreadpool(pool)
    assert.are.same({"ctx"}, got)
  end)

  it("sync functions and constants", function()
    local s = win32.CreateSemaphore(nil, 3, 5, nil)
    local prev = win32.ReleaseSemaphore(s, 1)
    assert.are.equal(3, prev)
    assert.are.equal("integer", math.type(prev))
    local e = win32.CreateEvent(nil, true, false, nil)
    assert.are.equal(win32.WAIT_TIMEOUT, win32.WaitForSingleObject(e, 0))
    win32.SetEvent(e)
    assert.are.equal(win32.WAIT_OBJECT_0, win32.WaitForSingleObject(e, win32.INFINITE))
    local e2 = win32.CreateEvent(nil, false, false, nil)
    assert.are.equal(win32.WAIT_OBJECT_0 + 1,
                     win32.WaitForMultipleObjects({e2, s}, false, 0))
    assert.are.equal(win32.WAIT_TIMEOUT,
                     win32.WaitForMultipleObjects({e2, s}, true, 0))
    win32.CloseHandle(e2)
    win32.CloseHandle(e); win32.CloseHandle(s)
    assert.are.equal("integer", math.type(win32.GetCurrentThreadId()))
  end)

  it("SignalObjectAndWait", function()
    local a = win32.CreateEvent(nil, true, false, nil)
    local s = win32.CreateSemaphore(nil, 0, 1, nil)
    assert.are.equal(win32.WAIT_OBJECT_0, win32.SignalObjectAndWait(s, s, 0, false))
    assert.are.equal(win32.WAIT_TIMEOUT, win32.SignalObjectAndWait(a, s, 0, false))
    assert.are.equal(win32.WAIT_OBJECT_0, win32.WaitForSingleObject(a, 0))
    assert.has_error(function() win32.SignalObjectAndWait({}, s, 0) end)
  end)

  it("timer with a relative FILETIME", function()
    local ev = win32.CreateEvent(nil, false, false, nil)
    local t = win32.CreateThreadpoolTimer(function(inst, ctx, timer)
      win32.SetEventWhenCallbackReturns(inst, ctx)
    end, ev, nil)
    win32.SetThreadpoolTimer(t, -100000, 0, 0)   -- 10 ms
    assert.are.equal(win32.WAIT_OBJECT_0,
                     win32.WaitForSingleObject(ev, 10000 * H.scale))
    win32.WaitForThreadpoolTimerCallbacks(t, true)
    win32.CloseThreadpoolTimer(t)
  end)

  it("stack information, ticks and BindIoCompletionCallback", function()
    local pool = win32.CreateThreadpool(nil)
    assert.is_true(win32.SetThreadpoolStackInformation(pool,
      {StackReserve = 1 << 20, StackCommit = 1 << 16}))
    assert.are.same({StackReserve = 1 << 20, StackCommit = 1 << 16},
                    win32.QueryThreadpoolStackInformation(pool))
    win32.CloseThreadpool(pool)
    assert.are.same({StackReserve = 1, StackCommit = 2},
                    win32.TP_POOL_STACK_INFORMATION(1, 2))
    assert.are.equal(0x50010, win32.WT_SET_MAX_THREADPOOL_THREADS(0x10, 5))
    assert.are.equal("integer", math.type(win32.GetCurrentProcessId()))
    win32.SetLastError(123)
    assert.are.equal(123, win32.GetLastError())
    local t = win32.GetTickCount64()
    assert.are.equal("integer", math.type(t))
    assert.is_true(win32.GetSystemTimeAsFileTime() > 116444736000000000)
    local f = assert(io.tmpfile())
    f:write("bound"); f:flush()
    local got
    local done = win32.CreateEvent(nil, false, false, nil)
    assert.is_true(win32.BindIoCompletionCallback(f, function(err, n, ov)
      got = {err, n, ov.data}
      win32.SetEvent(done)
    end, 0))
    win32.ReadFile(f, 5, win32.OVERLAPPED(0))
    assert.are.equal(win32.WAIT_OBJECT_0,
                     win32.WaitForSingleObject(done, 10000))
    assert.are.same({0, 5, "bound"}, got)
    f:close()
  end)
end)
