-- lua_luv_bench.lua -- the peer of bench/lua_bench.lua: N trivial tasks
-- through luv's work queue (uv.new_work / work:queue, libuv's thread
-- pool). Each worker thread runs the work function in a Lua state of its
-- own (so the function can share no upvalue with the script); its results
-- come back to the loop thread's after-work callback, which counts them.
--
--   lua5.4 bench/lua_luv_bench.lua N    prints the seconds until all ran
local uv = require "luv"

local n = math.tointeger(tonumber(arg[1] or ""))
if not (n and n > 0) then
  io.stderr:write("usage: lua5.4 lua_luv_bench.lua N\n")
  os.exit(2)
end

local count = 0
local work = uv.new_work(
  function(x) return x + 1 end,      -- runs in a worker's own Lua state
  function() count = count + 1 end)  -- back on the loop thread

local t0 = uv.hrtime()
for i = 1, n do work:queue(i) end
uv.run()
local t1 = uv.hrtime()
assert(count == n, ("ran %d of %d tasks"):format(count, n))
print(("%.6f"):format((t1 - t0) / 1e9))
