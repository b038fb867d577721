-- Closing the state (end of script) with work queued, callbacks running and
-- timers armed: the script must exit 0, in bounded time.
local H = require "helper"

local function run_script(body)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(body)
  f:close()
  local cmd = ("timeout %d lua5.4 %s 2>&1; echo \"rc=$?\""):format(
      math.ceil(30 * H.scale), path)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  os.remove(path)
  return out
end

describe("state close", function()
  ;(H.no_subprocess and pending or it)("with pending work, running callbacks and armed timers", function()
    local out = run_script([[
      local ntpool = require "ntpool"
      local pool = ntpool.pool{min = 2, max = 2}
      local n = 0
      local w = pool:work(function() n = n + 1; ntpool.sleep_ex(0.002) end)
      for _ = 1, 2000 do w:submit() end
      local t = ntpool.timer(function() n = n + 1 end)
      t:set(0, 0.001)
      local t2 = ntpool.timer(function() n = n + 1 end)
      t2:set(3600)
      ntpool.sleep_ex(0.02)
      print("exiting", n > 0)
    ]])
    assert.truthy(out:find("exiting\ttrue", 1, true), out)
    assert.truthy(out:find("rc=0", 1, true), out)
  end)

  ;(H.no_subprocess and pending or it)("with callbacks that never got the lock (busy script)", function()
    local out = run_script([[
      local ntpool = require "ntpool"
      local w = ntpool.work(function() local x = 0 for i = 1, 1e5 do x = x + i end end)
      for _ = 1, 500 do w:submit() end
      local t = ntpool.try_submit(function() error("late") end)
      print("exiting")
      os.exit(0, true)   -- lua_close, then exit
    ]])
    assert.truthy(out:find("exiting", 1, true), out)
    assert.truthy(out:find("rc=0", 1, true), out)
  end)
end)
