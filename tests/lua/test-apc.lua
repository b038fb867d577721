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

  it("a waitable timer's completion routine runs at alertable waits",
     function()
    local wt <close> = ntpool.waitable_timer{}
    local fired = {}
    assert.is_true(wt:set(0.01, 0, function(ft) fired[#fired + 1] = ft end))
    assert.is_true(wt:wait(10 * H.scale))  -- the timer is signalled anyway
    assert.are.same({}, fired)            -- the routine waits for an
    assert.are.equal(ntpool.WAIT_IO_COMPLETION,   -- alertable wait
                     ntpool.sleep_ex(10 * H.scale, true))
    assert.are.equal(1, #fired)
    assert.are.equal("integer", math.type(fired[1]))
    -- A FILETIME: 100 ns units since 1601, so about now.
    local unix_s = (fired[1] - 116444736000000000) // 10000000
    assert.is_true(math.abs(unix_s - os.time()) <= 5)
  end)

  it("a periodic routine, dropped by set without one and by close",
     function()
    local wt = ntpool.waitable_timer{}
    local n = 0
    assert.is_true(wt:set(0.005, 0.005, function() n = n + 1 end))
    assert.truthy(H.wait_until(function()
      ntpool.sleep_ex(0.05, true)
      return n >= 3
    end))
    wt:set(1000)                       -- no routine: nothing more runs
    local seen = n
    assert.are.equal(0, ntpool.sleep_ex(0.03, true))
    assert.are.equal(seen, n)
    -- Closed with an APC possibly queued: it finds nothing to run.
    assert.is_true(wt:set(0.001, 0.001, function() n = n + 1 end))
    ntpool.sleep_ex(0.02, false)
    wt:close()
    seen = n
    ntpool.sleep_ex(0.02, true)
    assert.are.equal(seen, n)
  end)

  it("win32 SetWaitableTimer with a completion routine", function()
    local h = win32.CreateWaitableTimer(nil, false, nil)
    local got
    assert.is_true(win32.SetWaitableTimer(h, -100000, 0, function(arg, lo, hi)
      got = {arg, lo, hi}
    end, "arg", false))
    assert.are.equal(win32.WAIT_IO_COMPLETION, win32.SleepEx(10000, true))
    assert.are.equal("arg", got[1])
    assert.is_true(got[2] >= 0 and got[2] <= 0xFFFFFFFF)
    assert.is_true(got[3] > 0)
    win32.CloseHandle(h)
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
