local win32 = require "ntpool.win32"
local H = require "helper"

describe("the original API (ntpool.win32)", function()
  after_each(function() collectgarbage() end)

  it("QueueUserWorkItem", function()
    local e = win32.CreateEvent(nil, false, false, nil)
    local got
    assert.is_true(win32.QueueUserWorkItem(function(ctx) got = ctx; win32.SetEvent(e) end,
                                           "ctx", win32.WT_EXECUTELONGFUNCTION))
    assert.are.equal(win32.WAIT_OBJECT_0, win32.WaitForSingleObject(e, 10000 * H.scale))
    assert.are.equal("ctx", got)
  end)

  it("RegisterWaitForSingleObject re-arms until unregistered", function()
    local sem = win32.CreateSemaphore(nil, 0, 10, nil)
    local fired = {}
    local w = win32.RegisterWaitForSingleObject(sem, function(ctx, timed_out)
      fired[#fired + 1] = timed_out
    end, nil, win32.INFINITE, 0)
    win32.ReleaseSemaphore(sem, 3)
    assert.truthy(H.wait_until(function() return #fired == 3 end))
    assert.is_true(win32.UnregisterWaitEx(w, win32.INVALID_HANDLE_VALUE))
    assert.are.same({false, false, false}, fired)
    local once = {}
    local w2 = win32.RegisterWaitForSingleObject(sem, function(ctx, t) once[#once + 1] = t end,
                                                 nil, 10, win32.WT_EXECUTEONLYONCE)
    assert.truthy(H.wait_until(function() return #once == 1 end))
    local done = win32.CreateEvent(nil, true, false, nil)
    win32.UnregisterWaitEx(w2, done)
    assert.are.equal(win32.WAIT_OBJECT_0, win32.WaitForSingleObject(done, 10000 * H.scale))
    assert.are.same({true}, once)
  end)

  it("timer queues", function()
    local q = win32.CreateTimerQueue()
    local n = 0
    local t = win32.CreateTimerQueueTimer(q, function(ctx, fired)
      assert(fired == true and ctx == "c")
      n = n + 1
    end, "c", 0, 5, 0)
    assert.truthy(H.wait_until(function() return n >= 3 end))
    win32.ChangeTimerQueueTimer(q, t, 3600000, 0)
    assert.is_true(win32.DeleteTimerQueueEx(q, win32.INVALID_HANDLE_VALUE))
    local after = n
    win32.Sleep(20)
    assert.are.equal(after, n)
  end)
end)
