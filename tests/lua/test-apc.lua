local ntpool = require "ntpool"
local win32 = require "ntpool.win32"
local H = require "helper"

describe("APCs", function()
  after_each(function() collectgarbage() end)

  it("queued to the calling thread run in an alertable sleep", function()
    local got = {}
    assert.is_true(ntpool.queue_user_apc(function(d) got[#got + 1] = d end, nil, "a"))
    assert.is_true(ntpool.queue_user_apc(function(d) got[#got + 1] = d end, nil, "b"))
    assert.are.same({}, got)                       -- not before a wait
    assert.are.equal(0, ntpool.sleep_ex(0, false)) -- non-alertable: nothing
    assert.are.same({}, got)
    assert.are.equal(ntpool.WAIT_IO_COMPLETION, ntpool.sleep_ex(10, true))
    assert.are.same({"a", "b"}, got)
  end)

  it("queued from a callback to the script's thread", function()
    local me <close> = ntpool.current_thread()
    local ran = false
    local w <close> = ntpool.work(function()
      assert(ntpool.queue_user_apc(function() ran = true end, me))
    end)
    w:submit()
    local e = ntpool.event{}
    local ok, code = e:wait(10 * H.scale, true)
    assert.is_false(ok)
    assert.are.equal(ntpool.WAIT_IO_COMPLETION, code)
    assert.is_true(ran)
    w:wait()
  end)

  it("win32 QueueUserAPC and SleepEx", function()
    local seen
    local th = win32.GetCurrentThread()
    assert.is_true(win32.QueueUserAPC(function(d) seen = d end, th, 42))
    assert.are.equal(win32.WAIT_IO_COMPLETION, win32.SleepEx(1000, true))
    assert.are.equal(42, seen)
    win32.CloseHandle(th)
    assert.has_error(function() ntpool.queue_user_apc(42) end)
  end)

  it("errors in APCs are reported", function()
    local errs = H.capture_errors()
    ntpool.queue_user_apc(function() error("apc boom") end)
    ntpool.sleep_ex(0, true)
    ntpool.on_error(nil)
    assert.are.equal(1, #errs)
    assert.truthy(errs[1]:find("apc boom", 1, true))
  end)
end)
